/* tests/fuzz/fuzz_tokenize.c - text -> ids with BART's real vocabulary and
 * VL-Adapter's 200 added tokens (vla_tokenize), then ids -> text.
 *
 * Input: one flag byte, then the text (any bytes: invalid UTF-8 is allowed).
 *   bit 0  add_special (<s> ... </s>)
 *   bit 1  use_added_tokens (VL-Adapter's tokenizer)
 *   bits 2-4  max_length: 0 (none), 1, 2, 3, 5, 8, 13, 20
 * Properties checked besides memory safety:
 *   - every id is in [0, n_tokens); with add_special the ids are
 *     <s> ... </s>; with max_length M > 0 there are at most max(M, 2) ids;
 *   - too small an id buffer gives VLA_ERR_NOMEM, the full count and the
 *     same leading ids;
 *   - round trip, where [D11] guarantees one: for valid UTF-8 that is not
 *     blank (Python whitespace only) and holds none of the five special
 *     spellings, plain BART (no added tokens, no truncation, no specials)
 *     decodes back to the exact text (skip_special 0, clean-up 0); and when
 *     the text holds no "extra_id_" either, VL-Adapter's tokenizer gives the
 *     same ids as plain BART.
 * The tokenizer comes from VLA_FUZZ_FIXTURES (default tests/fixtures).
 */
#define VLADAPTER_IMPLEMENTATION
#include "../../vladapter.h"
#define VLA_TOOL_IMPLEMENTATION
#include "../../tools/vla_tool.h"
#define VLA_TOKCONV_IMPLEMENTATION
#include "../../tools/vla_tokconv.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const vla_tokenizer *g_tok;
static vla_tokenizer_info g_info;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    g_tok = fz_load_bart_tokenizer();
    g_info = vla_tokenizer_get_info(g_tok);
    return 0;
}

/* Code point of the UTF-8 sequence at s[i] (strict: no overlongs, no
 * surrogates, <= U+10FFFF), advancing *i; -1 if invalid. */
static long utf8_next(const unsigned char *s, size_t n, size_t *i) {
    unsigned c = s[*i], need, k;
    unsigned long cp, min;
    if (c < 0x80) { (*i)++; return (long)c; }
    if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; min = 0x10000; }
    else return -1;
    for (k = 1; k <= need; k++) {
        if (*i + k >= n || (s[*i + k] & 0xC0) != 0x80) return -1;
        cp = (cp << 6) | (s[*i + k] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return -1;
    *i += need + 1;
    return (long)cp;
}

/* Python's str.isspace() set: White_Space plus U+001C..U+001F. */
static int py_space(long cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static int contains(const unsigned char *s, size_t n, const char *pat) {
    size_t m = strlen(pat), i;
    for (i = 0; i + m <= n; i++)
        if (!memcmp(s + i, pat, m)) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const int max_lens[8] = {0, 1, 2, 3, 5, 8, 13, 20};
    const unsigned char *text;
    size_t len, sn, i;
    int add_special, use_added, max_length, n = 0, n2 = 0, cap, k;
    int32_t *ids, *ids2;
    void *scratch;
    vla_arena a;
    vla_status st;
    if (size < 1 || size > ((size_t)1 << 20)) return 0;
    add_special = data[0] & 1;
    use_added = (data[0] >> 1) & 1;
    max_length = max_lens[(data[0] >> 2) & 7];
    text = data + 1;
    len = size - 1;
    sn = vla_tokenize_scratch_size(len) + 2 * VLA_ALIGN;
    scratch = malloc(sn);
    cap = (int)len + 2;
    ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
    ids2 = (int32_t *)malloc(sizeof(int32_t) * (size_t)cap);
    if (!scratch || !ids || !ids2) fz_die("out of memory");
    vla_arena_init(&a, scratch, sn);
    st = vla_tokenize(g_tok, &a, (const char *)text, len, add_special, use_added, max_length, ids, cap, &n);
    FZ_ASSERT(st == VLA_OK, "tokenize %zu bytes: %s (n %d)", len, vla_status_str(st), n);
    FZ_ASSERT(n >= 0 && n <= cap, "%d ids from %zu bytes", n, len);
    for (k = 0; k < n; k++) FZ_ASSERT(ids[k] >= 0 && ids[k] < g_info.n_tokens, "id %d at %d", (int)ids[k], k);
    if (add_special) FZ_ASSERT(n >= 2 && ids[0] == g_info.bos && ids[n - 1] == g_info.eos, "n %d, first %d", n, n ? (int)ids[0] : -1);
    if (max_length > 0) FZ_ASSERT(n <= (max_length > 2 ? max_length : 2), "%d ids for max_length %d", n, max_length);
    /* a short id buffer: NOMEM, the full count, the same leading ids */
    if (n >= 2) {
        int half = n / 2;
        memset(ids2, 0xAB, sizeof(int32_t) * (size_t)cap);
        st = vla_tokenize(g_tok, &a, (const char *)text, len, add_special, use_added, max_length, ids2, half, &n2);
        FZ_ASSERT(st == VLA_ERR_NOMEM && n2 == n, "short buffer of %d: %s, count %d of %d", half, vla_status_str(st), n2, n);
        FZ_ASSERT(!memcmp(ids, ids2, sizeof(int32_t) * (size_t)half), "short buffer: the first %d ids differ", half);
    }
    /* the round trip [D11] promises */
    if (!add_special && max_length == 0) {
        int valid = 1, blank = 1;
        for (i = 0; i < len && valid;) {
            long cp = utf8_next(text, len, &i);
            if (cp < 0) valid = 0;
            else if (!py_space(cp)) blank = 0;
        }
        if (valid && !blank && !contains(text, len, "<s>") && !contains(text, len, "</s>") && !contains(text, len, "<pad>") &&
            !contains(text, len, "<unk>") && !contains(text, len, "<mask>")) {
            int32_t *plain = ids;
            char *back = (char *)malloc(len + 1);
            size_t blen = 0;
            if (use_added) { /* plain BART's ids for the same text */
                st = vla_tokenize(g_tok, &a, (const char *)text, len, 0, 0, 0, ids2, cap, &n2);
                FZ_ASSERT(st == VLA_OK, "plain tokenize: %s", vla_status_str(st));
                if (!contains(text, len, "extra_id_"))
                    FZ_ASSERT(n2 == n && !memcmp(ids, ids2, sizeof(int32_t) * (size_t)n),
                              "VL-Adapter's tokenizer differs from plain BART on text without added tokens (%d vs %d ids)", n, n2);
                plain = ids2;
                n = n2;
            }
            st = vla_detokenize(g_tok, plain, n, 0, 0, back, len + 1, &blen);
            FZ_ASSERT(st == VLA_OK && blen == len && !memcmp(back, text, len), "round trip: %s, %zu bytes back for %zu",
                      vla_status_str(st), blen, len);
            free(back);
        }
    }
    free(ids);
    free(ids2);
    free(scratch);
    return 0;
}
