"""A small generated survey for the locate/estimate tests: a street grid, block buildings with
cameras on their facades, views sampled by ``geo.streets.sampling`` and exact pinhole truth boxes.

Nothing is mocked: the graph is a real osmnx-compatible MultiDiGraph saved as GraphML, the
tables follow the survey contracts, and the truth boxes are projections of the cameras.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

from geo.counting.locate import CAMERA_SIZE_M

UTM = "EPSG:32635"  # Helsinki's zone
ORIGIN = (385_000.0, 6_672_000.0)
EYE_M = 2.5


def grid_graph(*, n: int = 4, block_m: float = 100.0) -> nx.MultiDiGraph:
    """An n x n street grid (two-way streets) in UTM metres, osmnx style."""
    graph = nx.MultiDiGraph(crs=UTM)
    x0, y0 = ORIGIN
    for i in range(n):
        for j in range(n):
            graph.add_node(i * n + j, x=x0 + i * block_m, y=y0 + j * block_m, street_count=4)
    way = 0
    for i in range(n):
        for j in range(n):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < n and j + dj < n:
                    a, b = i * n + j, (i + di) * n + (j + dj)
                    for u, v in ((a, b), (b, a)):
                        geom = shapely.LineString([(graph.nodes[u]["x"], graph.nodes[u]["y"]),
                                                   (graph.nodes[v]["x"], graph.nodes[v]["y"])])
                        graph.add_edge(u, v, key=0, osmid=way, highway="residential", oneway=False,
                                       reversed=u > v, length=block_m, geometry=geom)
                    way += 1
    return graph


def block_buildings(*, n: int = 4, block_m: float = 100.0, setback_m: float = 12.0,
                    height_m: float = 12.0) -> gpd.GeoDataFrame:
    """One building per block, ``setback_m`` from the street centrelines (EPSG:4326)."""
    x0, y0 = ORIGIN
    boxes = [shapely.box(x0 + i * block_m + setback_m, y0 + j * block_m + setback_m,
                         x0 + (i + 1) * block_m - setback_m, y0 + (j + 1) * block_m - setback_m)
             for i in range(n - 1) for j in range(n - 1)]
    frame = gpd.GeoDataFrame({"building_id": np.arange(len(boxes)), "height_m": height_m},
                             geometry=boxes, crs=UTM)
    return frame.to_crs(4326)


def facade_cameras(buildings: gpd.GeoDataFrame, *, n: int, seed: int = 0) -> gpd.GeoDataFrame:
    """``n`` cameras 0.3 m outside random points of the building outlines (EPSG:4326)."""
    rng = np.random.default_rng(seed)
    bounds = shapely.bounds(buildings.to_crs(UTM).geometry.to_numpy())  # axis-aligned blocks
    b = bounds[rng.integers(0, len(bounds), n)]
    side = rng.integers(0, 4, n)  # 0 west, 1 east, 2 south, 3 north
    t = rng.uniform(0.05, 0.95, n)
    nx_ = np.select([side == 0, side == 1], [-1.0, 1.0], 0.0)
    ny_ = np.select([side == 2, side == 3], [-1.0, 1.0], 0.0)
    x = np.where(side == 0, b[:, 0], np.where(side == 1, b[:, 2], b[:, 0] + t * (b[:, 2] - b[:, 0]))) + 0.3 * nx_
    y = np.where(side == 2, b[:, 1], np.where(side == 3, b[:, 3], b[:, 1] + t * (b[:, 3] - b[:, 1]))) + 0.3 * ny_
    frame = gpd.GeoDataFrame({
        "camera_id": np.arange(n, dtype=np.int64),
        "class_name": np.where(rng.random(n) < 0.5, "dome", "directed"),
        "mount_height_m": rng.uniform(3.0, 6.0, n),
        "facing": np.degrees(np.arctan2(nx_, ny_)) % 360.0,
    }, geometry=gpd.points_from_xy(x, y), crs=UTM)
    # box-equivalent sizes spread around geo.counting.locate's CAMERA_SIZE_M (the simulator's, measured)
    frame["size_m"] = frame["class_name"].map(CAMERA_SIZE_M).to_numpy(float) * rng.uniform(0.8, 1.2, n)
    return frame.to_crs(4326)


def truth_boxes_from_scene(cameras: gpd.GeoDataFrame, images: pd.DataFrame, buildings: gpd.GeoDataFrame, *,
                           min_px: float = 3.0, max_range_m: float = 40.0, seed: int = 0) -> pd.DataFrame:
    """Pinhole boxes of every camera visible in every image (in the field of view, not behind a
    building, at least ``min_px`` pixels). Sizes and centres get a little pixel noise."""
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    cam = cameras.to_crs(UTM)
    cx, cy = cam.geometry.x.to_numpy(), cam.geometry.y.to_numpy()
    eyes = gpd.GeoSeries(gpd.points_from_xy(images["lon"], images["lat"]), crs=4326).to_crs(UTM)
    ex, ey = eyes.x.to_numpy(), eyes.y.to_numpy()
    pairs = cKDTree(np.column_stack([cx, cy])).sparse_distance_matrix(
        cKDTree(np.column_stack([ex, ey])), max_range_m, output_type="ndarray")
    ci, ii = pairs["i"].astype(int), pairs["j"].astype(int)
    dist = np.hypot(cx[ci] - ex[ii], cy[ci] - ey[ii])
    from pyproj import CRS

    from geo.streets.sampling import true_north_correction

    conv = true_north_correction(images["lon"].to_numpy(float), images["lat"].to_numpy(float), CRS(UTM))[ii]
    bearing = (np.degrees(np.arctan2(cx[ci] - ex[ii], cy[ci] - ey[ii])) + conv) % 360
    off = (bearing - images["heading"].to_numpy()[ii] + 180) % 360 - 180
    fov = images["fov"].to_numpy()[ii]
    inside = np.abs(off) < fov / 2 - 1.0
    # line of sight, less the last 1 m (the camera's own wall)
    keep = np.clip((dist - 1.0) / dist, 0, 1)
    lines = shapely.linestrings(np.stack([np.column_stack([ex[ii], ey[ii]]),
                                          np.column_stack([ex[ii] + (cx[ci] - ex[ii]) * keep,
                                                           ey[ii] + (cy[ci] - ey[ii]) * keep])], axis=1))
    polys = buildings.to_crs(UTM).geometry.to_numpy()
    blocked = np.zeros(len(ci), bool)
    blocked[shapely.STRtree(polys).query(lines, predicate="intersects")[0]] = True
    # a wall camera seen closer than GRAZING_DEG to its wall's plane is hidden by the facade's
    # relief (as in the simulator; geo.counting.inclusion.GRAZING_DEG)
    facing = np.radians(cam["facing"].to_numpy(float))[ci] if "facing" in cam else None
    ok = inside & ~blocked
    if facing is not None:
        from geo.counting.inclusion import GRAZING_DEG

        toward = (np.sin(facing) * (ex[ii] - cx[ci]) + np.cos(facing) * (ey[ii] - cy[ci])) / np.maximum(dist, 1e-9)
        ok &= toward >= np.sin(np.radians(GRAZING_DEG))
    ci, ii, dist, off = ci[ok], ii[ok], dist[ok], off[ok]
    width, height = images["width"].to_numpy(float)[ii], images["height"].to_numpy(float)[ii]
    focal = width / 2 / np.tan(np.radians(images["fov"].to_numpy()[ii]) / 2)
    dx = focal * np.tan(np.radians(off))
    rise = cam["mount_height_m"].to_numpy()[ci] - EYE_M
    dy = np.hypot(focal, dx) * rise / dist
    slant = np.hypot(dist, rise)
    size = cam["size_m"].to_numpy()[ci] * np.hypot(focal, dx) / slant * rng.uniform(0.85, 1.15, len(ci))
    px = width / 2 + dx + rng.normal(0, 0.5, len(ci))
    py = height / 2 - dy + rng.normal(0, 0.5, len(ci))
    big = size >= min_px
    return pd.DataFrame({
        "image_id": images["image_id"].to_numpy()[ii][big],
        "camera_id": cam["camera_id"].to_numpy()[ci][big],
        "class_name": cam["class_name"].to_numpy()[ci][big],
        "x1": (px - size / 2)[big], "y1": (py - size / 2)[big],
        "x2": (px + size / 2)[big], "y2": (py + size / 2)[big],
    })


def make_survey(survey_dir: str | Path, *, n_cameras: int = 40, seed: int = 0, spacing: float = 10.0,
                recall: float = 0.7, precision: float = 0.8, grid: int = 4, with_detections: bool = True
                ) -> dict:
    """Write a complete generated survey into ``survey_dir``; return its parts."""
    from geo.streets.network import road_km, save_network
    from geo.streets.sampling import views_from_graph
    from scripts.validation.validate_estimator import detections_from_truth_boxes

    survey_dir = Path(survey_dir)
    survey_dir.mkdir(parents=True, exist_ok=True)
    graph = grid_graph(n=grid)
    save_network(graph, survey_dir / "network.graphml")
    points, views = views_from_graph(graph, spacing=spacing, seed=seed)
    points.to_parquet(survey_dir / "points.parquet")
    views.to_parquet(survey_dir / "views.parquet")
    buildings = block_buildings(n=grid)
    cameras = facade_cameras(buildings, n=n_cameras, seed=seed)
    images = pd.DataFrame({
        "view_id": views["view_id"], "image_id": views["view_id"], "provider": "simulated",
        "path": "images/" + views["view_id"] + ".jpg", "width": 640, "height": 640,
        "lon": views["lon"], "lat": views["lat"], "heading": views["heading"], "fov": views["fov"],
        "pitch": views["pitch"], "captured_at": None, "status": "ok", "error": None})
    images.to_parquet(survey_dir / "images.parquet")
    boxes = truth_boxes_from_scene(cameras, images, buildings, seed=seed)
    boxes.to_parquet(survey_dir / "truth_boxes.parquet")
    seen = boxes.groupby("camera_id")["image_id"].agg(list)
    truth = cameras.assign(seen_by=[list(seen.get(c, [])) for c in cameras["camera_id"]])
    truth.assign(seen_by=truth["seen_by"].map(json.dumps)).to_file(survey_dir / "truth.geojson", driver="GeoJSON")
    info = {"area": "generated grid", "network_type": "drive", "method": "systematic", "spacing_m": spacing,
            "seed": seed, "sides": "both", "fov": 90.0, "pitch": 0.0, "road_km": road_km(graph),
            "n_points": len(points), "n_views": len(views), "crs": UTM}
    (survey_dir / "sample.json").write_text(json.dumps(info))
    detections = None
    if with_detections:
        detections = detections_from_truth_boxes(boxes, images, recall=recall, precision=precision, seed=seed)
        (survey_dir / "detections").mkdir(exist_ok=True)
        detections.to_parquet(survey_dir / "detections" / "part-000000.parquet")
    return {"graph": graph, "points": points, "views": views, "images": images, "buildings": buildings,
            "cameras": cameras, "boxes": boxes, "detections": detections, "info": info}
