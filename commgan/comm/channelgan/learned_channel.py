"""A trained channel model behind a true channel's call signature."""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn

from channels import ChannelOutput
from commgan.comm.channelgan.features import estimate_fading
from commgan.comm.channelgan.variants import ChannelGAN

__all__ = ["LearnedChannel"]


class LearnedChannel(nn.Module):
    """A trained channel model as a differentiable stand-in for the true channel.

    ``forward(x [B, n], no) -> ChannelOutput``: the n symbols of each row are cut into blocks of
    ``data_symbols`` (n must be a multiple), pilots are put in front of each block, the model
    generates y, and the reported CSI h [B, n] is the least-squares estimate from each block's
    pilots (generated ones; a model that `uses_measured_pilots` gets pilots sent through
    ``pilot_link``, the true channel by default, as measured pilots would be). ``no``: scalar
    or [B, 1] noise variance, turned into the Eb/N0 condition with R of the model's modulation.
    Gradients flow to x; G is a frozen copy.
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
        if self.model.uses_measured_pilots:
            no_blocks = no_rows.repeat_interleave(blocks, dim=0)
            y_pilots = self.pilot_link(pilots, no_blocks).y
        y = self.model.differentiable_sample(tx, ebno_blocks, y_pilots)
        h = estimate_fading(y[:, :cfg.pilot_symbols], self.sampler.pilots)
        h = h.expand(-1, cfg.data_symbols).reshape(batch, n)
        return ChannelOutput(y=y[:, cfg.pilot_symbols:].reshape(batch, n), h=h, no=no)
