/* tests/fuzz/fuzz_model.c - model files (vla_model_mem_req + vla_model_init
 * from memory), then, for a file that loads and is small, one short request:
 * the CLIP trunk or grid features, encode, teacher-forced logits, greedy and
 * beam generation, the ids decoded with the file's own tokenizer.
 *
 * Covers the GGUF reader, the hyperparameter and tensor checks, the
 * tokenizer tables (vla_tokenizer_init inside vla_model_init) and the
 * forward pass on whatever well-formed-but-hostile numbers a file holds.
 * Seeds: tests/fuzz/corpus/model (make_corpus.c: tiny VL-BART files with and
 * without a tokenizer, a CLIP trunk, F16/Q8_0 weights).
 */
#define VLADAPTER_IMPLEMENTATION
#include "../../vladapter.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t need = 0, need2 = 0;
    unsigned char *file;
    void *mem;
    vla_model *m = NULL;
    vla_logger lg = fz_logger();
    vla_status st;
    if (vla_model_mem_req(data, size, &need) != VLA_OK || need > FZ_MEM_CAP) return 0;
    file = fz_aligned_copy(data, size);
    /* the size query reads the header only; asking twice gives the same answer */
    FZ_ASSERT(vla_model_mem_req(file, size, &need2) == VLA_OK && need2 == need, "size query changed: %zu vs %zu", need, need2);
    mem = malloc(need ? need : 1);
    if (!mem) fz_die("out of memory (%zu bytes)", need);
    st = vla_model_init(&m, mem, need, file, size, &lg);
    if (st == VLA_OK) {
        const vla_hparams *hp = vla_model_hparams(m);
        FZ_ASSERT(hp != NULL, "no hyperparameters");
        fz_run_model(m, NULL, NULL);
    } else {
        fz_note("model init: %s", vla_status_str(st));
        /* the memory the size query asked for is enough for init, whatever the file */
        FZ_ASSERT(st != VLA_ERR_NOMEM && st != VLA_ERR_ARGS && st != VLA_ERR_STATE, "init with the queried %zu bytes: %s", need,
                  vla_status_str(st));
    }
    free(mem);
    fz_aligned_free(file);
    return 0;
}
