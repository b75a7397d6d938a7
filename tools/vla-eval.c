/* vla-eval: score predictions against a data file (VQA, GQA, NLVR2,
 * captions; any other task by exact match).
 *
 *   vla-eval --data REFS.jsonl --pred PREDICTIONS.jsonl
 *            [--task NAME] [--allow-missing] [--scores OUT.jsonl] [--summary OUT.tsv] [--raw-captions]
 *
 * REFS.jsonl is a data file in vla-train's format (docs/train.md), e.g. the
 * val/test files of vla-shapes; every line used needs an "id" (string or
 * number) and a "task".  PREDICTIONS.jsonl holds one {"id": ..., "prediction":
 * "..."} per line (other members are ignored, so vla-train's
 * dev_predictions.jsonl works as it is).  Lines are joined by id (numbers as
 * vla-train prints them: integers in decimal).  A reference line without a
 * prediction is an error unless --allow-missing (then it is left out and
 * counted); a prediction whose id is not in REFS is an error.
 *
 * Metrics (tools/vla_eval.h has the exact rules):
 *   vqa      the official VQA accuracy against "all_answers" (the humans'
 *            answers, 10 in VQA) or an "answers" list; with only an
 *            "answers" object {answer: score}: the score of the stripped
 *            prediction (VL-T5's evaluate); with only "target": exact match
 *            after VL-T5's answer normalisation
 *   gqa      exact match with "target" (both stripped); with only an
 *            "answers" object: the prediction's score in it
 *   nlvr     accuracy: exact match with "target" ("true" / "false")
 *   caption  exact match with "target" and CIDEr-D (pycocoevalcap's) against
 *            "refs" (a list) or ["target"], both sides tokenised first
 *            (vla_eval.h [E3]; --raw-captions: split at whitespace only)
 *   other    exact match with "target" (or the "answers" object's score)
 * Percentages are printed with two decimals (the VQA script rounds the same
 * way), CIDEr-D as pycocoevalcap reports it (x100 in parentheses).
 *
 * --scores OUT.jsonl writes one line per scored example: {"id", "task",
 * "score"} (and "cider" for captions).  --summary OUT.tsv writes one line per
 * task for scripts, TAB-separated: task, examples, the task's score (the
 * percentage printed above: VQA accuracy, exact match, NLVR2 accuracy,
 * caption exact match) and CIDEr-D x100 (captions; "-" for the others).
 * Scripts read that file, never the text above, whose columns differ from
 * task to task.  Exit status 0, 1 on a bad file, 2 on bad arguments.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define VLA_TOOL_IMPLEMENTATION
#include "vla_tool.h"
#include "vla_eval.h"

#define EV_MAX_TASKS 32

typedef struct ev_task {
    char name[33];
    long n;            /* examples scored */
    double sum;        /* sum of the main metric (0..1 each) */
    double exact_sum;  /* captions: exact matches */
    int rule;          /* vqa: which rule scored the lines (bit mask, see ev_rule_name) */
    int is_caption;
    vla_eval_cider cider;
    long *cider_line;  /* captions: reference line index of each CIDEr item */
    double cider_mean;
} ev_task;

typedef struct ev_result {
    ev_task t[EV_MAX_TASKS];
    int n_tasks;
    long n_refs;      /* reference lines (non-blank) */
    long n_used;      /* of the selected task(s) */
    long n_joined;    /* with a prediction */
    long n_missing;
} ev_result;

typedef struct ev_opts {
    const char *data, *pred, *task, *scores;
    int allow_missing, raw_captions;
} ev_opts;

enum { EV_RULE_HUMANS = 1, EV_RULE_SCORES = 2, EV_RULE_TARGET = 4 };

/* ---- a string -> index map for ids ---- */
typedef struct ev_map {
    char **key;
    long *val;
    size_t cap, n;
} ev_map;

static uint64_t ev_hash(const char *s) { return vla_eval__hash(s, strlen(s)); }

static int ev_map_put(ev_map *m, const char *k, long v) { /* 0 ok, 1 duplicate, -1 OOM */
    size_t h;
    if ((m->n + 1) * 2 > m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 1024, i;
        char **nk = (char **)calloc(nc, sizeof(char *));
        long *nv = (long *)calloc(nc, sizeof(long));
        if (!nk || !nv) { free(nk); free(nv); return -1; }
        for (i = 0; i < m->cap; i++)
            if (m->key[i]) {
                size_t q = (size_t)(ev_hash(m->key[i]) & (nc - 1));
                while (nk[q]) q = (q + 1) & (nc - 1);
                nk[q] = m->key[i];
                nv[q] = m->val[i];
            }
        free(m->key);
        free(m->val);
        m->key = nk;
        m->val = nv;
        m->cap = nc;
    }
    h = (size_t)(ev_hash(k) & (m->cap - 1));
    while (m->key[h]) {
        if (!strcmp(m->key[h], k)) return 1;
        h = (h + 1) & (m->cap - 1);
    }
    m->key[h] = (char *)malloc(strlen(k) + 1);
    if (!m->key[h]) return -1;
    strcpy(m->key[h], k);
    m->val[h] = v;
    m->n++;
    return 0;
}

static long ev_map_get(const ev_map *m, const char *k) {
    size_t h;
    if (!m->cap) return -1;
    h = (size_t)(ev_hash(k) & (m->cap - 1));
    while (m->key[h]) {
        if (!strcmp(m->key[h], k)) return m->val[h];
        h = (h + 1) & (m->cap - 1);
    }
    return -1;
}

static void ev_map_free(ev_map *m) {
    size_t i;
    for (i = 0; i < m->cap; i++) free(m->key[i]);
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

/* ---- JSONL files ---- */
typedef struct ev_file {
    vla_json **line;  /* parsed objects (NULL for blank lines) */
    int *lineno;
    long n;
} ev_file;

static void ev_file_free(ev_file *f) {
    long i;
    for (i = 0; i < f->n; i++) vla_json_free(f->line[i]);
    free(f->line);
    free(f->lineno);
    memset(f, 0, sizeof *f);
}

static int ev_err(char *err, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

static int ev_read(const char *path, ev_file *f, char *err, size_t errn) {
    size_t size, pos = 0;
    unsigned char *buf = vla_tool_read_file(path, &size, err, errn);
    int lineno = 0;
    long cap = 0;
    memset(f, 0, sizeof *f);
    if (!buf) return -1;
    while (pos < size) {
        const char *p = (const char *)buf + pos, *e = (const char *)memchr(p, '\n', size - pos);
        size_t len = e ? (size_t)(e - p) : size - pos, k;
        char jerr[200];
        vla_json *j;
        pos += len + (e ? 1 : 0);
        lineno++;
        for (k = 0; k < len && vla_eval__space((unsigned char)p[k]); k++) {}
        if (k == len) continue;
        j = vla_json_parse(p, len, jerr, sizeof jerr);
        if (!j || j->type != VLA_JSON_OBJECT) {
            vla_json_free(j);
            free(buf);
            ev_file_free(f);
            return ev_err(err, errn, "%s:%d: %s", path, lineno, j ? "expected one JSON object per line" : "not valid JSON");
        }
        if (f->n == cap) {
            long nc = cap ? cap * 2 : 256;
            vla_json **nl = (vla_json **)realloc(f->line, sizeof(vla_json *) * (size_t)nc);
            int *nn;
            if (nl) f->line = nl;
            nn = (int *)realloc(f->lineno, sizeof(int) * (size_t)nc);
            if (nn) f->lineno = nn;
            if (!nl || !nn) { vla_json_free(j); free(buf); ev_file_free(f); return ev_err(err, errn, "out of memory"); }
            cap = nc;
        }
        f->line[f->n] = j;
        f->lineno[f->n] = lineno;
        f->n++;
    }
    free(buf);
    return 0;
}

/* An "id" member as text (integers in decimal, as vla-train prints them). */
static int ev_id(const vla_json *o, char *out, size_t n) {
    const vla_json *id = vla_json_get(o, "id");
    if (!id) return 0;
    if (id->type == VLA_JSON_STRING) {
        if (id->n >= n || memchr(id->s, 0, id->n)) return -1;
        memcpy(out, id->s, id->n);
        out[id->n] = 0;
        return 1;
    }
    if (id->type == VLA_JSON_NUMBER) {
        if (id->is_int) snprintf(out, n, "%lld", (long long)id->inum);
        else snprintf(out, n, "%.17g", id->num);
        return 1;
    }
    return -1;
}

static const char *ev_str(const vla_json *o, const char *key) {
    const vla_json *v = vla_json_get(o, key);
    return v && v->type == VLA_JSON_STRING ? v->s : NULL;
}

static void ev_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* The score of `pred` in an "answers" object (exact key), or 0. */
static double ev_label_score(const vla_json *ans, const char *pred) {
    int q;
    char *p = vla_eval_vqa_strip(pred, strlen(pred));
    double s = 0.0;
    if (!p) return 0.0;
    for (q = 0; q < ans->n_kid; q++)
        if (ans->kid[q].type == VLA_JSON_NUMBER && !strcmp(ans->kid[q].key, p)) { s = ans->kid[q].num; break; }
    free(p);
    return s;
}

/* Every string of a JSON array (NULL if it is not an array of strings). */
static const char **ev_strings(const vla_json *a, int *n) {
    const char **s;
    int i;
    if (!a || a->type != VLA_JSON_ARRAY || a->n_kid < 1) return NULL;
    for (i = 0; i < a->n_kid; i++)
        if (a->kid[i].type != VLA_JSON_STRING) return NULL;
    s = (const char **)malloc(sizeof(char *) * (size_t)a->n_kid);
    if (!s) return NULL;
    for (i = 0; i < a->n_kid; i++) s[i] = a->kid[i].s;
    *n = a->n_kid;
    return s;
}

static ev_task *ev_task_for(ev_result *r, const char *name) {
    int i;
    for (i = 0; i < r->n_tasks; i++)
        if (!strcmp(r->t[i].name, name)) return &r->t[i];
    if (r->n_tasks == EV_MAX_TASKS || strlen(name) > 32) return NULL;
    memset(&r->t[r->n_tasks], 0, sizeof r->t[0]);
    strcpy(r->t[r->n_tasks].name, name);
    r->t[r->n_tasks].is_caption = !strcmp(name, "caption");
    vla_eval_cider_init(&r->t[r->n_tasks].cider);
    return &r->t[r->n_tasks++];
}

static void ev_result_free(ev_result *r) {
    int i;
    for (i = 0; i < r->n_tasks; i++) {
        vla_eval_cider_free(&r->t[i].cider);
        free(r->t[i].cider_line);
    }
    r->n_tasks = 0;
}

/* Score one reference line against its prediction: the main metric (0..1)
 * in *score; captions also go into the task's CIDEr-D set.  -1 with err on
 * a line that cannot be scored. */
static int ev_score(ev_task *T, const vla_json *ref, const char *pred, const ev_opts *o, long line_index, double *score,
                    char *err, size_t errn, const char *path, int lineno) {
    const char *target = ev_str(ref, "target");
    const vla_json *ans = vla_json_get(ref, "answers");
    int is_vqa = !strcmp(T->name, "vqa");
    *score = 0.0;
    if (T->is_caption) {
        const char **refs;
        char **tok;
        char *ctok;
        int nr = 0, i, rc = 0;
        long *nl;
        refs = ev_strings(vla_json_get(ref, "refs"), &nr);
        if (!refs && target) { refs = (const char **)malloc(sizeof(char *)); if (refs) { refs[0] = target; nr = 1; } }
        if (!refs) return ev_err(err, errn, "%s:%d: a caption line needs \"refs\" (a list of strings) or \"target\"", path, lineno);
        *score = vla_eval_exact(pred, target ? target : refs[0]) ? 1.0 : 0.0;
        tok = (char **)calloc((size_t)nr, sizeof(char *));
        ctok = o->raw_captions ? NULL : vla_eval_tokenize(pred, strlen(pred));
        for (i = 0; tok && i < nr && !o->raw_captions; i++) tok[i] = vla_eval_tokenize(refs[i], strlen(refs[i]));
        if (!tok || (!o->raw_captions && !ctok)) rc = -1;
        for (i = 0; rc == 0 && !o->raw_captions && i < nr; i++)
            if (!tok[i]) rc = -1;
        if (rc == 0)
            rc = vla_eval_cider_add(&T->cider, o->raw_captions ? pred : ctok,
                                    o->raw_captions ? refs : (const char *const *)tok, nr);
        nl = rc == 0 ? (long *)realloc(T->cider_line, sizeof(long) * (size_t)T->cider.n_item) : NULL;
        if (nl) { T->cider_line = nl; nl[T->cider.n_item - 1] = line_index; }
        else rc = -1;
        for (i = 0; tok && i < nr; i++) free(tok[i]);
        free(tok);
        free(ctok);
        free((void *)refs);
        if (rc) return ev_err(err, errn, "out of memory");
        return 0;
    }
    if (is_vqa) {
        int n = 0;
        const char **humans = ev_strings(vla_json_get(ref, "all_answers"), &n);
        if (!humans) humans = ev_strings(ans, &n);
        if (humans) {
            *score = vla_eval_vqa_accuracy(pred, humans, n);
            free((void *)humans);
            if (*score < 0) return ev_err(err, errn, "out of memory");
            T->rule |= EV_RULE_HUMANS;
            return 0;
        }
        if (ans && ans->type == VLA_JSON_OBJECT) { *score = ev_label_score(ans, pred); T->rule |= EV_RULE_SCORES; return 0; }
        if (target) {
            char *a = vla_eval_vqa_label(pred, strlen(pred)), *b = vla_eval_vqa_label(target, strlen(target));
            if (!a || !b) { free(a); free(b); return ev_err(err, errn, "out of memory"); }
            *score = strcmp(a, b) ? 0.0 : 1.0;
            free(a);
            free(b);
            T->rule |= EV_RULE_TARGET;
            return 0;
        }
        return ev_err(err, errn, "%s:%d: a vqa line needs \"all_answers\", \"answers\" or \"target\"", path, lineno);
    }
    if (target) { *score = vla_eval_exact(pred, target) ? 1.0 : 0.0; T->rule |= EV_RULE_TARGET; return 0; }
    if (ans && ans->type == VLA_JSON_OBJECT) { *score = ev_label_score(ans, pred); T->rule |= EV_RULE_SCORES; return 0; }
    return ev_err(err, errn, "%s:%d: no \"target\" to compare with", path, lineno);
}

/* The whole evaluation; 0 on success, -1 with a message in err. */
static int ev_run(const ev_opts *o, ev_result *r, char *err, size_t errn) {
    ev_file refs, preds;
    ev_map pmap, rmap;
    char id[512];
    long i;
    int rc = -1, t;
    double *line_score = NULL;
    FILE *sf = NULL;
    memset(r, 0, sizeof *r);
    memset(&pmap, 0, sizeof pmap);
    memset(&rmap, 0, sizeof rmap);
    memset(&preds, 0, sizeof preds);
    if (ev_read(o->data, &refs, err, errn)) return -1;
    if (ev_read(o->pred, &preds, err, errn)) { ev_file_free(&refs); return -1; }
    for (i = 0; i < preds.n; i++) {
        int k = ev_id(preds.line[i], id, sizeof id);
        if (k <= 0) { ev_err(err, errn, "%s:%d: %s", o->pred, preds.lineno[i], "a prediction needs an \"id\" (a string under 512 bytes or a number)"); goto out; }
        if (!ev_str(preds.line[i], "prediction")) { ev_err(err, errn, "%s:%d: %s", o->pred, preds.lineno[i], "\"prediction\" is missing or not a string"); goto out; }
        k = ev_map_put(&pmap, id, i);
        if (k == 1) { ev_err(err, errn, "%s:%d: id '%s' appears twice", o->pred, preds.lineno[i], id); goto out; }
        if (k < 0) { ev_err(err, errn, "out of memory"); goto out; }
    }
    line_score = (double *)calloc((size_t)refs.n + 1, sizeof(double));
    if (!line_score) { ev_err(err, errn, "out of memory"); goto out; }
    r->n_refs = refs.n;
    for (i = 0; i < refs.n; i++) {
        const vla_json *L = refs.line[i];
        const char *task = ev_str(L, "task"), *pred;
        ev_task *T;
        long p;
        int k = ev_id(L, id, sizeof id);
        if (k <= 0) { ev_err(err, errn, "%s:%d: %s", o->data, refs.lineno[i], "every reference line needs an \"id\" (a string under 512 bytes or a number) to join on"); goto out; }
        if (!task || !task[0]) { ev_err(err, errn, "%s:%d: %s", o->data, refs.lineno[i], "\"task\" is missing"); goto out; }
        k = ev_map_put(&rmap, id, i);
        if (k == 1) { ev_err(err, errn, "%s:%d: id '%s' appears twice", o->data, refs.lineno[i], id); goto out; }
        if (k < 0) { ev_err(err, errn, "out of memory"); goto out; }
        if (o->task && strcmp(o->task, task)) continue;
        r->n_used++;
        p = ev_map_get(&pmap, id);
        if (p < 0) {
            if (!o->allow_missing) {
                ev_err(err, errn, "%s:%d: no prediction for id '%s' (--allow-missing leaves such lines out)", o->data, refs.lineno[i], id);
                goto out;
            }
            r->n_missing++;
            line_score[i] = -1.0;
            continue;
        }
        pred = ev_str(preds.line[p], "prediction");
        T = ev_task_for(r, task);
        if (!T) { ev_err(err, errn, "%s:%d: %s", o->data, refs.lineno[i], "too many tasks or a task name over 32 bytes"); goto out; }
        if (ev_score(T, L, pred, o, i, &line_score[i], err, errn, o->data, refs.lineno[i])) goto out;
        T->n++;
        T->sum += line_score[i];
        if (T->is_caption) T->exact_sum += line_score[i];
        r->n_joined++;
    }
    for (i = 0; i < preds.n; i++) {
        ev_id(preds.line[i], id, sizeof id);
        if (ev_map_get(&rmap, id) < 0) {
            ev_err(err, errn, "%s:%d: id '%s' is not in the reference file", o->pred, preds.lineno[i], id);
            goto out;
        }
    }
    if (o->scores && !(sf = fopen(o->scores, "w"))) { ev_err(err, errn, "cannot write %s", o->scores); goto out; }
    for (t = 0; t < r->n_tasks; t++) {
        ev_task *T = &r->t[t];
        double *per = NULL;
        long q;
        if (!T->is_caption || !T->cider.n_item) continue;
        per = (double *)malloc(sizeof(double) * (size_t)T->cider.n_item);
        if (!per || vla_eval_cider_compute(&T->cider, &T->cider_mean, per)) { free(per); ev_err(err, errn, "out of memory"); goto out; }
        if (sf)
            for (q = 0; q < (long)T->cider.n_item; q++) {
                long li = T->cider_line[q];
                ev_id(refs.line[li], id, sizeof id);
                fprintf(sf, "{\"id\": ");
                ev_json_str(sf, id);
                fprintf(sf, ", \"task\": ");
                ev_json_str(sf, T->name);
                fprintf(sf, ", \"score\": %.17g, \"cider\": %.17g}\n", line_score[li], per[q]);
            }
        free(per);
    }
    if (sf) {
        for (i = 0; i < refs.n; i++) {
            const char *task = ev_str(refs.line[i], "task");
            if ((o->task && strcmp(o->task, task)) || line_score[i] < 0 || !strcmp(task, "caption")) continue;
            ev_id(refs.line[i], id, sizeof id);
            fprintf(sf, "{\"id\": ");
            ev_json_str(sf, id);
            fprintf(sf, ", \"task\": ");
            ev_json_str(sf, task);
            fprintf(sf, ", \"score\": %.17g}\n", line_score[i]);
        }
        if (fclose(sf)) { sf = NULL; ev_err(err, errn, "cannot write %s", o->scores); goto out; }
        sf = NULL;
    }
    rc = 0;
out:
    if (sf) fclose(sf);
    if (rc) ev_result_free(r);
    free(line_score);
    ev_map_free(&pmap);
    ev_map_free(&rmap);
    ev_file_free(&refs);
    ev_file_free(&preds);
    return rc;
}

/* A task's score in percent: the mean of its examples' scores. */
static double ev_pct(const ev_task *T) { return T->n ? 100.0 * T->sum / (double)T->n : 0.0; }

static void ev_print(FILE *f, const ev_result *r) {
    int t;
    fprintf(f, "%ld reference line(s), %ld scored", r->n_used, r->n_joined);
    if (r->n_missing) fprintf(f, ", %ld without a prediction (left out)", r->n_missing);
    fprintf(f, "\n");
    for (t = 0; t < r->n_tasks; t++) {
        const ev_task *T = &r->t[t];
        double pct = ev_pct(T);
        fprintf(f, "%-8s %7ld  ", T->name, T->n);
        if (T->is_caption)
            fprintf(f, "exact match %6.2f  CIDEr-D %.4f (x100: %.2f)\n", pct, T->cider_mean, 100.0 * T->cider_mean);
        else if (!strcmp(T->name, "vqa"))
            fprintf(f, "accuracy %6.2f  (%s%s%s)\n", pct, T->rule & EV_RULE_HUMANS ? "official VQA accuracy over the humans' answers" : "",
                    T->rule & EV_RULE_SCORES ? (T->rule & EV_RULE_HUMANS ? "; answer scores" : "answer scores") : "",
                    T->rule & EV_RULE_TARGET ? (T->rule & ~EV_RULE_TARGET ? "; normalised exact match" : "normalised exact match") : "");
        else if (!strcmp(T->name, "nlvr"))
            fprintf(f, "accuracy %6.2f\n", pct);
        else
            fprintf(f, "%s %6.2f\n", T->rule & EV_RULE_SCORES ? "answer score" : "exact match", pct);
    }
}

/* --summary: task, n, score (percent), CIDEr-D x100 or "-". */
VLA_EVAL_FN void ev_summary(FILE *f, const ev_result *r) {
    int t;
    for (t = 0; t < r->n_tasks; t++) {
        const ev_task *T = &r->t[t];
        fprintf(f, "%s\t%ld\t%.2f\t", T->name, T->n, ev_pct(T));
        if (T->is_caption) fprintf(f, "%.2f\n", 100.0 * T->cider_mean);
        else fprintf(f, "-\n");
    }
}

#ifndef VLA_EVAL_NO_MAIN
static void usage(FILE *f) {
    fprintf(f, "usage: vla-eval --data REFS.jsonl --pred PREDICTIONS.jsonl [--task NAME] [--allow-missing]\n"
               "                [--scores OUT.jsonl] [--summary OUT.tsv] [--raw-captions]\n"
               "PREDICTIONS.jsonl: one {\"id\": ..., \"prediction\": \"...\"} per line, joined with REFS by id.\n");
}

int main(int argc, char **argv) {
    ev_opts o;
    ev_result r;
    char err[1024];
    const char *summary = NULL;
    int i;
    memset(&o, 0, sizeof o);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--data") && has) o.data = argv[++i];
        else if (!strcmp(a, "--pred") && has) o.pred = argv[++i];
        else if (!strcmp(a, "--task") && has) o.task = argv[++i];
        else if (!strcmp(a, "--scores") && has) o.scores = argv[++i];
        else if (!strcmp(a, "--summary") && has) summary = argv[++i];
        else if (!strcmp(a, "--allow-missing")) o.allow_missing = 1;
        else if (!strcmp(a, "--raw-captions")) o.raw_captions = 1;
        else { fprintf(stderr, "vla-eval: unknown or incomplete option '%s'\n", a); usage(stderr); return 2; }
    }
    if (!o.data || !o.pred) { usage(stderr); return 2; }
    if (ev_run(&o, &r, err, sizeof err)) { fprintf(stderr, "vla-eval: %s\n", err); return 1; }
    ev_print(stdout, &r);
    if (summary) {
        FILE *f = fopen(summary, "w");
        if (f) ev_summary(f, &r);
        if (!f || fclose(f)) {
            fprintf(stderr, "vla-eval: cannot write %s\n", summary);
            ev_result_free(&r);
            return 1;
        }
    }
    ev_result_free(&r);
    return 0;
}
#endif
