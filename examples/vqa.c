/* vqa: answer a question about a picture.
 *
 *   build/vqa --model M.gguf [--adapter A.gguf [--task vqa]] IMAGE "question"
 *
 * One library call (vla_answer): the encoder reads the task prefix and the
 * question ("vqa: what is ..." for the single_* methods, the bare question
 * otherwise; at most 20 ids as the official VQA/GQA loaders cut it)
 * followed by the picture's visual tokens; the answer is decoded greedily
 * with max_length 20, as the official evaluation does.  Random-weight
 * models answer nonsense.
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
    int max_len = 0, i, w, h, ch, rc = 1;
    unsigned char *mfile = NULL, *afile = NULL, *px = NULL;
    void *mmem = NULL, *amem = NULL, *cmem = NULL;
    vla_model *m;
    vla_adapter *ad = NULL;
    vla_ctx *c;
    vla_task_sizes s;
    vla_gen_params g;
    vla_image pic;
    char answer[4096], err[160];
    vla_status st;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--model") && more) model_path = argv[++i];
        else if (!strcmp(a, "--adapter") && more) adapter_path = argv[++i];
        else if (!strcmp(a, "--task") && more) task = argv[++i];
        else if (!strcmp(a, "--max-length") && more) { if (!ex_int_flag(a, argv[++i], 2, 512, &max_len)) return 2; }
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "error: unknown option %s (or its value is missing)\n", a); usage(stderr); return 2; }
        else if (!image) image = a;
        else if (!question) question = a;
        else { fprintf(stderr, "error: unexpected argument '%s' (quote the question)\n", a); return 2; }
    }
    if (!model_path || !image || !question) { usage(stderr); return 2; }
    if (!(m = ex_load_model(model_path, &mfile, &mmem))) goto done;
    if (adapter_path && !(ad = ex_attach(m, adapter_path, &afile, &amem))) goto done;
    if (!(px = vla_example_load_image(image, &w, &h, &ch, err, sizeof err))) { fprintf(stderr, "error: %s\n", err); goto done; }
    memset(&s, 0, sizeof s);
    s.max_question_bytes = (int)strlen(question); s.max_picture_w = w; s.max_picture_h = h; s.max_length = max_len;
    if (!(c = ex_task_ctx(m, &s, (const vla_adapter *const *)&ad, ad ? 1 : 0, NULL, &cmem, NULL))) goto done;
    if (ad && vla_ctx_set_adapter(c, ad, task) != VLA_OK) {
        fprintf(stderr, "error: the adapter has no task '%s'; it has:", task);
        ex_list_tasks(ad);
        goto done;
    }
    g = vla_task_preset(c, VLA_TASK_ANSWER);
    if (max_len) g.max_length = max_len;
    vla_image_view(&pic, px, w, h, ch, 0);
    st = vla_answer(c, &pic, question, &g, answer, sizeof answer, NULL);
    if (st != VLA_OK && st != VLA_ERR_NOMEM) { fprintf(stderr, "error: %s\n", vla_status_str(st)); goto done; }
    ex_print_text(answer);
    rc = 0;
done:
    vla_example_free_image(px);
    free(cmem); free(amem); free(afile); free(mmem); free(mfile);
    return rc;
}
