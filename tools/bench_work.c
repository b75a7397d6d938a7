/* bench_work.c - the work of one caption at the benchmark shapes, counted
 * from the model's layer shapes: multiply-adds (MACs) of the CLIP trunk, the
 * BART encoder and each greedy decode step, and the weight bytes a decode
 * step streams.  Read by tools/bench.sh (figures as fractions of the
 * measured peaks) and tools/pi_estimate.sh (the Raspberry Pi estimate).
 *
 *   cc -std=c99 -O2 tools/bench_work.c -o build/bench_work
 *   build/bench_work [--steps N]      "key value" lines, one a line
 *
 * Shapes: the defaults and BENCH_* variables of tools/bench_model.c
 * (BENCH_D_MODEL 768, BENCH_HEADS unused here, BENCH_ENC_LAYERS 6,
 * BENCH_DEC_LAYERS 6, BENCH_FFN 3072, BENCH_VOCAB 50465, BENCH_TEXT 10,
 * BENCH_GRID 7 (36 boxes), BENCH_FEAT 32 * width, BENCH_GEN 20,
 * BENCH_CLIP_LAYERS 3,4,23,3, BENCH_CLIP_WIDTH 64, BENCH_IMAGE 224).
 * --steps: decode steps (default BENCH_GEN - 1, as bench_model decodes).
 *
 * What is counted (MACs; a MAC is 2 flops):
 *   clip_macs     every convolution of the trunk (3-conv stem, bottlenecks
 *                 with their 1x1 / 3x3 / 1x1 and downsample convolutions), up
 *                 to the 7x7x2048 grid; pools, ReLUs and adds are not MACs
 *   enc_macs      the visual projection (boxes x feat x d, + the 5-wide box
 *                 projection), per encoder layer 4 L d^2 (q k v o) + 2 L d ffn
 *                 + 2 L^2 d (scores and values), and the decoder's cross-
 *                 attention keys and values, 2 L d^2 per decoder layer,
 *                 computed once per encode
 *   dec_macs      the sum over the steps of one row's decode: per layer
 *                 6 d^2 (self q k v o, cross q o) + 2 d ffn + 2 (t + 1) d
 *                 (self-attention over t + 1 positions) + 2 L d (cross), and
 *                 the tied LM head V d
 *   dec_weight_bytes_per_step   fp32 bytes of the weight matrices one step
 *                 reads: per layer 6 d^2 + 2 d ffn, plus the LM head V d
 *                 (biases and LayerNorms add < 0.1%)
 * and for the I8 model (tools/vla_quant.h: the BART matrices, the visual
 * projection, the token embedding / LM head and every CLIP convolution but
 * the stem's first are int8 with one F32 scale per row; LayerNorms, biases,
 * final_logits_bias, the position tables and the 5-wide box projection stay
 * F32):
 *   clip_macs_int8  clip_macs without the stem's first convolution (3 input
 *                 channels, kept F32): the MACs on int8 weights
 *   enc_macs_int8   the encode MACs on int8 weights: enc_macs without the
 *                 box projection (F32) and the attention scores and values
 *                 (activations times activations, fp32)
 *   dec_macs_int8   the same of dec_macs: the matrices and the LM head
 *   dec_weight_bytes_per_step_i8   every byte of the I8 file one decode
 *                 step reads, exactly: per decoder layer the int8 matrices
 *                 (6 d^2 + 2 d ffn), their scales (one F32 per row: 6 d +
 *                 ffn + d), the biases (6 d + ffn + d F32: self q k v out,
 *                 cross q out, fc1, fc2) and three LayerNorms (6 d F32); the
 *                 LM head V d int8 + V scales, final_logits_bias (V F32), the
 *                 decoder's layernorm_embedding (2 d F32) and one position
 *                 row (d F32).  The cross-attention key / value projections
 *                 are not read per step (computed once per encode).
 *                 bench_model writes the same sum, taken from the I8 file's
 *                 tensors, as bart_i8 dec_bytes_per_step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long env_int(const char *name, long dflt) {
    const char *v = getenv(name);
    char *end;
    long x;
    if (!v || !*v) return dflt;
    x = strtol(v, &end, 10);
    return *end || x < 0 ? dflt : x;
}

int main(int argc, char **argv) {
    long d = env_int("BENCH_D_MODEL", 768), el = env_int("BENCH_ENC_LAYERS", 6), dl = env_int("BENCH_DEC_LAYERS", 6);
    long ffn = env_int("BENCH_FFN", 3072), V = env_int("BENCH_VOCAB", 50465), text = env_int("BENCH_TEXT", 10);
    long width = env_int("BENCH_CLIP_WIDTH", 64), S = env_int("BENCH_IMAGE", 224);
    long grid = env_int("BENCH_GRID", S / 32), feat = env_int("BENCH_FEAT", 32 * width);
    long steps = env_int("BENCH_GEN", 20) - 1, layers[4] = {3, 4, 23, 3};
    long boxes = (grid - 1) * (grid - 1), L = text + boxes;
    double clip = 0.0, enc, dec = 0.0, wbytes, H, inpl, stem1, enc8, dec8 = 0.0, wbytes8;
    int si, bi, i;
    const char *cl = getenv("BENCH_CLIP_LAYERS");
    if (cl && *cl && sscanf(cl, "%ld,%ld,%ld,%ld", &layers[0], &layers[1], &layers[2], &layers[3]) != 4) {
        fprintf(stderr, "bench_work: BENCH_CLIP_LAYERS=%s is not four numbers: using 3,4,23,3\n", cl);
        layers[0] = 3; layers[1] = 4; layers[2] = 23; layers[3] = 3;
    }
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atol(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--steps N]\n", argv[0]);
            return 2;
        }
    }

    /* CLIP trunk, [H, H, C] activations; a k x k conv Cin -> Cout at output
     * size Ho costs Ho^2 k^2 Cin Cout MACs */
    H = (double)(S / 2);
    stem1 = H * H * 9.0 * 3 * (width / 2);
    clip += stem1;                                         /* stem conv1, stride 2 (F32 in the I8 file) */
    clip += H * H * 9.0 * (width / 2) * (width / 2);       /* stem conv2 */
    clip += H * H * 9.0 * (width / 2) * width;             /* stem conv3, then avgpool 2 */
    H /= 2;
    inpl = (double)width;
    for (si = 0; si < 4; si++) {
        double planes = (double)(width << si);
        for (bi = 0; bi < layers[si]; bi++) {
            int s = (bi == 0 && si > 0) ? 2 : 1;
            double Ho = H / s;
            clip += H * H * inpl * planes;                 /* conv1 1x1 */
            clip += H * H * 9.0 * planes * planes;         /* conv2 3x3, then avgpool s */
            clip += Ho * Ho * planes * 4.0 * planes;       /* conv3 1x1 */
            if (s > 1 || inpl != 4.0 * planes) clip += Ho * Ho * inpl * 4.0 * planes; /* downsample */
            inpl = 4.0 * planes;
            H = Ho;
        }
    }

    /* BART encoder over L = text + boxes tokens */
    enc = (double)boxes * feat * d + (double)boxes * 5 * d;
    enc += (double)el * (4.0 * L * d * d + 2.0 * L * d * ffn + 2.0 * L * L * d);
    enc += (double)dl * 2.0 * L * d * d;
    enc8 = (double)boxes * feat * d + (double)el * (4.0 * L * d * d + 2.0 * L * d * ffn) + (double)dl * 2.0 * L * d * d;

    /* greedy decode, one row, steps t = 0 .. steps-1 */
    for (i = 0; i < steps; i++)
        dec += (double)dl * (6.0 * d * d + 2.0 * d * ffn + 2.0 * (i + 1) * d + 2.0 * L * d) + (double)V * d;
    wbytes = 4.0 * ((double)dl * (6.0 * d * d + 2.0 * d * ffn) + (double)V * d);
    dec8 = (double)steps * ((double)dl * (6.0 * d * d + 2.0 * d * ffn) + (double)V * d);
    wbytes8 = (double)dl * (6.0 * d * d + 2.0 * d * ffn + 4.0 * (7.0 * d + ffn) + 4.0 * (7.0 * d + ffn) + 4.0 * 6.0 * d) +
              (double)V * d + 4.0 * V + 4.0 * V + 4.0 * 2.0 * d + 4.0 * d;

    printf("clip_macs %.0f\n", clip);
    printf("enc_macs %.0f\n", enc);
    printf("enc_tokens %ld\n", L);
    printf("dec_steps %ld\n", steps);
    printf("dec_macs %.0f\n", dec);
    printf("dec_weight_bytes_per_step %.0f\n", wbytes);
    printf("caption_macs %.0f\n", clip + enc + dec);
    printf("clip_macs_int8 %.0f\n", clip - stem1);
    printf("enc_macs_int8 %.0f\n", enc8);
    printf("dec_macs_int8 %.0f\n", dec8);
    printf("dec_weight_bytes_per_step_i8 %.0f\n", wbytes8);
    return 0;
}
