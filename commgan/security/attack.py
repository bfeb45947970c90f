"""The attack suite (``commgan attack``): fresh eavesdroppers against a frozen link, and a
verdict per scenario.

Alice and Bob are frozen; every Eve is trained from scratch after the fact, with several random
restarts (the best on a validation set is tested on fresh messages and nonces). The scenarios
are the records of :data:`commgan.security.scenarios.SCENARIOS`. A BER row's verdict is
``holds`` when Eve's 95% interval lies inside [0.49, 0.51], else ``broken``; a leakage row's is
``broken`` when the estimate is significantly above zero.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from commgan.comm.eavesdroppers import EVE_SIZES, EveTraining
from commgan.comm.keys import KeyStream
from commgan.comm.system import System
from commgan.errors import CommganError
from commgan.parallel import Backend, UnitExecutor, runs_inline
from commgan.rng import NonceCounter, derive_seed
from commgan.security.scenarios import (
    SCENARIOS,
    AttackPoint,
    reference_systems,
)
from commgan.security.wiretap import WiretapFrames, wiretap_frames
from commgan.sim.stats import FrameErrorStats, security_verdict

__all__ = ["ATTACK_COLUMNS", "BUDGETS", "AttackBudget", "AttackConfig", "AttackRun",
           "AttackUnit", "attack_units", "run_attack"]

ATTACK_COLUMNS = ["system", "channel", "mod", "scenario", "eve_model", "eve_params", "ebno_db",
                  "eve_ebno_db", "train_bits", "restarts", "best_restart", "bits", "errors", "ber",
                  "ci_low", "ci_high", "bob_ber", "leakage_bits", "leakage_null_bits", "verdict",
                  "note", "seconds"]


@dataclass(frozen=True)
class AttackBudget:
    """How hard Eve tries: known-plaintext bits, test bits, restarts, training steps."""

    train_bits: int
    """N: known-plaintext message bits (whole frames) per trained Eve."""
    val_bits: int
    """Held-out known-plaintext bits that pick the best restart."""
    test_bits: int
    """Fresh bits (fresh messages and nonces) each Eve is scored on."""
    restarts: int
    """Random restarts per trained Eve; the best on the validation set is reported."""
    eve: EveTraining
    """Optimiser settings of one restart."""
    critic_steps: int
    """Training steps of the leakage critic."""
    key_fit_steps: int
    """Steps of the nonce-reuse key-stream fit."""


BUDGETS: dict[str, AttackBudget] = {
    "small": AttackBudget(train_bits=102_400, val_bits=25_600, test_bits=102_400, restarts=3,
                          eve=EveTraining(steps=600, batch_frames=32), critic_steps=1000,
                          key_fit_steps=200),
    "full": AttackBudget(train_bits=1_024_000, val_bits=102_400, test_bits=1_024_000,
                         restarts=4, eve=EveTraining(steps=1500, batch_frames=32,
                                                     eval_every=100),
                         critic_steps=4000, key_fit_steps=500),
}


@dataclass
class AttackConfig:
    """One attack run (saved as config.json; the key is never part of it)."""

    systems: tuple[str, ...]
    """The systems under test (names in the systems registry)."""
    channel: str = "rayleigh"
    """Bob's and Eve's channel (a name in ``channels.CHANNELS``)."""
    mod: str = "16qam"
    """Modulation, which fixes R bits per channel use."""
    scenarios: tuple[str, ...] = tuple(SCENARIOS)
    """Names in :data:`~commgan.security.scenarios.SCENARIOS`."""
    ebno_db: tuple[float, ...] = (0.0, 10.0, 20.0)
    """Bob's Eb/N0 points in dB."""
    budget: str | AttackBudget = "small"
    """A name in :data:`BUDGETS`, or a custom budget (e.g. a smoke test's)."""
    frame_bits: int = 256
    """L: bits per frame (Eve's decoders are convolutional; any multiple of R works)."""
    better_channel_offset_db: float = 10.0
    """Eve's Eb/N0 above Bob's in the better-channel scenario, in dB."""
    wrong_key_distances: tuple[int, ...] = (1, 8, 128)
    """Hamming distances of the wrong keys Bob's receiver is given."""
    eve_sizes: tuple[str, ...] = tuple(EVE_SIZES)
    """Known-plaintext decoder sizes (names in :data:`EVE_SIZES`)."""
    seed: int = 0
    """Run seed: every frame, nonce and Eve initialisation derives from it."""
    device: str = "cpu"
    """Torch device the systems and Eves run on."""
    models: dict[str, str] = field(default_factory=dict)
    """Fingerprints of the learned systems' checkpoints."""

    @property
    def plan(self) -> AttackBudget:
        """The budget itself (looked up in :data:`BUDGETS` when given by name)."""
        return self.budget if isinstance(self.budget, AttackBudget) else BUDGETS[self.budget]

    def attacked_systems(self) -> list[tuple[str, tuple[str, ...]]]:
        """(system, its scenarios): the systems under test, then the reference systems."""
        own = tuple(s for s in self.scenarios if not SCENARIOS[s].on_reference_systems)
        jobs = [(name, own) for name in self.systems]
        against_references = tuple(s for s in self.scenarios
                                   if SCENARIOS[s].on_reference_systems)
        if against_references:
            jobs += [(name, against_references) for name in reference_systems()
                     if name not in self.systems]
        return jobs

    def to_dict(self) -> dict:
        """The config and the budget in full, JSON-ready."""
        return {**asdict(self), "budget_detail": asdict(self.plan)}

    @property
    def budget_name(self) -> str:
        """The budget's name, or ``custom``."""
        return "custom" if isinstance(self.budget, AttackBudget) else self.budget


@dataclass(frozen=True)
class AttackUnit:
    """One unit of an attack run: one scenario against one system at one of Bob's Eb/N0 points
    (``ebno_db`` None for a once-per-system scenario). Seeded by these labels alone, so a run's
    numbers do not depend on how many processes run its units or in which order."""

    system: str
    scenario: str
    ebno_db: float | None = None

    def seed(self, *labels: object) -> int:
        """A seed for this unit and ``labels``."""
        point = "-" if self.ebno_db is None else f"{self.ebno_db:g}"
        return derive_seed(self.system, self.scenario, point, *labels)


def attack_units(config: AttackConfig, systems: dict[str, System]) -> list[AttackUnit]:
    """The units of a run in table order: per system, each Eb/N0 point's scenarios (in their
    ``run_order``), then its once-per-system scenarios; keyed-only ones skip unkeyed systems."""
    units = []
    for name, scenarios in config.attacked_systems():
        chosen = sorted(((SCENARIOS[s], s) for s in scenarios
                         if systems[name].keyed or not SCENARIOS[s].keyed_only),
                        key=lambda pair: pair[0].run_order)
        for ebno_db in config.ebno_db:
            units += [AttackUnit(name, label, float(ebno_db))
                      for scenario, label in chosen if scenario.at_point is not None]
        units += [AttackUnit(name, label)
                  for scenario, label in chosen if scenario.per_system is not None]
    return units


class AttackRun:
    """The context of one unit: its own fresh nonces, the progress bar, the rows it found.
    Scenarios draw frames and report rows through it."""

    def __init__(self, config: AttackConfig, key: bytes, unit: AttackUnit,
                 bar: tqdm | None = None) -> None:
        self.config, self.key, self.unit = config, key, unit
        self.bar = bar if bar is not None else tqdm(disable=True)
        self.nonces = NonceCounter(derive_seed("nonces", config.seed, unit.seed()))
        self.rows: list[dict] = []

    def add(self, row: dict) -> None:
        """Record one result row (columns from :data:`ATTACK_COLUMNS`)."""
        self.rows.append(row)

    def frames_for(self, bits: int) -> int:
        """Whole frames that carry at least ``bits`` bits."""
        return max(1, -(-bits // self.config.frame_bits))

    def observe(self, system: System, ebno_db: float, bits: int, label: str,
                offset_db: float = 0.0, tap: bool = False,
                nonces: np.ndarray | None = None) -> WiretapFrames:
        """Fresh frames carrying ``bits`` bits at Bob's ``ebno_db`` (Eve ``offset_db`` above,
        or a noiseless tap), seeded by the run seed and ``label``; fresh nonces unless given."""
        nonces = self.nonces.fresh(self.frames_for(bits)) if nonces is None else nonces
        seed = derive_seed(self.config.seed, system.name, ebno_db, offset_db, tap, label)
        return wiretap_frames(system, self.config.channel, ebno_db, nonces,
                              self.config.frame_bits, seed, offset_db, tap=tap)

    def describe(self, system: str, scenario: str, model: str, ebno_db: float | None,
                 restart: int | None = None) -> None:
        """Name the attack under way on the progress bar."""
        point = "" if ebno_db is None else f" {ebno_db:g} dB"
        run = "" if restart is None else f" restart {restart + 1}/{self.config.plan.restarts}"
        self.bar.set_description(f"{system} | {scenario}: {model}{point}{run}")

    def add_ber_row(self, system: System, scenario: str, eve_model: str, ebno_db: float,
                    eve_ebno_db: float, frame_errors: torch.Tensor, bob_ber: float,
                    started: float, bits_per_frame: int | None = None, **extra) -> None:
        """A BER row from Eve's bit errors per frame [F]: BER, 95% interval, verdict.
        ``bits_per_frame``: the bits scored per frame when they are not the message's (the
        channel bits of a coded link, [F, n R]; noted in the row)."""
        if bits_per_frame is not None and bits_per_frame != self.config.frame_bits:
            coded = (f"BER of the {bits_per_frame} code bits per frame of the known message's "
                     "codeword (Eve knows the code)")
            extra["note"] = f"{coded}; {extra['note']}" if extra.get("note") else coded
        stats = FrameErrorStats(bits_per_frame or self.config.frame_bits)
        stats.add(frame_errors)
        low, high = stats.interval()
        self.add({
            "system": system.name, "scenario": scenario, "eve_model": eve_model,
            "ebno_db": ebno_db, "eve_ebno_db": eve_ebno_db, "bits": stats.bits,
            "errors": stats.errors, "ber": stats.ber, "ci_low": low, "ci_high": high,
            "bob_ber": bob_ber, "verdict": security_verdict(low, high),
            "seconds": time.perf_counter() - started, **extra})

    def point(self, system: System, ebno_db: float) -> AttackPoint:
        """The fresh test frames at Bob's ``ebno_db`` (the same for every scenario of the point:
        their nonces come from the point's own counter), and Bob's BER on them."""
        point_nonces = NonceCounter(derive_seed("nonces", self.config.seed, system.name,
                                                f"{ebno_db:g}", "test"))
        test = self.observe(system, ebno_db, self.config.plan.test_bits, "test",
                            nonces=point_nonces.fresh(self.frames_for(self.config.plan.test_bits)))
        with torch.no_grad():
            received = system.receive(test.bob, torch.as_tensor(test.nonces,
                                                                device=system.device))
        return AttackPoint(ebno_db, test, float((received != test.bits).float().mean()))

    def run(self, system: System) -> list[dict]:
        """Run this unit's scenario against ``system``; return its rows.

        A unit is a session of its own: the nonce-reuse guard starts afresh (a key stream that
        remembers no nonce), so the point's test frames, re-created identically by each unit at
        that point, do not trip it, while two frames of one unit under one nonce still do."""
        scenario = SCENARIOS[self.unit.scenario]
        guard = system.keystream
        if guard is not None:
            system.keystream = KeyStream(self.key)
        try:
            if self.unit.ebno_db is None:
                scenario.per_system(self, system)
            else:
                scenario.at_point(self, system, self.point(system, self.unit.ebno_db))
        finally:
            system.keystream = guard
        for row in self.rows:  # the run's label: the name and its non-default options
            row["system"] = self.unit.system
        return self.rows


def _attack_unit(shared: tuple, unit: AttackUnit) -> list[dict]:
    """One unit (in a worker process when jobs > 1): its rows."""
    config, systems, key, bar = shared
    return AttackRun(config, key, unit, bar).run(systems[unit.system])


def run_attack(config: AttackConfig, systems: dict[str, System], key: bytes,
               progress: bool = False, log: Callable[[str], None] = lambda message: None,
               on_row: Callable[[pd.DataFrame], None] | None = None, jobs: int = 1,
               threads: int = 1, backend: Backend | None = None) -> pd.DataFrame:
    """Run every scenario of ``config`` against ``systems`` (name -> frozen system, including
    the reference systems when that scenario is on); return the tidy table (ATTACK_COLUMNS).

    The units (:func:`attack_units`) run on ``jobs`` processes of ``threads`` torch threads
    (:class:`~commgan.parallel.UnitExecutor`, local or ``backend``); the table is
    identical for any ``jobs`` and backend.
    ``on_row(table_so_far)`` is called after each finished unit (e.g. to save partial results
    of a long run); ``log`` takes line messages (progress goes to the bar, in Eves trained)."""
    for name, _ in config.attacked_systems():
        if name not in systems:
            raise CommganError(f"attack: system {name!r} was not built")
        systems[name].check_frame_bits(config.frame_bits)
    units = attack_units(config, systems)
    rows: list[dict] = []
    with tqdm(total=sum(SCENARIOS[unit.scenario].units(config) for unit in units),
              disable=not progress, unit="eve", dynamic_ncols=True) as bar:
        inline = runs_inline(jobs, backend, config.device)
        executor = UnitExecutor(jobs, threads, (config, systems, key, bar if inline else None),
                                backend, config.device)
        for unit, found in executor.ordered(_attack_unit, units):
            if not inline:
                point = "" if unit.ebno_db is None else f" {unit.ebno_db:g} dB"
                bar.set_description(f"{unit.system} | {unit.scenario}{point}")
                bar.update(SCENARIOS[unit.scenario].units(config))
            rows += found
            if on_row is not None:
                on_row(_table(rows, config))
    return _table(rows, config)


def _table(rows: list[dict], config: AttackConfig) -> pd.DataFrame:
    """Rows with :data:`ATTACK_COLUMNS`."""
    frame = pd.DataFrame(rows).reindex(columns=ATTACK_COLUMNS)
    frame["channel"], frame["mod"] = config.channel, config.mod
    return frame
