"""Command line: ``rtrl demo`` (also ``python -m rtrl demo``)."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import __version__
from ._threads import blas_single_threaded, effective_n_threads
from .cells import Elman
from .datasets import delayed_sum
from .learners import RTRL
from .optim import Adam


def demo(args) -> int:
    """Train an Elman network online with exact RTRL on a stream that needs memory."""
    n_steps, hidden = args.steps, args.hidden
    X, y = delayed_sum(n_steps, delays=(2, 4), random_state=args.seed)
    cell, learner = Elman(), RTRL()
    layout = cell.layout(hidden, X.shape[1], 1)
    params = cell.init_params(hidden, X.shape[1], 1, random_state=args.seed)
    w = layout.pack(params, np.float64)
    state = np.zeros(layout.state_size)
    influence = learner.init_state(layout, np.float64)
    grad = np.zeros(layout.n_params)
    optimizer = Adam(learning_rate=args.learning_rate, clip_norm=1.0)
    opt_state = optimizer.init_state(layout.n_params, np.float64)
    Y = np.ascontiguousarray(y[:, None])
    weights = np.ones(n_steps)
    labels = np.empty(0, dtype=np.intp)
    n_threads = effective_n_threads(args.n_jobs)
    k = args.update_every
    print(
        f"rtrl {__version__} demo: Elman(n={hidden}) trained online with exact RTRL "
        f"(influence matrix {layout.state_size} x {layout.n_recurrent_params}), Adam every "
        f"{k} steps, {n_threads} thread(s)"
    )
    print(f"task: y_t = x_(t-2) + x_(t-4), x ~ N(0, 1); predicting 0 scores MSE {np.var(y):.3f}")
    print(f"{'steps':>8} {'prequential MSE':>16} {'steps/s':>10}")
    window_loss, window_steps, t_window = 0.0, 0, time.perf_counter()
    report_every = max(k, (n_steps // 10) // k * k)
    t_start = time.perf_counter()
    first = last = None
    with blas_single_threaded():
        for start in range(0, n_steps, k):
            stop = min(start + k, n_steps)
            grad[:] = 0.0
            # test-then-train: the chunk's loss is measured before its update is applied
            loss = learner.run(
                layout,
                w,
                X[start:stop],
                Y[start:stop],
                labels,
                weights[start:stop],
                state,
                influence,
                grad,
                0,
                n_threads,
            )
            optimizer.step(w, grad / (stop - start), opt_state)
            window_loss += loss
            window_steps += stop - start
            if stop % report_every == 0 or stop == n_steps:
                now = time.perf_counter()
                mse = 2 * window_loss / window_steps
                first = mse if first is None else first
                last = mse
                print(
                    f"{stop:>8} {mse:>16.4f} {window_steps / (now - t_window):>10.0f}", flush=True
                )
                window_loss, window_steps, t_window = 0.0, 0, now
    elapsed = time.perf_counter() - t_start
    print(
        f"done: {n_steps} steps in {elapsed:.2f} s ({n_steps / elapsed:.0f} steps/s); "
        f"prequential MSE {first:.4f} -> {last:.4f}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtrl", description="Online training of recurrent networks with RTRL."
    )
    parser.add_argument("--version", action="version", version=f"rtrl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="train online on a generated stream and report progress")
    p.add_argument("--steps", type=int, default=20000, help="length of the stream")
    p.add_argument("--hidden", type=int, default=32, help="hidden units")
    p.add_argument("--update-every", type=int, default=8, help="steps between weight updates")
    p.add_argument("--learning-rate", type=float, default=3e-3)
    p.add_argument("--n-jobs", type=int, default=None, help="OpenMP threads")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=demo)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("steps", "hidden", "update_every"):
        if getattr(args, name, 1) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
