"""design_subset.py (issue 26, dense6): a sparser design's survey cut from a denser rendered one."""
import json

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from scripts.validation.design_subset import kept_points, subset_survey

SIDES = ("left", "right", "forward", "backward")


def _parent(tmp_path):
    parent = tmp_path / "parent"
    (parent / "detections").mkdir(parents=True)
    n = 6  # two streets of three points, 5 m apart, listed out of order
    points = gpd.GeoDataFrame({"point_id": range(n), "street_id": [0, 0, 0, 1, 1, 1],
                               "offset_m": [10.0, 0.0, 5.0, 0.0, 5.0, 10.0]},
                              geometry=[Point(0, i) for i in range(n)], crs=4326)
    views = gpd.GeoDataFrame({"view_id": [f"{p}_{s}" for p in range(n) for s in SIDES],
                              "point_id": [p for p in range(n) for _ in SIDES], "side": list(SIDES) * n},
                             geometry=[Point(0, p) for p in range(n) for _ in SIDES], crs=4326)
    points.to_parquet(parent / "points.parquet")
    views.to_parquet(parent / "views.parquet")
    images = pd.DataFrame({"view_id": views["view_id"], "image_id": "i" + views["view_id"], "status": "ok"})
    images.to_parquet(parent / "images.parquet")
    pd.DataFrame({"image_id": ["i1_left", "i0_forward", "i4_right"], "conf": 0.9}).to_parquet(
        parent / "detections" / "part-000000.parquet")
    pd.DataFrame({"image_id": ["i1_left", "i0_forward"], "x1": [0, 0]}).to_parquet(parent / "truth_boxes.parquet")
    (parent / "detect_summary.json").write_text(json.dumps({"images": len(images), "detections": 3}))
    (parent / "sample.json").write_text(json.dumps({"spacing_m": 5.0, "along": True, "n_points": n}))
    return parent


def test_kept_points_takes_every_other_point_along_each_street_from_its_start(tmp_path):
    parent = _parent(tmp_path)
    kept = kept_points(gpd.read_parquet(parent / "points.parquet"), 2)
    assert sorted(kept["point_id"]) == [0, 1, 3, 5]  # offsets 0 and 10 m of each street


def test_subset_survey_cuts_views_images_detections_and_true_boxes(tmp_path):
    parent = _parent(tmp_path)
    info = subset_survey(parent, tmp_path / "child", every=2, sides=("left", "right"))
    child = tmp_path / "child"
    assert info["spacing_m"] == 10.0 and info["along"] is False and info["n_points"] == 4 and info["n_views"] == 8
    assert set(pd.read_parquet(child / "images.parquet")["image_id"]) == {
        f"i{p}_{s}" for p in (0, 1, 3, 5) for s in ("left", "right")}
    assert list(pd.read_parquet(child / "detections" / "part-000000.parquet")["image_id"]) == ["i1_left"]
    assert list(pd.read_parquet(child / "truth_boxes.parquet")["image_id"]) == ["i1_left"]
    assert json.loads((child / "detect_summary.json").read_text())["detections"] == 1
    along = subset_survey(parent, tmp_path / "along", every=1, sides=SIDES)
    assert along["along"] is True and along["spacing_m"] == 5.0 and along["n_views"] == 24
