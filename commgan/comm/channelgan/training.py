"""Training one channel model on the shared GAN core."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from commgan.comm.channelgan.config import ChannelModelConfig
from commgan.comm.channelgan.variants import ChannelGAN, build_channel_model
from commgan.gan import GANTrainer, TrainerConfig
from commgan.rng import seeded

__all__ = ["train_channel_model"]


def train_channel_model(
    config: ChannelModelConfig,
    *,
    device: str = "cpu",
    progress: bool = False,
    name: str | None = None,
    on_trainer: Callable[[GANTrainer], None] | None = None,
) -> tuple[ChannelGAN, pd.DataFrame]:
    """Train one channel model from ``config`` (seeded by ``config.seed``).

    Returns (model, history): the model with G and D in eval mode, and one history row per
    iteration (iteration, loss_d, loss_g, d_real, d_fake, g_adv, seconds). Raises
    `commgan.gan.GANDivergenceError` on a NaN/inf loss (its ``history`` holds the iterations
    before it). ``on_trainer`` receives the trainer before training starts (e.g. to keep a
    reference for partial results).
    """
    with seeded(config.seed):
        model = build_channel_model(config, device)
        trainer_config = TrainerConfig(
            iterations=config.iterations, n_critic=config.n_critic, lr_g=config.lr_g,
            lr_d=config.lr_d, betas=config.betas, lr_decay=config.lr_decay, device=device,
            seed=config.seed, progress=progress, log_every=0,
            checkpoint_every=max(1, min(100, config.iterations)),
            name=name or f"{config.model} seed {config.seed}",
        )
        model.generator.train()
        model.discriminator.train()
        trainer = GANTrainer(model, trainer_config)
        if on_trainer is not None:
            on_trainer(trainer)
        history = trainer.fit()
    model.generator.eval()
    model.discriminator.eval()
    return model, history
