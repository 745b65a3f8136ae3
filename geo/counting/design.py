"""The survey's design and what it can see: inclusion probabilities from the design's
randomization, and the strip the estimate speaks for.

A design (``Design``) is how the viewpoints were placed: ``systematic`` (a point every
``spacing_m`` along each street from a random start) or ``random`` (``n_points`` points dropped
uniformly along the ``network_m`` metres of the network, the Stanford design), with the views
taken at each point (``sides``, ``along``, ``fov``, image size).

Inclusion from the design's randomization, never from the realized viewpoints alone:

- systematic: the grid's start is uniform over one spacing, so a camera's inclusion probability
  is p* averaged over positions spread over one spacing along its street
  (``geo.counting.inclusion.view_pairs``);
- random: a point falls anywhere on the network with density ``n_points / network_m`` per metre.
  One point at ``s`` finds a camera with p1(s) = 1 - prod over its views (1 - p); the camera's
  effective length a = integral of p1(s) ds over the streets near it (metres, on a
  ``step_m`` grid of virtual viewpoints along the real network, buildings and all), and
  pi = 1 - (1 - a / network_m) ^ n_points. A random design therefore speaks for the strip along
  every street of the network it was drawn from (``random_design_pairs``).

The strip (``strip_from_design``): per class, the half-width is the largest distance from the
street, beyond the peak, up to which the design's detection function g(d) = pi(d) / max pi stays
at or above ``STRIP_FLOOR`` (0.15; distance sampling's usual truncation, where g(w) is about
0.15, Buckland et al. 2001, sec. 2.3). pi(d) is computed for a camera at ``d`` metres from a
straight street (``inclusion_by_distance``): the design's viewpoints along it, the views'
geometry (fov, image size, vertical field of view, ``RISE_M``), the visibility by range, and the
calibration's recall by box size at the class's box size (``CAMERA_SIZE_M``). For designs whose
inclusion at the street is close to 1 (systematic grids of up to ~40 m) g is the absolute
inclusion probability; a sparse random design's pi is small everywhere (every camera of it has a
small pi), so only its shape can set a strip.

Small-pi rule: inside the strip, a camera weighs 1 / pi with the design's pi; pi is floored at
``MIN_INCLUSION`` (0.1) x the design's best inclusion for the camera's class (``pi_ref``): a
camera whose own geometry (buildings, a corner) gives it less than a tenth of what the design
gives a camera at the best distance counts with that tenth. For a dense systematic design
(pi_ref ~ 1) that is the former floor of 0.1 (weights at most 10); a random design of 200 points
with pi_ref 0.05 can weigh its cameras 20 each, as Horvitz-Thompson needs, and at most 200.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo.counting.heterogeneity import CAMERA_LOGIT_SD, effect_nodes, expit, logit_shift
from geo.counting.inclusion import (DEFAULT_SHIFTS, EFFECT_NODES, MAX_RANGE_M, MIN_INCLUSION, ViewPairs,
                                    inclusion_parts, view_pairs, visibility_by_range)
from geo.counting.locate import CAMERA_SIZE_M

STRIP_FLOOR = 0.15  # g(w) at the strip's edge (distance sampling's usual truncation)
CLASSES = ("directed", "dome")
STEP_M = 2.0  # spacing of the virtual viewpoints that integrate a random design's inclusion
PROFILE_STEP_M = 0.5  # distance grid of inclusion_by_distance
PROFILE_MAX_M = 60.0
SIDE_HEADING = {"left": -90.0, "right": 90.0, "forward": 0.0, "backward": 180.0}


@dataclass(frozen=True)
class Design:
    """How the viewpoints were placed (see the module docstring). ``spacing_m``: metres between
    the points of a systematic design; ``n_points``/``network_m``: points of a random design and
    the metres of network they were drawn from; ``sides``: both, left, right or random (one side
    per point at random); ``along``: also views forward and backward; ``fov``: horizontal field of
    view (degrees); ``width``/``height``: image size (pixels); ``pitch``: degrees up;
    ``min_gap_m``: the sampler's thinning of points closer than that across streets (metres)."""

    method: str = "systematic"
    spacing_m: float = 20.0
    n_points: int = 0
    network_m: float = 0.0
    sides: str = "both"
    along: bool = False
    fov: float = 90.0
    width: float = 640.0
    height: float = 640.0
    pitch: float = 0.0
    min_gap_m: float = 0.0

    @property
    def random(self) -> bool:
        return self.method == "random"

    def view_headings(self) -> tuple[np.ndarray, np.ndarray]:
        """(heading relative to the street's direction, deg; share) of each view of a point:
        ``random`` sides counts each side with share 1/2."""
        sides = ["left", "right"] if self.sides in ("both", "random") else [self.sides]
        share = [0.5 if self.sides == "random" else 1.0] * len(sides)
        if self.along:
            sides += ["forward", "backward"]
            share += [1.0, 1.0]
        return np.array([SIDE_HEADING[s] for s in sides]), np.array(share)


def design_from_sample_info(info: dict, *, images: pd.DataFrame | None = None, points: pd.DataFrame | None = None,
                            network_m: float | None = None) -> Design:
    """The ``Design`` of a survey from its ``sample.json`` (``info``): method, spacing_m, sides,
    along, fov; image size from ``images`` (median of the ok ones, else 640 x 640); for a random
    design ``n_points`` = points with at least one ok image (``points``/``images``; else
    ``info["n_points"]``) and ``network_m`` (metres; default ``info["road_km"]`` x 1000)."""
    width = height = 640.0
    ok = images
    if images is not None and len(images):
        if "status" in images.columns:
            ok = images[images["status"].fillna("ok").eq("ok")]
        if "width" in ok.columns and ok["width"].notna().any():
            width = float(np.nanmedian(ok["width"].to_numpy(float)))
        if "height" in ok.columns and ok["height"].notna().any():
            height = float(np.nanmedian(ok["height"].to_numpy(float)))
    method = str(info.get("method") or "systematic")
    n_points = int(info.get("n_points") or info.get("n") or 0)
    if ok is not None and len(ok) and "point_id" in ok.columns:
        n_points = int(ok["point_id"].dropna().nunique())
    elif ok is not None and len(ok) == 0 and images is not None:
        n_points = 0
    if network_m is None:
        network_m = float(info.get("road_km") or 0.0) * 1000.0
    return Design(method=method, spacing_m=float(info.get("spacing_m") or 20.0), n_points=n_points,
                  network_m=float(network_m), sides=str(info.get("sides") or "both"),
                  along=bool(info.get("along") or False), fov=float(info.get("fov") or 90.0),
                  width=float(width), height=float(height), pitch=float(info.get("pitch") or 0.0),
                  min_gap_m=float(info.get("min_gap_m") or 0.0))


def design_views(xy: np.ndarray, grid_bearing: np.ndarray, design: Design) -> pd.DataFrame:
    """The design's views at viewpoints ``xy`` (m) on streets running ``grid_bearing`` (deg
    clockwise from grid north): x, y, heading_grid, fov, width, height, share, vpoint (the
    viewpoint's row)."""
    rel, share = design.view_headings()
    k = len(rel)
    n = len(xy)
    return pd.DataFrame({
        "x": np.repeat(np.asarray(xy, float)[:, 0], k) if n else np.zeros(0),
        "y": np.repeat(np.asarray(xy, float)[:, 1], k) if n else np.zeros(0),
        "heading_grid": np.mod(np.repeat(np.asarray(grid_bearing, float), k) + np.tile(rel, n), 360.0),
        "fov": float(design.fov), "width": float(design.width), "height": float(design.height),
        "pitch": float(design.pitch), "share": np.tile(share, n), "vpoint": np.repeat(np.arange(n), k)})


def network_viewpoints(streets, *, step_m: float = STEP_M, near_xy: np.ndarray | None = None,
                       max_range_m: float = MAX_RANGE_M) -> tuple[np.ndarray, np.ndarray]:
    """(xy, grid bearing) of virtual viewpoints every ``step_m`` metres along every street of
    ``streets`` (projected; the first at step_m / 2), kept within ``max_range_m`` of ``near_xy``
    when given."""
    from geo.streets.sampling import StreetPolylines

    if len(streets) == 0:
        return np.zeros((0, 2)), np.zeros(0)
    lines = StreetPolylines.from_geometries(streets.geometry.to_numpy())
    lengths = lines.street_length
    counts = np.maximum(np.floor(lengths / step_m).astype(np.int64), 1)
    street = np.repeat(np.arange(len(lengths)), counts)
    first = np.cumsum(counts) - counts
    rank = np.arange(counts.sum()) - np.repeat(first, counts)
    offset = np.minimum((rank + 0.5) * step_m, lengths[street])
    xy, bearing = lines.locate(street, offset)
    if near_xy is not None:
        from scipy.spatial import cKDTree

        if len(near_xy) == 0:
            return np.zeros((0, 2)), np.zeros(0)
        dist, _ = cKDTree(np.asarray(near_xy, float)).query(xy, distance_upper_bound=max_range_m + step_m)
        keep = np.isfinite(dist)
        xy, bearing = xy[keep], bearing[keep]
    return xy, bearing


@dataclass
class RandomDesignPairs:
    """Camera-position / virtual-view pairs of a random design (``pairs``: n_shifts 1) with each
    pair's virtual viewpoint (``vpoint``); see the module docstring for pi."""

    pairs: ViewPairs
    vpoint: np.ndarray
    step_m: float
    n_points: int
    network_m: float

    @property
    def n_cameras(self) -> int:
        return self.pairs.n_cameras

    @property
    def n_nodes(self) -> int:
        return self.pairs.n_nodes

    def node_inclusion(self, box_m: np.ndarray, recall_fn, *, visibility=visibility_by_range) -> np.ndarray:
        """(cameras, n_nodes) pi of each camera at each location node."""
        recall, factor = self.pairs.detection_parts(box_m, recall_fn, visibility)
        n_pos = self.pairs.n_cameras * self.pairs.n_positions
        pos = self.pairs.cam * self.pairs.n_positions + self.pairs.shift
        pi = random_inclusion(recall, pos, self.vpoint, n_pos, step_m=self.step_m, n_points=self.n_points,
                              network_m=self.network_m, sd=self.pairs.camera_sd, factor=factor)
        return self.pairs.fill_nodes(pi.reshape(self.pairs.n_cameras, self.pairs.n_nodes))

    def inclusion(self, box_m: np.ndarray, recall_fn, *, floor=MIN_INCLUSION, visibility=visibility_by_range
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(pi, pi raw) per camera, as ``ViewPairs.inclusion``: raw at the located position,
        pi floored at ``floor`` (scalar or per camera) or the location-error corrected one."""
        pi, raw, _, _ = self.inclusion_parts(box_m, recall_fn, floor=floor, visibility=visibility)
        return pi, raw

    def inclusion_parts(self, box_m: np.ndarray, recall_fn, *, floor=MIN_INCLUSION, visibility=visibility_by_range
                        ) -> tuple[np.ndarray, ...]:
        """(pi, pi raw, pi spread, None), as ``geo.counting.inclusion.inclusion_parts``: random
        points fall independently, there is no grid to shift. A located camera's pi is p*
        averaged over its position uncertainty (``geo.counting.inclusion.averaged_weight``)."""
        return inclusion_parts(self.node_inclusion(box_m, recall_fn, visibility=visibility), self.n_nodes, floor=floor,
                               averaged=True)


def _length_cells(position: np.ndarray, vpoint: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position of each (position, viewpoint) cell, each pair's cell) for ``effective_length``."""
    width = int(vpoint.max()) + 1 if len(vpoint) else 1
    key = position.astype(np.int64) * width + vpoint.astype(np.int64)
    cells, inverse = np.unique(key, return_inverse=True)
    return cells // width, inverse


def effective_length(p: np.ndarray, position: np.ndarray, vpoint: np.ndarray, n_positions: int, *,
                     step_m: float, cells: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Metres of street from which one random point finds each camera position: sum over the
    virtual viewpoints of p1 x ``step_m``, p1 = 1 - prod over the viewpoint's views (1 - p).
    ``cells``: ``_length_cells(position, vpoint)`` when already known."""
    if len(p) == 0:
        return np.zeros(n_positions)
    cell_pos, inverse = cells if cells is not None else _length_cells(position, vpoint)
    log_miss = np.bincount(inverse, np.log1p(-np.clip(p, 0.0, 1.0 - 1e-12)), minlength=len(cell_pos))
    p1 = -np.expm1(log_miss)
    return np.bincount(cell_pos, p1, minlength=n_positions) * float(step_m)


def random_inclusion(recall: np.ndarray, position: np.ndarray, vpoint: np.ndarray, n_positions: int, *,
                     step_m: float, n_points: int, network_m: float, sd: float = CAMERA_LOGIT_SD,
                     factor: np.ndarray | None = None) -> np.ndarray:
    """pi of each camera position under a random design of ``n_points`` on ``network_m`` metres:
    ``inclusion_from_length`` of the effective length, averaged over the per-camera effect of
    recall (``geo.counting.heterogeneity``: every point's views of one camera share it), so
    E_u[1 - (1 - a(u) / network_m) ^ n_points], each pair detecting with factor x
    expit(c(recall) + u); ``sd`` 0: views detect independently."""
    f = np.ones(len(recall)) if factor is None else np.asarray(factor, float)
    if sd <= 0 or len(recall) == 0:
        a = effective_length(np.asarray(recall, float) * f, position, vpoint, n_positions, step_m=step_m)
        return inclusion_from_length(a, n_points=n_points, network_m=network_m)
    u, w = effect_nodes(sd, n=EFFECT_NODES)
    c = logit_shift(recall, sd)
    out = np.zeros(n_positions)
    cells = _length_cells(position, vpoint)
    for uk, wk in zip(u, w):
        pk = np.where(np.asarray(recall) > 0, f * expit(c + uk), 0.0)
        a = effective_length(pk, position, vpoint, n_positions, step_m=step_m, cells=cells)
        out += wk * inclusion_from_length(a, n_points=n_points, network_m=network_m)
    return out


def inclusion_from_length(a_m: np.ndarray, *, n_points: int, network_m: float) -> np.ndarray:
    """pi = 1 - (1 - a / network_m) ^ n_points: some of ``n_points`` uniform points falls where it
    finds the camera (``a_m``: its effective length, metres)."""
    if network_m <= 0 or n_points <= 0:
        return np.zeros(len(np.atleast_1d(a_m)))
    frac = np.clip(np.asarray(a_m, float) / float(network_m), 0.0, 1.0 - 1e-12)
    return -np.expm1(n_points * np.log1p(-frac))


def random_design_pairs(cam_xy: np.ndarray, tangent: np.ndarray, streets, design: Design, *,
                        buildings=None, location_sd_m: np.ndarray | None = None, step_m: float = STEP_M,
                        max_range_m: float = MAX_RANGE_M, camera_sd: float = CAMERA_LOGIT_SD) -> RandomDesignPairs:
    """The pairs for a random design's inclusion: virtual viewpoints every ``step_m`` along every
    street of ``streets`` (the network the points were drawn from) near the cameras, with the
    design's views; ``tangent`` is used only for the location-error nodes; ``camera_sd``: the
    per-camera logit SD of recall pi averages over."""
    xy, bearing = network_viewpoints(streets, step_m=step_m, near_xy=cam_xy, max_range_m=max_range_m)
    views = design_views(xy, bearing, design)
    pairs = view_pairs(cam_xy, tangent, views, spacing_m=step_m, buildings=buildings, n_shifts=1,
                       max_range_m=max_range_m, location_sd_m=location_sd_m, camera_sd=camera_sd)
    vpoint = views["vpoint"].to_numpy(np.int64)[pairs.view] if pairs.view is not None and len(pairs.cam) \
        else np.zeros(0, np.int64)
    return RandomDesignPairs(pairs, vpoint, float(step_m), int(design.n_points), float(design.network_m))


def inclusion_by_distance(design: Design, calibration, *, class_name: str = "directed",
                          distances_m: np.ndarray | None = None, box_m: float | None = None,
                          n_shifts: int = 2 * DEFAULT_SHIFTS, camera_sd: float | None = None
                          ) -> tuple[np.ndarray, np.ndarray]:
    """(distances m, pi) of a camera of ``class_name`` (box size ``box_m``, default
    ``CAMERA_SIZE_M``) at each distance from a straight street surveyed by ``design``, on either
    side (the mean of the two), with the detector's recall by box size from ``calibration`` (a
    ``Calibration``, its dict, or a ``RateCurves``), the views' geometry and the visibility by
    range; no buildings. A one-sided design (``sides`` left or right): the side its views look
    at. Default distances: every 0.5 m from 0.5 to 60 m. ``camera_sd``: the per-camera logit SD of
    recall (default: ``calibration.camera_sd`` for a ``Calibration``, else ``CAMERA_LOGIT_SD``)."""
    from geo.counting.calibration import Calibration, RateCurves, calibration_from_dict

    if distances_m is None:
        distances_m = np.arange(PROFILE_STEP_M, PROFILE_MAX_M + 1e-9, PROFILE_STEP_M)
    d = np.asarray(distances_m, float)
    if not isinstance(calibration, RateCurves):
        calibration = calibration if isinstance(calibration, Calibration) else calibration_from_dict(calibration)
        camera_sd = calibration.camera_sd if camera_sd is None else camera_sd
    curves = calibration if isinstance(calibration, RateCurves) else calibration.curves()
    sd = CAMERA_LOGIT_SD if camera_sd is None else float(camera_sd)
    size = float(box_m if box_m is not None else CAMERA_SIZE_M.get(class_name, CAMERA_SIZE_M["default"]))
    cams = np.concatenate([np.column_stack([np.zeros(len(d)), d]), np.column_stack([np.zeros(len(d)), -d])])
    tangent = np.tile([1.0, 0.0], (len(cams), 1))
    reach = MAX_RANGE_M + 2.0 * max(design.spacing_m, STEP_M)
    if design.random:
        xs = np.arange(-reach, reach + 1e-9, STEP_M / 2)
        views = design_views(np.column_stack([xs, np.zeros(len(xs))]), np.full(len(xs), 90.0), design)
        pairs = view_pairs(cams, tangent, views, spacing_m=STEP_M, n_shifts=1, camera_sd=sd)
        vpoint = views["vpoint"].to_numpy(np.int64)[pairs.view] if len(pairs.cam) else np.zeros(0, np.int64)
        recall, factor = pairs.detection_parts(np.full(len(cams), size), curves.recall_at)
        pi = random_inclusion(recall, pairs.cam, vpoint, len(cams), step_m=STEP_M / 2, n_points=design.n_points,
                              network_m=design.network_m, factor=factor, sd=sd)
    else:
        s = float(design.spacing_m)
        xs = np.arange(-np.ceil(reach / s) * s, reach + s, s)
        views = design_views(np.column_stack([xs, np.zeros(len(xs))]), np.full(len(xs), 90.0), design)
        pairs = view_pairs(cams, tangent, views, spacing_m=s, n_shifts=n_shifts, camera_sd=sd)
        pi = pairs.node_inclusion(np.full(len(cams), size), curves.recall_at)[:, 0]
    if design.sides == "left" and not design.along:  # left of a street running east: north, +y
        return d, pi[:len(d)]
    if design.sides == "right" and not design.along:
        return d, pi[len(d):]
    return d, 0.5 * (pi[:len(d)] + pi[len(d):])


def strip_edge(distances_m: np.ndarray, pi: np.ndarray, *, floor: float = STRIP_FLOOR) -> float:
    """The largest distance (m) beyond the peak of ``pi`` up to which g = pi / max pi stays at or
    above ``floor`` (linear between the grid's distances); 0 when pi is 0 everywhere."""
    d, pi = np.asarray(distances_m, float), np.asarray(pi, float)
    top = float(pi.max()) if len(pi) else 0.0
    if top <= 0:
        return 0.0
    g = pi / top
    peak = int(np.argmax(g))
    below = np.flatnonzero(g[peak:] < floor)
    if len(below) == 0:
        return float(d[-1])
    j = peak + int(below[0])
    if j == 0:
        return float(d[0])
    g0, g1 = g[j - 1], g[j]
    t = (g0 - floor) / (g0 - g1) if g0 > g1 else 0.0
    return float(d[j - 1] + t * (d[j] - d[j - 1]))


def strip_from_design(design: Design, calibration, *, floor: float = STRIP_FLOOR,
                      classes: tuple[str, ...] = CLASSES) -> dict[str, float]:
    """The strip's half-width (metres, rounded down to 0.5 m) per class for ``design`` under
    ``calibration`` (the one the estimate uses: card or review): where the design's detection
    function g(d) = pi(d) / max pi falls under ``floor`` (``inclusion_by_distance``)."""
    out = {}
    for name in classes:
        d, pi = inclusion_by_distance(design, calibration, class_name=name)
        out[name] = float(np.floor(strip_edge(d, pi, floor=floor) * 2.0) / 2.0)
    return out


def inclusion_at(design: Design, calibration, *, distance_m: float, class_name: str = "directed") -> float:
    """pi of a camera of ``class_name`` at ``distance_m`` metres from a straight street
    surveyed by ``design`` (``inclusion_by_distance`` at one distance)."""
    return float(inclusion_by_distance(design, calibration, class_name=class_name,
                                       distances_m=np.array([float(distance_m)]))[1][0])


def reference_inclusion(design: Design, calibration, *, classes: tuple[str, ...] = CLASSES) -> dict[str, float]:
    """pi_ref per class: the design's best inclusion probability (max over distance), the scale of
    the small-pi floor (``MIN_INCLUSION`` x pi_ref)."""
    return {name: float(inclusion_by_distance(design, calibration, class_name=name)[1].max()) for name in classes}


def relative_se_from_design(design: Design, calibration, *, cameras_per_km: float, road_km: float,
                            strip_m: dict[str, float] | None = None, class_share: dict[str, float] | None = None,
                            min_distance_m: float = 3.0) -> float:
    """Predicted relative SE (CV) of the strip's total from the design alone: the
    Horvitz-Thompson variance of Poisson sampling, sum over the population of (1 - pi) / pi, with
    ``cameras_per_km`` x ``road_km`` cameras in the strip spread evenly over distance from
    ``min_distance_m`` to the strip's edge (``strip_m`` per class, default ``strip_from_design``)
    and over the classes (``class_share``, default equal). The calibration's own uncertainty is
    not included. Inf when the design cannot see anything."""
    strip_m = strip_m or strip_from_design(design, calibration)
    share = class_share or {c: 1.0 / len(strip_m) for c in strip_m}
    n = float(cameras_per_km) * float(road_km)
    if n <= 0:
        return float("inf")
    var = 0.0
    for name, width in strip_m.items():
        if share.get(name, 0.0) <= 0:
            continue
        d, pi = inclusion_by_distance(design, calibration, class_name=name)
        keep = (d >= min(min_distance_m, width)) & (d <= max(width, d[0]))
        p = pi[keep]
        if len(p) == 0 or np.any(p <= 0):
            return float("inf")
        var += n * share[name] * float(np.mean((1.0 - p) / p))
    return float(np.sqrt(var) / n)
