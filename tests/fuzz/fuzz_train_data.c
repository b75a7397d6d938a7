/* tests/fuzz/fuzz_train_data.c - vla-train's JSONL data files (tools/vla-train.c
 * parse_data / parse_line, compiled here with VLA_TRAIN_NO_MAIN).
 *
 * Each input is parsed as a whole data file twice: with the four official
 * tasks (and the unused ones dropped afterwards, as a run without an adapter
 * file does), and with a restricted list holding a custom one-image task
 * "ocr" and a custom task "pair" (as an adapter file's task list would).
 * Image names resolve against a scratch directory made at start-up holding
 * img/p1.ppm .. img/p6.ppm, img/text.ppm and a directory img/dir.
 * Properties checked besides memory safety and leaks: a refused file names a
 * line and a reason; an accepted one has, for every example, a valid task,
 * its images registered, at least one answer with a finite score >= 0 and
 * the best answer in range.
 * Seeds: tests/fuzz/corpus/train_data (committed files).
 */
#define VLA_TRAIN_NO_MAIN
#define VLA_NO_STB_IMAGE 1
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wunused-function"
#endif
#include "../../tools/vla-train.c"
#include "fuzz_common.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char g_dir[64], g_path[128];

static void cleanup(void) {
    static const char *files[7] = {"img/p1.ppm", "img/p2.ppm", "img/p3.ppm", "img/p4.ppm", "img/p5.ppm", "img/p6.ppm", "img/text.ppm"};
    char p[256];
    int i;
    for (i = 0; i < 7; i++) { snprintf(p, sizeof p, "%s/%s", g_dir, files[i]); unlink(p); }
    snprintf(p, sizeof p, "%s/img/dir", g_dir); rmdir(p);
    snprintf(p, sizeof p, "%s/img", g_dir); rmdir(p);
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    static const char ppm[] = "P6\n1 1\n255\n\x01\x02\x03";
    char p[256];
    int i;
    (void)argc;
    (void)argv;
    snprintf(g_dir, sizeof g_dir, "/tmp/vla-fuzz-data-XXXXXX");
    if (!mkdtemp(g_dir)) fz_die("mkdtemp failed");
    atexit(cleanup);
    snprintf(p, sizeof p, "%s/img", g_dir); mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/img/dir", g_dir); mkdir(p, 0777);
    for (i = 1; i <= 6; i++) {
        snprintf(p, sizeof p, "%s/img/p%d.ppm", g_dir, i);
        fz_write(p, ppm, sizeof ppm - 1);
    }
    snprintf(p, sizeof p, "%s/img/text.ppm", g_dir); fz_write(p, "not a picture", 13);
    snprintf(g_path, sizeof g_path, "%s/train.jsonl", g_dir);
    return 0;
}

static void free_run(run *R, dataset *ds) {
    int i;
    size_t k;
    for (i = 0; i < ds->n; i++) example_free(&ds->ex[i]);
    free(ds->ex);
    memset(ds, 0, sizeof *ds);
    for (i = 0; i < R->n_img; i++) { free(R->img[i].path); free(R->img[i].key); }
    free(R->img);
    for (k = 0; k < R->img_map.cap; k++) free(R->img_map.key[k]);
    free(R->img_map.key);
    free(R->img_map.val);
    free(R->tasks);
    memset(R, 0, sizeof *R);
}

static void check(const run *R, const dataset *ds) {
    int i, q;
    for (i = 0; i < ds->n; i++) {
        const example *x = &ds->ex[i];
        FZ_ASSERT(x->task >= 0 && x->task < R->n_tasks, "example %d: task %d of %d", i, x->task, R->n_tasks);
        FZ_ASSERT(x->img[0] >= 0 && x->img[0] < R->n_img, "example %d: image %d of %d", i, x->img[0], R->n_img);
        FZ_ASSERT(x->img[1] < R->n_img && (x->img[1] >= 0) == (R->tasks[x->task].n_images == 2), "example %d: second image %d",
                  i, x->img[1]);
        FZ_ASSERT(x->n_ans >= 1 && x->best >= 0 && x->best < x->n_ans, "example %d: %d answers, best %d", i, x->n_ans, x->best);
        FZ_ASSERT(x->input != NULL, "example %d: no input text", i);
        for (q = 0; q < x->n_ans; q++)
            FZ_ASSERT(x->ans[q].score >= 0.0f && x->ans[q].score < 1e31f && x->ans[q].text, "example %d answer %d: score %g", i, q,
                      (double)x->ans[q].score);
    }
}

static void parse_with(const uint8_t *data, size_t size, int restricted) {
    static run R;
    dataset ds;
    static char err[16384];
    int bad = 0, rc;
    memset(&R, 0, sizeof R);
    memset(&ds, 0, sizeof ds);
    if (restricted) {
        add_task(&R, "vqa");
        add_task(&R, "ocr");
        add_task(&R, "pair");
        R.restrict_tasks = 1;
    } else {
        int t;
        for (t = 0; t < 4; t++) add_task(&R, g_official[t]);
    }
    err[0] = 0;
    rc = parse_data(&R, &ds, g_path, data, size, &bad, err, sizeof err);
    fz_note("%s tasks: %s (line %d: %s), %d examples", restricted ? "restricted" : "official", rc ? "refused" : "ok", bad, err, ds.n);
    if (rc != 0) FZ_ASSERT(bad >= 1 && err[0], "refused at line %d without a reason", bad);
    else {
        check(&R, &ds);
        if (!restricted) { /* a run without an adapter file drops the tasks no line uses */
            R.train = ds;
            drop_unused_tasks(&R);
            ds = R.train;
            memset(&R.train, 0, sizeof R.train);
            check(&R, &ds);
        }
    }
    free_run(&R, &ds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > ((size_t)1 << 20)) return 0;
    parse_with(data, size, 0);
    parse_with(data, size, 1);
    return 0;
}
