# OpenMP through one shim that compiles with or without OpenMP.
#
# Without ``-fopenmp`` the pragmas Cython emits for ``prange`` are ignored and the functions
# below fall back to their serial meaning, so every module builds either way.

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define RTRL_OPENMP_ENABLED 1
    #else
    #define RTRL_OPENMP_ENABLED 0
    static int omp_get_max_threads(void) { return 1; }
    static int omp_get_thread_num(void) { return 0; }
    #endif
    """
    bint RTRL_OPENMP_ENABLED
    int omp_get_max_threads() noexcept nogil
    int omp_get_thread_num() noexcept nogil
