"""The convergence study (seed 003, Figs. 8-10): train every channel model for every seed,
compute the convergence points of each run and the fidelity of each model's first-seed run."""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from commgan.channelgan_study.config import ConvergenceConfig
from commgan.channelgan_study.fidelity import ae_curve, ae_gaps, ber_fidelity
from commgan.channelgan_study.metrics import CONVERGENCE_COLUMNS, convergence_metrics, summarise
from commgan.channelgan_study.report import ConvergenceResult, history_rows, write_results
from commgan.comm.channelgan import (
    ChannelGAN,
    ChannelModelConfig,
    build_channel_model,
    train_channel_model,
)
from commgan.errors import CommganError
from commgan.gan import GANDivergenceError

__all__ = ["ChannelModelDiverged", "run_convergence"]

Log = Callable[[str], None]


class ChannelModelDiverged(CommganError):
    """A channel model's loss became NaN/inf; the results so far were saved."""


def _train_job(model_config: ChannelModelConfig, device: str, threads: int | None) -> dict:
    """Train one (model, seed); returns its history and G's state dict (on the CPU) or, on a
    NaN/inf loss, the history before it and ``diverged`` = (iteration, loss name)."""
    if threads:
        torch.set_num_threads(threads)
    name = f"{model_config.model} seed {model_config.seed}"
    try:
        model, history = train_channel_model(model_config, device=device, name=name)
    except GANDivergenceError as err:
        return {"history": err.history, "diverged": (err.iteration, err.loss)}
    state = {k: v.detach().cpu() for k, v in model.generator.state_dict().items()}
    return {"history": history, "generator": state}


class _Inline:
    """The executor of ``jobs=1``: runs each job when it is submitted, in this process."""

    class _Done:
        def __init__(self, value) -> None:
            self.value = value

        def result(self):
            return self.value

        def cancel(self) -> bool:
            return False

    def submit(self, fn, *args):
        return self._Done(fn(*args))

    def shutdown(self, cancel_futures: bool = False) -> None:
        pass


def _executor(jobs: int):
    if jobs <= 1:
        return _Inline()
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


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


def _train_models(config: ConvergenceConfig, pool, threads: int | None, out: Path | None,
                  bar: tqdm, log: Log) -> tuple[list[dict], list[pd.DataFrame],
                                                dict[str, ChannelGAN]]:
    """Every (model, seed) training: convergence rows, histories, and each model's first-seed
    model (G trained). On a divergence, saves what is done (with ``out``) and raises."""
    seeds = [config.seed + i for i in range(config.seeds)]
    rows: list[dict] = []
    histories: list[pd.DataFrame] = []
    first_models: dict[str, ChannelGAN] = {}
    runs = [(model, seed, config.model_config(model, seed))
            for model in config.models for seed in seeds]
    futures = [pool.submit(_train_job, model_config, config.device, threads)
               for _, _, model_config in runs]
    for (model, seed, model_config), future in zip(runs, futures, strict=True):
        outcome = future.result()
        history = outcome["history"]
        histories.append(history_rows(model, seed, history))
        metrics = convergence_metrics(history, config.smooth, config.margin, config.eps,
                                      config.window)
        if "diverged" in outcome:
            iteration, loss = outcome["diverged"]
            rows.append({"model": model, "seed": seed, "iterations": model_config.iterations,
                         "n_critic": config.n_critic, "diverged_at": iteration, **metrics})
            for pending in futures:
                pending.cancel()
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
            trained = build_channel_model(model_config, config.device)
            trained.generator.load_state_dict(outcome["generator"])
            trained.generator.eval()
            first_models[model] = trained
        log(f"{model} seed {seed}: crossover {_iteration(metrics['crossover_iter'])}, "
            f"equilibrium {_iteration(metrics['equilibrium_iter'])}, "
            f"{metrics['seconds']:.1f} s")
        bar.update(1)
    return rows, histories, first_models


def _measure_fidelity(config: ConvergenceConfig, first_models: dict[str, ChannelGAN], pool,
                      threads: int | None, bar: tqdm, log: Log
                      ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Fidelity of each model (rows of `ber_fidelity` with the ae gaps) and the ae curves."""
    ae_futures = []
    if config.ae:  # start the slow part first; the BER comparison runs meanwhile
        links = [("true", None, None)] + [(name, model.config, model.generator.state_dict())
                                          for name, model in first_models.items()]
        block = next(iter(first_models.values())).config
        frame_bits = block.data_symbols * block.num_bits_per_symbol
        ae_futures = [(name, pool.submit(ae_curve, name, model_config, state, config,
                                         frame_bits, threads))
                      for name, model_config, state in links]
    fidelity_rows = []
    for model, trained in first_models.items():
        fidelity_rows += ber_fidelity(trained, config)
        log(f"{model}: fidelity at {', '.join(f'{v:g}' for v in config.fidelity_ebno_db)}"
            " dB done")
        bar.update(1)
    fidelity = pd.DataFrame(fidelity_rows)
    if not config.ae:
        return fidelity, None
    curves = []
    for name, future in ae_futures:
        curves += future.result()
        log(f"ae through the {name} channel: trained and evaluated in "
            f"{curves[-1]['seconds']:.0f} s")
        bar.update(1)
    ae_ber = pd.DataFrame(curves)
    return fidelity.merge(ae_gaps(ae_ber), on="model", how="left"), ae_ber


def run_convergence(
    config: ConvergenceConfig,
    out_dir: str | Path | None = None,
    *,
    jobs: int = 1,
    progress: bool = False,
    log: Log = lambda message: None,
) -> ConvergenceResult:
    """Train every model for every seed, compute the convergence metrics and (optionally) the
    fidelity of each model's first-seed run; with ``out_dir``, write the result files.

    jobs: trainings run in this many processes at once (spawned, one torch thread each; 1 = in
    this process). The numbers do not depend on it (every run is seeded); the seconds do.
    A NaN/inf loss stops the run: the finished runs, the diverged run's history up to its last
    good iteration and a row with ``diverged_at`` are saved, and `ChannelModelDiverged` is
    raised with the model, seed and iteration.
    """
    out = Path(out_dir) if out_dir is not None else None
    threads = 1 if jobs > 1 else None
    steps = len(config.models) * config.seeds
    if config.fidelity:
        steps += len(config.models) + ((len(config.models) + 1) if config.ae else 0)
    bar = tqdm(total=steps, disable=not progress, dynamic_ncols=True, leave=False,
               desc="converge")
    started = time.perf_counter()
    pool = _executor(jobs)
    try:
        rows, histories, first_models = _train_models(config, pool, threads, out, bar, log)
        fidelity = ae_ber = None
        if config.fidelity:
            fidelity, ae_ber = _measure_fidelity(config, first_models, pool, threads, bar, log)
        final = _result(rows, histories, fidelity, ae_ber)
    finally:
        bar.close()
        pool.shutdown(cancel_futures=True)
    if out is not None:
        write_results(out, config, final, {"seconds_total": time.perf_counter() - started,
                                           "jobs": jobs})
    return final
