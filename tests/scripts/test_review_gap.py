"""scripts/validation/review_gap.py: the encounter's share of an estimate's error (issue 26)."""

import math

import pytest

from scripts.validation.review_gap import encounter_figures, markdown_table


def test_encounter_cv_and_the_chance_of_within_20_percent():
    """An estimate of CV 0.5 with 64% of its variance from the encounter has an encounter CV of
    0.4; a log-normal error of that CV falls within +-20% with probability erf(log 1.2 / (0.4 sqrt 2));
    a tiny CV makes +-20% nearly certain."""
    f = encounter_figures({"est_cv": 0.5, "variance_share": {"encounter": 0.64, "recall": 0.36}})
    assert f["encounter_cv"] == pytest.approx(0.4)
    assert f["p_within_20_encounter_only"] == pytest.approx(math.erf(math.log(1.2) / (0.4 * math.sqrt(2))))
    assert 0.3 < f["p_within_20_encounter_only"] < 0.4
    assert encounter_figures({"est_cv": 0.02, "variance_share": {"encounter": 1.0}})["p_within_20_encounter_only"] > 0.99
    assert math.isnan(encounter_figures({})["encounter_cv"])


def test_markdown_row_per_survey():
    key_geo = "inclusion geometry at the true positions, estimate's curve, sd 1.7"
    g = {"survey": "h02", "est": 10.6, "lo": 3.4, "hi": 33.1, "N": 26.0, "F": 6,
         "predicted_found": {"estimate's curve, sd 1.7": 6.3, key_geo: 7.3},
         **encounter_figures({"est_cv": 0.59, "variance_share": {"encounter": 0.6}})}
    text = markdown_table([g])
    row = text.strip().splitlines()[-1]
    assert row.startswith("| h02 | 10.6 (3.4-33.1) | 26 | -59% | 6 | 6.3 | 7.3 | 0.59 | 0.46 |")
