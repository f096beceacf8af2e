"""Exact RTRL in windows (Schmidhuber 1992) against the per-step form and BPTT.

With the parameters fixed over a window, the block form must give the per-step recurrence's
gradient and influence to rounding, wherever the window is cut: when full, at sequence ends,
before updates, at ``reset_state`` and across ``partial_fit`` calls. ``RTRL(window=0)`` is the
per-step form; ``learner="rtrl"`` picks the block form when ``update_every`` > 1.
"""

import warnings

import numpy as np
import pytest
from conftest import CELL_CASES, make_problem

import rtrl
from rtrl import DivergenceWarning, RTRLRegressor
from rtrl.datasets import delayed_sum
from rtrl.learners import RTRL, make_learner

PER_STEP = RTRL(window=0)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _rel(a, b):
    return max(np.abs(a[k] - b[k]).max() / max(np.abs(b[k]).max(), 1e-300) for k in b)


@pytest.mark.parametrize("case", sorted(CELL_CASES))
@pytest.mark.parametrize(("T", "window"), [(1, 4), (13, 4), (40, 32), (77, 32), (30, 1)])
def test_sequence_gradient_equals_the_per_step_form_and_bptt(case, T, window):
    cell = CELL_CASES[case]()
    params, X, y, w = make_problem(cell, 5, 3, 2, T, seed=T + window)
    kw = dict(cell=cell, sample_weight=w)
    block = rtrl.sequence_gradient(params, X, y, learner=RTRL(window=window), **kw)
    step = rtrl.sequence_gradient(params, X, y, learner=PER_STEP, **kw)
    bptt = rtrl.sequence_gradient(params, X, y, learner="bptt", **kw)
    assert _rel(block, step) <= 1e-10
    assert _rel(block, bptt) <= 1e-10


def test_float32_block_form_agrees_with_float64():
    cell = rtrl.cells.GRU()
    params, X, y, w = make_problem(cell, 6, 3, 1, 50, seed=3)
    kw = dict(cell=cell, sample_weight=w, learner=RTRL(window=16))
    g32 = rtrl.sequence_gradient(params, X, y, dtype=np.float32, **kw)
    g64 = rtrl.sequence_gradient(params, X, y, dtype=np.float64, **kw)
    assert all(g32[k].dtype == np.float32 for k in g32)
    assert _rel(g32, g64) <= 1e-4


def test_the_schedule_picks_the_form():
    auto = make_learner("rtrl")
    assert auto.scheduled(1).window == 0  # parameters change every step: per-step
    assert auto.scheduled(8).window == 8
    assert auto.scheduled(1000).window == RTRL.max_auto_window
    assert auto.scheduled(None).window == RTRL.max_auto_window
    assert RTRL(window=0).scheduled(8).window == 0  # forced per-step form
    est = RTRLRegressor(update_every=5)
    assert est._learner().window == 5
    with pytest.raises(ValueError, match="window"):
        RTRL(window=-1)
    with pytest.raises(ValueError, match="window"):
        RTRL(window="big")
    sparse = rtrl.cells.Elman().layout(4, 2, 1).with_mask(np.eye(4, dtype=bool))
    assert not RTRL(window=8).windowed(sparse)  # sparse networks: per-step form


def _stream(learner, calls, cell, update_every, reset_after=(), batch_size=1):
    X, y = delayed_sum(400, delays=(2, 3), random_state=4)
    seq = np.repeat(np.arange(8), 50)  # sequences change inside calls and at their edges
    est = RTRLRegressor(
        hidden_size=5,
        cell=cell,
        learner=learner,
        update_every=update_every,
        learning_rate=3e-3,
        batch_size=batch_size,
        n_jobs=1,
        random_state=0,
    )
    for k, (a, b) in enumerate(calls):
        est.partial_fit(X[a:b], y[a:b], sequence_id=seq[a:b])
        if k in reset_after:
            est.reset_state()
    return est


CALLS = [(0, 7), (7, 50), (50, 61), (61, 140), (140, 141), (141, 400)]


@pytest.mark.parametrize("cell", ["elman", "jordan", "gru", "lstm"])
@pytest.mark.parametrize("update_every", [7, 32, None])
def test_streaming_equals_the_per_step_form(cell, update_every):
    # windows cut by partial_fit calls (7, 61, 141 are inside windows), sequence changes
    # and a reset; update_every=None also runs windows that close only when full
    block = _stream("rtrl", CALLS, cell, update_every, reset_after=(2,))
    step = _stream(PER_STEP, CALLS, cell, update_every, reset_after=(2,))
    assert block._learner().window == (update_every or 32)
    for name, value in block.params_.items():
        np.testing.assert_allclose(value, step.params_[name], rtol=1e-10, atol=1e-12)


def test_batched_streams_equal_the_per_step_form():
    X, y = delayed_sum(300, random_state=6)
    seq = np.repeat(np.arange(6), 50)
    kw = dict(hidden_size=4, cell="gru", update_every=10, batch_size=3, random_state=0)
    block = RTRLRegressor(learner="rtrl", max_iter=3, **kw).fit(X, y, sequence_id=seq)
    step = RTRLRegressor(learner=PER_STEP, max_iter=3, **kw).fit(X, y, sequence_id=seq)
    for name, value in block.params_.items():
        np.testing.assert_allclose(value, step.params_[name], rtol=1e-10, atol=1e-12)


# (update_every=None updates at the end of every call, so there the calls set the schedule)
@pytest.mark.parametrize("update_every", [5, 32, 100])
def test_block_streaming_is_bit_identical_however_calls_cut_it(update_every):
    whole = _stream("rtrl", [(0, 400)], "lstm", update_every)
    chunked = _stream("rtrl", CALLS, "lstm", update_every)
    for name, value in whole.params_.items():
        np.testing.assert_array_equal(value, chunked.params_[name], err_msg=name)


def test_influence_of_an_open_window_is_brought_up_to_date():
    X, y = delayed_sum(45, random_state=5)
    kw = dict(hidden_size=5, cell="gru", update_every=1000, n_jobs=1, random_state=0)
    a = RTRLRegressor(learner=RTRL(window=32), **kw).partial_fit(X, y)
    b = RTRLRegressor(learner=PER_STEP, **kw).partial_fit(X, y)
    assert a._stream["learner"]["ints"][0, 1] == 45 - 32  # 13 steps in the open window
    layout = a._layout()
    Ja = RTRL(window=32).influence(a._stream["learner"], layout)
    Jb = PER_STEP.influence(b._stream["learner"], layout)
    np.testing.assert_allclose(Ja, Jb, rtol=1e-10, atol=1e-13)
    assert np.abs(Ja).max() > 0


def test_two_threads_equal_one_thread(force_threads):
    cell = rtrl.cells.Elman()
    params, X, y, w = make_problem(cell, 12, 3, 1, 45, seed=8)
    kw = dict(cell=cell, sample_weight=w, learner=RTRL(window=16, block_width=16))
    one = rtrl.sequence_gradient(params, X, y, n_jobs=1, **kw)
    two = rtrl.sequence_gradient(params, X, y, n_jobs=2, **kw)
    for k in one:
        np.testing.assert_array_equal(one[k], two[k])


def test_divergence_inside_a_window_is_not_applied():
    X, y = delayed_sum(60, random_state=9)
    est = RTRLRegressor(hidden_size=4, update_every=16, learning_rate=1e-3, random_state=0)
    est.partial_fit(X, y)
    assert est._learner().window == 16
    huge = np.full_like(X, 1e200)
    with pytest.warns(DivergenceWarning):
        est.partial_fit(huge, y * 1e200)
    for v in est.params_.values():
        assert np.isfinite(v).all()
    before = est.params_
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        est.partial_fit(X, y)
    assert any(not np.array_equal(before[k], est.params_[k]) for k in before)
