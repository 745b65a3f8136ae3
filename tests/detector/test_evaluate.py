"""Evaluation: hand-computed precision/recall/AP on known boxes, and a real model end to end."""

import json

import pandas as pd
import pytest

from detector.card import read_card
from detector.errors import DetectorInputError
from detector.evaluate import evaluate_model, scores_from_boxes
from detector.matching import iou_matrix

TRUTH = pd.DataFrame([
    (0, "dome", 100, 100, 110, 110),      # g1: 10 px -> "8-16"
    (0, "dome", 200, 200, 220, 220),      # g2: 20 px -> "16-32"
    (1, "directed", 50, 50, 55, 55),      # g3:  5 px -> "<8"
    (1, "dome", 300, 300, 340, 340),      # g4: 40 px -> ">32", never found
], columns=["image_id", "class_name", "x1", "y1", "x2", "y2"])

PREDICTIONS = pd.DataFrame([
    (0, "dome", 100, 100, 110, 110, 0.9),      # TP g1
    (0, "dome", 400, 400, 410, 410, 0.8),      # FP (nothing there)
    (0, "dome", 200, 200, 220, 220, 0.7),      # TP g2
    (0, "dome", 101, 101, 110, 110, 0.6),      # FP: duplicate of g1 (IoU 0.81, g1 already taken)
    (1, "directed", 50, 50, 55, 55, 0.3),      # TP g3
    (2, "dome", 10, 10, 20, 20, 0.95),         # FP on an image without cameras
], columns=["image_id", "class_name", "x1", "y1", "x2", "y2", "conf"])


def test_iou_by_hand():
    import numpy as np

    iou = iou_matrix(np.array([[0, 0, 10, 10]]), np.array([[5, 0, 15, 10], [20, 20, 30, 30]]))
    assert iou[0, 0] == pytest.approx(50 / 150) and iou[0, 1] == 0


def test_hand_computed_operating_point_at_max_f1():
    # ranked by conf: .95 FP, .9 TP, .8 FP, .7 TP, .6 FP, .3 TP ; 4 true boxes
    # keep conf >= .3: 3 TP / 6 kept -> P = 0.5, R = 3/4, F1 = 0.6 (the max; at .7: P 2/4, R 2/4, F1 .5)
    s = scores_from_boxes(PREDICTIONS, TRUTH, difficult_px=0)
    assert s["conf"] == 0.3
    assert s["precision"] == pytest.approx(0.5) and s["recall"] == pytest.approx(0.75)
    assert s["f1"] == pytest.approx(0.6)
    assert s["recall_by_size"] == {"<8": 1.0, "8-16": 1.0, "16-32": 1.0, ">32": 0.0}
    assert s["n_by_size"] == {"<8": 1, "8-16": 1, "16-32": 1, ">32": 1}


def test_hand_computed_precision_target():
    s = scores_from_boxes(PREDICTIONS.iloc[[0, 1, 2, 3, 4]], TRUTH, precision_target=0.65, difficult_px=0)
    # without the .95 FP: .9 TP (1/1), .8 FP (1/2), .7 TP (2/3), .6 FP (2/4), .3 TP (3/5)
    # precision >= .65 at .9 (R .25) and .7 (P 2/3, R .5) -> conf .7
    assert s["conf"] == 0.7 and s["precision_target_met"] is True
    assert s["precision"] == pytest.approx(2 / 3) and s["recall"] == pytest.approx(0.5)
    assert s["recall_by_size"] == {"<8": 0.0, "8-16": 1.0, "16-32": 1.0, ">32": 0.0}
    unreachable = scores_from_boxes(PREDICTIONS, TRUTH, precision_target=0.99, difficult_px=0)
    assert unreachable["precision_target_met"] is False


def test_hand_computed_average_precision():
    # class-agnostic, 101 recall points, envelope: P=1 up to R=.25 (26 points), 2/3 up to .5 (25),
    # .6 up to .75 (25), 0 beyond (25)  ->  (26 + 50/3 + 15) / 101
    s = scores_from_boxes(PREDICTIONS.iloc[[0, 1, 2, 3, 4]], TRUTH, difficult_px=0)
    assert s["ap50_any_class"] == pytest.approx((26 + 50 / 3 + 15) / 101)
    # class-aware: dome has 3 truths (g1 g2 g4) found at .9 and .7: envelope 1 to R=1/3 (34 points),
    # 2/3 to R=2/3 (33 points); directed: 1 truth found first -> AP 1. Exact boxes: AP equal at every IoU.
    dome = (34 + 33 * 2 / 3) / 101
    assert s["ap50"] == pytest.approx((dome + 1) / 2)
    assert s["ap50_95"] == pytest.approx(s["ap50"])


def test_no_predictions_scores_zero():
    s = scores_from_boxes(PREDICTIONS.iloc[0:0], TRUTH, difficult_px=0)
    assert s["precision"] == 0 and s["recall"] == 0 and s["ap50"] == 0
    assert s["recall_by_size"]["8-16"] == 0.0


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from detector.train import train_model
    from tests.detector.drawn import drawn_dataset

    root = tmp_path_factory.mktemp("evaluate")
    data = drawn_dataset(root / "data", n_train=6, n_val=3)
    train_model(data, out=root / "tiny", run_dir=root / "run", epochs=1, imgsz=64, batch=4, device="cpu",
                workers=0, threads=2, mosaic=0.0)
    return root / "tiny.pt", data


def test_evaluate_model_end_to_end(trained, tmp_path):
    weights, data = trained
    card = weights.with_suffix(".md")
    scores = evaluate_model(weights, data, card=card, plot=tmp_path / "pr.png", json_path=tmp_path / "s.json",
                            imgsz=96)
    assert set(scores) >= {"ap50", "ap50_95", "precision", "recall", "f1", "conf", "recall_by_size"}
    assert set(scores["recall_by_size"]) == {"<8", "8-16", "16-32", ">32"}
    assert 0 <= scores["recall"] <= 1 and 0 <= scores["ap50"] <= 1
    n_val_boxes = sum(len(p.read_text().splitlines()) for p in (data.parent / "labels" / "val").glob("*.txt"))
    assert scores["n_truth"] == n_val_boxes and scores["n_images"] == 3
    assert (tmp_path / "pr.png").stat().st_size > 1000
    assert json.loads((tmp_path / "s.json").read_text())["recall"] == scores["recall"]
    written = read_card(card)
    assert written.recall == round(scores["recall"], 4) and written.conf == round(scores["conf"], 4)
    assert sum(written.calibration["recall_bins"]["n"]) == scores["n_truth_all"] == scores["n_truth"] + scores[
        "n_difficult"]
    assert written.calibration["conf_threshold"] == round(scores["conf"], 4)
    assert scores["cpu_seconds"] > 0 and scores["cpu_ms_per_image"] > 0
    assert written.body.count("## Evaluation") == 1
    evaluate_model(weights, data, card=card, imgsz=96)  # re-evaluating replaces the section
    assert read_card(card).body.count("## Evaluation") == 1


def test_evaluate_bad_inputs(trained, tmp_path):
    weights, data = trained
    with pytest.raises(DetectorInputError, match="no split 'test'"):
        evaluate_model(weights, data, split="test")
    with pytest.raises(DetectorInputError, match="weights not found"):
        evaluate_model(tmp_path / "none.pt", data)


# Known answer for the difficult rule and the calibration: A 10 px and C 20 px are ordinary truths,
# B (4 px) is difficult. p1 finds A, p2 and p3 both sit on B (VOC: both ignored), p4 and p5 are false.
TRUTH_D = pd.DataFrame([
    (0, "dome", 100, 100, 110, 110),      # A: 10 px
    (0, "directed", 50, 50, 54, 54),      # B:  4 px, difficult
    (1, "dome", 200, 200, 220, 220),      # C: 20 px, never found
], columns=["image_id", "class_name", "x1", "y1", "x2", "y2"])
PRED_D = pd.DataFrame([
    (0, "dome", 100, 100, 110, 110, 0.9),      # p1 TP A
    (0, "directed", 50, 50, 54, 54, 0.8),      # p2 on B: ignored
    (1, "dome", 400, 400, 410, 410, 0.7),      # p4 FP
    (0, "directed", 50, 50, 54, 54, 0.5),      # p3 on B again: ignored too
    (2, "dome", 10, 10, 20, 20, 0.4),          # p5 FP on an image without cameras
], columns=["image_id", "class_name", "x1", "y1", "x2", "y2", "conf"])


def test_difficult_truths_are_neither_missed_nor_false():
    s = scores_from_boxes(PRED_D, TRUTH_D, conf=0.35, n_images=3)
    # kept and not ignored: p1 TP, p4 FP, p5 FP; ordinary truths A and C
    assert s["precision"] == pytest.approx(1 / 3) and s["recall"] == pytest.approx(1 / 2)
    assert s["n_truth"] == 2 and s["n_difficult"] == 1 and s["n_truth_all"] == 3
    assert s["n_false"] == 2 and s["false_per_image"] == pytest.approx(2 / 3)
    assert s["ap50_any_class"] == pytest.approx(51 / 101)  # P = 1 up to R = .5, nothing after
    best = scores_from_boxes(PRED_D, TRUTH_D)
    assert best["conf"] == 0.9 and best["precision"] == 1.0 and best["recall"] == 0.5
    counted = scores_from_boxes(PRED_D, TRUTH_D, conf=0.35, difficult_px=0)  # B now counts: p3 is a duplicate
    assert counted["precision"] == pytest.approx(2 / 5) and counted["recall"] == pytest.approx(2 / 3)


def test_calibration_counts_in_the_shared_format():
    cal = scores_from_boxes(PRED_D, TRUTH_D, conf=0.35, n_images=3)["calibration"]
    import yaml

    assert yaml.safe_load(yaml.safe_dump(cal)) == cal  # plain types: the card is YAML
    assert cal["source"] == "card" and cal["conf_threshold"] == 0.35 and cal["n_images"] == 3
    bins = cal["precision_bins"]
    assert bins["edges"] == [0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    # .4 p5 false, .5 p3 real (a tiny camera is a camera), .7 p4 false, .8 p2 real, .9 p1 real
    assert bins["n"] == [0, 1, 1, 0, 1, 1, 1] and bins["real"] == [0, 0, 1, 0, 0, 1, 1]
    rec = cal["recall_bins"]
    assert rec["edges_px"] == [0, 6, 8, 12, 16, 24, 32, 64, 100000]
    assert rec["n"] == [1, 0, 1, 0, 1, 0, 0, 0] and rec["found"] == [1, 0, 1, 0, 0, 0, 0, 0]
    from geo.counting.calibration import calibration_from_dict  # the estimator reads it as it is

    assert calibration_from_dict(cal).rec_found.sum() == 2
    # false detections per bin with the images they came from: a rate per image (issue 19)
    assert cal["false_bins"] == {"edges": bins["edges"], "false": [0, 1, 0, 0, 1, 0, 0], "n_images": 3}
    read = calibration_from_dict(cal)
    assert read.uses_false_rate() and not read.false_derived and read.false_n.sum() == 2


def test_false_bins_count_boxes_on_no_camera_not_second_boxes_on_one():
    # p6: a second box on camera A (one-to-one matching calls it false); p7: a box beside A, IoU > 0
    extra = pd.DataFrame([(0, "dome", 101, 101, 111, 111, 0.85), (0, "dome", 108, 108, 118, 118, 0.75)],
                         columns=PRED_D.columns)
    s = scores_from_boxes(pd.concat([PRED_D, extra], ignore_index=True), TRUTH_D, conf=0.35, n_images=3)
    assert s["n_false"] == 4  # the evaluation's one-to-one count: p4, p5, p6, p7
    # the estimator's false cameras per image: only p4 (.7) and p5 (.4) overlap no true box
    assert s["calibration"]["false_bins"]["false"] == [0, 1, 0, 0, 1, 0, 0]
    assert s["calibration"]["precision_bins"]["real"] == [0, 0, 1, 0, 0, 1, 1]


def test_figures_for_every_size_band():
    bands = {(r["lo_px"], r["hi_px"]): r for r in scores_from_boxes(PRED_D, TRUTH_D, conf=0.35)["by_size"]}
    tiny, small, mid = bands[(0, 6)], bands[(8, 12)], bands[(16, 24)]
    # 0-6: only B counts; p2 finds it, p3 is its duplicate (false), the 10 px boxes lie outside the band
    assert (tiny["n"], tiny["found"], tiny["ap50"], tiny["precision"]) == (1, 1, 1.0, 0.5)
    # 8-12: A; p1 finds it, p4 and p5 (10 px, unmatched) are false in this band
    assert (small["n"], small["found"], small["ap50"]) == (1, 1, 1.0)
    assert small["precision"] == pytest.approx(1 / 3)
    assert (mid["n"], mid["found"], mid["recall"], mid["ap50"], mid["precision"]) == (1, 0, 0.0, 0.0, None)
    assert bands[(6, 8)]["n"] == 0 and bands[(6, 8)]["recall"] is None
