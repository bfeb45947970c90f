"""Files of a restoration: the restored PNG, a side-by-side PNG with metrics, metrics CSV.

Every file is written atomically (`commgan.fileio.atomic_write`): a crash leaves the old file or
none; the files of one restoration appear together (`commgan.fileio.output_set`). The names of
methods come from the task's and the model's records.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from commgan.fileio import atomic_write, output_set
from commgan.vision.figures import save_panels, save_png
from commgan.vision.models.registry import VISION_MODELS
from commgan.vision.restore.evaluate import Restoration
from commgan.vision.restore.tasks import VISION_TASKS

__all__ = ["RESTORATION_FILES", "method_label", "side_by_side", "write_restoration"]


def method_label(task: str, key: str, model: str | None = None) -> str:
    """Display name of a key of `Restoration.metrics`: "baseline" and "model" by the task's
    records (the baseline's name, the display name of ``model``, by default the model serving
    the task), any other key (degraded, harmonic, ...) as it is."""
    spec = VISION_TASKS[task]
    if key == "baseline":
        return spec.baseline_name
    if key == "model":
        return VISION_MODELS[model or spec.model].display_name
    return key


def _caption(metrics: dict[str, float] | None, task: str) -> str:
    if not metrics:
        return ""
    y = VISION_TASKS[task].metrics_on_y
    psnr = metrics["psnr_y" if y else "psnr"]
    ssim = metrics["ssim_y" if y else "ssim"]
    text = f"\nPSNR{'(Y)' if y else ''} {psnr:.2f} dB  SSIM {ssim:.3f}"
    if not math.isnan(metrics.get("lpips", float("nan"))):
        text += f"  LPIPS {metrics['lpips']:.3f}"
    return text


def side_by_side(result: Restoration, path: str | Path, title: str = "") -> None:
    """PNG: degraded | baseline | model (| compared models) (| reference), each titled with
    its metrics."""
    enlarged = VISION_TASKS[result.task].scale > 1
    panels = [("degraded input" + (" (bicubic-enlarged)" if enlarged else ""), result.degraded,
               result.metrics.get("degraded")),
              (method_label(result.task, "baseline"), result.baseline,
               result.metrics.get("baseline")),
              (method_label(result.task, "model", result.model), result.restored,
               result.metrics.get("model")),
              *((name, image, result.metrics.get(name))
                for name, image in result.comparisons.items())]
    if result.reference is not None:
        panels.append(("reference", result.reference, None))
    save_panels([(name + _caption(metrics, result.task), image)
                 for name, image, metrics in panels], path, title)


RESTORATION_FILES = ("restored.png", "side_by_side.png", "metrics.csv")
"""What a restoration writes into its output folder (metrics.csv only with a reference)."""


def write_restoration(result: Restoration, out: str | Path, title: str = "") -> list[Path]:
    """Write restored.png, side_by_side.png and (with a reference) metrics.csv into ``out``,
    all together or none; a metrics.csv of an earlier run is removed when there is none now."""
    out = Path(out)
    written = [out / "restored.png", out / "side_by_side.png"]
    with output_set(out, replaces=[out / name for name in RESTORATION_FILES]):
        save_png(result.restored, written[0])
        side_by_side(result, written[1], title)
        if result.metrics:
            table = pd.DataFrame([{"method": method_label(result.task, k, result.model), **v}
                                  for k, v in result.metrics.items()])
            path = out / "metrics.csv"
            atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
            written.append(path)
    return written
