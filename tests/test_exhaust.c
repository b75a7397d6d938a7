/* test_exhaust.c - memory exhaustion: every object with a size query, given
 * less than it asks for.
 *
 *   test_exhaust TINY_MODEL.gguf TINY_ADAPTER.gguf
 *
 * (the board test's flash model: CLIP + VL-BART + byte-level tokenizer and
 * its single-adapter file, tests/board/gen_tiny_model.c)
 *
 * The arena hands out VLA_ALIGN-aligned blocks from a VLA_ALIGN-aligned
 * start, so for a buffer that starts aligned every allocation boundary lies
 * on the VLA_ALIGN grid and a size between two grid points behaves as the
 * lower one.  Each object is therefore given, from an aligned buffer whose
 * tail past the size is poisoned for ASan (or a fresh malloc of exactly that
 * size without ASan):
 *   - every multiple of VLA_ALIGN below its peak, and every byte size in the
 *     last 2 * VLA_ALIGN below it: the call must return VLA_ERR_NOMEM, write
 *     nothing past the size (ASan) and leave its out pointer NULL;
 *   - exactly its peak (= size query - VLA_ALIGN, the slack for an unaligned
 *     start): it must work;
 *   - the size query at every misalignment 1 .. VLA_ALIGN - 1: it must work.
 * Objects: model (vla_model_init), adapter slot (vla_adapter_attach),
 * inference context (plain, and sized for the task-level calls; after init
 * at the exact size encode + generate and vla_answer run in it), tokenizer
 * scratch (vla_tokenize), image preprocessing scratch (vla_clip_preprocess),
 * trainer (vla_trainer_init, then a step at the exact size).
 */
#define _POSIX_C_SOURCE 200112L /* posix_memalign */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#define VLA_TOOL_IMPLEMENTATION
#include "../tools/vla_tool.h"
#include "board/vla_check.h"

#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EX_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define EX_ASAN 1
#endif
#ifdef EX_ASAN
#include <sanitizer/asan_interface.h>
#define EX_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define EX_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define EX_POISON(p, n) ((void)(p), (void)(n))
#define EX_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* One aligned buffer of `cap` bytes; give(s) exposes its first s bytes. */
typedef struct pool { unsigned char *p; size_t cap; } pool;

static void pool_init(pool *pl, size_t cap) {
    void *p = NULL;
    pl->cap = cap + 2 * VLA_ALIGN;
    if (posix_memalign(&p, VLA_ALIGN, pl->cap) != 0) p = NULL;
    pl->p = (unsigned char *)p;
}
static unsigned char *give(pool *pl, size_t off, size_t s) {
    EX_UNPOISON(pl->p, pl->cap);
    EX_POISON(pl->p, off);
    EX_POISON(pl->p + off + s, pl->cap - off - s);
    return pl->p + off;
}
static void pool_free(pool *pl) { EX_UNPOISON(pl->p, pl->cap); free(pl->p); }

/* The sizes below peak the sweep tries: every grid point and the last two
 * grid cells byte by byte.  Returns the count; sizes in *out (malloc'd). */
static size_t sweep_sizes(size_t peak, size_t **out) {
    size_t n = 0, s, cap = peak / VLA_ALIGN + 2 * VLA_ALIGN + 2;
    size_t *v = (size_t *)malloc(cap * sizeof *v);
    for (s = 0; s < peak; s += VLA_ALIGN) v[n++] = s;
    for (s = peak > 2 * VLA_ALIGN ? peak - 2 * VLA_ALIGN : 0; s < peak; s++)
        if (s % VLA_ALIGN) v[n++] = s;
    *out = v;
    return n;
}

/* A sweep: try(mem, size) must fail with NOMEM below peak (returning 1 if
 * it also left its object NULL), and succeed at peak and at need from every
 * misalignment. */
typedef int (*try_fn)(void *ctx, void *mem, size_t size, vla_status *st);

static void sweep(const char *what, size_t need, try_fn fn, void *ctx) {
    size_t peak = need - VLA_ALIGN, *sz, n, i, k;
    size_t bad_st = 0, bad_obj = 0;
    pool pl;
    vla_status st = VLA_OK;
    int clean;
    pool_init(&pl, need + VLA_ALIGN);
    n = sweep_sizes(peak, &sz);
    for (i = 0; i < n; i++) {
        clean = fn(ctx, give(&pl, 0, sz[i]), sz[i], &st);
        if (st != VLA_ERR_NOMEM) { if (!bad_st++) fprintf(stderr, "  %s: size %zu gave %s\n", what, sz[i], vla_status_str(st)); }
        else if (!clean) bad_obj++;
    }
    VC_CHECKF(!bad_st && !bad_obj, "%s: %zu sizes below the peak %zu: %zu not NOMEM, %zu left a half-made object", what, n, peak, bad_st,
              bad_obj);
    fn(ctx, give(&pl, 0, peak), peak, &st);
    VC_CHECKF(st == VLA_OK, "%s: exactly the peak (%zu bytes, aligned): %s", what, peak, vla_status_str(st));
    for (k = 1; k < VLA_ALIGN; k++) {
        fn(ctx, give(&pl, k, need), need, &st);
        if (st != VLA_OK) break;
    }
    VC_CHECKF(k == VLA_ALIGN, "%s: the size query at misalignment %zu: %s", what, k, vla_status_str(st));
    printf("  %-34s need %8zu bytes: %zu smaller sizes refused cleanly\n", what, need, n);
    free(sz);
    pool_free(&pl);
}

/* ---- the objects ---- */

static unsigned char *g_model, *g_adapter;
static size_t g_model_n, g_adapter_n;
static vla_model *g_m;
static vla_adapter *g_ad;

static int try_model(void *ctx, void *mem, size_t size, vla_status *st) {
    vla_model *m = (vla_model *)ctx;
    *st = vla_model_init(&m, mem, size, g_model, g_model_n, NULL);
    return m == NULL;
}

static int try_adapter(void *ctx, void *mem, size_t size, vla_status *st) {
    vla_adapter *a = (vla_adapter *)ctx;
    *st = vla_adapter_attach(&a, g_m, mem, size, g_adapter, g_adapter_n, NULL);
    if (*st == VLA_OK) vla_adapter_detach(a);
    return a == NULL;
}

typedef struct ctx_try { vla_ctx_params p; int run; } ctx_try;

static int try_ctx(void *ctx, void *mem, size_t size, vla_status *st) {
    ctx_try *t = (ctx_try *)ctx;
    vla_ctx *c = (vla_ctx *)ctx;
    *st = vla_ctx_init(&c, g_m, &t->p, mem, size);
    if (*st == VLA_OK && t->run) { /* the calls run inside the size */
        static unsigned char px[37 * 45 * 3];
        vla_image img;
        char text[64];
        size_t i;
        for (i = 0; i < sizeof px; i++) px[i] = (unsigned char)(i * 7);
        vla_image_view(&img, px, 45, 37, 3, 0);
        if (vla_ctx_set_adapter(c, g_ad, "vqa") != VLA_OK) *st = VLA_ERR_STATE;
        else {
            vla_gen_params g = vla_gen_defaults(g_m);
            g.num_beams = 1; g.max_length = t->p.max_dec_len;
            *st = vla_answer(c, &img, "what?", &g, text, sizeof text, NULL);
            if (*st == VLA_ERR_NOMEM) *st = VLA_ERR_STATE; /* a NOMEM here would be a size-query bug */
        }
    }
    return *st == VLA_OK || c == NULL;
}

typedef struct scratch_try { const char *text; const vla_image *img; int S; } scratch_try;

static int try_tokenize(void *ctx, void *mem, size_t size, vla_status *st) {
    scratch_try *t = (scratch_try *)ctx;
    vla_arena a;
    int32_t ids[512];
    int n = 0;
    vla_arena_init(&a, mem, size);
    *st = vla_tokenize(vla_model_tokenizer(g_m), &a, t->text, strlen(t->text), 1, 1, 0, ids, 512, &n);
    return 1;
}

static int try_preprocess(void *ctx, void *mem, size_t size, vla_status *st) {
    scratch_try *t = (scratch_try *)ctx;
    static float out[224 * 224 * 3];
    vla_arena a;
    vla_arena_init(&a, mem, size);
    *st = vla_clip_preprocess(&a, out, t->S, VLA_LAYOUT_HWC, t->img);
    return 1;
}

typedef struct train_try { vla_train_params p; unsigned char *adapter_f32; size_t n; int step; } train_try;

static int try_trainer(void *ctx, void *mem, size_t size, vla_status *st) {
    train_try *t = (train_try *)ctx;
    vla_trainer *tr = (vla_trainer *)ctx;
    *st = vla_trainer_init(&tr, g_m, NULL, 0, &t->p, mem, size);
    if (*st == VLA_OK && t->step) { /* one step inside the size */
        int32_t ids[4] = {0, 9, 28, 2}, tgt[3] = {0, 31, 2};
        static float feats[49 * 128];
        vla_train_batch b;
        float loss = 0;
        memset(&b, 0, sizeof b);
        b.in.batch = 1; b.in.text_len = 4; b.in.ids = ids; b.in.n_images = 1; b.in.grid_h = b.in.grid_w = 7; b.in.feats = feats;
        b.labels = tgt; b.target_len = 3; b.loss = VLA_LOSS_TOKEN_MEAN;
        *st = vla_trainer_step(tr, &b, &loss, NULL);
        if (*st == VLA_ERR_NOMEM) *st = VLA_ERR_STATE;
    }
    return *st == VLA_OK || tr == NULL;
}

int main(int argc, char **argv) {
    char err[256];
    size_t need;
    void *mm, *am;
    vla_task_sizes ts;
    ctx_try ct;
    scratch_try sc;
    train_try tt;
    unsigned char *px;
    vla_image img;
    int i;
    vc_init(argc, argv);
    if (argc < 3) { fprintf(stderr, "usage: test_exhaust TINY_MODEL.gguf TINY_ADAPTER.gguf\n"); return 2; }
    if (!(g_model = vla_tool_read_file(argv[1], &g_model_n, err, sizeof err)) ||
        !(g_adapter = vla_tool_read_file(argv[2], &g_adapter_n, err, sizeof err))) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    vc_section("model, adapter slot");
    VC_CHECK(vla_model_mem_req(g_model, g_model_n, &need) == VLA_OK);
    sweep("model (vla_model_init)", need, try_model, (void *)1);
    mm = malloc(need);
    VC_CHECK(vla_model_init(&g_m, mm, need, g_model, g_model_n, NULL) == VLA_OK);
    VC_CHECK(vla_adapter_mem_req(g_m, g_adapter, g_adapter_n, &need) == VLA_OK);
    sweep("adapter slot (vla_adapter_attach)", need, try_adapter, (void *)1);
    am = malloc(need);
    VC_CHECK(vla_adapter_attach(&g_ad, g_m, am, need, g_adapter, g_adapter_n, NULL) == VLA_OK);

    vc_section("contexts");
    memset(&ct, 0, sizeof ct);
    ct.p.max_batch = 2; ct.p.max_text_len = 6; ct.p.max_images = 1; ct.p.max_dec_len = 10; ct.p.max_beams = 3; ct.p.use_clip = 1;
    ct.p.max_adapter_dim = vla_adapter_max_dim(g_ad); ct.p.exec.n_threads = 1;
    VC_CHECK(vla_ctx_mem_req(g_m, &ct.p, &need) == VLA_OK);
    sweep("context (vla_ctx_init)", need, try_ctx, &ct);
    memset(&ts, 0, sizeof ts);
    ts.max_question_bytes = 5; ts.max_picture_w = 45; ts.max_picture_h = 37; ts.max_beams = 1; ts.max_length = 10;
    VC_CHECK(vla_task_ctx_params(&ct.p, g_m, &ts, (const vla_adapter *const *)&g_ad, 1) == VLA_OK);
    ct.p.exec.n_threads = 1;
    ct.run = 1;
    VC_CHECK(vla_ctx_mem_req(g_m, &ct.p, &need) == VLA_OK);
    sweep("task context (+ vla_answer)", need, try_ctx, &ct);

    vc_section("scratch of the tokenizer and of the image preprocessing");
    sc.text = "what is the colour of the small square left of the large red circle? ... and why? "
              "\xc3\xa9t\xc3\xa9 <mask> vqa: 12345 !!";
    sweep("tokenizer scratch (vla_tokenize)", vla_tokenize_scratch_size(strlen(sc.text)) + VLA_ALIGN, try_tokenize, &sc);
    px = (unsigned char *)malloc(640 * 480 * 3);
    for (i = 0; i < 640 * 480 * 3; i++) px[i] = (unsigned char)(i * 13 + (i >> 9));
    vla_image_view(&img, px, 640, 480, 3, 0);
    sc.img = &img; sc.S = vla_model_hparams(g_m)->clip_image_size;
    sweep("preprocessing scratch (640x480)", vla_clip_preprocess_scratch_size(640, 480, sc.S) + VLA_ALIGN, try_preprocess, &sc);
    vla_image_view(&img, px, 45, 37, 3, 0);
    sweep("preprocessing scratch (45x37, up)", vla_clip_preprocess_scratch_size(45, 37, sc.S) + VLA_ALIGN, try_preprocess, &sc);

    vc_section("trainer");
    memset(&tt, 0, sizeof tt);
    tt.p = vla_train_defaults("full");
    tt.p.max_batch = 1; tt.p.max_text_len = 4; tt.p.max_target_len = 3; tt.p.max_images = 1; tt.p.max_grid = 49;
    tt.p.total_steps = 1;
    tt.step = 1;
    VC_CHECK(vla_trainer_mem_req(g_m, NULL, 0, &tt.p, &need) == VLA_OK);
    sweep("trainer, full (+ one step)", need, try_trainer, &tt);
    tt.p.recompute = 1;
    VC_CHECK(vla_trainer_mem_req(g_m, NULL, 0, &tt.p, &need) == VLA_OK);
    sweep("trainer, full, recompute (+ step)", need, try_trainer, &tt);

    free(px); free(am); free(mm); free(g_model); free(g_adapter);
    vc_selftest();
    return vc_summary();
}
