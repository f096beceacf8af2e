"""A slow, independent NumPy oracle of ONLINE training by exact RTRL (float64).

Written from the documented semantics (``rtrl.estimators`` "Updates", ``rtrl.optim``), not
from the kernels. It reuses only the per-step cell equations of ``tests/_reference.py``
(``_step``: new state, dense D_t = ds_t/ds_{t-1} and I_t = ds_t/dtheta), which were written
from PyTorch's equations; everything about updating the weights during the sequence is here.

One stream, batch_size=1, squared error L_t = 0.5 ||yhat_t - y_t||^2, cells elman/gru/lstm
(the readout V, c is outside the recurrence):

* s_0 = 0, J_0 = 0 (J = ds/dtheta over the recurrent parameters theta), acc = 0, count = 0.
* step t, with the CURRENT weights: s_t, D_t, I_t = step(s_{t-1}, x_t);
  J_t = D_t J_{t-1} + I_t  (J is carried across weight changes, as usual in online RTRL);
  g_t = w_t (dL_t/ds_t) J_t for theta, plus the direct readout gradient w_t dL_t/d(V, c);
  acc += g_t; count += 1.
* when count == update_every (or, for update_every=None, at the end of the call):
  g = acc / count + alpha * w  (the L2 term on weights only, not on biases);
  if clip_norm and ||g|| > clip_norm: g *= clip_norm / ||g||  (norm of the whole vector);
  optimizer step; acc = 0; count = 0.
* SGD:  v <- mu v - lr g,  w <- w + v.
  Adam: t += 1, m <- b1 m + (1-b1) g, v <- b2 v + (1-b2) g^2,
        w <- w - lr sqrt(1-b2^t)/(1-b1^t) m / (sqrt(v) + eps).

:class:`OnlineRTRLReference` keeps the whole stream (state, J, pending gradient, optimizer
state) between calls of :meth:`OnlineRTRLReference.partial_fit`, like the estimator's live
stream; :func:`reference_online_rtrl` is one call from given initial parameters.
"""

from __future__ import annotations

import numpy as np
from _reference import _loss_and_grad, _recurrent_names, _state_size, _step, param_shapes

__all__ = ["OnlineRTRLReference", "reference_online_rtrl"]

ONLINE_CELLS = ("elman", "gru", "lstm")


class OnlineRTRLReference:
    """Online exact RTRL with a dense influence matrix, one stream, float64."""

    def __init__(
        self,
        cell,
        p0,
        *,
        optimizer="sgd",
        learning_rate,
        momentum=0.0,
        update_every=1,
        alpha=0.0,
        clip_norm=None,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        nonlinearity="tanh",
        leak=1.0,
    ):
        if cell not in ONLINE_CELLS:
            raise ValueError(f"the online oracle covers {ONLINE_CELLS}, got {cell!r}")
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"unknown optimizer {optimizer!r}")
        if update_every is not None and int(update_every) < 1:
            raise ValueError("update_every must be None or >= 1")
        self.cell = cell
        self.optimizer = optimizer
        self.lr = float(learning_rate)
        self.momentum = float(momentum)
        self.update_every = None if update_every is None else int(update_every)
        self.alpha = float(alpha)
        self.clip_norm = None if clip_norm is None else float(clip_norm)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.nonlinearity, self.leak = nonlinearity, float(leak)

        P = {k: np.array(v, dtype=np.float64) for k, v in p0.items()}
        n_out, n = P["readout_weight"].shape
        m = P["weight_ih"].shape[1]
        shapes = param_shapes(cell, n, m, n_out)
        if set(shapes) != set(P) or any(P[k].shape != s for k, s in shapes.items()):
            raise ValueError("p0 does not have the cell's parameter names and shapes")
        self.names = list(shapes)  # fixed order for the flat vector
        self.shapes = shapes
        self.n, self.m, self.n_out = n, m, n_out
        self.w = self._pack(P)
        ends = np.cumsum([P[k].size for k in self.names])
        self.bounds = {
            k: (int(e - P[k].size), int(e)) for k, e in zip(self.names, ends, strict=True)
        }
        # L2 penalty on weights only (names without "bias")
        self.decay = self._pack(
            {k: np.full(s, 0.0 if "bias" in k else 1.0) for k, s in shapes.items()}
        )
        self.rec_names = _recurrent_names(cell)
        self.n_theta = sum(P[k].size for k in self.rec_names)
        self.S = _state_size(cell, n)
        # the live stream
        self.s = np.zeros(self.S)
        self.J = np.zeros((self.S, self.n_theta))
        self.acc = np.zeros_like(self.w)
        self.count = 0
        # optimizer state
        self.vel = np.zeros_like(self.w)  # SGD
        self.adam_m = np.zeros_like(self.w)
        self.adam_v = np.zeros_like(self.w)
        self.adam_t = 0
        self.n_updates = 0
        self.n_clipped = 0

    # ---------------------------------------------------------------- flat <-> named
    def _pack(self, d):
        return np.concatenate([np.asarray(d[k], dtype=np.float64).ravel() for k in self.names])

    def params(self):
        return {k: self.w[a:b].reshape(self.shapes[k]).copy() for k, (a, b) in self.bounds.items()}

    # ----------------------------------------------------------------------- updates
    def _apply_update(self):
        g = self.acc / self.count + self.alpha * self.decay * self.w
        if self.clip_norm is not None:
            norm = np.sqrt(np.dot(g, g))
            if norm > self.clip_norm:
                g = g * (self.clip_norm / norm)
                self.n_clipped += 1
        if self.optimizer == "sgd":
            self.vel = self.momentum * self.vel - self.lr * g
            self.w = self.w + self.vel
        else:
            b1, b2 = self.beta_1, self.beta_2
            self.adam_t += 1
            t = self.adam_t
            self.adam_m = b1 * self.adam_m + (1.0 - b1) * g
            self.adam_v = b2 * self.adam_v + (1.0 - b2) * g * g
            step = self.lr * np.sqrt(1.0 - b2**t) / (1.0 - b1**t)
            self.w = self.w - step * self.adam_m / (np.sqrt(self.adam_v) + self.epsilon)
        self.acc = np.zeros_like(self.w)
        self.count = 0
        self.n_updates += 1

    # ---------------------------------------------------------------------- training
    def partial_fit(self, X, y, sample_weight=None):
        """Continue the stream over the rows of X; returns sum_t w_t L_t (prequential)."""
        X = np.asarray(X, dtype=np.float64)
        T = X.shape[0]
        Y = np.asarray(y, dtype=np.float64).reshape(T, -1)
        if X.shape[1] != self.m or Y.shape[1] != self.n_out:
            raise ValueError("X or y does not match the network")
        wts = np.ones(T) if sample_weight is None else np.asarray(sample_weight, np.float64)
        n = self.n
        total = 0.0
        for t in range(T):
            P = self.params()  # the CURRENT weights
            s, D, I_parts = _step(self.cell, P, self.s, X[t], self.nonlinearity, self.leak)
            I_t = np.hstack([I_parts[k] for k in self.rec_names])
            self.J = D @ self.J + I_t
            self.s = s
            h = s[:n]
            V, c = P["readout_weight"], P["readout_bias"]
            yhat = V @ h + c
            L, dL_dy = _loss_and_grad(yhat, Y[t], "squared_error")
            total += wts[t] * L
            dL_ds = np.zeros(self.S)
            dL_ds[:n] = V.T @ dL_dy
            g_theta = wts[t] * (dL_ds @ self.J)
            off = 0
            for k in self.rec_names:
                a, b = self.bounds[k]
                self.acc[a:b] += g_theta[off : off + (b - a)]
                off += b - a
            a, b = self.bounds["readout_weight"]
            self.acc[a:b] += wts[t] * np.outer(dL_dy, h).ravel()
            a, b = self.bounds["readout_bias"]
            self.acc[a:b] += wts[t] * dL_dy
            self.count += 1
            if self.update_every is not None and self.count == self.update_every:
                self._apply_update()
        if self.update_every is None and self.count > 0:
            self._apply_update()  # the end of the call ends its (only) sequence
        return float(total)


def reference_online_rtrl(
    cell,
    p0,
    X,
    Y,
    *,
    optimizer="sgd",
    learning_rate,
    momentum=0.0,
    update_every=1,
    alpha=0.0,
    clip_norm=None,
    sample_weight=None,
    **kwargs,
):
    """One ``partial_fit`` call from the initial parameters ``p0`` (a fresh stream).

    Returns ``(final_params, total_weighted_loss)``.
    """
    ref = OnlineRTRLReference(
        cell,
        p0,
        optimizer=optimizer,
        learning_rate=learning_rate,
        momentum=momentum,
        update_every=update_every,
        alpha=alpha,
        clip_norm=clip_norm,
        **kwargs,
    )
    loss = ref.partial_fit(X, Y, sample_weight)
    return ref.params(), loss
