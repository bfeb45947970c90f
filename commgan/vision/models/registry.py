"""The vision models by name: one line per model.

The restoration and translation tasks name the model that serves them, the model cache
(`commgan.vision.models.cache`) and the experiments read the records here. Adding a model is
one file (its training config, batch source, losses and `VisionModel` record, beside the others
in `commgan.vision.models`) and one line in `VISION_MODELS`.
"""

from __future__ import annotations

from commgan.registry import Registry
from commgan.vision.models.crsrgan import CR_SRGAN
from commgan.vision.models.cut import CUT_COLOUR
from commgan.vision.models.cyclegan import CYCLEGAN_COLOUR
from commgan.vision.models.gated import GATED
from commgan.vision.models.multiloss import MULTILOSS
from commgan.vision.models.pix2pix import PIX2PIX_COLOUR, PIX2PIX_EDGES
from commgan.vision.models.real_esrgan import REAL_ESRGAN
from commgan.vision.models.record import VisionModel
from commgan.vision.models.spade import PIX2PIX_LABELS, SPADE_LABELS
from commgan.vision.models.srgan import SRGAN

__all__ = ["VISION_MODELS"]

VISION_MODELS: Registry[VisionModel] = Registry("vision model", [
    SRGAN,
    CR_SRGAN,
    MULTILOSS,
    PIX2PIX_COLOUR,
    PIX2PIX_EDGES,
    CYCLEGAN_COLOUR,
    CUT_COLOUR,
    REAL_ESRGAN,
    GATED,
    SPADE_LABELS, PIX2PIX_LABELS,
])
"""Model name -> record. "restore" (the multi-loss GAN) serves the inpaint and denoise tasks."""
