# UORO (Tallec & Ollivier 2017), included by _core.pyx. See rtrl.learners.UORO.
#
# Stream state: s~ (S) then theta~ (P); ints: 4 words of RNG state, then ||theta~||^2 (the
# bits of a double), computed by the pass that writes theta~ so no step reads theta~ twice.
# The windowed form adds, after theta~, one slot per step of the open window (_uoro_slot)
# and, after the norm, the steps in the window and per slot ||b_t||^2 and has_error.


cdef inline double _bits_to_double(const int64_t* p) noexcept nogil:
    cdef double x
    memcpy(&x, p, sizeof(double))
    return x


cdef inline void _double_to_bits(int64_t* p, double x) noexcept nogil:
    memcpy(p, &x, sizeof(double))


cdef inline intp_t _uoro_scratch(const Layout* L) noexcept nogil:
    """Per-step scratch: a, nu (S each), v = (G_g^T nu)_g (sum of r_g), cell_jvp's scratch
    (4 n, or n_out for Jordan's readout)."""
    return 2 * L.S + L.G_size // L.S + max(4 * L.n, L.n_out)


cdef inline double _uoro_b_norm2(const Layout* L, const floating* v,
                                 const floating* z) noexcept nogil:
    # ||b||^2 for b = sum_g v_g (x) z_g: ||v_g (x) z_g||^2 = ||v_g||^2 ||z_g||^2
    cdef intp_t g, j, k
    cdef double n_v2, n_z2, total = 0
    for g in range(L.n_groups):
        n_v2 = 0
        n_z2 = 0
        for j in range(L.rows[g]):
            n_v2 += v[j] * v[j]
        for k in range(L.width[g]):
            n_z2 += z[L.z_offset[g] + k] * z[L.z_offset[g] + k]
        total += n_v2 * n_z2
        v += L.rows[g]
    return total


cdef inline void _uoro_scales(intp_t S, double n_theta, double n_a, double n_b2,
                              double* rho0, double* rho1) noexcept nogil:
    # the variance-minimising scales (eps = 1e-7 keeps them finite and positive)
    cdef double eps = 1e-7
    rho0[0] = sqrt(sqrt(n_theta) / (sqrt(n_a) + eps)) + eps
    rho1[0] = sqrt(sqrt(n_b2) / (sqrt(<double> S) + eps)) + eps


cdef inline double _uoro_move_tangent(intp_t S, double rho0, double rho1, const floating* a,
                                      const floating* nu, const floating* e_bar,
                                      floating* s_tilde) noexcept nogil:
    # s~ <- rho0 a + rho1 nu; returns e_bar . s~
    cdef intp_t i
    cdef double c = 0
    for i in range(S):
        s_tilde[i] = <floating> (rho0 * a[i] + rho1 * nu[i])
        c += e_bar[i] * s_tilde[i]
    return c


cdef void _uoro_step(const Layout* L, const floating* w, const floating* work,
                     const floating* G, const floating* z,
                     floating* st,             # IN/OUT [s~ (S), theta~ (P)]
                     int64_t* ints,            # IN/OUT generator state, ||theta~||^2
                     const floating* e_bar, bint has_error,
                     floating* acc,            # IN/OUT += (e_bar . s~) theta~
                     floating* scratch,        # _uoro_scratch
                     bint tangent_done         # a = D s~ is already in scratch[:S]
                     ) noexcept nogil:
    # D_t enters only through D_t s~ (cell_jvp), so the cell never forms it: O(S^2 + P)
    cdef intp_t S = L.S, g, j, r, K, i
    cdef floating* s_tilde = st
    cdef floating* theta = st + S
    cdef floating* a = scratch
    cdef floating* nu = a + S
    cdef floating* v = nu + S
    cdef floating* vg
    cdef floating* row
    cdef floating* accrow
    cdef const floating* zg
    cdef double n_theta = 0, rho0, rho1, c = 0
    cdef floating vj, inv0, cg
    cdef uint64_t* rng = <uint64_t*> ints
    for i in range(S):
        nu[i] = <floating> rng_sign(rng)
    # a = D s~ (the tangent forward-propagated), b = nu^T I_t = sum_g (G_g^T nu) (x) z_g
    if not tangent_done:
        cell_jvp(L, w, G, work, s_tilde, a, v + L.G_size // S)
    cell_vjp_G(L, G, nu, v)
    _uoro_scales(S, _bits_to_double(ints + 4), dot(<blas_int> S, a, a),
                 _uoro_b_norm2(L, v, z), &rho0, &rho1)
    c = _uoro_move_tangent(S, rho0, rho1, a, nu, e_bar, s_tilde)
    if not has_error:
        c = 0
    # one pass over theta~: theta~ <- theta~ / rho0 + b / rho1, acc += (e_bar . s~) theta~,
    # and the new ||theta~||^2 for the next step
    inv0 = <floating> (1 / rho0)
    cg = <floating> c
    vg = v
    for g in range(L.n_groups):
        r = L.rows[g]
        K = L.width[g]
        zg = z + L.z_offset[g]
        for j in range(r):
            vj = <floating> (vg[j] / rho1)
            row = theta + L.offset[g] + j * K
            accrow = acc + L.offset[g] + j * K
            if floating is double:
                n_theta += rtrl_uoro_row_f64(K, inv0, vj, zg, row, cg, accrow)
            else:
                n_theta += rtrl_uoro_row_f32(K, inv0, vj, zg, row, cg, accrow)
        vg += r
    _double_to_bits(ints + 4, n_theta)


# ---------------------------------------------------------------------- the windowed form
#
# Nothing of the forward pass depends on s~ or theta~, so a step can put its tangent work
# off: it draws nu, stores nu, v = (G_g^T nu)_g, z, e_bar and what cell_jvp reads of G and
# work (a slot). Within a window opened at theta~_0 the recurrence unrolls to
#
#     theta~_t = alpha_t (theta~_0 + sum_{s<=t} beta_s v_s z_s^T)   (per weight group),
#     alpha_t = prod_{u<=t} 1/rho0_u,   beta_s = 1 / (alpha_s rho1_s),
#     sum_t c_t theta~_t = C_1 theta~_0 + sum_s beta_s C_s v_s z_s^T,   C_s = sum_{t>=s} c_t alpha_t,
#
# and rho0_t needs ||theta~_{t-1}||^2, by the recursion
#
#     ||theta~_t||^2 = ||theta~_{t-1}||^2 / rho0^2 + 2 q_t / (rho0 rho1) + ||b_t||^2 / rho1^2,
#     q_t = v_t^T theta~_{t-1} z_t = alpha_{t-1} (v_t^T theta~_0 z_t
#                                    + sum_{s<t} beta_s (v_t . v_s)(z_s . z_t)).
#
# When a window fills, its chain is prepared: theta~_0 [z_1 .. z_w] and the Gram matrices of
# the v's and z's (GEMMs). For Elman the chain then runs one slot per step of the next
# window, while that window fills the other of the two slot buffers: the chain's W_hh s~
# shares the step's pass over the weights (cell_step_matvec), so the tangent costs no second
# read of them. The other cells have no such pass and run the chain at once. When the chain's last slot has run, two GEMMs per group, (r x w)(w x K), bring
# theta~ and the gradient to its end, and ||theta~||^2 is recomputed from theta~. Every
# O(P) pass happens once per window. Closing the windows (before an update, at a stream's
# end, flush_windows) runs what is left without the forward pass. The chain is part of the
# stream's state, so where a call ends changes nothing. The result is the per-step
# recurrence's, to rounding. A chain also catches up early (and goes on from the new
# theta~_0) if alpha leaves [1e-150, 1e150] (float32: [1e-15, 1e15]).
#
# ints of the windowed form: [generator (4), ||theta~||^2, steps in the filling window,
# the buffer it fills (0/1), the chain's slots, next slot, first slot since it last caught
# up, the bits of its alpha and ||theta~||^2 (12 so far), then per buffer and slot
# ||b_s||^2 (2 W) and has_error (2 W), and the chain's q0, beta, c alpha (W each) and Gram
# products M (W x W)].

cdef double _uoro_alpha_limit = 1e150   # a chain catches up early once alpha leaves
                                        # [1 / limit, limit] (tests lower it); float32
                                        # uses at most 1e15: alpha and the sums C_s are
                                        # cast to float32 for the GEMMs


def _set_uoro_alpha_limit(double limit):
    """Set the range of alpha beyond which UORO's chain catches up early; returns the old
    limit (for tests of that path)."""
    global _uoro_alpha_limit
    old = _uoro_alpha_limit
    _uoro_alpha_limit = limit
    return old


cdef enum:
    UORO_COUNT = 5      # ints: steps in the filling window
    UORO_BUFFER = 6     # the buffer it fills
    UORO_CHAIN_N = 7    # the chain's slots (0: none)
    UORO_CHAIN_POS = 8
    UORO_CHAIN_START = 9
    UORO_CHAIN_ALPHA = 10
    UORO_CHAIN_NORM = 11
    UORO_HEAD = 12


cdef inline intp_t _uoro_slot(const Layout* L) noexcept nogil:
    """Numbers stored per step of a window: z (z_size), v (sum r_g), nu and e_bar (S each)
    and cell_jvp's inputs."""
    return L.z_size + L.G_size // L.S + 2 * L.S + cell_jvp_inputs_size(L)


cdef inline intp_t _uoro_window_ints(intp_t W) noexcept nogil:
    return UORO_HEAD + 7 * W + W * W


cdef inline intp_t _uoro_r_max(const Layout* L) noexcept nogil:
    cdef intp_t g, r = 0
    for g in range(L.n_groups):
        r = max(r, L.rows[g])
    return r


cdef inline intp_t _uoro_window_scratch(const Layout* L, intp_t W) noexcept nogil:
    """Scratch of the windowed form: G, work, a, cell_jvp's scratch, Wv and
    cell_hh_matvec's 2 K + n, the Gram matrices of one group (2 W^2) and theta~_0 Z or the
    coefficients (r_max x W)."""
    return (L.G_size + L.work_size + L.S + max(4 * L.n, L.n_out) + L.n
            + 2 * L.width[0] + L.n + 2 * W * W + _uoro_r_max(L) * W)


cdef inline double _uoro_limit(floating sample) noexcept nogil:
    return _uoro_alpha_limit if floating is double else min(_uoro_alpha_limit, 1e15)


cdef void _uoro_window_push(const Layout* L, intp_t W, intp_t base, const floating* work,
                            const floating* G, const floating* z, floating* st,
                            int64_t* ints, const floating* e_bar, bint has_error) noexcept nogil:
    # the step's share of the tangent work: its signs and what the chain needs
    cdef intp_t S = L.S, nv = L.G_size // L.S, k = ints[UORO_BUFFER], s = ints[UORO_COUNT], i
    cdef floating* slot = st + base + (k * W + s) * _uoro_slot(L)
    cdef floating* nu = slot + L.z_size + nv
    cdef uint64_t* rng = <uint64_t*> ints
    for i in range(S):
        nu[i] = <floating> rng_sign(rng)
    memcpy(slot, z, L.z_size * sizeof(floating))
    cell_vjp_G(L, G, nu, slot + L.z_size)
    if has_error:
        memcpy(nu + S, e_bar, S * sizeof(floating))
    else:
        memset(nu + S, 0, S * sizeof(floating))
    cell_jvp_inputs_save(L, G, work, nu + 2 * S)
    _double_to_bits(ints + UORO_HEAD + k * W + s, _uoro_b_norm2(L, slot + L.z_size, z))
    ints[UORO_HEAD + 2 * W + k * W + s] = has_error
    ints[UORO_COUNT] = s + 1


cdef void _uoro_chain_prepare(const Layout* L, intp_t W, intp_t base, floating* st,
                              int64_t* ints, floating* scratch) noexcept nogil:
    # theta~_0 z_s (q0) and the Gram products M of the chain's slots from its start on
    cdef intp_t S = L.S, stride = _uoro_slot(L), n = ints[UORO_CHAIN_N]
    cdef intp_t start = ints[UORO_CHAIN_START], k = 1 - ints[UORO_BUFFER]
    cdef intp_t g, s, u, r, K, voff = 0, ns = n - start
    cdef double* q0 = <double*> (ints + UORO_HEAD + 4 * W)
    cdef double* M = q0 + 3 * W
    cdef floating* slots = st + base + k * W * stride
    cdef floating* slot = slots + start * stride
    cdef floating* gram_v = scratch + _uoro_window_scratch(L, W) - 2 * W * W - _uoro_r_max(L) * W
    cdef floating* gram_z = gram_v + W * W
    cdef floating* Y = gram_z + W * W
    for s in range(start, n):
        q0[s] = 0
        for u in range(start, n):
            M[s * W + u] = 0
    for g in range(L.n_groups):
        r = L.rows[g]
        K = L.width[g]
        gemm_rm_nt(<blas_int> ns, <blas_int> r, <blas_int> K, <floating> 1,
                   slot + L.z_offset[g], <blas_int> stride, st + S + L.offset[g],
                   <blas_int> K, <floating> 0, Y, <blas_int> r)
        gemm_rm_nt(<blas_int> ns, <blas_int> ns, <blas_int> r, <floating> 1,
                   slot + L.z_size + voff, <blas_int> stride, slot + L.z_size + voff,
                   <blas_int> stride, <floating> 0, gram_v, <blas_int> W)
        gemm_rm_nt(<blas_int> ns, <blas_int> ns, <blas_int> K, <floating> 1,
                   slot + L.z_offset[g], <blas_int> stride, slot + L.z_offset[g],
                   <blas_int> stride, <floating> 0, gram_z, <blas_int> W)
        for s in range(start, n):
            q0[s] += dot(<blas_int> r, slots + s * stride + L.z_size + voff,
                         Y + (s - start) * r)
            for u in range(start, s):
                M[s * W + u] += (<double> gram_v[(s - start) * W + u - start]
                                 * gram_z[(s - start) * W + u - start])
        voff += r


cdef void _uoro_chain_open(const Layout* L, intp_t W, intp_t base, floating* st,
                           int64_t* ints, floating* scratch) noexcept nogil:
    # the filling window (n > 0 steps) becomes the chain; the other buffer fills next
    ints[UORO_CHAIN_N] = ints[UORO_COUNT]
    ints[UORO_CHAIN_POS] = 0
    ints[UORO_CHAIN_START] = 0
    _double_to_bits(ints + UORO_CHAIN_ALPHA, 1.0)
    ints[UORO_CHAIN_NORM] = ints[4]
    ints[UORO_BUFFER] = 1 - ints[UORO_BUFFER]
    ints[UORO_COUNT] = 0
    _uoro_chain_prepare(L, W, base, st, ints, scratch)


cdef void _uoro_chain_advance(const Layout* L, intp_t W, intp_t base, floating* st,
                              int64_t* ints, const floating* a, floating* acc,
                              floating* scratch) noexcept nogil:
    # run the chain's next slot, given a = D s~ for it; catch theta~ and acc up at the
    # chain's end, or early when alpha leaves its range
    cdef intp_t S = L.S, nv = L.G_size // L.S, stride = _uoro_slot(L), u
    cdef intp_t k = 1 - ints[UORO_BUFFER], s = ints[UORO_CHAIN_POS], n = ints[UORO_CHAIN_N]
    cdef intp_t start = ints[UORO_CHAIN_START]
    cdef double* n_b2s = <double*> (ints + UORO_HEAD + k * W)
    cdef int64_t* errors = ints + UORO_HEAD + 2 * W + k * W
    cdef double* q0 = <double*> (ints + UORO_HEAD + 4 * W)
    cdef double* beta = q0 + W
    cdef double* calpha = beta + W
    cdef double* M = calpha + W
    cdef floating* slots = st + base + k * W * stride
    cdef floating* nu = slots + s * stride + L.z_size + nv
    cdef floating* s_tilde = st
    cdef double n_theta = _bits_to_double(ints + UORO_CHAIN_NORM)
    cdef double alpha_prev = _bits_to_double(ints + UORO_CHAIN_ALPHA), alpha
    cdef double rho0, rho1, c, q, gram = 0, n_b2 = n_b2s[s]
    cdef floating sample = 0
    _uoro_scales(S, n_theta, dot(<blas_int> S, a, a), n_b2, &rho0, &rho1)
    c = _uoro_move_tangent(S, rho0, rho1, a, nu, nu + S, s_tilde)   # nu + S: e_bar
    if not errors[s]:
        c = 0
    for u in range(start, s):
        gram += beta[u] * M[s * W + u]
    q = alpha_prev * (q0[s] + gram)
    n_theta = n_theta / (rho0 * rho0) + 2 * q / (rho0 * rho1) + n_b2 / (rho1 * rho1)
    if n_theta < 0:
        n_theta = 0
    alpha = alpha_prev / rho0
    beta[s] = 1 / (alpha * rho1)
    calpha[s] = c * alpha
    ints[UORO_CHAIN_POS] = s + 1
    _double_to_bits(ints + UORO_CHAIN_ALPHA, alpha)
    _double_to_bits(ints + UORO_CHAIN_NORM, n_theta)
    if s + 1 == n or not (1 / _uoro_limit(sample) < alpha < _uoro_limit(sample)):
        n_theta = _uoro_window_apply(L, W, stride, start, s + 1, alpha, beta, calpha, slots,
                                     st + S, acc,
                                     scratch + _uoro_window_scratch(L, W) - _uoro_r_max(L) * W)
        _double_to_bits(ints + 4, n_theta)
        _double_to_bits(ints + UORO_CHAIN_NORM, n_theta)
        _double_to_bits(ints + UORO_CHAIN_ALPHA, 1.0)
        ints[UORO_CHAIN_START] = s + 1
        if s + 1 == n:
            ints[UORO_CHAIN_N] = 0
            ints[UORO_CHAIN_POS] = 0
            ints[UORO_CHAIN_START] = 0
        else:
            _uoro_chain_prepare(L, W, base, st, ints, scratch)


cdef inline floating* _uoro_chain_saved(const Layout* L, intp_t W, intp_t base, floating* st,
                                       const int64_t* ints) noexcept nogil:
    # the cell_jvp inputs saved in the chain's next slot
    return (st + base + ((1 - ints[UORO_BUFFER]) * W + ints[UORO_CHAIN_POS]) * _uoro_slot(L)
            + L.z_size + L.G_size // L.S + 2 * L.S)


cdef void _uoro_chain_tangent(const Layout* L, intp_t W, intp_t base, const floating* w,
                              floating* st, int64_t* ints, floating* a,
                              floating* scratch) noexcept nogil:
    # a = D s~ for the chain's next slot, without a forward pass (Elman: the same sums as
    # the fused pass)
    cdef floating* saved = _uoro_chain_saved(L, W, base, st, ints)
    cdef floating* Gs = scratch
    cdef floating* works = Gs + L.G_size
    cdef floating* jvp_scratch = works + L.work_size + L.S
    cdef floating* Wv = jvp_scratch + max(4 * L.n, L.n_out)
    if L.kind == CELL_ELMAN:
        cell_hh_matvec(L, w, st, Wv, Wv + L.n)
        cell_jvp_from_hh(L, saved, Wv, st, a)
    else:
        # Gs and works are only read where cell_jvp_inputs_load writes
        cell_jvp_inputs_load(L, saved, Gs, works)
        cell_jvp(L, w, Gs, works, st, a, jvp_scratch)


cdef void _uoro_window_flush_chain(const Layout* L, intp_t W, intp_t base,
                                   const floating* w, floating* st, int64_t* ints,
                                   floating* acc, floating* scratch) noexcept nogil:
    # run what is left of the chain without a forward pass
    cdef floating* a = scratch + L.G_size + L.work_size
    while ints[UORO_CHAIN_N] > 0:
        _uoro_chain_tangent(L, W, base, w, st, ints, a, scratch)
        _uoro_chain_advance(L, W, base, st, ints, a, acc, scratch)


cdef void _uoro_window_flush(const Layout* L, intp_t W, intp_t base, const floating* w,
                             floating* st, int64_t* ints, floating* acc,
                             floating* scratch) noexcept nogil:
    # close the windows: run what is left of the chain, then the filling window's
    _uoro_window_flush_chain(L, W, base, w, st, ints, acc, scratch)
    if ints[UORO_COUNT] > 0:
        _uoro_chain_open(L, W, base, st, ints, scratch)
        _uoro_window_flush_chain(L, W, base, w, st, ints, acc, scratch)


cdef void _uoro_window_step(const Layout* L, intp_t W, intp_t base, const floating* w,
                            const floating* Wv, const floating* work, const floating* G,
                            const floating* z, floating* st, int64_t* ints,
                            const floating* e_bar, bint has_error, floating* acc,
                            floating* scratch) noexcept nogil:
    # one step of the windowed form after the cell's step: the chain's next slot (a = D s~
    # from the fused pass's Wv for Elman), then the step's slot; a full window becomes the
    # chain
    cdef floating* a = scratch + L.G_size + L.work_size
    if ints[UORO_CHAIN_N] > 0:
        if L.kind == CELL_ELMAN:
            cell_jvp_from_hh(L, _uoro_chain_saved(L, W, base, st, ints), Wv, st, a)
        else:
            _uoro_chain_tangent(L, W, base, w, st, ints, a, scratch)
        _uoro_chain_advance(L, W, base, st, ints, a, acc, scratch)
    _uoro_window_push(L, W, base, work, G, z, st, ints, e_bar, has_error)
    if ints[UORO_COUNT] == W:
        # (a chain still running here started part-way, which closing never leaves)
        _uoro_window_flush_chain(L, W, base, w, st, ints, acc, scratch)
        _uoro_chain_open(L, W, base, st, ints, scratch)
        if L.kind != CELL_ELMAN:
            # no fused pass to share: spread over the next window, the chain's GEMVs would
            # only push the weights the forward needs out of cache (measured slower)
            _uoro_window_flush_chain(L, W, base, w, st, ints, acc, scratch)


cdef double _uoro_window_apply(const Layout* L, intp_t W, intp_t stride, intp_t lo,
                               intp_t hi, double alpha_n, const double* beta,
                               const double* calpha, const floating* slots,
                               floating* theta, floating* acc, floating* A) noexcept nogil:
    # theta~ <- alpha_n theta~_0 + V diag(alpha_n beta) Z^T and
    # acc += C_lo theta~_0 + V diag(beta C) Z^T, per group, over slots [lo, hi); returns the
    # new ||theta~||^2
    cdef intp_t g, j, k, s, r, K, voff = 0, ns = hi - lo, nvoff = L.z_size
    cdef floating* Th
    cdef floating* Ag
    cdef double C, coef, n_theta = 0
    cdef floating C1
    cdef bint any_error = 0
    for s in range(lo, hi):
        any_error = any_error or calpha[s] != 0
    for g in range(L.n_groups):
        r = L.rows[g]
        K = L.width[g]
        Th = theta + L.offset[g]
        Ag = acc + L.offset[g]
        if any_error:
            C = 0
            for s in range(hi - 1, lo - 1, -1):
                C += calpha[s]
                coef = beta[s] * C
                for j in range(r):
                    A[j * ns + s - lo] = <floating> (coef * slots[s * stride + nvoff + voff + j])
            C1 = <floating> C
            for k in range(r * K):
                Ag[k] += C1 * Th[k]
            gemm_rm(<blas_int> r, <blas_int> K, <blas_int> ns, <floating> 1, A, <blas_int> ns,
                    slots + lo * stride + L.z_offset[g], <blas_int> stride, <floating> 1, Ag,
                    <blas_int> K)
        for s in range(lo, hi):
            coef = alpha_n * beta[s]
            for j in range(r):
                A[j * ns + s - lo] = <floating> (coef * slots[s * stride + nvoff + voff + j])
        gemm_rm(<blas_int> r, <blas_int> K, <blas_int> ns, <floating> 1, A, <blas_int> ns,
                slots + lo * stride + L.z_offset[g], <blas_int> stride, <floating> alpha_n, Th,
                <blas_int> K)
        n_theta += dot(<blas_int> (r * K), Th, Th)
        voff += r
    return n_theta
