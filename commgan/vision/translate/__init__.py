"""Paired image-to-image translation (``commgan translate``): the tasks as records (`tasks`),
translating and measuring images (`run`) and the files (`report`). The models (pix2pix,
CycleGAN) are records of `commgan.vision.models`."""
