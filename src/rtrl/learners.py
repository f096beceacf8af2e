"""Gradient algorithms (learners): how the error signal becomes a gradient, online or not.

Every learner consumes what the cells provide each step -- the state Jacobian D_t and the
immediate Jacobian in Kronecker form (G_g, z_g) -- and never a dense I_t. A learner object
holds only its hyperparameters; its state (the influence matrix for RTRL) is a NumPy array
handed to its Cython kernel, so it can be pickled or resumed with the model.
"""

from __future__ import annotations

import copy
from typing import ClassVar

import numpy as np

from . import _core
from ._memory import InfluenceMemoryError
from ._params import HyperParameters
from .cells import Layout

__all__ = [
    "BPTT",
    "KF",
    "LEARNERS",
    "OK",
    "RTRL",
    "TBPTT",
    "UORO",
    "Learner",
    "OnlineLearner",
    "SnAp",
    "make_learner",
]


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

    def init_state(self, layout: Layout, dtype, n_streams: int = 1, random_state=None) -> dict:
        """Fresh learner state for ``n_streams`` streams (random learners seed their
        generators from ``random_state``)."""
        return {}

    def scheduled(self, update_every: int | None) -> Learner:
        """This learner for a parameter schedule: ``update_every`` = k (the parameters
        change every k steps) or None (once per sequence, or never). Learners with
        schedule-dependent forms (exact RTRL's ``window="auto"``) resolve them here."""
        return self

    def flush_streams(
        self,
        layout: Layout,
        learner_state: dict,
        acc: np.ndarray,
        *,
        w: np.ndarray | None = None,
        update: dict | None = None,
        loss_kind: int = 0,
        update_every: int = 0,
    ) -> None:
        """Add to ``acc`` the gradient that the streams still hold back (learners that
        defer work to windows, like SnAp-1) and bring their state up to date. Call it
        before resetting a stream whose sequence did not end inside a training call.

        UORO's open windows need the weights ``w`` of their steps (an open window without
        them is a ValueError). TBPTT closes its open windows as a sequence's end would: that
        needs the weights ``w`` and the ``update`` state (``acc`` is ``update["acc"]``), and
        applies the update unless ``update_every`` < 0; without them it does nothing."""

    def check_state(self, layout: Layout, learner_state, dtype, n_streams: int) -> None:
        """Raise ValueError unless ``learner_state`` fits this learner, ``layout``, ``dtype``
        and ``n_streams`` streams (a learner that carries nothing between chunks accepts
        any)."""

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
    it gains. Otherwise the widest of 512, 256 and 128 columns whose S x w block fits in
    512 KiB (the L2 cache of a core of the benchmark machine), where BLAS packs it once and
    it stays while I_t is added and the gradient read out: measured there (``rtrl bench``,
    n = 64 .. 256, float32 and float64), 512 columns lift n = 128 float64 from 0.87 to 0.99
    of the GEMM bound and are as fast as 256 elsewhere. The width depends on S, P and the
    dtype only, so results do not depend on the number of threads.
    """
    if state_size * n_columns <= 16384:
        return int(n_columns)
    width = 128
    for candidate in (512, 256):
        if state_size * candidate * itemsize <= 512 * 1024:
            width = candidate
            break
    return int(min(width, n_columns))


class OnlineLearner(Learner):
    """A learner whose per-stream state is carried forward step by step (the kernels'
    ``online_train``; TBPTT has a loop of its own).

    Its state is ``{"values": (n_streams, values_size) floats, "ints": (n_streams, n_ints)
    int64}``; random learners keep their generator (4 words, xoshiro256**) at the start of
    ``ints``, and restarting a stream keeps it going.
    """

    kind: ClassVar[int]  # LearnerKind in rtrl/_core.pyx
    n_ints: ClassVar[int] = 1
    random: ClassVar[bool] = False

    def values_size(self, layout: Layout, itemsize: int) -> int:
        raise NotImplementedError

    def ints_size(self, layout: Layout) -> int:
        """Integers per stream (``n_ints``)."""
        return self.n_ints

    def kernel_spec(self, layout: Layout, itemsize: int) -> dict:
        return {"kind": self.kind, "kept_ints": 4 if self.random else 0}

    def state_bytes(self, layout, itemsize, n_steps):
        return self.values_size(layout, itemsize) * itemsize + self.ints_size(layout) * 8

    def check_state(self, layout: Layout, learner_state, dtype, n_streams: int) -> None:
        """Raise ValueError unless ``learner_state`` is this learner's state for ``layout``,
        ``dtype`` and at least ``n_streams`` streams (a state made by another learner or
        another network would send the kernels outside its arrays)."""
        dtype = np.dtype(dtype)
        values = learner_state.get("values") if isinstance(learner_state, dict) else None
        ints = learner_state.get("ints") if isinstance(learner_state, dict) else None
        if (
            not isinstance(values, np.ndarray)
            or not isinstance(ints, np.ndarray)
            or values.dtype != dtype
            or ints.dtype != np.int64
            or values.ndim != 2
            or ints.ndim != 2
            or values.shape != (values.shape[0], self.values_size(layout, dtype.itemsize))
            or ints.shape != (values.shape[0], self.ints_size(layout))
            or values.shape[0] < n_streams
            or not values.flags.c_contiguous
            or not ints.flags.c_contiguous
        ):
            raise ValueError(
                f"inconsistent learner state: it does not belong to {self!r} on this network "
                "(was the learner, update_every or density changed since it was made?)"
            )

    def init_state(self, layout, dtype, n_streams=1, random_state=None):
        itemsize = np.dtype(dtype).itemsize
        ints = np.zeros((n_streams, self.ints_size(layout)), dtype=np.int64)
        if self.random:
            from sklearn.utils import check_random_state

            rng = check_random_state(random_state)
            seeds = rng.randint(1, 2**63 - 1, size=(n_streams, 4), dtype=np.int64)
            ints[:, :4] = seeds
        return {
            "values": np.zeros((n_streams, self.values_size(layout, itemsize)), dtype=dtype),
            "ints": ints,
        }

    def windowed(self, layout: Layout) -> bool:
        """True if the kernel defers work to windows of steps (see :meth:`flush_streams`)."""
        return False

    def flush_streams(self, layout, learner_state, acc, *, w=None, **context):
        # w: the weights of the windows' steps (UORO's tangent needs them)
        if self.windowed(layout):
            self.check_state(layout, learner_state, acc.dtype, 0)
            _core.flush_windows(
                layout.to_kernel(),
                self.kernel_spec(layout, acc.dtype.itemsize),
                learner_state["values"],
                learner_state["ints"],
                acc,
                w,
            )

    def reset_stream(self, learner_state, stream):
        learner_state["values"][stream] = 0.0
        learner_state["ints"][stream, 4 if self.random else 0 :] = 0

    def swap_streams(self, learner_state, a, b):
        for key in ("values", "ints"):
            arr = learner_state[key]
            arr[[a, b]] = arr[[b, a]]

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
        ends,
        states,
        learner_state,
        update,
        update_every,
        loss_kind,
        n_threads,
    ):
        B = len(starts)
        self.check_state(layout, learner_state, w.dtype, B)
        return _core.online_train(
            layout.to_kernel(),
            self.kernel_spec(layout, w.dtype.itemsize),
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
            np.ascontiguousarray(ends, dtype=np.intp),
            states[:B],
            learner_state["values"][:B],
            learner_state["ints"][:B],
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


class RTRL(OnlineLearner):
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
    window : "auto" or int, default="auto"
        Steps per window of the block form (below); 0 forces the per-step form. ``"auto"``
        is resolved from the schedule (:meth:`scheduled`): the per-step form when the
        parameters change every step (``update_every=1``), windows of
        ``min(update_every, 32)`` steps otherwise (32 when they change once per sequence or
        never, as in :func:`rtrl.sequence_gradient`). An unresolved ``"auto"`` is per-step.

    Notes
    -----
    Cost per step :math:`2 S^2 P` flops (one GEMM; :math:`O(n^4)` for an Elman cell with
    P = n(n+m+2)); memory :math:`S (P + w)` numbers for the influence matrix, w the block
    width (see ``rtrl._core``), plus one S x w buffer per thread.

    On a sparse network (a ``weight_hh`` mask of density d, ``density`` in the estimators)
    the columns of the masked weights are not stored (P' instead of P columns) and
    :math:`D_t` is applied through its structure (nnz(D) ~ d S^2 entries): cost
    :math:`2\,\mathrm{nnz}(D) P'` per step, memory :math:`S (P' + w)`.

    **Block form** (Schmidhuber 1992). While the parameters are fixed over a window of k
    steps, the recurrence unrolls into

    .. math::
        J_{t+k} = \Phi J_t + \sum_s \Phi_s I_s,\qquad
        \sum_s \bar e_s J_s = \lambda^\top J_t + \sum_s \delta_s^\top I_s,

    with :math:`\Phi_s = D_{t+k} \cdots D_{s+1}`, :math:`\Phi = \Phi_t`, the window's
    adjoints :math:`\delta_s = \bar e_s + D_{s+1}^\top \delta_{s+1}` (BPTT inside the
    window) and :math:`\lambda = D_{t+1}^\top \delta_{t+1}`. Each step only stores
    :math:`(D_s, G_s, z_s, \bar e_s)`; the window's end costs k state products
    (:math:`S^3` each), one GEMM :math:`\Phi J_t` (:math:`2 S^2 P`) and, for the
    Kronecker-structured immediate terms, GEMMs of inner dimension k (:math:`2 S P k`):
    amortised :math:`O(S^2 P / k + S^3 + S P)` per step instead of :math:`O(S^2 P)`. The
    result is the per-step form's with the same parameter schedule, to rounding. Memory: k
    state Jacobians and immediate terms more, :math:`k (S^2 + \sum_g S r_g + \sum_g K_g +
    S)` numbers. It pays from a few steps per window on (the S^2 P product dominates the
    per-step form for every n), most for large n; windows close when full, at a sequence's
    end, before an update and when a stream is reset, so the numbers do not depend on how
    ``partial_fit`` calls cut the stream. Dense networks only (sparse ones use the per-step
    form, which already skips the masked columns).

    References
    ----------
    R. J. Williams and D. Zipser, "A learning algorithm for continually running fully
    recurrent neural networks", Neural Computation 1(2), 1989.

    J. Schmidhuber, "A fixed size storage O(n^3) time complexity learning algorithm for
    fully recurrent continually running networks", Neural Computation 4(2), 1992.
    """

    name = "rtrl"
    exact = True
    kind = 0

    n_ints = 2  # the column shift of J, steps in the open window
    #: Longest window ``window="auto"`` picks.
    max_auto_window: ClassVar[int] = 32

    def __init__(self, block_width: int | None = None, window: int | str = "auto"):
        if block_width is not None and (
            isinstance(block_width, bool) or not isinstance(block_width, int) or block_width < 1
        ):
            raise ValueError(
                f"block_width must be None or a positive integer, got {block_width!r}"
            )
        if window != "auto" and (
            isinstance(window, bool) or not isinstance(window, int) or window < 0
        ):
            raise ValueError(f'window must be "auto" or a non-negative integer, got {window!r}')
        self.block_width = block_width
        self.window = window

    def scheduled(self, update_every):
        if self.window != "auto":
            return self
        if update_every == 1:
            window = 0
        elif update_every is None or update_every <= 0:
            window = self.max_auto_window
        else:
            window = min(update_every, self.max_auto_window)
        return type(self)(block_width=self.block_width, window=window)

    def windowed(self, layout):
        return self.window != "auto" and self.window > 0 and layout.weight_hh_mask is None

    def _window_size(self, layout: Layout) -> int:
        if not self.windowed(layout):
            return 0
        k = layout.to_kernel()
        S = layout.state_size
        return self.window * (S * S + k["G_size"] + k["z_size"] + S)

    @staticmethod
    def _stored_columns(layout: Layout) -> np.ndarray:
        """Flat indices of the parameters whose influence columns are stored: all recurrent
        parameters, less the masked entries of weight_hh on a sparse network."""
        P = layout.n_recurrent_params
        if layout.weight_hh_mask is None:
            return np.arange(P, dtype=np.intp)
        index = layout._views(np.arange(layout.n_params))["weight_hh"]
        keep = np.ones(P, dtype=bool)
        keep[index[~np.asarray(layout.weight_hh_mask, dtype=bool)]] = False
        return np.flatnonzero(keep).astype(np.intp)

    @staticmethod
    def _n_stored_columns(layout: Layout) -> int:
        """``len(_stored_columns(layout))``, counted without building the index (the memory
        check sizes networks far too large to allocate)."""
        if layout.weight_hh_mask is None:
            return layout.n_recurrent_params
        return layout.n_recurrent_params - int(np.sum(~np.asarray(layout.weight_hh_mask, bool)))

    def _width(self, layout: Layout, itemsize: int) -> int:
        S, P = layout.state_size, self._n_stored_columns(layout)
        return min(self.block_width or influence_block_width(S, P, itemsize), P)

    def values_size(self, layout, itemsize):
        S, P = layout.state_size, self._n_stored_columns(layout)
        return S * (P + self._width(layout, itemsize)) + self._window_size(layout)

    def kernel_spec(self, layout, itemsize):
        spec = {**super().kernel_spec(layout, itemsize), "width": self._width(layout, itemsize)}
        if self.windowed(layout):
            spec["window"] = self.window
            spec["window_base"] = self.values_size(layout, itemsize) - self._window_size(layout)
        if layout.weight_hh_mask is None:
            return spec
        # a sparse network: compressed columns and the structure of D_t
        cols = self._stored_columns(layout)
        kernel = layout.to_kernel()
        offsets, widths, rows = kernel["offset"], kernel["width"], kernel["rows"]
        group = np.searchsorted(offsets, cols, side="right") - 1
        within = cols - np.asarray(offsets)[group]
        j, k = within // np.asarray(widths)[group], within % np.asarray(widths)[group]
        first_block = np.concatenate([[0], np.cumsum(rows)[:-1]])
        imm = np.hstack(layout.cell.immediate_pattern(layout))  # S x (sum of r_g)
        block_col, block_row = np.nonzero(imm.T)
        d_rows, d_cols = np.nonzero(layout.cell.state_jacobian_pattern(layout))
        S = layout.state_size
        block_group = np.repeat(np.arange(len(rows)), rows)
        block_j = np.arange(imm.shape[1]) - first_block[block_group]
        return {
            **spec,
            "n_columns": len(cols),
            "param": cols,
            "block": (first_block[group] + j).astype(np.intp),
            "zpos": (np.asarray(kernel["z_offset"])[group] + k).astype(np.intp),
            "imm_ptr": np.concatenate(
                [[0], np.cumsum(np.bincount(block_col, minlength=imm.shape[1]))]
            ).astype(np.intp),
            "imm_rows": block_row.astype(np.intp),
            "gpos": (np.asarray(kernel["G_offset"])[block_group] + block_j).astype(np.intp),
            "grow": np.asarray(rows, dtype=np.intp)[block_group],
            "d_ptr": np.concatenate([[0], np.cumsum(np.bincount(d_rows, minlength=S))]).astype(
                np.intp
            ),
            "d_cols": d_cols.astype(np.intp),
        }

    def influence(self, learner_state, layout: Layout, stream: int = 0) -> np.ndarray:
        """The influence matrix J_t (S x P) of a stream: a view into the learner state.

        J lives in a storage one column block wider than itself and moves by one block each
        step (see ``rtrl._core``); the stream's first integer says where it is now.
        """
        values = learner_state["values"][stream]
        ints = learner_state["ints"][stream]
        if self.windowed(layout) and ints[1] > 0:  # bring a copy up to date with its window
            caught_up = {k: v[stream : stream + 1].copy() for k, v in learner_state.items()}
            self.flush_streams(layout, caught_up, np.zeros(layout.n_params, values.dtype))
            values, ints = caught_up["values"][0], caught_up["ints"][0]
        S = layout.state_size
        cols = self._stored_columns(layout)
        store = values[: values.size - self._window_size(layout)].reshape(S, -1)
        shift = int(ints[0])
        stored = store[:, shift : shift + len(cols)]
        if len(cols) == layout.n_recurrent_params:
            return stored
        J = np.zeros((S, layout.n_recurrent_params), dtype=values.dtype)
        J[:, cols] = stored  # a copy: the masked columns are not stored
        return J


class BPTT(Learner):
    r"""Full backpropagation through time over each sequence (the oracle; not online).

    .. math::
        \delta_T = \bar e_T,\quad \delta_t = \bar e_t + \delta_{t+1} D_{t+1},\quad
        g = \sum_t \delta_t I_t .

    Stores the states and error signals of the sequence (2 T S numbers) and recomputes each
    step's Jacobians on the way back; cost :math:`O(T S^2)` per sequence. In an estimator it
    updates once per group of sequences, at its end; within ``partial_fit`` it back-propagates
    through each call's part of a sequence only.
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
        ends,
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


class TBPTT(OnlineLearner):
    r"""Truncated backpropagation through time with windows of ``truncation`` steps.

    The stream is cut into windows of k steps (and at the end of each sequence); when a
    window closes, its losses are back-propagated through that window only
    (:math:`\delta` starts at zero at the window's end), the update is applied, and the
    state -- not the gradient -- carries into the next window. Windows span ``partial_fit``
    calls. It updates at every window's end whatever ``update_every`` says.

    Biased: influences longer than the window are ignored (Tallec & Ollivier's
    influence-balancing task shows it converging to the wrong solution). With
    ``truncation`` at least the sequence length it is BPTT.

    Cost :math:`O(S^2)` per step (twice the forward pass); memory: the open window, k + 1
    states plus k inputs, targets and weights.

    Parameters
    ----------
    truncation : int, default=20
        Window length k.
    """

    name = "tbptt"
    online = True

    def __init__(self, truncation: int = 20):
        if isinstance(truncation, bool) or not isinstance(truncation, int) or truncation < 1:
            raise ValueError(f"truncation must be a positive integer, got {truncation!r}")
        self.truncation = truncation

    def values_size(self, layout, itemsize):
        # the open window: k + 1 states, k inputs, targets, weights and labels
        k = self.truncation
        return (k + 1) * layout.state_size + k * (layout.n_features + layout.n_outputs + 2)

    def flush_streams(
        self, layout, learner_state, acc, *, w=None, update=None, loss_kind=0, update_every=0
    ):
        # the windows a sequence's last call left open are back-propagated now, as the
        # sequence's end would have done inside one call
        if w is None or update is None or not np.any(learner_state["ints"][:, 0] > 0):
            return
        B, dt = learner_state["ints"].shape[0], w.dtype
        none = np.zeros(B, dtype=np.intp)
        self.train(
            layout, w, np.empty((0, layout.n_features), dt), np.empty((0, 0), dt),
            np.empty(0, np.intp), np.empty(0, dt), none, none, np.ones(B, np.intp),
            np.zeros((B, layout.state_size), dt), learner_state, update, update_every,
            loss_kind, 1,
        )  # fmt: skip

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
        ends,
        states,
        learner_state,
        update,
        update_every,
        loss_kind,
        n_threads,
    ):
        B = len(starts)
        self.check_state(layout, learner_state, w.dtype, B)
        return _core.tbptt_train(
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
            ends,
            states[:B],
            learner_state["values"][:B],
            learner_state["ints"][:B],
            self.truncation,
            update["acc"],
            update["window"],
            update["m"],
            update["v"],
            update["t"],
            -1 if update_every < 0 else 0,
            loss_kind,
            update["diverged"],
        )


class UORO(OnlineLearner):
    r"""Unbiased Online Recurrent Optimization (Tallec & Ollivier 2017).

    Keeps a rank-one, unbiased estimate :math:`J_t \approx \tilde s_t \tilde\theta_t^\top`
    (:math:`\tilde s \in R^S`, :math:`\tilde\theta \in R^P`). Each step, with random signs
    :math:`\nu \in \{\pm 1\}^S`:

    .. math::
        a = D_t \tilde s_{t-1},\quad b = \nu^\top I_t = \sum_g (G_g^\top \nu) \otimes z_g,

        \rho_0 = \sqrt{\lVert\tilde\theta_{t-1}\rVert / (\lVert a\rVert + \epsilon)}
        + \epsilon,\quad
        \rho_1 = \sqrt{\lVert b\rVert / (\lVert \nu\rVert + \epsilon)} + \epsilon,

        \tilde s_t = \rho_0 a + \rho_1 \nu,\quad
        \tilde\theta_t = \tilde\theta_{t-1} / \rho_0 + b / \rho_1,\quad
        g_t = (\bar e_t \cdot \tilde s_t)\, \tilde\theta_t

    with :math:`\epsilon = 10^{-7}`. :math:`E[\tilde s_t \tilde\theta_t^\top] = J_t`.
    Cost :math:`O(S^2 + P)` per step (like the forward pass). Per step, one pass over
    :math:`\tilde\theta` updates it, reads the gradient out and computes the
    :math:`\lVert\tilde\theta\rVert^2` of the next step. Memory S + P numbers, and five
    64-bit integers (the generator's state and that norm).

    On networks of at least :attr:`window_min_params` recurrent parameters the same
    recurrence runs in windows of :attr:`window` steps (see :meth:`windowed`): the same
    signs, the same numbers to rounding, with the O(P) work done by GEMMs once per window.
    A stream then keeps two buffers of ``window`` slots (the filling window's and the
    running chain's) of :math:`K + \sum_g r_g + 2S + c` numbers each (the inputs
    :math:`z_t`, :math:`(G_g^\top\nu)_g`, :math:`\nu`, :math:`\bar e_t`, and the
    :math:`c` entries of :math:`D_t`'s factors its product reads: n for Elman, 4n for GRU,
    9n for LSTM, n times the outputs for Jordan), and :math:`12 + 7w + w^2` integers for
    ``window`` = w. Closing the windows needs the weights of their steps, so they close
    before every update.
    The signs come from a per-stream generator seeded by ``random_state``.

    References
    ----------
    C. Tallec and Y. Ollivier, "Unbiased Online Recurrent Optimization", ICLR 2018
    (arXiv:1702.05043).
    """

    name = "uoro"
    kind = 1
    random = True
    n_ints = 5  # the generator, then the bits of ||theta~||^2 (a float64)
    #: Steps per window of the windowed form (see :meth:`windowed`); 0 = per step.
    window: ClassVar[int] = 32
    #: The windowed form runs from this many recurrent parameters on; below it the
    #: per-step form is faster (its fixed costs per window outweigh the passes it saves).
    window_min_params: ClassVar[int] = 8192

    def windowed(self, layout: Layout) -> bool:
        r"""True if the kernel runs the recurrence in windows of :attr:`window` steps
        (networks of at least :attr:`window_min_params` recurrent parameters). A step then
        stores its signs :math:`\nu`, :math:`(G_g^\top\nu)_g`, :math:`z_t`,
        :math:`\bar e_t` and what :math:`D_t` needs (O(S + K) numbers). When a window
        fills, :math:`\tilde\theta_0 Z` and the window's Gram matrices come from GEMMs,
        and its tangent chain runs: for Elman one slot per step of the next window, its
        :math:`W_{hh}\tilde s` sharing the step's pass over the weights; for the other
        cells at once. At the chain's end
        two GEMMs per weight group bring :math:`\tilde\theta` and the gradient up to
        date. The passes over :math:`\tilde\theta` and the gradient (four P-sized streams
        per step) happen once per window; the result is the per-step recurrence's, to
        rounding."""
        return self.window > 0 and layout.n_recurrent_params >= self.window_min_params

    def ints_size(self, layout):
        # the generator, the bits of ||theta~||^2 (a float64); windowed: the filling
        # window's steps and buffer, the chain's position and scalars, per slot ||b_t||^2
        # and has_error, the chain's q0, beta, c alpha and Gram products (_uoro.pxi)
        if not self.windowed(layout):
            return self.n_ints
        return _core.uoro_window_sizes(layout.to_kernel(), self.window)[1]

    def values_size(self, layout, itemsize):
        size = layout.state_size + layout.n_recurrent_params
        if self.windowed(layout):
            slot = _core.uoro_window_sizes(layout.to_kernel(), self.window)[0]
            size += 2 * self.window * slot  # the filling window and the chain's
        return size

    def kernel_spec(self, layout, itemsize):
        spec = super().kernel_spec(layout, itemsize)
        if self.windowed(layout):
            spec["window"] = self.window
            spec["window_base"] = layout.state_size + layout.n_recurrent_params
        return spec

    def check_state(self, layout, learner_state, dtype, n_streams):
        if self.windowed(layout) and self._is_per_step_state(layout, learner_state, dtype):
            # a stream saved by the per-step form (before the windowed form existed): the
            # same s~ and theta~, with an empty window
            values, ints = learner_state["values"], learner_state["ints"]
            new = self.init_state(layout, values.dtype, n_streams=values.shape[0])
            new["values"][:, : values.shape[1]] = values
            new["ints"][:, :5] = ints
            learner_state["values"], learner_state["ints"] = new["values"], new["ints"]
        super().check_state(layout, learner_state, dtype, n_streams)

    def _is_per_step_state(self, layout, learner_state, dtype) -> bool:
        S_P = layout.state_size + layout.n_recurrent_params
        return _state_has_shape(learner_state, dtype, S_P, 5)


def _state_has_shape(learner_state, dtype, n_values: int, n_ints: int) -> bool:
    """Whether ``learner_state`` holds (streams x n_values) floats of ``dtype`` and (streams x
    n_ints) integers: the test for a state in a layout a learner used to keep."""
    values = learner_state.get("values") if isinstance(learner_state, dict) else None
    ints = learner_state.get("ints") if isinstance(learner_state, dict) else None
    return (
        isinstance(values, np.ndarray)
        and isinstance(ints, np.ndarray)
        and values.ndim == 2
        and ints.ndim == 2
        and values.dtype == np.dtype(dtype)
        and values.shape[1] == n_values
        and ints.shape == (values.shape[0], n_ints)
    )


_CACHE: dict = {}


def _cached(what: tuple, layout: Layout, compute):
    """``compute()``, remembered for the last few layouts (the kernels' index tables are
    built once per network, not once per training call)."""
    mask = layout.weight_hh_mask
    cell = layout.cell
    key = (
        what,
        type(cell).__name__,
        repr(sorted(cell.get_params().items())),
        layout.hidden_size,
        layout.n_features,
        layout.n_outputs,
        None if mask is None else np.packbits(np.asarray(mask, dtype=bool)).tobytes(),
    )
    if key not in _CACHE:
        if len(_CACHE) >= 32:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = compute()
    return _CACHE[key]


def _group_sizes(layout: Layout):
    rec = layout.groups[: layout.n_recurrent_groups]
    return [(g.rows, g.width) for g in rec]


class KF(OnlineLearner):
    r"""Kronecker-factored RTRL, KF-RTRL (Mujika, Meier & Steger 2018).

    For every weight group g (the gates that share an input vector z_g) the influence is one
    Kronecker product, :math:`J_g \approx u \otimes A` with
    :math:`J_g[:, (j, k)] = A[:, j]\, u[k]` (:math:`u \in R^{K_g}`, :math:`A \in R^{S\times
    r_g}`). :math:`D_t (u \otimes A) = u \otimes (D_t A)` exactly and
    :math:`I_t = z_t \otimes G_t`; the two terms are merged, unbiasedly, with independent
    random signs :math:`c_1, c_2`:

    .. math::
        p_1 = \sqrt{\lVert D_t A\rVert / \lVert u\rVert},\quad
        p_2 = \sqrt{\lVert G_t\rVert / \lVert z_t\rVert},

        u_t = c_1 p_1 u_{t-1} + c_2 p_2 z_t,\quad
        A_t = c_1 (D_t A_{t-1}) / p_1 + c_2 G_t / p_2,\quad
        g_t = (\bar e_t A_t) \otimes u_t .

    Cost :math:`O(S^2 r_g)` per step (:math:`O(n^3)`); memory :math:`K_g + S r_g` per group.

    References
    ----------
    A. Mujika, F. Meier and A. Steger, "Approximating Real-Time Recurrent Learning with
    Random Kronecker Factors", NeurIPS 2018.
    """

    name = "kf"
    kind = 2
    random = True
    n_ints = 4

    def values_size(self, layout, itemsize):
        S = layout.state_size
        return sum(K + S * r for r, K in _group_sizes(layout))


class OK(OnlineLearner):
    r"""Optimal Kronecker-sum approximation of RTRL, OK (Benzing et al. 2019).

    For every weight group, :math:`J_g \approx \sum_{i=1}^{r} u_i \otimes A_i`. A step gives
    r + 1 terms, :math:`u_i \otimes D_t A_i` and :math:`z_t \otimes G_t`, reduced back to r
    by the unbiased rank-r approximation of minimum variance:

    1. QR of :math:`U = [u_1 .. u_{r+1}]` and :math:`A = [\mathrm{vec} A_1 ..]`:
       the sum is :math:`Q_u C Q_a^\top` with :math:`C = R_u R_a^\top`;
    2. SVD :math:`C = L\,\mathrm{diag}(\sigma) R^\top`, :math:`\sigma` descending;
    3. the largest k in 1..r whose k + 1 smallest values B (sum s) satisfy
       :math:`\max B \le s/k`; keep the top r - k components exactly and replace B by
       :math:`(s/k)(I - v v^\top)`, :math:`v_i = \pm\sqrt{1 - k \sigma_i / s}` with
       random signs (unbiased, rank k);
    4. map back through L, R, Q_u, Q_a to r new pairs.

    The long factor A (:math:`S r_g \times (r+1)`) is orthogonalised in float64 through its
    Gram matrix, summed in one pass: :math:`A^\top A = R_a^\top R_a` (Cholesky, positive
    diagonal), :math:`Q_a = A R_a^{-1}` applied in step 4 as one product with A -- instead of
    Householder QR, about seven passes over A. Householder's R is brought to the same
    positive-diagonal convention, so both routes give the same numbers to rounding. The
    kernel keeps Householder wherever a column of A is nearly in the span of the ones before
    it (:math:`L_{jj}^2 \le 10^{-4} \lVert a_j\rVert^2`: the Gram route's error grows with
    the square of the conditioning), where A has fewer rows than columns, and in float32.
    A smallest singular value of C at rounding level (:math:`\le 10^{-13}\sigma_1`,
    float32 :math:`10^{-5}`) counts as zero: such terms have rank r and are kept exactly.
    At n = 256 this and step 4 as GEMMs took OK(2) from 0.64 to about 0.8 of its GEMM bound
    (``rtrl bench``).

    Cost :math:`O(r S^2 r_g + S r_g r^2)` per step; memory :math:`r (K_g + S r_g)` per
    group. ``rank=1`` is the optimal version of KF-RTRL.

    Parameters
    ----------
    rank : int, default=2

    References
    ----------
    F. Benzing, M. M. Gauy, A. Mujika, A. Martinsson and A. Steger, "Optimal Kronecker-Sum
    Approximation of Real Time Recurrent Learning", ICML 2019.
    """

    name = "ok"
    kind = 3
    random = True
    n_ints = 4

    def __init__(self, rank: int = 2):
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
            raise ValueError(f"rank must be a positive integer, got {rank!r}")
        self.rank = rank

    def values_size(self, layout, itemsize):
        S = layout.state_size
        return self.rank * sum(K + S * r for r, K in _group_sizes(layout))

    def kernel_spec(self, layout, itemsize):
        return {**super().kernel_spec(layout, itemsize), "rank": self.rank}


class SnAp(OnlineLearner):
    r"""Sparse n-step approximation, SnAp-k (Menick et al. 2020).

    Keeps the influence only on a fixed pattern :math:`M_k`:
    :math:`\hat J_t = (D_t \hat J_{t-1} + I_t) \odot M_k`. :math:`M_1` holds, for each
    parameter, the state entries it reaches immediately (the structural non-zeros of
    :math:`G_g[:, j]` for a parameter of row j of group g; for an LSTM, the unit's pair
    :math:`(h_j, c_j)` for all four gates); :math:`M_k` adds the entries reached within
    k - 1 more steps through the structure of :math:`D` (the recurrent mask and the cell).
    The pattern depends only on the row of the parameter, so each row is stored as one
    dense block; on a sparse network the columns of masked weights are not stored.

    SnAp-1 costs :math:`O(P)` per step for Elman and GRU (a scalar recurrence per
    parameter, :math:`\hat J[i, (i,k)] = D_{ii} \hat J[i,(i,k)] + G_{ii} z_k`) and a 2 x 2
    block per unit for LSTM; for Jordan the readout group reaches every unit at once, so
    it is kept whole. On a dense network SnAp-2 keeps everything (it is exact RTRL); SnAp
    pays off with sparse networks (``density`` < 1), where SnAp-2 keeps about d n P numbers.
    SnAp-k with k - 1 at least the diameter (in edges) of the recurrent graph is exact RTRL.
    Where :math:`M_k` keeps every (state, parameter) pair, SnAp *is* :class:`RTRL` and runs
    as it: RTRL's kernels (its block form when ``update_every`` > 1, threads, the sparse
    D_t of a sparse network) and RTRL's state, instead of one dense block per row (which
    would cost the same flops in many small products: 1.6x to 4x slower at n = 16 .. 128).

    Windowed SnAp-1: while the parameters stay fixed (``update_every`` > 1, and
    :func:`rtrl.sequence_gradient`), the scalar recurrences of a dense Elman or GRU network
    are unrolled over windows of up to :attr:`window` = w steps,
    :math:`V_w = c \odot V_0 + A Z` and :math:`\sum_t e_t V_t = E \odot V_0 + B Z`
    (:math:`Z` the window's inputs :math:`z_t`; the n_rows x w coefficients :math:`A, B`
    come at the window's end from backward recursions over the stored :math:`D_t[i, i]`,
    :math:`\bar e_t` and :math:`G_t[i, j]` -- :math:`B` holds the rows' adjoints), so each
    step stores O(S + n_rows) numbers and the O(P) passes over the influence and the
    gradient become two GEMMs per window. Same numbers to rounding; memory
    :math:`w (2 S + n_{rows} + \sum_g K_g)` more. Per-step updates use the plain form.

    Memory: the kept (state, parameter) pairs, ``8`` bytes of integers, and the window;
    where every pair is kept, exact RTRL's state (see :class:`RTRL`).

    Parameters
    ----------
    level : int, default=1
        k.

    References
    ----------
    J. Menick, E. Elsen, U. Evci, S. Osindero, K. Simonyan and A. Graves, "A Practical
    Sparse Approximation for Real Time Recurrent Learning", ICLR 2021 (arXiv:2006.07232).
    """

    kind = 4

    def __init__(self, level: int = 1):
        if isinstance(level, bool) or not isinstance(level, int) or level < 1:
            raise ValueError(f"level must be a positive integer, got {level!r}")
        self.level = level

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"snap{self.level}"

    def scheduled(self, update_every):
        # where M_k keeps everything this runs as exact RTRL, whose form depends on the schedule
        out = copy.copy(self)
        out._exact_window = RTRL().scheduled(update_every).window
        return out

    def as_rtrl(self, layout: Layout) -> RTRL | None:
        """The :class:`RTRL` learner this SnAp runs as if :math:`M_k` keeps every
        (state, parameter) pair of ``layout`` (else None)."""
        full = _cached(
            ("snap-full", self.level), layout, lambda: all(M.all() for M in self.pattern(layout))
        )
        return RTRL(window=getattr(self, "_exact_window", "auto")) if full else None

    def ints_size(self, layout):
        exact = self.as_rtrl(layout)
        return self.n_ints if exact is None else exact.ints_size(layout)

    def check_state(self, layout, learner_state, dtype, n_streams):
        exact = self.as_rtrl(layout)
        if exact is not None and self._is_block_state(layout, learner_state, dtype):
            self._adopt_block_state(layout, learner_state, exact)
        super().check_state(layout, learner_state, dtype, n_streams)

    def _is_block_state(self, layout, learner_state, dtype) -> bool:
        """A state in the per-row block layout that SnAp kept before it ran as exact RTRL
        wherever M_k keeps every pair (the streams of a model saved then)."""
        return _state_has_shape(learner_state, dtype, self._influence_size(layout), 1)

    def _adopt_block_state(self, layout, learner_state, exact) -> None:
        # each block (g, j) held all S rows of its columns, row-major; laid side by side in
        # block order they are the stored columns of J, which RTRL keeps at shift 0
        values = learner_state["values"]
        B, S = values.shape[0], layout.state_size
        new = exact.init_state(layout, values.dtype, n_streams=B)
        P = RTRL._n_stored_columns(layout)
        ld = P + exact._width(layout, values.dtype.itemsize)
        store = new["values"][:, : S * ld].reshape(B, S, ld)
        _, _, value_offset, _ = self._blocks(layout)
        c = 0
        for b, K in enumerate(self._columns(layout)[2]):
            start = value_offset[b]
            store[:, :, c : c + K] = values[:, start : start + S * K].reshape(B, S, K)
            c += K
        learner_state["values"], learner_state["ints"] = new["values"], new["ints"]

    def pattern(self, layout: Layout) -> list[np.ndarray]:
        """The kept pattern :math:`M_k` of each recurrent group, boolean (S x r_g): entry
        (i, j) says whether the parameters of row j keep their influence on state i."""
        return _cached(("snap-pattern", self.level), layout, lambda: self._pattern(layout))

    #: Largest S x (S + rows) the pattern is worked out for; beyond it (networks whose
    #: influence could not be held anyway) asking for it raises MemoryError.
    max_pattern_entries: ClassVar[int] = 10**9

    def _pattern(self, layout: Layout) -> list[np.ndarray]:
        S = layout.state_size
        rows = sum(r for r, _ in _group_sizes(layout))
        if S * (S + rows) > self.max_pattern_entries:
            raise InfluenceMemoryError(
                f"the SnAp pattern of a network with state size {S} is too large to work out"
            )
        out = []
        reach = None
        for m1 in layout.cell.immediate_pattern(layout):
            m = m1.copy()
            for _ in range(self.level - 1):
                if reach is None:  # float32 GEMM: fast boolean products, exact for 0/1
                    reach = layout.cell.state_jacobian_pattern(layout).astype(np.float32)
                if reach.all():  # a dense network: one more step reaches everything
                    m = np.ones_like(m) if m.any(axis=0).all() else m | m.any(axis=0)
                    break
                grown = (reach @ m.astype(np.float32)) > 0
                if np.array_equal(grown, m):
                    break
                m = grown
            out.append(m)
        return out

    @staticmethod
    def _columns(layout: Layout):
        """Kept columns k of every block (g, j) as CSR (all K_g, less the masked weights),
        and the number per block."""
        return _cached(("snap-columns",), layout, lambda: SnAp._columns_uncached(layout))

    @staticmethod
    def _columns_uncached(layout: Layout):
        stored = RTRL._stored_columns(layout)
        kernel = layout.to_kernel()
        offsets = np.asarray(kernel["offset"])
        widths = np.asarray(kernel["width"])
        group = np.searchsorted(offsets, stored, side="right") - 1
        within = stored - offsets[group]
        first_block = np.concatenate([[0], np.cumsum(kernel["rows"])[:-1]])
        block = first_block[group] + within // widths[group]
        n_blocks = int(np.sum(kernel["rows"]))
        per_block = np.bincount(block, minlength=n_blocks)
        col_ptr = np.concatenate([[0], np.cumsum(per_block)]).astype(np.intp)
        return col_ptr, (within % widths[group]).astype(np.intp), per_block

    def _blocks(self, layout: Layout):
        """CSR description of the kept rows of every block (g, j), and where its values
        start in a stream's state."""
        return _cached(("snap-blocks", self.level), layout, lambda: self._blocks_uncached(layout))

    def _blocks_uncached(self, layout: Layout):
        counts, rows = [], []
        for m in self.pattern(layout):
            cols, kept = np.nonzero(m.T)  # kept rows of each column j, in order of j
            counts.append(np.bincount(cols, minlength=m.shape[1]))
            rows.append(kept)
        counts = np.concatenate(counts)
        row_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
        sizes = counts * self._columns(layout)[2]
        value_offset = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        return row_ptr, np.concatenate(rows).astype(np.intp), value_offset, int(sizes.sum())

    #: Steps per window of the windowed SnAp-1 kernel (see :meth:`windowed`); 0 = per step.
    window: ClassVar[int] = 32

    def _influence_size(self, layout: Layout) -> int:
        return _cached(("snap-size", self.level), layout, lambda: self._count_kept(layout))

    def _count_kept(self, layout: Layout) -> int:
        counts = np.concatenate([m.sum(axis=0) for m in self.pattern(layout)])
        return int((counts * self._columns(layout)[2]).sum())

    def windowed(self, layout: Layout) -> bool:
        """True if the kernel advances the kept influence in windows of :attr:`window`
        steps: every block is one state row with all its columns (SnAp-1 of a dense Elman or
        GRU network). Each step then updates O(window) scalars per block, and once per
        window two GEMMs per weight group, (r x w)(w x K), bring the influence and the
        gradient up to date -- the O(P) passes happen once per window instead of every
        step. The result is the per-step recurrence's, to rounding."""
        exact = self.as_rtrl(layout)
        if exact is not None:
            return exact.windowed(layout)
        return self.window > 0 and _cached(
            ("snap-one-row-each", self.level), layout, lambda: self._one_row_each(layout)
        )

    def _one_row_each(self, layout: Layout) -> bool:
        counts = np.concatenate([m.sum(axis=0) for m in self.pattern(layout)])
        every_column = RTRL._n_stored_columns(layout) == layout.n_recurrent_params
        return bool(np.all(counts == 1)) and every_column

    def values_size(self, layout, itemsize):
        exact = self.as_rtrl(layout)
        if exact is not None:
            return exact.values_size(layout, itemsize)
        size = self._influence_size(layout)
        if self.windowed(layout):
            n_blocks = sum(r for r, _ in _group_sizes(layout))
            # per step of the window: d and e per state entry, g per block, z_t
            z_size = layout.to_kernel()["z_size"]
            size += self.window * (2 * layout.state_size + n_blocks + z_size)
        return size

    def kernel_spec(self, layout, itemsize):
        exact = self.as_rtrl(layout)
        if exact is not None:
            return exact.kernel_spec(layout, itemsize)
        row_ptr, rows, value_offset, _ = self._blocks(layout)
        col_ptr, cols, _ = self._columns(layout)
        spec = {
            **super().kernel_spec(layout, itemsize),
            "col_ptr": col_ptr,
            "cols": cols if cols.size else np.zeros(1, dtype=np.intp),
            "row_ptr": row_ptr,
            "rows": rows if rows.size else np.zeros(1, dtype=np.intp),
            "value_offset": value_offset,
            "max_rows": int(np.diff(row_ptr).max()) if row_ptr.size > 1 else 0,
        }
        if self.windowed(layout):
            spec["window"] = self.window
            spec["window_base"] = self._influence_size(layout)
        return spec

    def influence(self, learner_state, layout: Layout, stream: int = 0) -> np.ndarray:
        """The kept influence as a dense S x P matrix (zeros outside the pattern; a copy)."""
        exact = self.as_rtrl(layout)
        if exact is not None:
            return np.array(exact.influence(learner_state, layout, stream))
        row_ptr, rows, value_offset, _ = self._blocks(layout)
        col_ptr, cols, _ = self._columns(layout)
        values = learner_state["values"][stream]
        if self.windowed(layout):  # bring a copy up to date with its open window
            caught_up = {k: v[stream : stream + 1].copy() for k, v in learner_state.items()}
            self.flush_streams(layout, caught_up, np.zeros(layout.n_params, values.dtype))
            values = caught_up["values"][0]
        J = np.zeros((layout.state_size, layout.n_recurrent_params), dtype=values.dtype)
        b = 0
        for (r, K), off in zip(_group_sizes(layout), layout.offsets, strict=False):
            for j in range(r):
                kept = rows[row_ptr[b] : row_ptr[b + 1]]
                where = off + j * K + cols[col_ptr[b] : col_ptr[b + 1]]
                block = values[value_offset[b] : value_offset[b] + len(kept) * len(where)]
                J[np.ix_(kept, where)] = block.reshape(len(kept), len(where))
                b += 1
        return J


LEARNERS: dict[str, object] = {
    "rtrl": RTRL,
    "bptt": BPTT,
    "tbptt": TBPTT,
    "uoro": UORO,
    "kf": KF,
    "ok": OK,
    "snap1": lambda: SnAp(level=1),
    "snap2": lambda: SnAp(level=2),
}


def make_learner(learner: str | Learner) -> Learner:
    """A learner object from a learner or its name: ``"rtrl"``, ``"bptt"``, ``"tbptt"``,
    ``"uoro"``, ``"kf"``, ``"ok"``, ``"snap1"``, ``"snap2"``."""
    if isinstance(learner, Learner):
        return learner
    if not isinstance(learner, str):
        raise TypeError(f"learner must be a Learner or one of {sorted(LEARNERS)}, got {learner!r}")
    if learner not in LEARNERS:
        raise ValueError(f"unknown learner {learner!r}; choose one of {sorted(LEARNERS)}")
    return LEARNERS[learner]()
