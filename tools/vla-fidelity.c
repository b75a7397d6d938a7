/* vla-fidelity: how far a quantized model is from its F32 original, on the
 * fixture cases' own inputs.
 *
 *   vla-fidelity [--to i8|q8_0|f16] [--beams N] [DIR]...     (default tests/fixtures)
 *
 * A DIR with a manifest.json is one case; otherwise each subdirectory with
 * one is.  A case is run when its manifest names BART weights ("weights" in
 * "files", or weights.file) and "input_ids" (vis_feats / boxes are used when
 * present).  The model is built as F32 in memory (config: the checkpoint's
 * config.json, else the manifest's "config"), quantized in memory with
 * tools/vla_quant.h, and both run the same inputs (the base model: PEFT
 * modules are not attached).  One line per case:
 *   <case> enc_cos=<cosine of all encoder outputs> logits_cos=<cosine of the
 *   teacher-forced logits along the F32 greedy output> greedy=<equal ids /
 *   positions> beam<N>=<equal ids / positions> weights=<worst relative RMS>
 * Cases without weights or inputs print SKIP and why.  Exit status 1 if a
 * case could not be run for another reason.
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "vla_convert.h"
#define VLA_QUANT_IMPLEMENTATION
#include "vla_quant.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct fd_model { unsigned char *gguf; size_t n; void *mem; vla_model *m; } fd_model;

static int fd_load(fd_model *f, unsigned char *gguf, size_t n) {
    size_t need;
    f->gguf = gguf;
    f->n = n;
    if (vla_model_mem_req(gguf, n, &need) != VLA_OK || !(f->mem = malloc(need))) return -1;
    return vla_model_init(&f->m, f->mem, need, gguf, n, NULL) == VLA_OK ? 0 : -1;
}

static void fd_free(fd_model *f) { free(f->mem); free(f->gguf); memset(f, 0, sizeof *f); }

/* The case file of manifest key `key` ("files"[key].file, relative to dir). */
static int fd_file(const vla_json *man, const char *dir, const char *key, char *out, size_t cap) {
    const vla_json *files = vla_json_get(man, "files"), *e = files ? vla_json_get(files, key) : NULL, *fn;
    struct stat sb;
    if (e && (fn = vla_json_get(e, "file")) != NULL && fn->type == VLA_JSON_STRING) {
        snprintf(out, cap, "%s/%s", dir, fn->s);
        return 1;
    }
    snprintf(out, cap, "%s/%s.npy", dir, key); /* a file stored in the case itself */
    if ((e || !files) && stat(out, &sb) == 0) return 1;
    if (e) { snprintf(out, cap, "%s/%s", dir, key); return stat(out, &sb) == 0; }
    return 0;
}

static double fd_cos(const float *a, const float *b, size_t n) {
    double ab = 0, aa = 0, bb = 0;
    size_t i;
    for (i = 0; i < n; i++) { ab += (double)a[i] * b[i]; aa += (double)a[i] * a[i]; bb += (double)b[i] * b[i]; }
    return aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1.0 : 0.0);
}

/* Everything one model produces for the case's inputs. */
typedef struct fd_out { float *enc, *logits; size_t enc_n; int32_t *greedy, *beam; int gw, bw; } fd_out;

static int fd_run(const vla_model *m, const vla_input *in, int beams, const int32_t *tf_ids, int T, fd_out *o) {
    const vla_hparams *hp = vla_model_hparams(m);
    vla_ctx_params p;
    vla_gen_params g;
    vla_ctx *c;
    void *mem;
    size_t need;
    int b, L = 0, ok = 0, maxlen = 20;
    memset(o, 0, sizeof *o);
    memset(&p, 0, sizeof p);
    p.max_batch = in->batch; p.max_text_len = in->text_len; p.max_images = in->n_images;
    p.max_grid = in->grid_h * in->grid_w > 0 ? in->grid_h * in->grid_w : 1;
    p.max_dec_len = maxlen; p.max_beams = beams; p.exec.n_threads = 1;
    if (vla_ctx_mem_req(m, &p, &need) != VLA_OK || !(mem = malloc(need))) return -1;
    if (vla_ctx_init(&c, m, &p, mem, need) != VLA_OK || vla_encode(c, in) != VLA_OK) goto done;
    for (b = 0; b < in->batch; b++) { /* all encoder outputs, concatenated */
        const float *e = vla_encoder_output(c, b, &L);
        float *ne = (float *)realloc(o->enc, sizeof(float) * (o->enc_n + (size_t)L * hp->d_model));
        if (!ne) goto done;
        o->enc = ne;
        memcpy(o->enc + o->enc_n, e, sizeof(float) * (size_t)L * hp->d_model);
        o->enc_n += (size_t)L * hp->d_model;
    }
    g = vla_gen_defaults(m);
    g.max_length = maxlen;
    g.num_beams = 1;
    o->greedy = (int32_t *)malloc(sizeof(int32_t) * (size_t)in->batch * maxlen);
    o->beam = (int32_t *)malloc(sizeof(int32_t) * (size_t)in->batch * maxlen);
    if (!o->greedy || !o->beam || vla_generate(c, &g, o->greedy, &o->gw, NULL) != VLA_OK) goto done;
    g.num_beams = beams;
    if (vla_encode(c, in) != VLA_OK || vla_generate(c, &g, o->beam, &o->bw, NULL) != VLA_OK) goto done;
    if (tf_ids) {
        o->logits = (float *)malloc(sizeof(float) * (size_t)in->batch * T * hp->vocab);
        if (!o->logits || vla_encode(c, in) != VLA_OK || vla_decode_logits(c, tf_ids, T, o->logits) != VLA_OK) goto done;
    }
    ok = 1;
done:
    free(mem);
    return ok ? 0 : -1;
}

static void fd_out_free(fd_out *o) { free(o->enc); free(o->logits); free(o->greedy); free(o->beam); }

/* Equal ids of two [B, maxlen] generations, over the longer width. */
static void fd_agree(const int32_t *a, int wa, const int32_t *b, int wb, int B, int *eq, int *tot) {
    int r, t, w = wa > wb ? wa : wb;
    *eq = *tot = 0;
    for (r = 0; r < B; r++)
        for (t = 0; t < w; t++) {
            int x = t < wa ? a[r * 20 + t] : -1, y = t < wb ? b[r * 20 + t] : -1;
            *eq += x == y;
            (*tot)++;
        }
}

static int fd_case(const char *dir, const char *name, vla_type to, int beams) {
    char p[2048], err[512];
    unsigned char *buf = NULL;
    size_t n = 0, nq = 0;
    vla_json *man;
    const vla_json *cfg;
    vla_ckpt ck;
    vla_conv cv;
    vla_npy ids, feats, boxes;
    int have_feats = 0, have_boxes = 0, skipped, i, rc = 1, B, Lt, T;
    fd_model fm, qm;
    fd_out fo, qo;
    vla_input in;
    int32_t *ids32 = NULL, *tf = NULL;
    unsigned char *qbuf = NULL;
    vla_quant_opts o;
    vla_quant_stat qs;
    memset(&fm, 0, sizeof fm); memset(&qm, 0, sizeof qm); memset(&fo, 0, sizeof fo); memset(&qo, 0, sizeof qo);
    memset(&ids, 0, sizeof ids); memset(&feats, 0, sizeof feats); memset(&boxes, 0, sizeof boxes);
    memset(&ck, 0, sizeof ck);
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    if (!(buf = vla_tool_read_file(p, &n, err, sizeof err)) || !(man = vla_json_parse((const char *)buf, n, err, sizeof err))) {
        printf("%-28s FAIL manifest: %s\n", name, err);
        free(buf);
        return 1;
    }
    free(buf);
    buf = NULL;
    if (!fd_file(man, dir, "weights", p, sizeof p)) {
        const vla_json *w = vla_json_get(man, "weights"), *fn = w ? vla_json_get(w, "file") : NULL;
        if (!fn || fn->type != VLA_JSON_STRING) { printf("%-28s SKIP no BART weights\n", name); vla_json_free(man); return 0; }
        snprintf(p, sizeof p, "%s/%s", dir, fn->s);
    }
    if (vla_ckpt_open(&ck, p, NULL, err, sizeof err) != 0) { printf("%-28s SKIP weights: %s\n", name, err); vla_json_free(man); return 0; }
    cfg = ck.config ? ck.config : vla_json_get(man, "config");
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (!cfg || vla_conv_bart(&cv, ck.src, ck.n, cfg, &skipped) != 0) {
        printf("%-28s SKIP not a BART checkpoint (%s)\n", name, cv.err);
        rc = 0;
        goto done;
    }
    if (!fd_file(man, dir, "input_ids", p, sizeof p) || vla_npy_load(p, &ids, err, sizeof err) != 0 || ids.n_dims != 2) {
        printf("%-28s SKIP no input_ids\n", name);
        rc = 0;
        goto done;
    }
    cv.fingerprint = vla_conv_fingerprint(&cv);
    if (vla_conv_write_mem(&cv, &buf, &n) != 0 || fd_load(&fm, buf, n) != 0) { printf("%-28s FAIL the F32 model does not load\n", name); goto done; }
    buf = NULL;
    memset(&o, 0, sizeof o);
    o.to = to;
    if (vla_quant_gguf(fm.gguf, fm.n, &o, &qbuf, &nq, &qs, err, sizeof err) != 0 || fd_load(&qm, qbuf, nq) != 0) {
        printf("%-28s FAIL quantize: %s\n", name, err);
        free(qbuf);
        goto done;
    }
    B = (int)ids.shape[0];
    Lt = (int)ids.shape[1];
    ids32 = (int32_t *)malloc(sizeof(int32_t) * ids.count + 4);
    for (i = 0; i < (int)ids.count; i++) ids32[i] = (int32_t)vla_npy_i(&ids, (size_t)i);
    memset(&in, 0, sizeof in);
    in.batch = B; in.text_len = Lt; in.ids = ids32;
    if (vla_model_hparams(fm.m)->has_visual && fd_file(man, dir, "vis_feats", p, sizeof p) &&
        vla_npy_load(p, &feats, err, sizeof err) == 0 && feats.n_dims == 3 && !strcmp(feats.descr, "<f4") &&
        feats.shape[0] == B && feats.shape[2] == vla_model_hparams(fm.m)->feat_dim) {
        int per = (int)feats.shape[1], nimg, g;
        for (nimg = 1; nimg <= 2; nimg++) { /* square grids, 1 or 2 pictures (NLVR2) */
            for (g = 1; g * g < per / nimg; g++) {}
            if (per % nimg == 0 && g * g == per / nimg) break;
        }
        if (nimg <= 2) {
            have_feats = 1;
            in.n_images = nimg; in.grid_h = in.grid_w = g; in.feats = (const float *)feats.data;
            if (fd_file(man, dir, "boxes", p, sizeof p) && vla_npy_load(p, &boxes, err, sizeof err) == 0 &&
                boxes.count == (size_t)B * per * 4 && !strcmp(boxes.descr, "<f4")) {
                have_boxes = 1;
                in.boxes = (const float *)boxes.data;
            }
        }
    }
    if (fd_run(fm.m, &in, beams, NULL, 0, &fo) != 0) { printf("%-28s FAIL the F32 model does not run these inputs\n", name); goto done; }
    T = fo.gw > 1 ? fo.gw : 2; /* teacher-forced along the F32 greedy output */
    tf = (int32_t *)malloc(sizeof(int32_t) * (size_t)B * T);
    for (i = 0; i < B * T; i++) tf[i] = fo.greedy[(i / T) * 20 + i % T];
    fd_out_free(&fo);
    if (fd_run(fm.m, &in, beams, tf, T, &fo) != 0 || fd_run(qm.m, &in, beams, tf, T, &qo) != 0) {
        printf("%-28s FAIL a model does not run\n", name);
        goto done;
    }
    {
        int ge, gt, be, bt;
        fd_agree(fo.greedy, fo.gw, qo.greedy, qo.gw, B, &ge, &gt);
        fd_agree(fo.beam, fo.bw, qo.beam, qo.bw, B, &be, &bt);
        printf("%-28s %s enc_cos=%.6f logits_cos=%.6f greedy=%d/%d beam%d=%d/%d weights_rel_rms=%.3g%s%s\n", name,
               vla_type_name(to), fd_cos(fo.enc, qo.enc, fo.enc_n), fd_cos(fo.logits, qo.logits, (size_t)B * T * vla_model_hparams(fm.m)->vocab),
               ge, gt, beams, be, bt, qs.worst_rel_rms, have_feats ? "" : " (text only)", have_feats && !have_boxes ? " (zero boxes)" : "");
    }
    rc = 0;
done:
    fd_out_free(&fo);
    fd_out_free(&qo);
    free(ids32);
    free(tf);
    vla_npy_free(&ids);
    vla_npy_free(&feats);
    vla_npy_free(&boxes);
    fd_free(&qm);
    fd_free(&fm);
    free(buf);
    vla_conv_free(&cv);
    vla_ckpt_close(&ck);
    vla_json_free(man);
    return rc;
}

static int fd_cmp(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static int fd_dir(const char *dir, vla_type to, int beams) {
    char p[2048];
    struct stat sb;
    DIR *d;
    struct dirent *e;
    char **names = NULL;
    int n = 0, i, bad = 0;
    const char *base = strrchr(dir, '/');
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    if (stat(p, &sb) == 0) return fd_case(dir, base && base[1] ? base + 1 : dir, to, beams);
    if (!(d = opendir(dir))) { fprintf(stderr, "vla-fidelity: cannot read %s\n", dir); return 1; }
    while ((e = readdir(d)) != NULL) {
        char **nn;
        if (e->d_name[0] == '.') continue;
        snprintf(p, sizeof p, "%s/%s/manifest.json", dir, e->d_name);
        if (stat(p, &sb) != 0 || !(nn = (char **)realloc(names, sizeof *names * (size_t)(n + 1)))) continue;
        names = nn;
        names[n] = (char *)malloc(strlen(e->d_name) + 1);
        strcpy(names[n++], e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, fd_cmp);
    for (i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        bad |= fd_case(p, names[i], to, beams);
        free(names[i]);
    }
    free(names);
    return bad;
}

int main(int argc, char **argv) {
    int i, t, bad = 0, ndir = 0, beams = 3;
    vla_type to = VLA_TYPE_I8;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--to") && i + 1 < argc) {
            if ((t = vla_quant_parse_type(argv[++i])) < 0 || t == VLA_TYPE_F32) { fprintf(stderr, "vla-fidelity: --to i8, q8_0 or f16\n"); return 2; }
            to = (vla_type)t;
        } else if (!strcmp(argv[i], "--beams") && i + 1 < argc) {
            if (vla_tool_int_arg("vla-fidelity", "--beams", argv[++i], 1, 16, &beams)) return 2;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: vla-fidelity [--to i8|q8_0|f16] [--beams N] [DIR]...\n");
            return 0;
        }
    }
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--to") || !strcmp(argv[i], "--beams")) { i++; continue; }
        bad |= fd_dir(argv[i], to, beams);
        ndir++;
    }
    if (!ndir) bad |= fd_dir("tests/fixtures", to, beams);
    return bad;
}
