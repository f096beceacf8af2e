"""scikit-learn estimators that train recurrent networks online: RTRLRegressor, RTRLClassifier.

Data conventions
----------------
``X`` is 2-D, ``(n_steps, n_features)``, rows in time order. ``sequence_id`` is an optional
per-row label: a run of equal labels is one sequence and a change of label starts a new one
from the initial (zero) state. Being per-row, like ``sample_weight``, it is sliced with the rows
by scikit-learn's cross-validation. Without it the rows are one sequence.

Streams
-------
The estimator keeps a *live stream*: the hidden state, the learner's state (the influence
matrix for exact RTRL), the gradient accumulated since the last update and the optimizer's
state. ``partial_fit`` continues it: its first sequence carries on from where the previous
call stopped when it has the same ``sequence_id`` label (or when neither call gave labels).
With an integer ``update_every``, feeding a stream chunk by chunk through ``partial_fit``
gives bit for bit the model of one call on the whole stream (at a fixed thread count),
wherever the chunks are cut. With ``batch_size`` > 1 and several sequences per call, the
sequences that advance side by side are grouped within each call, so there the result also
depends on where calls start and end; with ``batch_size=1`` it does not.
``fit`` starts from new random weights and, for each of up to ``max_iter`` epochs, runs over
every sequence from the zero state; ``reset_state`` starts a new stream and keeps the weights.

Updates
-------
Every ``update_every`` time steps (1 = fully online) the optimizer applies the mean of the
per-step gradient estimates accumulated since the previous update (summed over the
``batch_size`` streams that advance side by side). ``update_every=None`` updates once per
group of ``batch_size`` sequences, at its end; in ``partial_fit`` the end of the call counts
as the end of its last sequence. ``fit`` applies what is left at the end of every epoch;
``partial_fit`` carries it to the next call. Learners that are not online (``"bptt"``) update
once per group of sequences, at its end, whatever ``update_every`` says; within
``partial_fit`` they back-propagate through each call's part of a sequence only.

Divergence
----------
If a step produces a non-finite loss, state or gradient, the update it would contribute to is
not applied, the streams' hidden and learner states restart from zero, and a
:class:`DivergenceWarning` names the row where it first happened. The weights are never
touched by a non-finite update.
"""

from __future__ import annotations

import inspect
import time
import warnings
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, _fit_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _core
from ._threads import blas_single_threaded, effective_n_threads
from .cells import CELLS, Cell, Layout, make_cell
from .gradient import check_state_memory
from .learners import LEARNERS, Learner, make_learner, new_update_state
from .optim import Optimizer, make_optimizer
from .readout import CrossEntropy, SquaredError

__all__ = ["DivergenceWarning", "RTRLClassifier", "RTRLRegressor"]


class DivergenceWarning(UserWarning):
    """Training met a non-finite loss, state or gradient; that update was not applied."""


# scikit-learn >= 1.6 refuses all-zero sample weights unless told otherwise
_ZERO_WEIGHTS_KW = "allow_all_zero_weights" in inspect.signature(_check_sample_weight).parameters


def _finite_as(a, dtype, what):
    """``a`` as ``dtype``, refusing values that become infinite (float64 beyond float32)."""
    with np.errstate(over="ignore"):  # refused below, with a message that says why
        out = np.asarray(a, dtype=dtype)
    if not np.all(np.isfinite(out)):
        raise ValueError(
            f"{what} contains values too large for {np.dtype(dtype).name} (they overflow to inf)"
        )
    return out


def _label(ids, i):
    """Label i of a sequence_id array as a Python scalar (None without labels)."""
    if ids is None:
        return None
    value = ids[i]
    return value.item() if isinstance(value, np.generic) else value


def _sequence_bounds(sequence_id, n_steps: int):
    """Starts and lengths of the runs of equal labels, and the first and last labels."""
    if sequence_id is None:
        return (np.zeros(1, dtype=np.intp), np.array([n_steps], dtype=np.intp), None, None)
    ids = np.asarray(sequence_id)
    if ids.ndim != 1 or ids.shape[0] != n_steps:
        raise ValueError(
            f"sequence_id must be 1-D with one label per row ({n_steps}), got shape {ids.shape}"
        )
    if ids.dtype.kind == "f" and np.isnan(ids).any():
        raise ValueError("sequence_id contains NaN")
    ids = _normalised_ids(ids)
    change = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    starts = np.concatenate([[0], change]).astype(np.intp)
    lengths = np.diff(np.concatenate([starts, [n_steps]])).astype(np.intp)
    return starts, lengths, _label(ids, 0), _label(ids, -1)


def _normalised_ids(ids):
    # object arrays (a pandas column of strings, mixed types, None) compare as their strings
    ids = np.asarray(ids)
    return ids.astype(str) if ids.dtype.kind == "O" else ids


class _BaseRTRL(BaseEstimator):
    """Common skeleton of the online recurrent estimators."""

    _parameter_constraints: ClassVar[dict] = {
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "cell": [StrOptions(set(CELLS)), Cell],
        "nonlinearity": [StrOptions({"tanh", "relu"}), None],
        "learner": [StrOptions(set(LEARNERS)), Learner],
        "density": [Interval(Real, 0, 1, closed="right")],
        "optimizer": [StrOptions({"sgd", "adam"}), Optimizer],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, 1, closed="left")],
        "clip_norm": [Interval(Real, 0, None, closed="neither"), None],
        "update_every": [Interval(Integral, 1, None, closed="left"), None],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "dtype": [StrOptions({"float32", "float64"})],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        hidden_size=32,
        *,
        cell="elman",
        nonlinearity=None,
        learner="rtrl",
        density=1.0,
        optimizer="adam",
        learning_rate=1e-3,
        momentum=0.9,
        clip_norm=None,
        update_every=1,
        max_iter=10,
        batch_size=1,
        alpha=0.0,
        tol=1e-4,
        n_iter_no_change=10,
        shuffle=True,
        dtype="float64",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.hidden_size = hidden_size
        self.cell = cell
        self.nonlinearity = nonlinearity
        self.learner = learner
        self.density = density
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.clip_norm = clip_norm
        self.update_every = update_every
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.alpha = alpha
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ subclass hooks
    _loss = SquaredError()

    def _prepare_targets(self, y, *, first: bool, partial: bool, classes=None):
        """(Y, labels) for the kernels; sets the output attributes on the first call."""
        raise NotImplementedError

    # ----------------------------------------------------------------------- plumbing
    def _dt(self):
        return np.dtype(self.dtype)

    def _cell(self) -> Cell:
        return make_cell(self.cell, self.nonlinearity)

    def _learner(self) -> Learner:
        return make_learner(self.learner).scheduled(self.update_every)

    def _optimizer(self) -> Optimizer:
        return make_optimizer(self.optimizer, self.learning_rate, self.clip_norm, self.momentum)

    def _layout(self) -> Layout:
        """The network's layout, with the recurrent weight mask once it has been drawn."""
        layout = self._cell().layout(self.hidden_size, self.n_features_in_, self.n_outputs_)
        update = getattr(self, "_update", None)
        if update is not None and "weight_hh" in layout.shapes() and self.density < 1.0:
            pmask = update["pmask"]
            if pmask.shape[0] == layout.n_params:
                layout = layout.with_mask(layout.unpack(pmask)["weight_hh"] != 0)
        return layout

    def _flush_context(self) -> dict:
        """What a learner needs to close the windows a stream still holds (TBPTT)."""
        return {
            "w": self._w,
            "update": self._update,
            "loss_kind": self._loss.kind,
            "update_every": self._kernel_update_every(),
        }

    def _kernel_update_every(self) -> int:
        return 0 if self.update_every is None else int(self.update_every)

    def _init_network(self, layout: Layout, rng) -> None:
        """New random weights, masks, streams and optimizer state."""
        dt = self._dt()
        cell = layout.cell
        params = cell.init_params(
            layout.hidden_size, layout.n_features, layout.n_outputs, random_state=rng, dtype=dt
        )
        names = layout.shapes()
        keep = {k: np.ones(s, dtype=dt) for k, s in names.items()}
        if self.density < 1.0:
            if "weight_hh" not in names:
                raise ValueError(
                    f"density < 1 masks weight_hh, which the {cell.name} cell does not have"
                )
            mask = rng.random_sample(names["weight_hh"]) < self.density
            keep["weight_hh"] = mask.astype(dt)
            params["weight_hh"] = params["weight_hh"] * mask
        decay = {k: np.full(s, 0.0 if "bias" in k else 1.0, dtype=dt) for k, s in names.items()}
        self._w = layout.pack(params, dt)
        self._fitted_setup = self._setup()
        self._update = new_update_state(
            layout.n_params, dt, pmask=layout.pack(keep, dt), dmask=layout.pack(decay, dt)
        )
        self._new_streams(self._layout(), rng)
        self.loss_curve_ = []
        self.n_iter_ = 0
        self.t_ = 0
        self.best_loss_ = np.inf
        self._no_improvement_count = 0

    def _new_streams(self, layout: Layout, rng) -> None:
        dt = self._dt()
        learner = self._learner()
        self._stream = {
            "states": np.zeros((self.batch_size, layout.state_size), dtype=dt),
            "learner": learner.init_state(layout, dt, n_streams=self.batch_size, random_state=rng),
            "label": None,
            "started": False,
        }

    def _setup(self) -> dict:
        """What the carried state depends on besides the network's shape: the learner (its
        state's layout), the update schedule (exact RTRL's block form) and the mask."""
        return {
            "learner": repr(make_learner(self.learner)),
            "update_every": self.update_every,
            "density": float(self.density),
        }

    def _check_compatible(self, layout: Layout) -> None:
        if self._w.shape[0] != layout.n_params or self._w.dtype != self._dt():
            raise ValueError(
                "the network's shape or dtype changed since it was fitted (hidden_size, cell, "
                "dtype); call fit to start again"
            )
        fitted = getattr(self, "_fitted_setup", None)
        if fitted is not None and fitted != self._setup():
            changed = sorted(k for k, v in self._setup().items() if fitted[k] != v)
            raise ValueError(
                f"{', '.join(changed)} changed since the model was fitted "
                f"({', '.join(f'{k}={fitted[k]!r}' for k in changed)}); call fit to start again"
            )
        states = self._stream["states"]
        if states.shape[0] != self.batch_size:
            raise ValueError("batch_size changed since the model was fitted; call fit")

    def _validate(self, X, y, sample_weight, *, reset: bool, partial: bool = False):
        dt = self._dt()
        X, y = validate_data(
            self,
            X,
            y,
            reset=reset,
            dtype=[np.float64, np.float32] if dt == np.float64 else [np.float32, np.float64],
            multi_output=not isinstance(self, ClassifierMixin),
            y_numeric=not isinstance(self, ClassifierMixin),
        )
        X = _finite_as(X, dt, "X")
        # a chunk of a stream may carry no weight (its steps still move the state on)
        zero_ok = {"allow_all_zero_weights": True} if partial and _ZERO_WEIGHTS_KW else {}
        sample_weight = _check_sample_weight(
            sample_weight, X, dtype=dt, ensure_non_negative=True, **zero_ok
        )
        sample_weight = _finite_as(sample_weight, dt, "sample_weight")
        return X, y, np.ascontiguousarray(sample_weight)

    def _fit_stream(self, X, y, sequence_id, sample_weight, *, partial: bool, classes=None):
        before = self.__dict__.copy()
        try:
            prepared = self._prepare_fit(X, y, sequence_id, sample_weight, partial, classes)
        except BaseException:
            # a call refused before training leaves a fitted model as it was (validate_data
            # and the targets set attributes on the way)
            self.__dict__.clear()
            self.__dict__.update(before)
            raise
        return self._train(*prepared, sequence_id, partial)

    def _prepare_fit(self, X, y, sequence_id, sample_weight, partial, classes):
        first = not partial or not hasattr(self, "_w")
        X, y, weights = self._validate(X, y, sample_weight, reset=first, partial=partial)
        starts, lengths, first_label, last_label = _sequence_bounds(sequence_id, X.shape[0])
        Y, labels = self._prepare_targets(y, first=first, partial=partial, classes=classes)
        layout = self._cell().layout(self.hidden_size, self.n_features_in_, self.n_outputs_)
        learner = self._learner()
        if first or not learner.online:  # before any allocation (an online learner's state
            # is allocated once; a dense layout bounds a sparse one)
            check_state_memory(
                learner, layout, self._dt().itemsize, int(lengths.max()), n_streams=self.batch_size
            )
        n_threads = effective_n_threads(self.n_jobs)
        rng = check_random_state(self.random_state) if first or not partial else None
        if first:
            self._init_network(layout, rng)
        else:
            self._check_compatible(layout)
        layout = self._layout()
        self._update["optimizer"] = self._optimizer().to_kernel(alpha=self.alpha)
        args = (layout, learner, X, Y, labels, weights, starts, lengths, n_threads)
        return args, rng, starts, lengths, first_label, last_label

    def _train(self, args, rng, starts, lengths, first_label, last_label, sequence_id, partial):
        X = args[2]
        with blas_single_threaded():
            if partial:
                carry = self._stream["started"] and (first_label == self._stream["label"])
                loss, steps = self._run_sequences(
                    *args, np.arange(len(starts)), carry, last_continues=True
                )
                self._stream["label"] = last_label
                self._after_pass(loss, steps, X.shape[0], "partial_fit")
                return self
            order = np.arange(len(starts))
            for _ in range(self.max_iter):
                if self.shuffle and len(order) > 1:
                    order = rng.permutation(len(starts))
                t0 = time.perf_counter()
                loss, steps = self._run_sequences(*args, order, False)
                self._flush()
                self._after_pass(loss, steps, X.shape[0], "fit")
                if self.verbose:
                    print(
                        f"Iteration {self.n_iter_}, loss = {self.loss_curve_[-1]:.8f} "
                        f"({steps / max(time.perf_counter() - t0, 1e-12):.0f} steps/s)"
                    )
                if self._converged():
                    break
            else:
                warnings.warn(
                    f"Maximum iterations ({self.max_iter}) reached and the optimization "
                    "hasn't converged yet.",
                    ConvergenceWarning,
                    stacklevel=5,  # the caller of fit (_train, _fit_stream, fit, its wrapper)
                )
            last = order[-1]
            self._stream["label"] = (
                None
                if sequence_id is None
                else _label(_normalised_ids(sequence_id), starts[last] + lengths[last] - 1)
            )
        return self

    def _run_sequences(
        self,
        layout,
        learner,
        X,
        Y,
        labels,
        weights,
        starts,
        lengths,
        n_threads,
        order,
        carry_first,
        last_continues=False,
    ):
        """Train on the sequences in ``order``, ``batch_size`` at a time; the stream of the
        last one becomes stream 0 (the live stream). ``last_continues``: the last sequence
        goes on in a later call (partial_fit), so it does not end here."""
        states = self._stream["states"]
        lstate = self._stream["learner"]
        total, steps = 0.0, 0
        B = self.batch_size
        learner.check_state(layout, lstate, self._dt(), B)  # before streams are reset
        for g0 in range(0, len(order), B):
            idx = order[g0 : g0 + B]
            if not (carry_first and g0 == 0):
                # a stream cut off by the previous call may still hold back gradient
                learner.flush_streams(layout, lstate, self._update["acc"], **self._flush_context())
            for b in range(len(idx)):
                if not (carry_first and g0 == 0 and b == 0):
                    states[b] = 0.0
                    learner.reset_stream(lstate, b)
            ends = np.ones(len(idx), dtype=np.intp)
            if last_continues and g0 + len(idx) == len(order):
                ends[-1] = 0
            loss, n = learner.train(
                layout,
                self._w,
                X,
                Y,
                labels,
                weights,
                starts[idx],
                lengths[idx],
                ends,
                states,
                lstate,
                self._update,
                self._kernel_update_every(),
                self._loss.kind,
                n_threads,
            )
            total += loss
            steps += n
        last = (len(order) - 1) % B
        if last:
            states[[0, last]] = states[[last, 0]]
            learner.swap_streams(lstate, 0, last)
        self._stream["started"] = True
        return total, steps

    def _flush(self) -> None:
        """Apply what is left of the update window (fit, at the end of an epoch)."""
        u = self._update
        if self.update_every is None or u["window"][0] == 0:
            return
        applied = _core.optimizer_step(
            u["optimizer"],
            self._w,
            u["acc"],
            1.0 / u["window"][0],
            u["pmask"],
            u["dmask"],
            u["m"],
            u["v"],
            u["t"],
        )
        if not applied:
            u["diverged"][0] += 1
            self.reset_state()
        u["acc"][:] = 0.0
        u["window"][:] = 0

    def _after_pass(self, loss: float, steps: int, n_rows: int, where: str) -> None:
        self.n_iter_ += 1
        self.t_ += steps
        # a pass whose every step diverged has no loss to report (not a perfect 0)
        self.loss_curve_.append(loss / steps if steps else (np.nan if n_rows else 0.0))
        diverged = self._update["diverged"]
        if diverged[0]:
            row = int(diverged[1])
            warnings.warn(
                f"{where}: non-finite loss, state or gradient ({int(diverged[0])} time(s), "
                f"first at row {row} of X); the update was not applied and the hidden and "
                "learner states restarted from zero. Lower learning_rate or set clip_norm.",
                DivergenceWarning,
                stacklevel=6,  # the caller of fit / partial_fit
            )
            diverged[:] = (0, -1)

    def _converged(self) -> bool:
        loss = self.loss_curve_[-1]
        if not loss <= self.best_loss_ - self.tol:  # no improvement (nan included)
            self._no_improvement_count += 1
        else:
            self._no_improvement_count = 0
        if loss < self.best_loss_:
            self.best_loss_ = loss
        if self._no_improvement_count > self.n_iter_no_change:
            if self.verbose:
                print(
                    f"Training loss did not improve more than tol={self.tol} for "
                    f"{self.n_iter_no_change} consecutive epochs. Stopping."
                )
            return True
        return False

    # ---------------------------------------------------------------------- inference
    def _forward(self, X, sequence_id, initial=None, initial_label=None):
        """Readout y_hat for every row, the state the rows end in and their last label.

        Pure: the first sequence starts from a copy of ``initial`` (if given, and if its label
        equals ``initial_label`` or that is None), every other one from zero; the live stream
        is not advanced."""
        check_is_fitted(self, "_w")
        X = validate_data(self, X, reset=False, dtype=self._dt())
        X = np.asarray(X, dtype=self._dt())
        starts, lengths, first, last = _sequence_bounds(sequence_id, X.shape[0])
        if initial_label is not None and first != initial_label:
            initial = None
        layout = self._layout()
        spec = layout.to_kernel()
        out = np.empty((X.shape[0], layout.n_outputs), dtype=self._dt())
        with blas_single_threaded():
            for i, (s, n) in enumerate(zip(starts, lengths, strict=True)):
                if i == 0 and initial is not None:
                    state = np.array(initial, dtype=self._dt())
                else:
                    state = np.zeros(layout.state_size, dtype=self._dt())
                _core.forward_run(spec, self._w, X[s : s + n], state, out[s : s + n])
        return out, state, last

    def _stream_state(self, reset: bool):
        """Where predict's first sequence starts: None (zero) or the live stream's state."""
        return None if reset or not hasattr(self, "_stream") else self._stream["states"][0]

    def to_torch(self):
        """The network as PyTorch modules ``(rnn, readout)`` with the current weights: a
        ``torch.nn.RNN`` (Elman, leak 1), ``GRU`` or ``LSTM`` and a ``torch.nn.Linear`` (see
        :func:`rtrl.from_torch`; needs torch)."""
        from .torch_interop import to_torch

        check_is_fitted(self, "_w")
        return to_torch(self)

    def _predict_chunk(self, X, sequence_id, state, last_label):
        """Predictions for one chunk of a longer file (``rtrl predict``): the chunk's first
        sequence continues from ``state`` when its label equals ``last_label`` (or there are
        no labels); returns ``(predictions, state at the chunk's end, its last label)``."""
        out, state, last = self._forward(X, sequence_id, state, last_label)
        return self._predictions(out), state, last

    def reset_state(self):
        """Start a new stream: hidden and learner states back to zero (random learners'
        generators go on); the weights, the optimizer and the pending gradient are kept.
        TBPTT first closes the window it holds, as a sequence's end does (back-propagated,
        and its update applied)."""
        check_is_fitted(self, "_w")
        learner = self._learner()
        layout = self._layout()
        learner.check_state(layout, self._stream["learner"], self._dt(), self.batch_size)
        learner.flush_streams(
            layout, self._stream["learner"], self._update["acc"], **self._flush_context()
        )
        self._stream["states"][:] = 0.0
        for b in range(self.batch_size):
            learner.reset_stream(self._stream["learner"], b)
        self._stream["label"] = None
        self._stream["started"] = False
        return self

    @property
    def params_(self) -> dict[str, np.ndarray]:
        """The fitted parameters, named as in :mod:`rtrl.cells` (copies)."""
        check_is_fitted(self, "_w")
        return self._layout().unpack(self._w)

    @property
    def weight_hh_mask_(self) -> np.ndarray | None:
        """The fixed mask of ``weight_hh`` (True = kept) of a sparse network
        (``density`` < 1), or None for a dense one."""
        check_is_fitted(self, "_w")
        mask = self._layout().weight_hh_mask
        return None if mask is None else np.array(mask, dtype=bool)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags


_DOC_PARAMS = """
    Parameters
    ----------
    hidden_size : int, default=32
        Number of hidden units n.
    cell : {"elman", "gru", "lstm", "jordan"} or Cell, default="elman"
        The recurrent cell (:mod:`rtrl.cells`); equations and parameter names follow PyTorch.
    nonlinearity : {"tanh", "relu"} or None, default=None
        Activation of the Elman and Jordan cells (None: the cell's own, tanh by default).
    learner : str or Learner, default="rtrl"
        The gradient algorithm (:mod:`rtrl.learners`): ``"rtrl"`` (exact, online),
        ``"snap1"``, ``"snap2"`` (SnAp-k), ``"kf"`` (KF-RTRL), ``"ok"`` (OK, rank 2),
        ``"uoro"``, ``"tbptt"`` (window 20), ``"bptt"`` (whole sequences, updates at their
        end), or a learner object such as ``rtrl.learners.OK(rank=4)``.
    density : float in (0, 1], default=1.0
        Fraction of the recurrent weights ``weight_hh`` kept; the others are masked to zero
        by a fixed random mask (drawn from ``random_state``) and stay exactly zero.
    optimizer : {"adam", "sgd"} or Optimizer, default="adam"
        The update rule; an :class:`rtrl.optim.Optimizer` object brings its own
        hyperparameters (``learning_rate``, ``momentum`` and ``clip_norm`` then do not apply).
    learning_rate : float, default=1e-3
        Step size of the optimizer.
    momentum : float in [0, 1), default=0.9
        Momentum of ``"sgd"``.
    clip_norm : float or None, default=None
        Clip each update's gradient to this Euclidean norm.
    update_every : int or None, default=1
        Time steps between weight updates (1 = fully online); None updates once per group
        of ``batch_size`` sequences, at its end. See "Updates" in :mod:`rtrl.estimators`.
    max_iter : int, default=10
        Epochs of ``fit`` over the sequences.
    batch_size : int, default=1
        Sequences advanced side by side (independent streams, one update from the mean of
        their gradients).
    alpha : float, default=0.0
        L2 penalty on the weights (not the biases), added to the gradient.
    tol : float, default=1e-4
        ``fit`` stops when the epoch's loss has not improved by ``tol`` for
        ``n_iter_no_change`` consecutive epochs.
    n_iter_no_change : int, default=10
    shuffle : bool, default=True
        Shuffle the order of the sequences (never the rows) at each epoch of ``fit``.
    dtype : {"float64", "float32"}, default="float64"
        Precision of the weights and the computation.
    n_jobs : int or None, default=None
        OpenMP threads of the kernels (None: what the OpenMP runtime allows; -1: all CPUs).
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the density mask and the shuffling.
    verbose : int, default=0
        Print one line per epoch of ``fit``.
"""

_DOC_ATTRIBUTES = """
    Attributes
    ----------
    params_ : dict of str to ndarray
        The fitted parameters, named as in PyTorch plus ``readout_weight``/``readout_bias``.
    loss_curve_ : list of float
        Mean weighted loss per step: one entry per epoch of ``fit``, per call of
        ``partial_fit``. Measured before each update (prequential, test-then-train).
    best_loss_ : float
        The smallest entry of ``loss_curve_``.
    n_iter_ : int
        Epochs run by ``fit`` (plus one per ``partial_fit`` call).
    t_ : int
        Time steps trained on (summed over streams).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names.
    n_outputs_ : int
        Outputs of the readout.
"""


class RTRLRegressor(RegressorMixin, _BaseRTRL):
    __doc__ = (
        """Recurrent network regressor trained online by Real-Time Recurrent Learning.

    Predicts a target at every time step from the inputs so far; the squared error
    ½‖ŷ_t − y_t‖² is summed over the steps, weighted by ``sample_weight``.
    See :mod:`rtrl.estimators` for the data conventions, streams and updates.
"""
        + _DOC_PARAMS
        + _DOC_ATTRIBUTES
        + """
    Examples
    --------
    >>> import rtrl
    >>> from rtrl.datasets import delayed_sum
    >>> X, y = delayed_sum(3000, delays=(2,), random_state=0)
    >>> est = rtrl.RTRLRegressor(hidden_size=16, learning_rate=3e-3, random_state=0)
    >>> for start in range(0, 3000, 500):          # a stream, chunk by chunk
    ...     _ = est.partial_fit(X[start:start + 500], y[start:start + 500])
    >>> bool(est.score(X[-500:], y[-500:]) > 0.9)
    True
"""
    )

    _loss = SquaredError()

    def _prepare_targets(self, y, *, first, partial, classes=None):
        Y = _finite_as(y, self._dt(), "y")
        if first:
            self._y_ndim = Y.ndim
            self.n_outputs_ = 1 if Y.ndim == 1 else Y.shape[1]
        elif (1 if Y.ndim == 1 else Y.shape[1]) != self.n_outputs_:
            raise ValueError(
                f"y has {1 if Y.ndim == 1 else Y.shape[1]} outputs but the model was fitted "
                f"with {self.n_outputs_}"
            )
        Y = Y.reshape(Y.shape[0], -1)
        return np.ascontiguousarray(Y), np.empty(0, dtype=np.intp)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sequence_id=None, sample_weight=None):
        """Train from new random weights for up to ``max_iter`` epochs over the sequences.

        Parameters
        ----------
        X : array-like of shape (n_steps, n_features)
        y : array-like of shape (n_steps,) or (n_steps, n_outputs)
        sequence_id : array-like of shape (n_steps,), default=None
            Per-row sequence labels; a change of label starts a new sequence.
        sample_weight : array-like of shape (n_steps,), default=None
            Non-negative per-step weights; 0 masks a step.

        Returns
        -------
        self
        """
        return self._fit_stream(X, y, sequence_id, sample_weight, partial=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sequence_id=None, sample_weight=None):
        """One pass over ``X``, continuing the live stream (hidden state, learner state,
        pending gradient and optimizer state carry over between calls)."""
        return self._fit_stream(X, y, sequence_id, sample_weight, partial=True)

    def predict(self, X, sequence_id=None, reset=True):
        """Prediction at every step.

        Parameters
        ----------
        X : array-like of shape (n_steps, n_features)
        sequence_id : array-like of shape (n_steps,), default=None
        reset : bool, default=True
            If False, the first sequence starts from the live stream's state (which is not
            advanced) instead of from zero.

        Returns
        -------
        y : ndarray of shape (n_steps,) or (n_steps, n_outputs)
        """
        return self._predictions(self._forward(X, sequence_id, self._stream_state(reset))[0])

    def _predictions(self, out):
        return out[:, 0] if self._y_ndim == 1 else out

    def score(self, X, y, sample_weight=None, sequence_id=None):
        """R² of the step-wise predictions (from the zero state)."""
        return r2_score(y, self.predict(X, sequence_id=sequence_id), sample_weight=sample_weight)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


class RTRLClassifier(ClassifierMixin, _BaseRTRL):
    __doc__ = (
        """Recurrent network classifier trained online by Real-Time Recurrent Learning.

    Predicts a class at every time step with a softmax readout trained by cross-entropy,
    weighted by ``sample_weight``. To classify whole sequences, label every step of a
    sequence with its class and weight only its last step (``sample_weight`` 0 elsewhere);
    read the prediction at the last step.
    See :mod:`rtrl.estimators` for the data conventions, streams and updates.
"""
        + _DOC_PARAMS
        + _DOC_ATTRIBUTES
        + """
    classes_ : ndarray of shape (n_classes,)

    Examples
    --------
    Sequence classification: is the sum of a sequence's inputs positive? Only the last step
    of each sequence carries weight, and the weights are updated once per sequence.

    >>> import numpy as np
    >>> import rtrl
    >>> rng = np.random.default_rng(0)
    >>> n_seq, length = 300, 8
    >>> X = rng.normal(size=(n_seq * length, 1))
    >>> seq = np.repeat(np.arange(n_seq), length)
    >>> label = np.repeat(X[:, 0].reshape(n_seq, length).sum(axis=1) > 0, length)
    >>> last = np.tile(np.arange(length) == length - 1, n_seq).astype(float)
    >>> clf = rtrl.RTRLClassifier(hidden_size=10, learning_rate=3e-3, update_every=None,
    ...                           max_iter=30, random_state=0)
    >>> _ = clf.fit(X, label, sequence_id=seq, sample_weight=last)
    >>> pred = clf.predict(X, sequence_id=seq)[last == 1]
    >>> bool((pred == label[last == 1]).mean() > 0.9)
    True
"""
    )

    _loss = CrossEntropy()

    def _prepare_targets(self, y, *, first, partial, classes=None):
        y = np.asarray(y)
        if first:
            if classes is None:
                if partial:
                    raise ValueError("classes must be passed on the first call to partial_fit")
                check_classification_targets(y)
                classes = np.unique(y)
            else:
                classes = np.unique(np.asarray(classes))
                check_classification_targets(classes)
            if len(classes) < 2:
                raise ValueError(
                    f"the classifier needs at least 2 classes; got {len(classes)} class: "
                    f"{classes.tolist()}"
                )
            self.classes_ = classes
            self.n_outputs_ = len(classes)
        else:
            check_classification_targets(y)
            if classes is not None and not np.array_equal(
                np.unique(np.asarray(classes)), self.classes_
            ):
                raise ValueError(
                    f"classes={np.unique(np.asarray(classes)).tolist()} is not the same as on "
                    f"the first call to partial_fit ({self.classes_.tolist()})"
                )
        unseen = np.setdiff1d(y, self.classes_)
        if unseen.size:
            raise ValueError(
                f"y contains labels not in classes_ {self.classes_.tolist()}: {unseen.tolist()}"
            )
        labels = np.searchsorted(self.classes_, y).astype(np.intp)
        return np.empty((0, 0), dtype=self._dt()), np.ascontiguousarray(labels)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sequence_id=None, sample_weight=None):
        """Train from new random weights for up to ``max_iter`` epochs over the sequences.

        Parameters
        ----------
        X : array-like of shape (n_steps, n_features)
        y : array-like of shape (n_steps,)
            A class label per step (weight the steps whose labels matter).
        sequence_id : array-like of shape (n_steps,), default=None
        sample_weight : array-like of shape (n_steps,), default=None

        Returns
        -------
        self
        """
        return self._fit_stream(X, y, sequence_id, sample_weight, partial=False)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, sequence_id=None, sample_weight=None, classes=None):
        """One pass over ``X``, continuing the live stream.

        ``classes`` (all the classes that will ever be seen) is required on the first call.
        """
        return self._fit_stream(X, y, sequence_id, sample_weight, partial=True, classes=classes)

    def predict_proba(self, X, sequence_id=None, reset=True):
        """Class probabilities at every step, shape (n_steps, n_classes)."""
        out = self.predict_log_proba(X, sequence_id=sequence_id, reset=reset)
        np.exp(out, out=out)
        return out

    def predict_log_proba(self, X, sequence_id=None, reset=True):
        """Log class probabilities at every step (log-softmax of the readout, computed
        without forming the probabilities), shape (n_steps, n_classes)."""
        out = self._forward(X, sequence_id, self._stream_state(reset))[0].astype(np.float64)
        out -= out.max(axis=1, keepdims=True)
        out -= np.log(np.exp(out).sum(axis=1, keepdims=True))
        return out

    def predict(self, X, sequence_id=None, reset=True):
        """The most probable class at every step."""
        return self._predictions(self._forward(X, sequence_id, self._stream_state(reset))[0])

    def _predictions(self, out):
        return self.classes_[np.argmax(out, axis=1)]

    def score(self, X, y, sample_weight=None, sequence_id=None):
        """Accuracy of the step-wise predictions (from the zero state)."""
        return accuracy_score(
            y, self.predict(X, sequence_id=sequence_id), sample_weight=sample_weight
        )
