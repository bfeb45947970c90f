"""Eavesdroppers trained after the fact, and leakage estimators (the attack suite's learning side).

Kerckhoffs' principle throughout: Eve knows the design and every weight, never the key.

- :func:`train_eve`: a decoder trained from scratch on known-plaintext observations (Eve's
  received signal and CSI with the true message bits), the best of several restarts chosen on a
  validation set (never on the test set).
- :func:`fit_key_stream`: the nonce-reuse attack. When frames share one (key, nonce) they share
  one key stream z; Eve fits z (relaxed to [0, 1]) to known plaintext through Bob's public
  receiver, then reads every other frame under that nonce.
- :func:`dv_lower_bound` (critic-based, Donsker-Varadhan / MINE) and :func:`plugin_leakage`
  (histogram plug-in on a 2-D projection): two estimates of the mutual information between the
  message and the transmitted signal, in bits per message bit.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from channels import ChannelOutput
from commgan.comm.system import System
from commgan.comm.transceiver import Decoder, TransceiverConfig, bits_to_channels
from commgan.gan import frozen
from commgan.rng import seeded_weights

__all__ = [
    "EVE_SIZES",
    "EveTraining",
    "LeakageCritic",
    "Observations",
    "bob_decoder_config",
    "decoder_errors",
    "dv_lower_bound",
    "eve_config",
    "fit_key_stream",
    "make_eve",
    "parameter_count",
    "plugin_leakage",
    "train_eve",
]

EVE_SIZES: dict[str, tuple[int, int]] = {"bob-arch": (1, 1), "large": (2, 2)}
"""Eve decoder sizes as (width, depth) multipliers of Bob's decoder: ``large`` is 2x wider and
2x deeper (about 8x the parameters)."""


@dataclass
class Observations:
    """Frames as Eve (or Bob) sees them: ``bits`` [F, L] float {0, 1} and ``out`` with
    ``y``, ``h`` [F, L/R] complex and ``no`` (scalar tensor)."""

    bits: torch.Tensor
    out: ChannelOutput

    def __len__(self) -> int:
        return self.bits.shape[0]

    def take(self, index: torch.Tensor | slice) -> Observations:
        """A subset of frames."""
        return Observations(self.bits[index], self.out.take(index))

    def batches(self, size: int) -> Iterator[Observations]:
        """Consecutive batches of at most ``size`` frames."""
        for start in range(0, len(self), size):
            yield self.take(slice(start, start + size))


@dataclass
class EveTraining:
    """How an eavesdropping decoder is trained (one restart)."""

    steps: int = 600
    """Adam steps."""
    batch_frames: int = 64
    """Frames per step, drawn with replacement from the known-plaintext set."""
    lr: float = 3e-3
    """Peak learning rate (cosine decay to 5% of it)."""
    eval_every: int = 50
    """Steps between validation checks; the best validated weights are kept."""

    def to_dict(self) -> dict:
        return asdict(self)


def eve_config(bob: TransceiverConfig, size: str) -> TransceiverConfig:
    """Eve's decoder shape: Bob's, scaled by :data:`EVE_SIZES` [size]."""
    width, depth = EVE_SIZES[size]
    return TransceiverConfig(**{**asdict(bob), "hidden": bob.hidden * width,
                                "decoder_layers": bob.decoder_layers * depth})


def parameter_count(module: nn.Module) -> int:
    """Trainable parameters of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _cosine(step: int, steps: int) -> float:
    return 0.05 + 0.95 * 0.5 * (1.0 + math.cos(math.pi * step / max(steps, 1)))


@torch.no_grad()
def decoder_errors(logits_fn: Callable[[ChannelOutput], torch.Tensor], data: Observations,
                   batch_frames: int = 1024) -> torch.Tensor:
    """Bit errors per frame [F] int64 of hard decisions (logit > 0 means 1) on ``data``."""
    errors = [((logits_fn(part.out) > 0).float() != part.bits).sum(-1)
              for part in data.batches(batch_frames)]
    return torch.cat(errors).to(torch.int64)


def train_eve(make_model: Callable[[], nn.Module], train: Observations, val: Observations,
              training: EveTraining, restarts: int, seed: int,
              on_restart: Callable[[int], None] | None = None) -> tuple[nn.Module, dict]:
    """Train ``restarts`` decoders (fresh initialisations) on ``train`` with BCE on the message
    bits; return the one with the lowest validation BER and ``{"best_restart", "val_ber"}``.

    ``make_model()`` builds an untrained decoder mapping a ChannelOutput to logits [B, L].
    """
    best_model, best = None, {"best_restart": -1, "val_ber": math.inf}
    val_bits = val.bits.numel()
    for restart in range(restarts):
        generator = torch.Generator(device="cpu").manual_seed(seed + 104729 * restart)
        with seeded_weights(seed + 7919 * restart):
            model = make_model()
            optimiser = torch.optim.Adam(model.parameters(), lr=training.lr)
            restart_best, restart_state = math.inf, None
            for step in range(1, training.steps + 1):
                model.train()
                for group in optimiser.param_groups:
                    group["lr"] = training.lr * _cosine(step, training.steps)
                index = torch.randint(0, len(train), (training.batch_frames,),
                                      generator=generator)
                batch = train.take(index.to(train.bits.device))
                loss = F.binary_cross_entropy_with_logits(model(batch.out), batch.bits)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                optimiser.step()
                if step % training.eval_every == 0 or step == training.steps:
                    model.eval()
                    ber = float(decoder_errors(model, val).sum()) / val_bits
                    if ber < restart_best:
                        restart_best, restart_state = ber, copy.deepcopy(model.state_dict())
        model.load_state_dict(restart_state)
        model.eval()
        if restart_best < best["val_ber"]:
            best_model, best = model, {"best_restart": restart, "val_ber": restart_best}
        if on_restart is not None:
            on_restart(restart)
    return best_model, best


def fit_key_stream(system: System, known: Observations, steps: int = 300, lr: float = 0.1,
                   batch_frames: int = 256, seed: int = 0) -> torch.Tensor:
    """The two-time-pad attack generalised to a learned link: frames under one repeated nonce
    share one key stream z [L]. Fit logits theta with z = sigmoid(theta) to the known frames
    through Bob's public receiver (``system.bob_logits``) and return the hard estimate [L]."""
    frame_bits = known.bits.shape[-1]
    theta = torch.zeros(frame_bits, device=known.bits.device, requires_grad=True)
    optimiser = torch.optim.Adam([theta], lr=lr)
    generator = torch.Generator(device="cpu").manual_seed(seed)
    system.eval()
    with frozen(system):
        for _ in range(steps):
            index = torch.randint(0, len(known), (min(batch_frames, len(known)),),
                                  generator=generator)
            batch = known.take(index.to(known.bits.device))
            z = torch.sigmoid(theta).expand_as(batch.bits)
            loss = F.binary_cross_entropy_with_logits(system.bob_logits(batch.out, z),
                                                      batch.bits)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    return (theta.detach() > 0).float()


class LeakageCritic(nn.Module):
    """T(m_j, x_{j-w..j+w}): a score per symbol j of the R message bits m_j mapped to symbol j
    against the transmitted symbols around it (window 2w + 1). Input bits [B, L], x [B, L/R];
    output [B, L/R]."""

    def __init__(self, r: int, hidden: int = 64, window: int = 1) -> None:
        super().__init__()
        self.r = r
        self.signal = nn.Conv1d(2, hidden, 2 * window + 1, padding=window)
        self.message = nn.Conv1d(r, hidden, 1)
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Conv1d(hidden, hidden, 1),
                                  nn.LeakyReLU(0.2), nn.Conv1d(hidden, hidden, 1),
                                  nn.LeakyReLU(0.2), nn.Conv1d(hidden, 1, 1))

    def forward(self, bits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        iq = torch.stack([x.real, x.imag], dim=1)
        features = self.signal(iq) + self.message(bits_to_channels(bits, self.r))
        return self.head(features).squeeze(1)


def _mismatched(bits: torch.Tensor, shift: int) -> torch.Tensor:
    """Message bits of other frames (frames rolled by ``shift``): pairs from p(m) p(x)."""
    return torch.roll(bits, shifts=shift, dims=0)


def dv_lower_bound(bits_train: torch.Tensor, x_train: torch.Tensor, bits_test: torch.Tensor,
                   x_test: torch.Tensor, r: int, steps: int = 1500, batch_frames: int = 128,
                   seed: int = 0, bootstrap: int = 200) -> dict[str, float]:
    """Critic-based lower bound on I(m; x) per message bit (Donsker-Varadhan, as in MINE).

    A :class:`LeakageCritic` is trained to tell matched (m, x) frames from mismatched ones
    (logistic loss, so its logit estimates log p(m, x) / p(m) p(x)); on held-out frames
    I(m_j; x_window) >= E_joint[T] - log E_marginal[exp T] (nats), divided by R ln 2. Since the
    m_j are independent, I(m; x) / L >= I(m_j; x_window) / R: a valid (conservative) bound.
    Bits [F, L], x [F, L/R]. Returns ``{"bits": estimate, "ci_low", "ci_high"}`` (bootstrap
    over held-out frames, 95%).
    """
    generator = torch.Generator(device="cpu").manual_seed(seed)
    with seeded_weights(seed):
        critic = LeakageCritic(r).to(x_train.device)
        optimiser = torch.optim.Adam(critic.parameters(), lr=1e-3)
        frames = bits_train.shape[0]
        for _ in range(steps):
            index = torch.randint(0, frames, (min(batch_frames, frames),), generator=generator)
            index = index.to(bits_train.device)
            bits, x = bits_train[index], x_train[index]
            joint, marginal = critic(bits, x), critic(_mismatched(bits, 1), x)
            loss = (F.binary_cross_entropy_with_logits(joint, torch.ones_like(joint))
                    + F.binary_cross_entropy_with_logits(marginal, torch.zeros_like(marginal)))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
    critic.eval()
    with torch.no_grad():
        joint = critic(bits_test, x_test).mean(-1).double()
        marginal = torch.stack([critic(_mismatched(bits_test, s), x_test)
                                for s in (1, 2, 3)]).double()
    scale = 1.0 / (r * math.log(2.0))

    def estimate(rows: torch.Tensor) -> float:
        log_mean_exp = torch.logsumexp(marginal[:, rows].flatten(), 0) - math.log(
            marginal[:, rows].numel())
        return float((joint[rows].mean() - log_mean_exp) * scale)

    every = torch.arange(len(joint))
    rng = torch.Generator(device="cpu").manual_seed(seed + 1)
    draws = [estimate(torch.randint(0, len(joint), (len(joint),), generator=rng))
             for _ in range(bootstrap)]
    low, high = np.quantile(draws, [0.025, 0.975])
    return {"bits": estimate(every), "ci_low": float(low), "ci_high": float(high)}


def _plugin_mi(labels: np.ndarray, cells: np.ndarray, num_labels: int, num_cells: int) -> float:
    """Miller-Madow corrected plug-in mutual information (bits) of two discrete samples."""
    n = len(labels)
    joint = np.bincount(labels * num_cells + cells, minlength=num_labels * num_cells)
    p_joint = joint[joint > 0] / n
    p_label = np.bincount(labels, minlength=num_labels)
    p_cell = np.bincount(cells, minlength=num_cells)
    p_label, p_cell = p_label[p_label > 0] / n, p_cell[p_cell > 0] / n

    def entropy(p: np.ndarray) -> float:
        return float(-(p * np.log2(p)).sum() + (len(p) - 1) / (2 * n * math.log(2)))

    return entropy(p_label) + entropy(p_cell) - entropy(p_joint)


def plugin_leakage(bits: torch.Tensor, x: torch.Tensor, r: int, bins: int = 16,
                   permutations: int = 20, seed: int = 0) -> dict[str, float]:
    """Plug-in estimate of I(m_j; x_j) per message bit on a 2-D projection of the signal.

    Each symbol's R message bits (2^R labels) against its own transmitted symbol x_j quantised
    on a ``bins`` x ``bins`` I/Q grid (the projection), with Miller-Madow bias correction. It
    estimates the information in that projection, not a bound on I(m; x). ``null_bits``: the
    largest estimate over ``permutations`` shuffles of the labels (what independence gives at
    this sample size). Bits [F, L], x [F, L/R].
    """
    weights = 1 << torch.arange(r - 1, -1, -1, device=bits.device)
    labels = (bits.reshape(-1, r).long() * weights).sum(-1).cpu().numpy()
    iq = torch.stack([x.real, x.imag], -1).reshape(-1, 2).cpu().double().numpy()
    edge = float(np.quantile(np.abs(iq), 0.999)) or 1.0
    grid = np.clip(((iq + edge) / (2 * edge) * bins).astype(np.int64), 0, bins - 1)
    cells = grid[:, 0] * bins + grid[:, 1]
    value = _plugin_mi(labels, cells, 1 << r, bins * bins) / r
    rng = np.random.default_rng(seed)
    null = [_plugin_mi(rng.permutation(labels), cells, 1 << r, bins * bins) / r
            for _ in range(permutations)]
    return {"bits": value, "null_bits": float(max(null))}


def bob_decoder_config(system: System) -> TransceiverConfig:
    """Bob's decoder shape (the default CNN decoder for systems without a learned one)."""
    config = getattr(system, "config", None)
    config = getattr(config, "transceiver", config)
    if isinstance(config, TransceiverConfig):
        return config
    return TransceiverConfig(num_bits_per_symbol=system.modulation.num_bits_per_symbol)


def make_eve(system: System, size: str, device: torch.device | str) -> Decoder:
    """An untrained Eve decoder of Bob's architecture scaled by ``size``, without key input."""
    return Decoder(eve_config(bob_decoder_config(system), size)).to(device)
