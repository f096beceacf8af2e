"""Generated streams for demos, tests and benchmarks (no downloads).

Every task here needs memory of the past: a model that sees only the current input cannot
do better than predicting the mean.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["delayed_sum", "narma"]


def delayed_sum(n_steps: int, delays=(3, 5), n_features: int = 1, random_state=None):
    r"""Inputs :math:`x_t \sim \mathcal N(0, 1)` and targets :math:`y_t = \sum_d x_{t-d}`.

    The target is a sum of past inputs only (each column of ``x`` contributes to its own
    output), so the current input carries no information about it.

    Returns
    -------
    X : ndarray of shape (n_steps, n_features)
    y : ndarray of shape (n_steps,) if ``n_features == 1`` else (n_steps, n_features)
    """
    rng = check_random_state(random_state)
    if n_steps < 1:
        raise ValueError(f"n_steps must be positive, got {n_steps}")
    delays = tuple(int(d) for d in delays)
    if not delays or min(delays) < 1:
        raise ValueError(f"delays must be positive integers, got {delays}")
    X = rng.normal(size=(n_steps, n_features))
    y = np.zeros_like(X)
    for d in delays:
        y[d:] += X[:-d] if d < n_steps else 0.0
    return X, (y[:, 0] if n_features == 1 else y)


def narma(n_steps: int, order: int = 10, random_state=None):
    r"""The NARMA system of order k, a standard benchmark for recurrent networks.

    .. math::
        y_{t+1} = 0.3\,y_t + 0.05\,y_t \sum_{i=0}^{k-1} y_{t-i} + 1.5\,u_{t-k+1} u_t + 0.1,
        \qquad u_t \sim \mathcal U(0, 0.5)

    (Atiya & Parlos 2000). Returns ``X = u`` of shape (n_steps, 1) and ``y`` of shape
    (n_steps,), with ``y[t]`` the system's output after seeing ``u[:t+1]``.
    """
    rng = check_random_state(random_state)
    if n_steps < 1:
        raise ValueError(f"n_steps must be positive, got {n_steps}")
    u = rng.uniform(0.0, 0.5, size=n_steps + order)
    y = np.zeros(n_steps + order + 1)
    for t in range(order - 1, n_steps + order):
        y[t + 1] = (
            0.3 * y[t]
            + 0.05 * y[t] * y[t - order + 1 : t + 1].sum()
            + 1.5 * u[t - order + 1] * u[t]
            + 0.1
        )
    return u[order:, None], y[order + 1 :]
