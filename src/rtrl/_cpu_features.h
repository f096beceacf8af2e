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

#endif /* RTRL_CPU_FEATURES_H */
