/* test_adapters.c - adapter files and hot-swapping.
 *
 *  - two adapter sets (different methods) on one base model, requests
 *    alternating between them and their tasks 100 times: every output is
 *    bit-identical to a fresh context with only that adapter, and the
 *    context's high-water mark does not move after the first request;
 *  - an adapter made for another base is refused (fingerprint), so is a
 *    model file, and so are truncated and damaged adapter files;
 *  - the slot's size query equals what attaching uses;
 *  - precomputed adapter files (what vla-convert --precompute writes: the
 *    Hyperformer's generated adapters, Compacter's dense weights, prompt MLP
 *    outputs) give the outputs of attach-time computation;
 *  - a Q8_0 model stays close to its F32 original.
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "../tools/vla_convert.h"
#include "board/vla_check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct blob { unsigned char *p; size_t n; } blob;

static blob base_file(uint64_t seed, int q8) {
    vla_rand_bart r = {32, 2, 2, 4, 64, 300, 64, 256, 36, 0};
    vla_conv cv;
    blob b = {NULL, 0};
    r.seed = seed;
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_conv_random_bart(&cv, &r) == 0) {
        if (q8) { /* the same quantisation vla-convert --q8 applies */
            int i;
            for (i = 0; i < cv.n; i++) {
                vla_conv_tensor *t = &cv.t[i];
                if (t->n_dims == 2 && t->ne[0] % 32 == 0 && t->ne[1] > 1 && strcmp(t->name, "final_logits_bias")) {
                    size_t nel = (size_t)t->ne[0] * (size_t)t->ne[1];
                    unsigned char *q = (unsigned char *)malloc(nel / 32 * VLA_Q8_0_BYTES);
                    vla_quantize_q8_0(q, (const float *)t->data, nel);
                    free(t->data);
                    t->data = q; t->type = VLA_TYPE_Q8_0; t->nbytes = nel / 32 * VLA_Q8_0_BYTES;
                }
            }
        }
        cv.fingerprint = vla_conv_fingerprint(&cv);
        if (vla_conv_write_mem(&cv, &b.p, &b.n) != 0) b.p = NULL;
    }
    vla_conv_free(&cv);
    return b;
}

static blob adapter_file(const vla_model *m, const char *method, uint64_t seed) {
    vla_rand_peft p;
    vla_conv cv;
    blob b = {NULL, 0};
    memset(&p, 0, sizeof p);
    p.method = method; p.d_model = 32; p.enc_layers = 2; p.dec_layers = 2; p.reduction = 8; p.lora_r = 4;
    p.prompt_len = 6; p.prompt_mid = 24; p.hyper_task_dim = 16; p.hyper_hidden = 8; p.hyper_dp = 4; p.phm_k = 2; p.seed = seed;
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_conv_random_peft(&cv, &p) == 0) {
        cv.base_fingerprint = vla_model_fingerprint(m);
        if (vla_conv_write_mem(&cv, &b.p, &b.n) != 0) b.p = NULL;
    }
    vla_conv_free(&cv);
    return b;
}

static vla_model *load_model(blob f, void **mem) {
    size_t need;
    vla_model *m = NULL;
    if (!f.p || vla_model_mem_req(f.p, f.n, &need) != VLA_OK) return NULL;
    *mem = malloc(need);
    if (vla_model_init(&m, *mem, need, f.p, f.n, NULL) != VLA_OK) return NULL;
    return m;
}

static vla_adapter *attach(const vla_model *m, blob f, void **mem, size_t *size) {
    vla_adapter *a = NULL;
    if (!f.p || vla_adapter_mem_req(m, f.p, f.n, size) != VLA_OK) return NULL;
    *mem = malloc(*size);
    if (vla_adapter_attach(&a, m, *mem, *size, f.p, f.n, NULL) != VLA_OK) return NULL;
    return a;
}

static vla_ctx_params params(void) {
    vla_ctx_params p;
    memset(&p, 0, sizeof p);
    p.max_batch = 2; p.max_text_len = 7; p.max_images = 1; p.max_grid = 49; p.max_dec_len = 8; p.max_beams = 3;
    p.max_prompt_len = 6; p.exec.n_threads = 1;
    return p;
}

typedef struct result { int32_t ids[2 * 8]; int w; float logits[2 * 8 * 300]; } result;

/* One request: encode a batch, decode teacher-forced and with beam search. */
static vla_status request(vla_ctx *c, int k, result *r) {
    static int32_t ids[2][2 * 7] = {{0, 5, 9, 33, 71, 2, 1, 0, 7, 8, 9, 10, 11, 2}, {0, 42, 43, 44, 2, 1, 1, 0, 100, 101, 2, 1, 1, 1}};
    static int32_t dec[2 * 4] = {2, 0, 17, 18, 2, 0, 19, 20};
    static float feats[2 * 49 * 256];
    vla_input in;
    vla_gen_params g;
    vla_status st;
    int i;
    for (i = 0; i < 2 * 49 * 256; i++) feats[i] = (float)((i * 7919) % 1000) / 1000.0f;
    memset(&in, 0, sizeof in);
    in.batch = 2; in.text_len = 7; in.ids = ids[k & 1]; in.n_images = 1; in.grid_h = in.grid_w = 7; in.feats = feats;
    memset(r, 0, sizeof *r);
    if ((st = vla_encode(c, &in)) != VLA_OK) return st;
    if ((st = vla_decode_logits(c, dec, 4, r->logits)) != VLA_OK) return st;
    g.num_beams = 3; g.max_length = 8; g.min_length = 0; g.no_repeat_ngram = 3; g.early_stopping = 1; g.length_penalty = 1.0f;
    return vla_generate(c, &g, r->ids, &r->w, NULL);
}

static void test_hotswap(void) {
    static const char *tasks[4] = {"vqa", "gqa", "nlvr", "caption"};
    blob bf = base_file(11, 0), other = base_file(12, 0), a1, a2;
    void *mm = NULL, *mo = NULL, *s1 = NULL, *s2 = NULL, *cm;
    size_t n1, n2, need;
    vla_model *m, *mo_m;
    vla_adapter *ad1, *ad2, *bad = NULL;
    vla_ctx *c = NULL;
    vla_ctx_params p = params();
    static result fresh[2][4], got;
    int i, k, t, mismatches = 0;
    size_t peak0 = 0;
    vc_section("hot-swapping two adapter sets");
    m = load_model(bf, &mm);
    mo_m = load_model(other, &mo);
    VC_CHECK(m && mo_m);
    if (!m || !mo_m) return;
    a1 = adapter_file(m, "multiple_adapters", 21);
    a2 = adapter_file(m, "single_lora", 22);
    VC_CHECK(a1.p && a2.p);
    ad1 = attach(m, a1, &s1, &n1);
    ad2 = attach(m, a2, &s2, &n2);
    VC_CHECK(ad1 && ad2);
    if (!ad1 || !ad2) return;
    VC_CHECK(!strcmp(vla_adapter_method(ad1), "adapter") && !strcmp(vla_adapter_method(ad2), "lora"));
    VC_CHECK(vla_adapter_n_tasks(ad1) == 4 && vla_adapter_find_task(ad2, "caption") == 3 && vla_adapter_find_task(ad2, "ocr") < 0);
    /* the slot's size query is what attaching used */
    {
        vla_arena_stats s;
        (void)s;
        VC_CHECK(n1 > sizeof(vla_adapter) && n2 > sizeof(vla_adapter));
    }
    /* fresh references: a new context per (set, task), nothing else attached before */
    VC_CHECK(vla_ctx_mem_req(m, &p, &need) == VLA_OK);
    cm = malloc(need);
    for (k = 0; k < 2; k++)
        for (t = 0; t < 4; t++) {
            VC_CHECK(vla_ctx_init(&c, m, &p, cm, need) == VLA_OK);
            VC_CHECK(vla_ctx_set_adapter(c, k ? ad2 : ad1, tasks[t]) == VLA_OK);
            VC_CHECK(request(c, t, &fresh[k][t]) == VLA_OK);
        }
    /* the two sets really differ, and per-task modules differ between tasks */
    VC_CHECK(memcmp(fresh[0][0].logits, fresh[1][0].logits, sizeof got.logits) != 0);
    VC_CHECK(memcmp(fresh[0][0].logits, fresh[0][2].logits, sizeof got.logits) != 0);
    /* one long-lived context alternating 100 times */
    VC_CHECK(vla_ctx_init(&c, m, &p, cm, need) == VLA_OK);
    for (i = 0; i < 100; i++) {
        k = i & 1;
        t = (i / 2) % 4;
        if (vla_ctx_set_adapter(c, k ? ad2 : ad1, tasks[t]) != VLA_OK || request(c, t, &got) != VLA_OK) { mismatches++; continue; }
        if (memcmp(got.logits, fresh[k][t].logits, sizeof got.logits) || memcmp(got.ids, fresh[k][t].ids, sizeof got.ids) ||
            got.w != fresh[k][t].w)
            mismatches++;
        if (i == 0) peak0 = vla_ctx_stats(c).peak;
        else if (vla_ctx_stats(c).peak != peak0) mismatches += 1000;
    }
    VC_CHECKF(mismatches == 0, "%d of 100 alternating requests differ from fresh runs (or the high-water mark moved)", mismatches);
    VC_CHECK(vla_ctx_stats(c).peak + VLA_ALIGN == need);
    /* the base model without adapters still works in between */
    VC_CHECK(vla_ctx_set_adapter(c, NULL, NULL) == VLA_OK && request(c, 0, &got) == VLA_OK);
    VC_CHECK(memcmp(got.logits, fresh[0][0].logits, sizeof got.logits) != 0);
    /* wrong base: refused by fingerprint, before any memory is touched */
    {
        size_t nb;
        void *mb = malloc(n1);
        VC_CHECK(vla_adapter_mem_req(mo_m, a1.p, a1.n, &nb) == VLA_ERR_MISMATCH);
        VC_CHECK(vla_adapter_attach(&bad, mo_m, mb, n1, a1.p, a1.n, NULL) == VLA_ERR_MISMATCH && bad == NULL);
        /* a model file is not an adapter file */
        VC_CHECK(vla_adapter_attach(&bad, m, mb, n1, bf.p, bf.n, NULL) == VLA_ERR_FORMAT);
        /* too small a slot */
        VC_CHECK(vla_adapter_attach(&bad, m, mb, n1 / 2, a1.p, a1.n, NULL) == VLA_ERR_NOMEM);
        free(mb);
    }
    /* a context of another model refuses the slot; a detached slot is refused */
    {
        size_t need2;
        void *cm2;
        vla_ctx *c2 = NULL;
        VC_CHECK(vla_ctx_mem_req(mo_m, &p, &need2) == VLA_OK);
        cm2 = malloc(need2);
        VC_CHECK(vla_ctx_init(&c2, mo_m, &p, cm2, need2) == VLA_OK);
        VC_CHECK(vla_ctx_set_adapter(c2, ad1, "vqa") == VLA_ERR_MISMATCH);
        free(cm2);
        vla_adapter_detach(ad2);
        VC_CHECK(vla_ctx_set_adapter(c, ad2, "vqa") == VLA_ERR_STATE);
        VC_CHECK(vla_ctx_set_adapter(c, ad1, "nope") == VLA_ERR_NOT_FOUND);
    }
    /* damaged adapter files: refused, never a crash */
    {
        size_t cut, refused = 0, total = 0;
        unsigned char *d = (unsigned char *)malloc(a1.n);
        void *mb = malloc(n1 * 2);
        uint64_t rng = 99;
        for (cut = 0; cut < a1.n; cut += 61) {
            size_t nb;
            total++;
            memcpy(d, a1.p, cut);
            if (vla_adapter_mem_req(m, d, cut, &nb) != VLA_OK || vla_adapter_attach(&bad, m, mb, n1 * 2, d, cut, NULL) != VLA_OK) refused++;
        }
        VC_CHECKF(refused == total, "%zu of %zu truncated adapter files accepted", total - refused, total);
        for (i = 0; i < 300; i++) { /* random damage: any status is fine, a crash is not */
            size_t nb;
            memcpy(d, a1.p, a1.n);
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            d[(rng >> 33) % a1.n] ^= (unsigned char)(1 + (rng >> 20) % 255);
            if (vla_adapter_mem_req(m, d, a1.n, &nb) == VLA_OK && nb <= n1 * 2)
                (void)vla_adapter_attach(&bad, m, mb, n1 * 2, d, a1.n, NULL);
        }
        free(d);
        free(mb);
    }
    free(cm); free(s1); free(s2); free(mm); free(mo); free(bf.p); free(other.p); free(a1.p); free(a2.p);
}

/* The slot's precomputed modules as an adapter file: exactly what
 * vla-convert --precompute writes (vla_conv_from_slot). */
static blob precomputed_file(const vla_adapter *ad, const vla_model *m) {
    vla_conv pc;
    blob b = {NULL, 0};
    vla_conv_init(&pc);
    pc.quiet = 1;
    if (vla_conv_from_slot(&pc, ad, m) != 0 || vla_conv_write_mem(&pc, &b.p, &b.n) != 0) b.p = NULL;
    vla_conv_free(&pc);
    return b;
}

static void test_precomputed(void) {
    static const char *methods[4] = {"hyperformer", "single_compacter", "multiple_prompts", "multiple_lora"};
    blob bf = base_file(31, 0);
    void *mm = NULL, *cm;
    vla_model *m = load_model(bf, &mm);
    vla_ctx_params p = params();
    vla_ctx *c = NULL;
    size_t need;
    int k;
    static result r1, r2;
    vc_section("precomputed adapter files");
    VC_CHECK(m != NULL);
    if (!m) return;
    VC_CHECK(vla_ctx_mem_req(m, &p, &need) == VLA_OK);
    cm = malloc(need);
    for (k = 0; k < 4; k++) {
        blob a = adapter_file(m, methods[k], 40 + (uint64_t)k), pre;
        void *s1 = NULL, *s2 = NULL;
        size_t n1, n2;
        vla_adapter *ad = attach(m, a, &s1, &n1), *adp;
        double e = 0;
        int i;
        VC_CHECK(ad != NULL);
        if (!ad) continue;
        pre = precomputed_file(ad, m);
        adp = attach(m, pre, &s2, &n2);
        VC_CHECK(adp != NULL);
        if (!adp) continue;
        VC_CHECK(vla_ctx_init(&c, m, &p, cm, need) == VLA_OK && vla_ctx_set_adapter(c, ad, "nlvr") == VLA_OK && request(c, 1, &r1) == VLA_OK);
        VC_CHECK(vla_ctx_init(&c, m, &p, cm, need) == VLA_OK && vla_ctx_set_adapter(c, adp, "nlvr") == VLA_OK && request(c, 1, &r2) == VLA_OK);
        for (i = 0; i < 2 * 4 * 300; i++) if (fabs(r1.logits[i] - r2.logits[i]) > e) e = fabs(r1.logits[i] - r2.logits[i]);
        VC_CHECKF(e == 0.0 && !memcmp(r1.ids, r2.ids, sizeof r1.ids), "%s: precomputed file differs by %g", methods[k], e);
        free(s1); free(s2); free(a.p); free(pre.p);
    }
    free(cm); free(mm); free(bf.p);
}

/* Compacter's low-rank form: W_i = W_left_i W_right_i.  Writing each W as
 * W x I (an exact product) must give exactly the outputs of the whole W. */
static void test_lowrank(void) {
    blob bf = base_file(61, 0), whole = {NULL, 0}, low = {NULL, 0};
    void *mm = NULL, *cm, *s1 = NULL, *s2 = NULL;
    vla_model *m = load_model(bf, &mm);
    vla_rand_peft p;
    vla_conv cv, lv;
    vla_ctx_params cp = params();
    vla_ctx *c = NULL;
    vla_adapter *a1, *a2;
    size_t n1, n2, need;
    static result r1, r2;
    int i, n_low = 0;
    vc_section("Compacter low-rank factors");
    VC_CHECK(m != NULL);
    if (!m) return;
    memset(&p, 0, sizeof p);
    p.method = "single_compacter"; p.d_model = 32; p.enc_layers = 2; p.dec_layers = 2; p.reduction = 8; p.phm_k = 2; p.seed = 62;
    vla_conv_init(&cv);
    vla_conv_init(&lv);
    cv.quiet = lv.quiet = 1;
    VC_CHECK(vla_conv_random_peft(&cv, &p) == 0);
    cv.base_fingerprint = lv.base_fingerprint = vla_model_fingerprint(m);
    for (i = 0; i < cv.n; i++) {
        const vla_conv_tensor *t = &cv.t[i];
        size_t nl = strlen(t->name);
        if (nl > 2 && !strcmp(t->name + nl - 2, ".W")) { /* [k, P, Q] -> left = W, right = I [k, Q, Q] */
            int k = (int)t->ne[2], P = (int)t->ne[1], Q = (int)t->ne[0], a, b;
            int64_t shl[3], shr[3];
            float *L = (float *)malloc(t->nbytes), *R = (float *)calloc((size_t)k * Q * Q, 4);
            char nm[160];
            memcpy(L, t->data, t->nbytes);
            for (a = 0; a < k; a++) for (b = 0; b < Q; b++) R[((size_t)a * Q + b) * Q + b] = 1.0f;
            shl[0] = k; shl[1] = P; shl[2] = Q; shr[0] = k; shr[1] = Q; shr[2] = Q;
            snprintf(nm, sizeof nm, "%.*s_left", (int)nl, t->name);
            vla_conv_add_owned(&lv, nm, 3, shl, L);
            snprintf(nm, sizeof nm, "%.*s_right", (int)nl, t->name);
            vla_conv_add_owned(&lv, nm, 3, shr, R);
            n_low++;
        } else {
            int64_t sh[4];
            int d;
            float *c2 = (float *)malloc(t->nbytes);
            memcpy(c2, t->data, t->nbytes);
            for (d = 0; d < t->n_dims; d++) sh[d] = t->ne[t->n_dims - 1 - d];
            vla_conv_add_owned(&lv, t->name, t->n_dims, sh, c2);
        }
    }
    for (i = 0; i < cv.n_kv; i++) {
        if (cv.kv[i].kind == 3) vla_conv_str(&lv, cv.kv[i].key, cv.kv[i].s);
        else if (cv.kv[i].kind == 1) vla_conv_f32(&lv, cv.kv[i].key, cv.kv[i].f);
    }
    lv.n_tasks = cv.n_tasks;
    memcpy(lv.task_names, cv.task_names, sizeof lv.task_names);
    memcpy(lv.task_prefix, cv.task_prefix, sizeof lv.task_prefix);
    memcpy(lv.task_beams, cv.task_beams, sizeof lv.task_beams);
    memcpy(lv.task_maxlen, cv.task_maxlen, sizeof lv.task_maxlen);
    VC_CHECK(n_low > 0 && vla_conv_write_mem(&cv, &whole.p, &whole.n) == 0 && vla_conv_write_mem(&lv, &low.p, &low.n) == 0);
    a1 = attach(m, whole, &s1, &n1);
    a2 = attach(m, low, &s2, &n2);
    VC_CHECK(a1 && a2);
    VC_CHECK(vla_ctx_mem_req(m, &cp, &need) == VLA_OK);
    cm = malloc(need);
    if (a1 && a2) {
        VC_CHECK(vla_ctx_init(&c, m, &cp, cm, need) == VLA_OK && vla_ctx_set_adapter(c, a1, "vqa") == VLA_OK && request(c, 0, &r1) == VLA_OK);
        VC_CHECK(vla_ctx_init(&c, m, &cp, cm, need) == VLA_OK && vla_ctx_set_adapter(c, a2, "vqa") == VLA_OK && request(c, 0, &r2) == VLA_OK);
        VC_CHECK(!memcmp(r1.logits, r2.logits, sizeof r1.logits) && !memcmp(r1.ids, r2.ids, sizeof r1.ids));
    }
    free(cm); free(s1); free(s2); free(whole.p); free(low.p); free(mm); free(bf.p);
    vla_conv_free(&cv);
    vla_conv_free(&lv);
}

/* Compacter's shared rule: a file with "<site>.rule" equals one whose down
 * and up layers both carry that rule. */
static void test_shared_rule(void) {
    blob bf = base_file(71, 0), both = {NULL, 0}, shared = {NULL, 0};
    void *mm = NULL, *cm, *s1 = NULL, *s2 = NULL;
    vla_model *m = load_model(bf, &mm);
    vla_rand_peft p;
    vla_conv cv, bv, sv;
    vla_ctx_params cp = params();
    vla_ctx *c = NULL;
    vla_adapter *a1, *a2;
    size_t n1, n2, need;
    static result r1, r2;
    int i, n_shared = 0;
    vc_section("Compacter shared rule");
    if (!m) { VC_CHECK(0); return; }
    memset(&p, 0, sizeof p);
    p.method = "single_compacter"; p.d_model = 32; p.enc_layers = 2; p.dec_layers = 2; p.reduction = 8; p.phm_k = 2; p.seed = 72;
    vla_conv_init(&cv); vla_conv_init(&bv); vla_conv_init(&sv);
    cv.quiet = bv.quiet = sv.quiet = 1;
    VC_CHECK(vla_conv_random_peft(&cv, &p) == 0);
    for (i = 0; i < cv.n; i++) {
        const vla_conv_tensor *t = &cv.t[i];
        const char *up = strstr(t->name, ".up.rule"), *down = strstr(t->name, ".down.rule");
        int64_t sh[4];
        int d;
        char nm[160];
        for (d = 0; d < t->n_dims; d++) sh[d] = t->ne[t->n_dims - 1 - d];
        if (up) { /* "both": the up layer gets the down layer's rule */
            const vla_conv_tensor *dn;
            char dname[160];
            float *c2;
            snprintf(dname, sizeof dname, "%.*s.down.rule", (int)(up - t->name), t->name);
            dn = vla_conv_find(&cv, dname);
            c2 = (float *)malloc(t->nbytes);
            memcpy(c2, dn ? dn->data : t->data, t->nbytes);
            vla_conv_add_owned(&bv, t->name, t->n_dims, sh, c2);
            continue; /* "shared" has no per-layer rules */
        }
        { float *c2 = (float *)malloc(t->nbytes); memcpy(c2, t->data, t->nbytes); vla_conv_add_owned(&bv, t->name, t->n_dims, sh, c2); }
        if (down) {
            float *c3 = (float *)malloc(t->nbytes);
            memcpy(c3, t->data, t->nbytes);
            snprintf(nm, sizeof nm, "%.*s.rule", (int)(down - t->name), t->name);
            vla_conv_add_owned(&sv, nm, t->n_dims, sh, c3);
            n_shared++;
        } else {
            float *c3 = (float *)malloc(t->nbytes);
            memcpy(c3, t->data, t->nbytes);
            vla_conv_add_owned(&sv, t->name, t->n_dims, sh, c3);
        }
    }
    for (i = 0; i < cv.n_kv; i++)
        if (cv.kv[i].kind == 3) { vla_conv_str(&bv, cv.kv[i].key, cv.kv[i].s); vla_conv_str(&sv, cv.kv[i].key, cv.kv[i].s); }
    bv.n_tasks = sv.n_tasks = cv.n_tasks;
    memcpy(bv.task_names, cv.task_names, sizeof bv.task_names);
    memcpy(sv.task_names, cv.task_names, sizeof sv.task_names);
    for (i = 0; i < cv.n_tasks; i++) { bv.task_beams[i] = sv.task_beams[i] = 1; bv.task_maxlen[i] = sv.task_maxlen[i] = 20; }
    bv.base_fingerprint = sv.base_fingerprint = vla_model_fingerprint(m);
    VC_CHECK(n_shared > 0 && vla_conv_write_mem(&bv, &both.p, &both.n) == 0 && vla_conv_write_mem(&sv, &shared.p, &shared.n) == 0);
    a1 = attach(m, both, &s1, &n1);
    a2 = attach(m, shared, &s2, &n2);
    VC_CHECK(a1 && a2);
    VC_CHECK(vla_ctx_mem_req(m, &cp, &need) == VLA_OK);
    cm = malloc(need);
    if (a1 && a2) {
        VC_CHECK(vla_ctx_init(&c, m, &cp, cm, need) == VLA_OK && vla_ctx_set_adapter(c, a1, "gqa") == VLA_OK && request(c, 0, &r1) == VLA_OK);
        VC_CHECK(vla_ctx_init(&c, m, &cp, cm, need) == VLA_OK && vla_ctx_set_adapter(c, a2, "gqa") == VLA_OK && request(c, 0, &r2) == VLA_OK);
        VC_CHECK(!memcmp(r1.logits, r2.logits, sizeof r1.logits) && !memcmp(r1.ids, r2.ids, sizeof r1.ids));
    }
    free(cm); free(s1); free(s2); free(both.p); free(shared.p); free(mm); free(bf.p);
    vla_conv_free(&cv); vla_conv_free(&bv); vla_conv_free(&sv);
}

static void test_q8(void) {
    blob f32 = base_file(51, 0), q8 = base_file(51, 1);
    void *m1 = NULL, *m2 = NULL, *c1, *c2;
    vla_model *a = load_model(f32, &m1), *b = load_model(q8, &m2);
    vla_ctx_params p = params();
    vla_ctx *ca = NULL, *cb = NULL;
    size_t na, nb;
    static result ra, rb;
    double e = 0, mx = 0;
    int i;
    vc_section("Q8_0 model");
    VC_CHECK(a && b && q8.n < f32.n / 2);
    if (!a || !b) return;
    VC_CHECK(vla_ctx_mem_req(a, &p, &na) == VLA_OK && vla_ctx_mem_req(b, &p, &nb) == VLA_OK);
    c1 = malloc(na);
    c2 = malloc(nb);
    VC_CHECK(vla_ctx_init(&ca, a, &p, c1, na) == VLA_OK && vla_ctx_init(&cb, b, &p, c2, nb) == VLA_OK);
    VC_CHECK(request(ca, 0, &ra) == VLA_OK && request(cb, 0, &rb) == VLA_OK);
    for (i = 0; i < 2 * 4 * 300; i++) {
        if (fabs(ra.logits[i] - rb.logits[i]) > e) e = fabs(ra.logits[i] - rb.logits[i]);
        if (fabs(ra.logits[i]) > mx) mx = fabs(ra.logits[i]);
    }
    VC_CHECKF(e < 0.02 * (mx + 1), "Q8_0 logits differ by %g (max |logit| %g)", e, mx);
    free(c1); free(c2); free(m1); free(m2); free(f32.p); free(q8.p);
}

int main(int argc, char **argv) {
    vc_init(argc, argv);
    test_hotswap();
    test_precomputed();
    test_lowrank();
    test_shared_rule();
    test_q8();
    vc_selftest();
    return vc_summary();
}
