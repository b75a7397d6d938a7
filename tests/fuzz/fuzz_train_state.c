/* tests/fuzz/fuzz_train_state.c - trainer state files (vla_trainer_load_state,
 * [D12]) against a fixed trainer: a single adapter on the fuzz base model
 * (fuzz_common.h), the official "adapter" settings, small batch shapes.
 *
 * Each input is loaded twice: as it is, and re-sealed (its checksum key
 * recomputed the way vla_trainer_save_state writes it) so that mutated
 * values, moments, step counts and cursors get past the checksum.  After a
 * load that succeeds, one training step runs on the loaded state, the state
 * is saved and loaded back (it must be accepted), and the pristine state is
 * restored so that every input starts from the same trainer.
 * Properties checked besides memory safety: a state the trainer wrote itself
 * always loads; a failed load leaves the trainer as it was.
 * Seeds: tests/fuzz/corpus/train_state (make_corpus.c: states after 0, 1 and
 * 2 steps of this trainer).
 */
#define VLADAPTER_IMPLEMENTATION
#include "../../vladapter.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "../../tools/vla_convert.h"
#define VLA_RANDOM_IMPLEMENTATION
#include "../../tools/vla_random.h"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static fz_blob g_base, g_adapter, g_pristine;
static void *g_base_mem, *g_tmem;
static vla_model *g_m;
static vla_trainer *g_t;
static fz_tbatch g_batch;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    vla_train_params p = fz_train_params();
    size_t need;
    (void)argc;
    (void)argv;
    g_m = fz_load_base(&g_base, &g_base_mem);
    g_adapter = fz_train_adapter(g_m);
    if (!g_adapter.p || vla_trainer_mem_req(g_m, g_adapter.p, g_adapter.n, &p, &need) != VLA_OK || !(g_tmem = malloc(need)) ||
        vla_trainer_init(&g_t, g_m, g_adapter.p, g_adapter.n, &p, g_tmem, need) != VLA_OK)
        fz_die("the trainer does not start");
    if (vla_trainer_save_state(g_t, fz_blob_write, &g_pristine) != VLA_OK) fz_die("save_state failed");
    fz_tbatch_make(&g_batch, g_m);
    return 0;
}

/* The input with vladapter.train.checksum recomputed (vla__state_sum's
 * order: step, cursor, nstep array, then every tensor's bytes in file
 * order); NULL if it is not a GGUF with the keys that sum needs. */
static unsigned char *reseal(const unsigned char *file, size_t size) {
    vla_arena a;
    vla_gguf g;
    vla_gguf_kv step, cursor, nstep, sum;
    size_t need;
    void *mem;
    unsigned char *copy = NULL;
    uint64_t h = 14695981039346656037ull, i;
    vla_arena_init_measure(&a);
    if (vla_gguf_open(&g, file, size, &a) != VLA_OK) return NULL;
    need = vla_arena_get_stats(&a).peak + 4 * VLA_ALIGN;
    if (need > FZ_MEM_CAP || !(mem = malloc(need))) return NULL;
    vla_arena_init(&a, mem, need);
    if (vla_gguf_open(&g, file, size, &a) == VLA_OK && vla_gguf_get_kv(&g, "vladapter.train.step", &step) == VLA_OK &&
        step.type == VLA_GGUF_U64 && vla_gguf_get_kv(&g, "vladapter.train.cursor", &cursor) == VLA_OK &&
        cursor.type == VLA_GGUF_ARRAY && cursor.arr_type == VLA_GGUF_U64 && cursor.arr_n == 4 &&
        vla_gguf_get_kv(&g, "vladapter.train.nstep", &nstep) == VLA_OK && nstep.type == VLA_GGUF_ARRAY &&
        nstep.arr_type == VLA_GGUF_U64 && vla_gguf_get_kv(&g, "vladapter.train.checksum", &sum) == VLA_OK &&
        sum.type == VLA_GGUF_U64) {
        int k;
        h = fz_fnv_words(h, step.val, 8);
        h = fz_fnv_words(h, cursor.val, 32);
        h = fz_fnv_words(h, nstep.val, nstep.val_bytes);
        for (i = 0; i < g.n_tensors; i++) h = fz_fnv_words(h, g.tensors[i].data, (size_t)g.tensors[i].nbytes);
        copy = fz_aligned_copy(file, size);
        for (k = 0; k < 8; k++) copy[(sum.val - file) + k] = (unsigned char)(h >> (8 * k));
    }
    free(mem);
    return copy;
}

/* Values, moments, step and cursor of the trainer, for "unchanged" checks. */
static uint64_t trainer_digest(void) {
    uint64_t h = 1469598103934665603ull;
    long steps = vla_trainer_steps_done(g_t);
    int i, n = vla_trainer_n_tensors(g_t);
    for (i = 0; i < n; i++) {
        vla_train_tensor tt;
        if (vla_trainer_tensor(g_t, i, &tt) != VLA_OK) continue;
        h = fz_fnv_words(h, tt.value, tt.n * 4);
        h = fz_fnv_words(h, tt.m, tt.n * 4);
        h = fz_fnv_words(h, tt.v, tt.n * 4);
    }
    h = fz_fnv_words(h, &steps, sizeof steps);
    return fz_fnv_words(h, vla_trainer_cursor(g_t), 32);
}

static void try_state(const unsigned char *file, size_t size, uint64_t pristine) {
    vla_status st = vla_trainer_load_state(g_t, file, size);
    fz_blob again = {NULL, 0};
    float loss = 0.0f, lr = 0.0f;
    if (st != VLA_OK) {
        FZ_ASSERT(trainer_digest() == pristine, "a failed load (%s) changed the trainer", vla_status_str(st));
        return;
    }
    fz_note("state loaded: step %ld", vla_trainer_steps_done(g_t));
    st = vla_trainer_step(g_t, &g_batch.b, &loss, &lr);
    fz_note("step on it: %s, loss %g, lr %g", vla_status_str(st), (double)loss, (double)lr);
    FZ_ASSERT(vla_trainer_save_state(g_t, fz_blob_write, &again) == VLA_OK, "save_state after the step failed");
    {
        unsigned char *a = fz_aligned_copy(again.p, again.n);
        st = vla_trainer_load_state(g_t, a, again.n);
        FZ_ASSERT(st == VLA_OK, "the trainer refuses a state it wrote itself: %s", vla_status_str(st));
        fz_aligned_free(a);
    }
    free(again.p);
    {
        unsigned char *a = fz_aligned_copy(g_pristine.p, g_pristine.n);
        FZ_ASSERT(vla_trainer_load_state(g_t, a, g_pristine.n) == VLA_OK, "the pristine state no longer loads");
        fz_aligned_free(a);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static uint64_t pristine;
    static int have_pristine;
    unsigned char *file, *sealed;
    if (size > ((size_t)4 << 20)) return 0;
    if (!have_pristine) {
        pristine = trainer_digest();
        have_pristine = 1;
    }
    file = fz_aligned_copy(data, size);
    try_state(file, size, pristine);
    sealed = reseal(file, size);
    if (sealed) {
        try_state(sealed, size, pristine);
        fz_aligned_free(sealed);
    }
    FZ_ASSERT(trainer_digest() == pristine, "the trainer was not restored");
    fz_aligned_free(file);
    return 0;
}
