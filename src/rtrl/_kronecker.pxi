# KF-RTRL (Mujika, Meier & Steger 2018) and OK (Benzing et al. 2019), included by _core.pyx.
# See rtrl.learners.KF and rtrl.learners.OK.
#
# For every weight group g the influence J_g (S x r_g K_g) is approximated by a sum of `rank`
# Kronecker products u_i (x) A_i, J_g[:, (j, k)] = sum_i A_i[:, j] u_i[k]. Stream state, per
# group: u_1..u_rank (rank x K_g) then A_1..A_rank (rank x S x r_g, row-major); 4 words of RNG.


cdef inline double _norm(const floating* a, intp_t n) noexcept nogil:
    return sqrt(dot(<blas_int> n, a, a))


cdef void _kron_gradient(const Layout* L, intp_t g, intp_t rank, const floating* us,
                         const floating* As, const floating* e_bar, floating* acc,
                         floating* v) noexcept nogil:
    # acc_g += sum_i (A_i^T e_bar) (x) u_i
    cdef intp_t S = L.S, r = L.rows[g], K = L.width[g], i, j, k
    cdef floating* row
    cdef floating vj
    for i in range(rank):
        gemv_rm(True, <int> S, <int> r, <floating> 1, As + i * S * r, <int> r, e_bar,
                <floating> 0, v)
        for j in range(r):
            vj = v[j]
            if vj == 0:
                continue
            row = acc + L.offset[g] + j * K
            for k in range(K):
                row[k] += vj * us[i * K + k]


cdef void _kf_step(const Layout* L, const floating* D, const floating* G, const floating* z,
                   floating* st, uint64_t* rng, const floating* e_bar, bint has_error,
                   floating* acc,
                   floating* scratch         # max_g S r_g (D A) + max_g r_g
                   ) noexcept nogil:
    cdef intp_t S = L.S, g, r, K, i
    cdef floating* u
    cdef floating* A
    cdef const floating* Gg
    cdef const floating* zg
    cdef floating* DA = scratch
    cdef floating* v
    cdef double n_DA, n_u, n_G, n_z, p1, p2, c1, c2
    cdef bint has_old, has_new
    for g in range(L.n_groups):
        r = L.rows[g]
        K = L.width[g]
        u = st
        A = st + K
        Gg = G + L.G_offset[g]
        zg = z + L.z_offset[g]
        v = DA + S * r
        # D_t (u (x) A) = u (x) (D_t A) exactly; I_t = z (x) G
        gemm_rm(<int> S, <int> r, <int> S, <floating> 1, D, <int> S, A, <int> r,
                <floating> 0, DA, <int> r)
        n_DA = _norm(DA, S * r)
        n_u = _norm(u, K)
        n_G = _norm(Gg, S * r)
        n_z = _norm(zg, K)
        has_old = n_DA * n_u > 0
        has_new = n_G * n_z > 0
        # p1, p2 balance the norms of the two factors (minimum variance); c1, c2 are
        # independent random signs, which make the merged product unbiased
        c1 = 1
        c2 = 1
        if has_old and has_new:
            c1 = rng_sign(rng)
            c2 = rng_sign(rng)
        p1 = sqrt(n_DA / n_u) if has_old else 1
        p2 = sqrt(n_G / n_z) if has_new else 1
        for i in range(K):
            u[i] = <floating> ((c1 * p1 * u[i] if has_old else 0)
                               + (c2 * p2 * zg[i] if has_new else 0))
        for i in range(S * r):
            A[i] = <floating> ((c1 * DA[i] / p1 if has_old else 0)
                               + (c2 * Gg[i] / p2 if has_new else 0))
        if has_error:
            _kron_gradient(L, g, 1, u, A, e_bar, acc, v)
        st += K + S * r


cdef void _householder_complement(intp_t n, const double* v, double* W) noexcept nogil:
    # W (n x (n-1), column-major): an orthonormal basis of the complement of the unit vector
    # v, the last n-1 columns of the reflector H = I - 2 h h^T / h^T h, h = v + sign(v_0) e_0
    # (H e_0 is parallel to v).
    cdef intp_t i, j
    cdef double h0 = v[0] + (1.0 if v[0] >= 0 else -1.0), hh = h0 * h0
    for i in range(1, n):
        hh += v[i] * v[i]
    for j in range(1, n):
        for i in range(n):
            W[i + (j - 1) * n] = ((1.0 if i == j else 0.0)
                                  - 2.0 * (h0 if i == 0 else v[i]) * v[j] / hh)


cdef void _ok_step(const Layout* L, intp_t rank, const floating* D, const floating* G,
                   const floating* z, floating* st, uint64_t* rng, const floating* e_bar,
                   bint has_error, floating* acc,
                   floating* scratch          # see _ok_scratch
                   ) noexcept nogil:
    cdef intp_t S = L.S, g, r, K, i, j, b, q, kk, m = rank + 1, mu, ma, N, top
    cdef floating* us
    cdef floating* As
    cdef floating* Uc
    cdef floating* Ac
    cdef floating* tau
    cdef floating* Ru
    cdef floating* Ra
    cdef floating* C
    cdef floating* sv
    cdef floating* Lm
    cdef floating* VT
    cdef floating* work
    cdef double* xs
    cdef double* ys
    cdef double* vv
    cdef double* W
    cdef double s_sum, big, scale
    cdef blas_int lwork
    for g in range(L.n_groups):
        r = L.rows[g]
        K = L.width[g]
        N = S * r
        us = st
        As = st + rank * K
        # the rank + 1 terms: (u_i, D A_i) and (z, G), as columns of U (K x m), A (N x m)
        Uc = scratch
        Ac = Uc + K * m
        tau = Ac + N * m
        C = tau + m
        sv = C + m * m
        Lm = sv + m
        VT = Lm + m * m
        Ru = VT + m * m
        Ra = Ru + m * m
        xs = <double*> (Ra + m * m)
        ys = xs + m * rank
        vv = ys + m * rank
        W = vv + m
        work = <floating*> (W + m * m)
        lwork = <blas_int> (8 * (N + K + m) + 16 * m * m + 64 * m)
        for i in range(rank):
            memcpy(Uc + i * K, us + i * K, K * sizeof(floating))
            gemm_rm(<int> S, <int> r, <int> S, <floating> 1, D, <int> S, As + i * N, <int> r,
                    <floating> 0, Ac + i * N, <int> r)
        memcpy(Uc + rank * K, z + L.z_offset[g], K * sizeof(floating))
        memcpy(Ac + rank * N, G + L.G_offset[g], N * sizeof(floating))
        # 1. U = Q_u R_u, A = Q_a R_a: sum_i u_i vec(A_i)^T = Q_u (R_u R_a^T) Q_a^T
        mu = min(K, m)
        ma = min(N, m)
        qr_inplace(<blas_int> K, <blas_int> m, Uc, tau, work, lwork)
        memcpy(Ru, work, mu * m * sizeof(floating))
        qr_inplace(<blas_int> N, <blas_int> m, Ac, tau, work, lwork)
        memcpy(Ra, work, ma * m * sizeof(floating))
        for j in range(ma):                     # C = R_u R_a^T (mu x ma, column-major)
            for i in range(mu):
                s_sum = 0
                for b in range(m):
                    s_sum += Ru[i + b * mu] * Ra[j + b * ma]
                C[i + j * mu] = <floating> s_sum
        # 2. C = L diag(sigma) R^T
        q = min(mu, ma)
        svd_thin(<blas_int> mu, <blas_int> ma, C, sv, Lm, VT, work, lwork)
        # 3. rank-`rank` factors x_i (in Q_u's basis), y_i (in Q_a's) with E[sum x y^T] = C
        memset(xs, 0, m * rank * sizeof(double))
        memset(ys, 0, m * rank * sizeof(double))
        if q <= rank or sv[q - 1] <= 0:
            top = min(q, rank)                  # exact: no more than `rank` components
            kk = 0
        else:
            # largest k such that the k + 1 smallest values satisfy max <= sum / k
            kk = rank
            while kk > 1:
                s_sum = 0
                for b in range(rank - kk, m):
                    s_sum += sv[b]
                if sv[rank - kk] <= s_sum / kk:
                    break
                kk -= 1
            top = rank - kk
        for i in range(top):
            scale = sqrt(<double> sv[i])
            for b in range(mu):
                xs[b + i * m] = scale * Lm[b + i * mu]
            for b in range(ma):
                ys[b + i * m] = scale * VT[i + b * q]
        if kk > 0:
            s_sum = 0
            for b in range(top, m):
                s_sum += sv[b]
            if s_sum > 0:
                # B = diag(sigma_B) replaced by (s/k)(I - v v^T), v_b = +-sqrt(1 - k sigma_b/s)
                for b in range(kk + 1):
                    vv[b] = rng_sign(rng) * sqrt(max(0.0, 1.0 - kk * sv[top + b] / s_sum))
                _householder_complement(kk + 1, vv, W)
                scale = sqrt(s_sum / kk)
                for j in range(kk):
                    for b in range(kk + 1):
                        for i in range(mu):
                            xs[i + (top + j) * m] += (scale * W[b + j * (kk + 1)]
                                                      * Lm[i + (top + b) * mu])
                        for i in range(ma):
                            ys[i + (top + j) * m] += (scale * W[b + j * (kk + 1)]
                                                      * VT[(top + b) + i * q])
        # 4. back to the original bases: u_i = Q_u x_i, vec A_i = Q_a y_i
        for i in range(rank):
            for b in range(K):
                s_sum = 0
                for j in range(mu):
                    s_sum += Uc[b + j * K] * xs[j + i * m]
                us[i * K + b] = <floating> s_sum
            for b in range(N):
                s_sum = 0
                for j in range(ma):
                    s_sum += Ac[b + j * N] * ys[j + i * m]
                As[i * N + b] = <floating> s_sum
        if has_error:
            _kron_gradient(L, g, rank, us, As, e_bar, acc, Ac)  # Ac: N >= r_g free entries
        st += rank * (K + N)


cdef intp_t _ok_scratch(const Layout* L, intp_t rank) noexcept nogil:
    # floating entries _ok_step needs (doubles counted twice)
    cdef intp_t g, K, N, m = rank + 1, need = 0, here
    for g in range(L.n_groups):
        K = L.width[g]
        N = L.S * L.rows[g]
        here = (K * m + N * m + m + 5 * m * m + m
                + 2 * (2 * m * rank + m + m * m)
                + 8 * (N + K + m) + 16 * m * m + 64 * m + N + K)
        need = max(need, here)
    return need + 8
