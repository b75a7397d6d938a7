/* tests/fuzz/fuzz_gguf.c - any GGUF file through the reader's public API
 * ([D5]) and, when it has tokenizer keys, the tokenizer tables built from it
 * ([D11] vla_tokenizer_init) with a short encode / decode.  Much faster per
 * input than fuzz_model, so the GGUF and tokenizer-file validation get most
 * of the executions (small files: a tokenizer-only GGUF is a few KB).
 *
 * Properties checked besides memory safety:
 *   - a measuring open and a real open agree, and the real one takes no more
 *     than the measured bytes;
 *   - every key and tensor is found by name, with the same entry, both with
 *     the tables and by the table-less scan (after a measuring open);
 *   - string-array items and tensor data lie inside the file;
 *   - the tokenizer builds in exactly its size query (peak) and keeps its
 *     persistent bytes; encoded ids are inside the vocabulary.
 * Seeds: tests/fuzz/corpus/gguf (make_corpus.c: tokenizer-only files, small
 * adapter and model files).
 */
#define VLADAPTER_IMPLEMENTATION
#include "../../vladapter.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int inside(const unsigned char *file, size_t size, const void *p, uint64_t n) {
    const unsigned char *q = (const unsigned char *)p;
    return q >= file && q <= file + size && n <= (uint64_t)(file + size - q);
}

/* Does a GGUF that a measuring open accepted (so every length in it is
 * valid) repeat a key or a tensor name?  -1: too many entries to check. */
static uint64_t rd64(const unsigned char *p) {
    uint64_t v = 0;
    int k;
    for (k = 7; k >= 0; k--) v = (v << 8) | p[k];
    return v;
}

static uint32_t rd32(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static int same_name(const unsigned char *a, uint64_t an, const unsigned char *b, uint64_t bn) {
    return an == bn && !memcmp(a, b, (size_t)an);
}

static int repeats_a_name(const unsigned char *p) {
    static const unsigned scalar[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    const unsigned char *name[4096];
    uint64_t len[4096], n_t = rd64(p + 8), n_kv = rd64(p + 16), i, j, k;
    size_t pos = 24;
    if (n_t > 4096 || n_kv > 4096) return -1;
    for (i = 0; i < n_kv; i++) {
        uint32_t type;
        len[i] = rd64(p + pos);
        name[i] = p + pos + 8;
        pos += 8 + (size_t)len[i];
        type = rd32(p + pos);
        pos += 4;
        if (type == VLA_GGUF_STRING) pos += 8 + (size_t)rd64(p + pos);
        else if (type == VLA_GGUF_ARRAY) {
            uint32_t at = rd32(p + pos);
            uint64_t n = rd64(p + pos + 4);
            pos += 12;
            if (at >= 13 || at == VLA_GGUF_ARRAY) return -1;
            if (at == VLA_GGUF_STRING)
                for (k = 0; k < n; k++) pos += 8 + (size_t)rd64(p + pos);
            else
                pos += (size_t)(n * scalar[at]);
        } else if (type < 13)
            pos += scalar[type];
        else
            return -1;
        for (j = 0; j < i; j++)
            if (same_name(name[j], len[j], name[i], len[i])) return 1;
    }
    for (i = 0; i < n_t; i++) {
        uint32_t nd;
        len[i] = rd64(p + pos);
        name[i] = p + pos + 8;
        pos += 8 + (size_t)len[i];
        nd = rd32(p + pos);
        pos += 4 + 8 * (size_t)nd + 4 + 8;
        for (j = 0; j < i; j++)
            if (same_name(name[j], len[j], name[i], len[i])) return 1;
    }
    return 0;
}

static void tokenizer(const vla_gguf *g) {
    static const char *texts[3] = {"Hello world! caf\xc3\xa9 <mask>", "vqa: what is <extra_id_0> it?  \n", "\xff\xfe <s>x</s><pad>"};
    size_t persistent = 0, peak = 0, len;
    vla_tokenizer *tok = NULL;
    vla_tokenizer_info info;
    vla_arena a, sa;
    vla_arena_stats s;
    void *mem, *sm;
    vla_status st;
    int k;
    st = vla_tokenizer_mem_req(g, &persistent, &peak);
    fz_note("tokenizer size query: %s (%zu / %zu bytes)", vla_status_str(st), persistent, peak);
    if (st != VLA_OK || peak > FZ_MEM_CAP) return;
    mem = malloc(peak + VLA_ALIGN);
    vla_arena_init(&a, mem, peak + VLA_ALIGN);
    st = vla_tokenizer_init(&tok, g, &a);
    fz_note("tokenizer init: %s", vla_status_str(st));
    FZ_ASSERT(st != VLA_ERR_NOMEM, "tokenizer init in its queried %zu bytes ran out", peak);
    if (st != VLA_OK) { free(mem); return; }
    s = vla_arena_get_stats(&a);
    FZ_ASSERT(s.peak <= peak + VLA_ALIGN && s.persistent <= persistent + VLA_ALIGN, "tokenizer took %zu / %zu, query said %zu / %zu",
              s.persistent, s.peak, persistent, peak);
    info = vla_tokenizer_get_info(tok);
    FZ_ASSERT(info.n_tokens > 0 && info.n_base <= info.n_tokens && info.bos >= 0 && info.bos < info.n_tokens, "info %d %d %d",
              info.n_tokens, info.n_base, info.bos);
    sm = malloc(vla_tokenize_scratch_size(64) + 2 * VLA_ALIGN);
    for (k = 0; k < 3; k++) {
        int32_t ids[80];
        int n = 0, i;
        char out[160];
        vla_arena_init(&sa, sm, vla_tokenize_scratch_size(64) + 2 * VLA_ALIGN);
        st = vla_tokenize(tok, &sa, texts[k], strlen(texts[k]), 1, k & 1, 0, ids, 80, &n);
        FZ_ASSERT(st == VLA_OK, "tokenize text %d: %s", k, vla_status_str(st));
        for (i = 0; i < n; i++) FZ_ASSERT(ids[i] >= 0 && ids[i] < info.n_tokens, "id %d of %d", (int)ids[i], info.n_tokens);
        st = vla_detokenize(tok, ids, n, k == 1, k != 0, out, sizeof out, &len);
        FZ_ASSERT(st == VLA_OK || st == VLA_ERR_NOMEM, "detokenize: %s", vla_status_str(st));
    }
    for (k = 0; k < info.n_tokens && k < 300; k += 7) {
        vla_str sp;
        unsigned char b[64];
        int type;
        FZ_ASSERT(vla_tokenizer_token(tok, k, &sp, &type) == VLA_OK && sp.n > 0, "token %d", k);
        FZ_ASSERT(inside(g->data, g->size, sp.s, sp.n), "token %d spelling outside the file", k);
        st = vla_tokenizer_token_bytes(tok, k, b, sizeof b, &len);
        FZ_ASSERT(st == VLA_OK || (st == VLA_ERR_NOMEM && len > sizeof b), "token_bytes %d: %s", k, vla_status_str(st));
    }
    free(sm);
    free(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    unsigned char *file;
    vla_arena m, a;
    vla_gguf gm, g;
    size_t need;
    void *mem;
    vla_status st;
    uint64_t i;
    if (size > ((size_t)4 << 20)) return 0;
    file = fz_aligned_copy(data, size);
    vla_arena_init_measure(&m);
    st = vla_gguf_open(&gm, file, size, &m);
    if (st != VLA_OK) {
        FZ_ASSERT(st == VLA_ERR_FORMAT || st == VLA_ERR_VERSION || st == VLA_ERR_UNSUPPORTED, "open: %s", vla_status_str(st));
        fz_aligned_free(file);
        return 0;
    }
    need = vla_arena_get_stats(&m).peak;
    FZ_ASSERT(need <= FZ_MEM_CAP, "tables of %zu bytes for a %zu-byte file", need, size);
    mem = malloc(need + VLA_ALIGN);
    vla_arena_init(&a, mem, need + VLA_ALIGN);
    st = vla_gguf_open(&g, file, size, &a);
    if (st == VLA_ERR_FORMAT && repeats_a_name(file) != 0) { /* duplicates: only a real open has the tables to see them */
        fz_note("a repeated key or tensor name: refused by the real open only");
        free(mem);
        fz_aligned_free(file);
        return 0;
    }
    FZ_ASSERT(st == VLA_OK, "the measuring open passed, the real one says %s", vla_status_str(st));
    FZ_ASSERT(vla_arena_get_stats(&a).peak <= need, "open took %zu bytes, measured %zu", vla_arena_get_stats(&a).peak, need);
    FZ_ASSERT(g.n_kv == gm.n_kv && g.n_tensors == gm.n_tensors && g.blob_offset == gm.blob_offset, "the two opens disagree");
    for (i = 0; i < g.n_kv; i++) {
        const vla_gguf_kv *kv = &g.kv[i];
        vla_gguf_kv k1, k2;
        char key[512];
        uint32_t u;
        float f;
        int b;
        vla_str sv;
        FZ_ASSERT(inside(file, size, kv->key.s, kv->key.n) && inside(file, size, kv->val, kv->val_bytes), "kv %llu outside the file",
                  (unsigned long long)i);
        if (kv->key.n >= sizeof key || memchr(kv->key.s, 0, kv->key.n)) continue;
        memcpy(key, kv->key.s, kv->key.n);
        key[kv->key.n] = 0;
        /* the first entry of that name, with the tables and by the scan */
        FZ_ASSERT(vla_gguf_get_kv(&g, key, &k1) == VLA_OK && vla_gguf_get_kv(&gm, key, &k2) == VLA_OK, "'%s' not found", key);
        FZ_ASSERT(k1.val == k2.val && k1.type == k2.type && k1.val_bytes == k2.val_bytes, "'%s': tables and scan disagree", key);
        (void)vla_gguf_get_u32(&g, key, &u);
        (void)vla_gguf_get_f32(&g, key, &f);
        (void)vla_gguf_get_bool(&g, key, &b);
        if (vla_gguf_get_str(&g, key, &sv) == VLA_OK) FZ_ASSERT(inside(file, size, sv.s, sv.n), "'%s': string outside", key);
        if (kv->type == VLA_GGUF_ARRAY && kv->arr_type == VLA_GGUF_STRING) {
            size_t pos = 0;
            uint64_t items = 0;
            while (vla_gguf_arr_next_str(kv, &pos, &sv)) {
                FZ_ASSERT(inside(file, size, sv.s, sv.n), "'%s': item %llu outside", key, (unsigned long long)items);
                items++;
            }
            FZ_ASSERT(items == kv->arr_n, "'%s': %llu of %llu items", key, (unsigned long long)items, (unsigned long long)kv->arr_n);
        }
    }
    for (i = 0; i < g.n_tensors; i++) {
        const vla_tensor *t = &g.tensors[i];
        vla_tensor t1, t2;
        vla_mat w;
        char name[512];
        FZ_ASSERT(inside(file, size, t->data, t->nbytes) && inside(file, size, t->name.s, t->name.n), "tensor %llu outside the file",
                  (unsigned long long)i);
        FZ_ASSERT((size_t)((const unsigned char *)t->data - file) % g.alignment == 0, "tensor %llu misaligned",
                  (unsigned long long)i);
        if (t->name.n < sizeof name && !memchr(t->name.s, 0, t->name.n)) {
            memcpy(name, t->name.s, t->name.n);
            name[t->name.n] = 0;
            FZ_ASSERT(vla_gguf_get_tensor(&g, name, &t1) == VLA_OK && vla_gguf_get_tensor(&gm, name, &t2) == VLA_OK, "'%s' not found",
                      name);
            FZ_ASSERT(t1.data == t2.data && t1.nbytes == t2.nbytes && t1.type == t2.type, "'%s': tables and scan disagree", name);
        }
        if (vla_tensor_as_mat(t, &w) == VLA_OK && w.rows > 0 && w.cols > 0 && w.cols <= 65536 &&
            (w.type != VLA_TYPE_Q8_0 || w.cols % VLA_Q8_0_BLOCK == 0)) {
            float *row = (float *)malloc(sizeof(float) * (size_t)w.cols);
            vla_mat_row(row, &w, w.rows - 1); /* the last row: the end of the data */
            free(row);
        }
    }
    {
        vla_gguf_kv km;
        if (vla_gguf_get_kv(&g, "tokenizer.ggml.model", &km) == VLA_OK) tokenizer(&g);
    }
    free(mem);
    fz_aligned_free(file);
    return 0;
}
