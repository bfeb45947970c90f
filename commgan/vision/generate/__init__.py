"""Unconditional image generation: a StyleGAN2 on scikit-learn's digits, its inversion (W, W+)
and GANSpace edits (``commgan generate``)."""
