"""How faithful a trained channel model is, three ways (on the first seed's model):

1. sliced Wasserstein-1 distance between generated and true y given x, per constellation point
   (64 directions), averaged over the points, next to the same distance between two
   independent true sample sets of the same size (the floor that finite samples give);
2. BER of the coherent receiver (least-squares fade estimate from the block's pilots, y / h,
   nearest point) on generated and on true blocks at each Eb/N0, with 95% intervals over
   blocks, and the relative difference;
3. an ``ae`` transceiver trained through the learned channel (`LearnedChannel`), evaluated on
   the true channel by the BER engine, against the same ``ae`` trained on the true channel:
   the Eb/N0 gap at BER 1e-2 (positive = the one trained through the model needs more).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import torch

from channels import (
    NearestPointSlicer,
    WiretapChannel,
    bit_errors_between_indices,
    get_modulation,
)
from commgan.channelgan_study.config import ConvergenceConfig
from commgan.comm.autoencoder import AutoencoderSystem, AutoencoderTraining, train_autoencoder
from commgan.comm.channelgan import (
    ChannelGAN,
    ChannelModelConfig,
    LearnedChannel,
    build_channel_model,
    estimate_fading,
)
from commgan.rng import seeded
from commgan.sim.analysis import ebno_at_ber
from commgan.sim.engine import simulate_point
from commgan.sim.stats import FrameErrorStats

__all__ = ["ae_curve", "ae_gaps", "ber_fidelity", "slice_directions", "sliced_wasserstein"]

_CHUNK_BLOCKS = 4096
"""Blocks drawn at once by `ber_fidelity`."""


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, directions: torch.Tensor) -> float:
    """Sliced Wasserstein-1 distance of two equal-size 2-D samples.

    a, b: [N, 2]; directions: [K, 2] unit vectors. Returns the mean over directions of the
    1-D W1 distance of the projections (same units as the samples).
    """
    pa = torch.sort(a @ directions.T, dim=0).values
    pb = torch.sort(b @ directions.T, dim=0).values
    return float((pa - pb).abs().mean())


def slice_directions(count: int = 64) -> torch.Tensor:
    """``count`` unit vectors [count, 2] at equally spaced angles in [0, pi)."""
    angles = torch.arange(count, dtype=torch.float32) * (math.pi / count)
    return torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)


@torch.no_grad()
def ber_fidelity(model: ChannelGAN, config: ConvergenceConfig) -> list[dict]:
    """Fidelity 1 and 2 at each Eb/N0 of ``config.fidelity_ebno_db``: one row per point.

    True and generated blocks carry the same data symbols (and, for a model that uses measured
    pilots, the same pilots). Columns: model, ebno_db, swd, swd_floor, blocks, ber_true,
    ber_generated (each with _low, _high: 95% interval), ber_rel_error = ber_generated /
    ber_true - 1.
    """
    sampler = model.sampler_blocks
    cfg = model.config
    slicer = NearestPointSlicer(sampler.points)
    frame_bits = cfg.data_symbols * cfg.num_bits_per_symbol
    pilots = cfg.pilot_symbols
    directions = slice_directions().to(sampler.device)
    rows = []
    for ebno_db in config.fidelity_ebno_db:
        stats = {"true": FrameErrorStats(frame_bits), "generated": FrameErrorStats(frame_bits)}
        by_point: dict[str, list[list[torch.Tensor]]] = {
            key: [[] for _ in range(len(sampler.points))] for key in ("true", "generated",
                                                                      "floor")}
        drawn = 0
        with seeded(config.seed):
            while drawn < config.fidelity_blocks:
                count = min(_CHUNK_BLOCKS, config.fidelity_blocks - drawn)
                drawn += count
                blocks = sampler.draw(count, ebno_db)
                received = {"true": blocks["y"],
                            "generated": model.sample(blocks["x"], blocks["ebno_db"],
                                                      blocks["y"][:, :pilots])}
                for key, y in received.items():
                    h = estimate_fading(y[:, :pilots], sampler.pilots)
                    decided = slicer(y[:, pilots:] / h)
                    stats[key].add(bit_errors_between_indices(blocks["index"], decided))
                received["floor"] = sampler.transmit(blocks["x"], blocks["ebno_db"])
                index = blocks["index"].reshape(-1)
                for key, y in received.items():
                    data = torch.view_as_real(y[:, pilots:].reshape(-1))
                    for point, store in enumerate(by_point[key]):
                        if sum(len(t) for t in store) < config.swd_samples:
                            store.append(data[index == point])
        swd, floor = [], []
        for point in range(len(sampler.points)):
            true, generated, other = (torch.cat(by_point[key][point])[:config.swd_samples]
                                      for key in ("true", "generated", "floor"))
            n = min(len(true), len(generated), len(other))
            swd.append(sliced_wasserstein(generated[:n], true[:n], directions))
            floor.append(sliced_wasserstein(other[:n], true[:n], directions))
        row = {"model": cfg.model, "ebno_db": ebno_db, "swd": float(np.mean(swd)),
               "swd_floor": float(np.mean(floor)), "blocks": config.fidelity_blocks}
        for key, acc in stats.items():
            low, high = acc.interval()
            row.update({f"ber_{key}": acc.ber, f"ber_{key}_low": low, f"ber_{key}_high": high})
        row["ber_rel_error"] = row["ber_generated"] / row["ber_true"] - 1.0
        rows.append(row)
    return rows


def _ae_training(config: ConvergenceConfig, frame_bits: int) -> AutoencoderTraining:
    """The training of every ae of fidelity 3: frames of two blocks, the channel models'
    Eb/N0 range, ``config.ae_steps`` steps, seeded by ``config.seed``."""
    return AutoencoderTraining(steps=config.ae_steps, frame_bits=2 * frame_bits,
                               train_ebno_db=config.train_ebno_db, seed=config.seed)


def ae_curve(link_name: str, model_config: ChannelModelConfig | None,
             generator_state: dict | None, config: ConvergenceConfig, frame_bits: int
             ) -> list[dict]:
    """Fidelity 3 for one link: train an ae through ``link_name`` ("true", or a learned
    channel given by its config and G's state dict) and measure its BER on the true channel
    at each Eb/N0 of ``config.ae_ebno_db`` in frames of ``frame_bits`` (one block).

    Returns rows (link, ebno_db, bits, errors, ber, ci_low, ci_high, seconds since the start).
    """
    link = None
    if model_config is not None:
        model = build_channel_model(model_config, config.device)
        model.generator.load_state_dict(generator_state)
        link = LearnedChannel(model)
    system = AutoencoderSystem(get_modulation(config.mod), device=config.device)
    started = time.perf_counter()
    train_autoencoder(system, config.channel, _ae_training(config, frame_bits), link=link)
    wiretap = WiretapChannel(config.channel, device=config.device)
    rows = []
    for ebno_db in config.ae_ebno_db:
        point = simulate_point(system, wiretap, ebno_db, frame_bits=frame_bits,
                               batch_frames=4096, target_errors=1 << 62,
                               max_bits=config.ae_bits, seed=config.seed)
        acc = point.receivers["bob"]
        low, high = acc.interval()
        rows.append({"link": link_name, "ebno_db": ebno_db, "bits": acc.bits,
                     "errors": acc.errors, "ber": acc.ber, "ci_low": low, "ci_high": high,
                     "seconds": time.perf_counter() - started})
    return rows


def ae_gaps(curves: pd.DataFrame) -> pd.DataFrame:
    """Per learned channel: Eb/N0 at BER 1e-2 of the ae trained through it and of the ae trained
    through the true channel, and the gap (columns model, ae_ebno_at_1e-2_db,
    ae_true_ebno_at_1e-2_db, ae_gap_db), all in dB. curves: `ae_curve` rows (link, ebno_db,
    ber), the true channel's under link "true"."""

    def crossing(link: str) -> float:
        rows = curves[curves["link"] == link]
        return ebno_at_ber(rows["ebno_db"], rows["ber"], 1e-2)

    reference = crossing("true")
    return pd.DataFrame([{"model": link, "ae_ebno_at_1e-2_db": crossing(link),
                          "ae_true_ebno_at_1e-2_db": reference,
                          "ae_gap_db": crossing(link) - reference}
                         for link in dict.fromkeys(curves["link"]) if link != "true"])
