/*
 * Row kernels of the O(P)-per-step learners (SnAp-1, UORO): one pass over a row of the
 * stored influence that updates it and reads the gradient out while it is in registers.
 *
 *   rtrl_snap1_row:  V[k] = d V[k] + g z[k];  grad[k] += e V[k]            (e == 0: no read-out)
 *   rtrl_uoro_row:   T[k] = s T[k] + v z[k];  grad[k] += c T[k];  returns sum_k T[k]^2
 *
 *   rtrl_gemv2:      a = W z and b = W v in one pass over W (UORO's forward and tangent)
 *   rtrl_gram3:      the Gram matrix of three long columns, in float64 (OK's rank 2)
 *   rtrl_scale_row:  grad[k] += e V[k]; V[k] *= c   (the end of a windowed SnAp-1 window)
 *
 * These passes are memory-bound, so the arrays are declared restrict (they never overlap) and,
 * where the CPU has AVX2 + FMA, an explicitly vectorised variant is chosen at run time. The
 * plain C variant is the fallback elsewhere; both give the same numbers up to the order of
 * the sums. The AVX2 variants of SnAp-1's row and gemv2 are written once, in
 * _rowkernels_impl.h, and included per element type.
 */
#ifndef RTRL_ROWKERNELS_H
#define RTRL_ROWKERNELS_H

#include <stddef.h>

#include "_cpu_features.h"

#define RTRL_ROW_GENERIC(T, NAME)                                                            \
    static void NAME##_snap1_generic(ptrdiff_t K, T d, T g, T e, const T* restrict z,        \
                                     T* restrict V, T* restrict grad) {                      \
        ptrdiff_t k;                                                                         \
        if (e != 0) {                                                                        \
            for (k = 0; k < K; k++) {                                                        \
                T v = d * V[k] + g * z[k];                                                   \
                V[k] = v;                                                                    \
                grad[k] += e * v;                                                            \
            }                                                                                \
        } else {                                                                             \
            for (k = 0; k < K; k++) V[k] = d * V[k] + g * z[k];                              \
        }                                                                                    \
    }                                                                                        \
    static double NAME##_uoro_generic(ptrdiff_t K, T s, T v, const T* restrict z,            \
                                      T* restrict Th, T c, T* restrict grad) {               \
        ptrdiff_t k;                                                                         \
        double norm = 0;                                                                     \
        for (k = 0; k < K; k++) {                                                            \
            T t = s * Th[k] + v * z[k];                                                      \
            Th[k] = t;                                                                       \
            norm += (double)t * t;                                                           \
        }                                                                                    \
        if (c != 0)                                                                          \
            for (k = 0; k < K; k++) grad[k] += c * Th[k];                                    \
        return norm;                                                                         \
    }

RTRL_ROW_GENERIC(double, rtrl_f64)
RTRL_ROW_GENERIC(float, rtrl_f32)

/*
 * rtrl_gemv2: a = W z and b = W v for a row-major W (rows x K, row stride ldw) read ONCE --
 * the forward step's product and the tangent's (UORO's D_t s~) share the pass over W, which
 * is what such memory-bound products cost.
 */
#define RTRL_GEMV2_GENERIC(T, NAME)                                                          \
    static void NAME##_gemv2_generic(ptrdiff_t rows, ptrdiff_t K, const T* W, ptrdiff_t ldw, \
                                     const T* z, const T* v, T* a, T* b) {                   \
        for (ptrdiff_t i = 0; i < rows; i++) {                                               \
            const T* row = W + i * ldw;                                                      \
            T sa = 0, sb = 0;                                                                \
            for (ptrdiff_t k = 0; k < K; k++) {                                              \
                sa += row[k] * z[k];                                                         \
                sb += row[k] * v[k];                                                         \
            }                                                                                \
            a[i] = sa;                                                                       \
            b[i] = sb;                                                                       \
        }                                                                                    \
    }

RTRL_GEMV2_GENERIC(double, rtrl_f64)
RTRL_GEMV2_GENERIC(float, rtrl_f32)

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define RTRL_ROW_AVX2 __attribute__((target("avx2,fma")))

RTRL_ROW_AVX2 static inline double rtrl_hsum_pd(__m256d x) {
    __m128d lo = _mm256_castpd256_pd128(x), hi = _mm256_extractf128_pd(x, 1);
    lo = _mm_add_pd(lo, hi);
    return _mm_cvtsd_f64(_mm_add_sd(lo, _mm_unpackhi_pd(lo, lo)));
}
RTRL_ROW_AVX2 static inline float rtrl_hsum_ps(__m256 x) {
    __m128 lo = _mm256_castps256_ps128(x), hi = _mm256_extractf128_ps(x, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    return _mm_cvtss_f32(_mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1)));
}

/* the AVX2 variants written once for both element types (_rowkernels_impl.h) */
#define RTRL_ROWFN(name) rtrl_f64_##name
#define RTRL_T double
#define RTRL_V __m256d
#define RTRL_W 4
#define RTRL_ZERO _mm256_setzero_pd
#define RTRL_LOAD _mm256_loadu_pd
#define RTRL_STORE _mm256_storeu_pd
#define RTRL_SET1 _mm256_set1_pd
#define RTRL_FMA _mm256_fmadd_pd
#define RTRL_MUL _mm256_mul_pd
#define RTRL_HSUM rtrl_hsum_pd
#include "_rowkernels_impl.h"

#define RTRL_ROWFN(name) rtrl_f32_##name
#define RTRL_T float
#define RTRL_V __m256
#define RTRL_W 8
#define RTRL_ZERO _mm256_setzero_ps
#define RTRL_LOAD _mm256_loadu_ps
#define RTRL_STORE _mm256_storeu_ps
#define RTRL_SET1 _mm256_set1_ps
#define RTRL_FMA _mm256_fmadd_ps
#define RTRL_MUL _mm256_mul_ps
#define RTRL_HSUM rtrl_hsum_ps
#include "_rowkernels_impl.h"

/* UORO's row pass stays one variant per type: in float32 the norm is summed in float64 */
RTRL_ROW_AVX2 static double rtrl_f64_uoro_avx2(ptrdiff_t K, double s, double v,
                                               const double* restrict z, double* restrict Th,
                                               double c, double* restrict grad) {
    ptrdiff_t k = 0;
    __m256d vs = _mm256_set1_pd(s), vv = _mm256_set1_pd(v), vc = _mm256_set1_pd(c);
    __m256d n0 = _mm256_setzero_pd(), n1 = _mm256_setzero_pd();
    double norm, lanes[4];
    for (; k + 8 <= K; k += 8) {
        __m256d t0 = _mm256_fmadd_pd(vs, _mm256_loadu_pd(Th + k),
                                     _mm256_mul_pd(vv, _mm256_loadu_pd(z + k)));
        __m256d t1 = _mm256_fmadd_pd(vs, _mm256_loadu_pd(Th + k + 4),
                                     _mm256_mul_pd(vv, _mm256_loadu_pd(z + k + 4)));
        _mm256_storeu_pd(Th + k, t0);
        _mm256_storeu_pd(Th + k + 4, t1);
        n0 = _mm256_fmadd_pd(t0, t0, n0);
        n1 = _mm256_fmadd_pd(t1, t1, n1);
        if (c != 0) {
            _mm256_storeu_pd(grad + k, _mm256_fmadd_pd(vc, t0, _mm256_loadu_pd(grad + k)));
            _mm256_storeu_pd(grad + k + 4,
                             _mm256_fmadd_pd(vc, t1, _mm256_loadu_pd(grad + k + 4)));
        }
    }
    _mm256_storeu_pd(lanes, _mm256_add_pd(n0, n1));
    norm = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; k < K; k++) {
        double t = s * Th[k] + v * z[k];
        Th[k] = t;
        norm += t * t;
        if (c != 0) grad[k] += c * t;
    }
    return norm;
}

RTRL_ROW_AVX2 static double rtrl_f32_uoro_avx2(ptrdiff_t K, float s, float v,
                                               const float* restrict z, float* restrict Th,
                                               float c, float* restrict grad) {
    ptrdiff_t k = 0;
    __m256 vs = _mm256_set1_ps(s), vv = _mm256_set1_ps(v), vc = _mm256_set1_ps(c);
    __m256d n0 = _mm256_setzero_pd(), n1 = _mm256_setzero_pd();
    double norm, lanes[4];
    for (; k + 8 <= K; k += 8) {
        __m256 t = _mm256_fmadd_ps(vs, _mm256_loadu_ps(Th + k),
                                   _mm256_mul_ps(vv, _mm256_loadu_ps(z + k)));
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(t));
        __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(t, 1));
        _mm256_storeu_ps(Th + k, t);
        n0 = _mm256_fmadd_pd(lo, lo, n0);
        n1 = _mm256_fmadd_pd(hi, hi, n1);
        if (c != 0) _mm256_storeu_ps(grad + k, _mm256_fmadd_ps(vc, t, _mm256_loadu_ps(grad + k)));
    }
    _mm256_storeu_pd(lanes, _mm256_add_pd(n0, n1));
    norm = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; k < K; k++) {
        float t = s * Th[k] + v * z[k];
        Th[k] = t;
        norm += (double)t * t;
        if (c != 0) grad[k] += c * t;
    }
    return norm;
}

#define RTRL_ROW_DISPATCH(NAME, GENERIC, AVX2) (rtrl_cpu_avx2_fma() ? AVX2 : GENERIC)
#else
#define RTRL_ROW_DISPATCH(NAME, GENERIC, AVX2) GENERIC
#define rtrl_f64_snap1_avx2 rtrl_f64_snap1_generic
#define rtrl_f32_snap1_avx2 rtrl_f32_snap1_generic
#define rtrl_f64_uoro_avx2 rtrl_f64_uoro_generic
#define rtrl_f32_uoro_avx2 rtrl_f32_uoro_generic
#define rtrl_f64_gemv2_avx2 rtrl_f64_gemv2_generic
#define rtrl_f32_gemv2_avx2 rtrl_f32_gemv2_generic
#endif

static void rtrl_snap1_row_f64(ptrdiff_t K, double d, double g, double e, const double* z,
                               double* V, double* grad) {
    RTRL_ROW_DISPATCH(snap1, rtrl_f64_snap1_generic, rtrl_f64_snap1_avx2)(K, d, g, e, z, V, grad);
}
static void rtrl_snap1_row_f32(ptrdiff_t K, float d, float g, float e, const float* z, float* V,
                               float* grad) {
    RTRL_ROW_DISPATCH(snap1, rtrl_f32_snap1_generic, rtrl_f32_snap1_avx2)(K, d, g, e, z, V, grad);
}
static double rtrl_uoro_row_f64(ptrdiff_t K, double s, double v, const double* z, double* Th,
                                double c, double* grad) {
    return RTRL_ROW_DISPATCH(uoro, rtrl_f64_uoro_generic, rtrl_f64_uoro_avx2)(K, s, v, z, Th, c,
                                                                             grad);
}
static double rtrl_uoro_row_f32(ptrdiff_t K, float s, float v, const float* z, float* Th,
                                float c, float* grad) {
    return RTRL_ROW_DISPATCH(uoro, rtrl_f32_uoro_generic, rtrl_f32_uoro_avx2)(K, s, v, z, Th, c,
                                                                             grad);
}



static void rtrl_gemv2_f64(ptrdiff_t rows, ptrdiff_t K, const double* W, ptrdiff_t ldw,
                           const double* z, const double* v, double* a, double* b) {
    RTRL_ROW_DISPATCH(gemv2, rtrl_f64_gemv2_generic, rtrl_f64_gemv2_avx2)(rows, K, W, ldw, z, v,
                                                                          a, b);
}
static void rtrl_gemv2_f32(ptrdiff_t rows, ptrdiff_t K, const float* W, ptrdiff_t ldw,
                           const float* z, const float* v, float* a, float* b) {
    RTRL_ROW_DISPATCH(gemv2, rtrl_f32_gemv2_generic, rtrl_f32_gemv2_avx2)(rows, K, W, ldw, z, v,
                                                                          a, b);
}

/*
 * rtrl_gram3: the 6 distinct entries of the Gram matrix of three columns a0, a1, a2 of length
 * n, summed in float64 whatever the input type (g = [a0.a0, a1.a0, a2.a0, a1.a1, a2.a1,
 * a2.a2]) -- OK's rank-2 orthogonalisation of its n^2 x 3 factors in one pass.
 */
#define RTRL_GRAM3_GENERIC(T, NAME)                                                          \
    static void NAME##_gram3_generic(ptrdiff_t n, const T* a0, const T* a1, const T* a2,    \
                                     double* g) {                                            \
        double s00 = 0, s10 = 0, s20 = 0, s11 = 0, s21 = 0, s22 = 0;                         \
        for (ptrdiff_t b = 0; b < n; b++) {                                                  \
            double x = a0[b], y = a1[b], z = a2[b];                                          \
            s00 += x * x, s10 += y * x, s20 += z * x, s11 += y * y, s21 += z * y;            \
            s22 += z * z;                                                                    \
        }                                                                                    \
        g[0] = s00, g[1] = s10, g[2] = s20, g[3] = s11, g[4] = s21, g[5] = s22;              \
    }

RTRL_GRAM3_GENERIC(double, rtrl_f64)
RTRL_GRAM3_GENERIC(float, rtrl_f32)

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define RTRL_GRAM3_AVX2(T, NAME, LOAD)                                                       \
    RTRL_ROW_AVX2 static void NAME##_gram3_avx2(ptrdiff_t n, const T* a0, const T* a1,       \
                                                const T* a2, double* g) {                    \
        __m256d s00 = _mm256_setzero_pd(), s10 = s00, s20 = s00, s11 = s00, s21 = s00;       \
        __m256d s22 = s00;                                                                   \
        ptrdiff_t b = 0;                                                                     \
        for (; b + 4 <= n; b += 4) {                                                         \
            __m256d x = LOAD(a0 + b), y = LOAD(a1 + b), z = LOAD(a2 + b);                    \
            s00 = _mm256_fmadd_pd(x, x, s00);                                                \
            s10 = _mm256_fmadd_pd(y, x, s10);                                                \
            s20 = _mm256_fmadd_pd(z, x, s20);                                                \
            s11 = _mm256_fmadd_pd(y, y, s11);                                                \
            s21 = _mm256_fmadd_pd(z, y, s21);                                                \
            s22 = _mm256_fmadd_pd(z, z, s22);                                                \
        }                                                                                    \
        NAME##_gram3_generic(n - b, a0 + b, a1 + b, a2 + b, g);                              \
        g[0] += rtrl_hsum_pd(s00), g[1] += rtrl_hsum_pd(s10), g[2] += rtrl_hsum_pd(s20);     \
        g[3] += rtrl_hsum_pd(s11), g[4] += rtrl_hsum_pd(s21), g[5] += rtrl_hsum_pd(s22);     \
    }
#define RTRL_LOAD_PD(p) _mm256_loadu_pd(p)
#define RTRL_LOAD_PS_AS_PD(p) _mm256_cvtps_pd(_mm_loadu_ps(p))
RTRL_GRAM3_AVX2(double, rtrl_f64, RTRL_LOAD_PD)
RTRL_GRAM3_AVX2(float, rtrl_f32, RTRL_LOAD_PS_AS_PD)
#else
#define rtrl_f64_gram3_avx2 rtrl_f64_gram3_generic
#define rtrl_f32_gram3_avx2 rtrl_f32_gram3_generic
#endif

static void rtrl_gram3_f64(ptrdiff_t n, const double* a0, const double* a1, const double* a2,
                           double* g) {
    RTRL_ROW_DISPATCH(gram3, rtrl_f64_gram3_generic, rtrl_f64_gram3_avx2)(n, a0, a1, a2, g);
}
static void rtrl_gram3_f32(ptrdiff_t n, const float* a0, const float* a1, const float* a2,
                           double* g) {
    RTRL_ROW_DISPATCH(gram3, rtrl_f32_gram3_generic, rtrl_f32_gram3_avx2)(n, a0, a1, a2, g);
}

/*
 * rtrl_scale_row: grad[k] += e V[k], then V[k] *= c -- the row pass at the end of a windowed
 * SnAp-1 window (E V_0 read out, V_0 scaled by prod d). The AVX2 variant is the same loop,
 * compiled for AVX2 (the compiler vectorises it; no reduction is involved).
 */
#define RTRL_SCALE_BODY(T)                                                                   \
    {                                                                                        \
        ptrdiff_t k;                                                                         \
        if (e != 0)                                                                          \
            for (k = 0; k < K; k++) grad[k] += e * V[k];                                     \
        for (k = 0; k < K; k++) V[k] *= c;                                                   \
    }
static void rtrl_f64_scale_generic(ptrdiff_t K, double c, double e, double* restrict V,
                                   double* restrict grad) RTRL_SCALE_BODY(double)
static void rtrl_f32_scale_generic(ptrdiff_t K, float c, float e, float* restrict V,
                                   float* restrict grad) RTRL_SCALE_BODY(float)
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
RTRL_ROW_AVX2 static void rtrl_f64_scale_avx2(ptrdiff_t K, double c, double e,
                                              double* restrict V,
                                              double* restrict grad) RTRL_SCALE_BODY(double)
RTRL_ROW_AVX2 static void rtrl_f32_scale_avx2(ptrdiff_t K, float c, float e,
                                              float* restrict V,
                                              float* restrict grad) RTRL_SCALE_BODY(float)
#else
#define rtrl_f64_scale_avx2 rtrl_f64_scale_generic
#define rtrl_f32_scale_avx2 rtrl_f32_scale_generic
#endif
static void rtrl_scale_row_f64(ptrdiff_t K, double c, double e, double* V, double* grad) {
    RTRL_ROW_DISPATCH(scale, rtrl_f64_scale_generic, rtrl_f64_scale_avx2)(K, c, e, V, grad);
}
static void rtrl_scale_row_f32(ptrdiff_t K, float c, float e, float* V, float* grad) {
    RTRL_ROW_DISPATCH(scale, rtrl_f32_scale_generic, rtrl_f32_scale_avx2)(K, c, e, V, grad);
}

#endif /* RTRL_ROWKERNELS_H */
