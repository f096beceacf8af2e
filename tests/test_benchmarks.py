"""The benchmark scripts run (tiny sizes; their numbers are not checked here)."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), os.pardir, "benchmarks"))

import bench_batched
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


def test_rtrl_bench_prints_every_target(capsys):
    from rtrl.cli import main

    assert main(["bench", "--quick", "--min-time", "0"]) == 0
    out = capsys.readouterr().out
    for what in (
        "of GEMM bound",
        "x NumPy per-step",
        "update_every=8",
        "gradient rel. difference",
        "2 threads vs 1",
        "streams vs 1",
        "SnAp-1",
        "UORO",
        "KF-RTRL",
        "OK(r=2)",
        "peak memory",
    ):
        assert what in out, what
    assert "targets met on this machine" in out


def test_rtrl_bench_rejects_a_negative_time(capsys):
    import pytest

    from rtrl.cli import main

    with pytest.raises(SystemExit, match="min-time"):
        main(["bench", "--min-time", "-1"])


def test_the_numpy_peer_computes_the_same_gradient():
    import numpy as np

    import rtrl
    from rtrl._baselines import numpy_rtrl_elman
    from rtrl.benchmark import _Problem

    pb = _Problem(7, 25)
    grad = np.zeros(pb.layout.n_params)
    J = np.zeros((7, pb.layout.n_recurrent_params))
    numpy_rtrl_elman(pb.w, pb.layout, pb.X, pb.Y, pb.weights, np.zeros(7), J, grad)
    params = pb.layout.unpack(pb.w)
    exact = rtrl.sequence_gradient(params, pb.X, pb.Y[:, 0], cell=rtrl.Elman(), learner="bptt")
    np.testing.assert_allclose(grad, pb.layout.pack(exact, np.float64), rtol=1e-10, atol=1e-13)


def test_result_targets():
    from rtrl.benchmark import Result

    assert Result("a", 0.9, ">= 0.85", "").met
    assert not Result("a", 0.8, ">= 0.85", "").met
    assert Result("a", 1e-12, "<= 1e-10", "").met
    assert not Result("a", 2.5, "<= 2", "").met


def test_rates_rotates_the_order_of_the_contenders():
    # each contender leads one round in three, so none always inherits another's cache state
    from rtrl.benchmark import rates

    calls = []

    def contender(name):
        return (lambda: calls.append(name), 1, 1)

    rates({c: contender(c) for c in "abc"}, min_time=0, rounds=3)
    rounds = [calls[3 + 3 * i : 6 + 3 * i] for i in range(3)]  # after the warm-up calls
    assert rounds == [list("abc"), list("bca"), list("cab")]


def test_fma_peak_counts_the_multiply_adds_it_ran():
    import pytest

    from rtrl import _core
    from rtrl.benchmark import fma_peak

    lanes = 4 if _core._microkernels_available() else 1
    assert _core._fma_chains(1000) == 12 * lanes * 1000
    assert _core._fma_chains(0) == 0
    with pytest.raises(ValueError, match="non-negative"):
        _core._fma_chains(-1)
    peak = fma_peak(0.01)
    assert 1e8 < peak < 1e13  # flops/s of one core, within physical reason


def test_rtrl_bench_repeat_reports_the_median_run(capsys):
    import pytest

    from rtrl.benchmark import Result, _median
    from rtrl.cli import main

    runs = [Result("a", v, ">= 1", f"run {v}") for v in (3.0, 1.0, 2.0)]
    mid = _median(runs)
    assert mid.value == 2.0 and mid.detail.startswith("median of 3: 1-3; run 2.0")
    assert _median(runs[:1]) is runs[0]
    assert main(["bench", "--quick", "--min-time", "0", "--repeat", "2"]) == 0
    out = capsys.readouterr().out
    total = int(out.strip().splitlines()[-1].split(" of ")[1].split()[0])  # "k of M targets"
    assert out.count("median of 2") == total > 10
    with pytest.raises(SystemExit, match="repeat"):
        main(["bench", "--repeat", "0"])


def test_bench_batched_runs(capsys):
    bench_batched.main(["--sizes", "4", "--streams", "2", "--min-time", "0"])
    out = capsys.readouterr().out
    assert "one wide GEMM" in out and "rtrl (training step)" in out
