"""The ``commgan`` click group: every error is one ``Error: ...`` line on stderr."""

from __future__ import annotations

import signal
import sys
import threading

import click

from commgan.cli.options import shown
from commgan.errors import CommganError

__all__ = ["cli", "main"]

MAX_MESSAGE = 300


class _OneLineErrors(click.Group):
    """A click group whose errors are a single ``Error: ...`` line on stderr."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        on_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminate) if on_main else None
        try:
            return self._run(args, prog_name, complete_var, standalone_mode, **extra)
        finally:
            if on_main:
                signal.signal(signal.SIGTERM, previous)

    def _run(self, args, prog_name, complete_var, standalone_mode, **extra):
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as err:
            click.echo(err.ctx.get_help())
            sys.exit(0)
        except click.ClickException as err:
            _fail(err.format_message(), err.exit_code)
        except CommganError as err:
            _fail(str(err), 1)
        except (click.exceptions.Abort, KeyboardInterrupt):
            # click turns Ctrl-C (and SIGTERM, see _terminate) into Abort
            _fail("interrupted; finished points are kept, rerun the same command to resume", 130)
        except MemoryError:
            _fail("out of memory; use a smaller problem (fewer frames or points)", 1)
        except OSError as err:
            where = f" ({shown(err.filename)})" if err.filename else ""
            _fail(f"{err.strerror or err}{where}", 1)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (``timeout``, ``kill``) ends a run like Ctrl-C: scratch files are removed."""
    raise KeyboardInterrupt


def _fail(message: str, code: int) -> None:
    line = " ".join(str(message).split())
    if len(line) > MAX_MESSAGE:
        line = line[:MAX_MESSAGE - 3] + "..."
    click.echo(f"Error: {line}", err=True)
    sys.exit(code)


@click.group(cls=_OneLineErrors, no_args_is_help=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="commgan")
def cli() -> None:
    """commgan: end-to-end learned, GAN-encrypted wireless links."""


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="commgan")
