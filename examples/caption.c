/* caption: describe a picture with a CLIP-BART model.
 *
 *   build/caption --model M.gguf [--adapter A.gguf [--task caption]] IMAGE
 *
 * The picture goes through the official preprocessing (squash to S x S with
 * Pillow's bicubic, CLIP's mean/std), the CLIP trunk, the visual embedding and
 * BART; the caption is decoded with beam search (5 beams, max_length 20: the
 * paper's COCO settings) unless an adapter task's preset or the options say
 * otherwise.  A model made from random weights (tools/vla-mkmodel, or the test
 * fixtures) captions in real words but says nonsense: that is expected.
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "image_io.h"
#define VLA_THREADS_IMPLEMENTATION
#include "vla_threads.h"
#include "example_util.h"

static void usage(FILE *f) {
    fprintf(f, "usage: caption --model M.gguf [--adapter A.gguf] [--task NAME] [--beams N] [--max-length N]\n"
               "               [--threads N] [--ids] IMAGE\n"
               "  IMAGE: PNG/JPEG/... when built with stb_image, binary PPM/PGM always\n");
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *adapter_path = NULL, *task = "caption", *image = NULL;
    int beams = 0, max_len = 0, threads = 1, show_ids = 0, i, n_ids = 0, width = 0, rc = 1;
    unsigned char *mfile = NULL, *afile = NULL;
    void *mmem = NULL, *amem = NULL, *cmem = NULL, *tmem = NULL;
    vla_model *m;
    vla_adapter *ad = NULL;
    const vla_hparams *hp;
    const vla_tokenizer *tok;
    vla_str prefix;
    vla_gen_params g;
    vla_exec exec;
    vla_arena ta;
    vla_threadpool pool;
    int32_t ids[64], out[512];
    float *pic = NULL;
    char text[4096];
    vla_status st;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--model") && more) model_path = argv[++i];
        else if (!strcmp(a, "--adapter") && more) adapter_path = argv[++i];
        else if (!strcmp(a, "--task") && more) task = argv[++i];
        else if (!strcmp(a, "--beams") && more) beams = atoi(argv[++i]);
        else if (!strcmp(a, "--max-length") && more) max_len = atoi(argv[++i]);
        else if (!strcmp(a, "--threads") && more) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--ids")) show_ids = 1;
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "error: unknown option %s\n", a); usage(stderr); return 2; }
        else image = a;
    }
    if (!model_path || !image) { usage(stderr); return 2; }
    if (!(m = ex_load_model(model_path, &mfile, &mmem))) goto done;
    hp = vla_model_hparams(m);
    tok = vla_model_tokenizer(m);
    if (!hp->has_clip || !hp->has_visual) {
        fprintf(stderr, "error: %s has no vision part (convert it with vla-convert --clip RN101.pt)\n", model_path);
        goto done;
    }
    if (!tok) { fprintf(stderr, "error: %s has no tokenizer (convert it with vla-convert --tokenizer DIR)\n", model_path); goto done; }
    /* the task's text prefix ("caption: " for the single_* methods) and preset */
    prefix.s = ""; prefix.n = 0;
    g = vla_gen_defaults(m);
    g.num_beams = 5;
    g.max_length = 20;
    if (adapter_path) {
        int t;
        if (!(ad = ex_attach(m, adapter_path, &afile, &amem))) goto done;
        if ((t = vla_adapter_find_task(ad, task)) < 0) {
            fprintf(stderr, "error: the adapter has no task '%s'; it has:", task);
            for (t = 0; t < vla_adapter_n_tasks(ad); t++) { vla_str nm; vla_adapter_task(ad, t, &nm, NULL, NULL); fprintf(stderr, " %.*s", (int)nm.n, nm.s); }
            fprintf(stderr, "\n");
            goto done;
        }
        vla_adapter_task(ad, t, NULL, &prefix, &g);
    }
    if (beams > 0) g.num_beams = beams;
    if (max_len > 0) g.max_length = max_len;
    if (g.max_length > 512) g.max_length = 512;
    /* text input: encode(prefix) = <s> prefix </s> */
    tmem = malloc(vla_tokenize_scratch_size(prefix.n) + 2 * VLA_ALIGN);
    vla_arena_init(&ta, tmem, vla_tokenize_scratch_size(prefix.n) + 2 * VLA_ALIGN);
    if ((st = vla_tokenize(tok, &ta, prefix.s, prefix.n, 1, 1, 40, ids, 64, &n_ids)) != VLA_OK) {
        fprintf(stderr, "error: tokenizing the prefix: %s\n", vla_status_str(st));
        goto done;
    }
    if (!(pic = ex_load_picture(image, hp->clip_image_size))) goto done;
    /* a context for one picture, sized before anything runs */
    if (threads > 1 && vla_threadpool_init(&pool, threads) == 0) vla_threadpool_exec(&pool, &exec);
    else threads = 1;
    if (ex_generate(m, ad, task, threads > 1 ? &exec : NULL, ids, n_ids, pic, &g, out, &width, text, sizeof text, &cmem))
        goto done;
    if (show_ids) {
        printf("ids:");
        for (i = 0; i < width; i++) printf(" %d", out[i]);
        printf("\n");
    }
    printf("%s\n", text);
    rc = 0;
done:
    if (threads > 1) vla_threadpool_destroy(&pool);
    free(pic); free(cmem); free(tmem); free(amem); free(afile); free(mmem); free(mfile);
    return rc;
}
