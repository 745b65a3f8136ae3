"""inclusion_truth.py (issue 27): the estimator's inclusion scored against a generated survey's truth."""
import numpy as np

from scripts.validation.inclusion_truth import captured_estimate, markdown_table, summary, truth_inclusion
from tests.geo.sim.scene import make_survey


def test_a_perfect_detector_finds_what_the_inclusion_expects_and_located_p_matches_the_truth(tmp_path):
    from geo.counting.locate import locate_survey

    d = tmp_path / "s"
    parts = make_survey(d, n_cameras=40, seed=5, spacing=10.0, recall=1.0, precision=1.0)
    locate_survey(d, buildings=parts["buildings"])
    got = captured_estimate(d, buildings=parts["buildings"])
    true_rows, located = truth_inclusion(d, got)
    s = summary("s", true_rows, located, got["total"])
    # recall 1: every camera with a true box is found, and the model's p* at recall 1 and at the
    # (scalar, 1.0) calibration agree
    assert s["found"] == s["seen"] >= 20
    assert np.allclose(true_rows["p_card"], true_rows["p_recall1"], atol=0.01)
    # located real cameras: p* at the located position within 0.15 of p* at the true camera on average
    real = located[located["true_id"] != ""]
    assert len(real) >= 0.8 * len(located)
    assert abs(real["raw"].mean() - real["p_at_true"].mean()) <= 0.15
    # the table has one row per survey and every column
    text = markdown_table(__import__("pandas").DataFrame([s]))
    assert text.count("\n") == 2 and "exp_found" in text
