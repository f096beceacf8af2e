"""rtrl fit / rtrl predict on CSV files: every path, every bad input, the atomic save."""

import csv
import os
import subprocess
import sys

import numpy as np
import pytest

import rtrl
from rtrl.cli import main
from rtrl.datasets import delayed_sum

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _write(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return str(path)


@pytest.fixture
def data(tmp_path):
    X, y = delayed_sum(700, random_state=0)
    noise = np.random.default_rng(0).normal(size=700)
    return X, y, _write(tmp_path / "data.csv", ["x", "noise", "y"], np.c_[X, noise, y].tolist())


FIT = ["--hidden", "6", "--update-every", "4", "--chunk-size", "150", "--quiet"]


def test_fit_streams_the_file_like_one_partial_fit_call(data, tmp_path, capsys):
    X, y, path = data
    model = str(tmp_path / "model.skops")
    assert main(["fit", path, "--target", "y", "--features", "x", "--out", model, *FIT]) == 0
    out = capsys.readouterr().out
    assert "700 rows" in out and "prequential loss" in out and model in out
    bundle = rtrl.load(model)
    assert bundle["features"] == ["x"] and bundle["target"] == ["y"]
    est = rtrl.RTRLRegressor(
        hidden_size=6, update_every=4, learning_rate=1e-3, clip_norm=1.0, random_state=0
    ).partial_fit(X, y)
    for name, value in est.params_.items():  # chunks of 150 rows = one call, bit for bit
        np.testing.assert_array_equal(value, bundle["model"].params_[name], err_msg=name)


def test_predict_carries_the_state_across_chunks(data, tmp_path):
    X, _, path = data
    model = str(tmp_path / "model.skops")
    preds = str(tmp_path / "preds.csv")
    main(["fit", path, "--target", "y", "--features", "x", "--out", model, *FIT])
    assert main(["predict", model, path, "--out", preds, "--chunk-size", "64"]) == 0
    with open(preds) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["y"]
    got = np.array(rows[1:], dtype=float)[:, 0]
    np.testing.assert_array_equal(got, rtrl.load(model)["model"].predict(X))


def test_predict_to_standard_output(data, tmp_path, capsys):
    _, _, path = data
    model = str(tmp_path / "model.skops")
    main(["fit", path, "--target", "y", "--out", model, *FIT])  # features: x and noise
    capsys.readouterr()
    assert main(["predict", model, path]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "y" and len(lines) == 701


def test_classification_with_text_labels_and_sequences(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=600)
    label = np.where(np.concatenate([[0], x[:-1]]) > 0, "up", "down")
    seq = np.repeat(["a", "b", "c"], 200)
    path = _write(tmp_path / "c.csv", ["x", "label", "run"], zip(x, label, seq, strict=True))
    model = str(tmp_path / "clf.skops")
    args = ["--target", "label", "--sequence-id", "run", "--classify", "--out", model]
    assert main(["fit", path, *args, *FIT, "--learning-rate", "0.01"]) == 0
    bundle = rtrl.load(model)
    assert list(bundle["model"].classes_) == ["down", "up"]
    assert bundle["sequence_id"] == "run"
    preds = str(tmp_path / "p.csv")
    assert main(["predict", model, path, "--out", preds]) == 0
    with open(preds) as f:
        got = [r[0] for r in list(csv.reader(f))[1:]]
    expected = bundle["model"].predict(x[:, None], sequence_id=seq)
    assert got == list(expected)


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, argv
    assert err.count("\n") == 0 and err.startswith("rtrl "), err  # one line
    return err


def test_bad_inputs_end_with_one_line_and_exit_code_2(data, tmp_path, capsys):
    _, _, path = data
    model = str(tmp_path / "m.skops")
    main(["fit", path, "--target", "y", "--out", model, *FIT])
    capsys.readouterr()
    missing = str(tmp_path / "missing.csv")
    assert "no such file" in _error(capsys, ["fit", missing, "--target", "y", "--out", model])
    assert "unknown column 'z'" in _error(capsys, ["fit", path, "--target", "z", "--out", model])
    assert "unknown column 'w'" in _error(
        capsys, ["fit", path, "--target", "y", "--features", "w", "--out", model]
    )
    bad = _write(tmp_path / "bad.csv", ["x", "y"], [[1, 2], [3, "abc"], [5, 6]])
    msg = _error(capsys, ["fit", bad, "--target", "y", "--out", model])
    assert "bad.csv:3" in msg and "'y'" in msg and "'abc' is not a number" in msg
    ragged = _write(tmp_path / "ragged.csv", ["x", "y"], [[1, 2], [3]])
    assert "1 fields" in _error(capsys, ["fit", ragged, "--target", "y", "--out", model])
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty file" in _error(capsys, ["fit", str(empty), "--target", "y", "--out", model])
    nodir = str(tmp_path / "no" / "m.skops")
    assert "no such directory" in _error(capsys, ["fit", path, "--target", "y", "--out", nodir])
    corrupt = tmp_path / "corrupt.skops"
    corrupt.write_bytes(b"not a model")
    assert "not a valid model file" in _error(capsys, ["predict", str(corrupt), path])
    assert "no such model file" in _error(capsys, ["predict", str(tmp_path / "none"), path])
    msg = _error(capsys, ["predict", model, bad, "--features", "x", "y"])
    assert "bad.csv:3" in msg and "'abc' is not a number" in msg
    assert "no such file" in _error(capsys, ["predict", model, missing])


def test_untrusted_model_files_are_refused(tmp_path, data, capsys):
    _, _, path = data

    class Mine(rtrl.learners.RTRL):
        pass

    Mine.__module__ = "somewhere.else"
    Mine.__qualname__ = "Mine"
    model = tmp_path / "mine.skops"
    import skops.io

    X, y = delayed_sum(20, random_state=0)
    est = rtrl.RTRLRegressor(hidden_size=3, learner=rtrl.learners.UORO()).fit(X, y)
    skops.io.dump({"model": est, "features": ["x"], "target": ["y"], "x": Mine}, model)
    msg = _error(capsys, ["predict", str(model), path])
    assert "not trusted" in msg


def test_an_interrupted_fit_leaves_the_last_checkpoint(data, tmp_path, monkeypatch, capsys):
    _, _, path = data
    model = tmp_path / "m.skops"
    calls = {"n": 0}
    original = rtrl.RTRLRegressor.partial_fit

    def interrupted(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(rtrl.RTRLRegressor, "partial_fit", interrupted)
    argv = ["fit", path, "--target", "y", "--out", str(model), *FIT, "--save-every", "1"]
    assert main(argv) == 130
    assert "holds the last checkpoint" in capsys.readouterr().err
    checkpoint = rtrl.load(model)["model"]
    assert checkpoint.loss_curve_ and len(checkpoint.loss_curve_) == 3  # after chunk 3
    assert os.listdir(tmp_path) == ["data.csv", "m.skops"]  # no temporary file left


def test_no_traceback_from_the_command(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "rtrl", "fit", str(tmp_path / "x.csv"), "--target", "y",
         "--out", str(tmp_path / "m.skops")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert run.returncode == 2
    assert "Traceback" not in run.stderr and "no such file" in run.stderr


def test_more_bad_inputs_end_with_one_line_and_exit_code_2(data, tmp_path, capsys):
    _, _, path = data
    model = str(tmp_path / "m.skops")
    fit = ["fit", path, "--target", "y", "--out", model, *FIT]
    for option, value, expected in [
        ("--learning-rate", "-1", "'learning_rate' parameter"),
        ("--learning-rate", "nan", "'learning_rate' parameter"),
        ("--clip-norm", "0", "'clip_norm' parameter"),
        ("--n-jobs", "0", "n_jobs == 0"),
        ("--hidden", "100000", "needs"),  # refused before anything is allocated
    ]:
        assert expected in _error(capsys, [*fit, option, value]), option
    assert not os.path.exists(model)
    nan = _write(tmp_path / "nan.csv", ["x", "y"], [[1, 2], [3, "nan"], [5, "inf"]])
    assert "'nan' is not a finite number" in _error(
        capsys, ["fit", nan, "--target", "y", "--out", model]
    )
    one = _write(tmp_path / "one.csv", ["x", "y"], [[1, 0], [2, 0]])
    assert "at least 2 classes" in _error(
        capsys, ["fit", one, "--target", "y", "--classify", "--out", model]
    )
    assert "is a directory" in _error(
        capsys, ["fit", path, "--target", "y", "--out", str(tmp_path)]
    )
    dup = _write(tmp_path / "dup.csv", ["a", "a", "y"], [[1, 2, 3]])
    assert "'a' more than once" in _error(capsys, ["fit", dup, "--target", "y", "--out", model])
    # predict: a sequence column the file lacks, named or remembered by the model
    assert main(["fit", path, "--target", "y", "--out", model, *FIT]) == 0
    assert "unknown column 'zz'" in _error(capsys, ["predict", model, path, "--sequence-id", "zz"])
    seqs = _write(tmp_path / "s.csv", ["x", "y", "s"], [[0.1, 1, "a"], [0.2, 2, "b"]])
    seq_model = str(tmp_path / "sm.skops")
    assert (
        main(["fit", seqs, "--target", "y", "--sequence-id", "s", "--out", seq_model, *FIT]) == 0
    )
    plain = _write(tmp_path / "plain.csv", ["x"], [[0.1], [0.2]])
    assert "column 's'" in _error(capsys, ["predict", seq_model, plain])
    # a pipeline saved with rtrl.save cannot be streamed through a file
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = delayed_sum(30, random_state=0)
    pipe = make_pipeline(StandardScaler(), rtrl.RTRLRegressor(hidden_size=3, max_iter=1)).fit(X, y)
    rtrl.save(pipe, tmp_path / "pipe.skops")
    assert "Pipeline" in _error(capsys, ["predict", str(tmp_path / "pipe.skops"), path])


def test_integer_class_labels_come_back_as_integers(tmp_path, capsys):
    path = _write(tmp_path / "i.csv", ["x", "y"], [[0.5, 1], [-0.5, 0], [0.4, 1], [-0.3, 0]] * 5)
    model = str(tmp_path / "c.skops")
    assert main(["fit", path, "--target", "y", "--classify", "--out", model, *FIT]) == 0
    capsys.readouterr()
    assert main(["predict", model, path]) == 0
    rows = capsys.readouterr().out.split()[1:]
    assert rows and set(rows) <= {"0", "1"}, rows[:5]


def test_demo_and_bench_refuse_bad_options(capsys, tmp_path):
    assert main(["demo", "--steps", "50", "--learning-rate", "-1"]) == 2
    assert "learning_rate" in capsys.readouterr().err
    assert main(["demo", "--steps", "50", "--n-jobs", "0"]) == 2
    assert main(["demo", "--steps", "50", "--plot", str(tmp_path) + os.sep]) == 2
    assert "give a file name" in capsys.readouterr().err
    for bad in ("nan", "inf"):
        with pytest.raises(SystemExit, match="finite"):
            main(["bench", "--quick", "--min-time", bad])


def test_file_size_decides_bptt_memory_and_label_spellings_stay_apart(tmp_path, capsys):
    rows = [[0.1 * i, i % 2] for i in range(50)]
    small = _write(tmp_path / "small.csv", ["x", "y"], rows)
    model = str(tmp_path / "m.skops")
    argv = ["fit", small, "--target", "y", "--learner", "bptt", "--out", model, "--quiet"]
    assert main([*argv, "--hidden", "4", "--chunk-size", "100000000"]) == 0
    labels = _write(tmp_path / "l.csv", ["x", "y"], [[0.1, "1"], [0.2, "01"], [0.3, "1"]] * 5)
    assert main(["fit", labels, "--target", "y", "--classify", "--out", model, *FIT]) == 0
    assert list(rtrl.load(model)["model"].classes_) == ["01", "1"]  # two classes, as written
    unused = _write(tmp_path / "u.csv", ["x", "note", "note"], [[0.1, "a", "b"]] * 3)
    capsys.readouterr()
    assert main(["predict", model, unused, "--features", "x"]) == 0
