"""Secure persistence (skops): a model saved mid-stream loads and continues bit for bit."""

import os
import zipfile

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import rtrl
from rtrl.datasets import delayed_sum
from rtrl.learners import RTRL
from rtrl.persistence import TRUSTED_TYPES, UntrustedTypesError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class MyLearner(RTRL):
    """A user's learner class: not trusted unless named."""


@pytest.mark.parametrize(
    ("learner", "cell", "update_every"),
    [
        ("rtrl", "gru", 7),  # the block form, a window open at the save
        ("rtrl", "elman", 1),
        ("snap1", "elman", 40),  # windowed SnAp-1, a window open
        ("uoro", "lstm", 1),
        ("kf", "elman", 1),
        ("ok", "gru", 3),
        ("tbptt", "elman", 5),
    ],
)
def test_saved_mid_stream_continues_bit_for_bit(tmp_path, learner, cell, update_every):
    X, y = delayed_sum(160, random_state=0)
    kw = dict(
        hidden_size=5,
        cell=cell,
        learner=learner,
        update_every=update_every,
        n_jobs=1,
        random_state=0,
    )
    never = rtrl.RTRLRegressor(**kw).partial_fit(X[:83], y[:83]).partial_fit(X[83:], y[83:])
    saved = rtrl.RTRLRegressor(**kw).partial_fit(X[:83], y[:83])
    path = rtrl.save(saved, tmp_path / "model.skops")
    assert zipfile.is_zipfile(path)  # skops' format, not a pickle
    loaded = rtrl.load(path)
    assert loaded is not saved and loaded.get_params() == saved.get_params()
    loaded.partial_fit(X[83:], y[83:])
    for name, value in never.params_.items():
        np.testing.assert_array_equal(value, loaded.params_[name], err_msg=name)
    np.testing.assert_array_equal(never.predict(X[:20]), loaded.predict(X[:20]))


def test_classifier_and_objects_as_hyperparameters(tmp_path):
    X, y = delayed_sum(120, random_state=1)
    labels = (y > 0).astype(int)
    kw = dict(hidden_size=4, cell=rtrl.LSTM(), learner=RTRL(window=0), optimizer="sgd")
    clf = rtrl.RTRLClassifier(random_state=0, **kw).partial_fit(
        X[:60], labels[:60], classes=[0, 1]
    )
    loaded = rtrl.load(rtrl.save(clf, tmp_path / "clf.skops"))
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    np.testing.assert_array_equal(loaded.predict_proba(X[60:]), clf.predict_proba(X[60:]))


def test_pipelines_round_trip(tmp_path):
    X, y = delayed_sum(100, random_state=2)
    pipe = make_pipeline(StandardScaler(), rtrl.RTRLRegressor(hidden_size=4, random_state=0))
    pipe.fit(X, y)
    loaded = rtrl.load(rtrl.save(pipe, tmp_path / "pipe.skops"))
    np.testing.assert_array_equal(loaded.predict(X), pipe.predict(X))


def test_untrusted_types_are_refused_before_anything_is_built(tmp_path):
    X, y = delayed_sum(30, random_state=3)
    est = rtrl.RTRLRegressor(hidden_size=3, learner=MyLearner(), random_state=0).fit(X, y)
    path = rtrl.save(est, tmp_path / "mine.skops")
    name = f"{MyLearner.__module__}.MyLearner"
    with pytest.raises(UntrustedTypesError, match="MyLearner"):
        rtrl.load(path)
    loaded = rtrl.load(path, trusted=[name])
    assert isinstance(loaded.learner, MyLearner)


def test_every_trusted_name_is_a_real_type():
    import importlib

    for name in TRUSTED_TYPES:
        module, _, attr = name.rpartition(".")
        assert isinstance(getattr(importlib.import_module(module), attr), type), name


def test_save_is_atomic(tmp_path, monkeypatch):
    import skops.io  # the test extra installs skops

    X, y = delayed_sum(30, random_state=4)
    path = tmp_path / "model.skops"
    first = rtrl.RTRLRegressor(hidden_size=3, random_state=0).fit(X, y)
    rtrl.save(first, path)
    before = path.read_bytes()

    def broken_dump(obj, file):
        with open(file, "wb") as f:
            f.write(b"half a model")
        raise KeyboardInterrupt  # interrupted while writing

    monkeypatch.setattr(skops.io, "dump", broken_dump)
    with pytest.raises(KeyboardInterrupt):
        rtrl.save(rtrl.RTRLRegressor(hidden_size=4, random_state=1).fit(X, y), path)
    assert path.read_bytes() == before  # the previous model is intact
    assert os.listdir(tmp_path) == ["model.skops"]  # and no temporary file is left
