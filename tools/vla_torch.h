/* vla_torch.h - restricted, never-trusting reader for PyTorch checkpoint files.
 *
 * Host-side helper for the vladapter converter (tools/vla-convert).  C99 (also
 * compiles as C++), libc only.  stb style: include this header for the
 * declarations anywhere; in exactly one translation unit do
 *
 *     #define VLA_TORCH_IMPLEMENTATION
 *     #include "vla_torch.h"
 *
 * ---------------------------------------------------------------------------
 * WHAT IT READS
 *
 *  * torch.save zip archives (PyTorch >= 1.6) and TorchScript archives
 *    (torch.jit.save, e.g. OpenAI CLIP *.pt).  Both are ZIP files written by
 *    torch's miniz writer: every record we need is STORED; the local headers
 *    carry zero sizes, so sizes and offsets are taken from the central
 *    directory (ZIP64 end record/locator and the 0x0001 extra field are
 *    honoured).  A record's data starts at
 *        local header offset + 30 + name length + LOCAL extra length.
 *    All records live under one folder <p>; <p> is found as the folder of the
 *    single "<p>/data.pkl" record ("archive", "LAST", "clip_RN", ...).
 *    Unknown records are ignored (TorchScript code/ and constants.pkl too:
 *    graph constants are not weights); DEFLATE records are walked past and
 *    never inflated.
 *  * <p>/data.pkl is a pickle (protocol 2; the protocol 4 framing opcodes are
 *    accepted too) run by a small RESTRICTED unpickler (below).  A tensor is
 *        torch._utils._rebuild_tensor_v2(storage, storage_offset, size,
 *                                        stride, requires_grad, hooks)
 *    where storage = BINPERSID(('storage', torch.<T>Storage, key, location,
 *    numel)); its bytes are the record "<p>/data/<key>" (host little-endian,
 *    the location "cpu"/"cuda:0"/... is ignored).
 *  * The unpickled root is walked and every tensor reachable from it is
 *    reported with a dotted name:
 *      - dicts / OrderedDicts: key strings (int keys in decimal), so a plain
 *        state dict gives its keys unchanged ("module.model.shared.weight"),
 *        a nested checkpoint gives "state_dict.<key>", "model.<key>", ...
 *      - lists / tuples: element index;
 *      - TorchScript module objects (__torch__.* classes, built with NEWOBJ +
 *        BUILD from a dict of attributes): tensor attributes and submodule
 *        attributes only, giving exactly the state_dict names
 *        ("visual.layer1.0.conv1.weight", "visual.bn1.running_mean").
 *    Names are kept as stored (the caller strips "module." etc.).
 *  * The legacy (pre-1.6, or _use_new_zipfile_serialization=False) non-zip
 *    stream: five pickles, then the storages' raw elements in key order.  The
 *    same unpickler and allowlist read its object pickle; every storage's
 *    count and bytes are checked against the file before any tensor uses it.
 *  * Everything else is REFUSED with a message: the ancient tar format,
 *    safetensors (detect only; the tool has its own reader), compressed data
 *    records, big-endian archives and streams.
 *
 * OUTPUT
 *    One vla_torch_tensor per name, in pickle (file) order.  Contiguous
 *    tensors point straight into the caller's buffer (storage_offset applied;
 *    the pointer may be unaligned in general - torch aligns record data to 64
 *    bytes, but use memcpy if you cannot be sure).  Non-contiguous views are
 *    copied into a fresh contiguous malloc'ed block (owns_data = 1).
 *    Several names may share one storage (tied weights): storage_id (dense,
 *    0..n_storages-1, first use order) and storage_offset let the caller
 *    detect aliases.  The caller's buffer must outlive the vla_torch_file.
 *    Names are unique (a file that would produce a name twice is refused);
 *    vla_torch_find is a binary search.  A bare tensor saved as the root
 *    gets the empty name "".
 *
 * SAFETY MODEL
 *    The input is hostile.  Every offset, length and count is checked against
 *    the bytes that exist with overflow-safe arithmetic; nothing is executed:
 *    the unpickler knows only the opcodes needed for state dicts (any other
 *    opcode -> error naming it) and only these GLOBALs:
 *        torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter,
 *        torch._utils._rebuild_parameter_with_state, collections.OrderedDict,
 *        torch.<T>Storage / torch.cuda.<T>Storage (types listed below),
 *        torch.jit._pickle.build_{int,double,bool,tensor}list and
 *        restore_type_tag (identity on their argument), __torch__.* classes
 *        (TorchScript module objects, only instantiated as inert records).
 *    Anything else (os.system, builtins.eval, a pickled nn.Module, numpy
 *    scalars...) fails with the offending name.  Accepted opcodes:
 *        PROTO FRAME STOP | MARK POP POP_MARK DUP | NONE NEWTRUE NEWFALSE
 *        BININT BININT1 BININT2 LONG1 LONG4 (<= 64 bits) BINFLOAT |
 *        BINUNICODE SHORT_BINUNICODE BINUNICODE8 BINSTRING SHORT_BINSTRING
 *        BINBYTES SHORT_BINBYTES BINBYTES8 | EMPTY_TUPLE TUPLE TUPLE1..3 |
 *        EMPTY_LIST LIST APPEND APPENDS | EMPTY_DICT DICT SETITEM SETITEMS |
 *        BINPUT LONG_BINPUT MEMOIZE BINGET LONG_BINGET | GLOBAL STACK_GLOBAL
 *        REDUCE NEWOBJ BUILD BINPERSID.
 *    The unpickler is iterative; the only recursion is the tree walk,
 *    bounded by VLA_TORCH_MAX_DEPTH (64), and the walk has a visit budget
 *    (2 x values + 1024) so shared (memoized) sub-objects cannot blow up
 *    exponentially; cycles hit the depth limit.  Other limits: 8 dims, names
 *    <= VLA_TORCH_MAX_NAME (4096) bytes and <= 32 x pickle size + 16 MiB in
 *    total, storage keys <= 256 bytes, contiguous copies <=
 *    VLA_TORCH_COPY_FACTOR (8) x file size + 16 MiB in total.  Name lookups
 *    use a merge-sorted index (O(n log n) whatever the input; no hashing to
 *    flood, no qsort worst case).  Memory is linear in the input size.  On
 *    any error vla_torch_open returns non-zero, fills err and leaves nothing
 *    to free (vla_torch_close is still safe to call).
 *
 * DTYPES (ggml type ids where ggml has one)
 *    F32=0 F16=1 I8=24 I16=25 I32=26 I64=27 F64=28 BF16=30;
 *    U8=256 and BOOL=257 (1 byte, 0/1) are NOT ggml types.
 *    Storage classes: Float F32, Half F16, BFloat16 BF16, Double F64, Long I64,
 *    Int I32, Short I16, Char I8, Byte U8, Bool BOOL, Untyped U8.
 *    Complex / quantized / float8 storages are refused.
 */
#ifndef VLA_TORCH_H
#define VLA_TORCH_H

#include <stddef.h>
#include <stdint.h>

#ifndef VLA_TORCH_DEF
#define VLA_TORCH_DEF extern
#endif

#define VLA_TORCH_MAX_DIMS 8

/* element types */
#define VLA_TORCH_F32 0
#define VLA_TORCH_F16 1
#define VLA_TORCH_I8 24
#define VLA_TORCH_I16 25
#define VLA_TORCH_I32 26
#define VLA_TORCH_I64 27
#define VLA_TORCH_F64 28
#define VLA_TORCH_BF16 30
#define VLA_TORCH_U8 256
#define VLA_TORCH_BOOL 257

/* file formats (vla_torch_detect) and vla_torch_file.kind */
#define VLA_TORCH_FORMAT_UNKNOWN 0
#define VLA_TORCH_FORMAT_ZIP 1         /* torch.save >= 1.6 */
#define VLA_TORCH_FORMAT_TORCHSCRIPT 2 /* torch.jit.save */
#define VLA_TORCH_FORMAT_LEGACY 3      /* pre-1.6 pickle stream or tar: refused */
#define VLA_TORCH_FORMAT_SAFETENSORS 4 /* not read here */

/* return codes of vla_torch_open */
#define VLA_TORCH_OK 0
#define VLA_TORCH_ERR_ARG 1         /* NULL file / buffer */
#define VLA_TORCH_ERR_FORMAT 2      /* not a torch zip archive (legacy, safetensors, other) */
#define VLA_TORCH_ERR_CORRUPT 3     /* truncated or inconsistent data */
#define VLA_TORCH_ERR_UNSUPPORTED 4 /* well-formed but outside what we accept */
#define VLA_TORCH_ERR_LIMIT 5       /* a safety limit was hit (depth, sizes) */
#define VLA_TORCH_ERR_NOMEM 6

typedef struct vla_torch_tensor {
    char *name;                        /* dotted name, NUL-terminated */
    int dtype;                         /* VLA_TORCH_F32 ... */
    int n_dims;                        /* 0 for a scalar */
    int64_t shape[VLA_TORCH_MAX_DIMS]; /* PyTorch order (outermost first) */
    int64_t numel;
    const void *data;                  /* contiguous little-endian elements */
    size_t nbytes;                     /* numel * element size */
    int storage_id;                    /* same id = same storage (aliases) */
    int64_t storage_offset;            /* in elements, as stored */
    int owns_data;                     /* 1: data is a private contiguous copy */
    int requires_grad;
} vla_torch_tensor;

typedef struct vla_torch_file {
    int kind;                  /* VLA_TORCH_FORMAT_ZIP, _TORCHSCRIPT or _LEGACY */
    int n_tensors;
    vla_torch_tensor *tensors; /* file order */
    int n_storages;
    char *prefix;              /* archive folder, e.g. "archive", "LAST" */
    char *root_type;           /* "OrderedDict", "dict", "list", "tuple", "Tensor",
                                  "other", or the demangled TorchScript class
                                  ("__torch__.clip.model.CLIP") */
    int *sorted_;              /* private: indices sorted by name */
} vla_torch_file;

#ifdef __cplusplus
extern "C" {
#endif

/* Parse a checkpoint held in memory.  Returns VLA_TORCH_OK (0) or an error
 * code; err (may be NULL) receives a one-line message.  buf must stay valid
 * until vla_torch_close.  f is always left in a state vla_torch_close accepts. */
VLA_TORCH_DEF int vla_torch_open(vla_torch_file *f, const void *buf, size_t len,
                                 char *err, size_t err_len);
VLA_TORCH_DEF void vla_torch_close(vla_torch_file *f);
/* Format sniffing: VLA_TORCH_FORMAT_*.  For zips the central directory is
 * read to tell TorchScript (constants.pkl / code/) from torch.save. */
VLA_TORCH_DEF int vla_torch_detect(const void *buf, size_t len);
/* Exact-name lookup (binary search), NULL if absent. */
VLA_TORCH_DEF const vla_torch_tensor *vla_torch_find(const vla_torch_file *f, const char *name);
/* Bytes per element (0 for an unknown id) and a short name ("F32", "BOOL"...). */
VLA_TORCH_DEF size_t vla_torch_dtype_size(int dtype);
VLA_TORCH_DEF const char *vla_torch_dtype_name(int dtype);
VLA_TORCH_DEF const char *vla_torch_format_name(int format);

#ifdef __cplusplus
}
#endif

#endif /* VLA_TORCH_H */

/* ======================================================================== */
#ifdef VLA_TORCH_IMPLEMENTATION
#ifndef VLA_TORCH_IMPLEMENTATION_DONE
#define VLA_TORCH_IMPLEMENTATION_DONE

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Safety limits (override before including the implementation). */
#ifndef VLA_TORCH_MAX_DEPTH
#define VLA_TORCH_MAX_DEPTH 64 /* nesting of dicts/lists/modules in the walk */
#endif
#ifndef VLA_TORCH_MAX_NAME
#define VLA_TORCH_MAX_NAME 4096 /* bytes of one dotted tensor name */
#endif
#ifndef VLA_TORCH_COPY_FACTOR
#define VLA_TORCH_COPY_FACTOR 8 /* non-contiguous copies: at most this many
                                   times the input size (+16 MiB) in total */
#endif

#define VLA_TORCH__MAX_KEY 256 /* bytes of a storage key */

#if defined(__GNUC__) || defined(__clang__)
#define VLA_TORCH__PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define VLA_TORCH__PRINTF(a, b)
#endif

/* ---- small helpers ------------------------------------------------------ */

typedef struct vla_torch__err {
    char *buf;
    size_t len;
    int code;
} vla_torch__err;

static int vla_torch__fail(vla_torch__err *e, int code, const char *fmt, ...) VLA_TORCH__PRINTF(3, 4);
static int vla_torch__fail(vla_torch__err *e, int code, const char *fmt, ...)
{
    if (e->code == 0) { /* the first error is the interesting one */
        e->code = code;
        if (e->buf && e->len) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(e->buf, e->len, fmt, ap);
            va_end(ap);
        }
    }
    return e->code;
}

static unsigned vla_torch__rd16(const unsigned char *p) { return (unsigned)p[0] | ((unsigned)p[1] << 8); }
static uint32_t vla_torch__rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t vla_torch__rd64(const unsigned char *p)
{
    return (uint64_t)vla_torch__rd32(p) | ((uint64_t)vla_torch__rd32(p + 4) << 32);
}

/* a + b and a * b on uint64 with overflow detection (1 = ok) */
static int vla_torch__add64(uint64_t a, uint64_t b, uint64_t *r)
{
    if (a > UINT64_MAX - b) return 0;
    *r = a + b;
    return 1;
}
static int vla_torch__mul64(uint64_t a, uint64_t b, uint64_t *r)
{
    if (a != 0 && b > UINT64_MAX / a) return 0;
    *r = a * b;
    return 1;
}
/* does [off, off+n) lie inside a buffer of len bytes? */
static int vla_torch__in(uint64_t off, uint64_t n, size_t len)
{
    uint64_t end = 0;
    return vla_torch__add64(off, n, &end) && end <= (uint64_t)len;
}

static int vla_torch__eq(const char *s, size_t n, const char *lit)
{
    size_t m = strlen(lit);
    return n == m && memcmp(s, lit, n) == 0;
}

/* Printable excerpt of untrusted bytes for error messages. */
static const char *vla_torch__show(char *out, size_t cap, const char *s, size_t n)
{
    size_t i, o = 0;
    for (i = 0; i < n && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 32 && c < 127 && c != '\'') out[o++] = (char)c;
        else { snprintf(out + o, cap - o, "\\x%02x", c); o += 4; }
    }
    if (i < n && o + 4 <= cap) { memcpy(out + o, "...", 3); o += 3; }
    out[o] = 0;
    return out;
}

VLA_TORCH_DEF size_t vla_torch_dtype_size(int dtype)
{
    switch (dtype) {
    case VLA_TORCH_F32: case VLA_TORCH_I32: return 4;
    case VLA_TORCH_F16: case VLA_TORCH_BF16: case VLA_TORCH_I16: return 2;
    case VLA_TORCH_F64: case VLA_TORCH_I64: return 8;
    case VLA_TORCH_I8: case VLA_TORCH_U8: case VLA_TORCH_BOOL: return 1;
    default: return 0;
    }
}

VLA_TORCH_DEF const char *vla_torch_dtype_name(int dtype)
{
    switch (dtype) {
    case VLA_TORCH_F32: return "F32";
    case VLA_TORCH_F16: return "F16";
    case VLA_TORCH_BF16: return "BF16";
    case VLA_TORCH_F64: return "F64";
    case VLA_TORCH_I8: return "I8";
    case VLA_TORCH_I16: return "I16";
    case VLA_TORCH_I32: return "I32";
    case VLA_TORCH_I64: return "I64";
    case VLA_TORCH_U8: return "U8";
    case VLA_TORCH_BOOL: return "BOOL";
    default: return "?";
    }
}

VLA_TORCH_DEF const char *vla_torch_format_name(int format)
{
    switch (format) {
    case VLA_TORCH_FORMAT_ZIP: return "torch.save zip";
    case VLA_TORCH_FORMAT_TORCHSCRIPT: return "TorchScript zip";
    case VLA_TORCH_FORMAT_LEGACY: return "legacy torch.save";
    case VLA_TORCH_FORMAT_SAFETENSORS: return "safetensors";
    default: return "unknown";
    }
}

/* Grows a malloc'ed array so it holds at least `need` elements (doubling,
 * overflow-checked, new part zeroed).  0 ok, -1 out of memory / too large. */
static int vla_torch__grow(void **arr, size_t *cap, size_t elem, size_t need)
{
    size_t ncap = *cap ? *cap : 64;
    void *np;
    if (need <= *cap) return 0;
    while (ncap < need) {
        if (ncap > ((size_t)-1) / 2) return -1;
        ncap *= 2;
    }
    if (ncap > ((size_t)-1) / elem) return -1;
    np = realloc(*arr, ncap * elem);
    if (!np) return -1;
    memset((unsigned char *)np + *cap * elem, 0, (ncap - *cap) * elem);
    *arr = np;
    *cap = ncap;
    return 0;
}

/* ---- arena: every unpickled value lives here, freed in one go ----------- */

typedef struct vla_torch__chunk {
    struct vla_torch__chunk *next;
    size_t used, cap;
} vla_torch__chunk;

#define VLA_TORCH__CHUNK_HDR ((sizeof(vla_torch__chunk) + 15u) & ~(size_t)15u)

typedef struct vla_torch__arena {
    vla_torch__chunk *head;
} vla_torch__arena;

static void *vla_torch__alloc(vla_torch__arena *a, size_t n)
{
    unsigned char *p;
    if (n > ((size_t)-1) / 2) return NULL;
    n = (n + 15u) & ~(size_t)15u;
    if (!a->head || a->head->cap - a->head->used < n) {
        size_t cap = n > (size_t)65536 ? n : (size_t)65536;
        vla_torch__chunk *c = (vla_torch__chunk *)malloc(VLA_TORCH__CHUNK_HDR + cap);
        if (!c) return NULL;
        c->next = a->head;
        c->used = 0;
        c->cap = cap;
        a->head = c;
    }
    p = (unsigned char *)a->head + VLA_TORCH__CHUNK_HDR + a->head->used;
    a->head->used += n;
    memset(p, 0, n);
    return p;
}

static void vla_torch__arena_free(vla_torch__arena *a)
{
    while (a->head) {
        vla_torch__chunk *n = a->head->next;
        free(a->head);
        a->head = n;
    }
}

/* ---- ZIP central directory ---------------------------------------------- */

typedef struct vla_torch__rec {
    const char *name;
    size_t name_len;
    uint64_t csize, usize, lho; /* compressed/uncompressed size, local header offset */
    unsigned method, flags;
    int dtype;                  /* element type once used as a storage, else -1 */
    int storage_id;             /* dense id once a tensor using it was emitted */
    uint64_t need;              /* legacy stream: most elements a persistent id claims */
    const unsigned char *ldata; /* legacy stream: the storage's elements (usize bytes) */
} vla_torch__rec;

typedef struct vla_torch__zip {
    const unsigned char *buf;
    size_t len;
    vla_torch__rec *recs;
    size_t n;
    size_t *sorted; /* record indices in name order (binary search) */
    int legacy;     /* records are the storages of a legacy stream, named by key */
} vla_torch__zip;

/* Bottom-up merge sort of an index array: O(n log n) whatever the input
 * (no hash flooding, no quadratic qsort); stable.  -1 on malloc failure. */
typedef int (*vla_torch__cmpfn)(const void *ctx, size_t a, size_t b);
static int vla_torch__sort(size_t *idx, size_t n, vla_torch__cmpfn cmp, const void *ctx)
{
    size_t *tmp, width, i;
    if (n < 2) return 0;
    tmp = (size_t *)malloc(n * sizeof *tmp);
    if (!tmp) return -1;
    for (width = 1; width < n; width *= 2) {
        for (i = 0; i < n; i += 2 * width) {
            size_t mid = n - i > width ? i + width : n, hi = n - i > 2 * width ? i + 2 * width : n;
            size_t a = i, b = mid, o = i;
            while (a < mid && b < hi) tmp[o++] = cmp(ctx, idx[b], idx[a]) < 0 ? idx[b++] : idx[a++];
            while (a < mid) tmp[o++] = idx[a++];
            while (b < hi) tmp[o++] = idx[b++];
        }
        memcpy(idx, tmp, n * sizeof *idx);
    }
    free(tmp);
    return 0;
}

/* byte-wise name order: a record name against the concatenation p[0]+p[1]+p[2] */
static int vla_torch__cmp_name3(const char *name, size_t len, const char *const *p, const size_t *pn)
{
    size_t off = 0;
    int i;
    for (i = 0; i < 3; i++) {
        size_t k = pn[i] < len - off ? pn[i] : len - off;
        int c = k ? memcmp(name + off, p[i], k) : 0;
        if (c) return c;
        if (k < pn[i]) return -1; /* name is a proper prefix of the target */
        off += k;
    }
    return off < len ? 1 : 0;
}

static int vla_torch__cmp_recs(const void *ctx, size_t a, size_t b)
{
    const vla_torch__rec *r = (const vla_torch__rec *)ctx;
    const char *p[3];
    size_t pn[3];
    p[0] = r[b].name;
    pn[0] = r[b].name_len;
    p[1] = p[2] = "";
    pn[1] = pn[2] = 0;
    return vla_torch__cmp_name3(r[a].name, r[a].name_len, p, pn);
}

#define VLA_TORCH__NOREC ((size_t)-1)

/* index of the record named a+b+c (pieces, so "<p>" "/data/" "<key>" needs no
 * copy), or VLA_TORCH__NOREC */
static size_t vla_torch__zip_find3(const vla_torch__zip *z, const char *a, size_t an, const char *b, size_t bn,
                                 const char *c, size_t cn)
{
    const char *p[3];
    size_t pn[3], lo = 0, hi = z->n;
    p[0] = a; p[1] = b; p[2] = c;
    pn[0] = an; pn[1] = bn; pn[2] = cn;
    if (!z->sorted) return VLA_TORCH__NOREC;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const vla_torch__rec *r = &z->recs[z->sorted[mid]];
        int d = vla_torch__cmp_name3(r->name, r->name_len, p, pn);
        if (d == 0) return z->sorted[mid];
        if (d < 0) lo = mid + 1;
        else hi = mid;
    }
    return VLA_TORCH__NOREC;
}

/* The name index for lookups (z->sorted); duplicated names are refused.
 * what names the records in messages ("zip: record name"). */
static int vla_torch__zip_index(vla_torch__zip *z, vla_torch__err *e, const char *what)
{
    size_t i;
    char tmp[80];
    z->sorted = (size_t *)malloc((z->n ? z->n : 1) * sizeof *z->sorted);
    if (!z->sorted) return vla_torch__fail(e, VLA_TORCH_ERR_NOMEM, "out of memory (name index)");
    for (i = 0; i < z->n; i++) z->sorted[i] = i;
    if (vla_torch__sort(z->sorted, z->n, vla_torch__cmp_recs, z->recs))
        return vla_torch__fail(e, VLA_TORCH_ERR_NOMEM, "out of memory (name index)");
    for (i = 1; i < z->n; i++)
        if (vla_torch__cmp_recs(z->recs, z->sorted[i - 1], z->sorted[i]) == 0)
            return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "%s '%s' occurs twice", what,
                                   vla_torch__show(tmp, sizeof tmp, z->recs[z->sorted[i]].name,
                                                   z->recs[z->sorted[i]].name_len));
    return 0;
}

static void vla_torch__zip_free(vla_torch__zip *z)
{
    free(z->recs);
    free(z->sorted);
    z->recs = NULL;
    z->sorted = NULL;
    z->n = 0;
}

/* Reads the end records and the whole central directory. */
static int vla_torch__zip_open(vla_torch__zip *z, const unsigned char *buf, size_t len, vla_torch__err *e)
{
    size_t eocd = 0, i, lim, p, cd_end;
    int found = 0;
    uint64_t n_entries, cd_size, cd_off;
    memset(z, 0, sizeof *z);
    z->buf = buf;
    z->len = len;
    if (len < 22) return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "zip: file too short (%zu bytes)", len);

    /* End of central directory: 22 bytes + comment (<= 65535) at the very end.
     * Scan backwards for the signature whose comment length reaches EOF. */
    lim = len - 22 > 65535 ? len - 22 - 65535 : 0;
    for (i = len - 22 + 1; i-- > lim;) {
        if (buf[i] == 'P' && vla_torch__rd32(buf + i) == 0x06054b50u &&
            (size_t)vla_torch__rd16(buf + i + 20) == len - 22 - i) {
            eocd = i;
            found = 1;
            break;
        }
    }
    if (!found)
        return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT,
                               "zip: end-of-central-directory record not found (truncated file?)");
    n_entries = vla_torch__rd16(buf + eocd + 10);
    cd_size = vla_torch__rd32(buf + eocd + 12);
    cd_off = vla_torch__rd32(buf + eocd + 16);
    if (vla_torch__rd16(buf + eocd + 4) != 0 && vla_torch__rd16(buf + eocd + 4) != 0xffff)
        return vla_torch__fail(e, VLA_TORCH_ERR_UNSUPPORTED, "zip: multi-disk archives are not supported");

    /* ZIP64: locator (20 bytes) right before the classic record points at the
     * ZIP64 end record, whose 64-bit counts/sizes/offsets are authoritative. */
    if (eocd >= 20 && vla_torch__rd32(buf + eocd - 20) == 0x07064b50u) {
        uint64_t z64 = vla_torch__rd64(buf + eocd - 20 + 8);
        if (!vla_torch__in(z64, 56, eocd - 20) || vla_torch__rd32(buf + (size_t)z64) != 0x06064b50u)
            return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "zip: bad ZIP64 end-of-central-directory locator");
        n_entries = vla_torch__rd64(buf + (size_t)z64 + 32);
        cd_size = vla_torch__rd64(buf + (size_t)z64 + 40);
        cd_off = vla_torch__rd64(buf + (size_t)z64 + 48);
    }
    if (!vla_torch__in(cd_off, cd_size, len))
        return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT,
                               "zip: central directory (offset %llu, size %llu) lies outside the %zu-byte file",
                               (unsigned long long)cd_off, (unsigned long long)cd_size, len);
    if (n_entries > cd_size / 46)
        return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT,
                               "zip: %llu entries cannot fit a %llu-byte central directory",
                               (unsigned long long)n_entries, (unsigned long long)cd_size);
    if (n_entries == 0) return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "zip: archive has no entries");
    z->recs = (vla_torch__rec *)calloc((size_t)n_entries, sizeof *z->recs);
    if (!z->recs) return vla_torch__fail(e, VLA_TORCH_ERR_NOMEM, "out of memory (zip directory)");
    z->n = (size_t)n_entries;

    p = (size_t)cd_off;
    cd_end = (size_t)(cd_off + cd_size);
    for (i = 0; i < z->n; i++) {
        vla_torch__rec *r = &z->recs[i];
        size_t nl, xl, cl, x, xend;
        if (cd_end - p < 46 || vla_torch__rd32(buf + p) != 0x02014b50u)
            return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "zip: central directory entry %zu is damaged", i);
        nl = vla_torch__rd16(buf + p + 28);
        xl = vla_torch__rd16(buf + p + 30);
        cl = vla_torch__rd16(buf + p + 32);
        if (cd_end - p - 46 < nl + xl + cl)
            return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "zip: central directory entry %zu overruns it", i);
        r->flags = vla_torch__rd16(buf + p + 8);
        r->method = vla_torch__rd16(buf + p + 10);
        r->csize = vla_torch__rd32(buf + p + 20);
        r->usize = vla_torch__rd32(buf + p + 24);
        r->lho = vla_torch__rd32(buf + p + 42);
        r->name = (const char *)buf + p + 46;
        r->name_len = nl;
        r->dtype = -1;
        r->storage_id = -1;
        /* ZIP64 extra field 0x0001: 8-byte values for exactly those of
         * usize, csize, local offset (in this order) that are saturated */
        x = p + 46 + nl;
        xend = x + xl;
        while (xend - x >= 4) {
            unsigned id = vla_torch__rd16(buf + x), sz = vla_torch__rd16(buf + x + 2);
            if (xend - x - 4 < sz)
                return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "zip: extra field of entry %zu overruns it", i);
            if (id == 0x0001) {
                size_t q = x + 4, qe = x + 4 + sz;
                if (r->usize == 0xffffffffu) {
                    if (qe - q < 8) goto bad64;
                    r->usize = vla_torch__rd64(buf + q);
                    q += 8;
                }
                if (r->csize == 0xffffffffu) {
                    if (qe - q < 8) goto bad64;
                    r->csize = vla_torch__rd64(buf + q);
                    q += 8;
                }
                if (r->lho == 0xffffffffu) {
                    if (qe - q < 8) goto bad64;
                    r->lho = vla_torch__rd64(buf + q);
                }
            }
            x += 4 + sz;
        }
        p += 46 + nl + xl + cl;
        continue;
    bad64:
        return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "zip: ZIP64 extra field of entry %zu is too short", i);
    }

    return vla_torch__zip_index(z, e, "zip: record name");
}

/* Locates the bytes of a STORED record via its local header. */
static int vla_torch__zip_data(const vla_torch__zip *z, size_t idx, const unsigned char **data, uint64_t *size,
                               vla_torch__err *e)
{
    const vla_torch__rec *r = &z->recs[idx];
    char tmp[80];
    uint64_t off;
    size_t lho, nl, xl;
    vla_torch__show(tmp, sizeof tmp, r->name, r->name_len);
    if (r->flags & 1u)
        return vla_torch__fail(e, VLA_TORCH_ERR_UNSUPPORTED, "zip: record '%s' is encrypted", tmp);
    if (r->method != 0)
        return vla_torch__fail(e, VLA_TORCH_ERR_UNSUPPORTED,
                               "zip: record '%s' is compressed (method %u); only stored records are supported", tmp,
                               r->method);
    if (r->csize != r->usize)
        return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "zip: stored record '%s' has csize %llu != size %llu", tmp,
                               (unsigned long long)r->csize, (unsigned long long)r->usize);
    if (!vla_torch__in(r->lho, 30, z->len) || vla_torch__rd32(z->buf + (size_t)r->lho) != 0x04034b50u)
        return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "zip: local header of '%s' is missing or damaged", tmp);
    lho = (size_t)r->lho;
    nl = vla_torch__rd16(z->buf + lho + 26);
    xl = vla_torch__rd16(z->buf + lho + 28);
    off = (uint64_t)lho + 30 + nl + xl;
    if (!vla_torch__in(lho + 30, nl, z->len) || nl != r->name_len || memcmp(z->buf + lho + 30, r->name, nl) != 0)
        return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "zip: local header name of '%s' differs from the directory",
                               tmp);
    if (!vla_torch__in(off, r->csize, z->len))
        return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT,
                               "zip: data of '%s' (%llu bytes at %llu) runs past the end of the file", tmp,
                               (unsigned long long)r->csize, (unsigned long long)off);
    *data = z->buf + (size_t)off;
    *size = r->csize;
    return 0;
}

/* The folder holding data.pkl: exactly one record "<p>/data.pkl", <p> without '/'. */
static int vla_torch__zip_prefix(const vla_torch__zip *z, size_t *pkl, size_t *plen, vla_torch__err *e)
{
    size_t i, count = 0;
    for (i = 0; i < z->n; i++) {
        const vla_torch__rec *r = &z->recs[i];
        size_t n = r->name_len;
        if (n > 9 && memcmp(r->name + n - 9, "/data.pkl", 9) == 0 && !memchr(r->name, '/', n - 9)) {
            if (count++ == 0) {
                *pkl = i;
                *plen = n - 9;
            }
        }
    }
    if (count == 0)
        return vla_torch__fail(e, VLA_TORCH_ERR_FORMAT,
                               "zip archive has no '<folder>/data.pkl' record: not a PyTorch checkpoint");
    if (count > 1)
        return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "zip archive has %zu '<folder>/data.pkl' records", count);
    return 0;
}

static int vla_torch__zip_is_torchscript(const vla_torch__zip *z, const char *pre, size_t plen)
{
    size_t i;
    if (vla_torch__zip_find3(z, pre, plen, "/constants.pkl", 14, "", 0) != VLA_TORCH__NOREC) return 1;
    for (i = 0; i < z->n; i++) {
        const vla_torch__rec *r = &z->recs[i];
        if (r->name_len > plen + 6 && memcmp(r->name, pre, plen) == 0 && memcmp(r->name + plen, "/code/", 6) == 0)
            return 1;
    }
    return 0;
}

/* ---- unpickled values ---------------------------------------------------- */

enum {
    VLA_TORCH__NONE, VLA_TORCH__BOOL, VLA_TORCH__INT, VLA_TORCH__FLOAT, VLA_TORCH__STR, VLA_TORCH__BYTES,
    VLA_TORCH__TUPLE, VLA_TORCH__LIST, VLA_TORCH__DICT, VLA_TORCH__GLOBAL, VLA_TORCH__OBJECT,
    VLA_TORCH__STORAGE, VLA_TORCH__TENSOR
};

/* what an allowed GLOBAL stands for */
enum {
    VLA_TORCH__G_TENSOR_V2 = 1, VLA_TORCH__G_PARAM, VLA_TORCH__G_PARAM_STATE, VLA_TORCH__G_ODICT,
    VLA_TORCH__G_STORAGE, VLA_TORCH__G_IDENTITY1, VLA_TORCH__G_IDENTITY2, VLA_TORCH__G_CLASS
};

typedef struct vla_torch__val vla_torch__val;

typedef struct vla_torch__tinfo {
    vla_torch__val *storage;
    int64_t offset, numel;
    int ndim, requires_grad;
    int64_t size[VLA_TORCH_MAX_DIMS], stride[VLA_TORCH_MAX_DIMS];
    int contiguous;
    void *copy; /* contiguous copy made for the first name, shared by later names */
} vla_torch__tinfo;

struct vla_torch__val {
    int type;
    union {
        int64_t i;   /* BOOL, INT */
        double f;    /* FLOAT */
        struct {     /* STR, BYTES: points into the pickle */
            const char *p;
            size_t n;
        } s;
        struct {     /* TUPLE, LIST, DICT (DICT: v[2k] key, v[2k+1] value) */
            vla_torch__val **v;
            size_t n, cap;
            int ordered;
        } seq;
        struct {     /* GLOBAL */
            int kind, dtype;
            const char *mod, *name;
            size_t mod_n, name_n;
        } g;
        struct {     /* OBJECT (TorchScript module) */
            vla_torch__val *cls, *state;
        } o;
        struct {     /* STORAGE */
            size_t rec;
            int dtype;
            uint64_t numel;
            const unsigned char *data;
        } st;
        vla_torch__tinfo *t; /* TENSOR */
    } u;
};

typedef struct vla_torch__pk {
    vla_torch__arena arena;
    vla_torch__err *e;
    vla_torch__zip *zip;
    const char *pre;
    size_t plen;
    const unsigned char *p; /* the pickle */
    size_t n, pos, op_pos;
    unsigned op;
    vla_torch__val **stack;
    size_t sp, scap;
    size_t *marks; /* stack heights saved by MARK */
    size_t mp, mcap;
    vla_torch__val **memo;
    size_t memo_cap, memo_count;
    size_t nvals;
    vla_torch__val *none, *vtrue, *vfalse, *empty_tuple;
} vla_torch__pk;

static const char *vla_torch__opname(unsigned op)
{
    switch (op) {
    case '(': return "MARK"; case '.': return "STOP"; case '0': return "POP"; case '1': return "POP_MARK";
    case '2': return "DUP"; case 'F': return "FLOAT"; case 'I': return "INT"; case 'J': return "BININT";
    case 'K': return "BININT1"; case 'L': return "LONG"; case 'M': return "BININT2"; case 'N': return "NONE";
    case 'P': return "PERSID"; case 'Q': return "BINPERSID"; case 'R': return "REDUCE"; case 'S': return "STRING";
    case 'T': return "BINSTRING"; case 'U': return "SHORT_BINSTRING"; case 'V': return "UNICODE";
    case 'X': return "BINUNICODE"; case 'a': return "APPEND"; case 'b': return "BUILD"; case 'c': return "GLOBAL";
    case 'd': return "DICT"; case '}': return "EMPTY_DICT"; case 'e': return "APPENDS"; case 'g': return "GET";
    case 'h': return "BINGET"; case 'i': return "INST"; case 'j': return "LONG_BINGET"; case 'l': return "LIST";
    case ']': return "EMPTY_LIST"; case 'o': return "OBJ"; case 'p': return "PUT"; case 'q': return "BINPUT";
    case 'r': return "LONG_BINPUT"; case 's': return "SETITEM"; case 't': return "TUPLE"; case ')': return "EMPTY_TUPLE";
    case 'u': return "SETITEMS"; case 'G': return "BINFLOAT"; case 0x80: return "PROTO"; case 0x81: return "NEWOBJ";
    case 0x82: return "EXT1"; case 0x83: return "EXT2"; case 0x84: return "EXT4"; case 0x85: return "TUPLE1";
    case 0x86: return "TUPLE2"; case 0x87: return "TUPLE3"; case 0x88: return "NEWTRUE"; case 0x89: return "NEWFALSE";
    case 0x8a: return "LONG1"; case 0x8b: return "LONG4"; case 'B': return "BINBYTES"; case 'C': return "SHORT_BINBYTES";
    case 0x8c: return "SHORT_BINUNICODE"; case 0x8d: return "BINUNICODE8"; case 0x8e: return "BINBYTES8";
    case 0x8f: return "EMPTY_SET"; case 0x90: return "ADDITEMS"; case 0x91: return "FROZENSET";
    case 0x92: return "NEWOBJ_EX"; case 0x93: return "STACK_GLOBAL"; case 0x94: return "MEMOIZE";
    case 0x95: return "FRAME"; case 0x96: return "BYTEARRAY8"; case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return "unknown opcode";
    }
}

/* error at the current opcode; the message names opcode and offset */
static int vla_torch__pfail(vla_torch__pk *k, int code, const char *what)
{
    return vla_torch__fail(k->e, code, "data.pkl offset %zu, opcode 0x%02x %s: %s", k->op_pos, k->op,
                           vla_torch__opname(k->op), what);
}

static vla_torch__val *vla_torch__new(vla_torch__pk *k, int type)
{
    vla_torch__val *v = (vla_torch__val *)vla_torch__alloc(&k->arena, sizeof *v);
    if (!v) {
        vla_torch__fail(k->e, VLA_TORCH_ERR_NOMEM, "out of memory (unpickling)");
        return NULL;
    }
    v->type = type;
    k->nvals++;
    return v;
}

/* grows a TUPLE/LIST/DICT item array to hold `need` slots (arena, doubling) */
static int vla_torch__reserve(vla_torch__pk *k, vla_torch__val *c, size_t need)
{
    vla_torch__val **nv;
    size_t cap;
    if (need <= c->u.seq.cap) return 0;
    cap = c->u.seq.cap ? c->u.seq.cap : 4;
    while (cap < need) {
        if (cap > ((size_t)-1) / (4 * sizeof(void *))) return vla_torch__pfail(k, VLA_TORCH_ERR_NOMEM, "container too large");
        cap *= 2;
    }
    nv = (vla_torch__val **)vla_torch__alloc(&k->arena, cap * sizeof *nv);
    if (!nv) return vla_torch__pfail(k, VLA_TORCH_ERR_NOMEM, "out of memory");
    if (c->u.seq.n) memcpy(nv, c->u.seq.v, c->u.seq.n * sizeof *nv);
    c->u.seq.v = nv;
    c->u.seq.cap = cap;
    return 0;
}

static int vla_torch__push(vla_torch__pk *k, vla_torch__val *v)
{
    if (!v) return k->e->code ? k->e->code : vla_torch__pfail(k, VLA_TORCH_ERR_NOMEM, "out of memory");
    if (k->sp == k->scap) {
        void *arr = k->stack;
        int r = vla_torch__grow(&arr, &k->scap, sizeof *k->stack, k->sp + 1);
        k->stack = (vla_torch__val **)arr;
        if (r) return vla_torch__pfail(k, VLA_TORCH_ERR_NOMEM, "out of memory (stack)");
    }
    k->stack[k->sp++] = v;
    return 0;
}

/* lowest stack slot usable by ordinary opcodes (everything above the last MARK) */
static size_t vla_torch__floor(const vla_torch__pk *k) { return k->mp ? k->marks[k->mp - 1] : 0; }

static vla_torch__val *vla_torch__pop(vla_torch__pk *k)
{
    if (k->sp <= vla_torch__floor(k)) {
        vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "stack underflow");
        return NULL;
    }
    return k->stack[--k->sp];
}

static vla_torch__val *vla_torch__top(vla_torch__pk *k)
{
    if (k->sp <= vla_torch__floor(k)) {
        vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "stack underflow");
        return NULL;
    }
    return k->stack[k->sp - 1];
}

/* removes the last MARK; the items above it are stack[*start .. sp) */
static int vla_torch__pop_mark(vla_torch__pk *k, size_t *start)
{
    if (!k->mp) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "no MARK on the stack");
    *start = k->marks[--k->mp];
    return 0;
}

/* new TUPLE/LIST from stack[start..sp), which is then popped */
static vla_torch__val *vla_torch__collect(vla_torch__pk *k, int type, size_t start)
{
    size_t n = k->sp - start;
    vla_torch__val *v = vla_torch__new(k, type);
    if (!v || vla_torch__reserve(k, v, n)) return NULL;
    if (n) memcpy(v->u.seq.v, k->stack + start, n * sizeof(vla_torch__val *));
    v->u.seq.n = n;
    k->sp = start;
    return v;
}

static int vla_torch__need(vla_torch__pk *k, uint64_t n)
{
    if (n > (uint64_t)(k->n - k->pos)) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "argument runs past the end of the pickle");
    return 0;
}

/* a string/bytes value of n bytes at the read position */
static int vla_torch__push_str(vla_torch__pk *k, int type, uint64_t n)
{
    vla_torch__val *v;
    if (vla_torch__need(k, n)) return k->e->code;
    v = vla_torch__new(k, type);
    if (!v) return k->e->code;
    v->u.s.p = (const char *)k->p + k->pos;
    v->u.s.n = (size_t)n;
    k->pos += (size_t)n;
    return vla_torch__push(k, v);
}

static int vla_torch__push_int(vla_torch__pk *k, int64_t i)
{
    vla_torch__val *v = vla_torch__new(k, VLA_TORCH__INT);
    if (!v) return k->e->code;
    v->u.i = i;
    return vla_torch__push(k, v);
}

static int vla_torch__memo_put(vla_torch__pk *k, uint64_t id)
{
    vla_torch__val *v = vla_torch__top(k);
    if (!v) return k->e->code;
    /* ids are handed out sequentially by picklers; each put costs >= 1 byte */
    if (id > (uint64_t)k->n + 16) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "memo id is implausibly large");
    if (id >= k->memo_cap) {
        void *arr = k->memo;
        int r = vla_torch__grow(&arr, &k->memo_cap, sizeof *k->memo, (size_t)id + 1);
        k->memo = (vla_torch__val **)arr;
        if (r) return vla_torch__pfail(k, VLA_TORCH_ERR_NOMEM, "out of memory (memo)");
    }
    if (!k->memo[id]) k->memo_count++;
    k->memo[id] = v;
    return 0;
}

static int vla_torch__memo_get(vla_torch__pk *k, uint64_t id)
{
    char msg[64];
    if (id >= k->memo_cap || !k->memo[id]) {
        snprintf(msg, sizeof msg, "memo id %llu was never stored", (unsigned long long)id);
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, msg);
    }
    return vla_torch__push(k, k->memo[id]);
}

/* ---- the GLOBAL allowlist ----------------------------------------------- */

static const struct {
    const char *name;
    int dtype;
} vla_torch__storages[] = {
    {"FloatStorage", VLA_TORCH_F32}, {"HalfStorage", VLA_TORCH_F16},   {"BFloat16Storage", VLA_TORCH_BF16},
    {"DoubleStorage", VLA_TORCH_F64}, {"LongStorage", VLA_TORCH_I64},  {"IntStorage", VLA_TORCH_I32},
    {"ShortStorage", VLA_TORCH_I16}, {"CharStorage", VLA_TORCH_I8},    {"ByteStorage", VLA_TORCH_U8},
    {"BoolStorage", VLA_TORCH_BOOL}, {"UntypedStorage", VLA_TORCH_U8},
};

static int vla_torch__global(vla_torch__pk *k, const char *mod, size_t mn, const char *name, size_t nn)
{
    char a[100], b[100], msg[300];
    vla_torch__val *v;
    int kind = 0, dtype = -1;
    size_t i;
    if (vla_torch__eq(mod, mn, "torch._utils")) {
        if (vla_torch__eq(name, nn, "_rebuild_tensor_v2")) kind = VLA_TORCH__G_TENSOR_V2;
        else if (vla_torch__eq(name, nn, "_rebuild_parameter")) kind = VLA_TORCH__G_PARAM;
        else if (vla_torch__eq(name, nn, "_rebuild_parameter_with_state")) kind = VLA_TORCH__G_PARAM_STATE;
    } else if (vla_torch__eq(mod, mn, "collections")) {
        if (vla_torch__eq(name, nn, "OrderedDict")) kind = VLA_TORCH__G_ODICT;
    } else if (vla_torch__eq(mod, mn, "torch") || vla_torch__eq(mod, mn, "torch.cuda")) {
        for (i = 0; i < sizeof vla_torch__storages / sizeof vla_torch__storages[0]; i++)
            if (vla_torch__eq(name, nn, vla_torch__storages[i].name)) {
                kind = VLA_TORCH__G_STORAGE;
                dtype = vla_torch__storages[i].dtype;
            }
        if (!kind && nn > 7 && memcmp(name + nn - 7, "Storage", 7) == 0) {
            snprintf(msg, sizeof msg, "storage type %s.%s is not supported (complex/quantized/float8)",
                     vla_torch__show(a, sizeof a, mod, mn), vla_torch__show(b, sizeof b, name, nn));
            return vla_torch__pfail(k, VLA_TORCH_ERR_UNSUPPORTED, msg);
        }
    } else if (vla_torch__eq(mod, mn, "torch.jit._pickle")) {
        /* TorchScript's typed-list builders and type tags return their argument */
        if (vla_torch__eq(name, nn, "build_intlist") || vla_torch__eq(name, nn, "build_doublelist") ||
            vla_torch__eq(name, nn, "build_boollist") || vla_torch__eq(name, nn, "build_tensorlist"))
            kind = VLA_TORCH__G_IDENTITY1;
        else if (vla_torch__eq(name, nn, "restore_type_tag"))
            kind = VLA_TORCH__G_IDENTITY2;
    } else if ((mn == 9 || (mn > 9 && mod[9] == '.')) && memcmp(mod, "__torch__", 9) == 0 && nn > 0) {
        kind = VLA_TORCH__G_CLASS; /* TorchScript class: only ever an inert record */
    }
    if (!kind) {
        snprintf(msg, sizeof msg,
                 "GLOBAL '%s.%s' is not allowed (only torch tensor/storage rebuilders, collections.OrderedDict and "
                 "TorchScript __torch__.* classes are accepted; nothing is ever executed)",
                 vla_torch__show(a, sizeof a, mod, mn), vla_torch__show(b, sizeof b, name, nn));
        return vla_torch__pfail(k, VLA_TORCH_ERR_UNSUPPORTED, msg);
    }
    v = vla_torch__new(k, VLA_TORCH__GLOBAL);
    if (!v) return k->e->code;
    v->u.g.kind = kind;
    v->u.g.dtype = dtype;
    v->u.g.mod = mod;
    v->u.g.mod_n = mn;
    v->u.g.name = name;
    v->u.g.name_n = nn;
    return vla_torch__push(k, v);
}

/* ---- persistent ids: ('storage', torch.<T>Storage, key, location, numel[, None]) ---- */

static int vla_torch__persid(vla_torch__pk *k, vla_torch__val *pid)
{
    vla_torch__val **f, *v;
    uint64_t nbytes, size;
    const unsigned char *data;
    size_t rec;
    char key[80], msg[300];
    int dtype;
    if (pid->type != VLA_TORCH__TUPLE || (pid->u.seq.n != 5 && pid->u.seq.n != 6))
        return vla_torch__pfail(k, VLA_TORCH_ERR_UNSUPPORTED, "persistent id is not a 5-tuple ('storage', ...)");
    f = pid->u.seq.v;
    if (f[0]->type != VLA_TORCH__STR || !vla_torch__eq(f[0]->u.s.p, f[0]->u.s.n, "storage"))
        return vla_torch__pfail(k, VLA_TORCH_ERR_UNSUPPORTED, "persistent id does not start with 'storage'");
    if (f[1]->type != VLA_TORCH__GLOBAL || f[1]->u.g.kind != VLA_TORCH__G_STORAGE)
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "persistent id: second field is not a torch storage class");
    if (f[2]->type != VLA_TORCH__STR || f[3]->type != VLA_TORCH__STR)
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "persistent id: storage key / location are not strings");
    if (f[4]->type != VLA_TORCH__INT || f[4]->u.i < 0)
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "persistent id: element count is not a non-negative int");
    if (pid->u.seq.n == 6 && f[5]->type != VLA_TORCH__NONE)
        return vla_torch__pfail(k, VLA_TORCH_ERR_UNSUPPORTED, "persistent id: storage views are not supported");
    dtype = f[1]->u.g.dtype;
    vla_torch__show(key, sizeof key, f[2]->u.s.p, f[2]->u.s.n);
    /* torch's keys are small decimal numbers; a bound keeps lookups cheap */
    if (f[2]->u.s.n > VLA_TORCH__MAX_KEY)
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "persistent id: storage key longer than 256 bytes");
    if (!k->zip || k->zip->legacy) { /* legacy stream: the elements come after the pickles */
        rec = 0;
        data = NULL;
        if (k->zip) { /* second pass: the key must be in the storage list */
            vla_torch__rec *r;
            rec = vla_torch__zip_find3(k->zip, "", 0, "", 0, f[2]->u.s.p, f[2]->u.s.n);
            if (rec == VLA_TORCH__NOREC) {
                snprintf(msg, sizeof msg, "storage key '%s' is not in the stream's storage list", key);
                return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, msg);
            }
            r = &k->zip->recs[rec];
            if (r->dtype >= 0 && r->dtype != dtype) {
                snprintf(msg, sizeof msg, "storage '%s' is used with two element types", key);
                return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, msg);
            }
            r->dtype = dtype;
            if ((uint64_t)f[4]->u.i > r->need) r->need = (uint64_t)f[4]->u.i; /* checked against the stream */
        }
        goto make;
    }
    rec = vla_torch__zip_find3(k->zip, k->pre, k->plen, "/data/", 6, f[2]->u.s.p, f[2]->u.s.n);
    if (rec == VLA_TORCH__NOREC) {
        char pre[80];
        snprintf(msg, sizeof msg, "storage record '%s/data/%s' does not exist",
                 vla_torch__show(pre, sizeof pre, k->pre, k->plen), key);
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, msg);
    }
    if (vla_torch__zip_data(k->zip, rec, &data, &size, k->e)) return k->e->code;
    if (!vla_torch__mul64((uint64_t)f[4]->u.i, vla_torch_dtype_size(dtype), &nbytes) || nbytes > size) {
        snprintf(msg, sizeof msg, "storage '%s': %lld elements of %s do not fit its %llu-byte record", key,
                 (long long)f[4]->u.i, vla_torch_dtype_name(dtype), (unsigned long long)size);
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, msg);
    }
    /* one record, one element type (torch refuses to save anything else) */
    if (k->zip->recs[rec].dtype >= 0 && k->zip->recs[rec].dtype != dtype) {
        snprintf(msg, sizeof msg, "storage '%s' is used with two element types", key);
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, msg);
    }
    k->zip->recs[rec].dtype = dtype;
make:
    v = vla_torch__new(k, VLA_TORCH__STORAGE);
    if (!v) return k->e->code;
    v->u.st.rec = rec;
    v->u.st.dtype = dtype;
    v->u.st.numel = (uint64_t)f[4]->u.i;
    v->u.st.data = data;
    return vla_torch__push(k, v);
}

/* ---- _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]) ---- */

static int vla_torch__int_seq(vla_torch__val *s, int64_t *out, int *n)
{
    size_t i;
    if (s->type != VLA_TORCH__TUPLE && s->type != VLA_TORCH__LIST) return 0;
    if (s->u.seq.n > VLA_TORCH_MAX_DIMS) return 0;
    for (i = 0; i < s->u.seq.n; i++) {
        if (s->u.seq.v[i]->type != VLA_TORCH__INT || s->u.seq.v[i]->u.i < 0) return 0;
        out[i] = s->u.seq.v[i]->u.i;
    }
    *n = (int)s->u.seq.n;
    return 1;
}

static int vla_torch__tensor(vla_torch__pk *k, vla_torch__val *args)
{
    vla_torch__val **a = args->u.seq.v, *v;
    vla_torch__tinfo *t;
    int nd = 0, ns = 0, i;
    uint64_t numel = 1, maxi, term, expect = 1;
    if (args->u.seq.n != 6 && args->u.seq.n != 7)
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "_rebuild_tensor_v2 expects 6 or 7 arguments");
    if (a[0]->type != VLA_TORCH__STORAGE)
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "_rebuild_tensor_v2: first argument is not a storage");
    if (a[1]->type != VLA_TORCH__INT || a[1]->u.i < 0)
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "_rebuild_tensor_v2: bad storage offset");
    if (a[4]->type != VLA_TORCH__BOOL && a[4]->type != VLA_TORCH__INT)
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "_rebuild_tensor_v2: requires_grad is not a bool");
    t = (vla_torch__tinfo *)vla_torch__alloc(&k->arena, sizeof *t);
    if (!t) return vla_torch__pfail(k, VLA_TORCH_ERR_NOMEM, "out of memory");
    if (!vla_torch__int_seq(a[2], t->size, &nd) || !vla_torch__int_seq(a[3], t->stride, &ns) || nd != ns)
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT,
                                "_rebuild_tensor_v2: size/stride are not equal-length tuples of <= 8 non-negative ints");
    t->storage = a[0];
    t->offset = a[1]->u.i;
    t->ndim = nd;
    t->requires_grad = a[4]->u.i != 0;
    /* numel, highest element index used, contiguity - all overflow-checked */
    maxi = (uint64_t)t->offset;
    t->contiguous = 1;
    for (i = 0; i < nd; i++)
        if (!vla_torch__mul64(numel, (uint64_t)t->size[i], &numel))
            return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "_rebuild_tensor_v2: element count overflows");
    if (numel > (uint64_t)INT64_MAX)
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "_rebuild_tensor_v2: element count overflows");
    for (i = nd - 1; i >= 0 && numel; i--) {
        if (!vla_torch__mul64((uint64_t)(t->size[i] - 1), (uint64_t)t->stride[i], &term) ||
            !vla_torch__add64(maxi, term, &maxi))
            return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "_rebuild_tensor_v2: strides overflow");
        if (t->size[i] != 1 && (uint64_t)t->stride[i] != expect) t->contiguous = 0;
        expect *= (uint64_t)t->size[i]; /* <= numel, cannot overflow */
    }
    if (numel && maxi >= a[0]->u.st.numel) {
        char msg[200];
        snprintf(msg, sizeof msg, "_rebuild_tensor_v2: view reaches element %llu of a %llu-element storage",
                 (unsigned long long)maxi, (unsigned long long)a[0]->u.st.numel);
        return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, msg);
    }
    t->numel = (int64_t)numel;
    v = vla_torch__new(k, VLA_TORCH__TENSOR);
    if (!v) return k->e->code;
    v->u.t = t;
    return vla_torch__push(k, v);
}

/* REDUCE: call an allowed GLOBAL on an argument tuple */
static int vla_torch__reduce(vla_torch__pk *k, vla_torch__val *fn, vla_torch__val *args)
{
    size_t n;
    if (fn->type != VLA_TORCH__GLOBAL) return vla_torch__pfail(k, VLA_TORCH_ERR_UNSUPPORTED, "callable is not a GLOBAL");
    if (args->type != VLA_TORCH__TUPLE) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "arguments are not a tuple");
    n = args->u.seq.n;
    switch (fn->u.g.kind) {
    case VLA_TORCH__G_TENSOR_V2:
        return vla_torch__tensor(k, args);
    case VLA_TORCH__G_PARAM:       /* _rebuild_parameter(data, requires_grad, hooks) */
    case VLA_TORCH__G_PARAM_STATE: /* ... and a state that only matters to Python */
        if (n != (fn->u.g.kind == VLA_TORCH__G_PARAM ? 3u : 4u) || args->u.seq.v[0]->type != VLA_TORCH__TENSOR)
            return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "_rebuild_parameter: bad arguments");
        return vla_torch__push(k, args->u.seq.v[0]);
    case VLA_TORCH__G_ODICT: {
        vla_torch__val *d;
        if (n != 0) return vla_torch__pfail(k, VLA_TORCH_ERR_UNSUPPORTED, "OrderedDict() with arguments");
        d = vla_torch__new(k, VLA_TORCH__DICT);
        if (d) d->u.seq.ordered = 1;
        return vla_torch__push(k, d);
    }
    case VLA_TORCH__G_IDENTITY1:
    case VLA_TORCH__G_IDENTITY2:
        if (n != (fn->u.g.kind == VLA_TORCH__G_IDENTITY1 ? 1u : 2u))
            return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "torch.jit._pickle helper: bad arguments");
        return vla_torch__push(k, args->u.seq.v[0]);
    default:
        return vla_torch__pfail(k, VLA_TORCH_ERR_UNSUPPORTED, "this GLOBAL cannot be called with REDUCE");
    }
}

/* ---- the unpickler loop --------------------------------------------------- */

static int vla_torch__unpickle(vla_torch__pk *k, vla_torch__val **root)
{
    const unsigned char *p = k->p;
    vla_torch__val *a, *b, *c;
    size_t start, i;
    uint64_t u;
    k->none = vla_torch__new(k, VLA_TORCH__NONE);
    k->vtrue = vla_torch__new(k, VLA_TORCH__BOOL);
    k->vfalse = vla_torch__new(k, VLA_TORCH__BOOL);
    k->empty_tuple = vla_torch__new(k, VLA_TORCH__TUPLE);
    if (!k->none || !k->vtrue || !k->vfalse || !k->empty_tuple) return k->e->code;
    k->vtrue->u.i = 1;
    while (k->pos < k->n) {
        k->op_pos = k->pos;
        k->op = p[k->pos++];
        switch (k->op) {
        /* -- framing and control ------------------------------------------ */
        case 0x80: /* PROTO */
            if (vla_torch__need(k, 1)) return k->e->code;
            if (p[k->pos] > 5) return vla_torch__pfail(k, VLA_TORCH_ERR_UNSUPPORTED, "pickle protocol > 5");
            k->pos++;
            break;
        case 0x95: /* FRAME: an 8-byte length prefix; framing is transparent */
            if (vla_torch__need(k, 8)) return k->e->code;
            u = vla_torch__rd64(p + k->pos);
            k->pos += 8;
            if (vla_torch__need(k, u)) return k->e->code;
            break;
        case '.': /* STOP: exactly one finished value may remain */
            if (k->mp || k->sp != 1)
                return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "STOP with open MARKs or more than one value on the stack");
            *root = k->stack[0];
            return 0;
        /* -- stack manipulation ------------------------------------------- */
        case '(': /* MARK */
            if (k->mp == k->mcap) {
                void *arr = k->marks;
                int r = vla_torch__grow(&arr, &k->mcap, sizeof *k->marks, k->mp + 1);
                k->marks = (size_t *)arr;
                if (r) return vla_torch__pfail(k, VLA_TORCH_ERR_NOMEM, "out of memory (marks)");
            }
            k->marks[k->mp++] = k->sp;
            break;
        case '0': /* POP (pops the MARK itself if nothing is above it) */
            if (k->sp > vla_torch__floor(k)) k->sp--;
            else if (vla_torch__pop_mark(k, &start)) return k->e->code;
            break;
        case '1': /* POP_MARK */
            if (vla_torch__pop_mark(k, &start)) return k->e->code;
            k->sp = start;
            break;
        case '2': /* DUP */
            if (!(a = vla_torch__top(k)) || vla_torch__push(k, a)) return k->e->code;
            break;
        /* -- scalars ---------------------------------------------------------- */
        case 'N': if (vla_torch__push(k, k->none)) return k->e->code; break;
        case 0x88: if (vla_torch__push(k, k->vtrue)) return k->e->code; break;
        case 0x89: if (vla_torch__push(k, k->vfalse)) return k->e->code; break;
        case 'J': /* BININT: signed 32-bit */
            if (vla_torch__need(k, 4)) return k->e->code;
            u = vla_torch__rd32(p + k->pos);
            k->pos += 4;
            if (vla_torch__push_int(k, (int64_t)(int32_t)(uint32_t)u)) return k->e->code;
            break;
        case 'K': /* BININT1 */
            if (vla_torch__need(k, 1)) return k->e->code;
            if (vla_torch__push_int(k, p[k->pos++])) return k->e->code;
            break;
        case 'M': /* BININT2 */
            if (vla_torch__need(k, 2)) return k->e->code;
            if (vla_torch__push_int(k, (int64_t)vla_torch__rd16(p + k->pos))) return k->e->code;
            k->pos += 2;
            break;
        case 0x8a: /* LONG1 / LONG4: little-endian two's complement, we keep <= 8 bytes */
        case 0x8b: {
            uint64_t nb;
            int64_t val = 0;
            if (k->op == 0x8a) {
                if (vla_torch__need(k, 1)) return k->e->code;
                nb = p[k->pos++];
            } else {
                if (vla_torch__need(k, 4)) return k->e->code;
                nb = vla_torch__rd32(p + k->pos);
                k->pos += 4;
            }
            if (vla_torch__need(k, nb)) return k->e->code;
            if (nb > 8) return vla_torch__pfail(k, VLA_TORCH_ERR_UNSUPPORTED, "integer wider than 64 bits");
            if (nb) {
                uint64_t uv = 0;
                for (i = 0; i < nb; i++) uv |= (uint64_t)p[k->pos + i] << (8 * i);
                if (nb < 8 && (p[k->pos + nb - 1] & 0x80)) uv |= ~(uint64_t)0 << (8 * nb); /* sign-extend */
                memcpy(&val, &uv, sizeof val);
            }
            k->pos += (size_t)nb;
            if (vla_torch__push_int(k, val)) return k->e->code;
            break;
        }
        case 'G': { /* BINFLOAT: big-endian IEEE double */
            double d;
            vla_torch__val *v;
            if (vla_torch__need(k, 8)) return k->e->code;
            for (u = 0, i = 0; i < 8; i++) u = (u << 8) | p[k->pos + i];
            k->pos += 8;
            memcpy(&d, &u, sizeof d);
            if (!(v = vla_torch__new(k, VLA_TORCH__FLOAT))) return k->e->code;
            v->u.f = d;
            if (vla_torch__push(k, v)) return k->e->code;
            break;
        }
        /* -- strings and bytes (values point into the pickle, no copy) ------- */
        case 'X': case 'B': case 'T': /* BINUNICODE, BINBYTES, BINSTRING: 32-bit length */
            if (vla_torch__need(k, 4)) return k->e->code;
            u = vla_torch__rd32(p + k->pos);
            k->pos += 4;
            if (k->op == 'T' && (u & 0x80000000u)) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "negative length");
            if (vla_torch__push_str(k, k->op == 'B' ? VLA_TORCH__BYTES : VLA_TORCH__STR, u)) return k->e->code;
            break;
        case 0x8c: case 'C': case 'U': /* SHORT_BINUNICODE, SHORT_BINBYTES, SHORT_BINSTRING */
            if (vla_torch__need(k, 1)) return k->e->code;
            u = p[k->pos++];
            if (vla_torch__push_str(k, k->op == 'C' ? VLA_TORCH__BYTES : VLA_TORCH__STR, u)) return k->e->code;
            break;
        case 0x8d: case 0x8e: /* BINUNICODE8, BINBYTES8 */
            if (vla_torch__need(k, 8)) return k->e->code;
            u = vla_torch__rd64(p + k->pos);
            k->pos += 8;
            if (vla_torch__push_str(k, k->op == 0x8e ? VLA_TORCH__BYTES : VLA_TORCH__STR, u)) return k->e->code;
            break;
        /* -- tuples -------------------------------------------------------------- */
        case ')': if (vla_torch__push(k, k->empty_tuple)) return k->e->code; break;
        case 't': /* TUPLE: everything above the last MARK */
            if (vla_torch__pop_mark(k, &start) || vla_torch__push(k, vla_torch__collect(k, VLA_TORCH__TUPLE, start)))
                return k->e->code;
            break;
        case 0x85: case 0x86: case 0x87: /* TUPLE1..3: the top 1..3 items */
            i = (size_t)(k->op - 0x84);
            if (k->sp - vla_torch__floor(k) < i) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "stack underflow");
            if (vla_torch__push(k, vla_torch__collect(k, VLA_TORCH__TUPLE, k->sp - i))) return k->e->code;
            break;
        /* -- lists ---------------------------------------------------------------- */
        case ']': if (vla_torch__push(k, vla_torch__new(k, VLA_TORCH__LIST))) return k->e->code; break;
        case 'l': /* LIST */
            if (vla_torch__pop_mark(k, &start) || vla_torch__push(k, vla_torch__collect(k, VLA_TORCH__LIST, start)))
                return k->e->code;
            break;
        case 'a': /* APPEND */
            if (!(b = vla_torch__pop(k)) || !(a = vla_torch__top(k))) return k->e->code;
            if (a->type != VLA_TORCH__LIST) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "APPEND to a non-list");
            if (vla_torch__reserve(k, a, a->u.seq.n + 1)) return k->e->code;
            a->u.seq.v[a->u.seq.n++] = b;
            break;
        case 'e': /* APPENDS: items above the MARK go into the list below it */
            if (vla_torch__pop_mark(k, &start)) return k->e->code;
            if (start <= vla_torch__floor(k)) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "stack underflow");
            a = k->stack[start - 1];
            if (a->type != VLA_TORCH__LIST) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "APPENDS to a non-list");
            if (vla_torch__reserve(k, a, a->u.seq.n + (k->sp - start))) return k->e->code;
            for (i = start; i < k->sp; i++) a->u.seq.v[a->u.seq.n++] = k->stack[i];
            k->sp = start;
            break;
        /* -- dicts ---------------------------------------------------------------- */
        case '}': if (vla_torch__push(k, vla_torch__new(k, VLA_TORCH__DICT))) return k->e->code; break;
        case 'd': /* DICT: key/value pairs above the MARK */
        case 'u': /* SETITEMS: ... into the dict below the MARK */
            if (vla_torch__pop_mark(k, &start)) return k->e->code;
            if ((k->sp - start) % 2) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "odd number of key/value items");
            if (k->op == 'd') {
                if (!(a = vla_torch__new(k, VLA_TORCH__DICT))) return k->e->code;
            } else {
                if (start <= vla_torch__floor(k)) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "stack underflow");
                a = k->stack[start - 1];
                if (a->type != VLA_TORCH__DICT) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "SETITEMS on a non-dict");
            }
            if (vla_torch__reserve(k, a, a->u.seq.n + (k->sp - start))) return k->e->code;
            for (i = start; i < k->sp; i++) a->u.seq.v[a->u.seq.n++] = k->stack[i];
            k->sp = start;
            if (k->op == 'd' && vla_torch__push(k, a)) return k->e->code;
            break;
        case 's': /* SETITEM */
            if (!(c = vla_torch__pop(k)) || !(b = vla_torch__pop(k)) || !(a = vla_torch__top(k))) return k->e->code;
            if (a->type != VLA_TORCH__DICT) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "SETITEM on a non-dict");
            if (vla_torch__reserve(k, a, a->u.seq.n + 2)) return k->e->code;
            a->u.seq.v[a->u.seq.n++] = b;
            a->u.seq.v[a->u.seq.n++] = c;
            break;
        /* -- memo ----------------------------------------------------------------- */
        case 'q': /* BINPUT */
            if (vla_torch__need(k, 1) || vla_torch__memo_put(k, p[k->pos++])) return k->e->code;
            break;
        case 'r': /* LONG_BINPUT */
            if (vla_torch__need(k, 4)) return k->e->code;
            u = vla_torch__rd32(p + k->pos);
            k->pos += 4;
            if (vla_torch__memo_put(k, u)) return k->e->code;
            break;
        case 0x94: /* MEMOIZE: next id = number of memo entries */
            if (vla_torch__memo_put(k, k->memo_count)) return k->e->code;
            break;
        case 'h': /* BINGET */
            if (vla_torch__need(k, 1) || vla_torch__memo_get(k, p[k->pos++])) return k->e->code;
            break;
        case 'j': /* LONG_BINGET */
            if (vla_torch__need(k, 4)) return k->e->code;
            u = vla_torch__rd32(p + k->pos);
            k->pos += 4;
            if (vla_torch__memo_get(k, u)) return k->e->code;
            break;
        /* -- globals, calls, objects ---------------------------------------------- */
        case 'c': { /* GLOBAL "module\nname\n" */
            const char *m = (const char *)p + k->pos, *nm, *e1, *e2;
            e1 = (const char *)memchr(m, '\n', k->n - k->pos);
            if (!e1) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "unterminated GLOBAL module name");
            nm = e1 + 1;
            e2 = (const char *)memchr(nm, '\n', (size_t)((const char *)p + k->n - nm));
            if (!e2) return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "unterminated GLOBAL name");
            k->pos = (size_t)(e2 + 1 - (const char *)p);
            if (vla_torch__global(k, m, (size_t)(e1 - m), nm, (size_t)(e2 - nm))) return k->e->code;
            break;
        }
        case 0x93: /* STACK_GLOBAL: module and name strings from the stack */
            if (!(b = vla_torch__pop(k)) || !(a = vla_torch__pop(k))) return k->e->code;
            if (a->type != VLA_TORCH__STR || b->type != VLA_TORCH__STR)
                return vla_torch__pfail(k, VLA_TORCH_ERR_CORRUPT, "STACK_GLOBAL operands are not strings");
            if (vla_torch__global(k, a->u.s.p, a->u.s.n, b->u.s.p, b->u.s.n)) return k->e->code;
            break;
        case 'R': /* REDUCE: callable(*args) for the allowed callables only */
            if (!(b = vla_torch__pop(k)) || !(a = vla_torch__pop(k)) || vla_torch__reduce(k, a, b)) return k->e->code;
            break;
        case 0x81: /* NEWOBJ: cls.__new__(cls, *args) -> an inert object record */
            if (!(b = vla_torch__pop(k)) || !(a = vla_torch__pop(k))) return k->e->code;
            if (a->type != VLA_TORCH__GLOBAL || b->type != VLA_TORCH__TUPLE ||
                (a->u.g.kind != VLA_TORCH__G_CLASS && a->u.g.kind != VLA_TORCH__G_ODICT))
                return vla_torch__pfail(k, VLA_TORCH_ERR_UNSUPPORTED, "NEWOBJ of something other than a __torch__ class");
            if (a->u.g.kind == VLA_TORCH__G_ODICT) {
                if (!(c = vla_torch__new(k, VLA_TORCH__DICT))) return k->e->code;
                c->u.seq.ordered = 1;
            } else {
                if (!(c = vla_torch__new(k, VLA_TORCH__OBJECT))) return k->e->code;
                c->u.o.cls = a;
            }
            if (vla_torch__push(k, c)) return k->e->code;
            break;
        case 'b': /* BUILD: object state; a dict's BUILD (state_dict _metadata) is ignored */
            if (!(b = vla_torch__pop(k)) || !(a = vla_torch__top(k))) return k->e->code;
            if (a->type == VLA_TORCH__OBJECT) a->u.o.state = b;
            else if (a->type != VLA_TORCH__DICT)
                return vla_torch__pfail(k, VLA_TORCH_ERR_UNSUPPORTED, "BUILD on something other than an object or dict");
            break;
        case 'Q': /* BINPERSID: a storage reference */
            if (!(a = vla_torch__pop(k)) || vla_torch__persid(k, a)) return k->e->code;
            break;
        default:
            return vla_torch__pfail(k, VLA_TORCH_ERR_UNSUPPORTED, "opcode not allowed in a weights pickle");
        }
    }
    return vla_torch__fail(k->e, VLA_TORCH_ERR_CORRUPT, "data.pkl ends without STOP");
}

/* ---- the legacy torch.save stream ---------------------------------------- */
/* torch < 1.6 (and _use_new_zipfile_serialization=False) writes five pickles
 * back to back - the magic number, the protocol version 1001, sys_info, the
 * object, the list of storage keys - and then, for each key in that list's
 * order, an int64 element count followed by the raw little-endian elements.
 * The storages become the records of a pseudo-zip named by their keys, so
 * the object pickle resolves its persistent ids as in an archive.  The
 * object pickle is read twice: once to find where it ends (the key list
 * follows it), then for real.  The element bytes are only located after
 * the second pass; vla_torch__emit reads them from the records. */

static const unsigned char vla_torch__legacy_magic[15] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                                          0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

/* unpickle the pickle starting at byte pos of k->p (memo and stack are per pickle) */
static int vla_torch__pickle_at(vla_torch__pk *k, size_t pos, vla_torch__val **root)
{
    k->pos = pos;
    k->sp = 0;
    k->mp = 0;
    if (k->memo) memset(k->memo, 0, k->memo_cap * sizeof *k->memo);
    k->memo_count = 0;
    return vla_torch__unpickle(k, root);
}

static int vla_torch__legacy_open(vla_torch__zip *z, vla_torch__pk *k, const unsigned char *p, size_t len,
                                  vla_torch__val **root)
{
    vla_torch__val *v, *keys;
    size_t obj_pos, pos, i;
    vla_torch__err *e = k->e;
    int little = 0;
    char key[80];
    if (len < sizeof vla_torch__legacy_magic || memcmp(p, vla_torch__legacy_magic, sizeof vla_torch__legacy_magic))
        return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "legacy torch.save: the magic-number pickle is missing or damaged");
    k->p = p;
    k->n = len;
    k->zip = NULL;
    if (vla_torch__pickle_at(k, sizeof vla_torch__legacy_magic, &v)) return e->code;
    if (v->type != VLA_TORCH__INT || v->u.i != 1001)
        return vla_torch__fail(e, VLA_TORCH_ERR_UNSUPPORTED, "legacy torch.save: protocol version is not 1001");
    if (vla_torch__pickle_at(k, k->pos, &v)) return e->code; /* sys_info */
    if (v->type == VLA_TORCH__DICT)
        for (i = 0; i + 1 < v->u.seq.n; i += 2) {
            const vla_torch__val *kk = v->u.seq.v[i], *vv = v->u.seq.v[i + 1];
            if (kk->type == VLA_TORCH__STR && vla_torch__eq(kk->u.s.p, kk->u.s.n, "little_endian"))
                little = vv->type == VLA_TORCH__BOOL && vv->u.i;
        }
    if (!little)
        return vla_torch__fail(e, VLA_TORCH_ERR_UNSUPPORTED,
                               "legacy torch.save: sys_info does not say little_endian=True (big-endian files are not supported)");
    obj_pos = k->pos;
    if (vla_torch__pickle_at(k, obj_pos, &v)) return e->code;    /* pass 1: find its end */
    if (vla_torch__pickle_at(k, k->pos, &keys)) return e->code; /* the storage keys */
    if (keys->type != VLA_TORCH__LIST)
        return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "legacy torch.save: the storage key pickle is not a list");
    pos = k->pos;
    /* each storage takes at least its 8-byte count, which bounds the list */
    if (keys->u.seq.n > (len - pos) / 8)
        return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT,
                               "legacy torch.save: %llu storages listed but only %llu bytes follow",
                               (unsigned long long)keys->u.seq.n, (unsigned long long)(len - pos));
    z->buf = p;
    z->len = len;
    z->n = keys->u.seq.n;
    z->legacy = 1;
    if (z->n && !(z->recs = (vla_torch__rec *)calloc(z->n, sizeof *z->recs)))
        return vla_torch__fail(e, VLA_TORCH_ERR_NOMEM, "out of memory (storages)");
    for (i = 0; i < z->n; i++) {
        const vla_torch__val *kv = keys->u.seq.v[i];
        if (kv->type != VLA_TORCH__STR || kv->u.s.n > VLA_TORCH__MAX_KEY)
            return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT,
                                   "legacy torch.save: storage key %llu is not a string of <= 256 bytes",
                                   (unsigned long long)i);
        z->recs[i].name = kv->u.s.p;
        z->recs[i].name_len = kv->u.s.n;
        z->recs[i].dtype = -1;
        z->recs[i].storage_id = -1;
    }
    if (vla_torch__zip_index(z, e, "legacy torch.save: storage key")) return e->code;
    k->zip = z;
    if (vla_torch__pickle_at(k, obj_pos, root)) return e->code; /* pass 2: storages resolved */
    for (i = 0; i < z->n; i++) {
        vla_torch__rec *r = &z->recs[i];
        uint64_t count, nbytes;
        vla_torch__show(key, sizeof key, r->name, r->name_len);
        if (!vla_torch__in(pos, 8, len))
            return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT,
                                   "legacy torch.save: storage '%s' (%llu of %llu) starts past the end of the file", key,
                                   (unsigned long long)i + 1, (unsigned long long)z->n);
        count = vla_torch__rd64(p + pos);
        pos += 8;
        /* the element size comes from the tensors; torch writes only storages tensors use */
        if (r->dtype < 0)
            return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT,
                                   "legacy torch.save: storage '%s' is listed but no tensor refers to it", key);
        if (!vla_torch__mul64(count, vla_torch_dtype_size(r->dtype), &nbytes) || !vla_torch__in(pos, nbytes, len))
            return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT,
                                   "legacy torch.save: storage '%s' (%llu elements of %s at byte %llu) runs past the "
                                   "end of the %llu-byte file",
                                   key, (unsigned long long)count, vla_torch_dtype_name(r->dtype),
                                   (unsigned long long)pos, (unsigned long long)len);
        if (count < r->need)
            return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT,
                                   "legacy torch.save: storage '%s' holds %llu elements but a tensor claims %llu", key,
                                   (unsigned long long)count, (unsigned long long)r->need);
        r->ldata = p + pos;
        r->usize = r->csize = nbytes;
        pos += (size_t)nbytes;
    }
    if (pos != len)
        return vla_torch__fail(e, VLA_TORCH_ERR_CORRUPT, "legacy torch.save: %llu stray bytes after the last storage",
                               (unsigned long long)(len - pos));
    return 0;
}

/* ---- walking the unpickled tree into named tensors ----------------------- */

typedef struct vla_torch__walk {
    vla_torch__err *e;
    vla_torch__zip *zip;
    vla_torch_file *f;
    size_t cap;           /* of f->tensors */
    char path[VLA_TORCH_MAX_NAME + 1];
    size_t plen;
    uint64_t visits, max_visits;
    uint64_t bytes, max_bytes; /* path components pushed + names emitted */
    uint64_t copy_bytes, max_copy_bytes;
} vla_torch__walk;

/* the start of the current path, for messages */
static const char *vla_torch__where(vla_torch__walk *w, char *tmp, size_t cap)
{
    return vla_torch__show(tmp, cap, w->path, w->plen);
}

/* byte budget shared by path building and names (linear in the input) */
static int vla_torch__spend(vla_torch__walk *w, size_t n)
{
    w->bytes += n;
    if (w->bytes > w->max_bytes)
        return vla_torch__fail(w->e, VLA_TORCH_ERR_LIMIT, "tensor names add up to more than %llu bytes",
                               (unsigned long long)w->max_bytes);
    return 0;
}

/* appends ".comp" (or "comp" at the root); 0 ok */
static int vla_torch__path_push(vla_torch__walk *w, const char *s, size_t n)
{
    size_t sep = w->plen ? 1 : 0;
    char tmp[64], tmp2[40];
    if (memchr(s, 0, n))
        return vla_torch__fail(w->e, VLA_TORCH_ERR_CORRUPT, "a key under '%s' contains a NUL byte",
                               vla_torch__where(w, tmp, sizeof tmp));
    if (n + sep > VLA_TORCH_MAX_NAME - w->plen)
        return vla_torch__fail(w->e, VLA_TORCH_ERR_LIMIT, "tensor name longer than %d bytes ('%s' + '%s')",
                               VLA_TORCH_MAX_NAME, vla_torch__where(w, tmp, sizeof tmp),
                               vla_torch__show(tmp2, sizeof tmp2, s, n));
    if (vla_torch__spend(w, n + sep)) return w->e->code;
    if (sep) w->path[w->plen] = '.';
    memcpy(w->path + w->plen + sep, s, n);
    w->plen += n + sep;
    w->path[w->plen] = 0;
    return 0;
}

/* copies a strided view into a fresh contiguous block */
static void vla_torch__gather(const vla_torch__tinfo *t, size_t es, unsigned char *out)
{
    int64_t idx[VLA_TORCH_MAX_DIMS];
    const unsigned char *base = t->storage->u.st.data;
    int nd = t->ndim, d;
    uint64_t n;
    memset(idx, 0, sizeof idx);
    for (n = 0; n < (uint64_t)t->numel; n++) {
        uint64_t off = (uint64_t)t->offset;
        for (d = 0; d < nd; d++) off += (uint64_t)idx[d] * (uint64_t)t->stride[d];
        memcpy(out + n * es, base + off * es, es);
        for (d = nd - 1; d >= 0; d--) { /* odometer */
            if (++idx[d] < t->size[d]) break;
            idx[d] = 0;
        }
    }
}

static int vla_torch__emit(vla_torch__walk *w, vla_torch__val *v)
{
    vla_torch__tinfo *t = v->u.t;
    vla_torch_tensor *o;
    vla_torch__rec *r = &w->zip->recs[t->storage->u.st.rec];
    size_t es = vla_torch_dtype_size(t->storage->u.st.dtype);
    if (w->zip->legacy) t->storage->u.st.data = r->ldata; /* known only after the pickles */
    if ((size_t)w->f->n_tensors == w->cap) {
        void *arr = w->f->tensors;
        int bad;
        if (w->f->n_tensors >= 0x3fffffff) return vla_torch__fail(w->e, VLA_TORCH_ERR_LIMIT, "too many tensors");
        bad = vla_torch__grow(&arr, &w->cap, sizeof *w->f->tensors, (size_t)w->f->n_tensors + 1);
        w->f->tensors = (vla_torch_tensor *)arr;
        if (bad) return vla_torch__fail(w->e, VLA_TORCH_ERR_NOMEM, "out of memory (tensor list)");
    }
    if (vla_torch__spend(w, w->plen + 1)) return w->e->code;
    o = &w->f->tensors[w->f->n_tensors];
    memset(o, 0, sizeof *o);
    o->name = (char *)malloc(w->plen + 1);
    if (!o->name) return vla_torch__fail(w->e, VLA_TORCH_ERR_NOMEM, "out of memory (names)");
    memcpy(o->name, w->path, w->plen + 1);
    w->f->n_tensors++; /* from here on, close() owns the name */
    o->dtype = t->storage->u.st.dtype;
    o->n_dims = t->ndim;
    memcpy(o->shape, t->size, sizeof o->shape);
    o->numel = t->numel;
    o->storage_offset = t->offset;
    o->requires_grad = t->requires_grad;
    if (r->storage_id < 0) r->storage_id = w->f->n_storages++;
    o->storage_id = r->storage_id;
    if (t->numel == 0) {
        o->data = t->storage->u.st.data;
        o->nbytes = 0;
    } else if (t->contiguous) {
        /* offset + numel <= storage numel, whose bytes were checked to exist */
        o->data = t->storage->u.st.data + (size_t)t->offset * es;
        o->nbytes = (size_t)t->numel * es;
    } else if (t->copy) {
        o->data = t->copy;
        o->nbytes = (size_t)t->numel * es; /* checked when the copy was made */
    } else {
        uint64_t nb;
        if (!vla_torch__mul64((uint64_t)t->numel, es, &nb) || nb > w->max_copy_bytes - w->copy_bytes ||
            nb > (uint64_t)(size_t)-1)
            return vla_torch__fail(w->e, VLA_TORCH_ERR_LIMIT,
                                   "non-contiguous tensor '%.200s' would need a %llu-element copy (copy budget %llu bytes)",
                                   o->name, (unsigned long long)t->numel, (unsigned long long)w->max_copy_bytes);
        w->copy_bytes += nb;
        t->copy = malloc((size_t)nb);
        if (!t->copy) return vla_torch__fail(w->e, VLA_TORCH_ERR_NOMEM, "out of memory (tensor copy)");
        vla_torch__gather(t, es, (unsigned char *)t->copy);
        o->data = t->copy;
        o->nbytes = (size_t)nb;
        o->owns_data = 1; /* the first name owns it; aliases of this same view share it */
    }
    return 0;
}

/* values that can hold tensors */
static int vla_torch__walkable(const vla_torch__val *v)
{
    return v->type == VLA_TORCH__TENSOR || v->type == VLA_TORCH__TUPLE || v->type == VLA_TORCH__LIST ||
           v->type == VLA_TORCH__DICT || v->type == VLA_TORCH__OBJECT;
}

/* Depth-first walk from the root; inside a TorchScript module object only
 * tensor and submodule attributes are followed (that gives the state_dict). */
static int vla_torch__walk_val(vla_torch__walk *w, vla_torch__val *v, int depth)
{
    size_t i, keep;
    char tmp[64];
    if (++w->visits > w->max_visits)
        return vla_torch__fail(w->e, VLA_TORCH_ERR_LIMIT, "object graph too large (shared sub-objects?) at '%s'",
                               vla_torch__where(w, tmp, sizeof tmp));
    if (depth > VLA_TORCH_MAX_DEPTH)
        return vla_torch__fail(w->e, VLA_TORCH_ERR_LIMIT, "containers nested more than %d deep (or cyclic) at '%s'",
                               VLA_TORCH_MAX_DEPTH, vla_torch__where(w, tmp, sizeof tmp));
    switch (v->type) {
    case VLA_TORCH__TENSOR:
        return vla_torch__emit(w, v);
    case VLA_TORCH__TUPLE:
    case VLA_TORCH__LIST:
        for (i = 0; i < v->u.seq.n; i++) {
            char num[24];
            vla_torch__val *x = v->u.seq.v[i];
            if (!vla_torch__walkable(x)) continue; /* plain scalars, strings */
            keep = w->plen;
            snprintf(num, sizeof num, "%zu", i);
            if (vla_torch__path_push(w, num, strlen(num)) || vla_torch__walk_val(w, x, depth + 1)) return w->e->code;
            w->plen = keep;
            w->path[keep] = 0;
        }
        return 0;
    case VLA_TORCH__DICT:
        for (i = 0; i + 1 < v->u.seq.n; i += 2) {
            vla_torch__val *key = v->u.seq.v[i], *x = v->u.seq.v[i + 1];
            char num[24];
            int r;
            if (!vla_torch__walkable(x)) continue; /* plain scalars, strings */
            keep = w->plen;
            if (key->type == VLA_TORCH__STR) r = vla_torch__path_push(w, key->u.s.p, key->u.s.n);
            else if (key->type == VLA_TORCH__INT) {
                snprintf(num, sizeof num, "%lld", (long long)key->u.i);
                r = vla_torch__path_push(w, num, strlen(num));
            } else continue; /* tuple/None keys cannot form a name */
            if (r || vla_torch__walk_val(w, x, depth + 1)) return w->e->code;
            w->plen = keep;
            w->path[keep] = 0;
        }
        return 0;
    case VLA_TORCH__OBJECT: {
        /* TorchScript module: state is a dict attribute -> value */
        vla_torch__val *s = v->u.o.state;
        if (!s || s->type != VLA_TORCH__DICT) return 0;
        for (i = 0; i + 1 < s->u.seq.n; i += 2) {
            vla_torch__val *key = s->u.seq.v[i], *x = s->u.seq.v[i + 1];
            if (key->type != VLA_TORCH__STR) continue;
            if (x->type != VLA_TORCH__TENSOR && x->type != VLA_TORCH__OBJECT) continue;
            keep = w->plen;
            if (vla_torch__path_push(w, key->u.s.p, key->u.s.n) || vla_torch__walk_val(w, x, depth + 1))
                return w->e->code;
            w->plen = keep;
            w->path[keep] = 0;
        }
        return 0;
    }
    default:
        return 0;
    }
}

/* "a.b.___torch_mangle_12.C" -> "a.b.C" */
static char *vla_torch__class_name(const vla_torch__val *g)
{
    size_t n = g->u.g.mod_n + 1 + g->u.g.name_n, i = 0, o = 0;
    char *full = (char *)malloc(n + 1), *out = (char *)malloc(n + 1);
    if (!full || !out) {
        free(full);
        free(out);
        return NULL;
    }
    memcpy(full, g->u.g.mod, g->u.g.mod_n);
    full[g->u.g.mod_n] = '.';
    memcpy(full + g->u.g.mod_n + 1, g->u.g.name, g->u.g.name_n);
    full[n] = 0;
    while (i < n) {
        if ((i == 0 || full[i - 1] == '.') && strncmp(full + i, "___torch_mangle_", 16) == 0) {
            size_t j = i + 16;
            while (j < n && full[j] >= '0' && full[j] <= '9') j++;
            if (j > i + 16 && j < n && full[j] == '.') {
                i = j + 1;
                continue;
            }
        }
        out[o++] = full[i] ? full[i] : '?'; /* a NUL from the pickle would cut the name */
        i++;
    }
    out[o] = 0;
    free(full);
    return out;
}

static char *vla_torch__strdup(const char *s, size_t n)
{
    char *r = (char *)malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = 0;
    }
    return r;
}

static int vla_torch__cmp_tensors(const void *ctx, size_t a, size_t b)
{
    const vla_torch_tensor *t = (const vla_torch_tensor *)ctx;
    return strcmp(t[a].name, t[b].name);
}

/* ---- public entry points -------------------------------------------------- */

VLA_TORCH_DEF void vla_torch_close(vla_torch_file *f)
{
    int i;
    if (!f) return;
    for (i = 0; i < f->n_tensors; i++) {
        free(f->tensors[i].name);
        if (f->tensors[i].owns_data) { /* our own copy: drop the const without a cast */
            void *own;
            memcpy(&own, &f->tensors[i].data, sizeof own);
            free(own);
        }
    }
    free(f->tensors);
    free(f->prefix);
    free(f->root_type);
    free(f->sorted_);
    memset(f, 0, sizeof *f);
}

static int vla_torch__is_safetensors(const unsigned char *p, size_t len)
{
    uint64_t n;
    if (len < 10) return 0;
    n = vla_torch__rd64(p);
    return n >= 2 && n <= (uint64_t)(len - 8) && p[8] == '{';
}

VLA_TORCH_DEF int vla_torch_detect(const void *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)buf;
    if (!p) return VLA_TORCH_FORMAT_UNKNOWN;
    if (len >= 4 && p[0] == 'P' && p[1] == 'K' && p[2] == 3 && p[3] == 4) {
        vla_torch__zip z;
        vla_torch__err e;
        size_t pkl, plen;
        int fmt = VLA_TORCH_FORMAT_ZIP;
        memset(&e, 0, sizeof e);
        if (!vla_torch__zip_open(&z, p, len, &e) && !vla_torch__zip_prefix(&z, &pkl, &plen, &e) &&
            vla_torch__zip_is_torchscript(&z, z.recs[pkl].name, plen))
            fmt = VLA_TORCH_FORMAT_TORCHSCRIPT;
        vla_torch__zip_free(&z);
        return fmt;
    }
    if (len >= 3 && p[0] == 0x80 && p[1] == 0x02 && p[2] == 0x8a) return VLA_TORCH_FORMAT_LEGACY;
    if (len >= 262 && memcmp(p + 257, "ustar", 5) == 0) return VLA_TORCH_FORMAT_LEGACY;
    if (vla_torch__is_safetensors(p, len)) return VLA_TORCH_FORMAT_SAFETENSORS;
    return VLA_TORCH_FORMAT_UNKNOWN;
}

VLA_TORCH_DEF int vla_torch_open(vla_torch_file *f, const void *buf, size_t len, char *err, size_t err_len)
{
    const unsigned char *p = (const unsigned char *)buf;
    vla_torch__err e;
    vla_torch__zip z;
    vla_torch__pk k;
    vla_torch__walk *w = NULL;
    vla_torch__val *root = NULL;
    size_t *ents = NULL;
    size_t pkl = 0, plen = 0;
    const unsigned char *pdata;
    uint64_t psize;
    size_t bo;
    int i, fmt;

    memset(&e, 0, sizeof e);
    memset(&z, 0, sizeof z);
    memset(&k, 0, sizeof k);
    e.buf = err;
    e.len = err_len;
    if (err && err_len) err[0] = 0;
    if (!f) return vla_torch__fail(&e, VLA_TORCH_ERR_ARG, "vla_torch_open: NULL file");
    memset(f, 0, sizeof *f);
    if (!p) return vla_torch__fail(&e, VLA_TORCH_ERR_ARG, "vla_torch_open: NULL buffer");

    /* 1. container: zip archives, and the legacy stream of torch < 1.6 */
    if (!(len >= 4 && p[0] == 'P' && p[1] == 'K' && p[2] == 3 && p[3] == 4)) {
        fmt = vla_torch_detect(p, len);
        if (fmt == VLA_TORCH_FORMAT_LEGACY && p[0] == 0x80) {
            k.e = &e;
            f->kind = VLA_TORCH_FORMAT_LEGACY;
            f->prefix = vla_torch__strdup("", 0);
            if (!f->prefix) {
                vla_torch__fail(&e, VLA_TORCH_ERR_NOMEM, "out of memory");
                goto done;
            }
            if (vla_torch__legacy_open(&z, &k, p, len, &root)) goto done;
            psize = len;
        } else if (fmt == VLA_TORCH_FORMAT_LEGACY) {
            return vla_torch__fail(&e, VLA_TORCH_ERR_FORMAT,
                                   "the legacy tar torch.save format (torch 0.1.x) is not supported; re-save with "
                                   "torch>=1.6: torch.save(torch.load(path), new_path)");
        } else if (fmt == VLA_TORCH_FORMAT_SAFETENSORS) {
            return vla_torch__fail(&e, VLA_TORCH_ERR_FORMAT,
                                   "this is a safetensors file, not a PyTorch pickle archive; use the safetensors reader");
        } else {
            return vla_torch__fail(&e, VLA_TORCH_ERR_FORMAT,
                                   "not a PyTorch checkpoint: no zip signature and no legacy torch.save magic "
                                   "(expected torch.save or torch.jit.save output)");
        }
    } else {
        if (vla_torch__zip_open(&z, p, len, &e) || vla_torch__zip_prefix(&z, &pkl, &plen, &e)) goto done;
        f->kind = vla_torch__zip_is_torchscript(&z, z.recs[pkl].name, plen) ? VLA_TORCH_FORMAT_TORCHSCRIPT
                                                                            : VLA_TORCH_FORMAT_ZIP;
        f->prefix = vla_torch__strdup(z.recs[pkl].name, plen);
        if (!f->prefix) {
            vla_torch__fail(&e, VLA_TORCH_ERR_NOMEM, "out of memory");
            goto done;
        }
        /* torch >= 2.1 records the byte order; our data pointers assume little */
        bo = vla_torch__zip_find3(&z, z.recs[pkl].name, plen, "/byteorder", 10, "", 0);
        if (bo != VLA_TORCH__NOREC) {
            const unsigned char *bd;
            uint64_t bs;
            if (vla_torch__zip_data(&z, bo, &bd, &bs, &e)) goto done;
            if (bs >= 3 && memcmp(bd, "big", 3) == 0) {
                vla_torch__fail(&e, VLA_TORCH_ERR_UNSUPPORTED, "big-endian checkpoint (byteorder record) is not supported");
                goto done;
            }
        }

        /* 2. unpickle data.pkl */
        if (vla_torch__zip_data(&z, pkl, &pdata, &psize, &e)) goto done;
        k.e = &e;
        k.zip = &z;
        k.pre = z.recs[pkl].name;
        k.plen = plen;
        k.p = pdata;
        k.n = (size_t)psize;
        if (vla_torch__unpickle(&k, &root)) goto done;
    }

    /* 3. walk the object tree */
    w = (vla_torch__walk *)calloc(1, sizeof *w);
    if (!w) {
        vla_torch__fail(&e, VLA_TORCH_ERR_NOMEM, "out of memory");
        goto done;
    }
    w->e = &e;
    w->zip = &z;
    w->f = f;
    w->max_visits = 2 * (uint64_t)k.nvals + 1024;
    w->max_bytes = 32 * (uint64_t)psize + ((uint64_t)16 << 20);
    w->max_copy_bytes = VLA_TORCH_COPY_FACTOR * (uint64_t)len + ((uint64_t)16 << 20);
    if (root->type == VLA_TORCH__OBJECT) {
        f->root_type = vla_torch__class_name(root->u.o.cls);
    } else {
        const char *rt = root->type == VLA_TORCH__DICT     ? (root->u.seq.ordered ? "OrderedDict" : "dict")
                         : root->type == VLA_TORCH__TENSOR ? "Tensor"
                         : root->type == VLA_TORCH__LIST   ? "list"
                         : root->type == VLA_TORCH__TUPLE  ? "tuple"
                                                           : "other";
        f->root_type = vla_torch__strdup(rt, strlen(rt));
    }
    if (!f->root_type) {
        vla_torch__fail(&e, VLA_TORCH_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (vla_torch__walk_val(w, root, 0)) goto done;

    /* 4. name index; duplicated names would make lookups ambiguous */
    if (f->n_tensors) {
        ents = (size_t *)malloc((size_t)f->n_tensors * sizeof *ents);
        f->sorted_ = (int *)malloc((size_t)f->n_tensors * sizeof *f->sorted_);
        if (!ents || !f->sorted_) {
            vla_torch__fail(&e, VLA_TORCH_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (i = 0; i < f->n_tensors; i++) ents[i] = (size_t)i;
        if (vla_torch__sort(ents, (size_t)f->n_tensors, vla_torch__cmp_tensors, f->tensors)) {
            vla_torch__fail(&e, VLA_TORCH_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (i = 0; i < f->n_tensors; i++) {
            if (i && strcmp(f->tensors[ents[i - 1]].name, f->tensors[ents[i]].name) == 0) {
                vla_torch__fail(&e, VLA_TORCH_ERR_CORRUPT, "tensor name '%.200s' occurs twice",
                                f->tensors[ents[i]].name);
                goto done;
            }
            f->sorted_[i] = (int)ents[i];
        }
    }

done:
    free(ents);
    free(w);
    free(k.stack);
    free(k.marks);
    free(k.memo);
    vla_torch__arena_free(&k.arena);
    vla_torch__zip_free(&z);
    if (e.code) vla_torch_close(f);
    return e.code;
}

VLA_TORCH_DEF const vla_torch_tensor *vla_torch_find(const vla_torch_file *f, const char *name)
{
    int lo = 0, hi;
    if (!f || !name || !f->sorted_) return NULL;
    hi = f->n_tensors - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        const vla_torch_tensor *t = &f->tensors[f->sorted_[mid]];
        int c = strcmp(t->name, name);
        if (c == 0) return t;
        if (c < 0) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

#endif /* VLA_TORCH_IMPLEMENTATION_DONE */
#endif /* VLA_TORCH_IMPLEMENTATION */
