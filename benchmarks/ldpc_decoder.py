"""Per-core throughput and BLER of the fast 5G LDPC decoder against Sionna's (issue 27, item 7).

    python benchmarks/ldpc_decoder.py                  # 16QAM, k=512, n=1024, AWGN, 20 iterations
    python benchmarks/ldpc_decoder.py --ebno 4.0,5.0 --bler-codewords 6000,300000

Both decoders get the same channel LLRs (Sionna's Mapper, AWGN and APP Demapper). Throughput is
the decoder alone, in information bits per second, on one core: torch with one thread for
Sionna's ``LDPC5GDecoder`` (at the best of a few batch sizes), the compiled decoder is
single-threaded. The two are timed alternately, batch by batch, in the same process, so machine
load hits both alike; the ratio is the number to read. The load average is recorded.

BLER: block errors of each decoder over ``--bler-codewords`` codewords per point (Sionna's count
is capped by ``--sionna-max-codewords``: at a BLER of 1e-4 it would need hours), with
Clopper–Pearson intervals that hold simultaneously at 95% over the whole table (Bonferroni).

Writes ``ldpc_decoder.csv`` and ``ldpc_decoder.md`` under ``--out``.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import click
import numpy as np
import pandas as pd
import sionna.phy
import torch
from scipy.stats import beta
from sionna.phy.channel import AWGN
from sionna.phy.fec.ldpc import LDPC5GDecoder, LDPC5GEncoder
from sionna.phy.mapping import BinarySource, Constellation, Demapper, Mapper
from sionna.phy.utils import ebnodb2no

from channels import get_modulation
from commgan.comm.ldpc_decoder import FastLDPC5GDecoder


def clopper_pearson(errors: int, trials: int, alpha: float) -> tuple[float, float]:
    low = beta.ppf(alpha / 2, errors, trials - errors + 1) if errors > 0 else 0.0
    high = beta.ppf(1 - alpha / 2, errors + 1, trials - errors) if errors < trials else 1.0
    return float(low), float(high)


class LLRSource:
    """Batches of (information bits, APP LLRs) of k-bit codewords, Gray QAM on AWGN."""

    def __init__(self, encoder: LDPC5GEncoder, mod: str, ebno_db: float) -> None:
        spec = get_modulation(mod)
        constellation = Constellation(spec.constellation_type, spec.num_bits_per_symbol)
        self.encoder = encoder
        self.mapper = Mapper(constellation=constellation)
        self.demapper = Demapper("app", constellation=constellation)
        self.source, self.channel = BinarySource(), AWGN()
        self.no = ebnodb2no(ebno_db, spec.num_bits_per_symbol, encoder.k / encoder.n)

    def __call__(self, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
        u = self.source([batch, self.encoder.k])
        y = self.channel(self.mapper(self.encoder(u)), self.no)
        return u, self.demapper(y, self.no)


def sionna_batch(decoder, source: LLRSource, candidates: list[int]) -> tuple[int, dict]:
    """The batch size at which Sionna's decoder is fastest per codeword (and all rates)."""
    rates = {}
    for batch in candidates:
        _, llr = source(batch)
        decoder(llr)
        start = time.perf_counter()
        decoder(llr)
        rates[batch] = batch / (time.perf_counter() - start)
    return max(rates, key=rates.get), rates


@click.command()
@click.option("--k", default=512, show_default=True)
@click.option("--n", default=1024, show_default=True)
@click.option("--mod", default="16qam", show_default=True)
@click.option("--iterations", default=20, show_default=True)
@click.option("--ebno", default="4.0,5.0", show_default=True,
              help="Eb/N0 points in dB: a waterfall point (BLER 1e-1..1e-2), a high one (1e-4)")
@click.option("--time-codewords", default=3000, show_default=True,
              help="codewords timed per decoder and point")
@click.option("--bler-codewords", default="6000,300000", show_default=True,
              help="codewords for the BLER per point (fast decoder)")
@click.option("--sionna-max-codewords", default=6000, show_default=True,
              help="cap on Sionna's BLER codewords per point")
@click.option("--batch", default=1000, show_default=True, help="fast decoder batch")
@click.option("--seed", default=1, show_default=True)
@click.option("--out", default="results/benchmarks/ldpc", show_default=True,
              type=click.Path(file_okay=False, path_type=Path))
def main(k, n, mod, iterations, ebno, time_codewords, bler_codewords, sionna_max_codewords,
         batch, seed, out):
    torch.set_num_threads(1)
    sionna.phy.config.seed = seed
    points = [float(x) for x in ebno.split(",")]
    bler_counts = [int(x) for x in bler_codewords.split(",")]
    if len(bler_counts) != len(points):
        raise click.BadParameter("one --bler-codewords count per --ebno point")
    encoder = LDPC5GEncoder(k, n)
    fast = FastLDPC5GDecoder(encoder, num_iter=iterations)
    ref = LDPC5GDecoder(encoder, num_iter=iterations)
    load_before = os.getloadavg()
    rows = []
    for ebno_db, bler_n in zip(points, bler_counts, strict=True):
        source = LLRSource(encoder, mod, ebno_db)
        fast(source(8)[1])  # compile / load the cached kernel
        s_batch, s_rates = sionna_batch(ref, source, [50, 200, 1000])
        click.echo(f"Eb/N0 {ebno_db} dB: Sionna codewords/s by batch "
                   + ", ".join(f"{b}: {r:.0f}" for b, r in s_rates.items()))
        # Throughput: alternate Sionna and fast decoding of the same LLR batches.
        seconds = {"sionna": 0.0, "fast": 0.0}
        timed = 0
        iters = []
        while timed < time_codewords:
            _, llr = source(s_batch)
            start = time.perf_counter()
            ref(llr)
            seconds["sionna"] += time.perf_counter() - start
            start = time.perf_counter()
            fast(llr)
            seconds["fast"] += time.perf_counter() - start
            iters.append(fast.last_num_iter)
            timed += s_batch
        # BLER: the same LLRs to both (Sionna's up to its cap), then the fast one alone.
        errors = {"sionna": 0, "fast": 0}
        counted = {"sionna": 0, "fast": 0}
        bler_iters = []
        with click.progressbar(length=bler_n, label=f"BLER at {ebno_db} dB") as bar:
            while counted["fast"] < bler_n:
                size = min(batch, bler_n - counted["fast"])
                u, llr = source(size)
                u_fast = fast(llr)
                bler_iters.append(fast.last_num_iter)
                errors["fast"] += int((u_fast != u).any(-1).sum())
                counted["fast"] += size
                if counted["sionna"] < sionna_max_codewords:
                    errors["sionna"] += int((ref(llr) != u).any(-1).sum())
                    counted["sionna"] += size
                bar.update(size)
        for name in ("sionna", "fast"):
            rows.append({
                "ebno_db": ebno_db, "decoder": name,
                "batch": s_batch if name == "sionna" else f"{s_batch} (timing), {batch} (BLER)",
                "timed_codewords": timed, "seconds": seconds[name],
                "info_bits_per_s": timed * k / seconds[name],
                "speedup": seconds["sionna"] / seconds[name],
                "mean_iterations": (float(np.concatenate(bler_iters).mean()) if name == "fast"
                                    else float(iterations)),
                "bler_codewords": counted[name], "block_errors": errors[name],
                "bler": errors[name] / counted[name],
            })
    alpha = 0.05 / len(rows)
    for row in rows:
        row["ci_low"], row["ci_high"] = clopper_pearson(row["block_errors"],
                                                        row["bler_codewords"], alpha)
    load_after = os.getloadavg()
    table = pd.DataFrame(rows)
    for column, value in (("k", k), ("n", n), ("mod", mod), ("num_iter", iterations),
                          ("cpu", platform.processor() or platform.machine()),
                          ("load_before", f"{load_before[0]:.2f}"),
                          ("load_after", f"{load_after[0]:.2f}")):
        table[column] = value
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "ldpc_decoder.csv", index=False)
    lines = ["| Eb/N0 (dB) | decoder | batch | info bit/s (1 core) | x Sionna | mean iterations "
             "| codewords | block errors | BLER [simultaneous 95% CI] |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(
            f"| {row['ebno_db']:g} | {row['decoder']} | {row['batch']} "
            f"| {row['info_bits_per_s'] / 1e6:.3f} M "
            f"| {row['speedup']:.1f} | {row['mean_iterations']:.2f} | {row['bler_codewords']} "
            f"| {row['block_errors']} | {row['bler']:.2e} [{row['ci_low']:.1e}, "
            f"{row['ci_high']:.1e}] |")
    markdown = (f"5G LDPC k={k}, n={n}, {mod}, AWGN, {iterations} BP iterations (boxplus), "
                f"decoder only, one core, same LLRs, timed alternately batch by batch (Sionna "
                f"at its fastest of batches 50/200/1000); load average "
                f"{load_before[0]:.2f} before, {load_after[0]:.2f} after "
                f"({os.cpu_count()} cores).\n\n" + "\n".join(lines) + "\n")
    (out / "ldpc_decoder.md").write_text(markdown)
    click.echo(markdown)


if __name__ == "__main__":
    main()
