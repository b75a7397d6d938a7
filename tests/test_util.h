/* test_util.h - the few helpers the host test programs share, so that each
 * test stays one standalone program without its own copy of them:
 *   CHECK(cond, fmt, ...)   count a check; print a FAIL line with the
 *                           message when cond is false (g_pass, g_fail)
 *   xmalloc(n)              malloc or exit(2)
 *   read_file(path, &n)     a whole file (NUL-terminated, not counted), or NULL
 *   membuf + mem_write      a growing memory target for vla_write_fn writers
 *   test_summary()          print "<p> passed, <f> failed"; exit status
 * Board tests use tests/board/vla_check.h (no heap, no stdio files); host
 * tests needing JSON, .npy or safetensors use tools/vla_tool.h.
 * Include once (after vladapter.h for membuf / mem_write). */
#ifndef VLA_TEST_UTIL_H
#define VLA_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define TU_UNUSED __attribute__((unused))
#else
#define TU_UNUSED
#endif

static int g_pass, g_fail;

#define CHECK(cond, ...)                                \
    do {                                                \
        if (cond) {                                     \
            g_pass++;                                   \
        } else {                                        \
            g_fail++;                                   \
            printf("FAIL %s:%d: ", __FILE__, __LINE__); \
            printf(__VA_ARGS__);                        \
            printf("\n");                               \
        }                                               \
    } while (0)

static TU_UNUSED void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) { printf("out of memory\n%d passed, %d failed\n", g_pass, g_fail + 1); exit(2); }
    return p;
}

static TU_UNUSED unsigned char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *b = NULL;
    long k;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (k = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (b = (unsigned char *)malloc((size_t)k + 1)) != NULL && fread(b, 1, (size_t)k, f) == (size_t)k) {
        b[k] = 0;
        *n = (size_t)k;
    } else {
        free(b);
        b = NULL;
    }
    fclose(f);
    return b;
}

#ifdef VLADAPTER_H /* the writers' target: vla_write_fn */
typedef struct membuf { unsigned char *p; size_t n, cap; } membuf;

static TU_UNUSED vla_status mem_write(void *user, const void *data, size_t n) {
    membuf *b = (membuf *)user;
    if (b->n + n > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        unsigned char *q;
        while (c < b->n + n) c *= 2;
        if (!(q = (unsigned char *)realloc(b->p, c))) return VLA_ERR_NOMEM;
        b->p = q;
        b->cap = c;
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
    return VLA_OK;
}
#endif

static TU_UNUSED int test_summary(void) {
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail != 0;
}

#endif /* VLA_TEST_UTIL_H */
