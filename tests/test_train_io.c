/* test_train_io.c - the trainer's memory, files and robustness.
 *
 *   build/test_train_io [FIXTURES_DIR] [-v]      (default tests/fixtures)
 *
 *  1. memory: vla_trainer_mem_req is the arena's high-water mark
 *     (stats.peak + VLA_ALIGN == need) after init and after steps, loss,
 *     save and save_state, for every method (adapter, compacter, hyperformer,
 *     lora, prompt, visual only, full fine-tuning) with recompute 0 and 1.
 *     Too little memory: the init is walked through every allocation
 *     boundary (see mem_walk), every byte below the threshold near the end is
 *     tried at several alignments, and the minimal buffer is ASan-poisoned
 *     right after its last byte while steps run.  recompute = 1 trains
 *     bit-identically to 0.  The saving of recompute at a bart-base shape is
 *     measured from the size query alone (a header-only base in untouched
 *     anonymous memory, see bartbase_numbers).
 *  2. the trained result is hot-swappable: vla_trainer_save -> attach ->
 *     vla_encode + vla_decode_logits give vla_trainer_loss's loss (computed
 *     here from the logits) for every method and task; the original and the
 *     trained set swap in one context; without an adapter file the result is
 *     a model file with a new fingerprint.
 *  3. resume: N steps == k steps + save_state + new trainer + load_state +
 *     N - k steps, memcmp-exact in values, gradients, AdamW moments, step and
 *     cursor (dropout on, adapter and lora); damaged states (every truncation
 *     near the header, strided ones after it, random byte flips classified by
 *     where they land) fail without touching the trainer, or are accepted only
 *     where the format cannot tell (values, padding); states of another seed,
 *     method, width or trainable set are VLA_ERR_MISMATCH.
 *  4. int8-frozen base: bart_single_adapter with its 2-D BART matrices as
 *     Q8_0: per-tensor gradient error against the F32 base, and 20 steps.
 *  5. bad input: batches outside the shapes, unknown tasks, ids and labels out
 *     of range, NULL labels, VQA without scores; adapter files for another
 *     base, precomputed prompts, Q8_0 modules; none of them leaves a trace.
 */
#define _DEFAULT_SOURCE
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "../tools/vla_convert.h"
#define VLA_RANDOM_IMPLEMENTATION
#include "../tools/vla_random.h"
#include "board/vla_check.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#if defined(__SANITIZE_ADDRESS__)
#define TIO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TIO_ASAN 1
#endif
#endif
#ifdef TIO_ASAN
#include <sanitizer/asan_interface.h>
#define TIO_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define TIO_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define TIO_POISON(p, n) ((void)(p), (void)(n))
#define TIO_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* The small random model every part but 4 uses. */
#define D 32
#define NLAY 2
#define FFN 64
#define V 300
#define FEAT 64
#define MB 2    /* max batch          */
#define LT 7    /* max text length    */
#define TT 5    /* max target length  */
#define GRID 49 /* 7 x 7 feature grid */

static int g_verbose;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- byte buffers and the growing write callback ---- */

typedef struct blob { unsigned char *p; size_t n, cap; } blob;

static vla_status grow_cb(void *user, const void *data, size_t n) {
    blob *b = (blob *)user;
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        unsigned char *q;
        while (c < b->n + n) c *= 2;
        q = (unsigned char *)realloc(b->p, c);
        if (!q) return VLA_ERR_IO;
        b->p = q; b->cap = c;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    return VLA_OK;
}

static void blob_free(blob *b) { free(b->p); memset(b, 0, sizeof *b); }

static blob conv_to_blob(vla_conv *cv) {
    blob b = {NULL, 0, 0};
    if (vla_conv_write_mem(cv, &b.p, &b.n) != 0) { b.p = NULL; b.n = 0; }
    b.cap = b.n;
    return b;
}

/* ---- logging: silent, but remembers the first "arena exhausted" need ---- */

typedef struct logcap { unsigned long long first_need; int n_msgs; char last[256]; } logcap;
static logcap g_cap;

static void cap_log(void *user, vla_log_level lvl, const char *msg) {
    logcap *c = (logcap *)user;
    unsigned long long n;
    c->n_msgs++;
    snprintf(c->last, sizeof c->last, "%s", msg);
    if (!c->first_need && sscanf(msg, "arena exhausted: %llu bytes needed so far", &n) == 1) c->first_need = n;
    if (g_verbose > 1) fprintf(stderr, "  [log %d] %s\n", (int)lvl, msg);
}

static vla_logger cap_logger(void) {
    vla_logger l;
    l.fn = cap_log; l.user = &g_cap;
    return l;
}

/* ---- models and adapter files ---- */

typedef struct model { blob file; void *mem; vla_model *m; } model;

static blob make_base(uint64_t seed) {
    vla_rand_bart r = {D, NLAY, NLAY, 4, FFN, V, 64, FEAT, 36, 0};
    vla_conv cv;
    blob b = {NULL, 0, 0};
    r.seed = seed;
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_conv_random_bart(&cv, &r) == 0) {
        cv.fingerprint = vla_conv_fingerprint(&cv);
        b = conv_to_blob(&cv);
    }
    vla_conv_free(&cv);
    return b;
}

static int model_load(model *x, blob f) {
    size_t need;
    memset(x, 0, sizeof *x);
    x->file = f;
    if (!f.p || vla_model_mem_req(f.p, f.n, &need) != VLA_OK) return -1;
    x->mem = malloc(need);
    if (!x->mem || vla_model_init(&x->m, x->mem, need, f.p, f.n, NULL) != VLA_OK) { x->m = NULL; return -1; }
    return 0;
}

static void model_free(model *x) { free(x->mem); blob_free(&x->file); memset(x, 0, sizeof *x); }

/* A random adapter file bound to m (fp: the base fingerprint to write). */
static blob make_adapter_fp(const char *method, uint64_t fp, uint64_t seed, int n_tasks, int shared, int hidden) {
    vla_rand_adapter r;
    vla_conv cv;
    blob b = {NULL, 0, 0};
    memset(&r, 0, sizeof r);
    r.method = method;
    r.d_model = D; r.enc_layers = NLAY; r.dec_layers = NLAY;
    r.n_tasks = n_tasks; r.shared = shared; r.hidden = hidden;
    r.phm_k = 2; r.lora_alpha = 8.0f; r.prompt_len = 4; r.prompt_mid = 16;
    r.task_emb = 8; r.task_hidden = 8; r.task_proj = 4;
    r.base_fingerprint = fp;
    r.seed = seed;
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_random_adapter(&cv, &r) == 0) b = conv_to_blob(&cv);
    vla_conv_free(&cv);
    return b;
}

/* The five methods with their sharing (both tasks "vqa", "gqa"). */
#define N_AD 5
static const char *ad_methods[N_AD] = {"adapter", "compacter", "hyperformer", "lora", "prompt"};
static const int ad_shared[N_AD] = {0, 1, 0, 0, 1};
static const int ad_hidden[N_AD] = {8, 8, 8, 4, 1};

static blob make_adapter(const vla_model *m, int k, uint64_t seed) {
    return make_adapter_fp(ad_methods[k], vla_model_fingerprint(m), seed, 2, ad_shared[k], ad_hidden[k]);
}

/* ---- batches ---- */

typedef struct tbatch {
    int32_t ids[MB * LT];
    float feats[MB * GRID * FEAT];
    float boxes[MB * GRID * 4];
    int32_t labels[MB * TT];
    float scores[MB];
    vla_train_batch b;
} tbatch;

static uint64_t rnd(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static float rndf(uint64_t *s) { return (float)(rnd(s) >> 40) * (1.0f / 16777216.0f); }

/* Batch k: tasks alternate vqa / gqa, losses cycle VQA, example mean, token
 * mean; example 1 has padded text and ignored labels. */
static void tb_make(tbatch *x, int k) {
    uint64_t s = 1000 + (uint64_t)k;
    int b, i;
    memset(x, 0, sizeof *x);
    for (b = 0; b < MB; b++) {
        int len = b == 0 ? LT : LT - 2 - (k & 1), nb = b == 0 ? TT : TT - 2;
        x->ids[b * LT] = 0;
        for (i = 1; i < len - 1; i++) x->ids[b * LT + i] = 3 + (int32_t)(rnd(&s) % (V - 3));
        x->ids[b * LT + len - 1] = 2;
        for (i = len; i < LT; i++) x->ids[b * LT + i] = 1;
        for (i = 0; i < nb - 1; i++) x->labels[b * TT + i] = 3 + (int32_t)(rnd(&s) % (V - 3));
        x->labels[b * TT + nb - 1] = 2;
        for (i = nb; i < TT; i++) x->labels[b * TT + i] = -100;
    }
    for (i = 0; i < MB * GRID * FEAT; i++) x->feats[i] = rndf(&s);
    for (i = 0; i < MB * GRID; i++) {
        float a = rndf(&s) * 0.5f, c = rndf(&s) * 0.5f;
        x->boxes[4 * i] = a; x->boxes[4 * i + 1] = a + 0.5f * rndf(&s);
        x->boxes[4 * i + 2] = c; x->boxes[4 * i + 3] = c + 0.5f * rndf(&s);
    }
    x->scores[0] = 1.0f; x->scores[1] = 0.5f + 0.25f * (float)(k & 1);
    x->b.task = (k & 1) ? "gqa" : "vqa";
    x->b.loss = (vla_loss_kind)(k % 3);
    x->b.in.batch = MB; x->b.in.text_len = LT; x->b.in.ids = x->ids;
    x->b.in.n_images = 1; x->b.in.grid_h = x->b.in.grid_w = 7; x->b.in.feats = x->feats;
    x->b.in.boxes = (k % 4 == 3) ? NULL : x->boxes; /* zero boxes too, as CLIP grid features */
    x->b.target_len = TT; x->b.labels = x->labels; x->b.scores = x->scores;
}

#define N_TB 4
static tbatch g_tb[N_TB];

/* ---- trainers ---- */

static vla_train_params tparams(const char *method, int rec) {
    vla_train_params p = vla_train_defaults(method && strcmp(method, "none") ? method : NULL);
    p.max_batch = MB; p.max_text_len = LT; p.max_images = 1; p.max_grid = GRID; p.max_target_len = TT;
    p.total_steps = 20; p.warmup_steps = 2;
    p.recompute = rec;
    p.exec.n_threads = 1;
    p.log = cap_logger();
    return p;
}

typedef struct trn { void *mem; size_t need; vla_trainer *t; } trn;

/* garbage: fill the fresh memory so that nothing can rely on zeros */
static vla_status trn_new(trn *x, const vla_model *m, const blob *ad, const vla_train_params *p, int garbage) {
    vla_status st;
    memset(x, 0, sizeof *x);
    if ((st = vla_trainer_mem_req(m, ad ? ad->p : NULL, ad ? ad->n : 0, p, &x->need)) != VLA_OK) return st;
    x->mem = malloc(x->need);
    if (!x->mem) return VLA_ERR_NOMEM;
    if (garbage) memset(x->mem, garbage, x->need);
    return vla_trainer_init(&x->t, m, ad ? ad->p : NULL, ad ? ad->n : 0, p, x->mem, x->need);
}

static void trn_free(trn *x) { free(x->mem); memset(x, 0, sizeof *x); }

/* Values, moments (and gradients), step and cursor, for exact comparison. */
typedef struct snap { unsigned char *p; size_t n; } snap;

static snap snap_take(vla_trainer *t, int with_grad) {
    snap s = {NULL, 0};
    int i, n = vla_trainer_n_tensors(t);
    size_t total = 8 + 32, o = 0;
    long steps = vla_trainer_steps_done(t);
    vla_train_tensor tt;
    for (i = 0; i < n; i++) { vla_trainer_tensor(t, i, &tt); total += tt.n * 4 * (size_t)(3 + with_grad); }
    s.p = (unsigned char *)malloc(total);
    if (!s.p) return s;
    for (i = 0; i < n; i++) {
        vla_trainer_tensor(t, i, &tt);
        memcpy(s.p + o, tt.value, tt.n * 4); o += tt.n * 4;
        memcpy(s.p + o, tt.m, tt.n * 4); o += tt.n * 4;
        memcpy(s.p + o, tt.v, tt.n * 4); o += tt.n * 4;
        if (with_grad) { memcpy(s.p + o, tt.grad, tt.n * 4); o += tt.n * 4; }
    }
    memcpy(s.p + o, &steps, sizeof steps < 8 ? sizeof steps : 8); o += 8;
    memcpy(s.p + o, vla_trainer_cursor(t), 32); o += 32;
    s.n = o;
    return s;
}

/* Does the trainer still hold snapshot s (taken with the same with_grad)?
 * Compares in place: no allocation (cheap under ASan in long loops). */
static int snap_matches(vla_trainer *t, const snap *s, int with_grad) {
    int i, n = vla_trainer_n_tensors(t);
    size_t o = 0;
    long steps = vla_trainer_steps_done(t);
    vla_train_tensor tt;
    if (!s->p) return 0;
    for (i = 0; i < n; i++) {
        vla_trainer_tensor(t, i, &tt);
        if (o + tt.n * 4 * (size_t)(3 + with_grad) > s->n) return 0;
        if (memcmp(s->p + o, tt.value, tt.n * 4)) return 0;
        o += tt.n * 4;
        if (memcmp(s->p + o, tt.m, tt.n * 4)) return 0;
        o += tt.n * 4;
        if (memcmp(s->p + o, tt.v, tt.n * 4)) return 0;
        o += tt.n * 4;
        if (with_grad) { if (memcmp(s->p + o, tt.grad, tt.n * 4)) return 0; o += tt.n * 4; }
    }
    if (o + 40 != s->n || memcmp(s->p + o, &steps, sizeof steps < 8 ? sizeof steps : 8) || memcmp(s->p + o + 8, vla_trainer_cursor(t), 32))
        return 0;
    return 1;
}

static int snap_eq(const snap *a, const snap *b) { return a->p && b->p && a->n == b->n && !memcmp(a->p, b->p, a->n); }
static void snap_free(snap *s) { free(s->p); s->p = NULL; s->n = 0; }

/* Two trainers exactly equal?  why: the first difference. */
static int trainers_equal(vla_trainer *a, vla_trainer *b, int with_grad, char *why, size_t why_n) {
    int i, n = vla_trainer_n_tensors(a);
    why[0] = 0;
    if (n != vla_trainer_n_tensors(b)) { snprintf(why, why_n, "tensor counts %d vs %d", n, vla_trainer_n_tensors(b)); return 0; }
    if (vla_trainer_steps_done(a) != vla_trainer_steps_done(b)) { snprintf(why, why_n, "steps %ld vs %ld", vla_trainer_steps_done(a), vla_trainer_steps_done(b)); return 0; }
    if (memcmp(vla_trainer_cursor(a), vla_trainer_cursor(b), 32)) { snprintf(why, why_n, "cursor differs"); return 0; }
    for (i = 0; i < n; i++) {
        vla_train_tensor x, y;
        vla_trainer_tensor(a, i, &x);
        vla_trainer_tensor(b, i, &y);
        if (strcmp(x.name, y.name) || x.n != y.n) { snprintf(why, why_n, "tensor %d: %s vs %s", i, x.name, y.name); return 0; }
        if (memcmp(x.value, y.value, x.n * 4)) { snprintf(why, why_n, "%s: value", x.name); return 0; }
        if (memcmp(x.m, y.m, x.n * 4)) { snprintf(why, why_n, "%s: m", x.name); return 0; }
        if (memcmp(x.v, y.v, x.n * 4)) { snprintf(why, why_n, "%s: v", x.name); return 0; }
        if (with_grad && memcmp(x.grad, y.grad, x.n * 4)) { snprintf(why, why_n, "%s: grad", x.name); return 0; }
    }
    return 1;
}

/* The batch the cursor points at; the cursor advances. */
static vla_status cursor_step(vla_trainer *t, float *loss) {
    uint64_t *c = vla_trainer_cursor(t);
    vla_status st = vla_trainer_step(t, &g_tb[c[0] % N_TB].b, loss, NULL);
    if (st == VLA_OK) { c[0]++; c[1] = c[1] * 6364136223846793005ull + 1442695040888963407ull; c[2] ^= (uint64_t)vla_trainer_steps_done(t) << 40; c[3] = ~c[0]; }
    return st;
}

/* ==========================================================================
 * 1. memory
 * ========================================================================== */

/* An init in exactly `size` bytes that start `off` bytes past a 64-byte
 * boundary; the bytes after them are ASan-poisoned until mem_block_free, so
 * that a trainer that fits can run in them.  One 64-aligned buffer serves
 * every try (a fresh allocation per try costs ASan a mapping each time). */
typedef struct mblock { unsigned char *mem; size_t used; } mblock;
static unsigned char *g_buf;
static size_t g_buf_n;

static void *mem_block(mblock *b, size_t size, size_t off) {
    b->mem = NULL; b->used = 0;
    if (size + off + 64 > g_buf_n) {
        void *p = NULL;
        free(g_buf);
        g_buf_n = size + off + 64 + (1u << 20);
        if (posix_memalign(&p, 64, g_buf_n) != 0) { g_buf = NULL; g_buf_n = 0; return NULL; }
        g_buf = (unsigned char *)p;
    }
    b->mem = g_buf + off;
    b->used = off + size;
    TIO_POISON(g_buf + b->used, g_buf_n - b->used);
    return b->mem;
}

static void mem_block_free(mblock *b) {
    if (!b->mem) return;
    TIO_UNPOISON(g_buf + b->used, g_buf_n - b->used);
    b->mem = NULL;
}

static vla_status init_in(const vla_model *m, const blob *ad, const vla_train_params *p, size_t size, size_t off,
                          vla_trainer **t, mblock *blk, unsigned long long *first_need) {
    void *mem = mem_block(blk, size, off);
    vla_status st;
    *t = (vla_trainer *)(uintptr_t)1; /* must be reset to NULL on failure */
    g_cap.first_need = 0;
    if (!mem) return VLA_ERR_IO;
    st = vla_trainer_init(t, m, ad ? ad->p : NULL, ad ? ad->n : 0, p, mem, size);
    if (first_need) *first_need = g_cap.first_need;
    return st;
}

/* Walk the init through every allocation boundary.  With a 64-aligned
 * buffer of capacity C (a multiple of 64) the init is deterministic up to the
 * first request that does not fit, whose end N (persistent + scratch + the
 * request, all multiples of 64) the arena logs.  Every C in [previous N, N)
 * therefore behaves identically; the walk tries C = previous N (the smallest
 * of the class) and N - 64 (the largest), then moves to N.  That covers every
 * capacity below the peak, i.e. every size below need - VLA_ALIGN at an
 * aligned address (the arena rounds sizes down to 64).  Returns the number
 * of allocation boundaries crossed. */
static int mem_walk(const vla_model *m, const blob *ad, const vla_train_params *p, size_t peak, int *bad) {
    size_t cap = 0;
    int n = 0;
    *bad = 0;
    for (;;) {
        vla_trainer *t;
        mblock blk;
        unsigned long long need1 = 0, need2 = 0;
        vla_status st = init_in(m, ad, p, cap, 0, &t, &blk, &need1);
        mem_block_free(&blk);
        if (st == VLA_OK) {
            if (cap != peak) { (*bad)++; if (g_verbose) printf("    walk: init fits in %zu < peak %zu\n", cap, peak); }
            break;
        }
        if (st == VLA_ERR_NOMEM && t == NULL && need1 == 0) {
            (*bad)++;
            if (g_verbose) printf("    walk: not run, the arena's NOMEM log message carries no byte count (\"%s\")\n", g_cap.last);
            break;
        }
        if (st != VLA_ERR_NOMEM || t != NULL || need1 <= cap || need1 % 64 || need1 > peak) {
            (*bad)++;
            printf("    walk: capacity %zu: %s, trainer %s, first need %llu (peak %zu)\n", cap, vla_status_str(st),
                   t ? "set" : "NULL", need1, peak);
            break;
        }
        if (need1 - 64 > cap) { /* the largest capacity of the same class */
            st = init_in(m, ad, p, (size_t)need1 - 64, 0, &t, &blk, &need2);
            mem_block_free(&blk);
            if (st != VLA_ERR_NOMEM || t != NULL || need2 != need1) {
                (*bad)++;
                printf("    walk: capacity %llu: %s, first need %llu (expected %llu)\n", need1 - 64, vla_status_str(st), need2, need1);
                break;
            }
        }
        cap = (size_t)need1;
        if (++n > 100000) { (*bad)++; break; }
    }
    return n;
}

/* Independent of the log: sizes 64 k + 63 (the largest size of each arena
 * capacity class at an aligned address) for every class in the first 1 KiB
 * and the last 4 KiB, and ~250 classes evenly spread in between.  Each must
 * be VLA_ERR_NOMEM with *out NULL. */
static int mem_sample(const vla_model *m, const blob *ad, const vla_train_params *p, size_t peak, int *n_tried) {
    size_t classes = peak / 64, k, stride = classes / 250 + 1;
    int bad = 0;
    *n_tried = 0;
    for (k = 0; k < classes; k += (k < 16 || k + 64 >= classes) ? 1 : stride) {
        vla_trainer *t;
        mblock blk;
        vla_status st = init_in(m, ad, p, 64 * k + 63, 0, &t, &blk, NULL);
        mem_block_free(&blk);
        (*n_tried)++;
        if (st != VLA_ERR_NOMEM || t != NULL) {
            if (!bad) printf("    sample: size %zu (peak %zu): %s\n", 64 * k + 63, peak, vla_status_str(st));
            bad++;
        }
    }
    return bad;
}

static void mem_case(const vla_model *m, const blob *ad, const char *method, int rec, snap *out) {
    vla_train_params p = tparams(method, rec);
    size_t need = 0, peak, persistent0;
    vla_trainer *t = NULL;
    mblock blk;
    vla_status st;
    int bad, nb, k, tail_bad = 0, tail_n = 0, ns = 0;
    static const size_t offs[4] = {0, 1, 32, 63};
    char nm[64];
    double t0 = now_s();
    snprintf(nm, sizeof nm, "%s rec=%d", method, rec);
    VC_CHECKF(vla_trainer_mem_req(m, ad ? ad->p : NULL, ad ? ad->n : 0, &p, &need) == VLA_OK && need > 0, "%s: mem_req", nm);
    if (!need) return;
    peak = need - VLA_ALIGN;
    /* the minimal buffer, ASan-poisoned right after it: init, steps, files */
    st = init_in(m, ad, &p, peak, 0, &t, &blk, NULL);
    VC_CHECKF(st == VLA_OK, "%s: init in need - VLA_ALIGN = %zu bytes (64-aligned): %s", nm, peak, vla_status_str(st));
    if (st == VLA_OK) {
        vla_arena_stats s0 = vla_trainer_stats(t), s1;
        float loss = 0;
        blob f = {NULL, 0, 0}, sf = {NULL, 0, 0};
        int ok = 1;
        VC_CHECKF(s0.peak + VLA_ALIGN == need, "%s: after init peak %zu + %d != need %zu", nm, s0.peak, VLA_ALIGN, need);
        persistent0 = s0.persistent;
        for (k = 0; k < 4 && ok; k++) ok = vla_trainer_step(t, &g_tb[k].b, &loss, NULL) == VLA_OK && loss == loss;
        VC_CHECKF(ok, "%s: steps in the minimal buffer", nm);
        ok = vla_trainer_loss(t, &g_tb[1].b, &loss) == VLA_OK;
        ok = ok && vla_trainer_backward(t, &g_tb[2].b, &loss) == VLA_OK;
        ok = ok && vla_trainer_save(t, grow_cb, &f) == VLA_OK && vla_trainer_save_state(t, grow_cb, &sf) == VLA_OK;
        VC_CHECKF(ok, "%s: loss / backward / save / save_state in the minimal buffer", nm);
        s1 = vla_trainer_stats(t);
        VC_CHECKF(s1.peak + VLA_ALIGN == need && s1.persistent == persistent0 && s1.peak == s0.peak,
                  "%s: after steps peak %zu (init %zu), persistent %zu (init %zu), need %zu", nm, s1.peak, s0.peak,
                  s1.persistent, persistent0, need);
        *out = snap_take(t, 1);
        blob_free(&f); blob_free(&sf);
    }
    mem_block_free(&blk);
    /* every capacity below the peak (aligned address) */
    nb = mem_walk(m, ad, &p, peak, &bad);
    VC_CHECKF(bad == 0, "%s: allocation-boundary walk (%d boundaries)%s", nm, nb, nb ? "" : ": needs the byte count of the NOMEM log message");
    bad = mem_sample(m, ad, &p, peak, &ns);
    VC_CHECKF(bad == 0, "%s: %d of %d sampled sizes below the peak did not return VLA_ERR_NOMEM cleanly", nm, bad, ns);
    /* bytes near the end, at several misalignments: the arena skips to the
     * next 64-byte boundary and rounds the rest down, so an init fits exactly
     * when size >= peak + skip (skip = (64 - off) % 64). */
    for (k = 0; k < 4; k++) {
        size_t off = offs[k], skip = (64 - off) % 64, sz;
        for (sz = need - 72; sz <= need; sz++) {
            unsigned long long fn = 0;
            int fits = sz >= peak + skip;
            st = init_in(m, ad, &p, sz, off, &t, &blk, &fn);
            mem_block_free(&blk);
            tail_n++;
            if (fits ? st != VLA_OK : (st != VLA_ERR_NOMEM || t != NULL)) {
                if (!tail_bad)
                    printf("    %s: size %zu at offset %zu: %s (expected %s)\n", nm, sz, off, vla_status_str(st), fits ? "OK" : "NOMEM");
                tail_bad++;
            }
        }
    }
    VC_CHECKF(tail_bad == 0, "%s: %d of %d sizes in [need-72, need] x 4 alignments off", nm, tail_bad, tail_n);
    /* the convention of the other tests: need - VLA_ALIGN - 1 never fits */
    for (k = 0; k < 4; k++) {
        st = init_in(m, ad, &p, need - VLA_ALIGN - 1, offs[k], &t, &blk, NULL);
        mem_block_free(&blk);
        VC_CHECKF(st == VLA_ERR_NOMEM && t == NULL, "%s: need - VLA_ALIGN - 1 at offset %zu: %s", nm, offs[k], vla_status_str(st));
    }
    printf("  %-18s need %8zu bytes; %4d allocation boundaries walked, %4d sizes sampled, %3d near the end; %.2f s\n", nm, need, nb,
           ns, tail_n + 4, now_s() - t0);
}

/* bart-base-like numbers from the size query alone: a header-only model whose
 * tensor data is untouched anonymous memory (zeros, never materialised). */
typedef struct zsink { unsigned char *dst; size_t n, cap; const unsigned char *z0, *z1; } zsink;

static vla_status zsink_cb(void *user, const void *data, size_t n) {
    zsink *s = (zsink *)user;
    const unsigned char *d = (const unsigned char *)data;
    if (s->n + n > s->cap) return VLA_ERR_IO;
    if (!(d >= s->z0 && d < s->z1)) memcpy(s->dst + s->n, d, n); /* the zero source is skipped: its pages stay untouched */
    s->n += n;
    return VLA_OK;
}

static int64_t base_dim(int64_t x) { /* the proxy's dimensions -> bart-base's */
    switch (x) {
    case 24: return 768;    /* d_model */
    case 40: return 3072;   /* ffn */
    case 300: return 50465; /* vocab with the 200 VL tokens */
    case 56: return 2048;   /* CLIP RN101 grid channels */
    case 64: return 1026;   /* position rows */
    default: return x;
    }
}

static void bartbase_numbers(void) {
    vla_rand_bart r = {24, 6, 6, 12, 40, 300, 62, 56, 36, 5}; /* a proxy with distinct sizes */
    vla_conv cv;
    vla_gguf_writer w;
    vla_arena a;
    void *wmem = NULL;
    unsigned char *zero = NULL, *dst = NULL;
    size_t zbytes = 0, total = 0, need0 = 0, need1 = 0, mneed = 0, need_ft0 = 0, need_ft1 = 0;
    zsink s;
    void *mmem = NULL;
    vla_model *m = NULL;
    blob ad = {NULL, 0, 0};
    int i, ok;
    vc_section("memory: recompute saving at bart-base shapes (size query only)");
    vla_conv_init(&cv);
    cv.quiet = 1;
    ok = vla_conv_random_bart(&cv, &r) == 0;
    VC_CHECK(ok);
    if (!ok) { vla_conv_free(&cv); return; }
    for (i = 0; i < cv.n_kv; i++) {
        if (!strcmp(cv.kv[i].key, "vladapter.bart.d_model")) cv.kv[i].u = 768;
        if (!strcmp(cv.kv[i].key, "vladapter.bart.encoder_ffn") || !strcmp(cv.kv[i].key, "vladapter.bart.decoder_ffn")) cv.kv[i].u = 3072;
    }
    for (i = 0; i < cv.n; i++) {
        vla_conv_tensor *t = &cv.t[i];
        size_t nel = 1;
        int d;
        for (d = 0; d < t->n_dims; d++) { t->ne[d] = base_dim(t->ne[d]); nel *= (size_t)t->ne[d]; }
        free(t->data);
        t->data = NULL;
        t->type = VLA_TYPE_F32;
        t->nbytes = nel * 4;
        if (t->nbytes > zbytes) zbytes = t->nbytes;
    }
    zero = (unsigned char *)mmap(NULL, zbytes, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ok = zero != (unsigned char *)MAP_FAILED;
    VC_CHECK(ok);
    if (!ok) { vla_conv_free(&cv); return; }
    for (i = 0; i < cv.n; i++) cv.t[i].data = zero;
    cv.fingerprint = 0x6261727462617365ull;
    ok = vla_conv__build(&cv, &w, &a, &wmem) == 0;
    if (ok) {
        total = (size_t)vla_gguf_writer_size(&w);
        dst = (unsigned char *)mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        ok = dst != (unsigned char *)MAP_FAILED;
    }
    if (ok) {
        s.dst = dst; s.n = 0; s.cap = total; s.z0 = zero; s.z1 = zero + zbytes;
        ok = vla_gguf_write(&w, zsink_cb, &s) == VLA_OK && s.n == total;
    }
    free(wmem);
    for (i = 0; i < cv.n; i++) cv.t[i].data = NULL;
    vla_conv_free(&cv);
    VC_CHECKF(ok, "header-only bart-base file");
    ok = ok && vla_model_mem_req(dst, total, &mneed) == VLA_OK && (mmem = malloc(mneed)) != NULL &&
         vla_model_init(&m, mmem, mneed, dst, total, NULL) == VLA_OK;
    VC_CHECKF(ok, "bart-base model from the header-only file");
    if (ok) {
        const vla_hparams *hp = vla_model_hparams(m);
        vla_train_params p = vla_train_defaults("adapter");
        VC_CHECK(hp->d_model == 768 && hp->n_enc_layers == 6 && hp->n_dec_layers == 6 && hp->enc_ffn == 3072 && hp->vocab == 50465 &&
                 hp->feat_dim == 2048 && hp->n_boxes == 36 && hp->n_positions == 1026);
        ad = make_adapter_fp("adapter", vla_model_fingerprint(m), 77, 1, 1, 96);
        p.max_batch = 8; p.max_text_len = 20; p.max_images = 1; p.max_grid = 49; p.max_target_len = 5;
        p.total_steps = 100; p.exec.n_threads = 1;
        p.recompute = 0;
        ok = ad.p && vla_trainer_mem_req(m, ad.p, ad.n, &p, &need0) == VLA_OK;
        p.recompute = 1;
        ok = ok && vla_trainer_mem_req(m, ad.p, ad.n, &p, &need1) == VLA_OK;
        VC_CHECKF(ok && need1 < need0, "bart-base single adapter: recompute must need less (%zu vs %zu)", need1, need0);
        {
            vla_train_params f = vla_train_defaults("full");
            f.max_batch = 8; f.max_text_len = 20; f.max_images = 1; f.max_grid = 49; f.max_target_len = 5; f.total_steps = 100;
            f.exec.n_threads = 1;
            ok = vla_trainer_mem_req(m, NULL, 0, &f, &need_ft0) == VLA_OK;
            f.recompute = 1;
            ok = ok && vla_trainer_mem_req(m, NULL, 0, &f, &need_ft1) == VLA_OK;
            VC_CHECK(ok && need_ft1 < need_ft0);
        }
        {   /* the manual's formula ([D12] Memory), in floats: recompute keeps
             * each layer's input plus one layer's set instead of every set */
            double d = 768, ffn = 3072, ra = 96, B = 8, H = 12, L = 56, T = 5, Re = B * L, Rd = B * T;
            double Ae = Re * (10 * d + ffn + 2 * ra) + B * H * L * L, Ad = Rd * (15 * d + ffn + 3 * ra) + Re * (2 * d) + B * H * T * (T + L);
            double est = 4.0 * (5 * Ae + 5 * Ad - 6 * Re * d - 6 * Rd * d), got = (double)need0 - (double)need1;
            printf("  bart-base shape (d 768, 6+6 layers, ffn 3072, vocab 50465, B 8, 20 text + 36 visual, T 5):\n");
            printf("    single adapter r=96: need %zu bytes (%.1f MiB) recompute=0, %zu bytes (%.1f MiB) recompute=1;"
                   " saving %zu bytes (%.1f MiB, %.1f%%)\n", need0, need0 / 1048576.0, need1, need1 / 1048576.0, need0 - need1,
                   (need0 - need1) / 1048576.0, 100.0 * (double)(need0 - need1) / (double)need0);
            printf("    the manual's formula predicts a saving of %.0f bytes (%.1f MiB); measured - formula = %.0f bytes\n", est,
                   est / 1048576.0, got - est);
            /* each block is rounded up to 64 bytes: at most 64 per allocation of the 10 saved sets (~30 each) */
            VC_CHECKF(fabs(got - est) <= 10 * 32 * 64.0, "recompute saving %.0f bytes vs the manual's formula %.0f", got, est);
            printf("    full fine-tuning: %.1f MiB recompute=0, %.1f MiB recompute=1\n", need_ft0 / 1048576.0, need_ft1 / 1048576.0);
        }
    }
    blob_free(&ad);
    free(mmem);
    if (dst && dst != (unsigned char *)MAP_FAILED) munmap(dst, total);
    munmap(zero, zbytes);
}

static void test_memory(const vla_model *m, blob *ads) {
    static const char *methods[7] = {"adapter", "compacter", "hyperformer", "lora", "prompt", "none", "full"};
    int k, rec;
    vc_section("memory: size query == high-water mark, NOMEM below it");
    {   /* the walk below reads the byte count from the arena's log message */
        vla_train_params p = tparams("adapter", 0);
        vla_trainer *t;
        mblock blk;
        unsigned long long fn = 0;
        vla_status st = init_in(m, &ads[0], &p, 4096, 0, &t, &blk, &fn);
        mem_block_free(&blk);
        VC_CHECKF(st == VLA_ERR_NOMEM && fn > 4096, "the NOMEM log message must carry the byte count; it reads \"%s\"", g_cap.last);
    }
    for (k = 0; k < 7; k++) {
        snap s[2] = {{NULL, 0}, {NULL, 0}};
        for (rec = 0; rec < 2; rec++) mem_case(m, k < N_AD ? &ads[k] : NULL, methods[k], rec, &s[rec]);
        VC_CHECKF(snap_eq(&s[0], &s[1]), "%s: recompute=1 trains bit-identically to recompute=0 (values, moments, grads)", methods[k]);
        snap_free(&s[0]); snap_free(&s[1]);
    }
}

/* ==========================================================================
 * 2. the trained result is hot-swappable
 * ========================================================================== */

/* The loss of a batch from teacher-forced logits [B, T, V], in double. */
static double ref_loss(const float *lg, const vla_train_batch *b, int vocab) {
    int B = b->in.batch, T = b->target_len, i, j, k, n_all = 0;
    double tot = 0.0;
    for (i = 0; i < B; i++) {
        double sum = 0.0;
        int nb = 0;
        for (j = 0; j < T; j++) {
            const float *r = lg + ((size_t)i * T + j) * vocab;
            int32_t lab = b->labels[i * T + j];
            double mx = r[0], se = 0.0;
            if (lab == -100) continue;
            for (k = 1; k < vocab; k++) if (r[k] > mx) mx = r[k];
            for (k = 0; k < vocab; k++) se += exp((double)r[k] - mx);
            sum += mx + log(se) - (double)r[lab];
            nb++;
        }
        n_all += nb;
        if (b->loss == VLA_LOSS_TOKEN_MEAN) tot += sum;
        else tot += (b->loss == VLA_LOSS_VQA ? (double)b->scores[i] : 1.0) * sum / (nb > 0 ? nb : 1);
    }
    if (b->loss == VLA_LOSS_TOKEN_MEAN) return n_all ? tot / n_all : 0.0;
    return tot / B;
}

typedef struct ctxh { void *mem; vla_ctx *c; } ctxh;

static int ctx_make(ctxh *x, const vla_model *m, const vla_adapter *a) {
    vla_ctx_params p;
    size_t need;
    memset(x, 0, sizeof *x);
    memset(&p, 0, sizeof p);
    p.max_batch = MB; p.max_text_len = LT; p.max_images = 1; p.max_grid = GRID; p.max_dec_len = TT; p.max_beams = 1;
    p.max_prompt_len = a ? vla_adapter_prompt_len(a) : 0;
    p.max_adapter_dim = a ? vla_adapter_max_dim(a) : 0;
    p.exec.n_threads = 1;
    if (vla_ctx_mem_req(m, &p, &need) != VLA_OK || !(x->mem = malloc(need))) return -1;
    return vla_ctx_init(&x->c, m, &p, x->mem, need) == VLA_OK ? 0 : -1;
}

/* Context loss of a batch with the adapter set / task selected. */
static int ctx_loss(vla_ctx *c, const vla_model *m, const vla_adapter *a, const vla_train_batch *b, double *loss) {
    const vla_hparams *hp = vla_model_hparams(m);
    int32_t dec[MB * TT];
    static float lg[MB * TT * V];
    int i, j;
    if (vla_ctx_set_adapter(c, a, a ? b->task : NULL) != VLA_OK) return -1;
    for (i = 0; i < b->in.batch; i++)
        for (j = 0; j < b->target_len; j++) {
            int32_t id = j == 0 ? hp->dec_start_id : b->labels[i * b->target_len + j - 1];
            dec[i * b->target_len + j] = id == -100 ? hp->pad_id : id;
        }
    if (vla_encode(c, &b->in) != VLA_OK || vla_decode_logits(c, dec, b->target_len, lg) != VLA_OK) return -2;
    *loss = ref_loss(lg, b, hp->vocab);
    return 0;
}

static double rel(double a, double b) { return fabs(a - b) / (fabs(b) > 1e-30 ? fabs(b) : 1e-30); }

#define LOSS_RTOL 1e-5

static void test_rebind(const vla_model *b, const vla_model *t, const blob *ad);

static void test_hotswap(const model *base, blob *ads) {
    const vla_model *m = base->m;
    int k, i;
    vc_section("trained adapter files are hot-swappable");
    for (k = 0; k < N_AD; k++) {
        vla_train_params p = tparams(ad_methods[k], 0);
        trn x;
        float l0[2], lt;
        blob f = {NULL, 0, 0}, f2 = {NULL, 0, 0};
        void *sm_tr = NULL, *sm_or = NULL;
        size_t n_tr, n_or;
        vla_adapter *a_tr = NULL, *a_or = NULL;
        ctxh c = {NULL, NULL};
        double worst = 0, diff_orig = 0;
        int ok;
        if (trn_new(&x, m, &ads[k], &p, 0) != VLA_OK) { VC_CHECKF(0, "%s: trainer", ad_methods[k]); trn_free(&x); continue; }
        for (i = 0; i < 2; i++) vla_trainer_loss(x.t, &g_tb[i].b, &l0[i]);
        for (i = 0; i < 4; i++) VC_CHECK(vla_trainer_step(x.t, &g_tb[i].b, NULL, NULL) == VLA_OK);
        ok = vla_trainer_save(x.t, grow_cb, &f) == VLA_OK && vla_trainer_save(x.t, grow_cb, &f2) == VLA_OK;
        VC_CHECKF(ok && f.n == f2.n && !memcmp(f.p, f2.p, f.n), "%s: save writes the same bytes twice", ad_methods[k]);
        ok = ok && vla_adapter_mem_req(m, f.p, f.n, &n_tr) == VLA_OK && (sm_tr = malloc(n_tr)) != NULL &&
             vla_adapter_attach(&a_tr, m, sm_tr, n_tr, f.p, f.n, NULL) == VLA_OK;
        VC_CHECKF(ok, "%s: vla_adapter_attach accepts the trained file", ad_methods[k]);
        ok = ok && vla_adapter_mem_req(m, ads[k].p, ads[k].n, &n_or) == VLA_OK && (sm_or = malloc(n_or)) != NULL &&
             vla_adapter_attach(&a_or, m, sm_or, n_or, ads[k].p, ads[k].n, NULL) == VLA_OK;
        if (ok) {
            VC_CHECK(!strcmp(vla_adapter_method(a_tr), ad_methods[k]) && vla_adapter_n_tasks(a_tr) == 2);
            ok = ctx_make(&c, m, vla_adapter_prompt_len(a_tr) > vla_adapter_prompt_len(a_or) ? a_tr : a_or) == 0;
            VC_CHECKF(ok, "%s: context", ad_methods[k]);
        }
        /* every batch (both tasks, all three losses), swapping the original
         * and the trained set in one context */
        for (i = 0; ok && i < N_TB; i++) {
            double lc = 0, lo = 0;
            float lorig = 0;
            int r1, r2;
            VC_CHECK(vla_trainer_loss(x.t, &g_tb[i].b, &lt) == VLA_OK);
            r1 = ctx_loss(c.c, m, a_tr, &g_tb[i].b, &lc);
            r2 = ctx_loss(c.c, m, a_or, &g_tb[i].b, &lo);
            VC_CHECKF(r1 == 0 && r2 == 0, "%s: context requests (%d, %d)", ad_methods[k], r1, r2);
            VC_CHECKF(rel(lc, lt) < LOSS_RTOL, "%s batch %d (task %s, loss %d): context %.9g vs trainer %.9g (rel %.2e)",
                      ad_methods[k], i, g_tb[i].b.task, (int)g_tb[i].b.loss, lc, (double)lt, rel(lc, lt));
            if (rel(lc, lt) > worst) worst = rel(lc, lt);
            if (i < 2) {
                lorig = l0[i];
                VC_CHECKF(rel(lo, lorig) < LOSS_RTOL, "%s batch %d: original set in the same context %.9g vs the untrained trainer %.9g",
                          ad_methods[k], i, lo, (double)lorig);
                if (fabs(lc - lo) > diff_orig) diff_orig = fabs(lc - lo);
            }
        }
        VC_CHECKF(diff_orig > 1e-4, "%s: the trained file differs from the original (loss change %.3g)", ad_methods[k], diff_orig);
        printf("  %-12s trained file %7zu bytes; context vs trainer loss: worst rel %.2e; loss change vs original %.4f\n",
               ad_methods[k], f.n, worst, diff_orig);
        if (c.c) vla_ctx_set_adapter(c.c, NULL, NULL);
        free(c.mem);
        if (a_tr) vla_adapter_detach(a_tr);
        if (a_or) vla_adapter_detach(a_or);
        free(sm_tr); free(sm_or);
        blob_free(&f); blob_free(&f2);
        trn_free(&x);
    }
    /* without an adapter file: a whole model file */
    for (k = 0; k < 2; k++) {
        const char *meth = k ? "full" : "none";
        vla_train_params p = tparams(meth, 0);
        trn x;
        blob f = {NULL, 0, 0};
        model mt;
        ctxh c = {NULL, NULL};
        double worst = 0;
        int ok;
        if (trn_new(&x, m, NULL, &p, 0) != VLA_OK) { VC_CHECKF(0, "%s: trainer", meth); trn_free(&x); continue; }
        for (i = 0; i < 3; i++) VC_CHECK(vla_trainer_step(x.t, &g_tb[i].b, NULL, NULL) == VLA_OK);
        ok = vla_trainer_save(x.t, grow_cb, &f) == VLA_OK;
        VC_CHECKF(ok && model_load(&mt, f) == 0, "%s: vla_model_init loads the saved model file", meth);
        if (!ok || !mt.m) { trn_free(&x); if (!ok) blob_free(&f); else model_free(&mt); continue; }
        VC_CHECKF(vla_model_fingerprint(mt.m) != vla_model_fingerprint(m) && vla_model_fingerprint(mt.m) != 0,
                  "%s: the trained model's fingerprint %016llx must differ from the base's %016llx", meth,
                  (unsigned long long)vla_model_fingerprint(mt.m), (unsigned long long)vla_model_fingerprint(m));
        ok = ctx_make(&c, mt.m, NULL) == 0;
        VC_CHECKF(ok, "%s: context of the trained model", meth);
        for (i = 0; ok && i < N_TB; i++) {
            float lt = 0;
            double lc = 0;
            VC_CHECK(vla_trainer_loss(x.t, &g_tb[i].b, &lt) == VLA_OK);
            VC_CHECK(ctx_loss(c.c, mt.m, NULL, &g_tb[i].b, &lc) == 0);
            VC_CHECKF(rel(lc, lt) < LOSS_RTOL, "%s batch %d: context %.9g vs trainer %.9g (rel %.2e)", meth, i, lc, (double)lt, rel(lc, lt));
            if (rel(lc, lt) > worst) worst = rel(lc, lt);
        }
        /* an adapter made for the base is refused by the trained model */
        {
            size_t an;
            VC_CHECK(vla_adapter_mem_req(mt.m, ads[0].p, ads[0].n, &an) == VLA_ERR_MISMATCH);
        }
        if (k) test_rebind(m, mt.m, &ads[0]);
        printf("  %-12s trained model file %zu bytes, fingerprint %016llx (base %016llx); context vs trainer: worst rel %.2e\n",
               meth, f.n, (unsigned long long)vla_model_fingerprint(mt.m), (unsigned long long)vla_model_fingerprint(m), worst);
        free(c.mem);
        model_free(&mt);
        trn_free(&x);
    }
}

/* An adapter made for base b starts on t (b fine-tuned further, another
 * fingerprint) only with p.rebind: then every tensor the file holds starts
 * from the file, and the saved file binds to t, not to b. */
static void test_rebind(const vla_model *b, const vla_model *t, const blob *ad) {
    vla_train_params p = tparams(ad_methods[0], 0);
    trn x, y;
    blob f = {NULL, 0, 0};
    vla_gguf g;
    vla_arena a;
    void *gm = NULL;
    size_t an, need;
    int i, n, from_file = 0, ok;
    VC_CHECK(trn_new(&y, t, ad, &p, 0) == VLA_ERR_MISMATCH);
    trn_free(&y);
    p.rebind = 1;
    ok = trn_new(&x, b, ad, &p, 0) == VLA_OK;
    ok = ok && trn_new(&y, t, ad, &p, 0) == VLA_OK;
    VC_CHECKF(ok, "rebind: trainers on the adapter's base and on the fine-tuned one");
    vla_arena_init_measure(&a);
    ok = ok && vla_gguf_open(&g, ad->p, ad->n, &a) == VLA_OK;
    need = ok ? vla_arena_get_stats(&a).peak + 4096 : 0;
    gm = ok ? malloc(need) : NULL;
    if (gm) vla_arena_init(&a, gm, need);
    ok = ok && gm && vla_gguf_open(&g, ad->p, ad->n, &a) == VLA_OK;
    n = ok ? vla_trainer_n_tensors(y.t) : 0;
    VC_CHECK(!ok || n == vla_trainer_n_tensors(x.t));
    for (i = 0; ok && i < n; i++) {
        vla_train_tensor tx, ty;
        vla_tensor in_file;
        VC_CHECK(vla_trainer_tensor(x.t, i, &tx) == VLA_OK && vla_trainer_tensor(y.t, i, &ty) == VLA_OK);
        if (vla_gguf_get_tensor(&g, ty.name, &in_file) != VLA_OK) continue;
        from_file++;
        VC_CHECKF(tx.n == ty.n && !memcmp(tx.value, ty.value, tx.n * sizeof(float)), "rebind: %s starts from the adapter file", ty.name);
    }
    VC_CHECKF(!ok || from_file > 0, "rebind: the trainer holds %d of the adapter file's tensors", from_file);
    ok = ok && vla_trainer_step(y.t, &g_tb[0].b, NULL, NULL) == VLA_OK && vla_trainer_save(y.t, grow_cb, &f) == VLA_OK;
    VC_CHECKF(ok, "rebind: a step and the save");
    if (ok) {
        VC_CHECKF(vla_adapter_mem_req(t, f.p, f.n, &an) == VLA_OK, "rebind: the saved adapter binds to the fine-tuned base");
        VC_CHECKF(vla_adapter_mem_req(b, f.p, f.n, &an) == VLA_ERR_MISMATCH, "rebind: the saved adapter no longer binds to the old base");
    }
    printf("  rebind       %d tensors from the adapter file; the saved file binds to the trained model only\n", from_file);
    free(gm);
    blob_free(&f);
    trn_free(&x);
    trn_free(&y);
}

/* ==========================================================================
 * 3. resume
 * ========================================================================== */

static void test_resume_exact(const vla_model *m, blob *ads) {
    static const int which[2] = {0, 3}; /* adapter, lora */
    int w, k, s;
    const int N = 7;
    vc_section("resume: k steps + save_state + new trainer + load_state + N-k steps == N steps");
    for (w = 0; w < 2; w++) {
        const char *meth = ad_methods[which[w]];
        vla_train_params p = tparams(meth, 0);
        trn a;
        int ok;
        p.dropout = 0.1f;
        p.total_steps = 10; p.warmup_steps = 2;
        if (trn_new(&a, m, &ads[which[w]], &p, 0) != VLA_OK) { VC_CHECKF(0, "%s: trainer", meth); trn_free(&a); continue; }
        vla_trainer_cursor(a.t)[1] = 0x0123456789abcdefull;
        for (s = 0; s < N; s++) VC_CHECK(cursor_step(a.t, NULL) == VLA_OK);
        for (k = 1; k < N; k += 2) {
            trn b, c;
            blob st = {NULL, 0, 0};
            char why[256];
            uint64_t cur[4];
            if (trn_new(&b, m, &ads[which[w]], &p, 0) != VLA_OK) { VC_CHECK(0); trn_free(&b); continue; }
            vla_trainer_cursor(b.t)[1] = 0x0123456789abcdefull;
            for (s = 0; s < k; s++) cursor_step(b.t, NULL);
            memcpy(cur, vla_trainer_cursor(b.t), sizeof cur);
            ok = vla_trainer_save_state(b.t, grow_cb, &st) == VLA_OK;
            trn_free(&b); /* the state is all that is left of the first run */
            ok = ok && trn_new(&c, m, &ads[which[w]], &p, 0xA5) == VLA_OK;
            ok = ok && vla_trainer_load_state(c.t, st.p, st.n) == VLA_OK;
            VC_CHECKF(ok, "%s k=%d: save_state / new trainer / load_state", meth, k);
            if (ok) {
                VC_CHECKF(!memcmp(cur, vla_trainer_cursor(c.t), sizeof cur) && vla_trainer_steps_done(c.t) == k,
                          "%s k=%d: the cursor and step survive (%llu %llu %llu %llu, step %ld)", meth, k,
                          (unsigned long long)vla_trainer_cursor(c.t)[0], (unsigned long long)vla_trainer_cursor(c.t)[1],
                          (unsigned long long)vla_trainer_cursor(c.t)[2], (unsigned long long)vla_trainer_cursor(c.t)[3],
                          vla_trainer_steps_done(c.t));
                for (s = k; s < N; s++) VC_CHECK(cursor_step(c.t, NULL) == VLA_OK);
                VC_CHECKF(trainers_equal(a.t, c.t, 1, why, sizeof why), "%s: %d steps vs %d + resume + %d: %s", meth, N, k, N - k, why);
            }
            blob_free(&st);
            trn_free(&c);
        }
        trn_free(&a);
    }
}

/* Where a byte of a state file lies (save_state's layout: GGUF v3 header,
 * 7 keys, 3 tensor infos per trainable tensor, padding to 32, data). */
enum { C_HDR, C_VER, C_KEY, C_KEY_CURSOR, C_TYPE_STR, C_STEP, C_SEED, C_CURSOR, C_NSTEP_HDR, C_NSTEP_VAL, C_TNAME, C_TSHAPE, C_TOFF, C_PAD,
       C_DATA, C_N };
static const char *cat_name[C_N] = {"header (magic, counts)", "version (v2 has v3's layout)", "key names and types", "cursor key name/type",
                                    "general.type value", "step value", "seed value", "cursor array", "nstep array type/count",
                                    "nstep values", "tensor names", "tensor dims/type", "tensor offsets", "padding", "tensor data"};
/* 1: the format can tell, a flip there must be an error */
static const int cat_must_fail[C_N] = {1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1}; /* the checksum covers every restored value */

static uint64_t rd64(const unsigned char *p) {
    uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Fills cat[n]; returns the end of the last tensor's data (bytes a
 * truncated file must keep), 0 if the layout is not the expected one. */
static size_t classify(const unsigned char *f, size_t n, unsigned char *cat, size_t *data_start) {
    size_t pos = 24, ds, end = 0, i;
    uint64_t nt, nkv, k;
    memset(cat, C_HDR, n);
    if (n < 24) return 0;
    memset(cat + 4, C_VER, 4);
    nt = rd64(f + 8); nkv = rd64(f + 16);
    for (k = 0; k < nkv; k++) {
        uint64_t kl = rd64(f + pos);
        const char *key = (const char *)f + pos + 8;
        uint32_t type = (uint32_t)f[pos + 8 + kl] | (uint32_t)f[pos + 9 + kl] << 8;
        size_t v = pos + 12 + (size_t)kl, ve;
        int is_cur = kl == 22 && !memcmp(key, "vladapter.train.cursor", 22), is_ns = kl == 21 && !memcmp(key, "vladapter.train.nstep", 21);
        int is_step = kl == 20 && !memcmp(key, "vladapter.train.step", 20);
        memset(cat + pos, is_cur ? C_KEY_CURSOR : C_KEY, v - pos);
        if (type == 8) { ve = v + 8 + (size_t)rd64(f + v); memset(cat + v, C_TYPE_STR, ve - v); }
        else if (type == 10) { ve = v + 8; memset(cat + v, is_step ? C_STEP : C_SEED, 8); }
        else if (type == 9) {
            uint64_t cnt = rd64(f + v + 4);
            ve = v + 12 + 8 * (size_t)cnt;
            if (is_cur) memset(cat + v, C_CURSOR, ve - v);
            else if (is_ns) { memset(cat + v, C_NSTEP_HDR, 12); memset(cat + v + 12, C_NSTEP_VAL, ve - v - 12); }
            else return 0;
        } else return 0;
        pos = ve;
    }
    for (k = 0; k < nt; k++) {
        uint64_t nl = rd64(f + pos), nd, off, nel = 1;
        size_t p2;
        memset(cat + pos, C_TNAME, 8 + (size_t)nl);
        p2 = pos + 8 + (size_t)nl;
        nd = (uint64_t)f[p2];
        for (i = 0; i < nd; i++) nel *= rd64(f + p2 + 4 + 8 * i);
        memset(cat + p2, C_TSHAPE, 4 + 8 * (size_t)nd + 4);
        p2 += 4 + 8 * (size_t)nd + 4;
        memset(cat + p2, C_TOFF, 8);
        off = rd64(f + p2);
        if (off + 4 * nel > end) end = (size_t)(off + 4 * nel);
        pos = p2 + 8;
    }
    ds = (pos + 31) / 32 * 32;
    if (ds > n) return 0;
    *data_start = ds;
    memset(cat + pos, C_PAD, ds - pos);
    memset(cat + ds, C_DATA, n - ds);
    return ds + end;
}

static void test_resume_damage(const vla_model *m, blob *ads) {
    vla_train_params p = tparams("adapter", 0);
    trn src, dst;
    blob good = {NULL, 0, 0}, back = {NULL, 0, 0};
    unsigned char *cat, *buf;
    size_t data_end, data_start = 0, kv_end = 0, len;
    snap before, want;
    int s, n_trunc = 0, trunc_bad = 0, trunc_ok_pad = 0, unchanged_bad = 0;
    long tried[C_N], rejected[C_N];
    uint64_t rs = 42;
    double t0 = now_s();
    vc_section("resume: damaged and foreign states");
    p.dropout = 0.1f;
    if (trn_new(&src, m, &ads[0], &p, 0) != VLA_OK || trn_new(&dst, m, &ads[0], &p, 0) != VLA_OK) { VC_CHECK(0); return; }
    for (s = 0; s < 3; s++) cursor_step(src.t, NULL);
    vla_trainer_cursor(src.t)[3] = 0xfeedfacecafebeefull;
    cursor_step(dst.t, NULL); /* a different state, so that any load would show */
    VC_CHECK(vla_trainer_save_state(src.t, grow_cb, &good) == VLA_OK);
    VC_CHECK(vla_trainer_save_state(dst.t, grow_cb, &back) == VLA_OK);
    before = snap_take(dst.t, 0);
    cat = (unsigned char *)malloc(good.n);
    buf = (unsigned char *)malloc(good.n);
    want = snap_take(src.t, 0);
    data_end = classify(good.p, good.n, cat, &data_start);
    VC_CHECKF(data_end > 0 && data_end <= good.n, "state layout as expected (%zu bytes, data end %zu)", good.n, data_end);
    if (!data_end) data_end = good.n;
    while (kv_end < good.n && cat[kv_end] != C_TNAME) kv_end++;
    /* truncations: every length through the keys and the first tensor infos,
     * every 13th through the rest of the infos, every length around the start
     * of the data, every 97th in the data, every length of the last 100 */
    for (len = 0; len < good.n;
         len += (len < kv_end + 512 || len + 100 > good.n || (len + 64 >= data_start && len < data_start + 64)) ? 1 : len < data_start ? 13 : 97) {
        vla_status st;
        unsigned char *cp = (unsigned char *)malloc(len ? len : 1); /* exact size: ASan sees any over-read */
        memcpy(cp, good.p, len);
        st = vla_trainer_load_state(dst.t, cp, len);
        free(cp);
        n_trunc++;
        if (st == VLA_OK) {
            if (len < data_end) trunc_bad++;
            else trunc_ok_pad++;
            if (!snap_matches(dst.t, &want, 0)) trunc_bad++;
            vla_trainer_load_state(dst.t, back.p, back.n);
        } else if (!snap_matches(dst.t, &before, 0))
            unchanged_bad++;
    }
    VC_CHECKF(trunc_bad == 0, "%d of %d truncations were accepted although shorter than the data, or loaded something else", trunc_bad, n_trunc);
    VC_CHECKF(unchanged_bad == 0, "%d failed loads changed the trainer", unchanged_bad);
    printf("  truncations: %d lengths tried, all shorter than the data refused; %d cut only the final padding and loaded\n",
           n_trunc, trunc_ok_pad);
    /* byte flips: every byte before the tensor infos (two patterns), then
     * random positions and values */
    memset(tried, 0, sizeof tried);
    memset(rejected, 0, sizeof rejected);
    unchanged_bad = 0;
    {
        long nflip = 0, total_flips;
        total_flips = 2 * (long)kv_end + 1500;
        for (nflip = 0; nflip < total_flips; nflip++) {
            size_t pos;
            unsigned char x;
            vla_status st;
            if (nflip < 2 * (long)kv_end) { pos = (size_t)(nflip / 2); x = (nflip & 1) ? 0x80 : 0x01; }
            else { pos = (size_t)(rnd(&rs) % good.n); x = (unsigned char)(1 + rnd(&rs) % 255); }
            memcpy(buf, good.p, good.n);
            buf[pos] ^= x;
            st = vla_trainer_load_state(dst.t, buf, good.n);
            tried[cat[pos]]++;
            if (st != VLA_OK) {
                rejected[cat[pos]]++;
                if (!snap_matches(dst.t, &before, 0)) unchanged_bad++;
            } else {
                if (cat_must_fail[cat[pos]] && g_verbose)
                    printf("    accepted flip ^%02x at %zu (%s)\n", x, pos, cat_name[cat[pos]]);
                if (cat[pos] == C_VER)
                    VC_CHECKF(buf[4] == 2 && !buf[5] && !buf[6] && !buf[7], "a version flip to %u was accepted",
                              (unsigned)(buf[4] | buf[5] << 8 | buf[6] << 16 | (unsigned)buf[7] << 24));
                VC_CHECK(vla_trainer_load_state(dst.t, back.p, back.n) == VLA_OK);
            }
        }
        {
            snap now = snap_take(dst.t, 0);
            VC_CHECKF(snap_eq(&now, &before), "restoring the trainer's own state after accepted damage");
            snap_free(&now);
        }
        printf("  byte flips: %ld (every byte before the tensor infos twice, 1500 random); rejected / tried by region:\n", total_flips);
        for (s = 0; s < C_N; s++) {
            if (!tried[s]) continue;
            printf("    %-32s %5ld / %5ld%s\n", cat_name[s], rejected[s], tried[s],
                   cat_must_fail[s] ? "" : rejected[s] == tried[s] ? "" : s == C_VER ? "   (accepted: the flip to version 2)"
                                                                       : "   (accepted: padding is not read)");
            if (cat_must_fail[s]) VC_CHECKF(rejected[s] == tried[s], "flips in %s: %ld of %ld accepted", cat_name[s], tried[s] - rejected[s], tried[s]);
        }
        VC_CHECKF(unchanged_bad == 0, "%d failed loads of flipped states changed the trainer", unchanged_bad);
    }
    free(cat);
    free(buf);
    /* foreign states */
    {
        struct { const char *what; int ad; int seed_delta; int hidden; int ln; int tasks; } f[6] = {
            {"another dropout seed", 0, 1, 8, 1, 2},       {"another method (lora)", 3, 0, 4, 1, 2},
            {"another adapter width", -1, 0, 16, 1, 2},    {"without LayerNorms training", 0, 0, 8, 0, 2},
            {"another task list (one task)", -1, 0, 8, 1, 1}, {"visual embedding only", -2, 0, 0, 1, 2}};
        for (s = 0; s < 6; s++) {
            vla_train_params q = tparams(f[s].ad == 3 ? "lora" : f[s].ad == -2 ? "none" : "adapter", 0);
            blob ad2 = {NULL, 0, 0}, st2 = {NULL, 0, 0};
            const blob *use = &ads[0];
            trn o;
            vla_status st;
            q.dropout = 0.1f;
            q.seed += (uint64_t)f[s].seed_delta;
            q.train_layer_norms = f[s].ln;
            if (f[s].ad == 3) use = &ads[3];
            if (f[s].ad == -1) { ad2 = make_adapter_fp("adapter", vla_model_fingerprint(m), 9, f[s].tasks, 0, f[s].hidden); use = &ad2; }
            if (f[s].ad == -2) use = NULL;
            if (trn_new(&o, m, use, &q, 0) != VLA_OK) { VC_CHECKF(0, "foreign trainer: %s", f[s].what); trn_free(&o); blob_free(&ad2); continue; }
            cursor_step(o.t, NULL);
            VC_CHECK(vla_trainer_save_state(o.t, grow_cb, &st2) == VLA_OK);
            st = vla_trainer_load_state(dst.t, st2.p, st2.n);
            {
                snap now = snap_take(dst.t, 0);
                VC_CHECKF(st == VLA_ERR_MISMATCH && snap_eq(&now, &before), "a state from %s: %s (want VLA_ERR_MISMATCH, trainer unchanged)",
                          f[s].what, vla_status_str(st));
                snap_free(&now);
            }
            blob_free(&st2); blob_free(&ad2); trn_free(&o);
        }
        /* accepted by design: a state carries every trained value, and its
         * identity is the model's fingerprint, the adapter file's keys and the
         * trainable set, not the adapter file's initial values */
        {
            blob ad2 = make_adapter_fp("adapter", vla_model_fingerprint(m), 4242, 2, 0, 8), st2 = {NULL, 0, 0};
            trn o;
            vla_status st = VLA_ERR_ARGS;
            if (trn_new(&o, m, &ad2, &p, 0) == VLA_OK && vla_trainer_save_state(o.t, grow_cb, &st2) == VLA_OK)
                st = vla_trainer_load_state(dst.t, st2.p, st2.n);
            printf("  a state of another adapter file with the same names and shapes: %s (by design: the same model, keys and trainable set)\n",
                   vla_status_str(st));
            VC_CHECK(vla_trainer_load_state(dst.t, back.p, back.n) == VLA_OK);
            blob_free(&st2); blob_free(&ad2); trn_free(&o);
        }
        VC_CHECK(vla_trainer_load_state(dst.t, good.p, 0) != VLA_OK);
        VC_CHECK(vla_trainer_load_state(NULL, good.p, good.n) == VLA_ERR_ARGS);
        VC_CHECK(vla_trainer_load_state(dst.t, NULL, good.n) == VLA_ERR_ARGS);
    }
    snap_free(&before); snap_free(&want);
    blob_free(&good); blob_free(&back);
    trn_free(&src); trn_free(&dst);
    printf("  damaged/foreign states: %.2f s\n", now_s() - t0);
}

/* ==========================================================================
 * 4. int8-frozen base (bart_single_adapter fixture)
 * ========================================================================== */

typedef struct fxb {
    vla_npy ids, feats, boxes, tgt, scores;
    int32_t *ids32, *lab32;
    float *sc;
    vla_train_batch b;
} fxb;

static int fxb_load(const char *dir, const char *pre, fxb *x) {
    char p[1200], err[256];
    size_t i;
    int ok;
    memset(x, 0, sizeof *x);
#define FXL(field, name) (snprintf(p, sizeof p, "%s/bart_inputs/%s%s.npy", dir, pre, name), vla_npy_load(p, &x->field, err, sizeof err) == 0)
    ok = FXL(ids, "input_ids") && FXL(tgt, "target_ids") && FXL(scores, "scores");
    if (ok && !*pre) ok = FXL(feats, "vis_feats") && FXL(boxes, "boxes");
#undef FXL
    if (!ok) { printf("  fixture input: %s\n", err); return -1; }
    x->ids32 = (int32_t *)malloc(4 * x->ids.count);
    x->lab32 = (int32_t *)malloc(4 * x->tgt.count);
    x->sc = (float *)malloc(4 * x->scores.count);
    for (i = 0; i < x->ids.count; i++) x->ids32[i] = (int32_t)vla_npy_i(&x->ids, i);
    for (i = 0; i < x->tgt.count; i++) x->lab32[i] = (int32_t)vla_npy_i(&x->tgt, i);
    for (i = 0; i < x->scores.count; i++) x->sc[i] = (float)vla_npy_f(&x->scores, i);
    x->b.task = "vqa"; x->b.loss = VLA_LOSS_VQA;
    x->b.in.batch = (int)x->ids.shape[0]; x->b.in.text_len = (int)x->ids.shape[1]; x->b.in.ids = x->ids32;
    x->b.target_len = (int)x->tgt.shape[1]; x->b.labels = x->lab32; x->b.scores = x->sc;
    return 0;
}

static void fxb_free(fxb *x) {
    vla_npy_free(&x->ids); vla_npy_free(&x->tgt); vla_npy_free(&x->scores);
    if (x->feats.file) vla_npy_free(&x->feats);
    if (x->boxes.file) vla_npy_free(&x->boxes);
    free(x->ids32); free(x->lab32); free(x->sc);
}

/* vla-convert --q8's rule: 2-D F32 matrices with rows a multiple of 32
 * (final_logits_bias excepted) become Q8_0. */
static void quantize_matrices(vla_conv *cv, int *n_q, int *n_kept) {
    int i;
    *n_q = *n_kept = 0;
    for (i = 0; i < cv->n; i++) {
        vla_conv_tensor *t = &cv->t[i];
        size_t nel;
        unsigned char *q;
        if (t->type != VLA_TYPE_F32 || t->n_dims != 2 || t->ne[1] < 2 || !strcmp(t->name, "final_logits_bias")) continue;
        if (t->ne[0] % VLA_Q8_0_BLOCK) { (*n_kept)++; if (g_verbose) printf("    stays F32: %s [%lld, %lld]\n", t->name, (long long)t->ne[1], (long long)t->ne[0]); continue; }
        nel = (size_t)t->ne[0] * (size_t)t->ne[1];
        q = (unsigned char *)malloc(nel / VLA_Q8_0_BLOCK * VLA_Q8_0_BYTES);
        if (!q) continue;
        vla_quantize_q8_0(q, (const float *)t->data, nel);
        free(t->data);
        t->data = q; t->type = VLA_TYPE_Q8_0; t->nbytes = nel / VLA_Q8_0_BLOCK * VLA_Q8_0_BYTES;
        (*n_q)++;
    }
}

#define Q8_GRAD_BOUND 1e-1     /* relative L2 error of any one tensor's gradient, Q8_0 base vs F32 base */
#define Q8_GRAD_BOUND_ALL 5e-2 /* ... of all gradients together */

static void test_q8_base(const char *fixtures) {
    char path[1200], err[512];
    vla_ckpt ck;
    vla_json *man = NULL;
    const vla_json *cfg;
    unsigned char *mtext = NULL;
    size_t mlen = 0;
    vla_conv cv32, cv8, acv;
    blob a32 = {NULL, 0, 0}, a8 = {NULL, 0, 0};
    model m32, m8;
    fxb b1, b2;
    int nq = 0, nk = 0, ok, i, s;
    double want_loss = NAN;
    vc_section("int8-frozen base: Q8_0 gradients and training");
    snprintf(path, sizeof path, "%s/bart_single_adapter/manifest.json", fixtures);
    mtext = vla_tool_read_file(path, &mlen, err, sizeof err);
    if (mtext) man = vla_json_parse((const char *)mtext, mlen, err, sizeof err);
    free(mtext);
    snprintf(path, sizeof path, "%s/bart_single_adapter/weights.safetensors", fixtures);
    ok = man && vla_ckpt_open(&ck, path, NULL, err, sizeof err) == 0;
    VC_CHECKF(ok, "fixture bart_single_adapter: %s", err);
    if (!ok) { vla_json_free(man); return; }
    cfg = ck.config ? ck.config : vla_json_get(man, "config");
    {
        const vla_json *tr = vla_json_get(man, "training"), *st = tr ? vla_json_get(tr, "steps") : NULL;
        if (st && st->n_kid > 0) want_loss = vla_json_num(&st->kid[0], "loss", NAN);
    }
    vla_conv_init(&cv32); vla_conv_init(&cv8); vla_conv_init(&acv);
    cv32.quiet = cv8.quiet = acv.quiet = 1;
    ok = vla_conv_bart(&cv32, ck.src, ck.n, cfg, NULL) == 0 && vla_conv_bart(&cv8, ck.src, ck.n, cfg, NULL) == 0 &&
         vla_conv_peft(&acv, ck.src, ck.n, cfg) > 0;
    VC_CHECKF(ok, "convert the fixture: %s %s", cv32.err, acv.err);
    if (ok) {
        quantize_matrices(&cv8, &nq, &nk);
        cv32.fingerprint = vla_conv_fingerprint(&cv32);
        cv8.fingerprint = vla_conv_fingerprint(&cv8);
        acv.base_fingerprint = cv32.fingerprint; a32 = conv_to_blob(&acv);
        acv.base_fingerprint = cv8.fingerprint; a8 = conv_to_blob(&acv);
        ok = model_load(&m32, conv_to_blob(&cv32)) == 0 && model_load(&m8, conv_to_blob(&cv8)) == 0 && a32.p && a8.p;
        VC_CHECK(ok);
        printf("  Q8_0 base: %d matrices quantised, %d kept F32 (rows not a multiple of 32); %zu vs %zu bytes\n", nq, nk, m8.file.n,
               m32.file.n);
    }
    vla_conv_free(&cv32); vla_conv_free(&cv8); vla_conv_free(&acv);
    vla_ckpt_close(&ck);
    vla_json_free(man);
    if (!ok) return;
    ok = fxb_load(fixtures, "", &b1) == 0;
    VC_CHECK(ok);
    if (ok) {
        vla_train_params p = vla_train_defaults(NULL);
        trn t32, t8, tbad;
        float l32 = 0, l8 = 0, e32 = 0, e8 = 0;
        double worst = 0, num = 0, den = 0;
        int grid = (int)b1.feats.shape[1], worst_i = -1;
        b1.b.in.n_images = 1;
        b1.b.in.grid_h = b1.b.in.grid_w = grid == 49 ? 7 : 6;
        b1.b.in.feats = (const float *)b1.feats.data;
        b1.b.in.boxes = (const float *)b1.boxes.data;
        p.max_batch = b1.b.in.batch; p.max_text_len = b1.b.in.text_len; p.max_images = 1; p.max_grid = grid;
        p.max_target_len = b1.b.target_len;
        p.lr = 1e-3; p.weight_decay = 0.01f; p.eps = 1e-6f; p.clip_norm = 5.0f; p.dropout = 0.0f;
        p.total_steps = 10; p.warmup_steps = 0; p.train_layer_norms = 1;
        p.exec.n_threads = 1;
        /* the adapter stays bound to its own base */
        VC_CHECK(trn_new(&tbad, m8.m, &a32, &p, 0) == VLA_ERR_MISMATCH && tbad.t == NULL);
        trn_free(&tbad);
        VC_CHECK(trn_new(&tbad, m32.m, &a8, &p, 0) == VLA_ERR_MISMATCH);
        trn_free(&tbad);
        ok = trn_new(&t32, m32.m, &a32, &p, 0) == VLA_OK && trn_new(&t8, m8.m, &a8, &p, 0) == VLA_OK;
        VC_CHECK(ok);
        ok = ok && vla_trainer_backward(t32.t, &b1.b, &l32) == VLA_OK && vla_trainer_backward(t8.t, &b1.b, &l8) == VLA_OK;
        VC_CHECK(ok);
        if (ok) {
            VC_CHECKF(fabs(l32 - want_loss) <= 1e-5 + 1e-5 * fabs(want_loss), "F32 base reproduces the fixture's step-1 loss: %.9g vs %.9g",
                      (double)l32, want_loss);
            VC_CHECKF(rel(l8, l32) < 1e-2, "step-1 loss Q8_0 %.7g vs F32 %.7g", (double)l8, (double)l32);
            printf("  step-1 loss: F32 %.7f (fixture %.7f), Q8_0 %.7f (rel %.2e)\n", (double)l32, want_loss, (double)l8, rel(l8, l32));
            printf("  gradient relative L2 error, Q8_0 base vs F32 base, per tensor (%d tensors):\n", vla_trainer_n_tensors(t32.t));
            VC_CHECK(vla_trainer_n_tensors(t32.t) == vla_trainer_n_tensors(t8.t));
            for (i = 0; i < vla_trainer_n_tensors(t32.t) && i < vla_trainer_n_tensors(t8.t); i++) {
                vla_train_tensor x, y;
                double dn = 0, nn = 0, e;
                size_t j;
                vla_trainer_tensor(t32.t, i, &x);
                vla_trainer_tensor(t8.t, i, &y);
                VC_CHECK(!strcmp(x.name, y.name) && x.n == y.n && x.has_grad == y.has_grad);
                for (j = 0; j < x.n; j++) {
                    double dd = (double)y.grad[j] - (double)x.grad[j];
                    dn += dd * dd; nn += (double)x.grad[j] * x.grad[j];
                }
                num += dn; den += nn;
                e = nn > 0 ? sqrt(dn / nn) : (dn > 0 ? INFINITY : 0);
                printf("    %.3e  |g| %.3e  %s\n", e, sqrt(nn), x.name);
                VC_CHECKF(e < Q8_GRAD_BOUND, "%s: Q8_0 gradient relative L2 error %.3e >= %.0e", x.name, e, Q8_GRAD_BOUND);
                if (e > worst) { worst = e; worst_i = i; }
            }
            {
                vla_train_tensor x;
                vla_trainer_tensor(t32.t, worst_i < 0 ? 0 : worst_i, &x);
                printf("  all gradients together: relative L2 error %.3e (bound %.0e); worst tensor %.3e (%s; bound %.0e per tensor)\n",
                       sqrt(num / den), Q8_GRAD_BOUND_ALL, worst, x.name, Q8_GRAD_BOUND);
                VC_CHECKF(sqrt(num / den) < Q8_GRAD_BOUND_ALL, "Q8_0 gradients together: relative L2 error %.3e", sqrt(num / den));
            }
        }
        /* ~20 steps on both bases (the same data: the step-1 and step-2
         * batches alternately when both exist, else the step-1 batch) */
        if (ok) {
            int have2 = fxb_load(fixtures, "step2_", &b2) == 0;
            vla_train_params q = p;
            trn s32, s8;
            float c32[21], c8[21];
            q.total_steps = 20;
            if (have2) { /* step 2 of the fixture uses the step-1 visual input (a VQA batch of other questions) */
                b2.b.in.n_images = 1; b2.b.in.grid_h = b2.b.in.grid_w = b1.b.in.grid_h;
                b2.b.in.feats = b1.b.in.feats; b2.b.in.boxes = b1.b.in.boxes;
                if (b2.b.in.batch != b1.b.in.batch || b2.b.in.text_len > q.max_text_len || b2.b.target_len > q.max_target_len) {
                    fxb_free(&b2);
                    have2 = 0;
                }
            }
            ok = trn_new(&s32, m32.m, &a32, &q, 0) == VLA_OK && trn_new(&s8, m8.m, &a8, &q, 0) == VLA_OK;
            VC_CHECK(ok);
            vla_trainer_loss(s32.t, &b1.b, &e32);
            vla_trainer_loss(s8.t, &b1.b, &e8);
            for (s = 0; ok && s < 20; s++) {
                const vla_train_batch *bb = have2 && (s & 1) ? &b2.b : &b1.b;
                ok = vla_trainer_step(s32.t, bb, &c32[s], NULL) == VLA_OK && vla_trainer_step(s8.t, bb, &c8[s], NULL) == VLA_OK;
            }
            VC_CHECK(ok);
            if (ok) {
                float f32 = 0, f8 = 0;
                vla_trainer_loss(s32.t, &b1.b, &f32);
                vla_trainer_loss(s8.t, &b1.b, &f8);
                printf("  20 steps (lr 1e-3 linear to 0, %s): training loss per step\n", have2 ? "fixture batches 1 and 2 alternately" : "fixture batch 1");
                printf("    step  Q8_0 base  F32 base\n");
                for (s = 0; s < 20; s++) printf("    %4d  %9.5f  %9.5f\n", s + 1, (double)c8[s], (double)c32[s]);
                printf("    batch-1 loss (eval) before -> after: Q8_0 %.5f -> %.5f, F32 %.5f -> %.5f\n", (double)e8, (double)f8,
                       (double)e32, (double)f32);
                VC_CHECKF(f8 < 0.9f * e8, "Q8_0 base: the batch-1 loss must fall by 10%% or more (%.5f -> %.5f)", (double)e8, (double)f8);
                VC_CHECKF(c8[18] < c8[0] && (!have2 || c8[19] < c8[1]), "Q8_0 base: the training loss falls (%.4f -> %.4f)", (double)c8[0],
                          (double)c8[18]);
                VC_CHECKF(rel(f8, f32) < 0.1, "Q8_0 and F32 bases end close: %.5f vs %.5f", (double)f8, (double)f32);
            }
            trn_free(&s32); trn_free(&s8);
            if (have2) fxb_free(&b2);
        }
        trn_free(&t32); trn_free(&t8);
        fxb_free(&b1);
    }
    blob_free(&a32); blob_free(&a8);
    model_free(&m32); model_free(&m8);
}

/* ==========================================================================
 * 5. bad input
 * ========================================================================== */

static void test_bad_input(const model *base, blob *ads) {
    const vla_model *m = base->m;
    vla_train_params p = tparams("adapter", 0);
    trn t, ref;
    snap s0;
    int i, n_bad = 0;
    char why[256];
    vc_section("bad input");
    if (trn_new(&t, m, &ads[0], &p, 0) != VLA_OK || trn_new(&ref, m, &ads[0], &p, 0) != VLA_OK) { VC_CHECK(0); return; }
    /* both trainers one step in; t then gets a good backward, every bad call,
     * and apply: it must end where ref ends with backward + apply */
    VC_CHECK(vla_trainer_step(t.t, &g_tb[0].b, NULL, NULL) == VLA_OK && vla_trainer_step(ref.t, &g_tb[0].b, NULL, NULL) == VLA_OK);
    VC_CHECK(vla_trainer_backward(t.t, &g_tb[1].b, NULL) == VLA_OK && vla_trainer_backward(ref.t, &g_tb[1].b, NULL) == VLA_OK);
    s0 = snap_take(t.t, 1);
    {
        struct { const char *what; vla_status want; } cases[] = {
            {"batch above max_batch", VLA_ERR_ARGS}, {"batch 0", VLA_ERR_ARGS}, {"text_len above max", VLA_ERR_ARGS},
            {"text_len < 0", VLA_ERR_ARGS}, {"target_len above max", VLA_ERR_ARGS}, {"target_len 0", VLA_ERR_ARGS},
            {"two images, max 1", VLA_ERR_ARGS}, {"8x8 grid above max_grid 49", VLA_ERR_ARGS}, {"5x5 grid below the 6x6 pool", VLA_ERR_ARGS},
            {"feats NULL", VLA_ERR_ARGS}, {"ids NULL", VLA_ERR_ARGS}, {"n_embeds", VLA_ERR_ARGS}, {"images instead of feats", VLA_ERR_ARGS},
            {"labels NULL", VLA_ERR_ARGS}, {"VQA without scores", VLA_ERR_ARGS}, {"loss kind 3", VLA_ERR_ARGS}, {"loss kind -1", VLA_ERR_ARGS},
            {"no text and no image", VLA_ERR_ARGS}, {"unknown task 'ocr'", VLA_ERR_NOT_FOUND}, {"task 'vq' (a prefix)", VLA_ERR_NOT_FOUND},
            {"task 'vqaa'", VLA_ERR_NOT_FOUND}, {"task ''", VLA_ERR_NOT_FOUND}, {"id = vocab", VLA_ERR_RANGE}, {"id -1", VLA_ERR_RANGE},
            {"label = vocab", VLA_ERR_RANGE}, {"label -2", VLA_ERR_RANGE}, {"label -101", VLA_ERR_RANGE}, {"label INT32_MIN", VLA_ERR_RANGE}};
        int nc = (int)(sizeof cases / sizeof cases[0]), fn;
        static float img[1];
        for (i = 0; i < nc; i++)
            for (fn = 0; fn < 2; fn++) {
                tbatch *x = (tbatch *)malloc(sizeof *x);
                vla_train_batch *b;
                vla_status st;
                float loss = 12345.0f;
                memcpy(x, &g_tb[2], sizeof *x);
                b = &x->b;
                b->in.ids = x->ids; b->in.feats = x->feats; b->in.boxes = x->boxes; b->labels = x->labels; b->scores = x->scores;
                b->loss = VLA_LOSS_VQA;
                switch (i) {
                case 0: b->in.batch = MB + 1; break;
                case 1: b->in.batch = 0; break;
                case 2: b->in.text_len = LT + 1; break;
                case 3: b->in.text_len = -1; break;
                case 4: b->target_len = TT + 1; break;
                case 5: b->target_len = 0; break;
                case 6: b->in.n_images = 2; break;
                case 7: b->in.grid_h = b->in.grid_w = 8; break;
                case 8: b->in.grid_h = b->in.grid_w = 5; break;
                case 9: b->in.feats = NULL; break;
                case 10: b->in.ids = NULL; break;
                case 11: b->in.n_embeds = 1; b->in.embeds = x->feats; break;
                case 12: b->in.images = img; break;
                case 13: b->labels = NULL; break;
                case 14: b->scores = NULL; break;
                case 15: b->loss = (vla_loss_kind)3; break;
                case 16: b->loss = (vla_loss_kind)-1; break;
                case 17: b->in.text_len = 0; b->in.n_images = 0; break;
                case 18: b->task = "ocr"; break;
                case 19: b->task = "vq"; break;
                case 20: b->task = "vqaa"; break;
                case 21: b->task = ""; break;
                case 22: x->ids[3] = V; break;
                case 23: x->ids[0] = -1; break;
                case 24: x->labels[2] = V; break;
                case 25: x->labels[0] = -2; break;
                case 26: x->labels[MB * TT - 1] = -101; break;
                default: x->labels[1] = INT32_MIN; break;
                }
                st = fn ? vla_trainer_loss(t.t, b, &loss) : vla_trainer_backward(t.t, b, &loss);
                if (!VC_CHECKF(st == cases[i].want, "%s via %s: %s (want %s)", cases[i].what, fn ? "vla_trainer_loss" : "vla_trainer_backward",
                               vla_status_str(st), vla_status_str(cases[i].want)))
                    n_bad++;
                {
                    snap now = snap_take(t.t, 1);
                    if (!VC_CHECKF(snap_eq(&now, &s0), "%s via %s: the failed call changed values, grads or moments", cases[i].what,
                                   fn ? "vla_trainer_loss" : "vla_trainer_backward")) {
                        n_bad++;
                        /* the same backward again restores the gradients (same step, same dropout) */
                        vla_trainer_backward(t.t, &g_tb[1].b, NULL);
                    }
                    snap_free(&now);
                }
                free(x);
            }
        printf("  %d bad batches x {backward, loss}: %s\n", nc, n_bad ? "FAILURES above" : "every one refused with its code, no trace");
    }
    {   /* a successful vla_trainer_loss (validation) between backward and apply */
        snap now;
        float l = 0;
        VC_CHECK(vla_trainer_loss(t.t, &g_tb[3].b, &l) == VLA_OK);
        now = snap_take(t.t, 1);
        if (!VC_CHECKF(snap_eq(&now, &s0), "vla_trainer_loss between vla_trainer_backward and vla_trainer_apply changed the gradients"))
            vla_trainer_backward(t.t, &g_tb[1].b, NULL);
        snap_free(&now);
    }
    VC_CHECK(vla_trainer_apply(t.t, NULL, NULL) == VLA_OK && vla_trainer_apply(ref.t, NULL, NULL) == VLA_OK);
    VC_CHECKF(trainers_equal(t.t, ref.t, 1, why, sizeof why), "after the bad calls, apply ends where the untouched trainer ends: %s", why);
    VC_CHECK(vla_trainer_backward(NULL, &g_tb[0].b, NULL) == VLA_ERR_ARGS && vla_trainer_backward(t.t, NULL, NULL) == VLA_ERR_ARGS);
    VC_CHECK(vla_trainer_loss(NULL, &g_tb[0].b, NULL) == VLA_ERR_ARGS && vla_trainer_apply(NULL, NULL, NULL) == VLA_ERR_ARGS);
    VC_CHECK(vla_trainer_save(NULL, grow_cb, NULL) == VLA_ERR_ARGS && vla_trainer_save(t.t, NULL, NULL) == VLA_ERR_ARGS);
    VC_CHECK(vla_trainer_save_state(t.t, NULL, NULL) == VLA_ERR_ARGS);
    snap_free(&s0);
    trn_free(&t); trn_free(&ref);
    /* files and parameters at init */
    {
        model other;
        blob foreign, nofp, pre = {NULL, 0, 0}, q8 = {NULL, 0, 0};
        trn x;
        size_t need;
        vla_status st;
        VC_CHECK(model_load(&other, make_base(2)) == 0);
        /* bound to another base */
        foreign = make_adapter_fp("adapter", vla_model_fingerprint(other.m), 5, 2, 0, 8);
        VC_CHECK(vla_trainer_mem_req(m, foreign.p, foreign.n, &p, &need) == VLA_ERR_MISMATCH);
        st = trn_new(&x, m, &foreign, &p, 0);
        VC_CHECKF(st == VLA_ERR_MISMATCH && x.t == NULL, "adapter for another base: %s", vla_status_str(st));
        trn_free(&x);
        {   /* the init refuses it even when given plenty of memory */
            void *mem = malloc(1 << 22);
            vla_trainer *tt = (vla_trainer *)(uintptr_t)1;
            st = vla_trainer_init(&tt, m, foreign.p, foreign.n, &p, mem, 1 << 22);
            VC_CHECKF(st == VLA_ERR_MISMATCH && tt == NULL, "init with an adapter for another base: %s", vla_status_str(st));
            free(mem);
        }
        /* no fingerprint at all, on a base that has one */
        nofp = make_adapter_fp("adapter", 0, 5, 2, 0, 8);
        VC_CHECK(vla_trainer_mem_req(m, nofp.p, nofp.n, &p, &need) == VLA_ERR_MISMATCH);
        /* a precomputed prompt file (vla-convert --precompute): P.<task>.prompt */
        {
            void *sm = NULL;
            size_t sn;
            vla_adapter *a = NULL;
            vla_conv pc;
            vla_train_params pp = tparams("prompt", 0);
            int ok = vla_adapter_mem_req(m, ads[4].p, ads[4].n, &sn) == VLA_OK && (sm = malloc(sn)) != NULL &&
                     vla_adapter_attach(&a, m, sm, sn, ads[4].p, ads[4].n, NULL) == VLA_OK;
            vla_conv_init(&pc);
            pc.quiet = 1;
            ok = ok && vla_conv_from_slot(&pc, a, m) == 0 && vla_conv_find(&pc, "P.*.prompt") != NULL;
            if (ok) pre = conv_to_blob(&pc);
            VC_CHECKF(ok && pre.p, "precomputed prompt file (P.*.prompt)");
            vla_conv_free(&pc);
            if (pre.p) {
                st = vla_trainer_mem_req(m, pre.p, pre.n, &pp, &need);
                VC_CHECKF(st == VLA_ERR_UNSUPPORTED, "mem_req with a precomputed prompt file: %s", vla_status_str(st));
                st = trn_new(&x, m, &pre, &pp, 0);
                VC_CHECKF(st == VLA_ERR_UNSUPPORTED && x.t == NULL, "init with a precomputed prompt file: %s", vla_status_str(st));
                trn_free(&x);
            }
            if (a) vla_adapter_detach(a);
            free(sm);
        }
        /* Q8_0 module tensors */
        {
            vla_rand_adapter r;
            vla_conv cv;
            int n_q = 0, n_k = 0;
            memset(&r, 0, sizeof r);
            r.method = "adapter"; r.d_model = D; r.enc_layers = NLAY; r.dec_layers = NLAY; r.n_tasks = 1; r.shared = 1; r.hidden = 32;
            r.base_fingerprint = vla_model_fingerprint(m); r.seed = 3;
            vla_conv_init(&cv);
            cv.quiet = 1;
            if (vla_random_adapter(&cv, &r) == 0) { quantize_matrices(&cv, &n_q, &n_k); q8 = conv_to_blob(&cv); }
            vla_conv_free(&cv);
            VC_CHECK(n_q > 0 && q8.p);
            st = q8.p ? vla_trainer_mem_req(m, q8.p, q8.n, &p, &need) : VLA_ERR_ARGS;
            VC_CHECKF(st == VLA_ERR_UNSUPPORTED, "adapter file with Q8_0 modules: %s", vla_status_str(st));
        }
        /* not an adapter file; truncated adapter files */
        VC_CHECK(vla_trainer_mem_req(m, base->file.p, base->file.n, &p, &need) == VLA_ERR_FORMAT);
        for (i = 0; i < 40; i++) {
            size_t len = (size_t)((double)ads[0].n * i / 40.0);
            unsigned char *cp = (unsigned char *)malloc(len ? len : 1);
            memcpy(cp, ads[0].p, len);
            st = vla_trainer_mem_req(m, cp, len, &p, &need);
            if (!VC_CHECKF(st != VLA_OK, "adapter file truncated to %zu of %zu bytes: accepted", len, ads[0].n)) break;
            st = trn_new(&x, m, &(blob){cp, len, len}, &p, 0);
            VC_CHECK(st != VLA_OK && x.t == NULL);
            trn_free(&x);
            free(cp);
        }
        /* parameters */
        {
            static const char *pw[6] = {"max_batch 0", "dropout 1", "warmup > total", "max_images 3", "total_steps 0", "max_target_len 0"};
            for (i = 0; i < 6; i++) {
                vla_train_params q = tparams("adapter", 0);
                if (i == 0) q.max_batch = 0;
                if (i == 1) q.dropout = 1.0f;
                if (i == 2) q.warmup_steps = q.total_steps + 1;
                if (i == 3) q.max_images = 3;
                if (i == 4) q.total_steps = 0;
                if (i == 5) q.max_target_len = 0;
                st = vla_trainer_mem_req(m, ads[0].p, ads[0].n, &q, &need);
                VC_CHECKF(st == VLA_ERR_ARGS, "parameters with %s: %s", pw[i], vla_status_str(st));
            }
            VC_CHECK(vla_trainer_mem_req(m, ads[0].p, ads[0].n, &p, NULL) == VLA_ERR_ARGS);
            VC_CHECK(vla_trainer_mem_req(NULL, ads[0].p, ads[0].n, &p, &need) == VLA_ERR_ARGS);
            {
                vla_trainer *tt;
                VC_CHECK(vla_trainer_init(&tt, m, ads[0].p, ads[0].n, &p, NULL, 100) == VLA_ERR_ARGS);
                VC_CHECK(vla_trainer_init(NULL, m, ads[0].p, ads[0].n, &p, &tt, 100) == VLA_ERR_ARGS);
            }
        }
        blob_free(&foreign); blob_free(&nofp); blob_free(&pre); blob_free(&q8);
        model_free(&other);
    }
}

int main(int argc, char **argv) {
    const char *fixtures = "tests/fixtures";
    model base;
    blob ads[N_AD];
    int i;
    double t0 = now_s(), t1;
    vc_init(argc, argv);
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v")) g_verbose++;
        else if (!strcmp(argv[i], "-vv")) g_verbose += 2;
        else if (argv[i][0] != '-') fixtures = argv[i];
    }
    printf("test_train_io: %s, fixtures %s\n", vla_simd_name(), fixtures);
    for (i = 0; i < N_TB; i++) tb_make(&g_tb[i], i);
    if (model_load(&base, make_base(1)) != 0) {
        vc_section("setup");
        VC_CHECK(!"random base model");
        return vc_summary();
    }
    for (i = 0; i < N_AD; i++) ads[i] = make_adapter(base.m, i, 100 + (uint64_t)i);

    t1 = now_s(); printf("1. memory\n");
    test_memory(base.m, ads);
    bartbase_numbers();
    printf("   (%.2f s)\n", now_s() - t1);
    t1 = now_s(); printf("2. hot-swapping the trained result\n");
    test_hotswap(&base, ads);
    printf("   (%.2f s)\n", now_s() - t1);
    t1 = now_s(); printf("3. resume\n");
    test_resume_exact(base.m, ads);
    test_resume_damage(base.m, ads);
    printf("   (%.2f s)\n", now_s() - t1);
    t1 = now_s(); printf("4. Q8_0-frozen base\n");
    test_q8_base(fixtures);
    printf("   (%.2f s)\n", now_s() - t1);
    t1 = now_s(); printf("5. bad input\n");
    test_bad_input(&base, ads);
    printf("   (%.2f s)\n", now_s() - t1);

    for (i = 0; i < N_AD; i++) blob_free(&ads[i]);
    model_free(&base);
    free(g_buf);
    vc_selftest();
    printf("total %.2f s\n", now_s() - t0);
    return vc_summary();
}
