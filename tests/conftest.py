import numpy as np
import pytest

import rtrl
from rtrl.cells import Elman, Jordan, make_cell
from rtrl.learners import UORO

# Every cell configuration the kernels implement, by a readable id.
CELL_CASES = {
    "elman-tanh": lambda: Elman("tanh"),
    "elman-relu": lambda: Elman("relu"),
    "elman-leak": lambda: Elman("tanh", leak=0.35),
    "jordan-tanh": lambda: Jordan("tanh"),
    "jordan-relu": lambda: Jordan("relu"),
    "gru": lambda: make_cell("gru"),
    "lstm": lambda: make_cell("lstm"),
}


class WindowedUORO(UORO):
    """UORO in its windowed form on any network (the default form only runs from
    ``window_min_params`` recurrent parameters on, larger than the test networks), with
    windows of two steps so that they fill, close early and stay open across calls."""

    window = 2
    window_min_params = 0


@pytest.fixture
def force_threads():
    """Split even small influence updates across threads (normally one thread does them)."""
    previous = rtrl._core._set_min_flops_per_thread(1)
    yield
    rtrl._core._set_min_flops_per_thread(previous)


@pytest.fixture(params=sorted(CELL_CASES))
def cell_case(request):
    return request.param, CELL_CASES[request.param]()


def make_problem(cell, n, m, n_out, T, seed, loss="squared_error", scale=0.8, dtype=np.float64):
    """Random parameters, inputs, targets and non-negative weights (some exactly zero)."""
    rng = np.random.default_rng(seed)
    shapes = cell.layout(n, m, n_out).shapes()
    params = {k: rng.uniform(-scale, scale, size=s).astype(dtype) for k, s in shapes.items()}
    X = rng.normal(size=(T, m))
    if loss == "squared_error":
        y = rng.normal(size=(T, n_out))
    else:
        y = rng.integers(0, n_out, size=T)
    w = rng.uniform(0, 2, size=T)
    w[rng.random(T) < 0.2] = 0.0
    return params, X, y, w


def rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


__all__ = ["CELL_CASES", "WindowedUORO", "make_problem", "rel_err", "rtrl"]
