"""Image GANs on the shared core (`commgan.gan`), split by job over a shared toolkit.

Jobs (each imports the toolkit and `models`, never another job):

- `restore`: image restoration (``commgan restore``): the tasks as records (`VISION_TASKS`),
  restoring and measuring, the command's steps, its files;
- `translate`: paired translation (``commgan translate``): the tasks as records
  (`TRANSLATION_TASKS`), translating and measuring, the files;
- `augment`: GAN data augmentation of a digits classifier (``commgan augment``): the digits,
  the digits GANs as records (`DIGITS_GANS`), the classifier, the study and its report.

Models and networks (below the jobs):

- `models`: the image GANs as records (`VISION_MODELS`, one file per model: training config,
  batch source, losses, record), their training by `commgan.gan.GANTrainer` and the model
  cache;
- `nets`: the generators and discriminators.

Toolkit (below everything, no job's or model's names):

- `data`: shipped images, the split by image, a user's photos, a patch sampler (`imagefile`:
  bounded reading of a user's file);
- `degradations`: down-sampling, masks, noise, fading, edge maps, the task settings;
- `baselines`: bicubic, biharmonic/harmonic inpainting, non-local means, white balance + stretch,
  edge colours;
- `metrics`: PSNR/SSIM in RGB and Y (BT.601); `perceptual`: VGG16 features, LPIPS only from a
  local weights file, the filter-bank substitute;
- `figures`: PNG files and panels of images (a leaf: it draws what it is given).

Submodules are imported on use (``from commgan.vision.metrics import psnr``); nothing heavy is
imported with the package.
"""

__all__ = ["augment", "baselines", "data", "degradations", "figures", "imagefile", "metrics",
           "models", "nets", "perceptual", "restore", "translate"]
