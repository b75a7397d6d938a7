/* vla-train: train a VL-Adapter model (any parameter-efficient method, or
 * full fine-tuning) from a JSONL data file, with the official recipe.
 *
 *   vla-train --model BASE.gguf --data TRAIN.jsonl --out DIR
 *             (--init METHOD[:OPTIONS] | --adapter ADAPTER.gguf | --full)
 *             [--dev DEV.jsonl] [--feat-cache FEATS.bin] [--epochs 20]
 *             [--batch N | --batch-same] [--lr X] [--warmup-ratio 0.1]
 *             [--dropout P] [--clip-norm X] [--seed 9595] [--threads N]
 *             [--recompute] [--save-every N] [--max-steps K] [--resume]
 *             [--log-every N] [--train-clip] [--rebind]
 *
 * DATA FORMAT (docs/train.md has the long version).  One JSON object per
 * line; blank lines are skipped, anything else that is not such an object is
 * an error naming the file and line.
 *   "task"    "vqa", "gqa", "nlvr", "caption", or any task the adapter file
 *             lists (vladapter.adapter.tasks); --init ...:tasks=a+b names them;
 *             with --full any name (a pretraining mix: vla-shapes --locate)
 *   "image"   picture path, relative to the data file's directory unless it
 *             is absolute (PPM/PGM always; PNG, JPEG ... when the build has
 *             stb_image)
 *   "image2"  the second picture (NLVR2, required there; custom tasks may
 *             use it, then on every line of that task)
 *   "input"   question / statement (default ""); the adapter file's text
 *             prefix of the task (vladapter.adapter.prefixes) is put in front
 *   "target"  the answer / caption / "true" or "false" (NLVR2), or
 *   "answers" {"answer": score, ...} (VQA, GQA, custom tasks): every epoch
 *             one answer is drawn with probability score / sum(scores) (a
 *             zero sum gives the empty answer with score 0, as the official
 *             loader); VQA weights that example's loss by the drawn score,
 *             GQA does not.  A list of strings ["a", "a", "b", ...] (the
 *             annotators' answers) is also taken: score = min(1, count / 3).
 *   "id"      optional (string or number), copied to dev_predictions.jsonl
 * Unknown members are ignored.  Token limits as the official loaders
 * (<s> and </s> included): VQA and GQA input 20, VQA target 10, NLVR2
 * target 3, caption input and target 40; other texts are cut at the model's
 * position table (with a warning).  Losses: vqa VLA_LOSS_VQA, gqa / nlvr /
 * custom tasks VLA_LOSS_EXAMPLE_MEAN, caption VLA_LOSS_TOKEN_MEAN.
 *
 * IMAGES go through the library's image layer (vla_clip_preprocess) and the
 * model's CLIP trunk once per distinct file; the grid features stay in
 * memory for the run and, with --feat-cache, in a file reused by later runs.
 * Each entry there is keyed by the model's fingerprint and the image file's
 * real path, size and modification time, and carries a checksum: another
 * model, a changed picture or a damaged/truncated file is detected, reported
 * and recomputed, never used.
 * --train-clip (with --full: pretraining a base model) trains the CLIP
 * trunk too (vla_train_params.train_clip): the pictures are then resized
 * once, kept in memory as 8-bit RGB at the trunk's input size (S * S * 3
 * bytes each), normalised into every batch and run through the trunk at every
 * step; there is no feature cache.  --clip-lr-scale X: the trunk's learning
 * rate is lr * X.  --whiten-visual (with --full, from random weights): the
 * visual projection starts on standardised features (whiten_visual below).
 *
 * STARTING POINT.  --init METHOD[:OPTIONS] makes a fresh adapter file for the
 * run's tasks with the official initialisation (tools/vla_random.h,
 * VLA_RAND_INIT_OFFICIAL); --adapter FILE starts from an existing one (its
 * task list and prefixes rule); --full trains every parameter and writes a
 * model file.  Settings: vla_train_defaults(method), learning rate 1e-3
 * (1e-4 with --full, 3e-4 for per-task adapters: multiple_adapters.sh),
 * --batch 16, --epochs 20, --warmup-ratio 0.1, --seed 9595, --threads = the
 * online CPUs.
 *
 * ORDER AND SCHEDULE.  Per-task batch sizes from --batch B with the official
 * ratios (VQA B, GQA B*100/60, NLVR2 B*20/60, caption B*50/60, floor, at
 * least 1; --batch-same: B for all); the last batch of a task may be
 * smaller.  Each epoch e (from 0) lists every task once per batch, in the
 * order of the adapter file's task list (vqa, gqa, nlvr, caption for --init
 * and --full), shuffles that list with Python's random.Random(e).shuffle
 * (tools/vla_pyrandom.h) and takes batches from its END, as the official
 * multitask loader.  Inside a task, examples are shuffled every epoch with
 * our own seeded generator (splitmix64 of --seed, epoch and task): the
 * official order comes from torch's RandomSampler, which C cannot reproduce.
 * The same holds for the VQA/GQA answer draw (numpy there).
 * total_steps = batches per epoch * epochs; warmup = floor(ratio * total).
 *
 * OUTPUT in DIR: adapter.gguf (model.gguf with --full) at the end;
 * state.gguf (weights, AdamW moments, step, data position) every
 * --save-every steps and at every epoch end; dev_predictions.jsonl after each
 * --dev evaluation.  Every file is written under a temporary name in its
 * directory, fsync'ed and renamed, so a kill never leaves half a file.
 * --resume continues from DIR/state.gguf and ends with files byte-identical
 * to an uninterrupted run given the same data and flags (keep --threads
 * too: the library does not promise the same summation order for every
 * thread count).  --max-steps K stops after
 * optimizer step K as a kill would (state saved, no final file); Ctrl-C does
 * the same after the current step.
 *
 * Progress goes to stderr: one updating line on a terminal, otherwise a line
 * every --log-every steps; each epoch ends with a summary line
 * "epoch E/N: train loss X ..." and, with --dev, "dev epoch E: ...".
 */
#define _XOPEN_SOURCE 700 /* POSIX 2008 with XSI: realpath, fsync, st_mtim */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "../examples/image_io.h"
#include "../examples/example_util.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "vla_convert.h"
#define VLA_RANDOM_IMPLEMENTATION
#include "vla_random.h"
#define VLA_PYRANDOM_IMPLEMENTATION
#include "vla_pyrandom.h"
#define VLA_THREADS_IMPLEMENTATION
#include "../examples/vla_threads.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TRAIN_MAGIC 0x4E49415254414C56ull /* "VLATRAIN": cursor[3] of our state files */

/* ======================================================================
 * small helpers
 * ====================================================================== */

static void die(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "vla-train: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

static void note(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "vla-train: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
}

/* An error in a data file: file, line, sentence; exit status 1. */
static void data_error(const char *file, int line, const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "vla-train: %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(1);
}

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}
static void *xcalloc(size_t n, size_t s) {
    void *p = calloc(n ? n : 1, s ? s : 1);
    if (!p) die("out of memory (%zu x %zu bytes)", n, s);
    return p;
}
static void *xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) die("out of memory (%zu bytes)", n);
    return p;
}
static char *xstrndup(const char *s, size_t n) {
    char *d = (char *)xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t fnv64(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i < n; i++) { h ^= b[i]; h *= 1099511628211ull; }
    return h;
}
#define FNV0 1469598103934665603ull

/* Checksum of feature data: 8 bytes per round (FNV-1a's multiply on words,
 * with a shift so that high bits reach the low ones). */
static uint64_t hash_words(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, b, 8);
        h = (h ^ w) * 1099511628211ull;
        h ^= h >> 29;
        b += 8; n -= 8;
    }
    return fnv64(h, b, n);
}

/* splitmix64's finaliser: our own seeded streams (data order, answer draw). */
static uint64_t mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void fmt_hms(char *buf, size_t cap, double s) {
    long t = s < 0 ? 0 : (long)(s + 0.5);
    snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
}

/* ---- a string -> index hash map (open addressing) ---- */
typedef struct strmap { char **key; int *val; size_t cap, n; } strmap;

static size_t strmap_slot(const strmap *m, const char *k) {
    size_t i = (size_t)fnv64(FNV0, k, strlen(k)) & (m->cap - 1);
    while (m->key[i] && strcmp(m->key[i], k)) i = (i + 1) & (m->cap - 1);
    return i;
}
static int strmap_get(const strmap *m, const char *k) {
    size_t i;
    if (!m->cap) return -1;
    i = strmap_slot(m, k);
    return m->key[i] ? m->val[i] : -1;
}
static void strmap_put(strmap *m, const char *k, int v) {
    size_t i;
    if ((m->n + 1) * 2 > m->cap) {
        strmap o = *m;
        size_t j;
        m->cap = o.cap ? o.cap * 2 : 64;
        m->key = (char **)xcalloc(m->cap, sizeof(char *));
        m->val = (int *)xcalloc(m->cap, sizeof(int));
        m->n = 0;
        for (j = 0; j < o.cap; j++)
            if (o.key[j]) { i = strmap_slot(m, o.key[j]); m->key[i] = o.key[j]; m->val[i] = o.val[j]; m->n++; }
        free(o.key);
        free(o.val);
    }
    i = strmap_slot(m, k);
    if (!m->key[i]) { m->key[i] = xstrndup(k, strlen(k)); m->n++; }
    m->val[i] = v;
}

/* ---- a growing byte buffer (in-memory files) ---- */
typedef struct membuf { unsigned char *p; size_t n, cap; } membuf;

static vla_status membuf_write(void *user, const void *data, size_t n) {
    membuf *b = (membuf *)user;
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap : 1 << 16;
        while (nc < b->n + n) nc *= 2;
        b->p = (unsigned char *)realloc(b->p, nc);
        if (!b->p) return VLA_ERR_NOMEM;
        b->cap = nc;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    return VLA_OK;
}

static vla_status file_write_cb(void *user, const void *data, size_t n) {
    return fwrite(data, 1, n, (FILE *)user) == n ? VLA_OK : VLA_ERR_IO;
}

/* ---- atomic files: temporary name in the same directory, fsync, rename ---- */
typedef vla_status (*fill_fn)(void *ctx, FILE *f);

static void fsync_dir_of(const char *path) {
    char dir[4096];
    const char *sl = strrchr(path, '/');
    int fd;
    if (sl) snprintf(dir, sizeof dir, "%.*s", (int)(sl - path) > 0 ? (int)(sl - path) : 1, path);
    else snprintf(dir, sizeof dir, ".");
    fd = open(dir, O_RDONLY);
    if (fd >= 0) { (void)fsync(fd); close(fd); } /* not every file system allows it */
}

/* Writes path through fill (0 on success; on failure the old file stays). */
static int write_atomic(const char *path, fill_fn fill, void *ctx) {
    char tmp[4200];
    const char *sl = strrchr(path, '/');
    FILE *f;
    vla_status st;
    int ok;
    if (sl) snprintf(tmp, sizeof tmp, "%.*s/.%s.tmp", (int)(sl - path), path, sl + 1);
    else snprintf(tmp, sizeof tmp, ".%s.tmp", path);
    f = fopen(tmp, "wb");
    if (!f) { note("cannot create %s: %s", tmp, strerror(errno)); return -1; }
    st = fill(ctx, f);
    ok = st == VLA_OK && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        note("writing %s failed (%s%s%s)", tmp, st != VLA_OK ? vla_status_str(st) : "", st != VLA_OK ? ", " : "", strerror(errno));
        remove(tmp);
        return -1;
    }
    if (rename(tmp, path) != 0) { note("cannot rename %s to %s: %s", tmp, path, strerror(errno)); remove(tmp); return -1; }
    fsync_dir_of(path);
    return 0;
}

static volatile sig_atomic_t g_stop = 0;
static void on_signal(int sig) { (void)sig; g_stop = 1; }

/* ======================================================================
 * options
 * ====================================================================== */

typedef struct options {
    const char *model, *data, *dev, *adapter, *init, *out, *feat_cache;
    int full, resume, recompute, rebind, threads, epochs, batch, batch_same, save_every, log_every, train_clip, whiten, calibrate;
    long max_steps;
    double lr, warmup_ratio;
    float dropout, clip_norm, clip_lr_scale;
    uint64_t seed;
    int have_lr, have_dropout, have_clip, have_seed, have_clip_lr;
} options;

static void usage(FILE *f) {
    fprintf(f,
            "usage: vla-train --model BASE.gguf --data TRAIN.jsonl --out DIR\n"
            "                 (--init METHOD[:OPTIONS] | --adapter ADAPTER.gguf | --full)\n"
            "                 [--dev DEV.jsonl] [--feat-cache FILE] [--epochs N] [--batch N] [--batch-same]\n"
            "                 [--lr X] [--warmup-ratio X] [--dropout P] [--clip-norm X] [--seed N] [--threads N]\n"
            "                 [--recompute] [--save-every N] [--max-steps K] [--resume] [--log-every N] [--train-clip]\n"
            "                 [--whiten-visual] [--clip-lr-scale X] [--calibrate-trunk] [--rebind]\n"
            "METHOD: adapter (= multiple_adapters), single_adapter, half_shared_adapters, compacter (= multiple_compacters),\n"
            "        single_compacter, lora (= multiple_lora), single_lora, prompt (= multiple_prompts),\n"
            "        single_prompt, hyperformer\n"
            "OPTIONS (comma-separated): hidden=N reduction=R rank=N alpha=X k=N prompt_len=N mid=N\n"
            "        task_emb=N task_hidden=N task_proj=N tasks=a+b+c prefixes=official|none|task\n"
            "Data format, files and defaults: see the comment at the top of tools/vla-train.c or docs/train.md.\n");
}

static double num_arg(const char *opt, const char *v, double lo, double hi) {
    char *e;
    double x = strtod(v, &e);
    if (e == v || *e || !(x >= lo && x <= hi)) {
        fprintf(stderr, "vla-train: %s needs a number in [%g, %g], not '%s'\n", opt, lo, hi, v);
        exit(2);
    }
    return x;
}

static void parse_args(int argc, char **argv, options *o) {
    int i;
    memset(o, 0, sizeof *o);
    o->epochs = 20; o->batch = 16; o->warmup_ratio = 0.1; o->log_every = 50; o->seed = 9595;
    o->threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (o->threads < 1) o->threads = 1;
    if (o->threads > VLA_THREADS_MAX) o->threads = VLA_THREADS_MAX;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define ARG(name) (!strcmp(a, name) && (v ? 1 : (fprintf(stderr, "vla-train: %s needs a value\n", name), exit(2), 0)))
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); exit(0); }
        else if (ARG("--model")) { o->model = v; i++; }
        else if (ARG("--data")) { o->data = v; i++; }
        else if (ARG("--dev")) { o->dev = v; i++; }
        else if (ARG("--adapter")) { o->adapter = v; i++; }
        else if (ARG("--init")) { o->init = v; i++; }
        else if (ARG("--out")) { o->out = v; i++; }
        else if (ARG("--feat-cache")) { o->feat_cache = v; i++; }
        else if (!strcmp(a, "--full")) o->full = 1;
        else if (!strcmp(a, "--train-clip")) o->train_clip = 1;
        else if (!strcmp(a, "--whiten-visual")) o->whiten = 1;
        else if (!strcmp(a, "--calibrate-trunk")) o->calibrate = 1;
        else if (!strcmp(a, "--resume")) o->resume = 1;
        else if (!strcmp(a, "--recompute")) o->recompute = 1;
        else if (!strcmp(a, "--rebind")) o->rebind = 1;
        else if (!strcmp(a, "--batch-same")) o->batch_same = 1;
        else if (ARG("--epochs")) { o->epochs = (int)num_arg(a, v, 1, 1e6); i++; }
        else if (ARG("--batch")) { o->batch = (int)num_arg(a, v, 1, 4096); i++; }
        else if (ARG("--lr")) { o->lr = num_arg(a, v, 0, 10); o->have_lr = 1; i++; }
        else if (ARG("--warmup-ratio")) { o->warmup_ratio = num_arg(a, v, 0, 1); i++; }
        else if (ARG("--dropout")) { o->dropout = (float)num_arg(a, v, 0, 0.99); o->have_dropout = 1; i++; }
        else if (ARG("--clip-lr-scale")) { o->clip_lr_scale = (float)num_arg(a, v, 0, 1e3); o->have_clip_lr = 1; i++; }
        else if (ARG("--clip-norm")) { o->clip_norm = (float)num_arg(a, v, 0, 1e9); o->have_clip = 1; i++; }
        else if (ARG("--seed")) {
            char *e;
            o->seed = (uint64_t)strtoull(v, &e, 10);
            if (e == v || *e) { fprintf(stderr, "vla-train: --seed needs a non-negative integer\n"); exit(2); }
            o->have_seed = 1; i++;
        }
        else if (ARG("--threads")) { o->threads = (int)num_arg(a, v, 1, VLA_THREADS_MAX); i++; }
        else if (ARG("--save-every")) { o->save_every = (int)num_arg(a, v, 0, 1e9); i++; }
        else if (ARG("--max-steps")) { o->max_steps = (long)num_arg(a, v, 1, 1e15); i++; }
        else if (ARG("--log-every")) { o->log_every = (int)num_arg(a, v, 1, 1e9); i++; }
        else { fprintf(stderr, "vla-train: unknown option '%s'\n", a); usage(stderr); exit(2); }
#undef ARG
    }
    if (!o->model || !o->data || !o->out) { usage(stderr); exit(2); }
    if (!!o->init + !!o->adapter + !!o->full != 1) {
        fprintf(stderr, "vla-train: give exactly one of --init METHOD, --adapter FILE and --full\n");
        exit(2);
    }
    if (o->rebind && !o->adapter) {
        fprintf(stderr, "vla-train: --rebind starts an adapter file made for another base: use it with --adapter\n");
        exit(2);
    }
    if (o->train_clip && !o->full) {
        fprintf(stderr, "vla-train: --train-clip trains a whole model: use it with --full\n");
        exit(2);
    }
    if (o->whiten && !o->full) {
        fprintf(stderr, "vla-train: --whiten-visual re-initialises the visual projection of a base being pretrained: use it with --full\n");
        exit(2);
    }
    if (o->have_clip_lr && !o->train_clip) {
        fprintf(stderr, "vla-train: --clip-lr-scale sets the learning rate of a trunk that trains: use it with --full --train-clip\n");
        exit(2);
    }
    if (o->calibrate && !o->train_clip) {
        fprintf(stderr, "vla-train: --calibrate-trunk prepares a trunk that trains: use it with --full --train-clip\n");
        exit(2);
    }
    if (o->calibrate && o->whiten) {
        fprintf(stderr, "vla-train: --calibrate-trunk already gives standardised features: leave out --whiten-visual\n");
        exit(2);
    }
    if (o->train_clip && o->feat_cache) {
        fprintf(stderr, "vla-train: --train-clip changes the features at every step: --feat-cache does not apply\n");
        exit(2);
    }
}

/* ======================================================================
 * tasks, examples, images
 * ====================================================================== */

enum { K_VQA, K_GQA, K_NLVR, K_CAPTION, K_OTHER };
static const char *g_official[4] = {"vqa", "gqa", "nlvr", "caption"};

typedef struct answer {
    char *text;
    size_t len;
    float score;
    int count;                 /* annotators who gave it (list form), else 0 */
    int32_t *ids;
    int n_ids;
} answer;

typedef struct example {
    int line;                  /* 1-based line in its file                      */
    int task;
    int img[2];                /* image indices, -1: none                       */
    char *input;               /* raw text (prefix not yet added)               */
    size_t input_n;
    int32_t *ids;              /* prefix + input, encoded                       */
    int n_ids;
    answer *ans;
    int n_ans;
    int best;                  /* highest score (dev loss target)               */
    int annotators;            /* answers came as a list of annotator answers   */
    char *id;
} example;

typedef struct dataset {
    const char *path;
    example *ex;
    int n, cap;
} dataset;

typedef struct task_info {
    char name[40];
    int kind;
    vla_loss_kind loss;
    int in_max, tgt_max;       /* official truncation (0: the position limit)    */
    int n_images;              /* 0 until a line fixes it                        */
    int images_line;
    const char *images_file;
    char prefix[256];
    int batch;
    int *train, n_train;       /* indices into the training set                  */
    int *dev, n_dev;
    int n_batches;
    double loss_sum;           /* this epoch                                     */
    int loss_steps;
} task_info;

typedef struct image_ent {
    char *path;                /* as resolved from the data file                 */
    char *key;                 /* real path: the cache key                       */
    const char *file;          /* first reference, for messages                  */
    int line;
    uint64_t size;
    int64_t mt_s, mt_ns;
    float *feat;               /* [grid * channels]                              */
    unsigned char *rgb;        /* --train-clip: [S, S, 3], resized               */
} image_ent;

typedef struct run {
    options o;
    /* model */
    unsigned char *mfile;
    void *mmem;
    vla_model *m;
    const vla_hparams *hp;
    const vla_tokenizer *tok;
    uint64_t fingerprint;
    /* tasks and data */
    task_info *tasks;
    int n_tasks;
    int restrict_tasks;        /* 1: names outside tasks[] are errors            */
    dataset train, dev;
    image_ent *img;
    int n_img, cap_img;
    strmap img_map;
    int grid_h, grid_w, grid, ch;
    int pos_limit;
    unsigned char *data_bytes;  /* the training file (hashed into the run id)   */
    size_t data_size;
    /* the starting adapter file (NULL with --full) */
    unsigned char *afile;
    size_t afile_n;
    char method[32];
    /* threads */
    vla_threadpool pool;
    vla_exec exec;
    vla_logger log;
} run;

static int kind_of(const char *name) {
    int k;
    for (k = 0; k < 4; k++)
        if (!strcmp(name, g_official[k])) return k;
    return K_OTHER;
}

static int find_task(const run *R, const char *name) {
    int i;
    for (i = 0; i < R->n_tasks; i++)
        if (!strcmp(R->tasks[i].name, name)) return i;
    return -1;
}

static int add_task(run *R, const char *name) {
    task_info *t;
    R->tasks = (task_info *)xrealloc(R->tasks, sizeof(task_info) * (size_t)(R->n_tasks + 1));
    t = &R->tasks[R->n_tasks];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind_of(name);
    switch (t->kind) { /* the official loaders (vqa/gqa/nlvr/caption_clip_data.py) */
    case K_VQA: t->loss = VLA_LOSS_VQA; t->in_max = 20; t->tgt_max = 10; t->n_images = 1; break;
    case K_GQA: t->loss = VLA_LOSS_EXAMPLE_MEAN; t->in_max = 20; t->tgt_max = 0; t->n_images = 1; break;
    case K_NLVR: t->loss = VLA_LOSS_EXAMPLE_MEAN; t->in_max = 0; t->tgt_max = 3; t->n_images = 2; break;
    case K_CAPTION: t->loss = VLA_LOSS_TOKEN_MEAN; t->in_max = 40; t->tgt_max = 40; t->n_images = 1; break;
    default: t->loss = VLA_LOSS_EXAMPLE_MEAN; t->in_max = 0; t->tgt_max = 0; t->n_images = 0; break;
    }
    return R->n_tasks++;
}

static void task_list_str(const run *R, char *buf, size_t cap) {
    int i;
    size_t n = 0;
    buf[0] = 0;
    for (i = 0; i < R->n_tasks && n + 1 < cap; i++) {
        int w = snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", R->tasks[i].name);
        if (w < 0) break;
        n += (size_t)w;
    }
}

/* The image a data line names: resolved against the data file's directory,
 * checked (exists, regular file), registered once.  Returns its index, or -1
 * with the reason in err. */
static int add_image(run *R, const char *file, int line, const char *name, size_t name_n, char *err, size_t err_n) {
    char path[8192], *real;
    const char *sl = strrchr(file, '/');
    struct stat sb;
    int idx;
    image_ent *e;
    if (name_n == 0 || memchr(name, 0, name_n)) { snprintf(err, err_n, "the image name is empty or holds a NUL byte"); return -1; }
    if (name[0] == '/' || !sl) snprintf(path, sizeof path, "%.*s", (int)name_n, name);
    else snprintf(path, sizeof path, "%.*s/%.*s", (int)(sl - file), file, (int)name_n, name);
    if (stat(path, &sb) != 0) {
        snprintf(err, err_n, "image '%.*s' cannot be opened (looked at %s): %s", (int)name_n, name, path, strerror(errno));
        return -1;
    }
    if (!S_ISREG(sb.st_mode)) { snprintf(err, err_n, "image '%.*s' (%s) is not a regular file", (int)name_n, name, path); return -1; }
    real = realpath(path, NULL);
    if (!real) { snprintf(err, err_n, "image '%s': %s", path, strerror(errno)); return -1; }
    if ((idx = strmap_get(&R->img_map, real)) >= 0) { free(real); return idx; }
    if (R->n_img == R->cap_img) {
        R->cap_img = R->cap_img ? R->cap_img * 2 : 64;
        R->img = (image_ent *)xrealloc(R->img, sizeof(image_ent) * (size_t)R->cap_img);
    }
    e = &R->img[R->n_img];
    memset(e, 0, sizeof *e);
    e->path = xstrndup(path, strlen(path));
    e->key = real;
    e->file = file;
    e->line = line;
    e->size = (uint64_t)sb.st_size;
    e->mt_s = (int64_t)sb.st_mtim.tv_sec;
    e->mt_ns = (int64_t)sb.st_mtim.tv_nsec;
    strmap_put(&R->img_map, real, R->n_img);
    return R->n_img++;
}

static const vla_json *jget(const vla_json *o, const char *k) { return vla_json_get(o, k); }

/* One answer of a line's "answers"/"target". */
static void push_answer(example *e, const char *s, size_t n, float score, int count) {
    answer *a;
    e->ans = (answer *)xrealloc(e->ans, sizeof(answer) * (size_t)(e->n_ans + 1));
    a = &e->ans[e->n_ans++];
    memset(a, 0, sizeof *a);
    a->text = xstrndup(s, n);
    a->len = n;
    a->score = score;
    a->count = count;
}

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/* Everything an example owns (after a bad line, or when a harness is done). */
static void example_free(example *x) {
    int q;
    for (q = 0; q < x->n_ans; q++) { free(x->ans[q].text); free(x->ans[q].ids); }
    free(x->ans);
    free(x->input);
    free(x->ids);
    free(x->id);
    memset(x, 0, sizeof *x);
}

/* One data line (p[0, len), not blank) -> *out.  0, or -1 with the reason in
 * err and nothing left allocated (images it named stay registered in R). */
#define LINE_FAIL(...) do { snprintf(err, err_n, __VA_ARGS__); goto fail; } while (0)
static int parse_line(run *R, const char *path, int line, const char *p, size_t len, example *out, char *err, size_t err_n) {
    vla_json *j;
    const vla_json *jt, *ji, *ji2, *jin, *jtg, *jans, *jid;
    example ex;
    task_info *T;
    int ti;
    memset(&ex, 0, sizeof ex);
    ex.line = line;
    ex.img[0] = ex.img[1] = -1;
    {
        char jerr[256];
        j = vla_json_parse(p, len, jerr, sizeof jerr);
        if (!j) LINE_FAIL("not valid JSON (%s)", jerr);
    }
    if (j->type != VLA_JSON_OBJECT) LINE_FAIL("expected one JSON object {...} per line");
    jt = jget(j, "task");
    if (!jt || jt->type != VLA_JSON_STRING || jt->n == 0 || jt->n > 32 || memchr(jt->s, 0, jt->n))
        LINE_FAIL("\"task\" is missing or not a task name (a string of 1..32 bytes)");
    ti = find_task(R, jt->s);
    if (ti < 0 && R->o.full && !R->restrict_tasks) { /* full training: any task the data names (a pretraining mix) */
        char nm[40];
        snprintf(nm, sizeof nm, "%.*s", (int)jt->n, jt->s);
        add_task(R, nm);
        ti = find_task(R, jt->s);
    }
    if (ti < 0) {
        char list[512];
        task_list_str(R, list, sizeof list);
        LINE_FAIL("unknown task '%s' (this run knows: %s%s)", jt->s, list,
                  R->restrict_tasks ? "" : "; other names need an adapter file that lists them, or --init METHOD:tasks=a+b");
    }
    T = &R->tasks[ti];
    ex.task = ti;
    ji = jget(j, "image");
    if (!ji || ji->type != VLA_JSON_STRING) LINE_FAIL("\"image\" is missing or not a string");
    if ((ex.img[0] = add_image(R, path, line, ji->s, ji->n, err, err_n)) < 0) goto fail;
    ji2 = jget(j, "image2");
    if (ji2 && ji2->type != VLA_JSON_STRING) LINE_FAIL("\"image2\" is not a string");
    if (ji2) {
        if (T->kind != K_NLVR && T->kind != K_OTHER)
            LINE_FAIL("task %s takes one image; \"image2\" is for nlvr (and custom two-image tasks)", T->name);
        if ((ex.img[1] = add_image(R, path, line, ji2->s, ji2->n, err, err_n)) < 0) goto fail;
    } else if (T->kind == K_NLVR) LINE_FAIL("an nlvr line needs \"image2\" (NLVR2 compares two pictures)");
    if (T->n_images == 0) { T->n_images = ji2 ? 2 : 1; T->images_line = line; T->images_file = path; }
    else if (T->n_images != (ji2 ? 2 : 1))
        LINE_FAIL("task %s had %d image(s) per line before (%s:%d); every line of a task needs the same", T->name,
                  T->n_images, T->images_file ? T->images_file : path, T->images_line);
    jin = jget(j, "input");
    if (jin && jin->type != VLA_JSON_STRING) LINE_FAIL("\"input\" is not a string");
    if (jin) { ex.input = xstrndup(jin->s, jin->n); ex.input_n = jin->n; }
    else { ex.input = xstrndup("", 0); ex.input_n = 0; }
    jtg = jget(j, "target");
    jans = jget(j, "answers");
    if (jtg && jtg->type != VLA_JSON_STRING) LINE_FAIL("\"target\" is not a string");
    if (T->kind == K_NLVR) {
        if (!jtg || !((jtg->n == 4 && !memcmp(jtg->s, "true", 4)) || (jtg->n == 5 && !memcmp(jtg->s, "false", 5))))
            LINE_FAIL("an nlvr line needs \"target\": \"true\" or \"false\"");
        push_answer(&ex, jtg->s, jtg->n, 1.0f, 0);
    } else if (T->kind == K_CAPTION) {
        size_t a = 0, b;
        if (!jtg) LINE_FAIL("a caption line needs \"target\" (the caption)");
        b = jtg->n;
        while (a < b && is_ws(jtg->s[a])) a++; /* the loader strips the caption */
        while (b > a && is_ws(jtg->s[b - 1])) b--;
        if (a == b) LINE_FAIL("the caption is empty");
        push_answer(&ex, jtg->s + a, b - a, 1.0f, 0);
    } else if (jans) {
        int q;
        if (jans->type == VLA_JSON_OBJECT) {
            for (q = 0; q < jans->n_kid; q++) {
                const vla_json *s = &jans->kid[q];
                if (s->type != VLA_JSON_NUMBER || !(s->num >= 0.0) || !(s->num < 1e30))
                    LINE_FAIL("\"answers\": the score of '%s' is not a number >= 0", s->key);
                if (s->key_n == 0) LINE_FAIL("\"answers\" holds an empty answer");
                push_answer(&ex, s->key, s->key_n, (float)s->num, 0);
            }
        } else if (jans->type == VLA_JSON_ARRAY) { /* annotators' answers: score = min(1, count / 3) */
            ex.annotators = 1;
            for (q = 0; q < jans->n_kid; q++) {
                const vla_json *s = &jans->kid[q];
                int r2, found = -1;
                if (s->type != VLA_JSON_STRING || s->n == 0) LINE_FAIL("\"answers\" as a list must hold non-empty strings");
                for (r2 = 0; r2 < ex.n_ans; r2++)
                    if (ex.ans[r2].len == s->n && !memcmp(ex.ans[r2].text, s->s, s->n)) found = r2;
                if (found >= 0) ex.ans[found].count++;
                else push_answer(&ex, s->s, s->n, 0.0f, 1);
            }
            for (q = 0; q < ex.n_ans; q++) ex.ans[q].score = ex.ans[q].count >= 3 ? 1.0f : (float)ex.ans[q].count / 3.0f;
        } else LINE_FAIL("\"answers\" must be an object {\"answer\": score} or a list of strings");
        if (ex.n_ans == 0) LINE_FAIL("\"answers\" is empty");
    } else if (jtg) {
        push_answer(&ex, jtg->s, jtg->n, 1.0f, 0);
    } else LINE_FAIL("no \"target\" or \"answers\"");
    {
        int q;
        ex.best = 0;
        for (q = 1; q < ex.n_ans; q++)
            if (ex.ans[q].score > ex.ans[ex.best].score) ex.best = q;
    }
    jid = jget(j, "id");
    if (jid) {
        char tmp[64];
        if (jid->type == VLA_JSON_STRING) ex.id = xstrndup(jid->s, jid->n);
        else if (jid->type == VLA_JSON_NUMBER) {
            if (jid->is_int) snprintf(tmp, sizeof tmp, "%lld", (long long)jid->inum);
            else snprintf(tmp, sizeof tmp, "%.17g", jid->num);
            ex.id = xstrndup(tmp, strlen(tmp));
        } else LINE_FAIL("\"id\" must be a string or a number");
    }
    vla_json_free(j);
    *out = ex;
    return 0;
fail:
    vla_json_free(j);
    example_free(&ex);
    return -1;
}
#undef LINE_FAIL

/* The lines of a JSONL text (a whole data file, named path in messages and
 * image lookups) appended to ds.  0, or -1 with the first bad line's number
 * in *bad_line and the reason in err (the lines before it stay in ds). */
static int parse_data(run *R, dataset *ds, const char *path, const unsigned char *buf, size_t n, int *bad_line, char *err,
                      size_t err_n) {
    size_t pos = 0;
    int line = 0;
    while (pos < n) {
        const char *p = (const char *)buf + pos, *e = (const char *)memchr(p, '\n', n - pos);
        size_t len = e ? (size_t)(e - p) : n - pos, k;
        example ex;
        pos += len + (e ? 1 : 0);
        line++;
        if (len && p[len - 1] == '\r') len--;
        for (k = 0; k < len && is_ws(p[k]); k++) {}
        if (k == len) continue; /* blank line */
        if (parse_line(R, path, line, p, len, &ex, err, err_n) != 0) { *bad_line = line; return -1; }
        if (ds->n == ds->cap) {
            ds->cap = ds->cap ? ds->cap * 2 : 256;
            ds->ex = (example *)xrealloc(ds->ex, sizeof(example) * (size_t)ds->cap);
        }
        ds->ex[ds->n++] = ex;
    }
    return 0;
}

/* Parse a JSONL file into ds; every problem is an error with its line. */
static void parse_file(run *R, dataset *ds, const char *path) {
    static char err[16384];
    size_t n;
    unsigned char *buf = vla_tool_read_file(path, &n, err, sizeof err);
    int line = 0;
    if (!buf) die("%s", err);
    ds->path = path;
    if (ds == &R->train) { R->data_bytes = buf; R->data_size = n; }
    if (parse_data(R, ds, path, buf, n, &line, err, sizeof err) != 0) data_error(path, line, "%s", err);
    if (ds->n == 0) die("%s holds no examples", path);
    if (ds != &R->train) free(buf);
}

/* ======================================================================
 * the model, the adapter file (given or made fresh), tokenization
 * ====================================================================== */

static void load_model(run *R) {
    R->m = ex_load_model(R->o.model, &R->mfile, &R->mmem);
    if (!R->m) die("cannot load the model %s", R->o.model);
    R->hp = vla_model_hparams(R->m);
    R->tok = vla_model_tokenizer(R->m);
    R->fingerprint = vla_model_fingerprint(R->m);
    if (!R->hp->has_bart) die("%s holds no BART (a vision-only file?)", R->o.model);
    if (!R->hp->has_visual) die("%s has no visual embedding: VL-Adapter training needs one", R->o.model);
    if (!R->hp->has_clip) die("%s has no CLIP trunk (make it with vla-convert --clip): vla-train computes the grid features itself", R->o.model);
    if (!R->tok) die("%s has no tokenizer (vla-convert --tokenizer)", R->o.model);
    if (R->hp->clip_out_ch != R->hp->feat_dim)
        die("%s: the CLIP trunk gives %d channels but the visual embedding takes %d", R->o.model, R->hp->clip_out_ch, R->hp->feat_dim);
    R->grid_h = R->grid_w = R->hp->clip_image_size / 32;
    R->grid = R->grid_h * R->grid_w;
    R->ch = R->hp->clip_out_ch;
    R->pos_limit = R->hp->n_positions - 2;
    if (R->pos_limit < 3) die("%s: the position table is too short to train", R->o.model);
}

/* Task names, prefixes and the method of an adapter file (define: the run's
 * task list is the file's, in its order). */
static void adapter_meta(run *R, const unsigned char *buf, size_t n, const char *what, int define) {
    vla_arena a;
    vla_gguf g;
    vla_gguf_kv kt, kp;
    vla_str sv, name, pre;
    size_t pt = 0, pp = 0;
    int have_pre, i;
    vla_status st;
    vla_arena_init_measure(&a);
    if ((st = vla_gguf_open(&g, buf, n, &a)) != VLA_OK) die("%s is not a valid GGUF file (%s)", what, vla_status_str(st));
    if (vla_gguf_get_str(&g, "general.type", &sv) != VLA_OK || sv.n != 7 || memcmp(sv.s, "adapter", 7))
        die("%s is not an adapter file (general.type is not \"adapter\")", what);
    if (vla_gguf_get_str(&g, "vladapter.adapter.method", &sv) != VLA_OK || sv.n == 0 || sv.n >= sizeof R->method)
        die("%s names no method (vladapter.adapter.method)", what);
    snprintf(R->method, sizeof R->method, "%.*s", (int)sv.n, sv.s);
    if (vla_gguf_get_kv(&g, "vladapter.adapter.tasks", &kt) != VLA_OK || kt.type != VLA_GGUF_ARRAY || kt.arr_type != VLA_GGUF_STRING ||
        kt.arr_n < 1)
        die("%s lists no tasks (vladapter.adapter.tasks)", what);
    have_pre = vla_gguf_get_kv(&g, "vladapter.adapter.prefixes", &kp) == VLA_OK && kp.type == VLA_GGUF_ARRAY &&
               kp.arr_type == VLA_GGUF_STRING && kp.arr_n == kt.arr_n;
    for (i = 0; vla_gguf_arr_next_str(&kt, &pt, &name); i++) {
        char nm[64];
        int ti;
        if (name.n == 0 || name.n > 32) die("%s: task names must have 1..32 bytes", what);
        snprintf(nm, sizeof nm, "%.*s", (int)name.n, name.s);
        pre.s = ""; pre.n = 0;
        if (have_pre && !vla_gguf_arr_next_str(&kp, &pp, &pre)) die("%s: bad vladapter.adapter.prefixes", what);
        ti = find_task(R, nm);
        if (ti < 0) {
            if (!define) continue;
            ti = add_task(R, nm);
        }
        snprintf(R->tasks[ti].prefix, sizeof R->tasks[ti].prefix, "%.*s", (int)pre.n, pre.s);
    }
}

typedef struct init_spec {
    char method[32];           /* the library's method name                      */
    int shared, prefixes;
    int hidden, reduction, rank, k, prompt_len, mid, task_emb, task_hidden, task_proj;
    float alpha;
    char tasks[16][40];
    int n_tasks;
} init_spec;

static void parse_init(const char *spec, init_spec *s) {
    static const struct { const char *name, *method; int shared; } M[] = {
        {"adapter", "adapter", 0}, {"multiple_adapters", "adapter", 0}, {"single_adapter", "adapter", 1},
        {"half_shared_adapters", "adapter", 2},
        {"compacter", "compacter", 0}, {"multiple_compacters", "compacter", 0}, {"single_compacter", "compacter", 1},
        {"lora", "lora", 0}, {"multiple_lora", "lora", 0}, {"single_lora", "lora", 1},
        {"prompt", "prompt", 0}, {"multiple_prompts", "prompt", 0}, {"single_prompt", "prompt", 1},
        {"hyperformer", "hyperformer", 0}};
    const char *colon = strchr(spec, ':'), *p;
    size_t mn = colon ? (size_t)(colon - spec) : strlen(spec), i;
    memset(s, 0, sizeof *s);
    for (i = 0; i < sizeof M / sizeof M[0]; i++)
        if (strlen(M[i].name) == mn && !memcmp(M[i].name, spec, mn)) {
            snprintf(s->method, sizeof s->method, "%s", M[i].method);
            s->shared = M[i].shared;
        }
    if (!s->method[0]) { fprintf(stderr, "vla-train: --init: unknown method '%.*s'\n", (int)mn, spec); usage(stderr); exit(2); }
    /* the official scripts: text prefixes only with the single_* variants */
    s->prefixes = s->shared == 1 ? VLA_RAND_PREFIX_OFFICIAL : VLA_RAND_PREFIX_NONE;
    s->reduction = 8; s->rank = 128; s->alpha = 32.0f; s->k = 2; s->prompt_len = 40; s->mid = 800;
    s->task_emb = 512; s->task_hidden = 128; s->task_proj = 8;
    for (p = colon ? colon + 1 : NULL; p && *p;) {
        const char *e = strchr(p, ','), *eq;
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char key[32], val[512];
        long v;
        char *end;
        eq = memchr(p, '=', n);
        if (!eq || (size_t)(eq - p) >= sizeof key || n - (size_t)(eq - p) - 1 >= sizeof val) {
            fprintf(stderr, "vla-train: --init: option '%.*s' is not key=value\n", (int)n, p);
            exit(2);
        }
        snprintf(key, sizeof key, "%.*s", (int)(eq - p), p);
        snprintf(val, sizeof val, "%.*s", (int)(n - (size_t)(eq - p) - 1), eq + 1);
        p = e ? e + 1 : NULL;
        if (!strcmp(key, "tasks")) {
            char *q = val;
            while (*q) {
                size_t l = strcspn(q, "+");
                if (l == 0 || l > 32 || s->n_tasks == 16) { fprintf(stderr, "vla-train: --init: tasks= takes 1..16 names of 1..32 bytes, joined by '+'\n"); exit(2); }
                snprintf(s->tasks[s->n_tasks++], sizeof s->tasks[0], "%.*s", (int)l, q);
                q += l;
                if (*q == '+') q++;
            }
            continue;
        }
        if (!strcmp(key, "prefixes")) {
            if (!strcmp(val, "official")) s->prefixes = VLA_RAND_PREFIX_OFFICIAL;
            else if (!strcmp(val, "none")) s->prefixes = VLA_RAND_PREFIX_NONE;
            else if (!strcmp(val, "task")) s->prefixes = VLA_RAND_PREFIX_TASK;
            else { fprintf(stderr, "vla-train: --init: prefixes= is official, none or task\n"); exit(2); }
            continue;
        }
        if (!strcmp(key, "alpha")) {
            double a = strtod(val, &end);
            if (end == val || *end || !(a > 0)) { fprintf(stderr, "vla-train: --init: alpha= needs a number > 0\n"); exit(2); }
            s->alpha = (float)a;
            continue;
        }
        v = strtol(val, &end, 10);
        if (end == val || *end || v < 1 || v > 1 << 20) { fprintf(stderr, "vla-train: --init: %s= needs a positive integer\n", key); exit(2); }
        if (!strcmp(key, "hidden")) s->hidden = (int)v;
        else if (!strcmp(key, "reduction")) s->reduction = (int)v;
        else if (!strcmp(key, "rank") || !strcmp(key, "r")) s->rank = (int)v;
        else if (!strcmp(key, "k")) s->k = (int)v;
        else if (!strcmp(key, "prompt_len") || !strcmp(key, "len")) s->prompt_len = (int)v;
        else if (!strcmp(key, "mid")) s->mid = (int)v;
        else if (!strcmp(key, "task_emb")) s->task_emb = (int)v;
        else if (!strcmp(key, "task_hidden")) s->task_hidden = (int)v;
        else if (!strcmp(key, "task_proj")) s->task_proj = (int)v;
        else { fprintf(stderr, "vla-train: --init: unknown option '%s'\n", key); exit(2); }
    }
}

/* A fresh adapter file for the run's tasks with the official initialisation. */
static void make_init_adapter(run *R, const init_spec *s) {
    vla_rand_adapter ra;
    vla_conv cv;
    int i, d = R->hp->d_model;
    memset(&ra, 0, sizeof ra);
    if (R->n_tasks > 16) die("--init makes at most 16 tasks");
    ra.method = s->method;
    ra.d_model = d; ra.enc_layers = R->hp->n_enc_layers; ra.dec_layers = R->hp->n_dec_layers;
    ra.n_tasks = R->n_tasks;
    for (i = 0; i < R->n_tasks; i++) ra.tasks[i] = R->tasks[i].name;
    ra.shared = s->shared;
    ra.hidden = !strcmp(s->method, "lora") ? s->rank : s->hidden > 0 ? s->hidden : d / s->reduction;
    if (ra.hidden < 1) die("--init: the hidden size d_model / reduction = %d / %d is below 1", d, s->reduction);
    ra.phm_k = s->k;
    ra.lora_alpha = s->alpha;
    ra.prompt_len = s->prompt_len; ra.prompt_mid = s->mid;
    ra.task_emb = s->task_emb; ra.task_hidden = s->task_hidden; ra.task_proj = s->task_proj;
    ra.base_fingerprint = R->fingerprint;
    ra.max_length = R->hp->max_length; /* the base's decoding length (20 in a converted BART) */
    ra.seed = R->o.seed;
    ra.init = VLA_RAND_INIT_OFFICIAL;
    ra.prefixes = s->prefixes;
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_random_adapter(&cv, &ra) != 0 || vla_conv_write_mem(&cv, &R->afile, &R->afile_n) != 0)
        die("--init %s: %s", R->o.init, cv.err);
    vla_conv_free(&cv);
    {
        char list[512], size[64];
        task_list_str(R, list, sizeof list);
        if (!strcmp(s->method, "lora")) snprintf(size, sizeof size, "rank %d, alpha %g", ra.hidden, (double)ra.lora_alpha);
        else if (!strcmp(s->method, "prompt")) snprintf(size, sizeof size, "%d prompt vectors, MLP width %d", ra.prompt_len, ra.prompt_mid);
        else snprintf(size, sizeof size, "hidden size %d", ra.hidden);
        note("--init %s: a fresh adapter file, method %s, %s, %s, tasks %s, official initialisation, decoding max_length %d (the base's)",
             R->o.init, s->method, s->shared ? "one module for all tasks" : "one module per task", size, list, ra.max_length);
    }
}

/* Drop tasks no line uses (runs without an adapter file's task list). */
static void drop_unused_tasks(run *R) {
    int *map = (int *)xcalloc((size_t)R->n_tasks, sizeof(int)), *used = (int *)xcalloc((size_t)R->n_tasks, sizeof(int));
    int i, n = 0;
    for (i = 0; i < R->train.n; i++) used[R->train.ex[i].task] = 1;
    for (i = 0; i < R->dev.n; i++) used[R->dev.ex[i].task] = 1;
    for (i = 0; i < R->n_tasks; i++) {
        map[i] = used[i] ? n : -1;
        if (used[i]) R->tasks[n++] = R->tasks[i];
    }
    R->n_tasks = n;
    for (i = 0; i < R->train.n; i++) R->train.ex[i].task = map[R->train.ex[i].task];
    for (i = 0; i < R->dev.n; i++) R->dev.ex[i].task = map[R->dev.ex[i].task];
    free(map);
    free(used);
}

/* text -> ids with <s> </s>, cut to max_len (0: none) as HF's truncation. */
static int32_t *encode_text(run *R, vla_arena *a, const char *text, size_t n, int max_len, int *n_ids, int *cut, const char *file,
                            int line, const char *what) {
    int cap = (int)(n < 1000000 ? n : 1000000) + 8, k = 0, i;
    int32_t *ids = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)cap);
    vla_status st = vla_tokenize(R->tok, a, text, n, 1, 1, 0, ids, cap, &k);
    if (st == VLA_ERR_NOMEM && k > cap) {
        cap = k;
        ids = (int32_t *)xrealloc(ids, sizeof(int32_t) * (size_t)cap);
        st = vla_tokenize(R->tok, a, text, n, 1, 1, 0, ids, cap, &k);
    }
    if (st != VLA_OK) data_error(file, line, "the %s cannot be tokenized (%s)", what, vla_status_str(st));
    if (max_len > 0 && k > max_len) {
        if (cut) *cut = 1;
        st = vla_tokenize(R->tok, a, text, n, 1, 1, max_len, ids, cap, &k);
        if (st != VLA_OK) data_error(file, line, "the %s cannot be tokenized (%s)", what, vla_status_str(st));
    }
    for (i = 0; i < k; i++)
        if (ids[i] < 0 || ids[i] >= R->hp->vocab)
            data_error(file, line, "the %s has token id %d, outside the model's %d embedding rows: the model file's tokenizer does not fit its embedding",
                       what, (int)ids[i], R->hp->vocab);
    *n_ids = k;
    return ids;
}

static void encode_all(run *R, dataset *ds, int *cut_in, int *cut_tgt) {
    size_t maxlen = 64, i;
    vla_arena a;
    void *mem;
    char *text;
    int e, q;
    for (e = 0; e < ds->n; e++) {
        example *x = &ds->ex[e];
        size_t l = strlen(R->tasks[x->task].prefix) + x->input_n;
        if (l > maxlen) maxlen = l;
        for (q = 0; q < x->n_ans; q++) if (x->ans[q].len > maxlen) maxlen = x->ans[q].len;
    }
    i = vla_tokenize_scratch_size(maxlen) + 4 * VLA_ALIGN;
    mem = xmalloc(i);
    vla_arena_init(&a, mem, i);
    text = (char *)xmalloc(maxlen + 1);
    for (e = 0; e < ds->n; e++) {
        example *x = &ds->ex[e];
        const task_info *T = &R->tasks[x->task];
        size_t pl = strlen(T->prefix);
        int cut = 0;
        memcpy(text, T->prefix, pl);
        memcpy(text + pl, x->input, x->input_n);
        x->ids = encode_text(R, &a, text, pl + x->input_n, T->in_max && T->in_max < R->pos_limit ? T->in_max : R->pos_limit, &x->n_ids,
                             &cut, ds->path, x->line, "input");
        if (cut && !T->in_max) (*cut_in)++;
        for (q = 0; q < x->n_ans; q++) {
            cut = 0;
            x->ans[q].ids = encode_text(R, &a, x->ans[q].text, x->ans[q].len, T->tgt_max && T->tgt_max < R->pos_limit ? T->tgt_max : R->pos_limit,
                                        &x->ans[q].n_ids, &cut, ds->path, x->line, "target");
            if (cut && !T->tgt_max) (*cut_tgt)++;
        }
    }
    free(text);
    free(mem);
}

/* ======================================================================
 * grid features: CLIP once per image, cached in memory and on disk
 * ====================================================================== */

/* Feature cache file (host byte order, marked):
 *   header  "VLAFEAT1", u32 0x01020304 (byte order), u32 image size,
 *           u64 model fingerprint, u32 grid_h, grid_w, channels, n_entries,
 *           u64 FNV-1a of the 40 bytes before it                  (48 bytes)
 *   entry   u32 path length, path (the image's real path), u64 file size,
 *           i64 mtime seconds, i64 mtime nanoseconds,
 *           f32 [grid_h * grid_w * channels], u64 checksum of the entry's
 *           bytes before it */
#define FC_HDR 48

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static void fc_header(const run *R, unsigned char *h, uint32_t n_entries) {
    memcpy(h, "VLAFEAT1", 8);
    put32(h + 8, 0x01020304u);
    put32(h + 12, (uint32_t)R->hp->clip_image_size);
    put64(h + 16, R->fingerprint);
    put32(h + 24, (uint32_t)R->grid_h);
    put32(h + 28, (uint32_t)R->grid_w);
    put32(h + 32, (uint32_t)R->ch);
    put32(h + 36, n_entries);
    put64(h + 40, fnv64(FNV0, h, 40));
}

/* Loads what the cache can give; returns 1 if the file should be rewritten
 * (it is missing, stale or damaged), 0 if it is fine as it is. */
static int fc_load(run *R, const char *path, int *reused) {
    FILE *f = fopen(path, "rb");
    unsigned char h[FC_HDR], want[FC_HDR], meta[28];
    size_t nf = (size_t)R->grid * (size_t)R->ch;
    float *buf;
    uint32_t n, e;
    int stale = 0, dirty = 0, bad = 0;
    *reused = 0;
    if (!f) {
        if (errno == ENOENT) note("feature cache %s does not exist yet: it will be created", path);
        else note("feature cache %s cannot be opened (%s): features will be computed", path, strerror(errno));
        return 1;
    }
    if (fread(h, 1, FC_HDR, f) != FC_HDR || memcmp(h, "VLAFEAT1", 8) || get64(h + 40) != fnv64(FNV0, h, 40) || get32(h + 8) != 0x01020304u) {
        note("feature cache %s: not a feature cache of this build (bad header or checksum): recomputing everything", path);
        fclose(f);
        return 1;
    }
    fc_header(R, want, get32(h + 36));
    if (memcmp(h + 12, want + 12, 24)) {
        if (get64(h + 16) != R->fingerprint)
            note("feature cache %s was made with another model (fingerprint %016llx, this model %016llx): recomputing everything", path,
                 (unsigned long long)get64(h + 16), (unsigned long long)R->fingerprint);
        else note("feature cache %s has another image size or grid: recomputing everything", path);
        fclose(f);
        return 1;
    }
    n = get32(h + 36);
    buf = (float *)xmalloc(nf * sizeof(float));
    for (e = 0; e < n; e++) {
        unsigned char lb[4], cb[8];
        uint32_t pl;
        char *p;
        uint64_t hs;
        int idx;
        if (fread(lb, 1, 4, f) != 4) { note("feature cache %s is truncated (entry %u of %u is missing): recomputing the rest", path, e + 1, n); dirty = 1; break; }
        pl = get32(lb);
        if (pl == 0 || pl > 65536) { note("feature cache %s is corrupt at entry %u (bad path length): recomputing the rest", path, e + 1); dirty = 1; break; }
        p = (char *)xmalloc(pl + 1);
        if (fread(p, 1, pl, f) != pl || fread(meta, 1, 24, f) != 24 || fread(buf, sizeof(float), nf, f) != nf || fread(cb, 1, 8, f) != 8) {
            note("feature cache %s is truncated (entry %u of %u is incomplete): recomputing the rest", path, e + 1, n);
            free(p);
            dirty = 1;
            break;
        }
        p[pl] = 0;
        hs = hash_words(hash_words(hash_words(fnv64(FNV0, lb, 4), p, pl), meta, 24), buf, nf * sizeof(float));
        if (hs != get64(cb)) { /* the framing still holds (the path length was sane): skip just this entry */
            if (!bad) note("feature cache %s is corrupt (entry %u of %u fails its checksum)", path, e + 1, n);
            bad++;
            free(p);
            dirty = 1;
            continue;
        }
        idx = strmap_get(&R->img_map, p);
        free(p);
        if (idx < 0) { dirty = 1; continue; } /* an image this run does not use: dropped when the cache is rewritten */
        if (R->img[idx].feat) continue;
        if (get64(meta) != R->img[idx].size || (int64_t)get64(meta + 8) != R->img[idx].mt_s || (int64_t)get64(meta + 16) != R->img[idx].mt_ns) {
            stale++;
            continue;
        }
        R->img[idx].feat = (float *)xmalloc(nf * sizeof(float));
        memcpy(R->img[idx].feat, buf, nf * sizeof(float));
        (*reused)++;
    }
    if (e == n && fgetc(f) != EOF) { note("feature cache %s has bytes after its last entry: it will be rewritten", path); dirty = 1; }
    free(buf);
    fclose(f);
    if (bad) note("feature cache %s: %d damaged entr%s ignored: recomputing those images", path, bad, bad == 1 ? "y" : "ies");
    if (stale) note("feature cache %s: %d image(s) changed on disk since (size or modification time): recomputing them", path, stale);
    return dirty || stale || *reused < R->n_img;
}

static vla_status fc_fill(void *ctx, FILE *f) {
    const run *R = (const run *)ctx;
    unsigned char h[FC_HDR], lb[4], meta[24], cb[8];
    size_t nf = (size_t)R->grid * (size_t)R->ch;
    uint32_t n = 0;
    int i;
    for (i = 0; i < R->n_img; i++) n += R->img[i].feat != NULL;
    fc_header(R, h, n);
    if (fwrite(h, 1, FC_HDR, f) != FC_HDR) return VLA_ERR_IO;
    for (i = 0; i < R->n_img; i++) {
        const image_ent *e = &R->img[i];
        uint32_t pl = (uint32_t)strlen(e->key);
        uint64_t hs;
        if (!e->feat) continue;
        put32(lb, pl);
        put64(meta, e->size); put64(meta + 8, (uint64_t)e->mt_s); put64(meta + 16, (uint64_t)e->mt_ns);
        hs = hash_words(hash_words(hash_words(fnv64(FNV0, lb, 4), e->key, pl), meta, 24), e->feat, nf * sizeof(float));
        put64(cb, hs);
        if (fwrite(lb, 1, 4, f) != 4 || fwrite(e->key, 1, pl, f) != pl || fwrite(meta, 1, 24, f) != 24 ||
            fwrite(e->feat, sizeof(float), nf, f) != nf || fwrite(cb, 1, 8, f) != 8)
            return VLA_ERR_IO;
    }
    return VLA_OK;
}

/* --train-clip: every picture resized once to the trunk's input (8-bit RGB),
 * normalised per batch by build_batch. */
static void load_pictures(run *R) {
    int S = R->hp->clip_image_size, i, tty = isatty(2);
    double t0 = now_s();
    for (i = 0; i < R->n_img; i++) {
        image_ent *e = &R->img[i];
        int w, h, ch;
        char err[160];
        unsigned char *px = vla_example_load_image(e->path, &w, &h, &ch, err, sizeof err);
        vla_image img;
        vla_arena a;
        size_t need;
        void *scratch;
        vla_status st;
        if (!px) data_error(e->file, e->line, "image '%s' cannot be read: %s", e->path, err);
        need = vla_image_resize_scratch_size(w, h, S, S) + 2 * VLA_ALIGN;
        scratch = xmalloc(need);
        e->rgb = (unsigned char *)xmalloc((size_t)S * S * 3);
        vla_arena_init(&a, scratch, need);
        if ((st = vla_image_view(&img, px, w, h, ch, 0)) == VLA_OK) st = vla_image_resize(&a, e->rgb, S, S, &img);
        vla_example_free_image(px);
        free(scratch);
        if (st != VLA_OK) data_error(e->file, e->line, "image '%s': %s", e->path, vla_status_str(st));
        if (g_stop) { note("interrupted"); exit(130); }
        if (tty && (i % 64 == 63 || i + 1 == R->n_img)) fprintf(stderr, "\r\033[Kpictures %d/%d", i + 1, R->n_img);
    }
    if (tty) fprintf(stderr, "\n");
    note("%d picture(s) resized to %dx%d for the trained trunk in %.1f s (%.1f MiB)", R->n_img, S, S, now_s() - t0,
         (double)R->n_img * S * S * 3 / 1048576.0);
}

static void compute_features(run *R) {
    int reused = 0, rewrite = 0, todo = 0, done = 0, i, tty = isatty(2);
    size_t nf = (size_t)R->grid * (size_t)R->ch, need;
    double t0 = now_s();
    vla_ctx_params p;
    vla_ctx *c = NULL;
    void *cmem;
    vla_status st;
    if (R->o.feat_cache) rewrite = fc_load(R, R->o.feat_cache, &reused);
    for (i = 0; i < R->n_img; i++) todo += R->img[i].feat == NULL;
    if (todo) {
        memset(&p, 0, sizeof p);
        p.max_batch = 1; p.max_text_len = 1; p.max_images = 1; p.max_grid = R->grid; p.max_dec_len = 2; p.max_beams = 1;
        p.use_clip = 1; p.exec = R->exec; p.log = R->log;
        if ((st = vla_ctx_mem_req(R->m, &p, &need)) != VLA_OK) die("CLIP context: %s", vla_status_str(st));
        cmem = xmalloc(need);
        if ((st = vla_ctx_init(&c, R->m, &p, cmem, need)) != VLA_OK) die("CLIP context: %s", vla_status_str(st));
        note("grid features: %d image(s) to run through the CLIP trunk%s", todo, reused ? "" : "");
        for (i = 0; i < R->n_img; i++) {
            image_ent *e = &R->img[i];
            float *pic;
            int h = 0, w = 0, ch = 0;
            if (e->feat) continue;
            pic = ex_load_picture(e->path, R->hp->clip_image_size);
            if (!pic) data_error(e->file, e->line, "image '%s' cannot be read (see above)", e->path);
            e->feat = (float *)xmalloc(nf * sizeof(float));
            if ((st = vla_clip_run(c, pic, 4, e->feat, &h, &w, &ch)) != VLA_OK) die("CLIP trunk on %s: %s", e->path, vla_status_str(st));
            if (h != R->grid_h || w != R->grid_w || ch != R->ch) die("CLIP trunk on %s: unexpected grid %dx%dx%d", e->path, h, w, ch);
            free(pic);
            done++;
            if (g_stop) { /* keep what was computed: the next run starts from it */
                if (tty) fprintf(stderr, "\n");
                if (R->o.feat_cache && write_atomic(R->o.feat_cache, fc_fill, R) == 0)
                    note("interrupted: the features of %d image(s) are saved in %s", done + reused, R->o.feat_cache);
                else note("interrupted");
                exit(130);
            }
            if (tty) {
                double dt = now_s() - t0;
                char eta[32];
                fmt_hms(eta, sizeof eta, dt / done * (todo - done));
                fprintf(stderr, "\r\033[Kfeatures %d/%d  %.1f img/s  ETA %s", done, todo, done / (dt > 0 ? dt : 1e-9), eta);
            }
        }
        if (tty) fprintf(stderr, "\n");
        free(cmem);
    }
    note("grid features of %d image(s): %d from the cache, %d computed in %.1f s", R->n_img, reused, todo, now_s() - t0);
    if (R->o.feat_cache && (rewrite || todo)) {
        if (write_atomic(R->o.feat_cache, fc_fill, R) == 0) note("feature cache %s written (%d images)", R->o.feat_cache, R->n_img);
        else note("warning: the feature cache %s could not be written; training goes on", R->o.feat_cache);
    }
}

/* --calibrate-trunk: vla_trainer_calibrate_clip on up to 64 of the run's
 * pictures (the first ones of the data), before the first step. */
static void calibrate_trunk(run *R, vla_trainer *tr) {
    int S = R->hp->clip_image_size, n = R->n_img < 64 ? R->n_img : 64, i;
    size_t per = (size_t)S * S * 3;
    float *pics = (float *)xmalloc(sizeof(float) * per * (size_t)n);
    vla_status st;
    double t0 = now_s();
    for (i = 0; i < n; i++) vla_image_normalize(pics + (size_t)i * per, R->img[i].rgb, S, S, NULL, NULL, VLA_LAYOUT_HWC);
    if ((st = vla_trainer_calibrate_clip(tr, pics, n)) != VLA_OK) die("--calibrate-trunk: %s", vla_status_str(st));
    note("--calibrate-trunk: every trunk convolution standardised on %d picture(s) in %.1f s", n, now_s() - t0);
    free(pics);
}

/* --whiten-visual: a data-dependent start for the visual projection of a
 * base model pretrained from random weights.  Over the grid cells of (up to
 * 2048 of) the run's pictures, channel c of the CLIP features has mean mu_c
 * and standard deviation sd_c; the projection y = W f + b becomes
 * W' = W diag(1 / sd), b' = b - W' mu, so it sees standardised features.
 * Raw random-trunk features are mostly a picture-independent offset (and the
 * LayerNorm that follows divides the offset's size out), which left the
 * picture-dependent part a tenth of every visual token and the model on the
 * answer prior for thousands of steps (docs/shapes.md).  Runs before a
 * --resume (whose state then replaces every value). */
static void whiten_visual(run *R, vla_trainer *tr) {
    int n_pic = R->n_img < 2048 ? R->n_img : 2048, C = R->ch, G = R->grid, i, j, c, r, d = R->hp->d_model, found = 0;
    double *sum = (double *)xcalloc((size_t)C, sizeof(double)), *sq = (double *)xcalloc((size_t)C, sizeof(double));
    float *tmp = NULL, *sd = (float *)xmalloc(sizeof(float) * (size_t)C), *mu = (float *)xmalloc(sizeof(float) * (size_t)C);
    vla_ctx *cx = NULL;
    void *cmem = NULL;
    vla_train_tensor W, b;
    vla_status st;
    double lo = 1e300, hi = 0, mean_sd = 0;
    memset(&W, 0, sizeof W); memset(&b, 0, sizeof b);
    if (R->o.train_clip) { /* no cached features: run the initial trunk */
        vla_ctx_params p;
        size_t need;
        memset(&p, 0, sizeof p);
        p.max_batch = 1; p.max_text_len = 1; p.max_images = 1; p.max_grid = R->grid; p.max_dec_len = 2; p.max_beams = 1;
        p.use_clip = 1; p.exec = R->exec; p.log = R->log;
        if ((st = vla_ctx_mem_req(R->m, &p, &need)) != VLA_OK) die("CLIP context: %s", vla_status_str(st));
        cmem = xmalloc(need);
        if ((st = vla_ctx_init(&cx, R->m, &p, cmem, need)) != VLA_OK) die("CLIP context: %s", vla_status_str(st));
        tmp = (float *)xmalloc(sizeof(float) * (size_t)G * (size_t)C);
    }
    for (i = 0; i < n_pic; i++) {
        const float *f = R->img[i].feat;
        if (!f) {
            int h = 0, w = 0, ch = 0;
            float *pic = ex_load_picture(R->img[i].path, R->hp->clip_image_size);
            if (!pic || !cx) die("--whiten-visual: the features of %s are missing", R->img[i].path);
            if ((st = vla_clip_run(cx, pic, 4, tmp, &h, &w, &ch)) != VLA_OK) die("CLIP trunk on %s: %s", R->img[i].path, vla_status_str(st));
            free(pic);
            f = tmp;
        }
        for (j = 0; j < G; j++)
            for (c = 0; c < C; c++) { double v = f[(size_t)j * C + c]; sum[c] += v; sq[c] += v * v; }
    }
    for (c = 0; c < C; c++) {
        double n = (double)n_pic * G, m = sum[c] / n, var = sq[c] / n - m * m;
        mu[c] = (float)m; sd[c] = (float)sqrt(var > 0 ? var : 0);
        mean_sd += sd[c] / C;
    }
    /* A channel that hardly ever fires (a nearly dead ReLU) is not blown up
     * to unit size: its sd is floored at a tenth of the mean sd, so the
     * small changes training makes to the trunk stay small here too. */
    for (c = 0; c < C; c++) {
        if (sd[c] < 0.1 * mean_sd) sd[c] = (float)(0.1 * mean_sd);
        if (sd[c] < 1e-12) sd[c] = 1;
        if (sd[c] < lo) lo = sd[c];
        if (sd[c] > hi) hi = sd[c];
    }
    for (i = 0; i < vla_trainer_n_tensors(tr); i++) {
        vla_train_tensor t;
        vla_trainer_tensor(tr, i, &t);
        if (!strcmp(t.name, "encoder.visual_embedding.feat_embedding.0.weight")) { W = t; found |= 1; }
        if (!strcmp(t.name, "encoder.visual_embedding.feat_embedding.0.bias")) { b = t; found |= 2; }
    }
    if (found != 3 || W.n != (size_t)d * C || b.n != (size_t)d) die("--whiten-visual: the trainer has no trainable visual projection [%d, %d]", d, C);
    for (r = 0; r < d; r++) {
        double off = 0;
        for (c = 0; c < C; c++) {
            float *w = &W.value[(size_t)r * C + c];
            *w /= sd[c];
            off += (double)*w * mu[c];
        }
        b.value[r] -= (float)off;
    }
    note("--whiten-visual: visual projection standardised over %d picture(s) x %d cells (channel sd %.3g .. %.3g)", n_pic, G, lo, hi);
    free(sum); free(sq); free(tmp); free(sd); free(mu); free(cmem);
}

/* ======================================================================
 * batches: the official multitask order, our in-task shuffle and answer draw
 * ====================================================================== */

static int batch_size_for(const options *o, int kind) {
    int b = o->batch;
    if (!o->batch_same) { /* multitask.py: GQA x 100/60, NLVR2 x 20/60, COCO x 50/60 */
        if (kind == K_GQA) b = (int)((long)o->batch * 100 / 60);
        else if (kind == K_NLVR) b = (int)((long)o->batch * 20 / 60);
        else if (kind == K_CAPTION) b = (int)((long)o->batch * 50 / 60);
    }
    return b < 1 ? 1 : b;
}

static uint64_t rng_next(uint64_t *s) { *s += 0x9E3779B97F4A7C15ull; return mix64(*s); }

/* Epoch e's task of every batch: each task once per batch, in task order,
 * random.Random(e).shuffle'd; batch i of the epoch is order[n - 1 - i]. */
static void epoch_task_order(const run *R, long epoch, int *order, int n) {
    vla_pyrandom pr;
    int t, k = 0, b;
    for (t = 0; t < R->n_tasks; t++)
        for (b = 0; b < R->tasks[t].n_batches; b++) order[k++] = t;
    (void)n;
    vla_pyrandom_seed(&pr, (int64_t)epoch);
    vla_pyrandom_shuffle(&pr, order, (size_t)k, sizeof order[0]);
}

/* A task's examples in epoch e's order (Fisher-Yates over our stream). */
static void task_perm(const run *R, int t, long epoch, int *perm) {
    const task_info *T = &R->tasks[t];
    uint64_t s = mix64(R->o.seed ^ mix64(0x5EED0000ull + (uint64_t)epoch)) ^ mix64(0x7A5Cull * (uint64_t)(t + 1));
    int i;
    memcpy(perm, T->train, sizeof(int) * (size_t)T->n_train);
    for (i = T->n_train - 1; i > 0; i--) {
        int j = (int)((rng_next(&s) >> 11) % (uint64_t)(i + 1)), tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
}

static answer g_empty_answer; /* "" with score 0: what the loaders give when all scores are 0 */

/* The answer an example trains on in epoch e: drawn with probability
 * proportional to its score (the VQA/GQA loaders); epoch < 0: the best one. */
static const answer *pick_answer(const run *R, const example *x, int index, long epoch) {
    double sum = 0.0, u, acc = 0.0;
    int q;
    if (epoch < 0) return &x->ans[x->best];
    if (x->n_ans == 1 && x->ans[0].score > 0.0f) return &x->ans[0];
    for (q = 0; q < x->n_ans; q++) sum += x->ans[q].score;
    if (!(sum > 0.0)) return &g_empty_answer;
    u = (double)(mix64(R->o.seed ^ mix64(0xA45ull + (uint64_t)epoch) ^ mix64(((uint64_t)index << 1) | 1u)) >> 11) *
        (1.0 / 9007199254740992.0) * sum;
    for (q = 0; q < x->n_ans; q++) {
        acc += x->ans[q].score;
        if (u < acc && x->ans[q].score > 0.0f) return &x->ans[q];
    }
    for (q = x->n_ans - 1; q > 0 && !(x->ans[q].score > 0.0f); q--) {}
    return &x->ans[q];
}

typedef struct batchbuf {
    int32_t *ids, *labels;
    float *scores, *feats;     /* feats: the grid features, or with --train-clip the pictures */
} batchbuf;

typedef struct shapes { int B, Lt, T, img; } shapes;

static void batchbuf_alloc(const run *R, batchbuf *bb, const shapes *s) {
    bb->ids = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)s->B * (size_t)s->Lt);
    bb->labels = (int32_t *)xmalloc(sizeof(int32_t) * (size_t)s->B * (size_t)s->T);
    bb->scores = (float *)xmalloc(sizeof(float) * (size_t)s->B);
    size_t per = R->o.train_clip ? (size_t)R->hp->clip_image_size * R->hp->clip_image_size * 3 : (size_t)R->grid * (size_t)R->ch;
    bb->feats = (float *)xmalloc(sizeof(float) * (size_t)s->B * (size_t)(s->img ? s->img : 1) * per);
}

static void build_batch(const run *R, batchbuf *bb, const dataset *ds, const int *exs, int B, int task, long epoch,
                        vla_train_batch *bt) {
    const task_info *T = &R->tasks[task];
    const answer *pick[4096];
    int b, i, Lt = 1, Tl = 1, nimg = T->n_images, im;
    int S = R->hp->clip_image_size;
    size_t per = R->o.train_clip ? (size_t)S * S * 3 : (size_t)R->grid * (size_t)R->ch;
    for (b = 0; b < B; b++) {
        const example *x = &ds->ex[exs[b]];
        pick[b] = pick_answer(R, x, exs[b], epoch);
        if (x->n_ids > Lt) Lt = x->n_ids;
        if (pick[b]->n_ids > Tl) Tl = pick[b]->n_ids;
    }
    for (b = 0; b < B; b++) {
        const example *x = &ds->ex[exs[b]];
        for (i = 0; i < Lt; i++) bb->ids[b * Lt + i] = i < x->n_ids ? x->ids[i] : R->hp->pad_id;
        for (i = 0; i < Tl; i++) bb->labels[b * Tl + i] = i < pick[b]->n_ids ? pick[b]->ids[i] : -100;
        bb->scores[b] = pick[b]->score;
        for (im = 0; im < nimg; im++) {
            float *dst = bb->feats + ((size_t)b * nimg + im) * per;
            if (R->o.train_clip) vla_image_normalize(dst, R->img[x->img[im]].rgb, S, S, NULL, NULL, VLA_LAYOUT_HWC);
            else memcpy(dst, R->img[x->img[im]].feat, per * sizeof(float));
        }
    }
    memset(bt, 0, sizeof *bt);
    bt->task = R->afile ? T->name : NULL;
    bt->loss = T->loss;
    bt->in.batch = B;
    bt->in.text_len = Lt;
    bt->in.ids = bb->ids;
    bt->in.n_images = nimg;
    bt->in.grid_h = R->grid_h;
    bt->in.grid_w = R->grid_w;
    if (R->o.train_clip) bt->in.images = bb->feats;
    else bt->in.feats = bb->feats;
    bt->target_len = Tl;
    bt->labels = bb->labels;
    bt->scores = T->loss == VLA_LOSS_VQA ? bb->scores : NULL;
}

/* ======================================================================
 * dev evaluation: loss with the trainer, metrics with the weights
 * hot-swapped into an inference context
 * ====================================================================== */

static void lower_strip(const char *s, char *out, size_t cap) {
    size_t n = strlen(s), a = 0, i, k = 0;
    while (a < n && is_ws(s[a])) a++;
    while (n > a && is_ws(s[n - 1])) n--;
    for (i = a; i < n && k + 1 < cap; i++) out[k++] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
    out[k] = 0;
}

/* Score of one prediction (1 = right). */
static double dev_metric(const task_info *T, const example *x, const char *pred) {
    int q;
    double best = 0.0;
    if (T->kind == K_VQA) { /* min(1, #matching annotators / 3) after lowercase + strip */
        char p[1024], a[1024];
        int matches = 0;
        lower_strip(pred, p, sizeof p);
        for (q = 0; q < x->n_ans; q++) {
            lower_strip(x->ans[q].text, a, sizeof a);
            if (strcmp(a, p)) continue;
            if (x->annotators) matches += x->ans[q].count;
            else if (x->ans[q].score > best) best = x->ans[q].score; /* soft score: min(1, #matches/3) when made that way */
        }
        if (x->annotators) return matches >= 3 ? 1.0 : matches / 3.0;
        return best > 1.0 ? 1.0 : best;
    }
    for (q = 0; q < x->n_ans; q++) /* exact match of the raw string */
        if (!strcmp(pred, x->ans[q].text) && x->ans[q].score > best) best = x->ans[q].score;
    return best > 1.0 ? 1.0 : best;
}

static void json_str(membuf *b, const char *s) {
    char tmp[8];
    membuf_write(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { tmp[0] = '\\'; tmp[1] = (char)c; membuf_write(b, tmp, 2); }
        else if (c < 0x20) { snprintf(tmp, sizeof tmp, "\\u%04x", c); membuf_write(b, tmp, 6); }
        else membuf_write(b, s, 1);
    }
    membuf_write(b, "\"", 1);
}

static vla_status membuf_fill(void *ctx, FILE *f) {
    const membuf *b = (const membuf *)ctx;
    return fwrite(b->p, 1, b->n, f) == b->n ? VLA_OK : VLA_ERR_IO;
}

static int first_id(run *R, const char *w) {
    int32_t ids[16];
    int n = 0;
    size_t need = vla_tokenize_scratch_size(16) + 4 * VLA_ALIGN;
    void *mem = xmalloc(need);
    vla_arena a;
    vla_arena_init(&a, mem, need);
    if (vla_tokenize(R->tok, &a, w, strlen(w), 0, 1, 0, ids, 16, &n) != VLA_OK || n < 1) die("cannot tokenize '%s'", w);
    free(mem);
    return ids[0];
}

#define EVB 16 /* examples per generation call */

static void dev_eval(run *R, vla_trainer *tr, int epoch, batchbuf *bb, int max_batch) {
    const dataset *ds = &R->dev;
    membuf mb = {0}, preds = {0};
    vla_adapter *ad = NULL;
    vla_model *m2 = NULL;
    const vla_model *em;
    void *amem = NULL, *mmem2 = NULL, *cmem = NULL;
    vla_ctx_params cp;
    vla_ctx *c = NULL;
    size_t need;
    vla_status st;
    double loss_sum = 0.0, t0 = now_s();
    int loss_n = 0, t, i, max_len = 2, max_beams = 1, max_ids = 1, max_img = 1, id_true, id_false, V = R->hp->vocab;
    int32_t *out = NULL, dec[2 * EVB];
    float *logits = NULL;
    char line[4096], *text = NULL;
    size_t text_cap = 1 << 16;
    vla_gen_params gp[64];
    if (!ds->n) return;
    /* 1. the loss, by the trainer (no dropout), best answer as the target */
    for (t = 0; t < R->n_tasks; t++) {
        const task_info *T = &R->tasks[t];
        int bs = T->batch < max_batch ? T->batch : max_batch;
        for (i = 0; i < T->n_dev; i += bs) {
            vla_train_batch bt;
            float l = 0.0f;
            int B = T->n_dev - i < bs ? T->n_dev - i : bs;
            build_batch(R, bb, ds, T->dev + i, B, t, -1, &bt);
            if ((st = vla_trainer_loss(tr, &bt, &l)) != VLA_OK) die("dev loss: %s", vla_status_str(st));
            loss_sum += (double)l * B;
            loss_n += B;
        }
    }
    /* 2. the current weights as a file in memory, attached like any other */
    if ((st = vla_trainer_save(tr, membuf_write, &mb)) != VLA_OK) die("saving the weights for the dev run: %s", vla_status_str(st));
    if (R->afile) {
        if ((st = vla_adapter_mem_req(R->m, mb.p, mb.n, &need)) != VLA_OK) die("dev: the trained adapter does not attach (%s)", vla_status_str(st));
        amem = xmalloc(need);
        if ((st = vla_adapter_attach(&ad, R->m, amem, need, mb.p, mb.n, &R->log)) != VLA_OK) die("dev: attach: %s", vla_status_str(st));
        em = R->m;
    } else {
        if ((st = vla_model_mem_req(mb.p, mb.n, &need)) != VLA_OK) die("dev: the trained model does not load (%s)", vla_status_str(st));
        mmem2 = xmalloc(need);
        if ((st = vla_model_init(&m2, mmem2, need, mb.p, mb.n, &R->log)) != VLA_OK) die("dev: model: %s", vla_status_str(st));
        em = m2;
    }
    for (t = 0; t < R->n_tasks && t < 64; t++) {
        const task_info *T = &R->tasks[t];
        if (ad) {
            int ai = vla_adapter_find_task(ad, T->name);
            if (ai < 0 || vla_adapter_task(ad, ai, NULL, NULL, &gp[t]) != VLA_OK) die("dev: the adapter lost task %s", T->name);
        } else { /* the official evaluation: greedy (VQA, GQA), 5 beams for captions; max_length the
                  * model file's (vladapter.gen.max_length, 20 when the file has none, as the official) */
            gp[t] = vla_gen_defaults(em);
            gp[t].num_beams = T->kind == K_CAPTION ? 5 : 1;
        }
        if (gp[t].max_length > R->pos_limit) gp[t].max_length = R->pos_limit; /* a tiny position table */
        if (!T->n_dev) continue;
        if (gp[t].max_length > max_len) max_len = gp[t].max_length;
        if (gp[t].num_beams > max_beams) max_beams = gp[t].num_beams;
        if (T->n_images > max_img) max_img = T->n_images;
    }
    for (i = 0; i < ds->n; i++) if (ds->ex[i].n_ids > max_ids) max_ids = ds->ex[i].n_ids;
    memset(&cp, 0, sizeof cp);
    cp.max_batch = EVB; cp.max_text_len = max_ids; cp.max_images = max_img; cp.max_grid = R->grid; cp.max_dec_len = max_len;
    cp.max_beams = max_beams; cp.max_prompt_len = ad ? vla_adapter_prompt_len(ad) : 0; cp.max_adapter_dim = ad ? vla_adapter_max_dim(ad) : 0;
    cp.exec = R->exec; cp.log = R->log;
    cp.use_clip = R->o.train_clip; /* batches carry pictures: the trained trunk runs in the context */
    if ((st = vla_ctx_mem_req(em, &cp, &need)) != VLA_OK) die("dev context: %s", vla_status_str(st));
    cmem = xmalloc(need);
    if ((st = vla_ctx_init(&c, em, &cp, cmem, need)) != VLA_OK) die("dev context: %s", vla_status_str(st));
    out = (int32_t *)xmalloc(sizeof(int32_t) * EVB * (size_t)max_len);
    text = (char *)xmalloc(text_cap);
    id_true = first_id(R, "true");
    id_false = first_id(R, "false");
    snprintf(line, sizeof line, "dev epoch %d: loss %.4f", epoch + 1, loss_n ? loss_sum / loss_n : 0.0);
    for (t = 0; t < R->n_tasks; t++) {
        const task_info *T = &R->tasks[t];
        double score = 0.0;
        size_t ll;
        if (!T->n_dev) continue;
        if ((st = vla_ctx_set_adapter(c, ad, ad ? T->name : NULL)) != VLA_OK) die("dev: task %s: %s", T->name, vla_status_str(st));
        for (i = 0; i < T->n_dev; i += EVB) {
            vla_input in;
            vla_train_batch bt;
            int B = T->n_dev - i < EVB ? T->n_dev - i : EVB, b, width = 0;
            build_batch(R, bb, ds, T->dev + i, B, t, -1, &bt); /* ids and features, as for the loss */
            in = bt.in;
            if ((st = vla_encode(c, &in)) != VLA_OK) die("dev: encode: %s", vla_status_str(st));
            if (T->kind == K_NLVR) { /* architecture.md 5.3: logits of "true" vs "false" at position 1 of [</s>, <s>] */
                if (!logits) logits = (float *)xmalloc(sizeof(float) * EVB * 2 * (size_t)V);
                for (b = 0; b < B; b++) { dec[2 * b] = R->hp->dec_start_id; dec[2 * b + 1] = R->hp->bos_id; }
                if ((st = vla_decode_logits(c, dec, 2, logits)) != VLA_OK) die("dev: decode: %s", vla_status_str(st));
            } else if ((st = vla_generate(c, &gp[t], out, &width, NULL)) != VLA_OK) die("dev: generate: %s", vla_status_str(st));
            for (b = 0; b < B; b++) {
                const example *x = &ds->ex[T->dev[i + b]];
                double s;
                if (T->kind == K_NLVR) {
                    const float *lg = logits + ((size_t)b * 2 + 1) * (size_t)V;
                    snprintf(text, text_cap, "%s", lg[id_true] > lg[id_false] ? "true" : "false");
                } else {
                    size_t len = 0;
                    /* rows are max_length apart; width is the longest row */
                    st = vla_detokenize(R->tok, out + (size_t)b * gp[t].max_length, width, 1, 1, text, text_cap, &len);
                    if (st != VLA_OK && st != VLA_ERR_NOMEM) die("dev: detokenize: %s", vla_status_str(st));
                }
                s = dev_metric(T, x, text);
                score += s;
                {
                    char num[64];
                    membuf_write(&preds, "{\"epoch\": ", 10);
                    snprintf(num, sizeof num, "%d, \"line\": %d, \"id\": ", epoch + 1, x->line);
                    membuf_write(&preds, num, strlen(num));
                    if (x->id) json_str(&preds, x->id);
                    else membuf_write(&preds, "null", 4);
                    membuf_write(&preds, ", \"task\": ", 10);
                    json_str(&preds, T->name);
                    membuf_write(&preds, ", \"prediction\": ", 16);
                    json_str(&preds, text);
                    snprintf(num, sizeof num, ", \"score\": %.4g}\n", s);
                    membuf_write(&preds, num, strlen(num));
                }
            }
        }
        ll = strlen(line);
        snprintf(line + ll, sizeof line - ll, " | %s %s %.2f (%d)", T->name,
                 T->kind == K_VQA ? "acc" : T->kind == K_NLVR ? "acc" : "em", 100.0 * score / T->n_dev, T->n_dev);
    }
    fprintf(stderr, "%s  [%.1f s]\n", line, now_s() - t0);
    {
        char path[4200];
        snprintf(path, sizeof path, "%s/dev_predictions.jsonl", R->o.out);
        if (write_atomic(path, membuf_fill, &preds) != 0) note("warning: %s could not be written", path);
    }
    if (ad) vla_adapter_detach(ad);
    free(out); free(logits); free(text); free(cmem); free(amem); free(mmem2); free(mb.p); free(preds.p);
}

/* ======================================================================
 * files in DIR
 * ====================================================================== */

typedef struct save_ctx { const vla_trainer *t; int state; } save_ctx;

static vla_status save_fill(void *ctx, FILE *f) {
    const save_ctx *s = (const save_ctx *)ctx;
    return s->state ? vla_trainer_save_state(s->t, file_write_cb, f) : vla_trainer_save(s->t, file_write_cb, f);
}

static void save_state(const run *R, const vla_trainer *t) {
    char path[4200];
    save_ctx s;
    s.t = t; s.state = 1;
    snprintf(path, sizeof path, "%s/state.gguf", R->o.out);
    if (write_atomic(path, save_fill, &s) != 0) die("cannot write %s (the previous state, if any, is intact)", path);
}

/* Everything a resumed run must share with the first one. */
static uint64_t run_hash(const run *R, const vla_train_params *p) {
    uint64_t h = fnv64(FNV0, "vla-train run 1", 15), v;
    int t;
    h = fnv64(h, R->data_bytes, R->data_size);
    h = fnv64(h, &R->fingerprint, 8);
    if (R->afile) h = fnv64(h, R->afile, R->afile_n);
    else h = fnv64(h, "full", 4);
    for (t = 0; t < R->n_tasks; t++) {
        h = fnv64(h, R->tasks[t].name, strlen(R->tasks[t].name) + 1);
        h = fnv64(h, &R->tasks[t].batch, sizeof(int));
    }
    h = fnv64(h, &R->o.epochs, sizeof(int));
    h = fnv64(h, &p->lr, sizeof(double));
    v = (uint64_t)p->total_steps; h = fnv64(h, &v, 8);
    v = (uint64_t)p->warmup_steps; h = fnv64(h, &v, 8);
    h = fnv64(h, &p->dropout, sizeof(float));
    h = fnv64(h, &p->clip_norm, sizeof(float));
    h = fnv64(h, &p->seed, 8);
    if (p->train_clip) h = fnv64(h, "train_clip", 10);
    if (p->train_clip && p->clip_lr_scale > 0 && p->clip_lr_scale != 1) h = fnv64(h, &p->clip_lr_scale, sizeof p->clip_lr_scale);
    return h;
}

/* ======================================================================
 * main
 * ====================================================================== */

#ifndef VLA_TRAIN_NO_MAIN
int main(int argc, char **argv) {
    static run R;
    init_spec ispec;
    vla_train_params p;
    vla_trainer *tr = NULL;
    void *tmem;
    size_t need;
    vla_status st;
    batchbuf bb;
    shapes sh;
    int t, i, cut_in = 0, cut_tgt = 0, spe = 0, tty = isatty(2), **perm, *order, *counts, max_batch = 1;
    long epoch0 = 0, b0 = 0, total, epoch;
    uint64_t rh, *cur;
    double t_start, lr_default, t_drawn = 0.0;
    long steps_here = 0, ex_here = 0;
    int rc = 0;

    parse_args(argc, argv, &R.o);
    R.log.fn = ex_log; R.log.user = NULL;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (vla_threadpool_init(&R.pool, R.o.threads) != 0) die("cannot start %d threads", R.o.threads);
    R.exec.n_threads = 1;
    vla_threadpool_exec(&R.pool, &R.exec);

    /* the output directory; a run's state is never overwritten by a new run */
    if (mkdir(R.o.out, 0777) != 0 && errno != EEXIST) die("cannot create %s: %s", R.o.out, strerror(errno));
    {
        char sp[4200];
        struct stat sb;
        snprintf(sp, sizeof sp, "%s/state.gguf", R.o.out);
        if (!R.o.resume && stat(sp, &sb) == 0) die("%s exists: pass --resume to continue that run, or choose another --out", sp);
        if (R.o.resume && stat(sp, &sb) != 0) die("--resume: there is no %s to continue from", sp);
    }

    /* tasks the data may name */
    if (R.o.adapter) {
        char err[256];
        R.afile = vla_tool_read_file(R.o.adapter, &R.afile_n, err, sizeof err);
        if (!R.afile) die("%s", err);
        adapter_meta(&R, R.afile, R.afile_n, R.o.adapter, 1);
        R.restrict_tasks = 1;
    } else {
        if (R.o.init) parse_init(R.o.init, &ispec);
        if (R.o.init && ispec.n_tasks) {
            for (t = 0; t < ispec.n_tasks; t++)
                if (find_task(&R, ispec.tasks[t]) < 0) add_task(&R, ispec.tasks[t]);
            R.restrict_tasks = 1;
        } else
            for (t = 0; t < 4; t++) add_task(&R, g_official[t]);
    }
    parse_file(&R, &R.train, R.o.data);
    if (R.o.dev) parse_file(&R, &R.dev, R.o.dev);
    if (!R.restrict_tasks) drop_unused_tasks(&R);
    load_model(&R); /* after the data: a bad line is reported before a large model is read */
    if (R.o.init) {
        make_init_adapter(&R, &ispec);
        adapter_meta(&R, R.afile, R.afile_n, "the --init adapter", 0);
    }
    for (t = 0; t < R.n_tasks; t++) {
        task_info *T = &R.tasks[t];
        if (T->n_images == 0) T->n_images = 1;
        T->batch = batch_size_for(&R.o, T->kind);
        if (T->batch > 4096) die("--batch %d gives task %s batches of %d examples; at most 4096", R.o.batch, T->name, T->batch);
        T->train = (int *)xmalloc(sizeof(int) * (size_t)(R.train.n + 1));
        T->dev = (int *)xmalloc(sizeof(int) * (size_t)(R.dev.n + 1));
    }
    for (i = 0; i < R.train.n; i++) { task_info *T = &R.tasks[R.train.ex[i].task]; T->train[T->n_train++] = i; }
    for (i = 0; i < R.dev.n; i++) { task_info *T = &R.tasks[R.dev.ex[i].task]; T->dev[T->n_dev++] = i; }
    encode_all(&R, &R.train, &cut_in, &cut_tgt);
    encode_all(&R, &R.dev, &cut_in, &cut_tgt);
    if (cut_in || cut_tgt)
        note("warning: %d input(s) and %d target(s) were cut to the model's %d positions", cut_in, cut_tgt, R.pos_limit);
    g_empty_answer.text = (char *)"";
    {
        int dummy = 0;
        vla_arena a;
        size_t n2 = vla_tokenize_scratch_size(16) + 4 * VLA_ALIGN;
        void *mem = xmalloc(n2);
        vla_arena_init(&a, mem, n2);
        g_empty_answer.ids = encode_text(&R, &a, "", 0, 0, &g_empty_answer.n_ids, &dummy, "(empty answer)", 0, "empty answer");
        free(mem);
    }

    /* shapes, batches, schedule */
    memset(&sh, 0, sizeof sh);
    sh.Lt = 1; sh.T = g_empty_answer.n_ids; sh.img = 1;
    for (i = 0; i < R.train.n + R.dev.n; i++) {
        const example *x = i < R.train.n ? &R.train.ex[i] : &R.dev.ex[i - R.train.n];
        int q;
        if (x->n_ids > sh.Lt) sh.Lt = x->n_ids;
        for (q = 0; q < x->n_ans; q++) if (x->ans[q].n_ids > sh.T) sh.T = x->ans[q].n_ids;
        if (R.tasks[x->task].n_images > sh.img) sh.img = R.tasks[x->task].n_images;
    }
    for (t = 0; t < R.n_tasks; t++) {
        task_info *T = &R.tasks[t];
        int nb = T->n_train < T->batch ? T->n_train : T->batch, nd = T->n_dev < T->batch ? T->n_dev : T->batch;
        T->n_batches = (T->n_train + T->batch - 1) / T->batch;
        spe += T->n_batches;
        if (nb > max_batch) max_batch = nb;
        if (nd > max_batch) max_batch = nd;
    }
    total = (long)spe * R.o.epochs;
    p = vla_train_defaults(R.afile ? R.method : "full");
    /* the official scripts' learning rates: vla_train_defaults has them, but
     * an "adapter" file may hold one module per task (multiple_adapters.sh,
     * 3e-4) or one for all (single_adapter.sh, 1e-3): the file tells */
    lr_default = p.lr;
    if (R.afile && !strcmp(R.method, "adapter")) {
        vla_arena a;
        vla_gguf g;
        vla_tensor x;
        vla_arena_init_measure(&a);
        /* shared up-projections: single_adapter (1e-3); per-task ones: multiple or
         * half-shared (shared down-projections), both 3e-4 in their scripts */
        if (vla_gguf_open(&g, R.afile, R.afile_n, &a) == VLA_OK && vla_gguf_get_tensor(&g, "A.*.enc.0.attn.up.weight", &x) != VLA_OK &&
            vla_gguf_get_tensor(&g, "A.*.dec.0.self.up.weight", &x) != VLA_OK)
            lr_default = vla_train_defaults("multiple_adapters").lr;
    }
    p.lr = R.o.have_lr ? R.o.lr : lr_default;
    if (R.o.have_dropout) p.dropout = R.o.dropout;
    if (R.o.have_clip) p.clip_norm = R.o.clip_norm;
    p.seed = R.o.seed;
    p.recompute = R.o.recompute;
    p.rebind = R.o.rebind;
    p.train_clip = R.o.train_clip;
    p.clip_lr_scale = R.o.clip_lr_scale;
    p.exec = R.exec;
    p.log = R.log;
    p.max_batch = max_batch;
    p.max_text_len = sh.Lt;
    p.max_images = sh.img;
    p.max_grid = R.grid;
    p.max_target_len = sh.T;
    p.total_steps = total;
    p.warmup_steps = (long)floor(R.o.warmup_ratio * (double)total);
    if ((st = vla_trainer_mem_req(R.m, R.afile, R.afile_n, &p, &need)) != VLA_OK) die("trainer: %s", vla_status_str(st));
    tmem = xmalloc(need);
    if ((st = vla_trainer_init(&tr, R.m, R.afile, R.afile_n, &p, tmem, need)) != VLA_OK) die("trainer: %s", vla_status_str(st));
    note("%s: %zu trainable parameters in %d tensors; trainer memory %.1f MiB; %d threads", R.afile ? R.method : "full fine-tuning",
         vla_trainer_n_params(tr), vla_trainer_n_tensors(tr), need / 1048576.0, R.o.threads);
    for (t = 0; t < R.n_tasks; t++)
        if (R.tasks[t].n_train || R.tasks[t].n_dev)
            note("task %-8s %5d train / %4d dev examples, batch %d -> %d batches per epoch, prefix \"%s\"", R.tasks[t].name,
                 R.tasks[t].n_train, R.tasks[t].n_dev, R.tasks[t].batch, R.tasks[t].n_batches, R.tasks[t].prefix);
    note("%ld epochs x %d batches = %ld steps, warmup %ld, lr %g, dropout %g, clip %g, seed %llu", (long)R.o.epochs, spe, total,
         p.warmup_steps, p.lr, p.dropout, p.clip_norm, (unsigned long long)p.seed);

    if (R.o.train_clip) load_pictures(&R);
    else compute_features(&R);
    if (R.o.whiten) whiten_visual(&R, tr);
    if (R.o.calibrate) calibrate_trunk(&R, tr);

    rh = run_hash(&R, &p);
    cur = vla_trainer_cursor(tr);
    if (R.o.resume) {
        char sp[4200], err[256];
        size_t sn;
        unsigned char *sb;
        snprintf(sp, sizeof sp, "%s/state.gguf", R.o.out);
        sb = vla_tool_read_file(sp, &sn, err, sizeof err);
        if (!sb) die("%s", err);
        if ((st = vla_trainer_load_state(tr, sb, sn)) != VLA_OK)
            die("%s does not fit this run (%s): same model, adapter/--init, data and --seed are needed", sp, vla_status_str(st));
        free(sb);
        if (cur[3] != TRAIN_MAGIC) die("%s was not written by vla-train", sp);
        if (cur[2] != rh)
            die("%s was written by a run with other data or settings: the training file, model, --init/--adapter, --epochs, --batch/--batch-same, "
                "--lr, --warmup-ratio, --dropout, --clip-norm and --seed must all be the same to resume", sp);
        epoch0 = (long)cur[0];
        b0 = (long)cur[1];
        if (epoch0 > R.o.epochs || b0 >= spe || vla_trainer_steps_done(tr) != epoch0 * spe + b0)
            die("%s: its data position (epoch %ld, batch %ld, step %ld) is inconsistent", sp, epoch0, b0, vla_trainer_steps_done(tr));
        note("resuming from %s at step %ld of %ld (epoch %ld, batch %ld)", sp, vla_trainer_steps_done(tr), total, epoch0 + 1, b0 + 1);
    }
    cur[2] = rh;
    cur[3] = TRAIN_MAGIC;

    /* buffers and the per-epoch orders */
    sh.B = max_batch > EVB ? max_batch : EVB;
    batchbuf_alloc(&R, &bb, &sh);
    order = (int *)xmalloc(sizeof(int) * (size_t)(spe + 1));
    counts = (int *)xmalloc(sizeof(int) * (size_t)R.n_tasks);
    perm = (int **)xmalloc(sizeof(int *) * (size_t)R.n_tasks);
    for (t = 0; t < R.n_tasks; t++) perm[t] = (int *)xmalloc(sizeof(int) * (size_t)(R.tasks[t].n_train + 1));
    /* An epoch's state is saved before its dev evaluation: a kill in between
     * loses that evaluation, and a resume would start with the next epoch and
     * leave dev_predictions.jsonl an epoch behind.  Redo it (with the weights
     * it would have seen: the state's), so the files end as an uninterrupted
     * run's.  It repeats one evaluation when nothing was lost. */
    if (R.o.resume && R.o.dev && b0 == 0 && epoch0 > 0) dev_eval(&R, tr, (int)epoch0 - 1, &bb, max_batch);

    t_start = now_s();
    for (epoch = epoch0; epoch < R.o.epochs; epoch++) {
        long bi, start = epoch == epoch0 ? b0 : 0;
        double t_epoch = now_s(), ep_loss = 0.0;
        int ep_steps = 0;
        epoch_task_order(&R, epoch, order, spe);
        for (t = 0; t < R.n_tasks; t++) {
            task_perm(&R, t, epoch, perm[t]);
            counts[t] = 0;
            R.tasks[t].loss_sum = 0.0;
            R.tasks[t].loss_steps = 0;
        }
        for (bi = 0; bi < start; bi++) counts[order[spe - 1 - bi]]++; /* batches popped before the resume */
        for (bi = start; bi < spe; bi++) {
            int tk = order[spe - 1 - bi], k = counts[tk]++, B, saved = 0, last = bi + 1 == spe;
            task_info *T = &R.tasks[tk];
            vla_train_batch bt;
            float loss = 0.0f, lr = 0.0f;
            long done;
            B = T->n_train - k * T->batch < T->batch ? T->n_train - k * T->batch : T->batch;
            build_batch(&R, &bb, &R.train, perm[tk] + (size_t)k * T->batch, B, tk, epoch, &bt);
            if ((st = vla_trainer_backward(tr, &bt, &loss)) != VLA_OK) die("step %ld (task %s): %s", vla_trainer_steps_done(tr) + 1, T->name, vla_status_str(st));
            if (!isfinite(loss))
                die("the loss is %g at step %ld (task %s): lower --lr? The last saved state is %s/state.gguf", (double)loss,
                    vla_trainer_steps_done(tr) + 1, T->name, R.o.out);
            if ((st = vla_trainer_apply(tr, &lr, NULL)) != VLA_OK) die("optimizer step: %s", vla_status_str(st));
            done = vla_trainer_steps_done(tr);
            steps_here++;
            ex_here += B;
            ep_loss += loss;
            ep_steps++;
            T->loss_sum += loss;
            T->loss_steps++;
            cur[0] = (uint64_t)(last ? epoch + 1 : epoch);
            cur[1] = (uint64_t)(last ? 0 : bi + 1);
            { /* progress */
                double el = now_s() - t_start;
                char eta[32];
                fmt_hms(eta, sizeof eta, el / steps_here * (double)(total - done));
                if (tty && (last || now_s() - t_drawn >= 0.1)) {
                    t_drawn = now_s();
                    fprintf(stderr, "\r\033[Kepoch %ld/%d  step %ld/%ld  loss %.4f  lr %.3e  %.1f ex/s  ETA %s", epoch + 1, R.o.epochs,
                            done, total, ep_loss / ep_steps, lr, ex_here / (el > 0 ? el : 1e-9), eta);
                } else if (!tty && done % R.o.log_every == 0)
                    fprintf(stderr, "step %ld/%ld  epoch %ld/%d  task %s  loss %.4f  lr %.3e  %.1f ex/s  ETA %s\n", done, total, epoch + 1,
                            R.o.epochs, T->name, loss, lr, ex_here / (el > 0 ? el : 1e-9), eta);
            }
            if (last) {
                char per[1024];
                size_t pl = 0;
                save_state(&R, tr);
                saved = 1;
                per[0] = 0;
                for (t = 0; t < R.n_tasks; t++)
                    if (R.tasks[t].loss_steps && pl + 64 < sizeof per)
                        pl += (size_t)snprintf(per + pl, sizeof per - pl, "%s%s %.4f", pl ? ", " : "", R.tasks[t].name,
                                               R.tasks[t].loss_sum / R.tasks[t].loss_steps);
                if (tty) fprintf(stderr, "\n");
                fprintf(stderr, "epoch %ld/%d: train loss %.4f (%s) over %d steps%s, %.1f s\n", epoch + 1, R.o.epochs, ep_loss / ep_steps, per,
                        ep_steps, start ? " since the resume" : "", now_s() - t_epoch);
                dev_eval(&R, tr, (int)epoch, &bb, max_batch);
            } else if (R.o.save_every && done % R.o.save_every == 0) {
                save_state(&R, tr);
                saved = 1;
            }
            if ((R.o.max_steps && done >= R.o.max_steps && done < total) || g_stop) {
                if (!saved) save_state(&R, tr);
                if (tty && !last) fprintf(stderr, "\n");
                note("%s after step %ld: state saved to %s/state.gguf; continue with --resume", g_stop ? "interrupted" : "stopped (--max-steps)",
                     done, R.o.out);
                rc = g_stop ? 130 : 0;
                goto finish;
            }
        }
    }

    /* the result */
    {
        char path[4200];
        save_ctx s;
        unsigned char *vf = NULL;
        void *vm = NULL;
        s.t = tr; s.state = 0;
        snprintf(path, sizeof path, "%s/%s", R.o.out, R.afile ? "adapter.gguf" : "model.gguf");
        if (write_atomic(path, save_fill, &s) != 0) die("cannot write %s", path);
        free(tmem); /* the trainer is done: its memory goes before the file is loaded back */
        tmem = NULL;
        if (R.afile) { /* check that the file attaches as any adapter file */
            if (!ex_attach(R.m, path, &vf, &vm)) die("%s was written but does not attach to %s", path, R.o.model);
        } else if (!ex_load_model(path, &vf, &vm)) die("%s was written but does not load", path);
        free(vf);
        free(vm);
        note("wrote %s (%s); %ld steps in this run, %.1f s", path, R.afile ? "attaches to the model" : "loads", steps_here, now_s() - t_start);
    }
finish:
    for (t = 0; t < R.n_tasks; t++) free(perm[t]);
    free(perm); free(order); free(counts);
    free(bb.ids); free(bb.labels); free(bb.scores); free(bb.feats);
    free(tmem);
    vla_threadpool_destroy(&R.pool);
    return rc;
}
#endif /* VLA_TRAIN_NO_MAIN */
