"""From detections to unique cameras on the map.

Each detection becomes a ray: a bearing (degrees clockwise from north) from its view's heading,
horizontal field of view and the box centre (pinhole camera), and an elevation angle from the
box's vertical position. Its position along the ray is where the ray first meets a building
facade within ``max_range_m`` (method ``facade``), else the range implied by the box size and a
nominal camera size (method ``size``). Detections from different images whose positions agree
within their uncertainties are merged into one camera, whatever class the detector gave each (it
changes between views of one camera); boxes of one image that overlap are one camera's (the
detector's two boxes, one per class), other boxes of one image never are. A camera seen along
rays that cross at a useful angle is placed by least-squares ray intersection (method
``triangulated``). All metric work is done in the local UTM zone; outputs are EPSG:4326.

Public entries: :func:`cameras_from_detections` (tables in, cameras out) and
:func:`locate_survey` (a survey directory in, ``cameras.parquet`` out).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.errors import GeoInputError
from geo.io import atomic_path
from geo.schemas import (
    CAMERAS,
    DETECTION_COLUMNS,
    IMAGES,
    check_frame,
    columns,
    empty_frame,
    require_columns,
)

EYE_HEIGHT_M = 2.5  # the simulator's camera eye above the road
# Box-equivalent size of a camera in metres, by class: the S for which a pinhole view puts
# sqrt(box area) = S x f' / slant range pixels (f' = hypot(focal, dx), the focal length along the
# ray). ONE constant for locate (range from box size), geo.counting.inclusion (expected box size in each
# view) and scripts/validation/validate_estimator.py. Measured on the simulator's truth boxes (housing,
# bracket and mount seen at all angles; dome diameters 0.16-0.28 m, housings 0.32-0.50 m): the
# median of sqrt(area) x 3-D slant range / f' over 1,872 boxes of both bundled areas (demo 772,
# test_pbf 1,100; the two agree within 0.01 m) is 0.46 m for directed and 0.33 m for dome
# cameras (`scripts/validation/validate_estimator.py --measure-sizes`); other class names use "default".
CAMERA_SIZE_M = {"directed": 0.46, "dome": 0.33, "default": 0.40}
# A ray's first facade hit is taken for the camera's position only when the range from the box
# size is at least this share of it: a camera on that wall has size range / hit = CAMERA_SIZE_M /
# its true box-equivalent size, which on the simulator's boxes is above 1 / 1.44 = 0.69 for 99%
# of directed and 1 / 1.32 = 0.76 of dome boxes (the 99th percentile of size / class median,
# `--measure-sizes`); below it the camera stands in front of the facade (a pole), and placing it
# on the wall behind split such cameras into two (8-12% extra cameras at 10-20 m spacing with
# the earlier 1 / 2.5, which made up for a camera size half the boxes').
FACADE_MIN_SIZE_RATIO = 0.7
# uncertainty_m states the RMS distance (m) between a located camera and the true one. A ray's
# sigma_m (0.4 x the range from box size, at least 1.5 m) is a tolerance for merging rays, about
# twice the range error that box sizes give: against the truth, cameras placed by box size had
# RMS error / RMS (that sigma) = 0.59 over 3,722 cameras of 80 truth-only replicates (both bundled
# areas, systematic 10-40 m and random designs; the per-design ratios 0.53-0.66) and 0.56 over
# 156 cameras of the 22 cached rendered training-look surveys (issue 27, docs/estimator.md). So
# their uncertainty_m is SIZE_UNCERTAINTY_SCALE x the rays' combined sigma. Triangulated cameras
# keep min(sigma, 1 + RMS miss of their rays): RMS error 0.47 m truth-only and 1.1 m rendered
# (merges of two cameras) against a stated 1.0 m. Facade cameras keep 1 + 3% of the range: RMS
# error 1.55 m truth-only against a stated 1.37 m.
SIZE_UNCERTAINTY_SCALE = 0.6
CAMERA_COLUMNS = columns(CAMERAS)
_IMAGE_COLUMNS = ("image_id", "lon", "lat", "heading", "fov")


def cameras_from_detections(
    detections: pd.DataFrame,
    images: pd.DataFrame,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    crs: Any = None,
    camera_size_m: float | dict[str, float] | None = None,
    eye_height_m: float = EYE_HEIGHT_M,
    max_range_m: float = 60.0,
    merge_m: float = 2.5,
    max_merge_m: float = 12.0,
    min_triangulation_deg: float = 12.0,
    respect_class: bool = False,
    twin_overlap: float | None = None,
    visible_range_m: float | str = "auto",
) -> gpd.GeoDataFrame:
    """Unique cameras (GeoDataFrame, EPSG:4326 points) from detections and the images' poses.

    ``detections``: image_id, x1, y1, x2, y2 (pixels), optional conf, class_name.
    ``images``: image_id, lon, lat, heading (deg clockwise from north), fov (deg, horizontal),
    optional pitch (deg), width, height (px, default 640), status (only "ok" rows are used),
    point_id. ``buildings``: polygons with optional ``height_m`` (any CRS) for facade hits.
    ``crs``: the metric CRS to work in (default: the UTM zone of the images).
    ``respect_class``: merge only detections of one class (off: the detector's class of one camera
    changes from view to view, which split cameras; the camera takes its views' most confident
    class). ``twin_overlap``: boxes of one image that overlap this much of the smaller one are one
    camera's (default ``TWIN_OVERLAP``; 0: off).

    Columns: camera_id, lon, lat, n_views (distinct images), n_detections, conf_max,
    class_name, method (facade / size / triangulated), uncertainty_m (1-sigma, metres),
    n_visible (images whose field of view and range cover the camera and whose line of sight
    is not blocked by a building: the k of the detection probability 1-(1-recall)^k),
    image_ids and point_ids (lists: who saw it).
    """
    rays = located_rays(detections, images, buildings=buildings, crs=crs, camera_size_m=camera_size_m,
                        eye_height_m=eye_height_m, max_range_m=max_range_m, merge_m=merge_m, max_merge_m=max_merge_m,
                        respect_class=respect_class, twin_overlap=twin_overlap)
    utm = rays.attrs["crs"]
    if len(rays) == 0:
        return _empty_cameras()
    cams, codes = _camera_positions(rays, min_triangulation_deg=min_triangulation_deg, max_range_m=max_range_m)
    if visible_range_m == "auto":
        visible_range_m = auto_visible_range_m(rays)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:  # the views that could see each camera beside its lists (speed)
        visible = pool.submit(visible_counts, cams["x"].to_numpy(), cams["y"].to_numpy(), images, utm,
                              buildings=buildings, visible_range_m=float(visible_range_m))
        _camera_members(cams, rays, codes)
        cams["n_visible"] = visible.result()
    cams["n_visible"] = np.maximum(cams["n_visible"].to_numpy(), cams["n_views"].to_numpy())
    from pyproj import Transformer

    # the transform GeoSeries.to_crs makes, on the coordinates (one point geometry built instead of two)
    lon, lat = Transformer.from_crs(utm, 4326, always_xy=True).transform(cams["x"].to_numpy(float),
                                                                         cams["y"].to_numpy(float))
    cams["lon"], cams["lat"] = np.asarray(lon, float), np.asarray(lat, float)
    out = gpd.GeoDataFrame(cams[CAMERA_COLUMNS], geometry=gpd.points_from_xy(cams["lon"], cams["lat"]), crs=4326)
    out.attrs["visible_range_m"] = float(visible_range_m)
    out.attrs["crs"] = str(utm)
    return out


def located_rays(
    detections: pd.DataFrame,
    images: pd.DataFrame,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    crs: Any = None,
    camera_size_m: float | dict[str, float] | None = None,
    eye_height_m: float = EYE_HEIGHT_M,
    max_range_m: float = 60.0,
    merge_m: float = 2.5,
    max_merge_m: float = 12.0,
    respect_class: bool = False,
    twin_overlap: float | None = None,
) -> pd.DataFrame:
    """``rays_from_detections`` placed (x, y, dist_m, sigma_m, method) and merged: column ``camera``
    is each ray's camera label (the cameras of ``cameras_from_detections``, options as there)."""
    rays = rays_from_detections(detections, images, crs=crs, camera_size_m=camera_size_m,
                                eye_height_m=eye_height_m)
    if len(rays) == 0:
        rays["camera"] = np.zeros(0, dtype=np.int64)
        return rays
    _place_rays(rays, buildings, rays.attrs["crs"], max_range_m=max_range_m, eye_height_m=eye_height_m)
    rays["camera"] = _cluster(rays, merge_m=merge_m, max_merge_m=max_merge_m, respect_class=respect_class,
                              twin_overlap=twin_overlap)
    return rays


def rays_from_detections(
    detections: pd.DataFrame,
    images: pd.DataFrame,
    *,
    crs: Any = None,
    camera_size_m: float | dict[str, float] | None = None,
    eye_height_m: float = EYE_HEIGHT_M,
) -> pd.DataFrame:
    """One ray per detection, in metres of ``crs`` (default: the images' UTM zone).

    Columns added to the detections: x0, y0 (eye), bearing_deg (from true north),
    grid_bearing_deg (from the CRS's grid north), elev_deg, range_size_m
    (horizontal range from the box size), point_id; ``attrs["crs"]`` holds the metric CRS.
    Detections of images that are unknown or not "ok" are dropped.
    """
    require_columns(detections, DETECTION_COLUMNS[:5], what="detections table")
    check_frame(images, IMAGES, required=_IMAGE_COLUMNS, what="images table")
    imgs = images
    if "status" in imgs.columns:
        imgs = imgs[imgs["status"].fillna("ok") == "ok"]
    imgs = imgs.drop_duplicates("image_id")
    utm = crs if crs is not None else metric_crs(imgs)
    keep = ["image_id", "lon", "lat", "heading", "fov"] + [c for c in ("pitch", "width", "height", "point_id")
                                                        if c in imgs.columns]
    det = detections.reset_index(drop=True)
    det = det.drop(columns=[c for c in keep if c != "image_id" and c in det.columns])
    det = _join_images(det, imgs[keep].reset_index(drop=True))
    if len(det) == 0:
        det = det.assign(x0=[], y0=[], bearing_deg=[], elev_deg=[], range_size_m=[])
        det.attrs["crs"] = utm
        return det
    width = _col(det, "width", 640.0)
    height = _col(det, "height", 640.0)
    pitch = _col(det, "pitch", 0.0)
    fov = np.clip(det["fov"].to_numpy(float), 1.0, 179.0)
    focal = (width / 2.0) / np.tan(np.radians(fov) / 2.0)  # pixels
    x1, y1, x2, y2 = (det[c].to_numpy(float) for c in ("x1", "y1", "x2", "y2"))
    dx = (x1 + x2) / 2.0 - width / 2.0
    dy = height / 2.0 - (y1 + y2) / 2.0
    bearing = (det["heading"].to_numpy(float) + np.degrees(np.arctan2(dx, focal))) % 360.0
    elev = pitch + np.degrees(np.arctan2(dy, np.hypot(focal, dx)))
    size_px = np.sqrt(np.clip(x2 - x1, 1.0, None) * np.clip(y2 - y1, 1.0, None))
    if "class_name" not in det.columns:
        det["class_name"] = "camera"
    det["class_name"] = det["class_name"].fillna("camera").astype(str)
    slant = _nominal_size(det["class_name"], camera_size_m) * np.hypot(focal, dx) / size_px
    # project each image's eye once (far fewer images than detections), then look it up
    codes, uniq = pd.factorize(det["image_id"])
    first = np.unique(codes, return_index=True)[1]
    from pyproj import Transformer

    ex, ey = Transformer.from_crs(4326, utm, always_xy=True).transform(
        det["lon"].to_numpy(float)[first], det["lat"].to_numpy(float)[first])
    det["x0"] = np.asarray(ex)[codes]
    det["y0"] = np.asarray(ey)[codes]
    det["bearing_deg"] = bearing
    conv = _convergence(det["lon"].to_numpy(float)[first], det["lat"].to_numpy(float)[first], utm)  # per image
    det["grid_bearing_deg"] = (bearing - conv[codes]) % 360.0
    det["elev_deg"] = elev
    det["range_size_m"] = slant * np.cos(np.radians(elev))
    if "conf" not in det.columns:
        det["conf"] = 1.0
    det.attrs["crs"] = utm
    return det


def _join_images(det: pd.DataFrame, imgs: pd.DataFrame) -> pd.DataFrame:
    """``det.merge(imgs, on="image_id", how="inner")`` for images with distinct ids: the detections
    of known images in their order, with the images' columns; by pyarrow's hash lookup (a pandas
    merge on 1M string keys took 0.5 s), pandas' index where pyarrow cannot compare the keys."""
    import pyarrow as pa
    import pyarrow.compute as pc

    row = None
    try:
        left, right = pa.array(det["image_id"]), pa.array(imgs["image_id"])
        if left.type == right.type:
            row = pc.index_in(left, value_set=right).fill_null(-1).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    if row is None:
        return det.merge(imgs, on="image_id", how="inner", validate="many_to_one")
    row = np.asarray(row, np.int64)
    hit = np.flatnonzero(row >= 0)
    out = det.iloc[hit].reset_index(drop=True)
    extra = imgs.drop(columns="image_id").iloc[row[hit]].reset_index(drop=True)
    return pd.concat([out, extra], axis=1)


def metric_crs(frame: pd.DataFrame) -> Any:
    """The UTM zone (pyproj CRS) around the lon/lat columns of ``frame``."""
    if len(frame) == 0:
        raise GeoInputError("no images with status 'ok' to locate detections from")
    lon = float(np.nanmedian(frame["lon"].to_numpy(float)))
    lat = float(np.nanmedian(frame["lat"].to_numpy(float)))
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        raise GeoInputError(f"image positions are not lon/lat degrees (median {lon:.1f}, {lat:.1f})")
    return gpd.GeoSeries(gpd.points_from_xy([lon], [lat]), crs=4326).estimate_utm_crs()


def auto_visible_range_m(rays: pd.DataFrame, *, quantile: float = 0.95) -> float:
    """Range (m) within which detections happen: the ``quantile`` of located ray distances,
    clipped to [10, 60] m. Used to count the views that could have seen a camera."""
    dist = rays["dist_m"].to_numpy(float) if "dist_m" in rays.columns else np.array([])
    dist = dist[np.isfinite(dist)]
    if len(dist) < 5:
        return 30.0
    return float(np.clip(np.quantile(dist, quantile) * 1.1, 10.0, 60.0))


def visible_counts(
    x: np.ndarray,
    y: np.ndarray,
    images: pd.DataFrame,
    crs: Any,
    *,
    buildings: gpd.GeoDataFrame | None = None,
    visible_range_m: float = 30.0,
    facade_tolerance_m: float = 1.5,
) -> np.ndarray:
    """For cameras at (x, y) metres in ``crs``: how many ok images had them within
    ``visible_range_m`` and inside the horizontal field of view, with no building in between
    (the last ``facade_tolerance_m`` before the camera are not checked: it hangs on a wall)."""
    from scipy.spatial import cKDTree

    n = len(x)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    imgs = images
    if "status" in imgs.columns:
        imgs = imgs[imgs["status"].fillna("ok") == "ok"]
    imgs = imgs.drop_duplicates("image_id")
    if len(imgs) == 0:
        return np.zeros(n, dtype=np.int64)
    from concurrent.futures import ThreadPoolExecutor

    from pyproj import Transformer

    ex, ey = (np.asarray(v, float) for v in Transformer.from_crs(4326, crs, always_xy=True).transform(
        imgs["lon"].to_numpy(float), imgs["lat"].to_numpy(float)))  # no point geometries needed
    eye_tree = cKDTree(np.column_stack([ex, ey]))
    conv_all = _convergence(imgs["lon"], imgs["lat"], crs)
    heading_all, half_all = imgs["heading"].to_numpy(float), imgs["fov"].to_numpy(float) / 2.0

    def counts(lo: int, hi: int) -> np.ndarray:  # cameras lo:hi (a thread each; the same pairs and counts)
        pairs = cKDTree(np.column_stack([x[lo:hi], y[lo:hi]])).sparse_distance_matrix(
            eye_tree, visible_range_m, output_type="ndarray")
        ci, ii = pairs["i"].astype(np.int64) + lo, pairs["j"].astype(np.int64)
        if len(ci) == 0:
            return np.zeros(hi - lo, dtype=np.int64)
        bearing = (np.degrees(np.arctan2(x[ci] - ex[ii], y[ci] - ey[ii])) + conv_all[ii]) % 360.0
        off = (bearing - heading_all[ii] + 180.0) % 360.0 - 180.0
        inside = np.abs(off) <= half_all[ii]
        ci, ii = ci[inside], ii[inside]
        if buildings is not None and len(buildings) and len(ci):
            blocked = _blocked(ex[ii], ey[ii], x[ci], y[ci], buildings, crs, facade_tolerance_m)
            ci = ci[~blocked]
        return np.bincount(ci - lo, minlength=hi - lo).astype(np.int64)

    step = 100_000
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        parts = list(pool.map(lambda lo: counts(lo, min(lo + step, n)), range(0, n, step)))
    return np.concatenate(parts)


def locate_survey(
    survey_dir: str | Path,
    *,
    buildings: gpd.GeoDataFrame | str | None = "auto",
    overwrite: bool = False,
    detections: pd.DataFrame | None = None,
    images: pd.DataFrame | None = None,
    write_beside: bool = False,
    **options: Any,
) -> gpd.GeoDataFrame:
    """Locate the detections of a survey directory and write ``cameras.parquet`` (atomic).

    ``buildings``: a GeoDataFrame, None (size-based ranges only), or "auto" (the area's OSM
    buildings through ``geo.sim.features.buildings_from_area`` when available). An existing
    ``cameras.parquet`` newer than the detections is reused unless ``overwrite``.
    ``detections``, ``images``: the directory's tables when the caller has already read them
    (``read_detections``, ``read_images``), so they are not read twice. ``write_beside``:
    cameras.parquet is written while the caller goes on (``write_cameras_beside``; the caller
    calls ``finish_writes`` before it returns).
    """
    survey_dir = Path(survey_dir)
    out_path = survey_dir / "cameras.parquet"
    det_dir = survey_dir / "detections"
    if out_path.exists() and not overwrite and _newer_than(out_path, det_dir):
        return read_cameras(out_path)
    info = read_sample_info(survey_dir)
    images = read_images(survey_dir) if images is None else images
    detections = read_detections(survey_dir) if detections is None else detections
    if isinstance(buildings, str) and buildings == "auto":
        buildings = buildings_for_survey(info) if len(detections) else None
    started = time.perf_counter()
    crs = info.get("crs") or None
    cameras = cameras_from_detections(detections, images, buildings=buildings, crs=crs, **options)
    cameras.attrs["buildings"] = len(buildings) if buildings is not None else 0
    cameras.attrs["seconds"] = time.perf_counter() - started
    if write_beside:
        write_cameras_beside(cameras, out_path)
    else:
        write_cameras(cameras, out_path)
    return cameras


def read_cameras(path: str | Path) -> gpd.GeoDataFrame:
    """Read ``cameras.parquet`` with the locate parameters it recorded (in ``attrs``)."""
    import pyarrow.parquet as pq

    cameras = gpd.read_parquet(path)
    meta = (pq.read_schema(path).metadata or {}).get(b"camcensus")
    if meta:
        cameras.attrs.update(json.loads(meta))
    return cameras


def buildings_for_survey(info: dict) -> gpd.GeoDataFrame | None:
    """The survey area's OSM buildings (EPSG:4326, height_m) when the area is a local OSM file
    (the demo, .osm.pbf, .osm): None for other areas or when they cannot be read."""
    try:
        from geo.sim import features
        from geo.streets.area import area_from_spec
    except ImportError:
        return None
    spec = info.get("area")
    if not spec or not hasattr(features, "buildings_from_area"):
        return None
    try:
        area = area_from_spec(spec)
        if area.kind not in ("pbf", "xml"):
            return None  # a bbox or place would need the network
        return features.buildings_from_area(area)
    except GeoInputError:
        return None


def write_cameras(cameras: gpd.GeoDataFrame, path: str | Path) -> Path:
    """Write cameras as GeoParquet atomically (temp name in the same directory, then rename)."""
    check_frame(cameras, CAMERAS, what="cameras table")
    frame = cameras.copy()
    meta = {k: v for k, v in cameras.attrs.items() if isinstance(v, (int, float, str))}
    frame.attrs = {}
    import pyarrow.parquet as pq

    try:  # geopandas' own GeoParquet table, written once with our metadata added
        from geopandas.io.arrow import _geopandas_to_arrow
    except ImportError:
        _geopandas_to_arrow = None
    with atomic_path(path) as tmp:
        if _geopandas_to_arrow is None:
            frame.to_parquet(tmp, index=False)
            table = pq.read_table(tmp) if meta else None
        else:
            table = _geopandas_to_arrow(frame, index=False)
        if table is not None:
            if meta:
                table = table.replace_schema_metadata({**(table.schema.metadata or {}),
                                                       b"camcensus": json.dumps(meta).encode()})
            pq.write_table(table, tmp, compression="snappy")
    return Path(path)


_WRITING: list = []  # (process, cameras, path) of write_cameras_beside's writes under way


def write_cameras_beside(cameras: gpd.GeoDataFrame, path: str | Path) -> None:
    """``write_cameras`` while the caller goes on (speed at 1M detections: 0.9 s of the
    estimate's locate step, written beside the card check's single-threaded fit): on Linux in a
    forked process (it inherits the table: nothing is copied), only from a single-threaded process
    (a lock another thread held would stay held in the child); elsewhere written now.
    ``finish_writes`` waits for it, and writes the table itself if that process failed."""
    import multiprocessing
    import sys
    import threading

    if sys.platform.startswith("linux") and threading.active_count() == 1:
        sys.stdout.flush()
        sys.stderr.flush()
        child = multiprocessing.get_context("fork").Process(target=write_cameras, args=(cameras, path))
        try:
            child.start()
        except (AssertionError, OSError):  # e.g. inside a daemonic process, which may not have children
            child = None
        if child is not None:
            _WRITING.append((child, cameras, Path(path)))
            return
    write_cameras(cameras, path)


def finish_writes() -> None:
    """Wait for ``write_cameras_beside``'s writes; one whose process failed is written here."""
    while _WRITING:
        child, cameras, path = _WRITING.pop(0)
        child.join()
        if child.exitcode != 0:
            write_cameras(cameras, path)


# --- placing rays --------------------------------------------------------------------------

def _place_rays(rays: pd.DataFrame, buildings, utm, *, max_range_m: float, eye_height_m: float) -> None:
    """Give each ray a position (x, y), its distance, sigma (m) and method, in place."""
    size_range = np.clip(rays["range_size_m"].to_numpy(float), 1.0, max_range_m)
    dist = size_range.copy()
    sigma = np.maximum(1.5, 0.4 * size_range)
    method = np.full(len(rays), "size", dtype=object)
    if buildings is not None and len(buildings):
        hit = _facade_hits(rays, buildings, utm, max_range_m=max_range_m, eye_height_m=eye_height_m)
        # A camera cannot hang behind the first facade; one well in front of it is on a pole.
        use = np.isfinite(hit) & (size_range > hit * FACADE_MIN_SIZE_RATIO)
        dist = np.where(use, hit, np.minimum(dist, np.where(np.isfinite(hit), hit, np.inf)))
        sigma = np.where(use, 1.0 + 0.03 * hit, sigma)
        method = np.where(use, "facade", method)
    theta = np.radians(rays["grid_bearing_deg"].to_numpy(float))
    rays["dist_m"] = dist
    rays["x"] = rays["x0"].to_numpy() + dist * np.sin(theta)
    rays["y"] = rays["y0"].to_numpy() + dist * np.cos(theta)
    rays["sigma_m"] = sigma
    rays["method"] = method


def _facade_hits(rays, buildings, utm, *, max_range_m: float, eye_height_m: float) -> np.ndarray:
    """Distance (m) from the eye to the first building outline along each ray (inf if none
    within range, or if the ray passes above the building's roof there)."""
    import shapely

    polys = _buildings_in(buildings, utm)
    out = np.full(len(rays), np.inf)
    if len(polys) == 0:
        return out
    x0, y0 = rays["x0"].to_numpy(float), rays["y0"].to_numpy(float)
    theta = np.radians(rays["grid_bearing_deg"].to_numpy(float))
    x1, y1 = x0 + max_range_m * np.sin(theta), y0 + max_range_m * np.cos(theta)
    lines = shapely.linestrings(np.stack([np.column_stack([x0, y0]), np.column_stack([x1, y1])], axis=1))
    outlines = shapely.boundary(polys.geometry.to_numpy())
    tree = shapely.STRtree(outlines)
    ri, bi = tree.query(lines, predicate="intersects")
    if len(ri) == 0:
        return out
    crossings = shapely.intersection(lines[ri], outlines[bi])
    d = shapely.distance(shapely.points(x0[ri], y0[ri]), crossings)
    heights = polys["height_m"].to_numpy(float)[bi]
    z = eye_height_m + d * np.tan(np.radians(rays["elev_deg"].to_numpy(float)[ri]))
    ok = np.isfinite(d) & (d >= 0.5) & (~np.isfinite(heights) | (z <= heights + 1.0))
    np.minimum.at(out, ri[ok], d[ok])
    return out


def _blocked(ex, ey, cx, cy, buildings, crs, tolerance_m: float) -> np.ndarray:
    """Whether the sight line eye->camera (less the last ``tolerance_m``) crosses a building."""
    import shapely

    polys = _buildings_in(buildings, crs)
    if len(polys) == 0:
        return np.zeros(len(ex), dtype=bool)
    length = np.hypot(cx - ex, cy - ey)
    keep = np.clip((length - tolerance_m) / np.maximum(length, 1e-9), 0.0, 1.0)
    tx, ty = ex + (cx - ex) * keep, ey + (cy - ey) * keep
    lines = shapely.linestrings(np.stack([np.column_stack([ex, ey]), np.column_stack([tx, ty])], axis=1))
    tree = shapely.STRtree(polys.geometry.to_numpy())
    li, _ = tree.query(lines, predicate="intersects")
    blocked = np.zeros(len(ex), dtype=bool)
    blocked[li] = True
    return blocked & (length > tolerance_m)


def _buildings_in(buildings: gpd.GeoDataFrame, crs) -> gpd.GeoDataFrame:
    if buildings.crs is None:
        raise GeoInputError("buildings have no CRS")
    polys = buildings[buildings.geometry.geom_type.isin(["Polygon", "MultiPolygon"])]
    polys = polys.to_crs(crs)
    if "height_m" not in polys.columns:
        polys = polys.assign(height_m=np.nan)
    return polys.reset_index(drop=True)


# --- merging detections into cameras -------------------------------------------------------

def _cluster(rays: pd.DataFrame, *, merge_m: float, max_merge_m: float, respect_class: bool,
             twin_overlap: float | None = None) -> np.ndarray:
    """Camera label per ray: connected components of position-compatible pairs from different
    images (same class unless ``respect_class`` is False); components that would hold two
    detections of one image are split by constrained greedy merging. Boxes of one image that
    overlap by ``twin_overlap`` or more of the smaller one's area (None: ``TWIN_OVERLAP``; 0: off)
    are one camera's (``_twin_rays``): only the most confident of them is merged, and the others
    take its label."""
    n = len(rays)
    image = pd.factorize(rays["image_id"])[0]
    klass = pd.factorize(rays["class_name"])[0] if respect_class else np.zeros(n, dtype=np.int64)
    cols = {"image": image, "klass": klass, "x": rays["x"].to_numpy(float), "y": rays["y"].to_numpy(float),
            "sigma": rays["sigma_m"].to_numpy(float), **_ray_columns(rays)}
    overlap = TWIN_OVERLAP if twin_overlap is None else twin_overlap
    rep = _twin_rays(rays, image, min_overlap=overlap) if overlap > 0 and n else np.arange(n)
    keep = np.flatnonzero(rep == np.arange(n))
    if len(keep) == n:
        return _cluster_columns(cols, n, merge_m=merge_m, max_merge_m=max_merge_m)
    labels = _cluster_columns({k: v[keep] for k, v in cols.items()}, len(keep), merge_m=merge_m,
                              max_merge_m=max_merge_m)
    return labels[np.searchsorted(keep, rep)]


# Two boxes of one image on one camera: the detector's non-maximum suppression is per class, so a camera
# it is unsure of can get a dome and a directed box (and, below its IoU of 0.7, two of one class). On the
# 12 dense held-out-look surveys (issue 26, docs/unseen-imagery.md) such pairs overlapped by 0.54-1.0 of
# the smaller box (IoU 0.26-0.92), boxes of two true cameras in one image by 0.0.
TWIN_OVERLAP = 0.5


def _twin_rays(rays: pd.DataFrame, image: np.ndarray, *, min_overlap: float) -> np.ndarray:
    """Per ray, the ray that stands for its box: the most confident of the boxes of its image that
    overlap it by ``min_overlap`` of the smaller area or more (transitively); itself for most."""
    n = len(image)
    order = _stable_order(image, int(image.max()) + 1)
    code = image[order]
    # the boxes in image order, once (the pairs below then read nearby memory: speed at 1M detections)
    x1, y1, x2, y2 = (rays[c].to_numpy(float)[order] for c in ("x1", "y1", "x2", "y2"))
    area = np.clip(x2 - x1, 0.0, None) * np.clip(y2 - y1, 0.0, None)
    ti, tj = [], []
    k, cand = 1, np.flatnonzero(code[:-1] == code[1:])  # sorted positions p with p + k in the same image
    while len(cand):
        a, b = cand, cand + k
        inter = (np.clip(np.minimum(x2[a], x2[b]) - np.maximum(x1[a], x1[b]), 0.0, None)
                 * np.clip(np.minimum(y2[a], y2[b]) - np.maximum(y1[a], y1[b]), 0.0, None))
        hit = inter >= min_overlap * np.maximum(np.minimum(area[a], area[b]), 1e-9)
        ti.append(order[a[hit]])
        tj.append(order[b[hit]])
        k += 1
        cand = cand[cand + k < n]
        cand = cand[code[cand] == code[cand + k]]
    rep = np.arange(n)
    if not ti or not sum(len(t) for t in ti):
        return rep
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    ti, tj = np.concatenate(ti), np.concatenate(tj)
    nodes = np.unique(np.concatenate([ti, tj]))
    li, lj = np.searchsorted(nodes, ti), np.searchsorted(nodes, tj)
    _, group = connected_components(coo_matrix((np.ones(len(li)), (li, lj)), shape=(len(nodes),) * 2), directed=False)
    conf = rays["conf"].to_numpy(float)[nodes]
    best = np.lexsort((-conf, group))  # each group's most confident node first
    first = best[np.r_[True, group[best][1:] != group[best][:-1]]]
    rep[nodes] = nodes[first[group]]
    return rep


def _cluster_columns(cols: dict, n: int, *, merge_m: float, max_merge_m: float) -> np.ndarray:
    """``_cluster`` on its ray columns (``cols``: image, klass, x, y, sigma and ``_ray_columns``)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    image = cols["image"]
    pairs = cKDTree(np.column_stack([cols["x"], cols["y"]])).query_pairs(max_merge_m, output_type="ndarray")
    if len(pairs) == 0:
        return np.arange(n)
    from concurrent.futures import ThreadPoolExecutor

    starts = range(0, len(pairs), PAIR_BLOCK)  # cache-sized blocks, a thread each (speed, issue 27: the same pairs)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1, len(starts))) as pool:
        kept = list(pool.map(lambda a: _pairs_that_agree(pairs[a:a + PAIR_BLOCK], cols, merge_m=merge_m,
                                                         max_merge_m=max_merge_m), starts))
    i, j, d = (np.concatenate([k[c] for k in kept]) for c in range(3))
    limit = np.ones(len(i))
    graph = coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # Components holding two detections of one image need the constrained merge.
    key = pd.DataFrame({"c": labels, "g": image})
    bad = np.unique(key.loc[key.duplicated(["c", "g"]), "c"].to_numpy())
    if len(bad) == 0:
        return labels
    in_bad = np.isin(labels[i], bad)
    labels = labels.copy()
    next_label = labels.max() + 1
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    first = np.searchsorted(sorted_labels, bad)
    last = np.searchsorted(sorted_labels, bad, side="right")
    pi, pj = i[in_bad], j[in_bad]
    pc = labels[pi]
    # by component (a stable radix sort of the component's rank), each component's pairs best first in
    # the merge (np.lexsort((score, pc))'s order within each component: speed, issue 27)
    pair_order = _stable_order(np.searchsorted(bad, pc), len(bad))
    pi, pj, pc, score = pi[pair_order], pj[pair_order], pc[pair_order], (d[in_bad] / limit[in_bad])[pair_order]
    cuts = np.searchsorted(pc, bad)
    ends = np.searchsorted(pc, bad, side="right")
    moved: list[int] = []  # rays of the split-off groups, and their new labels: one assignment
    moved_to: list[int] = []
    tasks = list(zip(first.tolist(), last.tolist(), cuts.tolist(), ends.tolist()))
    for sub in _merged_components(tasks, order, pi, pj, image, score=score):
        for idx in sub[1:]:  # the first group keeps the component's label
            moved += idx
            moved_to += [next_label] * len(idx)
            next_label += 1
    labels[np.asarray(moved, np.int64)] = np.asarray(moved_to, labels.dtype)
    return labels


PAIR_BLOCK = 131_072  # _cluster works through the k-d tree's pairs this many at a time (the CPU's caches)


def _ray_columns(rays: pd.DataFrame) -> dict[str, np.ndarray]:
    """The ray quantities ``_rays_agree`` reads, once: eye (x0, y0), unit direction (dx, dy),
    range and its sigma (m)."""
    theta = np.radians(rays["grid_bearing_deg"].to_numpy(float))
    return {"x0": rays["x0"].to_numpy(float), "y0": rays["y0"].to_numpy(float), "dx": np.sin(theta),
            "dy": np.cos(theta), "dist": rays["dist_m"].to_numpy(float), "sigma_m": rays["sigma_m"].to_numpy(float)}


def _pairs_that_agree(pairs: np.ndarray, cols: dict, *, merge_m: float, max_merge_m: float
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, score) of the ray pairs ``pairs`` ((k, 2) indices) that may be one camera: from
    different images, of one class, within their position limit and with rays that agree
    (``_rays_agree``)."""
    i, j = pairs[:, 0], pairs[:, 1]
    other = (cols["image"][i] != cols["image"][j]) & (cols["klass"][i] == cols["klass"][j])  # first: fewer distances
    i, j = i[other], j[other]
    x, y, sigma = cols["x"], cols["y"], cols["sigma"]
    d = np.hypot(x[i] - x[j], y[i] - y[j])
    ok = d <= np.clip(2.0 * np.hypot(sigma[i], sigma[j]), merge_m, max_merge_m)
    i, j = i[ok], j[ok]
    agree, score = _rays_agree(cols, i, j, merge_m=merge_m)
    return i[agree], j[agree], score[agree]


def _rays_agree(cols: dict, i: np.ndarray, j: np.ndarray, *, merge_m: float,
                min_angle_deg: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """Whether the rays of detections i and j can see one camera, and a score (0 best, <= 1).

    Bearings are precise, ranges are not: rays crossing at >= ``min_angle_deg`` must meet in
    front of both eyes at a range within 2.5 sigma of each detection's own range; nearly parallel
    rays must run within ~1 m of each other (plus 3% of the range) with positions that agree.
    ``cols``: ``_ray_columns`` of the rays."""
    x0, y0, dx, dy = cols["x0"], cols["y0"], cols["dx"], cols["dy"]
    dist, sigma = cols["dist"], cols["sigma_m"]
    # each ray quantity gathered once per pair (the same values; they were gathered up to 4 times each)
    x0i, x0j, y0i, y0j, dxi, dxj, dyi, dyj = x0[i], x0[j], y0[i], y0[j], dx[i], dx[j], dy[i], dy[j]
    di, dj, si, sj = dist[i], dist[j], sigma[i], sigma[j]
    ox, oy = x0j - x0i, y0j - y0i
    cross = dxi * dyj - dyi * dxj
    crossing = np.abs(cross) >= np.sin(np.radians(min_angle_deg))
    with np.errstate(divide="ignore", invalid="ignore"):
        ti = (ox * dyj - oy * dxj) / cross
        tj = (ox * dyi - oy * dxi) / cross
    tol_i = np.maximum(merge_m, 2.5 * si)
    tol_j = np.maximum(merge_m, 2.5 * sj)
    score_cross = np.maximum(np.abs(ti - di) / tol_i, np.abs(tj - dj) / tol_j)
    ok_cross = crossing & (ti > 0.5) & (tj > 0.5) & (score_cross <= 1.0)
    lateral = np.abs(ox * dyi - oy * dxi)
    lat_tol = 1.0 + 0.03 * np.maximum(di, dj)
    gap = np.hypot(x0i + di * dxi - x0j - dj * dxj, y0i + di * dyi - y0j - dj * dyj)
    score_par = np.maximum(lateral / lat_tol, gap / np.maximum(merge_m, 2.0 * np.hypot(si, sj)))
    ok_par = ~crossing & (score_par <= 1.0)
    score = np.where(crossing, score_cross, score_par)
    return (ok_cross | ok_par), np.nan_to_num(score, nan=1.0)


MERGE_FORK_PAIRS = 500_000  # above this many pairs the second half of the components is merged in a forked process


def _stable_order(key: np.ndarray, n_keys: int) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` for integer keys in [0, ``n_keys``): numpy's radix sort on
    16-bit keys (two passes, low half first, beyond 65,536 keys) instead of its merge sort."""
    key = np.asarray(key, np.int64)
    if n_keys <= 1 << 16:
        return np.argsort(key.astype(np.uint16), kind="stable")
    if n_keys > 1 << 32:
        return np.argsort(key, kind="stable")
    low = np.argsort((key & 0xFFFF).astype(np.uint16), kind="stable")
    return low[np.argsort((key[low] >> 16).astype(np.uint16), kind="stable")]


def _merged_components(tasks: list[tuple[int, int, int, int]], order: np.ndarray, pi: np.ndarray, pj: np.ndarray,
                       image: np.ndarray, *, score: np.ndarray | None = None) -> list[list[list[int]]]:
    """``_constrained_merge`` of each component (``tasks``: its rays ``order[a:b]``, its pairs
    ``p0:p1`` of ``pi`` / ``pj``, taken in that order, or by ``score``, lowest first, ties in that
    order), in order. The loop is Python (locate's longest at 1M detections),
    so on Linux above ``MERGE_FORK_PAIRS`` pairs the components holding the second half of the pairs
    are merged in a forked process (it inherits the arrays) while this one merges the first half:
    the same groups. If the process fails, its half is merged here."""
    import sys
    import threading

    def merge(part):
        out = []
        for a, b, p0, p1 in part:
            by = slice(p0, p1) if score is None else p0 + np.argsort(score[p0:p1], kind="stable")
            out.append(_constrained_merge(order[a:b], pi[by], pj[by], image))
        return out

    if (len(pi) < MERGE_FORK_PAIRS or len(tasks) < 2 or not sys.platform.startswith("linux")
            or threading.active_count() > 1):  # fork only a single-threaded process (no lock held elsewhere)
        return merge(tasks)
    import multiprocessing

    k = int(np.searchsorted(np.cumsum([p1 - p0 for _, _, p0, p1 in tasks]), len(pi) / 2.0)) + 1
    k = min(max(k, 1), len(tasks) - 1)
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_send_merged, args=(send, merge, tasks[k:]), daemon=True)
    try:
        child.start()
    except (AssertionError, OSError):  # e.g. inside a daemonic process, which may not have children
        return merge(tasks)
    send.close()
    head = merge(tasks[:k])
    try:
        tail = receive.recv()
    except (EOFError, OSError):
        tail = None
    child.join()
    receive.close()
    return head + (tail if tail is not None and child.exitcode == 0 else merge(tasks[k:]))


def _send_merged(send, merge, part) -> None:
    send.send(merge(part))
    send.close()


def _constrained_merge(nodes: np.ndarray, i: np.ndarray, j: np.ndarray, image: np.ndarray) -> list[list[int]]:
    """Greedy single-linkage over pairs sorted best first, never joining two detections of the
    same image into one camera. Returns the groups as lists of ray indices (in ``nodes`` order,
    groups by their first node)."""
    nodes = np.asarray(nodes)
    sorter = np.argsort(nodes, kind="stable")
    li = sorter[np.searchsorted(nodes, i, sorter=sorter)].tolist()  # local indices 0..len(nodes)-1
    lj = sorter[np.searchsorted(nodes, j, sorter=sorter)].tolist()
    parent = list(range(len(nodes)))
    images = [{v} for v in image[nodes].tolist()]

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for ra, rb in zip(li, lj):  # find() inlined (path halving): this loop is locate's hottest
        while parent[ra] != ra:
            parent[ra] = parent[parent[ra]]
            ra = parent[ra]
        while parent[rb] != rb:
            parent[rb] = parent[parent[rb]]
            rb = parent[rb]
        if ra == rb or not images[ra].isdisjoint(images[rb]):
            continue
        parent[rb] = ra
        small, large = sorted((images[ra], images[rb]), key=len)
        large |= small
        images[ra] = large
    groups: dict[int, list[int]] = {}
    for k, n in enumerate(nodes.tolist()):
        groups.setdefault(find(k), []).append(n)
    return list(groups.values())


def _summarise(rays: pd.DataFrame, *, min_triangulation_deg: float, max_range_m: float) -> pd.DataFrame:
    """One row per camera label: position (triangulated when the rays cross well, else the
    inverse-variance mean of the ray positions), counts, class and uncertainty."""
    out, codes = _camera_positions(rays, min_triangulation_deg=min_triangulation_deg, max_range_m=max_range_m)
    _camera_members(out, rays, codes)
    return out


def _camera_positions(rays: pd.DataFrame, *, min_triangulation_deg: float, max_range_m: float
                      ) -> tuple[pd.DataFrame, tuple[np.ndarray, np.ndarray]]:
    """``_summarise``'s positions: (x, y, method and uncertainty_m per camera label, (each ray's
    label code, its ray count per label)) for ``_camera_members``."""
    labels, uniques = pd.factorize(rays["camera"])
    m = len(uniques)
    w = 1.0 / rays["sigma_m"].to_numpy(float) ** 2
    sw = np.bincount(labels, w, m)
    mx = np.bincount(labels, w * rays["x"].to_numpy(float), m) / sw
    my = np.bincount(labels, w * rays["y"].to_numpy(float), m) / sw
    unc = 1.0 / np.sqrt(sw)
    # Least-squares intersection of 2-D rays: sum (I - d d^T) p = sum (I - d d^T) o.
    theta = np.radians(rays["grid_bearing_deg"].to_numpy(float))
    dxv, dyv = np.sin(theta), np.cos(theta)
    a11, a12, a22 = 1 - dxv * dxv, -dxv * dyv, 1 - dyv * dyv
    x0, y0 = rays["x0"].to_numpy(float), rays["y0"].to_numpy(float)
    s = {k: np.bincount(labels, v, m) for k, v in
         {"a11": a11, "a12": a12, "a22": a22, "b1": a11 * x0 + a12 * y0, "b2": a12 * x0 + a22 * y0}.items()}
    det = s["a11"] * s["a22"] - s["a12"] ** 2
    n_rays = np.bincount(labels, minlength=m)
    # spread of bearings: for two rays det = sin^2(crossing angle); n rays: det <= n^2 / 4
    spread = np.degrees(np.arcsin(np.clip(np.sqrt(np.clip(det, 0, None)) * 2.0 / np.maximum(n_rays, 1), 0, 1)))
    with np.errstate(divide="ignore", invalid="ignore"):
        tx = (s["a22"] * s["b1"] - s["a12"] * s["b2"]) / det
        ty = (s["a11"] * s["b2"] - s["a12"] * s["b1"]) / det
    tri = (n_rays >= 2) & (spread >= min_triangulation_deg) & np.isfinite(tx) & np.isfinite(ty)
    # The intersection must lie in front of every ray, within range, near the ray positions.
    with np.errstate(invalid="ignore"):
        t = (tx[labels] - x0) * dxv + (ty[labels] - y0) * dyv
        perp = np.abs((tx[labels] - x0) * dyv - (ty[labels] - y0) * dxv)
    bad_t = np.bincount(labels, ~((t >= 0.5) & (t <= max_range_m)), m) > 0
    rms = np.sqrt(np.bincount(labels, np.nan_to_num(np.minimum(perp, 1e6), nan=1e6) ** 2, m) / np.maximum(n_rays, 1))
    near = np.hypot(tx - mx, ty - my) <= 3.0 * np.maximum(unc, 1.0) + 5.0
    tri &= ~bad_t & near
    facade = rays["method"].eq("facade").to_numpy(bool)  # (a vectorised comparison: Series.map took 0.5 s at 1M)
    best_method = np.where(np.bincount(labels, facade, m) > 0, "facade", "size")
    out = pd.DataFrame({
        "x": np.where(tri, tx, mx),
        "y": np.where(tri, ty, my),
        "method": np.where(tri, "triangulated", best_method),
        "uncertainty_m": uncertainty_m(unc, rms, tri, best_method),
    })
    return out, (labels, n_rays)


def _camera_members(out: pd.DataFrame, rays: pd.DataFrame, codes: tuple[np.ndarray, np.ndarray]) -> None:
    """``_summarise``'s counts, class and member lists, added to ``out`` (``_camera_positions``)."""
    labels, n_rays = codes
    m = len(out)
    frame = pd.DataFrame({"label": labels, "image_id": rays["image_id"].astype(str).to_numpy(),
                          "conf": rays["conf"].to_numpy(float), "class_name": rays["class_name"].to_numpy()})
    if "point_id" in rays.columns:
        frame["point_id"] = rays["point_id"].to_numpy()
    else:
        frame["point_id"] = -1
    frame["image_code"] = pd.factorize(rays["image_id"])[0]  # integers: the same distinct images, faster (arrow)
    grouped = frame.groupby("label", sort=True)
    out["n_detections"] = n_rays
    out["n_views"] = grouped["image_code"].nunique().to_numpy()
    out["conf_max"] = grouped["conf"].max().to_numpy()
    by_class = frame.groupby(["label", "class_name"])["conf"].sum().reset_index()
    by_class = by_class.sort_values(["label", "conf"], ascending=[True, False]).drop_duplicates("label")
    out["class_name"] = by_class.set_index("label").loc[np.arange(m), "class_name"].to_numpy()
    out["image_ids"] = _lists_by_label(frame.drop_duplicates(["label", "image_code"]), "image_id", m)
    out["point_ids"] = _lists_by_label(frame.drop_duplicates(["label", "point_id"]), "point_id", m)
    out.insert(0, "camera_id", np.arange(m, dtype=np.int64))


def uncertainty_m(sigma: np.ndarray, rms_miss: np.ndarray, triangulated: np.ndarray, method: np.ndarray
                  ) -> np.ndarray:
    """Each camera's stated location error (m, the RMS distance to the true camera): triangulated
    cameras min(``sigma``, 1 + ``rms_miss``), cameras placed by box size (``method`` "size")
    ``SIZE_UNCERTAINTY_SCALE`` x ``sigma``, facade ones ``sigma`` (the rays' combined sigma_m)."""
    placed = np.where(np.asarray(method).astype(str) == "size", SIZE_UNCERTAINTY_SCALE * sigma, sigma)
    return np.where(triangulated, np.minimum(sigma, 1.0 + rms_miss), placed)


# --- helpers --------------------------------------------------------------------------------

def _lists_by_label(frame: pd.DataFrame, column: str, m: int) -> np.ndarray:
    """Object array of m arrays (as cameras.parquet reads back): the ``column`` values of each
    label 0..m-1 (vectorised split)."""
    order = np.argsort(frame["label"].to_numpy(), kind="stable")
    labels = frame["label"].to_numpy()[order]
    values = frame[column].to_numpy()[order]
    bounds = np.searchsorted(labels, np.arange(m + 1)).tolist()
    out = np.empty(m, dtype=object)
    for k in range(m):  # the same views np.split gives, by plain slices (3x faster)
        out[k] = values[bounds[k]:bounds[k + 1]]
    return out


def _nominal_size(class_name: pd.Series, size: float | dict[str, float] | None) -> np.ndarray:
    """Nominal camera size (m) per detection: one number, or a mapping by class name."""
    if size is None:
        size = CAMERA_SIZE_M
    if not isinstance(size, dict):
        return np.full(len(class_name), float(size))
    default = float(size.get("default", CAMERA_SIZE_M["default"]))
    # one look-up per class, then by integer code (Series.map took 0.24 s at 1M detections)
    codes, names = pd.factorize(class_name, use_na_sentinel=False)
    return np.array([float(size.get(c, default)) for c in names], dtype=float)[codes]


def _convergence(lon, lat, crs) -> np.ndarray:
    """Degrees to add to a grid bearing of ``crs`` to get a true bearing (meridian convergence)."""
    from pyproj import CRS

    from geo.streets.sampling import true_north_correction

    return true_north_correction(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float),
                                 CRS.from_user_input(crs))


def _empty_cameras() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(empty_frame(CAMERAS), geometry=gpd.GeoSeries([], crs=4326), crs=4326)


def _col(frame: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), default)
    return frame[name].fillna(default).to_numpy(float)


def _newer_than(path: Path, directory: Path) -> bool:
    if not directory.exists():
        return True
    stamps = [p.stat().st_mtime for p in directory.glob("*.parquet")]
    return not stamps or path.stat().st_mtime >= max(stamps)


# --- survey directory readers (shared with geo.counting.estimate) ----------------------------------

def read_sample_info(survey_dir: str | Path) -> dict:
    """``sample.json`` of a survey directory ({} when absent)."""
    path = Path(survey_dir) / "sample.json"
    if not Path(survey_dir).is_dir():
        raise GeoInputError(f"survey directory not found: {survey_dir}")
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise GeoInputError(f"malformed {path}: {error}") from None


def read_images(survey_dir: str | Path) -> pd.DataFrame:
    """``images.parquet`` joined with ``views.parquet`` (for point_id, side) when present."""
    survey_dir = Path(survey_dir)
    path = survey_dir / "images.parquet"
    if not path.exists():
        raise GeoInputError(f"{path} not found: run `camcensus fetch` first")
    images = _read_table(path)
    views_path = survey_dir / "views.parquet"
    if views_path.exists() and "view_id" in images.columns and "point_id" not in images.columns:
        views = _read_table(views_path, columns=["view_id", "point_id", "side"])
        images = images.merge(views.drop_duplicates("view_id"), on="view_id", how="left")
    images["image_id"] = images["image_id"].astype(str)
    return images


def read_detections(survey_dir: str | Path) -> pd.DataFrame:
    """All ``detections/part-*.parquet`` files as one table (empty table when there are none)."""
    import pyarrow.parquet as pq

    det_dir = Path(survey_dir) / "detections"
    parts = sorted(det_dir.glob("part-*.parquet")) if det_dir.exists() else []
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c[0] in "xyc" and c != "class_name" else "object")
                             for c in DETECTION_COLUMNS})
    tables = []
    for part in parts:
        table = pq.read_table(part)
        tables.append(table.select([c for c in DETECTION_COLUMNS if c in table.column_names]).to_pandas())
    frame = pd.concat(tables, ignore_index=True)
    frame["image_id"] = frame["image_id"].astype(str)
    return frame


def _read_table(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except Exception as error:  # pyarrow raises several types for corrupt files
        raise GeoInputError(f"cannot read {path}: {error}") from None
    if columns is not None:
        table = table.select([c for c in columns if c in table.column_names])
    frame = table.to_pandas()
    return frame.drop(columns=[c for c in ("geometry",) if c in frame.columns])
