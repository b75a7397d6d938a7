/* test_quant.c - tools/vla_quant.h (vla-quantize) and I8 model files.
 *
 *   test_quant MODEL.gguf        (an F32/Q8_0 model with BART and a CLIP trunk,
 *                                 e.g. the cross tests' tiny_model.gguf)
 *
 *   F32/Q8_0 -> I8: every I8 tensor has its F32 "<name>_scale" [rows]; each
 *       row's scale is amax/127 of the input row and every value is within
 *       half a step of the input; the tensors the policy keeps (LayerNorms,
 *       biases, position tables, the pixel stem, the box projection) are
 *       byte-identical; the error table's numbers equal a recomputation here
 *   I8 -> F32: exactly scale * q;  I8 -> Q8_0 -> I8 and --keep
 *   The I8 model loads and runs (CLIP trunk in int8 + BART in int8) close to
 *       the F32 model: cosine of encoder output and logits, and with
 *       vla_exec.int8_widen closer still; force_reference runs too
 *   Malformed inputs: truncated files, a missing scale tensor, a scale of the
 *       wrong shape or type: vla_quant_gguf and vla_model_init refuse them
 *
 *   test_quant MODEL.gguf PLAN_MODEL.gguf PICTURE.ppm   (PLAN_MODEL: a model
 *       with the fixture CLIP trunk, e.g. build/tiny_caption.gguf)
 *   The CLIP mixed-precision plan (vla_quant_clip_plan_make) on that picture:
 *       some but not all of the 105 candidate convolutions I8; the written
 *       file's I8 tensors and scales are byte-identical to the plain I8
 *       conversion's, its F32 ones to the input's, BART as in the plain I8
 *       file; the metadata keys read back as the plan; the grid cosine,
 *       recomputed here with the library's trunk, is >= the target and the
 *       plain I8 trunk's is not; re-quantizing drops the keys; no pictures,
 *       a target outside (0, 1] and an already-I8 trunk are refused with a
 *       sentence (the command-line cases: tests/test_cli.sh)
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "test_util.h"
#define VLA_TOOL_IMPLEMENTATION
#include "../tools/vla_tool.h"
#define VLA_QUANT_IMPLEMENTATION
#include "../tools/vla_quant.h"
#define VLA_NO_STB_IMAGE /* only vla_example_clip_input: no decoder to link */
#include "../examples/image_io.h"

#include <math.h>

typedef struct opened { vla_gguf g; void *mem; } opened;

static int open_file(opened *o, const unsigned char *p, size_t n) {
    vla_arena a;
    size_t need;
    vla_arena_init_measure(&a);
    if (vla_gguf_open(&o->g, p, n, &a) != VLA_OK) return 0;
    need = vla_arena_get_stats(&a).peak + 4096;
    o->mem = xmalloc(need);
    vla_arena_init(&a, o->mem, need);
    return vla_gguf_open(&o->g, p, n, &a) == VLA_OK;
}

static int quant(const unsigned char *in, size_t n, vla_type to, const char *keep, unsigned char **out, size_t *out_n,
                 vla_quant_stat *s, char *err) {
    vla_quant_opts o;
    const char *k[1];
    memset(&o, 0, sizeof o);
    o.to = to;
    if (keep) { k[0] = keep; o.keep = k; o.n_keep = 1; }
    return vla_quant_gguf(in, n, &o, out, out_n, s, err, 512);
}

static int is_type(const vla_gguf *g, const char *name, vla_type t) {
    vla_tensor x;
    return vla_gguf_get_tensor(g, name, &x) == VLA_OK && x.type == t;
}

/* Every I8 tensor of q against the same tensor of the input (as fp32). */
static void check_i8_file(const vla_gguf *in, const vla_gguf *q, double *worst_abs) {
    uint64_t i;
    int n_i8 = 0, bad = 0, kept_bad = 0;
    *worst_abs = 0;
    for (i = 0; i < q->n_tensors; i++) {
        const vla_tensor *t = &q->tensors[i];
        char name[300];
        vla_tensor src;
        memcpy(name, t->name.s, t->name.n);
        name[t->name.n] = 0;
        if (vla_gguf_get_tensor(in, name, &src) != VLA_OK) { /* only scales are new */
            CHECK(t->name.n > 6 && !memcmp(t->name.s + t->name.n - 6, "_scale", 6), "unexpected new tensor %s", name);
            continue;
        }
        if (t->type == VLA_TYPE_I8) {
            vla_mat m, s;
            float *row, *want;
            int r, c;
            n_i8++;
            CHECK(vla_gguf_get_mat(q, name, &m) == VLA_OK, "%s: I8 without a valid scale", name);
            if (src.n_dims == 4) { s.type = src.type; s.rows = (int)src.ne[3]; s.cols = (int)(src.ne[0] * src.ne[1] * src.ne[2]); s.data = src.data; }
            else CHECK(vla_tensor_as_mat(&src, &s) == VLA_OK, "%s: source", name);
            row = (float *)xmalloc(sizeof(float) * (size_t)m.cols);
            want = (float *)xmalloc(sizeof(float) * (size_t)m.cols);
            for (r = 0; r < m.rows; r++) {
                double amax = 0;
                vla_mat_row(want, &s, r);
                for (c = 0; c < m.cols; c++) amax = fabs(want[c]) > amax ? fabs(want[c]) : amax;
                if (fabs(m.scale[r] * 127.0 - amax) > 1e-6 * amax) { bad++; printf("%s row %d: scale %.9g amax %.9g\n", name, r, m.scale[r], amax); }
                for (c = 0; c < m.cols; c++) {
                    float back = m.scale[r] * (float)((const signed char *)m.data)[(size_t)r * m.cols + c]; /* as widened */
                    double e = fabs((double)back - want[c]);
                    if (e > 0.5 * m.scale[r] * (1 + 1e-4)) /* v = x * (1/d) is rounded: a few ulp of 127 past half a step */ { bad++; printf("%s [%d][%d]: %.9g vs %.9g (scale %.9g)\n", name, r, c, back, want[c], m.scale[r]); }
                    if (e > *worst_abs) *worst_abs = e;
                    if (((const signed char *)m.data)[(size_t)r * m.cols + c] == -128) bad++;
                }
            }
            free(row);
            free(want);
        } else if (t->type == src.type && t->nbytes == src.nbytes) {
            if (memcmp(t->data, src.data, (size_t)t->nbytes) != 0) kept_bad++;
        } else {
            kept_bad++;
        }
    }
    CHECK(n_i8 > 10, "only %d I8 tensors", n_i8);
    CHECK(bad == 0, "%d I8 values/scales off the quantization rule", bad);
    CHECK(kept_bad == 0, "%d kept tensors changed", kept_bad);
}

/* Encoder output and first-step logits of a model on fixed images + ids. */
typedef struct run_out { float *enc, *logits; int enc_n, vocab; int32_t ids[16]; int len; } run_out;

static int run_model(const unsigned char *file, size_t n, int widen, int ref, run_out *o) {
    vla_model *m;
    vla_ctx *c;
    vla_ctx_params p;
    vla_input in;
    vla_gen_params gp;
    const vla_hparams *hp;
    size_t need;
    void *mm, *cm;
    float *img;
    int32_t ids[4] = {0, 100, 200, 2}, dec[3] = {2, 0, 100};
    int S, i, L, ok = 1;
    if (vla_model_mem_req(file, n, &need) != VLA_OK) { printf("model size query failed\n"); return 0; }
    mm = xmalloc(need);
    if (vla_model_init(&m, mm, need, file, n, NULL) != VLA_OK) { printf("model init failed\n"); free(mm); return 0; }
    hp = vla_model_hparams(m);
    S = hp->clip_image_size;
    ids[1] = dec[2] = hp->vocab / 3; ids[2] = hp->vocab / 2;
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = 4; p.max_images = 1; p.max_grid = (S / 32) * (S / 32); p.max_dec_len = 8;
    p.max_beams = 1; p.use_clip = 1;
    p.exec.n_threads = 1; p.exec.int8_widen = widen; p.exec.force_reference = ref;
    if (vla_ctx_mem_req(m, &p, &need) != VLA_OK) { printf("ctx size query failed\n"); free(mm); return 0; }
    cm = xmalloc(need);
    ok = vla_ctx_init(&c, m, &p, cm, need) == VLA_OK;
    if (!ok) printf("ctx init failed\n");
    img = (float *)xmalloc(sizeof(float) * (size_t)S * S * 3);
    for (i = 0; i < S * S * 3; i++) img[i] = (float)sin(i * 0.37) * 1.5f;
    memset(&in, 0, sizeof in);
    in.batch = 1; in.text_len = 4; in.ids = ids; in.n_images = 1; in.grid_h = in.grid_w = S / 32; in.images = img;
    if (ok) {
        vla_status st = vla_encode(c, &in);
        if (st != VLA_OK) { printf("encode: %s\n", vla_status_str(st)); ok = 0; }
    }
    if (ok) {
        const float *e = vla_encoder_output(c, 0, &L);
        o->enc_n = L * hp->d_model;
        o->enc = (float *)xmalloc(sizeof(float) * (size_t)o->enc_n);
        memcpy(o->enc, e, sizeof(float) * (size_t)o->enc_n);
        o->vocab = hp->vocab;
        o->logits = (float *)xmalloc(sizeof(float) * 3 * (size_t)hp->vocab);
        ok = vla_decode_logits(c, dec, 3, o->logits) == VLA_OK;
        gp = vla_gen_defaults(m);
        gp.num_beams = 1; gp.max_length = 8;
        ok = ok && vla_encode(c, &in) == VLA_OK && vla_generate(c, &gp, o->ids, &o->len, NULL) == VLA_OK;
    }
    free(img);
    free(cm);
    free(mm);
    return ok;
}

static double cosine(const float *a, const float *b, int n) {
    double ab = 0, aa = 0, bb = 0;
    int i;
    for (i = 0; i < n; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
    return ab / sqrt(aa * bb + 1e-300);
}

/* A copy of file g with tensor `drop` left out, or its data replaced by
 * (type, ne0, data). */
static unsigned char *rewrite(const vla_gguf *g, const char *drop, vla_type type, int64_t ne0, const void *data, size_t *n) {
    static unsigned char amem[1 << 22];
    vla_arena a;
    vla_gguf_writer w;
    membuf mb;
    uint64_t i;
    vla_arena_init(&a, amem, sizeof amem);
    memset(&mb, 0, sizeof mb);
    vla_gguf_writer_init(&w, &a, (int)g->n_kv, (int)g->n_tensors, g->alignment);
    for (i = 0; i < g->n_kv; i++)
        if (!(g->kv[i].key.n == 17 && !memcmp(g->kv[i].key.s, "general.alignment", 17))) vla_gguf_add_kv(&w, &g->kv[i]);
    for (i = 0; i < g->n_tensors; i++) {
        const vla_tensor *t = &g->tensors[i];
        char name[300];
        memcpy(name, t->name.s, t->name.n);
        name[t->name.n] = 0;
        if (!strcmp(name, drop)) {
            if (data) vla_gguf_add_tensor(&w, name, type, 1, &ne0, data);
            continue;
        }
        vla_gguf_add_tensor(&w, name, t->type, t->n_dims, t->ne, t->data);
    }
    if (vla_gguf_write(&w, mem_write, &mb) != VLA_OK) { free(mb.p); return NULL; }
    *n = mb.n;
    return mb.p;
}

/* The grid of model file[n] on picture img (HWC, S x S), malloc'd. */
static float *grid_of(const unsigned char *file, size_t n, const float *img, size_t *gn) {
    vla_model *m;
    vla_ctx *c;
    vla_ctx_params p;
    size_t need;
    void *mm, *cm;
    float *out = NULL;
    int h, w, ch;
    if (vla_model_mem_req(file, n, &need) != VLA_OK) return NULL;
    mm = xmalloc(need);
    if (vla_model_init(&m, mm, need, file, n, NULL) != VLA_OK) { free(mm); return NULL; }
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = 1; p.max_images = 1; p.max_dec_len = 2; p.max_beams = 1; p.use_clip = 1; p.exec.n_threads = 1;
    if (vla_ctx_mem_req(m, &p, &need) == VLA_OK) {
        cm = xmalloc(need);
        out = (float *)xmalloc(sizeof(float) * (size_t)vla_model_hparams(m)->clip_image_size * vla_model_hparams(m)->clip_image_size *
                               (size_t)vla_model_hparams(m)->clip_width * 8);
        if (vla_ctx_init(&c, m, &p, cm, need) != VLA_OK || vla_clip_run(c, img, 4, out, &h, &w, &ch) != VLA_OK) { free(out); out = NULL; }
        else *gn = (size_t)h * w * ch;
        free(cm);
    }
    free(mm);
    return out;
}

/* y = conv(x) of the trunk's convolution "visual.NAME" ([Cout, k*k*Cin]
 * weights, k 1 or 3, pad k / 2), then relu(y) if relu; returns Ho or 0. */
static int conv_by_hand(const vla_gguf *g, const char *name, float *y, const float *x, int H, int Cin, int stride, int relu, int *Cout) {
    static unsigned char scratch[64 << 20];
    char nm[128];
    vla_mat w;
    vla_tensor b;
    vla_arena a;
    vla_exec ex;
    int k, Ho;
    snprintf(nm, sizeof nm, "visual.%s.weight", name);
    if (vla_gguf_get_tensor(g, nm, &b) != VLA_OK || b.n_dims != 4) return 0;
    if (b.type == VLA_TYPE_I8) { /* with its scale tensor */
        if (vla_gguf_get_mat(g, nm, &w) != VLA_OK) return 0;
    } else {
        memset(&w, 0, sizeof w);
        w.type = b.type; w.rows = (int)b.ne[3]; w.cols = (int)(b.ne[0] * b.ne[1] * b.ne[2]); w.data = b.data;
    }
    snprintf(nm, sizeof nm, "visual.%s.bias", name);
    if (vla_gguf_get_tensor(g, nm, &b) != VLA_OK || b.type != VLA_TYPE_F32) return 0;
    k = w.cols == 9 * Cin ? 3 : 1;
    Ho = (H + 2 * (k / 2) - k) / stride + 1;
    memset(&ex, 0, sizeof ex);
    ex.n_threads = 1;
    vla_arena_init(&a, scratch, sizeof scratch);
    if (vla_conv2d(&ex, &a, y, x, &w, (const float *)b.data, H, H, Cin, k, stride, k / 2) != VLA_OK) return 0;
    if (relu) vla_relu(y, (size_t)Ho * Ho * w.rows);
    *Cout = w.rows;
    return Ho;
}

/* The CLIP trunk of file g on img (S x S x 3) spelt out with the public
 * kernels (docs/architecture.md: the stem, then bottlenecks with an average
 * pool before conv3 and the downsample when the stride is 2); malloc'd. */
static float *grid_by_hand(const vla_gguf *g, const float *img, int S) {
    const size_t big = (size_t)S * S * 64;
    float *P = (float *)xmalloc(big * 4), *Q = (float *)xmalloc(big * 4), *R = (float *)xmalloc(big * 4),
          *T = (float *)xmalloc(big * 4), *t;
    int H = S, C = 3, c1, c2, c3, cd, si, bi, ok = 1;
    char nm[96];
    vla_tensor probe;
    ok = ok && (H = conv_by_hand(g, "conv1", P, img, H, C, 2, 1, &C)) > 0;
    ok = ok && (H = conv_by_hand(g, "conv2", Q, P, H, C, 1, 1, &C)) > 0;
    ok = ok && (H = conv_by_hand(g, "conv3", R, Q, H, C, 1, 1, &C)) > 0;
    if (ok) { vla_avgpool2d(P, R, H, H, C, 2); H /= 2; }
    for (si = 1; ok && si <= 4; si++)
        for (bi = 0; ok; bi++) {
            int s = si > 1 && bi == 0 ? 2 : 1, Ho = H / s;
            const float *in3 = R, *id = P;
            snprintf(nm, sizeof nm, "visual.layer%d.%d.conv1.weight", si, bi);
            if (vla_gguf_get_tensor(g, nm, &probe) != VLA_OK) break;
            snprintf(nm, sizeof nm, "layer%d.%d.conv1", si, bi);
            ok = ok && conv_by_hand(g, nm, Q, P, H, C, 1, 1, &c1) > 0;
            snprintf(nm, sizeof nm, "layer%d.%d.conv2", si, bi);
            ok = ok && conv_by_hand(g, nm, R, Q, H, c1, 1, 1, &c2) > 0;
            if (ok && s > 1) { vla_avgpool2d(Q, R, H, H, c2, s); in3 = Q; }
            snprintf(nm, sizeof nm, "layer%d.%d.conv3", si, bi);
            ok = ok && conv_by_hand(g, nm, T, in3, Ho, c2, 1, 0, &c3) > 0;
            snprintf(nm, sizeof nm, "visual.layer%d.%d.downsample.0.weight", si, bi);
            if (ok && vla_gguf_get_tensor(g, nm, &probe) == VLA_OK) {
                const float *din = P;
                if (s > 1) { vla_avgpool2d(R, P, H, H, C, s); din = R; }
                snprintf(nm, sizeof nm, "layer%d.%d.downsample.0", si, bi);
                ok = conv_by_hand(g, nm, Q, din, Ho, C, 1, 0, &cd) > 0 && cd == c3;
                id = Q;
            }
            if (!ok) break;
            vla_add(T, T, id, (size_t)Ho * Ho * c3);
            vla_relu(T, (size_t)Ho * Ho * c3);
            t = P; P = T; T = t;
            H = Ho; C = c3;
        }
    free(Q); free(R); free(T);
    if (!ok) { free(P); return NULL; }
    return P;
}

static int same_bytes(const vla_gguf *a, const vla_gguf *b, const char *name) {
    vla_tensor x, y;
    return vla_gguf_get_tensor(a, name, &x) == VLA_OK && vla_gguf_get_tensor(b, name, &y) == VLA_OK && x.type == y.type &&
           x.nbytes == y.nbytes && memcmp(x.data, y.data, x.nbytes) == 0;
}

static void test_clip_plan(const char *model_path, const char *pic_path) {
    unsigned char *in, *ppm, *plain = NULL, *planned = NULL, *again = NULL;
    size_t n, pn, np = 0, nq = 0, na = 0, gn = 0, gn2 = 0, i;
    char err[512], sum[1024];
    vla_image im;
    vla_quant_opts o;
    vla_quant_clip_cal cal;
    vla_quant_clip_plan plan;
    opened gin, gp, gq, ga;
    float *img, *gf, *gq8, *gpl;
    const float *pics[1];
    const char *names[1];
    int S, k, bad_i8 = 0, bad_f32 = 0, bad_other = 0, n_f32 = 0;
    memset(&gin, 0, sizeof gin); memset(&gp, 0, sizeof gp); memset(&gq, 0, sizeof gq); memset(&ga, 0, sizeof ga);
    in = vla_tool_read_file(model_path, &n, err, sizeof err);
    ppm = vla_tool_read_file(pic_path, &pn, err, sizeof err);
    CHECK(in && ppm && vla_pnm_read(&im, ppm, pn, NULL) == VLA_OK, "plan inputs: %s %s", model_path, pic_path);
    if (!in || !ppm) { free(in); free(ppm); return; }
    S = vla_quant_clip_side(in, n, err, sizeof err);
    CHECK(S == 224, "CLIP side %d, want the fixture's 224 (%s)", S, err);
    img = vla_example_clip_input((const unsigned char *)im.data, im.width, im.height, im.channels, S, err, sizeof err);
    CHECK(img != NULL, "picture: %s", err);
    if (!img) { free(in); free(ppm); return; }
    pics[0] = img;
    names[0] = "coffee";
    memset(&o, 0, sizeof o);
    o.to = VLA_TYPE_I8;
    memset(&cal, 0, sizeof cal);
    cal.pics = pics; cal.names = names; cal.n_pics = 1; cal.min_cos = 0.999;
    CHECK(vla_quant_clip_plan_make(in, n, &o, &cal, &plan, err, sizeof err) == 0, "plan: %s", err);
    /* the fixture trunk: 3 stem + 10 + 13 + 70 + 10 convolutions, the pixel stem never a candidate */
    CHECK(plan.n_conv == 105, "%d candidates, want 105", plan.n_conv);
    CHECK(plan.n_i8 > 5 && plan.n_i8 < 100, "%d of %d I8: want some of each on this trunk", plan.n_i8, plan.n_conv);
    {   /* multiply-adds: the stem's first (112 x 112 outputs of 27 inputs, 4 channels) is the rest of the total */
        double cand = 0;
        for (k = 0; k < plan.n_conv; k++) cand += plan.macs[k];
        CHECK(fabs(plan.macs_total - cand - 112.0 * 112 * 27 * 4) < 0.5, "MAC total %.0f = candidates %.0f + stem %.0f", plan.macs_total, cand,
              112.0 * 112 * 27 * 4);
        CHECK(plan.macs_i8 > 0 && plan.macs_i8 < plan.macs_total, "I8 MACs %.0f of %.0f", plan.macs_i8, plan.macs_total);
    }
    o.keep = plan.keep; o.n_keep = plan.n_keep; o.clip_plan = &plan;
    CHECK(vla_quant_gguf(in, n, &o, &planned, &np, NULL, err, sizeof err) == 0, "planned file: %s", err);
    memset(&o, 0, sizeof o);
    o.to = VLA_TYPE_I8;
    CHECK(vla_quant_gguf(in, n, &o, &plain, &nq, NULL, err, sizeof err) == 0, "plain I8 file: %s", err);
    if (!planned || !plain || !open_file(&gin, in, n) || !open_file(&gp, planned, np) || !open_file(&gq, plain, nq)) {
        CHECK(0, "the files open");
        goto done;
    }
    /* tensors: the plan's I8 ones (and scales) as the plain conversion wrote them, its F32 ones as the input */
    for (k = 0; k < plan.n_conv; k++) {
        char sn[320];
        vla_i8_scale_name(sn, sizeof sn, plan.name[k]);
        if (plan.i8[k]) bad_i8 += !(is_type(&gp.g, plan.name[k], VLA_TYPE_I8) && same_bytes(&gp.g, &gq.g, plan.name[k]) && same_bytes(&gp.g, &gq.g, sn));
        else {
            vla_tensor t;
            n_f32++;
            bad_f32 += !(is_type(&gp.g, plan.name[k], VLA_TYPE_F32) && same_bytes(&gp.g, &gin.g, plan.name[k]) && vla_gguf_get_tensor(&gp.g, sn, &t) == VLA_ERR_NOT_FOUND);
        }
    }
    for (i = 0; i < gq.g.n_tensors; i++) { /* everything else as the plain I8 file */
        char nm[300];
        const vla_tensor *t = &gq.g.tensors[i];
        int cand = 0;
        if (t->name.n >= sizeof nm) continue;
        memcpy(nm, t->name.s, t->name.n);
        nm[t->name.n] = 0;
        for (k = 0; k < plan.n_conv; k++) {
            size_t l = strlen(plan.name[k]);
            if (!strncmp(nm, plan.name[k], l) && (!nm[l] || !strcmp(nm + l, "_scale"))) cand = 1;
        }
        if (!cand) bad_other += !same_bytes(&gp.g, &gq.g, nm);
    }
    CHECK(bad_i8 == 0, "%d of the plan's I8 convolutions differ from the plain I8 conversion", bad_i8);
    CHECK(bad_f32 == 0 && n_f32 == plan.n_conv - plan.n_i8, "%d of the plan's F32 convolutions are not the input's bytes", bad_f32);
    CHECK(bad_other == 0 && is_type(&gp.g, "encoder.layers.0.fc1.weight", VLA_TYPE_I8), "%d other tensors differ from the plain I8 file", bad_other);
    {   /* the metadata */
        vla_str str;
        vla_gguf_kv kv;
        float f = 0;
        vla_quant_clip_plan_summary(&plan, sum, sizeof sum);
        CHECK(vla_gguf_get_str(&gp.g, "vladapter.quant.clip_plan", &str) == VLA_OK && str.n == strlen(sum) && !memcmp(str.s, sum, str.n),
              "vladapter.quant.clip_plan does not read back");
        CHECK(strstr(sum, "coffee") && strstr(sum, "0.999"), "summary: %s", sum);
        CHECK(vla_gguf_get_f32(&gp.g, "vladapter.quant.clip_plan.min_grid_cos", &f) == VLA_OK && f == 0.999f, "min_grid_cos %g", (double)f);
        CHECK(vla_gguf_get_kv(&gp.g, "vladapter.quant.clip_plan.grid_cos", &kv) == VLA_OK && kv.arr_type == VLA_GGUF_F32 && kv.arr_n == 1 &&
                  (memcpy(&f, kv.val, 4), f == (float)plan.grid_cos[0]),
              "grid_cos does not read back");
        if (vla_gguf_get_kv(&gp.g, "vladapter.quant.clip_plan.i8", &kv) == VLA_OK && kv.arr_type == VLA_GGUF_STRING && kv.arr_n == (uint64_t)plan.n_i8) {
            const unsigned char *q = kv.val;
            int bad = 0;
            for (k = 0; k < plan.n_conv; k++) { /* GGUF strings: u64 length, bytes; in the plan's order */
                uint64_t l;
                if (!plan.i8[k]) continue;
                memcpy(&l, q, 8);
                bad += l != strlen(plan.name[k]) || memcmp(q + 8, plan.name[k], (size_t)l) != 0;
                q += 8 + l;
            }
            CHECK(bad == 0, "%d names of vladapter.quant.clip_plan.i8 differ", bad);
        } else CHECK(0, "vladapter.quant.clip_plan.i8: not an array of %d strings", plan.n_i8);
    }
    /* the grid cosines, recomputed here */
    gf = grid_of(in, n, img, &gn);
    gq8 = grid_of(plain, nq, img, &gn2);
    gpl = grid_of(planned, np, img, &gn2);
    CHECK(gf && gq8 && gpl && gn == 7 * 7 * 256, "grids (%lu values)", (unsigned long)gn);
    {   /* vla_clip_run takes each I8 convolution's scale from the ReLU pass that wrote its input:
           the same bits as the trunk spelt out with vla_conv2d measuring every input itself
           (and the F32 trunk the same bits as its spelling out: the same kernels) */
        float *h8 = grid_by_hand(&gq.g, img, S), *hpl = grid_by_hand(&gp.g, img, S);
        CHECK(h8 && gq8 && !memcmp(h8, gq8, gn * sizeof(float)), "I8 trunk: vla_clip_run and the trunk spelt out differ");
        CHECK(hpl && gpl && !memcmp(hpl, gpl, gn * sizeof(float)), "mixed I8/F32 trunk: vla_clip_run and the trunk spelt out differ");
        free(h8); free(hpl);
        {
            float *hf = grid_by_hand(&gin.g, img, S);
            CHECK(hf && gf && !memcmp(hf, gf, gn * sizeof(float)), "F32 trunk: vla_clip_run and the trunk spelt out differ");
            free(hf);
        }
    }
    if (gf && gq8 && gpl) {
        double cp = cosine(gf, gpl, (int)gn), cq = cosine(gf, gq8, (int)gn);
        printf("clip plan on coffee: %d of %d I8 (%.1f%% of MACs), grid cosine %.6f (plain I8 %.6f)\n", plan.n_i8, plan.n_conv,
               100 * plan.macs_i8 / plan.macs_total, cp, cq);
        CHECK(cp >= 0.999 && fabs(cp - plan.grid_cos[0]) < 1e-9, "planned grid cosine %.9f (plan says %.9f)", cp, plan.grid_cos[0]);
        CHECK(cq < 0.99, "the plain I8 trunk's grid cosine %.6f: the plan would not be needed", cq);
    }
    free(gf); free(gq8); free(gpl);
    /* re-quantizing drops the plan's keys */
    o.to = VLA_TYPE_F32;
    CHECK(vla_quant_gguf(planned, np, &o, &again, &na, NULL, err, sizeof err) == 0 && open_file(&ga, again, na), "planned -> f32: %s", err);
    {
        vla_gguf_kv kv;
        CHECK(vla_gguf_get_kv(&ga.g, "vladapter.quant.clip_plan", &kv) == VLA_ERR_NOT_FOUND &&
                  vla_gguf_get_kv(&ga.g, "vladapter.quant.clip_plan.i8", &kv) == VLA_ERR_NOT_FOUND,
              "the F32 rewrite keeps a stale plan");
    }
    /* refused: no pictures, targets outside (0, 1], an I8 trunk, no trunk */
    {
        vla_quant_clip_plan p2;
        o.to = VLA_TYPE_I8;
        cal.n_pics = 0;
        CHECK(vla_quant_clip_plan_make(in, n, &o, &cal, &p2, err, sizeof err) != 0 && strstr(err, "no calibration pictures"), "no pictures: %s", err);
        vla_quant_clip_plan_free(&p2);
        cal.n_pics = 1;
        cal.min_cos = 0;
        CHECK(vla_quant_clip_plan_make(in, n, &o, &cal, &p2, err, sizeof err) != 0 && strstr(err, "(0, 1]"), "target 0: %s", err);
        vla_quant_clip_plan_free(&p2);
        cal.min_cos = 1.5;
        CHECK(vla_quant_clip_plan_make(in, n, &o, &cal, &p2, err, sizeof err) != 0 && strstr(err, "(0, 1]"), "target 1.5: %s", err);
        vla_quant_clip_plan_free(&p2);
        cal.min_cos = 0.999;
        CHECK(vla_quant_clip_plan_make(plain, nq, &o, &cal, &p2, err, sizeof err) != 0 && strstr(err, "is I8"), "an I8 trunk: %s", err);
        vla_quant_clip_plan_free(&p2);
    }
done:
    vla_quant_clip_plan_free(&plan);
    free(gin.mem); free(gp.mem); free(gq.mem); free(ga.mem);
    free(in); free(ppm); free(img); free(plain); free(planned); free(again);
}

int main(int argc, char **argv) {
    unsigned char *in, *q8 = NULL, *i8 = NULL, *back = NULL, *i8b = NULL, *kept = NULL;
    size_t n, n8 = 0, ni8 = 0, nb = 0, ni8b = 0, nk = 0;
    char err[512];
    vla_quant_stat s;
    opened gin, gi8, gback, gk;
    double worst;
    if (argc != 2 && argc != 4) { printf("usage: test_quant MODEL.gguf [PLAN_MODEL.gguf PICTURE.ppm]\n"); return 2; }
    if (!(in = vla_tool_read_file(argv[1], &n, err, sizeof err))) { printf("%s\n0 passed, 1 failed\n", err); return 1; }
    CHECK(open_file(&gin, in, n), "input opens");

    /* ---- F32 (+ Q8_0 in the input) -> I8 ---- */
    CHECK(quant(in, n, VLA_TYPE_I8, NULL, &i8, &ni8, &s, err) == 0, "-> i8: %s", err);
    CHECK(open_file(&gi8, i8, ni8), "i8 file opens");
    check_i8_file(&gin.g, &gi8.g, &worst);
    CHECK(fabs(s.max_abs - worst) <= 1e-12 * (1 + worst), "error table's max abs %.9g vs recomputed %.9g", s.max_abs, worst);
    CHECK(s.worst_rel_rms > 1e-4 && s.worst_rel_rms < 0.02, "worst relative RMS %.3g outside (1e-4, 0.02)", s.worst_rel_rms);
    CHECK(is_type(&gi8.g, "encoder.layers.0.fc1.weight", VLA_TYPE_I8) && is_type(&gi8.g, "shared.weight", VLA_TYPE_I8) &&
              is_type(&gi8.g, "decoder.layers.0.encoder_attn.k_proj.weight", VLA_TYPE_I8) &&
              is_type(&gi8.g, "visual.conv2.weight", VLA_TYPE_I8) && is_type(&gi8.g, "visual.layer1.0.conv2.weight", VLA_TYPE_I8),
          "the matrices and convolutions are I8");
    CHECK(is_type(&gi8.g, "visual.conv1.weight", VLA_TYPE_F32) && is_type(&gi8.g, "encoder.embed_positions.weight", VLA_TYPE_F32) &&
              is_type(&gi8.g, "encoder.layers.0.fc1.bias", VLA_TYPE_F32) &&
              is_type(&gi8.g, "encoder.layers.0.final_layer_norm.weight", VLA_TYPE_F32) &&
              is_type(&gi8.g, "encoder.visual_embedding.absolute_vis_pos_embedding.0.weight", VLA_TYPE_F32),
          "the stem, positions, biases, LayerNorms and the box projection stay F32");

    /* ---- I8 -> F32: exactly scale * q ---- */
    CHECK(quant(i8, ni8, VLA_TYPE_F32, NULL, &back, &nb, &s, err) == 0, "i8 -> f32: %s", err);
    CHECK(open_file(&gback, back, nb), "f32 file opens");
    {
        vla_mat m;
        vla_tensor t;
        int r, c, bad = 0;
        CHECK(vla_gguf_get_mat(&gi8.g, "encoder.layers.0.fc2.weight", &m) == VLA_OK &&
                  vla_gguf_get_tensor(&gback.g, "encoder.layers.0.fc2.weight", &t) == VLA_OK && t.type == VLA_TYPE_F32,
              "fc2 in both files");
        for (r = 0; r < m.rows; r++)
            for (c = 0; c < m.cols; c++)
                if (((const float *)t.data)[(size_t)r * m.cols + c] != m.scale[r] * (float)((const signed char *)m.data)[(size_t)r * m.cols + c]) bad++;
        CHECK(bad == 0, "I8 -> F32 not exactly scale * q (%d values)", bad);
        CHECK(vla_gguf_get_tensor(&gback.g, "encoder.layers.0.fc2.weight_scale", &t) == VLA_ERR_NOT_FOUND, "F32 file keeps a scale");
        CHECK(s.max_abs == 0, "I8 -> F32 error table %.3g, want 0", s.max_abs);
    }
    /* ---- I8 -> Q8_0 -> I8: within the quantization steps ---- */
    CHECK(quant(i8, ni8, VLA_TYPE_Q8_0, NULL, &q8, &n8, &s, err) == 0, "i8 -> q8_0: %s", err);
    CHECK(s.worst_rel_rms > 0 && s.worst_rel_rms < 0.02, "i8 -> q8_0 relative RMS %.3g", s.worst_rel_rms);
    CHECK(quant(q8, n8, VLA_TYPE_I8, NULL, &i8b, &ni8b, &s, err) == 0, "q8_0 -> i8: %s", err);
    CHECK(s.worst_rel_rms > 0 && s.worst_rel_rms < 0.02, "q8_0 -> i8 relative RMS %.3g", s.worst_rel_rms);
    /* ---- --keep ---- */
    CHECK(quant(in, n, VLA_TYPE_I8, "encoder.layers.0.*", &kept, &nk, &s, err) == 0, "--keep: %s", err);
    CHECK(open_file(&gk, kept, nk), "kept file opens");
    CHECK(is_type(&gk.g, "encoder.layers.0.fc1.weight", VLA_TYPE_F32) && is_type(&gk.g, "encoder.layers.1.fc1.weight", VLA_TYPE_I8),
          "--keep encoder.layers.0.* keeps layer 0 only");

    /* ---- the I8 model runs, close to F32 ---- */
    {
        run_out f, q, w, r;
        double ce, cl, cwe, cwl;
        memset(&f, 0, sizeof f); memset(&q, 0, sizeof q); memset(&w, 0, sizeof w); memset(&r, 0, sizeof r);
        CHECK(run_model(in, n, 0, 0, &f), "F32 model runs");
        CHECK(run_model(i8, ni8, 0, 0, &q), "I8 model runs (integer path)");
        CHECK(run_model(i8, ni8, 1, 0, &w), "I8 model runs widened");
        CHECK(run_model(i8, ni8, 0, 1, &r), "I8 model runs with the reference kernels");
        if (f.enc && q.enc && w.enc && r.enc && f.enc_n == q.enc_n) {
            ce = cosine(f.enc, q.enc, f.enc_n);
            cl = cosine(f.logits, q.logits, 3 * f.vocab);
            cwe = cosine(f.enc, w.enc, f.enc_n);
            cwl = cosine(f.logits, w.logits, 3 * f.vocab);
            printf("I8 vs F32: encoder cosine %.6f, logits %.6f; I8 widened to fp32: %.6f, %.6f\n", ce, cl, cwe, cwl);
            CHECK(ce > 0.99 && cl > 0.99, "I8 model far from F32: cosine %.5f %.5f", ce, cl);
            CHECK(cwe > 0.995 && cwl > 0.995, "widened I8 model far from F32: cosine %.5f %.5f", cwe, cwl);
            CHECK(cwe < 1.0 || cwl < 1.0, "widened I8 equals F32 exactly (weights not quantized?)");
            {
                double re = cosine(q.enc, r.enc, q.enc_n), rl = cosine(q.logits, r.logits, 3 * q.vocab);
                int agree = 0, k;
                for (k = 0; k < q.len && k < f.len; k++) agree += q.ids[k] == f.ids[k];
                printf("I8 fast vs reference kernels: cosine %.7f %.7f; greedy ids equal to F32's at %d of %d positions\n", re, rl,
                       agree, f.len);
                /* not bit for bit: the fp32 kernels between the I8 layers (the
                 * pixel stem, attention, LayerNorm) differ in the last bits,
                 * and a value on a rounding boundary of the next layer's
                 * activation quantization then moves by a whole step */
                CHECK(re > 0.999 && rl > 0.999, "I8 fast vs reference kernels differ: %.6f %.6f", re, rl);
            }
            CHECK(memcmp(q.enc, w.enc, sizeof(float) * (size_t)q.enc_n) != 0, "int8_widen changed nothing");
        }
        free(f.enc); free(f.logits); free(q.enc); free(q.logits); free(w.enc); free(w.logits); free(r.enc); free(r.logits);
    }

    /* ---- malformed inputs ---- */
    {
        static const size_t cuts[] = {0, 3, 10, 24, 100, 1000};
        unsigned char *bad;
        size_t nbad, need, ci;
        float sc[7] = {1, 1, 1, 1, 1, 1, 1};
        uint16_t h[64];
        vla_tensor t;
        unsigned char *out = NULL;
        size_t on;
        for (ci = 0; ci < sizeof cuts / sizeof cuts[0] + 2; ci++) {
            size_t cut = ci < sizeof cuts / sizeof cuts[0] ? cuts[ci] : ci == sizeof cuts / sizeof cuts[0] ? ni8 / 2 : ni8 - 1;
            err[0] = 0;
            CHECK(quant(i8, cut, VLA_TYPE_F32, NULL, &out, &on, NULL, err) != 0 && strstr(err, "not a valid GGUF"),
                  "truncated at %lu accepted (%s)", (unsigned long)cut, err);
            CHECK(vla_model_mem_req(i8, cut, &need) != VLA_OK, "model accepted a file truncated at %lu", (unsigned long)cut);
        }
        CHECK(vla_gguf_get_tensor(&gi8.g, "encoder.layers.1.fc1.weight", &t) == VLA_OK, "fc1");
        /* missing scale */
        bad = rewrite(&gi8.g, "encoder.layers.1.fc1.weight_scale", VLA_TYPE_F32, 0, NULL, &nbad);
        CHECK(bad && quant(bad, nbad, VLA_TYPE_F32, NULL, &out, &on, NULL, err) != 0 && strstr(err, "_scale"),
              "missing scale accepted by the quantizer (%s)", err);
        if (bad) {
            void *mm;
            vla_model *m;
            CHECK(vla_model_mem_req(bad, nbad, &need) == VLA_OK, "size query");
            mm = xmalloc(need);
            CHECK(vla_model_init(&m, mm, need, bad, nbad, NULL) == VLA_ERR_FORMAT, "model with a missing scale loads");
            free(mm);
        }
        free(bad);
        /* wrong shape: 7 scales for a [ffn] row count */
        bad = rewrite(&gi8.g, "encoder.layers.1.fc1.weight_scale", VLA_TYPE_F32, 7, sc, &nbad);
        CHECK(bad && quant(bad, nbad, VLA_TYPE_I8, NULL, &out, &on, NULL, err) != 0 && strstr(err, "_scale"),
              "short scale accepted by the quantizer (%s)", err);
        if (bad) {
            void *mm;
            vla_model *m;
            CHECK(vla_model_mem_req(bad, nbad, &need) == VLA_OK, "size query");
            mm = xmalloc(need);
            CHECK(vla_model_init(&m, mm, need, bad, nbad, NULL) == VLA_ERR_FORMAT, "model with a short scale loads");
            free(mm);
        }
        free(bad);
        /* wrong type: F16 scales of the right count */
        memset(h, 0, sizeof h);
        bad = t.ne[1] <= 64 ? rewrite(&gi8.g, "encoder.layers.1.fc1.weight_scale", VLA_TYPE_F16, t.ne[1], h, &nbad) : NULL;
        CHECK(bad && quant(bad, nbad, VLA_TYPE_F32, NULL, &out, &on, NULL, err) != 0, "F16 scale accepted by the quantizer");
        free(bad);
    }

    /* ---- the trainer on an I8 model: a tensor that would train is refused
     * (its values need the scale tensor; a plain copy would be zeros); frozen
     * I8 matrices carry gradients to what trains (here the LayerNorms) ---- */
    {
        void *mm = NULL;
        size_t need = 0, tneed = 0;
        vla_model *m = NULL;
        vla_train_params p = vla_train_defaults("full");
        vla_status st;
        p.max_batch = 1; p.max_text_len = 4; p.max_images = 0; p.max_target_len = 3; p.total_steps = 2;
        if (vla_model_mem_req(i8, ni8, &need) == VLA_OK) mm = xmalloc(need);
        CHECK(mm && vla_model_init(&m, mm, need, i8, ni8, NULL) == VLA_OK, "I8 model loads for the trainer");
        if (m) {
            st = vla_trainer_mem_req(m, NULL, 0, &p, &tneed);
            CHECK(st == VLA_ERR_UNSUPPORTED, "full fine-tuning of an I8 model: %s, want unsupported", vla_status_str(st));
            p = vla_train_defaults("none");
            p.train_visual = 0; p.train_layer_norms = 1;
            p.max_batch = 1; p.max_text_len = 4; p.max_images = 0; p.max_target_len = 3; p.total_steps = 2;
            st = vla_trainer_mem_req(m, NULL, 0, &p, &tneed);
            CHECK(st == VLA_OK, "trainer for the LayerNorms over an I8 model: %s", vla_status_str(st));
            if (st == VLA_OK) {
                void *tm = xmalloc(tneed);
                vla_trainer *t = NULL;
                int32_t ids[4] = {0, 5, 6, 2}, lab[3] = {7, 8, 2};
                vla_train_batch b;
                float L = 0.0f, lr = 0.0f;
                memset(&b, 0, sizeof b);
                b.loss = VLA_LOSS_EXAMPLE_MEAN; b.in.batch = 1; b.in.text_len = 4; b.in.ids = ids; b.target_len = 3; b.labels = lab;
                CHECK(vla_trainer_init(&t, m, NULL, 0, &p, tm, tneed) == VLA_OK && vla_trainer_step(t, &b, &L, &lr) == VLA_OK &&
                          L > 0.0f && L < 100.0f,
                      "LayerNorms train over frozen I8 matrices (loss %g)", (double)L);
                free(tm);
            }
        }
        free(mm);
    }

    if (argc == 4) test_clip_plan(argv[2], argv[3]);

    free(in); free(q8); free(i8); free(back); free(i8b); free(kept);
    free(gin.mem); free(gi8.mem); free(gback.mem); free(gk.mem);
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
