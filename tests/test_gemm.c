/* test_gemm.c - the fast vla_linear paths (parts/gemm.h, or the same code
 * merged into vladapter.h [I5]) against the references.
 *
 *   fp32 path (vla__linear_fast), weights F32 / F16 / Q8_0:
 *       vs vla_linear_ref, |fast - ref| <= 2 (K + 2) 2^-24 S + 1e-30 per
 *       output, S = sum_k |x_k w_k| + |b|: both sums are within K ulps of S
 *       of the exact value whatever their order, while a wrong, missing or
 *       doubled term is off by about S / K.
 *   int8 path (vla__linear_q8), Q8_0 weights:
 *       vs vla__linear_q8_ref bit for bit, and vs vla_linear_ref (the
 *       dequantize-and-dot oracle) within the quantization error of x:
 *       sum_k (amax of k's block / 254) |w_k| (+ the fp32 term above).
 *   Shapes: every M in {1,2,3,5,7,16,46,64,97} x K in {1,3,8,31,32,33,64,
 *       100,768} x N in {1,2,7,15,16,17,64,100,769} (Q8_0: the K that are
 *       multiples of 32); x, W, y and b displaced from their natural
 *       alignment or not and b NULL or not, cycling with the case number.
 *   Threads: a subset again through a pthread pool (2 and 3 threads), which
 *       must give the same bits as one thread (every output is computed by
 *       the same kernel whatever the split).
 *   Also: vla__h2f against vla_fp16_to_fp32 for all 65536 inputs.
 *
 * Build: cc -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror tests/test_gemm.c \
 *           -lm -pthread
 * Worth building also with -DVLA_GEMM_FORCE_PACKED=1 (every shape through
 * the small-K packed path, K blocks included) and =0, and with small
 * VLA_GEMM_* buffers (e.g. -DVLA_GEMM_KC=64 -DVLA_GEMM_KC_CVT=32
 * -DVLA_GEMM_PANEL_BYTES=4096 -DVLA_GEMM_Q8_STACK=1000 -DVLA_GEMM_L2=4096)
 * so that every blocking loop runs several times.
 * Exit status non-zero on failure; the last line is "N passed, M failed".
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "test_util.h"
#ifndef VLA__GEMM_PART_H /* not merged into the header yet */

#endif
#define VLA_THREADS_IMPLEMENTATION
#include "../examples/vla_threads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

static int g_pass, g_fail;
static double g_worst; /* largest |fast - ref| / tolerance seen */

static void check(int ok, const char *what, int M, int K, int N, const char *extra) {
    if (ok) {
        g_pass++;
    } else {
        g_fail++;
        if (g_fail <= 30) printf("FAIL %s M=%d K=%d N=%d %s\n", what, M, K, N, extra);
    }
}

static uint32_t g_rng = 12345u;
static float frand(void) { /* uniform in [-1, 1) */
    g_rng = g_rng * 1664525u + 1013904223u;
    return (float)((g_rng >> 8) & 0xffffffu) / 8388608.0f - 1.0f;
}

static const char *type_name(vla_type t) { return t == VLA_TYPE_F32 ? "f32" : t == VLA_TYPE_F16 ? "f16" : "q8_0"; }

/* Per case, every buffer the kernels see is allocated at its exact size
 * (plus the displacement in front), so AddressSanitizer catches a read or
 * write even one element past the end.  wf: random source weights. */
typedef struct bufs {
    float *x, *y, *yr, *yt, *b, *wf;
    unsigned char *w;
} bufs;


static size_t w_bytes(vla_type t, int N, int K) {
    return t == VLA_TYPE_F32 ? (size_t)N * K * 4 : t == VLA_TYPE_F16 ? (size_t)N * K * 2 : (size_t)N * (K / 32) * 34;
}

/* Allocate this case's buffers: x (M*K floats after xo), y (M*N after yo),
 * yr and yt (M*N), b (N), W (after woff bytes). */
static void bufs_alloc(bufs *B, vla_type t, int M, int K, int N, size_t xo, size_t yo, size_t woff) {
    B->x = (float *)xmalloc(((size_t)M * K + xo) * sizeof(float));
    B->y = (float *)xmalloc(((size_t)M * N + yo) * sizeof(float));
    B->yr = (float *)xmalloc((size_t)M * N * sizeof(float));
    B->yt = (float *)xmalloc((size_t)M * N * sizeof(float));
    B->b = (float *)xmalloc((size_t)N * sizeof(float));
    B->w = (unsigned char *)xmalloc(w_bytes(t, N, K) + woff);
}

static void bufs_free(bufs *B) {
    free(B->x); free(B->y); free(B->yr); free(B->yt); free(B->b); free(B->w);
}

/* Fill W (as type t, displaced by woff bytes) from random floats; returns the
 * data pointer. Q8_0 rows get a few -128 bytes (valid in the format). */
static const void *make_w(bufs *B, vla_type t, int N, int K, size_t woff) {
    size_t i, n = (size_t)N * K;
    unsigned char *p = B->w + woff;
    for (i = 0; i < n; i++) B->wf[i] = frand() * ((i % 97) == 3 ? 8.0f : 1.0f);
    if (t == VLA_TYPE_F32) {
        memcpy(p, B->wf, n * sizeof(float));
    } else if (t == VLA_TYPE_F16) {
        for (i = 0; i < n; i++) {
            uint16_t h = vla_fp32_to_fp16(B->wf[i]);
            p[2 * i] = (unsigned char)(h & 0xff);
            p[2 * i + 1] = (unsigned char)(h >> 8);
        }
    } else {
        int r;
        size_t rb = (size_t)K / 32 * 34, j;
        for (r = 0; r < N; r++) {
            vla_quantize_q8_0(p + (size_t)r * rb, B->wf + (size_t)r * K, (size_t)K);
            for (j = 0; j < rb; j += 34)
                if (frand() > 0.8f) p[(size_t)r * rb + j + 2 + (g_rng >> 3) % 32] = 0x80; /* -128 */
        }
    }
    return p;
}

/* |x_k| |w_k| summed over row m of x and row n of W (as stored). */
static double abs_dot(const float *x, const vla_mat *w, int n, double *qerr) {
    static float row[4096];
    double s = 0.0, e = 0.0;
    int k, K = w->cols;
    vla_mat_row(row, w, n);
    for (k = 0; k < K; k++) s += fabs((double)x[k] * row[k]);
    if (qerr && K % 32 == 0) { /* int8 path: x_k is off by at most amax/254 of its block */
        for (k = 0; k < K; k += 32) {
            double amax = 0.0;
            int i;
            for (i = 0; i < 32; i++) amax = fabs(x[k + i]) > amax ? fabs(x[k + i]) : amax;
            for (i = 0; i < 32; i++) e += amax / 254.0 * 1.001 * fabs(row[k + i]);
        }
        *qerr = e;
    }
    return s;
}

static int compare_tol(const float *a, const float *r, const float *x, const vla_mat *w, const float *b, int M,
                       int q8err, double *worst) {
    int m, n, K = w->cols, N = w->rows;
    for (m = 0; m < M; m++)
        for (n = 0; n < N; n++) {
            double qe = 0.0, S = abs_dot(x + (size_t)m * K, w, n, q8err ? &qe : NULL) + (b ? fabs(b[n]) : 0.0);
            double tol = 2.0 * (K + 2) * 5.9604644775390625e-8 * 1.01 * S + qe + 1e-30;
            double d = fabs((double)a[(size_t)m * N + n] - (double)r[(size_t)m * N + n]);
            if (!(d <= tol)) {
                printf("  at m=%d n=%d: got %.9g want %.9g (diff %.3g, tol %.3g)\n", m, n, a[(size_t)m * N + n],
                       r[(size_t)m * N + n], d, tol);
                return 0;
            }
            if (d / tol > *worst) *worst = d / tol;
        }
    return 1;
}

static int same_bits(const float *a, const float *b, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof(float)) != 0) {
            printf("  first differing output %lu: %.9g vs %.9g\n", (unsigned long)i, a[i], b[i]);
            return 0;
        }
    return 1;
}

static void test_h2f(void) {
    unsigned h;
    int bad = 0;
    for (h = 0; h < 65536u; h++) {
        float a = vla__h2f((uint16_t)h), b = vla_fp16_to_fp32((uint16_t)h);
        if (memcmp(&a, &b, 4) != 0) bad++;
    }
    check(bad == 0, "h2f all 65536 halves", 0, 0, 0, "");
}

static const int Ms[] = {1, 2, 3, 5, 7, 16, 46, 64, 97};
static const int Ks[] = {1, 3, 8, 31, 32, 33, 64, 100, 768};
static const int Ns[] = {1, 2, 7, 15, 16, 17, 64, 100, 769};
#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* One case: shape, type, variant bits (x/W/y displaced, bias). */
static void run_case(bufs *B, vla_type t, int M, int K, int N, unsigned var, const vla_exec *ex1) {
    int i;
    const size_t xo = var & 1u, yo = (var >> 1) & 1u, wb = (var >> 2) & 1u, has_b = ((var >> 3) & 1u) == 0;
    const size_t woff = wb * (t == VLA_TYPE_F32 ? 4u : t == VLA_TYPE_F16 ? 2u : 1u);
    float *x, *y, *yr, *b;
    vla_mat w;
    char extra[96];
    double worst = 0.0, worst_q = 0.0;
    bufs_alloc(B, t, M, K, N, xo, yo, woff);
    x = B->x + xo; y = B->y + yo; yr = B->yr; b = has_b ? B->b : NULL;
    w.type = t; w.rows = N; w.cols = K;
    w.data = make_w(B, t, N, K, woff);
    for (i = 0; i < M * K; i++) x[i] = frand() * ((i % 13) == 0 ? 4.0f : 1.0f);
    if (K >= 64) for (i = 0; i < 32; i++) x[32 + i] = 0.0f; /* an all-zero block of row 0 */
    for (i = 0; i < N; i++) B->b[i] = frand();
    sprintf(extra, "%s x+%d y+%d w+%d %s", type_name(t), (int)xo, (int)yo, (int)woff, has_b ? "bias" : "nobias");

    vla_linear_ref(yr, x, &w, b, M);
    for (i = 0; i < M * N; i++) y[i] = -12345.0f; /* every output must be written */
    vla__linear_fast(ex1, y, x, &w, b, M);
    check(compare_tol(y, yr, x, &w, b, M, 0, &worst), "fast vs ref", M, K, N, extra);

    if (t == VLA_TYPE_Q8_0) {
        float *yq = B->yt;
        vla__linear_q8_ref(yq, x, &w, b, M);
        for (i = 0; i < M * N; i++) y[i] = -12345.0f;
        vla__linear_q8(ex1, y, x, &w, b, M);
        if (vla__q8_rows(K) >= 1)
            check(same_bits(y, yq, (size_t)M * N), "int8 vs q8_ref (bits)", M, K, N, extra);
        else /* rows too long for the int8 buffer: the documented fp32 fallback */
            check(compare_tol(y, yr, x, &w, b, M, 0, &worst), "int8 fallback vs ref", M, K, N, extra);
        check(compare_tol(yq, yr, x, &w, b, M, 1, &worst_q), "q8_ref vs dequant ref", M, K, N, extra);
    }
    if (worst > g_worst) g_worst = worst;
    bufs_free(B);
}

/* Threaded: same bits as one thread. */
static void run_threaded(bufs *B, vla_type t, int M, int K, int N, const vla_exec *ex1, const vla_exec *exT, int T) {
    int i;
    vla_mat w;
    char extra[64];
    float *x, *y1, *yT, *b;
    bufs_alloc(B, t, M, K, N, 1, 0, 0);
    x = B->x + 1; y1 = B->y; yT = B->yt; b = B->b;
    w.type = t; w.rows = N; w.cols = K;
    w.data = make_w(B, t, N, K, 0);
    for (i = 0; i < M * K; i++) x[i] = frand();
    for (i = 0; i < N; i++) b[i] = frand();
    sprintf(extra, "%s threads=%d", type_name(t), T);
    vla__linear_fast(ex1, y1, x, &w, b, M);
    for (i = 0; i < M * N; i++) yT[i] = -12345.0f;
    vla__linear_fast(exT, yT, x, &w, b, M);
    check(same_bits(yT, y1, (size_t)M * N), "threaded fast == 1 thread", M, K, N, extra);
    if (t == VLA_TYPE_Q8_0) {
        vla__linear_q8_ref(y1, x, &w, b, M);
        for (i = 0; i < M * N; i++) yT[i] = -12345.0f;
        vla__linear_q8(exT, yT, x, &w, b, M);
        if (vla__q8_rows(K) < 1) vla__linear_fast(ex1, y1, x, &w, b, M); /* fallback: compare with 1 thread */
        check(same_bits(yT, y1, (size_t)M * N), "threaded int8 == q8_ref", M, K, N, extra);
    }
    bufs_free(B);
}

int main(void) {
    bufs B;
    vla_exec ex1;
    vla_threadpool pool;
    const size_t maxNK = 769 * 3072;
    int mi, ki, ni, ti, T;
    unsigned var = 0;
    const vla_type types[3] = {VLA_TYPE_F32, VLA_TYPE_F16, VLA_TYPE_Q8_0};

    printf("simd: %s, largest stack buffer per task: dot path %lu bytes (F16/Q8_0), packed path %lu, int8 path %lu\n",
           vla_simd_name(), (unsigned long)(sizeof(float) * VLA__NG * VLA_GEMM_KC_CVT),
           (unsigned long)(sizeof(float) * VLA__KCO * VLA__NRO), (unsigned long)VLA_GEMM_Q8_STACK);
    memset(&B, 0, sizeof B);
    B.wf = (float *)xmalloc(maxNK * sizeof(float));
    memset(&ex1, 0, sizeof ex1);
    ex1.n_threads = 1;

    test_h2f();

    for (ti = 0; ti < 3; ti++)
        for (mi = 0; mi < NELEM(Ms); mi++)
            for (ki = 0; ki < NELEM(Ks); ki++) {
                if (types[ti] == VLA_TYPE_Q8_0 && Ks[ki] % 32 != 0) continue;
                for (ni = 0; ni < NELEM(Ns); ni++) run_case(&B, types[ti], Ms[mi], Ks[ki], Ns[ni], var++ % 16u, &ex1);
            }
    /* K blocking (K > VLA_GEMM_KC) and the int8 row panel at long K */
    for (ti = 0; ti < 3; ti++) {
        run_case(&B, types[ti], 5, 3072, 17, var++ % 16u, &ex1);
        run_case(&B, types[ti], 46, 2048, 7, var++ % 16u, &ex1);
        if (types[ti] != VLA_TYPE_Q8_0) run_case(&B, types[ti], 9, 1601, 5, var++ % 16u, &ex1);
        run_case(&B, types[ti], 300, 288, 40, var++ % 16u, &ex1); /* packed path, M >= 256, K blocks */
    }

    for (T = 2; T <= 3; T++) {
        vla_exec exT;
        static const int tm[] = {1, 7, 46, 97}, tk[] = {31, 64, 768}, tn[] = {1, 17, 100, 769};
        if (vla_threadpool_init(&pool, T) != 0) {
            check(0, "thread pool start", 0, 0, 0, "");
            continue;
        }
        memset(&exT, 0, sizeof exT);
        vla_threadpool_exec(&pool, &exT);
        for (ti = 0; ti < 3; ti++)
            for (mi = 0; mi < 4; mi++)
                for (ki = 0; ki < 3; ki++) {
                    if (types[ti] == VLA_TYPE_Q8_0 && tk[ki] % 32 != 0) continue;
                    for (ni = 0; ni < 4; ni++) run_threaded(&B, types[ti], tm[mi], tk[ki], tn[ni], &ex1, &exT, T);
                }
        for (ti = 0; ti < 3; ti++) run_threaded(&B, types[ti], 300, 288, 40, &ex1, &exT, T);
        vla_threadpool_destroy(&pool);
    }

    free(B.wf);
    printf("fp32 paths: worst |fast - ref| / tolerance = %.3g\n", g_worst);
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
