"""Generated streams for demos, tests and benchmarks (no downloads).

Every task here needs memory of the past: a model that sees only the current input cannot
do better than predicting the mean.
"""

from __future__ import annotations

from numbers import Integral

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
    if isinstance(n_steps, bool) or not isinstance(n_steps, Integral) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    if isinstance(n_features, bool) or not isinstance(n_features, Integral) or n_features < 1:
        raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
    delays = tuple(delays)
    if not delays or not all(
        isinstance(d, Integral) and not isinstance(d, bool) and d >= 1 for d in delays
    ):
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

    For k > 10 this recursion diverges for most input draws (to infinity within a few dozen
    steps at k = 20), so there, as is usual for NARMA-20 and NARMA-30, its right-hand side
    is passed through tanh, which keeps y in (-1, 1).
    """
    rng = check_random_state(random_state)
    if isinstance(n_steps, bool) or not isinstance(n_steps, Integral) or n_steps < 1:
        raise ValueError(f"n_steps must be a positive integer, got {n_steps!r}")
    if isinstance(order, bool) or not isinstance(order, Integral) or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    u = rng.uniform(0.0, 0.5, size=n_steps + order)
    y = np.zeros(n_steps + order + 1)
    bounded = order > 10
    for t in range(order - 1, n_steps + order):
        value = (
            0.3 * y[t]
            + 0.05 * y[t] * y[t - order + 1 : t + 1].sum()
            + 1.5 * u[t - order + 1] * u[t]
            + 0.1
        )
        y[t + 1] = np.tanh(value) if bounded else value
    return u[order:, None], y[order + 1 :]
