/*
 * Register-tiled kernels for the influence update of small states (AVX2 + FMA).
 *
 * out[i, c] = sum_l D[i, l] J[l, c]     for a block of columns c (written, never read),
 * grad[c]  += sum_i e_bar[i] out[i, c]   (if e_bar is not NULL),
 *
 * with D S x S, J and out row-major with row strides ldj and ldo. For the short inner
 * dimension of RTRL's product (K = S <= 48 in float64, 64 in float32) BLAS spends as long packing J as multiplying;
 * these kernels read J straight from cache in 4-row x 3-vector tiles (12 accumulators, enough
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

/* ---------------------------------------------------------------- float64 */

RTRL_AVX2 static void rtrl_tile4_f64(int S, const double* D, const double* J, ptrdiff_t ldj,
                                     double* o, ptrdiff_t ldo, const double* e,
                                     double* g) {
    /* rows 0..3 of D (at D), columns 0..7 of J and out */
    __m256d a00 = _mm256_setzero_pd(), a01 = _mm256_setzero_pd();
    __m256d a10 = _mm256_setzero_pd(), a11 = _mm256_setzero_pd();
    __m256d a20 = _mm256_setzero_pd(), a21 = _mm256_setzero_pd();
    __m256d a30 = _mm256_setzero_pd(), a31 = _mm256_setzero_pd();
    const double* jr = J;
    for (int l = 0; l < S; l++, jr += ldj) {
        __m256d j0 = _mm256_loadu_pd(jr), j1 = _mm256_loadu_pd(jr + 4);
        __m256d b = _mm256_broadcast_sd(D + l);
        a00 = _mm256_fmadd_pd(b, j0, a00); a01 = _mm256_fmadd_pd(b, j1, a01);
        b = _mm256_broadcast_sd(D + S + l);
        a10 = _mm256_fmadd_pd(b, j0, a10); a11 = _mm256_fmadd_pd(b, j1, a11);
        b = _mm256_broadcast_sd(D + 2 * S + l);
        a20 = _mm256_fmadd_pd(b, j0, a20); a21 = _mm256_fmadd_pd(b, j1, a21);
        b = _mm256_broadcast_sd(D + 3 * S + l);
        a30 = _mm256_fmadd_pd(b, j0, a30); a31 = _mm256_fmadd_pd(b, j1, a31);
    }
    _mm256_storeu_pd(o, a00); _mm256_storeu_pd(o + 4, a01);
    _mm256_storeu_pd(o + ldo, a10); _mm256_storeu_pd(o + ldo + 4, a11);
    _mm256_storeu_pd(o + 2 * ldo, a20); _mm256_storeu_pd(o + 2 * ldo + 4, a21);
    _mm256_storeu_pd(o + 3 * ldo, a30); _mm256_storeu_pd(o + 3 * ldo + 4, a31);
    if (e) {
        __m256d g0 = _mm256_loadu_pd(g), g1 = _mm256_loadu_pd(g + 4), b;
        b = _mm256_broadcast_sd(e);
        g0 = _mm256_fmadd_pd(b, a00, g0); g1 = _mm256_fmadd_pd(b, a01, g1);
        b = _mm256_broadcast_sd(e + 1);
        g0 = _mm256_fmadd_pd(b, a10, g0); g1 = _mm256_fmadd_pd(b, a11, g1);
        b = _mm256_broadcast_sd(e + 2);
        g0 = _mm256_fmadd_pd(b, a20, g0); g1 = _mm256_fmadd_pd(b, a21, g1);
        b = _mm256_broadcast_sd(e + 3);
        g0 = _mm256_fmadd_pd(b, a30, g0); g1 = _mm256_fmadd_pd(b, a31, g1);
        _mm256_storeu_pd(g, g0); _mm256_storeu_pd(g + 4, g1);
    }
}

RTRL_AVX2 static void rtrl_tile1_f64(int S, const double* D, const double* J, ptrdiff_t ldj,
                                     double* o, const double* e, double* g) {
    /* one row of D, columns 0..7 */
    __m256d a0 = _mm256_setzero_pd();
    __m256d a1 = _mm256_setzero_pd();
    const double* jr = J;
    for (int l = 0; l < S; l++, jr += ldj) {
        __m256d b = _mm256_broadcast_sd(D + l);
        a0 = _mm256_fmadd_pd(b, _mm256_loadu_pd(jr), a0);
        a1 = _mm256_fmadd_pd(b, _mm256_loadu_pd(jr + 4), a1);
    }
    _mm256_storeu_pd(o, a0); _mm256_storeu_pd(o + 4, a1);
    if (e) {
        __m256d b = _mm256_broadcast_sd(e);
        _mm256_storeu_pd(g, _mm256_fmadd_pd(b, a0, _mm256_loadu_pd(g)));
        _mm256_storeu_pd(g + 4, _mm256_fmadd_pd(b, a1, _mm256_loadu_pd(g + 4)));
    }
}

RTRL_AVX2 static void rtrl_column_f64(int S, const double* D, const double* J, ptrdiff_t ldj,
                                      double* o, ptrdiff_t ldo, const double* e, double* g) {
    /* one column (the ragged end of a block) */
    double gc = *g;  /* the same operations, in the same order, as the tiles */
    for (int i = 0; i < S; i++) {
        double acc = 0.0;
        for (int l = 0; l < S; l++) acc = __builtin_fma(D[i * S + l], J[l * ldj], acc);
        o[i * ldo] = acc;
        if (e) gc = __builtin_fma(e[i], acc, gc);
    }
    *g = gc;
}

RTRL_AVX2 static void rtrl_tile4x3_f64(int S, const double* D, const double* J, ptrdiff_t ldj,
                                        double* o, ptrdiff_t ldo, const double* e,
                                        double* g) {
    /* rows 0..3 of D, columns 0..11: 12 accumulators hide the FMA latency */
    __m256d a00 = _mm256_setzero_pd(), a01 = _mm256_setzero_pd(), a02 = _mm256_setzero_pd();
    __m256d a10 = _mm256_setzero_pd(), a11 = _mm256_setzero_pd(), a12 = _mm256_setzero_pd();
    __m256d a20 = _mm256_setzero_pd(), a21 = _mm256_setzero_pd(), a22 = _mm256_setzero_pd();
    __m256d a30 = _mm256_setzero_pd(), a31 = _mm256_setzero_pd(), a32 = _mm256_setzero_pd();
    const double* jr = J;
    for (int l = 0; l < S; l++, jr += ldj) {
        __m256d j0 = _mm256_loadu_pd(jr), j1 = _mm256_loadu_pd(jr + 4),
                j2 = _mm256_loadu_pd(jr + 8), b;
        b = _mm256_broadcast_sd(D + l);
        a00 = _mm256_fmadd_pd(b, j0, a00); a01 = _mm256_fmadd_pd(b, j1, a01);
        a02 = _mm256_fmadd_pd(b, j2, a02);
        b = _mm256_broadcast_sd(D + S + l);
        a10 = _mm256_fmadd_pd(b, j0, a10); a11 = _mm256_fmadd_pd(b, j1, a11);
        a12 = _mm256_fmadd_pd(b, j2, a12);
        b = _mm256_broadcast_sd(D + 2 * S + l);
        a20 = _mm256_fmadd_pd(b, j0, a20); a21 = _mm256_fmadd_pd(b, j1, a21);
        a22 = _mm256_fmadd_pd(b, j2, a22);
        b = _mm256_broadcast_sd(D + 3 * S + l);
        a30 = _mm256_fmadd_pd(b, j0, a30); a31 = _mm256_fmadd_pd(b, j1, a31);
        a32 = _mm256_fmadd_pd(b, j2, a32);
    }
    _mm256_storeu_pd(o, a00); _mm256_storeu_pd(o + 4, a01); _mm256_storeu_pd(o + 8, a02);
    _mm256_storeu_pd(o + ldo, a10); _mm256_storeu_pd(o + ldo + 4, a11);
    _mm256_storeu_pd(o + ldo + 8, a12);
    _mm256_storeu_pd(o + 2 * ldo, a20); _mm256_storeu_pd(o + 2 * ldo + 4, a21);
    _mm256_storeu_pd(o + 2 * ldo + 8, a22);
    _mm256_storeu_pd(o + 3 * ldo, a30); _mm256_storeu_pd(o + 3 * ldo + 4, a31);
    _mm256_storeu_pd(o + 3 * ldo + 8, a32);
    if (e) {
        __m256d g0 = _mm256_loadu_pd(g), g1 = _mm256_loadu_pd(g + 4),
                g2 = _mm256_loadu_pd(g + 8), b;
        b = _mm256_broadcast_sd(e);
        g0 = _mm256_fmadd_pd(b, a00, g0); g1 = _mm256_fmadd_pd(b, a01, g1);
        g2 = _mm256_fmadd_pd(b, a02, g2);
        b = _mm256_broadcast_sd(e + 1);
        g0 = _mm256_fmadd_pd(b, a10, g0); g1 = _mm256_fmadd_pd(b, a11, g1);
        g2 = _mm256_fmadd_pd(b, a12, g2);
        b = _mm256_broadcast_sd(e + 2);
        g0 = _mm256_fmadd_pd(b, a20, g0); g1 = _mm256_fmadd_pd(b, a21, g1);
        g2 = _mm256_fmadd_pd(b, a22, g2);
        b = _mm256_broadcast_sd(e + 3);
        g0 = _mm256_fmadd_pd(b, a30, g0); g1 = _mm256_fmadd_pd(b, a31, g1);
        g2 = _mm256_fmadd_pd(b, a32, g2);
        _mm256_storeu_pd(g, g0); _mm256_storeu_pd(g + 4, g1); _mm256_storeu_pd(g + 8, g2);
    }
}

RTRL_AVX2 static void rtrl_tile1x3_f64(int S, const double* D, const double* J, ptrdiff_t ldj,
                                        double* o, const double* e, double* g) {
    /* one row of D, columns 0..11 */
    __m256d a0 = _mm256_setzero_pd();
    __m256d a1 = _mm256_setzero_pd();
    __m256d a2 = _mm256_setzero_pd();
    const double* jr = J;
    for (int l = 0; l < S; l++, jr += ldj) {
        __m256d b = _mm256_broadcast_sd(D + l);
        a0 = _mm256_fmadd_pd(b, _mm256_loadu_pd(jr), a0);
        a1 = _mm256_fmadd_pd(b, _mm256_loadu_pd(jr + 4), a1);
        a2 = _mm256_fmadd_pd(b, _mm256_loadu_pd(jr + 8), a2);
    }
    _mm256_storeu_pd(o, a0); _mm256_storeu_pd(o + 4, a1); _mm256_storeu_pd(o + 8, a2);
    if (e) {
        __m256d b = _mm256_broadcast_sd(e);
        _mm256_storeu_pd(g, _mm256_fmadd_pd(b, a0, _mm256_loadu_pd(g)));
        _mm256_storeu_pd(g + 4, _mm256_fmadd_pd(b, a1, _mm256_loadu_pd(g + 4)));
        _mm256_storeu_pd(g + 8, _mm256_fmadd_pd(b, a2, _mm256_loadu_pd(g + 8)));
    }
}

RTRL_AVX2 static void rtrl_update_f64(int S, int ncols, const double* D, const double* J,
                                      ptrdiff_t ldj, double* out, ptrdiff_t ldo,
                                      const double* e, double* grad) {
    int c = 0, i, wide_end = rtrl_wide_columns(ncols, 12, 8);
    for (; c < wide_end; c += 12) {
        for (i = 0; i + 4 <= S; i += 4)
            rtrl_tile4x3_f64(S, D + (ptrdiff_t)i * S, J + c, ldj, out + i * ldo + c, ldo,
                             e ? e + i : NULL, grad + c);
        for (; i < S; i++)
            rtrl_tile1x3_f64(S, D + (ptrdiff_t)i * S, J + c, ldj, out + i * ldo + c,
                             e ? e + i : NULL, grad + c);
    }
    for (; c + 8 <= ncols; c += 8) {
        for (i = 0; i + 4 <= S; i += 4)
            rtrl_tile4_f64(S, D + (ptrdiff_t)i * S, J + c, ldj, out + i * ldo + c, ldo,
                           e ? e + i : NULL, grad + c);
        for (; i < S; i++)
            rtrl_tile1_f64(S, D + (ptrdiff_t)i * S, J + c, ldj, out + i * ldo + c,
                           e ? e + i : NULL, grad + c);
    }
    for (; c < ncols; c++) rtrl_column_f64(S, D, J + c, ldj, out + c, ldo, e, grad + c);
}

/* ---------------------------------------------------------------- float32 */

RTRL_AVX2 static void rtrl_tile4_f32(int S, const float* D, const float* J, ptrdiff_t ldj,
                                     float* o, ptrdiff_t ldo, const float* e,
                                     float* g) {
    /* rows 0..3 of D, columns 0..15 */
    __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps();
    __m256 a10 = _mm256_setzero_ps(), a11 = _mm256_setzero_ps();
    __m256 a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps();
    __m256 a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
    const float* jr = J;
    for (int l = 0; l < S; l++, jr += ldj) {
        __m256 j0 = _mm256_loadu_ps(jr), j1 = _mm256_loadu_ps(jr + 8);
        __m256 b = _mm256_broadcast_ss(D + l);
        a00 = _mm256_fmadd_ps(b, j0, a00); a01 = _mm256_fmadd_ps(b, j1, a01);
        b = _mm256_broadcast_ss(D + S + l);
        a10 = _mm256_fmadd_ps(b, j0, a10); a11 = _mm256_fmadd_ps(b, j1, a11);
        b = _mm256_broadcast_ss(D + 2 * S + l);
        a20 = _mm256_fmadd_ps(b, j0, a20); a21 = _mm256_fmadd_ps(b, j1, a21);
        b = _mm256_broadcast_ss(D + 3 * S + l);
        a30 = _mm256_fmadd_ps(b, j0, a30); a31 = _mm256_fmadd_ps(b, j1, a31);
    }
    _mm256_storeu_ps(o, a00); _mm256_storeu_ps(o + 8, a01);
    _mm256_storeu_ps(o + ldo, a10); _mm256_storeu_ps(o + ldo + 8, a11);
    _mm256_storeu_ps(o + 2 * ldo, a20); _mm256_storeu_ps(o + 2 * ldo + 8, a21);
    _mm256_storeu_ps(o + 3 * ldo, a30); _mm256_storeu_ps(o + 3 * ldo + 8, a31);
    if (e) {
        __m256 g0 = _mm256_loadu_ps(g), g1 = _mm256_loadu_ps(g + 8), b;
        b = _mm256_broadcast_ss(e);
        g0 = _mm256_fmadd_ps(b, a00, g0); g1 = _mm256_fmadd_ps(b, a01, g1);
        b = _mm256_broadcast_ss(e + 1);
        g0 = _mm256_fmadd_ps(b, a10, g0); g1 = _mm256_fmadd_ps(b, a11, g1);
        b = _mm256_broadcast_ss(e + 2);
        g0 = _mm256_fmadd_ps(b, a20, g0); g1 = _mm256_fmadd_ps(b, a21, g1);
        b = _mm256_broadcast_ss(e + 3);
        g0 = _mm256_fmadd_ps(b, a30, g0); g1 = _mm256_fmadd_ps(b, a31, g1);
        _mm256_storeu_ps(g, g0); _mm256_storeu_ps(g + 8, g1);
    }
}

RTRL_AVX2 static void rtrl_tile1_f32(int S, const float* D, const float* J, ptrdiff_t ldj,
                                     float* o, const float* e, float* g) {
    __m256 a0 = _mm256_setzero_ps();
    __m256 a1 = _mm256_setzero_ps();
    const float* jr = J;
    for (int l = 0; l < S; l++, jr += ldj) {
        __m256 b = _mm256_broadcast_ss(D + l);
        a0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(jr), a0);
        a1 = _mm256_fmadd_ps(b, _mm256_loadu_ps(jr + 8), a1);
    }
    _mm256_storeu_ps(o, a0); _mm256_storeu_ps(o + 8, a1);
    if (e) {
        __m256 b = _mm256_broadcast_ss(e);
        _mm256_storeu_ps(g, _mm256_fmadd_ps(b, a0, _mm256_loadu_ps(g)));
        _mm256_storeu_ps(g + 8, _mm256_fmadd_ps(b, a1, _mm256_loadu_ps(g + 8)));
    }
}

RTRL_AVX2 static void rtrl_column_f32(int S, const float* D, const float* J, ptrdiff_t ldj,
                                      float* o, ptrdiff_t ldo, const float* e, float* g) {
    float gc = *g;  /* the same operations, in the same order, as the tiles */
    for (int i = 0; i < S; i++) {
        float acc = 0.0f;
        for (int l = 0; l < S; l++) acc = __builtin_fmaf(D[i * S + l], J[l * ldj], acc);
        o[i * ldo] = acc;
        if (e) gc = __builtin_fmaf(e[i], acc, gc);
    }
    *g = gc;
}

RTRL_AVX2 static void rtrl_tile4x3_f32(int S, const float* D, const float* J, ptrdiff_t ldj,
                                        float* o, ptrdiff_t ldo, const float* e,
                                        float* g) {
    /* rows 0..3 of D, columns 0..23: 12 accumulators hide the FMA latency */
    __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps(), a02 = _mm256_setzero_ps();
    __m256 a10 = _mm256_setzero_ps(), a11 = _mm256_setzero_ps(), a12 = _mm256_setzero_ps();
    __m256 a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps(), a22 = _mm256_setzero_ps();
    __m256 a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps(), a32 = _mm256_setzero_ps();
    const float* jr = J;
    for (int l = 0; l < S; l++, jr += ldj) {
        __m256 j0 = _mm256_loadu_ps(jr), j1 = _mm256_loadu_ps(jr + 8),
                j2 = _mm256_loadu_ps(jr + 16), b;
        b = _mm256_broadcast_ss(D + l);
        a00 = _mm256_fmadd_ps(b, j0, a00); a01 = _mm256_fmadd_ps(b, j1, a01);
        a02 = _mm256_fmadd_ps(b, j2, a02);
        b = _mm256_broadcast_ss(D + S + l);
        a10 = _mm256_fmadd_ps(b, j0, a10); a11 = _mm256_fmadd_ps(b, j1, a11);
        a12 = _mm256_fmadd_ps(b, j2, a12);
        b = _mm256_broadcast_ss(D + 2 * S + l);
        a20 = _mm256_fmadd_ps(b, j0, a20); a21 = _mm256_fmadd_ps(b, j1, a21);
        a22 = _mm256_fmadd_ps(b, j2, a22);
        b = _mm256_broadcast_ss(D + 3 * S + l);
        a30 = _mm256_fmadd_ps(b, j0, a30); a31 = _mm256_fmadd_ps(b, j1, a31);
        a32 = _mm256_fmadd_ps(b, j2, a32);
    }
    _mm256_storeu_ps(o, a00); _mm256_storeu_ps(o + 8, a01); _mm256_storeu_ps(o + 16, a02);
    _mm256_storeu_ps(o + ldo, a10); _mm256_storeu_ps(o + ldo + 8, a11);
    _mm256_storeu_ps(o + ldo + 16, a12);
    _mm256_storeu_ps(o + 2 * ldo, a20); _mm256_storeu_ps(o + 2 * ldo + 8, a21);
    _mm256_storeu_ps(o + 2 * ldo + 16, a22);
    _mm256_storeu_ps(o + 3 * ldo, a30); _mm256_storeu_ps(o + 3 * ldo + 8, a31);
    _mm256_storeu_ps(o + 3 * ldo + 16, a32);
    if (e) {
        __m256 g0 = _mm256_loadu_ps(g), g1 = _mm256_loadu_ps(g + 8),
                g2 = _mm256_loadu_ps(g + 16), b;
        b = _mm256_broadcast_ss(e);
        g0 = _mm256_fmadd_ps(b, a00, g0); g1 = _mm256_fmadd_ps(b, a01, g1);
        g2 = _mm256_fmadd_ps(b, a02, g2);
        b = _mm256_broadcast_ss(e + 1);
        g0 = _mm256_fmadd_ps(b, a10, g0); g1 = _mm256_fmadd_ps(b, a11, g1);
        g2 = _mm256_fmadd_ps(b, a12, g2);
        b = _mm256_broadcast_ss(e + 2);
        g0 = _mm256_fmadd_ps(b, a20, g0); g1 = _mm256_fmadd_ps(b, a21, g1);
        g2 = _mm256_fmadd_ps(b, a22, g2);
        b = _mm256_broadcast_ss(e + 3);
        g0 = _mm256_fmadd_ps(b, a30, g0); g1 = _mm256_fmadd_ps(b, a31, g1);
        g2 = _mm256_fmadd_ps(b, a32, g2);
        _mm256_storeu_ps(g, g0); _mm256_storeu_ps(g + 8, g1); _mm256_storeu_ps(g + 16, g2);
    }
}

RTRL_AVX2 static void rtrl_tile1x3_f32(int S, const float* D, const float* J, ptrdiff_t ldj,
                                        float* o, const float* e, float* g) {
    /* one row of D, columns 0..23 */
    __m256 a0 = _mm256_setzero_ps();
    __m256 a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps();
    const float* jr = J;
    for (int l = 0; l < S; l++, jr += ldj) {
        __m256 b = _mm256_broadcast_ss(D + l);
        a0 = _mm256_fmadd_ps(b, _mm256_loadu_ps(jr), a0);
        a1 = _mm256_fmadd_ps(b, _mm256_loadu_ps(jr + 8), a1);
        a2 = _mm256_fmadd_ps(b, _mm256_loadu_ps(jr + 16), a2);
    }
    _mm256_storeu_ps(o, a0); _mm256_storeu_ps(o + 8, a1); _mm256_storeu_ps(o + 16, a2);
    if (e) {
        __m256 b = _mm256_broadcast_ss(e);
        _mm256_storeu_ps(g, _mm256_fmadd_ps(b, a0, _mm256_loadu_ps(g)));
        _mm256_storeu_ps(g + 8, _mm256_fmadd_ps(b, a1, _mm256_loadu_ps(g + 8)));
        _mm256_storeu_ps(g + 16, _mm256_fmadd_ps(b, a2, _mm256_loadu_ps(g + 16)));
    }
}

RTRL_AVX2 static void rtrl_update_f32(int S, int ncols, const float* D, const float* J,
                                      ptrdiff_t ldj, float* out, ptrdiff_t ldo,
                                      const float* e, float* grad) {
    int c = 0, i, wide_end = rtrl_wide_columns(ncols, 24, 16);
    for (; c < wide_end; c += 24) {
        for (i = 0; i + 4 <= S; i += 4)
            rtrl_tile4x3_f32(S, D + (ptrdiff_t)i * S, J + c, ldj, out + i * ldo + c, ldo,
                             e ? e + i : NULL, grad + c);
        for (; i < S; i++)
            rtrl_tile1x3_f32(S, D + (ptrdiff_t)i * S, J + c, ldj, out + i * ldo + c,
                             e ? e + i : NULL, grad + c);
    }
    for (; c + 16 <= ncols; c += 16) {
        for (i = 0; i + 4 <= S; i += 4)
            rtrl_tile4_f32(S, D + (ptrdiff_t)i * S, J + c, ldj, out + i * ldo + c, ldo,
                           e ? e + i : NULL, grad + c);
        for (; i < S; i++)
            rtrl_tile1_f32(S, D + (ptrdiff_t)i * S, J + c, ldj, out + i * ldo + c,
                           e ? e + i : NULL, grad + c);
    }
    for (; c < ncols; c++) rtrl_column_f32(S, D, J + c, ldj, out + c, ldo, e, grad + c);
}

/* y += a x, for the structured (sparse) products of exact RTRL on sparse networks */
RTRL_AVX2 static void rtrl_axpy_avx2_f64(ptrdiff_t n, double a, const double* x, double* y) {
    ptrdiff_t i = 0;
    __m256d va = _mm256_set1_pd(a);
    for (; i + 8 <= n; i += 8) {
        _mm256_storeu_pd(y + i, _mm256_fmadd_pd(va, _mm256_loadu_pd(x + i), _mm256_loadu_pd(y + i)));
        _mm256_storeu_pd(y + i + 4,
                         _mm256_fmadd_pd(va, _mm256_loadu_pd(x + i + 4), _mm256_loadu_pd(y + i + 4)));
    }
    for (; i < n; i++) y[i] = __builtin_fma(a, x[i], y[i]);
}

RTRL_AVX2 static void rtrl_axpy_avx2_f32(ptrdiff_t n, float a, const float* x, float* y) {
    ptrdiff_t i = 0;
    __m256 va = _mm256_set1_ps(a);
    for (; i + 16 <= n; i += 16) {
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
        _mm256_storeu_ps(y + i + 8,
                         _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8)));
    }
    for (; i < n; i++) y[i] = __builtin_fmaf(a, x[i], y[i]);
}

/* y += a0 x0 + a1 x1 + a2 x2 + a3 x3: four rows of a sparse product per pass over y (one load
 * and store of y per four FMAs instead of per one) */
RTRL_AVX2 static void rtrl_axpy4_avx2_f64(ptrdiff_t n, const double* a, const double* x0,
                                          const double* x1, const double* x2, const double* x3,
                                          double* y) {
    ptrdiff_t i = 0;
    __m256d a0 = _mm256_set1_pd(a[0]), a1 = _mm256_set1_pd(a[1]);
    __m256d a2 = _mm256_set1_pd(a[2]), a3 = _mm256_set1_pd(a[3]);
    for (; i + 4 <= n; i += 4) {
        __m256d s = _mm256_fmadd_pd(a0, _mm256_loadu_pd(x0 + i), _mm256_loadu_pd(y + i));
        s = _mm256_fmadd_pd(a1, _mm256_loadu_pd(x1 + i), s);
        s = _mm256_fmadd_pd(a2, _mm256_loadu_pd(x2 + i), s);
        _mm256_storeu_pd(y + i, _mm256_fmadd_pd(a3, _mm256_loadu_pd(x3 + i), s));
    }
    for (; i < n; i++) {
        double s = __builtin_fma(a[0], x0[i], y[i]);
        s = __builtin_fma(a[1], x1[i], s);
        s = __builtin_fma(a[2], x2[i], s);
        y[i] = __builtin_fma(a[3], x3[i], s);
    }
}

RTRL_AVX2 static void rtrl_axpy4_avx2_f32(ptrdiff_t n, const float* a, const float* x0,
                                          const float* x1, const float* x2, const float* x3,
                                          float* y) {
    ptrdiff_t i = 0;
    __m256 a0 = _mm256_set1_ps(a[0]), a1 = _mm256_set1_ps(a[1]);
    __m256 a2 = _mm256_set1_ps(a[2]), a3 = _mm256_set1_ps(a[3]);
    for (; i + 8 <= n; i += 8) {
        __m256 s = _mm256_fmadd_ps(a0, _mm256_loadu_ps(x0 + i), _mm256_loadu_ps(y + i));
        s = _mm256_fmadd_ps(a1, _mm256_loadu_ps(x1 + i), s);
        s = _mm256_fmadd_ps(a2, _mm256_loadu_ps(x2 + i), s);
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(a3, _mm256_loadu_ps(x3 + i), s));
    }
    for (; i < n; i++) {
        float s = __builtin_fmaf(a[0], x0[i], y[i]);
        s = __builtin_fmaf(a[1], x1[i], s);
        s = __builtin_fmaf(a[2], x2[i], s);
        y[i] = __builtin_fmaf(a[3], x3[i], s);
    }
}

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
