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
from ._params import HyperParameters
from .cells import Layout

__all__ = ["BPTT", "LEARNERS", "RTRL", "Learner", "make_learner"]


def new_update_state(n_params: int, dtype, optimizer=None, pmask=None, dmask=None) -> dict:
    """What the training kernels carry between calls besides the streams: the gradient summed
    over the current update window, the optimizer's state and the divergence record."""
    ones = np.ones(n_params, dtype=dtype)
    return {
        "optimizer": {"kind": 0} if optimizer is None else optimizer.to_kernel(),
        "pmask": ones if pmask is None else np.ascontiguousarray(pmask, dtype=dtype),
        "dmask": ones if dmask is None else np.ascontiguousarray(dmask, dtype=dtype),
        "acc": np.zeros(n_params, dtype=dtype),
        "window": np.zeros(2, dtype=np.intp),  # stream-steps and time steps in the window
        "m": np.zeros(n_params, dtype=dtype),
        "v": np.zeros(n_params, dtype=dtype),
        "t": np.zeros(1, dtype=np.intp),
        "diverged": np.array([0, -1], dtype=np.intp),  # events, first row
    }


class Learner(HyperParameters):
    """Base class of the gradient algorithms.

    A learner turns a chunk of B sequences, advanced side by side, into gradient estimates
    summed into ``update["acc"]``, and lets the optimizer apply their mean every
    ``update_every`` time steps (0: at the end of the chunk; -1: never, for
    :func:`rtrl.sequence_gradient`). All its state is NumPy arrays.
    """

    name: ClassVar[str]
    #: True if the learner's gradient equals BPTT's (to rounding) for fixed parameters.
    exact: ClassVar[bool] = False
    #: True if the learner runs online: its state carries over from one chunk to the next,
    #: and it can update the parameters at any step.
    online: ClassVar[bool] = True

    def state_bytes(self, layout: Layout, itemsize: int, n_steps: int) -> int:
        """Bytes of the learner's state for one stream of this network (and sequence length,
        if it stores the sequence)."""
        raise NotImplementedError

    def init_state(self, layout: Layout, dtype, n_streams: int = 1) -> dict:
        """Fresh learner state for ``n_streams`` streams."""
        return {}

    def reset_stream(self, learner_state: dict, stream: int) -> None:
        """Start stream ``stream`` afresh (its influence to zero)."""

    def swap_streams(self, learner_state: dict, a: int, b: int) -> None:
        """Exchange the states of two streams."""

    def train(
        self,
        layout: Layout,
        w,
        X,
        Y,
        labels,
        weights,
        starts,
        lengths,
        states,
        learner_state: dict,
        update: dict,
        update_every: int,
        loss_kind: int,
        n_threads: int,
    ) -> tuple[float, int]:
        """Advance the streams over their sequences (rows ``starts[b]`` onwards, ``lengths[b]``
        of them), updating ``w`` on the way. Returns (weighted loss sum, stream-steps)."""
        raise NotImplementedError


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

    def _width(self, layout: Layout, itemsize: int) -> int:
        S, P = layout.state_size, layout.n_recurrent_params
        return min(self.block_width or influence_block_width(S, P, itemsize), P)

    def state_bytes(self, layout, itemsize, n_steps):
        S, P = layout.state_size, layout.n_recurrent_params
        return S * (P + self._width(layout, itemsize)) * itemsize

    def init_state(self, layout, dtype, n_streams=1):
        S, P = layout.state_size, layout.n_recurrent_params
        width = self._width(layout, np.dtype(dtype).itemsize)
        return {
            "store": np.zeros((n_streams, S, P + width), dtype),
            "shift": np.zeros(n_streams, dtype=np.intp),
            "width": width,
        }

    def reset_stream(self, learner_state, stream):
        learner_state["store"][stream] = 0.0
        learner_state["shift"][stream] = 0

    def swap_streams(self, learner_state, a, b):
        store, shift = learner_state["store"], learner_state["shift"]
        store[[a, b]] = store[[b, a]]
        shift[[a, b]] = shift[[b, a]]

    @staticmethod
    def influence(learner_state, stream: int = 0) -> np.ndarray:
        """The influence matrix J_t (S x P) of a stream: a view into the learner state.

        J lives in a storage one column block wider than itself and moves by one block each
        step (see ``rtrl._core``); ``shift`` says where it is now.
        """
        store = learner_state["store"][stream]
        shift = int(learner_state["shift"][stream])
        P = store.shape[1] - learner_state["width"]
        return store[:, shift : shift + P]

    def train(
        self,
        layout,
        w,
        X,
        Y,
        labels,
        weights,
        starts,
        lengths,
        states,
        learner_state,
        update,
        update_every,
        loss_kind,
        n_threads,
    ):
        B = len(starts)
        return _core.rtrl_train(
            layout.to_kernel(),
            update["optimizer"],
            w,
            update["pmask"],
            update["dmask"],
            X,
            Y,
            labels,
            weights,
            starts,
            lengths,
            states[:B],
            learner_state["store"][:B],
            learner_state["shift"][:B],
            update["acc"],
            update["window"],
            update["m"],
            update["v"],
            update["t"],
            update_every,
            loss_kind,
            n_threads,
            update["diverged"],
        )


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

    def train(
        self,
        layout,
        w,
        X,
        Y,
        labels,
        weights,
        starts,
        lengths,
        states,
        learner_state,
        update,
        update_every,
        loss_kind,
        n_threads,
    ):
        # not online: one update per chunk, at its end, whatever update_every says
        return _core.bptt_train(
            layout.to_kernel(),
            update["optimizer"],
            w,
            update["pmask"],
            update["dmask"],
            X,
            Y,
            labels,
            weights,
            starts,
            lengths,
            states[: len(starts)],
            update["acc"],
            update["window"],
            update["m"],
            update["v"],
            update["t"],
            -1 if update_every < 0 else 0,
            loss_kind,
            update["diverged"],
        )


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
