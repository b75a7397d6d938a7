/* test_whiten.c - vla-train --whiten-visual (tools/vla-train.c whiten_visual,
 * compiled here with VLA_TRAIN_NO_MAIN).
 *
 * A random VL-BART (d 16, 24 feature channels) and a full fine-tuning
 * trainer; 40 pictures' grid features (4 cells each) are made up here with a
 * different mean and spread per channel, one channel that never changes (a
 * dead ReLU) and one that hardly does.  After whiten_visual, checked with
 * this file's own double-precision statistics:
 *   - W'[r][c] = W[r][c] / sd_c, with sd_c floored at a tenth of the mean sd
 *     (the dead and the nearly dead channel get the floor, not 1 / 1e-4);
 *   - b'[r] = b[r] - sum_c W'[r][c] mu_c, i.e. the projection of the mean
 *     feature is the old bias: mean over all cells of W' f + b' equals b;
 *   - nothing else in the trainer changed.
 *   build/test_whiten
 */
#define VLA_TRAIN_NO_MAIN
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wunused-function"
#elif defined(__GNUC__)
#pragma GCC diagnostic ignored "-Wunused-function"
#endif
#include "../tools/vla-train.c"
#include "board/vla_check.h"

#define D 16
#define C 24
#define NPIC 40
#define GRIDN 4

static uint64_t g_s = 99;
static double urand(void) { g_s = g_s * 6364136223846793005ull + 1442695040888963407ull; return (double)(g_s >> 11) / 9007199254740992.0; }

int main(int argc, char **argv) {
    static run R;
    vla_rand_bart rb;
    vla_conv cv;
    unsigned char *file = NULL;
    size_t file_n = 0, need;
    void *mmem, *tmem;
    vla_train_params p;
    vla_trainer *tr = NULL;
    vla_hparams hp;
    int i, j, c, r, k, nt, wi = -1, bi = -1, others_same = 1;
    float **before;
    double mu[C], sd[C], mean_sd = 0, worst_w = 0, worst_b = 0;
    vc_init(argc, argv);
    vc_section("--whiten-visual");

    memset(&rb, 0, sizeof rb);
    rb.d_model = D; rb.enc_layers = 1; rb.dec_layers = 1; rb.heads = 2; rb.ffn = 32; rb.vocab = 40; rb.max_pos = 16;
    rb.feat_dim = C; rb.n_boxes = GRIDN; rb.seed = 5;
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (!VC_CHECK(vla_conv_random_bart(&cv, &rb) == 0)) return vc_summary();
    cv.fingerprint = vla_conv_fingerprint(&cv);
    if (!VC_CHECK(vla_conv_write_mem(&cv, &file, &file_n) == 0)) return vc_summary();
    vla_conv_free(&cv);
    if (!VC_CHECK(vla_model_mem_req(file, file_n, &need) == VLA_OK)) return vc_summary();
    mmem = xmalloc(need);
    if (!VC_CHECK(vla_model_init(&R.m, mmem, need, file, file_n, NULL) == VLA_OK)) return vc_summary();
    hp = *vla_model_hparams(R.m);
    R.hp = &hp;
    R.ch = C; R.grid = GRIDN; R.grid_h = R.grid_w = 2;

    /* the pictures' features: channel c ~ mean m_c + spread s_c * noise */
    R.n_img = NPIC;
    R.img = (image_ent *)xcalloc(NPIC, sizeof(image_ent));
    for (i = 0; i < NPIC; i++) {
        R.img[i].path = (char *)"(made up)";
        R.img[i].feat = (float *)xmalloc(sizeof(float) * GRIDN * C);
        for (j = 0; j < GRIDN; j++)
            for (c = 0; c < C; c++) {
                double m = 0.5 + 0.1 * c, s = c == 0 ? 0.0 : c == 1 ? 1e-4 : 0.02 * (1 + c % 7);
                R.img[i].feat[j * C + c] = (float)(m + s * (2 * urand() - 1));
            }
    }
    for (c = 0; c < C; c++) { /* the expected statistics, in double */
        double s1 = 0, s2 = 0, n = NPIC * GRIDN;
        for (i = 0; i < NPIC; i++)
            for (j = 0; j < GRIDN; j++) { double v = R.img[i].feat[j * C + c]; s1 += v; s2 += v * v; }
        mu[c] = s1 / n;
        sd[c] = sqrt(fmax(s2 / n - mu[c] * mu[c], 0));
        mean_sd += sd[c] / C;
    }
    for (c = 0; c < C; c++) if (sd[c] < 0.1 * mean_sd) sd[c] = 0.1 * mean_sd;

    p = vla_train_defaults("full");
    p.max_batch = 2; p.max_text_len = 4; p.max_images = 1; p.max_grid = GRIDN; p.max_target_len = 3; p.total_steps = 10;
    if (!VC_CHECK(vla_trainer_mem_req(R.m, NULL, 0, &p, &need) == VLA_OK)) return vc_summary();
    tmem = xmalloc(need);
    if (!VC_CHECK(vla_trainer_init(&tr, R.m, NULL, 0, &p, tmem, need) == VLA_OK)) return vc_summary();
    nt = vla_trainer_n_tensors(tr);
    before = (float **)xmalloc(sizeof(float *) * (size_t)nt);
    for (k = 0; k < nt; k++) {
        vla_train_tensor t;
        vla_trainer_tensor(tr, k, &t);
        before[k] = (float *)xmalloc(t.n * sizeof(float));
        memcpy(before[k], t.value, t.n * sizeof(float));
        if (!strcmp(t.name, "encoder.visual_embedding.feat_embedding.0.weight")) wi = k;
        if (!strcmp(t.name, "encoder.visual_embedding.feat_embedding.0.bias")) bi = k;
    }
    if (!VC_CHECK(wi >= 0 && bi >= 0)) return vc_summary();

    whiten_visual(&R, tr);

    for (k = 0; k < nt; k++) {
        vla_train_tensor t;
        vla_trainer_tensor(tr, k, &t);
        if (k == wi) {
            for (r = 0; r < D; r++)
                for (c = 0; c < C; c++) {
                    double want = before[k][r * C + c] / sd[c], got = t.value[r * C + c];
                    double e = fabs(got - want) / (fabs(want) + 1e-30);
                    if (e > worst_w) worst_w = e;
                }
        } else if (k == bi) {
            vla_train_tensor W;
            vla_trainer_tensor(tr, wi, &W);
            for (r = 0; r < D; r++) {
                /* mean over every cell of W' f + b' = the old bias */
                double mean_y = 0, scale = fabs(before[k][r]) + 1e-3;
                for (i = 0; i < NPIC; i++)
                    for (j = 0; j < GRIDN; j++) {
                        double y = t.value[r];
                        for (c = 0; c < C; c++) y += (double)W.value[r * C + c] * R.img[i].feat[j * C + c];
                        mean_y += y / (NPIC * GRIDN);
                    }
                for (c = 0; c < C; c++) scale += fabs(W.value[r * C + c] * mu[c]);
                if (fabs(mean_y - before[k][r]) / scale > worst_b) worst_b = fabs(mean_y - before[k][r]) / scale;
            }
        } else others_same &= memcmp(before[k], t.value, t.n * sizeof(float)) == 0;
    }
    VC_CHECKF(worst_w < 1e-5, "W' = W / sd: worst relative error %.3g", worst_w);
    VC_CHECKF(worst_b < 1e-5, "mean of W' f + b' = b: worst error %.3g of the terms' size", worst_b);
    VC_CHECK(others_same);

    for (k = 0; k < nt; k++) free(before[k]);
    free(before);
    for (i = 0; i < NPIC; i++) free(R.img[i].feat);
    free(R.img);
    free(tmem); free(mmem); free(file);
    return vc_summary();
}
