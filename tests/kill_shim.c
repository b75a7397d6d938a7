/* kill_shim.c - fault injection for tests/test_kill_resume.sh (an LD_PRELOAD
 * library; the tool under test is not changed).
 *
 * A kill after a random delay seldom lands inside a checkpoint write, which
 * takes a small part of a run.  This library SIGKILLs the process at a chosen
 * file-system event instead, so every phase of a write is hit on purpose:
 *
 *   VLA_KILL_AT=EVENT:N   EVENT is
 *     write    the N-th fwrite into a file opened for writing whose path
 *              holds VLA_KILL_MATCH (every such file when it is unset): half
 *              of its bytes are written and flushed, then the process dies
 *              (a torn file on disk: the temporary of an atomic write, or the
 *              file itself if a writer were not atomic)
 *     fsync    the N-th fsync, before anything is synced
 *     rename   the N-th rename, before it happens
 *     renamed  the N-th rename, right after it happened (before the
 *              directory is synced)
 *   VLA_KILL_AT=count     no kill: print "events write=W fsync=F rename=R"
 *                         to stderr at exit
 *
 * Counts are per process.  SIGKILL is what a kill -9 or the OOM killer
 * sends: no handler, no atexit, no stdio flush runs.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef FILE *(*fopen_fn)(const char *, const char *);
typedef size_t (*fwrite_fn)(const void *, size_t, size_t, FILE *);
typedef int (*fclose_fn)(FILE *);
typedef int (*fsync_fn)(int);
typedef int (*rename_fn)(const char *, const char *);

enum { EV_NONE, EV_WRITE, EV_FSYNC, EV_RENAME, EV_RENAMED, EV_COUNT };

static int g_event = -1, g_n;
static long g_writes, g_fsyncs, g_renames;
static FILE *g_watched[64];

/* dlsym returns an object pointer; ISO C has no conversion to a function
 * pointer, so copy the bytes */
static void *next_sym(const char *name, size_t fn_size, void *out) {
    void *p = dlsym(RTLD_NEXT, name);
    if (!p) {
        fprintf(stderr, "kill_shim: no %s\n", name);
        _exit(99);
    }
    memcpy(out, &p, fn_size);
    return p;
}

static void report_counts(void) { fprintf(stderr, "events write=%ld fsync=%ld rename=%ld\n", g_writes, g_fsyncs, g_renames); }

static void setup(void) {
    const char *v;
    if (g_event >= 0) return;
    g_event = EV_NONE;
    v = getenv("VLA_KILL_AT");
    if (!v) return;
    if (!strcmp(v, "count")) {
        g_event = EV_COUNT;
        atexit(report_counts);
        return;
    }
    if (!strncmp(v, "write:", 6)) g_event = EV_WRITE, g_n = atoi(v + 6);
    else if (!strncmp(v, "fsync:", 6)) g_event = EV_FSYNC, g_n = atoi(v + 6);
    else if (!strncmp(v, "rename:", 7)) g_event = EV_RENAME, g_n = atoi(v + 7);
    else if (!strncmp(v, "renamed:", 8)) g_event = EV_RENAMED, g_n = atoi(v + 8);
    else {
        fprintf(stderr, "kill_shim: VLA_KILL_AT=%s is not EVENT:N or count\n", v);
        _exit(99);
    }
}

static void die_now(void) {
    kill(getpid(), SIGKILL);
    _exit(98); /* not reached */
}

static int is_watched(const char *path) {
    const char *m = getenv("VLA_KILL_MATCH");
    return path && (!m || strstr(path, m) != NULL);
}

static void remember(FILE *f) {
    int i;
    for (i = 0; f && i < 64; i++)
        if (!g_watched[i]) { g_watched[i] = f; return; }
}

static int is_watched_stream(const FILE *f) {
    int i;
    for (i = 0; f && i < 64; i++)
        if (g_watched[i] == f) return 1;
    return 0;
}

FILE *fopen(const char *path, const char *mode) {
    static fopen_fn real;
    FILE *f;
    setup();
    if (!real) next_sym("fopen", sizeof real, &real);
    f = real(path, mode);
    if (is_watched(path) && mode && mode[0] == 'w') remember(f);
    return f;
}

FILE *fopen64(const char *path, const char *mode) {
    static fopen_fn real;
    FILE *f;
    setup();
    if (!real) next_sym("fopen64", sizeof real, &real);
    f = real(path, mode);
    if (is_watched(path) && mode && mode[0] == 'w') remember(f);
    return f;
}

int fclose(FILE *f) {
    static fclose_fn real;
    int i;
    if (!real) next_sym("fclose", sizeof real, &real);
    for (i = 0; i < 64; i++)
        if (g_watched[i] == f) g_watched[i] = NULL;
    return real(f);
}

size_t fwrite(const void *p, size_t size, size_t n, FILE *f) {
    static fwrite_fn real;
    setup();
    if (!real) next_sym("fwrite", sizeof real, &real);
    if (is_watched_stream(f)) {
        g_writes++;
        if (g_event == EV_WRITE && g_writes == g_n) {
            size_t half = size ? (size * n / 2) : 0;
            real(p, 1, half, f);
            fflush(f);
            die_now();
        }
    }
    return real(p, size, n, f);
}

int fsync(int fd) {
    static fsync_fn real;
    setup();
    if (!real) next_sym("fsync", sizeof real, &real);
    g_fsyncs++;
    if (g_event == EV_FSYNC && g_fsyncs == g_n) die_now();
    return real(fd);
}

int rename(const char *from, const char *to) {
    static rename_fn real;
    int r;
    setup();
    if (!real) next_sym("rename", sizeof real, &real);
    g_renames++;
    if (g_event == EV_RENAME && g_renames == g_n) die_now();
    r = real(from, to);
    if (g_event == EV_RENAMED && g_renames == g_n) die_now();
    return r;
}
