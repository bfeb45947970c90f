"""The ``commgan`` command line (click). Every bad input ends in one error line and exit code 2
(usage) or 1 (a file or value that cannot be used), with no result file written.

Choices and defaults come from the registries (systems, channels, modulations, vision tasks,
channel models), read when a command needs them, so ``commgan --help`` imports none of them.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import click

from commgan.configfile import config_option
from commgan.errors import CommganError

__all__ = ["cli", "main"]


class RegistryChoice(click.Choice):
    """A click choice whose names come from a registry, read on first use."""

    def __init__(self, names: Callable[[], Sequence[str]]) -> None:
        super().__init__((), case_sensitive=False)
        self._names = names

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self._names())

    @choices.setter
    def choices(self, value) -> None:
        """Click's constructor assigns the (empty) static choices; the registry decides."""


class RegistryHelpOption(click.Option):
    """An option whose help text ends with the registry's names, formatted when shown."""

    def __init__(self, *args, names: Callable[[], Sequence[str]], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._names = names
        self._base_help = self.help or ""

    def get_help_record(self, ctx: click.Context):
        self.help = f"{self._base_help} Valid: {', '.join(self._names())}."
        return super().get_help_record(ctx)


def _channel_names() -> list[str]:
    from channels import CHANNELS

    return list(CHANNELS)


def _mod_names() -> list[str]:
    from channels import MODULATIONS

    return list(MODULATIONS)


def _system_names() -> list[str]:
    from commgan.comm.registry import SYSTEMS

    return list(SYSTEMS)


def _learned_system_names() -> tuple[str, ...]:
    from commgan.comm.registry import learned_systems

    return learned_systems()


def _default_sweep() -> str:
    from commgan.comm.registry import default_sweep_systems

    return ",".join(default_sweep_systems())


class _OneLineErrors(click.Group):
    """A click group whose errors are a single ``Error: ...`` line on stderr."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as err:
            click.echo(err.ctx.get_help())
            sys.exit(0)
        except click.ClickException as err:
            _fail(err.format_message(), err.exit_code)
        except CommganError as err:
            _fail(str(err), 1)
        except click.exceptions.Abort:
            _fail("aborted", 1)
        except KeyboardInterrupt:
            _fail("interrupted; finished points are kept, rerun the same command to resume", 130)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str, code: int) -> None:
    click.echo(f"Error: {' '.join(str(message).split())}", err=True)
    sys.exit(code)


def parse_ebno(text: str) -> tuple[float, ...]:
    """``START:STOP:STEP`` (inclusive) or a comma list, in dB."""
    hint = "use START:STOP:STEP (inclusive, e.g. 0:20:2) or a comma list (e.g. 0,5,10)"
    text = text.strip()
    if not text:
        raise CommganError(f"--ebno is empty; {hint}")
    try:
        parts = [float(p) for p in text.split(":" if ":" in text else ",")]
    except ValueError:
        raise CommganError(f"--ebno {text!r} does not parse; {hint}") from None
    if ":" in text:
        if len(parts) != 3:
            raise CommganError(f"--ebno {text!r} does not parse; {hint}")
        start, stop, step = parts
        if step <= 0 or stop < start:
            raise CommganError(f"--ebno {text!r}: need STEP > 0 and STOP >= START; {hint}")
        count = int((stop - start) / step + 1e-9) + 1
        values = tuple(round(start + i * step, 10) for i in range(count))
    else:
        values = tuple(parts)
    if not all(abs(v) < 1e3 for v in values):
        raise CommganError(f"--ebno {text!r}: values must be finite dB numbers; {hint}")
    if len(values) > 1000:
        raise CommganError(f"--ebno {text!r} has {len(values)} points; at most 1000")
    return values


def resolve_device(name: str) -> str:
    """``auto`` -> cuda if available else cpu; ``cuda`` without a GPU is an error."""
    import torch

    name = name.lower()
    if name == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CommganError("--device cuda: no CUDA device is available; use --device cpu")
        return "cuda:0" if name == "cuda" else name
    return "cpu"


def check_out_dir(path: str, option: str = "--out") -> Path:
    """Fail with one clear line unless ``path`` is, or can be created as, a writable folder.

    Nothing is created here: the folder appears only when results are written.
    """
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CommganError(f"{option} {path!r} exists and is not a folder")
    ancestor = out
    while not ancestor.exists():
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise CommganError(f"{option} {path!r} cannot be created: {str(ancestor)!r} is a file")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise CommganError(f"{option} {path!r} is not writable")
    return out


def _positive(ctx: click.Context, param: click.Parameter, value: int | None) -> int | None:
    """Click callback: reject a non-positive integer option."""
    if value is not None and value <= 0:
        raise click.BadParameter(f"must be a positive integer, got {value}")
    return value


channel_option = click.option(
    "--channel", type=RegistryChoice(_channel_names), default="rayleigh",
    show_default=True, help="Channel model.")
mod_option = click.option(
    "--mod", type=RegistryChoice(_mod_names), default="16qam",
    show_default=True, help="Modulation (sets R = bits per channel use).")
models_option = click.option(
    "--models", "models_dir", default=None,
    help="Model cache folder [default: $COMMGAN_MODELS or ~/.cache/commgan/models].")
seed_option = click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")


def key_option(role: str) -> Callable:
    """--key (a key file; else $COMMGAN_KEY, else a fresh random key), ``role`` opening the help."""
    return click.option("--key", "key_file", type=click.Path(dir_okay=True), default=None,
                        help=f"{role}: 32 raw bytes or 64 hex characters (else $COMMGAN_KEY, "
                             "else a fresh random key).")


jobs_option = click.option(
    "--jobs", type=int, default=None, callback=_positive,
    help="Worker processes [default: the usable CPU cores]; the numbers do not depend on it.")
threads_option = click.option(
    "--threads", type=int, default=1, show_default=True, callback=_positive,
    help="torch intra-op threads per process (more threads collapse on a shared machine).")
device_option = click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"], case_sensitive=False),
    default="auto", show_default=True, help="Torch device.")


@click.group(cls=_OneLineErrors, no_args_is_help=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="commgan")
def cli() -> None:
    """commgan: end-to-end learned, GAN-encrypted wireless links."""


@cli.command()
@config_option
@channel_option
@mod_option
@click.option("--system", "systems", cls=RegistryHelpOption, names=_system_names,
              default=_default_sweep, show_default="the registry's default sweep",
              help="Comma-separated systems to simulate.")
@click.option("--ebno", default="0:20:2", show_default=True,
              help="Eb/N0 grid in dB: START:STOP:STEP (inclusive) or a comma list.")
@click.option("--target-errors", type=int, default=1000, show_default=True,
              callback=_positive, help="Bit errors per point and receiver.")
@click.option("--max-bits", type=int, default=10_000_000, show_default=True,
              callback=_positive, help="Most bits per point.")
@click.option("--frame-bits", type=int, default=512, show_default=True,
              callback=_positive, help="Frame length L in bits.")
@click.option("--eve-ebno-offset", type=float, default=0.0, show_default=True,
              help="Eve's Eb/N0 minus Bob's, in dB.")
@key_option("Shared key file")
@click.option("--out", "out_dir", default=None,
              help="Output folder [default: results/simulate-CHANNEL-MOD].")
@models_option
@seed_option
@device_option
@jobs_option
@threads_option
@click.option("--quiet", is_flag=True, help="No progress bar or log lines; the table only.")
def simulate(channel, mod, systems, ebno, target_errors, max_bits, frame_bits, eve_ebno_offset,
             key_file, out_dir, models_dir, seed, device, jobs, threads, quiet) -> None:
    """Monte Carlo BER of each system (Bob, and Eve for keyed systems) next to theory.

    Writes results.csv, ber.png and config.json to the output folder. An interrupted run
    resumes from its finished points when rerun with the same options.
    """
    from channels import get_modulation
    from commgan.comm.keys import load_key
    from commgan.comm.registry import parse_system_names, system_spec
    from commgan.sim.config import SimulationConfig
    from commgan.sim.executor import set_threads, usable_cores
    from commgan.sim.results import format_table
    from commgan.sim.sweep import run_sweep
    from commgan.systems import SystemContext, build_systems

    names = parse_system_names(systems)
    grid = parse_ebno(ebno)
    device = resolve_device(device)
    channel, mod = channel.lower(), mod.lower()
    needs_key = any(system_spec(name).keyed for name in names)
    key, key_source = load_key(key_file) if (needs_key or key_file) else (None, "none")
    bits_per_symbol = get_modulation(mod).num_bits_per_symbol
    if frame_bits % bits_per_symbol:
        raise CommganError(f"--frame-bits {frame_bits} must be a multiple of "
                           f"{bits_per_symbol} (R for {mod})")
    out = check_out_dir(out_dir or f"results/simulate-{channel}-{mod}")
    say = (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))
    progress = not quiet and sys.stderr.isatty()
    set_threads(threads)
    context = SystemContext(mod=mod, channel=channel, device=device, key=key,
                            models_dir=models_dir, progress=progress, log=say)
    built = build_systems(names, context)
    config = SimulationConfig(
        channel=channel, mod=mod, systems=tuple(names), ebno_db=grid,
        target_errors=target_errors, max_bits=max_bits, frame_bits=frame_bits,
        eve_ebno_offset_db=eve_ebno_offset, seed=seed, device=device,
        models=built.fingerprints(),
    )
    say(f"simulating {', '.join(names)} over {channel} with {mod} on {device}"
        f" (key: {key_source})")
    results = run_sweep(config, built, out, progress=progress, log=say,
                        extra_metadata={"key_source": key_source}, jobs=jobs or usable_cores(),
                        threads=threads)
    click.echo(format_table(results))
    say(f"wrote {out / 'results.csv'}, {out / 'ber.png'}, {out / 'config.json'}")


@cli.command()
@config_option
@click.option("--system", "system_name", type=RegistryChoice(_learned_system_names),
              default="ae", show_default=True, help="Learned system to train.")
@channel_option
@mod_option
@click.option("--steps", type=int, default=None, callback=_positive,
              help="Training steps [default: 3000 for ae, 2000 for gan-enc].")
@click.option("--train-ebno", default=None,
              help="Training Eb/N0 in dB: one value or LOW:HIGH (uniform per frame) "
                   "[default: 4:14 on awgn, 0:20 on rayleigh].")
@click.option("--lambda-covert", type=float, default=None,
              help="gan-enc: weight of the covertness critic (BER for a noise-like waveform).")
@models_option
@seed_option
@device_option
@click.option("--quiet", is_flag=True, help="No progress bar or log lines.")
def train(system_name, channel, mod, steps, train_ebno, lambda_covert, models_dir, seed, device,
          quiet) -> None:
    """Train a learned system and store it in the model cache (replacing the cached one)."""
    from channels import get_modulation
    from commgan.comm.registry import system_spec
    from commgan.systems import SystemContext, load_or_train

    name, channel, mod = system_name.lower(), channel.lower(), mod.lower()
    training = system_spec(name).learned.default_training(get_modulation(mod))
    training.seed = seed
    training.train_ebno_db = parse_train_ebno(train_ebno)
    if steps:
        training.steps = steps
    if lambda_covert is not None:
        if not hasattr(training, "lambda_covert"):
            raise CommganError(f"--lambda-covert applies to gan-enc systems, not {name}")
        training.lambda_covert = lambda_covert
    device = resolve_device(device)
    say = (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))
    context = SystemContext(mod=mod, channel=channel, device=device, models_dir=models_dir,
                            progress=not quiet and sys.stderr.isatty(), log=say)
    check_out_dir(str(context.models), "--models")
    loaded = load_or_train(name, context, training, retrain=True)
    click.echo(f"saved {loaded.model.weights}")


@cli.command()
@config_option
@click.option("--system", "systems", default="gan-enc", show_default=True,
              help="Comma-separated systems to attack.")
@channel_option
@mod_option
@click.option("--scenarios", default="all", show_default=True,
              help="all, or a comma list of: ciphertext-only, known-plaintext, better-channel, "
                   "wrong-key, leakage, nonce-reuse, reference (key scenarios skip unkeyed "
                   "systems).")
@click.option("--ebno", default="0,10,20", show_default=True,
              help="Bob's Eb/N0 in dB: START:STOP:STEP (inclusive) or a comma list.")
@click.option("--budget", type=click.Choice(["small", "full"], case_sensitive=False),
              default="small", show_default=True,
              help="small: N = 1e5 known bits, 3 restarts; full: N = 1e6, 5 restarts.")
@click.option("--frame-bits", type=int, default=256, show_default=True, callback=_positive,
              help="Frame length L in bits.")
@key_option("Alice and Bob's key file (Eve never gets it)")
@click.option("--out", "out_dir", default=None,
              help="Output folder [default: results/attack-SYSTEM-CHANNEL-MOD].")
@models_option
@seed_option
@device_option
@click.option("--quiet", is_flag=True, help="No progress bar or log lines; the table only.")
def attack(systems, channel, mod, scenarios, ebno, budget, frame_bits, key_file, out_dir,
           models_dir, seed, device, quiet) -> None:
    """Train fresh eavesdroppers against frozen links and give a verdict per scenario.

    A BER row holds when Eve's 95% interval lies inside [0.49, 0.51]. Writes attack.csv,
    attack.png and config.json to the output folder.
    """
    from channels import get_modulation
    from commgan.comm.keys import load_key
    from commgan.comm.registry import parse_system_names
    from commgan.security.attack import AttackConfig, run_attack
    from commgan.security.report import format_attack_table, write_attack_results
    from commgan.security.scenarios import parse_scenarios
    from commgan.systems import SystemContext, build_systems

    names = parse_system_names(systems)
    chosen = parse_scenarios(scenarios)
    grid = parse_ebno(ebno)
    channel, mod, device = channel.lower(), mod.lower(), resolve_device(device)
    bits_per_symbol = get_modulation(mod).num_bits_per_symbol
    if frame_bits % bits_per_symbol:
        raise CommganError(f"--frame-bits {frame_bits} must be a multiple of "
                           f"{bits_per_symbol} (R for {mod})")
    key, key_source = load_key(key_file)
    out = check_out_dir(out_dir or f"results/attack-{'_'.join(names)}-{channel}-{mod}"
                        .replace("+", "_"))
    say = (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))
    config = AttackConfig(systems=tuple(names), channel=channel, mod=mod, scenarios=chosen,
                          ebno_db=grid, budget=budget.lower(), frame_bits=frame_bits, seed=seed,
                          device=device)
    context = SystemContext(mod=mod, channel=channel, device=device, key=key,
                            models_dir=models_dir, progress=not quiet and sys.stderr.isatty(),
                            log=say)
    built = build_systems([name for name, _ in config.attacked_systems()], context)
    config.models = built.fingerprints()
    say(f"attacking {', '.join(names)} over {channel} with {mod} on {device}, budget "
        f"{config.budget} (key: {key_source}; Eve never gets it)")
    results = run_attack(config, built, key, progress=not quiet and sys.stderr.isatty(), log=say)
    write_attack_results(results, out, config, {"key_source": key_source})
    click.echo(format_attack_table(results))
    say(f"wrote {out / 'attack.csv'}, {out / 'attack.png'}, {out / 'config.json'}")


def parse_train_ebno(text: str | None) -> tuple[float, float] | None:
    """``"10"`` -> (10, 10); ``"0:20"`` -> (0, 20); None -> None (the channel's default)."""
    if text is None:
        return None
    try:
        parts = [float(p) for p in text.split(":")]
    except ValueError:
        raise CommganError(f"--train-ebno {text!r} does not parse; use DB or LOW:HIGH") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or parts[0] > parts[1]:
        raise CommganError(f"--train-ebno {text!r}: use DB or LOW:HIGH with LOW <= HIGH")
    return parts[0], parts[1]


@cli.command("export")
@config_option
@click.option("--system", "system_name", required=True,
              help="The link to record: qam, qam+chacha, ae, gan-enc (or gan-enc-naive).")
@channel_option
@mod_option
@click.option("--frames", type=int, required=True, callback=_positive,
              help="Frames N (per split).")
@click.option("--frame-bits", type=int, required=True, callback=_positive,
              help="Frame length L in bits (a multiple of R).")
@click.option("--ebno", type=float, required=True, help="Bob's Eb/N0 in dB.")
@click.option("--eve-ebno-offset", type=float, default=0.0, show_default=True,
              help="Eve's Eb/N0 minus Bob's, in dB (Eve has her own channel realisation).")
@click.option("--split", "split_spec", default=None,
              help="Splits with disjoint nonces, NAME[:FRAMES],... e.g. train,test or "
                   "train:8000,test:2000; stored as NAME/FIELD [default: one split, fields "
                   "under plain names].")
@key_option("Key file of keyed systems, never written to the archive")
@click.option("--out", "out_file", default=None,
              help="Archive (.npz) [default: results/wiretap-SYSTEM-CHANNEL-MOD-EBNOdB.npz].")
@models_option
@seed_option
@device_option
@click.option("--quiet", is_flag=True, help="No progress bar or log lines.")
def export(system_name, channel, mod, frames, frame_bits, ebno, eve_ebno_offset, split_spec,
           key_file, out_file, models_dir, seed, device, quiet) -> None:
    """Write a wiretap dataset: per frame the true bits, the public nonce, the transmitted
    symbols and what Bob and Eve received (y, h), plus metadata; never the key.

    Read it with numpy.load or commgan.sim.export.load_wiretap. Large N is generated in
    chunks, so memory stays bounded.
    """
    from channels import get_modulation
    from commgan.comm.keys import load_key
    from commgan.comm.registry import parse_system_names, system_spec
    from commgan.security.export import export_wiretap, parse_splits
    from commgan.systems import SystemContext, build_systems

    names = parse_system_names(system_name)
    if len(names) != 1:
        raise CommganError(f"--system {system_name!r}: export takes one system")
    name, channel, mod = names[0], channel.lower(), mod.lower()
    for option, value in (("--ebno", ebno), ("--eve-ebno-offset", eve_ebno_offset)):
        if not abs(value) < 1e3:
            raise CommganError(f"{option} {value}: must be a finite number of dB")
    bits_per_symbol = get_modulation(mod).num_bits_per_symbol
    if frame_bits % bits_per_symbol:
        raise CommganError(f"--frame-bits {frame_bits} must be a multiple of "
                           f"{bits_per_symbol} (R for {mod})")
    splits = parse_splits(split_spec, frames)
    out = Path(out_file or f"results/wiretap-{name.replace('+', '_')}-{channel}-{mod}-"
                           f"{ebno:g}dB.npz")
    if out.suffix != ".npz":
        raise CommganError(f"--out {str(out)!r} must end in .npz")
    if out.is_dir():
        raise CommganError(f"--out {str(out)!r} is a folder; give a file name ending in .npz")
    check_out_dir(str(out.parent), "--out")
    keyed = system_spec(name).keyed
    key, key_source = load_key(key_file) if (keyed or key_file) else (None, "none")
    device = resolve_device(device)
    say = (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))
    progress = not quiet and sys.stderr.isatty()
    context = SystemContext(mod=mod, channel=channel, device=device, key=key,
                            models_dir=models_dir, progress=progress, log=say)
    system = build_systems([name], context)[name]
    say(f"exporting {name} over {channel} with {mod} at {ebno:g} dB (Eve "
        f"{ebno + eve_ebno_offset:g} dB): " + ", ".join(f"{k} {v}" for k, v in splits.items())
        + f" frames of {frame_bits} bits" + (f" (key: {key_source})" if keyed else ""))
    if keyed and key_source == "random":
        say("note: a random key; pass --key to decode this archive as Bob later")
    export_wiretap(out, system, channel, ebno, frames, frame_bits, splits=splits, seed=seed,
                   eve_ebno_offset_db=eve_ebno_offset, key_source=key_source, progress=progress)
    click.echo(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)")


def _channel_model_names() -> list[str]:
    from commgan.comm.channelgan import CHANNEL_MODELS

    return list(CHANNEL_MODELS)


@cli.command()
@config_option
@channel_option
@mod_option
@click.option("--models", "model_names", default=None, cls=RegistryHelpOption,
              names=_channel_model_names,
              help="Comma-separated channel models [default: all].")
@click.option("--seeds", type=int, default=5, show_default=True, callback=_positive,
              help="Training seeds per model (seed, seed + 1, ...).")
@click.option("--iters", type=int, default=None, callback=_positive,
              help="Training iterations of every model [default: per model, see README].")
@click.option("--train-ebno", default="0:20", show_default=True,
              help="Eb/N0 range of the training samples in dB: DB or LOW:HIGH.")
@click.option("--fidelity/--no-fidelity", default=True, show_default=True,
              help="Also measure each model's fidelity (distance, BER, ae through it).")
@click.option("--ae/--no-ae", "ae", default=True, show_default=True,
              help="With --fidelity: train ae through each learned channel (the slow part).")
@click.option("--jobs", type=int, default=None, callback=_positive,
              help="Trainings run in parallel processes [default: min(2, CPU cores)].")
@click.option("--out", "out_dir", default=None,
              help="Output folder [default: results/converge-CHANNEL-MOD].")
@seed_option
@device_option
@click.option("--quiet", is_flag=True, help="No progress bar or log lines; the table only.")
def converge(channel, mod, model_names, seeds, iters, train_ebno, fidelity, ae, jobs, out_dir,
             seed, device, quiet) -> None:
    """Convergence benchmark of GAN, CGAN and DCGAN channel models (seed 003 Figs. 8-10).

    Trains each model for each seed, reports the crossover and equilibrium iterations of the G
    and D losses (mean ± std over seeds) and the fidelity of each model, and writes
    convergence.csv, summary.csv, fidelity.csv, ae_ber.csv, histories.csv, losses.png and
    config.json to the output folder.
    """
    from commgan.channelgan_study import ConvergenceConfig, format_summary, run_convergence
    from commgan.comm.channelgan import CHANNEL_MODELS

    model_names = ",".join(CHANNEL_MODELS) if model_names is None else model_names
    names = [name.strip().lower() for name in model_names.split(",") if name.strip()]
    unknown = [name for name in names if name not in CHANNEL_MODELS]
    if unknown or not names:
        raise CommganError(f"--models {model_names!r}: unknown model(s) "
                           f"{', '.join(unknown) or '(none)'}; valid: {', '.join(CHANNEL_MODELS)}")
    channel, mod = channel.lower(), mod.lower()
    iterations = {name: iters or CHANNEL_MODELS[name].default_iterations for name in names}
    config = ConvergenceConfig(
        channel=channel, mod=mod, models=tuple(names), seeds=seeds, seed=seed,
        iterations=iterations, train_ebno_db=parse_train_ebno(train_ebno), fidelity=fidelity,
        ae=ae, device=resolve_device(device))
    out = check_out_dir(out_dir or f"results/converge-{channel}-{mod}")
    say = (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))
    say(f"converge: {', '.join(names)} x {seeds} seeds over {channel} with {mod} on "
        f"{config.device}")
    jobs = jobs or min(2, os.cpu_count() or 1)
    result = run_convergence(config, out, jobs=jobs, progress=not quiet and sys.stderr.isatty(),
                             log=say)
    click.echo(format_summary(result.summary, result.fidelity))
    say(f"wrote convergence.csv, summary.csv, fidelity.csv, losses.png and more in {out}")


def _vision_task_names() -> list[str]:
    from commgan.vision.tasks import VISION_TASKS

    return list(VISION_TASKS)


def _vision_task_summaries() -> list[str]:
    from commgan.vision.tasks import VISION_TASKS

    return [f"{name} ({task.summary})" for name, task in VISION_TASKS.items()]


@cli.command()
@click.option("--task", type=RegistryChoice(_vision_task_names), required=True,
              cls=RegistryHelpOption, names=_vision_task_summaries,
              help="What to restore.")
@click.option("--image", "image_path", default=None,
              help="Image file (PNG, JPEG, ...): a clean image that is degraded, restored and "
                   "measured, or with --degraded the image to restore.")
@click.option("--demo", is_flag=True, help="Use the shipped held-out image (astronaut).")
@click.option("--degraded", is_flag=True,
              help="--image is already degraded: restore it as it is (no metrics).")
@click.option("--mask", "mask_path", default=None,
              help="inpaint with --degraded: mask image of the same size, white = missing.")
@click.option("--ratio", type=float, default=0.2, show_default=True,
              help="inpaint: occluded area ratio.")
@click.option("--mask-kind", type=click.Choice(["block", "free-form"], case_sensitive=False),
              default="block", show_default=True, help="inpaint: occlusion mask kind.")
@click.option("--sigma", type=float, default=25.0, show_default=True,
              help="denoise: noise standard deviation in 8-bit levels.")
@click.option("--steps", type=int, default=None, callback=_positive,
              help="Train with this many iterations instead of the default budget "
                   "(cached as a separate model).")
@click.option("--backbone-weights", default=None,
              help="Local VGG16 weights file (+ LPIPS lin layers) for LPIPS and the VGG "
                   "perceptual loss; without it LPIPS is unavailable.")
@click.option("--out", "out_dir", default=None,
              help="Output folder [default: results/restore-TASK].")
@models_option
@seed_option
@device_option
@click.option("--quiet", is_flag=True, help="No progress bar or log lines.")
def restore(task, image_path, demo, degraded, mask_path, ratio, mask_kind, sigma, steps,
            backbone_weights, out_dir, models_dir, seed, device, quiet) -> None:
    """Restore an image with a GAN next to a classical baseline.

    Writes restored.png, side_by_side.png (degraded | baseline | GAN | reference, with PSNR/SSIM)
    and, when there is a reference, metrics.csv. The task's model is trained on first use
    (minutes on a CPU) and cached in the model folder.
    """
    from commgan.checkpoint import models_dir as resolve_models_dir
    from commgan.vision.report import method_label, write_restoration
    from commgan.vision.restore import DEMO_IMAGE, RestoreRequest, run_restore
    from commgan.vision.tasks import TaskSettings

    task = task.lower()
    out = check_out_dir(out_dir or f"results/restore-{task}")
    models = resolve_models_dir(models_dir)
    check_out_dir(str(models), "--models")
    settings = TaskSettings(ratio=ratio, mask=mask_kind.lower(), sigma=sigma / 255, seed=seed)
    request = RestoreRequest(task=task, image=image_path, demo=demo, degraded=degraded,
                             mask=mask_path, settings=settings, steps=steps,
                             backbone_weights=backbone_weights, models_dir=models,
                             device=resolve_device(device))
    say = (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))
    result = run_restore(request, progress=not quiet and sys.stderr.isatty(), log=say)
    source = f"{DEMO_IMAGE} (demo)" if demo else Path(image_path).name
    written = write_restoration(result, out, f"{task}: {source}")
    for method, values in result.metrics.items():
        click.echo(f"{method_label(task, method)}: PSNR {values['psnr']:.2f} dB, "
                   f"SSIM {values['ssim']:.4f}, "
                   f"PSNR(Y) {values['psnr_y']:.2f} dB, SSIM(Y) {values['ssim_y']:.4f}"
                   + ("" if values["lpips"] != values["lpips"]
                      else f", LPIPS {values['lpips']:.4f}"))
    say("wrote " + ", ".join(str(path) for path in written))


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="commgan")


if __name__ == "__main__":
    main()
