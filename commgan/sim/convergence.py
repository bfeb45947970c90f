"""The convergence benchmark of the GAN, CGAN and DCGAN channel models (seed 003, Figs. 8-10),
and their fidelity.

Definitions (losses in nats, as the core's BCE; see `commgan.comm.channel_models` for eq. (2)):

- **iteration**: one `commgan.gan.GANTrainer` iteration, ``n_critic`` D updates then one G
  update (``n_critic`` is in the config and in convergence.csv); ``seconds``: training wall time.
- **smoothed losses**: centred moving average of ``smooth`` iterations (default 9).
- **separation iteration**: first iteration at which the smoothed L_G - L_D >= ``margin``
  (0.05 nats): D has learned to tell true from generated samples. An untrained D puts both
  losses at ~ln 2 in either order, so nothing before it counts.
- **crossover iteration**: first iteration after the separation at which the smoothed
  L_G <= L_D: the G and D curves cross, the survey's "reaches the Nash equilibrium". The
  **raw crossover** is the same on the unsmoothed per-iteration losses (what one reads off a
  plot of raw curves): there batch noise makes the curves touch earlier.
- **equilibrium iteration**: first iteration, not before the separation, from which
  |L_D - ln 2| < ``eps`` and |L_G - ln 2| < ``eps`` (smoothed) hold for ``window`` consecutive
  iterations (eps = 0.05 nats, window = 50). ln 2 is the value of both at D = 1/2.

A run that never reaches a point reports it as empty (NaN) and counts it in ``reached``.

Fidelity, per model (the first seed's model):

1. sliced Wasserstein-1 distance between generated and true y given x, per constellation point
   (64 random directions), averaged over the points, next to the same distance between two
   independent true sample sets of the same size (the floor that finite samples give);
2. BER of the coherent 16QAM receiver (least-squares fade estimate from the block's pilots,
   y / h, nearest point) on generated and on true blocks at 0, 10 and 20 dB, with 95% intervals
   over blocks, and the relative difference;
3. an ``ae`` transceiver trained through the learned channel (`LearnedChannel`), evaluated on
   the true channel, against the same ``ae`` training on the true channel: the Eb/N0 gap at
   BER 1e-2 (positive = the one trained through the model needs more).
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import sionna.phy  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from channels import (  # noqa: E402
    NearestPointSlicer,
    WiretapChannel,
    bit_errors_between_indices,
    get_modulation,
)
from commgan.comm.autoencoder import (  # noqa: E402
    AutoencoderSystem,
    AutoencoderTraining,
    train_autoencoder,
)
from commgan.comm.channel_models import (  # noqa: E402
    CHANNEL_MODELS,
    ChannelGAN,
    ChannelModelConfig,
    LearnedChannel,
    estimate_fading,
    train_channel_model,
)
from commgan.errors import CommganError  # noqa: E402
from commgan.fileio import atomic_write, write_json  # noqa: E402
from commgan.gan import (  # noqa: E402
    LN2,
    GANDivergenceError,
    crossover_iteration,
    equilibrium_iteration,
    separation_iteration,
)
from commgan.sim.analysis import ebno_at_ber  # noqa: E402
from commgan.sim.engine import simulate_point  # noqa: E402
from commgan.sim.results import write_csv  # noqa: E402
from commgan.sim.stats import FrameErrorStats  # noqa: E402
from commgan.sim.sweep import package_versions  # noqa: E402

__all__ = [
    "CONVERGENCE_COLUMNS",
    "DEFAULT_ITERATIONS",
    "RESULT_FILES",
    "ChannelModelDiverged",
    "ConvergenceConfig",
    "ConvergenceResult",
    "ae_gaps",
    "ber_fidelity",
    "convergence_metrics",
    "format_summary",
    "plot_fidelity",
    "plot_losses",
    "run_convergence",
    "sliced_wasserstein",
    "summarise",
]

DEFAULT_ITERATIONS: dict[str, int] = {"gan": 1500, "cgan": 1500, "dcgan": 1500}
"""Iterations per model when ``--iters`` is not given."""

RESULT_FILES = ("convergence.csv", "summary.csv", "fidelity.csv", "ae_ber.csv", "histories.csv",
                "losses.png", "fidelity.png", "config.json")
"""What a full run writes into its output folder."""

CONVERGENCE_COLUMNS = ["model", "seed", "iterations", "n_critic", "separation_iter",
                       "crossover_iter", "crossover_raw_iter", "equilibrium_iter",
                       "seconds_to_crossover", "seconds_to_equilibrium", "seconds", "diverged_at"]
"""Columns of convergence.csv (one row per model and seed)."""

_DEFAULT_MODEL = ChannelModelConfig()


@dataclass
class ConvergenceConfig:
    """Everything that determines the benchmark's numbers (saved as config.json)."""

    channel: str = "rayleigh"
    """True channel (a `channels` name)."""
    mod: str = "16qam"
    """Modulation (a `channels` name)."""
    models: tuple[str, ...] = CHANNEL_MODELS
    """Channel models to benchmark."""
    seeds: int = 5
    """Seeds per model: seed, seed + 1, ..."""
    seed: int = 0
    """First seed; also the seed of the fidelity draws and of the ae trainings."""
    iterations: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_ITERATIONS))
    """Training iterations per model."""
    train_ebno_db: tuple[float, float] = _DEFAULT_MODEL.train_ebno_db
    """Eb/N0 range of the training samples, dB (uniform per block)."""
    batch_blocks: int = _DEFAULT_MODEL.batch_blocks
    """Blocks per iteration."""
    n_critic: int = _DEFAULT_MODEL.n_critic
    """D updates per G update."""
    lr_g: float = _DEFAULT_MODEL.lr_g
    """Adam learning rate of G."""
    lr_d: float = _DEFAULT_MODEL.lr_d
    """Adam learning rate of D."""
    lr_decay: str = _DEFAULT_MODEL.lr_decay
    """Learning-rate schedule of both ("cosine" to 1%, or "none")."""
    smooth: int = 9
    """Width of the centred moving average of the losses, iterations."""
    margin: float = 0.05
    """L_G - L_D (nats) at which D counts as having separated real from generated samples."""
    eps: float = 0.05
    """Equilibrium tolerance around ln 2, nats."""
    window: int = 50
    """Iterations the equilibrium tolerance must hold."""
    fidelity: bool = True
    """Compute the fidelity metrics (else only convergence)."""
    fidelity_ebno_db: tuple[float, ...] = (0.0, 10.0, 20.0)
    """Eb/N0 points of the BER and distance comparisons, dB."""
    fidelity_blocks: int = 40_000
    """Blocks per Eb/N0 point for the BER comparison (each for true and generated)."""
    swd_samples: int = 2000
    """Samples per constellation point for the sliced Wasserstein distance."""
    ae: bool = True
    """Train ae through each learned channel and through the true channel (fidelity 3)."""
    ae_steps: int = 600
    """Training steps of every ae (the same for the reference on the true channel)."""
    ae_ebno_db: tuple[float, ...] = (12.0, 14.0, 16.0, 18.0, 20.0)
    """Eb/N0 grid on which the ae BER curves are measured, dB."""
    ae_bits: int = 1_000_000
    """Bits per point of the ae BER curves (the same draws for every ae)."""
    device: str = "cpu"
    """Torch device."""

    def __post_init__(self) -> None:
        self.models = tuple(self.models)
        unknown = [m for m in self.models if m not in CHANNEL_MODELS]
        if unknown or not self.models:
            raise CommganError(f"unknown channel model(s) {', '.join(unknown) or '(none)'}; "
                               f"valid: {', '.join(CHANNEL_MODELS)}")
        if len(set(self.models)) != len(self.models):
            raise CommganError("each channel model may be listed once")
        for name in ("seeds", "batch_blocks", "n_critic", "smooth", "window", "fidelity_blocks",
                     "swd_samples", "ae_steps", "ae_bits"):
            if getattr(self, name) < 1:
                raise CommganError(f"{name} must be a positive integer, got {getattr(self, name)}")
        for model in self.models:
            self.iterations.setdefault(model, DEFAULT_ITERATIONS[model])
            if self.iterations[model] < 1:
                raise CommganError(f"iterations must be positive, got {self.iterations[model]}")
        if self.margin <= 0 or self.eps <= 0:
            raise CommganError("margin and eps must be positive")
        self.train_ebno_db = tuple(float(v) for v in self.train_ebno_db)
        self.fidelity_ebno_db = tuple(float(v) for v in self.fidelity_ebno_db)
        self.ae_ebno_db = tuple(sorted(float(v) for v in self.ae_ebno_db))
        try:
            self.model_config(self.models[0], self.seed)
        except ValueError as err:
            raise CommganError(str(err)) from None

    def model_config(self, model: str, seed: int) -> ChannelModelConfig:
        """The `ChannelModelConfig` of one run."""
        return ChannelModelConfig(
            model=model, channel=self.channel, mod=self.mod, train_ebno_db=self.train_ebno_db,
            batch_blocks=self.batch_blocks, iterations=self.iterations[model],
            n_critic=self.n_critic, lr_g=self.lr_g, lr_d=self.lr_d, lr_decay=self.lr_decay,
            seed=seed)

    def to_dict(self) -> dict:
        data = asdict(self)
        for key in ("models", "train_ebno_db", "fidelity_ebno_db", "ae_ebno_db"):
            data[key] = list(data[key])
        return data


class ChannelModelDiverged(CommganError):
    """A channel model's loss became NaN/inf; the results so far were saved."""


@dataclass
class ConvergenceResult:
    """Tables of one benchmark run (the CSV files of the output folder)."""

    convergence: pd.DataFrame
    summary: pd.DataFrame
    fidelity: pd.DataFrame
    ae_ber: pd.DataFrame
    histories: pd.DataFrame


def convergence_metrics(history: pd.DataFrame, smooth: int = 9, margin: float = 0.05,
                        eps: float = 0.05, window: int = 50) -> dict[str, float]:
    """Separation, crossover and equilibrium iterations of one training history, and the
    training seconds at each (NaN where not reached). See the module docstring."""
    separation = separation_iteration(history, margin, smooth)
    crossover = crossover_iteration(history, smooth, margin=margin)
    raw_crossover = crossover_iteration(history, 1, margin=margin)
    equilibrium = None
    if separation is not None:
        equilibrium = equilibrium_iteration(history, eps, window, LN2, LN2, smooth,
                                            start=separation)
    seconds = history.set_index("iteration")["seconds"] if len(history) else pd.Series()

    def at(iteration: int | None) -> float:
        return float(seconds.loc[iteration]) if iteration is not None else math.nan

    def value(iteration: int | None) -> float:
        return float(iteration) if iteration is not None else math.nan

    return {"separation_iter": value(separation), "crossover_iter": value(crossover),
            "crossover_raw_iter": value(raw_crossover), "equilibrium_iter": value(equilibrium),
            "seconds_to_crossover": at(crossover), "seconds_to_equilibrium": at(equilibrium),
            "seconds": float(seconds.iloc[-1]) if len(seconds) else math.nan}


def summarise(convergence: pd.DataFrame) -> pd.DataFrame:
    """Per model: mean and std over seeds of each metric (over the seeds that reached it) and
    how many seeds reached it."""
    rows = []
    for model, runs in convergence.groupby("model", sort=False):
        row: dict[str, object] = {"model": model, "seeds": len(runs)}
        for column in ("crossover_iter", "crossover_raw_iter", "equilibrium_iter",
                       "seconds_to_crossover", "seconds_to_equilibrium", "seconds"):
            values = runs[column].dropna()
            row[f"{column}_mean"] = float(values.mean()) if len(values) else math.nan
            row[f"{column}_std"] = float(values.std(ddof=1)) if len(values) > 1 else math.nan
            row[f"{column}_reached"] = int(len(values))
        rows.append(row)
    return pd.DataFrame(rows)


def _mean_std(row: pd.Series, column: str, digits: int = 0) -> str:
    mean, std, reached = row[f"{column}_mean"], row[f"{column}_std"], row[f"{column}_reached"]
    if reached == 0:
        return f"never (0/{row['seeds']})"
    text = f"{mean:.{digits}f}" + ("" if math.isnan(std) else f" ± {std:.{digits}f}")
    return text + ("" if reached == row["seeds"] else f" ({reached}/{row['seeds']})")


def format_summary(summary: pd.DataFrame, fidelity: pd.DataFrame | None = None) -> str:
    """The table printed by ``commgan converge``: convergence (mean ± std over seeds) and, when
    computed, fidelity per model."""
    lines = []
    for _, row in summary.iterrows():
        line = {"model": row["model"],
                "crossover iter": _mean_std(row, "crossover_iter"),
                "raw crossover": _mean_std(row, "crossover_raw_iter"),
                "equilibrium iter": _mean_std(row, "equilibrium_iter"),
                "s to crossover": _mean_std(row, "seconds_to_crossover", 1),
                "s to equilibrium": _mean_std(row, "seconds_to_equilibrium", 1),
                "s total": _mean_std(row, "seconds", 1)}
        if fidelity is not None and len(fidelity):
            rows = fidelity[fidelity["model"] == row["model"]]
            for _, point in rows.iterrows():
                line[f"BER {point['ebno_db']:g} dB gen/true"] = (
                    f"{point['ber_generated']:.3g}/{point['ber_true']:.3g}")
            if len(rows):
                line["SWD (floor)"] = (f"{rows['swd'].mean():.3f} "
                                       f"({rows['swd_floor'].mean():.3f})")
                if "ae_gap_db" in rows:
                    line["ae gap @1e-2 dB"] = f"{rows['ae_gap_db'].iloc[0]:+.2f}"
        lines.append(line)
    return pd.DataFrame(lines).to_string(index=False)


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, directions: torch.Tensor) -> float:
    """Sliced Wasserstein-1 distance of two equal-size 2-D samples.

    a, b: [N, 2]; directions: [K, 2] unit vectors. Returns the mean over directions of the
    1-D W1 distance of the projections (same units as the samples).
    """
    pa = torch.sort(a @ directions.T, dim=0).values
    pb = torch.sort(b @ directions.T, dim=0).values
    return float((pa - pb).abs().mean())


def _directions(count: int = 64) -> torch.Tensor:
    angles = torch.arange(count, dtype=torch.float32) * (math.pi / count)
    return torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


@torch.no_grad()
def ber_fidelity(model: ChannelGAN, config: ConvergenceConfig) -> list[dict]:
    """Fidelity 1 and 2 at each Eb/N0 of ``config.fidelity_ebno_db``: one row per point.

    True and generated blocks carry the same data symbols (and, for the CGAN, the same
    measured pilots). Columns: swd, swd_floor, ber_true (+ ci), ber_generated (+ ci),
    ber_rel_error = ber_generated / ber_true - 1.
    """
    sampler = model.sampler_blocks
    cfg = model.config
    slicer = NearestPointSlicer(sampler.points)
    frame_bits = cfg.data_symbols * cfg.num_bits_per_symbol
    pilots = cfg.pilot_symbols
    directions = _directions().to(sampler.device)
    chunk = 4096
    rows = []
    for ebno_db in config.fidelity_ebno_db:
        torch.manual_seed(config.seed)
        sionna.phy.config.seed = config.seed
        stats = {"true": FrameErrorStats(frame_bits), "generated": FrameErrorStats(frame_bits)}
        by_point: dict[str, list[list[torch.Tensor]]] = {
            key: [[] for _ in range(len(sampler.points))] for key in ("true", "generated",
                                                                      "floor")}
        drawn = 0
        while drawn < config.fidelity_blocks:
            count = min(chunk, config.fidelity_blocks - drawn)
            drawn += count
            blocks = sampler.draw(count, ebno_db)
            received = {"true": blocks["y"],
                        "generated": model.sample(blocks["x"], blocks["ebno_db"],
                                                  blocks["y"][:, :pilots])}
            for key, y in received.items():
                h = estimate_fading(y[:, :pilots], sampler.pilots)
                decided = slicer(y[:, pilots:] / h)
                stats[key].add(bit_errors_between_indices(blocks["index"], decided))
            received["floor"] = sampler.transmit(blocks["x"], blocks["ebno_db"])
            index = blocks["index"].reshape(-1)
            for key, y in received.items():
                data = torch.view_as_real(y[:, pilots:].reshape(-1))
                for point, store in enumerate(by_point[key]):
                    if sum(len(t) for t in store) < config.swd_samples:
                        store.append(data[index == point])
        swd, floor = [], []
        for point in range(len(sampler.points)):
            true, generated, other = (torch.cat(by_point[key][point])[:config.swd_samples]
                                      for key in ("true", "generated", "floor"))
            n = min(len(true), len(generated), len(other))
            swd.append(sliced_wasserstein(generated[:n], true[:n], directions))
            floor.append(sliced_wasserstein(other[:n], true[:n], directions))
        row = {"model": cfg.model, "ebno_db": ebno_db, "swd": float(np.mean(swd)),
               "swd_floor": float(np.mean(floor)), "blocks": config.fidelity_blocks}
        for key, acc in stats.items():
            low, high = acc.interval()
            row.update({f"ber_{key}": acc.ber, f"ber_{key}_low": low, f"ber_{key}_high": high})
        row["ber_rel_error"] = row["ber_generated"] / row["ber_true"] - 1.0
        rows.append(row)
    return rows


def _ae_training(config: ConvergenceConfig, frame_bits: int) -> AutoencoderTraining:
    """The training of every ae of fidelity 3: frames of two blocks, the channel models'
    Eb/N0 range, ``config.ae_steps`` steps, seeded by ``config.seed``."""
    return AutoencoderTraining(steps=config.ae_steps, frame_bits=2 * frame_bits,
                               train_ebno_db=config.train_ebno_db, seed=config.seed)


def _ae_job(link_name: str, model_config: ChannelModelConfig | None, generator_state: dict | None,
            config: ConvergenceConfig, frame_bits: int, threads: int | None) -> list[dict]:
    """Train one ae through ``link_name`` ("true" or a model given by its config and G's
    state) and measure its BER curve on the true channel in frames of ``frame_bits`` (one
    block). Returns the curve rows."""
    if threads:
        torch.set_num_threads(threads)
    link = None
    if model_config is not None:
        model = ChannelGAN(model_config, config.device)
        model.generator.load_state_dict(generator_state)
        link = LearnedChannel(model)
    system = AutoencoderSystem(get_modulation(config.mod), device=config.device)
    started = time.perf_counter()
    train_autoencoder(system, config.channel, _ae_training(config, frame_bits), link=link)
    wiretap = WiretapChannel(config.channel, device=config.device)
    rows = []
    for ebno_db in config.ae_ebno_db:
        point = simulate_point(system, wiretap, ebno_db, frame_bits=frame_bits,
                               batch_frames=4096, target_errors=1 << 62,
                               max_bits=config.ae_bits, seed=config.seed)
        acc = point.receivers["bob"]
        low, high = acc.interval()
        rows.append({"link": link_name, "ebno_db": ebno_db, "bits": acc.bits,
                     "errors": acc.errors, "ber": acc.ber, "ci_low": low, "ci_high": high,
                     "seconds": time.perf_counter() - started})
    return rows


def ae_gaps(curves: pd.DataFrame) -> pd.DataFrame:
    """Per learned channel: Eb/N0 at BER 1e-2 of the ae trained through it and of the ae trained
    through the true channel, and the gap (columns model, ae_ebno_at_1e-2_db,
    ae_true_ebno_at_1e-2_db, ae_gap_db). curves: `ae_ber.csv` rows (link, ebno_db, ber)."""

    def crossing(link: str) -> float:
        rows = curves[curves["link"] == link]
        return ebno_at_ber(rows["ebno_db"], rows["ber"], 1e-2)

    reference = crossing("true")
    return pd.DataFrame([{"model": link, "ae_ebno_at_1e-2_db": crossing(link),
                          "ae_true_ebno_at_1e-2_db": reference,
                          "ae_gap_db": crossing(link) - reference}
                         for link in dict.fromkeys(curves["link"]) if link != "true"])


def plot_losses(histories: pd.DataFrame, convergence: pd.DataFrame, path: str | Path,
                smooth: int = 9, seed: int | None = None) -> None:
    """losses.png: one panel per model (as the survey's Figs. 8-10): L_G and L_D of one seed
    (raw, faint; smoothed, bold), ln 2, and the crossover and equilibrium iterations marked."""
    models = list(dict.fromkeys(histories["model"]))
    fig, axes = plt.subplots(1, len(models), figsize=(5.2 * len(models), 4.2), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        runs = histories[histories["model"] == model]
        shown = runs["seed"].min() if seed is None else seed
        run = runs[runs["seed"] == shown]
        for column, colour, label in (("loss_g", "tab:red", "G loss"),
                                      ("loss_d", "tab:blue", "D loss")):
            ax.plot(run["iteration"], run[column], color=colour, alpha=0.25, linewidth=0.8)
            smoothed = run[column].rolling(smooth, center=True, min_periods=1).mean()
            ax.plot(run["iteration"], smoothed, color=colour, linewidth=1.6, label=label)
        ax.axhline(LN2, color="black", linestyle=":", linewidth=1, label="ln 2")
        metrics = convergence[(convergence["model"] == model) & (convergence["seed"] == shown)]
        title = f"{model.upper()} (seed {shown})"
        if len(metrics):
            crossover = metrics["crossover_iter"].iloc[0]
            equilibrium = metrics["equilibrium_iter"].iloc[0]
            if not math.isnan(crossover):
                ax.axvline(crossover, color="tab:green", linewidth=1.2,
                           label=f"crossover {crossover:.0f}")
            if not math.isnan(equilibrium):
                ax.axvline(equilibrium, color="tab:purple", linestyle="--", linewidth=1.2,
                           label=f"equilibrium {equilibrium:.0f}")
            all_seeds = convergence[convergence["model"] == model]["crossover_iter"].dropna()
            if len(all_seeds):
                title += f"; crossover {all_seeds.mean():.0f} ± {all_seeds.std(ddof=1):.0f}" \
                    if len(all_seeds) > 1 else f"; crossover {all_seeds.iloc[0]:.0f}"
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("iteration (one G update)")
        ax.set_ylabel("loss [nats]")
        ax.set_ylim(0, max(2.5, float(np.nanpercentile(run[["loss_g", "loss_d"]], 99))))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def plot_fidelity(fidelity: pd.DataFrame, ae_ber: pd.DataFrame, path: str | Path) -> None:
    """fidelity.png: left, the coherent receiver's BER on true and on generated blocks per model
    (95% intervals); right, BER on the true channel of the ae trained through each learned
    channel and through the true one, with the 1e-2 line of the gap."""
    panels = 2 if len(ae_ber) else 1
    fig, axes = plt.subplots(1, panels, figsize=(6 * panels, 4.5), squeeze=False)
    ax = axes[0][0]
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    first = fidelity.drop_duplicates("ebno_db").sort_values("ebno_db")
    ax.errorbar(first["ebno_db"], first["ber_true"],
                yerr=[first["ber_true"] - first["ber_true_low"],
                      first["ber_true_high"] - first["ber_true"]],
                color="black", marker="o", capsize=3, label="true channel")
    for index, (model, rows) in enumerate(fidelity.groupby("model", sort=False)):
        rows = rows.sort_values("ebno_db")
        ax.errorbar(rows["ebno_db"] + 0.3 * (index + 1), rows["ber_generated"],
                    yerr=[rows["ber_generated"] - rows["ber_generated_low"],
                          rows["ber_generated_high"] - rows["ber_generated"]],
                    color=colours[index % len(colours)], marker="s", linestyle="--",
                    capsize=3, label=f"{model} (generated)")
    ax.set_yscale("log")
    ax.set_xlabel("Eb/N0 [dB]")
    ax.set_ylabel("BER, pilot-based coherent 16QAM receiver")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    if panels == 2:
        ax = axes[0][1]
        for index, (link, rows) in enumerate(ae_ber.groupby("link", sort=False)):
            colour = "black" if link == "true" else colours[(index - 1) % len(colours)]
            ax.plot(rows["ebno_db"], rows["ber"].where(rows["ber"] > 0), marker="o",
                    color=colour, label=f"ae trained through {link}")
        ax.axhline(1e-2, color="grey", linestyle=":", linewidth=1)
        ax.set_yscale("log")
        ax.set_xlabel("Eb/N0 [dB]")
        ax.set_ylabel("BER on the true channel")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=110, format="png"))
    plt.close(fig)


def _history_rows(model: str, seed: int, history: pd.DataFrame) -> pd.DataFrame:
    keep = [c for c in ("iteration", "loss_d", "loss_g", "d_real", "d_fake", "seconds")
            if c in history.columns]
    frame = history[keep].copy()
    frame.insert(0, "seed", seed)
    frame.insert(0, "model", model)
    return frame


def _write(out: Path, config: ConvergenceConfig, result: ConvergenceResult,
           extra: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    write_csv(result.convergence, out / "convergence.csv")
    write_csv(result.summary, out / "summary.csv")
    write_csv(result.histories, out / "histories.csv")
    if len(result.fidelity):
        write_csv(result.fidelity, out / "fidelity.csv")
        plot_fidelity(result.fidelity, result.ae_ber, out / "fidelity.png")
    if len(result.ae_ber):
        write_csv(result.ae_ber, out / "ae_ber.csv")
    if len(result.histories):
        plot_losses(result.histories, result.convergence, out / "losses.png", config.smooth,
                    config.seed)
    write_json({"config": config.to_dict(), "versions": package_versions(), **extra},
               out / "config.json")


def _iteration(value: float) -> str:
    return "never" if math.isnan(value) else f"{value:.0f}"


def _train_job(model_config: ChannelModelConfig, device: str, threads: int | None) -> dict:
    """Train one (model, seed); returns its history, G's state (CPU) or the divergence."""
    if threads:
        torch.set_num_threads(threads)
    name = f"{model_config.model} seed {model_config.seed}"
    try:
        model, history = train_channel_model(model_config, device=device, name=name)
    except GANDivergenceError as err:
        return {"history": err.history, "diverged": (err.iteration, err.loss)}
    state = {k: v.detach().cpu() for k, v in model.generator.state_dict().items()}
    return {"history": history, "generator": state}


class _Inline:
    """The executor of ``jobs=1``: runs each job when it is submitted, in this process."""

    class _Done:
        def __init__(self, value) -> None:
            self.value = value

        def result(self):
            return self.value

        def cancel(self) -> bool:
            return False

    def submit(self, fn, *args):
        return self._Done(fn(*args))

    def shutdown(self, cancel_futures: bool = False) -> None:
        pass


def _executor(jobs: int):
    if jobs <= 1:
        return _Inline()
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


def run_convergence(
    config: ConvergenceConfig,
    out_dir: str | Path | None = None,
    *,
    jobs: int = 1,
    progress: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> ConvergenceResult:
    """Train every model for every seed, compute the convergence metrics and (optionally) the
    fidelity of each model's first-seed run; with ``out_dir``, write the result files.

    jobs: trainings run in this many processes at once (spawned, one torch thread each; 1 = in
    this process). The numbers do not depend on it (every run is seeded); the seconds do.
    A NaN/inf loss stops the run: the finished runs, the diverged run's history up to its last
    good iteration and a row with ``diverged_at`` are saved, and `ChannelModelDiverged` is
    raised with the model, seed and iteration.
    """
    out = Path(out_dir) if out_dir is not None else None
    seeds = [config.seed + i for i in range(config.seeds)]
    threads = 1 if jobs > 1 else None
    steps = len(config.models) * len(seeds)
    if config.fidelity:
        steps += len(config.models) + ((len(config.models) + 1) if config.ae else 0)
    bar = tqdm(total=steps, disable=not progress, dynamic_ncols=True, leave=False,
               desc="converge")
    rows: list[dict] = []
    histories: list[pd.DataFrame] = []
    first_models: dict[str, ChannelGAN] = {}
    started = time.perf_counter()

    def result(fidelity: pd.DataFrame | None = None,
               ae_ber: pd.DataFrame | None = None) -> ConvergenceResult:
        convergence = pd.DataFrame(rows, columns=CONVERGENCE_COLUMNS)
        return ConvergenceResult(
            convergence=convergence, summary=summarise(convergence),
            fidelity=fidelity if fidelity is not None else pd.DataFrame(),
            ae_ber=ae_ber if ae_ber is not None else pd.DataFrame(),
            histories=pd.concat(histories, ignore_index=True) if histories else pd.DataFrame())

    pool = _executor(jobs)
    try:
        runs = [(model, seed, config.model_config(model, seed))
                for model in config.models for seed in seeds]
        futures = [pool.submit(_train_job, model_config, config.device, threads)
                   for _, _, model_config in runs]
        for (model, seed, model_config), future in zip(runs, futures, strict=True):
            outcome = future.result()
            history = outcome["history"]
            histories.append(_history_rows(model, seed, history))
            metrics = convergence_metrics(history, config.smooth, config.margin, config.eps,
                                          config.window)
            if "diverged" in outcome:
                iteration, loss = outcome["diverged"]
                rows.append({"model": model, "seed": seed,
                             "iterations": model_config.iterations,
                             "n_critic": config.n_critic, "diverged_at": iteration, **metrics})
                for pending in futures:
                    pending.cancel()
                saved = ""
                if out is not None:
                    _write(out, config, result(), {"diverged": {
                        "model": model, "seed": seed, "iteration": iteration}})
                    saved = f"; results so far saved in {out}"
                raise ChannelModelDiverged(
                    f"{model} seed {seed} diverged at iteration {iteration} "
                    f"({loss} is not finite){saved}")
            rows.append({"model": model, "seed": seed, "iterations": len(history),
                         "n_critic": config.n_critic, "diverged_at": math.nan, **metrics})
            if seed == seeds[0]:
                trained = ChannelGAN(model_config, config.device)
                trained.generator.load_state_dict(outcome["generator"])
                trained.generator.eval()
                first_models[model] = trained
            log(f"{model} seed {seed}: crossover {_iteration(metrics['crossover_iter'])}, "
                f"equilibrium {_iteration(metrics['equilibrium_iter'])}, "
                f"{metrics['seconds']:.1f} s")
            bar.update(1)
        fidelity = ae_ber = None
        if config.fidelity:
            ae_futures = []
            if config.ae:  # start the slow part first; the BER comparison runs meanwhile
                links = [("true", None, None)] + [
                    (name, model.config, model.generator.state_dict())
                    for name, model in first_models.items()]
                block = next(iter(first_models.values())).config
                frame_bits = block.data_symbols * block.num_bits_per_symbol
                ae_futures = [(name, pool.submit(_ae_job, name, model_config, state, config,
                                                 frame_bits, threads))
                              for name, model_config, state in links]
            fidelity_rows = []
            for model, trained in first_models.items():
                fidelity_rows += ber_fidelity(trained, config)
                log(f"{model}: fidelity at {', '.join(f'{v:g}' for v in config.fidelity_ebno_db)}"
                    " dB done")
                bar.update(1)
            fidelity = pd.DataFrame(fidelity_rows)
            if config.ae:
                curves = []
                for name, future in ae_futures:
                    curves += future.result()
                    log(f"ae through the {name} channel: trained and evaluated in "
                        f"{curves[-1]['seconds']:.0f} s")
                    bar.update(1)
                ae_ber = pd.DataFrame(curves)
                fidelity = fidelity.merge(ae_gaps(ae_ber), on="model", how="left")
        final = result(fidelity, ae_ber)
    finally:
        bar.close()
        pool.shutdown(cancel_futures=True)
    if out is not None:
        _write(out, config, final, {"seconds_total": time.perf_counter() - started,
                                    "jobs": jobs})
    return final
