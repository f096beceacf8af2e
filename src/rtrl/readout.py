"""Linear readout and losses.

The readout is :math:`\\hat y_t = V h_t + c`; its loss per step, weighted by the per-step
``sample_weight`` :math:`w_t`, gives the sequence objective :math:`\\sum_t w_t L_t`:

* ``"squared_error"``: :math:`L_t = \\tfrac12 \\lVert \\hat y_t - y_t \\rVert^2`, summed over
  outputs (regression; ``y`` is ``(n_steps,)`` or ``(n_steps, n_outputs)``);
* ``"cross_entropy"`` (alias ``"log_loss"``): :math:`L_t = -\\log \\mathrm{softmax}(\\hat
  y_t)[y_t]` (classification; ``y`` holds class indices ``0 .. n_outputs-1``).

The arithmetic runs inside the kernels (``rtrl._cells.readout_loss``); this module names the
losses and validates targets.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

__all__ = ["LOSSES", "CrossEntropy", "Loss", "SquaredError", "make_loss"]


class Loss:
    """A per-step loss of the readout."""

    name: ClassVar[str]
    kind: ClassVar[int]  # LossKind in rtrl/_cells.pxd

    def targets(self, y, n_steps: int, n_outputs: int, dtype):
        """Validated kernel inputs ``(Y, labels)`` for ``y``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def _check_length(y: np.ndarray, n_steps: int) -> None:
    if y.shape[0] != n_steps:
        raise ValueError(f"y has {y.shape[0]} steps but X has {n_steps}")


class SquaredError(Loss):
    """Squared error ½‖ŷ_t − y_t‖², summed over outputs."""

    name = "squared_error"
    kind = 0

    def targets(self, y, n_steps, n_outputs, dtype):
        try:
            Y = np.asarray(y, dtype=dtype)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"y must be numeric for the squared error: {exc}") from None
        if Y.ndim == 1:
            Y = Y[:, None]
        if Y.ndim != 2:
            raise ValueError(f"y must be 1-D or 2-D, got an array of shape {np.shape(y)}")
        _check_length(Y, n_steps)
        if Y.shape[1] != n_outputs:
            raise ValueError(f"y has {Y.shape[1]} outputs but the readout has {n_outputs}")
        if not np.isfinite(Y).all():
            raise ValueError("y contains NaN or infinity")
        return np.ascontiguousarray(Y), np.empty(0, dtype=np.intp)


class CrossEntropy(Loss):
    """Softmax cross-entropy −log softmax(ŷ_t)[y_t] with integer class indices."""

    name = "cross_entropy"
    kind = 1

    def targets(self, y, n_steps, n_outputs, dtype):
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D class indices, got an array of shape {y.shape}")
        _check_length(y, n_steps)
        if y.dtype.kind == "f":
            if not np.isfinite(y).all():
                raise ValueError("y contains NaN or infinity")
            if not np.all(y == np.round(y)):
                raise ValueError("y must hold integer class indices for the cross-entropy")
        elif y.dtype.kind not in "iub":
            raise ValueError(f"y must hold integer class indices, got dtype {y.dtype}")
        # range-checked before the cast, which would wrap 2**63 or 1e30 around
        if y.size and (y.min() < 0 or y.max() >= n_outputs):
            raise ValueError(
                f"class indices must be in [0, {n_outputs}) for a readout with "
                f"{n_outputs} outputs; got values in [{y.min()}, {y.max()}]"
            )
        labels = y.astype(np.intp)
        if n_outputs < 2:
            raise ValueError("the cross-entropy needs a readout with at least 2 outputs")
        return np.empty((0, 0), dtype=dtype), np.ascontiguousarray(labels)


LOSSES: dict[str, type[Loss]] = {
    "squared_error": SquaredError,
    "cross_entropy": CrossEntropy,
    "log_loss": CrossEntropy,
}


def make_loss(loss: str | Loss) -> Loss:
    """A loss object from a loss or its name."""
    if isinstance(loss, Loss):
        return loss
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a string or a Loss, got {loss!r}")
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(LOSSES)}")
    return LOSSES[loss]()
