r"""
============================
A small copy-task curriculum
============================

In a copy task the network must output the input it saw k steps ago, :math:`y_t = x_{t-k}`:
it has to hold each input in its state for exactly k steps. A *curriculum* starts with
the easiest delay, k = 1, and raises k stage by stage.
Because :meth:`rtrl.RTRLRegressor.partial_fit` continues the same network, the same
hidden state and the same optimizer from call to call, a curriculum is just a sequence of
streams fed to one estimator. This example trains a GRU with exact RTRL through the stages
k = 1, 2, 3, 4 and, for reference, the same network on k = 4 alone for as many steps.
"""

# %%
# The curriculum
# --------------
# Each stage is a fresh stream of 2000 steps from :func:`rtrl.datasets.delayed_sum` with a
# single delay k. It is fed in chunks of 100 steps; ``loss_curve_`` records the
# prequential loss :math:`\tfrac12 (\hat y_t - y_t)^2` of every chunk, each step measured
# before the update it contributes to.
import matplotlib.pyplot as plt
import numpy as np

import rtrl
from rtrl.datasets import delayed_sum

delays = [1, 2, 3, 4]
stage_steps, chunk = 2000, 100


def make_estimator():
    return rtrl.RTRLRegressor(
        hidden_size=16, cell="gru", learner="rtrl", learning_rate=3e-3, random_state=0
    )


def train(est, X, y):
    for start in range(0, len(X), chunk):
        est.partial_fit(X[start : start + chunk], y[start : start + chunk])


curriculum = make_estimator()
for k in delays:
    X, y = delayed_sum(stage_steps, delays=(k,), random_state=k)
    train(curriculum, X, y)

# %%
# The reference: k = 4 from the start
# -----------------------------------
# The same network, initial weights and optimizer, trained on k = 4 for as many steps as
# the whole curriculum.
direct = make_estimator()
X, y = delayed_sum(len(delays) * stage_steps, delays=(4,), random_state=10)
train(direct, X, y)

curve = np.array(curriculum.loss_curve_)
per_stage = curve.reshape(len(delays), -1)
print("curriculum, mean loss of the last 500 steps of each stage:")
for k, losses in zip(delays, per_stage, strict=True):
    print(f"  k = {k}: {losses[-5:].mean():.4f}")
print(f"k = 4 only, mean loss of the last 500 steps: {np.mean(direct.loss_curve_[-5:]):.4f}")

# %%
# Error over time
# ---------------
# The dotted lines mark the start of each stage. In this run each new delay first raises
# the curriculum's loss, which then falls again within the stage; the printed numbers
# above compare the end of the last stage with the network trained on k = 4 only.
steps = np.arange(chunk, len(curve) * chunk + 1, chunk)
fig, ax = plt.subplots(figsize=(8, 4))
ax.plot(steps, curve, label="curriculum k = 1, 2, 3, 4")
ax.plot(steps, direct.loss_curve_, color="C7", alpha=0.8, label="k = 4 from the start")
for i, k in enumerate(delays):
    ax.axvline(i * stage_steps, color="k", ls=":", lw=1)
    ax.text(i * stage_steps + 50, 0.97, f"k = {k}", va="top", transform=ax.get_xaxis_transform())
ax.set_yscale("log")
ax.set_xlabel("time steps trained on")
ax.set_ylabel("mean loss per step of the chunk")
ax.set_title("Copy task, GRU with 16 units, exact RTRL")
ax.legend(loc="lower left")
