"""commgan.registry.Registry: records by name, the one error line for a name that is not there,
duplicates refused, and the vision commands' choices and help read from the vision registries."""

from dataclasses import dataclass, replace

import pytest
from click.testing import CliRunner

from commgan.cli import cli
from commgan.errors import CommganError
from commgan.registry import Registry, UnknownName
from commgan.vision.digits_gans import DIGITS_GANS
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.restore.tasks import VISION_TASKS
from commgan.vision.translate.tasks import TRANSLATION_TASKS, translation_methods


@dataclass(frozen=True)
class Named:
    name: str
    value: int = 0


@pytest.fixture
def toys():
    return Registry("toy", [Named("a", 1), Named("b", 2)])


def test_lookup_and_the_one_error_line(toys):
    assert toys["a"].value == 1 and toys.get("b").value == 2
    assert toys.names() == ["a", "b"] and list(toys) == ["a", "b"] and len(toys) == 2
    with pytest.raises(CommganError) as caught:
        toys["c"]
    assert str(caught.value) == "unknown toy 'c'; valid: a, b"
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, ValueError)
    with pytest.raises(UnknownName, match="^unknown toy 'c'; valid: a, b$"):
        toys.get("c")
    assert toys.get("c", None) is None and "c" not in toys and "a" in toys
    assert [] not in toys  # an unhashable name is simply not there
    with pytest.raises(UnknownName, match="unknown toy"):
        toys[[]]
    assert str(Registry("toy").unknown("x")) == "unknown toy 'x'; valid: none registered"


def test_the_error_hides_key_material(toys):
    key = "3f" * 32  # a 256-bit key in hex, given where a name goes
    with pytest.raises(UnknownName) as caught:
        toys[key]
    assert key not in str(caught.value) and "hex characters, hidden" in str(caught.value)


def test_register_refuses_a_taken_name_and_a_mismatched_one(toys):
    assert toys.register("c", Named("c")) == Named("c") and toys.names() == ["a", "b", "c"]
    with pytest.raises(CommganError, match="toy 'a' is already registered"):
        toys.register("a", Named("a", 9))
    assert toys["a"].value == 1
    with pytest.raises(ValueError, match="named 'd' registered as 'e'"):
        toys.register("e", Named("d"))
    with pytest.raises(TypeError, match="non-empty string"):
        toys.register("", Named(""))
    assert Registry("toy", {"x": 5})["x"] == 5  # records without a name, from a mapping


def test_a_mutable_mapping_for_tests(toys, monkeypatch):
    monkeypatch.setitem(toys, "a", Named("a", 7))  # replacing a record for one test
    assert toys["a"].value == 7
    monkeypatch.undo()
    assert toys["a"].value == 1
    saved = dict(toys)
    del toys["b"]
    with pytest.raises(UnknownName, match="unknown toy 'b'; valid: a"):
        del toys["b"]
    toys.clear()
    assert len(toys) == 0
    toys.update(saved)
    assert toys.names() == ["a", "b"] and toys == saved


@pytest.mark.parametrize("registry, kind", [
    (VISION_MODELS, "vision model"), (VISION_TASKS, "vision task"),
    (TRANSLATION_TASKS, "translation task"), (DIGITS_GANS, "digits GAN")])
def test_vision_registries_own_their_names(registry, kind):
    assert registry.kind == kind and len(registry) >= 2
    assert all(record.name == name for name, record in registry.items())
    with pytest.raises(CommganError, match=f"^unknown {kind} 'nope'; valid: "
                                           f"{', '.join(registry)}$"):
        registry["nope"]


def _help(*command):
    result = CliRunner().invoke(cli, [*command, "--help"], terminal_width=400)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_help_and_choices_follow_the_records(monkeypatch):
    monkeypatch.setitem(VISION_TASKS, "deblur", replace(VISION_TASKS["sr"], name="deblur",
                                                        summary="a task added by a test"))
    assert "deblur (a task added by a test)" in _help("restore")
    monkeypatch.setitem(DIGITS_GANS, "toygan", replace(DIGITS_GANS["cgan"], name="toygan"))
    augment = _help("augment")
    assert "[default: all: cgan, wgan-gp, toygan]" in augment
    assert "cgan 2000, wgan-gp 1000, toygan 2000" in augment
    before = translation_methods()
    assert before[:2] == ["pix2pix", "cyclegan"]
    colour = list(TRANSLATION_TASKS["colour"].models)
    monkeypatch.setitem(TRANSLATION_TASKS["colour"].models, "toy", "pix2pix-colour")
    assert set(translation_methods()) == {*before, "toy"}
    assert f"--model {' or '.join([*colour, 'toy'])}" in _help("translate")
    result = CliRunner().invoke(cli, ["translate", "--model", "nope", "--task", "colour",
                                      "--demo"])
    assert result.exit_code == 2
    assert all(repr(name) in result.output for name in [*before, "toy"])
