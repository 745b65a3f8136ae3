"""Camera density per area with calibrated uncertainty: two estimators side by side.

The estimand: the cameras within the strip of the streets the survey speaks for, per area and by
class (``geo.counting.design``): for a systematic design the surveyed streets (the street pieces
that views with imagery stand for; ``geo.counting.inclusion.surveyed_streets``), for a random
design every street of the network its points were drawn from. The strip's half-width is set per
class (``--strip auto``, the default: where the design's detection function falls to
``geo.counting.design.STRIP_FLOOR``) or fixed by the user (with a warning where its edge lies
past that). Nothing outside the strip is claimed: cameras deep in courtyards or far from any
street are no part of it.

(b) ``strip`` (the estimate), in named steps:
    1. strip (``strip_by_class``): the half-width per class, metres;
    2. inclusion (``inclusion_pairs``): each located camera's inclusion probability pi from the
       design's randomization (the grid's start, or where random points fall), the views'
       geometry and the detector's recall by box size; floored at ``MIN_INCLUSION`` x the
       design's best pi for the class (``geo.counting.design``'s small-pi rule);
    3. P(real): with a model card (``reality_from_rate``) a mixture per confidence bin of the
       survey's real single-detection cameras, spread over the bins as the card's real detections
       are (their number fitted to the survey), and its false ones, the card's false-detection
       rate per image x the survey's images updated by the survey's own singles (a Gamma prior
       widened by the rate's transfer, ``real_false_fit``); multi-detection cameras are real; a
       survey that ``card_check`` flags keeps the older rule below. With a review
       (``false_detections_by_bin``, ``reality_from_false``), the survey's own verified precision,
       spent first on single-detection cameras of their bin, what a bin cannot place passing to
       the bin above;
    4. totals (``strip_totals``): Horvitz-Thompson, sum of P(real) / pi per area and class;
    5. variance (``strip_variance``), as Distance's ``dht2`` reports it, from independent sources:
       - encounter: the Horvitz-Thompson variance of which cameras were detected (known pi),
         sum q (1 - pi) / pi^2, plus that of which detections are real (``reality_variance``:
         a Poisson false count with a held-out calibration, whose subtraction moves with it;
         with a review of the survey's own detections only the within-bin allocation, the bin
         totals being the review's). The
         between-streets encounter-rate variance of Fewster et al. (2009), R2, is reported for
         the density per road km as a rate to carry to other streets
         (``encounter_rate_variance``);
       - false detections ("precision"): a card's false rate straying from the survey's by the
         card's counting error (each bin's Gamma) and its transfer (one log shift), through how
         each false single moves the mixture's estimate (``mixture_moves``); else each bin's
         precision (Beta posterior, times the finite-population correction for a review) or rate
         carried through by the delta method (a central difference of one posterior SD);
       - recall: each size bin's Beta posterior carried through pi's gradient;
       weights of cameras placed by box size are corrected for their location error
       (``geo.counting.inclusion.corrected_weight``; a random design's: 1 / pi averaged over
       the error, ``geo.counting.inclusion.averaged_weight``);
    6. interval (``strip_interval``): log-normal, N / C .. N x C with
       C = exp(t_df sqrt(log(1 + cv^2))), df by Satterthwaite (``lognormal_interval``); with a
       card's false-detection rate the false detections' part (reality and precision terms) is
       additive and joins it by MOVER (``interval_additive_part``); an area where no camera was
       located gets 0 and the Poisson (Garwood) upper bound of a zero count.
(a) ``rate``: the Stanford detection-rate estimator (Sheng, Yao, Goel 2021), kept as the
    published comparison: per road km = rate x precision x (1000 / metres of roadside seen per
    image) x 2 sides / recall, with a Clopper-Pearson interval on the rate. No deduplication.

``density_from_tables`` works on tables; ``estimate_survey`` reads a survey directory, runs it,
and writes the exports (``geo.outputs.export``).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.counting.calibration import (NOMINAL_N, Calibration, RateCurves, calibration_from_dict, calibration_from_rates,
                                      calibration_summary, conf_bin, transfer_variance)
from geo.counting.design import (STRIP_FLOOR, Design, inclusion_by_distance, random_design_pairs, strip_edge)
from geo.counting.heterogeneity import CAMERA_LOGIT_SD
from geo.counting.inclusion import (DEFAULT_SHIFTS, MIN_INCLUSION, box_size_m, in_strip, inclusion_gradient,
                                    inclusion_gradient_numeric, inclusion_parts, shift_range_on_streets,
                                    street_distance, surveyed_streets, view_pairs, views_for_inclusion)
from geo.errors import GeoInputError
from geo.schemas import DENSITY, check_frame, columns

AREA_COLUMNS = columns(DENSITY)
CLASSES = ("directed", "dome")
STRIP_AUTO = "auto"
# RMS across-street / RMS distance error of cameras placed by box size, against the truth: 0.81 over
# 3,722 cameras of 80 truth-only replicates, 0.82 over the cached rendered surveys (issue 27). A
# 2-D error spread evenly would give 1 / sqrt(2) = 0.71.
ACROSS_SHARE = 0.8
# P(real): pass the expected false detections a confidence bin cannot place (fewer singles than the
# card's rate expects) to the bin above (unbiased in count), instead of clipping each bin at zero
# (which keeps the surplus of surveys that got more false detections than expected: an upward lean
# where false detections outnumber real ones). On since the card's false_bins count the boxes on no
# camera per image (0.006 on the held-out set, 0.0066 in the 27 rendered training-look surveys); with
# the earlier one-to-one count, whose duplicates follow the cameras in view (1.4x the rendered
# surveys' false cameras), it pulled their card medians to -20%. With the new figures: rendered card
# systematic / random +5% / -8% (off: +8% / -5%), truth-only median +1.5% (docs/estimator.md 10; issue 27).
CARRY_FALSE_SHORTFALL = True
# P(real) with a card's false rate: a mixture per confidence bin of the survey's real singles (spread over
# the bins as the card's real detections are, their number fitted to the survey) and the card's expected
# false detections (``reality_from_rate``), with no carry across bins. The carry above charged the
# 0.7-0.8 bin, where neither the card set nor the 27 rendered surveys have a false detection, about 3
# expected false cameras on the 9 random surveys (docs/estimator.md 15.1, 16). Off: the carry.
REALITY_MIXTURE = True
# The card's transfer to the survey (a recall level common to every size bin) enters the interval at the
# estimate's own values at the level's ends (``transfer_profile``), not by the delta method alone: the
# estimate is convex in the level (docs/estimator.md 17). Off: the delta method, symmetric (as before).
TRANSFER_PROFILE = True
P_REAL_MIXTURE = "mixture per confidence bin"  # report.json's parameters.p_real_model when it is used


@dataclass
class EstimateResult:
    """Per-area table (EPSG:4326), the whole-survey ``total`` figures, the report, written files."""

    areas: gpd.GeoDataFrame
    total: dict
    report: dict
    paths: dict[str, Path] = field(default_factory=dict)


# --- published formulas ---------------------------------------------------------------------

def encounter_rate_variance(n: np.ndarray, lengths: np.ndarray, *, method: str = "R2") -> float:
    """Variance of the encounter rate n / L from per-transect counts ``n`` and lengths (Fewster et
    al. 2009, Biometrics 65: 225-236). R2 (random placement, unequal lengths):
    K / (L^2 (K - 1)) sum l_k^2 (n_k / l_k - n / L)^2. O2 (systematic designs, overlapping pairs of
    neighbouring transects in the given order): 2K / (L^2 (K - 1)) sum_{k<K} (l_k l_{k+1} /
    (l_k + l_{k+1}))^2 (n_k / l_k - n_{k+1} / l_{k+1})^2. NaN for fewer than two transects."""
    n, lengths = np.asarray(n, float), np.asarray(lengths, float)
    keep = lengths > 0
    n, lengths = n[keep], lengths[keep]
    k = len(n)
    if k < 2:
        return float("nan")
    total_l = lengths.sum()
    rate = n / lengths
    if method == "R2":
        return float(k * np.sum(lengths ** 2 * (rate - n.sum() / total_l) ** 2) / (total_l ** 2 * (k - 1)))
    if method == "O2":
        l1, l2 = lengths[:-1], lengths[1:]
        term = (l1 * l2 / (l1 + l2)) ** 2 * (rate[:-1] - rate[1:]) ** 2
        return float(2 * k * term.sum() / (total_l ** 2 * (k - 1)))
    raise GeoInputError(f"unknown encounter-rate variance '{method}': use R2 or O2")


def satterthwaite_df(cvs: np.ndarray, dfs: np.ndarray) -> np.ndarray:
    """Degrees of freedom of a total CV^2 = sum cv_i^2 (Satterthwaite, as in Buckland et al. 2001
    eq. 3.75 and ``dht2``): (sum cv_i^2)^2 / sum (cv_i^4 / df_i). ``cvs`` (..., sources)."""
    cvs, dfs = np.asarray(cvs, float), np.asarray(dfs, float)
    num = np.sum(cvs ** 2, axis=-1) ** 2
    den = np.sum(cvs ** 4 / np.maximum(dfs, 1e-9), axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.inf)


def lognormal_interval(est: np.ndarray, cv: np.ndarray, df: np.ndarray | float = np.inf, *, level: float = 0.95
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Log-normal interval of ``dht2`` (Buckland et al. 2001 eq. 3.71-3.72): est / C, est x C
    with C = exp(t_{df, 1 - alpha/2} sqrt(log(1 + cv^2))); normal quantile for infinite df."""
    from scipy.stats import norm, t

    est, cv = np.asarray(est, float), np.asarray(cv, float)
    df = np.broadcast_to(np.asarray(df, float), est.shape)
    q = 1 - (1 - level) / 2
    quant = np.where(np.isfinite(df), t.ppf(q, np.where(np.isfinite(df), np.maximum(df, 1.0), 1.0)), norm.ppf(q))
    c = np.exp(quant * np.sqrt(np.log1p(np.nan_to_num(cv) ** 2)))
    return est / c, est * c


def interval_additive_part(est: np.ndarray, var_scaled: np.ndarray, var_additive: np.ndarray,
                           df: np.ndarray | float = np.inf, *, level: float = 0.95, df_additive: np.ndarray | float = np.inf
                           ) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) of an estimate whose error has a part that scales with it (``var_scaled``: the
    log-normal interval of ``lognormal_interval``) and an additive part (``var_additive``: a normal
    interval about 0), combined by the method of variance estimates recovery for a sum (MOVER,
    Zou and Donner 2008): lo = est - sqrt((est - l)^2 + (t sd_add)^2), hi = est + sqrt((h - est)^2 +
    (t sd_add)^2), lo at least 0. The false detections' part (a card's expected false count and its
    rate's error) is additive: its spread is set by the expected false count, not by how many
    cameras the survey holds, so the log scale, which scales it with the estimate, puts it low on
    a survey whose estimate its false detections pushed up (issue 27, docs/estimator.md section 10).
    An estimate of 0 with an additive part gets 0 .. t sd_add. ``df``: the scaled part's degrees of
    freedom, ``df_additive`` the additive part's (default infinite: a Poisson count's and a
    posterior's variance are stated, not estimated). cameras."""
    from scipy.stats import norm, t

    est = np.asarray(est, float)
    df = np.broadcast_to(np.asarray(df, float), est.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        cv = np.where(est > 0, np.sqrt(np.maximum(var_scaled, 0.0)) / est, 0.0)
    l1, h1 = lognormal_interval(est, cv, df, level=level)
    q = 1 - (1 - level) / 2
    df_a = np.broadcast_to(np.asarray(df_additive, float), est.shape)
    quant = np.where(np.isfinite(df_a), t.ppf(q, np.where(np.isfinite(df_a), np.maximum(df_a, 1.0), 1.0)), norm.ppf(q))
    a = quant * np.sqrt(np.maximum(var_additive, 0.0))
    return np.maximum(est - np.hypot(est - l1, a), 0.0), est + np.hypot(h1 - est, a)


def rate_estimate(n_images: np.ndarray, n_hit: np.ndarray, road_km: np.ndarray, *, precision: float,
                  recall: float, metres_per_image: float, sides: float = 2.0, level: float = 0.95
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Estimator (a): cameras (estimate, lo, hi) from ``n_hit`` of ``n_images`` with a detection.

    per road km = rate x precision x (1000 / metres_per_image) x sides / recall; the interval
    is the Clopper-Pearson interval of the rate carried through the same factor.
    """
    from scipy.stats import beta

    n = np.asarray(n_images, dtype=float)
    m = np.asarray(n_hit, dtype=float)
    alpha = 1.0 - level
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(n > 0, m / n, np.nan)
        lo = np.where(m > 0, beta.ppf(alpha / 2, m, n - m + 1), 0.0)
        hi = np.where(m < n, beta.ppf(1 - alpha / 2, m + 1, n - m), 1.0)
    lo, hi = np.where(n > 0, lo, np.nan), np.where(n > 0, hi, np.nan)
    factor = float(precision) * (1000.0 / float(metres_per_image)) * sides / float(recall)
    km = np.asarray(road_km, dtype=float)
    return rate * factor * km, lo * factor * km, hi * factor * km


def garwood_interval(n: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Exact Poisson interval for observed counts ``n``."""
    from scipy.stats import chi2

    n = np.asarray(n, dtype=float)
    alpha = 1.0 - level
    lo = np.where(n > 0, chi2.ppf(alpha / 2, 2 * n) / 2, 0.0)
    hi = chi2.ppf(1 - alpha / 2, 2 * n + 2) / 2
    return np.nan_to_num(lo), hi


# --- step 1: the strip ----------------------------------------------------------------------

def strip_by_class(strip: float | str | dict, *, design: Design, calibration: Calibration | RateCurves,
                   floor: float = STRIP_FLOOR, classes: tuple[str, ...] = CLASSES, camera_sd: float | None = None
                   ) -> tuple[dict[str, float], list[str]]:
    """(half-width per class in metres, warnings) of the strip the estimate speaks for.

    ``strip``: "auto" (per class, where the design's detection function g = pi / max pi falls
    under ``floor``: ``geo.counting.design.strip_from_design``), a number of metres for every
    class, or a dict class -> metres. A fixed width whose edge lies where g < ``floor`` gets one
    warning line: the survey does not speak for cameras that far out. ``camera_sd``: the per-camera
    logit SD of recall (default: the calibration's, ``Calibration.camera_sd``)."""
    notes: list[str] = []
    if isinstance(strip, dict):  # already decided (an auto strip passed on): no warning
        widths = {name: float(strip.get(name, max(strip.values()))) for name in classes}
        if not all(w >= 0 for w in widths.values()) or max(widths.values()) <= 0:
            raise GeoInputError(f"--strip must be a positive number of metres, got {strip}")
        return widths, notes
    profiles = {name: inclusion_by_distance(design, calibration, class_name=name, camera_sd=camera_sd)
                for name in classes}
    if isinstance(strip, str) and strip.strip().lower() == STRIP_AUTO:
        widths = {name: float(np.floor(strip_edge(*profiles[name], floor=floor) * 2.0) / 2.0) for name in classes}
        blind = [name for name, width in widths.items() if width <= 0]
        if blind:
            notes.append(f"the design cannot find {' or '.join(blind)} cameras at any distance (inclusion 0): "
                         "none are estimated")
        return widths, notes
    try:
        width = float(strip)
    except (TypeError, ValueError):
        raise GeoInputError(f"--strip must be 'auto' or a positive number of metres, got {strip}") from None
    widths = {name: width for name in classes}
    if not all(w > 0 for w in widths.values()):
        raise GeoInputError(f"--strip must be a positive number of metres, got {strip}")
    short = []
    for name, width in widths.items():
        d, pi = profiles[name]
        g = float(np.interp(width, d, pi) / pi.max()) if pi.max() > 0 else 0.0
        if g < floor:
            short.append(f"{name} {g:.2f}")
    if short:
        auto = {name: strip_edge(*profiles[name], floor=floor) for name in classes}
        notes.append(f"--strip {_widths_text(widths)}: at its edge the design finds cameras with under {floor:g} of "
                     f"its best inclusion ({', '.join(short)}); the survey does not speak for cameras that far out "
                     f"(--strip auto: {_widths_text(auto)})")
    return widths, notes


def strip_width_of(klass: np.ndarray, widths: dict[str, float]) -> np.ndarray:
    """Half-width (m) of each camera's class (other classes: the widest)."""
    default = max(widths.values()) if widths else 0.0
    return pd.Series(np.asarray(klass, dtype=object)).astype(str).map(widths).fillna(default).to_numpy(float)


def cameras_in_strip(xy: np.ndarray, klass: np.ndarray, streets: gpd.GeoDataFrame,
                     widths: dict[str, float], *, side: str | None = None,
                     distance_m: np.ndarray | None = None) -> np.ndarray:
    """Whether points ``xy`` (m, the streets' CRS) of classes ``klass`` lie within their class's
    strip of ``streets`` (nearest-street distance and flat-ended buffers,
    ``geo.counting.inclusion.in_strip``); ``side`` "left" / "right": a one-sided design's strip
    holds only the side its views look at. ``distance_m``: each point's distance to the nearest
    street when already known (``street_distance``)."""
    out = np.zeros(len(xy), dtype=bool)
    if len(xy) == 0 or len(streets) == 0:
        return out
    dist = street_distance(xy, streets)[0] if distance_m is None else np.asarray(distance_m, float)
    width = strip_width_of(klass, widths)
    for value in np.unique(width):
        rows = np.flatnonzero((width == value) & (dist <= value))
        if value > 0 and len(rows):
            out[rows] = in_strip(xy[rows], streets, strip=float(value), side=side)
    return out


def strip_side(design: Design) -> str | None:
    """The side a one-sided design's strip holds ("left" / "right"), None for both sides."""
    return design.sides if design.sides in ("left", "right") and not design.along else None


def _widths_text(widths: dict[str, float]) -> str:
    values = {round(float(v), 1) for v in widths.values()}
    if len(values) == 1:
        return f"{values.pop():g} m"
    return ", ".join(f"{float(v):.1f} m ({k})" for k, v in widths.items())


# --- step 2: inclusion ----------------------------------------------------------------------

def inclusion_pairs(cam_xy: np.ndarray, tangent: np.ndarray, *, design: Design, images: pd.DataFrame,
                    streets: gpd.GeoDataFrame, buildings: gpd.GeoDataFrame | None = None,
                    location_sd: np.ndarray | None = None, n_shifts: int = DEFAULT_SHIFTS,
                    shift_range: np.ndarray | None = None, camera_sd: float = CAMERA_LOGIT_SD):
    """The camera / view pairs whose detection probabilities make each camera's inclusion
    probability, from the design's randomization: a systematic design's own views shifted over
    one spacing (``geo.counting.inclusion.view_pairs``); a random design's virtual viewpoints
    along every street of ``streets`` (``geo.counting.design.random_design_pairs``).
    ``cam_xy``, ``tangent``: positions (m, the streets' CRS) and street directions;
    ``buildings``: footprints in that CRS (or None); ``location_sd``: SD (m) of each position
    across the street; ``shift_range``: per camera, the (lo, hi) metres along its street that
    the sampler's start moves it over (``geo.counting.inclusion.shift_range_on_streets``;
    default one spacing centred on it); ``camera_sd``: the per-camera logit SD of recall p* averages
    over (the calibration's, ``Calibration.camera_sd``)."""
    if design.random:
        return random_design_pairs(cam_xy, tangent, streets, design, buildings=buildings, location_sd_m=location_sd,
                                   camera_sd=camera_sd)
    views = views_for_inclusion(images, streets.crs, random_sides=design.sides == "random")
    return view_pairs(cam_xy, tangent, views, spacing_m=design.spacing_m, buildings=buildings, n_shifts=n_shifts,
                      location_sd_m=location_sd, shift_range_m=shift_range, camera_sd=camera_sd)


def inclusion_floor(klass: np.ndarray, pi_ref: dict[str, float], *, min_inclusion: float = MIN_INCLUSION
                    ) -> np.ndarray:
    """The small-pi floor of each camera: ``min_inclusion`` x the design's best inclusion for its
    class (``geo.counting.design.reference_inclusion``); at least 1e-4 (a weight of 10,000)."""
    ref = strip_width_of(klass, pi_ref) if len(pi_ref) else np.ones(len(klass))
    return np.maximum(min_inclusion * ref, 1e-4)


# --- step 3: P(real) ------------------------------------------------------------------------

def false_detections_by_bin(detection_conf: np.ndarray, edges: np.ndarray, *, precision: np.ndarray | None = None,
                            false_rate: np.ndarray | None = None, n_images: int = 0) -> np.ndarray:
    """Expected false detections of the survey per confidence bin (``edges``): a held-out
    ``false_rate`` (false detections per image, per bin) x the survey's ``n_images``; else the
    sum over the bin's detections of 1 - ``precision`` (per bin). Not capped at the bin's
    detections: a bin that found fewer than the rate expects passes the rest to the bins above
    (``reality_from_false``), so that the located cameras' P(real) sum to their number less the
    expected false detections, on average the real cameras' number (a cap, like any clip at
    zero, keeps the false detections a low-confidence bin happened to get too many of, and
    drops the shortfall of the surveys that got too few: upward, most at low density)."""
    k = len(edges) - 1
    b = conf_bin(detection_conf, edges)
    if false_rate is not None:
        expected = np.asarray(false_rate, float) * float(n_images)
        if CARRY_FALSE_SHORTFALL:
            return expected
        return np.minimum(expected, np.bincount(b, minlength=k).astype(float))
    return np.bincount(b, 1.0 - np.asarray(precision, float)[b], minlength=k)


def reality_from_false(n_detections: np.ndarray, conf_max: np.ndarray, detection_conf: np.ndarray,
                       false_b: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """P(real) of each located camera from the expected false detections per confidence bin.

    A false box seldom repeats at one place across views, so a bin's false detections are taken
    to be single-detection cameras of that bin: such a camera is real with probability
    1 - false_b / singles_b. Without ``CARRY_FALSE_SHORTFALL`` (on by default) each bin is clipped
    on its own (``_reality_clipped``). With it: where a bin's false detections (with what the bins below passed up)
    outnumber its singles, each single is real with the bin's detection-level precision
    (1 - false / detections, at least 0: a detector whose false boxes repeat at one place), the
    bin's multi-detection cameras take the rest down to that precision at most, and what is
    still left passes to the next bin up (``_spend_false``). The P(real) of all located cameras
    then sum to their number less the expected false detections, unbiased in count, with no
    camera below 0; only a shortfall beyond the top bin is dropped."""
    if not CARRY_FALSE_SHORTFALL:
        return _reality_clipped(n_detections, conf_max, detection_conf, false_b, edges)
    n_det, single, cam_bin, dets_b, singles_b = _bin_counts(n_detections, conf_max, detection_conf, edges)
    multis_b = np.bincount(cam_bin[~single], minlength=len(edges) - 1).astype(float)
    q_single, q_multi = _spend_false(np.asarray(false_b, float), singles_b, multis_b, dets_b)
    return np.where(single, q_single[cam_bin], q_multi[cam_bin])


def _bin_counts(n_detections, conf_max, detection_conf, edges):
    """(detections per camera, single-view flag, camera's bin by its conf_max, detections per bin,
    single-view cameras per bin) for the confidence bins ``edges``."""
    n_det = np.asarray(n_detections, float)
    k = len(edges) - 1
    dets_b = np.bincount(conf_bin(detection_conf, edges), minlength=k).astype(float)
    single = n_det <= 1
    cam_bin = conf_bin(np.asarray(conf_max, float), edges)
    singles_b = np.bincount(cam_bin[single], minlength=k).astype(float)
    return n_det, single, cam_bin, dets_b, singles_b


def _spend_false(false_b: np.ndarray, singles_b: np.ndarray, multis_b: np.ndarray, dets_b: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """(P(real) of a single, of a multi-detection camera) per confidence bin: each bin's expected
    false detections plus what the bins below could not place, spent on its singles first, then
    on its multi-detection cameras down to the bin's detection-level precision; the rest carries
    up (``reality_from_false``)."""
    k = len(false_b)
    q_single, q_multi = np.ones(k), np.ones(k)
    carry = 0.0
    for b in range(k):
        e = float(false_b[b]) + carry
        if e <= singles_b[b]:
            if singles_b[b] > 0:
                q_single[b] = 1.0 - e / singles_b[b]
            carry = 0.0
            continue
        frac = min(e / dets_b[b], 1.0) if dets_b[b] > 0 else 1.0
        q_single[b] = 1.0 - frac
        rest = e - singles_b[b] * frac
        take = min(rest, multis_b[b] * frac)
        if multis_b[b] > 0:
            q_multi[b] = 1.0 - take / multis_b[b]
        carry = rest - take
    return q_single, q_multi


def _reality_clipped(n_detections: np.ndarray, conf_max: np.ndarray, detection_conf: np.ndarray,
                     false_b: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """``reality_from_false`` with each bin clipped on its own: a single is real with probability
    1 - false_b / singles_b clipped to [0, 1]; false detections beyond a bin's singles are spread
    over the multi-detection cameras in proportion to their bin's false share (false_b /
    detections_b at their conf_max), each kept at least at that bin's detection-level precision;
    the rest are real. A bin's shortfall (fewer singles than expected false) is dropped: upward
    where false detections outnumber real ones (issue 27, docs/estimator.md section 9)."""
    n_det, single, cam_bin, dets_b, singles_b = _bin_counts(n_detections, conf_max, detection_conf, edges)
    q = np.ones(len(n_det))
    with np.errstate(divide="ignore", invalid="ignore"):
        frac_b = np.where(dets_b > 0, np.clip(false_b / dets_b, 0.0, 1.0), 0.0)
        # where a bin's false detections outnumber its singles (a detector whose false boxes repeat
        # at one place), each single is real with the bin's detection-level precision, not 0
        overflow = false_b > singles_b
        q_b = np.where(singles_b > 0, np.clip(1.0 - false_b / singles_b, 0.0, 1.0), 1.0)
        q_b = np.where(overflow, 1.0 - frac_b, q_b)
    q[single] = q_b[cam_bin[single]]
    excess = float(np.sum(np.where(overflow, false_b - singles_b * frac_b, 0.0)))
    multi = ~single
    if excess > 0 and multi.any():
        share = frac_b[cam_bin[multi]]
        if share.sum() > 0:
            q[multi] = np.clip(1.0 - excess * share / share.sum(), 1.0 - share, 1.0)
    return q


def real_singles_fit(singles_b: np.ndarray, false_b: np.ndarray, share_b: np.ndarray) -> float:
    """Maximum-likelihood number M of real single-detection cameras of a survey whose singles per
    confidence bin are Poisson(M share_b + false_b): ``false_b`` the expected false detections (a
    card's rate x the survey's images), ``share_b`` how real singles spread over the bins
    (``Calibration.real_share``); cameras, at least 0. The score sum_b S_b share_b / (M share_b +
    false_b) - sum_b share_b falls with M, so a bisection on [0, sum S] finds it."""
    s = np.asarray(singles_b, float)
    e = np.maximum(np.asarray(false_b, float), 0.0)
    a = np.asarray(share_b, float) / max(float(np.sum(share_b)), 1e-300)
    if s.sum() <= 0:
        return 0.0

    def score(m: float) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where((s > 0) & (a > 0), s * a / (m * a + e), 0.0)
        return float(np.sum(terms)) - 1.0

    if not np.any((e <= 0) & (s > 0) & (a > 0)) and score(0.0) <= 0:
        return 0.0
    lo, hi = 0.0, float(s.sum())
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if score(mid) > 0 else (lo, mid)
    return 0.5 * (lo + hi)


def real_false_fit(singles_b: np.ndarray, false_b: np.ndarray, share_b: np.ndarray, *,
                   prior_images: np.ndarray | None = None, n_images: float = 0.0) -> tuple[float, np.ndarray]:
    """(real single-detection cameras M, expected false singles per confidence bin) of a survey
    whose singles per bin are Poisson(M share_b + false_b). Without ``prior_images`` the false
    ones are the card's ``false_b`` (its rate x the survey's images) and M is fitted
    (``real_singles_fit``). With it, each bin's rate per image is also the survey's: a Gamma prior
    of mean false_b / ``n_images`` worth ``prior_images`` images (``Calibration.false_prior``: the
    card's counts, widened by its transfer) updated by the bin's false singles, which EM
    estimates (E: a bin's singles split real / false by their expected shares; M: M is the real
    ones' sum, each rate (prior shape + false) / (prior images + the survey's images)): a survey
    whose low bins hold fewer singles than the card's rate expects learns a lower rate there."""
    s = np.asarray(singles_b, float)
    e = np.maximum(np.asarray(false_b, float), 0.0)
    a = np.asarray(share_b, float) / max(float(np.sum(share_b)), 1e-300)
    m = real_singles_fit(s, e, a)
    if prior_images is None or n_images <= 0 or s.sum() <= 0:
        return m, e
    prior = np.asarray(prior_images, float)
    shape = e / n_images * prior
    m = max(m, 1e-9)
    for _ in range(500):
        total = m * a + e
        with np.errstate(divide="ignore", invalid="ignore"):
            false = np.where(total > 0, s * e / total, 0.0)
        m_new = float(np.sum(s - false))
        e_new = (shape + false) / (prior + n_images) * n_images
        done = abs(m_new - m) < 1e-7 * (1.0 + m) and np.allclose(e_new, e, rtol=1e-7, atol=1e-9)
        m, e = m_new, e_new
        if done:
            break
    return m, e


def reality_by_bin(singles_b: np.ndarray, false_b: np.ndarray, share_b: np.ndarray, *,
                   prior_images: np.ndarray | None = None, n_images: float = 0.0) -> np.ndarray:
    """P(real) of a single-detection camera per confidence bin: M share_b / (M share_b + F_b),
    M the survey's real singles and F_b its expected false ones (``real_false_fit``), made
    non-decreasing in confidence (a bin with few real detections on the card, such as the top
    one, keeps the bin below's); 1 where a bin expects neither."""
    m, e = real_false_fit(singles_b, false_b, share_b, prior_images=prior_images, n_images=n_images)
    a = np.asarray(share_b, float) / max(float(np.sum(share_b)), 1e-300)
    real = m * a
    total = real + e
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(total > 0, real / total, 1.0)
    return np.maximum.accumulate(q)


def reality_response(singles_b: np.ndarray, false_b: np.ndarray, share_b: np.ndarray, **prior
                     ) -> tuple[np.ndarray, np.ndarray]:
    """(P(real) of a single per bin, the same with one more single in bin b: row b), for how far
    one more single camera moves the estimate (``found_response``, ``reality_variance``);
    ``prior``: ``reality_by_bin``'s prior_images and n_images."""
    s = np.asarray(singles_b, float)
    q = reality_by_bin(s, false_b, share_b, **prior)
    plus = np.stack([reality_by_bin(s + np.eye(len(s))[b], false_b, share_b, **prior) for b in range(len(s))])
    return q, plus


def reality_from_rate(n_detections: np.ndarray, conf_max: np.ndarray, false_b: np.ndarray, share_b: np.ndarray,
                      edges: np.ndarray, *, prior_images: np.ndarray | None = None, n_images: float = 0.0
                      ) -> np.ndarray:
    """P(real) of each located camera from a held-out false-detection rate, per confidence bin,
    with no carry across bins: a bin's singles are a mixture of the survey's real singles spread
    over the bins as the card's real detections are (``share_b``; their number fitted to the
    survey's singles of every bin) and its false ones (the card's expectation ``false_b``; with
    ``prior_images``, updated by the survey's own singles: ``real_false_fit``); a single is real
    with the bin's real share of that mixture (``reality_by_bin``). False boxes seldom repeat at
    one place across views, so multi-detection cameras are real. Where the rate is right the
    singles' P(real) sum to the fitted real singles, on average the real ones, and a bin the card
    saw no false detection in is charged none of another bin's (``CARRY_FALSE_SHORTFALL`` spent a
    low bin's shortfall on the bins above: issue 27, docs/estimator.md section 16)."""
    single = np.asarray(n_detections, float) <= 1
    k = len(edges) - 1
    cam_bin = conf_bin(np.asarray(conf_max, float), edges)
    singles_b = np.bincount(cam_bin[single], minlength=k).astype(float)
    q_b = reality_by_bin(singles_b, false_b, share_b, prior_images=prior_images, n_images=n_images)
    return np.where(single, q_b[cam_bin], 1.0)


def camera_reality(n_detections: np.ndarray, conf_max: np.ndarray, detection_conf: np.ndarray,
                   precision_at) -> np.ndarray:
    """P(real) of each located camera from the precision by confidence (``reality_from_false``
    with false_b = sum over the bin's detections of 1 - precision). ``precision_at(conf)`` gives
    the precision at each confidence; its bins' edges are ``precision_at.edges``."""
    edges = precision_at.edges
    b = conf_bin(detection_conf, edges)
    false_b = np.bincount(b, 1.0 - precision_at(np.asarray(detection_conf, float)), minlength=len(edges) - 1)
    return reality_from_false(n_detections, conf_max, detection_conf, false_b, edges)


class _PrecisionAt:
    """precision_at(conf) of a ``RateCurves`` with its bin edges attached."""

    def __init__(self, curves: RateCurves):
        self.curves = curves
        self.edges = curves.conf_edges

    def __call__(self, conf: np.ndarray) -> np.ndarray:
        return self.curves.precision_at(conf)


@dataclass
class StripParts:
    """What the strip estimator needs per located camera inside the strip (``inside``: their
    indices among all located cameras) and the functions that redo the weights.

    ``false_rate``: false detections per image per confidence bin (a held-out calibration's;
    None: P(real) from the precision), with the survey's ``n_images``. ``floor``: the small-pi
    floor, a scalar or one per inside camera (``inclusion_floor``)."""

    inside: np.ndarray
    pair_cam: np.ndarray  # (inside camera, area) pairs: overlapping areas share a camera
    pair_area: np.ndarray
    klass: np.ndarray  # class name per inside camera
    box_m: np.ndarray
    pairs: Any  # geo.counting.inclusion.ViewPairs or geo.counting.design.RandomDesignPairs
    n_detections: np.ndarray  # all located cameras
    conf_max: np.ndarray
    detection_conf: np.ndarray
    floor: Any = MIN_INCLUSION
    n_images: int = 0
    false_rate: np.ndarray | None = None
    cache: dict = field(default_factory=dict, repr=False)
    street: np.ndarray | None = None  # per inside camera: its street (systematic designs: the grid moves with it)
    real_share: np.ndarray | None = None  # with false_rate: real singles' share per bin (``reality_from_rate``)
    false_prior: tuple | None = None  # (shape, images) per bin: the false rate's prior (``Calibration.false_prior``)

    def mixture(self) -> bool:
        """Whether P(real) is the per-bin mixture (``reality_from_rate``), not the carry."""
        return self.false_rate is not None and self.real_share is not None

    def singles_by_bin(self, edges: np.ndarray) -> np.ndarray:
        """The survey's single-detection cameras per confidence bin (``edges``), all of them."""
        single = self.n_detections <= 1
        return np.bincount(conf_bin(self.conf_max[single], edges), minlength=len(edges) - 1).astype(float)

    def expected_false(self) -> np.ndarray:
        """The card's expected false detections per confidence bin: its rate per image x the images."""
        return np.asarray(self.false_rate, float) * float(self.n_images)

    def prior_kw(self) -> dict:
        """``reality_by_bin``'s prior keywords (the survey's false rate learnt from its singles), or none."""
        if self.false_prior is None:
            return {}
        return {"prior_images": np.asarray(self.false_prior[1], float), "n_images": float(self.n_images)}

    def reality(self, curves: RateCurves, *, false_rate: np.ndarray | None = None) -> np.ndarray:
        """P(real) of every located camera (``false_rate`` overrides this survey's rates)."""
        rate = self.false_rate if false_rate is None else false_rate
        if self.mixture():
            return reality_from_rate(self.n_detections, self.conf_max, np.asarray(rate, float) * float(self.n_images),
                                     self.real_share, curves.conf_edges, **self.prior_kw())
        false_b = false_detections_by_bin(self.detection_conf, curves.conf_edges, precision=curves.precision,
                                          false_rate=rate, n_images=self.n_images)
        return reality_from_false(self.n_detections, self.conf_max, self.detection_conf, false_b, curves.conf_edges)

    def weights(self, curves: RateCurves, *, false_rate: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(weight, q, pi floored, pi raw) of the inside cameras under ``curves``."""
        w, q, pi, raw, _, _ = self.weight_parts(curves, false_rate=false_rate)
        return w, q, pi, raw

    def weight_parts(self, curves: RateCurves, *, false_rate: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """(weight, q, pi floored, pi raw, pi spread, p* by grid shift) of the inside cameras under
        ``curves`` (the last two for the encounter variance: ``geo.counting.inclusion.inclusion_parts``)."""
        q = self.reality(curves, false_rate=false_rate)[self.inside]
        pi, raw, spread, by_shift = self.inclusion_of(curves)[0]
        return q / pi, q, pi, raw, spread, by_shift

    def inclusion_of(self, curves: RateCurves) -> tuple[tuple, np.ndarray | None]:
        """(``inclusion_parts`` of the inside cameras, their p* at each location node or None)
        under ``curves``'s recall, computed once per recall curve."""
        key = (np.asarray(curves.recall, float).tobytes(), np.asarray(curves.size_edges, float).tobytes())
        if key not in self.cache:
            self.cache.clear()
            if hasattr(self.pairs, "shift_inclusion"):  # with the recall variance's pair gradient (speed, issue 27)
                by_shift, self.cache["pair_gradient"], self.cache["pair_bins"] = \
                    self.pairs.shift_inclusion_and_gradient(self.box_m, curves.size_edges, curves.recall)
                node = by_shift.mean(axis=2)
                self.cache[key] = (inclusion_parts(node, self.pairs.n_nodes, floor=self.floor, by_shift=by_shift),
                                   node)
            else:
                self.cache[key] = (self.pairs.inclusion_parts(self.box_m, curves.recall_at, floor=self.floor), None)
        return self.cache[key]

    def per_area(self, values: np.ndarray, n_areas: int) -> np.ndarray:
        """Sum of per-inside-camera ``values`` per area."""
        return np.bincount(self.pair_area, np.asarray(values, float)[self.pair_cam], minlength=n_areas)


# --- step 4: totals -------------------------------------------------------------------------

def strip_totals(parts: StripParts, curves: RateCurves, n_areas: int) -> dict[str, np.ndarray]:
    """Horvitz-Thompson totals per area: ``est`` (sum of P(real) / pi, cameras), ``est_<class>``,
    ``n_located`` (located cameras inside the strip), ``n_floored`` (of them at the small-pi
    floor), and the per-camera ``w``, ``q``, ``pi``, ``raw``."""
    w, q, pi, raw, spread, by_shift = parts.weight_parts(curves)
    out = {"est": parts.per_area(w, n_areas), "n_located": parts.per_area(np.ones(len(w)), n_areas),
           "n_floored": parts.per_area((raw < np.asarray(parts.floor)).astype(float), n_areas),
           "w": w, "q": q, "pi": pi, "raw": raw, "pi_spread": spread, "by_shift": by_shift}
    for name in CLASSES:
        out[f"est_{name}"] = parts.per_area(np.where(parts.klass == name, w, 0.0), n_areas)
    return out


# --- step 5: variance -----------------------------------------------------------------------

def reality_variance(parts: StripParts, q: np.ndarray, pi: np.ndarray, curves: RateCurves, n_areas: int, *,
                     fixed_totals: bool) -> np.ndarray:
    """Per-area variance of sum_j (R_j - q_j) / pi_j, R_j whether located camera j is real.

    Single-detection cameras, per confidence bin b with S_b singles (survey-wide) and P(real)
    q_b, c_j = 1 / pi_j for the area's singles inside the strip and 0 for the rest:

    - ``fixed_totals`` (a review of this survey's own detections): how many of the bin's singles
      are real is what the review estimates (its error, with the finite-population correction,
      is the precision term), so only which of them are real is left: for T_b real ones drawn as
      a random subset, Var(sum_j c_j R_j | T_b) = q_b (1 - q_b) S_b / (S_b - 1) sum_j (c_j - c_bar)^2,
      i.e. q_b (1 - q_b) S_b / (S_b - 1) (sum c^2 - (sum c)^2 / S_b).
    - held-out calibration (a model card): the survey's false detections are a new Poisson
      sample, of which P(real) subtracts the expected number E_b = (1 - q_b) S_b. One more false
      single of weight c moves the estimate's error by c - (E_b / S_b) c + E_b c_bar / S_b =
      q_b c + (1 - q_b) c_bar (it also raises the singles over which the expected number is
      spread), so with false weights distributed as the bin's singles' the variance is
      E_b E[(q_b c + (1 - q_b) c_bar)^2] = (1 - q_b) (q_b^2 sum c^2 + (1 - q_b^2) (sum c)^2 / S_b).
      The plain Poisson sum (1 - q_b) sum c^2 leaves out that the subtraction moves with the
      false count: it overstates by (1 - q_b^2) (sum c^2 - (sum c)^2 / S_b), most where false
      singles are many and their weights spread (on truth-only replicates its ratio to the
      measured spread of the false weight's error was 0.9-1.7, mean 1.3; issue 27). The
      calibration's own error is the separate false-detection term.

    Multi-detection cameras keep the Bernoulli term q (1 - q) / pi^2 with a review and the
    Poisson (1 - q) / pi^2 with a card.

    With P(real) from the per-bin mixture (``reality_from_rate``) a false single of weight c moves
    the estimate by own_b c + shift_ab (``mixture_moves``: its bin's P(real) with it, and what it
    does to the area's other singles through the fitted real singles), the bin's expected false
    singles among the area's being (1 - q_b) of them, so the term is
    (1 - q_b) (own_b^2 sum c^2 + 2 own_b shift_ab sum c + shift_ab^2 n_ab); multi-detection
    cameras are real (q = 1). A real single's bin is itself a draw (from the card's real share
    s_b): each single adds q_b pi Var_B(own_B c + shift_aB), B ~ s (the bins' lottery; the found
    variance's (1 - pi) X^2 at the bin drawn holds the other (1 - pi) of it, so that a camera
    surely found still carries the whole lottery)."""
    w = 1.0 / pi
    if parts.mixture() and not fixed_totals:
        return _mixture_reality_variance(parts, w, curves, n_areas)
    single = parts.n_detections[parts.inside] <= 1
    multi = (1 - q) * w ** 2 if not fixed_totals else q * (1 - q) * w ** 2
    k = len(curves.precision)
    all_single = parts.n_detections <= 1
    s_b = np.bincount(conf_bin(parts.conf_max[all_single], curves.conf_edges), minlength=k).astype(float)
    cam_bin = conf_bin(parts.conf_max[parts.inside], curves.conf_edges)
    out = parts.per_area(np.where(single, 0.0, multi), n_areas)
    pair_single = single[parts.pair_cam]
    key = parts.pair_area[pair_single] * k + cam_bin[parts.pair_cam][pair_single]
    wp = w[parts.pair_cam][pair_single]
    sum_w = np.bincount(key, wp, minlength=n_areas * k).reshape(n_areas, k)
    sum_w2 = np.bincount(key, wp ** 2, minlength=n_areas * k).reshape(n_areas, k)
    q_b = np.zeros(k)
    q_b[cam_bin[single]] = q[single]
    with np.errstate(divide="ignore", invalid="ignore"):
        sq_mean = np.where(s_b > 0, sum_w ** 2 / s_b, 0.0)
        if not fixed_totals:
            return out + ((1 - q_b) * (q_b ** 2 * sum_w2 + (1 - q_b ** 2) * sq_mean)).sum(axis=1)
        factor = np.where(s_b > 1, q_b * (1 - q_b) * s_b / np.maximum(s_b - 1, 1), 0.0)
        within = np.maximum(sum_w2 - sq_mean, 0.0)
    return out + (within * factor).sum(axis=1)


def mixture_moves(parts: StripParts, c: np.ndarray, curves: RateCurves, n_areas: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """With P(real) from the per-bin mixture (``reality_from_rate``): (q_b, own_b, shift (areas,
    bins), the area's singles' sum of ``c`` per bin), where one more single of weight c in bin b
    moves area a's estimate by own_b c + shift[a, b]: own_b is bin b's P(real) with it, and the
    shift is what it does to the area's other singles' P(real) through the fitted real singles
    (``reality_response``; c: 1 / pi per inside camera)."""
    edges = curves.conf_edges
    k = len(edges) - 1
    q_b, plus = reality_response(parts.singles_by_bin(edges), parts.expected_false(), parts.real_share,
                                 **parts.prior_kw())
    single = (parts.n_detections <= 1)[parts.inside]
    cam_bin = conf_bin(parts.conf_max[parts.inside], edges)
    pc = parts.pair_cam
    ps = single[pc]
    key = parts.pair_area * k + cam_bin[pc]
    sum_c = np.bincount(key[ps], np.asarray(c, float)[pc][ps], minlength=n_areas * k).reshape(n_areas, k)
    return q_b, np.diag(plus).copy(), sum_c @ (plus - q_b[None, :]).T, sum_c


def reality_by_bin_of(parts: StripParts, curves: RateCurves) -> np.ndarray:
    """P(real) of a single per confidence bin of this survey (``reality_by_bin``, mixture only)."""
    return reality_by_bin(parts.singles_by_bin(curves.conf_edges), parts.expected_false(), parts.real_share,
                          **parts.prior_kw())


def _mixture_reality_variance(parts: StripParts, w: np.ndarray, curves: RateCurves, n_areas: int) -> np.ndarray:
    """``reality_variance`` of a card's false singles under the per-bin mixture (see there)."""
    k = len(curves.conf_edges) - 1
    q_b, own, shift, sum_w = mixture_moves(parts, w, curves, n_areas)
    single = parts.n_detections[parts.inside] <= 1
    cam_bin = conf_bin(parts.conf_max[parts.inside], curves.conf_edges)
    pc = parts.pair_cam
    ps = single[pc]
    key = (parts.pair_area * k + cam_bin[pc])[ps]
    sum_w2 = np.bincount(key, w[pc][ps] ** 2, minlength=n_areas * k).reshape(n_areas, k)
    n_ab = np.bincount(key, minlength=n_areas * k).reshape(n_areas, k).astype(float)
    terms = (1 - q_b) * (own ** 2 * sum_w2 + 2 * own * shift * sum_w + shift ** 2 * n_ab)
    # a real single's confidence bin is a draw from the real share (another survey sees it in another
    # bin): its move own_B c + shift_aB varies with the bin drawn, however surely the camera is found
    share = np.asarray(parts.real_share, float) / float(np.sum(parts.real_share))
    moves = own[None, :] * w[pc][ps][:, None] + shift[parts.pair_area[ps]]
    lottery = (moves ** 2) @ share - (moves @ share) ** 2
    q = reality_by_bin_of(parts, curves)[cam_bin[pc][ps]]
    lottery = q * np.maximum(lottery, 0.0) / w[pc][ps]  # pi Var_B: the found variance's (1 - pi) X^2 has the rest
    return np.maximum(terms, 0.0).sum(axis=1) + np.bincount(parts.pair_area[ps], lottery, minlength=n_areas)


def encounter_variance(parts: StripParts, totals: dict, curves: RateCurves, n_areas: int, *,
                       fixed_totals: bool) -> np.ndarray:
    """Per-area variance of which cameras were detected (``found_variance``) plus which of them
    are real (``reality_variance``); cameras^2."""
    q, pi = totals["q"], np.maximum(totals["pi"], totals.get("pi_spread", totals["pi"]))
    return (found_variance(parts, totals, n_areas, curves=None if fixed_totals else curves)
            + reality_variance(parts, q, pi, curves, n_areas, fixed_totals=fixed_totals))


def found_response(parts: StripParts, q: np.ndarray, pi: np.ndarray, curves: RateCurves, n_areas: int
                   ) -> np.ndarray | None:
    """Per (inside camera, area) pair (``parts.pair_cam``, ``parts.pair_area``): how far the
    area's estimate moves when the camera is found, as a share of its weight 1 / pi; None without
    a card's false rate (every share 1).

    With a card's false rate P(real) spends the bin's expected false detections E_b over its S_b
    single-detection cameras, q_b = 1 - E_b / S_b. One more real single of weight c found in the
    area raises S_b too, so the area's estimate moves by q_b c + (1 - q_b) c_bar (c_bar: the area's
    singles' sum of 1 / pi in the bin over S_b, the survey's singles in it), not by c: the rest of
    c is the expected false detection it takes off the other singles (the same response as a false
    single's, ``reality_variance``). Multi-detection cameras move it by their weight."""
    if parts.false_rate is None or len(parts.pair_cam) == 0:
        return None
    if parts.mixture():  # one more single moves it by own_b c + shift_ab (``mixture_moves``)
        c = 1.0 / pi
        _, own, shift, _ = mixture_moves(parts, c, curves, n_areas)
        cb = conf_bin(parts.conf_max[parts.inside], curves.conf_edges)[parts.pair_cam]
        ps = (parts.n_detections[parts.inside] <= 1)[parts.pair_cam]
        cp = c[parts.pair_cam]
        return np.where(ps, (own[cb] * cp + shift[parts.pair_area, cb]) / cp, 1.0)
    edges = curves.conf_edges
    k = len(edges) - 1
    single_all = parts.n_detections <= 1
    s_b = np.bincount(conf_bin(parts.conf_max[single_all], edges), minlength=k).astype(float)
    single = single_all[parts.inside]
    cam_bin = conf_bin(parts.conf_max[parts.inside], edges)
    c = 1.0 / pi
    pc = parts.pair_cam
    ps = single[pc]
    key = parts.pair_area * k + cam_bin[pc]
    sum_c = np.bincount(key[ps], c[pc][ps], minlength=n_areas * k).reshape(n_areas, k)
    with np.errstate(divide="ignore", invalid="ignore"):
        c_bar = np.where(s_b > 0, sum_c / s_b, 0.0)
    qp = q[pc]
    a = qp * c[pc] + (1.0 - qp) * c_bar[parts.pair_area, cam_bin[pc]]
    return np.where(ps, a / c[pc], 1.0)


def found_variance(parts: StripParts, totals: dict, n_areas: int, *, curves: RateCurves | None = None) -> np.ndarray:
    """Per-area Horvitz-Thompson variance of which cameras were detected, sum q (1 - pi) / pi^2
    over the located cameras (Horvitz and Thompson 1952; Poisson sampling, independent
    inclusions, Sarndal, Swensson and Wretman 1992, sec. 3.5); cameras^2. pi here is the larger of the weight's pi (1 / the
    bias-corrected weight) and p* averaged over the camera's position uncertainty
    (``totals["pi_spread"]``, ``geo.counting.inclusion.inclusion_parts``): the bias correction
    of the weight (``corrected_weight``) fixes 1 / pi, not 1 / pi^2, which at a mislocated
    camera's position would explode, while for a camera located where views see it the average
    over positions its views see less well would inflate the term.

    A systematic design's pi (1 - pi) has two parts: E_grid[p* (1 - p*)], which cameras its
    views find given where the grid fell (independent between cameras), and Var_grid(p*), where
    the grid fell, which all cameras of a street share. The first is summed over the located
    cameras, q E_grid[p* (1 - p*)] / pi^3; the second is the variance over the grid's shifts of
    each street's Horvitz-Thompson sum, Var_k(sum over its located cameras of q p*_k / pi^2)
    (``grid_variance``) with each camera's own term reweighted from 1 / pi^4 to 1 / pi^3 (the
    Horvitz-Thompson estimate of a variance: pairs of cameras by 1 / (pi_i pi_j), a camera by
    1 / pi_i), the realized design's, neither the Poisson sum (cameras placed evenly
    along a street cancel: as many come into the grid's blind spots as leave them) nor nothing
    (a street's few cameras need not cancel).

    With ``curves`` and a card's false rate, a camera moves the estimate by its weight times
    ``found_response`` (a single: q c + (1 - q) c_bar), so its terms are scaled by that share
    (squared in the variance): the 1 / pi^2 of a single whose bin's P(real) is q overstated its
    variance up to 1 / q^2 (issue 27, docs/estimator.md section 11)."""
    q, pi = totals["q"], np.maximum(totals["pi"], totals.get("pi_spread", totals["pi"]))
    ratio = None if curves is None else found_response(parts, q, pi, curves, n_areas)
    pc = parts.pair_cam
    r = np.ones(len(pc)) if ratio is None else ratio

    def by_pair(values: np.ndarray) -> np.ndarray:  # per area, each pair's term times its share squared
        return np.bincount(parts.pair_area, np.asarray(values, float)[pc] * r ** 2, minlength=n_areas)

    by_shift = totals.get("by_shift")
    if by_shift is None or parts.street is None:
        return by_pair(q * (1 - pi) / pi ** 2)
    grid = np.minimum(by_shift.var(axis=1), pi * (1 - pi))
    found = q * (pi * (1 - pi) - grid) / pi ** 3
    # the street sums' variance over the shifts counts each camera's own term with 1 / pi^4; its
    # Horvitz-Thompson estimate weighs it 1 / pi^3 (the pairs' terms keep 1 / (pi_i pi_j))
    own = q ** 2 * grid / pi ** 4 - q * grid / pi ** 3
    terms = (q[:, None] * by_shift / pi[:, None] ** 2)[pc] * r[:, None]
    street = np.maximum(grid_variance(parts, terms, n_areas, by_pair=True) - by_pair(own), 0.0)
    return by_pair(found) + street


def grid_variance(parts: StripParts, terms: np.ndarray, n_areas: int, *, by_pair: bool = False) -> np.ndarray:
    """Per area, the sum over streets of the variance over the grid's shifts of the street's
    sum of ``terms`` (inside cameras x shifts; with ``by_pair``, (camera, area) pairs x shifts):
    a street's grid moves all its cameras at once."""
    if len(parts.pair_cam) == 0:
        return np.zeros(n_areas)
    if not by_pair:
        terms = terms[parts.pair_cam]
    street = parts.street[parts.pair_cam]
    _, group = np.unique(parts.pair_area.astype(np.int64) * (int(street.max()) + 2) + street + 1, return_inverse=True)
    area_of = np.zeros(group.max() + 1, np.int64)
    area_of[group] = parts.pair_area
    sums = np.stack([np.bincount(group, terms[:, k], minlength=group.max() + 1)
                     for k in range(terms.shape[1])], axis=1)
    return np.bincount(area_of, sums.var(axis=1), minlength=n_areas)



def false_detection_variance(parts: StripParts, cal: Calibration, curves: RateCurves, pi: np.ndarray,
                             n_areas: int) -> tuple[np.ndarray, np.ndarray]:
    """(per-area variance, finite-population correction per bin) from the calibration's error on
    P(real): each confidence bin's false-detection rate (Gamma posterior SD) or precision (Beta
    posterior SD, times the finite-population correction 1 - n_b / N_b for a review of this
    survey's own detections, ``Calibration.precision_fpc``) moved by one SD either way, the
    estimate's central difference squared (delta method); cameras^2."""
    survey_n = np.bincount(conf_bin(parts.detection_conf, curves.conf_edges), minlength=len(curves.precision))
    var = np.zeros(n_areas)
    if parts.mixture() and parts.false_prior is not None:
        return _mixture_rate_variance(parts, cal, curves, pi, n_areas), np.ones(len(survey_n))
    if parts.false_rate is not None:
        shape, rate = cal.false_rate_gamma()
        rates, sd = parts.false_rate, np.sqrt(shape) / rate
        fpc = np.ones(len(rates))
        lower = 0.0
    else:
        a, b = cal.precision_beta()
        rates, sd = curves.precision, np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        fpc = cal.precision_fpc(survey_n)
        lower = 1e-4
    for j in range(len(rates)):
        hi_r = rates[j] + sd[j] if parts.false_rate is not None else min(rates[j] + sd[j], 1.0)
        lo_r = max(rates[j] - sd[j], lower)
        if hi_r <= lo_r:
            continue
        ests = []
        for value in (hi_r, lo_r):
            moved = rates.copy()
            moved[j] = value
            if parts.false_rate is not None:
                q_all = parts.reality(curves, false_rate=moved)
            else:
                q_all = parts.reality(RateCurves(curves.conf_edges, moved, curves.size_edges, curves.recall))
            ests.append(parts.per_area(q_all[parts.inside] / pi, n_areas))
        var += fpc[j] * ((ests[0] - ests[1]) / (hi_r - lo_r) * sd[j]) ** 2
    return var, fpc


def _mixture_rate_variance(parts: StripParts, cal: Calibration, curves: RateCurves, pi: np.ndarray, n_areas: int
                           ) -> np.ndarray:
    """``false_detection_variance`` of P(real) from the per-bin mixture with the survey's rate
    learnt (``real_false_fit``): a survey's false-detection rate strays from the card's by the
    card's counting error (each bin's Gamma, relative variance 1 / shape, independent) and its
    transfer (one log shift of every bin, SD ``Calibration.false_level_sd``); its false singles
    then exceed their Poisson spread, and each moves the area's estimate by own_b c + shift_ab
    (``mixture_moves``, the rate's update included). Per area: sum_b (E_b / S_b)^2 v_b
    (own_b C_ab + n_ab shift_ab)^2 + tau^2 (sum_b E_b / S_b (own_b C_ab + n_ab shift_ab))^2, E_b the
    card's expected false singles of bin b (rate x images), S_b the survey's singles, C_ab and n_ab
    the area's singles' sum of 1 / pi and number; cameras^2."""
    k = len(curves.conf_edges) - 1
    c = 1.0 / np.asarray(pi, float)
    _, own, shift, sum_c = mixture_moves(parts, c, curves, n_areas)
    s_b = parts.singles_by_bin(curves.conf_edges)
    single = (parts.n_detections <= 1)[parts.inside]
    cam_bin = conf_bin(parts.conf_max[parts.inside], curves.conf_edges)
    pc = parts.pair_cam
    ps = single[pc]
    n_ab = np.bincount((parts.pair_area * k + cam_bin[pc])[ps], minlength=n_areas * k).reshape(n_areas, k)
    expected = parts.expected_false()
    with np.errstate(divide="ignore", invalid="ignore"):
        move = np.where(s_b > 0, expected / s_b, 0.0) * (own * sum_c + n_ab * shift)  # (areas, bins)
    shape = cal.false_rate_gamma()[0]
    return (move ** 2 / shape).sum(axis=1) + cal.false_level_sd() ** 2 * move.sum(axis=1) ** 2


def recall_variance(parts: StripParts, cal: Calibration, curves: RateCurves, totals: dict, n_areas: int
                    ) -> np.ndarray:
    """Per-area variance from the recall by size: d pi / d recall_b (exact for a systematic
    design, ``geo.counting.inclusion.inclusion_gradient``; central differences for a random one)
    times each size bin's Beta posterior SD, through w = q / pi; cameras^2."""
    return recall_variance_parts(recall_slopes(parts, curves, totals, n_areas), cal, curves)[0]


def recall_variance_parts(slopes: np.ndarray, cal: Calibration, curves: RateCurves
                          ) -> tuple[np.ndarray, np.ndarray]:
    """(bins, transfer) per area from ``recall_slopes``: each size bin's Beta posterior SD
    (independent bins), and the card's transfer to the survey, one logit shift of every bin at
    once with SD ``Calibration.recall_level_sd`` (``geo.counting.calibration.transfer_variance``;
    0 for a review or a survey's own fit); cameras^2."""
    a, b = cal.recall_beta()
    sd = np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    bins = ((slopes * sd) ** 2).sum(axis=1)
    level = cal.recall_level_sd()
    return bins, (transfer_variance(slopes, curves.recall, level) if level > 0 else np.zeros(len(bins)))


def recall_slopes(parts: StripParts, curves: RateCurves, totals: dict, n_areas: int) -> np.ndarray:
    """(areas, size bins): d estimate / d recall_b per area, through w = q / pi (see
    ``recall_variance``); cameras per unit recall."""
    q, pi, raw = totals["q"], totals["pi"], totals["raw"]
    if hasattr(parts.pairs, "vpoint"):  # a random design: gradient of the floored / corrected pi
        grad = inclusion_gradient_numeric(parts.pairs, parts.box_m, curves.size_edges, curves.recall,
                                          floor=parts.floor)
        free = np.ones(len(raw), bool)
    else:
        node = parts.inclusion_of(curves)[1]  # (its pair gradient cached with it: speed, issue 27)
        grad = inclusion_gradient(parts.pairs, parts.box_m, curves.size_edges, curves.recall, floor=parts.floor,
                                  node=node, pair_gradient=parts.cache.get("pair_gradient"),
                                  pair_bins=parts.cache.get("pair_bins"))
        free = raw >= np.asarray(parts.floor) if parts.pairs.n_nodes == 1 else np.ones(len(raw), bool)
    dw = np.where(free[:, None], -q[:, None] / pi[:, None] ** 2 * grad, 0.0)
    return np.stack([parts.per_area(dw[:, j], n_areas) for j in range(dw.shape[1])], axis=1).reshape(n_areas, -1)


def transfer_profile(parts: StripParts, cal: Calibration, curves: RateCurves, totals: dict, n_areas: int, *,
                     level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """(down, up) per area: the card's transfer to the survey (one logit shift u ~ N(0, sd^2) of
    every recall bin, sd ``Calibration.recall_level_sd``) as the variances (cameras^2) that put
    the log-normal interval's ends, from this term alone, where the estimate itself goes at the
    level's ends: est(u = +z sd) (recall higher, the estimate lower) and est(u = -z sd), z the
    normal quantile of ``level``. The estimate is convex in u (a camera seen at a recall near 1
    keeps a weight near 1 as u rises, and gains weight fast as it falls), so the delta method
    (``transfer_variance``) understates the upper end where the shift is large (issue 27,
    docs/estimator.md 17). P(real) does not move with recall; pi is recomputed at each end."""
    from scipy.special import expit, logit
    from scipy.stats import norm

    sd = cal.recall_level_sd()
    z = float(norm.ppf(0.5 + level / 2.0))
    est = totals["est"]
    r = np.clip(np.asarray(curves.recall, float), 1e-9, 1.0 - 1e-9)
    ends = []
    for u in (z * sd, -z * sd):
        shifted = replace(curves, recall=expit(logit(r) + u))
        pi_u = parts.pairs.inclusion_parts(parts.box_m, shifted.recall_at, floor=parts.floor)[0]
        ends.append(parts.per_area(totals["q"] / pi_u, n_areas))
    with np.errstate(divide="ignore", invalid="ignore"):
        down = np.where((est > 0) & (ends[0] > 0), np.log(np.maximum(est, 1e-300) / np.maximum(ends[0], 1e-300)), 0.0)
        up = np.where((est > 0) & (ends[1] > 0), np.log(np.maximum(ends[1], 1e-300) / np.maximum(est, 1e-300)), 0.0)
    cv_down, cv_up = np.maximum(down, 0.0) / z, np.maximum(up, 0.0) / z
    # a log-normal's cv^2 = exp(s^2) - 1 for a log SD s: the variance that lognormal_interval turns back into s
    return (est ** 2 * np.expm1(cv_down ** 2), est ** 2 * np.expm1(cv_up ** 2))


def strip_variance(parts: StripParts, cal: Calibration, n_areas: int, *, level: float = 0.95) -> dict[str, np.ndarray]:
    """Per-area point estimate (``strip_totals``) and variance components (cameras^2):
    ``var_encounter`` (``encounter_variance``), ``var_precision`` (``false_detection_variance``)
    and ``var_recall`` (``recall_variance``, with the card's transfer to the survey, also alone as
    ``var_transfer``: ``recall_variance_parts``; with ``TRANSFER_PROFILE`` and a card, also
    ``var_transfer_down`` / ``var_transfer_up``, the transfer at the estimate's values at the
    level's ends, ``transfer_profile``, and ``var_recall_bins``, the bins' Beta part alone), with
    the estimate by class, ``n_sure`` (the located cameras surely real at ``level``, ``sure_real``)
    and how many cameras the small-pi floor applied to."""
    curves = cal.curves()
    totals = strip_totals(parts, curves, n_areas)
    out = {k: v for k, v in totals.items() if k not in ("w", "q", "pi", "raw", "pi_spread", "by_shift")}
    q, pi = totals["q"], np.maximum(totals["pi"], totals.get("pi_spread", totals["pi"]))
    out["var_reality"] = reality_variance(parts, q, pi, curves, n_areas, fixed_totals=cal.sampled_survey())
    out["var_encounter"] = found_variance(parts, totals, n_areas,
                                          curves=None if cal.sampled_survey() else curves) + out["var_reality"]
    out["var_precision"], out["fpc"] = false_detection_variance(parts, cal, curves, totals["pi"], n_areas)
    # the card's transfer to this survey is part of the recall's term (issue 27, docs/estimator.md 14)
    bins, out["var_transfer"] = recall_variance_parts(recall_slopes(parts, curves, totals, n_areas), cal, curves)
    if TRANSFER_PROFILE and cal.recall_level_sd() > 0:  # the estimate at the level's ends (docs/estimator.md 17)
        out["var_transfer_down"], out["var_transfer_up"] = transfer_profile(parts, cal, curves, totals, n_areas,
                                                                            level=level)
    out["var_recall"] = bins + out["var_transfer"]
    out["var_recall_bins"] = bins
    out["n_sure"] = sure_real(parts, curves, cal, n_areas, level=level)
    return out


# --- step 6: interval -----------------------------------------------------------------------

def strip_interval(parts: dict[str, np.ndarray], cal: Calibration, *, level: float = 0.95
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lo, hi, cv, df) per area: log-normal interval of the variance components with Satterthwaite
    df. The encounter (which cameras were detected, and which of them are real) is a variance
    estimated from the survey's own located cameras and their weights: located cameras - 1 df. The
    false rate's or precision's and recall's terms are a Gamma or Beta posterior's SD, which already
    carries how few counts it rests on: infinite df. (Their counts less bins as df, as before, took
    t quantiles of 4 df for the shipped card's 6 false detections and widened the card's intervals
    by up to a fifth where its rate's error was most of the variance: issue 27, docs/estimator.md
    section 11.) The total's df serves both parts of a card's interval. With a held-out
    false-detection rate (a model card) the false detections' part (``var_reality``, and
    ``var_precision``) is additive and joins the log-normal interval of the rest by
    ``interval_additive_part``; the card's transfer then enters each end with its own side
    (``var_transfer_down`` for the lower, ``var_transfer_up`` for the upper) where
    ``strip_variance`` gave them."""
    est = parts["est"]
    reality = parts.get("var_reality", np.zeros(len(est)))
    found = np.maximum(parts["var_encounter"] - reality, 0.0)
    comps = np.stack([found, reality, parts["var_precision"], parts["var_recall"]], axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        cvs = np.where(est[:, None] > 0, np.sqrt(comps) / est[:, None], 0.0)
    n_df = np.maximum(parts["n_located"] - 1, 1)
    dfs = np.stack([n_df, n_df] + [np.full(len(est), np.inf)] * 2, axis=-1)
    df = satterthwaite_df(cvs, dfs)
    cv = np.sqrt(np.sum(cvs ** 2, axis=-1))
    if not cal.uses_false_rate() or "var_reality" not in parts:
        lo, hi = lognormal_interval(est, cv, df, level=level)
        return lo, hi, cv, df
    # a card's false detections: their Poisson count and their rate's error are additive (MOVER)
    additive = reality + parts["var_precision"]
    scaled = found + parts["var_recall"]
    lo, hi = interval_additive_part(est, scaled, additive, df, level=level, df_additive=df)
    if "var_transfer_down" in parts:  # the transfer's own ends at each side (``transfer_profile``)
        bins = parts["var_recall_bins"]
        lo = interval_additive_part(est, found + bins + parts["var_transfer_down"], additive, df, level=level,
                                    df_additive=df)[0]
        hi = interval_additive_part(est, found + bins + parts["var_transfer_up"], additive, df, level=level,
                                    df_additive=df)[1]
    return lo, hi, cv, df


def sure_real(parts: StripParts, curves: RateCurves, cal: Calibration, n_areas: int, *, level: float = 0.95
              ) -> np.ndarray:
    """Per area, the located cameras inside the strip that are surely real: whose P(real) is at
    least 1 - (1 - ``level``) / 2 even at the card's false rate raised to its Gamma posterior's
    upper (1 + ``level``) / 2 quantile, or, if more, the lower (1 - ``level``) / 2 quantile of how
    many are real, each with its P(real) at that rate (a normal approximation, rounded down;
    cameras). A lower bound of the cameras in the strip, under
    which an interval's lower end need not go: a card's MOVER interval can reach 0 though several
    cameras were located, which reads as "maybe none" (issue 27). Multi-detection cameras are
    real to P(real) unless a bin's false detections outnumber its singles; a single in a bin whose
    expected false detections are a small share of its singles is sure too. Only with a card's
    false rate; else 0 (a review's log-normal interval keeps a lower end above 0)."""
    from scipy.stats import gamma, norm

    if parts.false_rate is None or not cal.uses_false_rate():
        return np.zeros(n_areas)
    shape = float(np.sum(cal.false_rate_gamma()[0]))
    p_level = 1 - (1 - level) / 2
    raised = np.asarray(parts.false_rate, float) * float(gamma.ppf(p_level, shape) / shape)
    q_hi = parts.reality(curves, false_rate=raised)[parts.inside]
    sure = parts.per_area((q_hi >= p_level - 1e-12).astype(float), n_areas)
    # and the lower quantile of how many of them are real, each with that P(real) (normal, whole cameras)
    mean, var = parts.per_area(q_hi, n_areas), parts.per_area(q_hi * (1 - q_hi), n_areas)
    some = np.floor(mean - norm.ppf(p_level) * np.sqrt(var) + 1e-9)
    return np.maximum(sure, np.maximum(some, 0.0))


def interval_with_zero_bound(est: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_located: np.ndarray,
                             curves: RateCurves, *, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """(lo, hi) per area, where an area with no located camera gets 0 and the Poisson (Garwood)
    upper bound of a zero count carried by the weight of a camera seen once at the best recall."""
    n_cam = np.round(n_located).astype(np.int64)
    _, g_hi = garwood_interval(n_cam, level)
    empty_weight = 1.0 / max(float(curves.recall.max()), 1e-3)
    est_lo = np.where(est > 0, lo, 0.0)
    # an estimate of 0 keeps a finite upper end (its false detections' additive part; else 0)
    est_hi = np.where(est > 0, hi, np.where(np.isfinite(hi), hi, 0.0))
    return est_lo, np.where(n_cam == 0, np.maximum(est_hi, g_hi * empty_weight), est_hi)


# --- per-area table -------------------------------------------------------------------------

def density_from_tables(
    areas: gpd.GeoDataFrame,
    *,
    cameras: gpd.GeoDataFrame,
    detections: pd.DataFrame,
    images: pd.DataFrame,
    points: pd.DataFrame,
    streets: gpd.GeoDataFrame,
    calibration: Calibration | dict | None = None,
    precision: float | None = None,
    recall: float | None = None,
    strip: float | str | dict = STRIP_AUTO,
    design: Design | None = None,
    buildings: gpd.GeoDataFrame | None = None,
    metres_per_point: float = 20.0,
    n_shifts: int = DEFAULT_SHIFTS,
    random_sides: bool = False,
    metres_per_image: float | None = None,
    truth: gpd.GeoDataFrame | None = None,
    osm: gpd.GeoDataFrame | None = None,
    population: np.ndarray | None = None,
    level: float = 0.95,
    surveyed: gpd.GeoDataFrame | None = None,
    parts_out: dict | None = None,
) -> gpd.GeoDataFrame:
    """Density per area (EPSG:4326 GeoDataFrame with ``AREA_COLUMNS``).

    ``areas``: area_id, name, polygons (any CRS). ``cameras``: from ``geo.counting.locate`` (lon, lat,
    n_detections, conf_max, class_name). ``detections``: image_id, conf (those the cameras come
    from). ``images``: image_id, point_id, status, lon, lat, heading, fov, width, height.
    ``points``: point_id, street_id, lon, lat. ``streets``: projected (metres), street_id: the
    network the points were drawn from. ``calibration``: the shared calibration dict or a
    ``Calibration`` (default: from scalar ``precision``/``recall`` with ``NOMINAL_N``, or 1.0).
    ``strip``: half-width (m) of the strip that is estimated, per class as a dict, or "auto"
    (``strip_by_class``). ``design``: the survey's ``geo.counting.design.Design`` (default: a
    systematic one every ``metres_per_point`` metres, one random side per point when
    ``random_sides``); a random design estimates the strip along every street of ``streets``.
    ``buildings``: footprints (any CRS) that block sight lines. ``metres_per_point``: road length
    one sampled point stands for (the spacing); ``n_shifts``: positions over one spacing that a
    camera's inclusion is averaged over. ``metres_per_image``: roadside one image sees, for
    estimator (a). ``population``: people per area (same order as ``areas``) or None.
    ``surveyed``: the surveyed street pieces (default ``geo.counting.inclusion.surveyed_streets``;
    all of ``streets`` for a random design). ``parts_out``: filled with the whole computation's
    parts (for the report and tests), its ``warnings`` included.
    """
    cal = _calibration(calibration, precision, recall)
    curves = cal.curves()
    if design is None:
        design = Design(method="systematic", spacing_m=float(metres_per_point),
                        sides="random" if random_sides else "both")
    widths, notes = strip_by_class(strip, design=design, calibration=curves, camera_sd=cal.camera_sd)
    pi_ref = {name: float(inclusion_by_distance(design, curves, class_name=name, camera_sd=cal.camera_sd)[1].max())
              for name in CLASSES}
    crs = streets.crs
    areas_m = areas.to_crs(crs).reset_index(drop=True)
    n_areas = len(areas_m)
    tree = shapely.STRtree(areas_m.geometry.to_numpy())
    if surveyed is None:
        surveyed = streets[["street_id", "geometry"]] if design.random else \
            surveyed_streets(streets, points, images, metres_per_point=metres_per_point)
    units = road_per_area(areas_m, tree, streets=streets, points=points, images=images,
                          metres_per_point=metres_per_point, whole=design.random)
    counts = counts_per_area(tree, n_areas, crs=crs, points=points, images=images, detections=detections,
                             calibration=cal)
    parts = strip_parts(tree, cameras=cameras, used=counts["used"], images=images, streets=streets,
                        surveyed=surveyed, widths=widths, design=design, pi_ref=pi_ref, buildings=buildings,
                        n_shifts=n_shifts, calibration=cal, n_images=counts["n_ok_images"])
    comp = strip_variance(parts, cal, n_areas, level=level)
    lo, hi, cv, df = strip_interval(comp, cal, level=level)
    # a lower end no lower than the located cameras that are surely real (MOVER's can reach 0)
    lo = np.maximum(lo, comp["n_sure"])
    est_lo, est_hi = interval_with_zero_bound(comp["est"], lo, hi, comp["n_located"], curves, level=level)
    # estimator (a), with the calibration's overall precision and recall
    summary = calibration_summary(cal, conf=parts.detection_conf, n_images=counts["n_ok_images"])
    if metres_per_image is None:
        metres_per_image = seen_metres_per_image(cameras, streets, images, metres_per_point=metres_per_point,
                                                 recall=summary["recall"])
    truth_strip, truth_all, truth_seen = truth_counts(truth, tree, n_areas, crs=crs, surveyed=surveyed,
                                                      widths=widths, side=strip_side(design))
    table = density_table(areas_m, units, counts, comp, (est_lo, est_hi, cv), widths=widths, summary=summary,
                          metres_per_image=metres_per_image, population=population, level=level,
                          truth=(truth_strip, truth_all, truth_seen), osm=_count_in(osm, tree, crs, n_areas))
    out = gpd.GeoDataFrame(table[AREA_COLUMNS], geometry=areas.reset_index(drop=True).geometry.to_numpy(),
                           crs=areas.crs).to_crs(4326)
    check_frame(out, DENSITY, what="density table")
    out.attrs["metres_per_image"] = float(metres_per_image)
    if parts_out is not None:
        parts_out.update(parts=parts, components=comp, calibration=cal, summary=summary, df=df, cv=cv,
                         per_road_km_se_r2=_per_road_km_se_r2(parts, cameras, surveyed, units, curves),
                         n_floored=int(comp["n_floored"].sum()), n_inside=int(len(parts.inside)),
                         n_outside=int(len(cameras) - len(parts.inside)), strip_m=widths, design=design,
                         pi_ref=pi_ref, surveyed=surveyed, warnings=notes)
    return out


def density_table(areas_m: gpd.GeoDataFrame, units: pd.DataFrame, counts: dict, comp: dict, interval: tuple, *,
                  widths: dict[str, float], summary: dict, metres_per_image: float, population, level: float,
                  truth: tuple, osm: np.ndarray) -> pd.DataFrame:
    """The per-area table (``AREA_COLUMNS``, areas in metres): the strip estimate (``comp``, its
    (lo, hi, cv) ``interval``), estimator (a) from the ``counts`` and the calibration ``summary``,
    lengths from ``units``, densities, and the truth (in the strip, all, seen) and OSM counts."""
    n_areas = len(areas_m)
    est = comp["est"]
    est_lo, est_hi, cv = interval
    road_m = np.bincount(units["area"], units["road_m"], n_areas)
    surveyed_m = np.bincount(units["area"], units["surveyed_m"], n_areas)
    road_km = road_m / 1000.0
    surveyed_km = np.minimum(surveyed_m, np.where(road_m > 0, road_m, surveyed_m)) / 1000.0
    rate_est, rate_lo, rate_hi = rate_estimate(counts["n_images"], counts["n_hit"], road_km,
                                               precision=summary["precision"], recall=summary["recall"],
                                               metres_per_image=metres_per_image, level=level)
    area_km2 = shapely.area(areas_m.geometry.to_numpy()) / 1e6
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame({
            "area_id": areas_m["area_id"].astype(str).to_numpy(),
            "name": areas_m["name"].astype(str).to_numpy() if "name" in areas_m else areas_m["area_id"].astype(str),
            "strip_m": float(max(widths.values())),
            "strip_directed_m": float(widths.get("directed", max(widths.values()))),
            "strip_dome_m": float(widths.get("dome", max(widths.values()))),
            "road_km": road_km,
            "surveyed_km": surveyed_km,
            "area_km2": area_km2,
            "n_images": counts["n_images"],
            "n_detections": counts["n_det"],
            "n_cameras": np.round(comp["n_located"]).astype(np.int64),
            "est_cameras": est,
            "est_lo": est_lo,
            "est_hi": est_hi,
            "est_cv": np.where(est > 0, cv, np.nan),
            "est_directed": comp["est_directed"],
            "est_dome": comp["est_dome"],
            "var_share_encounter": _share(comp, "var_encounter"),
            "var_share_precision": _share(comp, "var_precision"),
            "var_share_recall": _share(comp, "var_recall"),
            "per_road_km": np.where(surveyed_km > 0, est / surveyed_km, np.nan),
            "per_road_km_lo": np.where(surveyed_km > 0, est_lo / surveyed_km, np.nan),
            "per_road_km_hi": np.where(surveyed_km > 0, est_hi / surveyed_km, np.nan),
            "per_km2": np.where(area_km2 > 0, est / area_km2, np.nan),
            "population": population if population is not None else np.nan,
            "per_1000_people": (np.where(population > 0, est / population * 1000.0, np.nan)
                                if population is not None else np.nan),
            "rate_est_cameras": rate_est,
            "rate_est_lo": rate_lo,
            "rate_est_hi": rate_hi,
            "rate_per_road_km": np.where(road_km > 0, rate_est / road_km, np.nan),
            "truth_cameras": truth[0],
            "truth_all_cameras": truth[1],
            "truth_seen_cameras": truth[2],
            "osm_cameras": osm,
        })


def truth_counts(truth: gpd.GeoDataFrame | None, tree: shapely.STRtree, n_areas: int, *, crs,
                 surveyed: gpd.GeoDataFrame, widths: dict[str, float], side: str | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True cameras per area (simulated surveys; NaN without ``truth``): inside the strip per
    class (exactly the estimand, ``truth_in_strip``), all, and those some image shows."""
    if truth is None:
        return (np.full(n_areas, np.nan),) * 3
    inside = truth_in_strip(truth, surveyed, strip=widths, side=side)
    return (_count_in(truth[inside], tree, crs, n_areas), _count_in(truth, tree, crs, n_areas),
            _count_in(_seen(truth), tree, crs, n_areas))


def road_per_area(areas_m: gpd.GeoDataFrame, tree: shapely.STRtree, *, streets: gpd.GeoDataFrame,
                  points: pd.DataFrame, images: pd.DataFrame, metres_per_point: float, whole: bool = False
                  ) -> pd.DataFrame:
    """Road and surveyed length per (area, street): ``area``, ``street_id``, ``road_m``,
    ``surveyed_m`` (metres). Each point with ok images stands for ``metres_per_point`` (its share
    of the design's views); ``whole`` (a random design): the whole network is surveyed."""
    geoms = areas_m.geometry.to_numpy()
    si, ai = _pairs(tree, streets.geometry.to_numpy(), "intersects")
    piece_len = shapely.length(shapely.intersection(streets.geometry.to_numpy()[si], geoms[ai]))
    units = pd.DataFrame({"area": ai, "street_id": streets["street_id"].to_numpy()[si], "road_m": piece_len})
    units = units.groupby(["area", "street_id"], as_index=False)["road_m"].sum()
    imgs = images.copy()
    imgs["ok"] = (imgs["status"].fillna("ok") == "ok") if "status" in imgs.columns else True
    pts = pd.DataFrame(points[["point_id", "street_id", "lon", "lat"]]).drop_duplicates("point_id")
    if "point_id" in imgs.columns and len(imgs):
        per_point = imgs.groupby("point_id").agg(n_views=("ok", "size"), n_ok=("ok", "sum"))
        design = max(1, int(per_point["n_views"].max()))
        pts = pts.merge(per_point, left_on="point_id", right_index=True, how="left").fillna({"n_ok": 0})
        pts["cover"] = np.minimum(1.0, pts["n_ok"].to_numpy(float) / design)
    else:
        pts["cover"] = 0.0
    pxy = xy_from_lonlat(pts["lon"], pts["lat"], streets.crs)
    pi_, pa = _point_pairs(tree, shapely.points(pxy))
    cover = pd.DataFrame({"area": pa, "street_id": pts["street_id"].to_numpy()[pi_],
                          "cover_m": pts["cover"].to_numpy()[pi_] * metres_per_point})
    cover = cover.groupby(["area", "street_id"], as_index=False)["cover_m"].sum()
    units = units.merge(cover, on=["area", "street_id"], how="outer").fillna(0.0)
    if whole:
        units["surveyed_m"] = units["road_m"]
    else:
        units["surveyed_m"] = np.minimum(units["cover_m"], np.where(units["road_m"] > 0, units["road_m"],
                                                                    units["cover_m"]))
    units["area"] = units["area"].astype(np.int64)
    return units


def counts_per_area(tree: shapely.STRtree, n_areas: int, *, crs, points: pd.DataFrame, images: pd.DataFrame,
                    detections: pd.DataFrame, calibration: Calibration) -> dict:
    """Images with imagery, detections and images with a detection per area (through their
    points; ``tree`` of the areas in ``crs``), the ``used`` detections (at or above the
    calibration's threshold, on ok images) and the survey's ok images (``n_ok_images``)."""
    imgs = images.copy()
    imgs["ok"] = (imgs["status"].fillna("ok") == "ok") if "status" in imgs.columns else True
    pts = pd.DataFrame(points[["point_id", "street_id", "lon", "lat"]]).drop_duplicates("point_id")
    pxy = xy_from_lonlat(pts["lon"], pts["lat"], crs)
    pi_, pa = _point_pairs(tree, shapely.points(pxy))
    point_area = pd.DataFrame({"point_id": pts["point_id"].to_numpy()[pi_], "area": pa})
    ok_imgs = imgs[imgs["ok"]] if len(imgs) else imgs
    img_area = ok_imgs[["image_id", "point_id"]].merge(point_area, on="point_id") if "point_id" in ok_imgs else \
        pd.DataFrame({"image_id": [], "area": []})
    n_images = np.bincount(img_area["area"].to_numpy(np.int64), minlength=n_areas)
    used = _used_detections(detections, calibration)
    if len(ok_imgs):  # isin by pyarrow's hash lookup (speed, issue 27: 0.5 -> 0.08 s at 1M detections)
        used = used[_isin(used["image_id"], pd.unique(ok_imgs["image_id"]))]
    else:
        used = used.iloc[:0]
    det_area = used[["image_id"]].merge(img_area[["image_id", "area"]], on="image_id")
    n_det = np.bincount(det_area["area"].to_numpy(np.int64), minlength=n_areas)
    hit_area = det_area.drop_duplicates(["image_id", "area"])
    n_hit = np.bincount(hit_area["area"].to_numpy(np.int64), minlength=n_areas)
    n_ok = int(ok_imgs["image_id"].nunique()) if len(ok_imgs) else 0
    return {"n_images": n_images, "n_det": n_det, "n_hit": n_hit, "used": used, "n_ok_images": n_ok}


def _isin(values: pd.Series, among: np.ndarray) -> np.ndarray:
    """Whether each of ``values`` is one of ``among`` (pyarrow's hash lookup; pandas' index where
    pyarrow cannot compare the two)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        left, right = pa.array(values), pa.array(among)
        if left.type == right.type:  # (pyarrow would cast one type to the other)
            return pc.is_in(left, value_set=right, skip_nulls=False).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        pass
    return pd.Index(among).get_indexer(values) >= 0


def strip_parts(tree: shapely.STRtree, *, cameras: gpd.GeoDataFrame, used: pd.DataFrame, images: pd.DataFrame,
                streets: gpd.GeoDataFrame, surveyed: gpd.GeoDataFrame, widths: dict[str, float], design: Design,
                pi_ref: dict[str, float], buildings: gpd.GeoDataFrame | None, n_shifts: int,
                calibration: Calibration, n_images: int) -> StripParts:
    """The located cameras inside their class's strip of ``surveyed`` (``cameras_in_strip``),
    the areas of ``tree`` each lies in, their inclusion pairs (``inclusion_pairs``), small-pi
    floors (``inclusion_floor``) and what P(real) needs (the used detections' confidences; with
    a held-out false-detection rate, the rate and the survey's ``n_images``)."""
    crs = streets.crs
    cxy = xy_from_lonlat(cameras["lon"], cameras["lat"], crs)
    klass = cameras["class_name"].astype(str).to_numpy()
    dist, near, tangent = street_distance(cxy, surveyed)
    inside = np.flatnonzero(cameras_in_strip(cxy, klass, surveyed, widths, side=strip_side(design), distance_m=dist))
    tangent = tangent[inside]
    ci, ca = _point_pairs(tree, shapely.points(cxy[inside])) if len(inside) else (np.zeros(0, np.int64),) * 2
    build_m = buildings.to_crs(crs) if buildings is not None and len(buildings) else None
    shift_range = street_id = None
    if not design.random and len(surveyed):
        street_id = surveyed["street_id"].to_numpy()[np.maximum(near[inside], 0)]
        shift_range = shift_range_on_streets(cxy[inside], street_id, streets, spacing_m=design.spacing_m)
    pairs = inclusion_pairs(cxy[inside], tangent, design=design, images=images, streets=streets, buildings=build_m,
                            location_sd=location_sd_m(cameras)[inside], n_shifts=n_shifts, shift_range=shift_range,
                            camera_sd=calibration.camera_sd)
    return StripParts(inside=inside, pair_cam=ci, pair_area=ca, klass=klass[inside], box_m=box_size_m(klass[inside]),
                      pairs=pairs, n_detections=cameras["n_detections"].to_numpy(float),
                      conf_max=cameras["conf_max"].fillna(1.0).to_numpy(float) if "conf_max" in cameras
                      else np.ones(len(cameras)),
                      detection_conf=used["conf"].fillna(1.0).to_numpy(float) if "conf" in used
                      else np.ones(len(used)),
                      floor=inclusion_floor(klass[inside], pi_ref), n_images=int(n_images),
                      false_rate=calibration.false_rates() if calibration.uses_false_rate() else None,
                      street=None if street_id is None else np.asarray(street_id, np.int64),
                      real_share=calibration.real_share() if mixture_for(calibration) else None,
                      false_prior=calibration.false_prior() if mixture_for(calibration) else None)


def mixture_for(calibration: Calibration) -> bool:
    """Whether P(real) is the per-bin mixture (``reality_from_rate``): a card's false rate, with
    ``REALITY_MIXTURE``, on imagery that looks like the card's (a flagged survey's real detections
    need not spread over the confidence bins as the card's: the carry, as before issue 27's change)."""
    return calibration.uses_false_rate() and REALITY_MIXTURE and calibration.look_fits


def _per_road_km_se_r2(parts: StripParts, cameras: pd.DataFrame, surveyed: gpd.GeoDataFrame, units: pd.DataFrame,
                       curves: RateCurves) -> float | None:
    """Encounter-rate SE between streets (Fewster R2) of the density per surveyed km."""
    cam_street = np.full(len(parts.inside), -1, dtype=np.int64)
    if parts.street is not None and len(surveyed):  # a systematic design's: the same nearest streets
        cam_street = parts.street
    elif len(surveyed) and len(parts.inside):
        cxy = xy_from_lonlat(cameras["lon"].to_numpy()[parts.inside], cameras["lat"].to_numpy()[parts.inside], surveyed.crs)
        _, near, _ = street_distance(cxy, surveyed)
        cam_street = surveyed["street_id"].to_numpy()[near]
    w = parts.weights(curves)[0]
    per_street = pd.Series(w).groupby(cam_street).sum() if len(w) else pd.Series(dtype=float)
    lengths = units.groupby("street_id")["surveyed_m"].sum()
    lengths = lengths[lengths > 0]
    n_k = per_street.reindex(lengths.index).fillna(0.0).to_numpy()
    var_r2 = encounter_rate_variance(n_k, lengths.to_numpy() / 1000.0, method="R2")
    return float(np.sqrt(var_r2)) if np.isfinite(var_r2) else None


def location_sd_m(cameras: pd.DataFrame) -> np.ndarray:
    """SD (m) of each located camera's position across the street, for the measurement-error
    correction of its weight (``geo.counting.inclusion.corrected_weight``, ``averaged_weight``): for
    cameras placed by box size (``method`` "size") ``ACROSS_SHARE`` x their ``uncertainty_m`` (an RMS
    distance; their range error runs along the ray, mostly across the street); 0 for cameras placed on a facade
    (their error runs along the wall, which the grid shifts average over) or by triangulation
    (sub-metre)."""
    if "uncertainty_m" not in cameras.columns or "method" not in cameras.columns or len(cameras) == 0:
        return np.zeros(len(cameras))
    unc = cameras["uncertainty_m"].fillna(0.0).to_numpy(float)
    return np.where(cameras["method"].astype(str).to_numpy() == "size", ACROSS_SHARE * unc, 0.0)


def truth_in_strip(truth: gpd.GeoDataFrame, surveyed: gpd.GeoDataFrame, *, strip: float | dict[str, float],
                   side: str | None = None) -> np.ndarray:
    """Which true cameras lie within the strip of the surveyed streets: ``strip`` metres, or per
    class (a dict; the truth's ``class_name``, other classes the widest); ``side``: see
    ``cameras_in_strip``."""
    if len(truth) == 0:
        return np.zeros(0, dtype=bool)
    xy = shapely.get_coordinates(truth.to_crs(surveyed.crs).geometry.centroid.to_numpy())
    widths = strip if isinstance(strip, dict) else {name: float(strip) for name in CLASSES}
    klass = truth["class_name"].astype(str).to_numpy() if "class_name" in truth.columns else \
        np.full(len(truth), "")
    return cameras_in_strip(xy, klass, surveyed, widths, side=side)


def _share(comp: dict, key: str) -> np.ndarray:
    total = comp["var_encounter"] + comp["var_precision"] + comp["var_recall"]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, comp[key] / total, np.nan)


def _calibration(calibration: Calibration | dict | None, precision: float | None, recall: float | None
                 ) -> Calibration:
    if isinstance(calibration, Calibration):
        return calibration
    if calibration is not None:
        return calibration_from_dict(calibration)
    _check_rates(1.0 if precision is None else precision, 1.0 if recall is None else recall)
    return calibration_from_dict(calibration_from_rates(1.0 if precision is None else precision,
                                                        1.0 if recall is None else recall,
                                                        n=NOMINAL_N, source="scalar"))


def _used_detections(detections: pd.DataFrame, cal: Calibration) -> pd.DataFrame:
    if "conf" not in detections.columns or len(detections) == 0:
        return detections
    return detections[detections["conf"].fillna(1.0).to_numpy(float) >= cal.conf_threshold - 1e-9]


def seen_metres_per_image(cameras: gpd.GeoDataFrame, streets: gpd.GeoDataFrame, images: pd.DataFrame, *,
                          metres_per_point: float | None = None, recall: float = 1.0,
                          default_setback_m: float = 10.0) -> float:
    """Roadside length (m) over which one image sees a camera, for estimator (a).

    With located cameras and the sampling spacing: k x ``metres_per_point`` (one image per side
    per point), where k, the images a camera appears in, is solved from the mean number of views
    of the located cameras, E[views | detected] = k r / (1 - (1 - r)^k). Otherwise geometric:
    2 x setback x tan(fov / 2), with the setback the median distance of the located cameras from
    their nearest street (10 m if none).
    """
    if metres_per_point and len(cameras):
        mean_views = float(np.mean(cameras["n_views"].to_numpy(float)))
        return k_from_mean_views(mean_views, recall) * float(metres_per_point)
    fov = float(np.nanmedian(images["fov"].to_numpy(float))) if "fov" in images and len(images) else 90.0
    setback = default_setback_m
    if len(cameras) and len(streets):
        xy = xy_from_lonlat(cameras["lon"], cameras["lat"], streets.crs)
        tree = shapely.STRtree(streets.geometry.to_numpy())
        _, dist = tree.query_nearest(shapely.points(xy), return_distance=True, all_matches=False)
        if len(dist):
            setback = float(np.clip(np.median(dist), 3.0, 40.0))
    return 2.0 * setback * float(np.tan(np.radians(np.clip(fov, 1.0, 179.0)) / 2.0))


def k_from_mean_views(mean_views: float, recall: float) -> float:
    """The k (images a camera appears in, >= 1) whose zero-truncated binomial mean
    k r / (1 - (1 - r)^k) equals ``mean_views`` (bisection; 1 for mean_views <= 1)."""
    r = float(recall)
    if r >= 1.0:
        return max(1.0, float(mean_views))
    lo, hi = 1.0, 200.0
    if mean_views <= 1.0:
        return 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if mid * r / (1 - (1 - r) ** mid) < mean_views:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def total_from_row(row: pd.Series | dict) -> dict:
    """The report's ``total`` object from a one-area table row (estimator (a) nested)."""
    get = (lambda k: row[k]) if isinstance(row, dict) else row.get
    total = {k: _plain(get(k)) for k in ("strip_m", "road_km", "surveyed_km", "area_km2", "n_images",
                                          "n_detections", "n_cameras", "est_cameras", "est_lo", "est_hi",
                                          "est_cv", "per_road_km", "per_road_km_lo", "per_road_km_hi",
                                          "per_km2", "population", "per_1000_people")}
    total["by_class"] = {c: _plain(get(f"est_{c}")) for c in CLASSES}
    total["variance_share"] = {s: _plain(get(f"var_share_{s}")) for s in ("encounter", "precision", "recall")}
    total["rate_estimator"] = {"est_cameras": _plain(get("rate_est_cameras")), "est_lo": _plain(get("rate_est_lo")),
                               "est_hi": _plain(get("rate_est_hi")), "per_road_km": _plain(get("rate_per_road_km"))}
    for key in ("truth_cameras", "truth_all_cameras", "truth_seen_cameras", "osm_cameras"):
        value = _plain(get(key))
        if value is not None:
            total[key] = value
    return total


# --- the stage ------------------------------------------------------------------------------

def estimate_survey(
    survey_dir: str | Path,
    *,
    by: str = "area",
    calibration: dict | None = None,
    precision: float | None = None,
    recall: float | None = None,
    strip: float | str | dict = STRIP_AUTO,
    model: dict | None = None,
    population: str | Path | None = None,
    population_field: str | None = None,
    metres_per_image: float | None = None,
    n_shifts: int = DEFAULT_SHIFTS,
    n_boot: int = 1000,
    seed: int = 0,
    osm: bool = True,
    buildings: Any = "auto",
    exports: bool = True,
    basemap: str | None = None,
) -> EstimateResult:
    """Estimate the cameras within the strip of the streets the survey speaks for, per area, and
    write the exports.

    ``strip``: "auto" (default: per class, from the design and the calibration,
    ``strip_by_class``), metres, or a dict class -> metres. ``calibration``: the shared
    calibration dict (the review's, else the model card's); without one, scalar
    ``precision``/``recall`` stand for a calibration measured on ``NOMINAL_N`` (200) detections
    and cameras; without those, 1.0 and a warning in report.json. ``model``: what the caller
    knows of the model (id, card), recorded in report.json. ``buildings``: footprints that block
    sight lines, None, or "auto" (the area's OSM buildings when the area is a local file).
    ``basemap``: an online tile layer under map.html (a {z}/{x}/{y} URL or a name such as osm;
    checked by ``geo.outputs.mapview.basemap_from_spec``; None: the page requests nothing).
    ``n_boot``: Monte Carlo draws of the calibration summary's intervals (the estimate's interval
    is analytic). Locates cameras first when ``cameras.parquet`` is missing or older than the
    detections (from the detections at or above the calibration's threshold). Writes
    density.geojson, density.parquet, map.html, density.png, report.json.
    """
    timings: dict[str, float] = {}
    notes: list[str] = []
    survey_dir = Path(survey_dir)
    clock = time.perf_counter()
    inputs = survey_inputs(survey_dir, by=by, calibration=calibration, precision=precision, recall=recall,
                           strip=strip, population=population, population_field=population_field, notes=notes)
    timings["read_inputs_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    if isinstance(buildings, str) and buildings == "auto":
        from geo.counting.locate import buildings_for_survey

        buildings = buildings_for_survey(inputs.info)
    detections, images, cameras = survey_cameras(survey_dir, info=inputs.info, calibration=inputs.cal,
                                                 buildings=buildings, notes=notes)
    points = _read_points(survey_dir)
    timings["locate_s"] = time.perf_counter() - clock
    clock = time.perf_counter()
    truth = _read_truth(survey_dir)
    osm_frame = _osm_cameras(inputs.info["area"], notes) if osm and inputs.info.get("area") else None
    timings["reference_s"] = time.perf_counter() - clock

    clock = time.perf_counter()
    from geo.counting.card_check import read_look_table  # issue 26 look test (unseen4 hook)

    plan = survey_plan(inputs, strip=strip, cameras=cameras, detections=detections, images=images, points=points,
                       buildings=buildings, metres_per_image=metres_per_image, notes=notes,
                       look_table=read_look_table(survey_dir))
    common = dict(cameras=cameras, detections=detections, images=images, points=points, streets=inputs.streets,
                  calibration=plan.cal, strip=plan.widths, design=plan.design, buildings=buildings,
                  metres_per_point=plan.spacing, n_shifts=n_shifts, metres_per_image=plan.metres_per_image,
                  truth=truth, osm=osm_frame, surveyed=plan.surveyed)
    table, total_table, parts = tables_over_level(inputs, common, plan.checks, population=population,
                                                  population_field=population_field, notes=notes)
    timings["estimate_s"] = time.perf_counter() - clock
    if len(table) and (table["road_km"] <= 0).all():
        raise GeoInputError(f"the areas of --by {by} contain none of the survey's streets")
    total = total_from_row(total_table.iloc[0])
    total["strip_m_by_class"] = dict(plan.widths)
    total["encounter_rate_r2"] = {"per_road_km_se": parts.get("per_road_km_se_r2"),
                                  "note": "between-streets (Fewster R2) SE of the density per surveyed km, "
                                          "for carrying the rate to other streets of the same kind"}
    report = estimate_report(survey_dir, info=inputs.info, cal=plan.cal, parts=parts, design=plan.design,
                             widths=plan.widths, strip=strip, total=total, table=table, cameras=cameras,
                             detections=detections, buildings=buildings, notes=notes, timings=timings, model=model,
                             by=by, population=population, population_field=population_field, n_boot=n_boot,
                             seed=seed, spacing=plan.spacing, metres_per_image=plan.metres_per_image, n_shifts=n_shifts)
    from geo.counting.card_check import report_keys

    report.update(report_keys(plan.checks))  # issue 26: card_check, self_calibration, provisional
    paths: dict[str, Path] = {}
    if exports:
        from geo.outputs.export import write_exports, write_json

        clock = time.perf_counter()
        paths = write_exports(survey_dir, table, cameras=cameras, report=report, streets=inputs.streets,
                              surveyed=plan.surveyed, points=points, images=images, detections=detections,
                              truth=truth, metres_per_point=plan.spacing, basemap=basemap)
        timings["export_s"] = time.perf_counter() - clock
        write_json(report, survey_dir / "report.json")
    from geo.counting.locate import finish_writes  # speed4 (issue 27 part 6): cameras.parquet written beside

    finish_writes()
    return EstimateResult(areas=table, total=total, report=report, paths=paths)


@dataclass
class SurveyInputs:
    """What ``estimate_survey`` reads before locating: sample.json (``info``), the calibration,
    the streets (projected), the areas and the population layer (or None)."""

    info: dict
    cal: Calibration
    streets: gpd.GeoDataFrame
    areas: gpd.GeoDataFrame
    pop_layer: Any = None


def survey_inputs(survey_dir: Path, *, by: str, calibration, precision, recall, strip, population,
                  population_field, notes: list[str]) -> SurveyInputs:
    """Step 1 of ``estimate_survey``: check the options and read the survey's sample, network,
    areas (``--by``) and population layer."""
    from geo.counting.areas import areas_from_spec, population_from_file
    from geo.counting.locate import read_sample_info
    from geo.streets.network import load_network, streets_from_graph

    info = read_sample_info(survey_dir)
    cal = survey_calibration(calibration, precision=precision, recall=recall, notes=notes)
    if isinstance(strip, (int, float)) and not strip > 0:
        raise GeoInputError(f"--strip must be a positive number of metres, got {strip}")
    if population is not None and not population_field:
        raise GeoInputError("--population needs --population-field, the field holding the number of people")
    for name in ("network.graphml", "points.parquet"):
        if not (survey_dir / name).exists():
            raise GeoInputError(f"{survey_dir / name} not found: run `camcensus sample` first")
    streets = streets_from_graph(load_network(survey_dir / "network.graphml"))
    areas = areas_from_spec(by, streets, warnings_out=notes)
    pop_layer = population_from_file(population, field=population_field) if population is not None else None
    return SurveyInputs(info=info, cal=cal, streets=streets, areas=areas, pop_layer=pop_layer)


@dataclass
class SurveyPlan:
    """The design as sampled and what follows from it: the calibration the estimate uses, the
    strip per class (m), the surveyed street pieces, metres per point and per image."""

    design: Design
    cal: Calibration
    widths: dict[str, float]
    surveyed: gpd.GeoDataFrame
    spacing: float
    metres_per_image: float
    checks: dict = field(default_factory=dict)  # the card check and the survey's own recall (issue 26)


def survey_plan(inputs: SurveyInputs, *, strip, cameras: gpd.GeoDataFrame, detections: pd.DataFrame,
                images: pd.DataFrame, points: pd.DataFrame, buildings: Any, metres_per_image: float | None,
                notes: list[str], look_table: pd.DataFrame | None = None) -> SurveyPlan:
    """Step 2 of ``estimate_survey``: the design from sample.json (random points are drawn from
    the whole network), then the strip per class (``strip_by_class``) under the calibration, the
    surveyed pieces and the roadside an image sees (estimator (a))."""
    from geo.counting.card_check import calibration_checked
    from geo.counting.design import design_from_sample_info

    streets, cal = inputs.streets, inputs.cal
    network_m = float(shapely.length(streets.geometry.to_numpy()).sum())  # what random points are drawn from
    design = design_from_sample_info(inputs.info, images=images, network_m=network_m)
    cal, checks = calibration_checked(cal, cameras=cameras, detections=detections, images=images, crs=streets.crs,
                                      buildings=buildings, notes=notes,
                                      look_table=look_table)  # issue 26: card check, survey's own recall, look
    if (checks.get("card_check") or {}).get("fits") is False:  # nor does the card's real share (issue 27)
        cal = replace(cal, look_fits=False)
        if checks.get("envelope_calibrations"):  # the recall level's envelope alike
            checks["envelope_calibrations"] = {k: replace(c, look_fits=False)
                                               for k, c in checks["envelope_calibrations"].items()}
    widths, strip_notes = strip_by_class(strip, design=design, calibration=cal)
    notes.extend(strip_notes)
    spacing = design.spacing_m
    if design.random:  # roadside a point's views see, for estimator (a)
        spacing = 2.0 * 10.0 * float(np.tan(np.radians(design.fov) / 2.0))
    surveyed = streets[["street_id", "geometry"]] if design.random else \
        surveyed_streets(streets, points, images, metres_per_point=spacing)
    if metres_per_image is None:
        recall = float(cal.recall_bins() @ (cal.rec_n / max(cal.rec_n.sum(), 1))) if cal.rec_n.sum() > 0 else 1.0
        metres_per_image = seen_metres_per_image(cameras, streets, images, metres_per_point=spacing, recall=recall)
    return SurveyPlan(design=design, cal=cal, widths=widths, surveyed=surveyed, spacing=spacing,
                      metres_per_image=float(metres_per_image), checks=checks)


def survey_tables(inputs: SurveyInputs, common: dict, *, population, population_field, notes: list[str]
                  ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, dict]:
    """Step 3 of ``estimate_survey``: ``density_from_tables`` per area and for the whole survey
    (once when the areas are the whole), with the population per area; (table, total table,
    the whole survey's parts)."""
    from geo.counting.areas import population_for_areas, whole_area

    streets, areas, pop_layer = inputs.streets, inputs.areas, inputs.pop_layer
    whole = whole_area(streets)
    pop_areas = pop_whole = None
    if pop_layer is not None:
        pop_areas = population_for_areas(areas, pop_layer, field=population_field, crs=streets.crs)
        if not pop_areas.any():
            notes.append(f"the population layer {Path(population).name} does not overlap the areas")
        pop_whole = population_for_areas(whole, pop_layer, field=population_field, crs=streets.crs)
    same = len(areas) == 1 and areas["area_id"].iloc[0] == "area"
    parts: dict = {}
    table = density_from_tables(areas, population=pop_areas, parts_out=parts if same else None, **common)
    total_table = table if same else density_from_tables(whole, population=pop_whole, parts_out=parts, **common)
    return table, total_table, parts


def tables_over_level(inputs: SurveyInputs, common: dict, checks: dict, *, population, population_field,
                      notes: list[str]) -> tuple:
    """``survey_tables``, with every interval spanning the recall level where the card check left
    recall unknown (``checks["envelope_calibrations"]``, issue 26; ``interval_over_level``)."""
    table, total_table, parts = survey_tables(inputs, common, population=population,
                                              population_field=population_field, notes=notes)
    if checks.get("envelope_calibrations"):
        table, total_table = interval_over_level(inputs, common, (table, total_table), checks["envelope_calibrations"],
                                                 population=population, population_field=population_field)
    return table, total_table, parts


def interval_over_level(inputs: SurveyInputs, common: dict, tables: tuple, calibrations: dict, *, population,
                        population_field) -> tuple:
    """Where recall is unknown (``geo.counting.card_check.level_envelope``): ``tables`` (table, total
    table: the estimate at the median level) with every interval (``*_lo``, ``*_hi``) widened to the
    lower end of the estimate at the level's upper quantile (calibration "high") and the upper end
    of the estimate at its lower quantile ("low"). Points, strip and roadside per image stay those
    of the median level; ``est_cv`` and the variance shares follow the widened interval
    (``cv_of_interval``)."""
    at = {k: survey_tables(inputs, {**common, "calibration": c}, population=population,
                           population_field=population_field, notes=[])[:2] for k, c in calibrations.items()}
    out = []
    for i, t in enumerate(tables):
        t = t.copy()
        for lo in [c for c in t.columns if c.endswith("_lo") and c[:-3] + "_hi" in t.columns]:
            hi = lo[:-3] + "_hi"
            t[lo] = np.fmin(t[lo].to_numpy(float), at["high"][i][lo].to_numpy(float))
            t[hi] = np.fmax(t[hi].to_numpy(float), at["low"][i][hi].to_numpy(float))
        out.append(cv_of_interval(t))
    return tuple(out)


def cv_of_interval(table: pd.DataFrame, *, level: float = 0.95) -> pd.DataFrame:
    """``table`` with ``est_cv`` that of the log-normal whose ``level`` interval is (``est_lo``,
    ``est_hi``): sigma = log(hi / lo) / (2 z) (with a zero lower end, log(hi / est) / z), never below
    the CV it had; the variance shares of encounter and precision scaled by the old CV^2 over the
    new, the rest recall's (what widened the interval is the recall level's spread). Where recall is
    unknown (``interval_over_level``) the CV is then the interval's, not the median level's."""
    from scipy.stats import norm

    z = float(norm.ppf(0.5 + level / 2))
    est, lo, hi = (table[k].to_numpy(float) for k in ("est_cameras", "est_lo", "est_hi"))
    old = table["est_cv"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.where(lo > 0, np.log(hi / lo) / (2 * z), np.log(hi / est) / z)
        new = np.where((est > 0) & np.isfinite(sigma), np.fmax(old, np.sqrt(np.expm1(np.square(sigma)))), old)
        keep = np.where(new > 0, np.square(old / new), 1.0)
    out = table.copy()
    out["est_cv"] = new
    for key in ("var_share_encounter", "var_share_precision"):
        out[key] = table[key].to_numpy(float) * keep
    out["var_share_recall"] = 1.0 - out["var_share_encounter"] - out["var_share_precision"]
    return out


def survey_calibration(calibration: dict | Calibration | None, *, precision: float | None, recall: float | None,
                       notes: list[str]) -> Calibration:
    """The ``Calibration`` the estimate uses: ``calibration`` (a review's or a card's dict), else
    one from scalar ``precision``/``recall`` (``NOMINAL_N``), else 1.0 with a warning in
    ``notes``. A held-out calibration without a false-detection rate per image adds one warning
    line: P(real) then comes from a precision, which depends on how many cameras an area has."""
    assumed = calibration is None and (precision is None or recall is None)
    if assumed:
        missing = " and ".join(n for n, v in (("precision", precision), ("recall", recall)) if v is None)
        notes.append(f"no model {missing} known (no calibration, no model card, no --precision/--recall): "
                     "using 1.0, so the estimate is not corrected for false or missed detections")
    if calibration is None:
        precision = 1.0 if precision is None else float(precision)
        recall = 1.0 if recall is None else float(recall)
        _check_rates(precision, recall)
        cal = calibration_from_dict(calibration_from_rates(precision, recall, n=NOMINAL_N, source="scalar"))
    else:
        cal = calibration if isinstance(calibration, Calibration) else calibration_from_dict(calibration)
    if not assumed and not cal.sampled_survey() and not cal.uses_false_rate():
        notes.append(f"P(real) from the {cal.source} precision: no false-detection rate per image is known "
                     "(false_bins, or precision_bins with n_images); precision depends on how many cameras an area "
                     "has, so it may not carry to this survey (a review of its detections measures it)")
    return cal


def survey_cameras(survey_dir: Path, *, info: dict, calibration: Calibration, buildings: Any, notes: list[str]
                   ) -> tuple[pd.DataFrame, pd.DataFrame, gpd.GeoDataFrame]:
    """(detections at or above the calibration's threshold, images, located cameras) of a survey
    directory; relocates (and rewrites cameras.parquet) when some detections fall below the
    threshold, else ``geo.counting.locate.locate_survey``."""
    from geo.counting.locate import cameras_from_detections, locate_survey, read_detections, read_images, write_cameras

    detections = read_detections(survey_dir)
    below = (detections["conf"].fillna(1.0).to_numpy(float) < calibration.conf_threshold - 1e-9
             if "conf" in detections and len(detections) else np.zeros(len(detections), bool))
    images = read_images(survey_dir)
    if below.any():
        detections = detections[~below].reset_index(drop=True)
        notes.append(f"{int(below.sum()):,} detections below the calibration's threshold "
                     f"{calibration.conf_threshold:g} are not used")
        cameras = cameras_from_detections(detections, images, buildings=buildings, crs=info.get("crs") or None)
        cameras.attrs["buildings"] = len(buildings) if buildings is not None else 0
        write_cameras(cameras, survey_dir / "cameras.parquet")
    else:
        cameras = locate_survey(survey_dir, buildings=buildings, detections=detections, images=images,
                                write_beside=True)  # speed4 (issue 27 part 6): estimate_survey waits at its end
    if len(detections) == 0:
        notes.append("the survey has no detections: the estimate is zero, its interval an upper bound")
    return detections, images, cameras


def estimand_text(design: Design, widths: dict[str, float], *, network_km: float | None = None) -> str:
    """One sentence: which cameras the estimate speaks for (strip per class, which streets)."""
    strip = _widths_text(widths) + (f", {strip_side(design)} side only," if strip_side(design) else "")
    if design.random:
        streets = (f"every street of the network the {design.n_points} random points were drawn from"
                   + (f" ({network_km:.1f} km)" if network_km else ""))
    else:
        streets = "the surveyed streets (street pieces whose views have imagery)"
    return f"cameras within {strip} of {streets}; nothing outside this strip is estimated"


def estimate_report(survey_dir: Path, *, info: dict, cal: Calibration, parts: dict, design: Design,
                    widths: dict[str, float], strip: Any, total: dict, table: gpd.GeoDataFrame, cameras: pd.DataFrame,
                    detections: pd.DataFrame, buildings: Any, notes: list[str], timings: dict, model: dict | None,
                    by: str, population: Any, population_field: str | None, n_boot: int, seed: int, spacing: float,
                    metres_per_image: float, n_shifts: int) -> dict:
    """report.json: parameters (the strip per class and how it was set, the design), estimand,
    model, calibration summary, inclusion counts, estimators, totals, warnings, timings."""
    from geo.counting.inclusion import VISIBILITY, VISIBILITY_RANGE_M
    from geo.counting.locate import CAMERA_SIZE_M

    summary = calibration_summary(cal, conf=parts["parts"].detection_conf if "parts" in parts else None,
                                  n_images=int(total.get("n_images") or 0), seed=seed)
    if cal.source == "scalar":
        summary["note"] = (f"scalar precision / recall taken as measured on {NOMINAL_N} detections and "
                           f"{NOMINAL_N} cameras (no calibration counts: flat curves)")
    notes.extend(n for n in parts.get("warnings", []) if n not in notes)
    if parts.get("n_floored"):
        notes.append(f"{parts['n_floored']} located camera(s) had an inclusion probability below the small-pi floor "
                     f"({MIN_INCLUSION:g} x the design's best for their class): counted with the floor")
    pi_ref = parts.get("pi_ref") or {}
    return {
        "survey": survey_dir.name,
        "parameters": {"by": by, "strip_m": float(max(widths.values())), "strip_m_by_class": dict(widths),
                       "strip": "auto" if isinstance(strip, str) else "fixed", "strip_floor": STRIP_FLOOR,
                       "precision": summary["precision"], "recall": summary["recall"], "n_boot": n_boot,
                       "seed": seed, "level": 0.95, "metres_per_point": spacing,
                       "metres_per_image": float(metres_per_image), "n_shifts": n_shifts,
                       "min_inclusion": MIN_INCLUSION,
                       "inclusion_floor_by_class": {k: MIN_INCLUSION * v for k, v in pi_ref.items()},
                       "design_max_inclusion_by_class": pi_ref,
                       "design": {"method": design.method, "spacing_m": design.spacing_m, "n_points": design.n_points,
                                  "network_m": design.network_m, "sides": design.sides, "along": design.along,
                                  "fov": design.fov, "width": design.width, "height": design.height},
                       "p_real_from": "false-detection rate per image" if cal.uses_false_rate() else
                                      ("the survey's reviewed precision" if cal.sampled_survey() else "precision"),
                       # how a card's false rate sets P(real) (issue 27, docs/estimator.md 16)
                       "p_real_model": (P_REAL_MIXTURE if mixture_for(cal) else "carried across bins")
                       if cal.uses_false_rate() else "precision per confidence bin",
                       "box_size_m": CAMERA_SIZE_M,
                       "visibility_by_range": dict(zip(VISIBILITY_RANGE_M, VISIBILITY)),
                       "visible_range_m": _attr(cameras, "visible_range_m"),
                       "n_buildings": len(buildings) if buildings is not None else 0,
                       "population": str(population) if population is not None else None,
                       "population_field": population_field, "area": info.get("area"),
                       "sampling": {k: info.get(k) for k in ("method", "spacing_m", "n", "sides", "fov", "pitch",
                                                             "seed")}},
        "estimand": estimand_text(design, widths, network_km=total.get("road_km")),
        "model": model or {"model_id": _model_ids(detections)},
        "calibration": summary,
        "inclusion": {"n_located": int(len(cameras)), "n_in_strip": parts.get("n_inside"),
                      "n_outside_strip": parts.get("n_outside"), "n_floored": parts.get("n_floored")},
        "estimators": {"strip": "Horvitz-Thompson over the located cameras within the strip (per class): P(real) / "
                                "inclusion probability from the design's randomization (the grid's start for "
                                "systematic designs, where points fall for random ones) and the views' geometry "
                                "(field of view, range, building occlusion, wall facing, visibility by range, recall "
                                "at the expected box size, random sides); P(real) from the card's false-detection "
                                "rate per image x the survey's images, or the review's precision; weights of "
                                "cameras placed by box size corrected for their location error; variance: "
                                "Horvitz-Thompson encounter (known pi) + which cameras are real + false detections "
                                "(Gamma rate, or Beta precision finite-population corrected for a review) + recall "
                                "(delta method, Beta per bin); log-normal 95% interval (dht2) with Satterthwaite df; "
                                "Garwood upper bound where none was located",
                       "rate_estimator": "Stanford: share of images with a detection x precision x "
                                         "(1000 / metres_per_image) x 2 / recall; Clopper-Pearson; "
                                         "metres_per_image = k x metres_per_point, k solved from the "
                                         "located cameras' mean views (zero-truncated binomial)"},
        "n_areas": int(len(table)),
        "total": total,
        "warnings": notes,
        "timings": timings,
    }


# --- helpers --------------------------------------------------------------------------------

def _check_rates(precision: float, recall: float) -> None:
    if not 0 < precision <= 1:
        raise GeoInputError(f"precision must be in (0, 1], got {precision}")
    if not 0 < recall <= 1:
        raise GeoInputError(f"recall must be in (0, 1], got {recall}")


def _pairs(tree: shapely.STRtree, geoms: np.ndarray, predicate: str) -> tuple[np.ndarray, np.ndarray]:
    if len(geoms) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    found = tree.query(geoms, predicate=predicate)
    return found[0].astype(np.int64), found[1].astype(np.int64)


def _point_pairs(tree: shapely.STRtree, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(point, area) pairs: every area a point lies inside (overlapping areas share it), and a
    point exactly on a boundary goes to one area only, so a tiling counts it once."""
    inside_p, inside_a = _pairs(tree, points, "within")
    lost = np.ones(len(points), bool)  # np.setdiff1d(np.arange(n), inside_p) by a mask (speed, issue 27: 0.4 s at
    lost[inside_p] = False  # 300k points with numpy 2.4's hashing unique)
    lost = np.flatnonzero(lost)
    edge_p, edge_a = _pairs(tree, points[lost], "intersects")
    edge_p = lost[edge_p]
    first = np.unique(edge_p, return_index=True)[1]
    return np.concatenate([inside_p, edge_p[first]]), np.concatenate([inside_a, edge_a[first]])


def xy_from_lonlat(lon, lat, crs) -> np.ndarray:
    """Projected x, y (metres in ``crs``, shape (n, 2)) of WGS84 ``lon``, ``lat`` (degrees)."""
    from pyproj import Transformer

    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if len(lon) == 0:
        return np.zeros((0, 2))
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    return np.column_stack([x, y])


def _camera_streets(cameras: pd.DataFrame, points: pd.DataFrame, streets: gpd.GeoDataFrame,
                    cxy: np.ndarray) -> np.ndarray:
    """The street each camera was seen from (its first point's), else its nearest street."""
    n = len(cameras)
    out = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return out
    if "point_ids" in cameras.columns:
        first = [(ids[0] if ids is not None and len(ids) else -1) for ids in cameras["point_ids"]]
        lookup = pd.Series(points["street_id"].to_numpy(), index=points["point_id"].to_numpy())
        lookup = lookup[~lookup.index.duplicated()]
        out = pd.Series(first).map(lookup).fillna(-1).to_numpy(np.int64)
    missing = out < 0
    if missing.any() and len(streets):
        tree = shapely.STRtree(streets.geometry.to_numpy())
        nearest = tree.query_nearest(shapely.points(cxy[missing]), all_matches=False)[1]
        out[missing] = streets["street_id"].to_numpy()[nearest]
    return out


def _count_in(frame: gpd.GeoDataFrame | None, tree: shapely.STRtree, crs, n_areas: int) -> np.ndarray:
    if frame is None:
        return np.full(n_areas, np.nan)
    if len(frame) == 0:
        return np.zeros(n_areas)
    pts = frame.to_crs(crs).geometry
    _, ai = _point_pairs(tree, shapely.points(shapely.get_coordinates(pts.centroid.to_numpy())))
    return np.bincount(ai, minlength=n_areas).astype(float)


def _read_points(survey_dir: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    table = pq.read_table(survey_dir / "points.parquet", columns=["point_id", "street_id", "lon", "lat"])
    return table.to_pandas()


def _seen(truth: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame | None:
    """The true cameras that appear in at least one image (``seen_by`` not empty)."""
    if truth is None or "seen_by" not in truth.columns:
        return None
    seen = truth["seen_by"].map(lambda v: len(json.loads(v)) if isinstance(v, str) else len(v)
                                if v is not None and not (isinstance(v, float) and np.isnan(v)) else 0)
    return truth[seen.to_numpy() > 0]


def _read_truth(survey_dir: Path) -> gpd.GeoDataFrame | None:
    path = survey_dir / "truth.geojson"
    if not path.exists():
        return None
    return gpd.read_file(path)


def _osm_cameras(spec: str, notes: list[str]) -> gpd.GeoDataFrame | None:
    try:
        from geo.sim.features import surveillance_from_area
    except ImportError:
        return None
    try:
        return surveillance_from_area(spec)
    except GeoInputError as error:
        notes.append(f"OSM cameras unavailable: {error}")
        return None


def _model_ids(detections: pd.DataFrame) -> list[str]:
    if "model_id" not in detections.columns:
        return []
    return sorted(str(m) for m in detections["model_id"].dropna().unique())


def _attr(frame: pd.DataFrame, key: str) -> Any:
    return _plain(frame.attrs.get(key))


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    return value


def report_to_text(report: dict) -> str:
    """The report as JSON text (NaN written as null)."""
    return json.dumps(report, indent=2, default=_plain, allow_nan=False)


def strip_from_option(value: str | float | None) -> str | float:
    """``--strip``'s value: "auto" (also None or empty), or a positive number of metres
    (``GeoInputError`` otherwise)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", STRIP_AUTO)):
        return STRIP_AUTO
    try:
        width = float(value)
    except (TypeError, ValueError):
        raise GeoInputError(f"--strip must be 'auto' or a positive number of metres, got {value}") from None
    if not width > 0:
        raise GeoInputError(f"--strip must be a positive number of metres, got {value}")
    return width
