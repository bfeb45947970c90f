"""The one exception type for bad user input; the CLI turns it into a single error line."""

__all__ = ["CommganError"]


class CommganError(ValueError):
    """Bad input or an unusable file: the message is shown to the user as one line."""
