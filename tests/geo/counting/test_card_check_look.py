"""The card check's look test (geo.counting.card_check.look_test, issue 26): a survey whose images
look like the card's held-out images passes, one shifted on a statistic or with a share of images
far outside the held-out range is flagged, and without a look table or a reference the test is
skipped. The reference is the card's ``calibration.look`` dict (the format ``detector.look``
writes), built here by hand from tiny generated tables."""

from dataclasses import replace

import numpy as np
import pandas as pd

from geo.counting.card_check import calibration_checked, look_test, read_look_table
from tests.geo.counting.test_card_check import _line_survey
from tests.geo.counting.test_recapture import card

SPREAD = {"noise": (0.5, 0.2), "detail": (0.5, 0.1), "blockiness": (1.13, 0.12), "cast_rb": (-0.09, 0.15),
          "haze": (88.0, 15.0)}


def table(n: int, *, seed: int, shift: dict | None = None) -> pd.DataFrame:
    """``n`` images' look statistics drawn around the held-out set's (``shift``: statistic -> SDs)."""
    rng = np.random.default_rng(seed)
    cols = {k: m + s * (rng.normal(size=n) + (shift or {}).get(k, 0.0)) for k, (m, s) in SPREAD.items()}
    return pd.DataFrame({"image_id": [f"i{k}" for k in range(n)], **cols})


def reference(t: pd.DataFrame) -> dict:
    """The card's ``calibration.look`` of held-out images ``t`` (as detector.look.look_reference)."""
    stats = {}
    for k in SPREAD:
        q = np.quantile(t[k], [0.005, 0.25, 0.5, 0.75, 0.995])
        stats[k] = {"median": q[2], "sd": (q[3] - q[1]) / 1.349, "q005": q[0], "q995": q[4]}
    return {"version": 1, "n_images": len(t), "source": "test", "statistics": stats}


REF = reference(table(1000, seed=0))


def test_the_same_look_passes():
    for seed in (1, 2, 3):
        out = look_test(table(300, seed=seed), REF)
        assert out["fits"] is True and out["p_value"] > 0.01
        assert out["share_outside"] < 0.1 and set(out["statistics"]) == set(SPREAD)


def test_a_small_shift_within_the_tolerance_passes_even_on_a_large_survey():
    # half a reference SD on one statistic (an area's own content): not a different look
    out = look_test(table(5000, seed=4, shift={"haze": 0.5}), REF)
    assert out["fits"] is True


def test_a_shifted_look_is_flagged_and_named():
    out = look_test(table(100, seed=5, shift={"detail": -2.5}), REF)
    assert out["fits"] is False and out["p_value"] < 1e-6
    assert out["worst_statistic"] == "detail" and out["statistics"]["detail"]["z"] < -2.0


def test_a_mixture_moves_few_medians_but_the_tails_flag_it():
    same, odd = table(240, seed=6), table(60, seed=7, shift={"noise": 30.0})  # a fifth of the images very noisy
    out = look_test(pd.concat([same, odd], ignore_index=True), REF)
    assert abs(out["statistics"]["noise"]["z"]) < 1.0  # the median hardly moves
    assert out["fits"] is False and out["p_tails"] < 1e-6 and out["statistics"]["noise"]["share_outside"] > 0.15


def test_jpeg_blocking_has_its_own_tolerance():
    # ordinary JPEG (the held-out set is saved at quality 95, surveys at 72-92): ~3 SDs, passes
    assert look_test(table(300, seed=8, shift={"blockiness": 3.0}), REF)["fits"] is True
    assert look_test(table(300, seed=8, shift={"blockiness": 8.0}), REF)["fits"] is False


def test_skipped_without_a_table_a_reference_or_enough_images():
    assert look_test(None, REF) is None
    assert look_test(table(100, seed=9), None) is None
    assert look_test(table(100, seed=9), {"statistics": {}}) is None
    assert look_test(table(10, seed=9, shift={"detail": -5.0}), REF) is None
    assert look_test(table(100, seed=9).rename(columns={k: k + "_x" for k in SPREAD}), REF) is None


def test_read_look_table(tmp_path):
    assert read_look_table(tmp_path) is None
    table(30, seed=10).to_parquet(tmp_path / "look.parquet")
    assert len(read_look_table(tmp_path)) == 30
    (tmp_path / "look.parquet").write_bytes(b"not parquet")
    assert read_look_table(tmp_path) is None


def test_a_failing_look_flags_the_survey_and_the_warning_says_why():
    cams, images, dets, crs = _line_survey(40, seed=1)
    cams = cams[cams["n_views"] > 0].reset_index(drop=True)
    with_look = replace(card(), extra={**(card().extra or {}), "look": REF})
    _, before = calibration_checked(with_look, cameras=cams, detections=dets, images=images, crs=crs)
    assert "look" not in before["card_check"]["tests"]  # no look table: skipped, the check as it was
    _, same = calibration_checked(with_look, cameras=cams, detections=dets, images=images, crs=crs,
                                  look_table=table(200, seed=11))
    assert same["card_check"]["tests"]["look"]["fits"] is True
    assert same["card_check"]["fits"] == before["card_check"]["fits"]
    notes: list[str] = []
    _, shifted = calibration_checked(with_look, cameras=cams, detections=dets, images=images, crs=crs, notes=notes,
                                     look_table=table(200, seed=12, shift={"detail": -3.0}))
    assert shifted["card_check"]["fits"] is False and shifted["provisional"]
    assert "does not look like the detector's held-out data" in shifted["warning"]
    assert "detail" in shifted["warning"] and "camcensus review" in shifted["warning"]
    assert notes == [shifted["warning"]]
    # a card without a look reference (older cards): skipped
    _, old = calibration_checked(card(), cameras=cams, detections=dets, images=images, crs=crs,
                                 look_table=table(200, seed=12, shift={"detail": -3.0}))
    assert "look" not in old["card_check"]["tests"] and old["card_check"]["fits"] == before["card_check"]["fits"]


def test_the_summary_line_names_the_look():
    from geo.counting.card_check import card_check_line

    look = look_test(table(100, seed=13, shift={"detail": -3.0}), REF)
    line = card_check_line({"card_check": {"fits": False, "tests": {"look": look}}})
    assert line.startswith("does not fit (imagery unlike the card's held-out images)")
    assert "imagery" not in card_check_line({"card_check": {"fits": True, "tests": {}}})


def test_missing_values_and_the_worst_statistic():
    t = table(100, seed=14, shift={"cast_rb": 0.6})
    t["noise"] = np.nan  # a statistic the survey could not compute: left out
    out = look_test(t, REF)
    assert "noise" not in out["statistics"] and out["fits"] is True
    assert out["worst_statistic"] == "cast_rb"  # all pass: the largest shift over its tolerance


def test_a_flagged_survey_centres_on_the_median_and_spans_an_unknown_level(monkeypatch):
    """The flagged path's centre: a small survey flagged by its look alone has recall unknown and
    gets the median level with calibrations at the level's quantiles for the interval
    (``UNKNOWN_ENVELOPE``; switched off: the harmonic mean, ``UNKNOWN_CENTRE``); a larger one
    measures its level and gets the median (``FLAGGED_CENTRE``), no envelope."""
    import geo.counting.card_check as card_check_module

    centres = []

    def spy(*args, **kwargs):
        centres.append(kwargs.get("centre"))
        return card_check_module.recapture.calibration_from_fit(*args, **kwargs)

    monkeypatch.setattr(card_check_module, "calibration_from_fit", spy)
    # the measured survey's per-camera SD as the card's (vis8's SD envelope, where the histories cannot tell the SD,
    # adds calibrations of its own: test_spread.py)
    monkeypatch.setattr(card_check_module, "UNTOLD_SD_FROM_POSTERIOR", False)
    with_look = replace(card(), extra={**(card().extra or {}), "look": REF})
    checks = []
    for n in (8, 20):
        cams, images, dets, crs = _line_survey(n, seed=1)
        cams = cams[cams["n_views"] > 0].reset_index(drop=True)
        cal, check = calibration_checked(with_look, cameras=cams, detections=dets, images=images, crs=crs,
                                         look_table=table(200, seed=12, shift={"detail": -3.0}))
        assert check["card_check"]["fits"] is False and cal.source == "survey"
        checks.append(check)
    assert "self_calibration_prior_only" in checks[0] and "self_calibration_prior_only" not in checks[1]
    assert centres == ["median", "median"]
    assert set(checks[0]["envelope_calibrations"]) == {"high", "low"} and "envelope_calibrations" not in checks[1]
    said = checks[0]["self_calibration_prior_only"]["level_envelope"]
    assert said["quantiles"] == [0.025, 0.5, 0.975] and said["level_logit"][0] < said["level_logit"][2]
    monkeypatch.setattr(card_check_module, "UNKNOWN_ENVELOPE", None)
    cams, images, dets, crs = _line_survey(8, seed=1)
    cams = cams[cams["n_views"] > 0].reset_index(drop=True)
    _, check = calibration_checked(with_look, cameras=cams, detections=dets, images=images, crs=crs,
                                   look_table=table(200, seed=12, shift={"detail": -3.0}))
    assert centres[-1] == "harmonic" and "envelope_calibrations" not in check
    assert (card_check_module.UNKNOWN_CENTRE, card_check_module.FLAGGED_CENTRE) == ("harmonic", "median")
