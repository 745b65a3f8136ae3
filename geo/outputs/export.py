"""Exports of a density table: GeoJSON (RFC 7946), GeoParquet, map.html, density.png, JSON.

``write_exports`` is the entry point. The map page is ``geo.outputs.mapview`` (self-contained Leaflet,
offline), the figure ``geo.outputs.plot``. Every file is written to a temporary name in the target
directory and renamed, so a crash never leaves a half-written output.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.io import write_parquet, write_text
from geo.outputs.geopackage import GEOPACKAGE, geopackage_from_survey
from geo.outputs.mapview import MAX_MAP_CAMERAS, banner_from_report, write_map_html
from geo.outputs.plot import write_density_plot


def write_exports(out_dir: str | Path, areas: gpd.GeoDataFrame, *, cameras: gpd.GeoDataFrame | None = None,
                  report: dict | None = None, title: str | None = None,
                  streets: gpd.GeoDataFrame | None = None, surveyed: gpd.GeoDataFrame | None = None,
                  points: pd.DataFrame | None = None,
                  images: pd.DataFrame | None = None, detections: pd.DataFrame | None = None,
                  truth: gpd.GeoDataFrame | None = None, metres_per_point: float = 20.0,
                  basemap: str | None = None, image_root: str | Path | None = None) -> dict[str, Path]:
    """Write density.geojson, density.parquet, map.html, density.png and survey.gpkg (every layer of
    the survey in ``out_dir``, styled for QGIS: ``geo.outputs.geopackage``) into ``out_dir``.

    Optional, for richer figures: ``streets`` (projected, from ``geo.streets.network.streets_from_graph``)
    styled by coverage: the share of each inside the ``surveyed`` pieces (street_id, geometry; e.g.
    ``geo.counting.inclusion.surveyed_streets``) or, without them, from ``points`` and ``images``
    (``metres_per_point``: the sampling spacing);
    ``detections`` and ``images`` for the cameras' thumbnails (image paths relative to
    ``image_root``, default ``out_dir``); ``truth``, the true cameras of a simulated survey;
    ``basemap``, an online tile layer for map.html (None: the page requests nothing).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    title = title or _title(report)
    subtitle = _subtitle(areas, report)
    coverage, thumbnails = _coverage_and_thumbnails(
        image_root if image_root is not None else out_dir, cameras=cameras, streets=streets, surveyed=surveyed,
        points=points, images=images, detections=detections, metres_per_point=metres_per_point)
    figures = dict(cameras=cameras, streets=streets, coverage=coverage, truth=truth, title=title)
    gpkg = geopackage_in_background(out_dir, areas=areas,  # while the figures draw
                                    cameras=cameras if cameras is not None and len(cameras) else None)
    paths = {
        "density.geojson": write_geojson(areas, out_dir / "density.geojson"),
        "density.parquet": write_geoparquet(areas, out_dir / "density.parquet"),
        "map.html": write_map_html(areas, out_dir / "map.html", thumbnails=thumbnails, subtitle=subtitle,
                                   basemap=basemap, banner=banner_from_report(report), **figures),
        "density.png": write_density_plot(areas, out_dir / "density.png", **figures),
    }
    paths["survey.gpkg"] = gpkg()
    return paths


def geopackage_in_background(out_dir: Path, **layers):
    """Start ``geopackage_from_survey(out_dir, **layers)`` beside the caller; returns a function
    that waits for it and returns survey.gpkg's path. On Linux it runs in a forked process (which
    inherits the tables: nothing is copied): GDAL's GeoPackage writer holds Python's GIL, so on a
    thread it stalled the figures (a 1M-detection survey: density.png 1.3 -> 4.9 s while the
    GeoPackage was written). If that process fails, the write is done again here, so its error is
    raised with its traceback. Where there is no fork, or other threads run (a lock one of them holds
    would stay held in the child), a thread."""
    import multiprocessing
    import sys
    import threading

    if sys.platform.startswith("linux") and threading.active_count() == 1:  # fork only a single-threaded process
        sys.stdout.flush()
        sys.stderr.flush()
        child = multiprocessing.get_context("fork").Process(target=geopackage_from_survey, args=(out_dir,),
                                                            kwargs=layers, daemon=True)
        try:
            child.start()
        except (AssertionError, OSError):  # e.g. inside a daemonic process, which may not have children
            child = None
        if child is not None:
            def wait() -> Path:
                child.join()
                if child.exitcode != 0:
                    return geopackage_from_survey(out_dir, **layers)
                return Path(out_dir) / GEOPACKAGE

            return wait
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(geopackage_from_survey, out_dir, **layers)

    def wait() -> Path:
        try:
            return future.result()
        finally:
            pool.shutdown()

    return wait


def map_from_survey(survey_dir: str | Path, *, basemap: str | None = None, out: str | Path | None = None) -> Path:
    """Draw map.html again from a survey directory that ``camcensus estimate`` finished
    (density.parquet, report.json, cameras.parquet, network.graphml, points, images, detections,
    truth.geojson), e.g. with a ``basemap``. Returns the page's path (default SURVEY/map.html)."""
    from geo.errors import GeoInputError
    from geo.counting.locate import read_cameras, read_detections, read_images
    from geo.streets.network import load_network, streets_from_graph

    survey_dir = Path(survey_dir)
    density = survey_dir / "density.parquet"
    if not density.exists():
        raise GeoInputError(f"{density} not found: run `camcensus estimate` first")
    areas = gpd.read_parquet(density)
    report_path = survey_dir / "report.json"
    report = json.loads(report_path.read_text(encoding="utf-8")) if report_path.exists() else None
    cameras = read_cameras(survey_dir / "cameras.parquet") if (survey_dir / "cameras.parquet").exists() else None
    streets = points = images = detections = truth = None
    if (survey_dir / "network.graphml").exists():
        streets = streets_from_graph(load_network(survey_dir / "network.graphml"))
    if (survey_dir / "points.parquet").exists():
        points = pd.read_parquet(survey_dir / "points.parquet", columns=["point_id", "street_id"])
    if (survey_dir / "images.parquet").exists():
        images = read_images(survey_dir)
        detections = read_detections(survey_dir)
    if (survey_dir / "truth.geojson").exists():
        truth = gpd.read_file(survey_dir / "truth.geojson")
    spacing = float(((report or {}).get("parameters") or {}).get("metres_per_point") or 20.0)
    coverage, thumbnails = _coverage_and_thumbnails(survey_dir, cameras=cameras, streets=streets, points=points,
                                                    images=images, detections=detections, metres_per_point=spacing)
    return write_map_html(areas, Path(out) if out is not None else survey_dir / "map.html", cameras=cameras,
                          streets=streets, coverage=coverage, truth=truth, thumbnails=thumbnails,
                          title=_title(report), subtitle=_subtitle(areas, report), basemap=basemap,
                          banner=banner_from_report(report))


def geojson_from_frame(frame: gpd.GeoDataFrame) -> dict:
    """RFC 7946 FeatureCollection: EPSG:4326 lon/lat, no ``crs`` member, counter-clockwise outer
    rings, NaN as null."""
    frame = frame.to_crs(4326)
    geoms = frame.geometry.to_numpy()
    polys = np.isin(shapely.get_type_id(geoms), [3, 6])
    if polys.any():
        geoms = geoms.copy()
        geoms[polys] = shapely.orient_polygons(geoms[polys], exterior_cw=False)
    frame = frame.set_geometry(gpd.GeoSeries(geoms, index=frame.index, crs=4326))
    data = frame.to_geo_dict(na="null", drop_id=True)
    data.pop("crs", None)
    return _clean(data)


def write_geojson(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write ``frame`` as an RFC 7946 GeoJSON file."""
    text = json.dumps(geojson_from_frame(frame), allow_nan=False, ensure_ascii=False)
    return write_text(path, text)


def write_geoparquet(frame: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write ``frame`` as GeoParquet (EPSG:4326)."""
    plain = frame.to_crs(4326)
    plain.attrs = {}
    return write_parquet(plain, path)


def write_json(data: dict, path: str | Path) -> Path:
    """Write ``data`` as indented JSON (NaN and infinities as null)."""
    return write_text(path, json.dumps(_clean(data), indent=2, allow_nan=False, ensure_ascii=False) + "\n")


# --- helpers --------------------------------------------------------------------------------

def _coverage_and_thumbnails(root: Path, *, cameras, streets, points, images, detections,
                             metres_per_point: float, surveyed=None) -> tuple[np.ndarray | None, list | None]:
    coverage = thumbnails = None
    if streets is not None and len(streets):
        from geo.outputs.coverage import coverage_from_pieces, street_coverage

        coverage = (coverage_from_pieces(streets, surveyed) if surveyed is not None
                    else street_coverage(streets, points, images, metres_per_point=metres_per_point))
    if cameras is not None and len(cameras) and detections is not None and images is not None:
        from geo.outputs.thumbnails import camera_thumbnails

        thumbnails = camera_thumbnails(cameras.head(MAX_MAP_CAMERAS), detections, images, root=root)
    return coverage, thumbnails


def _title(report: dict | None) -> str:
    """"Camera density: NAME - EST cameras (95% LO-HI)" from the report's whole-area total."""
    if not report:
        return "Camera density"
    total = report.get("total", {})
    est, lo, hi = total.get("est_cameras"), total.get("est_lo"), total.get("est_hi")
    name = area_name(report.get("parameters", {}).get("area") or report.get("survey", ""))
    if est is None or not math.isfinite(est):
        return f"Camera density: {name}"
    interval = f" (95% {lo:,.0f}–{hi:,.0f})" if lo is not None and hi is not None else ""
    return f"Camera density: {name} – {est:,.0f} cameras{interval}"


def area_name(spec: str) -> str:
    """A survey area's name for titles: an OSM or GraphML file's name without its folder and
    suffixes (``/data/helsinki.osm.pbf`` -> ``helsinki``); any other ``--area`` as given."""
    text = str(spec).strip()
    lower = text.lower()
    for suffix in (".osm.pbf", ".osm.bz2", ".osm.gz", ".osm", ".pbf", ".graphml", ".xml"):
        if lower.endswith(suffix):
            return Path(text).name[: -len(suffix)] or text
    return text


def _subtitle(areas: gpd.GeoDataFrame, report: dict | None) -> str:
    """One line under the map's title: the areas, road surveyed, the truth when known."""
    parts = []
    by = (report or {}).get("parameters", {}).get("by")
    if by:
        parts.append(f"{len(areas):,} area(s), --by {by}")
    total = (report or {}).get("total", {})
    if total.get("road_km") is not None:
        parts.append(f"{total['road_km']:,.1f} road km, {total.get('surveyed_km') or 0:,.1f} surveyed")
    if total.get("per_road_km") is not None and math.isfinite(total["per_road_km"]):
        parts.append(f"{total['per_road_km']:.2f} cameras per road km")
    if total.get("truth_cameras") is not None:
        parts.append(f"simulator truth: {total['truth_cameras']:,.0f} cameras")
    estimand = (report or {}).get("estimand")
    if estimand:  # which streets and which strip per class the estimate speaks for
        parts.append(str(estimand).split(";")[0])
    return " · ".join(parts)


def _fmt(value: Any, digits: int) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    if not math.isfinite(number):
        return "n/a"
    return f"{number:.{digits}f}"


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    return value



