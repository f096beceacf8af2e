# Exact RTRL in windows (Schmidhuber 1992), included by _core.pyx. See rtrl.learners.RTRL.
#
# While the parameters stay fixed over a window of w steps (steps 0..w-1 after J_0), the
# per-step recurrence J_s = D_s J_{s-1} + I_s unrolls into
#
#     J_w = Phi J_0 + sum_s Phi_s I_s,        Phi_s = D_{w-1} ... D_{s+1},  Phi = Phi_{-1},
#     sum_s e_s J_s = J_0^T lambda + sum_s delta_s^T I_s   (as gradients),
#
# with the window's adjoints delta_s = e_s + D_{s+1}^T delta_{s+1} (BPTT inside the window)
# and lambda = D_0^T delta_0. So each step only stores (D_s, G_s, z_s, e_s); the window's end
# costs w state products (S^3 each) for the Phi_s, ONE GEMM Phi J_0 (2 S^2 P) and, for the
# Kronecker-structured immediate terms, (Phi_s G_s) z_s^T summed over s as GEMMs of inner
# dimension w (2 S P w). Amortised per step: O(S^2 P / w + S^3 + S P) instead of O(S^2 P).
#
# Stream state after the influence storage (`base` = S (P + bw)): D (w x S^2), G
# (w x G_size), z (w x z_size), e (w x S). ints: [column shift of J, steps in the window].
# The Phi_s overwrite the D slots once the adjoints are done (slot s + 1 <- Phi_s^T).


cdef intp_t _rtrl_window_scratch(const Layout* L, intp_t W) noexcept nogil:
    """Numbers of scratch a window's end needs (besides the threads' boundary buffers)."""
    cdef intp_t g, r_max = 0, S = L.S
    for g in range(L.n_groups):
        r_max = max(r_max, L.rows[g])
    # Psi (S^2), M^T of one group (r_max x W x S), U (sum r_g x W), 3 vectors, a zero G
    return (S * S + r_max * W * S + (L.G_size // S) * W + 2 * S + max(S, L.G_size // S)
            + L.G_size)


cdef void _rtrl_window_push(const Layout* L, intp_t W, intp_t base, const floating* D,
                            const floating* G, const floating* z, const floating* e_bar,
                            bint has_error, floating* st, int64_t* ints) noexcept nogil:
    """Store step s = ints[1] of the open window."""
    cdef intp_t S = L.S, s = ints[1]
    cdef floating* Dw = st + base
    cdef floating* Gw = Dw + W * S * S
    cdef floating* Zw = Gw + W * L.G_size
    cdef floating* Ew = Zw + W * L.z_size
    memcpy(Dw + s * S * S, D, S * S * sizeof(floating))
    memcpy(Gw + s * L.G_size, G, L.G_size * sizeof(floating))
    memcpy(Zw + s * L.z_size, z, L.z_size * sizeof(floating))
    if has_error:
        memcpy(Ew + s * S, e_bar, S * sizeof(floating))
    else:
        memset(Ew + s * S, 0, S * sizeof(floating))
    ints[1] = s + 1


cdef void _rtrl_window_flush(const Layout* L, intp_t W, intp_t base, intp_t bw,
                             intp_t n_ranges, floating* st, int64_t* ints, floating* acc,
                             floating* scratch, floating* save_bufs) noexcept nogil:
    """Close the open window: acc += its gradient, J <- J at its end."""
    cdef intp_t n = ints[1], S = L.S, P = L.P, ld = L.P + bw, nr = L.G_size // L.S
    cdef intp_t s, g, i, j, k, r, K, row0, q
    cdef floating* Dw = st + base
    cdef floating* Gw = Dw + W * S * S
    cdef floating* Zw = Gw + W * L.G_size
    cdef floating* Ew = Zw + W * L.z_size
    cdef floating* Psi = scratch
    cdef floating* Mt = Psi + S * S
    cdef floating* U
    cdef floating* delta
    cdef floating* tmp
    cdef floating* ucol
    cdef floating* Gzero
    cdef const floating* Gs
    cdef const floating* Psi_s
    cdef floating* mrow
    cdef floating gij
    cdef intp_t r_max = 0
    if n == 0:
        return
    for g in range(L.n_groups):
        r_max = max(r_max, L.rows[g])
    U = Mt + r_max * W * S
    delta = U + nr * W
    tmp = delta + S
    ucol = tmp + S
    Gzero = ucol + max(S, nr)
    # 1. the window's adjoints, backwards; U[:, s] = G_s^T delta_s (every group)
    for s in range(n - 1, -1, -1):
        if s == n - 1:
            memcpy(delta, Ew + s * S, S * sizeof(floating))
        else:
            memcpy(tmp, Ew + s * S, S * sizeof(floating))
            gemv_rm(True, <blas_int> S, <blas_int> S, <floating> 1, Dw + (s + 1) * S * S,
                    <blas_int> S, delta, <floating> 1, tmp)
            memcpy(delta, tmp, S * sizeof(floating))
        cell_vjp_G(L, Gw + s * L.G_size, delta, ucol)
        for j in range(nr):
            U[j * W + s] = ucol[j]
    gemv_rm(True, <blas_int> S, <blas_int> S, <floating> 1, Dw, <blas_int> S, delta,
            <floating> 0, tmp)                                   # lambda = D_0^T delta_0
    # 2. the gradient: J_0^T lambda, and sum_s (G_s^T delta_s) (x) z_s as one GEMM per group
    gemv_rm(True, <blas_int> S, <blas_int> P, <floating> 1, st + ints[0], <blas_int> ld, tmp,
            <floating> 1, acc)
    row0 = 0
    for g in range(L.n_groups):
        r = L.rows[g]
        gemm_rm(<blas_int> r, <blas_int> L.width[g], <blas_int> n, <floating> 1,
                U + row0 * W, <blas_int> W, Zw + L.z_offset[g], <blas_int> L.z_size,
                <floating> 1, acc + L.offset[g], <blas_int> L.width[g])
        row0 += r
    # 3. Psi_s = Phi_s^T = D_{s+1}^T Psi_{s+1} (Psi_{n-1} = I), into the D slots: slot s + 1
    #    <- Psi_s once D_{s+1} is used up; slot 0 <- Psi_{-1} = Phi^T
    for s in range(n - 2, -2, -1):
        if s == n - 2:
            memcpy(Psi, Dw + (s + 1) * S * S, S * S * sizeof(floating))
            for i in range(S):                       # D^T I, transposed in place below
                for j in range(i + 1, S):
                    gij = Psi[i * S + j]
                    Psi[i * S + j] = Psi[j * S + i]
                    Psi[j * S + i] = gij
        else:
            gemm_rm_tn(<blas_int> S, <blas_int> S, <blas_int> S, <floating> 1,
                       Dw + (s + 1) * S * S, <blas_int> S, Dw + (s + 2) * S * S,
                       <blas_int> S, <floating> 0, Psi, <blas_int> S)
        memcpy(Dw + (s + 1) * S * S, Psi, S * S * sizeof(floating))
    # 4. J <- Phi J_0 (the per-step kernel with D = Phi and no immediate term: threads,
    #    shifting storage), Phi = transpose of slot 0
    for i in range(S):
        for j in range(S):
            Psi[i * S + j] = Dw[j * S + i]
    memset(Gzero, 0, L.G_size * sizeof(floating))
    _rtrl_step(L, <SparseColumns*> NULL, P, Psi, Gzero, Zw, st, ints, bw, n_ranges, tmp,
               False, acc, save_bufs)
    # 5. J[:, row j of W_g] += sum_s (Phi_s G_s)[:, j] z_s^T: M^T (rows j, then s) and one
    #    GEMM of inner dimension n per row j
    for g in range(L.n_groups):
        r = L.rows[g]
        K = L.width[g]
        for s in range(n):
            Gs = Gw + s * L.G_size + L.G_offset[g]
            Psi_s = Dw + (s + 1) * S * S if s < n - 1 else NULL     # NULL: the identity
            for j in range(r):
                mrow = Mt + (j * W + s) * S
                if Psi_s == NULL:
                    for i in range(S):
                        mrow[i] = Gs[i * r + j]
                    continue
                memset(mrow, 0, S * sizeof(floating))
                for q in range(S):
                    gij = Gs[q * r + j]
                    if gij == 0:
                        continue
                    for i in range(S):
                        mrow[i] += gij * Psi_s[q * S + i]
        for j in range(r):
            gemm_rm_tn(<blas_int> S, <blas_int> K, <blas_int> n, <floating> 1,
                       Mt + j * W * S, <blas_int> S, Zw + L.z_offset[g], <blas_int> L.z_size,
                       <floating> 1, st + ints[0] + L.offset[g] + j * K, <blas_int> ld)
    ints[1] = 0
