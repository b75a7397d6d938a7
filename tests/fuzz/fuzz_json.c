/* tests/fuzz/fuzz_json.c - the tools' JSON reader (tools/vla_tool.h
 * vla_json_parse: config.json, safetensors headers, vocab.json, data lines)
 * and the model-config path of the converter: a JSON object taken as the
 * checkpoint's config (vla_conv_bart on a tiny random BART), written as a
 * model file, loaded and, when small, run.
 * Properties checked besides memory safety: a failure has a message; a deep
 * copy equals the original; vla_json_get finds the first member of each
 * name; integers marked exact are exact.
 * Seeds: tests/fuzz/corpus/json (committed files; config.json of the
 * fixtures' HF BART and small hand-written documents).
 */
#define VLADAPTER_IMPLEMENTATION
#include "../../vladapter.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "../../tools/vla_convert.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int json_eq(const vla_json *a, const vla_json *b) {
    int i;
    if (a->type != b->type || a->n_kid != b->n_kid || a->key_n != b->key_n) return 0;
    if ((a->key == NULL) != (b->key == NULL) || (a->key && memcmp(a->key, b->key, a->key_n))) return 0;
    if (a->type == VLA_JSON_NUMBER &&
        (memcmp(&a->num, &b->num, sizeof a->num) || a->is_int != b->is_int || (a->is_int && a->inum != b->inum)))
        return 0;
    if (a->type == VLA_JSON_STRING && (a->n != b->n || memcmp(a->s, b->s, a->n))) return 0;
    for (i = 0; i < a->n_kid; i++)
        if (!json_eq(&a->kid[i], &b->kid[i])) return 0;
    return 1;
}

static void check_tree(const vla_json *j, int depth) {
    int i;
    FZ_ASSERT(depth <= 257, "depth %d", depth);
    if (j->type == VLA_JSON_NUMBER && j->is_int) FZ_ASSERT((double)j->inum == j->num, "inexact integer %lld vs %.17g", (long long)j->inum, j->num);
    if (j->type == VLA_JSON_STRING) FZ_ASSERT(j->s && j->s[j->n] == 0, "string not NUL-terminated");
    if (j->type == VLA_JSON_OBJECT)
        for (i = 0; i < j->n_kid; i++) {
            const vla_json *k = &j->kid[i], *g;
            int first = i, q;
            FZ_ASSERT(k->key != NULL, "object member %d has no name", i);
            if (memchr(k->key, 0, k->key_n)) continue; /* a NUL inside: not reachable by a C string */
            for (q = 0; q < i; q++)
                if (j->kid[q].key_n == k->key_n && !memcmp(j->kid[q].key, k->key, k->key_n)) { first = q; break; }
            g = vla_json_get(j, k->key);
            FZ_ASSERT(g == &j->kid[first], "get('%s') is not the first member of that name", k->key);
        }
    for (i = 0; i < j->n_kid; i++) check_tree(&j->kid[i], depth + 1);
}

/* The object as a checkpoint's config, on the tensors of a tiny random
 * VL-BART: hyperparameters, generation defaults and visual settings go into
 * a model file, which is then loaded and run. */
static void as_config(const vla_json *cfg) {
    vla_rand_bart r = {8, 1, 1, 2, 16, 24, 12, 8, 4, 9};
    vla_conv cv;
    fz_blob out = {NULL, 0};
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_conv_random_bart(&cv, &r) != 0) fz_die("random BART: %s", cv.err);
    if (vla_conv_bart(&cv, NULL, 0, cfg, NULL) == 0 && vla_conv_write_mem(&cv, &out.p, &out.n) == 0) {
        size_t need;
        void *mem;
        vla_model *m = NULL;
        vla_status st = VLA_ERR_ARGS;
        if (vla_model_mem_req(out.p, out.n, &need) == VLA_OK && (mem = malloc(need))) {
            st = vla_model_init(&m, mem, need, out.p, out.n, NULL);
            if (st == VLA_OK) fz_run_model(m, NULL, NULL);
            free(mem);
        }
        fz_note("config -> model: %s", vla_status_str(st));
        free(out.p);
    } else
        fz_note("config refused: %s", cv.err);
    vla_conv_free(&cv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256];
    vla_json *j, *c;
    if (size > ((size_t)1 << 20)) return 0;
    err[0] = 0;
    j = vla_json_parse((const char *)data, size, err, sizeof err);
    if (!j) {
        FZ_ASSERT(err[0], "parse failed without a message");
        return 0;
    }
    check_tree(j, 0);
    c = vla_json_copy(j);
    FZ_ASSERT(c && json_eq(j, c), "the deep copy differs");
    vla_json_free(c);
    (void)vla_json_num(j, "d_model", -1.0);
    if (j->type == VLA_JSON_OBJECT) as_config(j);
    vla_json_free(j);
    return 0;
}
