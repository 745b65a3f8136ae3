"""geo.counting.threads: runs of whole groups on threads give the one-call results bit for bit."""

import numpy as np

from geo.counting import threads
from geo.counting.threads import by_groups, group_runs


def test_runs_hold_whole_groups_and_every_pair_once():
    group = np.random.default_rng(0).integers(0, 50, 1000)
    runs = group_runs(group, 50, parts=3)
    assert len(runs) == 3 and np.array_equal(np.sort(np.concatenate(runs)), np.arange(1000))
    owners = [set(group[run].tolist()) for run in runs]
    assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1:])
    assert max(len(r) for r in runs) < 500  # balanced by pairs


def test_estimator_loops_are_identical_on_threads(monkeypatch):
    from geo.counting.card_check import repeat_probability
    from geo.counting.inclusion import found_by_cell, found_gradient
    from geo.counting.recapture import CaptureHistories

    rng = np.random.default_rng(1)
    n, cells = 5000, 900
    cell = rng.integers(0, cells, n)
    recall, factor = rng.random(n), rng.random(n)
    recall[::17] = 0.0
    h = CaptureHistories(cell, rng.random(n), factor, rng.random(n) < 0.3, np.ones(cells), cells)
    one = (found_gradient(recall, cell, cells, factor=factor), found_by_cell(recall, cell, cells, factor=factor),
           repeat_probability(h, recall * factor))
    monkeypatch.setattr(threads, "MIN_PAIRS", 0)
    monkeypatch.setattr(threads, "THREADS", 3)
    many = (found_gradient(recall, cell, cells, factor=factor), found_by_cell(recall, cell, cells, factor=factor),
            repeat_probability(h, recall * factor))
    for a, b in zip(one, many):
        assert np.array_equal(a, b)
    assert by_groups(lambda i: cell[i] * 2.0, cell, cells, per="pair", min_pairs=0).tolist() == (cell * 2.0).tolist()


def test_small_inputs_stay_on_one_call(monkeypatch):
    calls = []
    group = np.arange(10) % 3
    by_groups(lambda i: calls.append(len(i)) or np.zeros(len(i)), group, 3, per="pair")
    assert calls == [10]
    monkeypatch.setattr(threads, "MIN_PAIRS", 0)
    calls.clear()
    by_groups(lambda i: calls.append(len(i)) or np.zeros(len(i)), group, 3, per="pair")
    assert len(calls) == min(threads.THREADS, 3) and sum(calls) == 10
