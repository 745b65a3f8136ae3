"""The size-conditioned confidence test of issue 26 (scripts/validation/confidence_power.py), on generated data."""

import numpy as np
import pandas as pd

from scripts.validation.confidence_power import p_lower, reference


def test_lower_confidences_than_the_cards_true_positives_reject_unless_false_detections_explain_them():
    rng = np.random.default_rng(0)
    size = rng.uniform(10, 40, 400)
    conf = np.clip(0.6 + 0.01 * size + rng.normal(0, 0.05, 400), 0.57, 0.99)  # larger boxes, surer
    ref = reference(pd.DataFrame({"size": size, "conf": conf}))
    like = rng.choice(400, 15, replace=False)
    mean, p = p_lower(size[like], conf[like], 500, ref, false_per_image=0.0)
    assert 0.3 < mean < 0.7 and p > 0.05  # drawn from the reference: no rejection
    big_middling = np.full(15, 30.0), np.full(15, 0.66)  # large boxes at middling confidence: unseen imagery
    assert p_lower(*big_middling, 500, ref, false_per_image=0.0)[1] < 1e-4
    # as many false detections expected as detections seen: low confidences are what false ones have
    assert p_lower(*big_middling, 500, ref, false_per_image=15 / 500)[1] > 0.05
