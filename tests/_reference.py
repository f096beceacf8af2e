"""A slow, independent NumPy reference of exact Real-Time Recurrent Learning (RTRL).

This module is a test oracle. It is written from the equations only (PyTorch conventions)
and shares no code with the package's kernels: every Jacobian is built densely, one step
at a time, and the influence matrix J_t = d s_t / d theta is kept as a dense S x P array.

Cells (n hidden units, m inputs, n_out outputs, x_t the rows of X, zero initial state):

* ``elman``  (torch.nn.RNN, optional leak alpha):
  h_t = (1 - alpha) h_{t-1} + alpha * phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
* ``gru``    (torch.nn.GRU, gates r, z, n stacked in the rows):
  r = sig(a_ih_r + a_hh_r), z = sig(a_ih_z + a_hh_z), nn = tanh(a_ih_n + r * a_hh_n),
  h_t = (1 - z) * nn + z * h_{t-1},  a_ih = W_ih x_t + b_ih, a_hh = W_hh h_{t-1} + b_hh
* ``lstm``   (torch.nn.LSTM, gates i, f, g, o stacked in the rows), state s = (h, c):
  c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
* ``jordan``: h_t = phi(W_ih x_t + b_ih + W_yh yhat_{t-1}),  yhat_{t-1} = V h_{t-1} + c

Readout yhat_t = V h_t + c (V = readout_weight, c = readout_bias). Losses: squared error
0.5 ||yhat_t - y_t||^2 or softmax cross-entropy with integer labels. Objective sum_t w_t L_t.

RTRL: J_t = D_t J_{t-1} + I_t, with D_t = d s_t / d s_{t-1} and I_t = d s_t / d theta
(s_{t-1} held fixed); gradient = sum_t w_t (dL_t/ds_t) J_t + the direct readout gradient.
"""

from __future__ import annotations

import numpy as np

__all__ = ["param_shapes", "reference_loss", "reference_rtrl"]

CELLS = ("elman", "gru", "lstm", "jordan")
NONLINEARITIES = ("tanh", "relu")


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def param_shapes(cell: str, n: int, m: int, n_out: int) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the parameters of each cell (the readout included)."""
    readout = {"readout_weight": (n_out, n), "readout_bias": (n_out,)}
    if cell == "elman":
        return {
            "weight_ih": (n, m),
            "bias_ih": (n,),
            "weight_hh": (n, n),
            "bias_hh": (n,),
            **readout,
        }
    if cell in ("gru", "lstm"):
        k = 3 if cell == "gru" else 4
        return {
            "weight_ih": (k * n, m),
            "bias_ih": (k * n,),
            "weight_hh": (k * n, n),
            "bias_hh": (k * n,),
            **readout,
        }
    if cell == "jordan":
        return {"weight_ih": (n, m), "bias_ih": (n,), "weight_yh": (n, n_out), **readout}
    raise ValueError(f"unknown cell {cell!r}")


def _recurrent_names(cell: str) -> list[str]:
    """Parameters inside the recurrence, in the order they are flattened into theta."""
    if cell == "jordan":
        return ["weight_ih", "bias_ih", "weight_yh", "readout_weight", "readout_bias"]
    return ["weight_ih", "bias_ih", "weight_hh", "bias_hh"]


def _sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def _phi(a, nonlinearity):
    """Activation and its derivative."""
    if nonlinearity == "tanh":
        v = np.tanh(a)
        return v, 1.0 - v * v
    if nonlinearity == "relu":
        pos = a > 0
        return np.where(pos, a, 0.0).astype(a.dtype), pos.astype(a.dtype)
    raise ValueError(f"unknown nonlinearity {nonlinearity!r}")


def _d_linear_d_weight(z, rows):
    """d(W z)/d vec(W) for W of shape (rows, len(z)), vec row-major: shape (rows, rows*K).

    Entry [i, j*K + k] = delta_ij * z_k.
    """
    eye = np.eye(rows, dtype=z.dtype)
    return np.einsum("ij,k->ijk", eye, z).reshape(rows, rows * z.shape[0])


def _d_linear_d_bias(rows, dtype):
    """d(W z + b)/d b = identity."""
    return np.eye(rows, dtype=dtype)


def _loss_and_grad(yhat, target, loss):
    """L_t and dL_t/d yhat_t for one step."""
    if loss == "squared_error":
        diff = yhat - target
        return 0.5 * np.dot(diff, diff), diff
    if loss == "cross_entropy":
        label = int(target)
        shifted = yhat - np.max(yhat)
        log_z = np.log(np.sum(np.exp(shifted)))
        log_p = shifted - log_z
        p = np.exp(log_p)
        onehot = np.zeros_like(yhat)
        onehot[label] = 1.0
        return -log_p[label], p - onehot
    raise ValueError(f"unknown loss {loss!r}")


def _prepare(cell, params, X, y, loss, sample_weight):
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}")
    dtypes = {np.asarray(v).dtype for v in params.values()}
    dt = np.dtype(np.float32) if dtypes == {np.dtype(np.float32)} else np.dtype(np.float64)
    P = {k: np.asarray(v, dtype=dt) for k, v in params.items()}
    n_out, n = P["readout_weight"].shape
    m = P["weight_ih"].shape[1]
    expected = param_shapes(cell, n, m, n_out)
    if set(expected) != set(P):
        raise ValueError(f"params must be exactly {sorted(expected)}, got {sorted(P)}")
    for k, s in expected.items():
        if P[k].shape != s:
            raise ValueError(f"{k} has shape {P[k].shape}, expected {s}")
    X = np.asarray(X, dtype=dt)
    T = X.shape[0]
    if loss == "squared_error":
        Y = np.asarray(y, dtype=dt).reshape(T, -1)
        if Y.shape[1] != n_out:
            raise ValueError("y does not match n_out")
    elif loss == "cross_entropy":
        Y = np.asarray(y).astype(np.int64).reshape(T)
        if Y.min() < 0 or Y.max() >= n_out:
            raise ValueError("labels out of range")
    else:
        raise ValueError(f"unknown loss {loss!r}")
    w = np.ones(T, dtype=dt) if sample_weight is None else np.asarray(sample_weight, dtype=dt)
    return dt, P, X, Y, w, n, m, n_out


# --------------------------------------------------------------------------------------
# One step of each cell: new state, D = ds'/ds, and I = ds'/dtheta per parameter name
# --------------------------------------------------------------------------------------


def _elman_step(P, s, x, nonlinearity, leak, jac=True):
    n = s.shape[0]
    dt = s.dtype
    h = s
    a = P["weight_ih"] @ x + P["bias_ih"] + P["weight_hh"] @ h + P["bias_hh"]
    v, dv = _phi(a, nonlinearity)
    h_new = (1.0 - leak) * h + leak * v
    if not jac:
        return h_new, None, None
    G = leak * np.diag(dv)  # dh'/da
    D = (1.0 - leak) * np.eye(n, dtype=dt) + G @ P["weight_hh"]
    I_t = {
        "weight_ih": G @ _d_linear_d_weight(x, n),
        "bias_ih": G @ _d_linear_d_bias(n, dt),
        "weight_hh": G @ _d_linear_d_weight(h, n),
        "bias_hh": G @ _d_linear_d_bias(n, dt),
    }
    return h_new, D, I_t


def _gru_step(P, s, x, jac=True):
    n = s.shape[0]
    dt = s.dtype
    h = s
    a_ih = P["weight_ih"] @ x + P["bias_ih"]
    a_hh = P["weight_hh"] @ h + P["bias_hh"]
    r = _sigmoid(a_ih[:n] + a_hh[:n])
    z = _sigmoid(a_ih[n : 2 * n] + a_hh[n : 2 * n])
    nn = np.tanh(a_ih[2 * n :] + r * a_hh[2 * n :])
    h_new = (1.0 - z) * nn + z * h
    if not jac:
        return h_new, None, None
    dnn = (1.0 - z) * (1.0 - nn * nn)  # dh'/d(argument of tanh)
    d_r = dnn * a_hh[2 * n :] * r * (1.0 - r)  # dh'/d(pre-activation of r)
    d_z = (h - nn) * z * (1.0 - z)  # dh'/d(pre-activation of z)
    # dh'/d a_ih and dh'/d a_hh, each n x 3n (block-diagonal per gate)
    G_ih = np.hstack([np.diag(d_r), np.diag(d_z), np.diag(dnn)])
    G_hh = np.hstack([np.diag(d_r), np.diag(d_z), np.diag(dnn * r)])
    D = np.diag(z) + G_hh @ P["weight_hh"]
    I_t = {
        "weight_ih": G_ih @ _d_linear_d_weight(x, 3 * n),
        "bias_ih": G_ih @ _d_linear_d_bias(3 * n, dt),
        "weight_hh": G_hh @ _d_linear_d_weight(h, 3 * n),
        "bias_hh": G_hh @ _d_linear_d_bias(3 * n, dt),
    }
    return h_new, D, I_t


def _lstm_step(P, s, x, jac=True):
    n = s.shape[0] // 2
    dt = s.dtype
    h, c = s[:n], s[n:]
    a = P["weight_ih"] @ x + P["bias_ih"] + P["weight_hh"] @ h + P["bias_hh"]
    i = _sigmoid(a[:n])
    f = _sigmoid(a[n : 2 * n])
    g = np.tanh(a[2 * n : 3 * n])
    o = _sigmoid(a[3 * n :])
    c_new = f * c + i * g
    tc = np.tanh(c_new)
    h_new = o * tc
    s_new = np.concatenate([h_new, c_new])
    if not jac:
        return s_new, None, None
    zero = np.zeros((n, n), dtype=dt)
    # dc'/da (n x 4n), gates i, f, g, o
    Gc = np.hstack(
        [np.diag(g * i * (1 - i)), np.diag(c * f * (1 - f)), np.diag(i * (1 - g * g)), zero]
    )
    # dh'/da = o (1 - tanh^2 c') dc'/da + d/d a_o
    Gh = np.diag(o * (1 - tc * tc)) @ Gc
    Gh[:, 3 * n :] += np.diag(tc * o * (1 - o))
    G = np.vstack([Gh, Gc])  # ds'/da, 2n x 4n
    # state Jacobian: through a (via h) and directly through c
    D = np.zeros((2 * n, 2 * n), dtype=dt)
    D[:, :n] = G @ P["weight_hh"]
    D[:n, n:] = np.diag(o * (1 - tc * tc) * f)
    D[n:, n:] = np.diag(f)
    I_t = {
        "weight_ih": G @ _d_linear_d_weight(x, 4 * n),
        "bias_ih": G @ _d_linear_d_bias(4 * n, dt),
        "weight_hh": G @ _d_linear_d_weight(h, 4 * n),
        "bias_hh": G @ _d_linear_d_bias(4 * n, dt),
    }
    return s_new, D, I_t


def _jordan_step(P, s, x, nonlinearity, jac=True):
    n = s.shape[0]
    dt = s.dtype
    h = s
    V, c = P["readout_weight"], P["readout_bias"]
    n_out = V.shape[0]
    y_prev = V @ h + c
    a = P["weight_ih"] @ x + P["bias_ih"] + P["weight_yh"] @ y_prev
    h_new, dv = _phi(a, nonlinearity)
    if not jac:
        return h_new, None, None
    G = np.diag(dv)  # dh'/da
    GW = G @ P["weight_yh"]  # dh'/d y_prev (n x n_out)
    D = GW @ V
    I_t = {
        "weight_ih": G @ _d_linear_d_weight(x, n),
        "bias_ih": G @ _d_linear_d_bias(n, dt),
        "weight_yh": G @ _d_linear_d_weight(y_prev, n),
        "readout_weight": GW @ _d_linear_d_weight(h, n_out),
        "readout_bias": GW @ _d_linear_d_bias(n_out, dt),
    }
    return h_new, D, I_t


def _step(cell, P, s, x, nonlinearity, leak, jac=True):
    if cell == "elman":
        return _elman_step(P, s, x, nonlinearity, leak, jac)
    if cell == "gru":
        return _gru_step(P, s, x, jac)
    if cell == "lstm":
        return _lstm_step(P, s, x, jac)
    return _jordan_step(P, s, x, nonlinearity, jac)


def _state_size(cell, n):
    return 2 * n if cell == "lstm" else n


# --------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------


def reference_loss(
    cell, params, X, y, loss="squared_error", sample_weight=None, nonlinearity="tanh", leak=1.0
) -> float:
    """sum_t w_t L_t by a plain forward pass (no derivatives)."""
    dt, P, X, Y, w, n, _, _ = _prepare(cell, params, X, y, loss, sample_weight)
    leak = dt.type(leak)
    s = np.zeros(_state_size(cell, n), dtype=dt)
    total = dt.type(0.0)
    for t in range(X.shape[0]):
        s, _, _ = _step(cell, P, s, X[t], nonlinearity, leak, jac=False)
        yhat = P["readout_weight"] @ s[:n] + P["readout_bias"]
        L, _ = _loss_and_grad(yhat, Y[t], loss)
        total = total + w[t] * L
    return float(total)


def reference_rtrl(
    cell,
    params,
    X,
    y,
    loss="squared_error",
    sample_weight=None,
    nonlinearity="tanh",
    leak=1.0,
    influence_mask=None,
):
    """Exact RTRL gradient of sum_t w_t L_t, with a dense influence matrix.

    Returns ``(grads, total_loss)``; ``grads`` is keyed and shaped like ``params`` and has
    the dtype of the computation (float32 iff every parameter is float32).

    ``influence_mask`` (S x n_theta, boolean, columns in the order of ``_recurrent_names``
    with each parameter flattened row-major) turns it into SnAp's rule
    J_t = (D_t J_{t-1} + I_t) * M: the influence is dropped outside the mask every step.
    """
    dt, P, X, Y, w, n, _m, n_out = _prepare(cell, params, X, y, loss, sample_weight)
    leak = dt.type(leak)
    names = _recurrent_names(cell)
    sizes = [P[k].size for k in names]
    bounds = np.cumsum([0, *sizes])
    n_theta = int(bounds[-1])
    S = _state_size(cell, n)

    s = np.zeros(S, dtype=dt)
    J = np.zeros((S, n_theta), dtype=dt)  # d s_t / d theta
    g_theta = np.zeros(n_theta, dtype=dt)
    g_V = np.zeros((n_out, n), dtype=dt)  # direct readout gradient
    g_c = np.zeros(n_out, dtype=dt)
    total = dt.type(0.0)
    V, c = P["readout_weight"], P["readout_bias"]

    for t in range(X.shape[0]):
        s, D, I_parts = _step(cell, P, s, X[t], nonlinearity, leak)
        I_t = np.hstack([I_parts[k] for k in names])
        assert D.shape == (S, S) and I_t.shape == (S, n_theta)
        J = D @ J + I_t
        if influence_mask is not None:
            J = np.where(influence_mask, J, dt.type(0.0))

        h = s[:n]
        yhat = V @ h + c
        L, dL_dy = _loss_and_grad(yhat, Y[t], loss)
        total = total + w[t] * L
        # dL/ds: only h reaches the readout
        dL_ds = np.zeros(S, dtype=dt)
        dL_ds[:n] = V.T @ dL_dy
        g_theta += w[t] * (dL_ds @ J)
        g_V += w[t] * np.outer(dL_dy, h)
        g_c += w[t] * dL_dy

    grads = {
        k: g_theta[bounds[j] : bounds[j + 1]].reshape(P[k].shape).copy()
        for j, k in enumerate(names)
    }
    if cell == "jordan":
        grads["readout_weight"] = grads["readout_weight"] + g_V
        grads["readout_bias"] = grads["readout_bias"] + g_c
    else:
        grads["readout_weight"] = g_V
        grads["readout_bias"] = g_c
    grads = {k: grads[k].astype(dt, copy=False) for k in params}
    return grads, float(total)
