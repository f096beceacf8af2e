"""The benchmark scripts run (tiny sizes; their numbers are not checked here)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks"))

import bench_learners
import bench_rtrl


def test_bench_rtrl_runs(capsys):
    bench_rtrl.main(
        [
            "--sizes",
            "24",
            "--dtypes",
            "float64",
            "float32",
            "--threads",
            "1",
            "2",
            "--min-time",
            "0",
        ]
    )
    out = capsys.readouterr().out
    assert "float32" in out and "of bound" in out


def test_bench_learners_runs(capsys):
    bench_learners.main(["--sizes", "6", "--min-time", "0", "--sparse-size", "20"])
    out = capsys.readouterr().out
    assert "uoro" in out and "density 0.1" in out
