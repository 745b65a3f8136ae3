"""The designed samples of a review: which detections to verify and which images to audit.

- verify: detections at or above the threshold, stratified by confidence bin (bins at the
  quartiles of the survey's own confidences), allocated in proportion to sqrt(bin size): every
  bin gets answers for the precision curve, the big bins a little more for overall precision.
- audit (design version 2): images drawn with unequal probabilities, proportional to a size
  measure (``image_evidence``): 8 for an image with a detection of confidence 0.15 or more, or
  whose field of view holds a located camera within ``GEOMETRY_RANGE_M`` (the camera's other
  views, where a miss hides); 2 for one with a detection from ``LOW_CONF`` = 0.05 up only; 1 for
  the others.
  The order is sequential Poisson sampling (Ohlsson 1998): key U_i / lambda_i, smallest first,
  so that the first n images are a sample with inclusion probabilities
  pi_i = min(1, n lambda_i / sum(lambda)) (capped, iterated), and each audited image carries the
  Horvitz-Thompson weight 1 / pi_i (``audit_weights``). Version-1 designs (stratified by "has a
  detection", self-weighting) are still read: their weights are all one.

Each queue's order is a random order of its whole population: a sample of n is the first n
items, and asking for a larger n later extends it without changing what was already answered.
The design is written once to ``review/sample.json`` and read back, so that every tab and every
restart see the same sample.

Sample sizes follow the count's interval, not a fixed width on the rates: the count scales with
1 / precision and 1 / recall, so a relative half-width h (``--target``, default 0.20) of the 95%
interval needs n = z^2 (1 - p) / (p h^2) answers at a rate p (``sample_size_for_relative_half_width``):
97 verified detections at p = 0.5, and as many audited cameras as the recall measured so far
asks for (the card's recall first). The audit grows until it holds them or reaches its cap
(``default_audit_cap``: 15% of the images, at least 100, at most 650).

A review cannot narrow what the survey's size sets: the encounter (which cameras a survey of this
design happens to find) has its own CV, which no calibration removes (``encounter_limit``, from
the last estimate's report.json). When it alone keeps the count's interval wider than the target,
the audit is sized for what is reachable instead (recall adding at most ``REVIEW_VARIANCE_SHARE``
of the encounter's variance: ``ReviewDesign.sizing_half_width``), and ``reach_line`` says so, with
the located cameras the target would need. Verification stays sized for the target: it is cheap
(3 s a detection), and where the card does not carry precision falls too (0.41 on the renderer's
held-out look; cutting it to the reachable size made h01's review +85% instead of +40%).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from geo.errors import GeoInputError
from geo.io import write_text
from scripts.review.tables import SurveyTables

Z95 = 1.959964
DESIGN_FILE = "sample.json"
DESIGN_VERSION = 2
RECALL_SIZE_EDGES_PX = [0, 6, 8, 12, 16, 24, 32, 64, 100000]  # sqrt(box area), the shared format
DEFAULT_TARGET = 0.20  # relative half-width of the count's 95% interval the samples are sized for
LOW_CONF = 0.05  # detections from this confidence up mark an image as perhaps holding a camera ...
STRONG_CONF = 0.15  # ... and from this one up (or a located camera in view) as likely to
WEAK_WEIGHT, STRONG_WEIGHT = 2.0, 8.0  # size measures of such images (1 for the others)
GEOMETRY_RANGE_M = 40.0  # a located camera within this range and the field of view marks an image
MIN_AUDIT_CAMERAS, MAX_AUDIT_CAMERAS = 30, 2000
AUDIT_CAP_SHARE, AUDIT_CAP_MIN, AUDIT_CAP_MAX = 0.15, 100, 650
SECONDS_PER_DETECTION = 3.0  # a person's time per verify answer (seconds), for the person-time line
SECONDS_PER_IMAGE = 8.0  # per audited image (look for missed cameras, draw boxes)
# when the encounter alone keeps the interval wider than the target, the audit is sized for recall to add at most this
# share of the encounter's variance (its CV sqrt(0.5) x the encounter's): more audited images would buy little
REVIEW_VARIANCE_SHARE = 0.5
MAX_SIZING_HALF_WIDTH = 0.9  # ... and never for a relative half-width wider than this
REACH_MARGIN = 1.1  # an encounter half-width within this factor of the target counts as reaching it (no note)


def sample_size_for_half_width(half_width: float, *, p: float = 0.5, z: float = Z95) -> int:
    """Answers needed for a 95% interval of +-``half_width`` on a proportion near ``p``."""
    if not 0 < half_width < 0.5:
        raise GeoInputError(f"--target must be in (0, 0.5), got {half_width}")
    return int(math.ceil(z * z * p * (1 - p) / half_width ** 2))


def sample_size_for_relative_half_width(half_width: float, *, p: float, z: float = Z95) -> int:
    """Binomial trials for a 95% interval of +-``half_width`` (relative) on 1 / p, for a rate
    near ``p``: n = z^2 (1 - p) / (p h^2) (the delta method on log p)."""
    if not 0 < half_width < 1:
        raise GeoInputError(f"--target must be in (0, 1), got {half_width}")
    p = min(max(float(p), 0.02), 0.98)
    return int(math.ceil(z * z * (1 - p) / (p * half_width ** 2)))


def default_audit_cap(n_images: int) -> int:
    """The most images an adaptive audit grows to: 15% of the survey's images, at least 100, at
    most 650 (never more than the survey has)."""
    return int(min(n_images, max(AUDIT_CAP_MIN, min(AUDIT_CAP_MAX, math.ceil(AUDIT_CAP_SHARE * n_images)))))


def sequential_poisson_order(ids: np.ndarray, size: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``ids`` in sequential Poisson order (key U / size, smallest first)."""
    keys = rng.uniform(0.0, 1.0, len(ids)) / np.maximum(np.asarray(size, float), 1e-9)
    return np.argsort(keys, kind="stable")


def pps_inclusion(size: np.ndarray, n: int) -> np.ndarray:
    """Inclusion probabilities of a sample of ``n`` drawn proportional to ``size``:
    min(1, n size / sum(size)), the units at 1 taken out and the rest rescaled until none exceeds 1."""
    size = np.asarray(size, float)
    pi = np.zeros(len(size))
    n = min(int(n), len(size))
    if n <= 0:
        return pi
    certain = np.zeros(len(size), bool)
    for _ in range(len(size)):
        rest = ~certain
        left = n - certain.sum()
        pi[rest] = left * size[rest] / max(size[rest].sum(), 1e-12)
        pi[certain] = 1.0
        over = rest & (pi >= 1.0)
        if not over.any():
            break
        certain |= over
    return np.clip(pi, 0.0, 1.0)


def image_evidence(tables: SurveyTables) -> np.ndarray:
    """Per image of ``tables.images`` (in order) its size measure for the audit's draw:
    ``STRONG_WEIGHT`` for an image with a detection of confidence >= ``STRONG_CONF`` or a located
    camera (at or above the review's threshold) in its field of view within ``GEOMETRY_RANGE_M``;
    ``WEAK_WEIGHT`` for one with a detection of confidence >= ``LOW_CONF`` only (detect keeps those
    with ``--conf 0.05``); 1 for the others. Measured on held-out-look surveys, the images with a
    detection >= 0.15 (11% of them) held 47% of the cameras' boxes; those with 0.05-0.15 only, as
    many boxes as images."""
    images = tables.images
    det = tables.all_detections
    cameras = tables.cameras
    if "conf_max" in cameras.columns:
        cameras = cameras[cameras["conf_max"].fillna(1.0) >= tables.conf_threshold - 1e-9]

    def having(lo: float) -> np.ndarray:
        if not len(det):
            return np.zeros(len(images), bool)
        return np.asarray(images.index.isin(det.loc[det["conf"] >= lo, "image_id"].unique()), bool)

    strong = having(STRONG_CONF) | cameras_in_view(images, cameras)
    return np.where(strong, STRONG_WEIGHT, np.where(having(LOW_CONF), WEAK_WEIGHT, 1.0))


def cameras_in_view(images, cameras, *, range_m: float = GEOMETRY_RANGE_M) -> np.ndarray:
    """Per image: a located camera lies within ``range_m`` and inside the image's horizontal field
    of view (heading +- fov / 2; 90 degrees when unknown)."""
    out = np.zeros(len(images), bool)
    if not len(cameras) or not len(images) or "heading" not in images:
        return out
    from scipy.spatial import cKDTree

    lat0 = float(np.nanmean(images["lat"].to_numpy(float)))
    kx, ky = 111_320.0 * math.cos(math.radians(lat0)), 110_540.0
    ix, iy = images["lon"].to_numpy(float) * kx, images["lat"].to_numpy(float) * ky
    cx, cy = cameras["lon"].to_numpy(float) * kx, cameras["lat"].to_numpy(float) * ky
    heading = images["heading"].to_numpy(float)
    fov = images["fov"].to_numpy(float) if "fov" in images else np.full(len(images), 90.0)
    fov = np.where(np.isfinite(fov), fov, 90.0)
    ok = np.isfinite(ix) & np.isfinite(iy) & np.isfinite(heading)
    tree = cKDTree(np.column_stack([cx, cy]))
    for i in np.flatnonzero(ok):
        near = tree.query_ball_point([ix[i], iy[i]], range_m)
        if not near:
            continue
        bearing = np.degrees(np.arctan2(cx[near] - ix[i], cy[near] - iy[i]))
        off = np.abs((bearing - heading[i] + 180.0) % 360.0 - 180.0)
        out[i] = bool((off <= fov[i] / 2.0).any())
    return out


def confidence_edges(conf: np.ndarray, threshold: float, *, n_bins: int = 4) -> list[float]:
    """Bin edges from ``threshold`` to 1.0 at the quantiles of ``conf`` (rounded to 0.01);
    fewer bins when the confidences are few or bunched."""
    inner = []
    if len(conf) >= 2 * n_bins:
        inner = np.round(np.quantile(conf, np.arange(1, n_bins) / n_bins), 2).tolist()
    edges = [float(threshold)] + [e for e in inner if threshold < e < 1.0] + [1.0]
    return sorted(set(edges))


def bin_index(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """0-based bin of each value for ``edges`` (right-open bins, the last one closed at 1.0)."""
    return np.clip(np.searchsorted(np.asarray(edges), values, side="right") - 1, 0, len(edges) - 2)


def interleaved_order(ids: np.ndarray, strata: np.ndarray, shares: dict, *, rng: np.random.Generator
                      ) -> list[str]:
    """``ids`` in random order within each stratum, merged so that every prefix holds the
    strata in proportion to ``shares`` (until a stratum runs out)."""
    keys = np.empty(len(ids))
    for stratum, share in shares.items():
        members = np.flatnonzero(strata == stratum)
        order = rng.permutation(len(members))
        keys[members[order]] = (np.arange(len(members)) + rng.uniform(0.0, 1.0, len(members))) / max(share, 1e-9)
    return [str(i) for i in ids[np.argsort(keys, kind="stable")]]


@dataclass
class ReviewDesign:
    """The review's sample (see the module docstring); JSON in ``review/sample.json``."""

    conf_threshold: float
    edges: list[float]  # confidence bin edges of the verify strata
    verify_order: list[str]  # detection ids, the whole population in sample order
    verify_strata_sizes: list[int]  # detections per confidence bin (the population)
    audit_order: list[str]  # image ids, the whole population in sample order
    audit_strata_sizes: dict[str, int]  # ok images with / without a detection
    n_verify: int  # the planned sample sizes
    n_audit: int
    target_half_width: float
    seed: int
    adaptive_audit: bool = True  # no --n-audit given: the audit grows until it holds enough cameras
    version: int = DESIGN_VERSION
    recall_edges_px: list[float] = field(default_factory=lambda: list(RECALL_SIZE_EDGES_PX))
    # version 2: the size measure of each image of audit_order (None: a self-weighting version-1 design),
    # the prior recall that sizes the audit, the adaptive audit's cap (images)
    audit_size_measure: list[float] | None = None
    prior_recall: float = 0.5
    audit_cap: int | None = None
    # the relative half-width the audit is sized for: the target, or what the survey's encounter leaves reachable
    # (``encounter_limit``); None (designs before it): the target
    sizing_half_width: float | None = None

    @property
    def sizing(self) -> float:
        """The relative half-width the audit is sized for (``sizing_half_width``, else the target)."""
        return self.target_half_width if self.sizing_half_width is None else self.sizing_half_width

    @property
    def relative_target(self) -> bool:
        """Whether ``target_half_width`` is relative, on the count (version 2), or absolute, on the rates."""
        return self.version >= 2

    def audit_weights(self, n: int | None = None) -> dict[str, float]:
        """Horvitz-Thompson weight 1 / pi of each image of the first ``n`` (default: the planned
        sample) of the audit order; all ones for a self-weighting (version-1) design."""
        n = self.n_audit if n is None else min(int(n), len(self.audit_order))
        if self.audit_size_measure is None:
            return {i: 1.0 for i in self.audit_order[:n]}
        pi = pps_inclusion(np.asarray(self.audit_size_measure, float), n)
        return {i: 1.0 / max(float(p), 1e-12) for i, p in zip(self.audit_order[:n], pi[:n])}

    @property
    def verify_ids(self) -> list[str]:
        return self.verify_order[: self.n_verify]

    @property
    def audit_ids(self) -> list[str]:
        return self.audit_order[: self.n_audit]


def design_path(survey_dir: str | Path) -> Path:
    return Path(survey_dir) / "review" / DESIGN_FILE


def read_design(survey_dir: str | Path) -> ReviewDesign | None:
    """The stored design, or None before the first review."""
    path = design_path(survey_dir)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ReviewDesign(**data)
    except (json.JSONDecodeError, TypeError) as error:
        raise GeoInputError(f"malformed {path}: {error}") from None


def design_review(tables: SurveyTables, *, target_half_width: float = DEFAULT_TARGET, n_verify: int | None = None,
                  n_audit: int | None = None, seed: int = 0, prior_recall: float | None = None,
                  audit_cap: int | None = None, sizing_half_width: float | None = None) -> ReviewDesign:
    """A new design for the survey (nothing written). Default sizes: a relative half-width of
    ``target_half_width`` on the count, from precision (detections to verify, at p = 0.5) and from
    recall (images to audit: enough to hold the cameras that ``prior_recall``, the card's, asks for,
    guessed from the cameras per drawn image; the audit then grows with the recall it finds; for
    ``sizing_half_width`` instead, what the survey's encounter leaves reachable, when given)."""
    rng = np.random.default_rng([seed, 14])
    det = tables.detections
    edges = confidence_edges(det["conf"].to_numpy(float), tables.conf_threshold)
    bins = bin_index(det["conf"].to_numpy(float), edges)
    sizes = np.bincount(bins, minlength=len(edges) - 1).astype(int)
    shares = {b: math.sqrt(n) for b, n in enumerate(sizes) if n}
    verify_order = interleaved_order(det.index.to_numpy(), bins, shares, rng=rng)
    images = tables.images
    measure = image_evidence(tables)
    evidence = measure > 1.0
    order = sequential_poisson_order(images.index.to_numpy(), measure, rng=rng)
    audit_order = [str(i) for i in images.index.to_numpy()[order]]
    audit_sizes = {"with_evidence": int(evidence.sum()), "without_evidence": int((~evidence).sum()),
                   "strong_evidence": int((measure >= STRONG_WEIGHT).sum())}
    prior_recall = 0.5 if prior_recall is None or not np.isfinite(prior_recall) else float(prior_recall)
    cap = default_audit_cap(len(images)) if audit_cap is None else int(audit_cap)
    adaptive = n_audit is None
    sizing = (target_half_width if sizing_half_width is None
              else min(max(float(sizing_half_width), target_half_width), max(MAX_SIZING_HALF_WIDTH, target_half_width)))
    if n_audit is None:
        needed = audit_cameras_needed(sizing, prior_recall)
        expected = expected_cameras_per_image(len(det), evidence, measure, prior_recall)
        n_audit = min(int(math.ceil(needed / max(expected, 0.02))), cap)
    if n_verify is None:
        n_verify = sample_size_for_relative_half_width(target_half_width, p=0.5)
    if n_verify < 0 or n_audit < 0:
        raise GeoInputError("--n-verify and --n-audit must be >= 0")
    return ReviewDesign(conf_threshold=float(tables.conf_threshold), edges=edges, verify_order=verify_order,
                        verify_strata_sizes=sizes.tolist(), audit_order=audit_order,
                        audit_strata_sizes=audit_sizes, n_verify=min(int(n_verify), len(verify_order)),
                        n_audit=min(int(n_audit), len(audit_order)), target_half_width=float(target_half_width),
                        seed=int(seed), adaptive_audit=adaptive,
                        audit_size_measure=measure[order].round(3).tolist(), prior_recall=round(prior_recall, 4),
                        audit_cap=cap, sizing_half_width=None if sizing == target_half_width else round(sizing, 4))


def audit_cameras_needed(target_half_width: float, recall: float) -> int:
    """Cameras the audited images should hold for a relative half-width ``target_half_width`` on
    the count from recall ``recall`` (``sample_size_for_relative_half_width``), within
    ``MIN_AUDIT_CAMERAS``-``MAX_AUDIT_CAMERAS``."""
    n = sample_size_for_relative_half_width(target_half_width, p=recall)
    return int(min(max(n, MIN_AUDIT_CAMERAS), MAX_AUDIT_CAMERAS))


def expected_cameras_per_image(n_detections: int, evidence: np.ndarray, measure: np.ndarray, recall: float) -> float:
    """A first guess of the cameras per drawn image: the detections (about the found cameras)
    over the recall, spread over the images with evidence, which the draw favours by their size
    measure."""
    n_ev = max(int(evidence.sum()), 1)
    per_evidence_image = n_detections / max(recall, 0.05) / n_ev
    share = float(measure[evidence].sum() / max(measure.sum(), 1e-9))  # draws that land on evidence images
    return per_evidence_image * share


def planned_review(n_images: int, n_cameras: float, *, recall: float = 0.5, target_half_width: float = DEFAULT_TARGET
                   ) -> tuple[int, int]:
    """(detections to verify, images to audit) that a review of a planned survey of ``n_images``
    images holding about ``n_cameras`` cameras is expected to need at the defaults: the cameras
    the count's interval asks for at ``recall``, over the cameras per drawn image (the draw
    favouring images with evidence: taken as twice the survey's average, at least one box per
    camera), capped (``default_audit_cap``)."""
    needed = audit_cameras_needed(target_half_width, recall)
    per_image = 2.0 * max(float(n_cameras), 1.0) / max(int(n_images), 1)
    n_audit = min(int(math.ceil(needed / per_image)), default_audit_cap(int(n_images)))
    return sample_size_for_relative_half_width(target_half_width, p=0.5), n_audit


def person_minutes(n_verify: int, n_audit: int, *, seconds_per_detection: float = SECONDS_PER_DETECTION,
                   seconds_per_image: float = SECONDS_PER_IMAGE) -> float:
    """A person's time for a review (minutes) at the stated seconds per answer."""
    return (n_verify * seconds_per_detection + n_audit * seconds_per_image) / 60.0


def person_time_line(n_verify: int, n_audit: int, *, seconds_per_detection: float = SECONDS_PER_DETECTION,
                     seconds_per_image: float = SECONDS_PER_IMAGE) -> str:
    """``person-time: 97 detections x 3 s + 400 images x 8 s = about 58 min``."""
    minutes = person_minutes(n_verify, n_audit, seconds_per_detection=seconds_per_detection,
                             seconds_per_image=seconds_per_image)
    return (f"person-time: {n_verify:,} detections x {seconds_per_detection:g} s + {n_audit:,} images x "
            f"{seconds_per_image:g} s = about {minutes:.0f} min")


def open_design(tables: SurveyTables, *, target_half_width: float = DEFAULT_TARGET, n_verify: int | None = None,
                n_audit: int | None = None, seed: int = 0, prior_recall: float | None = None,
                sizing_half_width: float | None = None) -> ReviewDesign:
    """The survey's stored design (resumed; ``n_verify`` / ``n_audit`` extend or shorten its
    prefixes), or a new one written to ``review/sample.json`` (sized for ``sizing_half_width``
    when the survey's encounter leaves the target out of reach: ``encounter_limit``). A stored design whose detections
    no longer match the survey's (detect was run again) is an error, since its answers would
    no longer describe these detections."""
    stored = read_design(tables.survey_dir)
    if stored is None:
        design = design_review(tables, target_half_width=target_half_width, n_verify=n_verify,
                               n_audit=n_audit, seed=seed, prior_recall=prior_recall,
                               sizing_half_width=sizing_half_width)
    else:
        design = replace(stored)
        if tables.conf_threshold != design.conf_threshold:  # the review keeps its own threshold
            tables.conf_threshold = design.conf_threshold
            tables.__dict__.pop("detections", None)
        check_design_matches(design, tables)
        if n_verify is not None:
            design.n_verify = min(int(n_verify), len(design.verify_order))
        if n_audit is not None:
            design.n_audit = min(int(n_audit), len(design.audit_order))
            design.adaptive_audit = False
    if design != stored:
        write_text(design_path(tables.survey_dir), json.dumps(asdict(design)))
    return design


def check_design_matches(design: ReviewDesign, tables: SurveyTables) -> None:
    """Raise ``GeoInputError`` when the survey's detections (at the design's threshold) are no
    longer the ones the design sampled (detect was run again): the answers would not describe them."""
    if set(design.verify_order) != set(tables.detections.index):
        raise GeoInputError(f"the detections changed since the review began ({design_path(tables.survey_dir)}); "
                            "move the review/ folder away and review again")


def cameras_needed(design: ReviewDesign, *, recall: float | None = None) -> int:
    """Cameras the audited images should hold: for the relative target on the count at the
    recall measured so far (else the design's prior recall; version 2), or for the absolute
    target on recall (version 1)."""
    if not design.relative_target:
        return sample_size_for_half_width(design.target_half_width)
    r = design.prior_recall if recall is None or not np.isfinite(recall) else recall
    return audit_cameras_needed(design.sizing, r)


def extend_audit(design: ReviewDesign, survey_dir: str | Path, *, n_cameras: int,
                 recall: float | None = None) -> ReviewDesign | None:
    """A longer audit sample (written) when the design is adaptive, every planned image is
    audited, the audited images hold fewer than ``cameras_needed`` cameras (at ``recall``, the
    review's so far) and images remain under the cap; else None. It grows by the images that the
    cameras per audited image so far say are still needed (at least 10, at most double), always
    the next ones of the same order."""
    needed = cameras_needed(design, recall=recall)
    limit = len(design.audit_order) if design.audit_cap is None else min(design.audit_cap, len(design.audit_order))
    if not design.adaptive_audit or n_cameras >= needed or design.n_audit >= limit:
        return None
    per_image = n_cameras / max(design.n_audit, 1)
    more = int(math.ceil((needed - n_cameras) / per_image)) if per_image > 0 else design.n_audit
    more = max(10, min(more, max(design.n_audit, 10)))
    grown = replace(design, n_audit=min(design.n_audit + more, limit))
    write_text(design_path(survey_dir), json.dumps(asdict(grown)))
    return grown


def half_width_of_cv(cv: float, *, z: float = Z95) -> float:
    """The relative half-width (hi - lo) / 2 / estimate of a log-normal 95% interval of CV ``cv``."""
    return float(math.sinh(z * math.sqrt(math.log1p(cv * cv))))


def cv_of_half_width(half_width: float, *, z: float = Z95) -> float:
    """The CV whose log-normal 95% interval has relative half-width ``half_width`` (inverse of
    ``half_width_of_cv``)."""
    return float(math.sqrt(math.expm1((math.asinh(half_width) / z) ** 2)))


@dataclass(frozen=True)
class EncounterLimit:
    """What a survey's size leaves a review (``encounter_limit``)."""

    located: float  # cameras located by the estimate
    encounter_cv: float  # the estimate's CV from the encounter alone
    half_width: float  # the relative 95% half-width with precision and recall known exactly
    target: float
    reachable: bool
    located_needed: int  # located cameras the target would need at least (the encounter alone within it)
    sizing_half_width: float  # what the review's samples are sized for

    @property
    def scale_needed(self) -> float:
        """How many times this survey's size (streets at this design) the target would need."""
        return self.located_needed / max(self.located, 1e-9)


def encounter_limit(cv: float, encounter_share: float, located: float, *, target: float = DEFAULT_TARGET
                    ) -> EncounterLimit | None:
    """The encounter's limit on a count of CV ``cv`` whose variance is ``encounter_share`` from the
    encounter (which cameras the survey happened to find, ``located`` of them): its CV, the 95%
    half-width it alone allows, whether ``target`` is reachable (that half-width under
    ``REACH_MARGIN`` x the target), the located cameras the target
    needs at least (the encounter's variance goes as 1 / located), and the half-width the review's
    audit is sized for (the target, or when out of reach recall adding ``REVIEW_VARIANCE_SHARE`` of
    the encounter's variance, at most ``MAX_SIZING_HALF_WIDTH``). None when the figures are missing."""
    try:
        cv, share, located = float(cv), float(encounter_share), float(located)
    except (TypeError, ValueError):
        return None
    if not (math.isfinite(cv) and cv > 0 and 0 <= share <= 1 and located > 0):
        return None
    enc = cv * math.sqrt(share)
    half = half_width_of_cv(enc)
    reachable = half < REACH_MARGIN * target
    needed = int(math.ceil(located * (enc / cv_of_half_width(target)) ** 2))
    sizing = target if reachable else min(max(target, Z95 * enc * math.sqrt(REVIEW_VARIANCE_SHARE)),
                                          max(MAX_SIZING_HALF_WIDTH, target))
    return EncounterLimit(located=located, encounter_cv=enc, half_width=half, target=float(target),
                          reachable=reachable, located_needed=max(needed, 1), sizing_half_width=sizing)


def encounter_limit_of(survey_dir: str | Path, *, target: float = DEFAULT_TARGET) -> EncounterLimit | None:
    """``encounter_limit`` of the survey's last estimate (report.json's total: est_cv,
    variance_share, n_cameras), or None without one."""
    try:
        total = json.loads((Path(survey_dir) / "report.json").read_text(encoding="utf-8")).get("total") or {}
    except (OSError, ValueError, AttributeError):
        return None
    share = (total.get("variance_share") or {}).get("encounter")
    return encounter_limit(total.get("est_cv"), share, total.get("n_cameras"), target=target)


def reach_line(limit: EncounterLimit | None) -> str | None:
    """One ``note:`` line when the encounter keeps the target out of reach for a survey (None
    otherwise): the interval a perfect calibration would leave, what the audit is sized for instead,
    and the located cameras (survey size) the target needs."""
    if limit is None or limit.reachable:
        return None
    sized = (f" The audit is sized for ±{limit.sizing_half_width * 100:.0f}% instead (recall adding at most half "
             "the encounter's variance)." if limit.sizing_half_width > limit.target + 0.005 else "")
    return (f"note: ±{limit.target * 100:.0f}% is out of reach for this survey: the {limit.located:.0f} cameras it "
            f"located give an encounter CV of {limit.encounter_cv:.2f} (which cameras a survey of this size happens "
            f"to find), so even with precision and recall known exactly its 95% interval is about "
            f"±{limit.half_width * 100:.0f}%.{sized} ±{limit.target * 100:.0f}% needs at least about "
            f"{limit.located_needed:,} located cameras: a survey about {_times(limit.scale_needed)} as large, or a "
            "denser design (camcensus plan --review). Where the detector finds fewer cameras than its card says, "
            "it is wider still.")


def _times(scale: float) -> str:
    """``2.3x`` under 10, ``15x`` from 10 up."""
    return f"{scale:.1f}x" if scale < 10 else f"{scale:.0f}x"


def review_reach_for_plan(area, design, calibration, *, density_per_km: float, target: float = DEFAULT_TARGET,
                          level: float | None = None) -> dict:
    """For ``camcensus plan --review``: what the encounter leaves a review of ``design`` on the
    planned ``area`` (``geo.counting.planning``), at the card's recall and where the detector finds
    less (its recall level moved by ``level`` logits, default the plan's ``UNSEEN_LEVEL``: about a
    third of the card's recall; the renderer's held-out look is about a quarter): the encounter
    limits (``encounter_limit``, as dicts) and the recall ratio assumed."""
    from dataclasses import asdict
    from dataclasses import replace as replaced

    from geo.counting.planning import UNSEEN_LEVEL, design_prediction
    from geo.counting.recapture import shifted_rates

    level = UNSEEN_LEVEL if level is None else float(level)
    rates = calibration.recall_bins()
    lower = shifted_rates(rates, level)
    unseen = replaced(calibration, rec_found=lower * calibration.rec_n)
    weights = calibration.rec_n / max(float(calibration.rec_n.sum()), 1e-9)
    out = {"target": float(target), "unseen_level": level,
           "unseen_recall_ratio": float(lower @ weights / max(float(rates @ weights), 1e-12))}
    for name, cal in (("card", calibration), ("unseen", unseen)):
        pred = design_prediction(area, design, cal, density_per_km=density_per_km, review=True)
        limit = encounter_limit(pred.cv, pred.var_share.get("encounter"), pred.located, target=target)
        out[name] = asdict(limit) if limit is not None else None
    return out


def plan_reach_lines(reach: dict | None) -> list[str]:
    """The plan's lines on what the encounter leaves a review (``review_reach_for_plan``): at the
    card's recall and where the detector finds less; a ``note:`` when the target is out of reach
    there, with the located cameras (survey size) it needs."""
    if not reach or not reach.get("card") or not reach.get("unseen"):
        return []
    card, unseen = EncounterLimit(**reach["card"]), EncounterLimit(**reach["unseen"])
    line = (f"the encounter (which cameras a survey of this size happens to find) leaves a review at best "
            f"±{card.half_width * 100:.0f}% at the card's recall (about {card.located:.0f} cameras located), "
            f"±{unseen.half_width * 100:.0f}% where the detector finds {reach['unseen_recall_ratio']:.2f}x the card's "
            f"recall, as on imagery unlike its training (about {unseen.located:.0f} located)")
    lines = [line]
    worst = card if not card.reachable else unseen
    if not worst.reachable:
        where = "even at the card's recall" if worst is card else "where the detector finds less"
        lines.append(f"note: ±{worst.target * 100:.0f}% is out of reach for this design {where}, whatever the "
                     f"review: it needs at least about {worst.located_needed:,} located cameras, a survey about "
                     f"{_times(worst.scale_needed)} as large at this design, or a denser one")
    return lines
