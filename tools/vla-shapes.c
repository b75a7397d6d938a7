/* vla-shapes: the "Shapes world" data set (docs/shapes.md).
 *
 *   vla-shapes --out DIR [--seed 1] [--scenes 2000] [--size 128]
 *              [--val 0.1] [--test 0.1] [--vqa 3] [--gqa 3] [--nlvr 1]
 *              [--paraphrases] [--locate] [--mlm N] [--match N] [--answer-variants 0.1] [--answer-noise 0]
 *              [--png] [--quiet]
 *
 * Writes DIR/img/NNNNNN.ppm (or .png), DIR/scenes.jsonl (what each picture
 * holds, exactly), DIR/{caption,vqa,gqa,nlvr}_{train,val,test}.jsonl (and
 * locate_, mlm_, match_ when asked for: pretraining tasks) and
 * DIR/{train,val,test}.jsonl (all tasks of a split) in vla-train's data
 * format.  The same options give the same bytes.
 */
#define _POSIX_C_SOURCE 200809L
#include "vla_shapes.h"

#include <limits.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: vla-shapes --out DIR [--seed N] [--scenes N] [--size PIXELS] [--val F] [--test F]\n"
            "                  [--vqa N] [--gqa N] [--nlvr N] [--paraphrases] [--locate] [--mlm N] [--match N]\n"
            "                  [--answer-variants P]\n"
            "                  [--answer-noise P] [--png] [--quiet]\n"
            "  --seed N            everything follows from it (default 1)\n"
            "  --scenes N          pictures (default 2000)\n"
            "  --size PIXELS       picture side, 32..4096 (default 128)\n"
            "  --val F, --test F   fractions of the scenes in the val / test splits (default 0.1 each)\n"
            "  --vqa N, --gqa N    questions per scene (default 3 each); --nlvr N statements per scene (1)\n"
            "  --paraphrases       train captions: a paraphrase line per scene besides the canonical one\n"
            "  --locate            a \"locate\" line per scene (every object and where it is: a pretraining task)\n"
            "  --mlm N             N \"mlm\" lines per scene: the caption or locate text with one word as <mask>,\n"
            "                      the word the target (a pretraining task; default 0)\n"
            "  --match N           N \"match\" lines per scene: \"image text match: CAPTION\" -> true / false, the\n"
            "                      caption the picture's or one with a change (a pretraining task; default 0)\n"
            "  --answer-variants P each of the 10 VQA answers is written differently (\"Two\", \"yes.\")\n"
            "                      with probability P (default 0.1; the official normalisation undoes it)\n"
            "  --answer-noise P    each of the 10 VQA answers is a wrong one with probability P (default 0)\n"
            "  --png               PNG pictures instead of PPM (%s)\n"
            "  --quiet             no progress on stderr\n",
#ifdef VLS_HAVE_PNG
            "available in this build"
#else
            "not available: this build has no stb_image_write"
#endif
    );
}

static double num(const char *opt, const char *v, double lo, double hi) {
    char *e;
    double x = strtod(v, &e);
    if (e == v || *e || !(x >= lo && x <= hi)) {
        fprintf(stderr, "vla-shapes: %s needs a number in [%g, %g]\n", opt, lo, hi);
        exit(2);
    }
    return x;
}

int main(int argc, char **argv) {
    vls_opts o;
    char err[4200];
    int i;
    vls_default_opts(&o);
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
#define OPT(name) (!strcmp(a, name) && v && (++i, 1))
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (OPT("--out")) o.out = v;
        else if (OPT("--seed")) {
            char *e;
            unsigned long long s;
            errno = 0;
            s = strtoull(v, &e, 10);
            if (e == v || *e || errno || v[0] == '-') { fprintf(stderr, "vla-shapes: --seed needs a non-negative integer\n"); return 2; }
            o.seed = (uint64_t)s;
        }
        else if (OPT("--scenes")) o.scenes = (long)num(a, v, 1, 1e7);
        else if (OPT("--size")) o.side = (int)num(a, v, 32, 4096);
        else if (OPT("--val")) o.val_frac = num(a, v, 0, 1);
        else if (OPT("--test")) o.test_frac = num(a, v, 0, 1);
        else if (OPT("--vqa")) o.vqa_per_scene = (int)num(a, v, 0, 64);
        else if (OPT("--gqa")) o.gqa_per_scene = (int)num(a, v, 0, 64);
        else if (OPT("--nlvr")) o.nlvr_per_scene = (int)num(a, v, 0, 64);
        else if (OPT("--mlm")) o.mlm_per_scene = (int)num(a, v, 0, 64);
        else if (OPT("--match")) o.match_per_scene = (int)num(a, v, 0, 64);
        else if (OPT("--answer-variants")) o.answer_variants = num(a, v, 0, 1);
        else if (OPT("--answer-noise")) o.answer_noise = num(a, v, 0, 1);
        else if (!strcmp(a, "--paraphrases")) o.paraphrases = 1;
        else if (!strcmp(a, "--locate")) o.locate = 1;
        else if (!strcmp(a, "--png")) o.png = 1;
        else if (!strcmp(a, "--quiet")) o.quiet = 1;
        else { fprintf(stderr, "vla-shapes: unknown or incomplete option '%s'\n", a); usage(stderr); return 2; }
#undef OPT
    }
    if (!o.out) { usage(stderr); return 2; }
    if (o.val_frac + o.test_frac > 1.0) { fprintf(stderr, "vla-shapes: --val + --test is above 1\n"); return 2; }
    if (vls_generate(&o, err, sizeof err)) { fprintf(stderr, "vla-shapes: %s\n", err); return 1; }
    return 0;
}
