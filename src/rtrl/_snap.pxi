# SnAp-k (Menick et al. 2020), included by _core.pyx. See rtrl.learners.SnAp.
#
# The kept pattern depends only on the row j of a weight group g (every column (g, j, k) has
# the same rows), so the influence is stored as one dense block per (g, j): the rows R_gj it
# keeps (|R_gj| = p) times the row's columns (K_g, less masked weights), row-major, at `value_offset[b]` of the stream state
# (b = the block's index, sum of the rows of the groups before g, plus j). The step is
# J_b <- (D_t J_b + I_t)[R_gj] = D_t[R_gj, R_gj] J_b + G_g[R_gj, j] z_g^T: the pattern is closed
# under D's structure up to k steps, and everything outside it is dropped. Only the entries
# D_t[R_gj, R_gj] are needed: for small blocks (SnAp-1) they come from cell_D_entry and the
# cell never forms D_t; large blocks read a dense D_t.


ctypedef struct SnapPattern:
    const intp_t* row_ptr       # block b keeps rows[row_ptr[b]:row_ptr[b + 1]]
    const intp_t* rows
    const intp_t* col_ptr       # and the columns cols[col_ptr[b]:col_ptr[b + 1]] of its row
    const intp_t* cols          # (all K_g, less the masked weights of a sparse network)
    const intp_t* value_offset  # where block b's values start in the stream state
    intp_t max_rows             # the largest p


cdef SnapPattern _snap_pattern(dict lspec) except *:
    cdef SnapPattern pat
    pat.row_ptr = _index_array(lspec, "row_ptr")
    pat.rows = _index_array(lspec, "rows")
    pat.col_ptr = _index_array(lspec, "col_ptr")
    pat.cols = _index_array(lspec, "cols")
    pat.value_offset = _index_array(lspec, "value_offset")
    pat.max_rows = lspec["max_rows"]
    return pat


cdef void _snap_step(const Layout* L, const SnapPattern* pat, const floating* w,
                     const floating* work, const floating* D, const floating* G,
                     const floating* z, floating* st,
                     const floating* e_bar, bint has_error, floating* acc,
                     floating* scratch        # max_rows^2 + max_rows * max K
                     ) noexcept nogil:
    cdef intp_t S = L.S, g, j, k, r, K, b = 0, p, a, c, i
    cdef const intp_t* R
    cdef const intp_t* C
    cdef const floating* Gg
    cdef const floating* zg
    cdef floating* V
    cdef floating* Dsub = scratch
    cdef floating* out = scratch + pat.max_rows * pat.max_rows
    cdef floating* grow
    cdef floating d, gij, ei
    for g in range(L.n_groups):
        r = L.rows[g]
        Gg = G + L.G_offset[g]
        zg = z + L.z_offset[g]
        for j in range(r):
            p = pat.row_ptr[b + 1] - pat.row_ptr[b]
            R = pat.rows + pat.row_ptr[b]
            grow = acc + L.offset[g] + j * L.width[g]   # this row's parameters
            K = pat.col_ptr[b + 1] - pat.col_ptr[b]      # how many of them are stored
            C = pat.cols + pat.col_ptr[b]
            V = st + pat.value_offset[b]
            if p == 1:
                # SnAp-1 of a single-row unit: a scalar recurrence per parameter, O(K)
                i = R[0]
                d = D[i * S + i] if D != NULL else cell_D_entry(L, w, G, work, i, i)
                gij = Gg[i * r + j]
                ei = e_bar[i] if has_error else 0
                if K == L.width[g]:          # every column stored: one contiguous row pass
                    if floating is double:
                        rtrl_snap1_row_f64(K, d, gij, ei, zg, V, grow)
                    else:
                        rtrl_snap1_row_f32(K, d, gij, ei, zg, V, grow)
                else:
                    for k in range(K):
                        V[k] = d * V[k] + gij * zg[C[k]]
                        grow[C[k]] += ei * V[k]
            elif p > 1:
                for a in range(p):
                    for c in range(p):
                        if D != NULL:
                            Dsub[a * p + c] = D[R[a] * S + R[c]]
                        else:
                            Dsub[a * p + c] = cell_D_entry(L, w, G, work, R[a], R[c])
                    gij = Gg[R[a] * r + j]
                    for k in range(K):
                        out[a * K + k] = gij * zg[C[k]]
                gemm_rm(<int> p, <int> K, <int> p, <floating> 1, Dsub, <int> p, V, <int> K,
                        <floating> 1, out, <int> K)
                memcpy(V, out, p * K * sizeof(floating))
                if has_error:
                    for a in range(p):
                        ei = e_bar[R[a]]
                        if ei == 0:
                            continue
                        for k in range(K):
                            grow[C[k]] += ei * V[a * K + k]
            b += 1


# ---------------------------------------------------------------- SnAp-1 in windows
#
# On a dense network every SnAp-1 block of Elman and GRU is one row i of one unit, and its
# row of parameters obeys V_t = d_t V_{t-1} + g_t z_t (d_t = D_t[i, i], g_t = G_t[i, j]).
# While the parameters are fixed this unrolls over a window of w steps into
#
#     V_w = c V_0 + sum_s A_s z_s,            A_s = g_s P_s,  P_s = prod_{u > s} d_u,
#     sum_t e_t V_t = E V_0 + sum_s B_s z_s,  B_s = g_s R_s,  R_s = e_s + d_{s+1} R_{s+1},
#
# with c = d_0 P_0 and E = d_0 R_0 (R is the row's adjoint inside the window). So each step
# only stores d_t and e_t per state entry, g_t per block and z_t; the window's end runs the
# backward recursions (O(S w)), forms A and B per group and applies two GEMMs per group,
# (r x w)(w x K): the O(P) passes of the per-step form (V and the gradient, read and written
# every step) happen once per window. Stream state after V: d (W x S), e (W x S), g
# (W x n_blocks), z (W x z_size); ints[0] = steps in the open window. The window closes when
# full, at the end of the stream's sequence, before every parameter update and when the stream
# is reset, so the arithmetic depends only on the stream's history, not on how calls cut it.


cdef inline intp_t _snap1_window_scratch(const Layout* L, intp_t W) noexcept nogil:
    """Scratch of a window's end: R and P (S x W), A and B of one group (r x W each)."""
    cdef intp_t g, r_max = 0
    for g in range(L.n_groups):
        r_max = max(r_max, L.rows[g])
    return 2 * L.S * W + 2 * r_max * W


cdef void _snap1_window_step(const Layout* L, const SnapPattern* pat, intp_t W, intp_t base,
                             const floating* w, const floating* work, const floating* G,
                             const floating* z, floating* st, int64_t* ints,
                             const floating* e_bar, bint has_error, floating* acc,
                             floating* scratch) noexcept nogil:
    cdef intp_t S = L.S, nb = L.G_size // L.S, g, j, r, b = 0, i, s = ints[0]
    cdef floating* dW = st + base
    cdef floating* eW = dW + W * S
    cdef floating* gW = eW + W * S
    cdef floating* zW = gW + W * nb
    cdef const floating* Gg
    for i in range(S):
        dW[s * S + i] = cell_D_entry(L, w, G, work, i, i)
    if has_error:
        memcpy(eW + s * S, e_bar, S * sizeof(floating))
    else:
        memset(eW + s * S, 0, S * sizeof(floating))
    for g in range(L.n_groups):
        r = L.rows[g]
        Gg = G + L.G_offset[g]
        for j in range(r):
            gW[s * nb + b] = Gg[pat.rows[pat.row_ptr[b]] * r + j]
            b += 1
    memcpy(zW + s * L.z_size, z, L.z_size * sizeof(floating))
    ints[0] = s + 1
    if s + 1 == W:
        _snap1_window_flush(L, pat, W, base, st, ints, acc, scratch)


cdef void _snap1_window_flush(const Layout* L, const SnapPattern* pat, intp_t W, intp_t base,
                              floating* st, int64_t* ints, floating* acc,
                              floating* scratch) noexcept nogil:
    cdef intp_t S = L.S, nb = L.G_size // L.S, g, j, k, r, K, b0 = 0, i, s, n = ints[0]
    cdef floating* dW = st + base
    cdef floating* eW = dW + W * S
    cdef floating* gW = eW + W * S
    cdef floating* zW = gW + W * nb
    cdef floating* R = scratch               # R[i * W + s]: the row's adjoint
    cdef floating* P = R + S * W             # P[i * W + s]: prod of d after s
    cdef floating* A
    cdef floating* B
    cdef floating* Vg
    cdef floating* row
    cdef floating* grow
    cdef floating e, cj, gsb
    cdef intp_t r_max = 0
    if n == 0:
        return
    for g in range(L.n_groups):
        r_max = max(r_max, L.rows[g])
    A = P + S * W
    B = A + r_max * W
    for i in range(S):
        R[i * W + n - 1] = eW[(n - 1) * S + i]
        P[i * W + n - 1] = 1
        for s in range(n - 2, -1, -1):
            R[i * W + s] = eW[s * S + i] + dW[(s + 1) * S + i] * R[i * W + s + 1]
            P[i * W + s] = dW[(s + 1) * S + i] * P[i * W + s + 1]
    for g in range(L.n_groups):
        r = L.rows[g]
        K = L.width[g]
        Vg = st + pat.value_offset[b0]
        for j in range(r):
            i = pat.rows[pat.row_ptr[b0 + j]]
            for s in range(n):
                gsb = gW[s * nb + b0 + j]
                A[j * W + s] = gsb * P[i * W + s]
                B[j * W + s] = gsb * R[i * W + s]
            e = dW[i] * R[i * W]             # E = d_0 R_0
            cj = dW[i] * P[i * W]            # c = d_0 P_0
            row = Vg + j * K
            grow = acc + L.offset[g] + j * K
            if floating is double:
                rtrl_scale_row_f64(K, cj, e, row, grow)
            else:
                rtrl_scale_row_f32(K, cj, e, row, grow)
        gemm_rm(<blas_int> r, <blas_int> K, <blas_int> n, <floating> 1, B, <blas_int> W,
                zW + L.z_offset[g], <blas_int> L.z_size, <floating> 1, acc + L.offset[g],
                <blas_int> K)
        gemm_rm(<blas_int> r, <blas_int> K, <blas_int> n, <floating> 1, A, <blas_int> W,
                zW + L.z_offset[g], <blas_int> L.z_size, <floating> 1, Vg, <blas_int> K)
        b0 += r
    ints[0] = 0
