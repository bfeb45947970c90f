"""The ``commgan`` click group: every error is one ``Error: ...`` line on stderr, and
``commgan --help`` lists the commands by topic (:data:`TOPICS`, declared per command with
``@cli.command(topic=...)``).

A Ctrl-C or SIGTERM ends a run with ``Error: interrupted; ...``, where ``...`` is what the
interrupted command declared with :func:`on_interrupt` (what it keeps and what a rerun does).
Output folders locked by the run (:func:`commgan.fileio.claim_output`) are released when it
ends, however it ends.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable

import click

from commgan.errors import CommganError, redact
from commgan.fileio import release_outputs

__all__ = ["TOPICS", "cli", "main", "on_interrupt"]

TOPICS = {"link": "Link", "security": "Security", "vision": "Vision"}
"""Topic of a command -> its section title in ``commgan --help``, in this order; commands
without a topic (e.g. from a plug-in) are listed after them, under "Other"."""
OTHER = "Other"

MAX_MESSAGE = 300
MAX_PATH = 100
"""Longest path shown in an error line (longer ones keep their end: the file name)."""


def on_interrupt(message: str) -> Callable[[click.Command], click.Command]:
    """Declare what a Ctrl-C or SIGTERM of this command leaves behind, e.g. ``"finished points
    are kept, rerun the same command to resume"``; put it above ``@cli.command()``."""

    def declare(command: click.Command) -> click.Command:
        command.interrupt_message = message
        return command

    return declare


class _OneLineErrors(click.Group):
    """A click group whose errors are a single ``Error: ...`` line on stderr."""

    running: click.Command | None = None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        on_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, _terminate) if on_main else None
        self.running = None
        try:
            return self._run(args, prog_name, complete_var, standalone_mode, **extra)
        finally:
            release_outputs()
            if on_main:
                signal.signal(signal.SIGTERM, previous)

    def command(self, *args, topic: str | None = None, **kwargs):
        """Click's ``command`` decorator, plus the command's ``topic`` (a key of
        :data:`TOPICS`) for the help page."""
        if topic is not None and topic not in TOPICS:
            raise ValueError(f"topic must be one of {', '.join(TOPICS)}, got {topic!r}")
        if args and callable(args[0]):  # @cli.command without parentheses
            return super().command(*args, **kwargs)
        make = super().command(*args, **kwargs)

        def register(function: Callable) -> click.Command:
            command = make(function)
            command.topic = topic
            return command

        return register

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands in one section per topic (:data:`TOPICS`), then the others."""
        commands = [(name, command) for name in self.list_commands(ctx)
                    if (command := self.get_command(ctx, name)) is not None
                    and not command.hidden]
        if not commands:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in commands)
        sections: dict[str, list[tuple[str, str]]] = {title: [] for title in
                                                      [*TOPICS.values(), OTHER]}
        for name, command in commands:
            title = TOPICS.get(getattr(command, "topic", None), OTHER)
            sections[title].append((name, command.get_short_help_str(limit)))
        for title, rows in sections.items():
            if rows:
                with formatter.section(f"{title} commands"):
                    formatter.write_dl(rows)

    def resolve_command(self, ctx, args):
        name, command, rest = super().resolve_command(ctx, args)
        self.running = command
        return name, command, rest

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
            note = getattr(self.running, "interrupt_message", None)
            _fail(f"interrupted; {note}" if note else "interrupted", 130)
        except MemoryError:
            _fail("out of memory; use a smaller problem (fewer points, frames, images or "
                  "iterations)", 1)
        except RuntimeError as err:
            if "can't start new thread" not in str(err):
                raise
            _fail("cannot start a thread: a limit on memory or processes (ulimit -u/-v); use "
                  "fewer --jobs/--threads", 1)
        except OSError as err:
            where = f" ({_path(err.filename)})" if err.filename else ""
            _fail(f"{err.strerror or err}{where}", 1)
        if not standalone_mode:
            return result
        sys.exit(result if isinstance(result, int) else 0)


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM (``timeout``, ``kill``) ends a run like Ctrl-C: scratch files are removed."""
    raise KeyboardInterrupt


def _path(name: object) -> str:
    """A path for an error line: key material hidden, quoted, cut at the front past MAX_PATH
    characters."""
    text = redact(name)
    return repr(text if len(text) <= MAX_PATH else "..." + text[-(MAX_PATH - 3):])


def _fail(message: str, code: int) -> None:
    line = " ".join(redact(message).split())  # before the cut: no partial key is left
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
