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
 * files made for the source model attach to the quantized one.
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
} vla_quant_opts;

/* Per-tensor error of a conversion, against the input's values as fp32. */
typedef struct vla_quant_stat {
    double max_abs;           /* largest |out - in| over the file */
    double worst_rel_rms;     /* largest per-tensor sqrt(sum (out - in)^2 / sum in^2) */
    int n_converted;          /* tensors written in a new type */
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
    if (!(wmem = malloc(wneed)) || !(owned = (void **)calloc((size_t)g.n_tensors * 2 + 1, sizeof *owned))) goto oom;
    vla_arena_init(&wa, wmem, wneed);
    if (vla_gguf_writer_init(&w, &wa, (int)g.n_kv, (int)(2 * g.n_tensors), g.alignment) != VLA_OK) goto oom;
    for (i = 0; i < g.n_kv; i++) {
        static const char al[] = "general.alignment"; /* the writer adds its own */
        if (g.kv[i].key.n == sizeof al - 1 && memcmp(g.kv[i].key.s, al, sizeof al - 1) == 0) continue;
        vla_gguf_add_kv(&w, &g.kv[i]);
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

#endif /* VLA_QUANT_IMPLEMENTATION_DONE */
#endif /* VLA_QUANT_IMPLEMENTATION */
