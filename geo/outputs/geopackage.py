"""One GeoPackage per survey (``survey.gpkg``) for QGIS and other GIS: its layers, styled.

Layers (EPSG:4326): ``points`` (viewpoints), ``views`` (a short line from each viewpoint in the
direction it looks), ``cameras`` (located), ``density`` (the estimate's cells), ``truth`` (the
simulator's cameras, where known) and ``osm_compare`` (the comparison with OpenStreetMap, where it
ran). Each has a QGIS style in the GeoPackage's standard ``layer_styles`` table (the table QGIS
reads and writes), in map.html's colours (``geo.outputs.colours``), so the file opens styled.

``geopackage_from_survey`` is the entry point; it reads the survey's own tables, so it can run
after ``estimate`` or again after the OSM comparison. The file is written to a temporary name and
renamed.
"""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import quoteattr

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.outputs.colours import TRUTH, class_colours, density_bins

GEOPACKAGE = "survey.gpkg"
VIEW_LINE_M = 12.0  # length of a view's line on the map, metres
POINT_COLOUR = "#4a6fa5"
VIEW_COLOUR = "#7f9cc4"


def geopackage_from_survey(survey_dir: str | Path, *, out: str | Path | None = None,
                           areas: gpd.GeoDataFrame | None = None, cameras: gpd.GeoDataFrame | None = None) -> Path:
    """Write ``survey.gpkg`` (or ``out``) from a survey directory's tables; return its path.

    ``areas``, ``cameras``: the density cells and the located cameras when the caller has them
    in hand (else density.parquet and cameras.parquet)."""
    survey_dir = Path(survey_dir)
    layers = layers_from_survey(survey_dir, areas=areas, cameras=cameras)
    return write_geopackage(layers, Path(out) if out is not None else survey_dir / GEOPACKAGE)


def layers_from_survey(survey_dir: Path, *, areas: gpd.GeoDataFrame | None = None,
                       cameras: gpd.GeoDataFrame | None = None) -> dict[str, gpd.GeoDataFrame]:
    """The survey's layers that exist, by name (see the module docstring), in EPSG:4326
    (``areas``, ``cameras``: those layers as the caller has them, instead of their files)."""
    given = {"density": areas, "cameras": cameras}
    layers: dict[str, gpd.GeoDataFrame] = {}
    points = _read_points(survey_dir / "points.parquet")
    if points is not None:
        layers["points"] = points
        views = _read_table(survey_dir / "views.parquet")
        if views is not None:
            layers["views"] = views_as_lines(views, points)
    for name, file in (("cameras", "cameras.parquet"), ("density", "density.parquet"),
                       ("truth", "truth.geojson"), ("osm_compare", "osm_compare.parquet")):
        frame = given.get(name)
        if frame is None:
            frame = _read_geo(survey_dir / file)
        elif name != "density":  # the density cells go in as given (EPSG:4326 already)
            frame = frame.to_crs(4326) if frame.crs is not None else frame.set_crs(4326)
        if frame is not None:
            layers[name] = frame
    return layers


def views_as_lines(views: pd.DataFrame, points: gpd.GeoDataFrame, *, length_m: float = VIEW_LINE_M
                   ) -> gpd.GeoDataFrame:
    """Each view as a line of ``length_m`` metres from its point along its heading (degrees
    clockwise from north), with the view's columns."""
    import shapely

    at = points.set_index("point_id")[["lon", "lat"]].reindex(views["point_id"].to_numpy())
    lon, lat = at["lon"].to_numpy(float), at["lat"].to_numpy(float)
    heading = np.radians(views["heading"].to_numpy(float))
    dlat = length_m * np.cos(heading) / 110_540.0
    dlon = length_m * np.sin(heading) / (111_320.0 * np.cos(np.radians(lat)))
    coords = np.stack([np.stack([lon, lat], axis=1), np.stack([lon + dlon, lat + dlat], axis=1)], axis=1)
    return gpd.GeoDataFrame(views.reset_index(drop=True), geometry=shapely.linestrings(coords), crs=4326)


def write_geopackage(layers: dict[str, gpd.GeoDataFrame], path: str | Path) -> Path:
    """Write ``layers`` (name -> GeoDataFrame) and their styles (``layer_styles``) as one
    GeoPackage at ``path``, atomically (a temporary .gpkg beside it, renamed)."""
    import os

    import pyogrio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}.gpkg")
    # SQLite's synchronous=OFF while the temporary file is written (no fsync per transaction: 5.0 -> 3.2 s for a
    # 1M-detection survey's 621k features), then one fsync before the rename: the same file, as durable; and a
    # 256 MB page cache for the spatial indexes (about 0.3-0.6 s more there)
    before = {key: pyogrio.get_gdal_config_option(key) for key in ("OGR_SQLITE_SYNCHRONOUS", "OGR_SQLITE_CACHE")}
    pyogrio.set_gdal_config_options({"OGR_SQLITE_SYNCHRONOUS": "OFF", "OGR_SQLITE_CACHE": "256"})
    try:
        tmp.unlink(missing_ok=True)
        styles = []
        for name, frame in layers.items():
            frame = _plain(frame)
            pyogrio.write_dataframe(frame, tmp, layer=name, driver="GPKG", append=tmp.exists(), use_arrow=True)
            styles.append(style_row(name, frame))
        if styles:
            pyogrio.write_dataframe(pd.DataFrame(styles), tmp, layer="layer_styles", driver="GPKG",
                                    append=tmp.exists(), layer_options={"FID": "id"})
        with open(tmp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, path)
    finally:
        pyogrio.set_gdal_config_options(before)
        tmp.unlink(missing_ok=True)
    return path


def style_row(layer: str, frame: gpd.GeoDataFrame) -> dict:
    """The ``layer_styles`` row of ``layer``: its QGIS style (QML), the default for the layer."""
    return {"f_table_catalog": "", "f_table_schema": "", "f_table_name": layer,
            "f_geometry_column": "geom", "styleName": f"camcensus {layer}", "styleQML": qml_for(layer, frame),
            "styleSLD": "", "useAsDefault": True, "description": "camcensus: the colours of map.html",
            "owner": "", "ui": "", "update_time": pd.Timestamp.now(tz="UTC").floor("s")}


# --- QGIS styles (QML) ------------------------------------------------------------------------

def qml_for(layer: str, frame: gpd.GeoDataFrame) -> str:
    """A QGIS style for one of the survey's layers."""
    if layer == "density":
        column = "per_road_km" if "per_road_km" in frame else None
        values = frame[column].to_numpy(float) if column else np.array([])
        edges, colours = density_bins(values[np.isfinite(values)] if len(values) else np.array([0.0]))
        return _qml(_graduated(column or "est_cameras", edges, colours))
    if layer == "cameras":
        colours = class_colours(frame["class_name"] if "class_name" in frame else [])
        return _qml(_categorized("class_name", {k: _marker(v, size=3.2) for k, v in colours.items()}))
    if layer == "truth":
        return _qml(_single(_marker(None, outline=TRUTH, size=4.2, outline_width=0.5)))
    if layer == "osm_compare":
        from geo.outputs.mapview import OSM_STATUS_COLOURS

        return _qml(_categorized("status", {s: _marker(c, size=3.0) for s, c in OSM_STATUS_COLOURS.items()}))
    if layer == "views":
        return _qml(_single(_line(VIEW_COLOUR, width=0.3)))
    return _qml(_single(_marker(POINT_COLOUR, size=1.4)))


def _rgba(colour: str | None, alpha: int = 255) -> str:
    if colour is None:
        return "0,0,0,0"
    colour = colour.lstrip("#")
    return ",".join(str(int(colour[i:i + 2], 16)) for i in (0, 2, 4)) + f",{alpha}"


def _options(values: dict[str, str]) -> str:
    inner = "".join(f'<Option type="QString" name="{k}" value={quoteattr(str(v))}/>' for k, v in values.items())
    return f'<Option type="Map">{inner}</Option>'


def _symbol(kind: str, name: str, layer_class: str, values: dict[str, str]) -> str:
    return (f'<symbol type="{kind}" name="{name}" alpha="1" clip_to_extent="1" force_rhr="0">'
            f'<layer class="{layer_class}" enabled="1" pass="0" locked="0">{_options(values)}</layer></symbol>')


def _marker(fill: str | None, *, outline: str = "#232323", size: float = 2.0, outline_width: float = 0.2):
    return ("marker", "SimpleMarker", {"name": "circle", "color": _rgba(fill), "outline_color": _rgba(outline),
                                       "outline_style": "solid", "outline_width": str(outline_width),
                                       "outline_width_unit": "MM", "size": str(size), "size_unit": "MM"})


def _line(colour: str, *, width: float = 0.3):
    return ("line", "SimpleLine", {"line_color": _rgba(colour), "line_style": "solid", "line_width": str(width),
                                   "line_width_unit": "MM", "capstyle": "round"})


def _fill(colour: str):
    return ("fill", "SimpleFill", {"color": _rgba(colour, 190), "style": "solid", "outline_color": "128,128,128,255",
                                   "outline_style": "solid", "outline_width": "0.1", "outline_width_unit": "MM"})


def _single(symbol) -> str:
    kind, layer_class, values = symbol
    return ('<renderer-v2 type="singleSymbol" forceraster="0" symbollevels="0" enableorderby="0">'
            f'<symbols>{_symbol(kind, "0", layer_class, values)}</symbols></renderer-v2>')


def _categorized(attribute: str, symbols: dict) -> str:
    categories = "".join(f'<category symbol="{i}" value={quoteattr(k)} label={quoteattr(k)} render="true"/>'
                         for i, k in enumerate(symbols))
    rendered = "".join(_symbol(kind, str(i), cls, values) for i, (kind, cls, values) in enumerate(symbols.values()))
    return (f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(attribute)} forceraster="0" symbollevels="0" '
            f'enableorderby="0"><categories>{categories}</categories><symbols>{rendered}</symbols></renderer-v2>')


def _graduated(attribute: str, edges: list[float], colours: list[str]) -> str:
    ranges, symbols = [], []
    for i, colour in enumerate(colours):
        lo, hi = edges[i], edges[i + 1]
        upper = 1e12 if not math.isfinite(hi) else hi
        label = f"{lo:g}+" if not math.isfinite(hi) else f"{lo:g} - {hi:g}"
        ranges.append(f'<range symbol="{i}" lower="{lo:.6f}" upper="{upper:.6f}" label={quoteattr(label)} '
                      'render="true"/>')
        kind, layer_class, values = _fill(colour)
        symbols.append(_symbol(kind, str(i), layer_class, values))
    return (f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(attribute)} graduatedMethod="GraduatedColor" '
            'forceraster="0" symbollevels="0" enableorderby="0">'
            f'<ranges>{"".join(ranges)}</ranges><symbols>{"".join(symbols)}</symbols></renderer-v2>')


def _qml(renderer: str) -> str:
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            f'<qgis version="3.34.0" styleCategories="Symbology">{renderer}</qgis>\n')


# --- reading the survey's tables --------------------------------------------------------------

def _read_table(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.is_file() else None


def _read_points(path: Path) -> gpd.GeoDataFrame | None:
    table = _read_table(path)
    if table is None:
        return None
    if "geometry" in table:
        table = table.drop(columns="geometry")
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs=4326)


def _read_geo(path: Path) -> gpd.GeoDataFrame | None:
    if not path.is_file():
        return None
    if path.suffix == ".parquet":
        try:
            frame = gpd.read_parquet(path)
        except (ValueError, KeyError):  # a plain table with lon / lat
            table = pd.read_parquet(path)
            if not {"lon", "lat"} <= set(table):
                return None
            frame = gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(table["lon"], table["lat"]), crs=4326)
    else:
        frame = gpd.read_file(path)
    return frame.to_crs(4326) if frame.crs is not None else frame.set_crs(4326)


def _plain(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Columns a GeoPackage holds: lists and arrays as text joined by ";" (as the OSM export's
    ``camcensus:image_ids``), dicts and other objects as their ``str``."""
    frame = frame.copy()
    for column in frame.columns:
        if column == frame.geometry.name:
            continue
        if frame[column].dtype == object:
            sample = frame[column].dropna()
            if len(sample) and not isinstance(sample.iloc[0], str):
                frame[column] = _as_text(frame[column])
    return frame


def _as_text(column: pd.Series) -> pd.Series:
    """A column of lists / arrays as ";"-joined text (vectorized with pyarrow; None stays None);
    any other objects as their ``str``."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        values = pa.array(column.to_numpy(), from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        values = None
    if values is not None and pa.types.is_list(values.type) and not pa.types.is_nested(values.type.value_type):
        joined = pc.binary_join(values.cast(pa.list_(pa.string())), ";")
        return pd.Series(joined.to_numpy(zero_copy_only=False), index=column.index, dtype=object)
    return column.map(lambda v: None if v is None else str(v))
