"""geo.estimate: the two estimators, their intervals, and the survey stage on generated surveys."""

import json

import numpy as np
import pandas as pd
import pytest

from geo.errors import GeoInputError
from geo.estimate import (bootstrap_ratio, camera_weights, detection_probability, estimate_survey,
                          garwood_interval, rate_estimate)
from tests.geo.sim.scene import make_survey


def test_detection_probability_is_one_minus_all_missed():
    assert detection_probability(np.array([1, 2, 3]), 0.5) == pytest.approx([0.5, 0.75, 0.875])
    assert detection_probability(np.array([0]), 0.6) == pytest.approx([0.6])  # k at least 1
    assert detection_probability(np.array([4]), 1.0) == pytest.approx([1.0])


def test_camera_weights_spend_false_detections_on_single_detection_cameras():
    n_det = np.array([1, 1, 1, 1, 3])  # 7 detections; precision 5/7 -> 2 false, among 4 singles
    w = camera_weights(n_det, np.ones(5), precision=5 / 7, recall=1.0)
    assert w[:4] == pytest.approx([0.5] * 4) and w[4] == pytest.approx(1.0)
    assert w.sum() == pytest.approx(3.0)
    w_recall = camera_weights(np.array([2]), np.array([2]), precision=1.0, recall=0.5)
    assert w_recall == pytest.approx([1 / 0.75])


def test_rate_estimate_matches_the_stanford_formula_and_clopper_pearson():
    est, lo, hi = rate_estimate(np.array([1000]), np.array([50]), np.array([10.0]), precision=0.6, recall=0.5,
                                metres_per_image=20.0)
    # 0.05 x 0.6 x (1000 / 20) x 2 / 0.5 = 6 per road km -> 60 cameras on 10 km
    assert est[0] == pytest.approx(60.0)
    from scipy.stats import binomtest

    ci = binomtest(50, 1000).proportion_ci(0.95, method="exact")
    factor = 0.6 * 50 * 2 / 0.5 * 10.0
    assert lo[0] == pytest.approx(ci.low * factor) and hi[0] == pytest.approx(ci.high * factor)
    zero, zlo, zhi = rate_estimate(np.array([200]), np.array([0]), np.array([1.0]), precision=1, recall=1,
                                   metres_per_image=20)
    assert zero[0] == 0 and zlo[0] == 0 and zhi[0] > 0


def test_garwood_interval_known_values():
    lo, hi = garwood_interval(np.array([0, 10]))
    assert lo[0] == 0 and hi[0] == pytest.approx(3.689, abs=1e-3)
    assert lo[1] == pytest.approx(4.795, abs=1e-3) and hi[1] == pytest.approx(18.39, abs=1e-2)


def test_bootstrap_ratio_is_seeded_and_brackets_the_point_estimate():
    rng = np.random.default_rng(0)
    area = np.repeat([0, 1, 2], [50, 30, 1])
    w = rng.poisson(0.5, len(area)).astype(float)
    s = rng.uniform(50, 150, len(area))
    w[-1] = 0.0
    lo, hi = bootstrap_ratio(area, w, s, 3, n_boot=400, seed=1)
    again = bootstrap_ratio(area, w, s, 3, n_boot=400, seed=1)
    assert np.array_equal(lo, again[0]) and np.array_equal(hi, again[1])
    assert (lo[:2] < 1.0).all() and (hi[:2] > 1.0).all()
    assert hi[1] - lo[1] > hi[0] - lo[0]  # fewer streets, wider interval
    assert lo[2] == 1.0 and hi[2] == 1.0  # no cameras: left to the Poisson bound


@pytest.fixture(scope="module")
def surveys(tmp_path_factory):
    root = tmp_path_factory.mktemp("est")
    return [(make_survey(root / f"s{seed}", n_cameras=50, seed=seed, recall=0.63, precision=0.8, grid=4),
             root / f"s{seed}") for seed in range(5)]


def test_city_wide_estimate_is_unbiased_and_its_interval_covers_truth(surveys):
    errors, covered, rate_errors = [], [], []
    for scene, path in surveys:
        result = estimate_survey(path, precision=0.8, recall=0.63, buildings=scene["buildings"], osm=False,
                                 n_boot=300, exports=False)
        truth = result.total["truth_cameras"]
        assert truth == len(scene["cameras"])
        assert result.total["truth_seen_cameras"] == scene["boxes"]["camera_id"].nunique()
        errors.append((result.total["est_cameras"] - truth) / truth)
        covered.append(result.total["est_lo"] <= truth <= result.total["est_hi"])
        rate_errors.append((result.total["rate_estimator"]["est_cameras"] - truth) / truth)
        assert result.total["n_cameras"] > 0 and result.total["rate_estimator"]["est_lo"] is not None
    assert abs(np.median(errors)) <= 0.15, errors
    assert np.mean(covered) >= 0.8, (errors, covered)
    assert np.isfinite(rate_errors).all()


def test_per_area_table_partitions_the_survey(surveys):
    scene, path = surveys[0]
    result = estimate_survey(path, by="grid:130", precision=0.8, recall=0.63, buildings=scene["buildings"],
                             osm=False, n_boot=200, exports=False)
    table = result.areas
    assert table["road_km"].sum() == pytest.approx(result.total["road_km"], rel=1e-6)
    assert table["n_images"].sum() == result.total["n_images"]
    assert table["truth_cameras"].sum() == result.total["truth_cameras"]
    assert (table["est_lo"] <= table["est_cameras"] + 1e-9).all()
    assert (table["est_cameras"] <= table["est_hi"] + 1e-9).all()
    assert table["per_road_km"].to_numpy() == pytest.approx((table["est_cameras"] / table["road_km"]).to_numpy())


def test_survey_without_detections_gives_zero_with_an_upper_bound(tmp_path):
    scene = make_survey(tmp_path / "s", n_cameras=10, seed=2, grid=3, with_detections=False)
    result = estimate_survey(tmp_path / "s", precision=0.8, recall=0.6, buildings=scene["buildings"],
                             osm=False, n_boot=100)
    t = result.total
    assert t["n_detections"] == 0 and t["n_cameras"] == 0 and t["est_cameras"] == 0 and t["est_lo"] == 0
    assert t["est_hi"] > 0 and t["rate_estimator"]["est_hi"] > 0
    assert any("no detections" in w for w in result.report["warnings"])
    report = json.loads((tmp_path / "s" / "report.json").read_text())
    assert report["total"]["est_cameras"] == 0


def test_unknown_precision_and_recall_fall_back_to_one_with_a_warning(surveys):
    scene, path = surveys[1]
    result = estimate_survey(path, buildings=scene["buildings"], osm=False, n_boot=50, exports=False)
    assert result.report["parameters"]["precision"] == 1.0 and result.report["parameters"]["recall"] == 1.0
    assert any("no model precision and recall" in w for w in result.report["warnings"])
    with pytest.raises(GeoInputError, match="recall"):
        estimate_survey(path, precision=0.5, recall=0.0, osm=False, exports=False)


def test_missing_survey_parts_are_clear_errors(tmp_path):
    with pytest.raises(GeoInputError, match="not found"):
        estimate_survey(tmp_path / "nope", precision=1, recall=1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GeoInputError, match="camcensus sample"):
        estimate_survey(tmp_path / "empty", precision=1, recall=1)
    scene = make_survey(tmp_path / "s", n_cameras=5, seed=0, grid=3)
    with pytest.raises(GeoInputError, match="population-field"):
        estimate_survey(tmp_path / "s", precision=1, recall=1, population=tmp_path / "p.geojson", osm=False,
                        buildings=scene["buildings"])


def test_truth_boxes_degraded_to_a_known_recall_and_precision(surveys):
    from scripts.validate_estimator import detections_from_truth_boxes

    scene, _ = surveys[2]
    boxes = pd.concat([scene["boxes"]] * 20, ignore_index=True)  # enough boxes for tight rates
    det = detections_from_truth_boxes(boxes, scene["images"], recall=0.6, precision=0.75, seed=5)
    kept = det.merge(boxes[["image_id", "x1", "y1"]].drop_duplicates(), on=["image_id", "x1", "y1"])
    assert len(kept) / len(boxes) == pytest.approx(0.6, abs=0.03)  # recall
    assert len(kept) / len(det) == pytest.approx(0.75, abs=0.01)  # precision
    assert set(det.columns) == {"image_id", "x1", "y1", "x2", "y2", "conf", "class_id", "class_name", "model_id"}
    assert det["image_id"].isin(scene["images"]["image_id"]).all()
