"""The estimators: pipelines, model selection, streaming, persistence, learning, divergence."""

import copy
import io
import pickle
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

import rtrl
from rtrl import DivergenceWarning, RTRLClassifier, RTRLRegressor
from rtrl.datasets import delayed_sum

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _stream(n=600, seed=0):
    return delayed_sum(n, delays=(2, 3), random_state=seed)


def _assert_same_model(a, b):
    pa, pb = a.params_, b.params_
    assert set(pa) == set(pb)
    for name in pa:
        np.testing.assert_array_equal(pa[name], pb[name], err_msg=name)


# ------------------------------------------------------------------ pipelines and search
def test_pipeline_with_scaler_learns():
    X, y = _stream(1500)
    X = 5.0 * X + 3.0  # the scaler matters
    pipe = make_pipeline(
        StandardScaler(), RTRLRegressor(hidden_size=12, learning_rate=5e-3, random_state=0)
    )
    pipe.fit(X[:1200], y[:1200])
    assert pipe.score(X[1200:], y[1200:]) > 0.8
    assert pipe.predict(X[:5]).shape == (5,)


def test_grid_search_with_time_series_split():
    X, y = _stream(900)
    search = GridSearchCV(
        RTRLRegressor(hidden_size=8, max_iter=3, random_state=0),
        {"learning_rate": [1e-4, 5e-3]},
        cv=TimeSeriesSplit(n_splits=3),
    )
    search.fit(X, y)
    assert search.best_params_ == {"learning_rate": 5e-3}
    assert search.best_score_ > 0.5
    assert isinstance(search.best_estimator_, RTRLRegressor)


def test_grid_search_slices_sequence_id_and_sample_weight_with_the_rows():
    X, y = _stream(400)
    seq = np.repeat(np.arange(8), 50)
    w = np.ones(400)
    search = GridSearchCV(
        RTRLRegressor(hidden_size=6, max_iter=2, random_state=0),
        {"hidden_size": [4, 6]},
        cv=TimeSeriesSplit(n_splits=2),
    )
    search.fit(X, y, sequence_id=seq, sample_weight=w)
    assert search.best_estimator_.n_features_in_ == 1


def test_clone_gives_an_unfitted_copy_with_the_same_parameters():
    est = RTRLClassifier(
        hidden_size=5,
        cell=rtrl.cells.Elman("relu", leak=0.5),
        learner=rtrl.learners.RTRL(block_width=8),
        random_state=3,
    )
    twin = clone(est)
    assert twin.get_params()["hidden_size"] == 5
    assert twin.get_params()["cell"] == est.cell and twin.cell is not est.cell
    with pytest.raises(NotFittedError):
        twin.predict(np.zeros((3, 2)))


# ---------------------------------------------------------------------------- streaming
@pytest.mark.parametrize("cell", ["elman", "gru", "lstm", "jordan"])
@pytest.mark.parametrize("update_every", [1, 4])
def test_chunked_partial_fit_is_bit_identical_to_one_call(cell, update_every):
    X, y = _stream(240, seed=1)
    kw = dict(
        hidden_size=6,
        cell=cell,
        update_every=update_every,
        learning_rate=3e-3,
        n_jobs=1,
        random_state=0,
    )
    whole = RTRLRegressor(**kw).partial_fit(X, y)
    rng = np.random.default_rng(update_every)
    for _ in range(3):
        cuts = np.sort(rng.choice(np.arange(1, 240), size=rng.integers(1, 6), replace=False))
        chunked = RTRLRegressor(**kw)
        for a, b in zip([0, *cuts], [*cuts, 240], strict=True):
            chunked.partial_fit(X[a:b], y[a:b])
        _assert_same_model(whole, chunked)
        np.testing.assert_array_equal(whole.predict(X), chunked.predict(X))
        np.testing.assert_array_equal(
            whole.predict(X[:7], reset=False), chunked.predict(X[:7], reset=False)
        )


def test_chunks_with_sequence_ids_continue_or_restart_like_the_concatenation():
    X, y = _stream(300, seed=2)
    seq = np.repeat([10, 11, 12], 100)
    kw = dict(hidden_size=5, learning_rate=3e-3, n_jobs=1, random_state=0)
    whole = RTRLRegressor(**kw).partial_fit(X, y, sequence_id=seq)
    chunked = RTRLRegressor(**kw)
    for a, b in [(0, 50), (50, 100), (100, 180), (180, 300)]:  # cuts inside and between
        chunked.partial_fit(X[a:b], y[a:b], sequence_id=seq[a:b])
    _assert_same_model(whole, chunked)
    # a new label at the start of a call starts a new sequence
    restarted = RTRLRegressor(**kw).partial_fit(X[:50], y[:50], sequence_id=seq[:50])
    restarted.partial_fit(X[50:100], y[50:100], sequence_id=np.full(50, 99))
    continued = RTRLRegressor(**kw).partial_fit(X[:100], y[:100], sequence_id=seq[:100])
    assert not np.array_equal(restarted.params_["weight_hh"], continued.params_["weight_hh"])


@pytest.mark.parametrize("protocol", ["pickle", "deepcopy"])
def test_resuming_from_a_copy_mid_stream_is_bit_identical(protocol):
    X, y = _stream(300, seed=3)
    kw = dict(
        hidden_size=6, cell="lstm", update_every=3, learning_rate=3e-3, n_jobs=1, random_state=0
    )
    never_stopped = RTRLRegressor(**kw)
    never_stopped.partial_fit(X[:130], y[:130]).partial_fit(X[130:], y[130:])
    first = RTRLRegressor(**kw).partial_fit(X[:130], y[:130])
    if protocol == "pickle":
        buffer = io.BytesIO()
        pickle.dump(first, buffer)
        del first
        resumed = pickle.loads(buffer.getvalue())
    else:
        resumed = copy.deepcopy(first)
    resumed.partial_fit(X[130:], y[130:])
    _assert_same_model(never_stopped, resumed)
    assert never_stopped.loss_curve_ == resumed.loss_curve_


def test_predict_is_pure_and_reset_false_starts_from_the_live_state():
    X, y = _stream(200, seed=4)
    # update_every=None: the weights change only at the end of the call, so the live state
    # is the forward pass of the initial weights over X
    est = RTRLRegressor(hidden_size=6, learning_rate=3e-2, update_every=None, random_state=0)
    est.partial_fit(X, y)
    before = pickle.dumps(est)
    a = est.predict(X[:20], reset=False)
    b = est.predict(X[:20], reset=False)
    np.testing.assert_array_equal(a, b)  # the live state is not advanced
    assert pickle.dumps(est) == before
    cell = rtrl.cells.Elman()
    layout = cell.layout(6, 1, 1)
    start = cell.init_params(6, 1, 1, random_state=np.random.RandomState(0))
    state = np.zeros(6)
    rtrl._core.forward_run(
        layout.to_kernel(), layout.pack(start, np.float64), X, state, np.empty((200, 1))
    )
    expected = np.empty((20, 1))
    rtrl._core.forward_run(
        layout.to_kernel(), layout.pack(est.params_, np.float64), X[:20], state, expected
    )
    np.testing.assert_allclose(a, expected[:, 0], rtol=1e-13, atol=1e-13)
    assert not np.allclose(est.predict(X[:20]), a)  # reset=True starts from zero
    # a single row works (Dask probes with one)
    assert est.predict(X[:1]).shape == (1,)


def test_reset_state_keeps_the_weights_and_restarts_the_stream():
    X, y = _stream(200, seed=5)
    kw = dict(hidden_size=5, learning_rate=3e-3, n_jobs=1, random_state=0)
    est = RTRLRegressor(**kw).partial_fit(X[:100], y[:100])
    weights = est.params_
    est.reset_state()
    _assert_same_model_params = est.params_
    for k in weights:
        np.testing.assert_array_equal(weights[k], _assert_same_model_params[k])
    np.testing.assert_array_equal(est.predict(X[:10], reset=False), est.predict(X[:10]))
    # continuing after a reset = a new sequence in one call
    est.partial_fit(X[100:], y[100:])
    one_call = RTRLRegressor(**kw).partial_fit(X, y, sequence_id=np.repeat([0, 1], 100))
    _assert_same_model(est, one_call)


def test_fit_restarts_and_runs_epochs():
    X, y = _stream(300, seed=6)
    est = RTRLRegressor(hidden_size=6, max_iter=4, tol=0.0, learning_rate=3e-3, random_state=0)
    est.fit(X, y)
    assert len(est.loss_curve_) == est.n_iter_ == 4
    assert est.t_ == 4 * 300
    assert est.loss_curve_[-1] < est.loss_curve_[0]
    first = est.params_
    est.fit(X, y)  # idempotent from the same random_state
    for k, v in first.items():
        np.testing.assert_array_equal(v, est.params_[k])


def test_fit_stops_early_when_the_loss_stalls():
    X, y = _stream(200, seed=7)
    est = RTRLRegressor(
        hidden_size=4, max_iter=100, tol=1e9, n_iter_no_change=2, random_state=0
    ).fit(X, y)
    # as in MLPRegressor: epoch 1 sets the best loss, epochs 2, 3, 4 do not improve by tol,
    # and training stops once that count exceeds n_iter_no_change
    assert est.n_iter_ == 4


def test_max_iter_reached_warns_convergence():
    X, y = _stream(100, seed=8)
    with pytest.warns(ConvergenceWarning, match="Maximum iterations"):
        RTRLRegressor(hidden_size=3, max_iter=2, tol=0.0, random_state=0).fit(X, y)


def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = _stream(100, seed=9)
    RTRLRegressor(hidden_size=3, max_iter=3, verbose=1, random_state=0).fit(X, y)
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("Iteration")]
    assert len(lines) == 3 and "loss = " in lines[0]


def test_partial_fit_loss_curve_has_one_entry_per_call():
    X, y = _stream(100, seed=10)
    est = RTRLRegressor(hidden_size=3, random_state=0)
    for a in range(0, 100, 25):
        est.partial_fit(X[a : a + 25], y[a : a + 25])
    assert len(est.loss_curve_) == est.n_iter_ == 4 and est.t_ == 100


def test_update_every_none_is_one_update_per_sequence():
    """With SGD and no momentum, one update per sequence is w - lr * mean step gradient."""
    X, y = _stream(60, seed=11)
    est = RTRLRegressor(
        hidden_size=4,
        optimizer="sgd",
        momentum=0.0,
        learning_rate=0.05,
        update_every=None,
        max_iter=1,
        shuffle=False,
        random_state=0,
    )
    start = rtrl.cells.Elman().init_params(4, 1, 1, random_state=np.random.RandomState(0))
    grads = rtrl.sequence_gradient(start, X, y, cell="elman")
    est.partial_fit(X, y)
    for name, g in grads.items():
        np.testing.assert_allclose(
            est.params_[name], start[name] - 0.05 * g / 60, rtol=1e-12, atol=1e-14
        )


@pytest.mark.parametrize("learner", ["rtrl", "bptt"])
def test_batch_size_trains_sequences_side_by_side(learner):
    """Two streams in one batch with update_every=None: one update from the mean of the two
    sequences' gradients (the mean over all their steps)."""
    X, y = _stream(80, seed=12)
    seq = np.repeat([0, 1], 40)
    est = RTRLRegressor(
        hidden_size=4,
        learner=learner,
        optimizer="sgd",
        momentum=0.0,
        learning_rate=0.05,
        update_every=None,
        batch_size=2,
        random_state=0,
    )
    start = rtrl.cells.Elman().init_params(4, 1, 1, random_state=np.random.RandomState(0))
    g0 = rtrl.sequence_gradient(start, X[:40], y[:40], cell="elman")
    g1 = rtrl.sequence_gradient(start, X[40:], y[40:], cell="elman")
    est.partial_fit(X, y, sequence_id=seq)
    for name in g0:
        expected = start[name] - 0.05 * (g0[name] + g1[name]) / 80
        np.testing.assert_allclose(est.params_[name], expected, rtol=1e-12, atol=1e-14)


def test_batch_size_handles_unequal_lengths_and_a_partial_last_group():
    X, y = _stream(230, seed=13)
    seq = np.repeat([0, 1, 2, 3, 4], [30, 70, 20, 60, 50])
    est = RTRLRegressor(
        hidden_size=5,
        batch_size=2,
        update_every=2,
        learning_rate=3e-3,
        random_state=0,
        max_iter=3,
        tol=0.0,
    )
    est.fit(X, y, sequence_id=seq)
    assert est.t_ == 3 * 230
    assert np.isfinite(est.predict(X, sequence_id=seq)).all()


def test_float32_models():
    X, y = _stream(300, seed=14)
    est = RTRLRegressor(hidden_size=8, dtype="float32", learning_rate=5e-3, random_state=0)
    est.fit(X, y)
    assert all(v.dtype == np.float32 for v in est.params_.values())
    assert est.predict(X).dtype == np.float32
    assert est.score(X, y) > 0.5


def test_density_masks_weight_hh_and_masked_weights_stay_zero():
    X, y = _stream(300, seed=15)
    est = RTRLRegressor(
        hidden_size=10, density=0.3, learning_rate=1e-2, random_state=0, max_iter=2
    ).fit(X, y)
    w = est.params_["weight_hh"]
    zero = w == 0
    assert 0.4 < zero.mean() < 0.95
    est.partial_fit(X, y)
    np.testing.assert_array_equal(est.params_["weight_hh"][zero], 0.0)
    assert not np.all(est.params_["weight_hh"][~zero] == w[~zero])  # the others learn


# ------------------------------------------------------------------------------ learning
def test_regressor_beats_a_linear_model_on_a_task_that_needs_memory():
    X, y = delayed_sum(6000, delays=(2, 5), random_state=0)
    train, test = slice(0, 5000), slice(5000, None)
    linear = LinearRegression().fit(X[train], y[train]).score(X[test], y[test])
    est = RTRLRegressor(hidden_size=24, learning_rate=3e-3, random_state=0)
    for a in range(0, 5000, 1000):
        est.partial_fit(X[a : a + 1000], y[a : a + 1000])
    score = est.score(X[test], y[test])
    assert linear < 0.05  # the current input says nothing about the target
    assert score > 0.9, score


def test_narma_regression_beats_linear():
    X, y = rtrl.datasets.narma(5000, order=5, random_state=0)
    linear = LinearRegression().fit(X[:4000], y[:4000]).score(X[4000:], y[4000:])
    est = make_pipeline(
        StandardScaler(),
        RTRLRegressor(hidden_size=16, cell="gru", learning_rate=5e-3, max_iter=3, random_state=0),
    )
    est.fit(X[:4000], (y[:4000] - 0.4) * 5)
    score = est.score(X[4000:], (y[4000:] - 0.4) * 5)
    assert score > linear + 0.3, (score, linear)


def test_sequence_classification_well_above_chance():
    """Each sequence's class is the sign of the sum of its inputs; only the last step of
    each sequence is weighted (the documented recipe for sequence labels)."""
    rng = np.random.default_rng(0)
    n_seq, length = 400, 10
    X = rng.normal(size=(n_seq * length, 1))
    seq = np.repeat(np.arange(n_seq), length)
    cls = X[:, 0].reshape(n_seq, length).sum(axis=1) > 0
    y = np.repeat(np.where(cls, "up", "down"), length)
    last = np.tile(np.arange(length) == length - 1, n_seq).astype(float)
    train = seq < 300
    clf = RTRLClassifier(
        hidden_size=10, learning_rate=3e-3, update_every=None, max_iter=30, random_state=0
    )
    clf.fit(X[train], y[train], sequence_id=seq[train], sample_weight=last[train])
    pred = clf.predict(X[~train], sequence_id=seq[~train])[last[~train] == 1]
    accuracy = (pred == y[~train][last[~train] == 1]).mean()
    # a per-step linear model sees only the last input: close to chance
    lin = LogisticRegression().fit(X[train][last[train] == 1], y[train][last[train] == 1])
    lin_acc = lin.score(X[~train][last[~train] == 1], y[~train][last[~train] == 1])
    assert accuracy >= 0.9, accuracy
    assert lin_acc < 0.75


def test_classifier_partial_fit_streams_with_declared_classes():
    X, y = _stream(600, seed=16)
    labels = np.where(y > 0, 1, 0)
    clf = RTRLClassifier(hidden_size=8, learning_rate=5e-3, random_state=0)
    for a in range(0, 600, 100):
        clf.partial_fit(X[a : a + 100], labels[a : a + 100], classes=[0, 1])
    proba = clf.predict_proba(X)
    assert proba.shape == (600, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, labels) > 0.8


def test_classifier_multiclass_and_string_labels():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(900, 2))
    lag = np.roll(X, 1, axis=0)
    y = np.array(["a", "b", "c"])[(lag[:, 0] > 0.5).astype(int) + (lag[:, 0] > -0.5)]
    clf = RTRLClassifier(hidden_size=8, learning_rate=1e-2, max_iter=3, random_state=0)
    clf.fit(X, y)
    assert list(clf.classes_) == ["a", "b", "c"]
    assert clf.score(X, y) > 0.8


# ---------------------------------------------------------------------------- divergence
def test_divergence_keeps_a_finite_model_and_warns():
    X, y = _stream(200, seed=17)
    est = RTRLRegressor(
        hidden_size=6,
        cell="elman",
        nonlinearity="relu",
        optimizer="sgd",
        momentum=0.0,
        learning_rate=1e3,
        random_state=0,
    )
    with pytest.warns(DivergenceWarning, match="row"):
        est.partial_fit(X * 1e3, y * 1e3)
    for name, v in est.params_.items():
        assert np.isfinite(v).all(), name


def test_a_non_finite_gradient_is_not_applied():
    X, y = _stream(50, seed=18)
    est = RTRLRegressor(hidden_size=4, learning_rate=1e-3, random_state=0).partial_fit(X, y)
    before = est.params_
    huge = np.full_like(X, 1e200)
    with pytest.warns(DivergenceWarning):
        est.partial_fit(huge, y * 1e200)
    for v in est.params_.values():
        assert np.isfinite(v).all()
    # a finite stream continues to train afterwards
    with warnings.catch_warnings():
        warnings.simplefilter("error", DivergenceWarning)
        est.partial_fit(X, y)
    assert any(not np.array_equal(before[k], est.params_[k]) for k in before)


def test_params_are_named_like_torch():
    X, y = _stream(50, seed=19)
    est = RTRLRegressor(hidden_size=4, cell="lstm", random_state=0).partial_fit(X, y)
    shapes = {k: v.shape for k, v in est.params_.items()}
    assert shapes == {
        "weight_ih": (16, 1),
        "bias_ih": (16,),
        "weight_hh": (16, 4),
        "bias_hh": (16,),
        "readout_weight": (1, 4),
        "readout_bias": (1,),
    }


def test_feature_names_are_recorded():
    pd = pytest.importorskip("pandas")
    X, y = _stream(50, seed=20)
    frame = pd.DataFrame(X, columns=["sensor"])
    est = RTRLRegressor(hidden_size=3, random_state=0).partial_fit(frame, y)
    assert list(est.feature_names_in_) == ["sensor"]


def test_pipeline_step_names_work_with_set_params():
    pipe = Pipeline([("scale", StandardScaler()), ("rnn", RTRLRegressor(hidden_size=3))])
    pipe.set_params(rnn__learning_rate=0.01, rnn__cell="gru")
    assert pipe.named_steps["rnn"].cell == "gru"


def test_predict_log_proba_is_the_log_of_predict_proba():
    rng = np.random.default_rng(0)
    X, labels = rng.normal(size=(60, 2)), rng.integers(0, 3, size=60)
    clf = rtrl.RTRLClassifier(hidden_size=4, max_iter=3, random_state=0).fit(X, labels)
    log_p = clf.predict_log_proba(X)
    np.testing.assert_allclose(np.exp(log_p), clf.predict_proba(X), rtol=1e-12)
    np.testing.assert_allclose(np.exp(log_p).sum(axis=1), 1.0, rtol=1e-12)
    assert np.array_equal(clf.classes_[log_p.argmax(axis=1)], clf.predict(X))
