"""commgan: end-to-end learned, GAN-encrypted wireless links."""

__version__ = "0.1.0"
