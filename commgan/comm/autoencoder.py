"""The ``ae`` system: the CNN autoencoder trained end to end through the channel with BCE."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import pandas as pd
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from channels import (
    ChannelOutput,
    ModulationSpec,
    channel_choice,
    channel_spec,
    get_channel,
    noise_variance,
    theory,
)
from commgan.comm.spreading import BlockDemapper, learned_receiver_csi
from commgan.comm.system import LearnedSpec, System, SystemSpec
from commgan.comm.transceiver import (
    Decoder,
    Encoder,
    TransceiverConfig,
    reset_parameters,
)
from commgan.errors import CommganError, TrainingDiverged
from commgan.gan.precision import autocast, resolve_precision
from commgan.rng import random_bits, seeded

__all__ = ["AE", "REFERENCE_FLOOR", "AutoencoderSystem", "AutoencoderTraining", "LinkTraining",
           "default_spread", "default_train_ebno",
           "reference_ber", "train_autoencoder"]


def default_train_ebno(channel: str) -> tuple[float, float]:
    """Training Eb/N0 range in dB, drawn uniformly per frame: the channel record's range."""
    return channel_spec(channel).train_ebno_db


@dataclass
class LinkTraining:
    """What every end-to-end trained link shares (saved in its checkpoint)."""

    steps: int = 3000
    """Adam steps."""
    batch_frames: int = 256
    """Frames per step."""
    frame_bits: int = 128
    """Training frame length L in bits (the model works on any multiple of R afterwards)."""
    lr: float = 3e-3
    """Initial learning rate (cosine decay to 1% of it)."""
    train_ebno_db: tuple[float, float] | None = None
    """(low, high) dB, uniform per frame; None = default_train_ebno(channel)."""
    relative_loss: bool = True
    """Divide each frame's BCE by the Gray-QAM theory BER at its Eb/N0 (at least
    :data:`REFERENCE_FLOOR`), so every SNR of the range counts alike (plain BCE is dominated by
    the low-SNR frames and gives up high-SNR accuracy)."""
    seed: int = 0
    """Seed of weights, bits, fades and noise (and of the training key stream where used)."""
    precision: str = "auto"
    """Forward-pass precision of training: "auto" = bf16 autocast where the CPU/GPU runs it
    natively, else fp32 (see :mod:`commgan.gan.precision`); the trained model runs in fp32."""

    def to_dict(self) -> dict:
        data = asdict(self)
        data["train_ebno_db"] = list(self.train_ebno_db) if self.train_ebno_db else None
        return data


@dataclass
class AutoencoderTraining(LinkTraining):
    """How an autoencoder is trained."""

    transceiver: TransceiverConfig = field(default_factory=TransceiverConfig)
    """Architecture."""


class AutoencoderSystem(System):
    """``ae``: encoder (Alice) and decoder (Bob), no key. Bob decides bit = 1 when logit > 0."""

    name = "ae"

    def __init__(self, modulation: ModulationSpec, config: TransceiverConfig | None = None,
                 key: bytes | None = None, device=None) -> None:
        super().__init__(modulation, key=None, device=device)
        self.config = config or TransceiverConfig(
            num_bits_per_symbol=modulation.num_bits_per_symbol)
        if self.config.num_bits_per_symbol != modulation.num_bits_per_symbol:
            raise ValueError("transceiver R differs from the modulation's bits per symbol")
        self.encoder = Encoder(self.config)
        self.decoder = (BlockDemapper(self.config.num_bits_per_symbol, self.config.spread)
                        if self.config.spread > 1 else Decoder(self.config))
        self.to(self.device)

    def init_args(self) -> dict:
        return {"config": self.config}

    @property
    def frame_multiple(self) -> int:
        """Whole blocks: K*R bits."""
        return self.modulation.num_bits_per_symbol * self.config.spread

    def transmit(self, bits, nonces=None):
        return self.encoder(bits)

    def logits(self, out) -> torch.Tensor:
        """Bob's bit logits [B, L] (a spreading link's: exact, over the encoder's codebook).
        With pilot-based CSI: :func:`~commgan.comm.spreading.learned_receiver_csi` (EM over
        the learned alphabet for a per-symbol link)."""
        out = learned_receiver_csi(out, self.encoder.alphabet, self.config.spread)
        if self.config.spread > 1:
            return self.decoder(out, self.encoder.codebook())
        return self.decoder(out)

    def receive(self, out, nonces=None, key=None):
        return (self.logits(out) > 0).float()


REFERENCE_FLOOR = 1e-13
"""Least Gray-baseline BER the relative loss divides by. Frames whose baseline lies below it
(16QAM on awgn above 18.2 dB) count alike, as plain BCE scaled by 1e13, so the loss and Adam's
squared gradients stay far inside the float range (with a floor of 1e-30 they overflow and the
training freezes). Every default training range stays above it (the lowest, QPSK on awgn at
14 dB: 7e-13)."""


def reference_ber(mod: str, channel: str, device
                  ) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The divisor of the relative loss as a function of Eb/N0 [dB] tensors (interpolated):
    the Gray baseline's theory BER on the channel's family with perfect CSI. A channel with
    pilots or estimated CSI has no closed form, but its family's curve (within a few dB of its
    BER) still weighs every SNR of the training range alike; a channel whose record has no
    theory (a channel from outside) gets None: the loss is plain BCE.
    Values are floored at :data:`REFERENCE_FLOOR` (and held constant outside -10..40 dB).
    """
    if channel_spec(channel).theory is None:
        return None
    family = channel_choice(channel).name
    grid = torch.linspace(-10.0, 40.0, 501)
    values = torch.from_numpy(theory.ber(mod, family, grid.numpy())).float()
    log_values = values.clamp_min(REFERENCE_FLOOR).log().to(device)
    grid = grid.to(device)

    def reference(ebno_db: torch.Tensor) -> torch.Tensor:
        position = ((ebno_db - grid[0]) / (grid[1] - grid[0])).clamp(0, len(grid) - 1.001)
        low = position.floor().long()
        frac = position - low
        return torch.exp(log_values[low] * (1 - frac) + log_values[low + 1] * frac)

    return reference


def _rate_factor(link: object, symbols: float) -> float:
    """The share of channel uses left to data by a channel's pilots (1 without pilots, and for
    a learned channel model)."""
    factor = getattr(link, "rate_factor", None)
    return float(factor(round(symbols))) if callable(factor) else 1.0


def train_autoencoder(
    system: AutoencoderSystem,
    channel: str,
    training: AutoencoderTraining,
    *,
    link: Callable[[torch.Tensor, torch.Tensor], ChannelOutput] | None = None,
    progress: bool = False,
    log: Callable[[str], None] = lambda message: None,
    log_every: int = 500,
) -> pd.DataFrame:
    """Train ``system`` end to end with BCE through ``channel`` (Sionna-backed, differentiable).

    Every frame gets its own Eb/N0, uniform in the training range. Returns the history
    (step, loss, ber of the batch, seconds). ``link``: what to train through instead of the
    true channel, called like it, ``link(x [B, n] complex, no [B, 1]) -> ChannelOutput``
    (e.g. a learned channel model of :mod:`commgan.comm.channelgan`); ``channel``
    still names the channel of the training Eb/N0 range and of the relative loss.
    """
    device = system.device
    low, high = training.train_ebno_db or default_train_ebno(channel)
    with seeded(training.seed, device):  # Sionna's and torch's generators
        reset_parameters(system.encoder, system.decoder)
        if link is None:
            link = get_channel(channel, device=str(device))
        rate = system.bits_per_channel_use
        pilots = _rate_factor(link, training.frame_bits / rate)
        params = list(system.encoder.parameters()) + list(system.decoder.parameters())
        optimizer = torch.optim.Adam(params, lr=training.lr, fused=True)
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=training.steps, eta_min=training.lr * 0.01)
        reference = reference_ber(system.modulation.name, channel, device)
        precision = resolve_precision(training.precision, device)
        if precision == "fp16":
            raise CommganError("autoencoder training runs in fp32 or bf16, not fp16")
        history = []
        start = time.perf_counter()
        system.train()
        bar = tqdm(range(training.steps), disable=not progress, desc=f"train {system.name}",
                   leave=False, dynamic_ncols=True)
        for step in bar:
            bits = random_bits([training.batch_frames, training.frame_bits], device)
            ebno = torch.empty(training.batch_frames, 1, device=device).uniform_(low, high)
            with autocast(precision, device):
                x = system.encoder(bits)
            out = link(x, noise_variance(ebno, rate * pilots, device=str(device)))  # fp32
            with autocast(precision, device):
                logits = system.logits(out)
            frame_bce = F.binary_cross_entropy_with_logits(logits, bits, reduction="none").mean(-1)
            if training.relative_loss and reference is not None:
                frame_bce = frame_bce / reference(ebno[:, 0])
            loss = frame_bce.mean()
            if not math.isfinite(loss.item()):
                raise TrainingDiverged(f"autoencoder training diverged at step {step} "
                                       f"(loss {loss})")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            ber = ((logits > 0).float() != bits).float().mean().item()
            history.append({"step": step, "loss": loss.item(), "ber": ber,
                            "seconds": time.perf_counter() - start})
            if (step + 1) % log_every == 0 or step + 1 == training.steps:
                recent = pd.DataFrame(history[-log_every:])
                message = (f"step {step + 1}/{training.steps}: loss {recent['loss'].mean():.4f}, "
                           f"batch BER {recent['ber'].mean():.4f}")
                bar.set_postfix_str(message.split(": ", 1)[1], refresh=False)
                log(message)
        bar.close()
        system.eval()
        with torch.no_grad():
            calibration_bits = random_bits([4096, training.frame_bits], device)
            system.encoder.power.calibrate(system.encoder.raw(calibration_bits))
    return pd.DataFrame(history)


def default_spread(modulation: ModulationSpec, channel: str | None) -> int:
    """Symbols per block of a default learned link: 2 on channels whose data symbols fade
    independently (``rayleigh-fast``, ``rayleigh:coherence=2,pilots=1``; diversity 2, as
    signal-space diversity) while the block codebook stays small (2^(2R) <= 256 codewords for
    the exact demapper), else 1."""
    fast = channel is not None and channel_choice(channel).independent_fades
    return 2 if fast and modulation.num_bits_per_symbol <= 4 else 1


def _autoencoder_training(modulation: ModulationSpec, channel: str | None) -> AutoencoderTraining:
    return AutoencoderTraining(transceiver=TransceiverConfig(
        modulation.num_bits_per_symbol, spread=default_spread(modulation, channel)))


AE = SystemSpec(
    AutoencoderSystem, "CNN autoencoder trained end to end through the channel (no key)",
    learned=LearnedSpec(default_training=_autoencoder_training,
                        architecture=lambda training: training.transceiver,
                        train=train_autoencoder),
    default_sweep=True, attack_reference=True)
