"""Every learner trains the estimators; learner states stream, pickle and mask like RTRL's."""

import itertools
import pickle

import numpy as np
import pytest
from conftest import WindowedUORO
from sklearn.linear_model import LinearRegression

import rtrl
from rtrl import RTRLRegressor
from rtrl.datasets import delayed_sum
from rtrl.learners import TBPTT

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

ONLINE = ["rtrl", "snap1", "snap2", "kf", "ok", "uoro", "tbptt"]


@pytest.fixture(scope="module")
def memory_task():
    X, y = delayed_sum(6000, delays=(2, 3), random_state=0)
    linear = LinearRegression().fit(X[:5000], y[:5000]).score(X[5000:], y[5000:])
    return X, y, linear


# R² on the held-out steps measured when this test was written (hidden_size=16, 5000 steps
# streamed in chunks of 500, Adam 1e-3, clip 1): rtrl 0.974, snap1 0.982, snap2 0.974,
# kf 0.965, ok 0.969, uoro 0.934, tbptt 0.931; the linear model on x_t scores about 0.
@pytest.mark.parametrize("learner", ONLINE)
def test_every_online_learner_beats_the_linear_baseline(memory_task, learner):
    X, y, linear = memory_task
    est = RTRLRegressor(
        hidden_size=16, learner=learner, learning_rate=1e-3, clip_norm=1.0, random_state=0
    )
    for a in range(0, 5000, 500):
        est.partial_fit(X[a : a + 500], y[a : a + 500])
    score = est.score(X[5000:], y[5000:])
    assert linear < 0.05
    assert score > 0.85, (learner, score)


def test_bptt_trains_on_sequences(memory_task):
    X, y, linear = memory_task
    seq = np.repeat(np.arange(100), 50)
    est = RTRLRegressor(
        hidden_size=16, learner="bptt", learning_rate=1e-2, max_iter=20, random_state=0
    )
    est.fit(X[:5000], y[:5000], sequence_id=seq)
    assert est.score(X[5000:], y[5000:]) > linear + 0.5


@pytest.mark.parametrize("learner", [*ONLINE, WindowedUORO()])
def test_chunked_partial_fit_is_bit_identical_for_every_learner(learner):
    X, y = delayed_sum(300, delays=(2,), random_state=1)
    kw = dict(
        hidden_size=5,
        learner=learner,
        cell="gru",
        update_every=3,
        learning_rate=3e-3,
        n_jobs=1,
        random_state=0,
    )
    whole = RTRLRegressor(**kw).partial_fit(X, y)
    chunked = RTRLRegressor(**kw)
    for a, b in [(0, 7), (7, 120), (120, 121), (121, 300)]:
        chunked.partial_fit(X[a:b], y[a:b])
    for name, value in whole.params_.items():
        np.testing.assert_array_equal(value, chunked.params_[name], err_msg=name)


@pytest.mark.parametrize("learner", [*ONLINE, TBPTT(truncation=4), WindowedUORO()])
def test_calls_cut_at_sequence_ends_are_bit_identical_to_one_call(learner):
    # a call that ends with its last sequence does not know the sequence is over; the next
    # call's new label closes it (TBPTT once dropped the window it still held)
    X, y = delayed_sum(90, delays=(2,), random_state=3)
    seq = np.repeat([5, 3, 7], 30)
    kw = dict(hidden_size=4, learner=learner, update_every=1, learning_rate=1e-2, n_jobs=1,
              random_state=0)  # fmt: skip
    whole = RTRLRegressor(**kw).partial_fit(X, y, sequence_id=seq)
    for cuts in ([0, 30, 90], [0, 30, 60, 90], [0, 13, 60, 90]):
        chunked = RTRLRegressor(**kw)
        for a, b in itertools.pairwise(cuts):
            chunked.partial_fit(X[a:b], y[a:b], sequence_id=seq[a:b])
        for name, value in whole.params_.items():
            np.testing.assert_array_equal(value, chunked.params_[name], err_msg=f"{cuts} {name}")


@pytest.mark.parametrize("learner", [*ONLINE, WindowedUORO()])
def test_pickling_mid_stream_resumes_exactly_for_every_learner(learner):
    X, y = delayed_sum(200, delays=(2,), random_state=2)
    kw = dict(
        hidden_size=5, learner=learner, cell="lstm", learning_rate=3e-3, n_jobs=1, random_state=0
    )
    never = RTRLRegressor(**kw).partial_fit(X[:90], y[:90]).partial_fit(X[90:], y[90:])
    resumed = pickle.loads(pickle.dumps(RTRLRegressor(**kw).partial_fit(X[:90], y[:90])))
    resumed.partial_fit(X[90:], y[90:])
    for name, value in never.params_.items():
        np.testing.assert_array_equal(value, resumed.params_[name], err_msg=name)


@pytest.mark.parametrize("learner", ["uoro", "kf", "ok"])
def test_random_learners_are_reproducible(learner):
    X, y = delayed_sum(150, random_state=3)
    a = RTRLRegressor(hidden_size=5, learner=learner, random_state=7).partial_fit(X, y)
    b = RTRLRegressor(hidden_size=5, learner=learner, random_state=7).partial_fit(X, y)
    c = RTRLRegressor(hidden_size=5, learner=learner, random_state=8).partial_fit(X, y)
    np.testing.assert_array_equal(a.params_["weight_hh"], b.params_["weight_hh"])
    assert not np.array_equal(a.params_["weight_hh"], c.params_["weight_hh"])


@pytest.mark.parametrize("learner", [*ONLINE, WindowedUORO()])
@pytest.mark.parametrize("cell", ["elman", "gru", "lstm"])
def test_masked_weights_stay_exactly_zero(learner, cell):
    X, y = delayed_sum(300, random_state=4)
    est = RTRLRegressor(
        hidden_size=8, cell=cell, learner=learner, density=0.3, learning_rate=1e-2, random_state=0
    ).partial_fit(X, y)
    w = est.params_["weight_hh"]
    mask = est.weight_hh_mask_
    assert mask.dtype == bool and mask.shape == w.shape
    assert 0.1 < mask.mean() < 0.6
    np.testing.assert_array_equal(w[~mask], 0.0)
    assert np.all(w[mask] != 0)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dense_networks_have_no_mask():
    X, y = delayed_sum(20, random_state=4)
    assert RTRLRegressor(hidden_size=3, random_state=0).fit(X, y).weight_hh_mask_ is None


# n = 40: a few hundred stored columns per block, so the kernel's chunked gradient read-out
# (256 columns at a time) and its four-rows-per-pass product see full blocks
@pytest.mark.parametrize(("n", "density"), [(9, 0.2), (40, 0.3)])
@pytest.mark.parametrize("cell", ["elman", "gru", "lstm"])
def test_exact_rtrl_on_a_sparse_network_equals_bptt(cell, n, density):
    cell = rtrl.cells.make_cell(cell)
    rng = np.random.default_rng(5)
    shapes = cell.layout(n, 3, 2).shapes()
    params = {k: rng.uniform(-0.6, 0.6, size=s) for k, s in shapes.items()}
    mask = rng.random(shapes["weight_hh"]) < density
    params["weight_hh"] *= mask
    X, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    kw = dict(cell=cell, weight_hh_mask=mask)
    bptt = rtrl.sequence_gradient(params, X, y, learner="bptt", **kw)
    for learner in (rtrl.learners.RTRL(), rtrl.learners.RTRL(block_width=5)):
        for n_jobs in (1, 2):
            sparse = rtrl.sequence_gradient(params, X, y, learner=learner, n_jobs=n_jobs, **kw)
            for name, g in bptt.items():
                scale = np.abs(g).max()
                assert np.abs(sparse[name] - g).max() <= 1e-10 * scale, name
    np.testing.assert_array_equal(bptt["weight_hh"][~mask], 0.0)


def test_sparse_rtrl_stores_no_columns_for_masked_weights():
    cell = rtrl.cells.Elman()
    layout = cell.layout(20, 4, 1)
    mask = np.random.default_rng(0).random((20, 20)) < 0.1
    learner = rtrl.learners.RTRL()
    S, P = 20, 20 * (4 + 20 + 2)
    stored = P - int((~mask).sum())
    width = rtrl.learners.influence_block_width(S, stored, 8)
    # the influence columns and two integers (the column shift, steps in an open window)
    assert learner.state_bytes(layout.with_mask(mask), 8, 1) == S * (stored + width) * 8 + 16
    assert learner.state_bytes(layout.with_mask(mask), 8, 1) < learner.state_bytes(layout, 8, 1)


def test_gradient_alignment_reports_every_learner():
    cell = rtrl.cells.GRU()
    params = cell.init_params(6, 2, 1, random_state=0)
    X = np.random.default_rng(0).normal(size=(60, 2))
    y = np.roll(X[:, 0], 2)
    report = rtrl.gradient_alignment(
        params,
        X,
        y,
        cell=cell,
        learners=["rtrl", "snap1", "tbptt", "uoro", "kf", "ok"],
        n_seeds=8,
        random_state=0,
    )
    assert set(report) == {"rtrl", "snap1", "tbptt", "uoro", "kf", "ok"}
    assert report["rtrl"]["cosine"] == pytest.approx(1.0)
    assert report["rtrl"]["relative_bias"] < 1e-12
    assert report["snap1"]["n_seeds"] == 1 and report["snap1"]["relative_variance"] == 0.0
    assert report["uoro"]["n_seeds"] == 8 and report["uoro"]["relative_variance"] > 0
    assert report["ok"]["relative_variance"] < report["uoro"]["relative_variance"]
    for entry in report.values():
        assert -1.0 <= entry["cosine"] <= 1.0
