"""rtrl: online training of recurrent networks with Real-Time Recurrent Learning.

Typed Cython kernels (OpenMP, BLAS) implement exact RTRL, full BPTT and, in later
releases, the practical approximations of RTRL, for Elman, Jordan, GRU and LSTM cells.
"""

from . import cells, learners, readout
from ._core import _openmp_parallelism_enabled
from ._memory import InfluenceMemoryError
from .cells import GRU, LSTM, Elman, Jordan
from .gradient import sequence_gradient
from .learners import BPTT, RTRL

__version__ = "0.1.0.dev0"

__all__ = [
    "BPTT",
    "GRU",
    "LSTM",
    "RTRL",
    "Elman",
    "InfluenceMemoryError",
    "Jordan",
    "_openmp_parallelism_enabled",
    "cells",
    "learners",
    "readout",
    "sequence_gradient",
]
