"""The ``commgan`` click group: every error is one ``Error: ...`` line on stderr."""

from __future__ import annotations

import sys

import click

from commgan.errors import CommganError

__all__ = ["cli", "main"]


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


@click.group(cls=_OneLineErrors, no_args_is_help=True,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="commgan")
def cli() -> None:
    """commgan: end-to-end learned, GAN-encrypted wireless links."""


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="commgan")
