"""The designed samples of a review: which detections to verify and which images to audit.

- verify: detections at or above the threshold, stratified by confidence bin (bins at the
  quartiles of the survey's own confidences), allocated in proportion to sqrt(bin size): every
  bin gets answers for the precision curve, the big bins a little more for overall precision.
- audit: ok images stratified by "has a detection" or not, allocated in proportion (the sample
  is self-weighting, so recall counts need no weights).

Each queue is a random order of its whole population, interleaved so that every prefix holds
the strata in the design's shares: a sample of n is the first n items, and asking for a larger
n later extends it without changing what was already answered. The design is written once to
``review/sample.json`` and read back, so that every tab and every restart see the same sample.

Sample sizes follow a target half-width of the 95% interval: n = z^2 p (1-p) / h^2 at p = 0.5
(the worst case), e.g. 97 answers for +-0.10.
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
DESIGN_VERSION = 1
RECALL_SIZE_EDGES_PX = [0, 6, 8, 12, 16, 24, 32, 64, 100000]  # sqrt(box area), the shared format


def sample_size_for_half_width(half_width: float, *, p: float = 0.5, z: float = Z95) -> int:
    """Answers needed for a 95% interval of +-``half_width`` on a proportion near ``p``."""
    if not 0 < half_width < 0.5:
        raise GeoInputError(f"--target must be in (0, 0.5), got {half_width}")
    return int(math.ceil(z * z * p * (1 - p) / half_width ** 2))


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


def design_review(tables: SurveyTables, *, target_half_width: float = 0.1, n_verify: int | None = None,
                  n_audit: int | None = None, seed: int = 0) -> ReviewDesign:
    """A new design for the survey (nothing written). Default sizes: ``target_half_width`` on
    overall precision (detections to verify) and on overall recall (images to audit: enough to
    hold about as many cameras, guessed from the detections per image)."""
    rng = np.random.default_rng([seed, 14])
    det = tables.detections
    edges = confidence_edges(det["conf"].to_numpy(float), tables.conf_threshold)
    bins = bin_index(det["conf"].to_numpy(float), edges)
    sizes = np.bincount(bins, minlength=len(edges) - 1).astype(int)
    shares = {b: math.sqrt(n) for b, n in enumerate(sizes) if n}
    verify_order = interleaved_order(det.index.to_numpy(), bins, shares, rng=rng)
    images = tables.images
    with_det = images.index.isin(det["image_id"].unique())
    strata = np.where(with_det, "with_detection", "without_detection")
    audit_sizes = {"with_detection": int(with_det.sum()), "without_detection": int((~with_det).sum())}
    audit_order = interleaved_order(images.index.to_numpy(), strata,
                                    {k: v for k, v in audit_sizes.items() if v}, rng=rng)
    needed = sample_size_for_half_width(target_half_width)
    adaptive = n_audit is None
    if n_audit is None:
        per_image = len(det) / max(len(images), 1)  # about as many cameras as detections: a first guess
        n_audit = int(math.ceil(needed / max(per_image, 0.05)))
    n_verify = needed if n_verify is None else n_verify
    if n_verify < 0 or n_audit < 0:
        raise GeoInputError("--n-verify and --n-audit must be >= 0")
    return ReviewDesign(conf_threshold=float(tables.conf_threshold), edges=edges, verify_order=verify_order,
                        verify_strata_sizes=sizes.tolist(), audit_order=audit_order,
                        audit_strata_sizes=audit_sizes, n_verify=min(int(n_verify), len(verify_order)),
                        n_audit=min(int(n_audit), len(audit_order)), target_half_width=float(target_half_width),
                        seed=int(seed), adaptive_audit=adaptive)


def open_design(tables: SurveyTables, *, target_half_width: float = 0.1, n_verify: int | None = None,
                n_audit: int | None = None, seed: int = 0) -> ReviewDesign:
    """The survey's stored design (resumed; ``n_verify`` / ``n_audit`` extend or shorten its
    prefixes), or a new one written to ``review/sample.json``. A stored design whose detections
    no longer match the survey's (detect was run again) is an error, since its answers would
    no longer describe these detections."""
    stored = read_design(tables.survey_dir)
    if stored is None:
        design = design_review(tables, target_half_width=target_half_width, n_verify=n_verify,
                               n_audit=n_audit, seed=seed)
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


def cameras_needed(design: ReviewDesign) -> int:
    """Cameras the audited images should hold for the target width on recall."""
    return sample_size_for_half_width(design.target_half_width)


def extend_audit(design: ReviewDesign, survey_dir: str | Path, *, n_cameras: int) -> ReviewDesign | None:
    """A longer audit sample (written) when the design is adaptive, every planned image is
    audited, the audited images hold fewer than ``cameras_needed`` cameras and images remain;
    else None. It grows by the images that the cameras per audited image so far say are still
    needed (at least 10, at most double), always the next ones of the same random order."""
    needed = cameras_needed(design)
    if not design.adaptive_audit or n_cameras >= needed or design.n_audit >= len(design.audit_order):
        return None
    per_image = n_cameras / max(design.n_audit, 1)
    more = int(math.ceil((needed - n_cameras) / per_image)) if per_image > 0 else design.n_audit
    more = max(10, min(more, max(design.n_audit, 10)))
    grown = replace(design, n_audit=min(design.n_audit + more, len(design.audit_order)))
    write_text(design_path(survey_dir), json.dumps(asdict(grown)))
    return grown
