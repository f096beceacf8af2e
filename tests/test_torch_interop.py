"""PyTorch interop: weights move both ways; forward outputs match torch to rounding.

torch is an optional dependency: these tests run where it is installed (CI installs it and
sets RTRL_REQUIRE_OPTIONAL=1, which turns a missing torch into a failure, not a skip).
"""

import os

import numpy as np
import pytest

import rtrl
from rtrl.datasets import delayed_sum

if os.environ.get("RTRL_REQUIRE_OPTIONAL"):
    import torch
else:
    torch = pytest.importorskip("torch")

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

MODULES = {
    "elman-tanh": lambda dt: torch.nn.RNN(3, 6, dtype=dt),
    "elman-relu": lambda dt: torch.nn.RNN(3, 6, nonlinearity="relu", dtype=dt),
    "gru": lambda dt: torch.nn.GRU(3, 6, dtype=dt),
    "lstm": lambda dt: torch.nn.LSTM(3, 6, dtype=dt),
}


def _torch_outputs(module, readout, X):
    with torch.no_grad():
        h, _ = module(torch.from_numpy(X)[:, None, :])  # (T, batch 1, n)
        return readout(h[:, 0]).numpy()


@pytest.mark.parametrize("kind", sorted(MODULES))
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_forward_outputs_match_torch(kind, dtype):
    torch.manual_seed(0)
    tdt = getattr(torch, dtype)
    module, readout = MODULES[kind](tdt), torch.nn.Linear(6, 2, dtype=tdt)
    X = np.random.default_rng(1).normal(size=(60, 3)).astype(dtype)
    est = rtrl.from_torch(module, readout)
    assert isinstance(est, rtrl.RTRLRegressor) and est.dtype == dtype
    tol = 1e-12 if dtype == "float64" else 1e-5
    np.testing.assert_allclose(est.predict(X), _torch_outputs(module, readout, X), atol=tol)


@pytest.mark.parametrize("kind", sorted(MODULES))
def test_round_trip_gives_the_same_modules(kind):
    torch.manual_seed(1)
    module, readout = MODULES[kind](torch.float64), torch.nn.Linear(6, 1, dtype=torch.float64)
    back, back_readout = rtrl.from_torch(module, readout).to_torch()
    assert type(back) is type(module)
    assert getattr(back, "nonlinearity", None) == getattr(module, "nonlinearity", None)
    for (name, a), (_, b) in zip(
        module.state_dict().items(), back.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert torch.equal(readout.weight, back_readout.weight)
    assert torch.equal(readout.bias, back_readout.bias)


def test_pretrained_in_torch_keeps_learning_online():
    torch.manual_seed(2)
    X, y = delayed_sum(1500, delays=(2,), random_state=0)
    module, readout = torch.nn.GRU(1, 8, dtype=torch.float64), torch.nn.Linear(8, 1).double()
    est = rtrl.from_torch(module, readout, learning_rate=3e-3, random_state=0)
    before = est.score(X[1000:], y[1000:])
    for a in range(0, 1000, 100):
        est.partial_fit(X[a : a + 100], y[a : a + 100])
    assert est.score(X[1000:], y[1000:]) > before + 0.2
    trained, trained_readout = est.to_torch()  # and back to torch with the new weights
    np.testing.assert_allclose(
        _torch_outputs(trained, trained_readout, X[:50])[:, 0], est.predict(X[:50]), atol=1e-12
    )


def test_classifier_logits_are_the_readout():
    torch.manual_seed(3)
    module, readout = torch.nn.LSTM(3, 5).double(), torch.nn.Linear(5, 3).double()
    X = np.random.default_rng(4).normal(size=(30, 3))
    clf = rtrl.from_torch(module, readout, classes=["a", "b", "c"])
    logits = torch.from_numpy(_torch_outputs(module, readout, X))
    np.testing.assert_allclose(clf.predict_proba(X), torch.softmax(logits, 1).numpy(), atol=1e-12)
    assert list(clf.predict(X)) == list(np.array(["a", "b", "c"])[logits.argmax(1).numpy()])


def test_without_a_readout_one_is_drawn_and_biases_default_to_zero():
    module = torch.nn.RNN(2, 4, bias=False, dtype=torch.float64)
    est = rtrl.from_torch(module, n_outputs=3, random_state=0)
    assert est.params_["readout_weight"].shape == (3, 4)
    assert not est.params_["bias_ih"].any() and not est.params_["bias_hh"].any()
    np.testing.assert_array_equal(est.params_["weight_hh"], module.weight_hh_l0.detach().numpy())


def test_unsupported_modules_are_refused():
    with pytest.raises(ValueError, match="one layer"):
        rtrl.from_torch(torch.nn.GRU(2, 3, num_layers=2))
    with pytest.raises(ValueError, match="bidirectional"):
        rtrl.from_torch(torch.nn.LSTM(2, 3, bidirectional=True))
    with pytest.raises(ValueError, match="proj_size"):
        rtrl.from_torch(torch.nn.LSTM(2, 4, proj_size=2))
    with pytest.raises(TypeError, match="RNN, GRU or LSTM"):
        rtrl.from_torch(torch.nn.Linear(2, 3))
    with pytest.raises(ValueError, match="comes from the module"):
        rtrl.from_torch(torch.nn.GRU(2, 3), hidden_size=3)
    with pytest.raises(ValueError, match="inputs"):
        rtrl.from_torch(torch.nn.GRU(2, 3), torch.nn.Linear(4, 1))
    X, y = delayed_sum(30, random_state=0)
    jordan = rtrl.RTRLRegressor(hidden_size=3, cell="jordan").fit(X, y)
    with pytest.raises(ValueError, match="no PyTorch module"):
        jordan.to_torch()
    leaky = rtrl.RTRLRegressor(hidden_size=3, cell=rtrl.Elman(leak=0.5)).fit(X, y)
    with pytest.raises(ValueError, match="leak"):
        leaky.to_torch()


def test_non_finite_weights_are_refused():
    rnn = torch.nn.RNN(3, 4, batch_first=True)
    with torch.no_grad():
        rnn.weight_hh_l0[1, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN or infinity"):
        rtrl.from_torch(rnn, torch.nn.Linear(4, 1))
    rnn = torch.nn.RNN(3, 4, batch_first=True)
    readout = torch.nn.Linear(4, 1)
    with torch.no_grad():
        readout.bias[0] = float("inf")
    with pytest.raises(ValueError, match="NaN or infinity"):
        rtrl.from_torch(rnn, readout)
