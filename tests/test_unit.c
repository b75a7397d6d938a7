/* test_unit.c - the unit test that runs on every target of the cross matrix.
 *
 * One program for the build machine, qemu-user (Pi 4/5, armhf, RISC-V Linux)
 * and bare metal (Cortex-M4/M7/M55, RISC-V) under qemu-system: no heap, no
 * files, all memory in one arena in .bss, output through printf.
 * Build and run it with `make test TARGET=<t>`; `make test-cross` runs the
 * whole matrix (tests/cross.mk).
 *
 * Output: the first line is "simd=<vla_simd_name()>", the last line is
 * "vla_check: N passed, M failed"; the exit status is 0 only when every
 * check passed.  Arguments: --fail (add one deliberately failing check),
 * -v (print each section).
 *
 * Every fast kernel is compared with its scalar reference (the _ref
 * function, or the plain loop that defines it) with a tolerance derived from
 * the sum of |terms|, so a wrong sign, a lost tail element or a bad lane
 * shows up on the target whose SIMD path has it.  Buffers are placed at
 * 64-byte boundaries plus an offset of 0..3 floats (SIMD loads must cope with
 * unaligned data) and followed by a guard zone whose canary is checked after
 * every call (and which is poisoned under AddressSanitizer).
 *
 * Sections (search for "SECTION:"):
 *   simd        the SIMD primitives of [I5] (dot, axpy) for n = 0..257
 *   fp16        exhaustive fp16 -> fp32 -> fp16, rounding corner cases
 *   q8_0        quantize rule, dequantized error, exact grids
 *   linear      F32/F16/Q8_0 weights, many shapes, threaded split, ref mode
 *   i8          I8 weights: the integer kernel (1..4 tasks), the reference
 *               and I8 convolutions equal the definition bit for bit
 *   conv2d      k = 1..7, stride, padding, exact scratch from the size query
 *   attention   heads, padding in ld*, key mask, causal with offset
 *   layernorm, softmax, activations, pools, embedding, bn_fold
 *   arena       alignment, measuring, out-of-memory
 *   gguf        write -> read round trip in memory, truncated/corrupt files
 *   flash_model the tiny CLIP-BART of tests/board/tiny_model.h and its
 *               adapter, two GGUF files linked in as const arrays
 *               (tools/vla-embed) and opened in place: model, adapter slot
 *               and context get exactly their size queries; a synthetic
 *               picture goes through vla_clip_preprocess, the CLIP trunk, the
 *               encoder, greedy and beam search with and without the
 *               adapter; ids must equal the build machine's exactly, grid
 *               features, encoder output and logits within VT_TINY_TOL; with
 *               the fast kernels, the reference kernels and 2 tasks; then
 *               the same request through the task-level vla_answer (the
 *               file's tokenizer, 8-bit pixels, a context sized by
 *               vla_task_ctx_params) must give the same ids
 *   flash_train two vla_trainer_step calls on that adapter (widened to F32
 *               in RAM) with the frozen base in flash, dropout on, in
 *               exactly the trainer's size query (whose peak must equal it);
 *               every trained value's update within VT_TRAIN_TOL of the
 *               learning rate of the build machine's, per-tensor gradient
 *               norms, losses and learning rates; the fast kernels, the
 *               reference kernels, and recompute = 1 (bit for bit the same
 *               as recompute = 0 on the target)
 *
 * Configuration (-D...):
 *   VLA_TEST_ARENA_BYTES  size of the .bss arena (default 4 MiB, fits the
 *                         16 MiB PSRAM of an MPS2 Cortex-M4 board; the
 *                         flash model's context with CLIP takes 1.9 MiB,
 *                         the training section 2.0 MiB: two trainers)
 *   VLA_TEST_WORK         1 = sized for emulated bare metal (about a second
 *                         under QEMU); N > 1 adds N*16 random linear shapes
 *                         and N*4 random attention shapes
 *   VLA_TEST_TARGET       name printed in the header line
 *   VLA_TEST_NO_FLASH_MODEL  build without the generated model source
 *   VLA_BOARD_FLASH_BASE/_SIZE  where the board's flash is (bare metal); the
 *                         flash model check then also proves the weights
 *                         were linked there
 *   VLA_SELFTEST_FAIL     one check fails on purpose (see vla_check.h)
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board/vla_board.h"
#include "board/vla_check.h"
#include "board/tiny_model.h"

#ifndef VLA_TEST_ARENA_BYTES
#define VLA_TEST_ARENA_BYTES (4u << 20)
#endif
#ifndef VLA_TEST_WORK
#define VLA_TEST_WORK 1
#endif
#ifndef VLA_TEST_TARGET
#define VLA_TEST_TARGET "unknown"
#endif

#if defined(__SANITIZE_ADDRESS__)
#define VT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VT_ASAN 1
#endif
#endif
#if defined(VT_ASAN)
#include <sanitizer/asan_interface.h>
#define VT_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define VT_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define VT_POISON(p, n) ((void)(p), (void)(n))
#define VT_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* ==========================================================================
 * Test infrastructure: arena-backed buffers with guards, random numbers,
 * execution settings.
 * ========================================================================== */

static unsigned char vt_arena_mem[VLA_TEST_ARENA_BYTES] __attribute__((aligned(64)));
static vla_arena vt_arena;

#define VT_GUARD_BYTES 64
#define VT_CANARY 0xA5
#define VT_MAX_BLOCKS 96

typedef struct vt_block {
    unsigned char *p;
    size_t n;
} vt_block;
static vt_block vt_blocks[VT_MAX_BLOCKS];
static int vt_nblocks;

typedef struct vt_mark {
    size_t arena;
    int blocks;
} vt_mark;

static vt_mark vt_begin(void) {
    vt_mark m;
    m.arena = vla_arena_scratch_mark(&vt_arena);
    m.blocks = vt_nblocks;
    return m;
}

static void vt_end(vt_mark m) {
    /* Give the released bytes back unpoisoned: the library's own scratch
     * allocations reuse them later. */
    VT_UNPOISON(vt_arena.base + vt_arena.hi, m.arena - vt_arena.hi);
    vla_arena_scratch_release(&vt_arena, m.arena);
    vt_nblocks = m.blocks;
}

/* n bytes that start `off` bytes after a 64-byte boundary, filled with 0xff
 * (NaN as floats, so an output element that is never written fails its
 * comparison), followed by a canary guard. */
static void *vt_alloc(size_t n, size_t off) {
    unsigned char *base = (unsigned char *)vla_arena_scratch(&vt_arena, n + off + VT_GUARD_BYTES);
    unsigned char *p;
    if (!base || vt_nblocks == VT_MAX_BLOCKS) {
        printf("FATAL: test arena exhausted (%lu bytes asked); raise VLA_TEST_ARENA_BYTES\n", (unsigned long)n);
        exit(3);
    }
    p = base + off;
    memset(p, 0xff, n);
    memset(p + n, VT_CANARY, VT_GUARD_BYTES);
    VT_POISON(p + n, VT_GUARD_BYTES);
    vt_blocks[vt_nblocks].p = p;
    vt_blocks[vt_nblocks].n = n;
    vt_nblocks++;
    return p;
}

static float *vt_floats(size_t n, int off) { return (float *)vt_alloc(n * sizeof(float), (size_t)off * sizeof(float)); }

/* 1 if no live buffer's guard was written to.  Under ASan the guards are
 * poisoned instead, and an overrun stops the program right there. */
static int vt_guards_ok(void) {
#if defined(VT_ASAN)
    return 1;
#else
    int b;
    size_t i;
    for (b = 0; b < vt_nblocks; b++)
        for (i = 0; i < VT_GUARD_BYTES; i++)
            if (vt_blocks[b].p[vt_blocks[b].n + i] != VT_CANARY) return 0;
    return 1;
#endif
}

#define VT_CHECK_GUARDS(...) VC_CHECKF(vt_guards_ok(), __VA_ARGS__)

/* A sub-arena of exactly `bytes` (a multiple of 64) carved from the test
 * arena, for calls that take scratch or persistent memory. */
static void vt_sub_arena(vla_arena *sub, size_t bytes) {
    vla_arena_init(sub, vt_alloc(bytes ? bytes : 64, 0), bytes);
}

static uint32_t vt_rng = 0x12345678u;
static float vt_rand(void) { /* uniform in [-1, 1) */
    vt_rng = vt_rng * 1664525u + 1013904223u;
    return (float)(vt_rng >> 8) * (2.0f / 16777216.0f) - 1.0f;
}
static int vt_randint(int lo, int hi) { /* [lo, hi] */
    vt_rng = vt_rng * 1664525u + 1013904223u;
    return lo + (int)((vt_rng >> 8) % (uint32_t)(hi - lo + 1));
}
static void vt_fill(float *p, size_t n, float scale) {
    size_t i;
    for (i = 0; i < n; i++) p[i] = vt_rand() * scale;
}

/* The parallel-for used by the threaded checks: runs tasks in reverse order
 * on this thread, which is enough to catch tasks that depend on order or
 * overlap in what they write. */
static void vt_reverse_parallel(void *user, vla_task_fn task, void *arg, int n) {
    int i;
    (void)user;
    for (i = n - 1; i >= 0; i--) task(arg, i);
}

static vla_exec vt_exec(int n_threads, int force_reference) {
    vla_exec ex;
    memset(&ex, 0, sizeof ex);
    ex.parallel = n_threads > 1 ? vt_reverse_parallel : NULL;
    ex.n_threads = n_threads;
    ex.force_reference = force_reference;
    return ex;
}

static double vt_fabs(double x) { return x < 0 ? -x : x; }

/* Rounding budget of a sum of k products whose absolute values add up to
 * sabs: two differently ordered float sums differ by at most about
 * 2 k eps sabs; we allow a little more for the scalar tails. */
static double vt_sum_tol(int k, double sabs) { return 2.5e-7 * (double)(k + 4) * sabs + 1e-30; }

/* ==========================================================================
 * SECTION: simd - the primitives behind the fast kernels
 * ========================================================================== */

static void test_simd(void) {
    static const int ns[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 15, 16, 17, 23, 31, 32, 33, 47, 63, 64, 65, 100, 129, 256, 257};
    int ni, off;
    vc_section("simd");
    for (off = 0; off < 4; off++) {
        for (ni = 0; ni < (int)(sizeof ns / sizeof ns[0]); ni++) {
            int n = ns[ni], i;
            vt_mark m = vt_begin();
            float *a = vt_floats((size_t)n, off), *b = vt_floats((size_t)n, (off + 1) & 3);
            float *y = vt_floats((size_t)n, (off + 2) & 3), *x = vt_floats((size_t)n, off);
            float *y0 = vt_floats((size_t)n, 0);
            float alpha = 1.5f * vt_rand(), got;
            double want = 0.0, sabs = 0.0;
            vc_cmp c;
            vt_fill(a, (size_t)n, 1.0f);
            vt_fill(b, (size_t)n, 1.0f);
            for (i = 0; i < n; i++) {
                want += (double)a[i] * b[i];
                sabs += vt_fabs((double)a[i] * b[i]);
            }
            got = vla__dot_f32(a, b, n);
            VC_CHECKF(vt_fabs(got - want) <= vt_sum_tol(n, sabs), "dot n=%d off=%d: got %.9g want %.9g", n, off, got,
                      want);

            vt_fill(x, (size_t)n, 1.0f);
            vt_fill(y, (size_t)n, 1.0f);
            memcpy(y0, y, sizeof(float) * (size_t)n);
            vla__axpy_f32(y, alpha, x, n);
            vc_cmp_init(&c);
            for (i = 0; i < n; i++) {
                double w = (double)y0[i] + (double)alpha * x[i];
                vc_cmp_add(&c, i, y[i], w, 2.5e-7 * (vt_fabs(y0[i]) + vt_fabs((double)alpha * x[i])) + 1e-37);
            }
            VC_CHECK_CMP(&c, "axpy n=%d off=%d", n, off);
            VT_CHECK_GUARDS("dot/axpy n=%d off=%d wrote past a buffer", n, off);
            vt_end(m);
        }
    }
}

/* ==========================================================================
 * SECTION: fp16
 * ========================================================================== */

static void test_fp16(void) {
    /* volatile: keep the compiler from folding conversions of constants */
    static volatile float in[] = {1.0f, -0.0f, 65504.0f, 65520.0f, 65519.0f, 5.9604645e-8f, 2.9802322e-8f,
                                  2.9802326e-8f, 1.00048828125f, 1.00146484375f, 1e10f, -1e-10f, 0.333333343f};
    static const uint16_t want[] = {0x3c00, 0x8000, 0x7bff, 0x7c00, 0x7bff, 0x0001, 0x0000,
                                    0x0001, 0x3c00, 0x3c02, 0x7c00, 0x8000, 0x3555};
    uint32_t h, bad = 0, first_bad = 0;
    size_t i;
    vc_section("fp16");
    /* Every half value survives fp16 -> fp32 -> fp16 (NaNs stay NaN with
     * their sign). */
    for (h = 0; h < 65536u; h++) {
        float f = vla_fp16_to_fp32((uint16_t)h);
        uint16_t back = vla_fp32_to_fp16(f);
        int is_nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu);
        int ok = is_nan ? (f != f && (back & 0x7c00u) == 0x7c00u && (back & 0x3ffu) && (back & 0x8000u) == (h & 0x8000u))
                        : back == h;
        if (!ok && bad++ == 0) first_bad = h;
    }
    VC_CHECKF(bad == 0, "fp16 round trip: %lu of 65536 values differ, first 0x%04lx", (unsigned long)bad,
              (unsigned long)first_bad);
    /* Exact values for a few halves. */
    VC_CHECK(vla_fp16_to_fp32(0x3c00) == 1.0f);
    VC_CHECK(vla_fp16_to_fp32(0xc000) == -2.0f);
    VC_CHECK(vla_fp16_to_fp32(0x7bff) == 65504.0f);
    VC_CHECK(vla_fp16_to_fp32(0x0001) == 5.9604644775390625e-8f);
    VC_CHECK(vla_fp16_to_fp32(0x03ff) == 6.0975551605224609375e-5f);
    VC_CHECK(vla_fp16_to_fp32(0x7c00) > 3.0e38f);
    /* Rounding: nearest, ties to even, overflow to infinity, underflow. */
    for (i = 0; i < sizeof want / sizeof want[0]; i++) {
        uint16_t got = vla_fp32_to_fp16(in[i]);
        VC_CHECKF(got == want[i], "fp32_to_fp16(%.9g) = 0x%04x, want 0x%04x", (double)in[i], got, want[i]);
    }
}

/* ==========================================================================
 * SECTION: q8_0
 * ========================================================================== */

static void test_q8_0(void) {
    const size_t nb = 6, n = nb * VLA_Q8_0_BLOCK;
    vt_mark m = vt_begin();
    float *x = vt_floats(n, 1), *deq = vt_floats(n, 0);
    unsigned char *q = (unsigned char *)vt_alloc(nb * VLA_Q8_0_BYTES, 3);
    vla_mat w;
    size_t b, i;
    vc_section("q8_0");

    vt_fill(x, n, 3.0f);
    for (i = 0; i < VLA_Q8_0_BLOCK; i++) x[VLA_Q8_0_BLOCK + i] = 0.0f;            /* block 1: zeros */
    for (i = 0; i < VLA_Q8_0_BLOCK; i++) x[2 * VLA_Q8_0_BLOCK + i] = (float)((int)i - 16) * 0.0625f; /* grid */
    x[2 * VLA_Q8_0_BLOCK + 31] = 127.0f * 0.0625f; /* amax = 127 steps: d = 0.0625 exactly */
    x[3 * VLA_Q8_0_BLOCK + 5] = 1000.0f;            /* block 3: one outlier */
    vla_quantize_q8_0(q, x, n);
    w.type = VLA_TYPE_Q8_0; w.rows = (int)nb; w.cols = VLA_Q8_0_BLOCK; w.data = q;
    for (b = 0; b < nb; b++) vla_mat_row(deq + b * VLA_Q8_0_BLOCK, &w, (int)b);
    VT_CHECK_GUARDS("quantize/mat_row wrote past a buffer");

    for (b = 0; b < nb; b++) {
        const float *xb = x + b * VLA_Q8_0_BLOCK;
        const unsigned char *blk = q + b * VLA_Q8_0_BYTES;
        float amax = 0.0f, d_want, d_got = vla_fp16_to_fp32((uint16_t)(blk[0] | blk[1] << 8));
        int bad_q = 0;
        vc_cmp c;
        for (i = 0; i < VLA_Q8_0_BLOCK; i++) if (fabsf(xb[i]) > amax) amax = fabsf(xb[i]);
        d_want = vla_fp16_to_fp32(vla_fp32_to_fp16(amax / 127.0f));
        VC_CHECKF(d_got == d_want, "block %lu scale %.9g, want fp16(amax/127) = %.9g", (unsigned long)b, d_got, d_want);
        vc_cmp_init(&c);
        for (i = 0; i < VLA_Q8_0_BLOCK; i++) {
            int qi = (int8_t)blk[2 + i];
            double r = d_want != 0.0f ? (double)xb[i] / d_want : 0.0;
            /* round half away from zero of x/d, within one step for ties
             * that x*(1/d) may round the other way */
            double rq = r < 0 ? -floor(-r + 0.5) : floor(r + 0.5);
            if (rq > 127) rq = 127;
            if (rq < -127) rq = -127;
            if (vt_fabs(qi - rq) > 1.0 || qi < -127) bad_q++;
            vc_cmp_add(&c, (long)i, deq[b * VLA_Q8_0_BLOCK + i], xb[i], 0.5 * d_want * (1.0 + 1e-5) + 1e-30);
        }
        VC_CHECKF(bad_q == 0, "block %lu: %d quants off the rounding rule", (unsigned long)b, bad_q);
        VC_CHECK_CMP(&c, "block %lu dequantized error above d/2", (unsigned long)b);
    }
    /* The all-zero block has scale 0 and zero quants; the exact grid
     * reproduces its integers. */
    VC_CHECK(q[VLA_Q8_0_BYTES] == 0 && q[VLA_Q8_0_BYTES + 1] == 0);
    {
        int exact = 1;
        for (i = 0; i < VLA_Q8_0_BLOCK; i++) {
            int want_q = i == 31 ? 127 : (int)i - 16;
            if ((int8_t)q[2 * VLA_Q8_0_BYTES + 2 + i] != want_q) exact = 0;
            if ((int8_t)q[VLA_Q8_0_BYTES + 2 + i] != 0) exact = 0;
        }
        VC_CHECK(exact);
    }
    vt_end(m);
}

/* ==========================================================================
 * SECTION: linear
 * ========================================================================== */

/* Weight data of the given type from float values (row-major [N, K]). */
static const void *vt_make_weights(vla_type type, const float *wf, int N, int K, size_t off) {
    size_t i, nk = (size_t)N * K;
    if (type == VLA_TYPE_F32) {
        float *w = (float *)vt_alloc(nk * sizeof(float), off * 4);
        memcpy(w, wf, nk * sizeof(float));
        return w;
    }
    if (type == VLA_TYPE_F16) {
        uint16_t *w = (uint16_t *)vt_alloc(nk * 2, off * 2);
        for (i = 0; i < nk; i++) w[i] = vla_fp32_to_fp16(wf[i]);
        return w;
    }
    {
        unsigned char *w = (unsigned char *)vt_alloc(nk / VLA_Q8_0_BLOCK * VLA_Q8_0_BYTES, off);
        vla_quantize_q8_0(w, wf, nk);
        return w;
    }
}

static void check_linear(vla_type type, int M, int K, int N, int bias, int off, const vla_exec *ex) {
    vt_mark mk = vt_begin();
    float *x = vt_floats((size_t)M * K, off), *wf = vt_floats((size_t)N * K, 0);
    float *b = bias ? vt_floats((size_t)N, (off + 1) & 3) : NULL;
    float *y = vt_floats((size_t)M * N, (off + 2) & 3), *yr = vt_floats((size_t)M * N, 0);
    float *row = vt_floats((size_t)K, 0);
    vla_mat w;
    vc_cmp c_fast, c_ref;
    int m, n, k;
    vt_fill(x, (size_t)M * K, 1.0f);
    vt_fill(wf, (size_t)N * K, 1.0f);
    if (b) vt_fill(b, (size_t)N, 1.0f);
    w.type = type; w.rows = N; w.cols = K;
    w.data = vt_make_weights(type, wf, N, K, (size_t)off);

    vla_linear(ex, y, x, &w, b, M);
    vla_linear_ref(yr, x, &w, b, M);
    vc_cmp_init(&c_fast);
    vc_cmp_init(&c_ref);
    for (n = 0; n < N; n++) {
        vla_mat_row(row, &w, n); /* the weights as the kernels see them */
        for (m = 0; m < M; m++) {
            double want = b ? b[n] : 0.0, sabs = b ? vt_fabs(b[n]) : 0.0, tol;
            for (k = 0; k < K; k++) {
                want += (double)x[(size_t)m * K + k] * row[k];
                sabs += vt_fabs((double)x[(size_t)m * K + k] * row[k]);
            }
            tol = vt_sum_tol(K, sabs);
            vc_cmp_add(&c_fast, (long)m * N + n, y[(size_t)m * N + n], yr[(size_t)m * N + n], tol);
            vc_cmp_add(&c_ref, (long)m * N + n, yr[(size_t)m * N + n], want, tol);
        }
    }
    VC_CHECK_CMP(&c_fast, "linear %s M=%d K=%d N=%d bias=%d off=%d threads=%d vs ref", vla_type_name(type), M, K, N,
                 bias, off, ex->n_threads);
    VC_CHECK_CMP(&c_ref, "linear_ref %s M=%d K=%d N=%d vs double", vla_type_name(type), M, K, N);
    VT_CHECK_GUARDS("linear %s M=%d K=%d N=%d wrote past a buffer", vla_type_name(type), M, K, N);
    vt_end(mk);
}

static void test_linear(void) {
    static const int Ks[] = {1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 100, 129};
    static const int Kq[] = {32, 64, 96, 160};
    static const int Ms[] = {1, 2, 5};
    static const int Ns[] = {1, 3, 8, 17};
    vla_exec ex1 = vt_exec(1, 0), ex3 = vt_exec(3, 0), exr = vt_exec(1, 1);
    int ki, mi, ni, i, t = 0;
    vc_section("linear");
    for (ki = 0; ki < (int)(sizeof Ks / sizeof Ks[0]); ki++)
        for (mi = 0; mi < 3; mi++)
            for (ni = 0; ni < 4; ni++, t++) {
                check_linear(VLA_TYPE_F32, Ms[mi], Ks[ki], Ns[ni], t & 1, t & 3, (t % 5 == 0) ? &ex3 : &ex1);
                if (ki % 3 == 0) check_linear(VLA_TYPE_F16, Ms[mi], Ks[ki], Ns[ni], (t >> 1) & 1, t & 3, &ex1);
            }
    for (ki = 0; ki < 4; ki++)
        for (mi = 0; mi < 3; mi++)
            for (ni = 0; ni < 4; ni++, t++)
                check_linear(VLA_TYPE_Q8_0, Ms[mi], Kq[ki], Ns[ni], t & 1, t & 3, (t % 3 == 0) ? &ex3 : &ex1);
    /* a few larger ones, the kind of shapes the model has */
    check_linear(VLA_TYPE_F32, 7, 256, 48, 1, 1, &ex1);
    check_linear(VLA_TYPE_F32, 3, 96, 130, 0, 0, &ex3);
    check_linear(VLA_TYPE_F16, 4, 128, 40, 1, 2, &ex3);
    check_linear(VLA_TYPE_Q8_0, 5, 256, 33, 1, 3, &ex1);
    for (i = 0; i < 16 * (VLA_TEST_WORK - 1); i++) {
        vla_type ty = i % 3 == 0 ? VLA_TYPE_F32 : i % 3 == 1 ? VLA_TYPE_F16 : VLA_TYPE_Q8_0;
        int K = ty == VLA_TYPE_Q8_0 ? 32 * vt_randint(1, 10) : vt_randint(1, 320);
        check_linear(ty, vt_randint(1, 9), K, vt_randint(1, 70), i & 1, i & 3, (i & 4) ? &ex3 : &ex1);
    }

    /* int8 activations (vla_exec.int8_activations) for Q8_0 weights: the
     * target's integer kernel (AVX2 maddubs, NEON vmull/vpadal, dotprod vdot,
     * scalar elsewhere) equals the scalar int8 definition bit for bit, and
     * stays within the quantisation error of the fp32 reference. */
    for (i = 0; i < 24; i++) {
        vt_mark mk = vt_begin();
        int M = 1 + i % 7, K = 32 * (1 + (i * 5) % 9), N = 1 + (i * 7) % 23;
        float *x = vt_floats((size_t)M * K, i & 3), *wf = vt_floats((size_t)N * K, 0), *b = vt_floats((size_t)N, 0);
        float *y = vt_floats((size_t)M * N, 0), *yq = vt_floats((size_t)M * N, 0), *yr = vt_floats((size_t)M * N, 0);
        vla_exec exq = (i & 1) ? vt_exec(3, 0) : vt_exec(1, 0);
        vla_mat w;
        double err = 0, mag = 0;
        int k;
        vt_fill(x, (size_t)M * K, 1.0f);
        vt_fill(wf, (size_t)N * K, 1.0f);
        vt_fill(b, (size_t)N, 1.0f);
        w.type = VLA_TYPE_Q8_0; w.rows = N; w.cols = K; w.data = vt_make_weights(VLA_TYPE_Q8_0, wf, N, K, 0);
        exq.int8_activations = 1;
        vla_linear(&exq, y, x, &w, b, M);
        vla__linear_q8_ref(yq, x, &w, b, M);
        vla_linear_ref(yr, x, &w, b, M);
        VC_CHECKF(memcmp(y, yq, sizeof(float) * (size_t)M * N) == 0, "int8 path M=%d K=%d N=%d differs from its definition", M, K, N);
        for (k = 0; k < M * N; k++) {
            if (vt_fabs((double)y[k] - yr[k]) > err) err = vt_fabs((double)y[k] - yr[k]);
            if (vt_fabs(yr[k]) > mag) mag = vt_fabs(yr[k]);
        }
        VC_CHECKF(err <= 0.02 * (mag + 1.0), "int8 path M=%d K=%d N=%d: %g from the fp32 reference", M, K, N, err);
        vt_end(mk);
    }

    /* force_reference and a NULL exec are the reference, bit for bit. */
    {
        vt_mark mk = vt_begin();
        int M = 3, K = 37, N = 11;
        float *x = vt_floats((size_t)M * K, 1), *wf = vt_floats((size_t)N * K, 0), *b = vt_floats((size_t)N, 0);
        float *y1 = vt_floats((size_t)M * N, 0), *y2 = vt_floats((size_t)M * N, 0), *y3 = vt_floats((size_t)M * N, 0);
        vla_mat w;
        vt_fill(x, (size_t)M * K, 1.0f);
        vt_fill(wf, (size_t)N * K, 1.0f);
        vt_fill(b, (size_t)N, 1.0f);
        w.type = VLA_TYPE_F32; w.rows = N; w.cols = K; w.data = wf;
        vla_linear_ref(y1, x, &w, b, M);
        vla_linear(&exr, y2, x, &w, b, M);
        vla_linear(NULL, y3, x, &w, b, M);
        VC_CHECK(memcmp(y1, y2, sizeof(float) * (size_t)M * N) == 0);
        VC_CHECK(memcmp(y1, y3, sizeof(float) * (size_t)M * N) == 0);
        vt_end(mk);
    }
}

/* ==========================================================================
 * SECTION: i8 - the I8 weight format's integer path, bit for bit
 *
 * The outputs are computed here from the quantized rows (vla_quantize_i8_row,
 * whose rule is checked on hand-made values first): exact int32 sums in
 * 64-bit integers, then ((float)isum * (d_x * d_w)) + b one rounding at a
 * time.  vla_linear (this target's kernel, 1..4 tasks), vla_linear_ref and
 * vla_conv2d / vla_conv2d_ref must give exactly those bits.
 * ========================================================================== */

static void check_i8(int M, int K, int N, int variant) {
    vt_mark mk = vt_begin();
    float *x = vt_floats((size_t)M * K, variant & 3), *b = vt_floats((size_t)N, 1), *sc = vt_floats((size_t)N, 2);
    float *y = vt_floats((size_t)M * N, 3), *ye = vt_floats((size_t)M * N, 0), *wf = vt_floats((size_t)K, 0);
    signed char *q = (signed char *)vt_alloc((size_t)N * K, (size_t)(variant & 7));
    signed char *qx = (signed char *)vt_alloc((size_t)K, 0);
    const float *bb = (variant & 4) ? NULL : b;
    vla_mat w;
    int m, n, k, T;
    vt_fill(x, (size_t)M * K, 2.0f);
    vt_fill(b, (size_t)N, 1.0f);
    for (n = 0; n < N; n++) {
        vt_fill(wf, (size_t)K, 0.05f);
        sc[n] = vla_quantize_i8_row(q + (size_t)n * K, wf, K);
    }
    if (variant & 1) /* full-scale W rows with a stray -128 */
        for (n = 0; n < N; n += 2)
            for (k = 0; k < K; k++) q[(size_t)n * K + k] = (signed char)(k % 3 == 0 ? -128 : (k & 1) ? 127 : -127);
    if (variant & 2) { /* a full-scale x row with ties, a zero row with a NaN */
        for (k = 0; k < K; k++) x[k] = k % 4 == 0 ? -63.5f : k % 4 == 1 ? 127.0f : k % 4 == 2 ? 63.5f : 0.5f - (float)(k % 8 == 7) * 3.0f;
        if (M > 1) { for (k = 0; k < K; k++) x[K + k] = 0.0f; x[K + K / 2] = NAN; }
    }
    for (m = 0; m < M; m++) {
        const float dx = vla_quantize_i8_row(qx, x + (size_t)m * K, K);
        for (n = 0; n < N; n++) {
            long long s = 0;
            volatile float t;
            for (k = 0; k < K; k++) s += (long long)qx[k] * q[(size_t)n * K + k];
            t = (float)(int32_t)s * (dx * sc[n]);
            ye[(size_t)m * N + n] = t + (bb ? bb[n] : 0.0f);
        }
    }
    w.type = VLA_TYPE_I8; w.rows = N; w.cols = K; w.data = q; w.scale = sc;
    vla_linear_ref(y, x, &w, bb, M);
    VC_CHECKF(memcmp(y, ye, sizeof(float) * (size_t)M * N) == 0, "i8 ref M=%d K=%d N=%d var=%d differs from the definition", M,
              K, N, variant);
    for (T = 1; T <= 4; T++) {
        vla_exec ex = vt_exec(T, 0);
        memset(y, 0xff, sizeof(float) * (size_t)M * N);
        vla_linear(&ex, y, x, &w, bb, M);
        VC_CHECKF(memcmp(y, ye, sizeof(float) * (size_t)M * N) == 0, "i8 %s kernel M=%d K=%d N=%d var=%d tasks=%d differs",
                  vla__i8_kernel_name(), M, K, N, variant, T);
    }
    VT_CHECK_GUARDS("i8 M=%d K=%d N=%d wrote past a buffer", M, K, N);
    vt_end(mk);
}

/* extra: scratch beyond the size query's (a 1 x 1 convolution asks for none but
 * takes the quantized-band path when a model's arena lends it some) */
static void check_i8_conv_x(int H, int W, int Cin, int Cout, int k, int s, int p, size_t extra) {
    int Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1, K = k * k * Cin, i;
    vt_mark mk = vt_begin();
    float *x = vt_floats((size_t)H * W * Cin, 1), *wf = vt_floats((size_t)Cout * K, 2), *b = vt_floats((size_t)Cout, 3);
    float *sc = vt_floats((size_t)Cout, 0), *y = vt_floats((size_t)Ho * Wo * Cout, 1), *yr = vt_floats((size_t)Ho * Wo * Cout, 0);
    signed char *q = (signed char *)vt_alloc((size_t)Cout * K, 1);
    vla_exec ex = vt_exec(2, 0);
    vla_arena sub;
    vla_mat w;
    vt_fill(x, (size_t)H * W * Cin, 1.0f);
    vt_fill(wf, (size_t)Cout * K, 0.2f);
    vt_fill(b, (size_t)Cout, 1.0f);
    for (i = 0; i < Cout; i++) sc[i] = vla_quantize_i8_row(q + (size_t)i * K, wf + (size_t)i * K, K);
    w.type = VLA_TYPE_I8; w.rows = Cout; w.cols = K; w.data = q; w.scale = sc;
    vt_sub_arena(&sub, vla_conv2d_scratch_size(H, W, Cin, k, s, p) + extra);
    VC_CHECK(vla_conv2d(&ex, &sub, y, x, &w, b, H, W, Cin, k, s, p) == VLA_OK);
    vla_conv2d_ref(yr, x, &w, b, H, W, Cin, k, s, p);
    VC_CHECKF(memcmp(y, yr, sizeof(float) * (size_t)Ho * Wo * Cout) == 0, "i8 conv2d %dx%dx%d k=%d s=%d p=%d (+%lu scratch): fast != ref", H,
              W, Cin, k, s, p, (unsigned long)extra);
    VT_CHECK_GUARDS("i8 conv2d wrote past a buffer");
    vt_end(mk);
}

static void check_i8_conv(int H, int W, int Cin, int Cout, int k, int s, int p) { check_i8_conv_x(H, W, Cin, Cout, k, s, p, 0); }

static void test_i8(void) {
    static const float xr[8] = {127.0f, -63.5f, 0.5f, -0.5f, 1.49f, 2.5f, -2.5f, -126.5f};
    static const int want[8] = {127, -64, 1, -1, 1, 3, -3, -127};
    static const int Ks[] = {1, 3, 4, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129, 200};
    static const int Ms[] = {1, 3, 4, 5, 9};
    static const int Ns[] = {1, 4, 5, 7};
    signed char q[8];
    int i, ki, mi, ni, v = 0;
    vc_section("i8");
    VC_CHECK(vla_quantize_i8_row(q, xr, 8) == 1.0f);
    for (i = 0; i < 8; i++) VC_CHECKF(q[i] == want[i], "i8 rounding of %g: %d, want %d", xr[i], q[i], want[i]);
    for (ki = 0; ki < (int)(sizeof Ks / sizeof Ks[0]); ki++)
        for (mi = 0; mi < 5; mi++)
            for (ni = 0; ni < 4; ni++)
                if ((ki + mi + ni) % 2 == 0 || VLA_TEST_WORK > 4) check_i8(Ms[mi], Ks[ki], Ns[ni], v++ % 8);
    check_i8(13, 768, 9, 1);  /* a model-sized row */
    check_i8(2, 3072, 5, 2);  /* longer than a Cortex-M stack buffer holds: the reference loop */
    check_i8(1, 513, 37, 4);  /* GEMV */
    check_i8_conv(6, 5, 3, 5, 1, 1, 0);
    check_i8_conv(7, 7, 5, 6, 3, 1, 1);
    check_i8_conv(9, 8, 16, 9, 3, 2, 1);
    /* Wo >= 9: on AVX-512 VNNI the convolution quantizes its input rows once
     * (vla__conv2d_i8q; im2col rows for Wo < 24, tiles reading them in place
     * above): a 64-wide panel and a narrow tail, K not a multiple of 4, K
     * blocks with a tail, the 3 x 3 stem's K = 27, a stride */
    check_i8_conv(12, 11, 16, 70, 3, 1, 1);
    check_i8_conv(10, 30, 7, 5, 3, 1, 1);
    check_i8_conv(14, 14, 40, 100, 3, 1, 1);
    check_i8_conv(20, 18, 3, 32, 3, 2, 1);
    check_i8_conv(30, 26, 5, 40, 3, 1, 1);  /* Wo = 26: in place, a 32-wide panel tail */
    check_i8_conv(52, 50, 4, 70, 3, 2, 1);  /* Wo = 25, stride 2, in place */
    if (VLA_TEST_WORK >= 16) check_i8_conv(60, 60, 32, 40, 3, 1, 1);
    check_i8_conv_x(11, 10, 37, 70, 1, 1, 0, 65536); /* 1 x 1 with a lent band: Cin tail, panel tail */
    check_i8_conv_x(9, 9, 64, 300, 1, 1, 0, 4096);   /* too little lent: the integer GEMM on x, the picture's scale */
}

/* ==========================================================================
 * SECTION: conv2d
 * ========================================================================== */

static void check_conv2d(int H, int W, int Cin, int Cout, int k, int s, int p, int bias) {
    int Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1, K = k * k * Cin;
    vt_mark mk = vt_begin();
    float *x = vt_floats((size_t)H * W * Cin, 1), *wf = vt_floats((size_t)Cout * K, 2);
    float *b = bias ? vt_floats((size_t)Cout, 3) : NULL;
    float *y = vt_floats((size_t)Ho * Wo * Cout, 1), *yr = vt_floats((size_t)Ho * Wo * Cout, 0);
    size_t need = vla_conv2d_scratch_size(H, W, Cin, k, s, p);
    vla_exec ex = vt_exec(1, 0);
    vla_arena sub;
    vla_mat w;
    vla_status st;
    vc_cmp c;
    int oy, ox, co, ky, kx, ci;
    vt_fill(x, (size_t)H * W * Cin, 1.0f);
    vt_fill(wf, (size_t)Cout * K, 1.0f);
    if (b) vt_fill(b, (size_t)Cout, 1.0f);
    w.type = VLA_TYPE_F32; w.rows = Cout; w.cols = K; w.data = wf;
    vt_sub_arena(&sub, need); /* exactly what the size query promised */
    st = vla_conv2d(&ex, &sub, y, x, &w, b, H, W, Cin, k, s, p);
    VC_CHECKF(st == VLA_OK, "conv2d %dx%dx%d k=%d s=%d p=%d: %s with the scratch size it asked for", H, W, Cin, k, s, p,
              vla_status_str(st));
    vla_conv2d_ref(yr, x, &w, b, H, W, Cin, k, s, p);
    vc_cmp_init(&c);
    for (oy = 0; oy < Ho; oy++)
        for (ox = 0; ox < Wo; ox++)
            for (co = 0; co < Cout; co++) {
                double sabs = b ? vt_fabs(b[co]) : 0.0;
                size_t o = ((size_t)oy * Wo + ox) * Cout + co;
                for (ky = 0; ky < k; ky++)
                    for (kx = 0; kx < k; kx++) {
                        int iy = oy * s + ky - p, ix = ox * s + kx - p;
                        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                        for (ci = 0; ci < Cin; ci++)
                            sabs += vt_fabs((double)x[((size_t)iy * W + ix) * Cin + ci] * wf[(size_t)co * K + (ky * k + kx) * Cin + ci]);
                    }
                vc_cmp_add(&c, (long)o, y[o], yr[o], vt_sum_tol(K, sabs));
            }
    VC_CHECK_CMP(&c, "conv2d H=%d W=%d Cin=%d Cout=%d k=%d s=%d p=%d vs ref", H, W, Cin, Cout, k, s, p);
    VT_CHECK_GUARDS("conv2d H=%d W=%d k=%d wrote past a buffer (or past its scratch)", H, W, k);
    vt_end(mk);
}

static void test_conv2d(void) {
    /* H, W, Cin, Cout, k, stride, pad */
    static const int cases[][7] = {
        {5, 5, 3, 4, 1, 1, 0}, {1, 1, 4, 3, 1, 1, 0}, {2, 2, 3, 3, 1, 2, 0}, {6, 5, 3, 4, 3, 1, 1},
        {7, 7, 2, 5, 3, 2, 1}, {4, 4, 1, 1, 3, 1, 0}, {3, 5, 5, 2, 2, 2, 0}, {5, 3, 3, 2, 5, 1, 2},
        {9, 8, 3, 8, 7, 2, 3}, {8, 8, 16, 8, 3, 1, 1}, {6, 6, 17, 9, 3, 2, 1},
    };
    int i;
    vc_section("conv2d");
    for (i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++)
        check_conv2d(cases[i][0], cases[i][1], cases[i][2], cases[i][3], cases[i][4], cases[i][5], cases[i][6], i & 1);
}

/* ==========================================================================
 * SECTION: attention
 * ========================================================================== */

/* mask: 0 none, 1 some keys at -inf, 2 every key at -inf */
static void check_attention(int Lq, int Lk, int H, int dh, int pad, int mask, int causal, int coff) {
    int ld = H * dh + pad, i, j;
    vt_mark mk = vt_begin();
    float *q = vt_floats((size_t)Lq * ld, 1), *k = vt_floats((size_t)Lk * ld, 2), *v = vt_floats((size_t)Lk * ld, 3);
    float *o = vt_floats((size_t)Lq * ld, 1), *orf = vt_floats((size_t)Lq * ld, 0);
    float *scores = vt_floats((size_t)Lq * Lk, 0), *km = mask ? vt_floats((size_t)Lk, 0) : NULL;
    float qs = 1.0f / sqrtf((float)dh) * 2.0f;
    vla_exec ex = vt_exec(1, 0);
    vla_arena sub;
    vla_status st;
    vc_cmp c;
    vt_fill(q, (size_t)Lq * ld, qs);
    vt_fill(k, (size_t)Lk * ld, 1.0f);
    vt_fill(v, (size_t)Lk * ld, 1.0f);
    for (j = 0; km && j < Lk; j++) km[j] = (mask == 2 || (j % 3 == 1)) ? VLA__NEG_INF : 0.0f;
    for (i = 0; i < Lq * ld; i++) o[i] = orf[i] = 7.0f; /* padding columns must stay untouched */
    vt_sub_arena(&sub, vla_attention_scratch_size(Lq, Lk));
    st = vla_attention(&ex, &sub, o, ld, q, ld, k, ld, v, ld, Lq, Lk, H, dh, km, causal, coff);
    VC_CHECKF(st == VLA_OK, "attention: %s with the scratch size it asked for", vla_status_str(st));
    vla_attention_ref(orf, ld, q, ld, k, ld, v, ld, Lq, Lk, H, dh, km, causal, coff, scores);
    vc_cmp_init(&c);
    for (i = 0; i < Lq * ld; i++) vc_cmp_add(&c, i, o[i], orf[i], 1e-6 * (dh + Lk + 8) + 1e-5 * vt_fabs(orf[i]));
    VC_CHECK_CMP(&c, "attention Lq=%d Lk=%d heads=%d dh=%d pad=%d mask=%d causal=%d off=%d vs ref", Lq, Lk, H, dh, pad,
                 mask, causal, coff);
    VT_CHECK_GUARDS("attention Lq=%d Lk=%d heads=%d dh=%d wrote past a buffer", Lq, Lk, H, dh);
    vt_end(mk);
}

static void test_attention(void) {
    /* Lq, Lk, heads, dh, ld padding, mask, causal, causal_offset */
    static const int cases[][8] = {
        {1, 1, 1, 1, 0, 0, 0, 0},   {3, 5, 2, 7, 3, 1, 0, 0},   {4, 4, 3, 8, 0, 0, 1, 0},
        {2, 6, 2, 16, 1, 0, 1, 4},  {5, 9, 4, 33, 5, 1, 1, 4},  {3, 3, 1, 5, 0, 2, 0, 0},
        {1, 12, 12, 64, 0, 1, 1, 11}, {6, 6, 2, 64, 0, 0, 0, 0}, {7, 3, 3, 3, 2, 0, 1, 0},
    };
    int i;
    vc_section("attention");
    for (i = 0; i < (int)(sizeof cases / sizeof cases[0]); i++)
        check_attention(cases[i][0], cases[i][1], cases[i][2], cases[i][3], cases[i][4], cases[i][5], cases[i][6],
                        cases[i][7]);
    for (i = 0; i < 4 * (VLA_TEST_WORK - 1); i++) {
        int Lq = vt_randint(1, 12), Lk = vt_randint(1, 24), causal = i & 1;
        check_attention(Lq, Lk, vt_randint(1, 6), vt_randint(1, 70), vt_randint(0, 5), (i >> 1) % 2, causal,
                        causal ? vt_randint(0, 5) : 0);
    }
}

/* ==========================================================================
 * SECTION: layernorm
 * ========================================================================== */

static void test_layernorm(void) {
    static const int Ns[] = {1, 2, 7, 32, 100, 257};
    int ni, variant;
    vc_section("layernorm");
    for (ni = 0; ni < (int)(sizeof Ns / sizeof Ns[0]); ni++)
        for (variant = 0; variant < 3; variant++) { /* 0: g,b  1: NULL g,b  2: in place */
            int N = Ns[ni], M = 3, m, n;
            vt_mark mk = vt_begin();
            float *x = vt_floats((size_t)M * N, 1), *y = vt_floats((size_t)M * N, 2);
            float *g = vt_floats((size_t)N, 0), *b = vt_floats((size_t)N, 3);
            const float *gg = variant == 1 ? NULL : g, *bb = variant == 1 ? NULL : b;
            float *xc = vt_floats((size_t)M * N, 0);
            vc_cmp c;
            vt_fill(x, (size_t)M * N, 2.0f);
            for (n = 0; n < N; n++) x[n] += 5.0f; /* a row with a large mean */
            vt_fill(g, (size_t)N, 1.0f);
            vt_fill(b, (size_t)N, 1.0f);
            memcpy(xc, x, sizeof(float) * (size_t)M * N);
            if (variant == 2) { vla_layernorm(x, x, gg, bb, M, N, 1e-5f); memcpy(y, x, sizeof(float) * (size_t)M * N); }
            else vla_layernorm(y, x, gg, bb, M, N, 1e-5f);
            vc_cmp_init(&c);
            for (m = 0; m < M; m++) {
                double mean = 0, var = 0, inv;
                for (n = 0; n < N; n++) mean += xc[m * N + n];
                mean /= N;
                for (n = 0; n < N; n++) var += (xc[m * N + n] - mean) * (xc[m * N + n] - mean);
                var /= N;
                inv = 1.0 / sqrt(var + 1e-5);
                for (n = 0; n < N; n++) {
                    double xh = (xc[m * N + n] - mean) * inv;
                    double want = xh * (gg ? gg[n] : 1.0) + (bb ? bb[n] : 0.0);
                    vc_cmp_add(&c, m * N + n, y[m * N + n], want, 2e-6 * (1.0 + N / 32.0) * (1.0 + vt_fabs(xh)) + 1e-6);
                }
            }
            VC_CHECK_CMP(&c, "layernorm N=%d variant=%d", N, variant);
            VT_CHECK_GUARDS("layernorm N=%d wrote past a buffer", N);
            vt_end(mk);
        }
}

/* ==========================================================================
 * SECTION: softmax
 * ========================================================================== */

static void test_softmax(void) {
    static const int Ns[] = {1, 2, 5, 33, 100};
    int ni;
    vc_section("softmax");
    for (ni = 0; ni < (int)(sizeof Ns / sizeof Ns[0]); ni++) {
        int N = Ns[ni], M = 4, m, n;
        vt_mark mk = vt_begin();
        float *x = vt_floats((size_t)M * N, 1), *xc = vt_floats((size_t)M * N, 0), *ls = vt_floats((size_t)N, 2);
        vc_cmp c, cl;
        vt_fill(x, (size_t)M * N, 10.0f);
        for (n = 1; n < N; n += 3) x[N + n] = VLA__NEG_INF;  /* row 1: some masked */
        for (n = 0; n < N; n++) x[2 * N + n] = VLA__NEG_INF; /* row 2: all masked -> zeros */
        memcpy(xc, x, sizeof(float) * (size_t)M * N);
        memcpy(ls, x, sizeof(float) * (size_t)N);
        vla_softmax(x, M, N);
        vla_log_softmax(ls, N);
        vc_cmp_init(&c);
        vc_cmp_init(&cl);
        for (m = 0; m < M; m++) {
            double mx = -1e300, sum = 0;
            int all_masked = 1;
            for (n = 0; n < N; n++) if (xc[m * N + n] > VLA__NEG_INF) { all_masked = 0; if (xc[m * N + n] > mx) mx = xc[m * N + n]; }
            for (n = 0; n < N && !all_masked; n++) sum += xc[m * N + n] > VLA__NEG_INF ? exp(xc[m * N + n] - mx) : 0.0;
            for (n = 0; n < N; n++) {
                double want = all_masked || xc[m * N + n] == VLA__NEG_INF ? 0.0 : exp(xc[m * N + n] - mx) / sum;
                vc_cmp_add(&c, m * N + n, x[m * N + n], want, 2e-6 * want + 1e-7);
                if (m == 0) vc_cmp_add(&cl, n, ls[n], log(want), 2e-6 * (1.0 + vt_fabs(log(want))));
            }
        }
        VC_CHECK_CMP(&c, "softmax N=%d", N);
        VC_CHECK_CMP(&cl, "log_softmax N=%d", N);
        VT_CHECK_GUARDS("softmax N=%d wrote past a buffer", N);
        vt_end(mk);
    }
}

/* ==========================================================================
 * SECTION: activations (gelu_erf, gelu_tanh, relu, add)
 * ========================================================================== */

static void test_activations(void) {
    const size_t n = 203;
    vt_mark mk = vt_begin();
    float *x = vt_floats(n, 1), *ge = vt_floats(n, 2), *gt = vt_floats(n, 3), *r = vt_floats(n, 0);
    float *a = vt_floats(n, 1), *s = vt_floats(n, 2);
    vc_cmp ce, ct, cr, ca;
    size_t i;
    vc_section("activations");
    for (i = 0; i < n; i++) x[i] = -10.0f + 20.0f * (float)i / (float)(n - 1);
    x[0] = 0.0f; x[1] = -0.0f; x[2] = 30.0f; x[3] = -30.0f; x[4] = 1e-20f;
    memcpy(ge, x, n * 4); memcpy(gt, x, n * 4); memcpy(r, x, n * 4);
    vla_gelu_erf(ge, n);
    vla_gelu_tanh(gt, n);
    vla_relu(r, n);
    vt_fill(a, n, 4.0f);
    vla_add(s, x, a, n);
    vla_add(a, a, x, n); /* y aliases an input */
    vc_cmp_init(&ce); vc_cmp_init(&ct); vc_cmp_init(&cr); vc_cmp_init(&ca);
    for (i = 0; i < n; i++) {
        double v = x[i];
        double we = 0.5 * v * (1.0 + erf(v * 0.70710678118654752));
        double wt = 0.5 * v * (1.0 + tanh(0.79788456080286536 * (v + 0.044715 * v * v * v)));
        vc_cmp_add(&ce, (long)i, ge[i], we, 2e-6 * (1.0 + vt_fabs(v)));
        vc_cmp_add(&ct, (long)i, gt[i], wt, 2e-6 * (1.0 + vt_fabs(v)));
        vc_cmp_add(&cr, (long)i, r[i], v > 0 ? v : 0.0, 0.0);
        vc_cmp_add(&ca, (long)i, a[i], s[i], 0.0);
    }
    VC_CHECK_CMP(&ce, "gelu_erf");
    VC_CHECK_CMP(&ct, "gelu_tanh");
    VC_CHECK_CMP(&cr, "relu");
    { /* every lane position of the vector loop: NaN and -0 become +0 */
        float z[37], want[37], fk = 0.0f; /* fk: GCC 12 for the M55 emits an invalid conditional int->float here */
        int nan_ok = 1, k;
        for (k = 0; k < 37; k++, fk += 1.0f) {
            z[k] = fk;
            want[k] = fk;
            if (k % 3 == 0) { z[k] = NAN; want[k] = 0.0f; }
            if (k % 3 == 1) { z[k] = -0.0f; want[k] = 0.0f; }
        }
        vla_relu(z, 37);
        for (k = 0; k < 37; k++)
            if (memcmp(&z[k], &want[k], sizeof want[k]) != 0) nan_ok = 0;
        VC_CHECK(nan_ok); /* relu: NaN and -0 give +0, bit for bit, at every lane position */
    }
    VC_CHECK_CMP(&ca, "add (aliased) vs add");
    VT_CHECK_GUARDS("activations wrote past a buffer");
    vt_end(mk);
}

/* ==========================================================================
 * SECTION: pools
 * ========================================================================== */

static void check_adaptive_max(int H, int W, int C, int oh, int ow, int with_nan) {
    vt_mark mk = vt_begin();
    float *x = vt_floats((size_t)H * W * C, 1), *y = vt_floats((size_t)oh * ow * C, 2);
    vc_cmp c;
    int i, j, ch, r, q;
    vt_fill(x, (size_t)H * W * C, 5.0f);
    if (with_nan) x[((size_t)(H / 2) * W + W / 2) * C] = NAN;
    vla_adaptive_maxpool2d(y, x, H, W, C, oh, ow);
    vc_cmp_init(&c);
    for (i = 0; i < oh; i++)
        for (j = 0; j < ow; j++)
            for (ch = 0; ch < C; ch++) {
                /* bin rows [floor(i H / oh), ceil((i + 1) H / oh)) */
                int r0 = (int)floor((double)i * H / oh), r1 = (int)ceil((double)(i + 1) * H / oh);
                int c0 = (int)floor((double)j * W / ow), c1 = (int)ceil((double)(j + 1) * W / ow);
                double mx = -1e300;
                int nan = 0;
                for (r = r0; r < r1; r++)
                    for (q = c0; q < c1; q++) {
                        float v = x[((size_t)r * W + q) * C + ch];
                        if (v != v) nan = 1;
                        else if (v > mx) mx = v;
                    }
                vc_cmp_add(&c, (i * ow + j) * C + ch, y[((size_t)i * ow + j) * C + ch], nan ? NAN : mx, 0.0);
            }
    VC_CHECK_CMP(&c, "adaptive_maxpool2d %dx%dx%d -> %dx%d nan=%d", H, W, C, oh, ow, with_nan);
    VT_CHECK_GUARDS("adaptive_maxpool2d wrote past a buffer");
    vt_end(mk);
}

static void test_pools(void) {
    /* C of 37 and 64: the vector lanes (16, 8 or 4 wide) and their tail */
    static const int avg[][4] = {{4, 4, 3, 2}, {7, 5, 2, 2}, {9, 9, 5, 3}, {1, 1, 4, 1}, {6, 7, 1, 3}, {5, 6, 37, 2}, {4, 4, 64, 2}};
    int t;
    vc_section("pools");
    for (t = 0; t < (int)(sizeof avg / sizeof avg[0]); t++) {
        int H = avg[t][0], W = avg[t][1], C = avg[t][2], s = avg[t][3], Ho = H / s, Wo = W / s, i, j, ch, a, b;
        vt_mark mk = vt_begin();
        float *x = vt_floats((size_t)H * W * C, 1), *y = vt_floats((size_t)Ho * Wo * C, 3);
        vc_cmp c, cf;
        vt_fill(x, (size_t)H * W * C, 3.0f);
        vla_avgpool2d(y, x, H, W, C, s);
        vc_cmp_init(&c);
        vc_cmp_init(&cf);
        for (i = 0; i < Ho; i++)
            for (j = 0; j < Wo; j++)
                for (ch = 0; ch < C; ch++) {
                    double sum = 0;
                    float fsum = 0.0f; /* the documented order: row by row from 0, then * (1 / s^2) */
                    for (a = 0; a < s; a++)
                        for (b = 0; b < s; b++) {
                            sum += x[((size_t)(i * s + a) * W + j * s + b) * C + ch];
                            fsum += x[((size_t)(i * s + a) * W + j * s + b) * C + ch];
                        }
                    vc_cmp_add(&c, (i * Wo + j) * C + ch, y[((size_t)i * Wo + j) * C + ch], sum / (s * s),
                               1e-6 * (s * s) * 3.0);
                    vc_cmp_add(&cf, (i * Wo + j) * C + ch, y[((size_t)i * Wo + j) * C + ch],
                               fsum * (1.0f / (float)(s * s)), 0.0);
                }
        VC_CHECK_CMP(&c, "avgpool2d %dx%dx%d s=%d", H, W, C, s);
        VC_CHECK_CMP(&cf, "avgpool2d %dx%dx%d s=%d: the float sum in its documented order, bit for bit", H, W, C, s);
        VT_CHECK_GUARDS("avgpool2d wrote past a buffer");
        vt_end(mk);
    }
    check_adaptive_max(7, 7, 3, 6, 6, 0); /* the CLIP 7x7 -> 6x6 case: overlapping bins */
    check_adaptive_max(7, 5, 2, 3, 2, 0);
    check_adaptive_max(3, 3, 4, 5, 4, 0); /* more bins than rows */
    check_adaptive_max(1, 1, 2, 1, 1, 0);
    check_adaptive_max(6, 6, 3, 2, 3, 1); /* NaN propagates into its bins */
}

/* ==========================================================================
 * SECTION: embedding
 * ========================================================================== */

static void test_embedding(void) {
    const int rows = 7, cols = 64, n = 5;
    static const int32_t ids[5] = {0, 6, 3, 3, 1};
    static const vla_type types[3] = {VLA_TYPE_F32, VLA_TYPE_F16, VLA_TYPE_Q8_0};
    int t, i, k;
    vc_section("embedding");
    for (t = 0; t < 3; t++) {
        vt_mark mk = vt_begin();
        float *ef = vt_floats((size_t)rows * cols, 0), *y = vt_floats((size_t)n * cols, 1);
        float *row = vt_floats((size_t)cols, 0);
        vla_mat E;
        int32_t bad_hi = rows, bad_lo = -1;
        vc_cmp c;
        vt_fill(ef, (size_t)rows * cols, 2.0f);
        E.type = types[t]; E.rows = rows; E.cols = cols;
        E.data = vt_make_weights(types[t], ef, rows, cols, 1);
        VC_CHECK(vla_embedding(y, &E, ids, n) == VLA_OK);
        vc_cmp_init(&c);
        for (i = 0; i < n; i++) {
            for (k = 0; k < cols; k++) {
                const float f = ef[(size_t)ids[i] * cols + k];
                double want = f, tol = 0.0;
                if (types[t] == VLA_TYPE_F16) want = vla_fp16_to_fp32(vla_fp32_to_fp16(f));
                if (types[t] == VLA_TYPE_Q8_0) tol = 2.0 / 127.0; /* half a step of a block with amax <= 2 */
                vc_cmp_add(&c, i * cols + k, y[(size_t)i * cols + k], want, tol);
            }
            vla_mat_row(row, &E, ids[i]);
            VC_CHECK(memcmp(row, y + (size_t)i * cols, sizeof(float) * (size_t)cols) == 0);
        }
        VC_CHECK_CMP(&c, "embedding %s", vla_type_name(types[t]));
        VC_CHECK(vla_embedding(y, &E, &bad_hi, 1) == VLA_ERR_RANGE);
        VC_CHECK(vla_embedding(y, &E, &bad_lo, 1) == VLA_ERR_RANGE);
        VT_CHECK_GUARDS("embedding %s wrote past a buffer", vla_type_name(types[t]));
        vt_end(mk);
    }
}

/* ==========================================================================
 * SECTION: bn_fold
 * ========================================================================== */

static void test_bn_fold(void) {
    const int cout = 5, kk = 27;
    vt_mark mk = vt_begin();
    float *w = vt_floats((size_t)cout * kk, 0), *w0 = vt_floats((size_t)cout * kk, 0), *b = vt_floats((size_t)cout, 0);
    float *ob = vt_floats((size_t)cout, 0), *g = vt_floats((size_t)cout, 0), *be = vt_floats((size_t)cout, 0);
    float *mu = vt_floats((size_t)cout, 0), *var = vt_floats((size_t)cout, 0), *x = vt_floats((size_t)kk, 0);
    vc_cmp c;
    int co, i, with_bias;
    vc_section("bn_fold");
    for (with_bias = 0; with_bias < 2; with_bias++) {
        vt_fill(w0, (size_t)cout * kk, 1.0f);
        memcpy(w, w0, sizeof(float) * (size_t)cout * kk);
        vt_fill(ob, (size_t)cout, 1.0f);
        vt_fill(g, (size_t)cout, 2.0f);
        vt_fill(be, (size_t)cout, 1.0f);
        vt_fill(mu, (size_t)cout, 1.0f);
        for (co = 0; co < cout; co++) var[co] = 0.5f + vt_rand() * 0.4f;
        vt_fill(x, (size_t)kk, 1.0f);
        vla_bn_fold(w, b, with_bias ? ob : NULL, cout, kk, g, be, mu, var, 1e-5f);
        vc_cmp_init(&c);
        for (co = 0; co < cout; co++) {
            double conv = with_bias ? ob[co] : 0.0, folded = b[co], sabs = vt_fabs(b[co]), want;
            for (i = 0; i < kk; i++) {
                conv += (double)w0[co * kk + i] * x[i];
                folded += (double)w[co * kk + i] * x[i];
                sabs += vt_fabs((double)w[co * kk + i] * x[i]);
            }
            want = (conv - mu[co]) / sqrt((double)var[co] + 1e-5) * g[co] + be[co];
            vc_cmp_add(&c, co, folded, want, 4e-7 * (kk + 4) * sabs + 1e-6);
        }
        VC_CHECK_CMP(&c, "bn_fold with_bias=%d: folded conv vs conv then batchnorm", with_bias);
    }
    VT_CHECK_GUARDS("bn_fold wrote past a buffer");
    vt_end(mk);
}

/* ==========================================================================
 * SECTION: arena
 * ========================================================================== */

static void test_arena(void) {
    vt_mark mk = vt_begin();
    unsigned char *mem = (unsigned char *)vt_alloc(1024 + 64, 0);
    vla_arena a, meas;
    vla_arena_stats st;
    void *p1, *p2, *s1, *s2;
    size_t mark;
    vc_section("arena");
    vla_arena_init(&a, mem + 3, 1024); /* unaligned start: the arena aligns itself */
    p1 = vla_arena_alloc(&a, 10);
    p2 = vla_arena_alloc(&a, 100);
    VC_CHECK(p1 && p2 && ((uintptr_t)p1 % VLA_ALIGN) == 0 && ((uintptr_t)p2 % VLA_ALIGN) == 0);
    VC_CHECK((unsigned char *)p2 >= (unsigned char *)p1 + 10);
    mark = vla_arena_scratch_mark(&a);
    s1 = vla_arena_scratch(&a, 200);
    s2 = vla_arena_scratch(&a, 1);
    VC_CHECK(s1 && s2 && ((uintptr_t)s1 % VLA_ALIGN) == 0 && (unsigned char *)s2 < (unsigned char *)s1);
    VC_CHECK(vla_arena_scratch(&a, 4096) == NULL && a.failed_need > 1024); /* too big: NULL, the need is kept */
    vla_arena_scratch_release(&a, mark);
    st = vla_arena_get_stats(&a);
    VC_CHECK(st.persistent == 64 + 128 && st.scratch_peak == 256 + 64 && st.peak == st.persistent + st.scratch_peak);
    VC_CHECK(vla_arena_alloc(&a, 2000) == NULL);
    VC_CHECK(vla_arena_alloc(&a, 64) != NULL); /* a failure does not break later requests */
    /* A measuring arena hands out non-NULL dummies and counts the same. */
    vla_arena_init_measure(&meas);
    VC_CHECK(vla_arena_alloc(&meas, 10) != NULL && vla_arena_alloc(&meas, 100) != NULL);
    mark = vla_arena_scratch_mark(&meas);
    VC_CHECK(vla_arena_scratch(&meas, 200) != NULL && vla_arena_scratch(&meas, 1) != NULL);
    vla_arena_scratch_release(&meas, mark);
    st = vla_arena_get_stats(&meas);
    VC_CHECK(st.persistent == 64 + 128 && st.scratch_peak == 256 + 64);
    VT_CHECK_GUARDS("arena wrote past its memory");
    vt_end(mk);
}

/* ==========================================================================
 * SECTION: gguf - write -> read round trip in memory, hostile variants
 * ========================================================================== */

typedef struct vt_sink {
    unsigned char *buf;
    size_t cap, n;
} vt_sink;

static vla_status vt_sink_write(void *user, const void *data, size_t n) {
    vt_sink *s = (vt_sink *)user;
    if (n > s->cap - s->n) return VLA_ERR_IO;
    memcpy(s->buf + s->n, data, n);
    s->n += n;
    return VLA_OK;
}

static int vt_str_is(vla_str s, const char *z) { return s.n == strlen(z) && memcmp(s.s, z, s.n) == 0; }

static void test_gguf(void) {
    const size_t cap = 16384;
    vt_mark mk = vt_begin();
    vt_sink sink;
    vla_arena wa, ra, meas;
    vla_gguf_writer w;
    vla_gguf g;
    vla_gguf_kv kv;
    vla_tensor t;
    vla_str sv, items[3];
    vla_mat m;
    float *tf = vt_floats(15, 0), *one = vt_floats(1, 0), *q8src = vt_floats(128, 0), fv;
    uint16_t *th = (uint16_t *)vt_alloc(7 * 2, 0);
    unsigned char *tq = (unsigned char *)vt_alloc(4 * VLA_Q8_0_BYTES, 0), *bad;
    static const int32_t ti[3] = {-7, 0, 2147483647};
    static const int32_t arr[5] = {1, -2, 3, -4, 5};
    uint32_t u32;
    int b, i;
    int64_t ne[2];
    size_t pos;
    vla_status st;

    vc_section("gguf");
    sink.buf = (unsigned char *)vt_alloc(cap, 0);
    sink.cap = cap;
    sink.n = 0;
    vt_fill(tf, 15, 10.0f);
    one[0] = -1.5f;
    for (i = 0; i < 7; i++) th[i] = vla_fp32_to_fp16(vt_rand());
    vt_fill(q8src, 128, 1.0f);
    vla_quantize_q8_0(tq, q8src, 128);
    items[0].s = "alpha"; items[0].n = 5;
    items[1].s = ""; items[1].n = 0;
    items[2].s = "gamma ray"; items[2].n = 9;

    vt_sub_arena(&wa, 8192);
    VC_CHECK(vla_gguf_writer_init(&w, &wa, 8, 5, 64) == VLA_OK);
    vla_gguf_add_u32(&w, "t.u32", 123456789u);
    vla_gguf_add_i32(&w, "t.i32", -5);
    vla_gguf_add_u64(&w, "t.u64", (uint64_t)1 << 40);
    vla_gguf_add_f32(&w, "t.f32", 0.15625f);
    vla_gguf_add_bool(&w, "t.bool", 1);
    vla_gguf_add_str(&w, "t.str", "hello, board", 12);
    vla_gguf_add_arr(&w, "t.arr_i32", VLA_GGUF_I32, arr, 5);
    vla_gguf_add_arr(&w, "t.arr_str", VLA_GGUF_STRING, items, 3);
    ne[0] = 5; ne[1] = 3; vla_gguf_add_tensor(&w, "a.f32", VLA_TYPE_F32, 2, ne, tf);
    ne[0] = 7;            vla_gguf_add_tensor(&w, "b.f16", VLA_TYPE_F16, 1, ne, th);
    ne[0] = 64; ne[1] = 2; vla_gguf_add_tensor(&w, "c.q8", VLA_TYPE_Q8_0, 2, ne, tq);
    ne[0] = 3;            vla_gguf_add_tensor(&w, "d.i32", VLA_TYPE_I32, 1, ne, ti);
    ne[0] = 1;            vla_gguf_add_tensor(&w, "e.one", VLA_TYPE_F32, 1, ne, one);
    VC_CHECKF(w.err == VLA_OK, "writer: %s", vla_status_str(w.err));
    st = vla_gguf_write(&w, vt_sink_write, &sink);
    VC_CHECKF(st == VLA_OK, "write: %s", vla_status_str(st));
    VC_CHECK((uint64_t)sink.n == vla_gguf_writer_size(&w));

    vt_sub_arena(&ra, 8192);
    st = vla_gguf_open(&g, sink.buf, sink.n, &ra);
    VC_CHECKF(st == VLA_OK, "open: %s", vla_status_str(st));
    if (st != VLA_OK) { vt_end(mk); return; }
    VC_CHECK(g.version == 3 && g.alignment == 64 && g.n_kv == 9 && g.n_tensors == 5);
    VC_CHECK(vla_gguf_get_u32(&g, "t.u32", &u32) == VLA_OK && u32 == 123456789u);
    VC_CHECK(vla_gguf_get_u32(&g, "t.i32", &u32) == VLA_ERR_FORMAT);   /* negative does not fit */
    VC_CHECK(vla_gguf_get_u32(&g, "t.u64", &u32) == VLA_ERR_FORMAT);   /* too large */
    VC_CHECK(vla_gguf_get_u32(&g, "no.such.key", &u32) == VLA_ERR_NOT_FOUND);
    VC_CHECK(vla_gguf_get_f32(&g, "t.f32", &fv) == VLA_OK && fv == 0.15625f);
    VC_CHECK(vla_gguf_get_bool(&g, "t.bool", &b) == VLA_OK && b == 1);
    VC_CHECK(vla_gguf_get_str(&g, "t.str", &sv) == VLA_OK && vt_str_is(sv, "hello, board"));
    VC_CHECK(vla_gguf_get_str(&g, "t.u32", &sv) == VLA_ERR_FORMAT);
    VC_CHECK(vla_gguf_get_kv(&g, "t.arr_i32", &kv) == VLA_OK && kv.type == VLA_GGUF_ARRAY &&
             kv.arr_type == VLA_GGUF_I32 && kv.arr_n == 5 && kv.val_bytes == 20 && kv.val[4] == 0xfe && kv.val[5] == 0xff);
    VC_CHECK(vla_gguf_get_kv(&g, "t.arr_str", &kv) == VLA_OK && kv.arr_type == VLA_GGUF_STRING && kv.arr_n == 3);
    pos = 0;
    for (i = 0; i < 3; i++)
        VC_CHECKF(vla_gguf_arr_next_str(&kv, &pos, &sv) && sv.n == items[i].n && memcmp(sv.s, items[i].s, sv.n) == 0,
                  "string array item %d", i);
    VC_CHECK(!vla_gguf_arr_next_str(&kv, &pos, &sv));

    {
        static const char *names[5] = {"a.f32", "b.f16", "c.q8", "d.i32", "e.one"};
        const void *src[5];
        static const uint64_t bytes[5] = {60, 14, 4 * VLA_Q8_0_BYTES, 12, 4};
        src[0] = tf; src[1] = th; src[2] = tq; src[3] = ti; src[4] = one;
        for (i = 0; i < 5; i++) {
            st = vla_gguf_get_tensor(&g, names[i], &t);
            VC_CHECKF(st == VLA_OK && t.nbytes == bytes[i] && memcmp(t.data, src[i], (size_t)bytes[i]) == 0,
                      "tensor %s read back", names[i]);
            VC_CHECKF(st == VLA_OK && (uintptr_t)t.data % 64 == 0 && (const unsigned char *)t.data >= sink.buf &&
                          (const unsigned char *)t.data + t.nbytes <= sink.buf + sink.n,
                      "tensor %s: zero-copy pointer inside the buffer, 64-byte aligned", names[i]);
        }
        VC_CHECK(vla_gguf_get_tensor(&g, "c.q8", &t) == VLA_OK && vla_tensor_as_mat(&t, &m) == VLA_OK &&
                 m.type == VLA_TYPE_Q8_0 && m.rows == 2 && m.cols == 64);
        VC_CHECK(vla_gguf_get_tensor(&g, "a.f32", &t) == VLA_OK && t.n_dims == 2 && t.ne[0] == 5 && t.ne[1] == 3);
        VC_CHECK(vla_gguf_get_tensor(&g, "missing", &t) == VLA_ERR_NOT_FOUND);
    }

    /* A measuring open validates and counts; look-ups still work. */
    vla_arena_init_measure(&meas);
    VC_CHECK(vla_gguf_open(&g, sink.buf, sink.n, &meas) == VLA_OK);
    VC_CHECK(vla_gguf_get_tensor(&g, "b.f16", &t) == VLA_OK && memcmp(t.data, th, 14) == 0);
    {
        /* ... and the count is enough for a real open. */
        vla_arena exact;
        vt_sub_arena(&exact, vla_arena_get_stats(&meas).peak);
        VC_CHECK(vla_gguf_open(&g, sink.buf, sink.n, &exact) == VLA_OK);
    }

    /* Hostile variants: truncated, bad magic, bad version, huge counts. */
    {
        vla_arena ha;
        size_t cuts[6];
        int c;
        vla_gguf g2;
        cuts[0] = 0; cuts[1] = 3; cuts[2] = 23; cuts[3] = 40; cuts[4] = g.blob_offset; cuts[5] = g.blob_offset - 1;
        bad = (unsigned char *)vt_alloc(sink.n, 0);
        vt_sub_arena(&ha, 8192);
        for (c = 0; c < 6; c++) {
            vla_arena_init(&ha, ha.base, ha.size);
            st = vla_gguf_open(&g2, sink.buf, cuts[c], &ha);
            VC_CHECKF(st != VLA_OK, "a file cut at %lu bytes was accepted", (unsigned long)cuts[c]);
        }
        memcpy(bad, sink.buf, sink.n);
        bad[0] = 'X';
        vla_arena_init(&ha, ha.base, ha.size);
        VC_CHECK(vla_gguf_open(&g2, bad, sink.n, &ha) == VLA_ERR_FORMAT);
        memcpy(bad, sink.buf, sink.n);
        bad[4] = 99;
        vla_arena_init(&ha, ha.base, ha.size);
        VC_CHECK(vla_gguf_open(&g2, bad, sink.n, &ha) == VLA_ERR_VERSION);
        memcpy(bad, sink.buf, sink.n);
        bad[8 + 7] = 0x40; /* n_tensors = 2^62 + 5 */
        vla_arena_init(&ha, ha.base, ha.size);
        VC_CHECK(vla_gguf_open(&g2, bad, sink.n, &ha) == VLA_ERR_FORMAT);
        memcpy(bad, sink.buf, sink.n);
        bad[16 + 3] = 0x01; /* n_kv = 2^24 + 9 */
        vla_arena_init(&ha, ha.base, ha.size);
        VC_CHECK(vla_gguf_open(&g2, bad, sink.n, &ha) == VLA_ERR_FORMAT);
    }
    VT_CHECK_GUARDS("gguf wrote past a buffer");
    vt_end(mk);
}

/* ==========================================================================
 * SECTION: flash_model - the tiny CLIP-BART linked in as const data, used in
 * place: pixels -> preprocess -> CLIP -> encoder -> greedy / beam search,
 * with and without its adapter, against the build machine's results
 * ========================================================================== */

#if !defined(VLA_TEST_NO_FLASH_MODEL)
/* Generated at build time: gen_tiny_model writes the two GGUF files,
 * tools/vla-embed turns each into a C array (see tests/cross.mk). */
extern const unsigned char vla_tiny_model[];
extern const size_t vla_tiny_model_size;
extern const unsigned char vla_tiny_adapter[];
extern const size_t vla_tiny_adapter_size;

/* Relative tolerance of the float outputs (grid features, encoder output,
 * logits; values of order 1..10) against the build machine's reference run:
 * fp32 sums in another order, another libm, FMA contraction (clang).  The
 * whole matrix stays below 2.6e-6 (README "Supported targets"), so this is
 * about 20 times that; the ids must match exactly regardless. */
#define VT_TINY_TOL 5e-5

static tiny_out vt_tiny_run, vt_tiny_alt; /* ~40 KB each: .bss, not stack */
static tiny_task_out vt_tiny_task;

static int vt_inside(const void *p, size_t n, const unsigned char *base, size_t size) {
    const unsigned char *c = (const unsigned char *)p;
    return c >= base && n <= size && c - base <= (ptrdiff_t)(size - n);
}

/* The array is 64-byte aligned and (bare metal) inside the board's flash. */
static void vt_check_placement(const char *what, const unsigned char *img, size_t size) {
    VC_CHECKF((uintptr_t)img % TINY_ALIGN == 0, "embedded %s at %p is not %d-byte aligned", what, (const void *)img, TINY_ALIGN);
#if defined(VLA_BOARD_FLASH_BASE) && defined(VLA_BOARD_FLASH_SIZE)
    /* unsigned wrap-around turns "below the base" into "too far" */
    VC_CHECKF((uintptr_t)img - (uintptr_t)(VLA_BOARD_FLASH_BASE) <= (uintptr_t)(VLA_BOARD_FLASH_SIZE) - size,
              "embedded %s at %p is not in the board's flash", what, (const void *)img);
#else
    (void)size;
#endif
}

static double vt_cmp_floats(const char *what, const char *against, const float *got, const float *want, size_t n, double tol) {
    vc_cmp c;
    size_t i;
    vc_cmp_init(&c);
    for (i = 0; i < n; i++) vc_cmp_add(&c, (long)i, got[i], want[i], tol * (1.0 + vt_fabs(want[i])));
    VC_CHECK_CMP(&c, "tiny model %s vs %s", what, against);
    return c.worst_ratio * tol;
}

static void vt_print_ids(const char *what, const int32_t *ids, int n) {
    int i;
    printf("    %s:", what);
    for (i = 0; i < n; i++) printf(" %d", (int)ids[i]);
    printf("\n");
}

static void vt_check_ids(const char *what, const char *against, const int32_t *got, int got_n, const int32_t *want, int want_n) {
    int ok = got_n == want_n && memcmp(got, want, sizeof(int32_t) * (size_t)want_n) == 0;
    if (!VC_CHECKF(ok, "tiny model %s ids differ from %s", what, against) && vc_printed()) {
        vt_print_ids("got ", got, got_n);
        vt_print_ids("want", want, want_n);
    }
}

/* What the build machine stored in the model file. */
typedef struct vt_tiny_expect {
    uint64_t pix_hash;
    int32_t ids[3][TINY_T]; /* TINY_BASE, TINY_ADAPTER, TINY_BEAM */
    int len[3];
    float beam_score;
    const float *grid, *enc, *logits[2];
} vt_tiny_expect;

static int vt_tiny_expectations(const vla_gguf *g, vt_tiny_expect *e) {
    static const char *keys[3] = {"vladapter.tiny.ids.base", "vladapter.tiny.ids.adapter", "vladapter.tiny.ids.beam"};
    uint32_t version = 0;
    int k, ok = 1;
    memset(e, 0, sizeof *e);
    ok &= VC_CHECKF(vla_gguf_get_u32(g, "vladapter.tiny.version", &version) == VLA_OK && version == TINY_VERSION,
                    "tiny model file version %lu, this test reads %d", (unsigned long)version, TINY_VERSION);
    ok &= VC_CHECK(tiny_get_u64(g, "vladapter.tiny.pixel_hash", &e->pix_hash) == VLA_OK);
    for (k = 0; k < 3; k++) ok &= VC_CHECKF(tiny_get_ids(g, keys[k], e->ids[k], TINY_T, &e->len[k]) == VLA_OK, "%s", keys[k]);
    ok &= VC_CHECK(vla_gguf_get_f32(g, "vladapter.tiny.beam_score", &e->beam_score) == VLA_OK);
    if (!ok) return 0;
    e->grid = tiny_get_floats(g, "tiny.expect.grid", (size_t)TINY_GRID * TINY_GRID * TINY_FEAT);
    e->enc = tiny_get_floats(g, "tiny.expect.enc", (size_t)TINY_L * TINY_D);
    e->logits[0] = tiny_get_floats(g, "tiny.expect.logits.base", (size_t)e->len[0] * TINY_VOCAB);
    e->logits[1] = tiny_get_floats(g, "tiny.expect.logits.adapter", (size_t)e->len[1] * TINY_VOCAB);
    return VC_CHECK(e->grid && e->enc && e->logits[0] && e->logits[1]);
}

/* Everything one run must satisfy on its own; then its outputs against
 * the expectations (ids exactly, floats within tol).  Returns the largest
 * relative float error seen. */
static double vt_tiny_check(const char *what, const tiny_out *o, const vt_tiny_expect *e, double tol) {
    static const char *names[3] = {"greedy (base)", "greedy (adapter)", "beam (adapter)"};
    char label[96];
    double worst = 0.0, w;
    int k;
    if (!VC_CHECKF(o->st == VLA_OK, "tiny model, %s: %s failed: %s", what, o->stage, vla_status_str(o->st))) return 0.0;
    VC_CHECKF(o->pix_hash == e->pix_hash, "tiny model, %s: preprocessed image differs from the build machine's (hash)", what);
    /* the size query is exactly what the context used, and nothing more */
    VC_CHECKF(o->ctx_stats.peak + VLA_ALIGN == o->ctx_need, "tiny model, %s: context peak %lu + %d != vla_ctx_mem_req %lu",
              what, (unsigned long)o->ctx_stats.peak, VLA_ALIGN, (unsigned long)o->ctx_need);
    /* switching the adapter off again gives the base model, bit for bit */
    VC_CHECKF(o->len[TINY_BASE2] == o->len[TINY_BASE] &&
                  memcmp(o->ids[TINY_BASE2], o->ids[TINY_BASE], sizeof(int32_t) * (size_t)o->len[TINY_BASE]) == 0 &&
                  memcmp(o->logits[2], o->logits[0], sizeof(float) * (size_t)o->len[TINY_BASE] * TINY_VOCAB) == 0,
              "tiny model, %s: base model after detaching the adapter is not the same", what);
    for (k = 0; k < 3; k++) {
        snprintf(label, sizeof label, "%s %s", what, names[k]);
        vt_check_ids(label, "the build machine's", o->ids[k], o->len[k], e->ids[k], e->len[k]);
    }
    snprintf(label, sizeof label, "%s CLIP grid", what);
    w = vt_cmp_floats(label, "the build machine", o->grid, e->grid, (size_t)TINY_GRID * TINY_GRID * TINY_FEAT, tol);
    if (w > worst) worst = w;
    snprintf(label, sizeof label, "%s encoder output", what);
    w = vt_cmp_floats(label, "the build machine", o->enc, e->enc, (size_t)TINY_L * TINY_D, tol);
    if (w > worst) worst = w;
    for (k = 0; k < 2; k++) {
        if (o->len[k] != e->len[k]) continue; /* reported with the ids */
        snprintf(label, sizeof label, "%s logits %s", what, names[k]);
        w = vt_cmp_floats(label, "the build machine", o->logits[k], e->logits[k], (size_t)e->len[k] * TINY_VOCAB, tol);
        if (w > worst) worst = w;
    }
    VC_CHECKF(vt_fabs(o->beam_score - e->beam_score) <= tol * (1.0 + vt_fabs(e->beam_score)),
              "tiny model, %s: beam score %.9g, build machine %.9g", what, o->beam_score, e->beam_score);
    return worst;
}

static void test_flash_model(void) {
    vt_mark mk = vt_begin();
    const unsigned char *img = vla_tiny_model, *aimg = vla_tiny_adapter;
    size_t size = vla_tiny_model_size, asize = vla_tiny_adapter_size, need, aneed, rneed = 0, tneed = 0;
    const vla_hparams *hp;
    vla_model *m = NULL, *m2 = NULL;
    vla_adapter *ad = NULL;
    vla_tensor t;
    vla_str nm, prefix;
    vla_gen_params preset;
    vt_tiny_expect e;
    vla_arena ra;
    vla_status st;
    double worst_fast, worst_ref = 0.0, worst_mt = 0.0;
    unsigned char *mem;
    vc_section("flash_model");
    vt_check_placement("model", img, size);
    vt_check_placement("adapter", aimg, asize);

    /* model: size query, then exactly that much memory (a byte less than
     * the query's peak fails: the query is tight) */
    st = vla_model_mem_req(img, size, &need);
    if (!VC_CHECKF(st == VLA_OK, "vla_model_mem_req: %s", vla_status_str(st))) { vt_end(mk); return; }
    mem = (unsigned char *)vt_alloc(need, 0);
    VC_CHECK(vla_model_init(&m2, mem, need - VLA_ALIGN - 1, img, size, NULL) == VLA_ERR_NOMEM);
    st = vla_model_init(&m, mem, need, img, size, NULL);
    if (!VC_CHECKF(st == VLA_OK, "vla_model_init in place: %s", vla_status_str(st))) { vt_end(mk); return; }
    hp = vla_model_hparams(m);
    VC_CHECKF(hp->has_bart && hp->has_visual && hp->has_clip && hp->clip_width == TINY_CLIP_WIDTH && hp->clip_image_size == TINY_S &&
                  hp->feat_dim == TINY_FEAT && hp->clip_out_ch == TINY_FEAT && hp->n_boxes == TINY_NBOX && hp->pool_h == TINY_POOL &&
                  hp->d_model == TINY_D && hp->vocab == TINY_VOCAB && hp->n_enc_layers == TINY_ENC_LAYERS &&
                  hp->n_dec_layers == TINY_DEC_LAYERS,
              "tiny model hyperparameters are not the ones tiny_model.h describes");
    /* zero copy: weights of every storage type point into the array */
    VC_CHECK(vla_gguf_get_tensor(vla_model_gguf(m), "shared.weight", &t) == VLA_OK && vt_inside(t.data, (size_t)t.nbytes, img, size) &&
             (uintptr_t)t.data % 64 == 0);
    VC_CHECK(vla_gguf_get_tensor(vla_model_gguf(m), "visual.layer4.0.conv1.weight", &t) == VLA_OK && t.type == VLA_TYPE_Q8_0 &&
             vt_inside(t.data, (size_t)t.nbytes, img, size));
    VC_CHECK(vla_gguf_get_tensor(vla_model_gguf(m), "decoder.layers.1.fc1.weight", &t) == VLA_OK && t.type == VLA_TYPE_F16 &&
             vt_inside(t.data, (size_t)t.nbytes, img, size));

    /* adapter: the same pattern, from the second array */
    st = vla_adapter_mem_req(m, aimg, asize, &aneed);
    if (!VC_CHECKF(st == VLA_OK, "vla_adapter_mem_req: %s", vla_status_str(st))) { vt_end(mk); return; }
    mem = (unsigned char *)vt_alloc(aneed, 0);
    VC_CHECK(vla_adapter_attach(&ad, m, mem, aneed - VLA_ALIGN - 1, aimg, asize, NULL) == VLA_ERR_NOMEM);
    st = vla_adapter_attach(&ad, m, mem, aneed, aimg, asize, NULL);
    if (!VC_CHECKF(st == VLA_OK, "vla_adapter_attach in place: %s", vla_status_str(st))) { vt_end(mk); return; }
    VC_CHECK(strcmp(vla_adapter_method(ad), "adapter") == 0 && vla_adapter_n_tasks(ad) == 1 && vla_adapter_find_task(ad, TINY_TASK) == 0);
    VC_CHECK(vla_adapter_task(ad, 0, &nm, &prefix, &preset) == VLA_OK && vt_str_is(prefix, "vqa: "));
    VC_CHECK(vla_adapter_max_dim(ad) == TINY_ADAPTER_DIM && vla_adapter_prompt_len(ad) == 0);

    if (!vt_tiny_expectations(vla_model_gguf(m), &e)) { vt_end(mk); return; }
    VC_CHECK(vt_inside(e.grid, sizeof(float) * TINY_GRID * TINY_GRID * TINY_FEAT, img, size));

    /* 1. this target's fast kernels, one task */
    st = tiny_run_bytes(m, ad, vt_exec(1, 0), &rneed);
    if (!VC_CHECKF(st == VLA_OK, "tiny_run_bytes: %s", vla_status_str(st))) { vt_end(mk); return; }
    st = tiny_task_bytes(m, ad, vt_exec(1, 0), &tneed);
    if (!VC_CHECKF(st == VLA_OK, "tiny_task_bytes: %s", vla_status_str(st))) { vt_end(mk); return; }
    vt_sub_arena(&ra, rneed > tneed ? rneed : tneed);
    tiny_run(m, ad, vt_exec(1, 0), &ra, &vt_tiny_run);
    worst_fast = vt_tiny_check("fast kernels", &vt_tiny_run, &e, VT_TINY_TOL);
    /* 2. this target's reference kernels */
    tiny_run(m, ad, vt_exec(1, 1), &ra, &vt_tiny_alt);
    worst_ref = vt_tiny_check("reference kernels", &vt_tiny_alt, &e, VT_TINY_TOL);
    /* 3. fast kernels split into 2 tasks: the same ids, floats within
     * rounding of run 1 (on the build machine only: a third CLIP run costs
     * seconds under QEMU, and the linear/conv sections already split work
     * on every target) */
    if (VLA_TEST_WORK >= 8) tiny_run(m, ad, vt_exec(2, 0), &ra, &vt_tiny_alt);
    if (VLA_TEST_WORK >= 8 && VC_CHECKF(vt_tiny_alt.st == VLA_OK, "tiny model, 2 tasks: %s failed: %s", vt_tiny_alt.stage, vla_status_str(vt_tiny_alt.st))) {
        int k;
        for (k = 0; k < TINY_N_RUNS; k++)
            vt_check_ids("2 tasks", "1 task", vt_tiny_alt.ids[k], vt_tiny_alt.len[k], vt_tiny_run.ids[k], vt_tiny_run.len[k]);
        worst_mt = vt_cmp_floats("2 tasks logits", "1 task", vt_tiny_alt.logits[1], vt_tiny_run.logits[1],
                                 (size_t)vt_tiny_run.len[TINY_ADAPTER] * TINY_VOCAB, VT_TINY_TOL);
        vt_cmp_floats("2 tasks CLIP grid", "1 task", vt_tiny_alt.grid, vt_tiny_run.grid, (size_t)TINY_GRID * TINY_GRID * TINY_FEAT,
                      VT_TINY_TOL);
    }
    /* 4. the task-level call on the same request (the model file's
     * tokenizer, the adapter's "vqa: " prefix + TINY_QUESTION): the
     * request's ids in, the build machine's greedy adapter ids out */
    tiny_task_run(m, ad, vt_exec(1, 0), &ra, &vt_tiny_task);
    if (VC_CHECKF(vt_tiny_task.st == VLA_OK, "tiny model, vla_answer: %s", vla_status_str(vt_tiny_task.st))) {
        char want[128];
        size_t wl = 0;
        vt_check_ids("vla_answer encoder text", "the request", vt_tiny_task.in, vt_tiny_task.n_in, tiny_text_ids, TINY_LT);
        vt_check_ids("vla_answer", "the build machine's greedy adapter run", vt_tiny_task.out, vt_tiny_task.n_out, e.ids[TINY_ADAPTER],
                     e.len[TINY_ADAPTER]);
        VC_CHECK(vla_detokenize(vla_model_tokenizer(m), e.ids[TINY_ADAPTER], e.len[TINY_ADAPTER], 1, 1, want, sizeof want, &wl) == VLA_OK &&
                 strcmp(want, vt_tiny_task.text) == 0);
        VC_CHECKF(vt_tiny_task.stats.peak + VLA_ALIGN == vt_tiny_task.need, "vla_answer context peak %lu + %d != size query %lu",
                  (unsigned long)vt_tiny_task.stats.peak, VLA_ALIGN, (unsigned long)vt_tiny_task.need);
    }
    VT_CHECK_GUARDS("flash model wrote past a buffer");
    vla_adapter_detach(ad);
    /* one line per target for parts/README-targets.md (tolerance budget) */
    printf("flash_model: model %lu + adapter %lu bytes in %s; arena: model %lu, adapter %lu, context %lu bytes; "
           "vla_answer context %lu bytes; largest relative error: fast %.2g, reference %.2g",
           (unsigned long)size, (unsigned long)asize,
#if defined(VLA_BOARD_FLASH_BASE)
           "flash",
#else
           "rodata",
#endif
           (unsigned long)need, (unsigned long)aneed, (unsigned long)vt_tiny_run.ctx_need, (unsigned long)vt_tiny_task.need, worst_fast,
           worst_ref);
    if (VLA_TEST_WORK >= 8) printf(", 2 tasks vs 1 %.2g", worst_mt);
    printf("\n");
    vt_end(mk);
}

/* ==========================================================================
 * SECTION: flash_train - two AdamW steps of the tiny model's adapter with
 * the frozen base in flash, against the build machine's reference run
 * ========================================================================== */

/* Tolerance of a trained value.  What is compared is the update each value
 * received, w - w0, against the build machine's, in units of the summed
 * learning rates of the two steps (lr_0 + lr_1 = 1.5e-3: about what a value
 * moves).  A raw relative error would be the wrong measure: AdamW divides
 * by sqrt(v), so the first update is lr g / (|g| + c) with c = eps /
 * sqrt(1 - beta2) = 3.2e-5, about lr sign(g) whatever the size of g.  An
 * absolute error e of g moves it by at most lr e / c, so the gradients of
 * size ~c, whose last bits differ with the summation order, FMA and the
 * libm, are the ones that move: the whole matrix stays below 1.9e-4 of a
 * step (measured against the build machine's exact values; about 7% of the
 * values differ at all, the scalar build's reference run is bit-identical).
 * TINY_TRAIN_TOL = 2e-3 of a step is ten times that, and below what an
 * error costs: a flipped gradient sign moves a value by ~2 steps, a lost
 * gradient by ~1, a lost weight decay by lr wd |w| (1e-2 |w| of a step:
 * caught for |w| > 0.2, most adapter weights).  Each element's tolerance
 * also gets the F16 rounding of the stored delta (2^-12 of it).  Gradient
 * scale errors that AdamW normalises away show in the per-tensor gradient
 * norms, errors of the forward pass in the losses (VT_TINY_TOL). */
#define VT_TRAIN_TOL TINY_TRAIN_TOL
/* Per-tensor L2 norm of the last step's (clipped) gradient, relative.  The
 * second step's gradient is taken at values that already differ by up to
 * ~2e-4 of a step (3e-7), and its sums run in other orders: the whole
 * matrix stays below 1.3e-6 (norms add squares, no cancellation), and a
 * tensor whose gradient is off by a factor moves by that factor. */
#define VT_TRAIN_GNORM_TOL 1e-4
#define VT_TRAIN_MAX_TENSORS 128

/* What the build machine stored in the model file. */
typedef struct vt_train_expect {
    uint64_t adapter_hash, value_hash;
    vla_gguf_kv names;                /* string array, trainer order       */
    int n_tensors;
    size_t n_params;
    float loss[TINY_TRAIN_STEPS + 1], lr[TINY_TRAIN_STEPS];
    const unsigned char *delta;       /* F16 [n_params]: w - w0            */
    const float *gnorm;               /* [n_tensors]                       */
    const float *grid;                /* the chain's CLIP grid (the input) */
} vt_train_expect;

static int vt_train_expectations(const vla_gguf *g, vt_train_expect *e) {
    uint32_t version = 0;
    int ok = 1;
    memset(e, 0, sizeof *e);
    ok &= VC_CHECKF(vla_gguf_get_u32(g, "vladapter.tiny.version", &version) == VLA_OK && version == TINY_VERSION,
                    "tiny model file version %lu, this test reads %d", (unsigned long)version, TINY_VERSION);
    ok &= VC_CHECK(tiny_get_u64(g, "vladapter.tiny.train.adapter_hash", &e->adapter_hash) == VLA_OK);
    ok &= VC_CHECK(tiny_get_u64(g, "vladapter.tiny.train.value_hash", &e->value_hash) == VLA_OK);
    ok &= VC_CHECK(vla_gguf_get_kv(g, "vladapter.tiny.train.names", &e->names) == VLA_OK && e->names.type == VLA_GGUF_ARRAY &&
                   e->names.arr_type == VLA_GGUF_STRING && e->names.arr_n >= 1 && e->names.arr_n <= VT_TRAIN_MAX_TENSORS);
    ok &= VC_CHECK(tiny_get_f32s(g, "vladapter.tiny.train.loss", e->loss, TINY_TRAIN_STEPS + 1) == VLA_OK);
    ok &= VC_CHECK(tiny_get_f32s(g, "vladapter.tiny.train.lr", e->lr, TINY_TRAIN_STEPS) == VLA_OK);
    if (!ok) return 0;
    e->n_tensors = (int)e->names.arr_n;
    {
        vla_tensor t;
        if (!VC_CHECK(vla_gguf_get_tensor(g, "tiny.expect.train.delta", &t) == VLA_OK && t.type == VLA_TYPE_F16 && t.n_dims == 1))
            return 0;
        e->n_params = (size_t)t.ne[0];
        e->delta = (const unsigned char *)t.data;
    }
    e->gnorm = (const float *)tiny_get_typed(g, "tiny.expect.train.grad_norm", VLA_TYPE_F32, (size_t)e->n_tensors);
    e->grid = tiny_get_floats(g, "tiny.expect.grid", (size_t)TINY_GRID * TINY_GRID * TINY_FEAT);
    return VC_CHECK(e->gnorm && e->grid);
}

static float vt_f16_at(const unsigned char *p, size_t i) { return vla_fp16_to_fp32((uint16_t)(p[2 * i] | p[2 * i + 1] << 8)); }

/* The trainer's tensors, in order, have the names and sizes the build
 * machine's had (sum: n_params). */
static int vt_train_layout_ok(const char *what, const vla_trainer *t, const vt_train_expect *e) {
    size_t pos = 0, total = 0;
    int i, ok = VC_CHECKF(vla_trainer_n_tensors(t) == e->n_tensors && vla_trainer_n_params(t) == e->n_params,
                          "tiny training, %s: %d tensors / %lu floats, the build machine had %d / %lu", what, vla_trainer_n_tensors(t),
                          (unsigned long)vla_trainer_n_params(t), e->n_tensors, (unsigned long)e->n_params);
    for (i = 0; ok && i < e->n_tensors; i++) {
        vla_train_tensor x;
        vla_str want;
        ok = vla_trainer_tensor(t, i, &x) == VLA_OK && vla_gguf_arr_next_str(&e->names, &pos, &want) && vt_str_is(want, x.name);
        VC_CHECKF(ok, "tiny training, %s: trainable tensor %d is %s, the build machine's is %.*s", what, i, ok ? "" : x.name,
                  (int)want.n, want.s);
        total += x.n;
    }
    return ok && VC_CHECK(total == e->n_params);
}

/* The initial values: what the trainer copied must be the files' tensors
 * (the F32 adapter copy first, then the base model in flash), widened to
 * fp32 by the test's own reading of the files; w0 receives them. */
static void vt_train_init_ok(const char *what, const vla_trainer *t, const vla_gguf *ag, const vla_gguf *mg, float *w0) {
    int i, bad = 0;
    size_t off = 0;
    for (i = 0; i < vla_trainer_n_tensors(t); i++) {
        vla_train_tensor x;
        vla_tensor src;
        vla_trainer_tensor(t, i, &x);
        if ((vla_gguf_get_tensor(ag, x.name, &src) != VLA_OK && vla_gguf_get_tensor(mg, x.name, &src) != VLA_OK) ||
            tiny_tensor_f32(&src, w0 + off) != VLA_OK || memcmp(w0 + off, x.value, x.n * sizeof(float)) != 0) {
            if (!bad) VC_CHECKF(0, "tiny training, %s: initial values of %s are not the file's", what, x.name);
            bad = 1;
        }
        off += x.n;
    }
    if (!bad) VC_CHECK(1);
}

/* One run against the expectations: status, learning rates (exact), every
 * trainable value's update, every tensor's gradient norm, the losses; the
 * trainer's high-water mark equals its size query.  Returns the largest
 * update error as a fraction of its tolerance (the F16 rounding of the
 * stored delta, up to 6e-4 of a step, included: a finer measure is
 * value_hash, bit-identical or not). */
static double vt_train_check(const char *what, const tiny_train_out *o, const float *gnorm, const float *w0, const vt_train_expect *e,
                             double *worst_loss, int *identical) {
    double step = 0.0, worst = 0.0, tol;
    uint64_t h = TINY_FNV_BASIS;
    size_t off = 0, j;
    int i, k;
    vc_cmp cg;
    if (!VC_CHECKF(o->st == VLA_OK, "tiny training, %s: %s failed: %s", what, o->stage, vla_status_str(o->st))) return 0.0;
    VC_CHECKF(o->stats.peak + VLA_ALIGN == o->need, "tiny training, %s: trainer peak %lu + %d != vla_trainer_mem_req %lu", what,
              (unsigned long)o->stats.peak, VLA_ALIGN, (unsigned long)o->need);
    for (k = 0; k < TINY_TRAIN_STEPS; k++) {
        VC_CHECKF(o->lr[k] == e->lr[k], "tiny training, %s: step %d's lr %.9g, build machine %.9g", what, k, o->lr[k], e->lr[k]);
        step += e->lr[k];
    }
    for (k = 0; k <= TINY_TRAIN_STEPS; k++) {
        double r = vt_fabs(o->loss[k] - e->loss[k]) / (1.0 + vt_fabs(e->loss[k]));
        VC_CHECKF(r <= VT_TINY_TOL, "tiny training, %s: %s %d %.9g, build machine %.9g", what, k < TINY_TRAIN_STEPS ? "loss of step" : "loss after step",
                  k < TINY_TRAIN_STEPS ? k : k - 1, o->loss[k], e->loss[k]);
        if (r > *worst_loss) *worst_loss = r;
    }
    tol = VT_TRAIN_TOL * step;
    vc_cmp_init(&cg);
    for (i = 0; i < vla_trainer_n_tensors(o->t) && i < e->n_tensors; i++) {
        vla_train_tensor x;
        vc_cmp c;
        vla_trainer_tensor(o->t, i, &x);
        vc_cmp_init(&c);
        for (j = 0; j < x.n; j++) {
            double want = vt_f16_at(e->delta, off + j), got = (double)x.value[j] - (double)w0[off + j];
            /* + the F16 rounding of the stored delta (half an ulp, 2^-12
             * relative; 2^-25 absolute in F16's subnormal range) */
            vc_cmp_add(&c, (long)j, got, want, tol + vt_fabs(want) * (1.0 / 2048.0) + 3e-8);
        }
        VC_CHECK_CMP(&c, "tiny training, %s: update of %s (w - w0) vs the build machine's", what, x.name);
        if (c.worst_ratio > worst) worst = c.worst_ratio;
        h = tiny_hash_floats_from(h, x.value, x.n);
        VC_CHECKF(gnorm[i] >= 0.0f, "tiny training, %s: %s got no gradient in the last step", what, x.name);
        vc_cmp_add(&cg, i, gnorm[i], e->gnorm[i], VT_TRAIN_GNORM_TOL * e->gnorm[i]);
        off += x.n;
    }
    VC_CHECK_CMP(&cg, "tiny training, %s: per-tensor gradient norms of the last step vs the build machine's", what);
    *identical = h == e->value_hash;
    return worst;
}

/* Gradient norms of every tensor after the steps (read before
 * vla_trainer_loss, which clears gradients); -1 for a tensor the last
 * backward pass did not reach. */
static void vt_train_gnorms(const vla_trainer *t, float *gnorm) {
    int i;
    for (i = 0; i < vla_trainer_n_tensors(t) && i < VT_TRAIN_MAX_TENSORS; i++) {
        vla_train_tensor x;
        vla_trainer_tensor(t, i, &x);
        gnorm[i] = x.has_grad ? (float)tiny_norm(x.grad, x.n) : -1.0f;
    }
}

/* recompute = 1 against recompute = 0 on this target: bit for bit. */
static void vt_train_same(const tiny_train_out *a, const tiny_train_out *b) {
    int i, same = 1;
    for (i = 0; i < vla_trainer_n_tensors(a->t) && i < vla_trainer_n_tensors(b->t); i++) {
        vla_train_tensor x, y;
        vla_trainer_tensor(a->t, i, &x);
        vla_trainer_tensor(b->t, i, &y);
        if (x.n != y.n || memcmp(x.value, y.value, x.n * 4) || memcmp(x.m, y.m, x.n * 4) || memcmp(x.v, y.v, x.n * 4)) {
            if (same) VC_CHECKF(0, "tiny training: recompute = 1 gives other values / moments than recompute = 0 (%s)", x.name);
            same = 0;
        }
    }
    if (same) VC_CHECK(1);
    VC_CHECKF(vla_trainer_n_tensors(a->t) == vla_trainer_n_tensors(b->t) && memcmp(a->loss, b->loss, sizeof a->loss) == 0 &&
                  memcmp(a->lr, b->lr, sizeof a->lr) == 0,
              "tiny training: recompute = 1 gives other losses (%.9g %.9g %.9g) than recompute = 0 (%.9g %.9g %.9g)", b->loss[0],
              b->loss[1], b->loss[2], a->loss[0], a->loss[1], a->loss[2]);
}

static tiny_train_out vt_tr_a, vt_tr_b;

static void test_flash_train(void) {
    vt_mark mk = vt_begin();
    size_t need, fsize = 0, need_rec;
    const unsigned char *f32 = NULL;
    vla_model *m = NULL;
    vla_gguf ag;
    vla_arena ca;
    vt_train_expect e;
    float *input, *w0, gn_a[VT_TRAIN_MAX_TENSORS], gn_b[VT_TRAIN_MAX_TENSORS], gn_c[VT_TRAIN_MAX_TENSORS];
    double worst_fast, worst_ref, worst_loss = 0.0;
    int same_fast = 0, same_ref = 0, nt;
    unsigned char *mem, *mem_b;
    vla_status st;
    vc_section("flash_train");

    st = vla_model_mem_req(vla_tiny_model, vla_tiny_model_size, &need);
    mem = st == VLA_OK ? (unsigned char *)vt_alloc(need, 0) : NULL;
    if (st == VLA_OK) st = vla_model_init(&m, mem, need, vla_tiny_model, vla_tiny_model_size, NULL);
    if (!VC_CHECKF(st == VLA_OK, "tiny model in place: %s", vla_status_str(st))) { vt_end(mk); return; }
    if (!vt_train_expectations(vla_model_gguf(m), &e)) { vt_end(mk); return; }

    /* the flash adapter widened to F32 (the trainer's initial values): the
     * same bytes as on the build machine */
    vt_sub_arena(&ca, TINY_ADAPTER_F32_ARENA);
    st = tiny_adapter_f32(vla_tiny_adapter, vla_tiny_adapter_size, &ca, &f32, &fsize);
    if (!VC_CHECKF(st == VLA_OK, "tiny_adapter_f32: %s", vla_status_str(st))) { vt_end(mk); return; }
    VC_CHECKF(tiny_hash_bytes(f32, fsize) == e.adapter_hash, "the F32 adapter copy differs from the build machine's (hash)");
    st = vla_gguf_open(&ag, f32, fsize, &ca);
    if (!VC_CHECKF(st == VLA_OK, "F32 adapter copy: %s", vla_status_str(st))) { vt_end(mk); return; }

    input = vt_floats(TINY_TRAIN_INPUT, 0);
    tiny_train_input(input, e.grid);
    w0 = vt_floats(e.n_params ? e.n_params : 1, 0);

    /* 1. fast kernels; the memory is exactly the size query (a byte less
     * than its peak fails) */
    st = tiny_train_need(m, f32, fsize, vt_exec(1, 0), 0, &need);
    if (!VC_CHECKF(st == VLA_OK, "vla_trainer_mem_req: %s", vla_status_str(st))) { vt_end(mk); return; }
    mem = (unsigned char *)vt_alloc(need, 0);
    VC_CHECK(tiny_train_init(m, f32, fsize, vt_exec(1, 0), 0, mem, need - VLA_ALIGN - 1, &vt_tr_a) == VLA_ERR_NOMEM);
    st = tiny_train_init(m, f32, fsize, vt_exec(1, 0), 0, mem, need, &vt_tr_a);
    if (!VC_CHECKF(st == VLA_OK, "tiny training: %s: %s", vt_tr_a.stage, vla_status_str(st))) { vt_end(mk); return; }
    if (!vt_train_layout_ok("fast kernels", vt_tr_a.t, &e)) { vt_end(mk); return; }
    vt_train_init_ok("fast kernels", vt_tr_a.t, &ag, vla_model_gguf(m), w0);
    tiny_train_steps(input, &vt_tr_a);
    vt_train_gnorms(vt_tr_a.t, gn_a);
    tiny_train_eval(input, &vt_tr_a);
    worst_fast = vt_train_check("fast kernels", &vt_tr_a, gn_a, w0, &e, &worst_loss, &same_fast);
    /* the loss-only pass left the last step's gradients alone */
    nt = vla_trainer_n_tensors(vt_tr_a.t);
    vt_train_gnorms(vt_tr_a.t, gn_c);
    VC_CHECKF(nt <= VT_TRAIN_MAX_TENSORS && memcmp(gn_a, gn_c, sizeof(float) * (size_t)nt) == 0,
              "tiny training: vla_trainer_loss changed the gradients of the last step");

    /* 2. recompute = 1 (each layer's activations rebuilt during the
     * backward pass): the same numbers as 1, bit for bit */
    st = tiny_train_need(m, f32, fsize, vt_exec(1, 0), 1, &need_rec);
    if (!VC_CHECKF(st == VLA_OK, "vla_trainer_mem_req (recompute): %s", vla_status_str(st))) { vt_end(mk); return; }
    mem_b = (unsigned char *)vt_alloc(need_rec, 0);
    tiny_train_init(m, f32, fsize, vt_exec(1, 0), 1, mem_b, need_rec, &vt_tr_b);
    tiny_train_steps(input, &vt_tr_b);
    vt_train_gnorms(vt_tr_b.t, gn_b);
    tiny_train_eval(input, &vt_tr_b);
    if (VC_CHECKF(vt_tr_b.st == VLA_OK, "tiny training, recompute: %s failed: %s", vt_tr_b.stage, vla_status_str(vt_tr_b.st))) {
        VC_CHECKF(vt_tr_b.stats.peak + VLA_ALIGN == vt_tr_b.need, "tiny training, recompute: trainer peak %lu + %d != vla_trainer_mem_req %lu",
                  (unsigned long)vt_tr_b.stats.peak, VLA_ALIGN, (unsigned long)vt_tr_b.need);
        VC_CHECK(need_rec < vt_tr_a.need);
        if (vt_tr_a.st == VLA_OK) {
            vt_train_same(&vt_tr_a, &vt_tr_b);
            VC_CHECK(memcmp(gn_a, gn_b, sizeof(float) * (size_t)vla_trainer_n_tensors(vt_tr_a.t)) == 0);
        }
    }

    /* 3. this target's reference kernels, in the memory of run 1 */
    st = tiny_train_init(m, f32, fsize, vt_exec(1, 1), 0, mem, need, &vt_tr_a);
    if (!VC_CHECKF(st == VLA_OK, "tiny training, reference: %s: %s", vt_tr_a.stage, vla_status_str(st))) { vt_end(mk); return; }
    tiny_train_steps(input, &vt_tr_a);
    vt_train_gnorms(vt_tr_a.t, gn_a);
    tiny_train_eval(input, &vt_tr_a);
    worst_ref = vt_train_check("reference kernels", &vt_tr_a, gn_a, w0, &e, &worst_loss, &same_ref);
    VT_CHECK_GUARDS("flash train wrote past a buffer");

    /* one line per target for docs/targets.md */
    printf("flash_train: %d tensors, %lu floats, batch %d; trainer %lu bytes (recompute %lu), F32 adapter copy %lu bytes, "
           "section %lu bytes of arena; losses %.5g %.5g -> %.5g; largest update error / tolerance: fast %.2g%s, reference "
           "%.2g%s; loss %.2g\n",
           e.n_tensors, (unsigned long)e.n_params, TINY_TRAIN_B, (unsigned long)need, (unsigned long)need_rec, (unsigned long)fsize,
           (unsigned long)(mk.arena - vt_arena.hi), vt_tr_a.loss[0], vt_tr_a.loss[1], vt_tr_a.loss[2], worst_fast,
           same_fast ? " (bit-identical)" : "", worst_ref, same_ref ? " (bit-identical)" : "", worst_loss);
    vt_end(mk);
}
#endif

/* ========================================================================== */

int main(int argc, char **argv) {
    vc_init(argc, argv);
    printf("simd=%s\n", vla_simd_name());
    printf("target=%s (%s) arena=%lu work=%d\n", VLA_TEST_TARGET, VLA_BOARD_KIND, (unsigned long)VLA_TEST_ARENA_BYTES,
           VLA_TEST_WORK);
    vla_arena_init(&vt_arena, vt_arena_mem, sizeof vt_arena_mem);

    test_simd();
    test_fp16();
    test_q8_0();
    test_linear();
    test_i8();
    test_conv2d();
    test_attention();
    test_layernorm();
    test_softmax();
    test_activations();
    test_pools();
    test_embedding();
    test_bn_fold();
    test_arena();
    test_gguf();
#if !defined(VLA_TEST_NO_FLASH_MODEL)
    test_flash_model();
    test_flash_train();
#endif
    vc_selftest();
    return vc_summary();
}
