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

static int rtrl_row_avx2(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
}

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

#define RTRL_ROW_DISPATCH(NAME, GENERIC, AVX2) (rtrl_row_avx2() ? AVX2 : GENERIC)
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

#endif /* RTRL_ROWKERNELS_H */
