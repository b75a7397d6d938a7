/* test_export.c - the trainable part back to the official state dict.
 *
 *   test_export FIXTURES_DIR TMP_DIR
 *
 * For every fixture case with a training step (every PEFT method and full
 * fine-tuning): its official weights with the official values after step 1
 * (params_step1.safetensors: exactly the official trainable parameters,
 * named as model.named_parameters() names them) are converted, as a
 * LAST.pth would be, into a base model + adapter file; tools/vla_export.h
 * then writes the trainable set back, as safetensors and as a torch zip.
 *  - both files hold exactly params_step1's names, with its shapes and its
 *    bytes (the torch zip read back through tools/vla_torch.h's unpickler);
 *  - with the "module." prefix every name carries it;
 *  - our own converter reads the export back: the weights overlaid with the
 *    exported safetensors convert to the same base and adapter files, byte
 *    for byte.
 * The real torch.save'd LAST.pth files of the checkpoint_formats case
 * (Single Adapter and LoRA, "module." keys) go through the same round trip:
 * export with "module." = exactly the official run's trainable parameters of
 * the .pth, byte for byte.
 * LoRA merged (single and multiple LoRA, after two official training steps):
 * the merged model alone gives the encoder output and logits of the base +
 * adapter within 1e-4 (relative to the logits' scale), has a new
 * fingerprint, and the LoRA visibly changes the outputs (so a wrong merge
 * would show).
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "test_util.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "../tools/vla_convert.h"
#define VLA_TORCH_IMPLEMENTATION
#include "../tools/vla_torch.h"
#define VLA_EXPORT_IMPLEMENTATION
#include "../tools/vla_export.h"
#include "board/vla_check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *g_fx, *g_tmp;

typedef struct conv { unsigned char *g, *ag; size_t gn, agn; int n_peft; vla_json *cfg; } conv;

/* The manifest's config scalars over the checkpoint's (as vla-fixtures does). */
static vla_json *case_config(const vla_json *man, const vla_json *file_cfg) {
    const vla_json *mc = vla_json_get(man, "config");
    char err[128];
    vla_json *out = file_cfg ? vla_json_copy(file_cfg) : vla_json_parse("{}", 2, err, sizeof err);
    int i, j;
    for (i = 0; mc && out && mc->type == VLA_JSON_OBJECT && i < mc->n_kid; i++) {
        const vla_json *src = &mc->kid[i];
        vla_json *dst = NULL, *nk;
        if (src->type != VLA_JSON_NUMBER && src->type != VLA_JSON_TRUE && src->type != VLA_JSON_FALSE) continue;
        for (j = 0; j < out->n_kid; j++) if (!strcmp(out->kid[j].key, src->key)) dst = &out->kid[j];
        if (!dst) {
            if (!(nk = (vla_json *)realloc(out->kid, sizeof(vla_json) * (size_t)(out->n_kid + 1)))) continue;
            out->kid = nk;
            dst = &out->kid[out->n_kid++];
            memset(dst, 0, sizeof *dst);
            dst->key = (char *)malloc(strlen(src->key) + 1);
            strcpy(dst->key, src->key);
            dst->key_n = strlen(src->key);
        }
        free(dst->s); dst->s = NULL;
        dst->type = src->type; dst->num = src->num; dst->inum = src->inum; dst->is_int = src->is_int;
    }
    return out;
}

/* weights (+ overlay) -> base + adapter GGUF in memory. */
static int convert(const vla_json *man, const char *weights, const char *overlay, conv *o) {
    vla_conv cv, acv;
    vla_ckpt k;
    char err[512];
    int skipped, rc = -1;
    memset(o, 0, sizeof *o);
    vla_conv_init(&cv); vla_conv_init(&acv);
    cv.quiet = acv.quiet = 1;
    if (vla_ckpt_open(&k, weights, overlay, err, sizeof err) != 0) { fprintf(stderr, "%s\n", err); return -1; }
    o->cfg = case_config(man, k.config);
    if (vla_conv_bart(&cv, k.src, k.n, o->cfg, &skipped) != 0) { fprintf(stderr, "bart: %s\n", cv.err); goto out; }
    o->n_peft = vla_conv_peft(&acv, k.src, k.n, o->cfg);
    if (o->n_peft < 0) { fprintf(stderr, "peft: %s\n", acv.err); goto out; }
    cv.fingerprint = vla_conv_fingerprint(&cv);
    acv.base_fingerprint = cv.fingerprint;
    if (vla_conv_write_mem(&cv, &o->g, &o->gn) != 0) goto out;
    if (o->n_peft > 0 && vla_conv_write_mem(&acv, &o->ag, &o->agn) != 0) goto out;
    rc = 0;
out:
    vla_ckpt_close(&k);
    vla_conv_free(&cv); vla_conv_free(&acv);
    return rc;
}

static void conv_free(conv *o) { free(o->g); free(o->ag); vla_json_free(o->cfg); memset(o, 0, sizeof *o); }

/* The trainable set as the official run chose it (the rules vla-fixtures applies). */
static vla_train_params case_params(const vla_json *man, const vla_json *cfg) {
    const vla_json *flags = vla_json_get(man, "script_flags"), *tr = vla_json_get(man, "training");
    const vla_json *rule = tr ? vla_json_get(tr, "trainable_rule") : NULL;
    vla_train_params p = vla_train_defaults(NULL);
    p.train_layer_norms = vla_json_num(cfg, "unfreeze_layer_norms", 0) != 0;
    p.train_biases = vla_json_num(cfg, "use_lora", 0) != 0;
    p.full_finetune = (flags && vla_json_num(flags, "unfreeze_language_model", 0) != 0) ||
                      (rule && vla_json_num(rule, "all_parameters_trainable", 0) != 0);
    p.exec.n_threads = 1;
    return p;
}

/* Every name of want is in got with the same shape and bytes, and nothing else. */
static void compare_st(const char *what, const vla_st_file *want, const vla_st_file *got, const char *prefix) {
    int i, d, bad = 0, n_want = 0;
    size_t pl = strlen(prefix);
    char nm[512];
    for (i = 0; i < want->n; i++) {
        const vla_st_tensor *w = &want->t[i], *g;
        snprintf(nm, sizeof nm, "%s%s", prefix, w->name);
        n_want++;
        g = vla_st_find(got, nm);
        if (!g) { if (!bad++) fprintf(stderr, "  %s: %s missing\n", what, nm); continue; }
        if (g->n_dims != w->n_dims || g->nbytes != w->nbytes || memcmp(g->data, w->data, w->nbytes) != 0) {
            if (!bad++) fprintf(stderr, "  %s: %s differs\n", what, nm);
            continue;
        }
        for (d = 0; d < w->n_dims; d++)
            if (g->shape[d] != w->shape[d]) { if (!bad++) fprintf(stderr, "  %s: %s shape\n", what, nm); break; }
    }
    for (i = 0; i < got->n; i++)
        if (strncmp(got->t[i].name, prefix, pl) != 0) { if (!bad++) fprintf(stderr, "  %s: %s lacks the prefix\n", what, got->t[i].name); }
    VC_CHECKF(!bad && got->n == n_want, "%s: %d names exported, %d official, %d problems", what, got->n, n_want, bad);
}

static void compare_pth(const char *what, const vla_st_file *want, const vla_torch_file *got) {
    int i, j, d, bad = 0;
    for (i = 0; i < want->n; i++) {
        const vla_st_tensor *w = &want->t[i];
        const vla_torch_tensor *g = NULL;
        for (j = 0; j < got->n_tensors; j++) if (!strcmp(got->tensors[j].name, w->name)) { g = &got->tensors[j]; break; }
        if (!g || g->dtype != VLA_TORCH_F32 || g->n_dims != w->n_dims || g->nbytes != w->nbytes || memcmp(g->data, w->data, w->nbytes)) {
            if (!bad++) fprintf(stderr, "  %s: %s missing or different\n", what, w->name);
            continue;
        }
        for (d = 0; d < w->n_dims; d++) if (g->shape[d] != w->shape[d]) bad++;
    }
    VC_CHECKF(!bad && got->n_tensors == want->n && !strcmp(got->root_type, "OrderedDict"), "%s: %d tensors (%d official), %d problems",
              what, got->n_tensors, want->n, bad);
}

static int write_file(const char *path, const unsigned char *b, size_t n) {
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(b, 1, n, f) == n;
    if (f) fclose(f);
    return ok ? 0 : -1;
}

static void run_case(const char *name) {
    char dir[1024], mp[1200], wp[2200], pp[1200], xp[2200], err[512];
    unsigned char *mb, *pb = NULL, *sbuf = NULL, *tbuf = NULL, *sbuf2 = NULL;
    size_t mn, pn, sn = 0, tn = 0, sn2 = 0, need;
    vla_json *man;
    const vla_json *wj;
    conv a, b;
    vla_model *m = NULL;
    void *mmem = NULL;
    vla_export ex, ex2;
    vla_train_params p;
    vla_st_file want, got, got2;
    vla_torch_file tf;
    vla_status st;
    snprintf(dir, sizeof dir, "%s/%s", g_fx, name);
    snprintf(mp, sizeof mp, "%s/manifest.json", dir);
    snprintf(pp, sizeof pp, "%s/params_step1.safetensors", dir);
    vc_section(name);
    if (!(mb = vla_tool_read_file(mp, &mn, err, sizeof err)) || !(man = vla_json_parse((const char *)mb, mn, err, sizeof err))) {
        VC_CHECKF(0, "%s", err);
        free(mb);
        return;
    }
    wj = vla_json_get(vla_json_get(man, "weights"), "file");
    snprintf(wp, sizeof wp, "%s/%s", dir, wj && wj->type == VLA_JSON_STRING ? wj->s : "weights.safetensors");
    memset(&want, 0, sizeof want); memset(&got, 0, sizeof got); memset(&got2, 0, sizeof got2); memset(&tf, 0, sizeof tf);
    memset(&ex, 0, sizeof ex); memset(&ex2, 0, sizeof ex2); memset(&b, 0, sizeof b);
    if (!VC_CHECK(convert(man, wp, pp, &a) == 0)) goto out;
    st = vla_model_mem_req(a.g, a.gn, &need);
    if (st == VLA_OK && (mmem = malloc(need))) st = vla_model_init(&m, mmem, need, a.g, a.gn, NULL);
    if (!VC_CHECKF(st == VLA_OK, "model: %s", vla_status_str(st))) goto out;
    p = case_params(man, a.cfg);
    if (!VC_CHECKF(vla_export_collect(&ex, m, a.ag, a.agn, &p, "", err, sizeof err) == 0, "%s", err)) goto out;
    /* safetensors: params_step1's names, shapes and bytes */
    pb = vla_tool_read_file(pp, &pn, err, sizeof err);
    VC_CHECK(pb && vla_st_parse(&want, pb, pn, err, sizeof err) == 0);
    VC_CHECK(vla_export_safetensors(&ex, &sbuf, &sn) == 0 && vla_st_parse(&got, sbuf, sn, err, sizeof err) == 0);
    compare_st("safetensors", &want, &got, "");
    /* the torch zip, read back by the restricted unpickler */
    VC_CHECK(vla_export_pth(&ex, &tbuf, &tn) == 0);
    if (VC_CHECKF(vla_torch_open(&tf, tbuf, tn, err, sizeof err) == VLA_TORCH_OK, "torch zip: %s", err)) compare_pth("torch zip", &want, &tf);
    /* with the DDP prefix */
    VC_CHECK(vla_export_collect(&ex2, m, a.ag, a.agn, &p, "module.", err, sizeof err) == 0 &&
             vla_export_safetensors(&ex2, &sbuf2, &sn2) == 0 && vla_st_parse(&got2, sbuf2, sn2, err, sizeof err) == 0);
    compare_st("safetensors with module.", &want, &got2, "module.");
    /* our converter reads the export back: the same base and adapter files */
    snprintf(xp, sizeof xp, "%s/export_%s.safetensors", g_tmp, name);
    if (VC_CHECK(write_file(xp, sbuf, sn) == 0) && VC_CHECK(convert(man, wp, xp, &b) == 0))
        VC_CHECKF(b.gn == a.gn && !memcmp(b.g, a.g, a.gn) && b.agn == a.agn && (!a.agn || !memcmp(b.ag, a.ag, a.agn)),
                  "re-imported files differ (base %zu/%zu, adapter %zu/%zu bytes)", b.gn, a.gn, b.agn, a.agn);
    remove(xp);
out:
    vla_torch_close(&tf);
    vla_st_free(&want); vla_st_free(&got); vla_st_free(&got2);
    vla_export_free(&ex); vla_export_free(&ex2);
    free(sbuf); free(sbuf2); free(tbuf); free(pb); free(mmem); free(mb);
    conv_free(&a); conv_free(&b);
    vla_json_free(man);
}

/* ---- a real LAST.pth (torch.save of the DDP state dict) ---- */

static void run_last(const char *pth, const char *case_name) {
    char path[1200], mp[1200], err[512], nm[512];
    unsigned char *mb = NULL, *lb = NULL, *tbuf = NULL;
    size_t mn, ln, tn = 0, need;
    vla_json *man = NULL;
    const vla_json *groups;
    conv a;
    vla_model *m = NULL;
    void *mmem = NULL;
    vla_export ex;
    vla_train_params p;
    vla_torch_file orig, got;
    int g, i, j, n_want = 0, bad = 0;
    memset(&orig, 0, sizeof orig); memset(&got, 0, sizeof got); memset(&ex, 0, sizeof ex); memset(&a, 0, sizeof a);
    snprintf(nm, sizeof nm, "%s -> base + adapter -> export (module.) = its trainable part", pth);
    vc_section(nm);
    snprintf(path, sizeof path, "%s/checkpoint_formats/%s", g_fx, pth);
    snprintf(mp, sizeof mp, "%s/%s/manifest.json", g_fx, case_name);
    if (!VC_CHECK((mb = vla_tool_read_file(mp, &mn, err, sizeof err)) && (man = vla_json_parse((const char *)mb, mn, err, sizeof err)) &&
                  (lb = vla_tool_read_file(path, &ln, err, sizeof err)) && vla_torch_open(&orig, lb, ln, err, sizeof err) == VLA_TORCH_OK))
        goto out;
    if (!VC_CHECK(convert(man, path, NULL, &a) == 0)) goto out;
    VC_CHECK(vla_model_mem_req(a.g, a.gn, &need) == VLA_OK && vla_model_init(&m, mmem = malloc(need), need, a.g, a.gn, NULL) == VLA_OK);
    p = case_params(man, a.cfg);
    if (!VC_CHECKF(m && vla_export_collect(&ex, m, a.ag, a.agn, &p, "module.", err, sizeof err) == 0, "%s", err)) goto out;
    if (!VC_CHECK(vla_export_pth(&ex, &tbuf, &tn) == 0 && vla_torch_open(&got, tbuf, tn, err, sizeof err) == VLA_TORCH_OK)) goto out;
    groups = vla_json_get(vla_json_get(man, "training"), "param_groups");
    for (g = 0; groups && g < groups->n_kid; g++) {
        const vla_json *names = vla_json_get(&groups->kid[g], "trainable_params");
        for (i = 0; names && i < names->n_kid; i++) {
            const vla_torch_tensor *o = NULL, *e = NULL;
            snprintf(nm, sizeof nm, "module.%s", names->kid[i].s);
            n_want++;
            for (j = 0; j < orig.n_tensors; j++) if (!strcmp(orig.tensors[j].name, nm)) o = &orig.tensors[j];
            for (j = 0; j < got.n_tensors; j++) if (!strcmp(got.tensors[j].name, nm)) e = &got.tensors[j];
            if (!o || !e || o->nbytes != e->nbytes || o->n_dims != e->n_dims || memcmp(o->data, e->data, o->nbytes)) {
                if (!bad++) fprintf(stderr, "  %s: %s\n", nm, !o ? "not in the LAST.pth" : !e ? "not exported" : "differs");
            }
        }
    }
    VC_CHECKF(!bad && n_want > 0 && got.n_tensors == n_want, "%d exported, %d trainable in the official run, %d problems", got.n_tensors, n_want, bad);
out:
    vla_torch_close(&orig); vla_torch_close(&got);
    vla_export_free(&ex);
    free(mmem); free(mb); free(lb); free(tbuf);
    conv_free(&a);
    vla_json_free(man);
}

/* ---- LoRA merged ---- */


/* Encoder output and teacher-forced logits of one request; adapter task or
 * none. */
static vla_status lora_run(const vla_model *m, const vla_adapter *ad, const char *task, float *enc, float *logits) {
    const vla_hparams *hp = vla_model_hparams(m);
    int32_t ids[9] = {0, 11, 57, 103, 8, 250, 31, 77, 2}, dec[6] = {2, 0, 19, 44, 180, 7};
    int grid = 49, i, L = 0;
    float *feats = (float *)malloc(sizeof(float) * (size_t)grid * hp->feat_dim);
    vla_ctx_params p;
    vla_ctx *c = NULL;
    vla_input in;
    void *mem = NULL;
    size_t need;
    const float *h;
    vla_status st;
    uint32_t r = 12345u;
    for (i = 0; i < grid * hp->feat_dim; i++) { r = r * 1664525u + 1013904223u; feats[i] = (float)(r >> 8) / 16777216.0f; }
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = 9; p.max_images = 1; p.max_grid = grid; p.max_dec_len = 6; p.max_beams = 1;
    p.max_adapter_dim = ad ? vla_adapter_max_dim(ad) : 0; p.exec.n_threads = 1;
    st = vla_ctx_mem_req(m, &p, &need);
    if (st == VLA_OK) st = vla_ctx_init(&c, m, &p, mem = malloc(need), need);
    if (st == VLA_OK && ad) st = vla_ctx_set_adapter(c, ad, task);
    memset(&in, 0, sizeof in);
    in.batch = 1; in.text_len = 9; in.ids = ids; in.n_images = 1; in.grid_h = in.grid_w = 7; in.feats = feats;
    if (st == VLA_OK) st = vla_encode(c, &in);
    if (st == VLA_OK && (h = vla_encoder_output(c, 0, &L)) != NULL) memcpy(enc, h, sizeof(float) * (size_t)L * hp->d_model);
    if (st == VLA_OK) st = vla_decode_logits(c, dec, 6, logits);
    free(mem); free(feats);
    return st;
}

static void test_lora_merge(const char *name, const char *task) {
    char dir[1024], mp[1200], wp[2200], err[512], pre[64], label[160];
    unsigned char *mb;
    size_t mn, need;
    vla_json *man;
    conv a;
    vla_model *m = NULL, *mm = NULL;
    vla_adapter *ad = NULL;
    void *mmem = NULL, *amem = NULL, *mmem2 = NULL;
    membuf out = {NULL, 0, 0};
    float *e1, *e2, *l1, *l2;
    const vla_hparams *hp;
    size_t ne, nl, i;
    double worst = 0, scale = 0;
    snprintf(label, sizeof label, "LoRA merged: %s task %s = the unmerged adapter", name, task);
    vc_section(label);
    snprintf(dir, sizeof dir, "%s/%s", g_fx, name);
    snprintf(mp, sizeof mp, "%s/manifest.json", dir);
    snprintf(wp, sizeof wp, "%s/params_step2.safetensors", dir);
    if (!(mb = vla_tool_read_file(mp, &mn, err, sizeof err)) || !(man = vla_json_parse((const char *)mb, mn, err, sizeof err))) { VC_CHECK(0); free(mb); return; }
    snprintf(mp, sizeof mp, "%s/weights.safetensors", dir);
    /* the adapter after two official training steps (LoRA and every bias trained) */
    if (!VC_CHECK(convert(man, mp, wp, &a) == 0 && a.agn > 0)) goto out;
    VC_CHECK(vla_model_mem_req(a.g, a.gn, &need) == VLA_OK && vla_model_init(&m, mmem = malloc(need), need, a.g, a.gn, NULL) == VLA_OK);
    VC_CHECK(vla_adapter_mem_req(m, a.ag, a.agn, &need) == VLA_OK &&
             vla_adapter_attach(&ad, m, amem = malloc(need), need, a.ag, a.agn, NULL) == VLA_OK);
    if (!VC_CHECKF(vla_export_merge_lora(m, a.ag, a.agn, task, mem_write, &out, pre, sizeof pre, err, sizeof err) == 0, "%s", err)) goto out;
    VC_CHECK(vla_model_mem_req(out.p, out.n, &need) == VLA_OK && vla_model_init(&mm, mmem2 = malloc(need), need, out.p, out.n, NULL) == VLA_OK);
    VC_CHECK(vla_model_fingerprint(mm) != vla_model_fingerprint(m)); /* adapters of the old base must not attach */
    hp = vla_model_hparams(m);
    ne = (size_t)(9 + hp->n_boxes) * hp->d_model; nl = (size_t)6 * hp->vocab;
    e1 = (float *)calloc(ne, 4); e2 = (float *)calloc(ne, 4); l1 = (float *)calloc(nl, 4); l2 = (float *)calloc(nl, 4);
    VC_CHECK(lora_run(m, ad, task, e1, l1) == VLA_OK && lora_run(mm, NULL, NULL, e2, l2) == VLA_OK);
    for (i = 0; i < nl; i++) {
        double d = fabs((double)l1[i] - l2[i]);
        if (d > worst) worst = d;
        if (fabs(l1[i]) > scale) scale = fabs(l1[i]);
    }
    for (i = 0; i < ne; i++) { double d = fabs((double)e1[i] - e2[i]); if (d > worst) worst = d; }
    VC_CHECKF(worst <= 1e-4 * (1.0 + scale), "largest difference %.3g (logits up to %.3g)", worst, scale);
    /* and the LoRA made a difference: the base alone is far from both */
    VC_CHECK(lora_run(m, NULL, NULL, e2, l2) == VLA_OK);
    { double far = 0; for (i = 0; i < nl; i++) if (fabs((double)l1[i] - l2[i]) > far) far = fabs((double)l1[i] - l2[i]);
      VC_CHECKF(far > 1e-3, "the LoRA changes the logits by only %.3g: the test would not see a wrong merge", far); }
    printf("  %s/%s: merged into %zu bytes, largest difference %.3g, prefix '%s'\n", name, task, out.n, worst, pre);
    free(e1); free(e2); free(l1); free(l2);
out:
    if (ad) vla_adapter_detach(ad);
    free(amem); free(mmem); free(mmem2); free(out.p); free(mb);
    conv_free(&a);
    vla_json_free(man);
}

int main(int argc, char **argv) {
    static const char *cases[] = {"bart_single_adapter", "bart_multiple_adapters", "bart_half_shared_adapters", "bart_hyperformer",
                                  "bart_compacter", "bart_multiple_compacters", "bart_lora", "bart_multiple_lora",
                                  "bart_prompt", "bart_multiple_prompts", "bart_full_finetune", "bart_caption", "bart_nlvr"};
    size_t i;
    vc_init(argc, argv);
    if (argc < 3) { fprintf(stderr, "usage: test_export FIXTURES_DIR TMP_DIR\n"); return 2; }
    g_fx = argv[1];
    g_tmp = argv[2];
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(cases[i]);
    run_last("vladapter_LAST.pth", "bart_single_adapter");
    run_last("vladapter_lora_LAST.pth", "bart_lora");
    test_lora_merge("bart_lora", "vqa");
    test_lora_merge("bart_multiple_lora", "vqa");
    test_lora_merge("bart_multiple_lora", "gqa");
    vc_selftest();
    return vc_summary();
}
