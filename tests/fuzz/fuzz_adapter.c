/* tests/fuzz/fuzz_adapter.c - adapter files attached to a fixed small base
 * model (vla_adapter_mem_req + vla_adapter_attach from memory), then one
 * short request per task (at most three) with the slot selected.
 *
 * Attaching does the work an adapter file can steer: the method and task
 * keys, module shapes against the base, Compacter's Kronecker sums,
 * Hyperformer's generated adapters, the prompt MLP, replaced base tensors.
 * The base is built in the harness (fuzz_common.h, fz_make_base), or read
 * from VLA_FUZZ_BASE; the seeds (tests/fuzz/corpus/adapter, make_corpus.c)
 * are bound to the built-in one by its fingerprint.
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

static fz_blob g_base;
static void *g_base_mem;
static vla_model *g_m;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    g_m = fz_load_base(&g_base, &g_base_mem);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t need = 0;
    unsigned char *file;
    void *mem;
    vla_adapter *a = NULL;
    vla_logger lg = fz_logger();
    vla_status st;
    if (vla_adapter_mem_req(g_m, data, size, &need) != VLA_OK || need > FZ_MEM_CAP) return 0;
    file = fz_aligned_copy(data, size);
    mem = malloc(need ? need : 1);
    if (!mem) fz_die("out of memory (%zu bytes)", need);
    st = vla_adapter_attach(&a, g_m, mem, need, file, size, &lg);
    FZ_ASSERT(st != VLA_ERR_NOMEM && st != VLA_ERR_ARGS && st != VLA_ERR_STATE, "attach with the queried %zu bytes: %s", need,
              vla_status_str(st));
    fz_note("attach: %s", vla_status_str(st));
    if (st == VLA_OK) {
        int i, n = vla_adapter_n_tasks(a);
        const char *method = vla_adapter_method(a);
        FZ_ASSERT(method != NULL && n >= 0, "method %p, %d tasks", (const void *)method, n);
        for (i = 0; i < n && i < 3; i++) {
            vla_str name, prefix;
            vla_gen_params preset;
            char task[256];
            if (vla_adapter_task(a, i, &name, &prefix, &preset) != VLA_OK) continue;
            if (name.n >= sizeof task || memchr(name.s, 0, name.n)) continue;
            memcpy(task, name.s, name.n);
            task[name.n] = 0;
            FZ_ASSERT(vla_adapter_find_task(a, task) >= 0, "task '%s' is listed but not found", task);
            fz_run_model(g_m, a, task);
        }
        if (n == 0) fz_run_model(g_m, a, NULL);
        vla_adapter_detach(a);
    }
    free(mem);
    fz_aligned_free(file);
    return 0;
}
