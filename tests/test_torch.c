/* tests/test_torch.c - tests for tools/vla_torch.h (PyTorch checkpoint reader).
 *
 *   gcc -std=c99 -O1 -g -Wall -Wextra -Wpedantic -Werror \
 *       -fsanitize=address,undefined -fno-sanitize-recover=undefined \
 *       tests/test_torch.c -o /tmp/test_torch && /tmp/test_torch [fixtures-dir]
 *
 * fixtures-dir defaults to ../shared/fixtures (then tests/fixtures).
 *
 * 1. Real files: every file listed in checkpoint_formats/manifest.json is
 *    opened; tensor count, names, dtypes, storages, aliases, prefix and root
 *    type are checked against the manifest, and the bytes of every tensor are
 *    compared with the source case's safetensors weights (F16 sources widened
 *    exactly for F32 copies), the SHA-256 pins of the extra CLIP tensors, or
 *    the pinned scalars.  The legacy (non-zip) stream gets the same checks.
 * 2. Synthetic archives built here (a tiny pickle writer + zip writer): every
 *    dtype, offsets, non-contiguous / expanded views, aliases, nested dicts,
 *    protocol-4 opcodes, TorchScript objects, zip64 variants, comments, extra
 *    and compressed records.
 * 3. Hostile input: forbidden GLOBALs/opcodes, bad stacks and memo ids, huge
 *    lengths/counts/sizes, deep nesting, cycles, exponential sharing, and a
 *    corpus of truncated / bit-flipped / randomly mutated archives (synthetic
 *    and real).  Every case must fail cleanly (or, for random mutations,
 *    either fail or return tensors whose bytes are all readable).
 * Last line: "N passed, M failed"; exit status 1 on any failure.
 */
#define VLA_TORCH_IMPLEMENTATION
#include "../tools/vla_torch.h"
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* ======================================================================== */
/* small utilities                                                           */

typedef struct Buf {
    unsigned char *p;
    size_t n, cap;
} Buf;

static void buf_put(Buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n) cap *= 2;
        b->p = (unsigned char *)realloc(b->p, cap);
        if (!b->p) {
            printf("out of memory\n");
            exit(2);
        }
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->n, d, n);
    b->n += n;
}
static void buf_u8(Buf *b, unsigned v)
{
    unsigned char c = (unsigned char)v;
    buf_put(b, &c, 1);
}
static void buf_u16(Buf *b, unsigned v)
{
    buf_u8(b, v & 255);
    buf_u8(b, (v >> 8) & 255);
}
static void buf_u32(Buf *b, uint32_t v)
{
    buf_u16(b, v & 0xffff);
    buf_u16(b, v >> 16);
}
static void buf_u64(Buf *b, uint64_t v)
{
    buf_u32(b, (uint32_t)v);
    buf_u32(b, (uint32_t)(v >> 32));
}
static void buf_str(Buf *b, const char *s) { buf_put(b, s, strlen(s)); }
static void set16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void set32(unsigned char *p, uint32_t v)
{
    set16(p, v & 0xffff);
    set16(p + 2, v >> 16);
}
static void set64(unsigned char *p, uint64_t v)
{
    set32(p, (uint32_t)v);
    set32(p + 4, (uint32_t)(v >> 32));
}


static char *path_join(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    char *r = (char *)malloc(na + nb + 2);
    memcpy(r, a, na);
    r[na] = '/';
    memcpy(r + na + 1, b, nb + 1);
    return r;
}

static uint64_t g_rng = 0x9e3779b97f4a7c15u;
static uint32_t rnd(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 16);
}

/* exact fp16 -> fp32 widening */
static float half_to_float(unsigned h)
{
    uint32_t s = (h >> 15) & 1u, e = (h >> 10) & 31u, m = h & 1023u, bits;
    float f;
    if (e == 0) {
        if (m == 0) bits = s << 31;
        else {
            int k = -1;
            do {
                k++;
                m <<= 1;
            } while (!(m & 1024u));
            bits = (s << 31) | ((uint32_t)(112 - k) << 23) | ((m & 1023u) << 13);
        }
    } else if (e == 31) bits = (s << 31) | 0x7f800000u | (m << 13);
    else bits = (s << 31) | ((e + 112u) << 23) | (m << 13);
    memcpy(&f, &bits, 4);
    return f;
}

/* ======================================================================== */
/* SHA-256 (for the manifest's pins of tensors no other case holds)          */

typedef struct Sha {
    uint32_t h[8];
    unsigned char blk[64];
    size_t nblk;
    uint64_t total;
} Sha;

static const uint32_t sha_k[64] = {
    0x428a2f98u, 0x71374491u, 0xb5c0fbcfu, 0xe9b5dba5u, 0x3956c25bu, 0x59f111f1u, 0x923f82a4u, 0xab1c5ed5u,
    0xd807aa98u, 0x12835b01u, 0x243185beu, 0x550c7dc3u, 0x72be5d74u, 0x80deb1feu, 0x9bdc06a7u, 0xc19bf174u,
    0xe49b69c1u, 0xefbe4786u, 0x0fc19dc6u, 0x240ca1ccu, 0x2de92c6fu, 0x4a7484aau, 0x5cb0a9dcu, 0x76f988dau,
    0x983e5152u, 0xa831c66du, 0xb00327c8u, 0xbf597fc7u, 0xc6e00bf3u, 0xd5a79147u, 0x06ca6351u, 0x14292967u,
    0x27b70a85u, 0x2e1b2138u, 0x4d2c6dfcu, 0x53380d13u, 0x650a7354u, 0x766a0abbu, 0x81c2c92eu, 0x92722c85u,
    0xa2bfe8a1u, 0xa81a664bu, 0xc24b8b70u, 0xc76c51a3u, 0xd192e819u, 0xd6990624u, 0xf40e3585u, 0x106aa070u,
    0x19a4c116u, 0x1e376c08u, 0x2748774cu, 0x34b0bcb5u, 0x391c0cb3u, 0x4ed8aa4au, 0x5b9cca4fu, 0x682e6ff3u,
    0x748f82eeu, 0x78a5636fu, 0x84c87814u, 0x8cc70208u, 0x90befffau, 0xa4506cebu, 0xbef9a3f7u, 0xc67178f2u};

static uint32_t ror32(uint32_t x, int r) { return (x >> r) | (x << (32 - r)); }

static void sha_block(Sha *s, const unsigned char *p)
{
    uint32_t w[64], a, b, c, d, e, f, g, h;
    int i;
    for (i = 0; i < 16; i++)
        w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) | ((uint32_t)p[4 * i + 2] << 8) | p[4 * i + 3];
    for (i = 16; i < 64; i++) {
        uint32_t s0 = ror32(w[i - 15], 7) ^ ror32(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ror32(w[i - 2], 17) ^ ror32(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = s->h[0]; b = s->h[1]; c = s->h[2]; d = s->h[3];
    e = s->h[4]; f = s->h[5]; g = s->h[6]; h = s->h[7];
    for (i = 0; i < 64; i++) {
        uint32_t t1 = h + (ror32(e, 6) ^ ror32(e, 11) ^ ror32(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
        uint32_t t2 = (ror32(a, 2) ^ ror32(a, 13) ^ ror32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        h = g; g = f; f = e; e = d + t1;
        d = c; c = b; b = a; a = t1 + t2;
    }
    s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d;
    s->h[4] += e; s->h[5] += f; s->h[6] += g; s->h[7] += h;
}

static void sha256_hex(const void *data, size_t n, char out[65])
{
    static const uint32_t init[8] = {0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
                                     0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u};
    const unsigned char *p = (const unsigned char *)data;
    unsigned char tail[128];
    size_t full = n / 64 * 64, rest = n - full, tl;
    Sha s;
    int i;
    memcpy(s.h, init, sizeof init);
    for (i = 0; (size_t)i < full / 64; i++) sha_block(&s, p + 64 * (size_t)i);
    memset(tail, 0, sizeof tail);
    if (rest) memcpy(tail, p + full, rest);
    tail[rest] = 0x80;
    tl = rest + 1 + 8 <= 64 ? 64 : 128;
    for (i = 0; i < 8; i++) tail[tl - 1 - (size_t)i] = (unsigned char)(((uint64_t)n * 8) >> (8 * i));
    sha_block(&s, tail);
    if (tl == 128) sha_block(&s, tail + 64);
    for (i = 0; i < 8; i++) sprintf(out + 8 * i, "%08x", (unsigned)s.h[i]);
    out[64] = 0;
}

/* ======================================================================== */
/* a small JSON reader for manifest.json and safetensors headers             */

enum { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };
typedef struct J J;
struct J {
    int t;
    double num;
    char *s; /* J_STR (decoded) */
    J **v;   /* J_ARR items, J_OBJ values */
    char **k; /* J_OBJ keys */
    size_t n, cap;
};

typedef struct JP {
    const char *p, *e;
    int bad;
} JP;

static void jfree(J *j)
{
    size_t i;
    if (!j) return;
    for (i = 0; i < j->n; i++) {
        jfree(j->v[i]);
        if (j->k) free(j->k[i]);
    }
    free(j->v);
    free(j->k);
    free(j->s);
    free(j);
}

static void jp_ws(JP *q)
{
    while (q->p < q->e && (*q->p == ' ' || *q->p == '\n' || *q->p == '\r' || *q->p == '\t')) q->p++;
}

static void utf8_put(char **o, unsigned c)
{
    if (c < 0x80) *(*o)++ = (char)c;
    else if (c < 0x800) {
        *(*o)++ = (char)(0xc0 | (c >> 6));
        *(*o)++ = (char)(0x80 | (c & 63));
    } else if (c < 0x10000) {
        *(*o)++ = (char)(0xe0 | (c >> 12));
        *(*o)++ = (char)(0x80 | ((c >> 6) & 63));
        *(*o)++ = (char)(0x80 | (c & 63));
    } else {
        *(*o)++ = (char)(0xf0 | (c >> 18));
        *(*o)++ = (char)(0x80 | ((c >> 12) & 63));
        *(*o)++ = (char)(0x80 | ((c >> 6) & 63));
        *(*o)++ = (char)(0x80 | (c & 63));
    }
}

static int hex4(const char *p, unsigned *v)
{
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

/* at the opening quote; returns a malloc'ed NUL-terminated string */
static char *jp_string(JP *q)
{
    const char *s = ++q->p;
    char *out, *o;
    while (q->p < q->e && *q->p != '"') q->p += (*q->p == '\\' && q->p + 1 < q->e) ? 2 : 1;
    if (q->p >= q->e) {
        q->bad = 1;
        return NULL;
    }
    out = o = (char *)malloc((size_t)(q->p - s) + 1);
    while (s < q->p) {
        if (*s != '\\') {
            *o++ = *s++;
            continue;
        }
        s++;
        switch (*s) {
        case 'n': *o++ = '\n'; s++; break;
        case 't': *o++ = '\t'; s++; break;
        case 'r': *o++ = '\r'; s++; break;
        case 'b': *o++ = '\b'; s++; break;
        case 'f': *o++ = '\f'; s++; break;
        case 'u': {
            unsigned c, c2;
            if (q->p - s < 5 || !hex4(s + 1, &c)) {
                q->bad = 1;
                *o = 0;
                return out;
            }
            s += 5;
            if (c >= 0xd800 && c < 0xdc00 && q->p - s >= 6 && s[0] == '\\' && s[1] == 'u' && hex4(s + 2, &c2)) {
                c = 0x10000 + ((c - 0xd800) << 10) + (c2 - 0xdc00);
                s += 6;
            }
            utf8_put(&o, c);
            break;
        }
        default: *o++ = *s++; break; /* \" \\ \/ */
        }
    }
    *o = 0;
    q->p++;
    return out;
}

static J *jnew(int t)
{
    J *j = (J *)calloc(1, sizeof *j);
    j->t = t;
    return j;
}

static void jpush(J *c, char *key, J *v)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 8;
        c->v = (J **)realloc(c->v, c->cap * sizeof *c->v);
        if (c->t == J_OBJ) c->k = (char **)realloc(c->k, c->cap * sizeof *c->k);
    }
    c->v[c->n] = v;
    if (c->t == J_OBJ) c->k[c->n] = key;
    c->n++;
}

static J *jp_value(JP *q, int depth)
{
    J *j;
    jp_ws(q);
    if (q->p >= q->e || depth > 100) {
        q->bad = 1;
        return NULL;
    }
    if (*q->p == '{' || *q->p == '[') {
        int obj = *q->p == '{';
        j = jnew(obj ? J_OBJ : J_ARR);
        q->p++;
        jp_ws(q);
        if (q->p < q->e && *q->p == (obj ? '}' : ']')) {
            q->p++;
            return j;
        }
        for (;;) {
            char *key = NULL;
            J *v;
            jp_ws(q);
            if (obj) {
                if (q->p >= q->e || *q->p != '"' || !(key = jp_string(q))) break;
                jp_ws(q);
                if (q->p >= q->e || *q->p != ':') {
                    free(key);
                    break;
                }
                q->p++;
            }
            v = jp_value(q, depth + 1);
            if (!v) {
                free(key);
                break;
            }
            jpush(j, key, v);
            jp_ws(q);
            if (q->p < q->e && *q->p == ',') {
                q->p++;
                continue;
            }
            if (q->p < q->e && *q->p == (obj ? '}' : ']')) {
                q->p++;
                return j;
            }
            break;
        }
        q->bad = 1;
        return j;
    }
    if (*q->p == '"') {
        j = jnew(J_STR);
        j->s = jp_string(q);
        return j;
    }
    if (q->e - q->p >= 4 && memcmp(q->p, "null", 4) == 0) {
        q->p += 4;
        return jnew(J_NULL);
    }
    if (q->e - q->p >= 4 && memcmp(q->p, "true", 4) == 0) {
        q->p += 4;
        j = jnew(J_BOOL);
        j->num = 1;
        return j;
    }
    if (q->e - q->p >= 5 && memcmp(q->p, "false", 5) == 0) {
        q->p += 5;
        return jnew(J_BOOL);
    }
    {
        char tmp[64], *end;
        size_t n = 0;
        while (q->p + n < q->e && n < 63 && strchr("+-0123456789.eE", q->p[n])) n++;
        memcpy(tmp, q->p, n);
        tmp[n] = 0;
        j = jnew(J_NUM);
        j->num = strtod(tmp, &end);
        if (n == 0 || end != tmp + n) q->bad = 1;
        q->p += n;
        return j;
    }
}

static J *json_parse(const char *s, size_t n)
{
    JP q;
    J *j;
    q.p = s;
    q.e = s + n;
    q.bad = 0;
    j = jp_value(&q, 0);
    if (q.bad) {
        jfree(j);
        return NULL;
    }
    return j;
}

static J *jget(const J *o, const char *key)
{
    size_t i;
    if (!o || o->t != J_OBJ) return NULL;
    for (i = 0; i < o->n; i++)
        if (strcmp(o->k[i], key) == 0) return o->v[i];
    return NULL;
}
static const char *jstr(const J *j) { return j && j->t == J_STR ? j->s : NULL; }

/* ======================================================================== */
/* safetensors (test-local, enough to find a tensor by name)                 */

typedef struct St {
    unsigned char *buf;
    size_t len;
    J *hdr;
    J *tied; /* __metadata__.tied, parsed, may be NULL */
    const unsigned char *data;
    size_t data_len;
} St;

static int st_open(St *s, const char *path)
{
    uint64_t hn;
    const J *md;
    memset(s, 0, sizeof *s);
    s->buf = read_file(path, &s->len);
    if (!s->buf || s->len < 8) return 0;
    hn = (uint64_t)s->buf[0] | ((uint64_t)s->buf[1] << 8) | ((uint64_t)s->buf[2] << 16) | ((uint64_t)s->buf[3] << 24) |
         ((uint64_t)s->buf[4] << 32) | ((uint64_t)s->buf[5] << 40) | ((uint64_t)s->buf[6] << 48) |
         ((uint64_t)s->buf[7] << 56);
    if (hn > s->len - 8) return 0;
    s->hdr = json_parse((const char *)s->buf + 8, (size_t)hn);
    s->data = s->buf + 8 + hn;
    s->data_len = s->len - 8 - (size_t)hn;
    md = jget(s->hdr, "__metadata__");
    if (jstr(jget(md, "tied"))) {
        const char *t = jstr(jget(md, "tied"));
        s->tied = json_parse(t, strlen(t));
    }
    return s->hdr != NULL;
}

static void st_close(St *s)
{
    jfree(s->hdr);
    jfree(s->tied);
    free(s->buf);
    memset(s, 0, sizeof *s);
}

/* 1 if found: dtype name, shape, bytes */
static int st_find(const St *s, const char *name, const char **dtype, int64_t *shape, int *nd,
                   const unsigned char **data, size_t *nbytes)
{
    const J *e = jget(s->hdr, name), *sh, *off;
    size_t i;
    if (!e || e->t != J_OBJ) return 0;
    sh = jget(e, "shape");
    off = jget(e, "data_offsets");
    if (!sh || sh->t != J_ARR || sh->n > 8 || !off || off->t != J_ARR || off->n != 2) return 0;
    if (off->v[0]->num < 0 || off->v[1]->num < off->v[0]->num || off->v[1]->num > (double)s->data_len) return 0;
    *dtype = jstr(jget(e, "dtype"));
    *nd = (int)sh->n;
    for (i = 0; i < sh->n; i++) shape[i] = (int64_t)sh->v[i]->num;
    *data = s->data + (size_t)off->v[0]->num;
    *nbytes = (size_t)(off->v[1]->num - off->v[0]->num);
    return *dtype != NULL;
}

/* ======================================================================== */
/* opening helpers                                                           */

/* Reads every byte of every tensor and checks the invariants; under ASan an
 * out-of-range data pointer or size is caught here. */
static unsigned touch(const vla_torch_file *f)
{
    unsigned sum = 0;
    int i;
    for (i = 0; i < f->n_tensors; i++) {
        const vla_torch_tensor *t = &f->tensors[i];
        const unsigned char *d = (const unsigned char *)t->data;
        size_t j;
        int64_t numel = 1;
        int k;
        for (j = 0; j < t->nbytes; j++) sum += d[j];
        sum += (unsigned)strlen(t->name);
        for (k = 0; k < t->n_dims; k++) numel *= t->shape[k];
        if (t->n_dims < 0 || t->n_dims > VLA_TORCH_MAX_DIMS || numel != t->numel ||
            t->nbytes != (size_t)t->numel * vla_torch_dtype_size(t->dtype) || t->storage_id < 0 ||
            t->storage_id >= f->n_storages || vla_torch_find(f, t->name) != t) {
            printf("FAIL: inconsistent tensor '%s' after a successful open\n", t->name);
            g_fail++;
        }
    }
    return sum;
}

/* opens a private exact-size copy (so ASan sees any overread), touches the
 * result and closes; returns the error code, err filled */
static int open_copy(const unsigned char *b, size_t n, char *err, size_t errn, int *ntensors)
{
    unsigned char *c = (unsigned char *)malloc(n ? n : 1);
    vla_torch_file f;
    int rc;
    if (n) memcpy(c, b, n);
    rc = vla_torch_open(&f, c, n, err, errn);
    if (ntensors) *ntensors = rc ? -1 : f.n_tensors;
    if (rc == 0) touch(&f);
    else if (f.n_tensors != 0 || f.tensors != NULL) {
        printf("FAIL: file not cleared after an error\n");
        g_fail++;
    }
    vla_torch_close(&f);
    free(c);
    return rc;
}

static int g_verbose = 0;

static void expect_fail(const char *what, const Buf *file, int code, const char *sub)
{
    char err[512];
    int rc = open_copy(file->p, file->n, err, sizeof err, NULL);
    CHECK(rc != 0 && (code == 0 || rc == code) && (!sub || strstr(err, sub)),
          "%s: expected error %d containing '%s', got %d '%s'", what, code, sub ? sub : "", rc, rc ? err : "");
    if (g_verbose && rc) printf("  [%s] -> %s\n", what, err);
}

/* ======================================================================== */
/* pickle writer                                                             */

static void pk_op(Buf *b, int op) { buf_u8(b, (unsigned)op); }
static void pk_proto(Buf *b)
{
    pk_op(b, 0x80);
    pk_op(b, 2);
}
static void pk_global(Buf *b, const char *mod, const char *name)
{
    pk_op(b, 'c');
    buf_str(b, mod);
    buf_u8(b, '\n');
    buf_str(b, name);
    buf_u8(b, '\n');
}
static void pk_strn(Buf *b, const char *s, size_t n)
{
    pk_op(b, 'X');
    buf_u32(b, (uint32_t)n);
    buf_put(b, s, n);
}
static void pk_str(Buf *b, const char *s) { pk_strn(b, s, strlen(s)); }
static void pk_int(Buf *b, int64_t v)
{
    if (v >= 0 && v < 256) {
        pk_op(b, 'K');
        buf_u8(b, (unsigned)v);
    } else if (v >= 0 && v < 65536) {
        pk_op(b, 'M');
        buf_u16(b, (unsigned)v);
    } else if (v >= -2147483647 - 1 && v <= 2147483647) {
        pk_op(b, 'J');
        buf_u32(b, (uint32_t)(int32_t)v);
    } else {
        pk_op(b, 0x8a);
        buf_u8(b, 8);
        buf_u64(b, (uint64_t)v);
    }
}
static void pk_put(Buf *b, unsigned id)
{
    pk_op(b, 'r');
    buf_u32(b, id);
}
static void pk_get(Buf *b, unsigned id)
{
    pk_op(b, 'j');
    buf_u32(b, id);
}
static void pk_ints_tuple(Buf *b, int n, const int64_t *v)
{
    int i;
    pk_op(b, '(');
    for (i = 0; i < n; i++) pk_int(b, v[i]);
    pk_op(b, 't');
}
static void pk_odict(Buf *b)
{
    pk_global(b, "collections", "OrderedDict");
    pk_op(b, ')');
    pk_op(b, 'R');
}
/* ('storage', torch.<cls>, key, 'cpu', numel) BINPERSID */
static void pk_storage(Buf *b, const char *cls, const char *key, int64_t numel)
{
    pk_op(b, '(');
    pk_str(b, "storage");
    pk_global(b, "torch", cls);
    pk_str(b, key);
    pk_str(b, "cuda:0");
    pk_int(b, numel);
    pk_op(b, 't');
    pk_op(b, 'Q');
}
/* _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict()) */
static void pk_tensor(Buf *b, const char *cls, const char *key, int64_t numel, int64_t offset, int nd,
                      const int64_t *size, const int64_t *stride)
{
    pk_global(b, "torch._utils", "_rebuild_tensor_v2");
    pk_op(b, '(');
    pk_storage(b, cls, key, numel);
    pk_int(b, offset);
    pk_ints_tuple(b, nd, size);
    pk_ints_tuple(b, nd, stride);
    pk_op(b, 0x89);
    pk_odict(b);
    pk_op(b, 't');
    pk_op(b, 'R');
}
/* a 1-d contiguous float tensor over storage "0" */
static void pk_vec(Buf *b, int64_t n)
{
    int64_t one = 1;
    pk_tensor(b, "FloatStorage", "0", 24, 0, 1, &n, &one);
}

/* ======================================================================== */
/* zip writer, laid out like torch's miniz writer                            */

typedef struct ZEnt {
    const char *name;
    const void *data;
    size_t len;
    int method;
} ZEnt;

enum { Z_NOZIP64 = 1, Z_SAT64 = 2, Z_COMMENT = 4 };

typedef struct ZInfo {
    size_t lho[64], cde[64]; /* local header / central entry offsets */
    size_t cd_off, z64, loc, eocd;
} ZInfo;

static Buf zip_build(const ZEnt *e, int n, int opts, ZInfo *info)
{
    Buf b;
    ZInfo tmp;
    int i;
    size_t cd_size;
    if (!info) info = &tmp;
    memset(&b, 0, sizeof b);
    memset(info, 0, sizeof *info);
    for (i = 0; i < n; i++) {
        size_t nl = strlen(e[i].name), pad;
        info->lho[i] = b.n;
        buf_u32(&b, 0x04034b50u);
        buf_u16(&b, e[i].method ? 20 : 0);
        buf_u16(&b, 0x0808);
        buf_u16(&b, (unsigned)e[i].method);
        buf_u32(&b, 0);  /* time, date */
        buf_u32(&b, 0);  /* crc */
        buf_u32(&b, 0);  /* csize */
        buf_u32(&b, 0);  /* usize */
        buf_u16(&b, (unsigned)nl);
        pad = (64 - (b.n + 2 + nl + 4) % 64) % 64; /* 'FB' padding to a 64-byte boundary */
        buf_u16(&b, (unsigned)(4 + pad));
        buf_put(&b, e[i].name, nl);
        buf_u16(&b, 0x4246);
        buf_u16(&b, (unsigned)pad);
        while (pad--) buf_u8(&b, 'Z');
        buf_put(&b, e[i].data, e[i].len);
        buf_u32(&b, 0x08074b50u);
        buf_u32(&b, 0);
        buf_u32(&b, (uint32_t)e[i].len);
        buf_u32(&b, (uint32_t)e[i].len);
    }
    info->cd_off = b.n;
    for (i = 0; i < n; i++) {
        size_t nl = strlen(e[i].name);
        int sat = (opts & Z_SAT64) != 0;
        info->cde[i] = b.n;
        buf_u32(&b, 0x02014b50u);
        buf_u16(&b, 0);
        buf_u16(&b, e[i].method ? 20 : 0);
        buf_u16(&b, 0x0808);
        buf_u16(&b, (unsigned)e[i].method);
        buf_u32(&b, 0);
        buf_u32(&b, 0);
        buf_u32(&b, sat ? 0xffffffffu : (uint32_t)e[i].len);
        buf_u32(&b, sat ? 0xffffffffu : (uint32_t)e[i].len);
        buf_u16(&b, (unsigned)nl);
        buf_u16(&b, sat ? 28 : 0);
        buf_u16(&b, 0);
        buf_u16(&b, 0);
        buf_u16(&b, 0);
        buf_u32(&b, 0);
        buf_u32(&b, sat ? 0xffffffffu : (uint32_t)info->lho[i]);
        buf_put(&b, e[i].name, nl);
        if (sat) {
            buf_u16(&b, 0x0001);
            buf_u16(&b, 24);
            buf_u64(&b, e[i].len);
            buf_u64(&b, e[i].len);
            buf_u64(&b, info->lho[i]);
        }
    }
    cd_size = b.n - info->cd_off;
    if (!(opts & Z_NOZIP64)) {
        info->z64 = b.n;
        buf_u32(&b, 0x06064b50u);
        buf_u64(&b, 44);
        buf_u16(&b, 0x031e);
        buf_u16(&b, 45);
        buf_u32(&b, 0);
        buf_u32(&b, 0);
        buf_u64(&b, (uint64_t)n);
        buf_u64(&b, (uint64_t)n);
        buf_u64(&b, cd_size);
        buf_u64(&b, info->cd_off);
        info->loc = b.n;
        buf_u32(&b, 0x07064b50u);
        buf_u32(&b, 0);
        buf_u64(&b, info->z64);
        buf_u32(&b, 1);
    }
    info->eocd = b.n;
    buf_u32(&b, 0x06054b50u);
    buf_u16(&b, 0);
    buf_u16(&b, 0);
    buf_u16(&b, (opts & Z_SAT64) ? 0xffff : (unsigned)n);
    buf_u16(&b, (opts & Z_SAT64) ? 0xffff : (unsigned)n);
    buf_u32(&b, (opts & Z_SAT64) ? 0xffffffffu : (uint32_t)cd_size);
    buf_u32(&b, (opts & Z_SAT64) ? 0xffffffffu : (uint32_t)info->cd_off);
    if (opts & Z_COMMENT) {
        buf_u16(&b, 13);
        buf_str(&b, "hello PK zip!");
    } else buf_u16(&b, 0);
    return b;
}

/* storage "0": 24 floats 0..23; "1": one int64 = 7 */
static float g_f24[24];
static const int64_t g_seven = 7;

static Buf std_ckpt_ex(const Buf *pkl, const char *prefix, int opts, ZInfo *info)
{
    char n0[128], n1[128], n2[128], n3[128];
    ZEnt e[4];
    snprintf(n0, sizeof n0, "%s/data.pkl", prefix);
    snprintf(n1, sizeof n1, "%s/data/0", prefix);
    snprintf(n2, sizeof n2, "%s/data/1", prefix);
    snprintf(n3, sizeof n3, "%s/version", prefix);
    e[0].name = n0; e[0].data = pkl->p; e[0].len = pkl->n; e[0].method = 0;
    e[1].name = n1; e[1].data = g_f24; e[1].len = sizeof g_f24; e[1].method = 0;
    e[2].name = n2; e[2].data = &g_seven; e[2].len = 8; e[2].method = 0;
    e[3].name = n3; e[3].data = "3\n"; e[3].len = 2; e[3].method = 0;
    return zip_build(e, 4, opts, info);
}
static Buf std_ckpt(const Buf *pkl) { return std_ckpt_ex(pkl, "archive", 0, NULL); }

/* wraps the pickle into the standard archive and expects an error */
static void expect_pkl_fail(const char *what, Buf *pkl, int code, const char *sub)
{
    Buf f = std_ckpt(pkl);
    expect_fail(what, &f, code, sub);
    free(f.p);
    free(pkl->p);
    memset(pkl, 0, sizeof *pkl);
}

/* ======================================================================== */
/* 1. the real fixture files                                                 */

static int dtype_from_name(const char *s)
{
    static const int ids[] = {VLA_TORCH_F32, VLA_TORCH_F16, VLA_TORCH_BF16, VLA_TORCH_F64, VLA_TORCH_I8,
                              VLA_TORCH_I16, VLA_TORCH_I32, VLA_TORCH_I64,  VLA_TORCH_U8,  VLA_TORCH_BOOL};
    size_t i;
    for (i = 0; s && i < sizeof ids / sizeof ids[0]; i++)
        if (strcmp(vla_torch_dtype_name(ids[i]), s) == 0) return ids[i];
    return -1;
}

/* expected dtype of a key from the manifest's {dtype: "all" | "all other keys" | [keys]} */
static int manifest_dtype(const J *dtypes, const char *key)
{
    size_t i, j;
    int other = -1;
    for (i = 0; dtypes && i < dtypes->n; i++) {
        const J *v = dtypes->v[i];
        if (v->t == J_STR) other = dtype_from_name(dtypes->k[i]);
        else if (v->t == J_ARR)
            for (j = 0; j < v->n; j++)
                if (jstr(v->v[j]) && strcmp(v->v[j]->s, key) == 0) return dtype_from_name(dtypes->k[i]);
    }
    return other;
}

static int shape_eq(const vla_torch_tensor *t, const int64_t *shape, int nd)
{
    int i;
    if (t->n_dims != nd) return 0;
    for (i = 0; i < nd; i++)
        if (t->shape[i] != shape[i]) return 0;
    return 1;
}

/* same values: identical bytes, or F32 holding exactly the F16 source values */
static int bytes_match(const vla_torch_tensor *t, const char *sdtype, const unsigned char *sd, size_t sn)
{
    int sdt = dtype_from_name(sdtype);
    size_t i;
    if (sdt == t->dtype) return sn == t->nbytes && memcmp(sd, t->data, sn) == 0;
    if (t->dtype == VLA_TORCH_F32 && sdt == VLA_TORCH_F16) {
        if (sn / 2 * 4 != t->nbytes) return 0;
        for (i = 0; i < sn / 2; i++) {
            float a = half_to_float((unsigned)sd[2 * i] | ((unsigned)sd[2 * i + 1] << 8)), b;
            memcpy(&b, (const unsigned char *)t->data + 4 * i, 4);
            if (memcmp(&a, &b, 4) != 0) return 0;
        }
        return 1;
    }
    return 0;
}

static void check_zip_fixture(const char *dir, const char *fname, const J *m)
{
    char *path = path_join(dir, fname), err[512];
    size_t len = 0;
    unsigned char *buf = read_file(path, &len);
    vla_torch_file f;
    const char *kind = jstr(jget(m, "kind"));
    const J *dtypes = jget(m, "dtypes"), *aliases = jget(m, "aliases"), *src = jget(m, "source");
    const J *sha = jget(m, "extra_tensor_sha256"), *scal = jget(m, "scalars"), *counts = jget(m, "dtype_counts_by_key");
    const J *rgv = jget(m, "requires_grad_values");
    const char *strip = jstr(jget(src, "strip_prefix"));
    int is_ts = kind && strcmp(kind, "torchscript zip") == 0, rc, i;
    int is_legacy = kind && strcmp(kind, "legacy") == 0;
    int want_fmt = is_ts ? VLA_TORCH_FORMAT_TORCHSCRIPT : is_legacy ? VLA_TORCH_FORMAT_LEGACY : VLA_TORCH_FORMAT_ZIP;
    int n_src = 0, n_sha = 0, n_scal = 0, n_bad_bytes = 0, n_unaccounted = 0, n_bad_dtype = 0, n_bad_alias = 0;
    int n_bad_rg = 0;
    St st;
    memset(&st, 0, sizeof st);
    CHECK(buf != NULL, "cannot read %s", path);
    if (!buf) {
        free(path);
        return;
    }
    CHECK(vla_torch_detect(buf, len) == want_fmt,
          "%s: detect gave %d", fname, vla_torch_detect(buf, len));
    rc = vla_torch_open(&f, buf, len, err, sizeof err);
    CHECK(rc == 0, "%s: open failed: %s", fname, err);
    if (rc) {
        free(buf);
        free(path);
        return;
    }
    CHECK(f.kind == want_fmt, "%s: kind %d", fname, f.kind);
    CHECK(f.n_tensors == (int)jget(m, "n_keys")->num, "%s: %d tensors, manifest n_keys %g", fname, f.n_tensors,
          jget(m, "n_keys")->num);
    CHECK(f.n_storages == (int)jget(m, "n_storages")->num, "%s: %d storages, manifest %g", fname, f.n_storages,
          jget(m, "n_storages")->num);
    CHECK(f.prefix && (is_legacy ? strcmp(f.prefix, "") == 0
                                 : jstr(jget(jget(m, "zip"), "prefix")) &&
                                       strcmp(f.prefix, jstr(jget(jget(m, "zip"), "prefix"))) == 0),
          "%s: prefix '%s'", fname, f.prefix ? f.prefix : "(null)");
    CHECK(f.root_type && (is_legacy ? strcmp(f.root_type, "OrderedDict") == 0
                                    : jstr(jget(m, "top_level_type")) &&
                                          strcmp(f.root_type, jstr(jget(m, "top_level_type"))) == 0),
          "%s: root type '%s' vs manifest '%s'", fname, f.root_type ? f.root_type : "(null)",
          jstr(jget(m, "top_level_type")) ? jstr(jget(m, "top_level_type")) : "?");
    touch(&f);

    /* dtypes per key and per-dtype counts */
    {
        int cnt[512];
        memset(cnt, 0, sizeof cnt);
        for (i = 0; i < f.n_tensors; i++) {
            int want = manifest_dtype(dtypes, f.tensors[i].name);
            if (want != f.tensors[i].dtype) {
                if (n_bad_dtype++ < 5)
                    printf("  %s: %s is %s, manifest %s\n", fname, f.tensors[i].name,
                           vla_torch_dtype_name(f.tensors[i].dtype), vla_torch_dtype_name(want));
            }
            if (f.tensors[i].dtype >= 0 && f.tensors[i].dtype < 512) cnt[f.tensors[i].dtype]++;
        }
        CHECK(n_bad_dtype == 0, "%s: %d tensors with a wrong dtype", fname, n_bad_dtype);
        for (i = 0; counts && i < (int)counts->n; i++) {
            int d = dtype_from_name(counts->k[i]);
            CHECK(d >= 0 && cnt[d] == (int)counts->v[i]->num, "%s: %s count %d vs manifest %g", fname, counts->k[i],
                  d >= 0 ? cnt[d] : -1, counts->v[i]->num);
        }
        /* every key listed under dtypes exists */
        for (i = 0; dtypes && i < (int)dtypes->n; i++) {
            size_t j;
            int missing = 0;
            if (dtypes->v[i]->t != J_ARR) continue;
            for (j = 0; j < dtypes->v[i]->n; j++)
                if (!vla_torch_find(&f, dtypes->v[i]->v[j]->s)) missing++;
            CHECK(missing == 0, "%s: %d keys listed under dtype %s are missing", fname, missing, dtypes->k[i]);
        }
    }

    /* aliases: exactly the manifest's pairs share a storage, target first */
    for (i = 0; i < f.n_tensors; i++) {
        const vla_torch_tensor *t = &f.tensors[i];
        const char *want = jstr(jget(aliases, t->name));
        int first = -1, j;
        for (j = 0; j < i; j++)
            if (f.tensors[j].storage_id == t->storage_id) {
                first = j;
                break;
            }
        if (want) {
            const vla_torch_tensor *a = vla_torch_find(&f, want);
            if (!a || first < 0 || strcmp(f.tensors[first].name, want) != 0 || a->data != t->data ||
                a->storage_offset != t->storage_offset || !shape_eq(a, t->shape, t->n_dims)) {
                if (n_bad_alias++ < 5) printf("  %s: alias %s -> %s not reproduced\n", fname, t->name, want);
            }
        } else if (first >= 0) {
            if (n_bad_alias++ < 5)
                printf("  %s: %s shares a storage with %s but is no alias\n", fname, t->name, f.tensors[first].name);
        }
        if (rgv && rgv->t == J_ARR) {
            size_t k;
            int ok = 0;
            for (k = 0; k < rgv->n; k++) ok |= (rgv->v[k]->num != 0) == (t->requires_grad != 0);
            if (!ok) n_bad_rg++;
        }
    }
    CHECK(n_bad_alias == 0, "%s: %d alias mismatches", fname, n_bad_alias);
    CHECK(n_bad_rg == 0, "%s: %d unexpected requires_grad values", fname, n_bad_rg);
    CHECK(aliases && f.n_tensors - f.n_storages == (int)aliases->n, "%s: %d names over %d storages, %d aliases",
          fname, f.n_tensors, f.n_storages, aliases ? (int)aliases->n : -1);

    /* bytes: source case, SHA-256 pin, or pinned scalar */
    if (src && jget(src, "files") && jget(src, "files")->n > 0) {
        char *sp = path_join(dir, jstr(jget(src, "files")->v[0]));
        CHECK(st_open(&st, sp), "%s: cannot read source %s", fname, sp);
        free(sp);
    }
    for (i = 0; i < f.n_tensors; i++) {
        const vla_torch_tensor *t = &f.tensors[i];
        const char *name = t->name, *canon, *sdt = NULL;
        int64_t shape[8];
        int nd = 0;
        const unsigned char *sd = NULL;
        size_t sn = 0;
        if (strip && strncmp(name, strip, strlen(strip)) == 0) name += strlen(strip);
        canon = jstr(jget(st.tied, name)) ? jstr(jget(st.tied, name)) : name;
        if (st.hdr && st_find(&st, canon, &sdt, shape, &nd, &sd, &sn)) {
            n_src++;
            if (!shape_eq(t, shape, nd) || !bytes_match(t, sdt, sd, sn)) {
                if (n_bad_bytes++ < 5) printf("  %s: %s differs from source %s\n", fname, t->name, canon);
            }
        } else if (jstr(jget(sha, t->name))) {
            char hex[65];
            n_sha++;
            sha256_hex(t->data, t->nbytes, hex);
            if (strcmp(hex, jstr(jget(sha, t->name))) != 0) {
                if (n_bad_bytes++ < 5) printf("  %s: %s SHA-256 %s differs from the pin\n", fname, t->name, hex);
            }
        } else if (jget(scal, t->name)) {
            int64_t v = 0;
            n_scal++;
            if (t->dtype == VLA_TORCH_I64 && t->n_dims == 0) memcpy(&v, t->data, 8);
            if (t->dtype != VLA_TORCH_I64 || t->n_dims != 0 || (double)v != jget(scal, t->name)->num) {
                if (n_bad_bytes++ < 5) printf("  %s: scalar %s = %lld\n", fname, t->name, (long long)v);
            }
        } else {
            if (n_unaccounted++ < 5) printf("  %s: %s has no reference value\n", fname, t->name);
        }
    }
    CHECK(n_bad_bytes == 0, "%s: %d tensors with wrong bytes", fname, n_bad_bytes);
    CHECK(n_unaccounted == 0, "%s: %d tensors without a reference", fname, n_unaccounted);
    if (jget(m, "n_keys_from_clip_trunk"))
        CHECK(n_src == (int)jget(m, "n_keys_from_clip_trunk")->num, "%s: %d from clip_trunk", fname, n_src);
    if (sha) CHECK(n_sha == (int)sha->n, "%s: %d of %d SHA-pinned tensors seen", fname, n_sha, (int)sha->n);
    if (scal) CHECK(n_scal == (int)scal->n, "%s: %d of %d scalars seen", fname, n_scal, (int)scal->n);
    printf("  %-28s %4d tensors (%d storages, %s, root %s): %d vs source, %d vs SHA-256, %d scalars\n", fname,
           f.n_tensors, f.n_storages, f.prefix, f.root_type, n_src, n_sha, n_scal);

    /* lookups */
    CHECK(vla_torch_find(&f, f.tensors[0].name) == &f.tensors[0], "%s: find(first)", fname);
    CHECK(vla_torch_find(&f, f.tensors[f.n_tensors - 1].name) == &f.tensors[f.n_tensors - 1], "%s: find(last)", fname);
    CHECK(vla_torch_find(&f, "no.such.tensor") == NULL && vla_torch_find(&f, "") == NULL, "%s: find(absent)", fname);

    st_close(&st);
    vla_torch_close(&f);
    CHECK(f.n_tensors == 0 && f.tensors == NULL, "close clears the file");
    vla_torch_close(&f); /* twice is fine */
    free(buf);
    free(path);
}

static void check_other_fixture(const char *dir, const char *fname, const J *m)
{
    char *path = path_join(dir, fname), err[512];
    size_t len = 0;
    unsigned char *buf = read_file(path, &len);
    const char *kind = jstr(jget(m, "kind"));
    vla_torch_file f;
    int rc, want;
    CHECK(buf != NULL, "cannot read %s", path);
    if (!buf) {
        free(path);
        return;
    }
    want = !kind ? VLA_TORCH_FORMAT_UNKNOWN
           : strcmp(kind, "legacy") == 0 ? VLA_TORCH_FORMAT_LEGACY
           : strcmp(kind, "safetensors") == 0 ? VLA_TORCH_FORMAT_SAFETENSORS
                                               : -1;
    CHECK(vla_torch_detect(buf, len) == want, "%s: detect %d, want %d", fname, vla_torch_detect(buf, len), want);
    rc = vla_torch_open(&f, buf, len, err, sizeof err);
    CHECK(rc == VLA_TORCH_ERR_FORMAT && f.n_tensors == 0, "%s: open gave %d", fname, rc);
    if (want == VLA_TORCH_FORMAT_LEGACY)
        CHECK(strstr(err, "legacy (pre-1.6) torch.save format is not supported; re-save with torch>=1.6") != NULL,
              "%s: message '%s'", fname, err);
    printf("  %-28s refused: %s\n", fname, err);
    vla_torch_close(&f);
    free(buf);
    free(path);
}

static int test_fixtures(const char *root)
{
    char *dir = path_join(root, "checkpoint_formats");
    char *mp = path_join(dir, "manifest.json");
    size_t len = 0, i;
    unsigned char *mb = read_file(mp, &len);
    J *man = mb ? json_parse((const char *)mb, len) : NULL;
    const J *files = jget(man, "files");
    int n_zip = 0, n_other = 0;
    printf("fixtures: %s\n", dir);
    CHECK(files != NULL, "cannot read %s", mp);
    for (i = 0; files && i < files->n; i++) {
        const char *kind = jstr(jget(files->v[i], "kind"));
        if (kind && (strstr(kind, "zip") || strcmp(kind, "legacy") == 0)) {
            check_zip_fixture(dir, files->k[i], files->v[i]);
            n_zip++;
        } else {
            check_other_fixture(dir, files->k[i], files->v[i]);
            n_other++;
        }
    }
    CHECK(n_zip == 6 && n_other == 2, "manifest lists %d zip/legacy and %d other files", n_zip, n_other);
    jfree(man);
    free(mb);
    free(mp);
    free(dir);
    return files != NULL;
}

/* ======================================================================== */
/* 2. synthetic archives that must work                                      */

static const struct {
    const char *cls;
    int dtype;
    size_t es;
} g_types[] = {{"FloatStorage", VLA_TORCH_F32, 4}, {"HalfStorage", VLA_TORCH_F16, 2},  {"BFloat16Storage", VLA_TORCH_BF16, 2},
               {"DoubleStorage", VLA_TORCH_F64, 8}, {"LongStorage", VLA_TORCH_I64, 8}, {"IntStorage", VLA_TORCH_I32, 4},
               {"ShortStorage", VLA_TORCH_I16, 2}, {"CharStorage", VLA_TORCH_I8, 1},   {"ByteStorage", VLA_TORCH_U8, 1},
               {"BoolStorage", VLA_TORCH_BOOL, 1}};
#define N_TYPES ((int)(sizeof g_types / sizeof g_types[0]))

/* one 2x3 tensor per storage class, keys "0".."9", opts = zip options */
static Buf build_dtypes(const char *prefix, int opts, int extra_records)
{
    Buf pk, z;
    static unsigned char data[N_TYPES][48];
    char names[N_TYPES + 8][64], tname[32];
    ZEnt e[N_TYPES + 8];
    int i, n = 0;
    int64_t size[2] = {2, 3}, stride[2] = {3, 1};
    memset(&pk, 0, sizeof pk);
    pk_proto(&pk);
    pk_odict(&pk);
    pk_put(&pk, 0);
    pk_op(&pk, '(');
    for (i = 0; i < N_TYPES; i++) {
        char key[16];
        snprintf(key, sizeof key, "%d", i);
        snprintf(tname, sizeof tname, "t.%s", g_types[i].cls);
        pk_str(&pk, tname);
        pk_tensor(&pk, g_types[i].cls, key, 6, 0, 2, size, stride);
    }
    pk_op(&pk, 'u');
    /* the state_dict's _metadata BUILD, ignored */
    pk_op(&pk, '}');
    pk_str(&pk, "_metadata");
    pk_odict(&pk);
    pk_op(&pk, 's');
    pk_op(&pk, 'b');
    pk_op(&pk, '.');
    snprintf(names[n], sizeof names[n], "%s/data.pkl", prefix);
    e[n].name = names[n]; e[n].data = pk.p; e[n].len = pk.n; e[n].method = 0; n++;
    for (i = 0; i < N_TYPES; i++) {
        size_t j;
        for (j = 0; j < 6 * g_types[i].es; j++) data[i][j] = (unsigned char)(i * 16 + j + 1);
        if (g_types[i].dtype == VLA_TORCH_BOOL)
            for (j = 0; j < 6; j++) data[i][j] = (unsigned char)(j & 1);
        snprintf(names[n], sizeof names[n], "%s/data/%d", prefix, i);
        e[n].name = names[n]; e[n].data = data[i]; e[n].len = 6 * g_types[i].es; e[n].method = 0; n++;
    }
    if (extra_records) {
        /* what newer torch writes, plus TorchScript-like compressed noise */
        static unsigned char noise[300];
        for (i = 0; i < 300; i++) noise[i] = (unsigned char)('a' + rnd() % 26);
        snprintf(names[n], sizeof names[n], "%s/byteorder", prefix);
        e[n].name = names[n]; e[n].data = "little"; e[n].len = 6; e[n].method = 0; n++;
        snprintf(names[n], sizeof names[n], "%s/.data/serialization_id", prefix);
        e[n].name = names[n]; e[n].data = "1234567890"; e[n].len = 10; e[n].method = 0; n++;
        snprintf(names[n], sizeof names[n], "%s/extra/blob.py", prefix);
        e[n].name = names[n]; e[n].data = noise; e[n].len = sizeof noise; e[n].method = 8; n++;
        e[n].name = "unrelated.txt"; e[n].data = "x"; e[n].len = 1; e[n].method = 0; n++;
    }
    snprintf(names[n], sizeof names[n], "%s/version", prefix);
    e[n].name = names[n]; e[n].data = "3\n"; e[n].len = 2; e[n].method = 0; n++;
    if (extra_records) { /* records in an unusual order */
        ZEnt t = e[0];
        e[0] = e[n - 1];
        e[n - 1] = t;
    }
    z = zip_build(e, n, opts, NULL);
    free(pk.p);
    return z;
}

static void test_dtypes(void)
{
    static const struct {
        const char *prefix;
        int opts, extra;
    } variants[] = {{"archive", 0, 0},        {"LAST", Z_NOZIP64, 0},    {"weird name.v2", Z_SAT64, 0},
                    {"x", Z_COMMENT, 1},      {"clip_RN", Z_SAT64 | Z_COMMENT, 1}};
    int v;
    for (v = 0; v < (int)(sizeof variants / sizeof variants[0]); v++) {
        Buf z = build_dtypes(variants[v].prefix, variants[v].opts, variants[v].extra);
        unsigned char *c = (unsigned char *)malloc(z.n);
        vla_torch_file f;
        char err[512];
        int rc, i, ok = 1;
        memcpy(c, z.p, z.n);
        CHECK(vla_torch_detect(c, z.n) == VLA_TORCH_FORMAT_ZIP, "dtypes[%d]: detect", v);
        rc = vla_torch_open(&f, c, z.n, err, sizeof err);
        CHECK(rc == 0, "dtypes[%d] (%s): %s", v, variants[v].prefix, err);
        if (rc == 0) {
            CHECK(f.n_tensors == N_TYPES && f.n_storages == N_TYPES && f.kind == VLA_TORCH_FORMAT_ZIP,
                  "dtypes[%d]: %d tensors", v, f.n_tensors);
            CHECK(strcmp(f.prefix, variants[v].prefix) == 0 && strcmp(f.root_type, "OrderedDict") == 0,
                  "dtypes[%d]: prefix '%s' root '%s'", v, f.prefix, f.root_type);
            for (i = 0; i < N_TYPES && i < f.n_tensors; i++) {
                const vla_torch_tensor *t = &f.tensors[i];
                unsigned char want[48];
                size_t j;
                char tname[32];
                for (j = 0; j < 6 * g_types[i].es; j++) want[j] = (unsigned char)(i * 16 + j + 1);
                if (g_types[i].dtype == VLA_TORCH_BOOL)
                    for (j = 0; j < 6; j++) want[j] = (unsigned char)(j & 1);
                snprintf(tname, sizeof tname, "t.%s", g_types[i].cls);
                if (strcmp(t->name, tname) != 0 || t->dtype != g_types[i].dtype || t->n_dims != 2 ||
                    t->shape[0] != 2 || t->shape[1] != 3 || t->numel != 6 || t->nbytes != 6 * g_types[i].es ||
                    memcmp(t->data, want, t->nbytes) != 0 || t->storage_id != i || t->owns_data ||
                    vla_torch_dtype_size(t->dtype) != g_types[i].es || vla_torch_find(&f, tname) != t ||
                    ((size_t)((const unsigned char *)t->data - c)) % 64 != 0)
                    ok = 0;
            }
            CHECK(ok, "dtypes[%d]: tensor contents", v);
        }
        vla_torch_close(&f);
        free(c);
        free(z.p);
    }
    CHECK(vla_torch_dtype_size(12345) == 0 && strcmp(vla_torch_dtype_name(-3), "?") == 0, "unknown dtype helpers");
    CHECK(vla_torch_dtype_size(VLA_TORCH_U8) == 1 && vla_torch_dtype_size(VLA_TORCH_BOOL) == 1 &&
              vla_torch_dtype_size(VLA_TORCH_F64) == 8,
          "dtype sizes");
}

/* views over storage "0" (floats 0..23) */
static Buf build_views(void)
{
    Buf pk, z;
    int64_t s_a[2] = {4, 6}, st_a[2] = {6, 1};
    int64_t s_c[2] = {6, 4}, st_c[2] = {1, 6};
    int64_t s_d[2] = {3, 4}, st_d[2] = {0, 1};
    int64_t s_f[2] = {0, 3}, st_f[2] = {3, 1};
    int64_t s_g[2] = {1, 6}, st_g[2] = {999, 1};
    int64_t s_h[1] = {12}, st_h[1] = {2};
    int64_t s_b[2] = {3, 6};
    memset(&pk, 0, sizeof pk);
    pk_proto(&pk);
    pk_odict(&pk);
    pk_op(&pk, '(');
    pk_str(&pk, "a");
    pk_tensor(&pk, "FloatStorage", "0", 24, 0, 2, s_a, st_a); /* whole storage */
    pk_str(&pk, "b");
    pk_tensor(&pk, "FloatStorage", "0", 24, 6, 2, s_b, st_a); /* contiguous, offset 6 */
    pk_str(&pk, "c");
    pk_tensor(&pk, "FloatStorage", "0", 24, 0, 2, s_c, st_c); /* transpose: copy */
    pk_put(&pk, 7);
    pk_str(&pk, "c_again");
    pk_get(&pk, 7);                                           /* same tensor object */
    pk_str(&pk, "d");
    pk_tensor(&pk, "FloatStorage", "0", 24, 2, 2, s_d, st_d); /* expanded rows */
    pk_str(&pk, "e");
    pk_tensor(&pk, "FloatStorage", "0", 24, 5, 0, NULL, NULL); /* scalar */
    pk_str(&pk, "f");
    pk_tensor(&pk, "FloatStorage", "0", 24, 100, 2, s_f, st_f); /* empty */
    pk_str(&pk, "g");
    pk_tensor(&pk, "FloatStorage", "0", 24, 18, 2, s_g, st_g); /* size-1 dim, odd stride */
    pk_str(&pk, "h");
    pk_tensor(&pk, "FloatStorage", "0", 24, 0, 1, s_h, st_h); /* every other */
    pk_str(&pk, "p");
    pk_global(&pk, "torch._utils", "_rebuild_parameter");   /* Parameter(tensor) */
    pk_op(&pk, '(');
    pk_tensor(&pk, "LongStorage", "1", 1, 0, 0, NULL, NULL);
    pk_op(&pk, 0x88);
    pk_odict(&pk);
    pk_op(&pk, 't');
    pk_op(&pk, 'R');
    pk_op(&pk, 'u');
    pk_op(&pk, '.');
    z = std_ckpt(&pk);
    free(pk.p);
    return z;
}

static void test_views(void)
{
    Buf z = build_views();
    unsigned char *c = (unsigned char *)malloc(z.n);
    vla_torch_file f;
    char err[512];
    int rc, i, j;
    memcpy(c, z.p, z.n);
    rc = vla_torch_open(&f, c, z.n, err, sizeof err);
    CHECK(rc == 0, "views: %s", err);
    if (rc == 0) {
        const vla_torch_tensor *a = vla_torch_find(&f, "a"), *b = vla_torch_find(&f, "b"), *t = vla_torch_find(&f, "c");
        const vla_torch_tensor *t2 = vla_torch_find(&f, "c_again"), *d = vla_torch_find(&f, "d");
        const vla_torch_tensor *e = vla_torch_find(&f, "e"), *ef = vla_torch_find(&f, "f"), *g = vla_torch_find(&f, "g");
        const vla_torch_tensor *h = vla_torch_find(&f, "h"), *p = vla_torch_find(&f, "p");
        CHECK(f.n_tensors == 10 && f.n_storages == 2 && a && b && t && t2 && d && e && ef && g && h && p,
              "views: %d tensors", f.n_tensors);
        if (f.n_tensors == 10 && a && b && t && t2 && d && e && ef && g && h && p) {
            const float *fa = (const float *)a->data;
            int ok = 1;
            /* contiguous ones point into the caller's buffer */
            CHECK(!a->owns_data && (const unsigned char *)a->data >= c && (const unsigned char *)a->data < c + z.n &&
                      a->nbytes == 96 && fa[23] == 23.0f,
                  "views: a");
            CHECK(!b->owns_data && (const float *)b->data == fa + 6 && b->storage_offset == 6 && b->numel == 18,
                  "views: b at offset 6");
            for (i = 0; i < 6; i++)
                for (j = 0; j < 4; j++) ok &= ((const float *)t->data)[i * 4 + j] == (float)(j * 6 + i);
            CHECK(ok && t->owns_data && t->nbytes == 96, "views: transposed copy");
            CHECK(t2->data == t->data && !t2->owns_data, "views: memo'd tensor shares its copy");
            ok = 1;
            for (i = 0; i < 3; i++)
                for (j = 0; j < 4; j++) ok &= ((const float *)d->data)[i * 4 + j] == (float)(2 + j);
            CHECK(ok && d->owns_data && d->numel == 12, "views: expanded (stride 0)");
            CHECK(e->n_dims == 0 && e->numel == 1 && *(const float *)e->data == 5.0f && !e->owns_data, "views: scalar");
            CHECK(ef->numel == 0 && ef->nbytes == 0 && ef->n_dims == 2 && ef->shape[0] == 0, "views: empty");
            CHECK(!g->owns_data && ((const float *)g->data)[0] == 18.0f, "views: size-1 dim with any stride");
            ok = 1;
            for (i = 0; i < 12; i++) ok &= ((const float *)h->data)[i] == (float)(2 * i);
            CHECK(ok && h->owns_data, "views: strided 1-d");
            CHECK(p->dtype == VLA_TORCH_I64 && *(const int64_t *)p->data == 7 && p->storage_id == 1,
                  "views: _rebuild_parameter");
            ok = 1;
            for (i = 0; i < 9; i++) ok &= f.tensors[i].storage_id == 0;
            CHECK(ok, "views: one storage id for all views of storage 0");
            CHECK(strcmp(f.tensors[0].name, "a") == 0 && strcmp(f.tensors[9].name, "p") == 0, "views: file order");
        }
    }
    vla_torch_close(&f);
    free(c);
    free(z.p);
}

/* nested checkpoint, protocol-4 opcodes (FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL) */
static Buf build_nested(void)
{
    Buf pk, z;
    int64_t one = 1, four = 4;
    double lr = 0.1;
    uint64_t bits;
    int i;
    memset(&pk, 0, sizeof pk);
    pk_op(&pk, 0x80);
    pk_op(&pk, 4);
    pk_op(&pk, 0x95);
    buf_u64(&pk, 0); /* frame length (patched below) */
    pk_op(&pk, '}');
    pk_op(&pk, 0x94); /* memo 0 */
    pk_op(&pk, '(');
    pk_op(&pk, 0x8c);
    buf_u8(&pk, 5);
    buf_str(&pk, "epoch");
    pk_op(&pk, 0x94); /* memo 1 */
    pk_int(&pk, 3);
    pk_str(&pk, "state_dict");
    pk_op(&pk, 0x8c);
    buf_u8(&pk, 11);
    buf_str(&pk, "collections");
    pk_op(&pk, 0x8c);
    buf_u8(&pk, 11);
    buf_str(&pk, "OrderedDict");
    pk_op(&pk, 0x93);
    pk_op(&pk, 0x94); /* memo 2 */
    pk_op(&pk, ')');
    pk_op(&pk, 'R');
    pk_op(&pk, '(');
    pk_str(&pk, "w");
    pk_vec(&pk, 4);
    pk_str(&pk, "b");
    pk_tensor(&pk, "FloatStorage", "0", 24, 4, 1, &four, &one);
    pk_op(&pk, 'u');
    pk_str(&pk, "optimizer");
    pk_op(&pk, '}');
    pk_str(&pk, "state");
    pk_op(&pk, '}');
    pk_int(&pk, 0);
    pk_op(&pk, '}');
    pk_str(&pk, "exp_avg");
    pk_vec(&pk, 2);
    pk_op(&pk, 's');
    pk_str(&pk, "step");
    pk_int(&pk, 10);
    pk_op(&pk, 's');
    pk_op(&pk, 's');
    pk_int(&pk, -1);
    pk_op(&pk, 'N');
    pk_op(&pk, 's');
    pk_op(&pk, 's');
    pk_str(&pk, "param_groups");
    pk_op(&pk, ']');
    pk_op(&pk, '}');
    pk_str(&pk, "lr");
    pk_op(&pk, 'G');
    memcpy(&bits, &lr, 8);
    for (i = 7; i >= 0; i--) buf_u8(&pk, (unsigned)(bits >> (8 * i)) & 255);
    pk_op(&pk, 's');
    pk_op(&pk, 'a');
    pk_op(&pk, 's');
    pk_str(&pk, "list");
    pk_op(&pk, '(');
    pk_vec(&pk, 1);
    pk_op(&pk, 'N');
    pk_vec(&pk, 3);
    pk_op(&pk, 0x85);
    pk_op(&pk, 'l');
    pk_str(&pk, "flag");
    pk_op(&pk, 0x88);
    pk_str(&pk, "blob");
    pk_op(&pk, 'C');
    buf_u8(&pk, 3);
    buf_str(&pk, "abc");
    pk_str(&pk, "big");
    pk_op(&pk, 0x8a);
    buf_u8(&pk, 5);
    buf_str(&pk, "\x01\x02\x03\x04\x85"); /* negative 5-byte LONG1 */
    pk_op(&pk, 'u');
    pk_op(&pk, '.');
    set64(pk.p + 3, pk.n - 11);
    z = std_ckpt(&pk);
    free(pk.p);
    return z;
}

static void test_nested(void)
{
    static const char *want[] = {"state_dict.w", "state_dict.b", "optimizer.state.0.exp_avg", "list.0", "list.2.0"};
    Buf z = build_nested();
    unsigned char *c = (unsigned char *)malloc(z.n);
    vla_torch_file f;
    char err[512];
    int rc, i, ok = 1;
    memcpy(c, z.p, z.n);
    rc = vla_torch_open(&f, c, z.n, err, sizeof err);
    CHECK(rc == 0, "nested: %s", err);
    if (rc == 0) {
        CHECK(f.n_tensors == 5 && strcmp(f.root_type, "dict") == 0, "nested: %d tensors, root %s", f.n_tensors,
              f.root_type);
        for (i = 0; i < 5 && i < f.n_tensors; i++) ok &= strcmp(f.tensors[i].name, want[i]) == 0;
        CHECK(ok, "nested: dotted names in file order");
        if (f.n_tensors == 5) {
            CHECK(((const float *)f.tensors[1].data)[0] == 4.0f && f.tensors[4].numel == 3, "nested: data");
            CHECK(f.n_storages == 1, "nested: one storage");
        }
    }
    vla_torch_close(&f);
    free(c);
    free(z.p);
}

/* TorchScript-like archive: module objects built with NEWOBJ + BUILD */
static void pk_module_begin(Buf *b, const char *mod, const char *cls)
{
    pk_global(b, mod, cls);
    pk_op(b, ')');
    pk_op(b, 0x81);
    pk_op(b, '}');
    pk_op(b, '(');
    pk_str(b, "training");
    pk_op(b, 0x89);
    pk_str(b, "_is_full_backward_hook");
    pk_op(b, 'N');
}
static void pk_module_end(Buf *b)
{
    pk_op(b, 'u');
    pk_op(b, 'b');
}

static Buf build_torchscript(int compressed_code)
{
    Buf pk, cpk, z;
    int64_t one = 1, six = 6, n2 = 2;
    static unsigned char noise[500];
    ZEnt e[8];
    int i;
    for (i = 0; i < 500; i++) noise[i] = (unsigned char)('a' + rnd() % 26);
    memset(&pk, 0, sizeof pk);
    memset(&cpk, 0, sizeof cpk);
    pk_proto(&pk);
    pk_module_begin(&pk, "__torch__.mymod.___torch_mangle_12", "Net");
    pk_str(&pk, "scale");
    pk_tensor(&pk, "FloatStorage", "0", 24, 0, 0, NULL, NULL);
    pk_str(&pk, "conv");
    pk_module_begin(&pk, "__torch__.torch.nn.modules.conv.___torch_mangle_3", "Conv2d");
    pk_str(&pk, "weight");
    pk_tensor(&pk, "HalfStorage", "1", 6, 0, 1, &six, &one);
    pk_str(&pk, "bias");
    pk_op(&pk, 'N');
    pk_module_end(&pk);
    pk_str(&pk, "layers");
    pk_module_begin(&pk, "__torch__.torch.nn.modules.container", "Sequential");
    pk_str(&pk, "0");
    pk_module_begin(&pk, "__torch__.mymod", "Block");
    pk_str(&pk, "bn");
    pk_module_begin(&pk, "__torch__.torch.nn.modules.batchnorm", "BatchNorm2d");
    pk_str(&pk, "running_mean");
    pk_tensor(&pk, "FloatStorage", "0", 24, 10, 1, &n2, &one);
    pk_str(&pk, "num_batches_tracked");
    pk_tensor(&pk, "LongStorage", "2", 1, 0, 0, NULL, NULL);
    pk_str(&pk, "momentum");
    pk_op(&pk, 'G');
    buf_put(&pk, "\x3f\xb9\x99\x99\x99\x99\x99\x9a", 8);
    pk_module_end(&pk);
    pk_module_end(&pk);
    pk_module_end(&pk);
    /* plain attributes: an int list, a dict holding a tensor (not a parameter) */
    pk_str(&pk, "sizes");
    pk_global(&pk, "torch.jit._pickle", "build_intlist");
    pk_op(&pk, '(');
    pk_int(&pk, 1);
    pk_int(&pk, 2);
    pk_op(&pk, 'l');
    pk_op(&pk, 0x85);
    pk_op(&pk, 'R');
    pk_str(&pk, "cfg");
    pk_global(&pk, "torch.jit._pickle", "restore_type_tag");
    pk_op(&pk, '}');
    pk_str(&pk, "x");
    pk_vec(&pk, 2);
    pk_op(&pk, 's');
    pk_str(&pk, "Dict[str, Tensor]");
    pk_op(&pk, 0x86);
    pk_op(&pk, 'R');
    pk_module_end(&pk);
    pk_op(&pk, '.');
    /* constants.pkl is never read; make it something we would refuse */
    pk_proto(&cpk);
    pk_global(&cpk, "os", "system");
    pk_op(&cpk, '.');
    e[0].name = "model/data/0"; e[0].data = g_f24; e[0].len = sizeof g_f24; e[0].method = 0;
    e[1].name = "model/data/1"; e[1].data = "\x00\x3c\x00\x40\x00\x42\x00\x44\x00\x45\x00\x46"; e[1].len = 12; e[1].method = 0;
    e[2].name = "model/data/2"; e[2].data = &g_seven; e[2].len = 8; e[2].method = 0;
    e[3].name = "model/data.pkl"; e[3].data = pk.p; e[3].len = pk.n; e[3].method = 0;
    e[4].name = "model/code/__torch__/mymod.py"; e[4].data = noise; e[4].len = sizeof noise;
    e[4].method = compressed_code ? 8 : 0;
    e[5].name = "model/constants.pkl"; e[5].data = cpk.p; e[5].len = cpk.n; e[5].method = 0;
    e[6].name = "model/version"; e[6].data = "4\n"; e[6].len = 2; e[6].method = 0;
    z = zip_build(e, 7, 0, NULL);
    free(pk.p);
    free(cpk.p);
    return z;
}

static void test_torchscript(void)
{
    static const char *want[] = {"scale", "conv.weight", "layers.0.bn.running_mean", "layers.0.bn.num_batches_tracked"};
    Buf z = build_torchscript(1);
    unsigned char *c = (unsigned char *)malloc(z.n);
    vla_torch_file f;
    char err[512];
    int rc, i, ok = 1;
    memcpy(c, z.p, z.n);
    CHECK(vla_torch_detect(c, z.n) == VLA_TORCH_FORMAT_TORCHSCRIPT, "torchscript: detect");
    rc = vla_torch_open(&f, c, z.n, err, sizeof err);
    CHECK(rc == 0, "torchscript: %s", err);
    if (rc == 0) {
        CHECK(f.kind == VLA_TORCH_FORMAT_TORCHSCRIPT && f.n_tensors == 4, "torchscript: kind %d, %d tensors", f.kind,
              f.n_tensors);
        for (i = 0; i < 4 && i < f.n_tensors; i++) ok &= strcmp(f.tensors[i].name, want[i]) == 0;
        CHECK(ok, "torchscript: attribute paths (tensors and submodules only)");
        CHECK(strcmp(f.root_type, "__torch__.mymod.Net") == 0, "torchscript: demangled root '%s'", f.root_type);
        if (f.n_tensors == 4) {
            CHECK(f.tensors[1].dtype == VLA_TORCH_F16 && ((const unsigned char *)f.tensors[1].data)[1] == 0x3c,
                  "torchscript: fp16 weight");
            CHECK(((const float *)f.tensors[2].data)[1] == 11.0f && f.tensors[3].dtype == VLA_TORCH_I64,
                  "torchscript: buffers");
        }
    }
    vla_torch_close(&f);
    free(c);
    free(z.p);
}

static void test_api_edges(void)
{
    vla_torch_file f;
    char err[256];
    unsigned char tar[600];
    Buf pk, z;
    int rc;
    CHECK(vla_torch_open(NULL, "x", 1, err, sizeof err) == VLA_TORCH_ERR_ARG, "open(NULL file)");
    CHECK(vla_torch_open(&f, NULL, 0, err, sizeof err) == VLA_TORCH_ERR_ARG, "open(NULL buffer)");
    CHECK(vla_torch_open(&f, "", 0, NULL, 0) == VLA_TORCH_ERR_FORMAT, "open(empty), err NULL");
    CHECK(vla_torch_open(&f, "PK\3\4", 4, err, 1) == VLA_TORCH_ERR_CORRUPT && err[0] == 0, "1-byte err buffer");
    CHECK(vla_torch_detect(NULL, 5) == VLA_TORCH_FORMAT_UNKNOWN && vla_torch_detect("", 0) == VLA_TORCH_FORMAT_UNKNOWN,
          "detect(empty)");
    memset(tar, 0, sizeof tar);
    memcpy(tar, "storages", 8);
    memcpy(tar + 257, "ustar", 5);
    CHECK(vla_torch_detect(tar, sizeof tar) == VLA_TORCH_FORMAT_LEGACY, "detect(tar)");
    rc = vla_torch_open(&f, tar, sizeof tar, err, sizeof err);
    CHECK(rc == VLA_TORCH_ERR_FORMAT && strstr(err, "legacy"), "tar refused: %s", err);
    CHECK(vla_torch_detect("\x80\x02\x8a\x0a", 4) == VLA_TORCH_FORMAT_LEGACY, "detect(legacy magic)");
    CHECK(vla_torch_detect("PK\3\4 garbage", 12) == VLA_TORCH_FORMAT_ZIP, "detect(broken zip) still says zip");
    CHECK(vla_torch_find(NULL, "a") == NULL, "find(NULL)");
    vla_torch_close(NULL);
    CHECK(strcmp(vla_torch_format_name(VLA_TORCH_FORMAT_LEGACY), "legacy torch.save") == 0 &&
              strcmp(vla_torch_format_name(99), "unknown") == 0,
          "format names");
    /* an empty state dict and a bare tensor are valid */
    memset(&pk, 0, sizeof pk);
    pk_proto(&pk);
    pk_odict(&pk);
    pk_op(&pk, '.');
    z = std_ckpt(&pk);
    rc = vla_torch_open(&f, z.p, z.n, err, sizeof err);
    CHECK(rc == 0 && f.n_tensors == 0 && vla_torch_find(&f, "x") == NULL, "empty state dict: %d", rc);
    vla_torch_close(&f);
    free(z.p);
    pk.n = 0;
    pk_proto(&pk);
    pk_vec(&pk, 3);
    pk_op(&pk, '.');
    z = std_ckpt(&pk);
    rc = vla_torch_open(&f, z.p, z.n, err, sizeof err);
    CHECK(rc == 0 && f.n_tensors == 1 && strcmp(f.tensors[0].name, "") == 0 && strcmp(f.root_type, "Tensor") == 0 &&
              vla_torch_find(&f, "") == &f.tensors[0],
          "bare tensor: %d", rc);
    vla_torch_close(&f);
    free(z.p);
    free(pk.p);
}

/* ======================================================================== */
/* 3. hostile input                                                          */

static void test_bad_globals(void)
{
    static const char *bad[][2] = {
        {"os", "system"}, {"posix", "system"}, {"builtins", "eval"}, {"__builtin__", "eval"},
        {"subprocess", "Popen"}, {"torch", "load"}, {"torch._utils", "_rebuild_qtensor"},
        {"torch.nn.modules.linear", "Linear"}, {"collections", "defaultdict"},
        {"numpy.core.multiarray", "_reconstruct"}, {"__torch__x", "Evil"}, {"__torch__.", ""},
        {"torch.serialization", "_get_layout"}, {"_codecs", "encode"}, {"torch", "Tensor"}};
    size_t i;
    Buf pk;
    char what[160];
    memset(&pk, 0, sizeof pk);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pk_proto(&pk);
        pk_global(&pk, bad[i][0], bad[i][1]);
        pk_op(&pk, ')');
        pk_op(&pk, 'R');
        pk_op(&pk, '.');
        snprintf(what, sizeof what, "GLOBAL %s.%s", bad[i][0], bad[i][1]);
        snprintf(what + 80, 80, "'%s.%s' is not allowed", bad[i][0], bad[i][1]);
        expect_pkl_fail(what, &pk, VLA_TORCH_ERR_UNSUPPORTED, what + 80);
    }
    /* the same through STACK_GLOBAL, and inside an otherwise valid state dict */
    pk_proto(&pk);
    pk_str(&pk, "os");
    pk_str(&pk, "system");
    pk_op(&pk, 0x93);
    pk_op(&pk, '.');
    expect_pkl_fail("STACK_GLOBAL os.system", &pk, VLA_TORCH_ERR_UNSUPPORTED, "'os.system' is not allowed");
    pk_proto(&pk);
    pk_odict(&pk);
    pk_op(&pk, '(');
    pk_str(&pk, "w");
    pk_vec(&pk, 2);
    pk_str(&pk, "args");
    pk_global(&pk, "argparse", "Namespace");
    pk_op(&pk, ')');
    pk_op(&pk, 'R');
    pk_op(&pk, 'u');
    pk_op(&pk, '.');
    expect_pkl_fail("argparse.Namespace next to weights", &pk, VLA_TORCH_ERR_UNSUPPORTED, "argparse.Namespace");
    pk_proto(&pk);
    pk_storage(&pk, "ComplexFloatStorage", "0", 1);
    pk_op(&pk, '.');
    expect_pkl_fail("complex storage", &pk, VLA_TORCH_ERR_UNSUPPORTED, "ComplexFloatStorage");
    /* allowed globals used the wrong way */
    pk_proto(&pk);
    pk_global(&pk, "collections", "OrderedDict");
    pk_op(&pk, ']');
    pk_op(&pk, 0x85);
    pk_op(&pk, 'R');
    pk_op(&pk, '.');
    expect_pkl_fail("OrderedDict(list)", &pk, VLA_TORCH_ERR_UNSUPPORTED, NULL);
    pk_proto(&pk);
    pk_global(&pk, "__torch__.m", "C");
    pk_op(&pk, ')');
    pk_op(&pk, 'R');
    pk_op(&pk, '.');
    expect_pkl_fail("REDUCE of a TorchScript class", &pk, VLA_TORCH_ERR_UNSUPPORTED, "cannot be called");
    pk_proto(&pk);
    pk_global(&pk, "torch._utils", "_rebuild_tensor_v2");
    pk_op(&pk, ')');
    pk_op(&pk, 0x81);
    pk_op(&pk, '.');
    expect_pkl_fail("NEWOBJ of a function", &pk, VLA_TORCH_ERR_UNSUPPORTED, "NEWOBJ");
    pk_proto(&pk);
    pk_str(&pk, "x");
    pk_op(&pk, ')');
    pk_op(&pk, 'R');
    pk_op(&pk, '.');
    expect_pkl_fail("REDUCE of a string", &pk, VLA_TORCH_ERR_UNSUPPORTED, "not a GLOBAL");
    pk_proto(&pk);
    pk_op(&pk, ']');
    pk_op(&pk, ']');
    pk_op(&pk, 'b');
    pk_op(&pk, '.');
    expect_pkl_fail("BUILD on a list", &pk, VLA_TORCH_ERR_UNSUPPORTED, "BUILD");
    pk_proto(&pk);
    pk_global(&pk, "torch.jit._pickle", "build_intlist");
    pk_op(&pk, ')');
    pk_op(&pk, 'R');
    pk_op(&pk, '.');
    expect_pkl_fail("build_intlist()", &pk, VLA_TORCH_ERR_CORRUPT, NULL);
    pk_proto(&pk);
    pk_global(&pk, "torch._utils", "_rebuild_parameter");
    pk_op(&pk, '(');
    pk_int(&pk, 1);
    pk_op(&pk, 0x88);
    pk_odict(&pk);
    pk_op(&pk, 't');
    pk_op(&pk, 'R');
    pk_op(&pk, '.');
    expect_pkl_fail("_rebuild_parameter(int)", &pk, VLA_TORCH_ERR_CORRUPT, NULL);
    free(pk.p);
}

static void test_bad_opcodes(void)
{
    /* opcodes outside the allowlist, each named in the message */
    static const struct {
        unsigned char op;
        const char *name;
    } ops[] = {{'i', "INST"},       {'o', "OBJ"},       {'P', "PERSID"},   {0x82, "EXT1"},     {0x83, "EXT2"},
               {0x84, "EXT4"},      {'I', "INT"},       {'L', "LONG"},     {'F', "FLOAT"},     {'S', "STRING"},
               {'V', "UNICODE"},    {'g', "GET"},       {'p', "PUT"},      {0x92, "NEWOBJ_EX"}, {0x8f, "EMPTY_SET"},
               {0x90, "ADDITEMS"},  {0x91, "FROZENSET"}, {0x96, "BYTEARRAY8"}, {0x97, "NEXT_BUFFER"},
               {0x98, "READONLY_BUFFER"}, {0xff, "unknown opcode"}, {0x00, "unknown opcode"}};
    size_t i;
    Buf pk;
    char what[64];
    memset(&pk, 0, sizeof pk);
    for (i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        pk_proto(&pk);
        pk_op(&pk, ops[i].op);
        buf_str(&pk, "0\n0\n");
        pk_op(&pk, '.');
        snprintf(what, sizeof what, "opcode %s", ops[i].name);
        expect_pkl_fail(what, &pk, VLA_TORCH_ERR_UNSUPPORTED, ops[i].name);
    }
    pk_proto(&pk);
    pk_op(&pk, 0x80);
    pk_op(&pk, 6);
    pk_op(&pk, 'N');
    pk_op(&pk, '.');
    expect_pkl_fail("PROTO 6", &pk, VLA_TORCH_ERR_UNSUPPORTED, "protocol");
}

/* stack / memo / structure errors */
static void test_bad_structure(void)
{
#define PKL(x) x, sizeof(x) - 1
    static const struct {
        const char *what, *bytes;
        size_t n;
        const char *sub;
    } cases[] = {
        {"empty pickle", PKL(""), "without STOP"},
        {"no STOP", PKL("\x80\x02N"), "without STOP"},
        {"STOP on empty stack", PKL("\x80\x02."), "STOP"},
        {"STOP with two values", PKL("\x80\x02NN."), "STOP"},
        {"STOP with an open MARK", PKL("\x80\x02(N."), "STOP"},
        {"POP on empty", PKL("\x80\x02" "0N."), "no MARK"},
        {"POP_MARK without MARK", PKL("\x80\x02" "1N."), "no MARK"},
        {"DUP on empty", PKL("\x80\x02" "2."), "underflow"},
        {"TUPLE without MARK", PKL("\x80\x02NNt."), "no MARK"},
        {"TUPLE2 with one item", PKL("\x80\x02N\x86."), "underflow"},
        {"TUPLE3 across a MARK", PKL("\x80\x02NN(N\x87."), "underflow"},
        {"APPEND to a dict", PKL("\x80\x02}Na."), "non-list"},
        {"APPEND on empty", PKL("\x80\x02" "a."), "underflow"},
        {"APPENDS without list", PKL("\x80\x02(Ne."), "underflow"},
        {"APPENDS to a tuple", PKL("\x80\x02)(Ne."), "non-list"},
        {"SETITEM on a list", PKL("\x80\x02]NNs."), "non-dict"},
        {"SETITEMS odd", PKL("\x80\x02}(Nu."), "odd"},
        {"SETITEMS without dict", PKL("\x80\x02(NNu."), "underflow"},
        {"DICT odd", PKL("\x80\x02(Nd."), "odd"},
        {"BINGET undefined", PKL("\x80\x02h\x05."), "memo id 5"},
        {"LONG_BINGET huge", PKL("\x80\x02j\xff\xff\xff\xff."), "memo id 4294967295"},
        {"LONG_BINPUT huge", PKL("\x80\x02Nr\xff\xff\xff\xff."), "implausibly large"},
        {"BINPUT on empty", PKL("\x80\x02q\x00N."), "underflow"},
        {"MEMOIZE on empty", PKL("\x80\x02\x94N."), "underflow"},
        {"BINUNICODE len 2^32-1", PKL("\x80\x02X\xff\xff\xff\xff" "abc."), "past the end"},
        {"BINUNICODE cut", PKL("\x80\x02X\x05\x00\x00"), "past the end"},
        {"SHORT_BINUNICODE cut", PKL("\x80\x02\x8c\x09" "ab."), "past the end"},
        {"BINUNICODE8 huge", PKL("\x80\x02\x8d\xff\xff\xff\xff\xff\xff\xff\x7f."), "past the end"},
        {"BINBYTES8 huge", PKL("\x80\x02\x8e\x00\x00\x00\x00\x00\x00\x00\x80."), "past the end"},
        {"BINSTRING negative", PKL("\x80\x02T\xff\xff\xff\xff."), "negative"},
        {"FRAME huge", PKL("\x80\x04\x95\xff\xff\xff\xff\xff\xff\xff\xff" "N."), "past the end"},
        {"LONG1 wider than 64 bits", PKL("\x80\x02\x8a\x09" "123456789."), "64 bits"},
        {"LONG1 cut", PKL("\x80\x02\x8a\xff" "12."), "past the end"},
        {"LONG4 huge", PKL("\x80\x02\x8b\xff\xff\xff\xff" "1."), "past the end"},
        {"BININT cut", PKL("\x80\x02J\x01"), "past the end"},
        {"BINFLOAT cut", PKL("\x80\x02G\x01\x02"), "past the end"},
        {"GLOBAL unterminated", PKL("\x80\x02" "ctorch"), "unterminated"},
        {"GLOBAL one line", PKL("\x80\x02" "ctorch\nFloatStorage"), "unterminated"},
        {"STACK_GLOBAL of ints", PKL("\x80\x02KKK\x01\x93."), "not strings"},
        {"BINPERSID of a string", PKL("\x80\x02X\x01\x00\x00\x00xQ."), "persistent id"},
        {"BUILD on empty", PKL("\x80\x02" "b."), "underflow"},
        {"REDUCE on empty", PKL("\x80\x02)R."), "underflow"},
        {"NEWOBJ args not tuple", PKL("\x80\x02" "c__torch__\nA\n]\x81."), "NEWOBJ"},
    };
    size_t i;
    Buf pk;
    memset(&pk, 0, sizeof pk);
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        buf_put(&pk, cases[i].bytes, cases[i].n);
        expect_pkl_fail(cases[i].what, &pk, 0, cases[i].sub);
    }
#undef PKL
}

/* tensor / storage arguments that do not add up */
static void test_bad_tensors(void)
{
    Buf pk;
    int64_t one = 1, n24 = 24, n25 = 25, big = (int64_t)1 << 40, neg = -1;
    int64_t s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    int64_t ovf[3] = {(int64_t)1 << 40, (int64_t)1 << 40, (int64_t)1 << 40}, ost[3] = {1, 1, 1};
    int64_t s2[2] = {2, 3}, st1[1] = {1};
    int64_t huge_st = (int64_t)1 << 62, exp2[2] = {(int64_t)1 << 20, (int64_t)1 << 20}, z2[2] = {0, 0};
    memset(&pk, 0, sizeof pk);
#define ONE_TENSOR(what, code, sub, cls, key, numel, off, nd, size, stride)                                            \
    do {                                                                                                               \
        pk_proto(&pk);                                                                                                 \
        pk_tensor(&pk, cls, key, numel, off, nd, size, stride);                                                        \
        pk_op(&pk, '.');                                                                                               \
        expect_pkl_fail(what, &pk, code, sub);                                                                         \
    } while (0)
    ONE_TENSOR("missing storage record", VLA_TORCH_ERR_CORRUPT, "'archive/data/9' does not exist", "FloatStorage", "9", 1, 0, 1, &one, &one);
    ONE_TENSOR("storage key of 300 bytes", VLA_TORCH_ERR_CORRUPT, "longer than 256", "FloatStorage",
               "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
               "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
               "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
               1, 0, 1, &one, &one);
    ONE_TENSOR("storage key with a path", VLA_TORCH_ERR_CORRUPT, "does not exist", "FloatStorage", "../data.pkl", 1, 0, 1, &one, &one);
    ONE_TENSOR("numel larger than record", VLA_TORCH_ERR_CORRUPT, "do not fit", "FloatStorage", "0", 25, 0, 1, &n25, &one);
    ONE_TENSOR("numel 2^62", VLA_TORCH_ERR_CORRUPT, "do not fit", "FloatStorage", "0", huge_st, 0, 1, &one, &one);
    ONE_TENSOR("negative numel", VLA_TORCH_ERR_CORRUPT, "element count", "FloatStorage", "0", -5, 0, 1, &one, &one);
    ONE_TENSOR("view past the storage", VLA_TORCH_ERR_CORRUPT, "reaches element", "FloatStorage", "0", 24, 1, 1, &n24, &one);
    ONE_TENSOR("offset 2^40", VLA_TORCH_ERR_CORRUPT, "reaches element", "FloatStorage", "0", 24, big, 1, &one, &one);
    ONE_TENSOR("negative offset", VLA_TORCH_ERR_CORRUPT, "offset", "FloatStorage", "0", 24, -1, 1, &one, &one);
    ONE_TENSOR("stride past the storage", VLA_TORCH_ERR_CORRUPT, "reaches element", "FloatStorage", "0", 24, 0, 1, &n24, &n24);
    ONE_TENSOR("numel overflow", VLA_TORCH_ERR_CORRUPT, "overflows", "FloatStorage", "0", 24, 0, 3, ovf, ost);
    ONE_TENSOR("stride overflow", VLA_TORCH_ERR_CORRUPT, "overflow", "FloatStorage", "0", 24, 0, 1, &big, &huge_st);
    ONE_TENSOR("negative size", VLA_TORCH_ERR_CORRUPT, "size/stride", "FloatStorage", "0", 24, 0, 1, &neg, &one);
    ONE_TENSOR("negative stride", VLA_TORCH_ERR_CORRUPT, "size/stride", "FloatStorage", "0", 24, 0, 1, &one, &neg);
    ONE_TENSOR("9 dims", VLA_TORCH_ERR_CORRUPT, "size/stride", "FloatStorage", "0", 24, 0, 9, s9, s9);
    ONE_TENSOR("I64 numel past record", VLA_TORCH_ERR_CORRUPT, "do not fit", "LongStorage", "1", 2, 0, 1, &one, &one);
    /* size/stride length mismatch */
    pk_proto(&pk);
    pk_global(&pk, "torch._utils", "_rebuild_tensor_v2");
    pk_op(&pk, '(');
    pk_storage(&pk, "FloatStorage", "0", 24);
    pk_int(&pk, 0);
    pk_ints_tuple(&pk, 2, s2);
    pk_ints_tuple(&pk, 1, st1);
    pk_op(&pk, 0x89);
    pk_odict(&pk);
    pk_op(&pk, 't');
    pk_op(&pk, 'R');
    pk_op(&pk, '.');
    expect_pkl_fail("size/stride length mismatch", &pk, VLA_TORCH_ERR_CORRUPT, "size/stride");
    /* 5 arguments */
    pk_proto(&pk);
    pk_global(&pk, "torch._utils", "_rebuild_tensor_v2");
    pk_op(&pk, '(');
    pk_storage(&pk, "FloatStorage", "0", 24);
    pk_int(&pk, 0);
    pk_ints_tuple(&pk, 1, st1);
    pk_ints_tuple(&pk, 1, st1);
    pk_op(&pk, 0x89);
    pk_op(&pk, 't');
    pk_op(&pk, 'R');
    pk_op(&pk, '.');
    expect_pkl_fail("_rebuild_tensor_v2 with 5 args", &pk, VLA_TORCH_ERR_CORRUPT, "6 or 7");
    /* storage argument is an int; requires_grad is a string */
    pk_proto(&pk);
    pk_global(&pk, "torch._utils", "_rebuild_tensor_v2");
    pk_op(&pk, '(');
    pk_int(&pk, 0);
    pk_int(&pk, 0);
    pk_ints_tuple(&pk, 1, st1);
    pk_ints_tuple(&pk, 1, st1);
    pk_op(&pk, 0x89);
    pk_op(&pk, 'N');
    pk_op(&pk, 't');
    pk_op(&pk, 'R');
    pk_op(&pk, '.');
    expect_pkl_fail("storage argument is an int", &pk, VLA_TORCH_ERR_CORRUPT, "not a storage");
    pk_proto(&pk);
    pk_global(&pk, "torch._utils", "_rebuild_tensor_v2");
    pk_op(&pk, '(');
    pk_storage(&pk, "FloatStorage", "0", 24);
    pk_int(&pk, 0);
    pk_ints_tuple(&pk, 1, st1);
    pk_ints_tuple(&pk, 1, st1);
    pk_str(&pk, "yes");
    pk_op(&pk, 'N');
    pk_op(&pk, 't');
    pk_op(&pk, 'R');
    pk_op(&pk, '.');
    expect_pkl_fail("requires_grad string", &pk, VLA_TORCH_ERR_CORRUPT, "requires_grad");
    /* persistent ids */
    pk_proto(&pk);
    pk_op(&pk, '(');
    pk_str(&pk, "storagex");
    pk_global(&pk, "torch", "FloatStorage");
    pk_str(&pk, "0");
    pk_str(&pk, "cpu");
    pk_int(&pk, 1);
    pk_op(&pk, 't');
    pk_op(&pk, 'Q');
    pk_op(&pk, '.');
    expect_pkl_fail("persistent id tag", &pk, VLA_TORCH_ERR_UNSUPPORTED, "'storage'");
    pk_proto(&pk);
    pk_op(&pk, '(');
    pk_str(&pk, "storage");
    pk_global(&pk, "torch", "FloatStorage");
    pk_str(&pk, "0");
    pk_str(&pk, "cpu");
    pk_op(&pk, 't');
    pk_op(&pk, 'Q');
    pk_op(&pk, '.');
    expect_pkl_fail("persistent id 4-tuple", &pk, VLA_TORCH_ERR_UNSUPPORTED, "5-tuple");
    pk_proto(&pk);
    pk_op(&pk, '(');
    pk_str(&pk, "storage");
    pk_global(&pk, "torch", "FloatStorage");
    pk_str(&pk, "0");
    pk_str(&pk, "cpu");
    pk_int(&pk, 1);
    pk_op(&pk, '(');
    pk_str(&pk, "view");
    pk_int(&pk, 0);
    pk_op(&pk, 't');
    pk_op(&pk, 't');
    pk_op(&pk, 'Q');
    pk_op(&pk, '.');
    expect_pkl_fail("persistent id with a view", &pk, VLA_TORCH_ERR_UNSUPPORTED, "views");
    pk_proto(&pk);
    pk_op(&pk, '(');
    pk_str(&pk, "storage");
    pk_str(&pk, "torch.FloatStorage");
    pk_str(&pk, "0");
    pk_str(&pk, "cpu");
    pk_int(&pk, 1);
    pk_op(&pk, 't');
    pk_op(&pk, 'Q');
    pk_op(&pk, '.');
    expect_pkl_fail("persistent id class as a string", &pk, VLA_TORCH_ERR_CORRUPT, "storage class");
    pk_proto(&pk);
    pk_op(&pk, '(');
    pk_storage(&pk, "FloatStorage", "0", 24);
    pk_storage(&pk, "IntStorage", "0", 24);
    pk_op(&pk, 'l');
    pk_op(&pk, '.');
    expect_pkl_fail("one record, two dtypes", &pk, VLA_TORCH_ERR_CORRUPT, "two element types");
    /* an expanded view bigger than the copy budget */
    ONE_TENSOR("expand beyond the copy budget", VLA_TORCH_ERR_LIMIT, "copy", "FloatStorage", "0", 24, 0, 2, exp2, z2);
#undef ONE_TENSOR
    free(pk.p);
}

/* names, nesting depth, cycles, sharing */
static void test_bad_graphs(void)
{
    Buf pk;
    int i;
    const int N = 100000;
    char *longkey = (char *)malloc(5001);
    memset(&pk, 0, sizeof pk);
    /* duplicate names */
    pk_proto(&pk);
    pk_op(&pk, '}');
    pk_op(&pk, '(');
    pk_str(&pk, "a");
    pk_vec(&pk, 1);
    pk_str(&pk, "a");
    pk_vec(&pk, 2);
    pk_op(&pk, 'u');
    pk_op(&pk, '.');
    expect_pkl_fail("duplicate names", &pk, VLA_TORCH_ERR_CORRUPT, "occurs twice");
    pk_proto(&pk);
    pk_op(&pk, '}');
    pk_op(&pk, '(');
    pk_str(&pk, "a.b");
    pk_vec(&pk, 1);
    pk_str(&pk, "a");
    pk_op(&pk, '}');
    pk_str(&pk, "b");
    pk_vec(&pk, 2);
    pk_op(&pk, 's');
    pk_op(&pk, 'u');
    pk_op(&pk, '.');
    expect_pkl_fail("nested key collides with dotted key", &pk, VLA_TORCH_ERR_CORRUPT, "'a.b' occurs twice");
    pk_proto(&pk);
    pk_op(&pk, '}');
    pk_strn(&pk, "a\0b", 3);
    pk_vec(&pk, 1);
    pk_op(&pk, 's');
    pk_op(&pk, '.');
    expect_pkl_fail("NUL in a key", &pk, VLA_TORCH_ERR_CORRUPT, "NUL");
    memset(longkey, 'k', 5000);
    longkey[5000] = 0;
    pk_proto(&pk);
    pk_op(&pk, '}');
    pk_str(&pk, longkey);
    pk_vec(&pk, 1);
    pk_op(&pk, 's');
    pk_op(&pk, '.');
    expect_pkl_fail("5000-byte name", &pk, VLA_TORCH_ERR_LIMIT, "longer than");
    free(longkey);
    /* 100000 nested lists: ] x N, APPEND x N-1 */
    pk_proto(&pk);
    for (i = 0; i < N; i++) pk_op(&pk, ']');
    pk_vec(&pk, 1);
    pk_op(&pk, 'a');
    for (i = 1; i < N; i++) pk_op(&pk, 'a');
    pk_op(&pk, '.');
    expect_pkl_fail("100000 nested lists", &pk, VLA_TORCH_ERR_LIMIT, "nested");
    /* 100000 nested 1-tuples */
    pk_proto(&pk);
    pk_vec(&pk, 1);
    for (i = 0; i < N; i++) pk_op(&pk, 0x85);
    pk_op(&pk, '.');
    expect_pkl_fail("100000 nested TUPLE1", &pk, VLA_TORCH_ERR_LIMIT, "nested");
    /* 100000 MARKs then 100000 TUPLEs */
    pk_proto(&pk);
    for (i = 0; i < N; i++) pk_op(&pk, '(');
    pk_vec(&pk, 1);
    for (i = 0; i < N; i++) pk_op(&pk, 't');
    pk_op(&pk, '.');
    expect_pkl_fail("100000 MARK/TUPLE", &pk, VLA_TORCH_ERR_LIMIT, "nested");
    /* 100000 MARKs left open */
    pk_proto(&pk);
    for (i = 0; i < N; i++) pk_op(&pk, '(');
    pk_op(&pk, '}');
    pk_op(&pk, '.');
    expect_pkl_fail("100000 open MARKs", &pk, VLA_TORCH_ERR_CORRUPT, "STOP");
    /* 100000 nested dicts: (key, {}) pairs then SETITEM x N-1 */
    pk_proto(&pk);
    pk_op(&pk, '}');
    pk_str(&pk, "k");
    pk_put(&pk, 0);
    for (i = 1; i < N; i++) {
        if (i > 1) pk_get(&pk, 0);
        pk_op(&pk, '}');
    }
    for (i = 1; i < N; i++) pk_op(&pk, 's');
    pk_op(&pk, '.');
    expect_pkl_fail("100000 nested dicts", &pk, VLA_TORCH_ERR_LIMIT, "nested");
    /* a dict that contains itself */
    pk_proto(&pk);
    pk_op(&pk, '}');
    pk_put(&pk, 0);
    pk_str(&pk, "self");
    pk_get(&pk, 0);
    pk_op(&pk, 's');
    pk_str(&pk, "w");
    pk_vec(&pk, 1);
    pk_op(&pk, 's');
    pk_op(&pk, '.');
    expect_pkl_fail("self-referencing dict", &pk, VLA_TORCH_ERR_LIMIT, "cyclic");
    /* a TorchScript module that is its own submodule */
    pk_proto(&pk);
    pk_global(&pk, "__torch__.m", "M");
    pk_op(&pk, ')');
    pk_op(&pk, 0x81);
    pk_put(&pk, 0);
    pk_op(&pk, '}');
    pk_str(&pk, "sub");
    pk_get(&pk, 0);
    pk_op(&pk, 's');
    pk_op(&pk, 'b');
    pk_op(&pk, '.');
    expect_pkl_fail("self-referencing module", &pk, VLA_TORCH_ERR_LIMIT, "cyclic");
    /* 2^40 paths through 40 shared levels: l[i+1] = [l[i], l[i]] */
    pk_proto(&pk);
    pk_vec(&pk, 1);
    pk_put(&pk, 0);
    pk_op(&pk, '0');
    for (i = 0; i < 40; i++) {
        pk_op(&pk, '(');
        pk_get(&pk, (unsigned)i);
        pk_get(&pk, (unsigned)i);
        pk_op(&pk, 'l');
        pk_put(&pk, (unsigned)i + 1);
        pk_op(&pk, '0');
    }
    pk_get(&pk, 40);
    pk_op(&pk, '.');
    expect_pkl_fail("exponential sharing", &pk, VLA_TORCH_ERR_LIMIT, "too large");
    free(pk.p);
}

/* damaged zip containers, built from a valid archive */
static void test_bad_zip(void)
{
    Buf pk, z, t;
    ZInfo zi;
    ZEnt e[3];
    memset(&pk, 0, sizeof pk);
    pk_proto(&pk);
    pk_odict(&pk);
    pk_op(&pk, '(');
    pk_str(&pk, "w");
    pk_vec(&pk, 4);
    pk_op(&pk, 'u');
    pk_op(&pk, '.');

#define X64 (46 + 16) /* zip64 extra of the first entry, after "archive/data.pkl" */
#define MUTATE(what, code, sub, opts, stmt)                                                                           \
    do {                                                                                                               \
        z = std_ckpt_ex(&pk, "archive", opts, &zi);                                                                    \
        stmt;                                                                                                          \
        expect_fail(what, &z, code, sub);                                                                              \
        free(z.p);                                                                                                     \
    } while (0)
    /* sanity: unmodified archives open */
    MUTATE("broken EOCD signature", VLA_TORCH_ERR_CORRUPT, "end-of-central", 0, z.p[zi.eocd] = 'X');
    z = std_ckpt_ex(&pk, "archive", 0, &zi);
    CHECK(open_copy(z.p, z.n, NULL, 0, NULL) == 0, "control archive opens");
    free(z.p);
    MUTATE("trailing garbage after EOCD", VLA_TORCH_ERR_CORRUPT, "end-of-central", 0, buf_str(&z, "junk"));
    MUTATE("EOCD comment length too long", VLA_TORCH_ERR_CORRUPT, "end-of-central", Z_COMMENT,
           set16(z.p + zi.eocd + 20, 14));
    MUTATE("multi-disk", VLA_TORCH_ERR_UNSUPPORTED, "multi-disk", Z_NOZIP64, set16(z.p + zi.eocd + 4, 1));
    MUTATE("entry count 0xffff (no zip64)", VLA_TORCH_ERR_CORRUPT, "cannot fit", Z_NOZIP64,
           set16(z.p + zi.eocd + 10, 0xffff));
    MUTATE("entry count 0", VLA_TORCH_ERR_CORRUPT, "no entries", Z_NOZIP64, set16(z.p + zi.eocd + 10, 0));
    MUTATE("entry count +1", VLA_TORCH_ERR_CORRUPT, "damaged", Z_NOZIP64, set16(z.p + zi.eocd + 10, 5));
    MUTATE("cd size 0xffffffff (no zip64)", VLA_TORCH_ERR_CORRUPT, "outside", Z_NOZIP64,
           set32(z.p + zi.eocd + 12, 0xffffffffu));
    MUTATE("cd offset past EOF", VLA_TORCH_ERR_CORRUPT, "outside", Z_NOZIP64, set32(z.p + zi.eocd + 16, 0x7fffffffu));
    MUTATE("zip64 entry count 2^64-1", VLA_TORCH_ERR_CORRUPT, "cannot fit", 0, set64(z.p + zi.z64 + 32, ~(uint64_t)0));
    MUTATE("zip64 cd size 2^63", VLA_TORCH_ERR_CORRUPT, "outside", 0, set64(z.p + zi.z64 + 40, (uint64_t)1 << 63));
    MUTATE("zip64 cd offset 2^64-8", VLA_TORCH_ERR_CORRUPT, "outside", 0, set64(z.p + zi.z64 + 48, ~(uint64_t)7));
    MUTATE("zip64 locator past EOF", VLA_TORCH_ERR_CORRUPT, "locator", 0, set64(z.p + zi.loc + 8, ~(uint64_t)0));
    MUTATE("zip64 locator to garbage", VLA_TORCH_ERR_CORRUPT, "locator", 0, set64(z.p + zi.loc + 8, 0));
    MUTATE("zip64 record signature", VLA_TORCH_ERR_CORRUPT, "locator", 0, z.p[zi.z64] = 'Q');
    MUTATE("zip64 entry count 2^32", VLA_TORCH_ERR_CORRUPT, "cannot fit", Z_SAT64,
           set64(z.p + zi.z64 + 32, (uint64_t)1 << 32));
    MUTATE("cd entry signature", VLA_TORCH_ERR_CORRUPT, "damaged", 0, z.p[zi.cde[1]] = 'X');
    MUTATE("cd name length 0xffff", VLA_TORCH_ERR_CORRUPT, "overruns", 0, set16(z.p + zi.cde[0] + 28, 0xffff));
    MUTATE("cd extra length 0xffff", VLA_TORCH_ERR_CORRUPT, "overruns", 0, set16(z.p + zi.cde[3] + 30, 0xffff));
    MUTATE("cd comment length 0xffff", VLA_TORCH_ERR_CORRUPT, "overruns", 0, set16(z.p + zi.cde[2] + 32, 0xffff));
    MUTATE("zip64 extra too short", VLA_TORCH_ERR_CORRUPT, "too short", Z_SAT64, set16(z.p + zi.cde[0] + X64 + 2, 8));
    MUTATE("extra record overruns", VLA_TORCH_ERR_CORRUPT, "overruns", Z_SAT64, set16(z.p + zi.cde[0] + X64 + 2, 60));
    MUTATE("data.pkl local offset 2^32-2", VLA_TORCH_ERR_CORRUPT, "local header", 0,
           set32(z.p + zi.cde[0] + 42, 0xfffffffeu));
    MUTATE("data.pkl zip64 offset 2^63", VLA_TORCH_ERR_CORRUPT, "local header", Z_SAT64,
           set64(z.p + zi.cde[0] + X64 + 20, (uint64_t)1 << 63));
    MUTATE("data.pkl zip64 size 2^64-1", VLA_TORCH_ERR_CORRUPT, "past the end", Z_SAT64,
           (set64(z.p + zi.cde[0] + X64 + 4, ~(uint64_t)0), set64(z.p + zi.cde[0] + X64 + 12, ~(uint64_t)0)));
    MUTATE("storage local header signature", VLA_TORCH_ERR_CORRUPT, "local header", 0, z.p[zi.lho[1] + 1] = 'Q');
    MUTATE("local name differs", VLA_TORCH_ERR_CORRUPT, "differs", 0, z.p[zi.lho[0] + 30] = 'X');
    MUTATE("local name length", VLA_TORCH_ERR_CORRUPT, "differs", 0, set16(z.p + zi.lho[0] + 26, 0xffff));
    MUTATE("local extra length 0xffff", VLA_TORCH_ERR_CORRUPT, "past the end", 0, set16(z.p + zi.lho[0] + 28, 0xffff));
    MUTATE("data.pkl size past EOF", VLA_TORCH_ERR_CORRUPT, "past the end", 0,
           (set32(z.p + zi.cde[0] + 20, 0x7ffffff0u), set32(z.p + zi.cde[0] + 24, 0x7ffffff0u)));
    MUTATE("data.pkl csize != size", VLA_TORCH_ERR_CORRUPT, "csize", 0, set32(z.p + zi.cde[0] + 20, 3));
    MUTATE("data.pkl deflated", VLA_TORCH_ERR_UNSUPPORTED, "compressed", 0, set16(z.p + zi.cde[0] + 10, 8));
    MUTATE("data.pkl encrypted", VLA_TORCH_ERR_UNSUPPORTED, "encrypted", 0, set16(z.p + zi.cde[0] + 8, 0x0809));
    MUTATE("storage deflated", VLA_TORCH_ERR_UNSUPPORTED, "compressed", 0, set16(z.p + zi.cde[1] + 10, 8));
    MUTATE("storage record shorter", VLA_TORCH_ERR_CORRUPT, "do not fit", 0,
           (set32(z.p + zi.cde[1] + 20, 95), set32(z.p + zi.cde[1] + 24, 95)));
    MUTATE("data.pkl truncated in the directory", VLA_TORCH_ERR_CORRUPT, NULL, 0,
           (set32(z.p + zi.cde[0] + 20, 40), set32(z.p + zi.cde[0] + 24, 40)));
    MUTATE("duplicated record name", VLA_TORCH_ERR_CORRUPT, "occurs twice", 0, z.p[zi.cde[2] + 46 + 13] = '0');
    MUTATE("no data.pkl", VLA_TORCH_ERR_FORMAT, "data.pkl", 0, z.p[zi.cde[0] + 46 + 9] = 'X');
    MUTATE("data.pkl not at top level", VLA_TORCH_ERR_FORMAT, "data.pkl", 0, z.p[zi.cde[0] + 46 + 3] = '/');
#undef MUTATE
#undef X64
    /* a byteorder record saying "big" */
    e[0].name = "a/data.pkl"; e[0].data = pk.p; e[0].len = pk.n; e[0].method = 0;
    e[1].name = "a/data/0"; e[1].data = g_f24; e[1].len = sizeof g_f24; e[1].method = 0;
    e[2].name = "a/byteorder"; e[2].data = "big"; e[2].len = 3; e[2].method = 0;
    t = zip_build(e, 3, 0, NULL);
    expect_fail("byteorder 'big'", &t, VLA_TORCH_ERR_UNSUPPORTED, "big-endian");
    free(t.p);
    e[1].name = "b/data.pkl";
    t = zip_build(e, 2, 0, NULL);
    expect_fail("two data.pkl folders", &t, VLA_TORCH_ERR_CORRUPT, "records");
    free(t.p);
    t = zip_build(e, 0, 0, NULL);
    expect_fail("empty zip", &t, 0, NULL);
    free(t.p);
    free(pk.p);
}

/* truncations, byte flips and random mutations of small synthetic archives */
static void corpus_synthetic(void)
{
    Buf bases[4];
    const char *names[4] = {"dtypes", "views", "nested", "torchscript"};
    int b;
    bases[0] = build_dtypes("archive", Z_SAT64, 1);
    bases[1] = build_views();
    bases[2] = build_nested();
    bases[3] = build_torchscript(1);
    for (b = 0; b < 4; b++) {
        const Buf *z = &bases[b];
        unsigned char *m = (unsigned char *)malloc(z->n);
        size_t i, n_trunc_ok = 0, n_flip = 0, n_flip_ok = 0, n_mut_ok = 0;
        static const unsigned char xors[] = {0xff, 0x01, 0x80, 0x10};
        int k, iter;
        CHECK(open_copy(z->p, z->n, NULL, 0, NULL) == 0, "corpus base %s opens", names[b]);
        /* every truncation must fail */
        for (i = 0; i < z->n; i++)
            if (open_copy(z->p, i, NULL, 0, NULL) == 0) n_trunc_ok++;
        CHECK(n_trunc_ok == 0, "%s: %zu of %zu truncations were accepted", names[b], n_trunc_ok, z->n);
        /* every byte: four xor masks plus 0x00 / 0xff (no crash; success must be readable) */
        for (i = 0; i < z->n; i++) {
            for (k = 0; k < 6; k++) {
                memcpy(m, z->p, z->n);
                if (k < 4) m[i] ^= xors[k];
                else m[i] = k == 4 ? 0x00 : 0xff;
                if (m[i] == z->p[i]) continue;
                n_flip++;
                if (open_copy(m, z->n, NULL, 0, NULL) == 0) n_flip_ok++;
            }
        }
        /* random multi-byte mutations, biased to interesting values */
        for (iter = 0; iter < 6000; iter++) {
            int nm = 1 + (int)(rnd() % 6), j;
            size_t len = z->n;
            memcpy(m, z->p, z->n);
            for (j = 0; j < nm; j++) {
                size_t pos = rnd() % z->n;
                switch (rnd() % 5) {
                case 0: m[pos] = (unsigned char)rnd(); break;
                case 1: m[pos] = 0xff; break;
                case 2: m[pos] = 0; break;
                case 3: m[pos] ^= (unsigned char)(1u << (rnd() % 8)); break;
                default: m[pos] = (unsigned char)"()tq.hjrRQbus}]ae\x85\x86\x87"[rnd() % 21]; break;
                }
            }
            if (rnd() % 8 == 0) len = rnd() % z->n;
            if (open_copy(m, len, NULL, 0, NULL) == 0) n_mut_ok++;
        }
        printf("  corpus %-12s %5zu bytes: %zu truncations rejected, %zu byte edits (%zu still valid), "
               "6000 random mutations (%zu still valid)\n",
               names[b], z->n, z->n, n_flip, n_flip_ok, n_mut_ok);
        free(m);
    }
    for (b = 0; b < 4; b++) free(bases[b].p);
}

/* truncations and byte flips of the real legacy (pre-1.6) stream: every
 * truncation inside the pickles, a stride over the storages; byte flips over
 * the pickles and every storage count header is made huge */
static void corpus_legacy(const char *root)
{
    char *path = path_join(root, "checkpoint_formats/hf_bart/pytorch_model_legacy.bin");
    size_t len = 0, i, n_trunc = 0, n_trunc_ok = 0, n_flip = 0, n_flip_ok = 0, pk_end = 17466;
    unsigned char *buf = read_file(path, &len), *m;
    int rc, nt = 0;
    char err[256];
    {   /* the manifest says where the storages start */
        char *mp = path_join(root, "checkpoint_formats/manifest.json");
        size_t ml = 0;
        unsigned char *mb = read_file(mp, &ml);
        J *man = mb ? json_parse((const char *)mb, ml) : NULL;
        const char *sdo = jstr(jget(jget(jget(man, "files"), "hf_bart/pytorch_model_legacy.bin"), "storage_data_offsets"));
        const char *at = sdo ? strstr(sdo, "byte ") : NULL;
        CHECK(at != NULL, "legacy: manifest storage_data_offsets");
        if (at) pk_end = (size_t)strtoul(at + 5, NULL, 10);
        jfree(man);
        free(mb);
        free(mp);
    }
    CHECK(buf != NULL && len > pk_end, "read %s", path);
    if (!buf || len <= pk_end) {
        free(buf);
        free(path);
        return;
    }
    rc = open_copy(buf, len, err, sizeof err, &nt);
    CHECK(rc == 0 && nt == 95, "legacy: open gave %d (%s), %d tensors", rc, err, nt);
    for (i = 0; i < len; i++) {
        if (i <= pk_end + 64 || i % 1021 == 0 || i >= len - 16) {
            n_trunc++;
            if (open_copy(buf, i, NULL, 0, NULL) == 0) n_trunc_ok++;
        }
    }
    CHECK(n_trunc_ok == 0, "legacy corpus: %zu of %zu truncations accepted", n_trunc_ok, n_trunc);
    /* one stray byte after the last storage */
    m = (unsigned char *)malloc(len + 1);
    memcpy(m, buf, len);
    m[len] = 0;
    rc = open_copy(m, len + 1, err, sizeof err, NULL);
    CHECK(rc == VLA_TORCH_ERR_CORRUPT && strstr(err, "stray"), "legacy: trailing byte -> %d %s", rc, err);
    for (i = 0; i < pk_end; i++) {
        if (i % 7 != 0) continue;
        m[i] ^= (unsigned char)(i % 3 == 0 ? 0xff : i % 3 == 1 ? 0x80 : 0x01);
        n_flip++;
        if (open_copy(m, len, NULL, 0, NULL) == 0) n_flip_ok++;
        m[i] = buf[i];
    }
    /* the first storage's element count made huge, then one too small */
    set64(m + pk_end, ~(uint64_t)0);
    rc = open_copy(m, len, err, sizeof err, NULL);
    CHECK(rc == VLA_TORCH_ERR_CORRUPT && strstr(err, "runs past"), "legacy: count 2^64-1 -> %d %s", rc, err);
    memcpy(m, buf, len);
    {
        uint64_t c0 = 0;
        int b;
        for (b = 7; b >= 0; b--) c0 = (c0 << 8) | buf[pk_end + (size_t)b];
        set64(m + pk_end, c0 ? c0 - 1u : 0u);
    }
    rc = open_copy(m, len, err, sizeof err, NULL);
    CHECK(rc == VLA_TORCH_ERR_CORRUPT, "legacy: count one short -> %d %s", rc, err);
    printf("  corpus pytorch_model_legacy.bin: %zu truncations rejected, %zu byte flips (%zu still valid)\n", n_trunc,
           n_flip, n_flip_ok);
    free(m);
    free(buf);
    free(path);
}

/* truncations and byte flips of a real checkpoint */
static void corpus_real(const char *root)
{
    char *dir = path_join(root, "checkpoint_formats"), *path = path_join(dir, "vladapter_lora_LAST.pth");
    size_t len = 0, i, cd = 0, eocd, n_trunc = 0, n_trunc_ok = 0, n_flip = 0, n_flip_ok = 0;
    unsigned char *buf = read_file(path, &len), *m;
    CHECK(buf != NULL && len > 100000, "read %s", path);
    if (!buf) {
        free(dir);
        free(path);
        return;
    }
    /* classic EOCD is the last 22 bytes here (no comment) */
    eocd = len - 22;
    cd = (size_t)buf[eocd + 16] | ((size_t)buf[eocd + 17] << 8) | ((size_t)buf[eocd + 18] << 16) |
         ((size_t)buf[eocd + 19] << 24);
    CHECK(cd < eocd, "real corpus: central directory at %zu", cd);
    for (i = 0; i < len; i++) {
        if (i < 2048 || i >= cd - 64 || i % 4099 == 0) {
            n_trunc++;
            if (open_copy(buf, i, NULL, 0, NULL) == 0) n_trunc_ok++;
        }
    }
    CHECK(n_trunc_ok == 0, "real corpus: %zu of %zu truncations accepted", n_trunc_ok, n_trunc);
    m = (unsigned char *)malloc(len);
    memcpy(m, buf, len);
    for (i = 0; i < len; i++) {
        /* every byte of the end records, a stride over the directory and the pickle */
        if (!(i >= len - 120 || (i >= cd && i % 5 == 0) || (i < 24000 && i % 37 == 0))) continue;
        m[i] ^= (unsigned char)(i % 3 == 0 ? 0xff : i % 3 == 1 ? 0x80 : 0x01);
        n_flip++;
        if (open_copy(m, len, NULL, 0, NULL) == 0) n_flip_ok++;
        m[i] = buf[i];
    }
    printf("  corpus vladapter_lora_LAST.pth: %zu truncations rejected, %zu byte flips (%zu still valid)\n", n_trunc,
           n_flip, n_flip_ok);
    /* huge counts / sizes in the real file's end records must be refused */
    {
        size_t loc = eocd - 20, z64 = 0;
        int rc;
        char err[256];
        z64 = (size_t)buf[loc + 8] | ((size_t)buf[loc + 9] << 8) | ((size_t)buf[loc + 10] << 16) |
              ((size_t)buf[loc + 11] << 24);
        set64(m + z64 + 32, ~(uint64_t)0);
        rc = open_copy(m, len, err, sizeof err, NULL);
        CHECK(rc == VLA_TORCH_ERR_CORRUPT, "real: zip64 count 2^64-1 -> %d %s", rc, err);
        memcpy(m, buf, len);
        set64(m + z64 + 40, ~(uint64_t)0 - 5);
        rc = open_copy(m, len, err, sizeof err, NULL);
        CHECK(rc == VLA_TORCH_ERR_CORRUPT, "real: zip64 cd size huge -> %d %s", rc, err);
        memcpy(m, buf, len);
        set32(m + cd + 20, 0xffffffffu); /* data.pkl sizes saturated, no zip64 extra */
        set32(m + cd + 24, 0xffffffffu);
        rc = open_copy(m, len, err, sizeof err, NULL);
        CHECK(rc == VLA_TORCH_ERR_CORRUPT, "real: data.pkl size 2^32-1 -> %d %s", rc, err);
        memcpy(m, buf, len);
    }
    free(m);
    free(buf);
    free(dir);
    free(path);
}

int main(int argc, char **argv)
{
    const char *root = NULL;
    int i;
    setvbuf(stdout, NULL, _IOLBF, 0); /* keep output if a sanitizer aborts */
    for (i = 0; i < 24; i++) g_f24[i] = (float)i;
    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-v") == 0) g_verbose = 1;
        else root = argv[i];
    }
    if (!root) {
        FILE *fp = fopen("../shared/fixtures/checkpoint_formats/manifest.json", "rb");
        root = "../shared/fixtures";
        if (!fp) root = "tests/fixtures";
        else fclose(fp);
    }

    printf("== real checkpoints\n");
    if (test_fixtures(root)) {
        corpus_real(root);
        corpus_legacy(root);
    }
    printf("== synthetic archives\n");
    test_dtypes();
    test_views();
    test_nested();
    test_torchscript();
    test_api_edges();
    printf("== hostile input\n");
    test_bad_globals();
    test_bad_opcodes();
    test_bad_structure();
    test_bad_tensors();
    test_bad_graphs();
    test_bad_zip();
    corpus_synthetic();

    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
