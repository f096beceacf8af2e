"""``rtrl.show_versions()``: what a bug report needs to know about this installation."""

from __future__ import annotations

import platform
import sys
from importlib.metadata import PackageNotFoundError, version

from threadpoolctl import threadpool_info

DEPENDENCIES = ["numpy", "scipy", "scikit-learn", "threadpoolctl"]
OPTIONAL = ["pandas", "skops", "dask", "distributed", "dask-ml", "torch", "jax", "matplotlib"]


def _version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _system() -> dict[str, str]:
    return {
        "python": sys.version.replace("\n", " "),
        "executable": sys.executable,
        "machine": platform.platform(),
    }


def _rtrl() -> dict[str, object]:
    from . import __version__, _core
    from ._threads import effective_n_threads

    return {
        "version": __version__,
        "OpenMP": "on" if _core._openmp_parallelism_enabled() else "off",
        "OpenMP max threads": _core._openmp_max_threads(),
        "threads used (n_jobs=None)": effective_n_threads(None),
        "AVX2/FMA kernels": "yes" if _core._microkernels_available() else "no",
    }


def versions() -> dict[str, dict]:
    """Everything :func:`show_versions` prints, as nested dicts."""
    libraries = [
        {
            k: info.get(k)
            for k in ("user_api", "internal_api", "version", "num_threads", "filepath")
        }
        | ({"architecture": info["architecture"]} if "architecture" in info else {})
        for info in threadpool_info()
    ]
    return {
        "System": _system(),
        "rtrl": _rtrl(),
        "Python dependencies": {name: _version(name) for name in DEPENDENCIES},
        "Optional dependencies": {name: _version(name) for name in OPTIONAL},
        "Threadpool libraries": {str(i): lib for i, lib in enumerate(libraries)},
    }


def show_versions() -> None:
    """Print the versions of rtrl, its dependencies and the system, whether the kernels were
    built with OpenMP and how many threads they use, and the BLAS and OpenMP libraries in
    use (from threadpoolctl) -- the facts a bug report needs.

    Examples
    --------
    >>> import rtrl
    >>> rtrl.show_versions()  # doctest: +SKIP
    """
    for section, items in versions().items():
        print(f"\n{section}:")
        if section == "Threadpool libraries":
            for lib in items.values():
                print("")
                for key, value in lib.items():
                    print(f"{key:>15}: {value}")
            continue
        width = max(len(k) for k in items)
        for key, value in items.items():
            print(f"{key:>{width}}: {'not installed' if value is None else value}")
