"""The influence state is refused before allocation when it cannot fit."""

import time

import numpy as np
import pytest

import rtrl
from rtrl._memory import available_memory, format_bytes


def _huge_params(n=2000, m=4):
    # Only the shapes matter; the arrays are views of a single zero so they cost no memory.
    cell = rtrl.cells.Elman()
    shapes = cell.layout(n, m, 1).shapes()
    zero = np.zeros(1)
    return cell, {k: np.broadcast_to(zero, s) for k, s in shapes.items()}


def test_memory_guard_fires_before_allocation_within_a_second():
    cell, params = _huge_params()
    n, m = 2000, 4
    # S x (P + 128) float64 (P = n(n+m+2), 128-column blocks): about 64 GB
    needed = n * (n * (n + m + 2) + 128) * 8 + 16  # + the int64s: where J sits, window
    # sequence_gradient runs exact RTRL in windows of 32 steps: per step D (S^2), G (S x n for
    # Elman), z (n + m + 2) and e (S)
    needed += 32 * (n * n + n * n + (n + m + 2) + n) * 8
    assert needed > available_memory()
    X = np.zeros((5, m))
    y = np.zeros(5)
    t0 = time.perf_counter()
    with pytest.raises(rtrl.InfluenceMemoryError) as info:
        rtrl.sequence_gradient(params, X, y, cell=cell, learner="rtrl")
    assert time.perf_counter() - t0 < 1.0
    msg = str(info.value)
    assert format_bytes(needed) in msg and str(needed) in msg
    assert "'bptt'" in msg  # the cheaper learner that fits is named
    assert isinstance(info.value, MemoryError)


def test_bptt_runs_where_rtrl_is_refused():
    # BPTT's state is O(T S): it fits where the influence matrix does not.
    cell = rtrl.cells.Elman()
    learner = rtrl.learners.make_learner("bptt")
    layout = cell.layout(2000, 4, 1)
    assert learner.state_bytes(layout, 8, 5) < 1e6


def test_state_bytes_formula_for_exact_rtrl():
    layout = rtrl.cells.LSTM().layout(20, 3, 2)
    S, P = 40, 80 * (3 + 20 + 2)
    assert layout.state_size == S and layout.n_recurrent_params == P
    # one extra block of columns (the step writes J_t beside J_{t-1}); 512 wide here (a
    # 40 x 512 float64 block fits in 512 KiB)
    # (+ 16: the int64s saying where J sits and how many steps the open window holds)
    assert rtrl.learners.RTRL().state_bytes(layout, 8, 100) == S * (P + 512) * 8 + 16
    assert rtrl.learners.RTRL(block_width=50).state_bytes(layout, 4, 100) == S * (P + 50) * 4 + 16
    small = rtrl.cells.Elman().layout(4, 2, 1)  # S * P <= 16384: a single block
    assert rtrl.learners.RTRL().state_bytes(small, 8, 1) == 4 * (2 * 4 * 8) * 8 + 16
    # the block form keeps, per step of its window: D (S x S), G (S x 4n), z (25) and e (S)
    window = 10 * (S * S + S * 80 + 25 + S)
    assert (
        rtrl.learners.RTRL(window=10).state_bytes(layout, 8, 100)
        == (S * (P + 512) + window) * 8 + 16
    )
    assert rtrl.learners.RTRL(window=10).state_bytes(
        layout.with_mask(np.ones((80, 20), dtype=bool)), 8, 1
    ) < (S * (P + 512) * 8 + 17)  # sparse networks use the per-step form
