/* bench_peaks.c - this machine's own limits, measured: what `make bench`
 * prints first, so that every later figure can be read as a fraction of it.
 *
 *   cc -std=c99 -O2 -march=native tools/bench_peaks.c -o build/bench_peaks -lpthread
 *   build/bench_peaks [-q] [-t threads] [-o build/bench_peaks.tsv] [--loops]
 *
 * Three loops, each on 1 thread and on N threads (default: the online cpus):
 *   fp32 FMA    independent multiply-add chains in registers, the widest
 *               vectors of the build (AVX-512 if compiled for it, else
 *               AVX2+FMA; NEON on Arm; scalar otherwise).  GFLOP/s, one
 *               multiply-add = 2 flops.
 *   int8 dot    the 8-bit dot-product instruction the int8 kernels would use:
 *               VPDPBUSD on zmm (AVX512-VNNI), else VPDPBUSD on ymm
 *               (AVX-VNNI), else VPMADDUBSW + VPMADDWD + VPADDD (AVX2); SDOT
 *               (Armv8.2 dotprod), else SMULL + SMLAL + SADALP (NEON).
 *               GOP/s, one 8-bit multiply-add = 2 ops.
 *   read        the sum of a buffer much larger than the last-level cache
 *               (1 GiB; -q: 256 MiB), each thread summing its own slice.
 *               GB/s (10^9 bytes), best pass.
 * Each figure is the best of many timed trials (a peak: what the machine
 * can do when nothing else runs; other jobs only slow a trial down): fp32
 * and int8 400 trials of about 1 ms on each thread (-q: 100), the N-thread
 * figure the sum of the threads' best rates measured while all of them
 * run; read the fastest of 7 passes (-q: 3), all threads reading at once.
 * The load average is printed next to them.
 *
 * -o FILE writes "peak <tab> threads <tab> key <tab> value" lines (keys
 * fp32_gflops, int8_gops, read_gbs) for tools/bench.sh's later tables.
 * --loops prints which instruction each loop is built on, and exits.
 *
 * The loops are noinline functions named peak_fma_loop, peak_i8_loop and
 * peak_read_slice, so `objdump -d --no-show-raw-insn build/bench_peaks`
 * shows each one: the inner loop must be register-only multiply-adds (no
 * stack access: no spills) and, for the read loop, one load per vector.
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, sysconf under -std=c99 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

#if defined(__GNUC__) || defined(__clang__)
#define PEAK_NOINLINE __attribute__((noinline))
/* v must be in a register here and may have changed: stops the compiler
 * from hoisting loop-invariant work out of the timed loops. */
#define PEAK_OPAQUE_X(v) __asm__ volatile("" : "+x"(v))
#define PEAK_OPAQUE_W(v) __asm__ volatile("" : "+w"(v))
#else
#define PEAK_NOINLINE
#define PEAK_OPAQUE_X(v) ((void)0)
#define PEAK_OPAQUE_W(v) ((void)0)
#endif

/* ---- fp32 FMA: NACC independent accumulators, one vector FMA each per
 * iteration.  Latency 4 x 2 FMA pipes needs >= 8 chains in flight; 16
 * leaves headroom and fits the 32 registers of AVX-512 and AArch64 (12 on
 * the 16-register AVX2 and armv7 NEON). */
#if defined(__AVX512F__)
#define FMA_NAME "AVX-512 vfmadd231ps zmm, 16 chains"
#define FMA_LANES 16
#define FMA_NACC 16
typedef __m512 fvec;
#define FV_SET1(x) _mm512_set1_ps(x)
#define FV_FMA(c, a, b) _mm512_fmadd_ps(a, b, c)
#define FV_SUM(v) _mm512_reduce_add_ps(v)
#elif defined(__AVX2__) && defined(__FMA__)
#define FMA_NAME "AVX2 vfmadd231ps ymm, 12 chains"
#define FMA_LANES 8
#define FMA_NACC 12
typedef __m256 fvec;
#define FV_SET1(x) _mm256_set1_ps(x)
#define FV_FMA(c, a, b) _mm256_fmadd_ps(a, b, c)
static float fv_sum(__m256 v) {
    float t[8];
    int i;
    float s = 0.0f;
    _mm256_storeu_ps(t, v);
    for (i = 0; i < 8; i++) s += t[i];
    return s;
}
#define FV_SUM(v) fv_sum(v)
#elif defined(__ARM_NEON) && defined(__aarch64__)
#define FMA_NAME "NEON fmla v.4s, 16 chains"
#define FMA_LANES 4
#define FMA_NACC 16
typedef float32x4_t fvec;
#define FV_SET1(x) vdupq_n_f32(x)
#define FV_FMA(c, a, b) vfmaq_f32(c, a, b)
#define FV_SUM(v) vaddvq_f32(v)
#elif defined(__ARM_NEON)
#if defined(__ARM_FEATURE_FMA)
#define FMA_NAME "NEON vfma.f32 q, 12 chains"
#define FV_FMA(c, a, b) vfmaq_f32(c, a, b)
#else
#define FMA_NAME "NEON vmla.f32 q (no FMA in this build), 12 chains"
#define FV_FMA(c, a, b) vmlaq_f32(c, a, b)
#endif
#define FMA_LANES 4
#define FMA_NACC 12
typedef float32x4_t fvec;
#define FV_SET1(x) vdupq_n_f32(x)
#define FV_SUM(v) (vgetq_lane_f32(v, 0) + vgetq_lane_f32(v, 1) + vgetq_lane_f32(v, 2) + vgetq_lane_f32(v, 3))
#else
#define FMA_NAME "scalar float multiply-add (no SIMD in this build), 8 chains"
#define FMA_LANES 1
#define FMA_NACC 8
typedef float fvec;
#define FV_SET1(x) (x)
#define FV_FMA(c, a, b) ((c) + (a) * (b))
#define FV_SUM(v) (v)
#endif

/* Runs iters iterations of FMA_NACC multiply-adds of FMA_LANES lanes:
 * c = c * a + b converges to b / (1 - a) (no overflow, no denormals).
 * Returns the sum of the accumulators so that nothing is dead code. */
static PEAK_NOINLINE float peak_fma_loop(long iters) {
    const fvec a = FV_SET1(0.9999f), b = FV_SET1(0.0001f);
    fvec c[FMA_NACC];
    float s = 0.0f;
    long i;
    int j;
    for (j = 0; j < FMA_NACC; j++) c[j] = FV_SET1((float)j);
    for (i = 0; i < iters; i++) {
        /* spelled out so that each accumulator is its own register */
        c[0] = FV_FMA(c[0], a, b); c[1] = FV_FMA(c[1], a, b); c[2] = FV_FMA(c[2], a, b); c[3] = FV_FMA(c[3], a, b);
        c[4] = FV_FMA(c[4], a, b); c[5] = FV_FMA(c[5], a, b); c[6] = FV_FMA(c[6], a, b); c[7] = FV_FMA(c[7], a, b);
#if FMA_NACC >= 12
        c[8] = FV_FMA(c[8], a, b); c[9] = FV_FMA(c[9], a, b); c[10] = FV_FMA(c[10], a, b); c[11] = FV_FMA(c[11], a, b);
#endif
#if FMA_NACC >= 16
        c[12] = FV_FMA(c[12], a, b); c[13] = FV_FMA(c[13], a, b); c[14] = FV_FMA(c[14], a, b);
        c[15] = FV_FMA(c[15], a, b);
#endif
    }
    for (j = 0; j < FMA_NACC; j++) s += FV_SUM(c[j]);
    return s;
}
#define FMA_FLOPS_PER_ITER (2.0 * FMA_LANES * FMA_NACC)

/* ---- int8 dot products: I8_NACC chains of int32 accumulators; per
 * iteration each chain takes I8_MACS_PER_STEP 8-bit multiply-adds.  The
 * inputs go through PEAK_OPAQUE each iteration where a step has work that
 * does not depend on the accumulator (the AVX2 and SMULL forms). */
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
#define I8_NAME "AVX512-VNNI vpdpbusd zmm (u8 x s8), 12 chains"
#define I8_NACC 12
#define I8_MACS_PER_STEP 64
typedef __m512i ivec;
#define IV_ZERO() _mm512_setzero_si512()
#define IV_SET1(x) _mm512_set1_epi8(x)
#define IV_STEP(c, a, b) ((c) = _mm512_dpbusd_epi32(c, a, b))
#define IV_KEEP(v) PEAK_OPAQUE_X(v)
static int32_t iv_sum(__m512i v) { return (int32_t)_mm512_reduce_add_epi32(v); }
#elif defined(__AVXVNNI__)
#define I8_NAME "AVX-VNNI vpdpbusd ymm (u8 x s8), 12 chains"
#define I8_NACC 12
#define I8_MACS_PER_STEP 32
typedef __m256i ivec;
#define IV_ZERO() _mm256_setzero_si256()
#define IV_SET1(x) _mm256_set1_epi8(x)
#define IV_STEP(c, a, b) ((c) = _mm256_dpbusd_avx_epi32(c, a, b))
#define IV_KEEP(v) PEAK_OPAQUE_X(v)
#define I8_SUM256 1
#elif defined(__AVX2__)
#define I8_NAME "AVX2 vpmaddubsw + vpmaddwd + vpaddd ymm (u8 x s8), 4 chains"
#define I8_NACC 4
#define I8_MACS_PER_STEP 32
#define I8_OPAQUE_INPUTS 1
typedef __m256i ivec;
#define IV_ZERO() _mm256_setzero_si256()
#define IV_SET1(x) _mm256_set1_epi8(x)
#define IV_STEP(c, a, b) \
    ((c) = _mm256_add_epi32(c, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), _mm256_set1_epi16(1))))
#define IV_KEEP(v) PEAK_OPAQUE_X(v)
#define I8_SUM256 1
#elif defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)
#define I8_NAME "NEON sdot v.4s (s8 x s8), 12 chains"
#define I8_NACC 12
#define I8_MACS_PER_STEP 16
typedef int32x4_t ivec;
typedef int8x16_t ivec8;
#define IV_ZERO() vdupq_n_s32(0)
#define IV_SET1(x) vdupq_n_s8(x)
#define IV_STEP(c, a, b) ((c) = vdotq_s32(c, a, b))
#define IV_KEEP(v) PEAK_OPAQUE_W(v)
#define I8_NEON_SUM 1
#elif defined(__ARM_NEON)
#define I8_NAME "NEON smull + smlal + sadalp (s8 x s8), 4 chains"
#define I8_NACC 4
#define I8_MACS_PER_STEP 16
#define I8_OPAQUE_INPUTS 1
typedef int32x4_t ivec;
typedef int8x16_t ivec8;
#define IV_ZERO() vdupq_n_s32(0)
#define IV_SET1(x) vdupq_n_s8(x)
/* 16 products: low halves multiplied, high halves multiply-added into the
 * same int16 lanes, then pairwise added into the int32 accumulator */
#define IV_STEP(c, a, b) \
    ((c) = vpadalq_s16(c, vmlal_s8(vmull_s8(vget_low_s8(a), vget_low_s8(b)), vget_high_s8(a), vget_high_s8(b))))
#define IV_KEEP(v) PEAK_OPAQUE_W(v)
#define I8_NEON_SUM 1
#else
#define I8_NAME "scalar int8 multiply-add (no SIMD in this build), 4 chains"
#define I8_NACC 4
#define I8_MACS_PER_STEP 1
#define I8_SCALAR 1
#endif

#if defined(I8_SUM256)
static int32_t iv_sum(__m256i v) {
    int32_t t[8], s = 0;
    int i;
    _mm256_storeu_si256((__m256i *)(void *)t, v);
    for (i = 0; i < 8; i++) s += t[i];
    return s;
}
#elif defined(I8_NEON_SUM)
static int32_t iv_sum(int32x4_t v) {
    return vgetq_lane_s32(v, 0) + vgetq_lane_s32(v, 1) + vgetq_lane_s32(v, 2) + vgetq_lane_s32(v, 3);
}
#endif

#if defined(I8_SCALAR)
static PEAK_NOINLINE int32_t peak_i8_loop(long iters) {
    volatile signed char va = 3, vb = -2; /* read once: not constants */
    int32_t c0 = 0, c1 = 1, c2 = 2, c3 = 3;
    const int a = va, b = vb;
    long i;
    for (i = 0; i < iters; i++) { c0 += a * b; c1 -= a * b; c2 += a * b; c3 -= a * b; }
    return c0 + c1 + c2 + c3;
}
#else
#if defined(I8_NEON_SUM)
#define I8_INPUT_T ivec8
#else
#define I8_INPUT_T ivec
#endif
static PEAK_NOINLINE int32_t peak_i8_loop(long iters) {
    I8_INPUT_T a = IV_SET1(3), b = IV_SET1(-2);
    ivec c[I8_NACC];
    int32_t s = 0;
    long i;
    int j;
    for (j = 0; j < I8_NACC; j++) c[j] = IV_ZERO();
#if defined(I8_OPAQUE_INPUTS)
    /* the products do not depend on the accumulator: without a fresh a
     * before each step the compiler would compute them once per iteration
     * (or once in all) and reuse them */
#define I8_S(j) do { IV_KEEP(a); IV_STEP(c[j], a, b); } while (0)
#else
#define I8_S(j) IV_STEP(c[j], a, b)
#endif
    for (i = 0; i < iters; i++) {
        I8_S(0); I8_S(1); I8_S(2); I8_S(3);
#if I8_NACC >= 12
        I8_S(4); I8_S(5); I8_S(6); I8_S(7); I8_S(8); I8_S(9); I8_S(10); I8_S(11);
#endif
    }
#undef I8_S
    for (j = 0; j < I8_NACC; j++) s += iv_sum(c[j]);
    return s;
}
#endif
#define I8_OPS_PER_ITER (2.0 * I8_MACS_PER_STEP * I8_NACC)

/* ---- streaming read: the sum of n floats, 8 independent vector sums. */
#if defined(__AVX512F__)
#define RD_NAME "AVX-512 vaddps zmm from memory, 8 sums"
#define RD_W 16
typedef __m512 rvec;
#define RV_ZERO() _mm512_setzero_ps()
#define RV_ADDLD(s, p) _mm512_add_ps(s, _mm512_loadu_ps(p))
#define RV_SUM(v) _mm512_reduce_add_ps(v)
#elif defined(__AVX2__)
#define RD_NAME "AVX vaddps ymm from memory, 8 sums"
#define RD_W 8
typedef __m256 rvec;
#define RV_ZERO() _mm256_setzero_ps()
#define RV_ADDLD(s, p) _mm256_add_ps(s, _mm256_loadu_ps(p))
#define RV_SUM(v) fv_sum(v)
#elif defined(__ARM_NEON)
#define RD_NAME "NEON fadd v.4s from ld1, 8 sums"
#define RD_W 4
typedef float32x4_t rvec;
#define RV_ZERO() vdupq_n_f32(0.0f)
#define RV_ADDLD(s, p) vaddq_f32(s, vld1q_f32(p))
#define RV_SUM(v) (vgetq_lane_f32(v, 0) + vgetq_lane_f32(v, 1) + vgetq_lane_f32(v, 2) + vgetq_lane_f32(v, 3))
#else
#define RD_NAME "scalar float adds, 8 sums"
#define RD_W 1
typedef float rvec;
#define RV_ZERO() 0.0f
#define RV_ADDLD(s, p) ((s) + *(p))
#define RV_SUM(v) (v)
#endif

/* n a multiple of 8 * RD_W */
static PEAK_NOINLINE float peak_read_slice(const float *p, size_t n) {
    rvec s0 = RV_ZERO(), s1 = RV_ZERO(), s2 = RV_ZERO(), s3 = RV_ZERO(), s4 = RV_ZERO(), s5 = RV_ZERO(),
         s6 = RV_ZERO(), s7 = RV_ZERO();
    size_t k;
    for (k = 0; k < n; k += 8 * RD_W) {
        s0 = RV_ADDLD(s0, p + k); s1 = RV_ADDLD(s1, p + k + RD_W);
        s2 = RV_ADDLD(s2, p + k + 2 * RD_W); s3 = RV_ADDLD(s3, p + k + 3 * RD_W);
        s4 = RV_ADDLD(s4, p + k + 4 * RD_W); s5 = RV_ADDLD(s5, p + k + 5 * RD_W);
        s6 = RV_ADDLD(s6, p + k + 6 * RD_W); s7 = RV_ADDLD(s7, p + k + 7 * RD_W);
    }
    return RV_SUM(s0) + RV_SUM(s1) + RV_SUM(s2) + RV_SUM(s3) + RV_SUM(s4) + RV_SUM(s5) + RV_SUM(s6) + RV_SUM(s7);
}

/* ---- timing and threads ---- */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

enum { K_FMA, K_I8, K_READ };
#define MAX_T 64
#define MAX_PASSES 16

/* One thread's share of a measurement.  FMA and int8: n_trials short trials
 * of iters iterations each (about a millisecond: on a machine shared with
 * other jobs, the best short trial is one that ran uninterrupted), the best
 * kept.  Read: n_trials passes over its slice, each pass started by a
 * barrier so that all threads read at once; start and end of each kept. */
typedef struct worker {
    pthread_t th;
    int kind, n_trials;
    long iters;
    const float *p;
    size_t n;
    pthread_barrier_t *bar;
    double best_s;                       /* K_FMA, K_I8: fastest trial */
    double t0[MAX_PASSES], t1[MAX_PASSES]; /* K_READ */
    volatile float sink;                 /* keeps the results alive */
} worker;

static void *worker_main(void *arg) {
    worker *w = (worker *)arg;
    int i;
    w->best_s = 1e300;
    pthread_barrier_wait(w->bar);
    for (i = 0; i < w->n_trials; i++) {
        double t0, t;
        if (w->kind == K_READ) {
            pthread_barrier_wait(w->bar);
            w->t0[i] = now_s();
            w->sink = peak_read_slice(w->p, w->n);
            w->t1[i] = now_s();
            continue;
        }
        t0 = now_s();
        if (w->kind == K_FMA) w->sink = peak_fma_loop(w->iters);
        else w->sink = (float)peak_i8_loop(w->iters);
        t = now_s() - t0;
        if (t < w->best_s) w->best_s = t;
    }
    return NULL;
}

/* T threads at once.  Returns units per second: FMA / int8 the sum of the
 * threads' best rates (work_per_iter units an iteration), read the bytes of
 * the fastest pass over its wall time (first start to last end). */
static double measure(int kind, int T, long iters, double work_per_iter, int n_trials, const float *buf, size_t n) {
    worker w[MAX_T];
    pthread_barrier_t bar;
    size_t per = n / (size_t)T / (8 * RD_W) * (8 * RD_W);
    double rate = 0.0;
    int i, r;
    if (kind == K_READ && n_trials > MAX_PASSES) n_trials = MAX_PASSES;
    pthread_barrier_init(&bar, NULL, (unsigned)T);
    for (i = 0; i < T; i++) {
        w[i].kind = kind;
        w[i].n_trials = n_trials;
        w[i].iters = iters;
        w[i].p = buf ? buf + per * (size_t)i : NULL;
        w[i].n = per;
        w[i].bar = &bar;
        if (pthread_create(&w[i].th, NULL, worker_main, &w[i]) != 0) {
            fprintf(stderr, "bench_peaks: cannot start a thread\n");
            exit(1);
        }
    }
    for (i = 0; i < T; i++) pthread_join(w[i].th, NULL);
    pthread_barrier_destroy(&bar);
    if (kind != K_READ) {
        for (i = 0; i < T; i++) rate += (double)iters * work_per_iter / w[i].best_s;
        return rate;
    }
    for (r = 0; r < n_trials; r++) {
        double t0 = 1e300, t1 = 0.0, g;
        for (i = 0; i < T; i++) {
            if (w[i].t0[r] < t0) t0 = w[i].t0[r];
            if (w[i].t1[r] > t1) t1 = w[i].t1[r];
        }
        g = (double)per * (double)T * sizeof(float) / (t1 - t0);
        if (g > rate) rate = g;
    }
    return rate;
}

/* Iterations for about target_s seconds on one thread. */
static long calibrate(int kind, double target_s) {
    long iters = 1 << 10;
    for (;;) {
        double t0 = now_s(), t;
        volatile float sink; /* the loops are pure: a discarded call is dropped */
        if (kind == K_FMA) sink = peak_fma_loop(iters);
        else sink = (float)peak_i8_loop(iters);
        (void)sink;
        t = now_s() - t0;
        if (t > 0.005 || iters > (1L << 28)) return (long)((double)iters * target_s / (t > 1e-9 ? t : 1e-9)) + 1;
        iters *= 4;
    }
}

static void load_avg(char *out, size_t cap) {
    FILE *f = fopen("/proc/loadavg", "r");
    double a = 0, b = 0, c = 0;
    if (f && fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3) snprintf(out, cap, "%.2f %.2f %.2f", a, b, c);
    else snprintf(out, cap, "?");
    if (f) fclose(f);
}

static void put(FILE *tsv, int T, const char *key, double v) {
    if (tsv) fprintf(tsv, "peak\t%d\t%s\t%.6g\n", T, key, v);
}

int main(int argc, char **argv) {
    int quick = 0, i, ti, T = (int)sysconf(_SC_NPROCESSORS_ONLN), n_trials, n_passes, tcount;
    int threads[2];
    const char *tsv_path = NULL;
    size_t bytes, n, k;
    float *buf;
    long it_fma, it_i8;
    double fma[2], i8[2], rd[2];
    char la0[64], la1[64];
    FILE *tsv = NULL;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-q")) quick = 1;
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) T = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) tsv_path = argv[++i];
        else if (!strcmp(argv[i], "--loops")) {
            printf("fp32: %s\nint8: %s\nread: %s\n", FMA_NAME, I8_NAME, RD_NAME);
            return 0;
        } else {
            fprintf(stderr, "usage: %s [-q] [-t threads] [-o peaks.tsv] [--loops]\n", argv[0]);
            return 2;
        }
    }
    if (T < 1) T = 1;
    if (T > MAX_T) T = MAX_T;
    threads[0] = 1;
    threads[1] = T;
    tcount = T > 1 ? 2 : 1;
    n_trials = quick ? 100 : 400; /* ~1 ms each: the best ran uninterrupted */
    n_passes = quick ? 3 : 7;
    bytes = (size_t)(quick ? 256 : 1024) << 20;
    if (tsv_path && !(tsv = fopen(tsv_path, "w"))) {
        fprintf(stderr, "bench_peaks: cannot write %s\n", tsv_path);
        return 1;
    }
    load_avg(la0, sizeof la0);

    /* the buffer: written once (pages faulted in) before any timing */
    n = bytes / sizeof(float);
    buf = (float *)malloc(bytes);
    if (!buf) {
        fprintf(stderr, "bench_peaks: cannot allocate %lu MiB\n", (unsigned long)(bytes >> 20));
        return 1;
    }
    for (k = 0; k < n; k++) buf[k] = (float)(k & 1023) * (1.0f / 1024.0f);

    it_fma = calibrate(K_FMA, 0.001);
    it_i8 = calibrate(K_I8, 0.001);
    for (ti = 0; ti < tcount; ti++) {
        int t = threads[ti];
        fma[ti] = measure(K_FMA, t, it_fma, FMA_FLOPS_PER_ITER, n_trials, NULL, 0) * 1e-9;
        i8[ti] = measure(K_I8, t, it_i8, I8_OPS_PER_ITER, n_trials, NULL, 0) * 1e-9;
        rd[ti] = measure(K_READ, t, 0, 0.0, n_passes, buf, n) * 1e-9;
    }
    load_avg(la1, sizeof la1);

    printf("measured peaks of this machine (tools/bench_peaks.c), fp32 and int8: best of %d trials of ~1 ms per thread;\n"
           "load average %s before, %s after\n", n_trials, la0, la1);
    printf("  fp32: %s; 1 multiply-add = 2 flops\n", FMA_NAME);
    printf("  int8: %s; 1 multiply-add = 2 ops\n", I8_NAME);
    printf("  read: %s, a %lu MiB buffer, best of %d passes; GB = 10^9 bytes\n", RD_NAME,
           (unsigned long)(bytes >> 20), n_passes);
    printf("%-8s %14s %14s %14s %14s %14s %14s\n", "threads", "fp32 GFLOP/s", "per core", "int8 GOP/s", "per core",
           "read GB/s", "per core");
    for (ti = 0; ti < tcount; ti++) {
        int t = threads[ti];
        printf("%-8d %14.1f %14.1f %14.1f %14.1f %14.1f %14.1f\n", t, fma[ti], fma[ti] / t, i8[ti], i8[ti] / t, rd[ti],
               rd[ti] / t);
        put(tsv, t, "fp32_gflops", fma[ti]);
        put(tsv, t, "int8_gops", i8[ti]);
        put(tsv, t, "read_gbs", rd[ti]);
    }
    if (tsv) fclose(tsv);
    free(buf);
    return 0;
}
