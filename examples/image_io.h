/* examples/image_io.h - load an image file for the examples and tools.
 *
 * Example-side code: it uses stdio and malloc, which the library itself never
 * does.  Include it after vladapter.h (its image part must be there); the
 * program must compile the library implementation in one file as usual.
 *
 *   int w, h, ch;
 *   char err[128];
 *   unsigned char *px = vla_example_load_image("cat.png", &w, &h, &ch, err, sizeof err);
 *   if (!px) { fprintf(stderr, "%s\n", err); return 1; }
 *   vla_image img;
 *   vla_image_view(&img, px, w, h, ch, 0);          // packed rows
 *   ... vla_clip_preprocess(&arena, input, 224, VLA_LAYOUT_HWC, &img) ...
 *   vla_example_free_image(px);
 *
 * Decoders:
 *   - stb_image (PNG, JPEG, BMP, GIF, TGA, PSD, HDR, PIC, PNM) when the system
 *     has it: Debian's libstb-dev installs /usr/include/stb/stb_image.h and the
 *     compiled library (link with -lstb).  It is used when the build defines
 *     VLA_HAVE_STB_IMAGE (the Makefile does so after checking that the header
 *     exists), or when the compiler's __has_include finds <stb/stb_image.h> or
 *     <stb_image.h>.  Define VLA_NO_STB_IMAGE to never use it.
 *   - otherwise the library's own binary PNM reader (P5 gray / P6 RGB, maxval
 *     255): vla_example_load_pnm, which is also callable directly.
 * vla_example_load_image_mem and vla_example_load_pnm_mem do the same for a
 * file that is already in memory.
 *
 * Pixels come back as the file stores them: 1 (gray), 2 (gray+alpha), 3 (RGB)
 * or 4 (RGBA) interleaved 8-bit channels, rows packed, top row first -- every
 * form vla_image takes; the library converts to RGB the way PIL's
 * convert("RGB") does.  Like PIL's Image.open, no EXIF rotation, gamma or ICC
 * transform is applied.  16-bit files are reduced to 8 bits by stb (v >> 8),
 * which is not what PIL does with them; the fixtures use 8-bit files only.
 */
#ifndef VLA_EXAMPLE_IMAGE_IO_H
#define VLA_EXAMPLE_IMAGE_IO_H

#include "../vladapter.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef VLADAPTER_IMAGE_H
#error "include vladapter.h before examples/image_io.h"
#endif

/* Pick the stb_image header, if any. */
#if !defined(VLA_NO_STB_IMAGE)
#if defined(__has_include)
#if __has_include(<stb/stb_image.h>)
#define VLA_EX__STB_HEADER <stb/stb_image.h>
#elif __has_include(<stb_image.h>)
#define VLA_EX__STB_HEADER <stb_image.h>
#endif
#endif
#if defined(VLA_HAVE_STB_IMAGE) && !defined(VLA_EX__STB_HEADER)
#define VLA_EX__STB_HEADER <stb/stb_image.h>
#endif
#endif

#ifdef VLA_EX__STB_HEADER
#include VLA_EX__STB_HEADER
#define VLA_EX__HAVE_STB 1
#endif

/* Functions are static inline so that a program that includes this header
 * but uses only part of it gets no unused-function warnings. */

static inline void vla_ex__err(char *err, size_t cap, const char *a, const char *b) {
    if (err && cap) {
        snprintf(err, cap, "%s%s%s", a, b ? ": " : "", b ? b : "");
    }
}

/* Which decoder vla_example_load_image uses. */
static inline const char *vla_example_image_backend(void) {
#ifdef VLA_EX__HAVE_STB
    return "stb_image";
#else
    return "built-in PNM (P5/P6)";
#endif
}

/* Read a whole file into malloc'd memory (at most 1 GiB). */
static inline unsigned char *vla_ex__read_file(const char *path, size_t *size, char *err, size_t cap) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (!f) { vla_ex__err(err, cap, "cannot open", path); return NULL; }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || n > (1L << 30) || fseek(f, 0, SEEK_SET) != 0) {
        vla_ex__err(err, cap, "cannot size (or larger than 1 GiB)", path);
        fclose(f);
        return NULL;
    }
    buf = (unsigned char *)malloc(n > 0 ? (size_t)n : 1);
    if (!buf) { vla_ex__err(err, cap, "out of memory reading", path); fclose(f); return NULL; }
    if ((size_t)n != fread(buf, 1, (size_t)n, f)) {
        vla_ex__err(err, cap, "read error", path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    *size = (size_t)n;
    return buf;
}

/* A binary PNM (P5/P6, maxval 255) in memory -> malloc'd packed pixels, or
 * NULL with "name: reason" in err. */
static inline unsigned char *vla_ex__pnm(const void *data, size_t size, const char *name, int *width, int *height, int *channels,
                                         char *err, size_t err_size) {
    vla_image img;
    vla_status st = vla_pnm_read(&img, data, size, NULL);
    unsigned char *px;
    size_t bytes;
    if (st != VLA_OK) {
        vla_ex__err(err, err_size, name, vla_status_str(st));
        return NULL;
    }
    bytes = img.stride * (size_t)img.height; /* the reader's rows are packed */
    px = (unsigned char *)malloc(bytes);
    if (!px) { vla_ex__err(err, err_size, "out of memory decoding", name); return NULL; }
    memcpy(px, img.data, bytes);
    *width = img.width;
    *height = img.height;
    *channels = img.channels;
    return px;
}

/* Load a binary PNM (P5/P6, maxval 255) file with the library's reader.
 * Returns malloc'd packed pixels (free with vla_example_free_image) or NULL
 * with a reason in err. */
static inline unsigned char *vla_example_load_pnm(const char *path, int *width, int *height, int *channels, char *err,
                                                  size_t err_size) {
    size_t size = 0;
    unsigned char *file = vla_ex__read_file(path, &size, err, err_size), *px;
    if (!file) return NULL;
    px = vla_ex__pnm(file, size, path, width, height, channels, err, err_size);
    free(file);
    return px;
}

/* The same for a PNM file already in memory (data is not kept). */
static inline unsigned char *vla_example_load_pnm_mem(const void *data, size_t size, int *width, int *height, int *channels,
                                                      char *err, size_t err_size) {
    return vla_ex__pnm(data, size, "PNM image", width, height, channels, err, err_size);
}

/* Load any image file the available decoder reads (see the top of this file).
 * Returns malloc'd packed pixels, or NULL with a reason in err. */
static inline unsigned char *vla_example_load_image(const char *path, int *width, int *height, int *channels,
                                                    char *err, size_t err_size) {
#ifdef VLA_EX__HAVE_STB
    int w = 0, h = 0, n = 0;
    size_t bytes;
    unsigned char *px, *copy;
    px = stbi_load(path, &w, &h, &n, 0);
    if (!px) { vla_ex__err(err, err_size, path, stbi_failure_reason()); return NULL; }
    if (w < 1 || h < 1 || w > VLA_MAX_IMAGE_DIM || h > VLA_MAX_IMAGE_DIM || n < 1 || n > 4) {
        vla_ex__err(err, err_size, path, "image size or channel count out of range");
        stbi_image_free(px);
        return NULL;
    }
    /* Hand back plain malloc memory, so one free function fits every decoder. */
    bytes = (size_t)w * (size_t)h * (size_t)n;
    copy = (unsigned char *)malloc(bytes);
    if (copy) memcpy(copy, px, bytes);
    else vla_ex__err(err, err_size, "out of memory decoding", path);
    stbi_image_free(px);
    if (!copy) return NULL;
    *width = w;
    *height = h;
    *channels = n;
    return copy;
#else
    return vla_example_load_pnm(path, width, height, channels, err, err_size);
#endif
}

/* The same for a file already in memory (an upload, a camera buffer, a
 * fuzzer's input): any format the available decoder reads.  data is not
 * kept.  Returns malloc'd packed pixels, or NULL with a reason in err. */
static inline unsigned char *vla_example_load_image_mem(const void *data, size_t size, int *width, int *height, int *channels,
                                                        char *err, size_t err_size) {
#ifdef VLA_EX__HAVE_STB
    int w = 0, h = 0, n = 0;
    size_t bytes;
    unsigned char *px, *copy;
    if (size > 0x7fffffff) { vla_ex__err(err, err_size, "image", "larger than 2 GiB"); return NULL; }
    px = stbi_load_from_memory((const stbi_uc *)data, (int)size, &w, &h, &n, 0);
    if (!px) { vla_ex__err(err, err_size, "image", stbi_failure_reason()); return NULL; }
    if (w < 1 || h < 1 || w > VLA_MAX_IMAGE_DIM || h > VLA_MAX_IMAGE_DIM || n < 1 || n > 4) {
        vla_ex__err(err, err_size, "image", "image size or channel count out of range");
        stbi_image_free(px);
        return NULL;
    }
    bytes = (size_t)w * (size_t)h * (size_t)n;
    copy = (unsigned char *)malloc(bytes);
    if (copy) memcpy(copy, px, bytes);
    else vla_ex__err(err, err_size, "out of memory decoding", "image");
    stbi_image_free(px);
    if (!copy) return NULL;
    *width = w;
    *height = h;
    *channels = n;
    return copy;
#else
    return vla_example_load_pnm_mem(data, size, width, height, channels, err, err_size);
#endif
}

static inline void vla_example_free_image(unsigned char *pixels) { free(pixels); }

/* Decoded pixels (w x h, ch 1 to 4 interleaved 8-bit channels, rows packed)
 * -> a malloc'd CLIP input [S, S, 3] (HWC) through vla_clip_preprocess; NULL
 * with a sentence in err.  Free with free(). */
static inline float *vla_example_clip_input(const unsigned char *px, int w, int h, int ch, int S, char *err, size_t cap) {
    vla_image im;
    vla_arena a;
    vla_status st;
    size_t need;
    void *mem;
    float *out;
    if (S <= 0 || vla_image_view(&im, px, w, h, ch, 0) != VLA_OK) {
        if (err && cap) snprintf(err, cap, "not a picture the library takes (%dx%d, %d channels)", w, h, ch);
        return NULL;
    }
    need = vla_clip_preprocess_scratch_size(w, h, S) + 2 * VLA_ALIGN;
    out = (float *)malloc(sizeof(float) * 3 * (size_t)S * S);
    mem = malloc(need);
    if (!out || !mem) {
        free(out);
        free(mem);
        if (err && cap) snprintf(err, cap, "out of memory");
        return NULL;
    }
    vla_arena_init(&a, mem, need);
    if ((st = vla_clip_preprocess(&a, out, S, VLA_LAYOUT_HWC, &im)) != VLA_OK) {
        if (err && cap) snprintf(err, cap, "the CLIP preprocessing refuses it (%dx%d, %d channels): %s", w, h, ch, vla_status_str(st));
        free(out);
        out = NULL;
    }
    free(mem);
    return out;
}

#endif /* VLA_EXAMPLE_IMAGE_IO_H */
