"""The package's exact RTRL against an independent, dense NumPy reference (tests/_reference.py).

(a) the reference itself agrees with central finite differences of its own forward loss;
(b) ``rtrl.sequence_gradient(..., learner="rtrl")`` agrees with the reference, in float64
    (relative error <= 1e-10 per parameter) and float32 (<= 1e-4 against float64).
"""

import numpy as np
import pytest
from _reference import param_shapes, reference_loss, reference_rtrl

import rtrl
from rtrl.cells import Elman, Jordan, make_cell

# id -> (reference cell name, nonlinearity, leak, package cell object factory)
CASES = {
    "elman-tanh": ("elman", "tanh", 1.0, lambda: Elman(nonlinearity="tanh")),
    "elman-relu": ("elman", "relu", 1.0, lambda: Elman(nonlinearity="relu")),
    "elman-leak": ("elman", "tanh", 0.4, lambda: Elman(nonlinearity="tanh", leak=0.4)),
    "elman-relu-leak": ("elman", "relu", 0.4, lambda: Elman(nonlinearity="relu", leak=0.4)),
    "jordan-tanh": ("jordan", "tanh", 1.0, lambda: Jordan(nonlinearity="tanh")),
    "jordan-relu": ("jordan", "relu", 1.0, lambda: Jordan(nonlinearity="relu")),
    "gru": ("gru", "tanh", 1.0, lambda: make_cell("gru")),
    "lstm": ("lstm", "tanh", 1.0, lambda: make_cell("lstm")),
}
# plain string cell names are accepted by the package too
STRING_CELLS = {"elman-tanh": "elman", "jordan-tanh": "jordan", "gru": "gru", "lstm": "lstm"}


def make_problem(cell, n, m, n_out, T, seed, loss):
    """U(-0.8, 0.8) parameters, N(0, 1) inputs, targets, weights >= 0 with exact zeros."""
    rng = np.random.default_rng(seed)
    params = {
        k: rng.uniform(-0.8, 0.8, size=s) for k, s in param_shapes(cell, n, m, n_out).items()
    }
    # keep the recurrent matrix's spectral radius near 1 for larger n (relu would explode)
    if "weight_hh" in params:
        params["weight_hh"] *= min(1.0, 2.0 / np.sqrt(n))
    X = rng.normal(size=(T, m))
    if loss == "squared_error":
        y = rng.normal(size=(T, n_out)) if n_out > 1 or rng.random() < 0.5 else rng.normal(size=T)
    else:
        y = rng.integers(0, n_out, size=T)
    w = rng.uniform(0.0, 2.0, size=T)
    w[rng.choice(T, size=max(1, T // 5), replace=False)] = 0.0
    return params, X, y, w


def rel_err(a, b):
    """max|a - b| / max|b| (absolute error if b is exactly zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.max(np.abs(b))
    diff = np.max(np.abs(a - b))
    return float(diff / scale) if scale > 0 else float(diff)


# --------------------------------------------------------------------------------------
# (a) the reference against finite differences
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["squared_error", "cross_entropy"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_reference_matches_finite_differences(case, loss):
    cell, nonlin, leak, _ = CASES[case]
    n, m = 4, 3
    n_out = 2 if loss == "squared_error" else 3
    params, X, y, w = make_problem(cell, n, m, n_out, T=20, seed=7, loss=loss)
    kw = dict(loss=loss, sample_weight=w, nonlinearity=nonlin, leak=leak)
    grads, total = reference_rtrl(cell, params, X, y, **kw)
    assert total == pytest.approx(reference_loss(cell, params, X, y, **kw), rel=1e-12)
    assert set(grads) == set(params)

    rng = np.random.default_rng(1)
    h = 1e-6
    for name, value in params.items():
        assert grads[name].shape == value.shape
        assert grads[name].dtype == np.float64
        scale = max(1.0, float(np.max(np.abs(grads[name]))))
        for idx in rng.choice(value.size, size=min(4, value.size), replace=False):
            pos = np.unravel_index(idx, value.shape)
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[name][pos] += h
            minus[name][pos] -= h
            fd = (
                reference_loss(cell, plus, X, y, **kw) - reference_loss(cell, minus, X, y, **kw)
            ) / (2 * h)
            assert abs(fd - grads[name][pos]) <= 1e-7 * scale, (name, pos, fd, grads[name][pos])


@pytest.mark.parametrize("case", ["elman-tanh", "jordan-relu", "gru", "lstm"])
def test_reference_float32_runs_in_float32(case):
    cell, nonlin, leak, _ = CASES[case]
    params, X, y, w = make_problem(cell, 4, 3, 2, T=20, seed=3, loss="squared_error")
    kw = dict(sample_weight=w, nonlinearity=nonlin, leak=leak)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    g32, l32 = reference_rtrl(cell, p32, X, y, **kw)
    g64, l64 = reference_rtrl(cell, {k: v.astype(np.float64) for k, v in p32.items()}, X, y, **kw)
    assert l32 == pytest.approx(l64, rel=1e-4)
    for name in params:
        assert g32[name].dtype == np.float32
        assert rel_err(g32[name], g64[name]) <= 1e-4, name


# --------------------------------------------------------------------------------------
# (b) the package against the reference
# --------------------------------------------------------------------------------------

SIZES = [(1, 1), (4, 3), (9, 1), (9, 3)]  # (n, m)


def _compare(case, loss, n, m, n_out, dtype, seed, use_string=False):
    cell, nonlin, leak, factory = CASES[case]
    T = 15 + (seed * 7) % 26  # 15..40 steps
    params, X, y, w = make_problem(cell, n, m, n_out, T=T, seed=seed, loss=loss)
    if dtype == np.float32:
        # the package rounds everything to float32 first; give the reference the same values
        params = {k: v.astype(np.float32) for k, v in params.items()}
        X32 = X.astype(np.float32)
        y32 = y.astype(np.float32) if loss == "squared_error" else y
        w32 = w.astype(np.float32)
        ref_args = ({k: v.astype(np.float64) for k, v in params.items()}, X32, y32, w32)
    else:
        ref_args = (params, X, y, w)
    pkg_cell = STRING_CELLS[case] if use_string else factory()
    grads, total = rtrl.sequence_gradient(
        params,
        X,
        y,
        cell=pkg_cell,
        learner="rtrl",
        loss=loss,
        sample_weight=w,
        return_loss=True,
    )
    p_ref, X_ref, y_ref, w_ref = ref_args
    ref, ref_total = reference_rtrl(
        cell,
        p_ref,
        X_ref,
        y_ref,
        loss=loss,
        sample_weight=w_ref,
        nonlinearity=nonlin,
        leak=leak,
    )
    tol = 1e-10 if dtype == np.float64 else 1e-4
    assert set(grads) == set(params)
    assert any(np.any(ref[k] != 0) for k in params)  # not a trivially zero comparison
    errors = {}
    for name in params:
        assert grads[name].shape == params[name].shape, name
        assert grads[name].dtype == dtype, name
        errors[name] = rel_err(grads[name], ref[name])
    bad = {k: v for k, v in errors.items() if not v <= tol}
    assert not bad, f"{case} {loss} n={n} m={m} n_out={n_out} {np.dtype(dtype)}: {bad}"
    assert total == pytest.approx(ref_total, rel=tol, abs=tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("n_out", [1, 2])
@pytest.mark.parametrize(("n", "m"), SIZES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_package_matches_reference_squared_error(case, n, m, n_out, dtype):
    seed = 1000 * n + 100 * m + 10 * n_out + sorted(CASES).index(case)
    _compare(case, "squared_error", n, m, n_out, dtype, seed)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("n_out", [3, 4])
@pytest.mark.parametrize(("n", "m"), SIZES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_package_matches_reference_cross_entropy(case, n, m, n_out, dtype):
    seed = 2000 * n + 100 * m + 10 * n_out + sorted(CASES).index(case)
    _compare(case, "cross_entropy", n, m, n_out, dtype, seed)


@pytest.mark.parametrize("loss", ["squared_error", "cross_entropy"])
@pytest.mark.parametrize("case", sorted(STRING_CELLS))
def test_package_matches_reference_cell_by_name(case, loss):
    n_out = 2 if loss == "squared_error" else 3
    _compare(case, loss, 5, 2, n_out, np.float64, seed=42, use_string=True)


def test_package_matches_reference_without_weights():
    cell, nonlin, leak, factory = CASES["lstm"]
    params, X, y, _ = make_problem(cell, 3, 2, 2, T=25, seed=5, loss="squared_error")
    grads = rtrl.sequence_gradient(params, X, y, cell=factory(), learner="rtrl")
    ref, _ = reference_rtrl(cell, params, X, y, nonlinearity=nonlin, leak=leak)
    for name in params:
        assert rel_err(grads[name], ref[name]) <= 1e-10, name
