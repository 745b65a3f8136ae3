"""validate_selfcal's truth check (issue 26): the located cameras real / false by their boxes, and the recall
ratio read from every true camera's boxes, on tiny surveys written here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from detector.registry import resolve_model
from geo.counting.calibration import calibration_from_dict, recall_at
from scripts.validation.validate_selfcal import camera_sd_loglik, recall_ratio_from_truth, spread_markdown, truth_check


@pytest.fixture(scope="module")
def card():
    return resolve_model("cctv-yolo11n-synth2").card.calibration


def test_recall_ratio_from_truth_reads_a_known_shift(card):
    cal = calibration_from_dict(card)
    rng = np.random.default_rng(3)
    size = rng.uniform(6.0, 40.0, 20000)
    r = recall_at(size, cal.size_edges, cal.recall_bins())
    for ratio in (1.0, 0.3):
        hit = rng.uniform(size=len(size)) < ratio * r
        got = recall_ratio_from_truth(size, hit, cal)
        assert got == pytest.approx(ratio, abs=0.04)


def _box(image_id, x, w, **extra):
    return {"image_id": image_id, "x1": float(x), "y1": 10.0, "x2": float(x + w), "y2": 10.0 + w, **extra}


def test_truth_check_counts_located_cameras_and_reads_the_level(tmp_path, card):
    thr = float(card["conf_threshold"])
    truth = pd.DataFrame([_box("a", 100, 20, camera_id="c1", class_name="directed"),
                          _box("b", 100, 20, camera_id="c1", class_name="directed"),
                          _box("a", 300, 20, camera_id="c2", class_name="dome")])
    det = pd.DataFrame([_box("a", 101, 20, conf=0.95, class_name="directed"),   # on c1
                        _box("b", 500, 20, conf=0.75, class_name="directed"),   # on nothing
                        _box("a", 600, 20, conf=thr / 2, class_name="dome")])   # under the threshold: dropped
    (tmp_path / "detections").mkdir()
    det.to_parquet(tmp_path / "detections" / "part-000000.parquet")
    truth.to_parquet(tmp_path / "truth_boxes.parquet")
    pd.DataFrame({"image_ids": [["a"], ["b"]], "conf_max": [0.95, 0.75], "n_detections": [1, 1]}).to_parquet(
        tmp_path / "cameras.parquet")
    out = truth_check(tmp_path, card)
    assert (out["located_real"], out["located_false"], out["single_view_false"]) == (1, 1, 1)
    # one hit in three true boxes of 20 px: below the card's recall there
    cal = calibration_from_dict(card)
    assert 0 < out["recall_ratio_from_truth"] < 1.0
    assert out["recall_ratio_from_truth"] == pytest.approx(
        recall_ratio_from_truth(np.full(3, 20.0), np.array([True, False, False]), cal), abs=1e-4)


def test_camera_sd_loglik_tells_a_spread_camera_effect_from_none(card):
    """Boxes of 800 cameras (4 each) drawn with a per-camera logit effect of SD 0 or 2: the profile's best SD
    follows, and the level found with no effect is the card's (0)."""
    from geo.counting.heterogeneity import expit, logit_shift

    cal = calibration_from_dict(card)
    rng = np.random.default_rng(5)
    cam = np.repeat(np.arange(800), 4)
    size = rng.uniform(8.0, 40.0, len(cam))
    r = recall_at(size, cal.size_edges, cal.recall_bins())
    best = {}
    for sd in (0.0, 2.0):
        u = rng.normal(0.0, sd, 800)[cam]
        hit = rng.uniform(size=len(cam)) < (expit(logit_shift(r, sd) + u) if sd > 0 else r)
        prof = camera_sd_loglik(size, hit, cam, cal, sds=(0.0, 1.0, 2.0), levels=np.arange(-1.0, 1.01, 0.1))
        best[sd] = max(prof, key=lambda s: prof[s]["loglik"])
        if sd == 0.0:
            assert prof[0.0]["level"] == pytest.approx(0.0, abs=0.3)
    assert best == {0.0: 0.0, 2.0: 2.0}
    text = spread_markdown({"x": {"cameras": 800, "boxes": len(cam), "hits": 1, "by_sd": prof}})
    assert "| x | 800 /" in text and "| sum (a level each) |" in text


def test_markdown_gives_the_flagged_fits_per_camera_sd():
    from scripts.validation.validate_selfcal import markdown

    est = {"est": 120.0, "lo": 60.0, "hi": 200.0, "truth": 100.0, "error": 0.2, "covered": True, "camera_sd": 1.7}
    row = {"survey": "s", "spacing_m": 10.0, "n_located": 50, "card": est, "self": est, "fit": est, "fits": False,
           "recall_ratio": [0.3, 0.1, 0.5], "recapture": {}, "card_ok": True, "candidate_views": 2.0,
           "camera_sd_fit": {"sds": [0.0, 0.5, 1.7], "profile_loglik": [-0.4, 0.0, -0.3], "best": 0.5, "lo": 0.0,
                             "hi": 1.7, "lr_p": 0.44, "chosen": 1.7}}
    text = markdown([row])
    assert "| s | 2.0 | 1.7 | 0.5 | 0-1.7 | 0.44 | 0: -0.4 / 0.5: +0.0 / 1.7: -0.3 |" in text
    assert "per-camera SD" not in markdown([{k: v for k, v in row.items() if k != "camera_sd_fit"}])


def test_spread_power_tells_the_sd_apart_only_with_many_views(card):
    from scripts.validation.validate_selfcal import spread_power

    rows = spread_power(card, views=(2, 8), n_cameras=200, reps=2, level=-2.0)
    by = {(r["views"], r["true_sd"]): r for r in rows}
    assert by[(8, 0.5)]["lr_median"] > by[(2, 0.5)]["lr_median"] and by[(8, 0.5)]["rejected"] >= 1
    assert by[(8, 1.7)]["tested_sd"] == 0.5 and by[(2, 1.7)]["found"] < by[(8, 1.7)]["found"]


def test_distinct_true_cameras_counts_a_split_camera_once(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    from scripts.validation.validate_selfcal import distinct_true_cameras

    (tmp_path / "sample.json").write_text('{"crs": "EPSG:32635"}')
    true = gpd.GeoDataFrame({"camera_id": ["t1", "t2"]}, geometry=[Point(500000, 6700000), Point(500100, 6700000)],
                            crs="EPSG:32635").to_crs(4326)
    true.to_file(tmp_path / "truth.geojson", driver="GeoJSON")
    x = [true.geometry.x[0], true.geometry.x[0] + 0.00002, true.geometry.x[1]]  # two located on t1 (about 1 m apart)
    cams = pd.DataFrame({"lon": x, "lat": [true.geometry.y[0], true.geometry.y[0], true.geometry.y[1]]})
    assert distinct_true_cameras(tmp_path, cams) == 2
    assert distinct_true_cameras(tmp_path, cams.iloc[:2]) == 1
    assert distinct_true_cameras(tmp_path, cams.assign(lat=cams["lat"] + 0.001)) == 0  # 110 m off: none
    assert distinct_true_cameras(tmp_path / "nothing", cams) is None


def test_markdown_says_where_the_look_test_was_skipped():
    # issue 26 (vis8): alt-20m-s7101, a development survey cut from another without its look.parquet, passed the
    # card check because the look test was skipped; the table must say so
    from scripts.validation.validate_selfcal import markdown

    est = {"est": 40.0, "lo": 20.0, "hi": 60.0, "truth": 100.0, "error": -0.6, "covered": False, "camera_sd": 1.7}
    row = {"survey": "s", "spacing_m": 20.0, "n_located": 30, "card": est, "self": est, "fit": est, "fits": True,
           "recall_ratio": [0.6, 0.2, 0.9], "recapture": {}, "card_ok": False}
    assert "| True | " in markdown([row])  # rows without the look field (older JSON): no note
    assert "| True (no look test) |" in markdown([{**row, "look": None}])
    assert "| False (look) |" in markdown([{**row, "fits": False, "look": {"fits": False, "p_value": 1e-9}}])
    assert "| True |" in markdown([{**row, "look": {"fits": True, "p_value": 0.5}}])
