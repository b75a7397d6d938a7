/* hotswap: one base model, two adapter files, requests alternating between
 * them (and their tasks) without reloading anything.
 *
 *   build/hotswap --model BASE.gguf --adapter A.gguf --adapter B.gguf [--rounds N] IMAGE ["question"]
 *
 * Both adapter sets are attached once, each into its own slot sized by
 * vla_adapter_mem_req; the base weights are shared and never copied.  Each
 * request picks a set and a task with vla_ctx_set_adapter: the task's text
 * prefix ("vqa: ", "caption: ") and decoding preset (greedy for VQA, 5 beams
 * for captions) come from the adapter file.
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

int main(int argc, char **argv) {
    const char *model_path = NULL, *paths[2] = {NULL, NULL}, *image = NULL, *question = "what is this?";
    int n_ad = 0, rounds = 4, i, r, rc = 1;
    unsigned char *mfile = NULL, *afile[2] = {NULL, NULL};
    void *mmem = NULL, *amem[2] = {NULL, NULL}, *cmem = NULL, *tmem = NULL;
    vla_model *m;
    vla_adapter *ad[2] = {NULL, NULL};
    const vla_tokenizer *tok;
    vla_ctx_params p;
    vla_ctx *c = NULL;
    vla_arena ta;
    float *pic = NULL;
    size_t need;
    vla_status st;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("usage: hotswap --model BASE.gguf --adapter A.gguf --adapter B.gguf [--rounds N] IMAGE [\"question\"]\n");
            return 0;
        } else if (!strcmp(a, "--model") && more) model_path = argv[++i];
        else if (!strcmp(a, "--adapter") && more && n_ad < 2) paths[n_ad++] = argv[++i];
        else if (!strcmp(a, "--rounds") && more) rounds = atoi(argv[++i]);
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "error: unknown option %s\n", a); return 2; }
        else if (!image) image = a;
        else question = a;
    }
    if (!model_path || n_ad != 2 || !image) { fprintf(stderr, "usage: hotswap --model BASE.gguf --adapter A.gguf --adapter B.gguf IMAGE [\"question\"]\n"); return 2; }
    if (!(m = ex_load_model(model_path, &mfile, &mmem))) goto done;
    if (!(tok = vla_model_tokenizer(m)) || !vla_model_hparams(m)->has_clip) { fprintf(stderr, "error: the model needs a tokenizer and a CLIP trunk\n"); goto done; }
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = 24; p.max_images = 1; p.max_dec_len = 20; p.max_beams = 5; p.use_clip = 1;
    p.exec.n_threads = 1; p.log.fn = ex_log;
    for (i = 0; i < 2; i++) { /* one slot each; the context is sized for the larger needs of both */
        double t0 = now_ms();
        if (!(ad[i] = ex_attach(m, paths[i], &afile[i], &amem[i]))) goto done;
        printf("attached %s: method %s, %d tasks, %.2f ms\n", paths[i], vla_adapter_method(ad[i]), vla_adapter_n_tasks(ad[i]), now_ms() - t0);
        if (vla_adapter_prompt_len(ad[i]) > p.max_prompt_len) p.max_prompt_len = vla_adapter_prompt_len(ad[i]);
        if (vla_adapter_max_dim(ad[i]) > p.max_adapter_dim) p.max_adapter_dim = vla_adapter_max_dim(ad[i]);
    }
    if ((st = vla_ctx_mem_req(m, &p, &need)) != VLA_OK || !(cmem = malloc(need)) || (st = vla_ctx_init(&c, m, &p, cmem, need)) != VLA_OK) {
        fprintf(stderr, "error: context: %s\n", vla_status_str(st));
        goto done;
    }
    printf("context: %zu bytes, fixed for every request\n", need);
    if (!(pic = ex_load_picture(image, vla_model_hparams(m)->clip_image_size))) goto done;
    tmem = malloc(vla_tokenize_scratch_size(4096) + 2 * VLA_ALIGN);
    for (r = 0; r < rounds; r++) {
        int k = r % 2, t = (r / 2) % vla_adapter_n_tasks(ad[k]), n_ids = 0, width = 0;
        vla_str name, prefix;
        vla_gen_params g;
        vla_input in;
        int32_t ids[32], out[64];
        char text[4096], ans[4096];
        size_t tl, len;
        double t0;
        vla_adapter_task(ad[k], t, &name, &prefix, &g);
        g.max_length = g.max_length > 20 ? 20 : g.max_length;
        if (g.num_beams > 5) g.num_beams = 5;
        /* captions read only the prefix; the other tasks the prefix + question */
        tl = (size_t)snprintf(text, sizeof text, "%.*s%s", (int)prefix.n, prefix.s,
                              (name.n == 7 && !memcmp(name.s, "caption", 7)) ? "" : question);
        if (tl >= sizeof text) tl = sizeof text - 1;
        vla_arena_init(&ta, tmem, vla_tokenize_scratch_size(4096) + 2 * VLA_ALIGN);
        t0 = now_ms();
        if ((st = vla_tokenize(tok, &ta, text, tl, 1, 1, 20, ids, 32, &n_ids)) != VLA_OK) {
            fprintf(stderr, "error: %s\n", vla_status_str(st));
            goto done;
        }
        { char tn[40]; snprintf(tn, sizeof tn, "%.*s", (int)name.n, name.s); st = vla_ctx_set_adapter(c, ad[k], tn); }
        memset(&in, 0, sizeof in);
        in.batch = 1; in.text_len = n_ids; in.ids = ids; in.n_images = 1; in.images = pic;
        if (st == VLA_OK) st = vla_encode(c, &in);
        if (st == VLA_OK) st = vla_generate(c, &g, out, &width, NULL);
        if (st == VLA_OK) st = vla_detokenize(tok, out, width, 1, 1, ans, sizeof ans, &len);
        if (st != VLA_OK) { fprintf(stderr, "error: %s\n", vla_status_str(st)); goto done; }
        printf("[%d] %-10s %-8.*s beams=%d  %7.1f ms  peak %zu B  ->%s\n", r, vla_adapter_method(ad[k]), (int)name.n, name.s,
               g.num_beams, now_ms() - t0, vla_ctx_stats(c).peak, ans);
    }
    rc = 0;
done:
    free(pic); free(cmem); free(tmem); free(amem[0]); free(amem[1]); free(afile[0]); free(afile[1]); free(mmem); free(mfile);
    return rc;
}
