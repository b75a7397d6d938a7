/* test_train.c - every backward pass of the trainer against central finite
 * differences.
 *
 *  1. Kernels, in double: vla_linear_bwd_x / _w (reference and fast entry,
 *     one thread and a thread pool; F32, F16 and Q8_0 weights for bwd_x),
 *     vla_layernorm_bwd (with and without gain / gain and bias gradients),
 *     vla_gelu_erf_bwd, vla_gelu_tanh_bwd, vla_attention_bwd_ref (key mask
 *     with -INFINITY entries, causal, causal with cached keys).  The forward
 *     of each op is written here in double; the central difference of the
 *     random objective sum(r * f(x)) is compared with the library's float
 *     gradient (dy = r).
 *  2. Model: tiny random VL-BART models (d 12 / 3 heads and d 16 / 4 heads,
 *     1-2 layers per side, 3x3 grids max-pooled to 2x2 = 4 boxes) with every
 *     PEFT method of an adapter file (adapter single / multiple, also with
 *     exact GELU; Compacter single / multiple and a hand-made file with
 *     low-rank W and rule factors plus rules shared by a site and by all
 *     tasks; Hyperformer; LoRA single / multiple; prompt single / multiple)
 *     and without one (full fine-tuning; LayerNorms + biases + visual
 *     embedding).  Batches have pad tokens (masked keys), -100 labels, VQA
 *     scores, the three loss kinds and NLVR2's two images.  For sampled
 *     elements of every trainable tensor, and for one random direction over
 *     the whole tensor, vla_trainer_backward's loss at value +- h is
 *     differenced and compared with the gradient, with dropout 0 and 0.1
 *     (the masks depend only on the step, so repeated calls see the same).
 *     The eval loss is also compared with the inference context's
 *     teacher-forced logits (the trainer differentiates what inference runs).
 *  3. recompute = 1 gives bit-identical losses, gradients and updated values.
 *  4. A thread pool in params.exec gives bit-identical results to one thread.
 *  5. Modules of tasks the batch does not use: has_grad == 0, gradient zero,
 *     and the loss does not depend on them (also the visual embedding for a
 *     text-only batch).
 * The ASan build samples one element fewer per tensor and leaves out one
 * finite-difference batch (time); everything else is the same.
 * Options: --only=SUBSTRING runs only the model configurations whose label
 * contains it (same numbers as in the full run), --fd-h=X changes the step,
 * -v prints every section, --fail checks that a failure fails the run.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime under -std=c99 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "test_util.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "../tools/vla_convert.h"
#define VLA_RANDOM_IMPLEMENTATION
#include "../tools/vla_random.h"
#define VLA_THREADS_IMPLEMENTATION
#include "../examples/vla_threads.h"
#include "board/vla_check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* ------------------------------------------------------------------------
 * helpers
 * ------------------------------------------------------------------------ */

static uint64_t g_rng = 0x1234567ull;

static uint64_t rnd_u64(void) {
    uint64_t z = (g_rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double rnd_u(void) { return (double)(rnd_u64() >> 11) * (1.0 / 9007199254740992.0); } /* [0, 1) */
static double rnd_s(void) { return 2.0 * rnd_u() - 1.0; }                                     /* [-1, 1) */

static float *fvec(size_t n, double lo, double hi) {
    float *p = (float *)xmalloc(n * sizeof(float));
    size_t i;
    for (i = 0; i < n; i++) p[i] = (float)(lo + (hi - lo) * rnd_u());
    return p;
}
static double *dvec_of(const float *f, size_t n) {
    double *p = (double *)xmalloc(n * sizeof(double));
    size_t i;
    for (i = 0; i < n; i++) p[i] = f[i];
    return p;
}
static int same_bits(const void *a, const void *b, size_t bytes) { return memcmp(a, b, bytes) == 0; }

static double now_s(void) { /* wall clock */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A thread pool behind a counting parallel-for: the checks can tell that the
 * pool really ran split work (and did not fall back to one task). */
typedef struct counting_pool { vla_threadpool pool; long calls, tasks; } counting_pool;

static void counting_parallel(void *user, vla_task_fn task, void *arg, int n) {
    counting_pool *cp = (counting_pool *)user;
    cp->calls++;
    cp->tasks += n;
    vla_threadpool_parallel(&cp->pool, task, arg, n);
}

static vla_exec counting_exec(counting_pool *cp) {
    vla_exec ex;
    memset(&ex, 0, sizeof ex);
    vla_threadpool_exec(&cp->pool, &ex);
    ex.parallel = counting_parallel;
    ex.parallel_user = cp;
    return ex;
}

/* ------------------------------------------------------------------------
 * 1. Kernels
 *
 * Tolerance of every kernel comparison: element i passes when
 *     |got_i - fd_i| <= RTOL |fd_i| + ATOL max_j |fd_j|     (RTOL = ATOL = 1e-4)
 * Why this is safe and still sharp:
 *   - the objective is evaluated in double from the float inputs; the
 *     linear ops are exactly linear in each variable (central difference
 *     exact up to double rounding, ~1e-16 |f| / h with h = 1e-3), the
 *     smooth ones (LayerNorm, GELU, softmax) have truncation error
 *     h^2 |f'''| / 6 ~ 1e-11 with h = 1e-5 and rounding ~1e-16 |f| / h
 *     ~ 1e-10: the difference quotient is the derivative to ~1e-9 relative;
 *   - the library computes in float: every gradient element is a sum of at
 *     most a few hundred products of O(1) numbers, whose rounding error is
 *     typically sqrt(n) u |terms| and at worst n u |terms| (u = 6e-8), i.e.
 *     1e-6 .. 2e-5 of the gradient's scale, plus (accumulating kernels) one
 *     rounding of the pre-filled output;
 *   - a wrong index, a missing term or a wrong factor changes elements by a
 *     sizeable fraction of the scale, 1e3 times the tolerance.
 * The element-wise GELU derivatives have no accumulation: 1e-5 relative plus
 * 3e-6 absolute: the float formula adds terms as large as |x| <= 5 (x phi(x),
 * 0.5 x (1 - t^2) u'), a few ulp of which is ~1e-6, and the derivative
 * crosses zero near x = -0.75, where only the absolute part holds.
 * ------------------------------------------------------------------------ */

#define K_RTOL 1e-4
#define K_ATOL 1e-4

static double g_kworst = 0.0; /* worst error / tolerance of the kernel section */
static char g_kworst_name[160];

static void cmp_fd(const double *got, const double *fd, size_t n, double rtol, double atol_scale, double atol_abs, const char *fmt,
                   int a, int b, int c, const char *extra) {
    vc_cmp cm;
    double mx = 0.0;
    size_t i;
    for (i = 0; i < n; i++) if (fabs(fd[i]) > mx) mx = fabs(fd[i]);
    vc_cmp_init(&cm);
    for (i = 0; i < n; i++) vc_cmp_add(&cm, (long)i, got[i], fd[i], rtol * fabs(fd[i]) + atol_scale * mx + atol_abs);
    if (cm.n_bad == 0 && cm.worst_ratio > g_kworst) {
        g_kworst = cm.worst_ratio;
        snprintf(g_kworst_name, sizeof g_kworst_name, fmt, a, b, c, extra);
    }
    VC_CHECK_CMP(&cm, fmt, a, b, c, extra);
}

/* Up to `cap` element indices of [0, n): all of them when n <= cap, else the
 * two ends and random ones in between. */
static int pick(size_t n, int cap, size_t *idx) {
    int k;
    if (n <= (size_t)cap) { for (k = 0; k < (int)n; k++) idx[k] = (size_t)k; return (int)n; }
    for (k = 0; k < cap; k++) idx[k] = k == 0 ? 0 : k == 1 ? n - 1 : (size_t)(rnd_u() * (double)n);
    return cap;
}

/* ---- linear ---- */

/* sum_{m,n} r[m,n] (x[m,:] . W[n,:] + b[n]) */
static double lin_obj(const double *x, const double *W, const double *b, const double *r, int M, int N, int K) {
    double s = 0.0;
    int m, n, k;
    for (m = 0; m < M; m++)
        for (n = 0; n < N; n++) {
            double y = b[n];
            for (k = 0; k < K; k++) y += x[(size_t)m * K + k] * W[(size_t)n * K + k];
            s += r[(size_t)m * N + n] * y;
        }
    return s;
}

typedef struct matbuf { vla_mat m; void *data; double *wd; } matbuf;

/* W [N, K] as a vla_mat of the given type, and its exact values in double. */
static matbuf make_mat(vla_type type, const float *wf, int N, int K) {
    matbuf mb;
    int n, k;
    float *row = (float *)xmalloc((size_t)K * sizeof(float));
    mb.m.type = type; mb.m.rows = N; mb.m.cols = K;
    if (type == VLA_TYPE_F32) {
        mb.data = xmalloc((size_t)N * K * 4);
        memcpy(mb.data, wf, (size_t)N * K * 4);
    } else if (type == VLA_TYPE_F16) {
        uint16_t *h = (uint16_t *)xmalloc((size_t)N * K * 2);
        size_t i;
        for (i = 0; i < (size_t)N * K; i++) h[i] = vla_fp32_to_fp16(wf[i]);
        mb.data = h;
    } else {
        mb.data = xmalloc((size_t)N * K / 32 * VLA_Q8_0_BYTES);
        vla_quantize_q8_0(mb.data, wf, (size_t)N * K);
    }
    mb.m.data = mb.data;
    mb.wd = (double *)xmalloc((size_t)N * K * sizeof(double));
    for (n = 0; n < N; n++) { /* the widened values the kernels multiply with */
        vla_mat_row(row, &mb.m, n);
        for (k = 0; k < K; k++) mb.wd[(size_t)n * K + k] = row[k];
    }
    free(row);
    return mb;
}
static void free_mat(matbuf *mb) { free(mb->data); free(mb->wd); }

/* The fast entry points' scratch, 64-byte aligned (NULL when none is needed). */
static float *scratch_for(int M, int N, int K, void **raw) {
    size_t n = vla_linear_bwd_scratch_size(M, N, K);
    uintptr_t p;
    *raw = NULL;
    if (!n) return NULL;
    *raw = xmalloc(n + 64);
    p = ((uintptr_t)*raw + 63) / 64 * 64;
    return (float *)p;
}

/* Variants of the fast entry points: 0 the reference, 1 fast without
 * scratch (plain loops), 2 fast with scratch (packed panels through the
 * blocked GEMM when M >= 8), 3 the same through a thread pool. */
static const char *lin_variant[4] = {"ref", "fast, no scratch", "fast+scratch", "fast+scratch+pool"};

static void test_linear_case(int M, int N, int K, vla_type type, const vla_exec *ex1, const vla_exec *exT /* [2]: 2 and 3 threads */) {
    const char *tn = vla_type_name(type);
    float *x = fvec((size_t)M * K, -1, 1), *wf = fvec((size_t)N * K, -1, 1), *b = fvec((size_t)N, -1, 1), *r = fvec((size_t)M * N, -1, 1);
    float *pre_x = fvec((size_t)M * K, -1, 1), *pre_w = fvec((size_t)N * K, -1, 1), *pre_b = fvec((size_t)N, -1, 1);
    float *dx = (float *)xmalloc((size_t)M * K * 4), *dx1 = (float *)xmalloc((size_t)M * K * 4);
    float *dw = (float *)xmalloc((size_t)N * K * 4), *dw1 = (float *)xmalloc((size_t)N * K * 4);
    float *db = (float *)xmalloc((size_t)N * 4), *db1 = (float *)xmalloc((size_t)N * 4);
    void *raw;
    float *scr = scratch_for(M, N, K, &raw);
    matbuf mb = make_mat(type, wf, N, K);
    double *xd = dvec_of(x, (size_t)M * K), *bd = dvec_of(b, (size_t)N), *rd = dvec_of(r, (size_t)M * N);
    size_t nmax = (size_t)(M * K > N * K ? M * K : N * K) + (size_t)N, i, idx[256];
    double *fd = (double *)xmalloc(nmax * sizeof(double)), *got = (double *)xmalloc(nmax * sizeof(double));
    double h = 1e-3;
    int ns, k, variant;
    char extra[64];

    /* d/dx: FD over sampled elements of x */
    ns = pick((size_t)M * K, 160, idx);
    for (k = 0; k < ns; k++) {
        double v = xd[idx[k]], fp, fm;
        xd[idx[k]] = v + h; fp = lin_obj(xd, mb.wd, bd, rd, M, N, K);
        xd[idx[k]] = v - h; fm = lin_obj(xd, mb.wd, bd, rd, M, N, K);
        xd[idx[k]] = v;
        fd[k] = (fp - fm) / (2 * h);
    }
    for (variant = 0; variant < 4; variant++) {
        memcpy(dx, pre_x, (size_t)M * K * 4);
        if (variant == 0) vla_linear_bwd_x_ref(dx, r, &mb.m, M);
        else vla_linear_bwd_x(variant == 3 ? &exT[0] : ex1, dx, r, &mb.m, M, variant == 1 ? NULL : scr);
        for (k = 0; k < ns; k++) got[k] = (double)dx[idx[k]] - (double)pre_x[idx[k]];
        snprintf(extra, sizeof extra, "%s %s", tn, lin_variant[variant]);
        cmp_fd(got, fd, (size_t)ns, K_RTOL, K_ATOL, 1e-12, "linear_bwd_x M=%d N=%d K=%d %s", M, N, K, extra);
        if (variant == 2) memcpy(dx1, dx, (size_t)M * K * 4);
        if (variant == 3) VC_CHECKF(same_bits(dx, dx1, (size_t)M * K * 4), "linear_bwd_x M=%d N=%d K=%d %s: 2-thread pool != 1 thread", M, N, K, tn);
    }
    memcpy(dx, pre_x, (size_t)M * K * 4);
    vla_linear_bwd_x(&exT[1], dx, r, &mb.m, M, scr);
    VC_CHECKF(same_bits(dx, dx1, (size_t)M * K * 4), "linear_bwd_x M=%d N=%d K=%d %s: 3-thread pool != 1 thread", M, N, K, tn);
    /* NULL exec: the reference */
    memcpy(dx, pre_x, (size_t)M * K * 4);
    vla_linear_bwd_x(NULL, dx, r, &mb.m, M, scr);
    memcpy(dx1, pre_x, (size_t)M * K * 4);
    vla_linear_bwd_x_ref(dx1, r, &mb.m, M);
    VC_CHECKF(same_bits(dx, dx1, (size_t)M * K * 4), "linear_bwd_x(NULL exec) == _ref M=%d N=%d K=%d %s", M, N, K, tn);

    if (type == VLA_TYPE_F32) { /* d/dW, d/db (dW does not involve W's type) */
        double *wd = mb.wd;
        size_t nw = (size_t)N * K;
        ns = pick(nw, 160, idx);
        for (k = 0; k < ns; k++) {
            double v = wd[idx[k]], fp, fm;
            wd[idx[k]] = v + h; fp = lin_obj(xd, wd, bd, rd, M, N, K);
            wd[idx[k]] = v - h; fm = lin_obj(xd, wd, bd, rd, M, N, K);
            wd[idx[k]] = v;
            fd[k] = (fp - fm) / (2 * h);
        }
        for (i = 0; i < (size_t)N; i++) {
            double v = bd[i], fp, fm;
            bd[i] = v + h; fp = lin_obj(xd, wd, bd, rd, M, N, K);
            bd[i] = v - h; fm = lin_obj(xd, wd, bd, rd, M, N, K);
            bd[i] = v;
            fd[ns + i] = (fp - fm) / (2 * h);
        }
        for (variant = 0; variant < 8; variant++) { /* 0-3 as above with db; 4-7 the same with db NULL */
            int v4 = variant & 3, with_b = variant < 4;
            memcpy(dw, pre_w, nw * 4);
            memcpy(db, pre_b, (size_t)N * 4);
            if (v4 == 0) vla_linear_bwd_w_ref(dw, with_b ? db : NULL, r, x, M, N, K);
            else vla_linear_bwd_w(v4 == 3 ? &exT[0] : ex1, dw, with_b ? db : NULL, r, x, M, N, K, v4 == 1 ? NULL : scr);
            for (k = 0; k < ns; k++) got[k] = (double)dw[idx[k]] - (double)pre_w[idx[k]];
            for (i = 0; i < (size_t)N; i++) got[ns + i] = (double)db[i] - (double)pre_b[i];
            snprintf(extra, sizeof extra, "%s%s", lin_variant[v4], with_b ? "" : ", db NULL");
            cmp_fd(got, fd, (size_t)ns, K_RTOL, K_ATOL, 1e-12, "linear_bwd_w dW M=%d N=%d K=%d %s", M, N, K, extra);
            if (with_b) cmp_fd(got + ns, fd + ns, (size_t)N, K_RTOL, K_ATOL, 1e-12, "linear_bwd_w db M=%d N=%d K=%d %s", M, N, K, extra);
            else VC_CHECKF(same_bits(db, pre_b, (size_t)N * 4), "linear_bwd_w (%s) with db NULL wrote db", extra);
            if (variant == 2) { memcpy(dw1, dw, nw * 4); memcpy(db1, db, (size_t)N * 4); }
            if (variant == 3)
                VC_CHECKF(same_bits(dw, dw1, nw * 4) && same_bits(db, db1, (size_t)N * 4), "linear_bwd_w M=%d N=%d K=%d: 2-thread pool != 1 thread", M, N, K);
        }
        memcpy(dw, pre_w, nw * 4);
        memcpy(db, pre_b, (size_t)N * 4);
        vla_linear_bwd_w(&exT[1], dw, db, r, x, M, N, K, scr);
        VC_CHECKF(same_bits(dw, dw1, nw * 4) && same_bits(db, db1, (size_t)N * 4), "linear_bwd_w M=%d N=%d K=%d: 3-thread pool != 1 thread", M, N, K);
    }
    free_mat(&mb);
    free(raw);
    free(x); free(wf); free(b); free(r); free(pre_x); free(pre_w); free(pre_b);
    free(dx); free(dx1); free(dw); free(dw1); free(db); free(db1);
    free(xd); free(bd); free(rd); free(fd); free(got);
}

/* ---- LayerNorm ---- */

static double ln_obj(const double *x, const double *g, const double *b, const double *r, int M, int N, double eps) {
    double s = 0.0;
    int m, n;
    for (m = 0; m < M; m++) {
        const double *xr = x + (size_t)m * N;
        double mu = 0.0, var = 0.0, inv;
        for (n = 0; n < N; n++) mu += xr[n];
        mu /= N;
        for (n = 0; n < N; n++) var += (xr[n] - mu) * (xr[n] - mu);
        var /= N;
        inv = 1.0 / sqrt(var + eps);
        for (n = 0; n < N; n++) s += r[(size_t)m * N + n] * ((xr[n] - mu) * inv * g[n] + b[n]);
    }
    return s;
}

/* use_g: the forward has a gain (else g = NULL, i.e. 1); want_dg / want_db:
 * the gain / bias gradients are asked for (else NULL). */
static void test_layernorm_case(int M, int N, int use_g, int want_dg, int want_db) {
    const float eps = 1e-5f;
    float *x = fvec((size_t)M * N, -2, 3), *g = fvec((size_t)N, 0.5, 1.5), *r = fvec((size_t)M * N, -1, 1);
    float *dx = fvec((size_t)M * N, -9, 9), *dg = fvec((size_t)N, -1, 1), *db = fvec((size_t)N, -1, 1);
    float *dg0 = (float *)xmalloc((size_t)N * 4), *db0 = (float *)xmalloc((size_t)N * 4);
    double *xd = dvec_of(x, (size_t)M * N), *gd = (double *)xmalloc((size_t)N * 8), *bd = (double *)xmalloc((size_t)N * 8);
    double *rd = dvec_of(r, (size_t)M * N), h = 1e-5;
    size_t nx = (size_t)M * N, i;
    double *fd = (double *)xmalloc((nx + 2 * (size_t)N) * 8), *got = (double *)xmalloc((nx + 2 * (size_t)N) * 8);
    char extra[48];
    memcpy(dg0, dg, (size_t)N * 4);
    memcpy(db0, db, (size_t)N * 4);
    for (i = 0; N > 1 && i < (size_t)M; i++) { /* rows with a deviation >= 0.5: LayerNorm's own condition
                                                  * |mean| / std stays small, so the float rounding of x - mean
                                                  * cannot dominate the comparison */
        float *xr = x + i * (size_t)N;
        int n;
        for (;;) {
            double mu = 0.0, var = 0.0;
            for (n = 0; n < N; n++) mu += xr[n];
            mu /= N;
            for (n = 0; n < N; n++) var += (xr[n] - mu) * (xr[n] - mu);
            if (var / N >= 0.25) break;
            for (n = 0; n < N; n++) xr[n] = (float)(-2.0 + 5.0 * rnd_u());
        }
        for (n = 0; n < N; n++) xd[i * (size_t)N + n] = xr[n];
    }
    for (i = 0; i < (size_t)N; i++) { gd[i] = use_g ? g[i] : 1.0; bd[i] = 0.25 * rnd_s(); }
    for (i = 0; i < nx; i++) {
        double v = xd[i], fp, fm;
        xd[i] = v + h; fp = ln_obj(xd, gd, bd, rd, M, N, eps);
        xd[i] = v - h; fm = ln_obj(xd, gd, bd, rd, M, N, eps);
        xd[i] = v;
        fd[i] = (fp - fm) / (2 * h);
    }
    for (i = 0; i < (size_t)N; i++) {
        double v = gd[i], fp, fm;
        gd[i] = v + h; fp = ln_obj(xd, gd, bd, rd, M, N, eps);
        gd[i] = v - h; fm = ln_obj(xd, gd, bd, rd, M, N, eps);
        gd[i] = v;
        fd[nx + i] = (fp - fm) / (2 * h);
        v = bd[i];
        bd[i] = v + h; fp = ln_obj(xd, gd, bd, rd, M, N, eps);
        bd[i] = v - h; fm = ln_obj(xd, gd, bd, rd, M, N, eps);
        bd[i] = v;
        fd[nx + N + i] = (fp - fm) / (2 * h);
    }
    vla_layernorm_bwd(dx, want_dg ? dg : NULL, want_db ? db : NULL, r, x, use_g ? g : NULL, M, N, eps);
    for (i = 0; i < nx; i++) got[i] = dx[i];
    for (i = 0; i < (size_t)N; i++) {
        got[nx + i] = (double)dg[i] - (double)dg0[i];
        got[nx + N + i] = (double)db[i] - (double)db0[i];
    }
    snprintf(extra, sizeof extra, "%s%s%s", use_g ? "gain" : "no gain", want_dg ? ", dg" : "", want_db ? ", db" : "");
    cmp_fd(got, fd, nx, K_RTOL, K_ATOL, 1e-12, "layernorm_bwd dx M=%d N=%d%.0d, %s", M, N, 0, extra);
    if (want_dg) cmp_fd(got + nx, fd + nx, (size_t)N, K_RTOL, K_ATOL, 1e-12, "layernorm_bwd dg M=%d N=%d%.0d, %s", M, N, 0, extra);
    else VC_CHECKF(same_bits(dg, dg0, (size_t)N * 4), "layernorm_bwd wrote dg although NULL was passed");
    if (want_db) cmp_fd(got + nx + N, fd + nx + N, (size_t)N, K_RTOL, K_ATOL, 1e-12, "layernorm_bwd db M=%d N=%d%.0d, %s", M, N, 0, extra);
    free(x); free(g); free(r); free(dx); free(dg); free(db); free(dg0); free(db0);
    free(xd); free(gd); free(bd); free(rd); free(fd); free(got);
}

/* ---- GELU ---- */

static double gelu_erf_d(double x) { return 0.5 * x * (1.0 + erf(x / sqrt(2.0))); }
static double gelu_tanh_d(double x) { return 0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))); }

static void test_gelu_case(size_t n, int tanh_form, int alias) {
    float *x = fvec(n, -5, 5), *r = fvec(n, -1, 1), *dx = (float *)xmalloc(n * 4);
    double *fd = (double *)xmalloc(n * 8), *got = (double *)xmalloc(n * 8), h = 1e-5;
    size_t i;
    if (n > 2) { x[0] = 0.0f; x[1] = -0.7518f; x[2] = 3.5f; } /* zero, near f' = 0, the tail */
    for (i = 0; i < n; i++) {
        double v = x[i];
        fd[i] = r[i] * (tanh_form ? (gelu_tanh_d(v + h) - gelu_tanh_d(v - h)) : (gelu_erf_d(v + h) - gelu_erf_d(v - h))) / (2 * h);
    }
    if (alias) { /* dx may alias dy */
        memcpy(dx, r, n * 4);
        if (tanh_form) vla_gelu_tanh_bwd(dx, dx, x, n);
        else vla_gelu_erf_bwd(dx, dx, x, n);
    } else {
        if (tanh_form) vla_gelu_tanh_bwd(dx, r, x, n);
        else vla_gelu_erf_bwd(dx, r, x, n);
    }
    for (i = 0; i < n; i++) got[i] = dx[i];
    cmp_fd(got, fd, n, 1e-5, 0.0, 3e-6, "gelu_bwd n=%d alias=%d%.0d%s", (int)n, alias, 0, tanh_form ? " (tanh)" : " (erf)");
    free(x); free(r); free(dx); free(fd); free(got);
}

/* ---- attention ---- */

/* sum r . out, out = softmax(q k^T + mask [+ causal]) v per head; P (if not
 * NULL) receives the probabilities [H, Lq, Lk]. */
static double att_obj(const double *q, const double *k, const double *v, int ld, const double *r, int ldo, const double *mask,
                      int causal, int off, int Lq, int Lk, int H, int dh, double *P) {
    double s = 0.0, sc[64], mx, z;
    int h, i, j, e;
    for (h = 0; h < H; h++)
        for (i = 0; i < Lq; i++) {
            mx = -INFINITY;
            for (j = 0; j < Lk; j++) {
                double a = 0.0;
                for (e = 0; e < dh; e++) a += q[(size_t)i * ld + h * dh + e] * k[(size_t)j * ld + h * dh + e];
                if (mask) a += mask[j];
                if (causal && j > i + off) a = -INFINITY;
                sc[j] = a;
                if (a > mx) mx = a;
            }
            z = 0.0;
            for (j = 0; j < Lk; j++) { sc[j] = exp(sc[j] - mx); z += sc[j]; }
            for (j = 0; j < Lk; j++) {
                sc[j] /= z;
                if (P) P[((size_t)h * Lq + i) * Lk + j] = sc[j];
            }
            for (e = 0; e < dh; e++) {
                double o = 0.0;
                for (j = 0; j < Lk; j++) o += sc[j] * v[(size_t)j * ld + h * dh + e];
                s += r[(size_t)i * ldo + h * dh + e] * o;
            }
        }
    return s;
}

/* masked: keys j with j % 3 == 1 get -INFINITY (key 0 always stays). */
static void test_attention_case(int Lq, int Lk, int H, int dh, int masked, int causal, int off) {
    int ld = H * dh + 3, ldo = H * dh + 1, i;
    size_t nq = (size_t)Lq * ld, nk = (size_t)Lk * ld, no = (size_t)Lq * ldo, nP = (size_t)H * Lq * Lk;
    float *q = fvec(nq, -1.5, 1.5), *k = fvec(nk, -1.5, 1.5), *v = fvec(nk, -1, 1), *r = fvec(no, -1, 1);
    float *dq = fvec(nq, -1, 1), *dk = fvec(nk, -1, 1), *dv = fvec(nk, -1, 1), *P = (float *)xmalloc(nP * 4);
    float *dq0 = (float *)xmalloc(nq * 4), *dk0 = (float *)xmalloc(nk * 4), *dv0 = (float *)xmalloc(nk * 4), *maskf = NULL;
    double *qd = dvec_of(q, nq), *kd = dvec_of(k, nk), *vd = dvec_of(v, nk), *rd = dvec_of(r, no), *Pd = (double *)xmalloc(nP * 8);
    double *mask = NULL, h = 1e-5;
    double *fd = (double *)xmalloc((nq + 2 * nk) * 8), *got = (double *)xmalloc((nq + 2 * nk) * 8);
    size_t n = 0, t;
    double *arrs[3];
    float *outs[3], *pres[3];
    size_t lens[3];
    int a;
    char extra[64];
    if (masked) {
        mask = (double *)xmalloc((size_t)Lk * 8);
        maskf = (float *)xmalloc((size_t)Lk * 4);
        for (i = 0; i < Lk; i++) { mask[i] = i % 3 == 1 ? -INFINITY : 0.0; maskf[i] = (float)mask[i]; }
    }
    (void)maskf;
    memcpy(dq0, dq, nq * 4); memcpy(dk0, dk, nk * 4); memcpy(dv0, dv, nk * 4);
    att_obj(qd, kd, vd, ld, rd, ldo, mask, causal, off, Lq, Lk, H, dh, Pd);
    for (t = 0; t < nP; t++) P[t] = (float)Pd[t];
    arrs[0] = qd; arrs[1] = kd; arrs[2] = vd;
    outs[0] = dq; outs[1] = dk; outs[2] = dv;
    pres[0] = dq0; pres[1] = dk0; pres[2] = dv0;
    lens[0] = nq; lens[1] = nk; lens[2] = nk;
    vla_attention_bwd_ref(dq, dk, dv, ld, r, ldo, q, k, v, P, Lq, Lk, H, dh);
    for (a = 0; a < 3; a++) {
        n = 0;
        for (t = 0; t < lens[a]; t++) {
            double val, fp, fm;
            if ((int)(t % (size_t)ld) >= H * dh) { /* the padding columns: untouched */
                VC_CHECKF(outs[a][t] == pres[a][t], "attention_bwd wrote a padding column");
                continue;
            }
            val = arrs[a][t];
            arrs[a][t] = val + h; fp = att_obj(qd, kd, vd, ld, rd, ldo, mask, causal, off, Lq, Lk, H, dh, NULL);
            arrs[a][t] = val - h; fm = att_obj(qd, kd, vd, ld, rd, ldo, mask, causal, off, Lq, Lk, H, dh, NULL);
            arrs[a][t] = val;
            fd[n] = (fp - fm) / (2 * h);
            got[n] = (double)outs[a][t] - (double)pres[a][t];
            n++;
        }
        snprintf(extra, sizeof extra, "%s%s%s", a == 0 ? "dq" : a == 1 ? "dk" : "dv", masked ? " key-mask" : "",
                 causal ? (off ? " causal+offset" : " causal") : "");
        cmp_fd(got, fd, n, K_RTOL, K_ATOL, 1e-12, "attention_bwd Lq=%d Lk=%d H=%d %s", Lq, Lk, H, extra);
    }
    free(q); free(k); free(v); free(r); free(dq); free(dk); free(dv); free(P); free(dq0); free(dk0); free(dv0);
    free(qd); free(kd); free(vd); free(rd); free(Pd); free(mask); free(maskf); free(fd); free(got);
}

static void test_kernels(counting_pool **pools) {
    /* {M, N, K}: M < 8 takes the plain loops, M >= 8 (with scratch) the packed
     * GEMM path: K > 64 spans several bwd_x panels, K > 256 several bwd_w
     * chunks, N > 64 several bwd_w panels */
    static const int lin[][3] = {{1, 1, 1}, {2, 3, 7}, {3, 7, 33}, {4, 33, 3}, {5, 65, 65}, {7, 1, 65}, {6, 5, 1},
                                 {8, 1, 1}, {9, 3, 7}, {8, 33, 65}, {11, 65, 33}, {16, 7, 300}, {9, 20, 600}, {13, 70, 5}};
    static const int linq[][3] = {{1, 1, 32}, {3, 7, 32}, {5, 33, 64}, {8, 33, 64}, {12, 5, 288}, {9, 3, 544}};
    static const int lnsh[][2] = {{1, 1}, {2, 3}, {3, 7}, {2, 33}, {4, 65}};
    vla_exec ex1, exT[2];
    int i, t;
    long calls0 = pools[0]->calls + pools[1]->calls;
    double t0 = now_s();
    memset(&ex1, 0, sizeof ex1);
    ex1.n_threads = 1;
    exT[0] = counting_exec(pools[0]);
    exT[1] = counting_exec(pools[1]);

    vc_section("kernels: linear backward vs finite differences");
    for (i = 0; i < (int)(sizeof lin / sizeof lin[0]); i++)
        for (t = 0; t < 2; t++) test_linear_case(lin[i][0], lin[i][1], lin[i][2], t ? VLA_TYPE_F16 : VLA_TYPE_F32, &ex1, exT);
    for (i = 0; i < (int)(sizeof linq / sizeof linq[0]); i++) test_linear_case(linq[i][0], linq[i][1], linq[i][2], VLA_TYPE_Q8_0, &ex1, exT);
    VC_CHECKF(pools[0]->calls + pools[1]->calls > calls0, "the thread pools never ran split work in the kernel tests");

    vc_section("kernels: layernorm backward vs finite differences");
    for (i = 0; i < (int)(sizeof lnsh / sizeof lnsh[0]); i++) {
        test_layernorm_case(lnsh[i][0], lnsh[i][1], 1, 1, 1);
        test_layernorm_case(lnsh[i][0], lnsh[i][1], 0, 0, 0);
        test_layernorm_case(lnsh[i][0], lnsh[i][1], 0, 1, 1);
        test_layernorm_case(lnsh[i][0], lnsh[i][1], 1, 0, 1);
    }

    vc_section("kernels: gelu backward vs finite differences");
    {
        static const size_t ns[] = {1, 3, 7, 33, 65, 1000};
        for (i = 0; i < 6; i++)
            for (t = 0; t < 4; t++) test_gelu_case(ns[i], t & 1, t >> 1);
    }

    vc_section("kernels: attention backward vs finite differences");
    test_attention_case(1, 1, 1, 1, 0, 0, 0);
    test_attention_case(3, 5, 1, 4, 0, 0, 0);
    test_attention_case(4, 7, 3, 2, 1, 0, 0);
    test_attention_case(5, 9, 3, 5, 1, 0, 0);
    test_attention_case(7, 7, 3, 5, 0, 1, 0);
    test_attention_case(6, 6, 1, 7, 0, 1, 0);
    test_attention_case(2, 6, 3, 3, 0, 1, 3);
    test_attention_case(3, 8, 2, 4, 1, 1, 5);
    test_attention_case(1, 33, 3, 3, 1, 0, 0);
    printf("kernels: worst error / tolerance %.3g (%s), %.2f s\n", g_kworst, g_kworst_name, now_s() - t0);
}

/* ------------------------------------------------------------------------
 * 2. Model level
 * ------------------------------------------------------------------------ */

typedef struct blob { unsigned char *p; size_t n; } blob;

/* The random generators' scales (N(0, 0.02) matrices, LayerNorm gains
 * 1 +- 0.01) make a tiny model almost linear and its gradients tiny next to
 * the float rounding of the loss.  Widen them: tensors with |mean| > 0.5 (gains)
 * get 10x their jitter, small-deviation ones a deviation of `std`. */
static void widen(vla_conv *cv, double std) {
    int i;
    for (i = 0; i < cv->n; i++) {
        vla_conv_tensor *t = &cv->t[i];
        float *d = (float *)t->data;
        size_t n = t->nbytes / 4, j;
        double mean = 0.0, var = 0.0, s;
        if (t->type != VLA_TYPE_F32 || !strcmp(t->name, "final_logits_bias") || n < 1) continue;
        for (j = 0; j < n; j++) mean += d[j];
        mean /= (double)n;
        for (j = 0; j < n; j++) var += (d[j] - mean) * (d[j] - mean);
        s = sqrt(var / (double)n);
        if (fabs(mean) > 0.5) for (j = 0; j < n; j++) d[j] = (float)(mean + 10.0 * (d[j] - mean));
        else if (s > 0.0 && s < 0.1) for (j = 0; j < n; j++) d[j] = (float)(d[j] * (std / s));
    }
}

static blob conv_out(vla_conv *cv) {
    blob b = {NULL, 0};
    if (vla_conv_write_mem(cv, &b.p, &b.n) != 0) { printf("write: %s\n", cv->err); b.p = NULL; }
    vla_conv_free(cv);
    return b;
}

typedef struct model_spec { const char *name; vla_rand_bart r; } model_spec;

static blob make_base(const vla_rand_bart *r) {
    vla_conv cv;
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_conv_random_bart(&cv, r) != 0) {
        blob none = {NULL, 0};
        printf("random bart: %s\n", cv.err);
        vla_conv_free(&cv);
        return none;
    }
    widen(&cv, 0.3);
    cv.fingerprint = vla_conv_fingerprint(&cv);
    return conv_out(&cv);
}

static blob make_adapter(const vla_model *m, vla_rand_adapter ra, int exact_gelu) {
    vla_conv cv;
    vla_conv_init(&cv);
    cv.quiet = 1;
    ra.base_fingerprint = vla_model_fingerprint(m);
    if (vla_random_adapter(&cv, &ra) != 0) {
        blob none = {NULL, 0};
        printf("random adapter: %s\n", cv.err);
        vla_conv_free(&cv);
        return none;
    }
    widen(&cv, 0.25);
    if (exact_gelu) vla_conv_str(&cv, "vladapter.adapter.activation", "gelu");
    { /* Hyperformer's projector has a ReLU: keep its inputs h1 = W1 [task; layer] + c1
       * far from the kink (c1 = +-4 alternating, |W1 in| ~ 0.45), so that no
       * finite-difference step crosses it; the dead units check the zero branch */
        int i;
        size_t j;
        for (i = 0; i < cv.n; i++) {
            float *v = (float *)cv.t[i].data;
            if (strstr(cv.t[i].name, ".proj1.bias"))
                for (j = 0; j < cv.t[i].nbytes / 4; j++) v[j] = j % 2 ? -4.0f : 4.0f;
            /* task and layer embeddings N(0, 1) -> 0.5: the projector's
             * curvature (LayerNorm over 4 values) stays moderate for h = 1e-2 */
            if (!strncmp(cv.t[i].name, "H.task.", 7) || strstr(cv.t[i].name, ".layer_emb"))
                for (j = 0; j < cv.t[i].nbytes / 4; j++) v[j] *= 0.5f;
        }
    }
    return conv_out(&cv);
}

static void add_rand(vla_conv *cv, const char *name, int nd, int64_t a, int64_t b, int64_t c, double std) {
    int64_t sh[3];
    size_t n, i;
    float *d;
    sh[0] = a; sh[1] = b; sh[2] = c;
    n = (size_t)a * (size_t)(nd > 1 ? b : 1) * (size_t)(nd > 2 ? c : 1);
    d = (float *)xmalloc(n * 4);
    for (i = 0; i < n; i++) d[i] = (float)(std * 1.7320508 * rnd_s());
    if (vla_conv_add_owned(cv, name, nd, sh, d) != 0) printf("add %s: %s\n", name, cv->err);
}

/* Compacter with every factor form the trainer reads (vla__tfac_find), site
 * by site (si % 3):
 *   0: down.rule_left/_right (low-rank rule), down.W_left/_right (low-rank W),
 *      up.rule and up.W whole
 *   1: "<site>.rule" shared by the site's down and up layers, down.W whole,
 *      up.W_left/_right
 *   2: down.rule and up.rule of task "*" (shared by all tasks), W whole
 * four tasks (vqa, gqa, nlvr, caption), each with its own W and biases. */
static blob make_compacter_lowrank(const vla_model *m, int hidden, int k, int rank) {
    static const char *tasks[4] = {"vqa", "gqa", "nlvr", "caption"};
    static const char *es[2] = {"attn", "ffn"}, *ds[3] = {"self", "cross", "ffn"};
    const vla_hparams *hp = vla_model_hparams(m);
    int d = hp->d_model, ti, side, l, s, si;
    vla_conv cv;
    char pre[96], nm[160];
    vla_conv_init(&cv);
    cv.quiet = 1;
    cv.n_tasks = 4;
    for (ti = 0; ti < 4; ti++) {
        snprintf(cv.task_names[ti], sizeof cv.task_names[ti], "%s", tasks[ti]);
        snprintf(cv.task_prefix[ti], sizeof cv.task_prefix[ti], "%s: ", tasks[ti]);
        cv.task_beams[ti] = 1;
        cv.task_maxlen[ti] = 20;
    }
    cv.base_fingerprint = vla_model_fingerprint(m);
    vla_conv_str(&cv, "general.architecture", "vladapter");
    vla_conv_str(&cv, "general.type", "adapter");
    vla_conv_str(&cv, "vladapter.adapter.method", "compacter");
    for (ti = 0; ti < 4; ti++) {
        si = 0;
        for (side = 0; side < 2; side++)
            for (l = 0; l < (side ? hp->n_dec_layers : hp->n_enc_layers); l++)
                for (s = 0; s < (side ? 3 : 2); s++, si++) {
                    int v = si % 3;
                    snprintf(pre, sizeof pre, "A.%s.%s.%d.%s", tasks[ti], side ? "dec" : "enc", l, side ? ds[s] : es[s]);
#define NM(suffix) (snprintf(nm, sizeof nm, "%s%s", pre, suffix), nm)
                    if (v == 0) {
                        add_rand(&cv, NM(".down.rule_left"), 3, k, k, rank, 0.6);
                        add_rand(&cv, NM(".down.rule_right"), 3, k, rank, k, 0.6);
                        add_rand(&cv, NM(".down.W_left"), 3, k, d / k, rank, 0.4);
                        add_rand(&cv, NM(".down.W_right"), 3, k, rank, hidden / k, 0.4);
                        add_rand(&cv, NM(".up.rule"), 3, k, k, k, 0.5);
                        add_rand(&cv, NM(".up.W"), 3, k, hidden / k, d / k, 0.25);
                    } else if (v == 1) {
                        add_rand(&cv, NM(".rule"), 3, k, k, k, 0.5);
                        add_rand(&cv, NM(".down.W"), 3, k, d / k, hidden / k, 0.25);
                        add_rand(&cv, NM(".up.W_left"), 3, k, hidden / k, rank, 0.4);
                        add_rand(&cv, NM(".up.W_right"), 3, k, rank, d / k, 0.4);
                    } else {
                        if (ti == 0) {
                            char sh[96];
                            snprintf(sh, sizeof sh, "A.*.%s.%d.%s.down.rule", side ? "dec" : "enc", l, side ? ds[s] : es[s]);
                            add_rand(&cv, sh, 3, k, k, k, 0.5);
                            snprintf(sh, sizeof sh, "A.*.%s.%d.%s.up.rule", side ? "dec" : "enc", l, side ? ds[s] : es[s]);
                            add_rand(&cv, sh, 3, k, k, k, 0.5);
                        }
                        add_rand(&cv, NM(".down.W"), 3, k, d / k, hidden / k, 0.25);
                        add_rand(&cv, NM(".up.W"), 3, k, hidden / k, d / k, 0.25);
                    }
                    add_rand(&cv, NM(".down.bias"), 1, hidden, 1, 1, 0.2);
                    add_rand(&cv, NM(".up.bias"), 1, d, 1, 1, 0.2);
#undef NM
                }
    }
    return conv_out(&cv);
}

static vla_model *load_model(blob f, void **mem) {
    size_t need;
    vla_model *m = NULL;
    *mem = NULL;
    if (!f.p || vla_model_mem_req(f.p, f.n, &need) != VLA_OK) return NULL;
    *mem = xmalloc(need);
    if (vla_model_init(&m, *mem, need, f.p, f.n, NULL) != VLA_OK) return NULL;
    return m;
}

/* ---- batches ---- */

#define MAXB 2
#define MAXLT 7
#define MAXT 5
#define GRID 3

typedef struct batches {
    vla_train_batch b[5];
    const char *label[5];
    int32_t ids[5][MAXB * MAXLT];
    int32_t labels[5][MAXB * MAXT];
    float scores[MAXB];
    float *feats[5], *boxes[5];
} batches;

static void set_batch(batches *bs, int i, const char *label, const char *task, vla_loss_kind loss, int Lt, const int32_t *ids, int n_images,
                      int with_boxes, int T, const int32_t *labels, int feat_dim) {
    vla_train_batch *b = &bs->b[i];
    size_t nf = (size_t)MAXB * n_images * GRID * GRID, j;
    memset(b, 0, sizeof *b);
    bs->label[i] = label;
    memcpy(bs->ids[i], ids, sizeof(int32_t) * MAXB * Lt);
    memcpy(bs->labels[i], labels, sizeof(int32_t) * MAXB * T);
    bs->feats[i] = n_images ? fvec(nf * feat_dim, -1, 2) : NULL;
    bs->boxes[i] = NULL;
    if (n_images && with_boxes) { /* (x1, x2, y1, y2), x1 < x2, y1 < y2 */
        bs->boxes[i] = (float *)xmalloc(nf * 4 * 4);
        for (j = 0; j < nf; j++) {
            float a = (float)rnd_u(), c = (float)rnd_u();
            bs->boxes[i][4 * j + 0] = 0.5f * a; bs->boxes[i][4 * j + 1] = 0.5f + 0.5f * a;
            bs->boxes[i][4 * j + 2] = 0.4f * c; bs->boxes[i][4 * j + 3] = 0.6f + 0.4f * c;
        }
    }
    b->task = task;
    b->loss = loss;
    b->in.batch = MAXB;
    b->in.text_len = Lt;
    b->in.ids = bs->ids[i];
    b->in.n_images = n_images;
    b->in.grid_h = b->in.grid_w = n_images ? GRID : 0;
    b->in.feats = bs->feats[i];
    b->in.boxes = bs->boxes[i];
    b->target_len = T;
    b->labels = bs->labels[i];
    b->scores = loss == VLA_LOSS_VQA ? bs->scores : NULL;
}

/* ids: <s> = 0, <pad> = 1, </s> = 2; the last 4 of the 40 ids are the
 * visual tokens' order embeddings. */
static void make_batches(batches *bs, int feat_dim) {
    static const int32_t ids0[] = {0, 5, 9, 13, 21, 2, 0, 7, 30, 2, 1, 1};
    static const int32_t lab0[] = {11, 17, 2, -100, 23, 2, -100, -100};
    static const int32_t ids1[] = {0, 14, 15, 16, 2, 0, 8, 2, 1, 1};
    static const int32_t lab1[] = {19, 25, 2, 6, 2, -100};
    static const int32_t ids2[] = {0, 4, 6, 8, 10, 12, 2, 0, 3, 5, 2, 1, 1, 1};
    static const int32_t lab2[] = {31, 2, 32, 2};
    static const int32_t ids3[] = {0, 27, 2, 0, 2, 1};
    static const int32_t lab3[] = {9, 10, 11, 12, 2, 13, 14, 2, -100, -100};
    static const int32_t ids4[] = {0, 33, 34, 2, 0, 18, 2, 1};
    static const int32_t lab4[] = {20, 2, -100, 22, 2, 2};
    memset(bs, 0, sizeof *bs);
    bs->scores[0] = 1.0f; bs->scores[1] = 0.3f;
    set_batch(bs, 0, "vqa VQA-loss 1 image", "vqa", VLA_LOSS_VQA, 6, ids0, 1, 1, 4, lab0, feat_dim);
    set_batch(bs, 1, "gqa example-mean no boxes", "gqa", VLA_LOSS_EXAMPLE_MEAN, 5, ids1, 1, 0, 3, lab1, feat_dim);
    set_batch(bs, 2, "nlvr example-mean 2 images", "nlvr", VLA_LOSS_EXAMPLE_MEAN, 7, ids2, 2, 1, 2, lab2, feat_dim);
    set_batch(bs, 3, "caption token-mean", "caption", VLA_LOSS_TOKEN_MEAN, 3, ids3, 1, 1, 5, lab3, feat_dim);
    set_batch(bs, 4, "vqa token-mean text only", "vqa", VLA_LOSS_TOKEN_MEAN, 4, ids4, 0, 0, 3, lab4, feat_dim);
}

static void free_batches(batches *bs) {
    int i;
    for (i = 0; i < 5; i++) { free(bs->feats[i]); free(bs->boxes[i]); }
}

/* ---- trainers ---- */

typedef struct setup {
    const char *defaults;   /* vla_train_defaults method                    */
    int ln, bias, full, visual; /* -1: the defaults' value                  */
} setup;

static vla_train_params tparams(const setup *s, float dropout, int recompute, const vla_exec *ex) {
    vla_train_params p = vla_train_defaults(s->defaults);
    p.max_batch = MAXB; p.max_text_len = MAXLT; p.max_images = 2; p.max_grid = GRID * GRID; p.max_target_len = MAXT;
    if (s->ln >= 0) p.train_layer_norms = s->ln;
    if (s->bias >= 0) p.train_biases = s->bias;
    if (s->full >= 0) p.full_finetune = s->full;
    if (s->visual >= 0) p.train_visual = s->visual;
    p.lr = 1e-2; p.total_steps = 10; p.warmup_steps = 0;
    p.dropout = dropout;
    p.seed = 4242;
    p.recompute = recompute;
    if (ex) p.exec = *ex;
    return p;
}

typedef struct tbox { vla_trainer *t; void *mem; } tbox;

static tbox new_trainer(const vla_model *m, blob ad, const vla_train_params *p) {
    tbox b = {NULL, NULL};
    size_t need = 0;
    vla_status st = vla_trainer_mem_req(m, ad.p, ad.n, p, &need);
    if (st != VLA_OK) { VC_CHECKF(0, "vla_trainer_mem_req: %s", vla_status_str(st)); return b; }
    b.mem = xmalloc(need);
    st = vla_trainer_init(&b.t, m, ad.p, ad.n, p, b.mem, need);
    if (st != VLA_OK) { VC_CHECKF(0, "vla_trainer_init: %s", vla_status_str(st)); free(b.mem); b.mem = NULL; b.t = NULL; }
    return b;
}
static void free_trainer(tbox *b) { free(b->mem); b->mem = NULL; b->t = NULL; }

/* ---- finite differences through vla_trainer_backward ----
 *
 * The loss is a float computed by a float forward pass: as a function of one
 * parameter it is the exact loss plus rounding noise of relative size
 * ~1e-7..1e-6 (|L| ~ 1..5, so eps_L ~ 1e-6 absolute).  The central difference
 * with step h has error  ~eps_L / h  (noise)  +  h^2 |L'''| / 6  (truncation).
 * With h = 1e-2 (parameters are O(0.1..1)) that is ~1e-4 + ~1e-5 per element,
 * against gradient elements of 1e-3..1.  Per tensor, over the S sampled
 * elements:
 *     ||fd - g||_2 <= FD_RTOL ||g||_2 + FD_ATOL sqrt(S)
 * and along one random unit direction e over the whole tensor:
 *     |fd_e - e.g| <= FD_RTOL max(|e.g|, ||g||_2 / sqrt(n)) + FD_ATOL
 * (||g|| / sqrt(n) is the size e.g has for a random e).  FD_RTOL = 2e-2
 * covers the truncation term and the noise on well-scaled gradients; FD_ATOL
 * = 5e-4 is a few times the noise eps_L / h for gradients near zero.  A wrong
 * backward (a missing term, a wrong index, a forgotten dropout mask or scale)
 * gives relative errors of 0.1 .. 1 on the affected tensor. */
static double FD_H = 1e-2; /* --fd-h=X overrides (for investigating a failure) */
static const char *g_only = NULL; /* --only=SUBSTRING: run the model configurations whose label contains it */
#define FD_RTOL 2e-2
#define FD_ATOL 5e-4

typedef struct fdstat {
    double worst_ratio, worst_rel;
    char worst_name[160], worst_rel_name[160];
    long n_eval;
    int n_tensors, n_fail;
} fdstat;

static double loss_of(vla_trainer *t, const vla_train_batch *b, fdstat *fs) {
    float L = 0.0f;
    vla_status st = vla_trainer_backward(t, b, &L);
    fs->n_eval++;
    return st == VLA_OK ? (double)L : NAN;
}

static void fd_check(vla_trainer *t, const vla_train_batch *b, const char *cfg, const char *blabel, float dropout, int samples, fdstat *fs) {
    int nt = vla_trainer_n_tensors(t), i, k;
    float L0 = 0.0f, L1 = 0.0f;
    float **g = (float **)xmalloc(sizeof(float *) * (size_t)nt);
    vla_status st = vla_trainer_backward(t, b, &L0);
    VC_CHECKF(st == VLA_OK && isfinite(L0), "%s / %s: backward %s, loss %g", cfg, blabel, vla_status_str(st), (double)L0);
    if (st != VLA_OK) { free(g); return; }
    for (i = 0; i < nt; i++) {
        vla_train_tensor tt;
        vla_trainer_tensor(t, i, &tt);
        g[i] = (float *)xmalloc(tt.n * 4);
        memcpy(g[i], tt.grad, tt.n * 4);
    }
    for (i = 0; i < nt; i++) {
        vla_train_tensor tt;
        size_t idx[16], j;
        int S;
        double err2 = 0.0, gn2 = 0.0, gfull2 = 0.0, fdir, an = 0.0, Lp, Lm, rms, tol_e, tol_d, ratio, rel, en = 0.0;
        float *orig, *e;
        vla_trainer_tensor(t, i, &tt);
        if (!tt.has_grad) continue;
        fs->n_tensors++;
        S = pick(tt.n, samples, idx);
        for (k = 0; k < S; k++) {
            float v = tt.value[idx[k]], vp, vm;
            double fd, gk = g[i][idx[k]];
            tt.value[idx[k]] = (float)(v + FD_H); vp = tt.value[idx[k]];
            Lp = loss_of(t, b, fs);
            tt.value[idx[k]] = (float)(v - FD_H); vm = tt.value[idx[k]];
            Lm = loss_of(t, b, fs);
            tt.value[idx[k]] = v;
            fd = (Lp - Lm) / ((double)vp - (double)vm);
            err2 += (fd - gk) * (fd - gk);
            gn2 += gk * gk;
        }
        /* one random direction over every element */
        orig = (float *)xmalloc(tt.n * 4);
        e = (float *)xmalloc(tt.n * 4);
        memcpy(orig, tt.value, tt.n * 4);
        for (j = 0; j < tt.n; j++) { e[j] = (float)rnd_s(); en += (double)e[j] * e[j]; gfull2 += (double)g[i][j] * g[i][j]; }
        en = sqrt(en);
        for (j = 0; j < tt.n; j++) tt.value[j] = (float)(orig[j] + FD_H * e[j] / en);
        Lp = loss_of(t, b, fs);
        for (j = 0; j < tt.n; j++) {
            double up = tt.value[j];
            tt.value[j] = (float)(orig[j] - FD_H * e[j] / en);
            an += (double)g[i][j] * (up - (double)tt.value[j]);
        }
        Lm = loss_of(t, b, fs);
        memcpy(tt.value, orig, tt.n * 4);
        fdir = (Lp - Lm) / (2 * FD_H);
        an /= 2 * FD_H;
        rms = sqrt(gfull2 / (double)tt.n);
        tol_e = FD_RTOL * sqrt(gn2) + FD_ATOL * sqrt((double)S);
        tol_d = FD_RTOL * (fabs(an) > rms ? fabs(an) : rms) + FD_ATOL;
        ratio = sqrt(err2) / tol_e;
        if (fabs(fdir - an) / tol_d > ratio) ratio = fabs(fdir - an) / tol_d;
        if (!(ratio <= 1.0)) fs->n_fail++;
        VC_CHECKF(ratio <= 1.0, "%s / %s / dropout %.1f: %s: sampled ||fd - g|| = %.3g, ||g|| = %.3g (%d elements); direction fd %.6g, e.g %.6g",
                  cfg, blabel, (double)dropout, tt.name, sqrt(err2), sqrt(gn2), S, fdir, an);
        if (ratio > fs->worst_ratio || fs->worst_name[0] == 0) {
            fs->worst_ratio = ratio;
            snprintf(fs->worst_name, sizeof fs->worst_name, "%s (%s, dropout %.1f)", tt.name, blabel, (double)dropout);
        }
        /* relative error, where the gradient stands above the noise floor */
        if (sqrt(gn2) > 10 * FD_ATOL * sqrt((double)S)) {
            rel = sqrt(err2) / sqrt(gn2);
            if (rel > fs->worst_rel) {
                fs->worst_rel = rel;
                snprintf(fs->worst_rel_name, sizeof fs->worst_rel_name, "%s (%s, dropout %.1f)", tt.name, blabel, (double)dropout);
            }
        }
        free(orig); free(e);
    }
    /* restored values: the same loss and gradients, bit for bit */
    st = vla_trainer_backward(t, b, &L1);
    {
        int same = st == VLA_OK && same_bits(&L0, &L1, 4);
        for (i = 0; i < nt && same; i++) {
            vla_train_tensor tt;
            vla_trainer_tensor(t, i, &tt);
            same = same_bits(tt.grad, g[i], tt.n * 4);
        }
        VC_CHECKF(same, "%s / %s: a repeated backward (same step, restored values) differs", cfg, blabel);
    }
    for (i = 0; i < nt; i++) free(g[i]);
    free(g);
}

/* The task a module tensor belongs to ("A.<task>...", "L.", "P.", "H.task.<task>"),
 * or NULL for shared parts (base tensors, the Hyperformer hypernetworks). */
static const char *tensor_task(const char *name, char *buf, size_t cap) {
    const char *s, *e;
    size_t n;
    if (!strncmp(name, "H.task.", 7)) { snprintf(buf, cap, "%s", name + 7); return buf; }
    if (!(name[0] == 'A' || name[0] == 'L' || name[0] == 'P') || name[1] != '.') return NULL;
    s = name + 2;
    e = strchr(s, '.');
    n = e ? (size_t)(e - s) : strlen(s);
    snprintf(buf, cap, "%.*s", (int)n, s);
    return buf;
}

/* After a backward on b: every module of another task has has_grad == 0, a
 * zero gradient, and the loss does not change when it does; everything else
 * (the batch's task, "*", shared hypernetworks, base tensors, the visual
 * embedding when there are images) has has_grad == 1. */
static void check_unused(vla_trainer *t, const vla_train_batch *b, const char *cfg) {
    int nt = vla_trainer_n_tensors(t), i, n_other = 0, bad_flag = 0, bad_grad = 0, bad_loss = 0, bad_used = 0;
    float L0 = 0.0f, L1 = 0.0f;
    char buf[64], first[160] = "";
    float **saved;
    vla_status st = vla_trainer_backward(t, b, &L0);
    VC_CHECKF(st == VLA_OK, "%s: backward %s", cfg, vla_status_str(st));
    if (st != VLA_OK) return;
    saved = (float **)xmalloc(sizeof(float *) * (size_t)nt);
    for (i = 0; i < nt; i++) {
        vla_train_tensor tt;
        const char *task;
        int other, vis;
        size_t j;
        vla_trainer_tensor(t, i, &tt);
        task = tensor_task(tt.name, buf, sizeof buf);
        vis = !strncmp(tt.name, "encoder.visual_embedding.", 25);
        other = (task && strcmp(task, "*") && strcmp(task, b->task)) || (vis && b->in.n_images == 0);
        if (!other) {
            if (!tt.has_grad) { bad_used++; if (!first[0]) snprintf(first, sizeof first, "%s has no grad", tt.name); }
            continue;
        }
        n_other++;
        if (tt.has_grad) { bad_flag++; if (!first[0]) snprintf(first, sizeof first, "%s has_grad", tt.name); }
        for (j = 0; j < tt.n; j++)
            if (tt.grad[j] != 0.0f) { bad_grad++; if (!first[0]) snprintf(first, sizeof first, "%s grad[%lu] = %g", tt.name, (unsigned long)j, (double)tt.grad[j]); break; }
    }
    /* the loss does not see them: shift all of them at once, then restore */
    for (i = 0; i < nt; i++) {
        vla_train_tensor tt;
        const char *task;
        size_t j;
        vla_trainer_tensor(t, i, &tt);
        task = tensor_task(tt.name, buf, sizeof buf);
        saved[i] = NULL;
        if ((task && strcmp(task, "*") && strcmp(task, b->task)) || (!strncmp(tt.name, "encoder.visual_embedding.", 25) && b->in.n_images == 0)) {
            saved[i] = (float *)xmalloc(tt.n * 4);
            memcpy(saved[i], tt.value, tt.n * 4);
            for (j = 0; j < tt.n; j++) tt.value[j] += 0.5f;
        }
    }
    st = vla_trainer_backward(t, b, &L1);
    if (st != VLA_OK || !same_bits(&L0, &L1, 4)) bad_loss = 1;
    for (i = 0; i < nt; i++) {
        vla_train_tensor tt;
        vla_trainer_tensor(t, i, &tt);
        if (saved[i]) memcpy(tt.value, saved[i], tt.n * 4);
        free(saved[i]);
    }
    free(saved);
    VC_CHECKF(!bad_flag && !bad_grad && !bad_loss && !bad_used,
              "%s, task %s: %d unused tensors; %d with has_grad, %d with a gradient, loss %s, %d used ones without has_grad (%s)", cfg,
              b->task, n_other, bad_flag, bad_grad, bad_loss ? "changed" : "unchanged", bad_used, first);
}

/* Cross-entropy losses of the three kinds from logits [B, T, V] (double). */
static double loss_from_logits(const float *logits, const vla_train_batch *b, int V) {
    int B = b->in.batch, T = b->target_len, bi, i, j, n_all = 0;
    double total = 0.0, sum_all = 0.0;
    for (bi = 0; bi < B; bi++) {
        double s = 0.0;
        int nb = 0;
        for (i = 0; i < T; i++) {
            const float *lg = logits + ((size_t)bi * T + i) * V;
            int lab = b->labels[bi * T + i];
            double mx = lg[0], z = 0.0;
            if (lab == -100) continue;
            for (j = 1; j < V; j++) if (lg[j] > mx) mx = lg[j];
            for (j = 0; j < V; j++) z += exp((double)lg[j] - mx);
            s += mx + log(z) - lg[lab];
            nb++;
        }
        n_all += nb;
        sum_all += s;
        if (b->loss != VLA_LOSS_TOKEN_MEAN) total += (b->loss == VLA_LOSS_VQA ? b->scores[bi] : 1.0) * (nb ? s / nb : 0.0) / B;
    }
    return b->loss == VLA_LOSS_TOKEN_MEAN ? (n_all ? sum_all / n_all : 0.0) : total;
}

/* The trainer's eval loss against the inference context's teacher-forced
 * logits with the same files: the trainer differentiates what vla_encode /
 * vla_decode_logits compute.  Both run float kernels in different orders:
 * 2e-5 relative. */
static void check_inference(const vla_model *m, blob ad, vla_trainer *t, const vla_train_batch *b, const char *cfg) {
    const vla_hparams *hp = vla_model_hparams(m);
    vla_adapter *a = NULL;
    void *amem = NULL, *cmem = NULL;
    vla_ctx *c = NULL;
    vla_ctx_params cp;
    size_t need = 0;
    float Lt = 0.0f;
    float *logits = NULL;
    int32_t dec[MAXB * MAXT];
    int bi, i, T = b->target_len;
    double Li;
    vla_status st;
    if (ad.p) {
        if ((st = vla_adapter_mem_req(m, ad.p, ad.n, &need)) != VLA_OK) { VC_CHECKF(0, "%s: adapter mem_req %s", cfg, vla_status_str(st)); return; }
        amem = xmalloc(need);
        if ((st = vla_adapter_attach(&a, m, amem, need, ad.p, ad.n, NULL)) != VLA_OK) {
            VC_CHECKF(0, "%s: adapter attach %s", cfg, vla_status_str(st));
            free(amem);
            return;
        }
    }
    memset(&cp, 0, sizeof cp);
    cp.max_batch = MAXB; cp.max_text_len = MAXLT; cp.max_images = 2; cp.max_grid = GRID * GRID; cp.max_dec_len = MAXT; cp.max_beams = 1;
    cp.max_prompt_len = a ? vla_adapter_prompt_len(a) : 0;
    cp.max_adapter_dim = a ? vla_adapter_max_dim(a) : 0;
    cp.exec.n_threads = 1;
    st = vla_ctx_mem_req(m, &cp, &need);
    if (st == VLA_OK) { cmem = xmalloc(need); st = vla_ctx_init(&c, m, &cp, cmem, need); }
    if (st == VLA_OK && a) st = vla_ctx_set_adapter(c, a, b->task);
    if (st == VLA_OK) st = vla_encode(c, &b->in);
    for (bi = 0; bi < b->in.batch; bi++)
        for (i = 0; i < T; i++) {
            int32_t id = i == 0 ? hp->dec_start_id : b->labels[bi * T + i - 1];
            dec[bi * T + i] = id == -100 ? hp->pad_id : id;
        }
    logits = (float *)xmalloc(sizeof(float) * (size_t)b->in.batch * T * hp->vocab);
    if (st == VLA_OK) st = vla_decode_logits(c, dec, T, logits);
    if (st == VLA_OK) st = vla_trainer_loss(t, b, &Lt);
    if (st == VLA_OK) {
        Li = loss_from_logits(logits, b, hp->vocab);
        VC_CHECKF(fabs(Lt - Li) <= 2e-5 * fabs(Li) + 1e-6, "%s / %s: trainer loss %.8g, inference %.8g", cfg, b->task ? b->task : "-", (double)Lt, Li);
    } else VC_CHECKF(0, "%s: inference path %s", cfg, vla_status_str(st));
    free(logits);
    free(cmem);
    if (a) vla_adapter_detach(a);
    free(amem);
}

/* Two trainers in lockstep (two steps, backward + apply): bit-identical
 * losses, gradients, has_grad, update norms and values. */
static int compare_trainers(vla_trainer *x, vla_trainer *y, const char *what, const char *cfg, char *detail, size_t cap) {
    int n = vla_trainer_n_tensors(x), i;
    if (n != vla_trainer_n_tensors(y)) { snprintf(detail, cap, "tensor counts differ"); return 0; }
    for (i = 0; i < n; i++) {
        vla_train_tensor a, b;
        size_t j;
        vla_trainer_tensor(x, i, &a);
        vla_trainer_tensor(y, i, &b);
        if (a.has_grad != b.has_grad || !same_bits(a.grad, b.grad, a.n * 4) || !same_bits(a.value, b.value, a.n * 4)) {
            double md = 0.0;
            for (j = 0; j < a.n; j++) {
                double dd = fabs((double)a.grad[j] - b.grad[j]);
                if (dd > md) md = dd;
            }
            snprintf(detail, cap, "%s: %s: %s differs (max |grad diff| %.3g, values %s)", cfg, what, a.name, md,
                     same_bits(a.value, b.value, a.n * 4) ? "same" : "differ");
            return 0;
        }
    }
    return 1;
}

static void check_lockstep(const vla_model *m, blob ad, const setup *su, const batches *bs, counting_pool **pools, const char *cfg) {
    static const char *what[4] = {"", "recompute=1 != recompute=0", "2-thread pool != 1 thread", "3-thread pool != 1 thread"};
    vla_exec ex1, exs[2];
    vla_train_params p;
    tbox t[4];
    int s, k, ok[4] = {1, 1, 1, 1}, all = 1;
    long calls0[2];
    char detail[4][300];
    memset(&ex1, 0, sizeof ex1);
    ex1.n_threads = 1;
    for (k = 0; k < 2; k++) { exs[k] = counting_exec(pools[k]); calls0[k] = pools[k]->calls; }
    for (k = 0; k < 4; k++) {
        p = tparams(su, 0.1f, k == 1, k < 2 ? &ex1 : &exs[k - 2]);
        t[k] = new_trainer(m, ad, &p);
        all = all && t[k].t;
        detail[k][0] = 0;
    }
    for (s = 0; s < 3 && all; s++) {
        const vla_train_batch *b = &bs->b[s == 0 ? 0 : s == 1 ? 2 : 3];
        float L[4], lr[4], gn[4];
        for (k = 0; k < 4; k++) {
            vla_status st = vla_trainer_backward(t[k].t, b, &L[k]);
            VC_CHECKF(st == VLA_OK, "%s: lockstep backward %d: %s", cfg, k, vla_status_str(st));
        }
        for (k = 1; k < 4; k++) {
            if (ok[k] && !same_bits(&L[0], &L[k], 4)) {
                ok[k] = 0;
                snprintf(detail[k], sizeof detail[k], "%s: step %d loss %.9g vs %.9g", cfg, s, (double)L[0], (double)L[k]);
            }
            if (ok[k]) ok[k] = compare_trainers(t[0].t, t[k].t, s == 0 ? "step 0 grads" : "later step grads", cfg, detail[k], sizeof detail[k]);
        }
        for (k = 0; k < 4; k++) vla_trainer_apply(t[k].t, &lr[k], &gn[k]);
        for (k = 1; k < 4; k++) {
            if (ok[k] && !same_bits(&gn[0], &gn[k], 4)) { ok[k] = 0; snprintf(detail[k], sizeof detail[k], "%s: step %d grad norm differs", cfg, s); }
            if (ok[k]) ok[k] = compare_trainers(t[0].t, t[k].t, "values after apply", cfg, detail[k], sizeof detail[k]);
        }
    }
    for (k = 1; k < 4; k++) VC_CHECKF(ok[k], "%s: %s", what[k], detail[k]);
    for (k = 0; k < 2; k++) VC_CHECKF(pools[k]->calls > calls0[k], "%s: the %d-thread pool never ran split work", cfg, k + 2);
    for (k = 0; k < 4; k++) free_trainer(&t[k]);
}

/* ---- one method on one model ---- */

typedef struct config {
    const char *label;
    setup su;
    int kind;               /* 0: no adapter file, 1: vla_random_adapter, 2: hand-made low-rank Compacter */
    vla_rand_adapter ra;
    int exact_gelu;
    int multi;              /* per-task modules: check the unused tasks */
    const int *fd0[2], *fd1[2]; /* per model: batches checked with dropout 0 / 0.1 (-1 ends) */
    int samples;            /* sampled elements per tensor */
} config;

typedef struct summary { char line[1400]; } summary;
static summary g_sum[64];
static int g_nsum = 0;

static void run_config(int mi, const model_spec *ms, const vla_model *m, const config *c, const batches *bs, counting_pool **pools) {
    static char names[64][160]; /* vla_check keeps the section name until the next section */
    char *cfg = names[g_nsum];
    blob ad = {NULL, 0};
    vla_exec ex1;
    vla_train_params p0, p1;
    tbox t0, t1;
    fdstat fs;
    int i;
    double t_start = now_s();
    snprintf(cfg, sizeof names[0], "%s [%s]", c->label, ms->name);
    if (g_only && !strstr(cfg, g_only)) return;
    vc_section(cfg);
    g_rng = 1469598103934665603ull; /* each configuration draws the same numbers with or without --only */
    for (i = 0; cfg[i]; i++) g_rng = (g_rng ^ (unsigned char)cfg[i]) * 1099511628211ull;
    memset(&fs, 0, sizeof fs);
    memset(&ex1, 0, sizeof ex1);
    ex1.n_threads = 1;
    if (c->kind == 1) {
        vla_rand_adapter ra = c->ra;
        ra.d_model = ms->r.d_model; ra.enc_layers = ms->r.enc_layers; ra.dec_layers = ms->r.dec_layers;
        ad = make_adapter(m, ra, c->exact_gelu);
    } else if (c->kind == 2) ad = make_compacter_lowrank(m, c->ra.hidden, c->ra.phm_k, 2);
    if (c->kind && !VC_CHECKF(ad.p != NULL, "%s: adapter file", cfg)) return;
    p0 = tparams(&c->su, 0.0f, 0, &ex1);
    p1 = tparams(&c->su, 0.1f, 0, &ex1);
    t0 = new_trainer(m, ad, &p0);
    t1 = new_trainer(m, ad, &p1);
    if (!t0.t || !t1.t) { free_trainer(&t0); free_trainer(&t1); free(ad.p); return; }

    /* the forward the trainer differentiates is the inference forward; with
     * dropout 0 the eval loss is the training loss, bit for bit */
    for (i = 0; i < 4; i++) {
        float La = 0.0f, Lb = 0.0f;
        check_inference(m, ad, t0.t, &bs->b[i], cfg);
        vla_trainer_loss(t0.t, &bs->b[i], &La);
        vla_trainer_backward(t0.t, &bs->b[i], &Lb);
        VC_CHECKF(same_bits(&La, &Lb, 4), "%s / %s: eval loss %.9g != dropout-0 backward loss %.9g", cfg, bs->label[i], (double)La, (double)Lb);
    }
    /* finite differences */
    for (i = 0; c->fd0[mi][i] >= 0; i++) fd_check(t0.t, &bs->b[c->fd0[mi][i]], cfg, bs->label[c->fd0[mi][i]], 0.0f, c->samples, &fs);
    for (i = 0; c->fd1[mi][i] >= 0; i++) fd_check(t1.t, &bs->b[c->fd1[mi][i]], cfg, bs->label[c->fd1[mi][i]], 0.1f, c->samples, &fs);
    /* unused modules and the visual embedding without images */
    if (c->multi) check_unused(t1.t, &bs->b[0], cfg);
    check_unused(t1.t, &bs->b[4], cfg);
    free_trainer(&t0);
    free_trainer(&t1);
    /* recompute and threads */
    check_lockstep(m, ad, &c->su, bs, pools, cfg);
    snprintf(g_sum[g_nsum].line, sizeof g_sum[g_nsum].line,
             "%-34s worst FD ratio %.3f  worst rel %.2e  (%d tensor checks, %ld backward calls, %.1f s)\n%38s ratio: %s\n%38s rel:   %s",
             cfg, fs.worst_ratio, fs.worst_rel, fs.n_tensors, fs.n_eval, now_s() - t_start, "", fs.worst_name, "", fs.worst_rel_name);
    printf("%s\n", g_sum[g_nsum].line);
    if (g_nsum < 63) g_nsum++;
    free(ad.p);
}

static vla_rand_adapter ra_of(const char *method, int shared, int hidden) {
    vla_rand_adapter r;
    memset(&r, 0, sizeof r);
    r.method = method;
    r.n_tasks = 4;
    r.shared = shared;
    r.hidden = hidden;
    r.phm_k = 2;
    r.lora_alpha = (float)hidden + 1.0f; /* LoRA scale alpha / r = 1 + 1 / r: a forgotten scale shows */
    r.prompt_len = 3;
    r.prompt_mid = 7;
    r.task_emb = 6;
    r.task_hidden = 5;
    r.task_proj = 4;
    r.seed = 99;
    return r;
}

/* ---- train_clip: the CLIP trunk trains with the rest ----
 *
 * A random BART (d 16) with a random ModifiedResNet of width 4 (one
 * bottleneck per stage) at 96 x 96: a 3 x 3 x 128 grid, max-pooled to 2 x 2
 * (overlapping windows), two pictures per example.  Checked:
 *   - the trainer's trunk forward: the loss of a batch of pictures with
 *     train_clip equals the loss of the same batch given the grid features
 *     vla_clip_run computes (the inference trunk);
 *   - every trunk tensor's gradient (and every other's) against central
 *     finite differences, dropout 0 and 0.1;
 *   - training moves the trunk: after a few steps the saved model's trunk
 *     (vla_clip_run on the reloaded file) gives the features on which a
 *     fresh trainer reproduces the trained trainer's loss. */
static blob make_clip_base(void) {
    vla_conv cv;
    vla_rand_bart r;
    vla_rand_clip rc;
    memset(&r, 0, sizeof r);
    r.d_model = 16; r.enc_layers = 1; r.dec_layers = 1; r.heads = 4; r.ffn = 24; r.vocab = 40; r.max_pos = 16;
    r.feat_dim = 128; r.n_boxes = 4; r.seed = 77;
    memset(&rc, 0, sizeof rc);
    rc.layers[0] = rc.layers[1] = rc.layers[2] = rc.layers[3] = 1;
    rc.width = 4; rc.image_size = 96; rc.seed = 78;
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_conv_random_bart(&cv, &r) != 0 || vla_random_clip(&cv, &rc) != 0) {
        blob none = {NULL, 0};
        printf("random clip model: %s\n", cv.err);
        vla_conv_free(&cv);
        return none;
    }
    widen(&cv, 0.3);
    cv.fingerprint = vla_conv_fingerprint(&cv);
    return conv_out(&cv);
}

/* The trunk's grid of every picture, from the inference path. */
static int clip_feats(const vla_model *m, const float *pics, int n, float *out) {
    const vla_hparams *hp = vla_model_hparams(m);
    vla_ctx_params p;
    vla_ctx *c = NULL;
    size_t need, S = (size_t)hp->clip_image_size;
    void *cm;
    int i, h, w, ch, ok = 1;
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = 2; p.max_images = 1; p.max_dec_len = 2; p.max_beams = 1; p.use_clip = 1; p.exec.n_threads = 1;
    if (vla_ctx_mem_req(m, &p, &need) != VLA_OK) return 0;
    cm = xmalloc(need);
    if (vla_ctx_init(&c, m, &p, cm, need) != VLA_OK) { free(cm); return 0; }
    for (i = 0; i < n && ok; i++)
        ok = vla_clip_run(c, pics + (size_t)i * S * S * 3, 4, out + (size_t)i * 9 * hp->clip_out_ch, &h, &w, &ch) == VLA_OK && h == 3 && ch == 128;
    free(cm);
    return ok;
}

typedef struct ctrainer { vla_trainer *t; void *mem; } ctrainer;

static int ctrainer_make(ctrainer *ct, const vla_model *m, int train_clip, float dropout, const vla_exec *ex, float clip_lr_scale) {
    vla_train_params p = vla_train_defaults("full");
    size_t need;
    p.max_batch = MAXB; p.max_text_len = 6; p.max_images = 2; p.max_grid = 9; p.max_target_len = 4;
    p.total_steps = 100; p.warmup_steps = 0; p.lr = 1e-2; p.dropout = dropout; p.train_clip = train_clip; p.clip_lr_scale = clip_lr_scale;
    if (ex) p.exec = *ex;
    ct->t = NULL; ct->mem = NULL;
    if (vla_trainer_mem_req(m, NULL, 0, &p, &need) != VLA_OK) return 0;
    ct->mem = xmalloc(need);
    return vla_trainer_init(&ct->t, m, NULL, 0, &p, ct->mem, need) == VLA_OK;
}

static double g_calib[3][8][3];
static vla_train_batch g_cal_batch;
/* y [Ho, Ho, cout] = conv(x [H, H, cin]) + b in double, weights [cout, k, k, cin]
 * (the test's own convolution for vla_trainer_calibrate_clip's check). */
static void naive_conv(double *y, const double *x, int H, int cin, const float *w, const float *b, int cout, int k, int stride) {
    int pad = k / 2, Ho = (H + 2 * pad - k) / stride + 1, oy, ox, o, ky, kx, ci;
    for (oy = 0; oy < Ho; oy++)
        for (ox = 0; ox < Ho; ox++)
            for (o = 0; o < cout; o++) {
                double acc = b[o];
                for (ky = 0; ky < k; ky++)
                    for (kx = 0; kx < k; kx++) {
                        int iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                        if (iy < 0 || ix < 0 || iy >= H || ix >= H) continue;
                        for (ci = 0; ci < cin; ci++)
                            acc += (double)w[((size_t)(o * k + ky) * k + kx) * cin + ci] * x[((size_t)iy * H + ix) * cin + ci];
                    }
                y[((size_t)oy * Ho + ox) * cout + o] = acc;
            }
}

static const float *ttensor(vla_trainer *t, const char *name) {
    int k;
    for (k = 0; k < vla_trainer_n_tensors(t); k++) {
        vla_train_tensor tt;
        vla_trainer_tensor(t, k, &tt);
        if (!strcmp(tt.name, name)) return tt.value;
    }
    return NULL;
}

/* vla_trainer_calibrate_clip: the stem's three convolutions, recomputed here
 * from the calibrated values, have mean 0, variance 1 and a third central
 * moment >= 0 per channel over the pictures' pixels before their ReLU; the
 * call is refused after a step and without train_clip. */
static void test_clip_calibrate(const vla_model *m, const float *pics, int np, int S) {
    ctrainer ct, cf;
    const char *names[3][2] = {{"visual.conv1.weight", "visual.conv1.bias"}, {"visual.conv2.weight", "visual.conv2.bias"},
                               {"visual.conv3.weight", "visual.conv3.bias"}};
    int ch[4] = {3, 2, 2, 4}, H = S / 2, i, j, c, st, n_neg = 0;
    double worst = 0, *x = NULL, *y = NULL;
    size_t npx = (size_t)H * H;
    VC_CHECK(ctrainer_make(&ct, m, 1, 0.0f, NULL, 0.0f));
    VC_CHECK(vla_trainer_calibrate_clip(ct.t, pics, np) == VLA_OK);
    for (i = 0; i < np; i++) {
        const double *in;
        int Hin = S;
        x = (double *)xmalloc(sizeof(double) * (size_t)S * S * 3);
        for (j = 0; j < S * S * 3; j++) x[j] = pics[(size_t)i * S * S * 3 + j];
        in = x;
        for (st = 0; st < 3; st++) {
            const float *w = ttensor(ct.t, names[st][0]), *b = ttensor(ct.t, names[st][1]);
            if (!VC_CHECK(w && b)) break;
            y = (double *)xmalloc(sizeof(double) * npx * (size_t)ch[st + 1]);
            naive_conv(y, in, Hin, ch[st], w, b, ch[st + 1], 3, st == 0 ? 2 : 1);
            free(x);
            x = y;
            in = y;
            Hin = H;
            /* per-picture sums into the statistics of layer st, then ReLU */
            for (c = 0; c < ch[st + 1]; c++) {
                double s1 = 0, s2 = 0, s3 = 0;
                for (j = 0; j < (int)npx; j++) { double v = y[(size_t)j * ch[st + 1] + c]; s1 += v; s2 += v * v; s3 += v * v * v; }
                g_calib[st][c][0] += s1; g_calib[st][c][1] += s2; g_calib[st][c][2] += s3;
            }
            for (j = 0; j < (int)(npx * ch[st + 1]); j++) if (y[j] < 0) y[j] = 0;
        }
        free(x);
    }
    for (st = 0; st < 3; st++)
        for (c = 0; c < ch[st + 1]; c++) {
            double n = (double)np * npx, mean = g_calib[st][c][0] / n, var = g_calib[st][c][1] / n - mean * mean;
            double m3 = g_calib[st][c][2] / n - 3 * mean * (g_calib[st][c][1] / n) + 2 * mean * mean * mean;
            if (fabs(mean) > worst) worst = fabs(mean);
            if (fabs(var - 1) > worst) worst = fabs(var - 1);
            if (m3 < -1e-6) n_neg++;
        }
    VC_CHECKF(worst < 1e-4, "calibrated stem: worst |mean| or |var - 1| %.3g", worst);
    VC_CHECKF(n_neg == 0, "calibrated stem: %d channel(s) with a negative third moment", n_neg);
    VC_CHECK(vla_trainer_step(ct.t, &g_cal_batch, NULL, NULL) == VLA_OK);
    VC_CHECK(vla_trainer_calibrate_clip(ct.t, pics, np) == VLA_ERR_ARGS); /* after a step */
    VC_CHECK(ctrainer_make(&cf, m, 0, 0.0f, NULL, 0.0f) && vla_trainer_calibrate_clip(cf.t, pics, np) == VLA_ERR_ARGS);
    free(ct.mem); free(cf.mem);
}

static void test_clip_train(counting_pool **pools) {
    static const int32_t ids[] = {0, 5, 9, 13, 21, 2, 0, 7, 30, 2, 1, 1};
    static const int32_t lab[] = {11, 17, 2, -100, 23, 2, -100, -100};
    blob bf = make_clip_base();
    void *mm = NULL;
    vla_model *m = load_model(bf, &mm);
    const size_t S = 96, np = MAXB * 2;
    float *pics, *feats, *feats2, L_img = 0, L_feat = 0, L_tr = 0, L_fresh = 0, L_first = 0;
    vla_train_batch b;
    ctrainer ct, cf;
    fdstat fs;
    size_t i;
    int k, n_clip = 0, moved = 0;
    vla_exec exa = counting_exec(pools[0]);
    vc_section("train_clip: the CLIP trunk trains");
    g_rng = 4242; /* the same pictures whatever ran before (ASan builds draw fewer samples) */
    if (!VC_CHECK(m != NULL)) { free(mm); free(bf.p); return; }
    pics = fvec(np * S * S * 3, -1.8, 2.1); /* CLIP-normalised values */
    feats = (float *)xmalloc(np * 9 * 128 * 4);
    feats2 = (float *)xmalloc(np * 9 * 128 * 4);
    memset(&b, 0, sizeof b);
    b.loss = VLA_LOSS_EXAMPLE_MEAN;
    b.in.batch = MAXB; b.in.text_len = 6; b.in.ids = ids; b.in.n_images = 2; b.in.images = pics;
    b.target_len = 4; b.labels = lab;
    /* the forward: pictures through the trainer's trunk = features from vla_clip_run */
    VC_CHECK(clip_feats(m, pics, (int)np, feats));
    VC_CHECK(ctrainer_make(&ct, m, 1, 0.0f, NULL, 0.0f) && vla_trainer_loss(ct.t, &b, &L_img) == VLA_OK);
    VC_CHECK(ctrainer_make(&cf, m, 0, 0.0f, NULL, 0.0f));
    {
        vla_train_batch bf2 = b;
        bf2.in.images = NULL; bf2.in.feats = feats; bf2.in.grid_h = bf2.in.grid_w = 3;
        VC_CHECK(vla_trainer_loss(cf.t, &bf2, &L_feat) == VLA_OK);
        /* a batch of features is refused by a train_clip trainer, pictures by the other */
        VC_CHECK(vla_trainer_loss(ct.t, &bf2, &L_tr) == VLA_ERR_ARGS && vla_trainer_loss(cf.t, &b, &L_tr) == VLA_ERR_ARGS);
    }
    VC_CHECKF(fabsf(L_img - L_feat) <= 1e-5f * fabsf(L_feat), "loss from pictures %.8g, from vla_clip_run's features %.8g", (double)L_img, (double)L_feat);
    g_cal_batch = b;
    test_clip_calibrate(m, pics, (int)np, (int)S);
    for (k = 0; k < vla_trainer_n_tensors(ct.t); k++) {
        vla_train_tensor tt;
        vla_trainer_tensor(ct.t, k, &tt);
        n_clip += !strncmp(tt.name, "visual.", 7);
    }
    VC_CHECKF(n_clip == 2 * (3 + 4 * 3 + 4), "%d trunk tensors train (stem 3, 4 blocks of 3 + 4 downsamples, weight + bias)", n_clip);
    free(cf.mem);
    /* gradients: finite differences through the whole model, trunk included.
     * The trunk is piecewise linear (ReLUs): a step of 1e-2 along a whole
     * bias moves some pre-activations across zero (measured: 9 % off along
     * one direction; 0.3 h still crossed kinks for some pictures), so the
     * step here is 0.1 h (noise eps_L / h ~ 1e-3 on the loss difference, the
     * tolerance's FD_ATOL term covers it); measured worst error / tolerance
     * about 0.7. */
    double h_keep = FD_H;
    FD_H = 0.1 * h_keep;
    memset(&fs, 0, sizeof fs);
    fd_check(ct.t, &b, "train_clip", "two pictures", 0.0f, 3, &fs);
    free(ct.mem);
    VC_CHECK(ctrainer_make(&ct, m, 1, 0.1f, &exa, 0.0f));
    fd_check(ct.t, &b, "train_clip", "two pictures", 0.1f, 3, &fs);
    printf("  train_clip: worst FD error / tolerance %.3f (%s), %d tensors\n", fs.worst_ratio, fs.worst_name, fs.n_tensors);
    FD_H = h_keep;
    free(ct.mem);
    /* training moves the trunk; the saved model's trunk is the trained one */
    VC_CHECK(ctrainer_make(&ct, m, 1, 0.0f, &exa, 0.0f));
    for (k = 0; k < 8; k++) {
        float L = 0, lr = 0;
        VC_CHECK(vla_trainer_step(ct.t, &b, &L, &lr) == VLA_OK);
        if (k == 0) L_first = L;
    }
    VC_CHECK(vla_trainer_loss(ct.t, &b, &L_tr) == VLA_OK);
    VC_CHECKF(L_tr < 0.9f * L_first, "8 steps on one batch: loss %.5g -> %.5g", (double)L_first, (double)L_tr);
    {
        membuf out = {0};
        void *m2mem = NULL;
        vla_model *m2;
        VC_CHECK(vla_trainer_save(ct.t, mem_write, &out) == VLA_OK);
        { blob b2; b2.p = out.p; b2.n = out.n; m2 = load_model(b2, &m2mem); }
        VC_CHECK(m2 != NULL);
        if (m2) {
            vla_train_batch bf2 = b;
            VC_CHECK(clip_feats(m2, pics, (int)np, feats2));
            for (i = 0; i < np * 9 * 128; i++) moved += feats2[i] != feats[i];
            VC_CHECKF(moved > (int)(np * 9 * 128) / 4, "%d of %d grid values changed by training", moved, (int)(np * 9 * 128));
            bf2.in.images = NULL; bf2.in.feats = feats2; bf2.in.grid_h = bf2.in.grid_w = 3;
            VC_CHECK(ctrainer_make(&cf, m2, 0, 0.0f, NULL, 0.0f) && vla_trainer_loss(cf.t, &bf2, &L_fresh) == VLA_OK);
            VC_CHECKF(fabsf(L_fresh - L_tr) <= 1e-5f * fabsf(L_tr), "trained trainer's loss %.8g, the saved model's %.8g", (double)L_tr, (double)L_fresh);
            free(cf.mem);
        }
        free(m2mem);
        free(out.p);
    }
    free(ct.mem);
    /* clip_lr_scale: after one AdamW step the trunk moved by exactly that
     * fraction of the unscaled step (the step size is scaled before it
     * multiplies m / (sqrt(v) + eps); only the rounding of w + step differs),
     * and every other tensor moved exactly as without it */
    {
        ctrainer c1, cq;
        int n_cmp = 0, n_same = 0, n_other = 0, nt;
        double worst = 0;
        float **w0;
        VC_CHECK(ctrainer_make(&c1, m, 1, 0.0f, NULL, 0.0f) && ctrainer_make(&cq, m, 1, 0.0f, NULL, 0.25f));
        nt = vla_trainer_n_tensors(c1.t);
        w0 = (float **)xmalloc(sizeof(float *) * (size_t)nt);
        for (k = 0; k < nt; k++) { /* the values before the step */
            vla_train_tensor t1;
            vla_trainer_tensor(c1.t, k, &t1);
            w0[k] = (float *)xmalloc(t1.n * sizeof(float));
            memcpy(w0[k], t1.value, t1.n * sizeof(float));
        }
        VC_CHECK(vla_trainer_step(c1.t, &b, NULL, NULL) == VLA_OK && vla_trainer_step(cq.t, &b, NULL, NULL) == VLA_OK);
        for (k = 0; k < nt; k++) {
            vla_train_tensor t1, tq;
            vla_trainer_tensor(c1.t, k, &t1);
            vla_trainer_tensor(cq.t, k, &tq);
            if (strncmp(t1.name, "visual.", 7)) { n_other++; n_same += same_bits(t1.value, tq.value, t1.n * sizeof(float)); }
            else
                for (i = 0; i < t1.n; i++) {
                    double d1 = (double)t1.value[i] - w0[k][i], dq = (double)tq.value[i] - w0[k][i];
                    /* w + step rounds to half an ulp of w (6e-8 |w|): compare the
                     * values whose scaled step is well above that */
                    if (fabs(0.25 * d1) > 1e-5 * fabs(w0[k][i]) && fabs(d1) > 1e-30) {
                        double err = fabs(dq - 0.25 * d1) / fabs(0.25 * d1);
                        n_cmp++;
                        if (err > worst) worst = err;
                    }
                }
            free(w0[k]);
        }
        free(w0);
        VC_CHECKF(n_cmp > 1000 && worst < 1e-2, "clip_lr_scale 0.25: %d trunk values moved, worst relative error %.3g", n_cmp, worst);
        VC_CHECKF(n_other > 0 && n_same == n_other, "clip_lr_scale: %d of %d other tensors identical", n_same, n_other);
        free(c1.mem); free(cq.mem);
    }
    free(pics); free(feats); free(feats2); free(mm); free(bf.p);
}

int main(int argc, char **argv) {
    /* d 12 with 3 heads (dh 4), 1 encoder + 2 decoder layers; d 16 with 4
     * heads, 2 + 1 layers; vocab 40, 10-channel features, 3x3 grid pooled to
     * 2x2 = 4 boxes, 2 image-order rows (NLVR2) */
    static const model_spec models[2] = {
        {"d12 h3 1+2", {12, 1, 2, 3, 20, 40, 16, 10, 4, 5}},
        {"d16 h4 2+1", {16, 2, 1, 4, 24, 40, 16, 10, 4, 6}},
    };
    /* Which batches each model's finite differences use, so that every method
     * sees every loss kind with dropout 0 and with dropout 0.1:
     *   model 0: dropout 0   VQA loss (vqa), token mean (caption)
     *            dropout 0.1 example mean with two images (nlvr)
     *   model 1: dropout 0   example mean without boxes (gqa)
     *            dropout 0.1 VQA loss (vqa), token mean (caption)
     * (the ASan build leaves out model 0's token-mean run, for time) */
    static const int m0_d0[] = {0, UNDER_ASAN ? -1 : 3, -1}, m0_d1[] = {2, -1}, m1_d0[] = {1, -1}, m1_d1[] = {0, 3, -1};
    static counting_pool cp2, cp3;
    counting_pool *pools[2];
    int mi, ci;
    double t0 = now_s();
    config cs[16];
    int ncs = 0;
    vc_init(argc, argv);
    for (mi = 1; mi < argc; mi++) {
        if (!strncmp(argv[mi], "--fd-h=", 7)) FD_H = atof(argv[mi] + 7);
        if (!strncmp(argv[mi], "--only=", 7)) g_only = argv[mi] + 7;
    }
    printf("simd: %s%s\n", vla_simd_name(), UNDER_ASAN ? " (ASan)" : "");
    if (vla_threadpool_init(&cp2.pool, 2) != 0 || vla_threadpool_init(&cp3.pool, 3) != 0) { printf("thread pool failed\n"); return 1; }
    pools[0] = &cp2;
    pools[1] = &cp3;

    if (!g_only) test_kernels(pools);
    if (!g_only || strstr("train_clip", g_only)) test_clip_train(pools);

#define CFG(lbl, defaults_, ln_, bias_, full_, vis_, kind_, ra_, gelu_, multi_, samples_) do { \
        config *c_ = &cs[ncs++]; memset(c_, 0, sizeof *c_); c_->label = lbl; c_->su.defaults = defaults_; c_->su.ln = ln_; \
        c_->su.bias = bias_; c_->su.full = full_; c_->su.visual = vis_; c_->kind = kind_; c_->ra = ra_; c_->exact_gelu = gelu_; \
        c_->multi = multi_; c_->fd0[0] = m0_d0; c_->fd1[0] = m0_d1; c_->fd0[1] = m1_d0; c_->fd1[1] = m1_d1; \
        c_->samples = samples_ - UNDER_ASAN; } while (0) /* ASan build: one sampled element fewer per tensor (time) */
    CFG("adapter multiple", "adapter", -1, -1, -1, -1, 1, ra_of("adapter", 0, 5), 0, 1, 3);
    CFG("adapter single, exact gelu", "adapter", -1, -1, -1, -1, 1, ra_of("adapter", 1, 3), 1, 0, 3);
    CFG("compacter multiple", "compacter", -1, -1, -1, -1, 1, ra_of("compacter", 0, 4), 0, 1, 3);
    CFG("compacter single", "compacter", -1, -1, -1, -1, 1, ra_of("compacter", 1, 6), 0, 0, 3);
    CFG("compacter low-rank + shared rules", "compacter", -1, -1, -1, -1, 2, ra_of("compacter", 0, 4), 0, 1, 3);
    CFG("hyperformer", "hyperformer", -1, -1, -1, -1, 1, ra_of("hyperformer", 0, 4), 0, 1, 3);
    CFG("lora multiple", "lora", -1, -1, -1, -1, 1, ra_of("lora", 0, 3), 0, 1, 3);
    CFG("lora single", "lora", -1, -1, -1, -1, 1, ra_of("lora", 1, 2), 0, 0, 3);
    CFG("prompt multiple", "prompt", -1, -1, -1, -1, 1, ra_of("prompt", 0, 1), 0, 1, 3);
    CFG("prompt single", "prompt", -1, -1, -1, -1, 1, ra_of("prompt", 1, 1), 0, 0, 3);
    CFG("full fine-tuning", "full", -1, -1, -1, -1, 0, ra_of("adapter", 0, 1), 0, 0, 3);
    CFG("layernorms + biases + visual", "none", 1, 1, 0, 1, 0, ra_of("adapter", 0, 1), 0, 0, 3);
#undef CFG

    for (mi = 0; mi < 2; mi++) {
        blob bf = make_base(&models[mi].r);
        void *mm = NULL;
        vla_model *m = load_model(bf, &mm);
        batches bs;
        vc_section(models[mi].name);
        if (!VC_CHECKF(m != NULL, "model %s", models[mi].name)) { free(mm); free(bf.p); continue; }
        g_rng = 1000 + (uint64_t)mi;
        make_batches(&bs, models[mi].r.feat_dim);
        for (ci = 0; ci < ncs; ci++) run_config(mi, &models[mi], m, &cs[ci], &bs, pools);
        free_batches(&bs);
        free(mm);
        free(bf.p);
    }
    vla_threadpool_destroy(&cp2.pool);
    vla_threadpool_destroy(&cp3.pool);
    printf("model level, worst FD error / tolerance per method (tolerance: %.0e ||g|| + %.0e sqrt(samples)):\n", FD_RTOL, FD_ATOL);
    for (ci = 0; ci < g_nsum; ci++) printf("  %s\n", g_sum[ci].line);
    printf("total %.1f s\n", now_s() - t0);
    vc_selftest();
    return vc_summary(); /* closing line "vla_check: N passed, M failed" */
}
