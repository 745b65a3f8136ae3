"""Areas to aggregate a survey over (``--by``) and population layers.

``areas_from_spec`` turns ``area`` (the survey's whole area: the hull of its streets),
``h3:RES`` (H3 hexagons), ``grid:METRES`` (square cells in the local UTM zone) or a polygons file
(GeoJSON, GeoPackage, Shapefile, GeoParquet) into a GeoDataFrame in EPSG:4326 with ``area_id``,
``name`` and polygon geometry. ``population_for_areas`` gives each area its people from a
population layer (polygons: area-weighted share; points: sum of the points inside).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import GeoInputError

HULL_BUFFER_M = 30.0  # the whole area reaches this far beyond the outermost street
_VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".parquet", ".geoparquet", ".fgb")


def areas_from_spec(spec: str, streets: gpd.GeoDataFrame, *, warnings_out: list[str] | None = None
                    ) -> gpd.GeoDataFrame:
    """Areas for ``--by`` around projected ``streets`` (from ``geo.streets.network.streets_from_graph``).

    Returns a GeoDataFrame in EPSG:4326: area_id (str), name (str), geometry (Polygon /
    MultiPolygon). Raises ``GeoInputError`` for a malformed spec or a file that is unreadable,
    has no polygons, has coordinates outside its CRS or does not overlap the streets.
    Repairs of invalid polygons are reported in ``warnings_out``.
    """
    spec = str(spec).strip()
    if streets.crs is None or gpd.GeoSeries(crs=streets.crs).crs.is_geographic:
        raise GeoInputError("streets must be in a projected CRS (metres)")
    lower = spec.lower()
    if lower in ("area", "all", "total"):
        return whole_area(streets)
    if lower.startswith("h3:"):
        return h3_areas(streets, resolution=_int_after(spec, "h3"))
    if lower.startswith("grid:"):
        return grid_areas(streets, size_m=_float_after(spec, "grid"))
    if lower.endswith(_VECTOR_SUFFIXES) or "/" in spec or "\\" in spec:
        return areas_from_file(spec, streets, warnings_out=warnings_out)
    raise GeoInputError(f"unknown --by '{spec}': use area, h3:RES, grid:METRES or a polygons file (.geojson)")


def whole_area(streets: gpd.GeoDataFrame, *, buffer_m: float = HULL_BUFFER_M) -> gpd.GeoDataFrame:
    """One area, ``area``: the convex hull of all streets buffered by ``buffer_m`` metres."""
    if len(streets) == 0:
        raise GeoInputError("the survey has no streets")
    hull = shapely.convex_hull(shapely.union_all(streets.geometry.to_numpy())).buffer(buffer_m)
    frame = gpd.GeoDataFrame({"area_id": ["area"], "name": ["whole survey area"]},
                             geometry=[hull], crs=streets.crs)
    return frame.to_crs(4326)


def h3_areas(streets: gpd.GeoDataFrame, *, resolution: int) -> gpd.GeoDataFrame:
    """H3 cells of ``resolution`` (0-15) that the streets pass through (vertices sampled every
    ~ a quarter of the cell's edge length so that no crossed cell is skipped)."""
    import h3

    if not 0 <= resolution <= 15:
        raise GeoInputError(f"H3 resolution must be 0..15, got {resolution}")
    if len(streets) == 0:
        raise GeoInputError("the survey has no streets")
    step = max(2.0, h3.average_hexagon_edge_length(resolution, unit="m") / 4.0)
    dense = shapely.segmentize(streets.geometry.to_numpy(), step)
    coords = shapely.get_coordinates(dense)
    lonlat = gpd.GeoSeries(gpd.points_from_xy(coords[:, 0], coords[:, 1]), crs=streets.crs).to_crs(4326)
    cells = sorted({h3.latlng_to_cell(lat, lon, resolution)
                    for lon, lat in zip(lonlat.x.to_numpy(), lonlat.y.to_numpy())})
    polys = [shapely.Polygon([(lng, lat) for lat, lng in h3.cell_to_boundary(c)]) for c in cells]
    return gpd.GeoDataFrame({"area_id": cells, "name": [f"h3 {c}" for c in cells]},
                            geometry=polys, crs=4326)


def grid_areas(streets: gpd.GeoDataFrame, *, size_m: float) -> gpd.GeoDataFrame:
    """Square cells of ``size_m`` metres in the streets' projected CRS that streets cross.
    ``area_id`` is "E<easting>_N<northing>" of the cell's south-west corner (metres)."""
    if not size_m >= 10:
        raise GeoInputError(f"grid cell size must be at least 10 metres, got {size_m}")
    if len(streets) == 0:
        raise GeoInputError("the survey has no streets")
    west, south, east, north = streets.total_bounds
    x0, y0 = np.floor(west / size_m) * size_m, np.floor(south / size_m) * size_m
    nx_, ny_ = int(np.ceil((east - x0) / size_m)) or 1, int(np.ceil((north - y0) / size_m)) or 1
    if nx_ * ny_ > 2_000_000:
        raise GeoInputError(f"grid:{size_m:g} makes {nx_ * ny_} cells over the survey: use bigger cells")
    ix, iy = np.meshgrid(np.arange(nx_), np.arange(ny_))
    xs, ys = x0 + ix.ravel() * size_m, y0 + iy.ravel() * size_m
    boxes = shapely.box(xs, ys, xs + size_m, ys + size_m)
    tree = shapely.STRtree(boxes)
    hit = np.unique(tree.query(streets.geometry.to_numpy(), predicate="intersects")[1])
    ids = [f"E{int(x)}_N{int(y)}" for x, y in zip(xs[hit], ys[hit])]
    frame = gpd.GeoDataFrame({"area_id": ids, "name": [f"grid {size_m:g} m {i}" for i in ids]},
                             geometry=boxes[hit], crs=streets.crs)
    return frame.to_crs(4326)


def areas_from_file(path: str | Path, streets: gpd.GeoDataFrame, *, warnings_out: list[str] | None = None
                    ) -> gpd.GeoDataFrame:
    """Polygons from a vector file as areas. ``area_id`` comes from a column named area_id, id,
    name or NAME when present and unique, else the row number; ``name`` from name/NAME/area_id."""
    frame = read_vector(path, what="areas")
    frame = frame[~frame.geometry.is_empty & frame.geometry.notna()]
    frame = frame[frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    if len(frame) == 0:
        raise GeoInputError(f"{path} holds no polygons (areas must be Polygon or MultiPolygon)")
    invalid = ~frame.geometry.is_valid
    if invalid.any():
        repaired = shapely.make_valid(frame.geometry.to_numpy())
        repaired = shapely.intersection(repaired, repaired)  # drop stray lines/points of repairs
        frame = frame.set_geometry(gpd.GeoSeries(repaired, index=frame.index, crs=frame.crs))
        frame = frame[frame.geometry.geom_type.isin(["Polygon", "MultiPolygon"]) & ~frame.geometry.is_empty]
        note = f"{int(invalid.sum())} invalid polygon(s) in {Path(path).name} were repaired (shapely make_valid)"
        if warnings_out is not None:
            warnings_out.append(note)
        else:
            warnings.warn(note, stacklevel=2)
        if len(frame) == 0:
            raise GeoInputError(f"{path}: no valid polygons are left after repair")
    frame = frame.to_crs(4326)
    frame = frame.reset_index(drop=True)
    frame["area_id"] = _id_column(frame)
    frame["name"] = _name_column(frame)
    survey = gpd.GeoSeries([shapely.union_all(streets.geometry.to_numpy())], crs=streets.crs).to_crs(4326)
    if not frame.geometry.intersects(survey.iloc[0]).any():
        w, s, e, n = survey.total_bounds
        raise GeoInputError(
            f"the areas in {path} do not overlap the survey's streets (survey bbox "
            f"{w:.4f},{s:.4f},{e:.4f},{n:.4f}; check the file's CRS)")
    return gpd.GeoDataFrame(frame[["area_id", "name"]], geometry=frame.geometry.to_numpy(), crs=4326)


def read_vector(path: str | Path, *, what: str) -> gpd.GeoDataFrame:
    """Read a vector file with a CRS check: no CRS means EPSG:4326 (RFC 7946 GeoJSON), and
    coordinates must fit the CRS's area (a UTM file labelled EPSG:4326 is an error)."""
    path = Path(path)
    if not path.exists():
        raise GeoInputError(f"{what} file not found: {path}")
    try:
        if path.suffix.lower() in (".parquet", ".geoparquet"):
            frame = gpd.read_parquet(path)
        else:
            frame = gpd.read_file(path)
    except Exception as error:  # pyogrio/fiona/pyarrow raise many types for bad files
        first = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        raise GeoInputError(f"cannot read {what} file {path}: {first}") from None
    if not isinstance(frame, gpd.GeoDataFrame) or frame.geometry is None or len(frame) == 0:
        raise GeoInputError(f"{what} file {path} has no features")
    if frame.crs is None:
        frame = frame.set_crs(4326)
    if frame.crs.is_geographic:
        w, s, e, n = frame.total_bounds
        if not (-180.5 <= w <= 180.5 and -180.5 <= e <= 180.5 and -90.5 <= s <= 90.5 and -90.5 <= n <= 90.5):
            raise GeoInputError(
                f"{what} file {path} has coordinates outside longitude/latitude range "
                f"({w:.0f},{s:.0f},{e:.0f},{n:.0f}) for its CRS {frame.crs.to_string()}: wrong CRS?")
    else:
        area = frame.crs.area_of_use
        if area is not None:
            lonlat = frame.to_crs(4326).total_bounds
            if not np.all(np.isfinite(lonlat)):
                raise GeoInputError(f"{what} file {path}: coordinates do not fit its CRS {frame.crs.to_string()}")
    return frame


def population_from_file(path: str | Path, *, field: str) -> gpd.GeoDataFrame:
    """A population layer (polygons or points) with a numeric ``field`` of people."""
    frame = read_vector(path, what="population")
    if field not in frame.columns:
        fields = ", ".join(c for c in frame.columns if c != frame.geometry.name)
        raise GeoInputError(f"population file {path} has no field '{field}' (fields: {fields})")
    values = pd.to_numeric(frame[field], errors="coerce")
    if values.isna().all():
        raise GeoInputError(f"population field '{field}' in {path} holds no numbers")
    frame = frame.assign(**{field: values.fillna(0.0)})
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if not frame.geometry.is_valid.all():
        frame = frame.set_geometry(shapely.make_valid(frame.geometry.to_numpy()))
    return frame


def population_for_areas(areas: gpd.GeoDataFrame, population: gpd.GeoDataFrame, *, field: str,
                         crs: Any) -> np.ndarray:
    """People per area: polygons contribute ``field`` x (share of their surface in the area),
    points their ``field`` when inside. ``crs``: a metric CRS for the surface shares."""
    if field not in population.columns:
        raise GeoInputError(f"population layer has no field '{field}'")
    areas_m = areas.to_crs(crs).reset_index(drop=True)
    pop = population.to_crs(crs).reset_index(drop=True)
    out = np.zeros(len(areas_m))
    values = pop[field].to_numpy(float)
    geoms = pop.geometry.to_numpy()
    is_poly = np.isin(shapely.get_type_id(geoms), [3, 6])
    tree = shapely.STRtree(areas_m.geometry.to_numpy())
    if is_poly.any():
        pg = geoms[is_poly]
        pi, ai = tree.query(pg, predicate="intersects")
        surface = shapely.area(pg)
        share = shapely.area(shapely.intersection(pg[pi], areas_m.geometry.to_numpy()[ai])) / np.maximum(surface[pi], 1e-9)
        np.add.at(out, ai, values[is_poly][pi] * share)
    if (~is_poly).any():
        pts = geoms[~is_poly]
        pi, ai = tree.query(pts, predicate="intersects")
        np.add.at(out, ai, values[~is_poly][pi])
    return out


def _id_column(frame: pd.DataFrame) -> pd.Series:
    for name in ("area_id", "id", "name", "NAME", "Name"):
        if name in frame.columns and frame[name].notna().all() and frame[name].is_unique:
            return frame[name].astype(str)
    return pd.Series([str(i) for i in range(len(frame))], index=frame.index)


def _name_column(frame: pd.DataFrame) -> pd.Series:
    for name in ("name", "NAME", "Name", "area_id", "id"):
        if name in frame.columns:
            return frame[name].fillna("").astype(str)
    return frame["area_id"].astype(str)


def _int_after(spec: str, what: str) -> int:
    try:
        return int(spec.split(":", 1)[1])
    except ValueError:
        raise GeoInputError(f"malformed --by '{spec}': expected {what}:INTEGER") from None


def _float_after(spec: str, what: str) -> float:
    try:
        return float(spec.split(":", 1)[1])
    except ValueError:
        raise GeoInputError(f"malformed --by '{spec}': expected {what}:METRES") from None
