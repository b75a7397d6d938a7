/* caption: describe a picture with a CLIP-BART model.
 *
 *   build/caption --model M.gguf [--adapter A.gguf [--task caption]] IMAGE
 *
 * One library call does the work (vla_caption): the official preprocessing
 * (squash to S x S with Pillow's bicubic, CLIP's mean/std), the CLIP trunk,
 * the visual embedding and BART, decoded with the task's preset (5 beams,
 * max_length 20: the paper's COCO settings) unless the options say
 * otherwise.  A model made from random weights (tools/vla-mkmodel, or the
 * test fixtures) captions in real words but says nonsense: that is expected.
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
    int beams = 0, max_len = 0, threads = 1, show_ids = 0, i, w, h, ch, n, rc = 1;
    unsigned char *mfile = NULL, *afile = NULL, *px = NULL;
    void *mmem = NULL, *amem = NULL, *cmem = NULL;
    vla_model *m;
    vla_adapter *ad = NULL;
    vla_ctx *c;
    vla_task_sizes s;
    vla_gen_params g;
    vla_image pic;
    vla_exec exec;
    vla_threadpool pool;
    const int32_t *ids;
    char text[4096], err[160];
    vla_status st;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--model") && more) model_path = argv[++i];
        else if (!strcmp(a, "--adapter") && more) adapter_path = argv[++i];
        else if (!strcmp(a, "--task") && more) task = argv[++i];
        else if (!strcmp(a, "--beams") && more) { if (!ex_int_flag(a, argv[++i], 1, 64, &beams)) return 2; }
        else if (!strcmp(a, "--max-length") && more) { if (!ex_int_flag(a, argv[++i], 2, 512, &max_len)) return 2; }
        else if (!strcmp(a, "--threads") && more) { if (!ex_int_flag(a, argv[++i], 1, 256, &threads)) return 2; }
        else if (!strcmp(a, "--ids")) show_ids = 1;
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "error: unknown option %s (or its value is missing)\n", a); usage(stderr); return 2; }
        else if (!image) image = a;
        else { fprintf(stderr, "error: one picture only (%s, %s)\n", image, a); return 2; }
    }
    if (!model_path || !image) { usage(stderr); return 2; }
    if (!(m = ex_load_model(model_path, &mfile, &mmem))) goto done;
    if (adapter_path && !(ad = ex_attach(m, adapter_path, &afile, &amem))) goto done;
    if (!(px = vla_example_load_image(image, &w, &h, &ch, err, sizeof err))) { fprintf(stderr, "error: %s\n", err); goto done; }
    memset(&exec, 0, sizeof exec); /* fast fp32 kernels; the pool fills in the rest */
    if (threads > 1 && vla_threadpool_init(&pool, threads) == 0) vla_threadpool_exec(&pool, &exec);
    else threads = 1;
    /* a context for this picture's size, the adapter's tasks and the decoding asked for */
    memset(&s, 0, sizeof s);
    s.max_picture_w = w; s.max_picture_h = h; s.max_beams = beams; s.max_length = max_len;
    if (!(c = ex_task_ctx(m, &s, (const vla_adapter *const *)&ad, ad ? 1 : 0, threads > 1 ? &exec : NULL, &cmem, NULL))) goto done;
    if (ad && vla_ctx_set_adapter(c, ad, task) != VLA_OK) {
        fprintf(stderr, "error: the adapter has no task '%s'; it has:", task);
        ex_list_tasks(ad);
        goto done;
    }
    g = vla_task_preset(c, VLA_TASK_CAPTION);
    if (beams) g.num_beams = beams;
    if (max_len) g.max_length = max_len;
    vla_image_view(&pic, px, w, h, ch, 0);
    st = vla_caption(c, &pic, &g, text, sizeof text, NULL);
    if (st != VLA_OK && st != VLA_ERR_NOMEM) { fprintf(stderr, "error: %s\n", vla_status_str(st)); goto done; }
    if (show_ids) {
        ids = vla_task_ids(c, 1, &n);
        printf("ids:");
        for (i = 0; i < n; i++) printf(" %d", ids[i]);
        printf("\n");
    }
    ex_print_text(text);
    rc = 0;
done:
    if (threads > 1) vla_threadpool_destroy(&pool);
    vla_example_free_image(px);
    free(cmem); free(amem); free(afile); free(mmem); free(mfile);
    return rc;
}
