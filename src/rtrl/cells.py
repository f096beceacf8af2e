"""Recurrent cells: their parameters, state and how the kernels see them.

A cell is a small description object; its dynamics and Jacobians live in the Cython module
``rtrl._cells``. Equations, gate orders and parameter names follow PyTorch, so weights port
both ways (``torch.nn.RNN``, ``torch.nn.GRU``, ``torch.nn.LSTM``).

Parameter layout
----------------
The kernels work on one flat parameter vector. Parameters come in weight groups W_g
(r_g x K_g, row-major) that act on an input vector z_g, a_g = W_g z_g (ALGORITHMS.md,
"Kronecker structure"). The columns of a group are the named torch parameters side by side,
a bias being one column that multiplies a constant 1:

========  =============================================================  ========
cell      group: columns (z_g)                                            rows
========  =============================================================  ========
elman     weight_ih | bias_ih | weight_hh | bias_hh  (z = [x; 1; h; 1])   n
lstm      weight_ih | bias_ih | weight_hh | bias_hh  (z = [x; 1; h; 1])   4n
gru       weight_ih | bias_ih  (z = [x; 1]);  weight_hh | bias_hh          3n, 3n
          (z = [h; 1])
jordan    weight_ih | bias_ih | weight_yh  (z = [x; 1; y_{t-1}]);          n, n_out
          readout_weight | readout_bias  (z = [h_{t-1}; 1])
========  =============================================================  ========

The recurrent groups come first; their P entries are the columns of the influence matrix.
The readout R = [readout_weight | readout_bias] (n_out x (n+1)) follows, except for Jordan,
where it is already the second recurrent group.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from ._params import HyperParameters

__all__ = ["GRU", "LSTM", "Cell", "Elman", "Jordan", "Layout", "make_cell"]

_NONLINEARITIES = {"tanh": 0, "relu": 1}


@dataclass(frozen=True)
class Group:
    """A weight block W_g: named parameters laid side by side over ``rows`` rows.

    ``columns`` lists ``(name, width)``; a width of ``None`` marks a bias (one column, stored
    as a vector of length ``rows``).
    """

    rows: int
    columns: tuple[tuple[str, int | None], ...]

    @property
    def width(self) -> int:
        return sum(1 if w is None else w for _, w in self.columns)


@dataclass(frozen=True)
class Layout:
    """Sizes and offsets of one network: what the kernels need to know about it."""

    cell: Cell
    hidden_size: int
    n_features: int
    n_outputs: int
    groups: tuple[Group, ...]  # recurrent groups, then the readout if it is not recurrent
    n_recurrent_groups: int
    #: Fixed mask of ``weight_hh`` (True = kept) for a sparse network, or None (dense).
    weight_hh_mask: np.ndarray | None = field(default=None, compare=False, repr=False)

    def with_mask(self, weight_hh_mask) -> Layout:
        """The same layout with a recurrent weight mask (None: dense)."""
        return replace(self, weight_hh_mask=weight_hh_mask)

    @property
    def state_size(self) -> int:
        return self.cell.state_size(self.hidden_size)

    @property
    def offsets(self) -> list[int]:
        out, pos = [], 0
        for g in self.groups:
            out.append(pos)
            pos += g.rows * g.width
        return out

    @property
    def n_params(self) -> int:
        return sum(g.rows * g.width for g in self.groups)

    @property
    def n_recurrent_params(self) -> int:
        """P: the number of columns of the influence matrix."""
        return sum(g.rows * g.width for g in self.groups[: self.n_recurrent_groups])

    @property
    def readout_offset(self) -> int:
        names = [g.columns[0][0] for g in self.groups]
        return self.offsets[names.index("readout_weight")]

    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shape of every named parameter."""
        out = {}
        for g in self.groups:
            for name, w in g.columns:
                out[name] = (g.rows,) if w is None else (g.rows, w)
        return out

    def _views(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        views = {}
        for g, off in zip(self.groups, self.offsets, strict=True):
            block = flat[off : off + g.rows * g.width].reshape(g.rows, g.width)
            col = 0
            for name, w in g.columns:
                if w is None:
                    views[name] = block[:, col]
                    col += 1
                else:
                    views[name] = block[:, col : col + w]
                    col += w
        return views

    def pack(self, params: Mapping[str, np.ndarray], dtype) -> np.ndarray:
        """Flat parameter vector from named arrays (shapes must already be checked)."""
        flat = np.empty(self.n_params, dtype=dtype)
        for name, view in self._views(flat).items():
            view[...] = params[name]
        return flat

    def unpack(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """Named (copied, C-contiguous) arrays from a flat vector."""
        return {name: np.ascontiguousarray(v) for name, v in self._views(flat).items()}

    def to_kernel(self) -> dict:
        """The ``Layout`` struct of ``rtrl._cells`` as a dict (a fresh copy of one built once
        per layout: the kernels read it on every training call)."""
        built = self.__dict__.get("_kernel_dict")
        if built is None:
            built = self._build_kernel_dict()
            object.__setattr__(self, "_kernel_dict", built)  # frozen: a cache, not a field
        return dict(built)

    def _build_kernel_dict(self) -> dict:
        S, n = self.state_size, self.hidden_size
        rec = self.groups[: self.n_recurrent_groups]
        widths = [g.width for g in rec]
        rows = [g.rows for g in rec]
        return {
            "kind": self.cell.kind,
            "nonlinearity": _NONLINEARITIES[getattr(self.cell, "nonlinearity", "tanh")],
            "leak": float(getattr(self.cell, "leak", 1.0)),
            "n": n,
            "m": self.n_features,
            "n_out": self.n_outputs,
            "S": S,
            "rows": rows,
            "width": widths,
            "offset": self.offsets[: self.n_recurrent_groups],
            "z_offset": list(np.cumsum([0, *widths[:-1]])),
            "G_offset": list(np.cumsum([0, *[S * r for r in rows[:-1]]])),
            "P": self.n_recurrent_params,
            "readout_offset": self.readout_offset,
            "n_params": self.n_params,
            "z_size": sum(widths),
            "G_size": S * sum(rows),
            "work_size": 8 * n + self.n_outputs + 8,
        }


class Cell(HyperParameters):
    """Base class of the recurrent cells.

    Subclasses declare their weight groups (:meth:`groups`) and a kernel code; the dynamics
    and Jacobians are implemented in ``rtrl._cells``.
    """

    name: ClassVar[str]
    kind: ClassVar[int]

    def state_size(self, hidden_size: int) -> int:
        """Size S of the state s_t."""
        return hidden_size

    def groups(self, n: int, m: int, n_out: int) -> tuple[Group, ...]:
        raise NotImplementedError

    def immediate_pattern(self, layout: Layout) -> list[np.ndarray]:
        """Structural non-zeros of each recurrent group's G_g (boolean S x r_g): the state
        entries that a parameter of row j reaches within the step."""
        raise NotImplementedError

    def state_jacobian_pattern(self, layout: Layout) -> np.ndarray:
        """Structural non-zeros of D_t (boolean S x S, entry (i, l): s_i depends on the
        previous s_l), with the diagonal included; it honours ``layout.weight_hh_mask``."""
        raise NotImplementedError

    @staticmethod
    def _hh_mask(layout: Layout, rows: int) -> np.ndarray:
        if layout.weight_hh_mask is None:
            return np.ones((rows, layout.hidden_size), dtype=bool)
        return np.asarray(layout.weight_hh_mask, dtype=bool)

    readout_is_recurrent: ClassVar[bool] = False

    def layout(self, hidden_size: int, n_features: int, n_outputs: int) -> Layout:
        """The layout of a network with this cell and the given sizes."""
        for what, v in (
            ("hidden_size", hidden_size),
            ("n_features", n_features),
            ("n_outputs", n_outputs),
        ):
            if int(v) < 1:
                raise ValueError(f"{what} must be a positive integer, got {v}")
        n, m, n_out = int(hidden_size), int(n_features), int(n_outputs)
        groups = self.groups(n, m, n_out)
        readout = Group(n_out, (("readout_weight", n), ("readout_bias", None)))
        if self.readout_is_recurrent:
            return Layout(self, n, m, n_out, groups, len(groups))
        return Layout(self, n, m, n_out, (*groups, readout), len(groups))

    def infer_layout(self, params: Mapping[str, np.ndarray]) -> Layout:
        """The layout implied by named parameter arrays, checking every shape."""
        if not isinstance(params, Mapping):
            raise TypeError(f"params must be a mapping of names to arrays, got {type(params)}")
        for key in ("weight_ih", "readout_weight"):
            if key not in params:
                raise ValueError(f"params is missing {key!r} for a {self.name} cell")
        w_ih = np.asarray(params["weight_ih"])
        v = np.asarray(params["readout_weight"])
        if w_ih.ndim != 2 or v.ndim != 2:
            raise ValueError(
                f"weight_ih and readout_weight must be 2-D, got shapes {w_ih.shape} and {v.shape}"
            )
        n, m, n_out = v.shape[1], w_ih.shape[1], v.shape[0]
        layout = self.layout(n, m, n_out)
        expected = layout.shapes()
        missing = sorted(set(expected) - set(params))
        if missing:
            raise ValueError(f"params is missing {missing} for a {self.name} cell")
        extra = sorted(set(params) - set(expected))
        if extra:
            raise ValueError(f"unknown parameters {extra} for a {self.name} cell")
        for name, shape in expected.items():
            got = np.shape(params[name])
            if got != shape:
                raise ValueError(
                    f"parameter {name!r} has shape {got}, expected {shape} "
                    f"(hidden_size={n}, n_features={m}, n_outputs={n_out})"
                )
        return layout

    def init_params(
        self,
        hidden_size: int,
        n_features: int,
        n_outputs: int,
        random_state=None,
        dtype=np.float64,
    ) -> dict[str, np.ndarray]:
        """Random parameters as PyTorch initialises them: U(-1/sqrt(n), 1/sqrt(n))."""
        from sklearn.utils import check_random_state

        rng = check_random_state(random_state)
        bound = 1.0 / np.sqrt(hidden_size)
        shapes = self.layout(hidden_size, n_features, n_outputs).shapes()
        return {
            name: rng.uniform(-bound, bound, size=shape).astype(dtype)
            for name, shape in shapes.items()
        }


def _check_nonlinearity(nonlinearity: str) -> str:
    if nonlinearity not in _NONLINEARITIES:
        raise ValueError(f"nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    return nonlinearity


class Elman(Cell):
    r"""Elman network, as ``torch.nn.RNN``, with an optional leak.

    .. math::
        h_t = (1 - \alpha) h_{t-1} + \alpha\,\varphi(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1}
        + b_{hh})

    Parameters
    ----------
    nonlinearity : {"tanh", "relu"}
        The activation :math:`\varphi`.
    leak : float in (0, 1]
        :math:`\alpha`; 1 (the default) is ``torch.nn.RNN``, smaller values give a
        discretised continuous-time RNN.

    Notes
    -----
    State Jacobian :math:`D_t = (1-\alpha) I + \alpha\,\mathrm{diag}(\varphi') W_{hh}`;
    one weight group with :math:`z = [x_t; 1; h_{t-1}; 1]` and
    :math:`G = \alpha\,\mathrm{diag}(\varphi')`.
    """

    name = "elman"
    kind = 0

    def __init__(self, nonlinearity: str = "tanh", leak: float = 1.0):
        self.nonlinearity = _check_nonlinearity(nonlinearity)
        if isinstance(leak, bool) or not isinstance(leak, (int, float, np.floating)):
            raise TypeError(f"leak must be a float in (0, 1], got {leak!r}")
        if not 0.0 < float(leak) <= 1.0:
            raise ValueError(f"leak must be in (0, 1], got {leak!r}")
        self.leak = float(leak)

    def groups(self, n, m, n_out):
        return (
            Group(n, (("weight_ih", m), ("bias_ih", None), ("weight_hh", n), ("bias_hh", None))),
        )

    def immediate_pattern(self, layout):
        return [np.eye(layout.hidden_size, dtype=bool)]

    def state_jacobian_pattern(self, layout):
        n = layout.hidden_size
        return self._hh_mask(layout, n) | np.eye(n, dtype=bool)


class LSTM(Cell):
    r"""Long short-term memory, as ``torch.nn.LSTM`` (gates i, f, g, o).

    .. math::
        (i, f, g, o) = (\sigma, \sigma, \tanh, \sigma)(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1}
        + b_{hh}),\quad c_t = f c_{t-1} + i g,\quad h_t = o \tanh(c_t)

    The state is :math:`s_t = [h_t; c_t]` (S = 2n). One weight group (4n rows) with
    :math:`z = [x_t; 1; h_{t-1}; 1]`; gate row j reaches only :math:`h_j` and :math:`c_j`.
    """

    name = "lstm"
    kind = 2

    def state_size(self, hidden_size):
        return 2 * hidden_size

    def groups(self, n, m, n_out):
        return (
            Group(
                4 * n, (("weight_ih", m), ("bias_ih", None), ("weight_hh", n), ("bias_hh", None))
            ),
        )

    def immediate_pattern(self, layout):
        # a unit's pair (h_j, c_j) for each of its four gates (the o gate reaches c_j through
        # D within the same pair, so SnAp-1 keeps the 2 x 2 block per unit)
        n = layout.hidden_size
        unit = np.tile(np.eye(n, dtype=bool), (1, 4))
        return [np.vstack([unit, unit])]

    def state_jacobian_pattern(self, layout):
        n = layout.hidden_size
        gates = self._hh_mask(layout, 4 * n).reshape(4, n, n)
        to_h = gates.any(axis=0)  # h_j <- h_l through any gate of unit j
        to_c = gates[:3].any(axis=0)  # c_j <- h_l through i, f, g (o does not reach c)
        eye = np.eye(n, dtype=bool)
        return np.block([[to_h | eye, eye], [to_c, eye]])  # eye: the diagonal of D


class GRU(Cell):
    r"""Gated recurrent unit, as ``torch.nn.GRU`` (gates r, z, n).

    .. math::
        r = \sigma(a^{ih}_r + a^{hh}_r),\ u = \sigma(a^{ih}_z + a^{hh}_z),\
        n = \tanh(a^{ih}_n + r \odot a^{hh}_n),\ h_t = (1 - u) n + u h_{t-1}

    with :math:`a^{ih} = W_{ih} x_t + b_{ih}` and :math:`a^{hh} = W_{hh} h_{t-1} + b_{hh}`.
    Two weight groups (3n rows each): :math:`z = [x_t; 1]` and :math:`z = [h_{t-1}; 1]`;
    because r multiplies :math:`a^{hh}_n` after the product, their G's differ on the n rows.
    """

    name = "gru"
    kind = 1

    def groups(self, n, m, n_out):
        return (
            Group(3 * n, (("weight_ih", m), ("bias_ih", None))),
            Group(3 * n, (("weight_hh", n), ("bias_hh", None))),
        )

    def immediate_pattern(self, layout):
        unit = np.tile(np.eye(layout.hidden_size, dtype=bool), (1, 3))
        return [unit, unit.copy()]

    def state_jacobian_pattern(self, layout):
        n = layout.hidden_size
        return self._hh_mask(layout, 3 * n).reshape(3, n, n).any(axis=0) | np.eye(n, dtype=bool)


class Jordan(Cell):
    r"""Jordan network: the previous output feeds back into the hidden layer.

    .. math::
        h_t = \varphi(W_{ih} x_t + b_{ih} + W_{yh} \hat y_{t-1}),\qquad
        \hat y_t = V h_t + c

    Parameters are ``weight_ih`` (n x m), ``bias_ih`` (n), ``weight_yh`` (n x n_outputs),
    ``readout_weight`` V and ``readout_bias`` c. The state is :math:`h_t`, so
    :math:`\hat y_0 = V h_0 + c = c` at the start of a sequence. The readout is inside the
    recurrence, so it is a recurrent weight group (:math:`z = [h_{t-1}; 1]`,
    :math:`G = \mathrm{diag}(\varphi') W_{yh}`) and its gradient is recurrent too;
    :math:`D_t = \mathrm{diag}(\varphi') W_{yh} V`.

    Parameters
    ----------
    nonlinearity : {"tanh", "relu"}
    """

    name = "jordan"
    kind = 3
    readout_is_recurrent = True

    def __init__(self, nonlinearity: str = "tanh"):
        self.nonlinearity = _check_nonlinearity(nonlinearity)

    def groups(self, n, m, n_out):
        return (
            Group(n, (("weight_ih", m), ("bias_ih", None), ("weight_yh", n_out))),
            Group(n_out, (("readout_weight", n), ("readout_bias", None))),
        )

    def immediate_pattern(self, layout):
        # the readout feeds every unit through weight_yh: its columns are dense
        n, n_out = layout.hidden_size, layout.n_outputs
        return [np.eye(n, dtype=bool), np.ones((n, n_out), dtype=bool)]

    def state_jacobian_pattern(self, layout):
        n = layout.hidden_size
        return np.ones((n, n), dtype=bool)  # D = diag(phi') W_yh V


CELLS: dict[str, type[Cell]] = {c.name: c for c in (Elman, GRU, LSTM, Jordan)}


def make_cell(cell: str | Cell, nonlinearity: str | None = None) -> Cell:
    """A cell object from a cell or its name (``"elman"``, ``"gru"``, ``"lstm"``, ``"jordan"``).

    ``nonlinearity`` (torch's keyword) applies to the cells that have one.
    """
    if isinstance(cell, Cell):
        if (
            nonlinearity is not None
            and getattr(cell, "nonlinearity", nonlinearity) != nonlinearity
        ):
            raise ValueError(
                f"nonlinearity={nonlinearity!r} conflicts with the cell {cell!r}; set it once"
            )
        return cell
    if not isinstance(cell, str):
        raise TypeError(f"cell must be a Cell or one of {sorted(CELLS)}, got {cell!r}")
    if cell not in CELLS:
        raise ValueError(f"unknown cell {cell!r}; choose one of {sorted(CELLS)}")
    cls = CELLS[cell]
    if nonlinearity is None:
        return cls()
    if cls in (Elman, Jordan):
        return cls(nonlinearity=nonlinearity)
    if nonlinearity != "tanh":
        raise ValueError(f"the {cell} cell has no nonlinearity option (got {nonlinearity!r})")
    return cls()
