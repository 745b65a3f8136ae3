"""The per-camera spread on a flagged survey (issue 26): the recapture fit reads the logit SD with
the level where the capture histories tell it (``recapture.fit_spread``), keeps the card's where
they do not, and the SD reaches the estimate only through ``Calibration.camera_sd``."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from geo.counting.calibration import recall_design_effect
from geo.counting.card_check import own_spread
from geo.counting.design import Design, inclusion_by_distance
from geo.counting.estimate import cv_of_interval, strip_by_class
from geo.counting.heterogeneity import CAMERA_LOGIT_SD
from geo.counting.recapture import (calibration_at_level, calibration_from_fit, drawn_histories, fit_level,
                                    fit_spread)
from tests.geo.counting.test_recapture import card

SDS = (0.0, 0.5, 1.0, 1.7, 2.2)


def histories(n_cameras: int, views: int, *, sd: float, level: float = -1.5, seed: int = 0):
    """Found cameras' histories drawn at a known SD: ``views`` candidate views each at 4-30 m."""
    rng = np.random.default_rng(seed)
    cam = np.repeat(np.arange(n_cameras), views)
    size = 0.46 * 320.0 / rng.uniform(4.0, 30.0, len(cam))
    return drawn_histories(cam, size, np.ones(len(cam)), n_cameras, cal=card(), level=level, rng=rng, sd=sd)


def test_many_views_per_camera_recover_a_small_spread_and_reject_the_cards():
    h = histories(400, 8, sd=0.5, seed=1)
    spread = fit_spread(h, card(), sds=SDS)
    assert spread.identified and spread.lr_p < 0.01
    assert spread.chosen <= 1.0 and spread.lo <= 0.5 <= spread.hi
    assert spread.fit().camera_sd == spread.chosen
    assert spread.posterior.argmax() == list(spread.sds).index(spread.best)


def test_data_at_the_cards_spread_keep_it():
    h = histories(400, 8, sd=CAMERA_LOGIT_SD, seed=2)
    spread = fit_spread(h, card(), sds=SDS)
    assert not spread.identified and spread.chosen == CAMERA_LOGIT_SD
    assert 1.0 <= spread.best <= 2.2
    assert spread.lo > 0.5  # and a small spread is ruled out


def test_two_views_per_camera_cannot_tell_the_spread():
    """The 10 m development surveys: 2-3 candidate views per camera, recall a tenth of the card's or
    less, a few dozen cameras found: the profile is flat."""
    h = histories(300, 2, sd=0.5, level=-3.0, seed=3)
    assert 30 <= h.n_cameras <= 120
    spread = fit_spread(h, card(), sds=SDS)
    assert not spread.identified and spread.chosen == CAMERA_LOGIT_SD
    assert spread.lo == 0.0 and spread.hi == 2.2
    assert spread.to_dict()["note"].startswith("the survey's repeat views cannot tell")


def test_own_spread_changes_a_flagged_fit_only_where_the_histories_tell(monkeypatch):
    import geo.counting.card_check as card_check_module

    monkeypatch.setattr(card_check_module, "UNTOLD_SD_FROM_POSTERIOR", False)  # the card's SD where untold
    cal = card()
    thin, rich = histories(300, 2, sd=0.5, level=-3.0, seed=3), histories(400, 8, sd=0.5, seed=1)
    for h, moves in ((thin, False), (rich, True)):
        fit = fit_level(h, cal)
        checks = {"self_calibration": fit.to_dict()}
        used = own_spread(h, cal, fit, checks)
        assert "camera_sd_fit" in checks["self_calibration"]
        assert (used is fit) == (not moves)
        assert checks["self_calibration"]["camera_logit_sd"] == used.camera_sd
        assert calibration_from_fit(cal, used, h, centre="median").camera_sd == used.camera_sd
    assert used.camera_sd < CAMERA_LOGIT_SD and used.informative == fit.informative
    monkeypatch.setattr(card_check_module, "UNTOLD_SD", 0.25)  # the policy option: a held-out SD where untold
    fit = fit_level(thin, cal)
    checks = {"self_calibration": fit.to_dict()}
    used = own_spread(thin, cal, fit, checks)
    assert used.camera_sd == 0.25 and checks["self_calibration"]["camera_sd_fit"]["chosen"] == 0.25
    assert not checks["self_calibration"]["camera_sd_fit"]["identified"]
    assert used.level > fit.level  # less spread: the same repeats read a higher recall


def test_the_posterior_median_sd_takes_the_place_of_the_cards_where_the_histories_cannot_tell():
    """vis8 (issue 26): a flagged survey's card lends its SD no more than its recall; where the survey's own
    profile is flat (10 m designs) the SD is its posterior median, not the card's 1.7."""
    cal = card()
    thin = histories(300, 2, sd=0.5, level=-3.0, seed=3)
    fit = fit_level(thin, cal)
    spread = fit_spread(thin, cal, card_sd=fit.camera_sd, card_fit=fit)
    assert not spread.identified
    cum = np.cumsum(spread.posterior)
    k = list(spread.sds).index(spread.median())
    assert cum[k] >= 0.5 and (k == 0 or cum[k - 1] < 0.5)  # the median, and not a grid point later
    assert 0.25 <= spread.median() <= 1.3  # a flat profile over the grid: the grid's middle, below the card's
    checks = {"self_calibration": fit.to_dict()}
    used = own_spread(thin, cal, fit, checks)  # the default policy
    assert used.camera_sd == spread.median() and used is not fit
    got = checks["self_calibration"]["camera_sd_fit"]
    assert got["chosen"] == used.camera_sd and not got["identified"] and "posterior" in got["note"]
    assert used.level > fit.level  # less spread than the card's: the same repeats read a higher recall
    assert used.informative == fit.informative and used.n_pairs == fit.n_pairs
    # the interval spans the SD they cannot tell: the fits at the SD posterior's 2.5% and 97.5% quantiles
    env = got["sd_envelope"]
    assert env["quantiles"] == [0.025, 0.975] and len(env["sds_within"]) >= 3
    assert min(env["sds_within"]) <= used.camera_sd <= max(env["sds_within"])
    counts = env["found_weighted"]
    assert counts[f"{env['fewest_at']:g}"] == min(counts.values()) < max(counts.values()) == counts[f"{env['most_at']:g}"]
    ends = checks["_sd_envelope_fits"]
    assert ends["fewest"].camera_sd == env["fewest_at"] and ends["most"].camera_sd == env["most_at"]
    assert env["fewest_at"] < env["most_at"]  # here: less spread reads more recall, and finds the cameras likelier
    rich = histories(400, 8, sd=0.5, seed=1)  # where the histories tell, they decide as before
    fit = fit_level(rich, cal)
    assert own_spread(rich, cal, fit, {"self_calibration": fit.to_dict()}).camera_sd == \
        fit_spread(rich, cal, card_sd=fit.camera_sd, card_fit=fit).chosen


def test_the_calibration_carries_the_sd_and_defaults_to_the_cards():
    cal = card()
    assert cal.camera_sd == CAMERA_LOGIT_SD
    fit = fit_level(histories(100, 3, sd=1.0, seed=4), cal, sd=0.5)
    assert fit.camera_sd == 0.5 and fit.to_dict()["camera_logit_sd"] == 0.5
    assert calibration_from_fit(cal, fit).camera_sd == 0.5
    assert calibration_at_level(cal, -1.0).camera_sd == CAMERA_LOGIT_SD
    assert calibration_at_level(replace(cal, camera_sd=0.25), -1.0).camera_sd == 0.25
    a, b = np.array([30.0, 5.0]), np.array([10.0, 30.0])
    assert np.array_equal(recall_design_effect((a, b), boxes_per_camera=2.0),
                          recall_design_effect((a, b), boxes_per_camera=2.0, sd=CAMERA_LOGIT_SD))
    assert np.all(recall_design_effect((a, b), boxes_per_camera=2.0, sd=0.0) == 1.0)


def test_the_strip_and_inclusion_follow_the_calibrations_sd():
    cal, design = card(), Design(method="systematic", spacing_m=10.0, sides="both")
    d, pi = inclusion_by_distance(design, cal)
    assert np.array_equal(pi, inclusion_by_distance(design, cal.curves(), camera_sd=CAMERA_LOGIT_SD)[1])
    _, pi_small = inclusion_by_distance(design, replace(cal, camera_sd=0.25))
    assert pi_small.max() > pi.max() + 0.005  # less spread: a camera near the street is found more often
    assert strip_by_class("auto", design=design, calibration=cal)[0] == \
        strip_by_class("auto", design=design, calibration=cal.curves(), camera_sd=CAMERA_LOGIT_SD)[0]


def test_est_cv_follows_a_widened_interval_and_keeps_the_encounters_variance():
    table = pd.DataFrame({"est_cameras": [100.0, 50.0, 0.0], "est_lo": [20.0, 0.0, 0.0], "est_hi": [900.0, 400.0, 3.0],
                          "est_cv": [0.2, 0.3, np.nan], "var_share_encounter": [0.5, 0.6, np.nan],
                          "var_share_precision": [0.1, 0.1, np.nan], "var_share_recall": [0.4, 0.3, np.nan]})
    out = cv_of_interval(table)
    sigma = np.log(900.0 / 20.0) / (2 * 1.959964)
    assert out["est_cv"][0] == pytest.approx(np.sqrt(np.expm1(sigma ** 2)), rel=1e-5)
    assert out["est_cv"][1] > 0.3 and np.isnan(out["est_cv"][2])
    enc = table["var_share_encounter"] * table["est_cv"] ** 2  # the encounter's variance (relative) is unchanged
    assert np.allclose((out["var_share_encounter"] * out["est_cv"] ** 2)[:2], enc[:2])
    shares = out[["var_share_encounter", "var_share_precision", "var_share_recall"]].sum(axis=1)
    assert np.allclose(shares[:2], 1.0)
    narrow = table.assign(est_lo=[90.0, 45.0, 0.0], est_hi=[110.0, 55.0, 3.0])
    assert np.array_equal(cv_of_interval(narrow)["est_cv"][:2], table["est_cv"][:2])  # never below its own CV


def test_candidate_views_counts_useful_views_of_likely_real_cameras():
    from geo.counting.card_check import candidate_views
    from geo.counting.recapture import CaptureHistories

    cam = np.array([0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 3])
    size = np.array([10.0, 9.0, 4.0, 12.0, 12.0, 12.0, 12.0, 12.0, 3.0, 20.0, 20.0, 30.0])
    other = np.ones(len(cam))
    other[3] = 0.0  # a view that cannot see the camera
    h = CaptureHistories(cam, size, other, np.zeros(len(cam), bool), np.array([1.0, 0.9, 0.2, 0.6, 1.0]), 5)
    # camera 0: 2 useful views, 1: 4, 2: likely false (left out), 3: 1, 4: no view (left out)
    assert candidate_views(h) == 2.0
    assert candidate_views(h, min_px=0.0) == 3.0
    assert candidate_views(CaptureHistories(cam, size * 0.1, other, np.zeros(len(cam), bool), np.ones(5), 5)) is None
