"""GAN, CGAN and DCGAN models of a channel's p(y | x, c), trained on the shared GAN core.

Seed 003 section 4.2 (after Cheng et al. 2022 and Ye et al. 2020): a generator G learns to
produce the received signal y of a channel from the transmitted symbols x and a condition c,
against a discriminator D that tells true (x, y) pairs from generated ones. The loss is the
survey's equation (2) (the survey writes lb; we use nats),

    min_G max_D V(D, G) = E_y[log D(y | x, c)] + E_n[log(1 - D(G(n | x, c) | x, c))],

optimised as the core's ``nonsaturating`` `GANLoss`: D minimises
L_D = -1/2 (E[log D(y|x,c)] + E[log(1 - D(G(n|x,c)|x,c))]) (eq. (2) times -1/2: the mean of the
real and fake BCE), G minimises L_G = -E[log D(G(n|x,c)|x,c)] (Goodfellow's non-saturating form
of eq. (2), same fixed point). At the equilibrium D = 1/2 both are ln 2.

Data (`BlockSampler`): blocks of ``pilot_symbols`` known pilots (1 + 0j) followed by
``data_symbols`` Gray QAM symbols, sent through a `channels` channel (Rayleigh: one fade per
block) at an Eb/N0 drawn uniformly per block from ``train_ebno_db``. Every model is conditioned
on that Eb/N0 (c); the three differ in what else they see and in their networks:

- ``gan``: MLP G and D per symbol, conditioned only on the symbol x. It can learn the marginal
  p(y | x) but not that the symbols of a block share one fade.
- ``cgan``: MLP G and D per data symbol, conditioned on x and on the block's received pilots
  y_p = h p + n (measured on the true channel), from which the current fade can be inferred.
- ``dcgan``: G and D over the whole block (pilots + data) following the DCGAN guidelines:
  all-convolutional (no pooling, no fully connected hidden layer), batch norm in G and D (none on
  D's input layer), ReLU in G, LeakyReLU(0.2) in D, strided convolutions in D, DCGAN
  initialisation. G's block latent z (one per block, broadcast along time) carries the fade.

Generator output head (``head="affine"``, all three): the last layer gives per symbol a
(complex), s (real) and b (complex) and

    y = a x + sigma(c) (s w + b),    sigma(c) = sqrt(N0) = (R Eb/N0)^(-1/2),

with w ~ CN(0, 1) the per-symbol noise (also an input of the network) and sigma(c) the nominal
noise standard deviation that the Eb/N0 condition c implies (``noise_scale``; without it
sigma = 1). b alone can represent any conditional distribution and sigma(c) > 0 is a fixed
function of the condition, so this reparametrises rather than constrains G; it lets small
networks express a multiplicative fade and Gaussian noise whose power spans the 100x of a
0-20 dB training range. DCGAN gain (``gain``): by default a comes from a branch of G that sees
only the block latent ("latent": one a per block, independent of the symbols and of Eb/N0, as
a block fade is); b still depends on everything, so this too is a reparametrisation. The
alternatives are "pooled" (the block mean of a per-symbol a) and "symbol" (the original
per-symbol a). ``head="plain"`` makes y the network's output. At the DCGAN initialisation
a, s, b ~ 0: every G starts at y ~ 0, far from the channel (power ~1).

Why (measured with a diagnostic of the DCGAN G's head on 20 000-40 000 blocks, seed 0, 1500
iterations; the coherent receiver's BER on generated vs true blocks at 0 / 10 / 20 dB):
per-symbol a, sigma = 1, lr_G = 1e-4: +1% / +17% / +63%. Within a block a varied by 9% of
|mean a|^2 (mean; median 0.6-1.3%), so the pilots' estimate did not match the data symbols'
gain; replacing a by its block mean in the trained G: -0% / +7% / +12%.
Retrained with the pooled a: +1% / +21% / +53%, because the generated fade had the wrong
lower tail (P(|a|^2 < 0.01) = 0.019 vs 0.0093 true; E|a|^2 = 0.74-0.84) and s w + b, unscaled,
had 2.3 N0 of power at 20 dB (b's variance ~0.004-0.008 at every Eb/N0, 1.75 N0 at 20 dB).
sigma(c): noise power 0.95 / 1.01 / 0.97 N0, BER +4% / +14% / +45% (fade tail still wrong);
lr_G = 3e-4 (G's head weights could not grow from DCGAN's N(0, 0.02) to the fade's scale at
1e-4: E|a|^2 = 0.82): +0% / +1% / +26%, the fade right at 10 dB, not at 20 dB (its
distribution depended on c); gain "latent": the fade's CDF matches the true |h|^2 at 0.001-0.1
and the BER is +1% / +4% / -15% (seed 0) and +3% / +6% / -8% (seed 1).

Discriminator input features: besides (y, condition), every D sees z = y / x (`equalised`) and
`referenced_features` of z against a reference of the block's fade: none (GAN), the pilots'
least-squares estimate from its condition (CGAN) or the block mean of z (DCGAN), with log powers
so that deep fades and 20 dB noise are visible; with ``noise_scale`` the CGAN's and DCGAN's D
also see the residual y - ref x in units of sigma(c) (unit power for the true channel at every
Eb/N0). These are fixed, parameter-free changes of coordinates; without them D could not tell
10 dB from 7 dB blocks (README, design decisions). Without the residual, the DCGAN's generated
noise power drifted from 1.13 N0 at 0 dB to 0.79 N0 at 20 dB (BER -15% at 20 dB, seed 0); with
it 1.06 -> 0.94 N0 (seed 0) and 0.96 -> 1.04 N0 (seed 1), BER within 7% of the true one at
0-20 dB (10 000 blocks per point, both seeds).
All three use `AdversarialGAN(mixed_batch=True)`: D's batch norm must see real and generated
samples in one batch, or it normalises a wrong noise power away.

`LearnedChannel` wraps a trained model with the call signature of a true channel,
``link(x [B, n], no) -> ChannelOutput``, so a transceiver can be trained through it; the CSI it
reports is the least-squares estimate from the (generated, or for CGAN measured) pilots.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import pandas as pd
import sionna.phy
import torch
from torch import Tensor, nn

from channels import ChannelOutput, get_channel, get_modulation, noise_variance
from commgan.gan import (
    AdversarialGAN,
    GANTrainer,
    TrainerConfig,
    conv_block,
    dcgan_init_,
    mlp,
)

__all__ = [
    "CHANNEL_MODELS",
    "GAINS",
    "PILOT",
    "BlockDiscriminator",
    "BlockGenerator",
    "BlockSampler",
    "ChannelGAN",
    "ChannelModelConfig",
    "LearnedChannel",
    "SymbolDiscriminator",
    "SymbolGenerator",
    "ebno_condition",
    "estimate_fading",
    "nominal_noise_std",
    "train_channel_model",
]

CHANNEL_MODELS: tuple[str, ...] = ("gan", "cgan", "dcgan")
"""Valid `ChannelModelConfig.model` names."""

PILOT = complex(1.0, 0.0)
"""The known pilot symbol (unit energy)."""

HEADS: tuple[str, ...] = ("affine", "plain")
"""Valid `ChannelModelConfig.head` values (see the module docstring)."""

GAINS: tuple[str, ...] = ("latent", "pooled", "symbol")
"""Valid `ChannelModelConfig.gain` values (see the module docstring)."""


@dataclass
class ChannelModelConfig:
    """One channel model and how it is trained (saved as JSON next to results)."""

    model: str = "dcgan"
    """"gan", "cgan" or "dcgan"."""
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
    """Adam learning rate of D (3.3 times G's: D keeps up with G, see the module docstring)."""
    betas: tuple[float, float] = (0.5, 0.999)
    """Adam betas (DCGAN's)."""
    lr_decay: str = "cosine"
    """Learning-rate schedule over the iterations: "none" or "cosine" (to 1%)."""
    hidden: int = 32
    """Width of the MLPs' hidden layers / base channel count of the DCGAN convolutions."""
    latent: int = 4
    """Latent noise dimensions of G (besides the 2 of the per-symbol noise w)."""
    head: str = "affine"
    """G's output head: "affine" (y = a x + s w + b) or "plain" (y = network output)."""
    noise_scale: bool = True
    """Affine head: s w + b in units of the nominal noise std sqrt(N0) of the Eb/N0 condition
    (see the module docstring)."""
    gain: str = "latent"
    """DCGAN, affine head: where the gain a comes from: "latent" (one per block, from the block
    latent alone), "pooled" (G's per-symbol a averaged over the block) or "symbol" (one per
    symbol); see the module docstring."""
    seed: int = 0
    """Seed of weights, samples, fades and noise."""

    def __post_init__(self) -> None:
        if self.model not in CHANNEL_MODELS:
            raise ValueError(f"unknown channel model {self.model!r}; "
                             f"valid: {', '.join(CHANNEL_MODELS)}")
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r}; valid: {', '.join(HEADS)}")
        if self.gain not in GAINS:
            raise ValueError(f"unknown gain {self.gain!r}; valid: {', '.join(GAINS)}")
        get_modulation(self.mod)
        get_channel(self.channel)
        if self.data_symbols < 1 or self.pilot_symbols < 1:
            raise ValueError("a block needs at least one data symbol and one pilot")
        if self.model == "dcgan" and self.block_length % 4:
            raise ValueError(f"dcgan needs a block length (pilots + data) that is a multiple "
                             f"of 4, got {self.block_length}")
        for name in ("batch_blocks", "hidden", "latent"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        low, high = self.train_ebno_db
        if low > high:
            raise ValueError(f"train_ebno_db must be (low, high) with low <= high, got "
                             f"{self.train_ebno_db}")
        self.train_ebno_db = (float(low), float(high))
        self.betas = (float(self.betas[0]), float(self.betas[1]))

    @property
    def block_length(self) -> int:
        """T: symbols per block, pilots included."""
        return self.pilot_symbols + self.data_symbols

    @property
    def num_bits_per_symbol(self) -> int:
        """R of the modulation."""
        return get_modulation(self.mod).num_bits_per_symbol

    def to_dict(self) -> dict:
        data = asdict(self)
        data["train_ebno_db"] = list(self.train_ebno_db)
        data["betas"] = list(self.betas)
        return data


def ebno_condition(ebno_db: Tensor) -> Tensor:
    """The Eb/N0 condition fed to G and D: (Eb/N0 [dB] - 10) / 10, same shape."""
    return (ebno_db - 10.0) / 10.0


def estimate_fading(y_pilots: Tensor, pilots: Tensor) -> Tensor:
    """Least-squares fade estimate from a block's pilots.

    y_pilots: [B, P] complex received pilots; pilots: [P] complex sent pilots.
    Returns [B, 1] complex: sum(y_p conj(p)) / sum(|p|^2).
    """
    return ((y_pilots * pilots.conj()).sum(-1, keepdim=True)
            / pilots.abs().square().sum())


class BlockSampler:
    """Blocks from the true channel: [pilots, data] with one fade per block (Rayleigh).

    Draws from torch's global RNG (symbols, Eb/N0) and Sionna's (fades, noise); seed both.
    """

    def __init__(self, config: ChannelModelConfig, device: str | torch.device = "cpu") -> None:
        self.config = config
        self.device = torch.device(device)
        spec = get_modulation(config.mod)
        self.points = spec.constellation(device=str(self.device))().to(torch.complex64)
        self.rate = spec.num_bits_per_symbol
        self.link = get_channel(config.channel, device=str(self.device))
        self.pilots = torch.full((config.pilot_symbols,), PILOT, dtype=torch.complex64,
                                 device=self.device)

    def symbols(self, batch_blocks: int) -> Tensor:
        """Uniform random data-symbol indices [B, data_symbols] int64."""
        return torch.randint(0, len(self.points), (batch_blocks, self.config.data_symbols),
                             device=self.device)

    def blocks(self, index: Tensor) -> Tensor:
        """Transmitted blocks [B, T] complex from data indices [B, n]: pilots then data."""
        pilots = self.pilots.expand(index.shape[0], -1)
        return torch.cat([pilots, self.points[index]], dim=1)

    def ebno(self, batch_blocks: int, ebno_db: float | None = None) -> Tensor:
        """Eb/N0 per block [B, 1] in dB: ``ebno_db``, or uniform in the training range."""
        if ebno_db is not None:
            return torch.full((batch_blocks, 1), float(ebno_db), device=self.device)
        low, high = self.config.train_ebno_db
        return torch.empty(batch_blocks, 1, device=self.device).uniform_(low, high)

    def transmit(self, x: Tensor, ebno_db: Tensor) -> Tensor:
        """True channel output y [B, T] complex for blocks x [B, T] at Eb/N0 [B, 1] dB."""
        no = noise_variance(ebno_db, self.rate, device=str(self.device))
        return self.link(x, no).y

    def draw(self, batch_blocks: int, ebno_db: float | None = None) -> dict[str, Tensor]:
        """One batch: ``index`` [B, n], ``x`` and ``y`` [B, T] complex, ``ebno_db`` [B, 1]."""
        index = self.symbols(batch_blocks)
        x = self.blocks(index)
        ebno = self.ebno(batch_blocks, ebno_db)
        return {"index": index, "x": x, "y": self.transmit(x, ebno), "ebno_db": ebno}


def _iq(z: Tensor, dim: int = -1) -> Tensor:
    """Complex [...] -> real [..., 2] (dim=-1) or [B, 2, T] (dim=1 for [B, T])."""
    return torch.stack([z.real, z.imag], dim=dim)


def _complex(t: Tensor, dim: int) -> Tensor:
    """Inverse of `_iq`: the two entries of ``dim`` as real and imaginary parts."""
    return torch.complex(t.select(dim, 0), t.select(dim, 1))


def _head_width(head: str) -> int:
    return 5 if head == "affine" else 2


def nominal_noise_std(condition: Tensor, rate: float) -> Tensor:
    """sqrt(N0) = (R Eb/N0)^(-1/2) for an `ebno_condition` c (Eb/N0 = 10 c + 10 dB), same shape."""
    return torch.pow(10.0, -(condition + 1.0) / 2.0) / math.sqrt(rate)


def _apply_head(out: Tensor, x: Tensor, w: Tensor, head: str, dim: int,
                scale: Tensor | None = None) -> Tensor:
    """Network output -> y (complex). out: [..., 5 or 2] (dim=-1) or [B, 5 or 2, T] (dim=1);
    x, w: complex, out's shape without ``dim``; scale: None or the nominal noise std (x's
    shape) that multiplies s w + b."""
    if head == "plain":
        return _complex(out, dim)
    a = torch.complex(out.select(dim, 0), out.select(dim, 1))
    b = torch.complex(out.select(dim, 3), out.select(dim, 4))
    if scale is None:
        return a * x + out.select(dim, 2) * w + b
    return a * x + scale * (out.select(dim, 2) * w + b)


MIN_SYMBOL_POWER = 0.05
"""Floor of |x|^2 in `equalised` (16QAM's smallest is 0.2; a learned constellation may put a
point near 0)."""


def equalised(y: Tensor, x: Tensor) -> Tensor:
    """D's extra input feature: y seen from the symbol, z = y conj(x) / max(|x|^2, 0.05).

    y, x: complex, same shape. For a channel y = h x + n, z = h + n / x: the coordinates in
    which symbols of one fading block agree. A fixed change of coordinates (no parameters) given
    to every discriminator; measured before it was added: a DCGAN D fed only (y, x) could not
    tell 10 dB blocks from 7 dB blocks after 1000 steps (accuracy 0.50), with z it reached 0.73
    after 400 steps.
    """
    return y * x.conj() / x.abs().square().clamp_min(MIN_SYMBOL_POWER)


def _log_power(z: Tensor) -> Tensor:
    """log10(|z|^2 + 1e-6): fade depths and noise powers in bels (dB / 10)."""
    return torch.log10(z.abs().square() + 1e-6)


def referenced_features(z: Tensor, reference: Tensor, dim: int) -> Tensor:
    """D's per-symbol view of z against a reference (the block's fade as seen from the sample):
    [z, ref, z - ref] as I/Q pairs and log10 of |ref|^2 and |z - ref|^2: 8 features along
    ``dim`` (dim=1: [B, T] -> [B, 8, T], or [N] -> [N, 8]). z, reference: complex, same shape."""
    deviation = z - reference
    parts = [_iq(z, dim), _iq(reference, dim), _iq(deviation, dim),
             _log_power(reference).unsqueeze(dim), _log_power(deviation).unsqueeze(dim)]
    return torch.cat(parts, dim=dim)


class SymbolGenerator(nn.Module):
    """MLP G per symbol (GAN, CGAN): (noise [N, latent + 2], condition [N, C]) -> y [N, 2].

    condition: [Re x, Im x, Eb/N0 condition, (CGAN) received pilots as I/Q pairs]; the last two
    noise entries are the per-symbol noise w (times 1/sqrt 2 for CN(0, 1)). Hidden layers keep
    torch's default initialisation (DCGAN's N(0, 0.02) suits networks with batch norm; in this
    plain MLP it shrinks activations ~10x per layer and G barely learned); the output layer is
    DCGAN-initialised, so G starts at y ~ 0 like the DCGAN generator.
    """

    def __init__(self, condition_dim: int, latent: int, hidden: int, head: str,
                 rate: float | None = None) -> None:
        super().__init__()
        self.latent, self.head, self.rate = latent, head, rate
        self.net = mlp(latent + 2 + condition_dim, [hidden, hidden, hidden], _head_width(head))
        dcgan_init_(self.net[-1])

    def sample_noise(self, condition: Tensor) -> Tensor:
        """N(0, I) noise [N, latent + 2] for conditions [N, C]."""
        return torch.randn(condition.shape[0], self.latent + 2, device=condition.device)

    def forward(self, noise: Tensor, condition: Tensor) -> Tensor:
        out = self.net(torch.cat([noise, condition], dim=1))
        x = torch.complex(condition[:, 0], condition[:, 1])
        w = torch.complex(noise[:, -2], noise[:, -1]) / math.sqrt(2.0)
        scale = None if self.rate is None else nominal_noise_std(condition[:, 2], self.rate)
        return _iq(_apply_head(out, x, w, self.head, dim=1, scale=scale))


class SymbolDiscriminator(nn.Module):
    """MLP D per symbol: (y [N, 2], condition [N, C]) -> logits [N].

    Input per symbol: y, `referenced_features` of z = y / x against the pilots' estimate (CGAN)
    or against 0 (GAN), and the condition (x first). Torch's default initialisation. rate: as
    in `BlockDiscriminator` (with pilots only): the residual y - ref x in units of
    `nominal_noise_std` as 2 more inputs.
    """

    def __init__(self, condition_dim: int, hidden: int, pilots: int = 0,
                 rate: float | None = None) -> None:
        super().__init__()
        self.pilots = pilots
        self.rate = rate if pilots else None
        extra = 2 if self.rate else 0
        self.net = mlp(2 + 8 + extra + condition_dim, [hidden, hidden, hidden], 1)

    def forward(self, y: Tensor, condition: Tensor) -> Tensor:
        output = torch.complex(y[:, 0], y[:, 1])
        x = torch.complex(condition[:, 0], condition[:, 1])
        z = equalised(output, x)
        if self.pilots:
            received = condition[:, 3:3 + 2 * self.pilots].reshape(-1, self.pilots, 2)
            reference = torch.complex(received[..., 0], received[..., 1]).mean(dim=1) / PILOT
        else:
            reference = torch.zeros_like(z)
        parts = [y, referenced_features(z, reference, dim=1), condition]
        if self.rate:
            residual = (output - reference * x) / nominal_noise_std(condition[:, 2], self.rate)
            parts.insert(2, _iq(residual))
        return self.net(torch.cat(parts, dim=1)).squeeze(1)


class BlockGenerator(nn.Module):
    """DCGAN G over a block: (noise [B, latent + 2, T], condition [B, 3, T]) -> y [B, 2, T].

    condition channels: Re x, Im x, Eb/N0 condition. Noise channels 0..latent-1 are the block
    latent z (constant along time), the last two the per-symbol noise w. All-convolutional
    (no pooling, no fully connected layer), batch norm and ReLU after every hidden convolution:
    a 1x1 conv, ``layers - 2`` convs of kernel 3 along the block (a symbol sees its neighbours),
    a 1x1 conv, and a 1x1 conv to the head. Any block length works.

    gain (affine head): "latent" (default) takes the gain a from a separate branch of 1x1
    convs (batch norm, ReLU) on the block latent z alone, one a per block; "pooled" averages the
    main network's per-symbol a over the block; "symbol" keeps one a per symbol. rate: R of
    the modulation; when given, s w + b is scaled by `nominal_noise_std` (see the module
    docstring).
    """

    def __init__(self, latent: int, hidden: int, head: str, layers: int = 4,
                 gain: str = "latent", rate: float | None = None) -> None:
        super().__init__()
        self.latent, self.head, self.rate = latent, head, rate
        self.gain = gain if head == "affine" else "symbol"
        blocks: list[nn.Module] = [conv_block(1, latent + 2 + 3, hidden, 1, activation="relu")]
        blocks += [conv_block(1, hidden, hidden, 3, padding=1, activation="relu")
                   for _ in range(layers - 2)]
        width = _head_width(head) - (2 if self.gain == "latent" else 0)
        blocks += [conv_block(1, hidden, hidden, 1, activation="relu"),
                   nn.Conv1d(hidden, width, 1)]
        self.net = nn.Sequential(*blocks)
        self.fade: nn.Module | None = None
        if self.gain == "latent":  # a = f(z): 1x1 convs on the block latent alone
            self.fade = nn.Sequential(
                conv_block(1, latent, hidden, 1, activation="relu"),
                conv_block(1, hidden, hidden, 1, activation="relu"),
                nn.Conv1d(hidden, 2, 1))
        dcgan_init_(self)

    def sample_noise(self, condition: Tensor) -> Tensor:
        """Noise [B, latent + 2, T]: z ~ N(0, I) per block (repeated along time), w per symbol."""
        batch, _, length = condition.shape
        z = torch.randn(batch, self.latent, 1, device=condition.device).expand(-1, -1, length)
        w = torch.randn(batch, 2, length, device=condition.device)
        return torch.cat([z, w], dim=1)

    def head_output(self, noise: Tensor, condition: Tensor) -> Tensor:
        """The head's input [B, 5, T] (affine: Re a, Im a, s, Re b, Im b, before the noise scale;
        the gain taken per `gain`) or [B, 2, T] (plain: y)."""
        out = self.net(torch.cat([noise, condition], dim=1))
        if self.fade is not None:  # one gain per block from its latent (constant along time)
            gain = self.fade(noise[:, :self.latent, :1]).expand(-1, -1, out.shape[-1])
            out = torch.cat([gain, out], dim=1)
        elif self.gain == "pooled":  # one gain per block: the block mean of G's a
            gain = out[:, :2].mean(dim=-1, keepdim=True).expand(-1, -1, out.shape[-1])
            out = torch.cat([gain, out[:, 2:]], dim=1)
        return out

    def forward(self, noise: Tensor, condition: Tensor) -> Tensor:
        w_iq = noise[:, self.latent:]
        out = self.head_output(noise, condition)
        x = torch.complex(condition[:, 0], condition[:, 1])
        w = torch.complex(w_iq[:, 0], w_iq[:, 1]) / math.sqrt(2.0)
        scale = None if self.rate is None else nominal_noise_std(condition[:, 2], self.rate)
        return _iq(_apply_head(out, x, w, self.head, dim=1, scale=scale), dim=1)


class BlockDiscriminator(nn.Module):
    """DCGAN D over a block (PatchGAN output): (y [B, 2, T], condition [B, 3, T]) -> logits
    [B, T / 4], one per 4-symbol patch (receptive field 10 symbols; the block-mean features
    below carry the whole block).

    Input per symbol (13 channels): y, `referenced_features` of the `equalised` z = y / x
    against the block mean of z (global average pooling: each symbol is compared with the
    whole block), x and Eb/N0. A 1x1 conv (no norm, as DCGAN's input layer; LeakyReLU(0.2)),
    two strided convs (kernel 4, stride 2, batch norm, LeakyReLU(0.2)), a 1x1 conv to the
    logits. The block mean was added after measuring: without it, the D could not tell 10 dB
    from 8.5 dB blocks of the true channel after 400 supervised steps (accuracy 0.53), with it
    0.68 (before the log-power features were added).

    rate: R of the modulation; when given, 2 more channels: the residual y - ref x around the
    block's fade reference in units of `nominal_noise_std` (I/Q), so that the noise of every
    Eb/N0 is seen on one scale (the raw features span 100x in power over 0-20 dB).
    """

    def __init__(self, block_length: int, hidden: int, rate: float | None = None) -> None:
        super().__init__()
        if block_length % 4:
            raise ValueError(f"block length {block_length} is not a multiple of 4")
        self.rate = rate
        self.net = nn.Sequential(
            conv_block(1, 13 + (2 if rate else 0), hidden, 1, norm="none", activation="leaky"),
            conv_block(1, hidden, 2 * hidden, 4, 2, 1, activation="leaky"),
            conv_block(1, 2 * hidden, 4 * hidden, 4, 2, 1, activation="leaky"),
            nn.Conv1d(4 * hidden, 1, 1),
        )
        dcgan_init_(self)

    def features(self, y: Tensor, condition: Tensor) -> Tensor:
        """The input of the network [B, 13 or 15, T] (see the class docstring)."""
        received, x = _complex(y, 1), _complex(condition, 1)
        z = equalised(received, x)
        reference = z.mean(dim=-1, keepdim=True).expand_as(z)
        parts = [y, referenced_features(z, reference, dim=1), condition]
        if self.rate:
            residual = (received - reference * x) / nominal_noise_std(condition[:, 2], self.rate)
            parts.append(_iq(residual, dim=1))
        return torch.cat(parts, dim=1)

    def forward(self, y: Tensor, condition: Tensor) -> Tensor:
        return self.net(self.features(y, condition)).flatten(1)


class ChannelGAN(AdversarialGAN):
    """One channel model (GAN, CGAN or DCGAN) as a `GANProblem` of the shared core.

    ``next_batch()`` draws blocks from the true channel and lays them out for the model
    (``as_training_batch``); `sample` generates channel outputs for given blocks.
    """

    def __init__(self, config: ChannelModelConfig, device: str | torch.device = "cpu") -> None:
        self.config = config
        self.sampler_blocks = BlockSampler(config, device)
        rate = config.num_bits_per_symbol if config.noise_scale else None
        if config.model == "dcgan":
            generator: nn.Module = BlockGenerator(config.latent, config.hidden, config.head,
                                                  gain=config.gain, rate=rate)
            discriminator: nn.Module = BlockDiscriminator(config.block_length, config.hidden,
                                                          rate)
        else:
            condition_dim = 3 + (2 * config.pilot_symbols if config.model == "cgan" else 0)
            generator = SymbolGenerator(condition_dim, config.latent, config.hidden, config.head,
                                        rate)
            discriminator = SymbolDiscriminator(
                condition_dim, config.hidden,
                config.pilot_symbols if config.model == "cgan" else 0, rate)
        super().__init__(generator.to(device), discriminator.to(device), "nonsaturating",
                         mixed_batch=True,
                         sampler=lambda: self.as_training_batch(
                             self.sampler_blocks.draw(config.batch_blocks)))

    @property
    def name(self) -> str:
        return self.config.model

    def generate(self, batch_size: int, condition=None, device="cpu") -> Tensor:
        """G(n | c) for a condition laid out as `as_training_batch` does."""
        return self.generator(self.generator.sample_noise(condition), condition)

    def condition(self, x: Tensor, ebno_db: Tensor, y_pilots: Tensor | None = None) -> Tensor:
        """G's and D's condition for blocks x [B, T] at Eb/N0 [B, 1] dB.

        gan: [B*T, 3] per symbol; cgan: [B*n, 3 + 2P] per data symbol (needs the received pilots
        y_pilots [B, P]); dcgan: [B, 3, T].
        """
        cfg = self.config
        c = ebno_condition(ebno_db)
        if cfg.model == "dcgan":
            return torch.cat([_iq(x, dim=1), c[:, :, None].expand(-1, 1, x.shape[1])], dim=1)
        if cfg.model == "gan":
            return torch.cat([_iq(x.reshape(-1)), c.expand(-1, x.shape[1]).reshape(-1, 1)], 1)
        if y_pilots is None:
            raise ValueError("the CGAN is conditioned on the received pilots: pass y_pilots")
        data = x[:, cfg.pilot_symbols:]
        n = data.shape[1]
        pilots = _iq(y_pilots).flatten(1)[:, None, :].expand(-1, n, -1)
        return torch.cat([_iq(data.reshape(-1)), c.expand(-1, n).reshape(-1, 1),
                          pilots.reshape(data.numel(), -1)], dim=1)

    def as_training_batch(self, blocks: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """(real, condition) for the trainer from a `BlockSampler.draw` batch."""
        cfg = self.config
        x, y = blocks["x"], blocks["y"]
        condition = self.condition(x, blocks["ebno_db"], y[:, :cfg.pilot_symbols])
        if cfg.model == "dcgan":
            return _iq(y, dim=1), condition
        if cfg.model == "gan":
            return _iq(y.reshape(-1)), condition
        return _iq(y[:, cfg.pilot_symbols:].reshape(-1)), condition

    @torch.no_grad()
    def sample(self, x: Tensor, ebno_db: Tensor, y_pilots: Tensor | None = None) -> Tensor:
        """Generated channel outputs y [B, T] complex for blocks x [B, T] at Eb/N0 [B, 1] dB.

        The CGAN generates the data symbols and returns ``y_pilots`` (the received pilots it is
        conditioned on, [B, P]) in the pilot positions. Uses G in eval mode (batch-norm
        running statistics) and restores its mode.
        """
        return self.differentiable_sample(x, ebno_db, y_pilots)

    def differentiable_sample(self, x: Tensor, ebno_db: Tensor,
                              y_pilots: Tensor | None = None) -> Tensor:
        """As `sample`, but gradients flow to x (G's parameters are not touched)."""
        cfg = self.config
        was_training = self.generator.training
        self.generator.eval()
        try:
            condition = self.condition(x, ebno_db, y_pilots)
            fake = self.generate(0, condition)
        finally:
            self.generator.train(was_training)
        if cfg.model == "dcgan":
            return _complex(fake, 1)
        y = _complex(fake, 1)
        if cfg.model == "gan":
            return y.reshape(x.shape)
        return torch.cat([y_pilots, y.reshape(x.shape[0], -1)], dim=1)


def train_channel_model(
    config: ChannelModelConfig,
    *,
    device: str = "cpu",
    progress: bool = False,
    name: str | None = None,
    on_trainer: Callable[[GANTrainer], None] | None = None,
) -> tuple[ChannelGAN, pd.DataFrame]:
    """Train one channel model from ``config`` (seeded by ``config.seed``).

    Returns (model, history): the history has one row per iteration (iteration, loss_d, loss_g,
    d_real, d_fake, g_adv, seconds). Raises `commgan.gan.GANDivergenceError` on a NaN/inf loss
    (its ``history`` holds the iterations before it). ``on_trainer`` receives the trainer before
    training starts (e.g. to keep a reference for partial results).
    """
    torch.manual_seed(config.seed)
    sionna.phy.config.seed = config.seed
    model = ChannelGAN(config, device)
    trainer_config = TrainerConfig(
        iterations=config.iterations, n_critic=config.n_critic, lr_g=config.lr_g,
        lr_d=config.lr_d, betas=config.betas,
        lr_decay=config.lr_decay, device=device, seed=config.seed, progress=progress, log_every=0,
        checkpoint_every=max(1, min(100, config.iterations)),
        name=name or f"{config.model} seed {config.seed}",
    )
    model.generator.train()
    model.discriminator.train()
    trainer = GANTrainer(model, trainer_config)
    if on_trainer is not None:
        on_trainer(trainer)
    history = trainer.fit()
    model.generator.eval()
    model.discriminator.eval()
    return model, history


class LearnedChannel(nn.Module):
    """A trained channel model behind a true channel's call signature.

    ``forward(x [B, n], no) -> ChannelOutput``: the n symbols of each row are cut into blocks of
    ``data_symbols`` (n must be a multiple), pilots are put in front of each block, the model
    generates y, and the reported CSI h [B, n] is the least-squares estimate from each block's
    pilots (generated ones; for the CGAN the pilots go through ``pilot_link``, the true channel,
    as measured pilots would). ``no``: scalar or [B, 1] noise variance, turned into the Eb/N0
    condition with R of the model's modulation. Gradients flow to x; G is a frozen copy.
    """

    def __init__(self, model: ChannelGAN, pilot_link: nn.Module | None = None) -> None:
        super().__init__()
        self.config = model.config
        self.model = copy.copy(model)
        self.model.generator = copy.deepcopy(model.generator).eval().requires_grad_(False)
        self.model.discriminator = None
        self.sampler = model.sampler_blocks
        self.pilot_link = pilot_link if pilot_link is not None else self.sampler.link
        self.rate = self.config.num_bits_per_symbol

    def forward(self, x: Tensor, no: float | Tensor) -> ChannelOutput:
        cfg = self.config
        batch, n = x.shape
        if n % cfg.data_symbols:
            raise ValueError(f"the learned channel takes blocks of {cfg.data_symbols} symbols; "
                             f"{n} is not a multiple")
        blocks = n // cfg.data_symbols
        no = torch.as_tensor(no, dtype=torch.float32, device=x.device)
        no_rows = no.reshape(-1, 1).expand(batch, 1)
        ebno_db = 10.0 * torch.log10(1.0 / (self.rate * no_rows))
        ebno_blocks = ebno_db.repeat_interleave(blocks, dim=0)
        data = x.reshape(batch * blocks, cfg.data_symbols)
        pilots = self.sampler.pilots.expand(data.shape[0], -1)
        tx = torch.cat([pilots, data], dim=1)
        y_pilots = None
        if cfg.model == "cgan":
            no_blocks = no_rows.repeat_interleave(blocks, dim=0)
            y_pilots = self.pilot_link(pilots, no_blocks).y
        y = self.model.differentiable_sample(tx, ebno_blocks, y_pilots)
        h = estimate_fading(y[:, :cfg.pilot_symbols], self.sampler.pilots)
        h = h.expand(-1, cfg.data_symbols).reshape(batch, n)
        return ChannelOutput(y=y[:, cfg.pilot_symbols:].reshape(batch, n), h=h, no=no)
