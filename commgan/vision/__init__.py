"""Image-restoration GANs on the shared core (`commgan.gan`).

- `data`: the images shipped inside installed packages, the split by image, a patch sampler;
- `degradations`: down-sampling, occlusion masks, noise, block removal, fading;
- `metrics`: PSNR/SSIM in RGB and Y (BT.601), LPIPS only from a local weights file;
- `baselines`: bicubic, biharmonic inpainting, non-local means, white balance + stretch;
- `models`, `training`: SRGAN x4, CR-SRGAN x2 and seed 001's multi-loss GAN, all trained by
  `commgan.gan.GANTrainer`, and their model cache;
- `evaluate`, `report`: restoring images with a model and a baseline, metrics and figures.

Submodules are imported on use (``from commgan.vision.metrics import psnr``); nothing heavy is
imported with the package.
"""

__all__ = ["baselines", "data", "degradations", "evaluate", "metrics", "models", "perceptual",
           "report", "training"]
