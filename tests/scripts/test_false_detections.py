"""scripts/validation/false_detections.py: the kinds of detection the estimator's false cameras come from."""

import numpy as np
import pandas as pd

from scripts.validation.false_detections import card_rule_false, counts_by_bin, kinds_from_boxes


def _boxes(rows):
    return pd.DataFrame(rows, columns=["image_id", "x1", "y1", "x2", "y2", "conf"]).assign(class_name="dome")


def test_a_second_box_on_one_camera_is_a_duplicate_and_a_lone_loose_box_is_real():
    truth = pd.DataFrame({"image_id": ["a", "a", "b"], "x1": [100.0, 300.0, 50.0], "y1": [100.0, 100.0, 50.0],
                          "x2": [120.0, 320.0, 70.0], "y2": [120.0, 120.0, 70.0]})
    pred = _boxes([
        ["a", 100, 100, 120, 120, 0.9],   # on the first camera: real
        ["a", 104, 102, 124, 122, 0.7],   # a second box on it (IoU 0.56): duplicate
        ["a", 112, 100, 132, 120, 0.65],  # a third, loose (IoU 0.25): still the first camera's
        ["a", 310, 110, 340, 140, 0.8],   # alone on the second camera at IoU 0.1: loose, a real camera
        ["b", 500, 500, 520, 520, 0.6],   # on nothing: background
        ["c", 10, 10, 20, 20, 0.95],      # an image without cameras: background
    ])
    kinds = kinds_from_boxes(pred, truth)
    assert kinds["kind"].tolist() == ["real", "duplicate", "duplicate", "loose", "background", "background"]
    assert kinds["truth_row"].tolist() == [0, 0, 0, 1, -1, -1]
    edges = [0.5, 0.7, 1.0]
    counts = counts_by_bin(pred["conf"].to_numpy(), kinds["kind"].to_numpy(), edges)
    assert counts == {"real": [0, 1], "loose": [0, 1], "duplicate": [1, 1], "background": [1, 1]}
    # the card's rule (one-to-one at IoU 0.5) also counts the loose box false: one more than the
    # estimator's false cameras (duplicates + backgrounds) in the upper bin
    assert card_rule_false(pred, truth.assign(class_name="dome"), edges) == [2, 3]


def test_the_more_confident_of_two_boxes_is_the_real_one():
    truth = pd.DataFrame({"image_id": ["a"], "x1": [0.0], "y1": [0.0], "x2": [10.0], "y2": [10.0]})
    pred = _boxes([["a", 1, 1, 11, 11, 0.6], ["a", 0, 0, 10, 10, 0.9]])
    kinds = kinds_from_boxes(pred, truth)
    assert kinds["kind"].tolist() == ["duplicate", "real"]
    assert np.array_equal(kinds.index, pred.index)
