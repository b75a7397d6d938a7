/* tests/test_image.c - image input layer: Pillow-exact resize, CLIP
 * normalisation, PNM reader, file loading.
 *
 *   usage: test_image [fixtures_dir]        (default tests/fixtures)
 *
 * Reads <dir>/clip_preprocess/{rgb_uint8,resized_uint8,pixel_values}.npy,
 * manifest.json and chelsea.png.  Exit status 0 only if every check passes;
 * the last line printed is "N passed, M failed".
 *
 * Build (the Makefile's flags): -std=c99 -Wall -Wextra -Wpedantic -Werror,
 * plus -lstb when /usr/include/stb/stb_image.h exists (otherwise define
 * VLA_NO_STB_IMAGE and the PNG check is skipped); also compiles as C++.
 * Meant to run under -fsanitize=address,undefined -fno-sanitize-recover=undefined.
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "test_util.h"

#include "../examples/image_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>

/* ---------------------------------------------------------------------------
 * Harness
 * ------------------------------------------------------------------------- */



/* Deterministic pseudo-random numbers (xorshift32). */
static uint32_t g_rng = 0x12345678u;
static uint32_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 17;
    g_rng ^= g_rng << 5;
    return g_rng;
}
static int rnd_in(int lo, int hi) { return lo + (int)(rnd() % (uint32_t)(hi - lo + 1)); }


static uint64_t fnv1a(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    size_t i;
    for (i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* An arena over a fresh heap block of exactly `size` usable bytes. */
typedef struct test_arena {
    vla_arena a;
    void *mem;
} test_arena;

static void arena_make(test_arena *t, size_t size) {
    t->mem = xmalloc(size + VLA_ALIGN);
    vla_arena_init(&t->a, t->mem, size + VLA_ALIGN);
    /* vla_arena_init skips to the first aligned byte; trim to `size` exactly. */
    t->a.size = size;
    t->a.hi = size;
}
static void arena_free(test_arena *t) { free(t->mem); }

/* ---------------------------------------------------------------------------
 * Minimal .npy reader (little-endian, C order); the shared one will replace it.
 * ------------------------------------------------------------------------- */

typedef struct npy {
    unsigned char *file;
    const unsigned char *data;
    size_t nbytes;
    char descr[16];
    int ndim;
    long shape[8];
} npy;

static int npy_load(npy *a, const char *path) {
    size_t size = 0, hlen, hstart, count = 1, elem;
    const char *h, *p;
    char hdr[1024];
    int i;
    memset(a, 0, sizeof *a);
    a->file = read_file(path, &size);
    if (!a->file) return 0;
    if (size < 10 || memcmp(a->file, "\x93NUMPY", 6) != 0) return 0;
    if (a->file[6] == 1) { hlen = a->file[8] | (size_t)a->file[9] << 8; hstart = 10; }
    else { hlen = vla__rd32(a->file + 8); hstart = 12; }
    if (hstart + hlen > size || hlen >= sizeof hdr) return 0;
    memcpy(hdr, a->file + hstart, hlen);
    hdr[hlen] = 0;
    h = hdr;
    /* 'descr': '<f4' */
    p = strstr(h, "'descr'");
    if (!p || !(p = strchr(p + 7, '\''))) return 0;
    for (i = 0, p++; *p && *p != '\'' && i < 15; p++) a->descr[i++] = *p;
    a->descr[i] = 0;
    p = strstr(h, "'fortran_order'");
    if (!p || !strstr(p, "False")) return 0;
    p = strstr(h, "'shape'");
    if (!p || !(p = strchr(p, '('))) return 0;
    for (p++, a->ndim = 0; *p && *p != ')' && a->ndim < 8;) {
        if (*p >= '0' && *p <= '9') {
            a->shape[a->ndim] = strtol(p, (char **)&p, 10);
            count *= (size_t)a->shape[a->ndim++];
        } else {
            p++;
        }
    }
    elem = (size_t)(a->descr[2] - '0');
    if (strlen(a->descr) != 3 || (a->descr[0] != '<' && a->descr[0] != '|')) return 0;
    a->data = a->file + hstart + hlen;
    a->nbytes = count * elem;
    return a->data + a->nbytes <= a->file + size;
}

static void npy_free(npy *a) { free(a->file); }

/* The atol of `file` in manifest.json (first "atol" after the file's key). */
static double manifest_atol(const char *dir, const char *file, double fallback) {
    char path[1024], key[128];
    size_t size = 0;
    unsigned char *m;
    const char *p;
    double v = fallback;
    snprintf(path, sizeof path, "%s/clip_preprocess/manifest.json", dir);
    m = read_file(path, &size);
    if (!m) return fallback;
    {
        unsigned char *z = (unsigned char *)xmalloc(size + 1);
        memcpy(z, m, size);
        z[size] = 0;
        free(m);
        m = z;
    }
    snprintf(key, sizeof key, "\"%s\"", file);
    p = strstr((const char *)m, key);
    if (p) p = strstr(p, "\"atol\"");
    if (p) p = strchr(p, ':');
    if (p) v = strtod(p + 1, NULL);
    free(m);
    return v;
}

/* ---------------------------------------------------------------------------
 * Independent reference: Pillow's algorithm written plainly, the way Pillow
 * structures it (whole intermediate image, int64 sums), to check the
 * library's streaming version bit for bit on arbitrary sizes.
 * ------------------------------------------------------------------------- */

static double ref_cubic(double x) {
    const double a = -0.5;
    double ax = x < 0 ? -x : x, r;
    volatile double t;
    if (ax < 1.0) {
        t = (a + 2.0) * ax;
        t = (t - (a + 3.0)) * ax * ax;
        r = t + 1.0;
    } else if (ax < 2.0) {
        t = (ax - 5.0) * ax;
        t = (t + 8.0) * ax;
        r = (t - 4.0) * a;
    } else {
        r = 0.0;
    }
    return r;
}

/* Taps of one axis: for output o, win[o] = first input, len[o] = count,
 * wt[o][0..len) = Pillow's fixed-point weights. */
typedef struct ref_axis {
    int n_out, kmax;
    int *win, *len;
    long *wt;
} ref_axis;

static void ref_axis_make(ref_axis *ax, int n_in, int n_out) {
    double scale = (double)n_in / n_out, fs = scale > 1.0 ? scale : 1.0, sup = fs * 2.0;
    double *kv;
    int o, i;
    ax->n_out = n_out;
    ax->kmax = 2 * (int)ceil(sup) + 1;
    ax->win = (int *)xmalloc(sizeof(int) * (size_t)n_out);
    ax->len = (int *)xmalloc(sizeof(int) * (size_t)n_out);
    ax->wt = (long *)xmalloc(sizeof(long) * (size_t)n_out * (size_t)ax->kmax);
    kv = (double *)xmalloc(sizeof(double) * (size_t)ax->kmax);
    for (o = 0; o < n_out; o++) {
        volatile double c = (o + 0.5) * scale;
        double lo = c - sup + 0.5, hi = c + sup + 0.5, total = 0.0;
        int i0 = lo < 0 ? 0 : (int)lo, i1 = (int)hi > n_in ? n_in : (int)hi;
        for (i = i0; i < i1; i++) {
            volatile double arg = (i - c + 0.5) * (1.0 / fs);
            kv[i - i0] = ref_cubic(arg);
            total += kv[i - i0];
        }
        ax->win[o] = i0;
        ax->len[o] = i1 - i0;
        for (i = 0; i < i1 - i0; i++) {
            double k = total != 0.0 ? kv[i] / total : kv[i];
            ax->wt[(size_t)o * ax->kmax + i] = (long)(k >= 0 ? 0.5 + k * 4194304.0 : -0.5 + k * 4194304.0);
        }
    }
    free(kv);
}

static void ref_axis_free(ref_axis *ax) { free(ax->win); free(ax->len); free(ax->wt); }

static unsigned char ref_clamp(long long acc) {
    long long v = acc >= 0 ? acc / 4194304 : -((-acc + 4194303) / 4194304); /* floor */
    return (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* rgb[h][w][3] -> out[oh][ow][3] */
static void ref_resize(unsigned char *out, const unsigned char *rgb, int w, int h, int ow, int oh) {
    ref_axis ax, ay;
    unsigned char *tmp;
    int row0, row1, x, y, c, t;
    int need_h = ow != w, need_v = oh != h;
    ref_axis_make(&ay, h, oh);
    row0 = ay.win[0];
    row1 = ay.win[oh - 1] + ay.len[oh - 1];
    if (!need_v) { row0 = 0; row1 = h; }
    /* Horizontal pass over the rows the vertical pass reads. */
    tmp = (unsigned char *)xmalloc((size_t)(row1 - row0) * (size_t)ow * 3);
    if (need_h) {
        ref_axis_make(&ax, w, ow);
        for (y = row0; y < row1; y++)
            for (x = 0; x < ow; x++)
                for (c = 0; c < 3; c++) {
                    long long acc = 1 << 21;
                    for (t = 0; t < ax.len[x]; t++)
                        acc += (long long)rgb[((size_t)y * w + ax.win[x] + t) * 3 + c] * ax.wt[(size_t)x * ax.kmax + t];
                    tmp[((size_t)(y - row0) * ow + x) * 3 + c] = ref_clamp(acc);
                }
        ref_axis_free(&ax);
    } else {
        memcpy(tmp, rgb + (size_t)row0 * w * 3, (size_t)(row1 - row0) * w * 3);
    }
    if (need_v) {
        for (y = 0; y < oh; y++)
            for (x = 0; x < ow * 3; x++) {
                long long acc = 1 << 21;
                for (t = 0; t < ay.len[y]; t++)
                    acc += (long long)tmp[(size_t)(ay.win[y] - row0 + t) * ow * 3 + x] * ay.wt[(size_t)y * ay.kmax + t];
                out[(size_t)y * ow * 3 + x] = ref_clamp(acc);
            }
    } else {
        memcpy(out, tmp, (size_t)oh * ow * 3);
    }
    ref_axis_free(&ay);
    free(tmp);
}

/* ---------------------------------------------------------------------------
 * Helpers around the library
 * ------------------------------------------------------------------------- */

/* Resize with an arena of exactly the advertised scratch size. */
static vla_status resize_exact(unsigned char *out, int ow, int oh, const vla_image *src) {
    size_t need = vla_image_resize_scratch_size(src->width, src->height, ow, oh);
    test_arena t;
    vla_status st;
    arena_make(&t, need);
    st = vla_image_resize(&t.a, out, ow, oh, src);
    if (t.a.hi != t.a.size) st = VLA_ERR_STATE; /* scratch not released */
    arena_free(&t);
    return st;
}

/* The two pattern images of the Pillow oracle below. */
static void make_pattern(unsigned char *img, int kind, int w, int h) {
    int x, y, c;
    for (y = 0; y < h; y++)
        for (x = 0; x < w; x++)
            for (c = 0; c < 3; c++) {
                unsigned char v;
                if (kind == 0) {
                    uint64_t t = ((uint64_t)x * 73856093u) ^ ((uint64_t)y * 19349663u) ^ ((uint64_t)c * 83492791u);
                    t = (t * 2654435761u) & 0xffffffffu;
                    v = (unsigned char)(t >> 24);
                } else {
                    v = (((x + c) / 3 + y / 2) % 2) ? 255 : 0;
                }
                img[((size_t)y * w + x) * 3 + c] = v;
            }
}

/* ---------------------------------------------------------------------------
 * Tests: fixtures
 * ------------------------------------------------------------------------- */

static void test_fixtures(const char *dir) {
    char path[1024];
    npy src, exp, pv;
    int ok_src, ok_exp, ok_pv;
    vla_image img;
    unsigned char *out;
    float *hwc, *chw, *one;
    size_t i, diff = 0, n;
    double atol = manifest_atol(dir, "pixel_values.npy", 1e-6), maxerr = 0.0;
    int c, p;

    snprintf(path, sizeof path, "%s/clip_preprocess/rgb_uint8.npy", dir);
    ok_src = npy_load(&src, path);
    snprintf(path, sizeof path, "%s/clip_preprocess/resized_uint8.npy", dir);
    ok_exp = npy_load(&exp, path);
    snprintf(path, sizeof path, "%s/clip_preprocess/pixel_values.npy", dir);
    ok_pv = npy_load(&pv, path);
    CHECK(ok_src && src.ndim == 3 && src.shape[0] == 240 && src.shape[1] == 320 && src.shape[2] == 3 &&
              strcmp(src.descr, "|u1") == 0, "rgb_uint8.npy missing or unexpected (dir %s)", dir);
    CHECK(ok_exp && exp.ndim == 3 && exp.shape[0] == 224 && exp.shape[1] == 224 && exp.shape[2] == 3,
          "resized_uint8.npy missing or unexpected");
    CHECK(ok_pv && pv.ndim == 4 && pv.shape[1] == 3 && pv.shape[2] == 224 && strcmp(pv.descr, "<f4") == 0,
          "pixel_values.npy missing or unexpected");
    if (!(ok_src && ok_exp && ok_pv)) { npy_free(&src); npy_free(&exp); npy_free(&pv); return; }

    /* 1. The resize is Pillow's, bit for bit. */
    CHECK(vla_image_view(&img, src.data, 320, 240, 3, 0) == VLA_OK, "view");
    out = (unsigned char *)xmalloc(224 * 224 * 3);
    CHECK(resize_exact(out, 224, 224, &img) == VLA_OK, "resize of rgb_uint8");
    for (i = 0; i < exp.nbytes; i++) diff += out[i] != exp.data[i];
    CHECK(diff == 0, "resized_uint8: %lu of %lu values differ", (unsigned long)diff, (unsigned long)exp.nbytes);

    /* 2. Normalisation against pixel_values (CHW) within the manifest's atol. */
    n = 224 * 224 * 3;
    hwc = (float *)xmalloc(n * sizeof(float));
    chw = (float *)xmalloc(n * sizeof(float));
    one = (float *)xmalloc(n * sizeof(float));
    CHECK(vla_image_normalize(chw, exp.data, 224, 224, NULL, NULL, VLA_LAYOUT_CHW) == VLA_OK, "normalize chw");
    CHECK(vla_image_normalize(hwc, exp.data, 224, 224, NULL, NULL, VLA_LAYOUT_HWC) == VLA_OK, "normalize hwc");
    for (i = 0; i < n; i++) {
        float e;
        memcpy(&e, pv.data + 4 * i, 4);
        if (fabs((double)chw[i] - (double)e) > maxerr) maxerr = fabs((double)chw[i] - (double)e);
    }
    CHECK(maxerr <= atol, "pixel_values: max |err| %g > atol %g", maxerr, atol);
    printf("pixel_values: max |err| = %g (atol %g)\n", maxerr, atol);
    diff = 0;
    for (p = 0; p < 224 * 224; p++)
        for (c = 0; c < 3; c++) diff += memcmp(&hwc[(size_t)p * 3 + c], &chw[(size_t)c * 224 * 224 + p], 4) != 0;
    CHECK(diff == 0, "HWC is not the transpose of CHW (%lu values)", (unsigned long)diff);

    /* 3. One call, both layouts, equals the two steps exactly. */
    {
        size_t need = vla_clip_preprocess_scratch_size(320, 240, 224);
        test_arena t;
        arena_make(&t, need);
        CHECK(need == vla_image_resize_scratch_size(320, 240, 224, 224), "preprocess scratch = resize scratch");
        CHECK(vla_clip_preprocess(&t.a, one, 224, VLA_LAYOUT_HWC, &img) == VLA_OK, "clip_preprocess hwc");
        CHECK(memcmp(one, hwc, n * sizeof(float)) == 0, "clip_preprocess HWC differs from resize + normalize");
        CHECK(vla_clip_preprocess(&t.a, one, 224, VLA_LAYOUT_CHW, &img) == VLA_OK, "clip_preprocess chw");
        CHECK(memcmp(one, chw, n * sizeof(float)) == 0, "clip_preprocess CHW differs from resize + normalize");
        CHECK(t.a.hi == t.a.size, "scratch released");
        arena_free(&t);
    }

    /* 4. Gray, gray+alpha, RGBA and padded rows equal the RGB path. */
    {
        const int W = 320, H = 240;
        size_t np = (size_t)W * H, stride = (size_t)W * 4 + 13;
        unsigned char *gray = (unsigned char *)xmalloc(np), *rep = (unsigned char *)xmalloc(np * 3);
        unsigned char *la = (unsigned char *)xmalloc(np * 2), *rgba = (unsigned char *)xmalloc(np * 4);
        unsigned char *pad = (unsigned char *)xmalloc(stride * H);
        unsigned char *o1 = (unsigned char *)xmalloc(224 * 224 * 3), *o2 = (unsigned char *)xmalloc(224 * 224 * 3);
        vla_image v;
        int x, y;
        for (i = 0; i < np; i++) {
            /* any gray image will do; take a mix of the channels */
            gray[i] = (unsigned char)((src.data[3 * i] * 3 + src.data[3 * i + 1] * 5 + src.data[3 * i + 2] * 2) / 10);
            rep[3 * i] = rep[3 * i + 1] = rep[3 * i + 2] = gray[i];
            la[2 * i] = gray[i];
            la[2 * i + 1] = (unsigned char)rnd();
            memcpy(rgba + 4 * i, src.data + 3 * i, 3);
            rgba[4 * i + 3] = (unsigned char)rnd();
        }
        for (i = 0; i < stride * H; i++) pad[i] = (unsigned char)rnd(); /* junk in the padding */
        for (y = 0; y < H; y++)
            for (x = 0; x < W; x++) memcpy(pad + (size_t)y * stride + (size_t)x * 4, rgba + ((size_t)y * W + x) * 4, 4);

        vla_image_view(&v, rep, W, H, 3, 0);
        resize_exact(o1, 224, 224, &v);
        vla_image_view(&v, gray, W, H, 1, 0);
        CHECK(resize_exact(o2, 224, 224, &v) == VLA_OK && memcmp(o1, o2, 224 * 224 * 3) == 0,
              "gray input differs from replicated RGB");
        vla_image_view(&v, la, W, H, 2, 0);
        CHECK(resize_exact(o2, 224, 224, &v) == VLA_OK && memcmp(o1, o2, 224 * 224 * 3) == 0,
              "gray+alpha input differs from replicated RGB");
        vla_image_view(&v, rgba, W, H, 4, 0);
        CHECK(resize_exact(o2, 224, 224, &v) == VLA_OK && memcmp(out, o2, 224 * 224 * 3) == 0,
              "RGBA input differs from RGB (alpha must be dropped)");
        CHECK(vla_image_view(&v, pad, W, H, 4, stride) == VLA_OK, "padded view");
        CHECK(resize_exact(o2, 224, 224, &v) == VLA_OK && memcmp(out, o2, 224 * 224 * 3) == 0,
              "RGBA with row padding differs from RGB");
        /* upscaling and same-size paths with a gray / padded source as well */
        {
            unsigned char *a1 = (unsigned char *)xmalloc((size_t)400 * 240 * 3);
            unsigned char *a2 = (unsigned char *)xmalloc((size_t)400 * 240 * 3);
            vla_image_view(&v, rep, W, H, 3, 0);
            resize_exact(a1, 400, 240, &v);
            vla_image_view(&v, gray, W, H, 1, 0);
            CHECK(resize_exact(a2, 400, 240, &v) == VLA_OK && memcmp(a1, a2, (size_t)400 * 240 * 3) == 0,
                  "gray 320x240 -> 400x240");
            vla_image_view(&v, src.data, W, H, 3, 0);
            resize_exact(a1, 320, 240, &v);
            vla_image_view(&v, pad, W, H, 4, stride);
            CHECK(resize_exact(a2, 320, 240, &v) == VLA_OK && memcmp(a1, a2, (size_t)320 * 240 * 3) == 0 &&
                      memcmp(a1, src.data, (size_t)320 * 240 * 3) == 0,
                  "same size: padded RGBA must come out as the RGB input");
            free(a1);
            free(a2);
        }
        free(gray); free(rep); free(la); free(rgba); free(pad); free(o1); free(o2);
    }

    /* 5. The PNM path end to end: P6 of the fixture -> reader -> resize. */
    {
        char hdr[64];
        int hl = snprintf(hdr, sizeof hdr, "P6\n# chelsea\n320 240\n255\n");
        size_t fsz = (size_t)hl + src.nbytes, used = 0;
        unsigned char *file = (unsigned char *)xmalloc(fsz), *o2 = (unsigned char *)xmalloc(224 * 224 * 3);
        vla_image v;
        memcpy(file, hdr, (size_t)hl);
        memcpy(file + hl, src.data, src.nbytes);
        CHECK(vla_pnm_read(&v, file, fsz, &used) == VLA_OK && used == fsz && v.data == file + hl, "pnm of fixture");
        CHECK(resize_exact(o2, 224, 224, &v) == VLA_OK && memcmp(o2, exp.data, exp.nbytes) == 0,
              "PNM -> resize differs from resized_uint8");
        free(file);
        free(o2);
    }

    /* 6. File loading through examples/image_io.h. */
    {
        char err[256] = "";
        int w = 0, h = 0, ch = 0;
        unsigned char *px;
        const char *tmpdir = getenv("TMPDIR");
        char tmp[1024];
        FILE *f;
#ifdef VLA_EX__HAVE_STB
        snprintf(path, sizeof path, "%s/clip_preprocess/chelsea.png", dir);
        px = vla_example_load_image(path, &w, &h, &ch, err, sizeof err);
        CHECK(px && w == 320 && h == 240 && ch == 3 && memcmp(px, src.data, src.nbytes) == 0,
              "stb decode of chelsea.png differs from rgb_uint8 (%s)", px ? "pixels" : err);
        vla_example_free_image(px);
#else
        printf("note: built without stb_image; PNG decode check skipped\n");
#endif
        snprintf(tmp, sizeof tmp, "%s/vla_test_image_%u.ppm", tmpdir && *tmpdir ? tmpdir : ".", (unsigned)rnd());
        f = fopen(tmp, "wb");
        CHECK(f != NULL, "cannot write %s", tmp);
        if (f) {
            fprintf(f, "P6 320 240 255\n");
            fwrite(src.data, 1, src.nbytes, f);
            fclose(f);
            px = vla_example_load_pnm(tmp, &w, &h, &ch, err, sizeof err);
            CHECK(px && w == 320 && h == 240 && ch == 3 && memcmp(px, src.data, src.nbytes) == 0,
                  "vla_example_load_pnm (%s)", px ? "pixels" : err);
            vla_example_free_image(px);
            px = vla_example_load_image(tmp, &w, &h, &ch, err, sizeof err);
            CHECK(px && w == 320 && h == 240 && ch == 3 && memcmp(px, src.data, src.nbytes) == 0,
                  "vla_example_load_image of a PPM via %s (%s)", vla_example_image_backend(), px ? "pixels" : err);
            vla_example_free_image(px);
            remove(tmp);
        }
        px = vla_example_load_image("/nonexistent/file.png", &w, &h, &ch, err, sizeof err);
        CHECK(px == NULL && err[0] != 0, "missing file must fail with a message");
    }

    free(out); free(hwc); free(chw); free(one);
    npy_free(&src); npy_free(&exp); npy_free(&pv);
}

/* ---------------------------------------------------------------------------
 * Tests: Pillow oracle on synthetic images (upscaling, odd sizes, one-axis)
 *
 * Hashes (FNV-1a 64 of the output bytes) made with Debian bookworm's
 * python3-pil 9.4.0 by this script (make_pattern above is its pattern()):
 *
 *   import numpy as np; from PIL import Image
 *   def pattern(kind, w, h):
 *       y, x = np.mgrid[0:h, 0:w].astype(np.uint64); out = np.zeros((h, w, 3), np.uint8)
 *       for c in range(3):
 *           if kind == 0:
 *               v = (x * 73856093) ^ (y * 19349663) ^ np.uint64(c * 83492791)
 *               out[..., c] = (((v * 2654435761) & 0xffffffff) >> 24).astype(np.uint8)
 *           else:
 *               out[..., c] = np.where(((x + c) // 3 + y // 2) % 2 == 1, 255, 0).astype(np.uint8)
 *       return out
 *   def fnv(b):
 *       h = 0xcbf29ce484222325
 *       for byte in b: h = ((h ^ byte) * 0x100000001b3) & 0xffffffffffffffff
 *       return h
 *   for k, iw, ih, ow, oh in CASES:
 *       r = np.asarray(Image.fromarray(pattern(k, iw, ih), 'RGB').resize((ow, oh), Image.BICUBIC))
 *       print(k, iw, ih, ow, oh, hex(fnv(r.tobytes())))
 * ------------------------------------------------------------------------- */

static const struct pillow_case {
    int kind, iw, ih, ow, oh;
    uint64_t hash;
} k_pillow[] = {
    {0, 7, 5, 224, 224, 0x7313aacb67a1a226ull},
    {1, 7, 5, 224, 224, 0x4d8cf8749132003dull},
    {0, 13, 17, 300, 40, 0x57358e6ac4535f9cull},
    {1, 13, 17, 300, 40, 0x279839ca4ee1ddebull},
    {0, 1, 1, 224, 224, 0x957a97f63a7c8f25ull},
    {0, 1, 9, 5, 3, 0x092fdf96cdb12731ull},
    {0, 320, 240, 224, 224, 0xf15b996888322c3eull},
    {1, 320, 240, 224, 224, 0xa47eb88375ff6871ull},
    {0, 640, 480, 224, 224, 0x46a8cfbc33fee72bull},
    {0, 224, 300, 224, 224, 0xc9520354e1810d4bull},
    {0, 300, 224, 224, 224, 0xd0edb1468202a1c3ull},
    {0, 50, 50, 50, 50, 0xd4fbe61bc6446639ull},
    {0, 2, 3, 1000, 7, 0x9e9cd90193673c5dull},
    {1, 3000, 2, 5, 9, 0xeba9cd7178c6468aull},
    {0, 17, 1, 3, 1, 0xe92c524049126801ull},
    {0, 5, 4000, 3, 2, 0x0b43eb6451cbc351ull},
    {1, 97, 61, 224, 224, 0x2c2181d6df04b4abull},
    {0, 224, 224, 448, 112, 0x2fb60d5d7cc90812ull},
};

static void test_pillow_oracle(void) {
    size_t k;
    int bad = 0;
    for (k = 0; k < sizeof k_pillow / sizeof k_pillow[0]; k++) {
        const struct pillow_case *pc = &k_pillow[k];
        unsigned char *in = (unsigned char *)xmalloc((size_t)pc->iw * pc->ih * 3);
        unsigned char *out = (unsigned char *)xmalloc((size_t)pc->ow * pc->oh * 3);
        unsigned char *ref = (unsigned char *)xmalloc((size_t)pc->ow * pc->oh * 3);
        vla_image v;
        uint64_t h;
        make_pattern(in, pc->kind, pc->iw, pc->ih);
        vla_image_view(&v, in, pc->iw, pc->ih, 3, 0);
        CHECK(resize_exact(out, pc->ow, pc->oh, &v) == VLA_OK, "resize %dx%d -> %dx%d", pc->iw, pc->ih, pc->ow, pc->oh);
        h = fnv1a(out, (size_t)pc->ow * pc->oh * 3);
        if (h != pc->hash) {
            bad++;
            printf("FAIL pillow case %d: kind %d %dx%d -> %dx%d: hash %016llx, Pillow %016llx\n", (int)k, pc->kind,
                   pc->iw, pc->ih, pc->ow, pc->oh, (unsigned long long)h, (unsigned long long)pc->hash);
        }
        /* the test's own reference must agree with Pillow too */
        ref_resize(ref, in, pc->iw, pc->ih, pc->ow, pc->oh);
        if (fnv1a(ref, (size_t)pc->ow * pc->oh * 3) != pc->hash) {
            bad++;
            printf("FAIL pillow case %d: the test's reference disagrees with Pillow\n", (int)k);
        }
        free(in); free(out); free(ref);
    }
    CHECK(bad == 0, "%d Pillow oracle mismatches", bad);
}

/* Random sizes against the reference, random content, random channel count. */
static void test_random_vs_reference(void) {
    int it, bad = 0, err = 0;
    for (it = 0; it < 120; it++) {
        int iw, ih, ow, oh, ch = 3, mode = rnd_in(0, 4);
        unsigned char *rgb, *src, *out, *ref;
        size_t np, i;
        vla_image v;
        /* mostly small, sometimes extreme ratios */
        iw = rnd_in(1, 64); ih = rnd_in(1, 64); ow = rnd_in(1, 96); oh = rnd_in(1, 96);
        if (mode == 1) { iw = rnd_in(200, 900); ow = rnd_in(1, 8); }
        if (mode == 2) { ih = rnd_in(1, 3); oh = rnd_in(150, 400); }
        if (mode == 3) { ow = iw; }
        if (mode == 4) { oh = ih; ch = rnd_in(1, 4); }
        np = (size_t)iw * ih;
        rgb = (unsigned char *)xmalloc(np * 3);
        src = (unsigned char *)xmalloc(np * 4);
        out = (unsigned char *)xmalloc((size_t)ow * oh * 3);
        ref = (unsigned char *)xmalloc((size_t)ow * oh * 3);
        for (i = 0; i < np; i++) {
            int c;
            uint32_t r = rnd();
            /* noise, with a third of the pixels pinned to 0/255 to hit the clamps */
            for (c = 0; c < ch; c++) src[i * ch + c] = (unsigned char)(r >> (8 * c));
            if (r % 3 == 0)
                for (c = 0; c < ch; c++) src[i * ch + c] = (r & 64) ? 255 : 0;
            for (c = 0; c < 3; c++) rgb[3 * i + c] = ch >= 3 ? src[i * ch + c] : src[i * ch];
        }
        vla_image_view(&v, src, iw, ih, ch, 0);
        if (resize_exact(out, ow, oh, &v) != VLA_OK) err++;
        ref_resize(ref, rgb, iw, ih, ow, oh);
        if (memcmp(out, ref, (size_t)ow * oh * 3) != 0) {
            if (bad < 5) printf("mismatch: %dx%dx%d -> %dx%d\n", iw, ih, ch, ow, oh);
            bad++;
        }
        free(rgb); free(src); free(out); free(ref);
    }
    CHECK(err == 0, "%d random resizes returned an error", err);
    CHECK(bad == 0, "%d of 120 random resizes differ from the reference", bad);
}

/* Extreme ratios at the size limit: 16384 -> 1 and 1 -> 16384 (the longest
 * weight rows and the largest upscale) match the reference. */
static void test_extremes(void) {
    const int N = VLA_MAX_IMAGE_DIM;
    unsigned char *row = (unsigned char *)xmalloc((size_t)N * 3), *out = (unsigned char *)xmalloc((size_t)N * 3);
    unsigned char *ref = (unsigned char *)xmalloc((size_t)N * 3);
    vla_image v;
    size_t i;
    for (i = 0; i < (size_t)N * 3; i++) row[i] = (unsigned char)((i % 7) ? rnd() : 255);
    vla_image_view(&v, row, N, 1, 3, 0);
    CHECK(resize_exact(out, 1, 1, &v) == VLA_OK, "16384 -> 1");
    ref_resize(ref, row, N, 1, 1, 1);
    CHECK(memcmp(out, ref, 3) == 0, "16384 -> 1 differs from reference");
    vla_image_view(&v, row, 1, N, 3, 3);
    CHECK(resize_exact(out, 3, 1, &v) == VLA_OK, "1x16384 -> 3x1");
    ref_resize(ref, row, 1, N, 3, 1);
    CHECK(memcmp(out, ref, 9) == 0, "1x16384 -> 3x1 differs from reference");
    vla_image_view(&v, row, 2, 1, 3, 0);
    CHECK(resize_exact(out, N, 1, &v) == VLA_OK, "2 -> 16384");
    ref_resize(ref, row, 2, 1, N, 1);
    CHECK(memcmp(out, ref, (size_t)N * 3) == 0, "2 -> 16384 differs from reference");
    free(row); free(out); free(ref);
}

/* ---------------------------------------------------------------------------
 * Tests: scratch accounting and argument checks
 * ------------------------------------------------------------------------- */

static void test_scratch_and_args(void) {
    static const int sizes[][4] = {{320, 240, 224, 224}, {7, 5, 224, 224}, {224, 300, 224, 224},
                                   {300, 224, 224, 224}, {50, 50, 50, 50}, {16384, 2, 224, 224}};
    const size_t in_bytes = (size_t)320 * 300 * 4; /* the largest source above */
    unsigned char *in = (unsigned char *)xmalloc(in_bytes), *out = (unsigned char *)xmalloc(224 * 224 * 3);
    vla_image v;
    size_t k;
    memset(in, 7, in_bytes);
    for (k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        const int *s = sizes[k];
        size_t need = vla_image_resize_scratch_size(s[0], s[1], s[2], s[3]);
        vla_arena m;
        test_arena t;
        vla_image_view(&v, in, s[0], s[1], 4, 0);
        /* measuring: records exactly `need`, touches nothing */
        vla_arena_init_measure(&m);
        memset(out, 0xab, 16);
        CHECK(vla_image_resize(&m, out, s[2], s[3], &v) == VLA_OK && m.peak_scratch == need && m.hi == m.size &&
                  out[0] == 0xab,
              "measure %dx%d->%dx%d: peak %lu, need %lu", s[0], s[1], s[2], s[3], (unsigned long)m.peak_scratch,
              (unsigned long)need);
        CHECK(need % VLA_ALIGN == 0, "scratch size is a multiple of VLA_ALIGN");
        if (need == 0) {
            CHECK(vla_image_resize(NULL, out, s[2], s[3], &v) == VLA_OK, "no scratch needed: NULL arena is fine");
            continue;
        }
        arena_make(&t, need - VLA_ALIGN);
        CHECK(vla_image_resize(&t.a, out, s[2], s[3], &v) == VLA_ERR_NOMEM && t.a.hi == t.a.size,
              "one block short must be VLA_ERR_NOMEM");
        arena_free(&t);
        CHECK(vla_image_resize(NULL, out, s[2], s[3], &v) == VLA_ERR_ARGS, "NULL arena when scratch is needed");
    }
    printf("scratch for 320x240 -> 224: %lu bytes; 640x480 -> 224: %lu; 1920x1080 -> 224: %lu\n",
           (unsigned long)vla_image_resize_scratch_size(320, 240, 224, 224),
           (unsigned long)vla_image_resize_scratch_size(640, 480, 224, 224),
           (unsigned long)vla_image_resize_scratch_size(1920, 1080, 224, 224));

    /* argument checks */
    CHECK(vla_image_view(&v, in, 0, 5, 3, 0) == VLA_ERR_ARGS && v.data == NULL, "width 0");
    CHECK(vla_image_view(&v, in, 5, -1, 3, 0) == VLA_ERR_ARGS, "negative height");
    CHECK(vla_image_view(&v, in, 5, 5, 5, 0) == VLA_ERR_ARGS, "5 channels");
    CHECK(vla_image_view(&v, in, 5, 5, 0, 0) == VLA_ERR_ARGS, "0 channels");
    CHECK(vla_image_view(&v, in, 5, 5, 3, 14) == VLA_ERR_ARGS, "stride < width * channels");
    CHECK(vla_image_view(&v, NULL, 5, 5, 3, 0) == VLA_ERR_ARGS, "NULL pixels");
    CHECK(vla_image_view(&v, in, VLA_MAX_IMAGE_DIM + 1, 5, 3, 0) == VLA_ERR_RANGE, "width above the cap");
    CHECK(vla_image_view(&v, in, 5, 5, 3, (size_t)-1 / 2) == VLA_ERR_ARGS, "stride overflowing the address space");
    CHECK(vla_image_view(NULL, in, 5, 5, 3, 0) == VLA_ERR_ARGS, "NULL view");
    vla_image_view(&v, in, 5, 5, 3, 0);
    CHECK(vla_image_resize(NULL, NULL, 4, 4, &v) == VLA_ERR_ARGS, "NULL dst");
    CHECK(vla_image_resize(NULL, out, 0, 4, &v) == VLA_ERR_ARGS, "out width 0");
    CHECK(vla_image_resize(NULL, out, 4, VLA_MAX_IMAGE_DIM + 1, &v) == VLA_ERR_RANGE, "out height above the cap");
    CHECK(vla_image_resize(NULL, out, 4, 4, NULL) == VLA_ERR_ARGS, "NULL src");
    v.channels = 7;
    CHECK(vla_image_resize(NULL, out, 4, 4, &v) == VLA_ERR_ARGS, "hand-made view with 7 channels");
    CHECK(vla_image_resize_scratch_size(0, 5, 5, 5) == 0 && vla_image_resize_scratch_size(5, 5, 5, 99999) == 0,
          "scratch size of bad sizes is 0");
    {
        float f[12], badstd[3] = {1.0f, 0.0f, 1.0f};
        unsigned char px[12] = {0};
        CHECK(vla_image_normalize(f, px, 2, 2, NULL, badstd, VLA_LAYOUT_HWC) == VLA_ERR_ARGS, "zero std");
        CHECK(vla_image_normalize(f, px, 2, 2, NULL, NULL, (vla_layout)5) == VLA_ERR_ARGS, "bad layout");
        CHECK(vla_image_normalize(NULL, px, 2, 2, NULL, NULL, VLA_LAYOUT_HWC) == VLA_ERR_ARGS, "NULL dst");
        CHECK(vla_clip_preprocess(NULL, f, 0, VLA_LAYOUT_HWC, &v) == VLA_ERR_ARGS, "size 0");
    }
    /* custom mean/std */
    {
        unsigned char px[6] = {0, 51, 255, 255, 102, 0};
        float mean[3] = {0.5f, 0.0f, 1.0f}, sd[3] = {0.5f, 2.0f, 1.0f}, f[6];
        vla_image_normalize(f, px, 2, 1, mean, sd, VLA_LAYOUT_CHW);
        CHECK(f[0] == -1.0f && f[1] == 1.0f && f[2] == 0.1f && f[3] == 0.2f && f[4] == 0.0f && f[5] == -1.0f,
              "custom mean/std CHW: %g %g %g %g %g %g", f[0], f[1], f[2], f[3], f[4], f[5]);
    }
    free(in);
    free(out);
}

/* ---------------------------------------------------------------------------
 * Tests: PNM reader
 * ------------------------------------------------------------------------- */

/* Parse a heap copy of exactly n bytes, so ASan sees any read past the end.
 * A success must describe a raster inside the buffer. */
static vla_status pnm_exact(const void *bytes, size_t n, vla_image *v, size_t *used, int *inside) {
    unsigned char *copy = (unsigned char *)xmalloc(n);
    vla_status st;
    memcpy(copy, bytes, n);
    st = vla_pnm_read(v, copy, n, used);
    *inside = 1;
    if (st == VLA_OK) {
        size_t raster = (size_t)v->width * (size_t)v->height * (size_t)v->channels;
        *inside = v->data >= copy && v->stride == (size_t)v->width * v->channels &&
                  (size_t)(v->data - copy) + raster == *used && *used <= n;
    } else {
        *inside = v->data == NULL && *used == 0;
    }
    free(copy);
    return st;
}

static void test_pnm(void) {
    static const struct {
        const char *text; /* header; the raster (w*h*ch bytes of 0x5a) is appended */
        vla_status expect;
        int w, h, ch;
    } cases[] = {
        {"P5 3 2 255 ", VLA_OK, 3, 2, 1},
        {"P6\n3 2\n255\n", VLA_OK, 3, 2, 3},
        {"P6\r\n# made by a camera\r\n3\t2 # trailing comment\n255\r", VLA_OK, 3, 2, 3},
        {"P6#comment right after the magic\n3 2\n255\n", VLA_OK, 3, 2, 3},
        {"P5\n0003 00002\n0255\n", VLA_OK, 3, 2, 1},
        {"P5\n3#c\n2\n255\n", VLA_OK, 3, 2, 1},
        {"P5 16384 1 255\n", VLA_OK, 16384, 1, 1},
        {"P5 16385 1 255\n", VLA_ERR_UNSUPPORTED, 0, 0, 0},
        {"P6 1 99999999999999999999999999 255\n", VLA_ERR_UNSUPPORTED, 0, 0, 0},
        {"P6 0 2 255\n", VLA_ERR_FORMAT, 0, 0, 0},
        {"P6 2 0 255\n", VLA_ERR_FORMAT, 0, 0, 0},
        {"P6 2 2 0\n", VLA_ERR_FORMAT, 0, 0, 0},
        {"P6 2 2 65536\n", VLA_ERR_FORMAT, 0, 0, 0},
        {"P6 2 2 99999999999999999999\n", VLA_ERR_FORMAT, 0, 0, 0},
        {"P6 2 2 65535\n", VLA_ERR_UNSUPPORTED, 0, 0, 0},
        {"P6 2 2 100\n", VLA_ERR_UNSUPPORTED, 0, 0, 0},
        {"P6 2 2 255#comment\n", VLA_ERR_FORMAT, 0, 0, 0},
        {"P6 2 2 255", VLA_ERR_FORMAT, 0, 0, 0}, /* raster glued to maxval: a digit continues it */
        {"P6 2 -2 255\n", VLA_ERR_FORMAT, 0, 0, 0},
        {"P6 2 2a 255\n", VLA_ERR_FORMAT, 0, 0, 0},
        {"P6 +2 2 255\n", VLA_ERR_FORMAT, 0, 0, 0},
        {"P62 2 255\n", VLA_ERR_FORMAT, 0, 0, 0},
        {" P6 2 2 255\n", VLA_ERR_FORMAT, 0, 0, 0},
        {"P3 2 2 255\n", VLA_ERR_UNSUPPORTED, 0, 0, 0},
        {"P4 2 2\n", VLA_ERR_UNSUPPORTED, 0, 0, 0},
        {"P7\nWIDTH 2\n", VLA_ERR_UNSUPPORTED, 0, 0, 0},
        {"P8 2 2 255\n", VLA_ERR_FORMAT, 0, 0, 0},
        {"\x89PNG\r\n\x1a\n", VLA_ERR_FORMAT, 0, 0, 0},
        {"GIF89a", VLA_ERR_FORMAT, 0, 0, 0},
        {"P", VLA_ERR_FORMAT, 0, 0, 0},
        {"", VLA_ERR_FORMAT, 0, 0, 0},
    };
    size_t k, n, cut;
    int bad_trunc = 0, bad_inside = 0, i;
    vla_image v;
    size_t used;
    int inside;

    for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        size_t hl = strlen(cases[k].text);
        size_t raster = cases[k].expect == VLA_OK ? (size_t)cases[k].w * cases[k].h * cases[k].ch : 64;
        unsigned char *buf = (unsigned char *)xmalloc(hl + raster + 5);
        vla_status st;
        memcpy(buf, cases[k].text, hl);
        memset(buf + hl, 0x5a, raster + 5);  /* 5 trailing bytes: "next image" of a stream */
        n = hl + raster + 5;
        if (k == 17) memset(buf + hl, '7', raster + 5); /* raster glued to maxval */
        st = pnm_exact(buf, n, &v, &used, &inside);
        CHECK(st == cases[k].expect, "pnm case %d \"%s\": got %s, expected %s", (int)k, cases[k].text,
              vla_status_str(st), vla_status_str(cases[k].expect));
        CHECK(inside, "pnm case %d: view outside the buffer / not cleared", (int)k);
        if (st == VLA_OK && cases[k].expect == VLA_OK) {
            /* (v.data pointed into the freed copy; `inside` checked it is at used - raster) */
            CHECK(v.width == cases[k].w && v.height == cases[k].h && v.channels == cases[k].ch && used == hl + raster,
                  "pnm case %d: %dx%dx%d used %lu", (int)k, v.width, v.height, v.channels, (unsigned long)used);
            /* every truncation (header or raster) must fail cleanly; long
             * rasters are cut at every header byte and at 300 raster points */
            for (cut = 0; cut < hl + raster; cut += (cut < hl + 8 || raster < 300) ? 1 : raster / 300) {
                st = pnm_exact(buf, cut, &v, &used, &inside);
                if (st != VLA_ERR_FORMAT) bad_trunc++;
                if (!inside) bad_inside++;
            }
        }
        free(buf);
    }
    CHECK(bad_trunc == 0, "%d truncated files were not VLA_ERR_FORMAT", bad_trunc);
    CHECK(vla_pnm_read(&v, NULL, 10, &used) == VLA_ERR_ARGS, "NULL data");
    CHECK(vla_pnm_read(NULL, "P5 1 1 255 x", 12, &used) == VLA_ERR_ARGS, "NULL view");
    CHECK(vla_pnm_read(&v, "P5 1 1 255 x", 12, NULL) == VLA_OK && v.data[0] == 'x', "used may be NULL");

    /* Two images back to back: the second starts at *used. */
    {
        static const char two[] = "P5 1 1 255\nAP6 1 1 255\nBCD";
        size_t u1 = 0, u2 = 0;
        vla_image a, b;
        CHECK(vla_pnm_read(&a, two, sizeof two - 1, &u1) == VLA_OK && a.data[0] == 'A', "stream image 1");
        CHECK(vla_pnm_read(&b, two + u1, sizeof two - 1 - u1, &u2) == VLA_OK && b.channels == 3 && b.data[0] == 'B' &&
                  u1 + u2 == sizeof two - 1,
              "stream image 2");
    }

    /* Fuzz: random edits of valid files, and pure garbage. */
    {
        static const char *seeds[] = {"P6\n# c\n4 3\n255\n", "P5 4 3 255\n", "P6 1 1 255 "};
        unsigned char buf[128];
        int it, bad_status = 0;
        for (it = 0; it < 30000; it++) {
            const char *s = seeds[it % 3];
            size_t hl = strlen(s), len, e, edits;
            vla_status st;
            memcpy(buf, s, hl);
            for (e = hl; e < sizeof buf; e++) buf[e] = (unsigned char)rnd();
            len = (size_t)rnd_in((int)hl - 3, (int)hl + 40);
            edits = (size_t)rnd_in(1, 4);
            for (e = 0; e < edits; e++) {
                size_t at = (size_t)rnd_in(0, (int)hl + 2);
                uint32_t r = rnd();
                switch (r % 4) {
                case 0: buf[at] = (unsigned char)(r >> 8); break;           /* any byte */
                case 1: buf[at] = (unsigned char)("0123456789 #\n\tP"[(r >> 8) % 16]); break;
                case 2: buf[at] ^= (unsigned char)(1u << ((r >> 8) % 8)); break;
                default: buf[at] = '9'; break;                              /* grow numbers */
                }
            }
            if (it % 10 == 9) /* pure garbage, sometimes with a valid magic */
                for (e = it % 20 == 19 ? 2 : 0; e < sizeof buf; e++) buf[e] = (unsigned char)rnd();
            st = pnm_exact(buf, len, &v, &used, &inside);
            if (st != VLA_OK && st != VLA_ERR_FORMAT && st != VLA_ERR_UNSUPPORTED) bad_status++;
            if (!inside) bad_inside++;
        }
        CHECK(bad_status == 0, "%d fuzz inputs gave an unexpected status", bad_status);
    }
    CHECK(bad_inside == 0, "%d results described memory outside the input", bad_inside);

    /* Huge declared sizes with a tiny body. */
    for (i = 0; i < 4; i++) {
        static const char *huge[] = {"P6 16384 16384 255\n", "P5 16384 16384 255\nxx", "P6 4294967296 1 255\n",
                                     "P6 18446744073709551617 18446744073709551617 255\n"};
        vla_status st = pnm_exact(huge[i], strlen(huge[i]), &v, &used, &inside);
        CHECK(st == (i < 2 ? VLA_ERR_FORMAT : VLA_ERR_UNSUPPORTED) && inside, "huge %d: %s", i, vla_status_str(st));
    }
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "tests/fixtures";
    printf("test_image: fixtures from %s, image loading via %s\n", dir, vla_example_image_backend());
    test_fixtures(dir);
    test_pillow_oracle();
    test_random_vs_reference();
    test_extremes();
    test_scratch_and_args();
    test_pnm();
    printf("%d passed, %d failed\n", g_pass, g_fail);
    return g_fail != 0;
}
