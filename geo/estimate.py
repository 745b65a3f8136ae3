"""Camera density per area with calibrated uncertainty: two estimators side by side.

(a) ``rate``: the Stanford detection-rate estimator (Sheng, Yao, Goel 2021). The share of images
    with a detection, times precision, over recall, times the images' coverage:
    per road km = rate x precision x (1000 / metres of roadside seen per image) x 2 sides / recall,
    with a Clopper-Pearson binomial 95% interval on the rate. No deduplication.
(b) ``dedup``: the deduplicated cameras from ``geo.locate``, each weighted by the probability
    that it is real (precision; false positives are taken to be isolated single detections) over
    the probability that it was detected at all, 1 - (1 - recall)^k with k the views that could
    see it; summed per area and scaled by the surveyed share of the area's road length. The 95%
    interval comes from a bootstrap over street segments (ratio estimator, resampling the
    streets of each area), widened to at least a Poisson (Garwood) interval on the camera count
    so that an area with few or no cameras still gets an honest upper bound.

``density_from_tables`` works on tables; ``estimate_survey`` reads a survey directory, runs it,
and writes the exports (``geo.export``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.errors import GeoInputError
from geo.schemas import DENSITY, check_frame, columns

AREA_COLUMNS = columns(DENSITY)


@dataclass
class EstimateResult:
    """Per-area table (EPSG:4326), the whole-survey ``total`` figures, the report, written files."""

    areas: gpd.GeoDataFrame
    total: dict
    report: dict
    paths: dict[str, Path] = field(default_factory=dict)


# --- the two estimators ---------------------------------------------------------------------

def detection_probability(k: np.ndarray, recall: float) -> np.ndarray:
    """Probability that a camera visible in ``k`` images is detected in at least one of them."""
    k = np.maximum(np.asarray(k, dtype=float), 1.0)
    return 1.0 - (1.0 - float(recall)) ** k


def camera_weights(n_detections: np.ndarray, k: np.ndarray, *, precision: float, recall: float,
                   n_detections_total: int | None = None) -> np.ndarray:
    """Horvitz-Thompson weight of each located camera: P(real) / P(detected).

    The expected false detections, n_detections_total x (1 - precision), are taken to be single-
    detection cameras (an isolated false box): each single-detection camera is real with
    probability 1 - false / singles; cameras confirmed by two or more detections are real.
    """
    n_det = np.asarray(n_detections, dtype=float)
    total = float(n_det.sum() if n_detections_total is None else n_detections_total)
    singles = n_det <= 1
    false = total * (1.0 - float(precision))
    q_single = float(np.clip(1.0 - false / singles.sum(), 0.0, 1.0)) if singles.any() else 1.0
    real = np.where(singles, q_single, 1.0)
    return real / detection_probability(k, recall)


def rate_estimate(n_images: np.ndarray, n_hit: np.ndarray, road_km: np.ndarray, *, precision: float,
                  recall: float, metres_per_image: float, sides: float = 2.0, level: float = 0.95
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimator (a): cameras (estimate, lo, hi) from ``n_hit`` of ``n_images`` with a detection.

    per road km = rate x precision x (1000 / metres_per_image) x sides / recall; the interval
    is the Clopper-Pearson interval of the rate carried through the same factor.
    """
    from scipy.stats import beta

    n = np.asarray(n_images, dtype=float)
    m = np.asarray(n_hit, dtype=float)
    alpha = 1.0 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, m / n, np.nan)
        lo = np.where(m > 0, beta.ppf(alpha / 2, m, n - m + 1), 0.0)
        hi = np.where(m < n, beta.ppf(1 - alpha / 2, m + 1, n - m), 1.0)
    lo, hi = np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)
    factor = float(precision) * (1000.0 / float(metres_per_image)) * sides / float(recall)
    km = np.asarray(road_km, dtype=float)
    return rate * factor * km, lo * factor * km, hi * factor * km


def garwood_interval(n: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson interval for observed counts ``n``."""
    from scipy.stats import chi2

    n = np.asarray(n, dtype=float)
    alpha = 1.0 - level
    lo = np.where(n > 0, chi2.ppf(alpha / 2, 2 * n) / 2, 0.0)
    hi = chi2.ppf(1 - alpha / 2, 2 * n + 2) / 2
    return np.nan_to_num(lo), hi


def bootstrap_ratio(unit_area: np.ndarray, unit_w: np.ndarray, unit_s: np.ndarray, n_areas: int, *,
                    n_boot: int = 1000, seed: int = 0, level: float = 0.95, chunk: int = 100
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of the ratio sum(w) / sum(s) per area, resampling the units (street
    segments) of each area with replacement. Returns (lo, hi) of the ratio *relative to* the
    point ratio: T* / T for multiplying onto any point estimate (1 where undefined)."""
    order = np.argsort(unit_area, kind="stable")
    area, w, s = unit_area[order], unit_w[order], unit_s[order]
    counts = np.bincount(area, minlength=n_areas)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rng = np.random.default_rng(seed)
    size = len(area)
    w_sum = np.bincount(area, w, n_areas)
    s_sum = np.bincount(area, s, n_areas)
    reps = np.empty((n_boot, n_areas))
    present = counts > 0
    cut = starts[present]
    for first in range(0, n_boot, chunk):
        b = min(chunk, n_boot - first)
        if size == 0:
            reps[first:first + b] = 0.0
            continue
        idx = starts[area] + np.floor(rng.random((b, size)) * counts[area]).astype(np.int64)
        ws = np.add.reduceat(w[idx], cut, axis=1) if len(cut) else np.zeros((b, 0))
        ss = np.add.reduceat(s[idx], cut, axis=1) if len(cut) else np.zeros((b, 0))
        wsum = np.zeros((b, n_areas))
        ssum = np.zeros((b, n_areas))
        wsum[:, present], ssum[:, present] = ws, ss
        with np.errstate(divide="ignore", invalid="ignore"):
            # T*/T = (W*/S*) / (W/S); with no surveyed length resampled, fall back to W*/W
            ratio = np.where(ssum > 0, (wsum / ssum) * (s_sum / np.where(w_sum > 0, w_sum, 1.0)),
                             wsum / np.where(w_sum > 0, w_sum, 1.0))
        reps[first:first + b] = np.where(w_sum > 0, ratio, 0.0)
    alpha = 1.0 - level
    lo = np.quantile(reps, alpha / 2, axis=0)
    hi = np.quantile(reps, 1 - alpha / 2, axis=0)
    return np.where(w_sum > 0, lo, 1.0), np.where(w_sum > 0, hi, 1.0)


# --- per-area table -------------------------------------------------------------------------

def density_from_tables(
    areas: gpd.GeoDataFrame,
    *,
    cameras: gpd.GeoDataFrame,
    detections: pd.DataFrame,
    images: pd.DataFrame,
    points: pd.DataFrame,
    streets: gpd.GeoDataFrame,
    precision: float = 1.0,
    recall: float = 1.0,
    metres_per_point: float = 20.0,
    metres_per_image: float | None = None,
    truth: gpd.GeoDataFrame | None = None,
    osm: gpd.GeoDataFrame | None = None,
    population: np.ndarray | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> gpd.GeoDataFrame:
    """Density per area (EPSG:4326 GeoDataFrame with ``AREA_COLUMNS``).

    ``areas``: area_id, name, polygons (any CRS). ``cameras``: from ``geo.locate`` (lon, lat,
    n_detections, n_views, n_visible, point_ids). ``images``: image_id, point_id, status.
    ``points``: point_id, street_id, lon, lat. ``streets``: projected (metres), street_id.
    ``metres_per_point``: road length one sampled point stands for (the sampling spacing).
    ``metres_per_image``: roadside length one image sees, for estimator (a) (default: from the
    cameras' setback from the street and the images' field of view). ``population``: people per
    area (same order as ``areas``) or None.
    """
    _check_rates(precision, recall)
    crs = streets.crs
    areas_m = areas.to_crs(crs).reset_index(drop=True)
    n_areas = len(areas_m)
    geoms = areas_m.geometry.to_numpy()
    tree = shapely.STRtree(geoms)

    # road length per (area, street): the units of the bootstrap
    si, ai = _pairs(tree, streets.geometry.to_numpy(), "intersects")
    piece_len = shapely.length(shapely.intersection(streets.geometry.to_numpy()[si], geoms[ai]))
    units = pd.DataFrame({"area": ai, "street_id": streets["street_id"].to_numpy()[si], "road_m": piece_len})
    units = units.groupby(["area", "street_id"], as_index=False)["road_m"].sum()

    # surveyed length: each point with ok images stands for metres_per_point (its share of views)
    imgs = images.copy()
    imgs["ok"] = (imgs["status"].fillna("ok") == "ok") if "status" in imgs.columns else True
    pts = pd.DataFrame(points[["point_id", "street_id", "lon", "lat"]]).drop_duplicates("point_id")
    if "point_id" in imgs.columns and len(imgs):
        per_point = imgs.groupby("point_id").agg(n_views=("ok", "size"), n_ok=("ok", "sum"))
        design = max(1, int(per_point["n_views"].max()))
        pts = pts.merge(per_point, left_on="point_id", right_index=True, how="left").fillna({"n_ok": 0})
        pts["cover"] = np.minimum(1.0, pts["n_ok"].to_numpy(float) / design)
    else:
        pts["n_ok"] = 0
        pts["cover"] = 0.0
    pxy = _xy(pts["lon"], pts["lat"], crs)
    pi, pa = _point_pairs(tree, shapely.points(pxy))
    cover = pd.DataFrame({"area": pa, "street_id": pts["street_id"].to_numpy()[pi],
                          "cover_m": pts["cover"].to_numpy()[pi] * metres_per_point})
    cover = cover.groupby(["area", "street_id"], as_index=False)["cover_m"].sum()
    units = units.merge(cover, on=["area", "street_id"], how="outer").fillna(0.0)
    units["surveyed_m"] = np.minimum(units["cover_m"], np.where(units["road_m"] > 0, units["road_m"], units["cover_m"]))

    # images and detections per area, through their points
    point_area = pd.DataFrame({"point_id": pts["point_id"].to_numpy()[pi], "area": pa})
    ok_imgs = imgs[imgs["ok"]] if len(imgs) else imgs
    img_area = ok_imgs[["image_id", "point_id"]].merge(point_area, on="point_id") if "point_id" in ok_imgs else \
        pd.DataFrame({"image_id": [], "area": []})
    n_images = np.bincount(img_area["area"].to_numpy(np.int64), minlength=n_areas)
    det_area = detections[["image_id"]].merge(img_area[["image_id", "area"]], on="image_id")
    n_det = np.bincount(det_area["area"].to_numpy(np.int64), minlength=n_areas)
    hit_area = det_area.drop_duplicates(["image_id", "area"])
    n_hit = np.bincount(hit_area["area"].to_numpy(np.int64), minlength=n_areas)

    # cameras: weight, area, and the street they were seen from
    n_located = int(cameras["n_detections"].sum()) if len(cameras) else 0
    k = cameras["n_visible"].to_numpy() if "n_visible" in cameras.columns else cameras["n_views"].to_numpy()
    weight = camera_weights(cameras["n_detections"].to_numpy(), np.maximum(k, cameras["n_views"].to_numpy()),
                            precision=precision, recall=recall, n_detections_total=n_located)
    cxy = _xy(cameras["lon"], cameras["lat"], crs)
    ci, ca = _point_pairs(tree, shapely.points(cxy))
    cam_street = _camera_streets(cameras, pts, streets, cxy)
    cam_units = pd.DataFrame({"area": ca, "street_id": cam_street[ci], "w": weight[ci], "n": 1})
    cam_units = cam_units.groupby(["area", "street_id"], as_index=False)[["w", "n"]].sum()
    units = units.merge(cam_units, on=["area", "street_id"], how="outer").fillna(0.0)
    units["area"] = units["area"].astype(np.int64)

    road_m = np.bincount(units["area"], units["road_m"], n_areas)
    surveyed_m = np.bincount(units["area"], units["surveyed_m"], n_areas)
    w_sum = np.bincount(units["area"], units["w"], n_areas)
    n_cam = np.bincount(units["area"], units["n"], n_areas).round().astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(surveyed_m > 0, road_m / np.minimum(surveyed_m, np.where(road_m > 0, road_m, surveyed_m)), np.nan)
    scale = np.where(road_m == 0, 1.0, scale)
    est = w_sum * scale
    rel_lo, rel_hi = bootstrap_ratio(units["area"].to_numpy(), units["w"].to_numpy(float),
                                     units["surveyed_m"].to_numpy(float), n_areas, n_boot=n_boot, seed=seed, level=level)
    boot_lo, boot_hi = est * rel_lo, est * rel_hi
    # Poisson floor: the located count's exact interval carried by the mean weight
    g_lo, g_hi = garwood_interval(n_cam, level)
    q1 = camera_weights(np.ones(1), np.ones(1), precision=precision, recall=recall, n_detections_total=1)[0]
    unit_weight = np.where(n_cam > 0, w_sum / np.maximum(n_cam, 1), max(q1, 1.0 / recall))
    est_lo = np.minimum(boot_lo, g_lo * unit_weight * scale)
    est_hi = np.maximum(boot_hi, g_hi * unit_weight * scale)

    # estimator (a)
    if metres_per_image is None:
        metres_per_image = seen_metres_per_image(cameras, streets, images, metres_per_point=metres_per_point,
                                                 recall=recall)
    road_km = road_m / 1000.0
    rate_est, rate_lo, rate_hi = rate_estimate(n_images, n_hit, road_km, precision=precision, recall=recall,
                                               metres_per_image=metres_per_image, level=level)
    area_km2 = shapely.area(geoms) / 1e6
    with np.errstate(divide="ignore", invalid="ignore"):
        per_km = np.where(road_km > 0, est / road_km, np.nan)
        table = pd.DataFrame({
            "area_id": areas_m["area_id"].astype(str).to_numpy(),
            "name": areas_m["name"].astype(str).to_numpy() if "name" in areas_m else areas_m["area_id"].astype(str),
            "road_km": road_km,
            "surveyed_km": np.minimum(surveyed_m, np.where(road_m > 0, road_m, surveyed_m)) / 1000.0,
            "area_km2": area_km2,
            "n_images": n_images,
            "n_detections": n_det,
            "n_cameras": n_cam,
            "est_cameras": est,
            "est_lo": est_lo,
            "est_hi": est_hi,
            "per_road_km": per_km,
            "per_road_km_lo": np.where(road_km > 0, est_lo / road_km, np.nan),
            "per_road_km_hi": np.where(road_km > 0, est_hi / road_km, np.nan),
            "per_km2": np.where(area_km2 > 0, est / area_km2, np.nan),
            "population": population if population is not None else np.nan,
            "per_1000_people": (np.where(population > 0, est / population * 1000.0, np.nan)
                                if population is not None else np.nan),
            "rate_est_cameras": rate_est,
            "rate_est_lo": rate_lo,
            "rate_est_hi": rate_hi,
            "rate_per_road_km": np.where(road_km > 0, rate_est / road_km, np.nan),
            "truth_cameras": _count_in(truth, tree, crs, n_areas),
            "truth_seen_cameras": _count_in(_seen(truth), tree, crs, n_areas),
            "osm_cameras": _count_in(osm, tree, crs, n_areas),
        })
    out = gpd.GeoDataFrame(table[AREA_COLUMNS], geometry=areas.reset_index(drop=True).geometry.to_numpy(),
                           crs=areas.crs).to_crs(4326)
    check_frame(out, DENSITY, what="density table")
    out.attrs["metres_per_image"] = float(metres_per_image)
    return out


def seen_metres_per_image(cameras: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, images: pd.DataFrame, *,
                          metres_per_point: float | None = None, recall: float = 1.0,
                          default_setback_m: float = 10.0) -> float:
    """Roadside length (m) over which one image sees a camera, for estimator (a).

    With located cameras and the sampling spacing: k x ``metres_per_point`` (one image per side
    per point), where k, the images a camera appears in, is solved from the mean number of views
    of the located cameras, E[views | detected] = k r / (1 - (1 - r)^k). Otherwise geometric:
    2 x setback x tan(fov / 2), with the setback the median distance of the located cameras from
    their nearest street (10 m if none).
    """
    if metres_per_point and len(cameras):
        mean_views = float(np.mean(cameras["n_views"].to_numpy(float)))
        return k_from_mean_views(mean_views, recall) * float(metres_per_point)
    fov = float(np.nanmedian(images["fov"].to_numpy(float))) if "fov" in images and len(images) else 90.0
    setback = default_setback_m
    if len(cameras) and len(streets):
        xy = _xy(cameras["lon"], cameras["lat"], streets.crs)
        tree = shapely.STRtree(streets.geometry.to_numpy())
        _, dist = tree.query_nearest(shapely.points(xy), return_distance=True, all_matches=False)
        if len(dist):
            setback = float(np.clip(np.median(dist), 3.0, 40.0))
    return 2.0 * setback * float(np.tan(np.radians(np.clip(fov, 1.0, 179.0)) / 2.0))


def k_from_mean_views(mean_views: float, recall: float) -> float:
    """The k (images a camera appears in, >= 1) whose zero-truncated binomial mean
    k r / (1 - (1 - r)^k) equals ``mean_views`` (bisection; 1 for mean_views <= 1)."""
    r = float(recall)
    if r >= 1.0:
        return max(1.0, float(mean_views))
    lo, hi = 1.0, 200.0
    if mean_views <= 1.0:
        return 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if mid * r / (1 - (1 - r) ** mid) < mean_views:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def total_from_row(row: pd.Series | dict) -> dict:
    """The report's ``total`` object from a one-area table row (estimator (a) nested)."""
    get = (lambda k: row[k]) if isinstance(row, dict) else row.get
    total = {k: _plain(get(k)) for k in ("road_km", "surveyed_km", "area_km2", "n_images", "n_detections",
                                          "n_cameras", "est_cameras", "est_lo", "est_hi", "per_road_km",
                                          "per_road_km_lo", "per_road_km_hi", "per_km2", "population",
                                          "per_1000_people")}
    total["rate_estimator"] = {"est_cameras": _plain(get("rate_est_cameras")), "est_lo": _plain(get("rate_est_lo")),
                               "est_hi": _plain(get("rate_est_hi")), "per_road_km": _plain(get("rate_per_road_km"))}
    for key in ("truth_cameras", "truth_seen_cameras", "osm_cameras"):
        value = _plain(get(key))
        if value is not None:
            total[key] = value
    return total


# --- the stage ------------------------------------------------------------------------------

def estimate_survey(
    survey_dir: str | Path,
    *,
    by: str = "area",
    precision: float | None = None,
    recall: float | None = None,
    model: dict | None = None,
    population: str | Path | None = None,
    population_field: str | None = None,
    metres_per_image: float | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    osm: bool = True,
    buildings: Any = "auto",
    exports: bool = True,
) -> EstimateResult:
    """Estimate density per area for a survey directory and write the exports.

    Locates cameras first when ``cameras.parquet`` is missing or older than the detections.
    ``precision``/``recall``: the detector's figures at its operating threshold (None: 1.0 and a
    warning in report.json). ``model``: what the caller knows of the model (id, card), recorded
    in report.json. Writes density.geojson, density.parquet, map.html, density.png, report.json.
    """
    from geo.areas import areas_from_spec, population_for_areas, population_from_file, whole_area
    from geo.locate import locate_survey, read_detections, read_images, read_sample_info
    from geo.network import load_network, streets_from_graph

    timings: dict[str, float] = {}
    notes: list[str] = []
    survey_dir = Path(survey_dir)
    clock = time.perf_counter()
    info = read_sample_info(survey_dir)
    if precision is None or recall is None:
        missing = " and ".join(n for n, v in (("precision", precision), ("recall", recall)) if v is None)
        notes.append(f"no model {missing} known (no model card, no --precision/--recall): using 1.0, "
                     "so the estimate is not corrected for false or missed detections")
    precision = 1.0 if precision is None else float(precision)
    recall = 1.0 if recall is None else float(recall)
    _check_rates(precision, recall)
    if population is not None and not population_field:
        raise GeoInputError("--population needs --population-field, the field holding the number of people")
    for name in ("network.graphml", "points.parquet"):
        if not (survey_dir / name).exists():
            raise GeoInputError(f"{survey_dir / name} not found: run `camcensus sample` first")
    graph = load_network(survey_dir / "network.graphml")
    streets = streets_from_graph(graph)
    areas = areas_from_spec(by, streets, warnings_out=notes)
    pop_layer = population_from_file(population, field=population_field) if population is not None else None
    timings["read_inputs_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    cameras = locate_survey(survey_dir, buildings=buildings)
    detections = read_detections(survey_dir)
    images = read_images(survey_dir)
    points = _read_points(survey_dir)
    timings["locate_s"] = time.perf_counter() - clock
    if len(detections) == 0:
        notes.append("the survey has no detections: the estimate is zero, its interval an upper bound")

    clock = time.perf_counter()
    truth = _read_truth(survey_dir)
    osm_frame = None
    if osm and info.get("area"):
        osm_frame = _osm_cameras(info["area"], notes)
    timings["reference_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    spacing = float(info.get("spacing_m") or 20.0)
    if info.get("method") == "random":
        fov = float(info.get("fov") or 90.0)
        spacing = 2.0 * 10.0 * float(np.tan(np.radians(fov) / 2.0))
    if metres_per_image is None:
        metres_per_image = seen_metres_per_image(cameras, streets, images, metres_per_point=spacing, recall=recall)
    common = dict(cameras=cameras, detections=detections, images=images, points=points, streets=streets,
                  precision=precision, recall=recall, metres_per_point=spacing, metres_per_image=metres_per_image,
                  truth=truth, osm=osm_frame, n_boot=n_boot, seed=seed)
    whole = whole_area(streets)
    pop_areas = pop_whole = None
    if pop_layer is not None:
        pop_areas = population_for_areas(areas, pop_layer, field=population_field, crs=streets.crs)
        if not pop_areas.any():
            notes.append(f"the population layer {Path(population).name} does not overlap the areas")
        pop_whole = population_for_areas(whole, pop_layer, field=population_field, crs=streets.crs)
    table = density_from_tables(areas, population=pop_areas, **common)
    same = len(areas) == 1 and areas["area_id"].iloc[0] == "area"
    total_table = table if same else density_from_tables(whole, population=pop_whole, **common)
    timings["estimate_s"] = time.perf_counter() - clock
    total = total_from_row(total_table.iloc[0])
    if len(table) and (table["road_km"] <= 0).all():
        raise GeoInputError(f"the areas of --by {by} contain none of the survey's streets")

    report = {
        "survey": survey_dir.name,
        "parameters": {"by": by, "precision": precision, "recall": recall, "n_boot": n_boot, "seed": seed,
                       "level": 0.95, "metres_per_point": spacing, "metres_per_image": float(metres_per_image),
                       "visible_range_m": _attr(cameras, "visible_range_m"),
                       "n_buildings_for_locate": _attr(cameras, "buildings"),
                       "population": str(population) if population is not None else None,
                       "population_field": population_field, "area": info.get("area"),
                       "sampling": {k: info.get(k) for k in ("method", "spacing_m", "sides", "fov", "pitch", "seed")}},
        "model": model or {"model_id": _model_ids(detections)},
        "estimators": {"dedup": "deduplicated cameras / (precision-adjusted) P(detected) = 1-(1-recall)^k, "
                                "scaled by surveyed road share; 95% bootstrap over street segments",
                       "rate_estimator": "Stanford: share of images with a detection x precision x "
                                         "(1000 / metres_per_image) x 2 / recall; Clopper-Pearson; "
                                         "metres_per_image = k x metres_per_point, k solved from the "
                                         "located cameras' mean views (zero-truncated binomial)"},
        "n_areas": int(len(table)),
        "total": total,
        "warnings": notes,
        "timings": timings,
    }
    paths: dict[str, Path] = {}
    if exports:
        from geo.export import write_exports

        clock = time.perf_counter()
        paths = write_exports(survey_dir, table, cameras=cameras, report=report)
        timings["export_s"] = time.perf_counter() - clock
        from geo.export import write_json

        write_json(report, survey_dir / "report.json")
    return EstimateResult(areas=table, total=total, report=report, paths=paths)


# --- helpers --------------------------------------------------------------------------------

def _check_rates(precision: float, recall: float) -> None:
    if not 0 < precision <= 1:
        raise GeoInputError(f"precision must be in (0, 1], got {precision}")
    if not 0 < recall <= 1:
        raise GeoInputError(f"recall must be in (0, 1], got {recall}")


def _pairs(tree: shapely.STRtree, geoms: np.ndarray, predicate: str) -> tuple[np.ndarray, np.ndarray]:
    if len(geoms) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    found = tree.query(geoms, predicate=predicate)
    return found[0].astype(np.int64), found[1].astype(np.int64)


def _point_pairs(tree: shapely.STRtree, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(point, area) pairs: every area a point lies inside (overlapping areas share it), and a
    point exactly on a boundary goes to one area only, so a tiling counts it once."""
    inside_p, inside_a = _pairs(tree, points, "within")
    lost = np.setdiff1d(np.arange(len(points)), inside_p)
    edge_p, edge_a = _pairs(tree, points[lost], "intersects")
    edge_p = lost[edge_p]
    first = np.unique(edge_p, return_index=True)[1]
    return np.concatenate([inside_p, edge_p[first]]), np.concatenate([inside_a, edge_a[first]])


def _xy(lon, lat, crs) -> np.ndarray:
    from pyproj import Transformer

    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if len(lon) == 0:
        return np.zeros((0, 2))
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    return np.column_stack([x, y])


def _camera_streets(cameras: pd.DataFrame, points: pd.DataFrame, streets: gpd.GeoDataFrame,
                    cxy: np.ndarray) -> np.ndarray:
    """The street each camera was seen from (its first point's), else its nearest street."""
    n = len(cameras)
    out = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return out
    if "point_ids" in cameras.columns:
        first = [(ids[0] if ids is not None and len(ids) else -1) for ids in cameras["point_ids"]]
        lookup = pd.Series(points["street_id"].to_numpy(), index=points["point_id"].to_numpy())
        lookup = lookup[~lookup.index.duplicated()]
        out = pd.Series(first).map(lookup).fillna(-1).to_numpy(np.int64)
    missing = out < 0
    if missing.any() and len(streets):
        tree = shapely.STRtree(streets.geometry.to_numpy())
        nearest = tree.query_nearest(shapely.points(cxy[missing]), all_matches=False)[1]
        out[missing] = streets["street_id"].to_numpy()[nearest]
    return out


def _count_in(frame: gpd.GeoDataFrame | None, tree: shapely.STRtree, crs, n_areas: int) -> np.ndarray:
    if frame is None:
        return np.full(n_areas, np.nan)
    if len(frame) == 0:
        return np.zeros(n_areas)
    pts = frame.to_crs(crs).geometry
    _, ai = _point_pairs(tree, shapely.points(shapely.get_coordinates(pts.centroid.to_numpy())))
    return np.bincount(ai, minlength=n_areas).astype(float)


def _read_points(survey_dir: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    table = pq.read_table(survey_dir / "points.parquet", columns=["point_id", "street_id", "lon", "lat"])
    return table.to_pandas()


def _seen(truth: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """The true cameras that appear in at least one image (``seen_by`` not empty)."""
    if truth is None or "seen_by" not in truth.columns:
        return None
    seen = truth["seen_by"].map(lambda v: len(json.loads(v)) if isinstance(v, str) else len(v)
                                if v is not None and not (isinstance(v, float) and np.isnan(v)) else 0)
    return truth[seen.to_numpy() > 0]


def _read_truth(survey_dir: Path) -> gpd.GeoDataFrame | None:
    path = survey_dir / "truth.geojson"
    if not path.exists():
        return None
    return gpd.read_file(path)


def _osm_cameras(spec: str, notes: list[str]) -> gpd.GeoDataFrame | None:
    try:
        from geo.sim.features import surveillance_from_area
    except ImportError:
        return None
    try:
        return surveillance_from_area(spec)
    except GeoInputError as error:
        notes.append(f"OSM cameras unavailable: {error}")
        return None


def _model_ids(detections: pd.DataFrame) -> list[str]:
    if "model_id" not in detections.columns:
        return []
    return sorted(str(m) for m in detections["model_id"].dropna().unique())


def _attr(frame: pd.DataFrame, key: str) -> Any:
    return _plain(frame.attrs.get(key))


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    return value


def report_to_text(report: dict) -> str:
    """The report as JSON text (NaN written as null)."""
    return json.dumps(report, indent=2, default=_plain, allow_nan=False)
