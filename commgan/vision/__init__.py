"""Image-restoration GANs on the shared core."""
