"""The image GANs as records, and what trains and caches them.

- `record`: the `VisionModel` record type and the base of the training configs;
- one file per model: `srgan` (SRGAN x4), `crsrgan` (CR-SRGAN x2), `multiloss` (seed 001's
  multi-loss GAN), `pix2pix` (on colour and edges2photo), `cyclegan` (on colour): each holds
  its training config, batch source, losses and record;
- `registry`: `VISION_MODELS`, one line per model;
- `training`: the game of a record trained by `commgan.gan.GANTrainer`, the generator state
  chosen on validation images;
- `cache`: the models in the one model cache (`commgan.checkpoint.ModelCache`).
"""
