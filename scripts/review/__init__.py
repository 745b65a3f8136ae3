"""The review: a person (or the simulator's truth) checks a designed random sample of a survey's
detections (verify) and audits a random sample of its images for missed cameras (audit), so
that the estimate is calibrated on the survey itself.

``calibration_from_review(survey_dir)`` gives the answers as a calibration (the shared format:
precision by confidence bin, recall by box size, as counts) or None when there is no review.
Files: ``review/sample.json`` (the design), ``review/answers.sqlite`` (append-only answers).
"""

from __future__ import annotations

from pathlib import Path


def calibration_from_review(survey_dir: str | Path, *, prior: dict | None = None) -> dict | None:
    """The survey's review answers as an update of ``prior`` (default: the model card's
    calibration), as a calibration dict, or None."""
    from scripts.review.calibration import calibration_from_review as from_review

    return from_review(survey_dir, prior=prior)


__all__ = ["calibration_from_review"]
