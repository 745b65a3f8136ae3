"""Plan a survey before any imagery is fetched: for each design, the images it needs, the strip
it can speak for and the predicted 95% interval of its estimate.

A design (``Design``) is the sampling (systematic every ``spacing_m`` metres, or Stanford-style
random points, one per ``spacing_m`` metres of street on average), the sides looked at (``both``;
``one``, the same side of every street; ``random``, one side per point at random), the view's
horizontal field of view ``fov`` (degrees) and ``pitch`` (degrees up), and the street network.

The prediction uses the estimator's own model (``geo.counting.inclusion`` and
``geo.counting.estimate``) on an assumed population of cameras:

- cameras are placed as the simulator places ``random:D`` cameras (``geo.sim.scene``: on the first
  facade within 25 m on a random side of the street, else on a pole at the kerb) along the area's
  streets, ``population_per_km`` of them per km, enough for stable averages; the assumed density
  only scales them (the estimate's variance is a sum over cameras);
- every camera's inclusion probability pi comes from the views that could show it (field of view,
  range, OSM footprints and wall facing: ``geo.counting.inclusion.view_pairs``), each detecting it
  with the calibration's recall at the box size it would have there, times the visibility by
  range; pitch shifts the vertical field of view (mounts ``RISE_RANGE_M`` above the eye) and the
  focal length along the ray. Views are computed once, on a dense base grid (a point every
  ``base_step_m`` metres, both sides, fov 90); a design picks its points from it:
  systematic spacing k x step averages over the k positions of its grid (the grid's start),
  random points average over where points fall (the binomial chance that one of n points
  lands where it sees the camera), and ``random`` sides over the side chosen per point;
- the strip is, per class, the largest distance from a straight street at which the design's
  inclusion probability stays at or above ``STRIP_FLOOR`` (0.15: distance sampling's usual
  truncation, where g(w) is about 0.15);
- the variance has the estimator's three parts: encounter (Horvitz-Thompson with known pi,
  sum over the population of (1 - pi) / pi with pi floored at ``MIN_INCLUSION``, plus which
  located cameras are real: q (1 - q) / pi^2 over the single-detection cameras, false detections
  being a rate per image), precision (the false-detection rate's sampling error) and recall
  (each size bin's Beta posterior SD through the derivative of pi); a log-normal interval with
  Satterthwaite degrees of freedom (``geo.counting.estimate.lognormal_interval``).

The reported half-width is (hi - lo) / 2 / estimate, in % of the estimate.

``plan_area`` builds what does not depend on the design (network, buildings, population, base
views) once; ``design_prediction`` answers one design in milliseconds to a second.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from itertools import product

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.counting.calibration import Calibration, calibration_from_dict, calibration_from_rates
from geo.counting.heterogeneity import CAMERA_LOGIT_SD, effect_nodes, expit, logit_shift
from geo.counting.inclusion import (EFFECT_NODES, MIN_INCLUSION, box_size_m, street_distance,
                                    view_geometry, view_pairs, visibility_by_range)
from geo.errors import GeoInputError

METHODS = ("systematic", "random")
SIDES = ("both", "one", "random")
NETWORKS = ("drive", "all")
STRIP_FLOOR = 0.15  # inclusion probability at the strip's edge (distance sampling's truncation)
BASE_STEP_M = 2.5  # the base grid's spacing; systematic spacings are multiples of it
IMAGE_PX = 640  # square images, as every provider serves them here
POPULATION_PER_KM = 40.0  # assumed cameras per km placed for the averages (scaled to the density)
CLASSES = ("directed", "dome")


@dataclass(frozen=True)
class Design:
    """One survey design. ``spacing_m``: metres between points (systematic) or metres of street
    per point (random: n = road length / spacing); ``sides``: both, one (the same side of each
    street) or random (one side per point); ``fov`` and ``pitch`` in degrees; ``network``: drive
    or all."""

    method: str = "systematic"
    spacing_m: float = 20.0
    sides: str = "both"
    fov: float = 90.0
    pitch: float = 0.0
    network: str = "drive"

    def __post_init__(self) -> None:
        check_design(self)

    @property
    def views_per_point(self) -> int:
        return 2 if self.sides == "both" else 1

    def label(self) -> str:
        return (f"{self.method} {self.spacing_m:g} m, {self.sides} side{'s' if self.sides == 'both' else ''}, "
                f"fov {self.fov:g}, pitch {self.pitch:g}, {self.network}")

    def survey_options(self, *, road_m: float) -> dict:
        """The ``camcensus survey`` options (``SurveyOptions`` names) that run this design on
        streets of ``road_m`` metres."""
        out = {"network": self.network, "method": self.method, "spacing": float(self.spacing_m),
               "n": None, "sides": {"one": "left"}.get(self.sides, self.sides), "fov": float(self.fov),
               "pitch": float(self.pitch)}
        if self.method == "random":
            out["n"] = points_for_design(np.array([road_m]), self)
        return out

    def command_args(self, *, road_m: float) -> list[str]:
        """The same as ``camcensus survey`` command-line arguments."""
        args = []
        for name, value in self.survey_options(road_m=road_m).items():
            if value is None or (name == "spacing" and self.method == "random"):
                continue
            args += [f"--{name.replace('_', '-')}", f"{value:g}" if isinstance(value, float) else str(value)]
        return args


def check_design(design: Design) -> None:
    """GeoInputError (one line) for a design outside what the planner models."""
    if design.method not in METHODS:
        raise GeoInputError(f"unknown method '{design.method}': choose systematic or random")
    if design.sides not in SIDES:
        raise GeoInputError(f"unknown sides '{design.sides}': choose both, one or random")
    if design.network not in NETWORKS:
        raise GeoInputError(f"unknown network '{design.network}': choose drive or all")
    if not 30.0 <= design.fov <= 120.0:
        raise GeoInputError(f"fov must be 30-120 degrees, got {design.fov:g}")
    if not 0.0 <= design.pitch < design.fov / 2.0:
        raise GeoInputError(f"pitch must be 0 to half the fov (degrees up), got {design.pitch:g}")
    if not design.spacing_m > 0:
        raise GeoInputError(f"spacing must be a positive number of metres, got {design.spacing_m:g}")
    if design.method == "systematic":
        k = design.spacing_m / BASE_STEP_M
        if abs(k - round(k)) > 1e-6 or round(k) < 1:
            raise GeoInputError(f"systematic spacing must be a multiple of {BASE_STEP_M:g} m, got "
                                f"{design.spacing_m:g}")


def designs_from_grid(*, methods=("systematic", "random"), spacings=(10.0, 20.0, 30.0, 40.0, 60.0),
                      sides=("both", "random"), fovs=(60.0, 90.0), pitches=(0.0, 10.0),
                      networks=("drive",)) -> list[Design]:
    """Every combination of the given options as designs (spacings in metres, angles in degrees)."""
    return [Design(method=m, spacing_m=float(s), sides=d, fov=float(f), pitch=float(p), network=n)
            for n, m, s, d, f, p in product(networks, methods, spacings, sides, fovs, pitches)]


def points_for_design(lengths_m: np.ndarray, design: Design) -> int:
    """Points a design samples on streets of ``lengths_m`` metres: floor(length / spacing) + 1 per
    street for systematic designs (``geo.streets.sampling.offsets_systematic``), road / spacing for
    random ones."""
    lengths_m = np.asarray(lengths_m, float)
    if design.method == "systematic":
        return int(np.sum(np.floor(lengths_m / design.spacing_m) + 1))
    return max(1, int(round(float(lengths_m.sum()) / design.spacing_m)))


def images_for_design(lengths_m: np.ndarray, design: Design) -> int:
    """Images (views) a design fetches on streets of ``lengths_m`` metres."""
    return points_for_design(lengths_m, design) * design.views_per_point


def cost_usd(images: int, *, price_per_1000: float, free_images: int = 0) -> float:
    """Imagery cost in US dollars at ``price_per_1000`` per 1,000 images beyond ``free_images``."""
    return max(int(images) - int(free_images), 0) * float(price_per_1000) / 1000.0


# --- the design-independent part ---------------------------------------------------------------

@dataclass
class BasePairs:
    """Camera / base-view pairs that could show the camera at fov 90 (the widest planned):
    per pair the camera, the base view's unit (point x 2 + side, side 0 left, 1 right), its
    street's grid rank, horizontal range (m), off-axis angle (deg) and the footprints' verdict
    (pairs blocked by a building or a grazing wall are left out); with the streets' lengths and
    the base grid's first offsets, for the sampler's start distribution (``design_inclusion``)."""

    cam: np.ndarray
    point: np.ndarray
    side: np.ndarray
    rank: np.ndarray
    range_m: np.ndarray
    off_deg: np.ndarray
    n_cameras: int
    n_points: int
    street: np.ndarray | None = None  # per pair: the street of its point
    street_length_m: np.ndarray | None = None  # per street
    street_first_m: np.ndarray | None = None  # per street: the base grid's first offset (m)
    cam_street: np.ndarray | None = None  # per camera: its own (nearest) street
    cam_along_m: np.ndarray | None = None  # per camera: metres along that street


@dataclass
class PlanArea:
    """What a plan needs of an area, whatever the design: its streets (projected, lengths in m),
    the assumed camera population (projected xy, class, distance to the nearest street, m) and
    the base views' pairs with it."""

    name: str
    network: str
    lengths_m: np.ndarray
    cam_class: np.ndarray
    cam_distance_m: np.ndarray
    population_per_km: float
    pairs: BasePairs
    base_step_m: float = BASE_STEP_M
    timings: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict, repr=False)  # view geometry by (fov, pitch)

    @property
    def road_m(self) -> float:
        return float(self.lengths_m.sum())

    @property
    def road_km(self) -> float:
        return self.road_m / 1000.0


def base_views(streets: gpd.GeoDataFrame, *, step_m: float = BASE_STEP_M, seed: int = 0
               ) -> tuple[pd.DataFrame, np.ndarray]:
    """The base grid's views (x, y, heading_grid, fov 90, width, height, share; view 2i left and
    2i + 1 right of point i) on projected ``streets``, and each point's rank along its street;
    ``views.attrs``: ``street`` (per point), ``street_length_m`` and ``street_first_m`` (per
    street: its length and the grid's first offset, m)."""
    from geo.streets.sampling import StreetPolylines, offsets_systematic

    lines = StreetPolylines.from_geometries(streets.geometry.to_numpy())
    street, offset = offsets_systematic(lines.street_length, spacing=step_m, rng=np.random.default_rng([seed, 5]))
    xy, bearing = lines.locate(street, offset)
    first = np.searchsorted(street, np.arange(len(lines.street_length)))
    rank = np.arange(len(street)) - first[street]
    n = len(street)
    heading = np.column_stack([bearing - 90.0, bearing + 90.0]).ravel() % 360.0
    views = pd.DataFrame({"x": np.repeat(xy[:, 0], 2), "y": np.repeat(xy[:, 1], 2), "heading_grid": heading,
                          "fov": 90.0, "width": float(IMAGE_PX), "height": float(IMAGE_PX), "share": 1.0})
    assert len(views) == 2 * n
    first_m = np.zeros(len(lines.street_length))
    first_m[street[::-1]] = offset[::-1]  # the smallest offset of each street (offsets rise along it)
    views.attrs.update(street=street, street_length_m=np.asarray(lines.street_length, float), street_first_m=first_m)
    return views, rank


def base_pairs(cam_xy: np.ndarray, tangent: np.ndarray, views: pd.DataFrame, rank: np.ndarray, *,
               buildings: gpd.GeoDataFrame | None) -> BasePairs:
    """The pairs of ``base_views`` that could show each camera (``geo.counting.inclusion.view_pairs``
    at fov 90, no grid shift), with their off-axis angle."""
    pairs = view_pairs(cam_xy, tangent, views, spacing_m=0.0, buildings=buildings, n_shifts=1)
    vj = pairs.view
    dx = cam_xy[pairs.cam, 0] - views["x"].to_numpy()[vj]
    dy = cam_xy[pairs.cam, 1] - views["y"].to_numpy()[vj]
    off = (np.degrees(np.arctan2(dx, dy)) - views["heading_grid"].to_numpy()[vj] + 180.0) % 360.0 - 180.0
    point = vj // 2
    street = views.attrs.get("street")
    return BasePairs(pairs.cam, point, vj % 2, rank[point], pairs.range_m, off, len(cam_xy), len(rank),
                     street=None if street is None else np.asarray(street)[point],
                     street_length_m=views.attrs.get("street_length_m"),
                     street_first_m=views.attrs.get("street_first_m"))


def plan_area(area: str, *, network: str = "drive", population_per_km: float = POPULATION_PER_KM,
              seed: int = 0, base_step_m: float = BASE_STEP_M, population_network: str = "drive") -> PlanArea:
    """The design-independent part of a plan of ``area`` (an area spec, as ``--area``): its
    ``network``, OSM buildings, an assumed population of cameras placed as the simulator's
    ``random:D`` (``population_per_km`` per km of the ``population_network``'s streets: densities
    are per km of drive streets whichever network the views are taken from) and the base
    views' pairs."""
    import time

    from geo.sim.features import buildings_from_area
    from geo.sim.scene import scene_from_area
    from geo.streets.area import area_from_spec
    from geo.streets.network import graph_from_area, streets_from_graph

    if network not in NETWORKS:
        raise GeoInputError(f"unknown network '{network}': choose drive or all")
    clock = time.perf_counter()
    spec = area_from_spec(area)
    graph = graph_from_area(spec, network_type=network)
    streets = streets_from_graph(graph)
    if len(streets) == 0:
        raise GeoInputError(f"no streets in {area}")
    timings = {"network_s": time.perf_counter() - clock}
    clock = time.perf_counter()
    pop_graph = graph if population_network == network else graph_from_area(spec, network_type=population_network)
    scene = scene_from_area(spec, graph=pop_graph, sim_cameras=f"random:{population_per_km:g}", seed=seed)
    pop_km = float(streets_from_graph(pop_graph).geometry.length.sum()) / 1000.0
    try:
        buildings = buildings_from_area(spec).to_crs(streets.crs)
    except GeoInputError:
        buildings = None
    timings["population_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    out = plan_area_from_frames(streets, scene.cameras[["x", "y"]].to_numpy(float), scene.cameras["class_name"],
                                buildings=buildings, name=str(area), network=network, seed=seed,
                                base_step_m=base_step_m, population_km=pop_km)
    timings["pairs_s"] = time.perf_counter() - clock
    out.timings = timings
    return out


def plan_area_from_frames(streets: gpd.GeoDataFrame, cam_xy: np.ndarray, cam_class, *,
                          buildings: gpd.GeoDataFrame | None = None, name: str = "streets", network: str = "drive",
                          seed: int = 0, base_step_m: float = BASE_STEP_M, population_km: float | None = None
                          ) -> PlanArea:
    """A ``PlanArea`` from projected ``streets``, an assumed population of cameras (``cam_xy`` m in
    the streets' CRS, ``cam_class`` per camera; placed along ``population_km`` km of streets,
    default the streets' own length) and optional ``buildings`` (same CRS)."""
    cam_xy = np.asarray(cam_xy, float).reshape(-1, 2)
    dist, near, tangent = street_distance(cam_xy, streets)
    views, rank = base_views(streets, step_m=base_step_m, seed=seed)
    pairs = base_pairs(cam_xy, tangent, views, rank, buildings=buildings)
    if len(cam_xy) and len(streets):
        import shapely

        pairs.cam_street = near
        pairs.cam_along_m = shapely.line_locate_point(streets.geometry.to_numpy()[near], shapely.points(cam_xy))
    lengths = streets.geometry.length.to_numpy(float)
    return PlanArea(name=name, network=network, lengths_m=lengths, cam_class=np.asarray(cam_class).astype(str),
                    cam_distance_m=dist, population_per_km=len(cam_xy) / (population_km or lengths.sum() / 1000.0),
                    pairs=pairs, base_step_m=base_step_m)


# --- detection and inclusion of a design --------------------------------------------------------

def _pair_terms(area: PlanArea, size_edges: np.ndarray, *, fov: float, pitch: float
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per base pair in a view of ``fov`` and ``pitch``: the two recall bins its box size falls
    between and the weight of the second (``geo.counting.calibration.recall_at``), and the factor
    recall is multiplied by (inside x vertical share x visibility). Cached on ``area``."""
    from geo.counting.calibration import size_centres

    key = (float(fov), float(pitch), tuple(np.asarray(size_edges, float)))
    if key not in area.cache:
        pairs = area.pairs
        inside, scale, reach = view_geometry(pairs.range_m, pairs.off_deg, fov=fov, pitch=pitch)
        size = box_size_m(area.cam_class)[pairs.cam] * scale
        centres = np.log(size_centres(np.asarray(size_edges, float)))
        pos = np.clip(np.interp(np.log(np.maximum(size, 1e-3)), centres, np.arange(len(centres), dtype=float)),
                      0, len(centres) - 1)
        i0 = np.floor(pos).astype(np.int64)
        i1 = np.minimum(i0 + 1, len(centres) - 1)
        rest = np.where(inside, reach * visibility_by_range(pairs.range_m), 0.0)
        area.cache[key] = (i0, i1, pos - i0, rest)
    return area.cache[key]


def pair_detection(pairs: BasePairs, box_m: np.ndarray, recall_at, *, fov: float, pitch: float,
                   width: float = IMAGE_PX, height: float = IMAGE_PX) -> np.ndarray:
    """P(detected) of each base pair in a view of ``fov`` and ``pitch`` (degrees): 0 outside the
    horizontal field of view; else the recall (``recall_at(size_px)``) at the box size
    ``box_m[cam]`` x scale, times the share of mounts inside the vertical field of view
    (``view_geometry``), times the visibility by range
    (``geo.counting.inclusion.visibility_by_range``)."""
    inside, scale, reach = view_geometry(pairs.range_m, pairs.off_deg, fov=fov, pitch=pitch, width=width,
                                         height=height)
    p = recall_at(box_m[pairs.cam] * scale) * reach * visibility_by_range(pairs.range_m)
    return np.where(inside, np.clip(p, 0.0, 1.0 - 1e-12), 0.0)


def design_inclusion(pairs: BasePairs, p: np.ndarray, design: Design, *, road_m: float,
                     base_step_m: float = BASE_STEP_M, sd: float = CAMERA_LOGIT_SD,
                     factor: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(pi, p1) per camera: the inclusion probability over the design's randomization and the
    probability of exactly one detection (a single-detection camera), from the base pairs'
    detection probabilities ``p`` (marginal per view; with ``factor``, ``p`` is the recall,
    which carries the camera's effect, and ``factor`` what multiplies it outside the effect).

    Units: each view for ``both`` sides, the left view for ``one``, the point for ``random``
    sides (detection (p_left + p_right) / 2). A camera's units share its logit effect on recall
    (SD ``sd``, ``geo.counting.heterogeneity``): every figure is an average over it.
    Systematic spacing k x step, as the estimator's inclusion (``geo.counting.inclusion.
    shift_range_on_streets``): cameras lie anywhere relative to the grid, so on its own street,
    away from the ends (one spacing), the mean is over all k phases of the base grid (rank mod
    k); near a street's ends, and for the other streets near it (junctions: their ends), over
    the phases the sampler's start can take (uniform on [0, slack], slack = L - floor(L / s) s,
    ``geo.streets.sampling.offsets_systematic``), each street's independently: P(miss) = prod over
    the camera's streets of the mean over their phases of prod(1 - p_u). Random: n = road /
    spacing points placed uniformly, each a base unit with
    probability step / road: P(none) = (1 - sum_u p_u step / road)^n."""
    units = _design_units(pairs, design)
    f = np.ones(len(p)) if factor is None else np.asarray(factor, float)
    draws = [(units.detection(f * pk), wk) for pk, wk in _effect_draws(np.clip(p, 0.0, 1.0 - 1e-12), sd)]
    if design.method == "systematic":
        k = max(1, int(round(design.spacing_m / base_step_m)))
        allowed = _allowed_phases(pairs, k, design.spacing_m, base_step_m)
        interior = own = None
        if pairs.cam_street is not None and pairs.street_length_m is not None:
            own = pairs.cam_street
            length = np.asarray(pairs.street_length_m, float)[own]
            interior = (pairs.cam_along_m >= design.spacing_m) & (pairs.cam_along_m <= length - design.spacing_m)
        return _systematic_inclusion(units, draws, pairs.n_cameras, k, allowed, interior=interior, own=own)
    n_points = road_m / design.spacing_m
    pi, p1 = np.zeros(pairs.n_cameras), np.zeros(pairs.n_cameras)
    for pu, wk in draws:
        share = np.clip(np.bincount(units.cam, pu, minlength=pairs.n_cameras) * base_step_m / road_m, 0.0, 1.0)
        pi += wk * (1.0 - (1.0 - share) ** n_points)
        p1 += wk * n_points * share * (1.0 - share) ** max(n_points - 1.0, 0.0)
    return pi, p1


@dataclass
class _Units:
    """The units that detect on their own (see ``design_inclusion``): each unit's camera, street
    and grid rank, and which pairs make it (``pair_unit``, with ``keep`` and their ``share``)."""

    cam: np.ndarray
    street: np.ndarray
    rank: np.ndarray
    pair_unit: np.ndarray
    keep: np.ndarray
    share: float

    def detection(self, p: np.ndarray) -> np.ndarray:
        """Each unit's detection probability from its pairs' ``p``."""
        pu = np.bincount(self.pair_unit, p[self.keep] * self.share, minlength=len(self.cam))
        return np.clip(pu, 0.0, 1.0 - 1e-12)


def _design_units(pairs: BasePairs, design: Design) -> _Units:
    """Each view for ``both`` sides; the left view for ``one``; the point for ``random`` sides
    (detection (p_left + p_right) / 2, each side's view with the camera's effect)."""
    street = pairs.street if pairs.street is not None else np.zeros(len(pairs.cam), np.int64)
    every = np.ones(len(pairs.cam), bool)
    if design.sides == "one":
        keep = pairs.side == 0
        return _Units(pairs.cam[keep], street[keep], pairs.rank[keep], np.arange(int(keep.sum())), keep, 1.0)
    if design.sides == "random":
        key = pairs.cam.astype(np.int64) * pairs.n_points + pairs.point
        uniq, inv = np.unique(key, return_inverse=True)
        rank, unit_street = np.zeros(len(uniq), np.int64), np.zeros(len(uniq), np.int64)
        rank[inv], unit_street[inv] = pairs.rank, street
        return _Units(uniq // pairs.n_points, unit_street, rank, inv, every, 0.5)
    return _Units(pairs.cam, street, pairs.rank, np.arange(len(pairs.cam)), every, 1.0)


def _allowed_phases(pairs: BasePairs, k: int, spacing_m: float, base_step_m: float) -> np.ndarray:
    """(streets, k) which phases of the base grid the sampler's start can take on each street:
    j with first + j x step within [0, slack] (to the nearest base point; at least phase 0);
    all k without the streets' lengths."""
    if pairs.street_length_m is None or pairs.street_first_m is None:
        n_streets = int(pairs.street.max()) + 1 if pairs.street is not None and len(pairs.street) else 1
        return np.ones((n_streets, k), bool)
    length = np.asarray(pairs.street_length_m, float)
    slack = length - np.floor(length / spacing_m + 1e-9) * spacing_m
    last = np.floor((slack - np.asarray(pairs.street_first_m, float)) / base_step_m + 0.5)
    return np.arange(k)[None, :] <= np.maximum(last, 0.0)[:, None]


def _effect_draws(p: np.ndarray, sd: float):
    """(p(u), weight) at the Gauss-Hermite nodes of the camera effect (one draw, p itself, at sd 0)."""
    if sd <= 0:
        yield p, 1.0
        return
    u, w = effect_nodes(sd, n=EFFECT_NODES)
    c = logit_shift(p, sd)
    for uk, wk in zip(u, w):
        yield np.where(p > 0, np.minimum(expit(c + uk), 1.0 - 1e-12), 0.0), wk


def _systematic_inclusion(units: _Units, draws: list, n_cameras: int, k: int, allowed: np.ndarray, *,
                          interior: np.ndarray | None = None, own: np.ndarray | None = None
                          ) -> tuple[np.ndarray, np.ndarray]:
    """(pi, p1) of a systematic design from its units' detection probabilities at each draw of
    the camera effect (``draws``: (p per unit, weight)): per (camera, street) group, the miss
    and one-detection chances averaged over the street's allowed phases (every phase on the
    camera's ``own`` street where it lies in its ``interior``), multiplied over the camera's
    streets, averaged over the draws."""
    width = int(units.street.max()) + 1 if len(units.street) else 1
    groups, g_inv = np.unique(units.cam.astype(np.int64) * width + units.street, return_inverse=True)
    g_cam, g_street = groups // width, groups % width
    ok = allowed[g_street]
    if interior is not None:  # its own street away from the ends: the grid anywhere in a spacing
        ok = ok | interior[g_cam, None] & (g_street == own[g_cam])[:, None]
    n_ok = ok.sum(axis=1)
    cell = g_inv * k + units.rank % k
    pi, p1 = np.zeros(n_cameras), np.zeros(n_cameras)
    for pu, wk in draws:
        miss_c = np.exp(np.bincount(cell, np.log1p(-pu), minlength=len(groups) * k)).reshape(-1, k)
        odds_c = np.bincount(cell, pu / (1.0 - pu), minlength=len(groups) * k).reshape(-1, k)
        miss_g = (miss_c * ok).sum(axis=1) / n_ok
        one_g = (miss_c * odds_c * ok).sum(axis=1) / n_ok
        miss = np.exp(np.bincount(g_cam, np.log(np.maximum(miss_g, 1e-300)), minlength=n_cameras))
        pi += wk * (1.0 - miss)
        p1 += wk * miss * np.bincount(g_cam, one_g / np.maximum(miss_g, 1e-300), minlength=n_cameras)
    return pi, p1


def estimator_design(design: Design, *, road_m: float):
    """The estimator's ``geo.counting.design.Design`` of a planned design on ``road_m`` metres of
    network (``one`` side: left)."""
    from geo.counting.design import Design as SurveyDesign

    n_points = points_for_design(np.array([road_m]), design) if design.method == "random" else 0
    return SurveyDesign(method=design.method, spacing_m=float(design.spacing_m), n_points=int(n_points),
                        network_m=float(road_m) if design.method == "random" else 0.0,
                        sides={"one": "left"}.get(design.sides, design.sides), fov=float(design.fov),
                        width=float(IMAGE_PX), height=float(IMAGE_PX), pitch=float(design.pitch))


def strip_for_design(design: Design, calibration: Calibration, *, road_m: float, floor: float = STRIP_FLOOR
                     ) -> tuple[dict[str, float], dict[str, float]]:
    """(strip half-width per class (m), the design's best inclusion probability per class): the
    estimator's own rule (``geo.counting.design``: where g(d) = pi(d) / max pi falls under
    ``floor`` beside a straight street, rounded down to 0.5 m; max pi scales its small-pi floor)."""
    from geo.counting.design import inclusion_by_distance, strip_edge

    survey_design = estimator_design(design, road_m=road_m)
    strips, best = {}, {}
    for name in CLASSES:
        d, pi = inclusion_by_distance(survey_design, calibration, class_name=name)
        strips[name] = float(np.floor(strip_edge(d, pi, floor=floor) * 2.0) / 2.0)
        best[name] = float(pi.max()) if len(pi) else 0.0
    return strips, best


# --- the prediction ----------------------------------------------------------------------------

def calibration_for_plan(calibration: Calibration | dict | None, *, precision: float = 0.9, recall: float = 0.7
                         ) -> Calibration:
    """A ``Calibration`` from a dict (a model card's or a review's) or scalar figures."""
    if isinstance(calibration, Calibration):
        return calibration
    if isinstance(calibration, dict) and calibration.get("precision_bins"):
        return calibration_from_dict(calibration)
    return calibration_from_rates(precision, recall)


def false_per_image(cal: Calibration) -> tuple[float, float]:
    """(false detections per image, its relative SE): the posterior mean and SD of the sum of the
    confidence bins' Gamma(false + 1/2, n_images) (``Calibration.false_rate_gamma``), else from
    the precision bins over the calibration's images; (0.01, 0.3) when it has neither."""
    if cal.false_n is not None and cal.false_images > 0:
        shape, rate = cal.false_rate_gamma()
        mean = float(np.sum(shape / rate))
        return mean, float(np.sqrt(np.sum(shape / rate ** 2))) / mean
    if cal.n_images:
        total = float(np.sum(cal.prec_n - cal.prec_real))
        return (total + 0.5) / cal.n_images, 1.0 / np.sqrt(total + 0.5)
    return 0.01, 0.3


def _mixture_reality(cal: Calibration, images: int, singles_real: float) -> tuple[float, float, float, float] | None:
    """The estimator's per-bin P(real) (``geo.counting.estimate.reality_by_bin``) at a design's
    expected singles: (mean P(real) of a real single over the bins it may fall in, the mean of its
    square, the Poisson false singles' variance and the false rate's (card per bin and transfer),
    both in squared false-single weights); None without a card's false rate or with the carry."""
    from geo.counting import estimate

    if not cal.uses_false_rate() or not estimate.REALITY_MIXTURE:
        return None
    share = cal.real_share()
    false_b = cal.false_rates() * float(images)
    q_b = estimate.reality_by_bin(singles_real * share, false_b, share)
    shape = cal.false_rate_gamma()[0]
    var_real = float(np.sum(false_b * q_b ** 2))
    var_prec = (float(np.sum((false_b * q_b) ** 2 / shape))
                + cal.false_level_sd() ** 2 * float(np.sum(false_b * q_b)) ** 2)
    return float(share @ q_b), float(share @ q_b ** 2), var_real, var_prec


@dataclass
class Prediction:
    """A design's predicted figures at an assumed density (see ``design_prediction``)."""

    design: Design
    images: int
    points: int
    strip_m: dict
    density_per_km: float
    cameras_in_strip: float
    estimate: float
    cv: float
    df: float
    lo: float
    hi: float
    ci_half_width_pct: float
    var_share: dict
    located: float
    floored_share: float

    def to_dict(self) -> dict:
        out = {**asdict(self.design), "label": self.design.label()}
        out.update({k: v for k, v in asdict(self).items() if k != "design"})
        return out


def design_prediction(area: PlanArea, design: Design, calibration: Calibration, *, density_per_km: float,
                      strip_m: dict | float | None = None, review: bool = False, false_rate: float | None = None,
                      level: float = 0.95, floor: float = MIN_INCLUSION,
                      strips: tuple[dict, dict] | None = None, road_km: float | None = None) -> Prediction:
    """Predicted estimate, CV and ``level`` interval of ``design`` on ``area`` at
    ``density_per_km`` cameras per km of street, with ``calibration`` (recall by size; false
    detections per image unless ``false_rate``). ``strip_m``: per class (dict) or one half-width
    (m); default ``strip_for_design`` (``strips``: its result, when already known). Inclusion
    probabilities are floored at ``floor`` x the design's best one for the class, as the
    estimator's small-pi rule does. ``review``: the survey is calibrated by a review of its own
    detections (precision known for the survey: only which singles are real is left, and no
    false-rate error), else by held-out figures (a model card). ``road_km``: predict for a city of
    that many km of streets like the area's (cameras, images and false detections scaled; the
    inclusion probabilities are the design's), default the area's own."""
    if not density_per_km > 0:
        raise GeoInputError(f"density must be a positive number of cameras per km, got {density_per_km:g}")
    if design.network != area.network:
        raise GeoInputError(f"design on the {design.network} network, area planned on {area.network}")
    curves = calibration.curves()
    auto, best = strips if strips is not None else strip_for_design(design, calibration, road_m=area.road_m)
    strips = auto if strip_m is None else strip_m
    if not isinstance(strips, dict):
        strips = {name: float(strips) for name in CLASSES}
    pairs = area.pairs
    i0, i1, t, rest = _pair_terms(area, curves.size_edges, fov=design.fov, pitch=design.pitch)

    def detection(rates: np.ndarray) -> np.ndarray:  # recall of pair_detection, linear in the recall rates
        return np.clip(rates[i0] * (1.0 - t) + rates[i1] * t, 0.0, 1.0 - 1e-12)

    def inclusion(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return design_inclusion(pairs, r, design, road_m=area.road_m, base_step_m=area.base_step_m, factor=rest)

    p0 = detection(curves.recall)
    pi, p1 = inclusion(p0)
    limit = np.array([strips.get(str(c), strips.get("default", 20.0)) for c in area.cam_class], float)
    in_strip = area.cam_distance_m <= limit
    factor = 1.0 if road_km is None else float(road_km) / area.road_km
    scale = density_per_km / area.population_per_km * factor
    images = int(round(images_for_design(area.lengths_m, design) * factor))
    points = int(round(points_for_design(area.lengths_m, design) * factor))
    pf = np.maximum(pi, floor * np.array([best.get(str(c), 1.0) for c in area.cam_class], float))
    s_pi, s_pf, s_p1 = pi[in_strip], pf[in_strip], p1[in_strip]
    est = scale * float(np.sum(s_pi / s_pf))
    truth = scale * float(in_strip.sum())
    var_ht = scale * float(np.sum(s_pi * (1.0 - s_pf) / s_pf ** 2))
    # which located cameras are real: false detections (a rate per image) become single cameras
    rate, rate_rel_se = false_per_image(calibration) if false_rate is None else (float(false_rate), 0.0)
    n_false = rate * images
    singles_real = scale * float(np.sum(p1))
    q = singles_real / (singles_real + n_false) if singles_real + n_false > 0 else 1.0
    located = scale * float(np.sum(s_pi))
    mean_pf = float(np.sum(s_pi * s_pf) / max(np.sum(s_pi), 1e-12)) if located > 0 else 1.0
    w2_real = scale * float(np.sum(s_p1 / s_pf ** 2))
    w1_real = scale * float(np.sum(s_p1 / s_pf))
    w2_false, w1_false = n_false / mean_pf ** 2, n_false / mean_pf
    mixture = None if review or false_rate is not None else _mixture_reality(calibration, images, singles_real)
    if review:  # within-bin allocation only: which of the singles are real
        n_singles = singles_real + n_false
        spread = w2_real + w2_false - (w1_real + w1_false) ** 2 / max(n_singles, 1.0)
        var_real = q * (1.0 - q) * max(spread, 0.0)
        var_prec = 0.0
    elif mixture is not None:  # P(real) per confidence bin, as the estimator's (issue 27)
        q, q2, var_real, var_prec = mixture
        var_real, var_prec = var_real / mean_pf ** 2, var_prec / mean_pf ** 2
        # a real single moves the estimate by q_B c, its bin B a draw from the real share: E q_B^2 c^2
        c = 1.0 / s_pf
        var_ht -= scale * float(np.sum(s_p1 * (1.0 - q2) * c ** 2 - (s_pi * c) ** 2
                                       + (s_p1 * q * c + (s_pi - s_p1) * c) ** 2))
        var_ht = max(var_ht, 0.0)
    else:
        var_real = q * (1.0 - q) * (w2_real + w2_false)
        # the false rate's error: each false detection too many removes a single's weight
        w_single = (w1_real + w1_false) / max(singles_real + n_false, 1e-12)
        var_prec = (n_false * rate_rel_se * w_single) ** 2
        # a camera found as a single moves the estimate by q c + (1 - q) c_bar, not its weight c
        # (geo.counting.estimate.found_response): the found variance of that share of its finds
        c = 1.0 / s_pf
        a = q * c + (1.0 - q) * w_single
        var_ht -= scale * float(np.sum(s_p1 * (c ** 2 - a ** 2)
                                       - (s_pi * c) ** 2 + (s_p1 * a + (s_pi - s_p1) * c) ** 2))
        var_ht = max(var_ht, 0.0)
    # recall: each size bin's Beta posterior SD through d pi / d recall_b (a difference of 0.01)
    q_cam = 1.0 - (1.0 - q) * s_p1 / np.maximum(s_pi, 1e-12)
    var_rec = _predicted_recall_variance(calibration, curves.recall, lambda r: inclusion(detection(r))[0], pi,
                                         touched=lambda j: ((i0 == j) | (i1 == j)).any(), in_strip=in_strip,
                                         weight=scale * np.where(s_pi >= s_pf, s_pi * q_cam / s_pf ** 2, 0.0),
                                         transfer_sd=0.0 if review else calibration.recall_level_sd())
    var_enc = var_ht + var_real
    comps = np.array([var_enc, var_prec, var_rec])
    cv, df, lo, hi, half = _predicted_interval(est, comps, calibration, located=located, level=level,
                                               additive=0.0 if review else var_real + var_prec)
    total = float(comps.sum()) or 1.0
    return Prediction(design=design, images=images, points=points, strip_m={k: float(v) for k, v in strips.items()},
                      density_per_km=float(density_per_km), cameras_in_strip=truth, estimate=est, cv=cv, df=df,
                      lo=lo, hi=hi, ci_half_width_pct=float(half),
                      var_share={"encounter": var_enc / total, "precision": var_prec / total,
                                 "recall": var_rec / total},
                      located=located, floored_share=float(np.mean(s_pi < s_pf)) if in_strip.any() else 0.0)


def _predicted_recall_variance(calibration: Calibration, recall: np.ndarray, inclusion_of, pi: np.ndarray, *,
                               touched, in_strip: np.ndarray, weight: np.ndarray, transfer_sd: float = 0.0) -> float:
    """Sum over size bins of (d total / d recall_b x the bin's Beta posterior SD)^2, d pi by a
    difference of 0.01 on the bin's recall (``inclusion_of(rates) -> pi``), d total = sum over the
    cameras in the strip of ``weight`` x d pi; bins no pair ``touched`` are skipped. Plus the
    card's transfer to the survey, one logit shift of every bin with SD ``transfer_sd``
    (``geo.counting.calibration.transfer_variance``, as the estimator carries it)."""
    from geo.counting.calibration import transfer_variance

    a, b = calibration.recall_beta()
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    slopes = np.zeros(len(sd))
    for j in range(len(sd)):
        if not touched(j):
            continue
        h = -0.01 if recall[j] > 0.5 else 0.01
        moved = np.asarray(recall, float).copy()
        moved[j] += h
        grad = (inclusion_of(moved) - pi)[in_strip] / h
        slopes[j] = float(np.sum(weight * grad))
    var_rec = float(np.sum((slopes * sd) ** 2))
    return var_rec + (float(transfer_variance(slopes, recall, transfer_sd)) if transfer_sd > 0 else 0.0)


def _predicted_interval(est: float, comps: np.ndarray, calibration: Calibration, *, located: float, level: float,
                        additive: float = 0.0, found: float | None = None) -> tuple[float, float, float, float, float]:
    """(cv, df, lo, hi, half-width %) of a predicted estimate from its variance components
    (encounter, precision, recall), as ``geo.counting.estimate.strip_interval`` makes them:
    ``additive`` (cameras^2, part of them) is the false detections' additive part of a card's
    estimate (``geo.counting.estimate.interval_additive_part``). Satterthwaite df: the encounter
    (``found``, cameras^2, default ``comps[0]``), estimated from the located cameras' weights, has
    located - 1; the precision and recall terms, posteriors' SDs, infinite df."""
    from geo.counting.estimate import interval_additive_part, satterthwaite_df

    if not est > 0:
        return float("inf"), 1.0, 0.0, float("inf"), float("inf")
    found = float(comps[0]) if found is None else float(found)
    parts = np.array([found, max(float(np.sum(comps)) - found, 0.0)])
    cvs = np.sqrt(parts) / est
    dfs = np.array([max(located - 1.0, 1.0), np.inf])
    df = float(satterthwaite_df(cvs[None, :], dfs[None, :])[0])
    cv = float(np.sqrt(np.sum(comps)) / est)
    scaled = max(float(np.sum(comps)) - additive, 0.0)
    lo, hi = interval_additive_part(np.array([est]), np.array([scaled]), np.array([additive]), df, level=level,
                                    df_additive=df)
    return cv, df, float(lo[0]), float(hi[0]), float((hi[0] - lo[0]) / 2.0 / est * 100.0)


def predictions_for_designs(areas: dict[str, PlanArea], designs: list[Design], calibration: Calibration, *,
                            density_per_km: float, review: bool = False) -> list[Prediction]:
    """``design_prediction`` of each design on its network's ``PlanArea`` (``areas`` by network)."""
    strips: dict = {}
    out = []
    for design in designs:
        area = areas[design.network]
        key = (design.method, design.spacing_m, design.sides, design.fov, design.pitch, design.network)
        if key not in strips:
            strips[key] = strip_for_design(design, calibration, road_m=area.road_m)
        out.append(design_prediction(area, design, calibration, density_per_km=density_per_km,
                                     strips=strips[key], review=review))
    return out


def images_needed(area: PlanArea, design: Design, calibration: Calibration, *, target_pct: float,
                  density_per_km: float, road_km: float | None = None, review: bool = False,
                  correction: float = 1.0) -> tuple[float, Prediction | None]:
    """(images, prediction) of the sparsest version of ``design`` (its spacing varied: any for a
    random design, multiples of the base step for a systematic one) whose predicted half-width
    times ``correction`` (a measured / predicted ratio) is at most ``target_pct``; (inf, None)
    when even a point every base step does not reach it."""
    def half(spacing: float) -> Prediction:
        d = replace(design, spacing_m=float(spacing))
        return design_prediction(area, d, calibration, density_per_km=density_per_km, road_km=road_km, review=review)

    if design.method == "systematic":
        best = None
        for k in range(1, 121):
            pred = half(k * area.base_step_m)
            if pred.ci_half_width_pct * correction <= target_pct:
                best = pred
            elif best is not None and k > 8:
                break
        return (float(best.images), best) if best is not None else (float("inf"), None)
    lo, hi = np.log(area.base_step_m), np.log(2000.0)
    if half(np.exp(lo)).ci_half_width_pct * correction > target_pct:
        return float("inf"), None
    for _ in range(40):  # bisection on log spacing: the half-width grows with the spacing
        mid = (lo + hi) / 2
        if half(np.exp(mid)).ci_half_width_pct * correction <= target_pct:
            lo = mid
        else:
            hi = mid
    pred = half(np.exp(lo))
    return float(pred.images), pred


def recommend(predictions: list[Prediction], *, target_pct: float | None = None, budget_images: int | None = None,
              tolerance_pct: float = 1.0) -> Prediction | None:
    """The cheapest design (fewest images) whose half-width is at most ``target_pct``; or, with
    ``budget_images``, the narrowest interval within that many images. Designs within
    ``tolerance_pct`` percentage points of the best interval at that cost count as equal; of
    those, the plainest wins (pitch 0 first, then the widest fov). None when no design qualifies."""
    if target_pct is not None:
        ok = [p for p in predictions if p.ci_half_width_pct <= target_pct]
        if not ok:
            return None
        fewest = min(p.images for p in ok)
        ok = [p for p in ok if p.images == fewest]
    elif budget_images is not None:
        ok = [p for p in predictions if p.images <= budget_images]
        if not ok:
            return None
    else:
        raise GeoInputError("give a target half-width or a budget")
    return plainest(ok, tolerance_pct=tolerance_pct)


def plainest(predictions: list[Prediction], *, tolerance_pct: float = 1.0) -> Prediction:
    """Of ``predictions``, those within ``tolerance_pct`` percentage points of the narrowest
    interval, then the fewest images, pitch 0, the widest fov."""
    best = min(p.ci_half_width_pct for p in predictions)
    near = [p for p in predictions if p.ci_half_width_pct <= best + tolerance_pct]
    return min(near, key=lambda p: (p.images, p.design.pitch, -p.design.fov, p.ci_half_width_pct))


# --- which designs measure their own recall (issue 26; geo.counting.recapture) ------------------

UNSEEN_LEVEL = -3.5  # logit shift of the card's recall that the plan assumes for unseen imagery (held-out look: -4.4)
PLAN_SPACINGS_M = (5.0, 10.0, 20.0)  # systematic spacings (m) plan tries for self-calibration


def self_calibration_for_plan(area, *, calibration: Calibration, cameras_per_km: float,
                              spacings: tuple[float, ...] = PLAN_SPACINGS_M, level: float = UNSEEN_LEVEL,
                              n_reps: int = 2, seed: int = 0) -> list[dict]:
    """For ``camcensus plan``: per systematic spacing (metres; both sides, fov 90, pitch 0), whether
    a survey of the planned ``area`` (``geo.counting.planning.PlanArea``: its assumed cameras and
    base views) would measure its own recall when the card does not carry (``level``: the card's
    recall shifted by ``UNSEEN_LEVEL`` logits), and how wide that measurement is: ``n_reps``
    simulated surveys (a random grid start each, cameras thinned to ``cameras_per_km``) fitted
    with a flat prior; the median 95% recall-ratio interval (lo, hi, width factor) and share of
    located cameras seen in two or more views. ``self_calibrates``: width factor at most
    ``INFORMATIVE_WIDTH``."""
    from geo.counting.inclusion import visibility_by_range
    from geo.counting.recapture import INFORMATIVE_WIDTH, LEVEL_GRID, drawn_histories, fit_level

    rng = np.random.default_rng(seed)
    pairs = area.pairs
    inside, scale, reach = view_geometry(pairs.range_m, pairs.off_deg, fov=90.0, pitch=0.0)
    size = box_size_m(area.cam_class)[pairs.cam] * scale
    other = np.where(inside, reach * visibility_by_range(pairs.range_m), 0.0)
    thin = min(1.0, cameras_per_km / max(area.population_per_km, 1e-9))
    grid = LEVEL_GRID[::2]
    out = []
    for spacing in spacings:
        k = max(1, int(round(spacing / area.base_step_m)))
        figs = []
        for _ in range(n_reps):
            keep_cam = rng.random(pairs.n_cameras) < thin
            keep = (pairs.rank % k == rng.integers(k)) & (other > 0) & keep_cam[pairs.cam]
            h = drawn_histories(pairs.cam[keep], size[keep], other[keep], pairs.n_cameras, cal=calibration,
                                 level=level, rng=rng)
            if h.n_cameras:
                fit = fit_level(h, calibration, prior_sd=1e6, grid=grid)
                figs.append((fit.recall_ratio_lo, fit.recall_ratio_hi, fit.n_repeat / max(fit.n_cameras, 1e-9)))
        row = {"spacing_m": float(spacing), "sides": "both", "fov": 90.0, "level": level}
        if not figs:
            out.append({**row, "self_calibrates": False, "ratio_lo": None, "ratio_hi": None, "width_factor": None,
                        "repeat_share": None})
            continue
        lo, hi, rep = (float(np.median(v)) for v in zip(*figs))
        width = float(np.median([h / max(lo_, 1e-9) for lo_, h, _ in figs]))
        out.append({**row, "self_calibrates": bool(width <= INFORMATIVE_WIDTH), "ratio_lo": lo, "ratio_hi": hi,
                    "width_factor": width, "repeat_share": rep})
    return out


def self_calibration_text(rows: list[dict]) -> str:
    """One line of ``camcensus plan``'s output: which spacings measure recall on their own."""
    parts = []
    for r in rows:
        if r.get("width_factor") is None:
            parts.append(f"{r['spacing_m']:g} m: no cameras found")
            continue
        parts.append(f"{r['spacing_m']:g} m {'yes' if r['self_calibrates'] else 'no'} "
                     f"(recall known within x{r['width_factor']:.1f}, {100 * r['repeat_share']:.0f}% of cameras "
                     f"seen twice)")
    return ("recall from the survey itself, should the card's not carry (unseen imagery, about a third of the "
            "card's recall): " + "; ".join(parts)) if rows else ""
