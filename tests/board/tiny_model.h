/* tiny_model.h - the small model behind the "flash model" end-to-end check.
 *
 * Shared by tests/board/gen_tiny_model.c (runs on the build machine, writes
 * the GGUF with the reference kernels' output stored in it) and by
 * tests/test_unit.c (runs on the target, reads that GGUF straight from a
 * const array in flash and recomputes the output with the fast kernels).
 *
 * The forward pass touches most kernel families on a few hundred bytes of
 * activations:
 *     x  = embedding(tok_embd F16 [VOCAB, D_IN], ids)          [T, D_IN]
 *     h  = layernorm(gelu_erf(x l1^T + l1_b))                   [T, D]     l1: F32
 *     h += attention(q = h/4, k = v = h, 2 heads, causal)       [T, D]
 *     h2 = relu(h l2^T + l2_b)                                  [T, D2]    l2: Q8_0
 *     out = h2 l3^T                                             [T, D_OUT] l3: F16
 * It is a placeholder: the plan is to replace it with a tiny CLIP-BART once
 * the model code exists.  Needs vladapter.h (declarations) included first.
 */
#ifndef VLA_TINY_MODEL_H
#define VLA_TINY_MODEL_H

#define TINY_ARCH "vla-tiny-test"
#define TINY_VOCAB 10
#define TINY_D_IN 40
#define TINY_D 32
#define TINY_D2 16
#define TINY_D_OUT 8
#define TINY_T 3
#define TINY_HEADS 2
#define TINY_ALIGN 64 /* general.alignment of the file */

typedef struct tiny_weights {
    vla_mat emb, l1, l2, l3;
    const float *l1_b, *ln_g, *ln_b, *l2_b;
    int32_t ids[TINY_T];
    float eps;
} tiny_weights;

#if defined(__GNUC__)
#define TINY__FN static __attribute__((unused))
#else
#define TINY__FN static
#endif

/* ex == NULL runs the scalar reference of every kernel.  Scratch for the
 * activations and the attention scores comes from a's scratch stack. */
TINY__FN vla_status tiny_forward(const tiny_weights *w, const vla_exec *ex, vla_arena *a, float *out) {
    size_t mark = vla_arena_scratch_mark(a);
    float *x = (float *)vla_arena_scratch(a, sizeof(float) * TINY_T * TINY_D_IN);
    float *h = (float *)vla_arena_scratch(a, sizeof(float) * TINY_T * TINY_D);
    float *q = (float *)vla_arena_scratch(a, sizeof(float) * TINY_T * TINY_D);
    float *att = (float *)vla_arena_scratch(a, sizeof(float) * TINY_T * TINY_D);
    float *h2 = (float *)vla_arena_scratch(a, sizeof(float) * TINY_T * TINY_D2);
    vla_status st;
    int i;
    if (!x || !h || !q || !att || !h2) { vla_arena_scratch_release(a, mark); return VLA_ERR_NOMEM; }
    st = vla_embedding(x, &w->emb, w->ids, TINY_T);
    if (st == VLA_OK) {
        vla_linear(ex, h, x, &w->l1, w->l1_b, TINY_T);
        vla_gelu_erf(h, (size_t)TINY_T * TINY_D);
        vla_layernorm(h, h, w->ln_g, w->ln_b, TINY_T, TINY_D, w->eps);
        for (i = 0; i < TINY_T * TINY_D; i++) q[i] = h[i] * 0.25f; /* 1/sqrt(dh), dh = 16 */
        st = vla_attention(ex, a, att, TINY_D, q, TINY_D, h, TINY_D, h, TINY_D, TINY_T, TINY_T, TINY_HEADS,
                           TINY_D / TINY_HEADS, NULL, 1, 0);
    }
    if (st == VLA_OK) {
        vla_add(h, h, att, (size_t)TINY_T * TINY_D);
        vla_linear(ex, h2, h, &w->l2, w->l2_b, TINY_T);
        vla_relu(h2, (size_t)TINY_T * TINY_D2);
        vla_linear(ex, out, h2, &w->l3, NULL, TINY_T);
    }
    vla_arena_scratch_release(a, mark);
    return st;
}

/* One matrix tensor of the expected type and shape [rows, cols]. */
TINY__FN vla_status tiny__mat(const vla_gguf *g, const char *name, vla_type type, int rows, int cols, vla_mat *m) {
    vla_tensor t;
    vla_status st = vla_gguf_get_tensor(g, name, &t);
    if (st != VLA_OK) return st;
    st = vla_tensor_as_mat(&t, m);
    if (st != VLA_OK) return st;
    return (m->type == type && m->rows == rows && m->cols == cols) ? VLA_OK : VLA_ERR_MISMATCH;
}

/* One F32 vector tensor of n elements. */
TINY__FN const float *tiny__vec(const vla_gguf *g, const char *name, int n) {
    vla_tensor t;
    if (vla_gguf_get_tensor(g, name, &t) != VLA_OK) return NULL;
    if (t.type != VLA_TYPE_F32 || t.n_dims != 1 || t.ne[0] != n) return NULL;
    return (const float *)t.data;
}

/* Binds the weights to the tensors of an opened file (no copies). */
TINY__FN vla_status tiny_from_gguf(const vla_gguf *g, tiny_weights *w) {
    vla_gguf_kv ids;
    vla_str arch;
    vla_status st;
    int i;
    if (vla_gguf_get_str(g, "general.architecture", &arch) != VLA_OK || arch.n != sizeof(TINY_ARCH) - 1 ||
        memcmp(arch.s, TINY_ARCH, arch.n) != 0)
        return VLA_ERR_MISMATCH;
    if ((st = vla_gguf_get_f32(g, "vladapter.tiny.eps", &w->eps)) != VLA_OK) return st;
    if ((st = vla_gguf_get_kv(g, "vladapter.tiny.ids", &ids)) != VLA_OK) return st;
    if (ids.type != VLA_GGUF_ARRAY || ids.arr_type != VLA_GGUF_I32 || ids.arr_n != TINY_T) return VLA_ERR_FORMAT;
    for (i = 0; i < TINY_T; i++) { /* little-endian int32 items */
        const unsigned char *p = ids.val + 4 * i;
        w->ids[i] = (int32_t)((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24);
    }
    if ((st = tiny__mat(g, "tok_embd.weight", VLA_TYPE_F16, TINY_VOCAB, TINY_D_IN, &w->emb)) != VLA_OK) return st;
    if ((st = tiny__mat(g, "l1.weight", VLA_TYPE_F32, TINY_D, TINY_D_IN, &w->l1)) != VLA_OK) return st;
    if ((st = tiny__mat(g, "l2.weight", VLA_TYPE_Q8_0, TINY_D2, TINY_D, &w->l2)) != VLA_OK) return st;
    if ((st = tiny__mat(g, "l3.weight", VLA_TYPE_F16, TINY_D_OUT, TINY_D2, &w->l3)) != VLA_OK) return st;
    w->l1_b = tiny__vec(g, "l1.bias", TINY_D);
    w->ln_g = tiny__vec(g, "ln.weight", TINY_D);
    w->ln_b = tiny__vec(g, "ln.bias", TINY_D);
    w->l2_b = tiny__vec(g, "l2.bias", TINY_D2);
    if (!w->l1_b || !w->ln_g || !w->ln_b || !w->l2_b) return VLA_ERR_NOT_FOUND;
    return VLA_OK;
}

#endif /* VLA_TINY_MODEL_H */
