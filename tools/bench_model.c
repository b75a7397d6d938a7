/* bench_model.c - model-level speed and memory of vladapter.h (what `make bench`
 * reports next to PyTorch, see tools/bench.sh and tools/bench_torch.py).
 *
 *   build/bench_model [-o results.tsv] [-q]
 *   build/bench_model --simd        print vla_simd_name() and exit
 *
 * Sections (BENCH_SECTIONS, default "bart,clip,pipeline,adapters"):
 *   bart      BART-base with the VL visual embedding, batch 1: encode 10 text +
 *             36 visual tokens (a 7x7 grid of 2048 max-pooled to 6x6), greedy
 *             and beam-5 generation to max_length 20 with no-repeat-ngram 3
 *   clip      the CLIP ModifiedResNet trunk (RN101: layers 3,4,23,3, width 64)
 *             on one 224x224 image, up to the 7x7x2048 grid
 *   pipeline  8-bit RGB picture -> vla_clip_preprocess -> CLIP -> visual
 *             tokens -> encoder with the task prefix text -> beam-5 decode
 *   adapters  attach / switch time of each PEFT method and what it adds per
 *             encode and per decoded token over the base model
 * Every section runs once per thread count (BENCH_THREADS, default "1 2";
 * examples/vla_threads.h) in a child process of its own, so that each peak
 * RSS is that section's alone.  The weights are random (seeded) at the real
 * shapes, built once into BENCH_DIR (default build/bench-files) and mapped
 * read-only, so the RSS counts the weight pages a section touches.
 *
 * int8: bart, clip and pipeline run a second time on an I8 copy of the same
 * weights (BENCH_WEIGHTS, default "f32 i8"; "f32" or "i8" runs one of them).
 * The copy is made from the fp32 file by the project's quantizer
 * (tools/vla_quant.h, what `vla-quantize --to i8` runs), named like it with
 * "-i8" before ".gguf", built once and kept, and made again when it is older
 * than the fp32 file or does not load.  The I8 file runs the integer path
 * (the library's default for I8 weights).  Its results are the sections
 * bart_i8, clip_i8 and pipeline_i8 of the results file; adapters run on the
 * fp32 model only.  "weights MB" of an int8 table counts the I8 file's
 * tensors (int8 matrices, their F32 row scales, the tensors kept F32).
 * bart and bart_i8 also write dec_bytes_per_step: the bytes of the model
 * file one decode step reads, summed from the file's tensors (see
 * dec_step_bytes).
 *
 * Generation: min_length = max_length - 1 bans EOS until the last step, so
 * every run decodes all max_length - 1 steps (random weights would otherwise
 * emit EOS at random and the work would differ from run to run and from
 * PyTorch's).  Everything else is the official configuration.
 *
 * Environment (sizes and repeats; tools/bench_torch.py reads the same names):
 *   BENCH_REPEAT (5)  BENCH_WARMUP (1)  BENCH_PIPE_REPEAT (3)
 *   BENCH_ATTACH_REPEAT (2)  BENCH_ADAPTER_REPEAT (3)  BENCH_THREADS ("1 2")
 *   BENCH_SECTIONS
 *   BENCH_D_MODEL (768)  BENCH_HEADS (12)  BENCH_ENC_LAYERS (6)
 *   BENCH_DEC_LAYERS (6)  BENCH_FFN (3072)  BENCH_VOCAB (50465)
 *   BENCH_FEAT (32 * width)  BENCH_GRID (7)  BENCH_TEXT (10)  BENCH_GEN (20)
 *   BENCH_BEAMS (5)  BENCH_NGRAM (3)  BENCH_CLIP_LAYERS ("3,4,23,3")
 *   BENCH_CLIP_WIDTH (64)  BENCH_IMAGE (224)  BENCH_PICTURE ("640x480")
 *   BENCH_PIPE_TEXT (4)  BENCH_ADAPTER_HIDDEN (96)  BENCH_PHM_K (2)
 *   BENCH_LORA_R (128)  BENCH_PROMPT (40)  BENCH_PROMPT_MID (800)
 *   BENCH_TASKS (4)  BENCH_SEED (1)  BENCH_DIR (build/bench-files)
 *   BENCH_WEIGHTS ("f32 i8")
 *   BENCH_CLOCK (wall; "cpu": process CPU time, see now_ms)
 * -q: the repeats default to 2 (BENCH_REPEAT) and 1 (pipeline, attach, adapter pairs).
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
#define VLA_QUANT_IMPLEMENTATION
#include "vla_quant.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_METHODS 5
static const char *g_methods[N_METHODS] = {"adapter", "hyperformer", "compacter", "lora", "prompt"};

typedef struct cfg {
    int d, heads, enc_layers, dec_layers, ffn, vocab, feat, grid, text, gen, beams, ngram, max_pos;
    int clip_layers[4], clip_width, image, pic_w, pic_h, pipe_text;
    int adp_hidden, phm_k, lora_r, prompt, prompt_mid, tasks;
    int repeat, warmup, pipe_repeat, attach_repeat, adapter_repeat;
    int threads[8], n_threads;
    char sections[256];
    char weights[64];         /* BENCH_WEIGHTS: "f32", "i8" or both */
    int i8;                   /* the sections run on the I8 copy (results: "<section>_i8") */
    char dir[1024];
    char results[1024];
    uint64_t seed;
} cfg;

/* ---- small utilities ---- */

/* BENCH_CLOCK=cpu: the process's CPU time instead of the wall clock.  On
 * a machine shared with other jobs a 1-thread figure is then the time this
 * process actually ran (at N threads it is the CPU time of all threads, idle
 * spinning included: not a speed).  tools/bench_torch.py reads it too. */
static double now_ms(void) {
    static int cpu = -1;
    struct timespec ts;
    if (cpu < 0) cpu = getenv("BENCH_CLOCK") && !strcmp(getenv("BENCH_CLOCK"), "cpu");
    clock_gettime(cpu ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int env_int(const char *name, int dflt) {
    const char *v = getenv(name);
    char *end;
    long x;
    if (!v || !*v) return dflt;
    x = strtol(v, &end, 10);
    if (*end || x < 0 || x > 1 << 30) {
        fprintf(stderr, "bench_model: ignoring %s=%s (not a count)\n", name, v);
        return dflt;
    }
    return (int)x;
}

/* "a,b c" -> up to cap integers; returns the count (0 if unset or bad). */
static int env_ints(const char *name, int *out, int cap) {
    const char *v = getenv(name);
    int n = 0;
    if (!v || !*v) return 0;
    while (*v && n < cap) {
        char *end;
        long x;
        while (*v == ' ' || *v == ',' || *v == 'x') v++;
        if (!*v) break;
        x = strtol(v, &end, 10);
        if (end == v || x < 1) { fprintf(stderr, "bench_model: ignoring %s (expected numbers)\n", name); return 0; }
        out[n++] = (int)x;
        v = end;
    }
    return n;
}

static double peak_rss_mb(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
}

static double mb(double bytes) { return bytes / (1024.0 * 1024.0); }

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct stats { double med, min, max; int n; } stats;

static stats summarize(double *t, int n) {
    stats s;
    qsort(t, (size_t)n, sizeof *t, cmp_double);
    s.n = n;
    s.min = n ? t[0] : 0;
    s.max = n ? t[n - 1] : 0;
    s.med = n ? (n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2])) : 0;
    return s;
}

/* A benchmarked call: returns 0 on success. */
typedef int (*bench_fn)(void *arg);

static int timed(bench_fn fn, void *arg, int warmup, int repeat, stats *out) {
    double t[256];
    int i;
    if (repeat > 256) repeat = 256;
    if (repeat < 1) repeat = 1;
    for (i = 0; i < warmup; i++)
        if (fn(arg) != 0) return -1;
    for (i = 0; i < repeat; i++) {
        double t0 = now_ms();
        if (fn(arg) != 0) return -1;
        t[i] = now_ms() - t0;
    }
    *out = summarize(t, repeat);
    return 0;
}

/* One result line for bench_torch.py: section, threads, key, value; on the
 * I8 copy the section is written "<section>_i8". */
static void result(const cfg *c, const char *section, int threads, const char *key, double v) {
    FILE *f;
    if (!c->results[0]) return;
    f = fopen(c->results, "a");
    if (!f) return;
    fprintf(f, "%s%s\t%d\t%s\t%.6g\n", section, c->i8 ? "_i8" : "", threads, key, v);
    fclose(f);
}

static void log_stderr(void *user, vla_log_level lvl, const char *msg) {
    (void)user;
    if (lvl <= VLA_LOG_WARN) fprintf(stderr, "  vladapter: %s\n", msg);
}

/* ---- configuration ---- */

static void cfg_load(cfg *c, int quick) {
    int n, l[4];
    const char *v;
    memset(c, 0, sizeof *c);
    c->d = env_int("BENCH_D_MODEL", 768);
    c->heads = env_int("BENCH_HEADS", 12);
    c->enc_layers = env_int("BENCH_ENC_LAYERS", 6);
    c->dec_layers = env_int("BENCH_DEC_LAYERS", 6);
    c->ffn = env_int("BENCH_FFN", 3072);
    c->vocab = env_int("BENCH_VOCAB", 50465);
    c->max_pos = 1024;
    c->clip_layers[0] = 3; c->clip_layers[1] = 4; c->clip_layers[2] = 23; c->clip_layers[3] = 3;
    if (env_ints("BENCH_CLIP_LAYERS", l, 4) == 4) memcpy(c->clip_layers, l, sizeof l);
    c->clip_width = env_int("BENCH_CLIP_WIDTH", 64);
    c->feat = env_int("BENCH_FEAT", 32 * c->clip_width);
    c->image = env_int("BENCH_IMAGE", 224);
    c->grid = env_int("BENCH_GRID", c->image / 32);
    c->text = env_int("BENCH_TEXT", 10);
    c->gen = env_int("BENCH_GEN", 20);
    c->beams = env_int("BENCH_BEAMS", 5);
    c->ngram = env_int("BENCH_NGRAM", 3);
    c->pic_w = 640; c->pic_h = 480;
    if (env_ints("BENCH_PICTURE", l, 2) == 2) { c->pic_w = l[0]; c->pic_h = l[1]; }
    c->pipe_text = env_int("BENCH_PIPE_TEXT", 4);
    c->adp_hidden = env_int("BENCH_ADAPTER_HIDDEN", 96);
    c->phm_k = env_int("BENCH_PHM_K", 2);
    c->lora_r = env_int("BENCH_LORA_R", 128);
    c->prompt = env_int("BENCH_PROMPT", 40);
    c->prompt_mid = env_int("BENCH_PROMPT_MID", 800);
    c->tasks = env_int("BENCH_TASKS", 4);
    c->repeat = env_int("BENCH_REPEAT", quick ? 2 : 5);
    c->warmup = env_int("BENCH_WARMUP", 1);
    c->pipe_repeat = env_int("BENCH_PIPE_REPEAT", quick ? 1 : 3);
    c->attach_repeat = env_int("BENCH_ATTACH_REPEAT", quick ? 1 : 2);
    c->adapter_repeat = env_int("BENCH_ADAPTER_REPEAT", quick ? 1 : 3);
    c->seed = (uint64_t)env_int("BENCH_SEED", 1);
    n = env_ints("BENCH_THREADS", c->threads, 8);
    if (n == 0) { c->threads[0] = 1; c->threads[1] = 2; n = 2; }
    c->n_threads = n;
    v = getenv("BENCH_SECTIONS");
    snprintf(c->sections, sizeof c->sections, "%s", v && *v ? v : "bart,clip,pipeline,adapters");
    v = getenv("BENCH_WEIGHTS");
    snprintf(c->weights, sizeof c->weights, "%s", v && *v ? v : "f32 i8");
    v = getenv("BENCH_DIR");
    snprintf(c->dir, sizeof c->dir, "%s", v && *v ? v : "build/bench-files");
}

/* 1 if word is one of the comma- or space-separated words of list. */
static int has_word(const char *list, const char *word) {
    const char *p = list;
    size_t n = strlen(word);
    while ((p = strstr(p, word)) != NULL) {
        if ((p == list || p[-1] == ',' || p[-1] == ' ') && (p[n] == 0 || p[n] == ',' || p[n] == ' ')) return 1;
        p += n;
    }
    return 0;
}

static int cfg_has(const cfg *c, const char *section) { return has_word(c->sections, section); }

/* BENCH_WEIGHTS names "f32" / "i8" */
static int cfg_weights(const cfg *c, const char *w) { return has_word(c->weights, w); }

/* ---- the weight files (built once, then reused) ---- */

static void model_path(const cfg *c, char *out, size_t cap) {
    snprintf(out, cap, "%.400s/model-d%d-h%d-e%d-l%d-f%d-v%d-x%d-c%d.%d.%d.%d-w%d-s%d-r%llu.gguf", c->dir, c->d, c->heads,
             c->enc_layers, c->dec_layers, c->ffn, c->vocab, c->feat, c->clip_layers[0], c->clip_layers[1],
             c->clip_layers[2], c->clip_layers[3], c->clip_width, c->image, (unsigned long long)c->seed);
}

/* The I8 copy of model_path's file: the same name with "-i8" before ".gguf". */
static void model_path_i8(const cfg *c, char *out, size_t cap) {
    char mp[1024], *dot;
    model_path(c, mp, sizeof mp);
    dot = strrchr(mp, '.');
    if (dot) *dot = 0;
    snprintf(out, cap, "%.1000s-i8.gguf", mp);
}

static int adapter_dim(const cfg *c, int method) {
    return !strcmp(g_methods[method], "lora") ? c->lora_r : c->adp_hidden;
}

static void adapter_path(const cfg *c, int method, char *out, size_t cap) {
    char mp[1024], *dot;
    model_path(c, mp, sizeof mp);
    dot = strrchr(mp, '.');
    if (dot) *dot = 0;
    snprintf(out, cap, "%.900s-%s-r%d-k%d-p%d.%d-t%d.gguf", mp, g_methods[method], adapter_dim(c, method), c->phm_k, c->prompt,
             c->prompt_mid, c->tasks);
}

static int file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && st.st_size > 0;
}

/* 1 if file a was last modified before file b (both exist). */
static int file_older(const char *a, const char *b) {
    struct stat sa, sb;
    if (stat(a, &sa) != 0 || stat(b, &sb) != 0) return 0;
    return sa.st_mtime < sb.st_mtime;
}

static int mkdirs(const char *path) {
    char tmp[1024];
    size_t i;
    snprintf(tmp, sizeof tmp, "%s", path);
    for (i = 1; tmp[i]; i++)
        if (tmp[i] == '/') {
            tmp[i] = 0;
            if (mkdir(tmp, 0777) != 0 && errno != EEXIST) return -1;
            tmp[i] = '/';
        }
    return mkdir(tmp, 0777) == 0 || errno == EEXIST ? 0 : -1;
}

static int write_conv(vla_conv *cv, const char *path) {
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    if (vla_conv_write(cv, tmp) != 0) { fprintf(stderr, "bench_model: %s\n", cv->err); return -1; }
    if (rename(tmp, path) != 0) { fprintf(stderr, "bench_model: cannot rename %s\n", tmp); return -1; }
    return 0;
}

typedef struct mapped { const unsigned char *data; size_t size; } mapped;

static int map_file(const char *path, mapped *m) {
    struct stat st;
    int fd = open(path, O_RDONLY);
    void *p;
    memset(m, 0, sizeof *m);
    if (fd < 0) return -1;
    if (fstat(fd, &st) != 0 || st.st_size <= 0) { close(fd); return -1; }
    p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return -1;
    m->data = (const unsigned char *)p;
    m->size = (size_t)st.st_size;
    return 0;
}

static void unmap_file(mapped *m) {
    if (m->data) munmap((void *)m->data, m->size);
    memset(m, 0, sizeof *m);
}

/* A loaded model in malloc'd arena memory over a mapped file. */
typedef struct loaded { mapped file; void *mem; size_t mem_size; vla_model *m; } loaded;

static int load_model(const char *path, loaded *L) {
    vla_logger lg;
    vla_status st;
    memset(L, 0, sizeof *L);
    lg.fn = log_stderr; lg.user = NULL;
    if (map_file(path, &L->file) != 0) { fprintf(stderr, "bench_model: cannot map %s\n", path); return -1; }
    if ((st = vla_model_mem_req(L->file.data, L->file.size, &L->mem_size)) != VLA_OK ||
        !(L->mem = malloc(L->mem_size)) ||
        (st = vla_model_init(&L->m, L->mem, L->mem_size, L->file.data, L->file.size, &lg)) != VLA_OK) {
        fprintf(stderr, "bench_model: loading %s: %s\n", path, vla_status_str(st));
        return -1;
    }
    return 0;
}

static void free_model(loaded *L) {
    free(L->mem);
    unmap_file(&L->file);
    memset(L, 0, sizeof *L);
}

/* Bytes of the tensors whose names start (or not) with "visual.". */
static double weight_bytes(const vla_model *m, int clip) {
    const vla_gguf *g = vla_model_gguf(m);
    double s = 0;
    uint64_t i;
    for (i = 0; i < g->n_tensors; i++) {
        const vla_tensor *t = &g->tensors[i];
        int is_clip = t->name.n > 7 && !memcmp(t->name.s, "visual.", 7);
        if (is_clip == clip) s += (double)t->nbytes;
    }
    return s;
}

/* 1 if s starts with prefix / contains sub. */
static int str_starts(const char *s, size_t n, const char *prefix) {
    size_t k = strlen(prefix);
    return n >= k && !memcmp(s, prefix, k);
}

static int str_has(const char *s, size_t n, const char *sub) {
    size_t k = strlen(sub), i;
    for (i = 0; i + k <= n; i++)
        if (!memcmp(s + i, sub, k)) return 1;
    return 0;
}

/* Bytes of the model file one decode step (one token, any number of beam
 * rows: the rows share each weight read) reads, summed over the file's
 * tensors whatever their type (so F32, or I8 + "_scale" + the tensors the
 * quantizer keeps F32):
 *   - every decoder layer tensor (self-attention q k v out, cross-attention
 *     q and out, fc1, fc2, their biases and scales, the three LayerNorms),
 *     except the cross-attention key and value projections: their outputs
 *     are computed once per encode (vla_encode), not per step;
 *   - the decoder's layernorm_embedding, and one row of its position table;
 *   - the whole shared token embedding with its scale (the tied LM head; the
 *     step's token lookup is a row of it) and final_logits_bias.
 * A "model." prefix is skipped, as the loader does. */
static double dec_step_bytes(const vla_model *m) {
    const vla_gguf *g = vla_model_gguf(m);
    double s = 0;
    uint64_t i;
    for (i = 0; i < g->n_tensors; i++) {
        const vla_tensor *t = &g->tensors[i];
        const char *n = t->name.s;
        size_t len = t->name.n;
        if (str_starts(n, len, "model.")) { n += 6; len -= 6; }
        if (str_starts(n, len, "decoder.layers.")) {
            if (!str_has(n, len, "encoder_attn.k_proj.") && !str_has(n, len, "encoder_attn.v_proj.")) s += (double)t->nbytes;
        } else if (str_starts(n, len, "decoder.layernorm_embedding.") || str_starts(n, len, "shared.weight") ||
                   str_starts(n, len, "final_logits_bias")) {
            s += (double)t->nbytes;
        } else if (str_starts(n, len, "decoder.embed_positions.") && t->n_dims == 2 && t->ne[1] > 0) {
            s += (double)t->nbytes / (double)t->ne[1]; /* one position row */
        }
    }
    return s;
}

/* The I8 copy of the fp32 file mp (tools/vla_quant.h with vla-quantize's
 * defaults: --to i8, nothing kept), written to a temporary name and renamed.
 * The fingerprint is copied, so the fp32 adapters attach to it too. */
static int build_i8(const char *mp, const char *ip) {
    mapped in;
    vla_quant_opts o;
    vla_quant_stat qs;
    unsigned char *out = NULL;
    size_t out_n = 0;
    char err[512], tmp[1200];
    FILE *f;
    int rc = -1;
    fprintf(stderr, "bench_model: quantizing %s to I8 (tools/vla_quant.h) ...\n", mp);
    if (map_file(mp, &in) != 0) { fprintf(stderr, "bench_model: cannot map %s\n", mp); return -1; }
    memset(&o, 0, sizeof o);
    o.to = VLA_TYPE_I8;
    if (vla_quant_gguf(in.data, in.size, &o, &out, &out_n, &qs, err, sizeof err) != 0) {
        fprintf(stderr, "bench_model: quantizing %s: %s\n", mp, err);
        goto done;
    }
    snprintf(tmp, sizeof tmp, "%s.tmp", ip);
    if (!(f = fopen(tmp, "wb"))) { fprintf(stderr, "bench_model: cannot write %s\n", tmp); goto done; }
    if (fwrite(out, 1, out_n, f) != out_n) { fclose(f); remove(tmp); fprintf(stderr, "bench_model: cannot write %s\n", tmp); goto done; }
    if (fclose(f) != 0 || rename(tmp, ip) != 0) { remove(tmp); fprintf(stderr, "bench_model: cannot write %s\n", ip); goto done; }
    fprintf(stderr, "bench_model: %s: %d tensors I8, worst relative RMS error %.3g, %.1f MB\n", ip, qs.n_converted,
            qs.worst_rel_rms, mb((double)out_n));
    rc = 0;
done:
    free(out);
    unmap_file(&in);
    return rc;
}

static int build_files(const cfg *c) {
    char mp[1024], ap[1100], ip[1100];
    vla_conv cv;
    uint64_t fp = 0;
    int k, need_adp = 0, need_i8 = 0;
    double t0 = now_ms();
    model_path(c, mp, sizeof mp);
    model_path_i8(c, ip, sizeof ip);
    for (k = 0; k < N_METHODS; k++) { adapter_path(c, k, ap, sizeof ap); if (!file_exists(ap)) need_adp = 1; }
    if (cfg_weights(c, "i8")) {
        /* the I8 copy is stale when it is older than the fp32 file (made
         * anew below) or does not load (another header version) */
        need_i8 = !file_exists(ip) || !file_exists(mp) || file_older(ip, mp);
        if (!need_i8) {
            loaded L;
            if (load_model(ip, &L) != 0) {
                fprintf(stderr, "bench_model: removing %s and building it again\n", ip);
                remove(ip);
                need_i8 = 1;
            }
            free_model(&L);
        }
    }
    if (file_exists(mp) && !need_adp && !need_i8) return 0;
    if (mkdirs(c->dir) != 0) { fprintf(stderr, "bench_model: cannot create %s\n", c->dir); return -1; }
    if (!file_exists(mp)) {
        vla_rand_bart rb;
        vla_rand_clip rc;
        fprintf(stderr, "bench_model: building random weights into %s ...\n", mp);
        vla_conv_init(&cv);
        cv.quiet = 1;
        rb.d_model = c->d; rb.enc_layers = c->enc_layers; rb.dec_layers = c->dec_layers; rb.heads = c->heads;
        rb.ffn = c->ffn; rb.vocab = c->vocab; rb.max_pos = c->max_pos; rb.feat_dim = c->feat;
        rb.n_boxes = (c->grid - 1) * (c->grid - 1); rb.seed = c->seed;
        memcpy(rc.layers, c->clip_layers, sizeof rc.layers);
        rc.width = c->clip_width; rc.image_size = c->image; rc.seed = c->seed + 1;
        if (vla_conv_random_bart(&cv, &rb) != 0 || vla_random_clip(&cv, &rc) != 0) {
            fprintf(stderr, "bench_model: random model: %s\n", cv.err);
            vla_conv_free(&cv);
            return -1;
        }
        cv.fingerprint = fp = vla_conv_fingerprint(&cv);
        if (write_conv(&cv, mp) != 0) { vla_conv_free(&cv); return -1; }
        vla_conv_free(&cv);
        need_adp = 1; /* adapters are bound to the model's fingerprint */
    } else {
        loaded L;
        if (load_model(mp, &L) != 0) { /* a stale file (another header version): make it anew */
            free_model(&L);
            fprintf(stderr, "bench_model: removing %s and building it again\n", mp);
            remove(mp);
            return build_files(c);
        }
        fp = vla_model_fingerprint(L.m);
        free_model(&L);
    }
    for (k = 0; k < N_METHODS; k++) {
        vla_rand_adapter ra;
        adapter_path(c, k, ap, sizeof ap);
        if (file_exists(ap) && !need_adp) continue;
        memset(&ra, 0, sizeof ra);
        ra.method = g_methods[k];
        ra.d_model = c->d; ra.enc_layers = c->enc_layers; ra.dec_layers = c->dec_layers;
        ra.n_tasks = c->tasks; ra.shared = 1;
        ra.hidden = adapter_dim(c, k); ra.phm_k = c->phm_k; ra.lora_alpha = 32.0f;
        ra.prompt_len = c->prompt; ra.prompt_mid = c->prompt_mid;
        ra.task_emb = 512; ra.task_hidden = 128; ra.task_proj = 64;
        ra.base_fingerprint = fp; ra.seed = c->seed + 10 + (uint64_t)k;
        vla_conv_init(&cv);
        cv.quiet = 1;
        if (vla_random_adapter(&cv, &ra) != 0 || write_conv(&cv, ap) != 0) {
            fprintf(stderr, "bench_model: random %s adapter: %s\n", g_methods[k], cv.err);
            vla_conv_free(&cv);
            return -1;
        }
        vla_conv_free(&cv);
    }
    if (need_i8) {
        loaded L;
        if (build_i8(mp, ip) != 0) return -1;
        if (load_model(ip, &L) != 0) { free_model(&L); fprintf(stderr, "bench_model: the I8 copy %s does not load\n", ip); return -1; }
        free_model(&L);
    }
    fprintf(stderr, "bench_model: weight files ready in %.1f s\n", (now_ms() - t0) / 1e3);
    return 0;
}

/* ---- a context with a thread pool ---- */

typedef struct runner {
    const cfg *c;
    loaded L;
    vla_threadpool pool;
    int pool_on, threads;
    void *ctx_mem;
    size_t ctx_size;
    vla_ctx *ctx;
    int32_t ids[4096];
    int n_ids;
    float *feats;
    vla_input in;
    vla_gen_params g;
    int32_t out[64 * 64];
    int out_len;
} runner;

static int runner_open(runner *r, const cfg *c, int threads) {
    char mp[1024];
    memset(r, 0, sizeof *r);
    r->c = c;
    r->threads = threads;
    if (c->i8) model_path_i8(c, mp, sizeof mp);
    else model_path(c, mp, sizeof mp);
    if (load_model(mp, &r->L) != 0) return -1;
    if (threads > 1) {
        if (vla_threadpool_init(&r->pool, threads) != 0) { fprintf(stderr, "bench_model: no threads\n"); return -1; }
        r->pool_on = 1;
    }
    return 0;
}

static int runner_ctx(runner *r, vla_ctx_params *p) {
    vla_status st;
    p->exec.n_threads = 1;
    if (r->pool_on) vla_threadpool_exec(&r->pool, &p->exec);
    p->log.fn = log_stderr;
    if ((st = vla_ctx_mem_req(r->L.m, p, &r->ctx_size)) != VLA_OK || !(r->ctx_mem = malloc(r->ctx_size)) ||
        (st = vla_ctx_init(&r->ctx, r->L.m, p, r->ctx_mem, r->ctx_size)) != VLA_OK) {
        fprintf(stderr, "bench_model: context: %s\n", vla_status_str(st));
        return -1;
    }
    return 0;
}

static void runner_close(runner *r) {
    free(r->ctx_mem);
    free(r->feats);
    if (r->pool_on) vla_threadpool_destroy(&r->pool);
    free_model(&r->L);
}

/* Text ids <s> w ... w </s> and a grid of features, all seeded. */
static void make_inputs(runner *r, int text_len, int with_feats) {
    const cfg *c = r->c;
    uint64_t s = c->seed * 7919 + 5;
    int i;
    size_t n = (size_t)c->grid * c->grid * c->feat;
    r->n_ids = text_len;
    for (i = 0; i < text_len; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        r->ids[i] = i == 0 ? 0 : i == text_len - 1 ? 2 : (int32_t)(4 + (s >> 33) % (uint64_t)(c->vocab - 300));
    }
    memset(&r->in, 0, sizeof r->in);
    r->in.batch = 1;
    r->in.text_len = text_len;
    r->in.ids = r->ids;
    if (with_feats) {
        r->feats = (float *)malloc(n * sizeof(float));
        for (i = 0; i < (int)n; i++) { /* like post-ReLU grid features: >= 0 */
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            r->feats[i] = (float)((s >> 40) & 0xffff) / 65536.0f;
        }
        r->in.n_images = 1;
        r->in.grid_h = r->in.grid_w = c->grid;
        r->in.feats = r->feats;
    }
}

static void gen_params(runner *r, int beams) {
    r->g = vla_gen_defaults(r->L.m);
    r->g.num_beams = beams;
    r->g.max_length = r->c->gen;
    r->g.min_length = r->c->gen - 1; /* all steps always run (see the top of this file) */
    r->g.no_repeat_ngram = r->c->ngram;
    r->g.early_stopping = 1;
    r->g.length_penalty = 1.0f;
}

static int b_encode(void *arg) {
    runner *r = (runner *)arg;
    vla_status st = vla_encode(r->ctx, &r->in);
    if (st != VLA_OK) { fprintf(stderr, "bench_model: encode: %s\n", vla_status_str(st)); return -1; }
    return 0;
}

static int b_generate(void *arg) {
    runner *r = (runner *)arg;
    vla_status st = vla_generate(r->ctx, &r->g, r->out, &r->out_len, NULL);
    if (st != VLA_OK) { fprintf(stderr, "bench_model: generate: %s\n", vla_status_str(st)); return -1; }
    if (r->out_len != r->g.max_length) fprintf(stderr, "bench_model: note: generated width %d, not %d\n", r->out_len, r->g.max_length);
    return 0;
}

static double arena_mb(const runner *r) { return mb((double)r->L.mem_size + (double)r->ctx_size); }

/* ---- section 1: BART ---- */

static int section_bart(const cfg *c, int threads) {
    runner r;
    vla_ctx_params p;
    stats enc, gr, bm;
    int steps = c->gen - 1, rc = -1;
    if (runner_open(&r, c, threads) != 0) goto done;
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = c->text; p.max_images = 1; p.max_grid = c->grid * c->grid;
    p.max_dec_len = c->gen; p.max_beams = c->beams;
    if (runner_ctx(&r, &p) != 0) goto done;
    make_inputs(&r, c->text, 1);
    if (timed(b_encode, &r, c->warmup, c->repeat, &enc) != 0) goto done;
    gen_params(&r, 1);
    if (timed(b_generate, &r, c->warmup, c->repeat, &gr) != 0) goto done;
    gen_params(&r, c->beams);
    if (timed(b_generate, &r, c->warmup, c->repeat, &bm) != 0) goto done;
    printf("%7d %10.1f %10.1f %9.2f %10.1f %9.2f %11.1f %11.1f %11.1f\n", threads, enc.med, gr.med, gr.med / steps, bm.med,
           bm.med / steps, arena_mb(&r), mb(weight_bytes(r.L.m, 0)), peak_rss_mb());
    fflush(stdout);
    result(c, "bart", threads, "encode_ms", enc.med);
    result(c, "bart", threads, "greedy_ms", gr.med);
    result(c, "bart", threads, "greedy_tok_ms", gr.med / steps);
    result(c, "bart", threads, "beam_ms", bm.med);
    result(c, "bart", threads, "beam_tok_ms", bm.med / steps);
    result(c, "bart", threads, "arena_mb", arena_mb(&r));
    result(c, "bart", threads, "model_arena_mb", mb((double)r.L.mem_size));
    result(c, "bart", threads, "ctx_arena_mb", mb((double)r.ctx_size));
    result(c, "bart", threads, "weights_mb", mb(weight_bytes(r.L.m, 0)));
    result(c, "bart", threads, "dec_bytes_per_step", dec_step_bytes(r.L.m));
    result(c, "bart", threads, "rss_mb", peak_rss_mb());
    rc = 0;
done:
    runner_close(&r);
    return rc;
}

/* ---- section 2: CLIP trunk ---- */

typedef struct clip_arg { runner *r; float *img, *out; } clip_arg;

static int b_clip(void *arg) {
    clip_arg *a = (clip_arg *)arg;
    int h, w, ch;
    vla_status st = vla_clip_run(a->r->ctx, a->img, 4, a->out, &h, &w, &ch);
    if (st != VLA_OK) { fprintf(stderr, "bench_model: clip: %s\n", vla_status_str(st)); return -1; }
    return 0;
}

static int section_clip(const cfg *c, int threads) {
    runner r;
    vla_ctx_params p;
    clip_arg a;
    stats s;
    size_t n = (size_t)c->image * c->image * 3, i;
    uint64_t z = c->seed * 31 + 17;
    int rc = -1;
    memset(&a, 0, sizeof a);
    if (runner_open(&r, c, threads) != 0) goto done;
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = 1; p.max_images = 1; p.max_dec_len = 2; p.max_beams = 1; p.use_clip = 1;
    if (runner_ctx(&r, &p) != 0) goto done;
    a.r = &r;
    a.img = (float *)malloc(n * sizeof(float));
    a.out = (float *)malloc(sizeof(float) * (size_t)(c->image / 32) * (c->image / 32) * 32 * c->clip_width);
    if (!a.img || !a.out) goto done;
    for (i = 0; i < n; i++) { /* roughly a normalised picture: [-1.8, 2.1] */
        z = z * 6364136223846793005ull + 1442695040888963407ull;
        a.img[i] = (float)((z >> 40) & 0xffff) / 65536.0f * 3.9f - 1.8f;
    }
    if (timed(b_clip, &a, c->warmup, c->repeat, &s) != 0) goto done;
    printf("%7d %10.1f %10.1f %11.1f %11.1f %11.1f\n", threads, s.med, s.min, arena_mb(&r), mb(weight_bytes(r.L.m, 1)),
           peak_rss_mb());
    fflush(stdout);
    result(c, "clip", threads, "clip_ms", s.med);
    result(c, "clip", threads, "arena_mb", arena_mb(&r));
    result(c, "clip", threads, "weights_mb", mb(weight_bytes(r.L.m, 1)));
    result(c, "clip", threads, "rss_mb", peak_rss_mb());
    rc = 0;
done:
    free(a.img);
    free(a.out);
    runner_close(&r);
    return rc;
}

/* ---- section 3: the caption pipeline ---- */

typedef struct pipe_arg {
    runner *r;
    unsigned char *pic;
    vla_image view;
    float *pix;
    void *scratch;
    size_t scratch_size;
    double t_pre, t_enc, t_dec;
} pipe_arg;

static int b_pipeline(void *arg) {
    pipe_arg *a = (pipe_arg *)arg;
    vla_arena ar;
    vla_status st;
    double t0 = now_ms(), t1, t2;
    vla_arena_init(&ar, a->scratch, a->scratch_size);
    st = vla_clip_preprocess(&ar, a->pix, a->r->c->image, VLA_LAYOUT_HWC, &a->view);
    if (st != VLA_OK) { fprintf(stderr, "bench_model: preprocess: %s\n", vla_status_str(st)); return -1; }
    t1 = now_ms();
    a->r->in.images = a->pix;
    if (b_encode(a->r) != 0) return -1;
    t2 = now_ms();
    if (b_generate(a->r) != 0) return -1;
    a->t_pre = t1 - t0;
    a->t_enc = t2 - t1;
    a->t_dec = now_ms() - t2;
    return 0;
}

static int section_pipeline(const cfg *c, int threads) {
    runner r;
    vla_ctx_params p;
    pipe_arg a;
    double tp[64], te[64], td[64], tt[64];
    stats sp, se, sd, st;
    size_t n = (size_t)c->pic_w * c->pic_h * 3, i;
    uint64_t z = c->seed * 131 + 3;
    int k, reps = c->pipe_repeat < 1 ? 1 : c->pipe_repeat > 64 ? 64 : c->pipe_repeat, rc = -1;
    memset(&a, 0, sizeof a);
    if (runner_open(&r, c, threads) != 0) goto done;
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = c->pipe_text; p.max_images = 1; p.max_dec_len = c->gen; p.max_beams = c->beams;
    p.use_clip = 1;
    if (runner_ctx(&r, &p) != 0) goto done;
    make_inputs(&r, c->pipe_text, 0);
    r.in.n_images = 1;
    gen_params(&r, c->beams);
    a.r = &r;
    a.pic = (unsigned char *)malloc(n);
    a.pix = (float *)malloc(sizeof(float) * (size_t)c->image * c->image * 3);
    a.scratch_size = vla_clip_preprocess_scratch_size(c->pic_w, c->pic_h, c->image) + 2 * VLA_ALIGN;
    a.scratch = malloc(a.scratch_size);
    if (!a.pic || !a.pix || !a.scratch) goto done;
    for (i = 0; i < n; i++) { /* a smooth-ish picture: gradients plus noise */
        size_t px = i / 3, x = px % (size_t)c->pic_w, y = px / (size_t)c->pic_w;
        z = z * 6364136223846793005ull + 1442695040888963407ull;
        a.pic[i] = (unsigned char)((x * 255 / (size_t)c->pic_w + y * 97 / (size_t)c->pic_h + (i % 3) * 40 + ((z >> 59) & 31)) & 255);
    }
    if (vla_image_view(&a.view, a.pic, c->pic_w, c->pic_h, 3, 0) != VLA_OK) goto done;
    for (k = 0; k < c->warmup; k++)
        if (b_pipeline(&a) != 0) goto done;
    for (k = 0; k < reps; k++) {
        double t0 = now_ms();
        if (b_pipeline(&a) != 0) goto done;
        tt[k] = now_ms() - t0;
        tp[k] = a.t_pre; te[k] = a.t_enc; td[k] = a.t_dec;
    }
    st = summarize(tt, reps); sp = summarize(tp, reps); se = summarize(te, reps); sd = summarize(td, reps);
    printf("%7d %10.1f %10.2f %10.1f %10.1f %11.1f %11.1f %11.1f\n", threads, st.med, sp.med, se.med, sd.med,
           arena_mb(&r) + mb((double)a.scratch_size), mb(weight_bytes(r.L.m, 0) + weight_bytes(r.L.m, 1)), peak_rss_mb());
    fflush(stdout);
    result(c, "pipeline", threads, "total_ms", st.med);
    result(c, "pipeline", threads, "pre_ms", sp.med);
    result(c, "pipeline", threads, "encode_ms", se.med);
    result(c, "pipeline", threads, "decode_ms", sd.med);
    result(c, "pipeline", threads, "arena_mb", arena_mb(&r) + mb((double)a.scratch_size));
    result(c, "pipeline", threads, "weights_mb", mb(weight_bytes(r.L.m, 0) + weight_bytes(r.L.m, 1)));
    result(c, "pipeline", threads, "rss_mb", peak_rss_mb());
    rc = 0;
done:
    free(a.pic);
    free(a.pix);
    free(a.scratch);
    runner_close(&r);
    return rc;
}

/* ---- section 4: adapters ---- */

typedef struct attach_arg {
    const vla_model *m;
    mapped file;
    void *mem;
    size_t size;
    vla_adapter *ad;
} attach_arg;

static int b_attach(void *arg) {
    attach_arg *a = (attach_arg *)arg;
    vla_logger lg;
    vla_status st;
    lg.fn = log_stderr; lg.user = NULL;
    if (a->ad) vla_adapter_detach(a->ad);
    a->ad = NULL;
    st = vla_adapter_attach(&a->ad, a->m, a->mem, a->size, a->file.data, a->file.size, &lg);
    if (st != VLA_OK) { fprintf(stderr, "bench_model: attach: %s\n", vla_status_str(st)); return -1; }
    return 0;
}

/* Mean nanoseconds of one vla_ctx_set_adapter call, alternating between two
 * selections (another task of the same set, or another set / none). */
static double switch_ns(vla_ctx *ctx, const vla_adapter *a1, const char *t1, const vla_adapter *a2, const char *t2) {
    int i, n = 20000;
    double t0 = now_ms();
    for (i = 0; i < n; i++)
        if (vla_ctx_set_adapter(ctx, (i & 1) ? a2 : a1, (i & 1) ? t2 : t1) != VLA_OK) return -1.0;
    return (now_ms() - t0) * 1e6 / n;
}

/* One paired measurement: the base model, then the adapter, each encoded
 * and decoded (greedy); times in ms. */
typedef struct pair_t { double be, bg, ae, ag; } pair_t;

static int adapter_pair(runner *r, const vla_adapter *ad, pair_t *o) {
    double t0;
    if (vla_ctx_set_adapter(r->ctx, NULL, NULL) != VLA_OK) return -1;
    t0 = now_ms(); if (b_encode(r) != 0) return -1; o->be = now_ms() - t0;
    t0 = now_ms(); if (b_generate(r) != 0) return -1; o->bg = now_ms() - t0;
    if (vla_ctx_set_adapter(r->ctx, ad, "vqa") != VLA_OK) return -1;
    t0 = now_ms(); if (b_encode(r) != 0) return -1; o->ae = now_ms() - t0;
    t0 = now_ms(); if (b_generate(r) != 0) return -1; o->ag = now_ms() - t0;
    return 0;
}

static int section_adapters(const cfg *c, int threads) {
    runner r;
    vla_ctx_params p;
    attach_arg slot[N_METHODS];
    stats s_att;
    char ap[1100], key[64];
    int k, i, steps = c->gen - 1, max_dim = c->adp_hidden > c->lora_r ? c->adp_hidden : c->lora_r, rc = -1;
    int reps = c->adapter_repeat < 1 ? 1 : c->adapter_repeat > 64 ? 64 : c->adapter_repeat, nb = 0;
    double slots_mb = 0, all_be[N_METHODS * 64], all_bg[N_METHODS * 64];
    const char *task2 = c->tasks > 1 ? "gqa" : "vqa";
    memset(slot, 0, sizeof slot);
    if (runner_open(&r, c, threads) != 0) goto done;
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = c->text; p.max_images = 1; p.max_grid = c->grid * c->grid;
    p.max_dec_len = c->gen; p.max_beams = 1; p.max_prompt_len = c->prompt; p.max_adapter_dim = max_dim;
    if (runner_ctx(&r, &p) != 0) goto done;
    make_inputs(&r, c->text, 1);
    gen_params(&r, 1);
    for (i = 0; i < c->warmup; i++) /* the base model's weights, touched once */
        if (b_encode(&r) != 0 || b_generate(&r) != 0) goto done;
    for (k = 0; k < N_METHODS; k++) {
        attach_arg *a = &slot[k];
        vla_status st;
        pair_t pr;
        double ae[64], ag[64], de[64], dg[64], sw_task, sw_set;
        stats s_ae, s_ag, s_de, s_dg;
        adapter_path(c, k, ap, sizeof ap);
        a->m = r.L.m;
        if (map_file(ap, &a->file) != 0) { fprintf(stderr, "bench_model: cannot map %s\n", ap); goto done; }
        if ((st = vla_adapter_mem_req(r.L.m, a->file.data, a->file.size, &a->size)) != VLA_OK || !(a->mem = malloc(a->size))) {
            fprintf(stderr, "bench_model: %s adapter mem_req: %s\n", g_methods[k], vla_status_str(st));
            goto done;
        }
        slots_mb += mb((double)a->size);
        /* attach includes every precomputation (warm-up: first touch of the file) */
        if (timed(b_attach, a, 1, c->attach_repeat, &s_att) != 0) goto done;
        /* warm-up with the adapter, then base and adapter alternate, so that
         * both see the same machine */
        if (vla_ctx_set_adapter(r.ctx, a->ad, "vqa") != VLA_OK) goto done;
        for (i = 0; i < c->warmup; i++)
            if (b_encode(&r) != 0 || b_generate(&r) != 0) goto done;
        for (i = 0; i < reps; i++) {
            if (adapter_pair(&r, a->ad, &pr) != 0) goto done;
            all_be[nb] = pr.be; all_bg[nb] = pr.bg; nb++;
            ae[i] = pr.ae; ag[i] = pr.ag / steps;
            de[i] = pr.ae - pr.be; dg[i] = (pr.ag - pr.bg) / steps;
        }
        s_ae = summarize(ae, reps); s_ag = summarize(ag, reps); s_de = summarize(de, reps); s_dg = summarize(dg, reps);
        sw_task = switch_ns(r.ctx, a->ad, "vqa", a->ad, task2);
        sw_set = switch_ns(r.ctx, k > 0 ? slot[k - 1].ad : NULL, "vqa", a->ad, "vqa");
        if (vla_ctx_set_adapter(r.ctx, NULL, NULL) != VLA_OK) goto done;
        printf("%-12s %5d %8.1f %8.1f %10.1f %8.0f %8.0f %10.1f %+9.1f %9.2f %+9.3f\n", g_methods[k], adapter_dim(c, k),
               mb((double)a->file.size), mb((double)a->size), s_att.med, sw_task, sw_set, s_ae.med, s_de.med, s_ag.med,
               s_dg.med);
        fflush(stdout);
        snprintf(key, sizeof key, "%s_attach_ms", g_methods[k]); result(c, "adapters", threads, key, s_att.med);
        snprintf(key, sizeof key, "%s_encode_ms", g_methods[k]); result(c, "adapters", threads, key, s_ae.med);
        snprintf(key, sizeof key, "%s_encode_added_ms", g_methods[k]); result(c, "adapters", threads, key, s_de.med);
        snprintf(key, sizeof key, "%s_tok_ms", g_methods[k]); result(c, "adapters", threads, key, s_ag.med);
        snprintf(key, sizeof key, "%s_tok_added_ms", g_methods[k]); result(c, "adapters", threads, key, s_dg.med);
        snprintf(key, sizeof key, "%s_slot_mb", g_methods[k]); result(c, "adapters", threads, key, mb((double)a->size));
        snprintf(key, sizeof key, "%s_switch_task_ns", g_methods[k]); result(c, "adapters", threads, key, sw_task);
        snprintf(key, sizeof key, "%s_switch_set_ns", g_methods[k]); result(c, "adapters", threads, key, sw_set);
    }
    {
        stats be, bg;
        for (i = 0; i < nb; i++) all_bg[i] /= steps;
        be = summarize(all_be, nb);
        bg = summarize(all_bg, nb);
        printf("%-12s %5s %8s %8s %10s %8s %8s %10.1f %9s %9.2f %9s\n", "(base model)", "-", "-", "-", "-", "-", "-", be.med,
               "", bg.med, "");
        printf("  memory: model arena %.1f MB + context %.1f MB + %d adapter slots %.1f MB = %.1f MB of arenas; "
               "peak RSS %.1f MB\n",
               mb((double)r.L.mem_size), mb((double)r.ctx_size), N_METHODS, slots_mb, arena_mb(&r) + slots_mb, peak_rss_mb());
        fflush(stdout);
        result(c, "adapters", threads, "base_encode_ms", be.med);
        result(c, "adapters", threads, "base_tok_ms", bg.med);
        result(c, "adapters", threads, "arena_mb", arena_mb(&r) + slots_mb);
        result(c, "adapters", threads, "rss_mb", peak_rss_mb());
    }
    rc = 0;
done:
    for (k = 0; k < N_METHODS; k++) {
        if (slot[k].ad) vla_adapter_detach(slot[k].ad);
        free(slot[k].mem);
        unmap_file(&slot[k].file);
    }
    runner_close(&r);
    return rc;
}

/* ---- driver ---- */

typedef int (*section_fn)(const cfg *c, int threads);

/* Run fn in a child process (its own peak RSS); 0 if it succeeded. */
static int in_child(section_fn fn, const cfg *c, int threads) {
    pid_t pid;
    int status = 0;
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) return fn(c, threads); /* no fork: run here (RSS then accumulates) */
    if (pid == 0) {
        int rc = fn(c, threads);
        fflush(stdout);
        _exit(rc == 0 ? 0 : 1);
    }
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int build_child(const cfg *c, int threads) {
    (void)threads;
    return build_files(c);
}

/* bart, clip and pipeline (those BENCH_SECTIONS names) on the fp32 file
 * (i8 = 0: tables [1] [2] [3], results "bart" ...) or on its I8 copy (i8 = 1:
 * tables [1i] [2i] [3i], results "bart_i8" ...); returns the failed runs. */
static int model_sections(const cfg *c, int i8) {
    cfg w = *c;
    const char *tag = i8 ? "i" : "", *what = i8 ? "int8 (I8 copy, integer path): " : "";
    int i, fails = 0;
    w.i8 = i8;
    if (i8 && (cfg_has(c, "bart") || cfg_has(c, "clip") || cfg_has(c, "pipeline")))
        printf("\n== int8: the same shapes and inputs on the I8 copy of the weights (tools/vla_quant.h: BART matrices,\n"
               "   visual projection, token embedding / LM head and CLIP convolutions but the stem's first in int8 with one\n"
               "   F32 scale per row); \"weights MB\" = the I8 file's tensor bytes the section reads ==\n");
    if (cfg_has(c, "bart")) {
        printf("\n[1%s] %sBART encoder-decoder with the VL visual embedding: d %d, %d heads, %d+%d layers, FFN %d,"
               " vocab %d, batch 1\n"
               "    encode %d tokens (%d text + %d visual from a %dx%d grid of %d); generate max_length %d (%d steps),"
               " no-repeat-ngram %d\n",
               tag, what, c->d, c->heads, c->enc_layers, c->dec_layers, c->ffn, c->vocab,
               c->text + (c->grid - 1) * (c->grid - 1), c->text, (c->grid - 1) * (c->grid - 1), c->grid, c->grid, c->feat,
               c->gen, c->gen - 1, c->ngram);
        printf("%7s %10s %10s %9s %10s %9s %11s %11s %11s\n", "threads", "encode ms", "greedy ms", "ms/token", "beam5 ms",
               "ms/token", "arenas MB", "weights MB", "peak RSS MB");
        for (i = 0; i < c->n_threads; i++) fails += in_child(section_bart, &w, c->threads[i]) != 0;
    }
    if (cfg_has(c, "clip")) {
        printf("\n[2%s] %sCLIP ModifiedResNet trunk: layers %d,%d,%d,%d, width %d, %dx%d image -> %dx%dx%d grid (BN folded)\n",
               tag, what, c->clip_layers[0], c->clip_layers[1], c->clip_layers[2], c->clip_layers[3], c->clip_width, c->image,
               c->image, c->image / 32, c->image / 32, 32 * c->clip_width);
        printf("%7s %10s %10s %11s %11s %11s\n", "threads", "ms/image", "min ms", "arenas MB", "weights MB", "peak RSS MB");
        for (i = 0; i < c->n_threads; i++) fails += in_child(section_clip, &w, c->threads[i]) != 0;
    }
    if (cfg_has(c, "pipeline")) {
        printf("\n[3%s] %scaption pipeline: %dx%d RGB picture -> preprocess -> CLIP -> %d visual tokens -> encoder (%d text ids)"
               " -> beam %d, max_length %d\n",
               tag, what, c->pic_w, c->pic_h, (c->grid - 1) * (c->grid - 1), c->pipe_text, c->beams, c->gen);
        printf("%7s %10s %10s %10s %10s %11s %11s %11s\n", "threads", "total ms", "prep ms", "clip+enc", "decode ms",
               "arenas MB", "weights MB", "peak RSS MB");
        for (i = 0; i < c->n_threads; i++) fails += in_child(section_pipeline, &w, c->threads[i]) != 0;
    }
    return fails;
}

int main(int argc, char **argv) {
    cfg c;
    struct utsname un;
    char load[128] = "?";
    int i, quick = 0, fails = 0;
    const char *out = NULL;
    FILE *f;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-q")) quick = 1;
        else if (!strcmp(argv[i], "--simd")) { printf("%s\n", vla_simd_name()); return 0; }
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
        else {
            fprintf(stderr, "usage: %s [-q] [-o results.tsv] | --simd   (sizes: BENCH_* variables, see the source)\n", argv[0]);
            return 2;
        }
    }
    cfg_load(&c, quick);
    if (out) {
        snprintf(c.results, sizeof c.results, "%s", out);
        f = fopen(out, "w");
        if (!f) { fprintf(stderr, "bench_model: cannot write %s\n", out); return 1; }
        fclose(f);
    }
    if (uname(&un) != 0) snprintf(un.machine, sizeof un.machine, "?");
    f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fgets(load, sizeof load, f)) { /* the three averages */
            char *sp = strchr(load, ' ');
            if (sp) sp = strchr(sp + 1, ' ');
            if (sp) sp = strchr(sp + 1, ' ');
            if (sp) *sp = 0;
            load[strcspn(load, "\n")] = 0;
        }
        fclose(f);
    }
    printf("vladapter.h model benchmarks: %s, SIMD %s, %ld cpus online, load average %s\n", un.machine, vla_simd_name(),
           sysconf(_SC_NPROCESSORS_ONLN), load);
    printf("median of %d runs after %d warm-up (pipeline: %d runs); random fp32 weights, mapped read-only from %s\n",
           c.repeat, c.warmup, c.pipe_repeat, c.dir);
    if (cfg_weights(&c, "i8"))
        printf("int8: tables [1i] [2i] [3i] run the same on an I8 copy of those weights (BENCH_WEIGHTS=\"%s\")\n", c.weights);
    printf("memory: \"arenas\" = the size queries (vla_model_mem_req + vla_ctx_mem_req [+ slots]), \"weights\" = tensor\n"
           "bytes the section reads from the mapped file, \"peak RSS\" = the section's process (getrusage ru_maxrss)\n");
    fflush(stdout);
    result(&c, "info", 0, "gen", c.gen);
    if (in_child(build_child, &c, 0) != 0) { fprintf(stderr, "bench_model: could not build the weight files\n"); return 1; }

    if (cfg_weights(&c, "f32")) fails += model_sections(&c, 0);
    if (cfg_weights(&c, "i8")) fails += model_sections(&c, 1);
    if (cfg_has(&c, "adapters") && !cfg_weights(&c, "f32"))
        printf("\n[4] adapters: skipped (they run on the fp32 model only; BENCH_WEIGHTS=%s)\n", c.weights);
    else if (cfg_has(&c, "adapters")) {
        for (i = 0; i < c.n_threads; i++) {
            printf("\n[4] adapters at the BART shapes above, %d thread%s (no PyTorch comparison).  %d tasks, one module set\n"
                   "    shared by all tasks (Hyperformer: generated per task from its hypernetwork).  attach = vla_adapter_attach\n"
                   "    with its precomputation (median of %d); task ns / set ns = one vla_ctx_set_adapter call switching to\n"
                   "    another task of the set / from another set (it also drops the encoder output: a switch costs one\n"
                   "    encode); encode %d tokens (prompt: +%d) and greedy ms per decoded token, with\n"
                   "    \"added\" = median over %d runs of (adapter - base model) measured back to back in one context\n",
                   c.threads[i], c.threads[i] > 1 ? "s" : "", c.tasks, c.attach_repeat, c.text + (c.grid - 1) * (c.grid - 1),
                   c.prompt, c.adapter_repeat);
            printf("%-12s %5s %8s %8s %10s %8s %8s %10s %9s %9s %9s\n", "method", "dim", "file MB", "slot MB", "attach ms",
                   "task ns", "set ns", "encode ms", "added", "ms/token", "added");
            fails += in_child(section_adapters, &c, c.threads[i]) != 0;
        }
    }
    if (fails) fprintf(stderr, "bench_model: %d section run%s failed\n", fails, fails > 1 ? "s" : "");
    return fails ? 1 : 0;
}
