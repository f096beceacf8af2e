r"""
=====================================
Gradient alignment against exact RTRL
=====================================

Approximate learners are cheaper than exact RTRL because they estimate the influence
matrix instead of carrying it. How good are their gradients? For fixed parameters,
:func:`rtrl.gradient_alignment` runs each learner over one sequence and compares its
gradient estimate :math:`\hat g` with the exact gradient :math:`g` of exact RTRL. Random
learners (KF-RTRL, OK, UORO) are run with many seeds, which separates their two kinds of
error: the *bias* :math:`\lVert \bar g - g \rVert / \lVert g \rVert` of the mean estimate
and the *variance* around it. Deterministic learners (SnAp-1, truncated BPTT) have no
variance, only bias.
"""

# %%
# A small network and one sequence
# --------------------------------
# An Elman network with 16 units at its initial (PyTorch-style) parameters, and 200 steps
# of the delayed-sum task :math:`y_t = x_{t-2} + x_{t-4}`.
import matplotlib.pyplot as plt
import numpy as np

import rtrl
from rtrl.datasets import delayed_sum

cell = rtrl.cells.Elman()
params = cell.init_params(hidden_size=16, n_features=1, n_outputs=1, random_state=0)
X, y = delayed_sum(200, delays=(2, 4), random_state=1)

learners = ["snap1", "kf", "ok", "uoro", "tbptt"]
report = rtrl.gradient_alignment(
    params, X, y, cell=cell, learners=learners, n_seeds=20, random_state=0
)

# %%
# The report
# ----------
# ``cosine`` is the mean over seeds of :math:`\cos(\hat g_s, g)`; ``cosine_of_mean`` the
# cosine of the seeds' mean estimate. For an unbiased learner the second approaches 1 as
# seeds are added, while the first stays limited by the variance of a single estimate.
print(f"{'learner':8s} {'cosine':>8s} {'cos(mean)':>10s} {'rel. bias':>10s} {'rel. var':>10s}")
for name in learners:
    r = report[name]
    print(
        f"{name:8s} {r['cosine']:8.4f} {r['cosine_of_mean']:10.4f} "
        f"{r['relative_bias']:10.4f} {r['relative_variance']:10.4f}"
    )

# %%
# Cosine similarity
# -----------------
# One estimate against the exact gradient (solid), and the mean of the 20 seeds (hatched).
x = np.arange(len(learners))
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.bar(
    x - 0.2, [report[k]["cosine"] for k in learners], 0.4, label="single estimates (mean cosine)"
)
ax.bar(
    x + 0.2,
    [report[k]["cosine_of_mean"] for k in learners],
    0.4,
    hatch="//",
    label="mean of the seeds' estimates",
)
ax.set_xticks(x, learners)
ax.set_ylim(0, 1.3)
ax.set_xlabel("learner")
ax.set_ylabel(r"$\cos(\hat g, g)$")
ax.set_title("Alignment with the exact RTRL gradient")
ax.legend(loc="upper center", ncol=2)
fig.tight_layout()

# %%
# Relative bias and variance
# --------------------------
# Both are relative to :math:`\lVert g \rVert^2` (variance) or :math:`\lVert g \rVert`
# (bias), on a log scale. The variance of the deterministic learners is exactly 0 and is
# not drawn. The measured bias of an unbiased learner is not 0 either: the mean of
# :math:`N` = 20 estimates still carries a part of their variance, of relative size about
# :math:`\sqrt{\mathrm{variance} / N}` (black dots).
fig, (ax_bias, ax_var) = plt.subplots(1, 2, figsize=(9, 3.5))
ax_bias.bar(learners, [report[k]["relative_bias"] for k in learners], color="C1")
stochastic = [k for k in learners if report[k]["n_seeds"] > 1]
noise = [np.sqrt(report[k]["relative_variance"] / report[k]["n_seeds"]) for k in stochastic]
ax_bias.plot(stochastic, noise, "ko", label=r"$\sqrt{\mathrm{variance}/N}$")
ax_bias.legend()
ax_bias.set_yscale("log")
ax_bias.set_ylim(5e-3, 2)
ax_bias.set_xlabel("learner")
ax_bias.set_ylabel(r"$\|\bar g - g\| \,/\, \|g\|$")
ax_bias.set_title("Relative bias")
ax_var.bar(stochastic, [report[k]["relative_variance"] for k in stochastic], color="C2")
ax_var.set_yscale("log")
ax_var.set_xlabel("learner (random ones only)")
ax_var.set_ylabel(r"mean $\|\hat g_s - \bar g\|^2 \,/\, \|g\|^2$")
ax_var.set_title("Relative variance")
fig.tight_layout()
