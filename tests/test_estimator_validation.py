"""Bad input to the estimators raises ValueError/TypeError/MemoryError naming the problem."""

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import rtrl
from rtrl import RTRLClassifier, RTRLRegressor

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
Y = RNG.normal(size=40)
LABELS = RNG.integers(0, 3, size=40)


def _with_nan(a, where=(3, 1)):
    a = a.astype(float).copy()
    a[where] = np.nan
    return a


def _fitted_regressor():
    return RTRLRegressor(hidden_size=4, random_state=0).partial_fit(X, Y)


def _fitted_classifier():
    return RTRLClassifier(hidden_size=4, random_state=0).partial_fit(X, LABELS, classes=[0, 1, 2])


# (id, call, exception, message fragment); each call gets a fresh estimator
CASES = [
    ("X-nan", lambda: RTRLRegressor().fit(_with_nan(X), Y), ValueError, "NaN"),
    ("X-inf", lambda: RTRLRegressor().fit(np.where(X > 1, np.inf, X), Y), ValueError, "infinity"),
    ("X-1d", lambda: RTRLRegressor().fit(X[:, 0], Y), ValueError, "2D array"),
    ("X-3d", lambda: RTRLRegressor().fit(X[None], Y), ValueError, "dim"),
    (
        "X-empty",
        lambda: RTRLRegressor().fit(np.zeros((0, 3)), np.zeros(0)),
        ValueError,
        "0 sample",
    ),
    (
        "X-strings",
        lambda: RTRLRegressor().fit(np.full((40, 3), "a"), Y),
        ValueError,
        "could not convert",
    ),
    (
        "X-object",
        lambda: RTRLRegressor().fit(np.array([[{}]] * 40), Y),
        TypeError,
        "must be a string|number",
    ),
    (
        "X-sparse",
        lambda: RTRLRegressor().fit(__import__("scipy").sparse.csr_matrix(X), Y),
        TypeError,
        "dense data is required",
    ),
    ("y-length", lambda: RTRLRegressor().fit(X, Y[:-1]), ValueError, "inconsistent numbers"),
    ("y-nan", lambda: RTRLRegressor().fit(X, _with_nan(Y, 4)), ValueError, "NaN"),
    (
        "y-strings-regressor",
        lambda: RTRLRegressor().fit(X, np.full(40, "x")),
        ValueError,
        "could not convert|numeric",
    ),
    (
        "y-continuous-classifier",
        lambda: RTRLClassifier().fit(X, Y),
        ValueError,
        "Unknown label type",
    ),
    (
        "w-length",
        lambda: RTRLRegressor().fit(X, Y, sample_weight=np.ones(39)),
        ValueError,
        "sample_weight",
    ),
    (
        "w-negative",
        lambda: RTRLRegressor().fit(X, Y, sample_weight=-np.ones(40)),
        ValueError,
        "[Nn]egative",
    ),
    (
        "w-nan",
        lambda: RTRLRegressor().fit(X, Y, sample_weight=_with_nan(np.ones(40), 2)),
        ValueError,
        "NaN",
    ),
    (
        "sequence_id-length",
        lambda: RTRLRegressor().fit(X, Y, sequence_id=np.zeros(39)),
        ValueError,
        "sequence_id",
    ),
    (
        "sequence_id-2d",
        lambda: RTRLRegressor().fit(X, Y, sequence_id=np.zeros((40, 2))),
        ValueError,
        "sequence_id",
    ),
    (
        "sequence_id-nan",
        lambda: RTRLRegressor().fit(X, Y, sequence_id=np.full(40, np.nan)),
        ValueError,
        "sequence_id contains NaN",
    ),
    (
        "partial_fit-n_features",
        lambda: _fitted_regressor().partial_fit(X[:, :2], Y),
        ValueError,
        "features",
    ),
    ("predict-n_features", lambda: _fitted_regressor().predict(X[:, :2]), ValueError, "features"),
    (
        "partial_fit-n_outputs",
        lambda: _fitted_regressor().partial_fit(X, np.c_[Y, Y]),
        ValueError,
        "outputs",
    ),
    ("predict-unfitted", lambda: RTRLRegressor().predict(X), NotFittedError, "not fitted"),
    (
        "classes-missing",
        lambda: RTRLClassifier().partial_fit(X, LABELS),
        ValueError,
        "classes must be passed",
    ),
    (
        "classes-changed",
        lambda: _fitted_classifier().partial_fit(X, LABELS, classes=[0, 1]),
        ValueError,
        "not the same",
    ),
    (
        "labels-unseen",
        lambda: _fitted_classifier().partial_fit(X, LABELS + 5),
        ValueError,
        "not in classes_",
    ),
    (
        "labels-unseen-first-call",
        lambda: RTRLClassifier().partial_fit(X, LABELS, classes=[0]),
        ValueError,
        "at least 2 classes|not in classes_",
    ),
    ("one-class", lambda: RTRLClassifier().fit(X, np.zeros(40)), ValueError, "2 classes"),
    ("hidden_size-0", lambda: RTRLRegressor(hidden_size=0).fit(X, Y), ValueError, "hidden_size"),
    (
        "hidden_size-float",
        lambda: RTRLRegressor(hidden_size=2.5).fit(X, Y),
        ValueError,
        "hidden_size",
    ),
    ("cell-unknown", lambda: RTRLRegressor(cell="hopfield").fit(X, Y), ValueError, "cell"),
    (
        "nonlinearity",
        lambda: RTRLRegressor(nonlinearity="sigmoid").fit(X, Y),
        ValueError,
        "nonlinearity",
    ),
    (
        "nonlinearity-gru",
        lambda: RTRLRegressor(cell="gru", nonlinearity="relu").fit(X, Y),
        ValueError,
        "nonlinearity",
    ),
    ("learner-unknown", lambda: RTRLRegressor(learner="magic").fit(X, Y), ValueError, "learner"),
    ("density-0", lambda: RTRLRegressor(density=0.0).fit(X, Y), ValueError, "density"),
    ("density-above-1", lambda: RTRLRegressor(density=1.5).fit(X, Y), ValueError, "density"),
    (
        "density-jordan",
        lambda: RTRLRegressor(cell="jordan", density=0.5).fit(X, Y),
        ValueError,
        "weight_hh",
    ),
    ("optimizer", lambda: RTRLRegressor(optimizer="rmsprop").fit(X, Y), ValueError, "optimizer"),
    (
        "learning_rate-0",
        lambda: RTRLRegressor(learning_rate=0).fit(X, Y),
        ValueError,
        "learning_rate",
    ),
    (
        "learning_rate-negative",
        lambda: RTRLRegressor(learning_rate=-1.0).fit(X, Y),
        ValueError,
        "learning_rate",
    ),
    ("momentum-1", lambda: RTRLRegressor(momentum=1.0).fit(X, Y), ValueError, "momentum"),
    ("clip_norm-0", lambda: RTRLRegressor(clip_norm=0.0).fit(X, Y), ValueError, "clip_norm"),
    (
        "update_every-0",
        lambda: RTRLRegressor(update_every=0).fit(X, Y),
        ValueError,
        "update_every",
    ),
    ("max_iter-0", lambda: RTRLRegressor(max_iter=0).fit(X, Y), ValueError, "max_iter"),
    ("batch_size-0", lambda: RTRLRegressor(batch_size=0).fit(X, Y), ValueError, "batch_size"),
    ("alpha-negative", lambda: RTRLRegressor(alpha=-1.0).fit(X, Y), ValueError, "alpha"),
    ("tol-negative", lambda: RTRLRegressor(tol=-1.0).fit(X, Y), ValueError, "tol"),
    (
        "n_iter_no_change-0",
        lambda: RTRLRegressor(n_iter_no_change=0).fit(X, Y),
        ValueError,
        "n_iter_no_change",
    ),
    ("shuffle", lambda: RTRLRegressor(shuffle="yes").fit(X, Y), ValueError, "shuffle"),
    ("dtype", lambda: RTRLRegressor(dtype="float16").fit(X, Y), ValueError, "dtype"),
    ("n_jobs-0", lambda: RTRLRegressor(n_jobs=0).fit(X, Y), ValueError, "n_jobs"),
    ("n_jobs-str", lambda: RTRLRegressor(n_jobs="2").fit(X, Y), ValueError, "n_jobs"),
    (
        "random_state",
        lambda: RTRLRegressor(random_state="seed").fit(X, Y),
        ValueError,
        "random_state",
    ),
    ("verbose", lambda: RTRLRegressor(verbose="loud").fit(X, Y), ValueError, "verbose"),
    (
        "changed-hidden_size",
        lambda: _fitted_regressor().set_params(hidden_size=5).partial_fit(X, Y),
        ValueError,
        "changed",
    ),
    (
        "influence-too-big",
        lambda: RTRLRegressor(hidden_size=2500).fit(X, Y),
        MemoryError,
        "needs .* for its state",
    ),
]


@pytest.mark.parametrize(
    ("call", "exc", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_named(call, exc, fragment):
    with pytest.raises(exc, match=fragment):
        call()


def test_enough_cases():
    assert len(CASES) >= 30


def test_memory_error_names_the_cheaper_learner():
    with pytest.raises(rtrl.InfluenceMemoryError, match="'bptt'"):
        RTRLRegressor(hidden_size=2500, batch_size=1).fit(X, Y)


def test_a_failed_partial_fit_leaves_the_model_unchanged():
    est = _fitted_regressor()
    before = {k: v.copy() for k, v in est.params_.items()}
    curve = list(est.loss_curve_)
    with pytest.raises(ValueError):
        est.partial_fit(_with_nan(X), Y)
    with pytest.raises(ValueError):
        est.partial_fit(X, Y, sequence_id=np.zeros(3))
    for k, v in est.params_.items():
        np.testing.assert_array_equal(v, before[k])
    assert est.loss_curve_ == curve


SWITCHES = [
    ("learner", "rtrl", "uoro"),
    ("learner", "rtrl", "kf"),
    ("learner", "tbptt", "uoro"),
    ("learner", "snap1", "ok"),
    ("learner", "snap1", "snap2"),
    ("learner", "bptt", "rtrl"),
    ("update_every", 1, 8),
    ("update_every", 8, None),
    ("density", 1.0, 0.25),
]


@pytest.mark.parametrize(
    ("name", "old", "new"), SWITCHES, ids=[f"{n}-{a}-{b}" for n, a, b in SWITCHES]
)
def test_partial_fit_refuses_a_changed_learner_schedule_or_density(name, old, new):
    # the carried learner state belongs to the learner (and RTRL's schedule, the mask) it was
    # made for; handing it to another kernel once corrupted the heap
    rng = np.random.default_rng(0)
    Xs, ys = rng.normal(size=(40, 2)), rng.normal(size=40)
    est = RTRLRegressor(hidden_size=4, random_state=0, **{name: old}).partial_fit(Xs[:20], ys[:20])
    w = est._w.copy()
    est.set_params(**{name: new})
    with pytest.raises(ValueError, match=f"{name} changed since the model was fitted"):
        est.partial_fit(Xs[20:], ys[20:])
    np.testing.assert_array_equal(est._w, w)
    est.set_params(**{name: old}).partial_fit(Xs[20:], ys[20:])  # and it goes on as before
    assert np.all(np.isfinite(est.predict(Xs)))


def test_a_learner_refuses_the_state_of_another():
    from rtrl.learners import KF, RTRL, UORO, new_update_state

    layout = rtrl.cells.Elman().layout(4, 2, 1)
    w = layout.pack(rtrl.cells.Elman().init_params(4, 2, 1, random_state=0), np.float64)
    one = (np.array([0], np.intp), np.array([5], np.intp), np.array([1], np.intp))
    for made_by, used_by in ((RTRL(), UORO()), (UORO(), KF()), (KF(), RTRL())):
        state = made_by.init_state(layout, np.float64)
        with pytest.raises(ValueError, match="inconsistent learner state"):
            used_by.train(
                layout, w, np.zeros((5, 2)), np.zeros((5, 1)), np.empty(0, np.intp),
                np.ones(5), *one, np.zeros((1, 4)), state,
                new_update_state(layout.n_params, np.float64), -1, 0, 1,
            )  # fmt: skip


@pytest.mark.parametrize("learner", ["rtrl", "uoro", "snap1", "tbptt", "bptt"])
def test_arrays_of_the_wrong_size_in_a_model_are_refused_not_crashed(learner):
    # what a hand-edited or corrupted saved model carries: the kernels run unchecked, so the
    # sizes are checked before they start
    rng = np.random.default_rng(1)
    Xs, ys = rng.normal(size=(30, 2)), rng.normal(size=30)
    est = RTRLRegressor(hidden_size=4, learner=learner, random_state=0).partial_fit(Xs, ys)
    for key in ("acc", "m", "v", "pmask"):
        saved = est._update[key]
        est._update[key] = saved[:1].copy()
        with pytest.raises(ValueError, match="entries for this network"):
            est.partial_fit(Xs, ys)
        est._update[key] = saved
    w = est._w
    est._w = w[:1].copy()
    with pytest.raises(ValueError, match="entries"):
        est.predict(Xs)
    est._w = w
    if learner != "bptt":
        values = est._stream["learner"]["values"]
        est._stream["learner"]["values"] = values[:, :1].copy()
        with pytest.raises(ValueError, match="inconsistent"):
            est.partial_fit(Xs, ys)
        est._stream["learner"]["values"] = values
    est.partial_fit(Xs, ys)  # the model itself is intact
    assert np.all(np.isfinite(est.predict(Xs)))


def test_a_chunk_without_weight_still_streams():
    # the README's recipe (weight the last step of each sequence) cut into chunks: a chunk
    # with no last step has all-zero weights, and chunking must not change the result
    rng = np.random.default_rng(0)
    Xs, ys = rng.normal(size=(40, 2)), rng.normal(size=40)
    seq = np.repeat(np.arange(4), 10)
    w = np.zeros(40)
    w[9::10] = 1.0
    kw = dict(hidden_size=4, update_every=3, random_state=0)
    one = RTRLRegressor(**kw).partial_fit(Xs, ys, sequence_id=seq, sample_weight=w)
    chunked = RTRLRegressor(**kw)
    for a in range(0, 40, 5):
        chunked.partial_fit(Xs[a : a + 5], ys[a : a + 5], sequence_id=seq[a : a + 5],
                            sample_weight=w[a : a + 5])  # fmt: skip
    np.testing.assert_array_equal(chunked._w, one._w)
    with pytest.raises(ValueError, match="non-zero"):  # fit itself needs some weight
        RTRLRegressor(**kw).fit(Xs, ys, sample_weight=np.zeros(40))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_object_sequence_ids_work_like_strings():
    rng = np.random.default_rng(0)
    Xs, ys = rng.normal(size=(40, 1)), rng.normal(size=40)
    ids = np.array(["s1"] * 20 + ["s2"] * 20, dtype=object)
    a = RTRLRegressor(hidden_size=3, max_iter=2, random_state=0).fit(Xs, ys, sequence_id=ids)
    b = RTRLRegressor(hidden_size=3, max_iter=2, random_state=0)
    b.fit(Xs, ys, sequence_id=ids.astype(str))
    np.testing.assert_array_equal(a._w, b._w)
    mixed = np.array([1] * 20 + ["a"] * 19 + [None], dtype=object)
    RTRLRegressor(hidden_size=3, max_iter=1).fit(Xs, ys, sequence_id=mixed)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_a_failed_fit_leaves_a_fitted_model_as_it_was():
    import pandas as pd

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"u": rng.normal(size=30), "v": rng.normal(size=30)})
    labels = (df["u"] > 0).to_numpy(int)
    clf = RTRLClassifier(hidden_size=3, max_iter=2, random_state=0).fit(df, labels)
    state = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(clf).items()}
    expected = clf.predict(df)
    bad_calls = [
        lambda: clf.fit(np.ones((5, 3)), np.zeros(5, int)),  # one class, other width
        lambda: clf.fit(np.ones((5, 3)), np.linspace(0, 1, 5)),  # continuous labels
        lambda: clf.fit(df, labels, sample_weight=-np.ones(30)),
        lambda: clf.fit(df, labels, sequence_id=np.zeros(3)),
    ]
    for call in bad_calls:
        with pytest.raises(ValueError):
            call()
        assert list(clf.feature_names_in_) == ["u", "v"] and clf.n_features_in_ == 2
        np.testing.assert_array_equal(clf.predict(df), expected)
    assert set(vars(clf)) == set(state)


def test_values_that_overflow_float32_are_refused():
    Xs, ys = np.ones((10, 2)), np.ones(10)
    Xs[3, 0] = 1e39
    est = RTRLRegressor(hidden_size=3, dtype="float32", max_iter=1)
    with pytest.raises(ValueError, match="X contains values too large for float32"):
        est.fit(Xs, ys)
    with pytest.raises(ValueError, match="y contains values too large"):
        est.fit(np.ones((10, 2)), np.full(10, 1e39))
    with pytest.raises(ValueError, match="too large"):
        est.partial_fit(Xs, ys)


def test_a_pass_that_diverged_throughout_reports_no_loss():
    import warnings

    rng = np.random.default_rng(0)
    Xs, ys = rng.normal(size=(30, 2)) * 1e3, rng.normal(size=30) * 1e3
    est = RTRLRegressor(hidden_size=4, nonlinearity="relu", optimizer="sgd",
                        learning_rate=1e3, random_state=0)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(6):
            est.partial_fit(Xs, ys)
    assert any(np.isnan(est.loss_curve_)), est.loss_curve_  # not a perfect-looking 0.0
    assert 0.0 not in est.loss_curve_


@pytest.mark.parametrize(("learner", "value", "message"), [
    ("rtrl", 3, "influence shift 3"),
    ("snap2", 1, "influence shift 1"),
    ("tbptt", 20, "steps in a window of 20"),
    ("tbptt", -1, "steps in a window"),
])  # fmt: skip
def test_corrupted_stream_integers_are_refused_not_crashed(learner, value, message):
    # the integers that index the learner state: J's column shift, the open window's length
    rng = np.random.default_rng(2)
    Xs, ys = rng.normal(size=(30, 2)), rng.normal(size=30)
    est = RTRLRegressor(hidden_size=4, learner=learner, random_state=0).partial_fit(Xs[:7], ys[:7])
    ints = est._stream["learner"]["ints"]
    saved = ints.copy()
    ints[0, 0] = value
    with pytest.raises(ValueError, match=message):
        est.partial_fit(Xs[7:], ys[7:])
    ints[:] = saved
    est.partial_fit(Xs[7:], ys[7:])


def test_a_corrupted_stored_label_is_refused():
    rng = np.random.default_rng(3)
    Xs, labels = rng.normal(size=(30, 2)), rng.integers(0, 3, size=30)
    clf = RTRLClassifier(hidden_size=4, learner="tbptt", random_state=0)
    clf.partial_fit(Xs[:7], labels[:7], classes=[0, 1, 2])
    values = clf._stream["learner"]["values"]
    k, S, m, n_out = 20, 4, 2, 3
    values[0, (k + 1) * S + k * (m + n_out + 1)] = 1e9  # the open window's first label
    with pytest.raises(ValueError, match="stored label"):
        clf.partial_fit(Xs[7:], labels[7:])
