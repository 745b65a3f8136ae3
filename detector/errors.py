"""Errors that mean the user's input is wrong (reported as one line, exit code 2)."""


class DetectorInputError(ValueError):
    """Bad user input to a detector stage: an unknown model, a malformed dataset, a bad option."""
