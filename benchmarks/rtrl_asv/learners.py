"""Time and peak memory of the learners' training kernels.

Each benchmark advances one stream of ``STEPS`` steps with fixed parameters (the work of
``rtrl.sequence_gradient``, without the Python around it), so times are per 32 steps.
``rtrl-block`` is exact RTRL in windows of 32 steps (Schmidhuber 1992); ``rtrl`` is the
per-step form.
"""

import numpy as np
from threadpoolctl import threadpool_limits

import rtrl
from rtrl.learners import KF, OK, RTRL, TBPTT, UORO, SnAp, new_update_state

STEPS = 32
M_INPUTS = 8

LEARNERS = {
    "rtrl": lambda: RTRL(window=0),
    "rtrl-block": lambda: RTRL(window=STEPS),
    "snap1": lambda: SnAp(1),
    "uoro": UORO,
    "kf": KF,
    "ok": lambda: OK(2),
    "tbptt": lambda: TBPTT(16),
}


class _Kernel:
    def _setup(self, learner, cell, n, dtype, n_streams=1, n_threads=1):
        # the kernels thread with OpenMP; BLAS inside them stays on one thread (as in rtrl)
        self._blas = threadpool_limits(limits=1, user_api="blas")
        dtype = np.dtype(dtype).type
        cell = rtrl.cells.make_cell(cell)
        params = cell.init_params(n, M_INPUTS, 1, random_state=0, dtype=dtype)
        layout = cell.infer_layout(params)
        learner = LEARNERS[learner]()
        rng = np.random.default_rng(0)
        rows = STEPS * n_streams
        X = rng.normal(size=(rows, M_INPUTS)).astype(dtype)
        Y = rng.normal(size=(rows, 1)).astype(dtype)
        state = learner.init_state(layout, dtype, n_streams=n_streams, random_state=0)
        update = new_update_state(layout.n_params, dtype)
        states = np.zeros((n_streams, layout.state_size), dtype=dtype)
        w = layout.pack(params, dtype)
        args = (
            layout, w, X, Y, np.empty(0, np.intp), np.ones(rows, dtype=dtype),
            np.arange(n_streams, dtype=np.intp) * STEPS, np.full(n_streams, STEPS, np.intp),
            np.ones(n_streams, np.intp), states, state, update, -1, 0, n_threads,
        )  # fmt: skip
        self.run = lambda: learner.train(*args)
        self.run()  # first-touch of the state outside the timing

    def teardown(self, *params):
        self._blas.restore_original_limits()


class Learners(_Kernel):
    """Every learner, cell, size and dtype: 32 steps of one stream."""

    params = (
        list(LEARNERS),
        ["elman", "gru", "lstm"],
        [16, 64],
        ["float64", "float32"],
    )
    param_names = ["learner", "cell", "n", "dtype"]
    timeout = 300

    def setup(self, learner, cell, n, dtype):
        self._setup(learner, cell, n, dtype)

    def time_steps(self, learner, cell, n, dtype):
        self.run()

    def peakmem_steps(self, learner, cell, n, dtype):
        self.run()


class ExactRTRLScaling(_Kernel):
    """Exact RTRL per step and in windows as n grows (Elman, float64)."""

    params = (["rtrl", "rtrl-block"], [16, 32, 64, 128])
    param_names = ["learner", "n"]
    timeout = 600

    def setup(self, learner, n):
        self._setup(learner, "elman", n, "float64")

    def time_steps(self, learner, n):
        self.run()

    def peakmem_steps(self, learner, n):
        self.run()


class Threads(_Kernel):
    """Exact RTRL per step, n = 128, on 1 and 2 OpenMP threads."""

    params = ([1, 2],)
    param_names = ["threads"]
    timeout = 600

    def setup(self, threads):
        self._setup("rtrl", "elman", 128, "float64", n_threads=threads)

    def time_steps(self, threads):
        self.run()


class Streams(_Kernel):
    """Exact RTRL per step, n = 16: B streams side by side (time per B x 32 stream-steps)."""

    params = ([1, 8],)
    param_names = ["streams"]

    def setup(self, streams):
        self._setup("rtrl", "elman", 16, "float64", n_streams=streams)

    def time_steps(self, streams):
        self.run()
