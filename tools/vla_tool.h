/* vla_tool.h - host-side helpers shared by tools/, tests/ and examples/.
 *
 * Unlike vladapter.h this file runs on a PC: it may use malloc and stdio.  It
 * still never trusts a file: every length and offset is checked against the
 * bytes that exist, and every failure returns an error with a message.
 *
 *   #define VLA_TOOL_IMPLEMENTATION   in exactly one .c file, then include.
 *
 * Contents
 *   [T1] files: read a whole file, write through a FILE*
 *   [T2] JSON: a small DOM parser (objects, arrays, strings with \u escapes,
 *        numbers kept as double and as exact int64 when integral)
 *   [T3] .npy arrays (numpy.save): little-endian f2/f4/f8/i4/i8/u1/b1
 *   [T4] safetensors: header JSON + raw data, zero copy over a buffer
 */
#ifndef VLA_TOOL_H
#define VLA_TOOL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- [T1] files ---- */
/* Whole file into malloc'd memory (NUL-terminated for convenience, not
 * counted in *size).  NULL on failure, with the reason in err. */
unsigned char *vla_tool_read_file(const char *path, size_t *size, char *err, size_t err_len);

/* An integer command-line value: text must be a whole decimal number in
 * [lo, hi].  0, or -1 after printing "PROG: FLAG takes ..." to stderr. */
int vla_tool_int_arg(const char *prog, const char *flag, const char *text, long lo, long hi, int *out);

/* ---- [T2] JSON ---- */
typedef enum vla_json_type {
    VLA_JSON_NULL, VLA_JSON_FALSE, VLA_JSON_TRUE, VLA_JSON_NUMBER, VLA_JSON_STRING, VLA_JSON_ARRAY, VLA_JSON_OBJECT
} vla_json_type;

typedef struct vla_json {
    vla_json_type type;
    double num;              /* NUMBER                                      */
    int64_t inum;            /* NUMBER, exact when is_int                   */
    int is_int;
    char *s;                 /* STRING (UTF-8, NUL-terminated, may hold NULs) */
    size_t n;                /* STRING byte length                          */
    char *key;               /* member name when inside an OBJECT           */
    size_t key_n;
    struct vla_json *kid;    /* ARRAY / OBJECT members, in file order       */
    int n_kid;
} vla_json;

/* Parse text[0, len).  Depth is limited to 256.  Returns NULL on error. */
vla_json *vla_json_parse(const char *text, size_t len, char *err, size_t err_len);
void vla_json_free(vla_json *j);
/* A deep copy (NULL on failure). */
vla_json *vla_json_copy(const vla_json *j);
/* A model config as the fixture tools take it: a copy of file_cfg (the
 * checkpoint's own config; NULL: an empty object) with every scalar member
 * (number, boolean, string) of over (a manifest's "config") put on top.  A
 * scalar never replaces an object or array member.  NULL when neither exists
 * or out of memory. */
vla_json *vla_json_merge_config(const vla_json *file_cfg, const vla_json *over);
/* Member of an object by name (first match), or NULL. */
const vla_json *vla_json_get(const vla_json *obj, const char *key);
/* Convenience: number member as double / int with a default. */
double vla_json_num(const vla_json *obj, const char *key, double dflt);
/* The parameter-efficient method a VL-Adapter config (config.json / a
 * fixture manifest's "config") asks for: "hyperformer", "compacter",
 * "lradapter", "adapter", "lora", "prompt", or NULL for none. */
const char *vla_json_peft_method(const vla_json *cfg);

/* ---- [T3] .npy ---- */
typedef struct vla_npy {
    char descr[8];           /* "<f4", "<i8", ...                            */
    int n_dims;
    int64_t shape[8];
    size_t count;            /* number of elements                          */
    size_t elem;             /* bytes per element                           */
    unsigned char *file;     /* the malloc'd file                            */
    const void *data;        /* into file                                   */
} vla_npy;

int vla_npy_load(const char *path, vla_npy *a, char *err, size_t err_len);
int vla_npy_parse(unsigned char *file, size_t size, vla_npy *a, char *err, size_t err_len); /* takes ownership */
void vla_npy_free(vla_npy *a);
/* Element i converted (float kinds to double, integer kinds exactly). */
double vla_npy_f(const vla_npy *a, size_t i);
int64_t vla_npy_i(const vla_npy *a, size_t i);

/* ---- [T4] safetensors ---- */
typedef struct vla_st_tensor {
    const char *name;        /* points into the parsed header               */
    int dtype;               /* ggml type id (vla_type): F32 0, F16 1, BF16 30, I64 27, I32 26, I8 24, F64 28; U8/BOOL: 100/101 */
    int n_dims;
    int64_t shape[8];        /* PyTorch order                               */
    const void *data;        /* into the buffer                             */
    size_t nbytes;
} vla_st_tensor;

typedef struct vla_st_file {
    const unsigned char *buf; /* not owned                                  */
    size_t size;
    vla_json *header;         /* owned                                      */
    const vla_json *metadata; /* "__metadata__" object or NULL              */
    vla_st_tensor *t;         /* owned array                                */
    int n;
} vla_st_file;

int vla_st_parse(vla_st_file *f, const unsigned char *buf, size_t size, char *err, size_t err_len);
void vla_st_free(vla_st_file *f);
const vla_st_tensor *vla_st_find(const vla_st_file *f, const char *name);

#ifdef __cplusplus
}
#endif
#endif /* VLA_TOOL_H */

#ifdef VLA_TOOL_IMPLEMENTATION
#ifndef VLA_TOOL_IMPLEMENTATION_DONE
#define VLA_TOOL_IMPLEMENTATION_DONE
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <errno.h>

static void vla_tool__err(char *err, size_t n, const char *fmt, ...) {
    va_list ap;
    if (!err || !n) return;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
}

/* ---- [T1] ---- */
int vla_tool_int_arg(const char *prog, const char *flag, const char *text, long lo, long hi, int *out) {
    char *end;
    long v;
    errno = 0;
    v = strtol(text, &end, 10);
    if (end == text || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "%s: %s takes a whole number from %ld to %ld, not '%s'\n", prog, flag, lo, hi, text);
        return -1;
    }
    *out = (int)v;
    return 0;
}

unsigned char *vla_tool_read_file(const char *path, size_t *size, char *err, size_t err_len) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    if (!f) { vla_tool__err(err, err_len, "cannot open %s: %s", path, strerror(errno)); return NULL; }
    for (;;) {
        size_t got;
        if (n + 1 >= cap) {
            size_t nc = cap ? cap * 2 : (1u << 16);
            unsigned char *nb = (unsigned char *)realloc(buf, nc);
            if (!nb) { free(buf); fclose(f); vla_tool__err(err, err_len, "out of memory reading %s", path); return NULL; }
            buf = nb; cap = nc;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    if (ferror(f)) { free(buf); fclose(f); vla_tool__err(err, err_len, "read error on %s", path); return NULL; }
    fclose(f);
    buf[n] = 0;
    *size = n;
    return buf;
}

/* ---- [T2] JSON ---- */
typedef struct vla_tool__jp {
    const char *p, *end;
    char *err;
    size_t err_len;
    int depth;
} vla_tool__jp;

static void vla_tool__ws(vla_tool__jp *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\n' || *j->p == '\r')) j->p++;
}

static int vla_tool__hex4(const char *p, unsigned *v) {
    int i;
    *v = 0;
    for (i = 0; i < 4; i++) {
        char c = p[i];
        *v <<= 4;
        if (c >= '0' && c <= '9') *v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f') *v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') *v |= (unsigned)(c - 'A' + 10);
        else return 0;
    }
    return 1;
}

static size_t vla_tool__utf8(char *o, unsigned cp) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | (cp >> 6)); o[1] = (char)(0x80 | (cp & 0x3F)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12)); o[1] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18)); o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F)); o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Parses a string at j->p (which is at the opening quote). */
static char *vla_tool__jstr(vla_tool__jp *j, size_t *out_n) {
    const char *q = j->p + 1;
    size_t cap = 0;
    char *s, *o;
    /* first pass: find the end and an upper bound of the size */
    while (q < j->end && *q != '"') {
        if (*q == '\\') q++;
        q++;
    }
    if (q >= j->end) { vla_tool__err(j->err, j->err_len, "unterminated string"); return NULL; }
    cap = (size_t)(q - j->p) + 1;
    s = o = (char *)malloc(cap + 4);
    if (!s) { vla_tool__err(j->err, j->err_len, "out of memory"); return NULL; }
    q = j->p + 1;
    while (*q != '"') {
        unsigned char c = (unsigned char)*q;
        if (c < 0x20) { free(s); vla_tool__err(j->err, j->err_len, "control character in string"); return NULL; }
        if (c != '\\') { *o++ = (char)c; q++; continue; }
        q++;
        switch (*q) {
        case '"': *o++ = '"'; q++; break;
        case '\\': *o++ = '\\'; q++; break;
        case '/': *o++ = '/'; q++; break;
        case 'b': *o++ = '\b'; q++; break;
        case 'f': *o++ = '\f'; q++; break;
        case 'n': *o++ = '\n'; q++; break;
        case 'r': *o++ = '\r'; q++; break;
        case 't': *o++ = '\t'; q++; break;
        case 'u': {
            unsigned cp, lo;
            if (j->end - q < 5 || !vla_tool__hex4(q + 1, &cp)) { free(s); vla_tool__err(j->err, j->err_len, "bad \\u escape"); return NULL; }
            q += 5;
            /* a high surrogate followed by a low one is one code point; a lone
             * surrogate is kept as its 3-byte form (as Python does with
             * surrogatepass) so nothing is lost */
            if (cp >= 0xD800 && cp < 0xDC00 && j->end - q >= 6 && q[0] == '\\' && q[1] == 'u' && vla_tool__hex4(q + 2, &lo) &&
                lo >= 0xDC00 && lo < 0xE000) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                q += 6;
            }
            o += vla_tool__utf8(o, cp);
        } break;
        default: free(s); vla_tool__err(j->err, j->err_len, "bad escape"); return NULL;
        }
    }
    *o = 0;
    *out_n = (size_t)(o - s);
    j->p = q + 1;
    return s;
}

static int vla_tool__jval(vla_tool__jp *j, vla_json *v);

static int vla_tool__jpush(vla_json *v, int *cap, vla_json **out) {
    if (v->n_kid == *cap) {
        int nc = *cap ? *cap * 2 : 4;
        vla_json *nk = (vla_json *)realloc(v->kid, sizeof(vla_json) * (size_t)nc);
        if (!nk) return 0;
        v->kid = nk;
        *cap = nc;
    }
    *out = &v->kid[v->n_kid++];
    memset(*out, 0, sizeof **out);
    return 1;
}

static int vla_tool__jval(vla_tool__jp *j, vla_json *v) {
    vla_tool__ws(j);
    if (j->p >= j->end) { vla_tool__err(j->err, j->err_len, "unexpected end of JSON"); return 0; }
    if (++j->depth > 256) { vla_tool__err(j->err, j->err_len, "JSON nested too deeply"); return 0; }
    switch (*j->p) {
    case '{': case '[': {
        int obj = *j->p == '{', cap = 0;
        char close = obj ? '}' : ']';
        v->type = obj ? VLA_JSON_OBJECT : VLA_JSON_ARRAY;
        j->p++;
        vla_tool__ws(j);
        if (j->p < j->end && *j->p == close) { j->p++; break; }
        for (;;) {
            vla_json *k;
            if (!vla_tool__jpush(v, &cap, &k)) { vla_tool__err(j->err, j->err_len, "out of memory"); return 0; }
            vla_tool__ws(j);
            if (obj) {
                if (j->p >= j->end || *j->p != '"') { vla_tool__err(j->err, j->err_len, "expected a member name"); return 0; }
                if (!(k->key = vla_tool__jstr(j, &k->key_n))) return 0;
                vla_tool__ws(j);
                if (j->p >= j->end || *j->p != ':') { vla_tool__err(j->err, j->err_len, "expected ':'"); return 0; }
                j->p++;
            }
            if (!vla_tool__jval(j, k)) return 0;
            vla_tool__ws(j);
            if (j->p < j->end && *j->p == ',') { j->p++; continue; }
            if (j->p < j->end && *j->p == close) { j->p++; break; }
            vla_tool__err(j->err, j->err_len, "expected ',' or '%c'", close);
            return 0;
        }
    } break;
    case '"':
        v->type = VLA_JSON_STRING;
        if (!(v->s = vla_tool__jstr(j, &v->n))) return 0;
        break;
    case 't': case 'f': case 'n': {
        const char *w = *j->p == 't' ? "true" : *j->p == 'f' ? "false" : "null";
        size_t n = strlen(w);
        if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0) { vla_tool__err(j->err, j->err_len, "bad literal"); return 0; }
        v->type = *w == 't' ? VLA_JSON_TRUE : *w == 'f' ? VLA_JSON_FALSE : VLA_JSON_NULL;
        j->p += n;
    } break;
    default: {
        char buf[64];
        size_t n = 0;
        char *e;
        int integral = 1;
        while (j->p + n < j->end && n < sizeof buf - 1 && strchr("+-0123456789.eE", j->p[n])) {
            if (strchr(".eE", j->p[n])) integral = 0;
            buf[n] = j->p[n];
            n++;
        }
        buf[n] = 0;
        if (!n) {
            /* Python writes NaN / Infinity / -Infinity into JSON */
            if ((size_t)(j->end - j->p) >= 3 && !memcmp(j->p, "NaN", 3)) { v->type = VLA_JSON_NUMBER; v->num = 0.0 / 0.0; j->p += 3; break; }
            if ((size_t)(j->end - j->p) >= 8 && !memcmp(j->p, "Infinity", 8)) { v->type = VLA_JSON_NUMBER; v->num = 1e308 * 10; j->p += 8; break; }
            vla_tool__err(j->err, j->err_len, "unexpected character '%c'", *j->p);
            return 0;
        }
        if (n == 1 && buf[0] == '-' && (size_t)(j->end - j->p) >= 9 && !memcmp(j->p, "-Infinity", 9)) {
            v->type = VLA_JSON_NUMBER; v->num = -1e308 * 10; j->p += 9; break;
        }
        v->type = VLA_JSON_NUMBER;
        v->num = strtod(buf, &e);
        if (*e) { vla_tool__err(j->err, j->err_len, "bad number '%s'", buf); return 0; }
        if (integral) { /* exact only inside int64: strtoll saturates (ERANGE) beyond it */
            errno = 0;
            v->inum = strtoll(buf, NULL, 10);
            v->is_int = errno == 0;
            if (!v->is_int) v->inum = 0;
        }
        j->p += n;
    } break;
    }
    j->depth--;
    return 1;
}

static void vla_tool__jfree_kids(vla_json *j) {
    int i;
    for (i = 0; i < j->n_kid; i++) {
        vla_tool__jfree_kids(&j->kid[i]);
        free(j->kid[i].key);
        free(j->kid[i].s);
    }
    free(j->kid);
}

void vla_json_free(vla_json *j) {
    if (!j) return;
    vla_tool__jfree_kids(j);
    free(j->s);
    free(j->key); /* set when j was copied out of an object */
    free(j);
}

vla_json *vla_json_parse(const char *text, size_t len, char *err, size_t err_len) {
    vla_tool__jp j;
    vla_json *root = (vla_json *)calloc(1, sizeof(vla_json));
    if (!root) { vla_tool__err(err, err_len, "out of memory"); return NULL; }
    j.p = text; j.end = text + len; j.err = err; j.err_len = err_len; j.depth = 0;
    if (!vla_tool__jval(&j, root)) { vla_json_free(root); return NULL; }
    vla_tool__ws(&j);
    if (j.p != j.end) { vla_tool__err(err, err_len, "trailing characters after JSON value"); vla_json_free(root); return NULL; }
    return root;
}

static int vla_tool__jcopy(vla_json *d, const vla_json *s) {
    int i;
    *d = *s;
    d->s = NULL; d->key = NULL; d->kid = NULL; d->n_kid = 0;
    if (s->s) { d->s = (char *)malloc(s->n + 1); if (!d->s) return 0; memcpy(d->s, s->s, s->n + 1); }
    if (s->key) { d->key = (char *)malloc(s->key_n + 1); if (!d->key) return 0; memcpy(d->key, s->key, s->key_n + 1); }
    if (s->n_kid) {
        d->kid = (vla_json *)calloc((size_t)s->n_kid, sizeof(vla_json));
        if (!d->kid) return 0;
        for (i = 0; i < s->n_kid; i++) { d->n_kid = i + 1; if (!vla_tool__jcopy(&d->kid[i], &s->kid[i])) return 0; }
    }
    return 1;
}

vla_json *vla_json_copy(const vla_json *j) {
    vla_json *d;
    if (!j) return NULL;
    d = (vla_json *)calloc(1, sizeof *d);
    if (!d) return NULL;
    if (!vla_tool__jcopy(d, j)) { vla_json_free(d); return NULL; }
    return d;
}

vla_json *vla_json_merge_config(const vla_json *file_cfg, const vla_json *over) {
    char err[64];
    vla_json *c = file_cfg ? vla_json_copy(file_cfg) : NULL;
    int i, j;
    if (!over || over->type != VLA_JSON_OBJECT) return c;
    if (!c && !(c = vla_json_parse("{}", 2, err, sizeof err))) return NULL;
    for (i = 0; i < over->n_kid; i++) {
        const vla_json *s = &over->kid[i];
        vla_json *d = NULL;
        if (s->type != VLA_JSON_NUMBER && s->type != VLA_JSON_TRUE && s->type != VLA_JSON_FALSE && s->type != VLA_JSON_STRING) continue;
        for (j = 0; j < c->n_kid; j++)
            if (!strcmp(c->kid[j].key, s->key)) d = &c->kid[j];
        if (d && d->n_kid) continue; /* a scalar over an object or array: left as the checkpoint has it */
        if (!d) {
            vla_json *nk = (vla_json *)realloc(c->kid, sizeof *nk * (size_t)(c->n_kid + 1));
            char *key = (char *)malloc(s->key_n + 1);
            if (!nk || !key) { free(key); if (nk) c->kid = nk; continue; }
            c->kid = nk;
            d = &c->kid[c->n_kid++];
            memset(d, 0, sizeof *d);
            memcpy(key, s->key, s->key_n + 1);
            d->key = key;
            d->key_n = s->key_n;
        }
        free(d->s);
        d->s = NULL;
        d->type = s->type; d->num = s->num; d->inum = s->inum; d->is_int = s->is_int; d->n = 0;
        if (s->type == VLA_JSON_STRING && (d->s = (char *)malloc(s->n + 1)) != NULL) {
            memcpy(d->s, s->s, s->n + 1);
            d->n = s->n;
        }
    }
    return c;
}

const vla_json *vla_json_get(const vla_json *obj, const char *key) {
    int i;
    size_t n = strlen(key);
    if (!obj || obj->type != VLA_JSON_OBJECT) return NULL;
    for (i = 0; i < obj->n_kid; i++)
        if (obj->kid[i].key_n == n && memcmp(obj->kid[i].key, key, n) == 0) return &obj->kid[i];
    return NULL;
}

const char *vla_json_peft_method(const vla_json *cfg) {
    if (vla_json_num(cfg, "use_hyperformer", 0)) return "hyperformer";
    if (vla_json_num(cfg, "use_compacter", 0)) return "compacter";
    if (vla_json_num(cfg, "use_lradapter", 0)) return "lradapter";
    if (vla_json_num(cfg, "use_adapter", 0)) return "adapter";
    if (vla_json_num(cfg, "use_lora", 0)) return "lora";
    if (vla_json_num(cfg, "encoder_prompt_len", 0) > 0) return "prompt";
    return NULL;
}

double vla_json_num(const vla_json *obj, const char *key, double dflt) {
    const vla_json *v = vla_json_get(obj, key);
    if (!v) return dflt;
    if (v->type == VLA_JSON_NUMBER) return v->num;
    if (v->type == VLA_JSON_TRUE) return 1;
    if (v->type == VLA_JSON_FALSE) return 0;
    return dflt;
}

/* ---- [T3] .npy ---- */
static const char *vla_tool__find(const char *h, size_t n, const char *needle) {
    size_t k = strlen(needle), i;
    for (i = 0; i + k <= n; i++)
        if (memcmp(h + i, needle, k) == 0) return h + i;
    return NULL;
}

int vla_npy_parse(unsigned char *file, size_t size, vla_npy *a, char *err, size_t err_len) {
    size_t hlen, off, i;
    const char *h, *p, *end;
    memset(a, 0, sizeof *a);
    a->file = file;
    if (size < 10 || memcmp(file, "\x93NUMPY", 6) != 0) { vla_tool__err(err, err_len, "not a .npy file"); return -1; }
    if (file[6] == 1) { hlen = (size_t)file[8] | ((size_t)file[9] << 8); off = 10; }
    else if (file[6] == 2 || file[6] == 3) {
        if (size < 12) { vla_tool__err(err, err_len, "truncated .npy header"); return -1; }
        hlen = (size_t)file[8] | ((size_t)file[9] << 8) | ((size_t)file[10] << 16) | ((size_t)file[11] << 24);
        off = 12;
    } else { vla_tool__err(err, err_len, "unknown .npy version %d", file[6]); return -1; }
    if (hlen > size - off) { vla_tool__err(err, err_len, "truncated .npy header"); return -1; }
    h = (const char *)file + off;
    end = h + hlen;
    p = vla_tool__find(h, hlen, "'descr':");
    if (!p) { vla_tool__err(err, err_len, "no descr in .npy header"); return -1; }
    p = (const char *)memchr(p + 8, '\'', (size_t)(end - p - 8));
    if (!p || end - p < 5 || p[4] != '\'') { vla_tool__err(err, err_len, "bad descr"); return -1; }
    memcpy(a->descr, p + 1, 3);
    a->descr[3] = 0;
    if (!strcmp(a->descr, "<f4") || !strcmp(a->descr, "<i4")) a->elem = 4;
    else if (!strcmp(a->descr, "<f8") || !strcmp(a->descr, "<i8")) a->elem = 8;
    else if (!strcmp(a->descr, "<f2")) a->elem = 2;
    else if (!strcmp(a->descr, "|u1") || !strcmp(a->descr, "|b1") || !strcmp(a->descr, "|i1")) a->elem = 1;
    else { vla_tool__err(err, err_len, "unsupported dtype %s", a->descr); return -1; }
    p = vla_tool__find(h, hlen, "'shape':");
    if (!p) { vla_tool__err(err, err_len, "no shape in .npy header"); return -1; }
    p = (const char *)memchr(p, '(', (size_t)(end - p));
    if (!p) { vla_tool__err(err, err_len, "bad shape"); return -1; }
    p++;
    a->count = 1;
    while (p < end && *p != ')') {
        char *e;
        long long v;
        while (p < end && (*p == ' ' || *p == ',')) p++;
        if (p < end && *p == ')') break;
        v = strtoll(p, &e, 10);
        if (e == p || v < 0 || a->n_dims >= 8) { vla_tool__err(err, err_len, "bad shape"); return -1; }
        a->shape[a->n_dims++] = v;
        if (v && a->count > ((size_t)-1 / 16) / (size_t)v) { vla_tool__err(err, err_len, "shape too large"); return -1; }
        a->count *= (size_t)v;
        p = e;
    }
    off += hlen;
    if (a->count > (size - off) / a->elem) { vla_tool__err(err, err_len, "truncated .npy data"); return -1; }
    a->data = file + off;
    if (vla_tool__find(h, hlen, "'fortran_order': True") && a->n_dims > 1) {
        /* column-major on disk: reorder into row-major, in a copy */
        unsigned char *c = (unsigned char *)malloc(a->count * a->elem + 1);
        size_t idx[8] = {0}, k, src;
        int d;
        if (!c) { vla_tool__err(err, err_len, "out of memory"); return -1; }
        for (k = 0; k < a->count; k++) {
            size_t stride = 1;
            src = 0;
            for (d = 0; d < a->n_dims; d++) { src += idx[d] * stride; stride *= (size_t)a->shape[d]; }
            memcpy(c + k * a->elem, (const unsigned char *)a->data + src * a->elem, a->elem);
            for (d = a->n_dims - 1; d >= 0; d--) { if (++idx[d] < (size_t)a->shape[d]) break; idx[d] = 0; }
        }
        memcpy(file + off, c, a->count * a->elem);
        free(c);
    }
    (void)i;
    return 0;
}

int vla_npy_load(const char *path, vla_npy *a, char *err, size_t err_len) {
    size_t size;
    unsigned char *f = vla_tool_read_file(path, &size, err, err_len);
    memset(a, 0, sizeof *a);
    if (!f) return -1;
    if (vla_npy_parse(f, size, a, err, err_len) != 0) { free(f); a->file = NULL; return -1; }
    return 0;
}

void vla_npy_free(vla_npy *a) {
    free(a->file);
    memset(a, 0, sizeof *a);
}

static double vla_tool__half(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp((double)m, -24) : e == 31 ? (m ? 0.0 / 0.0 : 1e308 * 10) : ldexp((double)(m | 1024), e - 25);
    return (h & 0x8000) ? -v : v;
}

double vla_npy_f(const vla_npy *a, size_t i) {
    const unsigned char *p = (const unsigned char *)a->data + i * a->elem;
    if (a->descr[1] == 'f') {
        if (a->elem == 4) { float f; memcpy(&f, p, 4); return f; }
        if (a->elem == 8) { double d; memcpy(&d, p, 8); return d; }
        { uint16_t h; memcpy(&h, p, 2); return vla_tool__half(h); }
    }
    return (double)vla_npy_i(a, i);
}

int64_t vla_npy_i(const vla_npy *a, size_t i) {
    const unsigned char *p = (const unsigned char *)a->data + i * a->elem;
    if (a->descr[1] == 'f') return (int64_t)vla_npy_f(a, i);
    if (a->elem == 8) { int64_t v; memcpy(&v, p, 8); return v; }
    if (a->elem == 4) { int32_t v; memcpy(&v, p, 4); return v; }
    if (a->descr[1] == 'i') return (int8_t)p[0];
    return p[0];
}

/* ---- [T4] safetensors ---- */
static int vla_tool__st_dtype(const char *s, size_t *es) {
    static const struct { const char *n; int id; size_t es; } map[] = {
        {"F32", 0, 4}, {"F16", 1, 2}, {"BF16", 30, 2}, {"F64", 28, 8}, {"I64", 27, 8}, {"I32", 26, 4},
        {"I16", 25, 2}, {"I8", 24, 1}, {"U8", 100, 1}, {"BOOL", 101, 1}};
    size_t i;
    for (i = 0; i < sizeof map / sizeof map[0]; i++)
        if (!strcmp(s, map[i].n)) { *es = map[i].es; return map[i].id; }
    return -1;
}

int vla_st_parse(vla_st_file *f, const unsigned char *buf, size_t size, char *err, size_t err_len) {
    uint64_t hlen = 0;
    int i, k;
    size_t data_start;
    memset(f, 0, sizeof *f);
    if (size < 8) { vla_tool__err(err, err_len, "safetensors file shorter than 8 bytes"); return -1; }
    for (i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > size - 8 || hlen > ((uint64_t)1 << 30)) { vla_tool__err(err, err_len, "safetensors header length %llu exceeds the file", (unsigned long long)hlen); return -1; }
    f->buf = buf; f->size = size;
    f->header = vla_json_parse((const char *)buf + 8, (size_t)hlen, err, err_len);
    if (!f->header) return -1;
    if (f->header->type != VLA_JSON_OBJECT) { vla_tool__err(err, err_len, "safetensors header is not a JSON object"); vla_st_free(f); return -1; }
    data_start = 8 + (size_t)hlen;
    f->t = (vla_st_tensor *)calloc((size_t)f->header->n_kid + 1, sizeof(vla_st_tensor));
    if (!f->t) { vla_tool__err(err, err_len, "out of memory"); vla_st_free(f); return -1; }
    for (k = 0; k < f->header->n_kid; k++) {
        const vla_json *e = &f->header->kid[k], *dt, *sh, *off;
        vla_st_tensor *t = &f->t[f->n];
        size_t es, nel = 1;
        uint64_t a, b;
        int d;
        if (!strcmp(e->key, "__metadata__")) { f->metadata = e; continue; }
        dt = vla_json_get(e, "dtype"); sh = vla_json_get(e, "shape"); off = vla_json_get(e, "data_offsets");
        if (!dt || dt->type != VLA_JSON_STRING || !sh || sh->type != VLA_JSON_ARRAY || !off || off->type != VLA_JSON_ARRAY ||
            off->n_kid != 2 || sh->n_kid > 8) {
            vla_tool__err(err, err_len, "tensor '%s': bad header entry", e->key); vla_st_free(f); return -1;
        }
        t->name = e->key;
        t->dtype = vla_tool__st_dtype(dt->s, &es);
        if (t->dtype < 0) { vla_tool__err(err, err_len, "tensor '%s': unsupported dtype %s", e->key, dt->s); vla_st_free(f); return -1; }
        t->n_dims = sh->n_kid;
        for (d = 0; d < sh->n_kid; d++) {
            if (!sh->kid[d].is_int || sh->kid[d].inum < 0 || (sh->kid[d].inum && nel > ((size_t)1 << 40) / (size_t)sh->kid[d].inum)) {
                vla_tool__err(err, err_len, "tensor '%s': bad shape", e->key); vla_st_free(f); return -1;
            }
            t->shape[d] = sh->kid[d].inum;
            nel *= (size_t)sh->kid[d].inum;
        }
        if (!off->kid[0].is_int || !off->kid[1].is_int || off->kid[0].inum < 0 || off->kid[1].inum < off->kid[0].inum) {
            vla_tool__err(err, err_len, "tensor '%s': bad data_offsets", e->key); vla_st_free(f); return -1;
        }
        a = (uint64_t)off->kid[0].inum; b = (uint64_t)off->kid[1].inum;
        if (b > size - data_start || b - a != nel * es) {
            vla_tool__err(err, err_len, "tensor '%s': data_offsets [%llu, %llu) do not match its shape or the file", e->key,
                          (unsigned long long)a, (unsigned long long)b);
            vla_st_free(f); return -1;
        }
        t->data = buf + data_start + a;
        t->nbytes = (size_t)(b - a);
        f->n++;
    }
    return 0;
}

void vla_st_free(vla_st_file *f) {
    vla_json_free(f->header);
    free(f->t);
    memset(f, 0, sizeof *f);
}

const vla_st_tensor *vla_st_find(const vla_st_file *f, const char *name) {
    int i;
    for (i = 0; i < f->n; i++)
        if (!strcmp(f->t[i].name, name)) return &f->t[i];
    return NULL;
}

#endif /* VLA_TOOL_IMPLEMENTATION_DONE */
#endif /* VLA_TOOL_IMPLEMENTATION */
