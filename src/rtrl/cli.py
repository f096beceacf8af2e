"""Command line: ``rtrl demo``, ``rtrl bench``, ``rtrl fit``, ``rtrl predict`` (also
``python -m rtrl ...``)."""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from functools import partial

import numpy as np

from . import __version__
from ._memory import format_bytes
from ._threads import effective_n_threads
from .datasets import delayed_sum
from .estimators import RTRLRegressor
from .learners import LEARNERS as LEARNER_NAMES


def _state_bytes(est) -> int:
    """Bytes of the estimator's live stream state (hidden and learner states)."""
    stream = est._stream
    learner = sum(v.nbytes for v in stream["learner"].values() if isinstance(v, np.ndarray))
    return int(stream["states"].nbytes + learner)


def _run_stream(est, X, y, chunk, report_every, verbose):
    """Feed the stream chunk by chunk; returns (prequential MSE per report, steps/s)."""
    window_loss = window_steps = 0
    t_window = t_start = time.perf_counter()
    reports = []
    for start in range(0, len(X), chunk):
        stop = min(start + chunk, len(X))
        est.partial_fit(X[start:stop], y[start:stop])
        # loss_curve_[-1] is the mean of 1/2 (y_hat - y)^2 over the chunk, each step scored
        # before the update it contributes to (test-then-train)
        window_loss += 2 * est.loss_curve_[-1] * (stop - start)
        window_steps += stop - start
        if stop % report_every == 0 or stop == len(X):
            now = time.perf_counter()
            mse = window_loss / window_steps
            reports.append(mse)
            if verbose:
                print(
                    f"{stop:>8} {mse:>16.4f} {window_steps / (now - t_window):>10.0f}", flush=True
                )
            window_loss = window_steps = 0
            t_window = now
    return reports, len(X) / (time.perf_counter() - t_start)


def demo(args) -> int:
    """Stream a generated task that needs memory through ``partial_fit``, chunk by chunk."""
    if args.plot:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            print("rtrl demo: error: --plot needs matplotlib (pip install matplotlib)",
                  file=sys.stderr)  # fmt: skip
            return 2
        if not os.path.isdir(os.path.dirname(os.path.abspath(args.plot))):
            print(f"rtrl demo: error: {args.plot}: no such directory", file=sys.stderr)
            return 2
        name = os.path.basename(args.plot)
        if os.path.isdir(args.plot) or not name or name.startswith("."):
            print(f"rtrl demo: error: --plot {args.plot}: give a file name such as curves.png",
                  file=sys.stderr)  # fmt: skip
            return 2
    from sklearn.linear_model import LinearRegression

    make = partial(
        RTRLRegressor,
        hidden_size=args.hidden,
        learning_rate=args.learning_rate,
        update_every=args.update_every,
        clip_norm=1.0,
        n_jobs=args.n_jobs,
        random_state=args.seed,
    )
    est = make(learner=args.learner)
    try:  # bad options are named before anything runs
        est._validate_params()
        n_threads = effective_n_threads(args.n_jobs)
    except ValueError as exc:
        print(f"rtrl demo: error: {exc}", file=sys.stderr)
        return 2
    X, y = delayed_sum(args.steps, delays=(2, 4), random_state=args.seed)
    print(
        f"rtrl {__version__} demo: an Elman network (n={args.hidden}) learns online with "
        f"{args.learner!r}, Adam every {args.update_every} step(s), chunks of {args.chunk} "
        f"steps through partial_fit, {n_threads} thread(s)"
    )
    print("task: y_t = x_(t-2) + x_(t-4), x ~ N(0, 1)")
    print(f"{'steps':>8} {'prequential MSE':>16} {'steps/s':>10}")
    report_every = max(args.chunk, (args.steps // 10) // args.chunk * args.chunk)
    reports, speed = _run_stream(est, X, y, args.chunk, report_every, verbose=True)

    # baselines and the other learners, on the same stream
    tail = slice(len(X) - report_every, None)
    zero_mse = float(np.mean(y[tail] ** 2))
    linear = LinearRegression().fit(X, y)
    linear_mse = float(np.mean((linear.predict(X[tail]) - y[tail]) ** 2))
    rows = [(args.learner, reports[0], reports[-1], speed, _state_bytes(est))]
    curves = {args.learner: reports}
    others = ["rtrl", "snap1", "kf", "ok", "uoro", "tbptt", "bptt"] if args.compare else []
    for other in [name for name in others if name != args.learner]:
        other_est = make(learner=other)
        other_reports, other_speed = _run_stream(
            other_est, X, y, args.chunk, report_every, verbose=False
        )
        rows.append(
            (other, other_reports[0], other_reports[-1], other_speed, _state_bytes(other_est))
        )
        curves[other] = other_reports
    print(
        f"\nsummary over the stream ({len(X)} steps; MSE of the first and last "
        f"{report_every} steps):"
    )
    print(f"{'learner':>10} {'first MSE':>10} {'last MSE':>10} {'steps/s':>10} {'state':>10}")
    for name, first, last, sps, nbytes in rows:
        print(f"{name:>10} {first:>10.4f} {last:>10.4f} {sps:>10.0f} {format_bytes(nbytes):>10}")
    print(f"{'predict 0':>10} {'':>10} {zero_mse:>10.4f}")
    print(
        f"{'linear':>10} {'':>10} {linear_mse:>10.4f}   (least squares on x_t, fitted on "
        "the whole stream)"
    )
    if args.compare:
        print(
            "tbptt back-propagates through windows of 20 steps, bptt within each chunk only "
            "(the hidden state carries over)."
        )
    if args.plot:
        steps = [min(k * report_every, len(X)) for k in range(1, len(reports) + 1)]
        _plot_curves(args.plot, steps, curves, zero_mse, linear_mse)
        print(f"learning curves written to {args.plot}")
    return 0


def _plot_curves(path, steps, curves, zero_mse, linear_mse) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, curve in curves.items():
        ax.plot(steps[: len(curve)], curve, marker="o", markersize=3, label=name)
    ax.axhline(zero_mse, color="grey", linestyle=":", label="predict 0")
    ax.axhline(linear_mse, color="black", linestyle="--", label="linear")
    ax.set_xlabel("steps of the stream")
    ax.set_ylabel("prequential MSE (test-then-train)")
    ax.set_yscale("log")
    ax.set_title("rtrl demo: learning online")
    ax.legend(ncol=2, fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rtrl", description="Online training of recurrent networks with RTRL."
    )
    parser.add_argument("--version", action="version", version=f"rtrl {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="train online on a generated stream and report progress")
    p.add_argument("--steps", type=int, default=20000, help="length of the stream")
    p.add_argument("--hidden", type=int, default=32, help="hidden units")
    p.add_argument("--update-every", type=int, default=1, help="steps between weight updates")
    p.add_argument("--chunk", type=int, default=500, help="steps per partial_fit call")
    p.add_argument(
        "--learner",
        choices=["rtrl", "snap1", "snap2", "kf", "ok", "uoro", "tbptt", "bptt"],
        default="rtrl",
    )
    p.add_argument(
        "--no-compare",
        dest="compare",
        action="store_false",
        help="skip the other learners in the summary",
    )
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--n-jobs", type=int, default=None, help="OpenMP threads")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot", metavar="FILE.png", help="draw the learning curves (matplotlib)")
    p.set_defaults(func=demo)
    b = sub.add_parser(
        "bench",
        help="measure the kernels against their performance targets on this machine",
        description=(
            "Measure rtrl's kernels on this machine as ratios timed in one run: exact RTRL "
            "against the GEMM bound and a NumPy implementation, the block form, threads, "
            "batched streams, the approximate learners and peak memory."
        ),
    )
    b.add_argument(
        "--compare",
        action="store_true",
        help="add the peers: plain NumPy and (if installed) JAX lax.scan implementations",
    )
    b.add_argument("--quick", action="store_true", help="small sizes (a smoke test, seconds)")
    b.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure each row this many times and report the median (steadier on a shared "
        "machine)",
    )
    b.add_argument(
        "--min-time", type=float, default=0.3, help="seconds of timing per contender (>= 0)"
    )
    b.set_defaults(func=bench)

    f = sub.add_parser(
        "fit",
        help="train a model on a CSV file, streamed in chunks through partial_fit",
        description=(
            "Stream DATA.csv (header row, rows in time order) in chunks through partial_fit: "
            "constant memory, a progress bar with the running prequential (test-then-train) "
            "loss; the model is saved with skops, written then renamed."
        ),
    )
    f.add_argument("data", metavar="DATA.csv")
    f.add_argument("--target", required=True, nargs="+", metavar="COL", help="target column(s)")
    f.add_argument("--features", nargs="+", metavar="COL", help="default: all other columns")
    f.add_argument("--sequence-id", metavar="COL", help="column marking sequences")
    f.add_argument("--classify", action="store_true", help="RTRLClassifier (one target)")
    f.add_argument("--learner", choices=sorted(LEARNER_NAMES), default="rtrl")
    f.add_argument("--cell", choices=["elman", "jordan", "gru", "lstm"], default="elman")
    f.add_argument("--hidden", type=int, default=32, help="hidden units")
    f.add_argument("--update-every", type=int, default=1, help="steps between weight updates")
    f.add_argument("--learning-rate", type=float, default=1e-3)
    f.add_argument("--clip-norm", type=float, default=1.0)
    f.add_argument("--chunk-size", type=int, default=1000, help="rows per partial_fit call")
    f.add_argument(
        "--save-every", type=int, default=10, help="checkpoint every N chunks (0: at the end)"
    )
    f.add_argument("--out", required=True, metavar="MODEL", help="model file to write")
    f.add_argument("--n-jobs", type=int, default=None, help="OpenMP threads")
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=_file_command("fit"))

    pr = sub.add_parser(
        "predict",
        help="apply a model file to a CSV file",
        description="Predict every row of DATA.csv, carrying the hidden state in time order.",
    )
    pr.add_argument("model", metavar="MODEL")
    pr.add_argument("data", metavar="DATA.csv")
    pr.add_argument("--out", metavar="PREDS.csv", help="default: standard output")
    pr.add_argument("--features", nargs="+", metavar="COL", help="default: as in the model")
    pr.add_argument("--sequence-id", metavar="COL", help="default: as in the model")
    pr.add_argument("--chunk-size", type=int, default=1000)
    pr.set_defaults(func=_file_command("predict"))
    return parser


def _file_command(name):
    def run(args) -> int:
        from . import _files

        try:
            return getattr(_files, name)(args)
        except _files.FileError as exc:
            print(f"rtrl {name}: error: {exc}", file=sys.stderr)
            return 2

    return run


def bench(args) -> int:
    """Print the performance table (see rtrl.benchmark)."""
    from . import benchmark

    if not (math.isfinite(args.min_time) and args.min_time >= 0):
        raise SystemExit("rtrl bench: --min-time must be a finite number >= 0")
    print(f"rtrl {__version__} bench -- {benchmark.machine_summary()}")
    if args.compare and not benchmark.jax_available():
        print("(JAX is not installed: the peers are the NumPy implementation only)")
    print(benchmark.header(), flush=True)
    if args.repeat < 1:
        raise SystemExit("rtrl bench: --repeat must be a positive integer")
    results = benchmark.run(
        compare=args.compare,
        quick=args.quick,
        min_time=args.min_time,
        echo=lambda line: print(line, flush=True),
        repeat=args.repeat,
    )
    missed = [r for r in results if not r.met]
    print(f"{len(results) - len(missed)} of {len(results)} targets met on this machine")
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in ("steps", "hidden", "update_every", "chunk", "chunk_size"):
        if getattr(args, name, 1) < 1:
            parser.error(f"--{name.replace('_', '-')} must be a positive integer")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
