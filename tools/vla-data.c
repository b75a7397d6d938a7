/* vla-data: the official VL-T5 / VL-Adapter data files -> vla-train's JSONL.
 *
 *   vla-data --task vqa|gqa|nlvr|caption [--split train|val|test|...]
 *            [--images DIR] [--image-pattern PAT | --image-ext EXT]
 *            [--absolute] [--check-images] [-o OUT.jsonl] [--limit N]
 *            [--quiet] INPUT.json [INPUT.json ...]
 *
 * INPUTS (docs/data.md has the long version; the layouts are the ones the
 * official loaders VL-T5/src/{vqa,gqa,nlvr,caption}_clip_data.py read):
 *   vqa      VL-T5's karpathy_{train,val,test}.json: a list of objects with
 *            "img_id" ("COCO_train2014_000000458752"), "sent" (or
 *            "question"), "question_id", "label" {answer: score} and, in
 *            some files, "answers" [{"answer": ...}, ...] (the annotators')
 *   gqa      LXMERT's GQA {train,valid,testdev}.json: "img_id", "sent",
 *            "question_id", "label" {answer: score}
 *   nlvr     LXMERT's NLVR2 {train,valid,test}.json: "identifier", "img0",
 *            "img1", "sent", "label" 0 / 1
 *   caption  Karpathy's dataset_coco.json: {"images": [{"filename",
 *            "split", "sentences": [{"raw"}], "cocoid", ...}]}
 * A list file may also be written as one object per line (JSON lines).
 *
 * OUTPUT: one line per example, docs/train.md's format:
 *   {"task": "vqa", "image": P, "input": Q, "answers": {label}, "id": QID}
 *   {"task": "gqa", "image": P, "input": Q, "answers": {label}, "id": QID}
 *   {"task": "nlvr", "image": P0, "image2": P1, "input": S, "target": "true", "id": IDENT}
 *   {"task": "caption", "image": P, "target": CAPTION, "id": COCOID}
 * --split train (the default; "karpathy_train" etc. also work) writes
 * training lines; --split val/test (also valid, minival, testdev, dev)
 * writes evaluation lines: VQA uses the annotators' "answers" as the list
 * form of "answers" when the entry has them; a caption line is one per image
 * with the first caption as "target" and all of them in "references" (a
 * member vla-train ignores).  For caption --split selects the images
 * (train = train + restval, as the official loader); for the other tasks
 * the input file is the split.
 *
 * PICTURES: P = DIR/PAT with PAT expanded per entry; {img_id} is the entry's
 * image id ("img_id", "img0"/"img1", or the caption file name without its
 * extension), {subdir} the COCO folder named in it (train2014, val2014,
 * test2014, test2015), {digits} its trailing digits.  Defaults, as the
 * official raw-image loaders (*_raw_data.py) find the files: vqa and caption
 * "{subdir}/{img_id}.jpg" under COCO/images, gqa "{img_id}.jpg" (VG_100K for
 * train/valid, GQA/images for testdev), nlvr "{img_id}.png" (nlvr/images).
 * --image-ext EXT swaps the default's extension.  Paths are written as given:
 * vla-train reads a relative one against the JSONL file's directory, so give
 * DIR absolute, relative to OUT's directory, or use --absolute (DIR made
 * absolute here).  --check-images stats every picture as vla-train will.
 *
 * READING: streamed (1 MB buffer); only one entry is held in memory at a
 * time, so files of any size work in a few MB.  Strict JSON (UTF-8 checked,
 * duplicate members: the last wins, as Python's json).  Any problem stops
 * the run with "vla-data: FILE:LINE:COL: ..." (syntax) or "vla-data:
 * FILE:LINE: entry K: ..." (a field), exit status 1, and no output file (it
 * is written under OUT.tmp and renamed at the end).  Usage errors exit 2.
 */
#define _XOPEN_SOURCE 700 /* realpath, stat */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define VLA_TOOL_IMPLEMENTATION
#include "vla_tool.h" /* vla_json (the entry tree) and vla_json_free */

/* ======================================================================
 * errors, memory
 * ====================================================================== */

static char *g_tmp_out; /* the partial output file, removed on a fatal error */
static FILE *g_out;

static void cleanup_output(void) {
    if (g_out && g_out != stdout) fclose(g_out);
    g_out = NULL;
    if (g_tmp_out) remove(g_tmp_out);
}

static void fatal(const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "vla-data: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    cleanup_output();
    exit(1);
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) fatal("out of memory (%zu bytes)", n);
    return q;
}

static char *xstrdup(const char *s) {
    size_t n = strlen(s);
    char *d = (char *)xrealloc(NULL, n + 1);
    memcpy(d, s, n + 1);
    return d;
}

/* A growing byte buffer. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n + 1) {
            if (c > ((size_t)-1) / 2) fatal("out of memory");
            c *= 2;
        }
        b->p = (char *)xrealloc(b->p, c);
        b->cap = c;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}
static void sb_str(sbuf *b, const char *s) { sb_put(b, s, strlen(s)); }
static void sb_chr(sbuf *b, char c) { sb_put(b, &c, 1); }

/* ======================================================================
 * the streaming JSON reader
 *
 * Bytes come through a 1 MB window of the file; line and column (in bytes,
 * from 1) of the next byte are kept for messages.  Values are built into
 * vla_json trees (tools/vla_tool.h) one entry at a time.  A NUMBER node also
 * keeps its source text in s / n, so scores and ids are written back exactly
 * as the official file has them.
 * ====================================================================== */

#define RD_WINDOW (1u << 20)
#define MAX_DEPTH 200

typedef struct reader {
    FILE *f;
    const char *path;
    unsigned char *buf;
    size_t pos, len;
    int eof, ioerr;
    long line, col;             /* of the next byte                 */
    unsigned long long off;     /* bytes consumed                   */
    unsigned long long size;    /* file size when known, else 0     */
    char msg[512];              /* the syntax error, when one occurs */
    long err_line, err_col;
    sbuf scratch;               /* a string being read                */
} reader;

/* The window is used up: the next bytes of the file, or -1 at its end. */
static int rd_fill(reader *r) {
    if (r->eof) return -1;
    r->len = fread(r->buf, 1, RD_WINDOW, r->f);
    r->pos = 0;
    if (r->len == 0) {
        r->eof = 1;
        if (ferror(r->f)) r->ioerr = 1;
        return -1;
    }
    return r->buf[0];
}

/* The next byte (not consumed), or -1 at the end of the file. */
static int rd_peek(reader *r) { return r->pos < r->len ? r->buf[r->pos] : rd_fill(r); }

static int rd_get(reader *r) {
    int c = rd_peek(r);
    if (c < 0) return c;
    r->pos++;
    r->off++;
    if (c == '\n') { r->line++; r->col = 1; }
    else r->col++;
    return c;
}

/* Records the first syntax error at the position of the next byte; 0. */
static int rd_fail(reader *r, const char *fmt, ...) {
    va_list ap;
    if (r->msg[0]) return 0;
    r->err_line = r->line;
    r->err_col = r->col;
    if (r->ioerr) { snprintf(r->msg, sizeof r->msg, "read error: %s", strerror(errno)); return 0; }
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof r->msg, fmt, ap);
    va_end(ap);
    return 0;
}

static void rd_ws(reader *r) {
    int c;
    while ((c = rd_peek(r)) == ' ' || c == '\t' || c == '\n' || c == '\r') rd_get(r);
}

/* "'x'" or "byte 0xHH" or "the end of the file", for messages. */
static const char *rd_what(int c, char *tmp, size_t n) {
    if (c < 0) snprintf(tmp, n, "the end of the file");
    else if (c >= 0x21 && c < 0x7f) snprintf(tmp, n, "'%c'", c);
    else snprintf(tmp, n, "byte 0x%02X", (unsigned)c);
    return tmp;
}

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Four hex digits after "\u"; -1 on error. */
static long rd_hex4(reader *r) {
    long v = 0;
    int i;
    for (i = 0; i < 4; i++) {
        int h = hexval(rd_peek(r));
        if (h < 0) { rd_fail(r, "a \\u escape needs 4 hex digits"); return -1; }
        rd_get(r);
        v = v * 16 + h;
    }
    return v;
}

static void put_utf8(sbuf *b, unsigned long cp) {
    char o[4];
    size_t n;
    if (cp < 0x80) { o[0] = (char)cp; n = 1; }
    else if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); n = 2; }
    else if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    sb_put(b, o, n);
}

/* A string at the next byte (a '"'): its bytes (malloc'd, NUL-terminated)
 * into *out / *out_n.  Escapes decoded, raw UTF-8 checked. */
static int rd_string(reader *r, char **out, size_t *out_n) {
    sbuf *b = &r->scratch; /* reused from string to string; the result is an exact copy */
    long l0 = r->line, c0 = r->col;
    b->n = 0;
    rd_get(r); /* the quote */
    for (;;) {
        int c = rd_peek(r);
        if (c < 0) {
                    return rd_fail(r, "the file ends inside the string that starts at %ld:%ld (truncated file?)", l0, c0);
        }
        if (c == '"') { rd_get(r); break; }
        if (c < 0x20) { return rd_fail(r, "control byte 0x%02X inside a string (JSON needs it escaped)", (unsigned)c); }
        if (c == '\\') {
            int e;
            rd_get(r);
            e = rd_peek(r);
            switch (e) {
            case '"': sb_chr(b, '"'); break;
            case '\\': sb_chr(b, '\\'); break;
            case '/': sb_chr(b, '/'); break;
            case 'b': sb_chr(b, '\b'); break;
            case 'f': sb_chr(b, '\f'); break;
            case 'n': sb_chr(b, '\n'); break;
            case 'r': sb_chr(b, '\r'); break;
            case 't': sb_chr(b, '\t'); break;
            case 'u': {
                long cp, lo;
                rd_get(r);
                if ((cp = rd_hex4(r)) < 0) { return 0; }
                if (cp >= 0xDC00 && cp < 0xE000) { return rd_fail(r, "lone UTF-16 low surrogate \\u%04lX", cp); }
                if (cp >= 0xD800 && cp < 0xDC00) {
                    if (rd_peek(r) != '\\') { return rd_fail(r, "lone UTF-16 high surrogate \\u%04lX", cp); }
                    rd_get(r);
                    if (rd_peek(r) != 'u') { return rd_fail(r, "lone UTF-16 high surrogate \\u%04lX", cp); }
                    rd_get(r);
                    if ((lo = rd_hex4(r)) < 0) { return 0; }
                    if (lo < 0xDC00 || lo >= 0xE000) { return rd_fail(r, "lone UTF-16 high surrogate \\u%04lX", cp); }
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                put_utf8(b, (unsigned long)cp);
                continue;
            }
            default: {
                char t[32];
                            return rd_fail(r, "unknown escape \\ followed by %s", rd_what(e, t, sizeof t));
            }
            }
            rd_get(r);
            continue;
        }
        if (c < 0x80) { /* a run of plain ASCII bytes in the window, copied at once (no newline in it) */
            size_t e = r->pos;
            while (e < r->len && r->buf[e] >= 0x20 && r->buf[e] < 0x80 && r->buf[e] != '"' && r->buf[e] != '\\') e++;
            sb_put(b, (const char *)r->buf + r->pos, e - r->pos);
            r->off += e - r->pos;
            r->col += (long)(e - r->pos);
            r->pos = e;
            continue;
        }
        { /* a UTF-8 sequence: lead byte, then 1-3 continuation bytes in range */
            unsigned char seq[4];
            int need, k, lo = 0x80, hi = 0xBF;
            if (c >= 0xC2 && c <= 0xDF) need = 1;
            else if (c >= 0xE0 && c <= 0xEF) { need = 2; if (c == 0xE0) lo = 0xA0; if (c == 0xED) hi = 0x9F; }
            else if (c >= 0xF0 && c <= 0xF4) { need = 3; if (c == 0xF0) lo = 0x90; if (c == 0xF4) hi = 0x8F; }
            else { return rd_fail(r, "invalid UTF-8 (byte 0x%02X) inside a string", (unsigned)c); }
            seq[0] = (unsigned char)c;
            rd_get(r);
            for (k = 1; k <= need; k++) {
                int d = rd_peek(r);
                if (d < lo || d > hi) {
                                    return rd_fail(r, "invalid UTF-8 (byte 0x%02X after 0x%02X) inside a string", (unsigned)(d < 0 ? 0 : d), seq[0]);
                }
                seq[k] = (unsigned char)d;
                rd_get(r);
                lo = 0x80; hi = 0xBF;
            }
            sb_put(b, (const char *)seq, (size_t)need + 1);
        }
    }
    *out = (char *)xrealloc(NULL, b->n + 1);
    if (b->n) memcpy(*out, b->p, b->n);
    (*out)[b->n] = 0;
    *out_n = b->n;
    return 1;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }

static int rd_number(reader *r, vla_json *v) {
    char t[80];
    size_t n = 0;
    int c, frac = 0;
    char *e;
#define NUM_PUT() do { if (n >= 64) return rd_fail(r, "number too long"); t[n++] = (char)rd_get(r); } while (0)
    if (rd_peek(r) == '-') NUM_PUT();
    c = rd_peek(r);
    if (c == '0') NUM_PUT();
    else if (c >= '1' && c <= '9') { while (is_digit(rd_peek(r))) NUM_PUT(); }
    else { char w[32]; return rd_fail(r, "bad number: a digit must follow '-', not %s", rd_what(c, w, sizeof w)); }
    if (rd_peek(r) == '.') {
        frac = 1;
        NUM_PUT();
        if (!is_digit(rd_peek(r))) return rd_fail(r, "bad number: a digit must follow '.'");
        while (is_digit(rd_peek(r))) NUM_PUT();
    }
    if (rd_peek(r) == 'e' || rd_peek(r) == 'E') {
        frac = 1;
        NUM_PUT();
        if (rd_peek(r) == '+' || rd_peek(r) == '-') NUM_PUT();
        if (!is_digit(rd_peek(r))) return rd_fail(r, "bad number: a digit must follow the exponent");
        while (is_digit(rd_peek(r))) NUM_PUT();
    }
#undef NUM_PUT
    c = rd_peek(r);
    if (is_digit(c) || c == '.' || c == '+' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return rd_fail(r, "bad number (leading zero, or a letter right after it)");
    t[n] = 0;
    v->type = VLA_JSON_NUMBER;
    v->num = strtod(t, &e);
    v->is_int = 0;
    if (!frac) {
        long long q;
        errno = 0;
        q = strtoll(t, &e, 10);
        if (errno == 0) { v->is_int = 1; v->inum = (int64_t)q; }
    }
    v->s = xstrdup(t);
    v->n = n;
    return 1;
}

/* A new member of an array / object (zeroed, counted, so that a failure
 * half-way leaves a tree vla_json_free can free). */
static vla_json *rd_push(reader *r, vla_json *v, int *cap) {
    vla_json *k;
    if (v->n_kid == *cap) {
        if (*cap > INT_MAX / 4) { rd_fail(r, "too many members"); return NULL; }
        *cap = *cap ? *cap * 2 : 4;
        v->kid = (vla_json *)xrealloc(v->kid, sizeof(vla_json) * (size_t)*cap);
    }
    k = &v->kid[v->n_kid++];
    memset(k, 0, sizeof *k);
    return k;
}

static int rd_value(reader *r, vla_json *v, int depth) {
    int c;
    char w[32];
    rd_ws(r);
    c = rd_peek(r);
    if (depth > MAX_DEPTH) return rd_fail(r, "JSON nested deeper than %d levels", MAX_DEPTH);
    if (c < 0) return rd_fail(r, "the file ends where a value should be (truncated file?)");
    if (c == '{' || c == '[') {
        int obj = c == '{', cap = 0;
        char close = obj ? '}' : ']';
        long l0 = r->line, c0 = r->col;
        v->type = obj ? VLA_JSON_OBJECT : VLA_JSON_ARRAY;
        rd_get(r);
        rd_ws(r);
        if (rd_peek(r) == close) { rd_get(r); return 1; }
        for (;;) {
            vla_json *k = rd_push(r, v, &cap);
            if (!k) return 0;
            rd_ws(r);
            if (obj) {
                c = rd_peek(r);
                if (c < 0) return rd_fail(r, "the file ends inside the object that starts at %ld:%ld (truncated file?)", l0, c0);
                if (c == '}') return rd_fail(r, "a comma before '}' (trailing commas are not JSON)");
                if (c != '"') return rd_fail(r, "expected a member name in double quotes, found %s", rd_what(c, w, sizeof w));
                if (!rd_string(r, &k->key, &k->key_n)) return 0;
                rd_ws(r);
                c = rd_peek(r);
                if (c != ':') return rd_fail(r, "expected ':' after the member name \"%.80s\", found %s", k->key, rd_what(c, w, sizeof w));
                rd_get(r);
            } else {
                rd_ws(r);
                if (rd_peek(r) == ']') return rd_fail(r, "a comma before ']' (trailing commas are not JSON)");
            }
            if (!rd_value(r, k, depth + 1)) return 0;
            rd_ws(r);
            c = rd_peek(r);
            if (c == ',') { rd_get(r); continue; }
            if (c == close) { rd_get(r); return 1; }
            if (c < 0)
                return rd_fail(r, "the file ends inside the %s that starts at %ld:%ld (truncated file?)", obj ? "object" : "list", l0, c0);
            return rd_fail(r, "expected ',' or '%c' in the %s that starts at %ld:%ld, found %s", close, obj ? "object" : "list",
                           l0, c0, rd_what(c, w, sizeof w));
        }
    }
    if (c == '"') {
        v->type = VLA_JSON_STRING;
        return rd_string(r, &v->s, &v->n);
    }
    if (c == '-' || is_digit(c)) return rd_number(r, v);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        char word[24];
        size_t n = 0;
        long l0 = r->line, c0 = r->col;
        while (((c = rd_peek(r)) >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            if (n < sizeof word - 1) word[n++] = (char)c;
            rd_get(r);
        }
        word[n] = 0;
        if (!strcmp(word, "true")) v->type = VLA_JSON_TRUE;
        else if (!strcmp(word, "false")) v->type = VLA_JSON_FALSE;
        else if (!strcmp(word, "null")) v->type = VLA_JSON_NULL;
        else {
            r->line = l0; r->col = c0; /* point at the word */
            rd_fail(r, "unknown word '%s' (JSON has true, false and null)", word);
            return 0;
        }
        return 1;
    }
    return rd_fail(r, "unexpected %s where a value should be", rd_what(c, w, sizeof w));
}

/* ======================================================================
 * JSON output
 * ====================================================================== */

static void jw_str(sbuf *b, const char *s, size_t n) {
    size_t i, run = 0;
    sb_chr(b, '"');
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        if (c == '"') esc = "\\\"";
        else if (c == '\\') esc = "\\\\";
        else if (c == '\n') esc = "\\n";
        else if (c == '\r') esc = "\\r";
        else if (c == '\t') esc = "\\t";
        else if (c == '\b') esc = "\\b";
        else if (c == '\f') esc = "\\f";
        else if (c < 0x20) { snprintf(u, sizeof u, "\\u%04x", c); esc = u; }
        if (!esc) continue;
        sb_put(b, s + run, i - run);
        sb_str(b, esc);
        run = i + 1;
    }
    sb_put(b, s + run, n - run);
    sb_chr(b, '"');
}

/* ======================================================================
 * the conversion
 * ====================================================================== */

enum { T_VQA, T_GQA, T_NLVR, T_CAPTION };
static const char *const task_names[] = {"vqa", "gqa", "nlvr", "caption"};

typedef struct conv {
    int task;
    int train;                /* training lines (else evaluation lines)        */
    const char *coco_split;   /* caption: "train" (train + restval), "val", "test" */
    const char *images;       /* DIR, or NULL                                  */
    const char *pattern;
    int check;
    const char *check_base;   /* where vla-train will resolve relative paths   */
    int quiet;
    long long limit, written;
    int stop;
    /* the entry being converted */
    const char *file;
    long line;
    long long index;
    /* counts */
    long long entries, other_split, unscored, empty_captions, dropped_empty_answers;
    sbuf out, path;
} conv;

static void entry_fail(const conv *C, const char *fmt, ...) {
    va_list ap;
    char msg[1024];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fatal("%s:%ld: entry %lld: %s", C->file, C->line, C->index, msg);
}

/* A member by name; the last one when the name repeats (Python's json). */
static const vla_json *member(const vla_json *o, const char *key) {
    int i;
    size_t n = strlen(key);
    const vla_json *found = NULL;
    if (!o || o->type != VLA_JSON_OBJECT) return NULL;
    for (i = 0; i < o->n_kid; i++)
        if (o->kid[i].key_n == n && !memcmp(o->kid[i].key, key, n)) found = &o->kid[i];
    return found;
}

static const char *type_name(const vla_json *v) {
    switch (v->type) {
    case VLA_JSON_NULL: return "null";
    case VLA_JSON_FALSE: case VLA_JSON_TRUE: return "a boolean";
    case VLA_JSON_NUMBER: return "a number";
    case VLA_JSON_STRING: return "a string";
    case VLA_JSON_ARRAY: return "a list";
    default: return "an object";
    }
}

/* A required string member. */
static const vla_json *need_string(const conv *C, const vla_json *o, const char *key, const char *what) {
    const vla_json *v = member(o, key);
    if (!v) entry_fail(C, "\"%s\" (%s) is missing", key, what);
    if (v->type != VLA_JSON_STRING) entry_fail(C, "\"%s\" (%s) must be a string, not %s", key, what, type_name(v));
    return v;
}

/* An image id: a non-empty string, or an integer (Python formats it the same
 * way into the file name). */
static void need_image_id(const conv *C, const vla_json *o, const char *key, const char **s, size_t *n) {
    const vla_json *v = member(o, key);
    if (!v) entry_fail(C, "\"%s\" (the image id) is missing", key);
    if (v->type == VLA_JSON_NUMBER && v->is_int) { *s = v->s; *n = v->n; return; }
    if (v->type != VLA_JSON_STRING) entry_fail(C, "\"%s\" (the image id) must be a string, not %s", key, type_name(v));
    if (v->n == 0) entry_fail(C, "\"%s\" (the image id) is empty", key);
    if (memchr(v->s, 0, v->n)) entry_fail(C, "\"%s\" (the image id) holds a NUL byte", key);
    *s = v->s;
    *n = v->n;
}

/* An id written to the output as it is (string or number). */
static void put_id(const conv *C, sbuf *b, const vla_json *v, const char *key) {
    if (v->type == VLA_JSON_STRING) jw_str(b, v->s, v->n);
    else if (v->type == VLA_JSON_NUMBER) sb_put(b, v->s, v->n);
    else entry_fail(C, "\"%s\" must be a string or a number, not %s", key, type_name(v));
}

/* ---- picture paths ---- */

static const char *coco_subdir(const char *id, size_t n) {
    static const char *const dirs[] = {"train2014", "val2014", "test2015", "test2014"};
    size_t d, i;
    for (d = 0; d < sizeof dirs / sizeof dirs[0]; d++) {
        size_t k = strlen(dirs[d]);
        for (i = 0; i + k <= n; i++)
            if (!memcmp(id + i, dirs[d], k)) return dirs[d];
    }
    return NULL;
}

/* Checks PAT's placeholders; NULL, or what is wrong. */
static const char *pattern_error(const char *p) {
    static char msg[160];
    while (*p) {
        const char *e;
        if (*p == '}') return "a '}' without '{' (placeholders are {img_id}, {subdir}, {digits})";
        if (*p != '{') { p++; continue; }
        e = strchr(p, '}');
        if (!e) return "a '{' without '}'";
        if (!((e - p == 7 && !memcmp(p, "{img_id", 7)) || (e - p == 7 && !memcmp(p, "{subdir", 7)) ||
              (e - p == 7 && !memcmp(p, "{digits", 7)))) {
            snprintf(msg, sizeof msg, "unknown placeholder %.*s (known: {img_id}, {subdir}, {digits})", (int)(e - p + 1), p);
            return msg;
        }
        p = e + 1;
    }
    return NULL;
}

/* DIR/PAT for one image id, into C->path (NUL-terminated). */
static const char *image_path(conv *C, const char *id, size_t n) {
    const char *p = C->pattern;
    sbuf *b = &C->path;
    b->n = 0;
    sb_put(b, "", 0);
    if (C->images && C->pattern[0] != '/') {
        size_t dl = strlen(C->images);
        sb_put(b, C->images, dl);
        if (dl && C->images[dl - 1] != '/') sb_chr(b, '/');
    }
    while (*p) {
        if (*p != '{') { sb_chr(b, *p++); continue; }
        if (!strncmp(p, "{img_id}", 8)) { sb_put(b, id, n); p += 8; }
        else if (!strncmp(p, "{subdir}", 8)) {
            const char *d = coco_subdir(id, n);
            if (!d)
                entry_fail(C, "image id '%.*s' names no COCO folder (train2014, val2014, ...) for {subdir}: give --image-pattern without it",
                           (int)(n > 200 ? 200 : n), id);
            sb_str(b, d);
            p += 8;
        } else { /* {digits} */
            size_t a = n;
            while (a > 0 && is_digit((unsigned char)id[a - 1])) a--;
            if (a == n) entry_fail(C, "image id '%.*s' does not end in digits for {digits}", (int)(n > 200 ? 200 : n), id);
            sb_put(b, id + a, n - a);
            p += 8;
        }
    }
    if (C->check) {
        sbuf full = {NULL, 0, 0};
        struct stat st;
        if (b->p[0] == '/' || !C->check_base) sb_str(&full, b->p);
        else { sb_str(&full, C->check_base); sb_chr(&full, '/'); sb_str(&full, b->p); }
        if (stat(full.p, &st) != 0) {
            if (!strcmp(full.p, b->p)) entry_fail(C, "picture %s not found: %s", b->p, strerror(errno));
            entry_fail(C, "picture %s not found (vla-train will look at %s): %s", b->p, full.p, strerror(errno));
        }
        if (!S_ISREG(st.st_mode)) entry_fail(C, "picture %s (%s) is not a regular file", b->p, full.p);
        free(full.p);
    }
    return b->p;
}

/* ---- one output line ---- */

static void line_begin(conv *C, const char *image) {
    C->out.n = 0;
    sb_str(&C->out, "{\"task\": \"");
    sb_str(&C->out, task_names[C->task]);
    sb_str(&C->out, "\", \"image\": ");
    jw_str(&C->out, image, strlen(image));
}

static void line_end(conv *C) {
    sb_str(&C->out, "}\n");
    if (fwrite(C->out.p, 1, C->out.n, g_out) != C->out.n) fatal("cannot write the output: %s", strerror(errno));
    C->written++;
    if (C->limit && C->written >= C->limit) C->stop = 1;
}

/* ---- Python's str.strip() (Unicode white space) over UTF-8 ---- */

static int py_space(unsigned long cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
           (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* The code point at s[i] (valid UTF-8: the reader checked it), its length in *len. */
static unsigned long utf8_at(const unsigned char *s, size_t i, size_t *len) {
    unsigned char c = s[i];
    if (c < 0x80) { *len = 1; return c; }
    if (c < 0xE0) { *len = 2; return ((unsigned long)(c & 0x1F) << 6) | (s[i + 1] & 0x3F); }
    if (c < 0xF0) { *len = 3; return ((unsigned long)(c & 0x0F) << 12) | ((unsigned long)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F); }
    *len = 4;
    return ((unsigned long)(c & 0x07) << 18) | ((unsigned long)(s[i + 1] & 0x3F) << 12) | ((unsigned long)(s[i + 2] & 0x3F) << 6) |
           (s[i + 3] & 0x3F);
}

static void py_strip(const char *str, size_t n, size_t *a_out, size_t *b_out) {
    const unsigned char *s = (const unsigned char *)str;
    size_t a = 0, b = n, len;
    while (a < b && py_space(utf8_at(s, a, &len))) a += len;
    while (b > a) {
        size_t st = b - 1;
        while (st > a && (s[st] & 0xC0) == 0x80) st--;
        if (!py_space(utf8_at(s, st, &len))) break;
        b = st;
    }
    *a_out = a;
    *b_out = b;
}

/* ---- VQA and GQA ---- */

/* Checks a label {answer: score}: an object of non-empty answers with
 * scores >= 0. */
static void check_label(const conv *C, const vla_json *label) {
    int i;
    if (label->type != VLA_JSON_OBJECT)
        entry_fail(C, "\"label\" must be an object {answer: score}, not %s", type_name(label));
    for (i = 0; i < label->n_kid; i++) {
        const vla_json *a = &label->kid[i];
        if (a->type != VLA_JSON_NUMBER || !isfinite(a->num) || a->num < 0)
            entry_fail(C, "\"label\": the score of \"%.80s\" must be a number >= 0, not %s", a->key,
                       a->type == VLA_JSON_NUMBER ? a->s : type_name(a));
        if (a->key_n == 0) entry_fail(C, "\"label\" holds an empty answer");
    }
}

/* Writes a checked label as "answers" (a repeated answer keeps its first
 * place and its last score, as a Python dict); the number of answers. */
static int put_label(conv *C, const vla_json *label) {
    int i, j, written = 0;
    sb_str(&C->out, ", \"answers\": {");
    for (i = 0; i < label->n_kid; i++) {
        const vla_json *a = &label->kid[i], *last = a;
        int seen = 0;
        for (j = 0; j < i && !seen; j++)
            seen = label->kid[j].key_n == a->key_n && !memcmp(label->kid[j].key, a->key, a->key_n);
        if (seen) continue;
        for (j = i + 1; j < label->n_kid; j++)
            if (label->kid[j].key_n == a->key_n && !memcmp(label->kid[j].key, a->key, a->key_n)) last = &label->kid[j];
        if (written++) sb_str(&C->out, ", ");
        jw_str(&C->out, a->key, a->key_n);
        sb_str(&C->out, ": ");
        sb_put(&C->out, last->s, last->n);
    }
    sb_chr(&C->out, '}');
    return written;
}

static void convert_qa(conv *C, const vla_json *e) {
    const char *img;
    size_t img_n;
    const vla_json *sent, *qid, *label, *answers = NULL;
    int n_ann = 0, n_empty = 0, use_list, i;
    need_image_id(C, e, "img_id", &img, &img_n);
    sent = member(e, "sent");
    if (!sent && C->task == T_VQA) sent = member(e, "question"); /* the VQA loader's fallback */
    if (!sent) entry_fail(C, "\"sent\" (the question) is missing");
    if (sent->type != VLA_JSON_STRING) entry_fail(C, "\"sent\" (the question) must be a string, not %s", type_name(sent));
    qid = member(e, "question_id");
    if (!qid) entry_fail(C, "\"question_id\" is missing");
    if (qid->type != VLA_JSON_STRING && qid->type != VLA_JSON_NUMBER)
        entry_fail(C, "\"question_id\" must be a string or a number, not %s", type_name(qid));
    label = member(e, "label");
    if (C->task == T_VQA && (answers = member(e, "answers")) != NULL) { /* the annotators' answers */
        if (answers->type != VLA_JSON_ARRAY) entry_fail(C, "\"answers\" must be a list, not %s", type_name(answers));
        for (i = 0; i < answers->n_kid; i++) {
            const vla_json *a = &answers->kid[i], *t = a->type == VLA_JSON_OBJECT ? member(a, "answer") : a;
            if (!t || t->type != VLA_JSON_STRING)
                entry_fail(C, "\"answers\"[%d] must be {\"answer\": \"...\", ...} (or a string)", i);
            if (t->n) n_ann++;
            else n_empty++;
        }
    }
    if (label) check_label(C, label);
    else if (C->train || n_ann == 0)
        entry_fail(C, "\"label\" {answer: score} is missing%s", C->train ? "" : " (and there are no annotators' \"answers\")");
    use_list = !C->train && n_ann > 0; /* evaluation lines: the annotators' answers when there are some */
    if (!use_list && label->n_kid == 0) {
        C->unscored++; /* {}: vla-train needs an answer; the official loader trains it with score 0 */
        return;
    }
    line_begin(C, image_path(C, img, img_n));
    sb_str(&C->out, ", \"input\": ");
    jw_str(&C->out, sent->s, sent->n);
    if (use_list) {
        int w = 0;
        C->dropped_empty_answers += n_empty;
        sb_str(&C->out, ", \"answers\": [");
        for (i = 0; i < answers->n_kid; i++) {
            const vla_json *a = &answers->kid[i], *t = a->type == VLA_JSON_OBJECT ? member(a, "answer") : a;
            if (!t->n) continue;
            if (w++) sb_str(&C->out, ", ");
            jw_str(&C->out, t->s, t->n);
        }
        sb_chr(&C->out, ']');
    } else put_label(C, label);
    sb_str(&C->out, ", \"id\": ");
    put_id(C, &C->out, qid, "question_id");
    line_end(C);
}

/* ---- NLVR2 ---- */

static void convert_nlvr(conv *C, const vla_json *e) {
    const char *i0, *i1;
    size_t n0, n1;
    const vla_json *sent, *label, *id;
    const char *target = "false";
    sbuf first = {NULL, 0, 0};
    need_image_id(C, e, "img0", &i0, &n0);
    need_image_id(C, e, "img1", &i1, &n1);
    sent = need_string(C, e, "sent", "the statement");
    label = member(e, "label");
    if (!label) entry_fail(C, "\"label\" (0 or 1) is missing");
    if (label->type == VLA_JSON_NUMBER && label->is_int && (label->inum == 0 || label->inum == 1))
        target = label->inum ? "true" : "false";
    else if (label->type == VLA_JSON_TRUE || label->type == VLA_JSON_FALSE)
        target = label->type == VLA_JSON_TRUE ? "true" : "false";
    else
        entry_fail(C, "\"label\" must be 0 or 1, not %s", label->type == VLA_JSON_NUMBER ? label->s : type_name(label));
    id = member(e, "identifier");
    if (!id) id = member(e, "uid");
    sb_str(&first, image_path(C, i0, n0));
    line_begin(C, first.p);
    free(first.p);
    sb_str(&C->out, ", \"image2\": ");
    {
        const char *p1 = image_path(C, i1, n1);
        jw_str(&C->out, p1, strlen(p1));
    }
    sb_str(&C->out, ", \"input\": ");
    jw_str(&C->out, sent->s, sent->n);
    sb_str(&C->out, ", \"target\": \"");
    sb_str(&C->out, target);
    sb_chr(&C->out, '"');
    if (id) {
        sb_str(&C->out, ", \"id\": ");
        put_id(C, &C->out, id, id == member(e, "uid") ? "uid" : "identifier");
    }
    line_end(C);
}

/* ---- COCO captions (one element of dataset_coco.json's "images") ---- */

static void convert_caption(conv *C, const vla_json *e) {
    const vla_json *split, *fname, *sents, *cocoid;
    const char *want, *img;
    size_t img_n, a, b;
    int i, first = -1;
    sbuf path = {NULL, 0, 0};
    split = need_string(C, e, "split", "train, restval, val or test");
    if (!strcmp(split->s, "train") || !strcmp(split->s, "restval")) want = "train"; /* the official split_rename */
    else if (!strcmp(split->s, "val") || !strcmp(split->s, "test")) want = split->s;
    else entry_fail(C, "\"split\" is '%.40s'; dataset_coco.json uses train, restval, val and test", split->s);
    if (strcmp(want, C->coco_split) != 0) { C->other_split++; return; }
    fname = need_string(C, e, "filename", "the picture's file name");
    img = fname->s;
    img_n = strcspn(fname->s, "."); /* the loader: filename.split('.')[0] */
    if (img_n == 0) entry_fail(C, "\"filename\" '%.80s' has no name before its first '.'", fname->s);
    if (memchr(img, 0, img_n)) entry_fail(C, "\"filename\" holds a NUL byte");
    sents = member(e, "sentences");
    if (!sents) entry_fail(C, "\"sentences\" is missing");
    if (sents->type != VLA_JSON_ARRAY) entry_fail(C, "\"sentences\" must be a list, not %s", type_name(sents));
    for (i = 0; i < sents->n_kid; i++) {
        const vla_json *s = &sents->kid[i], *raw;
        if (s->type != VLA_JSON_OBJECT) entry_fail(C, "\"sentences\"[%d] must be an object {\"raw\": ...}, not %s", i, type_name(s));
        raw = member(s, "raw");
        if (!raw) entry_fail(C, "\"sentences\"[%d]: \"raw\" (the caption) is missing", i);
        if (raw->type != VLA_JSON_STRING) entry_fail(C, "\"sentences\"[%d]: \"raw\" must be a string, not %s", i, type_name(raw));
        py_strip(raw->s, raw->n, &a, &b);
        if (a == b) C->empty_captions += C->train; /* training: skipped; evaluation: kept as a reference */
        else if (first < 0) first = i;
    }
    cocoid = member(e, "cocoid");
    if (cocoid && cocoid->type != VLA_JSON_STRING && cocoid->type != VLA_JSON_NUMBER)
        entry_fail(C, "\"cocoid\" must be a number, not %s", type_name(cocoid));
    sb_str(&path, image_path(C, img, img_n));
    if (C->train) {
        for (i = 0; i < sents->n_kid && !C->stop; i++) {
            const vla_json *raw = member(&sents->kid[i], "raw");
            py_strip(raw->s, raw->n, &a, &b);
            if (a == b) continue;
            line_begin(C, path.p);
            sb_str(&C->out, ", \"target\": ");
            jw_str(&C->out, raw->s + a, b - a);
            sb_str(&C->out, ", \"id\": ");
            if (cocoid) put_id(C, &C->out, cocoid, "cocoid");
            else jw_str(&C->out, img, img_n);
            line_end(C);
        }
    } else if (first >= 0) {
        const vla_json *raw = member(&sents->kid[first], "raw");
        line_begin(C, path.p);
        py_strip(raw->s, raw->n, &a, &b);
        sb_str(&C->out, ", \"target\": ");
        jw_str(&C->out, raw->s + a, b - a);
        sb_str(&C->out, ", \"references\": [");
        for (i = 0; i < sents->n_kid; i++) {
            raw = member(&sents->kid[i], "raw");
            py_strip(raw->s, raw->n, &a, &b);
            if (i) sb_str(&C->out, ", ");
            jw_str(&C->out, raw->s + a, b - a);
        }
        sb_str(&C->out, "], \"id\": ");
        if (cocoid) put_id(C, &C->out, cocoid, "cocoid");
        else jw_str(&C->out, img, img_n);
        line_end(C);
    }
    free(path.p);
}

static void convert_entry(conv *C, const vla_json *e) {
    C->entries++;
    if (e->type != VLA_JSON_OBJECT) entry_fail(C, "expected an object {...}, found %s", type_name(e));
    switch (C->task) {
    case T_VQA: case T_GQA: convert_qa(C, e); break;
    case T_NLVR: convert_nlvr(C, e); break;
    default: convert_caption(C, e); break;
    }
}

/* ======================================================================
 * walking a file
 * ====================================================================== */

static void syntax_fatal(const reader *r) {
    fatal("%s:%ld:%ld: %s", r->path, r->err_line, r->err_col, r->msg);
}

static void progress(conv *C, reader *r, int *decile) {
    int d;
    if (C->quiet || r->size < (16u << 20)) return;
    d = (int)(r->off * 10 / r->size);
    if (d <= *decile) return;
    *decile = d;
    fprintf(stderr, "vla-data: %s: %d%% (%.0f of %.0f MB), %lld entries, %lld lines\n", r->path, d * 10, (double)r->off / 1e6,
            (double)r->size / 1e6, C->entries, C->written);
}

/* One entry at the next byte: parsed, converted, freed. */
static void one_entry(conv *C, reader *r, int *decile) {
    vla_json *e = (vla_json *)xrealloc(NULL, sizeof *e);
    memset(e, 0, sizeof *e);
    C->line = r->line;
    C->index++;
    if (!rd_value(r, e, 1)) { vla_json_free(e); syntax_fatal(r); }
    convert_entry(C, e);
    vla_json_free(e);
    progress(C, r, decile);
}

/* The entries of a list at the next byte (a '['); stops early at --limit. */
static void walk_list(conv *C, reader *r, int *decile) {
    long l0 = r->line, c0 = r->col;
    char w[32];
    int c;
    rd_get(r);
    rd_ws(r);
    if (rd_peek(r) == ']') { rd_get(r); return; }
    for (;;) {
        rd_ws(r);
        if (rd_peek(r) == ']') { rd_fail(r, "a comma before ']' (trailing commas are not JSON)"); syntax_fatal(r); }
        one_entry(C, r, decile);
        if (C->stop) return;
        rd_ws(r);
        c = rd_peek(r);
        if (c == ',') { rd_get(r); continue; }
        if (c == ']') { rd_get(r); return; }
        if (c < 0) rd_fail(r, "the file ends inside the list that starts at %ld:%ld (truncated file?)", l0, c0);
        else rd_fail(r, "expected ',' or ']' after an entry of the list that starts at %ld:%ld, found %s", l0, c0, rd_what(c, w, sizeof w));
        syntax_fatal(r);
    }
}

static void expect_end(reader *r) {
    char w[32];
    rd_ws(r);
    if (rd_peek(r) >= 0) { rd_fail(r, "unexpected %s after the end of the JSON value", rd_what(rd_peek(r), w, sizeof w)); syntax_fatal(r); }
    if (r->ioerr) { rd_fail(r, "read error"); syntax_fatal(r); }
}

static void convert_file(conv *C, const char *path) {
    reader r;
    int decile = 0, c;
    char w[32];
    memset(&r, 0, sizeof r);
    r.path = path;
    r.line = r.col = 1;
    r.f = fopen(path, "rb");
    if (!r.f) fatal("cannot open %s: %s", path, strerror(errno));
    if (fseek(r.f, 0, SEEK_END) == 0) {
        long sz = ftell(r.f);
        if (sz > 0) r.size = (unsigned long long)sz;
        rewind(r.f);
    }
    r.buf = (unsigned char *)xrealloc(NULL, RD_WINDOW);
    C->file = path;
    C->index = 0;
    /* a UTF-8 byte order mark is skipped */
    if (rd_peek(&r) == 0xEF) {
        rd_get(&r);
        if (rd_get(&r) != 0xBB || rd_get(&r) != 0xBF) { rd_fail(&r, "invalid UTF-8 at the start of the file"); syntax_fatal(&r); }
        r.col = 1;
    }
    rd_ws(&r);
    c = rd_peek(&r);
    if (c < 0) {
        if (r.ioerr) { rd_fail(&r, "read error"); syntax_fatal(&r); }
        fatal("%s is empty", path);
    }
    if (C->task == T_CAPTION) {
        /* {"images": [...], "dataset": "coco"}: only "images" is walked, the
         * other members are read (checked) and dropped */
        long l0 = r.line, c0 = r.col;
        int seen = 0;
        if (c != '{') { rd_fail(&r, "expected dataset_coco.json's object {\"images\": [...], ...}, found %s", rd_what(c, w, sizeof w)); syntax_fatal(&r); }
        rd_get(&r);
        rd_ws(&r);
        if (rd_peek(&r) == '}') rd_get(&r);
        else for (;;) {
            char *key = NULL;
            size_t key_n;
            rd_ws(&r);
            c = rd_peek(&r);
            if (c < 0) { rd_fail(&r, "the file ends inside the object that starts at %ld:%ld (truncated file?)", l0, c0); syntax_fatal(&r); }
            if (c != '"') { rd_fail(&r, "expected a member name in double quotes, found %s", rd_what(c, w, sizeof w)); syntax_fatal(&r); }
            if (!rd_string(&r, &key, &key_n)) syntax_fatal(&r);
            rd_ws(&r);
            if (rd_peek(&r) != ':') { rd_fail(&r, "expected ':' after the member name \"%.80s\"", key); syntax_fatal(&r); }
            rd_get(&r);
            rd_ws(&r);
            if (!strcmp(key, "images")) {
                if (seen) fatal("%s:%ld:%ld: \"images\" appears twice", path, r.line, r.col);
                seen = 1;
                if (rd_peek(&r) != '[') {
                    rd_fail(&r, "\"images\" must be a list [...], found %s", rd_what(rd_peek(&r), w, sizeof w));
                    syntax_fatal(&r);
                }
                walk_list(C, &r, &decile);
            } else {
                vla_json *v = (vla_json *)xrealloc(NULL, sizeof *v);
                memset(v, 0, sizeof *v);
                if (!rd_value(&r, v, 1)) syntax_fatal(&r);
                vla_json_free(v);
            }
            free(key);
            if (C->stop) break;
            rd_ws(&r);
            c = rd_peek(&r);
            if (c == ',') { rd_get(&r); continue; }
            if (c == '}') { rd_get(&r); break; }
            if (c < 0) rd_fail(&r, "the file ends inside the object that starts at %ld:%ld (truncated file?)", l0, c0);
            else rd_fail(&r, "expected ',' or '}' in the object that starts at %ld:%ld, found %s", l0, c0, rd_what(c, w, sizeof w));
            syntax_fatal(&r);
        }
        if (!seen && !C->stop) fatal("%s: no \"images\" list (is this Karpathy's dataset_coco.json?)", path);
        if (!C->stop) expect_end(&r);
    } else if (c == '[') {
        walk_list(C, &r, &decile);
        if (!C->stop) expect_end(&r);
    } else if (c == '{') { /* JSON lines: one entry after another */
        for (;;) {
            rd_ws(&r);
            c = rd_peek(&r);
            if (c < 0) break;
            if (c != '{') { rd_fail(&r, "expected the next entry {...} (one JSON object per line), found %s", rd_what(c, w, sizeof w)); syntax_fatal(&r); }
            one_entry(C, &r, &decile);
            if (C->stop) break;
        }
        if (r.ioerr) { rd_fail(&r, "read error"); syntax_fatal(&r); }
    } else {
        rd_fail(&r, "expected a JSON list [...] of entries (or one object per line), found %s", rd_what(c, w, sizeof w));
        syntax_fatal(&r);
    }
    fclose(r.f);
    free(r.buf);
    free(r.scratch.p);
}

/* ======================================================================
 * command line
 * ====================================================================== */

static void usage(int status) {
    fprintf(status ? stderr : stdout,
            "usage: vla-data --task vqa|gqa|nlvr|caption [--split train|val|test] [--images DIR]\n"
            "                [--image-pattern PAT | --image-ext EXT] [--absolute] [--check-images]\n"
            "                [-o OUT.jsonl] [--limit N] [--quiet] INPUT.json [INPUT.json ...]\n"
            "\n"
            "Converts the official VL-T5 / VL-Adapter data files to vla-train's JSONL (docs/data.md):\n"
            "  vqa      karpathy_{train,val,test}.json   (img_id, sent, question_id, label, [answers])\n"
            "  gqa      {train,valid,testdev}.json       (img_id, sent, question_id, label)\n"
            "  nlvr     {train,valid,test}.json           (identifier, img0, img1, sent, label 0/1)\n"
            "  caption  dataset_coco.json                 (images: filename, split, sentences[].raw, cocoid)\n"
            "--split      train (default: training lines; caption: Karpathy train + restval, one line per\n"
            "             caption) or val / test (also valid, minival, testdev, dev; karpathy_ prefixes are\n"
            "             fine): evaluation lines (VQA: the annotators' answers; caption: one line per\n"
            "             image, all captions in \"references\")\n"
            "--images DIR picture directory, put in front of the pattern (written as given: vla-train reads\n"
            "             a relative path against the JSONL file's directory; --absolute resolves DIR here)\n"
            "--image-pattern PAT  placeholders {img_id}, {subdir} (train2014/val2014/... from the id),\n"
            "             {digits} (the id's trailing digits). Defaults: vqa and caption\n"
            "             {subdir}/{img_id}.jpg, gqa {img_id}.jpg, nlvr {img_id}.png\n"
            "--image-ext EXT      the default pattern with another extension\n"
            "--check-images       every picture must exist (checked where vla-train will look)\n"
            "-o OUT       output (default: standard output); written as OUT.tmp, renamed when complete\n"
            "--limit N    stop after N output lines\n"
            "--quiet      no progress or summary on stderr\n");
    exit(status);
}

static const char *arg_value(int argc, char **argv, int *i) {
    if (*i + 1 >= argc) { fprintf(stderr, "vla-data: %s needs a value\n", argv[*i]); usage(2); }
    return argv[++*i];
}

static void usage_error(const char *fmt, ...) {
    va_list ap;
    fprintf(stderr, "vla-data: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (vla-data --help)\n");
    exit(2);
}

int main(int argc, char **argv) {
    conv C;
    const char *task = NULL, *split = "train", *out = NULL, *pattern = NULL, *ext = NULL, *base;
    const char **inputs;
    int n_in = 0, i, absolute = 0;
    char *pat_buf = NULL, *abs_dir = NULL, *out_dir = NULL;
    memset(&C, 0, sizeof C);
    inputs = (const char **)xrealloc(NULL, sizeof(char *) * (size_t)(argc + 1));
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) usage(0);
        else if (!strcmp(a, "--task")) task = arg_value(argc, argv, &i);
        else if (!strcmp(a, "--split")) split = arg_value(argc, argv, &i);
        else if (!strcmp(a, "--images")) C.images = arg_value(argc, argv, &i);
        else if (!strcmp(a, "--image-pattern")) pattern = arg_value(argc, argv, &i);
        else if (!strcmp(a, "--image-ext")) ext = arg_value(argc, argv, &i);
        else if (!strcmp(a, "--absolute")) absolute = 1;
        else if (!strcmp(a, "--check-images")) C.check = 1;
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) out = arg_value(argc, argv, &i);
        else if (!strcmp(a, "--quiet")) C.quiet = 1;
        else if (!strcmp(a, "--limit")) {
            const char *v = arg_value(argc, argv, &i);
            char *e;
            long long n;
            errno = 0;
            n = strtoll(v, &e, 10);
            if (errno || e == v || *e || n < 1) usage_error("--limit needs a whole number >= 1, not '%s'", v);
            C.limit = n;
        } else if (a[0] == '-' && a[1]) usage_error("unknown option %s", a);
        else inputs[n_in++] = a;
    }
    if (!task) usage_error("--task is required");
    for (C.task = 0; C.task < 4 && strcmp(task, task_names[C.task]); C.task++) {}
    if (C.task == 4) usage_error("unknown --task '%s' (vqa, gqa, nlvr or caption)", task);
    if (n_in == 0) usage_error("no input file");
    base = strrchr(split, '_') ? strrchr(split, '_') + 1 : split;
    if (!strcmp(base, "train")) { C.train = 1; C.coco_split = "train"; }
    else if (C.task == T_CAPTION && (!strcmp(base, "val") || !strcmp(base, "test"))) C.coco_split = base;
    else if (C.task != T_CAPTION && (!strcmp(base, "val") || !strcmp(base, "valid") || !strcmp(base, "minival") ||
                                     !strcmp(base, "test") || !strcmp(base, "testdev") || !strcmp(base, "dev")))
        C.coco_split = base;
    else if (C.task == T_CAPTION) usage_error("--split for caption is train (Karpathy train + restval), val or test, not '%s'", split);
    else usage_error("--split is train, or val / valid / minival / test / testdev / dev for evaluation lines, not '%s'", split);
    if (pattern && ext) usage_error("give --image-pattern or --image-ext, not both");
    if (!pattern) {
        const char *def = C.task == T_GQA ? "{img_id}" : C.task == T_NLVR ? "{img_id}" : "{subdir}/{img_id}";
        const char *x = ext ? ext : C.task == T_NLVR ? "png" : "jpg";
        if (*x == '.') x++;
        if (!*x || strchr(x, '/') || strchr(x, '{') || strchr(x, '}')) usage_error("--image-ext '%s' is not an extension", ext);
        pat_buf = (char *)xrealloc(NULL, strlen(def) + strlen(x) + 2);
        sprintf(pat_buf, "%s.%s", def, x);
        pattern = pat_buf;
    }
    if (!*pattern) usage_error("--image-pattern is empty");
    {
        const char *pe = pattern_error(pattern);
        if (pe) usage_error("--image-pattern '%s': %s", pattern, pe);
    }
    C.pattern = pattern;
    if (absolute) {
        if (!C.images) usage_error("--absolute needs --images DIR");
        abs_dir = realpath(C.images, NULL);
        if (!abs_dir) fatal("--images %s: %s", C.images, strerror(errno));
        C.images = abs_dir;
    }
    if (C.images && !*C.images) usage_error("--images is empty");
    if (out && !strcmp(out, "-")) out = NULL;
    if (out) {
        const char *sl = strrchr(out, '/');
        if (sl) {
            size_t n = (size_t)(sl - out);
            out_dir = (char *)xrealloc(NULL, n + 2);
            if (n == 0) strcpy(out_dir, "/");
            else { memcpy(out_dir, out, n); out_dir[n] = 0; }
        }
    }
    C.check_base = out_dir; /* NULL: the current directory */
    if (!C.quiet && C.images && C.images[0] != '/' && out_dir && strcmp(out_dir, "."))
        fprintf(stderr, "vla-data: note: the picture paths start with the relative '%s'; vla-train reads them against %s/ "
                        "(the output's directory), not the current one (--absolute avoids this)\n", C.images, out_dir);
    if (out) {
        g_tmp_out = (char *)xrealloc(NULL, strlen(out) + 5);
        sprintf(g_tmp_out, "%s.tmp", out);
        g_out = fopen(g_tmp_out, "wb");
        if (!g_out) { char *t = g_tmp_out; g_tmp_out = NULL; fatal("cannot write %s: %s", t, strerror(errno)); }
    } else g_out = stdout;
    for (i = 0; i < n_in && !C.stop; i++) convert_file(&C, inputs[i]);
    if (C.written == 0) {
        if (C.task == T_CAPTION && C.other_split == C.entries)
            fatal("no examples: none of the %lld images is in the Karpathy split '%s'", C.entries, C.coco_split);
        fatal("no examples were written (%lld entries read)", C.entries);
    }
    if (fflush(g_out) != 0 || ferror(g_out)) fatal("cannot write the output: %s", strerror(errno));
    if (g_out != stdout) {
        if (fclose(g_out) != 0) { g_out = NULL; fatal("cannot write %s: %s", g_tmp_out, strerror(errno)); }
        g_out = NULL;
        if (rename(g_tmp_out, out) != 0) fatal("cannot rename %s to %s: %s", g_tmp_out, out, strerror(errno));
        free(g_tmp_out);
        g_tmp_out = NULL;
    }
    if (!C.quiet) {
        fprintf(stderr, "vla-data: %s: %lld line(s) from %lld entries%s%s", task_names[C.task], C.written, C.entries,
                C.stop ? " (--limit reached)" : "", out ? " -> " : "");
        fprintf(stderr, "%s\n", out ? out : "");
        if (C.unscored)
            fprintf(stderr, "vla-data: skipped %lld question(s) with an empty \"label\" {} (vla-train needs an answer; the official "
                            "loader trains them with score 0)\n", C.unscored);
        if (C.empty_captions) fprintf(stderr, "vla-data: skipped %lld empty caption(s)\n", C.empty_captions);
        if (C.dropped_empty_answers) fprintf(stderr, "vla-data: dropped %lld empty annotator answer(s)\n", C.dropped_empty_answers);
        if (C.task == T_CAPTION) fprintf(stderr, "vla-data: %lld image(s) of other splits left out\n", C.other_split);
    }
    free(pat_buf);
    free(abs_dir);
    free(out_dir);
    free(inputs);
    free(C.out.p);
    free(C.path.p);
    return 0;
}
