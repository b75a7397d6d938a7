/* vla-convert: real checkpoints -> vladapter GGUF model and adapter files.
 *
 *   vla-convert -o MODEL.gguf [--bart PATH] [--clip PATH] [--tokenizer DIR] ...
 *
 * PATH for --bart: a HuggingFace BART directory (config.json +
 * model.safetensors or pytorch_model.bin, and usually vocab.json/merges.txt),
 * or a single checkpoint file: a VL-Adapter LAST.pth (torch.save zip with
 * "module." keys), a pytorch_model.bin or a safetensors file.  --clip takes
 * OpenAI's TorchScript RN*.pt or a CLIP state dict (.pth / .safetensors);
 * only the visual trunk is kept, with BatchNorm folded into the convolutions.
 * All pieces go into ONE model file.  A checkpoint that holds PEFT modules
 * (adapters, Compacter, Hyperformer, LoRA, prompts) is split: the base model
 * goes to -o, the modules to --adapter-out, bound to the base by fingerprint.
 * Every file is read with bounds checks; torch pickles go through a
 * restricted unpickler that executes nothing (tools/vla_torch.h).
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "vla_convert.h"
#define VLA_TOKCONV_IMPLEMENTATION
#include "vla_tokconv.h"
#define VLA_EXPORT_IMPLEMENTATION
#include "vla_export.h"
#define VLA_QUANT_IMPLEMENTATION
#include "vla_quant.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: vla-convert -o MODEL.gguf [options]\n"
            "  --bart PATH          HF BART directory, or a checkpoint file (LAST.pth, pytorch_model.bin,\n"
            "                       *.safetensors); keys with or without \"model.\" / \"module.\"\n"
            "  --config FILE        model config JSON (default: config.json beside the checkpoint,\n"
            "                       or the safetensors metadata)\n"
            "  --clip PATH          OpenAI CLIP TorchScript .pt, or a state dict (.pth, .safetensors)\n"
            "  --image-size N       CLIP input size (default 224)\n"
            "  --tokenizer DIR      vocab.json + merges.txt (default: the BART directory, if present)\n"
            "  --vocab F --merges F the two tokenizer files explicitly\n"
            "  --no-vl-tokens       do not add VL-Adapter's 200 <extra_id_*>/<vis_extra_id_*> tokens\n"
            "                       (default: added when the embedding has 200 more rows than vocab.json)\n"
            "  --adapter-out FILE   write the checkpoint's PEFT modules to this adapter file\n"
            "  --precompute         store what attach would compute (Hyperformer's generated adapters,\n"
            "                       Compacter's dense weights, prompt MLP outputs): no hypernetwork on\n"
            "                       the board\n"
            "  --q8                 store 2-D weight matrices as Q8_0 (rows a multiple of 32)\n"
            "  --quant i8|q8_0|f16  store the weight matrices and CLIP convolutions in that type, as\n"
            "                       tools/vla-quantize does (i8: GGUF I8 + an F32 \"<name>_scale\" per row,\n"
            "                       run by the integer path); the fingerprint stays the F32 model's\n"
            "  --max-length N       generation default max_length (default: config, else 20)\n"
            "  --paper-reading      where the official code and the paper differ, follow the paper:\n"
            "                       exact GELU in adapters, the GQA prefix \"gqa: \" (the code has \"gpa: \")\n"
            "  --quiet              no progress on stderr\n"
            "\n"
            "usage: vla-convert --export OUT.safetensors|OUT.pth --model BASE.gguf [--adapter A.gguf] [options]\n"
            "  back to the official code: the trainable part (the adapter's modules, the LayerNorms,\n"
            "  biases and visual embedding its method trains; without --adapter: the whole language\n"
            "  model, as full fine-tuning trains it) under the official state-dict names, F32.\n"
            "  .pth/.bin: a torch.save zip that torch.load + load_state_dict(strict=False) take.\n"
            "  --prefix STR         put STR before every name (\"module.\" as DDP checkpoints have it)\n"
            "  --method NAME        the trainable set of NAME (adapter, compacter, hyperformer, lora,\n"
            "                       prompt, full; default: the adapter file's method, else full)\n"
            "  --no-layer-norms     the LayerNorms did not train (--unfreeze_layer_norms was off)\n"
            "  --no-visual          the visual embedding did not train\n"
            "\n"
            "usage: vla-convert --merge-lora TASK --model BASE.gguf --adapter LORA.gguf -o MERGED.gguf\n"
            "  fold TASK's LoRA (s B A into q_proj / v_proj, and the biases it trained) into a copy of\n"
            "  the base: a model file that needs no adapter (new fingerprint; the language model's\n"
            "  matrices in F32).  Requests must still carry the task's text prefix, if it has one.\n");
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static int exists(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static void tok_arrays(void *user, vla_gguf_writer *w) { vla_tokconv_add((const vla_tokconv *)user, w); }

/* Q8_0 in place: every 2-D matrix whose rows are a multiple of 32 (not the
 * LayerNorm / bias vectors, not the CLIP convolutions' 4-D kernels). */
static int quantize_q8(vla_conv *cv) {
    int i;
    double worst = 0;
    for (i = 0; i < cv->n; i++) {
        vla_conv_tensor *t = &cv->t[i];
        size_t nel, k;
        unsigned char *q;
        float *back;
        if (t->type != VLA_TYPE_F32 || t->n_dims != 2 || t->ne[0] % VLA_Q8_0_BLOCK || t->ne[1] < 2) continue;
        if (!strcmp(t->name, "final_logits_bias")) continue;
        nel = (size_t)t->ne[0] * (size_t)t->ne[1];
        q = (unsigned char *)malloc(nel / VLA_Q8_0_BLOCK * VLA_Q8_0_BYTES);
        back = (float *)malloc(sizeof(float) * (size_t)t->ne[0]);
        if (!q || !back) { free(q); free(back); snprintf(cv->err, sizeof cv->err, "out of memory"); return -1; }
        vla_quantize_q8_0(q, (const float *)t->data, nel);
        for (k = 0; k < (size_t)t->ne[1]; k++) { /* the error it makes, row by row */
            vla_mat m;
            int c;
            m.type = VLA_TYPE_Q8_0; m.rows = (int)t->ne[1]; m.cols = (int)t->ne[0]; m.data = q;
            vla_mat_row(back, &m, (int)k);
            for (c = 0; c < (int)t->ne[0]; c++) {
                double e = fabs((double)back[c] - ((const float *)t->data)[k * (size_t)t->ne[0] + (size_t)c]);
                if (e > worst) worst = e;
            }
        }
        free(back);
        free(t->data);
        t->data = q;
        t->type = VLA_TYPE_Q8_0;
        t->nbytes = nel / VLA_Q8_0_BLOCK * VLA_Q8_0_BYTES;
    }
    if (!cv->quiet) fprintf(stderr, "  Q8_0: largest weight error %.3g\n", worst);
    return 0;
}

/* --precompute: attach the adapter to the base with the library itself and
 * write what the slot computed as plain modules (vla_conv_from_slot). */
static int precompute(vla_conv *base, vla_conv *acv, const char *out_path, int quiet) {
    unsigned char *bg = NULL, *ag = NULL;
    size_t bn, an, need;
    void *mm = NULL, *am = NULL;
    vla_model *m = NULL;
    vla_adapter *ad = NULL;
    vla_conv pc;
    int rc = -1;
    vla_conv_init(&pc);
    pc.quiet = quiet;
    if (vla_conv_write_mem(base, &bg, &bn) != 0 || vla_conv_write_mem(acv, &ag, &an) != 0) goto done;
    if (vla_model_mem_req(bg, bn, &need) != VLA_OK || !(mm = malloc(need)) || vla_model_init(&m, mm, need, bg, bn, NULL) != VLA_OK) {
        fprintf(stderr, "vla-convert: --precompute: the base model does not load\n");
        goto done;
    }
    if (vla_adapter_mem_req(m, ag, an, &need) != VLA_OK || !(am = malloc(need)) ||
        vla_adapter_attach(&ad, m, am, need, ag, an, NULL) != VLA_OK) {
        fprintf(stderr, "vla-convert: --precompute: the adapter does not attach\n");
        goto done;
    }
    if (vla_conv_from_slot(&pc, ad, m) != 0 || vla_conv_write(&pc, out_path) != 0) { fprintf(stderr, "vla-convert: %s\n", pc.err); goto done; }
    if (!quiet) fprintf(stderr, "  adapter (%s, precomputed): %d tensors -> %s\n", vla_adapter_method(ad), pc.n, out_path);
    rc = 0;
done:
    vla_conv_free(&pc);
    free(am); free(mm); free(bg); free(ag);
    return rc;
}

/* vla-convert --export: (base, adapter) -> the official state dict. */
static unsigned char *load_file(const char *path, size_t *n) {
    char err[512];
    unsigned char *b = vla_tool_read_file(path, n, err, sizeof err);
    if (!b) fprintf(stderr, "vla-convert: %s\n", err);
    return b;
}

static void log_stderr(void *user, vla_log_level lvl, const char *msg) {
    (void)user;
    if (lvl <= VLA_LOG_WARN) fprintf(stderr, "vla-convert: %s\n", msg);
}

static vla_status file_write(void *user, const void *d, size_t n) {
    return fwrite(d, 1, n, (FILE *)user) == n ? VLA_OK : VLA_ERR_IO;
}

static int merge_main(int argc, char **argv) {
    const char *out = NULL, *model = NULL, *adapter = NULL, *task = NULL;
    unsigned char *mf = NULL, *af = NULL;
    size_t mn = 0, an = 0, need;
    void *mmem = NULL;
    vla_model *m = NULL;
    vla_logger lg;
    char err[512], pre[128];
    FILE *f = NULL;
    int i, rc = 1;
    vla_status st;
    lg.fn = log_stderr; lg.user = NULL;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--merge-lora") && more) task = argv[++i];
        else if (!strcmp(a, "--model") && more) model = argv[++i];
        else if (!strcmp(a, "--adapter") && more) adapter = argv[++i];
        else if (!strcmp(a, "-o") && more) out = argv[++i];
        else if (!strcmp(a, "--quiet")) continue;
        else { fprintf(stderr, "vla-convert --merge-lora: unknown or incomplete option '%s'\n", a); usage(stderr); return 2; }
    }
    if (!task || !model || !adapter || !out) { fprintf(stderr, "vla-convert --merge-lora: needs TASK, --model, --adapter and -o\n"); return 2; }
    if (!(mf = load_file(model, &mn)) || !(af = load_file(adapter, &an))) goto out;
    if ((st = vla_model_mem_req(mf, mn, &need)) != VLA_OK || !(mmem = malloc(need)) ||
        (st = vla_model_init(&m, mmem, need, mf, mn, &lg)) != VLA_OK) {
        fprintf(stderr, "vla-convert: %s is not a model file (%s)\n", model, vla_status_str(st));
        goto out;
    }
    if (!(f = fopen(out, "wb"))) { fprintf(stderr, "vla-convert: cannot write %s\n", out); goto out; }
    if (vla_export_merge_lora(m, af, an, task, file_write, f, pre, sizeof pre, err, sizeof err) != 0) {
        fprintf(stderr, "vla-convert: %s\n", err);
        goto out;
    }
    if (fclose(f) != 0) { f = NULL; fprintf(stderr, "vla-convert: cannot write %s\n", out); goto out; }
    f = NULL;
    fprintf(stderr, "vla-convert: %s: the base with task '%s' merged in%s%s%s\n", out, task, pre[0] ? "; requests need the prefix \"" : "",
            pre, pre[0] ? "\"" : "");
    rc = 0;
out:
    if (f) fclose(f);
    if (rc) remove(out);
    free(mmem); free(mf); free(af);
    return rc;
}

static int export_main(int argc, char **argv) {
    const char *out = NULL, *model = NULL, *adapter = NULL, *prefix = "", *method = NULL, *ext;
    int no_ln = 0, no_vis = 0, i, rc = 1;
    unsigned char *mf = NULL, *af = NULL, *buf = NULL;
    size_t mn = 0, an = 0, need, bn = 0;
    void *mmem = NULL;
    vla_model *m = NULL;
    vla_train_params p;
    vla_export ex;
    vla_logger lg;
    vla_gguf g;
    vla_arena ga;
    char err[512], mname[32] = "full";
    FILE *f;
    vla_status st;
    memset(&ex, 0, sizeof ex);
    lg.fn = log_stderr; lg.user = NULL;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--export") && more) out = argv[++i];
        else if (!strcmp(a, "--model") && more) model = argv[++i];
        else if (!strcmp(a, "--adapter") && more) adapter = argv[++i];
        else if (!strcmp(a, "--prefix") && more) prefix = argv[++i];
        else if (!strcmp(a, "--method") && more) method = argv[++i];
        else if (!strcmp(a, "--no-layer-norms")) no_ln = 1;
        else if (!strcmp(a, "--no-visual")) no_vis = 1;
        else if (!strcmp(a, "--quiet")) continue;
        else { fprintf(stderr, "vla-convert --export: unknown or incomplete option '%s'\n", a); usage(stderr); return 2; }
    }
    ext = out ? strrchr(out, '.') : NULL;
    if (!out || !model || !ext || (strcmp(ext, ".safetensors") && strcmp(ext, ".pth") && strcmp(ext, ".bin"))) {
        fprintf(stderr, "vla-convert --export: needs --model and an output ending in .safetensors, .pth or .bin\n");
        return 2;
    }
    if (method && strcmp(method, "adapter") && strcmp(method, "compacter") && strcmp(method, "hyperformer") && strcmp(method, "lora") &&
        strcmp(method, "prompt") && strcmp(method, "full")) {
        fprintf(stderr, "vla-convert --export: unknown --method '%s'\n", method);
        return 2;
    }
    if (!(mf = load_file(model, &mn))) goto out;
    if ((st = vla_model_mem_req(mf, mn, &need)) != VLA_OK || !(mmem = malloc(need)) ||
        (st = vla_model_init(&m, mmem, need, mf, mn, &lg)) != VLA_OK) {
        fprintf(stderr, "vla-convert: %s is not a model file (%s)\n", model, vla_status_str(st));
        goto out;
    }
    if (adapter) { /* the file's method names the trainable set */
        vla_str s;
        void *gm;
        if (!(af = load_file(adapter, &an))) goto out;
        vla_arena_init_measure(&ga);
        vla_gguf_open(&g, af, an, &ga);
        gm = malloc(ga.peak_total + VLA_ALIGN);
        vla_arena_init(&ga, gm, ga.peak_total + VLA_ALIGN);
        if (!gm || vla_gguf_open(&g, af, an, &ga) != VLA_OK || vla_gguf_get_str(&g, "vladapter.adapter.method", &s) != VLA_OK) {
            fprintf(stderr, "vla-convert: %s is not an adapter file\n", adapter);
            free(gm);
            goto out;
        }
        snprintf(mname, sizeof mname, "%.*s", (int)s.n, s.s);
        free(gm);
    }
    p = vla_train_defaults(method ? method : mname);
    if (no_ln) p.train_layer_norms = 0;
    if (no_vis) p.train_visual = 0;
    p.log = lg;
    if (vla_export_collect(&ex, m, af, an, &p, prefix, err, sizeof err) != 0) { fprintf(stderr, "vla-convert: %s\n", err); goto out; }
    if ((!strcmp(ext, ".safetensors") ? vla_export_safetensors(&ex, &buf, &bn) : vla_export_pth(&ex, &buf, &bn)) != 0) {
        fprintf(stderr, "vla-convert: out of memory writing %s\n", out);
        goto out;
    }
    if (!(f = fopen(out, "wb")) || fwrite(buf, 1, bn, f) != bn || fclose(f) != 0) {
        fprintf(stderr, "vla-convert: cannot write %s\n", out);
        goto out;
    }
    fprintf(stderr, "vla-convert: %s: %d tensors (the %s trainable set), %zu bytes\n", out, ex.n, method ? method : mname, bn);
    rc = 0;
out:
    vla_export_free(&ex);
    free(buf); free(mmem); free(mf); free(af);
    return rc;
}

int main(int argc, char **argv) {
    const char *out = NULL, *bart = NULL, *clip = NULL, *cfg_path = NULL, *tokdir = NULL, *vocab = NULL, *merges = NULL;
    const char *adapter_out = NULL;
    int paper = 0, image_size = 224, quiet = 0, vl_tokens = -1, do_q8 = 0, do_pre = 0, max_length = 0, i, rc = 1;
    char bart_file[4096], vp[4096], mp[4096], err[1024];
    vla_conv cv, acv;
    vla_ckpt ck;
    vla_json *cfg = NULL;
    vla_tokconv tc;
    int have_tok = 0, have_ck = 0, n_peft = 0, quant_to = -1;
    memset(&tc, 0, sizeof tc);
    memset(&ck, 0, sizeof ck);
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--export")) return export_main(argc, argv);
        if (!strcmp(argv[i], "--merge-lora")) return merge_main(argc, argv);
    }
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "-o") && more) out = argv[++i];
        else if (!strcmp(a, "--bart") && more) bart = argv[++i];
        else if (!strcmp(a, "--clip") && more) clip = argv[++i];
        else if (!strcmp(a, "--config") && more) cfg_path = argv[++i];
        else if (!strcmp(a, "--image-size") && more) { if (vla_tool_int_arg("vla-convert", a, argv[++i], 32, VLA_MAX_IMAGE_DIM, &image_size)) return 2; }
        else if (!strcmp(a, "--tokenizer") && more) tokdir = argv[++i];
        else if (!strcmp(a, "--vocab") && more) vocab = argv[++i];
        else if (!strcmp(a, "--merges") && more) merges = argv[++i];
        else if (!strcmp(a, "--no-vl-tokens")) vl_tokens = 0;
        else if (!strcmp(a, "--adapter-out") && more) adapter_out = argv[++i];
        else if (!strcmp(a, "--precompute")) do_pre = 1;
        else if (!strcmp(a, "--q8")) do_q8 = 1;
        else if (!strcmp(a, "--quant") && more) {
            quant_to = vla_quant_parse_type(argv[++i]);
            if (quant_to < 0 || quant_to == VLA_TYPE_F32) { fprintf(stderr, "vla-convert: --quant %s: use i8, q8_0 or f16\n", argv[i]); return 2; }
        }
        else if (!strcmp(a, "--max-length") && more) { if (vla_tool_int_arg("vla-convert", a, argv[++i], 2, 4096, &max_length)) return 2; }
        else if (!strcmp(a, "--quiet")) quiet = 1;
        else if (!strcmp(a, "--paper-reading")) paper = 1;
        else { fprintf(stderr, "vla-convert: unknown or incomplete option '%s'\n", a); usage(stderr); return 2; }
    }
    if (!out || (!bart && !clip)) { usage(stderr); return 2; }
    if (image_size < 32 || image_size % 32) { fprintf(stderr, "vla-convert: --image-size must be a positive multiple of 32\n"); return 2; }
    vla_conv_init(&cv);
    vla_conv_init(&acv);
    cv.quiet = acv.quiet = quiet;
    if (clip) {
        vla_ckpt k;
        if (!quiet) fprintf(stderr, "reading CLIP %s\n", clip);
        if (vla_ckpt_open(&k, clip, NULL, err, sizeof err) != 0) { fprintf(stderr, "vla-convert: %s: %s\n", clip, err); goto done; }
        if (vla_conv_clip(&cv, k.src, k.n, image_size) != 0) { fprintf(stderr, "vla-convert: %s: %s\n", clip, cv.err); vla_ckpt_close(&k); goto done; }
        vla_ckpt_close(&k);
    }
    if (bart) {
        int skipped = 0;
        if (is_dir(bart)) { /* a HF directory */
            snprintf(bart_file, sizeof bart_file, "%s/model.safetensors", bart);
            if (!exists(bart_file)) snprintf(bart_file, sizeof bart_file, "%s/pytorch_model.bin", bart);
            if (!exists(bart_file)) { fprintf(stderr, "vla-convert: %s has neither model.safetensors nor pytorch_model.bin\n", bart); goto done; }
            if (!tokdir && !vocab) tokdir = bart;
        } else snprintf(bart_file, sizeof bart_file, "%s", bart);
        if (!quiet) fprintf(stderr, "reading BART %s\n", bart_file);
        if (vla_ckpt_open(&ck, bart_file, NULL, err, sizeof err) != 0) { fprintf(stderr, "vla-convert: %s: %s\n", bart_file, err); goto done; }
        have_ck = 1;
        if (cfg_path) {
            size_t n;
            unsigned char *b = vla_tool_read_file(cfg_path, &n, err, sizeof err);
            if (!b || !(cfg = vla_json_parse((const char *)b, n, err, sizeof err))) { fprintf(stderr, "vla-convert: %s: %s\n", cfg_path, err); free(b); goto done; }
            free(b);
        } else if (ck.config) {
            cfg = vla_json_copy(ck.config);
        } else {
            fprintf(stderr, "vla-convert: no model config: pass --config (HF config.json, or the VL-Adapter run's config)\n");
            goto done;
        }
        if (vla_conv_bart(&cv, ck.src, ck.n, cfg, &skipped) != 0) { fprintf(stderr, "vla-convert: %s\n", cv.err); goto done; }
        if (max_length > 0) vla_conv_u32(&cv, "vladapter.gen.max_length", (uint32_t)max_length);
        n_peft = vla_conv_peft(&acv, ck.src, ck.n, cfg);
        if (n_peft < 0) { fprintf(stderr, "vla-convert: %s\n", acv.err); goto done; }
        if (n_peft > 0 && paper) {
            int t;
            vla_conv_str(&acv, "vladapter.adapter.activation", "gelu");
            for (t = 0; t < acv.n_tasks; t++)
                if (!strcmp(acv.task_prefix[t], "gpa: ")) snprintf(acv.task_prefix[t], sizeof acv.task_prefix[t], "gqa: ");
        }
        if (n_peft > 0 && !adapter_out)
            fprintf(stderr, "vla-convert: note: the checkpoint holds %d PEFT tensors; pass --adapter-out FILE to keep them\n", n_peft);
        if (!quiet) fprintf(stderr, "  BART: %d tensors, %d PEFT tensors\n", cv.n, n_peft);
    }
    if (tokdir && !vocab) {
        snprintf(vp, sizeof vp, "%s/vocab.json", tokdir);
        snprintf(mp, sizeof mp, "%s/merges.txt", tokdir);
        if (exists(vp) && exists(mp)) { vocab = vp; merges = mp; }
    }
    if (vocab) {
        const vla_conv_tensor *sh = vla_conv_find(&cv, "shared.weight");
        if (!merges) { fprintf(stderr, "vla-convert: --vocab needs --merges\n"); goto done; }
        if (vla_tokconv_load(&tc, vocab, merges, 0, err, sizeof err) != 0) { fprintf(stderr, "vla-convert: %s\n", err); goto done; }
        if (vl_tokens < 0) vl_tokens = sh && sh->ne[1] == (int64_t)tc.n_tokens + 200;
        if (vl_tokens) {
            vla_tokconv_free(&tc);
            if (vla_tokconv_load(&tc, vocab, merges, 1, err, sizeof err) != 0) { fprintf(stderr, "vla-convert: %s\n", err); goto done; }
        }
        if (sh && sh->ne[1] != tc.n_tokens)
            fprintf(stderr, "vla-convert: warning: the tokenizer has %d tokens but the embedding %lld rows\n", tc.n_tokens, (long long)sh->ne[1]);
        have_tok = 1;
        cv.add_arrays = tok_arrays;
        cv.add_arrays_user = &tc;
        cv.n_array_kv = VLA_TOKCONV_N_KV;
        if (!quiet) fprintf(stderr, "  tokenizer: %d tokens, %d merges%s\n", tc.n_tokens, tc.n_merges, vl_tokens ? " (with VL-Adapter's 200)" : "");
    }
    if (do_q8 && quantize_q8(&cv) != 0) { fprintf(stderr, "vla-convert: %s\n", cv.err); goto done; }
    cv.fingerprint = vla_conv_fingerprint(&cv);
    if (!quiet) fprintf(stderr, "writing %s\n", out);
    if (quant_to >= 0) { /* the F32 file in memory, then vla_quant_gguf */
        unsigned char *f32 = NULL, *q = NULL;
        size_t nf = 0, nq = 0;
        vla_quant_opts qo;
        vla_quant_stat qs;
        FILE *f;
        int ok;
        memset(&qo, 0, sizeof qo);
        qo.to = (vla_type)quant_to;
        ok = vla_conv_write_mem(&cv, &f32, &nf) == 0 && vla_quant_gguf(f32, nf, &qo, &q, &nq, &qs, err, sizeof err) == 0;
        free(f32);
        if (!ok) { fprintf(stderr, "vla-convert: --quant: %s\n", cv.err[0] ? cv.err : err); free(q); goto done; }
        ok = (f = fopen(out, "wb")) != NULL && fwrite(q, 1, nq, f) == nq;
        if (f && fclose(f) != 0) ok = 0;
        free(q);
        if (!ok) { fprintf(stderr, "vla-convert: cannot write %s\n", out); goto done; }
        if (!quiet)
            fprintf(stderr, "  %s: %d tensors, largest weight error %.3g, worst relative RMS %.3g\n", vla_type_name(qo.to),
                    qs.n_converted, qs.max_abs, qs.worst_rel_rms);
    } else if (vla_conv_write(&cv, out) != 0) { fprintf(stderr, "vla-convert: %s\n", cv.err); goto done; }
    if (n_peft > 0 && adapter_out) {
        acv.base_fingerprint = cv.fingerprint;
        if (do_pre) {
            if (precompute(&cv, &acv, adapter_out, quiet) != 0) goto done;
        } else {
            if (vla_conv_write(&acv, adapter_out) != 0) { fprintf(stderr, "vla-convert: %s\n", acv.err); goto done; }
            if (!quiet) fprintf(stderr, "  adapter: %d tensors -> %s\n", acv.n, adapter_out);
        }
    }
    if (!quiet) fprintf(stderr, "done: fingerprint %016llx\n", (unsigned long long)cv.fingerprint);
    rc = 0;
done:
    if (have_tok || tc.tokens) vla_tokconv_free(&tc);
    if (have_ck) vla_ckpt_close(&ck);
    vla_json_free(cfg);
    vla_conv_free(&cv);
    vla_conv_free(&acv);
    return rc;
}
