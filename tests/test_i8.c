/* test_i8.c - the I8 weight format and its integer path (vla_linear with
 * VLA_TYPE_I8 weights, vla_conv2d on I8 convolutions), on the build machine
 * with real threads.  tests/test_unit.c has the same bit-exactness checks
 * for every cross target.
 *
 *   rule      vla_quantize_i8_row on hand-made rows (ties, clamps, NaN, zero
 *             rows) and on random rows against the rule evaluated in double
 *   sums      the target's int32 kernel (vla__i8_sums1x4 on packed rows)
 *             equals sums computed here with plain int arithmetic
 *   exact     vla_linear (fast, 1..4 threads) and vla_linear_ref equal,
 *             bit for bit, outputs computed here from the quantized rows:
 *             ((float)isum * (d_x * d_w)) + b, rounded per operation.
 *             Many shapes: odd M/N/K, K tails of every size mod 64, M = 1,
 *             W with +-127 and stray -128, rows with NaN, zeros, subnormals
 *   bound     the reference against the double-precision product of x and
 *             the dequantized W: |y - y_exact| <= d_x/2 * sum|w| * (1 + 1e-4)
 *             + 4 * 2^-24 * (sum|x w| + |b|) (quantization of x by at most
 *             half a step, then a few fp32 roundings)
 *   conv      I8 convolutions (1x1, 3x3 stride 1/2, padding) fast == ref,
 *             and within the bound above of the fp32 convolution of the
 *             widened weights
 *   widen     vla_exec.int8_widen: the fp32 path of the widened W
 *   gguf      vla_gguf_get_mat: the scale tensor must exist, be F32 [rows]
 * Exit status non-zero on failure; the last line is "N passed, M failed".
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "test_util.h"
#define VLA_THREADS_IMPLEMENTATION
#include "../examples/vla_threads.h"

#include <math.h>

static uint32_t g_rng = 777u;
static float frand(void) { /* [-1, 1) */
    g_rng = g_rng * 1664525u + 1013904223u;
    return (float)((g_rng >> 8) & 0xffffffu) / 8388608.0f - 1.0f;
}
static int irand(int lo, int hi) {
    g_rng = g_rng * 1664525u + 1013904223u;
    return lo + (int)((g_rng >> 8) % (uint32_t)(hi - lo + 1));
}

static int same_bits(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof(float)) == 0; }

/* ---- rule ----------------------------------------------------------------- */
static void test_rule(void) {
    /* amax 127 -> d = 1, id = 1: q is x rounded half away from zero */
    static const float x[12] = {127.0f, -63.5f, 0.5f, -0.5f, 1.49f, 2.5f, -2.5f, 0.4999f, -126.5f, 126.49f, 0.0f, -0.0f};
    static const int want[12] = {127, -64, 1, -1, 1, 3, -3, 0, -127, 126, 0, 0};
    signed char q[12];
    float d = vla_quantize_i8_row(q, x, 12), xn[4], xz[5] = {0, 0, 0, 0, 0};
    int i, ok = 1;
    CHECK(d == 1.0f, "scale of a row with amax 127: %g", d);
    for (i = 0; i < 12; i++) ok &= q[i] == want[i];
    CHECK(ok, "hand-made row quantized wrongly");
    /* NaN is ignored by amax and quantizes to 0; amax 2.54 -> d = 0.02 */
    xn[0] = NAN; xn[1] = 2.54f; xn[2] = -1.27f; xn[3] = 0.01f;
    d = vla_quantize_i8_row(q, xn, 4);
    CHECK(d == 2.54f / 127.0f && q[0] == 0 && q[1] == 127 && q[2] == -64 + (q[2] == -63 ? 1 : 0) && q[3] <= 1 && q[3] >= 0,
          "NaN row: d=%g q=%d %d %d %d", d, q[0], q[1], q[2], q[3]);
    d = vla_quantize_i8_row(q, xz, 5);
    CHECK(d == 0.0f && q[0] == 0 && q[4] == 0, "zero row: d=%g", d);
    /* random rows against the rule evaluated in double on v = x * (1/d) */
    {
        int r, bad = 0;
        for (r = 0; r < 200; r++) {
            float row[257];
            signed char qq[257];
            int n = irand(1, 257);
            float s = (float)pow(10.0, irand(-6, 6)), dd, id;
            for (i = 0; i < n; i++) row[i] = frand() * s;
            if (r % 7 == 0) row[irand(0, n - 1)] = 0.5f * s; /* ties appear after scaling sometimes */
            dd = vla_quantize_i8_row(qq, row, n);
            {
                double amax = 0;
                for (i = 0; i < n; i++) amax = fabs(row[i]) > amax ? fabs(row[i]) : amax;
                if (dd != (float)amax / 127.0f) bad++;
            }
            id = dd != 0.0f ? 1.0f / dd : 0.0f;
            for (i = 0; i < n; i++) {
                float v = row[i] * id;
                double a = floor(fabs((double)v) + 0.5), e = v < 0 ? -a : a;
                if (e > 127) e = 127;
                if (e < -127) e = -127;
                if (qq[i] != (int)e) bad++;
            }
        }
        CHECK(bad == 0, "%d random values off the rounding rule", bad);
    }
}

/* ---- a case: x[M,K], W I8 [N,K] + scales, b[N] ---------------------------- */
typedef struct kase {
    int M, K, N;
    float *x, *b, *scale, *y, *yr, *ye;
    signed char *q;
    vla_mat w;
} kase;

static void make_case(kase *c, int M, int K, int N, int variant) {
    int i, k;
    float *wf = (float *)xmalloc(sizeof(float) * (size_t)K);
    c->M = M; c->K = K; c->N = N;
    c->x = (float *)xmalloc(sizeof(float) * (size_t)M * K);
    c->b = (float *)xmalloc(sizeof(float) * (size_t)N);
    c->scale = (float *)xmalloc(sizeof(float) * (size_t)N);
    c->y = (float *)xmalloc(sizeof(float) * (size_t)M * N);
    c->yr = (float *)xmalloc(sizeof(float) * (size_t)M * N);
    c->ye = (float *)xmalloc(sizeof(float) * (size_t)M * N);
    c->q = (signed char *)xmalloc((size_t)N * K);
    for (i = 0; i < M * K; i++) c->x[i] = frand() * (1.0f + (float)(i % 5));
    for (i = 0; i < N; i++) c->b[i] = frand();
    for (i = 0; i < N; i++) { /* W quantized with the library's rule (checked in test_rule) */
        for (k = 0; k < K; k++) wf[k] = frand() * 0.05f;
        c->scale[i] = vla_quantize_i8_row(c->q + (size_t)i * K, wf, K);
    }
    if (variant & 1) /* extremes: full-scale rows, a stray -128 */
        for (i = 0; i < N; i += 2)
            for (k = 0; k < K; k++) c->q[(size_t)i * K + k] = (signed char)(k % 3 == 0 ? -128 : (k & 1) ? 127 : -127);
    if (variant & 2) { /* x rows at full scale with ties, NaN, zero and subnormal rows */
        for (k = 0; k < K; k++) c->x[k] = k % 4 == 0 ? -63.5f : k % 4 == 1 ? 127.0f : k % 4 == 2 ? 63.5f : 0.5f - (float)(k % 8 == 7) * 3.0f;
        if (M > 1) { for (k = 0; k < K; k++) c->x[K + k] = 0.0f; if (K > 2) c->x[K + 1] = NAN; }
        if (M > 2) for (k = 0; k < K; k++) c->x[2 * K + k] = frand() * 1e-39f;
    }
    c->w.type = VLA_TYPE_I8; c->w.rows = N; c->w.cols = K; c->w.data = c->q; c->w.scale = c->scale;
    free(wf);
}

static void free_case(kase *c) {
    free(c->x); free(c->b); free(c->scale); free(c->y); free(c->yr); free(c->ye); free(c->q);
}

/* The expected outputs, computed here: q_x by vla_quantize_i8_row (the
 * rule test covers it), int sums, the epilogue one rounding at a time. */
static void expected(kase *c, const float *b, int32_t *isums) {
    signed char *qx = (signed char *)xmalloc((size_t)c->K);
    int m, n, k;
    for (m = 0; m < c->M; m++) {
        float dx = vla_quantize_i8_row(qx, c->x + (size_t)m * c->K, c->K);
        for (n = 0; n < c->N; n++) {
            long long s = 0;
            volatile float t;
            for (k = 0; k < c->K; k++) s += (long long)qx[k] * c->q[(size_t)n * c->K + k];
            if (isums) isums[(size_t)m * c->N + n] = (int32_t)s;
            t = (float)(int32_t)s * (dx * c->scale[n]);
            c->ye[(size_t)m * c->N + n] = t + (b ? b[n] : 0.0f);
        }
    }
    free(qx);
}

/* The kernel's raw int32 sums on packed rows (with the VNNI +128 correction). */
static int check_sums(kase *c, const int32_t *isums) {
    const size_t kp = vla__i8_kp(c->K);
    vla__i8p *xp = (vla__i8p *)xmalloc(kp * sizeof(vla__i8p));
    int m, n, j, bad = 0;
    for (m = 0; m < c->M; m++) {
        vla__i8_pack_row(xp, c->x + (size_t)m * c->K, c->K, NULL);
        for (n = 0; n < c->N; n += 4) {
            const signed char *wr[4];
            int32_t s[4];
            for (j = 0; j < 4; j++) wr[j] = c->q + (size_t)(n + j < c->N ? n + j : c->N - 1) * c->K;
            vla__i8_sums1x4(s, xp, wr, c->K);
            for (j = 0; j < 4 && n + j < c->N; j++) {
#if defined(VLA__I8_VNNI)
                s[j] = (int32_t)((uint32_t)s[j] - ((uint32_t)vla__i8_wsum(wr[j], c->K) << 7));
#endif
                if (s[j] != isums[(size_t)m * c->N + n + j]) bad++;
            }
        }
    }
    free(xp);
    return bad == 0;
}

static vla_threadpool g_pools[5];
static int g_pool_ok[5];

static void run_exact(int M, int K, int N, int variant) {
    kase c;
    int32_t *is;
    const float *b;
    int T;
    make_case(&c, M, K, N, variant);
    b = (variant & 4) ? NULL : c.b;
    is = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)M * N);
    expected(&c, b, is);
    CHECK(check_sums(&c, is), "int32 sums of the %s kernel M=%d K=%d N=%d var=%d", vla__i8_kernel_name(), M, K, N, variant);
    vla_linear_ref(c.yr, c.x, &c.w, b, M);
    CHECK(same_bits(c.yr, c.ye, (size_t)M * N), "vla_linear_ref != expected M=%d K=%d N=%d var=%d", M, K, N, variant);
    for (T = 1; T <= 4; T++) {
        vla_exec ex;
        memset(&ex, 0, sizeof ex);
        ex.n_threads = 1;
        if (T > 1) {
            if (!g_pool_ok[T]) continue;
            vla_threadpool_exec(&g_pools[T], &ex);
        }
        memset(c.y, 0xff, sizeof(float) * (size_t)M * N);
        vla_linear(&ex, c.y, c.x, &c.w, b, M);
        CHECK(same_bits(c.y, c.ye, (size_t)M * N), "vla_linear (%s, %d threads) != expected M=%d K=%d N=%d var=%d",
              vla__i8_kernel_name(), T, M, K, N, variant);
        if (M * N * K > 4000000) break; /* big shapes: one and two threads are enough */
        if (T == 2 && M * K * N > 1000000) break;
    }
    free(is);
    free_case(&c);
}

/* ---- bound: the definition vs x . dequantized W in double ------------------ */
static void run_bound(int M, int K, int N) {
    kase c;
    int m, n, k, bad = 0;
    double worst = 0;
    make_case(&c, M, K, N, 0);
    vla_linear_ref(c.yr, c.x, &c.w, c.b, M);
    for (m = 0; m < M; m++) {
        const float *xm = c.x + (size_t)m * K;
        double amax = 0;
        for (k = 0; k < K; k++) amax = fabs(xm[k]) > amax ? fabs(xm[k]) : amax;
        for (n = 0; n < N; n++) {
            double exact = c.b[n], sw = 0, sxw = fabs(c.b[n]), tol, e;
            for (k = 0; k < K; k++) {
                double wv = (double)c.scale[n] * c.q[(size_t)n * K + k];
                exact += (double)xm[k] * wv;
                sw += fabs(wv);
                sxw += fabs((double)xm[k] * wv);
            }
            tol = amax / 127.0 / 2.0 * sw * (1 + 1e-4) /* x * (1/d) rounds: up to ~2e-5 of a step more */ + 4 * ldexp(1.0, -24) * (sxw + sw * amax / 127.0) + 1e-30;
            e = fabs((double)c.yr[(size_t)m * N + n] - exact);
            if (e > tol) bad++;
            if (e / tol > worst) worst = e / tol;
        }
    }
    CHECK(bad == 0, "reference vs dequantized double M=%d K=%d N=%d: %d outputs out of bound (worst %.3g)", M, K, N, bad, worst);
    /* the bound is not loose: the error is a real fraction of it */
    if (K >= 16) CHECK(worst > 0.01, "bound check M=%d K=%d N=%d saw no quantization error at all (%.3g)", M, K, N, worst);
    free_case(&c);
}

/* ---- weight round trip ----------------------------------------------------- */
static void test_roundtrip(void) {
    int r, k, bad = 0;
    for (r = 0; r < 100; r++) {
        float w[300];
        signed char q[300];
        int n = irand(1, 300);
        float s, amax = 0;
        for (k = 0; k < n; k++) { w[k] = frand() * (float)(r + 1); amax = fabsf(w[k]) > amax ? fabsf(w[k]) : amax; }
        s = vla_quantize_i8_row(q, w, n);
        for (k = 0; k < n; k++) {
            vla_mat m;
            double back;
            m.type = VLA_TYPE_I8; m.rows = 1; m.cols = n; m.data = q; m.scale = &s;
            back = vla__mat_at(&m, 0, k);
            if (fabs(back - w[k]) > 0.5 * s * (1 + 1e-4) + 1e-30) bad++; /* x * (1/d) rounds: a few ulp of 127 */
            if (q[k] == -128) bad++;
        }
        if (fabs(s * 127.0 - amax) > 1e-6 * amax) bad++;
    }
    CHECK(bad == 0, "quantize -> widen round trip: %d values beyond half a step", bad);
}

/* ---- convolutions ---------------------------------------------------------- */
/* I8 convolution: the fast path against vla_conv2d_ref bit for bit, the
 * reference against the definition spelt out here (one activation scale
 * for the whole input, [D4]), and against fp32 within the rounding bound.
 * extra: scratch lent beyond the size query (a 1 x 1 convolution then
 * quantizes in bands, vla__conv2d_i8q). */
static void run_conv_x(int H, int W, int Cin, int Cout, int k, int s, int p, int T, size_t extra) {
    const int K = k * k * Cin, Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
    float *x = (float *)xmalloc(sizeof(float) * (size_t)H * W * Cin), *b = (float *)xmalloc(sizeof(float) * Cout);
    float *sc = (float *)xmalloc(sizeof(float) * Cout), *wf = (float *)xmalloc(sizeof(float) * (size_t)Cout * K);
    float *y = (float *)xmalloc(sizeof(float) * (size_t)Ho * Wo * Cout), *yr = (float *)xmalloc(sizeof(float) * (size_t)Ho * Wo * Cout);
    float *yf = (float *)xmalloc(sizeof(float) * (size_t)Ho * Wo * Cout);
    signed char *q = (signed char *)xmalloc((size_t)Cout * K);
    signed char *qx = (signed char *)xmalloc((size_t)H * W * Cin);
    size_t scr = vla_conv2d_scratch_size(H, W, Cin, k, s, p) + extra;
    float dx;
    int oy, ox, co, ky, kx, ci, bad_def = 0;
    void *mem = xmalloc(scr + 64);
    vla_arena a;
    vla_mat w, wfm;
    vla_exec ex;
    int i, bad = 0;
    for (i = 0; i < H * W * Cin; i++) x[i] = frand() * (i % 7 == 0 ? 0.05f : 1.0f); /* uneven pixels */
    for (i = 0; i < Cout; i++) b[i] = frand();
    for (i = 0; i < Cout * K; i++) wf[i] = frand() * 0.1f;
    for (i = 0; i < Cout; i++) sc[i] = vla_quantize_i8_row(q + (size_t)i * K, wf + (size_t)i * K, K);
    w.type = VLA_TYPE_I8; w.rows = Cout; w.cols = K; w.data = q; w.scale = sc;
    memset(&ex, 0, sizeof ex);
    ex.n_threads = 1;
    if (T > 1 && g_pool_ok[T]) vla_threadpool_exec(&g_pools[T], &ex);
    vla_arena_init(&a, mem, scr + 64);
    CHECK(vla_conv2d(&ex, &a, y, x, &w, b, H, W, Cin, k, s, p) == VLA_OK, "conv2d I8 status");
    vla_conv2d_ref(yr, x, &w, b, H, W, Cin, k, s, p);
    CHECK(same_bits(y, yr, (size_t)Ho * Wo * Cout), "conv2d I8 fast != ref H=%d W=%d Cin=%d Cout=%d k=%d s=%d p=%d T=%d", H, W,
          Cin, Cout, k, s, p, T);
    /* the definition: x quantized once with d = amax(x) / 127 (padding 0), int32 sums, the epilogue */
    dx = vla_quantize_i8_row(qx, x, H * W * Cin);
    for (oy = 0; oy < Ho; oy++)
        for (ox = 0; ox < Wo; ox++)
            for (co = 0; co < Cout; co++) {
                int32_t isum = 0;
                volatile float t;
                float want;
                for (ky = 0; ky < k; ky++)
                    for (kx = 0; kx < k; kx++) {
                        int iy = oy * s + ky - p, ix = ox * s + kx - p;
                        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                        for (ci = 0; ci < Cin; ci++)
                            isum += (int32_t)qx[((size_t)iy * W + ix) * Cin + ci] * q[(size_t)co * K + (ky * k + kx) * Cin + ci];
                    }
                t = (float)isum * (dx * sc[co]);
                want = t + b[co];
                if (memcmp(&want, &yr[((size_t)oy * Wo + ox) * Cout + co], sizeof want) != 0) bad_def++;
            }
    CHECK(bad_def == 0, "conv2d I8 ref != the per-picture-scale definition in %d outputs (H=%d W=%d Cin=%d k=%d)", bad_def, H, W,
          Cin, k);
    /* against fp32 on the widened weights: half a step of the picture's scale */
    for (i = 0; i < Cout * K; i++) wf[i] = sc[i / K] * (float)q[i];
    wfm.type = VLA_TYPE_F32; wfm.rows = Cout; wfm.cols = K; wfm.data = wf; wfm.scale = NULL;
    vla_conv2d_ref(yf, x, &wfm, b, H, W, Cin, k, s, p);
    for (i = 0; i < Ho * Wo * Cout; i++) {
        double sw = 0;
        int j;
        for (j = 0; j < K; j++) sw += fabs(wf[(size_t)(i % Cout) * K + j]);
        if (fabs((double)y[i] - yf[i]) > 1.0 / 254.0 * sw * 1.001 + 1e-5 * (1 + sw)) bad++; /* |x| < 1 */
    }
    CHECK(bad == 0, "conv2d I8 vs fp32 widened: %d outputs beyond the quantization bound", bad);
    free(x); free(b); free(sc); free(wf); free(y); free(yr); free(yf); free(q); free(qx); free(mem);
}

static void run_conv(int H, int W, int Cin, int Cout, int k, int s, int p, int T) { run_conv_x(H, W, Cin, Cout, k, s, p, T, 0); }

/* ---- int8_widen ------------------------------------------------------------ */
static void test_widen(void) {
    kase c;
    vla_exec ex;
    int i, bad = 0;
    make_case(&c, 5, 300, 37, 0);
    memset(&ex, 0, sizeof ex);
    ex.n_threads = 1;
    ex.int8_widen = 1;
    vla_linear(&ex, c.y, c.x, &c.w, c.b, 5);
    ex.force_reference = 1;
    vla_linear(&ex, c.yr, c.x, &c.w, c.b, 5);
    expected(&c, c.b, NULL);
    for (i = 0; i < 5 * 37; i++) {
        double s = 0;
        int k;
        for (k = 0; k < 300; k++) s += fabs(c.x[(i / 37) * 300 + k] * c.scale[i % 37] * c.q[(i % 37) * 300 + k]);
        if (fabs((double)c.y[i] - c.yr[i]) > 2.5e-7 * 304 * (s + 1)) bad++;
    }
    CHECK(bad == 0, "int8_widen: fp32 fast path vs fp32 reference: %d outputs off", bad);
    CHECK(!same_bits(c.y, c.ye, 5 * 37), "int8_widen gave the integer path's bits (not widened?)");
    free_case(&c);
}

/* ---- gguf: the scale tensor ------------------------------------------------ */
static void test_gguf_mat(void) {
    static signed char q[6] = {1, -2, 3, -4, 5, -6};
    static float sc[3] = {0.5f, 0.25f, 2.0f}, sc2[2] = {1, 1};
    static const char *names[5] = {"ok.weight", "noscale.weight", "short.weight", "f16.weight", "conv.weight"};
    int v;
    for (v = 0; v < 5; v++) {
        vla_gguf_writer w;
        vla_arena a;
        membuf mb;
        vla_gguf g;
        vla_mat m;
        static unsigned char mem[1 << 16];
        static unsigned char amem[1 << 16];
        int64_t ne[4] = {2, 3, 1, 1}, ns[1] = {3}, ns2[1] = {2}, nc[4] = {2, 1, 1, 3};
        vla_status st;
        uint16_t h3[3] = {0, 0, 0};
        vla_arena_init(&a, mem, sizeof mem);
        vla_gguf_writer_init(&w, &a, 4, 8, 32);
        memset(&mb, 0, sizeof mb);
        if (v == 4) vla_gguf_add_tensor(&w, names[v], VLA_TYPE_I8, 4, nc, q);
        else vla_gguf_add_tensor(&w, names[v], VLA_TYPE_I8, 2, ne, q);
        if (v == 0 || v == 4) vla_gguf_add_tensor(&w, v == 0 ? "ok.weight_scale" : "conv.weight_scale", VLA_TYPE_F32, 1, ns, sc);
        if (v == 2) vla_gguf_add_tensor(&w, "short.weight_scale", VLA_TYPE_F32, 1, ns2, sc2);
        if (v == 3) vla_gguf_add_tensor(&w, "f16.weight_scale", VLA_TYPE_F16, 1, ns, h3);
        CHECK(vla_gguf_write(&w, mem_write, &mb) == VLA_OK, "gguf write %d", v);
        vla_arena_init(&a, amem, sizeof amem);
        CHECK(vla_gguf_open(&g, mb.p, mb.n, &a) == VLA_OK, "gguf open %d", v);
        st = vla_gguf_get_mat(&g, names[v], &m);
        if (v == 0 || v == 4) {
            CHECK(st == VLA_OK && m.type == VLA_TYPE_I8 && m.rows == 3 && m.cols == 2 && m.scale && m.scale[2] == 2.0f &&
                      vla__mat_at(&m, 1, 1) == -1.0f,
                  "I8 matrix %s: status %d", names[v], (int)st);
        } else {
            CHECK(st == VLA_ERR_FORMAT, "I8 matrix %s must be refused, got %d", names[v], (int)st);
        }
        {
            vla_tensor t;
            if (vla_gguf_get_tensor(&g, names[v], &t) == VLA_OK)
                CHECK(vla_tensor_as_mat(&t, &m) != VLA_OK, "vla_tensor_as_mat accepted I8 without its scale");
        }
        free(mb.p);
    }
}

int main(void) {
    static const int Ms[] = {1, 2, 3, 4, 5, 7, 8, 13};
    static const int Ks[] = {1, 2, 3, 4, 5, 15, 16, 17, 31, 32, 33, 47, 63, 64, 65, 100, 127, 128, 129, 191, 255, 257, 768, 1000};
    static const int Ns[] = {1, 2, 3, 4, 5, 7, 8, 17, 33};
    int mi, ki, ni, T, v = 0;
    printf("simd: %s, I8 kernel: %s, I8 stack buffer %lu bytes (%d rows at K = 768)\n", vla_simd_name(),
           vla__i8_kernel_name(), (unsigned long)VLA_GEMM_I8_STACK, vla__i8_rows(768));
    for (T = 2; T <= 4; T++) g_pool_ok[T] = vla_threadpool_init(&g_pools[T], T) == 0;

    test_rule();
    test_roundtrip();
    for (mi = 0; mi < (int)(sizeof Ms / sizeof Ms[0]); mi++)
        for (ki = 0; ki < (int)(sizeof Ks / sizeof Ks[0]); ki++)
            for (ni = 0; ni < (int)(sizeof Ns / sizeof Ns[0]); ni++) {
                if (Ks[ki] >= 768 && ni % 3 != 0) continue;
                run_exact(Ms[mi], Ks[ki], Ns[ni], v++ % 8);
            }
    /* model shapes: BART-base encoder/decoder, CLIP im2col, GEMV over a wide W,
     * and rows longer than the stack buffer (the reference loop) */
    run_exact(46, 768, 769, 0);
    run_exact(46, 3072, 100, 1);
    run_exact(1, 768, 2001, 4);
    run_exact(3, 768, 3072, 2);
    run_exact(197, 2304, 65, 0);
    run_exact(2, 40000, 5, 3);
    /* the AVX-512 VNNI tiled path: several M blocks, M % 6 != 0, K blocks
     * with partial sums (K = 40000: 157 of them), panel tails (N % 64) */
    run_exact(130, 300, 130, 5);
    run_exact(9, 40000, 70, 3);
    run_exact(61, 64, 200, 6);
    run_exact(10, 257, 129, 7);
    run_exact(700, 33, 31, 2);
    run_bound(1, 1, 1);
    run_bound(7, 33, 9);
    run_bound(46, 768, 64);
    run_bound(3, 3072, 17);
    run_conv(9, 7, 5, 6, 1, 1, 0, 1);
    run_conv(9, 7, 5, 6, 3, 1, 1, 2);
    run_conv(12, 11, 16, 9, 3, 2, 1, 3);
    run_conv(8, 8, 64, 33, 3, 1, 1, 4);
    run_conv(7, 9, 3, 8, 3, 2, 1, 1);
    /* Wo >= 9 (on AVX-512 VNNI the quantized-band path, vla__conv2d_i8q):
     * the stem's shapes scaled down, a stride, panel tails, several bands */
    run_conv(20, 20, 3, 32, 3, 2, 1, 2);
    run_conv(24, 24, 32, 32, 3, 1, 1, 1);
    run_conv(24, 24, 32, 64, 3, 1, 1, 2);
    run_conv(40, 33, 17, 70, 3, 1, 1, 3);
    run_conv(80, 80, 64, 64, 3, 1, 1, 2);
    run_conv(50, 50, 8, 40, 3, 2, 1, 2);     /* Wo = 25, stride 2: tiles read in place */
    run_conv(160, 160, 48, 16, 3, 1, 1, 2);  /* the quantized rows in two bands */
    run_conv(20, 20, 512, 8, 3, 1, 1, 2);    /* Wo < 24: im2col rows, several bands */
    run_conv_x(16, 12, 37, 70, 1, 1, 0, 2, 1 << 20); /* 1 x 1 quantized in place */
    run_conv_x(16, 12, 64, 300, 1, 1, 0, 1, 0);      /* 1 x 1 without scratch: the integer GEMM on x */
    test_widen();
    test_gguf_mat();

    for (T = 2; T <= 4; T++)
        if (g_pool_ok[T]) vla_threadpool_destroy(&g_pools[T]);
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
