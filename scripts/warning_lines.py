"""Python warnings in the `camcensus` command: no raw warning text on the terminal.

- A warning raised by camcensus itself (``detector``, ``geo``, ``scripts``) is something the user
  should know: it is printed once as one line, ``note: MESSAGE``.
- A warning from a dependency (pyrosm's "Could not find any OSM data for given area" when an area
  has no features of one kind, library deprecations, ...) is logged quietly to the
  ``camcensus.warnings`` logger at DEBUG level; where such a condition matters, the stage that
  meets it says so in its own words.

``PYTHONWARNINGS`` or ``python -W`` (any warning option) restores Python's own display.
"""

from __future__ import annotations

import logging
import sys
import warnings
from pathlib import Path

LOGGER = logging.getLogger("camcensus.warnings")
_OURS = tuple(str(Path(__file__).resolve().parents[1] / name) for name in ("detector", "geo", "scripts"))
_shown: set[str] = set()


def is_ours(filename: str) -> bool:
    """Whether a warning was raised from camcensus's own code (by the file it points at)."""
    try:
        path = str(Path(filename).resolve())
    except (OSError, ValueError):
        return False
    return path.startswith(_OURS)


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    """``warnings.showwarning`` replacement: one ``note:`` line for ours, a quiet log otherwise."""
    text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
    if is_ours(filename):
        if text not in _shown:
            _shown.add(text)
            print(f"note: {text}", file=file or sys.stderr)
        return
    LOGGER.debug("%s (%s, %s:%s)", text, category.__name__, filename, lineno)


def route_warnings() -> None:
    """Install :func:`show_warning`, unless the user asked for Python's display of warnings."""
    if sys.warnoptions:
        return
    warnings.showwarning = show_warning
