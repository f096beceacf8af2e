"""Gradients of a sequence's loss for fixed parameters: the researchers' entry point."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.utils import check_array

from ._memory import check_state_fits
from ._threads import blas_single_threaded, effective_n_threads
from .cells import Cell, Layout, make_cell
from .learners import LEARNERS, Learner, make_learner, new_update_state
from .readout import Loss, make_loss

__all__ = ["sequence_gradient"]


def _resolve_dtype(params: Mapping, dtype) -> np.dtype:
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dt}")
        return dt
    dtypes = {np.asarray(v).dtype for v in params.values()}
    return np.dtype(np.float32) if dtypes == {np.dtype(np.float32)} else np.dtype(np.float64)


def _check_params(params: Mapping, layout: Layout, dtype) -> np.ndarray:
    for name, value in params.items():
        arr = np.asarray(value)
        if arr.dtype.kind not in "fiu":
            raise TypeError(f"parameter {name!r} must be numeric, got dtype {arr.dtype}")
        if not np.isfinite(arr).all():
            raise ValueError(f"parameter {name!r} contains NaN or infinity")
    return layout.pack(params, dtype)


def check_numeric(value, *, name: str, dtype, ensure_2d: bool = True) -> np.ndarray:
    """``check_array`` with finiteness checked, and every error naming the argument."""
    try:
        return check_array(
            value, dtype=dtype, ensure_2d=ensure_2d, ensure_all_finite=True, input_name=name
        )
    except (TypeError, ValueError) as exc:
        if name in str(exc):
            raise
        raise type(exc)(f"{name} must be numeric and finite: {exc}") from None


def check_state_memory(
    learner: Learner, layout: Layout, itemsize: int, n_steps: int, n_streams: int = 1
) -> None:
    """Refuse the learner before allocation if the state of ``n_streams`` streams would not
    fit in memory."""

    def others() -> dict[str, int]:  # only for the error message
        sizes = {}
        for name, make in LEARNERS.items():
            if name == learner.name:
                continue
            try:  # SnAp's pattern, say, may itself be too large to work out
                sizes[name] = n_streams * make().scheduled(None).state_bytes(
                    layout, itemsize, n_steps
                )
            except MemoryError:
                continue
        return sizes

    needed = n_streams * learner.state_bytes(layout, itemsize, n_steps)
    check_state_fits(learner, needed, others)


def sequence_gradient(
    params: Mapping[str, np.ndarray],
    X,
    y,
    *,
    cell: str | Cell,
    learner: str | Learner = "rtrl",
    loss: str | Loss = "squared_error",
    sample_weight=None,
    random_state=None,
    dtype=None,
    n_jobs: int | None = None,
    return_loss: bool = False,
    weight_hh_mask=None,
):
    r"""Gradient (estimate) of :math:`\sum_t w_t L_t` over one sequence, for fixed parameters.

    The sequence starts from the zero state; the parameters are not changed along it, so for
    an exact learner the result is the true gradient, and for an approximate learner it is
    the sum of its per-step estimates.

    Parameters
    ----------
    params : mapping of str to ndarray
        The network's parameters, named and shaped as in PyTorch (``weight_ih``,
        ``weight_hh``, ``bias_ih``, ``bias_hh``) plus ``readout_weight`` (n_outputs x n) and
        ``readout_bias``; see :mod:`rtrl.cells` (``Cell.init_params`` makes them).
    X : array-like of shape (n_steps, n_features)
        Inputs, rows in time order.
    y : array-like of shape (n_steps,) or (n_steps, n_outputs)
        Targets: real values for ``"squared_error"``, class indices for ``"cross_entropy"``.
    cell : str or Cell
        ``"elman"``, ``"gru"``, ``"lstm"``, ``"jordan"`` or a cell object.
    learner : str or Learner, default="rtrl"
        The gradient algorithm (``"rtrl"``, ``"bptt"``, or a learner object).
    loss : {"squared_error", "cross_entropy"} or Loss, default="squared_error"
    sample_weight : array-like of shape (n_steps,), default=None
        Non-negative per-step weights :math:`w_t`; 0 masks a step. None means all ones.
    random_state : int, RandomState instance or None
        Seeds learners that draw random numbers (the exact ones do not).
    dtype : {None, "float32", "float64"}
        Precision of the computation; None takes float32 if every parameter is float32,
        float64 otherwise.
    n_jobs : int or None
        OpenMP threads (None: what the runtime allows; negative: counted back from the CPUs).
    return_loss : bool, default=False
        Also return :math:`\sum_t w_t L_t`.
    weight_hh_mask : array-like of bool, shape of ``weight_hh``, default=None
        The recurrent weight mask of a sparse network (True = kept; the masked weights must
        be zero and get a zero gradient). Exact RTRL then stores no influence columns for the
        masked weights, and SnAp-k derives its pattern from the mask.

    Returns
    -------
    grads : dict of str to ndarray
        The gradient for every parameter, keyed and shaped like ``params``.
    loss : float
        Only if ``return_loss``.

    Raises
    ------
    ValueError, TypeError
        For malformed inputs (NaN or infinity, wrong shapes, unknown names).
    rtrl.InfluenceMemoryError
        If the learner's state would not fit in the available memory (checked before
        anything is allocated).

    Examples
    --------
    >>> import numpy as np
    >>> import rtrl
    >>> cell = rtrl.cells.Elman()
    >>> params = cell.init_params(hidden_size=8, n_features=3, n_outputs=2, random_state=0)
    >>> rng = np.random.default_rng(0)
    >>> X, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 2))
    >>> g_rtrl = rtrl.sequence_gradient(params, X, y, cell=cell, learner="rtrl")
    >>> g_bptt = rtrl.sequence_gradient(params, X, y, cell=cell, learner="bptt")
    >>> bool(np.allclose(g_rtrl["weight_hh"], g_bptt["weight_hh"], rtol=1e-10))
    True
    """
    cell = make_cell(cell)
    learner = make_learner(learner).scheduled(None)  # fixed parameters along the sequence
    loss = make_loss(loss)
    layout = cell.infer_layout(params)
    if weight_hh_mask is not None:
        raw = np.asarray(weight_hh_mask)
        if raw.dtype != bool and not (raw.dtype.kind in "iuf" and np.all((raw == 0) | (raw == 1))):
            raise ValueError("weight_hh_mask must be boolean (or hold only 0 and 1)")
        mask = raw.astype(bool)
        shape = layout.shapes().get("weight_hh")
        if shape is None:
            raise ValueError(f"the {cell.name} cell has no weight_hh to mask")
        if mask.shape != shape:
            raise ValueError(f"weight_hh_mask has shape {mask.shape}, expected {shape}")
        if np.any(np.asarray(params["weight_hh"])[~mask] != 0):
            raise ValueError("weight_hh must be zero where weight_hh_mask is False")
        layout = layout.with_mask(mask)
    dt = _resolve_dtype(params, dtype)
    w = _check_params(params, layout, dt)
    X = check_numeric(X, name="X", dtype=dt)
    n_steps = X.shape[0]
    if X.shape[1] != layout.n_features:
        raise ValueError(f"X has {X.shape[1]} features but weight_ih expects {layout.n_features}")
    Y, labels = loss.targets(y, n_steps, layout.n_outputs, dt)
    if sample_weight is None:
        weights = np.ones(n_steps, dtype=dt)
    else:
        weights = check_numeric(sample_weight, name="sample_weight", dtype=dt, ensure_2d=False)
        if weights.ndim != 1 or weights.shape[0] != n_steps:
            raise ValueError(
                f"sample_weight must have shape ({n_steps},), got {np.shape(sample_weight)}"
            )
        if (weights < 0).any():
            raise ValueError("sample_weight must be non-negative")
        weights = np.ascontiguousarray(weights)
    n_threads = effective_n_threads(n_jobs)
    check_state_memory(learner, layout, dt.itemsize, n_steps)

    states = np.zeros((1, layout.state_size), dtype=dt)
    learner_state = learner.init_state(layout, dt, n_streams=1, random_state=random_state)
    update = new_update_state(layout.n_params, dt)  # no optimizer: gradients only
    one_sequence = (
        np.array([0], dtype=np.intp),  # starts
        np.array([n_steps], dtype=np.intp),  # lengths
        np.array([1], dtype=np.intp),  # it ends here
    )
    with blas_single_threaded():
        total, _ = learner.train(
            layout,
            w,
            X,
            Y,
            labels,
            weights,
            *one_sequence,
            states,
            learner_state,
            update,
            -1,
            loss.kind,
            n_threads,
        )
    grads = layout.unpack(update["acc"])
    if layout.weight_hh_mask is not None:  # masked weights are not parameters of the network
        grads["weight_hh"][~layout.weight_hh_mask] = 0
    return (grads, float(total)) if return_loss else grads
