/* tiny_model.h - the tiny CLIP-BART behind the "flash model" end-to-end check.
 *
 * Shared by tests/board/gen_tiny_model.c (build machine: makes the model and
 * its adapter, runs the chain below with the scalar reference kernels and
 * stores what came out in the model file) and tests/test_unit.c (every
 * target: opens both files in place from const arrays in flash, runs the
 * same chain with its own kernels in its .bss arena and compares).
 *
 * The model is VL-Adapter's architecture at toy size, with random weights:
 *     CLIP ModifiedResNet, width 4, one bottleneck per stage, 224 x 224 input
 *         -> 7 x 7 grid of 128 channels (BatchNorm folded, as the converter
 *            writes it; the 1x1 convolutions of stages 3 and 4 stored as
 *            F16 and Q8_0, everything else F32)
 *     VL-BART, d_model 32, 4 heads, FFN 64, 2 encoder + 2 decoder layers,
 *         vocabulary 64, visual embedding of 128-channel features pooled
 *         6 x 6 (36 visual tokens, as the real model); some layers F16 or
 *         Q8_0, the rest F32
 *     one adapter file: a single-adapter "vqa" task (bottleneck 8 at all 10
 *         sites) plus one replaced LayerNorm bias
 * The chain (tiny_run): a synthetic 45 x 37 RGB picture -> vla_clip_preprocess
 * -> vla_clip_run -> vla_encode with the image -> greedy decoding of the base
 * model, greedy and beam decoding with the adapter, and the base model again
 * (hot swap back), each greedy sequence also teacher-forced for its logits.
 *
 * What the model file carries besides the weights (written by the generator):
 *     vladapter.tiny.version        u32   TINY_VERSION
 *     vladapter.tiny.pixel_hash     u64   FNV-1a of the preprocessed floats
 *     vladapter.tiny.ids.base       i32[] greedy ids, base model
 *     vladapter.tiny.ids.adapter    i32[] greedy ids, with the adapter
 *     vladapter.tiny.ids.beam       i32[] beam ids (TINY_BEAMS), with the adapter
 *     vladapter.tiny.beam_score     f32   that beam's score
 *     vladapter.tiny.margin         f32   smallest top-1/top-2 logit gap of
 *                                         the greedy steps (informational)
 *     tiny.expect.grid     F32 [49, 128]   CLIP grid features
 *     tiny.expect.enc      F32 [42, 32]    encoder output with the adapter
 *     tiny.expect.logits.base, tiny.expect.logits.adapter
 *                          F32 [len, 64]   teacher-forced logits of the
 *                                          greedy sequences
 *
 * Needs vladapter.h (declarations) and <string.h> included first.
 */
#ifndef VLA_TINY_MODEL_H
#define VLA_TINY_MODEL_H

#define TINY_VERSION 2
#define TINY_ALIGN 64 /* general.alignment of both files */

/* the synthetic picture, as a camera would deliver it */
#define TINY_IMG_W 45
#define TINY_IMG_H 37
/* CLIP trunk */
#define TINY_CLIP_WIDTH 4
#define TINY_CLIP_BLOCKS 1 /* per stage */
#define TINY_S 224
#define TINY_GRID 7
#define TINY_FEAT (32 * TINY_CLIP_WIDTH)
/* VL-BART */
#define TINY_D 32
#define TINY_HEADS 4
#define TINY_FFN 64
#define TINY_ENC_LAYERS 2
#define TINY_DEC_LAYERS 2
#define TINY_VOCAB 64
#define TINY_MAX_POS 16
#define TINY_NBOX 36
#define TINY_POOL 6
#define TINY_ADAPTER_DIM 8
#define TINY_TASK "vqa"
/* the request */
#define TINY_LT 6                      /* text ids, <s> ... </s>            */
#define TINY_L (TINY_LT + TINY_NBOX)   /* encoder tokens                    */
#define TINY_T 10                      /* max_length (incl. the start token) */
#define TINY_BEAMS 3
#define TINY_NO_REPEAT 3

/* Text ids of the request: <s> w1 w2 w3 w4 </s>. */
static const int32_t tiny_text_ids[TINY_LT] = {0, 17, 43, 9, 28, 2};

/* Which output a tiny_out slot holds. */
enum { TINY_BASE = 0, TINY_ADAPTER = 1, TINY_BEAM = 2, TINY_BASE2 = 3, TINY_N_RUNS = 4 };

typedef struct tiny_out {
    vla_status st;                    /* VLA_OK, or the first failure      */
    const char *stage;                /* the call that failed              */
    uint64_t pix_hash;
    size_t ctx_need;                  /* vla_ctx_mem_req                   */
    vla_arena_stats ctx_stats;        /* after everything ran              */
    int grid_h, grid_w, grid_c, enc_len;
    float grid[TINY_GRID * TINY_GRID * TINY_FEAT];
    float enc[TINY_L * TINY_D];       /* encoder output, adapter run       */
    int len[TINY_N_RUNS];
    int32_t ids[TINY_N_RUNS][TINY_T];
    float beam_score;
    /* teacher-forced logits of the greedy runs (BASE, ADAPTER, BASE2) */
    float logits[3][TINY_T * TINY_VOCAB];
} tiny_out;

#if defined(__GNUC__)
#define TINY__FN static __attribute__((unused))
#else
#define TINY__FN static
#endif

/* The picture: gradients, a checkerboard and a disc, 8-bit RGB, packed. */
TINY__FN void tiny_pixels(unsigned char *rgb) {
    int x, y;
    for (y = 0; y < TINY_IMG_H; y++)
        for (x = 0; x < TINY_IMG_W; x++) {
            unsigned char *p = rgb + ((size_t)y * TINY_IMG_W + x) * 3;
            int dx = x - 28, dy = y - 14, in_disc = dx * dx + dy * dy < 90;
            p[0] = (unsigned char)(x * 255 / (TINY_IMG_W - 1));
            p[1] = (unsigned char)(in_disc ? 230 : y * 200 / (TINY_IMG_H - 1));
            p[2] = (unsigned char)((((x >> 2) ^ (y >> 2)) & 1) ? 40 + y : 210 - x);
        }
}

/* FNV-1a 64 over the bit patterns of n floats (little-endian byte order,
 * whatever the host's). */
TINY__FN uint64_t tiny_hash_floats(const float *v, size_t n) {
    uint64_t h = 1469598103934665603ull;
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (k = 0; k < 4; k++) { h ^= (u >> (8 * k)) & 0xffu; h *= 1099511628211ull; }
    }
    return h;
}

TINY__FN vla_gen_params tiny_gen(int beams) {
    vla_gen_params g;
    memset(&g, 0, sizeof g);
    g.num_beams = beams;
    g.max_length = TINY_T;
    g.min_length = 0;
    g.no_repeat_ngram = TINY_NO_REPEAT;
    g.early_stopping = 1;
    g.length_penalty = 1.0f;
    return g;
}

TINY__FN vla_ctx_params tiny_ctx_params(const vla_adapter *ad, vla_exec ex) {
    vla_ctx_params p;
    memset(&p, 0, sizeof p);
    p.max_batch = 1;
    p.max_text_len = TINY_LT;
    p.max_images = 1;
    p.max_dec_len = TINY_T;
    p.max_beams = TINY_BEAMS;
    p.use_clip = 1;
    p.max_prompt_len = ad ? vla_adapter_prompt_len(ad) : 0;
    p.max_adapter_dim = ad ? vla_adapter_max_dim(ad) : 0;
    p.exec = ex;
    return p;
}

/* Bytes of arena tiny_run takes (all of it from the scratch stack). */
TINY__FN vla_status tiny_run_bytes(const vla_model *m, const vla_adapter *ad, vla_exec ex, size_t *bytes) {
    vla_ctx_params p = tiny_ctx_params(ad, ex);
    size_t need, n;
    vla_status st = vla_ctx_mem_req(m, &p, &need);
    if (st != VLA_OK) return st;
    n = need + VLA_ALIGN;                                                   /* context       */
    n += (size_t)TINY_IMG_W * TINY_IMG_H * 3 + VLA_ALIGN;                  /* picture       */
    n += sizeof(float) * TINY_S * TINY_S * 3 + VLA_ALIGN;                   /* trunk input   */
    n += vla_clip_preprocess_scratch_size(TINY_IMG_W, TINY_IMG_H, TINY_S); /* resize        */
    *bytes = n + VLA_ALIGN;
    return VLA_OK;
}

/* One greedy decode into slot k (and, for logits_slot >= 0, its logits). */
TINY__FN vla_status tiny__greedy(vla_ctx *c, tiny_out *o, int k, int logits_slot) {
    vla_gen_params g = tiny_gen(1);
    vla_status st = vla_generate(c, &g, o->ids[k], &o->len[k], NULL);
    if (st != VLA_OK) { o->stage = "vla_generate (greedy)"; return st; }
    if (logits_slot >= 0) {
        st = vla_decode_logits(c, o->ids[k], o->len[k], o->logits[logits_slot]);
        if (st != VLA_OK) o->stage = "vla_decode_logits";
    }
    return st;
}

/* The whole chain; everything it allocates comes from a's scratch stack and
 * is given back.  The context gets exactly vla_ctx_mem_req bytes. */
TINY__FN vla_status tiny_run(const vla_model *m, const vla_adapter *ad, vla_exec ex, vla_arena *a, tiny_out *o) {
    size_t mark = vla_arena_scratch_mark(a);
    vla_ctx_params p = tiny_ctx_params(ad, ex);
    vla_image img;
    vla_input in;
    vla_ctx *c = NULL;
    unsigned char *rgb;
    float *pix;
    void *cmem;
    vla_status st;
    int i;
    memset(o, 0, sizeof *o);
    o->stage = "arena";
    rgb = (unsigned char *)vla_arena_scratch(a, (size_t)TINY_IMG_W * TINY_IMG_H * 3);
    pix = (float *)vla_arena_scratch(a, sizeof(float) * TINY_S * TINY_S * 3);
    st = rgb && pix ? VLA_OK : VLA_ERR_NOMEM;
    if (st == VLA_OK) {
        tiny_pixels(rgb);
        o->stage = "vla_clip_preprocess";
        st = vla_image_view(&img, rgb, TINY_IMG_W, TINY_IMG_H, 3, 0);
        if (st == VLA_OK) st = vla_clip_preprocess(a, pix, TINY_S, VLA_LAYOUT_HWC, &img);
    }
    if (st == VLA_OK) {
        o->pix_hash = tiny_hash_floats(pix, (size_t)TINY_S * TINY_S * 3);
        o->stage = "vla_ctx_mem_req";
        st = vla_ctx_mem_req(m, &p, &o->ctx_need);
    }
    if (st == VLA_OK) {
        o->stage = "vla_ctx_init";
        cmem = vla_arena_scratch(a, o->ctx_need);
        st = cmem ? vla_ctx_init(&c, m, &p, cmem, o->ctx_need) : VLA_ERR_NOMEM;
    }
    if (st == VLA_OK) {
        o->stage = "vla_clip_run";
        st = vla_clip_run(c, pix, 4, o->grid, &o->grid_h, &o->grid_w, &o->grid_c);
        if (st == VLA_OK && (o->grid_h != TINY_GRID || o->grid_w != TINY_GRID || o->grid_c != TINY_FEAT)) st = VLA_ERR_MISMATCH;
    }
    memset(&in, 0, sizeof in);
    in.batch = 1;
    in.text_len = TINY_LT;
    in.ids = tiny_text_ids;
    in.n_images = 1;
    in.images = pix;
    /* base model */
    if (st == VLA_OK) { o->stage = "vla_encode (base)"; st = vla_encode(c, &in); }
    if (st == VLA_OK) st = tiny__greedy(c, o, TINY_BASE, 0);
    /* with the adapter: greedy, beam */
    if (st == VLA_OK && ad) {
        const float *h;
        o->stage = "vla_ctx_set_adapter";
        st = vla_ctx_set_adapter(c, ad, TINY_TASK);
        if (st == VLA_OK) { o->stage = "vla_encode (adapter)"; st = vla_encode(c, &in); }
        if (st == VLA_OK) {
            h = vla_encoder_output(c, 0, &o->enc_len);
            if (!h || o->enc_len != TINY_L) { o->stage = "vla_encoder_output"; st = VLA_ERR_MISMATCH; }
            else memcpy(o->enc, h, sizeof(float) * TINY_L * TINY_D);
        }
        if (st == VLA_OK) st = tiny__greedy(c, o, TINY_ADAPTER, 1);
        if (st == VLA_OK) {
            vla_gen_params g = tiny_gen(TINY_BEAMS);
            o->stage = "vla_generate (beam)";
            st = vla_generate(c, &g, o->ids[TINY_BEAM], &o->len[TINY_BEAM], &o->beam_score);
        }
        /* and back to the base model */
        if (st == VLA_OK) { o->stage = "vla_ctx_set_adapter (none)"; st = vla_ctx_set_adapter(c, NULL, NULL); }
        if (st == VLA_OK) { o->stage = "vla_encode (base again)"; st = vla_encode(c, &in); }
        if (st == VLA_OK) st = tiny__greedy(c, o, TINY_BASE2, 2);
    }
    if (st == VLA_OK) {
        o->ctx_stats = vla_ctx_stats(c);
        o->stage = "";
    }
    for (i = 0; i < TINY_N_RUNS; i++)
        if (o->len[i] < 0 || o->len[i] > TINY_T) o->len[i] = 0;
    vla_arena_scratch_release(a, mark);
    o->st = st;
    return st;
}

/* ---- reading the expectations back (target side) ---- */

TINY__FN uint32_t tiny__rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* An I32 array key into ids[max]; *n its length. */
TINY__FN vla_status tiny_get_ids(const vla_gguf *g, const char *key, int32_t *ids, int max, int *n) {
    vla_gguf_kv kv;
    vla_status st = vla_gguf_get_kv(g, key, &kv);
    int i;
    if (st != VLA_OK) return st;
    if (kv.type != VLA_GGUF_ARRAY || kv.arr_type != VLA_GGUF_I32 || kv.arr_n < 1 || kv.arr_n > (uint64_t)max)
        return VLA_ERR_FORMAT;
    for (i = 0; i < (int)kv.arr_n; i++) ids[i] = (int32_t)tiny__rd32(kv.val + 4 * i);
    *n = (int)kv.arr_n;
    return VLA_OK;
}

TINY__FN vla_status tiny_get_u64(const vla_gguf *g, const char *key, uint64_t *v) {
    vla_gguf_kv kv;
    vla_status st = vla_gguf_get_kv(g, key, &kv);
    if (st != VLA_OK) return st;
    if (kv.type != VLA_GGUF_U64) return VLA_ERR_FORMAT;
    *v = (uint64_t)tiny__rd32(kv.val) | (uint64_t)tiny__rd32(kv.val + 4) << 32;
    return VLA_OK;
}

/* An F32 tensor of exactly n elements (data in the file, zero copy). */
TINY__FN const float *tiny_get_floats(const vla_gguf *g, const char *name, size_t n) {
    vla_tensor t;
    if (vla_gguf_get_tensor(g, name, &t) != VLA_OK) return NULL;
    if (t.type != VLA_TYPE_F32 || t.nbytes != (uint64_t)n * 4) return NULL;
    return (const float *)t.data;
}

#endif /* VLA_TINY_MODEL_H */
