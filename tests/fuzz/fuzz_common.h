/* tests/fuzz/fuzz_common.h - what the libFuzzer harnesses share.
 *
 * Each harness is one C file with LLVMFuzzerTestOneInput; it compiles the
 * library (and the tools/ headers it needs) itself and includes this file
 * after them.  Parts of this file appear only when the matching headers came
 * first:
 *   always              blobs, files, aligned copies, a silent logger, limits
 *   vladapter.h         fz_run_model: a short encode + greedy/beam generate
 *                       in a small context (model and adapter harnesses)
 *   tools/vla_convert.h the fixed small base model the adapter and
 *   + vla_random.h      trainer-state harnesses attach to, and the adapter
 *                       files the corpus generator writes for it
 *
 * Environment:
 *   VLA_FUZZ_BASE       a base model file to use instead of the built-in
 *                       one (the committed adapter / state seeds are bound to
 *                       the built-in one by its fingerprint)
 *   VLA_FUZZ_FIXTURES   the fixtures directory (default tests/fixtures): the
 *                       tokenizer harnesses read its BART vocabulary
 *   VLA_FUZZ_VERBOSE    1: the harnesses say how far each input got (for
 *                       checking that seeds reach the deep paths)
 *
 * Limits: a harness refuses, before doing any work, every input whose memory
 * (size queries) exceeds FZ_MEM_CAP or whose shapes would make one run take
 * more than a few milliseconds, so libFuzzer's timeouts and its RSS limit
 * only fire on real bugs.
 */
#ifndef VLA_FUZZ_COMMON_H
#define VLA_FUZZ_COMMON_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define FZ_UNUSED __attribute__((unused))
#define FZ_NORETURN __attribute__((noreturn))
#else
#define FZ_UNUSED
#define FZ_NORETURN
#endif

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_HAVE_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(FZ_HAVE_ASAN)
#define FZ_HAVE_ASAN 1
#endif
#ifdef FZ_HAVE_ASAN
#include <sanitizer/asan_interface.h>
#define FZ_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define FZ_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define FZ_POISON(p, n) ((void)(p), (void)(n))
#define FZ_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define FZ_MEM_CAP ((size_t)64 << 20) /* largest arena any harness hands the library */

typedef struct fz_blob {
    unsigned char *p;
    size_t n;
} fz_blob;

/* Set-up failures stop the fuzzer with a message (never used per input). */
FZ_UNUSED FZ_NORETURN static void fz_die(const char *fmt, ...);
FZ_UNUSED static void fz_die(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "fuzz harness: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(2);
}

/* A property the harness checks failed: report and crash so libFuzzer keeps
 * the input. */
#define FZ_ASSERT(cond, ...)                                                                                          \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "fuzz property failed at %s:%d: %s: ", __FILE__, __LINE__, #cond);                         \
            fprintf(stderr, __VA_ARGS__);                                                                              \
            fprintf(stderr, "\n");                                                                                     \
            abort();                                                                                                   \
        }                                                                                                              \
    } while (0)

FZ_UNUSED static const char *fz_env(const char *name, const char *dflt) {
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* A progress line when VLA_FUZZ_VERBOSE is set. */
FZ_UNUSED static void fz_note(const char *fmt, ...) {
    static int on = -1;
    va_list ap;
    if (on < 0) on = getenv("VLA_FUZZ_VERBOSE") != NULL;
    if (!on) return;
    fprintf(stderr, "  fuzz: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
}

/* A whole file in malloc'd memory; p = NULL if it cannot be read. */
FZ_UNUSED static fz_blob fz_read(const char *path) {
    fz_blob b = {NULL, 0};
    FILE *f = fopen(path, "rb");
    long n;
    if (!f) return b;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        b.p = (unsigned char *)malloc((size_t)n + 1);
        if (b.p && fread(b.p, 1, (size_t)n, f) == (size_t)n) {
            b.n = (size_t)n;
            b.p[n] = 0;
        } else {
            free(b.p);
            b.p = NULL;
        }
    }
    fclose(f);
    return b;
}

FZ_UNUSED static int fz_write(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f) return -1;
    ok = fwrite(p, 1, n, f) == n;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* The input copied to 64-byte aligned memory: tensors point into a model
 * file and the loader refuses misaligned ones, while libFuzzer only promises
 * a plain heap copy.  The bytes between the input's end and the block's end
 * are poisoned for ASan, so a read one byte past the input is still caught.
 * Free with fz_aligned_free(). */
FZ_UNUSED static unsigned char *fz_aligned_copy(const uint8_t *data, size_t size) {
    size_t total = size + 64 + 2 * sizeof(size_t);
    unsigned char *raw = (unsigned char *)malloc(total), *p;
    size_t hdr[2];
    if (!raw) fz_die("out of memory copying a %zu-byte input", size);
    p = raw + sizeof hdr;
    p += (64 - (uintptr_t)p % 64) % 64;
    hdr[0] = (size_t)(p - raw); /* offset back to the block */
    hdr[1] = total;
    memcpy(p - sizeof hdr, hdr, sizeof hdr);
    if (size) memcpy(p, data, size);
    FZ_POISON(p + size, total - hdr[0] - size);
    return p;
}

FZ_UNUSED static void fz_aligned_free(unsigned char *p) {
    size_t hdr[2];
    if (!p) return;
    memcpy(hdr, p - sizeof hdr, sizeof hdr);
    FZ_UNPOISON(p - hdr[0], hdr[1]);
    free(p - hdr[0]);
}

/* FNV-1a over 8-byte little-endian words, then the tail bytes: the checksum
 * vla_trainer_save_state writes (the trainer-state harness re-seals mutated
 * states with it so that the fuzzer gets past the check). */
FZ_UNUSED static uint64_t fz_fnv_words(uint64_t h, const void *data, size_t n) {
    const unsigned char *b = (const unsigned char *)data;
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) {
        uint64_t w = 0;
        int k;
        for (k = 7; k >= 0; k--) w = (w << 8) | b[i + (size_t)k];
        h ^= w;
        h *= 1099511628211ull;
    }
    for (; i < n; i++) {
        h ^= b[i];
        h *= 1099511628211ull;
    }
    return h;
}

#ifdef VLADAPTER_H
FZ_UNUSED static void fz_log_silent(void *user, vla_log_level level, const char *msg) {
    (void)user;
    (void)level;
    (void)msg;
}

FZ_UNUSED static vla_logger fz_logger(void) {
    vla_logger l;
    l.fn = fz_log_silent;
    l.user = NULL;
    return l;
}

/* Shapes a fuzzed model may have and still be run (load it whatever it is;
 * run it only when one encode + generate stays in the millisecond range). */
FZ_UNUSED static int fz_model_runnable(const vla_hparams *hp) {
    if (hp->has_bart) {
        if (hp->d_model > 128 || hp->n_enc_layers > 4 || hp->n_dec_layers > 4 || hp->enc_ffn > 512 || hp->dec_ffn > 512 ||
            hp->vocab > 4096 || hp->n_enc_heads > 16 || hp->n_dec_heads > 16)
            return 0;
        if (hp->has_visual && (hp->feat_dim > 512 || hp->n_boxes > 64)) return 0;
    }
    if (hp->has_clip) {
        int i, blocks = 0;
        for (i = 0; i < 4; i++) blocks += hp->clip_blocks[i];
        if (hp->clip_image_size > 64 || hp->clip_width > 16 || blocks > 8) return 0;
    }
    return 1;
}

/* A growing memory buffer for vla_write_fn callbacks (user: an fz_blob). */
FZ_UNUSED static vla_status fz_blob_write(void *user, const void *data, size_t n) {
    fz_blob *b = (fz_blob *)user;
    unsigned char *p = (unsigned char *)realloc(b->p, b->n + n + 1);
    if (!p) return VLA_ERR_NOMEM;
    memcpy(p + b->n, data, n);
    b->p = p;
    b->n += n;
    return VLA_OK;
}

/* Deterministic inputs of the right sizes. */
FZ_UNUSED static void fz_fill_floats(float *x, size_t n, uint32_t seed) {
    size_t i;
    for (i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)((int)(seed >> 9) % 2001 - 1000) / 1000.0f;
    }
}

/* One short request on a loaded model (and an adapter slot, or NULL, with
 * one of its tasks): a context sized for it, the CLIP trunk on a picture (if
 * the file has one) or grid features (if it has a visual embedding), encode,
 * teacher-forced logits, greedy and 2-beam generation, the ids decoded.
 * Every library error is an allowed outcome; what must hold is memory
 * safety and that no call uses more memory than the size query promised. */
FZ_UNUSED static void fz_run_model(const vla_model *m, const vla_adapter *ad, const char *task) {
    const vla_hparams *hp = vla_model_hparams(m);
    const vla_tokenizer *tok = vla_model_tokenizer(m);
    vla_ctx_params p;
    vla_ctx *c = NULL;
    vla_input in;
    vla_gen_params g;
    size_t need = 0, n_feat = 0, n_pix = 0;
    void *cmem = NULL;
    float *feats = NULL, *pixels = NULL, *logits = NULL;
    int32_t ids[8], dec[4], out[2 * 6];
    int n_ids = 0, width = 0, i, grid = 0, n_img = 0, use_clip;
    vla_arena_stats s;
    vla_status st;
    if (!hp->has_bart || !fz_model_runnable(hp)) {
        fz_note("model not run (BART %d, shapes runnable %d)", hp->has_bart, fz_model_runnable(hp));
        return;
    }
    use_clip = hp->has_clip && hp->has_visual;
    memset(&p, 0, sizeof p);
    p.max_batch = 1;
    p.max_text_len = 8;
    p.max_dec_len = 5;
    p.max_beams = 2;
    if (hp->has_visual && hp->n_images > 0) {
        n_img = hp->n_images >= 2 ? 2 : 1;
        if (hp->pool_h) grid = hp->pool_h > hp->pool_w ? hp->pool_h : hp->pool_w;
        else
            while (grid * grid < hp->n_boxes) grid++;
        if (grid > 8) return;
        p.max_images = n_img;
        p.max_grid = grid * grid;
        if (use_clip) {
            int cg = hp->clip_image_size / 32;
            if (cg * cg > p.max_grid) p.max_grid = cg * cg;
            p.use_clip = 1;
        }
    }
    if (ad) {
        p.max_prompt_len = vla_adapter_prompt_len(ad);
        p.max_adapter_dim = vla_adapter_max_dim(ad);
        if (p.max_prompt_len > 64 || p.max_adapter_dim > 1024) return;
    }
    p.exec.n_threads = 1;
    p.log = fz_logger();
    if ((st = vla_ctx_mem_req(m, &p, &need)) != VLA_OK || need > FZ_MEM_CAP) {
        fz_note("context size query: %s, %zu bytes", vla_status_str(st), need);
        return;
    }
    cmem = malloc(need);
    if (!cmem || (st = vla_ctx_init(&c, m, &p, cmem, need)) != VLA_OK) {
        FZ_ASSERT(st != VLA_ERR_NOMEM, "context init with the queried %zu bytes", need);
        goto done;
    }
    if (ad && (st = vla_ctx_set_adapter(c, ad, task)) != VLA_OK) {
        fz_note("set_adapter(%s): %s", task ? task : "(null)", vla_status_str(st));
        goto done;
    }
    /* text: the model's own tokenizer when it has one and its ids fit */
    if (tok) {
        static const char text[] = "what is <mask> on the table? <extra_id_0>";
        vla_arena a;
        size_t sn = vla_tokenize_scratch_size(sizeof text) + 2 * VLA_ALIGN;
        void *sm = malloc(sn);
        vla_arena_init(&a, sm, sn);
        if (vla_tokenize(tok, &a, text, sizeof text - 1, 1, 1, 8, ids, 8, &n_ids) != VLA_OK) n_ids = 0;
        free(sm);
        for (i = 0; i < n_ids; i++)
            if (ids[i] < 0 || ids[i] >= hp->vocab) n_ids = 0;
    }
    if (n_ids == 0) {
        n_ids = 6;
        for (i = 0; i < n_ids; i++) ids[i] = (int32_t)((i * 37 + 3) % hp->vocab);
        ids[n_ids - 1] = hp->pad_id; /* one masked position */
    }
    memset(&in, 0, sizeof in);
    in.batch = 1;
    in.text_len = n_ids;
    in.ids = ids;
    if (n_img) {
        in.n_images = n_img;
        if (use_clip) {
            n_pix = (size_t)n_img * hp->clip_image_size * hp->clip_image_size * 3;
            pixels = (float *)malloc(sizeof(float) * n_pix);
            fz_fill_floats(pixels, n_pix, 7);
            in.images = pixels;
        } else {
            n_feat = (size_t)n_img * grid * grid * hp->feat_dim;
            feats = (float *)malloc(sizeof(float) * (n_feat ? n_feat : 1));
            fz_fill_floats(feats, n_feat, 11);
            in.grid_h = in.grid_w = grid;
            in.feats = feats;
        }
    }
    if ((st = vla_encode(c, &in)) != VLA_OK) {
        fz_note("encode (%d ids, %d images, clip %d): %s", n_ids, n_img, use_clip, vla_status_str(st));
        goto done;
    }
    for (i = 0; i < 4; i++) dec[i] = (int32_t)((hp->dec_start_id + 5 * i) % hp->vocab);
    logits = (float *)malloc(sizeof(float) * 4 * (size_t)hp->vocab);
    (void)vla_decode_logits(c, dec, 4, logits);
    g = vla_gen_defaults(m);
    g.num_beams = 1;
    g.max_length = 5;
    if (g.min_length > 5) g.min_length = 5;
    st = vla_generate(c, &g, out, &width, NULL);
    fz_note("encoded %d ids + %d images (clip %d), greedy: %s, width %d", n_ids, n_img, use_clip, vla_status_str(st), width);
    if (st == VLA_OK && tok) {
        char text[256];
        size_t len;
        FZ_ASSERT(width >= 1 && width <= 5, "greedy width %d", width);
        (void)vla_detokenize(tok, out, width, 1, 1, text, sizeof text, &len);
    }
    g.num_beams = 2;
    if (vla_generate(c, &g, out, &width, NULL) == VLA_OK) FZ_ASSERT(width >= 1 && width <= 5, "beam width %d", width);
    s = vla_ctx_stats(c);
    FZ_ASSERT(s.peak <= need, "context used %zu bytes, its size query said %zu", s.peak, need);
done:
    free(logits);
    free(feats);
    free(pixels);
    free(cmem);
}
#endif /* VLADAPTER_H */

#if defined(VLADAPTER_H) && defined(VLA_CONVERT_H) && defined(VLA_RANDOM_H)
/* The fixed base model of the adapter and trainer-state harnesses: a random
 * VL-BART at tiny shapes (d 16, 2 + 2 layers, 64 tokens, 16-channel features
 * pooled to 2 x 2).  Deterministic, so the adapter seeds made for it by
 * make_corpus.c stay bound to it (vladapter.adapter.base_fingerprint). */
#define FZ_BASE_D 16
#define FZ_BASE_LAYERS 2
FZ_UNUSED static fz_blob fz_make_base(void) {
    vla_rand_bart r = {FZ_BASE_D, FZ_BASE_LAYERS, FZ_BASE_LAYERS, 2, 32, 64, 24, 16, 4, 5};
    vla_conv cv;
    fz_blob b = {NULL, 0};
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_conv_random_bart(&cv, &r) == 0) {
        cv.fingerprint = vla_conv_fingerprint(&cv);
        if (vla_conv_write_mem(&cv, &b.p, &b.n) != 0) b.p = NULL;
    }
    vla_conv_free(&cv);
    if (!b.p) fz_die("cannot build the base model: %s", cv.err);
    return b;
}

/* The base: VLA_FUZZ_BASE or the built-in one; loaded into *mem. */
FZ_UNUSED static vla_model *fz_load_base(fz_blob *file, void **mem) {
    const char *path = fz_env("VLA_FUZZ_BASE", NULL);
    vla_model *m = NULL;
    size_t need;
    if (path) {
        *file = fz_read(path);
        if (!file->p) fz_die("cannot read VLA_FUZZ_BASE=%s", path);
        {   /* aligned, as the loader wants */
            unsigned char *a = fz_aligned_copy(file->p, file->n);
            free(file->p);
            file->p = a;
        }
    } else
        *file = fz_make_base();
    if (vla_model_mem_req(file->p, file->n, &need) != VLA_OK || !(*mem = malloc(need)) ||
        vla_model_init(&m, *mem, need, file->p, file->n, NULL) != VLA_OK)
        fz_die("the base model does not load");
    return m;
}

/* A random adapter file for m through the converter's official naming
 * (vla_conv_random_peft: the ten methods of the paper's scripts). */
FZ_UNUSED static fz_blob fz_make_peft(const vla_model *m, const char *method, uint64_t seed) {
    const vla_hparams *hp = vla_model_hparams(m);
    vla_rand_peft r;
    vla_conv cv;
    fz_blob b = {NULL, 0};
    memset(&r, 0, sizeof r);
    r.method = method;
    r.d_model = hp->d_model;
    r.enc_layers = hp->n_enc_layers;
    r.dec_layers = hp->n_dec_layers;
    r.reduction = 4;
    r.lora_r = 2;
    r.prompt_len = 3;
    r.prompt_mid = 8;
    r.hyper_task_dim = 4;
    r.hyper_hidden = 4;
    r.hyper_dp = 2;
    r.phm_k = 2;
    r.seed = seed;
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_conv_random_peft(&cv, &r) == 0) {
        cv.base_fingerprint = vla_model_fingerprint(m);
        if (vla_conv_write_mem(&cv, &b.p, &b.n) != 0) b.p = NULL;
    }
    vla_conv_free(&cv);
    return b;
}

/* A random adapter file through tools/vla_random.h (any task list, sharing,
 * initialisation and prefixes). */
FZ_UNUSED static fz_blob fz_make_random_adapter(const vla_model *m, const char *method, int n_tasks, int shared, int hidden, int prefixes,
                                      uint64_t seed) {
    const vla_hparams *hp = vla_model_hparams(m);
    vla_rand_adapter r;
    vla_conv cv;
    fz_blob b = {NULL, 0};
    memset(&r, 0, sizeof r);
    r.method = method;
    r.d_model = hp->d_model;
    r.enc_layers = hp->n_enc_layers;
    r.dec_layers = hp->n_dec_layers;
    r.n_tasks = n_tasks;
    r.shared = shared;
    r.hidden = hidden;
    r.phm_k = 2;
    r.lora_alpha = 8.0f;
    r.prompt_len = 3;
    r.prompt_mid = 8;
    r.task_emb = 4;
    r.task_hidden = 4;
    r.task_proj = 2;
    r.base_fingerprint = vla_model_fingerprint(m);
    r.seed = seed;
    r.prefixes = prefixes;
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_random_adapter(&cv, &r) == 0 && vla_conv_write_mem(&cv, &b.p, &b.n) != 0) b.p = NULL;
    vla_conv_free(&cv);
    return b;
}

/* The trainer of the trainer-state harness (and of the seeds it starts
 * from): a single adapter on the base, both tasks, small batch shapes. */
#define FZ_TR_B 2
#define FZ_TR_LT 5
#define FZ_TR_GRID 4
#define FZ_TR_T 3
FZ_UNUSED static vla_train_params fz_train_params(void) {
    vla_train_params p = vla_train_defaults("adapter");
    p.max_batch = FZ_TR_B;
    p.max_text_len = FZ_TR_LT;
    p.max_images = 1;
    p.max_grid = FZ_TR_GRID;
    p.max_target_len = FZ_TR_T;
    p.total_steps = 10;
    p.warmup_steps = 1;
    p.exec.n_threads = 1;
    p.log = fz_logger();
    return p;
}

FZ_UNUSED static fz_blob fz_train_adapter(const vla_model *m) { return fz_make_random_adapter(m, "adapter", 2, 1, 4, 0, 77); }

/* One fixed training batch for the trainer above. */
typedef struct fz_tbatch {
    int32_t ids[FZ_TR_B * FZ_TR_LT];
    int32_t labels[FZ_TR_B * FZ_TR_T];
    float feats[FZ_TR_B * FZ_TR_GRID * 16];
    float scores[FZ_TR_B];
    vla_train_batch b;
} fz_tbatch;

FZ_UNUSED static void fz_tbatch_make(fz_tbatch *x, const vla_model *m) {
    const vla_hparams *hp = vla_model_hparams(m);
    int i;
    memset(x, 0, sizeof *x);
    for (i = 0; i < FZ_TR_B * FZ_TR_LT; i++) x->ids[i] = (int32_t)((i * 13 + 4) % hp->vocab);
    for (i = 0; i < FZ_TR_B * FZ_TR_T; i++) x->labels[i] = (int32_t)((i * 7 + 5) % hp->vocab);
    x->labels[FZ_TR_T - 1] = -100;
    fz_fill_floats(x->feats, sizeof x->feats / sizeof x->feats[0], 3);
    x->scores[0] = 1.0f;
    x->scores[1] = 0.5f;
    x->b.task = NULL;
    x->b.loss = VLA_LOSS_VQA;
    x->b.in.batch = FZ_TR_B;
    x->b.in.text_len = FZ_TR_LT;
    x->b.in.ids = x->ids;
    x->b.in.n_images = hp->feat_dim == 16 ? 1 : 0;
    x->b.in.grid_h = x->b.in.grid_w = 2;
    x->b.in.feats = x->feats;
    x->b.target_len = FZ_TR_T;
    x->b.labels = x->labels;
    x->b.scores = x->scores;
}

#endif /* VLA_CONVERT_H && VLA_RANDOM_H */

#if defined(VLADAPTER_H) && defined(VLA_CONVERT_H)
/* Reads every byte a checkpoint's tensors claim (ASan reports any that lie
 * outside the buffer) and returns a value that depends on them. */
FZ_UNUSED static unsigned fz_touch(const void *data, size_t n) {
    const unsigned char *p = (const unsigned char *)data;
    unsigned h = 0;
    size_t i;
    for (i = 0; i < n; i++) h = h * 31u + p[i];
    return h;
}

/* What vla-convert does with an opened checkpoint: the BART part with its
 * config, the CLIP trunk and the PEFT modules, each into a model / adapter
 * file written to memory; the BART file is then loaded (and run when it is
 * small).  Any outcome but a crash is fine: a hostile checkpoint may give a
 * file the loader refuses.  A checkpoint without a config of its own (torch
 * files: vla-convert takes --config) gets a small fixed one, as --config
 * would give it. */
FZ_UNUSED static void fz_convert_ckpt(const vla_ckpt *k) {
    static vla_json *dflt;
    const vla_json *cfg = k->config;
    vla_conv cv;
    fz_blob out = {NULL, 0};
    int skipped = 0, n_peft;
    if (!cfg) {
        static const char text[] = "{\"encoder_attention_heads\": 2, \"decoder_attention_heads\": 2, \"n_boxes\": 4, "
                                   "\"tasks\": \"vqa,gqa\", \"use_tasks_prompts\": true, \"lora_config\": {\"lora_alpha\": 16}}";
        char err[128];
        if (!dflt && !(dflt = vla_json_parse(text, sizeof text - 1, err, sizeof err))) fz_die("default config: %s", err);
        cfg = dflt;
    }
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_conv_bart(&cv, k->src, k->n, cfg, &skipped) == 0) {
        cv.fingerprint = vla_conv_fingerprint(&cv);
        if (vla_conv_write_mem(&cv, &out.p, &out.n) == 0) {
            size_t need;
            vla_model *m = NULL;
            void *mem;
            if (vla_model_mem_req(out.p, out.n, &need) == VLA_OK && need <= FZ_MEM_CAP && (mem = malloc(need ? need : 1))) {
                if (vla_model_init(&m, mem, need, out.p, out.n, NULL) == VLA_OK) fz_run_model(m, NULL, NULL);
                free(mem);
            }
            free(out.p);
        }
    }
    fz_note("convert BART: %s", cv.err[0] ? cv.err : "ok");
    vla_conv_free(&cv);
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_conv_clip(&cv, k->src, k->n, 224) == 0 && vla_conv_write_mem(&cv, &out.p, &out.n) == 0) free(out.p);
    fz_note("convert CLIP: %s", cv.err[0] ? cv.err : "ok");
    vla_conv_free(&cv);
    vla_conv_init(&cv);
    cv.quiet = 1;
    n_peft = vla_conv_peft(&cv, k->src, k->n, cfg);
    if (n_peft > 0 && vla_conv_write_mem(&cv, &out.p, &out.n) == 0) free(out.p);
    fz_note("convert PEFT: %d tensors %s", n_peft, cv.err);
    vla_conv_free(&cv);
}
#endif /* VLA_CONVERT_H */

#if defined(VLADAPTER_H) && defined(VLA_TOKCONV_H)
/* BART's tokenizer with VL-Adapter's 200 added tokens, from the fixtures'
 * vocab.json and merges.txt, in a GGUF of its own (tokenizer keys only). */
FZ_UNUSED static const vla_tokenizer *fz_load_bart_tokenizer(void) {
    static vla_gguf g;
    const char *dir = fz_env("VLA_FUZZ_FIXTURES", "tests/fixtures");
    char vp[4096], mp[4096], err[512];
    vla_tokconv tc;
    vla_gguf_writer w;
    vla_arena a;
    fz_blob v, mg, file = {NULL, 0};
    void *wmem, *gmem, *tmem;
    size_t persistent, peak, gsize = (size_t)8 << 20;
    vla_tokenizer *tok = NULL;
    snprintf(vp, sizeof vp, "%s/tokenizer/vocab.json", dir);
    snprintf(mp, sizeof mp, "%s/tokenizer/merges.txt", dir);
    v = fz_read(vp);
    mg = fz_read(mp);
    if (!v.p || !mg.p) fz_die("cannot read %s and %s (set VLA_FUZZ_FIXTURES to the fixtures directory)", vp, mp);
    if (vla_tokconv_parse(&tc, (const char *)v.p, v.n, (const char *)mg.p, mg.n, 1, err, sizeof err) != 0)
        fz_die("tokenizer files: %s", err);
    wmem = malloc((size_t)1 << 20);
    vla_arena_init(&a, wmem, (size_t)1 << 20);
    if (vla_gguf_writer_init(&w, &a, VLA_TOKCONV_N_KV, 0, 32) != VLA_OK) fz_die("gguf writer");
    vla_tokconv_add(&tc, &w);
    if (vla_gguf_write(&w, fz_blob_write, &file) != VLA_OK) fz_die("writing the tokenizer file");
    vla_tokconv_free(&tc);
    free(wmem);
    free(v.p);
    free(mg.p);
    gmem = malloc(gsize);
    vla_arena_init(&a, gmem, gsize);
    if (vla_gguf_open(&g, file.p, file.n, &a) != VLA_OK || vla_tokenizer_mem_req(&g, &persistent, &peak) != VLA_OK)
        fz_die("the tokenizer file does not open");
    tmem = malloc(peak + VLA_ALIGN);
    vla_arena_init(&a, tmem, peak + VLA_ALIGN);
    if (vla_tokenizer_init(&tok, &g, &a) != VLA_OK) fz_die("the tokenizer does not load");
    return tok; /* file, gmem and tmem live as long as the process */
}
#endif /* VLA_TOKCONV_H */

#endif /* VLA_FUZZ_COMMON_H */
