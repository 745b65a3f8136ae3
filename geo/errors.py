"""Errors that mean the user's input is wrong (reported as one line, exit code 2)."""


class GeoInputError(ValueError):
    """Bad user input to a geo stage: a missing or unreadable area, a malformed option."""
