/* test_model.c - the model and context API around the numbers that
 * vla-fixtures checks: memory accounting, call order, bad input, two models in
 * one process, threads, and the reference switch.
 *
 *   test_model [FIXTURES_DIR]     (default tests/fixtures)
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#define VLA_TOOL_IMPLEMENTATION
#include "../tools/vla_tool.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "../tools/vla_convert.h"
#include "board/vla_check.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- a pthread parallel-for (the library owns no threads) ---- */
typedef struct pf_job { vla_task_fn fn; void *arg; int i; } pf_job;
static void *pf_run(void *p) { pf_job *j = (pf_job *)p; j->fn(j->arg, j->i); return NULL; }
static void pf(void *user, vla_task_fn fn, void *arg, int n) {
    pthread_t th[16];
    pf_job jobs[16];
    int i;
    (void)user;
    for (i = 0; i < n && i < 16; i++) { jobs[i].fn = fn; jobs[i].arg = arg; jobs[i].i = i; pthread_create(&th[i], NULL, pf_run, &jobs[i]); }
    for (i = 0; i < n && i < 16; i++) pthread_join(th[i], NULL);
}

/* ---- a model file from a random configuration ---- */
static unsigned char *random_model(const vla_rand_bart *r, size_t *size) {
    vla_conv cv;
    unsigned char *buf = NULL;
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_conv_random_bart(&cv, r) != 0 || vla_conv_write_mem(&cv, &buf, size) != 0) {
        fprintf(stderr, "random model: %s\n", cv.err);
        buf = NULL;
    }
    vla_conv_free(&cv);
    return buf;
}

static vla_model *load(const unsigned char *f, size_t n, void **mem) {
    size_t need;
    vla_model *m = NULL;
    if (vla_model_mem_req(f, n, &need) != VLA_OK) return NULL;
    *mem = malloc(need);
    if (vla_model_init(&m, *mem, need, f, n, NULL) != VLA_OK) return NULL;
    return m;
}

typedef struct run_out { int32_t ids[4 * 16]; int width; float logits[4 * 6 * 64]; float enc[4 * 64 * 16]; } run_out;

/* encode + teacher-forced logits + beam search at the context's maximum sizes */
static vla_status run(vla_ctx *c, const vla_model *m, int B, int Lt, int T, int beams, uint64_t seed, run_out *o) {
    const vla_hparams *hp = vla_model_hparams(m);
    static int32_t ids[4 * 16], dec[4 * 6];
    static float feats[4 * 49 * 24];
    vla_input in;
    vla_gen_params g = vla_gen_defaults(m);
    int i, L = 0;
    vla_status st;
    for (i = 0; i < B * Lt; i++) { seed = seed * 6364136223846793005ull + 1; ids[i] = (int32_t)((seed >> 33) % (uint64_t)hp->vocab); }
    for (i = 0; i < B * 6; i++) dec[i] = (int32_t)((i * 7 + 2) % hp->vocab);
    for (i = 0; i < B * 49 * 24; i++) feats[i] = (float)((i * 13) % 17) / 17.0f;
    memset(&in, 0, sizeof in);
    in.batch = B; in.text_len = Lt; in.ids = ids;
    if (hp->has_visual) { in.n_images = 1; in.grid_h = in.grid_w = 7; in.feats = feats; }
    if ((st = vla_encode(c, &in)) != VLA_OK) return st;
    {
        const float *e = vla_encoder_output(c, 0, &L);
        memcpy(o->enc, e, sizeof(float) * (size_t)L * hp->d_model);
    }
    if ((st = vla_decode_logits(c, dec, T, o->logits)) != VLA_OK) return st;
    g.num_beams = beams;
    g.max_length = T;
    return vla_generate(c, &g, o->ids, &o->width, NULL);
}

static void test_random_models(void) {
    vla_rand_bart r1 = {16, 2, 2, 2, 32, 64, 32, 24, 4, 1}, r2 = {16, 1, 3, 4, 24, 50, 32, 0, 0, 2};
    size_t n1, n2, need;
    unsigned char *f1 = random_model(&r1, &n1), *f2 = random_model(&r2, &n2);
    void *mm1 = NULL, *mm2 = NULL, *cm1, *cm2, *cm3;
    vla_model *m1, *m2;
    vla_ctx *c1 = NULL, *c2 = NULL, *c3 = NULL;
    vla_ctx_params p;
    vla_arena_stats s;
    static run_out a, b, a2, bref;
    vla_status st;
    vc_section("model: random shapes, memory, two models, threads");
    VC_CHECK(f1 && f2);
    if (!f1 || !f2) return;
    m1 = load(f1, n1, &mm1);
    m2 = load(f2, n2, &mm2);
    VC_CHECK(m1 && m2);
    if (!m1 || !m2) return;
    VC_CHECK(vla_model_hparams(m1)->has_visual && !vla_model_hparams(m2)->has_visual);
    memset(&p, 0, sizeof p);
    p.max_batch = 2; p.max_text_len = 9; p.max_images = 1; p.max_grid = 49; p.max_dec_len = 6; p.max_beams = 3;
    VC_CHECK(vla_ctx_mem_req(m1, &p, &need) == VLA_OK);
    cm1 = malloc(need);
    /* too little memory: a clear error, nothing written past the end */
    VC_CHECK(vla_ctx_init(&c1, m1, &p, cm1, need / 2) == VLA_ERR_NOMEM && c1 == NULL);
    VC_CHECK(vla_ctx_init(&c1, m1, &p, cm1, need) == VLA_OK);
    /* call order */
    VC_CHECK(vla_decode_logits(c1, a.ids, 2, a.logits) == VLA_ERR_STATE);
    VC_CHECK(run(c1, m1, 2, 9, 6, 3, 7, &a) == VLA_OK);
    s = vla_ctx_stats(c1);
    VC_CHECKF(s.peak + VLA_ALIGN == need, "size query %zu vs peak used %zu (+%d)", need, s.peak, VLA_ALIGN);
    /* the high-water mark does not move with more requests */
    VC_CHECK(run(c1, m1, 2, 9, 6, 3, 7, &a2) == VLA_OK);
    VC_CHECK(vla_ctx_stats(c1).peak == s.peak);
    VC_CHECK(!memcmp(a.ids, a2.ids, sizeof a.ids) && !memcmp(a.logits, a2.logits, sizeof a.logits));
    /* two models in one process, interleaved */
    p.max_images = 0; p.max_grid = 0;
    VC_CHECK(vla_ctx_mem_req(m2, &p, &need) == VLA_OK);
    cm2 = malloc(need);
    VC_CHECK(vla_ctx_init(&c2, m2, &p, cm2, need) == VLA_OK);
    VC_CHECK(run(c2, m2, 2, 9, 6, 3, 11, &b) == VLA_OK);
    VC_CHECK(run(c1, m1, 2, 9, 6, 3, 7, &a2) == VLA_OK);
    VC_CHECK(!memcmp(a.ids, a2.ids, sizeof a.ids) && !memcmp(a.logits, a2.logits, sizeof a.logits));
    /* threads: the same bits (work is split by output column) */
    p.exec.parallel = pf; p.exec.n_threads = 3;
    VC_CHECK(vla_ctx_mem_req(m2, &p, &need) == VLA_OK);
    cm3 = malloc(need);
    VC_CHECK(vla_ctx_init(&c3, m2, &p, cm3, need) == VLA_OK);
    VC_CHECK(run(c3, m2, 2, 9, 6, 3, 11, &bref) == VLA_OK);
    VC_CHECK(!memcmp(b.logits, bref.logits, sizeof b.logits) && !memcmp(b.ids, bref.ids, sizeof b.ids));
    /* the reference kernels agree with the fast path */
    p.exec.parallel = NULL; p.exec.n_threads = 1; p.exec.force_reference = 1;
    VC_CHECK(vla_ctx_init(&c3, m2, &p, cm3, need) == VLA_OK);
    VC_CHECK(run(c3, m2, 2, 9, 6, 3, 11, &bref) == VLA_OK);
    {
        int i;
        double e = 0;
        for (i = 0; i < 2 * 6 * 50; i++) if (fabs(b.logits[i] - bref.logits[i]) > e) e = fabs(b.logits[i] - bref.logits[i]);
        VC_CHECKF(e < 1e-4, "reference vs fast logits differ by %g", e);
    }
    /* bad input */
    {
        vla_input in;
        int32_t bad[2] = {0, 1 << 20};
        memset(&in, 0, sizeof in);
        in.batch = 1; in.text_len = 2; in.ids = bad;
        VC_CHECK((st = vla_encode(c2, &in)) == VLA_ERR_RANGE);
        in.batch = 3; /* more than max_batch */
        VC_CHECK(vla_encode(c2, &in) == VLA_ERR_ARGS);
        in.batch = 1; bad[1] = 5; in.n_images = 1; /* a text-only model with an image */
        VC_CHECK(vla_encode(c2, &in) == VLA_ERR_ARGS || vla_encode(c2, &in) == VLA_ERR_UNSUPPORTED);
        VC_CHECK(vla_decode_logits(c2, bad, 2, a.logits) == VLA_ERR_STATE); /* the failed encode invalidated it */
    }
    free(cm1); free(cm2); free(cm3); free(mm1); free(mm2); free(f1); free(f2);
}

/* Ids and embeddings concatenated: [a, b, c] as ids equals [a] as ids + the
 * embedding rows of b and c as inputs_embeds (bit for bit). */
static void test_embeds(void) {
    vla_rand_bart r = {16, 2, 1, 2, 32, 64, 32, 24, 4, 9};
    size_t n, need;
    unsigned char *f = random_model(&r, &n);
    void *mm = NULL, *cm;
    vla_model *m;
    vla_ctx *c = NULL;
    vla_ctx_params p;
    vla_input in;
    vla_tensor t;
    vla_mat E;
    static float feats[49 * 24], emb[2 * 16], out1[64 * 16];
    int32_t ids3[3] = {0, 17, 2}, ids1[1] = {0};
    int L1 = 0, L2 = 0, i;
    const float *h;
    vc_section("model: ids and embeddings concatenated");
    if (!f || !(m = load(f, n, &mm))) { VC_CHECK(0); return; }
    for (i = 0; i < 49 * 24; i++) feats[i] = (float)(i % 13) / 13.0f;
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = 3; p.max_images = 1; p.max_grid = 49; p.max_dec_len = 4; p.max_beams = 1;
    VC_CHECK(vla_ctx_mem_req(m, &p, &need) == VLA_OK);
    cm = malloc(need);
    VC_CHECK(vla_ctx_init(&c, m, &p, cm, need) == VLA_OK);
    memset(&in, 0, sizeof in);
    in.batch = 1; in.text_len = 3; in.ids = ids3; in.n_images = 1; in.grid_h = in.grid_w = 7; in.feats = feats;
    VC_CHECK(vla_encode(c, &in) == VLA_OK);
    h = vla_encoder_output(c, 0, &L1);
    memcpy(out1, h, sizeof(float) * (size_t)L1 * 16);
    VC_CHECK(vla_gguf_get_tensor(vla_model_gguf(m), "shared.weight", &t) == VLA_OK && vla_tensor_as_mat(&t, &E) == VLA_OK);
    vla_mat_row(emb, &E, 17);
    vla_mat_row(emb + 16, &E, 2);
    in.text_len = 1; in.ids = ids1; in.n_embeds = 2; in.embeds = emb;
    VC_CHECK(vla_encode(c, &in) == VLA_OK);
    h = vla_encoder_output(c, 0, &L2);
    VC_CHECK(L1 == L2 && !memcmp(out1, h, sizeof(float) * (size_t)L1 * 16));
    in.n_embeds = 3; /* more than max_text_len */
    VC_CHECK(vla_encode(c, &in) == VLA_ERR_ARGS);
    free(cm); free(mm); free(f);
}

/* 3x3 convolutions with F16 and Q8_0 weights: the reference and the fast
 * path agree (the reference reads every weight type). */
static void test_conv_types(void) {
    enum { H = 9, W = 7, CIN = 32, COUT = 5, K = 3 };
    static float x[H * W * CIN], wf[COUT * K * K * CIN], yr[H * W * COUT], yf[H * W * COUT], b[COUT];
    static uint16_t wh[COUT * K * K * CIN];
    static unsigned char wq[COUT * K * K * CIN / 32 * VLA_Q8_0_BYTES], arena_mem[1 << 20];
    vla_mat m;
    vla_exec ex;
    vla_arena a;
    int i, t;
    vc_section("conv2d with F16 and Q8_0 weights");
    for (i = 0; i < H * W * CIN; i++) x[i] = (float)((i * 37) % 23) / 23.0f - 0.5f;
    for (i = 0; i < COUT * K * K * CIN; i++) { wf[i] = (float)((i * 11) % 17) / 17.0f - 0.5f; wh[i] = vla_fp32_to_fp16(wf[i]); }
    for (i = 0; i < COUT; i++) b[i] = 0.1f * (float)i;
    vla_quantize_q8_0(wq, wf, COUT * K * K * CIN);
    memset(&ex, 0, sizeof ex);
    ex.n_threads = 1;
    for (t = 0; t < 2; t++) {
        double e = 0;
        m.type = t ? VLA_TYPE_Q8_0 : VLA_TYPE_F16; m.rows = COUT; m.cols = K * K * CIN; m.data = t ? (const void *)wq : (const void *)wh;
        vla_conv2d_ref(yr, x, &m, b, H, W, CIN, K, 1, 1);
        vla_arena_init(&a, arena_mem, sizeof arena_mem);
        VC_CHECK(vla_conv2d(&ex, &a, yf, x, &m, b, H, W, CIN, K, 1, 1) == VLA_OK);
        for (i = 0; i < H * W * COUT; i++) if (fabs(yr[i] - yf[i]) > e) e = fabs(yr[i] - yf[i]);
        VC_CHECKF(e < 1e-4, "%s conv: reference and fast differ by %g", t ? "Q8_0" : "F16", e);
    }
}

static void test_bad_model_files(void) {
    vla_rand_bart r = {16, 1, 1, 2, 32, 40, 16, 0, 0, 3};
    size_t n, need, cut;
    unsigned char *f = random_model(&r, &n), *g;
    vla_model *m;
    void *mem;
    int refused = 0, total = 0;
    vc_section("model: truncated and damaged files");
    VC_CHECK(f != NULL);
    if (!f) return;
    VC_CHECK(vla_model_mem_req(f, n, &need) == VLA_OK);
    mem = malloc(need);
    VC_CHECK(vla_model_init(&m, mem, need / 3, f, n, NULL) == VLA_ERR_NOMEM);
    g = (unsigned char *)malloc(n);
    for (cut = 0; cut < n; cut += 97) { /* truncations: refused, never a crash */
        size_t nd;
        memcpy(g, f, cut);
        total++;
        if (vla_model_mem_req(g, cut, &nd) != VLA_OK || vla_model_init(&m, mem, need, g, cut, NULL) != VLA_OK) refused++;
    }
    VC_CHECKF(refused == total, "%d of %d truncated model files accepted", total - refused, total);
    /* a missing tensor: rename one */
    memcpy(g, f, n);
    {
        size_t i;
        for (i = 0; i + 10 < n; i++)
            if (!memcmp(g + i, "decoder.layers.0.fc2.bias", 25)) { g[i + 21] = 'X'; break; }
    }
    VC_CHECK(vla_model_init(&m, mem, need, g, n, NULL) == VLA_ERR_FORMAT);
    free(g); free(mem); free(f);
}

int main(int argc, char **argv) {
    vc_init(argc, argv);
    test_random_models();
    test_embeds();
    test_conv_types();
    test_bad_model_files();
    vc_selftest();
    return vc_summary();
}
