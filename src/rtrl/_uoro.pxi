# UORO (Tallec & Ollivier 2017), included by _core.pyx. See rtrl.learners.UORO.
#
# Stream state: s~ (S) then theta~ (P); ints: 4 words of RNG state, then ||theta~||^2 (the
# bits of a double), computed by the pass that writes theta~ so no step reads theta~ twice.

cdef void _uoro_step(const Layout* L, const floating* w, const floating* work,
                     const floating* G, const floating* z,
                     floating* st,             # IN/OUT [s~ (S), theta~ (P)]
                     int64_t* ints,            # IN/OUT generator state, ||theta~||^2
                     const floating* e_bar, bint has_error,
                     floating* acc,            # IN/OUT += (e_bar . s~) theta~
                     floating* scratch,        # 2 S (a, nu) + sum of r_g (G^T nu) + 4 n
                     bint tangent_done         # a = D s~ is already in scratch[:S]
                     ) noexcept nogil:
    # D_t enters only through D_t s~ (cell_jvp), so the cell never forms it: O(S^2 + P)
    cdef intp_t S = L.S, g, j, k, r, K, i
    cdef floating* s_tilde = st
    cdef floating* theta = st + S
    cdef floating* a = scratch
    cdef floating* nu = a + S
    cdef floating* v = nu + S
    cdef floating* vg
    cdef floating* row
    cdef floating* accrow
    cdef const floating* zg
    cdef double eps = 1e-7, n_a = 0, n_theta = 0, n_b2 = 0, n_v2, n_z2, rho0, rho1, c = 0
    cdef floating vj, inv0, cg
    cdef uint64_t* rng = <uint64_t*> ints
    for i in range(S):
        nu[i] = <floating> rng_sign(rng)
    # a = D s~ (the tangent forward-propagated), b = nu^T I_t = sum_g (G_g^T nu) (x) z_g
    if not tangent_done:
        cell_jvp(L, w, G, work, s_tilde, a, v + L.G_size // S)
    cell_vjp_G(L, G, nu, v)
    n_a = dot(<blas_int> S, a, a)
    memcpy(&n_theta, ints + 4, sizeof(double))
    vg = v
    for g in range(L.n_groups):
        r = L.rows[g]
        K = L.width[g]
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
        c += e_bar[i] * s_tilde[i]
    if not has_error:
        c = 0
    # one pass over theta~: theta~ <- theta~ / rho0 + b / rho1, acc += (e_bar . s~) theta~,
    # and the new ||theta~||^2 for the next step
    inv0 = <floating> (1 / rho0)
    cg = <floating> c
    n_theta = 0
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
    memcpy(ints + 4, &n_theta, sizeof(double))
