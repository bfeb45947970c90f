"""Convergence and fidelity of GAN, CGAN and DCGAN channel models (Rayleigh, 16QAM).

The study of seed 003 (Figs. 8-10: G and D losses per model, crossing marked) on Rayleigh
block fading with 16QAM, and the fidelity of each model.

Writes under --out (default results/convergence/) what `commgan converge` writes:
convergence.csv (per model and seed: crossover and equilibrium iterations, seconds),
summary.csv (mean, std over seeds), fidelity.csv (sliced Wasserstein distance, BER on generated
vs true blocks at 0/10/20 dB, ae gap at BER 1e-2), ae_ber.csv, histories.csv, losses.png (the
survey's figures), fidelity.png and config.json. Definitions: commgan/channelgan_study/.

    python experiments/convergence.py            # the README numbers (5 seeds, defaults)
    python experiments/convergence.py --smoke    # seconds: every stage on a tiny budget
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import click
import torch

from commgan.channelgan_study import ConvergenceConfig, format_summary, run_convergence
from commgan.comm.channelgan import CHANNEL_MODELS
from commgan.configfile import config_option


@dataclass
class ExperimentConfig:
    """The experiment's options; everything else is `ConvergenceConfig`'s defaults."""

    seeds: int = 5
    """Training seeds per model."""
    out: str = "results/convergence"
    """Output folder."""
    smoke: bool = False
    """Every stage on a tiny budget (seconds; the numbers are meaningless)."""

    def study(self) -> ConvergenceConfig:
        """The study this experiment runs."""
        if not self.smoke:
            return ConvergenceConfig(seeds=self.seeds)
        return ConvergenceConfig(seeds=2, iterations=dict.fromkeys(CHANNEL_MODELS, 5),
                                 batch_blocks=16, window=2, smooth=1, fidelity_blocks=500,
                                 swd_samples=40, ae_steps=3, ae_bits=56 * 100,
                                 ae_ebno_db=(0.0, 40.0))

    @property
    def jobs(self) -> int:
        """Training processes: 1 for the smoke run, else up to 2."""
        return 1 if self.smoke else min(2, os.cpu_count() or 1)


@click.command(help=__doc__.splitlines()[0])
@config_option
@click.option("--smoke", is_flag=True, help="Tiny budget: every stage in seconds.")
@click.option("--seeds", type=click.IntRange(min=1), default=ExperimentConfig.seeds,
              show_default=True, help="Training seeds per model.")
@click.option("--out", default=ExperimentConfig.out, show_default=True, help="Output folder.")
def main(smoke: bool, seeds: int, out: str) -> None:
    experiment = ExperimentConfig(seeds=seeds, out=out, smoke=smoke)
    torch.set_num_threads(1)
    result = run_convergence(experiment.study(), experiment.out, jobs=experiment.jobs,
                             log=click.echo)
    click.echo(format_summary(result.summary, result.fidelity))


if __name__ == "__main__":
    main()
