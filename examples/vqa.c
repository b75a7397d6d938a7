/* vqa: answer a question about a picture.
 *
 *   build/vqa --model M.gguf [--adapter A.gguf [--task vqa]] IMAGE "question"
 *
 * The encoder reads the task prefix and the question ("vqa: what is ..." for
 * the single_* methods, the bare question otherwise) followed by the picture's
 * 36 visual tokens; the answer is decoded greedily with max_length 20, as the
 * official VQA evaluation does.  Random-weight models answer nonsense.
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "image_io.h"
#include "example_util.h"

static void usage(FILE *f) {
    fprintf(f, "usage: vqa --model M.gguf [--adapter A.gguf] [--task NAME] [--max-length N] IMAGE \"question\"\n");
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *adapter_path = NULL, *task = "vqa", *image = NULL, *question = NULL;
    int max_len = 0, i, n_ids = 0, width = 0, rc = 1;
    unsigned char *mfile = NULL, *afile = NULL;
    void *mmem = NULL, *amem = NULL, *cmem = NULL, *tmem = NULL;
    vla_model *m;
    vla_adapter *ad = NULL;
    const vla_tokenizer *tok;
    vla_str prefix;
    vla_gen_params g;
    vla_arena ta;
    int32_t ids[64], out[512];
    float *pic = NULL;
    char text[4096], answer[4096];
    size_t tl;
    vla_status st;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--model") && more) model_path = argv[++i];
        else if (!strcmp(a, "--adapter") && more) adapter_path = argv[++i];
        else if (!strcmp(a, "--task") && more) task = argv[++i];
        else if (!strcmp(a, "--max-length") && more) max_len = atoi(argv[++i]);
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "error: unknown option %s\n", a); usage(stderr); return 2; }
        else if (!image) image = a;
        else question = a;
    }
    if (!model_path || !image || !question) { usage(stderr); return 2; }
    if (!(m = ex_load_model(model_path, &mfile, &mmem))) goto done;
    tok = vla_model_tokenizer(m);
    if (!vla_model_hparams(m)->has_clip) { fprintf(stderr, "error: %s has no vision part (vla-convert --clip)\n", model_path); goto done; }
    if (!tok) { fprintf(stderr, "error: %s has no tokenizer (vla-convert --tokenizer)\n", model_path); goto done; }
    prefix.s = ""; prefix.n = 0;
    g = vla_gen_defaults(m);
    g.num_beams = 1;
    g.max_length = 20;
    if (adapter_path) {
        int t;
        if (!(ad = ex_attach(m, adapter_path, &afile, &amem))) goto done;
        if ((t = vla_adapter_find_task(ad, task)) < 0) { fprintf(stderr, "error: the adapter has no task '%s'\n", task); goto done; }
        vla_adapter_task(ad, t, NULL, &prefix, &g);
    }
    if (max_len > 0) g.max_length = max_len < 512 ? max_len : 512;
    /* "<prefix><question>", truncated to 20 ids with <s> and </s> (the VQA loader) */
    tl = (size_t)snprintf(text, sizeof text, "%.*s%s", (int)prefix.n, prefix.s, question);
    if (tl >= sizeof text) tl = sizeof text - 1;
    tmem = malloc(vla_tokenize_scratch_size(tl) + 2 * VLA_ALIGN);
    vla_arena_init(&ta, tmem, vla_tokenize_scratch_size(tl) + 2 * VLA_ALIGN);
    if ((st = vla_tokenize(tok, &ta, text, tl, 1, 1, 20, ids, 64, &n_ids)) != VLA_OK) {
        fprintf(stderr, "error: tokenizing the question: %s\n", vla_status_str(st));
        goto done;
    }
    for (i = 0; i < n_ids; i++)
        if (ids[i] >= vla_model_hparams(m)->vocab) { fprintf(stderr, "error: the question has tokens outside this model's vocabulary\n"); goto done; }
    if (!(pic = ex_load_picture(image, vla_model_hparams(m)->clip_image_size))) goto done;
    if (ex_generate(m, ad, task, NULL, ids, n_ids, pic, &g, out, &width, answer, sizeof answer, &cmem)) goto done;
    printf("%s\n", answer);
    rc = 0;
done:
    free(pic); free(cmem); free(tmem); free(amem); free(afile); free(mmem); free(mfile);
    return rc;
}
