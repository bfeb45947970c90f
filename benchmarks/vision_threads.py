"""Vision training throughput per torch thread setting, idle and beside busy processes.

    python benchmarks/vision_threads.py                    # pix2pix-colour and sr, 3 rounds
    python benchmarks/vision_threads.py --models sr --threads 1,cores --rounds 5 --nice 0
    python benchmarks/vision_threads.py --smoke --out /tmp/vt   # < 60 s: does it run?

Each measurement is one fresh process (so the thread setting applies from the start) that
builds the model's default training game (``VISION_MODELS[name].training()``, as ``commgan
restore`` and ``commgan translate`` train without ``--steps``/``--train-dir``; the filter-bank
substitute as perceptual network), runs ``--warmup`` untimed adversarial iterations, then times
``--iterations`` more (`commgan.gan.GANTrainer.fit`; start-up, imports and model building are
not timed) and reports iterations per second of wall clock.

Thread settings (``--threads``, comma-separated): ``INTRA`` or ``INTRA:INTER``, each a count or
``cores`` (`commgan.parallel.process.usable_cores`): torch intra-op threads
(`configure_process`, as the CLI's ``--threads``) and inter-op threads
(``torch.set_num_interop_threads``; torch's default when not given); INTRA may be ``auto``, the
vision commands' default (`commgan.parallel.process.idle_cores`: the usable cores no other
process keeps busy, watched by the measured process at its start, when the spinners already
run). ``cores``, the former default, is the base of the ratios.

Loads: ``idle``, ``busy1`` and ``busy3``: 0, 1 or 3 spinner processes (``nice -n NICE python -c
"while True: pass"``) started before the measured process and killed after it (also on errors
and Ctrl-C). Rounds visit the cases in ABBA order (reversed every other round) so a drifting
load hits all alike; the 1-minute load average is recorded before and after each process.

Criterion of a default: on every model, idle throughput within 15% of the model's best idle
setting, and beside one busy process at least 50% of the setting's own idle throughput.

Writes ``vision_threads.csv`` (one row per process) and ``vision_threads.md`` under ``--out``.
Run it alone: ``flock /tmp/commgan-heavy.lock python benchmarks/vision_threads.py``.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
LOADS = {"idle": 0, "busy1": 1, "busy3": 3}
"""Load condition -> spinner processes beside the measured one."""
IDLE_KEEP = 0.85
"""A default may lose at most 15% of the best idle throughput."""
BUSY_KEEP = 0.5
"""A default must keep half of its idle throughput beside one busy process."""
DEFAULT_SETTINGS = "1,2,cores,cores:1,auto"
"""The thread settings measured unless ``--threads`` is given."""
SMOKE_SETTINGS = "1,cores"
"""The thread settings of ``--smoke`` unless ``--threads`` is given."""
SPIN = "while True: pass"
MEASURE = """
import json, sys, time
spec = json.loads(sys.argv[1])
import torch
if spec["inter"]:
    torch.set_num_interop_threads(spec["inter"])
from commgan.parallel.process import configure_process, idle_cores
configure_process(spec["intra"] or idle_cores())
from commgan.gan import GANTrainer, TrainerConfig
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.models.training import build_problem
model = VISION_MODELS[spec["model"]]
training = model.training()
problem = build_problem(model, training)
total = spec["warmup"] + spec["iterations"]
config = TrainerConfig(iterations=total, warmup=0, lr_g=training.lr_g, lr_d=training.lr_d,
                       betas=(0.9, 0.999), lr_decay="cosine", seed=training.seed, device="cpu",
                       progress=False, log_every=0, checkpoint_every=10**9, name=model.stem)
trainer = GANTrainer(problem, config)
trainer.fit(iterations=spec["warmup"])
start = time.perf_counter()
trainer.fit(iterations=spec["iterations"])
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "intra_actual": torch.get_num_threads(),
                  "inter_actual": torch.get_num_interop_threads()}))
"""
"""The measured process: ``python -c MEASURE SPEC_JSON``; prints one JSON line."""
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
"""Environment variables removed from the measured process (they would preset the threads)."""


def usable_cores() -> int:
    """The usable cores as the vision commands count them."""
    sys.path.insert(0, str(REPO))
    from commgan.parallel.process import usable_cores as cores

    return cores()


def parse_setting(text: str, cores: int) -> tuple[int, int | None]:
    """``INTRA`` or ``INTRA:INTER`` (counts, ``cores``, or ``auto`` for the vision commands'
    default, :func:`commgan.parallel.process.idle_cores`, as 0) -> (intra, inter or None)."""
    parts = [part.strip().lower() for part in text.split(":")]
    if len(parts) > 2 or not all(parts):
        raise click.BadParameter(f"thread setting {text!r}: use INTRA or INTRA:INTER")
    try:
        values = [cores if part == "cores" else 0 if part == "auto" else int(part)
                  for part in parts]
    except ValueError as err:
        raise click.BadParameter(f"thread setting {text!r}: counts or 'cores'") from err
    if min(values[1:] or [1]) < 1 or (values[0] < 1 and parts[0] != "auto"):
        raise click.BadParameter(f"thread setting {text!r}: counts must be positive")
    return values[0], values[1] if len(values) == 2 else None


@contextmanager
def spinners(count: int, nice: int) -> Iterator[list[subprocess.Popen]]:
    """``count`` busy processes at niceness ``nice`` for the block; always killed after it."""
    started: list[subprocess.Popen] = []
    try:
        for _ in range(count):
            started.append(subprocess.Popen(["nice", "-n", str(nice), sys.executable, "-c",
                                             SPIN], stdin=subprocess.DEVNULL))
        yield started
    finally:
        for process in started:
            process.kill()
        for process in started:
            process.wait()


def measure(model: str, intra: int, inter: int | None, iterations: int, warmup: int) -> dict:
    """One fresh process training ``model``: timed seconds of ``iterations`` iterations and the
    thread counts torch reported; a failed process is an error."""
    env = {key: value for key, value in os.environ.items() if key not in THREAD_VARIABLES}
    env["PYTHONPATH"] = str(REPO)
    spec = {"model": model, "intra": intra, "inter": inter, "iterations": iterations,
            "warmup": warmup}
    done = subprocess.run([sys.executable, "-P", "-c", MEASURE, json.dumps(spec)], cwd=REPO,
                          env=env, capture_output=True, text=True)
    if done.returncode:
        raise click.ClickException(f"{model} intra {intra} inter {inter} failed:\n"
                                   f"{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def summarize(table: pd.DataFrame, labels: list[str], loads: list[str]) -> str:
    """The markdown table (median iterations/s, ratios) and the verdict of each setting."""
    median = table.groupby(["model", "setting", "load"])["it_per_s"].median()
    head = ["model", "threads (intra:inter)",
            *[f"{load} it/s (vs default idle)" for load in loads], "idle / best idle"]
    if "busy1" in loads:
        head.append("busy1 / own idle")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    passes = {label: True for label in labels}
    for model in table["model"].unique():
        base = median.get((model, "cores", "idle"))
        best = max(median[model, label, "idle"] for label in labels)
        for label in labels:
            idle = median[model, label, "idle"]
            cells = [model, label]
            for load in loads:
                value = median[model, label, load]
                ratio = f" ({value / base:.2f})" if base else ""
                cells.append(f"{value:.3f}{ratio}")
            cells.append(f"{idle / best:.2f}")
            ok = idle >= IDLE_KEEP * best
            if "busy1" in loads:
                kept = median[model, label, "busy1"] / idle
                cells.append(f"{kept:.2f}")
                ok = ok and kept >= BUSY_KEEP
            passes[label] = passes[label] and ok
            lines.append("| " + " | ".join(cells) + " |")
    good = [label for label in labels if passes[label]]
    verdict = (f"Settings meeting the criterion (idle >= {IDLE_KEEP:.0%} of the model's best "
               f"idle setting and, beside one busy process, >= {BUSY_KEEP:.0%} of its own idle "
               f"throughput, on every model): {', '.join(good) if good else 'none'}.")
    if "busy1" not in loads:
        verdict += " (No busy1 measurement: only the idle part was checked.)"
    return "\n".join(lines) + "\n\n" + verdict


def stop_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit so the spinners' ``finally`` runs."""
    def handler(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, handler)


@click.command(help=__doc__.splitlines()[0])
@click.option("--models", default="pix2pix-colour,sr", show_default=True,
              help="Comma-separated VISION_MODELS names.")
@click.option("--threads", "settings", default=None,
              help="Comma-separated INTRA or INTRA:INTER settings (counts or 'cores') "
                   f"[default: {DEFAULT_SETTINGS}; with --smoke {SMOKE_SETTINGS}].")
@click.option("--loads", default="idle,busy1,busy3", show_default=True,
              help="Comma-separated load conditions: idle, busy1, busy3.")
@click.option("--nice", type=click.IntRange(0, 19), default=10, show_default=True,
              help="Niceness of the busy processes.")
@click.option("--iterations", type=click.IntRange(1), default=20, show_default=True,
              help="Timed training iterations per process.")
@click.option("--warmup", type=click.IntRange(0), default=3, show_default=True,
              help="Untimed iterations before them.")
@click.option("--rounds", type=click.IntRange(1), default=3, show_default=True,
              help="Rounds; each measures every case once.")
@click.option("--smoke", is_flag=True,
              help="2 iterations, 1 warm-up, 1 round, idle and busy1, the first model only.")
@click.option("--out", default="results/benchmarks", show_default=True, help="Output folder.")
def main(models: str, settings: str | None, loads: str, nice: int, iterations: int, warmup: int,
         rounds: int, smoke: bool, out: str) -> None:
    stop_on_sigterm()
    cores = usable_cores()
    names = [name.strip() for name in models.split(",") if name.strip()]
    chosen = [load.strip() for load in loads.split(",") if load.strip()]
    unknown = sorted(set(chosen) - set(LOADS))
    if unknown or "idle" not in chosen:
        raise click.BadParameter(f"loads {chosen}: idle and any of {', '.join(LOADS)}")
    if smoke:
        names, chosen, iterations, warmup, rounds = names[:1], ["idle", "busy1"], 2, 1, 1
    settings = settings or (SMOKE_SETTINGS if smoke else DEFAULT_SETTINGS)
    parsed = {label.strip(): parse_setting(label, cores) for label in settings.split(",")
              if label.strip()}
    labels = list(parsed)
    cases = [(model, label, load) for model in names for label in labels for load in chosen]
    rows = []
    for index in range(rounds):
        for model, label, load in cases if index % 2 == 0 else cases[::-1]:
            intra, inter = parsed[label]
            load_before = os.getloadavg()[0]
            with spinners(LOADS[load], nice):
                result = measure(model, intra, inter, iterations, warmup)
            rows.append({"round": index, "model": model, "setting": label, "intra": intra,
                         "inter": inter, "load": load, "spinners": LOADS[load], "nice": nice,
                         "iterations": iterations, **result,
                         "it_per_s": iterations / result["seconds"],
                         "load_before": load_before, "load_after": os.getloadavg()[0]})
            click.echo(f"round {index} {model} threads {label} ({intra}:"
                       f"{result['inter_actual']}) {load}: "
                       f"{rows[-1]['it_per_s']:.3f} it/s (load {load_before:.2f})")
    table = pd.DataFrame(rows)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    table.to_csv(folder / "vision_threads.csv", index=False)
    note = (f"Training iterations per second of wall clock (adversarial iterations of the "
            f"default training game, CPU), median over {rounds} round(s) of {iterations} timed "
            f"iterations after {warmup} untimed, one fresh process each; in brackets the ratio "
            f"to the model's idle throughput with the former default (`cores` = "
            f"{cores} usable cores). Busy processes: `nice -n {nice} python -c "
            f"\"{SPIN}\"`. {os.cpu_count()} cores "
            f"({platform.processor() or platform.machine()}); 1-minute load average before "
            f"the processes: median {table['load_before'].median():.2f}, range "
            f"{table['load_before'].min():.2f} to {table['load_before'].max():.2f}.")
    text = note + "\n\n" + summarize(table, labels, chosen) + "\n"
    (folder / "vision_threads.md").write_text(text)
    click.echo(text)
    click.echo(f"wrote {folder / 'vision_threads.csv'} and {folder / 'vision_threads.md'}")


if __name__ == "__main__":
    main()
