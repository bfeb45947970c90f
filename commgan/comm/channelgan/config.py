"""`ChannelModelConfig`: one channel model and how it is trained (saved as JSON with results)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from channels import get_channel, get_modulation
from commgan.comm.channelgan.variants import CHANNEL_MODELS

__all__ = ["ChannelModelConfig"]


@dataclass
class ChannelModelConfig:
    """One channel model and how it is trained; ``ValueError`` on a bad value."""

    model: str = "dcgan"
    """A `CHANNEL_MODELS` name: "gan", "cgan" or "dcgan"."""
    channel: str = "rayleigh"
    """True channel the training samples come from (a `channels` name)."""
    mod: str = "16qam"
    """Modulation of the data symbols (a `channels` name)."""
    data_symbols: int = 14
    """Data symbols per block."""
    pilot_symbols: int = 2
    """Known pilots at the start of each block (block length T = pilots + data)."""
    train_ebno_db: tuple[float, float] = (0.0, 20.0)
    """Eb/N0 range in dB, uniform per block, of the training samples."""
    batch_blocks: int = 128
    """Blocks per iteration (GAN: every symbol of them is a sample; CGAN: every data symbol)."""
    iterations: int = 1500
    """GAN iterations (``n_critic`` D updates then one G update each)."""
    n_critic: int = 1
    """D updates per G update in one iteration."""
    lr_g: float = 3e-4
    """Adam learning rate of G."""
    lr_d: float = 1e-3
    """Adam learning rate of D (3.3 times G's, so that D keeps up with G)."""
    betas: tuple[float, float] = (0.5, 0.999)
    """Adam betas (DCGAN's)."""
    lr_decay: str = "cosine"
    """Learning-rate schedule over the iterations: "none" or "cosine" (to 1%)."""
    hidden: int = 32
    """Width of the MLPs' hidden layers / base channel count of the DCGAN convolutions."""
    latent: int = 4
    """Latent noise dimensions of G (besides the 2 of the per-symbol noise w)."""
    seed: int = 0
    """Seed of weights, samples, fades and noise."""

    def __post_init__(self) -> None:
        if self.model not in CHANNEL_MODELS:
            raise ValueError(f"unknown channel model {self.model!r}; "
                             f"valid: {', '.join(CHANNEL_MODELS)}")
        get_modulation(self.mod)
        get_channel(self.channel)
        if self.data_symbols < 1 or self.pilot_symbols < 1:
            raise ValueError("a block needs at least one data symbol and one pilot")
        for name in ("batch_blocks", "hidden", "latent"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        low, high = self.train_ebno_db
        if low > high:
            raise ValueError(f"train_ebno_db must be (low, high) with low <= high, got "
                             f"{self.train_ebno_db}")
        self.train_ebno_db = (float(low), float(high))
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        CHANNEL_MODELS[self.model].model_class.check_config(self)

    @property
    def block_length(self) -> int:
        """T: symbols per block, pilots included."""
        return self.pilot_symbols + self.data_symbols

    @property
    def num_bits_per_symbol(self) -> int:
        """R of the modulation."""
        return get_modulation(self.mod).num_bits_per_symbol

    def to_dict(self) -> dict:
        """JSON-ready fields (tuples as lists)."""
        data = asdict(self)
        data["train_ebno_db"] = list(self.train_ebno_db)
        data["betas"] = list(self.betas)
        return data
