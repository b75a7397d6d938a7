/* vla-predict: predictions of a model (and adapter) for every line of a data
 * file in vla-train's format, through the task-level calls, for vla-eval.
 *
 *   vla-predict --model M.gguf [--adapter A.gguf] --data FILE.jsonl --out PRED.jsonl
 *               [--threads N] [--beams N] [--max-length N] [--quiet] [--show]
 *
 * Each line is answered by the call of its task: caption -> vla_caption,
 * vqa / gqa (and any other task with an "input") -> vla_answer, nlvr (a line
 * with "image2") -> vla_verify ("true" / "false").  With --adapter the line's
 * task is selected in the adapter file (vla_ctx_set_adapter); without, the
 * base model answers everything.  Decoding is the task's preset (captions:
 * 5 beams, answers: greedy, max_length 20, the rest from the model file)
 * unless --beams / --max-length say otherwise.  Picture paths are relative
 * to the data file's directory unless absolute.
 *
 * Output: one {"id": ..., "task": ..., "prediction": "..."} per line, in the
 * data file's order (vla-eval --pred reads it).  Exit status 1 on any error.
 * --show also prints each line to stdout: task, question, prediction and the
 * line's truth ("target", else "answer"), marked "ok" when they are equal
 * (the demo's view; vla-eval does the real scoring).
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "../examples/image_io.h"
#include "../examples/example_util.h"
#define VLA_TOOL_IMPLEMENTATION
#include "vla_tool.h"
#define VLA_THREADS_IMPLEMENTATION
#include "../examples/vla_threads.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *f) {
    fprintf(f, "usage: vla-predict --model M.gguf [--adapter A.gguf] --data FILE.jsonl --out PRED.jsonl\n"
               "                   [--threads N] [--beams N] [--max-length N] [--quiet] [--show]\n");
}

static void put_json_str(FILE *f, const char *s, size_t n) {
    size_t i;
    fputc('"', f);
    for (i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch == '\n') fputs("\\n", f);
        else if (ch == '\t') fputs("\\t", f);
        else if (ch == '\r') fputs("\\r", f);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

typedef struct line_ref { vla_json *j; int line; } line_ref;

static const char *jstr(const vla_json *o, const char *key) {
    const vla_json *v = vla_json_get(o, key);
    return v && v->type == VLA_JSON_STRING ? v->s : NULL;
}

static void path_of(char *out, size_t cap, const char *dir, const char *p) {
    if (p[0] == '/' || !dir[0]) snprintf(out, cap, "%s", p);
    else snprintf(out, cap, "%s/%s", dir, p);
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *adapter_path = NULL, *data_path = NULL, *out_path = NULL;
    int threads = 1, beams = 0, max_len = 0, quiet = 0, show = 0, i, n = 0, cap = 0, rc = 1, any_pair = 0, max_q = 0, max_w = 1, max_h = 1;
    unsigned char *mfile = NULL, *afile = NULL, *data = NULL;
    void *mmem = NULL, *amem = NULL, *cmem = NULL;
    size_t data_n = 0;
    vla_model *m;
    vla_adapter *ad = NULL;
    vla_ctx *c = NULL;
    vla_task_sizes s;
    vla_threadpool pool;
    vla_exec exec;
    line_ref *L = NULL;
    char dir[4096], err[512], text[4096];
    const char *p, *e;
    FILE *fo = NULL;
    time_t t0 = time(NULL);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--model") && more) model_path = argv[++i];
        else if (!strcmp(a, "--adapter") && more) adapter_path = argv[++i];
        else if (!strcmp(a, "--data") && more) data_path = argv[++i];
        else if (!strcmp(a, "--out") && more) out_path = argv[++i];
        else if (!strcmp(a, "--threads") && more) { if (!ex_int_flag(a, argv[++i], 1, 256, &threads)) return 2; }
        else if (!strcmp(a, "--beams") && more) { if (!ex_int_flag(a, argv[++i], 1, 64, &beams)) return 2; }
        else if (!strcmp(a, "--max-length") && more) { if (!ex_int_flag(a, argv[++i], 2, 512, &max_len)) return 2; }
        else if (!strcmp(a, "--quiet")) quiet = 1;
        else if (!strcmp(a, "--show")) show = 1;
        else { fprintf(stderr, "vla-predict: unknown or incomplete option '%s'\n", a); usage(stderr); return 2; }
    }
    if (!model_path || !data_path || !out_path) { usage(stderr); return 2; }
    /* the data file: every non-blank line an object */
    if (!(data = vla_tool_read_file(data_path, &data_n, err, sizeof err))) { fprintf(stderr, "vla-predict: %s\n", err); return 1; }
    snprintf(dir, sizeof dir, "%s", data_path);
    { char *sl = strrchr(dir, '/'); if (sl) *sl = 0; else dir[0] = 0; }
    for (p = (const char *)data, i = 1; p < (const char *)data + data_n; p = e + 1, i++) {
        vla_json *j;
        const char *q;
        e = memchr(p, '\n', (size_t)((const char *)data + data_n - p));
        if (!e) e = (const char *)data + data_n;
        for (q = p; q < e && (*q == ' ' || *q == '\t' || *q == '\r'); q++) {}
        if (q == e) continue;
        if (!(j = vla_json_parse(p, (size_t)(e - p), err, sizeof err)) || j->type != VLA_JSON_OBJECT || !jstr(j, "task") || !jstr(j, "image")) {
            fprintf(stderr, "vla-predict: %s:%d: not a data line with \"task\" and \"image\" (%s)\n", data_path, i, j ? "" : err);
            goto done;
        }
        if (n == cap) { cap = cap ? 2 * cap : 1024; L = (line_ref *)realloc(L, sizeof *L * (size_t)cap); if (!L) goto done; }
        L[n].j = j; L[n].line = i; n++;
        if (jstr(j, "image2")) any_pair = 1;
        if (jstr(j, "input") && (int)strlen(jstr(j, "input")) > max_q) max_q = (int)strlen(jstr(j, "input"));
    }
    /* the largest picture sizes the context */
    for (i = 0; i < n; i++) {
        int k;
        for (k = 0; k < 2; k++) {
            const char *ip = jstr(L[i].j, k ? "image2" : "image");
            char path[8192];
            unsigned char *px;
            int w, h, ch;
            if (!ip) continue;
            path_of(path, sizeof path, dir, ip);
            if (!(px = vla_example_load_image(path, &w, &h, &ch, err, sizeof err))) { fprintf(stderr, "vla-predict: %s\n", err); goto done; }
            vla_example_free_image(px);
            if (w > max_w) max_w = w;
            if (h > max_h) max_h = h;
        }
    }
    if (!(m = ex_load_model(model_path, &mfile, &mmem))) goto done;
    if (adapter_path && !(ad = ex_attach(m, adapter_path, &afile, &amem))) goto done;
    memset(&s, 0, sizeof s);
    s.max_question_bytes = max_q + 1; s.max_pictures = any_pair ? 2 : 1; s.max_picture_w = max_w; s.max_picture_h = max_h;
    s.max_beams = beams; s.max_length = max_len;
    memset(&exec, 0, sizeof exec);
    if (threads > 1 && vla_threadpool_init(&pool, threads) == 0) vla_threadpool_exec(&pool, &exec);
    else threads = 1;
    if (!(c = ex_task_ctx(m, &s, (const vla_adapter *const *)&ad, ad ? 1 : 0, threads > 1 ? &exec : NULL, &cmem, NULL))) goto done_pool;
    if (!(fo = fopen(out_path, "w"))) { fprintf(stderr, "vla-predict: cannot write %s\n", out_path); goto done_pool; }
    for (i = 0; i < n; i++) {
        const vla_json *j = L[i].j, *id = vla_json_get(j, "id");
        const char *task = jstr(j, "task"), *in = jstr(j, "input"), *im2 = jstr(j, "image2");
        char path[8192], path2[8192];
        unsigned char *px = NULL, *px2 = NULL;
        int w, h, ch, w2, h2, ch2;
        vla_image pic, pic2;
        vla_status st;
        vla_gen_params g;
        if (ad && (st = vla_ctx_set_adapter(c, ad, task)) != VLA_OK) {
            fprintf(stderr, "vla-predict: %s:%d: the adapter has no task '%s'\n", data_path, L[i].line, task);
            goto done_pool;
        }
        path_of(path, sizeof path, dir, jstr(j, "image"));
        if (!(px = vla_example_load_image(path, &w, &h, &ch, err, sizeof err))) { fprintf(stderr, "vla-predict: %s\n", err); goto done_pool; }
        vla_image_view(&pic, px, w, h, ch, 0);
        text[0] = 0;
        if (im2) {
            vla_verdict v;
            path_of(path2, sizeof path2, dir, im2);
            if (!(px2 = vla_example_load_image(path2, &w2, &h2, &ch2, err, sizeof err))) {
                fprintf(stderr, "vla-predict: %s\n", err);
                vla_example_free_image(px);
                goto done_pool;
            }
            vla_image_view(&pic2, px2, w2, h2, ch2, 0);
            st = vla_verify(c, &pic, &pic2, in ? in : "", &v);
            if (st == VLA_OK) snprintf(text, sizeof text, "%s", v.is_true ? "true" : "false");
        } else if (!strcmp(task, "caption")) {
            g = vla_task_preset(c, VLA_TASK_CAPTION);
            if (beams) g.num_beams = beams;
            if (max_len) g.max_length = max_len;
            st = vla_caption(c, &pic, &g, text, sizeof text, NULL);
        } else {
            g = vla_task_preset(c, VLA_TASK_ANSWER);
            if (beams) g.num_beams = beams;
            if (max_len) g.max_length = max_len;
            st = vla_answer(c, &pic, in ? in : "", &g, text, sizeof text, NULL);
        }
        vla_example_free_image(px);
        vla_example_free_image(px2);
        if (st != VLA_OK && st != VLA_ERR_NOMEM) {
            fprintf(stderr, "vla-predict: %s:%d: %s\n", data_path, L[i].line, vla_status_str(st));
            goto done_pool;
        }
        fputs("{\"id\": ", fo);
        if (!id) fputs("null", fo);
        else if (id->type == VLA_JSON_STRING) put_json_str(fo, id->s, id->n);
        else if (id->type == VLA_JSON_NUMBER && id->is_int) fprintf(fo, "%lld", (long long)id->inum);
        else if (id->type == VLA_JSON_NUMBER) fprintf(fo, "%.17g", id->num);
        else fputs("null", fo);
        fputs(", \"task\": ", fo);
        put_json_str(fo, task, strlen(task));
        fputs(", \"prediction\": ", fo);
        put_json_str(fo, text, strlen(text));
        fputs("}\n", fo);
        if (show) {
            const char *truth = jstr(j, "target") ? jstr(j, "target") : jstr(j, "answer"), *tx = text;
            size_t tn;
            while (*tx == ' ') tx++; /* the detokenizer's leading space */
            tn = strlen(tx);
            while (tn > 0 && tx[tn - 1] == ' ') tn--;
            printf("%-8s %s%s%s\n         -> %.*s", task, in ? "\"" : "", in ? in : "", in ? "\"" : "", (int)tn, tx);
            if (truth) printf("   [truth: %s]%s", truth, strlen(truth) != tn || strncmp(truth, tx, tn) ? "  MISS" : "  ok");
            printf("\n");
        }
        if (!quiet && ((i + 1) % 200 == 0 || i + 1 == n)) fprintf(stderr, "vla-predict: %d/%d lines, %ld s\n", i + 1, n, (long)(time(NULL) - t0));
    }
    if (fclose(fo) != 0) { fo = NULL; fprintf(stderr, "vla-predict: writing %s failed\n", out_path); goto done_pool; }
    fo = NULL;
    rc = 0;
done_pool:
    if (fo) fclose(fo);
    if (threads > 1) vla_threadpool_destroy(&pool);
done:
    for (i = 0; i < n; i++) vla_json_free(L[i].j);
    free(L);
    free(cmem); free(amem); free(afile); free(mmem); free(mfile); free(data);
    return rc;
}
