"""Training and test data of the channel models: pilot + data blocks through a true channel."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from channels import get_channel, get_modulation, noise_variance
from commgan.comm.channelgan.features import PILOT

if TYPE_CHECKING:
    from commgan.comm.channelgan.config import ChannelModelConfig

__all__ = ["BlockSampler"]


class BlockSampler:
    """Blocks from the true channel: ``pilot_symbols`` pilots (`PILOT`) then ``data_symbols``
    Gray QAM symbols, one fade per block on Rayleigh block fading.

    Draws from torch's global RNG (symbols, Eb/N0) and Sionna's (fades, noise): seed both with
    `commgan.rng.seeded`.
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
