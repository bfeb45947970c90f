"""``gan-enc-ldpc``: encrypt, then code, then the GAN-encrypted link's learned modulation.

Alice encrypts the message, v = m XOR z (ChaCha20 key stream of the frame's nonce, as
``gan-enc``), encodes v with ``qam-ldpc``'s code (:class:`~commgan.comm.coded.LDPCCode`:
Sionna's 5G LDPC (k, n), the same fixed bit interleaver and BP decoder) and sends the
interleaved code bits c through ``gan-enc``'s generator G. Bob takes the logits of c from his
decoder (public, keyless: G never sees the key), de-interleaves, decodes v and removes z. Eve
without z gets at best v, which is uniform whatever the message: her receiver
(:meth:`GanEncLDPCSystem.eavesdrop`) is Bob's without the last XOR.

Training is ``gan-enc``'s game (in-loop Eve, independence critic) on i.i.d. uniform bits, which
is what the interleaved code bits of uniform v are, at the code's operating point: plain BCE
(the relative loss divides by uncoded theory, meaningless under a code) and the training Eb/N0,
per information bit (R k / n per channel use), 1 to 3 dB above the Gray start's BICM threshold
(:func:`~commgan.comm.ae_ldpc.coded_train_ebno`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd
import torch

from channels import ChannelOutput, ModulationSpec
from commgan.comm.ae_ldpc import coded_train_ebno
from commgan.comm.autoencoder import default_spread
from commgan.comm.coded import CodedRate, LDPCCode, LDPCOptions
from commgan.comm.encryption import GanEncConfig, GanEncSystem, generator_config
from commgan.comm.encryption_training import (
    GanEncTraining,
    evaluate_critics,
    train_encrypted_link,
)
from commgan.comm.system import LearnedSpec, SystemSpec
from commgan.errors import CommganError

__all__ = ["GAN_ENC_LDPC", "GanEncLDPCSystem", "default_gan_enc_ldpc_training",
           "train_gan_enc_ldpc"]


class GanEncLDPCSystem(CodedRate, GanEncSystem):
    """``gan-enc-ldpc``: v = m XOR z, 5G LDPC (k, n) and interleaver of ``qam-ldpc`` on v,
    ``gan-enc``'s generator on the code bits; Bob decodes v and removes z. Frames hold whole
    codewords (and whole generator blocks). ``bob_logits`` and ``cipher_logits`` are those of
    the modulation (the channel bits: what the game trains), ``receive`` decodes the code."""

    name = "gan-enc-ldpc"

    def __init__(self, modulation: ModulationSpec, config: GanEncConfig | None = None,
                 key: bytes | None = None, device=None, k: int = 512, n: int = 1024,
                 decoder: str = "fast", iterations: int = 20, cn_update: str = "boxplus"
                 ) -> None:
        super().__init__(modulation, config, key=key, device=device)
        self.options = LDPCOptions(k, n, decoder, iterations, cn_update)
        self.code = LDPCCode(self.options, str(self.device))

    def init_args(self) -> dict:
        return {"config": self.config, **self.options.to_dict()}

    @property
    def frame_multiple(self) -> int:
        """k times the codewords whose code bits fill whole generator blocks of K R bits."""
        width = self.modulation.num_bits_per_symbol * self.config.transceiver.spread
        return self.options.k * (width // math.gcd(self.options.n, width))

    def transmit(self, bits, nonces=None):
        self.check_frame_bits(bits.shape[-1])
        z = self.key_bits(nonces, bits.shape[-1], encrypt=True)
        return self.generator(self.code.encode(torch.remainder(bits + z, 2.0)))

    def _information_bits(self, out: ChannelOutput) -> int:
        """L, the message bits of the frames of ``out``."""
        return out.y.shape[-1] * self.modulation.num_bits_per_symbol * self.k // self.n

    def _decoded_v(self, out: ChannelOutput) -> torch.Tensor:
        """Hard decisions [B, L] on v after BP decoding of Bob's keyless channel logits."""
        return self.code.decode(self.code.deinterleave(self.cipher_logits(out))).to(self.device)

    def receive(self, out, nonces=None, key=None):
        z = self.key_bits(nonces, self._information_bits(out), encrypt=False, key=key)
        return torch.remainder(self._decoded_v(out) + z, 2.0)

    def eavesdrop(self, out):
        """Bob's receiver without the key: the decoded v, her best guess of m without z."""
        return self._decoded_v(out)


def default_gan_enc_ldpc_training(modulation: ModulationSpec, channel: str | None
                                  ) -> GanEncTraining:
    """``gan-enc``'s default game with plain BCE, the training Eb/N0 left to
    :func:`train_gan_enc_ldpc` (it depends on the code rate)."""
    return GanEncTraining(relative_loss=False, architecture=GanEncConfig(
        transceiver=generator_config(modulation.num_bits_per_symbol,
                                     spread=default_spread(modulation, channel))))


def train_gan_enc_ldpc(system: GanEncLDPCSystem, channel: str, training: GanEncTraining,
                       progress: bool = False, log: Callable[[str], None] = lambda message: None
                       ) -> pd.DataFrame:
    """:func:`~commgan.comm.encryption_training.train_encrypted_link` at the code's operating
    point: without a training range, 1 to 3 dB above the Gray start's BICM threshold of the
    system's code rate (recorded in ``training``)."""
    if training.relative_loss:
        raise CommganError("gan-enc-ldpc trains with plain BCE: the relative loss divides by "
                           "uncoded theory, which does not describe a coded link")
    if training.train_ebno_db is None:
        training.train_ebno_db = coded_train_ebno(system, channel)
    log(f"gan-enc-ldpc: training at Eb/N0 {training.train_ebno_db[0]:g}.."
        f"{training.train_ebno_db[1]:g} dB per information bit (code rate {system.code_rate:g})")
    return train_encrypted_link(system, channel, training, progress=progress, log=log)


GAN_ENC_LDPC = SystemSpec(
    GanEncLDPCSystem, "encrypt-then-code: ChaCha20 XOR, qam-ldpc's 5G LDPC code, gan-enc's "
    "learned modulation with its in-loop Eve",
    learned=LearnedSpec(default_training=default_gan_enc_ldpc_training,
                        architecture=lambda training: training.architecture,
                        train=train_gan_enc_ldpc, critic_metrics=evaluate_critics),
    options=LDPCOptions)
