# Row-major BLAS wrappers over the ``floating`` fused type.
#
# BLAS comes from ``scipy.linalg.cython_blas`` (no link-time dependency on a BLAS library).
# BLAS is column-major; a row-major matrix is its transpose in column-major, so every wrapper
# swaps operands instead of transposing data.

from cython cimport floating
from scipy.linalg.cython_blas cimport dgemm, sgemm, dgemv, sgemv

ctypedef int blas_int


cdef inline void gemm_rm(blas_int m, blas_int n, blas_int k, floating alpha,
                         const floating* a, blas_int lda,      # IN  (m x k), row-major
                         const floating* b, blas_int ldb,      # IN  (k x n), row-major
                         floating beta,
                         floating* c, blas_int ldc             # OUT (m x n), row-major
                         ) noexcept nogil:
    """C = alpha * A @ B + beta * C for row-major operands."""
    cdef char no = b'N'
    # Row-major C = A B is column-major C' = B' A'.
    if floating is double:
        dgemm(&no, &no, &n, &m, &k, &alpha, <double*> b, &ldb, <double*> a, &lda,
              &beta, c, &ldc)
    else:
        sgemm(&no, &no, &n, &m, &k, &alpha, <float*> b, &ldb, <float*> a, &lda,
              &beta, c, &ldc)


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
