"""Online training by exact RTRL against an independent NumPy oracle (tests/_online_reference.py).

The estimators change the weights during the sequence (every ``update_every`` steps, the
mean of the per-step gradients, optionally plus the L2 term, clipped, then SGD or Adam) and
carry the influence matrix across the changes. The oracle implements those semantics densely
in float64; here the package's ``partial_fit`` must reproduce its final parameters to a
relative 1e-9 per parameter array, for the elman, gru and lstm cells.

Also checked: the initial parameters the oracle starts from are the estimator's; the oracle
reduces to fixed-parameter RTRL (``reference_rtrl`` and ``rtrl.sequence_gradient``) when the
weights do not change during the sequence; streaming through two ``partial_fit`` calls equals
the oracle's stream; and the comparison is sensitive -- plausible wrong semantics (sum instead
of mean, influence reset at updates, another Adam epsilon, L2 on biases, another clip order)
are rejected by the same tolerance.
"""

import numpy as np
import pytest
from _online_reference import OnlineRTRLReference, reference_online_rtrl
from _reference import reference_rtrl

import rtrl
from rtrl.cells import make_cell

RTOL = 1e-9
SIZES = {"elman": 5, "gru": 3, "lstm": 4}  # hidden units per cell
M = 2


def rel_err(a, b):
    """max|a - b| / max|b| (absolute error if b is exactly zero)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = np.max(np.abs(b))
    diff = np.max(np.abs(a - b))
    return float(diff / scale) if scale > 0 else float(diff)


def max_rel_err(est_params, ref_params):
    assert set(est_params) == set(ref_params)
    return max(rel_err(est_params[k], ref_params[k]) for k in ref_params)


def assert_params_close(est_params, ref_params, rtol=RTOL):
    assert set(est_params) == set(ref_params)
    errs = {k: rel_err(est_params[k], ref_params[k]) for k in ref_params}
    bad = {k: e for k, e in errs.items() if not e <= rtol}
    assert not bad, f"relative errors above {rtol:g}: {bad}"


def make_data(T, n_out, seed):
    """N(0, 1) inputs and targets; sample weights U(0, 2) with about 20% exact zeros."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(T, M))
    y = rng.normal(size=T) if n_out == 1 else rng.normal(size=(T, n_out))
    w = rng.uniform(0.0, 2.0, size=T)
    w[rng.choice(T, size=max(1, T // 5), replace=False)] = 0.0
    return X, y, w


def initial_params(cell, n, n_out, seed):
    """What RTRLRegressor(random_state=seed) starts from: the first draw of its RandomState."""
    return make_cell(cell).init_params(n, M, n_out, random_state=np.random.RandomState(seed))


def estimator(cell, n, seed, **kw):
    return rtrl.RTRLRegressor(hidden_size=n, cell=cell, random_state=seed, **kw)


def hyper(optimizer, update_every, **extra):
    """Estimator/oracle keyword arguments: SGD with momentum, or Adam."""
    if optimizer == "sgd":
        kw = {"optimizer": "sgd", "learning_rate": 0.05, "momentum": 0.6}
    else:
        kw = {"optimizer": "adam", "learning_rate": 0.01, "momentum": 0.0}
    return {**kw, "update_every": update_every, **extra}


# --------------------------------------------------------------------------------------
# The oracle's starting point and its fixed-parameter limit
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", sorted(SIZES))
def test_initial_params_are_the_estimators(cell):
    """A step of 1e-300 leaves every weight bit for bit where the estimator drew it."""
    n, n_out, seed = SIZES[cell], 2, 11
    X, y, w = make_data(6, n_out, seed)
    est = estimator(cell, n, seed, optimizer="sgd", learning_rate=1e-300, momentum=0.0)
    est.partial_fit(X, y, sample_weight=w)
    p0 = initial_params(cell, n, n_out, seed)
    assert set(est.params_) == set(p0)
    for k in p0:
        np.testing.assert_array_equal(est.params_[k], p0[k], err_msg=k)


@pytest.mark.parametrize("cell", sorted(SIZES))
def test_oracle_reduces_to_fixed_parameter_rtrl(cell):
    """One update at the end (update_every=None, plain SGD): w1 = w0 - lr * grad / T with
    grad the fixed-parameter RTRL gradient -- from the dense reference and the package."""
    n, n_out, seed, T, lr = SIZES[cell], 2, 5, 25, 1e-3
    X, y, w = make_data(T, n_out, seed)
    p0 = initial_params(cell, n, n_out, seed)
    p1, loss = reference_online_rtrl(
        cell, p0, X, y, optimizer="sgd", learning_rate=lr, update_every=None, sample_weight=w
    )
    implied = {k: (p0[k] - p1[k]) * T / lr for k in p0}
    grads, ref_loss = reference_rtrl(cell, p0, X, y, sample_weight=w)
    pkg = rtrl.sequence_gradient(p0, X, y, cell=cell, learner="rtrl", sample_weight=w)
    assert loss == pytest.approx(ref_loss, rel=1e-12)
    assert_params_close(implied, grads, rtol=1e-9)
    assert_params_close(implied, pkg, rtol=1e-9)


@pytest.mark.parametrize("cell", sorted(SIZES))
def test_oracle_small_steps_approach_the_gradient(cell):
    """Fully online with a tiny learning rate: the weights barely move, so the sum of the
    updates is lr times the fixed-parameter gradient up to O(lr)."""
    n, n_out, seed, T, lr = SIZES[cell], 1, 6, 20, 1e-7
    X, y, w = make_data(T, n_out, seed)
    p0 = initial_params(cell, n, n_out, seed)
    p1, _ = reference_online_rtrl(
        cell, p0, X, y, optimizer="sgd", learning_rate=lr, update_every=1, sample_weight=w
    )
    implied = {k: (p0[k] - p1[k]) / lr for k in p0}
    grads, _ = reference_rtrl(cell, p0, X, y, sample_weight=w)
    assert_params_close(implied, grads, rtol=1e-5)


# --------------------------------------------------------------------------------------
# The package against the oracle
# --------------------------------------------------------------------------------------

GRID = [
    (cell, opt, ue) for cell in sorted(SIZES) for opt in ("sgd", "adam") for ue in (1, 3, None)
]


@pytest.mark.parametrize(("cell", "optimizer", "update_every"), GRID)
def test_partial_fit_matches_oracle(cell, optimizer, update_every):
    n = SIZES[cell]
    n_out = 1 if update_every == 3 else 2
    T = {1: 37, 3: 29, None: 23}[update_every]
    seed = 100 + 7 * sorted(SIZES).index(cell) + (optimizer == "adam")
    X, y, w = make_data(T, n_out, seed)
    kw = hyper(optimizer, update_every)
    est = estimator(cell, n, seed, **kw).partial_fit(X, y, sample_weight=w)
    ref = OnlineRTRLReference(cell, initial_params(cell, n, n_out, seed), **kw)
    loss = ref.partial_fit(X, y, w)
    expected_updates = 1 if update_every is None else T // update_every
    assert ref.n_updates == expected_updates
    assert_params_close(est.params_, ref.params())
    # prequential loss: measured with the weights current at each step
    assert est.loss_curve_[-1] * T == pytest.approx(loss, rel=1e-10)
    # the weights did move: a fixed-parameter run would be far from the oracle
    p0 = initial_params(cell, n, n_out, seed)
    assert max_rel_err(p0, ref.params()) > 1e-4


SPECIAL = [
    # (cell, optimizer, update_every, extra)
    ("elman", "sgd", 1, {"alpha": 0.05}),
    ("gru", "adam", 3, {"alpha": 0.2}),
    ("lstm", "sgd", None, {"alpha": 0.5}),
    ("elman", "adam", 1, {"clip_norm": 0.05}),
    ("gru", "sgd", 3, {"clip_norm": 0.1}),
    ("lstm", "adam", None, {"clip_norm": 0.02}),
    ("lstm", "sgd", 2, {"clip_norm": 0.2, "alpha": 0.3}),
    ("gru", "adam", 1, {"clip_norm": 0.1, "alpha": 0.3}),
]


@pytest.mark.parametrize(("cell", "optimizer", "update_every", "extra"), SPECIAL)
def test_partial_fit_matches_oracle_alpha_and_clipping(cell, optimizer, update_every, extra):
    n, n_out, T, seed = SIZES[cell], 2, 31, 300 + len(str(extra)) + SIZES[cell]
    X, y, w = make_data(T, n_out, seed)
    kw = hyper(optimizer, update_every, **extra)
    est = estimator(cell, n, seed, **kw).partial_fit(X, y, sample_weight=w)
    ref = OnlineRTRLReference(cell, initial_params(cell, n, n_out, seed), **kw)
    ref.partial_fit(X, y, w)
    if "clip_norm" in extra:
        assert 0 < ref.n_clipped >= ref.n_updates / 2  # clipping active at most updates
    assert_params_close(est.params_, ref.params())
    if "alpha" in extra:  # the penalty matters at this tolerance
        kw0 = {**kw, "alpha": 0.0}
        ref0 = OnlineRTRLReference(cell, initial_params(cell, n, n_out, seed), **kw0)
        ref0.partial_fit(X, y, w)
        assert max_rel_err(ref0.params(), ref.params()) > 1e-6


# --------------------------------------------------------------------------------------
# Streaming: two partial_fit calls carry state, J, the pending window and the optimizer
# --------------------------------------------------------------------------------------

SPLITS = [
    ("elman", "sgd", 1, 17),
    ("gru", "adam", 3, 13),  # splits an update window (13 = 4*3 + 1)
    ("lstm", "sgd", 3, 20),
    ("lstm", "adam", 4, 7),
    ("elman", "adam", 3, 1),
]


@pytest.mark.parametrize(("cell", "optimizer", "update_every", "split"), SPLITS)
def test_two_calls_equal_the_whole_stream(cell, optimizer, update_every, split):
    n, n_out, T, seed = SIZES[cell], 2, 34, 500 + split
    X, y, w = make_data(T, n_out, seed)
    kw = hyper(optimizer, update_every, clip_norm=0.5 if optimizer == "sgd" else None)
    est = estimator(cell, n, seed, **kw)
    est.partial_fit(X[:split], y[:split], sample_weight=w[:split])
    est.partial_fit(X[split:], y[split:], sample_weight=w[split:])
    whole, _ = reference_online_rtrl(
        cell, initial_params(cell, n, n_out, seed), X, y, sample_weight=w, **kw
    )
    assert_params_close(est.params_, whole)


@pytest.mark.parametrize(("cell", "optimizer"), [("elman", "adam"), ("lstm", "sgd")])
def test_two_calls_update_every_none(cell, optimizer):
    """update_every=None: each call ends with an update; state and J still carry over."""
    n, n_out, T, split, seed = SIZES[cell], 1, 30, 12, 77
    X, y, w = make_data(T, n_out, seed)
    kw = hyper(optimizer, None)
    est = estimator(cell, n, seed, **kw)
    est.partial_fit(X[:split], y[:split], sample_weight=w[:split])
    est.partial_fit(X[split:], y[split:], sample_weight=w[split:])
    ref = OnlineRTRLReference(cell, initial_params(cell, n, n_out, seed), **kw)
    ref.partial_fit(X[:split], y[:split], w[:split])
    ref.partial_fit(X[split:], y[split:], w[split:])
    assert ref.n_updates == 2
    assert_params_close(est.params_, ref.params())
    # and it is not the single-update whole-sequence run
    whole, _ = reference_online_rtrl(
        cell, initial_params(cell, n, n_out, seed), X, y, sample_weight=w, **kw
    )
    assert max_rel_err(est.params_, whole) > 1e-6


# --------------------------------------------------------------------------------------
# Sensitivity: wrong semantics are rejected at this tolerance
# --------------------------------------------------------------------------------------


class _SumNotMean(OnlineRTRLReference):
    def _apply_update(self):
        self.count = 1
        super()._apply_update()


class _ResetInfluence(OnlineRTRLReference):
    def _apply_update(self):
        super()._apply_update()
        self.J[:] = 0.0


class _DecayBiasesToo(OnlineRTRLReference):
    def __init__(self, *args, **kw):
        super().__init__(*args, **kw)
        self.decay[:] = 1.0


class _AdamHatEpsilon(OnlineRTRLReference):
    """Adam with epsilon added to sqrt(v_hat) instead of sqrt(v)."""

    def _apply_update(self):
        g = self.acc / self.count + self.alpha * self.decay * self.w
        b1, b2 = self.beta_1, self.beta_2
        self.adam_t += 1
        t = self.adam_t
        self.adam_m = b1 * self.adam_m + (1 - b1) * g
        self.adam_v = b2 * self.adam_v + (1 - b2) * g * g
        m_hat = self.adam_m / (1 - b1**t)
        v_hat = self.adam_v / (1 - b2**t)
        self.w = self.w - self.lr * m_hat / (np.sqrt(v_hat) + self.epsilon)
        self.acc = np.zeros_like(self.w)
        self.count = 0
        self.n_updates += 1


class _ClipBeforeAlpha(OnlineRTRLReference):
    """Clips the mean gradient first, then adds the L2 term."""

    def _apply_update(self):
        g = self.acc / self.count
        norm = np.sqrt(np.dot(g, g))
        if norm > self.clip_norm:
            g = g * (self.clip_norm / norm)
        g = g + self.alpha * self.decay * self.w
        self.vel = self.momentum * self.vel - self.lr * g
        self.w = self.w + self.vel
        self.acc = np.zeros_like(self.w)
        self.count = 0
        self.n_updates += 1


MUTANTS = [
    ("sum-not-mean", _SumNotMean, "gru", "sgd", 3, {}),
    ("reset-influence", _ResetInfluence, "lstm", "sgd", 3, {}),
    ("decay-biases", _DecayBiasesToo, "elman", "sgd", 1, {"alpha": 0.2}),
    ("adam-hat-epsilon", _AdamHatEpsilon, "elman", "adam", 3, {}),
    ("clip-before-alpha", _ClipBeforeAlpha, "gru", "sgd", 2, {"clip_norm": 0.1, "alpha": 0.5}),
]


@pytest.mark.parametrize(
    ("mutant", "cell", "optimizer", "update_every", "extra"),
    [m[1:] for m in MUTANTS],
    ids=[m[0] for m in MUTANTS],
)
def test_wrong_semantics_are_detected(mutant, cell, optimizer, update_every, extra):
    n, n_out, T, seed = SIZES[cell], 2, 30, 900
    X, y, w = make_data(T, n_out, seed)
    kw = hyper(optimizer, update_every, **extra)
    est = estimator(cell, n, seed, **kw).partial_fit(X, y, sample_weight=w)
    right = OnlineRTRLReference(cell, initial_params(cell, n, n_out, seed), **kw)
    right.partial_fit(X, y, w)
    wrong = mutant(cell, initial_params(cell, n, n_out, seed), **kw)
    wrong.partial_fit(X, y, w)
    assert_params_close(est.params_, right.params())
    assert max_rel_err(est.params_, wrong.params()) > 1e3 * RTOL
