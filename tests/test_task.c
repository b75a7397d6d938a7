/* test_task.c - the task-level calls (vla_caption, vla_answer, vla_verify)
 * against the low-level chain they stand for, and against the fixtures.
 *
 *   test_task FIXTURES_DIR IMAGES_DIR
 *
 * Models (built in memory with the converter, as vla-fixtures does):
 *  - e2e: the clip_trunk case's CLIP + the bart_single_adapter case's VL-BART
 *    after its two training steps + the real BART tokenizer; the adapter's
 *    text prefixes are cleared because the e2e case fed its ids without one.
 *    vla_answer on the question those ids spell must give the case's ids
 *    (greedy and 5 beams, max_length 12) and its greedy text.
 *  - chains: the same CLIP + VL-BART (untrained weights) with a small byte
 *    tokenizer (small_tokenizer below) whose ids fit the 300-token
 *    vocabulary, so that the official prefixes ("vqa: ", "caption: ",
 *    "nlvr: ") can run.  Each call is compared with the chain
 *    written out by hand: tokenize with the task's truncation, preprocess,
 *    encode, generate with the adapter task's preset (5 beams for captions),
 *    detokenize; verify: decoder input [</s>, <s>], logits at position 1.
 *  - vla_verify_encoded on the bart_nlvr case's own inputs (its features,
 *    boxes and ids, batch of 2): the logits of "true" and "false" at
 *    position 1 and the prediction, against the case (the small tokenizer
 *    puts "true" / "false" at the case's ids 60 / 73);
 *  - a picture with a row stride larger than its width (and an RGBA copy)
 *    gives the packed picture's result;
 *  - every error path returns its status, writes nothing outside the context
 *    memory (guard bytes around it and after the text buffer) and leaves the
 *    context usable;
 *  - vla_task_ctx_params + vla_ctx_mem_req is the exact need: the context
 *    runs every call in that many bytes, one byte less fails to init.
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "../tools/vla_convert.h"
#define VLA_TOKCONV_IMPLEMENTATION
#include "../tools/vla_tokconv.h"
#include "board/vla_check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *g_fx, *g_img;

/* ---- models ---- */

typedef struct built {
    vla_conv cv, acv;
    vla_tokconv tc;
    unsigned char *g, *ag;
    size_t gn, agn;
    void *mm, *am;
    vla_model *m;
    vla_adapter *ad;
} built;

static void tok_arrays(void *user, vla_gguf_writer *w) { vla_tokconv_add((const vla_tokconv *)user, w); }

/* GPT-2's byte alphabet: byte b -> the code point its one-byte token is spelled with. */
static unsigned byte_cp(unsigned b) {
    unsigned n = 0, x;
    if ((b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)) return b;
    for (x = 0; x < b; x++)
        if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || (x >= 0xAE && x <= 0xFF))) n++;
    return 256 + n;
}

static size_t put_utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 63)); return 2;
}

/* A byte-level tokenizer small enough for the fixtures' 300-token vocabulary
 * (all its ids fit, so the official prefixes can run):
 * <s> <pad> </s> <unk> = 0..3, "true" = 60 and "false" = 73 (the ids the
 * bart_nlvr case names; built by seven merges), the 256 byte tokens and the
 * five other merge results in the free ids, unreachable fillers "q<id>" up to
 * the model's 300 ids, <mask> = 299. */
static int small_tokenizer(vla_tokconv *tc) {
    static const char *merges[7][2] = {{"t", "r"}, {"tr", "u"}, {"tru", "e"}, {"f", "a"}, {"fa", "l"}, {"fal", "s"}, {"fals", "e"}};
    static const char *special[4] = {"<s>", "<pad>", "</s>", "<unk>"};
    char tok[300][16], *v = (char *)malloc(16384), m[256], err[256];
    int used[300] = {0}, id, i, next = 4, rc;
    size_t n = 0, k = 0;
    for (i = 0; i < 300; i++) tok[i][0] = 0;
    for (i = 0; i < 4; i++) { snprintf(tok[i], sizeof tok[i], "%s", special[i]); used[i] = 1; }
    snprintf(tok[60], sizeof tok[60], "true"); used[60] = 1;
    snprintf(tok[73], sizeof tok[73], "false"); used[73] = 1;
    snprintf(tok[299], sizeof tok[299], "<mask>"); used[299] = 1;
    for (i = 0; i < 256 + 7; i++) {
        char s[16];
        if (i < 256) s[put_utf8(s, byte_cp((unsigned)i))] = 0;
        else if (i - 256 == 2 || i - 256 == 6) continue; /* "true", "false": placed above */
        else snprintf(s, sizeof s, "%s%s", merges[i - 256][0], merges[i - 256][1]);
        while (used[next]) next++;
        snprintf(tok[next], sizeof tok[next], "%s", s);
        used[next] = 1;
    }
    for (id = 0; id < 300; id++)
        if (!used[id]) snprintf(tok[id], sizeof tok[id], "q%d", id); /* unreachable fillers */
    n += (size_t)sprintf(v + n, "{");
    for (id = 0; id < 300; id++)
        n += (size_t)sprintf(v + n, "%s\"%s%s\": %d", id ? ", " : "", (tok[id][0] == '"' || tok[id][0] == '\\') && !tok[id][1] ? "\\" : "",
                             tok[id], id);
    n += (size_t)sprintf(v + n, "}");
    k += (size_t)sprintf(m + k, "#version: 0.2\n");
    for (i = 0; i < 7; i++) k += (size_t)sprintf(m + k, "%s %s\n", merges[i][0], merges[i][1]);
    rc = vla_tokconv_parse(tc, v, n, m, k, 0, err, sizeof err);
    if (rc) fprintf(stderr, "small tokenizer: %s\n", err);
    free(v);
    return rc;
}

static int build(built *b, int real_tok, const char *overlay, int clear_prefixes) {
    char p[2048], o[2048], err[512];
    vla_ckpt ck, cl;
    size_t need;
    int skipped, j, rc = -1;
    memset(b, 0, sizeof *b);
    vla_conv_init(&b->cv); vla_conv_init(&b->acv);
    b->cv.quiet = b->acv.quiet = 1;
    snprintf(p, sizeof p, "%s/clip_trunk/weights.safetensors", g_fx);
    if (vla_ckpt_open(&cl, p, NULL, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return -1; }
    rc = vla_conv_clip(&b->cv, cl.src, cl.n, 224);
    vla_ckpt_close(&cl);
    if (rc) { fprintf(stderr, "clip: %s\n", b->cv.err); return -1; }
    snprintf(p, sizeof p, "%s/bart_single_adapter/weights.safetensors", g_fx);
    if (overlay) snprintf(o, sizeof o, "%s/bart_single_adapter/%s", g_fx, overlay);
    if (vla_ckpt_open(&ck, p, overlay ? o : NULL, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return -1; }
    rc = -1;
    if (vla_conv_bart(&b->cv, ck.src, ck.n, ck.config, &skipped) != 0) { fprintf(stderr, "bart: %s\n", b->cv.err); goto out; }
    if (vla_conv_peft(&b->acv, ck.src, ck.n, ck.config) <= 0) { fprintf(stderr, "peft: %s\n", b->acv.err); goto out; }
    if (clear_prefixes)
        for (j = 0; j < b->acv.n_tasks; j++) b->acv.task_prefix[j][0] = 0;
    if (real_tok) {
        snprintf(p, sizeof p, "%s/tokenizer/vocab.json", g_fx);
        snprintf(o, sizeof o, "%s/tokenizer/merges.txt", g_fx);
        if (vla_tokconv_load(&b->tc, p, o, 1, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); goto out; }
    } else if (small_tokenizer(&b->tc) != 0) goto out;
    b->cv.add_arrays = tok_arrays; b->cv.add_arrays_user = &b->tc; b->cv.n_array_kv = VLA_TOKCONV_N_KV;
    b->cv.fingerprint = vla_conv_fingerprint(&b->cv);
    b->acv.base_fingerprint = b->cv.fingerprint;
    if (vla_conv_write_mem(&b->cv, &b->g, &b->gn) != 0 || vla_conv_write_mem(&b->acv, &b->ag, &b->agn) != 0) goto out;
    if (vla_model_mem_req(b->g, b->gn, &need) != VLA_OK || !(b->mm = malloc(need)) ||
        vla_model_init(&b->m, b->mm, need, b->g, b->gn, NULL) != VLA_OK)
        goto out;
    if (vla_adapter_mem_req(b->m, b->ag, b->agn, &need) != VLA_OK || !(b->am = malloc(need)) ||
        vla_adapter_attach(&b->ad, b->m, b->am, need, b->ag, b->agn, NULL) != VLA_OK)
        goto out;
    rc = 0;
out:
    vla_ckpt_close(&ck);
    return rc;
}

static void unbuild(built *b) {
    free(b->am); free(b->mm); free(b->g); free(b->ag);
    vla_conv_free(&b->cv); vla_conv_free(&b->acv);
    vla_tokconv_free(&b->tc);
}

/* ---- pictures ---- */

typedef struct pic { unsigned char *px; vla_image img; vla_npy npy; unsigned char *file; } pic;

static int pic_chelsea(pic *p) {
    char path[2048], err[256];
    memset(p, 0, sizeof *p);
    snprintf(path, sizeof path, "%s/clip_preprocess/rgb_uint8.npy", g_fx);
    if (vla_npy_load(path, &p->npy, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return -1; }
    return vla_image_view(&p->img, p->npy.data, (int)p->npy.shape[1], (int)p->npy.shape[0], 3, 0) == VLA_OK ? 0 : -1;
}

static int pic_coffee(pic *p) {
    char path[2048];
    size_t n;
    memset(p, 0, sizeof *p);
    snprintf(path, sizeof path, "%s/coffee.ppm", g_img);
    if (!(p->file = vla_tool_read_file(path, &n, NULL, 0))) return -1;
    return vla_pnm_read(&p->img, p->file, n, NULL) == VLA_OK ? 0 : -1;
}

static void pic_free(pic *p) { vla_npy_free(&p->npy); free(p->file); free(p->px); }

/* A copy of img with `pad` bytes after every row and `ch` channels (4: alpha 255). */
static unsigned char *restride(const vla_image *img, int ch, size_t pad, vla_image *out) {
    size_t stride = (size_t)img->width * (size_t)ch + pad;
    unsigned char *b = (unsigned char *)malloc(stride * (size_t)img->height);
    int x, y, c;
    memset(b, 0xA5, stride * (size_t)img->height);
    for (y = 0; y < img->height; y++)
        for (x = 0; x < img->width; x++)
            for (c = 0; c < ch; c++)
                b[(size_t)y * stride + (size_t)x * ch + c] = c < 3 ? img->data[(size_t)y * img->stride + (size_t)x * 3 + c] : 255;
    vla_image_view(out, b, img->width, img->height, ch, stride);
    return b;
}

/* ---- a context inside guard bytes ---- */

#define GUARD 256
typedef struct gctx { unsigned char *buf; size_t need; vla_ctx *c; } gctx;

static int gctx_init(gctx *g, const vla_model *m, const vla_ctx_params *p) {
    memset(g, 0, sizeof *g);
    if (vla_ctx_mem_req(m, p, &g->need) != VLA_OK) return -1;
    g->buf = (unsigned char *)malloc(g->need + 2 * GUARD);
    memset(g->buf, 0x5A, g->need + 2 * GUARD);
    return vla_ctx_init(&g->c, m, p, g->buf + GUARD, g->need) == VLA_OK ? 0 : -1;
}

static int guards_ok(const gctx *g) {
    size_t i;
    for (i = 0; i < GUARD; i++)
        if (g->buf[i] != 0x5A || g->buf[GUARD + g->need + i] != 0x5A) return 0;
    return 1;
}

/* ---- the low-level chain, written out ---- */

typedef struct chain { int32_t in[256], out[64]; int n_in, n_out; char text[512]; float tl, fl; } chain;

static vla_status run_chain(const vla_model *m, const vla_adapter *ad, const char *task, const char *question,
                            const vla_image *const *pics, int n_pics, int max_ids, const vla_gen_params *g, chain *r) {
    const vla_tokenizer *tok = vla_model_tokenizer(m);
    int S = vla_model_hparams(m)->clip_image_size, t = vla_adapter_find_task(ad, task), i, w = 0;
    vla_str prefix;
    vla_gen_params preset;
    vla_ctx_params p;
    vla_ctx *c;
    vla_input in;
    vla_arena a;
    void *cm, *sm;
    float *x;
    char text[1024];
    size_t need, len;
    vla_status st;
    memset(r, 0, sizeof *r);
    if (t < 0 || vla_adapter_task(ad, t, NULL, &prefix, &preset) != VLA_OK) return VLA_ERR_NOT_FOUND;
    if (g) preset = *g;
    snprintf(text, sizeof text, "%.*s%s", (int)prefix.n, prefix.s, question);
    sm = malloc(1 << 22);
    vla_arena_init(&a, sm, 1 << 22);
    st = vla_tokenize(tok, &a, text, strlen(text), 1, 1, max_ids, r->in, 256, &r->n_in);
    x = (float *)malloc(sizeof(float) * (size_t)S * S * 3 * 2);
    for (i = 0; i < n_pics && st == VLA_OK; i++) st = vla_clip_preprocess(&a, x + (size_t)i * S * S * 3, S, VLA_LAYOUT_HWC, pics[i]);
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = r->n_in; p.max_images = n_pics; p.max_dec_len = preset.max_length;
    p.max_beams = preset.num_beams; p.use_clip = 1; p.max_adapter_dim = vla_adapter_max_dim(ad); p.exec.n_threads = 1;
    cm = NULL;
    if (st == VLA_OK) st = vla_ctx_mem_req(m, &p, &need);
    if (st == VLA_OK) st = vla_ctx_init(&c, m, &p, cm = malloc(need), need);
    if (st == VLA_OK) st = vla_ctx_set_adapter(c, ad, task);
    memset(&in, 0, sizeof in);
    in.batch = 1; in.text_len = r->n_in; in.ids = r->in; in.n_images = n_pics; in.images = x;
    if (st == VLA_OK) st = vla_encode(c, &in);
    if (st == VLA_OK && n_pics == 2) { /* NLVR2: [</s>, <s>], position 1 */
        int32_t di[2];
        int V = vla_model_hparams(m)->vocab, ti = 0, fi = 0, n;
        float *lg = (float *)malloc(sizeof(float) * 2 * (size_t)V);
        di[0] = vla_model_hparams(m)->dec_start_id; di[1] = vla_model_hparams(m)->bos_id;
        st = vla_decode_logits(c, di, 2, lg);
        vla_tokenize(tok, &a, "true", 4, 0, 1, 0, &ti, 1, &n);
        vla_tokenize(tok, &a, "false", 5, 0, 1, 0, &fi, 1, &n);
        r->tl = lg[V + ti]; r->fl = lg[V + fi];
        free(lg);
    } else if (st == VLA_OK) {
        st = vla_generate(c, &preset, r->out, &w, NULL);
        r->n_out = w;
        if (st == VLA_OK) st = vla_detokenize(tok, r->out, w, 1, 1, r->text, sizeof r->text, &len);
    }
    free(cm); free(x); free(sm);
    return st;
}

static int same_ids(const int32_t *a, int na, const int32_t *b, int nb) {
    return na == nb && (na == 0 || !memcmp(a, b, sizeof(int32_t) * (size_t)na));
}

/* ---- e2e: the fixture's ids and text through vla_answer ---- */

static int npy_ids(const char *name, int32_t *ids, int cap) {
    char path[2048], err[256];
    vla_npy a;
    int i, n;
    snprintf(path, sizeof path, "%s/e2e/%s", g_fx, name);
    if (vla_npy_load(path, &a, err, sizeof err) != 0) return -1;
    n = (int)a.shape[a.n_dims - 1];
    for (i = 0; i < n && i < cap; i++) ids[i] = (int32_t)vla_npy_i(&a, (size_t)i);
    vla_npy_free(&a);
    return n;
}

static void test_e2e(void) {
    built b;
    pic ch;
    vla_task_sizes s;
    vla_ctx_params p;
    gctx g;
    int32_t want_in[32], want_g[32], want_b[32], qids[32];
    int n_in, n_g, n_b, n, k;
    char question[256], text[256];
    size_t len = 0;
    const int32_t *got;
    vla_gen_params gp;
    vla_status st;
    vc_section("e2e fixture through vla_answer (ids and text)");
    if (build(&b, 1, "params_step2.safetensors", 1) != 0 || pic_chelsea(&ch) != 0) { VC_CHECK(0); return; }
    n_in = npy_ids("input_ids.npy", want_in, 32);
    n_g = npy_ids("greedy_ids.npy", want_g, 32);
    n_b = npy_ids("beam5_ids.npy", want_b, 32);
    VC_CHECK(n_in > 2 && n_g > 1 && n_b > 1);
    /* the question the fixture's ids spell (their content, without <s> </s>) */
    for (k = 0; k < n_in - 2; k++) qids[k] = want_in[k + 1];
    st = vla_detokenize(vla_model_tokenizer(b.m), qids, n_in - 2, 0, 0, question, sizeof question, &len);
    VC_CHECK(st == VLA_OK);
    memset(&s, 0, sizeof s);
    s.max_question_bytes = (int)len; s.max_picture_w = ch.img.width; s.max_picture_h = ch.img.height;
    VC_CHECK(vla_task_ctx_params(&p, b.m, &s, (const vla_adapter *const *)&b.ad, 1) == VLA_OK);
    p.exec.n_threads = 1;
    VC_CHECK(gctx_init(&g, b.m, &p) == 0);
    VC_CHECK(vla_ctx_set_adapter(g.c, b.ad, "vqa") == VLA_OK);
    gp = vla_gen_defaults(b.m);
    gp.num_beams = 1; gp.max_length = n_g; gp.early_stopping = 1; gp.length_penalty = 1.0f;
    st = vla_answer(g.c, &ch.img, question, &gp, text, sizeof text, &len);
    VC_CHECKF(st == VLA_OK, "%s", vla_status_str(st));
    got = vla_task_ids(g.c, 0, &n);
    VC_CHECKF(same_ids(got, n, want_in, n_in), "encoder ids of \"%s\": %d of %d", question, n, n_in);
    got = vla_task_ids(g.c, 1, &n);
    VC_CHECKF(same_ids(got, n, want_g, n_g), "greedy ids (%d of %d)", n, n_g);
    VC_CHECKF(!strcmp(text, " They They really really really The The The really really as"), "greedy text '%s'", text);
    gp.num_beams = 5;
    st = vla_answer(g.c, &ch.img, question, &gp, text, sizeof text, &len);
    got = vla_task_ids(g.c, 1, &n);
    VC_CHECKF(st == VLA_OK && same_ids(got, n, want_b, n_b), "5-beam ids (%d of %d)", n, n_b);
    VC_CHECK(guards_ok(&g));
    free(g.buf);
    pic_free(&ch);
    unbuild(&b);
}

/* ---- the three calls against the chain, with the official prefixes ---- */

static void test_chains(void) {
    built b;
    pic ch, co;
    vla_task_sizes s;
    vla_ctx_params p, p1;
    gctx g, g1;
    chain r;
    const vla_image *two[2], *one[1];
    const int32_t *got;
    vla_image wide, rgba;
    unsigned char *wb, *rb;
    vla_verdict v;
    int n, n2, i;
    int32_t keep[64];
    char text[512], keep_text[512], small[8];
    size_t len = 0, len2 = 0;
    vla_gen_params gp;
    vla_status st;
    const char *q = "what is in the picture?", *stmt = "the left image has more cats than the right image.";
    if (build(&b, 0, NULL, 0) != 0 || pic_chelsea(&ch) != 0 || pic_coffee(&co) != 0) { VC_CHECK(0); return; }
    memset(&s, 0, sizeof s);
    s.max_question_bytes = 64; s.max_pictures = 2;
    s.max_picture_w = ch.img.width > co.img.width ? ch.img.width : co.img.width;
    s.max_picture_h = ch.img.height > co.img.height ? ch.img.height : co.img.height;
    VC_CHECK(vla_task_ctx_params(&p, b.m, &s, (const vla_adapter *const *)&b.ad, 1) == VLA_OK);
    p.exec.n_threads = 1;
    VC_CHECK(gctx_init(&g, b.m, &p) == 0);
    one[0] = &ch.img; two[0] = &ch.img; two[1] = &co.img;

    vc_section("vla_caption = chain (prefix 'caption: ', truncation 40, the task's 5-beam preset)");
    VC_CHECK(vla_ctx_set_adapter(g.c, b.ad, "caption") == VLA_OK);
    st = vla_caption(g.c, &ch.img, NULL, text, sizeof text, &len);
    VC_CHECKF(st == VLA_OK, "%s", vla_status_str(st));
    VC_CHECK(run_chain(b.m, b.ad, "caption", "", one, 1, 40, NULL, &r) == VLA_OK);
    {
        vla_gen_params pr;
        memset(&pr, 0, sizeof pr);
        vla_adapter_task(b.ad, vla_adapter_find_task(b.ad, "caption"), NULL, NULL, &pr);
        VC_CHECKF(pr.num_beams == 5 && pr.max_length == 20, "caption preset %d beams, max_length %d", pr.num_beams, pr.max_length);
    }
    got = vla_task_ids(g.c, 0, &n);
    VC_CHECK(same_ids(got, n, r.in, r.n_in) && n == 2 + 9); /* <s> c a p t i o n : space </s> */
    got = vla_task_ids(g.c, 1, &n);
    VC_CHECKF(same_ids(got, n, r.out, r.n_out) && r.n_out > 1, "caption ids (%d vs %d)", n, r.n_out);
    VC_CHECKF(!strcmp(text, r.text) && len == strlen(r.text), "caption text '%s' vs '%s'", text, r.text);
    memcpy(keep, got, sizeof(int32_t) * (size_t)n); n2 = n;
    strcpy(keep_text, text);
    /* greedy override differs from the preset's path only through g */
    gp = vla_gen_defaults(b.m); gp.num_beams = 1; gp.max_length = 20;
    VC_CHECK(vla_caption(g.c, &ch.img, &gp, text, sizeof text, NULL) == VLA_OK);
    VC_CHECK(run_chain(b.m, b.ad, "caption", "", one, 1, 40, &gp, &r) == VLA_OK);
    got = vla_task_ids(g.c, 1, &n);
    VC_CHECK(same_ids(got, n, r.out, r.n_out) && !strcmp(text, r.text));

    vc_section("row stride and RGBA: the packed picture's result");
    wb = restride(&ch.img, 3, 13, &wide);
    rb = restride(&ch.img, 4, 7, &rgba);
    VC_CHECK(vla_caption(g.c, &wide, NULL, text, sizeof text, NULL) == VLA_OK);
    got = vla_task_ids(g.c, 1, &n);
    VC_CHECK(same_ids(got, n, keep, n2) && !strcmp(text, keep_text));
    VC_CHECK(vla_caption(g.c, &rgba, NULL, text, sizeof text, NULL) == VLA_OK);
    got = vla_task_ids(g.c, 1, &n);
    VC_CHECK(same_ids(got, n, keep, n2) && !strcmp(text, keep_text));

    vc_section("vla_answer = chain (prefixes 'vqa: ' / 'gpa: ', truncation 20, greedy)");
    for (i = 0; i < 2; i++) {
        const char *task = i ? "gqa" : "vqa";
        VC_CHECK(vla_ctx_set_adapter(g.c, b.ad, task) == VLA_OK);
        st = vla_answer(g.c, &ch.img, q, NULL, text, sizeof text, &len);
        VC_CHECKF(st == VLA_OK, "%s: %s", task, vla_status_str(st));
        VC_CHECK(run_chain(b.m, b.ad, task, q, one, 1, 20, NULL, &r) == VLA_OK);
        got = vla_task_ids(g.c, 0, &n);
        VC_CHECKF(same_ids(got, n, r.in, r.n_in) && n == 20, "%s: encoder ids truncated to 20 (%d)", task, n);
        got = vla_task_ids(g.c, 1, &n);
        VC_CHECKF(same_ids(got, n, r.out, r.n_out) && !strcmp(text, r.text), "%s: '%s' vs '%s'", task, text, r.text);
    }
    /* a short question is not padded or cut */
    VC_CHECK(vla_answer(g.c, &co.img, "why?", NULL, text, sizeof text, NULL) == VLA_OK);
    VC_CHECK(run_chain(b.m, b.ad, "gqa", "why?", one, 1, 20, NULL, &r) == VLA_OK);
    got = vla_task_ids(g.c, 0, &n);
    VC_CHECK(n == 2 + 5 + 4 && same_ids(got, n, r.in, r.n_in));

    vc_section("vla_verify = chain (prefix 'nlvr: ', two pictures, [</s>, <s>] at position 1)");
    VC_CHECK(vla_ctx_set_adapter(g.c, b.ad, "nlvr") == VLA_OK);
    st = vla_verify(g.c, &ch.img, &co.img, stmt, &v);
    VC_CHECKF(st == VLA_OK, "%s", vla_status_str(st));
    VC_CHECK(run_chain(b.m, b.ad, "nlvr", stmt, two, 2, 0, NULL, &r) == VLA_OK);
    got = vla_task_ids(g.c, 0, &n);
    VC_CHECKF(same_ids(got, n, r.in, r.n_in) && n == 2 + 6 + (int)strlen(stmt), "statement ids not truncated (%d)", n);
    VC_CHECKF(v.true_logit == r.tl && v.false_logit == r.fl && v.is_true == (r.tl > r.fl), "true %g/%g false %g/%g",
              (double)v.true_logit, (double)r.tl, (double)v.false_logit, (double)r.fl);
    /* the order of the pictures matters (image-order embeddings) */
    VC_CHECK(vla_verify(g.c, &co.img, &ch.img, stmt, &v) == VLA_OK);
    VC_CHECK(run_chain(b.m, b.ad, "nlvr", stmt, (const vla_image *const[]){&co.img, &ch.img}, 2, 0, NULL, &r) == VLA_OK);
    VC_CHECK(v.true_logit == r.tl && v.false_logit == r.fl);

    vc_section("errors: status, nothing outside the context touched, the context still works");
    {
        vla_image big = ch.img;
        char longq[200];
        memset(longq, 'a', sizeof longq); longq[sizeof longq - 1] = 0;
        big.width = s.max_picture_w + 1;
        big.stride = (size_t)big.width * 3; /* never read: refused first */
        VC_CHECK(vla_ctx_set_adapter(g.c, b.ad, "vqa") == VLA_OK);
        VC_CHECK(vla_answer(g.c, &big, q, NULL, text, sizeof text, NULL) == VLA_ERR_RANGE);
        VC_CHECK(vla_answer(g.c, &ch.img, longq, NULL, text, sizeof text, NULL) == VLA_ERR_RANGE);
        VC_CHECK(vla_answer(g.c, NULL, q, NULL, text, sizeof text, NULL) == VLA_ERR_ARGS);
        VC_CHECK(vla_answer(g.c, &ch.img, NULL, NULL, text, sizeof text, NULL) == VLA_ERR_ARGS);
        gp = vla_gen_defaults(b.m); gp.num_beams = p.max_beams + 1; gp.max_length = 20;
        VC_CHECK(vla_caption(g.c, &ch.img, &gp, text, sizeof text, NULL) == VLA_ERR_RANGE);
        gp.num_beams = 1; gp.max_length = p.max_dec_len + 1;
        VC_CHECK(vla_caption(g.c, &ch.img, &gp, text, sizeof text, NULL) == VLA_ERR_RANGE);
        VC_CHECK(vla_ctx_set_adapter(g.c, b.ad, "nope") == VLA_ERR_NOT_FOUND);
        VC_CHECK(vla_ctx_set_adapter(g.c, b.ad, "nlvr") == VLA_OK);
        VC_CHECK(vla_verify(g.c, &ch.img, &big, stmt, &v) == VLA_ERR_RANGE);
        /* a text buffer too small: cut, NUL-terminated, full length reported, nothing past cap */
        VC_CHECK(vla_ctx_set_adapter(g.c, b.ad, "caption") == VLA_OK);
        memset(small, 0x77, sizeof small);
        st = vla_caption(g.c, &ch.img, NULL, small, 4, &len2);
        VC_CHECKF(st == VLA_ERR_NOMEM && len2 == strlen(keep_text) && small[3] == 0 && small[4] == 0x77 &&
                      !strncmp(small, keep_text, 3),
                  "st %s len %zu", vla_status_str(st), len2);
        got = vla_task_ids(g.c, 1, &n);
        VC_CHECK(same_ids(got, n, keep, n2));
        VC_CHECK(guards_ok(&g));
        /* and the context is still fine */
        VC_CHECK(vla_caption(g.c, &ch.img, NULL, text, sizeof text, NULL) == VLA_OK && !strcmp(text, keep_text));
        /* a context sized for one picture refuses verify; one without task sizing refuses all */
        s.max_pictures = 1;
        VC_CHECK(vla_task_ctx_params(&p1, b.m, &s, (const vla_adapter *const *)&b.ad, 1) == VLA_OK);
        VC_CHECK(gctx_init(&g1, b.m, &p1) == 0);
        VC_CHECK(vla_ctx_set_adapter(g1.c, b.ad, "nlvr") == VLA_OK);
        VC_CHECK(vla_verify(g1.c, &ch.img, &co.img, "x", &v) == VLA_ERR_RANGE);
        VC_CHECK(guards_ok(&g1));
        free(g1.buf);
        p1.max_picture_w = p1.max_picture_h = 0; p1.max_input_bytes = 0;
        VC_CHECK(gctx_init(&g1, b.m, &p1) == 0);
        VC_CHECK(vla_caption(g1.c, &ch.img, NULL, text, sizeof text, NULL) == VLA_ERR_STATE);
        VC_CHECK(guards_ok(&g1));
        free(g1.buf);
        s.max_pictures = 2;
    }

    vc_section("size query: the exact need runs every call, one byte less does not init");
    {
        vla_ctx *c = NULL;
        unsigned char *mem = (unsigned char *)malloc(g.need);
        vla_arena_stats as;
        VC_CHECK(vla_ctx_init(&c, b.m, &p, mem, g.need - 1 - VLA_ALIGN) == VLA_ERR_NOMEM);
        VC_CHECK(vla_ctx_init(&c, b.m, &p, mem, g.need) == VLA_OK);
        VC_CHECK(vla_ctx_set_adapter(c, b.ad, "caption") == VLA_OK && vla_caption(c, &co.img, NULL, text, sizeof text, NULL) == VLA_OK);
        VC_CHECK(vla_ctx_set_adapter(c, b.ad, "vqa") == VLA_OK && vla_answer(c, &co.img, q, NULL, text, sizeof text, NULL) == VLA_OK);
        VC_CHECK(vla_ctx_set_adapter(c, b.ad, "nlvr") == VLA_OK && vla_verify(c, &ch.img, &co.img, stmt, &v) == VLA_OK);
        as = vla_ctx_stats(c);
        VC_CHECKF(as.peak <= g.need, "peak %zu need %zu", as.peak, g.need);
        free(mem);
    }
    free(wb); free(rb);
    free(g.buf);
    pic_free(&ch); pic_free(&co);
    unbuild(&b);
}

/* ---- vla_verify_encoded on the bart_nlvr case's own inputs ---- */

static int load_case_npy(const char *rel, vla_npy *a) {
    char path[2048], err[256];
    snprintf(path, sizeof path, "%s/%s", g_fx, rel);
    if (vla_npy_load(path, a, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return -1; }
    return 0;
}

static void test_nlvr_fixture(void) {
    built b;
    vla_npy ids, feats, boxes, want, pred;
    vla_ctx_params p;
    gctx g;
    vla_input in;
    vla_verdict v[8];
    int32_t *id32;
    float *f32, *b32;
    int B, Lt, rows, F, i, grid;
    size_t nf, j;
    vc_section("vla_verify_encoded = the bart_nlvr case (logits of 'true'/'false' at position 1, prediction)");
    if (build(&b, 0, NULL, 0) != 0 || load_case_npy("bart_task_inputs/nlvr_input_ids.npy", &ids) ||
        load_case_npy("bart_task_inputs/nlvr_vis_feats.npy", &feats) || load_case_npy("bart_task_inputs/nlvr_boxes.npy", &boxes) ||
        load_case_npy("bart_nlvr/nlvr_logits.npy", &want) || load_case_npy("bart_nlvr/pred_ans_id.npy", &pred)) {
        VC_CHECK(0);
        return;
    }
    B = (int)ids.shape[0]; Lt = (int)ids.shape[1]; rows = (int)feats.shape[1]; F = (int)feats.shape[2];
    grid = rows / 2;
    VC_CHECK(B <= 8 && rows % 2 == 0 && (int)want.shape[1] == vla_model_hparams(b.m)->vocab);
    id32 = (int32_t *)malloc(sizeof(int32_t) * (size_t)B * Lt);
    f32 = (float *)malloc(sizeof(float) * (size_t)B * rows * F);
    b32 = (float *)malloc(sizeof(float) * (size_t)B * rows * 4);
    for (i = 0; i < B * Lt; i++) id32[i] = (int32_t)vla_npy_i(&ids, (size_t)i);
    nf = (size_t)B * rows * F;
    for (j = 0; j < nf; j++) f32[j] = (float)vla_npy_f(&feats, j);
    for (j = 0; j < (size_t)B * rows * 4; j++) b32[j] = (float)vla_npy_f(&boxes, j);
    memset(&p, 0, sizeof p);
    p.max_batch = B; p.max_text_len = Lt; p.max_images = 2; p.max_grid = grid; p.max_dec_len = 2; p.max_beams = 1;
    p.max_adapter_dim = vla_adapter_max_dim(b.ad); p.exec.n_threads = 1;
    VC_CHECK(gctx_init(&g, b.m, &p) == 0);
    VC_CHECK(vla_ctx_set_adapter(g.c, b.ad, "nlvr") == VLA_OK);
    VC_CHECK(vla_verify_encoded(g.c, v) == VLA_ERR_STATE); /* nothing encoded yet */
    memset(&in, 0, sizeof in);
    in.batch = B; in.text_len = Lt; in.ids = id32; in.n_images = 2; in.feats = f32; in.boxes = b32;
    for (i = 1; i * i <= grid; i++)
        if (i * i == grid) in.grid_h = in.grid_w = i;
    VC_CHECK(vla_encode(g.c, &in) == VLA_OK);
    VC_CHECK(vla_verify_encoded(g.c, v) == VLA_OK);
    for (i = 0; i < B; i++) {
        double wt = vla_npy_f(&want, (size_t)i * want.shape[1] + 60), wf = vla_npy_f(&want, (size_t)i * want.shape[1] + 73);
        VC_CHECKF(fabs(v[i].true_logit - wt) <= 8e-5 + 1e-4 * fabs(wt) && fabs(v[i].false_logit - wf) <= 8e-5 + 1e-4 * fabs(wf),
                  "example %d: true %.6f (want %.6f), false %.6f (want %.6f)", i, (double)v[i].true_logit, wt, (double)v[i].false_logit, wf);
        VC_CHECKF(v[i].is_true == (int)vla_npy_i(&pred, (size_t)i), "example %d: prediction %d, the case says %d", i, v[i].is_true,
                  (int)vla_npy_i(&pred, (size_t)i));
    }
    VC_CHECK(guards_ok(&g));
    free(g.buf); free(id32); free(f32); free(b32);
    vla_npy_free(&ids); vla_npy_free(&feats); vla_npy_free(&boxes); vla_npy_free(&want); vla_npy_free(&pred);
    unbuild(&b);
}

int main(int argc, char **argv) {
    vc_init(argc, argv);
    if (argc < 3) { fprintf(stderr, "usage: test_task FIXTURES_DIR IMAGES_DIR\n"); return 2; }
    g_fx = argv[1];
    g_img = argv[2];
    test_e2e();
    test_chains();
    test_nlvr_fixture();
    vc_selftest();
    return vc_summary();
}
