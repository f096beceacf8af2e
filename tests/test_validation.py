"""Bad input to sequence_gradient raises ValueError/TypeError naming the problem."""

import numpy as np
import pytest
from conftest import make_problem

import rtrl

CELL = rtrl.cells.Elman()
PARAMS, X, Y, W = make_problem(CELL, 4, 3, 2, T=10, seed=0)


def _with(**changes):
    params = {k: v.copy() for k, v in PARAMS.items()}
    for k, v in changes.items():
        if v is None:
            del params[k]
        else:
            params[k] = v
    return params


def _nan_X():
    X = X_.copy()
    X[3, 1] = np.nan
    return X


X_ = X
CASES = [
    # (id, kwargs overrides, exception, message fragment)
    ("X-nan", dict(X=_nan_X()), ValueError, "NaN"),
    ("X-inf", dict(X=np.where(X_ > 1, np.inf, X_)), ValueError, "infinity"),
    ("X-1d", dict(X=X_[:, 0]), ValueError, "2D"),
    ("X-3d", dict(X=X_[None]), ValueError, "dim"),
    ("X-empty", dict(X=np.zeros((0, 3)), y=np.zeros((0, 2))), ValueError, "0 sample"),
    ("X-strings", dict(X=np.full((10, 3), "a")), ValueError, "X"),
    ("X-features", dict(X=X_[:, :2]), ValueError, "features"),
    ("y-length", dict(y=Y[:-1]), ValueError, "steps"),
    ("y-outputs", dict(y=Y[:, :1]), ValueError, "outputs"),
    ("y-nan", dict(y=np.full_like(Y, np.nan)), ValueError, "NaN"),
    ("y-3d", dict(y=Y[None]), ValueError, "1-D or 2-D"),
    ("y-strings", dict(y=np.full(Y.shape, "x")), ValueError, "numeric"),
    ("w-length", dict(sample_weight=W[:-2]), ValueError, "sample_weight"),
    ("w-negative", dict(sample_weight=-W - 1), ValueError, "non-negative"),
    ("w-nan", dict(sample_weight=np.full(10, np.nan)), ValueError, "NaN"),
    ("w-2d", dict(sample_weight=W[:, None]), ValueError, "sample_weight"),
    ("cell-unknown", dict(cell="hopfield"), ValueError, "unknown cell"),
    ("cell-type", dict(cell=3), TypeError, "cell"),
    ("learner-unknown", dict(learner="magic"), ValueError, "unknown learner"),
    ("learner-type", dict(learner=1.5), TypeError, "learner"),
    ("loss-unknown", dict(loss="hinge"), ValueError, "unknown loss"),
    ("loss-type", dict(loss=None), TypeError, "loss"),
    ("param-missing", dict(params=_with(weight_hh=None)), ValueError, "weight_hh"),
    (
        "param-missing-readout",
        dict(params=_with(readout_weight=None)),
        ValueError,
        "readout_weight",
    ),
    ("param-extra", dict(params=_with(weight_xx=np.zeros(3))), ValueError, "weight_xx"),
    ("param-shape", dict(params=_with(weight_hh=np.zeros((4, 5)))), ValueError, "weight_hh"),
    ("param-bias-shape", dict(params=_with(bias_ih=np.zeros(5))), ValueError, "bias_ih"),
    ("param-1d-weight", dict(params=_with(weight_ih=np.zeros(12))), ValueError, "2-D"),
    ("param-nan", dict(params=_with(bias_hh=np.full(4, np.nan))), ValueError, "bias_hh"),
    ("param-strings", dict(params=_with(bias_hh=np.array(list("abcd")))), TypeError, "bias_hh"),
    ("params-not-mapping", dict(params=[1, 2]), TypeError, "mapping"),
    ("dtype", dict(dtype="int32"), ValueError, "dtype"),
    ("n_jobs-zero", dict(n_jobs=0), ValueError, "n_jobs"),
    ("n_jobs-type", dict(n_jobs="two"), TypeError, "n_jobs"),
    (
        "nonlinearity",
        dict(cell="elman", params=PARAMS, _cell=("elman", "sigmoid")),
        ValueError,
        "nonlinearity",
    ),
    ("leak-range", dict(_cell=("leak", 1.5)), ValueError, "leak"),
    ("leak-zero", dict(_cell=("leak", 0.0)), ValueError, "leak"),
    ("ce-labels-range", dict(loss="cross_entropy", y=np.arange(10)), ValueError, "class"),
    ("ce-labels-float", dict(loss="cross_entropy", y=np.full(10, 0.5)), ValueError, "integer"),
    ("ce-labels-2d", dict(loss="cross_entropy", y=np.zeros((10, 2), int)), ValueError, "1-D"),
    (
        "ce-one-output",
        dict(
            loss="cross_entropy",
            y=np.zeros(10, int),
            params=make_problem(CELL, 4, 3, 1, T=10, seed=0)[0],
        ),
        ValueError,
        "at least 2",
    ),
]


@pytest.mark.parametrize(
    ("overrides", "exc", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_is_named(overrides, exc, fragment):
    kwargs = dict(params=PARAMS, X=X_, y=Y, cell=CELL, sample_weight=W)
    overrides = dict(overrides)
    special = overrides.pop("_cell", None)
    kwargs.update(overrides)
    with pytest.raises(exc, match=fragment) as info:
        if special is not None:
            what, value = special
            if what == "leak":
                rtrl.cells.Elman(leak=value)
            else:
                rtrl.cells.Elman(nonlinearity=value)
        params, X, y = kwargs.pop("params"), kwargs.pop("X"), kwargs.pop("y")
        rtrl.sequence_gradient(params, X, y, **kwargs)
    assert isinstance(info.value, (ValueError, TypeError))


def test_single_step_is_accepted():
    g = rtrl.sequence_gradient(PARAMS, X_[:1], Y[:1], cell=CELL)
    assert g["weight_hh"].shape == (4, 4)
    # one step from the zero state: W_hh only multiplies h_0 = 0
    np.testing.assert_array_equal(g["weight_hh"], 0.0)


def test_datasets_validate_their_arguments():
    import numpy as np

    from rtrl.datasets import delayed_sum, narma

    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="order"):
            narma(50, order=bad)
    with pytest.raises(ValueError, match="delays"):
        delayed_sum(20, delays=(2.7,))
    with pytest.raises(ValueError, match="n_features"):
        delayed_sum(20, n_features=0)
    # high orders stay bounded (the plain NARMA-20 recursion runs to infinity)
    for order in (15, 20, 30):
        _, y = narma(3000, order=order, random_state=0)
        assert np.all(np.isfinite(y)) and np.abs(y).max() < 1, order
    _, y10 = narma(500, order=10, random_state=0)  # order 10 keeps the classic form
    assert np.abs(y10).max() > 0 and np.all(np.isfinite(y10))


def test_gradient_alignment_keeps_learners_that_share_a_name():
    import numpy as np

    import rtrl

    cell = rtrl.Elman()
    params = cell.init_params(3, 2, 1, random_state=0)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(12, 2)), rng.normal(size=12)
    report = rtrl.gradient_alignment(
        params, X, y, cell=cell, learners=[rtrl.TBPTT(truncation=2), rtrl.TBPTT(truncation=10)]
    )
    assert set(report) == {"TBPTT(truncation=2)", "TBPTT(truncation=10)"}
    assert report["TBPTT(truncation=10)"]["cosine"] > report["TBPTT(truncation=2)"]["cosine"]
    assert set(rtrl.gradient_alignment(params, X, y, cell=cell, learners="snap2")) == {"snap2"}
    with pytest.raises(ValueError, match="listed twice"):
        rtrl.gradient_alignment(params, X, y, cell=cell, learners=["kf", "kf"])


def test_a_mask_that_is_not_boolean_is_refused():
    import numpy as np

    import rtrl

    cell = rtrl.Elman()
    params = cell.init_params(3, 2, 1, random_state=0)
    X, y = np.ones((5, 2)), np.ones(5)
    for bad in (np.full((3, 3), 0.5), np.full((3, 3), np.nan)):
        with pytest.raises(ValueError, match="weight_hh_mask must be boolean"):
            rtrl.sequence_gradient(params, X, y, cell=cell, weight_hh_mask=bad)
    ok = np.ones((3, 3), dtype=int)
    rtrl.sequence_gradient(params, X, y, cell=cell, weight_hh_mask=ok)


def test_out_of_range_class_indices_are_named_as_given():
    import numpy as np

    import rtrl

    cell = rtrl.Elman()
    params = cell.init_params(3, 2, 2, random_state=0)
    for y, shown in ((np.array([0, 1, 2**63], dtype=np.uint64), "9223372036854775808"),
                     (np.array([0.0, 1.0, 1e30]), r"1e\+30")):  # fmt: skip
        with pytest.raises(ValueError, match=shown):
            rtrl.sequence_gradient(params, np.ones((3, 2)), y, cell=cell, loss="cross_entropy")
