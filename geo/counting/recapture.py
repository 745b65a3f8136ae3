"""Recall from the survey itself: spatial capture-recapture with views as detectors at known poses.

Every located camera carries a capture history: the views that could show it (its candidate views,
from the survey's own poses and the camera's located position: ``geo.counting.inclusion.view_pairs``
with one shift, the realized viewpoints) and which of them detected it (``cameras.parquet``'s
``image_ids``). Each candidate view has the box size the camera would have there (pixels) and what
else multiplies the detector's recall (``visibility_by_range`` x the share of mount heights in the
vertical field of view), exactly as the estimator's inclusion model has them.

The model (cf. R ``secr``, Efford; ``mrds``'s conditional detection functions):

- the card's recall by box size r(s) gives the shape; its level is fitted: the survey's recall is
  r_delta(s) = E_u[expit(c(r(s)) + delta + u)] (``shifted_rates``), ``c`` the logit that keeps a
  marginal r under the per-camera effect u ~ N(0, CAMERA_LOGIT_SD^2)
  (``geo.counting.heterogeneity.logit_shift``), so delta = 0 is the card;
- view j of camera i detects it with p_ij(u) = expit(c(r_delta(s_ij) x other_ij) + u), one u per
  camera (``secr``'s finite mixtures play this part there; here Gauss-Hermite over a normal);
- the conditional (Huggins 1989) likelihood of each located camera's history given that some view
  found it, prod_j p^y (1 - p)^(1 - y) / (1 - prod_j (1 - p)), each averaged over u; cameras
  enter weighted by P(real) (``camera_reality``: false detections spent on the single-view cameras
  of their confidence bin, as the estimator does), so a false box does not pass for a camera that
  only one view saw.

The level's posterior is computed on a grid (``LEVEL_GRID``) with the card as its prior,
delta ~ N(0, ``PRIOR_SD``^2): the card is the prior, never a silent default. Where no camera was
seen in two views the likelihood only bounds delta from above and the interval is as wide as the
prior makes it; ``RecallFit.informative`` says whether the data narrowed it (posterior SD at most
``INFORMATIVE_SHARE`` of the prior's). ``prior_only`` sets the data aside: recall uniform in logit
from ``UNKNOWN_FLOOR`` to the card's level, what the estimate uses when the card does not fit and
the survey's repeat views cannot tell its recall.

``calibration_from_fit`` turns the fit into a ``geo.counting.calibration.Calibration`` (source
"survey") whose recall bins carry the posterior's centre (by default the harmonic mean: a count
goes as 1 / recall) and spread (Betas from ``beta_counts``, widened because one level moves every
bin together), which the estimator consumes like a card's.

``self_calibration_for_plan`` predicts, for ``camcensus plan``, how well each spacing measures the
level when the card's recall does not carry (fits to capture histories simulated on the plan's
assumed cameras and views).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo.counting.calibration import Calibration, conf_bin, recall_at, size_bin_weights
from geo.counting.evengrid import interp_even
from geo.counting.heterogeneity import CAMERA_LOGIT_SD, effect_nodes, expit, logit_shift
from geo.counting.inclusion import box_size_m, view_pairs, views_for_inclusion, visibility_by_range

LEVEL_GRID = np.round(np.arange(-8.0, 4.0 + 1e-9, 0.05), 4)  # logit shifts of the card's recall tried
UNKNOWN_FLOOR = -6.0  # lowest level (logit) a flagged survey whose repeat views cannot tell is taken to allow
PRIOR_SD = 2.0  # logit SD of the prior on the level around the card's (delta = 0)
INFORMATIVE_SHARE = 0.5  # a fit is informative when the level's posterior SD is at most this share of the prior's
INFORMATIVE_WIDTH = 4.0  # a design self-calibrates (plan) when its 95% recall-ratio interval spans at most this factor
LEVEL = 0.95
_P_GRID = np.linspace(-14.0, 14.0, 1401)  # logit grid on which c(r) is tabulated


@dataclass(frozen=True)
class CaptureHistories:
    """The located cameras' candidate (camera, view) pairs: ``cam`` (camera row), ``size_px``
    (expected sqrt box area in that view), ``other`` (what multiplies recall: visibility by range x
    vertical field-of-view share), ``detected`` (did that view find the camera); per camera
    ``weight`` (P(real)). ``n_unmatched``: detecting views the geometry did not give the camera
    (added as candidates at their horizontal range)."""

    cam: np.ndarray
    size_px: np.ndarray
    other: np.ndarray
    detected: np.ndarray
    weight: np.ndarray
    n_cameras: int
    n_unmatched: int = 0

    def n_found(self) -> np.ndarray:
        """Views that detected each camera."""
        return np.bincount(self.cam, self.detected.astype(float), minlength=self.n_cameras)

    def n_candidates(self) -> np.ndarray:
        return np.bincount(self.cam, minlength=self.n_cameras)


@dataclass(frozen=True)
class RecallFit:
    """The survey's own recall level (see the module docstring). ``level``: posterior mean of
    delta (logit shift of the card's recall); ``recall_ratio``: the survey's recall over the
    card's, averaged over the located cameras' candidate views, with its ``LEVEL`` interval."""

    level: float
    level_lo: float
    level_hi: float
    recall_ratio: float
    recall_ratio_lo: float
    recall_ratio_hi: float
    n_cameras: float  # P(real)-weighted cameras in the fit
    n_repeat: float  # of them seen in two or more views
    n_pairs: int
    lr_p: float  # likelihood-ratio test of delta = 0 (the card's level), chi-square 1 df
    informative: bool
    grid: np.ndarray = field(repr=False)
    posterior: np.ndarray = field(repr=False)
    loglik: np.ndarray = field(repr=False)
    ratio_curve: np.ndarray = field(repr=False)
    prior_sd: float = PRIOR_SD
    camera_sd: float = CAMERA_LOGIT_SD  # the per-camera logit SD the fit assumed

    def to_dict(self) -> dict:
        """report.json's ``self_calibration`` figures."""
        return {"level_logit": round(self.level, 4), "level_lo": round(self.level_lo, 4),
                "level_hi": round(self.level_hi, 4), "recall_ratio": round(self.recall_ratio, 4),
                "recall_ratio_lo": round(self.recall_ratio_lo, 4), "recall_ratio_hi": round(self.recall_ratio_hi, 4),
                "n_cameras": round(self.n_cameras, 2), "n_repeat": round(self.n_repeat, 2),
                "n_pairs": int(self.n_pairs), "lr_p": float(self.lr_p), "informative": bool(self.informative),
                "prior": f"logit shift ~ N(0, {self.prior_sd:g}^2) around the card's recall",
                "camera_logit_sd": self.camera_sd}


# --- capture histories ------------------------------------------------------------------------

def histories_from_tables(cameras: pd.DataFrame, images: pd.DataFrame, *, crs, detections: pd.DataFrame | None = None,
                          calibration: Calibration | None = None, buildings=None, rows: np.ndarray | None = None,
                          reality: np.ndarray | None = None) -> CaptureHistories:
    """The capture histories of the located ``cameras`` (lon, lat, class_name, image_ids,
    n_detections, conf_max) from the survey's ``images`` (poses) in the metric ``crs``;
    ``buildings`` (footprints in ``crs``) block sight lines. P(real) from ``calibration`` and the
    ``detections`` (conf) when both are given, else 1. ``rows``: the histories of these camera
    rows only (their P(real) still from all cameras; ``sampled_histories``); ``reality``: the
    P(real) of every camera when already known (``camera_reality``)."""
    from pyproj import Transformer

    n = len(cameras)
    ok = images
    if "status" in ok.columns:
        ok = ok[ok["status"].fillna("ok").eq("ok")]
    ok = ok.drop_duplicates("image_id")
    if rows is not None:  # speed (issue 27 part 6): P(real) spends false detections over all cameras
        weight_all = reality if reality is not None else (
            camera_reality(cameras, detections, calibration, n_images=len(ok))
            if calibration is not None and detections is not None else np.ones(n))
        cameras, n = cameras.iloc[np.asarray(rows, np.int64)], len(rows)
    views = views_for_inclusion(images, crs)
    if n == 0 or len(views) == 0:
        z = np.zeros(0)
        return CaptureHistories(z.astype(np.int64), z, z, z.astype(bool), np.ones(n), n)
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(cameras["lon"].to_numpy(float),
                                                                     cameras["lat"].to_numpy(float))
    cxy = np.column_stack([np.asarray(x), np.asarray(y)])
    view_ids = ok["image_id"].to_numpy()
    seen = [set(ids) if ids is not None else set() for ids in cameras.get("image_ids", pd.Series([None] * n))]
    seen_cam, seen_row = _seen_rows(seen, view_ids)
    eyes = _detecting_eyes((seen_cam, seen_row), views, cxy)
    if buildings is not None and len(buildings):
        cxy = off_wall(cxy, eyes, buildings)
    if rows is not None:
        weight = weight_all[np.asarray(rows, np.int64)]
    else:
        weight = (camera_reality(cameras, detections, calibration, n_images=len(ok))
                  if calibration is not None and detections is not None else np.ones(n))
    pairs = view_pairs(cxy, np.tile([1.0, 0.0], (n, 1)), views, spacing_m=1.0, buildings=buildings, n_shifts=1)
    box = box_size_m(cameras["class_name"].astype(str).to_numpy())
    cam, vj = pairs.cam, pairs.view
    detected = _member(cam.astype(np.int64) * len(view_ids) + vj, seen_cam * len(view_ids) + seen_row)
    size = box[cam] * pairs.scale
    other = visibility_by_range(pairs.range_m) * (pairs.factor if pairs.factor is not None else 1.0)
    extra = _unmatched_pairs(cxy, box, (seen_cam, seen_row), cam, vj, views)
    return CaptureHistories(np.concatenate([cam, extra[0]]), np.concatenate([size, extra[1]]),
                            np.concatenate([other, extra[2]]), np.concatenate([detected, np.ones(len(extra[0]), bool)]),
                            weight, n, n_unmatched=len(extra[0]))


ON_WALL_M = 0.05  # a located camera this close to a building outline (or inside one) was placed on the facade
WALL_OFFSET_M = 0.3  # ... and is moved this far off it, towards a view that saw it


def off_wall(xy: np.ndarray, eye: np.ndarray, buildings, *, on_wall_m: float = ON_WALL_M,
             offset_m: float = WALL_OFFSET_M) -> np.ndarray:
    """Camera positions ``xy`` (m) with those placed on a building outline (within ``on_wall_m``,
    or inside a footprint: the locator's facade placement) moved ``offset_m`` towards ``eye``, the
    position of a view that detected each (NaN: left as is). On the outline itself the wall's
    normal is undefined, so the inclusion geometry (``geo.counting.inclusion.wall_normals``) did
    not know which side of the wall the camera hangs on and counted views from behind the wall and
    around the corner as candidates: on the demo survey (81 of 106 located cameras on a facade)
    that predicted about twice the repeat sightings seen."""
    import shapely

    xy = np.asarray(xy, float).copy()
    polys = buildings.geometry.to_numpy()
    polys = polys[np.isin(shapely.get_type_id(polys), [3, 6])]
    have = np.isfinite(eye).all(axis=1)
    if len(polys) == 0 or not have.any():
        return xy
    outlines = shapely.boundary(polys)
    pts = shapely.points(xy[have])
    (pi, bi), _ = shapely.STRtree(outlines).query_nearest(pts, max_distance=on_wall_m, return_distance=True,
                                                          all_matches=False)
    near = np.zeros(int(have.sum()), bool)
    near[pi] = True
    inside = np.zeros(int(have.sum()), bool)
    (ci, _cb) = shapely.STRtree(polys).query(pts, predicate="within")
    inside[ci] = True
    rows = np.flatnonzero(have)[near | inside]
    d = eye[rows] - xy[rows]
    norm = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)
    xy[rows] += offset_m * d / norm[:, None]
    return xy


def _detecting_eyes(seen_rows: tuple[np.ndarray, np.ndarray], views: pd.DataFrame, cxy: np.ndarray) -> np.ndarray:
    """Per camera, the position (m) of the nearest view that detected it (NaN when none);
    ``seen_rows``: (camera, view row) of the detections (``_seen_rows``)."""
    s_cam, s_row = seen_rows
    out = np.full((len(cxy), 2), np.nan)
    if len(s_cam) == 0:
        return out
    ex, ey = views["x"].to_numpy(float)[s_row], views["y"].to_numpy(float)[s_row]
    d = np.hypot(ex - cxy[s_cam, 0], ey - cxy[s_cam, 1])
    order = np.lexsort((d, s_cam))  # by camera, nearest first
    first = order[np.r_[True, s_cam[order][1:] != s_cam[order][:-1]]]
    out[s_cam[first]] = np.column_stack([ex[first], ey[first]])
    return out


def _member(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """np.isin for int64 codes by sorting and binary search (np.isin's hashing took seconds at 1M)."""
    if len(b) == 0:
        return np.zeros(len(a), bool)
    b = np.sort(b)
    i = np.minimum(np.searchsorted(b, a), len(b) - 1)
    return b[i] == a


def _seen_rows(seen: list[set], view_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(camera, view row) of every detecting view of each camera that is among ``view_ids``."""
    lengths = np.fromiter((len(ids) for ids in seen), np.int64, count=len(seen))
    flat = np.array([v for ids in seen for v in ids], dtype=object)
    cam = np.repeat(np.arange(len(seen), dtype=np.int64), lengths)
    if len(flat) == 0:
        return cam, np.zeros(0, np.int64)
    index = pd.Index(view_ids)
    row = index.get_indexer(flat) if index.is_unique else index.drop_duplicates().get_indexer(flat)
    keep = row >= 0
    return cam[keep], np.asarray(row[keep], np.int64)


def _unmatched_pairs(cxy, box, seen_rows, cam, vj, views):
    """Detecting views that the candidate geometry did not give their camera (position error):
    (camera, size px, other) at the horizontal range, nominal rise and the view's focal length."""
    s_cam, s_row = seen_rows
    n_views = len(views)
    missing = ~_member(s_cam * n_views + s_row, cam.astype(np.int64) * n_views + vj)
    c, r = s_cam[missing], s_row[missing]
    if len(c) == 0:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
    rng = np.hypot(cxy[c, 0] - views["x"].to_numpy(float)[r], cxy[c, 1] - views["y"].to_numpy(float)[r])
    focal = views["width"].to_numpy(float)[r] / 2.0 / np.tan(np.radians(views["fov"].to_numpy(float)[r]) / 2.0)
    size = box[c] * focal / np.maximum(np.hypot(rng, 2.0), 1.0)
    other = visibility_by_range(rng)
    return c.astype(np.int64), size, np.where(other > 0, other, 0.05)


def camera_reality(cameras: pd.DataFrame, detections: pd.DataFrame, cal: Calibration, *, n_images: int) -> np.ndarray:
    """P(real) of each located camera: the calibration's expected false detections per confidence
    bin (false rate per image x ``n_images``, else 1 - precision per detection) spent on the
    single-view cameras of that bin; cameras seen in several views are real (false boxes seldom
    repeat at one place)."""
    n = len(cameras)
    if n == 0:
        return np.ones(0)
    edges = cal.conf_edges
    k = len(edges) - 1
    conf = detections["conf"].fillna(1.0).to_numpy(float) if "conf" in detections else np.ones(len(detections))
    b = conf_bin(conf, edges)
    if cal.uses_false_rate():
        false_b = np.minimum(cal.false_rates() * float(n_images), np.bincount(b, minlength=k))
    else:
        false_b = np.bincount(b, 1.0 - cal.precision_bins()[b], minlength=k)
    n_det = cameras["n_detections"].to_numpy(float) if "n_detections" in cameras else np.ones(n)
    cmax = cameras["conf_max"].fillna(1.0).to_numpy(float) if "conf_max" in cameras else np.ones(n)
    single = n_det <= 1
    cb = conf_bin(cmax, edges)
    singles_b = np.bincount(cb[single], minlength=k).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        q_b = np.where(singles_b > 0, np.clip(1.0 - false_b / singles_b, 0.0, 1.0), 1.0)
    q = np.ones(n)
    q[single] = q_b[cb[single]]
    return q


# --- the model --------------------------------------------------------------------------------

def _c_table(sd: float) -> tuple[np.ndarray, np.ndarray]:
    """(marginal recall, c) on a logit grid: c(r) by interpolation instead of bisection per pair."""
    r = expit(_P_GRID)
    return r, logit_shift(r, sd)


_TABLES: dict[float, tuple[np.ndarray, np.ndarray]] = {}


def c_of(recall: np.ndarray, sd: float = CAMERA_LOGIT_SD) -> np.ndarray:
    """``logit_shift`` by table lookup (linear in logit r)."""
    if sd not in _TABLES:
        _TABLES[sd] = _c_table(sd)
    r_tab, c_tab = _TABLES[sd]
    r = np.clip(np.asarray(recall, float), r_tab[0], r_tab[-1])
    return interp_even(np.log(r / (1 - r)), _P_GRID, c_tab)  # np.interp's values (speed, issue 27)


def shifted_rates(rates: np.ndarray, level: float | np.ndarray, *, sd: float = CAMERA_LOGIT_SD) -> np.ndarray:
    """The recall rates ``rates`` with their level moved by ``level`` (logit, under the camera
    effect): E_u[expit(c(r) + level + u)]. ``level`` may be an array (leading axis of the result)."""
    u, w = effect_nodes(sd)
    c = c_of(rates, sd)
    lev = np.asarray(level, float)
    return (expit(c[None, :, None] + lev.reshape(-1, 1, 1) + u) * w).sum(-1).reshape(lev.shape + c.shape)


def recall_weights(size_px: np.ndarray, edges: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """G per recall bin with sum_pairs weights x ``recall_at(size_px, edges, rates)`` = rates @ G
    for any ``rates`` (``recall_at`` is linear in them): one pass over the pairs instead of one per
    recall curve tried."""
    m = len(edges) - 1
    i0, i1, t = size_bin_weights(size_px, edges)
    w = np.asarray(weights, float)
    return np.bincount(i0, w * (1 - t), minlength=m) + np.bincount(i1, w * t, minlength=m)


def pair_recall(h: CaptureHistories, cal: Calibration, level: float, *, sd: float = CAMERA_LOGIT_SD) -> np.ndarray:
    """Marginal P(detected) of each candidate pair at recall level ``level``."""
    rates = shifted_rates(cal.recall_bins(), level, sd=sd)
    return np.clip(recall_at(h.size_px, cal.size_edges, rates) * h.other, 0.0, 1.0 - 1e-9)


def camera_loglik(h: CaptureHistories, p: np.ndarray, *, sd: float = CAMERA_LOGIT_SD) -> tuple[np.ndarray, np.ndarray]:
    """(log conditional likelihood of each camera's history given it was found, P(found)) for
    marginal pair probabilities ``p``, averaged over the camera effect."""
    from scipy.special import expit as expit_into  # heterogeneity.expit's, written into a buffer

    u, w = effect_nodes(sd)
    c = c_of(np.maximum(p, 1e-9), sd)
    y = h.detected
    num = np.zeros(h.n_cameras)
    found = np.zeros(h.n_cameras)
    zero = p <= 0
    any_zero = bool(zero.any())
    q, log_not, log_q = np.empty(len(c)), np.empty(len(c)), np.empty(len(c))  # speed (issue 27): reused
    for uk, wk in zip(u, w):
        expit_into(np.add(c, uk, out=log_q), out=q)
        if any_zero:
            q[zero] = 0.0
        np.clip(q, 1e-12, 1 - 1e-12, out=q)
        np.log1p(np.negative(q, out=log_not), out=log_not)
        log_miss = np.bincount(h.cam, log_not, minlength=h.n_cameras)
        np.copyto(log_not, np.log(q, out=log_q), where=y)  # the history: log q where detected, log (1 - q) where not
        log_hist = np.bincount(h.cam, log_not, minlength=h.n_cameras)
        num += wk * np.exp(log_hist)
        found += wk * -np.expm1(log_miss)
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(num, 1e-300)) - np.log(np.maximum(found, 1e-300)), found


def usable(h: CaptureHistories) -> np.ndarray:
    """Cameras that enter the fit: found by at least one of their candidate views."""
    return (h.n_found() > 0) & (h.n_candidates() > 0)


MAX_FIT_CAMERAS = 3000  # beyond this many usable cameras the likelihood is summed over a seeded sample


def subsampled(h: CaptureHistories, *, max_cameras: int = MAX_FIT_CAMERAS, seed: int = 0
               ) -> tuple[CaptureHistories, float]:
    """(histories of at most ``max_cameras`` usable cameras drawn at random (seeded), the factor
    that scales their log-likelihood back to all usable cameras). Large surveys pin the level
    down with a few thousand cameras; the sum over all of them costs minutes at 1M detections."""
    keep = usable(h)
    n = int(keep.sum())
    if n <= max_cameras:
        return h, 1.0
    chosen = np.zeros(h.n_cameras, bool)
    chosen[_chosen(keep, max_cameras, seed)] = True
    index = np.cumsum(chosen) - 1
    pairs = chosen[h.cam]
    sub = CaptureHistories(cam=index[h.cam[pairs]], size_px=h.size_px[pairs], other=h.other[pairs],
                           detected=h.detected[pairs], weight=h.weight[chosen], n_cameras=int(chosen.sum()),
                           n_unmatched=h.n_unmatched)
    return sub, n / max_cameras


def _chosen(keep: np.ndarray, max_cameras: int, seed: int) -> np.ndarray:
    """``subsampled``'s seeded draw of ``max_cameras`` of the cameras ``keep`` (all when fewer)."""
    if int(keep.sum()) <= max_cameras:
        return np.flatnonzero(keep)
    return np.random.default_rng(seed).choice(np.flatnonzero(keep), max_cameras, replace=False)


def fit_level(h: CaptureHistories, cal: Calibration, *, grid: np.ndarray = LEVEL_GRID, prior_sd: float = PRIOR_SD,
              sd: float = CAMERA_LOGIT_SD, level: float = LEVEL) -> RecallFit:
    """The recall level's posterior on ``grid`` (logit shifts of ``cal``'s recall), P(real)-weighted
    conditional likelihood x the card prior N(0, ``prior_sd``^2). See the module docstring."""
    keep = usable(h)
    w = np.where(keep, h.weight, 0.0)
    hs, scale = subsampled(h, max_cameras=MAX_FIT_CAMERAS)
    keep_s = usable(hs)
    w_s = np.where(keep_s, hs.weight, 0.0)

    i0, i1, t = size_bin_weights(hs.size_px, cal.size_edges)  # pair_recall's bins, once (speed, issue 27)

    def recall_of(level: float) -> np.ndarray:  # pair_recall(hs, cal, level, sd=sd), bit for bit
        rates = shifted_rates(cal.recall_bins(), level, sd=sd)
        return np.clip((rates[..., i0] * (1 - t) + rates[..., i1] * t) * hs.other, 0.0, 1.0 - 1e-9)

    def loglik(levels: np.ndarray) -> np.ndarray:
        return scale * np.array([float(np.sum(w_s * np.where(keep_s, camera_loglik(hs, recall_of(g), sd=sd)[0], 0.0)))
                                 for g in levels])

    ll = _loglik_on_grid(loglik, grid, prior_sd=prior_sd)
    base = cal.recall_bins()
    g = recall_weights(hs.size_px, cal.size_edges, w_s[hs.cam] * hs.other)
    ratio = shifted_rates(base, grid, sd=sd) @ g / max(float(base @ g), 1e-12)
    zero = int(np.argmin(np.abs(grid)))
    from scipy.stats import chi2

    stat = max(2.0 * (ll.max() - ll[zero]), 0.0)
    n_found = h.n_found()
    fit = RecallFit(level=0.0, level_lo=0.0, level_hi=0.0, recall_ratio=1.0, recall_ratio_lo=1.0, recall_ratio_hi=1.0,
                    n_cameras=float(w.sum()), n_repeat=float(np.sum(w * (n_found >= 2))),
                    n_pairs=int(keep[h.cam].sum()), lr_p=float(chi2.sf(stat, 1)), informative=False,
                    grid=grid, posterior=np.zeros_like(grid), loglik=ll, ratio_curve=ratio, camera_sd=float(sd))
    return with_prior(fit, prior_sd, level=level)


SD_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.3, 1.7, 2.2)  # per-camera logit SDs ``fit_spread`` tries
SD_ALPHA = 0.05  # the survey's own SD replaces the card's only where the likelihood-ratio test rejects the card's


@dataclass(frozen=True)
class SpreadFit:
    """The per-camera logit SD read from the survey's own capture histories (``fit_spread``), jointly
    with the recall level. ``profile``: per SD of ``sds``, the log-likelihood maximised over the
    level; ``posterior``: P(SD | histories), uniform on ``sds``, the level integrated over its prior;
    ``lo``, ``hi``: the SDs whose profile lies within the 95% likelihood-ratio reach of the best;
    ``lr_p``: the test of the card's SD (``card_sd``) against the best; ``identified``: it rejects
    at ``SD_ALPHA``, and ``chosen`` is then the best SD, else the card's (the histories cannot tell)."""

    sds: np.ndarray
    profile: np.ndarray
    posterior: np.ndarray
    best: float
    lo: float
    hi: float
    card_sd: float
    lr_p: float
    identified: bool
    chosen: float
    fits: tuple = field(repr=False, default=())

    def fit(self) -> RecallFit:
        """The level's fit at the chosen SD."""
        return self.fit_at(self.chosen)

    def median(self) -> float:
        """The SD at the posterior's median (``quantile`` 1/2; the count rises with the SD, so the
        count at it is about the count's posterior median over the SD)."""
        return self.quantile(0.5)

    def quantile(self, q: float) -> float:
        """The first SD of ``sds`` whose cumulative posterior reaches ``q``."""
        k = int(np.searchsorted(np.cumsum(self.posterior), q - 1e-12))
        return float(self.sds[min(k, len(self.sds) - 1)])

    def fit_at(self, sd: float) -> RecallFit:
        """The level's fit at ``sd`` (one of ``sds``)."""
        return self.fits[int(np.argmin(np.abs(self.sds - sd)))]

    def to_dict(self) -> dict:
        """report.json's ``self_calibration.camera_sd_fit``."""
        return {"sds": [float(x) for x in self.sds],
                "profile_loglik": [round(float(x - self.profile.max()), 3) for x in self.profile],
                "posterior": [round(float(x), 4) for x in self.posterior], "best": self.best,
                "lo": self.lo, "hi": self.hi, "card_sd": self.card_sd, "lr_p": round(self.lr_p, 4),
                "identified": self.identified, "chosen": self.chosen,
                "note": ("the survey's repeat views measure the per-camera spread: the estimate uses it"
                         if self.identified else "the survey's repeat views cannot tell the per-camera spread from "
                         "the card's: the card's is kept")}


def fit_spread(h: CaptureHistories, cal: Calibration, *, sds=SD_GRID, prior_sd: float = PRIOR_SD,
               card_sd: float = CAMERA_LOGIT_SD, alpha: float = SD_ALPHA, card_fit: RecallFit | None = None
               ) -> SpreadFit:
    """The per-camera logit SD and the recall level together (``SpreadFit``): ``fit_level`` at each SD
    of ``sds`` (the card's ``card_sd`` added; ``card_fit``: its fit when already made), the profile
    likelihood over the SD, and the likelihood-ratio test of the card's SD (cf. ``secr``'s finite
    mixtures, whose mixing spread is fitted with the detection parameters). A few dozen cameras
    seen once or twice seldom tell the SD (the profile is flat): the card's is then kept."""
    from scipy.stats import chi2

    grid_sds = np.unique(np.r_[np.asarray(sds, float), float(card_sd)])
    fits = tuple(card_fit if card_fit is not None and abs(sd - card_sd) < 1e-12 else
                 with_prior(fit_level(h, cal, sd=float(sd)), prior_sd) for sd in grid_sds)
    profile = np.array([float(f.loglik.max()) for f in fits])
    marginal = np.array([float(np.logaddexp.reduce(f.loglik - 0.5 * (f.grid / prior_sd) ** 2)) for f in fits])
    post = np.exp(marginal - marginal.max())
    post /= post.sum()
    top = int(np.argmax(profile))
    card = int(np.argmin(np.abs(grid_sds - card_sd)))
    stat = max(2.0 * (profile[top] - profile[card]), 0.0)
    lr_p = float(chi2.sf(stat, 1))
    reach = grid_sds[2.0 * (profile[top] - profile) <= chi2.ppf(1 - alpha, 1)]
    identified = bool(lr_p < alpha)
    return SpreadFit(sds=grid_sds, profile=profile, posterior=post, best=float(grid_sds[top]), lo=float(reach.min()),
                     hi=float(reach.max()), card_sd=float(card_sd), lr_p=lr_p, identified=identified,
                     chosen=float(grid_sds[top]) if identified else float(card_sd), fits=fits)


def with_prior(fit: RecallFit, prior_sd: float, *, level: float = LEVEL) -> RecallFit:
    """``fit`` with its posterior recomputed under the prior N(0, ``prior_sd``^2) on the level
    (its likelihood on the grid kept): level, interval, recall ratio and ``informative``."""
    from dataclasses import replace

    grid, ll, ratio = fit.grid, fit.loglik, fit.ratio_curve
    logpost = ll - 0.5 * (grid / prior_sd) ** 2
    post = np.exp(logpost - logpost.max())
    post /= post.sum()
    alpha = (1 - level) / 2
    cdf = np.cumsum(post) - post / 2  # mid-point CDF, interpolated between grid points
    lev_lo, lev_hi = (float(np.interp(q, cdf, grid)) for q in (alpha, 1 - alpha))
    mean = float(post @ grid)
    return replace(fit, level=mean, level_lo=lev_lo, level_hi=lev_hi, recall_ratio=float(post @ ratio),
                   recall_ratio_lo=float(np.interp(lev_lo, grid, ratio)),
                   recall_ratio_hi=float(np.interp(lev_hi, grid, ratio)),
                   informative=bool(np.sqrt(post @ (grid - mean) ** 2) <= INFORMATIVE_SHARE * prior_sd),
                   posterior=post, prior_sd=float(prior_sd))


COARSE_STEP = 5  # the likelihood is first computed on every 5th level of the grid ...
FINE_WITHIN = 40.0  # ... then on every level whose log posterior lies within this of the maximum, or |level| <= 1.5
# (the tests' region); elsewhere (posterior below e^-40 of its peak) it is interpolated


def _loglik_on_grid(loglik, grid: np.ndarray, *, prior_sd: float) -> np.ndarray:
    """``loglik(levels)`` on ``grid``, computed exactly wherever the posterior (or the card check's
    tests) can see it and interpolated from a coarse pass elsewhere (speed at 1M detections: an
    informative fit evaluates a few dozen levels instead of 241)."""
    coarse = np.unique(np.r_[np.arange(0, len(grid), COARSE_STEP), len(grid) - 1])
    ll_c = loglik(grid[coarse])
    ll = np.interp(grid, grid[coarse], ll_c)
    logpost = ll - 0.5 * (grid / prior_sd) ** 2
    # a level may lie within FINE_WITHIN of the peak if a coarse neighbour does (the curve is smooth)
    near = np.convolve((logpost >= logpost.max() - FINE_WITHIN).astype(float), np.ones(2 * COARSE_STEP + 1),
                       mode="same") > 0
    fine = np.flatnonzero((near | (np.abs(grid) <= 1.5 + 1e-9)) & ~np.isin(np.arange(len(grid)), coarse))
    ll[coarse] = ll_c
    if len(fine):
        ll[fine] = loglik(grid[fine])
    return ll


def prior_only(fit: RecallFit, *, below_card: bool = True, prior_sd: float = PRIOR_SD, level: float = LEVEL,
               ceiling: float = 0.0) -> RecallFit:
    """``fit`` with its posterior replaced by ignorance: with ``below_card`` (a card that does not
    fit unseen imagery overstates its recall) uniform in logit over the ``-UNKNOWN_FLOOR`` logits
    below ``ceiling`` (default the card's level: recall anywhere from a few % of the card's to the
    card's; a lower ceiling where the survey's own likelihood rules out the levels above it,
    ``likelihood_ceiling``; cut at the grid's floor); else the prior N(0, ``prior_sd``^2)."""
    from dataclasses import replace

    grid = fit.grid
    top = min(float(ceiling), 0.0)
    bottom = top + UNKNOWN_FLOOR  # the same span of ignorance below the ceiling (past the grid's floor: cut there)
    post = (((grid <= top + 1e-9) & (grid >= bottom - 1e-9)).astype(float) if below_card
            else np.exp(-0.5 * (grid / prior_sd) ** 2))
    post = post / post.sum()
    alpha = (1 - level) / 2
    cdf = np.cumsum(post) - post / 2
    lev_lo, lev_hi = (float(np.interp(q, cdf, grid)) for q in (alpha, 1 - alpha))
    return replace(fit, level=float(post @ grid), level_lo=lev_lo, level_hi=lev_hi,
                   recall_ratio=float(post @ fit.ratio_curve),
                   recall_ratio_lo=float(np.interp(lev_lo, grid, fit.ratio_curve)),
                   recall_ratio_hi=float(np.interp(lev_hi, grid, fit.ratio_curve)), informative=False, posterior=post)


# --- the fit as a calibration -----------------------------------------------------------------

def calibration_from_fit(cal: Calibration, fit: RecallFit, h: CaptureHistories | None = None, *,
                         centre: str = "harmonic", sd: float | None = None) -> Calibration:
    """``cal`` with its recall bins replaced by the survey's own level (source "survey"): each
    bin's Beta has the posterior mean and variance of its shifted rate, the variance widened by
    (sum_b g_b s_b)^2 / sum_b g_b^2 s_b^2 (g_b: the located cameras' candidate views per bin, s_b the
    bin's SD), since one level moves every bin together while the estimator treats bins as
    independent. ``centre``: "harmonic" (each rate's posterior harmonic mean, 1 / E[1 / r]: a count
    goes as 1 / recall, so the estimate is then about the posterior mean of the count, which a wide
    posterior moves up, as it should), "mean" (E[r]) or "median" (the rates at the posterior median
    level: for a posterior that is mostly the prior, the card's recall with the spread of what the
    survey cannot rule out). The precision side (false detections per image) stays the card's.
    The Betas are per camera (``boxes_per_camera`` 1): the estimator's posterior mean of each bin
    is then the chosen centre. ``sd``: the per-camera logit SD (default the fit's,
    ``RecallFit.camera_sd``), which the calibration carries to the estimate (``Calibration.camera_sd``)."""
    from dataclasses import replace

    sd = fit.camera_sd if sd is None else float(sd)
    rates = shifted_rates(cal.recall_bins(), fit.grid, sd=sd)  # (grid, bins)
    mean = fit.posterior @ rates
    var = np.maximum(fit.posterior @ (rates - mean) ** 2, 1e-10)
    if centre == "harmonic":
        mean = 1.0 / (fit.posterior @ (1.0 / np.maximum(rates, 1e-4)))
        var = np.maximum(fit.posterior @ (rates - mean) ** 2, 1e-10)
    elif centre == "median":
        cdf = np.cumsum(fit.posterior) - fit.posterior / 2
        mean = shifted_rates(cal.recall_bins(), float(np.interp(0.5, cdf, fit.grid)), sd=sd)
        var = np.maximum(fit.posterior @ (rates - mean) ** 2, 1e-10)
    m = len(mean)
    if h is not None and len(h.size_px):
        b = np.clip(np.searchsorted(cal.size_edges, h.size_px, side="right") - 1, 0, m - 1)
        g = np.bincount(b, np.where(usable(h), h.weight, 0.0)[h.cam], minlength=m)
    else:
        g = cal.rec_n.astype(float)
    s = np.sqrt(var)
    widen = float((g @ s) ** 2 / max(np.sum(g ** 2 * var), 1e-30)) if g.sum() > 0 else float(m)
    var = var * max(widen, 1.0)
    n, found = beta_counts(np.clip(mean, 1e-4, 1 - 1e-4), var)
    extra = dict(cal.extra or {})
    extra.update({"recall_from": "the survey's own repeat detections (capture-recapture)",
                  "card_source": cal.source, "self_level_logit": fit.level,
                  "n_audited": int((cal.extra or {}).get("n_audited", 0)),
                  "recall_weights": cal.rec_n.tolist()})  # the summary's overall recall: weighted as the card's
    # the counts already carry the posterior's spread (per camera): no design effect on top, which would pull the
    # bins towards their pooled rate and move the centre (the card's 2 boxes per camera made the flagged surveys'
    # recall about 10% lower than the posterior's centre, their estimates as much higher)
    return replace(cal, source="survey", rec_n=n, rec_found=found, extra=extra, boxes_per_camera=1.0, camera_sd=sd)


def likelihood_ceiling(fit: RecallFit, *, level: float = LEVEL) -> float:
    """The highest level (logit) the fit's own likelihood allows: the top of its ``level``
    likelihood-ratio region (log-likelihood within chi-square(1 df) / 2 of its maximum, 1.92 at 95%).
    Where the likelihood peaks at the grid's floor this is the only bound the repeat views give."""
    from scipy.stats import chi2

    ll = np.asarray(fit.loglik, float)
    allowed = fit.grid[ll >= ll.max() - chi2.ppf(level, 1) / 2]
    return float(allowed.max())


def level_quantile(fit: RecallFit, q: float) -> float:
    """The level (logit) at quantile ``q`` of the fit's posterior (mid-point CDF, interpolated)."""
    cdf = np.cumsum(fit.posterior) - fit.posterior / 2
    return float(np.interp(q, cdf, fit.grid))


def calibration_at_level(cal: Calibration, level: float, *, sd: float | None = None) -> Calibration:
    """``cal`` with every recall bin moved by one common ``level`` (logit, under the camera
    effect; source "survey"): each bin's Beta keeps the card's concentration (its a + b, design
    effect included), so the only recall uncertainty left is the card's own; the level's is the
    caller's (``geo.counting.card_check.level_envelope``: estimates at several levels). ``sd``: the
    per-camera logit SD (default the calibration's, ``Calibration.camera_sd``), carried on."""
    from dataclasses import replace

    sd = cal.camera_sd if sd is None else float(sd)
    a, b = cal.recall_beta()
    rate = np.clip(shifted_rates(cal.recall_bins(), float(level), sd=sd), 1e-4, 1 - 1e-4)
    n, found = beta_counts(rate, rate * (1 - rate) / (a + b + 1.0))
    extra = dict(cal.extra or {})
    extra.update({"recall_from": "the card's recall curve moved by one level", "card_source": cal.source,
                  "self_level_logit": float(level), "recall_weights": cal.rec_n.tolist()})
    return replace(cal, source="survey", rec_n=n, rec_found=found, extra=extra, boxes_per_camera=1.0, camera_sd=sd)


def beta_counts(mean: np.ndarray, var: np.ndarray, *, iterations: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(n, found) per bin whose ``geo.counting.calibration`` Beta (which adds 0.5 + PRIOR_STRENGTH x
    the pooled rate to the hits, and as much to the misses) has mean ``mean`` and variance ``var``;
    where a bin's variance is too large for that, the largest the prior pseudo-counts allow (its
    mean is kept: the point estimate must not move with the spread)."""
    from geo.counting.calibration import PRIOR_STRENGTH

    total = np.maximum(mean * (1 - mean) / var - 1.0, 1e-6)  # a + b of the target Beta
    pooled = float(np.mean(mean))
    for _ in range(iterations):
        least = np.maximum((0.5 + PRIOR_STRENGTH * pooled) / mean, (0.5 + PRIOR_STRENGTH * (1 - pooled)) / (1 - mean))
        k = np.maximum(total, least)
        found = mean * k - 0.5 - PRIOR_STRENGTH * pooled
        n = k - 1.0 - PRIOR_STRENGTH
        pooled = float((np.clip(found, 0, None).sum() + 0.5) / (np.clip(n, 0, None).sum() + 1.0))
    n = np.maximum(n, 1e-6)
    return n, np.clip(found, 0.0, n)


# --- planning -------------------------------------------------------------------------------

def simulated_histories(cam_cls: np.ndarray, pairs, *, cal: Calibration, level: float = 0.0,
                        sd: float = CAMERA_LOGIT_SD, seed: int = 0) -> CaptureHistories:
    """Capture histories drawn from the model at ``level`` for cameras of classes ``cam_cls`` and
    their candidate ``pairs`` (``geo.counting.inclusion.ViewPairs`` with one shift); only found
    cameras are kept (what a survey would locate)."""
    box = box_size_m(np.asarray(cam_cls))
    other = visibility_by_range(pairs.range_m) * (pairs.factor if pairs.factor is not None else 1.0)
    return drawn_histories(pairs.cam, box[pairs.cam] * pairs.scale, other, len(cam_cls), cal=cal, level=level,
                            rng=np.random.default_rng(seed), sd=sd)


def drawn_histories(cam: np.ndarray, size: np.ndarray, other: np.ndarray, n: int, *, cal: Calibration, level: float,
                     rng: np.random.Generator, sd: float = CAMERA_LOGIT_SD) -> CaptureHistories:
    """Capture histories drawn from the model at ``level`` for candidate pairs (camera, size px,
    other); only found cameras are kept, renumbered."""
    full = CaptureHistories(cam, size, other, np.zeros(len(size), bool), np.ones(n), n)
    p = pair_recall(full, cal, level, sd=sd)
    u = rng.normal(0.0, sd, n)
    q = np.where(p <= 0, 0.0, expit(c_of(np.maximum(p, 1e-9), sd) + u[cam]))
    y = rng.random(len(q)) < q
    found = np.bincount(cam, y.astype(float), minlength=n) > 0
    idx = np.cumsum(found) - 1
    keep = found[cam]
    return CaptureHistories(idx[cam[keep]], size[keep], other[keep], y[keep], np.ones(int(found.sum())),
                            int(found.sum()))
