"""A plain NumPy per-step implementation of exact RTRL for an Elman network.

This is the baseline of ``bench_rtrl.py``: what a careful NumPy user would write (one GEMM per
step, no Python loop over units), with the same flat parameter layout as rtrl's kernels.
"""

import numpy as np


def numpy_rtrl_elman(flat, layout, X, Y, weights, state, J, grad):
    """Exact RTRL over a sequence, squared-error loss; same contract as ``_core.rtrl_run``."""
    n, m, n_out = layout.hidden_size, layout.n_features, layout.n_outputs
    K = m + n + 2
    W = flat[: n * K].reshape(n, K)
    W_hh = W[:, m + 1 : m + 1 + n]
    R = flat[n * K :].reshape(n_out, n + 1)
    V, c = R[:, :n], R[:, n]
    grad_W = grad[: n * K].reshape(n, K)
    grad_R = grad[n * K :].reshape(n_out, n + 1)
    J_in = J
    h = state
    z = np.empty(K, dtype=flat.dtype)
    z[m] = 1.0
    z[-1] = 1.0
    total = 0.0
    diag = np.arange(n)
    for t in range(X.shape[0]):
        z[:m] = X[t]
        z[m + 1 : m + 1 + n] = h
        h = np.tanh(W @ z)
        dphi = 1.0 - h * h
        # J_t = diag(phi') (W_hh J_{t-1} + I),  I[i, (i, k)] = z_k
        M = (W_hh @ J).reshape(n, n, K)
        M[diag, diag, :] += z
        M *= dphi[:, None, None]
        J = M.reshape(n, n * K)
        y_hat = V @ h + c
        e = weights[t] * (y_hat - Y[t])
        total += 0.5 * weights[t] * float(np.dot(y_hat - Y[t], y_hat - Y[t]))
        grad_R[:, :n] += np.outer(e, h)
        grad_R[:, n] += e
        grad_W += ((V.T @ e) @ J).reshape(n, K)
    state[...] = h
    J_in[...] = J
    return total
