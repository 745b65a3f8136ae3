"""false_share (issue 27): each located camera is labelled by its most confident detection, false
when that detection lies on no true box, and the card's rate gives the survey's expected false."""

import json

import pandas as pd
import pytest

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


def test_the_false_rate_transfer_fit_recovers_a_known_shift_and_spread():
    # 60 surveys of 2,000 images whose rate is the card's x exp(-0.5 + N(0, 0.4^2)): the fit finds the
    # shift and the spread; Poisson counts at the card's own rate give no shift and no spread
    import numpy as np

    from scripts.validation.false_share import rate_transfer

    rng = np.random.default_rng(0)
    card = 0.005
    images = np.full(60, 2000.0)
    counts = rng.poisson(images * card * np.exp(-0.5 + rng.normal(0, 0.4, 60)))
    fit = rate_transfer(counts, images, card_false=card * 3000 - 0.5, card_images=3000)
    assert abs(fit["delta"] + 0.5) < 2.5 * fit["delta_se"] and 0.2 < fit["tau"] < 0.6
    assert fit["tau_lo"] < 0.4 < fit["tau_hi"]
    flat = rate_transfer(rng.poisson(images * card), images, card_false=card * 3000 - 0.5, card_images=3000)
    assert abs(flat["delta"]) < 0.1 and flat["tau"] < 0.15
    assert flat["transfer_sd"] < 0.2 and fit["transfer_sd"] > 0.35
    assert fit["transfer_sd"] ** 2 == pytest.approx(fit["delta"] ** 2 - fit["se_card"] ** 2 + fit["tau"] ** 2)
