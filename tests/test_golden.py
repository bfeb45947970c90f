"""Golden outputs of simulate, attack, converge, export and restore with fixed seeds
(``tests/golden_runs.py``): counts and digests must be identical, losses, metrics and float
arrays equal to a relative 1e-5 (a change of random streams moves them by far more; the last
bits of float kernels differ between CPUs). Re-record only for a deliberate change of random
streams, and say so."""

import json
import math

from golden_runs import GOLDEN_FILE, collect


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


def test_golden_outputs_unchanged(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    expected = json.loads(GOLDEN_FILE.read_text())
    _assert_same(expected, collect(tmp_path))
