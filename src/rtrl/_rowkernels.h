/*
 * Row kernels of the O(P)-per-step learners (SnAp-1, UORO): one pass over a row of the
 * stored influence that updates it and reads the gradient out while it is in registers.
 *
 *   rtrl_snap1_row:  V[k] = d V[k] + g z[k];  grad[k] += e V[k]            (e == 0: no read-out)
 *   rtrl_uoro_row:   T[k] = s T[k] + v z[k];  grad[k] += c T[k];  returns sum_k T[k]^2
 *
 * These passes are memory-bound, so the arrays are declared restrict (they never overlap) and,
 * where the CPU has AVX2 + FMA, an explicitly vectorised variant is chosen at run time. The
 * plain C variant is the fallback elsewhere; both give the same numbers up to the order of
 * the norm's summation.
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

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define RTRL_ROW_AVX2 __attribute__((target("avx2,fma")))

RTRL_ROW_AVX2 static void rtrl_f64_snap1_avx2(ptrdiff_t K, double d, double g, double e,
                                              const double* restrict z, double* restrict V,
                                              double* restrict grad) {
    ptrdiff_t k = 0;
    __m256d vd = _mm256_set1_pd(d), vg = _mm256_set1_pd(g), ve = _mm256_set1_pd(e);
    for (; k + 4 <= K; k += 4) {
        __m256d v = _mm256_fmadd_pd(vd, _mm256_loadu_pd(V + k),
                                    _mm256_mul_pd(vg, _mm256_loadu_pd(z + k)));
        _mm256_storeu_pd(V + k, v);
        if (e != 0) _mm256_storeu_pd(grad + k, _mm256_fmadd_pd(ve, v, _mm256_loadu_pd(grad + k)));
    }
    for (; k < K; k++) {
        double v = d * V[k] + g * z[k];
        V[k] = v;
        if (e != 0) grad[k] += e * v;
    }
}

RTRL_ROW_AVX2 static void rtrl_f32_snap1_avx2(ptrdiff_t K, float d, float g, float e,
                                              const float* restrict z, float* restrict V,
                                              float* restrict grad) {
    ptrdiff_t k = 0;
    __m256 vd = _mm256_set1_ps(d), vg = _mm256_set1_ps(g), ve = _mm256_set1_ps(e);
    for (; k + 8 <= K; k += 8) {
        __m256 v = _mm256_fmadd_ps(vd, _mm256_loadu_ps(V + k),
                                   _mm256_mul_ps(vg, _mm256_loadu_ps(z + k)));
        _mm256_storeu_ps(V + k, v);
        if (e != 0) _mm256_storeu_ps(grad + k, _mm256_fmadd_ps(ve, v, _mm256_loadu_ps(grad + k)));
    }
    for (; k < K; k++) {
        float v = d * V[k] + g * z[k];
        V[k] = v;
        if (e != 0) grad[k] += e * v;
    }
}

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

/* four rows at a time (then two, then one), two vectors */
RTRL_ROW_AVX2 static void rtrl_f64_gemv2_avx2(ptrdiff_t rows, ptrdiff_t K, const double* W,
                                              ptrdiff_t ldw, const double* z, const double* v,
                                              double* a, double* b) {
    ptrdiff_t i = 0;
    /* four rows: eight accumulators cover the FMA latency, and each load of z and v serves
       four rows (two rows at a time left the loop waiting on its four FMA chains) */
    for (; i + 4 <= rows; i += 4) {
        const double* r0 = W + i * ldw;
        const double* r1 = r0 + ldw;
        const double* r2 = r1 + ldw;
        const double* r3 = r2 + ldw;
        __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd(), a2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd();
        __m256d b0 = _mm256_setzero_pd(), b1 = _mm256_setzero_pd(), b2 = _mm256_setzero_pd(), b3 = _mm256_setzero_pd();
        ptrdiff_t k = 0;
        for (; k + 4 <= K; k += 4) {
            __m256d zk = _mm256_loadu_pd(z + k), vk = _mm256_loadu_pd(v + k);
            __m256d w0 = _mm256_loadu_pd(r0 + k), w1 = _mm256_loadu_pd(r1 + k);
            __m256d w2 = _mm256_loadu_pd(r2 + k), w3 = _mm256_loadu_pd(r3 + k);
            a0 = _mm256_fmadd_pd(w0, zk, a0);
            b0 = _mm256_fmadd_pd(w0, vk, b0);
            a1 = _mm256_fmadd_pd(w1, zk, a1);
            b1 = _mm256_fmadd_pd(w1, vk, b1);
            a2 = _mm256_fmadd_pd(w2, zk, a2);
            b2 = _mm256_fmadd_pd(w2, vk, b2);
            a3 = _mm256_fmadd_pd(w3, zk, a3);
            b3 = _mm256_fmadd_pd(w3, vk, b3);
        }
        double sa0 = rtrl_hsum_pd(a0), sb0 = rtrl_hsum_pd(b0), sa1 = rtrl_hsum_pd(a1), sb1 = rtrl_hsum_pd(b1);
        double sa2 = rtrl_hsum_pd(a2), sb2 = rtrl_hsum_pd(b2), sa3 = rtrl_hsum_pd(a3), sb3 = rtrl_hsum_pd(b3);
        for (; k < K; k++) {
            sa0 += r0[k] * z[k];
            sb0 += r0[k] * v[k];
            sa1 += r1[k] * z[k];
            sb1 += r1[k] * v[k];
            sa2 += r2[k] * z[k];
            sb2 += r2[k] * v[k];
            sa3 += r3[k] * z[k];
            sb3 += r3[k] * v[k];
        }
        a[i] = sa0, b[i] = sb0, a[i + 1] = sa1, b[i + 1] = sb1;
        a[i + 2] = sa2, b[i + 2] = sb2, a[i + 3] = sa3, b[i + 3] = sb3;
    }
    for (; i + 2 <= rows; i += 2) {
        const double* r0 = W + i * ldw;
        const double* r1 = r0 + ldw;
        __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
        __m256d b0 = _mm256_setzero_pd(), b1 = _mm256_setzero_pd();
        ptrdiff_t k = 0;
        for (; k + 4 <= K; k += 4) {
            __m256d zk = _mm256_loadu_pd(z + k), vk = _mm256_loadu_pd(v + k);
            __m256d w0 = _mm256_loadu_pd(r0 + k), w1 = _mm256_loadu_pd(r1 + k);
            a0 = _mm256_fmadd_pd(w0, zk, a0);
            b0 = _mm256_fmadd_pd(w0, vk, b0);
            a1 = _mm256_fmadd_pd(w1, zk, a1);
            b1 = _mm256_fmadd_pd(w1, vk, b1);
        }
        double sa0 = rtrl_hsum_pd(a0), sb0 = rtrl_hsum_pd(b0);
        double sa1 = rtrl_hsum_pd(a1), sb1 = rtrl_hsum_pd(b1);
        for (; k < K; k++) {
            sa0 += r0[k] * z[k];
            sb0 += r0[k] * v[k];
            sa1 += r1[k] * z[k];
            sb1 += r1[k] * v[k];
        }
        a[i] = sa0, b[i] = sb0, a[i + 1] = sa1, b[i + 1] = sb1;
    }
    if (i < rows) rtrl_f64_gemv2_generic(rows - i, K, W + i * ldw, ldw, z, v, a + i, b + i);
}

RTRL_ROW_AVX2 static void rtrl_f32_gemv2_avx2(ptrdiff_t rows, ptrdiff_t K, const float* W,
                                              ptrdiff_t ldw, const float* z, const float* v,
                                              float* a, float* b) {
    ptrdiff_t i = 0;
    /* four rows: eight accumulators cover the FMA latency, and each load of z and v serves
       four rows (two rows at a time left the loop waiting on its four FMA chains) */
    for (; i + 4 <= rows; i += 4) {
        const float* r0 = W + i * ldw;
        const float* r1 = r0 + ldw;
        const float* r2 = r1 + ldw;
        const float* r3 = r2 + ldw;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
        ptrdiff_t k = 0;
        for (; k + 8 <= K; k += 8) {
            __m256 zk = _mm256_loadu_ps(z + k), vk = _mm256_loadu_ps(v + k);
            __m256 w0 = _mm256_loadu_ps(r0 + k), w1 = _mm256_loadu_ps(r1 + k);
            __m256 w2 = _mm256_loadu_ps(r2 + k), w3 = _mm256_loadu_ps(r3 + k);
            a0 = _mm256_fmadd_ps(w0, zk, a0);
            b0 = _mm256_fmadd_ps(w0, vk, b0);
            a1 = _mm256_fmadd_ps(w1, zk, a1);
            b1 = _mm256_fmadd_ps(w1, vk, b1);
            a2 = _mm256_fmadd_ps(w2, zk, a2);
            b2 = _mm256_fmadd_ps(w2, vk, b2);
            a3 = _mm256_fmadd_ps(w3, zk, a3);
            b3 = _mm256_fmadd_ps(w3, vk, b3);
        }
        float sa0 = rtrl_hsum_ps(a0), sb0 = rtrl_hsum_ps(b0), sa1 = rtrl_hsum_ps(a1), sb1 = rtrl_hsum_ps(b1);
        float sa2 = rtrl_hsum_ps(a2), sb2 = rtrl_hsum_ps(b2), sa3 = rtrl_hsum_ps(a3), sb3 = rtrl_hsum_ps(b3);
        for (; k < K; k++) {
            sa0 += r0[k] * z[k];
            sb0 += r0[k] * v[k];
            sa1 += r1[k] * z[k];
            sb1 += r1[k] * v[k];
            sa2 += r2[k] * z[k];
            sb2 += r2[k] * v[k];
            sa3 += r3[k] * z[k];
            sb3 += r3[k] * v[k];
        }
        a[i] = sa0, b[i] = sb0, a[i + 1] = sa1, b[i + 1] = sb1;
        a[i + 2] = sa2, b[i + 2] = sb2, a[i + 3] = sa3, b[i + 3] = sb3;
    }
    for (; i + 2 <= rows; i += 2) {
        const float* r0 = W + i * ldw;
        const float* r1 = r0 + ldw;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps();
        ptrdiff_t k = 0;
        for (; k + 8 <= K; k += 8) {
            __m256 zk = _mm256_loadu_ps(z + k), vk = _mm256_loadu_ps(v + k);
            __m256 w0 = _mm256_loadu_ps(r0 + k), w1 = _mm256_loadu_ps(r1 + k);
            a0 = _mm256_fmadd_ps(w0, zk, a0);
            b0 = _mm256_fmadd_ps(w0, vk, b0);
            a1 = _mm256_fmadd_ps(w1, zk, a1);
            b1 = _mm256_fmadd_ps(w1, vk, b1);
        }
        float sa0 = rtrl_hsum_ps(a0), sb0 = rtrl_hsum_ps(b0);
        float sa1 = rtrl_hsum_ps(a1), sb1 = rtrl_hsum_ps(b1);
        for (; k < K; k++) {
            sa0 += r0[k] * z[k];
            sb0 += r0[k] * v[k];
            sa1 += r1[k] * z[k];
            sb1 += r1[k] * v[k];
        }
        a[i] = sa0, b[i] = sb0, a[i + 1] = sa1, b[i + 1] = sb1;
    }
    if (i < rows) rtrl_f32_gemv2_generic(rows - i, K, W + i * ldw, ldw, z, v, a + i, b + i);
}
#else
#define rtrl_f64_gemv2_avx2 rtrl_f64_gemv2_generic
#define rtrl_f32_gemv2_avx2 rtrl_f32_gemv2_generic
#endif

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
