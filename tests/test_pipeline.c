/* test_pipeline.c - the caption example against a chain of verified pieces.
 *
 *   test_pipeline MODEL.gguf IMAGE.ppm CAPTION_BINARY [IMAGE.png]
 *
 * MODEL is the CLIP trunk of the clip_trunk fixture + the VL-BART of the
 * bart_base fixture + the real tokenizer, merged by tools/vla-convert (each
 * piece passes its fixture case).  The chain here runs the pieces one by one:
 * PNM reader -> vla_clip_preprocess -> vla_clip_run (grid features) ->
 * vla_encode with those features -> beam search; the example binary runs the
 * one-call path (images through vla_input.images).  Their ids must be equal.
 * With stb_image the PNG of the same picture must give the same ids too.
 */
#define _POSIX_C_SOURCE 200809L /* popen */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "test_util.h"
#include "board/vla_check.h"

#include <stdlib.h>
#include <string.h>


/* "ids: 2 5 7 ..." from the example's output. */
static int run_example(const char *bin, const char *model, const char *image, int32_t *ids, int cap) {
    char cmd[4096], line[8192];
    FILE *p;
    int n = -1;
    snprintf(cmd, sizeof cmd, "%s --model %s --ids %s", bin, model, image);
    p = popen(cmd, "r");
    if (!p) return -1;
    while (fgets(line, sizeof line, p)) {
        if (!strncmp(line, "ids:", 4)) {
            char *s = line + 4, *e;
            n = 0;
            for (;;) {
                long v = strtol(s, &e, 10);
                if (e == s || n >= cap) break;
                ids[n++] = (int32_t)v;
                s = e;
            }
        }
    }
    if (pclose(p) != 0) return -1;
    return n;
}

int main(int argc, char **argv) {
    unsigned char *mf, *imgf;
    size_t mn, in_, need;
    void *mm, *cm, *sm;
    vla_model *m = NULL;
    vla_ctx *c = NULL;
    vla_ctx_params p;
    vla_image img;
    vla_arena sa;
    vla_input in;
    vla_gen_params g;
    const vla_hparams *hp;
    float *pix, *grid;
    int32_t text[2] = {0, 2}, ids[64], ex_ids[64];
    int w = 0, gh, gw, gc, n_ex, i;
    vc_init(argc, argv);
    if (argc < 4) { fprintf(stderr, "usage: test_pipeline MODEL.gguf IMAGE.ppm CAPTION_BINARY [IMAGE.png]\n"); return 2; }
    vc_section("caption pipeline = chain of verified pieces");
    mf = read_file(argv[1], &mn);
    imgf = read_file(argv[2], &in_);
    VC_CHECK(mf && imgf);
    if (!mf || !imgf) return vc_summary();
    VC_CHECK(vla_model_mem_req(mf, mn, &need) == VLA_OK);
    mm = malloc(need);
    VC_CHECK(vla_model_init(&m, mm, need, mf, mn, NULL) == VLA_OK);
    if (!m) return vc_summary();
    hp = vla_model_hparams(m);
    VC_CHECK(hp->has_clip && hp->has_visual && hp->clip_out_ch == hp->feat_dim && vla_model_tokenizer(m) != NULL);
    /* the picture, preprocessed the official way */
    VC_CHECK(vla_pnm_read(&img, imgf, in_, NULL) == VLA_OK);
    need = vla_clip_preprocess_scratch_size(img.width, img.height, hp->clip_image_size) + 2 * VLA_ALIGN;
    sm = malloc(need);
    vla_arena_init(&sa, sm, need);
    pix = (float *)malloc(sizeof(float) * (size_t)hp->clip_image_size * hp->clip_image_size * 3);
    VC_CHECK(vla_clip_preprocess(&sa, pix, hp->clip_image_size, VLA_LAYOUT_HWC, &img) == VLA_OK);
    /* the context of the example: beam 5, max_length 20, one picture */
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = 2; p.max_images = 1; p.max_dec_len = 20; p.max_beams = 5; p.use_clip = 1; p.exec.n_threads = 1;
    VC_CHECK(vla_ctx_mem_req(m, &p, &need) == VLA_OK);
    cm = malloc(need);
    VC_CHECK(vla_ctx_init(&c, m, &p, cm, need) == VLA_OK);
    if (!c) return vc_summary();
    /* piece by piece: trunk -> grid features -> encoder on features -> beams */
    grid = (float *)malloc(sizeof(float) * 4096 * (size_t)hp->clip_out_ch);
    VC_CHECK(vla_clip_run(c, pix, 4, grid, &gh, &gw, &gc) == VLA_OK && gc == hp->feat_dim);
    memset(&in, 0, sizeof in);
    in.batch = 1; in.text_len = 2; in.ids = text; in.n_images = 1; in.grid_h = gh; in.grid_w = gw; in.feats = grid;
    g = vla_gen_defaults(m);
    g.num_beams = 5; g.max_length = 20;
    VC_CHECK(vla_encode(c, &in) == VLA_OK && vla_generate(c, &g, ids, &w, NULL) == VLA_OK);
    VC_CHECK(w >= 2 && ids[0] == hp->dec_start_id);
    /* the example binary, one call from pixels */
    n_ex = run_example(argv[3], argv[1], argv[2], ex_ids, 64);
    VC_CHECKF(n_ex == w, "the example printed %d ids, the chain made %d", n_ex, w);
    for (i = 0; i < w && i < n_ex; i++) VC_CHECKF(ids[i] == ex_ids[i], "id %d: chain %d, example %d", i, ids[i], ex_ids[i]);
    if (argc > 4) { /* the PNG of the same pixels, decoded by stb_image */
        int32_t png_ids[64];
        int n_png = run_example(argv[3], argv[1], argv[4], png_ids, 64);
        VC_CHECK(n_png == w && !memcmp(png_ids, ids, sizeof(int32_t) * (size_t)w));
    }
    free(grid); free(cm); free(pix); free(sm); free(mm); free(mf); free(imgf);
    vc_selftest();
    return vc_summary();
}
