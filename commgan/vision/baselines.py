"""Classical baselines, measured side by side with the GANs.

- SR: bicubic up-sampling (Pillow, a = -0.5, the same kernel as the degradation);
- occlusion / block removal: biharmonic inpainting (``skimage.restoration.inpaint_biharmonic``);
- noise: non-local means (``skimage.restoration.denoise_nl_means``, h = 0.8 sigma, 5x5 patches,
  13x13 search window, the noise level known or estimated);
- fading: grey-world white balance followed by a per-channel 1-99 percentile contrast stretch.

All take and return float tensors [3, H, W] in [0, 1] (outputs rounded to 8 bits).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from commgan.vision.data import from_numpy, quantize, to_numpy
from commgan.vision.degradations import pil_resize

__all__ = ["bicubic_upsample", "biharmonic_inpaint", "nlm_denoise", "stretch_colours"]


def bicubic_upsample(image: Tensor, scale: int) -> Tensor:
    """Pillow bicubic up-sampling of [3, h, w] by ``scale`` -> [3, h*scale, w*scale]."""
    return pil_resize(image, (image.shape[-2] * scale, image.shape[-1] * scale))


def biharmonic_inpaint(image: Tensor, mask: Tensor) -> Tensor:
    """Fill the pixels where ``mask`` [1, H, W] is 1 by biharmonic inpainting; [3, H, W]."""
    from skimage.restoration import inpaint_biharmonic

    missing = mask[0].cpu().numpy() > 0.5
    if not missing.any():
        return quantize(image)
    filled = inpaint_biharmonic(to_numpy(image), missing, channel_axis=-1)
    return quantize(from_numpy(np.clip(filled, 0, 1)))


def nlm_denoise(image: Tensor, sigma: float | None = None) -> Tensor:
    """Non-local means of [3, H, W]; ``sigma`` is the noise std in [0, 1] units (estimated
    with ``skimage.restoration.estimate_sigma`` when None)."""
    from skimage.restoration import denoise_nl_means, estimate_sigma

    array = to_numpy(image)
    if sigma is None:
        sigma = float(np.mean(estimate_sigma(array, channel_axis=-1)))
    out = denoise_nl_means(array, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6,
                           fast_mode=True, channel_axis=-1)
    return quantize(from_numpy(np.clip(out, 0, 1)))


def stretch_colours(image: Tensor, low: float = 1.0, high: float = 99.0) -> Tensor:
    """Grey-world white balance, then each channel's [low, high] percentiles stretched to [0, 1]."""
    x = image.double()
    means = x.mean(dim=(1, 2), keepdim=True).clamp_min(1e-6)
    x = x * (means.mean() / means)
    flat = x.flatten(1).cpu().numpy()
    lo = torch.from_numpy(np.percentile(flat, low, axis=1)).view(3, 1, 1).to(x)
    hi = torch.from_numpy(np.percentile(flat, high, axis=1)).view(3, 1, 1).to(x)
    x = (x - lo) / (hi - lo).clamp_min(1e-6)
    return quantize(x.float())
