"""Image-restoration GANs on the shared core (`commgan.gan`).

- `tasks`: the restoration tasks as records (`VISION_TASKS`: degradation, model, baseline);
- `training`: the models as records (`VISION_MODELS`), their training configs, and training by
  `commgan.gan.GANTrainer`; `sources`: their batch sources and generator inputs;
- `cache`: the models in the one model cache (`commgan.checkpoint.ModelCache`);
- `models`: SRGAN x4, CR-SRGAN x2 and seed 001's multi-loss GAN generators, the discriminator;
- `data`: the images shipped inside installed packages, the split by image, a patch sampler;
- `degradations`: down-sampling, occlusion masks, noise, block removal, fading;
- `metrics`: PSNR/SSIM in RGB and Y (BT.601), LPIPS only from a local weights file;
- `baselines`: bicubic, biharmonic inpainting, non-local means, white balance + stretch;
- `evaluate`, `restore`, `report`: restoring images with a model and a baseline, metrics, files.

Submodules are imported on use (``from commgan.vision.metrics import psnr``); nothing heavy is
imported with the package.
"""

__all__ = ["baselines", "cache", "data", "degradations", "evaluate", "metrics", "models",
           "perceptual", "report", "restore", "sources", "tasks", "training"]
