/*
 * The small-state kernels of _microkernels.h for one element type, included once per type
 * with these macros defined (no include guard on purpose; they are undefined at the end):
 *
 *   RTRL_T      double | float              RTRL_V     __m256d | __m256
 *   RTRL_W      lanes per vector (4 | 8)    RTRL_FN(n) n with the type's suffix (_f64 | _f32)
 *   RTRL_ZERO() RTRL_LOAD(p) RTRL_STORE(p, v) RTRL_BCAST(p) RTRL_SET1(x) RTRL_FMA(a, b, c)
 *               the AVX2 intrinsics of the type
 *   RTRL_FMAS   the scalar fused multiply-add (__builtin_fma | __builtin_fmaf)
 */

/* rows 0..3 of D (at D), 2 vectors of columns of J and out: 8 accumulators */
RTRL_AVX2 static void RTRL_FN(rtrl_tile4)(int S, const RTRL_T* D, const RTRL_T* J,
                                          ptrdiff_t ldj, RTRL_T* o, ptrdiff_t ldo,
                                          const RTRL_T* e, RTRL_T* g) {
    RTRL_V a00 = RTRL_ZERO(), a01 = RTRL_ZERO();
    RTRL_V a10 = RTRL_ZERO(), a11 = RTRL_ZERO();
    RTRL_V a20 = RTRL_ZERO(), a21 = RTRL_ZERO();
    RTRL_V a30 = RTRL_ZERO(), a31 = RTRL_ZERO();
    const RTRL_T* jr = J;
    for (int l = 0; l < S; l++, jr += ldj) {
        RTRL_V j0 = RTRL_LOAD(jr), j1 = RTRL_LOAD(jr + RTRL_W);
        RTRL_V b = RTRL_BCAST(D + l);
        a00 = RTRL_FMA(b, j0, a00); a01 = RTRL_FMA(b, j1, a01);
        b = RTRL_BCAST(D + S + l);
        a10 = RTRL_FMA(b, j0, a10); a11 = RTRL_FMA(b, j1, a11);
        b = RTRL_BCAST(D + 2 * S + l);
        a20 = RTRL_FMA(b, j0, a20); a21 = RTRL_FMA(b, j1, a21);
        b = RTRL_BCAST(D + 3 * S + l);
        a30 = RTRL_FMA(b, j0, a30); a31 = RTRL_FMA(b, j1, a31);
    }
    RTRL_STORE(o, a00); RTRL_STORE(o + RTRL_W, a01);
    RTRL_STORE(o + ldo, a10); RTRL_STORE(o + ldo + RTRL_W, a11);
    RTRL_STORE(o + 2 * ldo, a20); RTRL_STORE(o + 2 * ldo + RTRL_W, a21);
    RTRL_STORE(o + 3 * ldo, a30); RTRL_STORE(o + 3 * ldo + RTRL_W, a31);
    if (e) {
        RTRL_V g0 = RTRL_LOAD(g), g1 = RTRL_LOAD(g + RTRL_W), b;
        b = RTRL_BCAST(e);
        g0 = RTRL_FMA(b, a00, g0); g1 = RTRL_FMA(b, a01, g1);
        b = RTRL_BCAST(e + 1);
        g0 = RTRL_FMA(b, a10, g0); g1 = RTRL_FMA(b, a11, g1);
        b = RTRL_BCAST(e + 2);
        g0 = RTRL_FMA(b, a20, g0); g1 = RTRL_FMA(b, a21, g1);
        b = RTRL_BCAST(e + 3);
        g0 = RTRL_FMA(b, a30, g0); g1 = RTRL_FMA(b, a31, g1);
        RTRL_STORE(g, g0); RTRL_STORE(g + RTRL_W, g1);
    }
}

/* one row of D, 2 vectors of columns */
RTRL_AVX2 static void RTRL_FN(rtrl_tile1)(int S, const RTRL_T* D, const RTRL_T* J,
                                          ptrdiff_t ldj, RTRL_T* o, const RTRL_T* e,
                                          RTRL_T* g) {
    RTRL_V a0 = RTRL_ZERO(), a1 = RTRL_ZERO();
    const RTRL_T* jr = J;
    for (int l = 0; l < S; l++, jr += ldj) {
        RTRL_V b = RTRL_BCAST(D + l);
        a0 = RTRL_FMA(b, RTRL_LOAD(jr), a0);
        a1 = RTRL_FMA(b, RTRL_LOAD(jr + RTRL_W), a1);
    }
    RTRL_STORE(o, a0); RTRL_STORE(o + RTRL_W, a1);
    if (e) {
        RTRL_V b = RTRL_BCAST(e);
        RTRL_STORE(g, RTRL_FMA(b, a0, RTRL_LOAD(g)));
        RTRL_STORE(g + RTRL_W, RTRL_FMA(b, a1, RTRL_LOAD(g + RTRL_W)));
    }
}

/* rows 0..3 of D, 3 vectors of columns: 12 accumulators hide the FMA latency */
RTRL_AVX2 static void RTRL_FN(rtrl_tile4x3)(int S, const RTRL_T* D, const RTRL_T* J,
                                            ptrdiff_t ldj, RTRL_T* o, ptrdiff_t ldo,
                                            const RTRL_T* e, RTRL_T* g) {
    const ptrdiff_t w = RTRL_W, w2 = 2 * RTRL_W;
    RTRL_V a00 = RTRL_ZERO(), a01 = RTRL_ZERO(), a02 = RTRL_ZERO();
    RTRL_V a10 = RTRL_ZERO(), a11 = RTRL_ZERO(), a12 = RTRL_ZERO();
    RTRL_V a20 = RTRL_ZERO(), a21 = RTRL_ZERO(), a22 = RTRL_ZERO();
    RTRL_V a30 = RTRL_ZERO(), a31 = RTRL_ZERO(), a32 = RTRL_ZERO();
    const RTRL_T* jr = J;
    for (int l = 0; l < S; l++, jr += ldj) {
        RTRL_V j0 = RTRL_LOAD(jr), j1 = RTRL_LOAD(jr + w), j2 = RTRL_LOAD(jr + w2), b;
        b = RTRL_BCAST(D + l);
        a00 = RTRL_FMA(b, j0, a00); a01 = RTRL_FMA(b, j1, a01); a02 = RTRL_FMA(b, j2, a02);
        b = RTRL_BCAST(D + S + l);
        a10 = RTRL_FMA(b, j0, a10); a11 = RTRL_FMA(b, j1, a11); a12 = RTRL_FMA(b, j2, a12);
        b = RTRL_BCAST(D + 2 * S + l);
        a20 = RTRL_FMA(b, j0, a20); a21 = RTRL_FMA(b, j1, a21); a22 = RTRL_FMA(b, j2, a22);
        b = RTRL_BCAST(D + 3 * S + l);
        a30 = RTRL_FMA(b, j0, a30); a31 = RTRL_FMA(b, j1, a31); a32 = RTRL_FMA(b, j2, a32);
    }
    RTRL_STORE(o, a00); RTRL_STORE(o + w, a01); RTRL_STORE(o + w2, a02);
    RTRL_STORE(o + ldo, a10); RTRL_STORE(o + ldo + w, a11); RTRL_STORE(o + ldo + w2, a12);
    RTRL_STORE(o + 2 * ldo, a20); RTRL_STORE(o + 2 * ldo + w, a21);
    RTRL_STORE(o + 2 * ldo + w2, a22);
    RTRL_STORE(o + 3 * ldo, a30); RTRL_STORE(o + 3 * ldo + w, a31);
    RTRL_STORE(o + 3 * ldo + w2, a32);
    if (e) {
        RTRL_V g0 = RTRL_LOAD(g), g1 = RTRL_LOAD(g + w), g2 = RTRL_LOAD(g + w2), b;
        b = RTRL_BCAST(e);
        g0 = RTRL_FMA(b, a00, g0); g1 = RTRL_FMA(b, a01, g1); g2 = RTRL_FMA(b, a02, g2);
        b = RTRL_BCAST(e + 1);
        g0 = RTRL_FMA(b, a10, g0); g1 = RTRL_FMA(b, a11, g1); g2 = RTRL_FMA(b, a12, g2);
        b = RTRL_BCAST(e + 2);
        g0 = RTRL_FMA(b, a20, g0); g1 = RTRL_FMA(b, a21, g1); g2 = RTRL_FMA(b, a22, g2);
        b = RTRL_BCAST(e + 3);
        g0 = RTRL_FMA(b, a30, g0); g1 = RTRL_FMA(b, a31, g1); g2 = RTRL_FMA(b, a32, g2);
        RTRL_STORE(g, g0); RTRL_STORE(g + w, g1); RTRL_STORE(g + w2, g2);
    }
}

/* one row of D, 3 vectors of columns */
RTRL_AVX2 static void RTRL_FN(rtrl_tile1x3)(int S, const RTRL_T* D, const RTRL_T* J,
                                            ptrdiff_t ldj, RTRL_T* o, const RTRL_T* e,
                                            RTRL_T* g) {
    const ptrdiff_t w = RTRL_W, w2 = 2 * RTRL_W;
    RTRL_V a0 = RTRL_ZERO(), a1 = RTRL_ZERO(), a2 = RTRL_ZERO();
    const RTRL_T* jr = J;
    for (int l = 0; l < S; l++, jr += ldj) {
        RTRL_V b = RTRL_BCAST(D + l);
        a0 = RTRL_FMA(b, RTRL_LOAD(jr), a0);
        a1 = RTRL_FMA(b, RTRL_LOAD(jr + w), a1);
        a2 = RTRL_FMA(b, RTRL_LOAD(jr + w2), a2);
    }
    RTRL_STORE(o, a0); RTRL_STORE(o + w, a1); RTRL_STORE(o + w2, a2);
    if (e) {
        RTRL_V b = RTRL_BCAST(e);
        RTRL_STORE(g, RTRL_FMA(b, a0, RTRL_LOAD(g)));
        RTRL_STORE(g + w, RTRL_FMA(b, a1, RTRL_LOAD(g + w)));
        RTRL_STORE(g + w2, RTRL_FMA(b, a2, RTRL_LOAD(g + w2)));
    }
}

/* one column (the ragged end of a block): the same operations, in the same order, as the
 * tiles */
RTRL_AVX2 static void RTRL_FN(rtrl_column)(int S, const RTRL_T* D, const RTRL_T* J,
                                           ptrdiff_t ldj, RTRL_T* o, ptrdiff_t ldo,
                                           const RTRL_T* e, RTRL_T* g) {
    RTRL_T gc = *g;
    for (int i = 0; i < S; i++) {
        RTRL_T acc = 0;
        for (int l = 0; l < S; l++) acc = RTRL_FMAS(D[i * S + l], J[l * ldj], acc);
        o[i * ldo] = acc;
        if (e) gc = RTRL_FMAS(e[i], acc, gc);
    }
    *g = gc;
}

RTRL_AVX2 static void RTRL_FN(rtrl_update)(int S, int ncols, const RTRL_T* D, const RTRL_T* J,
                                           ptrdiff_t ldj, RTRL_T* out, ptrdiff_t ldo,
                                           const RTRL_T* e, RTRL_T* grad) {
    int c = 0, i, wide_end = rtrl_wide_columns(ncols, 3 * RTRL_W, 2 * RTRL_W);
    for (; c < wide_end; c += 3 * RTRL_W) {
        for (i = 0; i + 4 <= S; i += 4)
            RTRL_FN(rtrl_tile4x3)(S, D + (ptrdiff_t)i * S, J + c, ldj, out + i * ldo + c, ldo,
                                  e ? e + i : NULL, grad + c);
        for (; i < S; i++)
            RTRL_FN(rtrl_tile1x3)(S, D + (ptrdiff_t)i * S, J + c, ldj, out + i * ldo + c,
                                  e ? e + i : NULL, grad + c);
    }
    for (; c + 2 * RTRL_W <= ncols; c += 2 * RTRL_W) {
        for (i = 0; i + 4 <= S; i += 4)
            RTRL_FN(rtrl_tile4)(S, D + (ptrdiff_t)i * S, J + c, ldj, out + i * ldo + c, ldo,
                                e ? e + i : NULL, grad + c);
        for (; i < S; i++)
            RTRL_FN(rtrl_tile1)(S, D + (ptrdiff_t)i * S, J + c, ldj, out + i * ldo + c,
                                e ? e + i : NULL, grad + c);
    }
    for (; c < ncols; c++) RTRL_FN(rtrl_column)(S, D, J + c, ldj, out + c, ldo, e, grad + c);
}

/* y += a x, for the structured (sparse) products of exact RTRL on sparse networks */
RTRL_AVX2 static void RTRL_FN(rtrl_axpy_avx2)(ptrdiff_t n, RTRL_T a, const RTRL_T* x,
                                              RTRL_T* y) {
    ptrdiff_t i = 0;
    RTRL_V va = RTRL_SET1(a);
    for (; i + 2 * RTRL_W <= n; i += 2 * RTRL_W) {
        RTRL_STORE(y + i, RTRL_FMA(va, RTRL_LOAD(x + i), RTRL_LOAD(y + i)));
        RTRL_STORE(y + i + RTRL_W,
                   RTRL_FMA(va, RTRL_LOAD(x + i + RTRL_W), RTRL_LOAD(y + i + RTRL_W)));
    }
    for (; i < n; i++) y[i] = RTRL_FMAS(a, x[i], y[i]);
}

/* y += a0 x0 + a1 x1 + a2 x2 + a3 x3: four rows of a sparse product per pass over y (one load
 * and store of y per four FMAs instead of per one) */
RTRL_AVX2 static void RTRL_FN(rtrl_axpy4_avx2)(ptrdiff_t n, const RTRL_T* a, const RTRL_T* x0,
                                               const RTRL_T* x1, const RTRL_T* x2,
                                               const RTRL_T* x3, RTRL_T* y) {
    ptrdiff_t i = 0;
    RTRL_V a0 = RTRL_SET1(a[0]), a1 = RTRL_SET1(a[1]), a2 = RTRL_SET1(a[2]);
    RTRL_V a3 = RTRL_SET1(a[3]);
    for (; i + RTRL_W <= n; i += RTRL_W) {
        RTRL_V s = RTRL_FMA(a0, RTRL_LOAD(x0 + i), RTRL_LOAD(y + i));
        s = RTRL_FMA(a1, RTRL_LOAD(x1 + i), s);
        s = RTRL_FMA(a2, RTRL_LOAD(x2 + i), s);
        RTRL_STORE(y + i, RTRL_FMA(a3, RTRL_LOAD(x3 + i), s));
    }
    for (; i < n; i++) {
        RTRL_T s = RTRL_FMAS(a[0], x0[i], y[i]);
        s = RTRL_FMAS(a[1], x1[i], s);
        s = RTRL_FMAS(a[2], x2[i], s);
        y[i] = RTRL_FMAS(a[3], x3[i], s);
    }
}

#undef RTRL_FN
#undef RTRL_T
#undef RTRL_V
#undef RTRL_W
#undef RTRL_ZERO
#undef RTRL_LOAD
#undef RTRL_STORE
#undef RTRL_BCAST
#undef RTRL_SET1
#undef RTRL_FMA
#undef RTRL_FMAS
