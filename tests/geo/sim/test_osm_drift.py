"""The simulator's option that makes OSM disagree with the street (``osm:drop=F,add=D,move=M``):
mapped cameras removed, unmapped ones added, the rest moved a few metres, each in the truth."""

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.errors import GeoInputError
from geo.sim.scene import _parse_sim_cameras, cameras_osm_drift, scene_from_frames
from geo.sim.survey import truth_features

CRS = "EPSG:32635"
X0, Y0 = 385_000.0, 6_672_000.0


def _scene():
    building = gpd.GeoDataFrame({"height_m": [12.0], "building_id": [1]},
                                geometry=[shapely.box(X0 + 400, Y0 + 20, X0 + 600, Y0 + 40)], crs=CRS)
    return scene_from_frames(building, crs=CRS)


def _nodes(n=40):
    x = X0 + np.linspace(10, 350, n)  # along the street, 8 m off it, far from the building: pole cameras
    return gpd.GeoDataFrame({"osm_id": np.arange(1000, 1000 + n), "camera:type": ["dome"] * 5 + [None] * (n - 5)},
                            geometry=gpd.points_from_xy(x, np.full(n, Y0 + 8.0)), crs=CRS)


def _streets():
    return gpd.GeoDataFrame({"street_id": [0]}, geometry=[shapely.LineString([(X0, Y0), (X0 + 1000, Y0)])], crs=CRS)


def test_drop_add_move_are_recorded_in_the_truth():
    scene = _scene()
    drift = {"drop": 0.5, "add": 10.0, "move": 5.0, "seed": None}
    cams = cameras_osm_drift(scene, _nodes(), _streets(), drift=drift, seed=3)
    removed = {r["osm_id"] for r in scene.meta["osm_removed"]}
    kept = cams[cams["osm_status"] == "kept"]
    assert 8 <= len(removed) <= 32 and len(removed) + len(kept) == 40
    assert not removed & set(kept["osm_id"]) and (removed | set(kept["osm_id"])) == {str(i) for i in range(1000, 1040)}
    # mapping error: every kept pole camera stands 0-5 m from its node, not all on it
    assert kept["osm_offset_m"].between(0, 5.0 + 1e-6).all() and kept["osm_offset_m"].max() > 1.0
    assert (kept["mount"] == "pole").all()
    unmapped = cams[cams["osm_status"] == "unmapped"]
    assert 2 <= len(unmapped) <= 25 and unmapped["camera_id"].str.startswith("unmapped/").all()
    assert unmapped["osm_id"].isna().all() and (unmapped["source"] == "unmapped").all()
    assert cams["camera_id"].is_unique
    # removed domes keep their class in the truth
    scene.cameras = cams.assign(lon=0.0, lat=0.0)
    truth = truth_features(scene, pd.DataFrame({"camera_id": [], "image_id": []}))
    assert truth["osm_drift"] == drift and len(truth["osm_removed"]) == len(removed)
    assert {f["properties"]["osm_status"] for f in truth["osm_removed"]} == {"removed"}
    props = [f["properties"] for f in truth["features"]]
    assert {p["osm_status"] for p in props} == {"kept", "unmapped"}
    assert all((p["osm_id"] is None) == (p["osm_status"] == "unmapped") for p in props)


def test_drift_is_seeded():
    drift = {"drop": 0.3, "add": 5, "move": 3, "seed": None}
    a = cameras_osm_drift(_scene(), _nodes(), _streets(), drift=drift, seed=1)
    b = cameras_osm_drift(_scene(), _nodes(), _streets(), drift=drift, seed=1)
    c = cameras_osm_drift(_scene(), _nodes(), _streets(), drift={**drift, "seed": 2}, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert not (len(a) == len(c) and np.allclose(a["x"], c["x"]))


def test_plain_osm_is_unchanged_and_bad_specs_are_one_line_errors():
    assert _parse_sim_cameras("osm") == ("osm", None)
    assert _parse_sim_cameras("osm:drop=0.2") == ("osm", {"drop": 0.2, "add": 0.0, "move": 0.0, "seed": None})
    assert _parse_sim_cameras("osm:move=5,seed=7")[1]["seed"] == 7
    for bad in ("osm:drop=1.5", "osm:drop=x", "osm:shift=3", "osm:add=-1", "osm:"):
        with pytest.raises(GeoInputError, match="osm:drop=F,add=D,move=M"):
            _parse_sim_cameras(bad)
