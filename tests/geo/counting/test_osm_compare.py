"""The comparison with OSM on a hand-built scene: each status, the match radius from the located
camera's uncertainty, class agreement, p_find from the inclusion probability, and bad input."""

import json

import numpy as np
import pytest

from geo.counting.osm_compare import (STATUSES, compare_from_tables, compare_survey, match_radius_m,
                                      suggested_tags)
from geo.errors import GeoInputError
from tests.geo.counting import osm_scene as sc


def _compare(cams, osm, *, recall=sc.high_recall, p_real=None, strip=20.0, crops=None):
    views, images = sc.views()
    return compare_from_tables(cams, osm, surveyed=sc.surveyed(), views=views, images=images, recall_at=recall,
                               p_real=p_real, strip=strip, spacing_m=10.0, crops=crops)


def _row(table, **where):
    sel = np.ones(len(table), bool)
    for key, value in where.items():
        sel &= (table[key].astype(str) == str(value)).to_numpy()
    assert sel.sum() == 1, (where, table[["status", "osm_id", "camera_id"]])
    return table[sel].iloc[0]


def test_each_status_on_a_hand_built_scene():
    osm = sc.osm([("1", 50, 6, "dome"),      # matched by camera 10: confirmed, class agrees
                  ("2", 20, -6, "fixed"),    # matched by a dome: confirmed, class differs
                  ("3", 120, -5, None),      # inside the strip, no located camera: unseen
                  ("4", 100, 60, None)])     # 60 m from the street: outside
    cams = sc.cameras([(10, 51, 6.5, "dome", 1.0), (11, 20.5, -6, "dome", 1.0),
                       (12, 160, 7, "directed", 1.0)])  # no OSM camera near: new
    crop = sc.crop_uri()
    table = _compare(cams, osm, p_real=np.array([0.95, 0.9, 0.85]), crops=[[crop], [crop], [crop, crop]])
    assert set(table["status"]) == set(STATUSES)
    assert len(table) == 5  # two confirmed pairs, one new, one unseen, one outside
    a = _row(table, osm_id=1)
    assert a["status"] == "confirmed" and a["camera_id"] == 10 and bool(a["class_agree"])
    assert a["distance_m"] == pytest.approx(np.hypot(1, 0.5), abs=0.05)
    b = _row(table, osm_id=2)
    assert b["status"] == "confirmed" and not b["class_agree"]
    new = _row(table, camera_id=12)
    assert new["status"] == "new" and new["p_real"] == pytest.approx(0.85) and len(new["crops"]) == 2
    assert json.loads(new["suggested_tags"]) == {"man_made": "surveillance", "surveillance:type": "camera",
                                                 "camera:type": "fixed"}
    assert list(new["image_ids"]) == ["v000", "v002"]
    unseen = _row(table, osm_id=3)
    assert unseen["status"] == "unseen" and unseen["in_strip"]
    assert unseen["p_find"] > 0.8  # several views, recall 0.9: it would have been found
    assert len(unseen["expected_views"]) >= 1 and str(unseen["expected_views"][0]).startswith("v")
    outside = _row(table, osm_id=4)
    assert outside["status"] == "outside" and not outside["in_strip"] and np.isnan(outside["p_find"])
    assert table.crs.to_epsg() == 4326 and (table.geometry.x == table["lon"]).all()


def test_unseen_with_a_blind_detector_cannot_tell():
    table = _compare(sc.cameras([]), sc.osm([("3", 120, -5, None)]), recall=sc.blind)
    row = _row(table, osm_id=3)
    assert row["status"] == "unseen" and row["p_find"] < 0.3
    assert f"probability {row['p_find']:.2f}" in row["evidence"]


def test_match_radius_grows_with_the_located_cameras_uncertainty():
    assert match_radius_m(np.array([0.0]))[0] == pytest.approx(8.0)
    assert match_radius_m(np.array([5.0]))[0] == pytest.approx(np.hypot(8, 10))
    assert match_radius_m(np.array([100.0]))[0] == pytest.approx(25.0)
    osm = sc.osm([("1", 50, 10, None)])
    sure = _compare(sc.cameras([(10, 50, -1.5, "directed", 0.3)]), osm)  # 11.5 m away, +-0.3 m: not it
    assert set(sure["status"]) == {"new", "unseen"}
    unsure = _compare(sc.cameras([(10, 50, -1.5, "directed", 5.0)]), osm)  # +-5 m: radius 12.8 m
    assert list(unsure["status"]) == ["confirmed"]


def test_a_camera_located_twice_at_one_node_is_not_new():
    osm = sc.osm([("1", 50, 6, None)])
    table = _compare(sc.cameras([(10, 50.5, 6, "directed", 1.0), (11, 52, 7, "directed", 1.0)]), osm)
    assert list(table["status"]) == ["confirmed", "confirmed"]
    assert table["shared_match"].sum() == 1 and (table["osm_id"] == "1").all()


def test_per_class_strip():
    osm = sc.osm([("1", 50, 15, "dome"), ("2", 52, 15, None)])
    # per-class strip: domes 12 m, so the dome node at 15 m is outside, the untyped (directed)
    # node at 15 m inside its 20 m
    table = _compare(sc.cameras([]), osm, strip={"dome": 12.0, "directed": 20.0})
    assert _row(table, osm_id=1)["status"] == "outside" and _row(table, osm_id=2)["status"] == "unseen"


def test_suggested_tags_know_the_mount_only_from_a_facade():
    assert suggested_tags("dome", method="facade")["camera:mount"] == "wall"
    assert "camera:mount" not in suggested_tags("directed", method="size")
    assert suggested_tags("directed")["camera:type"] == "fixed"


def test_a_survey_without_osm_cameras_is_a_clear_error_and_writes_nothing(tmp_path):
    from tests.geo.sim.test_features import write_block_osm

    area = write_block_osm(tmp_path / "street.osm", buildings=[])
    survey = tmp_path / "s"
    survey.mkdir()
    (survey / "sample.json").write_text(json.dumps({"area": str(area)}))
    for name in ("network.graphml", "points.parquet", "cameras.parquet"):
        (survey / name).write_text("")
    with pytest.raises(GeoInputError, match="no OpenStreetMap cameras"):
        compare_survey(survey)
    assert not (survey / "osm_compare.geojson").exists() and not (survey / "osm_compare.parquet").exists()


def test_a_survey_before_locate_says_which_stage_to_run(tmp_path):
    survey = tmp_path / "s"
    survey.mkdir()
    (survey / "sample.json").write_text(json.dumps({"area": "demo"}))
    for name in ("network.graphml", "points.parquet"):
        (survey / name).write_text("")
    with pytest.raises(GeoInputError, match="camcensus locate"):
        compare_survey(survey)


def test_a_one_sided_design_speaks_only_for_its_side():
    osm = sc.osm([("1", 80, 6, None), ("2", 80, -6, None)])  # left and right of a street running east
    views, images = sc.views()
    table = compare_from_tables(sc.cameras([]), osm, surveyed=sc.surveyed(), views=views, images=images,
                                recall_at=sc.high_recall, spacing_m=10.0, side="left")
    assert _row(table, osm_id=1)["status"] == "unseen" and _row(table, osm_id=2)["status"] == "outside"


def test_p_find_follows_the_recall_the_estimate_used():
    from geo.counting.osm_compare import recall_of_estimate

    report = {"calibration": {"source": "review", "recall_by_size": {
        "edges_px": [0, 8, 16, 100000], "recall": [0.1, 0.3, 0.6], "n": [5, 5, 5]}}}
    recall_at, source = recall_of_estimate(report)
    assert source == "review"
    r = recall_at(np.array([2.0, 12.0, 50.0]))
    assert r[0] == pytest.approx(0.1) and r[2] == pytest.approx(0.6) and 0.1 < r[1] < 0.6
    assert recall_of_estimate({}) is None and recall_of_estimate({"calibration": {"recall_by_size": {}}}) is None
    # a blind recall from the estimate makes every OSM camera unfindable; a sharp one findable
    osm = sc.osm([("9", 120, -5, None)])
    blind = _compare(sc.cameras([]), osm, recall=recall_of_estimate(
        {"calibration": {"recall_by_size": {"edges_px": [0, 100000], "recall": [0.0]}}})[0])
    sharp = _compare(sc.cameras([]), osm, recall=recall_of_estimate(
        {"calibration": {"recall_by_size": {"edges_px": [0, 100000], "recall": [0.95]}}})[0])
    assert _row(blind, osm_id=9)["p_find"] == pytest.approx(0.0) and _row(sharp, osm_id=9)["p_find"] > 0.5


def test_p_find_follows_the_per_camera_sd_the_estimate_used():
    from geo.counting.heterogeneity import CAMERA_LOGIT_SD
    from geo.counting.osm_compare import camera_sd_of_estimate

    assert camera_sd_of_estimate({}) == CAMERA_LOGIT_SD
    assert camera_sd_of_estimate({"self_calibration": {"used": False, "camera_logit_sd": 0.25}}) == CAMERA_LOGIT_SD
    assert camera_sd_of_estimate({"self_calibration": {"used": True, "camera_logit_sd": 0.25}}) == 0.25
    views, images = sc.views()
    osm = sc.osm([("9", 120, -14, None)])  # 14 m off the street: in several views
    mid = lambda size_px: np.full(len(np.atleast_1d(size_px)), 0.3)  # noqa: E731 - recall 0.3 at every size
    p = {sd: _row(compare_from_tables(sc.cameras([]), osm, surveyed=sc.surveyed(), views=views, images=images,
                                      recall_at=mid, strip=20.0, spacing_m=10.0, camera_sd=sd), osm_id=9)["p_find"]
         for sd in (0.25, CAMERA_LOGIT_SD)}
    assert p[0.25] > p[CAMERA_LOGIT_SD] + 0.02  # several views: less spread, likelier found by one
    assert p[CAMERA_LOGIT_SD] == _row(_compare(sc.cameras([]), osm, recall=mid), osm_id=9)["p_find"]
