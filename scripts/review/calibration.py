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
from dataclasses import dataclass
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


def bootstrap_recall(found: np.ndarray, total: np.ndarray, *, seed: int = 0, n_effective: float | None = None
                     ) -> tuple[float, float, float]:
    """Recall sum(found) / sum(total) over images (weighted counts allowed), with a 95% bootstrap
    interval over images, never narrower than Wilson's at ``n_effective`` cameras (default: the total)."""
    if total.sum() <= 0:
        return math.nan, math.nan, math.nan
    point = float(found.sum() / total.sum())
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(total), size=(N_BOOT, len(total)))
    f, t = found[pick].sum(axis=1), total[pick].sum(axis=1)
    ratios = f[t > 0] / t[t > 0]
    n_eff = float(total.sum()) if n_effective is None else float(n_effective)
    lo_w, hi_w = wilson_interval(point * n_eff, n_eff)
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

    recall_part = audit_recall(tables, design, store)
    return {
        "conf_threshold": design.conf_threshold,
        "precision_bins": {"edges": list(design.edges), "n": n.tolist(), "real": real.tolist(),
                           "n_unsure": unsure.tolist(), "population": list(design.verify_strata_sizes)},
        **recall_part,
        "n_verified": int(n.sum()),
        "n_unsure": int(unsure.sum()),
        "classes": classes,
        "precision": _finite(precision), "precision_lo": _finite(p_lo), "precision_hi": _finite(p_hi),
        "target_half_width": design.target_half_width,
        "sizing_half_width": design.sizing,
        "target": "relative, on the count" if design.relative_target else "absolute, on precision and recall",
        "n_verify_planned": design.n_verify,
        "n_audit_planned": design.n_audit,
    }


def audit_recall(tables, design, store: AnswerStore) -> dict:
    """The audit's recall: per size bin, the cameras in the audited images (kept detections plus
    added boxes) and the found ones, each image weighted by its Horvitz-Thompson weight
    (``ReviewDesign.audit_weights``; all ones for a self-weighting design). The bins' counts are
    effective sample sizes (Kish: (sum w)^2 / sum w^2 over the bin's cameras) holding the
    weighted rate, so that the estimator's Beta posteriors carry the unequal weights;
    ``n_raw`` / ``found_raw`` keep the plain counts. Overall recall: the weighted ratio with a
    bootstrap interval over images."""
    edges_px = design.recall_edges_px
    audit = {i: a for i, a in store.standing("audit").items() if i in tables.images.index}
    weights = design.audit_weights(max(design.n_audit, len(audit)))
    k = len(edges_px) - 1
    raw_n, raw_found = np.zeros(k, int), np.zeros(k, int)
    w_n, w_found, w2_n = np.zeros(k), np.zeros(k), np.zeros(k)
    per_image_found, per_image_total, per_image_w = [], [], []
    used = tables.detections
    by_image = {key: g for key, g in used.groupby("image_id")} if len(used) else {}
    for image_id, answer in audit.items():
        w = float(weights.get(image_id, 1.0))
        dets = by_image.get(image_id)
        kept = dets[~dets.index.isin(answer.rejected)] if dets is not None else None
        kept_sizes = kept["size_px"].to_numpy(float) if kept is not None else np.zeros(0)
        added_sizes = np.array([math.sqrt(max(b[2] - b[0], 0) * max(b[3] - b[1], 0)) for b in answer.added])
        for sizes, found in ((kept_sizes, True), (added_sizes, False)):
            if len(sizes):
                bins = bin_index(sizes, edges_px)
                np.add.at(raw_n, bins, 1)
                np.add.at(w_n, bins, w)
                np.add.at(w2_n, bins, w * w)
                if found:
                    np.add.at(raw_found, bins, 1)
                    np.add.at(w_found, bins, w)
        per_image_found.append(len(kept_sizes))
        per_image_total.append(len(kept_sizes) + len(added_sizes))
        per_image_w.append(w)
    pw = np.asarray(per_image_w, float)
    recall, r_lo, r_hi = bootstrap_recall(np.asarray(per_image_found, float) * pw,
                                          np.asarray(per_image_total, float) * pw, seed=design.seed,
                                          n_effective=effective_n(np.asarray(per_image_total, float), pw))
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where(w2_n > 0, w_n ** 2 / w2_n, 0.0)
        rate = np.where(w_n > 0, w_found / w_n, 0.0)
    return {"recall_bins": {"edges_px": list(edges_px), "n": np.round(n_eff, 3).tolist(),
                            "found": np.round(rate * n_eff, 3).tolist(), "n_raw": raw_n.tolist(),
                            "found_raw": raw_found.tolist()},
            "n_images": len(audit), "n_audited": len(audit), "n_audit_cameras": int(sum(per_image_total)),
            "audit_weighted": design.audit_size_measure is not None,
            "recall": _finite(recall), "recall_lo": _finite(r_lo), "recall_hi": _finite(r_hi)}


def effective_n(totals: np.ndarray, weights: np.ndarray) -> float:
    """Kish's effective number of cameras of weighted images: (sum w t)^2 / sum w^2 t."""
    num, den = float((weights * totals).sum()) ** 2, float((weights ** 2 * totals).sum())
    return num / den if den > 0 else 0.0


PRIOR_CAMERAS = 3.0  # "bins" update: pseudo-cameras per size bin at the prior's shifted curve added to the audit's
RECALL_UPDATE = "slope"  # how the audit updates the prior's recall: "slope" (default), "level" (shape kept) or "bins"
# "slope": the level and a tilt of the prior's curve (logit per octave of box size, within the sizes the audit saw;
# the prior's shape beyond them), the tilt's prior N(0, SLOPE_PRIOR_SD^2): imagery the detector never saw need not
# lose recall evenly over box sizes (the held-out look's curve is flatter than the card's: on h02 one level held
# 0.80 at 16-24 px where the audit saw 3 of 7, and the review gave 12.6 (8.5-18.7) for 26; with the tilt 18.0
# (9.4-34.4); docs/unseen-imagery.md, session 12). "level": session 8-11's one logit shift, the card's shape kept.
SLOPE_PRIOR_SD = 1.0
LEVEL_PRIOR_SD = 3.0  # SD of the logit shift's prior around the card's level (weak: a factor of 20 in odds)
MAX_BIN_COUNT = 5000.0  # cap of a bin's counts in the "level" update
# The "level" update hands the estimator counts whose Beta posterior (the estimator's own pseudo-counts at the pooled
# rate and its boxes-per-camera design effect included) has the shifted curve as its mean (``recapture.beta_counts``).
# False: the curve's rates with counts from the level's variance, which the estimator then pulls towards the pooled
# rate (its pseudo-counts, the design effect of 2 boxes per camera): on the 37 rendered surveys the curve the estimate
# used ran 5-25% below the audit's shifted curve at 12-32 px and the estimates as much high (docs/unseen-imagery.md)
EXACT_HANDOVER = True


def calibration_from_review(survey_dir: str | Path, *, prior: dict | None = None, use_card: bool = True
                            ) -> dict | None:
    """The survey's review as an update of a prior calibration (the shared format), or None when
    the survey has no review answers yet. ``prior``: the calibration the review updates (the
    model card's, or the survey's own fit); default the card of the model that made the
    detections (``use_card``). See ``calibration_updated``."""
    summary = review_summary(survey_dir)
    if summary is None or (summary["n_verified"] == 0 and summary["n_audited"] == 0):
        return None
    if prior is None and use_card:
        prior = card_calibration(survey_dir)
    return calibration_updated(summary, prior, level_prior=own_fit_level(survey_dir) if prior is not None else None)


# The survey's own fit is the audit's prior whatever per-camera SD it was made at (issue 26, session 12): its level
# is carried to the audit's scale (``audit_scale_prior``), which makes the SD a part of the level's meaning rather
# than a reason to drop the fit. False: only a fit at the card's SD (``CAMERA_LOGIT_SD``) is handed over (main's rule
# of session 11), and then without that conversion when ``OWN_FIT_ON_AUDIT_SCALE`` is False as well.
OWN_FIT_ANY_SD = True
# The own fit's level moves the card's curve under the per-camera effect (``recapture.shifted_rates``: the logit of a
# camera's recall moves, the marginal per-view recall follows, less than the logit does); the audit's level moves the
# marginal curve's logit itself. At SD 1.7 a fit's -3 is the audit's -1.8 to -2.2 (12-32 px: 0.63 against 0.43 for
# the card's 0.94); main handed the fit's level over unchanged, putting the audit's prior recall about half the
# fit's. True: carried over (``audit_scale_prior``); False: main's handover.
OWN_FIT_ON_AUDIT_SCALE = True
# A flagged survey's estimate uses its own fit wherever its repeat views measure the level, informative or not (the
# card was rejected; ``card_check``): True hands that fit to the audit as well, instead of a weak prior around the
# rejected card's level. False: only informative fits (main).
OWN_FIT_WHEN_USED = False


@dataclass(frozen=True)
class OwnFitLevel:
    """The survey's own fit of the card's recall level: ``level`` (logit shift of a camera's recall under
    the per-camera effect, ``recapture.shifted_rates``), its posterior ``sd`` (logit), and the per-camera
    logit SD ``camera_sd`` it was made at."""

    level: float
    sd: float
    camera_sd: float


def own_fit_level(survey_dir: str | Path) -> OwnFitLevel | None:
    """The survey's own fit of the card's recall level (``OwnFitLevel``) from the last estimate's
    report.json ``self_calibration`` (the repeat views' capture-recapture fit), when that estimate used
    the card (its level is relative to the card) and the fit was informative; else None. The review's
    audit then updates this level (``audit_scale_prior`` carries it to the audit's scale) instead of the
    card's. A fit at another per-camera SD than the card's (a flagged survey may read its own) is handed
    over too (``OWN_FIT_ANY_SD``)."""
    import json

    from geo.counting.heterogeneity import CAMERA_LOGIT_SD

    path = Path(survey_dir) / "report.json"
    try:
        report = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    fit = report.get("self_calibration") or {}
    source = str((report.get("calibration") or {}).get("source", ""))
    flagged_and_used = OWN_FIT_WHEN_USED and fit.get("used") and (report.get("card_check") or {}).get("fits") is False
    if not (fit.get("informative") or flagged_and_used) or source.startswith("review"):
        return None
    try:
        level, lo, hi = float(fit["level_logit"]), float(fit["level_lo"]), float(fit["level_hi"])
        camera_sd = float(fit.get("camera_logit_sd", CAMERA_LOGIT_SD))
    except (KeyError, TypeError, ValueError):
        return None
    if not OWN_FIT_ANY_SD and abs(camera_sd - CAMERA_LOGIT_SD) > 1e-9:
        return None
    sd = (hi - lo) / (2 * 1.959964)
    ok = all(math.isfinite(v) for v in (level, sd, camera_sd)) and sd > 0 and camera_sd >= 0
    return OwnFitLevel(level=level, sd=sd, camera_sd=camera_sd) if ok else None


def audit_scale_prior(own: OwnFitLevel, prior_cal, edges_px: np.ndarray, n: np.ndarray) -> tuple[float, float]:
    """(mean, SD) of the audit's logit shift (``recall_bins_updated``: the prior's per-box curve moved on
    the logit scale) that the own fit ``own`` says: the shift an audit with ``n`` cameras per size bin
    (``edges_px``, px) would find if recall were the fit's curve (the card's moved by ``own.level``
    under the per-camera effect at ``own.camera_sd``): its pseudo-true value, maximising the expected
    log-likelihood. The SD maps the same way: half the distance between the shifts at level -/+ sd.
    With ``OWN_FIT_ON_AUDIT_SCALE`` False: (level, sd) unchanged (main's handover)."""
    if not OWN_FIT_ON_AUDIT_SCALE:
        return own.level, own.sd
    from scipy.optimize import minimize_scalar
    from scipy.special import expit, logit

    from geo.counting.calibration import recall_at, size_centres
    from geo.counting.recapture import shifted_rates

    centres = size_centres(np.asarray(edges_px, float))
    card = prior_cal.recall_bins()
    base = logit(np.clip(recall_at(centres, prior_cal.size_edges, card), 0.005, 0.995))
    w = np.asarray(n, float) if np.sum(n) > 0 else np.ones(len(centres))

    def projected(level: float) -> float:
        t = np.clip(recall_at(centres, prior_cal.size_edges, shifted_rates(card, level, sd=own.camera_sd)),
                    1e-9, 1 - 1e-9)

        def loss(delta: float) -> float:
            p = np.clip(expit(base + delta), 1e-9, 1 - 1e-9)
            return -float((w * (t * np.log(p) + (1 - t) * np.log(1 - p))).sum())

        return float(minimize_scalar(loss, bounds=(-12.0, 12.0), method="bounded").x)

    lo, hi = projected(own.level - own.sd), projected(own.level + own.sd)
    return projected(own.level), max((hi - lo) / 2.0, 1e-3)


def card_calibration(survey_dir: str | Path) -> dict | None:
    """The ``calibration`` of the card of the model that made the survey's detections, or None."""
    from scripts.review.tables import SurveyTables

    try:
        card = SurveyTables(survey_dir=Path(survey_dir), conf_threshold=0.0).card()
    except Exception:  # noqa: BLE001 - a missing or bad card leaves the review without a prior
        return None
    cal = getattr(card, "calibration", None) if card is not None else None
    return {**cal, "source": "card"} if isinstance(cal, dict) and cal.get("precision_bins") else None


def prior_recall_of(survey_dir: str | Path) -> float | None:
    """The overall recall of the card's calibration (the audit's first sizing), or None."""
    cal = card_calibration(survey_dir)
    if cal is None:
        return None
    from geo.counting.calibration import calibration_from_dict

    c = calibration_from_dict(cal)
    if c.rec_n.sum() <= 0:
        return None
    return float(c.recall_bins() @ (c.rec_n / c.rec_n.sum()))


def calibration_updated(summary: dict, prior: dict | None, *,
                        level_prior: tuple[float, float] | OwnFitLevel | None = None) -> dict:
    """The review's answers as an update of ``prior`` (a calibration dict, or None):

    - precision: the verify answers (the survey's own precision by confidence, with the bins'
      population) when there are any; else the prior's precision bins and false detections per
      image, unchanged;
    - recall: with audited cameras and a prior, the prior's recall-by-size curve shifted on the
      logit scale by the level the audit measures (one parameter, maximum likelihood), as
      ``PRIOR_CAMERAS`` pseudo-cameras per bin added to the audit's counts: the audit sets the
      level, the prior the shape where the audit is thin; with audited cameras and no prior, the
      audit's counts alone; with none, the prior's recall unchanged.

    ``precision_from`` / ``recall_from`` say which; a side with neither answers nor prior is
    listed under ``warnings`` (the estimator then sees an empty side: a flat 0.5).
    ``level_prior``: the survey's own fit (``own_fit_level``, carried to the audit's scale by
    ``audit_scale_prior``), or (mean, SD) of the recall level's prior on the audit's logit scale
    relative to the prior's curve; default (0, ``LEVEL_PRIOR_SD``)."""
    out = {"source": "review", **summary, "warnings": []}
    prior_cal = None
    if prior is not None:
        from geo.counting.calibration import calibration_from_dict

        prior_cal = calibration_from_dict(prior)
        out["prior_source"] = str(prior.get("source", "card"))
    verified, audited = summary["n_verified"] > 0, summary.get("n_audit_cameras", 0) > 0
    if verified:
        out["precision_from"] = "review"
    elif prior_cal is not None:
        out["source"] = f"review+{out['prior_source']}"
        out["precision_from"] = f"{out['prior_source']} (no verify answers)"
        out["precision_bins"] = {"edges": prior_cal.conf_edges.tolist(), "n": prior_cal.prec_n.tolist(),
                                 "real": prior_cal.prec_real.tolist()}
        if prior_cal.false_n is not None and prior_cal.false_images > 0:
            out["false_bins"] = {"edges": prior_cal.conf_edges.tolist(), "false": prior_cal.false_n.tolist(),
                                 "n_images": int(prior_cal.false_images)}
        out["conf_threshold"] = float(prior_cal.conf_threshold)
    else:
        out["precision_from"] = "none"
        out["warnings"].append("no verify answers and no prior: precision is unknown (a flat 0.5)")
    if audited and prior_cal is not None:
        scaled = level_prior
        if isinstance(level_prior, OwnFitLevel):
            bins = out["recall_bins"]
            scaled = audit_scale_prior(level_prior, prior_cal, np.asarray(bins["edges_px"], float),
                                       np.asarray(bins["n"], float))
        out["recall_bins"], out["recall_level_shift"] = recall_bins_updated(out["recall_bins"], prior_cal,
                                                                            level_prior=scaled)
        out["recall_from"] = f"audit, with the {out['prior_source']}'s recall-by-size shape"
        if scaled is not None:
            out["recall_level_prior"] = {"from": "the survey's own fit (report.json self_calibration)",
                                         "mean": round(scaled[0], 4), "sd": round(scaled[1], 4)}
            if isinstance(level_prior, OwnFitLevel):  # the fit's own figures, before the audit's scale
                out["recall_level_prior"].update(fit_level=round(level_prior.level, 4),
                                                 fit_sd=round(level_prior.sd, 4), camera_sd=level_prior.camera_sd)
    elif audited:
        out["recall_from"] = "audit"
    elif prior_cal is not None:
        out["recall_bins"] = {"edges_px": prior_cal.size_edges.tolist(), "n": prior_cal.rec_n.tolist(),
                              "found": prior_cal.rec_found.tolist()}
        out["recall_from"] = f"{out['prior_source']} (no audited cameras)"
    else:
        out["recall_from"] = "none"
        out["warnings"].append("no audited cameras and no prior: recall is unknown (a flat 0.5)")
    return out


def recall_bins_updated(bins: dict, prior_cal, *, mode: str | None = None,
                        level_prior: tuple[float, float] | None = None) -> tuple[dict, float]:
    """(recall bins, logit shift) of an audit (``bins``: its weighted counts) as an update of the
    prior's recall-by-size curve: the level that fits the audit (one logit shift, posterior mode),
    the shape the prior's, tilted where the audit has cameras in mode "slope".

    ``mode`` (default ``RECALL_UPDATE``) "slope": the level and a tilt (logit per octave of box
    size, ``_level_and_slope``), each bin's variance that of its logit under both; else as "level".
    "level": each bin holds the shifted curve with the
    counts of a Beta whose variance is the shift's (delta method: n = 1 / (r (1 - r) var) - 1),
    divided by the number of bins the audit's cameras spread over (the bins share one level, so
    their errors are one error, not independent ones); the audit's own per-bin counts enter only
    through the level. "bins": the audit's counts plus ``PRIOR_CAMERAS`` pseudo-cameras per bin at
    the shifted curve."""
    from scipy.optimize import minimize_scalar
    from scipy.special import expit, logit

    from geo.counting.calibration import recall_at, size_centres

    mode = mode or RECALL_UPDATE
    edges = np.asarray(bins["edges_px"], float)
    n, found = np.asarray(bins["n"], float), np.asarray(bins["found"], float)
    shape = recall_at(size_centres(edges), prior_cal.size_edges, prior_cal.recall_bins())
    base = logit(np.clip(shape, 0.005, 0.995))

    mean, sd = level_prior if level_prior is not None else (0.0, LEVEL_PRIOR_SD)

    def nll(delta: float) -> float:
        p = np.clip(expit(base + delta), 1e-9, 1 - 1e-9)
        return -float((found * np.log(p) + (n - found) * np.log(1 - p)).sum()) + 0.5 * ((delta - mean) / sd) ** 2

    delta = float(minimize_scalar(nll, bounds=(-8.0, 8.0), method="bounded").x)
    rates = expit(base + delta)
    info = float((n * rates * (1 - rates)).sum()) + 1.0 / sd ** 2
    logit_var = np.full(len(rates), 1.0 / info)
    slope = None
    if mode == "slope":
        delta, slope, rates, logit_var = _level_and_slope(base, n, found, size_centres(edges), mean=mean, sd=sd)
    raw = np.asarray(bins.get("n_raw", n), float)
    spread = float(raw.sum() ** 2 / max((raw ** 2).sum(), 1e-9)) if raw.sum() > 0 else 1.0
    extra = {"prior_rates": np.round(shape, 4).tolist(), "shifted_rates": np.round(rates, 5).tolist(),
             "level_sd": round(float(1.0 / np.sqrt(info)), 4), "audit_n": bins["n"], "audit_found": bins["found"],
             "update": mode, **({} if slope is None else {"slope_per_octave": round(slope, 4)})}
    if mode == "bins":
        return ({**bins, **extra, "n": np.round(n + PRIOR_CAMERAS, 3).tolist(),
                 "found": np.round(found + PRIOR_CAMERAS * rates, 3).tolist()}, round(delta, 4))
    strength = np.clip((1.0 / np.maximum(logit_var * rates * (1 - rates), 1e-9) - 1.0) / max(spread, 1.0), 1.0,
                       MAX_BIN_COUNT)
    if not EXACT_HANDOVER:
        return ({**bins, **extra, "n": np.round(strength, 3).tolist(), "found": np.round(strength * rates, 4).tolist()},
                round(delta, 4))
    from geo.counting.recapture import beta_counts

    # counts whose Beta posterior, as the estimator forms it (its pseudo-counts at the pooled rate added), has the
    # shifted curve as its mean and the level's variance; "cameras" = the counts: they are per camera already (no
    # design effect on top)
    n_b, found_b = beta_counts(np.clip(rates, 1e-4, 1 - 1e-4), rates * (1 - rates) / (strength + 1.0))
    return ({**bins, **extra, "n": np.round(n_b, 4).tolist(), "found": np.round(found_b, 4).tolist(),
             "cameras": float(np.ceil(np.sum(n_b))), "handover": "exact"}, round(delta, 4))


def _level_and_slope(base: np.ndarray, n: np.ndarray, found: np.ndarray, centres_px: np.ndarray, *, mean: float,
                     sd: float) -> tuple[float, float, np.ndarray, np.ndarray]:
    """(level, slope, rates, logit variance per bin) of the audit's counts ``n`` / ``found`` per size
    bin under recall expit(``base`` + level + slope x), x the octaves of each bin's centre
    (``centres_px``) from the audit's mean, clamped to the sizes the audit has cameras in; priors
    level ~ N(``mean``, ``sd``^2), slope ~ N(0, ``SLOPE_PRIOR_SD``^2); posterior mode, and the
    variance of each bin's logit from the inverse of the posterior's information."""
    from scipy.optimize import minimize
    from scipy.special import expit

    octave = np.log2(np.asarray(centres_px, float))
    seen = n > 0
    if not seen.any():
        return mean, 0.0, expit(base + mean), np.full(len(base), sd ** 2)
    x = np.clip(octave, octave[seen].min(), octave[seen].max())
    x = x - float(n @ x / n.sum())

    def neg_log_post(theta: np.ndarray) -> float:
        p = np.clip(expit(base + theta[0] + theta[1] * x), 1e-9, 1 - 1e-9)
        return (-float((found * np.log(p) + (n - found) * np.log(1 - p)).sum())
                + 0.5 * ((theta[0] - mean) / sd) ** 2 + 0.5 * (theta[1] / SLOPE_PRIOR_SD) ** 2)

    theta = minimize(neg_log_post, np.array([mean, 0.0]), method="Nelder-Mead",
                     options={"xatol": 1e-5, "fatol": 1e-8}).x
    rates = expit(base + theta[0] + theta[1] * x)
    w = n * rates * (1 - rates)
    info = np.array([[w.sum() + 1.0 / sd ** 2, w @ x], [w @ x, w @ (x * x) + 1.0 / SLOPE_PRIOR_SD ** 2]])
    cov = np.linalg.inv(info)
    var = cov[0, 0] + 2 * x * cov[0, 1] + x * x * cov[1, 1]
    return float(theta[0]), float(theta[1]), rates, var


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 4)
