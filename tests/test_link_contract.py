"""The engine's contract with systems from outside: the three traps a coded link written by a
user fell into (issue 27) each end in one clear error, whatever ``--jobs`` is."""

from __future__ import annotations

import pickle

import pytest
import torch

from channels import WiretapChannel, get_modulation
from commgan.comm.classical import QAMSystem
from commgan.comm.registry import SYSTEMS, build_system
from commgan.errors import CommganError
from commgan.sim.config import SimulationConfig
from commgan.sim.engine import check_symbols, simulate_point
from commgan.sim.sweep import run_sweep


class RepetitionQAM(QAMSystem):
    """A rate-1/2 repetition code on 16QAM written as a user would first try: a QAM subclass
    that sends every bit twice and forgets to declare its rate."""

    name = "repetition"

    def transmit(self, bits, nonces=None):
        return super().transmit(torch.repeat_interleave(bits, 2, dim=-1))

    def receive(self, out, nonces=None, key=None):
        llr = self.llr(out)
        return ((llr[..., 0::2] + llr[..., 1::2]) > 0).float()


class DeclaredRepetitionQAM(RepetitionQAM):
    name = "repetition-declared"

    @property
    def bits_per_channel_use(self) -> float:
        return self.modulation.num_bits_per_symbol / 2


class GainQAM(QAMSystem):
    """A system with a constructor option that init_args() forgets."""

    name = "gain"

    def __init__(self, modulation, key=None, device=None, gain: float = 1.0) -> None:
        super().__init__(modulation, key=key, device=device)
        self.gain = gain


def _point(system, **kwargs):
    return simulate_point(system, WiretapChannel("awgn"), 4.0, frame_bits=256, batch_frames=64,
                          target_errors=50, max_bits=64 * 256, seed=0, **kwargs)


def test_undeclared_rate_is_one_clear_error():
    with pytest.raises(CommganError, match=r"R = 4 bits per channel use needs"):
        _point(RepetitionQAM(get_modulation("16qam")))


def test_a_subclass_that_changes_the_link_runs_the_bit_path(monkeypatch):
    system = DeclaredRepetitionQAM(get_modulation("16qam"))
    assert system.fast_link() is None
    assert QAMSystem(get_modulation("16qam")).fast_link() is not None
    calls = []
    receive = system.receive
    monkeypatch.setattr(system, "receive", lambda *a, **k: calls.append(1) or receive(*a, **k))
    point = _point(system)
    assert calls and point.receivers["bob"].frames == 64


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_recipe_that_misses_an_option_is_refused(jobs):
    config = SimulationConfig(channel="awgn", mod="16qam", systems=("gain",), ebno_db=(4.0,),
                              max_bits=20_000, target_errors=20)
    with pytest.raises(CommganError, match="gain missing from init_args"):
        run_sweep(config, {"gain": GainQAM(get_modulation("16qam"), gain=2.0)}, jobs=jobs)


NON_DEFAULT_OPTIONS = {"qam": "csi=em", "qam+chacha": "csi=em",
                       "qam-ldpc": "k=256,n=768,iterations=5,cn_update=minsum",
                       "qam-ldpc+chacha": "k=256,n=512,decoder=sionna,iterations=4",
                       "ae-ldpc": "k=256,n=512,iterations=5,cn_update=minsum",
                       "gan-enc-ldpc": "k=256,n=768,decoder=sionna,iterations=5"}
"""Non-default options of every registered system that has options (the recipe must carry them
to worker processes)."""


def _labelled(name: str) -> str:
    if SYSTEMS[name].options is None:
        return name
    assert name in NON_DEFAULT_OPTIONS, f"add non-default options of {name} to this test"
    return f"{name}:{NON_DEFAULT_OPTIONS[name]}"


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_every_registered_system_keeps_the_contract(name):
    """Shapes and the R check, and the recipe round trip with non-default options: the system
    a worker process rebuilds sends the same symbols and decides the same bits."""
    system = build_system(_labelled(name), "16qam", key=bytes(range(32)))
    system.check_recipe()
    frame_bits = system.frame_multiple * 4
    bits = torch.randint(0, 2, (3, frame_bits), generator=torch.Generator().manual_seed(1)
                         ).float()
    nonces = torch.arange(3)
    rebuilt = pickle.loads(pickle.dumps(system))
    assert type(rebuilt) is type(system) and rebuilt.init_args() == system.init_args()
    with torch.inference_mode():
        symbols = system.transmit(bits, nonces)
        check_symbols(system, symbols, 3, frame_bits)
        torch.testing.assert_close(rebuilt.transmit(bits, nonces), symbols)
        out = WiretapChannel("awgn")(symbols, 8.0, system.bits_per_channel_use).bob
        assert torch.equal(rebuilt.receive(out, nonces), system.receive(out, nonces))
    with pytest.raises(CommganError, match="transmit returned symbols of shape"):
        check_symbols(system, symbols[:, 1:], 3, frame_bits)


FAST = [name for name in SYSTEMS if build_system(name, "16qam", key=bytes(32)).fast_link()]


@pytest.mark.parametrize("name", FAST)
def test_declared_fast_links_equal_the_bit_path(name):
    """Where a system declares a fast link, it gives the bit path's BER: the difference of the
    two estimates within 3 standard errors (a joint level of about 99% over the systems)."""
    points = [simulate_point(build_system(name, "16qam", key=bytes(range(32))),
                             WiretapChannel("rayleigh"), 6.0, frame_bits=256,
                             batch_frames=256, target_errors=None, max_bits=256 * 1024, seed=3,
                             fast=fast).receivers["bob"] for fast in (True, False)]
    difference = points[0].ber - points[1].ber
    spread = sum(((high - low) / (2 * 1.96)) ** 2 for low, high in
                 (stats.interval() for stats in points)) ** 0.5
    assert abs(difference) <= 3 * spread, (points[0].ber, points[1].ber, spread)


KEYED = [name for name in SYSTEMS if SYSTEMS[name].keyed and SYSTEMS[name].learned is None]


@pytest.mark.parametrize("name", KEYED)
def test_keyed_classical_systems_hold_eve_at_one_half(name):
    """Eve, without the key, at a coin toss at an Eb/N0 where Bob decodes (BER < 1e-3)."""
    system = build_system(_labelled(name), "16qam", key=bytes(range(32)))
    point = simulate_point(system, WiretapChannel("awgn"), 12.0,
                           frame_bits=system.frame_multiple * 2, batch_frames=64,
                           target_errors=None, max_bits=200_000, seed=5)
    low, high = point.receivers["eve"].interval()
    assert low >= 0.49 and high <= 0.51, (low, high)
    assert point.receivers["bob"].ber < 1e-3
