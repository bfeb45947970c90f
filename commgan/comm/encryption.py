"""DCGAN-encrypted links: ``gan-enc`` (key stream on the bits) and ``gan-enc-naive`` (key latent).

``gan-enc`` (seed 003 section 3.2, DESIGN section 3): the ChaCha20 key stream z of the frame's
nonce acts on the message bits by XOR, v = m XOR z, so v is uniform whatever the message. A
DCGAN-style 1-D generator G(v) (convolutions, batch norm, ReLU; a residual around Gray QAM)
maps v to unit-energy symbols. Bob estimates v's bit logits from (y, h), flips their signs where
z = 1 (logit of m = logit of v times (1 - 2z)) and decides. Eve has no z: an eavesdropping
decoder trained in the loop sees only v's image, which carries no information about m.

``gan-enc-naive``: the usual neural-cryptography construction, kept as a reference the attack
suite must break: the same key-stream bits (one per message bit, as R extra input channels per
symbol) are concatenated to G's input and to Bob's, and the CNN mixes them with the message
continuously; Alice/Bob are trained against the in-loop Eve with Abadi & Andersen's loss.
Nothing forces its signal to be independent of the message.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from channels import ChannelOutput, ModulationSpec
from commgan.comm.spreading import BlockDemapper, learned_receiver_csi
from commgan.comm.system import System
from commgan.comm.transceiver import (
    Decoder,
    Encoder,
    TransceiverConfig,
    bits_to_channels,
    conv_forward,
    conv_stack,
)

__all__ = [
    "CovertnessCritic",
    "GanEncConfig",
    "GanEncNaiveSystem",
    "GanEncSystem",
    "IndependenceCritic",
    "flip_logits",
]


def generator_config(r: int, qam_skip: bool = True, spread: int = 1) -> TransceiverConfig:
    """The DCGAN generator: batch norm, ReLU, kernel 3 (a symbol sees its neighbours' bits); a
    spreading generator (``spread`` > 1 symbols per block) maps each block on its own
    (kernel 1) and Bob demaps its codebook exactly."""
    return TransceiverConfig(num_bits_per_symbol=r, hidden=64, encoder_layers=3,
                             decoder_layers=4, kernel_size=3 if spread == 1 else 1, norm="batch",
                             activation="relu", qam_skip=qam_skip, spread=spread)


@dataclass
class GanEncConfig:
    """Architecture of an encrypted link (saved in its checkpoint)."""

    transceiver: TransceiverConfig = field(default_factory=lambda: generator_config(4))
    """Generator (Alice) and decoders (Bob, Eve) shapes; the generator uses norm/activation."""
    critic_hidden: int = 32
    """Channels of the two critics."""

    def to_dict(self) -> dict:
        return asdict(self)


def flip_logits(logits: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Remove the key stream from bit logits: m = v XOR z  =>  logit(m) = logit(v) * (1 - 2z)."""
    return logits * (1.0 - 2.0 * z.to(logits.dtype))


def signal_channels(x: torch.Tensor) -> torch.Tensor:
    """Complex symbols [B, n] -> real features [B, 2, n] (I, Q)."""
    return torch.stack([x.real, x.imag], dim=1)


class IndependenceCritic(nn.Module):
    """T(m, s): logit that message bits m [B, L] and signal s [B, L/R] belong together."""

    def __init__(self, r: int, hidden: int) -> None:
        super().__init__()
        config = TransceiverConfig(num_bits_per_symbol=r, hidden=hidden, kernel_size=3,
                                   norm="spectral", activation="leaky")
        self.r = r
        self.net = conv_stack(r + 2, 1, config, 3)

    def forward(self, bits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        features = torch.cat([bits_to_channels(bits, self.r), signal_channels(x)], dim=1)
        return conv_forward(self.net, features).mean(dim=(1, 2))


class CovertnessCritic(nn.Module):
    """C(s): logit that a signal [B, n] is complex Gaussian noise CN(0, 1) rather than a link."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        config = TransceiverConfig(hidden=hidden, kernel_size=3, norm="spectral",
                                   activation="leaky")
        self.net = conv_stack(2, 1, config, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return conv_forward(self.net, signal_channels(x)).mean(dim=(1, 2))


class _EncryptedSystem(System):
    """Shared parts: generator, Bob, in-loop Eve, critics, the key stream as tensors."""

    keyed = True

    def __init__(self, modulation: ModulationSpec, config: GanEncConfig | None = None,
                 key: bytes | None = None, device=None, key_channels: int = 0) -> None:
        super().__init__(modulation, key=key, device=device)
        r = modulation.num_bits_per_symbol
        self.config = config or GanEncConfig(transceiver=generator_config(r))
        if self.config.transceiver.num_bits_per_symbol != r:
            raise ValueError("generator R differs from the modulation's bits per symbol")
        if key_channels and self.config.transceiver.spread > 1:
            raise ValueError("a generator with a per-symbol key input cannot spread blocks")
        self.key_channels = key_channels
        self.generator = Encoder(self.config.transceiver, extra_channels=key_channels)
        spread = self.config.transceiver.spread
        self.bob = (BlockDemapper(r, spread) if spread > 1
                    else Decoder(self.config.transceiver, extra_channels=key_channels))
        self.eve = Decoder(self.config.transceiver)
        self.independence_critic = IndependenceCritic(r, self.config.critic_hidden)
        self.covertness_critic = CovertnessCritic(self.config.critic_hidden)
        self.to(self.device)

    def key_bits(self, nonces, num_bits: int, encrypt: bool, key: bytes | None = None
                 ) -> torch.Tensor:
        """Key-stream bits [B, num_bits] float of the frames' nonces (Alice's or ``key``'s)."""
        if nonces is None:
            raise ValueError(f"system {self.name!r} needs one nonce per frame")
        stream = self.keystream_for(key)
        fn = stream.encryption_bits if encrypt and key is None else stream.decryption_bits
        return torch.from_numpy(fn(nonces, num_bits)).to(self.device, torch.float32)

    def init_args(self) -> dict:
        return {"config": self.config, "key_channels": self.key_channels}

    @property
    def frame_multiple(self) -> int:
        """Whole blocks: K*R bits."""
        return self.modulation.num_bits_per_symbol * self.config.transceiver.spread

    def generator_inputs(self, bits: torch.Tensor, z: torch.Tensor
                         ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What G sees of message bits [B, L] and key-stream bits z [B, L] (float, {0, 1})."""
        raise NotImplementedError

    def transmit(self, bits, nonces=None):
        z = self.key_bits(nonces, bits.shape[-1], encrypt=True)
        return self.generator(*self.generator_inputs(bits, z))

    def eve_logits(self, out: ChannelOutput) -> torch.Tensor:
        """The in-loop eavesdropper's message-bit logits [B, L]."""
        return self.eve(out)

    def eavesdrop(self, out):
        return (self.eve_logits(out) > 0).float()


class GanEncSystem(_EncryptedSystem):
    """``gan-enc``: v = m XOR z, x = G(v); Bob flips v's logits by z (see the module docstring)."""

    name = "gan-enc"

    def generator_inputs(self, bits, z):
        """(v = m XOR z, no condition): G never sees the key or the message alone."""
        return torch.remainder(bits + z, 2.0), None

    def modulate(self, v: torch.Tensor) -> torch.Tensor:
        """G: the encrypted bits v [B, L] -> symbols [B, L/R] (no key involved)."""
        return self.generator(v)

    def cipher_logits(self, out: ChannelOutput) -> torch.Tensor:
        """Bob's logits [B, n R] of G's input bits v (no key involved: public). With
        pilot-based CSI: :func:`~commgan.comm.spreading.learned_receiver_csi` (EM over G's
        alphabet for a per-symbol G: v is uniform whatever the message)."""
        out = learned_receiver_csi(out, self.generator.alphabet,
                                   self.config.transceiver.spread)
        if self.config.transceiver.spread > 1:
            return self.bob(out, self.generator.codebook())
        return self.bob(out)

    def bob_logits(self, out: ChannelOutput, z: torch.Tensor) -> torch.Tensor:
        """Bob's message-bit logits [B, L] given the key-stream bits z [B, L]: the logits of
        v flipped where z = 1."""
        return flip_logits(self.cipher_logits(out), z)

    def receive(self, out, nonces=None, key=None):
        z = self.key_bits(nonces, out.y.shape[-1] * self.modulation.num_bits_per_symbol,
                          encrypt=False, key=key)
        return (self.bob_logits(out, z) > 0).float()


class GanEncNaiveSystem(_EncryptedSystem):
    """``gan-enc-naive``: x = G(m, z), Bob = D(y, h, z): key bits mixed in by the CNN."""

    name = "gan-enc-naive"

    def __init__(self, modulation, config=None, key=None, device=None) -> None:
        super().__init__(modulation, config, key=key, device=device,
                         key_channels=modulation.num_bits_per_symbol)

    def init_args(self) -> dict:
        return {"config": self.config}

    def key_features(self, z: torch.Tensor) -> torch.Tensor:
        """Key-stream bits [B, L] -> +-1 features [B, R, L/R] aligned with the symbols."""
        return bits_to_channels(z, self.modulation.num_bits_per_symbol)

    def generator_inputs(self, bits, z):
        """(m, +-1 key features): the key mixed in continuously by the CNN."""
        return bits, self.key_features(z)

    def modulate(self, bits: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.generator(*self.generator_inputs(bits, z))

    def bob_logits(self, out: ChannelOutput, z: torch.Tensor) -> torch.Tensor:
        """Bob's message-bit logits [B, L] (per-symbol CSI: the constellation changes with
        the key bits of each symbol)."""
        return self.bob(out, self.key_features(z))

    def receive(self, out, nonces=None, key=None):
        z = self.key_bits(nonces, out.y.shape[-1] * self.modulation.num_bits_per_symbol,
                          encrypt=False, key=key)
        return (self.bob_logits(out, z) > 0).float()


def bce_per_frame(logits: torch.Tensor, bits: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy per frame [B] of bit logits and bits [B, L]."""
    return F.binary_cross_entropy_with_logits(logits, bits, reduction="none").mean(-1)
