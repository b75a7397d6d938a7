/* test_shapes.c - the Shapes world generator (tools/vla_shapes.h, vla-shapes).
 *
 *   test_shapes WORKDIR [--vla-train PATH/vla-train]
 *
 * Generates small data sets under WORKDIR/test_shapes_data/ and checks them with
 * code of its own (not the generator's):
 *   - captions of hand-made scenes (the grammar and the group order);
 *   - determinism: the same options give the same bytes, another seed
 *     other scenes, and scene i does not depend on --scenes;
 *   - every scene: attribute ranges, sizes, colour jitter, background,
 *     objects inside the picture with the margin, gaps >= 2% of the side
 *     (boundary sampled every 0.01 px against an exact point distance);
 *   - every picture: pixels well inside an object have its colour, pixels
 *     well outside all objects the background, the rest lie in between;
 *   - every caption parsed back into groups (canonical order and grammar;
 *     paraphrases: the same objects);
 *   - every VQA / GQA question and NLVR statement parsed by a small
 *     interpreter here and evaluated on the scene(s): the objects it names
 *     are unique, relations are asked only beyond 15% of the side, the
 *     answer / target is right; the 10 VQA answers and their soft scores;
 *   - yes/no balance (VQA, GQA) and true/false balance (NLVR, per split);
 *   - vla-eval scores the val file's own answers 100% (CIDEr-D near 10;
 *     VQA >= 90% when the humans are noisy);
 *   - with --vla-train: vla-train's data parser accepts the files (the run
 *     gets past the data files and stops at the missing model).
 */
#define _POSIX_C_SOURCE 200809L
#include "../tools/vla_shapes.h"
#define VLA_EVAL_NO_MAIN
#include "../tools/vla-eval.c" /* vla_tool.h (JSON) and the evaluation */
#include "board/vla_check.h"

/* ======================================================================
 * hand-made captions
 * ====================================================================== */

static void add_obj(vls_scene *s, int shape, int color, int size, double x, double y) {
    vls_obj *o = &s->o[s->n++];
    memset(o, 0, sizeof *o);
    o->shape = shape; o->color = color; o->size = size;
    o->x = x; o->y = y; o->d = size ? 40 : 20;
}

static void test_captions(void) {
    struct { int n; int obj[4][3]; const char *want; } cases[] = {
        /* the example, objects in a scrambled order */
        {4, {{VLS_TRIANGLE, VLS_YELLOW, VLS_SMALL}, {VLS_CIRCLE, VLS_RED, VLS_SMALL}, {VLS_SQUARE, VLS_GREEN, VLS_LARGE}, {VLS_CIRCLE, VLS_RED, VLS_SMALL}},
         "two small red circles, a large green square and a small yellow triangle"},
        {1, {{VLS_TRIANGLE, VLS_PURPLE, VLS_LARGE}}, "a large purple triangle"},
        {2, {{VLS_CIRCLE, VLS_RED, VLS_LARGE}, {VLS_CIRCLE, VLS_RED, VLS_SMALL}}, "a small red circle and a large red circle"},
        {2, {{VLS_CIRCLE, VLS_BLUE, VLS_SMALL}, {VLS_CIRCLE, VLS_GREEN, VLS_LARGE}}, "a large green circle and a small blue circle"},
        {4, {{VLS_SQUARE, VLS_BLUE, VLS_SMALL}, {VLS_SQUARE, VLS_BLUE, VLS_SMALL}, {VLS_SQUARE, VLS_BLUE, VLS_SMALL}, {VLS_SQUARE, VLS_BLUE, VLS_SMALL}},
         "four small blue squares"},
        {4, {{VLS_TRIANGLE, VLS_YELLOW, VLS_SMALL}, {VLS_CIRCLE, VLS_PURPLE, VLS_LARGE}, {VLS_TRIANGLE, VLS_YELLOW, VLS_SMALL}, {VLS_TRIANGLE, VLS_YELLOW, VLS_SMALL}},
         "a large purple circle and three small yellow triangles"},
        {4, {{VLS_TRIANGLE, VLS_PURPLE, VLS_LARGE}, {VLS_SQUARE, VLS_GREEN, VLS_SMALL}, {VLS_CIRCLE, VLS_RED, VLS_LARGE}, {VLS_CIRCLE, VLS_RED, VLS_SMALL}},
         "a small red circle, a large red circle, a small green square and a large purple triangle"},
        {3, {{VLS_SQUARE, VLS_YELLOW, VLS_LARGE}, {VLS_SQUARE, VLS_RED, VLS_LARGE}, {VLS_SQUARE, VLS_YELLOW, VLS_LARGE}},
         "a large red square and two large yellow squares"},
    };
    size_t c;
    for (c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        vls_scene s;
        char buf[256];
        int i;
        memset(&s, 0, sizeof s);
        s.side = 128;
        for (i = 0; i < cases[c].n; i++) add_obj(&s, cases[c].obj[i][0], cases[c].obj[i][1], cases[c].obj[i][2], 20 + 25 * i, 64);
        vls_caption(&s, buf, sizeof buf);
        VC_CHECKF(!strcmp(buf, cases[c].want), "caption '%s', want '%s'", buf, cases[c].want);
    }
}

/* The pretraining "locate" text: places from the centre's ninth of the
 * picture, reading order (rows of thirds, then x). */
static void test_locate(void) {
    vls_scene s;
    char buf[512];
    memset(&s, 0, sizeof s);
    s.side = 120; /* thirds: [0, 40), [40, 80), [80, 120) */
    add_obj(&s, VLS_SQUARE, VLS_BLUE, VLS_LARGE, 100, 100);  /* bottom right */
    add_obj(&s, VLS_CIRCLE, VLS_RED, VLS_SMALL, 60, 10);     /* top          */
    add_obj(&s, VLS_TRIANGLE, VLS_GREEN, VLS_SMALL, 10, 60); /* left         */
    add_obj(&s, VLS_CIRCLE, VLS_PURPLE, VLS_LARGE, 20, 39);  /* top left: row 0, before x = 60 */
    vls_locate(&s, buf, sizeof buf);
    VC_CHECKF(!strcmp(buf, "a large purple circle at the top left, a small red circle at the top, a small green triangle at the left "
                           "and a large blue square at the bottom right"), "locate '%s'", buf);
    s.n = 1;
    s.o[0].x = 60; s.o[0].y = 60;
    vls_locate(&s, buf, sizeof buf);
    VC_CHECKF(!strcmp(buf, "a large blue square at the center"), "locate '%s'", buf);
}

/* ======================================================================
 * scenes as read back from scenes.jsonl (the test's own model)
 * ====================================================================== */

typedef struct tobj {
    int shape, color, size;
    double x, y, d;
    int rgb[3];
} tobj;

typedef struct tscene {
    int n, side, split;
    tobj o[8];
    int bg[3];
    char image[64];
} tscene;

static int name_index(const char *s, const char *const *names, int n) {
    int i;
    for (i = 0; s && i < n; i++)
        if (!strcmp(s, names[i])) return i;
    return -1;
}

static const char *jstr(const vla_json *o, const char *k) {
    const vla_json *v = vla_json_get(o, k);
    return v && v->type == VLA_JSON_STRING ? v->s : NULL;
}

/* Whole file split into lines of parsed JSON (NULL on failure). */
typedef struct jlines {
    vla_json **v;
    int n;
} jlines;

static void jl_free(jlines *l) {
    int i;
    for (i = 0; i < l->n; i++) vla_json_free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int jl_read(const char *path, jlines *l) {
    char err[256];
    size_t n, pos = 0;
    unsigned char *buf = vla_tool_read_file(path, &n, err, sizeof err);
    l->v = NULL;
    l->n = 0;
    if (!buf) return 0;
    while (pos < n) {
        const char *p = (const char *)buf + pos, *e = (const char *)memchr(p, '\n', n - pos);
        size_t len = e ? (size_t)(e - p) : n - pos;
        vla_json *j;
        pos += len + (e ? 1 : 0);
        if (!len) continue;
        j = vla_json_parse(p, len, err, sizeof err);
        if (!j) { free(buf); jl_free(l); return 0; }
        l->v = (vla_json **)realloc(l->v, sizeof(vla_json *) * (size_t)(l->n + 1));
        l->v[l->n++] = j;
    }
    free(buf);
    return 1;
}

static int read_scenes(const char *dir, tscene **out, long *count) {
    char path[1024];
    jlines l;
    int i, k, c;
    tscene *sc;
    snprintf(path, sizeof path, "%s/scenes.jsonl", dir);
    if (!jl_read(path, &l)) return 0;
    sc = (tscene *)calloc((size_t)l.n + 1, sizeof(tscene));
    for (i = 0; i < l.n; i++) {
        const vla_json *j = l.v[i], *objs = vla_json_get(j, "objects"), *bg = vla_json_get(j, "background");
        tscene *s = &sc[i];
        if ((long)vla_json_num(j, "scene", -1) != i || !objs || objs->type != VLA_JSON_ARRAY || objs->n_kid > 8 || !bg || bg->n_kid != 3) {
            VC_CHECKF(0, "scenes.jsonl line %d is malformed", i + 1);
            continue;
        }
        s->side = (int)vla_json_num(j, "width", 0);
        VC_CHECK(s->side == (int)vla_json_num(j, "height", -1));
        s->split = name_index(jstr(j, "split"), vls_split_name, 3);
        snprintf(s->image, sizeof s->image, "%s", jstr(j, "image") ? jstr(j, "image") : "");
        for (c = 0; c < 3; c++) s->bg[c] = (int)bg->kid[c].num;
        s->n = objs->n_kid;
        for (k = 0; k < s->n; k++) {
            const vla_json *o = &objs->kid[k], *rgb = vla_json_get(o, "rgb");
            tobj *t = &s->o[k];
            t->shape = name_index(jstr(o, "shape"), vls_shape_name, 3);
            t->color = name_index(jstr(o, "color"), vls_color_name, 5);
            t->size = name_index(jstr(o, "size"), vls_size_name, 2);
            t->x = vla_json_num(o, "x", -1);
            t->y = vla_json_num(o, "y", -1);
            t->d = vla_json_num(o, "d", -1);
            for (c = 0; c < 3; c++) t->rgb[c] = rgb && rgb->n_kid == 3 ? (int)rgb->kid[c].num : -1;
        }
    }
    *count = l.n;
    jl_free(&l);
    *out = sc;
    return 1;
}

/* ---- geometry, written independently of the generator ---- */

/* Distance from point p to object o's area (0 inside). */
static double t_point_dist(const tobj *o, double px, double py) {
    double r = o->d / 2.0;
    if (o->shape == VLS_CIRCLE) {
        double d = sqrt((px - o->x) * (px - o->x) + (py - o->y) * (py - o->y)) - r;
        return d > 0 ? d : 0;
    }
    if (o->shape == VLS_SQUARE) {
        double dx = fabs(px - o->x) - r, dy = fabs(py - o->y) - r;
        dx = dx > 0 ? dx : 0;
        dy = dy > 0 ? dy : 0;
        return sqrt(dx * dx + dy * dy);
    }
    {
        /* triangle: apex (x, y - h/2), base y + h/2, corners x +- r */
        double h = o->d * sqrt(3.0) / 2.0, ax = o->x, ay = o->y - h / 2, bx = o->x + r, by = o->y + h / 2, cx = o->x - r, cy = by;
        double vx[3], vy[3], best = 1e300;
        int i, inside = 1;
        vx[0] = ax; vy[0] = ay; vx[1] = bx; vy[1] = by; vx[2] = cx; vy[2] = cy;
        for (i = 0; i < 3; i++) {
            int j = (i + 1) % 3;
            double ex = vx[j] - vx[i], ey = vy[j] - vy[i], t = ((px - vx[i]) * ex + (py - vy[i]) * ey) / (ex * ex + ey * ey), qx, qy, d;
            if ((ex * (py - vy[i]) - ey * (px - vx[i])) < 0) inside = 0; /* clockwise in y-down coordinates */
            t = t < 0 ? 0 : t > 1 ? 1 : t;
            qx = vx[i] + t * ex;
            qy = vy[i] + t * ey;
            d = sqrt((px - qx) * (px - qx) + (py - qy) * (py - qy));
            best = d < best ? d : best;
        }
        return inside ? 0 : best;
    }
}

/* Signed distance to o's outline: negative inside (by how much), positive outside. */
static double t_signed(const tobj *o, double px, double py) {
    double out = t_point_dist(o, px, py), r = o->d / 2.0;
    if (out > 0) return out;
    if (o->shape == VLS_CIRCLE) return sqrt((px - o->x) * (px - o->x) + (py - o->y) * (py - o->y)) - r;
    if (o->shape == VLS_SQUARE) {
        double a = r - fabs(px - o->x), b = r - fabs(py - o->y);
        return -(a < b ? a : b);
    }
    { /* inside a convex polygon: the nearest edge line */
        double h = o->d * sqrt(3.0) / 2.0, top = o->y - h / 2, base = o->y + h / 2, best = base - py;
        /* the slanted edges: |x - cx| = (y - top) / sqrt(3), unit normal (sqrt(3), -1) / 2 */
        double slant = ((py - top) / sqrt(3.0) - fabs(px - o->x)) * sqrt(3.0) / 2.0;
        return -(slant < best ? slant : best);
    }
}

static int t_outline(const tobj *o, double step, double *xs, double *ys, int cap) {
    double r = o->d / 2.0;
    int n = 0;
    if (o->shape == VLS_CIRCLE) {
        int k, m = (int)(2 * 3.14159265358979323846 * r / step) + 1;
        for (k = 0; k < m && n < cap; k++, n++) {
            xs[n] = o->x + r * cos(k * 2 * 3.14159265358979323846 / m);
            ys[n] = o->y + r * sin(k * 2 * 3.14159265358979323846 / m);
        }
        return n;
    } else {
        double vx[4], vy[4];
        int nv, i;
        if (o->shape == VLS_SQUARE) {
            nv = 4;
            vx[0] = o->x - r; vy[0] = o->y - r; vx[1] = o->x + r; vy[1] = o->y - r;
            vx[2] = o->x + r; vy[2] = o->y + r; vx[3] = o->x - r; vy[3] = o->y + r;
        } else {
            double h = o->d * sqrt(3.0) / 2.0;
            nv = 3;
            vx[0] = o->x; vy[0] = o->y - h / 2; vx[1] = o->x + r; vy[1] = o->y + h / 2; vx[2] = o->x - r; vy[2] = o->y + h / 2;
        }
        for (i = 0; i < nv; i++) {
            int j = (i + 1) % nv, k, m;
            double len = sqrt((vx[j] - vx[i]) * (vx[j] - vx[i]) + (vy[j] - vy[i]) * (vy[j] - vy[i]));
            m = (int)(len / step) + 1;
            for (k = 0; k < m && n < cap; k++, n++) {
                xs[n] = vx[i] + (vx[j] - vx[i]) * k / m;
                ys[n] = vy[i] + (vy[j] - vy[i]) * k / m;
            }
        }
        return n;
    }
}

static double t_half_h(const tobj *o) { return o->shape == VLS_TRIANGLE ? o->d * sqrt(3.0) / 4.0 : o->d / 2.0; }

static void check_scene_geometry(const tscene *s, long idx, int *bad) {
    static double xs[200000], ys[200000];
    int i, j, c;
    double S = s->side, gap = VLS_GAP * S;
    if (s->n < 1 || s->n > 4) { (*bad)++; VC_CHECKF(0, "scene %ld has %d objects", idx, s->n); return; }
    for (c = 0; c < 3; c++)
        if (s->bg[c] < 200 || s->bg[c] > 240) { (*bad)++; VC_CHECKF(0, "scene %ld background %d", idx, s->bg[c]); }
    for (i = 0; i < s->n; i++) {
        const tobj *o = &s->o[i];
        double f = o->d / S, hh = t_half_h(o);
        if (o->shape < 0 || o->color < 0 || o->size < 0) { (*bad)++; VC_CHECKF(0, "scene %ld object %d: unknown attribute", idx, i); continue; }
        if (o->size == VLS_SMALL ? !(f >= 0.12 - 1e-12 && f <= 0.18 + 1e-12) : !(f >= 0.26 - 1e-12 && f <= 0.34 + 1e-12)) {
            (*bad)++;
            VC_CHECKF(0, "scene %ld object %d: %s with d/side %.4f", idx, i, vls_size_name[o->size], f);
        }
        for (c = 0; c < 3; c++)
            if (abs(o->rgb[c] - vls_palette[o->color][c]) > 15) { (*bad)++; VC_CHECKF(0, "scene %ld object %d: colour off by %d", idx, i, o->rgb[c] - vls_palette[o->color][c]); }
        if (o->x - o->d / 2 < 1.0 - 1e-9 || o->x + o->d / 2 > S - 1.0 + 1e-9 || o->y - hh < 1.0 - 1e-9 || o->y + hh > S - 1.0 + 1e-9) {
            (*bad)++;
            VC_CHECKF(0, "scene %ld object %d is not inside the picture with a 1 px margin", idx, i);
        }
    }
    for (i = 0; i < s->n; i++)
        for (j = 0; j < s->n; j++) {
            const tobj *a = &s->o[i], *b = &s->o[j];
            double best = 1e300, far;
            int n, k;
            if (i == j) continue;
            /* far apart for sure: circumscribed circles */
            far = sqrt((a->x - b->x) * (a->x - b->x) + (a->y - b->y) * (a->y - b->y)) - a->d / sqrt(2.0) - b->d / sqrt(2.0);
            if (far >= gap) continue;
            if (t_point_dist(a, b->x, b->y) == 0) { (*bad)++; VC_CHECKF(0, "scene %ld: object %d's centre is inside object %d", idx, j, i); }
            n = t_outline(a, 0.01, xs, ys, 200000);
            for (k = 0; k < n; k++) {
                double d = t_point_dist(b, xs[k], ys[k]);
                best = d < best ? d : best;
            }
            if (best < gap - 0.005 - 1e-9) {
                (*bad)++;
                VC_CHECKF(0, "scene %ld: objects %d and %d are %.4f px apart (gap %.4f)", idx, i, j, best, gap);
            }
        }
}

/* Pixels well inside / outside the objects; the rest between. */
static void check_picture(const char *dir, const tscene *s, long idx, int *bad) {
    char path[1024], err[256];
    size_t n;
    unsigned char *f;
    int side = s->side, px, py, c, errs = 0;
    const unsigned char *pix;
    snprintf(path, sizeof path, "%s/%s", dir, s->image);
    f = vla_tool_read_file(path, &n, err, sizeof err);
    {
        char head[32];
        int hl = snprintf(head, sizeof head, "P6\n%d %d\n255\n", side, side);
        if (!f || n != (size_t)hl + (size_t)side * side * 3 || memcmp(f, head, (size_t)hl)) {
            (*bad)++;
            VC_CHECKF(0, "%s is not a %dx%d P6 picture", path, side, side);
            free(f);
            return;
        }
        pix = f + hl;
    }
    for (py = 0; py < side; py++)
        for (px = 0; px < side; px++) {
            const unsigned char *p = pix + 3 * ((size_t)py * side + px);
            double cx = px + 0.5, cy = py + 0.5, best = 1e300;
            int i, near = -1, want[3];
            for (i = 0; i < s->n; i++) {
                double d = t_point_dist(&s->o[i], cx, cy);
                if (d < best) { best = d; near = i; }
            }
            if (best >= 0.75) { for (c = 0; c < 3; c++) want[c] = s->bg[c]; }
            else if (best == 0 && t_signed(&s->o[near], cx, cy) <= -0.75) { for (c = 0; c < 3; c++) want[c] = s->o[near].rgb[c]; }
            else { /* an edge pixel: between the two colours */
                for (c = 0; c < 3; c++) {
                    int lo = s->bg[c] < s->o[near].rgb[c] ? s->bg[c] : s->o[near].rgb[c];
                    int hi = s->bg[c] < s->o[near].rgb[c] ? s->o[near].rgb[c] : s->bg[c];
                    if (p[c] < lo || p[c] > hi) errs++;
                }
                continue;
            }
            for (c = 0; c < 3; c++)
                if (p[c] != want[c]) errs++;
        }
    if (errs) { (*bad)++; VC_CHECKF(0, "%s (scene %ld): %d channel values do not fit the scene", path, idx, errs); }
    free(f);
}

/* ======================================================================
 * an interpreter for the questions and statements
 * ====================================================================== */

typedef struct tdesc {
    int shape, color, size; /* -1 not said */
    int plural, generic;    /* generic: "object(s)" / "shape(s)" */
} tdesc;

typedef struct words {
    char w[32][24];
    int n, pos;
} words;

static void split_words(const char *s, words *w) {
    int n = 0;
    w->n = 0;
    w->pos = 0;
    while (*s && w->n < 32) {
        while (*s == ' ') s++;
        n = 0;
        while (*s && *s != ' ' && *s != '?' && n < 23) w->w[w->n][n++] = *s++;
        if (*s == '?') s++;
        w->w[w->n][n] = 0;
        if (n) w->n++;
    }
}

static int accept(words *w, const char *t) {
    if (w->pos < w->n && !strcmp(w->w[w->pos], t)) { w->pos++; return 1; }
    return 0;
}

static int parse_desc(words *w, tdesc *d) {
    int k;
    memset(d, 0, sizeof *d);
    d->shape = d->color = d->size = -1;
    if (w->pos < w->n && (k = name_index(w->w[w->pos], vls_size_name, 2)) >= 0) { d->size = k; w->pos++; }
    if (w->pos < w->n && (k = name_index(w->w[w->pos], vls_color_name, 5)) >= 0) { d->color = k; w->pos++; }
    if (w->pos >= w->n) return 0;
    {
        const char *t = w->w[w->pos];
        char sing[24];
        size_t l = strlen(t);
        snprintf(sing, sizeof sing, "%s", t);
        if (l > 1 && t[l - 1] == 's') { sing[l - 1] = 0; d->plural = 1; }
        if ((k = name_index(sing, vls_shape_name, 3)) >= 0) d->shape = k;
        else if (!strcmp(sing, "object") || !strcmp(sing, "shape")) d->generic = 1;
        else return 0;
    }
    w->pos++;
    return 1;
}

static int t_match(const tobj *o, const tdesc *d) {
    return (d->shape < 0 || o->shape == d->shape) && (d->color < 0 || o->color == d->color) && (d->size < 0 || o->size == d->size);
}

static int t_count(const tscene *s, const tdesc *d) {
    int i, n = 0;
    for (i = 0; i < s->n; i++) n += t_match(&s->o[i], d);
    return n;
}

/* The only object matching d, or -1. */
static int t_unique(const tscene *s, const tdesc *d) {
    int i, f = -1;
    for (i = 0; i < s->n; i++)
        if (t_match(&s->o[i], d)) { if (f >= 0) return -1; f = i; }
    return f;
}

static int parse_rel(words *w) {
    if (accept(w, "left")) return accept(w, "of") ? 0 : -1;
    if (accept(w, "right")) return accept(w, "of") ? 1 : -1;
    if (accept(w, "above")) return 2;
    if (accept(w, "below")) return 3;
    return -1;
}

/* How far object t is on side `rel` of object a (pixels). */
static double t_delta(const tobj *t, const tobj *a, int rel) {
    return rel == 0 ? a->x - t->x : rel == 1 ? t->x - a->x : rel == 2 ? a->y - t->y : t->y - a->y;
}

/* Objects (not the anchor) matching d that are clearly on side rel of the
 * anchor; -1 if any such candidate is unclear (0 < delta < 15%). */
static int t_clear(const tscene *s, const tdesc *d, int rel, int anchor, int *which) {
    int i, n = 0;
    for (i = 0; i < s->n; i++) {
        double dl;
        if (i == anchor || !t_match(&s->o[i], d)) continue;
        dl = t_delta(&s->o[i], &s->o[anchor], rel);
        if (dl >= VLS_REL * s->side) { n++; *which = i; }
        else if (dl > 0) return -1;
    }
    return n;
}

static const char *attr_name(const tobj *o, int attr) {
    return attr == 0 ? vls_color_name[o->color] : attr == 1 ? vls_shape_name[o->shape] : vls_size_name[o->size];
}

/* Evaluate a VQA or GQA question on scene s: the answer into ans, 0 when
 * the question is not one we know or breaks a rule (why in why). */
static int t_answer(const tscene *s, const char *q, char *ans, char *why) {
    words w;
    tdesc d1, d2;
    int attr = -1, rel, a, o, n;
    double T = VLS_REL * s->side;
    split_words(q, &w);
    strcpy(why, "not understood");
    if (accept(&w, "what")) {
        attr = accept(&w, "color") ? 0 : accept(&w, "shape") ? 1 : accept(&w, "size") ? 2 : -1;
        if (attr < 0 || !accept(&w, "is") || !accept(&w, "the") || !parse_desc(&w, &d1) || d1.plural) return 0;
        if ((attr == 0 && d1.color >= 0) || (attr == 1 && d1.shape >= 0) || (attr == 2 && d1.size >= 0)) { strcpy(why, "asks what it says"); return 0; }
        if (w.pos == w.n) { /* what color is the circle? */
            if ((o = t_unique(s, &d1)) < 0) { strcpy(why, "the object is not unique"); return 0; }
            strcpy(ans, attr_name(&s->o[o], attr));
            return 1;
        }
        if ((rel = parse_rel(&w)) < 0 || !accept(&w, "the") || !parse_desc(&w, &d2) || d2.plural || w.pos != w.n) return 0;
        if ((a = t_unique(s, &d2)) < 0) { strcpy(why, "the anchor is not unique"); return 0; }
        if (t_clear(s, &d1, rel, a, &o) != 1) { strcpy(why, "the referent is not unique or unclear"); return 0; }
        strcpy(ans, attr_name(&s->o[o], attr));
        return 1;
    }
    if (accept(&w, "how")) {
        if (!accept(&w, "many") || !parse_desc(&w, &d1) || !d1.plural) return 0;
        if (accept(&w, "are") && accept(&w, "there") && w.pos == w.n) { sprintf(ans, "%d", t_count(s, &d1)); return 1; }
        w.pos--;
        if (!accept(&w, "are") || (rel = parse_rel(&w)) < 0 || !accept(&w, "the") || !parse_desc(&w, &d2) || d2.plural || w.pos != w.n) return 0;
        if ((a = t_unique(s, &d2)) < 0) { strcpy(why, "the anchor is not unique"); return 0; }
        if ((n = t_clear(s, &d1, rel, a, &o)) < 0) { strcpy(why, "an object is unclear"); return 0; }
        if (s->n < 2) { strcpy(why, "counting around the only object"); return 0; }
        sprintf(ans, "%d", n);
        return 1;
    }
    if (!accept(&w, "is")) return 0;
    if (accept(&w, "there")) { /* is there a red circle? */
        if (!accept(&w, "a") || !parse_desc(&w, &d1) || d1.plural || w.pos != w.n) return 0;
        strcpy(ans, t_count(s, &d1) ? "yes" : "no");
        return 1;
    }
    if (!accept(&w, "the") || !parse_desc(&w, &d1) || d1.plural) return 0;
    if ((w.pos + 2 < w.n && !strcmp(w.w[w.pos + 1], "or")) ) { /* is the X left or right of the Y? */
        int axis = accept(&w, "left") ? 0 : accept(&w, "above") ? 1 : -1, i1, i2;
        double dl;
        if (axis < 0 || !accept(&w, "or") || !accept(&w, axis ? "below" : "right") || (axis == 0 && !accept(&w, "of")) || !accept(&w, "the") ||
            !parse_desc(&w, &d2) || d2.plural || w.pos != w.n)
            return 0;
        if ((i1 = t_unique(s, &d1)) < 0 || (i2 = t_unique(s, &d2)) < 0 || i1 == i2) { strcpy(why, "not unique"); return 0; }
        dl = axis == 0 ? s->o[i2].x - s->o[i1].x : s->o[i2].y - s->o[i1].y;
        if (fabs(dl) < T) { strcpy(why, "too close on that axis"); return 0; }
        strcpy(ans, axis == 0 ? (dl > 0 ? "left" : "right") : (dl > 0 ? "above" : "below"));
        return 1;
    }
    if ((rel = parse_rel(&w)) < 0 || !accept(&w, "the") || !parse_desc(&w, &d2) || d2.plural) return 0;
    if (w.pos == w.n) { /* VQA: is the red circle left of the blue square? both named by colour and shape */
        int i1 = t_unique(s, &d1), i2 = t_unique(s, &d2);
        double dl;
        if (i1 < 0 || i2 < 0 || i1 == i2) { strcpy(why, "not unique"); return 0; }
        dl = t_delta(&s->o[i1], &s->o[i2], rel);
        if (fabs(dl) < T) { strcpy(why, "too close on that axis"); return 0; }
        strcpy(ans, dl > 0 ? "yes" : "no");
        return 1;
    }
    /* GQA: is the X <rel> the Y {color}? / a {shape}? */
    if ((a = t_unique(s, &d2)) < 0) { strcpy(why, "the anchor is not unique"); return 0; }
    if (t_clear(s, &d1, rel, a, &o) != 1) { strcpy(why, "the referent is not unique or unclear"); return 0; }
    if (accept(&w, "a")) {
        int k = w.pos < w.n ? name_index(w.w[w.pos], vls_shape_name, 3) : -1;
        if (k < 0 || w.pos + 1 != w.n || d1.shape >= 0) return 0;
        strcpy(ans, s->o[o].shape == k ? "yes" : "no");
        return 1;
    } else {
        int k = w.pos < w.n ? name_index(w.w[w.pos], vls_color_name, 5) : -1;
        if (k < 0 || w.pos + 1 != w.n || d1.color >= 0) return 0;
        strcpy(ans, s->o[o].color == k ? "yes" : "no");
        return 1;
    }
}

/* Evaluate an NLVR statement on (L, R): 1 true, 0 false, -1 not understood. */
static int t_statement(const tscene *L, const tscene *R, const char *st) {
    static const char *const num[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight"};
    words w;
    tdesc d;
    int cl, cr, k;
    split_words(st, &w);
    if (accept(&w, "both")) {
        if (!accept(&w, "images") || !accept(&w, "contain") || !accept(&w, "a") || !parse_desc(&w, &d) || w.pos != w.n) return -1;
        return t_count(L, &d) > 0 && t_count(R, &d) > 0;
    }
    if (accept(&w, "exactly")) {
        if (!accept(&w, "one") || !accept(&w, "image") || !accept(&w, "has") || !accept(&w, "a") || !parse_desc(&w, &d) || w.pos != w.n) return -1;
        return (t_count(L, &d) > 0) != (t_count(R, &d) > 0);
    }
    if (accept(&w, "neither")) {
        if (!accept(&w, "image") || !accept(&w, "contains") || !accept(&w, "a") || !parse_desc(&w, &d) || w.pos != w.n) return -1;
        return t_count(L, &d) == 0 && t_count(R, &d) == 0;
    }
    if (accept(&w, "there")) {
        if (!accept(&w, "are") || !accept(&w, "exactly") || w.pos >= w.n) return -1;
        for (k = 2; k <= 8; k++)
            if (!strcmp(w.w[w.pos], num[k])) break;
        if (k > 8) return -1;
        w.pos++;
        if (!parse_desc(&w, &d) || !d.plural || !accept(&w, "in") || !accept(&w, "total") || w.pos != w.n) return -1;
        return t_count(L, &d) + t_count(R, &d) == k;
    }
    if (!accept(&w, "the")) return -1;
    if (accept(&w, "two")) {
        if (!accept(&w, "images") || !accept(&w, "contain") || !accept(&w, "the") || !accept(&w, "same") || !accept(&w, "number") || !accept(&w, "of") ||
            !parse_desc(&w, &d) || !d.plural || w.pos != w.n)
            return -1;
        return t_count(L, &d) == t_count(R, &d);
    }
    {
        int left = accept(&w, "left") ? 1 : accept(&w, "right") ? 0 : -1, more;
        if (left < 0 || !accept(&w, "image") || !accept(&w, "contains")) return -1;
        if (accept(&w, "a")) {
            if (!parse_desc(&w, &d) || d.plural || w.pos != w.n) return -1;
            return t_count(left ? L : R, &d) > 0;
        }
        more = accept(&w, "more") ? 1 : accept(&w, "fewer") ? 0 : -1;
        if (more < 0 || !parse_desc(&w, &d) || !d.plural || !accept(&w, "than") || !accept(&w, "the") || !accept(&w, left ? "right" : "left") ||
            !accept(&w, "image") || w.pos != w.n)
            return -1;
        cl = t_count(left ? L : R, &d);
        cr = t_count(left ? R : L, &d);
        return more ? cl > cr : cl < cr;
    }
}

/* ======================================================================
 * captions parsed back
 * ====================================================================== */

/* Groups "<n> <size> <color> <shape>[s]" separated by ", " and " and ";
 * canonical: in the canonical order, "a" for one; counts into cnt[shape][color][size]. */
static int t_parse_groups(const char *text, int canonical, int cnt[3][5][2]) {
    char buf[512], *p, *parts[8];
    int np = 0, i, prev = -1;
    snprintf(buf, sizeof buf, "%s", text);
    memset(cnt, 0, sizeof(int) * 3 * 5 * 2);
    p = buf;
    for (;;) {
        char *c = strstr(p, ", "), *a = strstr(p, " and ");
        if (np == 8) return 0;
        if (c && (!a || c < a)) { *c = 0; parts[np++] = p; p = c + 2; }
        else if (a) { *a = 0; parts[np++] = p; p = a + 5; if (strstr(p, ", ") || strstr(p, " and ")) return 0; parts[np++] = p; break; }
        else { parts[np++] = p; break; }
    }
    if (np > 1 && !strstr(text, " and ")) return 0;
    for (i = 0; i < np; i++) {
        words w;
        tdesc d;
        int n, key;
        split_words(parts[i], &w);
        if (w.n != 4) return 0;
        n = !strcmp(w.w[0], "a") ? 1 : !strcmp(w.w[0], "one") && !canonical ? 1 : !strcmp(w.w[0], "two") ? 2 : !strcmp(w.w[0], "three") ? 3 : !strcmp(w.w[0], "four") ? 4 : 0;
        if (!n) return 0;
        w.pos = 1;
        if (!parse_desc(&w, &d) || d.size < 0 || d.color < 0 || d.shape < 0 || d.plural != (n > 1)) return 0;
        key = (d.shape * 5 + d.color) * 2 + d.size;
        if (canonical && key <= prev) return 0;
        prev = key;
        if (cnt[d.shape][d.color][d.size]) return 0;
        cnt[d.shape][d.color][d.size] = n;
    }
    return 1;
}

static int t_caption_ok(const tscene *s, const char *text, int canonical) {
    int cnt[3][5][2], want[3][5][2], i;
    const char *p = text;
    char core[512];
    memset(want, 0, sizeof want);
    for (i = 0; i < s->n; i++) want[s->o[i].shape][s->o[i].color][s->o[i].size]++;
    snprintf(core, sizeof core, "%s", p);
    if (!canonical) { /* the paraphrase frames */
        static const char *const pre[] = {"there is ", "there are ", "a picture of ", "one shape: ", "two shapes: ", "three shapes: ", "four shapes: "};
        size_t k, l = strlen(core);
        for (k = 0; k < sizeof pre / sizeof pre[0]; k++)
            if (!strncmp(core, pre[k], strlen(pre[k]))) { memmove(core, core + strlen(pre[k]), l - strlen(pre[k]) + 1); break; }
        l = strlen(core);
        if (l > 22 && !strcmp(core + l - 22, " on a plain background")) core[l - 22] = 0;
    }
    if (!t_parse_groups(core, canonical, cnt)) return 0;
    return !memcmp(cnt, want, sizeof cnt);
}

/* ======================================================================
 * one generated directory
 * ====================================================================== */

static int file_equal(const char *a, const char *b) {
    char err[256];
    size_t na, nb;
    unsigned char *pa = vla_tool_read_file(a, &na, err, sizeof err), *pb = vla_tool_read_file(b, &nb, err, sizeof err);
    int eq = pa && pb && na == nb && !memcmp(pa, pb, na);
    free(pa);
    free(pb);
    return eq;
}

static int image_scene(const char *img) { /* "img/000123.ppm" -> 123 */
    return (int)strtol(img + 4, NULL, 10);
}

static void check_dir(const char *dir, const vls_opts *o) {
    static const char *const tasks[4] = {"caption", "vqa", "gqa", "nlvr"};
    tscene *sc = NULL;
    long ns = 0, i;
    int t, sp, bad_geo = 0, bad_pic = 0;
    long yes[3] = {0, 0, 0}, no[3] = {0, 0, 0}, tf[3][2];
    char path[1024];
    memset(tf, 0, sizeof tf);
    vc_section("scenes: geometry, attributes");
    if (!read_scenes(dir, &sc, &ns)) { VC_CHECKF(0, "cannot read %s/scenes.jsonl", dir); return; }
    VC_CHECK(ns == o->scenes);
    for (i = 0; i < ns; i++) {
        VC_CHECK(sc[i].side == o->side && sc[i].split >= 0);
        check_scene_geometry(&sc[i], i, &bad_geo);
    }
    VC_CHECKF(bad_geo == 0, "%d geometry problems", bad_geo);
    vc_section("pictures");
    for (i = 0; i < ns; i++) check_picture(dir, &sc[i], i, &bad_pic);
    VC_CHECKF(bad_pic == 0, "%d pictures do not fit their scenes", bad_pic);

    for (t = 0; t < 4; t++) {
        long all_lines = 0;
        vc_section(tasks[t]);
        for (sp = 0; sp < 3; sp++) {
            jlines l;
            int k, errors = 0;
            snprintf(path, sizeof path, "%s/%s_%s.jsonl", dir, tasks[t], vls_split_name[sp]);
            if (!jl_read(path, &l)) { VC_CHECKF(0, "cannot read %s", path); continue; }
            all_lines += l.n;
            for (k = 0; k < l.n; k++) {
                const vla_json *j = l.v[k];
                const char *task = jstr(j, "task"), *img = jstr(j, "image"), *id = jstr(j, "id"), *input = jstr(j, "input");
                const char *target = jstr(j, "target");
                long si = (long)vla_json_num(j, "scene", -1);
                const tscene *s;
                char ans[32], why[64];
                if (!task || strcmp(task, tasks[t]) || !img || !id) { errors++; VC_CHECKF(0, "%s:%d: task/image/id", path, k + 1); continue; }
                if (t == 3) { const vla_json *ss = vla_json_get(j, "scenes"); si = ss && ss->n_kid == 2 ? (long)ss->kid[0].num : -1; }
                if (si < 0 || si >= ns || image_scene(img) != si || strcmp(sc[si].image, img) || sc[si].split != sp) {
                    errors++;
                    VC_CHECKF(0, "%s:%d: picture / scene / split do not agree", path, k + 1);
                    continue;
                }
                s = &sc[si];
                if (t == 0) {
                    const vla_json *para = vla_json_get(j, "paraphrase");
                    int is_para = para && para->type == VLA_JSON_TRUE;
                    if (is_para && sp != 0) { errors++; VC_CHECKF(0, "%s:%d: a paraphrase outside train", path, k + 1); }
                    if (!target || !t_caption_ok(s, target, !is_para)) {
                        errors++;
                        VC_CHECKF(0, "%s:%d: caption '%s' does not describe scene %ld%s", path, k + 1, target ? target : "", si, is_para ? " (paraphrase)" : "");
                    }
                } else if (t == 1 || t == 2) {
                    const char *truth = t == 1 ? jstr(j, "answer") : target;
                    if (!input || !truth || !t_answer(s, input, ans, why) || strcmp(ans, truth)) {
                        errors++;
                        VC_CHECKF(0, "%s:%d: '%s' -> '%s', the scene says '%s' (%s)", path, k + 1, input ? input : "", truth ? truth : "",
                                  input && truth && t_answer(s, input, ans, why) ? ans : "-", why);
                        continue;
                    }
                    if (!strcmp(truth, "yes")) yes[t]++;
                    if (!strcmp(truth, "no")) no[t]++;
                    if (t == 1) { /* 10 humans; the soft scores from their normalised answers */
                        const vla_json *all = vla_json_get(j, "all_answers"), *sc_ = vla_json_get(j, "answers");
                        int h, g, right = 0, okk = all && all->type == VLA_JSON_ARRAY && all->n_kid == 10 && sc_ && sc_->type == VLA_JSON_OBJECT;
                        for (h = 0; okk && h < 10; h++) {
                            char *lab = vla_eval_vqa_label(all->kid[h].s, all->kid[h].n);
                            int cnt = 0, found = 0;
                            for (g = 0; g < 10; g++) {
                                char *l2 = vla_eval_vqa_label(all->kid[g].s, all->kid[g].n);
                                cnt += !strcmp(lab, l2);
                                free(l2);
                            }
                            for (g = 0; g < sc_->n_kid; g++)
                                if (!strcmp(sc_->kid[g].key, lab)) { found = 1; okk &= fabs(sc_->kid[g].num - vla_eval_vqa_soft_score(cnt)) < 1e-9; }
                            okk &= found;
                            right += !strcmp(lab, truth);
                            free(lab);
                        }
                        if (okk && o->answer_noise == 0) okk = right == 10;
                        if (!okk) { errors++; VC_CHECKF(0, "%s:%d: the 10 answers / their scores", path, k + 1); }
                    }
                } else {
                    const vla_json *ss = vla_json_get(j, "scenes");
                    const char *img2 = jstr(j, "image2");
                    long sj = ss && ss->n_kid == 2 ? (long)ss->kid[1].num : -1;
                    int v;
                    if (sj < 0 || sj >= ns || sj == si || !img2 || strcmp(sc[sj].image, img2) || sc[sj].split != sp || !input || !target) {
                        errors++;
                        VC_CHECKF(0, "%s:%d: the second picture", path, k + 1);
                        continue;
                    }
                    v = t_statement(s, &sc[sj], input);
                    if (v < 0 || strcmp(target, v ? "true" : "false")) {
                        errors++;
                        VC_CHECKF(0, "%s:%d: '%s' is %s, target %s", path, k + 1, input, v < 0 ? "not understood" : v ? "true" : "false", target);
                    }
                    tf[sp][v > 0]++;
                }
            }
            VC_CHECKF(errors == 0, "%s: %d bad line(s) of %d", path, errors, l.n);
            jl_free(&l);
        }
        VC_CHECKF(all_lines > 0, "%s: no lines at all", tasks[t]);
    }
    vc_section("balance");
    VC_CHECKF(labs(yes[1] - no[1]) <= 3 && yes[1] > 0, "vqa yes %ld no %ld", yes[1], no[1]);
    VC_CHECKF(labs(yes[2] - no[2]) <= 3 && yes[2] > 0, "gqa yes %ld no %ld", yes[2], no[2]);
    for (sp = 0; sp < 3; sp++) VC_CHECKF(labs(tf[sp][0] - tf[sp][1]) <= 1, "nlvr %s: true %ld false %ld", vls_split_name[sp], tf[sp][1], tf[sp][0]);
    if (!vc_st.verbose) printf("     %s: %ld scenes; vqa yes/no %ld/%ld, gqa %ld/%ld, nlvr true/false %ld/%ld\n", dir, ns, yes[1], no[1], yes[2], no[2],
                               tf[0][1] + tf[1][1] + tf[2][1], tf[0][0] + tf[1][0] + tf[2][0]);

    vc_section("files");
    { /* the split files hold every task's lines; ids unique */
        jlines l;
        for (sp = 0; sp < 3; sp++) {
            long want = 0;
            for (t = 0; t < 4; t++) {
                jlines m;
                snprintf(path, sizeof path, "%s/%s_%s.jsonl", dir, tasks[t], vls_split_name[sp]);
                if (jl_read(path, &m)) { want += m.n; jl_free(&m); }
            }
            snprintf(path, sizeof path, "%s/%s.jsonl", dir, vls_split_name[sp]);
            VC_CHECK(jl_read(path, &l) && l.n == want);
            if (l.n) {
                int a, b, dup = 0;
                for (a = 0; a < l.n && !dup; a++)
                    for (b = a + 1; b < l.n && !dup; b++) dup = !strcmp(jstr(l.v[a], "id"), jstr(l.v[b], "id"));
                VC_CHECKF(!dup, "%s: an id appears twice", path);
            }
            jl_free(&l);
        }
    }
    free(sc);
}

/* The pretraining lines --mlm and --match: the masked word put back gives
 * the scene's caption or its locate line; a "true" match line holds the
 * canonical caption, a "false" one a canonical caption of other objects. */
static void check_pretrain(const char *dir, const vls_opts *o) {
    tscene *sc = NULL;
    long ns = 0;
    int sp, mlm = 0, mlm_ok = 0, match = 0, match_ok = 0, tf[2] = {0, 0}, from_locate = 0;
    char path[1300], *locs = NULL;
    vc_section("pretraining lines: mlm, match");
    if (!read_scenes(dir, &sc, &ns)) { VC_CHECKF(0, "cannot read %s/scenes.jsonl", dir); return; }
    locs = (char *)calloc((size_t)ns, 512);
    for (sp = 0; sp < 3 && locs; sp++) { /* the locate text of every scene */
        jlines l;
        int k;
        snprintf(path, sizeof path, "%s/locate_%s.jsonl", dir, vls_split_name[sp]);
        if (!jl_read(path, &l)) continue;
        for (k = 0; k < l.n; k++) {
            long si = (long)vla_json_num(l.v[k], "scene", -1);
            const char *tg = jstr(l.v[k], "target");
            if (si >= 0 && si < ns && tg) snprintf(locs + 512 * si, 512, "%s", tg);
        }
        jl_free(&l);
    }
    for (sp = 0; sp < 3 && locs; sp++) {
        jlines l;
        int k;
        snprintf(path, sizeof path, "%s/mlm_%s.jsonl", dir, vls_split_name[sp]);
        if (VC_CHECKF(jl_read(path, &l), "cannot read %s", path)) {
            for (k = 0; k < l.n; k++) {
                const char *in = jstr(l.v[k], "input"), *tg = jstr(l.v[k], "target"), *m = in ? strstr(in, "<mask>") : NULL;
                long si = (long)vla_json_num(l.v[k], "scene", -1);
                char full[600];
                mlm++;
                if (!m || !tg || !*tg || strstr(m + 1, "<mask>") || si < 0 || si >= ns || sc[si].split != sp) continue;
                snprintf(full, sizeof full, "%.*s%s%s", (int)(m - in), in, tg, m + 6);
                if (!strcmp(full, locs + 512 * si)) { from_locate++; mlm_ok++; }
                else mlm_ok += t_caption_ok(&sc[si], full, 1);
            }
            jl_free(&l);
        }
        snprintf(path, sizeof path, "%s/match_%s.jsonl", dir, vls_split_name[sp]);
        if (VC_CHECKF(jl_read(path, &l), "cannot read %s", path)) {
            for (k = 0; k < l.n; k++) {
                const char *in = jstr(l.v[k], "input"), *tg = jstr(l.v[k], "target");
                long si = (long)vla_json_num(l.v[k], "scene", -1);
                int cnt[3][5][2], truth;
                match++;
                if (!in || !tg || strncmp(in, "image text match: ", 18) || si < 0 || si >= ns || sc[si].split != sp) continue;
                if (!t_parse_groups(in + 18, 1, cnt)) continue; /* a canonical caption, true or not */
                truth = t_caption_ok(&sc[si], in + 18, 1);
                if (!strcmp(tg, truth ? "true" : "false")) { match_ok++; tf[truth]++; }
            }
            jl_free(&l);
        }
    }
    VC_CHECKF(mlm == o->mlm_per_scene * ns && mlm_ok == mlm, "mlm: %d of %d lines put back give the caption or locate text (%ld scenes)", mlm_ok, mlm, ns);
    VC_CHECKF(from_locate > 0 && from_locate < mlm, "mlm: %d of %d from the locate text", from_locate, mlm);
    VC_CHECKF(match == o->match_per_scene * ns && match_ok == match, "match: %d of %d lines right", match_ok, match);
    VC_CHECKF(tf[0] > match / 4 && tf[1] > match / 4, "match: true %d false %d", tf[1], tf[0]);
    free(locs);
    free(sc);
}

/* The val file's own answers as predictions: every task at 100%. */
static void check_eval(const char *dir, double noise) {
    char data[1024], pred[1024], err[1024];
    jlines l;
    FILE *f;
    int k, t;
    ev_opts eo;
    ev_result r;
    vc_section("vla-eval on the val split");
    snprintf(data, sizeof data, "%s/val.jsonl", dir);
    snprintf(pred, sizeof pred, "%s/val_perfect_predictions.jsonl", dir);
    if (!jl_read(data, &l) || !(f = fopen(pred, "w"))) { VC_CHECKF(0, "cannot read %s / write %s", data, pred); return; }
    for (k = 0; k < l.n; k++) {
        const char *task = jstr(l.v[k], "task"), *p = !strcmp(task, "vqa") ? jstr(l.v[k], "answer") : jstr(l.v[k], "target");
        fprintf(f, "{\"id\": ");
        ev_json_str(f, jstr(l.v[k], "id"));
        fprintf(f, ", \"prediction\": ");
        ev_json_str(f, p ? p : "");
        fprintf(f, "}\n");
    }
    fclose(f);
    memset(&eo, 0, sizeof eo);
    eo.data = data;
    eo.pred = pred;
    if (ev_run(&eo, &r, err, sizeof err)) { VC_CHECKF(0, "vla-eval: %s", err); jl_free(&l); return; }
    if (vc_st.verbose) ev_print(stdout, &r);
    VC_CHECK(r.n_joined == l.n && r.n_tasks == 4);
    for (t = 0; t < r.n_tasks; t++) {
        const ev_task *T = &r.t[t];
        if (noise > 0 && !strcmp(T->name, "vqa")) /* wrong humans can outvote the truth now and then */
            VC_CHECKF(T->n > 0 && T->sum >= 0.9 * (double)T->n, "%s: %g of %ld", T->name, T->sum, T->n);
        else
            VC_CHECKF(T->n > 0 && fabs(T->sum - (double)T->n) < 1e-9, "%s: %g of %ld", T->name, T->sum, T->n);
        if (T->is_caption) VC_CHECKF(T->cider_mean > 9.9 && T->cider_mean <= 10.0 + 1e-9, "CIDEr-D of the references themselves: %g", T->cider_mean);
    }
    ev_result_free(&r);
    jl_free(&l);
    remove(pred);
}

static int same_tree(const char *a, const char *b, long scenes) {
    static const char *const files[] = {"scenes.jsonl", "train.jsonl", "val.jsonl", "test.jsonl", "caption_train.jsonl", "caption_val.jsonl",
                                        "caption_test.jsonl", "vqa_train.jsonl", "vqa_val.jsonl", "vqa_test.jsonl", "gqa_train.jsonl",
                                        "gqa_val.jsonl", "gqa_test.jsonl", "nlvr_train.jsonl", "nlvr_val.jsonl", "nlvr_test.jsonl"};
    char pa[1024], pb[1024];
    size_t k;
    long i;
    for (k = 0; k < sizeof files / sizeof files[0]; k++) {
        snprintf(pa, sizeof pa, "%s/%s", a, files[k]);
        snprintf(pb, sizeof pb, "%s/%s", b, files[k]);
        if (!file_equal(pa, pb)) return 0;
    }
    for (i = 0; i < scenes; i++) {
        snprintf(pa, sizeof pa, "%s/img/%06ld.ppm", a, i);
        snprintf(pb, sizeof pb, "%s/img/%06ld.ppm", b, i);
        if (!file_equal(pa, pb)) return 0;
    }
    return 1;
}

/* The first n lines of a file. */
static char *head_lines(const char *path, long n) {
    char err[256];
    size_t sz, i;
    unsigned char *b = vla_tool_read_file(path, &sz, err, sizeof err);
    long seen = 0;
    if (!b) return NULL;
    for (i = 0; i < sz && seen < n; i++) seen += b[i] == '\n';
    b[i] = 0;
    return (char *)b;
}

static void vla_train_accepts(const char *train, const char *work, const char *dir, const char *data, const char *dev) {
    char cmd[4096], devopt[1300], log[1024], err[256];
    size_t n;
    unsigned char *text;
    snprintf(log, sizeof log, "%s/vla_train.log", work);
    devopt[0] = 0;
    if (dev) snprintf(devopt, sizeof devopt, " --dev '%s/%s'", dir, dev);
    snprintf(cmd, sizeof cmd, "'%s' --model '%s/no-such-model.gguf' --data '%s/%s'%s --init single_adapter --out '%s/vla_train_out' > '%s' 2>&1",
             train, work, dir, data, devopt, work, log);
    if (system(cmd) == -1) VC_CHECKF(0, "cannot run %s", train);
    text = vla_tool_read_file(log, &n, err, sizeof err);
    VC_CHECKF(text && strstr((const char *)text, "cannot load the model") && !strstr((const char *)text, ".jsonl:"),
              "vla-train --data %s%s%s: %s", data, dev ? " --dev " : "", dev ? dev : "", text ? (const char *)text : "(no log)");
    free(text);
}

int main(int argc, char **argv) {
    const char *work = NULL, *train = NULL;
    char root[512], a[600], b[600], c[600], d[600], e[600], err[4300];
    vls_opts o, o2;
    int i;
    vc_init(argc, argv);
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--vla-train") && i + 1 < argc) train = argv[++i];
        else if (argv[i][0] != '-') work = argv[i];
    }
    if (!work) { fprintf(stderr, "usage: test_shapes WORKDIR [--vla-train PATH]\n"); return 2; }
    snprintf(root, sizeof root, "%s/test_shapes_data", work);
    mkdir(work, 0777);
    mkdir(root, 0777);

    vc_section("captions of hand-made scenes");
    test_captions();
    test_locate();

    vc_section("vls_distance");
    {
        vls_obj p, q;
        memset(&p, 0, sizeof p);
        memset(&q, 0, sizeof q);
        p.shape = VLS_SQUARE; p.x = 10; p.y = 10; p.d = 4;
        q.shape = VLS_SQUARE; q.x = 20; q.y = 10; q.d = 4;
        VC_CHECK(fabs(vls_distance(&p, &q) - 6.0) < 1e-12);
        q.shape = VLS_CIRCLE; q.x = 20; q.y = 20; q.d = 2;
        VC_CHECK(fabs(vls_distance(&p, &q) - (sqrt(128.0) - 1.0)) < 1e-12);
        q.shape = VLS_TRIANGLE; q.x = 10; q.y = 10 + 2 + 1 + 4 * sqrt(3.0) / 4; q.d = 4; /* apex 1 px below the square */
        VC_CHECK(fabs(vls_distance(&p, &q) - 1.0) < 1e-12);
        q.x = 11;
        q.y = 11;
        VC_CHECK(vls_distance(&p, &q) < 0);
    }

    vls_default_opts(&o);
    o.seed = 7;
    o.scenes = 300;
    o.paraphrases = 1;
    o.quiet = 1;
    snprintf(a, sizeof a, "%s/a", root);
    snprintf(b, sizeof b, "%s/b", root);
    snprintf(c, sizeof c, "%s/c", root);
    snprintf(d, sizeof d, "%s/d", root);
    snprintf(e, sizeof e, "%s/e", root);

    vc_section("determinism");
    o.out = a;
    VC_CHECKF(vls_generate(&o, err, sizeof err) == 0, "generate: %s", err);
    o.out = b;
    VC_CHECKF(vls_generate(&o, err, sizeof err) == 0, "generate: %s", err);
    VC_CHECK(same_tree(a, b, o.scenes));
    o2 = o;
    o2.seed = 8;
    o2.out = c;
    VC_CHECKF(vls_generate(&o2, err, sizeof err) == 0, "generate: %s", err);
    {
        char p1[1300], p2[1300];
        snprintf(p1, sizeof p1, "%s/scenes.jsonl", a);
        snprintf(p2, sizeof p2, "%s/scenes.jsonl", c);
        VC_CHECK(!file_equal(p1, p2));
    }
    o2 = o;
    o2.scenes = 40;
    o2.out = d;
    VC_CHECKF(vls_generate(&o2, err, sizeof err) == 0, "generate: %s", err);
    {
        char p1[1300], p2[1300], *h1, *h2;
        snprintf(p1, sizeof p1, "%s/scenes.jsonl", a);
        snprintf(p2, sizeof p2, "%s/scenes.jsonl", d);
        h1 = head_lines(p1, 40);
        h2 = head_lines(p2, 40);
        VC_CHECKF(h1 && h2 && !strcmp(h1, h2), "scene i depends on --scenes");
        free(h1);
        free(h2);
    }

    check_dir(a, &o);
    check_eval(a, o.answer_noise);

    /* other settings: smaller pictures, noisy humans, more questions */
    vc_section("second configuration");
    o2 = o;
    o2.seed = 12345678901234ull;
    o2.scenes = 150;
    o2.side = 96;
    o2.val_frac = 0.2;
    o2.test_frac = 0.2;
    o2.vqa_per_scene = 5;
    o2.gqa_per_scene = 4;
    o2.nlvr_per_scene = 2;
    o2.paraphrases = 0;
    o2.answer_variants = 0.3;
    o2.answer_noise = 0.3;
    o2.out = e;
    VC_CHECKF(vls_generate(&o2, err, sizeof err) == 0, "generate: %s", err);
    check_dir(e, &o2);
    { /* --locate: one line per scene, with the question that tells it from a caption */
        vls_opts o3 = o2;
        o3.locate = 1;
        o3.scenes = 30;
        o3.out = c; /* reused: the seed-8 tree is not needed any more */
        VC_CHECKF(vls_generate(&o3, err, sizeof err) == 0, "generate: %s", err);
        static const char *split[3] = {"train", "val", "test"};
        int k, lines = 0, good = 0;
        for (k = 0; k < 3; k++) {
            char path[1300], errb[256], *buf, *ln;
            size_t nb;
            snprintf(path, sizeof path, "%s/locate_%s.jsonl", c, split[k]);
            buf = (char *)vla_tool_read_file(path, &nb, errb, sizeof errb);
            if (!VC_CHECKF(buf != NULL, "%s missing", path)) continue;
            for (ln = strtok(buf, "\n"); ln; ln = strtok(NULL, "\n")) {
                lines++;
                good += strstr(ln, "\"task\": \"locate\"") && strstr(ln, "\"input\": \"where is each object?\"") &&
                        strstr(ln, "\"target\": \"a") != NULL;
            }
            free(buf);
        }
        VC_CHECKF(lines == o3.scenes && good == lines, "locate lines: %d of %d well-formed, %ld scenes", good, lines, (long)o3.scenes);
        o3.mlm_per_scene = 3;
        o3.match_per_scene = 2;
        VC_CHECKF(vls_generate(&o3, err, sizeof err) == 0, "generate: %s", err);
        check_pretrain(c, &o3);
    }
    check_eval(e, o2.answer_noise);

    if (train) {
        vc_section("vla-train reads the files");
        vla_train_accepts(train, root, a, "train.jsonl", "val.jsonl");
        vla_train_accepts(train, root, a, "test.jsonl", NULL);
        vla_train_accepts(train, root, e, "train.jsonl", "test.jsonl");
        vla_train_accepts(train, root, e, "nlvr_val.jsonl", NULL);
    }

    vc_selftest();
    return vc_summary();
}
