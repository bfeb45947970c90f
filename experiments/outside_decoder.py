"""Worked example for wiretap datasets: an eavesdropper written outside commgan.

For each channel, for `ae` and then `gan-enc` at Bob's Eb/N0 = 10 dB (Eve on her own channel at
the same Eb/N0):

1. export a wiretap archive with a `train` split (known plaintext: Eve's observations with the
   true bits) and a `test` split, through the public API (the same arrays as `commgan export`);
2. train a small 1-D CNN, written here with plain torch, on the `train` split's arrays only
   (`y_eve`, `h_eve` -> `bits`); it knows nothing of commgan but what the archive's metadata says
   (R bits per symbol, R consecutive bits per symbol position);
3. score it on the `test` split and on fresh frames (`score_decoder`: new nonces, new bits), next
   to Bob's own receiver on the `test` split's `y_bob`.

Against `ae` the outside decoder should come close to Bob (the link hides nothing); against
`gan-enc` it should stay at a coin toss (verdict `holds`).

Writes under --out (default results/outside_decoder/): summary.csv, summary.json, ber.png and the
archives (CHANNEL-SYSTEM.npz). ``--smoke`` runs in about a minute with tiny models.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import click
import matplotlib
import numpy as np
import pandas as pd
import torch
from torch import nn

from channels import get_modulation
from commgan.comm.keys import load_key
from commgan.comm.registry import system_spec
from commgan.configfile import config_option
from commgan.security.archive import bob_decisions, load_wiretap
from commgan.security.export import export_wiretap
from commgan.security.scoring import score_bits, score_decoder
from commgan.systems import SystemContext, build_systems, load_or_train

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SYSTEMS = ("ae", "gan-enc")


@dataclass
class Experiment:
    """Budget and scope."""

    channels: tuple[str, ...] = ("awgn", "rayleigh")
    """Channels, one archive per channel and system."""
    ebno_db: float = 10.0
    """Bob's Eb/N0 in dB (Eve listens at the same Eb/N0 on her own channel)."""
    frame_bits: int = 512
    """L: bits per frame."""
    train_frames: int = 8000
    """Frames of the archive's ``train`` split (the outside decoder's known plaintext)."""
    test_frames: int = 2000
    """Frames of the archive's ``test`` split."""
    fresh_frames: int = 2000
    """Fresh frames ``score_decoder`` sends (new nonces, new bits)."""
    steps: int = 3000
    """Training steps of the outside decoder."""
    batch_frames: int = 64
    """Frames per training batch."""
    learning_rate: float = 3e-3
    """Adam's initial learning rate (cosine schedule to zero)."""
    width: int = 64
    """Channels of the decoder's convolutions."""
    model_training_steps: int | None = None
    """Retrain ae and gan-enc with this many steps first; None = the cached (or default)
    models."""
    models: str | None = None
    """Model cache folder; None = the default cache."""
    key: str | None = None
    """Key file; None = ``$COMMGAN_KEY``, else a random key."""
    out: str = "results/outside_decoder"
    """Output folder."""
    seed: int = 0
    """Seed of the exports, the scoring frames and the decoder's training."""


class OutsideDecoder(nn.Module):
    """A generic coherent receiver: per symbol Re(y/h), Im(y/h), log|h|^2 -> R bit logits,
    through a few 1-D convolutions (receptive field 13 symbols)."""

    def __init__(self, r: int, width: int) -> None:
        super().__init__()
        self.r = r
        self.net = nn.Sequential(
            nn.Conv1d(3, width, 5, padding=2), nn.ReLU(),
            nn.Conv1d(width, width, 5, padding=2), nn.ReLU(),
            nn.Conv1d(width, width, 5, padding=2), nn.ReLU(),
            nn.Conv1d(width, r, 1),
        )

    @staticmethod
    def features(y: np.ndarray, h: np.ndarray) -> torch.Tensor:
        """[B, n] complex y, h -> [B, 3, n] float."""
        y, h = torch.from_numpy(y), torch.from_numpy(h)
        equalised = y / h
        return torch.stack([equalised.real, equalised.imag,
                            torch.log(h.abs().square() + 1e-12)], dim=1).float()

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """[B, 3, n] -> bit logits [B, n * R] (R consecutive bits per symbol)."""
        logits = self.net(features)
        return logits.transpose(1, 2).reshape(features.shape[0], -1)

    @torch.no_grad()
    def probabilities(self, y: np.ndarray, h: np.ndarray) -> np.ndarray:
        """The decoder ``score_decoder`` wants: y_eve, h_eve -> P(bit = 1) [B, L]."""
        self.eval()
        return torch.sigmoid(self(self.features(y, h))).numpy()


def train_outside_decoder(y: np.ndarray, h: np.ndarray, bits: np.ndarray, r: int,
                          experiment: Experiment) -> tuple[OutsideDecoder, float]:
    """Fit on arrays only: y, h [F, n] complex64, bits [F, L] uint8. Returns the decoder and
    its mean training BCE over the last 10% of the steps."""
    torch.manual_seed(experiment.seed)
    decoder = OutsideDecoder(r, experiment.width)
    features = OutsideDecoder.features(y, h)
    targets = torch.from_numpy(bits).float()
    optimiser = torch.optim.Adam(decoder.parameters(), lr=experiment.learning_rate)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, experiment.steps)
    generator = torch.Generator().manual_seed(experiment.seed)
    losses = []
    decoder.train()
    for _ in range(experiment.steps):
        batch = torch.randint(0, len(targets), (experiment.batch_frames,), generator=generator)
        loss = nn.functional.binary_cross_entropy_with_logits(decoder(features[batch]),
                                                              targets[batch])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
    return decoder, float(np.mean(losses[-max(1, len(losses) // 10):]))


def run(experiment: Experiment, log=print) -> pd.DataFrame:
    out = Path(experiment.out)
    key, key_source = load_key(experiment.key)
    rows = []
    for channel in experiment.channels:
        context = SystemContext(mod="16qam", channel=channel, key=key,
                                models_dir=experiment.models, log=log)
        if experiment.model_training_steps is not None:
            for name in SYSTEMS:
                _train_tiny(name, context, experiment.model_training_steps)
        systems = build_systems(list(SYSTEMS), context)
        for name, system in systems.items():
            start = time.perf_counter()
            path = out / f"{channel}-{name}.npz"
            export_wiretap(path, system, channel, experiment.ebno_db, experiment.test_frames,
                           experiment.frame_bits, splits={"train": experiment.train_frames,
                                                          "test": experiment.test_frames},
                           seed=experiment.seed, key_source=key_source,
                           model_fingerprint=systems.fingerprints().get(name))
            archive = load_wiretap(path)
            train, test, meta = archive["train"], archive["test"], archive.metadata
            decoder, final_bce = train_outside_decoder(train.y_eve, train.h_eve, train.bits,
                                                       int(meta["R"]), experiment)
            bob = score_bits(test.bits, bob_decisions(system, test, meta))
            eve_test = score_bits(test.bits, decoder.probabilities(test.y_eve, test.h_eve))
            eve_fresh = score_decoder(decoder.probabilities, system=system, channel=channel,
                                      ebno_db=experiment.ebno_db,
                                      frames=experiment.fresh_frames,
                                      frame_bits=experiment.frame_bits, seed=experiment.seed)
            row = {"channel": channel, "system": name, "ebno_db": experiment.ebno_db,
                   "eve_ebno_db": meta["eve_ebno_db"], "train_bits": train.bits.size,
                   "model_fingerprint": meta["model_fingerprint"],
                   "decoder_final_bce": final_bce,
                   **_prefixed("bob_test", bob), **_prefixed("eve_test", eve_test),
                   **_prefixed("eve_fresh", eve_fresh),
                   "eve_over_bob": eve_fresh.ber / bob.ber if bob.ber else float("nan"),
                   "seconds": time.perf_counter() - start}
            rows.append(row)
            log(f"{channel} {name}: Bob {bob}; outside Eve, test split {eve_test}; "
                f"outside Eve, fresh frames {eve_fresh}")
    table = pd.DataFrame(rows)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "summary.csv", index=False)
    (out / "summary.json").write_text(json.dumps(
        {"experiment": asdict(experiment), "key_source": key_source,
         "rows": table.to_dict(orient="records")}, indent=2, default=str) + "\n")
    _plot(table, out / "ber.png")
    return table


def _prefixed(prefix: str, score) -> dict:
    return {f"{prefix}_{k}": v for k, v in score.as_dict().items()
            if k in ("ber", "ci_low", "ci_high", "verdict", "bits")}


def _train_tiny(name: str, context: SystemContext, steps: int):
    training = system_spec(name).learned.default_training(get_modulation(context.mod),
                                                           context.channel)
    training.steps, training.frame_bits = steps, 64
    return load_or_train(name, context, training, retrain=True)


def _plot(table: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [f"{r.system}\n{r.channel}" for r in table.itertuples()]
    positions = np.arange(len(table))
    for offset, prefix, label in ((-0.2, "bob_test", "Bob (own receiver)"),
                                  (0.0, "eve_test", "outside Eve, test split"),
                                  (0.2, "eve_fresh", "outside Eve, fresh frames")):
        ber = table[f"{prefix}_ber"].to_numpy()
        errors = np.abs(np.stack([ber - table[f"{prefix}_ci_low"].to_numpy(),
                                  table[f"{prefix}_ci_high"].to_numpy() - ber]))
        ax.errorbar(positions + offset, ber, yerr=errors, fmt="o", capsize=3, label=label)
    ax.axhline(0.5, color="grey", linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_xticks(positions, labels)
    ax.set_ylabel("BER at Eb/N0 = 10 dB (95% interval)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@click.command(help=__doc__.splitlines()[0])
@config_option
@click.option("--smoke", is_flag=True, help="Tiny models and budgets.")
@click.option("--channels", default="awgn,rayleigh", show_default=True,
              help="Comma-separated channels.")
@click.option("--models", default=None, help="Model cache (default: commgan's).")
@click.option("--key", default=None, help="Key file (else $COMMGAN_KEY, else random).")
@click.option("--out", default="results/outside_decoder", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def main(smoke: bool, channels: str, models: str | None, key: str | None, out: str,
         seed: int) -> None:
    experiment = Experiment(channels=tuple(channels.split(",")), models=models, key=key,
                            out=out, seed=seed)
    if smoke:
        experiment.channels = experiment.channels[:1]
        experiment.train_frames, experiment.test_frames, experiment.fresh_frames = 400, 200, 200
        experiment.steps, experiment.model_training_steps = 150, 40
    click.echo(run(experiment).to_string(index=False))


if __name__ == "__main__":
    main()
