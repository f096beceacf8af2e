"""rtrl: online training of recurrent networks with Real-Time Recurrent Learning.

Typed Cython kernels (OpenMP, BLAS) implement exact RTRL and full BPTT for Elman, Jordan,
GRU and LSTM cells; ``RTRLRegressor`` and ``RTRLClassifier`` put them in scikit-learn
pipelines and on streaming data (``partial_fit``).
"""

from . import cells, datasets, learners, optim, readout
from ._core import _openmp_parallelism_enabled
from ._memory import InfluenceMemoryError
from ._show_versions import show_versions
from .cells import GRU, LSTM, Elman, Jordan
from .diagnostics import gradient_alignment
from .estimators import DivergenceWarning, RTRLClassifier, RTRLRegressor
from .gradient import sequence_gradient
from .learners import BPTT, KF, OK, RTRL, TBPTT, UORO, SnAp
from .persistence import load, save
from .torch_interop import from_torch

__version__ = "0.1.0.dev0"

__all__ = [
    "BPTT",
    "GRU",
    "KF",
    "LSTM",
    "OK",
    "RTRL",
    "TBPTT",
    "UORO",
    "DivergenceWarning",
    "Elman",
    "InfluenceMemoryError",
    "Jordan",
    "RTRLClassifier",
    "RTRLRegressor",
    "SnAp",
    "_openmp_parallelism_enabled",
    "cells",
    "datasets",
    "from_torch",
    "gradient_alignment",
    "learners",
    "load",
    "optim",
    "readout",
    "save",
    "sequence_gradient",
    "show_versions",
]
