"""Files of a translation: the translated PNG, a side-by-side PNG with metrics, metrics CSV, each
written atomically (`commgan.fileio.atomic_write`)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from commgan.fileio import atomic_write
from commgan.vision.figures import save_panels, save_png
from commgan.vision.translate.run import Translation
from commgan.vision.translate.tasks import TRANSLATION_TASKS, method_name

__all__ = ["side_by_side", "write_translation"]


def side_by_side(result: Translation, path: str | Path, title: str = "") -> None:
    """PNG: input | baseline | each model | reference, titled with PSNR / SSIM."""
    spec = TRANSLATION_TASKS[result.task]
    panels = [("input", result.degraded), (spec.baseline_name, result.baseline),
              *((method_name(m), out) for m, out in result.outputs.items()),
              ("reference", result.reference)]

    def caption(name: str) -> str:
        values = result.metrics.get(name)
        return name + (f"\nPSNR {values['psnr']:.2f} dB  SSIM {values['ssim']:.3f}"
                       if values else "")

    save_panels([(caption(name), image) for name, image in panels], path, title)


def write_translation(result: Translation, out: str | Path, title: str = "") -> list[Path]:
    """Write translated.png (the first model's output), side_by_side.png and metrics.csv
    (``method, psnr, ssim, psnr_y, ssim_y, lpips``) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "translated.png", out / "side_by_side.png", out / "metrics.csv"]
    save_png(next(iter(result.outputs.values())), written[0])
    side_by_side(result, written[1], title)
    table = pd.DataFrame([{"method": k, **v} for k, v in result.metrics.items()])
    atomic_write(written[2], lambda tmp: table.to_csv(tmp, index=False))
    return written
