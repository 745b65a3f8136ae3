"""`camcensus review --oracle truth`, `--export`, `dataset from-review`, the sample design and the
truth matching."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.errors import GeoInputError
from scripts.cli import main
from scripts.review import calibration_from_review
from scripts.review.oracle import audit_answer, match_scores, verify_answer
from scripts.review.sampling import interleaved_order, read_design, sample_size_for_half_width
from scripts.review.store import AnswerStore
from scripts.review.tables import SurveyTables


def test_the_oracle_answers_both_queues_from_the_truth(survey, capsys):
    assert main(["review", str(survey), "--oracle", "truth", "--n-verify", "20", "--n-audit", "60"]) == 0
    out = capsys.readouterr().out
    assert "answered 20 detections and 60 images" in out and "precision" in out and "recall" in out
    tables = SurveyTables.open(survey)
    truth = pd.read_parquet(survey / "truth_boxes.parquet")
    true_keys = {(r.image_id, round(r.x1, 1), round(r.y1, 1)) for r in truth.itertuples()}
    verify = AnswerStore.of_survey(survey).standing("verify")
    assert len(verify) == 20
    for detection_id, answer in verify.items():  # detections made from truth boxes are the true ones
        d = tables.detections.loc[detection_id]
        is_true = (d["image_id"], round(float(d["x1"]), 1), round(float(d["y1"]), 1)) in true_keys
        assert answer.answer == ("camera" if is_true else "not") and answer.reviewer == "oracle:truth"
    audit = AnswerStore.of_survey(survey).standing("audit")
    design = read_design(survey)
    assert list(audit) == design.audit_ids[:60] or set(audit) == set(design.audit_ids[:60])
    calibration = calibration_from_review(survey)
    cams_in_audited = truth[truth["image_id"].isin(list(audit))]
    assert sum(calibration["recall_bins"]["n"]) == len(cams_in_audited)  # every truth box, found or added
    found = sum(calibration["recall_bins"]["found"])
    assert found == sum(len(tables.detections_in(i)) - len(a.rejected) for i, a in audit.items())
    # running it again answers nothing twice
    assert main(["review", str(survey), "--oracle", "truth"]) == 0
    assert "(80 already answered)" in capsys.readouterr().out


def test_the_oracle_recovers_the_designed_precision_and_recall(tmp_path):
    from tests.scripts.review.survey import make_review_survey

    survey = tmp_path / "s"
    make_review_survey(survey, n_cameras=40, seed=5, precision=0.6, recall=0.5, locate=False)
    assert main(["review", str(survey), "--oracle", "truth", "--n-verify", "1000", "--n-audit", "100000"]) == 0
    c = calibration_from_review(survey)
    assert c["n_verified"] == len(SurveyTables.open(survey).detections)
    assert c["precision_lo"] <= 0.6 <= c["precision_hi"] and abs(c["precision"] - 0.6) < 0.1
    assert c["recall_lo"] <= 0.5 <= c["recall_hi"] and abs(c["recall"] - 0.5) < 0.15


def test_the_oracle_needs_truth_boxes(survey, capsys):
    (survey / "truth_boxes.parquet").unlink()
    assert main(["review", str(survey), "--oracle", "truth"]) == 2
    assert "truth_boxes.parquet" in capsys.readouterr().err
    assert not (survey / "review" / "answers.sqlite").exists()
    assert main(["review", str(survey), "--oracle", "people"]) == 2


def test_export_writes_every_answer_with_reviewer_and_time(survey, tmp_path, capsys):
    assert main(["review", str(survey), "--export", str(tmp_path / "none.csv")]) == 2  # no review yet
    assert main(["review", str(survey), "--oracle", "truth", "--n-verify", "5", "--n-audit", "4"]) == 0
    store = AnswerStore.of_survey(survey)
    store.undo("verify", reviewer="oracle:truth")
    assert main(["review", str(survey), "--export", str(tmp_path / "review.csv")]) == 0
    frame = pd.read_csv(tmp_path / "review.csv")
    assert len(frame) == 10 and set(frame["queue"]) == {"verify", "audit"}
    assert (frame["reviewer"] == "oracle:truth").all() and frame["time"].str.endswith("+00:00").all()
    assert frame["standing"].sum() == 8 and (frame["answer"] == "undo").sum() == 1
    verify = frame[(frame["queue"] == "verify") & (frame["answer"] != "undo")]
    tables = SurveyTables.open(survey)
    for row in verify.itertuples():
        d = tables.detections.loc[row.item_id]
        assert row.image_id == d["image_id"] and abs(row.conf - d["conf"]) < 1e-6 and abs(row.x1 - d["x1"]) < 1e-3
    assert (frame.loc[frame["queue"] == "audit", "image_id"] == frame.loc[frame["queue"] == "audit", "item_id"]).all()


def test_dataset_from_review_writes_a_yolo_dataset(survey, tmp_path, capsys):
    from detector.yolo_dataset import check_dataset

    assert main(["review", str(survey), "--oracle", "truth", "--n-verify", "30", "--n-audit", "20"]) == 0
    out = tmp_path / "ds"
    assert main(["dataset", "from-review", str(survey), "--out", str(out), "--tile", "160"]) == 0
    assert "wrote" in capsys.readouterr().out
    report = check_dataset(out)
    assert report.ok
    manifest = pd.read_csv(out / "review_manifest.csv")
    audit = AnswerStore.of_survey(survey).standing("audit")
    truth = pd.read_parquet(survey / "truth_boxes.parquet")
    audited = manifest[manifest["kind"] == "audited"]
    assert set(audited["image_id"]) == set(audit)
    assert audited["n_boxes"].sum() == truth["image_id"].isin(list(audit)).sum()  # complete labels
    crops = manifest[manifest["kind"] != "audited"]
    assert not crops["image_id"].isin(list(audit)).any()
    assert (crops[crops["kind"] == "confirmed"]["n_boxes"] >= 1).all()
    verify = AnswerStore.of_survey(survey).standing("verify")
    tables = SurveyTables.open(survey)
    outside = [a for i, a in verify.items() if tables.detections.at[i, "image_id"] not in audit]
    assert (crops["kind"] == "hard_negative").sum() == sum(a.answer == "not" for a in outside)
    import cv2

    for row in crops.itertuples():
        assert cv2.imread(str(out / "images" / row.split / f"{row.name}.jpg")).shape[:2] == (160, 160)


def test_dataset_from_review_needs_a_review(survey, tmp_path, capsys):
    assert main(["dataset", "from-review", str(survey), "--out", str(tmp_path / "ds")]) == 2
    assert "no review" in capsys.readouterr().err


def test_sample_sizes_follow_the_target_width():
    assert sample_size_for_half_width(0.1) == 97
    assert sample_size_for_half_width(0.05) == 385
    with pytest.raises(GeoInputError, match="target"):
        sample_size_for_half_width(0.0)


def test_every_prefix_of_the_order_holds_the_strata_in_their_shares():
    rng = np.random.default_rng(0)
    ids = np.array([f"d{i}" for i in range(400)])
    strata = np.repeat([0, 1, 2], [300, 80, 20])
    order = interleaved_order(ids, strata, {0: np.sqrt(300), 1: np.sqrt(80), 2: np.sqrt(20)}, rng=rng)
    assert sorted(order) == sorted(ids)
    of = {i: s for i, s in zip(ids, strata)}
    shares = np.sqrt([300, 80, 20]) / np.sqrt([300, 80, 20]).sum()
    for n in (20, 40, 60):
        counts = np.bincount([of[i] for i in order[:n]], minlength=3)
        assert np.all(np.abs(counts - shares * n) <= 1.5), (n, counts)


def test_the_design_is_stratified_by_confidence_and_stored(survey):
    tables = SurveyTables.open(survey)
    from scripts.review.sampling import open_design

    design = open_design(tables, n_verify=8)
    assert design.edges[0] == tables.conf_threshold and design.edges[-1] == 1.0
    assert sum(design.verify_strata_sizes) == len(tables.detections)
    assert design.audit_strata_sizes["with_evidence"] >= tables.detections["image_id"].nunique()  # + geometry
    conf = tables.detections.loc[design.verify_ids, "conf"].to_numpy()
    assert len(np.unique(np.searchsorted(design.edges, conf, side="right"))) >= 3  # several bins in 8
    assert read_design(survey) == design


def test_matching_accepts_small_offsets_on_tiny_boxes():
    truth = pd.DataFrame({"x1": [100.0, 300.0], "y1": [100.0, 50.0], "x2": [106.0, 340.0], "y2": [106.0, 80.0],
                          "class_name": ["dome", "directed"]})
    det = pd.DataFrame({"x1": [102.0, 500.0, 301.0], "y1": [101.0, 500.0, 51.0], "x2": [108.0, 510.0, 339.0],
                        "y2": [107.0, 510.0, 79.0]}, index=["a", "b", "c"])
    iou, ok = match_scores(det, truth)
    assert ok[0, 0] and iou[0, 0] < 0.5  # 2 px off on a 6 px box: IoU 0.4, centre 2.2 px away
    assert not ok[1].any() and ok[2, 1]
    assert verify_answer(det.iloc[0], truth) == ("camera", "dome")
    assert verify_answer(det.iloc[1], truth) == ("not", None)
    twice = pd.concat([det, det.iloc[[0]].rename(index={"a": "a2"})])
    rejected, added = audit_answer(twice, truth.iloc[[0]])
    assert sorted(rejected) == ["a2", "b", "c"] or sorted(rejected) == ["a", "b", "c"]
    assert added == []
    rejected, added = audit_answer(det.iloc[[1]], truth)
    assert rejected == ["b"] and [a[4] for a in added] == ["dome", "directed"]


def test_a_review_of_other_detections_is_refused(survey, capsys):
    assert main(["review", str(survey), "--oracle", "truth", "--n-verify", "5", "--n-audit", "5"]) == 0
    part = survey / "detections" / "part-000000.parquet"
    frame = pd.read_parquet(part)
    frame.iloc[:-1].to_parquet(part)  # detect ran again and found one box less
    with pytest.raises(GeoInputError, match="detections changed"):
        calibration_from_review(survey)
    assert main(["review", str(survey), "--no-browser", "--port", "0"]) == 2
    assert "detections changed" in capsys.readouterr().err


def test_the_threshold_is_the_model_cards(survey):
    from detector.card import read_card
    from detector.registry import default_models_dir

    card = read_card(default_models_dir() / "cctv-yolo11n-synth.md")
    part = survey / "detections" / "part-000000.parquet"
    frame = pd.read_parquet(part)
    frame.assign(model_id="cctv-yolo11n-synth").to_parquet(part)
    assert SurveyTables.open(survey).conf_threshold == card.conf
    assert SurveyTables.open(survey, conf=0.5).conf_threshold == 0.5


def test_overall_precision_weights_the_bins_and_its_interval_holds_the_point():
    from scripts.review.calibration import stratified_precision

    point, lo, hi = stratified_precision(np.array([2, 0, 0]), np.array([2, 0, 0]), np.array([12, 11, 9]))
    assert point == 1.0 and lo < point <= hi  # empty bins take the pooled answers, not a flat prior
    point, lo, hi = stratified_precision(np.array([10, 40]), np.array([40, 40]), np.array([900, 100]))
    assert abs(point - (0.9 * 0.25 + 0.1 * 1.0)) < 1e-9 and lo < point < hi and hi - lo < 0.3
    assert np.isnan(stratified_precision(np.zeros(2), np.zeros(2), np.array([5, 5]))[0])


def test_an_adaptive_audit_grows_until_it_holds_enough_cameras(survey, capsys):
    from scripts.review.sampling import cameras_needed

    assert main(["review", str(survey), "--oracle", "truth", "--target", "0.25", "--n-verify", "3"]) == 0
    design = read_design(survey)
    c = calibration_from_review(survey)
    n_images = len(SurveyTables.open(survey).images)
    # +-25% on the count at the recall the audit found (the generated survey's 0.7): about 27 cameras
    needed = cameras_needed(design, recall=c["recall"])
    assert design.adaptive_audit and 20 <= needed <= 40 and cameras_needed(design) == 62  # at the prior 0.5
    assert c["n_audit_cameras"] >= needed and c["n_audited"] == design.n_audit < n_images
    audit = AnswerStore.of_survey(survey).standing("audit")
    assert sorted(audit) == sorted(design.audit_ids)  # the first n of the one random order


def test_the_app_extends_an_adaptive_audit(survey):
    from scripts.review.app import create_app

    import dataclasses
    import json

    from scripts.review.sampling import design_path, open_design

    planned = open_design(SurveyTables.open(survey), target_half_width=0.25)
    design_path(survey).write_text(json.dumps(dataclasses.asdict(dataclasses.replace(planned, n_audit=5))))
    app = create_app(survey)  # a first guess of 5 images: far too few
    client = app.test_client()
    truth = pd.read_parquet(survey / "truth_boxes.parquet")
    audited = 0
    while not (item := client.get("/api/audit/next").get_json()).get("done"):
        boxes = truth[truth["image_id"] == item["image_id"]]  # a perfect reviewer adds every camera
        added = [[r.x1, r.y1, r.x2, r.y2] for r in boxes.itertuples()]
        reply = client.post("/api/audit", json={"image_id": item["image_id"], "reviewer": "ann",
                                                "rejected": [d["detection_id"] for d in item["detections"]],
                                                "added": added})
        assert reply.status_code == 200
        audited += 1
    state = client.get("/api/state").get_json()
    design = read_design(survey)  # this reviewer rejects every detection: recall 0, the audit grows to its cap
    assert audited == state["n_audited"] == design.n_audit == design.audit_cap > 5
    assert state["n_audit_planned"] == audited and audited < len(app.extensions["review"].tables.images)
