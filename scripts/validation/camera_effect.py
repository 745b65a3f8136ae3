"""The per-camera random effect of the truth-only detector-error model: views of one camera are
not independent (issue 19 measured an intra-camera correlation of hits), so each camera gets a
logit shift u ~ N(0, sd^2), and its views' recall is expit(c(r) + u) with c(r) chosen so that the
marginal recall stays r (the card's recall by size).

Shared by ``scripts/validation/validate_estimator.py`` and ``scripts/validation/validate_rendered.py``.
"""

from __future__ import annotations

import numpy as np

GH_NODES = 24  # Gauss-Hermite nodes of the marginal recall under the camera effect


def _expit(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, float)))


def logit_shift(recall: np.ndarray, sd: float) -> np.ndarray:
    """c(r) with E[expit(c + u)] = r for u ~ N(0, sd^2): the logit that keeps a marginal recall
    ``r`` under a per-camera random effect (Gauss-Hermite, bisection)."""
    r = np.clip(np.asarray(recall, float), 1e-6, 1 - 1e-6)
    x, w = np.polynomial.hermite.hermgauss(GH_NODES)
    u, w = np.sqrt(2.0) * sd * x, w / np.sqrt(np.pi)
    lo, hi = np.full(r.shape, -40.0), np.full(r.shape, 40.0)
    for _ in range(60):
        mid = (lo + hi) / 2
        m = (_expit(mid[..., None] + u) * w).sum(-1)
        lo, hi = np.where(m < r, mid, lo), np.where(m < r, hi, mid)
    return (lo + hi) / 2
