"""Exact RTRL steps/s against the GEMM bound and a plain NumPy implementation.

Usage::

    python benchmarks/bench_rtrl.py [--sizes 16 32 64 128 256] [--threads 1 2] [--min-time 0.5]

For each hidden size n (Elman, m = 8 inputs, one output) and dtype, one process measures

* ``rtrl``: steps/s of ``rtrl``'s kernel (``_core.rtrl_run``) with the given OpenMP threads;
* ``gemm``: steps/s if a step cost only NumPy's ``W @ J`` of the same shape (n x n times
  n x P), with NumPy's BLAS limited to the same number of threads -- the GEMM bound;
* ``numpy``: steps/s of the plain NumPy per-step implementation in ``rtrl._baselines``
  (single-threaded BLAS, float64 and float32 alike).

Ratios are what matter: the machine is shared and absolute numbers vary from run to run.
"""

from __future__ import annotations

import argparse

import numpy as np

from rtrl._baselines import numpy_rtrl_elman
from rtrl.benchmark import _Problem, machine_summary, rates
from rtrl.learners import RTRL
from rtrl.optim import Adam


def bench_size(n, dtype, threads, min_time, with_numpy=True):
    S = n
    P = n * (n + 8 + 2)
    steps = max(2, int(2e8 / (2 * S * S * P)))  # ~0.2 GFlop per call
    pb = _Problem(n, steps, dtype)
    assert (pb.layout.state_size, pb.layout.n_recurrent_params) == (S, P)
    gemm_reps = max(1, steps // 4)
    contenders = {}
    for nt in threads:
        # the gradient of a sequence (what the NumPy baseline computes); BLAS single-threaded
        # inside the OpenMP kernel, NumPy's GEMM on as many threads as the kernel
        contenders[f"rtrl@{nt}"] = (pb.trainer(RTRL(window=0), n_threads=nt), steps, 1)
        contenders[f"gemm@{nt}"] = (pb.gemm(P, gemm_reps), gemm_reps, nt)
    # fully online training: the same, plus an Adam update of every weight at every step
    online = pb.trainer(RTRL(window=0), update_every=1, optimizer=Adam(1e-6))
    contenders["online@1"] = (online, steps, 1)
    if with_numpy:
        Jn = np.zeros((S, P), dtype=pb.dtype)
        sn = np.zeros(S, dtype=pb.dtype)
        gn = np.zeros(pb.layout.n_params, dtype=pb.dtype)
        contenders["numpy"] = (
            lambda: numpy_rtrl_elman(pb.w, pb.layout, pb.X, pb.Y, pb.weights, sn, Jn, gn),
            steps,
            1,
        )
    row = {"n": n, "dtype": np.dtype(dtype).name, "S": S, "P": P}
    row.update(rates(contenders, min_time, rounds=5))
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    parser.add_argument("--dtypes", nargs="+", default=["float64", "float32"])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--min-time", type=float, default=0.5)
    parser.add_argument("--no-numpy", action="store_true")
    args = parser.parse_args(argv)
    print(machine_summary())
    t1 = args.threads[0]
    header = f"{'n':>4} {'dtype':>8} {'rtrl steps/s@' + str(t1):>16} {'gemm bound':>11} "
    header += f"{'of bound':>9} {'numpy steps/s':>14} {'x numpy':>8} {'online+Adam':>12}"
    for nt in args.threads[1:]:
        header += f" {'steps/s@' + str(nt):>12} {'of bound@' + str(nt):>11} {'speedup':>8}"
    print(header)
    for dtype in args.dtypes:
        for n in args.sizes:
            r = bench_size(
                n, np.dtype(dtype).type, args.threads, args.min_time, with_numpy=not args.no_numpy
            )
            line = (
                f"{n:>4} {r['dtype']:>8} {r[f'rtrl@{t1}']:>16.1f} {r[f'gemm@{t1}']:>11.1f} "
                f"{r[f'rtrl@{t1}'] / r[f'gemm@{t1}']:>9.2f} "
            )
            if "numpy" in r:
                line += f"{r['numpy']:>14.1f} {r[f'rtrl@{t1}'] / r['numpy']:>8.1f}"
            else:
                line += f"{'-':>14} {'-':>8}"
            line += f" {r['online@1']:>12.1f}"
            for nt in args.threads[1:]:
                line += (
                    f" {r[f'rtrl@{nt}']:>12.1f} {r[f'rtrl@{nt}'] / r[f'gemm@{nt}']:>11.2f}"
                    f" {r[f'rtrl@{nt}'] / r[f'rtrl@{t1}']:>8.2f}"
                )
            print(line, flush=True)


if __name__ == "__main__":
    main()
