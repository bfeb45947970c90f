"""The one exception type for bad user input; the CLI turns it into a single error line."""

__all__ = ["CommganError", "TrainingDiverged"]


class CommganError(ValueError):
    """Bad input or an unusable file: the message is shown to the user as one line."""


class TrainingDiverged(CommganError, RuntimeError):
    """A training run's loss or parameters became NaN/inf (shown as one line, like bad input)."""
