"""Shared GAN core: losses, building blocks, the game (`problem`), the one D/G trainer and the
convergence points of its loss history (`history`).

Knows nothing of bits, channels or images; `commgan.comm` and `commgan.vision` supply G, D, a
batch source and extra generator losses.
"""

from commgan.gan.blocks import (
    ConcatCondition,
    EmbeddingCondition,
    activation_layer,
    broadcast_condition,
    conv_block,
    dcgan_init_,
    mlp,
)
from commgan.gan.history import (
    LN2,
    crossover_iteration,
    equilibrium_iteration,
    separation_iteration,
)
from commgan.gan.losses import (
    GAN_MODES,
    GANLoss,
    bce_discriminator_loss,
    gradient_penalty,
    hinge_discriminator_loss,
    hinge_generator_loss,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    minimax_generator_loss,
    nonsaturating_generator_loss,
    wgan_critic_loss,
    wgan_generator_loss,
)
from commgan.gan.problem import AdversarialGAN, ExtraLoss, GANProblem
from commgan.gan.trainer import LR_SCHEDULES, GANDivergenceError, GANTrainer, TrainerConfig, frozen

__all__ = [
    "GAN_MODES",
    "LN2",
    "LR_SCHEDULES",
    "AdversarialGAN",
    "ConcatCondition",
    "EmbeddingCondition",
    "ExtraLoss",
    "GANDivergenceError",
    "GANLoss",
    "GANProblem",
    "GANTrainer",
    "TrainerConfig",
    "activation_layer",
    "bce_discriminator_loss",
    "broadcast_condition",
    "conv_block",
    "crossover_iteration",
    "dcgan_init_",
    "equilibrium_iteration",
    "frozen",
    "gradient_penalty",
    "hinge_discriminator_loss",
    "hinge_generator_loss",
    "lsgan_discriminator_loss",
    "lsgan_generator_loss",
    "minimax_generator_loss",
    "mlp",
    "nonsaturating_generator_loss",
    "separation_iteration",
    "wgan_critic_loss",
    "wgan_generator_loss",
]
