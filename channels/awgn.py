"""Additive white Gaussian noise channel (Sionna's ``AWGN``)."""

from __future__ import annotations

import torch

from channels.base import Channel, ChannelSpec
from channels.theory import ber_awgn

__all__ = ["AWGN", "AWGNChannel"]


class AWGNChannel(Channel):
    """y = x + n, n ~ CN(0, N0). The CSI it reports is h = 1.

    Example::

        >>> import torch
        >>> from channels import AWGNChannel
        >>> out = AWGNChannel()(torch.ones(2, 8, dtype=torch.complex64), 0.1)
        >>> tuple(out.y.shape), bool((out.h == 1).all())
        ((2, 8), True)
    """

    name = "awgn"
    has_csi = False

    def coefficients(self, batch_size: int, num_symbols: int) -> torch.Tensor:
        return torch.ones(1, 1, dtype=torch.complex64, device=self.device).expand(
            batch_size, num_symbols
        )


AWGN = ChannelSpec(AWGNChannel, "additive white Gaussian noise", theory=ber_awgn,
                   train_ebno_db=(4.0, 14.0))
