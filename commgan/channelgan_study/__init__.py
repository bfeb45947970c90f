"""The channel-GAN study: how fast the GAN, CGAN and DCGAN channel models of
`commgan.comm.channelgan` converge and how faithful they are (``commgan converge``).

Modules: `config` (`ConvergenceConfig`), `metrics` (convergence points), `fidelity` (distance,
BER on generated blocks, ae trained through the learned channel), `report` (table, plots,
files), `study` (`run_convergence`). It sits above `commgan.sim` because fidelity 3 measures
BER curves with the engine.
"""

from commgan.channelgan_study.config import ConvergenceConfig, default_iterations
from commgan.channelgan_study.fidelity import (
    ae_curve,
    ae_gaps,
    ber_fidelity,
    slice_directions,
    sliced_wasserstein,
)
from commgan.channelgan_study.metrics import (
    CONVERGENCE_COLUMNS,
    convergence_metrics,
    summarise,
)
from commgan.channelgan_study.report import (
    RESULT_FILES,
    ConvergenceResult,
    format_summary,
    plot_fidelity,
    plot_losses,
)
from commgan.channelgan_study.study import ChannelModelDiverged, run_convergence

__all__ = [
    "CONVERGENCE_COLUMNS",
    "RESULT_FILES",
    "ChannelModelDiverged",
    "ConvergenceConfig",
    "ConvergenceResult",
    "ae_curve",
    "ae_gaps",
    "ber_fidelity",
    "convergence_metrics",
    "default_iterations",
    "format_summary",
    "plot_fidelity",
    "plot_losses",
    "run_convergence",
    "slice_directions",
    "sliced_wasserstein",
    "summarise",
]
