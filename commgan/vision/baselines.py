"""Classical baselines, measured side by side with the GANs.

- SR: bicubic up-sampling (Pillow, a = -0.5, the same kernel as the degradation);
- occlusion / block removal: biharmonic inpainting (``skimage.restoration.inpaint_biharmonic``),
  the issue's baseline, and harmonic (membrane, Laplace-equation) inpainting, a second classical
  baseline, and their self-calibrated blend (`calibrated_inpaint`);
- noise: non-local means (``skimage.restoration.denoise_nl_means``, h = 0.8 sigma, 5x5 patches,
  13x13 search window, the noise level known or estimated);
- fading: grey-world white balance followed by a per-channel 1-99 percentile contrast stretch;
- edges to photo: every pixel painted with the mean colour of the training images' edge pixels
  or of their other pixels (`edge_colours`: the per-pixel conditional mean given the edge bit).

All take and return float tensors [3, H, W] in [0, 1] (outputs rounded to 8 bits).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import torch
from scipy import ndimage
from torch import Tensor

from commgan.vision.data import from_numpy, load_image, quantize, to_numpy
from commgan.vision.degradations import EDGE_SIGMA, edge_map, pil_resize

__all__ = ["bicubic_upsample", "biharmonic_inpaint", "blend_weight", "calibrated_inpaint",
           "edge_colours", "harmonic_inpaint", "nlm_denoise", "paint_edges", "stretch_colours"]


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


def harmonic_inpaint(image: Tensor, mask: Tensor) -> Tensor:
    """Fill the pixels where ``mask`` [1, H, W] is 1 by harmonic inpainting; [3, H, W].

    The fill solves Laplace's equation (the 5-point discrete Laplacian is zero at every missing
    pixel) with the known pixels as Dirichlet values and reflecting image borders: the smoothest
    fill in the membrane sense (least squared gradient), where biharmonic inpainting minimises
    the squared Laplacian (thin plate). One sparse solve (``scipy.sparse.linalg.spsolve``) for
    the three channels.
    """
    import scipy.sparse as sparse
    from scipy.sparse.linalg import spsolve

    missing = mask[0].cpu().numpy() > 0.5
    if not missing.any():
        return quantize(image)
    if missing.all():
        raise ValueError("harmonic inpainting needs at least one known pixel")
    pixels = to_numpy(image).astype(np.float64)
    height, width = missing.shape
    index = np.full((height, width), -1, dtype=np.int64)
    ys, xs = np.nonzero(missing)
    index[ys, xs] = np.arange(len(ys))
    degree = np.zeros(len(ys))
    rhs = np.zeros((len(ys), pixels.shape[2]))
    rows, cols = [], []
    for dy, dx in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        ny, nx = ys + dy, xs + dx
        inside = (ny >= 0) & (ny < height) & (nx >= 0) & (nx < width)
        degree += inside
        k, ny, nx = np.nonzero(inside)[0], ny[inside], nx[inside]
        unknown = missing[ny, nx]
        rows.append(k[unknown])
        cols.append(index[ny[unknown], nx[unknown]])
        np.add.at(rhs, k[~unknown], pixels[ny[~unknown], nx[~unknown]])
    n = len(ys)
    rows_all = np.concatenate(rows + [np.arange(n)])
    cols_all = np.concatenate(cols + [np.arange(n)])
    values = np.concatenate([-np.ones(sum(len(r) for r in rows)), degree])
    laplacian = sparse.csc_matrix((values, (rows_all, cols_all)), shape=(n, n))
    solution = spsolve(laplacian, rhs).reshape(n, -1)
    pixels[ys, xs] = solution
    return quantize(from_numpy(np.clip(pixels, 0, 1).astype(np.float32)))


def blend_weight(image: Tensor, mask: Tensor, generator: torch.Generator | None = None,
                 trials: int = 3) -> float:
    """Weight w in [0, 1] of biharmonic (1 - w: harmonic) fitted on the image's own known pixels.

    Synthetic holes (``trials`` times): a random half of the holes (connected components) of the
    mask [1, H, W] moved by a random circular shift, minus the pixels that are already missing
    (half, so that the union keeps a hole density close to the real one). Both methods fill the
    union of the two masks; w is the least-squares weight of
    ``harmonic + w * (biharmonic - harmonic)`` on all synthetic holes, where the true pixels are
    known. Only the degraded ``image`` [3, H, W] is read; 0.5 when there is nothing to fit.
    """
    generator = generator or torch.Generator().manual_seed(0)
    height, width = mask.shape[-2:]
    labels, count = ndimage.label(mask[0].cpu().numpy() > 0.5)
    numerator = energy = 0.0
    for _ in range(trials if count else 0):
        chosen = torch.rand(count + 1, generator=generator).numpy() < 0.5
        chosen[0] = False
        shift = (int(torch.randint(height, (), generator=generator)),
                 int(torch.randint(width, (), generator=generator)))
        half = torch.from_numpy(chosen[labels].astype(np.float32))[None]
        synthetic = torch.roll(half, shift, dims=(-2, -1)) * (1 - mask)
        if synthetic.sum() < 1:
            continue
        union = torch.clamp(mask + synthetic, 0, 1)
        known = image * (1 - union)
        biharmonic, harmonic = biharmonic_inpaint(known, union), harmonic_inpaint(known, union)
        holes = synthetic.expand_as(image) > 0.5
        direction = (biharmonic - harmonic)[holes].double()
        numerator += float((direction * (image - harmonic)[holes].double()).sum())
        energy += float((direction * direction).sum())
    if energy <= 0:
        return 0.5
    return min(max(numerator / energy, 0.0), 1.0)


def calibrated_inpaint(image: Tensor, mask: Tensor, generator: torch.Generator | None = None,
                       biharmonic: Tensor | None = None, harmonic: Tensor | None = None
                       ) -> Tensor:
    """Self-calibrated blend ``harmonic + w * (biharmonic - harmonic)`` of the two fills,
    w from `blend_weight` (this image's own known pixels); [3, H, W], 8-bit rounded.
    biharmonic, harmonic: the two fills of (image, mask) when the caller already has them."""
    if mask.sum() < 1:
        return quantize(image)
    weight = blend_weight(image, mask, generator)
    biharmonic = biharmonic_inpaint(image, mask) if biharmonic is None else biharmonic
    harmonic = harmonic_inpaint(image, mask) if harmonic is None else harmonic
    return quantize(harmonic + weight * (biharmonic - harmonic))


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


@cache
def edge_colours(images: tuple[str, ...], sigma: float = EDGE_SIGMA
                 ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean RGB of the edge pixels, mean RGB of the other pixels) of ``images`` (shipped names
    or file paths): each image's means, averaged over the images with equal weights."""
    edge, flat = [], []
    for name in images:
        image = load_image(name)
        is_edge = edge_map(image, sigma)[0] < 0.5
        pixels = image.flatten(1)
        mask = is_edge.flatten()
        edge.append(pixels[:, mask].mean(1) if mask.any() else pixels.mean(1))
        flat.append(pixels[:, ~mask].mean(1))
    return (tuple(torch.stack(edge).mean(0).tolist()), tuple(torch.stack(flat).mean(0).tolist()))


def paint_edges(edges: Tensor, images: tuple[str, ...]) -> Tensor:
    """An edge map [3, H, W] (black on white, `edge_map`) painted with the `edge_colours` of
    ``images``: [3, H, W], 8-bit rounded."""
    edge, flat = (torch.tensor(c, dtype=torch.float32).view(3, 1, 1)
                  for c in edge_colours(tuple(images)))
    is_edge = edges.mean(dim=0, keepdim=True) < 0.5
    return quantize(torch.where(is_edge, edge, flat))
