"""Optimizers over the flat parameter vector: SGD (with momentum) and Adam.

Both optionally clip the gradient to a maximum Euclidean norm first. The update itself runs
inside the training kernels (``rtrl._core``), so that a fully online learner updates at every
step without returning to Python; these objects hold the hyperparameters. The optimizer's
state (kept by the estimators with the model) is NumPy arrays, so it pickles.
"""

from __future__ import annotations

from typing import ClassVar

from ._params import HyperParameters

__all__ = ["SGD", "Adam", "Optimizer", "make_optimizer"]


class Optimizer(HyperParameters):
    """Base class: hyperparameters of an update rule on the flat parameter vector."""

    name: ClassVar[str]
    kind: ClassVar[int]  # OptimizerKind in rtrl/_core.pyx

    def __init__(self, learning_rate: float = 1e-3, clip_norm: float | None = None):
        if not learning_rate > 0:
            raise ValueError(f"learning_rate must be positive, got {learning_rate!r}")
        if clip_norm is not None and not clip_norm > 0:
            raise ValueError(f"clip_norm must be None or positive, got {clip_norm!r}")
        self.learning_rate = float(learning_rate)
        self.clip_norm = None if clip_norm is None else float(clip_norm)

    def to_kernel(self, alpha: float = 0.0) -> dict:
        """The optimizer as the kernels see it (``OptSpec`` in ``rtrl._core``)."""
        return {
            "kind": self.kind,
            "learning_rate": self.learning_rate,
            "clip_norm": 0.0 if self.clip_norm is None else self.clip_norm,
            "alpha": float(alpha),
            **self._kernel_params(),
        }

    def _kernel_params(self) -> dict:
        return {}


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional (heavy-ball) momentum.

    :math:`v \leftarrow \mu v - \eta g,\ w \leftarrow w + v`.
    """

    name = "sgd"
    kind = 1

    def __init__(self, learning_rate=1e-2, momentum: float = 0.0, clip_norm=None):
        super().__init__(learning_rate, clip_norm)
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must be in [0, 1), got {momentum!r}")
        self.momentum = float(momentum)

    def _kernel_params(self):
        return {"momentum": self.momentum}


class Adam(Optimizer):
    r"""Adam (Kingma & Ba 2015) with bias correction.

    :math:`m \leftarrow \beta_1 m + (1-\beta_1) g,\ v \leftarrow \beta_2 v + (1-\beta_2) g^2,\
    w \leftarrow w - \eta\, \hat m / (\sqrt{\hat v} + \epsilon)`.
    """

    name = "adam"
    kind = 2

    def __init__(self, learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-8, clip_norm=None):
        super().__init__(learning_rate, clip_norm)
        for what, b in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= b < 1.0:
                raise ValueError(f"{what} must be in [0, 1), got {b!r}")
        if not epsilon > 0:
            raise ValueError(f"epsilon must be positive, got {epsilon!r}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _kernel_params(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam}


def make_optimizer(
    optimizer: str | Optimizer, learning_rate: float, clip_norm=None, momentum: float = 0.0
) -> Optimizer:
    """An optimizer from a name (with the given learning rate, clipping and, for SGD,
    momentum) or an object, which brings its own hyperparameters."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if not isinstance(optimizer, str):
        raise TypeError(f"optimizer must be 'sgd', 'adam' or an Optimizer, got {optimizer!r}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {sorted(OPTIMIZERS)}")
    if optimizer == "sgd":
        return SGD(learning_rate, momentum=momentum, clip_norm=clip_norm)
    return OPTIMIZERS[optimizer](learning_rate=learning_rate, clip_norm=clip_norm)
