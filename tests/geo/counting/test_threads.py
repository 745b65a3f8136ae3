"""geo.counting.threads: runs of whole groups on threads give the one-call results bit for bit."""

import numpy as np
import pytest

from geo.counting import threads
from geo.counting.threads import by_groups, group_runs


def test_runs_hold_whole_groups_and_every_pair_once():
    group = np.random.default_rng(0).integers(0, 50, 1000)
    runs = group_runs(group, 50, parts=3)
    assert len(runs) == 3 and np.array_equal(np.sort(np.concatenate(runs)), np.arange(1000))
    owners = [set(group[run].tolist()) for run in runs]
    assert all(not (a & b) for i, a in enumerate(owners) for b in owners[i + 1:])
    assert max(len(r) for r in runs) < 500  # balanced by pairs


@pytest.mark.parametrize("sd", [1.7, 0.0])
def test_estimator_loops_are_identical_on_threads_and_p_star_comes_from_the_gradient_pass(monkeypatch, sd):
    """The estimator's group-wise loops (found_gradient, found_by_cell, the card check's
    repeat_probability) give the one-call results on threads, bit for bit; and the p* that the
    estimator takes from found_gradient's pass (found_out) is found_by_cell's."""
    from geo.counting.card_check import repeat_probability
    from geo.counting.inclusion import found_by_cell, found_gradient
    from geo.counting.recapture import CaptureHistories

    rng = np.random.default_rng(1)
    n, cells = 6000, 1500
    cell = rng.integers(0, cells, n)
    recall, factor = rng.random(n), rng.random(n)
    recall[::13] = 0.0
    h = CaptureHistories(cell, rng.random(n), factor, rng.random(n) < 0.3, np.ones(cells), cells)

    def loops():
        found = np.full(cells, np.nan)
        grad = found_gradient(recall, cell, cells, sd=sd, factor=factor, found_out=found)
        return (grad, found, found_gradient(recall, cell, cells, sd=sd, factor=factor),
                found_by_cell(recall, cell, cells, sd=sd, factor=factor), repeat_probability(h, recall * factor))

    one = loops()
    monkeypatch.setattr(threads, "MIN_PAIRS", 0)
    monkeypatch.setattr(threads, "THREADS", 3)
    many = loops()
    for a, b in zip(one, many):
        assert np.array_equal(a, b)
    grad, found, grad_alone, by_cell, _ = many
    assert np.array_equal(found, by_cell) and np.array_equal(grad, grad_alone)
    assert np.all((found >= 0) & (found <= 1)) and found[np.bincount(cell, minlength=cells) == 0].max() == 0
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


def test_blocks_hold_whole_groups_and_the_gradient_is_the_same_block_by_block(monkeypatch):
    """group_blocks cuts only where every group before is below every group after; found_gradient
    worked through such blocks (speed) gives the same gradient and p*, bit for bit."""
    from geo.counting.inclusion import found_gradient
    from geo.counting.threads import group_blocks

    rng = np.random.default_rng(4)
    cells = 3000
    cell = np.repeat(np.arange(cells), rng.integers(1, 6, cells))
    chunk = cell // 250  # sorted chunk by chunk, shuffled within (as view_pairs gives them)
    cell = cell[np.lexsort((rng.random(len(cell)), chunk))]
    blocks = group_blocks(cell, block=700)
    assert len(blocks) > 5 and blocks[0][0] == 0 and blocks[-1][1] == len(cell)
    assert all(cell[a:b].max() < cell[b:].min() for a, b in blocks[:-1])
    assert group_blocks(rng.permutation(cell), block=700) == [(0, len(cell))]  # no whole-group cut: one run
    recall, factor = rng.random(len(cell)), rng.random(len(cell))
    whole_found, block_found = np.zeros(cells), np.zeros(cells)
    whole = found_gradient(recall, cell, cells, factor=factor, found_out=whole_found)
    monkeypatch.setattr(threads, "BLOCK_PAIRS", 500)
    blocked = found_gradient(recall, cell, cells, factor=factor, found_out=block_found)
    assert np.array_equal(whole, blocked) and np.array_equal(whole_found, block_found)
    mixed = rng.permutation(len(cell))  # no whole-cell cut: put in cell order, each cell's pairs in their order
    mixed_found = np.zeros(cells)
    monkeypatch.setattr(threads, "BLOCK_PAIRS", 10**9)
    one_block = found_gradient(recall[mixed], cell[mixed], cells, factor=factor[mixed], found_out=mixed_found)
    monkeypatch.setattr(threads, "BLOCK_PAIRS", 500)
    monkeypatch.setattr(threads, "MIN_PAIRS", 0)
    sorted_found = np.zeros(cells)
    in_order = found_gradient(recall[mixed], cell[mixed], cells, factor=factor[mixed], found_out=sorted_found)
    assert np.array_equal(one_block, in_order) and np.array_equal(mixed_found, sorted_found)
