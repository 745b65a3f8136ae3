"""The review as an update of a prior calibration (issue 26, part 3) and the unequal-probability
audit with Horvitz-Thompson weights sized for the count's interval (part 4), on generated data."""

from __future__ import annotations

import numpy as np
import pytest

from geo.counting.calibration import calibration_from_dict
from geo.errors import GeoInputError
from scripts.review.calibration import calibration_from_review, calibration_updated, recall_bins_updated
from scripts.review.oracle import oracle_review
from scripts.review.sampling import (
    audit_cameras_needed,
    default_audit_cap,
    person_time_line,
    pps_inclusion,
    read_design,
    sample_size_for_relative_half_width,
    sequential_poisson_order,
)

EDGES_PX = [0, 6, 8, 12, 16, 24, 32, 64, 100000]


def card_prior(recall: float = 0.9) -> dict:
    """A card-like calibration: precision 0.9 by confidence, recall ``recall`` at every size, and
    false detections per image."""
    return {"source": "card", "conf_threshold": 0.25,
            "precision_bins": {"edges": [0.25, 0.5, 1.0], "n": [100, 100], "real": [85, 95]},
            "recall_bins": {"edges_px": EDGES_PX, "n": [100] * 8, "found": [100 * recall] * 8},
            "false_bins": {"edges": [0.25, 0.5, 1.0], "false": [12, 3], "n_images": 500}, "n_images": 500}


def test_a_verify_only_review_leaves_recall_at_the_prior(survey):
    oracle_review(survey, n_verify=12, n_audit=0)
    prior = card_prior(0.9)
    cal = calibration_from_review(survey, prior=prior)
    assert cal["n_verified"] == 12 and cal["n_audited"] == 0
    assert cal["source"] == "review" and cal["precision_from"] == "review"
    assert cal["recall_bins"]["found"] == prior["recall_bins"]["found"]
    assert cal["recall_from"].startswith("card") and not cal["warnings"]
    c = calibration_from_dict(cal)
    assert c.sampled_survey() and np.allclose(c.recall_bins(), calibration_from_dict(prior).recall_bins())
    # before this change the empty audit gave a flat 0.5; without a prior it is still 0.5, but said
    bare = calibration_from_review(survey, prior=None, use_card=False)
    assert bare["recall_from"] == "none" and any("recall is unknown" in w for w in bare["warnings"])


def test_an_audit_only_review_leaves_precision_at_the_prior(survey):
    oracle_review(survey, n_verify=0, n_audit=60)
    prior = card_prior(0.95)
    cal = calibration_from_review(survey, prior=prior)
    assert cal["n_verified"] == 0 and cal["n_audited"] == 60 and cal["n_audit_cameras"] > 0
    assert cal["source"] == "review+card" and cal["precision_from"].startswith("card")
    assert cal["precision_bins"]["real"] == [85.0, 95.0] and cal["false_bins"]["false"] == [12.0, 3.0]
    c = calibration_from_dict(cal)
    assert c.uses_false_rate() and not c.sampled_survey()  # P(real) from the card's false rate, as without review
    # the generated survey's recall is 0.7: the audit pulls the card's 0.95 down to about it
    raw = sum(cal["recall_bins"]["found_raw"]) / sum(cal["recall_bins"]["n_raw"])
    assert cal["recall_level_shift"] < 0
    updated = float(c.recall_bins() @ c.rec_n / c.rec_n.sum())
    assert abs(updated - raw) < 0.12 and updated < 0.9


def test_the_update_keeps_the_priors_shape_where_the_audit_is_thin():
    prior = calibration_from_dict({**card_prior(), "recall_bins": {
        "edges_px": EDGES_PX, "n": [400] * 8, "found": [40, 100, 160, 240, 300, 340, 360, 380]}})
    # an audit at half the card's level, with cameras only in the 8-24 px bins
    n = [0, 0, 40, 40, 40, 0, 0, 0]
    found = [0, 0, 8, 12, 15, 0, 0, 0]
    bins, delta = recall_bins_updated({"edges_px": EDGES_PX, "n": n, "found": found}, prior, mode="level")
    assert delta < -0.5 and bins["update"] == "level"
    shifted = np.array(bins["shifted_rates"])
    assert np.all(np.diff(shifted) >= -1e-9)  # the shape (rising with size) is kept
    assert shifted[-1] < np.array(bins["prior_rates"])[-1]  # and shifted down where the audit saw nothing
    # every bin holds the shifted curve as the estimator reads it (its own pseudo-counts at the pooled rate and its
    # boxes-per-camera design effect included); its counts carry the level's uncertainty, spread over 3 bins
    counts = np.array(bins["n"])
    handed = calibration_from_dict({**card_prior(), "source": "review", "recall_bins": {
        k: bins[k] for k in ("edges_px", "n", "found", "cameras")}})
    assert handed.boxes_per_camera == 1.0
    np.testing.assert_allclose(handed.recall_bins(), shifted, rtol=0.02, atol=1e-3)
    assert counts[3] < 120 / 3 + 5  # about the 120 audited cameras' information, not 120 per bin
    assert counts[0] > counts[3]  # near 0 or 1 a rate is pinned down more tightly by the same level
    # the counts as they were (EXACT_HANDOVER off): the estimator pulls the large bins towards the pooled rate
    import scripts.review.calibration as review_calibration

    review_calibration.EXACT_HANDOVER = False
    try:
        plain, _ = recall_bins_updated({"edges_px": EDGES_PX, "n": n, "found": found}, prior, mode="level")
    finally:
        review_calibration.EXACT_HANDOVER = True
    np.testing.assert_allclose(np.array(plain["found"]) / np.array(plain["n"]), shifted, atol=1e-3)
    pulled = calibration_from_dict({**card_prior(), "source": "review", "recall_bins": {
        k: plain[k] for k in ("edges_px", "n", "found")}}).recall_bins()
    assert pulled[-1] < shifted[-1] - 0.02
    # "bins": the audit's counts plus 3 pseudo-cameras per bin at the shifted curve
    old, _ = recall_bins_updated({"edges_px": EDGES_PX, "n": n, "found": found}, prior, mode="bins")
    assert old["n"][0] == pytest.approx(3.0) and old["found"][0] == pytest.approx(3.0 * old["shifted_rates"][0],
                                                                               abs=1e-3)
    assert old["n"][3] == pytest.approx(43.0) and old["found"][3] > 12


def test_no_answers_and_no_prior_is_said_not_silent():
    summary = {"precision_bins": {"edges": [0.25, 1.0], "n": [0], "real": [0], "population": [5]},
               "recall_bins": {"edges_px": EDGES_PX, "n": [0] * 8, "found": [0] * 8},
               "n_verified": 0, "n_audited": 3, "n_audit_cameras": 0}
    out = calibration_updated(summary, None)
    assert out["precision_from"] == "none" and out["recall_from"] == "none" and len(out["warnings"]) == 2


def test_sample_sizes_follow_the_counts_interval():
    assert sample_size_for_relative_half_width(0.2, p=0.5) == 97
    assert sample_size_for_relative_half_width(0.2, p=0.2) == 385  # low recall needs more cameras
    assert sample_size_for_relative_half_width(0.2, p=0.8) == 25
    assert audit_cameras_needed(0.2, 0.99) == 30  # never below the floor
    assert (default_audit_cap(4056), default_audit_cap(300), default_audit_cap(100_000)) == (609, 100, 650)
    with pytest.raises(GeoInputError, match="target"):
        sample_size_for_relative_half_width(1.5, p=0.5)


def test_pps_inclusion_sums_to_the_sample_and_caps_at_one():
    size = np.array([1.0] * 90 + [4.0] * 9 + [200.0])
    pi = pps_inclusion(size, 20)
    assert pi.sum() == pytest.approx(20) and pi.max() <= 1.0 and pi[-1] == 1.0
    assert pi[90] == pytest.approx(4 * pi[0])
    assert np.all(pps_inclusion(size, 100) == 1.0)


def test_horvitz_thompson_weights_remove_the_bias_of_the_unequal_draw():
    rng = np.random.default_rng(5)
    n_img = 2000
    evidence = rng.random(n_img) < 0.1
    size = np.where(evidence, 4.0, 1.0)
    # images with evidence hold more cameras and find more of them
    cameras = rng.poisson(np.where(evidence, 1.5, 0.08))
    found = rng.binomial(cameras, np.where(evidence, 0.6, 0.1))
    truth = found.sum() / cameras.sum()
    plain, weighted = [], []
    for seed in range(200):
        order = sequential_poisson_order(np.arange(n_img), size, rng=np.random.default_rng(seed))
        take = order[:300]
        w = 1.0 / pps_inclusion(size[order], 300)[:300]
        plain.append(found[take].sum() / cameras[take].sum())
        weighted.append((w * found[take]).sum() / (w * cameras[take]).sum())
    assert abs(np.mean(weighted) - truth) < 0.02 < abs(np.mean(plain) - truth)


def test_the_audit_draws_images_with_evidence_more_often_and_weights_them(survey):
    result, summary = oracle_review(survey, n_verify=5, n_audit=30)
    design = read_design(survey)
    assert design.version == 2 and design.audit_size_measure is not None
    measure = np.array(design.audit_size_measure)
    assert set(np.unique(measure)) <= {1.0, 2.0, 8.0} and (measure == 8.0).any()
    share_drawn = (measure[:30] == 8.0).mean()
    assert share_drawn > (measure == 8.0).mean()  # over-represented in the sample
    weights = design.audit_weights(30)
    heavy = [weights[i] for i, m in zip(design.audit_order[:30], measure[:30]) if m == 1.0]
    light = [weights[i] for i, m in zip(design.audit_order[:30], measure[:30]) if m == 8.0]
    if heavy and light:
        assert min(heavy) > max(light)
    assert summary["audit_weighted"] and summary["n_audited"] == 30


def test_person_time_is_stated_at_its_seconds_per_answer(survey, capsys):
    from scripts.cli import main

    assert person_time_line(100, 400, seconds_per_image=6) == \
        "person-time: 100 detections x 3 s + 400 images x 6 s = about 45 min"
    assert main(["review", str(survey), "--oracle", "truth", "--n-verify", "4", "--n-audit", "10",
                 "--seconds-per-image", "12"]) in (0, None)
    out = capsys.readouterr().out
    assert "person-time: 4 detections x 3 s + 10 images x 12 s = about 2 min" in out


def test_plan_review_states_the_reviews_size_and_person_time():
    from scripts.review.sampling import planned_review
    from scripts.survey.plan import plan_to_text

    n_verify, n_audit = planned_review(4000, 100, recall=0.5)
    assert n_verify == 97 and n_audit == min(62 * 20, 600)  # 62 cameras at 0.05 per drawn image, capped at 15%
    assert planned_review(4000, 2000, recall=0.8)[1] < 100
    row = {"label": "systematic 20 m", "images": 4000, "cost_usd": 0.0, "fetch_s": 10.0, "detect_s": 100.0,
           "strip_m": {"directed": 20.0, "dome": 14.0}, "ci_half_width_pct": 25.0, "road_km": 20.0,
           "estimate": 100.0, "command": "camcensus survey ..."}
    plan = {"area": "demo", "designs": [row], "target_ci_pct": 30.0, "density_per_km": 5.0,
            "provider": {"name": "simulated", "price_per_1000_usd": 0.0}, "timing": {"detect_s_per_image": 0.1},
            "calibration": "card", "review": True, "recommended": {**row, "meets_target": True}}
    text = plan_to_text(plan)
    assert "then review it: camcensus review DIR (about 97 detections to verify and 600 images to audit)" in text
    assert "person-time: 97 detections x 3 s + 600 images x 8 s = about 85 min" in text
    assert "then review it" not in plan_to_text({**plan, "review": False})


def test_the_surveys_own_fit_is_the_audits_prior_when_the_estimate_made_one(survey):
    import json

    from scripts.review.calibration import own_fit_level

    oracle_review(survey, n_verify=5, n_audit=20)
    assert own_fit_level(survey) is None  # no estimate yet
    fit = {"level_logit": -4.0, "level_lo": -4.4, "level_hi": -3.6, "informative": True}
    (survey / "report.json").write_text(json.dumps({"calibration": {"source": "card"}, "self_calibration": fit}))
    own = own_fit_level(survey)
    assert own.level == -4.0 and own.sd == pytest.approx(0.8 / 3.919928, rel=1e-4) and own.camera_sd == 1.7
    (survey / "report.json").write_text(json.dumps({"calibration": {"source": "card"}, "self_calibration": {
        **fit, "camera_logit_sd": 0.25}}))  # a level under another per-camera SD: handed over with its SD
    assert own_fit_level(survey).camera_sd == 0.25
    (survey / "report.json").write_text(json.dumps({"calibration": {"source": "card"}, "self_calibration": fit}))
    with_fit = calibration_from_review(survey, prior=card_prior(0.95))
    # the fit's -4 under the per-camera effect moves a flat 0.95 curve to about 0.61 per view: the audit's scale
    # (a plain logit shift of the per-view curve) says about -2.5 for that
    assert with_fit["recall_level_prior"]["fit_level"] == -4.0
    assert -3.0 < with_fit["recall_level_prior"]["mean"] < -2.0
    without = calibration_updated({**with_fit, "recall_bins": with_fit["recall_bins"]}, None)  # no prior: as measured
    assert without["recall_from"] == "audit"
    # the tight own fit pulls the level towards -4 more than the weak default prior does
    (survey / "report.json").write_text(json.dumps({"calibration": {"source": "card"}, "self_calibration": {
        **fit, "informative": False}}))
    default = calibration_from_review(survey, prior=card_prior(0.95))
    assert "recall_level_prior" not in default
    assert with_fit["recall_level_shift"] < default["recall_level_shift"] - 0.3
    # a report whose estimate already used a review: its fit is relative to that review, not the card
    (survey / "report.json").write_text(json.dumps({"calibration": {"source": "review"}, "self_calibration": fit}))
    assert own_fit_level(survey) is None


def test_bad_review_options_are_one_line_errors(survey, capsys):
    from scripts.cli import main

    assert main(["review", str(survey), "--oracle", "truth", "--seconds-per-image", "0"]) == 2
    assert main(["review", str(survey), "--oracle", "truth", "--target", "1.5"]) == 2
    err = capsys.readouterr().err
    assert "--seconds-per-image must be a positive" in err and "--target must be in (0, 1)" in err
    from scripts.review.store import AnswerStore

    assert AnswerStore.of_survey(survey).rows() == []  # nothing answered


def test_the_encounter_limit_says_when_the_target_is_out_of_reach():
    """A survey's encounter (which cameras it happened to find) has a CV no review removes: h02's
    card estimate (CV 0.456, 74% of its variance from the encounter, 9 located cameras) cannot
    reach ±20% whatever the review measures (issue 26)."""
    from scripts.review.sampling import (cv_of_half_width, encounter_limit, half_width_of_cv,
                                         sample_size_for_relative_half_width)

    assert cv_of_half_width(half_width_of_cv(0.3)) == pytest.approx(0.3)
    assert half_width_of_cv(0.1016) == pytest.approx(0.20, abs=0.002)
    small = encounter_limit(0.456, 0.743, 9, target=0.2)
    assert small.encounter_cv == pytest.approx(0.393, abs=0.001) and not small.reachable
    assert small.half_width == pytest.approx(0.81, abs=0.01)  # ±81% even with precision and recall exact
    assert small.located_needed == pytest.approx(135, abs=3) and small.scale_needed == pytest.approx(15, abs=0.5)
    assert small.sizing_half_width == pytest.approx(1.96 * 0.393 * 0.5 ** 0.5, abs=0.005)
    # the audit sized for what is reachable: far fewer audited cameras than ±20% asks for
    assert sample_size_for_relative_half_width(small.sizing_half_width, p=0.2) < \
        sample_size_for_relative_half_width(0.2, p=0.2) / 5
    assert encounter_limit(1.5, 1.0, 8).sizing_half_width == 0.9  # t06: CV 1.5, never sized beyond ±90%
    big = encounter_limit(0.08, 0.6, 800, target=0.2)
    assert big.reachable and big.sizing_half_width == 0.2
    edge = encounter_limit(0.1027, 1.0, 26, target=0.2)  # d10: ±20.2% from the encounter alone, at the target
    assert edge.half_width > 0.2 and edge.reachable and edge.sizing_half_width == 0.2
    assert encounter_limit(0.125, 1.0, 26, target=0.2).reachable is False  # ±25%
    assert encounter_limit(None, 0.5, 10) is None and encounter_limit(0.3, 0.5, 0) is None


def test_a_review_of_a_small_survey_is_sized_for_what_it_can_reach_and_says_so(survey, capsys):
    """With a last estimate whose encounter alone is wider than ±20%, the review's audit is sized
    for the reachable half-width (stored in the design; verification stays at the target), and
    the CLI says ±20% is out of reach, how many located cameras it would need and what to do
    (issue 26)."""
    import json

    from scripts.cli import main

    (survey / "report.json").write_text(json.dumps({"calibration": {"source": "card"}, "total": {
        "est_cv": 0.456, "variance_share": {"encounter": 0.743, "precision": 0.25, "recall": 0.007},
        "n_cameras": 9}}))
    assert main(["review", str(survey), "--oracle", "truth"]) in (0, None)
    out = capsys.readouterr().out
    design = read_design(survey)
    assert design.sizing_half_width == pytest.approx(0.545, abs=0.005) and design.target_half_width == 0.2
    assert design.n_verify == min(97, len(design.verify_order))
    from scripts.review.sampling import cameras_needed
    assert cameras_needed(design, recall=0.2) == 52  # at ±20%: 385
    assert "note: ±20% is out of reach for this survey" in out and "±81%" in out
    assert "at least about 135 located cameras: a survey about 15x as large" in out
    assert "The audit is sized for ±54% instead" in out


def test_a_review_without_a_last_estimate_is_sized_for_the_target(survey, capsys):
    from scripts.cli import main

    assert main(["review", str(survey), "--oracle", "truth", "--n-audit", "10"]) in (0, None)
    assert "out of reach" not in capsys.readouterr().out
    design = read_design(survey)
    assert design.sizing_half_width is None and design.sizing == 0.2 and design.n_verify == min(
        97, len(design.verify_order))


def test_plan_review_says_what_the_encounter_leaves_and_when_the_target_is_out_of_reach():
    """plan --review: the encounter's limit for the recommended design at the card's recall and
    where the detector finds less (a lower recall finds fewer cameras: wider); a note when the
    target is out of reach, with the located cameras it needs (issue 26)."""
    import shapely
    import geopandas as gpd

    from geo.counting.planning import Design, plan_area_from_frames
    from scripts.review.sampling import plan_reach_lines, review_reach_for_plan
    from scripts.survey.plan import plan_to_text

    x0, y0 = 385_000.0, 6_672_000.0
    street = gpd.GeoDataFrame({"street_id": [0]}, geometry=[shapely.LineString([(x0, y0), (x0, y0 + 2000.0)])],
                              crs="EPSG:32635")
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 2000, 400)
    x = np.where(rng.random(400) < 0.5, -1.0, 1.0) * rng.uniform(2.0, 20.0, 400)
    area = plan_area_from_frames(street, np.column_stack([x0 + x, y0 + y]),
                                 np.where(rng.random(400) < 0.5, "dome", "directed"))
    card = calibration_from_dict(card_prior(0.8))
    reach = review_reach_for_plan(area, Design(spacing_m=20.0), card, density_per_km=5.0, target=0.2)
    assert 0.2 < reach["unseen_recall_ratio"] < 0.7
    assert reach["unseen"]["located"] < reach["card"]["located"]
    assert reach["unseen"]["half_width"] > reach["card"]["half_width"]
    lines = plan_reach_lines(reach)
    assert lines[0].startswith("the encounter (which cameras a survey of this size happens to find) leaves a review")
    assert any(line.startswith("note: ±20% is out of reach for this design") for line in lines)
    assert "located cameras, a survey about" in lines[-1]
    row = {"label": "systematic 20 m", "images": 200, "cost_usd": 0.0, "fetch_s": 10.0, "detect_s": 100.0,
           "strip_m": {"directed": 20.0, "dome": 14.0}, "ci_half_width_pct": 45.0, "road_km": 2.0,
           "estimate": 10.0, "command": "camcensus survey ..."}
    plan = {"area": "demo", "designs": [row], "target_ci_pct": 20.0, "density_per_km": 5.0,
            "provider": {"name": "simulated", "price_per_1000_usd": 0.0}, "timing": {"detect_s_per_image": 0.1},
            "calibration": "card", "review": True, "recommended": {**row, "meets_target": False},
            "review_reach": reach}
    assert lines[-1] in plan_to_text(plan)
    assert "out of reach" not in plan_to_text({**plan, "review_reach": None})
    wide = review_reach_for_plan(area, Design(spacing_m=20.0), card, density_per_km=5.0, target=2.0)
    assert not any("out of reach" in line for line in plan_reach_lines(wide))  # ±200%: reachable


def test_the_own_fits_level_reaches_the_audit_as_the_per_view_recall_it_means():
    """A fit's level moves a camera's logit under the per-camera effect; the audit moves the per-view
    curve's logit. The prior the audit gets must say the per-view recall the fit says, whatever its SD."""
    from scipy.special import expit, logit

    from geo.counting.recapture import shifted_rates
    from scripts.review.calibration import OwnFitLevel, audit_scale_prior

    prior = calibration_from_dict({**card_prior(), "recall_bins": {
        "edges_px": EDGES_PX, "n": [400] * 8, "found": [40, 100, 160, 240, 300, 340, 360, 380]}})
    card = prior.recall_bins()
    n = np.array([0, 0, 40, 40, 40, 0, 0, 0], float)
    for camera_sd in (0.0, 1.0, 1.7):
        own = OwnFitLevel(level=-3.0, sd=0.5, camera_sd=camera_sd)
        mean, sd = audit_scale_prior(own, prior, np.array(EDGES_PX, float), n)
        fit_rates = shifted_rates(card, -3.0, sd=camera_sd)[2:5]
        audit_rates = expit(logit(card[2:5]) + mean)
        # where the audit has cameras its prior's per-view recall is the fit's, to within a few points
        assert np.all(np.abs(audit_rates - fit_rates) < 0.04)
        if camera_sd == 0.0:
            assert mean == pytest.approx(-3.0, abs=0.02) and sd == pytest.approx(0.5, abs=0.02)
        else:  # the camera effect damps the per-view shift: the audit's shift and its SD are smaller
            assert -3.0 < mean < -1.5 and sd < 0.5
    tight = audit_scale_prior(OwnFitLevel(level=-3.0, sd=0.5, camera_sd=1.7), prior, np.array(EDGES_PX, float), n)
    loose = audit_scale_prior(OwnFitLevel(level=-3.0, sd=0.5, camera_sd=0.75), prior, np.array(EDGES_PX, float), n)
    assert tight[0] > loose[0]  # a larger SD damps more


def test_the_slope_update_follows_an_audit_whose_curve_is_flatter_than_the_cards():
    """Imagery the detector never saw can lose recall unevenly over box sizes: "slope" lets the audit
    tilt the prior's curve where it has cameras (and only there); an audit of the card's own shape
    leaves the tilt near 0."""
    prior = calibration_from_dict({**card_prior(), "recall_bins": {
        "edges_px": EDGES_PX, "n": [400] * 8, "found": [40, 200, 300, 360, 388, 392, 392, 392]}})
    card = prior.recall_bins()
    n = np.array([0, 60, 60, 60, 60, 0, 0, 0], float)
    flat = {"edges_px": EDGES_PX, "n": n.tolist(), "found": (n * 0.3).tolist()}  # 0.3 at 6-24 px
    level, _ = recall_bins_updated(flat, prior, mode="level")
    tilted, _ = recall_bins_updated(flat, prior, mode="slope")
    level_rates, tilted_rates = np.array(level["shifted_rates"]), np.array(tilted["shifted_rates"])
    assert tilted["slope_per_octave"] < -0.5
    seen = n > 0
    # the tilted curve is nearer the audit's 0.3 in every bin the audit saw than the one-level curve
    assert np.all(np.abs(tilted_rates[seen] - 0.3) <= np.abs(level_rates[seen] - 0.3) + 1e-6)
    assert abs(tilted_rates[4] - 0.3) < 0.1 and level_rates[4] > 0.45
    # beyond the sizes the audit saw the tilt stops: the larger bins are the prior's curve moved as its last bin was
    from scipy.special import logit

    offset = logit(tilted_rates) - logit(np.clip(card, 0.005, 0.995))
    np.testing.assert_allclose(offset[5:], offset[4], atol=0.01)
    assert offset[1] > offset[4] + 1.0  # within them it tilts
    # and the handed-over counts hold the tilted curve as the estimator reads it
    handed = calibration_from_dict({**card_prior(), "source": "review", "recall_bins": {
        k: tilted[k] for k in ("edges_px", "n", "found", "cameras")}})
    np.testing.assert_allclose(handed.recall_bins(), tilted_rates, rtol=0.05, atol=2e-3)
    # an audit of the card's own shape at a lower level: the tilt stays near 0 and the level is the level mode's
    from scipy.special import expit

    same = {"edges_px": EDGES_PX, "n": n.tolist(), "found": (n * expit(logit(card) - 2.0)).tolist()}
    a, da = recall_bins_updated(same, prior, mode="level")
    b, db = recall_bins_updated(same, prior, mode="slope")
    assert abs(b["slope_per_octave"]) < 0.25 and abs(db - da) < 0.3
