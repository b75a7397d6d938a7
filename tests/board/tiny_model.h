/* tiny_model.h - the tiny CLIP-BART behind the "flash model" end-to-end check.
 *
 * Shared by tests/board/gen_tiny_model.c (build machine: makes the model and
 * its adapter, runs the chain and the training run below with the scalar
 * reference kernels and stores what came out in the model file) and
 * tests/test_unit.c (every target: opens both files in place from const
 * arrays in flash, runs the same chain and training with its own kernels in
 * its .bss arena and compares).
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
 * The training run (tiny_train_init / _steps / _eval): the adapter file
 * widened to F32 in RAM by tiny_adapter_f32 (the trainer takes only F32
 * module tensors; the values are exactly the flash file's), the frozen base
 * read in place from flash (encoder layer 1 Q8_0, decoder layer 1 F16, the
 * visual feature projection Q8_0: gradients flow through those), the
 * adapter script's settings (adapters + LayerNorms + visual embedding train,
 * AdamW, weight decay 0.01, clipping at 5) with dropout 0.1 and a linear
 * decay over TINY_TRAIN_STEPS = 2 steps (lr 1e-3, then 5e-4), and a batch of
 * 2 examples: text ids with two pads, the chain's CLIP grid (example 1: its
 * cells reversed) with 6 x 6 boxes, labels with -100, VQA scores 1 and 0.6.
 * Two vla_trainer_step calls, then vla_trainer_loss with the trained values.
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
 *   tokenizer (since TINY_VERSION 4): the tokenizer.ggml.* keys of a
 *   267-token byte-level BPE (see gen_tiny_model.c) for the task-level call
 *   training (since TINY_VERSION 3):
 *     vladapter.tiny.train.adapter_hash  u64    FNV-1a of the F32 adapter
 *                                               file tiny_adapter_f32 makes
 *     vladapter.tiny.train.value_hash    u64    FNV-1a of the trained values
 *                                               (trainer order; a target
 *                                               whose values are
 *                                               bit-identical says so)
 *     vladapter.tiny.train.names    string[]    the trainable tensors, in the
 *                                               trainer's order (73)
 *     vladapter.tiny.train.loss     f32[3]      loss of step 1, of step 2
 *                                               (dropout on), and after the
 *                                               steps (vla_trainer_loss)
 *     vladapter.tiny.train.lr       f32[2]      learning rate of each step
 *     vladapter.tiny.train.grad_norm f32[2]     global gradient norm of each
 *                                               step before clipping
 *                                               (informational)
 *     tiny.expect.train.delta  F16 [P]     what each trainable value moved
 *                                          in the two steps (final minus
 *                                          initial), the tensors concatenated
 *                                          in the trainer's order (P = 10800)
 *     tiny.expect.train.grad_norm F32 [1, 73]  L2 norm of each tensor's
 *                                          gradient in the last step (after
 *                                          clipping)
 *
 * Needs vladapter.h (declarations), <string.h> and <math.h> included first.
 */
#ifndef VLA_TINY_MODEL_H
#define VLA_TINY_MODEL_H

#define TINY_VERSION 4
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
/* The same request as text (since TINY_VERSION 4 the model file carries a
 * byte-level tokenizer whose merges make the adapter's prefix "vqa: " plus
 * this question exactly those ids: "vqa" = 17, ":" = 43, "Ġwhat" = 9,
 * "?" = 28), so that vla_answer must give the adapter's greedy ids. */
#define TINY_QUESTION "what?"

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
 * whatever the host's), continuing from h (TINY_FNV_BASIS to start). */
#define TINY_FNV_BASIS 1469598103934665603ull
TINY__FN uint64_t tiny_hash_floats_from(uint64_t h, const float *v, size_t n) {
    size_t i;
    int k;
    for (i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &v[i], 4);
        for (k = 0; k < 4; k++) { h ^= (u >> (8 * k)) & 0xffu; h *= 1099511628211ull; }
    }
    return h;
}

TINY__FN uint64_t tiny_hash_floats(const float *v, size_t n) { return tiny_hash_floats_from(TINY_FNV_BASIS, v, n); }

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

/* The task-level call on the same request: the picture as 8-bit pixels,
 * the adapter's "vqa" task, TINY_QUESTION, greedy decoding as tiny_run's;
 * a context sized by vla_task_ctx_params from the request's numbers, in
 * a's scratch stack (released).  Fills the encoder ids, the answer ids and
 * the text; *need: the context's size query. */
typedef struct tiny_task_out {
    vla_status st;
    size_t need;
    vla_arena_stats stats;
    int n_in, n_out;
    int32_t in[TINY_LT + 8], out[TINY_T];
    char text[128];
} tiny_task_out;

TINY__FN vla_status tiny_task_sizes(const vla_model *m, const vla_adapter *ad, vla_exec ex, vla_ctx_params *p) {
    vla_task_sizes s;
    vla_status st;
    memset(&s, 0, sizeof s);
    s.max_question_bytes = (int)sizeof TINY_QUESTION - 1;
    s.max_picture_w = TINY_IMG_W; s.max_picture_h = TINY_IMG_H;
    s.max_beams = 1; s.max_length = TINY_T;
    st = vla_task_ctx_params(p, m, &s, &ad, 1);
    p->exec = ex;
    return st;
}

/* Bytes of arena tiny_task_run takes. */
TINY__FN vla_status tiny_task_bytes(const vla_model *m, const vla_adapter *ad, vla_exec ex, size_t *bytes) {
    vla_ctx_params p;
    size_t need = 0;
    vla_status st = tiny_task_sizes(m, ad, ex, &p);
    if (st == VLA_OK) st = vla_ctx_mem_req(m, &p, &need);
    *bytes = need + (size_t)TINY_IMG_W * TINY_IMG_H * 3 + 3 * VLA_ALIGN;
    return st;
}

TINY__FN vla_status tiny_task_run(const vla_model *m, const vla_adapter *ad, vla_exec ex, vla_arena *a, tiny_task_out *o) {
    size_t mark = vla_arena_scratch_mark(a);
    vla_ctx_params p;
    vla_gen_params g = tiny_gen(1);
    vla_image img;
    vla_ctx *c = NULL;
    unsigned char *rgb;
    void *cmem;
    const int32_t *ids;
    vla_status st;
    memset(o, 0, sizeof *o);
    st = tiny_task_sizes(m, ad, ex, &p);
    if (st == VLA_OK) st = vla_ctx_mem_req(m, &p, &o->need);
    rgb = (unsigned char *)vla_arena_scratch(a, (size_t)TINY_IMG_W * TINY_IMG_H * 3);
    cmem = st == VLA_OK ? vla_arena_scratch(a, o->need) : NULL;
    if (st == VLA_OK && (!rgb || !cmem)) st = VLA_ERR_NOMEM;
    if (st == VLA_OK) st = vla_ctx_init(&c, m, &p, cmem, o->need);
    if (st == VLA_OK) st = vla_ctx_set_adapter(c, ad, TINY_TASK);
    if (st == VLA_OK) {
        tiny_pixels(rgb);
        st = vla_image_view(&img, rgb, TINY_IMG_W, TINY_IMG_H, 3, 0);
    }
    if (st == VLA_OK) st = vla_answer(c, &img, TINY_QUESTION, &g, o->text, sizeof o->text, NULL);
    if (st == VLA_OK) {
        ids = vla_task_ids(c, 0, &o->n_in);
        if (o->n_in > (int)(sizeof o->in / sizeof o->in[0])) o->n_in = 0;
        else memcpy(o->in, ids, sizeof(int32_t) * (size_t)o->n_in);
        ids = vla_task_ids(c, 1, &o->n_out);
        if (o->n_out > TINY_T) o->n_out = 0;
        else memcpy(o->out, ids, sizeof(int32_t) * (size_t)o->n_out);
        o->stats = vla_ctx_stats(c);
    }
    vla_arena_scratch_release(a, mark);
    o->st = st;
    return st;
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

/* ---- training: two AdamW steps of the adapter (vla_trainer) ---- */

/* The batch: 2 examples, text ids (the second with two pads), one 7 x 7
 * grid with boxes each, labels with -100, VQA answer scores. */
#define TINY_TRAIN_B 2
#define TINY_TRAIN_T 5                 /* label tokens per example          */
#define TINY_TRAIN_STEPS 2
#define TINY_TRAIN_LR 1e-3             /* the adapter script's lr            */
#define TINY_TRAIN_DROPOUT 0.1f
/* Tolerance of a trained value, as a fraction of the summed learning rates
 * of the steps: |(w - w0) - delta| <= TINY_TRAIN_TOL * (lr_0 + lr_1), see
 * tests/test_unit.c (VT_TRAIN_TOL) for why. */
#define TINY_TRAIN_TOL 2e-3
/* Bytes of arena tiny_adapter_f32 may use (tables, widened tensors and the
 * output file; 48 KB are used). */
#define TINY_ADAPTER_F32_ARENA (64u << 10)

static const int32_t tiny_train_ids[TINY_TRAIN_B * TINY_LT] = {0, 17, 43, 9, 28, 2, /* */ 0, 33, 5, 2, 1, 1};
static const int32_t tiny_train_labels[TINY_TRAIN_B * TINY_TRAIN_T] = {17, 9, 28, 2, -100, /* */ 43, 51, 2, -100, -100};
static const float tiny_train_scores[TINY_TRAIN_B] = {1.0f, 0.6f};

#define TINY_TRAIN_FEATS (TINY_TRAIN_B * TINY_GRID * TINY_GRID * TINY_FEAT)
#define TINY_TRAIN_BOXES (TINY_TRAIN_B * TINY_GRID * TINY_GRID * 4)
#define TINY_TRAIN_INPUT (TINY_TRAIN_FEATS + TINY_TRAIN_BOXES)

/* The batch's float inputs in one buffer input[TINY_TRAIN_INPUT]:
 *   features [2, 49, 128]: example 0 is the CLIP grid of the chain (the
 *     build machine's, from the model file, so every target trains on the
 *     same bits), example 1 the same cells in reverse order;
 *   boxes [2, 49, 4] as (x1, x2, y1, y2): visual token o (< 36) gets cell
 *     (o / 6, o % 6) of a 6 x 6 grid over the unit square, example 1
 *     mirrored left to right (CLIP grid features come without boxes, i.e.
 *     zeros; these make the box projection's weight train too). */
TINY__FN void tiny_train_input(float *input, const float *grid) {
    float *boxes = input + TINY_TRAIN_FEATS;
    int i, b, o, n = TINY_GRID * TINY_GRID;
    memcpy(input, grid, sizeof(float) * (size_t)n * TINY_FEAT);
    for (i = 0; i < n; i++)
        memcpy(input + ((size_t)n + i) * TINY_FEAT, grid + (size_t)(n - 1 - i) * TINY_FEAT, sizeof(float) * TINY_FEAT);
    memset(boxes, 0, sizeof(float) * TINY_TRAIN_BOXES);
    for (b = 0; b < TINY_TRAIN_B; b++)
        for (o = 0; o < TINY_NBOX; o++) {
            float *q = boxes + ((size_t)b * n + o) * 4;
            int r = o / TINY_POOL, c = b ? TINY_POOL - 1 - o % TINY_POOL : o % TINY_POOL;
            q[0] = (float)c / TINY_POOL;
            q[1] = (float)(c + 1) / TINY_POOL;
            q[2] = (float)r / TINY_POOL;
            q[3] = (float)(r + 1) / TINY_POOL;
        }
}

TINY__FN vla_train_batch tiny_train_batch(const float *feats, const float *boxes) {
    vla_train_batch b;
    memset(&b, 0, sizeof b);
    b.task = TINY_TASK;
    b.loss = VLA_LOSS_VQA;
    b.in.batch = TINY_TRAIN_B;
    b.in.text_len = TINY_LT;
    b.in.ids = tiny_train_ids;
    b.in.n_images = 1;
    b.in.grid_h = b.in.grid_w = TINY_GRID;
    b.in.feats = feats;
    b.in.boxes = boxes;
    b.target_len = TINY_TRAIN_T;
    b.labels = tiny_train_labels;
    b.scores = tiny_train_scores;
    return b;
}

/* The adapter script's settings (vla_train_defaults("adapter"): visual
 * embedding and LayerNorms train with the adapters, AdamW 0.9/0.999/1e-6,
 * weight decay 0.01, clipping at 5, seed 9595), two steps of a linear decay
 * without warmup (lr, then lr/2), dropout 0.1. */
TINY__FN vla_train_params tiny_train_params(vla_exec ex, int recompute) {
    vla_train_params p = vla_train_defaults("adapter");
    p.max_batch = TINY_TRAIN_B;
    p.max_text_len = TINY_LT;
    p.max_images = 1;
    p.max_grid = TINY_GRID * TINY_GRID;
    p.max_target_len = TINY_TRAIN_T;
    p.lr = TINY_TRAIN_LR;
    p.total_steps = TINY_TRAIN_STEPS;
    p.warmup_steps = 0;
    p.dropout = TINY_TRAIN_DROPOUT;
    p.recompute = recompute;
    p.exec = ex;
    return p;
}

typedef struct tiny_train_out {
    vla_status st;                    /* VLA_OK, or the first failure      */
    const char *stage;                /* the call that failed              */
    size_t need;                      /* vla_trainer_mem_req               */
    vla_arena_stats stats;            /* after the steps and the last loss */
    float loss[TINY_TRAIN_STEPS + 1]; /* each step's loss (dropout on), then
                                         vla_trainer_loss after the steps */
    float lr[TINY_TRAIN_STEPS];       /* each step's learning rate         */
    vla_trainer *t;
} tiny_train_out;

/* The trainer's size query for these settings. */
TINY__FN vla_status tiny_train_need(const vla_model *m, const void *adapter, size_t adapter_size, vla_exec ex, int recompute,
                                    size_t *need) {
    vla_train_params p = tiny_train_params(ex, recompute);
    return vla_trainer_mem_req(m, adapter, adapter_size, &p, need);
}

/* Size query, then vla_trainer_init in mem[0, mem_size). */
TINY__FN vla_status tiny_train_init(const vla_model *m, const void *adapter, size_t adapter_size, vla_exec ex, int recompute,
                                    void *mem, size_t mem_size, tiny_train_out *o) {
    vla_train_params p = tiny_train_params(ex, recompute);
    memset(o, 0, sizeof *o);
    o->stage = "vla_trainer_mem_req";
    o->st = vla_trainer_mem_req(m, adapter, adapter_size, &p, &o->need);
    if (o->st != VLA_OK) return o->st;
    o->stage = "vla_trainer_init";
    o->st = vla_trainer_init(&o->t, m, adapter, adapter_size, &p, mem, mem_size);
    if (o->st == VLA_OK) o->stage = "";
    return o->st;
}

/* TINY_TRAIN_STEPS calls of vla_trainer_step on the batch. */
TINY__FN vla_status tiny_train_steps(const float *input, tiny_train_out *o) {
    vla_train_batch b = tiny_train_batch(input, input + TINY_TRAIN_FEATS);
    int k;
    for (k = 0; k < TINY_TRAIN_STEPS && o->st == VLA_OK; k++) {
        o->stage = "vla_trainer_step";
        o->st = vla_trainer_step(o->t, &b, &o->loss[k], &o->lr[k]);
    }
    if (o->st == VLA_OK) {
        o->stats = vla_trainer_stats(o->t);
        o->stage = "";
    }
    return o->st;
}

/* Then the loss of the batch with the trained values (no dropout); the
 * last step's gradients stay as they are. */
TINY__FN vla_status tiny_train_eval(const float *input, tiny_train_out *o) {
    vla_train_batch b = tiny_train_batch(input, input + TINY_TRAIN_FEATS);
    if (o->st != VLA_OK) return o->st;
    o->stage = "vla_trainer_loss";
    o->st = vla_trainer_loss(o->t, &b, &o->loss[TINY_TRAIN_STEPS]);
    if (o->st == VLA_OK) {
        o->stats = vla_trainer_stats(o->t);
        o->stage = "";
    }
    return o->st;
}

/* L2 norm of n floats, in double. */
TINY__FN double tiny_norm(const float *v, size_t n) {
    double s = 0.0;
    size_t i;
    for (i = 0; i < n; i++) s += (double)v[i] * (double)v[i];
    return sqrt(s);
}

/* FNV-1a 64 over n bytes. */
TINY__FN uint64_t tiny_hash_bytes(const void *p, size_t n) {
    const unsigned char *c = (const unsigned char *)p;
    uint64_t h = TINY_FNV_BASIS;
    size_t i;
    for (i = 0; i < n; i++) { h ^= c[i]; h *= 1099511628211ull; }
    return h;
}

/* A tensor of the file (F32, F16 or Q8_0, 1-D or 2-D) as fp32. */
TINY__FN vla_status tiny_tensor_f32(const vla_tensor *x, float *out) {
    vla_mat w;
    int r;
    vla_status st = vla_tensor_as_mat(x, &w);
    if (st != VLA_OK) return st;
    for (r = 0; r < w.rows; r++) vla_mat_row(out + (size_t)r * w.cols, &w, r);
    return VLA_OK;
}

typedef struct tiny__sink { unsigned char *p; size_t n, cap; } tiny__sink;

TINY__FN vla_status tiny__sink_write(void *user, const void *data, size_t n) {
    tiny__sink *s = (tiny__sink *)user;
    if (n > s->cap - s->n) return VLA_ERR_IO;
    memcpy(s->p + s->n, data, n);
    s->n += n;
    return VLA_OK;
}

/* The trainer takes adapter tensors as F32 only, and the adapter file of
 * the chain stores the decoder's down/up weights as Q8_0/F16.  This writes
 * the same file with every tensor widened to F32 (same keys, same tensor
 * order, the values exactly what the library reads from the quantized
 * ones): the trainer's initial values are the flash file's.  Everything,
 * the output included, comes from a's persistent region; *out stays valid
 * as long as that memory does.  The same bytes come out on every target. */
TINY__FN vla_status tiny_adapter_f32(const void *file, size_t size, vla_arena *a, const unsigned char **out, size_t *out_size) {
    vla_gguf g;
    vla_gguf_writer w;
    tiny__sink sink;
    char name[128];
    uint64_t i, k, total;
    vla_status st = vla_gguf_open(&g, file, size, a);
    if (st != VLA_OK) return st;
    if ((st = vla_gguf_writer_init(&w, a, (int)g.n_kv, (int)g.n_tensors, g.alignment)) != VLA_OK) return st;
    for (i = 0; i < g.n_kv; i++) {
        const vla_gguf_kv *kv = &g.kv[i];
        uint64_t v64;
        if (kv->key.n >= sizeof name) return VLA_ERR_FORMAT;
        memcpy(name, kv->key.s, kv->key.n);
        name[kv->key.n] = 0;
        if (!strcmp(name, "general.alignment")) continue; /* the writer's own */
        switch (kv->type) {
        case VLA_GGUF_U32: vla_gguf_add_u32(&w, name, tiny__rd32(kv->val)); break;
        case VLA_GGUF_I32: vla_gguf_add_i32(&w, name, (int32_t)tiny__rd32(kv->val)); break;
        case VLA_GGUF_U64:
            v64 = (uint64_t)tiny__rd32(kv->val) | (uint64_t)tiny__rd32(kv->val + 4) << 32;
            vla_gguf_add_u64(&w, name, v64);
            break;
        case VLA_GGUF_F32: { float f; uint32_t u = tiny__rd32(kv->val); memcpy(&f, &u, 4); vla_gguf_add_f32(&w, name, f); } break;
        case VLA_GGUF_BOOL: vla_gguf_add_bool(&w, name, kv->val[0] != 0); break;
        case VLA_GGUF_STRING: { vla_str s; if ((st = vla_gguf_get_str(&g, name, &s)) != VLA_OK) return st; vla_gguf_add_str(&w, name, s.s, s.n); } break;
        case VLA_GGUF_ARRAY:
            if (kv->arr_type == VLA_GGUF_STRING) {
                vla_str *items = (vla_str *)vla_arena_alloc(a, sizeof(vla_str) * (size_t)(kv->arr_n + 1));
                size_t pos = 0;
                if (!items) return VLA_ERR_NOMEM;
                for (k = 0; k < kv->arr_n; k++)
                    if (!vla_gguf_arr_next_str(kv, &pos, &items[k])) return VLA_ERR_FORMAT;
                vla_gguf_add_arr(&w, name, VLA_GGUF_STRING, items, kv->arr_n);
            } else if (kv->arr_type == VLA_GGUF_U32 || kv->arr_type == VLA_GGUF_I32 || kv->arr_type == VLA_GGUF_F32) {
                /* the file's little-endian items, referenced (every target is little-endian) */
                vla_gguf_add_arr(&w, name, kv->arr_type, kv->val, kv->arr_n);
            } else {
                return VLA_ERR_UNSUPPORTED;
            }
            break;
        default: return VLA_ERR_UNSUPPORTED; /* not in adapter files */
        }
    }
    for (i = 0; i < g.n_tensors; i++) {
        const vla_tensor *x = &g.tensors[i];
        const void *data = x->data;
        if (x->name.n >= sizeof name) return VLA_ERR_FORMAT;
        memcpy(name, x->name.s, x->name.n);
        name[x->name.n] = 0;
        if (x->type != VLA_TYPE_F32) {
            size_t n = 1;
            int d;
            float *f;
            for (d = 0; d < x->n_dims; d++) n *= (size_t)x->ne[d];
            f = (float *)vla_arena_alloc(a, n * sizeof(float));
            if (!f) return VLA_ERR_NOMEM;
            if ((st = tiny_tensor_f32(x, f)) != VLA_OK) return st;
            data = f;
        }
        vla_gguf_add_tensor(&w, name, VLA_TYPE_F32, x->n_dims, x->ne, data);
    }
    if (w.err != VLA_OK) return w.err;
    total = vla_gguf_writer_size(&w);
    if (total > (uint64_t)(size_t)-1) return VLA_ERR_NOMEM;
    sink.cap = (size_t)total;
    sink.n = 0;
    sink.p = (unsigned char *)vla_arena_alloc(a, sink.cap);
    if (!sink.p) return VLA_ERR_NOMEM;
    if ((st = vla_gguf_write(&w, tiny__sink_write, &sink)) != VLA_OK) return st;
    if (sink.n != sink.cap) return VLA_ERR_IO;
    *out = sink.p;
    *out_size = sink.n;
    return VLA_OK;
}

/* An F32 array key of exactly n items into v. */
TINY__FN vla_status tiny_get_f32s(const vla_gguf *g, const char *key, float *v, int n) {
    vla_gguf_kv kv;
    vla_status st = vla_gguf_get_kv(g, key, &kv);
    int i;
    if (st != VLA_OK) return st;
    if (kv.type != VLA_GGUF_ARRAY || kv.arr_type != VLA_GGUF_F32 || kv.arr_n != (uint64_t)n) return VLA_ERR_FORMAT;
    for (i = 0; i < n; i++) {
        uint32_t u = tiny__rd32(kv.val + 4 * i);
        memcpy(&v[i], &u, 4);
    }
    return VLA_OK;
}

/* A tensor of the given type and exactly n elements (zero copy). */
TINY__FN const void *tiny_get_typed(const vla_gguf *g, const char *name, vla_type type, size_t n) {
    vla_tensor t;
    if (vla_gguf_get_tensor(g, name, &t) != VLA_OK) return NULL;
    if (t.type != type || t.nbytes != vla_type_size(type, (uint64_t)n)) return NULL;
    return t.data;
}

#endif /* VLA_TINY_MODEL_H */
