"""Camera density per area with calibrated uncertainty: two estimators side by side.

The estimand: the cameras within ``strip`` metres of the surveyed streets (the street pieces that
views with imagery stand for; see ``geo.counting.inclusion``), per area and by class. Nothing outside the
strip is claimed: cameras deep in courtyards or far from any street are no part of it.

(b) ``strip`` (the estimate): Horvitz-Thompson over the located cameras inside the strip, each
    weighted by P(real) / pi, with pi its inclusion probability from the views' geometry and the
    detector's recall by box size (``geo.counting.inclusion``; floored at ``MIN_INCLUSION`` so that no camera
    weighs more than 10) and P(real) from the precision by confidence (``camera_reality``).
    Variance, as Distance's ``dht2`` reports it, from three independent sources:
    - encounter: the Horvitz-Thompson variance of which cameras were detected (known pi),
      sum q (1 - pi) / pi^2, plus that of which detections are real (``reality_variance``:
      q (1 - q) / pi^2 with a held-out calibration; with a review of the survey's own detections
      only the within-bin allocation, the bin totals being the review's). The strip is surveyed
      whole (covered region = study region), for which ``dht2`` uses this binomial variance;
      the between-streets encounter-rate variance of Fewster et al. (2009), R2, is reported for
      the density per road km as a rate to carry to other streets (``encounter_rate_variance``);
    - precision and recall: each calibration bin's Beta posterior variance carried through by the
      delta method (a central difference of one posterior SD per bin; the exact gradient for
      recall), the precision bins' times the finite-population correction 1 - n_b / N_b for a
      review;
    weights of cameras placed by box size are corrected for their location error
    (``geo.counting.inclusion.corrected_weight``);
    and a log-normal interval, N / C .. N x C with C = exp(t_df sqrt(log(1 + cv^2))), df by
    Satterthwaite (``lognormal_interval``); an area where no camera was located gets 0 and the
    Poisson (Garwood) upper bound of a zero count, so that it still has an honest upper bound.
(a) ``rate``: the Stanford detection-rate estimator (Sheng, Yao, Goel 2021), kept as the
    published comparison: per road km = rate x precision x (1000 / metres of roadside seen per
    image) x 2 sides / recall, with a Clopper-Pearson interval on the rate. No deduplication.

``density_from_tables`` works on tables; ``estimate_survey`` reads a survey directory, runs it,
and writes the exports (``geo.outputs.export``).
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

from geo.counting.calibration import (NOMINAL_N, Calibration, RateCurves, calibration_from_dict, calibration_from_rates,
                             calibration_summary, conf_bin)
from geo.errors import GeoInputError
from geo.counting.inclusion import (DEFAULT_SHIFTS, DEFAULT_STRIP_M, MIN_INCLUSION, box_size_m, in_strip, inclusion_gradient,
                           street_distance, surveyed_streets, view_pairs, views_for_inclusion)
from geo.schemas import DENSITY, check_frame, columns

AREA_COLUMNS = columns(DENSITY)
CLASSES = ("directed", "dome")


@dataclass
class EstimateResult:
    """Per-area table (EPSG:4326), the whole-survey ``total`` figures, the report, written files."""

    areas: gpd.GeoDataFrame
    total: dict
    report: dict
    paths: dict[str, Path] = field(default_factory=dict)


# --- published formulas ---------------------------------------------------------------------

def encounter_rate_variance(n: np.ndarray, lengths: np.ndarray, *, method: str = "R2") -> float:
    """Variance of the encounter rate n / L from per-transect counts ``n`` and lengths (Fewster et
    al. 2009, Biometrics 65: 225-236). R2 (random placement, unequal lengths):
    K / (L^2 (K - 1)) sum l_k^2 (n_k / l_k - n / L)^2. O2 (systematic designs, overlapping pairs of
    neighbouring transects in the given order): 2K / (L^2 (K - 1)) sum_{k<K} (l_k l_{k+1} /
    (l_k + l_{k+1}))^2 (n_k / l_k - n_{k+1} / l_{k+1})^2. NaN for fewer than two transects."""
    n, lengths = np.asarray(n, float), np.asarray(lengths, float)
    keep = lengths > 0
    n, lengths = n[keep], lengths[keep]
    k = len(n)
    if k < 2:
        return float("nan")
    total_l = lengths.sum()
    rate = n / lengths
    if method == "R2":
        return float(k * np.sum(lengths ** 2 * (rate - n.sum() / total_l) ** 2) / (total_l ** 2 * (k - 1)))
    if method == "O2":
        l1, l2 = lengths[:-1], lengths[1:]
        term = (l1 * l2 / (l1 + l2)) ** 2 * (rate[:-1] - rate[1:]) ** 2
        return float(2 * k * term.sum() / (total_l ** 2 * (k - 1)))
    raise GeoInputError(f"unknown encounter-rate variance '{method}': use R2 or O2")


def satterthwaite_df(cvs: np.ndarray, dfs: np.ndarray) -> np.ndarray:
    """Degrees of freedom of a total CV^2 = sum cv_i^2 (Satterthwaite, as in Buckland et al. 2001
    eq. 3.75 and ``dht2``): (sum cv_i^2)^2 / sum (cv_i^4 / df_i). ``cvs`` (..., sources)."""
    cvs, dfs = np.asarray(cvs, float), np.asarray(dfs, float)
    num = np.sum(cvs ** 2, axis=-1) ** 2
    den = np.sum(cvs ** 4 / np.maximum(dfs, 1e-9), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.inf)


def lognormal_interval(est: np.ndarray, cv: np.ndarray, df: np.ndarray | float = np.inf, *, level: float = 0.95
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Log-normal interval of ``dht2`` (Buckland et al. 2001 eq. 3.71-3.72): est / C, est x C
    with C = exp(t_{df, 1 - alpha/2} sqrt(log(1 + cv^2))); normal quantile for infinite df."""
    from scipy.stats import norm, t

    est, cv = np.asarray(est, float), np.asarray(cv, float)
    df = np.broadcast_to(np.asarray(df, float), est.shape)
    q = 1 - (1 - level) / 2
    quant = np.where(np.isfinite(df), t.ppf(q, np.where(np.isfinite(df), np.maximum(df, 1.0), 1.0)), norm.ppf(q))
    c = np.exp(quant * np.sqrt(np.log1p(np.nan_to_num(cv) ** 2)))
    return est / c, est * c


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


# --- the strip estimator --------------------------------------------------------------------

def camera_reality(n_detections: np.ndarray, conf_max: np.ndarray, detection_conf: np.ndarray,
                   precision_at) -> np.ndarray:
    """P(real) of each located camera from the precision by confidence.

    The expected false detections of each confidence bin, sum over the bin's detections of
    (1 - precision), are taken to be single-detection cameras of that bin (a false box seldom
    repeats at one place across views): such a camera is real with probability
    1 - false_b / singles_b. False detections beyond a bin's singles are spread over the
    multi-detection cameras in proportion to 1 - precision(conf_max); the rest are real.
    ``precision_at(conf)`` gives the precision at each confidence; bins are those of its
    calibration (``conf_bin``), passed as ``precision_at.edges``."""
    n_det = np.asarray(n_detections, float)
    conf_max = np.asarray(conf_max, float)
    edges = precision_at.edges
    k = len(edges) - 1
    false_b = np.bincount(conf_bin(detection_conf, edges), 1.0 - precision_at(detection_conf), minlength=k)
    single = n_det <= 1
    cam_bin = conf_bin(conf_max, edges)
    singles_b = np.bincount(cam_bin[single], minlength=k).astype(float)
    q = np.ones(len(n_det))
    with np.errstate(divide="ignore", invalid="ignore"):
        q_b = np.where(singles_b > 0, np.clip(1.0 - false_b / singles_b, 0.0, 1.0), 1.0)
    q[single] = q_b[cam_bin[single]]
    excess = float(np.sum(np.maximum(false_b - singles_b, 0.0)))
    multi = ~single
    if excess > 0 and multi.any():
        share = 1.0 - precision_at(conf_max[multi])
        if share.sum() > 0:
            q[multi] = np.clip(1.0 - excess * share / share.sum(), 0.0, 1.0)
    return q


class _PrecisionAt:
    """precision_at(conf) of a ``RateCurves`` with its bin edges attached."""

    def __init__(self, curves: RateCurves):
        self.curves = curves
        self.edges = curves.conf_edges

    def __call__(self, conf: np.ndarray) -> np.ndarray:
        return self.curves.precision_at(conf)


@dataclass
class StripParts:
    """What the strip estimator needs per located camera inside the strip (``inside``: their
    indices among all located cameras) and the functions that redo the weights."""

    inside: np.ndarray
    pair_cam: np.ndarray  # (inside camera, area) pairs: overlapping areas share a camera
    pair_area: np.ndarray
    klass: np.ndarray  # class name per inside camera
    box_m: np.ndarray
    pairs: Any  # geo.counting.inclusion.ViewPairs
    n_detections: np.ndarray  # all located cameras
    conf_max: np.ndarray
    detection_conf: np.ndarray
    floor: float = MIN_INCLUSION

    def weights(self, curves: RateCurves) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(weight, q, pi floored, pi raw) of the inside cameras under ``curves``."""
        q_all = camera_reality(self.n_detections, self.conf_max, self.detection_conf, _PrecisionAt(curves))
        q = q_all[self.inside]
        pi, raw = self.pairs.inclusion(self.box_m, curves.recall_at, floor=self.floor)
        return q / pi, q, pi, raw


def reality_variance(parts: StripParts, q: np.ndarray, pi: np.ndarray, curves: RateCurves, n_areas: int, *,
                     fixed_totals: bool) -> np.ndarray:
    """Per-area variance of sum_j (R_j - q_j) / pi_j, R_j whether located camera j is real.

    Held-out calibration (a model card): the survey's detections are a new Bernoulli sample, so
    R_j ~ Bernoulli(q_j) independently: sum q (1 - q) / pi^2 (the bins' precision error is the
    separate precision term). ``fixed_totals`` (a review of this survey's own detections): how
    many of a confidence bin's single-detection cameras are real is what the review estimates
    (its error, with the finite-population correction, is the precision term), so only which of
    them are real is left: for S_b singles of which T_b are real, drawn as a random subset,
    Var(sum_j c_j R_j | T_b) = q_b (1 - q_b) S_b / (S_b - 1) sum_j (c_j - c_bar)^2 over all S_b
    (c_j = 1 / pi_j for the area's cameras inside the strip, 0 for the rest), i.e.
    q_b (1 - q_b) S_b / (S_b - 1) (sum_a w^2 - (sum_a w)^2 / S_b). Multi-detection cameras keep
    the Bernoulli term."""
    w = 1.0 / pi
    bern = q * (1 - q) * w ** 2

    def per_area(values: np.ndarray) -> np.ndarray:
        return np.bincount(parts.pair_area, values[parts.pair_cam], minlength=n_areas)

    if not fixed_totals:
        return per_area(bern)
    single = parts.n_detections[parts.inside] <= 1
    k = len(curves.precision)
    all_single = parts.n_detections <= 1
    s_b = np.bincount(conf_bin(parts.conf_max[all_single], curves.conf_edges), minlength=k).astype(float)
    cam_bin = conf_bin(parts.conf_max[parts.inside], curves.conf_edges)
    out = per_area(np.where(single, 0.0, bern))
    pair_single = single[parts.pair_cam]
    key = parts.pair_area[pair_single] * k + cam_bin[parts.pair_cam][pair_single]
    wp = w[parts.pair_cam][pair_single]
    sum_w = np.bincount(key, wp, minlength=n_areas * k).reshape(n_areas, k)
    sum_w2 = np.bincount(key, wp ** 2, minlength=n_areas * k).reshape(n_areas, k)
    q_b = np.zeros(k)
    q_b[cam_bin[single]] = q[single]
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(s_b > 1, q_b * (1 - q_b) * s_b / np.maximum(s_b - 1, 1), 0.0)
        within = np.maximum(sum_w2 - np.where(s_b > 0, sum_w ** 2 / s_b, 0.0), 0.0)
    return out + (within * factor).sum(axis=1)


def strip_variance(parts: StripParts, cal: Calibration, n_areas: int) -> dict[str, np.ndarray]:
    """Per-area point estimate and variance components (encounter, precision, recall), the
    estimate by class, and how many cameras the p* floor applied to.

    Encounter: the Horvitz-Thompson variance with known inclusion probabilities, estimated by
    sum over the located cameras of q (1 - pi) / pi^2 (Horvitz and Thompson 1952; Poisson sampling,
    independent inclusions, Sarndal, Swensson and Wretman 1992, sec. 3.5: E[sum over the sample of
    (1 - pi) / pi^2] = sum over the population of (1 - pi) / pi = Var(N_hat)), plus which located
    cameras are real (``reality_variance``). Precision:
    each bin's Beta posterior SD carried by the delta method, times the bin's finite-population
    correction when the bins are a review of this survey's own detections
    (``Calibration.precision_fpc``). Recall: the exact gradient of pi times each size bin's SD."""
    curves = cal.curves()
    w, q, pi, raw = parts.weights(curves)
    def per_area(values: np.ndarray) -> np.ndarray:
        return np.bincount(parts.pair_area, values[parts.pair_cam], minlength=n_areas)

    est = per_area(w)
    survey_n = np.bincount(conf_bin(parts.detection_conf, curves.conf_edges), minlength=len(curves.precision))
    fpc = cal.precision_fpc(survey_n)
    var_enc = per_area(q * (1 - pi) / pi ** 2) + reality_variance(parts, q, pi, curves, n_areas,
                                                               fixed_totals=cal.sampled_survey())
    out = {"est": est, "var_encounter": var_enc, "n_floored": per_area((raw < parts.floor).astype(float)),
           "n_located": per_area(np.ones(len(w))), "fpc": fpc}
    for name in CLASSES:
        out[f"est_{name}"] = per_area(np.where(parts.klass == name, w, 0.0))
    # precision: central differences of one posterior SD per confidence bin (only P(real) moves)
    a, b = cal.precision_beta()
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    rates = curves.precision
    var = np.zeros(n_areas)
    for j in range(len(rates)):
        hi_r, lo_r = min(rates[j] + sd[j], 1.0), max(rates[j] - sd[j], 1e-4)
        if hi_r <= lo_r:
            continue
        ests = []
        for value in (hi_r, lo_r):
            moved = rates.copy()
            moved[j] = value
            q_all = camera_reality(parts.n_detections, parts.conf_max, parts.detection_conf,
                                   _PrecisionAt(RateCurves(curves.conf_edges, moved, curves.size_edges, curves.recall)))
            ests.append(per_area(q_all[parts.inside] / pi))
        var += fpc[j] * ((ests[0] - ests[1]) / (hi_r - lo_r) * sd[j]) ** 2
    out["var_precision"] = var
    # recall: the exact gradient of pi (geo.counting.inclusion.inclusion_gradient) times each bin's SD
    a, b = cal.recall_beta()
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    grad = inclusion_gradient(parts.pairs, parts.box_m, curves.size_edges, curves.recall)
    free = raw >= parts.floor if parts.pairs.n_nodes == 1 else np.ones(len(raw), bool)  # else in grad
    dw = np.where(free[:, None], -q[:, None] / pi[:, None] ** 2 * grad, 0.0)
    out["var_recall"] = sum((per_area(dw[:, j]) * sd[j]) ** 2 for j in range(len(sd)))
    return out


def strip_interval(parts: dict[str, np.ndarray], cal: Calibration, *, level: float = 0.95
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lo, hi, cv, df) per area: log-normal interval of the three variance components with
    Satterthwaite df (encounter: located cameras - 1; precision: checked detections - bins;
    recall: checked cameras - bins)."""
    est = parts["est"]
    comps = np.stack([parts["var_encounter"], parts["var_precision"], parts["var_recall"]], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cvs = np.where(est[:, None] > 0, np.sqrt(comps) / est[:, None], 0.0)
    dfs = np.stack([np.maximum(parts["n_located"] - 1, 1),
                    np.full(len(est), max(cal.prec_n.sum() - np.count_nonzero(cal.prec_n), 1)),
                    np.full(len(est), max(cal.rec_n.sum() - np.count_nonzero(cal.rec_n), 1))], axis=-1)
    df = satterthwaite_df(cvs, dfs)
    cv = np.sqrt(np.sum(cvs ** 2, axis=-1))
    lo, hi = lognormal_interval(est, cv, df, level=level)
    return lo, hi, cv, df


# --- per-area table -------------------------------------------------------------------------

def density_from_tables(
    areas: gpd.GeoDataFrame,
    *,
    cameras: gpd.GeoDataFrame,
    detections: pd.DataFrame,
    images: pd.DataFrame,
    points: pd.DataFrame,
    streets: gpd.GeoDataFrame,
    calibration: Calibration | dict | None = None,
    precision: float | None = None,
    recall: float | None = None,
    strip: float = DEFAULT_STRIP_M,
    buildings: gpd.GeoDataFrame | None = None,
    metres_per_point: float = 20.0,
    n_shifts: int = DEFAULT_SHIFTS,
    random_sides: bool = False,
    metres_per_image: float | None = None,
    truth: gpd.GeoDataFrame | None = None,
    osm: gpd.GeoDataFrame | None = None,
    population: np.ndarray | None = None,
    level: float = 0.95,
    surveyed: gpd.GeoDataFrame | None = None,
    parts_out: dict | None = None,
) -> gpd.GeoDataFrame:
    """Density per area (EPSG:4326 GeoDataFrame with ``AREA_COLUMNS``).

    ``areas``: area_id, name, polygons (any CRS). ``cameras``: from ``geo.counting.locate`` (lon, lat,
    n_detections, conf_max, class_name). ``detections``: image_id, conf (those the cameras come
    from). ``images``: image_id, point_id, status, lon, lat, heading, fov, width, height.
    ``points``: point_id, street_id, lon, lat. ``streets``: projected (metres), street_id.
    ``calibration``: the shared calibration dict or a ``Calibration`` (default: from scalar
    ``precision``/``recall`` with ``NOMINAL_N``, or 1.0). ``strip``: half-width (m) of the strip
    around the surveyed streets that is estimated. ``buildings``: footprints (any CRS) that block
    sight lines. ``metres_per_point``: road length one sampled point stands for (the spacing);
    ``n_shifts``: positions over one spacing that a camera's inclusion is averaged over (1: the
    survey's own viewpoints only). ``random_sides``: the design took one side per point at random
    (the inclusion probability averages over that choice). ``metres_per_image``: roadside one image sees, for estimator
    (a). ``population``: people per area (same order as ``areas``) or None. ``surveyed``: the
    surveyed street pieces (default ``geo.counting.inclusion.surveyed_streets``). ``parts_out``: filled
    with the whole computation's parts (for the report and tests).
    """
    cal = _calibration(calibration, precision, recall)
    curves = cal.curves()
    crs = streets.crs
    areas_m = areas.to_crs(crs).reset_index(drop=True)
    n_areas = len(areas_m)
    geoms = areas_m.geometry.to_numpy()
    tree = shapely.STRtree(geoms)

    # road length per (area, street) and the surveyed length: each point with ok images stands
    # for metres_per_point (its share of views)
    si, ai = _pairs(tree, streets.geometry.to_numpy(), "intersects")
    piece_len = shapely.length(shapely.intersection(streets.geometry.to_numpy()[si], geoms[ai]))
    units = pd.DataFrame({"area": ai, "street_id": streets["street_id"].to_numpy()[si], "road_m": piece_len})
    units = units.groupby(["area", "street_id"], as_index=False)["road_m"].sum()
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
    pi_, pa = _point_pairs(tree, shapely.points(pxy))
    cover = pd.DataFrame({"area": pa, "street_id": pts["street_id"].to_numpy()[pi_],
                          "cover_m": pts["cover"].to_numpy()[pi_] * metres_per_point})
    cover = cover.groupby(["area", "street_id"], as_index=False)["cover_m"].sum()
    units = units.merge(cover, on=["area", "street_id"], how="outer").fillna(0.0)
    units["surveyed_m"] = np.minimum(units["cover_m"], np.where(units["road_m"] > 0, units["road_m"], units["cover_m"]))
    units["area"] = units["area"].astype(np.int64)

    # images and detections per area, through their points (detections below the calibration's
    # threshold are not used)
    point_area = pd.DataFrame({"point_id": pts["point_id"].to_numpy()[pi_], "area": pa})
    ok_imgs = imgs[imgs["ok"]] if len(imgs) else imgs
    img_area = ok_imgs[["image_id", "point_id"]].merge(point_area, on="point_id") if "point_id" in ok_imgs else \
        pd.DataFrame({"image_id": [], "area": []})
    n_images = np.bincount(img_area["area"].to_numpy(np.int64), minlength=n_areas)
    used = _used_detections(detections, cal)
    used = used[used["image_id"].isin(ok_imgs["image_id"])] if len(ok_imgs) else used.iloc[:0]
    det_area = used[["image_id"]].merge(img_area[["image_id", "area"]], on="image_id")
    n_det = np.bincount(det_area["area"].to_numpy(np.int64), minlength=n_areas)
    hit_area = det_area.drop_duplicates(["image_id", "area"])
    n_hit = np.bincount(hit_area["area"].to_numpy(np.int64), minlength=n_areas)

    # the strip and the located cameras inside it
    if surveyed is None:
        surveyed = surveyed_streets(streets, points, images, metres_per_point=metres_per_point)
    cxy = _xy(cameras["lon"], cameras["lat"], crs)
    dist, _, tangent = street_distance(cxy, surveyed)
    inside = np.flatnonzero((dist <= strip) & in_strip(cxy, surveyed, strip=strip))
    ci, ca = _point_pairs(tree, shapely.points(cxy[inside])) if len(inside) else (np.zeros(0, np.int64),) * 2
    views = views_for_inclusion(images, crs, random_sides=random_sides)
    build_m = buildings.to_crs(crs) if buildings is not None and len(buildings) else None
    pairs = view_pairs(cxy[inside], tangent[inside], views, spacing_m=metres_per_point, buildings=build_m,
                       n_shifts=n_shifts, location_sd_m=location_sd_m(cameras)[inside])
    klass = cameras["class_name"].astype(str).to_numpy()
    parts = StripParts(inside=inside, pair_cam=ci, pair_area=ca, klass=klass[inside], box_m=box_size_m(klass[inside]),
                       pairs=pairs, n_detections=cameras["n_detections"].to_numpy(float),
                       conf_max=cameras["conf_max"].fillna(1.0).to_numpy(float) if "conf_max" in cameras
                       else np.ones(len(cameras)),
                       detection_conf=used["conf"].fillna(1.0).to_numpy(float) if "conf" in used
                       else np.ones(len(used)))
    comp = strip_variance(parts, cal, n_areas)
    est = comp["est"]
    lo, hi, cv, df = strip_interval(comp, cal, level=level)
    # an area where no camera was located: zero, with the Poisson (Garwood) upper bound of a zero
    # count carried by the weight of a camera seen once at the best recall
    n_cam = comp["n_located"].round().astype(np.int64)
    _, g_hi = garwood_interval(n_cam, level)
    empty_weight = 1.0 / max(float(curves.recall.max()), 1e-3)
    est_lo = np.where(est > 0, lo, 0.0)
    est_hi = np.where(est > 0, hi, 0.0)
    est_hi = np.where(n_cam == 0, np.maximum(est_hi, g_hi * empty_weight), est_hi)

    # estimator (a), with the calibration's overall precision and recall
    summary = calibration_summary(cal, conf=parts.detection_conf)
    p_all, r_all = summary["precision"], summary["recall"]
    if metres_per_image is None:
        metres_per_image = seen_metres_per_image(cameras, streets, images, metres_per_point=metres_per_point,
                                                 recall=r_all)
    road_m = np.bincount(units["area"], units["road_m"], n_areas)
    surveyed_m = np.bincount(units["area"], units["surveyed_m"], n_areas)
    road_km = road_m / 1000.0
    surveyed_km = np.minimum(surveyed_m, np.where(road_m > 0, road_m, surveyed_m)) / 1000.0
    rate_est, rate_lo, rate_hi = rate_estimate(n_images, n_hit, road_km, precision=p_all, recall=r_all,
                                               metres_per_image=metres_per_image, level=level)
    truth_strip = truth_all = np.full(n_areas, np.nan)
    truth_seen = np.full(n_areas, np.nan)
    if truth is not None:
        truth_in = truth_in_strip(truth, surveyed, strip=strip)
        truth_strip = _count_in(truth[truth_in], tree, crs, n_areas)
        truth_all = _count_in(truth, tree, crs, n_areas)
        truth_seen = _count_in(_seen(truth), tree, crs, n_areas)
    area_km2 = shapely.area(geoms) / 1e6
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pd.DataFrame({
            "area_id": areas_m["area_id"].astype(str).to_numpy(),
            "name": areas_m["name"].astype(str).to_numpy() if "name" in areas_m else areas_m["area_id"].astype(str),
            "strip_m": float(strip),
            "road_km": road_km,
            "surveyed_km": surveyed_km,
            "area_km2": area_km2,
            "n_images": n_images,
            "n_detections": n_det,
            "n_cameras": n_cam,
            "est_cameras": est,
            "est_lo": est_lo,
            "est_hi": est_hi,
            "est_cv": np.where(est > 0, cv, np.nan),
            "est_directed": comp["est_directed"],
            "est_dome": comp["est_dome"],
            "var_share_encounter": _share(comp, "var_encounter"),
            "var_share_precision": _share(comp, "var_precision"),
            "var_share_recall": _share(comp, "var_recall"),
            "per_road_km": np.where(surveyed_km > 0, est / surveyed_km, np.nan),
            "per_road_km_lo": np.where(surveyed_km > 0, est_lo / surveyed_km, np.nan),
            "per_road_km_hi": np.where(surveyed_km > 0, est_hi / surveyed_km, np.nan),
            "per_km2": np.where(area_km2 > 0, est / area_km2, np.nan),
            "population": population if population is not None else np.nan,
            "per_1000_people": (np.where(population > 0, est / population * 1000.0, np.nan)
                                if population is not None else np.nan),
            "rate_est_cameras": rate_est,
            "rate_est_lo": rate_lo,
            "rate_est_hi": rate_hi,
            "rate_per_road_km": np.where(road_km > 0, rate_est / road_km, np.nan),
            "truth_cameras": truth_strip,
            "truth_all_cameras": truth_all,
            "truth_seen_cameras": truth_seen,
            "osm_cameras": _count_in(osm, tree, crs, n_areas),
        })
    out = gpd.GeoDataFrame(table[AREA_COLUMNS], geometry=areas.reset_index(drop=True).geometry.to_numpy(),
                           crs=areas.crs).to_crs(4326)
    check_frame(out, DENSITY, what="density table")
    out.attrs["metres_per_image"] = float(metres_per_image)
    if parts_out is not None:
        # encounter-rate variance between streets (Fewster R2) of the density per surveyed km
        cam_street = np.full(len(inside), -1, dtype=np.int64)
        if len(surveyed) and len(inside):
            _, near, _ = street_distance(cxy[inside], surveyed)
            cam_street = surveyed["street_id"].to_numpy()[near]
        w = parts.weights(curves)[0]
        per_street = pd.Series(w).groupby(cam_street).sum() if len(w) else pd.Series(dtype=float)
        lengths = units.groupby("street_id")["surveyed_m"].sum()
        lengths = lengths[lengths > 0]
        n_k = per_street.reindex(lengths.index).fillna(0.0).to_numpy()
        var_r2 = encounter_rate_variance(n_k, lengths.to_numpy() / 1000.0, method="R2")
        parts_out.update(parts=parts, components=comp, calibration=cal, summary=summary, df=df, cv=cv,
                         per_road_km_se_r2=float(np.sqrt(var_r2)) if np.isfinite(var_r2) else None,
                         n_floored=int(comp["n_floored"].sum()), n_inside=int(len(inside)),
                         n_outside=int(len(cameras) - len(inside)))
    return out


def location_sd_m(cameras: pd.DataFrame) -> np.ndarray:
    """SD (m) of each located camera's position across the street, for the measurement-error
    correction of its weight (``geo.counting.inclusion.corrected_weight``): for cameras placed by box
    size (``method`` "size", range error along the ray) their ``uncertainty_m`` / sqrt(2), the
    per-axis SD of a 2-D error of that RMS; 0 for cameras placed on a facade (their error runs
    along the wall, which the grid shifts average over) or by triangulation (sub-metre)."""
    if "uncertainty_m" not in cameras.columns or "method" not in cameras.columns or len(cameras) == 0:
        return np.zeros(len(cameras))
    unc = cameras["uncertainty_m"].fillna(0.0).to_numpy(float)
    return np.where(cameras["method"].astype(str).to_numpy() == "size", unc / np.sqrt(2.0), 0.0)


def truth_in_strip(truth: gpd.GeoDataFrame, surveyed: gpd.GeoDataFrame, *, strip: float) -> np.ndarray:
    """Which true cameras lie within ``strip`` metres of the surveyed street pieces."""
    if len(truth) == 0:
        return np.zeros(0, dtype=bool)
    pts = truth.to_crs(surveyed.crs).geometry.centroid
    dist, _, _ = street_distance(shapely.get_coordinates(pts.to_numpy()), surveyed)
    return (dist <= strip) & in_strip(shapely.get_coordinates(pts.to_numpy()), surveyed, strip=strip)


def _share(comp: dict, key: str) -> np.ndarray:
    total = comp["var_encounter"] + comp["var_precision"] + comp["var_recall"]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, comp[key] / total, np.nan)


def _calibration(calibration: Calibration | dict | None, precision: float | None, recall: float | None
                 ) -> Calibration:
    if isinstance(calibration, Calibration):
        return calibration
    if calibration is not None:
        return calibration_from_dict(calibration)
    _check_rates(1.0 if precision is None else precision, 1.0 if recall is None else recall)
    return calibration_from_dict(calibration_from_rates(1.0 if precision is None else precision,
                                                        1.0 if recall is None else recall,
                                                        n=NOMINAL_N, source="scalar"))


def _used_detections(detections: pd.DataFrame, cal: Calibration) -> pd.DataFrame:
    if "conf" not in detections.columns or len(detections) == 0:
        return detections
    return detections[detections["conf"].fillna(1.0).to_numpy(float) >= cal.conf_threshold - 1e-9]


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
    total = {k: _plain(get(k)) for k in ("strip_m", "road_km", "surveyed_km", "area_km2", "n_images",
                                          "n_detections", "n_cameras", "est_cameras", "est_lo", "est_hi",
                                          "est_cv", "per_road_km", "per_road_km_lo", "per_road_km_hi",
                                          "per_km2", "population", "per_1000_people")}
    total["by_class"] = {c: _plain(get(f"est_{c}")) for c in CLASSES}
    total["variance_share"] = {s: _plain(get(f"var_share_{s}")) for s in ("encounter", "precision", "recall")}
    total["rate_estimator"] = {"est_cameras": _plain(get("rate_est_cameras")), "est_lo": _plain(get("rate_est_lo")),
                               "est_hi": _plain(get("rate_est_hi")), "per_road_km": _plain(get("rate_per_road_km"))}
    for key in ("truth_cameras", "truth_all_cameras", "truth_seen_cameras", "osm_cameras"):
        value = _plain(get(key))
        if value is not None:
            total[key] = value
    return total


# --- the stage ------------------------------------------------------------------------------

def estimate_survey(
    survey_dir: str | Path,
    *,
    by: str = "area",
    calibration: dict | None = None,
    precision: float | None = None,
    recall: float | None = None,
    strip: float = DEFAULT_STRIP_M,
    model: dict | None = None,
    population: str | Path | None = None,
    population_field: str | None = None,
    metres_per_image: float | None = None,
    n_shifts: int = DEFAULT_SHIFTS,
    n_boot: int = 1000,
    seed: int = 0,
    osm: bool = True,
    buildings: Any = "auto",
    exports: bool = True,
    basemap: str | None = None,
) -> EstimateResult:
    """Estimate the cameras within ``strip`` metres of the surveyed streets, per area, and write
    the exports.

    ``calibration``: the shared calibration dict (the review's, else the model card's); without
    one, scalar ``precision``/``recall`` stand for a calibration measured on ``NOMINAL_N`` (200)
    detections and cameras; without those, 1.0 and a warning in report.json. ``model``: what the
    caller knows of the model (id, card), recorded in report.json. ``buildings``: footprints that
    block sight lines, None, or "auto" (the area's OSM buildings when the area is a local file).
    ``basemap``: an online tile layer under map.html (a {z}/{x}/{y} URL or a name such as osm;
    checked by ``geo.outputs.mapview.basemap_from_spec``; None: the page requests nothing).
    ``n_boot``: Monte Carlo draws of the calibration summary's intervals (the estimate's interval
    is analytic). Locates cameras first when ``cameras.parquet`` is missing or older than the
    detections (from the detections at or above the calibration's threshold). Writes
    density.geojson, density.parquet, map.html, density.png, report.json.
    """
    from geo.counting.areas import areas_from_spec, population_for_areas, population_from_file, whole_area
    from geo.counting.locate import (buildings_for_survey, cameras_from_detections, locate_survey, read_detections,
                            read_images, read_sample_info, write_cameras)
    from geo.streets.network import load_network, streets_from_graph

    timings: dict[str, float] = {}
    notes: list[str] = []
    survey_dir = Path(survey_dir)
    clock = time.perf_counter()
    info = read_sample_info(survey_dir)
    if calibration is None and (precision is None or recall is None):
        missing = " and ".join(n for n, v in (("precision", precision), ("recall", recall)) if v is None)
        notes.append(f"no model {missing} known (no calibration, no model card, no --precision/--recall): "
                     "using 1.0, so the estimate is not corrected for false or missed detections")
    if calibration is None:
        precision = 1.0 if precision is None else float(precision)
        recall = 1.0 if recall is None else float(recall)
        _check_rates(precision, recall)
        cal = calibration_from_dict(calibration_from_rates(precision, recall, n=NOMINAL_N, source="scalar"))
    else:
        cal = calibration_from_dict(calibration)
    if not strip > 0:
        raise GeoInputError(f"--strip must be a positive number of metres, got {strip}")
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
    detections = read_detections(survey_dir)
    if isinstance(buildings, str) and buildings == "auto":
        buildings = buildings_for_survey(info)
    below = (detections["conf"].fillna(1.0).to_numpy(float) < cal.conf_threshold - 1e-9
             if "conf" in detections and len(detections) else np.zeros(len(detections), bool))
    images = read_images(survey_dir)
    if below.any():
        detections = detections[~below].reset_index(drop=True)
        notes.append(f"{int(below.sum()):,} detections below the calibration's threshold "
                     f"{cal.conf_threshold:g} are not used")
        cameras = cameras_from_detections(detections, images, buildings=buildings, crs=info.get("crs") or None)
        cameras.attrs["buildings"] = len(buildings) if buildings is not None else 0
        write_cameras(cameras, survey_dir / "cameras.parquet")
    else:
        cameras = locate_survey(survey_dir, buildings=buildings)
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
    shifts = n_shifts
    if info.get("method") == "random":
        fov = float(info.get("fov") or 90.0)
        spacing = 2.0 * 10.0 * float(np.tan(np.radians(fov) / 2.0))
        shifts = 1  # no grid to shift: inclusion from the survey's own viewpoints
    surveyed = surveyed_streets(streets, points, images, metres_per_point=spacing)
    if metres_per_image is None:
        metres_per_image = seen_metres_per_image(cameras, streets, images, metres_per_point=spacing,
                                                 recall=float(cal.recall_bins() @ (cal.rec_n / max(cal.rec_n.sum(), 1)))
                                                 if cal.rec_n.sum() > 0 else 1.0)
    common = dict(cameras=cameras, detections=detections, images=images, points=points, streets=streets,
                  calibration=cal, strip=strip, buildings=buildings, metres_per_point=spacing, n_shifts=shifts,
                  random_sides=info.get("sides") == "random",
                  metres_per_image=metres_per_image, truth=truth, osm=osm_frame, surveyed=surveyed)
    whole = whole_area(streets)
    pop_areas = pop_whole = None
    if pop_layer is not None:
        pop_areas = population_for_areas(areas, pop_layer, field=population_field, crs=streets.crs)
        if not pop_areas.any():
            notes.append(f"the population layer {Path(population).name} does not overlap the areas")
        pop_whole = population_for_areas(whole, pop_layer, field=population_field, crs=streets.crs)
    same = len(areas) == 1 and areas["area_id"].iloc[0] == "area"
    parts: dict = {}
    table = density_from_tables(areas, population=pop_areas, parts_out=parts if same else None, **common)
    total_table = table if same else density_from_tables(whole, population=pop_whole, parts_out=parts, **common)
    timings["estimate_s"] = time.perf_counter() - clock
    total = total_from_row(total_table.iloc[0])
    total["encounter_rate_r2"] = {"per_road_km_se": parts.get("per_road_km_se_r2"),
                                  "note": "between-streets (Fewster R2) SE of the density per surveyed km, "
                                          "for carrying the rate to other streets of the same kind"}
    if len(table) and (table["road_km"] <= 0).all():
        raise GeoInputError(f"the areas of --by {by} contain none of the survey's streets")
    summary = calibration_summary(cal, conf=parts["parts"].detection_conf if "parts" in parts else None,
                                  seed=seed)
    if cal.source == "scalar":
        summary["note"] = (f"scalar precision / recall taken as measured on {NOMINAL_N} detections and "
                           f"{NOMINAL_N} cameras (no calibration counts: flat curves)")
    if parts.get("n_floored"):
        notes.append(f"{parts['n_floored']} located camera(s) had an inclusion probability below "
                     f"{MIN_INCLUSION:g}: counted with {MIN_INCLUSION:g} (weight at most {1 / MIN_INCLUSION:g})")

    from geo.counting.inclusion import VISIBILITY, VISIBILITY_RANGE_M
    from geo.counting.locate import CAMERA_SIZE_M

    report = {
        "survey": survey_dir.name,
        "parameters": {"by": by, "strip_m": float(strip), "precision": summary["precision"],
                       "recall": summary["recall"], "n_boot": n_boot, "seed": seed,
                       "level": 0.95, "metres_per_point": spacing, "metres_per_image": float(metres_per_image),
                       "n_shifts": shifts, "min_inclusion": MIN_INCLUSION, "box_size_m": CAMERA_SIZE_M,
                       "visibility_by_range": dict(zip(VISIBILITY_RANGE_M, VISIBILITY)),
                       "visible_range_m": _attr(cameras, "visible_range_m"),
                       "n_buildings": len(buildings) if buildings is not None else 0,
                       "population": str(population) if population is not None else None,
                       "population_field": population_field, "area": info.get("area"),
                       "sampling": {k: info.get(k) for k in ("method", "spacing_m", "sides", "fov", "pitch", "seed")}},
        "estimand": f"cameras within {float(strip):g} m of the surveyed streets (street pieces whose views have "
                    "imagery); nothing outside this strip is estimated",
        "model": model or {"model_id": _model_ids(detections)},
        "calibration": summary,
        "inclusion": {"n_located": int(len(cameras)), "n_in_strip": parts.get("n_inside"),
                      "n_outside_strip": parts.get("n_outside"), "n_floored": parts.get("n_floored")},
        "estimators": {"strip": "Horvitz-Thompson over the located cameras within the strip: P(real | confidence) / "
                                "inclusion probability from the views' geometry (field of view, range, building "
                                "occlusion, wall facing, visibility by range, recall at the expected box size, "
                                "averaged over the grid's start and random sides; weights of cameras placed by "
                                "box size corrected for their location error); "
                                "variance: Horvitz-Thompson encounter (known pi) + which cameras are real + "
                                "precision (finite-population corrected for a review) + recall (delta method, "
                                "Beta per bin); "
                                "log-normal 95% interval (dht2) with Satterthwaite df; Garwood upper bound "
                                "where none was located",
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
        from geo.outputs.export import write_exports, write_json

        clock = time.perf_counter()
        paths = write_exports(survey_dir, table, cameras=cameras, report=report, streets=streets,
                              surveyed=surveyed, points=points, images=images, detections=detections,
                              truth=truth, metres_per_point=spacing, basemap=basemap)
        timings["export_s"] = time.perf_counter() - clock
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
