/*
 * Whether this CPU runs the AVX2 + FMA variants of the kernels (_microkernels.h,
 * _rowkernels.h): asked once, at the first call. The variants are compiled through function
 * attributes, so one binary serves CPUs with and without AVX2.
 */
#ifndef RTRL_CPU_FEATURES_H
#define RTRL_CPU_FEATURES_H

#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
static int rtrl_cpu_avx2_fma(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
}
#else
static int rtrl_cpu_avx2_fma(void) { return 0; }
#endif

/*
 * The machine's multiply-add peak, for the benchmark's context: n iterations of 12 independent
 * chains of fused multiply-adds on registers only (enough chains to cover the FMA latency of
 * current x86 cores), 4-wide where the CPU has AVX2 + FMA. Returns the number of float64
 * multiply-adds done; the sum of the chains is written to *sink so the work is not dropped.
 */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
__attribute__((target("avx2,fma"))) static double rtrl_fma_chains_avx2(long n, double* sink) {
    __m256d a[12], b = _mm256_set1_pd(0.999999), c = _mm256_set1_pd(1e-7);
    double lanes[4], s = 0;
    long k;
    int i;
    for (i = 0; i < 12; i++) a[i] = _mm256_set1_pd((double)i);
    for (k = 0; k < n; k++) {
        for (i = 0; i < 12; i++) a[i] = _mm256_fmadd_pd(a[i], b, c);
    }
    for (i = 0; i < 12; i++) {
        _mm256_storeu_pd(lanes, a[i]);
        s += lanes[0] + lanes[1] + lanes[2] + lanes[3];
    }
    *sink = s;
    return 48.0 * (double)n;
}
#endif

static double rtrl_fma_chains(long n, double* sink) {
    double a[12], s = 0;
    long k;
    int i;
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
    if (rtrl_cpu_avx2_fma()) return rtrl_fma_chains_avx2(n, sink);
#endif
    for (i = 0; i < 12; i++) a[i] = (double)i;
    for (k = 0; k < n; k++) {
        for (i = 0; i < 12; i++) a[i] = a[i] * 0.999999 + 1e-7;
    }
    for (i = 0; i < 12; i++) s += a[i];
    *sink = s;
    return 12.0 * (double)n;
}

#endif /* RTRL_CPU_FEATURES_H */
