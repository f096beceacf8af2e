"""Type stubs of the compiled kernels (``rtrl/_core.pyx``); arrays are float32 or float64."""

import numpy as np
from numpy.typing import NDArray

_Float = NDArray[np.floating]
_Intp = NDArray[np.intp]
_Int64 = NDArray[np.int64]

def _set_min_flops_per_thread(flops: int) -> int: ...
def _set_microkernels(
    enabled: bool, max_state_f64: int = 48, max_state_f32: int = 64
) -> tuple[bool, int, int]: ...
def _openmp_parallelism_enabled() -> bool: ...
def _microkernels_available() -> bool: ...
def _openmp_max_threads() -> int: ...
def _fma_chains(n_iterations: int) -> float: ...
def _ok_orthogonalise_by_gram(enabled: bool) -> None: ...
def _set_uoro_alpha_limit(limit: float) -> float: ...
def optimizer_step(
    opt: dict,
    w: _Float,
    acc: _Float,
    scale: float,
    pmask: _Float,
    dmask: _Float,
    m: _Float,
    v: _Float,
    t: _Intp,
) -> bool: ...
def online_train(
    spec: dict,
    lspec: dict,
    opt: dict,
    w: _Float,
    pmask: _Float,
    dmask: _Float,
    X: _Float,
    Y: _Float,
    labels: _Intp,
    weights: _Float,
    starts: _Intp,
    lengths: _Intp,
    ends: _Intp,
    states: _Float,
    lstate: _Float,
    lint: _Int64,
    acc: _Float,
    window: _Intp,
    opt_m: _Float,
    opt_v: _Float,
    opt_t: _Intp,
    update_every: int,
    loss_kind: int,
    n_threads: int,
    diverged: _Intp,
) -> tuple[float, int]: ...
def uoro_window_sizes(spec: dict, window: int) -> tuple[int, int]: ...
def flush_windows(
    spec: dict, lspec: dict, lstate: _Float, lint: _Int64, acc: _Float, w: _Float | None = None
) -> None: ...
def bptt_train(
    spec: dict,
    opt: dict,
    w: _Float,
    pmask: _Float,
    dmask: _Float,
    X: _Float,
    Y: _Float,
    labels: _Intp,
    weights: _Float,
    starts: _Intp,
    lengths: _Intp,
    states: _Float,
    acc: _Float,
    window: _Intp,
    opt_m: _Float,
    opt_v: _Float,
    opt_t: _Intp,
    update_every: int,
    loss_kind: int,
    diverged: _Intp,
) -> tuple[float, int]: ...
def tbptt_train(
    spec: dict,
    opt: dict,
    w: _Float,
    pmask: _Float,
    dmask: _Float,
    X: _Float,
    Y: _Float,
    labels: _Intp,
    weights: _Float,
    starts: _Intp,
    lengths: _Intp,
    ends: _Intp,
    states: _Float,
    lstate: _Float,
    lint: _Int64,
    truncation: int,
    acc: _Float,
    window: _Intp,
    opt_m: _Float,
    opt_v: _Float,
    opt_t: _Intp,
    update_every: int,
    loss_kind: int,
    diverged: _Intp,
) -> tuple[float, int]: ...
def forward_run(spec: dict, w: _Float, X: _Float, state: _Float, out: _Float) -> None: ...
