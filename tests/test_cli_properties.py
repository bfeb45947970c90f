"""Property: no string makes a CLI option parser raise anything but a clean usage error
(``click.ClickException``) or a :class:`CommganError`, and every message is one short line."""

from __future__ import annotations

import os

import click
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from commgan.cli import cli, parse_ebno, parse_train_ebno
from commgan.cli.options import check_models_dir, check_out_dir
from commgan.comm.keys import load_key, parse_key
from commgan.comm.registry import parse_system_names
from commgan.errors import CommganError
from commgan.security.export import parse_splits
from commgan.security.scenarios import parse_scenarios

CLEAN = (click.ClickException, CommganError)
NUMBERISH = st.from_regex(r"\A[-+0-9.eEinfaINFA:,_ x]{0,40}\Z")
TEXT = st.one_of(st.text(max_size=60), NUMBERISH)
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _clean(call, *args) -> None:
    try:
        call(*args)
    except CLEAN as err:
        message = err.format_message() if isinstance(err, click.ClickException) else str(err)
        assert "\n" not in message.strip() or isinstance(err, click.ClickException)
        assert len(" ".join(message.split())) < 400


def _options():
    for command in cli.commands.values():
        for param in command.params:
            if isinstance(param, click.Option) and not param.is_flag and param.name != "config":
                yield command, param


OPTIONS = list(_options())


@pytest.mark.parametrize("command, param", OPTIONS,
                         ids=[f"{c.name}{p.opts[0]}" for c, p in OPTIONS])
@SETTINGS
@given(text=TEXT)
@example(text="a\x00b")
def test_every_click_option_converts_cleanly(command, param, text):
    """Type conversion and callback of every option of every command."""
    ctx = click.Context(command)

    def convert(value: str) -> None:
        converted = param.type.convert(value, param, ctx)
        if param.callback is not None:
            param.callback(ctx, param, converted)

    _clean(convert, text)


@SETTINGS
@given(text=TEXT)
@example(text="-999:999:1e-320")
@example(text="0:1:5e-324")
def test_parsers_in_command_bodies(text):
    for parser in (parse_ebno, parse_train_ebno, parse_system_names, parse_scenarios,
                   check_models_dir):
        _clean(parser, text)
    _clean(parse_splits, text, 10)


@SETTINGS
@given(text=st.text(max_size=40).filter(lambda t: "\x00" not in t))
def test_paths(tmp_path, text):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        _clean(check_out_dir, text)
        _clean(load_key, text)
        assert not list(tmp_path.iterdir())  # validation creates nothing
    finally:
        os.chdir(cwd)


@SETTINGS
@given(data=st.binary(max_size=80), text=TEXT)
def test_keys(data, text):
    _clean(parse_key, data)
    _clean(load_key, None, {"COMMGAN_KEY": text})
