"""The tables geo writes, as pyarrow schemas: the data contracts of DESIGN.md.

Writers write with them (``geo.io.write_parquet(frame, path, schema=...)``), readers and tests
validate against them (``check_frame``) instead of spelling columns out again. Geometry is WKB
in EPSG:4326 (GeoParquet); metric work happens elsewhere, in the local UTM zone.

The detections table belongs to the detector package (``detector.schemas.DETECTIONS``); geo
never imports detector, so it reads detections by the column names it needs
(``DETECTION_COLUMNS``).
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import pyarrow as pa

from geo.errors import GeoInputError

GEOMETRY = pa.field("geometry", pa.binary())  # WKB, EPSG:4326 (GeoParquet metadata)

POINTS = pa.schema([
    ("point_id", pa.int64()),
    ("street_id", pa.int64()),
    ("u", pa.int64()),
    ("v", pa.int64()),
    ("key", pa.int64()),
    ("offset_m", pa.float64()),  # metres along the street edge from u
    ("road_bearing", pa.float64()),  # degrees clockwise from north
    ("lon", pa.float64()),
    ("lat", pa.float64()),
    GEOMETRY,
])

VIEWS = pa.schema([
    ("view_id", pa.string()),
    ("point_id", pa.int64()),
    ("heading", pa.float64()),  # degrees clockwise from north
    ("pitch", pa.float64()),  # degrees above the horizon
    ("fov", pa.float64()),  # horizontal field of view, degrees
    ("side", pa.string()),
    ("lon", pa.float64()),
    ("lat", pa.float64()),
    GEOMETRY,
])

IMAGES = pa.schema([
    ("view_id", pa.string()),
    ("image_id", pa.string()),
    ("provider", pa.string()),
    ("path", pa.string()),  # relative to the survey directory, or absolute
    ("width", pa.int64()),  # pixels
    ("height", pa.int64()),
    ("lon", pa.float64()),
    ("lat", pa.float64()),
    ("heading", pa.float64()),
    ("fov", pa.float64()),
    ("pitch", pa.float64()),
    ("captured_at", pa.string()),  # ISO 8601, when the provider knows it
    ("status", pa.string()),  # ok / no_imagery / error
    ("error", pa.string()),
    ("source_id", pa.string()),  # the provider's own id (pano id, Mapillary id, file name)
])

TRUTH_BOXES = pa.schema([
    ("image_id", pa.string()),
    ("camera_id", pa.string()),
    ("class_name", pa.string()),
    ("x1", pa.float64()),  # pixels
    ("y1", pa.float64()),
    ("x2", pa.float64()),
    ("y2", pa.float64()),
])

CAMERAS = pa.schema([
    ("camera_id", pa.int64()),
    ("lon", pa.float64()),
    ("lat", pa.float64()),
    ("n_views", pa.int64()),
    ("n_detections", pa.int64()),
    ("conf_max", pa.float64()),
    ("class_name", pa.string()),
    ("method", pa.string()),
    ("uncertainty_m", pa.float64()),  # metres
    ("n_visible", pa.int64()),
    ("image_ids", pa.list_(pa.string())),
    ("point_ids", pa.list_(pa.int64())),
    GEOMETRY,
])

DENSITY = pa.schema([
    ("area_id", pa.string()),
    ("name", pa.string()),
    ("strip_m", pa.float64()),  # the estimand: cameras within this many metres of the surveyed streets (widest class)
    ("strip_directed_m", pa.float64()),  # the strip's half-width per class (m; --strip auto: from the design)
    ("strip_dome_m", pa.float64()),
    ("road_km", pa.float64()),
    ("surveyed_km", pa.float64()),
    ("area_km2", pa.float64()),
    ("n_images", pa.int64()),
    ("n_detections", pa.int64()),
    ("n_cameras", pa.int64()),
    ("est_cameras", pa.float64()),
    ("est_lo", pa.float64()),
    ("est_hi", pa.float64()),
    ("est_cv", pa.float64()),  # coefficient of variation of est_cameras
    ("est_directed", pa.float64()),  # est_cameras by (located) class
    ("est_dome", pa.float64()),
    ("var_share_encounter", pa.float64()),  # shares of the variance (dht2 style), summing to 1
    ("var_share_precision", pa.float64()),
    ("var_share_recall", pa.float64()),
    ("per_road_km", pa.float64()),  # est_cameras per surveyed km
    ("per_road_km_lo", pa.float64()),
    ("per_road_km_hi", pa.float64()),
    ("per_km2", pa.float64()),
    ("population", pa.float64()),
    ("per_1000_people", pa.float64()),
    ("rate_est_cameras", pa.float64()),
    ("rate_est_lo", pa.float64()),
    ("rate_est_hi", pa.float64()),
    ("rate_per_road_km", pa.float64()),
    ("truth_cameras", pa.float64()),  # simulator: true cameras inside the strip
    ("truth_all_cameras", pa.float64()),  # simulator: every true camera in the area
    ("truth_seen_cameras", pa.float64()),
    ("osm_cameras", pa.float64()),
    GEOMETRY,
])

# The columns of detector's detections table, which geo reads by name (see the module docstring);
# a test checks they match ``detector.schemas.DETECTIONS``.
DETECTION_COLUMNS = ("image_id", "x1", "y1", "x2", "y2", "conf", "class_id", "class_name", "model_id")


def columns(schema: pa.Schema) -> list[str]:
    """The schema's column names without the geometry (the attribute columns)."""
    return [name for name in schema.names if name != GEOMETRY.name]


def empty_frame(schema: pa.Schema) -> pd.DataFrame:
    """An empty frame with the schema's attribute columns and their dtypes."""
    attributes = pa.schema([schema.field(name) for name in columns(schema)])
    return attributes.empty_table().to_pandas()


def table_from_frame(frame: pd.DataFrame, schema: pa.Schema, *, what: str | None = None) -> pa.Table:
    """``frame``'s columns, in the schema's order and cast to its types (a plain table)."""
    check_frame(frame, schema, what=what)
    return pa.Table.from_pandas(frame[schema.names], schema=schema, preserve_index=False)


def check_frame(frame: pd.DataFrame, schema: pa.Schema, *, required: Iterable[str] | None = None,
                what: str | None = None) -> None:
    """Raise ``GeoInputError`` naming every ``required`` column (default: all of the schema's)
    that ``frame`` lacks or holds with a type the schema's cannot take."""
    what = what or "table"
    names = list(required) if required is not None else list(schema.names)
    require_columns(frame, names, what=what)
    wrong = []
    for name in names:
        if name == GEOMETRY.name:
            continue
        try:
            pa.array(frame[name], from_pandas=True).cast(schema.field(name).type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            wrong.append(f"{name} ({frame[name].dtype}, expected {schema.field(name).type})")
    if wrong:
        raise GeoInputError(f"{what} has column(s) of the wrong type: {', '.join(wrong)}")


def require_columns(frame: pd.DataFrame, names: Iterable[str], *, what: str) -> None:
    """Raise ``GeoInputError`` naming every column of ``names`` that ``frame`` lacks."""
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise GeoInputError(f"{what} lacks column(s): {', '.join(missing)}")


def check_table(schema_read: pa.Schema, schema: pa.Schema, *, what: str) -> None:
    """Raise ``GeoInputError`` when a written file's schema lacks a column of ``schema`` or
    holds one with another type (string and large_string count as the same)."""
    problems = []
    for field in schema:
        if field.name not in schema_read.names:
            problems.append(f"{field.name} missing")
            continue
        got = schema_read.field(field.name).type
        if not _same_type(got, field.type):
            problems.append(f"{field.name} is {got}, expected {field.type}")
    if problems:
        raise GeoInputError(f"{what} does not match its schema: {'; '.join(problems)}")


def _same_type(got: pa.DataType, expected: pa.DataType) -> bool:
    def plain(t: pa.DataType) -> pa.DataType:
        if pa.types.is_large_string(t):
            return pa.string()
        if pa.types.is_large_list(t) or pa.types.is_list(t):
            return pa.list_(plain(t.value_type))
        return t
    return plain(got) == plain(expected)
