"""The networks of the image GANs: generators (`sr`, `restoration`, `unet`), discriminators
(`discriminators`) and the colour statistics some generators read (`colour`). Architectures only:
what trains them is in `commgan.vision.models`."""
