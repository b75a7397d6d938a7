/* bench_train.c - speed and memory of one training step of vladapter.h (what
 * `make bench` reports next to PyTorch doing the same step, see tools/bench.sh
 * and the "train" section of tools/bench_torch.py).
 *
 *   build/bench_train [-q] [-o results.tsv | -a results.tsv]
 *
 * Built like build/bench_model (`make bench` builds both):
 *   cc -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -g -march=native tools/bench_train.c \
 *      -o build/bench_train -lm -lpthread
 *
 * One optimizer step = vla_trainer_backward (forward in train mode + backward)
 * followed by vla_trainer_apply (clip_grad_norm 5 + AdamW + schedule), i.e.
 * vla_trainer_step, timed as its two halves.  The setting is the paper's
 * Single Adapter on VQA:
 *   model     BART-base with the VL visual embedding (d 768, 12 heads, 6+6
 *             layers, FFN 3072, vocab 50465, feat_dim 2048, 36 boxes from a 7x7
 *             grid max-pooled to 6x6), random fp32 weights mapped read-only
 *   adapter   one adapter of hidden 96 (reduction 8) at all 30 sites (2 per
 *             encoder layer, 3 per decoder layer) shared by the tasks, gelu_new
 *   trains    vla_train_defaults("adapter"): the adapters, every BART
 *             LayerNorm and the visual embedding; AdamW (0.9, 0.999, 1e-6,
 *             wd 0.01), clipping 5, dropout 0.1
 *   batch     8 examples of 20 text ids + 36 visual tokens, 5 target tokens
 *             each, VQA loss (per-example token mean x score, batch mean)
 * Each (recompute, threads) pair runs in a child process of its own, so that
 * its peak RSS (getrusage ru_maxrss) is that configuration's alone.  The
 * weight files are built once (in a child) into BENCH_DIR and reused.
 *
 * Environment (tools/bench_torch.py reads the same names):
 *   BENCH_TRAIN_REPEAT (5)  BENCH_TRAIN_WARMUP (1)  BENCH_THREADS ("1 2")
 *   BENCH_TRAIN_RECOMPUTE ("0 1")  BENCH_TRAIN_BATCH (8)  BENCH_TRAIN_TEXT (20)
 *   BENCH_TRAIN_TARGET (5)  BENCH_ADAPTER_HIDDEN (96)  BENCH_TASKS (4)
 *   BENCH_D_MODEL (768)  BENCH_HEADS (12)  BENCH_ENC_LAYERS (6)
 *   BENCH_DEC_LAYERS (6)  BENCH_FFN (3072)  BENCH_VOCAB (50465)
 *   BENCH_FEAT (32 * BENCH_CLIP_WIDTH = 2048)  BENCH_GRID (BENCH_IMAGE / 32 = 7)
 *   BENCH_SEED (1)  BENCH_SECTIONS
 *   (runs only if it names "train" or is unset)  BENCH_DIR (build/bench-files)
 *   BENCH_TRAIN_VERBOSE (0; 1: every step's times on stderr)
 * -q: BENCH_TRAIN_REPEAT defaults to 2.
 * -o truncates the results file, -a appends to it (tools/bench.sh appends to
 * bench_model's file, so that bench_torch.py --ours reads both).
 */
#define _XOPEN_SOURCE 700 /* clock_gettime, fork, mmap, getrusage under -std=c99 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "vla_convert.h"
#define VLA_RANDOM_IMPLEMENTATION
#include "vla_random.h"
#define VLA_THREADS_IMPLEMENTATION
#include "../examples/vla_threads.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct tcfg {
    int d, heads, enc_layers, dec_layers, ffn, vocab, feat, grid, max_pos;
    int batch, text, target, hidden, tasks;
    int repeat, warmup, verbose;
    int threads[8], n_threads;
    int recompute[2], n_recompute;
    uint64_t seed;
    char dir[1024];
    char results[1024];
} tcfg;

static double ms_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static double to_mb(double bytes) { return bytes / 1048576.0; }

static double rss_peak_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* kilobytes on Linux */
}

static int getenv_int(const char *name, int dflt) {
    const char *s = getenv(name);
    char *end;
    long v;
    if (!s || !*s) return dflt;
    v = strtol(s, &end, 10);
    if (*end || v < 0 || v > (1L << 30)) {
        fprintf(stderr, "bench_train: ignoring %s=%s\n", name, s);
        return dflt;
    }
    return (int)v;
}

/* "1 2" or "1,2" -> numbers >= lo; the count, 0 when unset or malformed. */
static int getenv_list(const char *name, int *out, int cap, int lo) {
    const char *s = getenv(name);
    int n = 0;
    if (!s || !*s) return 0;
    while (n < cap) {
        char *end;
        long v;
        while (*s == ' ' || *s == ',') s++;
        if (!*s) break;
        v = strtol(s, &end, 10);
        if (end == s || v < lo || v > 64) { fprintf(stderr, "bench_train: ignoring %s\n", name); return 0; }
        out[n++] = (int)v;
        s = end;
    }
    return n;
}

static int sections_want_train(void) {
    const char *s = getenv("BENCH_SECTIONS"), *p;
    if (!s || !*s) return 1;
    for (p = s; (p = strstr(p, "train")) != NULL; p += 5)
        if ((p == s || p[-1] == ',' || p[-1] == ' ') && (p[5] == 0 || p[5] == ',' || p[5] == ' ')) return 1;
    return 0;
}

static void load_cfg(tcfg *c, int quick) {
    const char *v;
    memset(c, 0, sizeof *c);
    c->d = getenv_int("BENCH_D_MODEL", 768);
    c->heads = getenv_int("BENCH_HEADS", 12);
    c->enc_layers = getenv_int("BENCH_ENC_LAYERS", 6);
    c->dec_layers = getenv_int("BENCH_DEC_LAYERS", 6);
    c->ffn = getenv_int("BENCH_FFN", 3072);
    c->vocab = getenv_int("BENCH_VOCAB", 50465);
    /* the same defaults as bench_model.c / bench_torch.py: CLIP RN101's grid */
    c->feat = getenv_int("BENCH_FEAT", 32 * getenv_int("BENCH_CLIP_WIDTH", 64));
    c->grid = getenv_int("BENCH_GRID", getenv_int("BENCH_IMAGE", 224) / 32);
    c->max_pos = 1024;
    c->batch = getenv_int("BENCH_TRAIN_BATCH", 8);
    c->text = getenv_int("BENCH_TRAIN_TEXT", 20);
    c->target = getenv_int("BENCH_TRAIN_TARGET", 5);
    c->hidden = getenv_int("BENCH_ADAPTER_HIDDEN", 96);
    c->tasks = getenv_int("BENCH_TASKS", 4);
    c->repeat = getenv_int("BENCH_TRAIN_REPEAT", quick ? 2 : 5);
    c->warmup = getenv_int("BENCH_TRAIN_WARMUP", 1);
    c->seed = (uint64_t)getenv_int("BENCH_SEED", 1);
    c->verbose = getenv_int("BENCH_TRAIN_VERBOSE", 0);
    if (c->repeat < 1) c->repeat = 1;
    if (c->repeat > 64) c->repeat = 64;
    if (c->batch < 1) c->batch = 1;
    if (c->text < 2) c->text = 2;
    if (c->target < 1) c->target = 1;
    if (c->grid < 2) c->grid = 2;
    if (c->tasks < 1) c->tasks = 1;
    if (c->tasks > 16) c->tasks = 16;
    c->n_threads = getenv_list("BENCH_THREADS", c->threads, 8, 1);
    if (!c->n_threads) { c->threads[0] = 1; c->threads[1] = 2; c->n_threads = 2; }
    c->n_recompute = getenv_list("BENCH_TRAIN_RECOMPUTE", c->recompute, 2, 0);
    if (!c->n_recompute) { c->recompute[0] = 0; c->recompute[1] = 1; c->n_recompute = 2; }
    v = getenv("BENCH_DIR");
    snprintf(c->dir, sizeof c->dir, "%s", v && *v ? v : "build/bench-files");
}

static void emit(const tcfg *c, int threads, const char *key, double val) {
    FILE *f;
    if (!c->results[0]) return;
    if (!(f = fopen(c->results, "a"))) return;
    fprintf(f, "train\t%d\t%s\t%.6g\n", threads, key, val);
    fclose(f);
}

static void on_log(void *user, vla_log_level lvl, const char *msg) {
    (void)user;
    if (lvl <= VLA_LOG_WARN) fprintf(stderr, "  vladapter: %s\n", msg);
}

/* ---- weight files: a BART-only model and one Single Adapter file ---- */

static void file_names(const tcfg *c, char *model, char *adapter, size_t cap) {
    snprintf(model, cap, "%.900s/train-bart-d%d-h%d-e%d-l%d-f%d-v%d-x%d-b%d-s%llu.gguf", c->dir, c->d, c->heads, c->enc_layers,
             c->dec_layers, c->ffn, c->vocab, c->feat, (c->grid - 1) * (c->grid - 1), (unsigned long long)c->seed);
    snprintf(adapter, cap, "%.*s-adapter-r%d-t%d.gguf", (int)(strlen(model) - 5), model, c->hidden, c->tasks);
}

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

static int make_dir(const char *path) {
    char buf[1024];
    size_t i;
    snprintf(buf, sizeof buf, "%s", path);
    for (i = 1; buf[i]; i++) {
        if (buf[i] != '/') continue;
        buf[i] = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return -1;
        buf[i] = '/';
    }
    return (mkdir(buf, 0777) == 0 || errno == EEXIST) ? 0 : -1;
}

static int save_conv(vla_conv *cv, const char *path) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.part", path);
    if (vla_conv_write(cv, tmp) != 0) { fprintf(stderr, "bench_train: writing %s: %s\n", tmp, cv->err); return -1; }
    if (rename(tmp, path) != 0) { fprintf(stderr, "bench_train: cannot rename %s\n", tmp); return -1; }
    return 0;
}

typedef struct fmap { const unsigned char *p; size_t n; } fmap;

static int fmap_open(const char *path, fmap *m) {
    struct stat st;
    void *p;
    int fd = open(path, O_RDONLY);
    m->p = NULL; m->n = 0;
    if (fd < 0) return -1;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) { close(fd); return -1; }
    p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return -1;
    m->p = (const unsigned char *)p;
    m->n = (size_t)st.st_size;
    return 0;
}

static void fmap_close(fmap *m) {
    if (m->p) munmap((void *)m->p, m->n);
    m->p = NULL; m->n = 0;
}

/* The model file's fingerprint, or 0 when the file does not load (stale). */
static uint64_t model_fp(const char *path) {
    fmap f;
    size_t need = 0;
    void *mem = NULL;
    vla_model *m = NULL;
    uint64_t fp = 0;
    if (fmap_open(path, &f) != 0) return 0;
    if (vla_model_mem_req(f.p, f.n, &need) == VLA_OK && (mem = malloc(need)) != NULL &&
        vla_model_init(&m, mem, need, f.p, f.n, NULL) == VLA_OK)
        fp = vla_model_fingerprint(m);
    free(mem);
    fmap_close(&f);
    return fp;
}

static int build_weights(const tcfg *c) {
    char mp[1024], ap[1100];
    vla_conv cv;
    uint64_t fp = 0;
    double t0 = ms_now();
    file_names(c, mp, ap, sizeof mp);
    if (exists(mp)) fp = model_fp(mp);
    if (fp && exists(ap)) return 0;
    if (make_dir(c->dir) != 0) { fprintf(stderr, "bench_train: cannot create %s\n", c->dir); return -1; }
    if (!fp) {
        vla_rand_bart rb;
        fprintf(stderr, "bench_train: building random weights into %s ...\n", mp);
        memset(&rb, 0, sizeof rb);
        rb.d_model = c->d; rb.enc_layers = c->enc_layers; rb.dec_layers = c->dec_layers; rb.heads = c->heads;
        rb.ffn = c->ffn; rb.vocab = c->vocab; rb.max_pos = c->max_pos; rb.feat_dim = c->feat;
        rb.n_boxes = (c->grid - 1) * (c->grid - 1); rb.seed = c->seed;
        vla_conv_init(&cv);
        cv.quiet = 1;
        if (vla_conv_random_bart(&cv, &rb) != 0) {
            fprintf(stderr, "bench_train: random BART: %s\n", cv.err);
            vla_conv_free(&cv);
            return -1;
        }
        cv.fingerprint = fp = vla_conv_fingerprint(&cv);
        if (save_conv(&cv, mp) != 0) { vla_conv_free(&cv); return -1; }
        vla_conv_free(&cv);
    }
    {
        vla_rand_adapter ra;
        memset(&ra, 0, sizeof ra);
        ra.method = "adapter";
        ra.d_model = c->d; ra.enc_layers = c->enc_layers; ra.dec_layers = c->dec_layers;
        ra.n_tasks = c->tasks; ra.shared = 1; /* Single Adapter: one module set for every task */
        ra.hidden = c->hidden;
        ra.base_fingerprint = fp; ra.seed = c->seed + 100;
        vla_conv_init(&cv);
        cv.quiet = 1;
        if (vla_random_adapter(&cv, &ra) != 0 || save_conv(&cv, ap) != 0) {
            fprintf(stderr, "bench_train: random adapter: %s\n", cv.err);
            vla_conv_free(&cv);
            return -1;
        }
        vla_conv_free(&cv);
    }
    fprintf(stderr, "bench_train: weight files ready in %.1f s\n", (ms_now() - t0) / 1e3);
    return 0;
}

/* ---- one configuration ---- */

static int cmp_dbl(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_of(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_dbl);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Bytes of the model's tensors outside the CLIP trunk (what a step reads). */
static double bart_bytes(const vla_model *m) {
    const vla_gguf *g = vla_model_gguf(m);
    double s = 0.0;
    uint64_t i;
    for (i = 0; i < g->n_tensors; i++) {
        const vla_tensor *x = &g->tensors[i];
        if (!(x->name.n > 7 && memcmp(x->name.s, "visual.", 7) == 0)) s += (double)x->nbytes;
    }
    return s;
}

static uint64_t lcg(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

static int run_config(const tcfg *c, int threads, int recompute) {
    char mp[1024], ap[1100], key[64];
    fmap mf, af;
    vla_logger lg;
    vla_model *m = NULL;
    vla_trainer *tr = NULL;
    vla_threadpool pool;
    vla_train_params p;
    vla_train_batch bt;
    void *model_mem = NULL, *tmem = NULL;
    size_t model_need = 0, tneed = 0;
    int32_t *ids = NULL, *labels = NULL;
    float *feats = NULL, *scores = NULL, loss = 0.0f, lr = 0.0f;
    double t_step[64], t_fb[64], t_ad[64], ms_step, ms_fb, ms_ad;
    int pool_on = 0, rc = -1, i, k, B = c->batch, G = c->grid * c->grid;
    uint64_t s = c->seed * 7919 + 11;
    vla_status st;
    size_t nf;

    lg.fn = on_log; lg.user = NULL;
    mf.p = af.p = NULL;
    file_names(c, mp, ap, sizeof mp);
    if (fmap_open(mp, &mf) != 0 || fmap_open(ap, &af) != 0) { fprintf(stderr, "bench_train: cannot map the weight files\n"); goto done; }
    if ((st = vla_model_mem_req(mf.p, mf.n, &model_need)) != VLA_OK || !(model_mem = malloc(model_need)) ||
        (st = vla_model_init(&m, model_mem, model_need, mf.p, mf.n, &lg)) != VLA_OK) {
        fprintf(stderr, "bench_train: model: %s\n", vla_status_str(st));
        goto done;
    }
    if (threads > 1) {
        if (vla_threadpool_init(&pool, threads) != 0) { fprintf(stderr, "bench_train: no threads\n"); goto done; }
        pool_on = 1;
    }
    p = vla_train_defaults("adapter");
    p.max_batch = B; p.max_text_len = c->text; p.max_images = 1; p.max_grid = G; p.max_target_len = c->target;
    p.total_steps = 100000; p.warmup_steps = 0; /* a nonzero learning rate from the first step */
    p.recompute = recompute;
    p.log = lg;
    p.exec.n_threads = 1;
    if (pool_on) vla_threadpool_exec(&pool, &p.exec);
    if ((st = vla_trainer_mem_req(m, af.p, af.n, &p, &tneed)) != VLA_OK || !(tmem = malloc(tneed)) ||
        (st = vla_trainer_init(&tr, m, af.p, af.n, &p, tmem, tneed)) != VLA_OK) {
        fprintf(stderr, "bench_train: trainer: %s\n", vla_status_str(st));
        goto done;
    }
    /* the batch: <s> w .. w </s>, post-ReLU-like grid features, answer ids, VQA scores */
    nf = (size_t)B * G * c->feat;
    ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)B * c->text);
    labels = (int32_t *)malloc(sizeof(int32_t) * (size_t)B * c->target);
    feats = (float *)malloc(sizeof(float) * nf);
    scores = (float *)malloc(sizeof(float) * (size_t)B);
    if (!ids || !labels || !feats || !scores) goto done;
    for (i = 0; i < B; i++)
        for (k = 0; k < c->text; k++)
            ids[i * c->text + k] = k == 0 ? 0 : k == c->text - 1 ? 2 : (int32_t)(4 + lcg(&s) % (uint64_t)(c->vocab - 300));
    for (i = 0; i < B * c->target; i++) labels[i] = (int32_t)(4 + lcg(&s) % (uint64_t)(c->vocab - 300));
    for (i = 0; i < B; i++) scores[i] = (float)(1 + (i % 4) * 3) / 10.0f; /* 0.1, 0.4, 0.7, 1.0 */
    for (k = 0; k < (int)nf; k++) feats[k] = (float)(lcg(&s) & 0xffff) / 65536.0f;
    memset(&bt, 0, sizeof bt);
    bt.task = "vqa";
    bt.loss = VLA_LOSS_VQA;
    bt.in.batch = B; bt.in.text_len = c->text; bt.in.ids = ids;
    bt.in.n_images = 1; bt.in.grid_h = bt.in.grid_w = c->grid; bt.in.feats = feats;
    bt.target_len = c->target; bt.labels = labels; bt.scores = scores;

    for (i = 0; i < c->warmup + c->repeat; i++) {
        double t0 = ms_now(), t1;
        if ((st = vla_trainer_backward(tr, &bt, &loss)) != VLA_OK) { fprintf(stderr, "bench_train: backward: %s\n", vla_status_str(st)); goto done; }
        t1 = ms_now();
        if ((st = vla_trainer_apply(tr, &lr, NULL)) != VLA_OK) { fprintf(stderr, "bench_train: apply: %s\n", vla_status_str(st)); goto done; }
        if (c->verbose)
            fprintf(stderr, "  step %d (%s): fwd+bwd %.1f ms, apply %.1f ms, loss %.4f\n", i, i < c->warmup ? "warm-up" : "timed",
                    t1 - t0, ms_now() - t1, loss);
        if (i >= c->warmup) {
            int j = i - c->warmup;
            t_fb[j] = t1 - t0;
            t_ad[j] = ms_now() - t1;
            t_step[j] = t_fb[j] + t_ad[j];
        }
    }
    ms_step = median_of(t_step, c->repeat); /* sorts t_step: t_step[0] is the fastest */
    ms_fb = median_of(t_fb, c->repeat);
    ms_ad = median_of(t_ad, c->repeat);
    {
        double arena = to_mb((double)tneed), model = to_mb((double)model_need) + to_mb(bart_bytes(m)), rss = rss_peak_mb();
        printf("%7d %9s %10.1f %8.1f %10.1f %8.2f %11.1f %11.1f %11.1f %11.1f %8.3f\n", threads, recompute ? "on" : "off", ms_step,
               t_step[0], ms_fb, ms_ad, arena, model, arena + model, rss, loss);
        fflush(stdout);
        snprintf(key, sizeof key, "step_ms_rc%d", recompute); emit(c, threads, key, ms_step);
        snprintf(key, sizeof key, "step_min_ms_rc%d", recompute); emit(c, threads, key, t_step[0]);
        snprintf(key, sizeof key, "fwdbwd_ms_rc%d", recompute); emit(c, threads, key, ms_fb);
        snprintf(key, sizeof key, "adamw_ms_rc%d", recompute); emit(c, threads, key, ms_ad);
        snprintf(key, sizeof key, "arena_mb_rc%d", recompute); emit(c, threads, key, arena);
        snprintf(key, sizeof key, "rss_mb_rc%d", recompute); emit(c, threads, key, rss);
        snprintf(key, sizeof key, "loss_rc%d", recompute); emit(c, threads, key, loss);
        emit(c, threads, "model_mb", model);
        emit(c, threads, "n_params", (double)vla_trainer_n_params(tr));
    }
    rc = 0;
done:
    free(ids); free(labels); free(feats); free(scores);
    free(tmem);
    if (pool_on) vla_threadpool_destroy(&pool);
    free(model_mem);
    fmap_close(&af);
    fmap_close(&mf);
    return rc;
}

/* The trainable set's size and the file sizes, printed once (a child too:
 * the parent stays small, so every configuration's child starts small). */
static int describe(const tcfg *c) {
    char mp[1024], ap[1100];
    fmap mf, af;
    vla_model *m = NULL;
    vla_trainer *tr = NULL;
    vla_train_params p;
    void *mm = NULL, *tm = NULL;
    size_t mn = 0, tn = 0;
    int rc = -1;
    file_names(c, mp, ap, sizeof mp);
    mf.p = af.p = NULL;
    if (fmap_open(mp, &mf) != 0 || fmap_open(ap, &af) != 0) goto done;
    if (vla_model_mem_req(mf.p, mf.n, &mn) != VLA_OK || !(mm = malloc(mn)) || vla_model_init(&m, mm, mn, mf.p, mf.n, NULL) != VLA_OK)
        goto done;
    p = vla_train_defaults("adapter");
    p.max_batch = 1; p.max_text_len = c->text; p.max_images = 1; p.max_grid = c->grid * c->grid; p.max_target_len = c->target;
    if (vla_trainer_mem_req(m, af.p, af.n, &p, &tn) != VLA_OK || !(tm = malloc(tn)) ||
        vla_trainer_init(&tr, m, af.p, af.n, &p, tm, tn) != VLA_OK)
        goto done;
    printf("    trainable: %zu floats in %d tensors (adapters + BART LayerNorms + visual embedding); model file %.1f MB,"
           " adapter file %.1f MB\n",
           vla_trainer_n_params(tr), vla_trainer_n_tensors(tr), to_mb((double)mf.n), to_mb((double)af.n));
    rc = 0;
done:
    if (rc) fprintf(stderr, "bench_train: cannot open the weight files\n");
    free(tm);
    free(mm);
    fmap_close(&af);
    fmap_close(&mf);
    return rc;
}

typedef int (*child_fn)(const tcfg *c, int threads, int recompute);

static int build_child(const tcfg *c, int threads, int recompute) { (void)threads; (void)recompute; return build_weights(c); }
static int describe_child(const tcfg *c, int threads, int recompute) { (void)threads; (void)recompute; return describe(c); }

static int forked(child_fn fn, const tcfg *c, int threads, int recompute) {
    pid_t pid;
    int status = 0;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) return fn(c, threads, recompute);
    if (pid == 0) {
        int r = fn(c, threads, recompute);
        fflush(stdout);
        _exit(r == 0 ? 0 : 1);
    }
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    tcfg c;
    int i, j, quick = 0, append = 0, fails = 0;
    const char *out = NULL;
    char load[64] = "?";
    FILE *f;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-q")) quick = 1;
        else if ((!strcmp(argv[i], "-o") || !strcmp(argv[i], "-a")) && i + 1 < argc) { append = argv[i][1] == 'a'; out = argv[++i]; }
        else {
            fprintf(stderr, "usage: %s [-q] [-o results.tsv | -a results.tsv]   (sizes: BENCH_* variables, see the source)\n", argv[0]);
            return 2;
        }
    }
    load_cfg(&c, quick);
    if (!sections_want_train()) { printf("bench_train: skipped (BENCH_SECTIONS has no \"train\")\n"); return 0; }
    if (out) {
        snprintf(c.results, sizeof c.results, "%s", out);
        if (!(f = fopen(out, append ? "a" : "w"))) { fprintf(stderr, "bench_train: cannot write %s\n", out); return 1; }
        fclose(f);
    }
    if ((f = fopen("/proc/loadavg", "r")) != NULL) {
        if (fgets(load, sizeof load, f)) {
            char *sp = strchr(load, ' ');
            if (sp) sp = strchr(sp + 1, ' ');
            if (sp) sp = strchr(sp + 1, ' ');
            if (sp) *sp = 0;
        }
        fclose(f);
    }
    if (forked(build_child, &c, 0, 0) != 0) { fprintf(stderr, "bench_train: could not build the weight files\n"); return 1; }
    printf("[5] training step (vla_trainer_step = forward + backward + clip + AdamW), Single Adapter: BART d %d, %d heads,"
           " %d+%d layers,\n    FFN %d, vocab %d, visual %d x %d boxes; adapter hidden %d at %d sites; batch %d x (%d text + %d visual)"
           " tokens,\n    %d target tokens, VQA loss, dropout 0.1; median of %d steps after %d warm-up; load average %s\n",
           c.d, c.heads, c.enc_layers, c.dec_layers, c.ffn, c.vocab, c.feat, (c.grid - 1) * (c.grid - 1), c.hidden,
           2 * c.enc_layers + 3 * c.dec_layers, c.batch, c.text, (c.grid - 1) * (c.grid - 1), c.target, c.repeat, c.warmup, load);
    if (forked(describe_child, &c, 0, 0) != 0) return 1;
    printf("    memory: \"arena\" = vla_trainer_mem_req, \"model\" = vla_model_mem_req + the BART tensor bytes of the mapped file"
           " (all read\n    by a step), \"peak RSS\" = the configuration's process (getrusage ru_maxrss)\n");
    printf("%7s %9s %10s %8s %10s %8s %11s %11s %11s %11s %8s\n", "threads", "recompute", "step ms", "min ms", "fwd+bwd", "AdamW",
           "arena MB", "model MB", "sum MB", "peak RSS MB", "loss");
    emit(&c, 0, "repeat", c.repeat);
    for (j = 0; j < c.n_recompute; j++)
        for (i = 0; i < c.n_threads; i++) fails += forked(run_config, &c, c.threads[i], c.recompute[j]) != 0;
    if (fails) fprintf(stderr, "bench_train: %d configuration%s failed\n", fails, fails > 1 ? "s" : "");
    return fails ? 1 : 0;
}
