/* tests/fuzz/fuzz_torch.c - PyTorch checkpoints (tools/vla_torch.h): the
 * torch.save zip archive, the restricted unpickler, the legacy pre-1.6
 * stream and TorchScript archives, then the converter on what they hold
 * (vla_ckpt_open_mem and the BART / CLIP / PEFT conversions).
 * Properties checked besides memory safety: every tensor's bytes are
 * readable and equal numel x element size, shapes and names are sane, the
 * name index finds every tensor, and a failure always comes with a message.
 * Seeds: tests/fuzz/corpus/torch (committed files: zip, legacy and
 * TorchScript files written by CPython's pickler the way torch writes them).
 */
#define VLADAPTER_IMPLEMENTATION
#include "../../vladapter.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "../../tools/vla_convert.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    vla_torch_file f;
    vla_ckpt k;
    char err[512];
    int i, rc, fmt;
    unsigned h = 0;
    if (size > ((size_t)4 << 20)) return 0;
    fmt = vla_torch_detect(data, size);
    FZ_ASSERT(fmt >= VLA_TORCH_FORMAT_UNKNOWN && fmt <= VLA_TORCH_FORMAT_SAFETENSORS, "format %d", fmt);
    err[0] = 0;
    rc = vla_torch_open(&f, data, size, err, sizeof err);
    if (rc == VLA_TORCH_OK) {
        FZ_ASSERT(f.n_tensors >= 0 && (f.n_tensors == 0 || f.tensors), "%d tensors", f.n_tensors);
        for (i = 0; i < f.n_tensors; i++) {
            const vla_torch_tensor *t = &f.tensors[i];
            int64_t numel = 1;
            int d;
            FZ_ASSERT(t->name != NULL, "tensor %d has no name", i);
            FZ_ASSERT(t->n_dims >= 0 && t->n_dims <= VLA_TORCH_MAX_DIMS, "'%s': %d dims", t->name, t->n_dims);
            for (d = 0; d < t->n_dims; d++) {
                FZ_ASSERT(t->shape[d] >= 0, "'%s': dim %d is %lld", t->name, d, (long long)t->shape[d]);
                numel *= t->shape[d];
            }
            FZ_ASSERT(numel == t->numel && (uint64_t)t->nbytes == (uint64_t)t->numel * vla_torch_dtype_size(t->dtype),
                      "'%s': %lld elements, %zu bytes", t->name, (long long)t->numel, t->nbytes);
            FZ_ASSERT(t->storage_id >= 0 && t->storage_id < f.n_storages, "'%s': storage %d of %d", t->name, t->storage_id,
                      f.n_storages);
            if (!t->owns_data)
                FZ_ASSERT(t->nbytes == 0 || ((const unsigned char *)t->data >= data &&
                                             t->nbytes <= size - (size_t)((const unsigned char *)t->data - data)),
                          "'%s' points outside the file", t->name);
            h += fz_touch(t->data, t->nbytes);
            FZ_ASSERT(vla_torch_find(&f, t->name) == t, "'%s' is not found by name", t->name);
        }
    } else {
        FZ_ASSERT(rc > 0 && rc <= VLA_TORCH_ERR_NOMEM && err[0], "code %d, message '%s'", rc, err);
    }
    vla_torch_close(&f);
    if (vla_ckpt_open_mem(&k, data, size, err, sizeof err) == 0) {
        for (i = 0; i < k.n; i++) h += fz_touch(k.src[i].data, k.src[i].nbytes);
        fz_convert_ckpt(&k);
        vla_ckpt_close(&k);
    }
    (void)h;
    return 0;
}
