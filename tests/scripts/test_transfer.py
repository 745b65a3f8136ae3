"""scripts.validation.transfer: a set's recall level against the card's, and its spread between sets."""

import numpy as np
import pandas as pd
import pytest

from scripts.validation.transfer import (cluster_shift, effective_counts, glmm, moments, set_counts, set_shifts,
                                         shift_fit)


def sets_with_levels(levels, *, n_per_bin=(60, 60, 60), base=(-1.5, 0.0, 1.5), seed=0):
    """Per set, boxes in three size bins (5, 7 and 10 px) found with logit base_b + level_s, one
    box per camera (no design effect)."""
    rng = np.random.default_rng(seed)
    frames = {}
    for s, level in enumerate(levels):
        rows = []
        for size, n, c in zip((5.0, 7.0, 10.0), n_per_bin, base):
            found = rng.random(n) < 1 / (1 + np.exp(-(c + level)))
            rows.append(pd.DataFrame({"size_px": size, "found": found,
                                      "camera_id": [f"{s}-{size}-{i}" for i in range(n)]}))
        frames[f"s{s}"] = pd.concat(rows, ignore_index=True)
    return frames


def test_a_sets_shift_of_the_cards_rates_is_found_with_its_standard_error():
    ref = 1 / (1 + np.exp(-np.array([-1.5, 0.0, 1.5])))
    n = np.array([4000.0, 4000.0, 4000.0])
    k = n / (1 + np.exp(-(np.log(ref / (1 - ref)) - 0.6)))
    d, se = shift_fit(n, k, ref)
    assert d == pytest.approx(-0.6, abs=1e-6)
    p = 1 / (1 + np.exp(-(np.log(ref / (1 - ref)) + d)))
    assert se == pytest.approx(1 / np.sqrt(np.sum(n * p * (1 - p))))


def test_the_spread_between_sets_is_recovered_by_moments_and_by_the_glmm():
    rng = np.random.default_rng(5)
    tau, mu = 0.6, -0.3
    levels = mu + tau * rng.standard_normal(60)
    eff = effective_counts(set_counts(sets_with_levels(levels, seed=6), {}))
    assert np.allclose(eff["deff"], 1.0)  # one box per camera: no design effect
    ref = 1 / (1 + np.exp(-np.array([-1.5, 0.0, 1.5, 1.5, 1.5, 1.5, 1.5, 1.5])))
    shifts = set_shifts(eff, ref)
    m = moments(shifts["d"].to_numpy(), shifts["se"].to_numpy())
    assert m["mean"] == pytest.approx(mu, abs=0.2) and m["tau"] == pytest.approx(tau, abs=0.2)
    assert m["rms_about_card"] == pytest.approx(np.hypot(mu, tau), abs=0.2)
    fit = glmm(eff)
    assert fit["tau"] == pytest.approx(tau, abs=0.2) and fit["tau_lo"] < tau < fit["tau_hi"]
    # sets that differ only by sampling: no spread to find
    same = effective_counts(set_counts(sets_with_levels(np.zeros(30), seed=7), {}))
    flat = set_shifts(same, ref)
    assert moments(flat["d"].to_numpy(), flat["se"].to_numpy())["tau"] < 0.2


def test_a_cameras_repeated_boxes_widen_the_cluster_robust_standard_error():
    ref = np.array([0.1, 0.4, 0.8, 0.95, 0.95, 0.95, 0.95, 0.95])
    one = sets_with_levels([0.3], seed=3)["s0"]
    d1, se1 = cluster_shift(one, ref)
    # every box repeated three times on its camera: the same shift, and the robust SE stays that of the cameras
    # (the independent-box SE would fall by sqrt(3))
    thrice = pd.concat([one] * 3, ignore_index=True)
    d3, se3 = cluster_shift(thrice, ref)
    assert d3 == pytest.approx(d1, abs=1e-9)
    assert se3 == pytest.approx(se1, rel=1e-9)
    b = np.clip(np.searchsorted([0, 6, 8, 12, 16, 24, 32, 64, 1e5], one["size_px"], side="right") - 1, 0, 7)
    _, se_model = shift_fit(np.ones(len(one)), one["found"].astype(float).to_numpy(), ref[b])
    assert se1 == pytest.approx(se_model, rel=0.25)  # independent boxes: near the model's SE
