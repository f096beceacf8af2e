/*
 * Register-tiled kernels for the influence update of small states (AVX2 + FMA).
 *
 * out[i, c] = sum_l D[i, l] J[l, c]     for a block of columns c (written, never read),
 * grad[c]  += sum_i e_bar[i] out[i, c]   (if e_bar is not NULL),
 *
 * with D S x S, J and out row-major with row strides ldj and ldo. For the short inner
 * dimension of RTRL's product (K = S <= 48 in float64, 64 in float32) BLAS spends as long
 * packing J as multiplying; these kernels read J straight from cache in 4-row x 3-vector tiles (12 accumulators, enough
 * to hide the FMA latency; 2-vector tiles and single columns for the rest of a block), and
 * fold the gradient read-out into the same pass.
 *
 * Every column is computed by the same sequence of operations wherever it lies, so results
 * do not depend on how columns are split between threads. Compiled for AVX2 + FMA through
 * function attributes and chosen at run time (rtrl_microkernels_available); elsewhere the
 * callers use BLAS.
 */
#ifndef RTRL_MICROKERNELS_H
#define RTRL_MICROKERNELS_H

#include <stddef.h>

#include "_cpu_features.h"

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define RTRL_HAVE_MICROKERNELS 1
#include <immintrin.h>
#define RTRL_AVX2 __attribute__((target("avx2,fma")))

static int rtrl_microkernels_available(void) { return rtrl_cpu_avx2_fma(); }

/* Columns [0, end) go to the 3-vector tiles (w wide), the rest to the 2-vector tiles (h wide)
 * and single columns: take as many w-tiles as leave a multiple of h behind, if any count does,
 * so that no column of a block of 512, 400, ... falls to the slow single-column path. */
static int rtrl_wide_columns(int ncols, int w, int h) {
    int n = ncols / w;
    for (int k = 0; k < h && k <= n; k++)
        if ((ncols - (n - k) * w) % h == 0) return (n - k) * w;
    return n * w;
}

/* The kernels, once per element type (_microkernels_impl.h) */
#define RTRL_FN(name) name##_f64
#define RTRL_T double
#define RTRL_V __m256d
#define RTRL_W 4
#define RTRL_ZERO _mm256_setzero_pd
#define RTRL_LOAD _mm256_loadu_pd
#define RTRL_STORE _mm256_storeu_pd
#define RTRL_BCAST _mm256_broadcast_sd
#define RTRL_SET1 _mm256_set1_pd
#define RTRL_FMA _mm256_fmadd_pd
#define RTRL_FMAS __builtin_fma
#include "_microkernels_impl.h"

#define RTRL_FN(name) name##_f32
#define RTRL_T float
#define RTRL_V __m256
#define RTRL_W 8
#define RTRL_ZERO _mm256_setzero_ps
#define RTRL_LOAD _mm256_loadu_ps
#define RTRL_STORE _mm256_storeu_ps
#define RTRL_BCAST _mm256_broadcast_ss
#define RTRL_SET1 _mm256_set1_ps
#define RTRL_FMA _mm256_fmadd_ps
#define RTRL_FMAS __builtin_fmaf
#include "_microkernels_impl.h"

#else /* no x86 GCC/Clang: BLAS only */
#define RTRL_HAVE_MICROKERNELS 0
static int rtrl_microkernels_available(void) { return 0; }
static void rtrl_update_f64(int S, int ncols, const double* D, const double* J, ptrdiff_t ldj,
                            double* out, ptrdiff_t ldo, const double* e,
                            double* grad) {}
static void rtrl_update_f32(int S, int ncols, const float* D, const float* J, ptrdiff_t ldj,
                            float* out, ptrdiff_t ldo, const float* e,
                            float* grad) {}
static void rtrl_axpy_avx2_f64(ptrdiff_t n, double a, const double* x, double* y) {}
static void rtrl_axpy_avx2_f32(ptrdiff_t n, float a, const float* x, float* y) {}
static void rtrl_axpy4_avx2_f64(ptrdiff_t n, const double* a, const double* x0,
                                const double* x1, const double* x2, const double* x3,
                                double* y) {}
static void rtrl_axpy4_avx2_f32(ptrdiff_t n, const float* a, const float* x0, const float* x1,
                                const float* x2, const float* x3, float* y) {}
#endif

#endif /* RTRL_MICROKERNELS_H */
