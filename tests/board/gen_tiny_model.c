/* gen_tiny_model.c - writes the GGUF of the tiny end-to-end test model.
 *
 *   gen_tiny_model OUT.gguf
 *
 * Runs on the build machine.  The weights come from a fixed pseudo-random
 * sequence, so the file is the same on every host.  The output of the model
 * for its stored token ids, computed here with the scalar reference kernels,
 * is stored in the file as the tensor "expected.out"; the target recomputes
 * it with its own (SIMD) kernels and compares.  See tiny_model.h.
 */
#define VLADAPTER_IMPLEMENTATION
#include "../../vladapter.h"

#include <stdio.h>
#include <string.h>

#include "tiny_model.h"

static unsigned char arena_mem[1 << 20];
static uint32_t rng_state = 0x9e3779b9u;

/* Uniform in [-1, 1), from a 32-bit LCG (top 24 bits). */
static float frand(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return (float)(rng_state >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

static vla_status write_file(void *user, const void *data, size_t n) {
    return fwrite(data, 1, n, (FILE *)user) == n ? VLA_OK : VLA_ERR_IO;
}

int main(int argc, char **argv) {
    static float emb_f[TINY_VOCAB * TINY_D_IN], l1[TINY_D * TINY_D_IN], l1_b[TINY_D], ln_g[TINY_D], ln_b[TINY_D];
    static float l2_f[TINY_D2 * TINY_D], l2_b[TINY_D2], l3_f[TINY_D_OUT * TINY_D2], out[TINY_T * TINY_D_OUT];
    static uint16_t emb[TINY_VOCAB * TINY_D_IN], l3[TINY_D_OUT * TINY_D2];
    static unsigned char l2[TINY_D2 * TINY_D / VLA_Q8_0_BLOCK * VLA_Q8_0_BYTES];
    static const int32_t ids[TINY_T] = {3, 7, 0};
    vla_arena a;
    vla_gguf_writer w;
    tiny_weights tw;
    vla_status st;
    int64_t ne[2];
    FILE *f;
    int i;

    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.gguf\n", argv[0]);
        return 2;
    }
    for (i = 0; i < TINY_VOCAB * TINY_D_IN; i++) emb_f[i] = frand();
    for (i = 0; i < TINY_VOCAB * TINY_D_IN; i++) emb[i] = vla_fp32_to_fp16(emb_f[i]);
    for (i = 0; i < TINY_D * TINY_D_IN; i++) l1[i] = frand() * 0.3f;
    for (i = 0; i < TINY_D; i++) { l1_b[i] = frand() * 0.1f; ln_g[i] = 1.0f + 0.2f * frand(); ln_b[i] = 0.1f * frand(); }
    for (i = 0; i < TINY_D2 * TINY_D; i++) l2_f[i] = frand() * 0.4f;
    vla_quantize_q8_0(l2, l2_f, (size_t)TINY_D2 * TINY_D);
    for (i = 0; i < TINY_D2; i++) l2_b[i] = 0.2f * frand();
    for (i = 0; i < TINY_D_OUT * TINY_D2; i++) l3_f[i] = frand() * 0.5f;
    for (i = 0; i < TINY_D_OUT * TINY_D2; i++) l3[i] = vla_fp32_to_fp16(l3_f[i]);

    memset(&tw, 0, sizeof tw);
    tw.emb.type = VLA_TYPE_F16; tw.emb.rows = TINY_VOCAB; tw.emb.cols = TINY_D_IN; tw.emb.data = emb;
    tw.l1.type = VLA_TYPE_F32; tw.l1.rows = TINY_D; tw.l1.cols = TINY_D_IN; tw.l1.data = l1;
    tw.l2.type = VLA_TYPE_Q8_0; tw.l2.rows = TINY_D2; tw.l2.cols = TINY_D; tw.l2.data = l2;
    tw.l3.type = VLA_TYPE_F16; tw.l3.rows = TINY_D_OUT; tw.l3.cols = TINY_D2; tw.l3.data = l3;
    tw.l1_b = l1_b; tw.ln_g = ln_g; tw.ln_b = ln_b; tw.l2_b = l2_b;
    memcpy(tw.ids, ids, sizeof ids);
    tw.eps = 1e-5f;

    vla_arena_init(&a, arena_mem, sizeof arena_mem);
    st = tiny_forward(&tw, NULL, &a, out); /* NULL exec: reference kernels */
    if (st != VLA_OK) { fprintf(stderr, "forward: %s\n", vla_status_str(st)); return 1; }

    if (vla_gguf_writer_init(&w, &a, 8, 12, TINY_ALIGN) != VLA_OK) return 1;
    vla_gguf_add_str(&w, "general.architecture", TINY_ARCH, strlen(TINY_ARCH));
    vla_gguf_add_str(&w, "general.name", "tiny end-to-end test model", strlen("tiny end-to-end test model"));
    vla_gguf_add_f32(&w, "vladapter.tiny.eps", tw.eps);
    vla_gguf_add_arr(&w, "vladapter.tiny.ids", VLA_GGUF_I32, ids, TINY_T);
    ne[0] = TINY_D_IN; ne[1] = TINY_VOCAB; vla_gguf_add_tensor(&w, "tok_embd.weight", VLA_TYPE_F16, 2, ne, emb);
    ne[0] = TINY_D_IN; ne[1] = TINY_D;     vla_gguf_add_tensor(&w, "l1.weight", VLA_TYPE_F32, 2, ne, l1);
    ne[0] = TINY_D;                        vla_gguf_add_tensor(&w, "l1.bias", VLA_TYPE_F32, 1, ne, l1_b);
    ne[0] = TINY_D;                        vla_gguf_add_tensor(&w, "ln.weight", VLA_TYPE_F32, 1, ne, ln_g);
    ne[0] = TINY_D;                        vla_gguf_add_tensor(&w, "ln.bias", VLA_TYPE_F32, 1, ne, ln_b);
    ne[0] = TINY_D; ne[1] = TINY_D2;       vla_gguf_add_tensor(&w, "l2.weight", VLA_TYPE_Q8_0, 2, ne, l2);
    ne[0] = TINY_D2;                       vla_gguf_add_tensor(&w, "l2.bias", VLA_TYPE_F32, 1, ne, l2_b);
    ne[0] = TINY_D2; ne[1] = TINY_D_OUT;   vla_gguf_add_tensor(&w, "l3.weight", VLA_TYPE_F16, 2, ne, l3);
    ne[0] = TINY_D_OUT; ne[1] = TINY_T;    vla_gguf_add_tensor(&w, "expected.out", VLA_TYPE_F32, 2, ne, out);
    if (w.err != VLA_OK) { fprintf(stderr, "writer: %s\n", vla_status_str(w.err)); return 1; }

    f = fopen(argv[1], "wb");
    if (!f) { perror(argv[1]); return 1; }
    st = vla_gguf_write(&w, write_file, f);
    if (fclose(f) != 0 && st == VLA_OK) st = VLA_ERR_IO;
    if (st != VLA_OK) { fprintf(stderr, "%s: %s\n", argv[1], vla_status_str(st)); remove(argv[1]); return 1; }
    printf("%s: %llu bytes, %d tensors\n", argv[1], (unsigned long long)vla_gguf_writer_size(&w), w.n_t);
    return 0;
}
