/* example_util.h - the little bit of plumbing the examples share: read a file,
 * load a model and an adapter, turn a picture into the CLIP input.  Example
 * code: it uses malloc and stdio, which the library itself never does.
 * Include after vladapter.h (with VLADAPTER_IMPLEMENTATION) and image_io.h. */
#ifndef VLA_EXAMPLE_UTIL_H
#define VLA_EXAMPLE_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A whole file in memory (the model's tensors will point into it). */
static unsigned char *ex_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (!f) { fprintf(stderr, "error: cannot open %s\n", path); return NULL; }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) { fclose(f); return NULL; }
    buf = (unsigned char *)malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "error: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void ex_log(void *user, vla_log_level lvl, const char *msg) {
    (void)user;
    if (lvl <= VLA_LOG_WARN) fprintf(stderr, "vladapter: %s\n", msg);
}

/* Model file -> model (memory sized by the library's size query). */
static vla_model *ex_load_model(const char *path, unsigned char **file, void **mem) {
    size_t size, need;
    vla_model *m = NULL;
    vla_logger lg;
    vla_status st;
    lg.fn = ex_log; lg.user = NULL;
    *mem = NULL;
    if (!(*file = ex_read_file(path, &size))) return NULL;
    if ((st = vla_model_mem_req(*file, size, &need)) != VLA_OK) {
        fprintf(stderr, "error: %s is not a vladapter model file (%s)\n", path, vla_status_str(st));
        return NULL;
    }
    *mem = malloc(need);
    if (!*mem || (st = vla_model_init(&m, *mem, need, *file, size, &lg)) != VLA_OK) {
        fprintf(stderr, "error: %s: %s\n", path, vla_status_str(st));
        return NULL;
    }
    return m;
}

/* Adapter file -> slot attached to m. */
static vla_adapter *ex_attach(const vla_model *m, const char *path, unsigned char **file, void **mem) {
    size_t size, need;
    vla_adapter *a = NULL;
    vla_logger lg;
    vla_status st;
    lg.fn = ex_log; lg.user = NULL;
    *mem = NULL;
    if (!(*file = ex_read_file(path, &size))) return NULL;
    if ((st = vla_adapter_mem_req(m, *file, size, &need)) != VLA_OK) {
        fprintf(stderr, "error: %s cannot be attached to this model (%s)\n", path, vla_status_str(st));
        return NULL;
    }
    *mem = malloc(need);
    if (!*mem || (st = vla_adapter_attach(&a, m, *mem, need, *file, size, &lg)) != VLA_OK) {
        fprintf(stderr, "error: %s: %s\n", path, vla_status_str(st));
        return NULL;
    }
    return a;
}

/* Picture file -> [S, S, 3] CLIP input (channels-last), as the official
 * feature extraction prepares it. */
static float *ex_load_picture(const char *path, int S) {
    int w, h, ch;
    char err[160];
    unsigned char *px = vla_example_load_image(path, &w, &h, &ch, err, sizeof err);
    vla_image img;
    vla_arena a;
    size_t need;
    void *scratch;
    float *out;
    vla_status st;
    if (!px) { fprintf(stderr, "error: %s\n", err); return NULL; }
    need = vla_clip_preprocess_scratch_size(w, h, S) + 2 * VLA_ALIGN;
    scratch = malloc(need);
    out = (float *)malloc(sizeof(float) * (size_t)S * S * 3);
    vla_arena_init(&a, scratch, need);
    if ((st = vla_image_view(&img, px, w, h, ch, 0)) == VLA_OK) st = vla_clip_preprocess(&a, out, S, VLA_LAYOUT_HWC, &img);
    vla_example_free_image(px);
    free(scratch);
    if (st != VLA_OK) { fprintf(stderr, "error: %s: %s\n", path, vla_status_str(st)); free(out); return NULL; }
    return out;
}

/* One request on one picture: a context sized for exactly this request (its
 * memory returned in *cmem, the caller frees it), the adapter's task chosen,
 * encode, generate, and the ids decoded to text (cut to fit cap).  exec: the
 * caller's threads, or NULL for one.  Returns 0, or 1 after printing why. */
#if defined(__GNUC__)
__attribute__((unused))
#endif
static int ex_generate(const vla_model *m, const vla_adapter *ad, const char *task, const vla_exec *exec,
                       const int32_t *ids, int n_ids, const float *pic, const vla_gen_params *g,
                       int32_t *out, int *width, char *text, size_t cap, void **cmem) {
    vla_ctx_params p;
    vla_ctx *c = NULL;
    vla_input in;
    size_t need, len;
    vla_status st;
    *cmem = NULL;
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = n_ids; p.max_images = 1; p.max_dec_len = g->max_length; p.max_beams = g->num_beams;
    p.use_clip = 1;
    p.max_prompt_len = vla_adapter_prompt_len(ad);
    p.max_adapter_dim = vla_adapter_max_dim(ad);
    if (exec) p.exec = *exec;
    else p.exec.n_threads = 1;
    p.log.fn = ex_log;
    if ((st = vla_ctx_mem_req(m, &p, &need)) != VLA_OK || !(*cmem = malloc(need)) ||
        (st = vla_ctx_init(&c, m, &p, *cmem, need)) != VLA_OK) {
        fprintf(stderr, "error: context: %s\n", vla_status_str(st));
        return 1;
    }
    if (ad && (st = vla_ctx_set_adapter(c, ad, task)) != VLA_OK) {
        fprintf(stderr, "error: adapter: %s\n", vla_status_str(st));
        return 1;
    }
    memset(&in, 0, sizeof in);
    in.batch = 1; in.text_len = n_ids; in.ids = ids; in.n_images = 1; in.images = pic;
    if ((st = vla_encode(c, &in)) != VLA_OK || (st = vla_generate(c, g, out, width, NULL)) != VLA_OK) {
        fprintf(stderr, "error: %s\n", vla_status_str(st));
        return 1;
    }
    st = vla_detokenize(vla_model_tokenizer(m), out, *width, 1, 1, text, cap, &len);
    if (st != VLA_OK && st != VLA_ERR_NOMEM) {
        fprintf(stderr, "error: decoding the ids: %s\n", vla_status_str(st));
        return 1;
    }
    return 0;
}

#endif /* VLA_EXAMPLE_UTIL_H */
