"""A hand-built scene for the comparison with OSM: one straight surveyed street, views every 10 m
looking both ways across it, located cameras and OSM cameras placed by hand (no rendering)."""

from __future__ import annotations

import base64
import io

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

UTM = 32635
X0, Y0 = 385_000.0, 6_672_000.0  # central Helsinki, metres
TO_LL = Transformer.from_crs(UTM, 4326, always_xy=True)


def lonlat(x: float, y: float) -> tuple[float, float]:
    """Scene metres (from the street's start) to lon, lat."""
    return TO_LL.transform(X0 + x, Y0 + y)


def surveyed() -> gpd.GeoDataFrame:
    """The surveyed street: 200 m along x, as one piece (projected)."""
    return gpd.GeoDataFrame({"street_id": [0]}, geometry=[shapely.LineString([(X0, Y0), (X0 + 200, Y0)])], crs=UTM)


def views() -> tuple[pd.DataFrame, pd.DataFrame]:
    """(views as ``views_for_inclusion`` gives them, the images in the same order): a point
    every 10 m, one view looking north and one south."""
    xs = np.arange(5.0, 200.0, 10.0)
    x = np.repeat(xs, 2)
    heading = np.tile([0.0, 180.0], len(xs))
    ids = [f"v{i:03d}" for i in range(len(x))]
    frame = pd.DataFrame({"x": X0 + x, "y": Y0, "heading_grid": heading, "fov": 90.0, "width": 640.0,
                          "height": 640.0, "share": 1.0})
    return frame, pd.DataFrame({"image_id": ids, "path": [f"images/{i}.jpg" for i in ids]})


def crop_uri(shade: int = 90) -> str:
    """A tiny JPEG as a data URI (a stand-in crop)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (shade, shade, shade)).save(buffer, format="JPEG")
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def osm(rows: list[tuple[str, float, float, str | None]]) -> gpd.GeoDataFrame:
    """OSM cameras: (osm_id, x, y, camera:type) in scene metres."""
    ll = [lonlat(x, y) for _, x, y, _ in rows]
    return gpd.GeoDataFrame({"osm_id": [int(r[0]) for r in rows], "camera:type": [r[3] for r in rows],
                             "camera:mount": [None] * len(rows), "surveillance": ["public"] * len(rows),
                             "surveillance:type": ["camera"] * len(rows)},
                            geometry=gpd.points_from_xy([p[0] for p in ll], [p[1] for p in ll]), crs=4326)


def cameras(rows: list[tuple[int, float, float, str, float]]) -> pd.DataFrame:
    """Located cameras: (camera_id, x, y, class_name, uncertainty_m) in scene metres."""
    ll = [lonlat(x, y) for _, x, y, _, _ in rows]
    n = len(rows)
    return pd.DataFrame({"camera_id": [r[0] for r in rows], "lon": [p[0] for p in ll], "lat": [p[1] for p in ll],
                         "class_name": [r[3] for r in rows], "uncertainty_m": [r[4] for r in rows],
                         "method": ["triangulated"] * n, "n_views": [2] * n, "n_detections": [2] * n,
                         "conf_max": [0.9] * n, "image_ids": [["v000", "v002"]] * n})


def high_recall(size_px):
    """A detector that finds 90% of boxes of any size."""
    return np.full(np.shape(size_px), 0.9)


def blind(size_px):
    """A detector that finds almost nothing."""
    return np.full(np.shape(size_px), 0.02)
