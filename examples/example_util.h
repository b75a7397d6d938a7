/* example_util.h - the host-side plumbing the examples share: read a file,
 * load a model and an adapter into malloc'd memory, make a context for the
 * task-level calls, parse a number flag.  Everything about the model itself
 * (preprocessing, prefixes, presets, decoding) is in the library's task
 * calls ([D13] in vladapter.h).  Example code: it uses malloc and stdio,
 * which the library itself never does.
 * Include after vladapter.h (with VLADAPTER_IMPLEMENTATION) and image_io.h. */
#ifndef VLA_EXAMPLE_UTIL_H
#define VLA_EXAMPLE_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__)
#define EX_UNUSED __attribute__((unused))
#else
#define EX_UNUSED
#endif

/* A whole file in memory (the model's tensors will point into it). */
static unsigned char *ex_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (!f) { fprintf(stderr, "error: cannot open %s\n", path); return NULL; }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) { fclose(f); return NULL; }
    buf = (unsigned char *)malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "error: cannot read %s\n", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void ex_log(void *user, vla_log_level lvl, const char *msg) {
    (void)user;
    if (lvl <= VLA_LOG_WARN) fprintf(stderr, "vladapter: %s\n", msg);
}

/* "--beams 0", "--threads x": an integer flag in [lo, hi], or a message and 0. */
static EX_UNUSED int ex_int_flag(const char *flag, const char *text, int lo, int hi, int *out) {
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < lo || v > hi) {
        fprintf(stderr, "error: %s takes a number from %d to %d, not '%s'\n", flag, lo, hi, text);
        return 0;
    }
    *out = (int)v;
    return 1;
}

/* Model file -> model (memory sized by the library's size query). */
static vla_model *ex_load_model(const char *path, unsigned char **file, void **mem) {
    size_t size, need;
    vla_model *m = NULL;
    vla_logger lg;
    vla_status st;
    lg.fn = ex_log; lg.user = NULL;
    *mem = NULL;
    if (!(*file = ex_read_file(path, &size))) return NULL;
    if ((st = vla_model_mem_req(*file, size, &need)) != VLA_OK) {
        fprintf(stderr, "error: %s is not a vladapter model file (%s)\n", path, vla_status_str(st));
        return NULL;
    }
    *mem = malloc(need);
    if (!*mem || (st = vla_model_init(&m, *mem, need, *file, size, &lg)) != VLA_OK) {
        fprintf(stderr, "error: %s: %s\n", path, vla_status_str(st));
        return NULL;
    }
    return m;
}

/* Adapter file -> slot attached to m. */
static vla_adapter *ex_attach(const vla_model *m, const char *path, unsigned char **file, void **mem) {
    size_t size, need;
    vla_adapter *a = NULL;
    vla_logger lg;
    vla_status st;
    lg.fn = ex_log; lg.user = NULL;
    *mem = NULL;
    if (!(*file = ex_read_file(path, &size))) return NULL;
    if ((st = vla_adapter_mem_req(m, *file, size, &need)) != VLA_OK) {
        fprintf(stderr, "error: %s cannot be attached to this model (%s)\n", path, vla_status_str(st));
        return NULL;
    }
    *mem = malloc(need);
    if (!*mem || (st = vla_adapter_attach(&a, m, *mem, need, *file, size, &lg)) != VLA_OK) {
        fprintf(stderr, "error: %s: %s\n", path, vla_status_str(st));
        return NULL;
    }
    return a;
}

/* A context for the task-level calls, sized from what the request needs
 * (vla_task_ctx_params) and the adapter sets it may select; exec: the
 * caller's threads or NULL.  Its memory comes back in *mem. */
static EX_UNUSED vla_ctx *ex_task_ctx(const vla_model *m, const vla_task_sizes *s, const vla_adapter *const *ads, int n_ads,
                            const vla_exec *exec, void **mem, size_t *bytes) {
    vla_ctx_params p;
    vla_ctx *c = NULL;
    size_t need = 0;
    vla_status st;
    *mem = NULL;
    if ((st = vla_task_ctx_params(&p, m, s, ads, n_ads)) != VLA_OK) {
        fprintf(stderr, "error: this model cannot run the task calls (%s): it needs a CLIP trunk, a visual embedding and a tokenizer\n",
                vla_status_str(st));
        return NULL;
    }
    if (exec) p.exec = *exec;
    else p.exec.n_threads = 1;
    p.log.fn = ex_log;
    if ((st = vla_ctx_mem_req(m, &p, &need)) != VLA_OK || !(*mem = malloc(need)) ||
        (st = vla_ctx_init(&c, m, &p, *mem, need)) != VLA_OK) {
        fprintf(stderr, "error: context: %s\n", vla_status_str(st));
        return NULL;
    }
    if (bytes) *bytes = need;
    return c;
}

/* Picture file -> [S, S, 3] CLIP input (channels-last), for programs that
 * batch pictures themselves (tools/vla-train); the task-level calls take
 * the pixels directly. */
static EX_UNUSED float *ex_load_picture(const char *path, int S) {
    int w, h, ch;
    char err[200];
    unsigned char *px = vla_example_load_image(path, &w, &h, &ch, err, sizeof err);
    float *out = px ? vla_example_clip_input(px, w, h, ch, S, err, sizeof err) : NULL;
    if (px && !out) fprintf(stderr, "error: %s: %s\n", path, err);
    else if (!px) fprintf(stderr, "error: %s\n", err);
    vla_example_free_image(px);
    return out;
}

/* A generated text without the space BART's detokenizer leaves in front
 * (and any at the end): what a caller compares or shows.  (The library
 * returns the official decode, space included.)  Returns the start, *n the
 * length. */
static EX_UNUSED const char *ex_trim(const char *t, int *n) {
    size_t k;
    while (*t == ' ') t++;
    k = strlen(t);
    while (k > 0 && t[k - 1] == ' ') k--;
    *n = (int)k;
    return t;
}

/* The trimmed text on its own line. */
static EX_UNUSED void ex_print_text(const char *t) {
    int n;
    t = ex_trim(t, &n);
    printf("%.*s\n", n, t);
}

/* The adapter's task names, for an error message. */
static EX_UNUSED void ex_list_tasks(const vla_adapter *ad) {
    int t;
    for (t = 0; t < vla_adapter_n_tasks(ad); t++) {
        vla_str nm;
        vla_adapter_task(ad, t, &nm, NULL, NULL);
        fprintf(stderr, " %.*s", (int)nm.n, nm.s);
    }
    fprintf(stderr, "\n");
}

#endif /* VLA_EXAMPLE_UTIL_H */
