"""
===================================
Online forecasting with partial_fit
===================================

A recurrent network trained by Real-Time Recurrent Learning can learn from a live stream:
every call of :meth:`rtrl.RTRLRegressor.partial_fit` continues from the hidden state, the
influence matrix and the optimizer state left by the previous one, so nothing of the past
has to be stored. This example feeds a stream chunk by chunk and measures the
*prequential* (test-then-train) error: each chunk is first predicted by the current model,
continuing the live stream's state, and only then used for training. That error is an
honest estimate of how well the model forecasts data it has not seen yet.
"""

# %%
# A stream that needs memory
# --------------------------
# :func:`rtrl.datasets.delayed_sum` draws inputs :math:`x_t \sim \mathcal N(0, 1)` and
# targets :math:`y_t = x_{t-2} + x_{t-4}`. The current input says nothing about the
# target, so a model without memory cannot beat predicting the mean.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LinearRegression

import rtrl
from rtrl.datasets import delayed_sum

n_steps, chunk = 6000, 250
X, y = delayed_sum(n_steps, delays=(2, 4), random_state=0)

# %%
# Test, then train, chunk by chunk
# --------------------------------
# ``predict(..., reset=False)`` starts from the live stream's hidden state without
# advancing it; ``partial_fit`` then trains on the same rows, with an Adam update at every
# step. The linear baseline is fitted once, on the first chunk, and scored on the others.
est = rtrl.RTRLRegressor(hidden_size=16, learning_rate=1e-3, random_state=0)
linear = LinearRegression().fit(X[:chunk], y[:chunk])

starts = np.arange(0, n_steps, chunk)
rnn_mse, linear_mse = [], []
for start in starts:
    Xc, yc = X[start : start + chunk], y[start : start + chunk]
    if start > 0:
        rnn_pred = est.predict(Xc, reset=False)  # test first ...
        rnn_mse.append(np.mean((rnn_pred - yc) ** 2))
        linear_mse.append(np.mean((linear.predict(Xc) - yc) ** 2))
    est.partial_fit(Xc, yc)  # ... then train

print(f"steps trained on: {est.t_}")
print(f"prequential MSE, first tested chunk: {rnn_mse[0]:.3f}")
print(f"prequential MSE, mean of the last 5 chunks: {np.mean(rnn_mse[-5:]):.3f}")
print(f"linear baseline MSE, mean over the stream: {np.mean(linear_mse):.3f}")

# %%
# The prequential error
# ---------------------
# Each point is the mean squared error on a chunk the network had not been trained on.
fig, ax = plt.subplots(figsize=(7, 4))
ax.plot(starts[1:], rnn_mse, marker="o", ms=3, label="RTRL (Elman, 16 units)")
ax.plot(starts[1:], linear_mse, ls="--", label="linear regression on the first chunk")
ax.set_yscale("log")
ax.set_xlabel("time step (start of the chunk)")
ax.set_ylabel("mean squared error on the chunk")
ax.set_title("Prequential error on the delayed-sum stream")
ax.legend()

# %%
# Targets and predictions on the last chunk
# -----------------------------------------
# These are the test-then-train predictions of the last chunk, made before the network
# had trained on it; the first 80 steps are shown.
Xc, yc = X[starts[-1] :], y[starts[-1] :]
window = slice(0, 80)
fig, ax = plt.subplots(figsize=(7, 4))
t = np.arange(starts[-1], n_steps)[window]
ax.plot(t, yc[window], color="k", lw=2, label="target $x_{t-2} + x_{t-4}$")
ax.plot(t, rnn_pred[window], color="C0", label="RTRL prediction")
ax.plot(t, linear.predict(Xc)[window], color="C1", ls="--", label="linear prediction")
ax.set_xlabel("time step")
ax.set_ylabel("value")
ax.set_ylim(-4.5, 5.5)
ax.set_title("Last chunk: targets and one-step predictions")
ax.legend(loc="upper center", ncol=3, fontsize="small")
