"""scripts/validation/validate_estimator.py: the replicates' systematic grid follows the sampler."""

import numpy as np
import pandas as pd

from scripts.validation.validate_estimator import systematic_ranks


def test_systematic_replicates_keep_the_samplers_points_on_short_streets():
    # a dense 10 m grid on a 25 m and a 100 m street, cut to a 40 m design many times
    lengths = pd.Series({1: 25.0, 2: 100.0})
    offsets = {1: [2.0, 12.0, 22.0], 2: [4.0 + 10 * k for k in range(10)]}
    points = pd.DataFrame([{"street_id": s, "offset_m": o} for s, offs in offsets.items() for o in offs])
    rng = np.random.default_rng(0)
    first_long = []
    for _ in range(200):
        keep = systematic_ranks(points, lengths, spacing=40.0, rng=rng)
        kept = points[keep]
        counts = kept.groupby("street_id").size()
        # floor(L / 40) + 1 points per street: the short street is never left bare
        assert counts.get(1, 0) == 1 and counts.get(2, 0) == 3
        long_offsets = np.sort(kept.loc[kept["street_id"] == 2, "offset_m"].to_numpy())
        assert (np.abs(np.diff(long_offsets) - 40.0) <= 10.0).all()  # within one dense step
        first_long.append(long_offsets[0])
    # the start is uniform over the slack (20 m): the dense points nearest it all come up
    assert {4.0, 14.0} <= set(np.round(first_long)) <= {4.0, 14.0, 24.0}


def test_card_error_models_false_boxes_are_sized_as_the_detectors():
    # the shipped model's false detections in the rendered surveys: median 15.3 px, 5% under 8.4 px
    import dataclasses

    from scripts.validation.validate_estimator import detections_from_card, error_model_from_card

    model = error_model_from_card()
    model = dataclasses.replace(model, false_rate=np.full(len(model.false_rate), 0.5))
    boxes = pd.DataFrame(columns=["image_id", "camera_id", "class_name", "x1", "y1", "x2", "y2"])
    images = pd.DataFrame({"image_id": [str(i) for i in range(1000)], "status": "ok", "width": 640, "height": 640})
    det = detections_from_card(boxes, images, model, seed=1)
    size = np.sqrt((det["x2"] - det["x1"]) * (det["y2"] - det["y1"])).to_numpy()
    assert (~det["real"]).all() and len(det) > 2000
    assert 14.0 < np.median(size) < 16.5 and np.percentile(size, 5) > 7.5


def test_a_replicates_recall_level_is_one_draw_of_the_cards_transfer():
    """The truth-only replicates draw the survey's recall level as the estimator's interval carries
    it (``Calibration.recall_level_sd``): every bin's logit moved by one N(0, sd^2) draw, the card's
    Beta draws unchanged, and the calibration handed to the estimator states the same SD."""
    from scipy.special import logit

    from geo.counting.calibration import RECALL_TRANSFER_LOGIT_SD, calibration_from_dict
    from scripts.validation.validate_estimator import error_model_from_card

    cal = {"source": "card", "conf_threshold": 0.5,
           "precision_bins": {"edges": [0.5, 0.75, 1.0], "n": [50, 100], "real": [40, 99]},
           "recall_bins": {"edges_px": [0, 6, 8, 12, 100000], "n": [100, 100, 100, 100],
                           "found": [8, 44, 77, 95]},
           "false_bins": {"edges": [0.5, 0.75, 1.0], "false": [10, 3], "n_images": 3000}, "n_images": 3000}
    shifts = []
    for seed in range(40):
        none = error_model_from_card(calibration=cal, rng=np.random.default_rng(seed), transfer_sd=0.0)
        moved = error_model_from_card(calibration=cal, rng=np.random.default_rng(seed), transfer_sd=0.8)
        diff = logit(moved.recall) - logit(none.recall)
        assert np.ptp(diff) < 1e-9  # one shift for every bin
        assert np.allclose(moved.false_rate, none.false_rate)
        shifts.append(diff[0])
    assert 0.55 < np.std(shifts) < 1.1 and abs(np.mean(shifts)) < 0.4
    assert calibration_from_dict(moved.calibration).recall_level_sd() == 0.8
    # by default the card's own (the measured figure), and the point model (no rng) is not moved
    default = error_model_from_card(calibration=cal)
    assert calibration_from_dict(default.calibration).recall_level_sd() == RECALL_TRANSFER_LOGIT_SD
    assert np.allclose(default.recall, calibration_from_dict(cal).recall_bins())


def test_a_replicates_false_rate_is_one_draw_of_the_cards_false_rate_transfer():
    """The truth-only replicates draw the survey's false rate as the estimator's prior states it
    (``Calibration.false_prior``: the card's Gamma widened by ``false_level_sd``): one log-normal
    factor, mean 1, common to every confidence bin (issue 27)."""
    from geo.counting.calibration import FALSE_TRANSFER_LOG_SD, calibration_from_dict
    from scripts.validation.validate_estimator import error_model_from_card

    cal = {"source": "card", "conf_threshold": 0.5,
           "precision_bins": {"edges": [0.5, 0.75, 1.0], "n": [50, 100], "real": [40, 99]},
           "recall_bins": {"edges_px": [0, 100000], "n": [100], "found": [60]},
           "false_bins": {"edges": [0.5, 0.75, 1.0], "false": [1000, 400], "n_images": 3000}, "n_images": 3000}
    ratios = []
    for seed in range(300):
        none = error_model_from_card(calibration=cal, rng=np.random.default_rng(seed), false_transfer_sd=0.0)
        moved = error_model_from_card(calibration=cal, rng=np.random.default_rng(seed), false_transfer_sd=0.5)
        r = moved.false_rate / none.false_rate
        assert np.ptp(r) < 1e-9  # one factor for every bin (the Gamma draws are the same)
        ratios.append(r[0])
    assert 0.42 < np.std(np.log(ratios)) < 0.58 and abs(np.mean(ratios) - 1.0) < 0.08
    assert calibration_from_dict(moved.calibration).false_level_sd() == 0.5
    assert calibration_from_dict(cal).false_level_sd() == FALSE_TRANSFER_LOG_SD  # the card's by default
    # the point model (no rng) is not moved
    assert np.allclose(error_model_from_card(calibration=cal).false_rate, calibration_from_dict(cal).false_rates())
