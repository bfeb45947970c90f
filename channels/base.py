"""Channel interface: what every channel returns, its registry record, and Eb/N0 to noise
variance."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from channels.options import checked_options

__all__ = ["Channel", "ChannelOutput", "ChannelSpec", "PilotBlocks", "device_name",
           "noise_variance"]


def device_name(device: str | torch.device | None) -> str | None:
    """The device as Sionna names it: ``cuda`` becomes ``cuda:N`` (the current card); None
    stays None (Sionna's default)."""
    if device is None:
        return None
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return str(device)


@dataclass
class ChannelOutput:
    """One pass through a channel.

    ``y``: [B, n] complex received symbols; ``h``: [B, n] complex channel coefficients as the
    receiver knows them (the true ones with perfect CSI, else the pilot estimate; all ones on
    AWGN); ``no``: noise variance per complex symbol (scalar tensor or [B, 1]);
    ``csi_error_var``: variance of h's estimation error per symbol (zero with perfect CSI; else
    [B, n]): a coherent receiver of ``y / h`` sees noise ``(no + csi_error_var) / |h|^2``;
    ``pilots``: the received pilots and the block layout behind an estimated h (None with
    perfect CSI or without pilots), for receivers that re-estimate h from a whole block.
    """

    y: torch.Tensor
    h: torch.Tensor
    no: torch.Tensor
    csi_error_var: torch.Tensor = field(default_factory=lambda: torch.zeros(()))
    pilots: PilotBlocks | None = None

    def take(self, index: torch.Tensor | slice) -> ChannelOutput:
        """The output of a subset of frames (rows)."""
        return ChannelOutput(self.y[index], self.h[index], _rows(self.no, index),
                             _rows(self.csi_error_var, index),
                             None if self.pilots is None else self.pilots.take(index))

    @staticmethod
    def concat(outputs: Sequence[ChannelOutput]) -> ChannelOutput:
        """Frames of several outputs, stacked (scalar noise variances must agree)."""
        first = outputs[0]
        no = first.no if first.no.dim() == 0 else torch.cat([o.no for o in outputs])
        error = first.csi_error_var
        if error.dim():
            error = torch.cat([o.csi_error_var for o in outputs])
        pilots = (None if first.pilots is None
                  else PilotBlocks.concat([o.pilots for o in outputs]))
        return ChannelOutput(torch.cat([o.y for o in outputs]), torch.cat([o.h for o in outputs]),
                             no, error, pilots)


@dataclass
class PilotBlocks:
    """Received pilots of a frame's coherence blocks.

    ``y``: [B, K, Np] complex, the K blocks' Np received pilots (each sent as
    :data:`channels.estimation.PILOT`); ``data_per_block``: data symbols per block (the frame's
    n symbols fill K blocks, the last one possibly partial); ``estimator``: ``ls`` or ``lmmse``.
    """

    y: torch.Tensor
    data_per_block: int
    estimator: str

    def take(self, index: torch.Tensor | slice) -> PilotBlocks:
        return PilotBlocks(self.y[index], self.data_per_block, self.estimator)

    @staticmethod
    def concat(blocks: Sequence[PilotBlocks]) -> PilotBlocks:
        return PilotBlocks(torch.cat([b.y for b in blocks]), blocks[0].data_per_block,
                           blocks[0].estimator)


def _rows(value: torch.Tensor, index: torch.Tensor | slice) -> torch.Tensor:
    """Rows of a per-frame value; a scalar (shared by all frames) stays as it is."""
    return value if value.dim() == 0 else value[index]


def noise_variance(
    ebno_db: float | torch.Tensor, bits_per_channel_use: float, device: str | None = None
) -> torch.Tensor:
    """Noise variance N0 per complex symbol for unit-energy symbols carrying R bits each.

    Uses Sionna's ``ebnodb2no``: N0 = 1 / (R * Eb/N0), for any positive real R (a code rate
    k/n times log2 M, pilots or other overhead included): R is passed as
    ``num_bits_per_symbol = ceil(R)`` with ``coderate = R / ceil(R)``.
    """
    from sionna.phy.utils import ebnodb2no  # lazy: `import channels` skips Sionna

    rate = float(bits_per_channel_use)
    if not math.isfinite(rate) or rate <= 0:
        raise ValueError(f"bits per channel use must be positive and finite, got {rate}")
    if rate.is_integer():
        return ebnodb2no(ebno_db, int(rate), 1.0, device=device_name(device))
    whole = math.ceil(rate)
    return ebnodb2no(ebno_db, whole, rate / whole, device=device_name(device))


class Channel(torch.nn.Module):
    """A memoryless channel y = h * x + n with n ~ CN(0, N0).

    Subclasses set ``name`` and ``has_csi`` (False: h is identically 1 and is not applied) and
    implement :meth:`coefficients`.
    Input ``x``: [B, n] complex; ``no``: scalar or [B, 1] noise variance.
    Output: :class:`ChannelOutput`.
    """

    name: str = ""
    has_csi: bool = True

    def __init__(self, device: str | None = None) -> None:
        super().__init__()
        from sionna.phy.channel import AWGN

        self._awgn = AWGN(device=device_name(device))
        self.device = self._awgn.device

    def coefficients(self, batch_size: int, num_symbols: int) -> torch.Tensor:
        """Channel coefficients h, [batch_size, num_symbols] complex."""
        raise NotImplementedError

    def rate_factor(self, num_symbols: int) -> float:
        """Data symbols per channel use when a frame carries ``num_symbols`` data symbols: below
        1 where the channel spends channel uses (and their energy) on pilots. Noise is set
        from Eb/N0 at R times this factor, so Eb/N0 stays per information bit."""
        return 1.0

    @staticmethod
    def _check_input(x: torch.Tensor) -> None:
        if x.dim() != 2 or not x.is_complex():
            raise ValueError(
                f"channel input must be complex [B, n], got {tuple(x.shape)} {x.dtype}"
            )

    def forward(self, x: torch.Tensor, no: float | torch.Tensor) -> ChannelOutput:
        self._check_input(x)
        no = torch.as_tensor(no, dtype=torch.float32, device=x.device)
        h = self.coefficients(x.shape[0], x.shape[1])
        faded = h * x if self.has_csi else x
        y = self._awgn(faded, no if no.dim() == 0 else no.reshape(-1, 1))
        return ChannelOutput(y=y, h=h, no=no)


@dataclass(frozen=True)
class ChannelSpec:
    """What the rest of the project knows of a channel.

    ``channel``: the class (its ``name`` is the registry key); ``summary``: one line for help
    texts; ``theory(R, ebno_db) -> BER`` of Gray QAM with a coherent receiver, or None (no theory
    curve is drawn); ``train_ebno_db``: default (low, high) dB training range of learned links;
    ``options``: a dataclass of the constructor's options (None = no options);
    ``independent_fades``: every data symbol fades independently (fast fading), so a link that
    spreads bits over several symbols gains diversity; a bool, or a function of the options
    instance (see :attr:`channels.ChannelChoice.independent_fades`).
    """

    channel: type[Channel]
    summary: str
    theory: Callable[[int, Any], np.ndarray] | None
    train_ebno_db: tuple[float, float]
    options: type | None = None
    independent_fades: bool | Callable[[Any], bool] = False

    @property
    def name(self) -> str:
        return self.channel.name

    def build(self, device: str | None = None, **options) -> Channel:
        """The channel with ``options`` (keyword values) checked against :attr:`options`."""
        return self.channel(device=device, **dict(checked_options(
            self.options, f"channel {self.name}", [], given=options)))
