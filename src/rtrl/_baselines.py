"""Peers for ``rtrl bench --compare``: exact RTRL for an Elman network as a careful user of
NumPy, or of JAX (``lax.scan``), would write it.

Both compute the gradient of a sequence's squared error with fixed parameters, from the
zero state, with rtrl's flat parameter layout (``Layout.pack``), one GEMM per step and no
Python loop over units -- the same work as ``sequence_gradient(..., learner=RTRL(window=0))``.
"""

from __future__ import annotations

import os
import sys

import numpy as np


def numpy_rtrl_elman(flat, layout, X, Y, weights, state, J, grad) -> float:
    """Exact RTRL over a sequence (tanh Elman, squared error), updating ``state``, ``J``
    (n x P) and ``grad`` (n_params) in place; returns the weighted loss."""
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


def jax_available() -> bool:
    """True if JAX imports. Before its first import, XLA is asked for one CPU thread (unless
    XLA_FLAGS says otherwise), so that it is timed on the cores the others get."""
    if "jax" not in sys.modules:
        os.environ.setdefault(
            "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
        )
    try:
        import jax  # noqa: F401
    except Exception:  # not installed, or a broken install: no JAX column
        return False
    return True


def jax_rtrl_elman(layout, dtype):
    """A jitted ``f(flat, X, Y) -> (grad, loss)``: the same algorithm under ``lax.scan``."""
    import jax
    import jax.numpy as jnp

    if np.dtype(dtype) == np.float64:
        jax.config.update("jax_enable_x64", True)
    n, m, n_out = layout.hidden_size, layout.n_features, layout.n_outputs
    K = m + n + 2
    diag = jnp.arange(n)

    def run(flat, X, Y):
        W = flat[: n * K].reshape(n, K)
        W_hh = W[:, m + 1 : m + 1 + n]
        R = flat[n * K :].reshape(n_out, n + 1)
        V, c = R[:, :n], R[:, n]
        one = jnp.ones(1, dtype=flat.dtype)

        def step(carry, xy):
            h, J, gW, gR, loss = carry
            x, y = xy
            z = jnp.concatenate([x, one, h, one])
            h = jnp.tanh(W @ z)
            M = (W_hh @ J).reshape(n, n, K).at[diag, diag, :].add(z)
            J = (M * (1.0 - h * h)[:, None, None]).reshape(n, n * K)
            err = V @ h + c - y
            gW = gW + ((V.T @ err) @ J).reshape(n, K)
            gR = gR + jnp.concatenate([jnp.outer(err, h), err[:, None]], axis=1)
            return (h, J, gW, gR, loss + 0.5 * err @ err), None

        init = (
            jnp.zeros(n, flat.dtype),
            jnp.zeros((n, n * K), flat.dtype),
            jnp.zeros((n, K), flat.dtype),
            jnp.zeros((n_out, n + 1), flat.dtype),
            jnp.zeros((), flat.dtype),
        )
        (_, _, gW, gR, loss), _ = jax.lax.scan(step, init, (X, Y))
        return jnp.concatenate([gW.ravel(), gR.ravel()]), loss

    return jax.jit(run)
