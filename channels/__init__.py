"""The physical layer, no learning: channel models, classical modulation, BER theory.

Built on Sionna PHY. Never imports :mod:`commgan`.
"""

from channels.awgn import AWGNChannel
from channels.base import (
    Channel,
    ChannelOutput,
    ChannelSpec,
    PilotBlocks,
    device_name,
    noise_variance,
)
from channels.modulation import (
    MODULATIONS,
    ModulationSpec,
    NearestPointSlicer,
    bit_errors_between_indices,
    get_modulation,
)
from channels.rayleigh import RayleighBlockChannel, RayleighFastChannel
from channels.registry import (
    CHANNELS,
    ChannelChoice,
    WiretapChannel,
    WiretapOutput,
    channel_choice,
    channel_spec,
    get_channel,
)

__all__ = [
    "CHANNELS",
    "MODULATIONS",
    "AWGNChannel",
    "Channel",
    "ChannelChoice",
    "ChannelOutput",
    "ChannelSpec",
    "ModulationSpec",
    "NearestPointSlicer",
    "PilotBlocks",
    "RayleighBlockChannel",
    "RayleighFastChannel",
    "WiretapChannel",
    "WiretapOutput",
    "bit_errors_between_indices",
    "channel_choice",
    "channel_spec",
    "device_name",
    "get_channel",
    "get_modulation",
    "noise_variance",
]
