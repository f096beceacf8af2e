"""Windowed SnAp-1 (the O(P) passes once per window, as GEMMs) against the per-step form.

The windowed kernel unrolls V_t = d_t V_{t-1} + g_t z_t over up to ``SnAp.window`` steps.
The per-step recurrence (``window = 0``) is the reference: both must agree to rounding
wherever a window is cut -- when full, at sequence ends, before updates, at ``reset_state``
and across ``partial_fit`` calls -- and the windowed run must not depend on how the calls
cut the stream.
"""

import numpy as np
import pytest

import rtrl
from rtrl import RTRLRegressor
from rtrl.datasets import delayed_sum
from rtrl.learners import SnAp


class PerStepSnAp(SnAp):
    window = 0


def _params(cell, n=6, m=3, seed=0):
    cell = rtrl.cells.make_cell(cell)
    return cell, cell.init_params(n, m, 1, random_state=seed)


@pytest.mark.parametrize("cell", ["elman", "gru"])
@pytest.mark.parametrize("T", [1, 31, 32, 33, 77])
def test_sequence_gradient_matches_the_per_step_recurrence(cell, T):
    cell, params = _params(cell)
    rng = np.random.default_rng(T)
    X, y = rng.normal(size=(T, 3)), rng.normal(size=T)
    w = rng.random(T) * (rng.random(T) > 0.3)  # some steps carry no error
    layout = cell.layout(6, 3, 1)
    assert SnAp(1).windowed(layout) and not PerStepSnAp(1).windowed(layout)
    a = rtrl.sequence_gradient(params, X, y, cell=cell, learner=SnAp(1), sample_weight=w)
    b = rtrl.sequence_gradient(params, X, y, cell=cell, learner=PerStepSnAp(1), sample_weight=w)
    for name in a:
        np.testing.assert_allclose(a[name], b[name], rtol=1e-12, atol=1e-14, err_msg=name)


def test_the_windowed_form_is_used_only_where_it_applies():
    assert not SnAp(1).windowed(rtrl.cells.LSTM().layout(4, 2, 1))  # 2 x 2 blocks
    assert not SnAp(2).windowed(rtrl.cells.Elman().layout(4, 2, 1))
    mask = np.eye(4, dtype=bool) | np.eye(4, k=1, dtype=bool)
    assert not SnAp(1).windowed(rtrl.cells.Elman().layout(4, 2, 1).with_mask(mask))


def _stream(learner, calls, reset_after=(), **kw):
    X, y = delayed_sum(400, delays=(2,), random_state=4)
    seq = np.repeat(np.arange(8), 50)  # sequences change inside calls and at their edges
    est = RTRLRegressor(
        hidden_size=5, learner=learner, learning_rate=3e-3, n_jobs=1, random_state=0, **kw
    )
    for k, (a, b) in enumerate(calls):
        est.partial_fit(X[a:b], y[a:b], sequence_id=seq[a:b])
        if k in reset_after:
            est.reset_state()
    return est


CALLS = [(0, 7), (7, 50), (50, 61), (61, 140), (140, 141), (141, 400)]


@pytest.mark.parametrize("cell", ["elman", "gru"])
@pytest.mark.parametrize("update_every", [40, None])
def test_streaming_matches_the_per_step_recurrence(cell, update_every):
    kw = dict(cell=cell, update_every=update_every)
    a = _stream(SnAp(1), CALLS, reset_after=(2,), **kw)
    b = _stream(PerStepSnAp(1), CALLS, reset_after=(2,), **kw)
    for name, value in a.params_.items():
        np.testing.assert_allclose(value, b.params_[name], rtol=1e-10, atol=1e-13, err_msg=name)


@pytest.mark.parametrize("update_every", [1, 40, 100])
def test_windowed_streaming_is_bit_identical_however_calls_cut_it(update_every):
    kw = dict(cell="gru", update_every=update_every)
    whole = _stream(SnAp(1), [(0, 400)], **kw)
    chunked = _stream(SnAp(1), CALLS, **kw)
    for name, value in whole.params_.items():
        np.testing.assert_array_equal(value, chunked.params_[name], err_msg=name)


def test_influence_of_an_open_window_is_brought_up_to_date():
    X, y = delayed_sum(45, delays=(2,), random_state=5)
    kw = dict(hidden_size=5, cell="elman", update_every=1000, n_jobs=1, random_state=0)
    a = RTRLRegressor(learner=SnAp(1), **kw).partial_fit(X, y)
    b = RTRLRegressor(learner=PerStepSnAp(1), **kw).partial_fit(X, y)
    assert a._stream["learner"]["ints"][0, 0] == 45 % SnAp.window  # the window is open
    layout = a._layout()
    Ja = SnAp(1).influence(a._stream["learner"], layout)
    Jb = PerStepSnAp(1).influence(b._stream["learner"], layout)
    np.testing.assert_allclose(Ja, Jb, rtol=1e-12, atol=1e-15)
    assert np.abs(Ja).max() > 0


def test_a_state_of_the_wrong_size_is_refused_not_crashed():
    class Shorter(SnAp):
        window = 16

    cell = rtrl.cells.Elman()
    layout = cell.layout(6, 3, 1)
    state = SnAp(1).init_state(layout, np.float64)  # sized for 32-step windows
    X, Y = np.zeros((5, 3)), np.zeros((5, 1))
    from rtrl.learners import new_update_state

    one = (np.array([0], np.intp), np.array([5], np.intp), np.array([1], np.intp))
    with pytest.raises(ValueError, match="inconsistent"):
        Shorter(1).train(
            layout, layout.pack(cell.init_params(6, 3, 1, random_state=0), np.float64), X, Y,
            np.empty(0, np.intp), np.ones(5), *one, np.zeros((1, 6)), state,
            new_update_state(layout.n_params, np.float64), -1, 0, 1,
        )  # fmt: skip
