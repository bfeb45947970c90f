"""Training an encrypted link on the shared GAN core.

The game (one :class:`~commgan.gan.trainer.GANTrainer` loop, nothing else):

- generator side: Alice's generator G and Bob's decoder. L_G = Bob's BCE (relative to the Gray
  baseline's BER at the frame's Eb/N0, as for ``ae``) + lambda_eve * Abadi-Andersen term
  ((0.5 - e_Eve) / 0.5)^2 + lambda_independence * (fool T) + lambda_covert * (fool C);
- adversary side: the in-loop Eve (BCE on the message bits from her own channel realisation),
  the independence critic T (matched (m, x) pairs vs pairs with m shuffled across the batch) and
  the covertness critic C (CN(0, 1) noise vs x). T and C use the core's GANLoss.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from channels import ModulationSpec, get_channel, noise_variance
from commgan.comm.autoencoder import (
    LinkTraining,
    default_spread,
    default_train_ebno,
    reference_ber,
)
from commgan.comm.encryption import (
    GanEncConfig,
    GanEncNaiveSystem,
    GanEncSystem,
    _EncryptedSystem,
    bce_per_frame,
    generator_config,
)
from commgan.comm.keys import KeyStream
from commgan.comm.system import LearnedSpec, SystemSpec
from commgan.comm.transceiver import reset_parameters
from commgan.gan import GANLoss, GANTrainer, TrainerConfig
from commgan.rng import random_bits, seeded, seeded_weights

__all__ = ["GAN_ENC", "GAN_ENC_NAIVE", "EncryptedLinkProblem", "GanEncTraining",
           "evaluate_critics", "train_encrypted_link"]


@dataclass
class GanEncTraining(LinkTraining):
    """How an encrypted link is trained; the loss weights are those of the module docstring."""

    steps: int = 2000
    """GAN iterations (one adversary update, then one generator update)."""
    lr_adversaries: float = 1e-3
    """Adam learning rate of Eve and the critics (``lr`` is the generator side's: G and Bob)."""
    lambda_eve: float = 1.0
    """Weight of the Abadi-Andersen term pushing the in-loop Eve's bit error rate to 0.5."""
    lambda_independence: float = 0.1
    """Weight of fooling the independence critic T(m, x)."""
    lambda_covert: float = 0.0
    """Weight of fooling the covertness critic (0 = plain link; > 0 trades BER for a
    noise-like waveform)."""
    architecture: GanEncConfig = field(default_factory=GanEncConfig)
    """Shapes of G, Bob, Eve and the critics."""


class EncryptedLinkProblem:
    """The multi-player game of an encrypted link as a :class:`~commgan.gan.GANProblem`."""

    def __init__(self, system: _EncryptedSystem, channel: str, training: GanEncTraining) -> None:
        self.system = system
        self.training = training
        self.generator = nn.ModuleDict({"generator": system.generator, "bob": system.bob})
        self.discriminator = nn.ModuleDict({
            "eve": system.eve,
            "independence_critic": system.independence_critic,
            "covertness_critic": system.covertness_critic,
        })
        device = str(system.device)
        self.bob_link = get_channel(channel, device=device)
        self.eve_link = get_channel(channel, device=device)
        self.ebno_range = training.train_ebno_db or default_train_ebno(channel)
        self.reference = reference_ber(system.modulation.name, channel, system.device)
        self.gan_loss = GANLoss("nonsaturating")
        # The trained model does not depend on the key (G sees only v = m XOR z, uniform), so the
        # training key is derived from the seed: training is reproducible, and this key is not
        # Alice and Bob's (theirs is loaded at run time and never stored).
        self.keystream = KeyStream(hashlib.sha256(f"commgan-training-{training.seed}".encode())
                                   .digest())
        self.next_nonce = 0

    def next_batch(self) -> dict[str, torch.Tensor]:
        """Fresh messages m, per-frame key material, Eb/N0 per frame."""
        t = self.training
        device = self.system.device
        nonces = np.arange(self.next_nonce, self.next_nonce + t.batch_frames)
        self.next_nonce += t.batch_frames
        key = torch.from_numpy(self.keystream.encryption_bits(nonces, t.frame_bits)).float()
        return {
            "m": random_bits([t.batch_frames, t.frame_bits], device),
            "key": key.to(device),
            "ebno": torch.empty(t.batch_frames, 1, device=device).uniform_(*self.ebno_range),
        }

    def _transmit(self, batch) -> torch.Tensor:
        return self.system.generator(*self.system.generator_inputs(batch["m"], batch["key"]))

    def _links(self, x, batch):
        rate = self.system.bits_per_channel_use
        rate *= self.bob_link.rate_factor(x.shape[-1])  # pilots are charged as in simulation
        no = noise_variance(batch["ebno"], rate, device=str(self.system.device))
        return self.bob_link(x, no), self.eve_link(x, no)

    def _critic_logits(self, m, x):
        shuffled = m[torch.randperm(m.shape[0], device=m.device)]
        return (self.system.independence_critic(m, x),
                self.system.independence_critic(shuffled, x))

    def discriminator_loss(self, batch):
        m = batch["m"]
        with torch.no_grad():
            x = self._transmit(batch)
        _, eve_out = self._links(x, batch)
        eve_logits = self.system.eve(eve_out)
        eve_bce = bce_per_frame(eve_logits, m).mean()
        matched, mismatched = self._critic_logits(m, x)
        independence = self.gan_loss.discriminator_loss(matched, mismatched)
        noise = torch.complex(torch.randn_like(x.real), torch.randn_like(x.real)) / 2**0.5
        real_noise, signal = self.system.covertness_critic(noise), self.system.covertness_critic(x)
        covert = self.gan_loss.discriminator_loss(real_noise, signal)
        metrics = {
            "eve_ber": ((eve_logits > 0).float() != m).float().mean().item(),
            "independence_acc": 0.5 * ((matched > 0).float().mean()
                                       + (mismatched < 0).float().mean()).item(),
            "covert_acc": 0.5 * ((real_noise > 0).float().mean()
                                 + (signal < 0).float().mean()).item(),
        }
        return eve_bce + independence + covert, metrics

    def generator_loss(self, batch):
        t = self.training
        m = batch["m"]
        x = self._transmit(batch)
        bob_out, eve_out = self._links(x, batch)
        bob_logits = self.system.bob_logits(bob_out, batch["key"])
        bob = bce_per_frame(bob_logits, m)
        if t.relative_loss and self.reference is not None:
            bob = bob / self.reference(batch["ebno"][:, 0])
        bob = bob.mean()
        eve_error = (torch.sigmoid(self.system.eve(eve_out)) - m).abs().mean()
        abadi_andersen = ((0.5 - eve_error) / 0.5) ** 2
        matched, _ = self._critic_logits(m, x)
        fool_independence = self.gan_loss.generator_loss(-matched)
        loss = bob + t.lambda_eve * abadi_andersen + t.lambda_independence * fool_independence
        if t.lambda_covert:
            loss = loss + t.lambda_covert * self.gan_loss.generator_loss(
                self.system.covertness_critic(x))
        metrics = {"bob_ber": ((bob_logits > 0).float() != m).float().mean().item(),
                   "bob_loss": bob.item()}
        return loss, metrics


def train_encrypted_link(
    system: _EncryptedSystem,
    channel: str,
    training: GanEncTraining,
    *,
    progress: bool = False,
    log: Callable[[str], None] = lambda message: None,
) -> pd.DataFrame:
    """Train ``system`` (gan-enc or gan-enc-naive) through ``channel``; returns the history."""
    with seeded(training.seed, system.device):  # Sionna's and torch's generators
        reset_parameters(system.generator, system.bob, system.eve, system.independence_critic,
                         system.covertness_critic)
        problem = EncryptedLinkProblem(system, channel, training)
        config = TrainerConfig(  # no seed: the torch stream below runs on to the calibration
            iterations=training.steps, lr_g=training.lr, lr_d=training.lr_adversaries,
            betas=(0.9, 0.999), lr_decay="cosine", device=str(system.device), seed=None,
            precision=training.precision, progress=progress,
            log_every=max(1, training.steps // 4), name=f"{system.name} {channel}",
        )
        system.train()
        trainer = GANTrainer(problem, config)
        rounds = min(4, training.steps)
        with seeded_weights(training.seed):
            for chunk in range(rounds):
                history = trainer.fit(iterations=training.steps // rounds + (
                    training.steps % rounds if chunk == rounds - 1 else 0))
                recent = history.tail(max(1, training.steps // 8))
                log(f"{system.name}: step {trainer.iteration}/{training.steps}: Bob BER "
                    f"{recent['bob_ber'].mean():.4f}, in-loop Eve BER "
                    f"{recent['eve_ber'].mean():.4f}, independence critic acc "
                    f"{recent['independence_acc'].mean():.3f}")
            system.eval()
            with torch.no_grad():
                batch = problem.next_batch()
                system.generator.power.calibrate(
                    system.generator.raw(*system.generator_inputs(batch["m"], batch["key"])))
    return history


@torch.no_grad()
def evaluate_critics(system: _EncryptedSystem, channel: str, training: GanEncTraining,
                     batches: int = 20) -> dict[str, float]:
    """Held-out accuracies of the trained critics on fresh frames (0.5 = no distinction)."""
    problem = EncryptedLinkProblem(system, channel, training)
    matched_right = mismatched_right = covert_right = total = 0.0
    for _ in range(batches):
        batch = problem.next_batch()
        x = problem._transmit(batch)
        matched, mismatched = problem._critic_logits(batch["m"], x)
        noise = torch.complex(torch.randn_like(x.real), torch.randn_like(x.real)) / 2**0.5
        matched_right += (matched > 0).float().sum().item()
        mismatched_right += (mismatched < 0).float().sum().item()
        covert_right += ((system.covertness_critic(noise) > 0).float().sum()
                         + (system.covertness_critic(x) < 0).float().sum()).item()
        total += len(matched)
    return {"independence_critic_acc": (matched_right + mismatched_right) / (2 * total),
            "covertness_critic_acc": covert_right / (2 * total)}


def _gan_enc_training(modulation: ModulationSpec, channel: str | None) -> GanEncTraining:
    return GanEncTraining(architecture=GanEncConfig(transceiver=generator_config(
        modulation.num_bits_per_symbol, spread=default_spread(modulation, channel))))


def _naive_training(modulation: ModulationSpec, channel: str | None) -> GanEncTraining:
    return GanEncTraining(relative_loss=False, lambda_eve=1.0, architecture=GanEncConfig(
        transceiver=generator_config(modulation.num_bits_per_symbol, qam_skip=False)))


def _encrypted_link(default_training: Callable[[ModulationSpec, str | None], GanEncTraining]
                    ) -> LearnedSpec:
    return LearnedSpec(default_training=default_training,
                       architecture=lambda training: training.architecture,
                       train=train_encrypted_link, critic_metrics=evaluate_critics)


GAN_ENC = SystemSpec(
    GanEncSystem, "DCGAN-encrypted autoencoder: G(m XOR ChaCha20 key stream), in-loop Eve",
    learned=_encrypted_link(_gan_enc_training), default_sweep=True)
GAN_ENC_NAIVE = SystemSpec(
    GanEncNaiveSystem, "reference that must break: key bits mixed into G continuously",
    learned=_encrypted_link(_naive_training), attack_reference=True)
