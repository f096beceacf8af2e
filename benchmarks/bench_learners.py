"""Steps per second of every learner against a forward-only step.

Usage::

    python benchmarks/bench_learners.py [--sizes 32 64 128 256] [--min-time 0.3]

Elman cell, m = 8 inputs, one output, float64, one thread. Each learner computes its
gradient estimate over a sequence with fixed weights (``sequence_gradient``'s work, no
optimizer); ``forward`` is the forward pass alone (``predict``). The last lines compare exact
RTRL on a sparse network (density 0.1) with the dense one.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import rtrl
from rtrl import _core
from rtrl.benchmark import _blas, machine_summary
from rtrl.learners import make_learner, new_update_state

LEARNERS = ["rtrl", "snap1", "snap2", "kf", "ok", "uoro", "tbptt", "bptt"]


def _best_rate(fn, steps, min_time):
    fn()
    best, spent = np.inf, 0.0
    while spent < min_time or best == np.inf:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, spent = min(best, dt), spent + dt
    return steps / best


def _problem(n, m=8, density=1.0, seed=0):
    cell = rtrl.cells.Elman()
    rng = np.random.default_rng(seed)
    params = cell.init_params(n, m, 1, random_state=seed)
    layout = cell.layout(n, m, 1)
    if density < 1.0:
        mask = rng.random((n, n)) < density
        params["weight_hh"] *= mask
        layout = layout.with_mask(mask)
    return cell, layout, layout.pack(params, np.float64)


def learner_rate(layout, w, name, steps, min_time):
    learner = make_learner(name)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(steps, layout.n_features))
    Y = rng.normal(size=(steps, 1))
    state = learner.init_state(layout, np.float64, random_state=0)
    update = new_update_state(layout.n_params, np.float64)
    one = (np.array([0], np.intp), np.array([steps], np.intp), np.array([1], np.intp))

    def run():
        learner.train(
            layout,
            w,
            X,
            Y,
            np.empty(0, np.intp),
            np.ones(steps),
            *one,
            np.zeros((1, layout.state_size)),
            state,
            update,
            -1,
            0,
            1,
        )

    return _best_rate(run, steps, min_time)


def forward_rate(layout, w, steps, min_time):
    X = np.random.default_rng(1).normal(size=(steps, layout.n_features))
    out = np.empty((steps, 1))
    spec = layout.to_kernel()
    return _best_rate(
        lambda: _core.forward_run(spec, w, X, np.zeros(layout.state_size), out), steps, min_time
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--min-time", type=float, default=0.3)
    parser.add_argument("--sparse-size", type=int, default=128)
    args = parser.parse_args(argv)
    print(machine_summary())
    print(
        f"{'n':>4} {'forward':>10} "
        + " ".join(f"{name:>9}" for name in LEARNERS)
        + "   (steps/s; in brackets: time per step / forward step)"
    )
    with _blas(1):
        for n in args.sizes:
            _, layout, w = _problem(n)
            fwd = forward_rate(layout, w, 2000, args.min_time)
            rates = []
            for name in LEARNERS:
                cost = {"rtrl": n**4, "snap2": n**4, "ok": 2 * n**3, "kf": n**3}.get(name, n**2)
                steps = int(min(2000, max(3, 5e8 / cost)))
                rates.append(learner_rate(layout, w, name, steps, args.min_time))
            print(f"{n:>4} {fwd:>10.0f} " + " ".join(f"{r:>9.1f}" for r in rates))
            print(
                f"{'':>4} {'':>10} "
                + " ".join(f"{'(' + format(fwd / r, '.1f') + ')':>9}" for r in rates),
                flush=True,
            )
        n = args.sparse_size
        _, dense, w = _problem(n)
        _, sparse, ws = _problem(n, density=0.1)
        d = learner_rate(dense, w, "rtrl", 10, args.min_time)
        s = learner_rate(sparse, ws, "rtrl", 100, args.min_time)
        print(
            f"exact RTRL, n = {n}: dense {d:.1f} steps/s, density 0.1 {s:.1f} steps/s "
            f"({s / d:.1f}x faster)"
        )


if __name__ == "__main__":
    main()
