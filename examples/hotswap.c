/* hotswap: one base model, two adapter files, requests alternating between
 * them (and their tasks) without reloading anything.
 *
 *   build/hotswap --model BASE.gguf --adapter A.gguf --adapter B.gguf [--rounds N] IMAGE ["question"]
 *
 * Both adapter sets are attached once, each into its own slot sized by
 * vla_adapter_mem_req; the base weights are shared and never copied.  One
 * context, sized for both sets (vla_task_ctx_params), serves every request:
 * each picks a set and a task with vla_ctx_set_adapter and runs that task's
 * call: vla_caption for "caption", vla_verify for "nlvr" (the picture on
 * both sides: true/false from the official logit rule), vla_answer for the
 * others.  Prefixes ("vqa: ", "caption: ") and presets (greedy for VQA,
 * 5 beams for captions) come from the adapter file.
 */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "image_io.h"
#include "example_util.h"
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void usage(FILE *f) {
    fprintf(f, "usage: hotswap --model BASE.gguf --adapter A.gguf --adapter B.gguf [--rounds N] IMAGE [\"question\"]\n");
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *paths[2] = {NULL, NULL}, *image = NULL, *question = "what is this?";
    int n_ad = 0, rounds = 4, i, r, w, h, ch, rc = 1;
    unsigned char *mfile = NULL, *afile[2] = {NULL, NULL}, *px = NULL;
    void *mmem = NULL, *amem[2] = {NULL, NULL}, *cmem = NULL;
    vla_model *m;
    vla_adapter *ad[2] = {NULL, NULL};
    vla_ctx *c;
    vla_task_sizes s;
    vla_image pic;
    size_t need = 0;
    char err[160];
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--model") && more) model_path = argv[++i];
        else if (!strcmp(a, "--adapter") && more) {
            if (n_ad == 2) { fprintf(stderr, "error: two --adapter files, not more\n"); return 2; }
            paths[n_ad++] = argv[++i];
        } else if (!strcmp(a, "--rounds") && more) { if (!ex_int_flag(a, argv[++i], 1, 1000000, &rounds)) return 2; }
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "error: unknown option %s (or its value is missing)\n", a); usage(stderr); return 2; }
        else if (!image) image = a;
        else question = a;
    }
    if (!model_path || n_ad != 2 || !image) { usage(stderr); return 2; }
    if (!(m = ex_load_model(model_path, &mfile, &mmem))) goto done;
    for (i = 0; i < 2; i++) { /* one slot each */
        double t0 = now_ms();
        if (!(ad[i] = ex_attach(m, paths[i], &afile[i], &amem[i]))) goto done;
        printf("attached %s: method %s, %d tasks, %.2f ms\n", paths[i], vla_adapter_method(ad[i]), vla_adapter_n_tasks(ad[i]), now_ms() - t0);
    }
    if (!(px = vla_example_load_image(image, &w, &h, &ch, err, sizeof err))) { fprintf(stderr, "error: %s\n", err); goto done; }
    vla_image_view(&pic, px, w, h, ch, 0);
    /* one context for both sets: their prompts, widths, prefixes and presets */
    memset(&s, 0, sizeof s);
    s.max_question_bytes = (int)strlen(question); s.max_pictures = 2; s.max_picture_w = w; s.max_picture_h = h;
    if (!(c = ex_task_ctx(m, &s, (const vla_adapter *const *)ad, 2, NULL, &cmem, &need))) goto done;
    printf("context: %zu bytes, fixed for every request\n", need);
    for (r = 0; r < rounds; r++) {
        int k = r % 2, t = (r / 2) % vla_adapter_n_tasks(ad[k]);
        vla_str name = {"", 0};
        vla_gen_params g;
        char tn[64], ans[4096];
        vla_status st;
        double t0;
        vla_adapter_task(ad[k], t, &name, NULL, NULL);
        snprintf(tn, sizeof tn, "%.*s", (int)name.n, name.s);
        t0 = now_ms();
        st = vla_ctx_set_adapter(c, ad[k], tn);
        g = vla_task_preset(c, strcmp(tn, "caption") ? VLA_TASK_ANSWER : VLA_TASK_CAPTION);
        if (st == VLA_OK && !strcmp(tn, "caption")) st = vla_caption(c, &pic, NULL, ans, sizeof ans, NULL);
        else if (st == VLA_OK && !strcmp(tn, "nlvr")) {
            vla_verdict v;
            st = vla_verify(c, &pic, &pic, question, &v);
            snprintf(ans, sizeof ans, " %s (true %.3f, false %.3f)", v.is_true ? "true" : "false", (double)v.true_logit,
                     (double)v.false_logit);
            g.num_beams = 0; /* no generation */
        } else if (st == VLA_OK) st = vla_answer(c, &pic, question, NULL, ans, sizeof ans, NULL);
        if (st != VLA_OK && st != VLA_ERR_NOMEM) /* this request failed (the log said why); the next may not */
            snprintf(ans, sizeof ans, " error: %s", vla_status_str(st));
        printf("[%d] %-10s %-8s beams=%d  %7.1f ms  peak %zu B  ->%s\n", r, vla_adapter_method(ad[k]), tn, g.num_beams,
               now_ms() - t0, vla_ctx_stats(c).peak, ans);
    }
    rc = 0;
done:
    vla_example_free_image(px);
    free(cmem); free(amem[0]); free(amem[1]); free(afile[0]); free(afile[1]); free(mmem); free(mfile);
    return rc;
}
