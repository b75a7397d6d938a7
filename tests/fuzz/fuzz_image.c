/* tests/fuzz/fuzz_image.c - the image input layer ([D9]) on outside bytes.
 *
 * An input starting with 'P' is a picture file: vla_pnm_read (every image of
 * a PNM stream, at most four), the examples' from-memory loader
 * (examples/image_io.h vla_example_load_image_mem, built here with its PNM
 * decoder: VLA_NO_STB_IMAGE) which must agree with it, then the bicubic
 * resize and CLIP preprocessing of what was read.
 * Any other input describes raw pixels: byte 0 = channels - 1 (bits 0-1),
 * row padding (bit 2), layout (bit 3); bytes 1-2 / 3-4 = width / height - 1
 * (little-endian, mod 512); bytes 5 / 6 = output width / height - 1 (mod 64);
 * byte 7 = CLIP size - 1 (mod 64); the pixels follow.
 * Properties checked besides memory safety: the view stays inside the input,
 * the two PNM readers agree, the resize and preprocessing use no more scratch
 * than their size queries say, the normalised pixels are finite, and resizing
 * twice gives the same bytes.
 */
#define VLA_NO_STB_IMAGE 1
#define VLADAPTER_IMPLEMENTATION
#include "../../vladapter.h"
#include "../../examples/image_io.h"
#include "fuzz_common.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int finite_all(const float *x, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* Resize img to out_w x out_h twice (same bytes), then CLIP-preprocess it to
 * S x S in the given layout; every step checked against its size query. */
static void resize_and_preprocess(const vla_image *img, int out_w, int out_h, int S, vla_layout layout) {
    size_t need = vla_image_resize_scratch_size(img->width, img->height, out_w, out_h), cneed, outn = (size_t)out_w * out_h * 3;
    unsigned char *a = (unsigned char *)malloc(outn), *b = (unsigned char *)malloc(outn);
    float *x = (float *)malloc(sizeof(float) * (size_t)S * S * 3);
    void *mem;
    vla_arena ar;
    vla_arena_stats s;
    vla_status st;
    FZ_ASSERT(need != (size_t)-1, "resize scratch of %dx%d -> %dx%d overflows", img->width, img->height, out_w, out_h);
    mem = malloc(need + VLA_ALIGN);
    vla_arena_init(&ar, mem, need + VLA_ALIGN);
    st = vla_image_resize(&ar, a, out_w, out_h, img);
    FZ_ASSERT(st == VLA_OK, "resize %dx%dx%d -> %dx%d: %s", img->width, img->height, img->channels, out_w, out_h, vla_status_str(st));
    s = vla_arena_get_stats(&ar);
    FZ_ASSERT(s.scratch_peak <= need, "resize took %zu bytes of scratch, its query said %zu", s.scratch_peak, need);
    FZ_ASSERT(vla_image_resize(&ar, b, out_w, out_h, img) == VLA_OK && !memcmp(a, b, outn), "resizing twice differs");
    free(mem);
    cneed = vla_clip_preprocess_scratch_size(img->width, img->height, S);
    mem = malloc(cneed + VLA_ALIGN);
    vla_arena_init(&ar, mem, cneed + VLA_ALIGN);
    st = vla_clip_preprocess(&ar, x, S, layout, img);
    FZ_ASSERT(st == VLA_OK, "preprocess to %d: %s", S, vla_status_str(st));
    s = vla_arena_get_stats(&ar);
    FZ_ASSERT(s.scratch_peak <= cneed, "preprocess took %zu bytes of scratch, its query said %zu", s.scratch_peak, cneed);
    FZ_ASSERT(finite_all(x, (size_t)S * S * 3), "preprocessed pixels are not finite");
    free(mem);
    free(x);
    free(a);
    free(b);
}

static void pnm(const uint8_t *data, size_t size) {
    size_t pos = 0;
    int k;
    for (k = 0; k < 4 && pos < size; k++) {
        vla_image img;
        size_t used = 0, off, row, y;
        unsigned sum = 0;
        vla_status st = vla_pnm_read(&img, data + pos, size - pos, &used);
        if (st != VLA_OK) {
            FZ_ASSERT(st == VLA_ERR_FORMAT || st == VLA_ERR_UNSUPPORTED, "PNM: %s", vla_status_str(st));
            break;
        }
        /* the view lies inside the input, and so does *used */
        off = (size_t)(img.data - (data + pos));
        row = (size_t)img.width * (size_t)img.channels;
        FZ_ASSERT(img.data >= data + pos && off <= size - pos, "raster outside the input");
        FZ_ASSERT(img.channels == 1 || img.channels == 3, "%d channels", img.channels);
        FZ_ASSERT(img.stride >= row && img.stride * (size_t)img.height <= size - pos - off, "raster past the input");
        FZ_ASSERT(used == off + img.stride * (size_t)img.height && used <= size - pos, "used %zu", used);
        for (y = 0; y < (size_t)img.height; y++) sum += img.data[y * img.stride + row - 1]; /* touch every row's end */
        (void)sum;
        if (k == 0) { /* the examples' loader reads the same picture */
            int w = 0, h = 0, ch = 0;
            char err[128];
            unsigned char *px = vla_example_load_image_mem(data, size, &w, &h, &ch, err, sizeof err);
            FZ_ASSERT(px && w == img.width && h == img.height && ch == img.channels, "the example loader disagrees: %s",
                      px ? "other size" : err);
            for (y = 0; y < (size_t)h; y++) FZ_ASSERT(!memcmp(px + y * row, img.data + y * img.stride, row), "row %zu differs", y);
            vla_example_free_image(px);
        }
        if ((size_t)img.width * (size_t)img.height <= ((size_t)1 << 20))
            resize_and_preprocess(&img, 1 + (img.width * 3) % 17, 1 + (img.height * 5) % 13, 32, k & 1 ? VLA_LAYOUT_CHW : VLA_LAYOUT_HWC);
        pos += used;
    }
    if (pos == 0) { /* not a readable PNM: the loader must say so too */
        int w, h, ch;
        char err[128];
        unsigned char *px = vla_example_load_image_mem(data, size, &w, &h, &ch, err, sizeof err);
        FZ_ASSERT(px == NULL && err[0], "the example loader read what vla_pnm_read refused");
    }
}

static void raw(const uint8_t *data, size_t size) {
    int ch, pad, w, h, ow, oh, S;
    size_t stride, need;
    vla_image img;
    vla_layout layout;
    unsigned char *px;
    if (size < 8) return;
    ch = 1 + (data[0] & 3);
    pad = (data[0] >> 2) & 1;
    layout = (data[0] >> 3) & 1 ? VLA_LAYOUT_CHW : VLA_LAYOUT_HWC;
    w = 1 + (int)(((unsigned)data[1] | ((unsigned)data[2] << 8)) % 512);
    h = 1 + (int)(((unsigned)data[3] | ((unsigned)data[4] << 8)) % 512);
    ow = 1 + data[5] % 64;
    oh = 1 + data[6] % 64;
    S = 1 + data[7] % 64;
    stride = (size_t)w * ch + (size_t)pad * 3;
    need = stride * (size_t)(h - 1) + (size_t)w * ch; /* the last row needs no padding */
    if (size - 8 < need) return;
    px = (unsigned char *)malloc(need); /* exactly the bytes the view may read */
    memcpy(px, data + 8, need);
    FZ_ASSERT(vla_image_view(&img, px, w, h, ch, stride) == VLA_OK, "view %dx%dx%d stride %zu", w, h, ch, stride);
    resize_and_preprocess(&img, ow, oh, S, layout);
    /* views the checks must refuse */
    if ((size_t)w * ch > 1)
        FZ_ASSERT(vla_image_view(&img, px, w, h, ch, (size_t)w * ch - 1) != VLA_OK, "a stride below the row was accepted");
    FZ_ASSERT(vla_image_view(&img, px, w, h, 5, 0) != VLA_OK, "5 channels were accepted");
    free(px);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    if (data[0] == 'P') pnm(data, size);
    else raw(data, size);
    return 0;
}
