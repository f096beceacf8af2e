"""Secure persistence of models with skops: :func:`save` and :func:`load`.

skops files hold an estimator's state as a tree of plain values and arrays; loading rebuilds
only the types the caller trusts and never runs code from the file (unlike pickle). Every
fitted value of rtrl's estimators is a NumPy array or a plain value, so a model saved at any
point of a stream -- hidden state, influence matrix, pending gradient, optimizer state and
random generators included -- loads and continues ``partial_fit`` bit for bit.

:data:`TRUSTED_TYPES` lists rtrl's own types, which :func:`load` trusts; scikit-learn's types
(pipelines, scalers, ...) are trusted by skops itself. Anything else in a file -- a class of
yours, say a learner subclass -- must be named in ``trusted=`` or :func:`load` refuses the
file, naming the types.

Requires the optional dependency skops (``pip install "rtrl[persist]"``).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

__all__ = ["TRUSTED_TYPES", "UntrustedTypesError", "load", "save"]

#: rtrl's types that may appear in a saved model; :func:`load` trusts them.
TRUSTED_TYPES: list[str] = [
    "rtrl.estimators.RTRLRegressor",
    "rtrl.estimators.RTRLClassifier",
    "rtrl.cells.Elman",
    "rtrl.cells.Jordan",
    "rtrl.cells.GRU",
    "rtrl.cells.LSTM",
    "rtrl.learners.RTRL",
    "rtrl.learners.BPTT",
    "rtrl.learners.TBPTT",
    "rtrl.learners.UORO",
    "rtrl.learners.KF",
    "rtrl.learners.OK",
    "rtrl.learners.SnAp",
    "rtrl.optim.SGD",
    "rtrl.optim.Adam",
    "rtrl.readout.SquaredError",
    "rtrl.readout.CrossEntropy",
]


class UntrustedTypesError(ValueError):
    """A model file holds types that are neither rtrl's nor named in ``trusted=``."""


def _skops_io():
    try:
        import skops.io
    except ImportError as exc:  # pragma: no cover - exercised where skops is missing
        raise ImportError(
            'saving and loading models needs skops: pip install "rtrl[persist]"'
        ) from exc
    return skops.io


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; when the block ends without an error it is
    renamed over ``path``, otherwise removed -- an interrupted write never leaves a partial
    file, and a previous file stays intact."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def save(model, path: str | os.PathLike) -> Path:
    """Write ``model`` (an estimator, fitted or not, or a pipeline holding one) to ``path``
    in skops format, atomically: the file is written beside its destination and renamed
    over it, so an interrupted save leaves any previous file intact.

    Returns the path written.
    """
    sio = _skops_io()
    with atomic_path(path) as tmp:
        sio.dump(model, tmp)
    return Path(path)


def load(path: str | os.PathLike, trusted: list[str] | None = None):
    """Load a model written by :func:`save` (or ``skops.io.dump``).

    Parameters
    ----------
    path : path-like
    trusted : list of str, optional
        Fully qualified names of further types to trust (beyond :data:`TRUSTED_TYPES` and
        skops' defaults).

    Raises
    ------
    UntrustedTypesError
        If the file holds other types; nothing from it has been built.
    """
    sio = _skops_io()
    allowed = set(TRUSTED_TYPES) | set(trusted or ())
    unknown = sorted(set(sio.get_untrusted_types(file=path)) - allowed)
    if unknown:
        raise UntrustedTypesError(
            f"{os.fspath(path)!r} holds types that are not trusted: {unknown}; "
            "pass them in trusted=[...] if you know where the file comes from"
        )
    return sio.load(path, trusted=sorted(allowed))
