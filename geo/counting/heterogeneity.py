"""Cameras differ: the per-camera logit effect of the detector's recall.

Views of one camera are not independent. Measured on 27 rendered surveys (the shipped detector,
issue 19), the hits of one camera's views given their box sizes correlate (0.078), which a
per-camera logit effect u ~ N(0, sd^2) with sd = 1.7 reproduces. A camera's views then have recall
expit(c(r_j) + u), with c(r) chosen so that the marginal recall per view stays r (the card's recall
by size), and the probability that at least one of its views finds it is the average over u of
1 - prod_j (1 - expit(c(r_j) + u)), which is below the independent-views 1 - prod_j (1 - r_j).

Shared by the estimator's inclusion, the planner, the survey's own recall fit and the validations
(one place for the constant and the quadrature).
"""

from __future__ import annotations

import numpy as np

from geo.counting.evengrid import interp_even

CAMERA_LOGIT_SD = 1.7  # per-camera logit SD of recall, measured on 27 rendered surveys (issue 19)
GH_NODES = 24  # Gauss-Hermite nodes of the averages over the camera effect


def expit(x: np.ndarray) -> np.ndarray:
    """The logistic function, 1 / (1 + exp(-x)) (scipy.special's, one pass)."""
    from scipy.special import expit as _expit

    return _expit(np.asarray(x, float))


def effect_nodes(sd: float, *, n: int = GH_NODES) -> tuple[np.ndarray, np.ndarray]:
    """(u, weights): Gauss-Hermite nodes and weights of u ~ N(0, sd^2); the weights sum to 1."""
    x, w = np.polynomial.hermite.hermgauss(n)
    return np.sqrt(2.0) * float(sd) * x, w / np.sqrt(np.pi)


def logit_shift(recall: np.ndarray, sd: float) -> np.ndarray:
    """c(r) with E[expit(c + u)] = r for u ~ N(0, sd^2): the logit that keeps a marginal recall
    ``r`` per view under a per-camera random effect (Gauss-Hermite; interpolated in logit(r) on a
    table solved once per ``sd`` by bisection, ``_shift_table``: within 1e-6 of it)."""
    r = np.clip(np.asarray(recall, float), 1e-6, 1 - 1e-6)
    grid, shift = _shift_table(float(sd))
    return interp_even(np.log(r) - np.log1p(-r), grid, shift)  # np.interp's values (speed, issue 27)


_TABLES: dict[float, tuple[np.ndarray, np.ndarray]] = {}


def _shift_table(sd: float) -> tuple[np.ndarray, np.ndarray]:
    """(logit r grid, c) for ``logit_shift``, solved by bisection on 6,001 points (cached)."""
    if sd not in _TABLES:
        grid = np.linspace(-15.0, 15.0, 6001)
        _TABLES[sd] = (grid, _logit_shift_bisect(expit(grid), sd))
    return _TABLES[sd]


def _logit_shift_bisect(r: np.ndarray, sd: float) -> np.ndarray:
    u, w = effect_nodes(sd)
    lo, hi = np.full(r.shape, -40.0), np.full(r.shape, 40.0)
    for _ in range(60):
        mid = (lo + hi) / 2
        m = (expit(mid[..., None] + u) * w).sum(-1)
        lo, hi = np.where(m < r, mid, lo), np.where(m < r, hi, mid)
    return (lo + hi) / 2


def found_by_any_view(recall: np.ndarray, group: np.ndarray, n_groups: int, *, sd: float = CAMERA_LOGIT_SD,
                      factor: np.ndarray | None = None, n_nodes: int = GH_NODES) -> np.ndarray:
    """P(at least one view finds the camera), averaged over the camera effect, per group.

    ``recall``: marginal recall of each (camera, view) pair (the card's recall at its box size,
    times anything else that multiplies it, such as visibility); ``group``: the camera index
    (0 .. n_groups - 1) of each pair. ``sd`` = 0 gives the independent-views 1 - prod (1 - r).
    ``factor``: per pair, what multiplies recall outside the camera effect (visibility, the
    share of mounts in view): p_j(u) = factor_j expit(c(recall_j) + u). ``n_nodes``: of the
    Gauss-Hermite rule (12 are within 3e-4 of 24 in relative terms)."""
    recall = np.clip(np.asarray(recall, float), 0.0, 1.0)
    f = np.ones(len(recall)) if factor is None else np.clip(np.asarray(factor, float), 0.0, 1.0)
    group = np.asarray(group, np.int64)
    if sd <= 0:
        log_miss = np.bincount(group, weights=np.log1p(-np.minimum(recall * f, 1 - 1e-12)), minlength=n_groups)
        return 1.0 - np.exp(log_miss)
    u, w = effect_nodes(sd, n=n_nodes)
    c = logit_shift(recall, sd)
    out = np.zeros(n_groups)
    for uk, wk in zip(u, w):
        p = f * expit(c + uk)
        p = np.where(recall <= 0, 0.0, p)
        log_miss = np.bincount(group, weights=np.log1p(-np.minimum(p, 1 - 1e-12)), minlength=n_groups)
        out += wk * (1.0 - np.exp(log_miss))
    return out
