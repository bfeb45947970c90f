"""Classical baselines: Gray QAM (`qam`) and encrypt-then-modulate (`qam+chacha`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from sionna.phy.mapping import Demapper, Mapper

from channels import ChannelOutput, NearestPointSlicer
from channels.estimation import em_estimate
from commgan.comm.system import LabelledConstellation, System, SystemSpec
from commgan.errors import CommganError

__all__ = ["CSI_RECEIVERS", "QAM", "QAM_CHACHA", "QAMChaChaSystem", "QAMOptions", "QAMSystem"]

CSI_RECEIVERS = ("pilots", "em")
"""How Bob gets h on a channel with pilots: ``pilots``, each symbol uses its block's pilot
estimate (the classical receiver the anchors describe); ``em``, semi-blind EM over the whole
coherence block with the constellation known (:func:`channels.estimation.em_estimate`)."""


@dataclass(frozen=True)
class QAMOptions:
    """Options of ``qam`` and ``qam+chacha``: ``csi``, the receiver's channel estimate on a
    channel with pilots (``pilots`` | ``em``; no effect with perfect CSI)."""

    csi: str = "pilots"

    def __post_init__(self) -> None:
        if self.csi not in CSI_RECEIVERS:
            raise CommganError(f"unknown csi receiver {self.csi!r}; valid: "
                               f"{', '.join(CSI_RECEIVERS)}")

    def to_dict(self) -> dict:
        return asdict(self)


class QAMSystem(System):
    """Gray-mapped QAM/PSK with a coherent receiver (Sionna ``Mapper`` / ``Demapper``).

    Bob equalises with the CSI (``y / h``: maximum-likelihood for flat single-antenna fading) and
    takes nearest-point decisions, the detector the theory curves describe. :meth:`llr` gives
    exact APP LLRs (Sionna's convention: LLR = ln P(b=1)/P(b=0)).
    """

    name = "qam"

    def __init__(self, modulation, key=None, device=None, csi: str = "pilots") -> None:
        super().__init__(modulation, key=key, device=device)
        self.options = QAMOptions(csi)
        device_name = str(self.device)
        constellation = modulation.constellation(device=device_name)
        self.mapper = Mapper(constellation=constellation, device=device_name)
        self.hard_demapper = Demapper(
            "maxlog", constellation=constellation, hard_out=True, device=device_name
        )
        self.app_demapper = Demapper("app", constellation=constellation, device=device_name)
        self.slicer = NearestPointSlicer(constellation()).to(self.device)
        self.register_buffer("points", constellation().to(torch.complex64), persistent=False)

    def init_args(self) -> dict:
        return self.options.to_dict()

    def transmit(self, bits, nonces=None):
        return self.mapper(bits)

    def receive(self, out, nonces=None, key=None):
        return self._demap_hard(out)

    def llr(self, out: ChannelOutput) -> torch.Tensor:
        """Exact APP LLRs [B, L] for equalised symbols, noise variance no / |h|^2 per symbol."""
        out = self.channel_estimate(out)
        return self.app_demapper(out.y / out.h, _effective_noise(out))

    def channel_estimate(self, out: ChannelOutput) -> ChannelOutput:
        """``out`` with the CSI the receiver uses: the pilots' estimate, or EM over each
        coherence block with ``csi=em``."""
        if self.options.csi == "em" and out.pilots is not None:
            return em_estimate(out, self.points)
        return out

    def _modulate_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return self.points[labels]

    def _detect_labels(self, out: ChannelOutput) -> torch.Tensor:
        out = self.channel_estimate(out)
        return self.slicer(out.y / out.h)

    def _demap_hard(self, out: ChannelOutput) -> torch.Tensor:
        out = self.channel_estimate(out)
        return self.hard_demapper(out.y / out.h, _effective_noise(out))

    def labelled_constellation(self) -> LabelledConstellation:
        """Gray labels and the nearest-point slicer: the engine's fast link (tested equal to
        the bit path)."""
        return LabelledConstellation(len(self.points), self._modulate_labels,
                                     self._detect_labels)


class QAMChaChaSystem(QAMSystem):
    """Encrypt-then-modulate: c = m XOR z with z the ChaCha20 key stream of the frame's nonce.

    Bob demodulates c and decrypts with z. Eve, without the key, gets the ciphertext bits from
    the same coherent demodulator: her estimate of m is her estimate of c.
    """

    name = "qam+chacha"
    keyed = True

    def transmit(self, bits, nonces=None):
        z = self._keystream_bits(self.keystream.encryption_bits, nonces, bits.shape[-1])
        return self.mapper(torch.bitwise_xor(bits.to(torch.uint8), z))

    def receive(self, out, nonces=None, key=None):
        c_hat = self._demap_hard(out)
        stream = self.keystream_for(key)
        z = self._keystream_bits(stream.decryption_bits, nonces, c_hat.shape[-1])
        return torch.bitwise_xor(c_hat.to(torch.uint8), z).to(c_hat.dtype)

    def eavesdrop(self, out):
        return self._demap_hard(out)

    def bob_logits(self, out: ChannelOutput, z: torch.Tensor) -> torch.Tensor:
        """APP LLRs of the ciphertext, sign-flipped where z = 1 (logits of m = c XOR z)."""
        return self.llr(out) * (1.0 - 2.0 * z.to(torch.float32))

    def labelled_constellation(self) -> LabelledConstellation:
        """Gray labels with the key stream XORed onto each symbol's R-bit label."""
        return LabelledConstellation(
            len(self.points), self._modulate_labels, self._detect_labels,
            encrypt=lambda nonces, bits: self._keystream_indices(
                self.keystream.encryption_bits, nonces, bits),
            decrypt=lambda nonces, bits: self._keystream_indices(
                self.keystream.decryption_bits, nonces, bits))

    def _keystream_bits(self, stream_fn, nonces, num_bits: int) -> torch.Tensor:
        if nonces is None:
            raise ValueError(f"system {self.name!r} needs one nonce per frame")
        return torch.from_numpy(stream_fn(nonces, num_bits)).to(self.device)

    def _keystream_indices(self, stream_fn, nonces: np.ndarray, frame_bits: int) -> torch.Tensor:
        """Key stream as R-bit symbol labels (MSB first, as Sionna's Mapper reads bits)."""
        r = self.modulation.num_bits_per_symbol
        bits = stream_fn(nonces, frame_bits).reshape(len(nonces), frame_bits // r, r)
        weights = (1 << np.arange(r - 1, -1, -1)).astype(np.int64)
        return torch.from_numpy(bits.astype(np.int64) @ weights).to(self.device)


def _effective_noise(out: ChannelOutput) -> torch.Tensor:
    """Noise variance of y / h per symbol, h the receiver's CSI: (no + e) / |h|^2 with e the
    CSI's estimation-error variance (0 with perfect CSI), [B, n] (or scalar on AWGN)."""
    no = out.no if out.no.dim() == 0 else out.no.reshape(-1, 1)
    return (no + out.csi_error_var) / out.h.abs().square()


QAM = SystemSpec(QAMSystem, "Gray QAM/PSK, coherent nearest-point receiver",
                 default_sweep=True, attack_reference=True, options=QAMOptions)
QAM_CHACHA = SystemSpec(QAMChaChaSystem, "encrypt-then-modulate: ChaCha20 XOR, then Gray QAM",
                        default_sweep=True, attack_reference=True, options=QAMOptions)
