/* vla-fixtures: run the oracle fixture cases against vladapter.h.
 *
 *   build/vla-fixtures [--cases a,b,c] [-v] DIR
 *
 * Every subdirectory of DIR with a manifest.json is a case (format:
 * DIR/README.md).  What is run depends on what a case holds, never on its
 * sizes: the model shape comes from the config and the tensors.  One line per
 * checked output:
 *     <case>/<output> PASS|FAIL|SKIP max_abs_err=<x> tol=<y>
 * then "N passed, M failed, K skipped"; the exit status is 1 if anything
 * failed.  SKIP says which feature is not available yet.
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#define VLA_TOOL_IMPLEMENTATION
#include "vla_tool.h"
#define VLA_TORCH_IMPLEMENTATION
#include "vla_torch.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "vla_convert.h"
#define VLA_TOKCONV_IMPLEMENTATION
#include "vla_tokconv.h"

#include <dirent.h>
#include <unistd.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int g_pass, g_fail, g_skip, g_verbose;
/* checkpoint_formats runs other cases with their weights taken from another
 * file: then results are counted here instead of printed */
static const char *g_weights_override;
static int g_capture, g_cap_pass, g_cap_fail;

typedef struct fx_case {
    char dir[1024];
    char name[256];
    vla_json *man;
    const vla_json *files;
} fx_case;

static void report(const fx_case *c, const char *out, int ok, double err, double tol, const char *note) {
    const char *res = ok > 0 ? "PASS" : ok == 0 ? "FAIL" : "SKIP";
    if (g_capture) {
        if (ok > 0) g_cap_pass++;
        else if (ok == 0) g_cap_fail++;
        if (g_verbose || ok == 0) fprintf(stderr, "    %s/%s %s %s\n", c->name, out, res, note ? note : "");
        return;
    }
    if (ok > 0) g_pass++;
    else if (ok == 0) g_fail++;
    else g_skip++;
    if (ok < 0) printf("%s/%s SKIP max_abs_err=- tol=- (%s)\n", c->name, out, note ? note : "");
    else printf("%s/%s %s max_abs_err=%.3g tol=%.3g%s%s\n", c->name, out, res, err, tol, note ? " " : "", note ? note : "");
    fflush(stdout);
}

/* Path of a file key of the manifest: "x.npy" in the case dir, or a reference. */
static int case_path(const fx_case *c, const char *key, char *out, size_t cap) {
    const vla_json *f = vla_json_get(c->files, key), *fn;
    if (!f) return 0;
    fn = vla_json_get(f, "file");
    if (fn && fn->type == VLA_JSON_STRING) snprintf(out, cap, "%s/%s", c->dir, fn->s);
    else if (f->type == VLA_JSON_STRING) snprintf(out, cap, "%s/%s", c->dir, f->s);
    else snprintf(out, cap, "%s/%s", c->dir, key);
    return 1;
}

static int load_npy(const fx_case *c, const char *key, vla_npy *a) {
    char p[2048], err[256];
    if (!case_path(c, key, p, sizeof p)) return 0;
    if (vla_npy_load(p, a, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", c->name, err);
        return 0;
    }
    return 1;
}

static void tolerances(const fx_case *c, const char *key, double *atol, double *rtol, int *exact) {
    const vla_json *f = vla_json_get(c->files, key), *t;
    *atol = 1e-4; *rtol = 1e-4; *exact = 0;
    if (!f) return;
    *atol = vla_json_num(f, "atol", *atol);
    *rtol = vla_json_num(f, "rtol", *rtol);
    t = vla_json_get(f, "tolerance");
    if (t && t->type == VLA_JSON_STRING && !strcmp(t->s, "exact")) *exact = 1;
    if (t && t->type == VLA_JSON_OBJECT) { *atol = vla_json_num(t, "atol", *atol); *rtol = vla_json_num(t, "rtol", 0); }
}

/* Compare n floats against an expected .npy; report one line. */
static void check_floats(const fx_case *c, const char *key, const float *got, size_t n) {
    vla_npy e;
    double atol, rtol, err = 0, worst = 0;
    int exact, ok = 1;
    size_t i, bad = 0;
    if (!load_npy(c, key, &e)) { report(c, key, 0, 0, 0, "(expected file missing)"); return; }
    tolerances(c, key, &atol, &rtol, &exact);
    if (e.count != n) {
        char note[96];
        snprintf(note, sizeof note, "(size %zu, expected %zu)", n, e.count);
        report(c, key, 0, 0, atol, note);
        vla_npy_free(&e);
        return;
    }
    for (i = 0; i < n; i++) {
        double x = vla_npy_f(&e, i), d = fabs((double)got[i] - x);
        if (!(d <= atol + rtol * fabs(x))) { ok = 0; if (!bad++ && g_verbose) fprintf(stderr, "  %s[%zu]: got %.7g expected %.7g\n", key, i, got[i], x); }
        if (d > err || d != d) err = d;
        if (d - rtol * fabs(x) > worst) worst = d - rtol * fabs(x);
    }
    report(c, key, ok, err, atol, NULL);
    vla_npy_free(&e);
}

/* Compare token ids [rows, width] against [rows, W] where columns past the
 * produced width are -1 in the expected array (or the widths must match). */
static int ids_equal(const vla_npy *e, size_t off, int rows, int W, const int32_t *got, int gw, int gstride) {
    int r, k, ew = W;
    /* expected width: columns that are not -1 in every row */
    while (ew > 0) {
        for (r = 0; r < rows; r++) if (vla_npy_i(e, off + (size_t)r * W + ew - 1) != -1) break;
        if (r < rows) break;
        ew--;
    }
    if (ew != gw) return 0;
    for (r = 0; r < rows; r++)
        for (k = 0; k < gw; k++)
            if (vla_npy_i(e, off + (size_t)r * W + k) != got[(size_t)r * gstride + k]) return 0;
    return 1;
}

/* ---- model building ---- */

typedef struct fx_model {
    vla_ckpt ck;             /* the BART checkpoint */
    vla_json *cfg_owned;     /* merged config */
    vla_conv cv;
    unsigned char *gguf;
    size_t gguf_size;
    void *model_mem;
    vla_model *m;
    /* the PEFT modules as an adapter file attached to the model */
    vla_conv acv;
    unsigned char *agguf;
    size_t agguf_size;
    void *adp_mem;
    vla_adapter *ad;
    int max_prompt;
} fx_model;

static void fx_model_free(fx_model *f) {
    free(f->adp_mem);
    free(f->agguf);
    vla_conv_free(&f->acv);
    free(f->model_mem);
    free(f->gguf);
    vla_conv_free(&f->cv);
    vla_json_free(f->cfg_owned);
    vla_ckpt_close(&f->ck);
    memset(f, 0, sizeof *f);
}

static void log_stderr(void *user, vla_log_level lvl, const char *msg) {
    (void)user;
    if (lvl <= VLA_LOG_WARN) fprintf(stderr, "  vladapter: %s\n", msg);
}

/* The model config: the weights' __metadata__.config with the manifest's
 * config keys on top. */
static vla_json *merged_config(const fx_case *c, const vla_json *file_cfg) {
    const vla_json *mc = vla_json_get(c->man, "config");
    vla_json *base = NULL;
    char err[256];
    int i, j;
    if (file_cfg) { /* a deep copy through text is simplest: re-parse a serialisation */
        base = vla_json_copy(file_cfg);
    }
    if (!base) { base = vla_json_parse("{}", 2, err, sizeof err); }
    if (mc && mc->type == VLA_JSON_OBJECT) {
        for (i = 0; i < mc->n_kid; i++) {
            const vla_json *src = &mc->kid[i];
            vla_json *dst = NULL;
            for (j = 0; j < base->n_kid; j++) if (!strcmp(base->kid[j].key, src->key)) dst = &base->kid[j];
            if (!dst) {
                vla_json *nk = (vla_json *)realloc(base->kid, sizeof(vla_json) * (size_t)(base->n_kid + 1));
                if (!nk) continue;
                base->kid = nk;
                dst = &base->kid[base->n_kid++];
                memset(dst, 0, sizeof *dst);
                dst->key = (char *)malloc(strlen(src->key) + 1);
                strcpy(dst->key, src->key);
                dst->key_n = strlen(src->key);
            }
            /* only scalars are merged (numbers, booleans, strings) */
            if (src->type == VLA_JSON_NUMBER || src->type == VLA_JSON_TRUE || src->type == VLA_JSON_FALSE) {
                free(dst->s); dst->s = NULL;
                dst->type = src->type; dst->num = src->num; dst->inum = src->inum; dst->is_int = src->is_int;
            } else if (src->type == VLA_JSON_STRING) {
                free(dst->s);
                dst->type = VLA_JSON_STRING;
                dst->s = (char *)malloc(src->n + 1);
                memcpy(dst->s, src->s, src->n + 1);
                dst->n = src->n;
            }
        }
    }
    return base;
}

/* Which parameter-efficient method a config asks for (NULL: none). */
static const char *peft_method(const vla_json *cfg) {
    if (vla_json_num(cfg, "use_hyperformer", 0)) return "hyperformer";
    if (vla_json_num(cfg, "use_compacter", 0)) return "compacter";
    if (vla_json_num(cfg, "use_lradapter", 0)) return "lradapter";
    if (vla_json_num(cfg, "use_adapter", 0)) return "adapter";
    if (vla_json_num(cfg, "use_lora", 0)) return "lora";
    if (vla_json_num(cfg, "encoder_prompt_len", 0) > 0) return "prompt";
    return NULL;
}

/* Convert the case's weights to an in-memory GGUF and load it. bias_override
 * >= 0: set final_logits_bias[eos] to bias_value first. */
static int fx_clip_into(vla_conv *cv, const char *clip_path, int image_size, char *why, size_t why_n);

/* Base model (BART from bart_path and/or the CLIP trunk from clip_path) and,
 * when the checkpoint has PEFT modules, an adapter file attached to it. */
static int fx_model_build(const fx_case *c, const char *bart_path, const char *clip_path, int image_size, fx_model *f,
                          int eos_override, float eos_value, const char *overlay_path, char *why, size_t why_n) {
    char err[512];
    size_t need;
    int skipped, n_peft = 0;
    vla_logger lg;
    vla_status st;
    memset(f, 0, sizeof *f);
    vla_conv_init(&f->cv);
    vla_conv_init(&f->acv);
    f->cv.quiet = f->acv.quiet = 1;
    lg.fn = log_stderr; lg.user = NULL;
    if (clip_path && fx_clip_into(&f->cv, clip_path, image_size, why, why_n) != 0) return -1;
    if (!bart_path) goto write_base;
    if (vla_ckpt_open(&f->ck, bart_path, overlay_path, err, sizeof err) != 0) { snprintf(why, why_n, "%s", err); return -1; }
    f->cfg_owned = merged_config(c, f->ck.config);
    if (vla_conv_bart(&f->cv, f->ck.src, f->ck.n, f->cfg_owned, &skipped) != 0) {
        snprintf(why, why_n, "convert: %s", f->cv.err);
        return -1;
    }
    /* the PEFT modules become an adapter file bound to this base */
    n_peft = vla_conv_peft(&f->acv, f->ck.src, f->ck.n, f->cfg_owned);
    if (n_peft < 0) { snprintf(why, why_n, "convert adapter: %s", f->acv.err); return -1; }
    if (eos_override >= 0) {
        const vla_conv_tensor *t = vla_conv_find(&f->cv, "final_logits_bias");
        if (!t || (size_t)eos_override * 4 >= t->nbytes) { snprintf(why, why_n, "no final_logits_bias"); return -1; }
        ((float *)t->data)[eos_override] = eos_value;
    }
write_base:
    f->cv.fingerprint = vla_conv_fingerprint(&f->cv);
    if (vla_conv_write_mem(&f->cv, &f->gguf, &f->gguf_size) != 0) { snprintf(why, why_n, "%s", f->cv.err); return -1; }
    if ((st = vla_model_mem_req(f->gguf, f->gguf_size, &need)) != VLA_OK) { snprintf(why, why_n, "mem_req: %s", vla_status_str(st)); return -1; }
    f->model_mem = malloc(need);
    if ((st = vla_model_init(&f->m, f->model_mem, need, f->gguf, f->gguf_size, &lg)) != VLA_OK) {
        snprintf(why, why_n, "model init: %s", vla_status_str(st));
        return -1;
    }
    if (n_peft > 0) {
        f->acv.base_fingerprint = f->cv.fingerprint;
        if (vla_conv_write_mem(&f->acv, &f->agguf, &f->agguf_size) != 0) { snprintf(why, why_n, "%s", f->acv.err); return -1; }
        if ((st = vla_adapter_mem_req(f->m, f->agguf, f->agguf_size, &need)) != VLA_OK) { snprintf(why, why_n, "adapter mem_req: %s", vla_status_str(st)); return -1; }
        f->adp_mem = malloc(need);
        if ((st = vla_adapter_attach(&f->ad, f->m, f->adp_mem, need, f->agguf, f->agguf_size, &lg)) != VLA_OK) {
            snprintf(why, why_n, "adapter attach: %s", vla_status_str(st));
            return -1;
        }
        f->max_prompt = vla_adapter_prompt_len(f->ad);
    }
    return 0;
}

static int fx_model_load(const fx_case *c, fx_model *f, int eos_override, float eos_value, char *why, size_t why_n) {
    char p[2048];
    if (g_weights_override) return fx_model_build(c, g_weights_override, NULL, 0, f, eos_override, eos_value, NULL, why, why_n);
    if (!case_path(c, "weights", p, sizeof p)) {
        const vla_json *w = vla_json_get(c->man, "weights"), *fn = w ? vla_json_get(w, "file") : NULL;
        if (!fn || fn->type != VLA_JSON_STRING) { memset(f, 0, sizeof *f); snprintf(why, why_n, "no weights in the manifest"); return -1; }
        snprintf(p, sizeof p, "%s/%s", c->dir, fn->s);
    }
    return fx_model_build(c, p, NULL, 0, f, eos_override, eos_value, NULL, why, why_n);
}

/* ---- a context for B examples ---- */
typedef struct fx_ctx { void *mem; size_t size; vla_ctx *c; } fx_ctx;

static int fx_ctx_make(fx_ctx *x, const vla_model *m, int B, int Lt, int n_img, int grid, int T, int beams, int prompt) {
    vla_ctx_params p;
    memset(&p, 0, sizeof p);
    p.max_prompt_len = prompt;
    p.max_batch = B; p.max_text_len = Lt > 0 ? Lt : 1; p.max_images = n_img; p.max_grid = grid > 0 ? grid : 1;
    p.max_dec_len = T; p.max_beams = beams;
    p.exec.n_threads = 1;
    p.log.fn = log_stderr;
    memset(x, 0, sizeof *x);
    if (vla_ctx_mem_req(m, &p, &x->size) != VLA_OK) return -1;
    x->mem = malloc(x->size);
    if (!x->mem || vla_ctx_init(&x->c, m, &p, x->mem, x->size) != VLA_OK) return -1;
    return 0;
}

static void fx_ctx_free(fx_ctx *x) { free(x->mem); memset(x, 0, sizeof *x); }

/* Inputs of one variant ("" or "_caption"): ids, feats, boxes. */
typedef struct fx_inputs {
    vla_npy ids, feats, boxes;
    int have_feats, have_boxes;
    int32_t *ids32;
    int B, Lt, n_img, grid_h, grid_w;
    vla_input in;
} fx_inputs;

static void fx_inputs_free(fx_inputs *x) {
    vla_npy_free(&x->ids);
    if (x->have_feats) vla_npy_free(&x->feats);
    if (x->have_boxes) vla_npy_free(&x->boxes);
    free(x->ids32);
    memset(x, 0, sizeof *x);
}

static int fx_inputs_load(const fx_case *c, const char *suffix, const vla_hparams *hp, int n_images_hint, fx_inputs *x) {
    char k[128];
    int i, grid;
    memset(x, 0, sizeof *x);
    snprintf(k, sizeof k, "input_ids%s", suffix);
    if (!load_npy(c, k, &x->ids) || x->ids.n_dims != 2) return -1;
    x->B = (int)x->ids.shape[0];
    x->Lt = (int)x->ids.shape[1];
    x->ids32 = (int32_t *)malloc(sizeof(int32_t) * x->ids.count + 4);
    for (i = 0; i < (int)x->ids.count; i++) x->ids32[i] = (int32_t)vla_npy_i(&x->ids, (size_t)i);
    memset(&x->in, 0, sizeof x->in);
    x->in.batch = x->B; x->in.text_len = x->Lt; x->in.ids = x->ids32;
    snprintf(k, sizeof k, "vis_feats%s", suffix);
    if (hp->has_visual && load_npy(c, k, &x->feats)) {
        x->have_feats = 1;
        if (x->feats.n_dims != 3 || x->feats.shape[0] != x->B || x->feats.shape[2] != hp->feat_dim || strcmp(x->feats.descr, "<f4"))
            return -1;
        x->n_img = n_images_hint;
        grid = (int)x->feats.shape[1] / x->n_img;
        x->grid_h = 0;
        while ((x->grid_h + 1) * (x->grid_h + 1) <= grid) x->grid_h++;
        if (x->grid_h * x->grid_h != grid) return -1; /* square grids (7x7 CLIP) */
        x->grid_w = x->grid_h;
        x->in.n_images = x->n_img; x->in.grid_h = x->grid_h; x->in.grid_w = x->grid_w;
        x->in.feats = (const float *)x->feats.data;
        snprintf(k, sizeof k, "boxes%s", suffix);
        if (load_npy(c, k, &x->boxes)) {
            x->have_boxes = 1;
            if (x->boxes.count != (size_t)x->B * x->n_img * grid * 4 || strcmp(x->boxes.descr, "<f4")) return -1;
            x->in.boxes = (const float *)x->boxes.data;
        }
    }
    return 0;
}

static int max_beams_in(const fx_case *c, const char *suffix) {
    int i, nb = 1;
    for (i = 0; i < c->files->n_kid; i++) {
        const char *k = c->files->kid[i].key;
        int n;
        char tail[64];
        if (sscanf(k, "beam%d_ids%63s", &n, tail) == 2 && n > nb) {
            char want[64];
            snprintf(want, sizeof want, "%s.npy", suffix);
            if (!strcmp(tail, want)) nb = n;
        }
    }
    return nb;
}

/* One variant of a VLBart / BART case: forward outputs and generation. */
static void run_variant(const fx_case *c, fx_model *fm, const char *suffix, const vla_json *gen, int hf_plain, const char *task) {
    const vla_hparams *hp = vla_model_hparams(fm->m);
    fx_inputs x;
    fx_ctx cx;
    vla_npy dec, tgt, e;
    char key[128];
    int n_img = 1, T = 1, Tgen, nb, b, t, i, have_dec;
    const vla_json *nl = vla_json_get(c->man, "nlvr");
    vla_status st;
    if (nl) n_img = 2;
    if (fx_inputs_load(c, suffix, hp, n_img, &x) != 0) {
        snprintf(key, sizeof key, "inputs%s", suffix);
        report(c, key, 0, 0, 0, "(inputs missing or malformed)");
        fx_inputs_free(&x);
        return;
    }
    snprintf(key, sizeof key, "decoder_input_ids%s.npy", suffix);
    have_dec = load_npy(c, key, &dec);
    if (!have_dec) { /* shift_tokens_right(labels): [start, labels[:-1]], -100 -> pad */
        char tk[64];
        snprintf(tk, sizeof tk, "target_ids%s", suffix);
        if (load_npy(c, tk, &dec) && dec.n_dims == 2 && !strcmp(dec.descr, "<i8")) {
            int64_t *v = (int64_t *)(void *)(dec.file + ((const unsigned char *)dec.data - dec.file));
            int rr, q, W2 = (int)dec.shape[1];
            for (rr = 0; rr < (int)dec.shape[0]; rr++) {
                for (q = W2 - 1; q > 0; q--) v[(size_t)rr * W2 + q] = v[(size_t)rr * W2 + q - 1] == -100 ? hp->pad_id : v[(size_t)rr * W2 + q - 1];
                v[(size_t)rr * W2] = hp->dec_start_id;
            }
            have_dec = 1;
        }
    }
    if (have_dec) T = (int)dec.shape[1];
    Tgen = (int)vla_json_num(gen, "max_length", 0);
    /* widths of the expected generations bound the decoder length */
    for (i = 0; i < c->files->n_kid; i++) {
        const vla_json *sh = vla_json_get(&c->files->kid[i], "shape");
        if (strstr(c->files->kid[i].key, "_ids") && sh && sh->n_kid == 2 && (int)sh->kid[1].num > Tgen && !Tgen) Tgen = (int)sh->kid[1].num;
    }
    if (Tgen < 2) Tgen = 2;
    nb = max_beams_in(c, suffix);
    if (fx_ctx_make(&cx, fm->m, x.B, x.Lt, x.n_img, x.grid_h * x.grid_w, T > Tgen ? T : (Tgen > 2 ? Tgen : 2), nb, fm->max_prompt) != 0) {
        report(c, "context", 0, 0, 0, "(context init failed)");
        fx_inputs_free(&x);
        if (have_dec) vla_npy_free(&dec);
        return;
    }
    if (fm->ad && (st = vla_ctx_set_adapter(cx.c, fm->ad, task)) != VLA_OK) {
        report(c, "adapter", 0, 0, 0, vla_status_str(st));
        fx_ctx_free(&cx);
        fx_inputs_free(&x);
        if (have_dec) vla_npy_free(&dec);
        return;
    }
    /* visual embeddings */
    snprintf(key, sizeof key, "vis_embeds%s.npy", suffix);
    if (vla_json_get(c->files, key) && x.have_feats) {
        int L = 0, d = hp->d_model, Nv = x.n_img * hp->n_boxes;
        float *ve = (float *)malloc(sizeof(float) * (size_t)x.B * Nv * d);
        if ((st = vla_encode_embeddings(cx.c, &x.in)) != VLA_OK) report(c, key, 0, 0, 0, vla_status_str(st));
        else {
            for (b = 0; b < x.B; b++) {
                const float *o = vla_encoder_output(cx.c, b, &L);
                memcpy(ve + (size_t)b * Nv * d, o + (size_t)(L - Nv) * d, sizeof(float) * (size_t)Nv * d);
            }
            check_floats(c, key, ve, (size_t)x.B * Nv * d);
        }
        free(ve);
    }
    /* encoder output and teacher-forced logits: plain HF BART passes no mask */
    x.in.no_pad_mask = hf_plain;
    st = vla_encode(cx.c, &x.in);
    snprintf(key, sizeof key, "encoder_hidden%s.npy", suffix);
    if (vla_json_get(c->files, key)) {
        if (st != VLA_OK) report(c, key, 0, 0, 0, vla_status_str(st));
        else {
            int L = 0, d = hp->d_model;
            float *h;
            vla_encoder_output(cx.c, 0, &L);
            h = (float *)malloc(sizeof(float) * (size_t)x.B * L * d);
            for (b = 0; b < x.B; b++) memcpy(h + (size_t)b * L * d, vla_encoder_output(cx.c, b, NULL), sizeof(float) * (size_t)L * d);
            check_floats(c, key, h, (size_t)x.B * L * d);
            free(h);
        }
    }
    if (have_dec && st == VLA_OK) {
        int V = hp->vocab;
        float *lg = (float *)malloc(sizeof(float) * (size_t)x.B * T * V);
        int32_t *di = (int32_t *)malloc(sizeof(int32_t) * (size_t)x.B * T);
        for (i = 0; i < x.B * T; i++) di[i] = (int32_t)vla_npy_i(&dec, (size_t)i);
        st = vla_decode_logits(cx.c, di, T, lg);
        snprintf(key, sizeof key, "logits%s.npy", suffix);
        if (vla_json_get(c->files, key)) {
            if (st != VLA_OK) report(c, key, 0, 0, 0, vla_status_str(st));
            else check_floats(c, key, lg, (size_t)x.B * T * V);
        }
        snprintf(key, sizeof key, "token_loss%s.npy", suffix);
        if (vla_json_get(c->files, key) && st == VLA_OK) {
            char tk[64];
            float *loss = (float *)calloc((size_t)x.B * T, sizeof(float));
            snprintf(tk, sizeof tk, "target_ids%s", suffix);
            if (load_npy(c, tk, &tgt) && tgt.count == (size_t)x.B * T) {
                for (i = 0; i < x.B * T; i++) {
                    int64_t lab = vla_npy_i(&tgt, (size_t)i);
                    if (lab < 0 || lab >= V) continue; /* -100: ignored, loss 0 */
                    vla_log_softmax(lg + (size_t)i * V, V);
                    loss[i] = -lg[(size_t)i * V + lab];
                }
                check_floats(c, key, loss, (size_t)x.B * T);
                vla_npy_free(&tgt);
            } else report(c, key, 0, 0, 0, "(target ids missing)");
            free(loss);
        }
        free(lg);
        free(di);
    }
    /* NLVR2: decoder input [2, 0], logits at position 1, true if l[true] > l[false] */
    if (nl && vla_json_get(c->files, "nlvr_logits.npy")) {
        int V = hp->vocab, tid = (int)vla_json_num(nl, "true_id", -1), fid = (int)vla_json_num(nl, "false_id", -1);
        float *lg = (float *)malloc(sizeof(float) * (size_t)x.B * 2 * V), *pos1 = (float *)malloc(sizeof(float) * (size_t)x.B * V);
        float *pred = (float *)malloc(sizeof(float) * (size_t)x.B);
        int32_t *di = (int32_t *)malloc(sizeof(int32_t) * (size_t)x.B * 2);
        for (b = 0; b < x.B; b++) { di[2 * b] = hp->dec_start_id; di[2 * b + 1] = hp->bos_id; }
        x.in.no_pad_mask = 0;
        st = vla_encode(cx.c, &x.in);
        if (st == VLA_OK) st = vla_decode_logits(cx.c, di, 2, lg);
        if (st != VLA_OK) report(c, "nlvr_logits.npy", 0, 0, 0, vla_status_str(st));
        else {
            for (b = 0; b < x.B; b++) memcpy(pos1 + (size_t)b * V, lg + ((size_t)b * 2 + 1) * V, sizeof(float) * (size_t)V);
            check_floats(c, "nlvr_logits.npy", pos1, (size_t)x.B * V);
            if (vla_json_get(c->files, "pred_ans_id.npy") && tid >= 0 && fid >= 0 && tid < V && fid < V) {
                for (b = 0; b < x.B; b++) pred[b] = pos1[(size_t)b * V + tid] > pos1[(size_t)b * V + fid] ? 1.0f : 0.0f;
                check_floats(c, "pred_ans_id.npy", pred, (size_t)x.B);
            }
        }
        free(lg); free(pos1); free(pred); free(di);
    }
    /* generation (VLBart masks pads; so does generate() of plain BART) */
    x.in.no_pad_mask = 0;
    if (hf_plain) st = vla_encode(cx.c, &x.in);
    for (i = 0; i < c->files->n_kid; i++) {
        const char *k = c->files->kid[i].key;
        char want[96];
        int beams = 0;
        if (snprintf(want, sizeof want, "greedy_ids%s.npy", suffix) > 0 && !strcmp(k, want)) beams = 1;
        else {
            int n;
            char tail[64];
            if (sscanf(k, "beam%d_ids%63s", &n, tail) == 2) {
                snprintf(want, sizeof want, "%s.npy", suffix);
                if (!strcmp(tail, want)) beams = n;
            }
        }
        if (!beams) continue;
        if (!load_npy(c, k, &e) || e.n_dims != 2) { report(c, k, 0, 0, 0, "(expected file unreadable)"); continue; }
        {
            vla_gen_params g = vla_gen_defaults(fm->m);
            int W = (int)e.shape[1], ow = 0;
            int32_t *out = (int32_t *)malloc(sizeof(int32_t) * (size_t)x.B * W);
            g.num_beams = beams;
            g.max_length = Tgen > 0 ? Tgen : W;
            if (g.max_length > W) g.max_length = W;
            g.no_repeat_ngram = (int)vla_json_num(gen, "no_repeat_ngram_size", g.no_repeat_ngram);
            g.min_length = (int)vla_json_num(gen, "min_length", 0);
            g.early_stopping = 1;   /* bart-base's config; what every beam fixture uses */
            g.length_penalty = 1.0f;
            if (st == VLA_OK) st = vla_generate(cx.c, &g, out, &ow, NULL);
            if (st != VLA_OK) report(c, k, 0, 0, 0, vla_status_str(st));
            else {
                int ok = ids_equal(&e, 0, x.B, W, out, ow, g.max_length);
                report(c, k, ok, ok ? 0 : 1, 0, NULL);
                if (!ok && g_verbose) {
                    int r, q;
                    for (r = 0; r < x.B; r++) {
                        fprintf(stderr, "  got:");
                        for (q = 0; q < ow; q++) fprintf(stderr, " %d", out[r * g.max_length + q]);
                        fprintf(stderr, "\n  exp:");
                        for (q = 0; q < W; q++) fprintf(stderr, " %lld", (long long)vla_npy_i(&e, (size_t)r * W + q));
                        fprintf(stderr, "\n");
                    }
                }
            }
            free(out);
        }
        vla_npy_free(&e);
    }
    (void)t;
    if (have_dec) vla_npy_free(&dec);
    fx_ctx_free(&cx);
    fx_inputs_free(&x);
}

/* ---- training: loss, gradients, AdamW state, parameters after two steps ---- */

/* One training batch of the case: "" (step 1) or "step2_". */
typedef struct fx_tbatch {
    vla_npy ids, feats, boxes, tgt, scores;
    int have_feats, have_boxes, have_scores;
    int32_t *ids32, *lab32;
    float *sc;
    vla_train_batch b;
} fx_tbatch;

static void fx_tbatch_free(fx_tbatch *x) {
    vla_npy_free(&x->ids); vla_npy_free(&x->tgt);
    if (x->have_feats) vla_npy_free(&x->feats);
    if (x->have_boxes) vla_npy_free(&x->boxes);
    if (x->have_scores) vla_npy_free(&x->scores);
    free(x->ids32); free(x->lab32); free(x->sc);
    memset(x, 0, sizeof *x);
}

/* The loss the official model class uses for a task. */
static int fx_loss_kind(const char *task, vla_loss_kind *k) {
    if (!strcmp(task, "vqa")) *k = VLA_LOSS_VQA;
    else if (!strcmp(task, "gqa") || !strcmp(task, "nlvr")) *k = VLA_LOSS_EXAMPLE_MEAN;
    else if (!strcmp(task, "caption")) *k = VLA_LOSS_TOKEN_MEAN;
    else return 0;
    return 1;
}

static int fx_tbatch_load(const fx_case *c, const char *pre, const vla_hparams *hp, int n_img, const char *task, fx_tbatch *x) {
    char k[96];
    size_t i;
    int grid;
    memset(x, 0, sizeof *x);
    snprintf(k, sizeof k, "%sinput_ids", pre);
    if (!load_npy(c, k, &x->ids) || x->ids.n_dims != 2) return -1;
    snprintf(k, sizeof k, "%starget_ids", pre);
    if (!load_npy(c, k, &x->tgt) || x->tgt.n_dims != 2 || x->tgt.shape[0] != x->ids.shape[0]) { vla_npy_free(&x->ids); return -1; }
    x->ids32 = (int32_t *)malloc(sizeof(int32_t) * x->ids.count + 4);
    x->lab32 = (int32_t *)malloc(sizeof(int32_t) * x->tgt.count + 4);
    for (i = 0; i < x->ids.count; i++) x->ids32[i] = (int32_t)vla_npy_i(&x->ids, i);
    for (i = 0; i < x->tgt.count; i++) x->lab32[i] = (int32_t)vla_npy_i(&x->tgt, i);
    memset(&x->b, 0, sizeof x->b);
    x->b.task = task;
    if (!fx_loss_kind(task, &x->b.loss)) return -1;
    x->b.in.batch = (int)x->ids.shape[0]; x->b.in.text_len = (int)x->ids.shape[1]; x->b.in.ids = x->ids32;
    x->b.target_len = (int)x->tgt.shape[1]; x->b.labels = x->lab32;
    snprintf(k, sizeof k, "%svis_feats", pre);
    if (hp->has_visual && load_npy(c, k, &x->feats)) {
        x->have_feats = 1;
        if (x->feats.n_dims != 3 || x->feats.shape[0] != x->ids.shape[0] || x->feats.shape[2] != hp->feat_dim || strcmp(x->feats.descr, "<f4")) return -1;
        grid = (int)x->feats.shape[1] / n_img;
        x->b.in.n_images = n_img;
        x->b.in.grid_h = 0;
        while ((x->b.in.grid_h + 1) * (x->b.in.grid_h + 1) <= grid) x->b.in.grid_h++;
        if (x->b.in.grid_h * x->b.in.grid_h != grid) return -1;
        x->b.in.grid_w = x->b.in.grid_h;
        x->b.in.feats = (const float *)x->feats.data;
        snprintf(k, sizeof k, "%sboxes", pre);
        if (load_npy(c, k, &x->boxes)) {
            x->have_boxes = 1;
            if (x->boxes.count != (size_t)x->b.in.batch * n_img * grid * 4 || strcmp(x->boxes.descr, "<f4")) return -1;
            x->b.in.boxes = (const float *)x->boxes.data;
        }
    }
    if (x->b.loss == VLA_LOSS_VQA) {
        snprintf(k, sizeof k, "%sscores", pre);
        if (!load_npy(c, k, &x->scores) || x->scores.count != (size_t)x->b.in.batch) return -1;
        x->have_scores = 1;
        x->sc = (float *)malloc(sizeof(float) * (size_t)x->b.in.batch);
        for (i = 0; i < (size_t)x->b.in.batch; i++) x->sc[i] = (float)vla_npy_f(&x->scores, i);
        x->b.scores = x->sc;
    }
    return 0;
}

/* Compare the trainer's tensors with an expected safetensors file whose keys
 * are official names (prefix "exp_avg." / "exp_avg_sq." for AdamW state).
 * which: 0 values, 1 grads, 2 m, 3 v.  Every expected tensor must have a
 * trainable counterpart and, for grads, every tensor with a gradient must be
 * expected. */
static void fx_check_tensors(const fx_case *c, const char *file, const vla_trainer *tr, int which, const char *prefix,
                             double atol, double rtol) {
    char p[2048], err[512], note[256];
    vla_ckpt ck;
    int i, j, n = vla_trainer_n_tensors(tr), ok = 1, matched = 0, expected = 0;
    double worst = 0;
    snprintf(p, sizeof p, "%s/%s", c->dir, file);
    if (vla_ckpt_open(&ck, p, NULL, err, sizeof err) != 0) { report(c, file, 0, 0, 0, "(expected file unreadable)"); return; }
    note[0] = 0;
    for (j = 0; j < ck.n; j++) {
        const vla_conv_src *s = &ck.src[j];
        size_t pl = strlen(prefix), e;
        vla_train_tensor tt;
        if (strncmp(s->name, prefix, pl)) continue;
        if (!pl && (!strncmp(s->name, "exp_avg", 7))) continue;
        expected++;
        for (i = 0; i < n; i++) {
            vla_trainer_tensor(tr, i, &tt);
            if (!strcmp(tt.official, s->name + pl)) break;
        }
        if (i == n) { ok = 0; if (!note[0]) snprintf(note, sizeof note, "(%.200s is not trainable here)", s->name); continue; }
        matched++;
        if (s->dtype != VLA_TYPE_F32 || s->nbytes != tt.n * 4) { ok = 0; snprintf(note, sizeof note, "(%.200s: size)", s->name); continue; }
        {
            int d;
            for (d = 0; d < s->n_dims; d++)
                if (s->shape[d] != tt.ne[s->n_dims - 1 - d]) { ok = 0; snprintf(note, sizeof note, "(%.200s: shape)", s->name); }
        }
        for (e = 0; e < tt.n; e++) {
            float x;
            const float *got = which == 0 ? tt.value : which == 1 ? tt.grad : which == 2 ? tt.m : tt.v;
            double dd;
            memcpy(&x, (const unsigned char *)s->data + 4 * e, 4);
            dd = fabs((double)got[e] - (double)x);
            if (!(dd <= atol + rtol * fabs((double)x))) {
                if (ok && g_verbose) fprintf(stderr, "  %s %s[%zu]: got %.8g expected %.8g\n", file, s->name, e, got[e], x);
                ok = 0;
                if (!note[0]) snprintf(note, sizeof note, "(first: %.200s)", s->name);
            }
            if (dd > worst || dd != dd) worst = dd;
        }
    }
    if (which == 1)
        for (i = 0; i < n; i++) {
            vla_train_tensor tt;
            vla_trainer_tensor(tr, i, &tt);
            if (!tt.has_grad) continue;
            for (j = 0; j < ck.n; j++) if (!strcmp(ck.src[j].name, tt.official)) break;
            if (j == ck.n) { ok = 0; snprintf(note, sizeof note, "(%.200s has a gradient the oracle lacks)", tt.official); }
        }
    if (!expected) { ok = 0; snprintf(note, sizeof note, "(no tensors in the file)"); }
    vla_ckpt_close(&ck);
    report(c, file, ok, worst, atol, note[0] ? note : NULL);
    (void)matched;
}

static int fx_close(double got, double want, double atol, double rtol) { return fabs(got - want) <= atol + rtol * fabs(want); }

/* The trainable set against the manifest's param groups (names and weight decay). */
static void fx_check_trainable(const fx_case *c, const vla_trainer *tr, const vla_json *groups) {
    int i, g, k, n = vla_trainer_n_tensors(tr), ok = 1, listed = 0;
    char note[300];
    note[0] = 0;
    for (g = 0; groups && g < groups->n_kid; g++) {
        const vla_json *grp = &groups->kid[g], *names = vla_json_get(grp, "trainable_params");
        double wd = vla_json_num(grp, "weight_decay", -1);
        for (k = 0; names && k < names->n_kid; k++) {
            vla_train_tensor tt;
            listed++;
            for (i = 0; i < n; i++) { vla_trainer_tensor(tr, i, &tt); if (!strcmp(tt.official, names->kid[k].s)) break; }
            if (i == n) { ok = 0; snprintf(note, sizeof note, "(%.200s not trainable here)", names->kid[k].s); continue; }
            if ((wd > 0) != (tt.decay != 0)) { ok = 0; snprintf(note, sizeof note, "(%.200s: weight decay differs)", tt.official); }
        }
    }
    if (listed != n) { ok = 0; if (!note[0]) snprintf(note, sizeof note, "(%d trainable here, %d listed)", n, listed); }
    report(c, "trainable_set", ok, ok ? 0 : 1, 0, note[0] ? note : NULL);
}

static void run_training(const fx_case *c, fx_model *fm) {
    const vla_json *tr = vla_json_get(c->man, "training"), *steps = tr ? vla_json_get(tr, "steps") : NULL;
    const vla_json *cfg = fm->cfg_owned, *flags = vla_json_get(c->man, "script_flags"), *rule = tr ? vla_json_get(tr, "trainable_rule") : NULL;
    const vla_json *taskj = vla_json_get(c->man, "task"), *opt = tr ? vla_json_get(tr, "optimizer") : NULL, *sched = tr ? vla_json_get(tr, "schedule") : NULL;
    const vla_hparams *hp = vla_model_hparams(fm->m);
    const char *task = taskj && taskj->type == VLA_JSON_STRING ? taskj->s : "vqa";
    vla_train_params p;
    fx_tbatch bt[2];
    size_t need;
    void *mem = NULL;
    vla_trainer *t = NULL;
    vla_status st;
    int s, n_img = vla_json_get(c->man, "nlvr") ? 2 : 1, maxB = 1, maxL = 1, maxT = 1, grid = 1;
    const char *pre[2] = {"", "step2_"};
    if (!steps || steps->type != VLA_JSON_ARRAY || steps->n_kid < 1) return;
    if (steps->n_kid > 2) { report(c, "training", 0, 0, 0, "(more than two steps: the runner reads step1/step2 batches only)"); return; }
    for (s = 0; s < steps->n_kid; s++)
        if (fx_tbatch_load(c, pre[s], hp, n_img, task, &bt[s]) != 0) {
            char note[128];
            snprintf(note, sizeof note, "(step %d batch missing or malformed, or unknown task '%s')", s + 1, task);
            report(c, "training", 0, 0, 0, note);
            while (s >= 0) fx_tbatch_free(&bt[s--]);
            return;
        }
    for (s = 0; s < steps->n_kid; s++) {
        if (bt[s].b.in.batch > maxB) maxB = bt[s].b.in.batch;
        if (bt[s].b.in.text_len > maxL) maxL = bt[s].b.in.text_len;
        if (bt[s].b.target_len > maxT) maxT = bt[s].b.target_len;
        if (bt[s].b.in.grid_h * bt[s].b.in.grid_w > grid) grid = bt[s].b.in.grid_h * bt[s].b.in.grid_w;
    }
    /* everything below comes from the case: optimizer, schedule, what trains */
    p = vla_train_defaults(NULL);
    p.max_batch = maxB; p.max_text_len = maxL; p.max_target_len = maxT; p.max_images = hp->has_visual ? n_img : 0; p.max_grid = grid;
    p.lr = vla_json_num(cfg, "lr", vla_json_num(opt, "lr", 1e-4));
    p.weight_decay = (float)vla_json_num(cfg, "weight_decay", vla_json_num(opt, "weight_decay", 0.01));
    p.eps = (float)vla_json_num(cfg, "adam_eps", vla_json_num(opt, "eps", 1e-6));
    if (opt && vla_json_get(opt, "betas") && vla_json_get(opt, "betas")->n_kid == 2) {
        p.beta1 = (float)vla_json_get(opt, "betas")->kid[0].num;
        p.beta2 = (float)vla_json_get(opt, "betas")->kid[1].num;
    }
    p.clip_norm = (float)vla_json_num(cfg, "clip_grad_norm", 5.0);
    p.dropout = (float)vla_json_num(cfg, "dropout", 0.1);
    p.total_steps = 0;
    if (sched && sched->type == VLA_JSON_STRING && strstr(sched->s, "total=")) p.total_steps = atol(strstr(sched->s, "total=") + 6);
    if (p.total_steps < 1) { report(c, "training", 0, 0, 0, "(schedule: no total=N in the manifest)"); goto out; }
    p.warmup_steps = (long)(p.total_steps * vla_json_num(cfg, "warmup_ratio", 0.0));
    p.train_layer_norms = vla_json_num(cfg, "unfreeze_layer_norms", 0) != 0;
    p.train_biases = vla_json_num(cfg, "use_lora", 0) != 0;
    p.full_finetune = (flags && vla_json_num(flags, "unfreeze_language_model", 0) != 0) ||
                      (rule && vla_json_num(rule, "all_parameters_trainable", 0) != 0);
    p.exec.n_threads = 1;
    p.log.fn = log_stderr;
    if ((st = vla_trainer_mem_req(fm->m, fm->agguf, fm->agguf_size, &p, &need)) != VLA_OK) { report(c, "trainer", 0, 0, 0, vla_status_str(st)); goto out; }
    mem = malloc(need);
    if (!mem || (st = vla_trainer_init(&t, fm->m, fm->agguf, fm->agguf_size, &p, mem, need)) != VLA_OK) {
        report(c, "trainer", 0, 0, 0, mem ? vla_status_str(st) : "out of memory");
        goto out;
    }
    fx_check_trainable(c, t, tr ? vla_json_get(tr, "param_groups") : NULL);
    for (s = 0; s < steps->n_kid; s++) {
        const vla_json *sj = &steps->kid[s], *tol = vla_json_get(sj, "tolerance"), *lt = tol ? vla_json_get(tol, "loss") : NULL;
        const vla_json *gt = tol ? vla_json_get(tol, "grads") : NULL, *pt = tol ? vla_json_get(tol, "params") : NULL;
        const vla_json *gf = vla_json_get(sj, "grads_file"), *pf = vla_json_get(sj, "params_file"), *af = vla_json_get(sj, "adam_state_file");
        const vla_json *lu = vla_json_get(sj, "lr_used");
        float loss = 0, lr = 0, gn = 0;
        char key[64];
        double want;
        if ((st = vla_trainer_backward(t, &bt[s].b, &loss)) != VLA_OK) { report(c, "training", 0, 0, 0, vla_status_str(st)); break; }
        want = vla_json_num(sj, "loss", NAN);
        snprintf(key, sizeof key, "loss_step%d", s + 1);
        report(c, key, fx_close(loss, want, vla_json_num(lt, "atol", 1e-5), vla_json_num(lt, "rtol", 1e-5)), fabs(loss - want), vla_json_num(lt, "atol", 1e-5), NULL);
        if (gf && gf->type == VLA_JSON_STRING) fx_check_tensors(c, gf->s, t, 1, "", vla_json_num(gt, "atol", 2e-5), vla_json_num(gt, "rtol", 1e-3));
        vla_trainer_apply(t, &lr, &gn);
        want = vla_json_num(sj, "grad_norm_before_clip", NAN);
        snprintf(key, sizeof key, "grad_norm_step%d", s + 1);
        report(c, key, fx_close(gn, want, 1e-4, 1e-4), fabs(gn - want), 1e-4, NULL);
        if (lu && lu->n_kid > 0) {
            snprintf(key, sizeof key, "lr_step%d", s + 1);
            report(c, key, fx_close(lr, lu->kid[0].num, 0, 1e-6), fabs(lr - lu->kid[0].num), 0, NULL);
        }
        if (af && af->type == VLA_JSON_STRING) {
            fx_check_tensors(c, af->s, t, 2, "exp_avg.", vla_json_num(pt, "atol", 2e-6), vla_json_num(pt, "rtol", 1e-5));
            fx_check_tensors(c, af->s, t, 3, "exp_avg_sq.", vla_json_num(pt, "atol", 2e-6), vla_json_num(pt, "rtol", 1e-5));
        }
        if (pf && pf->type == VLA_JSON_STRING) fx_check_tensors(c, pf->s, t, 0, "", vla_json_num(pt, "atol", 2e-6), vla_json_num(pt, "rtol", 1e-5));
    }
out:
    free(mem);
    for (s = 0; s < steps->n_kid; s++) fx_tbatch_free(&bt[s]);
}

static void run_bart_case(const fx_case *c) {
    fx_model fm;
    char why[600];
    const vla_json *cfg;
    const char *peft;
    const vla_json *second = vla_json_get(c->man, "second_task");
    int hf_plain = vla_json_get(c->man, "weights") == NULL && vla_json_get(c->man, "task") == NULL;
    if (fx_model_load(c, &fm, -1, 0, why, sizeof why) != 0) {
        report(c, "model", 0, 0, 0, why);
        fx_model_free(&fm);
        return;
    }
    cfg = fm.cfg_owned;
    peft = peft_method(cfg);
    if (peft && !fm.ad) {
        char note[128];
        snprintf(note, sizeof note, "config asks for '%s' but the weights hold no such modules", peft);
        report(c, "model", 0, 0, 0, note);
        fx_model_free(&fm);
        return;
    }
    {
        const vla_json *tj = vla_json_get(c->man, "task");
        run_variant(c, &fm, "", vla_json_get(c->man, "generation"), hf_plain, tj && tj->type == VLA_JSON_STRING ? tj->s : NULL);
    }
    if (second) {
        const vla_json *task = vla_json_get(second, "task");
        char suffix[64];
        if (task && task->type == VLA_JSON_STRING) {
            snprintf(suffix, sizeof suffix, "_%s", task->s);
            run_variant(c, &fm, suffix, vla_json_get(second, "generation"), hf_plain, task->s);
        }
    }
    if (!g_capture) run_training(c, &fm);
    fx_model_free(&fm);
}

/* bart_decode_eos: greedy and beam search over a grid of settings with the
 * EOS logit bias raised. */
static void run_decode_eos(const fx_case *c) {
    vla_npy gs, gi, bs, bi, bsc, ids1, ids2, feats, boxes;
    fx_model fm;
    char why[600];
    const vla_json *ov = vla_json_get(c->man, "eos_override"), *vpo = ov ? vla_json_get(ov, "value_per_offset") : NULL;
    int B, Lt, grid, s, r, k, bad_g = 0, bad_b = 0, bad_sc = 0, n_g, n_b, W;
    double base = ov ? vla_json_num(ov, "bart_base_value", 0) : 0, worst_score = 0, atol, rtol;
    int exact;
    int32_t *ids, *out;
    float *fe, *bx, *scores;
    fx_model *mp = &fm;
    if (!load_npy(c, "greedy_settings.npy", &gs) || !load_npy(c, "greedy_ids.npy", &gi) || !load_npy(c, "beam_settings.npy", &bs) ||
        !load_npy(c, "beam_ids.npy", &bi) || !load_npy(c, "beam_scores.npy", &bsc) || !load_npy(c, "input_ids", &ids1) ||
        !load_npy(c, "step2_input_ids", &ids2) || !load_npy(c, "vis_feats", &feats) || !load_npy(c, "boxes", &boxes)) {
        report(c, "inputs", 0, 0, 0, "(files missing)");
        return;
    }
    B = (int)(ids1.shape[0] + ids2.shape[0]);
    Lt = (int)ids1.shape[1];
    grid = (int)feats.shape[1];
    ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)B * Lt);
    for (r = 0; r < (int)ids1.count; r++) ids[r] = (int32_t)vla_npy_i(&ids1, (size_t)r);
    for (r = 0; r < (int)ids2.count; r++) ids[ids1.count + (size_t)r] = (int32_t)vla_npy_i(&ids2, (size_t)r);
    fe = (float *)malloc(feats.count * 4 * 2);
    bx = (float *)malloc(boxes.count * 4 * 2);
    memcpy(fe, feats.data, feats.count * 4); memcpy(fe + feats.count, feats.data, feats.count * 4);
    memcpy(bx, boxes.data, boxes.count * 4); memcpy(bx + boxes.count, boxes.data, boxes.count * 4);
    W = (int)gi.shape[2];
    out = (int32_t *)malloc(sizeof(int32_t) * (size_t)B * 4096); /* any max_length the context takes */
    scores = (float *)malloc(sizeof(float) * (size_t)B);
    n_g = (int)gs.shape[0];
    n_b = (int)bs.shape[0];
    tolerances(c, "beam_scores.npy", &atol, &rtol, &exact);
    for (s = 0; s < n_g + n_b; s++) {
        int is_beam = s >= n_g, si = is_beam ? s - n_g : s, ow = 0;
        const vla_npy *set = is_beam ? &bs : &gs;
        int ncol = (int)set->shape[1];
        double off = vla_npy_f(set, (size_t)si * ncol);
        float val = (float)(base + off);
        vla_gen_params g;
        fx_ctx cx;
        vla_input in;
        vla_status st;
        if (vpo) { /* the exact float32 values the manifest lists */
            int q;
            for (q = 0; q < vpo->n_kid; q++)
                if (fabs(atof(vpo->kid[q].key) - off) < 1e-9) val = (float)vpo->kid[q].num;
        }
        if (fx_model_load(c, mp, 2, val, why, sizeof why) != 0) { report(c, "model", 0, 0, 0, why); fx_model_free(mp); break; }
        g = vla_gen_defaults(mp->m);
        g.no_repeat_ngram = 3;
        g.min_length = 0;
        if (is_beam) {
            g.num_beams = (int)vla_npy_f(set, (size_t)si * ncol + 1);
            g.length_penalty = (float)vla_npy_f(set, (size_t)si * ncol + 2);
            g.early_stopping = vla_npy_f(set, (size_t)si * ncol + 3) != 0;
            g.max_length = (int)vla_npy_f(set, (size_t)si * ncol + 4);
        } else {
            g.num_beams = 1;
            g.max_length = (int)vla_npy_f(set, (size_t)si * ncol + 1);
        }
        if (fx_ctx_make(&cx, mp->m, B, Lt, 1, grid, g.max_length, g.num_beams, 0) != 0) { report(c, "context", 0, 0, 0, NULL); fx_model_free(mp); break; }
        memset(&in, 0, sizeof in);
        in.batch = B; in.text_len = Lt; in.ids = ids; in.n_images = 1;
        in.grid_h = in.grid_w = (int)(sqrt((double)grid) + 0.5);
        in.feats = fe; in.boxes = bx;
        st = vla_encode(cx.c, &in);
        if (st == VLA_OK) st = vla_generate(cx.c, &g, out, &ow, scores);
        if (st != VLA_OK) { if (is_beam) bad_b++; else bad_g++; }
        else {
            const vla_npy *exp = is_beam ? &bi : &gi;
            int okk = ids_equal(exp, (size_t)si * B * W, B, W, out, ow, g.max_length);
            if (!okk) {
                if (is_beam) bad_b++; else bad_g++;
                if (g_verbose) fprintf(stderr, "  setting %s %d differs\n", is_beam ? "beam" : "greedy", si);
            }
            if (is_beam)
                for (k = 0; k < B; k++) {
                    double x = vla_npy_f(&bsc, (size_t)si * B + k), d = fabs(scores[k] - x);
                    if (d > worst_score) worst_score = d;
                    if (!(d <= atol + rtol * fabs(x))) bad_sc++;
                }
        }
        fx_ctx_free(&cx);
        fx_model_free(mp);
    }
    report(c, "greedy_ids.npy", bad_g == 0, bad_g, 0, NULL);
    report(c, "beam_ids.npy", bad_b == 0, bad_b, 0, NULL);
    report(c, "beam_scores.npy", bad_sc == 0, worst_score, atol, NULL);
    free(ids); free(fe); free(bx); free(out); free(scores);
    vla_npy_free(&gs); vla_npy_free(&gi); vla_npy_free(&bs); vla_npy_free(&bi); vla_npy_free(&bsc);
    vla_npy_free(&ids1); vla_npy_free(&ids2); vla_npy_free(&feats); vla_npy_free(&boxes);
}

/* The adaptive max pool fixtures of the input cases. */
static void run_pool_case(const fx_case *c, const char *in_key, const char *out_key, int n_img) {
    vla_npy in, ex;
    char p[2048];
    int B, N, F, b, m, side, gs;
    float *o;
    if (!case_path(c, in_key, p, sizeof p) || !load_npy(c, in_key, &in)) return;
    if (!load_npy(c, out_key, &ex)) { vla_npy_free(&in); return; }
    B = (int)in.shape[0]; N = (int)in.shape[1] / n_img; F = (int)in.shape[2];
    side = 0; while ((side + 1) * (side + 1) <= N) side++;
    gs = 0; while ((gs + 1) * (gs + 1) <= (int)ex.shape[1] / n_img) gs++;
    o = (float *)malloc(sizeof(float) * ex.count);
    for (b = 0; b < B; b++)
        for (m = 0; m < n_img; m++)
            vla_adaptive_maxpool2d(o + ((size_t)b * n_img + m) * gs * gs * F, (const float *)in.data + ((size_t)b * n_img + m) * N * F,
                                   side, side, F, gs, gs);
    vla_npy_free(&ex);
    check_floats(c, out_key, o, (size_t)B * n_img * gs * gs * F);
    free(o);
    vla_npy_free(&in);
}

/* ---- CLIP: preprocessing and the trunk ---- */

static void run_clip_preprocess(const fx_case *c) {
    vla_npy rgb, ex;
    int S, H, W;
    unsigned char *resized, *arena_mem;
    float *pv;
    size_t need;
    vla_arena a;
    vla_image img;
    vla_status st;
    if (!load_npy(c, "rgb_uint8.npy", &rgb) || rgb.n_dims != 3 || rgb.shape[2] != 3) { report(c, "rgb_uint8.npy", 0, 0, 0, "(unreadable)"); return; }
    if (!load_npy(c, "resized_uint8.npy", &ex)) { report(c, "resized_uint8.npy", 0, 0, 0, "(unreadable)"); vla_npy_free(&rgb); return; }
    S = (int)ex.shape[0]; H = (int)rgb.shape[0]; W = (int)rgb.shape[1];
    need = vla_clip_preprocess_scratch_size(W, H, S);
    if (vla_image_resize_scratch_size(W, H, S, S) > need) need = vla_image_resize_scratch_size(W, H, S, S);
    arena_mem = (unsigned char *)malloc(need + 2 * VLA_ALIGN);
    resized = (unsigned char *)malloc((size_t)S * S * 3);
    pv = (float *)malloc(sizeof(float) * (size_t)S * S * 3);
    vla_arena_init(&a, arena_mem, need + 2 * VLA_ALIGN);
    vla_image_view(&img, rgb.data, W, H, 3, 0);
    st = vla_image_resize(&a, resized, S, S, &img);
    if (st != VLA_OK) report(c, "resized_uint8.npy", 0, 0, 0, vla_status_str(st));
    else {
        float *f = (float *)malloc(sizeof(float) * (size_t)S * S * 3);
        size_t i;
        for (i = 0; i < (size_t)S * S * 3; i++) f[i] = resized[i];
        check_floats(c, "resized_uint8.npy", f, (size_t)S * S * 3);
        free(f);
    }
    st = vla_clip_preprocess(&a, pv, S, VLA_LAYOUT_CHW, &img);
    if (st != VLA_OK) report(c, "pixel_values.npy", 0, 0, 0, vla_status_str(st));
    else check_floats(c, "pixel_values.npy", pv, (size_t)S * S * 3);
    free(arena_mem); free(resized); free(pv);
    vla_npy_free(&rgb); vla_npy_free(&ex);
}

/* Convert a CLIP checkpoint (any supported format) into cv. */
static int fx_clip_into(vla_conv *cv, const char *clip_path, int image_size, char *why, size_t why_n) {
    char err[512];
    vla_ckpt k;
    int rc;
    if (vla_ckpt_open(&k, clip_path, NULL, err, sizeof err) != 0) { snprintf(why, why_n, "%s", err); return -1; }
    rc = vla_conv_clip(cv, k.src, k.n, image_size);
    if (rc != 0) snprintf(why, why_n, "convert: %s", cv->err);
    vla_ckpt_close(&k);
    return rc;
}

/* NCHW [1, C, S, S] float input -> HWC */
static float *nchw_to_hwc(const vla_npy *a) {
    int C = (int)a->shape[1], H = (int)a->shape[2], W = (int)a->shape[3], ch, y, x;
    float *o = (float *)malloc(sizeof(float) * (size_t)C * H * W);
    for (ch = 0; ch < C; ch++)
        for (y = 0; y < H; y++)
            for (x = 0; x < W; x++) o[((size_t)y * W + x) * C + ch] = (float)vla_npy_f(a, ((size_t)ch * H + y) * W + x);
    return o;
}

static void run_clip_trunk(const fx_case *c) {
    fx_model fm;
    fx_ctx cx;
    vla_ctx_params p;
    char wp[2048], ip[2048], why[600], err[256];
    vla_npy px;
    float *img, *out, *nchw;
    int S, stage, h, w, ch, k;
    static const char *names[5] = {"stem_out.npy", "layer1_out.npy", "layer2_out.npy", "layer3_out.npy", "grid_features.npy"};
    const vla_json *wj = vla_json_get(c->man, "weights"), *wf = wj ? vla_json_get(wj, "file") : NULL;
    if (!case_path(c, "input", ip, sizeof ip) || !wf) { report(c, "inputs", 0, 0, 0, "(manifest has no input or weights)"); return; }
    snprintf(wp, sizeof wp, "%s/%s", c->dir, wf->s);
    if (g_weights_override) snprintf(wp, sizeof wp, "%s", g_weights_override);
    if (vla_npy_load(ip, &px, err, sizeof err) != 0 || px.n_dims != 4 || px.shape[1] != 3) { report(c, "inputs", 0, 0, 0, err); return; }
    S = (int)px.shape[2];
    if (fx_model_build(c, NULL, wp, S, &fm, -1, 0, NULL, why, sizeof why) != 0) { report(c, "model", 0, 0, 0, why); fx_model_free(&fm); vla_npy_free(&px); return; }
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = 1; p.max_images = 1; p.max_dec_len = 2; p.max_beams = 1; p.use_clip = 1; p.exec.n_threads = 1;
    memset(&cx, 0, sizeof cx);
    if (vla_ctx_mem_req(fm.m, &p, &cx.size) != VLA_OK || !(cx.mem = malloc(cx.size)) || vla_ctx_init(&cx.c, fm.m, &p, cx.mem, cx.size) != VLA_OK) {
        report(c, "context", 0, 0, 0, "(context init failed)");
        fx_model_free(&fm); vla_npy_free(&px); free(cx.mem);
        return;
    }
    img = nchw_to_hwc(&px);
    { /* the largest stage output: the stem at S/2 (w channels) or layer1 at S/4 (4w) */
        size_t w8 = (size_t)vla_model_hparams(fm.m)->clip_width * 8;
        out = (float *)malloc(sizeof(float) * (size_t)S * S * w8);
        nchw = (float *)malloc(sizeof(float) * (size_t)S * S * w8);
    }
    for (stage = 0; stage <= 4; stage++) {
        vla_status st;
        if (!vla_json_get(c->files, names[stage])) continue;
        st = vla_clip_run(cx.c, img, stage, out, &h, &w, &ch);
        if (st != VLA_OK) { report(c, names[stage], 0, 0, 0, vla_status_str(st)); continue; }
        if (stage < 4) { /* compare as NCHW */
            for (k = 0; k < h * w * ch; k++) nchw[(size_t)(k % ch) * h * w + k / ch] = out[k];
            check_floats(c, names[stage], nchw, (size_t)h * w * ch);
        } else {
            check_floats(c, names[stage], out, (size_t)h * w * ch);
            if (vla_json_get(c->files, "pooled_6x6.npy")) {
                vla_adaptive_maxpool2d(nchw, out, h, w, ch, 6, 6);
                check_floats(c, "pooled_6x6.npy", nchw, (size_t)36 * ch);
            }
        }
    }
    free(img); free(out); free(nchw); free(cx.mem);
    fx_model_free(&fm);
    vla_npy_free(&px);
}

/* e2e: pixels -> preprocess -> CLIP trunk -> VL-BART with its adapter -> ids */
static void run_e2e(const fx_case *c) {
    const vla_json *in = vla_json_get(c->man, "inputs"), *gen = vla_json_get(c->man, "generation");
    const vla_json *jc = vla_json_get(in, "clip_weights"), *jb = vla_json_get(in, "bart_weights"), *ji = vla_json_get(in, "image");
    const vla_json *jt = vla_json_get(in, "task");
    char cp[2048], bp[2048], rp[2048], op[2048], why[600], err[256];
    vla_npy rgb, ids;
    fx_model fm;
    fx_ctx cx;
    vla_ctx_params p;
    vla_input vin;
    vla_image img;
    vla_arena a;
    float *pix = NULL;
    unsigned char *scratch = NULL;
    int32_t *id32 = NULL, out[2 * 64];
    int S, Lt, i, k, ow, Tm;
    vla_status st;
    char *sl;
    if (!jc || !jb || !ji || jc->type != VLA_JSON_STRING || jb->type != VLA_JSON_STRING || ji->type != VLA_JSON_STRING) {
        report(c, "inputs", 0, 0, 0, "(manifest inputs incomplete)");
        return;
    }
    snprintf(cp, sizeof cp, "%s/%.*s", c->dir, (int)strcspn(jc->s, " "), jc->s);   /* "../x.safetensors (note)" */
    snprintf(bp, sizeof bp, "%s/%.*s", c->dir, (int)strcspn(jb->s, " "), jb->s);
    snprintf(rp, sizeof rp, "%s/%s", c->dir, ji->s);
    sl = strrchr(rp, '/');
    if (sl) snprintf(sl + 1, sizeof rp - (size_t)(sl + 1 - rp), "rgb_uint8.npy"); /* the decoded image beside it */
    if (vla_npy_load(rp, &rgb, err, sizeof err) != 0) { report(c, "inputs", 0, 0, 0, err); return; }
    if (!load_npy(c, "input_ids.npy", &ids)) { report(c, "inputs", 0, 0, 0, "(input_ids.npy)"); vla_npy_free(&rgb); return; }
    S = 224;
    {
        vla_npy px;
        char pp[2048];
        const vla_json *jp = vla_json_get(in, "pixel_values");
        if (jp && jp->type == VLA_JSON_STRING) {
            snprintf(pp, sizeof pp, "%s/%s", c->dir, jp->s);
            if (vla_npy_load(pp, &px, err, sizeof err) == 0) { S = (int)px.shape[2]; vla_npy_free(&px); }
        }
    }
    /* The oracle ran this chain on the single-adapter model as it was after
     * that case's two training steps (its params_step2.safetensors): with
     * those values the encoder output agrees to 1e-6, with the untrained
     * weights.safetensors it is off by 2.  Use them when they exist. */
    {
        char *sl2;
        snprintf(op, sizeof op, "%s", bp);
        sl2 = strrchr(op, '/');
        if (sl2) snprintf(sl2 + 1, sizeof op - (size_t)(sl2 + 1 - op), "params_step2.safetensors");
        if (access(op, R_OK) != 0) op[0] = 0;
    }
    if (fx_model_build(c, bp, cp, S, &fm, -1, 0, op[0] ? op : NULL, why, sizeof why) != 0) {
        report(c, "model", 0, 0, 0, why);
        fx_model_free(&fm); vla_npy_free(&rgb); vla_npy_free(&ids);
        return;
    }
    /* the picture as a camera would hand it over: 8-bit RGB rows */
    vla_image_view(&img, rgb.data, (int)rgb.shape[1], (int)rgb.shape[0], 3, 0);
    scratch = (unsigned char *)malloc(vla_clip_preprocess_scratch_size(img.width, img.height, S) + 2 * VLA_ALIGN);
    vla_arena_init(&a, scratch, vla_clip_preprocess_scratch_size(img.width, img.height, S) + 2 * VLA_ALIGN);
    pix = (float *)malloc(sizeof(float) * (size_t)S * S * 3);
    st = vla_clip_preprocess(&a, pix, S, VLA_LAYOUT_HWC, &img);
    Lt = (int)ids.shape[1];
    id32 = (int32_t *)malloc(sizeof(int32_t) * (size_t)Lt);
    for (i = 0; i < Lt; i++) id32[i] = (int32_t)vla_npy_i(&ids, (size_t)i);
    Tm = (int)vla_json_num(gen, "max_length", 20);
    if (Tm > 64) Tm = 64;
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = Lt; p.max_images = 1; p.max_dec_len = Tm; p.max_beams = 5; p.use_clip = 1;
    p.max_prompt_len = fm.max_prompt; p.exec.n_threads = 1;
    memset(&cx, 0, sizeof cx);
    if (st != VLA_OK || vla_ctx_mem_req(fm.m, &p, &cx.size) != VLA_OK || !(cx.mem = malloc(cx.size)) ||
        vla_ctx_init(&cx.c, fm.m, &p, cx.mem, cx.size) != VLA_OK ||
        (fm.ad && vla_ctx_set_adapter(cx.c, fm.ad, jt && jt->type == VLA_JSON_STRING ? jt->s : NULL) != VLA_OK)) {
        report(c, "context", 0, 0, 0, "(preprocess, context or adapter failed)");
    } else {
        memset(&vin, 0, sizeof vin);
        vin.batch = 1; vin.text_len = Lt; vin.ids = id32; vin.n_images = 1; vin.images = pix;
        st = vla_encode(cx.c, &vin);
        if (st != VLA_OK) report(c, "encoder_hidden.npy", 0, 0, 0, vla_status_str(st));
        else {
            int L = 0;
            const float *h = vla_encoder_output(cx.c, 0, &L);
            check_floats(c, "encoder_hidden.npy", h, (size_t)L * vla_model_hparams(fm.m)->d_model);
        }
        for (k = 0; k < 2 && st == VLA_OK; k++) {
            const char *key = k ? "beam5_ids.npy" : "greedy_ids.npy";
            vla_npy e;
            vla_gen_params g = vla_gen_defaults(fm.m);
            if (!vla_json_get(c->files, key) || !load_npy(c, key, &e)) continue;
            g.num_beams = k ? 5 : 1; g.max_length = Tm; g.early_stopping = 1; g.length_penalty = 1.0f;
            g.no_repeat_ngram = (int)vla_json_num(gen, "no_repeat_ngram_size", g.no_repeat_ngram);
            st = vla_generate(cx.c, &g, out, &ow, NULL);
            if (st != VLA_OK) report(c, key, 0, 0, 0, vla_status_str(st));
            else {
                int ok = ids_equal(&e, 0, 1, (int)e.shape[1], out, ow, Tm), q;
                report(c, key, ok, ok ? 0 : 1, 0, NULL);
                if (!ok && g_verbose) {
                    fprintf(stderr, "  got:");
                    for (q = 0; q < ow; q++) fprintf(stderr, " %d", out[q]);
                    fprintf(stderr, "\n  exp:");
                    for (q = 0; q < (int)e.shape[1]; q++) fprintf(stderr, " %lld", (long long)vla_npy_i(&e, (size_t)q));
                    fprintf(stderr, "\n");
                }
            }
            vla_npy_free(&e);
        }
    }
    free(cx.mem); free(pix); free(scratch); free(id32);
    fx_model_free(&fm);
    vla_npy_free(&rgb); vla_npy_free(&ids);
}

/* ---- tokenizer: every field of every case ---- */

static void tok_arrays(void *user, vla_gguf_writer *w) { vla_tokconv_add((const vla_tokconv *)user, w); }

static int ids_match(const vla_json *want, const int32_t *got, int n) {
    int i;
    if (!want || want->type != VLA_JSON_ARRAY || want->n_kid != n) return 0;
    for (i = 0; i < n; i++)
        if (!want->kid[i].is_int || want->kid[i].inum != got[i]) return 0;
    return 1;
}

static void run_tokenizer_case(const fx_case *c) {
    static const char *fields[8] = {"tokens", "ids", "ids_no_special", "vl_ids", "vl_vqa_prompt_ids", "vl_answer_ids",
                                    "vl_decoded_skip_special", "vl_decoded"};
    char vp[2048], mp[2048], cp[2048], err[512];
    vla_tokconv tc;
    vla_conv cv;
    unsigned char *gguf = NULL, *cases_buf;
    size_t gsize, n, tneed = 0, tpeak = 0;
    vla_gguf g;
    vla_arena ga, ta, sa;
    void *gmem = NULL, *tmem = NULL, *smem = NULL;
    vla_tokenizer *t = NULL;
    vla_json *cases;
    int bad[8] = {0}, seen[8] = {0}, i, f;
    int32_t *ids = (int32_t *)malloc(sizeof(int32_t) * 65536);
    char *text = (char *)malloc(1 << 20), *dec = (char *)malloc(1 << 20);
    snprintf(vp, sizeof vp, "%s/vocab.json", c->dir);
    snprintf(mp, sizeof mp, "%s/merges.txt", c->dir);
    snprintf(cp, sizeof cp, "%s/cases.json", c->dir);
    if (vla_tokconv_load(&tc, vp, mp, 1, err, sizeof err) != 0) { report(c, "vocab.json", 0, 0, 0, err); free(ids); free(text); free(dec); return; }
    vla_conv_init(&cv);
    cv.quiet = 1;
    cv.add_arrays = tok_arrays; cv.add_arrays_user = &tc; cv.n_array_kv = VLA_TOKCONV_N_KV;
    if (vla_conv_write_mem(&cv, &gguf, &gsize) != 0) { report(c, "tokenizer", 0, 0, 0, cv.err); goto done; }
    vla_arena_init_measure(&ga);
    vla_gguf_open(&g, gguf, gsize, &ga);
    gmem = malloc(ga.peak_total + VLA_ALIGN);
    vla_arena_init(&ga, gmem, ga.peak_total + VLA_ALIGN);
    if (vla_gguf_open(&g, gguf, gsize, &ga) != VLA_OK || vla_tokenizer_mem_req(&g, &tneed, &tpeak) != VLA_OK) {
        report(c, "tokenizer", 0, 0, 0, "(the converted tokenizer does not open)");
        goto done;
    }
    tmem = malloc(tpeak + VLA_ALIGN);
    vla_arena_init(&ta, tmem, tpeak + VLA_ALIGN);
    if (vla_tokenizer_init(&t, &g, &ta) != VLA_OK) { report(c, "tokenizer", 0, 0, 0, "(tokenizer init failed)"); goto done; }
    cases_buf = vla_tool_read_file(cp, &n, err, sizeof err);
    cases = cases_buf ? vla_json_parse((const char *)cases_buf, n, err, sizeof err) : NULL;
    free(cases_buf);
    if (!cases || cases->type != VLA_JSON_ARRAY) { report(c, "cases.json", 0, 0, 0, err); goto done; }
    smem = malloc(vla_tokenize_scratch_size(1 << 20) + VLA_ALIGN);
    vla_arena_init(&sa, smem, vla_tokenize_scratch_size(1 << 20) + VLA_ALIGN);
    for (i = 0; i < cases->n_kid; i++) {
        const vla_json *cs = &cases->kid[i], *tx = vla_json_get(cs, "text");
        int ni = 0, k;
        size_t len;
        if (!tx || tx->type != VLA_JSON_STRING || tx->n + 8 > (1 << 20)) continue;
        for (f = 0; f < 8; f++) {
            const vla_json *want = vla_json_get(cs, fields[f]);
            int ok = 0;
            vla_status st = VLA_OK;
            if (!want) continue;
            seen[f]++;
            switch (f) {
            case 0: /* plain BPE pieces, in the stored byte alphabet */
                st = vla_tokenize(t, &sa, tx->s, tx->n, 0, 0, 0, ids, 65536, &ni);
                ok = st == VLA_OK && want->type == VLA_JSON_ARRAY && want->n_kid == ni;
                for (k = 0; ok && k < ni; k++) {
                    vla_str sp;
                    int ty;
                    ok = vla_tokenizer_token(t, ids[k], &sp, &ty) == VLA_OK && want->kid[k].type == VLA_JSON_STRING &&
                         want->kid[k].n == sp.n && !memcmp(want->kid[k].s, sp.s, sp.n);
                }
                break;
            case 1: case 2: case 3: case 5:
                st = vla_tokenize(t, &sa, tx->s, tx->n, f != 2, f >= 3, f == 5 ? 10 : 0, ids, 65536, &ni);
                ok = st == VLA_OK && ids_match(want, ids, ni);
                break;
            case 4: /* "vqa: " + text, max_length 20 */
                memcpy(text, "vqa: ", 5);
                memcpy(text + 5, tx->s, tx->n);
                st = vla_tokenize(t, &sa, text, tx->n + 5, 1, 1, 20, ids, 65536, &ni);
                ok = st == VLA_OK && ids_match(want, ids, ni);
                break;
            default: /* decodes of vl_ids */
                st = vla_tokenize(t, &sa, tx->s, tx->n, 1, 1, 0, ids, 65536, &ni);
                if (st == VLA_OK) st = vla_detokenize(t, ids, ni, f == 6, 1, dec, 1 << 20, &len);
                ok = st == VLA_OK && want->type == VLA_JSON_STRING && want->n == len && !memcmp(want->s, dec, len);
                break;
            }
            if (!ok) {
                bad[f]++;
                if (g_verbose) fprintf(stderr, "  case %d field %s differs\n", i, fields[f]);
            }
        }
    }
    for (f = 0; f < 8; f++) {
        char key[64];
        snprintf(key, sizeof key, "cases.json:%s", fields[f]);
        if (seen[f]) report(c, key, bad[f] == 0, bad[f], 0, NULL);
    }
    vla_json_free(cases);
done:
    free(smem); free(tmem); free(gmem); free(gguf); free(ids); free(text); free(dec);
    vla_conv_free(&cv);
    vla_tokconv_free(&tc);
}

/* checkpoint_formats: every file its manifest maps to a case is converted and
 * must reproduce that case's outputs (the legacy torch stream included). */
static void run_case(const char *root, const char *name);

static void run_checkpoint_formats(const fx_case *c, const char *root) {
    const vla_json *map = vla_json_get(c->man, "mapping_to_cases");
    int i;
    for (i = 0; map && map->type == VLA_JSON_OBJECT && i < map->n_kid; i++) {
        const vla_json *e = &map->kid[i];
        char target[128], keys[512], *tok, *next;
        if (e->type != VLA_JSON_STRING) continue;
        snprintf(target, sizeof target, "%.*s", (int)strcspn(e->s, " ("), e->s);
        snprintf(keys, sizeof keys, "%s", e->key);
        for (tok = keys; *tok; tok = next) { /* "a, b" lists */
            next = tok + strcspn(tok, ",");
            if (*next) *next++ = 0;
            while (*next == ' ') next++;
            while (*tok == ' ') tok++;
            if (!*tok) continue;
            {
            char files[64][256];
            int nf = 0, f;
            size_t tl = strlen(tok);
            if (tl >= 2 && !strcmp(tok + tl - 2, "/*")) { /* a directory of files */
                char dp[2048];
                DIR *d;
                struct dirent *de;
                snprintf(dp, sizeof dp, "%s/%.*s", c->dir, (int)(tl - 2), tok);
                if ((d = opendir(dp)) != NULL) {
                    while ((de = readdir(d)) && nf < 64) {
                        size_t nl = strlen(de->d_name);
                        if (de->d_name[0] == '.' || (nl > 5 && !strcmp(de->d_name + nl - 5, ".json"))) continue;
                        snprintf(files[nf++], 256, "%.*s/%.120s", (int)((tl - 2) & 127), tok, de->d_name);
                    }
                    closedir(d);
                }
            } else snprintf(files[nf++], 256, "%.250s", tok);
            for (f = 0; f < nf; f++) {
                char path[4096], key[300], note[200];
                FILE *fp;
                snprintf(path, sizeof path, "%.1800s/%.255s", c->dir, files[f]);
                snprintf(key, sizeof key, "%.255s", files[f]);
                fp = fopen(path, "rb");
                if (!fp) { report(c, key, 0, 0, 0, "(missing)"); continue; }
                fclose(fp);
                g_weights_override = path;
                g_capture = 1; g_cap_pass = g_cap_fail = 0;
                run_case(root, target);
                g_capture = 0;
                g_weights_override = NULL;
                snprintf(note, sizeof note, "(%d outputs of %s)", g_cap_pass + g_cap_fail, target);
                report(c, key, g_cap_fail == 0 && g_cap_pass > 0, (double)g_cap_fail, 0, note);
            }
            }
        }
    }
}

static int in_list(const char *list, const char *name) {
    const char *p = list;
    size_t n = strlen(name);
    if (!list) return 1;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t k = e ? (size_t)(e - p) : strlen(p);
        if (k == n && !strncmp(p, name, n)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void run_case(const char *root, const char *name) {
    fx_case c;
    char p[2048], err[256];
    size_t n;
    unsigned char *buf;
    memset(&c, 0, sizeof c);
    snprintf(c.dir, sizeof c.dir, "%s/%s", root, name);
    snprintf(c.name, sizeof c.name, "%s", name);
    snprintf(p, sizeof p, "%s/manifest.json", c.dir);
    buf = vla_tool_read_file(p, &n, err, sizeof err);
    if (!buf) return; /* not a case directory */
    c.man = vla_json_parse((const char *)buf, n, err, sizeof err);
    free(buf);
    if (!c.man) { report(&c, "manifest.json", 0, 0, 0, err); return; }
    c.files = vla_json_get(c.man, "files");
    if (!c.files || c.files->type != VLA_JSON_OBJECT) { vla_json_free(c.man); return; }
    if (vla_json_get(c.files, "cases.json")) run_tokenizer_case(&c);
    else if (vla_json_get(c.man, "mapping_to_cases")) run_checkpoint_formats(&c, root);
    else if (vla_json_get(c.files, "resized_uint8.npy")) run_clip_preprocess(&c);
    else if (vla_json_get(c.files, "grid_features.npy")) run_clip_trunk(&c);
    else if (vla_json_get(c.man, "inputs")) run_e2e(&c);
    else if (vla_json_get(c.files, "beam_settings.npy")) run_decode_eos(&c);
    else if (vla_json_get(c.files, "logits.npy") || vla_json_get(c.files, "encoder_hidden.npy")) run_bart_case(&c);
    else {
        if (vla_json_get(c.files, "downsampled_feats.npy")) run_pool_case(&c, "vis_feats.npy", "downsampled_feats.npy", 1);
        if (vla_json_get(c.files, "nlvr_downsampled_feats.npy")) run_pool_case(&c, "nlvr_vis_feats.npy", "nlvr_downsampled_feats.npy", 2);
    }
    vla_json_free(c.man);
}

int main(int argc, char **argv) {
    const char *dir = NULL, *cases = NULL;
    char *names[512];
    int n = 0, i;
    DIR *d;
    struct dirent *de;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cases") && i + 1 < argc) cases = argv[++i];
        else if (!strcmp(argv[i], "-v")) g_verbose = 1;
        else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: %s [--cases a,b] [-v] FIXTURES_DIR\n", argv[0]);
            return 0;
        } else dir = argv[i];
    }
    if (!dir) { fprintf(stderr, "usage: %s [--cases a,b] [-v] FIXTURES_DIR\n", argv[0]); return 2; }
    d = opendir(dir);
    if (!d) { fprintf(stderr, "vla-fixtures: cannot open %s\n", dir); return 2; }
    while ((de = readdir(d)) && n < 512) {
        if (de->d_name[0] == '.') continue;
        names[n] = (char *)malloc(strlen(de->d_name) + 1);
        strcpy(names[n++], de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    for (i = 0; i < n; i++) {
        if (in_list(cases, names[i])) run_case(dir, names[i]);
        free(names[i]);
    }
    printf("%d passed, %d failed, %d skipped\n", g_pass, g_fail, g_skip);
    return g_fail ? 1 : 0;
}
