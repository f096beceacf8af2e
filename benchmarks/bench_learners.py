"""Steps per second of every learner against a forward-only step.

Usage::

    python benchmarks/bench_learners.py [--sizes 32 64 128 256] [--min-time 0.3]

Elman cell, m = 8 inputs, one output, float64, one thread. Each learner computes its
gradient estimate over a sequence with fixed weights (``sequence_gradient``'s work, no
optimizer); ``forward`` is the forward pass alone (``predict``). Each learner is timed in
interleaved rounds with a forward pass of the same n, and its ratio comes from that pairing
(the shared machine's speed drifts between separate timings). The last lines compare exact
RTRL on a sparse network (density 0.1) with the dense one.
"""

from __future__ import annotations

import argparse

from rtrl.benchmark import _Problem, machine_summary, rates
from rtrl.learners import make_learner

LEARNERS = ["rtrl", "snap1", "snap2", "kf", "ok", "uoro", "tbptt", "bptt"]


def _rate(run, steps, min_time):
    return rates({"run": (run, steps, 1)}, min_time)["run"]


def learner_rate(n, name, steps, min_time, density=1.0):
    pb = _Problem(n, steps, density=density, seed=0)
    return _rate(pb.trainer(make_learner(name)), steps, min_time)


def paired_rates(n, name, steps, min_time, forward_steps=2000):
    """Steps/s of the learner and of a forward pass, timed in the same interleaved rounds."""
    pb = _Problem(n, steps, seed=0)
    fwd = _Problem(n, forward_steps).forward()
    found = rates(
        {name: (pb.trainer(make_learner(name)), steps, 1), "forward": (fwd, forward_steps, 1)},
        min_time,
    )
    return found[name], found["forward"]


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
        + "   (steps/s; in brackets: time per step / forward step, timed in pairs)"
    )
    # each rate is timed with BLAS on one thread (rtrl.benchmark.rates)
    for n in args.sizes:
        found, ratios, forwards = [], [], []
        for name in LEARNERS:
            cost = {"rtrl": n**4, "snap2": n**4, "ok": 2 * n**3, "kf": n**3}.get(name, n**2)
            steps = int(min(2000, max(3, 5e8 / cost)))
            rate, fwd = paired_rates(n, name, steps, args.min_time)
            found.append(rate)
            ratios.append(fwd / rate)
            forwards.append(fwd)
        fwd = sorted(forwards)[len(forwards) // 2]  # the median of the paired timings
        print(f"{n:>4} {fwd:>10.0f} " + " ".join(f"{r:>9.1f}" for r in found))
        print(
            f"{'':>4} {'':>10} " + " ".join(f"{'(' + format(q, '.1f') + ')':>9}" for q in ratios),
            flush=True,
        )
    n = args.sparse_size
    d = learner_rate(n, "rtrl", 10, args.min_time)
    s = learner_rate(n, "rtrl", 100, args.min_time, density=0.1)
    print(
        f"exact RTRL, n = {n}: dense {d:.1f} steps/s, density 0.1 {s:.1f} steps/s "
        f"({s / d:.1f}x faster)"
    )


if __name__ == "__main__":
    main()
