r"""
=======================================
Cost versus density for sparse networks
=======================================

Exact RTRL carries the influence matrix :math:`J_t` (S x P, P = n(n + m + 2) for an Elman
network), and each step multiplies it by the state Jacobian :math:`D_t`: :math:`O(n^4)`
per step. On a sparse network, where a fixed mask keeps a fraction d of the recurrent
weights ``weight_hh`` (``density=d``), exact RTRL stores no influence columns for the
masked weights (P' < P columns) and applies :math:`D_t` through its sparsity pattern, at
a cost of :math:`2\,\mathrm{nnz}(D_t)\,P'` flops per step (Menick et al., ICLR 2021).
This example measures the speed and the memory of exact RTRL against the density, and
shows where the sparse form pays off.
"""

# %%
# Timing exact RTRL at several densities
# --------------------------------------
# For each density, an Elman network with 48 units is trained online (an update at every
# step) on 400 steps of :func:`rtrl.datasets.delayed_sum`: 40 steps to warm up, then
# three timed calls of 120 steps, of which the fastest counts (the least disturbed by
# whatever else the machine runs). The learner's memory per stream comes from
# :meth:`rtrl.learners.RTRL.state_bytes` for the network's layout with the mask drawn by
# the estimator (``weight_hh_mask_``); the masked weights are exactly zero in ``params_``.
import time

import matplotlib.pyplot as plt
import numpy as np

import rtrl
from rtrl.datasets import delayed_sum

hidden_size = 48
densities = [0.05, 0.1, 0.2, 0.5, 1.0]
X, y = delayed_sum(400, delays=(2, 4), random_state=0)
layout = rtrl.cells.Elman().layout(hidden_size, 1, 1)

speed, state_bytes, kept = [], [], []
for density in densities:
    est = rtrl.RTRLRegressor(
        hidden_size=hidden_size, learner="rtrl", density=density, random_state=0
    )
    est.partial_fit(X[:40], y[:40])
    best = np.inf
    for start in (40, 160, 280):
        t0 = time.perf_counter()
        est.partial_fit(X[start : start + 120], y[start : start + 120])
        best = min(best, time.perf_counter() - t0)
    speed.append(120 / best)
    mask = est.weight_hh_mask_  # None for the dense network
    if mask is None:
        mask = np.ones_like(est.params_["weight_hh"], dtype=bool)
    kept.append(mask.mean())
    state_bytes.append(rtrl.learners.RTRL().state_bytes(layout.with_mask(mask), 8, 1))

print(f"{'density':>8s} {'kept':>6s} {'steps/s':>9s} {'state (KiB)':>12s}")
for d, k, s, b in zip(densities, kept, speed, state_bytes, strict=True):
    print(f"{d:8.2f} {k:6.3f} {s:9.0f} {b / 1024:12.1f}")

# %%
# Speed and memory against density
# --------------------------------
# Both axes are logarithmic; the dashed lines mark the dense network (``density=1``).
# The dense network multiplies :math:`J_t` by :math:`D_t` in one blocked dense matrix
# product, so the sparse form has to mask a good part of the weights before it is faster.
# The memory, :math:`S (P' + w)` numbers for P' stored columns and a work block of w
# columns, falls more slowly than d: the columns of ``weight_ih`` and the biases are
# always stored.
fig, (ax_speed, ax_mem) = plt.subplots(1, 2, figsize=(9, 3.8))
ax_speed.plot(densities, speed, "o-", label="exact RTRL")
ax_speed.axhline(speed[-1], color="k", ls="--", label="dense network")
ax_speed.set_xscale("log")
ax_speed.set_yscale("log")
ax_speed.set_xlabel("density of weight_hh")
ax_speed.set_ylabel("steps per second")
ax_speed.set_title(f"Training speed, n = {hidden_size}")
ax_speed.legend()

ax_mem.plot(densities, np.array(state_bytes) / 1024, "o-", color="C1", label="exact RTRL")
ax_mem.axhline(state_bytes[-1] / 1024, color="k", ls="--", label="dense network")
ax_mem.set_xscale("log")
ax_mem.set_yscale("log")
ax_mem.set_xlabel("density of weight_hh")
ax_mem.set_ylabel("learner state per stream (KiB)")
ax_mem.set_title("Memory of exact RTRL")
ax_mem.legend()
fig.tight_layout()

# %%
# How the saving scales
# ---------------------
# The speed-up over the dense network at each density, and the memory saved.
for d, s in zip(densities, speed, strict=True):
    print(f"density {d:4.2f}: {s / speed[-1]:5.1f}x the dense speed")
for d, b in zip(densities, state_bytes, strict=True):
    print(f"density {d:4.2f}: {b / state_bytes[-1]:5.2f}x the dense memory")
