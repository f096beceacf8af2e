"""Time and peak memory of the learners' training kernels.

Each benchmark advances one stream of ``STEPS`` steps with fixed parameters (the work of
``rtrl.sequence_gradient``, without the Python around it), so times are per 32 steps.
``rtrl-block`` is exact RTRL in windows of 32 steps (Schmidhuber 1992); ``rtrl`` is the
per-step form.
"""

from threadpoolctl import threadpool_limits

from rtrl.benchmark import _Problem
from rtrl.learners import KF, OK, RTRL, TBPTT, UORO, SnAp

STEPS = 32

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
        problem = _Problem(n, STEPS, dtype, streams=n_streams, cell=cell)
        self.run = problem.trainer(LEARNERS[learner](), n_threads=n_threads)
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
