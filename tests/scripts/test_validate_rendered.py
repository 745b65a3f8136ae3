"""The validation's card-based error model (scripts/validation/validate_estimator.py) and the rendered
validation's logic (scripts/validation/validate_rendered.py) on generated data: no rendering, no detector."""

import json

import numpy as np
import pandas as pd
import pytest

from geo.counting.heterogeneity import expit as _expit, logit_shift
from scripts.validation.validate_estimator import detections_from_card, error_model_from_card
from scripts.validation.validate_rendered import (SURVEYS, camera_correlation, hits_from_survey, markdown_tables,
                                       pairwise_residual_correlation, random_effect_sd, row_from_report,
                                       streets_near_centre, summary_of)

CARD = {"source": "card", "conf_threshold": 0.5,
        "precision_bins": {"edges": [0.5, 0.7, 0.9, 1.0], "n": [40, 60, 100], "real": [20, 50, 98]},
        "recall_bins": {"edges_px": [0.0, 6.0, 8.0, 12.0, 100000.0], "n": [100, 50, 50, 200],
                        "found": [2, 10, 30, 190]},
        "n_images": 2000}


def truth_boxes(n_cameras: int, views: int, size: float, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``views`` boxes of ``size`` px per camera, one camera per image."""
    rng = np.random.default_rng(seed)
    cam = np.repeat(np.arange(n_cameras), views)
    x = rng.uniform(50, 550, len(cam))
    boxes = pd.DataFrame({"image_id": [f"i{k}" for k in range(len(cam))], "camera_id": cam.astype(str),
                          "class_name": "dome", "x1": x, "y1": 100.0, "x2": x + size, "y2": 100.0 + size})
    images = pd.DataFrame({"image_id": boxes["image_id"], "status": "ok", "width": 640, "height": 640})
    return boxes, images


def test_error_model_reads_the_cards_counts_not_a_curve():
    model = error_model_from_card(calibration=CARD, camera_sd=0.0)
    # false detections per image: n - real per confidence bin over n_images (the calibration's Gamma
    # posterior mean: the counts plus a fraction of one from the prior)
    from geo.counting.calibration import calibration_from_dict

    np.testing.assert_allclose(model.false_rate, calibration_from_dict(CARD).false_rates())
    np.testing.assert_allclose(model.false_rate, np.array([20, 10, 2]) / 2000, atol=0.5 / 2000)
    assert model.recall_at(np.array([4.0]))[0] < 0.06  # the card's 2 of 100 under 6 px, not 18%
    assert model.recall_at(np.array([40.0]))[0] > 0.9
    assert np.isclose(model.true_conf_share.sum(), 1.0) and model.true_conf_share.argmax() == 2
    drawn = error_model_from_card(calibration=CARD, rng=np.random.default_rng(3), camera_sd=0.0)
    assert np.all(np.diff(drawn.recall) >= -1e-12)  # a posterior draw, made monotone
    assert not np.allclose(drawn.false_rate, model.false_rate)


def test_logit_shift_keeps_the_marginal_recall():
    r = np.array([0.05, 0.3, 0.8, 0.95])
    x, w = np.polynomial.hermite.hermgauss(60)
    c = logit_shift(r, 1.5)
    marginal = [(w * _expit(ci + np.sqrt(2) * 1.5 * x)).sum() / np.sqrt(np.pi) for ci in c]
    np.testing.assert_allclose(marginal, r, atol=1e-4)


@pytest.mark.parametrize("sd", [0.0, 1.5])
def test_detections_from_card_hit_the_cards_recall_and_false_rate(sd):
    boxes, images = truth_boxes(3000, 4, 10.0)
    model = error_model_from_card(calibration=CARD, camera_sd=sd)
    det = detections_from_card(boxes, images, model, seed=1)
    real = det[det["real"]]
    assert abs(len(real) / len(boxes) - model.recall_at(np.array([10.0]))[0]) < 0.02
    expected_false = model.false_rate.sum() * len(images)
    assert abs((~det["real"]).sum() - expected_false) < 4 * np.sqrt(expected_false)
    assert det["conf"].between(0.5, 1.0).all()
    # true detections' confidences are spread over the bins as the card's real detections are
    share = np.bincount(np.digitize(real["conf"], [0.7, 0.9]), minlength=3) / len(real)
    np.testing.assert_allclose(share, model.true_conf_share, atol=0.03)


def hits_of(boxes: pd.DataFrame, det: pd.DataFrame) -> pd.DataFrame:
    found = set(det.loc[det["real"], "image_id"])
    return pd.DataFrame({"camera_id": boxes["camera_id"], "image_id": boxes["image_id"],
                         "size_px": 10.0, "hit": boxes["image_id"].isin(found).to_numpy()})


def test_correlation_is_zero_for_independent_views_and_found_for_a_camera_effect():
    boxes, images = truth_boxes(1500, 4, 10.0)
    independent = hits_of(boxes, detections_from_card(boxes, images, error_model_from_card(calibration=CARD,
                                                                                           camera_sd=0.0), seed=2))
    correlated = hits_of(boxes, detections_from_card(boxes, images, error_model_from_card(calibration=CARD,
                                                                                          camera_sd=2.0), seed=2))
    assert abs(pairwise_residual_correlation(independent)) < 0.04
    assert pairwise_residual_correlation(correlated) > 0.15
    assert random_effect_sd(independent) < 0.6
    assert 1.4 < random_effect_sd(correlated) < 2.6
    result = camera_correlation(correlated, n_boot=8)
    assert result["rho_lo"] <= result["rho"] <= result["rho_hi"]
    assert abs(result["rho_model_at_sd"] - result["rho"]) < 0.08  # the error model reproduces it
    assert abs(result["rho_model_independent"]) < 0.04


def test_hits_use_the_oracles_matching_rule(tmp_path):
    truth = pd.DataFrame({"image_id": ["a", "a", "b"], "camera_id": ["1", "2", "1"], "class_name": "dome",
                          "x1": [100.0, 300.0, 10.0], "y1": [100.0, 100.0, 10.0],
                          "x2": [106.0, 306.0, 16.0], "y2": [106.0, 106.0, 16.0]})
    truth.to_parquet(tmp_path / "truth_boxes.parquet")
    (tmp_path / "detections").mkdir()
    # a: the first box found 2.5 px off-centre (IoU < 0.3, within the 3 px reach); b: a box elsewhere
    pd.DataFrame({"image_id": ["a", "b"], "x1": [102.5, 200.0], "y1": [100.0, 200.0], "x2": [108.5, 206.0],
                  "y2": [106.0, 206.0], "conf": 0.9}).to_parquet(tmp_path / "detections" / "part-000000.parquet")
    hits = hits_from_survey(tmp_path)
    assert hits["hit"].tolist() == [True, False, False]
    assert np.allclose(hits["size_px"], 6.0)


def test_sub_area_keeps_the_streets_nearest_the_centre():
    # 10 streets of 10 points each along x, street k at (k - 4.5) x 0.001 degrees of latitude from the centre
    pts = pd.DataFrame({"street_id": np.repeat(np.arange(10), 10), "lon": np.tile(np.linspace(0, 0.01, 10), 10),
                        "lat": 60 + np.repeat((np.arange(10) - 4.5) * 0.001, 10)})
    keep = streets_near_centre(pts, frac=0.3, spacing=10.0)
    assert len(keep) == 3
    assert keep <= {3, 4, 5, 6}
    assert len(streets_near_centre(pts, frac=1.0, spacing=10.0)) == 10


def test_survey_set_covers_the_issues_grid():
    main = [s for s in SURVEYS if not s.name.startswith("i")]
    assert len(main) >= 24
    assert {s.area for s in main} == {"demo", "test_pbf"}
    assert {s.spacing for s in main if s.method == "systematic"} == {10.0, 20.0, 40.0}
    assert any(s.method == "random" for s in main)
    assert {s.sides for s in main} == {"both", "random"}
    assert min(s.density for s in main) <= 1 and max(s.density for s in main) >= 10
    assert all(s.seed > 2000 for s in main)  # never a training seed (0-12, 777, 778)
    assert len({s.name for s in SURVEYS}) == len(SURVEYS)


def cell(est, lo, hi, truth):
    return {"est": est, "lo": lo, "hi": hi, "truth": truth, "strip_m": 20.0}


def test_summary_scores_median_error_coverage_and_targets():
    rows = [{"name": f"s{k}", "area": "demo", "density": 3, "design": "systematic 20 m", "sides": "both",
             "card": cell(11.0, 8.0, 14.0, 10.0), "oracle": cell(10.0, 9.0, 10.5, 11.0),
             "weak": cell(30.0, 10.0, 200.0, 25.0)} for k in range(9)]
    rows.append({"name": "s9", "area": "test_pbf", "density": 8, "design": "random n=200", "sides": "one",
                 "card": cell(5.0, 4.0, 6.0, 10.0), "oracle": {"error": "failed"}, "weak": None})
    card = summary_of(rows, "card")
    assert card["n"] == 10 and card["coverage"] == pytest.approx(0.9)
    assert card["coverage_mcse"] == pytest.approx(np.sqrt(0.9 * 0.1 / 10))
    assert card["median_error"] == pytest.approx(0.10) and card["met"] is True
    oracle = summary_of(rows, "oracle")
    assert oracle["n"] == 9 and oracle["coverage"] == 0.0 and oracle["met"] is False
    weak = summary_of(rows, "weak")
    assert weak["coverage"] == 1.0 and weak["max_width_ratio_est20"] == pytest.approx(190 / 30)
    assert weak["met"] is False  # an interval wider than 4x its estimate of >= 20
    text = markdown_tables(rows, cpu={"s0:shipped": {"cpu_s": 120.0}, "s0:weak": {"cpu_s": 60.0}})
    assert "| s9 | test extract | 8 | random n=200 | one |" in text
    assert "failed" in text and "90% (9%)" in text
    assert "render + detect with the shipped model 2.0 min" in text


def test_row_from_report_reads_the_estimate_and_its_truth():
    report = {"total": {"est_cameras": 12.5, "est_lo": 8.0, "est_hi": 19.0, "truth_cameras": 11, "strip_m": 14.0,
                        "n_images": 400, "n_detections": 20, "n_cameras": 15},
              "calibration": {"source": "card", "precision": 0.8, "recall": 0.4}}
    row = row_from_report(json.loads(json.dumps(report)))
    assert (row["est"], row["lo"], row["hi"], row["truth"], row["source"]) == (12.5, 8.0, 19.0, 11.0, "card")
    assert row_from_report({})["est"] is None


@pytest.mark.slow
def test_rendered_runner_end_to_end_on_a_tiny_survey(tmp_path):
    """Render 12 views, detect with both models, three estimates, the tables (about a minute)."""
    from scripts.validation.validate_rendered import RenderedSurvey, cache_all, estimate_all

    survey = RenderedSurvey("tiny", "demo", 10.0, "random", "both", 2999, n=6)
    record = cache_all(tmp_path, [survey], cpu_budget_s=600, log=lambda text: None)
    assert set(record) == {"tiny:shipped", "tiny:weak"} and all(v["cpu_s"] > 0 for v in record.values())
    assert (tmp_path / "tiny" / "weakdet" / "detections").is_dir()
    again = cache_all(tmp_path, [survey], cpu_budget_s=600, log=lambda text: None)
    assert again == record  # cached: nothing rendered or detected again
    rows = estimate_all(tmp_path, [survey], log=lambda text: None)
    for cal in ("card", "oracle", "weak"):
        cell = rows[0][cal]
        assert cell["est"] is not None and cell["lo"] <= cell["est"] <= cell["hi"], cell
        assert cell["truth"] is not None
    assert rows[0]["oracle"]["source"] == "review" and rows[0]["card"]["source"] != "review"
    assert (tmp_path / "tiny" / "est-weak" / "review").is_dir()
    assert "| tiny | demo | 10 | random n=6 | both |" in markdown_tables(rows)


def test_held_out_look_and_corrupted_surveys_are_in_the_set_and_cached_first():
    from scripts.validation.validate_rendered import (ALL_SURVEYS, CORRUPTED, HELD_OUT, TRAINING, cache_order,
                                                      corruptions_from_spec)

    assert len(HELD_OUT) >= 6 and all(s.style == "alt" and s.group == "held-out look" for s in HELD_OUT)
    ten = [s for s in HELD_OUT if s.method == "systematic" and s.spacing == 10.0]
    assert {s.area for s in ten} == {"demo", "test_pbf"}
    seeds = [s.seed for s in ALL_SURVEYS if not s.corruption]
    assert len(set(seeds)) == len(seeds) and all(s.seed > 4000 for s in HELD_OUT)
    assert len(CORRUPTED) >= 4 and all(s.source in TRAINING and s.group == "corrupted" for s in CORRUPTED)
    assert {k for s in CORRUPTED for k, _ in corruptions_from_spec(s.corruption)} >= {"haze", "lowres", "jpeg", "blur"}
    order = [s.name for s in cache_order(ALL_SURVEYS)]
    assert sorted(order) == sorted(s.name for s in ALL_SURVEYS)
    first_training = min(order.index(n) for n in TRAINING if n not in {c.source for c in CORRUPTED})
    assert all(order.index(s.name) < first_training for s in HELD_OUT + CORRUPTED)
    assert all(order.index(s.source) < order.index(s.name) for s in CORRUPTED)


def test_a_corrupted_survey_links_its_sources_tables_and_resumes(tmp_path):
    import cv2

    from scripts.validation.validate_rendered import corrupt_survey

    src = tmp_path / "src" / "base"
    (src / "images").mkdir(parents=True)
    image = np.full((64, 64, 3), 120, np.uint8)
    image[20:40, 20:40] = 30
    cv2.imwrite(str(src / "images" / "a.jpg"), image)
    pd.DataFrame({"image_id": ["a", "b"], "path": ["images/a.jpg", None]}).to_parquet(src / "images.parquet")
    (src / "truth_boxes.parquet").write_bytes(b"x")
    out = tmp_path / "c" / "base"
    assert corrupt_survey(src, out, "blur:3+noise:2", seed=1, log=lambda t: None) == 1
    assert (out / "truth_boxes.parquet").is_symlink() and (out / "images.parquet").is_symlink()
    changed = cv2.imread(str(out / "images" / "a.jpg"))
    assert changed.shape == image.shape and np.abs(changed.astype(int) - image).mean() > 2
    assert corrupt_survey(src, out, "blur:3+noise:2", seed=1, log=lambda t: None) == 0  # resumes: nothing redone


def test_group_tables_score_card_check_own_fit_and_review():
    from scripts.validation.validate_rendered import group_summary, markdown_tables

    def card(est, lo, hi, truth, fits, ratio=None):
        return {**cell(est, lo, hi, truth), "fits": fits, "self_ratio": ratio, "self_ratio_lo": ratio,
                "self_ratio_hi": ratio, "self_informative": ratio is not None}

    def review(est, lo, hi, truth, audited):
        return {**cell(est, lo, hi, truth), "n_audited": audited, "n_verified": 97}

    base = {"area": "test_pbf", "density": 5, "design": "systematic 10 m", "sides": "both"}
    rows = [{**base, "name": "t1", "group": "training look", "card": card(10, 8, 12, 10, True),
             "oracle": review(10, 8, 12, 10, 300)},
            {**base, "name": "t2", "group": "training look", "card": card(10, 8, 12, 11, False),
             "oracle": review(12, 9, 15, 11, 200)},
            {**base, "name": "h1", "group": "held-out look", "style": "alt", "card": card(3, 2, 5, 10, False, 0.3),
             "oracle": review(9, 6, 14, 10, 600)},
            {**base, "name": "h2", "group": "held-out look", "style": "alt", "card": card(3, 2, 5, 10, None),
             "oracle": review(5, 3, 7, 10, 650)},
            {**base, "name": "h3", "group": "held-out look", "style": "alt",  # unverified, its bound 5 x 2.5 covers
             "card": {**card(3, 2, 5, 12, None), "count_factor": 2.5}, "oracle": review(11, 8, 14, 12, 300)},
            {**base, "name": "c1", "group": "corrupted", "corruption": "haze:3", "card": card(8, 6, 11, 10, True),
             "oracle": review(10, 8, 13, 10, 400)}]
    g = group_summary(rows)
    assert g["training look"]["false_alarms"] == 1 and g["training look"]["fits_false"] == 1
    assert g["held-out look"]["card_covered_or_flagged"] == 1 and g["held-out look"]["fits_none"] == 2
    assert g["held-out look"]["card_covered_flagged_or_bounded"] == 2  # h2 has no bound, h3's covers
    assert g["held-out look"]["review_within_20"] == 2 and g["held-out look"]["audited_max"] == 650
    assert g["held-out look"]["self_ratio_median"] == pytest.approx(0.3)
    assert g["corrupted"]["card_covered_or_flagged"] == 1
    text = markdown_tables(rows)
    assert "| held-out look | 3 |" in text and "- (up to x2.5)" in text and "| h1 | held-out look (alt look) | systematic 10 m |" in text
    assert "0.30 (0.30-0.30)" in text and "| c1 | corrupted (haze:3) |" in text


def test_estimate_rows_merge_by_survey_in_the_sets_order():
    from scripts.validation.validate_rendered import merged_rows

    old = [{"name": "t01", "v": 1}, {"name": "h01", "v": 1}]
    new = [{"name": "h01", "v": 2}, {"name": "c01", "v": 2}]
    assert [(r["name"], r["v"]) for r in merged_rows(old, new)] == [("t01", 1), ("h01", 2), ("c01", 2)]


def test_redetect_links_the_cached_images_and_tables_but_not_the_old_detections(tmp_path):
    from scripts.validation.validate_rendered import link_cached_survey

    old = tmp_path / "old" / "s1" / "base"
    (old / "images").mkdir(parents=True)
    (old / "detections").mkdir()
    for name in ("images.parquet", "truth_boxes.parquet", "detect_summary.json"):
        (old / name).write_text("x")
    (old.parent / "survey.json").write_text("{}")
    base = link_cached_survey(tmp_path / "old", tmp_path / "new", "s1")
    assert base == tmp_path / "new" / "s1" / "base"
    assert (base / "images").is_symlink() and (base / "images.parquet").is_symlink()
    assert (base / "truth_boxes.parquet").is_symlink() and (base.parent / "survey.json").is_symlink()
    assert not (base / "detections").exists() and not (base / "detect_summary.json").exists()
    assert link_cached_survey(tmp_path / "old", tmp_path / "new", "s1") == base  # again: nothing to do
    assert sorted(p.name for p in old.iterdir()) == ["detect_summary.json", "detections", "images",
                                                    "images.parquet", "truth_boxes.parquet"]
    assert link_cached_survey(tmp_path / "old", tmp_path / "new", "missing") is None
