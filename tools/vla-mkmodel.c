/* vla-mkmodel: random-weight model and adapter files of any shape, for tests,
 * benchmarks and the paper's parameter table (no download, seeded).
 *
 *   vla-mkmodel -o BASE.gguf [--preset bart-base|tiny] [shape options]
 *   vla-mkmodel --adapter METHOD --base BASE.gguf -o ADAPTER.gguf
 *
 * Shape options: --d-model --enc-layers --dec-layers --heads --ffn --vocab
 * --max-pos --feat-dim (0: no visual embedding) --n-boxes --seed.
 * --clip PATH adds a (real or fixture) CLIP trunk, --tokenizer DIR the
 * vocab.json/merges.txt tokenizer with VL-Adapter's 200 tokens, so small
 * demo models can run the examples end to end.
 * --clip-width W [--clip-layers A,B,C,D] adds a random CLIP ModifiedResNet
 * trunk instead (tools/vla_random.h: stem 3 -> W/2 -> W/2 -> W, bottlenecks
 * per stage, default 1,1,1,1; grid channels 32 W, which becomes --feat-dim
 * unless given), at --image-size (224; a multiple of 32, grid = size / 32).
 * --clip-designed makes that trunk's stem compute colour, objectness and
 * edge-orientation channels by design (the Shapes world's base model; width
 * >= 16; tools/vla_random.h), passed unchanged to the grid.
 * --no-repeat-ngram N sets the file's generation default
 * (vladapter.gen.no_repeat_ngram_size; BART's config says 3, 0 = off),
 * --max-length N vladapter.gen.max_length (20; the Shapes world's locate
 * lines need more).
 * METHOD: multiple_adapters half_shared_adapters single_adapter hyperformer
 * multiple_compacters single_compacter multiple_lora single_lora
 * multiple_prompts single_prompt (sizes as the paper's scripts).
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "vla_convert.h"
#define VLA_TOKCONV_IMPLEMENTATION
#include "vla_tokconv.h"
#define VLA_RANDOM_IMPLEMENTATION
#include "vla_random.h"

static void tok_arrays(void *user, vla_gguf_writer *w) { vla_tokconv_add((const vla_tokconv *)user, w); }

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f, "usage: vla-mkmodel -o BASE.gguf [--preset bart-base|tiny] [--d-model N] [--enc-layers N] [--dec-layers N]\n"
               "                   [--heads N] [--ffn N] [--vocab N] [--max-pos N] [--feat-dim N] [--n-boxes N] [--seed N]\n"
               "                   [--tokenizer DIR] [--clip CKPT | --clip-width W [--clip-layers A,B,C,D] [--clip-designed]]\n"
               "                   [--image-size N] [--no-repeat-ngram N] [--max-length N]\n"
               "       vla-mkmodel --adapter METHOD --base BASE.gguf -o ADAPTER.gguf [--seed N]\n"
               "METHOD: multiple_adapters half_shared_adapters single_adapter hyperformer multiple_compacters\n"
               "        single_compacter multiple_lora single_lora multiple_prompts single_prompt\n");
}

int main(int argc, char **argv) {
    const char *out = NULL, *method = NULL, *base = NULL, *clip = NULL, *tokdir = NULL;
    int image_size = 224, clip_width = 0, feat_dim_set = 0, no_repeat = -1, max_length = 0;
    vla_rand_clip rclip;
    vla_tokconv tc;
    vla_rand_bart r;
    vla_conv cv;
    int i, rc = 1;
    /* bart-base + VL-Adapter: 50265 + 200 tokens, CLIP RN101 grid of 2048 channels */
    r.d_model = 768; r.enc_layers = 6; r.dec_layers = 6; r.heads = 12; r.ffn = 3072; r.vocab = 50465; r.max_pos = 1024;
    r.feat_dim = 2048; r.n_boxes = 36; r.seed = 1;
    memset(&rclip, 0, sizeof rclip);
    rclip.layers[0] = rclip.layers[1] = rclip.layers[2] = rclip.layers[3] = 1;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "-o") && more) out = argv[++i];
        else if (!strcmp(a, "--adapter") && more) method = argv[++i];
        else if (!strcmp(a, "--base") && more) base = argv[++i];
        else if (!strcmp(a, "--preset") && more) {
            const char *p = argv[++i];
            if (!strcmp(p, "tiny")) { r.d_model = 32; r.enc_layers = 2; r.dec_layers = 2; r.heads = 4; r.ffn = 64; r.vocab = 300; r.max_pos = 64; r.feat_dim = 256; }
            else if (strcmp(p, "bart-base")) { fprintf(stderr, "vla-mkmodel: unknown preset '%s'\n", p); return 2; }
        }
        else if (!strcmp(a, "--d-model") && more) r.d_model = atoi(argv[++i]);
        else if (!strcmp(a, "--enc-layers") && more) r.enc_layers = atoi(argv[++i]);
        else if (!strcmp(a, "--dec-layers") && more) r.dec_layers = atoi(argv[++i]);
        else if (!strcmp(a, "--heads") && more) r.heads = atoi(argv[++i]);
        else if (!strcmp(a, "--ffn") && more) r.ffn = atoi(argv[++i]);
        else if (!strcmp(a, "--vocab") && more) r.vocab = atoi(argv[++i]);
        else if (!strcmp(a, "--max-pos") && more) r.max_pos = atoi(argv[++i]);
        else if (!strcmp(a, "--feat-dim") && more) { r.feat_dim = atoi(argv[++i]); feat_dim_set = 1; }
        else if (!strcmp(a, "--clip-width") && more) clip_width = atoi(argv[++i]);
        else if (!strcmp(a, "--clip-designed")) rclip.designed = 1;
        else if (!strcmp(a, "--clip-layers") && more) {
            if (sscanf(argv[++i], "%d,%d,%d,%d", &rclip.layers[0], &rclip.layers[1], &rclip.layers[2], &rclip.layers[3]) != 4) {
                fprintf(stderr, "vla-mkmodel: --clip-layers wants four counts A,B,C,D\n");
                return 2;
            }
        }
        else if (!strcmp(a, "--no-repeat-ngram") && more) no_repeat = atoi(argv[++i]);
        else if (!strcmp(a, "--max-length") && more) {
            max_length = atoi(argv[++i]);
            if (max_length < 2 || max_length > 4096) { fprintf(stderr, "vla-mkmodel: --max-length wants 2..4096\n"); return 2; }
        }
        else if (!strcmp(a, "--n-boxes") && more) r.n_boxes = atoi(argv[++i]);
        else if (!strcmp(a, "--seed") && more) r.seed = (uint64_t)strtoull(argv[++i], NULL, 10);
        else if (!strcmp(a, "--clip") && more) clip = argv[++i];
        else if (!strcmp(a, "--image-size") && more) image_size = atoi(argv[++i]);
        else if (!strcmp(a, "--tokenizer") && more) tokdir = argv[++i];
        else { fprintf(stderr, "vla-mkmodel: unknown or incomplete option '%s'\n", a); usage(stderr); return 2; }
    }
    if (!out) { usage(stderr); return 2; }
    if (rclip.designed && !clip_width) { fprintf(stderr, "vla-mkmodel: --clip-designed needs --clip-width\n"); return 2; }
    if (clip_width) {
        if (clip) { fprintf(stderr, "vla-mkmodel: --clip and --clip-width exclude each other\n"); return 2; }
        if (clip_width < 2 || clip_width % 2 || image_size < 32 || image_size % 32 || rclip.layers[0] < 1 || rclip.layers[1] < 1 ||
            rclip.layers[2] < 1 || rclip.layers[3] < 1) {
            fprintf(stderr, "vla-mkmodel: a random CLIP needs an even --clip-width, an --image-size that is a multiple of 32 and a block in every stage\n");
            return 2;
        }
        if (!feat_dim_set) r.feat_dim = 32 * clip_width;
        if (r.feat_dim != 32 * clip_width) {
            fprintf(stderr, "vla-mkmodel: a CLIP of width %d gives %d grid channels, not --feat-dim %d\n", clip_width, 32 * clip_width, r.feat_dim);
            return 2;
        }
    }
    if (r.d_model < 1 || r.heads < 1 || r.d_model % r.heads || r.enc_layers < 0 || r.dec_layers < 1 || r.ffn < 1 ||
        r.vocab < 8 || r.max_pos < 4 || r.feat_dim < 0 || r.n_boxes < 1 || r.n_boxes > r.vocab) {
        fprintf(stderr, "vla-mkmodel: inconsistent shape (d_model a multiple of heads, vocab >= n_boxes, ...)\n");
        return 2;
    }
    vla_conv_init(&cv);
    if (method) { /* an adapter file for an existing base */
        size_t n, need;
        char err[256];
        unsigned char *b;
        void *mem;
        vla_model *m = NULL;
        vla_rand_peft p;
        if (!base) { fprintf(stderr, "vla-mkmodel: --adapter needs --base BASE.gguf\n"); return 2; }
        b = vla_tool_read_file(base, &n, err, sizeof err);
        if (!b) { fprintf(stderr, "vla-mkmodel: %s\n", err); return 1; }
        if (vla_model_mem_req(b, n, &need) != VLA_OK || !(mem = malloc(need)) || vla_model_init(&m, mem, need, b, n, NULL) != VLA_OK) {
            fprintf(stderr, "vla-mkmodel: %s is not a loadable model file\n", base);
            free(b);
            return 1;
        }
        memset(&p, 0, sizeof p);
        p.method = method;
        p.d_model = vla_model_hparams(m)->d_model;
        p.enc_layers = vla_model_hparams(m)->n_enc_layers;
        p.dec_layers = vla_model_hparams(m)->n_dec_layers;
        p.reduction = 8; p.lora_r = 128; p.prompt_len = 40; p.prompt_mid = 800;
        p.hyper_task_dim = 512; p.hyper_hidden = 128; p.hyper_dp = 8; p.phm_k = 2;
        if (p.d_model < 64) { p.lora_r = 4; p.prompt_len = 6; p.prompt_mid = 24; p.hyper_task_dim = 64; p.hyper_hidden = 32; }
        p.seed = r.seed;
        cv.quiet = 1;
        if (vla_conv_random_peft(&cv, &p) != 0) { fprintf(stderr, "vla-mkmodel: %s\n", cv.err); free(mem); free(b); vla_conv_free(&cv); return 1; }
        cv.base_fingerprint = vla_model_fingerprint(m);
        rc = vla_conv_write(&cv, out) == 0 ? 0 : 1;
        if (rc) fprintf(stderr, "vla-mkmodel: %s\n", cv.err);
        free(mem);
        free(b);
    } else {
        fprintf(stderr, "vla-mkmodel: random BART d=%d layers=%d+%d heads=%d ffn=%d vocab=%d visual=%d\n", r.d_model,
                r.enc_layers, r.dec_layers, r.heads, r.ffn, r.vocab, r.feat_dim);
        memset(&tc, 0, sizeof tc);
        if (clip) {
            vla_ckpt k;
            char err[512];
            if (vla_ckpt_open(&k, clip, NULL, err, sizeof err) != 0 || vla_conv_clip(&cv, k.src, k.n, image_size) != 0) {
                fprintf(stderr, "vla-mkmodel: %s: %s\n", clip, cv.err[0] ? cv.err : err);
                vla_conv_free(&cv);
                return 1;
            }
            vla_ckpt_close(&k);
        } else if (clip_width) {
            rclip.width = clip_width; rclip.image_size = image_size; rclip.seed = r.seed;
            fprintf(stderr, "vla-mkmodel: random CLIP width=%d blocks=%d,%d,%d,%d image=%d grid=%dx%d channels=%d\n", clip_width,
                    rclip.layers[0], rclip.layers[1], rclip.layers[2], rclip.layers[3], image_size, image_size / 32, image_size / 32, 32 * clip_width);
            if (vla_random_clip(&cv, &rclip) != 0) { fprintf(stderr, "vla-mkmodel: %s\n", cv.err); vla_conv_free(&cv); return 1; }
        }
        if (vla_conv_random_bart(&cv, &r) != 0) { fprintf(stderr, "vla-mkmodel: %s\n", cv.err); vla_conv_free(&cv); return 1; }
        if (no_repeat >= 0) vla_conv_u32(&cv, "vladapter.gen.no_repeat_ngram_size", (uint32_t)no_repeat);
        if (max_length) vla_conv_u32(&cv, "vladapter.gen.max_length", (uint32_t)max_length);
        if (tokdir) {
            char vp[4096], mp[4096], err[512];
            snprintf(vp, sizeof vp, "%s/vocab.json", tokdir);
            snprintf(mp, sizeof mp, "%s/merges.txt", tokdir);
            if (vla_tokconv_load(&tc, vp, mp, 1, err, sizeof err) != 0) { fprintf(stderr, "vla-mkmodel: %s\n", err); vla_conv_free(&cv); return 1; }
            if (tc.n_tokens != r.vocab) fprintf(stderr, "vla-mkmodel: warning: %d tokens but --vocab %d\n", tc.n_tokens, r.vocab);
            cv.add_arrays = tok_arrays; cv.add_arrays_user = &tc; cv.n_array_kv = VLA_TOKCONV_N_KV;
        }
        cv.fingerprint = vla_conv_fingerprint(&cv);
        rc = vla_conv_write(&cv, out) == 0 ? 0 : 1;
        if (rc) fprintf(stderr, "vla-mkmodel: %s\n", cv.err);
        if (tokdir) vla_tokconv_free(&tc);
    }
    vla_conv_free(&cv);
    return rc;
}
