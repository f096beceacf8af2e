"""Gradient algorithms (learners): how the error signal becomes a gradient, online or not.

Every learner consumes what the cells provide each step -- the state Jacobian D_t and the
immediate Jacobian in Kronecker form (G_g, z_g) -- and never a dense I_t. A learner object
holds only its hyperparameters; its state (the influence matrix for RTRL) is a NumPy array
handed to its Cython kernel, so it can be pickled or resumed with the model.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from . import _core
from .cells import Layout

__all__ = ["BPTT", "LEARNERS", "RTRL", "Learner", "make_learner"]


class Learner:
    """Base class of the gradient algorithms."""

    name: ClassVar[str]
    #: True if the learner's gradient equals BPTT's (to rounding) for fixed parameters.
    exact: ClassVar[bool] = False
    #: True if the learner can run online (no look-ahead over the sequence).
    online: ClassVar[bool] = True

    def state_bytes(self, layout: Layout, itemsize: int, n_steps: int) -> int:
        """Bytes of the learner's state for this network (and sequence length, if it
        stores the sequence)."""
        raise NotImplementedError

    def init_state(self, layout: Layout, dtype) -> dict[str, np.ndarray]:
        """Fresh learner state at the start of a stream."""
        return {}

    def run(
        self, layout, w, X, Y, labels, weights, state, learner_state, grad, loss_kind, n_threads
    ):
        """Advance over one chunk, accumulating the gradient estimate into ``grad``.

        ``state`` (s_t) and ``learner_state`` are updated in place; returns the weighted loss.
        """
        raise NotImplementedError

    def get_params(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.get_params() == other.get_params()

    def __hash__(self) -> int:
        return hash((type(self).__name__, tuple(sorted(self.get_params().items()))))


def influence_block_width(state_size: int, n_columns: int, itemsize: int = 8) -> int:
    """Width of the column blocks of J processed by one thread in one GEMM.

    Small influence matrices (S * P <= 16384) are one block: splitting them costs more than
    it gains. Otherwise 256 columns, or 128 where an S x 256 block would exceed 256 KiB (half
    the L2 cache of the benchmark machine): measured there (benchmarks/), the fastest widths
    for n = 32 .. 128 with one and two threads. The block stays in cache while I_t is added
    and the gradient read out. The width depends on S, P and the dtype only, so results do
    not depend on the number of threads.
    """
    if state_size * n_columns <= 16384:
        return int(n_columns)
    width = 256 if state_size * 256 * itemsize <= 256 * 1024 else 128
    return int(min(width, n_columns))


class RTRL(Learner):
    r"""Exact Real-Time Recurrent Learning (Williams & Zipser 1989).

    Carries the influence matrix :math:`J_t = \partial s_t / \partial \theta` (S x P) forward:

    .. math::
        J_t = D_t J_{t-1} + I_t,\qquad g_t = \bar e_t J_t,

    where :math:`\bar e_t = \partial L_t / \partial s_t` and
    :math:`I_t = \sum_g G_g \otimes z_g^\top`. With the parameters fixed, :math:`\sum_t g_t`
    is the exact gradient -- equal to BPTT's to rounding.

    Parameters
    ----------
    block_width : int or None
        Columns of J per GEMM (one thread's unit of work). None picks a cache-sized width
        from S and P; results never depend on the number of threads, only on this width.

    Notes
    -----
    Cost per step :math:`2 S^2 P` flops (one GEMM; :math:`O(n^4)` for an Elman cell with
    P = n(n+m+2)); memory :math:`S (P + w)` numbers for the influence matrix, w the block
    width (see ``rtrl._core``), plus one S x w buffer per thread.

    References
    ----------
    R. J. Williams and D. Zipser, "A learning algorithm for continually running fully
    recurrent neural networks", Neural Computation 1(2), 1989.
    """

    name = "rtrl"
    exact = True

    def __init__(self, block_width: int | None = None):
        if block_width is not None and (
            isinstance(block_width, bool) or not isinstance(block_width, int) or block_width < 1
        ):
            raise ValueError(
                f"block_width must be None or a positive integer, got {block_width!r}"
            )
        self.block_width = block_width

    def get_params(self) -> dict:
        return {"block_width": self.block_width}

    def _width(self, layout: Layout, itemsize: int) -> int:
        S, P = layout.state_size, layout.n_recurrent_params
        return min(self.block_width or influence_block_width(S, P, itemsize), P)

    def state_bytes(self, layout, itemsize, n_steps):
        S, P = layout.state_size, layout.n_recurrent_params
        return S * (P + self._width(layout, itemsize)) * itemsize

    def init_state(self, layout, dtype):
        S, P = layout.state_size, layout.n_recurrent_params
        width = self._width(layout, np.dtype(dtype).itemsize)
        return {"store": np.zeros((S, P + width), dtype), "shift": 0, "width": width}

    @staticmethod
    def influence(learner_state) -> np.ndarray:
        """The influence matrix J_t (S x P): a view into the learner state.

        J lives in a storage one column block wider than itself and moves by one block each
        step (see ``rtrl._core``); ``shift`` says where it is now.
        """
        store, shift = learner_state["store"], learner_state["shift"]
        P = store.shape[1] - learner_state["width"]
        return store[:, shift : shift + P]

    def run(
        self, layout, w, X, Y, labels, weights, state, learner_state, grad, loss_kind, n_threads
    ):
        total, learner_state["shift"] = _core.rtrl_run(
            layout.to_kernel(),
            w,
            X,
            Y,
            labels,
            weights,
            state,
            learner_state["store"],
            learner_state["shift"],
            grad,
            loss_kind,
            n_threads,
        )
        return total


class BPTT(Learner):
    r"""Full backpropagation through time over each sequence (the oracle; not online).

    .. math::
        \delta_T = \bar e_T,\quad \delta_t = \bar e_t + \delta_{t+1} D_{t+1},\quad
        g = \sum_t \delta_t I_t .

    Stores the states and error signals of the sequence (2 T S numbers) and recomputes each
    step's Jacobians on the way back; cost :math:`O(T S^2)`.
    """

    name = "bptt"
    exact = True
    online = False

    def state_bytes(self, layout, itemsize, n_steps):
        return (2 * n_steps + 1) * layout.state_size * itemsize

    def run(
        self, layout, w, X, Y, labels, weights, state, learner_state, grad, loss_kind, n_threads
    ):
        return _core.bptt_run(layout.to_kernel(), w, X, Y, labels, weights, state, grad, loss_kind)


LEARNERS: dict[str, type[Learner]] = {c.name: c for c in (RTRL, BPTT)}


def make_learner(learner: str | Learner) -> Learner:
    """A learner object from a learner or its name (``"rtrl"``, ``"bptt"``)."""
    if isinstance(learner, Learner):
        return learner
    if not isinstance(learner, str):
        raise TypeError(f"learner must be a Learner or one of {sorted(LEARNERS)}, got {learner!r}")
    if learner not in LEARNERS:
        raise ValueError(f"unknown learner {learner!r}; choose one of {sorted(LEARNERS)}")
    return LEARNERS[learner]()
