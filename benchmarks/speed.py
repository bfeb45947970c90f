"""Speed of the learned path, under load, and across processes (issue 16), each as ratios against
a peer measured in the same run.

    python benchmarks/speed.py learned     # ae / gan-enc Monte Carlo vs a Sionna neural-demapper
                                           # hand loop and the measured matmul roofline
    python benchmarks/speed.py load        # qam Monte Carlo and ae training steps, idle vs with
                                           # 1 and 3 busy-loop processes beside them
    python benchmarks/speed.py jobs        # simulate and attack, --jobs 1 vs --jobs 2
    python benchmarks/speed.py ray         # --backend ray vs local --jobs 2 (a local Ray)
    python benchmarks/speed.py train       # default trainings in fp32 vs --precision auto (bf16
                                           # where native), time and Bob's BER of both models

Each writes a CSV and prints a markdown table (``--out``, default results/benchmarks/).
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import pandas as pd
from speed_work import (
    ae_flop_per_bit,
    busy_loops,
    engine_loop,
    matmul_roofline,
    rate,
    sionna_neural_loop,
    write_table,
)

from channels import WiretapChannel
from commgan.comm.registry import build_system
from commgan.configfile import config_option
from commgan.parallel import configure_process
from commgan.rng import use_seed
from commgan.sim.engine import simulate_point


@click.group()
def main() -> None:
    """Speed benchmarks of issue 16."""


@main.command()
@config_option
@click.option("--seconds", type=float, default=4.0, show_default=True, help="Per measurement.")
@click.option("--threads", type=int, default=1, show_default=True, help="torch threads.")
@click.option("--out", default="results/benchmarks", show_default=True)
def learned(seconds: float, threads: int, out: str) -> None:
    """ae and gan-enc Monte Carlo vs the Sionna neural-demapper loop and the roofline."""
    configure_process(threads)
    use_seed(0)
    roofline = matmul_roofline()
    cached_roofline = matmul_roofline(rows=4096)
    flop = ae_flop_per_bit()
    rows = []
    for channel in ("awgn", "rayleigh"):
        peer = rate(sionna_neural_loop(channel), seconds) / 1e6
        for name, loop, previous in (
                ("sionna neural demapper", None, False), ("ae", "ae", False),
                ("ae, previous path", "ae", True), ("gan-enc (Bob + Eve)", "gan-enc", False),
                ("gan-enc (Bob + Eve), previous path", "gan-enc", True),
                ("qam (fast link)", "qam", False)):
            mbit = peer if loop is None else rate(engine_loop(loop, channel, previous),
                                                  seconds) / 1e6
            row = {"channel": channel, "link": name, "threads": threads, "mbit_per_s": mbit,
                   "vs_sionna_loop": mbit / peer}
            if loop == "ae" and not previous:
                row["gflop_per_s"] = mbit * flop / 1e3
                row["share_of_roofline"] = mbit * flop / 1e3 / roofline
                row["share_of_cached_roofline"] = mbit * flop / 1e3 / cached_roofline
            rows.append(row)
    for label, value in (("[131072 x 64] x [64 x 64] matmul", roofline),
                         ("[4096 x 64] x [64 x 64] matmul (cache-resident)", cached_roofline)):
        rows.append({"channel": "-", "link": f"{label}: ae roofline at {flop:.0f} FLOP/bit",
                     "threads": threads, "gflop_per_s": value, "mbit_per_s": value * 1e3 / flop})
    write_table(rows, Path(out), "learned_throughput")


@main.command()
@config_option
@click.option("--seconds", type=float, default=6.0, show_default=True, help="Per measurement.")
@click.option("--out", default="results/benchmarks", show_default=True)
def load(seconds: float, out: str) -> None:
    """qam Monte Carlo (2 worker processes, 1 thread each, as `commgan simulate`) and ae
    training steps (1 thread), idle and beside 1 and 3 busy loops; then torch's 2 threads."""
    from commgan.comm.autoencoder import AutoencoderTraining, train_autoencoder
    from commgan.sim.config import SimulationConfig
    from commgan.sim.sweep import run_sweep

    qam = {"qam": build_system("qam", "16qam")}

    def sweep_bits() -> int:
        config = SimulationConfig(channel="awgn", systems=("qam",), ebno_db=(0.0, 2.0, 4.0, 6.0),
                                  target_errors=1 << 40, max_bits=8 << 20)
        table = run_sweep(config, qam, progress=False, jobs=2)
        return int(table["bits"].sum())

    def train_steps() -> int:
        system = build_system("ae", "16qam")
        train_autoencoder(system, "awgn", AutoencoderTraining(steps=40))
        return 40

    rows = []
    for threads in (1, 2):
        for loops in (0, 1, 3):
            with busy_loops(loops):
                configure_process(threads)
                qam_rate = rate(sweep_bits, seconds) / 1e6 if threads == 1 else float("nan")
                steps = rate(train_steps, seconds)
            rows.append({"torch_threads": threads, "busy_loops": loops,
                         "qam_mbit_per_s": qam_rate, "ae_train_steps_per_s": steps})
    table = pd.DataFrame(rows)
    for column in ("qam_mbit_per_s", "ae_train_steps_per_s"):
        idle = table[(table["busy_loops"] == 0)].set_index("torch_threads")[column]
        table[f"{column}_share_of_idle"] = table[column] / table["torch_threads"].map(idle)
    write_table(table.to_dict("records"), Path(out), "load")
    configure_process(1)


@main.command()
@config_option
@click.option("--out", default="results/benchmarks", show_default=True)
def jobs(out: str) -> None:
    """A 16-point qam + ae sweep (10^7 bits a point, the CLI default) with --jobs 1 and 2
    (identical rows required)."""
    from commgan.sim.config import SimulationConfig
    from commgan.sim.sweep import run_sweep

    systems = {"qam": build_system("qam", "16qam"), "ae": build_system("ae", "16qam")}
    systems["ae"].eval()
    config = SimulationConfig(channel="rayleigh", systems=("qam", "ae"),
                              ebno_db=tuple(float(x) for x in range(0, 32, 2)),
                              target_errors=1 << 40, max_bits=10_000_000)
    rows, tables = [], {}
    for count in (1, 2, 1, 2):
        start = time.perf_counter()
        tables[count] = run_sweep(config, systems, progress=False, jobs=count)
        seconds = time.perf_counter() - start
        rows.append({"jobs": count, "seconds": seconds,
                     "mbit_per_s": tables[count]["bits"].sum() / seconds / 1e6})
    same = tables[1][["bits", "errors"]].equals(tables[2][["bits", "errors"]])
    table = pd.DataFrame(rows).groupby("jobs", as_index=False).agg(
        seconds=("seconds", "min"), mbit_per_s=("mbit_per_s", "max"))
    table["speed_up"] = table["mbit_per_s"] / table.loc[table["jobs"] == 1, "mbit_per_s"].iloc[0]
    table["identical_rows"] = same
    table.insert(0, "run", "simulate: 16-point qam + ae sweep")
    write_table(table.to_dict("records") + _one_point_jobs() + _attack_jobs(), Path(out), "jobs")


def _one_point_jobs() -> list[dict]:
    """One long point (the shipped rayleigh-fast ae at 26 dB, 8000 errors): its blocks are the
    units, --jobs 1 vs 2 (best of two runs each, the fork server warm)."""
    from commgan.sim.config import SimulationConfig
    from commgan.sim.sweep import run_sweep
    from commgan.systems import SystemContext, build_systems

    systems = build_systems(["ae"], SystemContext(channel="rayleigh-fast"))
    config = SimulationConfig(channel="rayleigh-fast", systems=("ae",), ebno_db=(26.0,),
                              target_errors=8000, max_bits=200_000_000)
    seconds: dict[int, float] = {}
    tables = {}
    for count in (2, 1, 2, 1):
        start = time.perf_counter()
        tables[count] = run_sweep(config, systems, progress=False, jobs=count)
        seconds[count] = min(seconds.get(count, float("inf")), time.perf_counter() - start)
    same = tables[1][["bits", "errors"]].equals(tables[2][["bits", "errors"]])
    return [{"run": "simulate: one point, ae rayleigh-fast 26 dB", "jobs": count,
             "seconds": seconds[count], "speed_up": seconds[1] / seconds[count],
             "identical_rows": same} for count in (1, 2)]


def _attack_jobs() -> list[dict]:
    """The attack suite (gan-enc on rayleigh, budget small, 3 Eb/N0 points, the scenarios on
    gan-enc itself) with --jobs 1 and 2: wall time and identical tables."""
    from commgan.security.attack import AttackConfig, run_attack
    from commgan.systems import SystemContext, build_systems

    key = bytes(range(32))
    system = build_systems(["gan-enc"], SystemContext(channel="rayleigh", key=key))["gan-enc"]
    config = AttackConfig(systems=("gan-enc",), channel="rayleigh",
                          scenarios=("ciphertext-only", "known-plaintext", "wrong-key"),
                          ebno_db=(0.0, 10.0, 20.0), budget="small", eve_sizes=("bob-arch",))
    rows, tables = [], {}
    for count in (1, 2):
        start = time.perf_counter()
        tables[count] = run_attack(config, {"gan-enc": system}, key, jobs=count)
        rows.append({"run": "attack: gan-enc, 3 scenarios x 3 points", "jobs": count,
                     "seconds": time.perf_counter() - start})
    rows[1]["speed_up"] = rows[0]["seconds"] / rows[1]["seconds"]
    rows[1]["identical_rows"] = tables[1].drop(columns="seconds").equals(
        tables[2].drop(columns="seconds"))
    return rows


@main.command("ray")
@config_option
@click.option("--out", default="results/benchmarks", show_default=True)
def ray_backend(out: str) -> None:
    """The 16-point qam + ae sweep of `jobs` on a local Ray with 2 CPUs vs local --jobs 2
    (Ray started and workers warm before timing; identical rows required)."""
    import ray

    from commgan.parallel import Backend
    from commgan.sim.config import SimulationConfig
    from commgan.sim.sweep import run_sweep

    systems = {"qam": build_system("qam", "16qam"), "ae": build_system("ae", "16qam")}
    systems["ae"].eval()
    config = SimulationConfig(channel="rayleigh", systems=("qam", "ae"),
                              ebno_db=tuple(float(x) for x in range(0, 32, 2)),
                              target_errors=1 << 40, max_bits=10_000_000)
    start = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             object_store_memory=256 * 2**20)
    started = time.perf_counter() - start
    rows, tables = [], {}
    for backend in ("local", "ray", "local", "ray"):
        start = time.perf_counter()
        tables[backend] = run_sweep(config, systems, progress=False, jobs=2,
                                    backend=Backend(backend))
        rows.append({"backend": backend, "seconds": time.perf_counter() - start})
    ray.shutdown()
    table = pd.DataFrame(rows).groupby("backend", as_index=False).agg(seconds=("seconds", "min"))
    table["throughput_vs_local"] = table.loc[table["backend"] == "local", "seconds"].iloc[0] \
        / table["seconds"]
    table["identical_rows"] = tables["local"][["bits", "errors"]].equals(
        tables["ray"][["bits", "errors"]])
    table["ray_start_seconds"] = started
    write_table(table.to_dict("records"), Path(out), "ray")


TRAIN_EBNO_DB = {"awgn": (4.0, 8.0, 12.0), "rayleigh": (5.0, 10.0, 15.0, 20.0),
                 "rayleigh-fast": (10.0, 20.0, 30.0)}
"""Eb/N0 points where the fp32- and auto-trained models' BERs are compared."""


@main.command()
@config_option
@click.option("--systems", default="ae,gan-enc", show_default=True,
              help="Learned systems (comma-separated).")
@click.option("--channels", default="rayleigh", show_default=True,
              help="Channels (comma-separated): awgn, rayleigh, rayleigh-fast.")
@click.option("--bits", type=int, default=8_000_000, show_default=True,
              help="Bits per BER point (or 4000 errors, whichever first).")
@click.option("--out", default="results/benchmarks", show_default=True)
def train(systems: str, channels: str, bits: int, out: str) -> None:
    """`commgan train`'s default configs in fp32 and with --precision auto, one thread each, in
    the same run; Bob's BER of both models compared on simultaneous 95% intervals (Bonferroni
    over all points: every pair of intervals must overlap)."""
    from dataclasses import replace

    from channels import get_modulation
    from commgan.comm.registry import system_spec
    from commgan.gan.precision import resolve_precision
    from commgan.systems import SystemContext, load_or_train

    configure_process(1)
    names, links = systems.split(","), channels.split(",")
    points = sum(len(TRAIN_EBNO_DB[channel]) for channel in links) * len(names)
    confidence = 1 - 0.05 / points
    rows = []
    for name in names:
        for channel in links:
            stats = {}
            for precision in ("fp32", "auto"):
                training = replace(system_spec(name).learned.default_training(
                    get_modulation("16qam"), channel), precision=precision)
                context = SystemContext(channel=channel, key=bytes(32),
                                        models_dir=Path(out) / "train_models" / precision)
                start = time.perf_counter()
                loaded = load_or_train(name, context, training, retrain=True)
                wall = time.perf_counter() - start
                trained = loaded.model.sidecar["metrics"]["train_seconds"]
                wiretap = WiretapChannel(channel)
                stats[precision] = [
                    simulate_point(loaded.system, wiretap, ebno_db, frame_bits=128,
                                   batch_frames=1024, target_errors=4000, max_bits=bits,
                                   seed=777, eve=False).receivers["bob"]
                    for ebno_db in TRAIN_EBNO_DB[channel]]
                rows.append({"system": name, "channel": channel, "precision": precision,
                             "used": resolve_precision(precision, "cpu"), "steps": training.steps,
                             "train_seconds": trained, "wall_seconds": wall,
                             **{f"ber_{x:g}dB": point.ber
                                for x, point in zip(TRAIN_EBNO_DB[channel], stats[precision],
                                                    strict=True)}})
            overlap = all(
                a.interval(confidence)[0] <= b.interval(confidence)[1]
                and b.interval(confidence)[0] <= a.interval(confidence)[1]
                for a, b in zip(stats["fp32"], stats["auto"], strict=True))
            rows[-1]["train_time_vs_fp32"] = rows[-1]["train_seconds"] / rows[-2]["train_seconds"]
            rows[-1]["same_ber_simultaneous_95"] = overlap
    write_table(rows, Path(out), "train")


if __name__ == "__main__":
    main()
