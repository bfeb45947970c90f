"""The attack suite: fresh eavesdroppers against a frozen link, and a verdict per scenario.

Alice and Bob are frozen; every Eve is trained from scratch after the fact, with several random
restarts (the best on a validation set is tested on fresh messages and nonces). Kerckhoffs: Eve
knows the design and all weights, never the key. Scenarios (DESIGN section 6, issue 5):

``ciphertext-only``  the public receiver without the key (the in-loop Eve for gan-enc systems).
``known-plaintext``  N known (signal + CSI, message) frames under the key, other nonces; a
                     decoder of Bob's architecture (no key input) and a 2x wider, 2x deeper one.
``better-channel``   known-plaintext with Eve at Bob's Eb/N0 + 10 dB, and a noiseless tap.
``wrong-key``        Bob's own receiver holding a key at Hamming distance 1, 8, 128.
``leakage``          I(message; transmitted signal) in bits per message bit: a critic-based
                     Donsker-Varadhan lower bound and a histogram plug-in estimate.
``nonce-reuse``      misuse: frames under one repeated nonce; Eve fits the shared key stream
                     through Bob's public receiver from known plaintext (expected to break).
``reference``        known-plaintext against ae, gan-enc-naive, qam and qam+chacha.

A BER row's verdict is ``holds`` when Eve's 95% interval lies inside [0.49, 0.51], else
``broken``; a leakage row's is ``broken`` when the estimate is significantly above zero.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from commgan.comm.eavesdroppers import (  # noqa: E402
    EVE_SIZES,
    EveTraining,
    decoder_errors,
    dv_lower_bound,
    fit_key_stream,
    make_eve,
    parameter_count,
    plugin_leakage,
    train_eve,
)
from commgan.comm.keys import KeyStream, NonceReuseError  # noqa: E402
from commgan.comm.system import System  # noqa: E402
from commgan.errors import CommganError  # noqa: E402
from commgan.fileio import atomic_write, write_json  # noqa: E402
from commgan.sim.results import write_csv  # noqa: E402
from commgan.sim.stats import SECURE_BAND, FrameErrorStats, security_verdict  # noqa: E402
from commgan.sim.wiretap_data import (  # noqa: E402
    NonceCounter,
    derived_seed,
    wiretap_frames,
)

__all__ = ["ATTACK_COLUMNS", "BUDGETS", "REFERENCE_SYSTEMS", "SCENARIOS", "AttackBudget",
           "AttackConfig", "flip_key_bits", "format_attack_table", "parse_scenarios",
           "plot_attack", "run_attack", "write_attack_results"]

SCENARIOS = ("ciphertext-only", "known-plaintext", "better-channel", "wrong-key", "leakage",
             "nonce-reuse", "reference")
REFERENCE_SYSTEMS = ("ae", "gan-enc-naive", "qam", "qam+chacha")
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
    channel: str = "rayleigh"
    mod: str = "16qam"
    scenarios: tuple[str, ...] = SCENARIOS
    ebno_db: tuple[float, ...] = (0.0, 10.0, 20.0)
    budget: str | AttackBudget = "small"
    """A name in :data:`BUDGETS`, or a custom budget (e.g. a smoke test's)."""
    frame_bits: int = 256
    """L: bits per frame (Eve's decoders are convolutional; any multiple of R works)."""
    better_channel_offset_db: float = 10.0
    wrong_key_distances: tuple[int, ...] = (1, 8, 128)
    eve_sizes: tuple[str, ...] = tuple(EVE_SIZES)
    """Known-plaintext decoder sizes (names in :data:`EVE_SIZES`)."""
    seed: int = 0
    device: str = "cpu"
    models: dict[str, str] = field(default_factory=dict)
    """Fingerprints of the learned systems' checkpoints."""

    @property
    def plan(self) -> AttackBudget:
        return self.budget if isinstance(self.budget, AttackBudget) else BUDGETS[self.budget]

    def attacked_systems(self) -> list[tuple[str, tuple[str, ...]]]:
        """(system, its scenarios): the systems under test, then the reference systems."""
        own = tuple(s for s in self.scenarios if s != "reference")
        jobs = [(name, own) for name in self.systems]
        if "reference" in self.scenarios:
            jobs += [(name, ("reference",)) for name in REFERENCE_SYSTEMS
                     if name not in self.systems]
        return jobs

    def to_dict(self) -> dict:
        return {**asdict(self), "budget_detail": asdict(self.plan)}

    @property
    def budget_name(self) -> str:
        return "custom" if isinstance(self.budget, AttackBudget) else self.budget


def parse_scenarios(text: str) -> tuple[str, ...]:
    """``all`` or a comma list of :data:`SCENARIOS` names."""
    names = [part.strip().lower() for part in text.split(",") if part.strip()]
    if not names:
        raise CommganError(f"--scenarios is empty; use all or some of: {', '.join(SCENARIOS)}")
    if names == ["all"]:
        return SCENARIOS
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise CommganError(f"unknown scenario {unknown[0]!r}; valid: all, {', '.join(SCENARIOS)}")
    return tuple(dict.fromkeys(names))


def flip_key_bits(key: bytes, distance: int, seed: int) -> bytes:
    """``key`` with ``distance`` distinct bits flipped (positions drawn from ``seed``)."""
    bits = np.unpackbits(np.frombuffer(key, dtype=np.uint8))
    if not 0 <= distance <= len(bits):
        raise ValueError(f"Hamming distance must lie in [0, {len(bits)}]")
    positions = np.random.default_rng(seed).choice(len(bits), size=distance, replace=False)
    bits[positions] ^= 1
    return np.packbits(bits).tobytes()


def _units(config: AttackConfig, systems: dict[str, System]) -> int:
    """Progress-bar units: one per trained restart and one per evaluation-only Eve."""
    restarts, total = config.plan.restarts, 0
    for name, scenarios in config.attacked_systems():
        keyed = systems[name].keyed
        per_point = {"ciphertext-only": 1, "known-plaintext": len(config.eve_sizes) * restarts,
                     "better-channel": 2 * restarts, "reference": restarts,
                     "wrong-key": len(config.wrong_key_distances) if keyed else 0,
                     "nonce-reuse": 1 if keyed else 0}
        total += len(config.ebno_db) * sum(per_point.get(s, 0) for s in scenarios)
        total += 1 if "leakage" in scenarios else 0
    return total


class _Attack:
    """One run: fresh nonces, a progress bar, and the rows found so far."""

    def __init__(self, config: AttackConfig, systems: dict[str, System], key: bytes,
                 bar: tqdm, log: Callable[[str], None],
                 on_row: Callable[[pd.DataFrame], None] | None = None) -> None:
        self.config, self.systems, self.key, self.bar, self.log = config, systems, key, bar, log
        self.on_row = on_row
        self.nonces = NonceCounter(config.seed)
        self.rows: list[dict] = []

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if self.on_row is not None:
            self.on_row(self.table())

    def table(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.rows).reindex(columns=ATTACK_COLUMNS)
        frame["channel"], frame["mod"] = self.config.channel, self.config.mod
        return frame

    def frames_for(self, bits: int) -> int:
        return max(1, -(-bits // self.config.frame_bits))

    def observe(self, system: System, ebno_db: float, bits: int, label: str,
                offset_db: float = 0.0, tap: bool = False, nonces: np.ndarray | None = None):
        nonces = self.nonces.fresh(self.frames_for(bits)) if nonces is None else nonces
        seed = derived_seed(self.config.seed, system.name, ebno_db, offset_db, tap, label)
        return wiretap_frames(system, self.config.channel, ebno_db, nonces,
                              self.config.frame_bits, seed, offset_db, tap=tap)

    def describe(self, system: str, scenario: str, model: str, ebno_db: float | None,
                 restart: int | None = None) -> None:
        point = "" if ebno_db is None else f" {ebno_db:g} dB"
        run = "" if restart is None else f" restart {restart + 1}/{self.config.plan.restarts}"
        self.bar.set_description(f"{system} | {scenario}: {model}{point}{run}")

    def add_ber_row(self, system: System, scenario: str, eve_model: str, ebno_db: float,
                    eve_ebno_db: float, frame_errors: torch.Tensor, bob_ber: float,
                    started: float, **extra) -> None:
        stats = FrameErrorStats(self.config.frame_bits)
        stats.add(frame_errors)
        low, high = stats.interval()
        self.add({
            "system": system.name, "scenario": scenario, "eve_model": eve_model,
            "ebno_db": ebno_db, "eve_ebno_db": eve_ebno_db, "bits": stats.bits,
            "errors": stats.errors, "ber": stats.ber, "ci_low": low, "ci_high": high,
            "bob_ber": bob_ber, "verdict": security_verdict(low, high),
            "seconds": time.perf_counter() - started, **extra})

    def trained_eve(self, system: System, scenario: str, size: str, ebno_db: float,
                    bob_ber: float, offset_db: float = 0.0, tap: bool = False) -> None:
        """Known-plaintext Eve of ``size``: train on N bits, pick by validation, test fresh."""
        plan, started = self.config.plan, time.perf_counter()
        label = "noiseless tap" if tap else (
            f"{size}, Eve at +{offset_db:g} dB" if offset_db else size)
        train = self.observe(system, ebno_db, plan.train_bits, "train", offset_db, tap)
        val = self.observe(system, ebno_db, plan.val_bits, "val", offset_db, tap)
        test = self.observe(system, ebno_db, plan.test_bits, "test", offset_db, tap)
        self.describe(system.name, scenario, label, ebno_db, 0)

        def next_restart(restart: int) -> None:
            self.bar.update(1)
            if restart + 1 < plan.restarts:
                self.describe(system.name, scenario, label, ebno_db, restart + 1)

        seed = derived_seed(self.config.seed, system.name, scenario, label, ebno_db)
        model, chosen = train_eve(lambda: make_eve(system, size, system.device),
                                  train.seen_by_eve(), val.seen_by_eve(), plan.eve,
                                  plan.restarts, seed % (1 << 31), on_restart=next_restart)
        eve_ebno = math.inf if tap else ebno_db + offset_db
        self.add_ber_row(system, scenario, f"known-plaintext decoder ({label})", ebno_db,
                         eve_ebno, decoder_errors(model, test.seen_by_eve()), bob_ber, started,
                         eve_params=parameter_count(model), train_bits=train.bits.numel(),
                         restarts=plan.restarts, best_restart=chosen["best_restart"])

    def bob_reference(self, system: System, ebno_db: float):
        """Fresh test frames, and Bob's BER on them (his own channel at ``ebno_db``)."""
        test = self.observe(system, ebno_db, self.config.plan.test_bits, "test")
        with torch.no_grad():
            received = system.receive(test.bob, torch.as_tensor(test.nonces,
                                                                device=system.device))
        return test, float((received != test.bits).float().mean())

    def attack(self, system: System, scenarios: tuple[str, ...]) -> None:
        for ebno_db in self.config.ebno_db:
            test, bob_ber = self.bob_reference(system, ebno_db)
            if "ciphertext-only" in scenarios:
                started = time.perf_counter()
                self.describe(system.name, "ciphertext-only", "public receiver", ebno_db)
                with torch.no_grad():
                    errors = (system.eavesdrop(test.eve) != test.bits).sum(-1)
                self.add_ber_row(system, "ciphertext-only", "public receiver, no key", ebno_db,
                                 ebno_db, errors, bob_ber, started)
                self.bar.update(1)
            if "known-plaintext" in scenarios:
                for size in self.config.eve_sizes:
                    self.trained_eve(system, "known-plaintext", size, ebno_db, bob_ber)
            if "reference" in scenarios:
                self.trained_eve(system, "reference", "bob-arch", ebno_db, bob_ber)
            if "better-channel" in scenarios:
                self.trained_eve(system, "better-channel", "bob-arch", ebno_db, bob_ber,
                                 offset_db=self.config.better_channel_offset_db)
                self.trained_eve(system, "better-channel", "bob-arch", ebno_db, bob_ber,
                                 tap=True)
            if system.keyed and "wrong-key" in scenarios:
                self.wrong_key(system, test, ebno_db, bob_ber)
            if system.keyed and "nonce-reuse" in scenarios:
                self.nonce_reuse(system, ebno_db, bob_ber)
        if "leakage" in scenarios:
            self.leakage(system)

    def wrong_key(self, system: System, test, ebno_db: float, bob_ber: float) -> None:
        nonces = torch.as_tensor(test.nonces, device=system.device)
        for distance in self.config.wrong_key_distances:
            started = time.perf_counter()
            self.describe(system.name, "wrong-key", f"distance {distance}", ebno_db)
            wrong = flip_key_bits(self.key, distance, derived_seed(self.config.seed, distance))
            with torch.no_grad():
                errors = (system.receive(test.bob, nonces, key=wrong) != test.bits).sum(-1)
            self.add_ber_row(system, "wrong-key", f"Bob's receiver, key distance {distance}",
                             ebno_db, ebno_db, errors, bob_ber, started)
            self.bar.update(1)

    def nonce_reuse(self, system: System, ebno_db: float, bob_ber: float) -> None:
        """Known frames and fresh frames all under one nonce; Eve fits the shared key stream."""
        plan, started = self.config.plan, time.perf_counter()
        self.describe(system.name, "nonce-reuse", "key-stream fit", ebno_db)
        nonce = self.nonces.fresh(1)
        try:
            KeyStream(self.key).encryption_bits(np.repeat(nonce, 2), 8)
            note = "NOT refused by default"
        except NonceReuseError:
            note = "refused by default (NonceReuseError); allowed here to show why"
        honest = system.keystream
        system.keystream = KeyStream(self.key, allow_nonce_reuse=True)
        try:
            known = self.observe(system, ebno_db, plan.train_bits, "reuse-known",
                                 nonces=np.repeat(nonce, self.frames_for(plan.train_bits)))
            test = self.observe(system, ebno_db, plan.test_bits, "reuse-test",
                                nonces=np.repeat(nonce, self.frames_for(plan.test_bits)))
        finally:
            system.keystream = honest
        seed = derived_seed(self.config.seed, system.name, "nonce-reuse", ebno_db)
        z = fit_key_stream(system, known.seen_by_eve(), steps=plan.key_fit_steps,
                           seed=seed % (1 << 31))
        with torch.no_grad():
            errors = decoder_errors(lambda out: system.bob_logits(out, z.expand(
                out.y.shape[0], -1)), test.seen_by_eve())
        self.add_ber_row(system, "nonce-reuse", "key-stream fit via Bob's receiver", ebno_db,
                         ebno_db, errors, bob_ber, started, train_bits=known.bits.numel(),
                         note=note)
        self.bar.update(1)

    def leakage(self, system: System) -> None:
        """I(m; x) per message bit on the transmitted signal (no channel involved)."""
        plan, started = self.config.plan, time.perf_counter()
        self.describe(system.name, "leakage", "critic + plug-in", None)
        r = system.modulation.num_bits_per_symbol
        train = self.observe(system, 0.0, plan.train_bits, "leakage-train")
        test = self.observe(system, 0.0, plan.test_bits, "leakage-test")
        seed = derived_seed(self.config.seed, system.name, "leakage") % (1 << 31)
        with torch.enable_grad():
            bound = dv_lower_bound(train.bits, train.x, test.bits, test.x, r,
                                   steps=plan.critic_steps, seed=seed)
        common = {"system": system.name, "scenario": "leakage", "bits": test.bits.numel(),
                  "train_bits": train.bits.numel()}
        self.add({
            **common, "eve_model": "critic lower bound (Donsker-Varadhan)",
            "leakage_bits": bound["bits"], "leakage_null_bits": 0.0,
            "ci_low": bound["ci_low"], "ci_high": bound["ci_high"],
            "verdict": "broken" if bound["ci_low"] > 0 else "holds",
            "note": "lower bound on I(m;x)/L; ci_* = bootstrap 95% of the bound",
            "seconds": time.perf_counter() - started})
        started = time.perf_counter()
        bits = torch.cat([train.bits, test.bits])
        x = torch.cat([train.x, test.x])
        plugin = plugin_leakage(bits, x, r, seed=seed)
        self.add({
            **common, "bits": bits.numel(), "eve_model": "plug-in on symbol I/Q (16x16 grid)",
            "leakage_bits": plugin["bits"], "leakage_null_bits": plugin["null_bits"],
            "verdict": "broken" if plugin["bits"] > plugin["null_bits"] else "holds",
            "note": "estimate of I(m_j; x_j)/R, Miller-Madow; null = max over 20 permutations",
            "seconds": time.perf_counter() - started})
        self.bar.update(1)


def run_attack(config: AttackConfig, systems: dict[str, System], key: bytes,
               progress: bool = False, log: Callable[[str], None] = lambda message: None,
               on_row: Callable[[pd.DataFrame], None] | None = None) -> pd.DataFrame:
    """Run every scenario of ``config`` against ``systems`` (name -> frozen system, including
    the reference systems when that scenario is on); return the tidy table (ATTACK_COLUMNS).

    ``on_row(table_so_far)`` is called after each finished attack (e.g. to save partial
    results of a long run)."""
    for name, _ in config.attacked_systems():
        if name not in systems:
            raise CommganError(f"attack: system {name!r} was not built")
        systems[name].check_frame_bits(config.frame_bits)
    with tqdm(total=_units(config, systems), disable=not progress, unit="eve",
              dynamic_ncols=True) as bar:
        run = _Attack(config, systems, key, bar, log, on_row)
        for name, scenarios in config.attacked_systems():
            run.attack(systems[name], scenarios)
    return run.table()


def format_attack_table(results: pd.DataFrame) -> str:
    """A readable table: one line per Eve, BER with its 95% interval, Bob's BER, verdict."""
    lines = [f"{'system':<14}{'scenario':<17}{'eve':<52}{'Eb/N0':>6}  "
             f"{'Eve BER [95% CI]':<27}{'Bob BER':>9}  verdict"]
    for row in results.itertuples():
        if row.scenario == "leakage":
            value = (f"{row.leakage_bits:+.4f} bit/bit [{row.ci_low:+.4f}, {row.ci_high:+.4f}]"
                     if not math.isnan(row.ci_low) else
                     f"{row.leakage_bits:+.4f} bit/bit (null {row.leakage_null_bits:.4f})")
            lines.append(f"{row.system:<14}{row.scenario:<17}{row.eve_model:<52}{'-':>6}  "
                         f"{value:<36}{row.verdict}")
            continue
        verdict = row.verdict if row.verdict == "holds" else f"broken (Eve BER {row.ber:.4f})"
        lines.append(f"{row.system:<14}{row.scenario:<17}{row.eve_model:<52}{row.ebno_db:>6g}  "
                     f"{row.ber:.4f} [{row.ci_low:.4f}, {row.ci_high:.4f}]  "
                     f"{row.bob_ber:>9.4f}  {verdict}")
    return "\n".join(lines)


def plot_attack(results: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Eve's BER with 95% intervals per attack (one panel per system), the holds band shaded."""
    ber_rows = results[results["scenario"] != "leakage"]
    names = list(dict.fromkeys(ber_rows["system"]))
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 1.0 + 2.6 * max(len(names), 1)),
                             squeeze=False)
    grid = sorted(ber_rows["ebno_db"].unique())
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, name in zip(axes[:, 0], names, strict=True):
        rows = ber_rows[ber_rows["system"] == name]
        labels = list(dict.fromkeys(rows["scenario"] + ": " + rows["eve_model"]))
        ax.axhspan(*SECURE_BAND, color="tab:green", alpha=0.2, lw=0)
        ax.axhline(0.5, color="tab:green", lw=0.8)
        for index, ebno_db in enumerate(grid):
            at = rows[rows["ebno_db"] == ebno_db]
            where = [labels.index(s + ": " + m) + (index - (len(grid) - 1) / 2) * 0.15
                     for s, m in zip(at["scenario"], at["eve_model"], strict=True)]
            errors = np.vstack([at["ber"] - at["ci_low"], at["ci_high"] - at["ber"]])
            ax.errorbar(where, at["ber"], yerr=errors, fmt="o", ms=4, capsize=2,
                        color=colours[index % len(colours)], label=f"Eve, {ebno_db:g} dB")
            ax.plot(where, at["bob_ber"], "_", ms=9, color=colours[index % len(colours)])
        ax.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=7)
        ax.set_ylim(0, 0.56)
        ax.set_ylabel("BER")
        ax.set_title(f"{name}  (band: holds; dashes: Bob)", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    plt.close(fig)


def write_attack_results(results: pd.DataFrame, out: Path, config: AttackConfig,
                         extra: dict | None = None) -> None:
    """attack.csv, attack.png and config.json in ``out`` (created here)."""
    out.mkdir(parents=True, exist_ok=True)
    write_csv(results, out / "attack.csv")
    plot_attack(results, out / "attack.png",
                f"{', '.join(config.systems)} on {config.channel} / {config.mod}, "
                f"budget {config.budget_name}")
    write_json({"config": config.to_dict(), **(extra or {})}, out / "config.json")
