"""Channel GANs: GAN, CGAN and DCGAN models of a channel's p(y | x, c) on the shared GAN core,
their training, and `LearnedChannel`, a trained model behind a true channel's call signature.

Modules: `features` (fixed coordinates), `sampler` (true-channel blocks), `networks` (G and D),
`variants` (one `ChannelGAN` subclass and spec record per model, `CHANNEL_MODELS`), `config`,
`training`, `learned_channel`. The convergence and fidelity study is `commgan.channelgan_study`.
"""

from commgan.comm.channelgan.config import ChannelModelConfig
from commgan.comm.channelgan.features import (
    PILOT,
    ebno_condition,
    equalised,
    estimate_fading,
    nominal_noise_std,
    referenced_features,
)
from commgan.comm.channelgan.learned_channel import LearnedChannel
from commgan.comm.channelgan.networks import (
    BlockDiscriminator,
    BlockGenerator,
    SymbolDiscriminator,
    SymbolGenerator,
)
from commgan.comm.channelgan.sampler import BlockSampler
from commgan.comm.channelgan.training import train_channel_model
from commgan.comm.channelgan.variants import (
    CHANNEL_MODELS,
    BlockDCGAN,
    ChannelGAN,
    ChannelModelSpec,
    PilotCGAN,
    SymbolGAN,
    build_channel_model,
)

__all__ = [
    "CHANNEL_MODELS",
    "PILOT",
    "BlockDCGAN",
    "BlockDiscriminator",
    "BlockGenerator",
    "BlockSampler",
    "ChannelGAN",
    "ChannelModelConfig",
    "ChannelModelSpec",
    "LearnedChannel",
    "PilotCGAN",
    "SymbolDiscriminator",
    "SymbolGAN",
    "SymbolGenerator",
    "build_channel_model",
    "ebno_condition",
    "equalised",
    "estimate_fading",
    "nominal_noise_std",
    "referenced_features",
    "train_channel_model",
]
