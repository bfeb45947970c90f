"""The convergence study (seed 003, Figs. 8-10): train every channel model for every seed,
compute the convergence points of each run and the fidelity of each model's first-seed run."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from commgan.channelgan_study.config import ConvergenceConfig
from commgan.channelgan_study.fidelity import ae_curve, ae_gaps, ber_fidelity
from commgan.channelgan_study.metrics import CONVERGENCE_COLUMNS, convergence_metrics, summarise
from commgan.channelgan_study.report import ConvergenceResult, history_rows, write_results
from commgan.comm.channelgan import (
    ChannelModelConfig,
    build_channel_model,
    train_channel_model,
)
from commgan.errors import TrainingDiverged
from commgan.gan import GANDivergenceError
from commgan.parallel import Backend, UnitExecutor

__all__ = ["ChannelModelDiverged", "run_convergence"]

Log = Callable[[str], None]


class ChannelModelDiverged(TrainingDiverged):
    """A channel model's loss became NaN/inf; the results so far were saved."""


def _train_unit(shared: ConvergenceConfig, model_config: ChannelModelConfig) -> dict:
    """Train one (model, seed); returns its history and G's state dict (on the CPU) or, on a
    NaN/inf loss, the history before it and ``diverged`` = (iteration, loss name)."""
    name = f"{model_config.model} seed {model_config.seed}"
    try:
        model, history = train_channel_model(model_config, device=shared.device, name=name)
    except GANDivergenceError as err:
        return {"history": err.history, "diverged": (err.iteration, err.loss)}
    state = {k: v.detach().cpu() for k, v in model.generator.state_dict().items()}
    return {"history": history, "generator": state}


@dataclass(frozen=True)
class _BerFidelityJob:
    """Fidelity 1 and 2 of one model (its config and G's state)."""

    model_config: ChannelModelConfig
    state: dict

    def run(self, config: ConvergenceConfig) -> list[dict]:
        model = build_channel_model(self.model_config, config.device)
        model.generator.load_state_dict(self.state)
        model.generator.eval()
        return ber_fidelity(model, config)

    def done(self, rows: list[dict], config: ConvergenceConfig) -> str:
        return (f"{self.model_config.model}: fidelity at "
                f"{', '.join(f'{v:g}' for v in config.fidelity_ebno_db)} dB done")


@dataclass(frozen=True)
class _AeCurveJob:
    """Fidelity 3 through one link: "true", or a learned channel (config and G's state)."""

    link: str
    model_config: ChannelModelConfig | None
    state: dict | None
    frame_bits: int

    def run(self, config: ConvergenceConfig) -> list[dict]:
        return ae_curve(self.link, self.model_config, self.state, config, self.frame_bits)

    def done(self, rows: list[dict], config: ConvergenceConfig) -> str:
        return (f"ae through the {self.link} channel: trained and evaluated in "
                f"{rows[-1]['seconds']:.0f} s")


def _run_job(config: ConvergenceConfig, job: _BerFidelityJob | _AeCurveJob) -> list[dict]:
    return job.run(config)


def _result(rows: list[dict], histories: list[pd.DataFrame],
            fidelity: pd.DataFrame | None = None,
            ae_ber: pd.DataFrame | None = None) -> ConvergenceResult:
    convergence = pd.DataFrame(rows, columns=CONVERGENCE_COLUMNS)
    return ConvergenceResult(
        convergence=convergence, summary=summarise(convergence),
        fidelity=fidelity if fidelity is not None else pd.DataFrame(),
        ae_ber=ae_ber if ae_ber is not None else pd.DataFrame(),
        histories=pd.concat(histories, ignore_index=True) if histories else pd.DataFrame())


def _iteration(value: float) -> str:
    return "never" if math.isnan(value) else f"{value:.0f}"


def _train_models(config: ConvergenceConfig, executor: UnitExecutor, out: Path | None,
                  bar: tqdm, log: Log) -> tuple[list[dict], list[pd.DataFrame], dict[str, dict]]:
    """Every (model, seed) training: convergence rows, histories, and each model's first-seed
    G state. On a divergence, saves what is done (with ``out``) and raises."""
    seeds = [config.seed + i for i in range(config.seeds)]
    rows: list[dict] = []
    histories: list[pd.DataFrame] = []
    first_states: dict[str, dict] = {}
    runs = [config.model_config(model, seed) for model in config.models for seed in seeds]
    diverged: list[bool] = []
    for model_config, outcome in executor.ordered(_train_unit, runs,
                                                  wanted=lambda unit: not diverged):
        model, seed = model_config.model, model_config.seed
        history = outcome["history"]
        histories.append(history_rows(model, seed, history))
        metrics = convergence_metrics(history, config.smooth, config.margin, config.eps,
                                      config.window)
        if "diverged" in outcome:
            diverged.append(True)
            iteration, loss = outcome["diverged"]
            rows.append({"model": model, "seed": seed, "iterations": model_config.iterations,
                         "n_critic": config.n_critic, "diverged_at": iteration, **metrics})
            saved = ""
            if out is not None:
                write_results(out, config, _result(rows, histories), {"diverged": {
                    "model": model, "seed": seed, "iteration": iteration}})
                saved = f"; results so far saved in {out}"
            raise ChannelModelDiverged(f"{model} seed {seed} diverged at iteration {iteration} "
                                       f"({loss} is not finite){saved}")
        rows.append({"model": model, "seed": seed, "iterations": len(history),
                     "n_critic": config.n_critic, "diverged_at": math.nan, **metrics})
        if seed == seeds[0]:
            first_states[model] = outcome["generator"]
        log(f"{model} seed {seed}: crossover {_iteration(metrics['crossover_iter'])}, "
            f"equilibrium {_iteration(metrics['equilibrium_iter'])}, "
            f"{metrics['seconds']:.1f} s")
        bar.update(1)
    return rows, histories, first_states


def _measure_fidelity(config: ConvergenceConfig, first_states: dict[str, dict],
                      executor: UnitExecutor, bar: tqdm, log: Log
                      ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Fidelity of each model (rows of `ber_fidelity` with the ae gaps) and the ae curves."""
    configs = {model: config.model_config(model, config.seed) for model in first_states}
    ae_jobs: list[_AeCurveJob] = []
    if config.ae:  # the slow part first, so that it starts early on a free worker
        block = next(iter(configs.values()))
        frame_bits = block.data_symbols * block.num_bits_per_symbol
        ae_jobs = [_AeCurveJob("true", None, None, frame_bits)] + [
            _AeCurveJob(model, configs[model], state, frame_bits)
            for model, state in first_states.items()]
    ber_jobs = [_BerFidelityJob(configs[model], state) for model, state in first_states.items()]
    fidelity_rows, curves = [], []
    for job, rows in executor.ordered(_run_job, [*ae_jobs, *ber_jobs]):
        (curves if isinstance(job, _AeCurveJob) else fidelity_rows).extend(rows)
        log(job.done(rows, config))
        bar.update(1)
    fidelity = pd.DataFrame(fidelity_rows)
    if not config.ae:
        return fidelity, None
    ae_ber = pd.DataFrame(curves)
    return fidelity.merge(ae_gaps(ae_ber), on="model", how="left"), ae_ber


def run_convergence(
    config: ConvergenceConfig,
    out_dir: str | Path | None = None,
    *,
    jobs: int = 1,
    threads: int = 1,
    backend: Backend | None = None,
    progress: bool = False,
    log: Log = lambda message: None,
) -> ConvergenceResult:
    """Train every model for every seed, compute the convergence metrics and (optionally) the
    fidelity of each model's first-seed run; with ``out_dir``, write the result files.

    jobs: trainings and fidelity jobs run in this many processes at once (the engine's
    :class:`~commgan.parallel.UnitExecutor`, one torch thread each; 1 = in this process).
    The numbers do not depend on it (every run is seeded); the seconds do.
    A NaN/inf loss stops the run: the finished runs, the diverged run's history up to its last
    good iteration and a row with ``diverged_at`` are saved, and `ChannelModelDiverged` is
    raised with the model, seed and iteration.
    """
    out = Path(out_dir) if out_dir is not None else None
    steps = len(config.models) * config.seeds
    if config.fidelity:
        steps += len(config.models) + ((len(config.models) + 1) if config.ae else 0)
    bar = tqdm(total=steps, disable=not progress, dynamic_ncols=True, leave=False,
               desc="converge")
    started = time.perf_counter()
    executor = UnitExecutor(jobs, threads, shared=config, backend=backend, device=config.device)
    try:
        rows, histories, first_states = _train_models(config, executor, out, bar, log)
        fidelity = ae_ber = None
        if config.fidelity:
            fidelity, ae_ber = _measure_fidelity(config, first_states, executor, bar, log)
        final = _result(rows, histories, fidelity, ae_ber)
    finally:
        bar.close()
    if out is not None:
        write_results(out, config, final, {"seconds_total": time.perf_counter() - started,
                                           "jobs": jobs})
    return final
