"""Files of a restoration: the restored PNG, a side-by-side PNG with metrics, metrics CSV.

Every file is written atomically (`commgan.fileio.atomic_write`): a crash leaves the old file or
none; the files of one restoration appear together (`commgan.fileio.output_set`). Plots use
matplotlib's Agg backend.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402
from torch import Tensor  # noqa: E402

from commgan.fileio import atomic_write, output_set  # noqa: E402
from commgan.vision.data import to_uint8  # noqa: E402
from commgan.vision.evaluate import Restoration  # noqa: E402
from commgan.vision.tasks import VISION_TASKS  # noqa: E402
from commgan.vision.training import VISION_MODELS  # noqa: E402

__all__ = ["BASELINE_NAMES", "MODEL_NAMES", "RESTORATION_FILES", "method_label", "save_panels",
           "save_png", "side_by_side", "write_restoration"]

BASELINE_NAMES = {name: task.baseline_name for name, task in VISION_TASKS.items()}
"""Display name of each task's classical baseline."""
MODEL_NAMES = {name: VISION_MODELS[task.model].display_name for name, task in VISION_TASKS.items()}
"""Display name of each task's model."""


def method_label(task: str, key: str) -> str:
    """Display name of a key of `Restoration.metrics` ("baseline", "model", or a name)."""
    return {"baseline": BASELINE_NAMES[task], "model": MODEL_NAMES[task]}.get(key, key)


def save_png(image: Tensor, path: str | Path) -> None:
    """Write [3, H, W] in [0, 1] as an 8-bit RGB PNG, atomically."""
    pil = Image.fromarray(to_uint8(image))
    atomic_write(path, lambda tmp: pil.save(tmp, format="PNG"))


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


def save_panels(panels: list[tuple[str, Tensor]], path: str | Path, title: str = "") -> None:
    """PNG of images [3, H, W] side by side, each under its caption, sized to the last one."""
    h, w = panels[-1][1].shape[-2:]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.0 * len(panels), 4.0 * h / w + 0.9))
    for ax, (caption, image) in zip(axes, panels, strict=True):
        ax.imshow(to_uint8(image), interpolation="nearest")
        ax.set_title(caption, fontsize=9)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
    finally:
        plt.close(fig)


def side_by_side(result: Restoration, path: str | Path, title: str = "") -> None:
    """PNG: degraded | baseline | model (| reference), each titled with its metrics."""
    enlarged = VISION_TASKS[result.task].scale > 1
    panels = [("degraded input" + (" (bicubic-enlarged)" if enlarged else ""), result.degraded,
               result.metrics.get("degraded")),
              (BASELINE_NAMES[result.task], result.baseline, result.metrics.get("baseline")),
              (MODEL_NAMES[result.task], result.restored, result.metrics.get("model"))]
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
            table = pd.DataFrame([{"method": method_label(result.task, k), **v}
                                  for k, v in result.metrics.items()])
            path = out / "metrics.csv"
            atomic_write(path, lambda tmp: table.to_csv(tmp, index=False))
            written.append(path)
    return written
