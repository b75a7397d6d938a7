/* tests/fuzz/fuzz_detokenize.c - arbitrary ids -> text (vla_detokenize) with
 * BART's real vocabulary and VL-Adapter's added tokens.
 *
 * Input: one flag byte, then little-endian 16-bit values, one id each
 * (v < 0xFFF0: v mod (n_tokens + 4), so a few ids fall just outside the
 * vocabulary; v >= 0xFFF0: a negative id).
 *   bit 0  skip_special     bit 1  clean_up_spaces
 *   bits 2-7  output capacity for the cut check: 0..63 bytes
 * Properties checked besides memory safety:
 *   - an id outside [0, n_tokens) gives VLA_ERR_RANGE and nothing else;
 *   - the size query (out NULL, cap 0) gives the length that a buffer of
 *     that length + 1 then receives with VLA_OK, NUL-terminated;
 *   - the text is valid UTF-8 (invalid byte sequences become U+FFFD);
 *   - a short buffer gets VLA_ERR_NOMEM, the full length, and the longest
 *     prefix of the text that fits and ends on a character boundary,
 *     NUL-terminated.
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

/* Strict UTF-8 validity of s[0, n). */
static int valid_utf8(const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i], need, k, lo = 0x80, hi = 0xBF;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) need = 1;
        else if (c >= 0xE0 && c <= 0xEF) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
        else if (c >= 0xF0 && c <= 0xF4) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
        else return 0;
        if (i + need >= n) return 0;
        for (k = 1; k <= need; k++) {
            unsigned b = s[i + k];
            if (k == 1 ? (b < lo || b > hi) : (b & 0xC0) != 0x80) return 0;
        }
        i += need + 1;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int skip, clean, small_cap, n, i, in_range = 1;
    int32_t *ids;
    size_t len = 0, len2 = 0, keep;
    char *full, *cut;
    vla_status st;
    if (size < 1 || size > 8193) return 0;
    skip = data[0] & 1;
    clean = (data[0] >> 1) & 1;
    small_cap = data[0] >> 2;
    n = (int)((size - 1) / 2);
    ids = (int32_t *)malloc(sizeof(int32_t) * (size_t)(n + 1));
    for (i = 0; i < n; i++) {
        unsigned v = (unsigned)data[1 + 2 * i] | ((unsigned)data[2 + 2 * i] << 8);
        ids[i] = v >= 0xFFF0u ? (int32_t)v - 0x10000 : (int32_t)(v % (unsigned)(g_info.n_tokens + 4));
        if (ids[i] < 0 || ids[i] >= g_info.n_tokens) in_range = 0;
    }
    st = vla_detokenize(g_tok, ids, n, skip, clean, NULL, 0, &len);
    if (!in_range) {
        FZ_ASSERT(st == VLA_ERR_RANGE, "an id outside the vocabulary gave %s", vla_status_str(st));
        free(ids);
        return 0;
    }
    FZ_ASSERT(st == VLA_OK || st == VLA_ERR_NOMEM, "size query: %s", vla_status_str(st));
    full = (char *)malloc(len + 1);
    memset(full, 0x5A, len + 1);
    st = vla_detokenize(g_tok, ids, n, skip, clean, full, len + 1, &len2);
    FZ_ASSERT(st == VLA_OK && len2 == len && full[len] == 0, "exact buffer: %s, %zu vs %zu", vla_status_str(st), len2, len);
    FZ_ASSERT(valid_utf8((const unsigned char *)full, len), "the text is not valid UTF-8 (%zu bytes)", len);
    if ((size_t)small_cap < len + 1) {
        cut = (char *)malloc((size_t)small_cap + 1);
        memset(cut, 0x5A, (size_t)small_cap + 1);
        st = vla_detokenize(g_tok, ids, n, skip, clean, small_cap ? cut : NULL, (size_t)small_cap, &len2);
        FZ_ASSERT(st == VLA_ERR_NOMEM && len2 == len, "cap %d: %s, %zu vs %zu", small_cap, vla_status_str(st), len2, len);
        if (small_cap > 0) {
            keep = (size_t)small_cap - 1; /* the longest prefix that fits, cut back to a character boundary */
            while (keep > 0 && ((unsigned char)full[keep] & 0xC0) == 0x80) keep--;
            FZ_ASSERT(!memcmp(cut, full, keep) && cut[keep] == 0, "cap %d: not the %zu-byte prefix", small_cap, keep);
        }
        FZ_ASSERT((unsigned char)cut[small_cap] == 0x5A, "cap %d: wrote past the buffer", small_cap);
        free(cut);
    }
    free(full);
    free(ids);
    return 0;
}
