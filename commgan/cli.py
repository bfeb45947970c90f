"""The ``commgan`` command line (click). Every bad input ends in one error line and exit code 2
(usage) or 1 (a file or value that cannot be used), with no result file written."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from commgan.errors import CommganError

__all__ = ["cli", "main"]

CHANNEL_NAMES = ("awgn", "rayleigh", "rayleigh-fast")
MOD_NAMES = ("bpsk", "qpsk", "16qam", "64qam")
DEFAULT_SYSTEMS = "qam,qam+chacha"


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


def prepare_out_dir(path: str) -> Path:
    """Create the output folder (and parents) or fail with one clear line."""
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise CommganError(f"--out {path!r} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CommganError(f"--out {path!r} cannot be created: {err.strerror}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise CommganError(f"--out {path!r} is not writable")
    return out


def _positive(name: str):
    def check(ctx, param, value):
        if value is not None and value <= 0:
            raise click.BadParameter(f"must be a positive integer, got {value}")
        return value

    return check


@click.group(cls=_OneLineErrors, no_args_is_help=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="commgan")
def cli() -> None:
    """commgan: end-to-end learned, GAN-encrypted wireless links."""


@cli.command()
@click.option("--channel", type=click.Choice(CHANNEL_NAMES, case_sensitive=False),
              default="rayleigh", show_default=True, help="Channel model.")
@click.option("--mod", type=click.Choice(MOD_NAMES, case_sensitive=False), default="16qam",
              show_default=True, help="Modulation (sets R = bits per channel use).")
@click.option("--system", "systems", default=DEFAULT_SYSTEMS, show_default=True,
              help="Comma-separated systems to simulate.")
@click.option("--ebno", default="0:20:2", show_default=True,
              help="Eb/N0 grid in dB: START:STOP:STEP (inclusive) or a comma list.")
@click.option("--target-errors", type=int, default=1000, show_default=True,
              callback=_positive("--target-errors"), help="Bit errors per point and receiver.")
@click.option("--max-bits", type=int, default=10_000_000, show_default=True,
              callback=_positive("--max-bits"), help="Most bits per point.")
@click.option("--frame-bits", type=int, default=512, show_default=True,
              callback=_positive("--frame-bits"), help="Frame length L in bits.")
@click.option("--eve-ebno-offset", type=float, default=0.0, show_default=True,
              help="Eve's Eb/N0 minus Bob's, in dB.")
@click.option("--key", "key_file", type=click.Path(dir_okay=True), default=None,
              help="Shared key file: 32 raw bytes or 64 hex characters "
                   "(else $COMMGAN_KEY, else a fresh random key).")
@click.option("--out", "out_dir", default=None,
              help="Output folder [default: results/simulate-CHANNEL-MOD].")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"], case_sensitive=False),
              default="auto", show_default=True, help="Torch device.")
@click.option("--quiet", is_flag=True, help="No progress bar or log lines; the table only.")
def simulate(channel, mod, systems, ebno, target_errors, max_bits, frame_bits, eve_ebno_offset,
             key_file, out_dir, seed, device, quiet) -> None:
    """Monte Carlo BER of each system (Bob, and Eve for keyed systems) next to theory.

    Writes results.csv, ber.png and config.json to the output folder. An interrupted run
    resumes from its finished points when rerun with the same options.
    """
    from commgan.comm.keys import load_key
    from commgan.comm.registry import SYSTEMS, build_system, parse_system_names
    from commgan.sim.config import SimulationConfig
    from commgan.sim.results import format_table
    from commgan.sim.sweep import run_sweep

    names = parse_system_names(systems)
    grid = parse_ebno(ebno)
    device = resolve_device(device)
    needs_key = any(getattr(SYSTEMS[name], "keyed", False) for name in names)
    key, key_source = load_key(key_file) if (needs_key or key_file) else (None, "none")
    built = {name: build_system(name, mod, key=key, device=device) for name in names}
    for system in built.values():
        system.check_frame_bits(frame_bits)
    config = SimulationConfig(
        channel=channel.lower(), mod=mod.lower(), systems=tuple(names), ebno_db=grid,
        target_errors=target_errors, max_bits=max_bits, frame_bits=frame_bits,
        eve_ebno_offset_db=eve_ebno_offset, seed=seed, device=device,
    )
    out = prepare_out_dir(out_dir or f"results/simulate-{config.channel}-{config.mod}")
    say = (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))
    say(f"simulating {', '.join(names)} over {config.channel} with {config.mod} on {device}"
        f" (key: {key_source})")
    progress = not quiet and sys.stderr.isatty()
    results = run_sweep(config, built, out, progress=progress, log=say,
                        extra_metadata={"key_source": key_source})
    click.echo(format_table(results))
    say(f"wrote {out / 'results.csv'}, {out / 'ber.png'}, {out / 'config.json'}")


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="commgan")


if __name__ == "__main__":
    main()
