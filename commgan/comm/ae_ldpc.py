"""``ae-ldpc``: a learned constellation under the 5G LDPC code of ``qam-ldpc`` (BICM).

The code is ``qam-ldpc``'s (:class:`~commgan.comm.coded.LDPCCode`: Sionna's 5G LDPC (k, n), the
same fixed random bit interleaver, the same BP decoder); only the constellation differs. Alice
maps each block of K R interleaved code bits (K = ``TransceiverConfig.spread`` symbols, R =
log2 M bits per symbol) to K points of a learned codebook of 2^(K R) entries, made by the
transceiver's pointwise encoder (kernel 1) and scaled to unit average energy exactly. Bob takes
the exact a-posteriori LLRs of the code bits over that codebook
(:class:`~commgan.comm.spreading.BlockDemapper`), de-interleaves and decodes.

Training is BICM training: the interleaved code bits are i.i.d. uniform, so the encoder is
trained on random bits with plain binary cross-entropy through the exact demapper
(:func:`~commgan.comm.autoencoder.train_autoencoder`), which maximises the bit-metric
decoding rate the code sees. Eb/N0 is per information bit (R k / n per channel use), in
training as in simulation; the default training range lies around the code's waterfall
(:func:`coded_train_ebno`). With the Gray-QAM skip the untrained link is ``qam-ldpc`` (K = 1)
or signal-space-diversity QAM with exact LLRs under the code (K = 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import pandas as pd
import torch

from channels import ChannelOutput, ModulationSpec, get_channel, noise_variance
from commgan.comm.autoencoder import (
    AutoencoderTraining,
    default_spread,
    train_autoencoder,
)
from commgan.comm.coded import CodedRate, LDPCCode, LDPCOptions
from commgan.comm.spreading import BlockDemapper, block_bits, block_labels, interleave
from commgan.comm.system import LearnedSpec, System, SystemSpec
from commgan.comm.transceiver import Encoder, TransceiverConfig
from commgan.errors import CommganError
from commgan.rng import random_bits, seeded

__all__ = ["AE_LDPC", "AELDPCSystem", "AELDPCTraining", "ConstellationEncoder",
           "bit_metric_rate", "coded_train_ebno", "default_ae_ldpc_training", "held_out_rate",
           "train_ae_ldpc"]


class ConstellationEncoder(Encoder):
    """The transceiver's pointwise encoder as a codebook: every block of K R bits is sent as
    its codebook entry (:meth:`codebook`, [2^(K R), K], unit average energy over the blocks,
    exact), for any K >= 1. Bits [B, L] -> symbols [B, L / R] in frame (interleaved) order."""

    def __init__(self, config: TransceiverConfig) -> None:
        if config.kernel_size != 1:
            raise CommganError("ae-ldpc's encoder is a constellation: kernel_size must be 1")
        super().__init__(config)
        if self.spread == 1:
            self.register_buffer("blocks", block_bits(self.r), persistent=False)

    def raw(self, bits: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return interleave(self.codebook()[block_labels(bits, self.r * self.spread)])

    def forward(self, bits: torch.Tensor, condition: torch.Tensor | None = None) -> torch.Tensor:
        return self.raw(bits)


class AELDPCSystem(CodedRate, System):
    """``ae-ldpc``: LDPC code and interleaver of ``qam-ldpc``, a learned codebook of K symbols
    per K R code bits, exact APP LLRs over it, BP decoding. Frames hold whole codewords (and
    whole codebook blocks). LLRs are ln P(1)/P(0), as Sionna's demapper gives them."""

    name = "ae-ldpc"

    def __init__(self, modulation: ModulationSpec, config: TransceiverConfig | None = None,
                 key: bytes | None = None, device=None, k: int = 512, n: int = 1024,
                 decoder: str = "fast", iterations: int = 20, cn_update: str = "boxplus"
                 ) -> None:
        super().__init__(modulation, key=None, device=device)
        self.config = config or TransceiverConfig(modulation.num_bits_per_symbol)
        if self.config.num_bits_per_symbol != modulation.num_bits_per_symbol:
            raise CommganError("transceiver R differs from the modulation's bits per symbol")
        self.options = LDPCOptions(k, n, decoder, iterations, cn_update)
        self.code = LDPCCode(self.options, str(self.device))
        self.encoder = ConstellationEncoder(self.config)
        self.decoder = BlockDemapper(self.config.num_bits_per_symbol, self.config.spread)
        self.to(self.device)

    def init_args(self) -> dict:
        return {"config": self.config, **self.options.to_dict()}

    @property
    def frame_multiple(self) -> int:
        """k times the codewords whose code bits fill whole codebook blocks of K R bits."""
        width = self.config.num_bits_per_symbol * self.config.spread
        return self.options.k * (width // math.gcd(self.options.n, width))

    def transmit(self, bits, nonces=None):
        self.check_frame_bits(bits.shape[-1])
        return self.encoder(self.code.encode(bits))

    def logits(self, out: ChannelOutput) -> torch.Tensor:
        """Exact APP LLRs of the channel's (interleaved) bits, [B, n_symbols R]; the noise is
        N0 plus the CSI's estimation-error variance, as for ``qam-ldpc``."""
        noise = out.no.reshape(out.no.shape[0], 1) if out.no.dim() else out.no
        effective = ChannelOutput(out.y, out.h, noise + out.csi_error_var)
        return self.decoder(effective, self.encoder.codebook())

    def receive(self, out, nonces=None, key=None):
        return self.code.decode(self.code.deinterleave(self.logits(out))).to(self.device)


@dataclass
class AELDPCTraining(AutoencoderTraining):
    """How ``ae-ldpc`` is trained: :class:`~commgan.comm.autoencoder.AutoencoderTraining` run
    ``restarts`` times (seeds ``seed * restarts + i``), keeping the run of the highest held-out
    bit-metric rate over the training range (:func:`held_out_rate`)."""

    restarts: int = 3
    """Trainings from different initialisations (the best one is kept)."""


def default_ae_ldpc_training(modulation: ModulationSpec, channel: str | None) -> AELDPCTraining:
    """Plain BCE (the relative loss divides by uncoded theory, meaningless under a code), one
    symbol per block except where fades are independent (K = 2, as ``ae``), and the training
    Eb/N0 left to :func:`coded_train_ebno` (it depends on the code rate)."""
    return AELDPCTraining(
        steps=3000, batch_frames=64, frame_bits=960, lr=1e-2, relative_loss=False,
        transceiver=TransceiverConfig(modulation.num_bits_per_symbol,
                                      spread=default_spread(modulation, channel)))


BMI_SYMBOLS = 1 << 16
"""Channel uses per estimate of :func:`bit_metric_rate`."""


@torch.no_grad()
def bit_metric_rate(system: AELDPCSystem, channel: str, ebno_db: float, seed: int = 0,
                    symbols: int = BMI_SYMBOLS) -> float:
    """Bit-metric decoding rate (BMI, bits per channel use) of the system's codebook with its
    exact demapper at ``ebno_db`` (per information bit): sum over the R bits of
    1 - E[log2(1 + exp(-(2b - 1) LLR))], a Monte Carlo estimate from ``symbols`` uses whose bits,
    fades and noise are drawn from ``seed``."""
    r = system.config.num_bits_per_symbol
    width = r * system.config.spread
    frame = width * 64
    with seeded(seed, system.device) as stream:  # bits, fades and noise
        bits = random_bits([max(1, symbols * r // frame), frame], system.device, stream)
        link = get_channel(channel, device=str(system.device))
        out = link(system.encoder(bits),
                   noise_variance(ebno_db, system.bits_per_channel_use, str(system.device)))
    logits = system.logits(out)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits, bits)
    return float(r * (1 - bce / math.log(2)))


def coded_train_ebno(system: CodedRate, channel: str) -> tuple[float, float]:
    """Default training range [dB] of ``system``'s symbols (R bits, K per block) under its code:
    from the Eb/N0 where the Gray-QAM start (signal-space diversity for K = 2) reaches a
    bit-metric rate equal to the code's rate R k / n (the BICM threshold, by bisection to 0.1 dB)
    plus 1 to 3 dB: where a code of about a thousand bits with 20 BP iterations has its
    waterfall (64QAM, k=750, n=1500 on AWGN: threshold 4.7 dB, BLER 1e-1 to 1e-3 between 6.5
    and 7.4 dB)."""
    own = getattr(system.config, "transceiver", system.config)  # gan-enc-ldpc's is nested
    config = TransceiverConfig(own.num_bits_per_symbol, spread=own.spread)
    start = AELDPCSystem(system.modulation, config, device=system.device,
                         **system.options.to_dict())
    low, high = -10.0, 40.0
    while high - low > 0.05:
        middle = (low + high) / 2
        if bit_metric_rate(start, channel, middle) < start.bits_per_channel_use:
            low = middle
        else:
            high = middle
    threshold = round((low + high) / 2, 1)
    return round(threshold + 1.0, 1), round(threshold + 3.0, 1)


HELD_OUT_SEED = 987_654
"""Seed of the held-out bits and noise that rank the restarts (never a training seed)."""


def held_out_rate(system: AELDPCSystem, channel: str, train_ebno_db: tuple[float, float],
                  points: int = 5) -> float:
    """Mean bit-metric rate [bits per channel use] at ``points`` Eb/N0 spread evenly over the
    training range, on held-out bits and noise: the training objective, measured afresh."""
    low, high = train_ebno_db
    grid = [low + (high - low) * i / max(1, points - 1) for i in range(points)]
    return sum(bit_metric_rate(system, channel, ebno_db, seed=HELD_OUT_SEED + i)
               for i, ebno_db in enumerate(grid)) / len(grid)


def train_ae_ldpc(system: AELDPCSystem, channel: str, training: AutoencoderTraining,
                  **kwargs) -> pd.DataFrame:
    """Train the codebook ``restarts`` times with
    :func:`~commgan.comm.autoencoder.train_autoencoder` and keep the run of the highest
    :func:`held_out_rate`; without a training range, :func:`coded_train_ebno` sets it
    (recorded in ``training``). Returns the runs' histories (column ``restart``; the kept run
    last, ``seconds`` counted over all runs)."""
    if training.train_ebno_db is None:
        training.train_ebno_db = coded_train_ebno(system, channel)
    log: Callable[[str], None] = kwargs.get("log", lambda message: None)
    restarts = max(1, int(getattr(training, "restarts", 1)))
    log(f"ae-ldpc: {restarts} training run(s) at Eb/N0 {training.train_ebno_db[0]:g}.."
        f"{training.train_ebno_db[1]:g} dB per information bit")
    runs, elapsed = [], 0.0
    for restart in range(restarts):
        run = replace(training, seed=training.seed * restarts + restart)
        history = train_autoencoder(system, channel, run, **kwargs)
        history["seconds"] += elapsed
        elapsed = float(history["seconds"].iloc[-1])
        rate = held_out_rate(system, channel, training.train_ebno_db)
        log(f"ae-ldpc: run {restart + 1}/{restarts} (seed {run.seed}): held-out bit-metric "
            f"rate {rate:.4f} bits per channel use")
        state = {name: value.clone() for name, value in system.state_dict().items()}
        runs.append((rate, restart, history.assign(restart=restart), state))
    best = max(runs, key=lambda item: (item[0], -item[1]))
    system.load_state_dict(best[3])
    histories = [item[2] for item in runs if item is not best] + [best[2]]
    table = pd.concat(histories, ignore_index=True)
    table.loc[table.index[-1], "seconds"] = elapsed
    return table


AE_LDPC = SystemSpec(
    AELDPCSystem, "learned constellation for bit-metric decoding under qam-ldpc's 5G LDPC code "
    "(BICM, exact APP LLRs)",
    learned=LearnedSpec(default_training=default_ae_ldpc_training,
                        architecture=lambda training: training.transceiver,
                        train=train_ae_ldpc),
    options=LDPCOptions)
