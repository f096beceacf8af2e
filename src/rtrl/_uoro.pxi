# UORO (Tallec & Ollivier 2017), included by _core.pyx. See rtrl.learners.UORO.
#
# Stream state: s~ (S) then theta~ (P); 4 words of RNG state.

cdef void _uoro_step(const Layout* L, const floating* D, const floating* G, const floating* z,
                     floating* st,             # IN/OUT [s~ (S), theta~ (P)]
                     uint64_t* rng,            # IN/OUT generator state
                     const floating* e_bar, bint has_error,
                     floating* acc,            # IN/OUT += (e_bar . s~) theta~
                     floating* scratch         # S (a) + S (nu) + sum of r_g (G_g^T nu)
                     ) noexcept nogil:
    cdef intp_t S = L.S, g, j, k, r, K, i
    cdef floating* s_tilde = st
    cdef floating* theta = st + S
    cdef floating* a = scratch
    cdef floating* nu = a + S
    cdef floating* v = nu + S
    cdef floating* vg
    cdef floating* row
    cdef const floating* zg
    cdef double eps = 1e-7, n_a = 0, n_theta = 0, n_b2 = 0, n_v2, n_z2, rho0, rho1, c
    cdef floating vj
    for i in range(S):
        nu[i] = <floating> rng_sign(rng)
    # a = D s~ (the tangent forward-propagated), b = nu^T I_t = sum_g (G_g^T nu) (x) z_g
    gemv_rm(False, <int> S, <int> S, <floating> 1, D, <int> S, s_tilde, <floating> 0, a)
    for i in range(S):
        n_a += a[i] * a[i]
    for i in range(L.P):
        n_theta += theta[i] * theta[i]
    vg = v
    for g in range(L.n_groups):
        r = L.rows[g]
        K = L.width[g]
        gemv_rm(True, <int> S, <int> r, <floating> 1, G + L.G_offset[g], <int> r, nu,
                <floating> 0, vg)
        n_v2 = 0
        n_z2 = 0
        for j in range(r):
            n_v2 += vg[j] * vg[j]
        for k in range(K):
            n_z2 += z[L.z_offset[g] + k] * z[L.z_offset[g] + k]
        n_b2 += n_v2 * n_z2                  # ||v (x) z||^2 = ||v||^2 ||z||^2
        vg += r
    # variance-minimising scales
    rho0 = sqrt(sqrt(n_theta) / (sqrt(n_a) + eps)) + eps
    rho1 = sqrt(sqrt(n_b2) / (sqrt(<double> S) + eps)) + eps
    for i in range(S):
        s_tilde[i] = <floating> (rho0 * a[i] + rho1 * nu[i])
    for i in range(L.P):
        theta[i] = <floating> (theta[i] / rho0)
    vg = v
    for g in range(L.n_groups):
        r = L.rows[g]
        K = L.width[g]
        zg = z + L.z_offset[g]
        for j in range(r):
            vj = <floating> (vg[j] / rho1)
            if vj == 0:
                continue
            row = theta + L.offset[g] + j * K
            for k in range(K):
                row[k] += vj * zg[k]
        vg += r
    if has_error:
        c = 0
        for i in range(S):
            c += e_bar[i] * s_tilde[i]
        for i in range(L.P):
            acc[i] += <floating> (c * theta[i])
