"""geo.counting.calibration: the shared calibration dict -> precision by confidence, recall by size, with
their Beta posteriors."""

import numpy as np
import pytest

from geo.counting.calibration import (NOMINAL_N, PRIOR_STRENGTH, calibration_from_dict, calibration_from_rates,
                             calibration_summary, conf_bin, recall_at, size_centres)
from geo.errors import GeoInputError


def card(**over):
    data = {"source": "card", "conf_threshold": 0.25,
            "precision_bins": {"edges": [0.25, 0.5, 0.75, 1.0], "n": [100, 100, 100], "real": [40, 70, 90]},
            "recall_bins": {"edges_px": [0, 6, 8, 12, 16, 24, 32, 64, 100000],
                            "n": [50, 50, 50, 50, 50, 50, 20, 5], "found": [2, 10, 20, 30, 40, 45, 18, 5]},
            "n_images": 500}
    data.update(over)
    return data


def test_beta_posteriors_are_jeffreys_shrunk_to_the_pooled_rate():
    cal = calibration_from_dict(card())
    a, b = cal.precision_beta()
    pooled = (200 + 0.5) / (300 + 1)
    assert a == pytest.approx(np.array([40, 70, 90]) + 0.5 + PRIOR_STRENGTH * pooled)
    assert b == pytest.approx(np.array([60, 30, 10]) + 0.5 + PRIOR_STRENGTH * (1 - pooled))
    assert cal.precision_bins() == pytest.approx(a / (a + b))  # already monotone: unchanged


def test_curves_are_made_monotone_by_pooling_violators():
    cal = calibration_from_dict(card(precision_bins={"edges": [0.25, 0.5, 0.75, 1.0], "n": [100, 100, 100],
                                                     "real": [60, 40, 90]}))
    p = cal.precision_bins()
    assert np.all(np.diff(p) >= -1e-12)
    assert p[0] == pytest.approx(p[1])  # the violating pair pooled
    assert p[0] == pytest.approx(0.5, abs=0.01)


def test_precision_follows_confidence_bins():
    curves = calibration_from_dict(card()).curves()
    got = curves.precision_at(np.array([0.1, 0.3, 0.6, 0.8, 1.0]))
    assert got[0] == got[1]  # below the threshold: the first bin
    assert got[1] < got[2] < got[3] and got[3] == got[4]  # 1.0 falls in the last bin
    assert conf_bin(np.array([0.25, 0.5, 0.99]), np.array([0.25, 0.5, 0.75, 1.0])).tolist() == [0, 1, 2]


def test_recall_interpolates_in_log_size_between_bin_centres():
    edges = np.array([0, 6, 8, 12, 16, 24, 32, 64, 100000.0])
    rates = np.array([0.0, 0.2, 0.4, 0.6, 0.7, 0.8, 0.85, 0.9])
    centres = size_centres(edges)
    assert centres[1] == pytest.approx(np.sqrt(48))
    assert recall_at(centres, edges, rates) == pytest.approx(rates)
    mid = np.sqrt(centres[1] * centres[2])  # halfway in log size
    assert recall_at(np.array([mid]), edges, rates)[0] == pytest.approx(0.3)
    assert recall_at(np.array([1.0, 1e6]), edges, rates).tolist() == pytest.approx([0.0, 0.9])
    draws = np.stack([rates, rates * 0.5])
    assert recall_at(centres, edges, draws).shape == (2, 8)


def test_scalar_rates_become_a_flat_calibration_of_nominal_size():
    data = calibration_from_rates(0.8, 0.6)
    cal = calibration_from_dict(data)
    assert cal.prec_n.sum() == NOMINAL_N and data["assumed_n"] == NOMINAL_N
    curves = cal.curves()
    assert curves.precision_at(np.array([0.3, 0.99])) == pytest.approx([0.8, 0.8], abs=0.005)
    assert curves.recall_at(np.array([3.0, 50.0])) == pytest.approx([0.6, 0.6], abs=0.005)
    with pytest.raises(GeoInputError, match="precision"):
        calibration_from_rates(0.0, 0.5)


def test_summary_intervals_shrink_with_the_counts():
    small = calibration_summary(calibration_from_dict(calibration_from_rates(0.7, 0.6, n=40)))
    large = calibration_summary(calibration_from_dict(calibration_from_rates(0.7, 0.6, n=400)))
    for s in (small, large):
        assert s["precision_lo"] < 0.7 < s["precision_hi"] and s["recall_lo"] < 0.6 < s["recall_hi"]
    assert (small["precision_hi"] - small["precision_lo"]) > 2.5 * (large["precision_hi"] - large["precision_lo"])
    assert small["n_verified"] == 40 and large["n_audited"] == 400


def test_summary_weights_precision_by_the_surveys_confidences():
    cal = calibration_from_dict(card())
    low = calibration_summary(cal, conf=np.full(50, 0.3))
    high = calibration_summary(cal, conf=np.full(50, 0.9))
    assert low["precision"] == pytest.approx(cal.precision_bins()[0])
    assert high["precision"] == pytest.approx(cal.precision_bins()[2])
    assert low["source"] == "card" and len(low["recall_by_size"]["recall"]) == 8


@pytest.mark.parametrize("change, message", [
    ({"precision_bins": {"edges": [0.25, 1.0], "n": [10, 10], "real": [1, 1]}}, "counts"),
    ({"precision_bins": {"edges": [0.25, 1.0], "n": [10], "real": [11]}}, "hits <= n"),
    ({"recall_bins": {"edges_px": [0, 8, 4], "n": [1, 1], "found": [0, 0]}}, "increase"),
    ({"recall_bins": None}, "lacks"),
])
def test_malformed_calibrations_are_one_clear_error(change, message):
    with pytest.raises(GeoInputError, match=message):
        calibration_from_dict(card(**change))
    with pytest.raises(GeoInputError, match="dict"):
        calibration_from_dict([1, 2])


def test_a_review_of_the_surveys_own_detections_gets_the_finite_population_correction():
    review = calibration_from_dict(card(source="review", precision_bins={
        "edges": [0.25, 0.5, 1.0], "n": [10, 5], "real": [4, 4], "population": [10, 20]}))
    assert review.sampled_survey()
    assert review.precision_fpc(np.array([99, 99])) == pytest.approx([0.0, 0.75])  # the stated population wins
    older = calibration_from_dict(card(source="review", precision_bins={"edges": [0.25, 0.5, 1.0], "n": [10, 5],
                                                                        "real": [4, 4]}))
    assert older.precision_fpc(np.array([40, 5])) == pytest.approx([0.75, 0.0])  # else the survey's own counts
    held_out = calibration_from_dict(card())
    assert not held_out.sampled_survey() and held_out.precision_fpc(np.array([1, 1, 1])).tolist() == [1, 1, 1]
    with pytest.raises(GeoInputError, match="population"):
        calibration_from_dict(card(precision_bins={"edges": [0.25, 1.0], "n": [10], "real": [4], "population": [5]}))


def test_false_bins_give_a_gamma_rate_per_image():
    cal = calibration_from_dict(card(false_bins={"edges": [0.25, 0.5, 0.75, 1.0], "false": [60, 30, 10],
                                                 "n_images": 500}))
    assert cal.uses_false_rate() and not cal.false_derived
    shape, rate = cal.false_rate_gamma()
    assert shape == pytest.approx(np.array([60, 30, 10]) + 0.5 / 3) and rate == pytest.approx([500, 500, 500])
    assert cal.false_rates().sum() == pytest.approx(100.5 / 500)  # Jeffreys on the total


def test_old_cards_derive_false_bins_from_their_precision_counts():
    cal = calibration_from_dict(card())  # no false_bins: false = n - real on the same 500 images
    assert cal.uses_false_rate() and cal.false_derived
    assert cal.false_n == pytest.approx([60, 30, 10]) and cal.false_images == 500
    none = calibration_from_dict(card(n_images=0))  # no image count: no rate (the estimator warns)
    assert none.false_n is None and not none.uses_false_rate()
    scalar = calibration_from_dict(calibration_from_rates(0.8, 0.6))
    assert not scalar.uses_false_rate()
    review = calibration_from_dict(card(source="review"))  # a review measures the survey's own precision
    assert not review.uses_false_rate()


@pytest.mark.parametrize("false_bins, message", [
    ({"edges": [0.25, 0.6, 1.0], "false": [1, 2], "n_images": 5}, "edges must be precision_bins"),
    ({"edges": [0.25, 0.5, 0.75, 1.0], "false": [1, 2], "n_images": 5}, "need 3"),
    ({"edges": [0.25, 0.5, 0.75, 1.0], "false": [1, 2, 3], "n_images": 0}, "n_images"),
    ({"edges": [0.25, 0.5, 0.75, 1.0]}, "lacks"),
])
def test_malformed_false_bins_are_one_clear_error(false_bins, message):
    with pytest.raises(GeoInputError, match=message):
        calibration_from_dict(card(false_bins=false_bins))


def test_recall_is_uncertain_by_camera_not_by_box():
    from geo.counting.calibration import RECALL_BOXES_PER_CAMERA, calibration_from_dict

    base = {"source": "card", "conf_threshold": 0.25,
            "precision_bins": {"edges": [0.25, 1.0], "n": [100], "real": [80]},
            "recall_bins": {"edges_px": [0.0, 12.0, 100000.0], "n": [200, 200], "found": [60, 150]}, "n_images": 500}
    boxes = calibration_from_dict({**base, "recall_bins": {**base["recall_bins"], "cameras": 400}})  # one box each
    default = calibration_from_dict(base)
    assert boxes.boxes_per_camera == 1.0 and default.boxes_per_camera == RECALL_BOXES_PER_CAMERA

    def sd(cal):
        a, b = cal.recall_beta()
        return np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))

    ratio = sd(default) / sd(boxes)
    assert (ratio > 1.05).all() and (ratio < np.sqrt(RECALL_BOXES_PER_CAMERA)).all()  # 1 < deff < m
    assert default.recall_bins() == pytest.approx(boxes.recall_bins(), abs=0.01)  # the same rates


def test_a_cards_recall_transfers_to_a_survey_with_its_stated_or_the_measured_logit_sd():
    from geo.counting.calibration import RECALL_TRANSFER_LOGIT_SD

    assert calibration_from_dict(card()).recall_level_sd() == RECALL_TRANSFER_LOGIT_SD
    assert calibration_from_dict(card(recall_transfer_sd=0.7)).recall_level_sd() == 0.7
    assert calibration_from_dict(card(recall_transfer_sd=0)).recall_level_sd() == 0.0
    # a review measures the survey itself, and a survey's own fit (source "survey") too: nothing transfers
    assert calibration_from_dict(card(source="review")).recall_level_sd() == 0.0
    assert calibration_from_dict(card(source="review", recall_transfer_sd=0.7)).recall_level_sd() == 0.0
    assert calibration_from_dict(calibration_from_rates(0.9, 0.7)).recall_level_sd() == 0.0
    from dataclasses import replace

    assert replace(calibration_from_dict(card()), source="survey").recall_level_sd() == 0.0
    summary = calibration_summary(calibration_from_dict(card(recall_transfer_sd=0.5)))
    assert summary["recall_transfer_sd"] == 0.5
    for bad in (-0.1, "wide", 9.0):
        with pytest.raises(GeoInputError, match="recall_transfer_sd"):
            calibration_from_dict(card(recall_transfer_sd=bad))


def test_the_transfer_variance_is_the_delta_method_of_one_logit_shift_of_every_bin():
    from scipy.special import expit, logit

    from geo.counting.calibration import transfer_variance

    recall = np.array([0.1, 0.45, 0.8, 0.95])
    weight = np.array([40.0, 25.0, 10.0, 30.0])  # a total of cameras seen at each bin's recall: sum w / r

    def total(u):
        return float(np.sum(weight / expit(logit(recall) + u)))

    slopes = -weight / recall ** 2  # d total / d r_b
    sd = 0.4
    var = float(transfer_variance(slopes, recall, sd))
    h = 1e-5
    assert np.sqrt(var) == pytest.approx(abs(total(h) - total(-h)) / (2 * h) * sd, rel=1e-6)
    # per area: a leading axis
    both = transfer_variance(np.stack([slopes, 2 * slopes]), recall, sd)
    assert both == pytest.approx([var, 4 * var])
    assert transfer_variance(slopes, recall, 0.0) == 0.0
    # a bin at recall 0 or 1 does not move
    assert transfer_variance(np.array([5.0, 0.0]), np.array([1.0, 0.5]), sd) == 0.0
