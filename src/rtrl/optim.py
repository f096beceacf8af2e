"""Optimizers over the flat parameter vector: SGD (with momentum) and Adam.

Both optionally clip the gradient to a maximum Euclidean norm first. The state of an
optimizer is a dict of NumPy arrays and numbers, so it pickles with the model.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

__all__ = ["SGD", "Adam", "Optimizer", "make_optimizer"]


class Optimizer:
    """Base class: ``step(w, grad, state)`` updates ``w`` in place."""

    name: ClassVar[str]

    def __init__(self, learning_rate: float = 1e-3, clip_norm: float | None = None):
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
        if clip_norm is not None and not clip_norm > 0:
            raise ValueError(f"clip_norm must be None or positive, got {clip_norm!r}")
        self.learning_rate = float(learning_rate)
        self.clip_norm = None if clip_norm is None else float(clip_norm)

    def init_state(self, n_params: int, dtype) -> dict:
        return {"t": 0}

    def _clipped(self, grad: np.ndarray) -> np.ndarray:
        if self.clip_norm is None:
            return grad
        norm = float(np.linalg.norm(grad))
        return grad * (self.clip_norm / norm) if norm > self.clip_norm else grad

    def step(self, w: np.ndarray, grad: np.ndarray, state: dict) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional (heavy-ball) momentum.

    :math:`v \leftarrow \mu v - \eta g,\ w \leftarrow w + v`.
    """

    name = "sgd"

    def __init__(self, learning_rate=1e-2, momentum: float = 0.0, clip_norm=None):
        super().__init__(learning_rate, clip_norm)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)

    def init_state(self, n_params, dtype):
        return {"t": 0, "velocity": np.zeros(n_params, dtype=dtype)}

    def step(self, w, grad, state):
        g = self._clipped(grad)
        v = state["velocity"]
        v *= self.momentum
        v -= self.learning_rate * g
        w += v
        state["t"] += 1


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015) with bias correction.

    :math:`m \leftarrow \beta_1 m + (1-\beta_1) g,\ v \leftarrow \beta_2 v + (1-\beta_2) g^2,\
    w \leftarrow w - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)`.
    """

    name = "adam"

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8, clip_norm=None):
        super().__init__(learning_rate, clip_norm)
        for what, b in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{what} must be in [0, 1), got {b!r}")
        if not epsilon > 0:
            raise ValueError(f"epsilon must be positive, got {epsilon!r}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def init_state(self, n_params, dtype):
        return {"t": 0, "m": np.zeros(n_params, dtype=dtype), "v": np.zeros(n_params, dtype=dtype)}

    def step(self, w, grad, state):
        g = self._clipped(grad)
        state["t"] += 1
        t = state["t"]
        m, v = state["m"], state["v"]
        m *= self.beta_1
        m += (1 - self.beta_1) * g
        v *= self.beta_2
        v += (1 - self.beta_2) * g * g
        step = self.learning_rate * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        w -= step * m / (np.sqrt(v) + self.epsilon)


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam}


def make_optimizer(optimizer: str | Optimizer, learning_rate: float, clip_norm=None) -> Optimizer:
    """An optimizer from a name (with the given learning rate and clipping) or an object."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be 'sgd', 'adam' or an Optimizer, got {optimizer!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {sorted(OPTIMIZERS)}")
    return OPTIMIZERS[optimizer](learning_rate=learning_rate, clip_norm=clip_norm)
