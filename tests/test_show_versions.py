"""rtrl.show_versions reports what a bug report needs."""

import numpy as np

import rtrl
from rtrl._show_versions import versions


def test_show_versions_prints_versions_openmp_and_blas(capsys):
    rtrl.show_versions()
    out = capsys.readouterr().out
    assert rtrl.__version__ in out
    assert np.__version__ in out
    expected = "on" if rtrl._openmp_parallelism_enabled() else "off"
    assert f"OpenMP: {expected}" in out
    assert "user_api: blas" in out  # the BLAS libraries in use, from threadpoolctl
    assert "scikit-learn" in out and "threadpoolctl" in out


def test_versions_are_structured():
    info = versions()
    assert set(info) == {
        "System",
        "rtrl",
        "Python dependencies",
        "Optional dependencies",
        "Threadpool libraries",
    }
    assert info["rtrl"]["version"] == rtrl.__version__
    assert info["rtrl"]["threads used (n_jobs=None)"] >= 1
    assert info["Python dependencies"]["numpy"] == np.__version__
    assert any(lib["user_api"] == "blas" for lib in info["Threadpool libraries"].values())
