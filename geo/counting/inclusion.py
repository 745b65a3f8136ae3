"""Inclusion probability of a camera from the survey's geometry (not from its detections).

The estimand is the cameras within ``strip`` metres of the surveyed streets (the street pieces
that views with imagery stand for). For a camera at a given position, the views that could show
it are those within ``max_range_m`` whose horizontal field of view holds it, whose vertical field
of view reaches it (a nominal ``RISE_M`` above the eye) and whose line of sight is not blocked by
an OSM building footprint (the last ``FACADE_TOLERANCE_M`` before the camera are not checked: it
hangs on a wall). In each such view the camera's box would measure ``CAMERA_SIZE_M[class] x f' / r``
pixels (sqrt of the area; f' the focal length along the ray, r the slant range), and the detector
finds it with the recall at that size (``geo.counting.calibration``), times the share of such sightings in
which nothing else hides it (``visibility_by_range``). Views detect independently, so

    p*(position) = 1 - prod_j (1 - visibility(r_j) recall(size_j)).

Systematic sampling places the viewpoints at a random start along each street, so a camera's
position relative to them is uniform over one spacing: its inclusion probability is p* averaged
over ``n_shifts`` positions spread over one spacing along its street (equivalently, over the
possible starts). A camera in a blind spot between two viewpoints then counts with the chance
that a survey of that design sees it, which is what Horvitz-Thompson needs.

Small-p* rule: p* is floored at ``floor``: the estimator passes ``MIN_INCLUSION`` (0.1) x the
design's best inclusion for the camera's class (``geo.counting.design``), so that a camera whose
own geometry gives it less than a tenth of what the design gives the best-placed camera counts with
that tenth: for a dense systematic design (best ~1) no camera weighs more than P(real) / 0.1 = 10,
while a sparse random design, whose cameras all have small pi, keeps its Horvitz-Thompson weights.
The strip (``geo.counting.design.strip_from_design``) is truncated where the design's detection
function is still at least 0.15, so the floor applies only to cameras the idealised design
profile does not describe (occlusion, corners). The truncation is reported: ``n_floored`` counts
the cameras it applied to. Random designs: ``geo.counting.design.random_design_pairs``.

Box sizes: ``geo.counting.locate.CAMERA_SIZE_M``, the one box-equivalent size per class that locate
(range from box size), this module and the validation share; measured on the simulator's truth
boxes (see there).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.counting.heterogeneity import CAMERA_LOGIT_SD, effect_nodes, found_by_any_view, logit_shift
from geo.counting.locate import CAMERA_SIZE_M
from geo.counting import threads
from geo.counting.threads import by_groups

# Strip half-width (m): at 20 m the smaller class's box (dome, 0.33 m) seen square-on from the
# street centre in a 640 px / 90 deg view (focal length 320 px) is 0.33 x 320 / 20 = 5.3 px, inside
# the calibration format's first recall bin (< 6 px), where detectors find next to nothing, while
# the larger class (directed, 0.46 m: 7.4 px) is still found.
DEFAULT_STRIP_M = 20.0
MIN_INCLUSION = 0.1
MAX_RANGE_M = 50.0  # a directed camera's box is 0.46 x 320 / 50 = 2.9 px there; visibility 0.1
RISE_M = 2.0  # nominal camera height above the eye (mounts ~4.5 m, eye 2.5 m), for the slant range
RISE_RANGE_M = (0.5, 3.5)  # mounts 3-6 m above the road, eye 2.5 m: spread for the vertical field of view
FACADE_TOLERANCE_M = 1.5
WALL_M = 2.0  # a camera this close to a building outline hangs on that wall
GRAZING_DEG = 15.0  # a wall camera seen closer than this to its wall's plane is hidden by the facade's relief
# 3-point Gauss-Hermite rule for a normal error: nodes in SDs, weights (exact to the 5th moment)
ERROR_NODES = (np.array([-np.sqrt(3.0), 0.0, np.sqrt(3.0)]), np.array([1 / 6, 2 / 3, 1 / 6]))
THREADS = min(4, os.cpu_count() or 1)  # view_pairs' chunks run on this many threads (results identical)
FOV_BLOCK = 131_072  # view_pairs works through this many of the k-d tree's pairs at a time (the CPU's caches)
DEFAULT_SHIFTS = 4  # positions over one spacing (midpoint rule); 8 moved the validation by <1%
# Visibility by horizontal range (m): the share of camera/view pairs that the geometry above allows
# (field of view, range, footprints, wall facing) in which the camera is not hidden by anything else
# (street furniture, trees, vehicles) and shows as a box of at least 3 px. Measured on the
# simulator's truth boxes of both bundled areas (demo 1,187, test_pbf 1,839 pairs, every 10 m, both
# sides; the two agree within 0.1 at every range).
VISIBILITY_RANGE_M = (2.5, 7.5, 12.5, 17.5, 22.5, 27.5, 32.5, 37.5, 45.0, 55.0)
VISIBILITY = (0.88, 0.96, 0.95, 0.88, 0.85, 0.76, 0.55, 0.35, 0.16, 0.06)


def visibility_by_range(range_m: np.ndarray) -> np.ndarray:
    """Share of geometrically possible sightings at ``range_m`` that show the camera
    (``VISIBILITY``, linear between the measured ranges, 0 beyond ``MAX_RANGE_M``)."""
    r = np.asarray(range_m, float)
    return np.where(r <= MAX_RANGE_M, np.interp(r, VISIBILITY_RANGE_M, VISIBILITY), 0.0)


@dataclass
class ViewPairs:
    """Camera-position / view pairs that could show the camera: ``cam`` (camera index),
    ``shift`` (position: node x n_shifts + shift, 0..n_nodes x n_shifts - 1), ``scale`` (px of box
    per metre of size: f' / slant range). ``n_nodes``: 1, or 3 positions across the street over
    the camera's location error (``ERROR_NODES``) for the measurement-error bias correction."""

    cam: np.ndarray
    shift: np.ndarray
    scale: np.ndarray
    n_cameras: int
    n_shifts: int
    range_m: np.ndarray | None = None  # horizontal range of each pair, metres
    view: np.ndarray | None = None  # row of each pair's view
    factor: np.ndarray | None = None  # share of mount heights in the vertical field of view x view's share
    n_nodes: int = 1
    camera_sd: float = CAMERA_LOGIT_SD  # per-camera logit SD of recall (0: views detect independently)
    same_nodes: np.ndarray | None = None  # per camera: its outer location nodes are its centre (no pairs there)

    @property
    def n_positions(self) -> int:
        return self.n_nodes * self.n_shifts

    def node_inclusion(self, box_m: np.ndarray, recall_fn, *, visibility=visibility_by_range) -> np.ndarray:
        """(cameras, n_nodes) p* averaged over the grid shifts at each location node."""
        return self.shift_inclusion(box_m, recall_fn, visibility=visibility).mean(axis=2)

    def shift_inclusion(self, box_m: np.ndarray, recall_fn, *, visibility=visibility_by_range) -> np.ndarray:
        """(cameras, n_nodes, n_shifts) p* at each location node and grid shift."""
        recall, factor = self.detection_parts(box_m, recall_fn, visibility)
        cell = self.cam * self.n_positions + self.shift
        p_star = found_by_cell(recall, cell, self.n_cameras * self.n_positions, sd=self.camera_sd, factor=factor)
        return self.fill_nodes(p_star.reshape(self.n_cameras, self.n_nodes, self.n_shifts))

    def shift_inclusion_and_gradient(self, box_m: np.ndarray, edges: np.ndarray, rates: np.ndarray, *,
                                     visibility=visibility_by_range) -> tuple[np.ndarray, np.ndarray, tuple]:
        """(``shift_inclusion`` at the recall ``rates`` by size bin ``edges``, each pair's d p* /
        d recall (``found_gradient``) and its size bins (``size_bin_weights``): what
        ``inclusion_gradient`` takes as ``pair_gradient`` and ``pair_bins``) from one pass over the
        camera effect, bit for bit as computed apart (speed: the estimator needs both; issue 27)."""
        from geo.counting.calibration import size_bin_weights

        rates = np.asarray(rates, float)
        n = len(self.cam)
        i0, i1, t = bins = np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n)  # recall_at's, kept
        recall, factor = np.empty(n), np.empty(n)

        def parts(lo: int, hi: int) -> None:  # detection_parts on pairs lo:hi, cache-sized blocks (speed, issue 27)
            for a in range(lo, hi, FOV_BLOCK):
                b = min(a + FOV_BLOCK, hi)
                i0[a:b], i1[a:b], t[a:b] = size_bin_weights(box_m[self.cam[a:b]] * self.scale[a:b], edges)
                recall[a:b] = np.clip(rates[i0[a:b]] * (1 - t[a:b]) + rates[i1[a:b]] * t[a:b], 0.0, 1.0 - 1e-12)
                f = np.ones(b - a) if self.factor is None else np.asarray(self.factor[a:b], float)
                if visibility is not None:
                    f = f * visibility(self.range_m[a:b])
                factor[a:b] = np.clip(f, 0.0, 1.0)

        threads.on_spans(parts, threads.even_spans(n))  # elementwise: the same values
        n_cells = self.n_cameras * self.n_positions
        p_star = np.zeros(n_cells)
        grad = found_gradient(recall, self.cam * self.n_positions + self.shift, n_cells, sd=self.camera_sd,
                              factor=factor, found_out=p_star)
        return self.fill_nodes(p_star.reshape(self.n_cameras, self.n_nodes, self.n_shifts)), grad, bins

    def fill_nodes(self, node: np.ndarray) -> np.ndarray:
        """``node`` (cameras, n_nodes, ...) with the outer nodes of ``same_nodes`` cameras set to
        their centre's."""
        if self.n_nodes > 1 and self.same_nodes is not None and self.same_nodes.any():
            node = node.copy()
            for k in range(self.n_nodes):
                if k != self.n_nodes // 2:
                    node[self.same_nodes, k] = node[self.same_nodes, self.n_nodes // 2]
        return node

    def detection_parts(self, box_m: np.ndarray, recall_fn, visibility=visibility_by_range
                        ) -> tuple[np.ndarray, np.ndarray]:
        """(recall, factor) of each pair: the recall at the expected box size, which carries the
        camera's effect, and what multiplies it outside the effect (the vertical field of view's
        share x ``visibility(range)``); their product is ``detection``."""
        recall = np.clip(recall_fn(box_m[self.cam] * self.scale), 0.0, 1.0 - 1e-12)
        factor = np.ones(len(self.cam)) if self.factor is None else np.asarray(self.factor, float)
        if visibility is not None:
            factor = factor * visibility(self.range_m)
        return recall, np.clip(factor, 0.0, 1.0)

    def detection(self, box_m: np.ndarray, recall_fn, visibility=visibility_by_range) -> np.ndarray:
        """P(detected) of each pair: recall at the expected box size, times ``visibility(range)``
        (the chance that nothing but buildings hides it: street furniture, trees, vehicles)."""
        p = recall_fn(box_m[self.cam] * self.scale)
        if self.factor is not None:
            p = p * self.factor
        if visibility is not None:
            p = p * visibility(self.range_m)
        return np.clip(p, 0.0, 1.0 - 1e-12)

    def inclusion(self, box_m: np.ndarray, recall_fn, *, floor: float = MIN_INCLUSION, visibility=visibility_by_range
                  ) -> tuple[np.ndarray, np.ndarray]:
        """(pi, pi raw) per camera for box sizes ``box_m`` (m, per camera),
        ``recall_fn(size_px) -> recall`` and optionally ``visibility(range_m) -> share``.

        pi raw: p* at the located position, averaged over the grid shifts. pi: pi raw floored
        at ``floor``; with location nodes (``n_nodes`` 3), 1 / the bias-corrected weight
        (``corrected_weight``)."""
        pi, raw, _, _ = self.inclusion_parts(box_m, recall_fn, floor=floor, visibility=visibility)
        return pi, raw

    def inclusion_parts(self, box_m: np.ndarray, recall_fn, *, floor: float = MIN_INCLUSION,
                        visibility=visibility_by_range) -> tuple[np.ndarray, ...]:
        """(pi, pi raw, pi spread, grid variance): ``inclusion`` and what the encounter variance
        needs (``inclusion_parts``)."""
        by_shift = self.shift_inclusion(box_m, recall_fn, visibility=visibility)
        return inclusion_parts(by_shift.mean(axis=2), self.n_nodes, floor=floor, by_shift=by_shift)


def inclusion_parts(node: np.ndarray, n_nodes: int, *, floor=MIN_INCLUSION, by_shift: np.ndarray | None = None,
                    averaged: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(pi, pi raw, pi spread, p* by shift) from the (cameras, n_nodes) p* at the location
    nodes: pi as ``ViewPairs.inclusion`` gives it (``averaged``: pi spread instead, the weight
    1 / E_e[pi(x_hat + e)] of ``averaged_weight``); for the encounter variance, pi spread: p*
    averaged over the camera's position uncertainty (the Gauss-Hermite nodes' weights), floored
    (averaging pi rather than 1 / pi keeps a mislocated camera's (1 - pi) / pi^2 bounded: a
    position that no view can see next to positions that several can see counts with the
    average of the two), and p* at each grid shift (``by_shift``, (cameras, n_nodes, n_shifts),
    averaged over the nodes the same way; None without it)."""
    raw = node[:, n_nodes // 2]
    shifts = None if by_shift is None else by_shift[:, n_nodes // 2, :]
    if n_nodes == 1:
        pi = np.maximum(raw, floor)
        return pi, raw, pi, shifts
    _, node_w = ERROR_NODES
    if by_shift is not None:
        shifts = np.einsum("cns,n->cs", by_shift, node_w)
    spread = np.maximum(node @ node_w, floor)
    pi = 1.0 / (averaged_weight(node, floor=floor) if averaged else corrected_weight(node, floor=floor))
    return pi, raw, spread, shifts


def averaged_weight(node_pi: np.ndarray, *, floor: float = MIN_INCLUSION) -> np.ndarray:
    """Horvitz-Thompson weight of a camera located with error, as the posterior mean of 1 / pi:
    with cameras spread evenly across the street near it and x_hat = x + e (e ~ N(0, sd^2)),
    E[1 / pi(x) | x_hat, found] = integral phi(x_hat - x) dx / integral phi(x_hat - x) pi(x) dx
    = 1 / E_e[pi(x_hat + e)], so sum over the found cameras of it has expectation N whatever the
    error (no second-order step). ``node_pi``: (cameras, 3) pi at the Gauss-Hermite nodes; pi
    averaged floored at ``floor``. Random designs use it (issue 27, docs/estimator.md section
    12: on the rendered surveys the located singles' raw weights were unbiased, and
    ``corrected_weight`` took 7% off them)."""
    _, node_w = ERROR_NODES
    floor = np.asarray(floor, float)
    return 1.0 / np.maximum(node_pi @ node_w, floor)


def corrected_weight(node_pi: np.ndarray, *, floor: float = MIN_INCLUSION) -> np.ndarray:
    """Horvitz-Thompson weight 1 / pi corrected for the error of the located position.

    A camera located at x_hat = x + e (e ~ N(0, sd^2) across the street) has
    E[1 / pi(x_hat)] = 1 / pi(x) + b with b ~ E_e[1 / pi(x_hat + e)] - 1 / pi(x_hat) (second
    order: b = sd^2 (1 / pi)'' / 2; 1 / pi is convex in the distance from the street, so
    uncorrected weights are biased upward). The corrected weight is
    1 / pi(x_hat) - b = 2 / pi(x_hat) - sum_k w_k / pi(x_hat + z_k sd) over the Gauss-Hermite
    nodes (the parametric-bootstrap bias correction; Carroll et al. 2006, Measurement Error in
    Nonlinear Models, ch. 4), each pi floored at ``floor`` and the weight kept within
    [1, 1 / floor]. ``node_pi``: (cameras, 3) pi at the nodes -sqrt(3) sd, 0, +sqrt(3) sd."""
    _, node_w = ERROR_NODES
    floor = np.asarray(floor, float)  # a scalar or one per camera
    f = 1.0 / np.maximum(node_pi, floor[:, None] if floor.ndim else floor)
    return np.clip(2.0 * f[:, 1] - f @ node_w, 1.0, 1.0 / floor)


def inclusion_gradient(pairs: ViewPairs, box_m: np.ndarray, edges: np.ndarray, rates: np.ndarray, *,
                       visibility=visibility_by_range, floor: float = MIN_INCLUSION,
                       node: np.ndarray | None = None, pair_gradient: np.ndarray | None = None,
                       pair_bins: tuple | None = None) -> np.ndarray:
    """d pi / d recall_b: (cameras, size bins) derivative of each camera's inclusion
    probability with respect to each size bin's recall (exact, for the delta method):
    pi = mean_k (1 - prod_j (1 - p_jk)), so d pi / d p_jk = (1 - p*_k) / (1 - p_jk) / K, and
    p_jk is linear in the two bin rates it interpolates between. Without location nodes it is
    the raw pi's derivative (the caller zeroes floored cameras); with them, that of
    1 / ``corrected_weight``: d pi = pi^2 (2 f_0^2 d pi_0 - sum_k w_k f_k^2 d pi_k), f = 1 / pi
    (0 where a node's pi or the weight is at its bound). ``node``: the (cameras, n_nodes) p* at
    these rates when already known; ``pair_gradient``, ``pair_bins``: ``found_gradient`` of
    ``pairs`` at these rates and their size bins when already known
    (``ViewPairs.shift_inclusion_and_gradient``)."""
    if pairs.n_nodes > 1:
        node_pairs = ViewPairs(pairs.cam * pairs.n_nodes + pairs.shift // pairs.n_shifts, pairs.shift % pairs.n_shifts,
                               pairs.scale, pairs.n_cameras * pairs.n_nodes, pairs.n_shifts, pairs.range_m,
                               pairs.view, pairs.factor, camera_sd=pairs.camera_sd)
        grad = inclusion_gradient(node_pairs, np.repeat(box_m, pairs.n_nodes), edges, rates, visibility=visibility,
                                  pair_gradient=pair_gradient, pair_bins=pair_bins)
        grad = pairs.fill_nodes(grad.reshape(pairs.n_cameras, pairs.n_nodes, -1))
        from geo.counting.calibration import recall_at

        if node is None:
            node = pairs.node_inclusion(box_m, lambda size: recall_at(size, edges, rates), visibility=visibility)
        _, node_w = ERROR_NODES
        floor = np.asarray(floor, float)
        fl = floor[:, None] if floor.ndim else floor
        f = np.where(node >= fl, 1.0 / np.maximum(node, fl), 0.0)  # 0: floored, no derivative
        coef = -node_w[None, :] * f ** 2
        coef[:, 1] += 2.0 * f[:, 1] ** 2
        w = corrected_weight(node, floor=floor)
        free = (w > 1.0) & (w < 1.0 / floor)
        return np.where(free[:, None], np.einsum("nk,nkm->nm", coef, grad) / w[:, None] ** 2, 0.0)
    from geo.counting.calibration import size_centres

    m = len(rates)
    out = np.zeros(pairs.n_cameras * m)
    if len(pairs.cam) == 0:
        return out.reshape(pairs.n_cameras, m)
    if pair_bins is not None:  # (speed, issue 27: the same bins as below, from the p* pass)
        i0, i1, t = pair_bins
    else:
        centres = np.log(size_centres(edges))
        x = np.log(np.maximum(box_m[pairs.cam] * pairs.scale, 1e-3))
        pos = np.clip(np.interp(x, centres, np.arange(m, dtype=float)), 0, m - 1)
        i0 = np.floor(pos).astype(np.int64)
        i1 = np.minimum(i0 + 1, m - 1)
        t = pos - i0
    if pair_gradient is None:  # (the pairs' recall and visibility only for it: speed, issue 27)
        vf = pairs.factor if pairs.factor is not None else np.ones(len(pairs.cam))
        if visibility is not None:
            vf = vf * visibility(pairs.range_m)
        r = np.clip(rates[i0] * (1 - t) + rates[i1] * t, 0.0, 1.0 - 1e-12)
        cell = pairs.cam * pairs.n_shifts + pairs.shift
        pair_gradient = found_gradient(r, cell, pairs.n_cameras * pairs.n_shifts, sd=pairs.camera_sd, factor=vf)
    g = pair_gradient / pairs.n_shifts
    out += np.bincount(pairs.cam * m + i0, g * (1 - t), minlength=len(out))
    out += np.bincount(pairs.cam * m + i1, g * t, minlength=len(out))
    return out.reshape(pairs.n_cameras, m)


EFFECT_NODES = 12  # Gauss-Hermite nodes of the inclusion's average over the camera effect (3e-4 of 24)


def found_by_cell(recall: np.ndarray, cell: np.ndarray, n_cells: int, *, sd: float = CAMERA_LOGIT_SD,
                  factor: np.ndarray | None = None) -> np.ndarray:
    """``geo.counting.heterogeneity.found_by_any_view`` per cell (a camera at one position), with
    ``EFFECT_NODES`` nodes; a cell with one pair is found with its marginal recall x factor
    exactly (the effect averages out), so only cells of two or more pairs are integrated."""
    recall = np.asarray(recall, float)
    f = np.ones(len(recall)) if factor is None else np.asarray(factor, float)
    cell = np.asarray(cell, np.int64)
    single = np.bincount(cell, minlength=n_cells)[cell] == 1
    out = np.zeros(n_cells)
    out[cell[single]] = np.clip(recall[single] * f[single], 0.0, 1.0)
    many = ~single
    if many.any():
        r_m, c_m, f_m = recall[many], cell[many], f[many]
        out += by_groups(lambda index: found_by_any_view(r_m[index], c_m[index], n_cells, sd=sd, factor=f_m[index],
                                                         n_nodes=EFFECT_NODES), c_m, n_cells, per="group")
    return out


def found_gradient(recall: np.ndarray, cell: np.ndarray, n_cells: int, *, sd: float = CAMERA_LOGIT_SD,
                   factor: np.ndarray | None = None, found_out: np.ndarray | None = None) -> np.ndarray:
    """d P(found by any view of its cell) / d recall_j for each pair j (the cells, recall and
    factor of ``heterogeneity.found_by_any_view``): with the camera effect u, p_j(u) =
    f_j expit(c(r_j) + u), so the derivative is f_j E_u[miss(u) / (1 - p_j(u)) s_j(u)] /
    E_u[s_j(u)], s = expit' = e (1 - e), miss(u) = prod_i (1 - p_i(u)) over the cell; ``sd`` 0:
    f_j prod_{i != j} (1 - p_i). ``found_out``: an ``n_cells`` array that receives ``found_by_cell``
    of the same pairs, bit for bit, from the same pass (its miss(u) per cell is this one's)."""
    if found_out is not None and sd <= 0:
        found_out[:] = found_by_cell(recall, cell, n_cells, sd=sd, factor=factor)
    r = np.clip(np.asarray(recall, float), 0.0, 1.0 - 1e-12)
    f = np.ones(len(r)) if factor is None else np.clip(np.asarray(factor, float), 0.0, 1.0)
    cell = np.asarray(cell, np.int64)
    if sd <= 0:
        p = np.minimum(r * f, 1.0 - 1e-12)
        log_miss = np.bincount(cell, np.log1p(-p), minlength=n_cells)
        return f * np.exp(log_miss[cell]) / (1.0 - p)
    # speed (issue 27 part 6): the pass runs on contiguous runs of whole cells (view_pairs gives its
    # pairs chunk by chunk of positions; others are put in cell order first, each cell's pairs in
    # their order), a run per thread and block by block within it, cells of one pair included and
    # then set exactly (P = f r, d P / d r = f): the same sums in the same order, bit for bit.
    single = np.bincount(cell, minlength=n_cells)[cell] == 1
    grad, p_pair = f, np.zeros(len(r)) if found_out is not None else None  # all cells of one pair: P = f r
    if len(r) and not single.all():
        order, cuts = None, threads.whole_group_cuts(cell)
        if len(cuts) == 0 and len(cell) > threads.BLOCK_PAIRS:
            order = np.argsort(cell, kind="stable")
            cuts = threads.whole_group_cuts(cell[order])
        rr, ff, cc = (r, f, cell) if order is None else (r[order], f[order], cell[order])
        g_run, p_run = np.empty(len(rr)), np.empty(len(rr)) if p_pair is not None else None

        def run(a: int, b: int) -> None:
            for lo, hi in threads.group_blocks(cc, cuts=cuts, span=(a, b)):
                g_run[lo:hi], p = _gradient_block(rr[lo:hi], ff[lo:hi], cc[lo:hi], sd=sd, found=p_run is not None)
                if p_run is not None:
                    p_run[lo:hi] = p

        threads.on_spans(run, threads.group_spans(cuts, len(cc), parts=1 if len(cc) < threads.MIN_PAIRS else None))
        if order is None:
            grad, p_pair = g_run, p_run
        else:
            grad = np.empty(len(r))
            grad[order] = g_run
            if p_pair is not None:
                p_pair[order] = p_run
        grad[single] = f[single]
    if found_out is not None:
        found_out[:] = 0.0
        found_out[cell] = p_pair
        one = np.asarray(recall, float)[single] * (1.0 if factor is None else np.asarray(factor, float)[single])
        found_out[cell[single]] = np.clip(one, 0.0, 1.0)
    return grad


def _gradient_block(r: np.ndarray, f: np.ndarray, cell: np.ndarray, *, sd: float, found: bool
                    ) -> tuple[np.ndarray, np.ndarray | None]:
    """``found_gradient``'s pass over the camera effect on pairs of whole cells: (the gradient of
    each pair, p* of each pair's cell or None without ``found``)."""
    from scipy.special import expit as expit_into  # heterogeneity.expit's, written into a buffer

    u, w = effect_nodes(sd, n=EFFECT_NODES)
    lo = int(cell.min())  # this block's cells only
    cell = cell - lo
    n_run = int(cell.max()) + 1
    c = logit_shift(r, sd)
    num, den = np.zeros(len(r)), np.zeros(len(r))
    p_star = np.zeros(n_run) if found else None
    off = r <= 0
    any_off = bool(off.any())
    e, pk, tmp, rest, term = (np.empty(len(r)) for _ in range(5))  # speed (issue 27): no array made per node
    for uk, wk in zip(u, w):  # in place, in the order of wk miss / (1 - pk) e (1 - e): bit for bit
        expit_into(np.add(c, uk, out=tmp), out=e)
        np.minimum(np.multiply(f, e, out=pk), 1.0 - 1e-12, out=pk)
        if any_off:
            pk[off] = 0.0
        miss = np.exp(np.bincount(cell, np.log1p(np.negative(pk, out=tmp), out=tmp), minlength=n_run))
        if p_star is not None:  # found_by_any_view's wk (1 - miss), in its order
            p_star += wk * (1.0 - miss)
        np.subtract(1.0, e, out=rest)
        term = np.multiply(np.take(miss, cell, out=term), wk, out=term)
        np.subtract(1.0, pk, out=pk)
        term /= pk
        term *= e
        term *= rest
        num += term
        e *= wk
        e *= rest
        den += e
    g = f * num / np.maximum(den, 1e-300)
    return g, None if p_star is None else p_star[cell]


def inclusion_gradient_numeric(pairs, box_m: np.ndarray, edges: np.ndarray, rates: np.ndarray, *,
                               visibility=visibility_by_range, floor=MIN_INCLUSION, step: float = 0.01) -> np.ndarray:
    """d pi / d recall_b (cameras, size bins) by central differences of ``step`` on each bin's
    recall, for any pairs object with ``inclusion(box_m, recall_fn, floor=, visibility=)`` (a
    random design's ``geo.counting.design.RandomDesignPairs``); pi floored or location-corrected,
    so a camera at the floor gets 0."""
    from geo.counting.calibration import recall_at

    rates = np.asarray(rates, float)
    out = np.zeros((pairs.n_cameras, len(rates)))
    for j in range(len(rates)):
        hi, lo = rates.copy(), rates.copy()
        hi[j], lo[j] = min(rates[j] + step, 1.0), max(rates[j] - step, 0.0)
        if hi[j] <= lo[j]:
            continue
        p_hi, p_lo = (pairs.inclusion(box_m, lambda size, r=r: recall_at(size, edges, r), floor=floor,
                                      visibility=visibility)[0] for r in (hi, lo))
        out[:, j] = (p_hi - p_lo) / (hi[j] - lo[j])
    return out


def box_size_m(class_name: pd.Series | np.ndarray, sizes: dict[str, float] | None = None) -> np.ndarray:
    """Box-equivalent size (m) per camera from its class (``geo.counting.locate.CAMERA_SIZE_M`` unless ``sizes``)."""
    sizes = {**CAMERA_SIZE_M, **(sizes or {})}
    default = float(sizes.get("default", CAMERA_SIZE_M["default"]))
    return np.array([float(sizes.get(str(c), default)) for c in np.asarray(class_name)], dtype=float)


def surveyed_streets(streets: gpd.GeoDataFrame, points: pd.DataFrame, images: pd.DataFrame, *,
                     metres_per_point: float) -> gpd.GeoDataFrame:
    """The street pieces the survey's imagery stands for (projected, ``street_id``, geometry).

    A point with at least one ok image stands for ``metres_per_point`` of its street centred on
    it; points whose views all lack imagery, and streets without such points, are unsurveyed.
    Fast path: where every point of a street has imagery and its points cover it (points x
    ``metres_per_point`` >= 90% of its length) the whole street is surveyed."""
    crs = streets.crs
    if len(streets) == 0 or len(points) == 0:
        return gpd.GeoDataFrame({"street_id": []}, geometry=[], crs=crs)
    pts = pd.DataFrame(points[["point_id", "street_id", "lon", "lat"]]).drop_duplicates("point_id")
    if "point_id" in images.columns and len(images):
        ok = (images["status"].fillna("ok").eq("ok") if "status" in images.columns
              else pd.Series(True, index=images.index))
        good = set(images.loc[ok.to_numpy(), "point_id"].dropna().astype(np.int64).tolist())
        pts["ok"] = pts["point_id"].isin(good)
    else:
        pts["ok"] = False
    by_street = pts.groupby("street_id")["ok"].agg(["all", "any", "size"])
    sid = streets["street_id"].to_numpy()
    geoms = streets.geometry.to_numpy()
    # whole only where its points, each standing for metres_per_point, cover the street (a
    # systematic grid); a few random points on a long street stand for their pieces only
    length = pd.Series(shapely.length(geoms), index=sid).groupby(level=0).max()
    covers = by_street["size"] * metres_per_point >= 0.9 * length.reindex(by_street.index).fillna(0.0)
    full = by_street.index[by_street["all"] & covers].to_numpy()
    part = by_street.index[by_street["any"] & ~(by_street["all"] & covers)].to_numpy()
    pieces = [gpd.GeoDataFrame({"street_id": sid[np.isin(sid, full)]}, geometry=geoms[np.isin(sid, full)], crs=crs)]
    if len(part):
        sel = pts[pts["street_id"].isin(part) & pts["ok"]]
        from pyproj import Transformer

        x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(sel["lon"].to_numpy(float),
                                                                          sel["lat"].to_numpy(float))
        discs = shapely.buffer(shapely.points(x, y), metres_per_point / 2.0 + 0.5)
        frame = pd.DataFrame({"street_id": sel["street_id"].to_numpy(), "g": discs})
        lookup = dict(zip(sid.tolist(), geoms))
        out_ids, out_geoms = [], []
        for street, group in frame.groupby("street_id"):
            piece = shapely.intersection(lookup[street], shapely.union_all(group["g"].to_numpy()))
            if not piece.is_empty:
                out_ids.append(street)
                out_geoms.append(piece)
        pieces.append(gpd.GeoDataFrame({"street_id": out_ids}, geometry=out_geoms, crs=crs))
    out = pd.concat(pieces, ignore_index=True)
    return gpd.GeoDataFrame(out, geometry="geometry", crs=crs)


def in_strip(xy: np.ndarray, pieces: gpd.GeoDataFrame, *, strip: float, side: str | None = None) -> np.ndarray:
    """Whether points ``xy`` (m, the pieces' CRS) lie in the strip: within ``strip`` metres of a
    surveyed piece measured across the street (flat-ended buffers: a camera beyond the end of a
    piece is not in it; contiguous pieces of a systematic grid join up, while a random design's
    short pieces do not claim the unseen street beyond their ends). ``side`` "left" or "right":
    only that side of each piece (relative to its direction, as ``--sides`` takes them)."""
    out = np.zeros(len(xy), dtype=bool)
    if len(xy) == 0 or len(pieces) == 0:
        return out
    if side in ("left", "right"):
        zones = shapely.buffer(pieces.geometry.to_numpy(), strip if side == "left" else -strip, single_sided=True)
    else:
        zones = shapely.buffer(pieces.geometry.to_numpy(), strip, cap_style="flat")
    hit = shapely.STRtree(zones).query(shapely.points(xy), predicate="intersects")[0]
    out[hit] = True
    return out


def street_distance(xy: np.ndarray, lines: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For points ``xy`` (metres, the lines' CRS): distance (m) to the nearest line, that line's
    row index (-1 when there are no lines) and the unit tangent (2 columns) of the line there."""
    n = len(xy)
    if n == 0 or len(lines) == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64), np.tile([1.0, 0.0], (n, 1))
    geoms = lines.geometry.to_numpy()
    tree = shapely.STRtree(geoms)

    def part(lo: int, hi: int):  # points lo:hi, each on its own: a run per thread (shapely frees the GIL)
        pts = shapely.points(xy[lo:hi])
        idx, dist = tree.query_nearest(pts, return_distance=True, all_matches=False)
        order = np.argsort(idx[0])
        near = idx[1][order].astype(np.int64)
        line = geoms[near]
        t = shapely.line_locate_point(line, pts)
        a = shapely.get_coordinates(shapely.line_interpolate_point(line, np.maximum(t - 1.0, 0.0)))
        b = shapely.get_coordinates(shapely.line_interpolate_point(line, t + 1.0))
        return dist[order], near, b - a

    step = max(1, -(-n // THREADS))
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        runs = list(pool.map(lambda lo: part(lo, min(lo + step, n)), range(0, n, step)))
    dist, near, tangent = (np.concatenate([r[k] for r in runs]) for k in range(3))
    norm = np.hypot(tangent[:, 0], tangent[:, 1])
    tangent = np.where(norm[:, None] > 1e-9, tangent / np.maximum(norm, 1e-9)[:, None], [1.0, 0.0])
    return dist, near, tangent


def view_pairs(cam_xy: np.ndarray, tangent: np.ndarray, views: pd.DataFrame, *, spacing_m: float,
               buildings: gpd.GeoDataFrame | None = None, n_shifts: int = DEFAULT_SHIFTS,
               max_range_m: float = MAX_RANGE_M, rise_m: float = RISE_M, grazing_deg: float = GRAZING_DEG,
               location_sd_m: np.ndarray | None = None, shift_range_m: np.ndarray | None = None,
               camera_sd: float = CAMERA_LOGIT_SD, chunk: int = 50_000) -> ViewPairs:
    """The pairs (camera at each shifted position, view) that could show it (``chunk`` positions
    at a time).

    ``cam_xy``: camera positions (m); ``tangent``: unit street direction at each camera (the
    shifts run along it, over one ``spacing_m``). ``views``: x, y (eye, m), heading_grid (deg
    clockwise from the CRS's grid north), fov (deg, horizontal), width, height (px), all with
    imagery. ``buildings``: footprints in the same CRS (or None); a camera within ``WALL_M`` of
    one hangs on its wall, and views that see that wall from behind or closer than
    ``grazing_deg`` to its plane cannot show it.

    ``location_sd_m``: per camera, the SD (m) of its located position across the street (the
    locator's range error). When any is positive, each camera is also placed at the 3
    Gauss-Hermite nodes -sqrt(3) sd, 0, +sqrt(3) sd along the street's normal (``n_nodes`` 3),
    for the measurement-error correction of its weight (``corrected_weight``).

    ``shift_range_m``: per camera, the (lo, hi) metres along its street over which it is shifted
    (one spacing clipped to its street's ends, ``shift_range_on_streets``); default one spacing centred
    on it. ``camera_sd``: the per-camera logit SD of recall that p* averages over."""
    from scipy.spatial import cKDTree

    n = len(cam_xy)
    n_shifts = max(1, int(n_shifts))
    sd = None if location_sd_m is None else np.nan_to_num(np.asarray(location_sd_m, float))
    n_nodes = 3 if sd is not None and np.any(sd > 0) else 1
    empty = ViewPairs(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), n, n_shifts, np.zeros(0),
                      np.zeros(0, np.int64), n_nodes=n_nodes, camera_sd=camera_sd)
    if n == 0 or len(views) == 0:
        return empty
    frac = (np.arange(n_shifts) + 0.5) / n_shifts if n_shifts > 1 else np.full(1, 0.5)
    if shift_range_m is None:
        offsets = np.tile((frac - 0.5) * float(spacing_m) if n_shifts > 1 else np.zeros(1), (n, 1))
    else:
        rng_m = np.asarray(shift_range_m, float).reshape(n, 2)
        offsets = rng_m[:, :1] + frac[None, :] * (rng_m[:, 1:] - rng_m[:, :1])
    pos = cam_xy[:, None, :] + offsets[:, :, None] * tangent[:, None, :]  # (n, shifts, 2)
    if n_nodes > 1:
        nodes, _ = ERROR_NODES
        across = np.column_stack([-tangent[:, 1], tangent[:, 0]])
        pos = pos[:, None, :, :] + (nodes[None, :, None, None] * sd[:, None, None, None]) * across[:, None, None, :]
    pos = pos.reshape(-1, 2)
    n_pos = n_nodes * n_shifts
    # positions to compute: every centre node, and the outer nodes of cameras with a location SD
    # (the others' outer nodes coincide with their centre: their pairs are copied below)
    node_of = (np.arange(len(pos)) // n_shifts) % n_nodes
    need = np.flatnonzero((node_of == n_nodes // 2) | (np.repeat(sd, n_pos) > 0 if n_nodes > 1 else True))
    sub = pos[need]
    ex, ey = views["x"].to_numpy(float), views["y"].to_numpy(float)
    view_tree = cKDTree(np.column_stack([ex, ey]))
    normal = wall_normals(sub, buildings) if buildings is not None and len(buildings) else None
    per_view = _per_view(views)  # each view's own terms once, not once per chunk (speed, issue 27)
    starts = range(0, len(sub), chunk)
    with ThreadPoolExecutor(max_workers=min(THREADS, len(starts))) as pool:  # numpy and the k-d tree free the GIL
        chunks = list(pool.map(lambda start: _pairs_chunk(
            sub, start, min(start + chunk, len(sub)), view_tree, per_view, ex, ey, normal, buildings,
            max_range_m=max_range_m, rise_m=rise_m, grazing_deg=grazing_deg), starts))
    pi, vj, r, scale, factor = (np.concatenate([c[k] for c in chunks]) for k in range(5))
    pi = need[pi]
    # cameras without a location SD have no pairs at their outer nodes: those equal the centre's
    same = (sd <= 0) if n_nodes > 1 else None
    return ViewPairs(pi // n_pos, pi % n_pos, scale, n, n_shifts, r, vj, factor, n_nodes=n_nodes, camera_sd=camera_sd,
                     same_nodes=same)


def shift_range_on_streets(cam_xy: np.ndarray, street_id: np.ndarray, streets: gpd.GeoDataFrame, *,
                           spacing_m: float) -> np.ndarray:
    """(lo, hi) metres along its street over which each camera's inclusion is averaged: one
    spacing centred on it, clipped to its street's ends.

    Cameras are placed independently of the grid, so in a street's interior where the grid falls
    relative to a camera is uniform over a spacing (the grid's random start, or the camera's own
    place). Past a street's end there is no grid of that street to shift: the sampler always puts
    a point within its slack of each end (``geo.streets.sampling.offsets_systematic``: start
    uniform on [0, slack]), so a camera near an end is averaged only over positions on its street,
    not moved into the junction away from every view. ``cam_xy``: positions (m, the streets'
    CRS); ``street_id``: each camera's street (unknown: the whole spacing)."""
    s = float(spacing_m)
    n = len(cam_xy)
    out = np.tile([-s / 2.0, s / 2.0], (n, 1))
    if n == 0 or s <= 0:
        return out
    geoms = pd.Series(streets.geometry.to_numpy(), index=streets["street_id"].to_numpy())
    geoms = geoms[~geoms.index.duplicated()]
    line = pd.Series(np.asarray(street_id)).map(geoms).to_numpy()
    rows = np.flatnonzero([isinstance(g, shapely.geometry.base.BaseGeometry) for g in line])
    if len(rows) == 0:
        return out
    geom = line[rows].astype(object)
    along = shapely.line_locate_point(geom, shapely.points(cam_xy[rows]))
    length = shapely.length(geom)
    out[rows, 0] = np.minimum(np.maximum(-s / 2.0, -along), 0.0)
    out[rows, 1] = np.maximum(np.minimum(s / 2.0, length - along), 0.0)
    return out


def _per_view(views: pd.DataFrame) -> dict[str, np.ndarray | dict | None]:
    """What ``_pairs_chunk`` reads of each view, computed once per view: grid heading (deg), its
    sine and cosine, the cosine of the field of view's half-angle less 0.5 deg, the clipped field
    of view, ``view_geometry``'s terms (``view_terms``) and the share (or None)."""
    heading = views["heading_grid"].to_numpy(float)
    fov = np.clip(views["fov"].to_numpy(float), 1.0, 179.0)
    pitch = views["pitch"].to_numpy(float) if "pitch" in views.columns else np.zeros(len(views))
    return {"heading": heading, "sin": np.sin(np.radians(heading)), "cos": np.cos(np.radians(heading)),
            "cos_half": np.cos(np.radians(fov / 2.0 - 0.5)),
            "terms": view_terms(fov, pitch, views["width"].to_numpy(float), views["height"].to_numpy(float)),
            "share": views["share"].to_numpy(float) if "share" in views.columns else None}


def _pairs_chunk(pos, start, stop, view_tree, per_view, ex, ey, normal, buildings, *, max_range_m, rise_m,
                 grazing_deg):
    """Pairs of positions ``start:stop`` (bounded memory): (position, view, range, px per m, factor);
    ``per_view``: ``_per_view`` of the views."""
    from scipy.spatial import cKDTree

    pairs = cKDTree(pos[start:stop]).sparse_distance_matrix(view_tree, max_range_m, output_type="ndarray")
    px, py = pos[start:stop, 0].copy(), pos[start:stop, 1].copy()  # contiguous columns
    # speed (issue 27): the k-d tree's pairs FOV_BLOCK at a time, so the temporaries stay in the
    # CPU's caches (elementwise tests and order-keeping filters: the same pairs, the same values)
    kept = [_pairs_block(px, py, pairs["i"][a:a + FOV_BLOCK], pairs["j"][a:a + FOV_BLOCK], pairs["v"][a:a + FOV_BLOCK],
                         ex, ey, per_view, rise_m=rise_m) for a in range(0, len(pairs), FOV_BLOCK)]
    pi, vj, r, scale, reach = (np.concatenate([np.zeros(0, dtype)] + [k[n] for k in kept])
                               for n, dtype in enumerate((np.int64, np.int64, float, float, float)))
    pi += start
    if normal is not None and len(pi):
        blocked = sight_blocked(np.column_stack([ex[vj], ey[vj]]), pos[pi], buildings)
        nx, ny = normal[pi, 0], normal[pi, 1]
        on_wall = np.isfinite(nx)
        facing = ((np.nan_to_num(nx) * (ex[vj] - pos[pi, 0]) + np.nan_to_num(ny) * (ey[vj] - pos[pi, 1]))
                  / np.maximum(r, 1e-9))
        blocked |= on_wall & (facing < np.sin(np.radians(grazing_deg)))
        keep = ~blocked
        pi, vj, r, scale, reach = pi[keep], vj[keep], r[keep], scale[keep], reach[keep]
    share = per_view["share"][vj] if per_view["share"] is not None else np.ones(len(vj))
    return pi, vj, r, scale, reach * share


def _pairs_block(px, py, pi, vj, r, ex, ey, per_view, *, rise_m) -> tuple[np.ndarray, ...]:
    """``_pairs_chunk``'s pairs (position ``pi`` at ``px``, ``py``; view ``vj`` at ``ex``, ``ey``;
    range ``r``) that a view can show: inside its horizontal field of view (by the cosine of the
    angle off the view's axis first: cheaper than the angle itself, which only the pairs inside
    need), its vertical field reaching the mount heights (``view_geometry``): (position, view,
    range, px per m, reach)."""
    ahead = (px[pi] - ex[vj]) * per_view["sin"][vj] + (py[pi] - ey[vj]) * per_view["cos"][vj]
    near = np.flatnonzero((ahead >= r * per_view["cos_half"][vj]) & (r > 0.5))
    pi, vj, r = pi[near].astype(np.int64), vj[near].astype(np.int64), r[near]
    dx, dy = px[pi] - ex[vj], py[pi] - ey[vj]
    off = (np.degrees(np.arctan2(dx, dy)) - per_view["heading"][vj] + 180.0) % 360.0 - 180.0
    inside, scale, reach = view_geometry(r, off, fov=None, pitch=None, rise_m=rise_m, view=vj, terms=per_view["terms"])
    keep = np.flatnonzero(inside & (reach > 0) & (r > 0.5))
    return pi[keep], vj[keep], r[keep], scale[keep], reach[keep]


def view_geometry(range_m: np.ndarray, off_deg: np.ndarray, *, fov, pitch, width=640.0, height=640.0,
                  rise_m: float = RISE_M, rise_range_m: tuple[float, float] = RISE_RANGE_M,
                  view: np.ndarray | None = None, terms: dict | None = None
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(inside, scale, reach) of cameras at horizontal range ``range_m`` and ``off_deg`` degrees
    off a view's axis, in a view of ``fov`` and ``pitch`` (degrees up; scalars or one per pair):
    inside the horizontal field of view (0.5 deg margin); px of box per metre of camera size,
    f' / slant range with f' the focal length along the ray at the nominal ``rise_m`` above the
    eye; and the share of mounts spread over ``rise_range_m`` above the eye inside the vertical
    field of view [p - v, p + v] (v the vertical half-angle less 0.5 deg). Pitch p makes
    f' = f / (cos(h) cos(p) + tan(e) sin(p)), e the ray's elevation. The estimator's inclusion
    and the planner share it. ``view``: per pair, its row in ``fov``, ``pitch``, ``width`` and
    ``height`` given per view (the same values, the views' own terms computed once per view);
    ``terms``: those views' ``view_terms`` when already computed (then ``fov`` ... are not read)."""
    def per_pair(a):  # speed (issue 27 part 6): a view's terms once per view, then gathered per pair
        return a[view] if view is not None and np.ndim(a) else a

    r = np.asarray(range_m, float)
    terms = view_terms(fov, pitch, width, height) if terms is None else terms
    inside = np.abs(np.asarray(off_deg, float)) <= per_pair(terms["half"])
    lo_rise, hi_rise = rise_range_m
    top = r * per_pair(terms["tan_top"])
    bottom = r * per_pair(terms["tan_bottom"])
    if hi_rise - lo_rise <= 1e-9:  # one height: in or out
        reach = ((bottom <= lo_rise) & (lo_rise <= top)).astype(float)
    else:
        reach = np.clip((np.minimum(top, hi_rise) - np.maximum(bottom, lo_rise)) / (hi_rise - lo_rise), 0.0, 1.0)
    h = np.radians(np.asarray(off_deg, float))
    cos_axis = np.cos(h) * per_pair(terms["cos_pitch"]) + rise_m / np.maximum(r, 1e-6) * per_pair(terms["sin_pitch"])
    scale = per_pair(terms["focal"]) / np.maximum(cos_axis, 0.05) / np.hypot(r, rise_m)
    return inside, scale, reach


def view_terms(fov, pitch, width=640.0, height=640.0) -> dict:
    """A view's own terms in ``view_geometry`` (scalars or arrays): the horizontal half-angle less
    0.5 deg, the tangents of the vertical field's top and bottom, the pitch's cosine and sine and
    the focal length (px)."""
    fov, pitch = np.asarray(fov, float), np.asarray(pitch, float)
    focal = np.asarray(width, float) / 2.0 / np.tan(np.radians(fov) / 2.0)
    vhalf = np.degrees(np.arctan2(np.asarray(height, float) / 2.0, focal)) - 0.5
    p_rad = np.radians(pitch)
    return {"half": fov / 2.0 - 0.5, "tan_top": np.tan(np.radians(np.clip(pitch + vhalf, -89.0, 89.0))),
            "tan_bottom": np.tan(np.radians(np.clip(pitch - vhalf, -89.0, 89.0))), "cos_pitch": np.cos(p_rad),
            "sin_pitch": np.sin(p_rad), "focal": focal}


def wall_normals(xy: np.ndarray, buildings: gpd.GeoDataFrame, *, within_m: float = WALL_M) -> np.ndarray:
    """Outward unit normal (2 columns) of the wall each point hangs on: from the nearest building
    outline point within ``within_m`` to the point (NaN where no outline is that close, or the
    point lies inside a footprint)."""
    out = np.full((len(xy), 2), np.nan)
    polys = buildings.geometry.to_numpy()
    polys = polys[np.isin(shapely.get_type_id(polys), [3, 6])]
    if len(polys) == 0 or len(xy) == 0:
        return out
    outlines = shapely.boundary(polys)
    pts = shapely.points(xy)
    idx, dist = shapely.STRtree(outlines).query_nearest(pts, max_distance=within_m, return_distance=True,
                                                         all_matches=False)
    pi, bi = idx[0], idx[1]
    near = shapely.get_coordinates(shapely.shortest_line(pts[pi], outlines[bi]))[1::2]
    d = xy[pi] - near
    norm = np.hypot(d[:, 0], d[:, 1])
    inside = shapely.contains_xy(polys[bi], xy[pi, 0], xy[pi, 1])
    ok = (norm > 1e-6) & ~inside
    out[pi[ok]] = d[ok] / norm[ok, None]
    return out


def sight_blocked(eye: np.ndarray, target: np.ndarray, buildings: gpd.GeoDataFrame, *,
                  tolerance_m: float = FACADE_TOLERANCE_M) -> np.ndarray:
    """Whether each sight line eye -> target (less the last ``tolerance_m``) crosses a building
    footprint (``buildings`` in the points' CRS; shapely STRtree, vectorised)."""
    polys = buildings.geometry.to_numpy()
    polys = polys[np.isin(shapely.get_type_id(polys), [3, 6])]
    out = np.zeros(len(eye), dtype=bool)
    if len(polys) == 0 or len(eye) == 0:
        return out
    d = target - eye
    length = np.hypot(d[:, 0], d[:, 1])
    keep = np.clip((length - tolerance_m) / np.maximum(length, 1e-9), 0.0, 1.0)
    end = eye + d * keep[:, None]
    lines = shapely.linestrings(np.stack([eye, end], axis=1))
    hit = shapely.STRtree(polys).query(lines, predicate="intersects")[0]
    out[hit] = True
    return out & (length > tolerance_m)


def views_for_inclusion(images: pd.DataFrame, crs, *, random_sides: bool = False) -> pd.DataFrame:
    """The ok images as views in ``crs``: x, y (m), heading_grid (deg), fov, width, height, pitch, share.

    ``random_sides``: the design took one side per point at random (``--sides random``, the
    Stanford design); the inclusion probability then averages over that choice: each view and
    its mirror (the other side, heading + 180) count with share 1/2."""
    from pyproj import CRS, Transformer

    from geo.streets.sampling import true_north_correction

    ok = images
    if "status" in ok.columns:
        ok = ok[ok["status"].fillna("ok").eq("ok")]
    ok = ok.drop_duplicates("image_id")
    lon, lat = ok["lon"].to_numpy(float), ok["lat"].to_numpy(float)
    if len(ok) == 0:
        return pd.DataFrame({"x": [], "y": [], "heading_grid": [], "fov": [], "width": [], "height": [], "pitch": [],
                             "share": []})
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    conv = true_north_correction(lon, lat, CRS.from_user_input(crs))
    out = pd.DataFrame({
        "x": np.asarray(x), "y": np.asarray(y),
        "heading_grid": np.mod(ok["heading"].to_numpy(float) - conv, 360.0),
        "fov": ok["fov"].fillna(90.0).to_numpy(float),
        "width": ok["width"].fillna(640).to_numpy(float) if "width" in ok else np.full(len(ok), 640.0),
        "height": ok["height"].fillna(640).to_numpy(float) if "height" in ok else np.full(len(ok), 640.0),
        "pitch": ok["pitch"].fillna(0.0).to_numpy(float) if "pitch" in ok else np.zeros(len(ok)),
        "share": 1.0,
    })
    if random_sides:
        mirror = out.assign(heading_grid=np.mod(out["heading_grid"] + 180.0, 360.0))
        out = pd.concat([out, mirror], ignore_index=True).assign(share=0.5)
    return out
