"""Batched streams: would one wider product beat rtrl's per-stream kernels?

Usage::

    python benchmarks/bench_batched.py [--sizes 16 64] [--streams 8] [--min-time 1]

For an Elman network D_t = diag(phi') W, so B streams' influence updates could share W in one
product W [J_1 ... J_B]. This times that product as one NumPy GEMM and as B separate ones,
against rtrl's exact RTRL on B streams (the whole training step), all in flop/s of the
S^2 P multiply-adds per stream-step. Float64, one thread.
"""

from __future__ import annotations

import argparse

import numpy as np

from rtrl.benchmark import M_INPUTS, _Problem, machine_summary, rates
from rtrl.learners import RTRL


def measure(n: int, streams: int, min_time: float) -> dict[str, float]:
    """GFLOP/s (2 S^2 P per stream-step) of the three ways, timed in one run."""
    P = n * (n + M_INPUTS + 2)
    rng = np.random.default_rng(0)
    W = rng.normal(size=(n, n))
    wide, wide_out = rng.normal(size=(n, streams * P)), np.empty((n, streams * P))
    parts = [rng.normal(size=(n, P)) for _ in range(streams)]
    outs = [np.empty((n, P)) for _ in range(streams)]
    reps = max(3, int(2e8 / (2 * n * n * P * streams)))

    def one_wide_gemm():
        for _ in range(reps):
            np.matmul(W, wide, out=wide_out)

    def separate_gemms():
        for _ in range(reps):
            for J, out in zip(parts, outs, strict=True):
                np.matmul(W, J, out=out)

    pb = _Problem(n, reps, streams=streams)
    r = rates(
        {
            "one wide GEMM": (one_wide_gemm, reps * streams, 1),
            "separate GEMMs": (separate_gemms, reps * streams, 1),
            "rtrl (training step)": (pb.trainer(RTRL(window=0)), reps * streams, 1),
        },
        min_time,
    )
    return {name: rate * 2 * n * n * P / 1e9 for name, rate in r.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--streams", type=int, default=8)
    parser.add_argument("--min-time", type=float, default=1.0)
    args = parser.parse_args(argv)
    print(machine_summary())
    print(f"{args.streams} streams; GFLOP/s of the S^2 P multiply-adds per stream-step")
    for n in args.sizes:
        got = measure(n, args.streams, args.min_time)
        print(f"n={n:4d}  " + "  ".join(f"{k}: {v:.1f}" for k, v in got.items()))


if __name__ == "__main__":
    main()
