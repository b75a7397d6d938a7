/* tests/fuzz/fuzz_tokconv.c - a tokenizer's source files (vocab.json and
 * merges.txt, what vla-convert --tokenizer reads: tools/vla_tokconv.h
 * vla_tokconv_parse), then the library's own validation of the GGUF keys
 * they become (vla_tokenizer_init) and one encode / decode with them.
 *
 * Input: flag byte (bit 0: add VL-Adapter's 200 tokens), vocab.json text, a
 * NUL byte, merges.txt text.
 * Properties checked besides memory safety: a failure has a message; what
 * the converter accepts, the library's tokenizer accepts too; encoding a
 * fixed text gives ids inside the vocabulary.
 * Seeds: tests/fuzz/corpus/tokconv (committed files: small vocabularies).
 */
#define VLADAPTER_IMPLEMENTATION
#include "../../vladapter.h"
#define VLA_TOOL_IMPLEMENTATION
#include "../../tools/vla_tool.h"
#define VLA_TOKCONV_IMPLEMENTATION
#include "../../tools/vla_tokconv.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *vocab, *merges, *sep;
    size_t vn, mn, wn = (size_t)1 << 20, gn, persistent, peak;
    vla_tokconv tc;
    char err[512];
    vla_gguf_writer w;
    vla_arena a;
    vla_gguf g;
    vla_tokenizer *tok = NULL;
    fz_blob file = {NULL, 0};
    void *wmem = NULL, *gmem = NULL, *tmem = NULL;
    vla_status st;
    if (size < 2 || size > ((size_t)1 << 20)) return 0;
    vocab = (const char *)data + 1;
    sep = (const char *)memchr(vocab, 0, size - 1);
    if (!sep) return 0;
    vn = (size_t)(sep - vocab);
    merges = sep + 1;
    mn = size - 1 - vn - 1;
    err[0] = 0;
    if (vla_tokconv_parse(&tc, vocab, vn, merges, mn, data[0] & 1, err, sizeof err) != 0) {
        FZ_ASSERT(err[0], "refused without a message");
        vla_tokconv_free(&tc);
        return 0;
    }
    /* the keys the converter writes, read back by the library */
    wmem = malloc(wn);
    vla_arena_init(&a, wmem, wn);
    if (vla_gguf_writer_init(&w, &a, VLA_TOKCONV_N_KV, 0, 32) != VLA_OK) fz_die("gguf writer");
    vla_tokconv_add(&tc, &w);
    st = vla_gguf_write(&w, fz_blob_write, &file);
    FZ_ASSERT(st == VLA_OK, "writing %d tokens, %d merges: %s", tc.n_tokens, tc.n_merges, vla_status_str(st));
    gn = (size_t)(tc.n_tokens + tc.n_merges + 64) * 160 + 4096;
    gmem = malloc(gn);
    vla_arena_init(&a, gmem, gn);
    st = vla_gguf_open(&g, file.p, file.n, &a);
    FZ_ASSERT(st == VLA_OK, "the written file does not open: %s", vla_status_str(st));
    st = vla_tokenizer_mem_req(&g, &persistent, &peak);
    FZ_ASSERT(st == VLA_OK, "tokenizer size query: %s", vla_status_str(st));
    if (peak <= FZ_MEM_CAP) {
        tmem = malloc(peak + VLA_ALIGN);
        vla_arena_init(&a, tmem, peak + VLA_ALIGN);
        st = vla_tokenizer_init(&tok, &g, &a);
        FZ_ASSERT(st == VLA_OK, "the library refuses what the converter accepted (%d tokens, %d merges): %s", tc.n_tokens,
                  tc.n_merges, vla_status_str(st));
        {
            static const char text[] = "Hello world! caf\xc3\xa9 <mask> <extra_id_0> don't  x";
            int32_t ids[64];
            int n = 0, i;
            size_t sn = vla_tokenize_scratch_size(sizeof text) + 2 * VLA_ALIGN, len;
            void *sm = malloc(sn);
            char back[256];
            vla_tokenizer_info info = vla_tokenizer_get_info(tok);
            vla_arena sa;
            vla_arena_init(&sa, sm, sn);
            st = vla_tokenize(tok, &sa, text, sizeof text - 1, 1, 1, 0, ids, 64, &n);
            FZ_ASSERT(st == VLA_OK, "tokenize: %s", vla_status_str(st));
            for (i = 0; i < n; i++) FZ_ASSERT(ids[i] >= 0 && ids[i] < info.n_tokens, "id %d", (int)ids[i]);
            st = vla_detokenize(tok, ids, n, 0, 1, back, sizeof back, &len);
            FZ_ASSERT(st == VLA_OK || st == VLA_ERR_NOMEM, "detokenize: %s", vla_status_str(st));
            free(sm);
        }
    }
    free(tmem);
    free(gmem);
    free(wmem);
    free(file.p);
    vla_tokconv_free(&tc);
    return 0;
}
