"""The one interface every link implements, and the record that registers a system.

The contract is Sionna's ``sim_ber(mc_fun)`` split at the channel: a :class:`System` transmits
(Alice), receives (Bob) and, for keyed systems, ships the keyless receiver Eve starts from; the
simulation engine (:mod:`commgan.sim.engine`) owns the bit source, the frame nonces, the channel
realisations and the error counting. A system registers with one :class:`SystemSpec` beside its
code and one line in :data:`commgan.comm.registry.SYSTEMS`.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from channels import ChannelOutput, ModulationSpec, device_name, theory
from commgan.comm.keys import KeyStream
from commgan.errors import CommganError

__all__ = ["LINK_METHODS", "LabelledConstellation", "LearnedSpec", "System", "SystemSpec",
           "frame_bit_errors"]


def frame_bit_errors(bits: torch.Tensor, bits_hat: torch.Tensor) -> torch.Tensor:
    """Bit errors per frame: ``bits``, ``bits_hat`` [B, L] in {0, 1} -> [B] int64."""
    return (bits != bits_hat).sum(dim=-1, dtype=torch.int64)


@dataclass
class LabelledConstellation:
    """Symbols that each carry one R-bit label: what the engine's index-domain fast link needs
    (:func:`commgan.sim.engine.index_domain_errors`).

    ``num_labels``: M = 2^R (a label is the R bits MSB first, as Sionna's Mapper reads them);
    ``modulate``: labels [B, n] int64 -> unit-energy symbols [B, n] complex64; ``detect``: a
    channel output -> labels [B, n] int64; ``encrypt`` / ``decrypt``: (nonces [B], frame bits L)
    -> key-stream labels [B, n] int64 XORed onto the labels by Alice / Bob, or None for an
    unkeyed system.
    """

    num_labels: int
    modulate: Callable[[torch.Tensor], torch.Tensor]
    detect: Callable[[ChannelOutput], torch.Tensor]
    encrypt: Callable[[np.ndarray, int], torch.Tensor] | None = None
    decrypt: Callable[[np.ndarray, int], torch.Tensor] | None = None


class System(ABC, torch.nn.Module):
    """A transmitter, Bob's receiver and (for keyed systems) the keyless receiver Eve ships with.

    ``bits_per_channel_use`` is R (k information bits per n complex channel uses); frames of
    L bits become L / R symbols, so L must be a multiple of ``frame_multiple``.
    Keyed systems hold the 256-bit shared key of Alice and Bob as a :class:`KeyStream`.
    """

    name: str = ""
    keyed: bool = False

    def __init__(self, modulation: ModulationSpec, key: bytes | None = None, device=None) -> None:
        super().__init__()
        self.modulation = modulation
        self.device = torch.device(device_name(device) or "cpu")
        if self.keyed and key is None:
            raise CommganError(f"system {self.name!r} needs a 256-bit key")
        self.keystream = KeyStream(key) if self.keyed else None

    @property
    def bits_per_channel_use(self) -> float:
        """R, information bits per complex channel use."""
        return float(self.modulation.num_bits_per_symbol)

    @property
    def frame_multiple(self) -> int:
        """Frame lengths L must be multiples of this many bits."""
        return self.modulation.num_bits_per_symbol

    block_bits: int | None = None
    """Information bits per block of the block error rate (a codeword's k); None = the frame is
    the block (BLER = FER). Frame lengths must be multiples of it."""

    def blocks_per_frame(self, frame_bits: int) -> int:
        """Blocks in a frame of ``frame_bits`` bits (1 without :attr:`block_bits`)."""
        return frame_bits // self.block_bits if self.block_bits else 1

    def check_frame_bits(self, frame_bits: int) -> None:
        """Raise a clear error unless ``frame_bits`` is a positive multiple of frame_multiple
        (and of :attr:`block_bits`)."""
        if frame_bits <= 0 or frame_bits % self.frame_multiple:
            raise CommganError(
                f"frame length L={frame_bits} must be a positive multiple of "
                f"{self.frame_multiple} bits for system {self.name!r} with {self.modulation.name}"
            )
        if self.block_bits and frame_bits % self.block_bits:
            raise CommganError(f"frame length L={frame_bits} must be a multiple of the block "
                               f"length {self.block_bits} bits of system {self.name!r}")

    def theory_ber(self, channel: str, ebno_db: np.ndarray) -> np.ndarray | None:
        """The exact BER this system should meet (the ``theory`` column and line), or None.

        Default: uncoded Gray modulation at the same R, where the channel has a closed form;
        None for any system whose R is not log2 M (a coded link is never shown against
        uncoded theory). A system with its own reference overrides this."""
        uncoded = float(self.bits_per_channel_use) == float(self.modulation.num_bits_per_symbol)
        if not uncoded or not theory.has_theory(channel):
            return None
        return np.asarray(theory.ber(self.modulation.name, channel, ebno_db), dtype=float)

    def option_values(self) -> dict[str, Any]:
        """The system's options as plain values (for results and config.json): the scalar
        entries of :meth:`init_args` (a learned system's architecture is recorded elsewhere)."""
        return {name: value for name, value in self.init_args().items()
                if isinstance(value, (bool, int, float, str))}

    def keystream_for(self, key: bytes | None) -> KeyStream:
        """Alice/Bob's key stream, or the one of another key (e.g. a wrong-key Bob)."""
        if self.keystream is None:
            raise CommganError(f"system {self.name!r} has no key")
        return self.keystream if key is None else KeyStream(key)

    @abstractmethod
    def transmit(self, bits: torch.Tensor, nonces: torch.Tensor | None = None) -> torch.Tensor:
        """Alice: bits [B, L] float in {0, 1} -> unit-energy symbols [B, L / R] complex64."""

    @abstractmethod
    def receive(
        self, out: ChannelOutput, nonces: torch.Tensor | None = None, key: bytes | None = None
    ) -> torch.Tensor:
        """Bob: channel output (y, h, no) -> hard bits [B, L] float in {0, 1}.

        Keyed systems use Alice's key unless ``key`` is given (a wrong-key Bob).
        """

    def channel_bits(self, bits: torch.Tensor) -> torch.Tensor:
        """The bits the symbols carry for message ``bits`` [B, L] without a key, in symbol
        order: [B, n R] for n symbols per frame. Uncoded systems: the message itself; coded
        ones: its interleaved codeword. The attack suite's trained eavesdroppers learn these
        (knowing the message and the public code, Eve knows them)."""
        return bits

    def bob_logits(self, out: ChannelOutput, z: torch.Tensor) -> torch.Tensor:
        """Keyed systems: Bob's logits [B, n R] of :meth:`channel_bits` given the key stream on
        them, ``z`` [B, n R] (the message's key stream, or for a linear code its codeword).

        ``z`` may be relaxed to real values in [0, 1] (the nonce-reuse attack fits it by
        gradient descent, with every weight public by Kerckhoffs' principle).
        """
        raise CommganError(f"system {self.name!r} has no key stream")

    def eavesdrop(self, out: ChannelOutput) -> torch.Tensor:
        """Eve's receiver without the key: channel output -> hard bits [B, L].

        Unkeyed systems hide nothing, and by Kerckhoffs' principle Eve knows every weight: her
        receiver is Bob's. Keyed systems override this.
        """
        return self.receive(out)

    def init_args(self) -> dict[str, Any]:
        """Constructor arguments besides modulation, key and device (e.g. an architecture)."""
        return {}

    def check_recipe(self) -> None:
        """Raise a clear error unless :meth:`init_args` returns every constructor argument
        besides modulation, key and device: worker processes rebuild a system from them, and one
        left out would silently take its default there (``--jobs 2`` would differ from 1)."""
        parameters = inspect.signature(type(self).__init__).parameters
        named = {name for name, parameter in parameters.items()
                 if name not in ("self", "modulation", "key", "device")
                 and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)}
        missing = sorted(named - set(self.init_args()))
        if missing:
            raise CommganError(
                f"system {self.name!r}: constructor argument(s) {', '.join(missing)} missing from "
                "init_args(); worker processes would rebuild it with their defaults")

    def __reduce__(self):
        """Pickled as a recipe (class, constructor arguments, key stream, weights): how a system
        reaches a worker process (modules with spectral norm cannot be pickled whole). The key
        travels in memory only, through the pipe to the worker."""
        self.check_recipe()
        state = {name: tensor.detach().cpu() for name, tensor in self.state_dict().items()}
        return (_rebuild_system, (type(self), self.modulation, self.init_args(), self.keystream,
                                  str(self.device), state, self.training))

    def labelled_constellation(self) -> LabelledConstellation | None:
        """The labelling the engine's index-domain fast link may use instead of bits; None
        (the default) = this system has none, the engine sends bits."""
        return None

    def fast_link(self) -> LabelledConstellation | None:
        """The labelling the engine may use, or None: the fast link is never inherited. A
        subclass that overrides any of :data:`LINK_METHODS` below the class that declared
        :meth:`labelled_constellation` (e.g. a coded link built on ``QAMSystem``) runs the bit
        path, unless it declares :meth:`labelled_constellation` again itself."""
        mro = type(self).__mro__

        def owner(name: str) -> int:
            return next(i for i, cls in enumerate(mro) if name in cls.__dict__)

        declared = owner("labelled_constellation")
        if any(owner(name) < declared for name in LINK_METHODS):
            return None
        return self.labelled_constellation()


LINK_METHODS = ("transmit", "receive", "eavesdrop", "bob_logits", "bits_per_channel_use",
                "frame_multiple")
"""What a system's link is made of: overriding one of them switches off an inherited fast link."""


def _rebuild_system(cls: type[System], modulation: ModulationSpec, init_args: dict,
                    keystream: KeyStream | None, device: str, state: dict, training: bool
                    ) -> System:
    system = cls(modulation, key=None if keystream is None else bytes(32), device=device,
                 **init_args)
    system.keystream = keystream
    system.load_state_dict(state)
    return system.train(training)


@dataclass(frozen=True)
class LearnedSpec:
    """How a learned system is configured and trained.

    ``default_training(modulation, channel)`` -> the default training config for a channel name
    (None: no channel-specific choice), a dataclass with ``to_dict``, ``steps``, ``seed``;
    ``architecture(training)`` -> the architecture config handed to the
    system's constructor (recorded in, and checked against, the checkpoint);
    ``train(system, channel, training, progress=, log=)`` -> the history (a DataFrame);
    ``critic_metrics(system, channel, training)`` -> extra held-out metrics for the checkpoint.
    """

    default_training: Callable[[ModulationSpec, str | None], Any]
    architecture: Callable[[Any], Any]
    train: Callable[..., pd.DataFrame]
    critic_metrics: Callable[[System, str, Any], dict] | None = None


@dataclass(frozen=True)
class SystemSpec:
    """A system as the CLI, the engine, the attack suite and export know it.

    ``system``: the class (``name`` and ``keyed`` come from it); ``summary``: one line for help
    texts; ``learned``: how it is trained (None = classical); ``default_sweep``: simulated by
    ``commgan simulate`` without ``--system``; ``attack_reference``: attacked by the attack
    suite's ``reference`` scenario; ``options``: a dataclass of the constructor's options
    (``--system NAME:OPTION=VALUE,...``; None = no options).
    """

    system: type[System]
    summary: str
    learned: LearnedSpec | None = None
    default_sweep: bool = False
    attack_reference: bool = False
    options: type | None = None

    @property
    def name(self) -> str:
        return self.system.name

    @property
    def keyed(self) -> bool:
        return self.system.keyed

    def build(self, modulation: ModulationSpec, key: bytes | None = None, device: str = "cpu",
              training: Any = None, channel: str | None = None,
              options: dict[str, Any] | None = None) -> System:
        """The system for ``modulation`` (learned ones untrained, shaped by ``training`` or the
        default training config for ``channel``); ``options``: constructor options, checked
        values of :attr:`options` (see :func:`commgan.comm.registry.parse_systems`)."""
        options = options or {}
        if self.learned is None:
            return self.system(modulation, key=key, device=device, **options)
        training = training or self.learned.default_training(modulation, channel)
        return self.system(modulation, self.learned.architecture(training), key=key,
                           device=device, **options)
