"""GAN vs CGAN vs DCGAN channel models of Rayleigh block fading with 16QAM: the convergence
benchmark of seed 003 (Figs. 8-10: G and D losses per model, crossing marked) and fidelity.

Writes under --out (default results/convergence/) what `commgan converge` writes:
convergence.csv (per model and seed: crossover and equilibrium iterations, seconds),
summary.csv (mean, std over seeds), fidelity.csv (sliced Wasserstein distance, BER on generated
vs true blocks at 0/10/20 dB, ae gap at BER 1e-2), ae_ber.csv, histories.csv, losses.png (the
survey's figures), fidelity.png and config.json. Definitions: commgan/sim/convergence.py.

    python experiments/convergence.py            # the README numbers (5 seeds, defaults)
    python experiments/convergence.py --smoke    # seconds: every stage on a tiny budget
"""

from __future__ import annotations

import argparse
import os

import torch

from commgan.sim.convergence import ConvergenceConfig, format_summary, run_convergence


def smoke_config() -> ConvergenceConfig:
    """Every stage, tiny budget (numbers meaningless)."""
    return ConvergenceConfig(seeds=2, iterations={"gan": 5, "cgan": 5, "dcgan": 5},
                             batch_blocks=16, window=2, smooth=1, fidelity_blocks=500,
                             swd_samples=40, ae_steps=3, ae_bits=56 * 100,
                             ae_ebno_db=(0.0, 40.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny budget")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per model")
    parser.add_argument("--out", default="results/convergence")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = smoke_config() if args.smoke else ConvergenceConfig(seeds=args.seeds)
    jobs = 1 if args.smoke else min(2, os.cpu_count() or 1)
    result = run_convergence(config, args.out, jobs=jobs, log=print)
    print(format_summary(result.summary, result.fidelity))


if __name__ == "__main__":
    main()
