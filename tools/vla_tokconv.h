/* tools/vla_tokconv.h - BART's vocab.json + merges.txt -> the tokenizer keys
 * of a GGUF file (host side: malloc and stdio are fine here).
 *
 *   #include "vladapter.h"
 *   #include "tools/vla_tool.h"              (JSON parser, file reader)
 *   #define VLA_TOKCONV_IMPLEMENTATION       in exactly one .c file
 *   #include "tools/vla_tokconv.h"
 *
 *   vla_tokconv tc;
 *   char err[256];
 *   if (vla_tokconv_load(&tc, "vocab.json", "merges.txt", 1, err, sizeof err) != 0) { puts(err); ... }
 *   vla_gguf_writer_init(&w, &arena, VLA_TOKCONV_N_KV + other keys, n_tensors, 32);
 *   vla_tokconv_add(&tc, &w);                // arrays are referenced, not copied:
 *   ... vla_gguf_write(&w, fn, user) ...     // keep tc alive until written
 *   vla_tokconv_free(&tc);
 *
 * The keys written are described in vladapter.h, section [D11] "Tokenizer" (GGUF KEYS).
 * With add_vl_tokens = 1, VL-Adapter's 200 added tokens are appended:
 * <extra_id_99>..<extra_id_0> = ids n..n+99, then <vis_extra_id_99>..
 * <vis_extra_id_0> = ids n+100..n+199 (n = 50265 for BART: 50265..50464),
 * as user-defined tokens that strip the whitespace on both sides; <mask>
 * strips the whitespace on its left.
 *
 * Everything is validated, with a message naming the file, line/id and
 * token: vocab.json must be one object of token -> integer id with ids
 * 0..n-1 each exactly once, no token twice, every token spelled in GPT-2's
 * byte alphabet, all 256 one-byte tokens and <s> <pad> </s> <unk> <mask>
 * present (and, with add_vl_tokens, no added token already there).
 * merges.txt must start with its "#version" header line (the official reader
 * always drops line 1), end with a newline (it drops what follows the last
 * one), and hold one rule "A B" per line (one space, no CR) whose parts and
 * result AB are ordinary vocab tokens, no rule twice.
 * Functions return 0 on success, -1 with a message in err.
 */
#ifndef VLA_TOKCONV_H
#define VLA_TOKCONV_H

#ifndef VLADAPTER_H
#error "include vladapter.h before tools/vla_tokconv.h"
#endif
#ifndef VLA_TOOL_H
#error "include tools/vla_tool.h before tools/vla_tokconv.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifndef VLA_TOKEN_NORMAL /* token types (ggml's numbering), as in vladapter.h [D11] */
#define VLA_TOKEN_NORMAL 1
#define VLA_TOKEN_UNKNOWN 2
#define VLA_TOKEN_CONTROL 3
#define VLA_TOKEN_USER_DEFINED 4
#endif

#define VLA_TOKCONV_N_KV 14            /* keys vla_tokconv_add writes          */
#define VLA_TOKCONV_N_VL 200           /* VL-Adapter's added tokens            */
#define VLA_TOKCONV_MAX ((1 << 22) - VLA_TOKCONV_N_VL) /* tokens, merges: the reader's limit */

typedef struct vla_tokconv {
    int n_tokens;          /* all ids (base + added)                         */
    int n_base;            /* ids from vocab.json                            */
    int n_merges;
    vla_str *tokens;       /* [n_tokens] spellings (into the owned buffers)  */
    int32_t *types;        /* [n_tokens] VLA_TOKEN_* values (1, 3, 4)        */
    vla_str *merges;       /* [n_merges] "A B" (into merges_text)            */
    int32_t *lstrip, *rstrip; /* strip lists (ids)                          */
    int n_lstrip, n_rstrip;
    uint32_t bos, eos, pad, unk, mask;
    /* owned storage */
    vla_json *vocab;
    char *merges_text;
    char *added_text;
    uint32_t *index;       /* hash of spellings -> id + 1                     */
    uint32_t index_cap;
} vla_tokconv;

/* Read and validate the two files. */
int vla_tokconv_load(vla_tokconv *tc, const char *vocab_path, const char *merges_path, int add_vl_tokens, char *err,
                     size_t err_len);
/* The same from memory (the texts are copied; they need no NUL). */
int vla_tokconv_parse(vla_tokconv *tc, const char *vocab_json, size_t vocab_len, const char *merges_txt,
                      size_t merges_len, int add_vl_tokens, char *err, size_t err_len);
/* Add the tokenizer keys (VLA_TOKCONV_N_KV of them) to w.  Errors are kept in
 * w->err as for every writer call. */
void vla_tokconv_add(const vla_tokconv *tc, vla_gguf_writer *w);
/* Id of a spelling (vocab.json form, or the added token's text), or -1. */
int vla_tokconv_find(const vla_tokconv *tc, const char *s, size_t n);
void vla_tokconv_free(vla_tokconv *tc);

#ifdef __cplusplus
}
#endif
#endif /* VLA_TOKCONV_H */

#ifdef VLA_TOKCONV_IMPLEMENTATION
#ifndef VLA_TOKCONV_IMPLEMENTATION_DONE
#define VLA_TOKCONV_IMPLEMENTATION_DONE
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>

static int vla_tokconv__fail(char *err, size_t n, const char *fmt, ...) {
    va_list ap;
    if (err && n) {
        va_start(ap, fmt);
        vsnprintf(err, n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* A token for a message: at most 40 bytes, control bytes as '?'. */
static const char *vla_tokconv__show(const char *s, size_t n, char *buf) {
    size_t i, k = n < 40 ? n : 40;
    for (i = 0; i < k; i++) buf[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
    if (n > k) { buf[k++] = '.'; buf[k++] = '.'; buf[k++] = '.'; }
    buf[k] = 0;
    return buf;
}

static uint32_t vla_tokconv__hash(const char *a, size_t an, const char *b, size_t bn) {
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < an; i++) { h ^= (unsigned char)a[i]; h *= 16777619u; }
    for (i = 0; i < bn; i++) { h ^= (unsigned char)b[i]; h *= 16777619u; }
    return h;
}

/* Id spelled a||b, or -1; with ins >= 0 insert it when absent. */
static int vla_tokconv__lookup(vla_tokconv *tc, const char *a, size_t an, const char *b, size_t bn, int ins) {
    uint32_t m = tc->index_cap - 1, h = vla_tokconv__hash(a, an, b, bn) & m;
    while (tc->index[h]) {
        const vla_str *t = &tc->tokens[tc->index[h] - 1];
        if (t->n == an + bn && memcmp(t->s, a, an) == 0 && (bn == 0 || memcmp(t->s + an, b, bn) == 0))
            return (int)tc->index[h] - 1;
        h = (h + 1) & m;
    }
    if (ins >= 0) tc->index[h] = (uint32_t)ins + 1;
    return -1;
}

int vla_tokconv_find(const vla_tokconv *tc, const char *s, size_t n) {
    return tc->index ? vla_tokconv__lookup((vla_tokconv *)tc, s, n, s, 0, -1) : -1;
}

/* Offset of the first character of s that is not in GPT-2's byte alphabet
 * (U+0021-007E, U+00A1-00AC, U+00AE-0143), or n; *cp gets it (or a byte). */
static size_t vla_tokconv__alpha_bad(const char *s, size_t n, unsigned *cp) {
    size_t i = 0;
    while (i < n) {
        unsigned c = (unsigned char)s[i], v;
        if (c < 0x80) {
            if (c < 0x21 || c > 0x7E) { *cp = c; return i; }
            i++;
            continue;
        }
        if (c < 0xC2 || c > 0xDF || i + 1 >= n || ((unsigned char)s[i + 1] & 0xC0) != 0x80) { *cp = c; return i; }
        v = ((c & 0x1Fu) << 6) | ((unsigned char)s[i + 1] & 0x3Fu);
        if (v < 0xA1 || v == 0xAD || v > 0x143) { *cp = v; return i; }
        i += 2;
    }
    return n;
}

static uint32_t vla_tokconv__pow2(size_t n) {
    uint32_t c = 16;
    while (c < 2 * n) c <<= 1;
    return c;
}

static int vla_tokconv__vocab(vla_tokconv *tc, const char *text, size_t len, int add_vl, char *err, size_t el) {
    static const char *const specials[5] = {"<s>", "<pad>", "</s>", "<unk>", "<mask>"};
    uint32_t *special_id[5];
    char jerr[200], show[48], show2[48];
    const vla_json *root;
    int i, n, k;
    tc->vocab = vla_json_parse(text, len, jerr, sizeof jerr);
    if (!tc->vocab) return vla_tokconv__fail(err, el, "vocab.json: %s", jerr);
    root = tc->vocab;
    if (root->type != VLA_JSON_OBJECT) return vla_tokconv__fail(err, el, "vocab.json: not a JSON object of token -> id");
    n = root->n_kid;
    if (n < 256 || n > VLA_TOKCONV_MAX)
        return vla_tokconv__fail(err, el, "vocab.json: %d tokens (expected 256 .. %d)", n, VLA_TOKCONV_MAX);
    tc->n_base = n;
    tc->n_tokens = n + (add_vl ? VLA_TOKCONV_N_VL : 0);
    tc->tokens = (vla_str *)calloc((size_t)tc->n_tokens, sizeof(vla_str));
    tc->types = (int32_t *)calloc((size_t)tc->n_tokens, sizeof(int32_t));
    tc->index_cap = vla_tokconv__pow2((size_t)tc->n_tokens);
    tc->index = (uint32_t *)calloc(tc->index_cap, sizeof(uint32_t));
    if (!tc->tokens || !tc->types || !tc->index) return vla_tokconv__fail(err, el, "out of memory");
    /* ids 0..n-1, each once */
    for (i = 0; i < n; i++) {
        const vla_json *e = &root->kid[i];
        int64_t id = e->inum;
        if (e->type != VLA_JSON_NUMBER || !e->is_int)
            return vla_tokconv__fail(err, el, "vocab.json: the id of token \"%s\" is not an integer",
                                     vla_tokconv__show(e->key, e->key_n, show));
        if (id < 0 || id >= n)
            return vla_tokconv__fail(err, el,
                                     "vocab.json: token \"%s\" has id %lld; with %d tokens the ids must be 0..%d "
                                     "without gaps",
                                     vla_tokconv__show(e->key, e->key_n, show), (long long)id, n, n - 1);
        if (tc->tokens[id].s)
            return vla_tokconv__fail(err, el, "vocab.json: id %d is used by \"%s\" and \"%s\"", (int)id,
                                     vla_tokconv__show(tc->tokens[id].s, tc->tokens[id].n, show),
                                     vla_tokconv__show(e->key, e->key_n, show2));
        if (e->key_n == 0 || e->key_n > 65535)
            return vla_tokconv__fail(err, el, "vocab.json: token with id %d is empty or longer than 65535 bytes", (int)id);
        tc->tokens[id].s = e->key;
        tc->tokens[id].n = e->key_n;
        tc->types[id] = VLA_TOKEN_NORMAL;
    }
    /* spelled in the byte alphabet, no token twice */
    for (i = 0; i < n; i++) {
        unsigned cp = 0;
        const vla_str *t = &tc->tokens[i];
        size_t bad = vla_tokconv__alpha_bad(t->s, t->n, &cp);
        if (bad != t->n)
            return vla_tokconv__fail(err, el,
                                     "vocab.json: token %d \"%s\" has U+%04X at byte %u, which is not a character of "
                                     "GPT-2's byte-level alphabet",
                                     i, vla_tokconv__show(t->s, t->n, show), cp, (unsigned)bad);
        k = vla_tokconv__lookup(tc, t->s, t->n, t->s, 0, i);
        if (k >= 0)
            return vla_tokconv__fail(err, el, "vocab.json: token \"%s\" appears twice (ids %d and %d)",
                                     vla_tokconv__show(t->s, t->n, show), k, i);
    }
    /* the 256 one-byte tokens */
    for (i = 0; i < 256; i++) {
        char u[2];
        unsigned cp = (unsigned)i;
        size_t un;
        if (i <= 0x20) cp = 0x100 + (unsigned)i;
        else if (i >= 0x7F && i <= 0xA0) cp = 0x121 + (unsigned)(i - 0x7F);
        else if (i == 0xAD) cp = 0x143;
        if (cp < 0x80) { u[0] = (char)cp; un = 1; }
        else { u[0] = (char)(0xC0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3F)); un = 2; }
        if (vla_tokconv__lookup(tc, u, un, u, 0, -1) < 0)
            return vla_tokconv__fail(err, el, "vocab.json: the one-byte token for byte 0x%02X (U+%04X) is missing", i, cp);
    }
    /* BART's special tokens */
    special_id[0] = &tc->bos; special_id[1] = &tc->pad; special_id[2] = &tc->eos; special_id[3] = &tc->unk;
    special_id[4] = &tc->mask;
    for (i = 0; i < 5; i++) {
        k = vla_tokconv__lookup(tc, specials[i], strlen(specials[i]), "", 0, -1);
        if (k < 0)
            return vla_tokconv__fail(err, el,
                                     "vocab.json has no \"%s\" (BART's <s> <pad> </s> <unk> <mask> are required)",
                                     specials[i]);
        *special_id[i] = (uint32_t)k;
        tc->types[k] = VLA_TOKEN_CONTROL;
    }
    /* VL-Adapter's added tokens and the strip lists */
    tc->lstrip = (int32_t *)calloc(1 + VLA_TOKCONV_N_VL, sizeof(int32_t));
    tc->rstrip = (int32_t *)calloc(VLA_TOKCONV_N_VL, sizeof(int32_t));
    if (!tc->lstrip || !tc->rstrip) return vla_tokconv__fail(err, el, "out of memory");
    tc->lstrip[tc->n_lstrip++] = (int32_t)tc->mask; /* "a <mask>": the space before <mask> goes */
    if (add_vl) {
        char *p = tc->added_text = (char *)malloc(VLA_TOKCONV_N_VL * 20);
        if (!p) return vla_tokconv__fail(err, el, "out of memory");
        for (i = 0; i < VLA_TOKCONV_N_VL; i++) {
            int id = n + i, m = sprintf(p, i < 100 ? "<extra_id_%d>" : "<vis_extra_id_%d>", 99 - i % 100);
            tc->tokens[id].s = p;
            tc->tokens[id].n = (size_t)m;
            tc->types[id] = VLA_TOKEN_USER_DEFINED;
            if (vla_tokconv__lookup(tc, p, (size_t)m, p, 0, id) >= 0)
                return vla_tokconv__fail(err, el, "vocab.json already has \"%s\"; cannot add VL-Adapter's tokens", p);
            tc->lstrip[tc->n_lstrip++] = id;
            tc->rstrip[tc->n_rstrip++] = id;
            p += m + 1;
        }
    }
    return 0;
}

static int vla_tokconv__merges(vla_tokconv *tc, const char *text, size_t len, char *err, size_t el) {
    char show[48];
    size_t i, start, n_lines = 0;
    uint64_t *pairs;
    uint32_t cap;
    int line = 1;
    tc->merges_text = (char *)malloc(len + 1);
    if (!tc->merges_text) return vla_tokconv__fail(err, el, "out of memory");
    memcpy(tc->merges_text, text, len);
    tc->merges_text[len] = 0;
    text = tc->merges_text;
    if (len < 8 || memcmp(text, "#version", 8) != 0)
        return vla_tokconv__fail(err, el,
                                 "merges.txt: line 1 must be the \"#version: ...\" header (the official reader always "
                                 "skips line 1)");
    if (text[len - 1] != '\n')
        return vla_tokconv__fail(err, el,
                                 "merges.txt does not end with a newline (the official reader would drop its last line)");
    for (i = 0; i < len; i++) n_lines += text[i] == '\n';
    if (n_lines - 1 > (size_t)VLA_TOKCONV_MAX) return vla_tokconv__fail(err, el, "merges.txt: too many rules");
    tc->merges = (vla_str *)calloc(n_lines, sizeof(vla_str));
    cap = vla_tokconv__pow2(n_lines);
    pairs = (uint64_t *)calloc(cap, sizeof(uint64_t));
    if (!tc->merges || !pairs) { free(pairs); return vla_tokconv__fail(err, el, "out of memory"); }
    i = 0;
    while (text[i] != '\n') i++; /* the header */
    start = ++i;
    for (; i < len; i++) {
        const char *s = text + start, *sp;
        size_t n = i - start, an;
        int l, r, res;
        uint64_t key;
        uint32_t h;
        if (text[i] != '\n') continue;
        line++;
        sp = (const char *)memchr(s, ' ', n);
        an = sp ? (size_t)(sp - s) : 0;
        if (memchr(s, '\r', n)) {
            free(pairs);
            return vla_tokconv__fail(err, el, "merges.txt line %d: carriage return (convert CRLF line ends to LF)", line);
        }
        if (!sp || an == 0 || an + 1 >= n || memchr(sp + 1, ' ', n - an - 1)) {
            free(pairs);
            return vla_tokconv__fail(err, el, "merges.txt line %d: \"%s\" is not \"A B\" (two tokens, one space)", line,
                                     vla_tokconv__show(s, n, show));
        }
        l = vla_tokconv__lookup(tc, s, an, s, 0, -1);
        r = vla_tokconv__lookup(tc, sp + 1, n - an - 1, s, 0, -1);
        res = vla_tokconv__lookup(tc, s, an, sp + 1, n - an - 1, -1);
        if (l < 0 || r < 0 || res < 0 || tc->types[l] != VLA_TOKEN_NORMAL || tc->types[r] != VLA_TOKEN_NORMAL ||
            tc->types[res] != VLA_TOKEN_NORMAL) {
            const char *which = l < 0 || tc->types[l] != VLA_TOKEN_NORMAL   ? "its first part"
                                : r < 0 || tc->types[r] != VLA_TOKEN_NORMAL ? "its second part"
                                                                            : "its result";
            free(pairs);
            return vla_tokconv__fail(err, el, "merges.txt line %d: \"%s\": %s is not an ordinary token of vocab.json",
                                     line, vla_tokconv__show(s, n, show), which);
        }
        key = ((uint64_t)(uint32_t)l << 32 | (uint32_t)r) + 1;
        h = vla_tokconv__hash((const char *)&key, sizeof key, "", 0) & (cap - 1);
        while (pairs[h] && pairs[h] != key) h = (h + 1) & (cap - 1);
        if (pairs[h] == key) {
            free(pairs);
            return vla_tokconv__fail(err, el, "merges.txt line %d: rule \"%s\" appears twice", line,
                                     vla_tokconv__show(s, n, show));
        }
        pairs[h] = key;
        tc->merges[tc->n_merges].s = s;
        tc->merges[tc->n_merges].n = n;
        tc->n_merges++;
        start = i + 1;
    }
    free(pairs);
    return 0;
}

int vla_tokconv_parse(vla_tokconv *tc, const char *vocab_json, size_t vocab_len, const char *merges_txt,
                      size_t merges_len, int add_vl_tokens, char *err, size_t err_len) {
    memset(tc, 0, sizeof *tc);
    if (err && err_len) err[0] = 0;
    if (vla_tokconv__vocab(tc, vocab_json, vocab_len, add_vl_tokens, err, err_len) != 0 ||
        vla_tokconv__merges(tc, merges_txt, merges_len, err, err_len) != 0) {
        vla_tokconv_free(tc);
        return -1;
    }
    return 0;
}

int vla_tokconv_load(vla_tokconv *tc, const char *vocab_path, const char *merges_path, int add_vl_tokens, char *err,
                     size_t err_len) {
    size_t vn = 0, mn = 0;
    unsigned char *v, *m = NULL;
    int rc;
    memset(tc, 0, sizeof *tc);
    v = vla_tool_read_file(vocab_path, &vn, err, err_len);
    if (v) m = vla_tool_read_file(merges_path, &mn, err, err_len);
    if (!v || !m) { free(v); free(m); return -1; }
    rc = vla_tokconv_parse(tc, (const char *)v, vn, (const char *)m, mn, add_vl_tokens, err, err_len);
    free(v);
    free(m);
    return rc;
}

void vla_tokconv_add(const vla_tokconv *tc, vla_gguf_writer *w) {
    vla_gguf_add_str(w, "tokenizer.ggml.model", "gpt2", 4);
    vla_gguf_add_str(w, "tokenizer.ggml.pre", "gpt-2", 5);
    vla_gguf_add_arr(w, "tokenizer.ggml.tokens", VLA_GGUF_STRING, tc->tokens, (uint64_t)tc->n_tokens);
    vla_gguf_add_arr(w, "tokenizer.ggml.token_type", VLA_GGUF_I32, tc->types, (uint64_t)tc->n_tokens);
    vla_gguf_add_arr(w, "tokenizer.ggml.merges", VLA_GGUF_STRING, tc->merges, (uint64_t)tc->n_merges);
    vla_gguf_add_u32(w, "tokenizer.ggml.bos_token_id", tc->bos);
    vla_gguf_add_u32(w, "tokenizer.ggml.eos_token_id", tc->eos);
    vla_gguf_add_u32(w, "tokenizer.ggml.unknown_token_id", tc->unk);
    vla_gguf_add_u32(w, "tokenizer.ggml.padding_token_id", tc->pad);
    vla_gguf_add_u32(w, "tokenizer.ggml.mask_token_id", tc->mask);
    vla_gguf_add_bool(w, "tokenizer.ggml.add_bos_token", 1);
    vla_gguf_add_bool(w, "tokenizer.ggml.add_eos_token", 1);
    vla_gguf_add_arr(w, "vladapter.tokenizer.lstrip_ids", VLA_GGUF_I32, tc->lstrip, (uint64_t)tc->n_lstrip);
    vla_gguf_add_arr(w, "vladapter.tokenizer.rstrip_ids", VLA_GGUF_I32, tc->rstrip, (uint64_t)tc->n_rstrip);
}

void vla_tokconv_free(vla_tokconv *tc) {
    vla_json_free(tc->vocab);
    free(tc->tokens);
    free(tc->types);
    free(tc->merges);
    free(tc->lstrip);
    free(tc->rstrip);
    free(tc->merges_text);
    free(tc->added_text);
    free(tc->index);
    memset(tc, 0, sizeof *tc);
}

#endif /* VLA_TOKCONV_IMPLEMENTATION_DONE */
#endif /* VLA_TOKCONV_IMPLEMENTATION */
