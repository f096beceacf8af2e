r"""
==============================
Learners compared on one task
==============================

Exact RTRL carries the full influence matrix :math:`J_t = \partial s_t / \partial \theta`,
which costs :math:`O(n^4)` per step for n hidden units. The approximate learners of
:mod:`rtrl.learners` trade gradient quality for cost: SnAp-1 keeps only the entries of
:math:`J_t` a parameter reaches in one step, KF-RTRL and OK keep Kronecker-factored
estimates, UORO a rank-one estimate, and truncated BPTT back-propagates through a window of
recent steps (20 by default). This example trains the same network with each of them on
the same stream, with the same hyperparameters, and compares how fast the prequential loss
falls and how many steps per second each one runs.
"""

# %%
# One stream, one network per learner
# -----------------------------------
# The targets are :math:`y_t = x_{t-2} + x_{t-4}` (:func:`rtrl.datasets.delayed_sum`). Each
# estimator sees the stream in chunks of 250 steps and updates its weights at every step.
# ``loss_curve_`` holds one entry per ``partial_fit`` call: the mean loss
# :math:`\tfrac12 (\hat y_t - y_t)^2` of the chunk, each step measured before the update
# it contributes to (prequential). Only the ``partial_fit`` calls are timed.
import time

import matplotlib.pyplot as plt
import numpy as np

import rtrl
from rtrl.datasets import delayed_sum

n_steps, chunk = 6000, 250
X, y = delayed_sum(n_steps, delays=(2, 4), random_state=0)
learners = ["rtrl", "snap1", "kf", "ok", "uoro", "tbptt"]

curves, speed = {}, {}
for learner in learners:
    est = rtrl.RTRLRegressor(hidden_size=16, learner=learner, learning_rate=1e-3, random_state=0)
    elapsed = 0.0
    for start in range(0, n_steps, chunk):
        t0 = time.perf_counter()
        est.partial_fit(X[start : start + chunk], y[start : start + chunk])
        elapsed += time.perf_counter() - t0
    curves[learner] = np.array(est.loss_curve_)
    speed[learner] = n_steps / elapsed

# %%
# A small table
# -------------
# The loss over the last 1000 steps and the training speed. Steps per second depend on the
# machine and the number of threads; the ratios between learners are what to look at.
print(f"{'learner':8s} {'loss, last 1000 steps':>22s} {'steps/s':>9s}")
for learner in learners:
    print(f"{learner:8s} {curves[learner][-4:].mean():22.4f} {speed[learner]:9.0f}")

# %%
# Prequential loss curves
# -----------------------
steps = np.arange(chunk, n_steps + 1, chunk)
fig, ax = plt.subplots(figsize=(7, 4))
for learner in learners:
    ax.plot(steps, curves[learner], label=learner)
ax.set_yscale("log")
ax.set_xlabel("time steps trained on")
ax.set_ylabel("mean loss per step of the chunk")
ax.set_title("Prequential loss, Elman network with 16 units")
ax.legend(ncol=2)

# %%
# Training speed
# --------------
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.bar(learners, [speed[learner] for learner in learners], color="C0")
ax.set_xlabel("learner")
ax.set_ylabel("steps per second")
ax.set_title("Training speed (partial_fit, one update per step)")
