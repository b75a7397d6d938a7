/* tests/fuzz/make_corpus.c - writes the GGUF seed files of the fuzz corpora
 * (the committed files under tests/fuzz/corpus/ came from it):
 *
 *   model/        tiny VL-BART files: the adapter harness's base, a text-only
 *                 one, one with a small byte-level BPE tokenizer (the 256
 *                 byte tokens, the first merges of the fixtures' merges.txt
 *                 that close over themselves, BART's specials and the 200
 *                 VL tokens), one with a tiny CLIP trunk, F16 and Q8_0 ones
 *   adapter/      adapter files for the adapter harness's base: the ten
 *                 methods of the paper's scripts (vla_conv_random_peft), the
 *                 five methods with custom task lists (vla_random_adapter),
 *                 and precomputed files (vla_conv_from_slot)
 *   train_state/  trainer states of the trainer-state harness's trainer
 *                 after 0, 1 and 2 steps
 *   gguf/         tokenizer-only files (the tiny tokenizer with and without
 *                 the VL tokens) and a small model and adapter file
 *
 *   make_corpus [CORPUS_DIR [FIXTURES_DIR]]   (tests/fuzz/corpus, tests/fixtures)
 *
 * Deterministic: the same bytes on every run, so regenerating does not churn
 * the repository (and the seeds stay bound to the harnesses' base model).
 */
#define VLADAPTER_IMPLEMENTATION
#include "../../vladapter.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "../../tools/vla_convert.h"
#define VLA_RANDOM_IMPLEMENTATION
#include "../../tools/vla_random.h"
#define VLA_TOKCONV_IMPLEMENTATION
#include "../../tools/vla_tokconv.h"
#include "fuzz_common.h"

#include <sys/stat.h>

static const char *g_out;
static int g_files;

static void put(const char *sub, const char *name, const fz_blob *b) {
    char path[4096];
    if (!b->p) fz_die("%s/%s: nothing to write", sub, name);
    snprintf(path, sizeof path, "%s/%s", g_out, sub);
    mkdir(path, 0777);
    snprintf(path, sizeof path, "%s/%s/%s", g_out, sub, name);
    if (fz_write(path, b->p, b->n) != 0) fz_die("cannot write %s", path);
    printf("%8zu  %s\n", b->n, path);
    g_files++;
}

static fz_blob conv_blob(vla_conv *cv) {
    fz_blob b = {NULL, 0};
    if (vla_conv_write_mem(cv, &b.p, &b.n) != 0) fz_die("writing a file: %s", cv->err);
    return b;
}

/* ---- a tiny tokenizer: vocab.json and merges.txt text, then parsed ---- */

typedef struct sbuf { char *p; size_t n, cap; } sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = (char *)realloc(b->p, b->cap);
        if (!b->p) fz_die("out of memory");
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }

/* GPT-2's byte alphabet: byte -> code point. */
static unsigned byte_cp(int c) {
    int k = 0, b;
    if ((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174) return (unsigned)c;
    for (b = 0; b < c; b++)
        if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) k++;
    return 256u + (unsigned)k;
}

static size_t utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2; /* the alphabet stays below U+0800 */
}

#define MAX_SPELL 4096
static char g_spell[MAX_SPELL][64];
static int g_n_spell;

static int have(const char *s, size_t n) {
    int i;
    for (i = 0; i < g_n_spell; i++)
        if (strlen(g_spell[i]) == n && !memcmp(g_spell[i], s, n)) return 1;
    return 0;
}

static void json_key(sbuf *b, const char *s, int id) {
    char num[32];
    sb_str(b, b->n > 1 ? ", \"" : "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') sb_put(b, "\\", 1);
        sb_put(b, s, 1);
    }
    snprintf(num, sizeof num, "\": %d", id);
    sb_str(b, num);
}

/* vocab.json + merges.txt with n_merges rules taken from the real merges.txt
 * in order, skipping any whose parts are not tokens yet. */
static void tiny_tokenizer(const char *fixtures, int n_merges, int add_vl, vla_tokconv *tc) {
    char path[4096], err[512];
    fz_blob real;
    sbuf vocab = {NULL, 0, 0}, merges = {NULL, 0, 0};
    const char *p, *end;
    int i, id = 0, taken = 0;
    g_n_spell = 0;
    snprintf(path, sizeof path, "%s/tokenizer/merges.txt", fixtures);
    real = fz_read(path);
    if (!real.p) fz_die("cannot read %s", path);
    sb_str(&vocab, "{");
    json_key(&vocab, "<s>", id++);
    json_key(&vocab, "<pad>", id++);
    json_key(&vocab, "</s>", id++);
    json_key(&vocab, "<unk>", id++);
    for (i = 0; i < 256; i++) {
        char s[8];
        size_t n = utf8(s, byte_cp(i));
        s[n] = 0;
        memcpy(g_spell[g_n_spell++], s, n + 1);
        json_key(&vocab, s, id++);
    }
    sb_str(&merges, "#version: 0.2\n");
    p = (const char *)real.p;
    end = p + real.n;
    p = memchr(p, '\n', (size_t)(end - p));
    while (p && ++p < end && taken < n_merges) {
        const char *nl = memchr(p, '\n', (size_t)(end - p)), *sp;
        size_t len;
        if (!nl) break;
        len = (size_t)(nl - p);
        sp = memchr(p, ' ', len);
        if (sp && len < 60 && have(p, (size_t)(sp - p)) && have(sp + 1, (size_t)(nl - sp - 1))) {
            char joined[64];
            size_t a = (size_t)(sp - p), c = (size_t)(nl - sp - 1);
            memcpy(joined, p, a);
            memcpy(joined + a, sp + 1, c);
            joined[a + c] = 0;
            if (!have(joined, a + c)) {
                memcpy(g_spell[g_n_spell++], joined, a + c + 1);
                json_key(&vocab, joined, id++);
            }
            sb_put(&merges, p, len + 1);
            taken++;
        }
        p = nl;
    }
    json_key(&vocab, "<mask>", id++);
    sb_str(&vocab, "}");
    if (vla_tokconv_parse(tc, vocab.p, vocab.n, merges.p, merges.n, add_vl, err, sizeof err) != 0) fz_die("tiny tokenizer: %s", err);
    free(vocab.p);
    free(merges.p);
    free(real.p);
}

static void tok_arrays(void *user, vla_gguf_writer *w) { vla_tokconv_add((const vla_tokconv *)user, w); }

/* A GGUF holding only the tokenizer keys. */
static fz_blob tokenizer_file(const vla_tokconv *tc) {
    vla_gguf_writer w;
    vla_arena a;
    fz_blob b = {NULL, 0};
    void *mem = malloc((size_t)1 << 20);
    vla_arena_init(&a, mem, (size_t)1 << 20);
    if (vla_gguf_writer_init(&w, &a, VLA_TOKCONV_N_KV, 0, 32) != VLA_OK) fz_die("gguf writer");
    vla_tokconv_add(tc, &w);
    if (vla_gguf_write(&w, fz_blob_write, &b) != VLA_OK) fz_die("writing a tokenizer file");
    free(mem);
    return b;
}

/* ---- model files ---- */

static void to_f16(vla_conv *cv) {
    int i;
    for (i = 0; i < cv->n; i++) {
        vla_conv_tensor *t = &cv->t[i];
        if (t->n_dims == 2 && strcmp(t->name, "final_logits_bias")) {
            size_t nel = (size_t)t->ne[0] * (size_t)t->ne[1], k;
            uint16_t *h = (uint16_t *)malloc(nel * 2 + 2);
            for (k = 0; k < nel; k++) h[k] = vla_fp32_to_fp16(((const float *)t->data)[k]);
            free(t->data);
            t->data = h;
            t->type = VLA_TYPE_F16;
            t->nbytes = nel * 2;
        }
    }
}

static void to_q8(vla_conv *cv) {
    int i;
    for (i = 0; i < cv->n; i++) {
        vla_conv_tensor *t = &cv->t[i];
        if (t->n_dims == 2 && t->ne[0] % 32 == 0 && t->ne[1] > 1 && strcmp(t->name, "final_logits_bias")) {
            size_t nel = (size_t)t->ne[0] * (size_t)t->ne[1];
            unsigned char *q = (unsigned char *)malloc(nel / 32 * VLA_Q8_0_BYTES);
            vla_quantize_q8_0(q, (const float *)t->data, nel);
            free(t->data);
            t->data = q;
            t->type = VLA_TYPE_Q8_0;
            t->nbytes = nel / 32 * VLA_Q8_0_BYTES;
        }
    }
}

/* kind: 0 plain, 1 F16, 2 Q8_0 */
static fz_blob model(vla_rand_bart r, const vla_tokconv *tc, int clip_width, int kind) {
    vla_conv cv;
    fz_blob b;
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (clip_width) {
        vla_rand_clip rc;
        memset(&rc, 0, sizeof rc);
        rc.layers[0] = rc.layers[1] = rc.layers[2] = rc.layers[3] = 1;
        rc.width = clip_width;
        rc.image_size = 32;
        rc.seed = 3;
        if (vla_random_clip(&cv, &rc) != 0) fz_die("random CLIP: %s", cv.err);
    }
    if (vla_conv_random_bart(&cv, &r) != 0) fz_die("random BART: %s", cv.err);
    if (kind == 1) to_f16(&cv);
    if (kind == 2) to_q8(&cv);
    if (tc) {
        cv.add_arrays = tok_arrays;
        cv.add_arrays_user = (void *)tc;
        cv.n_array_kv = VLA_TOKCONV_N_KV;
    }
    cv.fingerprint = vla_conv_fingerprint(&cv);
    b = conv_blob(&cv);
    vla_conv_free(&cv);
    return b;
}

static vla_model *load(const fz_blob *f, void **mem) {
    size_t need;
    vla_model *m = NULL;
    if (vla_model_mem_req(f->p, f->n, &need) != VLA_OK || !(*mem = malloc(need)) ||
        vla_model_init(&m, *mem, need, f->p, f->n, NULL) != VLA_OK)
        fz_die("a generated model does not load");
    return m;
}

static void check_loads(const fz_blob *f) {
    void *mem = NULL;
    vla_model *m = load(f, &mem);
    fz_run_model(m, NULL, NULL);
    free(mem);
}

static void models(const char *fixtures) {
    /* d_model, enc, dec, heads, ffn, vocab, max_pos, feat_dim, n_boxes, seed */
    vla_rand_bart small = {8, 1, 1, 2, 16, 32, 16, 8, 4, 1}, text = {8, 1, 2, 2, 12, 24, 12, 0, 0, 2};
    vla_rand_bart q8 = {32, 1, 1, 2, 32, 40, 12, 32, 4, 3}, withtok = small, withclip = small;
    vla_tokconv tc;
    fz_blob b;
    b = fz_make_base(); put("model", "base_d16.gguf", &b); check_loads(&b); free(b.p);
    b = model(small, NULL, 0, 0); put("model", "small.gguf", &b); check_loads(&b); free(b.p);
    b = model(text, NULL, 0, 0); put("model", "text_only.gguf", &b); check_loads(&b); free(b.p);
    b = model(small, NULL, 0, 1); put("model", "small_f16.gguf", &b); check_loads(&b); free(b.p);
    b = model(q8, NULL, 0, 2); put("model", "small_q8.gguf", &b); check_loads(&b); free(b.p);
    tiny_tokenizer(fixtures, 40, 1, &tc);
    withtok.vocab = tc.n_tokens;
    withtok.seed = 4;
    b = model(withtok, &tc, 0, 0); put("model", "tokenizer.gguf", &b); check_loads(&b); free(b.p);
    b = tokenizer_file(&tc); put("gguf", "tokenizer_vl.gguf", &b); free(b.p);
    b = model(small, NULL, 0, 1); put("gguf", "small_f16.gguf", &b); free(b.p);
    withclip.feat_dim = 32 * 2; /* the trunk's grid channels: 32 x width */
    withclip.n_boxes = 1;       /* a 32-pixel picture gives a 1 x 1 grid */
    withclip.seed = 5;
    b = model(withclip, NULL, 2, 0); put("model", "clip.gguf", &b); check_loads(&b); free(b.p);
    vla_tokconv_free(&tc);
    tiny_tokenizer(fixtures, 12, 0, &tc); /* plain BART (no added tokens), fewer merges */
    b = tokenizer_file(&tc); put("gguf", "tokenizer_plain12.gguf", &b); free(b.p);
    vla_tokconv_free(&tc);
}

/* ---- adapter files for the base of fuzz_adapter ---- */

static void adapters(void) {
    static const char *peft[10] = {"multiple_adapters", "half_shared_adapters", "single_adapter", "hyperformer", "multiple_compacters",
                                   "single_compacter", "multiple_lora", "single_lora", "multiple_prompts", "single_prompt"};
    static const char *rnd[5] = {"adapter", "compacter", "hyperformer", "lora", "prompt"};
    static const char *pre[3] = {"hyperformer", "single_compacter", "single_prompt"};
    fz_blob base, b;
    void *mem = NULL;
    vla_model *m = fz_load_base(&base, &mem);
    char name[128];
    int i;
    for (i = 0; i < 10; i++) {
        b = fz_make_peft(m, peft[i], 100 + (uint64_t)i);
        snprintf(name, sizeof name, "%s.gguf", peft[i]);
        put("adapter", name, &b);
        if (i == 9) put("gguf", name, &b);
        free(b.p);
    }
    for (i = 0; i < 5; i++) {
        b = fz_make_random_adapter(m, rnd[i], i % 2 ? 1 : 3, i % 2, i == 4 ? 1 : 4, i % 3, 200 + (uint64_t)i);
        snprintf(name, sizeof name, "random_%s.gguf", rnd[i]);
        put("adapter", name, &b);
        free(b.p);
    }
    for (i = 0; i < 3; i++) { /* what vla-convert --precompute writes */
        fz_blob src = fz_make_peft(m, pre[i], 300 + (uint64_t)i);
        size_t need;
        void *slot;
        vla_adapter *a = NULL;
        vla_conv pc;
        if (vla_adapter_mem_req(m, src.p, src.n, &need) != VLA_OK || !(slot = malloc(need)) ||
            vla_adapter_attach(&a, m, slot, need, src.p, src.n, NULL) != VLA_OK)
            fz_die("%s does not attach", pre[i]);
        vla_conv_init(&pc);
        pc.quiet = 1;
        if (vla_conv_from_slot(&pc, a, m) != 0) fz_die("precompute %s: %s", pre[i], pc.err);
        b = conv_blob(&pc);
        snprintf(name, sizeof name, "precomputed_%s.gguf", pre[i]);
        put("adapter", name, &b);
        vla_conv_free(&pc);
        free(b.p);
        free(slot);
        free(src.p);
    }
    free(mem);
    free(base.p);
}

/* ---- trainer states ---- */

static void states(void) {
    fz_blob base, ad, st;
    void *mem = NULL, *tmem;
    vla_model *m = fz_load_base(&base, &mem);
    vla_train_params p = fz_train_params();
    vla_trainer *t = NULL;
    fz_tbatch tb;
    size_t need;
    float loss;
    int k;
    ad = fz_train_adapter(m);
    if (!ad.p || vla_trainer_mem_req(m, ad.p, ad.n, &p, &need) != VLA_OK || !(tmem = malloc(need)) ||
        vla_trainer_init(&t, m, ad.p, ad.n, &p, tmem, need) != VLA_OK)
        fz_die("the fuzz trainer does not start");
    fz_tbatch_make(&tb, m);
    for (k = 0; k < 3; k++) {
        char name[64];
        if (k) {
            if (vla_trainer_step(t, &tb.b, &loss, NULL) != VLA_OK) fz_die("a training step failed");
            vla_trainer_cursor(t)[0] = (uint64_t)k;
            vla_trainer_cursor(t)[3] = 0x4E49415254414C56ull;
        }
        st.p = NULL;
        st.n = 0;
        if (vla_trainer_save_state(t, fz_blob_write, &st) != VLA_OK) fz_die("save_state failed");
        snprintf(name, sizeof name, "state_step%d.gguf", k);
        put("train_state", name, &st);
        free(st.p);
    }
    free(tmem);
    free(ad.p);
    free(mem);
    free(base.p);
}

int main(int argc, char **argv) {
    const char *fixtures = argc > 2 ? argv[2] : "tests/fixtures";
    g_out = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    mkdir(g_out, 0777);
    models(fixtures);
    adapters();
    states();
    printf("%d files\n", g_files);
    return 0;
}
