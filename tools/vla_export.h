/* tools/vla_export.h - a model's trainable part back to the official code's
 * state dict (host side: malloc and stdio are fine here).
 *
 *   #include "vladapter.h"
 *   #define VLA_EXPORT_IMPLEMENTATION   in exactly one .c file
 *   #include "tools/vla_export.h"
 *
 *   vla_export ex;
 *   vla_export_collect(&ex, model, adapter_file, adapter_size, &params, "module.", err, sizeof err);
 *   vla_export_safetensors(&ex, &buf, &size);   or   vla_export_pth(&ex, &buf, &size);
 *   vla_export_free(&ex);
 *
 * What is exported is the trainer's trainable set ([D12]: vla_trainer_tensor)
 * for the given vla_train_params (which classes train: the method's modules,
 * LayerNorms, biases, the visual embedding, or everything for full
 * fine-tuning), each tensor under its official state-dict name - the names
 * of VL-Adapter's model.named_parameters(): "model.encoder.layers.0.
 * attn_adapter.adapters.vqa.down_sampler.weight" - optionally behind a
 * prefix ("module." as the official DDP checkpoints have it).  Parameters
 * the official code ties (one adapter shared by all tasks, the embedding
 * shared by encoder, decoder and LM head) appear once, under the first
 * name named_parameters() gives them; load_state_dict(strict=False) then
 * sets the shared parameter.  Values are F32, shapes in PyTorch order
 * (the reverse of ggml's ne), bytes row-major as torch stores them.
 *
 * Two containers:
 *   safetensors   header {"__metadata__": {"format": "pt"}, name: {dtype,
 *                 shape, data_offsets}} padded to 8 bytes, then the data;
 *   torch zip     what torch.save writes since 1.6 (one top-level folder
 *                 "archive": data.pkl, byteorder, data/<k>, version), every
 *                 record stored (not compressed) with its CRC-32 and the data
 *                 records 64-byte aligned; data.pkl is a protocol-2 pickle of
 *                 an OrderedDict name -> torch._utils._rebuild_tensor_v2(
 *                 persistent ('storage', torch.FloatStorage, key, 'cpu', n),
 *                 0, size, stride, False, OrderedDict()), which torch.load
 *                 (and tools/vla_torch.h's restricted unpickler) accept.
 * A precomputed adapter file (Compacter's dense weights, the Hyperformer's
 * generated adapters: vla-convert --precompute) cannot be exported: the
 * factors it was computed from are not in it.
 */
#ifndef VLA_EXPORT_H
#define VLA_EXPORT_H

#ifndef VLADAPTER_H
#error "include vladapter.h before tools/vla_export.h"
#endif

#include <stddef.h>
#include <stdint.h>

typedef struct vla_export_tensor {
    char *name;         /* prefix + official name              */
    int n_dims;
    int64_t shape[4];   /* PyTorch order                        */
    size_t n;           /* elements                             */
    float *data;        /* n floats, owned                      */
} vla_export_tensor;

typedef struct vla_export {
    vla_export_tensor *t;
    int n;
} vla_export;

/* The trainable set of (model, adapter) under p's rules, copied out.
 * adapter may be NULL (full fine-tuning, or the visual embedding alone).
 * Returns 0, or -1 with a message in err. */
int vla_export_collect(vla_export *ex, const vla_model *m, const void *adapter, size_t adapter_size, const vla_train_params *p,
                       const char *prefix, char *err, size_t err_len);
/* The two containers, in malloc'd memory. */
int vla_export_safetensors(const vla_export *ex, unsigned char **buf, size_t *size);
int vla_export_pth(const vla_export *ex, unsigned char **buf, size_t *size);
void vla_export_free(vla_export *ex);

/* LoRA merged: a copy of the base model with one task's LoRA folded in,
 *     W_q += s B_q A_q,  W_v += s B_v A_v   (s = alpha / r)
 * at every projection the task's LoRA touches (self-attention q/v of the
 * encoder and decoder, cross-attention q/v), and the tensors the adapter
 * file replaces under base names (LoRA trains every bias) copied in.  The
 * result is a model file (new fingerprint, the base's keys) that needs no
 * adapter: inference pays nothing for the LoRA.  It is written through fn;
 * the language model's matrices come out as F32 (the trainer's full
 * fine-tuning writer does the writing).  The task's text prefix and preset
 * are not part of a model file: *prefix (may be NULL) receives the prefix
 * the requests must carry.  Returns 0, or -1 with a message in err. */
int vla_export_merge_lora(const vla_model *m, const void *adapter, size_t adapter_size, const char *task, vla_write_fn fn,
                          void *user, char *prefix, size_t prefix_cap, char *err, size_t err_len);

#endif /* VLA_EXPORT_H */

#ifdef VLA_EXPORT_IMPLEMENTATION
#ifndef VLA_EXPORT_IMPLEMENTATION_DONE
#define VLA_EXPORT_IMPLEMENTATION_DONE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vla_export_collect(vla_export *ex, const vla_model *m, const void *adapter, size_t adapter_size, const vla_train_params *p,
                       const char *prefix, char *err, size_t err_len) {
    vla_train_params q = *p;
    vla_trainer *t = NULL;
    size_t need = 0, pl = prefix ? strlen(prefix) : 0;
    void *mem = NULL;
    vla_status st;
    int i, d;
    memset(ex, 0, sizeof *ex);
    /* the smallest batch: the trainer is only asked for its tensors */
    q.max_batch = 1; q.max_text_len = 1; q.max_target_len = 2;
    q.max_images = vla_model_hparams(m)->has_visual ? 1 : 0;
    if (q.max_grid < 1) q.max_grid = vla_model_hparams(m)->n_boxes > 0 ? vla_model_hparams(m)->n_boxes : 1;
    q.recompute = 1;
    if ((st = vla_trainer_mem_req(m, adapter, adapter_size, &q, &need)) != VLA_OK || !(mem = malloc(need)) ||
        (st = vla_trainer_init(&t, m, adapter, adapter_size, &q, mem, need)) != VLA_OK) {
        snprintf(err, err_len, "the trainable set cannot be built: %s%s", mem ? vla_status_str(st) : "out of memory",
                 st == VLA_ERR_UNSUPPORTED ? " (a precomputed or quantised adapter file cannot be exported)" : "");
        free(mem);
        return -1;
    }
    ex->n = vla_trainer_n_tensors(t);
    ex->t = (vla_export_tensor *)calloc((size_t)(ex->n > 0 ? ex->n : 1), sizeof *ex->t);
    if (!ex->t) { free(mem); snprintf(err, err_len, "out of memory"); return -1; }
    for (i = 0; i < ex->n; i++) {
        vla_train_tensor tt;
        vla_export_tensor *e = &ex->t[i];
        size_t ol;
        if (vla_trainer_tensor(t, i, &tt) != VLA_OK) { snprintf(err, err_len, "trainer tensor %d", i); goto fail; }
        ol = strlen(tt.official);
        e->name = (char *)malloc(pl + ol + 1);
        e->data = (float *)malloc(tt.n * sizeof(float) + 1);
        if (!e->name || !e->data) { snprintf(err, err_len, "out of memory"); goto fail; }
        if (pl) memcpy(e->name, prefix, pl);
        memcpy(e->name + pl, tt.official, ol + 1);
        e->n_dims = tt.n_dims;
        for (d = 0; d < tt.n_dims; d++) e->shape[d] = tt.ne[tt.n_dims - 1 - d];
        e->n = tt.n;
        memcpy(e->data, tt.value, tt.n * sizeof(float));
    }
    free(mem);
    return 0;
fail:
    free(mem);
    vla_export_free(ex);
    return -1;
}

void vla_export_free(vla_export *ex) {
    int i;
    for (i = 0; i < ex->n && ex->t; i++) { free(ex->t[i].name); free(ex->t[i].data); }
    free(ex->t);
    memset(ex, 0, sizeof *ex);
}

/* ---- a growing byte buffer ---- */

typedef struct vla_export__buf { unsigned char *p; size_t n, cap; int bad; } vla_export__buf;

static void vla_export__put(vla_export__buf *b, const void *d, size_t n) {
    if (b->bad) return;
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        unsigned char *q;
        while (c < b->n + n) c *= 2;
        if (!(q = (unsigned char *)realloc(b->p, c))) { b->bad = 1; return; }
        b->p = q; b->cap = c;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void vla_export__str(vla_export__buf *b, const char *s) { vla_export__put(b, s, strlen(s)); }
static void vla_export__u8(vla_export__buf *b, unsigned v) { unsigned char c = (unsigned char)v; vla_export__put(b, &c, 1); }
static void vla_export__u16(vla_export__buf *b, unsigned v) { vla_export__u8(b, v & 255); vla_export__u8(b, (v >> 8) & 255); }
static void vla_export__u32(vla_export__buf *b, uint32_t v) { vla_export__u16(b, v & 0xFFFF); vla_export__u16(b, v >> 16); }

/* The F32 values of a tensor, little-endian whatever the host. */
static void vla_export__floats(vla_export__buf *b, const float *x, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        vla_export__u32(b, u);
    }
}

/* A JSON string (names are ASCII in practice; anything else is escaped). */
static void vla_export__json_str(vla_export__buf *b, const char *s) {
    vla_export__u8(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') { vla_export__u8(b, '\\'); vla_export__u8(b, c); }
        else if (c < 0x20) { char e[8]; snprintf(e, sizeof e, "\\u%04x", c); vla_export__str(b, e); }
        else vla_export__u8(b, c);
    }
    vla_export__u8(b, '"');
}

int vla_export_safetensors(const vla_export *ex, unsigned char **buf, size_t *size) {
    vla_export__buf h = {0, 0, 0, 0}, o = {0, 0, 0, 0};
    size_t off = 0, hl;
    char num[64];
    int i, d;
    vla_export__str(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (i = 0; i < ex->n; i++) {
        const vla_export_tensor *e = &ex->t[i];
        vla_export__u8(&h, ',');
        vla_export__json_str(&h, e->name);
        vla_export__str(&h, ":{\"dtype\":\"F32\",\"shape\":[");
        for (d = 0; d < e->n_dims; d++) {
            snprintf(num, sizeof num, "%s%lld", d ? "," : "", (long long)e->shape[d]);
            vla_export__str(&h, num);
        }
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off, (unsigned long long)(off + e->n * 4));
        vla_export__str(&h, num);
        off += e->n * 4;
    }
    vla_export__u8(&h, '}');
    while (h.n % 8) vla_export__u8(&h, ' ');
    hl = h.n;
    vla_export__u32(&o, (uint32_t)(hl & 0xFFFFFFFFu));
    vla_export__u32(&o, (uint32_t)((uint64_t)hl >> 32));
    vla_export__put(&o, h.p, h.n);
    for (i = 0; i < ex->n; i++) vla_export__floats(&o, ex->t[i].data, ex->t[i].n);
    free(h.p);
    if (h.bad || o.bad) { free(o.p); return -1; }
    *buf = o.p;
    *size = o.n;
    return 0;
}

/* ---- torch zip ---- */

static uint32_t vla_export__crc32(const unsigned char *p, size_t n) {
    uint32_t c = 0xFFFFFFFFu;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

/* Pickle pieces (protocol 2). */
static void vla_export__pk_str(vla_export__buf *b, const char *s) { /* BINUNICODE */
    vla_export__u8(b, 'X');
    vla_export__u32(b, (uint32_t)strlen(s));
    vla_export__str(b, s);
}
static void vla_export__pk_int(vla_export__buf *b, int64_t v) {
    if (v >= 0 && v < 256) { vla_export__u8(b, 'K'); vla_export__u8(b, (unsigned)v); }      /* BININT1 */
    else if (v >= -2147483647LL - 1 && v <= 2147483647LL) { vla_export__u8(b, 'J'); vla_export__u32(b, (uint32_t)v); } /* BININT */
    else { /* LONG1 with 8 little-endian bytes */
        int k;
        vla_export__u8(b, 0x8a); vla_export__u8(b, 8);
        for (k = 0; k < 8; k++) vla_export__u8(b, (unsigned)(((uint64_t)v >> (8 * k)) & 255));
    }
}
static void vla_export__pk_global(vla_export__buf *b, const char *mod, const char *name) {
    vla_export__u8(b, 'c');
    vla_export__str(b, mod); vla_export__u8(b, '\n');
    vla_export__str(b, name); vla_export__u8(b, '\n');
}

/* One stored zip record; data 64-byte aligned through the local header's
 * extra field (as torch.save does).  Appends a central directory entry. */
static void vla_export__zip_add(vla_export__buf *z, vla_export__buf *cd, const char *name, const unsigned char *data, size_t n) {
    uint32_t crc = vla_export__crc32(data, n), off = (uint32_t)z->n;
    size_t nl = strlen(name), hdr = 30 + nl + 4, pad = (64 - (z->n + hdr) % 64) % 64;
    vla_export__u32(z, 0x04034b50u); vla_export__u16(z, 20); vla_export__u16(z, 0); vla_export__u16(z, 0);
    vla_export__u16(z, 0); vla_export__u16(z, 0x21); /* time, date (1980-01-01) */
    vla_export__u32(z, crc); vla_export__u32(z, (uint32_t)n); vla_export__u32(z, (uint32_t)n);
    vla_export__u16(z, (unsigned)nl); vla_export__u16(z, (unsigned)(4 + pad));
    vla_export__str(z, name);
    vla_export__u16(z, 0x4246); vla_export__u16(z, (unsigned)pad); /* "FB" padding field */
    while (pad--) vla_export__u8(z, 'Z');
    vla_export__put(z, data, n);
    vla_export__u32(cd, 0x02014b50u); vla_export__u16(cd, 20); vla_export__u16(cd, 20); vla_export__u16(cd, 0);
    vla_export__u16(cd, 0); vla_export__u16(cd, 0); vla_export__u16(cd, 0x21);
    vla_export__u32(cd, crc); vla_export__u32(cd, (uint32_t)n); vla_export__u32(cd, (uint32_t)n);
    vla_export__u16(cd, (unsigned)nl); vla_export__u16(cd, 0); vla_export__u16(cd, 0);
    vla_export__u16(cd, 0); vla_export__u16(cd, 0); vla_export__u32(cd, 0);
    vla_export__u32(cd, off);
    vla_export__str(cd, name);
}

int vla_export_pth(const vla_export *ex, unsigned char **buf, size_t *size) {
    vla_export__buf pk = {0, 0, 0, 0}, z = {0, 0, 0, 0}, cd = {0, 0, 0, 0}, d = {0, 0, 0, 0};
    char key[32], rec[64];
    size_t cd_off;
    int i, k, n_rec = 0;
    uint64_t total = 0;
    for (i = 0; i < ex->n; i++) total += (uint64_t)ex->t[i].n * 4 + 256;
    if (total >= 0xFFFF0000u) return -1; /* would need zip64 */
    /* data.pkl */
    vla_export__u8(&pk, 0x80); vla_export__u8(&pk, 2);                       /* PROTO 2           */
    vla_export__pk_global(&pk, "collections", "OrderedDict");
    vla_export__u8(&pk, ')'); vla_export__u8(&pk, 'R');                      /* OrderedDict()     */
    vla_export__u8(&pk, '(');                                                /* MARK              */
    for (i = 0; i < ex->n; i++) {
        const vla_export_tensor *e = &ex->t[i];
        int64_t stride = 1;
        int64_t st[4];
        for (k = e->n_dims - 1; k >= 0; k--) { st[k] = stride; stride *= e->shape[k]; }
        snprintf(key, sizeof key, "%d", i);
        vla_export__pk_str(&pk, e->name);
        vla_export__pk_global(&pk, "torch._utils", "_rebuild_tensor_v2");
        vla_export__u8(&pk, '(');
        vla_export__u8(&pk, '(');                                            /* persistent id     */
        vla_export__pk_str(&pk, "storage");
        vla_export__pk_global(&pk, "torch", "FloatStorage");
        vla_export__pk_str(&pk, key);
        vla_export__pk_str(&pk, "cpu");
        vla_export__pk_int(&pk, (int64_t)e->n);
        vla_export__u8(&pk, 't'); vla_export__u8(&pk, 'Q');                  /* TUPLE, BINPERSID  */
        vla_export__pk_int(&pk, 0);                                          /* storage offset    */
        vla_export__u8(&pk, '(');
        for (k = 0; k < e->n_dims; k++) vla_export__pk_int(&pk, e->shape[k]);
        vla_export__u8(&pk, 't');
        vla_export__u8(&pk, '(');
        for (k = 0; k < e->n_dims; k++) vla_export__pk_int(&pk, st[k]);
        vla_export__u8(&pk, 't');
        vla_export__u8(&pk, 0x89);                                           /* requires_grad     */
        vla_export__pk_global(&pk, "collections", "OrderedDict");
        vla_export__u8(&pk, ')'); vla_export__u8(&pk, 'R');                  /* backward hooks    */
        vla_export__u8(&pk, 't'); vla_export__u8(&pk, 'R');                  /* the call          */
    }
    vla_export__u8(&pk, 'u'); vla_export__u8(&pk, '.');                      /* SETITEMS, STOP    */
    if (pk.bad) goto fail;
    vla_export__zip_add(&z, &cd, "archive/data.pkl", pk.p, pk.n); n_rec++;
    vla_export__zip_add(&z, &cd, "archive/byteorder", (const unsigned char *)"little", 6); n_rec++;
    for (i = 0; i < ex->n; i++) {
        d.n = 0;
        vla_export__floats(&d, ex->t[i].data, ex->t[i].n);
        if (d.bad) goto fail;
        snprintf(rec, sizeof rec, "archive/data/%d", i);
        vla_export__zip_add(&z, &cd, rec, d.p ? d.p : (const unsigned char *)"", d.n); n_rec++;
    }
    vla_export__zip_add(&z, &cd, "archive/version", (const unsigned char *)"3\n", 2); n_rec++;
    cd_off = z.n;
    vla_export__put(&z, cd.p, cd.n);
    vla_export__u32(&z, 0x06054b50u); vla_export__u16(&z, 0); vla_export__u16(&z, 0);
    vla_export__u16(&z, (unsigned)n_rec); vla_export__u16(&z, (unsigned)n_rec);
    vla_export__u32(&z, (uint32_t)cd.n); vla_export__u32(&z, (uint32_t)cd_off); vla_export__u16(&z, 0);
    if (z.bad || n_rec > 65535) goto fail;
    free(pk.p); free(cd.p); free(d.p);
    *buf = z.p;
    *size = z.n;
    return 0;
fail:
    free(pk.p); free(cd.p); free(d.p); free(z.p);
    return -1;
}

/* ---- LoRA merged ---- */

/* The F32 data of a tensor of an opened adapter file, or NULL. */
static const float *vla_export__f32(const vla_gguf *g, const char *name, vla_tensor *t) {
    if (vla_gguf_get_tensor(g, name, t) != VLA_OK || t->type != VLA_TYPE_F32) return NULL;
    return (const float *)t->data;
}

int vla_export_merge_lora(const vla_model *m, const void *adapter, size_t adapter_size, const char *task, vla_write_fn fn,
                          void *user, char *prefix, size_t prefix_cap, char *err, size_t err_len) {
    const vla_hparams *hp = vla_model_hparams(m);
    static const char *sites[4] = {"q", "v", "xq", "xv"};
    vla_train_params p = vla_train_defaults("full");
    vla_trainer *t = NULL;
    vla_adapter *ad = NULL;
    vla_gguf g;
    vla_arena ga;
    vla_str ms;
    void *gmem = NULL, *tmem = NULL, *amem = NULL;
    size_t need;
    float alpha = 0.0f, sc;
    int i, l, k, side, ti, n_done = 0, rank = 0, rc = -1;
    char nm[160], base[160];
    vla_status st;
    if (prefix && prefix_cap) prefix[0] = 0;
    /* the adapter: a LoRA set with this task */
    if (vla_adapter_mem_req(m, adapter, adapter_size, &need) != VLA_OK || !(amem = malloc(need)) ||
        vla_adapter_attach(&ad, m, amem, need, adapter, adapter_size, NULL) != VLA_OK) {
        snprintf(err, err_len, "the adapter file does not attach to this base model");
        goto out;
    }
    if (strcmp(vla_adapter_method(ad), "lora") != 0) { snprintf(err, err_len, "the adapter's method is %s, not lora", vla_adapter_method(ad)); goto out; }
    if ((ti = vla_adapter_find_task(ad, task)) < 0) { snprintf(err, err_len, "the adapter has no task '%s'", task); goto out; }
    if (prefix && prefix_cap) {
        vla_str pre = {"", 0};
        vla_adapter_task(ad, ti, NULL, &pre, NULL);
        snprintf(prefix, prefix_cap, "%.*s", (int)pre.n, pre.s);
    }
    vla_arena_init_measure(&ga);
    vla_gguf_open(&g, adapter, adapter_size, &ga);
    if (!(gmem = malloc(ga.peak_total + VLA_ALIGN))) { snprintf(err, err_len, "out of memory"); goto out; }
    vla_arena_init(&ga, gmem, ga.peak_total + VLA_ALIGN);
    if (vla_gguf_open(&g, adapter, adapter_size, &ga) != VLA_OK || vla_gguf_get_str(&g, "vladapter.adapter.method", &ms) != VLA_OK) {
        snprintf(err, err_len, "the adapter file does not open");
        goto out;
    }
    vla_gguf_get_f32(&g, "vladapter.adapter.lora_alpha", &alpha);
    /* every base tensor as F32 values: the full fine-tuning trainable set */
    p.max_batch = 1; p.max_text_len = 1; p.max_target_len = 2; p.max_images = hp->has_visual ? 1 : 0;
    p.max_grid = hp->n_boxes > 0 ? hp->n_boxes : 1; p.recompute = 1;
    if ((st = vla_trainer_mem_req(m, NULL, 0, &p, &need)) != VLA_OK || !(tmem = malloc(need)) ||
        (st = vla_trainer_init(&t, m, NULL, 0, &p, tmem, need)) != VLA_OK) {
        snprintf(err, err_len, "the base model's tensors cannot be copied: %s", tmem ? vla_status_str(st) : "out of memory");
        goto out;
    }
    /* the tensors the adapter replaces under base names (biases, LayerNorms, ...) */
    for (i = 0; i < vla_trainer_n_tensors(t); i++) {
        vla_train_tensor tt;
        vla_tensor x;
        const float *src;
        vla_trainer_tensor(t, i, &tt);
        if ((src = vla_export__f32(&g, tt.name, &x)) != NULL) {
            if ((size_t)x.nbytes != tt.n * 4) { snprintf(err, err_len, "%s: the adapter's tensor has another size", tt.name); goto out; }
            memcpy(tt.value, src, tt.n * 4);
        }
    }
    /* the rank: the widest A (all sites share it in the official code) */
    for (side = 0; side < 2; side++)
        for (l = 0; l < (side ? hp->n_dec_layers : hp->n_enc_layers); l++)
            for (k = 0; k < (side ? 4 : 2); k++) {
                const char *tk[2];
                int q;
                vla_tensor a;
                tk[0] = task; tk[1] = "*";
                for (q = 0; q < 2; q++) {
                    snprintf(nm, sizeof nm, "L.%s.%s.%d.%s.A", tk[q], side ? "dec" : "enc", l, sites[k]);
                    if (vla_export__f32(&g, nm, &a) && a.n_dims == 2 && (int)a.ne[1] > rank) rank = (int)a.ne[1];
                }
            }
    if (rank < 1) { snprintf(err, err_len, "no LoRA matrices for task '%s' in the adapter file", task); goto out; }
    sc = (alpha > 0.0f ? alpha : (float)rank) / (float)rank;
    for (side = 0; side < 2; side++)
        for (l = 0; l < (side ? hp->n_dec_layers : hp->n_enc_layers); l++)
            for (k = 0; k < (side ? 4 : 2); k++) {
                vla_tensor A, B;
                const float *a = NULL, *b = NULL;
                const char *tk[2];
                int q, r, o, c, R, O, C, found = 0;
                tk[0] = task; tk[1] = "*";
                for (q = 0; q < 2 && !a; q++) {
                    snprintf(nm, sizeof nm, "L.%s.%s.%d.%s.A", tk[q], side ? "dec" : "enc", l, sites[k]);
                    a = vla_export__f32(&g, nm, &A);
                    snprintf(nm, sizeof nm, "L.%s.%s.%d.%s.B", tk[q], side ? "dec" : "enc", l, sites[k]);
                    b = vla_export__f32(&g, nm, &B);
                }
                if (!a || !b) continue;
                snprintf(base, sizeof base, "%s.layers.%d.%s.%s_proj.weight", side ? "decoder" : "encoder", l,
                         k >= 2 ? "encoder_attn" : "self_attn", k % 2 ? "v" : "q");
                R = (int)A.ne[1]; C = (int)A.ne[0]; O = (int)B.ne[1];
                if (A.n_dims != 2 || B.n_dims != 2 || (int)B.ne[0] != R) { snprintf(err, err_len, "%s: A and B do not fit", nm); goto out; }
                for (i = 0; i < vla_trainer_n_tensors(t); i++) {
                    vla_train_tensor tt;
                    vla_trainer_tensor(t, i, &tt);
                    if (strcmp(tt.name, base) != 0) continue;
                    if (tt.n_dims != 2 || (int)tt.ne[0] != C || (int)tt.ne[1] != O) { snprintf(err, err_len, "%s: shape", base); goto out; }
                    for (o = 0; o < O; o++) /* W[o, :] += s * sum_r B[o, r] A[r, :] */
                        for (r = 0; r < R; r++) {
                            float f = sc * b[(size_t)o * R + r];
                            const float *ar = a + (size_t)r * C;
                            float *w = tt.value + (size_t)o * C;
                            for (c = 0; c < C; c++) w[c] += f * ar[c];
                        }
                    found = 1;
                }
                if (!found) { snprintf(err, err_len, "the base model has no %s", base); goto out; }
                n_done++;
            }
    if (!n_done) { snprintf(err, err_len, "no LoRA site to merge for task '%s'", task); goto out; }
    if ((st = vla_trainer_save(t, fn, user)) != VLA_OK) { snprintf(err, err_len, "writing the model: %s", vla_status_str(st)); goto out; }
    rc = 0;
out:
    if (ad) vla_adapter_detach(ad);
    free(amem); free(gmem); free(tmem);
    return rc;
}

#endif /* VLA_EXPORT_IMPLEMENTATION_DONE */
#endif /* VLA_EXPORT_IMPLEMENTATION */
