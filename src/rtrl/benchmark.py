"""How fast rtrl's kernels are on this machine: ``rtrl bench`` (``python -m rtrl bench``).

Every figure is a ratio measured in one process, against a reference timed alongside it
(interleaved rounds, best time of each), so that a shared, noisy machine affects both alike:

* exact RTRL's per-step update against the GEMM bound -- NumPy's ``D @ J`` of the same shape,
  the one product a step cannot avoid -- and against a plain NumPy implementation;
* exact RTRL in windows (``update_every = 32``) against the per-step form;
* two threads against one; eight streams side by side against one;
* SnAp-1 and UORO against a forward-only step, KF-RTRL and OK against the GEMMs they are made
  of; and the peak memory of a training run against the learner's documented state.

``--compare`` adds the peers -- the plain NumPy implementation and, if JAX is installed, a
``jax.lax.scan`` implementation of the same exact RTRL -- as fractions of the same bound.
All runs use the Elman cell (tanh), m = 8 inputs, one output.
"""

from __future__ import annotations

import dataclasses
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_info

from . import _core
from ._baselines import jax_available, jax_rtrl_elman, numpy_rtrl_elman
from ._threads import _controller
from .cells import Elman, make_cell
from .learners import KF, OK, RTRL, UORO, SnAp, new_update_state
from .optim import Adam

__all__ = ["Result", "format_table", "jax_available", "machine_summary", "run"]

M_INPUTS = 8


@dataclass
class Result:
    """One line of the table: what was measured, its ratio, the target and the raw rates."""

    what: str
    value: float
    target: str  # ">= 0.85", "<= 2" ...
    detail: str  # the rates the ratio comes from
    peers: str = ""  # what the peers reach, on the same scale

    @property
    def met(self) -> bool:
        op, bound = self.target.split()
        return self.value >= float(bound) if op == ">=" else self.value <= float(bound)


def machine_summary() -> str:
    blas = sorted(
        {
            f"{i['internal_api']} {i.get('version')} ({i.get('architecture')})"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        }
    )
    return (
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, OpenMP {'on' if _core._openmp_parallelism_enabled() else 'off'}"
        f", BLAS: {'; '.join(blas)}"
    )


def _blas(n_threads: int):
    return _controller().limit(limits=n_threads, user_api="blas")


def rates(contenders: dict[str, tuple[Callable, int, int]], min_time: float, rounds: int = 3):
    """Steps/s of each contender ``{name: (run, steps per run, BLAS threads)}``, timed in
    interleaved rounds, each keeping its best time. The order rotates from round to round
    (A B C, B C A, C A B, ...): a contender that always ran right after another (whose
    cache footprint or clock state it inherits) measured up to 16 % lower."""
    best = {}
    for name, (fn, _, blas_threads) in contenders.items():
        with _blas(blas_threads):
            fn()  # warm up: page faults, BLAS buffers, JIT compilation
        best[name] = np.inf
    names = list(contenders)
    spent, done = 0.0, 0
    while done < rounds or spent < min_time * len(contenders):
        shift = done % len(names)
        for name in names[shift:] + names[:shift]:
            fn, _, blas_threads = contenders[name]
            with _blas(blas_threads):
                t0 = time.perf_counter()
                fn()
                dt = time.perf_counter() - t0
            best[name] = min(best[name], dt)
            spent += dt
        done += 1
    return {name: contenders[name][1] / best[name] for name in contenders}


def fma_peak(min_time: float = 0.2) -> float:
    """Float64 flops/s (2 per multiply-add) one core reaches on register-only chains of
    fused multiply-adds (4-wide with AVX2 + FMA): the machine's arithmetic peak, which bounds
    any kernel of this package; the best of several timings of at least ``min_time`` / 4 s."""
    n, best = 1 << 16, 0.0
    deadline = time.perf_counter() + max(min_time, 0.02)
    while True:
        t0 = time.perf_counter()
        done = _core._fma_chains(n)
        dt = time.perf_counter() - t0
        best = max(best, 2 * done / dt)
        if dt < max(min_time, 0.02) / 4:
            n *= 2
        elif time.perf_counter() > deadline:
            return best


class _Problem:
    """A network of n units (``cell``, m inputs, one output; ``density`` < 1 masks
    ``weight_hh`` at random) and a random sequence of T steps for each of B streams: the
    one set-up behind ``rtrl bench``, ``benchmarks/*.py`` and the asv suite."""

    def __init__(
        self,
        n: int,
        T: int,
        dtype=np.float64,
        streams: int = 1,
        seed: int = 0,
        cell="elman",
        density: float = 1.0,
        m: int = M_INPUTS,
    ):
        cell = make_cell(cell)
        self.dtype = np.dtype(dtype).type
        params = cell.init_params(n, m, 1, random_state=seed, dtype=self.dtype)
        self.layout = cell.infer_layout(params)
        if density < 1.0:
            if "weight_hh" not in params:
                raise ValueError(f"density < 1 needs a cell with weight_hh, not {cell!r}")
            shape = params["weight_hh"].shape
            mask = np.random.default_rng(seed).random(shape) < density
            params["weight_hh"] *= mask
            self.layout = self.layout.with_mask(mask)
        self.w = self.layout.pack(params, self.dtype)
        rng = np.random.default_rng(seed)
        self.T, self.B = T, streams
        self.X = rng.normal(size=(T * streams, m)).astype(self.dtype)
        self.Y = rng.normal(size=(T * streams, 1)).astype(self.dtype)
        self.weights = np.ones(T * streams, dtype=self.dtype)

    def trainer(self, learner, n_threads=1, update_every=-1, optimizer=None):
        """A function that runs the learner over the B sequences (its state carried on)."""
        layout, B, T = self.layout, self.B, self.T
        state = learner.init_state(layout, self.dtype, n_streams=B, random_state=0)
        update = new_update_state(layout.n_params, self.dtype, optimizer=optimizer)
        states = np.zeros((B, layout.state_size), dtype=self.dtype)
        starts = np.arange(B, dtype=np.intp) * T
        lengths = np.full(B, T, dtype=np.intp)
        ends = np.ones(B, dtype=np.intp)
        labels = np.empty(0, dtype=np.intp)
        w = self.w.copy()

        def run():
            learner.train(
                layout, w, self.X, self.Y, labels, self.weights, starts, lengths, ends,
                states, state, update, update_every, 0, n_threads,
            )  # fmt: skip

        return run

    def forward(self):
        spec = self.layout.to_kernel()
        out = np.empty((self.T, 1), dtype=self.dtype)
        s0 = np.zeros(self.layout.state_size, dtype=self.dtype)
        return lambda: _core.forward_run(spec, self.w, self.X[: self.T], s0, out)

    def gemm(self, columns: int, reps: int):
        """``reps`` products (n x n) @ (n x columns) in NumPy."""
        rng = np.random.default_rng(1)
        n = self.layout.state_size
        D = rng.normal(size=(n, n)).astype(self.dtype)
        J = rng.normal(size=(n, columns)).astype(self.dtype)
        out = np.empty_like(J)

        def run():
            for _ in range(reps):
                np.matmul(D, J, out=out)

        return run


def _steps_for(flops_per_step: float, budget: float = 1e8, lo: int = 3, hi: int = 4000) -> int:
    return int(min(hi, max(lo, budget / flops_per_step)))


def bench_exact_rtrl(n, dtype, min_time, compare, small_n_target=False) -> Result:
    """Per-step exact RTRL against the GEMM bound (and the peers)."""
    S = n
    P = n * (n + M_INPUTS + 2)
    T = _steps_for(2 * S * S * P)
    pb = _Problem(n, T, dtype)
    contenders = {
        "rtrl": (pb.trainer(RTRL(window=0)), T, 1),
        "gemm": (pb.gemm(P, T), T, 1),
    }
    if compare or small_n_target:
        J = np.zeros((S, P), dtype=pb.dtype)
        s = np.zeros(S, dtype=pb.dtype)
        g = np.zeros(pb.layout.n_params, dtype=pb.dtype)
        Xs, Ys = pb.X[:T], pb.Y[:T]
        contenders["numpy"] = (
            lambda: numpy_rtrl_elman(pb.w, pb.layout, Xs, Ys, pb.weights, s, J, g),
            T,
            1,
        )
    if compare and jax_available():
        import jax.numpy as jnp

        f = jax_rtrl_elman(pb.layout, pb.dtype)
        args = (jnp.asarray(pb.w), jnp.asarray(pb.X[:T]), jnp.asarray(pb.Y[:T]))
        contenders["jax"] = (lambda: f(*args)[0].block_until_ready(), T, 1)
    r = rates(contenders, min_time)
    name = np.dtype(dtype).name
    detail = f"{r['rtrl']:.1f} steps/s, bound {r['gemm']:.1f}"
    peers = ", ".join(
        f"{p} {r[p]:.1f} steps/s ({r[p] / r['gemm']:.2f} of bound)"
        for p in ("numpy", "jax")
        if p in r
    )
    if small_n_target:
        peak = fma_peak(min_time)
        return Result(
            f"exact RTRL per step, n={n} {name}: x NumPy per-step",
            r["rtrl"] / r["numpy"],
            ">= 8",
            f"{r['rtrl']:.0f} vs {r['numpy']:.0f} steps/s ({r['rtrl'] / r['gemm']:.2f} of bound; "
            f"S^2 P multiply-adds at {100 * r['rtrl'] * 2 * S * S * P / peak:.0f} % of the "
            f"core's FMA peak, {peak / 1e9:.1f} GFLOP/s)",
            peers,
        )
    return Result(
        f"exact RTRL per step, n={n} {name}: of GEMM bound",
        r["rtrl"] / r["gemm"],
        ">= 0.85",
        detail,
        peers,
    )


def bench_block(n, k, min_time) -> list[Result]:
    """Exact RTRL in windows of k steps (update_every = k, Adam) against the per-step form,
    and the largest relative difference of their gradients."""
    S, P = n, n * (n + M_INPUTS + 2)
    T = max(2 * k, _steps_for(2 * S * S * P / k, lo=k))
    pb = _Problem(n, T)
    step_T = _steps_for(2 * S * S * P)
    ps = _Problem(n, step_T)
    opt = Adam(1e-9)
    r = rates(
        {
            "block": (pb.trainer(RTRL(window=k), update_every=k, optimizer=opt), T, 1),
            "step": (ps.trainer(RTRL(window=0), update_every=k, optimizer=opt), step_T, 1),
        },
        min_time,
    )
    # the gradients of one sequence of 2k + 3 steps (windows cut mid-way) by both forms
    from .gradient import sequence_gradient

    g = _Problem(n, 2 * k + 3, seed=1)
    params = g.layout.unpack(g.w)
    a = sequence_gradient(params, g.X, g.Y[:, 0], cell=Elman(), learner=RTRL(window=k))
    b = sequence_gradient(params, g.X, g.Y[:, 0], cell=Elman(), learner=RTRL(window=0))
    err = max(float(np.abs(a[x] - b[x]).max() / np.abs(b[x]).max()) for x in a)
    return [
        Result(
            f"exact RTRL, update_every={k}, n={n}: x per-step form",
            r["block"] / r["step"],
            ">= 8",
            f"{r['block']:.1f} vs {r['step']:.1f} steps/s",
        ),
        Result(
            f"exact RTRL, update_every={k}, n={n}: gradient rel. difference",
            err,
            "<= 1e-10",
            f"{2 * k + 3} steps, float64",
        ),
    ]


def bench_threads(n, min_time) -> Result:
    S, P = n, n * (n + M_INPUTS + 2)
    T = _steps_for(2 * S * S * P)
    pb = _Problem(n, T)
    threads = 2 if _core._openmp_parallelism_enabled() else 1
    r = rates(
        {
            "1": (pb.trainer(RTRL(window=0), n_threads=1), T, 1),
            "2": (pb.trainer(RTRL(window=0), n_threads=threads), T, 1),
            # what the machine gives a multithreaded BLAS on the same product
            "gemm1": (pb.gemm(P, T), T, 1),
            "gemm2": (pb.gemm(P, T), T, 2),
        },
        min_time,
    )
    return Result(
        f"exact RTRL per step, n={n}: 2 threads vs 1",
        r["2"] / r["1"],
        ">= 1.8",
        f"{r['2']:.1f} vs {r['1']:.1f} steps/s"
        + ("" if threads == 2 else " (OpenMP off: one thread)")
        + f"; NumPy's BLAS, same product: {r['gemm2'] / r['gemm1']:.2f}",
    )


def bench_batch(n, batch, min_time) -> Result:
    S, P = n, n * (n + M_INPUTS + 2)
    T = _steps_for(2 * S * S * P * batch)
    one = _Problem(n, T * batch)
    many = _Problem(n, T, streams=batch)
    r = rates(
        {
            "1": (one.trainer(RTRL(window=0)), T * batch, 1),
            "B": (many.trainer(RTRL(window=0)), T * batch, 1),
        },
        min_time,
    )
    # every stream has its own D_t and J: merging the streams could share the weights, not
    # the S^2 P multiply-adds of each stream's influence update
    peak = fma_peak(min_time)
    return Result(
        f"exact RTRL per step, n={n}: {batch} streams vs 1 (per stream-step)",
        r["B"] / r["1"],
        ">= 3",
        f"{r['B']:.0f} vs {r['1']:.0f} stream-steps/s; one stream runs its S^2 P "
        f"multiply-adds at {100 * r['1'] * 2 * S * S * P / peak:.0f} % of the core's FMA "
        f"peak ({peak / 1e9:.1f} GFLOP/s)",
    )


def bench_cheap(n, min_time) -> list[Result]:
    T = 2000
    pb = _Problem(n, T)
    r = rates(
        {
            "forward": (pb.forward(), T, 1),
            "snap1": (pb.trainer(SnAp(1)), T, 1),
            "uoro": (pb.trainer(UORO()), T, 1),
        },
        min_time,
    )
    return [
        Result(
            f"{name}, n={n}: time per step / forward-only step",
            r["forward"] / r[key],
            "<= 2",
            f"{r[key]:.0f} vs {r['forward']:.0f} steps/s",
        )
        for name, key in (("SnAp-1", "snap1"), ("UORO", "uoro"))
    ]


def bench_kronecker(n, min_time, rank=2) -> list[Result]:
    T = _steps_for(2 * n**3 * (rank + 1), hi=400)
    pb = _Problem(n, T)
    r = rates(
        {
            "kf": (pb.trainer(KF()), T, 1),
            "gemm1": (pb.gemm(n, T), T, 1),
            "ok": (pb.trainer(OK(rank)), T, 1),
            "gemmr": (pb.gemm(rank * n, T), T, 1),
        },
        min_time,
    )
    return [
        Result(
            f"KF-RTRL, n={n}: of the bound of its n x n x n product",
            r["kf"] / r["gemm1"],
            ">= 0.7",
            f"{r['kf']:.0f} vs {r['gemm1']:.0f} steps/s",
        ),
        Result(
            f"OK(r={rank}), n={n}: of the bound of its n x n x {rank}n product",
            r["ok"] / r["gemmr"],
            ">= 0.7",
            f"{r['ok']:.0f} vs {r['gemmr']:.0f} steps/s",
        ),
    ]


_MEMORY_PROBE = """
import os, resource, sys
import numpy as np
import rtrl
n, steps, learner, update_every = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
X, y = rtrl.datasets.delayed_sum(steps, random_state=0)
est = rtrl.RTRLRegressor(hidden_size=n, learner=learner, update_every=update_every, n_jobs=1)

def status(key):  # kB, from /proc (Linux)
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key))

try:  # Linux: reset the peak to the current size, then read the peak back
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status("VmRSS:")
    peak = lambda: status("VmHWM:")
except OSError:  # elsewhere: the process's peak so far (may hide growth below it)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if sys.platform == "darwin":
        before //= 1024
    peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // (
        1024 if sys.platform == "darwin" else 1)
for a in range(0, steps, 50):
    est.partial_fit(X[a:a + 50], y[a:a + 50])
after = peak()
state = est._learner().state_bytes(est._layout(), 8, 50)
print(before, after, state)
"""


def bench_memory(n, learner="rtrl", update_every=32, steps=400) -> Result:
    """Peak resident memory of a fresh process while it trains the estimator (above what it
    held before), against the learner's documented state + 64 MiB (Linux, macOS)."""
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(n), str(steps), learner, str(update_every)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    ).stdout.split()
    before, after, state = (int(x) for x in out)  # KiB, KiB, bytes
    mib = 2**20
    grown = max(0, after - before) * 1024 / mib
    return Result(
        f"peak memory, {learner} n={n} update_every={update_every}: MiB above start",
        grown,
        f"<= {state / mib + 64:.1f}",
        f"documented state {state / mib:.1f} MiB + 64",
    )


SIZES = {
    "full": dict(bound=(64, 128), small=16, block=(128, 32), threads=128, batch=(16, 8),
                 cheap=256, kron=256, memory=128),
    "quick": dict(bound=(24,), small=8, block=(24, 8), threads=24, batch=(8, 4),
                  cheap=32, kron=32, memory=16),
}  # fmt: skip


def _median(results: list[Result]) -> Result:
    """The run with the median value, its detail noting the range over the runs."""
    if len(results) == 1:
        return results[0]
    ordered = sorted(results, key=lambda r: r.value)
    mid = ordered[(len(ordered) - 1) // 2]
    spread = f"median of {len(results)}: {ordered[0].value:.3g}-{ordered[-1].value:.3g}; "
    return dataclasses.replace(mid, detail=spread + mid.detail)


def run(
    compare: bool = False,
    quick: bool = False,
    min_time: float = 0.3,
    echo=print,
    repeat: int = 1,
):
    """Measure every target; returns the list of :class:`Result` (printed as they come).

    ``repeat`` > 1 measures each row that many times in a row and reports the run with the
    median ratio (and the range), steadier than one run on a shared machine."""
    if repeat < 1:
        raise ValueError(f"repeat must be a positive integer, got {repeat}")
    s = SIZES["quick" if quick else "full"]
    results = []

    def add(measure):
        runs = [measure() for _ in range(repeat)]
        runs = [r if isinstance(r, list) else [r] for r in runs]
        for row in zip(*runs, strict=True):
            item = _median(list(row))
            results.append(item)
            if echo is not None:
                echo(format_result(item, compare))

    for dtype in (np.float64, np.float32):
        for n in s["bound"]:
            add(lambda n=n, dtype=dtype: bench_exact_rtrl(n, dtype, min_time, compare))
    add(lambda: bench_exact_rtrl(s["small"], np.float64, min_time, compare, small_n_target=True))
    add(lambda: bench_block(*s["block"], min_time))
    add(lambda: bench_threads(s["threads"], min_time))
    add(lambda: bench_batch(*s["batch"], min_time))
    add(lambda: bench_cheap(s["cheap"], min_time))
    add(lambda: bench_kronecker(s["kron"], min_time))
    add(lambda: bench_memory(s["memory"]))
    return results


def format_result(r: Result, compare: bool = False) -> str:
    value = f"{r.value:.2e}" if r.value < 1e-3 and r.value > 0 else f"{r.value:.2f}"
    line = f"{r.what:<66} {value:>9} {r.target:>10} {'yes' if r.met else 'NO':>4}  {r.detail}"
    if compare and r.peers:
        line += f"  | peers: {r.peers}"
    return line


def format_table(results, compare: bool = False) -> str:
    return "\n".join(format_result(r, compare) for r in results)


def header() -> str:
    return f"{'what':<66} {'measured':>9} {'target':>10} {'met':>4}  rates"
