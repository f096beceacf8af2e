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


cdef inline void _kf_merge(intp_t n, floating a, bint with_x, const floating* x, floating b,
                           bint with_y, const floating* y, floating* out) noexcept nogil:
    # out = a x + b y, leaving out whichever term is absent (out may be x)
    cdef intp_t i
    if with_x and with_y:
        for i in range(n):
            out[i] = a * x[i] + b * y[i]
    elif with_x:
        for i in range(n):
            out[i] = a * x[i]
    elif with_y:
        for i in range(n):
            out[i] = b * y[i]
    else:
        memset(out, 0, n * sizeof(floating))


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
        # one vectorisable pass each (multiplications by reciprocals, no branches inside; a
        # term that is absent is not multiplied by zero, which would keep a NaN)
        _kf_merge(K, <floating> (c1 * p1), has_old, u, <floating> (c2 * p2), has_new, zg, u)
        _kf_merge(S * r, <floating> (c1 / p1), has_old, DA, <floating> (c2 / p2), has_new, Gg,
                  A)
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


cdef bint _ok_gram = 1    # OK orthogonalises its long factor through the Gram matrix


def _ok_orthogonalise_by_gram(bint enabled):
    """Testing hook: ``False`` makes OK orthogonalise every factor by Householder QR."""
    global _ok_gram
    _ok_gram = enabled


cdef void _gram(intp_t n, intp_t m, const floating* a, double* g) noexcept nogil:
    # g = a^T a (lower triangle, column-major m x m) of the column-major n x m matrix a, in
    # float64, in one pass over a
    cdef intp_t b, p, q
    cdef double ap
    cdef double g6[6]
    if m == 3:                                  # rank 2, the default: a vectorised kernel
        if floating is double:
            rtrl_gram3_f64(n, a, a + n, a + 2 * n, g6)
        else:
            rtrl_gram3_f32(n, a, a + n, a + 2 * n, g6)
        g[0], g[1], g[2], g[4], g[5], g[8] = g6[0], g6[1], g6[2], g6[3], g6[4], g6[5]
        return
    memset(g, 0, m * m * sizeof(double))
    for b in range(n):
        for p in range(m):
            ap = a[b + p * n]
            for q in range(p, m):
                g[q + p * m] += ap * a[b + q * n]


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
    cdef double s_sum, scale
    cdef double* V
    cdef bint use_gram
    cdef double rank_tol = 1e-5             # float32
    cdef blas_int lwork
    if floating is double:
        rank_tol = 1e-13
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
        # the doubles start on an 8-byte boundary (LAPACK reads V with vector loads; with
        # float32 entries before them they could start mid-double)
        xs = <double*> ((<uintptr_t> (Ra + m * m) + 7) & ~(<uintptr_t> 7))
        ys = xs + m * rank
        vv = ys + m * rank
        W = vv + m
        V = W + m * m
        work = <floating*> (V + m * m)
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
        # A (n^2 x m, the long side) through its Gram matrix, summed in float64 in one pass:
        # A^T A = R_a^T R_a (Cholesky, R_a upper triangular with a positive diagonal), Q_a =
        # A R_a^-1 left implicit -- step 4 maps back through A itself. That R_a is A's QR
        # factor with the positive-diagonal convention, which the Householder route (about
        # seven passes over A) is brought to as well, so both give the same numbers to
        # rounding while every column of A keeps a part orthogonal to the columns before it
        # (L_jj^2 > 1e-4 ||a_j||^2, a sine above 0.01: the Gram route's R_a is then within
        # eps cond(A)^2 <~ 1e-12 of Householder's; Cholesky is exact up to column scalings).
        # Otherwise -- nearly dependent columns, fewer rows than columns, a zero column --
        # and in float32 (whose eps would show through the Gram matrix) Householder does it.
        use_gram = floating is double and _ok_gram and N >= m
        if use_gram:
            _gram(N, m, Ac, V)
            for j in range(m):
                vv[j] = V[j + j * m]            # ||a_j||^2, before dpotrf overwrites it
            use_gram = cholesky_inplace(<blas_int> m, V) == 0
            for j in range(m):
                use_gram = use_gram and V[j + j * m] * V[j + j * m] > 1e-4 * vv[j]
        if use_gram:
            for j in range(m):                  # R_a = L^T
                for b in range(m):
                    Ra[j + b * ma] = <floating> (V[b + j * m] if b >= j else 0)
        else:
            qr_inplace(<blas_int> N, <blas_int> m, Ac, tau, work, lwork)
            memcpy(Ra, work, ma * m * sizeof(floating))
            for j in range(ma):                 # the positive-diagonal convention
                if Ra[j + j * ma] < 0:
                    for b in range(m):
                        Ra[j + b * ma] = -Ra[j + b * ma]
                    for b in range(N):
                        Ac[b + j * N] = -Ac[b + j * N]
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
        # C's numerical rank: a smallest singular value at rounding level (of C's largest)
        # is a zero -- the terms have rank <= `rank` and are kept exactly, whichever
        # orthogonalisation rounded them
        if q <= rank or sv[q - 1] <= rank_tol * sv[0]:
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
        # 4. back to the original bases: u_i = Q_u x_i, vec A_i = Q_a y_i -- as GEMMs, rows
        # [u_1; ..] = X^T Q_u^T and [vec A_1; ..] = Y^T Q_a^T (the coefficients in `work`)
        for i in range(m * rank):
            work[i] = <floating> xs[i]
            work[m * rank + i] = <floating> ys[i]
        if use_gram:                            # Q_a y = A (R_a^-1 y): back-substitution
            for i in range(rank):
                for j in range(m - 1, -1, -1):
                    s_sum = ys[j + i * m]
                    for b in range(j + 1, m):
                        s_sum -= V[b + j * m] * vv[b]
                    vv[j] = s_sum / V[j + j * m]
                    work[m * rank + i * m + j] = <floating> vv[j]
        gemm_rm(<blas_int> rank, <blas_int> K, <blas_int> mu, <floating> 1, work, <blas_int> m,
                Uc, <blas_int> K, <floating> 0, us, <blas_int> K)
        gemm_rm(<blas_int> rank, <blas_int> N, <blas_int> ma, <floating> 1, work + m * rank,
                <blas_int> m, Ac, <blas_int> N, <floating> 0, As, <blas_int> N)
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
                + 2 * (2 * m * rank + 2 * m + 2 * m * m)
                + 8 * (N + K + m) + 16 * m * m + 64 * m + N + K)
        need = max(need, here)
    return need + 10
