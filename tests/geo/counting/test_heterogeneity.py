"""The per-camera logit effect: marginal recall kept, and P(found by any view) below independence."""

import numpy as np

from geo.counting.heterogeneity import CAMERA_LOGIT_SD, effect_nodes, expit, found_by_any_view, logit_shift


def test_the_shift_keeps_the_marginal_recall():
    r = np.array([0.05, 0.3, 0.5, 0.9])
    u, w = effect_nodes(CAMERA_LOGIT_SD)
    marginal = (expit(logit_shift(r, CAMERA_LOGIT_SD)[:, None] + u) * w).sum(-1)
    assert np.allclose(marginal, r, atol=1e-6)
    assert np.isclose(w.sum(), 1.0)


def test_views_of_one_camera_are_found_less_often_than_independent_views():
    recall = np.array([0.4, 0.4, 0.4, 0.7, 0.0])
    group = np.array([0, 0, 0, 1, 1])
    independent = found_by_any_view(recall, group, 2, sd=0)
    mixed = found_by_any_view(recall, group, 2, sd=CAMERA_LOGIT_SD)
    assert np.isclose(independent[0], 1 - 0.6 ** 3)
    assert mixed[0] < independent[0] - 0.1
    # one usable view: the effect averages out, the marginal recall stays
    assert np.isclose(mixed[1], 0.7, atol=1e-6) and np.isclose(independent[1], 0.7)


def test_simulated_cameras_agree_with_the_quadrature():
    rng = np.random.default_rng(1)
    r = np.array([0.3, 0.5])
    u = rng.normal(0, CAMERA_LOGIT_SD, 200_000)
    hits = rng.random((len(u), 2)) < expit(logit_shift(r, CAMERA_LOGIT_SD)[None, :] + u[:, None])
    assert abs(hits.any(1).mean() - found_by_any_view(r, np.array([0, 0]), 1)[0]) < 0.005
