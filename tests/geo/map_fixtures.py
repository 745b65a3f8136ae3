"""Small generated inputs for the map and plot tests: two areas, streets, cameras, truth, one image."""

from __future__ import annotations

from pathlib import Path

import cv2
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

EVIL = '<script>alert("x")</script>&<b>`${alert(2)}`\\</script><img src=x onerror=alert(3)>'
UTM = 32635  # Helsinki's UTM zone


def areas() -> gpd.GeoDataFrame:
    """Two 0.01° squares, the first clockwise, the second without truth cameras."""
    cw_square = shapely.Polygon([(24.90, 60.16), (24.90, 60.17), (24.91, 60.17), (24.91, 60.16)])
    return gpd.GeoDataFrame({
        "area_id": ["a1", "a2"], "name": [EVIL, "Kallio"], "road_km": [1.5, 2.0], "surveyed_km": [1.5, 1.0],
        "n_images": [100, 80], "n_detections": [5, 0], "n_cameras": [3, 0], "est_cameras": [4.2, 0.0],
        "est_lo": [1.0, 0.0], "est_hi": [9.0, 3.1], "per_road_km": [2.8, 0.0], "per_km2": [np.nan, 0.0],
        "per_1000_people": [np.nan, np.nan], "rate_est_cameras": [5.0, 0.0], "truth_cameras": [4.0, 1.0],
        "osm_cameras": [np.nan, np.nan],
    }, geometry=[cw_square, shapely.box(24.91, 60.16, 24.92, 60.17)], crs=4326)


def cameras() -> gpd.GeoDataFrame:
    """Two located cameras; the first has an EVIL class name and is seen in image img0."""
    return gpd.GeoDataFrame({
        "camera_id": [0, 1], "lon": [24.905, 24.915], "lat": [60.165, 60.166], "n_views": [2, 1],
        "n_detections": [2, 1], "conf_max": [0.9, 0.3], "class_name": [EVIL, "dome"],
        "method": ["facade", "size"], "uncertainty_m": [1.2, 5.0],
        "image_ids": [["img0", "img1"], ["img1"]]},
        geometry=gpd.points_from_xy([24.905, 24.915], [60.165, 60.166]), crs=4326)


def streets() -> gpd.GeoDataFrame:
    """Three projected streets (metres, UTM 35N): one per area and one outside both."""
    lines = gpd.GeoSeries([shapely.LineString([(24.901, 60.165), (24.909, 60.165)]),
                           shapely.LineString([(24.911, 60.166), (24.919, 60.166)]),
                           shapely.LineString([(24.905, 60.161), (24.915, 60.162)])], crs=4326).to_crs(UTM)
    return gpd.GeoDataFrame({"street_id": [0, 1, 2], "highway": ["residential", EVIL, "primary"],
                             "length_m": lines.length.to_numpy()}, geometry=lines.to_numpy(), crs=UTM)


def points_and_images(root: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Points on streets 0 and 1, their images (one written to ``root``), and detections."""
    points = pd.DataFrame({"point_id": [0, 1, 2], "street_id": [0, 0, 1]})
    images = pd.DataFrame({"image_id": ["img0", "img1", "img2", "img3"], "point_id": [0, 1, 2, 2],
                           "status": ["ok", "ok", "ok", "error"],
                           "path": ["images/img0.jpg", "images/missing.jpg", None, None]})
    (root / "images").mkdir(parents=True, exist_ok=True)
    picture = np.full((120, 160, 3), 200, np.uint8)
    cv2.rectangle(picture, (70, 50), (90, 62), (20, 20, 20), -1)  # the "camera"
    cv2.imwrite(str(root / "images" / "img0.jpg"), picture)
    detections = pd.DataFrame({"image_id": ["img0", "img1", "img1"], "x1": [70.0, 10, 30], "y1": [50.0, 10, 30],
                               "x2": [90.0, 20, 40], "y2": [62.0, 20, 40], "conf": [0.9, 0.5, 0.3],
                               "class_name": [EVIL, EVIL, "dome"]})
    return points, images, detections


def truth() -> gpd.GeoDataFrame:
    """Three true cameras (simulated survey)."""
    return gpd.GeoDataFrame({"camera_id": ["osm/1", "osm/2", EVIL], "class_name": ["dome", "directed", "dome"],
                             "mount": ["wall", "pole", "wall"], "seen_by": [["img0"], [], []]},
                            geometry=gpd.points_from_xy([24.905, 24.912, 24.918], [60.1651, 60.168, 60.163]),
                            crs=4326)
