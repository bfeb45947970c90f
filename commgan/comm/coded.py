"""Coded baselines: BICM with Sionna's 5G LDPC code (`qam-ldpc`) and encrypt-then-code
(`qam-ldpc+chacha`).

A frame of L bits holds L / k codewords. Each block of k information bits is encoded by Sionna's
:class:`~sionna.phy.fec.ldpc.LDPC5GEncoder` into n coded bits (rate matching included), the n
bits are permuted by Sionna's :class:`~sionna.phy.fec.interleaving.RandomInterleaver` (one fixed
permutation), and Sionna's Gray ``Mapper`` puts log2(M) bits on each symbol. Bob equalises
(``y / h``, noise ``no / |h|^2`` per symbol, as :class:`~commgan.comm.classical.QAMSystem`), takes
exact APP LLRs from Sionna's ``Demapper("app")``, de-interleaves and decodes with BP: the fast
compiled decoder of :mod:`commgan.comm.ldpc_decoder` (default) or Sionna's ``LDPC5GDecoder``.

R = log2(M) k / n information bits per channel use: Eb/N0 is per information bit.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from sionna.phy.fec.interleaving import Deinterleaver, RandomInterleaver
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.mapping import Demapper, Mapper

from channels import ChannelOutput, ModulationSpec
from commgan.comm.ldpc_decoder import CN_UPDATES, FastLDPC5GDecoder
from commgan.comm.system import System, SystemSpec
from commgan.errors import CommganError

__all__ = ["DECODERS", "CodedRate", "LDPCCode", "LDPCOptions", "QAMLDPCChaChaSystem",
           "QAMLDPCSystem", "QAM_LDPC", "QAM_LDPC_CHACHA", "effective_noise"]

DECODERS = ("fast", "sionna")
"""``fast``: :class:`~commgan.comm.ldpc_decoder.FastLDPC5GDecoder` (compiled, CPU, early
stopping); ``sionna``: Sionna's ``LDPC5GDecoder`` (torch, any device, all iterations)."""

INTERLEAVER_SEED = 1234
"""Seed of the fixed bit interleaver (part of the system's definition, like the code)."""

_SIONNA_CN_UPDATE = {"boxplus": "boxplus-phi", "minsum": "minsum",
                     "offset-minsum": "offset-minsum"}


@dataclass(frozen=True)
class LDPCOptions:
    """Options of the coded systems: code dimension ``k`` and length ``n`` (any pair Sionna's
    5G LDPC supports: 12 <= k <= 8448, 1/5 <= k/n <= 0.95, and n a multiple of the bits per
    symbol), the BP ``decoder`` (``fast`` | ``sionna``), its maximum ``iterations`` and its
    check-node rule ``cn_update`` (``boxplus`` | ``minsum`` | ``offset-minsum``)."""

    k: int = 512
    n: int = 1024
    decoder: str = "fast"
    iterations: int = 20
    cn_update: str = "boxplus"

    def __post_init__(self) -> None:
        for name in ("k", "n", "iterations"):
            value = getattr(self, name)
            if isinstance(value, str) and value.strip().isdigit():
                value = int(value)
            try:
                whole = not isinstance(value, bool) and int(value) == value and int(value) > 0
            except (TypeError, ValueError):
                whole = False
            if not whole:
                raise CommganError(f"{name} must be a positive integer, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.decoder not in DECODERS:
            raise CommganError(f"unknown decoder {self.decoder!r}; valid: {', '.join(DECODERS)}")
        if self.cn_update not in CN_UPDATES:
            raise CommganError(f"unknown cn_update {self.cn_update!r}; "
                               f"valid: {', '.join(CN_UPDATES)}")

    def to_dict(self) -> dict:
        return asdict(self)


class CodedRate:
    """k, n, the code rate, the block of the BLER and R = log2(M) k / n of a system coded with
    ``self.options`` (:class:`LDPCOptions`): one definition for every coded system, so none
    can leave R at log2 M (10·log10(n/k) dB optimistic)."""

    options: LDPCOptions
    modulation: ModulationSpec

    @property
    def k(self) -> int:
        return self.options.k

    @property
    def n(self) -> int:
        return self.options.n

    @property
    def code_rate(self) -> float:
        """k / n."""
        return self.options.k / self.options.n

    @property
    def block_bits(self) -> int:
        """Information bits per codeword (the block of the block error rate)."""
        return self.options.k

    @property
    def bits_per_channel_use(self) -> float:
        """R = log2(M) k / n information bits per complex channel use."""
        return self.modulation.num_bits_per_symbol * self.options.k / self.options.n

    def channel_bits(self, bits: torch.Tensor) -> torch.Tensor:
        """The interleaved codeword of ``bits`` [B, L]: [B, L n / k] in symbol order."""
        return self.code.encode(bits)


class QAMLDPCSystem(CodedRate, System):
    """BICM: Sionna's 5G LDPC (k, n), a fixed random bit interleaver per codeword, Gray QAM,
    APP demapping and BP decoding. Frames hold L / k codewords (L a multiple of k)."""

    name = "qam-ldpc"

    def __init__(self, modulation, key=None, device=None, k: int = 512, n: int = 1024,
                 decoder: str = "fast", iterations: int = 20, cn_update: str = "boxplus") -> None:
        super().__init__(modulation, key=key, device=device)
        self.options = LDPCOptions(k, n, decoder, iterations, cn_update)
        k, n = self.options.k, self.options.n
        bits_per_symbol = modulation.num_bits_per_symbol
        if n % bits_per_symbol:
            raise CommganError(f"code length n={n} must be a multiple of {bits_per_symbol} "
                               f"coded bits per {modulation.name} symbol")
        self.code = LDPCCode(self.options, str(self.device))
        self.encoder, self.decoder = self.code.encoder, self.code.decoder
        self.interleaver, self.deinterleaver = self.code.interleaver, self.code.deinterleaver
        constellation = modulation.constellation(device=str(self.device))
        self.mapper = Mapper(constellation=constellation, device=str(self.device))
        self.demapper = Demapper("app", constellation=constellation, device=str(self.device))

    @property
    def frame_multiple(self) -> int:
        return self.options.k

    def init_args(self):
        return self.options.to_dict()

    def transmit(self, bits, nonces=None):
        return self._encode_modulate(bits)

    def receive(self, out, nonces=None, key=None):
        return self._decode(self._llr(out))

    def _encode_modulate(self, bits: torch.Tensor) -> torch.Tensor:
        """Bits [B, L] -> symbols [B, (L / k) n / log2 M]."""
        self.check_frame_bits(bits.shape[-1])
        return self.mapper(self.code.encode(bits))

    def _llr(self, out: ChannelOutput) -> torch.Tensor:
        """Channel LLRs of the coded bits, de-interleaved: [B, L / k, n] (ln P(1)/P(0))."""
        return self.code.deinterleave(self.demapper(out.y / out.h, effective_noise(out)))

    def _decode(self, llr: torch.Tensor) -> torch.Tensor:
        """De-interleaved LLRs [B, C, n] -> hard information bits [B, C k] float32."""
        return self.code.decode(llr).to(self.device)


class LDPCCode:
    """The code of the coded systems: Sionna's 5G LDPC encoder (k, n), the fixed random bit
    interleaver per codeword and the BP decoder of ``options`` (``qam-ldpc`` and ``ae-ldpc``
    share it, so they differ only in the constellation)."""

    def __init__(self, options: LDPCOptions, device: str) -> None:
        self.options = options
        k, n = options.k, options.n
        try:
            self.encoder = LDPC5GEncoder(k, n, device=device)
        except ValueError as err:
            raise CommganError(f"5G LDPC does not support k={k}, n={n}: {err}") from None
        self.interleaver = RandomInterleaver(seed=INTERLEAVER_SEED, keep_batch_constant=True,
                                             axis=-1, device=device)
        self.deinterleaver = Deinterleaver(self.interleaver)
        if options.decoder == "fast":
            self.decoder = FastLDPC5GDecoder(self.encoder, cn_update=options.cn_update,
                                             num_iter=options.iterations)
        else:
            self.decoder = LDPC5GDecoder(
                self.encoder, cn_update=_SIONNA_CN_UPDATE[options.cn_update],
                num_iter=options.iterations, hard_out=True, device=device)
        self.device = device

    def encode(self, bits: torch.Tensor) -> torch.Tensor:
        """Information bits [B, L] (L a multiple of k) -> interleaved code bits [B, L n / k]."""
        batch, frame_bits = bits.shape
        blocks = bits.to(torch.float32).reshape(batch, frame_bits // self.options.k,
                                                self.options.k)
        return self.interleaver(self.encoder(blocks)).reshape(batch, -1)

    def deinterleave(self, llr: torch.Tensor) -> torch.Tensor:
        """Channel LLRs of the interleaved code bits [B, C n] -> per codeword [B, C, n]."""
        return self.deinterleaver(llr.reshape(llr.shape[0], -1, self.options.n))

    def decode(self, llr: torch.Tensor) -> torch.Tensor:
        """De-interleaved LLRs [B, C, n] -> hard information bits [B, C k] float32."""
        return self.decoder(llr).reshape(llr.shape[0], -1).to(torch.float32)


class QAMLDPCChaChaSystem(QAMLDPCSystem):
    """Encrypt-then-code: c = m XOR z (ChaCha20 key stream of the frame's nonce), then
    ``qam-ldpc``. Bob decodes c and decrypts with z; Eve, without the key, decodes c (she knows
    the code): her estimate of m is her estimate of the ciphertext."""

    name = "qam-ldpc+chacha"
    keyed = True

    def transmit(self, bits, nonces=None):
        z = self._keystream_bits(self.keystream.encryption_bits, nonces, bits.shape[-1])
        return self._encode_modulate(torch.bitwise_xor(bits.to(torch.uint8), z))

    def receive(self, out, nonces=None, key=None):
        c_hat = self._decode(self._llr(out))
        stream = self.keystream_for(key)
        z = self._keystream_bits(stream.decryption_bits, nonces, c_hat.shape[-1])
        return torch.bitwise_xor(c_hat.to(torch.uint8), z).to(c_hat.dtype)

    def eavesdrop(self, out):
        return self._decode(self._llr(out))

    def bob_logits(self, out: ChannelOutput, z: torch.Tensor) -> torch.Tensor:
        """APP LLRs of the channel bits [B, C n] (interleaved), sign-flipped where the key
        stream on them, z, is 1. The code is linear, so the codeword of c = m XOR s is the
        codeword of m XOR the codeword of s: z = ``channel_bits(s)`` turns them into the
        logits of ``channel_bits(m)``."""
        llr = self.demapper(out.y / out.h, effective_noise(out))
        return llr * (1.0 - 2.0 * z.to(torch.float32))

    def _keystream_bits(self, stream_fn, nonces, num_bits: int) -> torch.Tensor:
        if nonces is None:
            raise ValueError(f"system {self.name!r} needs one nonce per frame")
        return torch.from_numpy(np.ascontiguousarray(stream_fn(nonces, num_bits))).to(
            self.device)


def effective_noise(out: ChannelOutput) -> torch.Tensor:
    """Noise variance of y / h per symbol, h the receiver's CSI: (no + e) / |h|^2 with e the
    CSI's estimation-error variance (0 with perfect CSI), [B, n] (or scalar on AWGN)."""
    no = out.no if out.no.dim() == 0 else out.no.reshape(-1, 1)
    return (no + out.csi_error_var) / out.h.abs().square()


QAM_LDPC = SystemSpec(QAMLDPCSystem,
                      "BICM: Sionna 5G LDPC (k, n), bit interleaver, Gray QAM, APP demapper, "
                      "BP decoder", options=LDPCOptions)
QAM_LDPC_CHACHA = SystemSpec(QAMLDPCChaChaSystem,
                             "encrypt-then-code: ChaCha20 XOR, then qam-ldpc",
                             options=LDPCOptions)
