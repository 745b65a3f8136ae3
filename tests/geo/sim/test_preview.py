"""`camcensus preview --boxes both`: truth green, detections magenta, on a small hand-made survey."""

import cv2
import numpy as np
import pandas as pd
import pytest

from geo.errors import GeoInputError
from geo.sim.preview import SOURCE_COLORS, contact_sheet


@pytest.fixture
def tiny_survey(tmp_path):
    """Two grey 200 px images: a hit (truth and detection on one camera) plus a false alarm in the
    first; a miss (truth only) in the second."""
    (tmp_path / "images").mkdir()
    for name in ("a", "b"):
        cv2.imwrite(str(tmp_path / "images" / f"{name}.jpg"), np.full((200, 200, 3), 128, np.uint8))
    pd.DataFrame({"image_id": ["a", "b"], "path": ["images/a.jpg", "images/b.jpg"], "status": ["ok", "ok"]}
                 ).to_parquet(tmp_path / "images.parquet")
    pd.DataFrame({"image_id": ["a", "b"], "camera_id": ["c1", "c2"], "class_name": ["dome", "directed"],
                  "x1": [40.0, 120.0], "y1": [40.0, 120.0], "x2": [60.0, 140.0], "y2": [60.0, 140.0]}
                 ).to_parquet(tmp_path / "truth_boxes.parquet")
    (tmp_path / "detections").mkdir()
    pd.DataFrame({"image_id": ["a", "a"], "x1": [41.0, 20.0], "y1": [41.0, 120.0], "x2": [59.0, 40.0],
                  "y2": [59.0, 140.0], "conf": [0.8, 0.4], "class_name": ["dome", "dome"]}
                 ).to_parquet(tmp_path / "detections" / "part-00000.parquet")
    return tmp_path


def _has(region: np.ndarray, bgr) -> bool:
    return bool((np.abs(region.astype(int) - np.array(bgr)).sum(axis=-1) < 60).any())


def test_both_draws_truth_and_detections_in_two_colours(tiny_survey, tmp_path):
    out = contact_sheet(tiny_survey, n=2, boxes="both", out=tmp_path / "both.png", tile=200)
    sheet = cv2.imread(str(out))
    assert sheet.shape == (200, 400, 3)
    first, second = sheet[:, :200], sheet[:, 200:]
    truth, det = SOURCE_COLORS["truth"], SOURCE_COLORS["detections"]
    assert _has(first[30:70, 30:70], truth) and _has(first[30:70, 30:70], det)  # a hit: both
    assert _has(first[110:150, 10:50], det) and not _has(first[110:150, 10:50], truth)  # a false alarm
    assert _has(second[110:150, 110:150], truth) and not _has(second[:180], det)  # a miss: green alone


def test_single_sources_keep_their_class_colours(tiny_survey, tmp_path):
    out = contact_sheet(tiny_survey, n=2, boxes="truth", out=tmp_path / "truth.png", tile=200)
    sheet = cv2.imread(str(out))
    assert not _has(sheet[:180], SOURCE_COLORS["detections"])
    with pytest.raises(GeoInputError, match="'truth', 'detections' or 'both'"):
        contact_sheet(tiny_survey, boxes="all")


def test_preview_command_takes_both(tiny_survey, tmp_path):
    from scripts.cli import main

    assert main(["preview", str(tiny_survey), "--boxes", "both", "--n", "2", "--out", str(tmp_path / "c.png")]) == 0
    assert cv2.imread(str(tmp_path / "c.png")).shape == (320, 640, 3)
