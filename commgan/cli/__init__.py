"""The ``commgan`` command line (click). Every bad input ends in one error line and exit code 2
(usage) or 1 (a file or value that cannot be used), with no result file written.

Choices and defaults come from the registries (systems, channels, modulations, vision tasks,
channel models), read when a command needs them, so ``commgan --help`` imports none of them.
Commands: ``link`` (simulate, train), ``security`` (attack, export), ``studies`` (converge,
restore), ``translate`` (pix2pix, CycleGAN), ``augment`` (GAN data augmentation on digits);
``commgan --help`` lists them by topic (link, security, vision). Shared options and parsers are
in ``options``; where a command runs (device, jobs, threads, backend) in ``workers``; the one
run context every command gets (log, progress, threads, device, models, backend) in
``context``.
"""

from commgan.cli import (  # noqa: F401  (registers)
    augment,
    generate,
    link,
    restore,
    security,
    studies,
    translate,
)
from commgan.cli.app import cli, main
from commgan.cli.options import check_out_dir, parse_ebno, parse_train_ebno
from commgan.cli.workers import resolve_device

__all__ = ["check_out_dir", "cli", "main", "parse_ebno", "parse_train_ebno", "resolve_device"]
