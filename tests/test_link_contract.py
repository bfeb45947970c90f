"""The engine's contract with systems from outside: the three traps a coded link written by a
user fell into (issue 27) each end in one clear error, whatever ``--jobs`` is."""

from __future__ import annotations

import pytest
import torch

from channels import WiretapChannel, get_modulation
from commgan.comm.classical import QAMSystem
from commgan.comm.registry import SYSTEMS, build_system
from commgan.errors import CommganError
from commgan.sim.config import SimulationConfig
from commgan.sim.engine import simulate_point
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


@pytest.mark.parametrize("name", list(SYSTEMS))
def test_every_registered_system_keeps_the_contract(name):
    system = build_system(name, "16qam", key=bytes(range(32)))
    system.check_recipe()
    bits = torch.randint(0, 2, (3, system.frame_multiple * 4)).float()
    nonces = torch.arange(3)
    symbols = system.transmit(bits, nonces)
    assert symbols.is_complex()
    assert symbols.shape == (3, round(bits.shape[1] / system.bits_per_channel_use))
