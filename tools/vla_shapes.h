/* vla_shapes.h - "Shapes world": a procedural vision-and-language data set
 * for VL-Adapter's four tasks (captions, VQA, GQA-like, NLVR2-like).
 *
 * Static functions only; include it where it is used (tools/vla-shapes.c,
 * tests/test_shapes.c).  Host code: malloc and stdio; mkdir/isatty from
 * POSIX, so define _POSIX_C_SOURCE 200809L before the first #include.
 * docs/shapes.md describes the world, the files and how to run.
 *
 *   [S1] random numbers (splitmix64 streams: one per scene and purpose)
 *   [S2] the world: attributes, scenes, exact shape-to-shape distances
 *   [S3] drawing (4 x 4 supersampling) and picture files (PPM; PNG with stb)
 *   [S4] captions (canonical and paraphrases)
 *   [S5] questions: VQA, GQA-like, NLVR2-like statements
 *   [S6] the generator: scenes -> pictures + JSONL files
 */
#ifndef VLA_SHAPES_H
#define VLA_SHAPES_H

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "vla_eval.h" /* the VQA answer normalisation of the labels */

#if defined(VLA_HAVE_STB_IMAGE) || defined(VLA_SHAPES_PNG)
#if defined(__has_include)
#if __has_include(<stb_image_write.h>)
#define VLS_HAVE_PNG 1
#include <stb_image_write.h>
#elif __has_include(<stb/stb_image_write.h>)
#define VLS_HAVE_PNG 1
#include <stb/stb_image_write.h>
#endif
#else
#define VLS_HAVE_PNG 1
#include <stb_image_write.h>
#endif
#endif

#if defined(__GNUC__) || defined(__clang__)
#define VLS_FN static __attribute__((unused))
#define VLS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define VLS_FN static
#define VLS_PRINTF(f, a)
#endif

/* ======================================================================
 * [S1] random numbers
 * ====================================================================== */

typedef struct vls_rng {
    uint64_t s;
} vls_rng;

static uint64_t vls_next(vls_rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Streams: what a scene's numbers are used for. */
enum { VLS_ST_SCENE = 1, VLS_ST_CAPTION, VLS_ST_VQA, VLS_ST_GQA, VLS_ST_NLVR, VLS_ST_MLM, VLS_ST_MATCH };

/* The generator of (seed, stream, index): scene i is the same whatever the
 * number of scenes asked for. */
static void vls_rng_init(vls_rng *r, uint64_t seed, uint64_t stream, uint64_t index) {
    uint64_t a;
    r->s = seed;
    a = vls_next(r);
    r->s = a ^ (stream << 56) ^ (index * 0xD1B54A32D192ED03ull);
    (void)vls_next(r);
}

/* Uniform in [0, n), n >= 1, without bias. */
static uint64_t vls_below(vls_rng *r, uint64_t n) {
    uint64_t lim = UINT64_MAX - UINT64_MAX % n, x;
    do x = vls_next(r); while (x >= lim);
    return x % n;
}

static double vls_u01(vls_rng *r) { return (double)(vls_next(r) >> 11) * (1.0 / 9007199254740992.0); }

/* ======================================================================
 * [S2] the world
 * ====================================================================== */

enum { VLS_CIRCLE, VLS_SQUARE, VLS_TRIANGLE, VLS_N_SHAPES };
enum { VLS_RED, VLS_GREEN, VLS_BLUE, VLS_YELLOW, VLS_PURPLE, VLS_N_COLORS };
enum { VLS_SMALL, VLS_LARGE, VLS_N_SIZES };
#define VLS_MAX_OBJ 4

static const char *const vls_shape_name[VLS_N_SHAPES] = {"circle", "square", "triangle"};
static const char *const vls_color_name[VLS_N_COLORS] = {"red", "green", "blue", "yellow", "purple"};
static const char *const vls_size_name[VLS_N_SIZES] = {"small", "large"};
static const unsigned char vls_palette[VLS_N_COLORS][3] = {
    {220, 40, 40}, {40, 170, 60}, {40, 80, 220}, {230, 200, 40}, {140, 60, 180}};
static const char *const vls_number_word[] = {"no", "a", "two", "three", "four", "five", "six", "seven", "eight"};

/* The rules as numbers (fractions of the picture side). */
#define VLS_SMALL_MIN 0.12
#define VLS_SMALL_MAX 0.18
#define VLS_LARGE_MIN 0.26
#define VLS_LARGE_MAX 0.34
#define VLS_GAP 0.02      /* smallest distance between two objects */
#define VLS_REL 0.15      /* centres this far apart on an axis make a relation */
#define VLS_MARGIN_PX 1.0 /* objects keep this far from the picture's edge */
#define VLS_JITTER 15     /* +- per channel */

typedef struct vls_obj {
    int shape, color, size;
    double x, y;          /* centre of the bounding box, pixels from the top-left corner */
    double d;             /* diameter (circle) or side (square, triangle), pixels */
    unsigned char rgb[3]; /* the palette colour with its jitter */
} vls_obj;

typedef struct vls_scene {
    int side;             /* the picture is side x side pixels */
    int n;                /* 1..4 objects */
    vls_obj o[VLS_MAX_OBJ];
    unsigned char bg[3];
    int split;            /* 0 train, 1 val, 2 test */
} vls_scene;

static const char *const vls_split_name[3] = {"train", "val", "test"};

/* Half height of an object's bounding box (an upward equilateral triangle of
 * side d is d * sqrt(3) / 2 high). */
static double vls_half_h(const vls_obj *o) { return o->shape == VLS_TRIANGLE ? o->d * sqrt(3.0) / 4.0 : o->d / 2.0; }

/* Polygon corners (square: 4, triangle: 3, apex first), 0 for a circle. */
static int vls_corners(const vls_obj *o, double *vx, double *vy) {
    double r = o->d / 2.0, h = vls_half_h(o);
    if (o->shape == VLS_SQUARE) {
        vx[0] = o->x - r; vy[0] = o->y - r;
        vx[1] = o->x + r; vy[1] = o->y - r;
        vx[2] = o->x + r; vy[2] = o->y + r;
        vx[3] = o->x - r; vy[3] = o->y + r;
        return 4;
    }
    if (o->shape == VLS_TRIANGLE) {
        vx[0] = o->x;     vy[0] = o->y - h;
        vx[1] = o->x + r; vy[1] = o->y + h;
        vx[2] = o->x - r; vy[2] = o->y + h;
        return 3;
    }
    return 0;
}

static double vls_seg_dist(double px, double py, double ax, double ay, double bx, double by) {
    double dx = bx - ax, dy = by - ay, t = ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy);
    t = t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t;
    return hypot(px - (ax + t * dx), py - (ay + t * dy));
}

/* Distance from a point to a convex polygon's outline; *inside set when the
 * point is inside (or on) it. */
static double vls_poly_point(const double *vx, const double *vy, int nv, double px, double py, int *inside) {
    int i, neg = 0, pos = 0;
    double best = 1e300;
    for (i = 0; i < nv; i++) {
        int j = (i + 1) % nv;
        double cr = (vx[j] - vx[i]) * (py - vy[i]) - (vy[j] - vy[i]) * (px - vx[i]);
        double d = vls_seg_dist(px, py, vx[i], vy[i], vx[j], vy[j]);
        if (cr < 0) neg = 1;
        if (cr > 0) pos = 1;
        if (d < best) best = d;
    }
    *inside = !(neg && pos);
    return best;
}

/* Exact smallest distance between two objects' areas (<= 0 when they touch
 * or overlap). */
VLS_FN double vls_distance(const vls_obj *a, const vls_obj *b) {
    double ax[4], ay[4], bx[4], by[4], best = 1e300;
    int na = vls_corners(a, ax, ay), nb = vls_corners(b, bx, by), i, k, in;
    if (!na && !nb) return hypot(a->x - b->x, a->y - b->y) - a->d / 2.0 - b->d / 2.0;
    if (!na || !nb) {
        const vls_obj *c = na ? b : a;
        const double *px = na ? ax : bx, *py = na ? ay : by;
        double d = vls_poly_point(px, py, na ? na : nb, c->x, c->y, &in);
        return in ? -1.0 : d - c->d / 2.0;
    }
    /* two convex polygons: overlapping unless an edge normal separates them */
    for (k = 0; k < 2; k++) {
        const double *px = k ? bx : ax, *py = k ? by : ay;
        int n = k ? nb : na;
        for (i = 0; i < n; i++) {
            int j = (i + 1) % n, q;
            double nx = -(py[j] - py[i]), ny = px[j] - px[i], amin = 1e300, amax = -1e300, bmin = 1e300, bmax = -1e300;
            for (q = 0; q < na; q++) { double p = ax[q] * nx + ay[q] * ny; amin = p < amin ? p : amin; amax = p > amax ? p : amax; }
            for (q = 0; q < nb; q++) { double p = bx[q] * nx + by[q] * ny; bmin = p < bmin ? p : bmin; bmax = p > bmax ? p : bmax; }
            if (amax < bmin || bmax < amin) goto separated;
        }
    }
    return -1.0;
separated:
    for (i = 0; i < na; i++) { double d = vls_poly_point(bx, by, nb, ax[i], ay[i], &in); best = d < best ? d : best; }
    for (i = 0; i < nb; i++) { double d = vls_poly_point(ax, ay, na, bx[i], by[i], &in); best = d < best ? d : best; }
    return best;
}

/* A scene from (seed, index): background, 1..4 objects, placement; the
 * split from the same stream. */
VLS_FN void vls_make_scene(vls_scene *s, uint64_t seed, long index, int side, double val_frac, double test_frac) {
    vls_rng r;
    int c, i, tries, redraw;
    double u, gap = VLS_GAP * side;
    memset(s, 0, sizeof *s);
    vls_rng_init(&r, seed, VLS_ST_SCENE, (uint64_t)index);
    s->side = side;
    u = vls_u01(&r);
    s->split = u < test_frac ? 2 : u < test_frac + val_frac ? 1 : 0;
    for (c = 0; c < 3; c++) s->bg[c] = (unsigned char)(200 + vls_below(&r, 41));
    s->n = 1 + (int)vls_below(&r, VLS_MAX_OBJ);
    for (redraw = 0;; redraw++) {
        int placed = 0;
        for (i = 0; i < s->n; i++) {
            vls_obj *o = &s->o[i];
            double lo, hi;
            long qlo, qhi;
            o->shape = (int)vls_below(&r, VLS_N_SHAPES);
            o->color = (int)vls_below(&r, VLS_N_COLORS);
            o->size = (int)vls_below(&r, VLS_N_SIZES);
            lo = (o->size ? VLS_LARGE_MIN : VLS_SMALL_MIN) * side;
            hi = (o->size ? VLS_LARGE_MAX : VLS_SMALL_MAX) * side;
            qlo = (long)ceil(lo * 4.0 - 1e-9);
            qhi = (long)floor(hi * 4.0 + 1e-9);
            o->d = (double)(qlo + (long)vls_below(&r, (uint64_t)(qhi - qlo + 1))) / 4.0; /* quarter pixels */
            for (c = 0; c < 3; c++) {
                int v = vls_palette[o->color][c] - VLS_JITTER + (int)vls_below(&r, 2 * VLS_JITTER + 1);
                o->rgb[c] = (unsigned char)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
        /* place one by one; a stuck placement starts over, a stuck scene
           draws its objects again (same count) */
        for (tries = 0; tries < 20 && placed < s->n; tries++) {
            for (placed = 0; placed < s->n; placed++) {
                vls_obj *o = &s->o[placed];
                double hw = o->d / 2.0, hh = vls_half_h(o);
                long xlo = (long)ceil((VLS_MARGIN_PX + hw) * 4.0), xhi = (long)floor((side - VLS_MARGIN_PX - hw) * 4.0);
                long ylo = (long)ceil((VLS_MARGIN_PX + hh) * 4.0), yhi = (long)floor((side - VLS_MARGIN_PX - hh) * 4.0);
                int t, ok = 0;
                if (xhi < xlo || yhi < ylo) break;
                for (t = 0; t < 200 && !ok; t++) {
                    int q;
                    o->x = (double)(xlo + (long)vls_below(&r, (uint64_t)(xhi - xlo + 1))) / 4.0;
                    o->y = (double)(ylo + (long)vls_below(&r, (uint64_t)(yhi - ylo + 1))) / 4.0;
                    ok = 1;
                    for (q = 0; q < placed && ok; q++)
                        if (vls_distance(o, &s->o[q]) < gap) ok = 0;
                }
                if (!ok) break;
            }
        }
        if (placed == s->n) return;
    }
}

/* ---- descriptions: "the large red circle", "the red object" ---- */
typedef struct vls_desc {
    int shape, color, size; /* -1: not said */
} vls_desc;

static int vls_match(const vls_obj *o, vls_desc d) {
    return (d.shape < 0 || o->shape == d.shape) && (d.color < 0 || o->color == d.color) && (d.size < 0 || o->size == d.size);
}

/* Objects of s matching d, leaving out object `skip` (-1: none). */
static int vls_count(const vls_scene *s, vls_desc d, int skip) {
    int i, n = 0;
    for (i = 0; i < s->n; i++)
        if (i != skip && vls_match(&s->o[i], d)) n++;
    return n;
}

/* "[size ][color ]shape[s]" with `noun` when the shape is not said. */
static void vls_desc_text(char *buf, size_t n, vls_desc d, const char *noun, int plural) {
    snprintf(buf, n, "%s%s%s%s%s%s", d.size >= 0 ? vls_size_name[d.size] : "", d.size >= 0 ? " " : "",
             d.color >= 0 ? vls_color_name[d.color] : "", d.color >= 0 ? " " : "", d.shape >= 0 ? vls_shape_name[d.shape] : noun,
             plural ? "s" : "");
}

/* ======================================================================
 * [S3] drawing and picture files
 * ====================================================================== */

/* Is the point (u, v) (pixels, continuous) inside object o? */
VLS_FN int vls_inside(const vls_obj *o, double u, double v) {
    double dx = u - o->x, dy = v - o->y, r = o->d / 2.0;
    if (o->shape == VLS_CIRCLE) return dx * dx + dy * dy <= r * r;
    if (o->shape == VLS_SQUARE) return fabs(dx) <= r && fabs(dy) <= r;
    {
        double h = o->d * sqrt(3.0) / 2.0, top = o->y - h / 2.0;
        return v >= top && v <= top + h && 2.0 * fabs(dx) * h <= (v - top) * o->d;
    }
}

/* RGB, row-major, side x side x 3 bytes.  Pixel (px, py) covers
 * [px, px+1) x [py, py+1); its 16 samples are at (px + (i + 0.5) / 4,
 * py + (j + 0.5) / 4); with k of them inside an object of colour c the
 * pixel is (bg * (16 - k) + c * k + 8) / 16 per channel (integer division). */
VLS_FN void vls_render(const vls_scene *s, unsigned char *rgb) {
    int side = s->side, i, px, py;
    for (py = 0; py < side; py++)
        for (px = 0; px < side; px++) memcpy(rgb + 3 * ((size_t)py * side + px), s->bg, 3);
    for (i = 0; i < s->n; i++) {
        const vls_obj *o = &s->o[i];
        double hw = o->d / 2.0, hh = vls_half_h(o);
        int x0 = (int)floor(o->x - hw) - 1, x1 = (int)ceil(o->x + hw) + 1, y0 = (int)floor(o->y - hh) - 1, y1 = (int)ceil(o->y + hh) + 1;
        x0 = x0 < 0 ? 0 : x0; y0 = y0 < 0 ? 0 : y0;
        x1 = x1 > side - 1 ? side - 1 : x1; y1 = y1 > side - 1 ? side - 1 : y1;
        for (py = y0; py <= y1; py++)
            for (px = x0; px <= x1; px++) {
                int k = 0, a, b, c;
                unsigned char *p = rgb + 3 * ((size_t)py * side + px);
                for (b = 0; b < 4; b++)
                    for (a = 0; a < 4; a++) k += vls_inside(o, px + (a + 0.5) / 4.0, py + (b + 0.5) / 4.0);
                if (!k) continue;
                for (c = 0; c < 3; c++) p[c] = (unsigned char)((s->bg[c] * (16 - k) + o->rgb[c] * k + 8) / 16);
            }
    }
}

static int vls_write_ppm(const char *path, const unsigned char *rgb, int side) {
    FILE *f = fopen(path, "wb");
    int ok;
    if (!f) return 0;
    fprintf(f, "P6\n%d %d\n255\n", side, side);
    ok = fwrite(rgb, 1, (size_t)side * side * 3, f) == (size_t)side * side * 3;
    return fclose(f) == 0 && ok;
}

/* ======================================================================
 * [S4] captions
 * ====================================================================== */

typedef struct vls_group {
    int shape, color, size, count;
} vls_group;

/* Groups of identical (size, colour, shape) in the canonical order: shape,
 * then colour, then size. */
static int vls_groups(const vls_scene *s, vls_group *g) {
    int sh, co, sz, n = 0;
    for (sh = 0; sh < VLS_N_SHAPES; sh++)
        for (co = 0; co < VLS_N_COLORS; co++)
            for (sz = 0; sz < VLS_N_SIZES; sz++) {
                vls_desc d;
                int k;
                d.shape = sh; d.color = co; d.size = sz;
                k = vls_count(s, d, -1);
                if (k) { g[n].shape = sh; g[n].color = co; g[n].size = sz; g[n].count = k; n++; }
            }
    return n;
}

/* "a small red circle" / "two large blue squares"; one_word: "one" for 1. */
static void vls_group_text(char *buf, size_t n, const vls_group *g, int one_word) {
    snprintf(buf, n, "%s %s %s %s%s", g->count == 1 && one_word ? "one" : vls_number_word[g->count], vls_size_name[g->size],
             vls_color_name[g->color], vls_shape_name[g->shape], g->count > 1 ? "s" : "");
}

/* Groups joined by ", " and a final " and ". */
static void vls_join_groups(char *buf, size_t n, const vls_group *g, int ng, int one_word) {
    int i;
    buf[0] = 0;
    for (i = 0; i < ng; i++) {
        char t[64];
        size_t l = strlen(buf);
        vls_group_text(t, sizeof t, &g[i], one_word);
        snprintf(buf + l, n - l, "%s%s", i == 0 ? "" : i == ng - 1 ? " and " : ", ", t);
    }
}

/* The canonical caption, e.g. "two small red circles, a large green square
 * and a small yellow triangle". */
VLS_FN void vls_caption(const vls_scene *s, char *buf, size_t n) {
    vls_group g[VLS_MAX_OBJ];
    vls_join_groups(buf, n, g, vls_groups(s, g), 0);
}

/* A paraphrase for training (--paraphrases): groups in a random order,
 * "one" for "a" sometimes, and one of a few frames around the list. */
VLS_FN void vls_paraphrase(const vls_scene *s, vls_rng *r, char *buf, size_t n) {
    vls_group g[VLS_MAX_OBJ];
    char list[256];
    int ng = vls_groups(s, g), i, total = 0;
    for (i = ng - 1; i > 0; i--) {
        int j = (int)vls_below(r, (uint64_t)i + 1);
        vls_group t = g[i]; g[i] = g[j]; g[j] = t;
    }
    vls_join_groups(list, sizeof list, g, ng, (int)vls_below(r, 3) == 0);
    for (i = 0; i < ng; i++) total += g[i].count;
    switch ((int)vls_below(r, 5)) {
    case 0: snprintf(buf, n, "%s", list); break;
    case 1: snprintf(buf, n, "there %s %s", g[0].count > 1 ? "are" : "is", list); break;
    case 2: snprintf(buf, n, "a picture of %s", list); break;
    case 3: snprintf(buf, n, "%s on a plain background", list); break;
    default: {
        static const char *const words[] = {"no", "one", "two", "three", "four"};
        snprintf(buf, n, "%s %s: %s", words[total], total == 1 ? "shape" : "shapes", list);
    }
    }
}

/* The "locate" text (a pretraining task, not one of the four): every object
 * with the ninth of the picture its centre is in, in reading order (rows of
 * thirds top to bottom, then left to right):
 *   "a small red circle at the top left and a large blue square at the center"
 * Places: top left, top, top right, left, center, right, bottom left,
 * bottom, bottom right. */
VLS_FN void vls_locate(const vls_scene *s, char *buf, size_t n) {
    static const char *const place[3][3] = {{"top left", "top", "top right"}, {"left", "center", "right"},
                                            {"bottom left", "bottom", "bottom right"}};
    int ord[VLS_MAX_OBJ], row[VLS_MAX_OBJ], col[VLS_MAX_OBJ], i, j;
    size_t used = 0;
    for (i = 0; i < s->n; i++) {
        row[i] = (int)(3.0 * s->o[i].y / s->side); col[i] = (int)(3.0 * s->o[i].x / s->side);
        if (row[i] > 2) row[i] = 2;
        if (col[i] > 2) col[i] = 2;
        ord[i] = i;
    }
    for (i = 1; i < s->n; i++) /* insertion sort by (row, x) */
        for (j = i; j > 0; j--) {
            int a = ord[j - 1], b = ord[j];
            if (row[a] < row[b] || (row[a] == row[b] && s->o[a].x <= s->o[b].x)) break;
            ord[j - 1] = b; ord[j] = a;
        }
    buf[0] = 0;
    for (i = 0; i < s->n && used < n; i++) {
        const vls_obj *o = &s->o[ord[i]];
        int w = snprintf(buf + used, n - used, "%sa %s %s %s at the %s", i == 0 ? "" : i + 1 == s->n ? " and " : ", ",
                         vls_size_name[o->size], vls_color_name[o->color], vls_shape_name[o->shape], place[row[ord[i]]][col[ord[i]]]);
        if (w < 0) break;
        used += (size_t)w;
    }
}

/* Two more pretraining texts, VL-T5's image-conditioned objectives (not
 * among the four tasks; --mlm, --match):
 *
 * "mlm": the caption or the locate text with one content word (a size,
 * colour, shape, number or place word) replaced by <mask>; the target is
 * that word alone, so the text must be read to know which word is asked
 * ("a small <mask> circle at the top left and a large blue square at the
 * center" -> "red").  A text that lists the objects can be written from the
 * picture alone; a word asked by the text cannot.
 *
 * "match": "image text match: CAPTION" -> "true" when CAPTION is the
 * picture's canonical caption, "false" when it is the canonical caption of
 * the picture with one change: an object's colour, shape or size changed, an
 * object added (a copy of one there, at most 4) or one taken away.  Every
 * change alters the multiset of objects, so a false caption is never true. */
static int vls_content_word(const char *w, size_t n) {
    static const char *const words[] = {"small", "large", "red", "green", "blue", "yellow", "purple", "circle", "circles",
                                        "square", "squares", "triangle", "triangles", "two", "three", "four", "top", "bottom",
                                        "left", "right", "center"};
    size_t k;
    for (k = 0; k < sizeof words / sizeof words[0]; k++)
        if (strlen(words[k]) == n && !memcmp(words[k], w, n)) return 1;
    return 0;
}

VLS_FN void vls_mlm(const vls_scene *s, vls_rng *r, char *in, size_t inn, char *word, size_t wn) {
    char text[512];
    size_t at[64], len[64], i = 0, k;
    int nw = 0;
    if (vls_below(r, 2)) vls_caption(s, text, sizeof text);
    else vls_locate(s, text, sizeof text);
    while (text[i] && nw < 64) { /* the content words: offset and length, a trailing ',' not included */
        size_t b = i, e;
        while (text[i] && text[i] != ' ') i++;
        e = i;
        if (e > b && text[e - 1] == ',') e--;
        if (vls_content_word(text + b, e - b)) { at[nw] = b; len[nw] = e - b; nw++; }
        while (text[i] == ' ') i++;
    }
    k = nw ? (size_t)vls_below(r, (uint64_t)nw) : 0;
    if (!nw) { snprintf(in, inn, "%s", text); word[0] = 0; return; } /* not reached: every text names a shape */
    snprintf(word, wn, "%.*s", (int)len[k], text + at[k]);
    snprintf(in, inn, "%.*s<mask>%s", (int)at[k], text, text + at[k] + len[k]);
}

VLS_FN int vls_match_text(const vls_scene *s, vls_rng *r, char *buf, size_t n) {
    vls_scene f = *s;
    int k = (int)vls_below(r, (uint64_t)s->n), ok = (int)vls_below(r, 2), kind;
    if (ok) { vls_caption(s, buf, n); return 1; }
    do kind = (int)vls_below(r, 5); while ((kind == 3 && s->n >= VLS_MAX_OBJ) || (kind == 4 && s->n < 2));
    switch (kind) {
    case 0: f.o[k].color = (f.o[k].color + 1 + (int)vls_below(r, VLS_N_COLORS - 1)) % VLS_N_COLORS; break;
    case 1: f.o[k].shape = (f.o[k].shape + 1 + (int)vls_below(r, VLS_N_SHAPES - 1)) % VLS_N_SHAPES; break;
    case 2: f.o[k].size = 1 - f.o[k].size; break;
    case 3: f.o[f.n++] = f.o[k]; break;
    default: f.o[k] = f.o[f.n - 1]; f.n--; break;
    }
    vls_caption(&f, buf, n);
    return 0;
}

/* ======================================================================
 * [S5] questions and statements
 * ====================================================================== */

typedef struct vls_qa {
    char q[192];
    char a[16];
    int yn;            /* a yes/no (or true/false) question */
    const char *tmpl;  /* template name */
    const char *qtype; /* VQA question_type */
    const char *atype; /* VQA answer_type: "yes/no", "number", "other" */
} vls_qa;

typedef struct vls_qalist {
    vls_qa *v;
    int n, cap;
} vls_qalist;

static vls_qa *vls_push(vls_qalist *l) {
    if (l->n == l->cap) {
        int c = l->cap ? l->cap * 2 : 16;
        vls_qa *nv = (vls_qa *)realloc(l->v, sizeof(vls_qa) * (size_t)c);
        if (!nv) return NULL;
        l->v = nv;
        l->cap = c;
    }
    memset(&l->v[l->n], 0, sizeof(vls_qa));
    return &l->v[l->n++];
}

static int vls_add(vls_qalist *l, const char *tmpl, const char *qtype, const char *atype, const char *answer, const char *fmt, ...)
    VLS_PRINTF(6, 7);
static int vls_add(vls_qalist *l, const char *tmpl, const char *qtype, const char *atype, const char *answer, const char *fmt, ...) {
    va_list ap;
    vls_qa *q = vls_push(l);
    if (!q) return 0;
    va_start(ap, fmt);
    vsnprintf(q->q, sizeof q->q, fmt, ap);
    va_end(ap);
    snprintf(q->a, sizeof q->a, "%s", answer);
    q->tmpl = tmpl;
    q->qtype = qtype;
    q->atype = atype;
    q->yn = !strcmp(answer, "yes") || !strcmp(answer, "no") || !strcmp(answer, "true") || !strcmp(answer, "false");
    return 1;
}

/* Relations: 0 left of, 1 right of, 2 above, 3 below.  delta > 0 when t is
 * on that side of a; the relation holds when delta >= VLS_REL * side and is
 * unclear when 0 < delta < VLS_REL * side. */
static const char *const vls_rel_name[4] = {"left of", "right of", "above", "below"};

static double vls_rel_delta(const vls_obj *t, const vls_obj *a, int rel) {
    switch (rel) {
    case 0: return a->x - t->x;
    case 1: return t->x - a->x;
    case 2: return a->y - t->y;
    default: return t->y - a->y;
    }
}

/* The object the phrase "the {d} {rel} the <anchor>" names: its index, or
 * -1 when none or several match clearly or any candidate is unclear. */
VLS_FN int vls_resolve(const vls_scene *s, vls_desc d, int rel, int anchor) {
    int i, found = -1;
    double T = VLS_REL * s->side;
    for (i = 0; i < s->n; i++) {
        double dl;
        if (i == anchor || !vls_match(&s->o[i], d)) continue;
        dl = vls_rel_delta(&s->o[i], &s->o[anchor], rel);
        if (dl >= T) { if (found >= 0) return -1; found = i; }
        else if (dl > 0) return -1;
    }
    return found;
}

/* Descriptions that name object i uniquely (the anchor forms). */
static int vls_unique_forms(const vls_scene *s, int i, vls_desc *out) {
    static const signed char f[6][3] = {{1, 0, 0}, {1, 1, 0}, {1, 0, 1}, {0, 1, 0}, {1, 1, 1}, {0, 0, 1}}; /* shape, color, size */
    int k, n = 0;
    for (k = 0; k < 6; k++) {
        vls_desc d;
        d.shape = f[k][0] ? s->o[i].shape : -1;
        d.color = f[k][1] ? s->o[i].color : -1;
        d.size = f[k][2] ? s->o[i].size : -1;
        if (vls_count(s, d, -1) == 1) out[n++] = d;
    }
    return n;
}

static void vls_digit(char *b, int v) { snprintf(b, 16, "%d", v); }

/* ---- VQA (the templates plus "how many {color} objects") ---- */
VLS_FN int vls_vqa_all(const vls_scene *s, vls_rng *r, vls_qalist *l) {
    int sh, co, i, j, ok = 1;
    double T = VLS_REL * s->side;
    char a[16];
    (void)r;
    for (sh = 0; sh < VLS_N_SHAPES; sh++) {
        vls_desc d = {-1, -1, -1};
        int k;
        d.shape = sh;
        k = vls_count(s, d, -1);
        if (k == 1)
            for (i = 0; i < s->n; i++)
                if (s->o[i].shape == sh)
                    ok &= vls_add(l, "color", "what color is the", "other", vls_color_name[s->o[i].color], "what color is the %s?", vls_shape_name[sh]);
        vls_digit(a, k);
        ok &= vls_add(l, "count", "how many", "number", a, "how many %ss are there?", vls_shape_name[sh]);
    }
    for (co = 0; co < VLS_N_COLORS; co++) {
        vls_desc d = {-1, -1, -1};
        int k;
        d.color = co;
        k = vls_count(s, d, -1);
        if (k == 1)
            for (i = 0; i < s->n; i++)
                if (s->o[i].color == co)
                    ok &= vls_add(l, "shape", "what shape is the", "other", vls_shape_name[s->o[i].shape], "what shape is the %s object?", vls_color_name[co]);
        vls_digit(a, k);
        ok &= vls_add(l, "count_color", "how many", "number", a, "how many %s objects are there?", vls_color_name[co]);
        for (sh = 0; sh < VLS_N_SHAPES; sh++) {
            vls_desc e = {-1, -1, -1};
            e.shape = sh; e.color = co;
            k = vls_count(s, e, -1);
            ok &= vls_add(l, "exist", "is there a", "yes/no", k ? "yes" : "no", "is there a %s %s?", vls_color_name[co], vls_shape_name[sh]);
            if (k == 1)
                for (i = 0; i < s->n; i++)
                    if (vls_match(&s->o[i], e))
                        ok &= vls_add(l, "size", "what size is the", "other", vls_size_name[s->o[i].size], "what size is the %s %s?",
                                      vls_color_name[co], vls_shape_name[sh]);
        }
    }
    /* relations between two objects named by colour and shape */
    for (i = 0; i < s->n; i++)
        for (j = 0; j < s->n; j++) {
            vls_desc di = {-1, -1, -1}, dj = {-1, -1, -1};
            int rel;
            if (i == j) continue;
            di.shape = s->o[i].shape; di.color = s->o[i].color;
            dj.shape = s->o[j].shape; dj.color = s->o[j].color;
            if (vls_count(s, di, -1) != 1 || vls_count(s, dj, -1) != 1) continue;
            for (rel = 0; rel < 4; rel++) {
                double dl = vls_rel_delta(&s->o[i], &s->o[j], rel);
                if (fabs(dl) < T) continue;
                ok &= vls_add(l, "relation", "is the", "yes/no", dl > 0 ? "yes" : "no", "is the %s %s %s the %s %s?",
                              vls_color_name[di.color], vls_shape_name[di.shape], vls_rel_name[rel], vls_color_name[dj.color],
                              vls_shape_name[dj.shape]);
            }
        }
    return ok;
}

/* ---- GQA-like: a relation to an anchor and an attribute ---- */
VLS_FN int vls_gqa_all(const vls_scene *s, vls_rng *r, vls_qalist *l) {
    int a, i, j, rel, ok = 1;
    double T = VLS_REL * s->side;
    for (a = 0; a < s->n; a++) {
        vls_desc af[6];
        int naf = vls_unique_forms(s, a, af), f;
        for (f = 0; f < naf; f++) {
            char at[64];
            vls_desc_text(at, sizeof at, af[f], "object", 0);
            for (rel = 0; rel < 4; rel++) {
                const char *rn = vls_rel_name[rel];
                int x, y, k;
                /* what color is the [size] (shape|{shape}) <rel> the anchor?  is it {color}? */
                for (x = -1; x < VLS_N_SIZES; x++)
                    for (y = -1; y < VLS_N_SHAPES; y++) {
                        vls_desc d;
                        char t[64];
                        int o;
                        d.size = x; d.shape = y; d.color = -1;
                        if ((o = vls_resolve(s, d, rel, a)) < 0) continue;
                        vls_desc_text(t, sizeof t, d, "shape", 0);
                        ok &= vls_add(l, "rel_color", "what color is the", "other", vls_color_name[s->o[o].color],
                                      "what color is the %s %s the %s?", t, rn, at);
                        for (k = 0; k < VLS_N_COLORS; k++)
                            ok &= vls_add(l, "rel_verify_color", "is the", "yes/no", k == s->o[o].color ? "yes" : "no",
                                          "is the %s %s the %s %s?", t, rn, at, vls_color_name[k]);
                    }
                /* what shape is the [size] [color] object <rel> the anchor?  is it a {shape}? */
                for (x = -1; x < VLS_N_SIZES; x++)
                    for (y = -1; y < VLS_N_COLORS; y++) {
                        vls_desc d;
                        char t[64];
                        int o;
                        d.size = x; d.color = y; d.shape = -1;
                        if ((o = vls_resolve(s, d, rel, a)) < 0) continue;
                        vls_desc_text(t, sizeof t, d, "object", 0);
                        ok &= vls_add(l, "rel_shape", "what shape is the", "other", vls_shape_name[s->o[o].shape],
                                      "what shape is the %s %s the %s?", t, rn, at);
                        for (k = 0; k < VLS_N_SHAPES; k++)
                            ok &= vls_add(l, "rel_verify_shape", "is the", "yes/no", k == s->o[o].shape ? "yes" : "no",
                                          "is the %s %s the %s a %s?", t, rn, at, vls_shape_name[k]);
                    }
                /* what size is the [color] (shape|{shape}) <rel> the anchor? */
                for (x = -1; x < VLS_N_COLORS; x++)
                    for (y = -1; y < VLS_N_SHAPES; y++) {
                        vls_desc d;
                        char t[64];
                        int o;
                        d.color = x; d.shape = y; d.size = -1;
                        if ((o = vls_resolve(s, d, rel, a)) < 0) continue;
                        vls_desc_text(t, sizeof t, d, "shape", 0);
                        ok &= vls_add(l, "rel_size", "what size is the", "other", vls_size_name[s->o[o].size],
                                      "what size is the %s %s the %s?", t, rn, at);
                    }
                /* how many (shapes|{color} shapes|{shape}s) are <rel> the anchor?
                   (not in a one-object picture: always 0 there) */
                for (k = -1; s->n > 1 && k < VLS_N_COLORS + VLS_N_SHAPES; k++) {
                    vls_desc d = {-1, -1, -1};
                    char t[64], ans[16];
                    int n = 0, bad = 0;
                    if (k >= 0 && k < VLS_N_COLORS) d.color = k;
                    else if (k >= VLS_N_COLORS) d.shape = k - VLS_N_COLORS;
                    for (i = 0; i < s->n; i++) {
                        double dl;
                        if (i == a || !vls_match(&s->o[i], d)) continue;
                        dl = vls_rel_delta(&s->o[i], &s->o[a], rel);
                        if (dl >= T) n++;
                        else if (dl > 0) bad = 1;
                    }
                    if (bad) continue;
                    vls_desc_text(t, sizeof t, d, "shape", 1);
                    vls_digit(ans, n);
                    ok &= vls_add(l, "rel_count", "how many", "number", ans, "how many %s are %s the %s?", t, rn, at);
                }
            }
        }
    }
    /* "is the X left or right of the Y?" with X and Y named uniquely */
    for (i = 0; i < s->n; i++)
        for (j = 0; j < s->n; j++) {
            vls_desc fi[6], fj[6];
            int ni, nj, axis;
            if (i == j) continue;
            ni = vls_unique_forms(s, i, fi);
            nj = vls_unique_forms(s, j, fj);
            if (!ni || !nj) continue;
            for (axis = 0; axis < 2; axis++) {
                double dl = axis == 0 ? s->o[j].x - s->o[i].x : s->o[j].y - s->o[i].y;
                char t1[64], t2[64];
                if (fabs(dl) < T) continue;
                vls_desc_text(t1, sizeof t1, fi[vls_below(r, (uint64_t)ni)], "object", 0);
                vls_desc_text(t2, sizeof t2, fj[vls_below(r, (uint64_t)nj)], "object", 0);
                if (axis == 0)
                    ok &= vls_add(l, "rel_side", "is the", "other", dl > 0 ? "left" : "right", "is the %s left or right of the %s?", t1, t2);
                else
                    ok &= vls_add(l, "rel_side", "is the", "other", dl > 0 ? "above" : "below", "is the %s above or below the %s?", t1, t2);
            }
        }
    return ok;
}

/* ---- NLVR2-like statements about two scenes ---- */
VLS_FN int vls_nlvr_all(const vls_scene *L, const vls_scene *R, vls_qalist *l) {
    int k, ok = 1;
    vls_desc any = {-1, -1, -1};
    int nl = vls_count(L, any, -1), nr = vls_count(R, any, -1);
    /* existence phrases: a {shape}, a {color} object, a {color} {shape}, a {size} {shape} */
    for (k = 0; k < VLS_N_SHAPES + VLS_N_COLORS + VLS_N_COLORS * VLS_N_SHAPES + VLS_N_SIZES * VLS_N_SHAPES; k++) {
        vls_desc d = {-1, -1, -1};
        char x[64];
        int cl, cr, q = k;
        if (q < VLS_N_SHAPES) d.shape = q;
        else if ((q -= VLS_N_SHAPES) < VLS_N_COLORS) d.color = q;
        else if ((q -= VLS_N_COLORS) < VLS_N_COLORS * VLS_N_SHAPES) { d.color = q / VLS_N_SHAPES; d.shape = q % VLS_N_SHAPES; }
        else { q -= VLS_N_COLORS * VLS_N_SHAPES; d.size = q / VLS_N_SHAPES; d.shape = q % VLS_N_SHAPES; }
        vls_desc_text(x, sizeof x, d, "object", 0);
        cl = vls_count(L, d, -1);
        cr = vls_count(R, d, -1);
        ok &= vls_add(l, "both", "", "", cl && cr ? "true" : "false", "both images contain a %s", x);
        ok &= vls_add(l, "exactly_one", "", "", (cl > 0) != (cr > 0) ? "true" : "false", "exactly one image has a %s", x);
        ok &= vls_add(l, "neither", "", "", !cl && !cr ? "true" : "false", "neither image contains a %s", x);
        ok &= vls_add(l, "one_side", "", "", cl ? "true" : "false", "the left image contains a %s", x);
        ok &= vls_add(l, "one_side", "", "", cr ? "true" : "false", "the right image contains a %s", x);
        if (d.size < 0 && (d.shape < 0 || d.color < 0)) { /* plurals of shapes and colours */
            char xs[64];
            int tot = cl + cr, w;
            vls_desc_text(xs, sizeof xs, d, "object", 1);
            ok &= vls_add(l, "more", "", "", cl > cr ? "true" : "false", "the left image contains more %s than the right image", xs);
            ok &= vls_add(l, "more", "", "", cl < cr ? "true" : "false", "the left image contains fewer %s than the right image", xs);
            ok &= vls_add(l, "more", "", "", cr > cl ? "true" : "false", "the right image contains more %s than the left image", xs);
            ok &= vls_add(l, "same_number", "", "", cl == cr ? "true" : "false", "the two images contain the same number of %s", xs);
            for (w = 2; w <= 8; w++)
                ok &= vls_add(l, "total", "", "", tot == w ? "true" : "false", "there are exactly %s %s in total", vls_number_word[w], xs);
        }
    }
    ok &= vls_add(l, "more_objects", "", "", nl > nr ? "true" : "false", "the left image contains more objects than the right image");
    ok &= vls_add(l, "more_objects", "", "", nl < nr ? "true" : "false", "the left image contains fewer objects than the right image");
    ok &= vls_add(l, "same_number", "", "", nl == nr ? "true" : "false", "the two images contain the same number of objects");
    return ok;
}

/* Choose up to `want` distinct questions from l.  Rounds: every template
 * that still has questions is used once per round, in random order.  From
 * a template: yes/no questions take the answer that is behind in *yes /
 * *no (a tie: random; the other answer when the scene has none); other
 * questions first draw an answer uniformly among the template's answers,
 * then a question with it (so "0" is not as common as the many ways of
 * asking for nothing).  The chosen indices go to pick[]; returns how many. */
VLS_FN int vls_choose(const vls_qalist *l, vls_rng *r, int want, long *yes, long *no, int *pick) {
    const char *avail[64];
    int na = 0, got = 0, i, t;
    char *used = (char *)calloc((size_t)l->n + 1, 1);
    int *cand = (int *)malloc(sizeof(int) * ((size_t)l->n + 1));
    if (!used || !cand) { free(used); free(cand); return 0; }
    while (got < want) {
        int ti, nc = 0, k, sel;
        const char *name;
        if (na == 0) { /* a new round: the templates with questions left */
            for (i = 0; i < l->n; i++) {
                if (used[i]) continue;
                for (t = 0; t < na; t++)
                    if (!strcmp(avail[t], l->v[i].tmpl)) break;
                if (t == na && na < 64) avail[na++] = l->v[i].tmpl;
            }
            if (na == 0) break;
        }
        ti = (int)vls_below(r, (uint64_t)na);
        name = avail[ti];
        avail[ti] = avail[--na];
        for (i = 0; i < l->n; i++)
            if (!used[i] && !strcmp(l->v[i].tmpl, name)) cand[nc++] = i;
        if (nc == 0) continue;
        if (l->v[cand[0]].yn) {
            int want_yes = *yes < *no ? 1 : *no < *yes ? 0 : (int)vls_below(r, 2), m = 0;
            for (k = 0; k < nc; k++) {
                const char *a = l->v[cand[k]].a;
                if ((!strcmp(a, "yes") || !strcmp(a, "true")) == want_yes) cand[m++] = cand[k];
            }
            if (m) nc = m;
        } else {
            const char *answers[64];
            int nans = 0, m = 0;
            for (k = 0; k < nc; k++) {
                for (t = 0; t < nans; t++)
                    if (!strcmp(answers[t], l->v[cand[k]].a)) break;
                if (t == nans && nans < 64) answers[nans++] = l->v[cand[k]].a;
            }
            t = (int)vls_below(r, (uint64_t)nans);
            for (k = 0; k < nc; k++)
                if (!strcmp(l->v[cand[k]].a, answers[t])) cand[m++] = cand[k];
            nc = m;
        }
        sel = cand[vls_below(r, (uint64_t)nc)];
        pick[got++] = sel;
        if (l->v[sel].yn) {
            if (!strcmp(l->v[sel].a, "yes") || !strcmp(l->v[sel].a, "true")) (*yes)++;
            else (*no)++;
        }
        /* a question text is asked once per scene */
        for (i = 0; i < l->n; i++)
            if (!used[i] && !strcmp(l->v[i].q, l->v[sel].q)) used[i] = 1;
    }
    free(used);
    free(cand);
    return got;
}

/* ======================================================================
 * [S6] the generator
 * ====================================================================== */

typedef struct vls_opts {
    uint64_t seed;
    long scenes;
    int side;
    const char *out;
    double val_frac, test_frac;
    int vqa_per_scene, gqa_per_scene, nlvr_per_scene;
    int paraphrases;        /* train captions: one paraphrase line per scene too */
    int locate;             /* 1: a "locate" line per scene (a pretraining task) */
    int mlm_per_scene;      /* "mlm" lines per scene (a pretraining task) */
    int match_per_scene;    /* "match" lines per scene (a pretraining task) */
    double answer_variants; /* per human answer: a surface variant ("Two", "yes.") */
    double answer_noise;    /* per human answer: a wrong answer of the same kind */
    int png;                /* pictures as PNG (needs stb_image_write) */
    int quiet;
} vls_opts;

VLS_FN void vls_default_opts(vls_opts *o) {
    memset(o, 0, sizeof *o);
    o->seed = 1;
    o->scenes = 2000;
    o->side = 128;
    o->val_frac = 0.1;
    o->test_frac = 0.1;
    o->vqa_per_scene = 3;
    o->gqa_per_scene = 3;
    o->nlvr_per_scene = 1;
    o->answer_variants = 0.1;
}

/* ---- output helpers ---- */
#define VLS_N_TASKS 7 /* caption, vqa, gqa, nlvr, then the pretraining tasks locate, mlm, match */
typedef struct vls_out {
    FILE *f[VLS_N_TASKS][3]; /* task x split (the pretraining tasks only when asked for) */
    FILE *all[3];  /* every task of a split */
    FILE *scenes;
    long lines[VLS_N_TASKS][3];
} vls_out;

static const char *const vls_task_name[VLS_N_TASKS] = {"caption", "vqa", "gqa", "nlvr", "locate", "mlm", "match"};

/* Whether task t is written: the four always, a pretraining task when asked. */
static int vls_task_on(const vls_opts *o, int t) {
    return t < 4 || (t == 4 && o->locate) || (t == 5 && o->mlm_per_scene > 0) || (t == 6 && o->match_per_scene > 0);
}

static void vls_jstr(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

/* One JSONL line (already formatted, no newline) to the task's split file
 * and the split's all-task file. */
static void vls_emit(vls_out *o, int task, int split, const char *line) {
    fputs(line, o->f[task][split]);
    fputc('\n', o->f[task][split]);
    fputs(line, o->all[split]);
    fputc('\n', o->all[split]);
    o->lines[task][split]++;
}

/* A growing line. */
typedef struct vls_line {
    char *p;
    size_t n, cap;
} vls_line;

static void vls_lprintf(vls_line *b, const char *fmt, ...) VLS_PRINTF(2, 3);
static void vls_lprintf(vls_line *b, const char *fmt, ...) {
    va_list ap;
    int k;
    va_start(ap, fmt);
    k = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if (b->n + (size_t)k + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        char *q;
        while (c < b->n + (size_t)k + 1) c *= 2;
        q = (char *)realloc(b->p, c);
        if (!q) return;
        b->p = q;
        b->cap = c;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)k + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)k;
}

/* A JSON string literal into a line (our texts are ASCII without quotes). */
static void vls_lstr(vls_line *b, const char *s) {
    vls_lprintf(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') vls_lprintf(b, "\\%c", c);
        else if (c < 0x20) vls_lprintf(b, "\\u%04x", c);
        else vls_lprintf(b, "%c", c);
    }
    vls_lprintf(b, "\"");
}

/* The start of a text line: {"task": T, "image": IMG[, "input": IN], "target": TG
 * (the caller appends the rest and the closing brace). */
static void vls_text_line(vls_line *line, const char *task, const char *img, const char *input, const char *target) {
    line->n = 0;
    vls_lprintf(line, "{\"task\": \"%s\", \"image\": ", task);
    vls_lstr(line, img);
    if (input) {
        vls_lprintf(line, ", \"input\": ");
        vls_lstr(line, input);
    }
    vls_lprintf(line, ", \"target\": ");
    vls_lstr(line, target);
}

static void vls_image_name(char *buf, size_t n, long i, int png) { snprintf(buf, n, "img/%06ld.%s", i, png ? "png" : "ppm"); }

/* A human's answer: the truth, sometimes written differently or wrong. */
static void vls_human(char *out, size_t n, const vls_qa *q, vls_rng *r, double variants, double noise) {
    static const char *const words[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"};
    const char *a = q->a;
    char tmp[16];
    if (noise > 0 && vls_u01(r) < noise) { /* a wrong answer of the same kind */
        int k;
        if (!strcmp(q->atype, "number")) { k = atoi(a); snprintf(tmp, sizeof tmp, "%d", k == 0 || vls_below(r, 2) ? k + 1 : k - 1); a = tmp; }
        else if (!strcmp(a, "yes") || !strcmp(a, "no")) a = strcmp(a, "yes") ? "yes" : "no";
        else {
            const char *const *set = vls_color_name;
            int m = VLS_N_COLORS;
            for (k = 0; k < VLS_N_SHAPES; k++) if (!strcmp(a, vls_shape_name[k])) { set = vls_shape_name; m = VLS_N_SHAPES; }
            for (k = 0; k < VLS_N_SIZES; k++) if (!strcmp(a, vls_size_name[k])) { set = vls_size_name; m = VLS_N_SIZES; }
            do k = (int)vls_below(r, (uint64_t)m); while (!strcmp(set[k], q->a));
            a = set[k];
        }
    }
    if (variants > 0 && vls_u01(r) < variants) { /* the same answer, written differently */
        if (a[0] >= '0' && a[0] <= '9' && atoi(a) <= 10) snprintf(out, n, "%s", words[atoi(a)]);
        else if (vls_below(r, 2)) snprintf(out, n, "%c%s", a[0] - 32, a + 1);
        else snprintf(out, n, "%s.", a);
        return;
    }
    snprintf(out, n, "%s", a);
}

static int vls_mkdir(const char *p, char *err, size_t errn) {
    if (mkdir(p, 0777) != 0 && errno != EEXIST) { snprintf(err, errn, "cannot create %s: %s", p, strerror(errno)); return 0; }
    return 1;
}

static void vls_progress(const vls_opts *o, const char *what, long i, long n, int tty) {
    if (o->quiet || n <= 0) return;
    if (tty) {
        if (i == n || i % 50 == 0) fprintf(stderr, "\rvla-shapes: %s %ld/%ld%s", what, i, n, i == n ? "\n" : "");
    } else if (i == n || (n >= 10 && i % (n / 10) == 0 && i > 0)) fprintf(stderr, "vla-shapes: %s %ld/%ld\n", what, i, n);
}

/* Everything: DIR/img/, DIR/scenes.jsonl, DIR/{task}_{split}.jsonl and
 * DIR/{split}.jsonl.  0 on success, -1 with a message. */
VLS_FN int vls_generate(const vls_opts *o, char *err, size_t errn) {
    vls_out out;
    vls_scene *sc = NULL;
    long *split_list[3] = {NULL, NULL, NULL}, split_n[3] = {0, 0, 0}, i;
    long yes[3][3], no[3][3]; /* task (vqa, gqa, nlvr) x split */
    unsigned char *rgb = NULL;
    char path[4096], img[64], img2[64], cap[512];
    vls_line line = {NULL, 0, 0};
    vls_qalist ql = {NULL, 0, 0};
    int t, sp, rc = -1, tty = isatty(2);
    int *pick = NULL;
    memset(&out, 0, sizeof out);
    memset(yes, 0, sizeof yes);
    memset(no, 0, sizeof no);
#ifndef VLS_HAVE_PNG
    if (o->png) { snprintf(err, errn, "this build has no PNG writer (stb_image_write); use PPM"); return -1; }
#endif
    if (o->scenes < 1 || o->side < 32 || o->side > 4096 || !o->out) { snprintf(err, errn, "bad options (scenes >= 1, 32 <= size <= 4096, an output directory)"); return -1; }
    if (!vls_mkdir(o->out, err, errn)) return -1;
    snprintf(path, sizeof path, "%s/img", o->out);
    if (!vls_mkdir(path, err, errn)) return -1;
    for (t = 0; t < VLS_N_TASKS; t++)
        if (vls_task_on(o, t))
        for (sp = 0; sp < 3; sp++) {
            snprintf(path, sizeof path, "%s/%s_%s.jsonl", o->out, vls_task_name[t], vls_split_name[sp]);
            if (!(out.f[t][sp] = fopen(path, "w"))) { snprintf(err, errn, "cannot write %s", path); goto done; }
        }
    for (sp = 0; sp < 3; sp++) {
        snprintf(path, sizeof path, "%s/%s.jsonl", o->out, vls_split_name[sp]);
        if (!(out.all[sp] = fopen(path, "w"))) { snprintf(err, errn, "cannot write %s", path); goto done; }
    }
    snprintf(path, sizeof path, "%s/scenes.jsonl", o->out);
    if (!(out.scenes = fopen(path, "w"))) { snprintf(err, errn, "cannot write %s", path); goto done; }
    sc = (vls_scene *)malloc(sizeof(vls_scene) * (size_t)o->scenes);
    rgb = (unsigned char *)malloc((size_t)o->side * o->side * 3);
    pick = (int *)malloc(sizeof(int) * 64);
    for (sp = 0; sp < 3; sp++) split_list[sp] = (long *)malloc(sizeof(long) * (size_t)o->scenes);
    if (!sc || !rgb || !pick || !split_list[0] || !split_list[1] || !split_list[2]) { snprintf(err, errn, "out of memory"); goto done; }

    for (i = 0; i < o->scenes; i++) {
        vls_scene *s = &sc[i];
        vls_rng r;
        int k, q, n;
        vls_make_scene(s, o->seed, i, o->side, o->val_frac, o->test_frac);
        split_list[s->split][split_n[s->split]++] = i;
        vls_image_name(img, sizeof img, i, o->png);
        /* the picture */
        vls_render(s, rgb);
        snprintf(path, sizeof path, "%s/%s", o->out, img);
#ifdef VLS_HAVE_PNG
        if (o->png) {
            if (!stbi_write_png(path, o->side, o->side, 3, rgb, o->side * 3)) { snprintf(err, errn, "cannot write %s", path); goto done; }
        } else
#endif
            if (!vls_write_ppm(path, rgb, o->side)) { snprintf(err, errn, "cannot write %s", path); goto done; }
        /* the scene */
        fprintf(out.scenes, "{\"scene\": %ld, \"image\": ", i);
        vls_jstr(out.scenes, img);
        fprintf(out.scenes, ", \"split\": \"%s\", \"width\": %d, \"height\": %d, \"background\": [%d, %d, %d], \"objects\": [",
                vls_split_name[s->split], s->side, s->side, s->bg[0], s->bg[1], s->bg[2]);
        for (k = 0; k < s->n; k++) {
            const vls_obj *ob = &s->o[k];
            fprintf(out.scenes, "%s{\"shape\": \"%s\", \"color\": \"%s\", \"size\": \"%s\", \"x\": %.2f, \"y\": %.2f, \"d\": %.2f, \"rgb\": [%d, %d, %d]}",
                    k ? ", " : "", vls_shape_name[ob->shape], vls_color_name[ob->color], vls_size_name[ob->size], ob->x, ob->y, ob->d,
                    ob->rgb[0], ob->rgb[1], ob->rgb[2]);
        }
        fprintf(out.scenes, "]}\n");
        /* caption */
        vls_caption(s, cap, sizeof cap);
        vls_text_line(&line, "caption", img, NULL, cap);
        vls_lprintf(&line, ", \"refs\": [");
        vls_lstr(&line, cap);
        vls_lprintf(&line, "], \"id\": \"caption-%06ld\", \"scene\": %ld}", i, i);
        vls_emit(&out, 0, s->split, line.p);
        if (o->paraphrases && s->split == 0) {
            char para[512];
            vls_rng_init(&r, o->seed, VLS_ST_CAPTION, (uint64_t)i);
            vls_paraphrase(s, &r, para, sizeof para);
            vls_text_line(&line, "caption", img, NULL, para);
            vls_lprintf(&line, ", \"id\": \"caption-%06ld-p\", \"scene\": %ld, \"paraphrase\": true}", i, i);
            vls_emit(&out, 0, s->split, line.p);
        }
        if (o->locate) { /* every object with where it is: a pretraining task */
            vls_locate(s, cap, sizeof cap);
            /* a question of its own: a whole model has no task prefixes, and
             * a caption line of the same picture has no input text */
            vls_text_line(&line, "locate", img, "where is each object?", cap);
            vls_lprintf(&line, ", \"id\": \"locate-%06ld\", \"scene\": %ld}", i, i);
            vls_emit(&out, 4, s->split, line.p);
        }
        for (q = 0; q < o->mlm_per_scene; q++) { /* a word of the caption or the locate text, masked */
            char in[600], word[32];
            if (q == 0) vls_rng_init(&r, o->seed, VLS_ST_MLM, (uint64_t)i);
            vls_mlm(s, &r, in, sizeof in, word, sizeof word);
            vls_text_line(&line, "mlm", img, in, word);
            vls_lprintf(&line, ", \"id\": \"mlm-%06ld-%d\", \"scene\": %ld}", i, q, i);
            vls_emit(&out, 5, s->split, line.p);
        }
        for (q = 0; q < o->match_per_scene; q++) { /* the caption, or one changed: true / false */
            char in[600];
            int ok;
            if (q == 0) vls_rng_init(&r, o->seed, VLS_ST_MATCH, (uint64_t)i);
            ok = vls_match_text(s, &r, cap, sizeof cap);
            snprintf(in, sizeof in, "image text match: %s", cap);
            vls_text_line(&line, "match", img, in, ok ? "true" : "false");
            vls_lprintf(&line, ", \"id\": \"match-%06ld-%d\", \"scene\": %ld}", i, q, i);
            vls_emit(&out, 6, s->split, line.p);
        }
        /* VQA and GQA */
        for (t = 1; t <= 2; t++) {
            int want = t == 1 ? o->vqa_per_scene : o->gqa_per_scene;
            if (want <= 0) continue;
            if (want > 64) want = 64;
            vls_rng_init(&r, o->seed, t == 1 ? VLS_ST_VQA : VLS_ST_GQA, (uint64_t)i);
            ql.n = 0;
            if (!(t == 1 ? vls_vqa_all(s, &r, &ql) : vls_gqa_all(s, &r, &ql))) { snprintf(err, errn, "out of memory"); goto done; }
            n = vls_choose(&ql, &r, want, &yes[t - 1][s->split], &no[t - 1][s->split], pick);
            for (q = 0; q < n; q++) {
                const vls_qa *qa = &ql.v[pick[q]];
                line.n = 0;
                vls_lprintf(&line, "{\"task\": \"%s\", \"image\": ", vls_task_name[t]);
                vls_lstr(&line, img);
                vls_lprintf(&line, ", \"input\": ");
                vls_lstr(&line, qa->q);
                if (t == 1) {
                    char hum[10][32], *lab[10];
                    int h, u, cnt[10];
                    for (h = 0; h < 10; h++) {
                        vls_human(hum[h], sizeof hum[h], qa, &r, o->answer_variants, o->answer_noise);
                        lab[h] = vla_eval_vqa_label(hum[h], strlen(hum[h]));
                        if (!lab[h]) { snprintf(err, errn, "out of memory"); goto done; }
                    }
                    /* the training label: VL-T5 / LXMERT soft scores of the normalised answers */
                    vls_lprintf(&line, ", \"answers\": {");
                    for (h = 0, u = 0; h < 10; h++) {
                        int g, seen = 0;
                        for (g = 0; g < h; g++) seen |= !strcmp(lab[g], lab[h]);
                        if (seen) continue;
                        cnt[h] = 0;
                        for (g = 0; g < 10; g++) cnt[h] += !strcmp(lab[g], lab[h]);
                        vls_lprintf(&line, "%s", u++ ? ", " : "");
                        vls_lstr(&line, lab[h]);
                        vls_lprintf(&line, ": %.1f", vla_eval_vqa_soft_score(cnt[h]));
                    }
                    vls_lprintf(&line, "}, \"all_answers\": [");
                    for (h = 0; h < 10; h++) {
                        vls_lprintf(&line, "%s", h ? ", " : "");
                        vls_lstr(&line, hum[h]);
                        free(lab[h]);
                    }
                    vls_lprintf(&line, "], \"answer\": ");
                    vls_lstr(&line, qa->a);
                    vls_lprintf(&line, ", \"question_type\": \"%s\", \"answer_type\": \"%s\"", qa->qtype, qa->atype);
                } else {
                    vls_lprintf(&line, ", \"target\": ");
                    vls_lstr(&line, qa->a);
                }
                vls_lprintf(&line, ", \"template\": \"%s\", \"id\": \"%s-%06ld-%d\", \"scene\": %ld}", qa->tmpl, vls_task_name[t], i, q, i);
                vls_emit(&out, t, s->split, line.p);
            }
        }
        vls_progress(o, "scenes", i + 1, o->scenes, tty);
    }

    /* NLVR2-like: each scene on the left once per --nlvr, with a partner
       from the same split on the right */
    for (i = 0; i < o->scenes && o->nlvr_per_scene > 0; i++) {
        const vls_scene *L = &sc[i];
        vls_rng r;
        int q, n;
        long sn = split_n[L->split];
        if (sn < 2) continue;
        vls_rng_init(&r, o->seed, VLS_ST_NLVR, (uint64_t)i);
        for (q = 0; q < o->nlvr_per_scene && q < 64; q++) {
            long j;
            const vls_qa *qa;
            do j = split_list[L->split][vls_below(&r, (uint64_t)sn)]; while (j == i);
            ql.n = 0;
            if (!vls_nlvr_all(L, &sc[j], &ql)) { snprintf(err, errn, "out of memory"); goto done; }
            n = vls_choose(&ql, &r, 1, &yes[2][L->split], &no[2][L->split], pick);
            if (n < 1) continue;
            qa = &ql.v[pick[0]];
            vls_image_name(img, sizeof img, i, o->png);
            vls_image_name(img2, sizeof img2, j, o->png);
            line.n = 0;
            vls_lprintf(&line, "{\"task\": \"nlvr\", \"image\": ");
            vls_lstr(&line, img);
            vls_lprintf(&line, ", \"image2\": ");
            vls_lstr(&line, img2);
            vls_lprintf(&line, ", \"input\": ");
            vls_lstr(&line, qa->q);
            vls_lprintf(&line, ", \"target\": \"%s\", \"template\": \"%s\", \"id\": \"nlvr-%06ld-%d\", \"scenes\": [%ld, %ld]}", qa->a,
                        qa->tmpl, i, q, i, j);
            vls_emit(&out, 3, L->split, line.p);
        }
        vls_progress(o, "nlvr pairs", i + 1, o->scenes, tty);
    }
    rc = 0;
    if (!o->quiet) {
        fprintf(stderr, "vla-shapes: %ld scenes (train %ld, val %ld, test %ld) in %s\n", o->scenes, split_n[0], split_n[1], split_n[2], o->out);
        for (t = 0; t < VLS_N_TASKS; t++) {
            if (!vls_task_on(o, t)) continue;
            fprintf(stderr, "vla-shapes: %-8s lines train %ld, val %ld, test %ld", vls_task_name[t], out.lines[t][0], out.lines[t][1], out.lines[t][2]);
            if (t && t < 4) {
                long y = yes[t - 1][0] + yes[t - 1][1] + yes[t - 1][2], nn = no[t - 1][0] + no[t - 1][1] + no[t - 1][2];
                fprintf(stderr, "; %s %ld / %ld", t == 3 ? "true/false" : "yes/no", y, nn);
            }
            fprintf(stderr, "\n");
        }
    }
done:
    for (t = 0; t < VLS_N_TASKS; t++)
        for (sp = 0; sp < 3; sp++)
            if (out.f[t][sp] && fclose(out.f[t][sp]) && rc == 0) { snprintf(err, errn, "cannot write the %s files", vls_task_name[t]); rc = -1; }
    for (sp = 0; sp < 3; sp++)
        if (out.all[sp] && fclose(out.all[sp]) && rc == 0) { snprintf(err, errn, "cannot write %s.jsonl", vls_split_name[sp]); rc = -1; }
    if (out.scenes && fclose(out.scenes) && rc == 0) { snprintf(err, errn, "cannot write scenes.jsonl"); rc = -1; }
    for (sp = 0; sp < 3; sp++) free(split_list[sp]);
    free(sc);
    free(rgb);
    free(pick);
    free(line.p);
    free(ql.v);
    return rc;
}

#endif /* VLA_SHAPES_H */
