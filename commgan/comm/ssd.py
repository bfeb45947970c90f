"""``qam-ssd``: rotated Gray QAM with component interleaving (signal-space diversity).

Boutros & Viterbo, "Signal space diversity", IEEE T-IT 44(4), 1998; rotation angles as DVB-T2
(ETSI EN 302 755): QPSK 29.0°, 16QAM 16.8°, 64QAM 8.6° (BPSK: 45°, its bit on both axes).

Alice maps each R-bit label to Sionna's Gray point s_k and rotates it, r_k = s_k e^{jθ}. The
interleaver is a fixed cyclic delay of the quadrature components by D = n // 2 symbols within the
frame of n symbols: channel use k carries Re(r_k) + j Im(r_{(k - D) mod n}), so on fast fading
the two components of one symbol meet independent fades (diversity 2). Bob phase-equalises each
use, z_k = y_k h_k^* / |h_k| = |h_k| x_k + n'_k (n'_k still CN(0, N0)), reads Re(r_k) from use k
with gain |h_k| and Im(r_k) from use k + D with gain |h_{k+D}|, and decides per symbol by
maximum likelihood over the M rotated points with these two gains. With equal gains (AWGN, or one
fade per frame) ML is rotation invariant, so ``qam-ssd`` equals ``qam`` there.
"""

from __future__ import annotations

import math

import torch

from channels import ChannelOutput, ModulationSpec
from commgan.comm.classical import QAMSystem
from commgan.comm.system import LabelledConstellation, SystemSpec

__all__ = ["QAM_SSD", "QAMSSDSystem", "labels_to_bits"]

def labels_to_bits(labels: torch.Tensor, r: int) -> torch.Tensor:
    """R-bit labels [B, n] int64 -> bits [B, n * r] float32, MSB first (Sionna's order)."""
    shifts = torch.arange(r - 1, -1, -1, device=labels.device)
    return ((labels.unsqueeze(-1) >> shifts) & 1).flatten(-2).to(torch.float32)


class QAMSSDSystem(QAMSystem):
    """Rotated Gray QAM with cyclic Q-component interleaving and per-symbol ML detection
    (module docstring). ``rotation_deg``: None = the modulation record's ``ssd_rotation_deg``."""

    name = "qam-ssd"

    def __init__(self, modulation: ModulationSpec, key: bytes | None = None, device=None,
                 rotation_deg: float | None = None) -> None:
        super().__init__(modulation, key=key, device=device)
        self.rotation_deg = float(modulation.ssd_rotation_deg
                                  if rotation_deg is None else rotation_deg)
        angle = math.radians(self.rotation_deg)
        rotation = torch.tensor(complex(math.cos(angle), math.sin(angle)), dtype=torch.complex64,
                                device=self.device)
        self.register_buffer("rotation", rotation, persistent=False)
        self.register_buffer("rotated", self.points * rotation, persistent=False)

    def init_args(self) -> dict:
        return {"rotation_deg": self.rotation_deg}

    @staticmethod
    def delay(num_symbols: int) -> int:
        """The interleaver's cyclic delay D of the quadrature components, in symbols."""
        return num_symbols // 2

    def _interleave(self, rotated: torch.Tensor) -> torch.Tensor:
        """Rotated symbols r [B, n] -> channel symbols: Re(r_k) + j Im(r_{k-D})."""
        shift = self.delay(rotated.shape[-1])
        return torch.complex(rotated.real, torch.roll(rotated.imag, shifts=shift, dims=-1))

    def _modulate_labels(self, labels: torch.Tensor) -> torch.Tensor:
        return self._interleave(self.rotated[labels])

    def _detect_labels(self, out: ChannelOutput) -> torch.Tensor:
        """Per-symbol ML over the M rotated points, each component with its own fade gain."""
        gain = out.h.abs()
        z = out.y * out.h.conj() / gain.clamp_min(1e-30)
        shift = self.delay(z.shape[-1])
        in_phase, in_phase_gain = z.real, gain
        quadrature = torch.roll(z.imag, shifts=-shift, dims=-1)
        quadrature_gain = torch.roll(gain, shifts=-shift, dims=-1)
        distance = ((in_phase.unsqueeze(-1) - in_phase_gain.unsqueeze(-1) * self.rotated.real)
                    .square()
                    + (quadrature.unsqueeze(-1) - quadrature_gain.unsqueeze(-1)
                       * self.rotated.imag).square())
        return distance.argmin(dim=-1)

    def transmit(self, bits, nonces=None):
        return self._interleave(self.mapper(bits) * self.rotation)

    def receive(self, out, nonces=None, key=None):
        return labels_to_bits(self._detect_labels(out), self.modulation.num_bits_per_symbol)

    def llr(self, out: ChannelOutput) -> torch.Tensor:
        raise NotImplementedError("qam-ssd gives hard ML decisions only")

    def labelled_constellation(self) -> LabelledConstellation:
        return LabelledConstellation(len(self.points), self._modulate_labels,
                                     self._detect_labels)


QAM_SSD = SystemSpec(QAMSSDSystem, "rotated Gray QAM with I/Q component interleaving "
                     "(signal-space diversity, DVB-T2 angles), per-symbol ML with CSI")
