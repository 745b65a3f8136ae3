"""The detector's calibration: precision by confidence and recall by box size, with their
sampling uncertainty.

A calibration is the shared plain dict (see DESIGN.md / the brief of issues 12-14)::

    {"source": "card" | "review" | "assumed", "conf_threshold": 0.25,
     "precision_bins": {"edges": [...], "n": [...], "real": [...], "population": [...]},
     "recall_bins": {"edges_px": [...], "n": [...], "found": [...]}, "n_images": ...}

``population`` (optional; the review writes it) is the number of the survey's detections in each
bin that the checked ones were drawn from, for the finite-population correction.

``false_bins`` (optional; ``camcensus evaluate`` writes it into a model card): the false detections
per confidence bin (same edges as ``precision_bins``) on ``n_images`` held-out images::

    "false_bins": {"edges": [...], "false": [...], "n_images": N}

False detections are a rate per image, which carries from one area to another; precision is a
ratio of false to true detections and depends on how many cameras an area has, so a card's
precision never stands in for a survey's. A card without ``false_bins`` but with precision bins
and ``n_images`` gets them derived (false = n - real: the same held-out evaluation); without
either, the estimator falls back on the precision (and says so). Each bin's rate has a Gamma
posterior, Gamma(false + 1/(2k), n_images) over k bins (the Jeffreys prior of a Poisson rate,
its half count spread over the bins). A survey's own rate strays from a card's by more than that:
``false_transfer_sd`` (optional, a log SD; default ``FALSE_TRANSFER_LOG_SD``) widens it into the
prior the estimator updates with the survey's own singles (``Calibration.false_prior``).

Counts, not rates: each bin's rate has a Beta posterior (Jeffreys prior, Beta(1/2, 1/2), shrunk
towards the pooled rate by ``PRIOR_STRENGTH`` pseudo-counts so that an empty or tiny bin falls
back on the pooled figure with a wide uncertainty). The point curves are the posterior means made
monotone (isotonic: precision rises with confidence, recall with box size, weighted by the bins'
counts); recall between bin centres is interpolated in log box size.

``calibration_from_dict`` checks and reads the dict; ``calibration_from_rates`` builds one from
scalar precision and recall (older model cards) with an assumed evaluation size, ``NOMINAL_N``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from geo.counting.heterogeneity import CAMERA_LOGIT_SD
from geo.errors import GeoInputError

NOMINAL_N = 200  # evaluation size assumed for scalar precision / recall (cards without calibration)
DEFAULT_SIZE_EDGES_PX = (0.0, 6.0, 8.0, 12.0, 16.0, 24.0, 32.0, 64.0, 100000.0)
PRIOR_STRENGTH = 2.0  # pseudo-counts of the pooled rate added to each bin's Beta
# boxes per true camera in a card's or review's recall counts when the producer does not count the
# cameras (recall_bins.cameras): held-out surveys at 10-20 m spacing show most cameras in one to
# three views (issue 26: 90 of 106 cameras with a box >= 8 px had one), so two is the assumption
RECALL_BOXES_PER_CAMERA = 2.0
# the card's transfer to a new survey: the logit SD of a survey's recall level (one shift common to
# every size bin) about the card's, which no sampling error of the card carries (issue 27; docs/estimator.md
# section 14). Measured with scripts/validation/transfer.py on the 27 training-look rendered surveys
# against the shipped card: their mean shift -0.27 (SE 0.10) and the SD between them about that mean
# 0.17-0.35 (method of moments by size-bin design effect / by camera clusters; GLMM 0.33, 0-0.68), so
# the root mean square about the card, sqrt(0.27^2 + 0.30^2) = 0.40. A card may state its own
# (``recall_transfer_sd`` in its calibration dict). Only a card's recall transfers: a review's or a
# survey's own fit measures the survey itself. Measured again for the shipped cctv-yolo11n-synth4-wise
# (session 12, docs/estimator.md 17.3) on the first 10 training-look surveys of the rendered6 cache, camera by
# camera (the level u at which the card, moved by u, expects the survey's found cameras given their true boxes):
# mean -0.60, DerSimonian-Laird tau 0.42, so sqrt(0.60^2 + 0.42^2) = 0.73; box by box (14.1's way) 0.43-0.47;
# a nested GLMM (survey and camera effects) puts the survey SD at 1.0. 0.70: the camera-level figure, what p*
# sums; the interval takes it at the estimate's own ends (``geo.counting.estimate.transfer_profile``).
RECALL_TRANSFER_LOGIT_SD = 0.70
# Log SD of a survey's false-detection rate about a card's, beyond the card's own counting error (issue 27,
# docs/estimator.md 16): the 27 rendered training-look surveys' 49 false boxes on 18,009 images against the
# shipped card's 13 on 3,000 sit delta = -0.56 (SE 0.18) below it with a spread tau = 0.48 (95% 0-1.08)
# between surveys (Poisson-lognormal, ``scripts.validation.false_share rates``); sqrt(delta^2 - se_card^2 +
# tau^2) = 0.69, se_card = 0.27 the card's own log SE (already in its Gamma). A card may state its own
# ``false_transfer_sd``.
FALSE_TRANSFER_LOG_SD = 0.69


@dataclass(frozen=True)
class Calibration:
    """Binned counts of a calibration (numpy arrays); see the module docstring."""

    source: str
    conf_threshold: float
    conf_edges: np.ndarray  # k + 1 confidence edges
    prec_n: np.ndarray  # detections checked per confidence bin
    prec_real: np.ndarray  # of them real
    size_edges: np.ndarray  # m + 1 edges of sqrt(box area), pixels
    rec_n: np.ndarray  # true cameras per size bin
    rec_found: np.ndarray  # of them detected
    n_images: int = 0
    extra: dict | None = None  # figures the producer stated (overall precision with interval, ...)
    prec_population: np.ndarray | None = None  # detections per confidence bin the checked ones were drawn from
    false_n: np.ndarray | None = None  # false detections per confidence bin on false_images held-out images
    false_images: int = 0
    false_derived: bool = False  # false_n derived from precision_bins (a card without false_bins)
    boxes_per_camera: float = 1.0  # recall's boxes per true camera (the design effect of recall_beta)
    # per-camera logit SD of recall (``geo.counting.heterogeneity``) the estimate's inclusion and this recall's design
    # effect assume: the training look's, unless a flagged survey's own fit measured its own (issue 26)
    camera_sd: float = CAMERA_LOGIT_SD
    # logit SD of the survey's recall level about this calibration's (``RECALL_TRANSFER_LOGIT_SD``); a card's
    transfer_sd: float = 0.0
    false_transfer_sd: float = 0.0  # log SD of a survey's false rate about this card's (``FALSE_TRANSFER_LOG_SD``)
    # whether the survey's imagery looks like the card's (False where ``card_check`` flags it): the real detections'
    # spread over the confidence bins (``real_share``) is the look's, like recall
    look_fits: bool = True

    def recall_level_sd(self) -> float:
        """Logit SD of the survey's recall level about this calibration's, common to every size
        bin: the card's transfer to a new survey (``transfer_sd``) for a held-out card; 0 for a
        review or a survey's own fit (they measure the survey itself) and for assumed rates."""
        return float(self.transfer_sd) if self.source == "card" else 0.0

    def false_level_sd(self) -> float:
        """Log SD of a survey's false-detection rate about this calibration's, common to every
        confidence bin, beyond its own counting error: ``false_transfer_sd`` for a held-out card;
        0 for a review or assumed rates."""
        return float(self.false_transfer_sd) if self.source == "card" else 0.0

    def false_prior(self) -> tuple[np.ndarray, np.ndarray]:
        """(shape, images) per confidence bin of a Gamma prior of a new survey's false detections
        per image: the card's Gamma posterior (``false_rate_gamma``), its relative variance
        1 / shape widened by the transfer (``false_level_sd``^2) at the same mean; ``images`` is the
        prior's weight in images (shape / mean rate)."""
        shape, rate = self.false_rate_gamma()
        wide = 1.0 / (1.0 / shape + self.false_level_sd() ** 2)
        return wide, rate * wide / shape

    def uses_false_rate(self) -> bool:
        """Whether P(real) comes from the false-detection rate per image (a held-out calibration
        with false counts) rather than from the precision (a review of the survey's own
        detections, or a calibration without false counts)."""
        return self.false_n is not None and self.false_images > 0 and not self.sampled_survey()

    def false_rate_gamma(self) -> tuple[np.ndarray, np.ndarray]:
        """(shape, rate) of each confidence bin's Gamma posterior of the false detections per
        image: Gamma(false + 1/(2k), n_images) over k bins (the Jeffreys prior's half count spread
        over the bins, so that the total rate's posterior is Gamma(total + 1/2, n_images))."""
        if self.false_n is None or self.false_images <= 0:
            raise ValueError("this calibration has no false-detection counts")
        k = len(self.false_n)
        return self.false_n + 0.5 / k, np.full(k, float(self.false_images))

    def false_rates(self) -> np.ndarray:
        """Posterior-mean false detections per image, per confidence bin."""
        shape, rate = self.false_rate_gamma()
        return shape / rate

    def real_share(self) -> np.ndarray:
        """Share of real detections per confidence bin, (real + 1/2) / sum (the card's real
        detections with a Jeffreys half count per bin): how a survey's real single-detection
        cameras spread over the bins (P(real) from a false rate, ``geo.counting.estimate.
        reality_from_rate``; the 27 rendered training-look surveys' real singles: 0.10 / 0.14 /
        0.55 / 0.21 / 0 against the shipped card's 0.10 / 0.16 / 0.56 / 0.18 / 0.00)."""
        share = np.asarray(self.prec_real, float) + 0.5
        return share / share.sum()

    def sampled_survey(self) -> bool:
        """Whether the precision bins are a sample of this survey's own detections (a review,
        drawn without replacement), rather than of held-out data (a model card)."""
        return self.source == "review" or self.prec_population is not None

    def precision_fpc(self, survey_n: np.ndarray) -> np.ndarray:
        """Finite-population correction 1 - n_b / N_b of each confidence bin (Cochran 1977,
        eq. 2.12: the variance of a total estimated from a simple random sample of n_b of N_b
        units carries the factor 1 - f): N_b the bin's ``population`` when the producer states
        it, else ``survey_n`` (the survey's detections per bin). All ones when the precision
        comes from held-out data: the survey's detections are then a new Bernoulli sample."""
        if not self.sampled_survey():
            return np.ones(len(self.prec_n))
        pop = self.prec_population if self.prec_population is not None else np.asarray(survey_n, float)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.clip(np.where(pop > 0, 1.0 - self.prec_n / pop, 0.0), 0.0, 1.0)

    # --- Beta posteriors per bin -------------------------------------------------------------
    def precision_beta(self) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) of each confidence bin's Beta posterior of precision."""
        return _beta(self.prec_real, self.prec_n)

    def recall_beta(self) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) of each size bin's Beta posterior of recall, by camera: recall is counted over
        boxes, but the boxes of one camera are not independent (the per-camera logit effect,
        ``geo.counting.heterogeneity``), so the counts are divided by the design effect
        1 + (m - 1) rho (Kish 1965), m the boxes per camera (``boxes_per_camera``) and rho the
        intra-camera correlation of hits that the effect implies at the bin's recall
        (``recall_design_effect``)."""
        deff = recall_design_effect(_beta(self.rec_found, self.rec_n), boxes_per_camera=self.boxes_per_camera,
                                    sd=self.camera_sd)
        return _beta(self.rec_found / deff, self.rec_n / deff)

    def precision_bins(self) -> np.ndarray:
        """Monotone posterior-mean precision per confidence bin."""
        a, b = self.precision_beta()
        return _monotone(a / (a + b), self.prec_n)

    def recall_bins(self) -> np.ndarray:
        """Monotone posterior-mean recall per size bin."""
        a, b = self.recall_beta()
        return _monotone(a / (a + b), self.rec_n)

    def with_rates(self, *, precision: np.ndarray | None = None, recall: np.ndarray | None = None
                   ) -> RateCurves:
        """Curves from given per-bin rates (default: this calibration's point rates)."""
        return RateCurves(self.conf_edges, self.precision_bins() if precision is None else np.asarray(precision),
                          self.size_edges, self.recall_bins() if recall is None else np.asarray(recall))

    def curves(self) -> RateCurves:
        """The point precision and recall curves."""
        return self.with_rates()

    def scaled(self, factor: float) -> Calibration:
        """The same rates from ``factor`` times the counts (for tests of sample size)."""
        return replace(self, prec_n=self.prec_n * factor, prec_real=self.prec_real * factor,
                       rec_n=self.rec_n * factor, rec_found=self.rec_found * factor,
                       false_n=None if self.false_n is None else self.false_n * factor,
                       false_images=int(round(self.false_images * factor)))


@dataclass(frozen=True)
class RateCurves:
    """Precision per confidence bin and recall per size bin as functions."""

    conf_edges: np.ndarray
    precision: np.ndarray
    size_edges: np.ndarray
    recall: np.ndarray

    def precision_at(self, conf: np.ndarray) -> np.ndarray:
        """P(real) of detections of confidence ``conf`` (the bin's precision)."""
        return self.precision[conf_bin(conf, self.conf_edges)]

    def recall_at(self, size_px: np.ndarray) -> np.ndarray:
        """P(detected) of a camera whose box is ``size_px`` (sqrt of the area) pixels: linear in
        log size between bin centres (geometric means of the edges), flat beyond the outer ones."""
        return recall_at(size_px, self.size_edges, self.recall)


def conf_bin(conf: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Index of each confidence's bin (below the first edge: the first bin; 1.0: the last)."""
    k = len(edges) - 1
    return np.clip(np.searchsorted(edges, np.asarray(conf, float), side="right") - 1, 0, k - 1)


def size_centres(edges: np.ndarray) -> np.ndarray:
    """Log-scale centres of the size bins (pixels): geometric means, the first bin's at 3/4 of
    its upper edge and the open last bin's at 1.5x its lower edge."""
    lo, hi = np.asarray(edges[:-1], float), np.asarray(edges[1:], float)
    if len(lo) == 1:  # one bin: a flat curve, any centre
        return np.array([10.0])
    centre = np.sqrt(np.maximum(lo, 1e-9) * hi)
    centre[0] = 0.75 * hi[0] if lo[0] <= 0 else centre[0]
    centre[-1] = 1.5 * lo[-1] if hi[-1] >= 1e4 else centre[-1]
    return centre


def recall_at(size_px: np.ndarray, edges: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Recall at box sizes ``size_px`` from per-bin ``rates`` (see ``RateCurves.recall_at``).
    ``rates`` may be (m,) or (d, m) for d draws; the result then has a leading axis d."""
    i0, i1, t = size_bin_weights(size_px, edges)
    rates = np.asarray(rates, float)
    return rates[..., i0] * (1 - t) + rates[..., i1] * t


def size_bin_weights(size_px: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower bin, upper bin, weight of the upper) of box sizes ``size_px`` (px) between the recall
    bins' centres (log size): ``recall_at`` interpolates linearly between them."""
    centres = np.log(size_centres(edges))
    x = np.log(np.maximum(np.asarray(size_px, float), 1e-3))
    pos = np.clip(np.interp(x, centres, np.arange(len(centres), dtype=float)), 0, len(centres) - 1)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, len(centres) - 1)
    return i0, i1, pos - i0


def calibration_from_dict(data: dict) -> Calibration:
    """A ``Calibration`` from the shared dict; ``GeoInputError`` naming what is malformed."""
    if not isinstance(data, dict):
        raise GeoInputError(f"calibration must be a dict, got {type(data).__name__}")
    try:
        pb, rb = data["precision_bins"], data["recall_bins"]
        edges = np.asarray(pb["edges"], float)
        pn, pr = np.asarray(pb["n"], float), np.asarray(pb["real"], float)
        sedges = np.asarray(rb.get("edges_px", DEFAULT_SIZE_EDGES_PX), float)
        rn, rf = np.asarray(rb["n"], float), np.asarray(rb["found"], float)
    except (KeyError, TypeError, AttributeError) as error:
        raise GeoInputError(f"calibration lacks {error}: it needs precision_bins (edges, n, real) and "
                            "recall_bins (edges_px, n, found)") from None
    for name, e, n, k in (("precision_bins", edges, pn, pr), ("recall_bins", sedges, rn, rf)):
        if len(e) < 2 or len(n) != len(e) - 1 or len(k) != len(n):
            raise GeoInputError(f"calibration {name}: {len(e)} edges need {len(e) - 1} counts, got "
                                f"{len(n)} and {len(k)}")
        if np.any(np.diff(e) <= 0):
            raise GeoInputError(f"calibration {name}: edges must increase")
        if np.any(n < 0) or np.any(k < 0) or np.any(k > n):
            raise GeoInputError(f"calibration {name}: counts must satisfy 0 <= hits <= n")
    population = pb.get("population") if isinstance(pb, dict) else None
    if population is not None:
        population = np.asarray(population, float)
        if len(population) != len(pn) or np.any(population < pn):
            raise GeoInputError(f"calibration precision_bins: population needs {len(pn)} counts, each at least "
                                "the bin's n")
    if pn.sum() <= 0 and rn.sum() <= 0:
        raise GeoInputError("calibration has no counts (no checked detections, no audited cameras)")
    source = str(data.get("source", "card"))
    n_images = int(data.get("n_images") or 0)
    false_n, false_images, derived = false_from_dict(data, edges=edges, prec_n=pn, prec_real=pr, source=source,
                                                     n_images=n_images)
    known = {"source", "conf_threshold", "precision_bins", "recall_bins", "n_images", "false_bins",
             "recall_transfer_sd", "false_transfer_sd"}
    transfer = _transfer_sd(data, "recall_transfer_sd", RECALL_TRANSFER_LOGIT_SD if source == "card" else 0.0, "logit")
    false_transfer = _transfer_sd(data, "false_transfer_sd", FALSE_TRANSFER_LOG_SD if source == "card" else 0.0, "log")
    if rb.get("cameras"):  # the true cameras the recall boxes came from, when the producer counts them
        per_camera = max(1.0, float(rn.sum()) / max(float(rb["cameras"]), 1.0))
    else:
        per_camera = 1.0 if "assumed_n" in data else RECALL_BOXES_PER_CAMERA
    return Calibration(source=source,
                       conf_threshold=float(data.get("conf_threshold", edges[0])),
                       conf_edges=edges, prec_n=pn, prec_real=pr, size_edges=sedges, rec_n=rn, rec_found=rf,
                       n_images=n_images,
                       extra={k: v for k, v in data.items() if k not in known}, prec_population=population,
                       false_n=false_n, false_images=false_images, false_derived=derived,
                       boxes_per_camera=per_camera, transfer_sd=transfer, false_transfer_sd=false_transfer)


def _transfer_sd(data: dict, key: str, default: float, scale: str) -> float:
    """A calibration's transfer SD ``key`` (a ``scale`` SD in [0, 5); ``default`` where absent), or a
    one-line ``GeoInputError``."""
    value = data.get(key, default)
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise GeoInputError(f"calibration {key} must be a number ({scale} SD), got {value!r}") from None
    if not 0.0 <= value < 5.0:
        raise GeoInputError(f"calibration {key} must be a {scale} SD in [0, 5), got {value:g}")
    return value


def false_from_dict(data: dict, *, edges: np.ndarray, prec_n: np.ndarray, prec_real: np.ndarray, source: str,
                    n_images: int) -> tuple[np.ndarray | None, int, bool]:
    """(false detections per confidence bin, images they came from, derived?) of a calibration
    dict: its ``false_bins``; else, for a held-out calibration (not a review) with precision bins
    and ``n_images``, false = n - real per bin (the same evaluation); else (None, 0, False)."""
    fb = data.get("false_bins")
    if fb is not None:
        try:
            fedges = np.asarray(fb["edges"], float)
            # YAML 1.1 reads a bare `false:` key as the boolean False
            false = np.asarray(fb["false"] if "false" in fb else fb[False], float)
            images = int(fb["n_images"]) if fb.get("n_images") is not None else int(n_images or 0)
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise GeoInputError(f"calibration false_bins lacks {error}: it needs edges, false and n_images") from None
        if len(fedges) != len(edges) or not np.allclose(fedges, edges, atol=1e-6):
            raise GeoInputError("calibration false_bins: its edges must be precision_bins' edges")
        if len(false) != len(edges) - 1 or np.any(false < 0):
            raise GeoInputError(f"calibration false_bins: {len(edges)} edges need {len(edges) - 1} non-negative "
                                f"counts, got {len(false)}")
        if images <= 0:
            raise GeoInputError("calibration false_bins: n_images must be a positive number of images")
        return false, images, False
    if source != "review" and "population" not in (data.get("precision_bins") or {}) and n_images > 0 \
            and prec_n.sum() > 0 and "assumed_n" not in data:
        return prec_n - prec_real, n_images, True
    return None, 0, False


def calibration_from_rates(precision: float, recall: float, *, n: int = NOMINAL_N,
                           conf_threshold: float = 0.25, source: str = "assumed") -> dict:
    """A calibration dict with one confidence bin and one size bin holding ``precision`` and
    ``recall`` as if measured on ``n`` detections and ``n`` true cameras (flat curves)."""
    for name, value in (("precision", precision), ("recall", recall)):
        if not 0 < float(value) <= 1:
            raise GeoInputError(f"{name} must be in (0, 1], got {value}")
    return {"source": source, "conf_threshold": float(conf_threshold),
            "precision_bins": {"edges": [float(conf_threshold), 1.0], "n": [int(n)],
                               "real": [float(precision) * n]},
            "recall_bins": {"edges_px": [0.0, 100000.0], "n": [int(n)], "found": [float(recall) * n]},
            "n_images": 0, "assumed_n": int(n)}


def calibration_summary(cal: Calibration, *, conf: np.ndarray | None = None, level: float = 0.95,
                        seed: int = 0, n_images: int | None = None) -> dict:
    """report.json's ``calibration``: source, n_verified, n_audited, overall precision and recall
    with ``level`` intervals. Overall figures weight the bins by the survey's detections
    (``conf``: their confidences) for precision and by the checked cameras for recall; the
    intervals come from the bins' Beta posteriors (Monte Carlo, seeded). With a false-detection
    rate per image (``Calibration.uses_false_rate``) and the survey's ``n_images``, the precision
    is the survey's implied one, 1 - rate x images / detections per bin (Gamma posteriors), and
    the rate itself is reported (``false_per_image`` with its interval)."""
    rng = np.random.default_rng(seed)
    alpha = (1 - level) / 2
    pa, pb = cal.precision_beta()
    if conf is not None and len(conf):
        weights = np.bincount(conf_bin(conf, cal.conf_edges), minlength=len(pa)).astype(float)
    else:
        weights = cal.prec_n.astype(float)
    weights = weights / weights.sum() if weights.sum() > 0 else np.full(len(pa), 1.0 / len(pa))
    p_draws = rng.beta(pa, pb, size=(4000, len(pa))) @ weights
    p_point = float(cal.precision_bins() @ weights)
    false_figures: dict = {}
    if cal.false_n is not None and cal.false_images > 0:
        shape, rate = cal.false_rate_gamma()
        f_draws = rng.gamma(shape, 1.0 / rate, size=(4000, len(shape)))
        total_rate = f_draws.sum(axis=1)
        false_figures = {"false_per_image": float(cal.false_rates().sum()),
                         "false_per_image_lo": float(np.quantile(total_rate, alpha)),
                         "false_per_image_hi": float(np.quantile(total_rate, 1 - alpha)),
                         "false_n": float(cal.false_n.sum()), "false_images": int(cal.false_images),
                         "false_derived_from_precision": bool(cal.false_derived)}
        if cal.uses_false_rate() and conf is not None and len(conf) and n_images:
            n_b = np.bincount(conf_bin(conf, cal.conf_edges), minlength=len(pa)).astype(float)
            p_draws = 1.0 - np.minimum(f_draws * n_images, n_b).sum(axis=1) / n_b.sum()
            p_point = float(1.0 - np.minimum(cal.false_rates() * n_images, n_b).sum() / n_b.sum())
            false_figures["precision_from"] = "false-detection rate per image x the survey's images"
    ra, rb = cal.recall_beta()
    rw = cal.rec_n / cal.rec_n.sum() if cal.rec_n.sum() > 0 else np.full(len(ra), 1.0 / len(ra))
    if (cal.extra or {}).get("recall_weights") is not None:  # a survey's own fit: the card's cameras by size (issue 26)
        rw = np.asarray(cal.extra["recall_weights"], float) / float(np.sum(cal.extra["recall_weights"]))
    r_draws = rng.beta(ra, rb, size=(4000, len(ra))) @ rw
    extra = cal.extra or {}
    return {"source": cal.source,
            "n_verified": int(extra.get("n_verified", cal.prec_n.sum())),
            "n_audited": int(extra.get("n_audited", cal.rec_n.sum())),
            "n_audit_cameras": int(extra.get("n_audit_cameras", cal.rec_n.sum())),
            "assumed_n": extra.get("assumed_n"),
            "conf_threshold": cal.conf_threshold,
            "precision": p_point,
            "precision_lo": float(np.quantile(p_draws, alpha)), "precision_hi": float(np.quantile(p_draws, 1 - alpha)),
            "recall": float(cal.recall_bins() @ rw),
            "recall_lo": float(np.quantile(r_draws, alpha)), "recall_hi": float(np.quantile(r_draws, 1 - alpha)),
            "recall_transfer_sd": cal.recall_level_sd(),
            "false_transfer_sd": cal.false_level_sd(),
            "precision_by_conf": {"edges": cal.conf_edges.tolist(), "precision": cal.precision_bins().round(4).tolist(),
                                  "n": cal.prec_n.tolist()},
            "recall_by_size": {"edges_px": cal.size_edges.tolist(), "recall": cal.recall_bins().round(4).tolist(),
                               "n": cal.rec_n.tolist()},
            **false_figures}


def transfer_variance(slopes: np.ndarray, recall: np.ndarray, sd: float) -> np.ndarray:
    """Variance of a total from a logit shift u ~ N(0, ``sd``^2) of every recall bin at once (the
    card's transfer, ``Calibration.recall_level_sd``), by the delta method: ``slopes`` (..., m) the
    total's derivative by each bin's recall, d recall_b / d u = r_b (1 - r_b); cameras^2."""
    r = np.clip(np.asarray(recall, float), 0.0, 1.0)
    return (float(sd) * (np.asarray(slopes, float) * (r * (1.0 - r))).sum(axis=-1)) ** 2


def recall_design_effect(beta: tuple[np.ndarray, np.ndarray], *, boxes_per_camera: float,
                         sd: float = CAMERA_LOGIT_SD) -> np.ndarray:
    """Per size bin, 1 + (m - 1) rho: the design effect of counting ``boxes_per_camera`` (m) boxes
    of each camera, rho = Var_u(expit(c(r) + u)) / (r (1 - r)) the intra-camera correlation of
    hits under the per-camera logit effect (``geo.counting.heterogeneity``) at the bin's recall r
    (the posterior mean of ``beta``); ``sd``: the effect's SD."""
    from geo.counting.heterogeneity import effect_nodes, expit, logit_shift

    a, b = beta
    r = np.clip(a / (a + b), 1e-4, 1 - 1e-4)
    if boxes_per_camera <= 1.0:
        return np.ones(len(r))
    u, w = effect_nodes(sd)
    p = expit(logit_shift(r, sd)[:, None] + u)
    rho = (w * (p - r[:, None]) ** 2).sum(-1) / (r * (1 - r))
    return 1.0 + (float(boxes_per_camera) - 1.0) * rho


def _beta(hits: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    hits, n = np.asarray(hits, float), np.asarray(n, float)
    pooled = (hits.sum() + 0.5) / (n.sum() + 1.0)
    a = hits + 0.5 + PRIOR_STRENGTH * pooled
    b = n - hits + 0.5 + PRIOR_STRENGTH * (1 - pooled)
    return a, b


def _monotone(rates: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Non-decreasing fit of ``rates`` weighted by ``n`` (+1), pool-adjacent-violators."""
    if len(rates) < 2:
        return np.asarray(rates, float)
    from scipy.optimize import isotonic_regression

    return np.asarray(isotonic_regression(rates, weights=np.asarray(n, float) + 1.0, increasing=True).x)
