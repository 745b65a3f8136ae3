"""Group-wise numpy work on this machine's cores (issue 27's 1M benchmark).

The estimator's heavy loops (p* and its gradient over the camera effect, the card check's repeat
probabilities) work on (pair, group) arrays whose groups are independent: each group's result
comes from its own pairs only. ``by_groups`` runs such a function on a few runs of whole groups,
one thread each (numpy's ufuncs, ``bincount`` and fancy indexing release the GIL), and puts the
pieces back together. Every pair keeps its order within its group, so the results are identical
bit for bit to one call on all pairs.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

THREADS = min(4, os.cpu_count() or 1)
MIN_PAIRS = 400_000  # below this, one call (threads would cost more than they save)
BLOCK_PAIRS = 200_000  # group_blocks: runs of about this many pairs (a few MB per array: the CPU's caches)


def group_runs(group: np.ndarray, n_groups: int, *, parts: int | None = None) -> list[np.ndarray]:
    """Indices (ascending) of the pairs in ``parts`` (default ``THREADS``) runs of consecutive
    group numbers with about as many pairs each; a group's pairs all fall in one run."""
    parts = THREADS if parts is None else int(parts)
    group = np.asarray(group, np.int64)
    if parts <= 1 or len(group) == 0:
        return [np.arange(len(group))]
    ends = np.cumsum(np.bincount(group, minlength=n_groups))
    cuts = np.unique(np.searchsorted(ends, np.arange(1, parts) * len(group) / parts, side="left") + 1)
    bounds = [0, *cuts.tolist(), n_groups]
    runs = [np.flatnonzero((group >= lo) & (group < hi)) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]
    return [run for run in runs if len(run)] or [np.arange(len(group))]


def by_groups(fn: Callable[[np.ndarray], np.ndarray], group: np.ndarray, n_groups: int, *, per: str,
              min_pairs: int | None = None) -> np.ndarray:
    """``fn(index)`` (a function of the pairs ``index``, ascending, made of whole groups) over
    all pairs, a run of groups per thread. ``per``: "pair" (``fn`` returns one value per pair of
    ``index``: they are scattered back) or "group" (``fn`` returns an ``n_groups`` array that is 0
    outside its groups: the runs' arrays are added). ``min_pairs``: default ``MIN_PAIRS``."""
    n = len(group)
    if n < (MIN_PAIRS if min_pairs is None else min_pairs) or THREADS <= 1:
        return fn(np.arange(n))
    runs = group_runs(group, n_groups)
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        pieces = list(pool.map(fn, runs))
    if per == "pair":
        out = np.empty((n,) + np.shape(pieces[0])[1:], dtype=np.result_type(*pieces))
        for run, piece in zip(runs, pieces):
            out[run] = piece
        return out
    total = pieces[0].copy()
    for piece in pieces[1:]:
        total += piece
    return total


def whole_group_cuts(group: np.ndarray) -> np.ndarray:
    """Positions k (0 < k < n, ascending) where every group before k is below every group after:
    where ``group`` can be cut into runs of whole groups (``view_pairs`` gives its pairs chunk by
    chunk of positions, so its cells have such cuts between chunks and often within them)."""
    group = np.asarray(group)
    if len(group) < 2:
        return np.zeros(0, np.int64)
    return np.flatnonzero(np.maximum.accumulate(group)[:-1] < np.minimum.accumulate(group[::-1])[::-1][1:]) + 1


def group_blocks(group: np.ndarray, *, block: int | None = None, cuts: np.ndarray | None = None,
                 span: tuple[int, int] | None = None) -> list[tuple[int, int]]:
    """(start, stop) of consecutive runs of about ``block`` pairs, each of whole groups: cut only
    where every group before is below every group after (``whole_group_cuts``; ``cuts``: those
    already found), one run where there is no such place. A loop of many passes over the pairs
    runs faster block by block (the arrays stay in the caches) with the same per-group sums.
    ``block``: default ``BLOCK_PAIRS``. ``span``: only the pairs start:stop (whole groups; cuts of
    all ``group``)."""
    a, n = (0, len(group)) if span is None else span
    block = BLOCK_PAIRS if block is None else int(block)
    if n - a <= block:
        return [(a, n)]
    ok = whole_group_cuts(group) if cuts is None else cuts
    ok = ok[(ok > a) & (ok < n)]
    bounds, last = [a], a
    while True:
        k = int(np.searchsorted(ok, last + block))
        if k >= len(ok):
            break
        last = int(ok[k])
        bounds.append(last)
    return list(zip(bounds, bounds[1:] + [n]))


def group_spans(cuts: np.ndarray, n: int, *, parts: int | None = None) -> list[tuple[int, int]]:
    """(start, stop) of ``parts`` (default ``THREADS``) consecutive runs of about n / parts pairs,
    cut at ``cuts`` (``whole_group_cuts``): each run holds whole groups; fewer runs where there are
    too few cuts."""
    parts = THREADS if parts is None else int(parts)
    if parts <= 1 or len(cuts) == 0:
        return [(0, n)]
    at = np.unique(cuts[np.minimum(np.searchsorted(cuts, np.arange(1, parts) * n / parts), len(cuts) - 1)])
    bounds = [0, *at.tolist(), n]
    return [(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:]) if hi > lo]


def even_spans(n: int, *, parts: int | None = None) -> list[tuple[int, int]]:
    """(start, stop) of ``parts`` (default ``THREADS``) runs of about n / parts, for elementwise
    work; one run below ``MIN_PAIRS``."""
    parts = THREADS if parts is None else int(parts)
    if n < MIN_PAIRS or parts <= 1:
        return [(0, n)]
    bounds = [n * k // parts for k in range(parts + 1)]
    return list(zip(bounds[:-1], bounds[1:]))


def on_spans(fn: Callable[[int, int], None], spans: list[tuple[int, int]]) -> None:
    """``fn(start, stop)`` for each span, a thread each (numpy releases the GIL)."""
    if len(spans) <= 1:
        for a, b in spans:
            fn(a, b)
        return
    with ThreadPoolExecutor(max_workers=len(spans)) as pool:
        list(pool.map(lambda span: fn(*span), spans))
