"""Exact RTRL equals full BPTT, and both equal finite differences of the loss."""

import numpy as np
import pytest
from conftest import make_problem, rel_err

import rtrl

SIZES = [(1, 1, 1), (3, 2, 2), (7, 4, 3), (12, 3, 1)]


@pytest.mark.parametrize(("n", "m", "n_out"), SIZES)
def test_rtrl_equals_bptt_squared_error(cell_case, n, m, n_out):
    _, cell = cell_case
    params, X, y, w = make_problem(cell, n, m, n_out, T=30, seed=n * 100 + m)
    g_rtrl = rtrl.sequence_gradient(params, X, y, cell=cell, learner="rtrl", sample_weight=w)
    g_bptt = rtrl.sequence_gradient(params, X, y, cell=cell, learner="bptt", sample_weight=w)
    assert set(g_rtrl) == set(params)
    for name in params:
        assert g_rtrl[name].shape == params[name].shape
        assert np.any(g_bptt[name] != 0), name  # a zero gradient would compare trivially
        assert rel_err(g_rtrl[name], g_bptt[name]) <= 1e-10, name


@pytest.mark.parametrize("n_out", [2, 4])
def test_rtrl_equals_bptt_cross_entropy(cell_case, n_out):
    _, cell = cell_case
    params, X, y, w = make_problem(cell, 6, 3, n_out, T=25, seed=n_out, loss="cross_entropy")
    kw = dict(cell=cell, loss="cross_entropy", sample_weight=w)
    g_rtrl = rtrl.sequence_gradient(params, X, y, learner="rtrl", **kw)
    g_bptt = rtrl.sequence_gradient(params, X, y, learner="bptt", **kw)
    for name in params:
        assert rel_err(g_rtrl[name], g_bptt[name]) <= 1e-10, name


def _loss(params, X, y, w, cell, loss):
    return rtrl.sequence_gradient(
        params, X, y, cell=cell, learner="bptt", loss=loss, sample_weight=w, return_loss=True
    )[1]


def _direct_loss(params, X, y, w, cell):
    """The weighted squared error from the forward pass alone (no gradient code)."""
    layout = cell.infer_layout(params)
    flat = layout.pack(params, np.float64)
    state = np.zeros(layout.state_size)
    out = np.empty((X.shape[0], layout.n_outputs))
    rtrl._core.forward_run(layout.to_kernel(), flat, np.asarray(X, float), state, out)
    return 0.5 * float(np.sum(w[:, None] * (out - y) ** 2))


@pytest.mark.parametrize("loss", ["squared_error", "cross_entropy"])
def test_gradients_equal_central_differences(cell_case, loss):
    name, cell = cell_case
    n_out = 3
    params, X, y, w = make_problem(cell, 5, 3, n_out, T=20, seed=7, loss=loss)
    if name.endswith("relu"):
        # keep pre-activations away from the kink so differences are smooth
        X = X + 0.05
    grads = {
        learner: rtrl.sequence_gradient(
            params, X, y, cell=cell, learner=learner, loss=loss, sample_weight=w
        )
        for learner in ("rtrl", "bptt")
    }
    rng = np.random.default_rng(3)
    h = 1e-6
    for pname, value in params.items():
        for _ in range(3):
            idx = tuple(int(rng.integers(0, s)) for s in value.shape)
            plus = {k: v.copy() for k, v in params.items()}
            minus = {k: v.copy() for k, v in params.items()}
            plus[pname][idx] += h
            minus[pname][idx] -= h
            fd = (_loss(plus, X, y, w, cell, loss) - _loss(minus, X, y, w, cell, loss)) / (2 * h)
            for learner, g in grads.items():
                assert g[pname][idx] == pytest.approx(fd, rel=1e-5, abs=1e-7), (learner, pname)


def test_reported_loss_is_the_weighted_loss_of_the_forward_pass(cell_case):
    _, cell = cell_case
    params, X, y, w = make_problem(cell, 4, 2, 2, T=15, seed=1)
    direct = _direct_loss(params, X, y, w, cell)
    for learner in ("rtrl", "bptt"):
        _, loss = rtrl.sequence_gradient(
            params, X, y, cell=cell, learner=learner, sample_weight=w, return_loss=True
        )
        assert loss == pytest.approx(direct, rel=1e-12)


def test_zero_weight_steps_contribute_nothing(cell_case):
    _, cell = cell_case
    params, X, y, w = make_problem(cell, 4, 2, 2, T=20, seed=5)
    w = np.ones(20)
    w[10:] = 0.0
    full = rtrl.sequence_gradient(params, X, y, cell=cell, sample_weight=w)
    prefix = rtrl.sequence_gradient(params, X[:10], y[:10], cell=cell)
    for name in params:
        assert rel_err(full[name], prefix[name]) <= 1e-12


def test_default_cell_names_match_objects():
    params, X, y, _ = make_problem(rtrl.cells.Elman(), 4, 2, 1, T=10, seed=0)
    a = rtrl.sequence_gradient(params, X, y, cell="elman")
    b = rtrl.sequence_gradient(params, X, y, cell=rtrl.cells.Elman("tanh", leak=1.0))
    for name in params:
        np.testing.assert_array_equal(a[name], b[name])


def test_leak_one_is_torch_rnn_and_leak_changes_the_gradient():
    params, X, y, _ = make_problem(rtrl.cells.Elman(), 4, 2, 1, T=10, seed=0)
    a = rtrl.sequence_gradient(params, X, y, cell=rtrl.cells.Elman(leak=0.5))
    b = rtrl.sequence_gradient(params, X, y, cell=rtrl.cells.Elman())
    assert rel_err(a["weight_hh"], b["weight_hh"]) > 1e-3
