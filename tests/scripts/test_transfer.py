"""scripts.validation.transfer: a set's recall level against the card's, and its spread between sets."""

import numpy as np
import pandas as pd
import pytest

from scripts.validation.transfer import effective_counts, glmm, moments, set_counts, set_shifts, shift_fit


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
