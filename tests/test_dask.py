"""Dask: time-ordered streaming through dask_ml's Incremental, model selection on a cluster.

A real distributed.LocalCluster (worker processes on loopback) is started once for the module
and always closed.
"""

import dask.array as da
import joblib
import numpy as np
import pytest
from dask_ml.wrappers import Incremental
from distributed import Client, LocalCluster
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

import rtrl
from rtrl.datasets import delayed_sum

pytestmark = pytest.mark.filterwarnings(
    "ignore::sklearn.exceptions.ConvergenceWarning", "ignore::UserWarning"
)


@pytest.fixture(scope="module")
def client():
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as c,
    ):
        yield c


def test_the_cluster_has_worker_processes(client):
    workers = client.scheduler_info()["workers"]
    assert len(workers) == 2
    pids = set(client.run(lambda: __import__("os").getpid()).values())
    assert len(pids) == 2 and __import__("os").getpid() not in pids


@pytest.mark.parametrize("learner", ["rtrl", "uoro"])
def test_incremental_streams_blocks_in_time_order(client, learner):
    X, y = delayed_sum(1200, random_state=0)
    kw = dict(hidden_size=5, learner=learner, update_every=3, random_state=0)
    Xd, yd = da.from_array(X, chunks=(150, 1)), da.from_array(y, chunks=150)
    inc = Incremental(rtrl.RTRLRegressor(**kw), shuffle_blocks=False).fit(Xd, yd)
    local = rtrl.RTRLRegressor(**kw)
    for a in range(0, 1200, 150):  # the same blocks, in order
        local.partial_fit(X[a : a + 150], y[a : a + 150])
    for name, value in local.params_.items():  # the stream crossed the blocks intact
        np.testing.assert_array_equal(inc.estimator_.params_[name], value, err_msg=name)
    # shuffled blocks break the time order: a different model
    shuffled = Incremental(rtrl.RTRLRegressor(**kw), shuffle_blocks=True, random_state=1)
    shuffled.fit(Xd, yd)
    assert not np.array_equal(shuffled.estimator_.params_["weight_hh"], local.params_["weight_hh"])


def test_grid_search_under_the_dask_backend(client):
    X, y = delayed_sum(600, random_state=1)
    search = dict(
        estimator=rtrl.RTRLRegressor(hidden_size=4, max_iter=3, random_state=0),
        param_grid={"learning_rate": [1e-3, 1e-2], "cell": ["elman", "gru"]},
        cv=TimeSeriesSplit(3),
    )
    with joblib.parallel_backend("dask"):
        on_dask = GridSearchCV(n_jobs=-1, **search).fit(X, y)
    here = GridSearchCV(n_jobs=1, **search).fit(X, y)
    assert on_dask.best_params_ == here.best_params_
    np.testing.assert_allclose(
        on_dask.cv_results_["mean_test_score"], here.cv_results_["mean_test_score"], rtol=1e-12
    )
