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
                if K == L.width[g]:          # every column stored: contiguous, vectorisable
                    for k in range(K):
                        V[k] = d * V[k] + gij * zg[k]
                        grow[k] += ei * V[k]
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
