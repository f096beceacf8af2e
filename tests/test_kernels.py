"""Kernel mechanics: threads, precision, memory layouts of the inputs, build options."""

import os
import threading

import numpy as np
import pytest
from conftest import make_problem, rel_err

import rtrl
from rtrl.learners import RTRL, influence_block_width


@pytest.mark.skipif(not rtrl._openmp_parallelism_enabled(), reason="built without OpenMP")
@pytest.mark.parametrize("learner", [RTRL(block_width=64), RTRL(block_width=17)])
def test_two_threads_equal_one_thread(cell_case, learner, force_threads):
    _, cell = cell_case
    # big enough that the influence matrix has many column blocks
    params, X, y, w = make_problem(cell, 40, 5, 2, T=12, seed=11, scale=0.3)
    layout = cell.infer_layout(params)
    assert layout.n_recurrent_params // learner.block_width >= 4
    g1 = rtrl.sequence_gradient(
        params, X, y, cell=cell, learner=learner, n_jobs=1, sample_weight=w
    )
    g2 = rtrl.sequence_gradient(
        params, X, y, cell=cell, learner=learner, n_jobs=2, sample_weight=w
    )
    for name in params:
        assert rel_err(g2[name], g1[name]) <= 1e-12, name


@pytest.mark.skipif(not rtrl._openmp_parallelism_enabled(), reason="built without OpenMP")
def test_default_block_width_splits_large_networks_across_threads():
    """n = 64: enough work per step that the default policy uses both threads."""
    cell = rtrl.cells.Elman()
    params, X, y, w = make_problem(cell, 64, 8, 1, T=6, seed=1, scale=0.2)
    layout = cell.infer_layout(params)
    assert (
        layout.n_recurrent_params // influence_block_width(64, layout.n_recurrent_params, 8) >= 2
    )
    g1 = rtrl.sequence_gradient(params, X, y, cell=cell, n_jobs=1, sample_weight=w)
    g2 = rtrl.sequence_gradient(params, X, y, cell=cell, n_jobs=2, sample_weight=w)
    for name in params:
        assert rel_err(g2[name], g1[name]) <= 1e-12, name


def test_block_width_does_not_change_the_gradient(cell_case):
    _, cell = cell_case
    params, X, y, w = make_problem(cell, 9, 3, 2, T=15, seed=2)
    ref = rtrl.sequence_gradient(params, X, y, cell=cell, learner="bptt", sample_weight=w)
    for width in (1, 5, 64, 10_000):
        g = rtrl.sequence_gradient(
            params, X, y, cell=cell, learner=RTRL(block_width=width), sample_weight=w
        )
        for name in params:
            assert rel_err(g[name], ref[name]) <= 1e-10, (width, name)


def test_openmp_is_enabled_when_the_build_required_it():
    if os.environ.get("RTRL_REQUIRE_OPENMP", "").upper() in ("1", "ON", "TRUE"):
        assert rtrl._openmp_parallelism_enabled()
    assert isinstance(rtrl._openmp_parallelism_enabled(), bool)


@pytest.mark.parametrize("learner", ["rtrl", "bptt"])
def test_read_only_and_non_contiguous_inputs(learner):
    cell = rtrl.cells.LSTM()
    params, X, y, w = make_problem(cell, 5, 3, 2, T=20, seed=4)
    expected = rtrl.sequence_gradient(params, X, y, cell=cell, learner=learner, sample_weight=w)

    big = np.zeros((40, 7))
    big[::2, 1:7:2] = X  # strided in both dimensions
    Xs = big[::2, 1:7:2]
    assert not Xs.flags.c_contiguous and not Xs.flags.f_contiguous
    ys = np.asfortranarray(np.repeat(y, 2, axis=0))[::2]
    ws = np.repeat(w, 2)[::2]
    ro_params = {}
    for k, v in params.items():
        v = np.asfortranarray(v) if v.ndim == 2 else v.copy()
        v.setflags(write=False)
        ro_params[k] = v
    for arr in (Xs, ys, ws):
        arr.setflags(write=False)
    got = rtrl.sequence_gradient(ro_params, Xs, ys, cell=cell, learner=learner, sample_weight=ws)
    for name in params:
        np.testing.assert_array_equal(got[name], expected[name])


@pytest.mark.parametrize("learner", ["rtrl", "bptt"])
def test_float32_follows_float64(cell_case, learner):
    _, cell = cell_case
    params, X, y, w = make_problem(cell, 6, 3, 2, T=20, seed=8)
    g64 = rtrl.sequence_gradient(params, X, y, cell=cell, learner=learner, sample_weight=w)
    p32 = {k: v.astype(np.float32) for k, v in params.items()}
    g32 = rtrl.sequence_gradient(p32, X, y, cell=cell, learner=learner, sample_weight=w)
    for name in params:
        assert g32[name].dtype == np.float32
        assert rel_err(g32[name], g64[name]) <= 2e-4, name
    forced = rtrl.sequence_gradient(
        params, X, y, cell=cell, learner=learner, sample_weight=w, dtype="float32"
    )
    for name in params:
        np.testing.assert_array_equal(forced[name], g32[name])


@pytest.mark.parametrize("learner", ["rtrl", "bptt"])
def test_kernels_release_the_gil(learner):
    """A Python thread keeps running while a long kernel call is in progress."""
    import time

    cell = rtrl.cells.Elman()
    params, X, y, _ = make_problem(cell, 32, 4, 1, T=50, seed=0, scale=0.2)
    t0 = time.perf_counter()
    rtrl.sequence_gradient(params, X, y, cell=cell, learner=learner, n_jobs=1)
    per_step = (time.perf_counter() - t0) / 50
    n_steps = int(min(max(0.3 / per_step, 50), 2_000_000))  # a call of about 0.3 s
    X = np.resize(X, (n_steps, 4))
    y = np.resize(y, (n_steps, 1))

    counter = [0]
    stop = threading.Event()

    def count():
        while not stop.is_set():
            counter[0] += 1

    thread = threading.Thread(target=count)
    thread.start()
    try:
        time.sleep(0.05)
        start = counter[0]
        t0 = time.perf_counter()
        rtrl.sequence_gradient(params, X, y, cell=cell, learner=learner, n_jobs=1)
        busy = time.perf_counter() - t0
        during = counter[0] - start
        t0, start = time.perf_counter(), counter[0]
        time.sleep(busy)
        alone = (counter[0] - start) / (time.perf_counter() - t0) * busy
    finally:
        stop.set()
        thread.join()
    # with the GIL held the counter would stand still for the whole kernel call
    assert during > 0.25 * alone, (during, alone, busy)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [3, 7, 13, 24, 31])
def test_small_state_kernels_equal_the_blas_path(cell_case, n, dtype, force_threads):
    """The register-tiled kernels for small states (ragged rows and columns included) give
    the BLAS path's gradient, and the one-thread result equals the two-thread one."""
    _, cell = cell_case
    params, X, y, w = make_problem(cell, n, 3, 2, T=12, seed=n, scale=0.4, dtype=dtype)
    tol = 1e-12 if dtype == np.float64 else 1e-4
    learner = RTRL(block_width=37)  # ragged blocks: 37 is neither a multiple of 8 nor 16
    previous = rtrl._core._set_microkernels(False)
    try:
        blas = rtrl.sequence_gradient(params, X, y, cell=cell, learner=learner, sample_weight=w)
    finally:
        rtrl._core._set_microkernels(*previous)
    tiled = rtrl.sequence_gradient(
        params, X, y, cell=cell, learner=learner, sample_weight=w, n_jobs=1
    )
    tiled2 = rtrl.sequence_gradient(
        params, X, y, cell=cell, learner=learner, sample_weight=w, n_jobs=2
    )
    for name in params:
        assert rel_err(tiled[name], blas[name]) <= tol, name
        np.testing.assert_array_equal(tiled2[name], tiled[name])
