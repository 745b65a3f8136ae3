"""Precision by confidence and recall by box size from a survey's review answers, in the shared
calibration format (counts, so that the estimator carries their sampling uncertainty), plus the
overall figures with 95% intervals that the page and report.json show.

- precision_bins: per confidence bin of the verify design, ``n`` = detections answered camera or
  not (unsure ones carry no information and are left out; ``n_unsure`` counts them), ``real`` =
  answered camera. Overall precision weights each bin by its share of the survey's detections
  (the design is stratified); its interval comes from Jeffreys Beta posteriors per bin, mixed
  by those weights (Monte Carlo, fixed seed).
- recall_bins: over the audited images (a self-weighting sample), ``n`` = every camera in them:
  detections the reviewer kept plus the boxes the reviewer added; ``found`` = the kept
  detections. Bins by sqrt(box area), pixels. Overall recall: found / n with a bootstrap
  interval over images (cameras in one image are not independent).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from scripts.review.sampling import Z95, bin_index, check_design_matches, read_design
from scripts.review.store import AnswerStore, store_path

N_DRAWS = 20_000
N_BOOT = 2_000


def wilson_interval(k: float, n: float, *, z: float = Z95) -> tuple[float, float]:
    """The Wilson score 95% interval of k successes in n (nan, nan for n = 0)."""
    if n <= 0:
        return math.nan, math.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def stratified_precision(real: np.ndarray, n: np.ndarray, sizes: np.ndarray, *, seed: int = 0
                         ) -> tuple[float, float, float]:
    """Overall precision and its 95% interval from per-bin counts ``real`` of ``n`` checked and
    the bins' population ``sizes``: sum of bin shares x bin precision, each bin's precision a
    Jeffreys Beta posterior. A bin with detections but no answers yet takes the pooled answers'
    posterior (so the point and the interval agree while the sample fills)."""
    real, n, sizes = (np.asarray(v, float) for v in (real, n, sizes))
    if sizes.sum() <= 0 or n.sum() <= 0:
        return math.nan, math.nan, math.nan
    weights = sizes / sizes.sum()
    answered = n > 0
    a = np.where(answered, real + 0.5, real.sum() + 0.5)
    b = np.where(answered, n - real + 0.5, n.sum() - real.sum() + 0.5)
    rates = np.where(answered, real / np.maximum(n, 1), real.sum() / n.sum())
    rng = np.random.default_rng(seed)
    draws = rng.beta(a[None, :], b[None, :], size=(N_DRAWS, len(n))) @ weights
    lo, hi = np.quantile(draws, [0.025, 0.975])
    point = float(weights @ rates)
    # all-camera or no-camera answers: the interval reaches the point (the boundary fix of the
    # Jeffreys interval, Brown, Cai & DasGupta 2001: upper = 1 when x = n, lower = 0 when x = 0)
    return point, float(min(lo, point)), float(max(hi, point))


def bootstrap_recall(found: np.ndarray, total: np.ndarray, *, seed: int = 0) -> tuple[float, float, float]:
    """Recall sum(found) / sum(total) over images, with a 95% bootstrap interval over images."""
    if total.sum() <= 0:
        return math.nan, math.nan, math.nan
    point = float(found.sum() / total.sum())
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(total), size=(N_BOOT, len(total)))
    f, t = found[pick].sum(axis=1), total[pick].sum(axis=1)
    ratios = f[t > 0] / t[t > 0]
    lo_w, hi_w = wilson_interval(found.sum(), total.sum())
    lo, hi = np.quantile(ratios, [0.025, 0.975]) if len(ratios) else (lo_w, hi_w)
    # few cameras: the bootstrap is too narrow (0 or 1 of everything); never narrower than Wilson
    return point, float(min(lo, lo_w)), float(max(hi, hi_w))


def review_summary(survey_dir: str | Path, *, tables=None, design=None,
                   store: AnswerStore | None = None) -> dict | None:
    """Counts and overall figures of the review so far (None before any review). ``tables``
    (a SurveyTables), ``design`` and ``store`` are read from ``survey_dir`` when not given."""
    from scripts.review.tables import SurveyTables

    survey_dir = Path(survey_dir)
    design = design or read_design(survey_dir)
    if design is None or (store is None and not store_path(survey_dir).exists()):
        return None
    store = store or AnswerStore.of_survey(survey_dir)
    tables = tables or SurveyTables.open(survey_dir, conf=design.conf_threshold)
    check_design_matches(design, tables)
    det = tables.all_detections
    k = len(design.edges) - 1

    verify = {i: a for i, a in store.standing("verify").items() if i in det.index}
    n = np.zeros(k, int)
    real = np.zeros(k, int)
    unsure = np.zeros(k, int)
    classes = {"dome": 0, "directed": 0}
    if verify:
        ids = list(verify)
        bins = bin_index(det.loc[ids, "conf"].to_numpy(float), design.edges)
        for item, b in zip(ids, bins):
            answer = verify[item]
            if answer.answer == "unsure":
                unsure[b] += 1
                continue
            n[b] += 1
            if answer.answer == "camera":
                real[b] += 1
                if answer.class_name in classes:
                    classes[answer.class_name] += 1
    precision, p_lo, p_hi = stratified_precision(real, n, np.asarray(design.verify_strata_sizes), seed=design.seed)

    edges_px = design.recall_edges_px
    audit = {i: a for i, a in store.standing("audit").items() if i in tables.images.index}
    rec_n = np.zeros(len(edges_px) - 1, int)
    rec_found = np.zeros(len(edges_px) - 1, int)
    per_image_found, per_image_total = [], []
    used = tables.detections
    by_image = {key: g for key, g in used.groupby("image_id")} if len(used) else {}
    for image_id, answer in audit.items():
        dets = by_image.get(image_id)
        kept = dets[~dets.index.isin(answer.rejected)] if dets is not None else None
        kept_sizes = kept["size_px"].to_numpy(float) if kept is not None else np.zeros(0)
        added_sizes = np.array([math.sqrt(max(b[2] - b[0], 0) * max(b[3] - b[1], 0)) for b in answer.added])
        for sizes, found in ((kept_sizes, True), (added_sizes, False)):
            if len(sizes):
                bins = bin_index(sizes, edges_px)
                np.add.at(rec_n, bins, 1)
                if found:
                    np.add.at(rec_found, bins, 1)
        per_image_found.append(len(kept_sizes))
        per_image_total.append(len(kept_sizes) + len(added_sizes))
    recall, r_lo, r_hi = bootstrap_recall(np.asarray(per_image_found, float), np.asarray(per_image_total, float),
                                          seed=design.seed)
    return {
        "conf_threshold": design.conf_threshold,
        "precision_bins": {"edges": list(design.edges), "n": n.tolist(), "real": real.tolist(),
                           "n_unsure": unsure.tolist(), "population": list(design.verify_strata_sizes)},
        "recall_bins": {"edges_px": list(edges_px), "n": rec_n.tolist(), "found": rec_found.tolist()},
        "n_images": len(audit),
        "n_verified": int(n.sum()),
        "n_unsure": int(unsure.sum()),
        "n_audited": len(audit),
        "n_audit_cameras": int(sum(per_image_total)),
        "classes": classes,
        "precision": _finite(precision), "precision_lo": _finite(p_lo), "precision_hi": _finite(p_hi),
        "recall": _finite(recall), "recall_lo": _finite(r_lo), "recall_hi": _finite(r_hi),
        "target_half_width": design.target_half_width,
        "n_verify_planned": design.n_verify,
        "n_audit_planned": design.n_audit,
    }


def calibration_from_review(survey_dir: str | Path) -> dict | None:
    """The survey's review as a calibration (the shared format, ``source`` = "review"), or None
    when the survey has no review answers yet."""
    summary = review_summary(survey_dir)
    if summary is None or (summary["n_verified"] == 0 and summary["n_audited"] == 0):
        return None
    return {"source": "review", **summary}


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)
