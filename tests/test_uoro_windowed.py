"""UORO's windowed form: each step stores its share of the tangent work and the window's end
runs the recurrence with GEMMs. It draws the same signs in the same order as the per-step
form, so the per-step form (window = 0) is its oracle: both must agree to rounding."""

import numpy as np
import pytest
from conftest import WindowedUORO, rel_err

import rtrl
from rtrl import RTRLRegressor, _core
from rtrl.benchmark import _Problem
from rtrl.datasets import delayed_sum
from rtrl.learners import UORO, new_update_state
from rtrl.optim import SGD


class PerStepUORO(UORO):
    window = 0


def _train(learner, cell, dtype, update_every, lengths=(37, 23, 30), ends=(1, 0, 1), n=6):
    """Train B streams of different lengths (some ending, some going on) in one call, then
    the same streams further in a second call; returns weights, pending gradient, states."""
    B, T = len(lengths), max(lengths)
    pb = _Problem(n, 2 * T, streams=B, cell=cell, dtype=dtype, seed=3)
    layout = pb.layout
    state = learner.init_state(layout, pb.dtype, n_streams=B, random_state=0)
    update = new_update_state(layout.n_params, pb.dtype, optimizer=SGD(learning_rate=0.02))
    states = np.zeros((B, layout.state_size), dtype=pb.dtype)
    w = pb.w.copy()
    starts = np.arange(B, dtype=np.intp) * 2 * T
    weights = pb.weights * (np.arange(len(pb.weights)) % 5 != 0)  # some steps without error
    for call in range(2):
        learner.train(
            layout, w, pb.X, pb.Y, np.empty(0, np.intp), weights,
            starts + call * T, np.asarray(lengths, dtype=np.intp), np.asarray(ends, dtype=np.intp),
            states, state, update, update_every, 0, 1,
        )  # fmt: skip
    acc = update["acc"].copy()
    learner.flush_streams(layout, state, acc, w=w)
    tangent = state["values"][:, : layout.state_size + layout.n_recurrent_params]
    return w, acc, tangent


@pytest.mark.parametrize("update_every", [-1, 0, 4])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cell", ["elman", "gru", "lstm", "jordan"])
def test_windowed_form_equals_the_per_step_form(cell, dtype, update_every):
    tol = 1e-11 if dtype == np.float64 else 2e-5
    for window in (2, 5, 32):
        windowed = type("W", (WindowedUORO,), {"window": window})()
        assert windowed.windowed(_Problem(6, 1, cell=cell).layout)
        got = _train(windowed, cell, dtype, update_every)
        expected = _train(PerStepUORO(), cell, dtype, update_every)
        names = ("weights", "gradient", "s~ and theta~")
        for name, a, b in zip(names, got, expected, strict=True):
            # (with one update per call, nothing is pending after it)
            assert np.abs(b).max() > 0 or (name == "gradient" and update_every == 0), name
            assert rel_err(a, b) <= tol, (window, name, rel_err(a, b))


@pytest.mark.parametrize("cell", ["lstm", "elman"])
def test_a_chain_that_catches_up_early_goes_on_from_the_new_theta(cell):
    # alpha (the product of 1 / rho0 over the chain) leaving its range makes theta~ and the
    # gradient catch up after that slot and the chain go on from there; with the range
    # [1, 1] every slot does (Elman: inside the steps whose pass over the weights also
    # gives the chain's W_hh s~)
    old = _core._set_uoro_alpha_limit(1.0 + 1e-12)
    try:
        got = _train(type("W", (WindowedUORO,), {"window": 8})(), cell, np.float64, -1)
    finally:
        _core._set_uoro_alpha_limit(old)
    expected = _train(PerStepUORO(), cell, np.float64, -1)
    for a, b in zip(got, expected, strict=True):
        assert rel_err(a, b) <= 1e-11


def test_the_windowed_form_runs_on_large_networks_only():
    small, large = _Problem(64, 1).layout, _Problem(128, 1).layout
    assert small.n_recurrent_params < UORO.window_min_params <= large.n_recurrent_params
    assert not UORO().windowed(small) and UORO().windowed(large)
    assert UORO().values_size(small, 8) == small.state_size + small.n_recurrent_params
    assert not PerStepUORO().windowed(large)


def _open_window():
    learner = type("W", (WindowedUORO,), {"window": 8})()
    pb = _Problem(5, 3, cell="gru", seed=1)
    state = learner.init_state(pb.layout, np.float64, random_state=0)
    update = new_update_state(pb.layout.n_params, np.float64)
    learner.train(
        pb.layout, pb.w.copy(), pb.X, pb.Y, np.empty(0, np.intp), pb.weights,
        np.zeros(1, np.intp), np.array([3]), np.zeros(1, np.intp),
        np.zeros((1, pb.layout.state_size)), state, update, 5, 0, 1,
    )  # fmt: skip
    return learner, pb, state, update


def test_closing_an_open_window_needs_the_weights():
    learner, pb, state, update = _open_window()
    assert state["ints"][0, 5] == 3  # three steps wait in the window
    with pytest.raises(ValueError, match="needs the network's weights"):
        learner.flush_streams(pb.layout, state, update["acc"])
    learner.flush_streams(pb.layout, state, update["acc"], w=pb.w)
    assert state["ints"][0, 5] == 0
    learner.flush_streams(pb.layout, state, update["acc"])  # nothing open: no weights needed


def test_a_corrupted_window_count_is_refused():
    learner, pb, state, update = _open_window()
    state["ints"][0, 5] = 9  # more steps than the window holds
    with pytest.raises(ValueError, match="9 steps in a window of 8"):
        learner.flush_streams(pb.layout, state, update["acc"], w=pb.w)
    with pytest.raises(ValueError, match="9 steps in a window of 8"):
        learner.train(
            pb.layout, pb.w.copy(), pb.X, pb.Y, np.empty(0, np.intp), pb.weights,
            np.zeros(1, np.intp), np.array([3]), np.zeros(1, np.intp),
            np.zeros((1, pb.layout.state_size)), state, update, 0, 0, 1,
        )  # fmt: skip


def test_a_stream_saved_by_the_per_step_form_goes_on_in_windows():
    X, y = delayed_sum(120, delays=(2,), random_state=5)
    kw = dict(hidden_size=5, cell="lstm", update_every=3, learning_rate=1e-2, random_state=0)
    per_step = RTRLRegressor(learner=PerStepUORO(), **kw).partial_fit(X[:70], y[:70])
    windowed = RTRLRegressor(learner=WindowedUORO(), **kw).partial_fit(X[:70], y[:70])
    # the per-step state (and its pending gradient) as a model saved before the windowed
    # form existed would hold them
    windowed._stream["learner"] = {k: v.copy() for k, v in per_step._stream["learner"].items()}
    update = per_step._update
    windowed._update = {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in update.items()}
    per_step.partial_fit(X[70:], y[70:])
    windowed.partial_fit(X[70:], y[70:])
    W = WindowedUORO.window
    assert windowed._stream["learner"]["ints"].shape[1] == 12 + 7 * W + W * W
    for name, value in per_step.params_.items():
        assert rel_err(windowed.params_[name], value) <= 1e-11, name


def test_a_full_window_is_refused():
    learner, pb, state, update = _open_window()
    state["ints"][0, 5] = 8  # a full window: the next step would write past the slots
    with pytest.raises(ValueError, match="8 steps in a window of 8"):
        learner.flush_streams(pb.layout, state, update["acc"], w=pb.w)


def test_float32_windows_stay_finite_where_alpha_grows_fast():
    # relu units that never fire: G = 0, so b = 0 and D s~ = 0, rho0 = eps and alpha grows
    # by 1e7 a step; float32 windows must close before alpha leaves float32's range
    from rtrl.cells import Elman

    cell = Elman("relu")
    params = cell.init_params(6, 3, 1, random_state=0, dtype=np.float32)
    params["bias_ih"][:] = -50.0
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    y = rng.normal(size=(40, 1)).astype(np.float32)
    for learner in (type("W", (WindowedUORO,), {"window": 32})(), PerStepUORO()):
        g = rtrl.sequence_gradient(params, X, y, cell=cell, learner=learner, random_state=0)
        for name, value in g.items():
            assert np.all(np.isfinite(value)), (learner, name)


def test_the_estimators_default_uoro_runs_in_windows_on_a_large_network():
    # hidden_size 96 with 3 inputs: 96 * (96 + 3 + 2) = 9696 >= window_min_params recurrent
    # parameters, so learner="uoro" takes the windowed form; batches of two sequences,
    # updates every 5 steps, a reset mid-sequence (open windows closed with the weights)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(240, 3)), rng.normal(size=240)
    seq = np.repeat(np.arange(6), 40)
    kw = dict(hidden_size=96, update_every=5, batch_size=2, learning_rate=1e-3, random_state=0)
    models = {}
    for name, learner in (("uoro", "uoro"), ("per step", PerStepUORO())):
        est = RTRLRegressor(learner=learner, **kw)
        est.partial_fit(X[:130], y[:130], sequence_id=seq[:130])
        est.reset_state()
        est.partial_fit(X[130:], y[130:], sequence_id=seq[130:])
        models[name] = est
    layout = models["uoro"]._layout()
    assert layout.n_recurrent_params >= UORO.window_min_params
    assert models["uoro"]._learner().windowed(layout)
    assert not models["per step"]._learner().windowed(layout)
    for name, value in models["per step"].params_.items():
        assert rel_err(models["uoro"].params_[name], value) <= 1e-10, name
    assert models["uoro"]._update["t"][0] >= 20  # Adam steps taken: the updates ran


@pytest.mark.parametrize("learner", [WindowedUORO(), PerStepUORO(), "rtrl"])
def test_a_state_without_streams_is_refused_before_streams_are_reset(learner):
    X, y = delayed_sum(20, delays=(2,), random_state=5)
    est = RTRLRegressor(learner=learner, hidden_size=4, random_state=0).partial_fit(X, y)
    lstate = est._stream["learner"]
    lstate["values"], lstate["ints"] = lstate["values"][:0].copy(), lstate["ints"][:0].copy()
    with pytest.raises(ValueError, match="inconsistent learner state"):
        est.reset_state()
    with pytest.raises(ValueError, match="inconsistent learner state"):
        est.partial_fit(X, y, sequence_id=np.ones(len(X)))


@pytest.mark.parametrize("cell", ["elman", "gru"])
def test_chunks_that_cut_a_running_chain_are_bit_identical_to_one_call(cell):
    # windows of 3 and updates every 40 steps: calls end while a window fills and (Elman)
    # while the previous window's chain still runs (it is part of the stream's state)
    X, y = delayed_sum(200, delays=(2,), random_state=1)
    learner = type("W", (WindowedUORO,), {"window": 3})()
    kw = dict(hidden_size=5, learner=learner, cell=cell, update_every=40, learning_rate=3e-3,
              n_jobs=1, random_state=0)  # fmt: skip
    whole = RTRLRegressor(**kw).partial_fit(X, y)
    chunked = RTRLRegressor(**kw)
    for a, b in [(0, 4), (4, 5), (5, 44), (44, 121), (121, 200)]:
        chunked.partial_fit(X[a:b], y[a:b])
        ints = chunked._stream["learner"]["ints"][0]
        if b == 5:  # 5 steps: two steps filling; for Elman the first window's chain runs
            # one slot per step (at its third), other cells ran it when the window filled
            assert (ints[5], ints[7], ints[8]) == ((2, 3, 2) if cell == "elman" else (2, 0, 0))
    for name, value in whole.params_.items():
        np.testing.assert_array_equal(value, chunked.params_[name], err_msg=name)


@pytest.mark.parametrize(("index", "value"), [(6, 2), (7, 9), (8, 5), (9, 3)])
def test_a_corrupted_chain_is_refused(index, value):
    learner, pb, state, update = _open_window()
    state["ints"][0, 7], state["ints"][0, 8], state["ints"][0, 9] = 3, 2, 1  # a valid chain
    state["ints"][0, index] = value
    with pytest.raises(ValueError, match="inconsistent UORO chain state"):
        learner.flush_streams(pb.layout, state, update["acc"], w=pb.w)
