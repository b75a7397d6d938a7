/* vla_quant.h - rewrite a vladapter GGUF model with its weight matrices in
 * another type: I8 (+ one F32 scale per row), Q8_0, F16 or F32.
 *
 * Host-side (malloc/stdio allowed), used by tools/vla-quantize and the
 * tests.  Include after vladapter.h; define VLA_QUANT_IMPLEMENTATION in one
 * file.  Reads with vla_gguf_open, writes with vla_gguf_writer: metadata
 * (vla_gguf_add_kv) and every tensor that is not converted are copied as
 * they are.
 *
 * The I8 format (see vladapter.h [D3] vla_mat):
 *   "<name>"        I8,  ne = {in, out} (PyTorch [out, in]) or, for a folded
 *                   CLIP convolution, {cin, k, k, cout}: row-major
 *                   q[out][in], q in [-127, 127]
 *   "<name>_scale"  F32, ne = {out}: W[r][c] = scale[r] * q[r][c]
 *   quantization per row: scale = amax/127, q = round-half-away(w / scale)
 *   (vla_quantize_i8_row, the same rule the integer path applies to
 *   activations).
 *
 * Which tensors are converted (vla_quant_is_matrix):
 *   - every 2-D "*.weight" with at least 2 rows and 16 columns: the BART
 *     attention projections and FFNs, the visual feature projection, and the
 *     shared token embedding (= LM head: per-row scales suit both uses);
 *   - every 4-D CLIP convolution "visual.*.weight" except the stem's first
 *     (visual.conv1.weight, 27 inputs per output: the raw pixels);
 * and stay F32 (or whatever they are): 1-D tensors (LayerNorms, biases,
 * final_logits_bias), the position tables ("*embed_positions*"), the image
 * order table and the 5-input box projection (fewer than 16 columns; their
 * rows are added, not multiplied), and anything matched by a keep pattern.
 * Q8_0 needs ne[0] % 32 == 0; other matrices are left in their input type.
 * --to f32 widens every I8 / Q8_0 / F16 matrix and drops the scales.
 * Metadata is copied unchanged, vladapter.fingerprint included: adapter
 * files made for the source model attach to the quantized one; only the
 * keys of an earlier CLIP plan (vladapter.quant.clip_plan*) are dropped, as
 * they describe the conversion that wrote the input.
 *
 * Mixed precision for the CLIP trunk, measured on pictures
 * (vla_quant_clip_plan, vla-quantize --clip-calibrate): a trained trunk may
 * amplify the int8 rounding of its early convolutions far beyond what its
 * grid features tolerate (docs/clip-int8.md: the fixture trunk, gain ~180
 * from the stem).  The plan measures, on the calibration pictures, each
 * candidate convolution's sensitivity (the grid cosine against the model's
 * own grid with only that convolution I8, the minimum over the pictures),
 * then adds the convolutions to the I8 set least sensitive first, each one
 * kept only if the minimum grid cosine over all pictures stays >= the target
 * (min_cos); a rejected convolution does not end the search.  Candidates:
 * the trunk convolutions the policy converts, minus those a keep pattern
 * names.  Each measurement quantizes the model with vla_quant_gguf (the
 * others as keep names; on a copy of the file holding only its "visual.*"
 * tensors), so the plan's I8 tensors are exactly what the plain conversion
 * writes for them.  Cost: up to 2 x (convolutions) x (pictures) trunk runs.  The plan's keep list then goes to vla_quant_gguf with
 * opts.clip_plan set, which writes it into the file:
 *   vladapter.quant.clip_plan               STRING  a sentence: target,
 *                                                   pictures, I8 count and
 *                                                   share of multiply-adds
 *   vladapter.quant.clip_plan.i8            ARRAY of STRING: the trunk
 *                                                   convolutions made I8
 *   vladapter.quant.clip_plan.min_grid_cos  F32     the target
 *   vladapter.quant.clip_plan.grid_cos      ARRAY of F32: the measured grid
 *                                                   cosine per picture
 * Every other candidate convolution stays F32 because it was measured too
 * sensitive.
 */
#ifndef VLA_QUANT_H
#define VLA_QUANT_H

#include <stdio.h>

typedef struct vla_quant_opts {
    vla_type to;              /* VLA_TYPE_I8, VLA_TYPE_Q8_0, VLA_TYPE_F16 or VLA_TYPE_F32 */
    const char *const *keep;  /* fnmatch patterns of tensors to keep (F32 if converted from a quantized type) */
    int n_keep;
    FILE *table;              /* per-tensor error table, NULL: none */
    FILE *progress;           /* one line per tensor, NULL: none */
    const struct vla_quant_clip_plan *clip_plan; /* written as vladapter.quant.clip_plan*, NULL: none */
} vla_quant_opts;

/* Per-tensor error of a conversion, against the input's values as fp32. */
typedef struct vla_quant_stat {
    double max_abs;           /* largest |out - in| over the file */
    double worst_rel_rms;     /* largest per-tensor sqrt(sum (out - in)^2 / sum in^2) */
    int n_converted;          /* tensors written in a new type */
    int n_int8_in;            /* input tensors that were already I8 or Q8_0 */
} vla_quant_stat;

/* in[n] (a GGUF file) -> *out (malloc'd, *out_n bytes).  Returns 0, or -1
 * with a sentence in err (malformed input, I8 tensor without a valid scale
 * tensor, out of memory).  stat may be NULL. */
int vla_quant_gguf(const unsigned char *in, size_t n, const vla_quant_opts *o, unsigned char **out, size_t *out_n,
                   vla_quant_stat *stat, char *err, size_t err_len);
/* 1 if the quantizer converts tensor t (the policy above, without keep). */
int vla_quant_is_matrix(const vla_tensor *t);
/* "i8", "q8_0", "f16", "f32" -> the type; -1 otherwise. */
int vla_quant_parse_type(const char *s);

/* The calibration of a CLIP mixed-precision plan. */
typedef struct vla_quant_clip_cal {
    const float *const *pics; /* n_pics pictures [S, S, 3] as vla_clip_preprocess gives them (vla_example_clip_input) */
    const char *const *names; /* their names for the metadata (NULL: "picture N") */
    int n_pics;
    double min_cos;           /* the smallest grid cosine allowed on any picture, in (0, 1] */
    FILE *progress;           /* one line per measurement, NULL: none */
} vla_quant_clip_cal;

/* A measured plan: which trunk convolutions are I8. */
typedef struct vla_quant_clip_plan {
    int n_conv;               /* candidates */
    char **name;              /* [n_conv] tensor names, file order */
    double *sens;             /* [n_conv] 1 - (min grid cosine) with only that one I8 */
    double *macs;             /* [n_conv] multiply-adds of one picture */
    unsigned char *i8;        /* [n_conv] 1: I8 in the plan */
    int n_i8;
    double macs_total;        /* every trunk convolution's, the stem's first and kept ones included */
    double macs_i8;
    int n_pics;
    double *grid_cos;         /* [n_pics] the plan's grid cosines */
    double min_cos;           /* the target */
    char **pic_names;         /* [n_pics] */
    const char **keep;        /* base keep patterns + the candidates left F32: for vla_quant_opts.keep */
    int n_keep;
} vla_quant_clip_plan;

/* Measure a plan for model in[n] (with a CLIP trunk whose candidate
 * convolutions are F32 or F16) against its own grids; base: the I8 options
 * (base->to must be I8; base->keep excludes convolutions).  0, or -1 with a
 * sentence in err (no pictures, target out of range, no CLIP trunk, a trunk
 * already quantized, a picture of the wrong size...).  Free with
 * vla_quant_clip_plan_free (also after a failure). */
int vla_quant_clip_plan_make(const unsigned char *in, size_t n, const vla_quant_opts *base, const vla_quant_clip_cal *cal,
                             vla_quant_clip_plan *plan, char *err, size_t err_len);
void vla_quant_clip_plan_free(vla_quant_clip_plan *plan);
/* Print the plan (one line per candidate, then the summary). */
void vla_quant_clip_plan_print(const vla_quant_clip_plan *plan, FILE *f);
/* The summary sentence (what vladapter.quant.clip_plan holds). */
void vla_quant_clip_plan_summary(const vla_quant_clip_plan *plan, char *buf, size_t cap);
/* The CLIP input side of model in[n] (vladapter.clip.image_size), 0 with a
 * sentence in err when it does not load or has no CLIP trunk. */
int vla_quant_clip_side(const unsigned char *in, size_t n, char *err, size_t err_len);

#endif /* VLA_QUANT_H */

#ifdef VLA_QUANT_IMPLEMENTATION
#ifndef VLA_QUANT_IMPLEMENTATION_DONE
#define VLA_QUANT_IMPLEMENTATION_DONE

#include <fnmatch.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void vla_quant__err(char *err, size_t n, const char *fmt, ...) {
    va_list ap;
    if (!err || !n) return;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

static int vla_quant__ends(const vla_str s, const char *suf) {
    size_t k = strlen(suf);
    return s.n >= k && memcmp(s.s + s.n - k, suf, k) == 0;
}

static int vla_quant__has(const vla_str s, const char *sub) {
    size_t k = strlen(sub), i;
    for (i = 0; i + k <= s.n; i++)
        if (memcmp(s.s + i, sub, k) == 0) return 1;
    return 0;
}

int vla_quant_is_matrix(const vla_tensor *t) {
    if (!vla_quant__ends(t->name, ".weight") || vla_quant__has(t->name, "embed_positions")) return 0;
    if (t->n_dims == 2) return t->ne[1] >= 2 && t->ne[0] >= 16;
    if (t->n_dims == 4) {
        static const char stem[] = "visual.conv1.weight";
        if (t->name.n == sizeof stem - 1 && memcmp(t->name.s, stem, sizeof stem - 1) == 0) return 0;
        return t->name.n > 7 && memcmp(t->name.s, "visual.", 7) == 0;
    }
    return 0;
}

int vla_quant_parse_type(const char *s) {
    if (!strcmp(s, "i8")) return VLA_TYPE_I8;
    if (!strcmp(s, "q8_0")) return VLA_TYPE_Q8_0;
    if (!strcmp(s, "f16")) return VLA_TYPE_F16;
    if (!strcmp(s, "f32")) return VLA_TYPE_F32;
    return -1;
}

typedef struct vla_quant__buf { unsigned char *p; size_t n, cap; } vla_quant__buf;

static vla_status vla_quant__write(void *user, const void *data, size_t n) {
    vla_quant__buf *b = (vla_quant__buf *)user;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1 << 20;
        unsigned char *p;
        while (cap < b->n + n) cap *= 2;
        if (!(p = (unsigned char *)realloc(b->p, cap))) return VLA_ERR_NOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, data, n);
    b->n += n;
    return VLA_OK;
}

/* Tensor t's values as a [rows, cols] matrix view (any of F32 F16 Q8_0 I8;
 * 4-D convolutions as [ne3, ne0*ne1*ne2]). */
static int vla_quant__view(const vla_gguf *g, const vla_tensor *t, vla_mat *m, char *err, size_t err_len) {
    char name[300];
    int64_t cols = 1;
    int d;
    memset(m, 0, sizeof *m);
    if (t->name.n >= sizeof name) return -1;
    memcpy(name, t->name.s, t->name.n);
    name[t->name.n] = 0;
    for (d = 0; d + 1 < t->n_dims; d++) cols *= t->ne[d];
    if (t->type == VLA_TYPE_I8) {
        vla_status st = vla_gguf_get_mat(g, name, m);
        if (st != VLA_OK) {
            vla_quant__err(err, err_len, "tensor '%s' is I8 but its F32 scale tensor '%s_scale' [%lld] is missing or misshapen",
                           name, name, (long long)t->ne[t->n_dims - 1]);
            return -1;
        }
        return 0;
    }
    if (t->type != VLA_TYPE_F32 && t->type != VLA_TYPE_F16 && t->type != VLA_TYPE_Q8_0) return 1; /* not ours: copy */
    if (cols > 0x7fffffff || t->ne[t->n_dims - 1] > 0x7fffffff) return 1;
    m->type = t->type;
    m->rows = (int)t->ne[t->n_dims - 1];
    m->cols = (int)cols;
    m->data = t->data;
    return 0;
}

int vla_quant_gguf(const unsigned char *in, size_t n, const vla_quant_opts *o, unsigned char **out, size_t *out_n,
                   vla_quant_stat *stat, char *err, size_t err_len) {
    vla_gguf g;
    vla_arena ra, wa;
    vla_gguf_writer w;
    vla_quant__buf ob;
    size_t need, wneed;
    void *rmem = NULL, *wmem = NULL;
    void **owned = NULL;
    int n_owned = 0, rc = -1;
    uint64_t i;
    vla_status st;
    vla_quant_stat sdummy;
    if (!stat) stat = &sdummy;
    memset(stat, 0, sizeof *stat);
    memset(&ob, 0, sizeof ob);
    *out = NULL;
    *out_n = 0;
    if (o->to != VLA_TYPE_I8 && o->to != VLA_TYPE_Q8_0 && o->to != VLA_TYPE_F16 && o->to != VLA_TYPE_F32) {
        vla_quant__err(err, err_len, "unsupported target type");
        return -1;
    }
    vla_arena_init_measure(&ra);
    if ((st = vla_gguf_open(&g, in, n, &ra)) != VLA_OK) {
        vla_quant__err(err, err_len, "not a valid GGUF file (%s): truncated or corrupt?", vla_status_str(st));
        return -1;
    }
    need = vla_arena_get_stats(&ra).peak + 4096;
    if (!(rmem = malloc(need))) goto oom;
    vla_arena_init(&ra, rmem, need);
    if ((st = vla_gguf_open(&g, in, n, &ra)) != VLA_OK) {
        vla_quant__err(err, err_len, "not a valid GGUF file (%s)", vla_status_str(st));
        goto done;
    }
    /* writer memory: keys, strings and string-array items (16 bytes per
     * item, each item at least 8 bytes of the file) fit 4x the header */
    wneed = 4 * g.blob_offset + ((size_t)g.n_kv + 2 * (size_t)g.n_tensors + 8) * (sizeof(vla_gguf_wkv) + sizeof(vla_gguf_wtensor) + 400);
    if (!(wmem = malloc(wneed)) || !(owned = (void **)calloc((size_t)g.n_tensors * 2 + 4, sizeof *owned))) goto oom;
    vla_arena_init(&wa, wmem, wneed);
    if (vla_gguf_writer_init(&w, &wa, (int)g.n_kv + 4, (int)(2 * g.n_tensors), g.alignment) != VLA_OK) goto oom;
    for (i = 0; i < g.n_kv; i++) {
        static const char al[] = "general.alignment"; /* the writer adds its own */
        static const char cp[] = "vladapter.quant.clip_plan"; /* an earlier plan: not this file's */
        if (g.kv[i].key.n == sizeof al - 1 && memcmp(g.kv[i].key.s, al, sizeof al - 1) == 0) continue;
        if (g.kv[i].key.n >= sizeof cp - 1 && memcmp(g.kv[i].key.s, cp, sizeof cp - 1) == 0) continue;
        vla_gguf_add_kv(&w, &g.kv[i]);
    }
    if (o->clip_plan) { /* the plan's keys (items referenced until the write: owned) */
        const vla_quant_clip_plan *pl = o->clip_plan;
        char *sum = (char *)malloc(1024);
        vla_str *names = (vla_str *)malloc(sizeof(vla_str) * (size_t)(pl->n_i8 + 1));
        float *gc = (float *)malloc(sizeof(float) * (size_t)(pl->n_pics + 1));
        int k, j = 0;
        owned[n_owned++] = sum; owned[n_owned++] = names; owned[n_owned++] = gc;
        if (!sum || !names || !gc) goto oom;
        vla_quant_clip_plan_summary(pl, sum, 1024);
        for (k = 0; k < pl->n_conv; k++)
            if (pl->i8[k]) { names[j].s = pl->name[k]; names[j].n = strlen(pl->name[k]); j++; }
        for (k = 0; k < pl->n_pics; k++) gc[k] = (float)pl->grid_cos[k];
        vla_gguf_add_str(&w, "vladapter.quant.clip_plan", sum, strlen(sum));
        vla_gguf_add_arr(&w, "vladapter.quant.clip_plan.i8", VLA_GGUF_STRING, names, (uint64_t)j);
        vla_gguf_add_f32(&w, "vladapter.quant.clip_plan.min_grid_cos", (float)pl->min_cos);
        vla_gguf_add_arr(&w, "vladapter.quant.clip_plan.grid_cos", VLA_GGUF_F32, gc, (uint64_t)pl->n_pics);
    }
    if (o->table)
        fprintf(o->table, "%-58s %-5s -> %-5s %12s %12s\n", "tensor", "from", "to", "max_abs_err", "rel_rms_err");
    for (i = 0; i < g.n_tensors; i++) {
        const vla_tensor *t = &g.tensors[i];
        char name[300];
        vla_mat m;
        vla_type to = o->to;
        int k, v, keep = 0, is_mat;
        if (t->name.n >= sizeof name - 8) { vla_quant__err(err, err_len, "tensor name too long"); goto done; }
        memcpy(name, t->name.s, t->name.n);
        name[t->name.n] = 0;
        if (o->progress) fprintf(o->progress, "[%llu/%llu] %s\n", (unsigned long long)i + 1, (unsigned long long)g.n_tensors, name);
        if (stat && (t->type == VLA_TYPE_I8 || t->type == VLA_TYPE_Q8_0)) stat->n_int8_in++;
        if (vla_quant__ends(t->name, "_scale")) { /* the scale of an I8 tensor is rewritten with it */
            vla_tensor base;
            name[t->name.n - 6] = 0;
            if (vla_gguf_get_tensor(&g, name, &base) == VLA_OK && base.type == VLA_TYPE_I8) continue;
            name[t->name.n - 6] = '_';
        }
        for (k = 0; k < o->n_keep; k++)
            if (fnmatch(o->keep[k], name, 0) == 0) keep = 1;
        is_mat = vla_quant_is_matrix(t) || t->type == VLA_TYPE_I8;
        v = is_mat || t->type == VLA_TYPE_I8 ? vla_quant__view(&g, t, &m, err, err_len) : 1;
        if (v < 0) goto done;
        if (v == 0 && keep) to = VLA_TYPE_F32; /* kept: full precision */
        if (v == 0 && !keep && !vla_quant_is_matrix(t)) /* an I8 tensor outside the policy: stays I8, or F32 */
            to = o->to == VLA_TYPE_I8 ? VLA_TYPE_I8 : VLA_TYPE_F32;
        if (v == 0 && to == VLA_TYPE_Q8_0 && t->ne[0] % VLA_Q8_0_BLOCK) to = t->type == VLA_TYPE_I8 ? VLA_TYPE_F32 : t->type;
        if (v != 0 || (to == t->type && !(keep && t->type != VLA_TYPE_F32))) { /* copied as it is */
            vla_gguf_add_tensor(&w, name, t->type, t->n_dims, t->ne, t->data);
            if (t->type == VLA_TYPE_I8) { /* with its scale */
                char sn[320];
                vla_i8_scale_name(sn, sizeof sn, name);
                vla_gguf_add_tensor(&w, sn, VLA_TYPE_F32, 1, &t->ne[t->n_dims - 1], m.scale);
            }
            continue;
        }
        {   /* convert: rows as fp32, then the new type; error against the input's fp32 values */
            const size_t rows = (size_t)m.rows, cols = (size_t)m.cols, nel = rows * cols;
            float *src = (float *)malloc(sizeof(float) * nel), *back = (float *)malloc(sizeof(float) * (cols ? cols : 1));
            void *data = NULL;
            float *scale = NULL;
            double maxe = 0, se = 0, s2 = 0;
            size_t r, c;
            if (!src || !back) { free(src); free(back); goto oom; }
            for (r = 0; r < rows; r++) vla_mat_row(src + r * cols, &m, (int)r);
            if (to == VLA_TYPE_I8) {
                data = malloc(nel ? nel : 1);
                scale = (float *)malloc(sizeof(float) * (rows ? rows : 1));
                if (data && scale)
                    for (r = 0; r < rows; r++) scale[r] = vla_quantize_i8_row((signed char *)data + r * cols, src + r * cols, (int)cols);
            } else if (to == VLA_TYPE_Q8_0) {
                if ((data = malloc(nel / VLA_Q8_0_BLOCK * VLA_Q8_0_BYTES + 1)) != NULL) vla_quantize_q8_0(data, src, nel);
            } else if (to == VLA_TYPE_F16) {
                if ((data = malloc(2 * nel + 1)) != NULL)
                    for (r = 0; r < nel; r++) ((uint16_t *)data)[r] = vla_fp32_to_fp16(src[r]);
            } else {
                data = src;
                src = NULL;
            }
            if (!data || (to == VLA_TYPE_I8 && !scale)) { free(src); free(back); free(data); free(scale); goto oom; }
            {   /* error of the written values against the input's */
                vla_mat q;
                q.type = to; q.rows = m.rows; q.cols = m.cols; q.data = data; q.scale = scale;
                for (r = 0; r < rows; r++) {
                    const float *x = src ? src + r * cols : NULL;
                    vla_mat_row(back, &q, (int)r);
                    if (!x) continue; /* F32 output: written exactly */
                    for (c = 0; c < cols; c++) {
                        double e = fabs((double)back[c] - x[c]);
                        if (e > maxe) maxe = e;
                        se += e * e;
                        s2 += (double)x[c] * x[c];
                    }
                }
            }
            free(src);
            free(back);
            owned[n_owned++] = data;
            vla_gguf_add_tensor(&w, name, to, t->n_dims, t->ne, data);
            if (scale) {
                char sn[320];
                owned[n_owned++] = scale;
                vla_i8_scale_name(sn, sizeof sn, name);
                vla_gguf_add_tensor(&w, sn, VLA_TYPE_F32, 1, &t->ne[t->n_dims - 1], scale);
            }
            stat->n_converted++;
            stat->max_abs = maxe > stat->max_abs ? maxe : stat->max_abs;
            if (s2 > 0 && sqrt(se / s2) > stat->worst_rel_rms) stat->worst_rel_rms = sqrt(se / s2);
            if (o->table)
                fprintf(o->table, "%-58s %-5s -> %-5s %12.4g %12.4g\n", name, vla_type_name(t->type), vla_type_name(to), maxe,
                        s2 > 0 ? sqrt(se / s2) : 0.0);
        }
    }
    if ((st = vla_gguf_write(&w, vla_quant__write, &ob)) != VLA_OK) {
        vla_quant__err(err, err_len, "writing the output failed (%s)", vla_status_str(st));
        goto done;
    }
    {   /* the output must read back */
        vla_gguf g2;
        vla_arena ma;
        vla_arena_init_measure(&ma);
        if (vla_gguf_open(&g2, ob.p, ob.n, &ma) != VLA_OK) {
            vla_quant__err(err, err_len, "internal error: the output does not read back");
            goto done;
        }
    }
    *out = ob.p;
    *out_n = ob.n;
    ob.p = NULL;
    rc = 0;
    goto done;
oom:
    vla_quant__err(err, err_len, "out of memory");
done:
    if (owned)
        while (n_owned > 0) free(owned[--n_owned]);
    free(owned);
    free(ob.p);
    free(wmem);
    free(rmem);
    return rc;
}


/* ---- the CLIP mixed-precision plan ---- */

/* The CLIP input side and grid channels of model in[n]; 0 with a sentence. */
static int vla_quant__clip_hp(const unsigned char *in, size_t n, int *out_ch, char *err, size_t err_len) {
    size_t need;
    void *mem;
    vla_model *m;
    int S = 0;
    if (vla_model_mem_req(in, n, &need) != VLA_OK || !(mem = malloc(need))) {
        vla_quant__err(err, err_len, "not a model file that loads (truncated, corrupt, or out of memory)");
        return 0;
    }
    if (vla_model_init(&m, mem, need, in, n, NULL) != VLA_OK) vla_quant__err(err, err_len, "not a model file that loads");
    else if (!vla_model_hparams(m)->has_clip) vla_quant__err(err, err_len, "the model has no CLIP trunk (no visual.* convolutions) to calibrate");
    else {
        S = vla_model_hparams(m)->clip_image_size;
        *out_ch = vla_model_hparams(m)->clip_out_ch;
    }
    free(mem);
    return S;
}

int vla_quant_clip_side(const unsigned char *in, size_t n, char *err, size_t err_len) {
    int ch;
    return vla_quant__clip_hp(in, n, &ch, err, err_len);
}

void vla_quant_clip_plan_free(vla_quant_clip_plan *p) {
    int i;
    for (i = 0; p->name && i < p->n_conv; i++) free(p->name[i]);
    for (i = 0; p->pic_names && i < p->n_pics; i++) free(p->pic_names[i]);
    free(p->name); free(p->sens); free(p->macs); free(p->i8); free(p->grid_cos); free(p->pic_names); free((void *)p->keep);
    memset(p, 0, sizeof *p);
}

void vla_quant_clip_plan_summary(const vla_quant_clip_plan *p, char *buf, size_t cap) {
    double lo = 1;
    int i, k;
    for (i = 0; i < p->n_pics; i++) lo = p->grid_cos[i] < lo ? p->grid_cos[i] : lo;
    k = snprintf(buf, cap, "CLIP trunk mixed precision measured on %d picture%s (", p->n_pics, p->n_pics == 1 ? "" : "s");
    for (i = 0; i < p->n_pics && k > 0 && (size_t)k < cap; i++) k += snprintf(buf + k, cap - (size_t)k, "%s%s", i ? " " : "", p->pic_names[i]);
    if (k > 0 && (size_t)k < cap)
        snprintf(buf + k, cap - (size_t)k,
                 "): %d of %d candidate convolutions I8 (%.1f%% of the trunk's multiply-adds), the least sensitive first while the "
                 "smallest grid cosine against the F32 trunk stays >= %.6g (measured %.6f); the other candidates are F32 as too sensitive",
                 p->n_i8, p->n_conv, p->macs_total > 0 ? 100 * p->macs_i8 / p->macs_total : 0.0, p->min_cos, lo);
}

void vla_quant_clip_plan_print(const vla_quant_clip_plan *p, FILE *f) {
    char sum[1024];
    int i;
    fprintf(f, "%-40s %12s %8s %s\n", "convolution", "1-cos alone", "MACs%", "plan");
    for (i = 0; i < p->n_conv; i++)
        fprintf(f, "%-40s %12.4g %8.2f %s\n", p->name[i], p->sens[i], p->macs_total > 0 ? 100 * p->macs[i] / p->macs_total : 0.0,
                p->i8[i] ? "I8" : "F32");
    for (i = 0; i < p->n_pics; i++) fprintf(f, "grid cosine %-28s %.6f\n", p->pic_names[i], p->grid_cos[i]);
    vla_quant_clip_plan_summary(p, sum, sizeof sum);
    fprintf(f, "%s\n", sum);
}

/* Multiply-adds of trunk convolution t of a ModifiedResNet on S x S input
 * (vla_conv_clip's names: the stem at S/2, layer l's output at S/2^(l+1),
 * block 0's conv1/conv2 at its input's side); -1: a name it does not know. */
static double vla_quant__clip_macs(const vla_tensor *t, int S) {
    char nm[128];
    int l, b, c, side = -1;
    if (t->n_dims != 4 || t->name.n >= sizeof nm) return -1;
    memcpy(nm, t->name.s, t->name.n);
    nm[t->name.n] = 0;
    if (sscanf(nm, "visual.conv%d.weight", &c) == 1) side = S / 2;
    else if (sscanf(nm, "visual.layer%d.%d.conv%d.weight", &l, &b, &c) == 3 && l >= 1 && l <= 4)
        side = (S / 4 >> (l - 1)) * (b == 0 && l > 1 && c < 3 ? 2 : 1);
    else if (sscanf(nm, "visual.layer%d.%d.downsample.0.weight", &l, &b) == 2 && l >= 1 && l <= 4) side = S / 4 >> (l - 1);
    if (side < 0) return -1;
    return (double)side * side * (double)t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}

/* Cosine of two float vectors in double (1 when both are zero). */
static double vla_quant_cos(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    size_t i;
    for (i = 0; i < n; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}

/* The grid of every picture (ref == NULL: into grids, the reference) or its
 * cosine with ref (into cos, stopping at the first picture under stop). */
static int vla_quant__clip_grids(const unsigned char *g, size_t n, const vla_quant_clip_cal *cal, size_t grid_n, float *grids,
                                 const float *ref, double *cos, double stop, char *err, size_t err_len) {
    size_t need;
    void *mm = NULL, *cm = NULL;
    vla_model *m;
    vla_ctx *c;
    vla_ctx_params p;
    float *out = NULL;
    int i, h, w, ch, rc = -1;
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = 1; p.max_images = 1; p.max_dec_len = 2; p.max_beams = 1; p.use_clip = 1; p.exec.n_threads = 1;
    if (vla_model_mem_req(g, n, &need) != VLA_OK || !(mm = malloc(need)) || vla_model_init(&m, mm, need, g, n, NULL) != VLA_OK) {
        vla_quant__err(err, err_len, "a quantized model does not load");
        goto done;
    }
    if (vla_ctx_mem_req(m, &p, &need) != VLA_OK || !(cm = malloc(need)) || vla_ctx_init(&c, m, &p, cm, need) != VLA_OK ||
        !(out = (float *)malloc(sizeof(float) * (size_t)vla_model_hparams(m)->clip_image_size * vla_model_hparams(m)->clip_image_size *
                                (size_t)vla_model_hparams(m)->clip_width * 8))) {
        vla_quant__err(err, err_len, "out of memory for the CLIP trunk");
        goto done;
    }
    for (i = 0; i < cal->n_pics; i++) cos[i] = -2;
    for (i = 0; i < cal->n_pics; i++) {
        if (vla_clip_run(c, cal->pics[i], 4, ref ? out : grids + (size_t)i * grid_n, &h, &w, &ch) != VLA_OK || (size_t)h * w * ch != grid_n) {
            vla_quant__err(err, err_len, "the CLIP trunk does not run");
            goto done;
        }
        cos[i] = ref ? vla_quant_cos(ref + (size_t)i * grid_n, out, grid_n) : 1.0;
        if (cos[i] < stop) break;
    }
    rc = 0;
done:
    free(out); free(cm); free(mm);
    return rc;
}

/* One measurement: the model with the candidates in set I8 (everything else
 * as keep names) -> the grid cosine of every picture (stopping at the first
 * under stop).  keep[0..nk_fixed) holds the fixed names. */
static int vla_quant__clip_measure(const unsigned char *in, size_t n, const vla_quant_clip_plan *p, const unsigned char *set, const char **keep,
                                   int nk_fixed, const vla_quant_clip_cal *cal, size_t grid_n, const float *ref, double *cos, double stop,
                                   char *err, size_t err_len) {
    vla_quant_opts o;
    unsigned char *q = NULL;
    size_t qn;
    int i, nk = nk_fixed, rc;
    for (i = 0; i < p->n_conv; i++)
        if (!set[i]) keep[nk++] = p->name[i];
    memset(&o, 0, sizeof o);
    o.to = VLA_TYPE_I8;
    o.keep = keep;
    o.n_keep = nk;
    if (vla_quant_gguf(in, n, &o, &q, &qn, NULL, err, err_len) != 0) return -1;
    rc = vla_quant__clip_grids(q, qn, cal, grid_n, NULL, ref, cos, stop, err, err_len);
    free(q);
    return rc;
}

/* The smallest measured cosine (pictures after an early stop are -2). */
static double vla_quant__lowest(const double *cos, int n) {
    double lo = 1;
    int i;
    for (i = 0; i < n; i++)
        if (cos[i] >= -1 && cos[i] < lo) lo = cos[i];
    return lo;
}

/* The trunk of model g alone: every key-value and the "visual.*" tensors, as
 * a malloc'd GGUF file (what the plan measures: quantizing and loading the
 * rest of a large model for every measurement would cost more than the
 * trunk runs).  0, or -1 with a sentence. */
static int vla_quant__trunk_only(const vla_gguf *g, unsigned char **out, size_t *out_n, char *err, size_t err_len) {
    vla_arena wa;
    vla_gguf_writer w;
    vla_quant__buf ob;
    size_t wneed = 4 * g->blob_offset + ((size_t)g->n_kv + (size_t)g->n_tensors + 8) * (sizeof(vla_gguf_wkv) + sizeof(vla_gguf_wtensor) + 400);
    void *wmem = malloc(wneed);
    uint64_t i;
    int rc = -1;
    memset(&ob, 0, sizeof ob);
    if (!wmem) { vla_quant__err(err, err_len, "out of memory"); return -1; }
    vla_arena_init(&wa, wmem, wneed);
    if (vla_gguf_writer_init(&w, &wa, (int)g->n_kv, (int)g->n_tensors, g->alignment) != VLA_OK) { vla_quant__err(err, err_len, "out of memory"); goto done; }
    for (i = 0; i < g->n_kv; i++) {
        static const char al[] = "general.alignment";
        if (g->kv[i].key.n == sizeof al - 1 && memcmp(g->kv[i].key.s, al, sizeof al - 1) == 0) continue;
        vla_gguf_add_kv(&w, &g->kv[i]);
    }
    for (i = 0; i < g->n_tensors; i++) {
        const vla_tensor *t = &g->tensors[i];
        char name[300];
        if (t->name.n < 7 || memcmp(t->name.s, "visual.", 7) != 0 || t->name.n >= sizeof name) continue;
        memcpy(name, t->name.s, t->name.n);
        name[t->name.n] = 0;
        vla_gguf_add_tensor(&w, name, t->type, t->n_dims, t->ne, t->data);
    }
    if (vla_gguf_write(&w, vla_quant__write, &ob) != VLA_OK) { vla_quant__err(err, err_len, "writing the trunk alone failed"); goto done; }
    *out = ob.p;
    *out_n = ob.n;
    ob.p = NULL;
    rc = 0;
done:
    free(ob.p);
    free(wmem);
    return rc;
}

int vla_quant_clip_plan_make(const unsigned char *in, size_t n, const vla_quant_opts *base, const vla_quant_clip_cal *cal,
                             vla_quant_clip_plan *plan, char *err, size_t err_len) {
    vla_gguf g;
    vla_arena ra;
    void *rmem = NULL;
    float *ref = NULL;
    double *cosv = NULL;
    unsigned char *set = NULL, *trunk = NULL;
    size_t trunk_n = 0;
    char **other = NULL; /* converted matrices that are not candidates (kept while measuring) */
    int *order = NULL, S, out_ch = 0, i, j, n_other = 0, nk_fixed = 0, rc = -1;
    size_t need, grid_n;
    const char **keep = NULL;
    memset(plan, 0, sizeof *plan);
    if (!cal || cal->n_pics < 1) { vla_quant__err(err, err_len, "no calibration pictures"); return -1; }
    if (!(cal->min_cos > 0 && cal->min_cos <= 1)) { vla_quant__err(err, err_len, "the minimum grid cosine must be in (0, 1]"); return -1; }
    if (base->to != VLA_TYPE_I8) { vla_quant__err(err, err_len, "a CLIP plan is for I8 only"); return -1; }
    if (!(S = vla_quant__clip_hp(in, n, &out_ch, err, err_len))) return -1;
    vla_arena_init_measure(&ra);
    if (vla_gguf_open(&g, in, n, &ra) != VLA_OK) { vla_quant__err(err, err_len, "not a valid GGUF file"); return -1; }
    need = vla_arena_get_stats(&ra).peak + 4096;
    if (!(rmem = malloc(need))) goto oom;
    vla_arena_init(&ra, rmem, need);
    if (vla_gguf_open(&g, in, n, &ra) != VLA_OK) { vla_quant__err(err, err_len, "not a valid GGUF file"); goto done; }
    plan->min_cos = cal->min_cos;
    plan->n_pics = cal->n_pics;
    plan->name = (char **)calloc((size_t)g.n_tensors + 1, sizeof *plan->name);
    plan->macs = (double *)calloc((size_t)g.n_tensors + 1, sizeof *plan->macs);
    plan->sens = (double *)calloc((size_t)g.n_tensors + 1, sizeof *plan->sens);
    plan->i8 = (unsigned char *)calloc((size_t)g.n_tensors + 1, 1);
    plan->grid_cos = (double *)calloc((size_t)cal->n_pics, sizeof *plan->grid_cos);
    plan->pic_names = (char **)calloc((size_t)cal->n_pics, sizeof *plan->pic_names);
    plan->keep = (const char **)calloc((size_t)base->n_keep + (size_t)g.n_tensors + 1, sizeof *plan->keep);
    other = (char **)calloc((size_t)g.n_tensors + 1, sizeof *other);
    keep = (const char **)calloc((size_t)base->n_keep + 2 * (size_t)g.n_tensors + 1, sizeof *keep);
    cosv = (double *)calloc((size_t)cal->n_pics, sizeof *cosv);
    if (!plan->name || !plan->macs || !plan->sens || !plan->i8 || !plan->grid_cos || !plan->pic_names || !plan->keep || !other || !keep || !cosv)
        goto oom;
    for (i = 0; i < cal->n_pics; i++) {
        char tmp[64];
        const char *nm = cal->names && cal->names[i] ? cal->names[i] : (snprintf(tmp, sizeof tmp, "picture%d", i + 1), tmp);
        if (!(plan->pic_names[i] = (char *)malloc(strlen(nm) + 1))) goto oom;
        strcpy(plan->pic_names[i], nm);
    }
    for (i = 0; i < base->n_keep; i++) keep[nk_fixed++] = base->keep[i];
    for (i = 0; i < (int)g.n_tensors; i++) { /* candidates, the others, every trunk convolution's multiply-adds */
        const vla_tensor *t = &g.tensors[i];
        char *nm;
        int k, kept = 0;
        double mc = 0;
        if (t->n_dims == 4 && t->name.n > 7 && !memcmp(t->name.s, "visual.", 7) && vla_quant__ends(t->name, ".weight")) {
            if ((mc = vla_quant__clip_macs(t, S)) < 0) {
                vla_quant__err(err, err_len, "trunk convolution '%.*s': not a ModifiedResNet name", (int)t->name.n, t->name.s);
                goto done;
            }
            plan->macs_total += mc;
        }
        if (!vla_quant_is_matrix(t)) continue;
        if (!(nm = (char *)malloc(t->name.n + 1))) goto oom;
        memcpy(nm, t->name.s, t->name.n);
        nm[t->name.n] = 0;
        for (k = 0; k < base->n_keep; k++)
            if (fnmatch(base->keep[k], nm, 0) == 0) kept = 1;
        if (t->n_dims != 4 || kept) {
            other[n_other++] = nm;
            if (!kept && !strncmp(nm, "visual.", 7)) keep[nk_fixed++] = nm; /* the measured file holds only visual.* */
            continue;
        }
        plan->macs[plan->n_conv] = mc;
        plan->name[plan->n_conv++] = nm;
        if (t->type != VLA_TYPE_F32 && t->type != VLA_TYPE_F16) {
            vla_quant__err(err, err_len, "trunk convolution '%s' is %s: calibrate on the F32 (or F16) model", nm, vla_type_name(t->type));
            goto done;
        }
    }
    if (plan->n_conv == 0) { vla_quant__err(err, err_len, "no CLIP trunk convolution left to quantize (all kept?)"); goto done; }
    /* the reference grids: the model as it is */
    grid_n = (size_t)(S / 32) * (S / 32) * (size_t)out_ch;
    if (!(ref = (float *)malloc(sizeof(float) * grid_n * (size_t)cal->n_pics)) || !(set = (unsigned char *)calloc((size_t)plan->n_conv, 1)) ||
        !(order = (int *)malloc(sizeof(int) * (size_t)plan->n_conv)))
        goto oom;
    if (vla_quant__trunk_only(&g, &trunk, &trunk_n, err, err_len) != 0) goto done;
    if (vla_quant__clip_grids(trunk, trunk_n, cal, grid_n, ref, NULL, cosv, -2, err, err_len) != 0) goto done;
    /* each candidate alone */
    for (i = 0; i < plan->n_conv; i++) {
        double lo = 1;
        set[i] = 1;
        if (vla_quant__clip_measure(trunk, trunk_n, plan, set, keep, nk_fixed, cal, grid_n, ref, cosv, -2, err, err_len) != 0) goto done;
        set[i] = 0;
        lo = vla_quant__lowest(cosv, cal->n_pics);
        plan->sens[i] = 1 - lo;
        order[i] = i;
        if (cal->progress) fprintf(cal->progress, "[sensitivity %d/%d] %s: grid cosine %.6f alone\n", i + 1, plan->n_conv, plan->name[i], lo);
    }
    for (i = 1; i < plan->n_conv; i++) { /* least sensitive first; ties in file order (stable) */
        int c = order[i];
        for (j = i; j > 0 && plan->sens[order[j - 1]] > plan->sens[c]; j--) order[j] = order[j - 1];
        order[j] = c;
    }
    for (j = 0; j < cal->n_pics; j++) plan->grid_cos[j] = 1;
    /* greedy, least sensitive first */
    for (i = 0; i < plan->n_conv; i++) {
        int c = order[i], ok = 1;
        double lo = 1;
        if (plan->sens[c] > 1 - cal->min_cos) ok = 0; /* alone already under the target */
        else {
            set[c] = 1;
            if (vla_quant__clip_measure(trunk, trunk_n, plan, set, keep, nk_fixed, cal, grid_n, ref, cosv, cal->min_cos, err, err_len) != 0)
                goto done;
            lo = vla_quant__lowest(cosv, cal->n_pics);
            ok = lo >= cal->min_cos;
            set[c] = (unsigned char)ok;
        }
        if (ok) {
            for (j = 0; j < cal->n_pics; j++) plan->grid_cos[j] = cosv[j];
            plan->n_i8++;
            plan->macs_i8 += plan->macs[c];
        }
        if (cal->progress)
            fprintf(cal->progress, "[plan %d/%d] %s: %s (%d I8%s%.6f)\n", i + 1, plan->n_conv, plan->name[c], ok ? "I8" : "F32", plan->n_i8,
                    plan->sens[c] > 1 - cal->min_cos ? ", alone under the target" : ok ? ", smallest grid cosine " : ", a picture at ",
                    plan->sens[c] > 1 - cal->min_cos ? 1 - plan->sens[c] : lo);
    }
    memcpy(plan->i8, set, (size_t)plan->n_conv);
    for (i = 0; i < base->n_keep; i++) plan->keep[plan->n_keep++] = base->keep[i];
    for (i = 0; i < plan->n_conv; i++)
        if (!set[i]) plan->keep[plan->n_keep++] = plan->name[i];
    rc = 0;
    goto done;
oom:
    vla_quant__err(err, err_len, "out of memory");
done:
    for (i = 0; other && i < n_other; i++) free(other[i]);
    free(other); free(rmem); free(ref); free(cosv); free(order); free(set); free(keep); free(trunk);
    return rc;
}

#endif /* VLA_QUANT_IMPLEMENTATION_DONE */
#endif /* VLA_QUANT_IMPLEMENTATION */
