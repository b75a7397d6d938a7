/* bench_gemm.c - GFLOP/s of the fp32 linear kernel at the model's shapes,
 * next to OpenBLAS cblas_sgemm measured in the same run.
 *
 *   cc -std=c99 -O2 -march=native tools/bench_gemm.c -o build/bench_gemm \
 *      -lopenblas -lm -pthread
 *   build/bench_gemm            full table (about a minute on 2 cores)
 *   build/bench_gemm -q         quick: fewer and shorter repetitions
 *   build/bench_gemm -t 4       thread counts 1 and 4 (default 1 and 2)
 *   build/bench_gemm -s bart    only the BART shapes (or: conv)
 *   build/bench_gemm -8         also Q8_0 weights: fp32 path vs int8 path, and
 *                               I8 weights ([M5]) through the integer path at
 *                               the BART and conv shapes, each result checked
 *                               bit for bit against vla__linear_i8_ref
 *   build/bench_gemm -i         only the I8 table (what -8 adds for I8)
 *   build/bench_gemm -o gemm.tsv  also the I8 rows as tab-separated lines
 *                               (table, shape, threads, GOP/s, fraction of the
 *                               int8 peak or 0): tools/bench.sh's acceptance
 *                               summary reads them
 *   build/bench_gemm -p build/bench_peaks.tsv   also each of our rates as a
 *                               fraction of the measured fp32 FMA peak at the
 *                               same thread count (tools/bench_peaks.c)
 *
 * Each number is the median of several timed batches after a warm-up call;
 * a batch repeats the call until it has run for a few tens of milliseconds.
 * The four columns are measured in four phases over all shapes (ours 1T,
 * OpenBLAS 1T, ours nT, OpenBLAS nT), so that neither library's idle,
 * spinning threads slow the other; the table is printed at the end.
 * OpenBLAS gets the same problem as ours: y[M,N] = x[M,K] W[N,K]^T, i.e.
 * cblas_sgemm(RowMajor, NoTrans, Trans), no bias, and the same thread count
 * (openblas_set_num_threads).  Ours runs through vla_threadpool for T > 1.
 * The convolution rows are the GEMMs that im2col makes of the CLIP ResNet-101
 * stages at 224x224: M = output pixels, K = k*k*Cin, N = Cout.
 * "W cold" rows cycle through 64 copies of W (150 MB, more than the caches),
 * as a decoder does with its ~200 MB of fp32 weights at every step; the
 * plain decode rows reuse one W, which then sits in L2/L3.  For M < 8 our
 * kernel reads W as one sequential stream, the right choice for the cold
 * case (see VLA_GEMM_STREAM_M in the implementation).
 * "stack" is the largest stack buffer one task of ours uses (bytes); no
 * other scratch is used.
 *
 * It calls the kernel entry points directly (vla__linear_fast, the int8
 * vla__linear_q8 and vla__linear_stack_bytes, static in the implementation),
 * from parts/gemm.h until that is merged into vladapter.h, from the header
 * after (the merged code keeps the VLA__GEMM_PART_H guard, so the include
 * is skipped).
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c99 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#ifndef VLA__GEMM_PART_H /* not merged into the header yet */

#endif
#define BENCH_LINEAR(ex, y, x, w, b, M) vla__linear_fast(ex, y, x, w, b, M)
#define BENCH_LINEAR_Q8(ex, y, x, w, b, M) vla__linear_q8(ex, y, x, w, b, M)
#define BENCH_STACK(w, M, i8) vla__linear_stack_bytes(w, M, i8)
#define VLA_THREADS_IMPLEMENTATION
#include "../examples/vla_threads.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* OpenBLAS extension, declared here in case cblas.h is another vendor's. */
void openblas_set_num_threads(int num_threads);

typedef struct shape {
    const char *name;
    int M, K, N;
    int conv;
    int cold; /* > 1: cycle through this many distinct copies of W (~150 MB) */
} shape;

static const shape g_shapes[] = {
    {"bart q/k/v/o proj", 46, 768, 768, 0, 0},
    {"bart fc1", 46, 768, 3072, 0, 0},
    {"bart fc2", 46, 3072, 768, 0, 0},
    {"visual proj 2048", 36, 2048, 768, 0, 0},
    {"decoder step 768", 1, 768, 768, 0, 0},
    {"  same, W cold", 1, 768, 768, 0, 64},
    {"beam-5 step 768", 5, 768, 768, 0, 0},
    {"  same, W cold", 5, 768, 768, 0, 64},
    {"lm head 50465", 1, 768, 50465, 0, 0},
    {"stem 3x3 3->32 s2", 112 * 112, 27, 32, 1, 0},
    {"stem 3x3 32->32", 112 * 112, 288, 32, 1, 0},
    {"stem 3x3 32->64", 112 * 112, 288, 64, 1, 0},
    {"l1 1x1 64->64", 56 * 56, 64, 64, 1, 0},
    {"l1 3x3 64->64", 56 * 56, 576, 64, 1, 0},
    {"l1 1x1 64->256", 56 * 56, 64, 256, 1, 0},
    {"l1 1x1 256->64", 56 * 56, 256, 64, 1, 0},
    {"l2 1x1 512->128", 28 * 28, 512, 128, 1, 0},
    {"l2 3x3 128->128", 28 * 28, 1152, 128, 1, 0},
    {"l2 1x1 128->512", 28 * 28, 128, 512, 1, 0},
    {"l3 3x3 256->256", 14 * 14, 2304, 256, 1, 0},
    {"l3 1x1 1024->256", 14 * 14, 1024, 256, 1, 0},
    {"l3 1x1 256->1024", 14 * 14, 256, 1024, 1, 0},
    {"l4 3x3 512->512", 7 * 7, 4608, 512, 1, 0},
    {"l4 1x1 2048->512", 7 * 7, 2048, 512, 1, 0},
    {"l4 1x1 512->2048", 7 * 7, 512, 2048, 1, 0},
};
#define N_SHAPES ((int)(sizeof(g_shapes) / sizeof(g_shapes[0])))

/* One shape's buffers and its four rates (ours 1T, BLAS 1T, ours nT, BLAS nT). */
typedef struct bench_data {
    int on;
    float *x, *w, *y, *yb;
    vla_mat ms[64];
    double rate[4];
} bench_data;
static bench_data g_data[N_SHAPES];

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct run_ctx {
    int which; /* 0 ours fp32, 1 blas, 2 ours int8 (Q8_0), 3 ours I8, 4 ours I8 convolution (vla_conv2d),
                  5 the same given its input's amax (as the CLIP trunk runs it) */
    const vla_exec *ex;
    float *y;
    const float *x;
    const vla_mat *w;
    int M;
    const vla_mat *ws; /* cold rows: nw copies of W, used in turn */
    int nw, iw;
    vla_arena *scratch; /* which 4: vla_conv2d of an H x H x Cin input, k x k, stride */
    int H, Cin, k, stride;
    float amax; /* which 5 */
} run_ctx;

static void run_once(run_ctx *c) {
    if (c->nw > 1) {
        c->w = &c->ws[c->iw];
        c->iw = (c->iw + 1) % c->nw;
    }
    if (c->which == 1)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->M, c->w->rows, c->w->cols, 1.0f, c->x, c->w->cols,
                    (const float *)c->w->data, c->w->cols, 0.0f, c->y, c->w->rows);
    else if (c->which == 2)
        BENCH_LINEAR_Q8(c->ex, c->y, c->x, c->w, NULL, c->M);
    else if (c->which == 3)
        vla_linear(c->ex, c->y, c->x, c->w, NULL, c->M); /* I8: the integer path */
    else if (c->which == 4)
        (void)vla_conv2d(c->ex, c->scratch, c->y, c->x, c->w, NULL, c->H, c->H, c->Cin, c->k, c->stride, c->k / 2);
    else if (c->which == 5)
        (void)vla__conv2d_amax(c->ex, c->scratch, c->y, c->x, c->w, NULL, c->H, c->H, c->Cin, c->k, c->stride, c->k / 2, c->amax);
    else
        BENCH_LINEAR(c->ex, c->y, c->x, c->w, NULL, c->M);
}

/* Median GFLOP/s over n_batches batches of >= batch_s seconds each. */
static double measure(run_ctx *c, double flops, int n_batches, double batch_s) {
    double t0, t1, rates[16], per;
    int i, reps, r;
    t0 = now_s();
    run_once(c); /* warm-up: caches, page faults, thread wake-up */
    t1 = now_s();
    per = t1 - t0 > 1e-7 ? t1 - t0 : 1e-7;
    reps = (int)(batch_s / per);
    if (reps < 1) reps = 1;
    if (n_batches > 16) n_batches = 16;
    for (i = 0; i < n_batches; i++) {
        t0 = now_s();
        for (r = 0; r < reps; r++) run_once(c);
        t1 = now_s();
        rates[i] = flops * reps / (t1 - t0) * 1e-9;
    }
    qsort(rates, (size_t)n_batches, sizeof(double), cmp_double);
    return rates[n_batches / 2];
}

/* A peak measured by bench_peaks at T threads (key fp32_gflops or
 * int8_gops), 0 if absent. */
static double read_peak(const char *path, int T, const char *want) {
    char sec[32], key[64];
    int t;
    double v, found = 0.0;
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f) return 0.0;
    while (fscanf(f, "%31s %d %63s %lf", sec, &t, key, &v) == 4)
        if (!strcmp(sec, "peak") && t == T && !strcmp(key, want)) found = v;
    fclose(f);
    return found;
}

static void fill(float *p, size_t n, unsigned seed) {
    size_t i;
    for (i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)((seed >> 9) & 0xffff) / 32768.0f - 1.0f;
    }
}

/* one machine-readable line of an I8 table: table, shape, threads, GOP/s, fraction of the peak (0: none) */
static void tsv_row(FILE *f, const char *table, const char *name, int T, double rate, double peak) {
    if (f) fprintf(f, "%s\t%s\t%d\t%.1f\t%.4f\n", table, name, T, rate, peak > 0.0 ? rate / peak : 0.0);
}

int main(int argc, char **argv) {
    int i, phase, quick = 0, maxT = 2, only = -1, q8 = 0, i8only = 0;
    int n_batches;
    double batch_s, peak1 = 0.0, peakT = 0.0, ipeak1 = 0.0, ipeakT = 0.0;
    const char *peaks = NULL, *tsv_path = NULL;
    FILE *tsv = NULL;
    vla_exec ex1, exT;
    vla_threadpool pool;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-q")) quick = 1;
        else if (!strcmp(argv[i], "-8")) q8 = 1;
        else if (!strcmp(argv[i], "-i")) q8 = i8only = 1;
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) maxT = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-p") && i + 1 < argc) peaks = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) tsv_path = argv[++i];
        else if (!strcmp(argv[i], "-s") && i + 1 < argc) { i++; only = !strcmp(argv[i], "conv"); }
        else {
            fprintf(stderr, "usage: %s [-q] [-8] [-i] [-t threads] [-s bart|conv] [-p peaks.tsv] [-o out.tsv]\n", argv[0]);
            return 2;
        }
    }
    if (tsv_path && !(tsv = fopen(tsv_path, "w"))) {
        fprintf(stderr, "bench_gemm: cannot write %s\n", tsv_path);
        return 1;
    }
    if (maxT < 2) maxT = 2;
    if (peaks) {
        peak1 = read_peak(peaks, 1, "fp32_gflops");
        peakT = read_peak(peaks, maxT, "fp32_gflops");
        ipeak1 = read_peak(peaks, 1, "int8_gops");
        ipeakT = read_peak(peaks, maxT, "int8_gops");
        if (peak1 <= 0.0 || peakT <= 0.0) {
            printf("bench_gemm: no fp32 peak for 1 and %d threads in %s (run build/bench_peaks -o %s): no fraction columns\n",
                   maxT, peaks, peaks);
            peak1 = peakT = 0.0;
        }
    }
    n_batches = quick ? 3 : 7;
    batch_s = quick ? 0.02 : 0.05;
    memset(&ex1, 0, sizeof ex1);
    ex1.n_threads = 1;
    memset(&exT, 0, sizeof exT);
    if (vla_threadpool_init(&pool, maxT) != 0) {
        fprintf(stderr, "cannot start threads\n");
        return 1;
    }
    vla_threadpool_exec(&pool, &exT);

    if (!i8only) {
        printf("vladapter fp32 linear vs OpenBLAS sgemm   simd: %s   GFLOP/s, median of %d batches\n", vla_simd_name(),
               n_batches);
        if (peak1 > 0.0)
            printf("of peak = ours / the fp32 FMA peak measured by bench_peaks at the same thread count (%.1f and %.1f GFLOP/s)\n",
                   peak1, peakT);
        printf("%-20s %18s %8s %8s %6s %8s %8s %6s %7s%s\n", "shape", "M x K x N", "ours 1T", "blas 1T", "ratio", "ours", "blas",
               "ratio", "stack", peak1 > 0.0 ? " of peak of peak" : "");
        printf("%-20s %18s %8s %8s %6s %7dT %7dT %6s %7s", "", "", "", "", "", maxT, maxT, "", "bytes");
        if (peak1 > 0.0) printf(" %7s %6dT", "1T", maxT);
        printf("\n");
    }
    /* Each shape's data stays allocated through four phases: ours 1T, BLAS
     * 1T, ours nT, BLAS nT, each over all shapes, with a pause between them.
     * Interleaving the libraries shape by shape let one library's idle
     * threads, still spinning, take the second core from the other (OpenBLAS
     * at 2T lost up to 4x on the stem shapes right after our pool ran). */
    for (i = 0; i < N_SHAPES; i++) {
        const shape *s = &g_shapes[i];
        const int copies = s->cold > 1 ? s->cold : 1;
        size_t nx = (size_t)s->M * s->K, nw = (size_t)s->N * s->K, ny = (size_t)s->M * s->N;
        bench_data *d = &g_data[i];
        int ci;
        d->on = !i8only && (only < 0 || s->conv == only);
        if (!d->on) continue;
        d->x = (float *)malloc(nx * sizeof(float));
        d->w = (float *)malloc(nw * copies * sizeof(float));
        d->y = (float *)malloc(ny * sizeof(float));
        d->yb = (float *)malloc(ny * sizeof(float));
        if (!d->x || !d->w || !d->y || !d->yb) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        fill(d->x, nx, 1u + (unsigned)i);
        fill(d->w, nw * copies, 1000u + (unsigned)i);
        for (ci = 0; ci < copies; ci++) {
            d->ms[ci].type = VLA_TYPE_F32; d->ms[ci].rows = s->N; d->ms[ci].cols = s->K;
            d->ms[ci].data = d->w + (size_t)ci * nw;
        }
    }
    for (phase = 0; phase < 4 && !i8only; phase++) {
        const int blas = phase & 1, T = phase < 2 ? 1 : maxT;
        struct timespec pause;
        pause.tv_sec = 0;
        pause.tv_nsec = 300000000L; /* let the other library's threads go idle */
        nanosleep(&pause, NULL);
        if (blas) openblas_set_num_threads(T);
        fprintf(stderr, "measuring: %s, %d thread%s\n", blas ? "OpenBLAS" : "ours", T, T > 1 ? "s" : "");
        for (i = 0; i < N_SHAPES; i++) {
            const shape *s = &g_shapes[i];
            bench_data *d = &g_data[i];
            run_ctx c;
            if (!d->on) continue;
            c.x = d->x; c.w = &d->ms[0]; c.M = s->M; c.ws = d->ms; c.nw = s->cold > 1 ? s->cold : 1; c.iw = 0;
            c.y = blas ? d->yb : d->y;
            c.which = blas;
            c.ex = T > 1 ? &exT : &ex1;
            d->rate[phase] = measure(&c, 2.0 * s->M * s->K * s->N, n_batches, batch_s);
        }
    }
    for (i = 0; i < N_SHAPES; i++) {
        const shape *s = &g_shapes[i];
        bench_data *d = &g_data[i];
        size_t ny = (size_t)s->M * s->N, k;
        double maxd = 0.0, maxv = 0.0;
        char dims[32];
        run_ctx c;
        if (!d->on) continue;
        /* same answer? (loose: different sum orders), for the first W */
        c.x = d->x; c.w = &d->ms[0]; c.M = s->M; c.ws = d->ms; c.nw = 1; c.iw = 0; c.ex = &ex1;
        c.which = 0; c.y = d->y; run_once(&c);
        c.which = 1; c.y = d->yb; run_once(&c);
        for (k = 0; k < ny; k++) {
            double e = fabs((double)d->y[k] - d->yb[k]);
            if (e > maxd) maxd = e;
            if (fabs(d->yb[k]) > maxv) maxv = fabs(d->yb[k]);
        }
        sprintf(dims, "%dx%dx%d", s->M, s->K, s->N);
        printf("%-20s %18s %8.1f %8.1f %6.2f %8.1f %8.1f %6.2f %7lu", s->name, dims, d->rate[0], d->rate[1],
               d->rate[0] / d->rate[1], d->rate[2], d->rate[3], d->rate[2] / d->rate[3],
               (unsigned long)BENCH_STACK(&d->ms[0], s->M, 0));
        if (peak1 > 0.0) printf(" %6.0f%% %6.0f%%", 100.0 * d->rate[0] / peak1, 100.0 * d->rate[2] / peakT);
        printf("%s\n", maxd > 1e-4 * (maxv + 1.0) ? "  MISMATCH vs blas" : "");
        free(d->x); free(d->w); free(d->y); free(d->yb);
    }
    fflush(stdout);

    if (q8 && !i8only) { /* Q8_0 weights: the fp32 path (converted rows) vs the int8 path */
        printf("\nQ8_0 weights (no BLAS equivalent)      GFLOP/s (2MKN/t)%s\n",
               ipeak1 > 0.0 ? "; of peak = int8 path / the int8 dot-product peak (bench_peaks)" : "");
        printf("%-20s %18s %8s %8s %8s %8s %7s%s\n", "shape", "M x K x N", "f32 1T", "int8 1T", "f32", "int8", "stack",
               ipeak1 > 0.0 ? " of peak of peak" : "");
        printf("%-20s %18s %8s %8s %7dT %7dT %7s", "", "", "", "", maxT, maxT, "int8");
        if (ipeak1 > 0.0) printf(" %7s %6dT", "1T", maxT);
        printf("\n");
        for (i = 0; i < N_SHAPES; i++) {
            const shape *s = &g_shapes[i];
            size_t nx = (size_t)s->M * s->K, nw = (size_t)s->N * s->K, r;
            float *x, *wf, *y;
            unsigned char *wq;
            vla_mat m;
            run_ctx c;
            double flops = 2.0 * s->M * s->K * s->N, f1, q1, fT, qT;
            char dims[32];
            if (s->conv || s->K % 32 || s->cold > 1) continue;
            x = (float *)malloc(nx * sizeof(float));
            wf = (float *)malloc(nw * sizeof(float));
            wq = (unsigned char *)malloc(nw / 32 * 34);
            y = (float *)malloc((size_t)s->M * s->N * sizeof(float));
            if (!x || !wf || !wq || !y) return 1;
            fill(x, nx, 7u);
            fill(wf, nw, 8u);
            for (r = 0; r < (size_t)s->N; r++) vla_quantize_q8_0(wq + r * (s->K / 32 * 34), wf + r * s->K, (size_t)s->K);
            free(wf);
            m.type = VLA_TYPE_Q8_0; m.rows = s->N; m.cols = s->K; m.data = wq;
            c.x = x; c.w = &m; c.M = s->M; c.y = y; c.ws = NULL; c.nw = 1; c.iw = 0;
            c.ex = &ex1; c.which = 0; f1 = measure(&c, flops, n_batches, batch_s);
            c.which = 2; q1 = measure(&c, flops, n_batches, batch_s);
            c.ex = &exT; c.which = 0; fT = measure(&c, flops, n_batches, batch_s);
            c.which = 2; qT = measure(&c, flops, n_batches, batch_s);
            sprintf(dims, "%dx%dx%d", s->M, s->K, s->N);
            printf("%-20s %18s %8.1f %8.1f %8.1f %8.1f %7lu", s->name, dims, f1, q1, fT, qT,
                   (unsigned long)BENCH_STACK(&m, s->M, 1));
            if (ipeak1 > 0.0 && ipeakT > 0.0) printf(" %6.0f%% %6.0f%%", 100.0 * q1 / ipeak1, 100.0 * qT / ipeakT);
            printf("\n");
            fflush(stdout);
            free(x); free(wq); free(y);
        }
    }
    if (q8) { /* I8 weights ([M5]): one scale per W row and per x row, int32 sums, the default integer path */
        printf("\nI8 weights ([M5] integer path; no BLAS equivalent)   GOP/s (2MKN/t)%s\n",
               ipeak1 > 0.0 ? "; of peak = int8 path / the int8 dot-product peak (bench_peaks)" : "");
        printf("int8 kernel: %s; \"exact\" = every float equals vla__linear_i8_ref's\n", vla__i8_kernel_name());
        printf("(the CLIP rows: vla_linear on an fp32 im2col matrix, one scale per row; the trunk's convolutions\n"
               " quantize each picture once instead: what they run is the \"I8 convolutions\" table below)\n");

        printf("%-20s %18s %8s %8s %7s %6s", "shape", "M x K x N", "int8 1T", "int8", "stack", "");
        if (ipeak1 > 0.0) printf(" %7s %7s", "of peak", "of peak");
        printf("\n%-20s %18s %8s %7dT %7s %6s", "", "", "", maxT, "bytes", "");
        if (ipeak1 > 0.0) printf(" %7s %6dT", "1T", maxT);
        printf("\n");
        for (i = 0; i < N_SHAPES; i++) {
            const shape *s = &g_shapes[i];
            size_t nx = (size_t)s->M * s->K, nw = (size_t)s->N * s->K, ny = (size_t)s->M * s->N, r;
            float *x, *wf, *y, *yr, *sc;
            signed char *wq;
            vla_mat m;
            run_ctx c;
            double flops = 2.0 * s->M * s->K * s->N, q1, qT;
            char dims[32];
            int same;
            if (s->cold > 1 || s->K < 32) continue; /* the 3-channel stem stays fp32 in I8 files */
            if (only >= 0 && s->conv != only) continue;
            x = (float *)malloc(nx * sizeof(float));
            wf = (float *)malloc(nw * sizeof(float));
            wq = (signed char *)malloc(nw);
            sc = (float *)malloc((size_t)s->N * sizeof(float));
            y = (float *)malloc(ny * sizeof(float));
            yr = (float *)malloc(ny * sizeof(float));
            if (!x || !wf || !wq || !sc || !y || !yr) return 1;
            fill(x, nx, 7u);
            fill(wf, nw, 8u);
            for (r = 0; r < (size_t)s->N; r++) sc[r] = vla_quantize_i8_row(wq + r * s->K, wf + r * s->K, s->K);
            free(wf);
            m.type = VLA_TYPE_I8; m.rows = s->N; m.cols = s->K; m.data = wq; m.scale = sc;
            c.x = x; c.w = &m; c.M = s->M; c.y = y; c.ws = NULL; c.nw = 1; c.iw = 0;
            c.ex = &ex1; c.which = 3;
            (void)measure(&c, flops, 2, batch_s); /* warm-up: the first shape read up to 2x low without it */
            q1 = measure(&c, flops, n_batches, batch_s);
            c.ex = &exT; qT = measure(&c, flops, n_batches, batch_s);
            vla__linear_i8_ref(yr, x, &m, NULL, s->M);
            same = !memcmp(y, yr, ny * sizeof(float));
            sprintf(dims, "%dx%dx%d", s->M, s->K, s->N);
            printf("%-20s %18s %8.1f %8.1f %7lu %6s", s->name, dims, q1, qT, (unsigned long)BENCH_STACK(&m, s->M, 1),
                   same ? "exact" : "DIFF");
            if (ipeak1 > 0.0 && ipeakT > 0.0) printf(" %6.0f%% %6.0f%%", 100.0 * q1 / ipeak1, 100.0 * qT / ipeakT);
            printf("\n");
            fflush(stdout);
            tsv_row(tsv, same ? "i8_linear" : "i8_linear_DIFF", s->name, 1, q1, ipeak1);
            tsv_row(tsv, same ? "i8_linear" : "i8_linear_DIFF", s->name, maxT, qT, ipeakT);
            free(x); free(wq); free(sc); free(y); free(yr);
        }
        if (only != 0) { /* the convolutions as the CLIP trunk runs them (I8 files keep the 3-channel stem fp32) */
            static const struct { const char *name; int H, Cin, Cout, k, stride; } cv[] = {
                {"stem 3x3 32->32", 112, 32, 32, 3, 1}, {"stem 3x3 32->64", 112, 32, 64, 3, 1},
                {"l1 3x3 64->64", 56, 64, 64, 3, 1},    {"l1 1x1 64->256", 56, 64, 256, 1, 1},
                {"l1 1x1 256->64", 56, 256, 64, 1, 1},  {"l2 3x3 128->128", 28, 128, 128, 3, 1},
                {"l2 1x1 512->128", 28, 512, 128, 1, 1}, {"l2 1x1 128->512", 28, 128, 512, 1, 1},
                {"l3 3x3 256->256", 14, 256, 256, 3, 1}, {"l3 1x1 1024->256", 14, 1024, 256, 1, 1},
                {"l3 1x1 256->1024", 14, 256, 1024, 1, 1}, {"l4 3x3 512->512", 7, 512, 512, 3, 1},
                {"l4 1x1 2048->512", 7, 2048, 512, 1, 1}, {"l4 1x1 512->2048", 7, 512, 2048, 1, 1},
            };
            printf("\nI8 convolutions as the CLIP trunk runs them: the picture's quantization and the im2col included (on\n"
                   "AVX-512 VNNI the tiles read the quantized picture in place from 24 output columns up), its amax\n"
                   "not: every convolution here takes it from the ReLU pass that wrote its input (vla_clip_run);\n"
                   "\"alone\" = vla_conv2d, which measures the amax itself (one more read of the input);\n"
                   "\"exact\" = vla_conv2d_ref's floats, from both\n");
            printf("%-20s %18s %8s %8s %8s %6s", "convolution", "HxW Cin->Cout kxk", "int8 1T", "int8", "alone 1T", "");
            if (ipeak1 > 0.0) printf(" %7s %7s %7s", "of peak", "of peak", "alone");
            printf("\n%-20s %18s %8s %7dT %8s %6s", "", "", "GOP/s", maxT, "GOP/s", "");
            if (ipeak1 > 0.0) printf(" %7s %6dT %7s", "1T", maxT, "1T");
            printf("\n");
            for (i = 0; i < (int)(sizeof cv / sizeof cv[0]); i++) {
                const int H = cv[i].H, K = cv[i].k * cv[i].k * cv[i].Cin, N = cv[i].Cout, Ho = (H - 1) / cv[i].stride + 1;
                size_t nx = (size_t)H * H * cv[i].Cin, nw = (size_t)N * K, ny = (size_t)Ho * Ho * N, r;
                size_t ns = vla_conv2d_scratch_size(H, H, cv[i].Cin, cv[i].k, cv[i].stride, cv[i].k / 2);
                float *x = (float *)malloc(nx * sizeof(float)), *wf = (float *)malloc(nw * sizeof(float));
                float *y = (float *)malloc(ny * sizeof(float)), *yr = (float *)malloc(ny * sizeof(float));
                float *sc = (float *)malloc((size_t)N * sizeof(float));
                signed char *wq = (signed char *)malloc(nw);
                void *smem = malloc(ns + 64);
                double flops = 2.0 * Ho * Ho * (double)K * N, q1, qT, qa;
                vla_arena ar;
                vla_mat m;
                run_ctx c;
                char dims[48];
                int same;
                if (!x || !wf || !y || !yr || !sc || !wq || !smem) return 1;
                fill(x, nx, 7u);
                fill(wf, nw, 8u);
                for (r = 0; r < (size_t)N; r++) sc[r] = vla_quantize_i8_row(wq + r * K, wf + r * K, K);
                m.type = VLA_TYPE_I8; m.rows = N; m.cols = K; m.data = wq; m.scale = sc;
                vla_arena_init(&ar, smem, ns + 64);
                memset(&c, 0, sizeof c);
                c.which = 4; c.x = x; c.w = &m; c.y = y; c.nw = 1; c.scratch = &ar;
                c.H = H; c.Cin = cv[i].Cin; c.k = cv[i].k; c.stride = cv[i].stride;
                c.ex = &ex1;
                (void)measure(&c, flops, 2, batch_s);
                qa = measure(&c, flops, n_batches, batch_s);
                vla_conv2d_ref(yr, x, &m, NULL, H, H, cv[i].Cin, cv[i].k, cv[i].stride, cv[i].k / 2);
                same = !memcmp(y, yr, ny * sizeof(float));
                c.which = 5;
                for (r = 0; r < nx; r++) c.amax = fabsf(x[r]) > c.amax ? fabsf(x[r]) : c.amax;
                q1 = measure(&c, flops, n_batches, batch_s);
                c.ex = &exT; qT = measure(&c, flops, n_batches, batch_s);
                same = same && !memcmp(y, yr, ny * sizeof(float));
                sprintf(dims, "%dx%d %d->%d %dx%d", H, H, cv[i].Cin, N, cv[i].k, cv[i].k);
                printf("%-20s %18s %8.1f %8.1f %8.1f %6s", cv[i].name, dims, q1, qT, qa, same ? "exact" : "DIFF");
                if (ipeak1 > 0.0 && ipeakT > 0.0)
                    printf(" %6.0f%% %6.0f%% %6.0f%%", 100.0 * q1 / ipeak1, 100.0 * qT / ipeakT, 100.0 * qa / ipeak1);
                printf("\n");
                fflush(stdout);
                tsv_row(tsv, same ? "i8_conv" : "i8_conv_DIFF", cv[i].name, 1, q1, ipeak1);
                tsv_row(tsv, same ? "i8_conv" : "i8_conv_DIFF", cv[i].name, maxT, qT, ipeakT);
                tsv_row(tsv, same ? "i8_conv_alone" : "i8_conv_DIFF", cv[i].name, 1, qa, ipeak1);
                free(x); free(wf); free(y); free(yr); free(sc); free(wq); free(smem);
            }
        }
    }
    vla_threadpool_destroy(&pool);
    if (tsv && fclose(tsv) != 0) {
        fprintf(stderr, "bench_gemm: cannot write %s\n", tsv_path);
        return 1;
    }
    return 0;
}
