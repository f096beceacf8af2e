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
