# cython: boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Learners' time loops: exact RTRL, full BPTT and the forward pass.

Each ``def`` here runs the whole time loop of one sequence chunk without the GIL; Python is
touched once per call. All scratch memory is allocated once per call, before the loop.

Notes
-----
Exact RTRL's step J_t = D_t J_{t-1} + I_t is a GEMM of the S x S state Jacobian with the
S x P influence matrix (2 S^2 P flops). J is cut into column blocks of a fixed width bw
(chosen from S and P only, never from the thread count, so every column is computed by the
same BLAS call whatever the number of threads, and results do not depend on it). Each
block's new value depends only on its old value, so a block is one single-threaded BLAS
GEMM; right after it, while the block is in cache, the immediate term
I_t = sum_g G_g (x) z_g is added (only the non-zero entries of G_g are visited) and the
block's contribution e_bar_t J_t to the gradient is read out (a GEMV).

GEMM cannot work in place, and copying J back each step would cost a full pass over memory.
Instead J lives in a storage one block wider than itself (S x (P + bw)) and each step writes
J_t bw columns to the right of J_{t-1} (then, next step, back to the left). Going through the
blocks from the far end, every block's input is read before its neighbour's output lands on
it. With several threads each takes a contiguous range of blocks; the one input per range
that the neighbouring range would overwrite is copied aside first (one block per thread),
then, after a barrier, all ranges advance. Extra memory: bw columns plus one S x bw buffer
per thread. The Python caller caps BLAS's own threads to one (threadpoolctl), so OpenMP is
the only source of parallelism.
"""

from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.math cimport INFINITY, fabs, isfinite, pow, sqrt
from libc.stdint cimport int64_t, uint64_t, uintptr_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy, memset

from ._blas cimport (
    blas_int, dot, gemm_rm, gemm_rm_nt, gemm_rm_tn, cholesky_inplace, gemv_rm, qr_inplace, svd_thin,
)
from ._cells cimport (
    CELL_ELMAN, CELL_JORDAN, CELL_LSTM, MAX_GROUPS, Layout, cell_D_entry, cell_hh_matvec,
    cell_jvp, cell_jvp_from_hh, cell_jvp_inputs_load, cell_jvp_inputs_save, cell_jvp_inputs_size,
    cell_step, cell_step_jvp, cell_step_jvp_scratch, cell_step_matvec, cell_vjp_G, intp_t,
    readout, readout_loss,
)
cdef extern from "_microkernels.h" nogil:
    int rtrl_microkernels_available()
    void rtrl_update_f64(int S, int ncols, const double* D, const double* J, intp_t ldj,
                         double* out, intp_t ldo, const double* e, double* grad)
    void rtrl_update_f32(int S, int ncols, const float* D, const float* J, intp_t ldj,
                         float* out, intp_t ldo, const float* e, float* grad)
    void rtrl_axpy_avx2_f64(intp_t n, double a, const double* x, double* y)
    void rtrl_axpy_avx2_f32(intp_t n, float a, const float* x, float* y)
    void rtrl_axpy4_avx2_f64(intp_t n, const double* a, const double* x0, const double* x1,
                             const double* x2, const double* x3, double* y)
    void rtrl_axpy4_avx2_f32(intp_t n, const float* a, const float* x0, const float* x1,
                             const float* x2, const float* x3, float* y)

cdef extern from "_rowkernels.h" nogil:
    void rtrl_scale_row_f64(intp_t K, double c, double e, double* V, double* grad)
    void rtrl_scale_row_f32(intp_t K, float c, float e, float* V, float* grad)
    void rtrl_gram3_f64(intp_t n, const double* a0, const double* a1, const double* a2,
                        double* g)
    void rtrl_gram3_f32(intp_t n, const float* a0, const float* a1, const float* a2,
                        double* g)
    void rtrl_snap1_row_f64(intp_t K, double d, double g, double e, const double* z,
                            double* V, double* grad)
    void rtrl_snap1_row_f32(intp_t K, float d, float g, float e, const float* z, float* V,
                            float* grad)
    double rtrl_uoro_row_f64(intp_t K, double s, double v, const double* z, double* Th,
                             double c, double* grad)
    double rtrl_uoro_row_f32(intp_t K, float s, float v, const float* z, float* Th, float c,
                             float* grad)

cdef extern from "_cpu_features.h" nogil:
    double rtrl_fma_chains(long n, double* sink)

from ._random cimport rng_sign
from ._openmp_helpers cimport RTRL_OPENMP_ENABLED, omp_get_max_threads, omp_get_thread_num


# States up to this size use the register-tiled kernels of _microkernels.h (where the CPU has
# AVX2 and FMA): for RTRL's short inner dimension K = S they beat BLAS, which packs J first.
cdef bint _microkernels = rtrl_microkernels_available() != 0

# Below this many flops per step and thread (about 0.1 ms of one core), the influence update
# runs on one thread: entering a parallel region every step would cost more than it saves.
cdef intp_t _min_flops_per_thread = 4000000


def _set_min_flops_per_thread(intp_t flops):
    """Set the work per step and thread below which fewer threads are used; returns the
    previous value. For tests and benchmarks."""
    global _min_flops_per_thread
    previous = _min_flops_per_thread
    _min_flops_per_thread = max(flops, 1)
    return previous


# The largest states the small-state kernels take, by dtype. Measured with `rtrl bench` on
# the development machine (n = 16 .. 128, A/B against BLAS in one process): they win up to
# S = 48 in float64 and S = 64 in float32 (0.92 vs 0.78 of the GEMM bound at n = 64); at
# n = 64 float64 they tie with BLAS and at n = 128 BLAS wins in both dtypes.
cdef intp_t _small_state_max_f64 = 48
cdef intp_t _small_state_max_f32 = 64


def _set_microkernels(bint enabled, intp_t max_state_f64=48, intp_t max_state_f32=64):
    """Use (if the CPU allows) or bypass the small-state kernels for states up to the given
    sizes; returns the previous ``(enabled, max_state_f64, max_state_f32)``. For tests and
    benchmarks."""
    global _microkernels, _small_state_max_f64, _small_state_max_f32
    previous = (bool(_microkernels), _small_state_max_f64, _small_state_max_f32)
    _microkernels = enabled and rtrl_microkernels_available() != 0
    _small_state_max_f64 = max_state_f64
    _small_state_max_f32 = max_state_f32
    return previous


def _openmp_parallelism_enabled():
    """Whether the kernels were compiled with OpenMP."""
    return bool(RTRL_OPENMP_ENABLED)


def _microkernels_available():
    """True if this CPU runs the AVX2/FMA kernels (chosen at run time)."""
    return rtrl_microkernels_available() != 0


def _fma_chains(long n_iterations):
    """Run ``n_iterations`` of 12 independent chains of float64 multiply-adds in registers
    (4-wide with AVX2 + FMA) without the GIL; returns the number of multiply-adds. Timed by
    ``rtrl.benchmark.fma_peak`` for the machine's peak."""
    cdef double sink = 0, done
    if n_iterations < 0:
        raise ValueError(f"n_iterations must be non-negative, got {n_iterations}")
    with nogil:
        done = rtrl_fma_chains(n_iterations, &sink)
    if sink != sink:  # never true: keeps the chains' result live
        raise FloatingPointError("multiply-add chains gave NaN")
    return done


def _openmp_max_threads():
    """``omp_get_max_threads()`` of the OpenMP runtime (1 without OpenMP)."""
    return omp_get_max_threads()


cdef Layout _layout(dict spec) except *:
    cdef Layout L
    cdef intp_t g
    memset(&L, 0, sizeof(Layout))
    L.kind = spec["kind"]
    L.nonlinearity = spec["nonlinearity"]
    L.leak = spec["leak"]
    L.n = spec["n"]
    L.m = spec["m"]
    L.n_out = spec["n_out"]
    L.S = spec["S"]
    L.n_groups = len(spec["rows"])
    if L.n_groups > MAX_GROUPS:
        raise ValueError("too many weight groups for the kernels")
    for g in range(L.n_groups):
        L.rows[g] = spec["rows"][g]
        L.width[g] = spec["width"][g]
        L.offset[g] = spec["offset"][g]
        L.z_offset[g] = spec["z_offset"][g]
        L.G_offset[g] = spec["G_offset"][g]
    L.P = spec["P"]
    L.readout_offset = spec["readout_offset"]
    L.n_params = spec["n_params"]
    L.z_size = spec["z_size"]
    L.G_size = spec["G_size"]
    L.work_size = spec["work_size"]
    return L


cdef floating* _alloc(intp_t count, floating sample) except NULL:
    cdef floating* p = <floating*> malloc(max(count, 1) * sizeof(floating))
    if p == NULL:
        raise MemoryError(f"could not allocate {count * sizeof(floating)} bytes of scratch")
    return p


cdef inline intp_t _step_scratch_size(const Layout* L) noexcept nogil:
    # x, s_new, z, G, D, work, y_hat, e: what every training loop needs for a step
    return (L.m + L.S + L.z_size + L.G_size + L.S * L.S + L.work_size + 2 * L.n_out)


cdef floating* _carve_step_scratch(const Layout* L, floating* mem, floating** x,
                                   floating** s_new, floating** z, floating** G, floating** D,
                                   floating** work, floating** y_hat,
                                   floating** e) noexcept nogil:
    # Point the step's buffers into `mem` (_step_scratch_size entries) and clear G once (cells
    # write only their structural entries); returns the first entry after them.
    x[0] = mem
    s_new[0] = x[0] + L.m
    z[0] = s_new[0] + L.S
    G[0] = z[0] + L.z_size
    memset(G[0], 0, L.G_size * sizeof(floating))
    D[0] = G[0] + L.G_size
    work[0] = D[0] + L.S * L.S
    y_hat[0] = work[0] + L.work_size
    e[0] = y_hat[0] + L.n_out
    return e[0] + L.n_out


cdef inline void _load_row(const floating[:, :] X, intp_t t, floating* x) noexcept nogil:
    cdef intp_t k
    for k in range(X.shape[1]):
        x[k] = X[t, k]


cdef void _influence_block(const Layout* L,
                           const floating* D,      # IN  D_t (S x S)
                           const floating* G,      # IN  G_g of every group
                           const floating* z,      # IN  z_g of every group
                           const floating* J_in,   # IN  J_{t-1}[:, c0:c1]
                           intp_t ld_in,           #     its row stride
                           const floating* e_bar,  # IN  dL_t/ds_t (S)
                           bint has_error,
                           floating* grad,         # IN/OUT += e_bar J_t on the block
                           intp_t c0, intp_t c1,   # the column block [c0, c1)
                           floating* out,          # OUT J_t[:, c0:c1]
                           intp_t ld_out           #     its row stride
                           ) noexcept nogil:
    cdef intp_t S = L.S, bw = c1 - c0, i, small_max = _small_state_max_f32
    cdef bint small
    if floating is double:
        small_max = _small_state_max_f64
    small = _microkernels and S <= small_max
    if small:
        # out = D_t @ J_{t-1}[:, c0:c1] and grad += e_bar (D_t J_{t-1}) in one register-tiled
        # pass that never reads out; then I_t, with its share of the read-out
        if floating is double:
            rtrl_update_f64(<int> S, <int> bw, D, J_in, ld_in, out, ld_out,
                            e_bar if has_error else NULL, grad + c0)
        else:
            rtrl_update_f32(<int> S, <int> bw, D, J_in, ld_in, out, ld_out,
                            e_bar if has_error else NULL, grad + c0)
        _add_immediate(L, G, z, e_bar if has_error else NULL, grad, c0, c1, out, ld_out)
        return
    # out = I_t[:, c0:c1], then out += D_t @ J_{t-1}[:, c0:c1]: writing I_t first lets the
    # GEMM run with beta = 1, which spares BLAS a separate pass to clear the output
    for i in range(S):
        memset(out + i * ld_out, 0, bw * sizeof(floating))
    _add_immediate(L, G, z, NULL, grad, c0, c1, out, ld_out)
    gemm_rm(<int> S, <int> bw, <int> S, <floating> 1, D, <int> S, J_in, <int> ld_in,
            <floating> 1, out, <int> ld_out)
    # grad[c0:c1] += J_t[:, c0:c1]^T e_bar while the block is still in cache
    if has_error:
        gemv_rm(True, <int> S, <int> bw, <floating> 1, out, <int> ld_out, e_bar, <floating> 1,
                grad + c0)


cdef void _add_immediate(const Layout* L, const floating* G, const floating* z,
                         const floating* e_bar, floating* grad, intp_t c0, intp_t c1,
                         floating* out, intp_t ld_out) noexcept nogil:
    # out += I_t[:, c0:c1] (column off_g + j K_g + k of group g holds G_g[:, j] z_g[k]) and,
    # if e_bar is not NULL, grad += e_bar I_t there -- O(nnz(G) K) work
    cdef intp_t S = L.S
    cdef intp_t g, i, j, k, q, r, K, off, lo, hi, j0, j1, ka, kb, col
    cdef bint jordan
    cdef const floating* Gg
    cdef const floating* zg
    cdef floating* row
    cdef floating* grow
    cdef floating gij, eg
    for g in range(L.n_groups):
        off = L.offset[g]
        K = L.width[g]
        r = L.rows[g]
        lo = max(c0, off)
        hi = min(c1, off + r * K)
        if lo >= hi:
            continue
        j0 = (lo - off) // K
        j1 = (hi - 1 - off) // K
        Gg = G + L.G_offset[g]
        zg = z + L.z_offset[g]
        for j in range(j0, j1 + 1):
            col = off + j * K                     # first column of row j of W_g
            ka = max(lo, col) - col
            kb = min(hi, col + K) - col
            grow = grad + col
            # the state entries gate row j reaches: its unit (and, for the LSTM, that unit's
            # cell); every entry for the Jordan readout
            jordan = L.kind == CELL_JORDAN and g == 1
            for q in range(S if jordan else (2 if L.kind == CELL_LSTM else 1)):
                i = q if jordan else j % L.n + q * L.n
                gij = Gg[i * r + j]
                if gij == 0:
                    continue
                row = out + i * ld_out + (col - c0)
                for k in range(ka, kb):
                    row[k] = row[k] + gij * zg[k]
                if e_bar != NULL and e_bar[i] != 0:
                    eg = e_bar[i] * gij
                    for k in range(ka, kb):
                        grow[k] = grow[k] + eg * zg[k]


cdef inline intp_t _boundary_block(bint right, intp_t lo, intp_t hi, intp_t k,
                                   intp_t n_ranges) noexcept nogil:
    # The block of range k whose input the neighbouring range overwrites, or -1.
    if right:
        return lo if k > 0 else -1
    return hi - 1 if k < n_ranges - 1 else -1


ctypedef struct SparseColumns:
    # Exact RTRL on a sparse network (rtrl.learners.RTRL with a weight_hh mask): only the
    # columns of unmasked parameters are stored, and D_t is applied through its structure.
    intp_t n_columns           # stored columns P'
    const intp_t* param        # flat parameter index of each stored column
    const intp_t* block        # its (group, row) block: sum of the groups' rows before + j
    const intp_t* zpos         # its entry of the z buffer
    const intp_t* imm_ptr      # rows where G_g[:, j] is structurally non-zero, per block
    const intp_t* imm_rows
    const intp_t* gpos         # offset of column j of G_g in the G buffer, per block
    const intp_t* grow         # the row stride r_g of that G_g, per block
    const intp_t* d_ptr        # structure of D_t: row i depends on d_cols[d_ptr[i]:...]
    const intp_t* d_cols


cdef const intp_t* _index_array(dict lspec, str key) except NULL:
    # Pointer to an intp array of a learner's kernel spec; the array stays alive in the dict
    # for the duration of the call that uses it.
    cdef const intp_t[::1] a = lspec[key]
    return &a[0]


cdef SparseColumns _sparse_columns(dict lspec) except *:
    cdef SparseColumns sp
    sp.n_columns = lspec["n_columns"]
    sp.param = _index_array(lspec, "param")
    sp.block = _index_array(lspec, "block")
    sp.zpos = _index_array(lspec, "zpos")
    sp.imm_ptr = _index_array(lspec, "imm_ptr")
    sp.imm_rows = _index_array(lspec, "imm_rows")
    sp.gpos = _index_array(lspec, "gpos")
    sp.grow = _index_array(lspec, "grow")
    sp.d_ptr = _index_array(lspec, "d_ptr")
    sp.d_cols = _index_array(lspec, "d_cols")
    return sp


cdef void _influence_block_sparse(const Layout* L, const SparseColumns* sp,
                                  const floating* D, const floating* G, const floating* z,
                                  const floating* J_in, intp_t ld_in, const floating* e_bar,
                                  bint has_error, floating* grad, intp_t c0, intp_t c1,
                                  floating* out, intp_t ld_out) noexcept nogil:
    # out = I_t[:, c0:c1] + D_t J_{t-1}[:, c0:c1] over the stored columns; grad += e_bar J_t
    cdef intp_t S = L.S, bw = c1 - c0, i, c, q, l, b, nq, lo, n_cols
    cdef floating dv, gc
    cdef floating a4[4]
    cdef floating colsum[256]
    cdef const floating* x4[4]
    cdef const floating* src
    cdef floating* dst
    for i in range(S):
        memset(out + i * ld_out, 0, bw * sizeof(floating))
    for c in range(c0, c1):
        b = sp.block[c]
        gc = z[sp.zpos[c]]
        for q in range(sp.imm_ptr[b], sp.imm_ptr[b + 1]):
            i = sp.imm_rows[q]
            out[i * ld_out + c - c0] += G[sp.gpos[b] + i * sp.grow[b]] * gc
    for i in range(S):
        dst = out + i * ld_out
        nq = 0                                   # non-zeros of D's row i gathered so far
        for q in range(sp.d_ptr[i], sp.d_ptr[i + 1]):
            l = sp.d_cols[q]
            dv = D[i * S + l]
            if dv == 0:
                continue
            src = J_in + l * ld_in
            if not _microkernels:
                for c in range(bw):
                    dst[c] += dv * src[c]
                continue
            # four rows of J per pass over the output row (one load and store of it per
            # four FMAs)
            a4[nq] = dv
            x4[nq] = src
            nq += 1
            if nq == 4:
                if floating is double:
                    rtrl_axpy4_avx2_f64(bw, a4, x4[0], x4[1], x4[2], x4[3], dst)
                else:
                    rtrl_axpy4_avx2_f32(bw, a4, x4[0], x4[1], x4[2], x4[3], dst)
                nq = 0
        for q in range(nq):
            if floating is double:
                rtrl_axpy_avx2_f64(bw, a4[q], x4[q], dst)
            else:
                rtrl_axpy_avx2_f32(bw, a4[q], x4[q], dst)
    if has_error:
        # grad[param[c]] += (e_bar^T out)[c]: the column sums first, contiguously (S axpys per
        # chunk of columns), then one scattered add per column instead of one per entry
        for lo in range(0, bw, 256):
            n_cols = min(256, bw - lo)
            memset(colsum, 0, n_cols * sizeof(floating))
            for i in range(S):
                gc = e_bar[i]
                if gc == 0:
                    continue
                dst = out + i * ld_out + lo
                if _microkernels:
                    if floating is double:
                        rtrl_axpy_avx2_f64(n_cols, gc, dst, colsum)
                    else:
                        rtrl_axpy_avx2_f32(n_cols, gc, dst, colsum)
                else:
                    for c in range(n_cols):
                        colsum[c] += gc * dst[c]
            for c in range(n_cols):
                grad[sp.param[c0 + lo + c]] += colsum[c]


cdef void _influence_range(const Layout* L, const SparseColumns* sp, intp_t ncols,
                           const floating* D, const floating* G,
                           const floating* z, floating* store, intp_t ld, intp_t shift,
                           bint right, const floating* e_bar, bint has_error,
                           floating* grad, intp_t bw, intp_t lo, intp_t hi,
                           intp_t saved, const floating* save_buf) noexcept nogil:
    # J_t for the blocks [lo, hi): read at column offset `shift`, written `bw` columns to
    # the right (`right`) or left. Blocks go in the order that reads each input before the
    # neighbouring block's output overwrites it; block `saved` reads its saved copy.
    cdef intp_t b, i, c0, c1
    cdef intp_t new_shift = shift + bw if right else shift - bw
    for i in range(hi - lo):
        b = hi - 1 - i if right else lo + i
        c0 = b * bw
        c1 = min(c0 + bw, ncols)
        if sp != NULL:
            if b == saved:
                _influence_block_sparse(L, sp, D, G, z, save_buf, c1 - c0, e_bar, has_error,
                                        grad, c0, c1, store + new_shift + c0, ld)
            else:
                _influence_block_sparse(L, sp, D, G, z, store + shift + c0, ld, e_bar,
                                        has_error, grad, c0, c1, store + new_shift + c0, ld)
        elif b == saved:
            _influence_block(L, D, G, z, save_buf, c1 - c0, e_bar, has_error, grad, c0, c1,
                             store + new_shift + c0, ld)
        else:
            _influence_block(L, D, G, z, store + shift + c0, ld, e_bar, has_error, grad,
                             c0, c1, store + new_shift + c0, ld)


# ---------------------------------------------------------------------------- optimizers

cdef enum OptimizerKind:
    OPT_NONE = 0
    OPT_SGD = 1
    OPT_ADAM = 2


ctypedef struct OptSpec:
    int kind
    double learning_rate, momentum, beta_1, beta_2, epsilon, alpha, clip_norm


cdef OptSpec _opt_spec(dict spec) except *:
    cdef OptSpec o
    memset(&o, 0, sizeof(OptSpec))
    o.kind = spec.get("kind", OPT_NONE)
    o.learning_rate = spec.get("learning_rate", 0.0)
    o.momentum = spec.get("momentum", 0.0)
    o.beta_1 = spec.get("beta_1", 0.9)
    o.beta_2 = spec.get("beta_2", 0.999)
    o.epsilon = spec.get("epsilon", 1e-8)
    o.alpha = spec.get("alpha", 0.0)
    o.clip_norm = spec.get("clip_norm", 0.0)
    return o


cdef bint _optimizer_update(const OptSpec* o, intp_t n,
                            floating* w,             # IN/OUT parameters
                            const floating* acc,     # IN  summed gradient of the window
                            double scale,            # IN  1 / (stream-steps in the window)
                            const floating* pmask,   # IN  1 = trained, 0 = frozen
                            const floating* dmask,   # IN  1 = L2-penalised (weights)
                            floating* m, floating* v, intp_t* t,   # IN/OUT optimizer state
                            floating* g              # scratch (3 n)
                            ) noexcept nogil:
    """One optimizer step. If the gradient, or the parameters or optimizer state it would
    produce, is not finite, nothing changes and the result is False."""
    cdef intp_t i
    cdef double norm2 = 0, biggest = 0, c = 1, step = 0, gi, lr = o.learning_rate
    cdef floating* new_m = g + n
    cdef floating* new_v = g + 2 * n
    for i in range(n):
        g[i] = <floating> ((scale * acc[i] + o.alpha * dmask[i] * w[i]) * pmask[i])
        if not isfinite(g[i]):
            return False
        if fabs(g[i]) > biggest:
            biggest = fabs(g[i])
    if o.clip_norm > 0 and biggest > 0:
        for i in range(n):                   # norm computed on the scaled vector: no overflow
            norm2 += (g[i] / biggest) * (g[i] / biggest)
        norm2 = biggest * sqrt(norm2)
        if norm2 > o.clip_norm:
            c = o.clip_norm / norm2
    if o.kind == OPT_ADAM:
        step = (lr * sqrt(1 - pow(o.beta_2, <double> (t[0] + 1)))
                / (1 - pow(o.beta_1, <double> (t[0] + 1))))
    # new state into scratch first; g[i] becomes the new parameter value
    for i in range(n):
        gi = c * g[i]
        if o.kind == OPT_SGD:
            new_m[i] = <floating> (o.momentum * m[i] - lr * gi)
            new_v[i] = 0
            g[i] = w[i] + new_m[i]
        else:
            new_m[i] = <floating> (o.beta_1 * m[i] + (1 - o.beta_1) * gi)
            new_v[i] = <floating> (o.beta_2 * v[i] + (1 - o.beta_2) * gi * gi)
            g[i] = <floating> (w[i] - step * new_m[i] / (sqrt(<double> new_v[i]) + o.epsilon))
        if not (isfinite(g[i]) and isfinite(new_m[i]) and isfinite(new_v[i])):
            return False
    memcpy(w, g, n * sizeof(floating))
    memcpy(m, new_m, n * sizeof(floating))
    if o.kind == OPT_ADAM:
        memcpy(v, new_v, n * sizeof(floating))
        t[0] += 1
    return True


cdef int _check_train_args(const Layout* L, intp_t n_w, intp_t n_pmask, intp_t n_dmask,
                           intp_t n_acc, intp_t n_m, intp_t n_v, intp_t n_t,
                           intp_t N, intp_t m, intp_t y_rows, intp_t y_cols,
                           const intp_t[::1] labels, intp_t n_weights,
                           const intp_t[::1] starts, const intp_t[::1] lengths,
                           intp_t n_ends, intp_t state_rows, intp_t state_cols,
                           intp_t n_window, intp_t n_diverged) except -1:
    # Every array a training kernel indexes, against the network it was given: the kernels
    # run without bounds checks, so arrays that do not fit (a corrupted or hand-edited saved
    # model, a state from another network) must be refused before they start.
    cdef intp_t b, B = starts.shape[0], i
    if not (n_w == n_pmask == n_dmask == n_acc == n_m == n_v == L.n_params):
        raise ValueError(
            f"parameter-sized arrays must all have {L.n_params} entries for this network "
            f"(w {n_w}, pmask {n_pmask}, dmask {n_dmask}, acc {n_acc}, m {n_m}, v {n_v})")
    if n_t < 1 or n_window < 2 or n_diverged < 2:
        raise ValueError("the optimizer step counter, window and divergence record are too short")
    if m != L.m:
        raise ValueError(f"X has {m} columns; the network takes {L.m} inputs")
    if n_weights != N:
        raise ValueError(f"{n_weights} sample weights for {N} rows")
    if y_rows > 0:
        if y_rows != N or y_cols != L.n_out:
            raise ValueError(f"Y must be {N} x {L.n_out}, got {y_rows} x {y_cols}")
    else:
        if labels.shape[0] != N:
            raise ValueError(f"{labels.shape[0]} labels for {N} rows")
        for i in range(N):
            if labels[i] < 0 or labels[i] >= L.n_out:
                raise ValueError(f"label {labels[i]} at row {i} is not in 0..{L.n_out - 1}")
    if lengths.shape[0] != B or n_ends < B:
        raise ValueError("starts, lengths and ends must have one entry per stream")
    if state_rows < B or state_cols != L.S:
        raise ValueError(f"states must be at least {B} x {L.S}, got {state_rows} x {state_cols}")
    for b in range(B):
        if starts[b] < 0 or lengths[b] < 0 or starts[b] + lengths[b] > N:
            raise ValueError(f"stream {b}: rows {starts[b]}..{starts[b] + lengths[b]} are "
                             f"outside X's {N} rows")
    return 0


def optimizer_step(dict opt,
                   floating[::1] w, const floating[::1] acc, double scale,
                   const floating[::1] pmask, const floating[::1] dmask,
                   floating[::1] m, floating[::1] v, intp_t[::1] t):
    """One optimizer update from Python (the same code the kernels run); returns whether it
    was applied (False: the gradient was not finite and nothing changed)."""
    cdef OptSpec o = _opt_spec(opt)
    cdef floating sample = 0
    cdef floating* g
    cdef bint ok
    if not (w.shape[0] == acc.shape[0] == pmask.shape[0] == dmask.shape[0] == m.shape[0]
            == v.shape[0]) or t.shape[0] < 1:
        raise ValueError("w, acc, pmask, dmask, m and v must have the same length; t one entry")
    if w.shape[0] == 0:
        return True
    g = _alloc(3 * w.shape[0], sample)
    try:
        with nogil:
            ok = _optimizer_update(&o, w.shape[0], &w[0], &acc[0], scale, &pmask[0],
                                   &dmask[0], &m[0], &v[0], &t[0], g)
    finally:
        free(g)
    return ok


cdef inline bint _all_finite(const floating* a, intp_t n) noexcept nogil:
    cdef intp_t i
    for i in range(n):
        if not isfinite(a[i]):
            return False
    return True


# -------------------------------------------------------------------------- training loops

cdef void _rtrl_step(const Layout* L, const SparseColumns* sp, intp_t ncols,
                     const floating* D, const floating* G, const floating* z,
                     floating* store, int64_t* shift_ptr, intp_t bw, intp_t n_ranges,
                     const floating* e_bar, bint has_error, floating* acc,
                     floating* save_bufs) noexcept nogil:
    """Exact RTRL, one step of one stream: J_t = D_t J_{t-1} + I_t, acc += e_bar J_t.

    J sits in ``store`` (S x (P + bw), row-major) at column offset ``*shift_ptr`` and moves
    ``bw`` columns per step (module Notes)."""
    cdef intp_t S = L.S, ld = ncols + bw, n_blocks = (ncols + bw - 1) // bw
    cdef intp_t shift = shift_ptr[0], k, lo, hi, saved, c0, c1, i
    cdef bint right = shift == 0
    if n_ranges == 1:
        _influence_range(L, sp, ncols, D, G, z, store, ld, shift, right, e_bar, has_error,
                         acc, bw, 0, n_blocks, -1, <floating*> NULL)
    else:
        with parallel(num_threads=n_ranges):
            # 1. save the inputs that a neighbouring range will overwrite
            for k in prange(n_ranges, schedule="static"):
                lo = (k * n_blocks) // n_ranges             # range k: blocks [lo, hi)
                hi = ((k + 1) * n_blocks) // n_ranges
                saved = _boundary_block(right, lo, hi, k, n_ranges)
                if saved >= 0:
                    c0 = saved * bw
                    c1 = min(c0 + bw, ncols)
                    for i in range(S):
                        memcpy(save_bufs + k * S * bw + i * (c1 - c0),
                               store + shift + i * ld + c0, (c1 - c0) * sizeof(floating))
            # 2. (after the barrier) every range advances its blocks
            for k in prange(n_ranges, schedule="static"):
                lo = (k * n_blocks) // n_ranges
                hi = ((k + 1) * n_blocks) // n_ranges
                saved = _boundary_block(right, lo, hi, k, n_ranges)
                _influence_range(L, sp, ncols, D, G, z, store, ld, shift, right, e_bar,
                                 has_error, acc, bw, lo, hi, saved, save_bufs + k * S * bw)
    shift_ptr[0] = bw if right else 0


include "_uoro.pxi"
include "_kronecker.pxi"
include "_snap.pxi"
include "_rtrl_block.pxi"


cdef enum LearnerKind:
    LEARNER_RTRL = 0
    LEARNER_UORO = 1
    LEARNER_KF = 2
    LEARNER_OK = 3
    LEARNER_SNAP = 4


ctypedef struct Windowing:
    # learners that defer work to windows of steps (exact RTRL in blocks, SnAp-1, UORO)
    intp_t length                # steps per window (0: none)
    intp_t base                  # where a stream's window buffers start in its state
    intp_t bw                    # RTRL: column block width
    intp_t n_ranges              # RTRL: threads for the influence GEMM
    const SnapPattern* pattern   # SnAp


cdef void _flush_window(int kind, const Layout* L, const Windowing* win, const floating* w,
                        floating* st, int64_t* ints, floating* acc, floating* scratch,
                        floating* save_bufs) noexcept nogil:
    # catch up with the open window: the state moves to its end, acc gets its gradient
    # (w: the weights of the window's steps, which UORO's tangent needs)
    if kind == LEARNER_UORO:
        _uoro_window_flush(L, win.length, win.base, w, st, ints, acc, scratch)
    elif kind == LEARNER_SNAP:
        _snap1_window_flush(L, win.pattern, win.length, win.base, st, ints, acc, scratch)
    elif kind == LEARNER_RTRL:
        _rtrl_window_flush(L, win.length, win.base, win.bw, win.n_ranges, st, ints, acc,
                           scratch, save_bufs)


cdef void _flush_windows(int kind, const Layout* L, const Windowing* win, const floating* w,
                         intp_t B, floating* lstate, intp_t lsize, int64_t* lint, intp_t n_ints,
                         floating* acc, floating* scratch, floating* save_bufs) noexcept nogil:
    # _flush_window for each of the B streams (rows of lstate and lint)
    cdef intp_t b
    if win.length == 0:
        return
    for b in range(B):
        _flush_window(kind, L, win, w, lstate + b * lsize, lint + b * n_ints, acc, scratch,
                      save_bufs)


cdef int _check_shifts(const int64_t[:, ::1] lint, intp_t bw) except -1:
    # exact RTRL's J sits at column 0 or bw of its storage (it moves by bw every step)
    cdef intp_t b
    for b in range(lint.shape[0]):
        if lint[b, 0] != 0 and lint[b, 0] != bw:
            raise ValueError(f"stream {b}: influence shift {lint[b, 0]} is neither 0 nor {bw}")
    return 0


cdef int _check_windows(int kind, const Layout* L, intp_t length, intp_t base, intp_t lsize,
                        const int64_t[:, ::1] lint) except -1:
    # a windowed learner's storage and the step counts of its open windows
    cdef intp_t b, slot = 1 if kind == LEARNER_RTRL else (5 if kind == LEARNER_UORO else 0)
    cdef intp_t n
    if lint.shape[1] <= slot:
        raise ValueError("inconsistent window state")
    if kind == LEARNER_RTRL and lsize != base + length * (L.S * L.S + L.G_size + L.z_size + L.S):
        raise ValueError("inconsistent influence storage")
    if kind == LEARNER_SNAP and lsize != base + length * (2 * L.S + L.G_size // L.S + L.z_size):
        raise ValueError("inconsistent SnAp window storage")
    if kind == LEARNER_UORO:
        if (lsize != base + 2 * length * _uoro_slot(L) or base != L.S + L.P
                or lint.shape[1] < _uoro_window_ints(length)):
            raise ValueError("inconsistent UORO window storage")
        for b in range(lint.shape[0]):
            n = lint[b, UORO_CHAIN_N]
            if (lint[b, UORO_BUFFER] not in (0, 1) or n < 0 or n > length
                    or (n > 0 and not (0 <= lint[b, UORO_CHAIN_START] <= lint[b, UORO_CHAIN_POS]
                                       < n))):
                raise ValueError(f"stream {b}: inconsistent UORO chain state")
    for b in range(lint.shape[0]):
        # UORO closes a window as soon as it is full, so a full one is not a state it leaves
        if lint[b, slot] < 0 or lint[b, slot] > length - (kind == LEARNER_UORO):
            raise ValueError(f"stream {b}: {lint[b, slot]} steps in a window of {length}")
    return 0


def uoro_window_sizes(dict spec, intp_t window):
    """(numbers per slot, integers) of UORO's windowed form on this network: a stream keeps
    two buffers of ``window`` slots and the chain's integers."""
    cdef Layout L = _layout(spec)
    return _uoro_slot(&L), _uoro_window_ints(window)


def flush_windows(dict spec, dict lspec, floating[:, ::1] lstate, int64_t[:, ::1] lint,
                  floating[::1] acc, const floating[::1] w=None):
    """Close the open window of every stream of a learner that defers work to windows:
    its state and the gradient in ``acc`` catch up. UORO needs the weights ``w`` of the
    window's steps."""
    cdef Layout L = _layout(spec)
    cdef int kind = lspec["kind"]
    cdef SnapPattern pat
    cdef Windowing win
    cdef intp_t b
    cdef floating* scratch = NULL
    cdef floating sample = 0
    win.length = lspec.get("window", 0)
    win.base = lspec.get("window_base", 0)
    win.bw = lspec.get("width", 1)
    win.n_ranges = 1
    win.pattern = &pat
    if win.length == 0:
        return
    if acc.shape[0] != L.n_params or lstate.shape[0] != lint.shape[0]:
        raise ValueError("acc or the learner state does not fit the network")
    _check_windows(kind, &L, win.length, win.base, lstate.shape[1], lint)
    if kind == LEARNER_RTRL:
        _check_shifts(lint, win.bw)
    if kind == LEARNER_UORO:
        for b in range(lint.shape[0]):
            if ((lint[b, UORO_COUNT] > 0 or lint[b, UORO_CHAIN_N] > 0)
                    and (w is None or w.shape[0] != L.n_params)):
                raise ValueError("closing UORO's open windows needs the network's weights w")
        if w is None:
            return
        scratch = _alloc(_uoro_window_scratch(&L, win.length), sample)
    elif kind == LEARNER_SNAP:
        pat = _snap_pattern(lspec)
        scratch = _alloc(_snap1_window_scratch(&L, win.length), sample)
    elif kind == LEARNER_RTRL:
        scratch = _alloc(_rtrl_window_scratch(&L, win.length), sample)
    try:
        with nogil:
            _flush_windows(kind, &L, &win, <floating*> NULL if w is None else &w[0],
                           lstate.shape[0], &lstate[0, 0], lstate.shape[1], &lint[0, 0],
                           lint.shape[1], &acc[0], scratch, <floating*> NULL)
    finally:
        free(scratch)


cdef intp_t _kf_state_size(const Layout* L, intp_t rank) noexcept nogil:
    # KF (rank 1) and OK(rank): per group and rank, u (K_g) and A (S x r_g)
    cdef intp_t g, size = 0
    for g in range(L.n_groups):
        size += L.width[g] + L.S * L.rows[g]
    return rank * size


cdef intp_t _snap_influence_size(const Layout* L, const SnapPattern* pat) noexcept nogil:
    # where the last kept block of SnAp's influence ends in a stream's state
    cdef intp_t g, nb = 0, last
    for g in range(L.n_groups):
        nb += L.rows[g]
    if nb == 0:
        return 0
    last = nb - 1
    return pat.value_offset[last] + ((pat.row_ptr[last + 1] - pat.row_ptr[last])
                                     * (pat.col_ptr[last + 1] - pat.col_ptr[last]))


def online_train(dict spec, dict lspec, dict opt,
                 floating[::1] w,                   # IN/OUT flat parameters
                 const floating[::1] pmask,         # IN  1 = trained, 0 = frozen (n_params)
                 const floating[::1] dmask,         # IN  1 = L2-penalised (n_params)
                 const floating[:, :] X,            # IN  inputs, all sequences' rows (N x m)
                 const floating[:, ::1] Y,          # IN  regression targets (N x n_out) or (0 x 0)
                 const intp_t[::1] labels,          # IN  class labels (N) or empty
                 const floating[::1] weights,       # IN  sample weights (N)
                 const intp_t[::1] starts,          # IN  first row of each stream's sequence (B)
                 const intp_t[::1] lengths,         # IN  its length (B)
                 const intp_t[::1] ends,            # IN  1: the sequence ends in this call
                 floating[:, ::1] states,           # IN/OUT s_t of each stream (B x S)
                 floating[:, ::1] lstate,           # IN/OUT learner state of each stream
                 int64_t[:, ::1] lint,              # IN/OUT its integers (shift, RNG, ...)
                 floating[::1] acc,                 # IN/OUT gradient summed over the window
                 intp_t[::1] window,                # IN/OUT [stream-steps, time steps] in it
                 floating[::1] opt_m,               # IN/OUT optimizer state (n_params)
                 floating[::1] opt_v,               # IN/OUT optimizer state (n_params)
                 intp_t[::1] opt_t,                 # IN/OUT optimizer step count (1)
                 intp_t update_every,               # >0: every k steps; 0: at the end; -1: never
                 int loss_kind,
                 int n_threads,
                 intp_t[::1] diverged):             # IN/OUT [events, first row or -1]
    """An online learner over B sequences side by side, updating the parameters on the way.

    Each stream keeps its state and its learner state (``lspec["kind"]`` says which
    learner: see rtrl.learners); their per-step gradient estimates are summed into ``acc``
    and every ``update_every`` time steps the optimizer applies their mean. A non-finite
    loss, state or gradient drops the pending update, restarts the streams (states and
    learner states to zero; random generators keep going) and is counted in ``diverged``;
    the parameters are never touched by it.

    Returns ``(weighted loss sum, stream-steps processed)``.
    """
    cdef Layout L = _layout(spec)
    cdef OptSpec o = _opt_spec(opt)
    cdef int kind = lspec["kind"]
    cdef intp_t B = starts.shape[0], S = L.S, T = 0, t, b, row = -1
    cdef intp_t n_steps = 0, bw = 1, n_ranges = 1, rank = 1
    cdef intp_t lsize = lstate.shape[1], n_rng_skip = lspec.get("kept_ints", 0)
    cdef bint has_error, regression = Y.shape[0] > 0
    cdef double total = 0, step_loss
    cdef floating sample = 0
    cdef intp_t scratch = _step_scratch_size(&L) + S + 3 * L.n_params
    cdef intp_t learner_scratch = 0
    cdef SnapPattern pattern
    cdef intp_t window_len = 0, window_base = 0   # learners that defer work to windows
    cdef Windowing win
    cdef floating* win_scratch = NULL
    cdef SparseColumns sparse
    cdef SparseColumns* sp = NULL
    cdef intp_t ncols = L.P, work_per_step
    cdef bint dense_D = 1
    cdef floating* mem
    cdef floating* x
    cdef floating* s_new
    cdef floating* z
    cdef floating* G
    cdef floating* D
    cdef floating* work
    cdef floating* y_hat
    cdef floating* e
    cdef floating* e_bar
    cdef floating* g_scratch
    cdef floating* lscratch
    cdef floating* wp = &w[0]
    cdef floating* ap = &acc[0]
    _check_train_args(&L, w.shape[0], pmask.shape[0], dmask.shape[0], acc.shape[0],
                      opt_m.shape[0], opt_v.shape[0], opt_t.shape[0], X.shape[0], X.shape[1],
                      Y.shape[0], Y.shape[1], labels, weights.shape[0], starts, lengths,
                      ends.shape[0], states.shape[0], states.shape[1], window.shape[0],
                      diverged.shape[0])
    if lstate.shape[0] < B or states.shape[0] < B or lint.shape[0] < B:
        raise ValueError("inconsistent learner state")
    for b in range(B):
        T = max(T, lengths[b])
    if n_threads < 1 or not RTRL_OPENMP_ENABLED:
        n_threads = 1
    if kind == LEARNER_RTRL:
        bw = lspec["width"]
        ncols = L.P
        work_per_step = 2 * S * S * L.P
        if "n_columns" in lspec:
            sparse = _sparse_columns(lspec)
            sp = &sparse
            ncols = sparse.n_columns
            work_per_step = 2 * sparse.d_ptr[S] * ncols
        window_len = lspec.get("window", 0)
        window_base = lspec.get("window_base", 0)
        if window_len > 0 and (sp != NULL or window_base != S * (ncols + bw)):
            raise ValueError("exact RTRL in windows needs a dense network and its storage")
        if lsize != S * (ncols + bw) + window_len * (S * S + L.G_size + L.z_size + S):
            raise ValueError("inconsistent influence storage")
        if bw < 1 or lint.shape[1] < 2:
            raise ValueError("inconsistent influence storage")
        _check_shifts(lint, bw)
        # a thread needs enough work per step to pay for waking it (a region per step)
        n_ranges = max(1, min(n_threads, (ncols + bw - 1) // bw,
                              work_per_step // _min_flops_per_thread))
        learner_scratch = n_ranges * S * bw
        if window_len > 0:
            learner_scratch += _rtrl_window_scratch(&L, window_len)
    elif kind == LEARNER_UORO:
        window_len = lspec.get("window", 0)
        window_base = lspec.get("window_base", 0)
        if (window_len == 0 and lsize != S + L.P) or lint.shape[1] < 5:
            raise ValueError("inconsistent UORO state")
        learner_scratch = _uoro_scratch(&L) + cell_step_jvp_scratch(&L)
        if window_len > 0:
            learner_scratch += _uoro_window_scratch(&L, window_len)
        dense_D = 0
    elif kind == LEARNER_KF:
        if lsize != _kf_state_size(&L, 1) or lint.shape[1] < 4:
            raise ValueError("inconsistent KF-RTRL state")
        for b in range(L.n_groups):
            learner_scratch = max(learner_scratch, S * L.rows[b] + L.rows[b])
    elif kind == LEARNER_OK:
        rank = lspec["rank"]
        if rank < 1 or lsize != _kf_state_size(&L, rank) or lint.shape[1] < 4:
            raise ValueError("inconsistent OK state")
        learner_scratch = _ok_scratch(&L, rank)
    elif kind == LEARNER_SNAP:
        pattern = _snap_pattern(lspec)
        if lint.shape[1] < 1 or _snap_influence_size(&L, &pattern) > lsize:
            raise ValueError("inconsistent SnAp state")
        window_len = lspec.get("window", 0)
        window_base = lspec.get("window_base", 0)
        dense_D = pattern.max_rows > 2    # forming D pays off once blocks are not tiny
        learner_scratch = pattern.max_rows * pattern.max_rows
        for b in range(L.n_groups):
            learner_scratch = max(learner_scratch,
                                  pattern.max_rows * pattern.max_rows
                                  + pattern.max_rows * L.width[b])
        if window_len > 0:
            learner_scratch = max(learner_scratch, _snap1_window_scratch(&L, window_len))
    if window_len > 0:  # the storage and the open windows' step counts
        _check_windows(kind, &L, window_len, window_base, lsize, lint)
    mem = _alloc(scratch + learner_scratch, sample)
    e_bar = _carve_step_scratch(&L, mem, &x, &s_new, &z, &G, &D, &work, &y_hat, &e)
    g_scratch = e_bar + S
    lscratch = g_scratch + 3 * L.n_params
    win.length = window_len
    win.base = window_base
    win.bw = bw
    win.n_ranges = n_ranges
    win.pattern = &pattern
    if kind == LEARNER_RTRL:
        win_scratch = lscratch + n_ranges * S * bw
    elif kind == LEARNER_SNAP:
        win_scratch = lscratch
    elif kind == LEARNER_UORO:
        win_scratch = lscratch + _uoro_scratch(&L) + cell_step_jvp_scratch(&L)
    if window_len > 0 and update_every == 1:
        # every step closes the window anyway: the per-step form, once open windows are shut
        with nogil:
            _flush_windows(kind, &L, &win, wp, B, &lstate[0, 0], lsize, &lint[0, 0],
                           lint.shape[1], ap, win_scratch, lscratch)
        window_len = 0
        win.length = 0
    try:
        with nogil:
            for t in range(T):
                for b in range(B):
                    if t >= lengths[b]:
                        continue
                    row = starts[b] + t
                    _load_row(X, row, x)
                    # UORO and SnAp use D_t only through products and entries; UORO's
                    # tangent D_t s~ shares the pass over the weights with the step
                    if kind == LEARNER_UORO and window_len == 0:
                        cell_step_jvp(&L, wp, x, &states[b, 0], s_new, z, G, work,
                                      &lstate[b, 0], lscratch, lscratch + _uoro_scratch(&L))
                    elif kind == LEARNER_UORO and L.kind == CELL_ELMAN:
                        # the chain's W_hh s~ (into lscratch) shares the pass over the weights
                        cell_step_matvec(&L, wp, x, &states[b, 0], s_new, z, G, work,
                                         &lstate[b, 0] if lint[b, UORO_CHAIN_N] > 0
                                         else <floating*> NULL, lscratch,
                                         lscratch + _uoro_scratch(&L))
                    else:
                        cell_step(&L, wp, x, &states[b, 0], s_new, z, G,
                                  <floating*> NULL if dense_D == 0 else D, work)
                    step_loss = readout_loss(&L, wp, s_new, loss_kind,
                                             &Y[row, 0] if regression else NULL,
                                             0 if regression else labels[row],
                                             weights[row], y_hat, e, e_bar, ap)
                    if not isfinite(step_loss) or not _all_finite(s_new, S):
                        _diverge(&states[0, 0], S, &lstate[0, 0], lsize, &lint[0, 0],
                                 lint.shape[1], n_rng_skip, ap, L.n_params, &window[0],
                                 &diverged[0], B, row)
                        continue
                    has_error = weights[row] != 0
                    if kind == LEARNER_RTRL and window_len > 0:
                        _rtrl_window_push(&L, window_len, window_base, D, G, z, e_bar, has_error,
                                          &lstate[b, 0], &lint[b, 0])
                        if lint[b, 1] == window_len:
                            _rtrl_window_flush(&L, window_len, window_base, bw, n_ranges,
                                               &lstate[b, 0], &lint[b, 0], ap, win_scratch,
                                               lscratch)
                    elif kind == LEARNER_RTRL:
                        _rtrl_step(&L, sp, ncols, D, G, z, &lstate[b, 0], &lint[b, 0], bw,
                                   n_ranges, e_bar, has_error, ap, lscratch)
                    elif kind == LEARNER_UORO and window_len > 0:
                        _uoro_window_step(&L, window_len, window_base, wp, lscratch, work, G,
                                          z, &lstate[b, 0], &lint[b, 0], e_bar, has_error,
                                          ap, win_scratch)
                    elif kind == LEARNER_UORO:
                        _uoro_step(&L, wp, work, G, z, &lstate[b, 0], &lint[b, 0], e_bar,
                                   has_error, ap, lscratch, True)
                    elif kind == LEARNER_KF:
                        _kf_step(&L, D, G, z, &lstate[b, 0], <uint64_t*> &lint[b, 0], e_bar,
                                 has_error, ap, lscratch)
                    elif kind == LEARNER_OK:
                        _ok_step(&L, rank, D, G, z, &lstate[b, 0], <uint64_t*> &lint[b, 0],
                                 e_bar, has_error, ap, lscratch)
                    elif kind == LEARNER_SNAP and window_len > 0:
                        _snap1_window_step(&L, &pattern, window_len, window_base, wp, work, G,
                                           z, &lstate[b, 0], &lint[b, 0], e_bar, has_error, ap,
                                           win_scratch)
                    elif kind == LEARNER_SNAP:
                        _snap_step(&L, &pattern, wp, work, D if dense_D else <floating*> NULL,
                                   G, z, &lstate[b, 0], e_bar, has_error, ap, lscratch)
                    if window_len > 0 and ends[b] and t == lengths[b] - 1:
                        _flush_window(kind, &L, &win, wp, &lstate[b, 0], &lint[b, 0], ap,
                                      win_scratch, lscratch)
                    memcpy(&states[b, 0], s_new, S * sizeof(floating))
                    total += step_loss
                    n_steps += 1
                    window[0] += 1
                window[1] += 1
                if update_every > 0 and window[1] >= update_every:
                    _flush_windows(kind, &L, &win, wp, B, &lstate[0, 0], lsize, &lint[0, 0],
                                   lint.shape[1], ap, win_scratch, lscratch)
                    _update(&o, L.n_params, wp, ap, &pmask[0], &dmask[0], &opt_m[0],
                            &opt_v[0], &opt_t[0], g_scratch, &window[0], &states[0, 0], S,
                            &lstate[0, 0], lsize, &lint[0, 0], lint.shape[1], n_rng_skip,
                            &diverged[0], B, row)
            if update_every <= 0:
                _flush_windows(kind, &L, &win, wp, B, &lstate[0, 0], lsize, &lint[0, 0],
                               lint.shape[1], ap, win_scratch, lscratch)
            if update_every == 0 and window[0] > 0:
                _update(&o, L.n_params, wp, ap, &pmask[0], &dmask[0], &opt_m[0], &opt_v[0],
                        &opt_t[0], g_scratch, &window[0], &states[0, 0], S, &lstate[0, 0],
                        lsize, &lint[0, 0], lint.shape[1], n_rng_skip, &diverged[0], B, row)
    finally:
        free(mem)
    return total, n_steps


cdef void _diverge(floating* states, intp_t state_size, floating* lstate, intp_t lsize,
                   int64_t* lint, intp_t n_ints, intp_t n_kept_ints, floating* acc,
                   intp_t n_params, intp_t* window, intp_t* diverged, intp_t B,
                   intp_t row) noexcept nogil:
    # Drop the pending update and start the B streams afresh: states and learner states to
    # zero, and the learners' integers too, except the first n_kept_ints of each stream (a
    # random generator's state keeps going). lstate and lint may be NULL. The parameters are
    # untouched.
    cdef intp_t b
    memset(acc, 0, n_params * sizeof(floating))
    window[0] = 0
    window[1] = 0
    memset(states, 0, B * state_size * sizeof(floating))
    if lstate != NULL:
        memset(lstate, 0, B * lsize * sizeof(floating))
    if lint != NULL:
        for b in range(B):
            memset(lint + b * n_ints + n_kept_ints, 0,
                   (n_ints - n_kept_ints) * sizeof(int64_t))
    if diverged[0] == 0:
        diverged[1] = row
    diverged[0] += 1


cdef void _update(const OptSpec* o, intp_t n, floating* w, floating* acc,
                  const floating* pmask, const floating* dmask, floating* m, floating* v,
                  intp_t* t, floating* g, intp_t* window, floating* states, intp_t state_size,
                  floating* lstate, intp_t lsize, int64_t* lint, intp_t n_ints,
                  intp_t n_kept_ints, intp_t* diverged, intp_t B, intp_t row) noexcept nogil:
    # apply the mean gradient of the window, then open a new window
    if window[0] > 0 and o.kind != OPT_NONE:
        if not _optimizer_update(o, n, w, acc, 1.0 / window[0], pmask, dmask, m, v, t, g):
            _diverge(states, state_size, lstate, lsize, lint, n_ints, n_kept_ints, acc, n,
                     window, diverged, B, row)
            return
    memset(acc, 0, n * sizeof(floating))
    window[0] = 0
    window[1] = 0


cdef void _backprop_step(const Layout* L, const floating* D, const floating* G,
                         const floating* z, floating* delta, floating* grad, floating* v,
                         floating* tmp) noexcept nogil:
    # One step of BPTT, with delta = dL/ds_t already including this step's error:
    # grad_g += (G_g^T delta) (x) z_g, then delta <- D_t^T delta.
    cdef intp_t S = L.S, g, j, k, r, K
    cdef floating vj
    cdef floating* row
    for g in range(L.n_groups):
        r = L.rows[g]
        K = L.width[g]
        gemv_rm(True, <int> S, <int> r, <floating> 1, G + L.G_offset[g], <int> r, delta,
                <floating> 0, v)
        for j in range(r):
            vj = v[j]
            if vj == 0:
                continue
            row = grad + L.offset[g] + j * K
            for k in range(K):
                row[k] += vj * z[L.z_offset[g] + k]
    gemv_rm(True, <int> S, <int> S, <floating> 1, D, <int> S, delta, <floating> 0, tmp)
    memcpy(delta, tmp, S * sizeof(floating))


def bptt_train(dict spec, dict opt,
               floating[::1] w,                   # IN/OUT flat parameters
               const floating[::1] pmask,         # IN  1 = trained, 0 = frozen
               const floating[::1] dmask,         # IN  1 = L2-penalised
               const floating[:, :] X,            # IN  inputs (N x m)
               const floating[:, ::1] Y,          # IN  regression targets (N x n_out) or (0 x 0)
               const intp_t[::1] labels,          # IN  class labels (N) or empty
               const floating[::1] weights,       # IN  sample weights (N)
               const intp_t[::1] starts,          # IN  first row of each sequence (B)
               const intp_t[::1] lengths,         # IN  its length (B)
               floating[:, ::1] states,           # IN/OUT s_0 -> s_T of each stream (B x S)
               floating[::1] acc,                 # IN/OUT gradient summed over the window
               intp_t[::1] window,                # IN/OUT [stream-steps, time steps] in it
               floating[::1] opt_m,
               floating[::1] opt_v,
               intp_t[::1] opt_t,
               intp_t update_every,               # >= 0: update at the end; -1: never
               int loss_kind,
               intp_t[::1] diverged):
    """Full BPTT over each of B sequences, then one update from their mean gradient.

    Stores each sequence's states and error signals (2 T S numbers) and recomputes each
    step's Jacobians on the way back: delta_t = e_bar_t + delta_{t+1} D_{t+1},
    grad_g += (delta_t^T G_g) (x) z_g. Returns ``(weighted loss sum, steps processed)``.
    """
    cdef Layout L = _layout(spec)
    cdef OptSpec o = _opt_spec(opt)
    cdef intp_t B = starts.shape[0], S = L.S, T = 0, t, i, b, row = -1
    cdef intp_t n_steps = 0
    cdef bint regression = Y.shape[0] > 0, finite
    cdef double total = 0, seq_loss, step_loss
    cdef floating sample = 0
    _check_train_args(&L, w.shape[0], pmask.shape[0], dmask.shape[0], acc.shape[0],
                      opt_m.shape[0], opt_v.shape[0], opt_t.shape[0], X.shape[0], X.shape[1],
                      Y.shape[0], Y.shape[1], labels, weights.shape[0], starts, lengths,
                      B, states.shape[0], states.shape[1], window.shape[0], diverged.shape[0])
    for b in range(B):
        T = max(T, lengths[b])
    cdef intp_t scratch = (_step_scratch_size(&L) + 2 * S + 4 * L.n + 3 * L.n_params
                           + (T + 1) * S + T * S)
    cdef floating* mem
    cdef floating* x
    cdef floating* s_new
    cdef floating* z
    cdef floating* G
    cdef floating* D
    cdef floating* work
    cdef floating* y_hat
    cdef floating* e
    cdef floating* delta
    cdef floating* tmp
    cdef floating* v
    cdef floating* g_scratch
    cdef floating* seq_states
    cdef floating* e_bars
    cdef floating* wp = &w[0]
    cdef floating* gp = &acc[0]
    mem = _alloc(scratch, sample)
    delta = _carve_step_scratch(&L, mem, &x, &s_new, &z, &G, &D, &work, &y_hat, &e)
    tmp = delta + S
    v = tmp + S
    g_scratch = v + 4 * L.n
    seq_states = g_scratch + 3 * L.n_params
    e_bars = seq_states + (T + 1) * S
    try:
        with nogil:
            for b in range(B):
                memcpy(seq_states, &states[b, 0], S * sizeof(floating))
                seq_loss = 0
                finite = True
                for t in range(lengths[b]):
                    row = starts[b] + t
                    _load_row(X, row, x)
                    cell_step(&L, wp, x, seq_states + t * S, seq_states + (t + 1) * S, z,
                              <floating*> NULL, <floating*> NULL, work)
                    # the readout's direct gradient goes to scratch first: it is only kept
                    # if the whole sequence stays finite
                    step_loss = readout_loss(&L, wp, seq_states + (t + 1) * S, loss_kind,
                                             &Y[row, 0] if regression else NULL,
                                             0 if regression else labels[row],
                                             weights[row], y_hat, e, e_bars + t * S,
                                             <floating*> NULL)
                    if not isfinite(step_loss) or not _all_finite(seq_states + (t + 1) * S, S):
                        finite = False
                        break
                    seq_loss += step_loss
                if not finite:
                    _diverge(&states[0, 0], S, <floating*> NULL, 0, <int64_t*> NULL, 0, 0, gp,
                             L.n_params, &window[0], &diverged[0], B, row)
                    continue
                memset(delta, 0, S * sizeof(floating))
                for t in range(lengths[b] - 1, -1, -1):
                    row = starts[b] + t
                    for i in range(S):
                        delta[i] = delta[i] + e_bars[t * S + i]
                    _load_row(X, row, x)
                    # readout's direct gradient: e_t (x) [h_t; 1], recomputed from e_bar's
                    # source (the step's error e_t)
                    readout_loss(&L, wp, seq_states + (t + 1) * S, loss_kind,
                                 &Y[row, 0] if regression else NULL,
                                 0 if regression else labels[row],
                                 weights[row], y_hat, e, tmp, gp)
                    cell_step(&L, wp, x, seq_states + t * S, s_new, z, G, D, work)
                    _backprop_step(&L, D, G, z, delta, gp, v, tmp)
                memcpy(&states[b, 0], seq_states + lengths[b] * S, S * sizeof(floating))
                total += seq_loss
                n_steps += lengths[b]
                window[0] += lengths[b]
                window[1] += lengths[b]
            if update_every >= 0 and window[0] > 0:
                _update(&o, L.n_params, wp, gp, &pmask[0], &dmask[0], &opt_m[0], &opt_v[0],
                        &opt_t[0], g_scratch, &window[0], &states[0, 0], S, <floating*> NULL,
                        0, <int64_t*> NULL, 0, 0, &diverged[0], B, row)
    finally:
        free(mem)
    return total, n_steps


cdef void _tbptt_close(const Layout* L, const floating* wp, floating* buf, intp_t k,
                       intp_t count, int loss_kind, floating* gp, floating* delta,
                       floating* tmp, floating* e_bar, floating* v, floating* s_new,
                       floating* z, floating* G, floating* D, floating* work,
                       floating* y_hat, floating* e) noexcept nogil:
    # Back-propagate the losses of the first `count` steps of a stream's open window (buf:
    # k + 1 states, k inputs, targets, weights, labels) into gp; delta starts at zero at the
    # window's end.
    cdef intp_t S = L.S, m = L.m, n_out = L.n_out, tau, i
    cdef floating* wstates = buf
    cdef floating* wx = wstates + (k + 1) * S
    cdef floating* wy = wx + k * m
    cdef floating* ww = wy + k * n_out
    cdef floating* wl = ww + k
    memset(delta, 0, S * sizeof(floating))
    for tau in range(count - 1, -1, -1):
        readout_loss(L, wp, wstates + (tau + 1) * S, loss_kind, wy + tau * n_out,
                     <intp_t> wl[tau], ww[tau], y_hat, e, e_bar, gp)
        for i in range(S):
            delta[i] = delta[i] + e_bar[i]
        cell_step(L, wp, wx + tau * m, wstates + tau * S, s_new, z, G, D, work)
        _backprop_step(L, D, G, z, delta, gp, v, tmp)


def tbptt_train(dict spec, dict opt,
                floating[::1] w,                   # IN/OUT flat parameters
                const floating[::1] pmask,         # IN  1 = trained, 0 = frozen
                const floating[::1] dmask,         # IN  1 = L2-penalised
                const floating[:, :] X,            # IN  inputs (N x m)
                const floating[:, ::1] Y,          # IN  regression targets (N x n_out) or (0 x 0)
                const intp_t[::1] labels,          # IN  class labels (N) or empty
                const floating[::1] weights,       # IN  sample weights (N)
                const intp_t[::1] starts,          # IN  first row of each sequence (B)
                const intp_t[::1] lengths,         # IN  its length (B)
                const intp_t[::1] ends,            # IN  1 if the sequence ends in this call
                floating[:, ::1] states,           # IN/OUT s_t of each stream (B x S)
                floating[:, ::1] lstate,           # IN/OUT the open window of each stream
                int64_t[:, ::1] lint,              # IN/OUT [steps in the window]
                intp_t truncation,
                floating[::1] acc,                 # IN/OUT gradient summed since the update
                intp_t[::1] window,                # IN/OUT [stream-steps, time steps]
                floating[::1] opt_m,
                floating[::1] opt_v,
                intp_t[::1] opt_t,
                intp_t update_every,               # >= 0: update when windows close; -1: never
                int loss_kind,
                intp_t[::1] diverged):
    """Truncated BPTT: each stream's steps are cut into windows of ``truncation`` steps (and
    at the end of its sequence); when a window closes its losses are back-propagated through
    that window only, and the update is applied; the state carries into the next window.

    The open window (its k + 1 states, inputs, targets and weights) is kept in ``lstate``, so
    a window can span calls. Returns ``(weighted loss sum, stream-steps processed)``.
    """
    cdef Layout L = _layout(spec)
    cdef OptSpec o = _opt_spec(opt)
    cdef intp_t B = starts.shape[0], S = L.S, m = L.m, n_out = L.n_out, k = truncation
    cdef intp_t T = 0, t, b, row = -1, i, tau, count, n_steps = 0
    cdef intp_t lsize = lstate.shape[1]
    cdef bint regression = Y.shape[0] > 0, closed
    cdef double total = 0, step_loss
    cdef floating sample = 0
    cdef intp_t scratch = _step_scratch_size(&L) + 3 * S + 4 * L.n + 3 * L.n_params
    cdef floating* mem
    cdef floating* x
    cdef floating* s_new
    cdef floating* z
    cdef floating* G
    cdef floating* D
    cdef floating* work
    cdef floating* y_hat
    cdef floating* e
    cdef floating* delta
    cdef floating* tmp
    cdef floating* e_bar
    cdef floating* v
    cdef floating* g_scratch
    cdef floating* buf
    cdef floating* wstates
    cdef floating* wx
    cdef floating* wy
    cdef floating* ww
    cdef floating* wl
    cdef floating* wp = &w[0]
    cdef floating* gp = &acc[0]
    _check_train_args(&L, w.shape[0], pmask.shape[0], dmask.shape[0], acc.shape[0],
                      opt_m.shape[0], opt_v.shape[0], opt_t.shape[0], X.shape[0], X.shape[1],
                      Y.shape[0], Y.shape[1], labels, weights.shape[0], starts, lengths,
                      ends.shape[0], states.shape[0], states.shape[1], window.shape[0],
                      diverged.shape[0])
    if lstate.shape[0] < B or lint.shape[0] < B:
        raise ValueError("inconsistent truncation window")
    if k < 1 or lsize != (k + 1) * S + k * (m + n_out + 2) or lint.shape[1] < 1:
        raise ValueError("inconsistent truncation window")
    for b in range(B):
        count = lint[b, 0]
        if count < 0 or count >= k:
            raise ValueError(f"stream {b}: {count} steps in a window of {k}")
        for tau in range(count):  # the open window's labels index the readout
            i = (k + 1) * S + k * (m + n_out + 1) + tau
            if not regression and not (0 <= lstate[b, i] < n_out):
                raise ValueError(f"stream {b}: stored label {lstate[b, i]} out of range")
    for b in range(B):
        T = max(T, lengths[b])
    mem = _alloc(scratch, sample)
    delta = _carve_step_scratch(&L, mem, &x, &s_new, &z, &G, &D, &work, &y_hat, &e)
    tmp = delta + S
    e_bar = tmp + S
    v = e_bar + S
    g_scratch = v + 4 * L.n
    try:
        with nogil:
            # a stream given no rows but an end (rtrl.learners.TBPTT.flush_streams: its
            # sequence ended with the previous call) closes the window it holds, as the
            # sequence's last step would have
            closed = False
            for b in range(B):
                if lengths[b] == 0 and ends[b] and lint[b, 0] > 0:
                    _tbptt_close(&L, wp, &lstate[b, 0], k, lint[b, 0], loss_kind, gp, delta,
                                 tmp, e_bar, v, s_new, z, G, D, work, y_hat, e)
                    lint[b, 0] = 0
                    closed = True
            if closed and update_every >= 0:
                _update(&o, L.n_params, wp, gp, &pmask[0], &dmask[0], &opt_m[0], &opt_v[0],
                        &opt_t[0], g_scratch, &window[0], &states[0, 0], S, &lstate[0, 0],
                        lsize, &lint[0, 0], lint.shape[1], 0, &diverged[0], B, row)
            for t in range(T):
                closed = False
                for b in range(B):
                    if t >= lengths[b]:
                        continue
                    row = starts[b] + t
                    buf = &lstate[b, 0]
                    wstates = buf                     # k + 1 states
                    wx = wstates + (k + 1) * S        # k inputs
                    wy = wx + k * m                   # k targets (regression)
                    ww = wy + k * n_out               # k weights
                    wl = ww + k                       # k labels (classification)
                    count = lint[b, 0]
                    if count == 0:
                        memcpy(wstates, &states[b, 0], S * sizeof(floating))
                    _load_row(X, row, wx + count * m)
                    if regression:
                        memcpy(wy + count * n_out, &Y[row, 0], n_out * sizeof(floating))
                    else:
                        wl[count] = <floating> labels[row]
                    ww[count] = weights[row]
                    cell_step(&L, wp, wx + count * m, wstates + count * S,
                              wstates + (count + 1) * S, z, <floating*> NULL,
                              <floating*> NULL, work)
                    step_loss = readout_loss(&L, wp, wstates + (count + 1) * S, loss_kind,
                                             wy + count * n_out, <intp_t> wl[count],
                                             ww[count], y_hat, e, e_bar, <floating*> NULL)
                    if not isfinite(step_loss) or not _all_finite(wstates + (count + 1) * S,
                                                                  S):
                        _diverge(&states[0, 0], S, &lstate[0, 0], lsize, &lint[0, 0],
                                 lint.shape[1], 0, gp, L.n_params, &window[0], &diverged[0],
                                 B, row)
                        continue
                    count += 1
                    memcpy(&states[b, 0], wstates + count * S, S * sizeof(floating))
                    total += step_loss
                    n_steps += 1
                    window[0] += 1
                    if count == k or (ends[b] and t == lengths[b] - 1):
                        # back-propagate through the window, then open a new one
                        _tbptt_close(&L, wp, buf, k, count, loss_kind, gp, delta, tmp, e_bar,
                                     v, s_new, z, G, D, work, y_hat, e)
                        count = 0
                        closed = True
                    lint[b, 0] = count
                window[1] += 1
                if closed and update_every >= 0:
                    _update(&o, L.n_params, wp, gp, &pmask[0], &dmask[0], &opt_m[0],
                            &opt_v[0], &opt_t[0], g_scratch, &window[0], &states[0, 0], S,
                            &lstate[0, 0], lsize, &lint[0, 0], lint.shape[1], 0,
                            &diverged[0], B, row)
    finally:
        free(mem)
    return total, n_steps


def forward_run(dict spec,
                const floating[::1] w,      # IN  flat parameters
                const floating[:, :] X,     # IN  inputs (T x m)
                floating[::1] state,        # IN/OUT s_t (S)
                floating[:, ::1] out):      # OUT readout y_hat_t (T x n_out)
    """Forward pass without Jacobians (prediction)."""
    cdef Layout L = _layout(spec)
    cdef intp_t T = X.shape[0], S = L.S, t
    cdef floating sample = 0
    cdef floating* mem
    if w.shape[0] != L.n_params:
        raise ValueError(f"w has {w.shape[0]} entries; the network has {L.n_params}")
    if X.shape[1] != L.m or state.shape[0] != S:
        raise ValueError(f"X must have {L.m} columns and the state {S} entries")
    if out.shape[0] < T or out.shape[1] != L.n_out:
        raise ValueError(f"out must be at least {T} x {L.n_out}")
    mem = _alloc(L.m + S + L.z_size + L.work_size, sample)
    cdef floating* x = mem
    cdef floating* s_new = x + L.m
    cdef floating* z = s_new + S
    cdef floating* work = z + L.z_size
    cdef floating* wp = <floating*> &w[0]
    try:
        with nogil:
            for t in range(T):
                _load_row(X, t, x)
                cell_step(&L, wp, x, &state[0], s_new, z, <floating*> NULL,
                          <floating*> NULL, work)
                memcpy(&state[0], s_new, S * sizeof(floating))
                readout(&L, wp, s_new, &out[t, 0])
    finally:
        free(mem)
