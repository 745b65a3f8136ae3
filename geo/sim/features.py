"""OSM features of an area that the street-view simulator and the locate stage need.

``buildings_from_area`` gives building footprints with a height in metres,
``surveillance_from_area`` the ``man_made=surveillance`` nodes with their camera tags, and
``street_furniture_from_area`` lamps, poles, signs and signals. All return GeoDataFrames in
EPSG:4326; ``.osm.pbf`` files are read with pyrosm, OSM XML with osmnx.
"""

from __future__ import annotations

import json
import re
import tempfile
import zlib
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.streets.area import Area, area_from_spec
from geo.errors import GeoInputError

LEVEL_HEIGHT_M = 3.0
CAMERA_TAGS = (
    "camera:type",
    "camera:mount",
    "height",
    "est_height",
    "direction",
    "camera:direction",
    "surveillance",
    "surveillance:type",
    "surveillance:zone",
)
_FURNITURE = {
    "highway": {
        "street_lamp": "lamp",
        "traffic_signals": "signal",
        "stop": "sign",
        "give_way": "sign",
    },
    "power": {"pole": "pole"},
    "man_made": {"flagpole": "pole", "utility_pole": "pole"},
    "traffic_sign": None,  # any value: a sign
    "advertising": {"column": "pole", "board": "sign"},
    "natural": {"tree": "tree"},
}


def buildings_from_area(area: Area | str) -> gpd.GeoDataFrame:
    """Building footprints of ``area`` (EPSG:4326) with their height.

    Columns: ``building_id`` (OSM id), ``building`` (the tag value), ``height_m`` (metres: the
    ``height`` tag, else ``building:levels`` x 3 m, else a default drawn from 2-7 levels seeded
    by the OSM id), ``height_source`` ("height", "levels" or "default"), ``geometry`` (Polygon or
    MultiPolygon). Raises ``GeoInputError`` if the area has no buildings.
    """
    area = area_from_spec(area) if isinstance(area, str) else area
    raw = _read_features(area, {"building": True}, what="buildings")
    if raw is None or len(raw) == 0:
        raise GeoInputError(
            f"area {area.name} has no buildings (the simulator needs building footprints)"
        )
    raw = raw[raw.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    raw = raw[raw.geometry.is_valid & ~raw.geometry.is_empty]
    if len(raw) == 0:
        raise GeoInputError(f"area {area.name} has no building polygons")
    ids = _ids(raw)
    height = _column(raw, "height").map(_parse_metres).to_numpy(dtype=float)
    levels = _column(raw, "building:levels").map(_parse_number).to_numpy(dtype=float)
    default = np.array([_default_levels(i) for i in ids], dtype=float) * LEVEL_HEIGHT_M
    source = np.where(
        np.isfinite(height) & (height > 0),
        "height",
        np.where(np.isfinite(levels) & (levels > 0), "levels", "default"),
    )
    height_m = np.where(
        source == "height", height, np.where(source == "levels", levels * LEVEL_HEIGHT_M, default)
    )
    height_m = np.clip(height_m, 2.5, 300.0)
    out = gpd.GeoDataFrame(
        {
            "building_id": ids,
            "building": _column(raw, "building").fillna("yes").astype(str).to_numpy(),
            "height_m": height_m,
            "height_source": source,
        },
        geometry=raw.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    return out.reset_index(drop=True)


def surveillance_from_area(area: Area | str) -> gpd.GeoDataFrame:
    """The ``man_made=surveillance`` nodes of ``area`` (EPSG:4326).

    Columns: ``osm_id`` and the tags ``camera:type``, ``camera:mount``, ``height``,
    ``est_height``, ``direction``, ``camera:direction``, ``surveillance``, ``surveillance:type``,
    ``surveillance:zone`` (strings, missing as None), ``geometry`` (Point). May be empty.
    """
    area = area_from_spec(area) if isinstance(area, str) else area
    raw = _read_features(area, {"man_made": ["surveillance"]}, what="surveillance", nodes_only=True)
    columns = {"osm_id": np.zeros(0, dtype=np.int64), **{tag: [] for tag in CAMERA_TAGS}}
    if raw is None or len(raw) == 0:
        return gpd.GeoDataFrame(columns, geometry=[], crs="EPSG:4326")
    raw = raw[raw.geometry.geom_type == "Point"]
    tags = _tags_table(raw, CAMERA_TAGS)
    out = gpd.GeoDataFrame(
        {"osm_id": _ids(raw), **{t: tags[t].to_numpy() for t in CAMERA_TAGS}},
        geometry=raw.geometry.to_numpy(),
        crs="EPSG:4326",
    )
    return out.reset_index(drop=True)


def street_furniture_from_area(area: Area | str) -> gpd.GeoDataFrame:
    """Street lamps, poles, signs, traffic signals and trees mapped as nodes in ``area``
    (EPSG:4326).

    Columns: ``osm_id``, ``kind`` ("lamp", "pole", "sign", "signal" or "tree"), ``geometry``
    (Point).
    May be empty.
    """
    area = area_from_spec(area) if isinstance(area, str) else area
    query = {key: (True if values is None else list(values)) for key, values in _FURNITURE.items()}
    try:
        raw = _read_features(area, query, what="street furniture", nodes_only=True)
    except GeoInputError:
        raw = None
    if raw is None or len(raw) == 0:
        return gpd.GeoDataFrame(
            {"osm_id": np.zeros(0, dtype=np.int64), "kind": []}, geometry=[], crs="EPSG:4326"
        )
    raw = raw[raw.geometry.geom_type == "Point"]
    tags = _tags_table(raw, tuple(_FURNITURE))
    kind = pd.Series([None] * len(raw), dtype=object)
    for key, values in _FURNITURE.items():
        column = tags[key]
        mapped = column.map(
            lambda v, vals=values: (
                ("sign" if vals is None else vals.get(v)) if isinstance(v, str) else None
            )
        )
        kind = kind.where(kind.notna(), mapped.to_numpy())
    keep = kind.notna().to_numpy()
    out = gpd.GeoDataFrame(
        {"osm_id": _ids(raw)[keep], "kind": kind.to_numpy()[keep]},
        geometry=raw.geometry.to_numpy()[keep],
        crs="EPSG:4326",
    )
    return out.reset_index(drop=True)


# --- readers -------------------------------------------------------------------------------


def _read_features(
    area: Area, tags: dict, *, what: str, nodes_only: bool = False
) -> gpd.GeoDataFrame | None:
    if area.kind == "pbf":
        return _read_pbf(area.path, tags, what=what, nodes_only=nodes_only)
    if area.kind == "xml":
        return _read_xml(area.path, tags, what=what)
    if area.kind == "graphml":
        raise GeoInputError(
            f"area {area.name} is a saved street graph without {what}: pass the .osm.pbf or "
            ".osm file it came from"
        )
    return _read_overpass(area, tags, what=what)


def _read_pbf(path: Path, tags: dict, *, what: str, nodes_only: bool) -> gpd.GeoDataFrame | None:
    from pyrosm import OSM

    try:
        osm = OSM(str(path))
        if list(tags) == ["building"]:
            return osm.get_buildings()
        custom = {key: (True if value is True else list(value)) for key, value in tags.items()}
        return osm.get_data_by_custom_criteria(
            custom_filter=custom,
            filter_type="keep",
            keep_nodes=True,
            keep_ways=not nodes_only,
            keep_relations=not nodes_only,
        )
    except Exception as error:  # pyrosm raises bare errors on corrupt blocks
        raise GeoInputError(f"cannot read {what} from OSM PBF {path}: {_short(error)}") from None


def _read_xml(path: Path, tags: dict, *, what: str) -> gpd.GeoDataFrame | None:
    import osmnx as ox

    from geo.streets.network import _repair_osm_xml

    with tempfile.TemporaryDirectory(prefix="camcensus-osm-") as tmp:
        repaired = _repair_osm_xml(path, Path(tmp) / "repaired.osm")
        try:
            return ox.features_from_xml(repaired, tags=tags)
        except ox._errors.InsufficientResponseError:
            return None
        except Exception as error:
            raise GeoInputError(f"cannot read {what} from {path}: {_short(error)}") from None


def _read_overpass(area: Area, tags: dict, *, what: str) -> gpd.GeoDataFrame | None:
    import osmnx as ox

    try:
        if area.kind == "bbox":
            return ox.features_from_bbox(area.bbox, tags=tags)
        return ox.features_from_place(area.place, tags=tags)
    except ox._errors.InsufficientResponseError:
        return None
    except Exception as error:
        raise GeoInputError(
            f"cannot download {what} for {area.name} (needs network access to OpenStreetMap; "
            f"offline, pass an .osm.pbf or .osm file): {_short(error)}"
        ) from None


# --- tag helpers ---------------------------------------------------------------------------


def _ids(frame: gpd.GeoDataFrame) -> np.ndarray:
    if "id" in frame.columns:
        return pd.to_numeric(frame["id"], errors="coerce").fillna(-1).to_numpy(dtype=np.int64)
    if "osmid" in frame.columns:
        return pd.to_numeric(frame["osmid"], errors="coerce").fillna(-1).to_numpy(dtype=np.int64)
    index = frame.index
    if isinstance(index, pd.MultiIndex) and "id" in index.names:  # osmnx: (element, id)
        return np.asarray(index.get_level_values("id"), dtype=np.int64)
    return np.arange(len(frame), dtype=np.int64)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name].reset_index(drop=True)
    return _tags_table(frame, (name,))[name]


def _tags_table(frame: pd.DataFrame, names: tuple[str, ...]) -> pd.DataFrame:
    """The tags ``names`` as string columns, from real columns or pyrosm's JSON ``tags``."""
    n = len(frame)
    out = {}
    extra = [None] * n
    if "tags" in frame.columns:
        extra = [_json_tags(value) for value in frame["tags"].to_numpy()]
    for name in names:
        values = frame[name].to_numpy() if name in frame.columns else [None] * n
        column = []
        for value, more in zip(values, extra):
            if not _present(value) and more:
                value = more.get(name)
            column.append(str(value) if _present(value) else None)
        out[name] = column
    return pd.DataFrame(out, dtype=object)


def _json_tags(value: object) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except ValueError:
            return {}
    return {}


def _present(value: object) -> bool:
    if value is None:
        return False
    if isinstance(value, float) and np.isnan(value):
        return False
    return not (isinstance(value, str) and not value.strip())


_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


def _parse_number(value: object) -> float:
    """First number in a tag value ("4", "3.5", "4;5" -> 4.0); NaN if none."""
    if not _present(value):
        return float("nan")
    match = _NUMBER.search(str(value))
    return float(match.group().replace(",", ".")) if match else float("nan")


def _parse_metres(value: object) -> float:
    """A height tag in metres ("12", "12.5 m", "40'" feet -> m); NaN if unreadable."""
    number = _parse_number(value)
    if np.isfinite(number) and ("'" in str(value) or "ft" in str(value)):
        number *= 0.3048
    return number


def _default_levels(osm_id: int) -> int:
    """A plausible number of storeys (2-7), the same for the same OSM id on every run."""
    return 2 + zlib.crc32(str(int(osm_id)).encode()) % 6


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]
