"""candidate_truth.py (issue 26): the own fit's candidate views scored against the truth's boxes."""
import numpy as np
import pandas as pd
import pytest

from geo.counting.inclusion import ViewPairs
from scripts.validation.candidate_truth import candidate_truth, main, pair_features, share_table, visibility_pairs
from tests.geo.sim.scene import make_survey


def test_pair_features_measure_the_angle_off_the_wall_and_find_the_true_box():
    # one wall camera at the origin, its wall facing north (normal (0, 1)); three views
    views = pd.DataFrame({"x": [0.0, 10.0, 0.0], "y": [10.0, 1.0, -10.0]})
    pairs = ViewPairs(cam=np.zeros(3, np.int64), shift=np.zeros(3, np.int64), scale=np.full(3, 20.0), n_cameras=1,
                      n_shifts=1, range_m=np.array([10.0, 10.05, 10.0]), view=np.arange(3))
    got = pair_features(pairs, np.zeros((1, 2)), views, np.array(["a", "b", "c"]), true_xy=np.zeros((1, 2)),
                        true_id=np.array(["cam"]), true_normal=np.array([[0.0, 1.0]]), buildings=None,
                        box_px={("a", "cam"): 7.0, ("c", "other"): 9.0}, sides=np.array(["left", "left", "right"]))
    assert got["wall_deg"].round(1).tolist() == [90.0, 5.7, -90.0]  # square on, grazing, from behind
    assert got["true_px"].tolist() == [7.0, 0.0, 0.0]  # only view a holds this camera's box
    table = share_table(got, "side")
    assert table.loc["left", "with_box"] == 0.5 and table.loc["right", "with_box"] == 0.0


@pytest.fixture(scope="module")
def located_survey(tmp_path_factory):
    from geo.counting.locate import locate_survey

    d = tmp_path_factory.mktemp("ct") / "s"
    parts = make_survey(d, n_cameras=40, seed=3, spacing=10.0, recall=1.0, precision=1.0)
    locate_survey(d)
    return d, parts


def test_near_candidate_views_of_true_cameras_hold_their_true_box(located_survey):
    # the generated truth boxes are pinhole projections with the same field of view, footprints and facade
    # relief as the candidate geometry, and none past 40 m: the candidates must agree with them
    d, parts = located_survey
    pairs = visibility_pairs(d, buildings=parts["buildings"])
    near = pairs[(pairs["range_m"] <= 20) & (pairs["size_px"] >= 8)]
    assert len(near) >= 40
    assert (near["true_px"] > 0).mean() >= 0.9
    assert (pairs.loc[pairs["range_m"] > 41, "true_px"] == 0).all()


def test_located_cameras_candidates_match_their_true_positions(located_survey, tmp_path):
    d, parts = located_survey
    loc, tru, counts = candidate_truth(d, buildings=parts["buildings"])
    assert counts["real"] >= 0.8 * counts["located"] and counts["distinct_true"] >= 20
    real = loc[loc["real"]]
    assert abs((real["true_px"] > 0).mean() - (tru["true_px"] > 0).mean()) <= 0.1
    assert counts["true_boxes_not_candidate"] <= 0.05 * counts["true_boxes_of_them"]
    # detections fall on views that hold the camera's box (a few on a neighbour's: the nearest true camera is not
    # always the one a merged camera's views saw)
    assert real["detected"].sum() >= 40 and real.loc[real["true_px"] == 0, "detected"].sum() <= 0.05 * real["detected"].sum()


def test_main_writes_the_tables(located_survey, tmp_path, monkeypatch):
    import scripts.validation.candidate_truth as ct

    d, parts = located_survey
    original = ct._survey_inputs
    monkeypatch.setattr(ct, "_survey_inputs", lambda survey_dir, buildings="auto": original(
        survey_dir, buildings=parts["buildings"]))
    assert main([str(d), "--markdown", str(tmp_path / "t.md"), "--csv", str(tmp_path / "p.csv")]) == 0
    text = (tmp_path / "t.md").read_text()
    assert "by range_m" in text and "| (10, 15] | " in text and "by wall_deg" in text
    assert set(pd.read_csv(tmp_path / "p.csv")["kind"]) == {"located", "true"}
    assert main([str(d), "--all-true", "--markdown", str(tmp_path / "v.md")]) == 0
    assert "every true camera in the strip" in (tmp_path / "v.md").read_text()
