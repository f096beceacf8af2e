# Row-major BLAS wrappers over the ``floating`` fused type.
#
# BLAS comes from ``scipy.linalg.cython_blas`` (no link-time dependency on a BLAS library).
# BLAS is column-major; a row-major matrix is its transpose in column-major, so every wrapper
# swaps operands instead of transposing data.

from cython cimport floating
from scipy.linalg.cython_blas cimport ddot, dgemm, dgemv, sdot, sgemm, sgemv

ctypedef int blas_int


cdef inline void _gemm_rm_op(bint trans_a, bint trans_b, blas_int m, blas_int n, blas_int k,
                             floating alpha, const floating* a, blas_int lda,
                             const floating* b, blas_int ldb, floating beta, floating* c,
                             blas_int ldc) noexcept nogil:
    # C = alpha op(A) op(B) + beta C, row-major. Row-major C = op(A) op(B) is column-major
    # C' = op(B)' op(A)': B and A swap places, and each stored row-major matrix is its own
    # transpose in column-major, so op = transpose keeps 'T' and identity keeps 'N'.
    cdef char ta = b'T' if trans_a else b'N', tb = b'T' if trans_b else b'N'
    if floating is double:
        dgemm(&tb, &ta, &n, &m, &k, &alpha, <double*> b, &ldb, <double*> a, &lda,
              &beta, c, &ldc)
    else:
        sgemm(&tb, &ta, &n, &m, &k, &alpha, <float*> b, &ldb, <float*> a, &lda,
              &beta, c, &ldc)


cdef inline void gemm_rm(blas_int m, blas_int n, blas_int k, floating alpha,
                         const floating* a, blas_int lda,      # IN  (m x k), row-major
                         const floating* b, blas_int ldb,      # IN  (k x n), row-major
                         floating beta,
                         floating* c, blas_int ldc             # OUT (m x n), row-major
                         ) noexcept nogil:
    """C = alpha * A @ B + beta * C for row-major operands."""
    _gemm_rm_op(False, False, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)


cdef inline void gemm_rm_tn(blas_int m, blas_int n, blas_int k, floating alpha,
                            const floating* a, blas_int lda,   # IN  (k x m), row-major
                            const floating* b, blas_int ldb,   # IN  (k x n), row-major
                            floating beta,
                            floating* c, blas_int ldc          # OUT (m x n), row-major
                            ) noexcept nogil:
    """C = alpha * A.T @ B + beta * C for row-major operands."""
    _gemm_rm_op(True, False, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)


cdef inline void gemm_rm_nt(blas_int m, blas_int n, blas_int k, floating alpha,
                            const floating* a, blas_int lda,   # IN  (m x k), row-major
                            const floating* b, blas_int ldb,   # IN  (n x k), row-major
                            floating beta,
                            floating* c, blas_int ldc          # OUT (m x n), row-major
                            ) noexcept nogil:
    """C = alpha * A @ B.T + beta * C for row-major operands."""
    _gemm_rm_op(False, True, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)


cdef inline void gemv_rm(bint transpose, blas_int m, blas_int n, floating alpha,
                         const floating* a, blas_int lda,      # IN  (m x n), row-major
                         const floating* x,                    # IN  n (or m if transpose)
                         floating beta,
                         floating* y                           # OUT m (or n if transpose)
                         ) noexcept nogil:
    """y = alpha * op(A) @ x + beta * y for a row-major A, op = transpose or identity."""
    cdef char trans = b'N' if transpose else b'T'
    cdef blas_int one = 1
    if floating is double:
        dgemv(&trans, &n, &m, &alpha, <double*> a, &lda, <double*> x, &one, &beta, y, &one)
    else:
        sgemv(&trans, &n, &m, &alpha, <float*> a, &lda, <float*> x, &one, &beta, y, &one)


cdef inline double dot(blas_int n, const floating* x, const floating* y) noexcept nogil:
    """x . y (vectorised by BLAS: a plain C loop is bound by the latency of its additions)."""
    cdef blas_int one = 1
    if floating is double:
        return ddot(&n, <double*> x, &one, <double*> y, &one)
    else:
        return sdot(&n, <float*> x, &one, <float*> y, &one)


# ---------------------------------------------------------------- LAPACK (column-major)
from scipy.linalg.cython_lapack cimport dgeqrf, sgeqrf, dorgqr, sorgqr, dgesvd, sgesvd, dpotrf


cdef inline int qr_inplace(blas_int m, blas_int n, floating* a, floating* tau,
                           floating* work, blas_int lwork) noexcept nogil:
    """Thin QR of the column-major m x n matrix a: on return the first min(m, n) columns hold
    Q, and R (min(m, n) x n, upper triangular) is copied out by the caller BEFORE this call's
    Q formation -- so this function returns R in ``work`` (min(m, n) x n, column-major)
    and Q in ``a``. ``work`` needs min(m,n)*n + max(n, 1) * 64 entries."""
    cdef blas_int info = 0, k = m if m < n else n, i, j
    cdef blas_int lw = lwork - k * n
    cdef floating* r = work
    cdef floating* w2 = work + k * n
    if floating is double:
        dgeqrf(&m, &n, a, &m, tau, w2, &lw, &info)
    else:
        sgeqrf(&m, &n, a, &m, tau, w2, &lw, &info)
    if info != 0:
        return info
    for j in range(n):
        for i in range(k):
            r[i + j * k] = a[i + j * m] if i <= j else 0
    if floating is double:
        dorgqr(&m, &k, &k, a, &m, tau, w2, &lw, &info)
    else:
        sorgqr(&m, &k, &k, a, &m, tau, w2, &lw, &info)
    return info


cdef inline int svd_thin(blas_int m, blas_int n, floating* a, floating* s, floating* u,
                         floating* vt, floating* work, blas_int lwork) noexcept nogil:
    """Thin SVD of the column-major m x n matrix a (destroyed): a = u diag(s) vt."""
    cdef blas_int info = 0, k = m if m < n else n
    cdef char job = b'S'
    if floating is double:
        dgesvd(&job, &job, &m, &n, a, &m, s, u, &m, vt, &k, work, &lwork, &info)
    else:
        sgesvd(&job, &job, &m, &n, a, &m, s, u, &m, vt, &k, work, &lwork, &info)
    return info




cdef inline int cholesky_inplace(blas_int m, double* a) noexcept nogil:
    """Cholesky factor of the symmetric positive definite m x m matrix a (column-major,
    lower triangle used): on return its lower triangle holds L, a = L L^T. Returns LAPACK's
    info (> 0: not positive definite)."""
    cdef blas_int info = 0
    cdef char uplo = b'L'
    dpotrf(&uplo, &m, a, &m, &info)
    return info
