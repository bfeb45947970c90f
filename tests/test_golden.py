"""Golden outputs of simulate (awgn, rayleigh, rayleigh-fast with qam-ssd), attack, converge,
export, restore, translate and augment with fixed seeds (``tests/golden_runs.py``): counts and
digests must be identical, losses, metrics and float arrays equal to a relative 1e-5 (a change
of random streams moves them by far more; the last bits of float kernels differ between CPUs).
Re-record only for a deliberate change of random streams, and say so."""

import json
import math

import pytest
from golden_runs import CASES, GOLDEN_FILE, collect


def _assert_same(expected, actual, where="golden"):
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and set(expected) == set(actual), where
        for key in expected:
            _assert_same(expected[key], actual[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(expected) == len(actual), where
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            _assert_same(e, a, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert math.isclose(expected, actual, rel_tol=1e-5, abs_tol=1e-9), (where, expected,
                                                                              actual)
    else:
        assert expected == actual, (where, expected, actual)


def test_every_recorded_output_has_its_case():
    assert set(json.loads(GOLDEN_FILE.read_text())) == set(CASES)


@pytest.mark.parametrize("case", list(CASES))
def test_golden_outputs_unchanged(case, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expected = json.loads(GOLDEN_FILE.read_text())
    assert case in expected, f"not recorded: python tests/golden_runs.py {case}"
    _assert_same(expected[case], collect(tmp_path, [case])[case], case)
