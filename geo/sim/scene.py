"""A 3-D street scene of an area for the simulator: extruded buildings, street furniture, cameras.

``scene_from_area`` builds it from OSM (in the area's UTM zone, metres): facades as wall
segments with a height and a style, lamps/signs/poles from OSM plus seeded random ones along the
streets, camera-like distractors on facades (alarm boxes, wall units), and the cameras chosen by
``sim_cameras``:

- ``"osm"``: every ``man_made=surveillance`` node (``camera:type=dome`` -> dome, else directed;
  ``camera:mount``, ``height`` and direction tags used when present; wall cameras snap to the
  nearest facade; default mount height 3-6 m);
- ``"osm:drop=F,add=D,move=M[,seed=S]"`` (any subset): OSM disagrees with the street, to
  measure the comparison with OSM (``geo.counting.osm_compare``). A share ``F`` of the mapped
  cameras is gone from the scene (removed since it was mapped), ``D`` unmapped cameras per km of
  street are added (as ``random:D``), and every mapped camera that remains stands ``0-M`` metres
  from its node in a random direction (mapping error) before wall cameras snap to their facade.
  Each fate is in the truth: scene cameras carry ``osm_id``, ``osm_status`` (kept / unmapped)
  and ``osm_offset_m`` (metres from their node), and the removed nodes are listed in
  ``scene.meta["osm_removed"]`` (``truth.geojson``'s ``osm_removed`` member);
- ``"random:D[:SEED]"``: a seeded Poisson process of D cameras per km of street, on the facades
  beside the street or on poles at the kerb where no facade is near (SEED defaults to the
  scene's ``seed``);
- a path to a GeoJSON file of points (optional properties ``class_name``/``camera:type``,
  ``height``/``mount_height_m``, ``facing``/``direction``, ``mount``).
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from geo.streets.area import Area, area_from_spec
from geo.errors import GeoInputError

CLASSES = ("dome", "directed")
WALL_OFFSET_M = 0.3  # a wall camera's centre sits this far in front of the facade
SNAP_DISTANCE_M = 8.0  # OSM cameras this close to a facade (or inside a building) go on it
DOME_SHARE = 0.53  # Stanford labels: 1,067 dome / 2,021 cameras
_CARDINAL = {
    "N": 0,
    "NNE": 22.5,
    "NE": 45,
    "ENE": 67.5,
    "E": 90,
    "ESE": 112.5,
    "SE": 135,
    "SSE": 157.5,
    "S": 180,
    "SSW": 202.5,
    "SW": 225,
    "WSW": 247.5,
    "W": 270,
    "WNW": 292.5,
    "NW": 315,
    "NNW": 337.5,
}
_RANDOM_SPEC = re.compile(r"^random:(?P<d>\d+(?:\.\d*)?|\.\d+)(?::(?P<seed>-?\d+))?$")


@dataclass
class Facades:
    """Wall segments of extruded buildings (projected metres).

    Segment ``i`` runs from ``(x0, y0)`` to ``(x1, y1)``; ``nx, ny`` is its outward unit normal
    (towards the street), ``height`` the wall's height (m), ``building`` the index of its building
    in ``styles`` of the scene.
    """

    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    nx: np.ndarray
    ny: np.ndarray
    length: np.ndarray
    height: np.ndarray
    building: np.ndarray

    def __len__(self) -> int:
        return len(self.x0)


@dataclass
class SegmentGrid:
    """A uniform grid over facade segments for fast "segments near a point" queries."""

    x_min: float
    y_min: float
    cell: float
    nx: int
    ny: int
    start: np.ndarray  # (nx*ny + 1,) CSR offsets into ``items``
    items: np.ndarray  # segment indices

    @classmethod
    def from_facades(cls, facades: Facades, *, cell: float = 40.0) -> SegmentGrid:
        if len(facades) == 0:
            return cls(
                0.0, 0.0, cell, 1, 1, np.zeros(2, dtype=np.int64), np.zeros(0, dtype=np.int64)
            )
        xs = np.concatenate([facades.x0, facades.x1])
        ys = np.concatenate([facades.y0, facades.y1])
        x_min, y_min = float(xs.min()) - 1, float(ys.min()) - 1
        nx = int((xs.max() - x_min) // cell) + 1
        ny = int((ys.max() - y_min) // cell) + 1
        cx0 = ((np.minimum(facades.x0, facades.x1) - x_min) // cell).astype(np.int64)
        cx1 = ((np.maximum(facades.x0, facades.x1) - x_min) // cell).astype(np.int64)
        cy0 = ((np.minimum(facades.y0, facades.y1) - y_min) // cell).astype(np.int64)
        cy1 = ((np.maximum(facades.y0, facades.y1) - y_min) // cell).astype(np.int64)
        cells, segs = [], []
        for i in range(len(facades)):  # segments are short: a few cells each
            gx, gy = np.meshgrid(np.arange(cx0[i], cx1[i] + 1), np.arange(cy0[i], cy1[i] + 1))
            cells.append((gy * nx + gx).ravel())
            segs.append(np.full(gx.size, i, dtype=np.int64))
        cells_a, segs_a = np.concatenate(cells), np.concatenate(segs)
        order = np.argsort(cells_a, kind="stable")
        counts = np.bincount(cells_a, minlength=nx * ny)
        start = np.concatenate([[0], np.cumsum(counts)])
        return cls(x_min, y_min, cell, nx, ny, start, segs_a[order])

    def near(self, x: float, y: float, radius: float) -> np.ndarray:
        """Indices of segments in grid cells within ``radius`` metres of ``(x, y)``."""
        gx0 = max(int((x - radius - self.x_min) // self.cell), 0)
        gx1 = min(int((x + radius - self.x_min) // self.cell), self.nx - 1)
        gy0 = max(int((y - radius - self.y_min) // self.cell), 0)
        gy1 = min(int((y + radius - self.y_min) // self.cell), self.ny - 1)
        if gx0 > gx1 or gy0 > gy1:
            return np.zeros(0, dtype=np.int64)
        parts = [
            self.items[self.start[gy * self.nx + gx0] : self.start[gy * self.nx + gx1 + 1]]
            for gy in range(gy0, gy1 + 1)
        ]
        return np.unique(np.concatenate(parts))


@dataclass
class Scene:
    """Everything the renderer draws, in the projected CRS ``crs`` (metres, grid north up).

    ``styles``: per building ``color`` (BGR 0-255), ``window`` (BGR), ``floor_m``,
    ``window_spacing_m``, ``window_width`` (fraction of spacing), ``window_height`` (fraction of
    a floor), ``ground_floor_m``. ``cameras``: camera_id, class_name, x, y, z (mount height, m),
    facing (deg clockwise from grid north), normal (outward normal of the wall it is on, deg; NaN
    off walls), relief_deg (seen closer than this to its wall's plane, the facade's relief hides
    it), tilt (deg down), mount ("wall"/"pole"/"ceiling"),
    size_m, arm_m (bracket length), color (0 light, 1 dark), source, lon, lat. ``objects``:
    street furniture and distractors: kind, x, y, z (m), facing, size_m, variant, pole (draw a
    pole up to z).
    """

    crs: str
    facades: Facades
    grid: SegmentGrid
    styles: dict[str, np.ndarray]
    cameras: pd.DataFrame
    objects: pd.DataFrame
    road_km: float = 0.0
    seed: int = 0
    meta: dict = field(default_factory=dict)


def scene_from_area(
    area: Area | str,
    *,
    graph: nx.MultiDiGraph | None = None,
    sim_cameras: str | None = None,
    seed: int = 0,
) -> Scene:
    """Build the simulator's scene of ``area`` (see the module docstring for ``sim_cameras``;
    None means "osm" for the demo area, else "random:1"). ``graph`` is the area's projected
    street graph (read from the area when None). Raises ``GeoInputError`` for a malformed
    ``sim_cameras``, a GeoJSON without points, or an area without buildings."""
    from geo.sim.features import buildings_from_area, street_furniture_from_area, surveillance_from_area
    from geo.streets.network import graph_from_area, streets_from_graph

    area = area_from_spec(area) if isinstance(area, str) else area
    if sim_cameras is None:
        sim_cameras = default_sim_cameras(area)
    spec = _parse_sim_cameras(sim_cameras)  # fail fast, before any heavy reading
    buildings = buildings_from_area(area)
    if graph is None:
        graph = graph_from_area(area)
    crs = CRS.from_user_input(graph.graph["crs"])
    streets = streets_from_graph(graph)
    road_km = float(streets.geometry.length.sum() / 1000.0)
    buildings_utm = buildings.to_crs(crs)
    facades, styles = facades_from_buildings(buildings_utm, seed=seed)
    grid = SegmentGrid.from_facades(facades)
    scene = Scene(
        crs=crs.to_string(),
        facades=facades,
        grid=grid,
        styles=styles,
        cameras=_empty_cameras(),
        objects=_empty_objects(),
        road_km=road_km,
        seed=seed,
        meta={"area": area.spec, "sim_cameras": sim_cameras},
    )
    rng = np.random.default_rng([seed, 7])
    if spec[0] == "osm" and spec[1] is not None:
        cameras = cameras_osm_drift(
            scene, surveillance_from_area(area).to_crs(crs), streets, drift=spec[1], seed=seed
        )
    elif spec[0] == "osm":
        cameras = cameras_from_points(
            scene, surveillance_from_area(area).to_crs(crs), source="osm", seed=seed
        )
    elif spec[0] == "random":
        cameras = cameras_random(
            scene, streets, density_per_km=spec[1], seed=seed if spec[2] is None else spec[2]
        )
    else:
        cameras = cameras_from_points(
            scene, _read_points(spec[1]).to_crs(crs), source="file", seed=seed
        )
    furniture = street_furniture_from_area(area).to_crs(crs)
    mapped_trees = int((furniture["kind"] == "tree").sum())
    objects = pd.concat(
        [
            furniture_from_points(furniture, rng=rng),
            furniture_random(
                scene, streets, rng=rng, trees_per_km=12.0 if mapped_trees > 20 * road_km else 25.0
            ),
            distractors_on_facades(scene, rng=rng),
            _poles_for(cameras),
        ],
        ignore_index=True,
    )
    scene.cameras = _with_lonlat(cameras, crs)
    scene.objects = objects
    return scene


def scene_from_frames(
    buildings: gpd.GeoDataFrame,
    *,
    crs: str,
    cameras: pd.DataFrame | None = None,
    objects: pd.DataFrame | None = None,
    seed: int = 0,
) -> Scene:
    """A scene from ready-made tables in the projected ``crs``: ``buildings`` (geometry,
    ``height_m``, optional ``building_id``), ``cameras`` (at least camera_id, class_name, x, y, z;
    the other columns of :class:`Scene` get defaults) and ``objects``. For tests and custom
    scenes; no OSM reading."""
    buildings = buildings.reset_index(drop=True)
    if len(buildings):
        facades, styles = facades_from_buildings(buildings, seed=seed)
    else:
        facades, styles = facades_from_buildings(
            gpd.GeoDataFrame({"height_m": [], "building_id": []}, geometry=[], crs=crs), seed=seed
        )
    cams = _empty_cameras() if cameras is None else cameras.copy()
    defaults = {
        "facing": 0.0,
        "normal": float("nan"),
        "relief_deg": 15.0,
        "tilt": 20.0,
        "mount": "wall",
        "size_m": 0.2,
        "arm_m": 0.15,
        "color": 0,
        "source": "file",
    }
    for name, value in defaults.items():
        if name not in cams.columns:
            cams[name] = value
    scene = Scene(
        crs=CRS.from_user_input(crs).to_string(),
        facades=facades,
        grid=SegmentGrid.from_facades(facades),
        styles=styles,
        cameras=cams,
        objects=_empty_objects() if objects is None else objects,
        seed=seed,
    )
    scene.cameras = _with_lonlat(cams, CRS.from_user_input(crs))
    return scene


# --- sim_cameras ----------------------------------------------------------------------------


def default_sim_cameras(area: Area | str) -> str:
    """The camera spec used when none is given: "osm" for the demo area, else "random:1"."""
    spec = area.spec if isinstance(area, Area) else str(area).strip()
    return "osm" if spec == "demo" else "random:1"


def _parse_sim_cameras(spec: str) -> tuple:
    """("osm", drift or None) | ("random", D per km, seed or None) | ("file", Path)."""
    text = str(spec).strip()
    if text == "osm":
        return ("osm", None)
    if text.lower().startswith("osm:"):
        return ("osm", _parse_drift(text))
    if text.lower().startswith("random"):
        match = _RANDOM_SPEC.match(text)
        if not match:
            raise GeoInputError(
                f"malformed --sim-cameras '{text}': expected random:D or random:D:SEED with D "
                "cameras per km of street (a number >= 0) and SEED an integer"
            )
        seed = int(match.group("seed")) if match.group("seed") is not None else None
        return ("random", float(match.group("d")), seed)
    path = Path(text).expanduser()
    if text.lower().endswith((".geojson", ".json")) or path.exists():
        if not path.is_file():
            raise GeoInputError(f"--sim-cameras file not found: {text}")
        return ("file", path)
    raise GeoInputError(
        f"malformed --sim-cameras '{text}': use osm, random:D[:SEED] or a GeoJSON file of points"
    )


def _parse_drift(text: str) -> dict:
    """``osm:drop=F,add=D,move=M[,seed=S]`` -> {"drop": share 0-1, "add": cameras per km,
    "move": metres, "seed": int or None}."""
    drift = {"drop": 0.0, "add": 0.0, "move": 0.0, "seed": None}
    usage = (f"malformed --sim-cameras '{text}': expected osm:drop=F,add=D,move=M[,seed=S] (any "
             "subset) with F the share of mapped cameras gone (0-1), D unmapped cameras per km of "
             "street (>= 0), M metres of mapping error (>= 0)")
    for item in text[4:].split(","):
        key, sep, value = item.strip().partition("=")
        if not sep or key not in drift:
            raise GeoInputError(usage)
        try:
            drift[key] = int(value) if key == "seed" else float(value)
        except ValueError:
            raise GeoInputError(usage) from None
    if not (0.0 <= drift["drop"] <= 1.0 and drift["add"] >= 0.0 and drift["move"] >= 0.0):
        raise GeoInputError(usage)
    return drift


def _read_points(path: Path) -> gpd.GeoDataFrame:
    try:
        frame = gpd.read_file(path)
    except Exception as error:
        raise GeoInputError(
            f"cannot read camera GeoJSON {path}: {str(error).splitlines()[0][:200]}"
        ) from None
    if len(frame) == 0 or frame.geometry is None:
        raise GeoInputError(f"camera GeoJSON {path} has no points")
    frame = frame[frame.geometry.notna()]
    frame = frame[frame.geometry.geom_type == "Point"]
    if len(frame) == 0:
        raise GeoInputError(f"camera GeoJSON {path} has no points")
    if frame.crs is None:
        frame = frame.set_crs(4326)
    return frame.reset_index(drop=True)


# --- buildings ------------------------------------------------------------------------------

_PALETTE = np.array(
    [  # facade colours, BGR: plaster, ochre, brick, grey, cream, pale blue
        [196, 206, 214],
        [120, 170, 205],
        [80, 95, 150],
        [150, 150, 150],
        [170, 200, 222],
        [205, 190, 170],
        [110, 130, 160],
        [185, 185, 180],
        [140, 160, 190],
        [95, 120, 140],
        [215, 220, 225],
        [150, 175, 200],
    ],
    dtype=float,
)


def facades_from_buildings(
    buildings: gpd.GeoDataFrame, *, seed: int = 0
) -> tuple[Facades, dict[str, np.ndarray]]:
    """Wall segments of projected building polygons, with per-building styles.

    Rings are oriented so that the building lies on the left of each segment: the outward normal
    is the segment direction turned clockwise. Styles are seeded by ``seed`` and building id.
    """
    geoms = shapely.orient_polygons(buildings.geometry.to_numpy(), exterior_cw=False)
    parts, part_index = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = [], []
    for i, poly in enumerate(parts):
        rings.append(poly.exterior)
        ring_part.append(i)
        for hole in poly.interiors:
            rings.append(hole)
            ring_part.append(i)
    coords, ring_index = shapely.get_coordinates(np.array(rings, dtype=object), return_index=True)
    same = ring_index[:-1] == ring_index[1:]
    p0, p1 = coords[:-1][same], coords[1:][same]
    building = part_index[np.array(ring_part, dtype=np.int64)[ring_index[:-1][same]]]
    d = p1 - p0
    length = np.hypot(d[:, 0], d[:, 1])
    keep = length > 0.2
    p0, p1, d, length, building = p0[keep], p1[keep], d[keep], length[keep], building[keep]
    heights = buildings["height_m"].to_numpy(dtype=float)
    facades = Facades(
        x0=p0[:, 0],
        y0=p0[:, 1],
        x1=p1[:, 0],
        y1=p1[:, 1],
        nx=d[:, 1] / length,
        ny=-d[:, 0] / length,
        length=length,
        height=heights[building],
        building=building.astype(np.int64),
    )
    ids = (
        buildings["building_id"].to_numpy()
        if "building_id" in buildings
        else np.arange(len(buildings))
    )
    n = len(buildings)
    rng = np.random.default_rng([seed, 11])
    jitter = rng.random((n, 8))
    key = np.array([zlib.crc32(f"{seed}:{i}".encode()) for i in ids], dtype=np.int64)
    color = _PALETTE[key % len(_PALETTE)] * (0.85 + 0.3 * jitter[:, :1]) + rng.normal(0, 6, (n, 3))
    window = np.stack(
        [70 + 50 * jitter[:, 1], 60 + 40 * jitter[:, 1], 50 + 30 * jitter[:, 2]], axis=1
    )
    styles = {
        "color": np.clip(color, 30, 240),
        "window": window,
        "floor_m": 2.9 + 0.7 * jitter[:, 3],
        "window_spacing_m": 2.2 + 1.6 * jitter[:, 4],
        "window_width": 0.35 + 0.3 * jitter[:, 5],
        "window_height": 0.4 + 0.25 * jitter[:, 6],
        "ground_floor_m": 3.4 + 1.2 * jitter[:, 7],
        "height_m": heights,
    }
    return facades, styles


def nearest_facade(
    scene: Scene, x: float, y: float, *, radius: float = 30.0
) -> tuple[int, float, float, float] | None:
    """The facade segment nearest to ``(x, y)`` within ``radius`` m: (index, distance m, foot x,
    foot y), or None."""
    f = scene.facades
    idx = scene.grid.near(x, y, radius)
    if idx.size == 0:
        return None
    dx, dy = f.x1[idx] - f.x0[idx], f.y1[idx] - f.y0[idx]
    t = np.clip(((x - f.x0[idx]) * dx + (y - f.y0[idx]) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    fx, fy = f.x0[idx] + t * dx, f.y0[idx] + t * dy
    dist = np.hypot(fx - x, fy - y)
    j = int(np.argmin(dist))
    if dist[j] > radius:
        return None
    return int(idx[j]), float(dist[j]), float(fx[j]), float(fy[j])


def facade_hit(
    scene: Scene, x: float, y: float, dx: float, dy: float, *, max_m: float = 30.0
) -> tuple[int, float] | None:
    """First front-facing facade hit by the horizontal ray from ``(x, y)`` along the unit vector
    ``(dx, dy)`` within ``max_m`` metres: (segment index, distance m), or None."""
    f = scene.facades
    idx = scene.grid.near(x + dx * max_m / 2, y + dy * max_m / 2, max_m / 2 + 1)
    if idx.size == 0:
        return None
    facing = (dx * f.nx[idx] + dy * f.ny[idx]) < 0
    idx = idx[facing]
    qx, qy = f.x0[idx] - x, f.y0[idx] - y
    sx, sy = f.x1[idx] - f.x0[idx], f.y1[idx] - f.y0[idx]
    denom = dx * sy - dy * sx
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (qx * sy - qy * sx) / denom
        s = (qx * dy - qy * dx) / denom
    ok = (t > 0) & (t <= max_m) & (s >= 0) & (s <= 1)
    if not ok.any():
        return None
    j = int(np.argmin(np.where(ok, t, np.inf)))
    return int(idx[j]), float(t[j])


def _inside_building(buildings_tree: shapely.STRtree, xy: np.ndarray) -> np.ndarray:
    points = shapely.points(xy)
    hit = buildings_tree.query(points, predicate="within")
    inside = np.zeros(len(xy), dtype=bool)
    inside[hit[0]] = True
    return inside


# --- cameras --------------------------------------------------------------------------------


def _empty_cameras() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "camera_id": pd.Series([], dtype=object),
            "class_name": pd.Series([], dtype=object),
            "x": [],
            "y": [],
            "z": [],
            "facing": [],
            "normal": [],
            "relief_deg": [],
            "tilt": [],
            "mount": pd.Series([], dtype=object),
            "size_m": [],
            "arm_m": [],
            "color": pd.Series([], dtype=np.int64),
            "source": pd.Series([], dtype=object),
        }
    )


def _empty_objects() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "kind": pd.Series([], dtype=object),
            "x": [],
            "y": [],
            "z": [],
            "facing": [],
            "size_m": [],
            "variant": pd.Series([], dtype=np.int64),
            "pole": pd.Series([], dtype=bool),
        }
    )


def _camera_size(class_name: str, rng: np.random.Generator) -> float:
    """Characteristic size in metres: dome diameter, or directed housing length."""
    if class_name == "dome":
        return float(rng.uniform(0.16, 0.28))
    return float(rng.uniform(0.32, 0.50))


def _bearing(dx: float, dy: float) -> float:
    return float(np.degrees(np.arctan2(dx, dy)) % 360.0)


def _parse_direction(value: object) -> float | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip().upper()
    if text in _CARDINAL:
        return float(_CARDINAL[text])
    match = re.match(r"^-?\d+(?:\.\d+)?", text)
    return float(match.group()) % 360.0 if match else None


def _parse_height(value: object) -> float | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    match = re.search(r"\d+(?:[.,]\d+)?", str(value))
    if not match:
        return None
    height = float(match.group().replace(",", "."))
    return height if 0.5 <= height <= 60 else None


def _first(row: pd.Series, names: tuple[str, ...]) -> object:
    for name in names:
        if name in row.index:
            value = row[name]
            if (
                value is not None
                and not (isinstance(value, float) and np.isnan(value))
                and str(value).strip()
            ):
                return value
    return None


def cameras_from_points(
    scene: Scene, points: gpd.GeoDataFrame, *, source: str, seed: int = 0
) -> pd.DataFrame:
    """Cameras at projected ``points`` (OSM surveillance nodes or a user file), using their tags.

    Wall cameras (``camera:mount=wall``, or no mount given and a facade within 8 m, or inside a
    building) snap to the nearest facade, 0.3 m in front of it; others stand on a pole. Without a
    ``height`` tag the mount height is 3-6 m (seeded per camera).
    """
    rows = []
    f = scene.facades
    for i, row in points.reset_index(drop=True).iterrows():
        x, y = float(row.geometry.x), float(row.geometry.y)
        ident = _first(row, ("osm_id", "camera_id", "id"))
        ident = (
            str(int(ident))
            if isinstance(ident, (int, float, np.integer))
            else (str(ident) if ident else str(i))
        )
        rng = np.random.default_rng([seed, zlib.crc32(f"{source}/{ident}".encode())])
        ctype = str(_first(row, ("class_name", "camera:type")) or "").lower()
        class_name = "dome" if ctype == "dome" else "directed"
        mount = str(_first(row, ("mount", "camera:mount")) or "").lower()
        height = _parse_height(
            _first(row, ("mount_height_m", "height", "camera:height", "est_height"))
        )
        facing = _parse_direction(_first(row, ("facing", "camera:direction", "direction")))
        near = nearest_facade(scene, x, y, radius=SNAP_DISTANCE_M)
        on_wall = mount in ("wall", "ceiling") or (mount in ("", "none") and near is not None)
        if on_wall and near is None:
            near = nearest_facade(scene, x, y, radius=40.0)
            on_wall = near is not None
        if on_wall:
            j, _, fx, fy = near
            x, y = fx + WALL_OFFSET_M * f.nx[j], fy + WALL_OFFSET_M * f.ny[j]
            normal = _bearing(f.nx[j], f.ny[j])
            if facing is None:
                facing = (normal + rng.normal(0, 35)) % 360
            top = float(f.height[j]) - 0.5
            z = height if height is not None else _wall_height(rng)
            z = min(z, max(top, 2.6))
            mount = "ceiling" if mount == "ceiling" else "wall"
        else:
            z = height if height is not None else _pole_height(rng, mapped=True)
            if facing is None:
                facing = float(rng.uniform(0, 360))
            mount = "pole"
            normal = float("nan")
        rows.append(
            _camera_row(
                f"{source}/{ident}",
                class_name,
                x,
                y,
                z,
                facing,
                mount,
                source,
                rng,
                normal=normal if mount in ("wall", "ceiling") else float("nan"),
            )
        )
    return pd.DataFrame(rows) if rows else _empty_cameras()


def cameras_osm_drift(
    scene: Scene, points: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, *, drift: dict, seed: int = 0
) -> pd.DataFrame:
    """Cameras of OSM nodes (projected ``points``) when OSM disagrees with the street: a share
    ``drift["drop"]`` of the nodes has no camera (recorded in ``scene.meta["osm_removed"]``: osm_id,
    class_name, lon, lat), the others stand ``0-drift["move"]`` m from their node in a random
    direction (then placed as ``cameras_from_points`` places them), and ``drift["add"]`` unmapped
    cameras per km of ``streets`` are added (``cameras_random``; source and id prefix
    ``unmapped``). Columns added: ``osm_id`` (None for unmapped), ``osm_status`` (kept /
    unmapped), ``osm_offset_m`` (m from the node; NaN for unmapped). Seeded by ``drift["seed"]``,
    else ``seed``."""
    base = int(seed if drift.get("seed") is None else drift["seed"])
    rng = np.random.default_rng([base, 23])
    points = points.reset_index(drop=True)
    n = len(points)
    gone = rng.random(n) < float(drift.get("drop", 0.0))
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    dist = rng.uniform(0.0, float(drift.get("move", 0.0)), n)
    xy = shapely.get_coordinates(points.geometry.to_numpy()) if n else np.zeros((0, 2))
    ids = [str(int(i)) for i in points["osm_id"]] if "osm_id" in points else [str(i) for i in range(n)]
    removed = []
    if gone.any():
        lon, lat = Transformer.from_crs(scene.crs, 4326, always_xy=True).transform(xy[gone, 0], xy[gone, 1])
        klass = points["camera:type"] if "camera:type" in points else pd.Series([None] * n)
        for k, i in enumerate(np.flatnonzero(gone)):
            removed.append({"osm_id": ids[i], "class_name": "dome" if str(klass.iloc[i]).lower() == "dome"
                            else "directed", "lon": float(lon[k]), "lat": float(lat[k])})
    keep = points[~gone].copy()
    moved = xy[~gone] + np.column_stack([np.sin(angle), np.cos(angle)])[~gone] * dist[~gone, None]
    keep = keep.set_geometry(shapely.points(moved), crs=points.crs) if len(keep) else keep
    kept = cameras_from_points(scene, keep, source="osm", seed=seed)
    if len(kept):
        node = xy[~gone]
        kept["osm_id"] = [ids[i] for i in np.flatnonzero(~gone)]
        kept["osm_status"] = "kept"
        kept["osm_offset_m"] = np.hypot(kept["x"].to_numpy(float) - node[:, 0], kept["y"].to_numpy(float) - node[:, 1])
    added = cameras_random(scene, streets, density_per_km=float(drift.get("add", 0.0)), seed=base + 7919)
    if len(added):
        added["camera_id"] = added["camera_id"].str.replace("random/", "unmapped/", regex=False)
        added["source"] = "unmapped"
        added["osm_id"] = None
        added["osm_status"] = "unmapped"
        added["osm_offset_m"] = float("nan")
    scene.meta["osm_drift"] = {k: drift.get(k) for k in ("drop", "add", "move", "seed")}
    scene.meta["osm_removed"] = removed
    parts = [f for f in (kept, added) if len(f)]
    if not parts:
        empty = _empty_cameras()
        empty["osm_id"], empty["osm_status"], empty["osm_offset_m"] = (pd.Series([], dtype=object),
                                                                     pd.Series([], dtype=object), [])
        return empty
    return pd.concat(parts, ignore_index=True)


def _wall_height(rng: np.random.Generator) -> float:
    """Default mount height of a wall camera, m."""
    return float(rng.uniform(3.0, 6.0))


def _pole_height(rng: np.random.Generator, *, mapped: bool = False) -> float:
    """Default mount height of a pole camera, m (3-6 m for mapped cameras without a height)."""
    return float(rng.uniform(3.0, 6.0) if mapped else rng.uniform(4.0, 7.0))


def _camera_row(
    camera_id: str,
    class_name: str,
    x: float,
    y: float,
    z: float,
    facing: float,
    mount: str,
    source: str,
    rng: np.random.Generator,
    *,
    normal: float = float("nan"),
) -> dict:
    return {
        "camera_id": camera_id,
        "class_name": class_name,
        "x": x,
        "y": y,
        "z": float(z),
        "facing": float(facing) % 360.0,
        "normal": float(normal),
        "relief_deg": float(rng.uniform(10.0, 25.0)),
        "tilt": float(rng.uniform(10, 35)),
        "mount": mount,
        "size_m": _camera_size(class_name, rng),
        "arm_m": float(rng.uniform(0.15, 0.35)),
        "color": int(rng.random() < 0.2),
        "source": source,
    }


def _street_positions(
    streets: gpd.GeoDataFrame, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uniform random positions along projected streets: xy (n, 2) and the street's unit
    direction there (n, 2)."""
    from geo.streets.sampling import StreetPolylines

    lines = StreetPolylines.from_geometries(streets.geometry.to_numpy())
    total = float(lines.street_length.sum())
    along = np.sort(rng.uniform(0.0, total, n))
    street = np.searchsorted(lines.street_offset, along, side="right") - 1
    street = np.clip(street, 0, len(lines.street_length) - 1)
    offset = np.clip(along - lines.street_offset[street], 0.0, lines.street_length[street])
    xy, grid_bearing = lines.locate(street, offset)
    rad = np.radians(grid_bearing)
    return xy, np.stack([np.sin(rad), np.cos(rad)], axis=1)


def cameras_random(
    scene: Scene, streets: gpd.GeoDataFrame, *, density_per_km: float, seed: int
) -> pd.DataFrame:
    """A seeded Poisson process of ``density_per_km`` cameras per km of ``streets``.

    Each camera goes on the first facade within 25 m on a random side of the street (wall mount,
    3-6 m up, looking out from the wall), else on a pole at the kerb (4-7 m up). About half are
    domes, as in the Stanford labels.
    """
    rng = np.random.default_rng([seed, 3])
    km = float(streets.geometry.length.sum() / 1000.0)
    n = int(rng.poisson(density_per_km * km)) if km > 0 else 0
    if n == 0:
        return _empty_cameras()
    xy, along = _street_positions(streets, n, rng)
    f = scene.facades
    rows = []
    for i in range(n):
        side = 1.0 if rng.random() < 0.5 else -1.0
        px, py = along[i, 1] * side, -along[i, 0] * side  # right (side=1) or left of the street
        class_name = "dome" if rng.random() < DOME_SHARE else "directed"
        hit = facade_hit(scene, xy[i, 0], xy[i, 1], px, py, max_m=25.0) if len(f) else None
        if hit is not None and hit[1] > 2.0:
            j, t = hit
            x = xy[i, 0] + px * t + WALL_OFFSET_M * f.nx[j]
            y = xy[i, 1] + py * t + WALL_OFFSET_M * f.ny[j]
            normal = _bearing(f.nx[j], f.ny[j])
            facing = normal + float(np.clip(rng.normal(0, 40), -80, 80))
            z = min(_wall_height(rng), max(float(f.height[j]) - 0.5, 2.6))
            mount = "wall"
        else:
            kerb = float(rng.uniform(4.0, 7.0)) if hit is None else max(hit[1] - 1.5, 1.0)
            x, y = xy[i, 0] + px * kerb, xy[i, 1] + py * kerb
            facing = _bearing(-px, -py) + float(rng.normal(0, 60))
            z = _pole_height(rng)
            mount = "pole"
            normal = float("nan")
        rows.append(
            _camera_row(
                f"random/{i:06d}", class_name, x, y, z, facing, mount, "random", rng, normal=normal
            )
        )
    return pd.DataFrame(rows)


def _poles_for(cameras: pd.DataFrame) -> pd.DataFrame:
    poles = cameras[cameras["mount"] == "pole"]
    if len(poles) == 0:
        return _empty_objects()
    back = np.radians(poles["facing"].to_numpy())  # the pole stands 0.25 m behind the camera
    return pd.DataFrame(
        {
            "kind": "camera_pole",
            "x": poles["x"].to_numpy() - 0.25 * np.sin(back),
            "y": poles["y"].to_numpy() - 0.25 * np.cos(back),
            "z": poles["z"].to_numpy() + 0.3,
            "facing": poles["facing"].to_numpy(),
            "size_m": 0.12,
            "variant": 0,
            "pole": True,
        }
    )


def _with_lonlat(cameras: pd.DataFrame, crs: CRS) -> pd.DataFrame:
    cameras = cameras.reset_index(drop=True)
    if len(cameras) == 0:
        cameras["lon"], cameras["lat"] = [], []
        return cameras
    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(
        cameras["x"].to_numpy(), cameras["y"].to_numpy()
    )
    cameras["lon"], cameras["lat"] = lon, lat
    return cameras


# --- furniture and distractors ----------------------------------------------------------------

_FURNITURE_HEIGHT = {
    "lamp": (6.0, 9.0),
    "pole": (5.0, 8.0),
    "sign": (2.2, 3.0),
    "signal": (3.0, 4.5),
    "tree": (4.0, 8.0),
}


def furniture_from_points(points: gpd.GeoDataFrame, *, rng: np.random.Generator) -> pd.DataFrame:
    """Lamps, poles, signs and signals at projected OSM nodes."""
    if len(points) == 0:
        return _empty_objects()
    kind = points["kind"].to_numpy()
    low = np.array([_FURNITURE_HEIGHT[k][0] for k in kind])
    high = np.array([_FURNITURE_HEIGHT[k][1] for k in kind])
    n = len(points)
    is_tree = kind == "tree"
    return pd.DataFrame(
        {
            "kind": kind,
            "x": points.geometry.x.to_numpy(),
            "y": points.geometry.y.to_numpy(),
            "z": rng.uniform(low, high),
            "facing": rng.uniform(0, 360, n),
            "size_m": np.where(is_tree, rng.uniform(1.5, 3.5, n), rng.uniform(0.4, 0.8, n)),
            "variant": rng.integers(0, 1000, n),
            "pole": ~is_tree,
        }
    )


def furniture_random(
    scene: Scene,
    streets: gpd.GeoDataFrame,
    *,
    rng: np.random.Generator,
    lamps_per_km: float = 25.0,
    signs_per_km: float = 12.0,
    trees_per_km: float = 20.0,
    cars_per_km: float = 45.0,
) -> pd.DataFrame:
    """Seeded lamps, signs, street trees and parked cars along the streets (per km of street,
    both sides together). The kerb is 1.5 m in front of the facade on that side (4-7 m from the
    centre line where there is none); lamps and signs stand on it, trees 0.8 m behind it, cars
    1.1 m in front of it, along the street."""
    km = float(streets.geometry.length.sum() / 1000.0)
    rates = {"lamp": lamps_per_km, "sign": signs_per_km, "tree": trees_per_km, "car": cars_per_km}
    n = int(rng.poisson(sum(rates.values()) * km)) if km > 0 else 0
    if n == 0:
        return _empty_objects()
    xy, along = _street_positions(streets, n, rng)
    names = np.array(list(rates))
    kind = names[
        rng.choice(len(names), size=n, p=np.array(list(rates.values())) / sum(rates.values()))
    ]
    side = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    px, py = along[:, 1] * side, -along[:, 0] * side
    kerb = rng.uniform(4.0, 7.0, n)
    room = np.full(n, np.inf)  # metres between the kerb and the facade
    if len(scene.facades):
        for i in range(n):
            hit = facade_hit(scene, xy[i, 0], xy[i, 1], px[i], py[i], max_m=kerb[i] + 2.0)
            if hit is not None:
                kerb[i] = max(hit[1] - 1.5, 0.8)
                room[i] = hit[1] - kerb[i]
    offset = kerb.copy()
    offset[kind == "tree"] += 0.8
    offset[kind == "car"] -= 1.1
    ok = ~((kind == "car") & (offset < 2.5)) & ~((kind == "tree") & (room < 2.5))
    bearing = np.degrees(np.arctan2(along[:, 0], along[:, 1])) % 360
    z = np.select(
        [kind == "lamp", kind == "sign", kind == "tree", kind == "car"],
        [
            rng.uniform(6.0, 9.0, n),
            rng.uniform(2.2, 3.0, n),
            rng.uniform(4.5, 7.0, n),
            np.full(n, 1.45),
        ],
    )
    size = np.select(
        [kind == "tree", kind == "car"],
        [rng.uniform(1.5, 3.0, n), rng.uniform(4.0, 4.9, n)],
        rng.uniform(0.4, 0.8, n),
    )
    facing = np.where(
        np.isin(kind, ["car", "sign"]), bearing, np.degrees(np.arctan2(-px, -py)) % 360
    )
    frame = pd.DataFrame(
        {
            "kind": kind,
            "x": xy[:, 0] + px * offset,
            "y": xy[:, 1] + py * offset,
            "z": z,
            "facing": facing,
            "size_m": size,
            "variant": rng.integers(0, 1000, n),
            "pole": np.isin(kind, ["lamp", "sign"]),
        }
    )
    return frame[ok].reset_index(drop=True)


def distractors_on_facades(
    scene: Scene,
    *,
    rng: np.random.Generator,
    alarms_per_km: float = 25.0,
    units_per_km: float = 40.0,
    lights_per_km: float = 30.0,
    blades_per_km: float = 25.0,
) -> pd.DataFrame:
    """Camera-like things on walls: alarm boxes, wall/window units, wall lights and blade signs
    (sticking out of the wall), placed by a seeded Poisson process along the facades."""
    f = scene.facades
    total_km = float(f.length.sum() / 1000.0) if len(f) else 0.0
    rates = {
        "alarm": alarms_per_km,
        "unit": units_per_km,
        "wall_light": lights_per_km,
        "blade": blades_per_km,
    }
    frames = []
    for kind, rate in rates.items():
        n = int(rng.poisson(rate * total_km))
        if n == 0:
            continue
        seg = rng.choice(len(f), size=n, p=f.length / f.length.sum())
        s = rng.random(n)
        x = f.x0[seg] + s * (f.x1[seg] - f.x0[seg]) + 0.15 * f.nx[seg]
        y = f.y0[seg] + s * (f.y1[seg] - f.y0[seg]) + 0.15 * f.ny[seg]
        if kind == "unit":
            floor = rng.integers(1, 5, n)
            z = np.minimum(floor * 3.1 + rng.uniform(0.3, 1.0, n), f.height[seg] - 0.5)
            size = rng.uniform(0.5, 0.9, n)
        elif kind == "alarm":
            z = np.minimum(rng.uniform(2.8, 5.0, n), f.height[seg] - 0.5)
            size = rng.uniform(0.18, 0.32, n)
        elif kind == "blade":
            z = np.minimum(rng.uniform(2.9, 4.5, n), f.height[seg] - 0.5)
            size = rng.uniform(0.5, 1.0, n)
        else:
            z = np.minimum(rng.uniform(2.6, 4.5, n), f.height[seg] - 0.5)
            size = rng.uniform(0.15, 0.3, n)
        frames.append(
            pd.DataFrame(
                {
                    "kind": kind,
                    "x": x,
                    "y": y,
                    "z": z,
                    "facing": np.degrees(np.arctan2(f.nx[seg], f.ny[seg])) % 360,
                    "size_m": size,
                    "variant": rng.integers(0, 4, n),
                    "pole": False,
                }
            )
        )
    return pd.concat(frames, ignore_index=True) if frames else _empty_objects()
