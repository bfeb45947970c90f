"""The attack scenarios (DESIGN section 6), one record each in :data:`SCENARIOS`.

A scenario runs either at each of Bob's Eb/N0 points (on that point's fresh test frames) or
once per system; keyed-only scenarios skip systems without a key. Kerckhoffs: Eve knows the
design and all weights, never the key.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from commgan.comm.eavesdroppers import (
    decoder_errors,
    dv_lower_bound,
    fit_key_stream,
    make_eve,
    parameter_count,
    plugin_leakage,
    train_eve,
)
from commgan.comm.keys import KeyStream, NonceReuseError
from commgan.comm.registry import SYSTEMS
from commgan.comm.system import System
from commgan.errors import CommganError
from commgan.rng import derive_seed
from commgan.security.wiretap import WiretapFrames

if TYPE_CHECKING:
    from commgan.security.attack import AttackConfig, AttackRun

__all__ = ["SCENARIOS", "AttackPoint", "Scenario", "flip_key_bits", "parse_scenarios",
           "reference_systems", "trained_eve"]


@dataclass(frozen=True)
class AttackPoint:
    """One Eb/N0 of one system: Bob's fresh test frames there and his BER on them."""

    ebno_db: float
    """Bob's Eb/N0 in dB."""
    test: WiretapFrames
    """Fresh frames (new messages and nonces) that the point's Eves are scored on."""
    bob_ber: float
    """Bob's BER on ``test`` (his own receiver and key)."""


@dataclass(frozen=True)
class Scenario:
    """One attack scenario: what it does, how it runs, and its share of the progress bar."""

    summary: str
    """What Eve has and does, in one sentence."""
    run_order: int
    """Position among one Eb/N0 point's (or one system's) rows of the table."""
    units: Callable[[AttackConfig], int]
    """Progress-bar units of one run: one per trained restart or evaluated Eve."""
    at_point: Callable[[AttackRun, System, AttackPoint], None] | None = None
    """The attack at one Eb/N0 point (``None`` for a scenario that runs once per system)."""
    per_system: Callable[[AttackRun, System], None] | None = None
    """The attack run once per system, after all points (for attacks that need no channel)."""
    keyed_only: bool = False
    """Skipped for systems without a key."""
    on_reference_systems: bool = False
    """Run against :func:`reference_systems` instead of the systems under test."""


def reference_systems() -> tuple[str, ...]:
    """The systems the ``reference`` scenario attacks: those the systems registry marks
    ``attack_reference``, in name order (the order fixes the shared nonces)."""
    return tuple(sorted(name for name, spec in SYSTEMS.items() if spec.attack_reference))


def parse_scenarios(text: str) -> tuple[str, ...]:
    """``all`` or a comma list of :data:`SCENARIOS` names."""
    valid = ", ".join(SCENARIOS)
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise CommganError(f"--scenarios is empty; use all or some of: {valid}")
    if names == ["all"]:
        return tuple(SCENARIOS)
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise CommganError(f"unknown scenario {unknown[0]!r}; valid: all, {valid}")
    return tuple(dict.fromkeys(names))


def flip_key_bits(key: bytes, distance: int, seed: int) -> bytes:
    """``key`` with ``distance`` distinct bits flipped (positions drawn from ``seed``)."""
    bits = np.unpackbits(np.frombuffer(key, dtype=np.uint8))
    if not 0 <= distance <= len(bits):
        raise ValueError(f"Hamming distance must lie in [0, {len(bits)}]")
    positions = np.random.default_rng(seed).choice(len(bits), size=distance, replace=False)
    bits[positions] ^= 1
    return np.packbits(bits).tobytes()


def trained_eve(run: AttackRun, system: System, scenario: str, size: str, point: AttackPoint,
                offset_db: float = 0.0, tap: bool = False) -> None:
    """Known-plaintext Eve of ``size``: train on N bits, pick a restart by validation, test on
    fresh frames; Eve listens ``offset_db`` above Bob (or, with ``tap``, sees x itself)."""
    plan, started, ebno_db = run.config.plan, time.perf_counter(), point.ebno_db
    label = "noiseless tap" if tap else (
        f"{size}, Eve at +{offset_db:g} dB" if offset_db else size)
    train = run.observe(system, ebno_db, plan.train_bits, "train", offset_db, tap)
    val = run.observe(system, ebno_db, plan.val_bits, "val", offset_db, tap)
    test = run.observe(system, ebno_db, plan.test_bits, "test", offset_db, tap)
    run.describe(system.name, scenario, label, ebno_db, 0)

    def next_restart(restart: int) -> None:
        run.bar.update(1)
        if restart + 1 < plan.restarts:
            run.describe(system.name, scenario, label, ebno_db, restart + 1)

    seed = derive_seed(run.config.seed, system.name, scenario, label, ebno_db)
    model, chosen = train_eve(lambda: make_eve(system, size, system.device),
                              train.seen_by_eve(), val.seen_by_eve(), plan.eve,
                              plan.restarts, seed % (1 << 31), on_restart=next_restart)
    eve_ebno = math.inf if tap else ebno_db + offset_db
    run.add_ber_row(system, scenario, f"known-plaintext decoder ({label})", ebno_db,
                    eve_ebno, decoder_errors(model, test.seen_by_eve()), point.bob_ber, started,
                    bits_per_frame=test.channel_bits.shape[-1],
                    eve_params=parameter_count(model), train_bits=train.bits.numel(),
                    restarts=plan.restarts, best_restart=chosen["best_restart"])


def _ciphertext_only(run: AttackRun, system: System, point: AttackPoint) -> None:
    started = time.perf_counter()
    run.describe(system.name, "ciphertext-only", "public receiver", point.ebno_db)
    with torch.no_grad():
        errors = (system.eavesdrop(point.test.eve) != point.test.bits).sum(-1)
    run.add_ber_row(system, "ciphertext-only", "public receiver, no key", point.ebno_db,
                    point.ebno_db, errors, point.bob_ber, started)
    run.bar.update(1)


def _known_plaintext(run: AttackRun, system: System, point: AttackPoint) -> None:
    for size in run.config.eve_sizes:
        trained_eve(run, system, "known-plaintext", size, point)


def _reference(run: AttackRun, system: System, point: AttackPoint) -> None:
    trained_eve(run, system, "reference", "bob-arch", point)


def _better_channel(run: AttackRun, system: System, point: AttackPoint) -> None:
    trained_eve(run, system, "better-channel", "bob-arch", point,
                offset_db=run.config.better_channel_offset_db)
    trained_eve(run, system, "better-channel", "bob-arch", point, tap=True)


def _wrong_key(run: AttackRun, system: System, point: AttackPoint) -> None:
    nonces = torch.as_tensor(point.test.nonces, device=system.device)
    for distance in run.config.wrong_key_distances:
        started = time.perf_counter()
        run.describe(system.name, "wrong-key", f"distance {distance}", point.ebno_db)
        wrong = flip_key_bits(run.key, distance, derive_seed(run.config.seed, distance))
        with torch.no_grad():
            received = system.receive(point.test.bob, nonces, key=wrong)
        run.add_ber_row(system, "wrong-key", f"Bob's receiver, key distance {distance}",
                        point.ebno_db, point.ebno_db, (received != point.test.bits).sum(-1),
                        point.bob_ber, started)
        run.bar.update(1)


def _nonce_reuse(run: AttackRun, system: System, point: AttackPoint) -> None:
    """Known frames and fresh frames all under one nonce; Eve fits the shared key stream."""
    plan, started, ebno_db = run.config.plan, time.perf_counter(), point.ebno_db
    run.describe(system.name, "nonce-reuse", "key-stream fit", ebno_db)
    nonce = run.nonces.fresh(1)
    try:
        KeyStream(run.key).encryption_bits(np.repeat(nonce, 2), 8)
        note = "NOT refused by default"
    except NonceReuseError:
        note = "refused by default (NonceReuseError); allowed here to show why"
    honest = system.keystream
    system.keystream = KeyStream(run.key, allow_nonce_reuse=True)
    try:
        known = run.observe(system, ebno_db, plan.train_bits, "reuse-known",
                            nonces=np.repeat(nonce, run.frames_for(plan.train_bits)))
        test = run.observe(system, ebno_db, plan.test_bits, "reuse-test",
                           nonces=np.repeat(nonce, run.frames_for(plan.test_bits)))
    finally:
        system.keystream = honest
    seed = derive_seed(run.config.seed, system.name, "nonce-reuse", ebno_db)
    z = fit_key_stream(system, known.seen_by_eve(), steps=plan.key_fit_steps,
                       seed=seed % (1 << 31))
    with torch.no_grad():
        errors = decoder_errors(lambda out: system.bob_logits(out, z.expand(
            out.y.shape[0], -1)), test.seen_by_eve())
    run.add_ber_row(system, "nonce-reuse", "key-stream fit via Bob's receiver", ebno_db,
                    ebno_db, errors, point.bob_ber, started, train_bits=known.bits.numel(),
                    bits_per_frame=test.channel_bits.shape[-1], note=note)
    run.bar.update(1)


def _leakage(run: AttackRun, system: System) -> None:
    """I(m; x) per channel bit on the transmitted signal (no channel involved): per message bit
    on uncoded links; a coded link's channel bits are the message's codeword, a bijection of m,
    so the same information is divided by n / k times as many bits."""
    plan, started = run.config.plan, time.perf_counter()
    run.describe(system.name, "leakage", "critic + plug-in", None)
    r = system.modulation.num_bits_per_symbol
    train = run.observe(system, 0.0, plan.train_bits, "leakage-train")
    test = run.observe(system, 0.0, plan.test_bits, "leakage-test")
    seed = derive_seed(run.config.seed, system.name, "leakage") % (1 << 31)
    with torch.enable_grad():
        bound = dv_lower_bound(train.channel_bits, train.x, test.channel_bits, test.x, r,
                               steps=plan.critic_steps, seed=seed)
    common = {"system": system.name, "scenario": "leakage", "bits": test.channel_bits.numel(),
              "train_bits": train.channel_bits.numel()}
    run.add({
        **common, "eve_model": "critic lower bound (Donsker-Varadhan)",
        "leakage_bits": bound["bits"], "leakage_null_bits": 0.0,
        "ci_low": bound["ci_low"], "ci_high": bound["ci_high"],
        "verdict": "broken" if bound["ci_low"] > 0 else "holds",
        "note": "lower bound on I(c;x) per channel bit c (c = m uncoded); ci_* = bootstrap 95% "
                "of the bound",
        "seconds": time.perf_counter() - started})
    started = time.perf_counter()
    bits = torch.cat([train.channel_bits, test.channel_bits])
    x = torch.cat([train.x, test.x])
    plugin = plugin_leakage(bits, x, r, seed=seed)
    run.add({
        **common, "bits": bits.numel(), "eve_model": "plug-in on symbol I/Q (16x16 grid)",
        "leakage_bits": plugin["bits"], "leakage_null_bits": plugin["null_bits"],
        "verdict": "broken" if plugin["bits"] > plugin["null_bits"] else "holds",
        "note": "estimate of I(m_j; x_j)/R, Miller-Madow; null = max over 20 permutations",
        "seconds": time.perf_counter() - started})
    run.bar.update(1)


SCENARIOS: dict[str, Scenario] = {
    "ciphertext-only": Scenario(
        "The public receiver without the key (the in-loop Eve for gan-enc systems).",
        run_order=0, units=lambda config: 1, at_point=_ciphertext_only),
    "known-plaintext": Scenario(
        "N known (signal + CSI, message) frames under the key, other nonces; a decoder of "
        "Bob's architecture (no key input) and a 2x wider, 2x deeper one.",
        run_order=1, units=lambda config: len(config.eve_sizes) * config.plan.restarts,
        at_point=_known_plaintext),
    "better-channel": Scenario(
        "Known plaintext with Eve at Bob's Eb/N0 + 10 dB, and with a noiseless tap.",
        run_order=3, units=lambda config: 2 * config.plan.restarts, at_point=_better_channel),
    "wrong-key": Scenario(
        "Bob's own receiver holding a key at Hamming distance 1, 8, 128.",
        run_order=4, units=lambda config: len(config.wrong_key_distances),
        at_point=_wrong_key, keyed_only=True),
    "leakage": Scenario(
        "I(message; transmitted signal) in bits per channel bit (per message bit uncoded): "
        "a critic-based "
        "Donsker-Varadhan lower bound and a histogram plug-in estimate.",
        run_order=6, units=lambda config: 1, per_system=_leakage),
    "nonce-reuse": Scenario(
        "Misuse: frames under one repeated nonce; Eve fits the shared key stream through "
        "Bob's public receiver from known plaintext (expected to break).",
        run_order=5, units=lambda config: 1, at_point=_nonce_reuse, keyed_only=True),
    "reference": Scenario(
        "Known plaintext against the reference systems (the registry's attack_reference).",
        run_order=2, units=lambda config: config.plan.restarts, at_point=_reference,
        on_reference_systems=True),
}
