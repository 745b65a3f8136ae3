"""The card set's evaluation (issues 27/28): it writes the model's card with the set as its new
held-out set, keeps the predictions, and its per-box table agrees with the card's recall bins."""

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from detector.card import read_card
from detector.registry import DEFAULT_MODEL
from scripts.validation.card_set import bins_from_card, boxes_from_set, compare_markdown, evaluate_card_set, main
from tests.detector.conftest import object_dataset

REPO = Path(__file__).resolve().parents[2]


def test_card_set_evaluation_writes_the_card_keeps_predictions_and_boxes_match_its_bins(tmp_path, monkeypatch, capsys):
    models = tmp_path / "models"
    models.mkdir()
    for suffix in (".pt", ".md"):
        shutil.copyfile(REPO / "models" / f"{DEFAULT_MODEL}{suffix}", models / f"{DEFAULT_MODEL}{suffix}")
    monkeypatch.setenv("CAMCENSUS_MODELS_DIR", str(models))
    data = object_dataset(tmp_path / "data", n_train=1, n_val=3, size=160, seed=3)
    shipped = read_card(models / f"{DEFAULT_MODEL}.md")
    evaluate_card_set(data, model=DEFAULT_MODEL, conf=0.5, keep=tmp_path / "keep")
    card = read_card(models / f"{DEFAULT_MODEL}.md")
    assert card.held_out["n_images"] == 3 and card.held_out["changed"] == "--new-held-out"
    assert card.held_out["previous"]["fingerprint"] == shipped.held_out["fingerprint"]
    assert card.calibration["false_bins"]["n_images"] == 3 and card.conf == 0.5
    predictions = pd.read_parquet(tmp_path / "keep" / "predictions.parquet")
    assert json.loads((tmp_path / "keep" / "scores.json").read_text())["n_images"] == 3
    boxes = boxes_from_set(data, predictions, conf=0.5)
    bins = card.calibration["recall_bins"]
    index = np.clip(np.searchsorted(bins["edges_px"], boxes.size_px, side="right") - 1, 0, len(bins["n"]) - 1)
    assert np.bincount(index, minlength=len(bins["n"])).tolist() == bins["n"]
    assert np.bincount(index, weights=boxes.found.astype(float), minlength=len(bins["n"])).astype(int).tolist() \
        == bins["found"]
    # the comparison: every bin of both cards, with intervals that contain their rates
    rows = bins_from_card(models / f"{DEFAULT_MODEL}.md")
    assert all(r["lo"] <= r["rate"] <= r["hi"] for part in rows.values() for r in part if r["n"])
    text = compare_markdown(REPO / "models" / f"{DEFAULT_MODEL}.md", models / f"{DEFAULT_MODEL}.md")
    assert "| 6-8 px |" in text and f"| {sum(card.calibration['false_bins']['false'])}/3 |" in text
    assert main(["compare", str(REPO / "models" / f"{DEFAULT_MODEL}.md"), str(models / f"{DEFAULT_MODEL}.md")]) == 0
    assert "False detections per image" in capsys.readouterr().out


def test_survey_boxes_match_each_true_box_and_measure_its_range(tmp_path):
    import geopandas as gpd
    from shapely.geometry import Point

    from scripts.validation.card_set import survey_boxes

    base = tmp_path / "s1" / "base"
    (base / "detections").mkdir(parents=True)
    (tmp_path / "s1" / "survey.json").write_text(json.dumps({"method": "random", "style": "default"}))
    views = pd.DataFrame({"view_id": ["v0", "v1"], "lon": [24.9, 24.9], "lat": [60.17, 60.17]})
    views.to_parquet(base / "views.parquet")
    # camera c0 20 m north of the viewpoint, c1 10 m east
    gpd.GeoDataFrame({"camera_id": ["c0", "c1"]}, geometry=[Point(24.9, 60.17 + 20 / 111_320),
                     Point(24.9 + 10 / (111_320 * np.cos(np.radians(60.17))), 60.17)], crs=4326
                     ).to_file(base / "truth.geojson", driver="GeoJSON")
    pd.DataFrame({"image_id": ["v0", "v0", "v1"], "camera_id": ["c0", "c1", "c0"],
                  "class_name": ["dome", "directed", "dome"], "x1": [100.0, 300.0, 50.0], "y1": [100.0, 300.0, 50.0],
                  "x2": [107.0, 320.0, 54.0], "y2": [107.0, 320.0, 54.0]}).to_parquet(base / "truth_boxes.parquet")
    pd.DataFrame({"image_id": ["v0", "v0", "v1"], "x1": [100.0, 300.0, 50.0], "y1": [100.0, 300.0, 50.0],
                  "x2": [107.0, 320.0, 54.0], "y2": [107.0, 320.0, 54.0], "conf": [0.7, 0.3, 0.9],
                  "class_name": ["dome", "directed", "dome"]}).to_parquet(base / "detections" / "part-000000.parquet")
    boxes = survey_boxes(tmp_path, conf=0.5)
    # under the threshold: missed; a 4 px box found counts as found, as in the card's first bin
    assert boxes.found.tolist() == [True, False, True]
    assert np.allclose(boxes.range_m, [20, 10, 20], atol=0.3) and boxes.size_px.tolist() == [7.0, 20.0, 4.0]
    assert set(boxes.survey) == {"s1"} and set(boxes.method) == {"random"}


def test_survey_quality_copy_of_every_view_keeps_the_views_without_a_camera(tmp_path):
    import cv2

    from scripts.validation.card_set import survey_quality_copy

    root = tmp_path / "set"
    for sub in ("images/val", "labels/val"):
        (root / sub).mkdir(parents=True)
    (root / "data.yaml").write_text(f"path: {root}\ntrain: images/val\nval: images/val\nnames: [dome, directed]\n")
    rng = np.random.default_rng(0)
    for name, label in (("0_left", f"0 0.5 0.5 {10 / 640:.6f} {10 / 640:.6f}\n"), ("1_right", "")):
        cv2.imwrite(str(root / "images" / "val" / f"{name}.jpg"), rng.integers(0, 255, (64, 64, 3), dtype=np.uint8),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
        (root / "labels" / "val" / f"{name}.txt").write_text(label)
    boxed = survey_quality_copy(root / "data.yaml", tmp_path / "boxed").parent
    every = survey_quality_copy(root / "data.yaml", tmp_path / "every", every_view=True).parent
    assert sorted(p.name for p in (boxed / "images" / "val").iterdir()) == ["0_left.jpg"]
    assert sorted(p.name for p in (every / "images" / "val").iterdir()) == ["0_left.jpg", "1_right.jpg"]
    assert (every / "labels" / "val" / "1_right.txt").read_text() == ""
    # written again at a survey's JPEG quality (72-92), not copied
    again = (every / "images" / "val" / "1_right.jpg").read_bytes()
    assert again != (root / "images" / "val" / "1_right.jpg").read_bytes()


def test_compare_pairs_bins_by_their_edges_when_the_thresholds_differ():
    # the two shipped cards start their confidence bins at 0.50 and 0.44: rows pair by bin, not by position
    text = compare_markdown(REPO / "models" / "cctv-yolo11n-synth3-avg.md", REPO / "models" / "cctv-yolo11n-synth4-wise.md")
    old = read_card(REPO / "models" / "cctv-yolo11n-synth3-avg.md").calibration["false_bins"]
    new = read_card(REPO / "models" / "cctv-yolo11n-synth4-wise.md").calibration["false_bins"]
    assert old["edges"][0] == 0.5 and new["edges"][0] == 0.44
    assert f"| conf 0.44-0.50 | - | n/a | {new['false'][0]}/3000 |" in text
    assert f"| conf 0.50-0.60 | {old['false'][0]}/3000 |" in text
    assert f"| all | {sum(old['false'])}/3000 |" in text and f"| {sum(new['false'])}/3000 |" in text
