"""false_share (issue 27): each located camera is labelled by its most confident detection, false
when that detection lies on no true box, and the card's rate gives the survey's expected false."""

import json

import pandas as pd

from scripts.validation.false_share import surveys_table


def _survey(root, name, *, images):
    base = root / name / "base"
    (base / "detections").mkdir(parents=True)
    est = root / name / "est-card"
    est.mkdir()
    pd.DataFrame({"image_id": ["a", "a", "b"], "x1": [10.0, 300.0, 50.0], "y1": [10.0, 300.0, 50.0],
                  "x2": [20.0, 316.0, 58.0], "y2": [20.0, 316.0, 58.0], "conf": [0.8, 0.55, 0.3],
                  "class_name": "dome"}).to_parquet(base / "detections" / "part.parquet")
    pd.DataFrame({"image_id": ["a"], "camera_id": ["c1"], "class_name": ["dome"], "x1": [10.0], "y1": [10.0],
                  "x2": [20.0], "y2": [20.0]}).to_parquet(base / "truth_boxes.parquet")
    pd.DataFrame({"image_id": images, "status": "ok"}).to_parquet(base / "images.parquet")
    pd.DataFrame({"camera_id": [0, 1], "n_detections": [1, 1], "conf_max": [0.8, 0.55], "class_name": "dome",
                  "image_ids": [["a"], ["a"]]}).to_parquet(est / "cameras.parquet")
    (est / "report.json").write_text(json.dumps({"calibration": {"false_per_image": 0.01}}))
    (root / name / "survey.json").write_text(json.dumps({"method": "random", "style": "default", "corruption": ""}))


def test_located_cameras_are_false_by_their_top_detection_and_the_card_expects_rate_times_images(tmp_path):
    _survey(tmp_path, "s1", images=[f"v{i}" for i in range(300)])
    cams, per = surveys_table(tmp_path)
    assert cams.set_index("camera_id")["false"].to_dict() == {0: False, 1: True}
    assert cams.set_index("camera_id")["size_px"].round(1).to_dict() == {0: 10.0, 1: 16.0}
    row = per.iloc[0]
    assert (row.located, row["false"]) == (2, 1) and abs(row.expected - 3.0) < 1e-9
