"""Reach (issue 21): the range where recall falls to 0.5, from generated detections and truths."""

import numpy as np
import pandas as pd
import pytest

from detector.reach import (
    CAMERA_SIZE_M,
    FOCAL_PX,
    range_from_box,
    ranges_for_truth,
    reach_from_boxes,
    reach_from_ranges,
    reach_lines,
    recall_by_band,
)


def test_reach_recovers_the_range_of_a_known_detection_function():
    rng = np.random.default_rng(3)
    ranges = rng.uniform(3, 40, 4000)
    p = 1 / (1 + np.exp(5 * (np.log(ranges) - np.log(14.0))))  # recall 0.5 at 14 m
    fit = reach_from_ranges(ranges, rng.random(4000) < p)
    assert fit["reach_m"] == pytest.approx(14.0, rel=0.06)
    assert fit["reach_logistic_m"] == pytest.approx(14.0, rel=0.06)
    low, high = fit["reach_ci_m"]
    assert low < 14.0 < high and high - low < 4.0
    assert fit["b"] < 0 and fit["bound"] is None and fit["n"] == 4000


def test_reach_is_not_shortened_by_misses_of_the_nearest_cameras():
    # found 6 of 10 at every range up to 15 m, none beyond, but the 10 nearest (< 4 m) all missed
    ranges = np.r_[np.linspace(2, 3.9, 10), np.repeat(np.arange(5.0, 15.0), 10), np.linspace(16, 30, 40)]
    found = np.r_[np.zeros(10), np.tile([1, 1, 1, 1, 1, 1, 0, 0, 0, 0], 10), np.zeros(40)].astype(bool)
    fit = reach_from_ranges(ranges, found)
    assert fit["reach_m"] == pytest.approx(15.0, abs=1.0)  # isotonic: where the data drop
    assert fit["reach_logistic_m"] is None or fit["reach_logistic_m"] < fit["reach_m"]


def test_reach_bounds_when_recall_never_crosses_one_half():
    r = np.array([5.0, 8.0, 12.0])
    assert reach_from_ranges(r, np.ones(3, bool))["bound"] == "beyond"
    assert reach_from_ranges(r, np.ones(3, bool))["reach_m"] == 12.0  # at least the farthest box
    none = reach_from_ranges(r, np.zeros(3, bool))
    assert none["bound"] == "below" and none["reach_m"] is None
    assert reach_from_ranges(np.zeros(0), np.zeros(0, bool))["reach_m"] is None


def test_range_from_box_uses_the_class_size_and_focal_length():
    got = range_from_box(np.array([12.0, 8.0]), np.array(["dome", "directed"]))
    assert got[0] == pytest.approx(CAMERA_SIZE_M["dome"] * FOCAL_PX / 12.0)  # 8.8 m
    assert got[1] == pytest.approx(0.46 * 320 / 8.0)  # 18.4 m
    assert np.isnan(range_from_box(np.array([10.0]), np.array(["bird"]))[0])


def _boxes(sizes, classes):
    """One truth box per image, centred at (100, 100), and a perfect detection for those >= 10 px."""
    truth = pd.DataFrame({"image_id": np.arange(len(sizes)), "class_name": classes,
                          "x1": 100 - sizes / 2, "y1": 100 - sizes / 2, "x2": 100 + sizes / 2, "y2": 100 + sizes / 2})
    seen = truth[sizes >= 10].assign(conf=0.9)
    return seen[["image_id", "class_name", "x1", "y1", "x2", "y2", "conf"]].reset_index(drop=True), truth


def test_reach_from_boxes_per_class_and_size_band():
    sizes = np.tile(np.linspace(5, 30, 26), 2)
    classes = np.repeat(["dome", "directed"], 26)
    predictions, truth = _boxes(sizes, classes)
    out = reach_from_boxes(predictions, truth, conf=0.5)
    assert out["range_source"] == "box size"
    # found from 10 px: recall falls to 0.5 between the 9 and 10 px boxes' ranges
    for name in ("dome", "directed"):
        low, high = CAMERA_SIZE_M[name] * FOCAL_PX / 10, CAMERA_SIZE_M[name] * FOCAL_PX / 9
        assert low - 0.5 <= out["reach_m"][name] <= high + 0.5
    band = {(b["lo"], b["hi"]): b for b in out["by_class"]["dome"]["by_size"]}
    assert band[(6.0, 8.0)]["n"] == 2 and band[(6.0, 8.0)]["recall"] == 0.0
    assert band[(16.0, 32.0)]["recall"] == 1.0
    assert sum(b["n"] for b in out["all"]["by_size"]) == 52
    # a detection below the threshold does not count
    assert reach_from_boxes(predictions.assign(conf=0.2), truth, conf=0.5)["reach_m"]["dome"] is None
    assert any("reach dome" in line and "6-8 px 0.00 (2)" in line for line in reach_lines(out))


def test_reach_uses_given_ranges_and_checks_their_length():
    predictions, truth = _boxes(np.array([20.0, 20.0, 6.0, 6.0]), np.array(["dome"] * 4))
    out = reach_from_boxes(predictions, truth, conf=0.5, ranges_m=np.array([4.0, 6.0, 30.0, 40.0]))
    assert out["range_source"] == "truth"
    assert 6.0 < out["reach_m"]["dome"] < 30.0
    with pytest.raises(ValueError, match="ranges_m"):
        reach_from_boxes(predictions, truth, conf=0.5, ranges_m=np.array([1.0]))


def test_ranges_for_truth_reads_the_sidecar_by_image_and_box(tmp_path):
    images = [tmp_path / "a.jpg", tmp_path / "b.jpg"]
    truth = pd.DataFrame({"image_id": [0, 1, 1], "class_name": ["dome", "dome", "directed"],
                          "x1": [10.0, 50.0, 200.0], "y1": [10.0, 50.0, 20.0],
                          "x2": [20.0, 58.0, 210.0], "y2": [20.0, 58.0, 30.0]})
    sidecar = tmp_path / "truth_ranges.csv"
    pd.DataFrame({"image": ["a", "b", "b"], "class_name": ["dome", "dome", "dome"],
                  "x1": [10.0000001, 50.0, 300.0], "y1": [10.0, 50.0, 20.0], "x2": [20.0, 58.0, 310.0],
                  "y2": [20.0, 58.0, 30.0], "range_m": [7.5, 13.25, 99.0]}).to_csv(sidecar, index=False)
    got = ranges_for_truth(truth, images, sidecar)
    assert got[:2].tolist() == [7.5, 13.25]
    assert got[2] == pytest.approx(0.46 * 320 / 10)  # no row for it: from its size
    assert ranges_for_truth(truth, images, tmp_path / "missing.csv") is None


def test_recall_by_band_counts():
    rows = recall_by_band(np.array([1.0, 2.0, 2.5, 9.0]), np.array([True, False, True, True]), [(0, 3), (3, 5)])
    assert rows[0] == {"lo": 0, "hi": 3, "n": 3, "found": 2, "recall": pytest.approx(2 / 3, abs=1e-4)}
    assert rows[1]["n"] == 0 and rows[1]["recall"] is None
