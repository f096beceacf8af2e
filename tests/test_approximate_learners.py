"""The approximate learners (SnAp-k, UORO, KF-RTRL, OK, TBPTT) against exact RTRL / BPTT.

Every comparison is for fixed parameters, through :func:`rtrl.sequence_gradient` or the
low-level ``learner.train`` API that it wraps.

* SnAp-k: exact where the theory says it is (SnAp-2 on a dense network, SnAp-1 on a diagonal
  Elman network, SnAp-k with k > the diameter of a sparse recurrent graph), inexact when k is
  too small; and its kept pattern M_k is compared with an oracle written here from the
  SnAp docstring, ALGORITHMS.md and the cell equations -- not with the package's
  ``immediate_pattern`` / ``state_jacobian_pattern``. The oracle itself is checked against
  the dynamics: the exact RTRL influence after t steps (from the zero state) never leaves
  the oracle's M_t.
* UORO, KF, OK(2): unbiased, by a z-test on the mean over many seeds (with negative controls
  showing the test detects a bias); OK(1) is no noisier than KF, and OK's variance falls as
  its rank grows.
* TBPTT with a window covering the sequence is BPTT; random learners are reproducible; the
  state sizes are the documented ones.
"""

import functools

import numpy as np
import pytest
from conftest import CELL_CASES, WindowedUORO, make_problem, rel_err

import rtrl
from rtrl import _core
from rtrl.cells import GRU, LSTM, Elman, Jordan
from rtrl.learners import BPTT, KF, OK, RTRL, TBPTT, UORO, SnAp, new_update_state

CELLS = {"elman": Elman, "gru": GRU, "lstm": LSTM, "jordan": Jordan}
N_GATES = {"elman": 1, "gru": 3, "lstm": 4}  # blocks of n rows in weight_hh


# --------------------------------------------------------------------------------------------
# The independent oracle: sizes, M_1, the structure of D, M_k
# --------------------------------------------------------------------------------------------


def oracle_sizes(kind, n, m, n_out):
    """State size S and the recurrent weight groups (rows r_g, width K_g), from cells.py's
    table of groups (torch layout)."""
    S = 2 * n if kind == "lstm" else n
    groups = {
        "elman": [(n, m + 1 + n + 1)],  # weight_ih | bias_ih | weight_hh | bias_hh
        "lstm": [(4 * n, m + 1 + n + 1)],
        "gru": [(3 * n, m + 1), (3 * n, n + 1)],  # [x; 1] and [h; 1]
        "jordan": [(n, m + 1 + n_out), (n_out, n + 1)],  # readout is recurrent
    }[kind]
    return S, groups


def oracle_immediate_pattern(kind, n, n_out):
    """M_1 per recurrent group (S x r_g): state entries kept for the parameters of row j."""
    S, groups = oracle_sizes(kind, n, 1, n_out)
    out = []
    for g, (rows, _) in enumerate(groups):
        M = np.zeros((S, rows), dtype=bool)
        for j in range(rows):
            if kind == "jordan" and g == 1:
                M[:, j] = True  # readout row j feeds every unit through weight_yh[:, j]
            elif kind == "lstm":
                unit = j % n  # gate blocks i, f, g, o: the unit's pair (h_j, c_j)
                M[unit, j] = M[n + unit, j] = True
            else:
                M[j % n, j] = True  # Elman: row j is unit j; GRU: blocks r, z, n
        out.append(M)
    return out


def oracle_state_jacobian_pattern(kind, n, mask=None):
    """Structure of D_t = ds_t/ds_{t-1} (entry (i, l): s_i depends on the previous s_l), from
    the cell equations, honouring the recurrent mask, with the diagonal of D included (so that
    M_k counts the entries reached *within* k - 1 steps)."""
    if kind == "jordan":  # D = diag(phi') W_yh V: a dense product, no mask
        return np.ones((n, n), dtype=bool)
    if mask is None:
        mask = np.ones((N_GATES[kind] * n, n), dtype=bool)
    mask = np.asarray(mask, dtype=bool)
    eye = np.eye(n, dtype=bool)

    def reads(*gates):  # unit j reads h_l through the recurrent weights of one of these gates
        out = np.zeros((n, n), dtype=bool)
        for gate in gates:
            out |= mask[gate * n : (gate + 1) * n]
        return out

    if kind == "elman":  # (1 - a) I + a diag(phi') W_hh
        return reads(0) | eye
    if kind == "gru":  # r, u and n all read h; h_t = (1 - u) n + u h_{t-1} gives the diagonal
        return reads(0, 1, 2) | eye
    # LSTM, s = [h; c], gates (i, f, g, o) from h_{t-1}:
    #   c_t = f c_{t-1} + i g        -> c_j reads h_l through i, f, g only; c_j reads c_j
    #   h_t = o tanh(c_t)            -> h_j reads h_l through o and (via c_t) i, f, g;
    #                                   h_j reads c_j (o tanh'(c_j) f_j)
    D = np.zeros((2 * n, 2 * n), dtype=bool)
    D[:n, :n] = reads(0, 1, 2, 3) | eye
    D[:n, n:] = eye
    D[n:, :n] = reads(0, 1, 2)
    D[n:, n:] = eye
    return D


def oracle_pattern(kind, n, n_out, mask, k):
    """M_k: M_1 grown by k - 1 steps through the structure of D."""
    D = oracle_state_jacobian_pattern(kind, n, mask).astype(np.int64)
    out = []
    for M in oracle_immediate_pattern(kind, n, n_out):
        for _ in range(k - 1):
            M = M | ((D @ M.astype(np.int64)) > 0)
        out.append(M)
    return out


def expand_columns(patterns, groups):
    """Per-row patterns (S x r_g) to the S x P pattern of the influence matrix: parameter
    (j, c) of group g is column offset_g + j K_g + c (row-major blocks, groups in order)."""
    return np.hstack([np.repeat(M, K, axis=1) for M, (_, K) in zip(patterns, groups, strict=True)])


def graph_diameter(D):
    """Longest shortest path (in edges, l -> i when D[i, l]) between connected states, by BFS."""
    S = D.shape[0]
    best = 0
    for source in range(S):
        dist = np.full(S, -1)
        dist[source] = 0
        frontier = [source]
        while frontier:
            nxt = []
            for u in frontier:
                for v in np.flatnonzero(D[:, u]):
                    if dist[v] < 0:
                        dist[v] = dist[u] + 1
                        nxt.append(v)
            frontier = nxt
        best = max(best, int(dist.max()))
    return best


def random_mask(kind, n, seed, density=0.2):
    rng = np.random.default_rng(seed)
    return rng.random((N_GATES[kind] * n, n)) < density


def masked_problem(kind, n, m, n_out, T, seed, mask):
    cell = CELLS[kind]()
    params, X, y, w = make_problem(cell, n, m, n_out, T, seed)
    params["weight_hh"] = np.where(mask, params["weight_hh"], 0.0)
    return cell, params, X, y, w


def run_low_level(learner, layout, params, X, y, random_state=None):
    """One sequence through ``learner.train`` (no optimizer, squared error, weights one)."""
    T = X.shape[0]
    w = layout.pack(params, np.float64)
    X = np.ascontiguousarray(X, dtype=np.float64)
    Y = np.ascontiguousarray(np.asarray(y, dtype=np.float64).reshape(T, -1))
    learner_state = learner.init_state(layout, np.float64, random_state=random_state)
    update = new_update_state(layout.n_params, np.float64)
    intp = lambda v: np.array(v, dtype=np.intp)  # noqa: E731
    states = np.zeros((1, layout.state_size))
    learner.train(
        layout, w, X, Y, np.empty(0, np.intp), np.ones(T), intp([0]), intp([T]), intp([1]),
        states, learner_state, update, -1, 0, 1,
    )  # fmt: skip
    return learner_state, update


def assert_same_gradient(g, ref, tol=1e-10):
    for name in ref:
        assert np.any(ref[name] != 0), name  # a zero gradient would compare trivially
        assert rel_err(g[name], ref[name]) <= tol, (name, rel_err(g[name], ref[name]))


def max_rel_diff(g, ref):
    return max(rel_err(g[name], ref[name]) for name in ref)


# --------------------------------------------------------------------------------------------
# 1. SnAp-k is exact where it should be
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", ["snap2", lambda: SnAp(2)], ids=["name", "object"])
def test_snap2_is_rtrl_on_a_dense_network(cell_case, make):
    _, cell = cell_case
    params, X, y, w = make_problem(cell, 5, 3, 2, T=30, seed=11)
    learner = make if isinstance(make, str) else make()
    g_rtrl = rtrl.sequence_gradient(params, X, y, cell=cell, learner="rtrl", sample_weight=w)
    g_snap = rtrl.sequence_gradient(params, X, y, cell=cell, learner=learner, sample_weight=w)
    assert_same_gradient(g_snap, g_rtrl)
    # and the comparison has teeth: SnAp-1 is not exact on the same dense network
    g_snap1 = rtrl.sequence_gradient(params, X, y, cell=cell, learner="snap1", sample_weight=w)
    assert max_rel_diff(g_snap1, g_rtrl) > 1e-3


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_snap_runs_as_exact_rtrl_where_it_keeps_every_pair():
    dense = Elman().layout(6, 3, 2)
    assert SnAp(1).as_rtrl(dense) is None
    assert SnAp(2).as_rtrl(dense) == RTRL()
    assert SnAp(3).scheduled(8).as_rtrl(dense) == RTRL(window=8)  # RTRL's block form
    assert SnAp(2).scheduled(1).as_rtrl(dense) == RTRL(window=0)
    sparse = dense.with_mask(np.eye(6, dtype=bool))  # diagonal: nothing spreads
    assert SnAp(4).as_rtrl(sparse) is None
    # the same numbers as exact RTRL, bit for bit, trained online, in windows and per step
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(120, 3)), rng.normal(size=120)
    for cell in ("elman", "gru", "lstm"):
        for update_every in (1, 5):
            kw = dict(
                hidden_size=6, cell=cell, update_every=update_every, max_iter=3, random_state=0
            )
            a = rtrl.RTRLRegressor(learner="snap2", **kw).fit(X, y)
            b = rtrl.RTRLRegressor(learner="rtrl", **kw).fit(X, y)
            for name, value in b.params_.items():
                assert np.array_equal(a.params_[name], value), (cell, update_every, name)


@pytest.mark.parametrize("case", ["elman-tanh", "elman-relu", "elman-leak"])
def test_snap1_is_rtrl_for_a_diagonal_elman_network(case):
    cell = CELL_CASES[case]()
    n = 6
    params, X, y, w = make_problem(cell, n, 3, 2, T=40, seed=5)
    params["weight_hh"] = np.diag(np.diag(params["weight_hh"]))
    mask = np.eye(n, dtype=bool)
    kw = dict(cell=cell, sample_weight=w, weight_hh_mask=mask)
    g_rtrl = rtrl.sequence_gradient(params, X, y, learner="rtrl", **kw)
    g_bptt = rtrl.sequence_gradient(params, X, y, learner="bptt", **kw)
    assert_same_gradient(g_rtrl, g_bptt)
    for learner in ("snap1", SnAp(level=1)):
        assert_same_gradient(rtrl.sequence_gradient(params, X, y, learner=learner, **kw), g_rtrl)


def _sparse_case(kind, n=10):
    """A density-0.2 mask whose recurrent graph (per the oracle) has diameter >= 3."""
    for seed in range(100):
        mask = random_mask(kind, n, seed)
        diameter = graph_diameter(oracle_state_jacobian_pattern(kind, n, mask))
        if diameter >= 3:
            return mask, diameter
    raise AssertionError("no mask with diameter >= 3")  # pragma: no cover


@pytest.mark.parametrize("kind", ["elman", "gru", "lstm"])
def test_snap_k_beyond_the_diameter_is_rtrl_on_a_sparse_network(kind):
    n, m, n_out, T = 10, 3, 2, 30
    mask, diameter = _sparse_case(kind, n)
    assert 0.1 < mask.mean() < 0.3
    k = diameter + 1  # M_k covers every state within `diameter` steps: all that is reachable
    oracle = oracle_pattern(kind, n, n_out, mask, k)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(oracle, oracle_pattern(kind, n, n_out, mask, k + 5), strict=True)
    )  # saturated: one more step would add nothing
    cell, params, X, y, w = masked_problem(kind, n, m, n_out, T, seed=21, mask=mask)
    kw = dict(cell=cell, sample_weight=w, weight_hh_mask=mask)
    g_rtrl = rtrl.sequence_gradient(params, X, y, learner="rtrl", **kw)
    g_bptt = rtrl.sequence_gradient(params, X, y, learner="bptt", **kw)
    assert_same_gradient(g_rtrl, g_bptt)
    assert_same_gradient(rtrl.sequence_gradient(params, X, y, learner=SnAp(level=k), **kw), g_rtrl)
    # its stored influence is RTRL's too
    layout = cell.layout(n, m, n_out).with_mask(mask)
    snap_state, _ = run_low_level(SnAp(level=k), layout, params, X, y)
    rtrl_state, _ = run_low_level(RTRL(), layout, params, X, y)
    J_rtrl = RTRL().influence(rtrl_state, layout)
    J_snap = SnAp(level=k).influence(snap_state, layout)
    # RTRL stores no influence for masked weights (their columns stay zero); SnAp keeps whole
    # rows of parameters, masked or not (the gradients of masked weights are zeroed later)
    kept = {name: np.ones(shape) for name, shape in layout.shapes().items()}
    kept["weight_hh"] = mask.astype(float)
    kept = layout.pack(kept, np.float64)[: layout.n_recurrent_params] > 0
    assert np.all(J_rtrl[:, ~kept] == 0)
    assert rel_err(J_snap[:, kept], J_rtrl[:, kept]) <= 1e-10
    # smaller k differ: SnAp-1, SnAp-2 (< diameter), and for Elman and GRU, whose M_1 columns
    # start from one unit, SnAp-diameter, which misses the states at distance `diameter` from
    # some unit (so "k at least the diameter" must count the diameter plus one). An LSTM
    # column starts from the pair (h_j, c_j), whose farthest state may be nearer.
    for small in sorted({1, 2} | ({diameter} if kind != "lstm" else set())):
        g_small = rtrl.sequence_gradient(params, X, y, learner=SnAp(level=small), **kw)
        assert max_rel_diff(g_small, g_rtrl) > 1e-6, small


# --------------------------------------------------------------------------------------------
# 2. The kept pattern is the documented one
# --------------------------------------------------------------------------------------------

PATTERN_CASES = [
    ("elman", False),
    ("elman", True),
    ("gru", False),
    ("gru", True),
    ("lstm", False),
    ("lstm", True),
    ("jordan", False),
]
PATTERN_IDS = [f"{kind}-{'sparse' if sparse else 'dense'}" for kind, sparse in PATTERN_CASES]
N_PAT, M_PAT, OUT_PAT = 8, 3, 2


def _pattern_setup(kind, sparse):
    mask = random_mask(kind, N_PAT, seed=3) if sparse else None
    cell = CELLS[kind]()
    layout = cell.layout(N_PAT, M_PAT, OUT_PAT).with_mask(mask)
    return cell, layout, mask


def _describe(got, expected):
    extra = np.argwhere(got & ~expected)
    missing = np.argwhere(expected & ~got)
    return (
        f"{len(extra)} (state, row) entries kept but not in the documented pattern "
        f"(first: {extra[:6].tolist()}), {len(missing)} missing (first: {missing[:6].tolist()})"
    )


@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize(("kind", "sparse"), PATTERN_CASES, ids=PATTERN_IDS)
def test_snap_pattern_is_the_documented_one(kind, sparse, k):
    _, layout, mask = _pattern_setup(kind, sparse)
    expected = oracle_pattern(kind, N_PAT, OUT_PAT, mask, k)
    got = SnAp(k).pattern(layout)
    assert len(got) == len(expected)
    for g, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert a.dtype == bool and a.shape == b.shape, (g, a.shape, b.shape)
        assert np.array_equal(a, b), f"group {g}: " + _describe(a, b)
    if not sparse and k >= 2:  # documented: on a dense network M_2 is full
        assert all(b.all() for b in expected)


@pytest.mark.parametrize(("kind", "sparse"), PATTERN_CASES, ids=PATTERN_IDS)
def test_oracle_pattern_bounds_the_exact_influence(kind, sparse):
    """Validates the oracle against the dynamics, not against the package's pattern code: from
    the zero state J_t = D_t J_{t-1} + I_t, so the exact influence after t steps is zero
    outside M_t. Where the oracle is not padded by convention (every cell but the LSTM, whose
    documented M_1 keeps c_j for the o gate although I_t is zero there) it is also tight:
    every kept (state, row) has a non-zero influence."""
    cell, layout, mask = _pattern_setup(kind, sparse)
    S, groups = oracle_sizes(kind, N_PAT, M_PAT, OUT_PAT)
    assert (S, layout.n_recurrent_params) == (layout.state_size, sum(r * K for r, K in groups))
    params, X, y, _ = make_problem(cell, N_PAT, M_PAT, OUT_PAT, T=4, seed=8)
    if mask is not None:
        params["weight_hh"] = np.where(mask, params["weight_hh"], 0.0)
    for t in range(1, 5):
        state, _ = run_low_level(RTRL(), layout, params, X[:t], y[:t])
        J = RTRL().influence(state, layout)
        M_t = oracle_pattern(kind, N_PAT, OUT_PAT, mask, t)
        assert np.all(J[~expand_columns(M_t, groups)] == 0), t
        if kind != "lstm":
            offsets = np.cumsum([0] + [r * K for r, K in groups])
            for g, (r, K) in enumerate(groups):
                block = J[:, offsets[g] : offsets[g + 1]].reshape(S, r, K)
                assert np.array_equal(np.any(block != 0, axis=2), M_t[g]), (t, g)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize(("kind", "sparse"), PATTERN_CASES, ids=PATTERN_IDS)
def test_snap_stored_influence_stays_on_the_documented_pattern(kind, sparse, k):
    cell, layout, mask = _pattern_setup(kind, sparse)
    _, groups = oracle_sizes(kind, N_PAT, M_PAT, OUT_PAT)
    params, X, y, _ = make_problem(cell, N_PAT, M_PAT, OUT_PAT, T=25, seed=9)
    if mask is not None:
        params["weight_hh"] = np.where(mask, params["weight_hh"], 0.0)
    learner = SnAp(k)
    state, _ = run_low_level(learner, layout, params, X, y)
    J = learner.influence(state, layout)
    assert J.shape == (layout.state_size, layout.n_recurrent_params)
    assert np.count_nonzero(J) > 0
    # consistent with what the learner says it keeps
    assert np.all(J[~expand_columns(learner.pattern(layout), groups)] == 0)
    # and with the documented pattern
    outside = ~expand_columns(oracle_pattern(kind, N_PAT, OUT_PAT, mask, k), groups)
    assert np.count_nonzero(J[outside]) == 0, (
        f"{np.count_nonzero(J[outside])} stored influence entries outside the documented "
        f"M_{k}, largest {np.abs(J[outside]).max():.3g}"
    )


# The oracle's groups, by parameter: each row j of a recurrent parameter is row j of its
# weight group (torch layout, as in oracle_sizes)
ORACLE_GROUP_OF = {
    "elman": {"weight_ih": 0, "bias_ih": 0, "weight_hh": 0, "bias_hh": 0},
    "lstm": {"weight_ih": 0, "bias_ih": 0, "weight_hh": 0, "bias_hh": 0},
    "gru": {"weight_ih": 0, "bias_ih": 0, "weight_hh": 1, "bias_hh": 1},
    "jordan": {"weight_ih": 0, "bias_ih": 0, "weight_yh": 0, "readout_weight": 1,
               "readout_bias": 1},
}  # fmt: skip


def reference_influence_mask(kind, params, patterns):
    """M_k of the oracle as an S x n_theta mask in the reference's column order (parameters
    in ``_recurrent_names`` order, each flattened row-major)."""
    from _reference import _recurrent_names

    blocks = []
    for name in _recurrent_names(kind):
        M = patterns[ORACLE_GROUP_OF[kind][name]]
        cols = params[name].shape[1] if params[name].ndim == 2 else 1
        blocks.append(np.repeat(M, cols, axis=1))
    return np.hstack(blocks)


SNAP_VALUE_CASES = [
    *[(kind, True, k) for kind in ("elman", "gru", "lstm") for k in (1, 2, 3)],
    ("lstm", False, 1),
    ("gru", False, 1),
    ("jordan", False, 1),
]


@pytest.mark.parametrize(
    ("kind", "sparse", "k"),
    SNAP_VALUE_CASES,
    ids=[f"{kd}-{'sparse' if sp else 'dense'}-k{k}" for kd, sp, k in SNAP_VALUE_CASES],
)
def test_snap_gradient_is_the_masked_recurrence_of_the_oracle(kind, sparse, k):
    """SnAp-k's gradient equals the independent dense reference run with
    J_t = (D_t J_{t-1} + I_t) * M_k, M_k from the oracle above (not from the package), on
    patterns that keep some but not all pairs."""
    from _reference import reference_rtrl

    n, m, n_out, T = 10, 3, 2, 25
    mask = _sparse_case(kind, n)[0] if sparse else None  # diameter >= 3
    if sparse:
        cell, params, X, y, w = masked_problem(kind, n, m, n_out, T, seed=13, mask=mask)
    else:
        cell = CELLS[kind]()
        params, X, y, w = make_problem(cell, n, m, n_out, T, seed=13)
    patterns = oracle_pattern(kind, n, n_out, mask, k)
    assert not all(M.all() for M in patterns)  # a partial pattern: not exact RTRL
    M = reference_influence_mask(kind, params, patterns)
    expected, _ = reference_rtrl(kind, params, X, y, sample_weight=w, influence_mask=M)
    got = rtrl.sequence_gradient(
        params, X, y, cell=cell, learner=SnAp(k), sample_weight=w, weight_hh_mask=mask
    )
    exact, _ = reference_rtrl(kind, params, X, y, sample_weight=w)
    for name in expected:
        keep = np.ones(params[name].shape, dtype=bool)
        if name == "weight_hh" and mask is not None:
            keep = np.asarray(mask, dtype=bool)  # masked weights get no gradient
            assert np.all(got[name][~keep] == 0)
        assert rel_err(got[name][keep], expected[name][keep]) <= 1e-10, name
    # the mask matters: the unmasked recurrence (exact RTRL) gives another gradient
    assert max(rel_err(expected[x], exact[x]) for x in expected) > 1e-4


# --------------------------------------------------------------------------------------------
# 3. UORO, KF and OK are unbiased; OK's variance
# --------------------------------------------------------------------------------------------

N_SEEDS = 400
Z_MAX = 4.5
# Under the null (unbiased learner), each z is approximately standard normal (a t-statistic
# with 399 degrees of freedom, CLT): P(|z| > 4.5) ~= 6.8e-6. With 7 directions x 16
# (cell, learner) cases = 112 statistics the family-wise false-alarm rate is <= 7.6e-4
# (Bonferroni). The seeds 0..N_SEEDS-1 are fixed, so the outcome is reproducible.
UNBIASED_CELLS = ["elman-tanh", "gru", "lstm", "jordan-tanh"]
UNBIASED_LEARNERS = {"uoro": UORO, "uoro-windowed": WindowedUORO, "kf": KF, "ok2": lambda: OK(2)}
VARIANCE_LEARNERS = {"kf": KF, "ok1": lambda: OK(1), "ok2": lambda: OK(2), "ok3": lambda: OK(3)}


@functools.cache
def _problem(case):
    cell = CELL_CASES[case]()
    params, X, y, w = make_problem(cell, 4, 2, 2, T=10, seed=7)
    return cell, params, X, y, w


def _flat(grads, params):
    return np.concatenate([np.ravel(grads[k]) for k in sorted(params)])


def _gradient(case, learner, random_state=None):
    cell, params, X, y, w = _problem(case)
    g = rtrl.sequence_gradient(
        params, X, y, cell=cell, learner=learner, sample_weight=w, random_state=random_state
    )
    return _flat(g, params)


@functools.cache
def _exact(case):
    return _gradient(case, "rtrl")


@functools.cache
def _samples(case, learner_key):
    make = {**UNBIASED_LEARNERS, **VARIANCE_LEARNERS}[learner_key]
    return np.array([_gradient(case, make(), random_state=s) for s in range(N_SEEDS)])


@functools.cache
def _directions(case):
    """Six fixed random unit vectors and the exact gradient's direction."""
    g = _exact(case)
    V = np.random.default_rng(12345).normal(size=(6, g.size))
    return np.vstack([V, g[None, :]]) / np.linalg.norm(np.vstack([V, g[None, :]]), axis=1)[:, None]


def z_scores(samples, exact, directions):
    """(mean_s v.g_s - v.g) / (std_s(v.g_s) / sqrt(N)) for every direction v."""
    proj = samples @ directions.T
    se = proj.std(axis=0, ddof=1) / np.sqrt(len(samples))
    assert np.all(se > 0)
    return (proj.mean(axis=0) - directions @ exact) / se


@pytest.mark.parametrize("learner_key", sorted(UNBIASED_LEARNERS))
@pytest.mark.parametrize("case", UNBIASED_CELLS)
def test_random_learners_are_unbiased(case, learner_key):
    g = _exact(case)
    samples = _samples(case, learner_key)
    assert np.all(np.isfinite(samples))
    assert not np.allclose(samples[0], g, rtol=1e-6)  # really an estimate, not the gradient
    z = z_scores(samples, g, _directions(case))
    assert np.max(np.abs(z)) < Z_MAX, z


# Negative controls: the same z-test on a sample whose mean is biased but whose noise is the
# learner's real noise (estimate_s - exact). Observed max |z| (N = 400): TBPTT(1) + KF noise
# 12-19; 1.05 x exact + OK(2) noise >= 46; 1.25 x exact + UORO noise >= 7.7.
NEGATIVE_CONTROLS = {
    "tbptt1+kf-noise": ("kf", lambda case, g: _gradient(case, TBPTT(1))),
    "1.05x+ok2-noise": ("ok2", lambda case, g: 1.05 * g),
    "1.25x+uoro-noise": ("uoro", lambda case, g: 1.25 * g),
}


@pytest.mark.parametrize("control", sorted(NEGATIVE_CONTROLS))
@pytest.mark.parametrize("case", UNBIASED_CELLS)
def test_unbiasedness_test_detects_a_bias(case, control):
    learner_key, biased_mean = NEGATIVE_CONTROLS[control]
    g = _exact(case)
    b = biased_mean(case, g)
    assert rel_err(b, g) > 0.03  # a real bias
    noise = _samples(case, learner_key) - g
    z = z_scores(b + noise, g, _directions(case))
    assert np.max(np.abs(z)) > Z_MAX, z


def _mse(case, learner_key):
    """E||g_hat - g||^2 over the seeds, and its standard error."""
    err = np.sum((_samples(case, learner_key) - _exact(case)) ** 2, axis=1)
    return err.mean(), err.std(ddof=1) / np.sqrt(len(err))


@pytest.mark.parametrize("case", ["elman-tanh", "gru", "lstm"])
def test_ok_rank1_is_no_noisier_than_kf(case):
    # The relative standard error of each estimate is 2-5% at N = 400 (measured); a 15% margin
    # is > 3 combined standard errors. Observed ratios: 0.32-0.74.
    kf, _ = _mse(case, "kf")
    ok1, _ = _mse(case, "ok1")
    assert ok1 <= 1.15 * kf, (ok1, kf)


@pytest.mark.parametrize("case", ["elman-tanh", "gru", "lstm"])
def test_ok_variance_falls_with_the_rank(case):
    (v1, s1), (v2, s2), (v3, s3) = (_mse(case, k) for k in ("ok1", "ok2", "ok3"))
    # each drop must exceed 4 combined standard errors (observed: factors of 8 to 60)
    assert v1 - v2 > 4 * np.hypot(s1, s2), (v1, v2)
    assert v2 - v3 > 4 * np.hypot(s2, s3), (v2, v3)


# --------------------------------------------------------------------------------------------
# 4. TBPTT
# --------------------------------------------------------------------------------------------


def test_tbptt_with_a_long_window_is_bptt_and_a_short_one_is_not(cell_case):
    _, cell = cell_case
    T = 20
    params, X, y, w = make_problem(cell, 5, 3, 2, T=T, seed=13)
    kw = dict(cell=cell, sample_weight=w)
    g_bptt = rtrl.sequence_gradient(params, X, y, learner="bptt", **kw)
    for k in (T, T + 1, 3 * T):
        assert_same_gradient(rtrl.sequence_gradient(params, X, y, learner=TBPTT(k), **kw), g_bptt)
    for k in (1, 3):
        g_short = rtrl.sequence_gradient(params, X, y, learner=TBPTT(k), **kw)
        assert max_rel_diff(g_short, g_bptt) > 1e-3, k


# --------------------------------------------------------------------------------------------
# 5. Determinism
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [UORO, KF, lambda: OK(2), lambda: OK(3)], ids=["uoro", "kf", "ok2", "ok3"]
)
@pytest.mark.parametrize("case", ["elman-tanh", "gru", "lstm", "jordan-tanh"])
def test_random_learners_are_reproducible(case, make):
    a = _gradient(case, make(), random_state=17)
    b = _gradient(case, make(), random_state=17)
    c = _gradient(case, make(), random_state=np.random.RandomState(17))
    d = _gradient(case, make(), random_state=np.random.RandomState(17))
    assert np.array_equal(a, b)
    assert np.array_equal(c, d)
    for other in (18, 19):
        assert not np.array_equal(a, _gradient(case, make(), random_state=other)), other


# --------------------------------------------------------------------------------------------
# 6. State sizes
# --------------------------------------------------------------------------------------------


def _expected_bytes(learner, kind, n, m, n_out, mask, itemsize, T):
    S, groups = oracle_sizes(kind, n, m, n_out)
    P = sum(r * K for r, K in groups)
    per_rank = sum(K + S * r for r, K in groups)
    if isinstance(learner, UORO):
        size = (S + P) * itemsize + 5 * 8  # the generator's 4 words and ||theta~||^2
        if P >= learner.window_min_params:
            # windowed: per step of a window z_t, G_g^T nu (per group), nu and e_bar, and
            # the entries of D_t's factors the tangent reads
            jvp = {"elman": n, "gru": 4 * n, "lstm": 9 * n, "jordan": n * n_out}[kind]
            slot = sum(K for _, K in groups) + sum(r for r, _ in groups) + 2 * S + jvp
            # (two buffers of slots: the filling window's and the running chain's); the
            # chain's position and scalars (7 integers), per slot of either buffer ||b_t||^2
            # and has_error, the chain's q0, beta, c alpha and its W x W Gram products
            W = learner.window
            size += 2 * W * slot * itemsize + (7 + 4 * W + 3 * W + W * W) * 8
        return size
    if isinstance(learner, OK):  # before KF: the names differ, but be explicit
        return learner.rank * per_rank * itemsize + 32
    if isinstance(learner, KF):
        return per_rank * itemsize + 32
    if isinstance(learner, SnAp):
        # number of kept (state, parameter) pairs; on a sparse network the masked weights
        # of weight_hh are not parameters (their columns are not stored)
        hh_group = {"elman": 0, "lstm": 0, "gru": 1}.get(kind)
        kept = 0
        one_row_each = True
        patterns = oracle_pattern(kind, n, n_out, mask, learner.level)
        for g, (M, (r, K)) in enumerate(zip(patterns, groups, strict=True)):
            columns = np.full(r, K)
            if mask is not None and g == hh_group:
                columns = columns - (~np.asarray(mask, dtype=bool)).sum(axis=1)
            kept += int(M.sum(axis=0) @ columns)
            one_row_each &= bool(np.all(M.sum(axis=0) == 1))
        if all(M.all() for M in patterns):
            # every pair kept: SnAp runs as exact RTRL (per step, unscheduled) and holds its
            # state, S x (stored columns + one column block) and two integers
            stored = kept // S
            width = min(rtrl.learners.influence_block_width(S, stored, itemsize), stored)
            return S * (stored + width) * itemsize + 16
        if one_row_each and (mask is None or np.all(mask)):
            # windowed SnAp-1, per step of the window: d and e per state entry, g per
            # block (row of a weight group), the inputs z_t
            W = learner.window
            n_blocks = sum(r for r, _ in groups)
            kept += W * (2 * S + n_blocks + sum(K for _, K in groups))
        return kept * itemsize + 8
    if isinstance(learner, TBPTT):
        k = learner.truncation
        return ((k + 1) * S + k * (m + n_out + 2)) * itemsize + 8
    if isinstance(learner, BPTT):
        return (2 * T + 1) * S * itemsize
    raise AssertionError(learner)


def _check_state(learner, layout, dtype, expected, T):
    itemsize = np.dtype(dtype).itemsize
    assert learner.state_bytes(layout, itemsize, T) == expected, learner
    state = learner.init_state(layout, dtype)
    if isinstance(learner, BPTT):
        assert state == {}  # nothing carried between chunks; the formula is for one pass
        return
    assert state["values"].dtype == dtype and state["values"].shape[0] == 1, learner
    assert state["values"].nbytes + state["ints"].nbytes == expected, learner


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("kind", "sparse"), PATTERN_CASES, ids=PATTERN_IDS)
def test_state_sizes_are_the_documented_ones(kind, sparse, dtype):
    T = 17
    _, layout, mask = _pattern_setup(kind, sparse)
    itemsize = np.dtype(dtype).itemsize
    for learner in [UORO(), WindowedUORO(), KF(), OK(1), OK(2), OK(3), TBPTT(1), TBPTT(7), BPTT()]:
        expected = _expected_bytes(learner, kind, N_PAT, M_PAT, OUT_PAT, mask, itemsize, T)
        _check_state(learner, layout, dtype, expected, T)


@pytest.mark.parametrize("k", [1, 2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("kind", "sparse"), PATTERN_CASES, ids=PATTERN_IDS)
def test_snap_state_size_counts_the_documented_pattern(kind, sparse, dtype, k):
    """kept (state, parameter) pairs x itemsize + 8, the pairs counted on the oracle's M_k."""
    T = 17
    _, layout, mask = _pattern_setup(kind, sparse)
    itemsize = np.dtype(dtype).itemsize
    expected = _expected_bytes(SnAp(k), kind, N_PAT, M_PAT, OUT_PAT, mask, itemsize, T)
    _check_state(SnAp(k), layout, dtype, expected, T)


# OK orthogonalises its long factor A (S r_g x (r+1)) through A's Gram matrix (Cholesky, one
# pass over A) and falls back to Householder QR only where A is ill-conditioned; both are
# brought to the same (positive-diagonal) R_a, so the two routes must give the same numbers
# for the same random signs -- the QR route is the oracle of the Gram route. (float64 only:
# float32 always takes the QR route, where the test checks that the hook changes nothing.)
@pytest.mark.parametrize("rank", [1, 2, 3])
@pytest.mark.parametrize("cell", ["elman", "gru", "lstm", "jordan"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ok_gram_orthogonalisation_matches_householder_qr(cell, rank, dtype):
    cell = rtrl.cells.make_cell(cell)
    params = {k: v.astype(dtype) for k, v in cell.init_params(12, 3, 2, random_state=1).items()}
    rng = np.random.default_rng(rank)
    X = rng.normal(size=(60, 3)).astype(dtype)
    y = rng.normal(size=(60, 2)).astype(dtype)

    def run(gram):
        _core._ok_orthogonalise_by_gram(gram)
        try:
            return rtrl.sequence_gradient(
                params, X, y, cell=cell, learner=OK(rank), random_state=3
            )
        finally:
            _core._ok_orthogonalise_by_gram(True)

    a, b = run(True), run(False)
    tol = 1e-9 if dtype == np.float64 else 0
    for name in a:
        assert np.all(np.isfinite(a[name])) and np.abs(a[name]).max() > 0
        np.testing.assert_allclose(
            a[name], b[name], rtol=tol, atol=tol * np.abs(b[name]).max(), err_msg=name
        )


# Where every weight group's long factor has no more entries than the rank (S r_g <= r), the
# r + 1 terms of a step have rank <= r and OK keeps them exactly: it must equal exact RTRL
# whatever the random signs. (These A have fewer rows than columns; the Gram route must not
# take them -- it once did, 26 % off for a Jordan network.)
@pytest.mark.parametrize(("cell", "rank"), [("elman", 1), ("jordan", 1), ("gru", 3)])
def test_ok_is_exact_where_the_factors_fit_the_rank(cell, rank):
    cell = rtrl.cells.make_cell(cell)
    for seed in range(20):
        params = cell.init_params(1, 2, 1, random_state=seed)
        rng = np.random.default_rng(seed)
        X, y = rng.normal(size=(30, 2)), rng.normal(size=(30, 1))
        exact = rtrl.sequence_gradient(params, X, y, cell=cell, learner="rtrl")
        ok = rtrl.sequence_gradient(params, X, y, cell=cell, learner=OK(rank), random_state=3)
        for name, g in exact.items():
            assert rel_err(ok[name], g) <= 1e-9, (seed, name)


@pytest.mark.parametrize("kind", ["elman", "gru", "lstm", "jordan"])
def test_snap_takes_over_streams_saved_in_its_former_block_layout(kind):
    # before SnAp ran as exact RTRL where M_k keeps every pair, it stored such a network's
    # influence as one S x K block per row of parameters; a model saved then goes on
    cell = CELLS[kind]()
    n, m, n_out = 5, 3, 2
    layout = cell.layout(n, m, n_out)
    params, X, y, _ = make_problem(cell, n, m, n_out, T=30, seed=3)
    rtrl_state, _ = run_low_level(RTRL(), layout, params, X[:20], y[:20])
    J = RTRL().influence(rtrl_state, layout)
    S = layout.state_size
    kernel = layout.to_kernel()
    blocks = [
        J[:, off + j * K : off + (j + 1) * K].ravel()
        for off, K, r in zip(kernel["offset"], kernel["width"], kernel["rows"], strict=True)
        for j in range(r)
    ]
    old = {"values": np.concatenate(blocks)[None, :], "ints": np.zeros((1, 1), np.int64)}
    assert old["values"].shape[1] == S * layout.n_recurrent_params
    snap = SnAp(2)
    assert snap.as_rtrl(layout) is not None
    # both continue over the same steps from the same J
    w = layout.pack(params, np.float64)
    tail = X[20:], np.asarray(y[20:], dtype=np.float64).reshape(10, -1)
    runs = []
    for learner, state in ((snap, old), (RTRL(), {k: v.copy() for k, v in rtrl_state.items()})):
        update = new_update_state(layout.n_params, np.float64)
        learner.train(
            layout, w, tail[0], tail[1], np.empty(0, np.intp), np.ones(10),
            np.array([0], np.intp), np.array([10], np.intp), np.array([1], np.intp),
            np.zeros((1, S)), state, update, -1, 0, 1,
        )  # fmt: skip
        runs.append((learner.influence(state, layout), update["acc"].copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert np.any(runs[1][1] != 0)
