/* vla_convert.h - turn checkpoint tensors into a vladapter GGUF model file.
 *
 * Host-side (malloc/stdio allowed), shared by tools/vla-convert and
 * tools/vla-fixtures.  Include after vladapter.h; define
 * VLA_CONVERT_IMPLEMENTATION in one file (it brings the implementations of
 * vla_tool.h and vla_torch.h along unless that file defined them itself).
 *
 * Naming: a model file keeps the official state-dict names without the
 * "module." (DDP) and "model." prefixes, e.g. "encoder.layers.0.fc1.weight".
 * The tied copies of the word embedding (lm_head, embed_tokens of encoder and
 * decoder, the visual obj_order_embedding) are stored once as "shared.weight".
 * Every tensor is written as F32 here (tools/vla-quantize makes Q8_0 files).
 *
 * Hyperparameters (all "vladapter.*" keys) come from the model config JSON
 * (HF config.json, or the __metadata__.config of a safetensors file), with
 * layer counts and FFN sizes checked against the tensors.
 */
#ifndef VLA_CONVERT_H
#define VLA_CONVERT_H

#include "vla_tool.h"
#include "vla_torch.h"

typedef struct vla_conv_tensor {
    char *name;
    vla_type type;
    int n_dims;
    int64_t ne[VLA_MAX_DIMS]; /* ggml order */
    void *data;               /* owned */
    size_t nbytes;
} vla_conv_tensor;

typedef struct vla_conv {
    vla_conv_tensor *t;
    int n, cap;
    /* scalar metadata, written in order */
    struct vla_conv_kv { char *key; int kind; /* 0 u32, 1 f32, 2 bool, 3 str */ uint32_t u; float f; char *s; } *kv;
    int n_kv, cap_kv;
    /* extra array metadata (tokenizer) added through a writer callback */
    void (*add_arrays)(void *user, vla_gguf_writer *w);
    void *add_arrays_user;
    int n_array_kv;           /* how many kv the callback adds */
    int quiet;                /* 1: no progress on stderr */
    /* adapter files: tasks, prefixes, presets (written as arrays) */
    int n_tasks;
    char task_names[16][64];
    char task_prefix[16][32];
    uint32_t task_beams[16], task_maxlen[16];
    uint64_t fingerprint;       /* written as vladapter.fingerprint if set      */
    uint64_t base_fingerprint;  /* written as vladapter.adapter.base_fingerprint */
    vla_str task_str[16], prefix_str[16];
    char err[512];
} vla_conv;

/* A source tensor (from safetensors or a torch file), PyTorch shape order. */
typedef struct vla_conv_src {
    const char *name;
    int dtype;                /* vla_type id; 100 = U8, 101 = BOOL */
    int n_dims;
    int64_t shape[8];
    const void *data;
    size_t nbytes;
} vla_conv_src;

void vla_conv_init(vla_conv *cv);
void vla_conv_free(vla_conv *cv);
void vla_conv_u32(vla_conv *cv, const char *key, uint32_t v);
void vla_conv_f32(vla_conv *cv, const char *key, float v);
void vla_conv_bool(vla_conv *cv, const char *key, int v);
void vla_conv_str(vla_conv *cv, const char *key, const char *s);
/* Add a tensor converted to F32 under name (shape in PyTorch order). */
int vla_conv_add_f32(vla_conv *cv, const char *name, const vla_conv_src *src);
/* Add an F32 tensor from a float buffer (takes ownership of data). */
int vla_conv_add_owned(vla_conv *cv, const char *name, int n_dims, const int64_t *shape_pt, float *data);
const vla_conv_tensor *vla_conv_find(const vla_conv *cv, const char *name);
/* The BART + visual-embedding part: src[n] are the checkpoint tensors,
 * config the model config object.  Unknown tensors are reported and skipped
 * (skipped counts them). */
int vla_conv_bart(vla_conv *cv, const vla_conv_src *src, int n, const vla_json *config, int *skipped);
/* The CLIP ModifiedResNet trunk ("visual.*" keys, or the same keys without
 * the prefix): BatchNorm folded into each convolution (in double), weights
 * reordered to [cout, ky, kx, cin], written as "visual.<conv>.weight/.bias".
 * The attention pool and the text tower are skipped. */
int vla_conv_clip(vla_conv *cv, const vla_conv_src *src, int n, int image_size);
/* Parameter-efficient modules.  Splits checkpoint tensors into the adapter
 * file's naming (see vladapter.h [D10]):
 *   A.<task>.<site>.<down|up>.<weight|bias|W|rule>   adapters, Compacter
 *   L.<task>.<site>.<A|B>                            LoRA
 *   P.<task>.<emb|fc1.*|fc2.*>                       prompt tuning
 *   H.<enc|dec>.<...>, H.task.<task>                 Hyperformer
 * with <task> = "*" for a module that every task shares (found through tied
 * names: the same storage, or the same bytes).  Writes the method, tasks,
 * prefixes, presets and alpha as metadata.  Returns the number of tensors
 * that went into the adapter (0: the checkpoint has no PEFT modules). */
int vla_conv_peft(vla_conv *cv, const vla_conv_src *src, int n, const vla_json *config);
/* Is this checkpoint name part of a PEFT module? */
int vla_conv_is_peft(const char *name);
/* FNV-1a 64 fingerprint over a converted file's tensors (names, shapes, bytes). */
uint64_t vla_conv_fingerprint(const vla_conv *cv);
/* Random weights of any BART/VL-BART shape (for tests and benchmarks):
 * N(0, 0.02) matrices, LayerNorm (1, 0) plus a small jitter, seeded. */
typedef struct vla_rand_bart {
    int d_model, enc_layers, dec_layers, heads, ffn, vocab, max_pos;
    int feat_dim;             /* 0: no visual embedding */
    int n_boxes;              /* 36 */
    uint64_t seed;
} vla_rand_bart;
int vla_conv_random_bart(vla_conv *cv, const vla_rand_bart *r);
/* Random PEFT modules in the official naming, for an existing base shape,
 * run through vla_conv_peft (so sharing and naming are the converter's):
 * method is one of multiple_adapters, half_shared_adapters, single_adapter,
 * hyperformer, multiple_compacters, single_compacter, multiple_lora,
 * single_lora, multiple_prompts, single_prompt.  Sizes follow the paper's
 * scripts: adapter hidden d/reduction (8), Compacter k = 2, LoRA r = 128
 * (alpha 32), 40 prompt vectors through an 800-wide MLP, Hyperformer task
 * embedding 512, projector 128 -> 8. */
typedef struct vla_rand_peft {
    const char *method;
    int d_model, enc_layers, dec_layers;
    int reduction;            /* 8 */
    int lora_r;               /* 128 */
    int prompt_len, prompt_mid; /* 40, 800 */
    int hyper_task_dim, hyper_hidden, hyper_dp; /* 512, 128, 8 */
    int phm_k;                /* 2 */
    uint64_t seed;
} vla_rand_peft;
int vla_conv_random_peft(vla_conv *acv, const vla_rand_peft *r);
/* Uniform / normal numbers from a 64-bit seed (xorshift*), for tools. */
double vla_conv_randn(uint64_t *state);
/* A checkpoint file of any supported format as a list of source tensors:
 * safetensors (tied aliases of __metadata__.tied expanded), torch.save zip
 * (pytorch_model.bin, VL-Adapter LAST.pth), the legacy pre-1.6 torch.save
 * stream, TorchScript (OpenAI CLIP .pt).
 * overlay (optional, safetensors): tensors whose values replace the file's. */
typedef struct vla_ckpt {
    unsigned char *buf, *ov_buf;
    size_t size;
    int format;               /* VLA_TORCH_FORMAT_* */
    vla_st_file st, ov;
    vla_torch_file tf;
    vla_conv_src *src;
    int n;
    int n_owned_names;        /* aliases whose names are malloc'd (at the end) */
    vla_json *config;         /* the model config, if the file has one nearby */
} vla_ckpt;
int vla_ckpt_open(vla_ckpt *k, const char *path, const char *overlay, char *err, size_t err_len);
/* The same from memory (copied; no config.json lookup, no overlay). */
int vla_ckpt_open_mem(vla_ckpt *k, const void *buf, size_t size, char *err, size_t err_len);
void vla_ckpt_close(vla_ckpt *k);
#ifdef VLADAPTER_IMPLEMENTATION
/* What an attached slot computed, as an adapter file (vla-convert
 * --precompute): dense adapters per task (Compacter's Kronecker sums and
 * Hyperformer's generated weights expanded, modules every task shares written
 * once as "*"), LoRA factors as they are, prompt vectors after their MLP;
 * tasks, prefixes, presets and the base fingerprint carried over.  Needs the
 * library's implementation in the same file (it reads the slot). */
int vla_conv_from_slot(vla_conv *pc, const vla_adapter *ad, const vla_model *m);
#endif
/* Write the GGUF file. */
int vla_conv_write(vla_conv *cv, const char *path);
/* Or into a malloc'd buffer. */
int vla_conv_write_mem(vla_conv *cv, unsigned char **buf, size_t *size);
/* Canonical name of a checkpoint key: strips "module." and "model."; maps
 * the tied embedding aliases to "shared.weight". */
void vla_conv_canonical(const char *in, char *out, size_t cap);

#endif /* VLA_CONVERT_H */

#ifdef VLA_CONVERT_IMPLEMENTATION
#ifndef VLA_CONVERT_IMPLEMENTATION_DONE
#define VLA_CONVERT_IMPLEMENTATION_DONE
/* the readers it stands on come with it */
#ifndef VLA_TOOL_IMPLEMENTATION
#define VLA_TOOL_IMPLEMENTATION
#include "vla_tool.h"
#endif
#ifndef VLA_TORCH_IMPLEMENTATION
#define VLA_TORCH_IMPLEMENTATION
#include "vla_torch.h"
#endif
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <unistd.h> /* isatty: progress lines only on a terminal */

static char *vla_conv__strdup(const char *s) {
    size_t n = strlen(s);
    char *d = (char *)malloc(n + 1);
    if (d) memcpy(d, s, n + 1);
    return d;
}

void vla_conv_init(vla_conv *cv) { memset(cv, 0, sizeof *cv); }

void vla_conv_free(vla_conv *cv) {
    int i;
    for (i = 0; i < cv->n; i++) { free(cv->t[i].name); free(cv->t[i].data); }
    for (i = 0; i < cv->n_kv; i++) { free(cv->kv[i].key); free(cv->kv[i].s); }
    free(cv->t);
    free(cv->kv);
    memset(cv, 0, sizeof *cv);
}

static struct vla_conv_kv *vla_conv__kv(vla_conv *cv, const char *key, int kind) {
    int i;
    for (i = 0; i < cv->n_kv; i++)
        if (!strcmp(cv->kv[i].key, key)) { free(cv->kv[i].s); cv->kv[i].s = NULL; cv->kv[i].kind = kind; return &cv->kv[i]; }
    if (cv->n_kv == cv->cap_kv) {
        int nc = cv->cap_kv ? cv->cap_kv * 2 : 32;
        struct vla_conv_kv *nk = (struct vla_conv_kv *)realloc(cv->kv, sizeof *nk * (size_t)nc);
        if (!nk) return NULL;
        cv->kv = nk;
        cv->cap_kv = nc;
    }
    memset(&cv->kv[cv->n_kv], 0, sizeof cv->kv[0]);
    cv->kv[cv->n_kv].key = vla_conv__strdup(key);
    cv->kv[cv->n_kv].kind = kind;
    return &cv->kv[cv->n_kv++];
}

void vla_conv_u32(vla_conv *cv, const char *key, uint32_t v) { struct vla_conv_kv *k = vla_conv__kv(cv, key, 0); if (k) k->u = v; }
void vla_conv_f32(vla_conv *cv, const char *key, float v) { struct vla_conv_kv *k = vla_conv__kv(cv, key, 1); if (k) k->f = v; }
void vla_conv_bool(vla_conv *cv, const char *key, int v) { struct vla_conv_kv *k = vla_conv__kv(cv, key, 2); if (k) k->u = v != 0; }
void vla_conv_str(vla_conv *cv, const char *key, const char *s) { struct vla_conv_kv *k = vla_conv__kv(cv, key, 3); if (k) k->s = vla_conv__strdup(s); }

const vla_conv_tensor *vla_conv_find(const vla_conv *cv, const char *name) {
    int i;
    for (i = 0; i < cv->n; i++)
        if (!strcmp(cv->t[i].name, name)) return &cv->t[i];
    return NULL;
}

int vla_conv_add_owned(vla_conv *cv, const char *name, int n_dims, const int64_t *shape_pt, float *data) {
    vla_conv_tensor *t;
    int d;
    size_t nel = 1;
    if (n_dims < 1 || n_dims > VLA_MAX_DIMS) {
        snprintf(cv->err, sizeof cv->err, "tensor '%s': %d dimensions (at most %d supported)", name, n_dims, VLA_MAX_DIMS);
        free(data);
        return -1;
    }
    if (vla_conv_find(cv, name)) { snprintf(cv->err, sizeof cv->err, "tensor '%s' given twice", name); free(data); return -1; }
    if (cv->n == cv->cap) {
        int nc = cv->cap ? cv->cap * 2 : 256;
        vla_conv_tensor *nt = (vla_conv_tensor *)realloc(cv->t, sizeof *nt * (size_t)nc);
        if (!nt) { free(data); snprintf(cv->err, sizeof cv->err, "out of memory"); return -1; }
        cv->t = nt;
        cv->cap = nc;
    }
    t = &cv->t[cv->n];
    memset(t, 0, sizeof *t);
    t->name = vla_conv__strdup(name);
    t->type = VLA_TYPE_F32;
    t->n_dims = n_dims;
    for (d = 0; d < n_dims; d++) { t->ne[d] = shape_pt[n_dims - 1 - d]; nel *= (size_t)shape_pt[d]; }
    t->data = data;
    t->nbytes = nel * 4;
    cv->n++;
    return 0;
}

static double vla_conv__half(uint16_t h) { return (double)vla_fp16_to_fp32(h); }

int vla_conv_add_f32(vla_conv *cv, const char *name, const vla_conv_src *s) {
    size_t nel = 1, i;
    int d;
    float *o;
    const unsigned char *p = (const unsigned char *)s->data;
    int64_t shape[8];
    int nd = s->n_dims;
    for (d = 0; d < s->n_dims; d++) { nel *= (size_t)s->shape[d]; shape[d] = s->shape[d]; }
    if (nd == 0) { nd = 1; shape[0] = 1; } /* a scalar becomes a 1-element vector */
    o = (float *)malloc(nel * 4 + 4);
    if (!o) { snprintf(cv->err, sizeof cv->err, "out of memory converting '%s'", name); return -1; }
    for (i = 0; i < nel; i++) {
        switch (s->dtype) {
        case VLA_TYPE_F32: memcpy(&o[i], p + 4 * i, 4); break;
        case VLA_TYPE_F16: { uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8)); o[i] = (float)vla_conv__half(h); } break;
        case VLA_TYPE_BF16: { uint32_t b = (uint32_t)(p[2 * i] | (p[2 * i + 1] << 8)) << 16; memcpy(&o[i], &b, 4); } break;
        case VLA_TYPE_F64: { double v; memcpy(&v, p + 8 * i, 8); o[i] = (float)v; } break;
        default:
            free(o);
            snprintf(cv->err, sizeof cv->err, "tensor '%s': dtype %d is not a float type", name, s->dtype);
            return -1;
        }
    }
    return vla_conv_add_owned(cv, name, nd, shape, o);
}

void vla_conv_canonical(const char *in, char *out, size_t cap) {
    static const char *aliases[] = {"lm_head.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight",
                                    "encoder.visual_embedding.obj_order_embedding.weight"};
    size_t i;
    if (!strncmp(in, "module.", 7)) in += 7;
    if (!strncmp(in, "model.", 6)) in += 6;
    for (i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(in, aliases[i])) in = "shared.weight";
    snprintf(out, cap, "%s", in);
}

static int vla_conv__cfg_int(const vla_json *cfg, const char *key, int dflt) {
    const vla_json *v = vla_json_get(cfg, key);
    if (!v) return dflt;
    if (v->type == VLA_JSON_NUMBER) { /* outside int (or NaN): clamped, so the range checks that follow refuse it */
        if (v->num >= 2147483647.0) return 2147483647;
        if (!(v->num > -2147483648.0)) return -2147483647 - 1;
        return (int)v->num;
    }
    if (v->type == VLA_JSON_TRUE) return 1;
    if (v->type == VLA_JSON_FALSE) return 0;
    return dflt;
}

/* Is this a tensor the BART part understands? */
static int vla_conv__is_bart(const char *n) {
    static const char *pre[] = {"shared.weight", "final_logits_bias", "encoder.embed_positions.", "decoder.embed_positions.",
                                "encoder.layernorm_embedding.", "decoder.layernorm_embedding.",
                                "encoder.visual_embedding.feat_embedding.", "encoder.visual_embedding.absolute_vis_pos_embedding.",
                                "encoder.visual_embedding.img_order_embedding."};
    size_t i;
    for (i = 0; i < sizeof pre / sizeof pre[0]; i++)
        if (!strncmp(n, pre[i], strlen(pre[i]))) return 1;
    if (!strncmp(n, "encoder.layers.", 15) || !strncmp(n, "decoder.layers.", 15)) {
        const char *p = strchr(n + 15, '.');
        static const char *parts[] = {".self_attn.q_proj.", ".self_attn.k_proj.", ".self_attn.v_proj.", ".self_attn.out_proj.",
                                      ".encoder_attn.q_proj.", ".encoder_attn.k_proj.", ".encoder_attn.v_proj.",
                                      ".encoder_attn.out_proj.", ".self_attn_layer_norm.", ".encoder_attn_layer_norm.",
                                      ".fc1.", ".fc2.", ".final_layer_norm."};
        if (!p) return 0;
        for (i = 0; i < sizeof parts / sizeof parts[0]; i++)
            if (!strncmp(p, parts[i], strlen(parts[i])) && (!strcmp(p + strlen(parts[i]), "weight") || !strcmp(p + strlen(parts[i]), "bias")))
                return 1;
    }
    return 0;
}

static int vla_conv__count_layers(const vla_conv *cv, const char *prefix) {
    int n = 0;
    char nm[128];
    for (;;) {
        snprintf(nm, sizeof nm, "%s%d.fc1.weight", prefix, n);
        if (!vla_conv_find(cv, nm)) return n;
        n++;
    }
}

int vla_conv_bart(vla_conv *cv, const vla_conv_src *src, int n, const vla_json *cfg, int *skipped) {
    int i, d_model, n_enc, n_dec, heads_e, heads_d, n_boxes, side;
    char nm[256];
    const vla_conv_tensor *t;
    if (skipped) *skipped = 0;
    for (i = 0; i < n; i++) {
        vla_conv_canonical(src[i].name, nm, sizeof nm);
        if (!vla_conv__is_bart(nm)) { if (skipped) (*skipped)++; continue; }
        if (vla_conv_find(cv, nm)) continue; /* a tied alias of a tensor already taken */
        if (vla_conv_add_f32(cv, nm, &src[i]) != 0) return -1;
        if (!cv->quiet && (i % 64) == 63 && isatty(2)) fprintf(stderr, "\r  converted %d/%d tensors", i + 1, n);
    }
    if (!cv->quiet && n >= 64) fprintf(stderr, "%s  converted %d/%d tensors\n", isatty(2) ? "\r" : "", n, n);
    t = vla_conv_find(cv, "shared.weight");
    if (!t || t->n_dims != 2) { snprintf(cv->err, sizeof cv->err, "no word embedding (shared.weight / embed_tokens / lm_head) in the checkpoint"); return -1; }
    d_model = (int)t->ne[0];
    if (!vla_conv_find(cv, "final_logits_bias")) { /* BartModel checkpoints have none: zeros, as HF creates */
        float *z = (float *)calloc((size_t)t->ne[1], 4);
        int64_t sh[2];
        sh[0] = 1; sh[1] = t->ne[1];
        if (!z || vla_conv_add_owned(cv, "final_logits_bias", 2, sh, z) != 0) return -1;
    }
    if (vla_conv__cfg_int(cfg, "d_model", d_model) != d_model) {
        snprintf(cv->err, sizeof cv->err, "config d_model %d does not match the embedding width %d", vla_conv__cfg_int(cfg, "d_model", 0), d_model);
        return -1;
    }
    n_enc = vla_conv__count_layers(cv, "encoder.layers.");
    n_dec = vla_conv__count_layers(cv, "decoder.layers.");
    if (vla_conv__cfg_int(cfg, "encoder_layers", n_enc) != n_enc || vla_conv__cfg_int(cfg, "decoder_layers", n_dec) != n_dec) {
        snprintf(cv->err, sizeof cv->err, "config layer counts (%d, %d) differ from the checkpoint's (%d, %d)",
                 vla_conv__cfg_int(cfg, "encoder_layers", -1), vla_conv__cfg_int(cfg, "decoder_layers", -1), n_enc, n_dec);
        return -1;
    }
    heads_e = vla_conv__cfg_int(cfg, "encoder_attention_heads", 0);
    heads_d = vla_conv__cfg_int(cfg, "decoder_attention_heads", heads_e);
    if (heads_e <= 0 || heads_d <= 0 || d_model % heads_e || d_model % heads_d) {
        snprintf(cv->err, sizeof cv->err, "config: attention head counts missing or not dividing d_model");
        return -1;
    }
    vla_conv_str(cv, "general.architecture", "vladapter");
    vla_conv_u32(cv, "vladapter.bart.d_model", (uint32_t)d_model);
    vla_conv_u32(cv, "vladapter.bart.encoder_layers", (uint32_t)n_enc);
    vla_conv_u32(cv, "vladapter.bart.decoder_layers", (uint32_t)n_dec);
    vla_conv_u32(cv, "vladapter.bart.encoder_heads", (uint32_t)heads_e);
    vla_conv_u32(cv, "vladapter.bart.decoder_heads", (uint32_t)heads_d);
    t = vla_conv_find(cv, "encoder.layers.0.fc1.weight");
    vla_conv_u32(cv, "vladapter.bart.encoder_ffn", t ? (uint32_t)t->ne[1] : 1u);
    t = vla_conv_find(cv, "decoder.layers.0.fc1.weight");
    vla_conv_u32(cv, "vladapter.bart.decoder_ffn", t ? (uint32_t)t->ne[1] : 1u);
    vla_conv_u32(cv, "vladapter.bart.pad_id", (uint32_t)vla_conv__cfg_int(cfg, "pad_token_id", 1));
    vla_conv_u32(cv, "vladapter.bart.bos_id", (uint32_t)vla_conv__cfg_int(cfg, "bos_token_id", 0));
    vla_conv_u32(cv, "vladapter.bart.eos_id", (uint32_t)vla_conv__cfg_int(cfg, "eos_token_id", 2));
    vla_conv_u32(cv, "vladapter.bart.decoder_start_id", (uint32_t)vla_conv__cfg_int(cfg, "decoder_start_token_id", 2));
    vla_conv_bool(cv, "vladapter.bart.scale_embedding", vla_conv__cfg_int(cfg, "scale_embedding", 0));
    vla_conv_f32(cv, "vladapter.bart.layer_norm_eps", (float)vla_json_num(cfg, "layer_norm_eps", 1e-5));
    {
        const vla_json *act = vla_json_get(cfg, "activation_function");
        if (act && act->type == VLA_JSON_STRING && strcmp(act->s, "gelu") != 0) {
            snprintf(cv->err, sizeof cv->err, "activation_function '%s' is not supported (BART uses exact gelu)", act->s);
            return -1;
        }
    }
    /* generation defaults of the config (PretrainedConfig defaults otherwise) */
    vla_conv_u32(cv, "vladapter.gen.no_repeat_ngram_size", (uint32_t)vla_conv__cfg_int(cfg, "no_repeat_ngram_size", 0));
    vla_conv_u32(cv, "vladapter.gen.num_beams", (uint32_t)vla_conv__cfg_int(cfg, "num_beams", 1));
    vla_conv_u32(cv, "vladapter.gen.max_length", (uint32_t)vla_conv__cfg_int(cfg, "gen_max_length", vla_conv__cfg_int(cfg, "max_length", 20)));
    vla_conv_u32(cv, "vladapter.gen.min_length", (uint32_t)vla_conv__cfg_int(cfg, "min_length", 0));
    vla_conv_u32(cv, "vladapter.gen.early_stopping", (uint32_t)vla_conv__cfg_int(cfg, "early_stopping", 0));
    vla_conv_f32(cv, "vladapter.gen.length_penalty", (float)vla_json_num(cfg, "length_penalty", 1.0));
    if (vla_conv_find(cv, "encoder.visual_embedding.feat_embedding.0.weight")) {
        n_boxes = vla_conv__cfg_int(cfg, "n_boxes", 36);
        vla_conv_u32(cv, "vladapter.vis.n_boxes", (uint32_t)n_boxes);
        side = 0;
        while ((long long)(side + 1) * (side + 1) <= n_boxes) side++;
        if (vla_conv__cfg_int(cfg, "downsample", 1) && side * side == n_boxes) {
            vla_conv_u32(cv, "vladapter.vis.pool_h", (uint32_t)side);
            vla_conv_u32(cv, "vladapter.vis.pool_w", (uint32_t)side);
        } else {
            vla_conv_u32(cv, "vladapter.vis.pool_h", 0);
            vla_conv_u32(cv, "vladapter.vis.pool_w", 0);
        }
    }
    return 0;
}

double vla_conv_randn(uint64_t *st) {
    double u1, u2;
    uint64_t x;
    x = *st; x ^= x >> 12; x ^= x << 25; x ^= x >> 27; *st = x;
    u1 = ((double)((x * 2685821657736338717ull) >> 11) + 0.5) / 9007199254740992.0;
    x = *st; x ^= x >> 12; x ^= x << 25; x ^= x >> 27; *st = x;
    u2 = ((double)((x * 2685821657736338717ull) >> 11) + 0.5) / 9007199254740992.0;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int vla_conv__rand(vla_conv *cv, const char *name, int64_t a, int64_t b, double mean, double std, uint64_t *st) {
    int64_t sh[2];
    size_t n = (size_t)a * (size_t)(b > 0 ? b : 1), i;
    float *d = (float *)malloc(n * 4 + 4);
    if (!d) { snprintf(cv->err, sizeof cv->err, "out of memory"); return -1; }
    for (i = 0; i < n; i++) d[i] = (float)(mean + std * vla_conv_randn(st));
    sh[0] = a; sh[1] = b;
    return b > 0 ? vla_conv_add_owned(cv, name, 2, sh, d) : vla_conv_add_owned(cv, name, 1, sh, d);
}

int vla_conv_random_bart(vla_conv *cv, const vla_rand_bart *r) {
    uint64_t st = r->seed * 0x9E3779B97F4A7C15ull + 1;
    char nm[160], cfg[512], err[128];
    int l, s, k, rc = 0, d = r->d_model;
    static const char *attn[] = {"q_proj", "k_proj", "v_proj", "out_proj"};
    vla_json *cj;
#define VLA__R(name, a, b, mean, std) if (!rc) rc = vla_conv__rand(cv, name, a, b, mean, std, &st)
    VLA__R("shared.weight", r->vocab, d, 0, 0.02);
    VLA__R("final_logits_bias", 1, r->vocab, 0, 0.0);
    for (s = 0; s < 2; s++) {
        const char *side = s ? "decoder" : "encoder";
        int nl = s ? r->dec_layers : r->enc_layers;
        snprintf(nm, sizeof nm, "%s.embed_positions.weight", side); VLA__R(nm, r->max_pos + 2, d, 0, 0.02);
        snprintf(nm, sizeof nm, "%s.layernorm_embedding.weight", side); VLA__R(nm, d, 0, 1, 0.01);
        snprintf(nm, sizeof nm, "%s.layernorm_embedding.bias", side); VLA__R(nm, d, 0, 0, 0.01);
        for (l = 0; l < nl; l++) {
            int blk;
            for (blk = 0; blk < (s ? 2 : 1); blk++) {
                const char *a = blk ? "encoder_attn" : "self_attn";
                for (k = 0; k < 4; k++) {
                    snprintf(nm, sizeof nm, "%s.layers.%d.%s.%s.weight", side, l, a, attn[k]); VLA__R(nm, d, d, 0, 0.02);
                    snprintf(nm, sizeof nm, "%s.layers.%d.%s.%s.bias", side, l, a, attn[k]); VLA__R(nm, d, 0, 0, 0.01);
                }
                snprintf(nm, sizeof nm, "%s.layers.%d.%s_layer_norm.weight", side, l, a); VLA__R(nm, d, 0, 1, 0.01);
                snprintf(nm, sizeof nm, "%s.layers.%d.%s_layer_norm.bias", side, l, a); VLA__R(nm, d, 0, 0, 0.01);
            }
            snprintf(nm, sizeof nm, "%s.layers.%d.fc1.weight", side, l); VLA__R(nm, r->ffn, d, 0, 0.02);
            snprintf(nm, sizeof nm, "%s.layers.%d.fc1.bias", side, l); VLA__R(nm, r->ffn, 0, 0, 0.01);
            snprintf(nm, sizeof nm, "%s.layers.%d.fc2.weight", side, l); VLA__R(nm, d, r->ffn, 0, 0.02);
            snprintf(nm, sizeof nm, "%s.layers.%d.fc2.bias", side, l); VLA__R(nm, d, 0, 0, 0.01);
            snprintf(nm, sizeof nm, "%s.layers.%d.final_layer_norm.weight", side, l); VLA__R(nm, d, 0, 1, 0.01);
            snprintf(nm, sizeof nm, "%s.layers.%d.final_layer_norm.bias", side, l); VLA__R(nm, d, 0, 0, 0.01);
        }
    }
    if (r->feat_dim > 0) {
        VLA__R("encoder.visual_embedding.feat_embedding.0.weight", d, r->feat_dim, 0, 0.02);
        VLA__R("encoder.visual_embedding.feat_embedding.0.bias", d, 0, 0, 0.01);
        VLA__R("encoder.visual_embedding.feat_embedding.1.weight", d, 0, 1, 0.01);
        VLA__R("encoder.visual_embedding.feat_embedding.1.bias", d, 0, 0, 0.01);
        VLA__R("encoder.visual_embedding.absolute_vis_pos_embedding.0.weight", d, 5, 0, 0.02);
        VLA__R("encoder.visual_embedding.absolute_vis_pos_embedding.0.bias", d, 0, 0, 0.01);
        VLA__R("encoder.visual_embedding.absolute_vis_pos_embedding.1.weight", d, 0, 1, 0.01);
        VLA__R("encoder.visual_embedding.absolute_vis_pos_embedding.1.bias", d, 0, 0, 0.01);
        VLA__R("encoder.visual_embedding.img_order_embedding.weight", 2, d, 0, 0.02);
    }
#undef VLA__R
    if (rc) return rc;
    snprintf(cfg, sizeof cfg,
             "{\"d_model\": %d, \"encoder_layers\": %d, \"decoder_layers\": %d, \"encoder_attention_heads\": %d, "
             "\"decoder_attention_heads\": %d, \"no_repeat_ngram_size\": 3, \"early_stopping\": true, \"num_beams\": 5, "
             "\"n_boxes\": %d, \"downsample\": true}",
             d, r->enc_layers, r->dec_layers, r->heads, r->heads, r->n_boxes > 0 ? r->n_boxes : 36);
    cj = vla_json_parse(cfg, strlen(cfg), err, sizeof err);
    if (!cj) { snprintf(cv->err, sizeof cv->err, "internal: %s", err); return -1; }
    rc = vla_conv_bart(cv, NULL, 0, cj, NULL);
    vla_json_free(cj);
    return rc;
}

static const vla_conv_src *vla_conv__src(const vla_conv_src *src, int n, const char *prefix, const char *name) {
    char want[256], have[256];
    int i;
    snprintf(want, sizeof want, "%s%s", prefix, name);
    for (i = 0; i < n; i++) {
        const char *h = src[i].name;
        if (!strncmp(h, "module.", 7)) h += 7;
        snprintf(have, sizeof have, "%s", h);
        if (!strcmp(have, want)) return &src[i];
    }
    return NULL;
}

static float *vla_conv__f32(vla_conv *cv, const vla_conv_src *s, size_t want) {
    vla_conv tmp;
    float *o;
    size_t nel = 1;
    int d;
    for (d = 0; d < s->n_dims; d++) nel *= (size_t)s->shape[d];
    if (nel != want) { snprintf(cv->err, sizeof cv->err, "tensor '%s' has %zu elements, expected %zu", s->name, nel, want); return NULL; }
    vla_conv_init(&tmp);
    if (vla_conv_add_f32(&tmp, "x", s) != 0) { snprintf(cv->err, sizeof cv->err, "%s", tmp.err); vla_conv_free(&tmp); return NULL; }
    o = (float *)tmp.t[0].data;
    tmp.t[0].data = NULL;
    vla_conv_free(&tmp);
    return o;
}

/* conv "<prefix><conv>.weight" [cout, cin, k, k] + BN "<prefix><bn>.*" -> out name. */
static int vla_conv__fold(vla_conv *cv, const vla_conv_src *src, int n, const char *prefix, const char *conv, const char *bn,
                          const char *out) {
    char nm[256];
    const vla_conv_src *w = NULL, *g, *b, *mu, *var;
    float *wf = NULL, *gf = NULL, *bf = NULL, *mf = NULL, *vf = NULL, *perm = NULL, *bias = NULL;
    int cout, cin, k, co, ci, ky, kx, rc = -1;
    int64_t sh[4];
    snprintf(nm, sizeof nm, "%s.weight", conv); w = vla_conv__src(src, n, prefix, nm);
    snprintf(nm, sizeof nm, "%s.weight", bn); g = vla_conv__src(src, n, prefix, nm);
    snprintf(nm, sizeof nm, "%s.bias", bn); b = vla_conv__src(src, n, prefix, nm);
    snprintf(nm, sizeof nm, "%s.running_mean", bn); mu = vla_conv__src(src, n, prefix, nm);
    snprintf(nm, sizeof nm, "%s.running_var", bn); var = vla_conv__src(src, n, prefix, nm);
    if (!w || !g || !b || !mu || !var) { snprintf(cv->err, sizeof cv->err, "CLIP: %s%s or its BatchNorm %s%s is missing", prefix, conv, prefix, bn); return -1; }
    if (w->n_dims != 4 || w->shape[2] != w->shape[3] || w->shape[0] < 1 || w->shape[1] < 1) { snprintf(cv->err, sizeof cv->err, "CLIP: %s%s.weight is not a square 4-D kernel", prefix, conv); return -1; }
    cout = (int)w->shape[0]; cin = (int)w->shape[1]; k = (int)w->shape[2];
    wf = vla_conv__f32(cv, w, (size_t)cout * cin * k * k);
    gf = vla_conv__f32(cv, g, (size_t)cout); bf = vla_conv__f32(cv, b, (size_t)cout);
    mf = vla_conv__f32(cv, mu, (size_t)cout); vf = vla_conv__f32(cv, var, (size_t)cout);
    perm = (float *)malloc(sizeof(float) * (size_t)cout * cin * k * k);
    bias = (float *)malloc(sizeof(float) * (size_t)cout);
    if (!wf || !gf || !bf || !mf || !vf || !perm || !bias) goto done;
    for (co = 0; co < cout; co++) /* [cout, cin, ky, kx] -> [cout, ky, kx, cin] */
        for (ci = 0; ci < cin; ci++)
            for (ky = 0; ky < k; ky++)
                for (kx = 0; kx < k; kx++)
                    perm[(((size_t)co * k + ky) * k + kx) * cin + ci] = wf[(((size_t)co * cin + ci) * k + ky) * k + kx];
    vla_bn_fold(perm, bias, NULL, cout, cin * k * k, gf, bf, mf, vf, 1e-5f);
    sh[0] = cout; sh[1] = k; sh[2] = k; sh[3] = cin;
    snprintf(nm, sizeof nm, "%s.weight", out);
    if (vla_conv_add_owned(cv, nm, 4, sh, perm) != 0) { perm = NULL; goto done; }
    perm = NULL;
    sh[0] = cout;
    snprintf(nm, sizeof nm, "%s.bias", out);
    if (vla_conv_add_owned(cv, nm, 1, sh, bias) != 0) { bias = NULL; goto done; }
    bias = NULL;
    rc = 0;
done:
    free(wf); free(gf); free(bf); free(mf); free(vf); free(perm); free(bias);
    return rc;
}

int vla_conv_clip(vla_conv *cv, const vla_conv_src *src, int n, int image_size) {
    const char *prefix = vla_conv__src(src, n, "visual.", "conv1.weight") ? "visual." : "";
    char conv[96], bn[96], out[96];
    int i, st, b, blocks = 0;
    if (!vla_conv__src(src, n, prefix, "conv1.weight")) { snprintf(cv->err, sizeof cv->err, "no CLIP trunk (visual.conv1.weight) in the checkpoint"); return -1; }
    for (i = 1; i <= 3; i++) {
        snprintf(conv, sizeof conv, "conv%d", i); snprintf(bn, sizeof bn, "bn%d", i); snprintf(out, sizeof out, "visual.conv%d", i);
        if (vla_conv__fold(cv, src, n, prefix, conv, bn, out) != 0) return -1;
    }
    for (st = 1; st <= 4; st++) {
        for (b = 0;; b++) {
            snprintf(conv, sizeof conv, "layer%d.%d.conv1.weight", st, b);
            if (!vla_conv__src(src, n, prefix, conv)) break;
            for (i = 1; i <= 3; i++) {
                snprintf(conv, sizeof conv, "layer%d.%d.conv%d", st, b, i);
                snprintf(bn, sizeof bn, "layer%d.%d.bn%d", st, b, i);
                snprintf(out, sizeof out, "visual.layer%d.%d.conv%d", st, b, i);
                if (vla_conv__fold(cv, src, n, prefix, conv, bn, out) != 0) return -1;
            }
            snprintf(conv, sizeof conv, "layer%d.%d.downsample.0.weight", st, b);
            if (vla_conv__src(src, n, prefix, conv)) {
                snprintf(conv, sizeof conv, "layer%d.%d.downsample.0", st, b);
                snprintf(bn, sizeof bn, "layer%d.%d.downsample.1", st, b);
                snprintf(out, sizeof out, "visual.layer%d.%d.downsample.0", st, b);
                if (vla_conv__fold(cv, src, n, prefix, conv, bn, out) != 0) return -1;
            }
            blocks++;
            if (!cv->quiet && isatty(2)) fprintf(stderr, "\r  CLIP: folded %d bottlenecks", blocks);
        }
        if (b == 0) { snprintf(cv->err, sizeof cv->err, "CLIP: layer%d has no blocks", st); return -1; }
    }
    if (!cv->quiet) fprintf(stderr, "%s  CLIP: folded %d bottlenecks\n", isatty(2) ? "\r" : "", blocks);
    vla_conv_u32(cv, "vladapter.clip.image_size", (uint32_t)image_size);
    vla_conv_bool(cv, "vladapter.clip.bn_folded", 1);
    return 0;
}

int vla_conv_is_peft(const char *name) {
    char nm[256];
    vla_conv_canonical(name, nm, sizeof nm);
    return strstr(nm, "_adapter.adapters.") || strstr(nm, ".lora_As.") || strstr(nm, ".lora_Bs.") ||
           strstr(nm, "prompt_modules.") || strstr(nm, "adapter_layers_hyper_net.") || strstr(nm, "task_embed.") ||
           !strncmp(nm, "shared_task_embed.", 18);
}

uint64_t vla_conv_fingerprint(const vla_conv *cv) {
    uint64_t h = 1469598103934665603ull;
    int i, d;
    size_t k;
    for (i = 0; i < cv->n; i++) {
        const vla_conv_tensor *t = &cv->t[i];
        const unsigned char *p = (const unsigned char *)t->name;
        for (; *p; p++) { h ^= *p; h *= 1099511628211ull; }
        for (d = 0; d < t->n_dims; d++) { h ^= (uint64_t)t->ne[d]; h *= 1099511628211ull; }
        p = (const unsigned char *)t->data;
        for (k = 0; k < t->nbytes; k++) { h ^= p[k]; h *= 1099511628211ull; }
    }
    return h ? h : 1;
}

/* Map one official PEFT name to the adapter naming with a task placeholder:
 * out = "<kind>.%s.<site>.<param>" style parts; returns the kind letter or 0. */
static char vla_conv__peft_map(const char *nm, char *task, size_t tcap, char *rest, size_t rcap) {
    int l;
    char side[8], mod[64], tk[64], part[64], par[64], tail[128];
    const char *p;
    /* adapters / compacters: <side>.layers.<l>.<site>_adapter.adapters.<task>.<down|up>_sampler.<param> */
    if (sscanf(nm, "%7[a-z].layers.%d.%63[a-z_].adapters.%63[^.].%63[a-z_].%63s", side, &l, mod, tk, part, par) == 6 &&
        strstr(mod, "adapter")) {
        const char *site = NULL, *pp = NULL, *hf;
        int enc = !strcmp(side, "encoder");
        if (enc && !strcmp(mod, "attn_adapter")) site = "attn";
        else if (!strcmp(mod, "ff_adapter")) site = "ffn";
        else if (!enc && !strcmp(mod, "self_attn_adapter")) site = "self";
        else if (!enc && !strcmp(mod, "enc_attn_adapter")) site = "cross";
        hf = !strcmp(part, "down_sampler") ? "down" : !strcmp(part, "up_sampler") ? "up" : NULL;
        if (!strcmp(par, "weight")) pp = "weight";
        else if (!strcmp(par, "bias") || !strcmp(par, "b")) pp = "bias";
        else if (!strcmp(par, "W")) pp = "W";
        else if (!strcmp(par, "phm_rule")) pp = "rule";
        else if (!strcmp(par, "W_left") || !strcmp(par, "W_right")) pp = par;   /* Compacter's low-rank W */
        else if (!strcmp(par, "phm_rule_left")) pp = "rule_left";
        else if (!strcmp(par, "phm_rule_right")) pp = "rule_right";
        if (!site || !hf || !pp) return 0;
        snprintf(task, tcap, "%s", tk);
        snprintf(rest, rcap, "%s.%d.%s.%s.%s", enc ? "enc" : "dec", l, site, hf, pp);
        return 'A';
    }
    /* LoRA: <side>.layers.<l>.<self_attn|encoder_attn>.<q|v>_proj.lora_<As|Bs>.<task> */
    if (sscanf(nm, "%7[a-z].layers.%d.%63[a-z_].%63[a-z_].%63[a-zA-Z_].%63s", side, &l, mod, part, par, tk) == 6 &&
        !strncmp(par, "lora_", 5)) {
        int enc = !strcmp(side, "encoder"), cross = !strcmp(mod, "encoder_attn");
        const char *w = !strcmp(part, "q_proj") ? "q" : !strcmp(part, "v_proj") ? "v" : NULL;
        if (!w || (enc && cross)) return 0;
        snprintf(task, tcap, "%s", tk);
        snprintf(rest, rcap, "%s.%d.%s%s.%s", enc ? "enc" : "dec", l, cross ? "x" : "", w, !strcmp(par, "lora_As") ? "A" : "B");
        return 'L';
    }
    /* prompts: encoder.prompt_modules.prompts.<task>.prefix_embedding.<0|1|3>.<weight|bias> */
    if ((p = strstr(nm, "prompt_modules.prompts.")) != NULL && sscanf(p, "prompt_modules.prompts.%63[^.].prefix_embedding.%127s", tk, tail) == 2) {
        const char *r = !strcmp(tail, "0.weight") ? "emb" : !strcmp(tail, "1.weight") ? "fc1.weight" : !strcmp(tail, "1.bias") ? "fc1.bias"
                      : !strcmp(tail, "3.weight") ? "fc2.weight" : !strcmp(tail, "3.bias") ? "fc2.bias" : NULL;
        if (!r) return 0;
        snprintf(task, tcap, "%s", tk);
        snprintf(rest, rcap, "%s", r);
        return 'P';
    }
    /* Hyperformer */
    if (!strncmp(nm, "shared_task_embed.task_to_embeddings.", 37)) {
        snprintf(task, tcap, "%.63s", nm + 37); /* task names are short; tcap is 64 at every caller */
        snprintf(rest, rcap, "task");
        return 'T';
    }
    if (sscanf(nm, "%7[a-z].adapter_layers_hyper_net.%127s", side, tail) == 2) {
        int enc = !strcmp(side, "encoder");
        char typ[32], ud[8], gen[32], wb[16];
        task[0] = 0;
        if (!strcmp(tail, "layer_id_embeddings.weight")) snprintf(rest, rcap, "%s.layer_emb", enc ? "enc" : "dec");
        else if (sscanf(tail, "task_hypernet.task_embeding_generator.%d.%15s", &l, wb) == 2 && (l == 0 || l == 2))
            snprintf(rest, rcap, "%s.proj%d.%s", enc ? "enc" : "dec", l == 0 ? 1 : 2, wb);
        else if (sscanf(tail, "LayerNorm.%15s", wb) == 1) snprintf(rest, rcap, "%s.ln.%s", enc ? "enc" : "dec", wb);
        else if ((p = strstr(tail, "_sampler_hyper_net.")) != NULL && p - tail < 31 &&
                 sscanf(p + 19, "%31[a-z_].0.%15s", gen, wb) == 2) {
            size_t tl = (size_t)(p - tail);
            memcpy(typ, tail, tl);
            typ[tl] = 0;
            if (tl > 5 && !strcmp(typ + tl - 5, "_down")) { typ[tl - 5] = 0; snprintf(ud, sizeof ud, "down"); }
            else if (tl > 3 && !strcmp(typ + tl - 3, "_up")) { typ[tl - 3] = 0; snprintf(ud, sizeof ud, "up"); }
            else return 0;
            const char *t2 = !strcmp(typ, "self_attention") ? (enc ? "attn" : "self") : !strcmp(typ, "feed_forward") ? "ffn"
                           : !strcmp(typ, "cross_attention") ? "cross" : NULL;
            const char *g2 = !strcmp(gen, "weight_generator") ? "wgen" : !strcmp(gen, "bias_generator") ? "bgen" : NULL;
            if (!t2 || !g2) return 0;
            snprintf(rest, rcap, "%s.%s.%s.%s.%s", enc ? "enc" : "dec", t2, ud, g2, wb);
        } else return 0;
        return 'H';
    }
    return 0;
}

static int vla_conv__same(const vla_conv_src *a, const vla_conv_src *b) {
    return a->data == b->data || (a->nbytes == b->nbytes && a->dtype == b->dtype && !memcmp(a->data, b->data, a->nbytes));
}

/* One checkpoint name as vla_conv__peft_map sees it (kind 0: not PEFT). */
typedef struct vla_conv__pm { char kind, task[64], rest[160]; } vla_conv__pm;

int vla_conv_peft(vla_conv *cv, const vla_conv_src *src, int n, const vla_json *config) {
    char nm[256], task[64], rest[160], out[256], tasks[16][64];
    int i, j, k, n_tasks = 0, count = 0, method = 0;
    char *done = (char *)calloc((size_t)n + 1, 1);
    vla_conv__pm *pm = (vla_conv__pm *)calloc((size_t)n + 1, sizeof *pm); /* every name mapped once, not once per pair */
    const char *mname;
    /* tasks of the run, in config order */
    {
        const vla_json *tj = vla_json_get(config, "tasks");
        const char *ts = tj && tj->type == VLA_JSON_STRING ? tj->s : "vqa,gqa,nlvr,caption";
        while (*ts && n_tasks < 16) {
            size_t m = strcspn(ts, ",");
            snprintf(tasks[n_tasks++], 64, "%.*s", (int)m, ts);
            ts += m;
            if (*ts == ',') ts++;
        }
    }
    if (!done || !pm) { free(done); free(pm); snprintf(cv->err, sizeof cv->err, "out of memory"); return -1; }
    for (k = 0; k < n; k++) {
        vla_conv_canonical(src[k].name, nm, sizeof nm);
        pm[k].kind = vla_conv__peft_map(nm, pm[k].task, sizeof pm[k].task, pm[k].rest, sizeof pm[k].rest);
    }
    for (i = 0; i < n; i++) {
        char kind;
        int t_of = -1, shared = 1;
        if (done[i]) continue;
        vla_conv_canonical(src[i].name, nm, sizeof nm);
        if (!strncmp(nm, "encoder.task_embed.", 19) || !strncmp(nm, "decoder.task_embed.", 19)) { done[i] = 1; continue; } /* aliases */
        kind = pm[i].kind;
        if (!kind) continue;
        memcpy(task, pm[i].task, sizeof task);
        memcpy(rest, pm[i].rest, sizeof rest);
        done[i] = 1;
        if (kind == 'H') {
            snprintf(out, sizeof out, "H.%s", rest);
            if (vla_conv_add_f32(cv, out, &src[i]) != 0) { free(done); free(pm); return -1; }
            count++; method = 3;
            continue;
        }
        if (kind == 'T') {
            snprintf(out, sizeof out, "H.task.%s", task);
            if (vla_conv_add_f32(cv, out, &src[i]) != 0) { free(done); free(pm); return -1; }
            count++; method = 3;
            continue;
        }
        /* the same module for every task?  (a "single" module is registered
         * under each task name with one storage) */
        for (j = 0; j < n_tasks; j++) if (!strcmp(tasks[j], task)) t_of = j;
        for (j = 0; j < n_tasks && shared; j++) {
            int found = 0;
            for (k = 0; k < n; k++) {
                if (pm[k].kind == kind && !strcmp(pm[k].task, tasks[j]) && !strcmp(pm[k].rest, rest)) {
                    found = 1;
                    if (!vla_conv__same(&src[k], &src[i])) shared = 0;
                }
            }
            if (!found) shared = 0;
        }
        if (t_of < 0 || n_tasks < 2) shared = 0;
        if (shared) { /* mark every task's copy as done, write one "*" */
            for (k = 0; k < n; k++)
                if (pm[k].kind == kind && !strcmp(pm[k].rest, rest)) done[k] = 1;
            snprintf(out, sizeof out, "%c.*.%s", kind, rest);
        } else {
            snprintf(out, sizeof out, "%c.%s.%s", kind, task, rest);
        }
        if (vla_conv_add_f32(cv, out, &src[i]) != 0) { free(done); free(pm); return -1; }
        count++;
        if (kind == 'L') method = 4;
        else if (kind == 'P') method = 5;
        else if (!method) method = strstr(rest, ".rule") || strstr(rest, ".W") ? 2 : 1;
        else if (method == 1 && (strstr(rest, ".rule") || strstr(rest, ".W"))) method = 2;
    }
    free(done);
    free(pm);
    if (!count) return 0;
    mname = method == 1 ? "adapter" : method == 2 ? "compacter" : method == 3 ? "hyperformer" : method == 4 ? "lora" : "prompt";
    vla_conv_str(cv, "general.architecture", "vladapter");
    vla_conv_str(cv, "general.type", "adapter");
    vla_conv_str(cv, "vladapter.adapter.method", mname);
    {
        const vla_json *lc = vla_json_get(config, "lora_config");
        double alpha = vla_json_num(lc, "lora_alpha", vla_json_num(config, "lora_alpha", 32));
        if (method == 4) vla_conv_f32(cv, "vladapter.adapter.lora_alpha", (float)alpha);
    }
    cv->n_tasks = n_tasks;
    for (j = 0; j < n_tasks; j++) {
        int pref = vla_json_num(config, "use_tasks_prompts", 0) != 0 || vla_json_num(config, "use_single_adapter", 0) != 0 ||
                   vla_json_num(config, "use_single_lora", 0) != 0 || vla_json_num(config, "use_single_prompt", 0) != 0;
        snprintf(cv->task_names[j], sizeof cv->task_names[j], "%.63s", tasks[j]);
        /* the official text prefixes (multitask.py; "gpa: " is the code's spelling) */
        cv->task_prefix[j][0] = 0;
        if (pref) {
            if (!strcmp(tasks[j], "vqa")) snprintf(cv->task_prefix[j], 32, "vqa: ");
            else if (!strcmp(tasks[j], "gqa")) snprintf(cv->task_prefix[j], 32, "gpa: ");
            else if (!strcmp(tasks[j], "nlvr")) snprintf(cv->task_prefix[j], 32, "nlvr: ");
            else if (!strcmp(tasks[j], "caption")) snprintf(cv->task_prefix[j], 32, "caption: ");
        }
        cv->task_beams[j] = !strcmp(tasks[j], "caption") ? 5 : 1;
        cv->task_maxlen[j] = 20;
    }
    return count;
}

void vla_ckpt_close(vla_ckpt *k) {
    int i;
    if (k->src) for (i = k->n - k->n_owned_names; i < k->n; i++) free((char *)k->src[i].name);
    free(k->src);
    vla_json_free(k->config);
    vla_st_free(&k->st);
    vla_st_free(&k->ov);
    vla_torch_close(&k->tf);
    free(k->buf);
    free(k->ov_buf);
    memset(k, 0, sizeof *k);
}

static int vla_ckpt__parse(vla_ckpt *k, const char *path, const char *overlay, char *err, size_t err_len);

int vla_ckpt_open(vla_ckpt *k, const char *path, const char *overlay, char *err, size_t err_len) {
    memset(k, 0, sizeof *k);
    k->buf = vla_tool_read_file(path, &k->size, err, err_len);
    if (!k->buf) return -1;
    return vla_ckpt__parse(k, path, overlay, err, err_len);
}

int vla_ckpt_open_mem(vla_ckpt *k, const void *buf, size_t size, char *err, size_t err_len) {
    memset(k, 0, sizeof *k);
    k->buf = (unsigned char *)malloc(size + 1);
    if (!k->buf) { snprintf(err, err_len, "out of memory"); return -1; }
    if (size) memcpy(k->buf, buf, size);
    k->size = size;
    return vla_ckpt__parse(k, NULL, NULL, err, err_len);
}

static int vla_ckpt__parse(vla_ckpt *k, const char *path, const char *overlay, char *err, size_t err_len) {
    int i, fmt;
    fmt = vla_torch_detect(k->buf, k->size);
    k->format = fmt;
    if (fmt == VLA_TORCH_FORMAT_SAFETENSORS || fmt == VLA_TORCH_FORMAT_UNKNOWN) {
        const vla_json *tj, *cj;
        vla_json *tied = NULL;
        char e2[128];
        if (vla_st_parse(&k->st, k->buf, k->size, err, err_len) != 0) {
            if (fmt == VLA_TORCH_FORMAT_UNKNOWN) snprintf(err, err_len, "%s: not a safetensors, torch zip or TorchScript file", path ? path : "buffer");
            vla_ckpt_close(k);
            return -1;
        }
        k->format = VLA_TORCH_FORMAT_SAFETENSORS;
        if (overlay) {
            size_t on;
            k->ov_buf = vla_tool_read_file(overlay, &on, err, err_len);
            if (!k->ov_buf || vla_st_parse(&k->ov, k->ov_buf, on, err, err_len) != 0) { vla_ckpt_close(k); return -1; }
        }
        tj = k->st.metadata ? vla_json_get(k->st.metadata, "tied") : NULL;
        if (tj && tj->type == VLA_JSON_STRING) tied = vla_json_parse(tj->s, tj->n, e2, sizeof e2);
        cj = k->st.metadata ? vla_json_get(k->st.metadata, "config") : NULL;
        if (cj && cj->type == VLA_JSON_STRING) k->config = vla_json_parse(cj->s, cj->n, e2, sizeof e2);
        k->src = (vla_conv_src *)calloc((size_t)k->st.n + (tied ? (size_t)tied->n_kid : 0) + 1, sizeof *k->src);
        if (!k->src) { vla_json_free(tied); snprintf(err, err_len, "out of memory"); vla_ckpt_close(k); return -1; }
        for (i = 0; i < k->st.n; i++) {
            const vla_st_tensor *t = &k->st.t[i], *o = overlay ? vla_st_find(&k->ov, t->name) : NULL;
            if (o && o->nbytes == t->nbytes && o->dtype == t->dtype) t = o; /* the overlay's value wins */
            k->src[k->n].name = k->st.t[i].name; k->src[k->n].dtype = t->dtype; k->src[k->n].n_dims = t->n_dims;
            memcpy(k->src[k->n].shape, t->shape, sizeof k->src[k->n].shape);
            k->src[k->n].data = t->data; k->src[k->n].nbytes = t->nbytes;
            k->n++;
        }
        for (i = 0; tied && i < tied->n_kid; i++) { /* a tied tensor is stored once: add its other names */
            const vla_st_tensor *c = tied->kid[i].type == VLA_JSON_STRING ? vla_st_find(&k->st, tied->kid[i].s) : NULL;
            char *nm;
            if (!c || vla_st_find(&k->st, tied->kid[i].key)) continue;
            if (overlay && vla_st_find(&k->ov, c->name)) c = vla_st_find(&k->ov, c->name);
            nm = (char *)malloc(tied->kid[i].key_n + 1);
            if (!nm) continue;
            memcpy(nm, tied->kid[i].key, tied->kid[i].key_n + 1);
            k->src[k->n].name = nm; k->src[k->n].dtype = c->dtype; k->src[k->n].n_dims = c->n_dims;
            memcpy(k->src[k->n].shape, c->shape, sizeof k->src[k->n].shape);
            k->src[k->n].data = c->data; k->src[k->n].nbytes = c->nbytes;
            k->n++;
            k->n_owned_names++;
        }
        vla_json_free(tied);
    } else {
        if (vla_torch_open(&k->tf, k->buf, k->size, err, err_len) != 0) { vla_ckpt_close(k); return -1; }
        k->src = (vla_conv_src *)calloc((size_t)k->tf.n_tensors + 1, sizeof *k->src);
        if (!k->src) { snprintf(err, err_len, "out of memory"); vla_ckpt_close(k); return -1; }
        for (i = 0; i < k->tf.n_tensors; i++) {
            const vla_torch_tensor *t = &k->tf.tensors[i];
            int d;
            k->src[i].name = t->name; k->src[i].dtype = t->dtype; k->src[i].n_dims = t->n_dims;
            for (d = 0; d < t->n_dims && d < 8; d++) k->src[i].shape[d] = t->shape[d];
            k->src[i].data = t->data; k->src[i].nbytes = t->nbytes;
        }
        k->n = k->tf.n_tensors;
    }
    if (!k->config && path) { /* a HF directory: config.json beside the weights */
        char cp[4096];
        const char *sl = strrchr(path, '/');
        unsigned char *cb;
        size_t cn;
        char e2[128];
        snprintf(cp, sizeof cp, "%.*sconfig.json", sl ? (int)(sl - path + 1) : 0, path);
        cb = vla_tool_read_file(cp, &cn, e2, sizeof e2);
        if (cb) { k->config = vla_json_parse((const char *)cb, cn, e2, sizeof e2); free(cb); }
    }
    return 0;
}

/* A growing list of named random tensors in the official naming. */
typedef struct vla_conv__rl { vla_conv_src *src; float **buf; int n, cap; uint64_t st; } vla_conv__rl;

static const float *vla_conv__rl_add(vla_conv__rl *l, const char *name, int n_dims, int64_t a, int64_t b, int64_t c,
                                     double mean, double std, const float *reuse) {
    vla_conv_src *s;
    size_t nel = (size_t)a * (size_t)(n_dims > 1 ? b : 1) * (size_t)(n_dims > 2 ? c : 1), i;
    float *d = NULL;
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 256;
        l->src = (vla_conv_src *)realloc(l->src, sizeof *l->src * (size_t)nc);
        l->buf = (float **)realloc(l->buf, sizeof *l->buf * (size_t)nc);
        if (!l->src || !l->buf) return NULL;
        l->cap = nc;
    }
    if (!reuse) {
        d = (float *)malloc(nel * 4 + 4);
        if (!d) return NULL;
        for (i = 0; i < nel; i++) d[i] = (float)(mean + std * vla_conv_randn(&l->st));
    }
    s = &l->src[l->n];
    memset(s, 0, sizeof *s);
    s->name = vla_conv__strdup(name);
    s->dtype = VLA_TYPE_F32;
    s->n_dims = n_dims;
    s->shape[0] = a; s->shape[1] = b; s->shape[2] = c;
    s->data = reuse ? (const void *)reuse : (const void *)d;
    s->nbytes = nel * 4;
    l->buf[l->n++] = d;
    return reuse ? reuse : d;
}

int vla_conv_random_peft(vla_conv *acv, const vla_rand_peft *r) {
    static const char *tasks[4] = {"vqa", "gqa", "nlvr", "caption"};
    const char *m = r->method;
    int single = !strncmp(m, "single", 6), d = r->d_model, h = d / (r->reduction > 0 ? r->reduction : 8), t, l, side, rc = -1;
    int is_adp = strstr(m, "adapter") != NULL, is_cmp = strstr(m, "compacter") != NULL, is_lora = strstr(m, "lora") != NULL;
    int is_prompt = strstr(m, "prompt") != NULL, is_hyper = !strcmp(m, "hyperformer"), half = !strcmp(m, "half_shared_adapters");
    vla_conv__rl L;
    char nm[256], cfg[512], err[128];
    vla_json *cj;
    int i;
    memset(&L, 0, sizeof L);
    L.st = r->seed * 0x9E3779B97F4A7C15ull + 7;
    if (!(is_adp || is_cmp || is_lora || is_prompt || is_hyper)) { snprintf(acv->err, sizeof acv->err, "unknown method '%s'", m); return -1; }
    if (is_adp || is_cmp) {
        static const char *enc_sites[2] = {"attn_adapter", "ff_adapter"}, *dec_sites[3] = {"self_attn_adapter", "enc_attn_adapter", "ff_adapter"};
        for (side = 0; side < 2; side++)
            for (l = 0; l < (side ? r->dec_layers : r->enc_layers); l++) {
                int k;
                for (k = 0; k < (side ? 3 : 2); k++) {
                    const float *first[8] = {0};
                    for (t = 0; t < 4; t++) {
                        const char *pre = side ? "model.decoder" : "model.encoder", *site = side ? dec_sites[k] : enc_sites[k];
                        int hh, pi = 0;
                        for (hh = 0; hh < 2; hh++) { /* down, up */
                            const char *which = hh ? "up_sampler" : "down_sampler";
                            int in = hh ? h : d, out = hh ? d : h;
                            int share = single || (half && hh == 1);
                            if (is_adp) {
                                snprintf(nm, sizeof nm, "%s.layers.%d.%s.adapters.%s.%s.weight", pre, l, site, tasks[t], which);
                                first[pi] = vla_conv__rl_add(&L, nm, 2, out, in, 0, 0, 0.02, share && t ? first[pi] : NULL); pi++;
                                snprintf(nm, sizeof nm, "%s.layers.%d.%s.adapters.%s.%s.bias", pre, l, site, tasks[t], which);
                                first[pi] = vla_conv__rl_add(&L, nm, 1, out, 0, 0, 0, 0.02, share && t ? first[pi] : NULL); pi++;
                            } else {
                                int kk = r->phm_k > 0 ? r->phm_k : 2;
                                snprintf(nm, sizeof nm, "%s.layers.%d.%s.adapters.%s.%s.phm_rule", pre, l, site, tasks[t], which);
                                first[pi] = vla_conv__rl_add(&L, nm, 3, kk, kk, kk, 0, 0.01, share && t ? first[pi] : NULL); pi++;
                                snprintf(nm, sizeof nm, "%s.layers.%d.%s.adapters.%s.%s.W", pre, l, site, tasks[t], which);
                                first[pi] = vla_conv__rl_add(&L, nm, 3, kk, in / kk, out / kk, 0, 0.1, share && t ? first[pi] : NULL); pi++;
                                snprintf(nm, sizeof nm, "%s.layers.%d.%s.adapters.%s.%s.b", pre, l, site, tasks[t], which);
                                first[pi] = vla_conv__rl_add(&L, nm, 1, out, 0, 0, 0, 0.02, share && t ? first[pi] : NULL); pi++;
                            }
                        }
                    }
                }
            }
    } else if (is_lora) {
        int rr = r->lora_r > 0 ? r->lora_r : 128;
        for (side = 0; side < 2; side++)
            for (l = 0; l < (side ? r->dec_layers : r->enc_layers); l++) {
                int a2, p2;
                for (a2 = 0; a2 < (side ? 2 : 1); a2++)
                    for (p2 = 0; p2 < 2; p2++) {
                        const float *fa = NULL, *fb = NULL;
                        for (t = 0; t < 4; t++) {
                            snprintf(nm, sizeof nm, "model.%s.layers.%d.%s.%s.lora_As.%s", side ? "decoder" : "encoder", l,
                                     a2 ? "encoder_attn" : "self_attn", p2 ? "v_proj" : "q_proj", tasks[t]);
                            fa = vla_conv__rl_add(&L, nm, 2, rr, d, 0, 0, 0.02, single && t ? fa : NULL);
                            snprintf(nm, sizeof nm, "model.%s.layers.%d.%s.%s.lora_Bs.%s", side ? "decoder" : "encoder", l,
                                     a2 ? "encoder_attn" : "self_attn", p2 ? "v_proj" : "q_proj", tasks[t]);
                            fb = vla_conv__rl_add(&L, nm, 2, d, rr, 0, 0, 0.02, single && t ? fb : NULL);
                        }
                    }
            }
    } else if (is_prompt) {
        int pl = r->prompt_len > 0 ? r->prompt_len : 40, mid = r->prompt_mid > 0 ? r->prompt_mid : 800;
        const float *f[5] = {0};
        for (t = 0; t < 4; t++) {
            static const char *parts[5] = {"0.weight", "1.weight", "1.bias", "3.weight", "3.bias"};
            int64_t a[5], b[5];
            int k;
            a[0] = pl; b[0] = d; a[1] = mid; b[1] = d; a[2] = mid; b[2] = 0; a[3] = d; b[3] = mid; a[4] = d; b[4] = 0;
            for (k = 0; k < 5; k++) {
                snprintf(nm, sizeof nm, "model.encoder.prompt_modules.prompts.%s.prefix_embedding.%s", tasks[t], parts[k]);
                f[k] = vla_conv__rl_add(&L, nm, b[k] ? 2 : 1, a[k], b[k], 0, 0, 0.02, single && t ? f[k] : NULL);
            }
        }
    } else { /* hyperformer */
        int E = r->hyper_task_dim > 0 ? r->hyper_task_dim : 512, H = r->hyper_hidden > 0 ? r->hyper_hidden : 128;
        int dp = r->hyper_dp > 0 ? r->hyper_dp : 8;
        for (t = 0; t < 4; t++) {
            snprintf(nm, sizeof nm, "model.shared_task_embed.task_to_embeddings.%s", tasks[t]);
            vla_conv__rl_add(&L, nm, 1, E, 0, 0, 0, 1.0, NULL);
        }
        for (side = 0; side < 2; side++) {
            const char *pre = side ? "model.decoder.adapter_layers_hyper_net" : "model.encoder.adapter_layers_hyper_net";
            static const char *types[3] = {"self_attention", "feed_forward", "cross_attention"};
            int k;
            snprintf(nm, sizeof nm, "%s.layer_id_embeddings.weight", pre); vla_conv__rl_add(&L, nm, 2, side ? r->dec_layers : r->enc_layers, E, 0, 0, 0.02, NULL);
            snprintf(nm, sizeof nm, "%s.task_hypernet.task_embeding_generator.0.weight", pre); vla_conv__rl_add(&L, nm, 2, H, 2 * E, 0, 0, 0.02, NULL);
            snprintf(nm, sizeof nm, "%s.task_hypernet.task_embeding_generator.0.bias", pre); vla_conv__rl_add(&L, nm, 1, H, 0, 0, 0, 0.02, NULL);
            snprintf(nm, sizeof nm, "%s.task_hypernet.task_embeding_generator.2.weight", pre); vla_conv__rl_add(&L, nm, 2, dp, H, 0, 0, 0.02, NULL);
            snprintf(nm, sizeof nm, "%s.task_hypernet.task_embeding_generator.2.bias", pre); vla_conv__rl_add(&L, nm, 1, dp, 0, 0, 0, 0.02, NULL);
            snprintf(nm, sizeof nm, "%s.LayerNorm.weight", pre); vla_conv__rl_add(&L, nm, 1, dp, 0, 0, 1, 0.01, NULL);
            snprintf(nm, sizeof nm, "%s.LayerNorm.bias", pre); vla_conv__rl_add(&L, nm, 1, dp, 0, 0, 0, 0.01, NULL);
            for (k = 0; k < (side ? 3 : 2); k++) {
                int hh;
                for (hh = 0; hh < 2; hh++) {
                    const char *ud = hh ? "up" : "down";
                    int out = hh ? d : h;
                    snprintf(nm, sizeof nm, "%s.%s_%s_sampler_hyper_net.weight_generator.0.weight", pre, types[k], ud);
                    vla_conv__rl_add(&L, nm, 2, (int64_t)d * h, dp, 0, 0, 0.02, NULL);
                    snprintf(nm, sizeof nm, "%s.%s_%s_sampler_hyper_net.weight_generator.0.bias", pre, types[k], ud);
                    vla_conv__rl_add(&L, nm, 1, (int64_t)d * h, 0, 0, 0, 0.02, NULL);
                    snprintf(nm, sizeof nm, "%s.%s_%s_sampler_hyper_net.bias_generator.0.weight", pre, types[k], ud);
                    vla_conv__rl_add(&L, nm, 2, out, dp, 0, 0, 0.02, NULL);
                    snprintf(nm, sizeof nm, "%s.%s_%s_sampler_hyper_net.bias_generator.0.bias", pre, types[k], ud);
                    vla_conv__rl_add(&L, nm, 1, out, 0, 0, 0, 0.02, NULL);
                }
            }
        }
    }
    snprintf(cfg, sizeof cfg, "{\"tasks\": \"vqa,gqa,nlvr,caption\", \"use_tasks_prompts\": %s, \"lora_config\": {\"lora_alpha\": 32}}",
             single ? "true" : "false");
    cj = vla_json_parse(cfg, strlen(cfg), err, sizeof err);
    if (cj && vla_conv_peft(acv, L.src, L.n, cj) > 0) rc = 0;
    vla_json_free(cj);
    for (i = 0; i < L.n; i++) { free((char *)L.src[i].name); free(L.buf[i]); }
    free(L.src);
    free(L.buf);
    return rc;
}

#ifdef VLADAPTER_IMPLEMENTATION
/* A weight matrix of the slot as an owned F32 tensor. */
static int vla_conv__add_mat(vla_conv *pc, const char *name, const vla_mat *w) {
    int64_t sh[2];
    float *d = (float *)malloc(sizeof(float) * (size_t)w->rows * (size_t)w->cols + 4);
    int r;
    if (!d) { snprintf(pc->err, sizeof pc->err, "out of memory"); return -1; }
    for (r = 0; r < w->rows; r++) vla_mat_row(d + (size_t)r * w->cols, w, r);
    sh[0] = w->rows; sh[1] = w->cols;
    return vla_conv_add_owned(pc, name, 2, sh, d);
}

static int vla_conv__add_vec(vla_conv *pc, const char *name, const float *v, int n) {
    int64_t sh[1];
    float *d = (float *)malloc(sizeof(float) * (size_t)n + 4);
    if (!d) { snprintf(pc->err, sizeof pc->err, "out of memory"); return -1; }
    memcpy(d, v, sizeof(float) * (size_t)n);
    sh[0] = n;
    return vla_conv_add_owned(pc, name, 1, sh, d);
}

int vla_conv_from_slot(vla_conv *pc, const vla_adapter *ad, const vla_model *m) {
    int Le = m->hp.n_enc_layers, Ld = m->hp.n_dec_layers, n_adp = 2 * Le + 3 * Ld, n_lora = 2 * Le + 4 * Ld, t, s, u;
    char nm[200], site[40], task[64];
    if (ad->n_tasks > 16) { snprintf(pc->err, sizeof pc->err, "more than 16 tasks"); return -1; }
    for (t = 0; t < ad->n_tasks; t++) {
        const vla__task *T = &ad->tasks[t];
        for (s = 0; T->adp && s < n_adp; s++) {
            const vla__adp *A = &T->adp[s];
            int same = ad->n_tasks > 1;
            if (!A->on) continue;
            for (u = 0; u < ad->n_tasks && same; u++) /* shared by every task: written once, as "*" */
                same = ad->tasks[u].adp && ad->tasks[u].adp[s].on && ad->tasks[u].adp[s].down.w.data == A->down.w.data &&
                       ad->tasks[u].adp[s].up.w.data == A->up.w.data;
            if (same && t > 0) continue;
            if (same) snprintf(task, sizeof task, "*");
            else snprintf(task, sizeof task, "%.*s", (int)T->name.n, T->name.s);
            vla__site_name(site, sizeof site, Le, s, 0);
            snprintf(nm, sizeof nm, "A.%s.%s.down.weight", task, site); if (vla_conv__add_mat(pc, nm, &A->down.w)) return -1;
            snprintf(nm, sizeof nm, "A.%s.%s.down.bias", task, site); if (vla_conv__add_vec(pc, nm, A->down.b, A->down.w.rows)) return -1;
            snprintf(nm, sizeof nm, "A.%s.%s.up.weight", task, site); if (vla_conv__add_mat(pc, nm, &A->up.w)) return -1;
            snprintf(nm, sizeof nm, "A.%s.%s.up.bias", task, site); if (vla_conv__add_vec(pc, nm, A->up.b, A->up.w.rows)) return -1;
        }
        for (s = 0; T->lora && s < n_lora; s++) {
            const vla__lora *L = &T->lora[s];
            int same = ad->n_tasks > 1;
            if (!L->on) continue;
            for (u = 0; u < ad->n_tasks && same; u++)
                same = ad->tasks[u].lora && ad->tasks[u].lora[s].on && ad->tasks[u].lora[s].A.data == L->A.data && ad->tasks[u].lora[s].B.data == L->B.data;
            if (same && t > 0) continue;
            if (same) snprintf(task, sizeof task, "*");
            else snprintf(task, sizeof task, "%.*s", (int)T->name.n, T->name.s);
            vla__site_name(site, sizeof site, Le, s, 1);
            snprintf(nm, sizeof nm, "L.%s.%s.A", task, site); if (vla_conv__add_mat(pc, nm, &L->A)) return -1;
            snprintf(nm, sizeof nm, "L.%s.%s.B", task, site); if (vla_conv__add_mat(pc, nm, &L->B)) return -1;
        }
        if (T->prompt) {
            int same = ad->n_tasks > 1;
            vla_mat P;
            for (u = 0; u < ad->n_tasks && same; u++) same = ad->tasks[u].prompt == T->prompt;
            if (!(same && t > 0)) {
                if (same) snprintf(task, sizeof task, "*");
                else snprintf(task, sizeof task, "%.*s", (int)T->name.n, T->name.s);
                P.type = VLA_TYPE_F32; P.rows = T->n_prompt; P.cols = m->hp.d_model; P.data = T->prompt;
                snprintf(nm, sizeof nm, "P.%s.prompt", task);
                if (vla_conv__add_mat(pc, nm, &P)) return -1;
            }
        }
        snprintf(pc->task_names[t], sizeof pc->task_names[t], "%.*s", (int)T->name.n, T->name.s);
        snprintf(pc->task_prefix[t], sizeof pc->task_prefix[t], "%.*s", (int)(T->prefix.n < 31 ? T->prefix.n : 31), T->prefix.s);
        pc->task_beams[t] = (uint32_t)T->preset.num_beams;
        pc->task_maxlen[t] = (uint32_t)T->preset.max_length;
    }
    pc->n_tasks = ad->n_tasks;
    { /* base tensors the adapter replaces (trained LayerNorms, biases ...) go along as they are */
        uint64_t k;
        for (k = 0; k < ad->gguf.n_tensors; k++) {
            const vla_tensor *t = &ad->gguf.tensors[k];
            vla_conv_src src;
            int d;
            if (t->name.n > 2 && t->name.s[1] == '.' && strchr("ALPH", t->name.s[0])) continue;
            memset(&src, 0, sizeof src);
            snprintf(nm, sizeof nm, "%.*s", (int)t->name.n, t->name.s);
            src.name = nm; src.dtype = t->type; src.n_dims = t->n_dims;
            for (d = 0; d < t->n_dims; d++) src.shape[d] = t->ne[t->n_dims - 1 - d];
            src.data = t->data; src.nbytes = (size_t)t->nbytes;
            if (vla_conv_add_f32(pc, nm, &src) != 0) return -1;
        }
    }
    vla_conv_str(pc, "general.architecture", "vladapter");
    vla_conv_str(pc, "general.type", "adapter");
    vla_conv_str(pc, "vladapter.adapter.method", ad->method == VLA__M_LORA ? "lora" : ad->method == VLA__M_PROMPT ? "prompt" : "adapter");
    vla_conv_str(pc, "vladapter.adapter.precomputed_from", vla_adapter_method(ad));
    if (ad->method == VLA__M_LORA) vla_conv_f32(pc, "vladapter.adapter.lora_alpha", ad->lora_scale * (float)ad->max_dim);
    if (ad->exact_gelu) vla_conv_str(pc, "vladapter.adapter.activation", "gelu");
    pc->base_fingerprint = vla_model_fingerprint(m);
    return 0;
}
#endif

typedef struct vla_conv__sink { FILE *f; unsigned char *buf; size_t n, cap; } vla_conv__sink;

static vla_status vla_conv__write_cb(void *user, const void *data, size_t n) {
    vla_conv__sink *s = (vla_conv__sink *)user;
    if (s->f) return fwrite(data, 1, n, s->f) == n ? VLA_OK : VLA_ERR_IO;
    if (s->n + n > s->cap) return VLA_ERR_IO;
    memcpy(s->buf + s->n, data, n);
    s->n += n;
    return VLA_OK;
}

static int vla_conv__build(vla_conv *cv, vla_gguf_writer *w, vla_arena *a, void **mem) {
    size_t bytes = 1u << 20;
    int i;
    bytes += (size_t)cv->n * 512 + (size_t)cv->n_kv * 512;
    *mem = malloc(bytes);
    if (!*mem) { snprintf(cv->err, sizeof cv->err, "out of memory"); return -1; }
    vla_arena_init(a, *mem, bytes);
    if (vla_gguf_writer_init(w, a, cv->n_kv + cv->n_array_kv + 10, cv->n, 64) != VLA_OK) {
        snprintf(cv->err, sizeof cv->err, "gguf writer init failed");
        return -1;
    }
    for (i = 0; i < cv->n_kv; i++) {
        struct vla_conv_kv *k = &cv->kv[i];
        if (k->kind == 0) vla_gguf_add_u32(w, k->key, k->u);
        else if (k->kind == 1) vla_gguf_add_f32(w, k->key, k->f);
        else if (k->kind == 2) vla_gguf_add_bool(w, k->key, (int)k->u);
        else vla_gguf_add_str(w, k->key, k->s, strlen(k->s));
    }
    if (cv->add_arrays) cv->add_arrays(cv->add_arrays_user, w);
    if (cv->fingerprint) vla_gguf_add_u64(w, "vladapter.fingerprint", cv->fingerprint);
    if (cv->base_fingerprint) vla_gguf_add_u64(w, "vladapter.adapter.base_fingerprint", cv->base_fingerprint);
    if (cv->n_tasks > 0) {
        for (i = 0; i < cv->n_tasks; i++) {
            cv->task_str[i].s = cv->task_names[i]; cv->task_str[i].n = strlen(cv->task_names[i]);
            cv->prefix_str[i].s = cv->task_prefix[i]; cv->prefix_str[i].n = strlen(cv->task_prefix[i]);
        }
        vla_gguf_add_arr(w, "vladapter.adapter.tasks", VLA_GGUF_STRING, cv->task_str, (uint64_t)cv->n_tasks);
        vla_gguf_add_arr(w, "vladapter.adapter.prefixes", VLA_GGUF_STRING, cv->prefix_str, (uint64_t)cv->n_tasks);
        vla_gguf_add_arr(w, "vladapter.adapter.num_beams", VLA_GGUF_U32, cv->task_beams, (uint64_t)cv->n_tasks);
        vla_gguf_add_arr(w, "vladapter.adapter.max_length", VLA_GGUF_U32, cv->task_maxlen, (uint64_t)cv->n_tasks);
    }
    for (i = 0; i < cv->n; i++) vla_gguf_add_tensor(w, cv->t[i].name, cv->t[i].type, cv->t[i].n_dims, cv->t[i].ne, cv->t[i].data);
    if (w->err) { snprintf(cv->err, sizeof cv->err, "gguf writer: %s", vla_status_str(w->err)); return -1; }
    return 0;
}

int vla_conv_write(vla_conv *cv, const char *path) {
    vla_gguf_writer w;
    vla_arena a;
    void *mem = NULL;
    vla_conv__sink s;
    vla_status st;
    if (vla_conv__build(cv, &w, &a, &mem) != 0) { free(mem); return -1; }
    memset(&s, 0, sizeof s);
    s.f = fopen(path, "wb");
    if (!s.f) { snprintf(cv->err, sizeof cv->err, "cannot create %s", path); free(mem); return -1; }
    st = vla_gguf_write(&w, vla_conv__write_cb, &s);
    if (fclose(s.f) != 0 && st == VLA_OK) st = VLA_ERR_IO;
    free(mem);
    if (st != VLA_OK) { snprintf(cv->err, sizeof cv->err, "writing %s: %s", path, vla_status_str(st)); remove(path); return -1; }
    return 0;
}

int vla_conv_write_mem(vla_conv *cv, unsigned char **buf, size_t *size) {
    vla_gguf_writer w;
    vla_arena a;
    void *mem = NULL;
    vla_conv__sink s;
    vla_status st;
    *buf = NULL;
    if (vla_conv__build(cv, &w, &a, &mem) != 0) { free(mem); return -1; }
    memset(&s, 0, sizeof s);
    s.cap = (size_t)vla_gguf_writer_size(&w);
    s.buf = (unsigned char *)malloc(s.cap + 64);
    if (!s.buf) { free(mem); snprintf(cv->err, sizeof cv->err, "out of memory"); return -1; }
    st = vla_gguf_write(&w, vla_conv__write_cb, &s);
    free(mem);
    if (st != VLA_OK || s.n != s.cap) { free(s.buf); snprintf(cv->err, sizeof cv->err, "gguf write failed"); return -1; }
    *buf = s.buf;
    *size = s.n;
    return 0;
}

#endif /* VLA_CONVERT_IMPLEMENTATION_DONE */
#endif /* VLA_CONVERT_IMPLEMENTATION */
