/*
 * The AVX2 + FMA row kernels of _rowkernels.h, written once for both element types. Included
 * by _rowkernels.h once per type with these macros defined (and undefined here at the end):
 *
 *   RTRL_ROWFN(name)  the function's name for this type (rtrl_f64_##name, rtrl_f32_##name)
 *   RTRL_T, RTRL_V    the element type and its 256-bit vector; RTRL_W lanes per vector
 *   RTRL_ZERO, RTRL_LOAD, RTRL_STORE, RTRL_SET1, RTRL_FMA, RTRL_MUL, RTRL_HSUM  intrinsics
 *
 * RTRL_ROWFN(gemv2_generic) (the plain C variant, for the rows left over) must exist.
 */

/* SnAp-1's row: V[k] = d V[k] + g z[k]; grad[k] += e V[k] (e == 0: no read-out) */
RTRL_ROW_AVX2 static void RTRL_ROWFN(snap1_avx2)(ptrdiff_t K, RTRL_T d, RTRL_T g, RTRL_T e,
                                                 const RTRL_T* restrict z,
                                                 RTRL_T* restrict V, RTRL_T* restrict grad) {
    ptrdiff_t k = 0;
    RTRL_V vd = RTRL_SET1(d), vg = RTRL_SET1(g), ve = RTRL_SET1(e);
    for (; k + RTRL_W <= K; k += RTRL_W) {
        RTRL_V v = RTRL_FMA(vd, RTRL_LOAD(V + k), RTRL_MUL(vg, RTRL_LOAD(z + k)));
        RTRL_STORE(V + k, v);
        if (e != 0) RTRL_STORE(grad + k, RTRL_FMA(ve, v, RTRL_LOAD(grad + k)));
    }
    for (; k < K; k++) {
        RTRL_T v = d * V[k] + g * z[k];
        V[k] = v;
        if (e != 0) grad[k] += e * v;
    }
}

/* a = W z and b = W v: four rows at a time (eight accumulators cover the FMA latency, and
   each load of z and v serves four rows), then two, then the plain loop */
RTRL_ROW_AVX2 static void RTRL_ROWFN(gemv2_avx2)(ptrdiff_t rows, ptrdiff_t K, const RTRL_T* W,
                                                 ptrdiff_t ldw, const RTRL_T* z,
                                                 const RTRL_T* v, RTRL_T* a, RTRL_T* b) {
    ptrdiff_t i = 0;
    for (; i + 4 <= rows; i += 4) {
        const RTRL_T* r0 = W + i * ldw;
        const RTRL_T* r1 = r0 + ldw;
        const RTRL_T* r2 = r1 + ldw;
        const RTRL_T* r3 = r2 + ldw;
        RTRL_V a0 = RTRL_ZERO(), a1 = RTRL_ZERO(), a2 = RTRL_ZERO(), a3 = RTRL_ZERO();
        RTRL_V b0 = RTRL_ZERO(), b1 = RTRL_ZERO(), b2 = RTRL_ZERO(), b3 = RTRL_ZERO();
        ptrdiff_t k = 0;
        for (; k + RTRL_W <= K; k += RTRL_W) {
            RTRL_V zk = RTRL_LOAD(z + k), vk = RTRL_LOAD(v + k);
            RTRL_V w0 = RTRL_LOAD(r0 + k), w1 = RTRL_LOAD(r1 + k);
            RTRL_V w2 = RTRL_LOAD(r2 + k), w3 = RTRL_LOAD(r3 + k);
            a0 = RTRL_FMA(w0, zk, a0);
            b0 = RTRL_FMA(w0, vk, b0);
            a1 = RTRL_FMA(w1, zk, a1);
            b1 = RTRL_FMA(w1, vk, b1);
            a2 = RTRL_FMA(w2, zk, a2);
            b2 = RTRL_FMA(w2, vk, b2);
            a3 = RTRL_FMA(w3, zk, a3);
            b3 = RTRL_FMA(w3, vk, b3);
        }
        RTRL_T sa0 = RTRL_HSUM(a0), sb0 = RTRL_HSUM(b0), sa1 = RTRL_HSUM(a1), sb1 = RTRL_HSUM(b1);
        RTRL_T sa2 = RTRL_HSUM(a2), sb2 = RTRL_HSUM(b2), sa3 = RTRL_HSUM(a3), sb3 = RTRL_HSUM(b3);
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
        const RTRL_T* r0 = W + i * ldw;
        const RTRL_T* r1 = r0 + ldw;
        RTRL_V a0 = RTRL_ZERO(), a1 = RTRL_ZERO();
        RTRL_V b0 = RTRL_ZERO(), b1 = RTRL_ZERO();
        ptrdiff_t k = 0;
        for (; k + RTRL_W <= K; k += RTRL_W) {
            RTRL_V zk = RTRL_LOAD(z + k), vk = RTRL_LOAD(v + k);
            RTRL_V w0 = RTRL_LOAD(r0 + k), w1 = RTRL_LOAD(r1 + k);
            a0 = RTRL_FMA(w0, zk, a0);
            b0 = RTRL_FMA(w0, vk, b0);
            a1 = RTRL_FMA(w1, zk, a1);
            b1 = RTRL_FMA(w1, vk, b1);
        }
        RTRL_T sa0 = RTRL_HSUM(a0), sb0 = RTRL_HSUM(b0), sa1 = RTRL_HSUM(a1), sb1 = RTRL_HSUM(b1);
        for (; k < K; k++) {
            sa0 += r0[k] * z[k];
            sb0 += r0[k] * v[k];
            sa1 += r1[k] * z[k];
            sb1 += r1[k] * v[k];
        }
        a[i] = sa0, b[i] = sb0, a[i + 1] = sa1, b[i + 1] = sb1;
    }
    if (i < rows) RTRL_ROWFN(gemv2_generic)(rows - i, K, W + i * ldw, ldw, z, v, a + i, b + i);
}

#undef RTRL_ROWFN
#undef RTRL_T
#undef RTRL_V
#undef RTRL_W
#undef RTRL_ZERO
#undef RTRL_LOAD
#undef RTRL_STORE
#undef RTRL_SET1
#undef RTRL_FMA
#undef RTRL_MUL
#undef RTRL_HSUM
