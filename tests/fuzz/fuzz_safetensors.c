/* tests/fuzz/fuzz_safetensors.c - safetensors files (tools/vla_tool.h
 * vla_st_parse), then the converter's checkpoint layer on the same bytes
 * (tools/vla_convert.h vla_ckpt_open_mem: the __metadata__ "tied" aliases and
 * "config" JSON) and the conversion into model / CLIP / adapter files.
 * Properties checked besides memory safety: every tensor's bytes lie inside
 * the file and match dtype x shape, look-ups by name find a tensor of that
 * name, and both readers agree on the tensor count.
 * Seeds: tests/fuzz/corpus/safetensors (committed files).
 */
#define VLADAPTER_IMPLEMENTATION
#include "../../vladapter.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "../../tools/vla_convert.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t dtype_size(int dt) {
    switch (dt) {
    case 0: case 26: return 4;    /* F32, I32 */
    case 1: case 30: return 2;    /* F16, BF16 */
    case 27: case 28: return 8;   /* I64, F64 */
    case 24: case 100: case 101: return 1; /* I8, U8, BOOL */
    default: return 0;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vla_st_file f;
    vla_ckpt k;
    char err[512];
    int i, n_st = -1;
    unsigned h = 0;
    if (size > ((size_t)4 << 20)) return 0;
    err[0] = 0;
    if (vla_st_parse(&f, data, size, err, sizeof err) == 0) {
        n_st = f.n;
        for (i = 0; i < f.n; i++) {
            const vla_st_tensor *t = &f.t[i];
            size_t nel = 1, es = dtype_size(t->dtype);
            int d;
            FZ_ASSERT(es != 0, "tensor %d: dtype id %d", i, t->dtype);
            FZ_ASSERT(t->n_dims >= 0 && t->n_dims <= 8, "tensor %d: %d dims", i, t->n_dims);
            for (d = 0; d < t->n_dims; d++) nel *= (size_t)t->shape[d];
            FZ_ASSERT(t->nbytes == nel * es, "tensor '%s': %zu bytes for %zu elements of %zu", t->name, t->nbytes, nel, es);
            FZ_ASSERT((const unsigned char *)t->data >= data && t->nbytes <= size - (size_t)((const unsigned char *)t->data - data),
                      "tensor '%s' lies outside the file", t->name);
            h += fz_touch(t->data, t->nbytes);
            {
                const vla_st_tensor *u = vla_st_find(&f, t->name);
                FZ_ASSERT(u && !strcmp(u->name, t->name), "'%s' is not found by name", t->name);
            }
        }
        vla_st_free(&f);
    } else
        FZ_ASSERT(err[0], "vla_st_parse failed without a message");
    if (vla_ckpt_open_mem(&k, data, size, err, sizeof err) == 0) {
        if (k.format == VLA_TORCH_FORMAT_SAFETENSORS)
            FZ_ASSERT(n_st >= 0 && k.n >= n_st, "vla_ckpt read %d tensors, vla_st_parse %d", k.n, n_st);
        for (i = 0; i < k.n; i++) h += fz_touch(k.src[i].data, k.src[i].nbytes);
        fz_convert_ckpt(&k);
        vla_ckpt_close(&k);
    }
    (void)h;
    return 0;
}
