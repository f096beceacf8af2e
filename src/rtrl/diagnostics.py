"""Gradient-quality diagnostics for comparing learners (ALGORITHMS.md, "Gradient quality")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
from sklearn.utils import check_random_state

from .gradient import sequence_gradient
from .learners import Learner, OnlineLearner, make_learner

__all__ = ["gradient_alignment"]


def _flat(grads: Mapping[str, np.ndarray], names) -> np.ndarray:
    return np.concatenate([np.asarray(grads[k], dtype=np.float64).ravel() for k in names])


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    return float(a @ b / (na * nb)) if na > 0 and nb > 0 else float("nan")


def gradient_alignment(
    params: Mapping[str, np.ndarray],
    X,
    y,
    *,
    cell,
    learners: Iterable[str | Learner],
    n_seeds: int = 20,
    loss="squared_error",
    sample_weight=None,
    random_state=None,
    weight_hh_mask=None,
    dtype=None,
    n_jobs=None,
) -> dict[str, dict[str, float]]:
    r"""How close each learner's gradient estimate is to the exact gradient.

    For fixed parameters, every learner's estimate :math:`\hat g` of the gradient of
    :math:`\sum_t w_t L_t` over the sequence (:func:`rtrl.sequence_gradient`) is compared
    with the exact one :math:`g` (exact RTRL). A learner that draws random numbers (UORO,
    KF, OK) is run with ``n_seeds`` seeds; a deterministic one (SnAp, TBPTT, RTRL, BPTT)
    once.

    Returns
    -------
    dict
        Keyed by learner name (by ``repr`` where two learners share a name, like
        ``TBPTT(truncation=2)`` and ``TBPTT(truncation=10)``), each a dict with

        - ``cosine``: mean over seeds of :math:`\cos(\hat g_s, g)`;
        - ``cosine_of_mean``: :math:`\cos(\bar g, g)` for the mean estimate :math:`\bar g`;
        - ``relative_bias``: :math:`\lVert \bar g - g\rVert / \lVert g\rVert` (for an
          unbiased learner it shrinks like :math:`n_{seeds}^{-1/2}`);
        - ``relative_variance``: :math:`\frac{1}{n_{seeds}} \sum_s
          \lVert \hat g_s - \bar g\rVert^2 / \lVert g\rVert^2` (0 for deterministic ones);
        - ``n_seeds``.

    Examples
    --------
    >>> import numpy as np
    >>> import rtrl
    >>> cell = rtrl.cells.Elman()
    >>> params = cell.init_params(8, 2, 1, random_state=0)
    >>> X = np.random.default_rng(0).normal(size=(100, 2))
    >>> y = np.roll(X[:, 0], 3)
    >>> report = rtrl.gradient_alignment(params, X, y, cell=cell,
    ...                                  learners=["snap2", "uoro", "ok"], n_seeds=10,
    ...                                  random_state=0)
    >>> round(report["snap2"]["cosine"], 6)  # SnAp-2 is exact on a dense network
    1.0
    >>> report["ok"]["relative_variance"] < report["uoro"]["relative_variance"]
    True
    """
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, (int, np.integer)) or n_seeds < 1:
        raise ValueError(f"n_seeds must be a positive integer, got {n_seeds!r}")
    common = dict(
        cell=cell,
        loss=loss,
        sample_weight=sample_weight,
        weight_hh_mask=weight_hh_mask,
        dtype=dtype,
        n_jobs=n_jobs,
    )
    exact = sequence_gradient(params, X, y, learner="rtrl", **common)
    names = sorted(exact)
    g = _flat(exact, names)
    norm2 = float(g @ g)
    rng = check_random_state(random_state)
    if isinstance(learners, str | Learner):
        learners = [learners]
    chosen = [make_learner(spec) for spec in learners]
    names_used = [learner.name for learner in chosen]
    keys = [
        name if names_used.count(name) == 1 else repr(learner)
        for name, learner in zip(names_used, chosen, strict=True)
    ]
    if len(set(keys)) < len(keys):
        raise ValueError(
            f"a learner is listed twice: {sorted(k for k in keys if keys.count(k) > 1)}"
        )
    report = {}
    for key, learner in zip(keys, chosen, strict=True):
        seeds = n_seeds if isinstance(learner, OnlineLearner) and learner.random else 1
        samples = np.stack(
            [
                _flat(
                    sequence_gradient(
                        params,
                        X,
                        y,
                        learner=learner,
                        random_state=int(rng.randint(np.iinfo(np.int32).max)),
                        **common,
                    ),
                    names,
                )
                for _ in range(seeds)
            ]
        )
        mean = samples.mean(axis=0)
        report[key] = {
            "cosine": float(np.mean([_cosine(s, g) for s in samples])),
            "cosine_of_mean": _cosine(mean, g),
            "relative_bias": float(np.linalg.norm(mean - g) / np.sqrt(norm2)) if norm2 else 0.0,
            "relative_variance": (
                float(np.mean(np.sum((samples - mean) ** 2, axis=1)) / norm2) if norm2 else 0.0
            ),
            "n_seeds": seeds,
        }
    return report
