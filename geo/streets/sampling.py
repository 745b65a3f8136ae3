"""Viewpoints along a street network: where to stand and which way to look.

``views_from_graph`` is the stage's entry: points along every undirected street (systematic, a
point every ``spacing`` metres, or Stanford-style random), then one or more views per point
looking perpendicular to the street. All work is vectorised over the whole network with numpy:
no Python loop per street. Bearings and headings are degrees clockwise from true north.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from geo.errors import GeoInputError
from geo.io import write_parquet, write_text
from geo.streets.network import streets_from_graph
from geo.schemas import POINTS, VIEWS

Method = Literal["systematic", "random"]
Sides = Literal["both", "left", "right", "random"]
METHODS = ("systematic", "random")
SIDES = ("both", "left", "right", "random")
_SIDE_OFFSET = {"left": -90.0, "right": 90.0, "forward": 0.0, "backward": 180.0}


@dataclass(frozen=True)
class StreetPolylines:
    """All street geometries flattened into segment arrays (projected metres).

    Segment ``i`` runs from ``start[i]`` to ``start[i] + delta[i]``, belongs to street
    ``street[i]`` and begins ``cum_start[i]`` metres along the concatenation of all streets.
    """

    start: np.ndarray  # (m, 2)
    delta: np.ndarray  # (m, 2)
    length: np.ndarray  # (m,)
    cum_start: np.ndarray  # (m,)
    street_offset: np.ndarray  # (n_streets,) metres before each street in the concatenation
    street_length: np.ndarray  # (n_streets,)

    @classmethod
    def from_geometries(cls, geometries: np.ndarray) -> StreetPolylines:
        coords, index = shapely.get_coordinates(geometries, return_index=True)
        same = index[:-1] == index[1:]
        start = coords[:-1][same]
        delta = (coords[1:] - coords[:-1])[same]
        length = np.hypot(delta[:, 0], delta[:, 1])
        street = index[:-1][same]
        keep = length > 0
        start, delta, length, street = start[keep], delta[keep], length[keep], street[keep]
        street_length = np.bincount(street, weights=length, minlength=len(geometries))
        street_offset = np.concatenate([[0.0], np.cumsum(street_length)[:-1]])
        cum_start = np.cumsum(length) - length
        return cls(start, delta, length, cum_start, street_offset, street_length)

    def locate(self, street: np.ndarray, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions (k, 2) and grid bearings (deg clockwise from grid north) of points at
        ``offset`` metres along streets ``street``."""
        along = self.street_offset[street] + offset
        segment = np.searchsorted(self.cum_start, along, side="right") - 1
        # A point at a street's very end belongs to that street's last segment, not the next one.
        street_end = self.street_offset[street] + self.street_length[street]
        at_end = along >= street_end
        segment[at_end] = np.searchsorted(self.cum_start, street_end[at_end], side="left") - 1
        segment = np.clip(segment, 0, len(self.length) - 1)
        t = np.clip((along - self.cum_start[segment]) / self.length[segment], 0.0, 1.0)
        xy = self.start[segment] + t[:, None] * self.delta[segment]
        grid_bearing = np.degrees(np.arctan2(self.delta[segment, 0], self.delta[segment, 1]))
        return xy, grid_bearing


def offsets_systematic(lengths: np.ndarray, *, spacing: float, rng: np.random.Generator
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(street index, offset m) of a point every ``spacing`` metres along each street.

    Each street gets floor(length / spacing) + 1 points, starting at a random offset in
    [0, length - floor(length / spacing) * spacing], so all points lie on the street.
    """
    counts = np.floor(lengths / spacing).astype(np.int64) + 1
    slack = lengths - (counts - 1) * spacing
    start = rng.random(len(lengths)) * slack
    street = np.repeat(np.arange(len(lengths)), counts)
    first = np.cumsum(counts) - counts
    rank = np.arange(counts.sum()) - np.repeat(first, counts)
    return street, start[street] + rank * spacing


def offsets_random(lengths: np.ndarray, *, n: int, rng: np.random.Generator
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(street index, offset m) of ``n`` points: street with probability proportional to its
    length, offset uniform along it (the Stanford sampling)."""
    street = rng.choice(len(lengths), size=n, p=lengths / lengths.sum())
    return street, rng.random(n) * lengths[street]


def thin_points(xy: np.ndarray, *, min_gap: float, groups: np.ndarray | None = None) -> np.ndarray:
    """Boolean mask keeping points so that no two kept points are closer than ``min_gap`` m.

    Greedy in input order. With ``groups``, only pairs from different groups are thinned
    (points of one street are already ``spacing`` apart; the rule is for junctions).
    """
    from scipy.spatial import cKDTree

    keep = np.ones(len(xy), dtype=bool)
    if min_gap <= 0 or len(xy) < 2:
        return keep
    pairs = cKDTree(xy).query_pairs(min_gap, output_type="ndarray")
    if groups is not None and len(pairs):
        pairs = pairs[groups[pairs[:, 0]] != groups[pairs[:, 1]]]
    if not len(pairs):
        return keep
    pairs = np.sort(pairs, axis=1)
    pairs = pairs[np.lexsort((pairs[:, 0], pairs[:, 1]))]  # by later point, then earlier
    for early, late in pairs:
        if keep[early]:
            keep[late] = False
    return keep


def true_north_correction(lon: np.ndarray, lat: np.ndarray, crs: CRS) -> np.ndarray:
    """Degrees to add to a grid bearing in ``crs`` to get a bearing from true north
    (the meridian convergence). Closed form for UTM, numerical for any other projection."""
    if crs.is_geographic:
        return np.zeros_like(lon)
    if crs.utm_zone:
        zone = int(crs.utm_zone[:-1])
        central_meridian = -183.0 + 6.0 * zone
        dlon = np.radians(lon - central_meridian)
        return np.degrees(np.arctan(np.tan(dlon) * np.sin(np.radians(lat))))
    to_grid = Transformer.from_crs(crs.geodetic_crs, crs, always_xy=True)
    step = 1e-4  # degrees: the image of a small step north gives grid north's bearing
    x0, y0 = to_grid.transform(lon, lat)
    x1, y1 = to_grid.transform(lon, lat + step)
    return -np.degrees(np.arctan2(x1 - x0, y1 - y0))


@dataclass(frozen=True)
class SampledPositions:
    """Sampled points as arrays: street index, offset (m), projected xy (m), grid bearing (deg)."""

    street: np.ndarray
    offset: np.ndarray
    xy: np.ndarray
    grid_bearing: np.ndarray


def _check_method(method: str, *, spacing: float, n: int | None) -> None:
    """One line (``GeoInputError``) for an unknown method, a spacing (metres) that is not positive, or a
    random design without its number of points."""
    if method not in METHODS:
        raise GeoInputError(f"unknown sampling method '{method}': choose systematic or random")
    if method == "systematic" and not spacing > 0:
        raise GeoInputError(f"--spacing must be a positive number of metres, got {spacing}")
    if method == "random" and (n is None or n < 1):
        raise GeoInputError("--method random needs --n, the number of points (>= 1)")


def positions_from_streets(streets: gpd.GeoDataFrame, *, method: Method = "systematic",
                           spacing: float = 20.0, n: int | None = None, seed: int = 0,
                           min_gap: float | None = None) -> SampledPositions:
    """The sampling itself, on projected ``streets``: where each point is and which way its
    street runs. ``points_from_streets`` turns the result into the points table."""
    _check_method(method, spacing=spacing, n=n)
    if len(streets) == 0:
        raise GeoInputError("no streets to sample")
    if CRS.from_user_input(streets.crs).is_geographic:
        raise GeoInputError("streets must be projected to metres (use geo.streets.network.graph_from_area)")
    lines = StreetPolylines.from_geometries(streets.geometry.to_numpy())
    rng = np.random.default_rng(seed)
    if method == "systematic":
        street, offset = offsets_systematic(lines.street_length, spacing=spacing, rng=rng)
    else:
        street, offset = offsets_random(lines.street_length, n=int(n), rng=rng)
    xy, grid_bearing = lines.locate(street, offset)
    if min_gap:
        keep = thin_points(xy, min_gap=min_gap, groups=street if method == "systematic" else None)
        street, offset, xy, grid_bearing = street[keep], offset[keep], xy[keep], grid_bearing[keep]
    return SampledPositions(street, offset, xy, grid_bearing)


def points_from_streets(streets: gpd.GeoDataFrame, *, method: Method = "systematic",
                        spacing: float = 20.0, n: int | None = None, seed: int = 0,
                        min_gap: float | None = None) -> gpd.GeoDataFrame:
    """Sample points along projected ``streets`` (from ``geo.streets.network.streets_from_graph``).

    Returns a GeoDataFrame in EPSG:4326 with the points contract: point_id, street_id, u, v,
    key, offset_m (m from the street's start), road_bearing (deg from true north, along the
    street's direction u->v), lon, lat, geometry.
    """
    sampled = positions_from_streets(streets, method=method, spacing=spacing, n=n, seed=seed,
                                     min_gap=min_gap)
    street = sampled.street
    crs = CRS.from_user_input(streets.crs)
    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(sampled.xy[:, 0],
                                                                         sampled.xy[:, 1])
    bearing = np.mod(sampled.grid_bearing + true_north_correction(lon, lat, crs), 360.0)
    table = pd.DataFrame({
        "point_id": np.arange(len(street), dtype=np.int64),
        "street_id": streets["street_id"].to_numpy()[street],
        "u": streets["u"].to_numpy()[street],
        "v": streets["v"].to_numpy()[street],
        "key": streets["key"].to_numpy()[street],
        "offset_m": sampled.offset,
        "road_bearing": bearing,
        "lon": lon,
        "lat": lat,
    })
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def _check_view(sides: str, *, fov: float, pitch: float) -> None:
    """Raise ``GeoInputError`` (one line) for a bad view option (degrees)."""
    if sides not in SIDES:
        raise GeoInputError(f"unknown --sides '{sides}': choose one of {', '.join(SIDES)}")
    if not 0 < fov < 180:
        raise GeoInputError(f"--fov must be between 0 and 180 degrees, got {fov}")
    if not -90 <= pitch <= 90:
        raise GeoInputError(f"--pitch must be between -90 and 90 degrees, got {pitch}")


def views_from_points(points: gpd.GeoDataFrame, *, sides: Sides = "both", along: bool = False,
                      fov: float = 90.0, pitch: float = 0.0, seed: int = 0) -> gpd.GeoDataFrame:
    """Views at each point looking perpendicular to the street (``sides``), and with ``along``
    also forward and backward along it. Headings in degrees clockwise from true north."""
    _check_view(sides, fov=fov, pitch=pitch)
    n = len(points)
    if sides == "both":
        chosen = [np.full(n, "left"), np.full(n, "right")]
    elif sides == "random":
        rng = np.random.default_rng([seed, 1])  # its own stream: positions do not depend on it
        chosen = [np.where(rng.random(n) < 0.5, "left", "right")]
    else:
        chosen = [np.full(n, sides)]
    if along:
        chosen += [np.full(n, "forward"), np.full(n, "backward")]
    side = np.stack(chosen, axis=1).ravel()  # views of one point stay together
    per_point = len(chosen)
    point_id = np.repeat(points["point_id"].to_numpy(), per_point)
    offsets = np.vectorize(_SIDE_OFFSET.__getitem__, otypes=[float])(side) if n else np.zeros(0)
    heading = np.mod(np.repeat(points["road_bearing"].to_numpy(), per_point) + offsets, 360.0)
    lon = np.repeat(points["lon"].to_numpy(), per_point)
    lat = np.repeat(points["lat"].to_numpy(), per_point)
    table = pd.DataFrame({
        "view_id": pd.Series(point_id.astype(str), dtype=object) + "_" + side.astype(object),
        "point_id": point_id,
        "heading": heading,
        "pitch": np.full(len(side), float(pitch)),
        "fov": np.full(len(side), float(fov)),
        "side": side.astype(object),
        "lon": lon,
        "lat": lat,
    })
    return gpd.GeoDataFrame(table, geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")


def views_from_graph(graph: nx.MultiDiGraph, *, method: Method = "systematic",
                     spacing: float = 20.0, n: int | None = None, seed: int = 0,
                     min_gap: float | None = None, sides: Sides = "both", along: bool = False,
                     fov: float = 90.0, pitch: float = 0.0
                     ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Points and views along every undirected street of a projected graph.

    Returns ``(points, views)`` as GeoDataFrames in EPSG:4326 (contracts in DESIGN.md).
    """
    points = points_from_streets(streets_from_graph(graph), method=method, spacing=spacing, n=n,
                                 seed=seed, min_gap=min_gap)
    views = views_from_points(points, sides=sides, along=along, fov=fov, pitch=pitch, seed=seed)
    return points, views


# --- the stage ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SampleResult:
    """What the sample stage did: lengths in km, counts, and the files it wrote."""

    road_km: float
    n_points: int
    n_views: int
    paths: dict[str, Path]
    skipped: bool


def check_sampling(*, network_type: str = "drive", method: str = "systematic", spacing: float = 20.0,
                   n: int | None = None, min_gap: float | None = None, sides: str = "both", fov: float = 90.0,
                   pitch: float = 0.0) -> None:
    """Raise ``GeoInputError`` (one line) for a bad sampling option; needs no area, so a survey
    checks its options before it loads anything (metres, degrees)."""
    from geo.streets.network import NETWORK_TYPES

    if network_type not in NETWORK_TYPES:
        raise GeoInputError(f"unknown network type '{network_type}': choose one of {', '.join(NETWORK_TYPES)}")
    _check_method(method, spacing=spacing, n=n)
    if min_gap is not None and not min_gap >= 0:
        raise GeoInputError(f"--min-gap must be a number of metres >= 0, got {min_gap}")
    _check_view(sides, fov=fov, pitch=pitch)


def sample_survey(survey_dir: str | Path, *, area: str = "demo", network_type: str = "drive",
                  method: Method = "systematic", spacing: float = 20.0, n: int | None = None,
                  seed: int = 0, min_gap: float | None = None, sides: Sides = "both",
                  along: bool = False, fov: float = 90.0, pitch: float = 0.0) -> SampleResult:
    """The sample stage: network, points and views of ``area`` written into ``survey_dir``.

    Writes ``network.graphml``, ``points.parquet``, ``views.parquet`` and ``sample.json``.
    Rerun with the same parameters: skipped. With other parameters: an error (nothing is
    overwritten), so a survey's later stages never mix two samplings.
    """
    from geo.streets.network import graph_from_area, load_network, road_km, save_network

    check_sampling(network_type=network_type, method=method, spacing=spacing, n=n, min_gap=min_gap,
                   sides=sides, fov=fov, pitch=pitch)  # before the area loads
    survey_dir = Path(survey_dir)
    params = {"area": str(area), "network_type": network_type, "method": method,
              "spacing_m": float(spacing), "n": n, "seed": int(seed), "min_gap_m": min_gap,
              "sides": sides, "along": bool(along), "fov": float(fov), "pitch": float(pitch)}
    paths = {name: survey_dir / name for name in
             ("network.graphml", "points.parquet", "views.parquet", "sample.json")}
    if paths["sample.json"].exists():
        info = json.loads(paths["sample.json"].read_text())
        if {k: info.get(k) for k in params} != params:
            changed = ", ".join(k for k in params if info.get(k) != params[k])
            raise GeoInputError(
                f"{survey_dir} was already sampled with other parameters ({changed}); "
                "use a new --out directory")
        if all(p.exists() for p in paths.values()):
            return SampleResult(info["road_km"], info["n_points"], info["n_views"], paths, True)
    survey_dir.mkdir(parents=True, exist_ok=True)
    if paths["network.graphml"].exists():
        graph = load_network(paths["network.graphml"])
    else:
        graph = graph_from_area(area, network_type=network_type)
        save_network(graph, paths["network.graphml"])
    points, views = views_from_graph(graph, method=method, spacing=spacing, n=n, seed=seed,
                                     min_gap=min_gap, sides=sides, along=along, fov=fov,
                                     pitch=pitch)
    write_parquet(points, paths["points.parquet"], schema=POINTS)
    write_parquet(views, paths["views.parquet"], schema=VIEWS)
    info = {**params, "road_km": road_km(graph), "n_points": len(points),
            "n_views": len(views), "crs": str(graph.graph["crs"])}
    write_text(paths["sample.json"], json.dumps(info, indent=2, default=str))
    return SampleResult(info["road_km"], len(points), len(views), paths, False)
