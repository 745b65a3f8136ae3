"""split_cameras.py (issue 26): split cameras and wrong merges of located cameras, against the truth."""
import numpy as np
import pandas as pd

from scripts.validation.split_cameras import main, split_counts, survey_row, true_camera_of_boxes
from tests.geo.sim.scene import make_survey


def test_detections_take_the_true_camera_whose_box_they_overlap_most():
    truth = pd.DataFrame({"image_id": ["a", "a", "b"], "camera_id": ["c1", "c2", "c3"],
                          "x1": [0, 100, 0], "y1": [0, 0, 0], "x2": [10, 110, 10], "y2": [10, 10, 10]})
    det = pd.DataFrame({"image_id": ["a", "a", "a", "b", "c"], "x1": [1, 0, 101, 50, 0], "y1": [1, 0, 0, 50, 0],
                        "x2": [11, 12, 109, 60, 10], "y2": [11, 12, 10, 60, 10]})
    got = true_camera_of_boxes(det, truth)
    assert list(got) == ["c1", "c1", "c2", None, None]  # two boxes on c1; one off every box; an image without truth


def test_split_counts_tell_splits_from_merges():
    camera = np.array([0, 0, 1, 2, 3, 4, 4])
    true = np.array(["A", "A", "A", "B", None, "C", "D"], dtype=object)
    got = split_counts(camera, true)
    # A is located twice (split 1); camera 4 holds C and D (merged 1): C wins the tie by order, D is lost
    assert got["located"] == 5 and got["real"] == 4 and got["distinct_true"] == 3
    assert got["split"] == 1 and got["merged"] == 1 and got["true_seen"] == 4 and got["lost"] == 1
    assert got["split_rate"] == round(1 / 3, 4) and got["lost_rate"] == 0.25


def test_a_generated_survey_with_class_noise_is_split_under_the_old_rules_only(tmp_path, capsys):
    parts = make_survey(tmp_path / "s", n_cameras=30, seed=5, spacing=5.0, recall=1.0, precision=1.0)
    rng = np.random.default_rng(5)
    det = parts["detections"]
    flip = rng.random(len(det)) < 0.3
    det.loc[flip, "class_name"] = det.loc[flip, "class_name"].map({"dome": "directed", "directed": "dome"})
    det.to_parquet(tmp_path / "s" / "detections" / "part-000000.parquet")
    new = survey_row(tmp_path / "s")
    old = survey_row(tmp_path / "s", respect_class=True, twin_overlap=0)
    assert new["on_truth"] == new["detections"] > 0
    assert old["split"] >= 10 and old["class"] >= old["split"] // 2  # most splits of the old rules: the class
    assert new["split"] <= 3 and new["lost"] <= 2
    assert main([str(tmp_path / "s"), "--option", "respect_class=true", "--markdown", str(tmp_path / "t.md")]) == 0
    assert "| s |" in (tmp_path / "t.md").read_text()
    assert main([str(tmp_path)]) == 2 and "no truth_boxes.parquet" in capsys.readouterr().err
