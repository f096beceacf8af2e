"""rtrl: online training of recurrent networks with Real-Time Recurrent Learning.

Typed Cython kernels (OpenMP, BLAS) implement exact RTRL and full BPTT for Elman, Jordan,
GRU and LSTM cells; ``RTRLRegressor`` and ``RTRLClassifier`` put them in scikit-learn
pipelines and on streaming data (``partial_fit``).
"""

from . import cells, datasets, learners, optim, readout
from ._core import _openmp_parallelism_enabled
from ._memory import InfluenceMemoryError
from .cells import GRU, LSTM, Elman, Jordan
from .estimators import DivergenceWarning, RTRLClassifier, RTRLRegressor
from .gradient import sequence_gradient
from .learners import BPTT, RTRL

__version__ = "0.1.0.dev0"

__all__ = [
    "BPTT",
    "GRU",
    "LSTM",
    "RTRL",
    "DivergenceWarning",
    "Elman",
    "InfluenceMemoryError",
    "Jordan",
    "RTRLClassifier",
    "RTRLRegressor",
    "_openmp_parallelism_enabled",
    "cells",
    "datasets",
    "learners",
    "optim",
    "readout",
    "sequence_gradient",
]
