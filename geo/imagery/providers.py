"""Real imagery providers of the fetch stage (``geo.imagery.fetch`` holds the shared machinery).

- ``local``: the user's own images (manifest or EXIF), matched to views or taken as-is;
- ``gsv``: Google Street View Static API (metadata first, optional URL signing);
- ``mapillary``: Mapillary Graph API v4 (bbox search, panorama crops).

The ``simulated`` provider is ``geo.sim.survey`` and has its own entry point.
"""

from __future__ import annotations

from typing import Any

from geo.errors import GeoInputError

PROVIDERS = ("simulated", "local", "mapillary", "gsv")


def provider_from_name(name: str, **options: Any) -> Any:
    """A provider object for ``--provider NAME``; ``options`` are its keyword arguments."""
    if name == "gsv":
        from geo.imagery.gsv import StreetViewProvider

        return StreetViewProvider(**options)
    if name == "mapillary":
        from geo.imagery.mapillary import MapillaryProvider

        return MapillaryProvider(**options)
    if name == "local":
        from geo.imagery.local import LocalProvider

        return LocalProvider(**options)
    raise GeoInputError(f"unknown provider '{name}': choose one of {', '.join(PROVIDERS)}")
