"""`ConvergenceConfig`: everything that determines the study's numbers (saved as config.json)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from commgan.comm.channelgan import CHANNEL_MODELS, ChannelModelConfig
from commgan.errors import CommganError

__all__ = ["ConvergenceConfig", "default_iterations"]

_DEFAULT_MODEL = ChannelModelConfig()


def default_iterations() -> dict[str, int]:
    """Training iterations per model when none are given (from `CHANNEL_MODELS`)."""
    return {name: spec.default_iterations for name, spec in CHANNEL_MODELS.items()}


@dataclass
class ConvergenceConfig:
    """The convergence and fidelity study of the channel models; `CommganError` on a bad value."""

    channel: str = "rayleigh"
    """True channel (a `channels` name)."""
    mod: str = "16qam"
    """Modulation (a `channels` name)."""
    models: tuple[str, ...] = tuple(CHANNEL_MODELS)
    """Channel models to study (`CHANNEL_MODELS` names)."""
    seeds: int = 5
    """Seeds per model: seed, seed + 1, ..."""
    seed: int = 0
    """First seed; also the seed of the fidelity draws and of the ae trainings."""
    iterations: dict[str, int] = field(default_factory=default_iterations)
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
            self.iterations.setdefault(model, CHANNEL_MODELS[model].default_iterations)
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
        """The `ChannelModelConfig` of one training run (``ValueError`` on a bad value)."""
        return ChannelModelConfig(
            model=model, channel=self.channel, mod=self.mod, train_ebno_db=self.train_ebno_db,
            batch_blocks=self.batch_blocks, iterations=self.iterations[model],
            n_critic=self.n_critic, lr_g=self.lr_g, lr_d=self.lr_d, lr_decay=self.lr_decay,
            seed=seed)

    def to_dict(self) -> dict:
        """JSON-ready fields (tuples as lists)."""
        data = asdict(self)
        for key in ("models", "train_ebno_db", "fidelity_ebno_db", "ae_ebno_db"):
            data[key] = list(data[key])
        return data
