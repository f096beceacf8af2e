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

import rtrl
from rtrl._baselines import numpy_rtrl_elman
from rtrl.benchmark import machine_summary, rates
from rtrl.learners import RTRL, new_update_state
from rtrl.optim import Adam


def bench_size(n, dtype, threads, min_time, m=8, n_out=1, with_numpy=True):
    cell = rtrl.cells.Elman()
    params = cell.init_params(n, m, n_out, random_state=0, dtype=dtype)
    layout = cell.infer_layout(params)
    S, P = layout.state_size, layout.n_recurrent_params
    flat = layout.pack(params, dtype)
    steps = max(2, int(2e8 / (2 * S * S * P)))  # ~0.2 GFlop per call
    rng = np.random.default_rng(0)
    X = rng.normal(size=(steps, m)).astype(dtype)
    Y = rng.normal(size=(steps, n_out)).astype(dtype)
    weights = np.ones(steps, dtype=dtype)
    labels = np.empty(0, dtype=np.intp)
    learner = RTRL(window=0)  # the per-step form
    learner_state = learner.init_state(layout, dtype)
    states = np.zeros((1, S), dtype=dtype)
    gradient_only = new_update_state(layout.n_params, dtype)
    online = new_update_state(layout.n_params, dtype, optimizer=Adam(1e-6))
    w_online = flat.copy()
    starts, lengths = np.array([0], dtype=np.intp), np.array([steps], dtype=np.intp)
    ends = np.array([1], dtype=np.intp)

    def run(nt, update, update_every, w):
        learner.train(
            layout,
            w,
            X,
            Y,
            labels,
            weights,
            starts,
            lengths,
            ends,
            states,
            learner_state,
            update,
            update_every,
            0,
            nt,
        )

    D = rng.normal(size=(S, S)).astype(dtype)
    Jb = rng.normal(size=(S, P)).astype(dtype)
    out = np.empty_like(Jb)
    gemm_reps = max(1, steps // 4)

    def gemm(reps=gemm_reps):
        for _ in range(reps):
            np.matmul(D, Jb, out=out)

    contenders = {}
    for nt in threads:
        # the gradient of a sequence (what the NumPy baseline computes)
        contenders[f"rtrl@{nt}"] = (
            lambda nt=nt: run(nt, gradient_only, -1, flat),
            steps,
            1,  # BLAS single-threaded inside the OpenMP kernel
        )
        contenders[f"gemm@{nt}"] = (gemm, gemm_reps, nt)
    # fully online training: the same, plus an Adam update of every weight at every step
    contenders["online@1"] = (lambda: run(1, online, 1, w_online), steps, 1)
    if with_numpy:
        Jn = np.zeros((S, P), dtype=dtype)
        sn = np.zeros(S, dtype=dtype)
        gn = np.zeros(layout.n_params, dtype=dtype)
        contenders["numpy"] = (
            lambda: numpy_rtrl_elman(flat, layout, X, Y, weights, sn, Jn, gn),
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
