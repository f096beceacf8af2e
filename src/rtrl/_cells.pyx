# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Cell dynamics, their Jacobians in Kronecker form, and the readout with its loss.

Every cell advances the state, s_t = F(s_{t-1}, x_t; theta), and on request provides what the
learners consume (ALGORITHMS.md, "Kronecker structure"):

* ``D`` -- the state Jacobian D_t = ds_t/ds_{t-1} (S x S, dense, row-major);
* ``z`` -- for each weight group g, the vector z_g the group multiplies (a_g = W_g z_g);
* ``G`` -- for each group, G_g = ds_t/da_g (S x r_g), so that ds_t/dW_g[j, k] = G_g[:, j] z_g[k].

The immediate Jacobian I_t is therefore never formed. Equations and gate orders follow PyTorch
(torch.nn.RNN, GRU, LSTM); the flat parameter layout is described in ``rtrl.cells``.

Notes
-----
The cells are called once per time step from the learners' loops (without the GIL), so they
are plain C functions dispatched on ``Layout.kind``; a cell is O(S * r) work, small next to the
influence update. Pre-activations are one GEMV over z_g, which doubles as the forward pass.
"""

from libc.math cimport exp, expf, log, logf, tanh, tanhf
from libc.string cimport memcpy, memset

from ._blas cimport gemv_rm

cdef extern from "_rowkernels.h" nogil:
    void rtrl_gemv2_f64(intp_t rows, intp_t K, const double* W, intp_t ldw, const double* z,
                        const double* v, double* a, double* b)
    void rtrl_gemv2_f32(intp_t rows, intp_t K, const float* W, intp_t ldw, const float* z,
                        const float* v, float* a, float* b)


cdef inline floating _tanh(floating v) noexcept nogil:
    if floating is float:
        return tanhf(v)
    else:
        return tanh(v)


cdef inline floating _exp(floating v) noexcept nogil:
    if floating is float:
        return expf(v)
    else:
        return exp(v)


cdef inline floating _log(floating v) noexcept nogil:
    if floating is float:
        return logf(v)
    else:
        return log(v)


cdef inline floating _sigmoid(floating v) noexcept nogil:
    cdef floating e
    if v >= 0:
        return 1 / (1 + _exp(-v))
    e = _exp(v)
    return e / (1 + e)


cdef inline floating _act(int nonlinearity, floating a) noexcept nogil:
    if nonlinearity == NL_RELU:
        return a if a > 0 else 0
    return _tanh(a)


cdef inline floating _act_grad(int nonlinearity, floating a, floating act) noexcept nogil:
    # derivative of the activation at pre-activation a, given act = phi(a)
    if nonlinearity == NL_RELU:
        return 1 if a > 0 else 0
    return 1 - act * act


cdef void _elman_step(const Layout* L, const floating* w, const floating* x,
                      const floating* s_prev, floating* s_new, floating* z, floating* G,
                      floating* D, floating* work) noexcept nogil:
    # h_t = (1 - alpha) h_{t-1} + alpha phi(W_ih x + b_ih + W_hh h + b_hh)
    # one group: z = [x; 1; h_{t-1}; 1] over [weight_ih | bias_ih | weight_hh | bias_hh]
    cdef intp_t n = L.n, m = L.m, K = L.width[0], i, l
    cdef const floating* W = w + L.offset[0]
    cdef floating alpha = <floating> L.leak
    cdef floating* a = work
    cdef floating act, d
    memcpy(z, x, m * sizeof(floating))
    z[m] = 1
    memcpy(z + m + 1, s_prev, n * sizeof(floating))
    z[m + n + 1] = 1
    gemv_rm(False, <int> n, <int> K, <floating> 1, W, <int> K, z, <floating> 0, a)
    for i in range(n):
        act = _act(L.nonlinearity, a[i])
        s_new[i] = (1 - alpha) * s_prev[i] + alpha * act
        if G != NULL:
            d = alpha * _act_grad(L.nonlinearity, a[i], act)
            G[i * n + i] = d
            if D == NULL:
                continue
            for l in range(n):
                D[i * n + l] = d * W[i * K + m + 1 + l]
            D[i * n + i] += 1 - alpha


cdef void _lstm_step(const Layout* L, const floating* w, const floating* x,
                     const floating* s_prev, floating* s_new, floating* z, floating* G,
                     floating* D, floating* work) noexcept nogil:
    # torch.nn.LSTM, gates (i, f, g, o); state s = [h; c]
    # one group: z = [x; 1; h_{t-1}; 1], rows 4n
    cdef intp_t n = L.n, m = L.m, K = L.width[0], S = L.S, R = 4 * L.n
    cdef intp_t j, l, q
    cdef const floating* W = w + L.offset[0]
    cdef const floating* h = s_prev
    cdef const floating* c = s_prev + n
    cdef floating* a = work
    cdef floating gi, gf, gg, go, c_new, tc, dtc
    cdef floating dc[3]
    cdef floating acc_h, acc_c
    memcpy(z, x, m * sizeof(floating))
    z[m] = 1
    memcpy(z + m + 1, h, n * sizeof(floating))
    z[m + n + 1] = 1
    gemv_rm(False, <int> R, <int> K, <floating> 1, W, <int> K, z, <floating> 0, a)
    for j in range(n):
        gi = _sigmoid(a[j])
        gf = _sigmoid(a[n + j])
        gg = _tanh(a[2 * n + j])
        go = _sigmoid(a[3 * n + j])
        c_new = gf * c[j] + gi * gg
        tc = _tanh(c_new)
        s_new[j] = go * tc
        s_new[n + j] = c_new
        if G == NULL:
            continue
        # dc_t/da for the gates i, f, g (o does not reach c)
        dc[0] = gg * gi * (1 - gi)
        dc[1] = c[j] * gf * (1 - gf)
        dc[2] = gi * (1 - gg * gg)
        dtc = go * (1 - tc * tc)            # dh_t/dc_t
        for q in range(3):
            G[j * R + q * n + j] = dtc * dc[q]
            G[(n + j) * R + q * n + j] = dc[q]
        G[j * R + 3 * n + j] = tc * go * (1 - go)
        work[R + j] = gf                    # the direct terms of D, for cell_jvp/_entry
        work[R + n + j] = dtc * gf
        if D == NULL:
            continue
        # D[:, h] = G @ W_hh (only the four rows q*n + j of W contribute to unit j)
        for l in range(n):
            acc_h = 0
            acc_c = 0
            for q in range(4):
                acc_h = acc_h + G[j * R + q * n + j] * W[(q * n + j) * K + m + 1 + l]
                acc_c = acc_c + G[(n + j) * R + q * n + j] * W[(q * n + j) * K + m + 1 + l]
            D[j * S + l] = acc_h
            D[(n + j) * S + l] = acc_c
            D[j * S + n + l] = 0
            D[(n + j) * S + n + l] = 0
        D[j * S + n + j] = dtc * gf
        D[(n + j) * S + n + j] = gf


cdef void _gru_step(const Layout* L, const floating* w, const floating* x,
                    const floating* s_prev, floating* s_new, floating* z, floating* G,
                    floating* D, floating* work) noexcept nogil:
    # torch.nn.GRU, gates (r, z, n):
    #   r = sig(a_ih_r + a_hh_r), u = sig(a_ih_z + a_hh_z),
    #   n = tanh(a_ih_n + r * a_hh_n), h_t = (1 - u) n + u h_{t-1}
    # group 0: z_0 = [x; 1] over [weight_ih | bias_ih];  group 1: z_1 = [h; 1] over
    # [weight_hh | bias_hh]. The n-gate's hh part is scaled by r, so G_1 != G_0 on those rows.
    cdef intp_t n = L.n, m = L.m, R = 3 * L.n, K0 = L.width[0], K1 = L.width[1]
    cdef intp_t j, l, q
    cdef const floating* W0 = w + L.offset[0]
    cdef const floating* W1 = w + L.offset[1]
    cdef floating* z0 = z + L.z_offset[0]
    cdef floating* z1 = z + L.z_offset[1]
    cdef floating* G0
    cdef floating* G1
    cdef floating* ai = work
    cdef floating* ah = work + R
    cdef floating r, u, nn, dn, acc
    memcpy(z0, x, m * sizeof(floating))
    z0[m] = 1
    memcpy(z1, s_prev, n * sizeof(floating))
    z1[n] = 1
    gemv_rm(False, <int> R, <int> K0, <floating> 1, W0, <int> K0, z0, <floating> 0, ai)
    gemv_rm(False, <int> R, <int> K1, <floating> 1, W1, <int> K1, z1, <floating> 0, ah)
    if G != NULL:
        G0 = G + L.G_offset[0]
        G1 = G + L.G_offset[1]
    for j in range(n):
        r = _sigmoid(ai[j] + ah[j])
        u = _sigmoid(ai[n + j] + ah[n + j])
        nn = _tanh(ai[2 * n + j] + r * ah[2 * n + j])
        s_new[j] = (1 - u) * nn + u * s_prev[j]
        if G == NULL:
            continue
        dn = (1 - u) * (1 - nn * nn)        # dh_t/d(pre-activation of n)
        G0[j * R + j] = dn * ah[2 * n + j] * r * (1 - r)
        G0[j * R + n + j] = (s_prev[j] - nn) * u * (1 - u)
        G0[j * R + 2 * n + j] = dn
        G1[j * R + j] = G0[j * R + j]
        G1[j * R + n + j] = G0[j * R + n + j]
        G1[j * R + 2 * n + j] = dn * r
        work[2 * R + j] = u                 # the direct term of D, for cell_jvp/_entry
        if D == NULL:
            continue
        # D = G_1 @ W_hh + diag(u)
        for l in range(n):
            acc = 0
            for q in range(3):
                acc = acc + G1[j * R + q * n + j] * W1[(q * n + j) * K1 + l]
            D[j * n + l] = acc
        D[j * n + j] += u


cdef void _jordan_step(const Layout* L, const floating* w, const floating* x,
                       const floating* s_prev, floating* s_new, floating* z, floating* G,
                       floating* D, floating* work) noexcept nogil:
    # h_t = phi(W_ih x + b_ih + W_yh y_{t-1}),  y_{t-1} = V h_{t-1} + c
    # group 0: z_0 = [x; 1; y_{t-1}] over [weight_ih | bias_ih | weight_yh]   (rows n)
    # group 1: z_1 = [h_{t-1}; 1] over [readout_weight | readout_bias]         (rows n_out)
    # The readout is inside the recurrence: G_1 = diag(phi') W_yh, D = G_1 V.
    cdef intp_t n = L.n, m = L.m, n_out = L.n_out, K0 = L.width[0], K1 = L.width[1]
    cdef intp_t i, l, o
    cdef const floating* W0 = w + L.offset[0]
    cdef const floating* V = w + L.offset[1]
    cdef floating* z0 = z + L.z_offset[0]
    cdef floating* z1 = z + L.z_offset[1]
    cdef floating* G0
    cdef floating* G1
    cdef floating* a = work
    cdef floating act, d, acc
    memcpy(z1, s_prev, n * sizeof(floating))
    z1[n] = 1
    memcpy(z0, x, m * sizeof(floating))
    z0[m] = 1
    # y_{t-1} = [V | c] [h_{t-1}; 1], written straight into z_0
    gemv_rm(False, <int> n_out, <int> K1, <floating> 1, V, <int> K1, z1, <floating> 0,
            z0 + m + 1)
    gemv_rm(False, <int> n, <int> K0, <floating> 1, W0, <int> K0, z0, <floating> 0, a)
    if G != NULL:
        G0 = G + L.G_offset[0]
        G1 = G + L.G_offset[1]
    for i in range(n):
        act = _act(L.nonlinearity, a[i])
        s_new[i] = act
        if G == NULL:
            continue
        d = _act_grad(L.nonlinearity, a[i], act)
        G0[i * n + i] = d
        for o in range(n_out):
            G1[i * n_out + o] = d * W0[i * K0 + m + 1 + o]
        if D == NULL:
            continue
        for l in range(n):
            acc = 0
            for o in range(n_out):
                acc = acc + G1[i * n_out + o] * V[o * K1 + l]
            D[i * n + l] = acc


cdef void cell_step(const Layout* L, const floating* w, const floating* x,
                    const floating* s_prev, floating* s_new, floating* z, floating* G,
                    floating* D, floating* work) noexcept nogil:
    # The one place where a new cell is registered with the kernels.
    if L.kind == CELL_ELMAN:
        _elman_step(L, w, x, s_prev, s_new, z, G, D, work)
    elif L.kind == CELL_GRU:
        _gru_step(L, w, x, s_prev, s_new, z, G, D, work)
    elif L.kind == CELL_LSTM:
        _lstm_step(L, w, x, s_prev, s_new, z, G, D, work)
    elif L.kind == CELL_JORDAN:
        _jordan_step(L, w, x, s_prev, s_new, z, G, D, work)


cdef void readout(const Layout* L, const floating* w, const floating* h,
                  floating* y_hat) noexcept nogil:
    # y_hat = V h + c with R = [V | c] (n_out x (n+1)), row-major
    cdef intp_t n = L.n, o, k
    cdef const floating* R = w + L.readout_offset
    cdef floating acc
    for o in range(L.n_out):
        acc = R[o * (n + 1) + n]
        for k in range(n):
            acc = acc + R[o * (n + 1) + k] * h[k]
        y_hat[o] = acc


cdef floating readout_loss(const Layout* L, const floating* w, const floating* h,
                           int loss_kind, const floating* y, intp_t label, floating weight,
                           floating* y_hat, floating* e, floating* e_bar,
                           floating* grad) noexcept nogil:
    cdef intp_t n = L.n, n_out = L.n_out, o, k
    cdef const floating* R = w + L.readout_offset
    cdef floating loss = 0, diff, mx, total, acc
    readout(L, w, h, y_hat)
    if weight == 0:
        memset(e, 0, n_out * sizeof(floating))
        memset(e_bar, 0, L.S * sizeof(floating))
        return 0
    if loss_kind == LOSS_SQUARED:
        # L = 1/2 ||y_hat - y||^2, dL/dy_hat = y_hat - y
        for o in range(n_out):
            diff = y_hat[o] - y[o]
            loss = loss + diff * diff
            e[o] = weight * diff
        loss = loss / 2
    else:
        # L = -log softmax(y_hat)[label], dL/dy_hat = softmax(y_hat) - onehot(label)
        mx = y_hat[0]
        for o in range(1, n_out):
            if y_hat[o] > mx:
                mx = y_hat[o]
        total = 0
        for o in range(n_out):
            e[o] = _exp(y_hat[o] - mx)
            total = total + e[o]
        loss = mx + _log(total) - y_hat[label]
        for o in range(n_out):
            e[o] = weight * (e[o] / total - (1 if o == label else 0))
    # e_bar = dL/ds = [V^T e; 0]
    memset(e_bar, 0, L.S * sizeof(floating))
    for o in range(n_out):
        for k in range(n):
            e_bar[k] = e_bar[k] + R[o * (n + 1) + k] * e[o]
    if grad != NULL:
        for o in range(n_out):
            for k in range(n):
                grad[L.readout_offset + o * (n + 1) + k] += e[o] * h[k]
            grad[L.readout_offset + o * (n + 1) + n] += e[o]
    return weight * loss


# ------------------------------------------------- products with the Jacobians, without D
# Learners that touch D only through a product or a few entries (UORO, SnAp) call
# cell_step with D = NULL and use these: D_t v = G (W v) + direct(v), where W is the part
# of the weights that multiplies the previous state and the direct terms (leak, the GRU's
# u, the LSTM's forget path) were cached in `work` by cell_step.


cdef void cell_jvp(const Layout* L, const floating* w, const floating* G,
                   const floating* work, const floating* v, floating* out,
                   floating* scratch) noexcept nogil:
    """out = D_t v (S), after cell_step(..., G, D=NULL, work); scratch: 4 n."""
    cdef intp_t n = L.n, m = L.m, S = L.S, i, j, q, R
    cdef const floating* W
    cdef floating acc
    if L.kind == CELL_ELMAN:
        W = w + L.offset[0]
        gemv_rm(False, <int> n, <int> n, <floating> 1, W + m + 1, <int> L.width[0], v,
                <floating> 0, scratch)
        for i in range(n):
            out[i] = G[i * n + i] * scratch[i] + (1 - <floating> L.leak) * v[i]
    elif L.kind == CELL_GRU:
        R = 3 * n
        gemv_rm(False, <int> R, <int> n, <floating> 1, w + L.offset[1], <int> L.width[1], v,
                <floating> 0, scratch)
        for j in range(n):
            acc = work[2 * R + j] * v[j]
            for q in range(3):
                acc = acc + G[L.G_offset[1] + j * R + q * n + j] * scratch[q * n + j]
            out[j] = acc
    elif L.kind == CELL_LSTM:
        R = 4 * n
        gemv_rm(False, <int> R, <int> n, <floating> 1, w + L.offset[0] + m + 1,
                <int> L.width[0], v, <floating> 0, scratch)
        for j in range(n):
            acc = work[R + n + j] * v[n + j]
            for q in range(4):
                acc = acc + G[j * R + q * n + j] * scratch[q * n + j]
            out[j] = acc
            acc = work[R + j] * v[n + j]
            for q in range(3):
                acc = acc + G[(n + j) * R + q * n + j] * scratch[q * n + j]
            out[n + j] = acc
    else:  # Jordan: D = G_1 V
        gemv_rm(False, <int> L.n_out, <int> n, <floating> 1, w + L.offset[1],
                <int> L.width[1], v, <floating> 0, scratch)
        gemv_rm(False, <int> n, <int> L.n_out, <floating> 1, G + L.G_offset[1],
                <int> L.n_out, scratch, <floating> 0, out)


# What cell_jvp reads of a step's G and work, gathered (save) and put back (load): a learner
# that applies D_t later (UORO's windows) keeps these O(n) numbers per step, not G (O(S r)).
# The indices mirror cell_jvp's reads; Jordan keeps its whole G_1 (n x n_out).

cdef intp_t cell_jvp_inputs_size(const Layout* L) noexcept nogil:
    if L.kind == CELL_ELMAN:
        return L.n
    if L.kind == CELL_GRU:
        return 4 * L.n
    if L.kind == CELL_LSTM:
        return 9 * L.n
    return L.n * L.n_out


cdef inline floating* _jvp_input(const Layout* L, floating* G, floating* work,
                                 intp_t c) noexcept nogil:
    # where the c-th of the numbers cell_jvp reads sits in G or work
    cdef intp_t n = L.n, j, q
    if L.kind == CELL_ELMAN:
        return &G[c * n + c]
    if L.kind == CELL_GRU:            # per unit j: G's three gate entries, then the u path
        j, q = c // 4, c % 4
        return &work[6 * n + j] if q == 3 else &G[L.G_offset[1] + j * 3 * n + q * n + j]
    if L.kind == CELL_LSTM:           # per unit j: 4 + 3 G entries, then the two direct paths
        j, q = c // 9, c % 9
        if q < 4:
            return &G[j * 4 * n + q * n + j]
        if q < 7:
            return &G[(n + j) * 4 * n + (q - 4) * n + j]
        return &work[5 * n + j] if q == 7 else &work[4 * n + j]
    return &G[L.G_offset[1] + c]      # Jordan: all of G_1


cdef void cell_jvp_inputs_save(const Layout* L, const floating* G, const floating* work,
                               floating* out) noexcept nogil:
    """out = the entries of G and work that cell_jvp reads (cell_jvp_inputs_size)."""
    cdef intp_t c
    for c in range(cell_jvp_inputs_size(L)):
        out[c] = _jvp_input(L, <floating*> G, <floating*> work, c)[0]


cdef void cell_jvp_inputs_load(const Layout* L, const floating* saved, floating* G,
                               floating* work) noexcept nogil:
    """Put saved entries back where cell_jvp reads them (the rest of G and work is unused)."""
    cdef intp_t c
    for c in range(cell_jvp_inputs_size(L)):
        _jvp_input(L, G, work, c)[0] = saved[c]


cdef intp_t cell_step_jvp_scratch(const Layout* L) noexcept nogil:
    return max(4 * L.n, L.width[0] + L.n)


cdef void cell_step_matvec(const Layout* L, const floating* w, const floating* x,
                           const floating* s_prev, floating* s_new, floating* z, floating* G,
                           floating* work, const floating* v, floating* Wv,
                           floating* scratch) noexcept nogil:
    """Elman: cell_step(..., D=NULL) and Wv = W_hh v (v: S, or NULL for none) in one pass
    over [W_ih | b | W_hh | b] (rtrl_gemv2: the forward sums do not depend on v, and Wv's
    are cell_hh_matvec's); scratch: K + n."""
    cdef intp_t n = L.n, m = L.m, K = L.width[0], i
    cdef const floating* W = w + L.offset[0]
    cdef floating alpha = <floating> L.leak
    cdef floating* a = work
    cdef floating* vext = scratch
    cdef floating* out = Wv if v != NULL else scratch + K
    cdef floating act
    memcpy(z, x, m * sizeof(floating))
    z[m] = 1
    memcpy(z + m + 1, s_prev, n * sizeof(floating))
    z[m + n + 1] = 1
    memset(vext, 0, K * sizeof(floating))
    if v != NULL:
        memcpy(vext + m + 1, v, n * sizeof(floating))
    if floating is double:
        rtrl_gemv2_f64(n, K, W, K, z, vext, a, out)
    else:
        rtrl_gemv2_f32(n, K, W, K, z, vext, a, out)
    for i in range(n):
        act = _act(L.nonlinearity, a[i])
        s_new[i] = (1 - alpha) * s_prev[i] + alpha * act
        G[i * n + i] = alpha * _act_grad(L.nonlinearity, a[i], act)


cdef void cell_hh_matvec(const Layout* L, const floating* w, const floating* v, floating* Wv,
                         floating* scratch) noexcept nogil:
    """Elman: Wv = W_hh v by the pass of cell_step_matvec (the same sums, to the bit);
    scratch: 2 K + n."""
    cdef intp_t n = L.n, m = L.m, K = L.width[0]
    cdef floating* vext = scratch
    cdef floating* zero = scratch + K
    memset(scratch, 0, 2 * K * sizeof(floating))
    memcpy(vext + m + 1, v, n * sizeof(floating))
    if floating is double:
        rtrl_gemv2_f64(n, K, w + L.offset[0], K, zero, vext, zero + K, Wv)
    else:
        rtrl_gemv2_f32(n, K, w + L.offset[0], K, zero, vext, zero + K, Wv)


cdef void cell_jvp_from_hh(const Layout* L, const floating* saved, const floating* Wv,
                           const floating* v, floating* out) noexcept nogil:
    """Elman: out = D_t v from Wv = W_hh v and the step's saved cell_jvp inputs (cell_jvp's
    formula, in its order)."""
    cdef intp_t i
    for i in range(L.n):
        out[i] = saved[i] * Wv[i] + (1 - <floating> L.leak) * v[i]


cdef void cell_step_jvp(const Layout* L, const floating* w, const floating* x,
                        const floating* s_prev, floating* s_new, floating* z, floating* G,
                        floating* work, const floating* v, floating* Dv,
                        floating* scratch) noexcept nogil:
    """cell_step(..., D=NULL) and Dv = D_t v (cell_jvp) together; scratch:
    cell_step_jvp_scratch. For Elman one pass over [W_ih | b | W_hh | b] gives both
    W z and W_hh v -- the tangent costs no second read of the weights."""
    cdef intp_t n = L.n, K = L.width[0], i
    cdef floating* Wv = scratch + K
    if L.kind != CELL_ELMAN:
        cell_step(L, w, x, s_prev, s_new, z, G, <floating*> NULL, work)
        cell_jvp(L, w, G, work, v, Dv, scratch)
        return
    cell_step_matvec(L, w, x, s_prev, s_new, z, G, work, v, Wv, scratch)
    for i in range(n):
        Dv[i] = G[i * n + i] * Wv[i] + (1 - <floating> L.leak) * v[i]


cdef floating cell_D_entry(const Layout* L, const floating* w, const floating* G,
                           const floating* work, intp_t i, intp_t l) noexcept nogil:
    """D_t[i, l], after cell_step(..., G, D=NULL, work)."""
    cdef intp_t n = L.n, m = L.m, j, q, R, K
    cdef floating acc = 0
    cdef const floating* W
    if L.kind == CELL_ELMAN:
        acc = G[i * n + i] * w[L.offset[0] + i * L.width[0] + m + 1 + l]
        return acc + (1 - <floating> L.leak if i == l else 0)
    if L.kind == CELL_GRU:
        R = 3 * n
        K = L.width[1]
        W = w + L.offset[1]
        for q in range(3):
            acc = acc + G[L.G_offset[1] + i * R + q * n + i] * W[(q * n + i) * K + l]
        return acc + (work[2 * R + i] if i == l else 0)
    if L.kind == CELL_LSTM:
        R = 4 * n
        K = L.width[0]
        W = w + L.offset[0]
        j = i % n
        if l >= n:                           # a c column: only c_j reaches unit j
            if l - n != j:
                return 0
            return work[R + n + j] if i < n else work[R + j]
        for q in range(4):
            acc = acc + G[i * R + q * n + j] * W[(q * n + j) * K + m + 1 + l]
        return acc
    for q in range(L.n_out):                 # Jordan
        acc = acc + G[L.G_offset[1] + i * L.n_out + q] * w[L.offset[1] + q * L.width[1] + l]
    return acc


cdef void cell_vjp_G(const Layout* L, const floating* G, const floating* nu,
                     floating* out) noexcept nogil:
    """out = (G_g^T nu) for every group, concatenated (sum of r_g), using which state
    entries each gate row reaches (its unit; every unit for the Jordan readout)."""
    cdef intp_t n = L.n, g, j, r, S = L.S
    cdef const floating* Gg
    for g in range(L.n_groups):
        r = L.rows[g]
        Gg = G + L.G_offset[g]
        if L.kind == CELL_JORDAN and g == 1:
            gemv_rm(True, <int> S, <int> r, <floating> 1, Gg, <int> r, nu, <floating> 0, out)
        elif L.kind == CELL_LSTM:
            for j in range(r):
                out[j] = Gg[(j % n) * r + j] * nu[j % n] + Gg[(n + j % n) * r + j] * nu[n + j % n]
        else:
            for j in range(r):
                out[j] = Gg[(j % n) * r + j] * nu[j % n]
        out += r
