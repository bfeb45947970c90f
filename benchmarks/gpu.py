"""CUDA correctness and GPU throughput (issue 16, benchmark (e)), each against the CPU in the same
run:

    python benchmarks/gpu.py --out results/benchmarks/gpu

1. simulate: Bob's (and Eve's) BER of qam, ae and gan-enc (shipped models) on the GPU and on the
   CPU at three Eb/N0 points per channel; every pair of simultaneous 95% intervals must overlap.
2. throughput: Monte Carlo Mbit/s on the GPU for growing batches, beside one CPU core.
3. train: `commgan train`'s default ae and gan-enc trainings on the GPU (--precision auto), their
   time, and Bob's BER against the shipped (CPU-trained) models on simultaneous intervals.
4. attack: three scenarios against gan-enc on the GPU and on the CPU, same seeds; verdicts and
   Eve's BER intervals compared.
5. cli: the main command with --device cuda, end to end.

Each part writes its CSV as soon as it finishes (gpu_*.csv).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import click
import pandas as pd
import torch

from channels import WiretapChannel, get_modulation
from commgan.comm.registry import system_spec
from commgan.parallel import configure_process
from commgan.sim.engine import simulate_point
from commgan.sim.stats import FrameErrorStats
from commgan.systems import SystemContext, build_systems, load_or_train

KEY = bytes(range(32))
SYSTEMS = ("qam", "ae", "gan-enc")
POINTS = {"awgn": (4.0, 8.0, 12.0), "rayleigh": (5.0, 10.0, 15.0, 20.0)}


def overlap(a: FrameErrorStats, b: FrameErrorStats, confidence: float) -> bool:
    """Whether the two BERs' ``confidence`` intervals overlap."""
    (a_low, a_high), (b_low, b_high) = a.interval(confidence), b.interval(confidence)
    return a_low <= b_high and b_low <= a_high


def bers(systems: dict, channel: str, device: str, errors: int, bits: int) -> dict:
    """{(system, receiver, Eb/N0): FrameErrorStats} on ``device``, seeds fixed per point."""
    wiretap = WiretapChannel(channel, device=device)
    found = {}
    for name, system in systems.items():
        for ebno_db in POINTS[channel]:
            point = simulate_point(system, wiretap, ebno_db, frame_bits=512, batch_frames=2048,
                                   target_errors=errors, max_bits=bits, seed=int(ebno_db) + 11)
            for receiver, stats in point.receivers.items():
                found[name, receiver, ebno_db] = stats
    return found


def save(rows: list[dict], out: Path, name: str) -> pd.DataFrame:
    table = pd.DataFrame(rows)
    table.to_csv(out / f"gpu_{name}.csv", index=False)
    click.echo(f"\n== {name}\n" + table.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
               nl=True)
    return table


def part_simulate(device: str, out: Path, errors: int, bits: int) -> None:
    rows = []
    for channel in POINTS:
        results = {}
        for where in ("cpu", device):
            ctx = SystemContext(channel=channel, key=KEY, device=where, train_if_missing=False)
            results[where] = bers(build_systems(list(SYSTEMS), ctx), channel, where, errors, bits)
        confidence = 1 - 0.05 / len(results["cpu"])
        for label, cpu in results["cpu"].items():
            gpu = results[device][label]
            rows.append({"channel": channel, "system": label[0], "receiver": label[1],
                         "ebno_db": label[2], "ber_cpu": cpu.ber, "ber_gpu": gpu.ber,
                         "bits_gpu": gpu.bits, "ratio": gpu.ber / cpu.ber if cpu.ber else None,
                         "simultaneous_overlap": overlap(cpu, gpu, confidence)})
    table = save(rows, out, "simulate")
    click.echo(f"all pairs overlap (simultaneous 95%): {bool(table['simultaneous_overlap'].all())}")


def rate(work: Callable[[], int], seconds: float, sync: Callable[[], None]) -> float:
    """Bits per second of ``work()`` over >= ``seconds`` (after one warm-up call)."""
    work()
    sync()
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        done += work()
    sync()
    return done / (time.perf_counter() - start)


def part_throughput(device: str, out: Path, seconds: float) -> None:
    rows, seeds = [], iter(range(1 << 30))
    for label, where, batches in (("cpu, 1 thread", "cpu", (1024,)),
                                  (device, device, (1024, 8192, 32768))):
        ctx = SystemContext(channel="rayleigh", key=KEY, device=where, train_if_missing=False)
        systems = build_systems(list(SYSTEMS), ctx)
        wiretap = WiretapChannel("rayleigh", device=where)
        sync = torch.cuda.synchronize if where.startswith("cuda") else (lambda: None)
        for name, system in systems.items():
            for frames in batches:
                def work(system=system, frames=frames, seeds=seeds, wiretap=wiretap) -> int:
                    point = simulate_point(system, wiretap, 10.0, frame_bits=512,
                                           batch_frames=frames, target_errors=1 << 62,
                                           max_bits=frames * 512, seed=next(seeds))
                    return point.receivers["bob"].bits

                mbit = rate(work, seconds, sync) / 1e6
                rows.append({"device": label,
                             "system": name + (" (Bob + Eve)" if name == "gan-enc" else ""),
                             "batch_frames": frames, "mbit_per_s": mbit})
    table = save(rows, out, "throughput")
    cpu = table[table["device"].eq("cpu, 1 thread")].set_index("system")
    table["vs_one_cpu_core"] = table["mbit_per_s"] / table["system"].map(cpu["mbit_per_s"])
    save(table.to_dict("records"), out, "throughput")


def part_train(device: str, out: Path, errors: int, bits: int, steps: int) -> None:
    rows = []
    for name in ("ae", "gan-enc"):
        for channel in ("awgn", "rayleigh"):
            training = system_spec(name).learned.default_training(get_modulation("16qam"),
                                                                  channel)
            gpu_ctx = SystemContext(channel=channel, key=KEY, device=device,
                                    models_dir=out / "models")
            start = time.perf_counter()
            trained = load_or_train(name, gpu_ctx, replace(training, steps=steps or training.steps),
                                    retrain=True)
            wall = time.perf_counter() - start
            shipped = build_systems([name], SystemContext(channel=channel, key=KEY, device="cpu",
                                                          train_if_missing=False))
            gpu_bers = bers({name: trained.system}, channel, device, errors, bits)
            cpu_bers = bers(shipped, channel, "cpu", errors, bits)
            bob = [label for label in gpu_bers if label[1] == "bob"]
            confidence = 1 - 0.05 / len(bob)
            sidecar = trained.model.sidecar
            rows.append({"system": name, "channel": channel, "steps": steps or training.steps,
                         "precision": sidecar.get("precision"),
                         "train_seconds": sidecar["metrics"]["train_seconds"],
                         "wall_seconds": wall,
                         **{f"bob_{label[2]:g}dB_gpu_vs_shipped":
                            f"{gpu_bers[label].ber:.3g} vs {cpu_bers[label].ber:.3g}"
                            for label in bob},
                         "same_ber_simultaneous_95": all(
                             overlap(gpu_bers[label], cpu_bers[label], confidence)
                             for label in bob)})
            save(rows, out, "train")


def part_attack(device: str, out: Path) -> None:
    from commgan.security.attack import AttackConfig, run_attack

    tables = {}
    for where in ("cpu", device):
        ctx = SystemContext(channel="rayleigh", key=KEY, device=where, train_if_missing=False)
        systems = build_systems(["gan-enc"], ctx)
        config = AttackConfig(systems=("gan-enc",), channel="rayleigh",
                              scenarios=("ciphertext-only", "known-plaintext", "wrong-key"),
                              ebno_db=(10.0,), budget="small", eve_sizes=("bob-arch",),
                              device=where)
        start = time.perf_counter()
        tables[where] = run_attack(config, systems, KEY, jobs=8 if where == "cpu" else 1)
        tables[where]["run_seconds"] = time.perf_counter() - start
        tables[where]["device"] = where
    both = pd.concat(tables.values(), ignore_index=True)
    keep = ["device", "scenario", "eve_model", "ebno_db", "bits", "ber", "ci_low", "ci_high",
            "bob_ber", "verdict", "seconds", "run_seconds"]
    save(both[keep].to_dict("records"), out, "attack")
    same = list(tables["cpu"]["verdict"]) == list(tables[device]["verdict"])
    click.echo(f"same verdicts on CPU and GPU: {same}")


def part_cli(out: Path) -> None:
    """The main command on the GPU (empty model cache: the shipped models), and CPU worker
    processes on the GPU machine (they must never touch the card)."""
    (out / "key.hex").write_text(KEY.hex())
    runs = {"simulate --device cuda": ["--device", "cuda"],
            "simulate --device cuda --jobs 4": ["--device", "cuda", "--jobs", "4",
                                                "--ebno", "0:20:5"],
            "simulate --device cpu --jobs 4": ["--device", "cpu", "--jobs", "4",
                                               "--ebno", "0:20:5", "--max-bits", "2000000"]}
    for label, extra in runs.items():
        command = [sys.executable, "-c",
                   "import sys; from commgan.cli import main; sys.exit(main())", "simulate",
                   "--channel", "rayleigh", "--mod", "16qam", "--key", str(out / "key.hex"),
                   "--out", str(out / label.replace(" ", "_")), "--quiet", *extra]
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True,
                              env={**os.environ, "COMMGAN_MODELS": str(out / "empty-cache")})
        click.echo(f"\n== cli: {label} ({time.perf_counter() - start:.1f} s, exit "
                   f"{done.returncode})\n" + done.stdout[-2500:] + done.stderr[-2000:])


@click.command()
@click.option("--out", default="results/benchmarks/gpu", show_default=True)
@click.option("--parts", default="simulate,throughput,attack,cli,train", show_default=True)
@click.option("--device", default="cuda", show_default=True,
              help="The device under test (cpu: a dry run of this script).")
@click.option("--errors", type=int, default=2000, show_default=True,
              help="Bit errors per BER point (or --bits).")
@click.option("--bits", type=int, default=4_000_000, show_default=True)
@click.option("--seconds", type=float, default=3.0, show_default=True,
              help="Per throughput measurement.")
@click.option("--steps", type=int, default=0,
              help="Training steps [default: the default config's].")
def main(out: str, parts: str, device: str, errors: int, bits: int, seconds: float,
         steps: int) -> None:
    """CUDA correctness and GPU throughput against the CPU, same run."""
    configure_process(1)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    if device.startswith("cuda"):
        click.echo(f"torch {torch.__version__}, {torch.cuda.get_device_name()}, "
                   f"{os.cpu_count()} CPUs")
    run = {"simulate": lambda: part_simulate(device, folder, errors, bits),
             "throughput": lambda: part_throughput(device, folder, seconds),
             "train": lambda: part_train(device, folder, errors, bits, steps),
             "attack": lambda: part_attack(device, folder),
             "cli": lambda: part_cli(folder)}
    for part in parts.split(","):
        start = time.perf_counter()
        try:
            run[part]()
        except Exception:  # report and go on: one run of this script is all we get
            click.echo(f"!! {part} failed:\n{traceback.format_exc()}")
        click.echo(f"-- {part}: {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
