"""Thread counts for the OpenMP kernels, and BLAS kept to one thread inside them."""

from __future__ import annotations

import os
from contextlib import contextmanager
from functools import lru_cache
from numbers import Integral

from threadpoolctl import ThreadpoolController

from ._core import _openmp_max_threads, _openmp_parallelism_enabled

__all__ = ["blas_single_threaded", "effective_n_threads"]


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def effective_n_threads(n_jobs: int | None = None) -> int:
    """Number of OpenMP threads the kernels will use.

    ``None`` means what the OpenMP runtime allows (``OMP_NUM_THREADS``, threadpoolctl limits),
    capped by the CPUs available to the process; a negative value counts back from the CPU
    count (-1 = all CPUs); 0 is an error. Without OpenMP support the answer is always 1.
    """
    if n_jobs is not None and (isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral)):
        raise TypeError(f"n_jobs must be None or an integer, got {n_jobs!r}")
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None, a positive or negative integer")
    if not _openmp_parallelism_enabled():
        return 1
    if n_jobs is None:
        return max(1, min(_openmp_max_threads(), _cpu_count()))
    if n_jobs < 0:
        return max(1, _cpu_count() + 1 + int(n_jobs))
    return int(n_jobs)


@lru_cache(maxsize=1)
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


@contextmanager
def blas_single_threaded():
    """Cap BLAS to one thread: the kernels parallelise with OpenMP themselves."""
    with _controller().limit(limits=1, user_api="blas"):
        yield
