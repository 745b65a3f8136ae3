"""The card check (geo.counting.card_check): a survey with a lower recall than the card is
flagged, a survey like the card's data is not, a tiny one is too small to tell; the policy hands
the estimate the survey's own recall only when the card does not fit."""

import numpy as np
import pytest
import pandas as pd

from geo.counting.card_check import calibration_checked, card_check, repeat_share_test
from geo.counting.recapture import simulated_histories
from tests.geo.counting.test_recapture import card, synthetic_pairs


def survey(level: float, *, n: int = 1500, views=(2, 6), seed: int = 0):
    cls, pairs = synthetic_pairs(n, views_per_camera=views, seed=seed)
    return simulated_histories(cls, pairs, cal=card(), level=level, seed=seed + 1)


def test_lower_recall_than_the_card_is_flagged():
    check, fit = card_check(survey(-2.5, seed=10), card())
    assert check["fits"] is False
    assert check["tests"]["recapture"]["p_value"] < 1e-3
    assert check["tests"]["recapture"]["observed_repeat"] < check["tests"]["recapture"]["expected_repeat"]
    assert check["recall_ratio_hi"] < 0.8
    assert check["recall_ratio_lo"] <= check["recall_ratio"] <= check["recall_ratio_hi"]


def test_a_survey_like_the_cards_data_fits():
    fits = [card_check(survey(0.0, seed=20 + k), card())[0]["fits"] for k in range(3)]
    assert fits == [True, True, True]


def test_too_small_to_tell_gives_null():
    check, _ = card_check(survey(-2.5, n=12, views=(1, 2), seed=30), card())
    assert check["fits"] is None


def test_repeat_share_matches_simulation_at_the_card():
    h = survey(0.0, seed=40)
    test = repeat_share_test(h, card())
    assert abs(test["observed_repeat"] - test["expected_repeat"]) < 3.5 * test["sd"]


def _line_survey(n_cameras: int, *, seed: int):
    """A straight east-west street in UTM 35N (metres), views every 5 m on both sides, cameras
    4-8 m off the street; returns (cameras, images, detections, crs) with every camera seen by each
    view that faces it within 15 m (a detector much better than the card)."""
    from pyproj import Transformer

    crs = "EPSG:32635"
    rng = np.random.default_rng(seed)
    to_ll = Transformer.from_crs(crs, 4326, always_xy=True)
    vx = np.arange(0.0, 600.0, 5.0)
    rows, img = [], 0
    for x in vx:
        for heading in (0.0, 180.0):  # north and south (left / right of an east-west street)
            lon, lat = to_ll.transform(500000.0 + x, 6700000.0)
            rows.append({"image_id": f"i{img}", "view_id": img, "point_id": int(x // 5), "lon": lon, "lat": lat,
                         "heading": heading, "fov": 90.0, "pitch": 0.0, "width": 640, "height": 640, "status": "ok",
                         "x": x, "side": 1 if heading == 0 else -1})
            img += 1
    images = pd.DataFrame(rows)
    cx = rng.uniform(20, 580, n_cameras)
    cy = rng.choice([-1.0, 1.0], n_cameras) * rng.uniform(4, 8, n_cameras)
    cams, dets = [], []
    for i, (x, y) in enumerate(zip(cx, cy)):
        seen = images[(images["side"] == np.sign(y)) & (np.abs(images["x"] - x) < abs(y))]["image_id"].tolist()
        seen = seen[:3] if seen else []
        lon, lat = to_ll.transform(500000.0 + x, 6700000.0 + y)
        cams.append({"camera_id": i, "lon": lon, "lat": lat, "class_name": "directed", "image_ids": seen,
                     "n_views": len(seen), "n_detections": len(seen), "conf_max": 0.85})
        dets += [{"image_id": s, "conf": 0.85} for s in seen]
    return pd.DataFrame(cams), images.drop(columns=["x", "side"]), pd.DataFrame(dets), crs


def test_policy_keeps_the_card_when_it_fits_and_reports_it():
    cams, images, dets, crs = _line_survey(40, seed=1)
    cams = cams[cams["n_views"] > 0].reset_index(drop=True)
    notes: list[str] = []
    cal, checks = calibration_checked(card(), cameras=cams, detections=dets, images=images, crs=crs, notes=notes)
    check = checks["card_check"]
    assert set(check) >= {"fits", "recall_ratio", "recall_ratio_lo", "recall_ratio_hi", "tests"}
    assert check["tests"]["recapture"]["observed_repeat"] > 0
    assert check["candidate_views_median"] >= 1.0  # the design's repeat measurements of recall per camera (dense6)
    # every camera seen in 2-3 views at 4-8 m: more repeats than the card predicts, not fewer
    assert check["recall_ratio"] > 1.0
    if check["fits"] is False:
        assert cal.source == "survey" and checks["provisional"] and any("camcensus review" in n for n in notes)
    else:
        assert cal.source == "card" and not checks["provisional"]


def test_a_flagged_survey_uses_its_own_fit_or_keeps_the_card_where_asked(monkeypatch):
    import geo.counting.card_check as card_check_module

    cams, images, dets, crs = _line_survey(80, seed=2)
    # a detector far worse than the card: keep only each camera's first view
    cams = cams[cams["n_views"] > 0].reset_index(drop=True)
    cams["image_ids"] = [ids[:1] for ids in cams["image_ids"]]
    cams["n_views"] = cams["n_detections"] = 1
    dets = pd.DataFrame({"image_id": [ids[0] for ids in cams["image_ids"]], "conf": 0.85})
    notes: list[str] = []
    # no camera seen twice: the likelihood peaks at its floor, recall unknown below its ceiling (FLOOR_UNKNOWN) ...
    _, floor = calibration_checked(card(), cameras=cams, detections=dets, images=images, crs=crs)
    assert floor["self_calibration_prior_only"]["likelihood_peak"] == "floor" and "level_envelope" in \
        floor["self_calibration_prior_only"]
    # ... and without it (main's session-9 path, what the rest of this test pins) the fit under the card's prior
    monkeypatch.setattr(card_check_module, "FLOOR_UNKNOWN", False)
    cal, checks = calibration_checked(card(), cameras=cams, detections=dets, images=images, crs=crs, notes=notes)
    assert checks["card_check"]["fits"] is False
    assert checks["card_check"]["recall_ratio_hi"] < 1.0
    assert cal.source == "survey" and checks["self_calibration_used"] and checks["provisional"]
    assert cal.recall_bins()[-3] < card().recall_bins()[-3]
    assert len(notes) == 1 and "camcensus review" in notes[0] and "survey's own recall" in notes[0]
    # the estimate's recall is the posterior's median (FLAGGED_CENTRE: the count's point is then about its posterior
    # median), handed over as it is
    centres = []

    def spy(*args, **kwargs):
        centres.append(kwargs.get("centre"))
        return card_check_module.recapture.calibration_from_fit(*args, **kwargs)

    monkeypatch.setattr(card_check_module, "calibration_from_fit", spy)
    cal_m, _ = calibration_checked(card(), cameras=cams, detections=dets, images=images, crs=crs)
    monkeypatch.setattr(card_check_module, "FLAGGED_CENTRE", "harmonic")
    cal_h, _ = calibration_checked(card(), cameras=cams, detections=dets, images=images, crs=crs)
    monkeypatch.undo()
    assert centres == ["median", "harmonic"] and card_check_module.FLAGGED_CENTRE == "median"
    monkeypatch.setattr(card_check_module, "FLOOR_UNKNOWN", False)
    np.testing.assert_allclose(cal_m.recall_bins(), cal.recall_bins())
    assert not np.allclose(cal_h.recall_bins(), cal.recall_bins(), rtol=1e-3)
    # no camera seen twice: the likelihood peaks at the grid's floor, only the card's prior holds the level
    assert "N(0, 2^2)" in checks["self_calibration"]["prior"]
    # a few seen twice: the flagged fit is read under the wider prior (the card was just rejected)
    full, _images, _dets, _crs = _line_survey(80, seed=2)
    full = full[full["n_views"] > 0].reset_index(drop=True)
    some = cams.copy()
    twice = np.flatnonzero(full["n_views"].to_numpy() >= 2)[::6]
    some.loc[twice, "image_ids"] = pd.Series([full.loc[i, "image_ids"][:2] for i in twice], index=twice)
    some.loc[twice, "n_views"] = some.loc[twice, "n_detections"] = 2
    cal1, checks1 = calibration_checked(card(), cameras=some, detections=dets, images=images, crs=crs)
    assert checks1["card_check"]["fits"] is False and "N(0, 4^2)" in checks1["self_calibration"]["prior"]
    monkeypatch.setattr(card_check_module, "FLAGGED_PRIOR_SD", card_check_module.PRIOR_SD)
    cal2, checks2 = calibration_checked(card(), cameras=some, detections=dets, images=images, crs=crs)
    assert checks2["card_check"]["fits"] is False and "N(0, 2^2)" in checks2["self_calibration"]["prior"]
    assert checks1["card_check"]["recall_ratio"] < checks2["card_check"]["recall_ratio"]
    # whether the repeat views measure the level is judged against the card's prior either way
    assert checks1["self_calibration"]["informative"] == checks2["self_calibration"]["informative"]
    monkeypatch.undo()
    monkeypatch.setattr(card_check_module, "FLOOR_UNKNOWN", False)
    # the card is kept where asked (USE_OWN_FIT_WHEN_FLAGGED off): provisional, and the warning says so
    monkeypatch.setattr(card_check_module, "USE_OWN_FIT_WHEN_FLAGGED", False)
    notes = []
    cal, checks = calibration_checked(card(), cameras=cams, detections=dets, images=images, crs=crs, notes=notes)
    assert checks["provisional"] and not checks["self_calibration_used"]
    assert cal.source == card().source and np.allclose(cal.recall_bins(), card().recall_bins())
    assert len(notes) == 1 and "card's recall, likely too high" in notes[0]


def test_the_warning_reaches_the_summary_and_the_map(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    from geo.counting.card_check import card_check_line
    from geo.outputs.mapview import banner_from_report, write_map_html

    report = {"provisional": True, "card_check": {"fits": False, "recall_ratio": 0.3, "recall_ratio_lo": 0.1,
                                                  "recall_ratio_hi": 0.6, "warning": "the card does not fit; run "
                                                  "`camcensus review`"},
              "self_calibration": {"used": True}}
    assert "does not fit" in card_check_line(report) and "0.30x" in card_check_line(report)
    assert card_check_line({"total": {}}) is None
    banner = banner_from_report(report)
    assert banner.startswith("Provisional estimate") and "camcensus review" in banner
    assert banner_from_report({"provisional": False, "card_check": {"fits": True}}) == ""
    areas = gpd.GeoDataFrame({"area_id": ["a"], "name": ["a"], "per_road_km": [1.0]},
                             geometry=[box(24.9, 60.1, 24.95, 60.2)], crs=4326)
    page = write_map_html(areas, tmp_path / "map.html", banner=banner).read_text()
    assert 'id="banner"' in page and "camcensus review" in page
    assert 'id="banner"' not in write_map_html(areas, tmp_path / "plain.html").read_text()


def test_too_small_to_tell_keeps_the_card_or_widens_it_and_says_so(monkeypatch):
    cams, images, dets, crs = _line_survey(6, seed=4)
    cams = cams[cams["n_views"] >= 2].reset_index(drop=True).iloc[:2]  # two cameras, each seen twice: real
    cams["image_ids"] = [ids[:2] for ids in cams["image_ids"]]
    cams["n_views"] = cams["n_detections"] = 2
    dets = pd.DataFrame({"image_id": [i for ids in cams["image_ids"] for i in ids], "conf": 0.85})
    notes: list[str] = []
    cal, checks = calibration_checked(card(), cameras=cams, detections=dets, images=images, crs=crs, notes=notes)
    assert checks["card_check"]["fits"] is None and not checks["provisional"] and cal.source == "card"
    assert len(notes) == 1 and "too few repeat views" in notes[0] and "camcensus review" in notes[0]
    # unverified: the note says how far off the count could be if the card does not carry
    check = checks["card_check"]
    assert checks["unverified"] and 0 < check["recall_ratio_floor"] < 1
    assert check["count_factor_if_not_carried"] == pytest.approx(1 / check["recall_ratio_floor"], rel=0.01)
    assert f"{check['count_factor_if_not_carried']:.1f}x" in notes[0]
    from geo.counting.card_check import card_check_line

    line = card_check_line({"card_check": check})
    assert line.startswith("unverified") and f"up to {check['count_factor_if_not_carried']:.1f}x" in line
    monkeypatch.setattr("geo.counting.card_check.UNVERIFIED_POSTERIOR", True)
    notes = []
    cal, checks = calibration_checked(card(), cameras=cams, detections=dets, images=images, crs=crs, notes=notes)
    assert checks["card_check"]["fits"] is None and checks["unverified"] and not checks["provisional"]
    assert cal.source == "survey" and len(notes) == 1 and "too few cameras seen twice" in notes[0]
    # the card is the prior: the recall's spread is far wider than the card's own, its centre about the card's
    from geo.counting.calibration import calibration_summary

    own, base = calibration_summary(cal), calibration_summary(card())
    assert own["recall_hi"] - own["recall_lo"] > 2 * (base["recall_hi"] - base["recall_lo"])
    assert abs(own["recall"] - base["recall"]) < 0.15
    assert checks["card_check"]["recall_ratio_hi"] / checks["card_check"]["recall_ratio_lo"] > 2


def test_unsure_detections_with_no_camera_to_measure_flag_the_card():
    cams, images, dets, crs = _line_survey(3, seed=6)
    cams = cams.iloc[:0]  # nothing located
    conf = np.r_[np.full(30, 0.58), np.full(10, 0.65), np.full(2, 0.75)]  # unsure, unlike the card's 0.28 low share
    notes: list[str] = []
    cal, checks = calibration_checked(card(), cameras=cams, detections=pd.DataFrame({"image_id": "i0", "conf": conf}),
                                      images=images, crs=crs, notes=notes)
    assert checks["card_check"]["fits"] is False and checks["provisional"] and cal.source == "card"
    assert checks["card_check"]["tests"]["confidence"]["p_low"] < 0.02
    assert len(notes) == 1 and "camcensus review" in notes[0]


def test_a_large_survey_is_tested_on_a_sample_of_its_cameras(monkeypatch):
    """Beyond MAX_TEST_CAMERAS the recapture test runs on a seeded sample (speed at 1M
    detections): the verdicts stay, the sample's size is reported."""
    low, card_like = survey(-2.5, seed=10), survey(0.0, seed=20)
    monkeypatch.setattr("geo.counting.card_check.MAX_TEST_CAMERAS", 400)
    check, _ = card_check(low, card())
    assert check["fits"] is False and check["tests"]["recapture"]["n_cameras_tested"] == 400
    assert check["tests"]["recapture"]["p_value"] < 0.005
    check, _ = card_check(card_like, card())
    assert check["fits"] is True and check["tests"]["recapture"]["n_cameras_tested"] == 400


def test_the_wider_flagged_prior_only_where_the_likelihood_peaks_inside_the_grid():
    """A likelihood that peaks at the grid's floor (no camera seen twice where several were
    expected) is bounded only by the prior: the card's prior is kept there."""
    from geo.counting.card_check import bounded_below
    from geo.counting.recapture import LEVEL_GRID, RecallFit

    def fit_with(peak: float) -> RecallFit:
        ll = -0.5 * (LEVEL_GRID - peak) ** 2
        return RecallFit(level=peak, level_lo=peak - 1, level_hi=peak + 1, recall_ratio=0.3, recall_ratio_lo=0.1,
                         recall_ratio_hi=0.6, n_cameras=50, n_repeat=2, n_pairs=200, lr_p=1e-4, informative=False,
                         grid=LEVEL_GRID, posterior=np.ones_like(LEVEL_GRID) / len(LEVEL_GRID), loglik=ll,
                         ratio_curve=np.linspace(0.01, 1.5, len(LEVEL_GRID)))

    assert bounded_below(fit_with(-5.0))
    assert not bounded_below(fit_with(-12.0))  # monotone on the grid: peaks at its floor


def test_a_large_survey_builds_histories_only_for_the_sampled_cameras(monkeypatch):
    """Beyond MAX_TEST_CAMERAS usable cameras only the fit's and the test's seeded samples get
    capture histories (speed at 1M detections): the samples, the tests and the fit are those of
    the full histories; the reported pair counts are scaled from the sample."""
    import geo.counting.card_check as card_check_module
    from geo.counting import recapture

    cams, images, dets, crs = _line_survey(300, seed=7)
    cams = cams[cams["n_views"] > 0].reset_index(drop=True)
    monkeypatch.setattr(card_check_module, "MAX_TEST_CAMERAS", 60)
    monkeypatch.setattr(recapture, "MAX_FIT_CAMERAS", 25)
    _, sampled = calibration_checked(card(), cameras=cams, detections=dets, images=images, crs=crs)
    monkeypatch.setattr(card_check_module, "sampled_histories",
                        lambda *a, samples, **k: recapture.histories_from_tables(*a, **k))
    _, full = calibration_checked(card(), cameras=cams, detections=dets, images=images, crs=crs)
    s, f = sampled["card_check"], full["card_check"]
    assert 60 <= s["n_cameras_with_histories"] <= 85 < len(cams) and "n_cameras_with_histories" not in f
    assert s["tests"] == f["tests"] and s["tests"]["recapture"]["n_cameras_tested"] == 60
    assert {k: s[k] for k in ("fits", "recall_ratio", "recall_ratio_lo", "n_cameras")} == \
        {k: f[k] for k in ("fits", "recall_ratio", "recall_ratio_lo", "n_cameras")}
    a, b = sampled["self_calibration"], full["self_calibration"]
    assert a["n_pairs"] != b["n_pairs"] and abs(a["n_pairs"] / b["n_pairs"] - 1) < 0.15
    assert {k: v for k, v in a.items() if k != "n_pairs"} == {k: v for k, v in b.items() if k != "n_pairs"}


def test_recall_unknown_spans_the_level_with_calibrations_at_its_quantiles():
    from geo.counting.card_check import level_envelope
    from geo.counting.recapture import fit_level, prior_only

    unknown = prior_only(fit_level(survey(-3.0, n=300, views=(1, 2), seed=5), card()))
    said, cals = level_envelope(card(), unknown, quantiles=(0.025, 0.975))
    assert said["quantiles"] == [0.025, 0.5, 0.975]
    lo_level, mid, hi_level = said["level_logit"]
    assert -6.0 < lo_level < mid < hi_level <= 0.0 and mid == pytest.approx(-3.0, abs=0.1)
    assert said["recall_ratio"][0] < said["recall_ratio"][1] < said["recall_ratio"][2] <= 1.0
    big = card().size_edges[:-1] >= 12
    assert np.all(cals["high"].recall_bins()[big] > cals["low"].recall_bins()[big] * 2)
    assert cals["high"].extra["self_level_logit"] == pytest.approx(hi_level, abs=1e-3)


def test_a_flagged_fit_peaked_at_its_floor_is_recall_unknown_below_the_likelihoods_ceiling(monkeypatch):
    """Repeat views that say "low, but not how low" (the likelihood peaks at the grid's floor): the
    estimate spans the level (``level_envelope``) below the highest level the likelihood allows,
    instead of a level the card's prior holds up (FLOOR_UNKNOWN False: main's session-9 path)."""
    import geo.counting.card_check as card_check_module
    from geo.counting.card_check import bounded_below
    from geo.counting.recapture import fit_level, likelihood_ceiling

    h = survey(-5.0, n=300, views=(2, 4), seed=3)
    fit = fit_level(h, card())
    assert not bounded_below(fit) and fit.informative  # "measured" under the card's prior
    monkeypatch.setattr(card_check_module, "sampled_histories", lambda *a, **k: h)
    empty = pd.DataFrame()

    def checked():
        return calibration_checked(card(), cameras=empty, detections=empty, images=empty, crs="EPSG:32635")[1]

    checks = checked()
    said = checks["self_calibration_prior_only"]
    ceiling = likelihood_ceiling(fit)
    assert checks["card_check"]["fits"] is False and said["likelihood_peak"] == "floor"
    assert -6.0 < ceiling < -4.0 and "without telling how low" in checks["warning"]
    lo, mid, hi = said["level_envelope"]["level_logit"]
    assert fit.grid[0] <= lo < mid < hi <= ceiling
    assert set(checks["envelope_calibrations"]) == {"high", "low"}
    monkeypatch.setattr(card_check_module, "FLOOR_UNKNOWN", False)
    monkeypatch.setattr(card_check_module, "UNTOLD_SD_FROM_POSTERIOR", False)  # main's session-9 path in full (the SD's
    old = checked()  # envelope, where the histories cannot tell the SD, is test_spread.py's)
    assert "self_calibration_prior_only" not in old and "envelope_calibrations" not in old
