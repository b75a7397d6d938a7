/* vla-quantize: rewrite a model file's weight matrices in another type.
 *
 *   vla-quantize [--to i8|q8_0|f16|f32] [--keep GLOB]... [--quiet] IN.gguf OUT.gguf
 *   vla-quantize --to i8 --clip-calibrate PIC [--clip-calibrate PIC]... [--min-grid-cos X]
 *                [--keep GLOB]... [--quiet] IN.gguf OUT.gguf
 *
 * --to i8 (default): GGUF I8 matrices with one F32 scale per row in
 * "<name>_scale" (the integer path of vladapter.h runs on them by default);
 * q8_0: ggml blocks of 32; f16; f32: everything widened.  --keep NAME keeps a
 * tensor (fnmatch pattern, repeatable) in F32.  Which tensors are converted
 * and the format: tools/vla_quant.h.  Input: F32, F16, Q8_0 or I8 files.
 * Prints progress on stderr and a per-tensor error table (max abs error,
 * relative RMS error against the input's values) on stdout.  A malformed
 * input (truncated, an I8 tensor without its scale...) exits with status 1
 * and the reason; OUT is then not written.
 *
 * --clip-calibrate PIC (repeatable; PPM, or PNG/JPEG with stb_image, through
 * the library's CLIP preprocessing at the model's input side): a CLIP trunk
 * in mixed precision.  Each trunk convolution's sensitivity is measured on
 * the pictures against the model's own F32 grid, then the least sensitive
 * ones become I8 while the smallest grid cosine over the pictures stays >=
 * --min-grid-cos (default 0.999; a higher value is a margin for pictures
 * outside the calibration set); the others stay F32 (as --keep names).  The
 * plan (one line per convolution, the grid cosines, the share of the trunk's
 * multiply-adds in I8) goes to stdout and into OUT as the
 * vladapter.quant.clip_plan* keys (tools/vla_quant.h, vladapter.h [M5]).
 * About 2 trunk runs per convolution and picture: minutes for an RN101.
 * Only with --to i8; a model without a CLIP trunk, an unreadable picture or a
 * target outside (0, 1] exits with status 1 or 2 and the reason.
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#define VLA_TOOL_IMPLEMENTATION
#include "vla_tool.h"
#define VLA_QUANT_IMPLEMENTATION
#include "vla_quant.h"
#include "../examples/image_io.h"

#include <stdlib.h>
#include <string.h>

static void usage(void) {
    fprintf(stderr, "usage: vla-quantize [--to i8|q8_0|f16|f32] [--keep GLOB]... [--quiet] IN.gguf OUT.gguf\n"
                    "       vla-quantize --to i8 --clip-calibrate PIC [--clip-calibrate PIC]... [--min-grid-cos X] [--keep GLOB]... IN.gguf OUT.gguf\n");
}

int main(int argc, char **argv) {
    const char *keep[256], *in_path = NULL, *out_path = NULL, *pics[64];
    vla_quant_opts o;
    vla_quant_clip_cal cal;
    vla_quant_clip_plan plan;
    float *pic[64];
    int n_pics = 0, have_min = 0;
    double min_cos = 0.999;
    vla_quant_stat s;
    unsigned char *in, *out = NULL;
    size_t n, out_n;
    char err[512];
    int i, quiet = 0, t;
    FILE *f;
    memset(&o, 0, sizeof o);
    memset(&plan, 0, sizeof plan);
    o.to = VLA_TYPE_I8;
    o.keep = keep;
    for (i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "--to") || !strcmp(argv[i], "--keep") || !strcmp(argv[i], "--clip-calibrate") || !strcmp(argv[i], "--min-grid-cos")) &&
            i + 1 == argc) {
            fprintf(stderr, "vla-quantize: %s needs a value\n", argv[i]);
            return 2;
        }
        if (!strcmp(argv[i], "--clip-calibrate")) {
            if (n_pics == 64) { fprintf(stderr, "vla-quantize: too many --clip-calibrate (64 at most)\n"); return 2; }
            pics[n_pics++] = argv[++i];
        } else if (!strcmp(argv[i], "--min-grid-cos")) {
            char *end;
            min_cos = strtod(argv[++i], &end);
            if (end == argv[i] || *end || !(min_cos > 0 && min_cos <= 1)) {
                fprintf(stderr, "vla-quantize: --min-grid-cos %s: a number in (0, 1]\n", argv[i]);
                return 2;
            }
            have_min = 1;
        } else if (!strcmp(argv[i], "--to") && i + 1 < argc) {
            if ((t = vla_quant_parse_type(argv[++i])) < 0) { fprintf(stderr, "vla-quantize: --to %s: use i8, q8_0, f16 or f32\n", argv[i]); return 2; }
            o.to = (vla_type)t;
        } else if (!strcmp(argv[i], "--keep") && i + 1 < argc) {
            if (o.n_keep == 256) { fprintf(stderr, "vla-quantize: too many --keep\n"); return 2; }
            keep[o.n_keep++] = argv[++i];
        } else if (!strcmp(argv[i], "--quiet")) {
            quiet = 1;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage();
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "vla-quantize: unknown option %s\n", argv[i]);
            usage();
            return 2;
        } else if (!in_path) {
            in_path = argv[i];
        } else if (!out_path) {
            out_path = argv[i];
        } else {
            usage();
            return 2;
        }
    }
    if (!in_path || !out_path) { usage(); return 2; }
    if (have_min && !n_pics) { fprintf(stderr, "vla-quantize: --min-grid-cos needs calibration pictures (--clip-calibrate PIC)\n"); return 2; }
    if (n_pics && o.to != VLA_TYPE_I8) { fprintf(stderr, "vla-quantize: --clip-calibrate makes an I8 plan: use --to i8\n"); return 2; }
    if (!(in = vla_tool_read_file(in_path, &n, err, sizeof err))) { fprintf(stderr, "vla-quantize: %s\n", err); return 1; }
    if (n_pics) { /* the pictures, then the plan */
        int S = vla_quant_clip_side(in, n, err, sizeof err), rc;
        if (!S) { fprintf(stderr, "vla-quantize: %s: %s\n", in_path, err); free(in); return 1; }
        for (i = 0; i < n_pics; i++) {
            int w, h, ch;
            unsigned char *px = vla_example_load_image(pics[i], &w, &h, &ch, err, sizeof err);
            pic[i] = px ? vla_example_clip_input(px, w, h, ch, S, err, sizeof err) : NULL;
            vla_example_free_image(px);
            if (!pic[i]) {
                fprintf(stderr, "vla-quantize: --clip-calibrate %s: %s\n", pics[i], err);
                while (i > 0) free(pic[--i]);
                free(in);
                return 1;
            }
        }
        memset(&cal, 0, sizeof cal);
        cal.pics = (const float *const *)pic;
        cal.names = pics;
        cal.n_pics = n_pics;
        cal.min_cos = min_cos;
        cal.progress = quiet ? NULL : stderr;
        rc = vla_quant_clip_plan_make(in, n, &o, &cal, &plan, err, sizeof err);
        for (i = 0; i < n_pics; i++) free(pic[i]);
        if (rc != 0) {
            fprintf(stderr, "vla-quantize: %s: CLIP plan: %s\n", in_path, err);
            vla_quant_clip_plan_free(&plan);
            free(in);
            return 1;
        }
        if (!quiet) vla_quant_clip_plan_print(&plan, stdout);
        o.keep = plan.keep;
        o.n_keep = plan.n_keep;
        o.clip_plan = &plan;
    }
    o.table = quiet ? NULL : stdout;
    o.progress = quiet ? NULL : stderr;
    if (vla_quant_gguf(in, n, &o, &out, &out_n, &s, err, sizeof err) != 0) {
        fprintf(stderr, "vla-quantize: %s: %s\n", in_path, err);
        vla_quant_clip_plan_free(&plan);
        free(in);
        return 1;
    }
    free(in);
    if (!(f = fopen(out_path, "wb")) || fwrite(out, 1, out_n, f) != out_n || fclose(f) != 0) {
        fprintf(stderr, "vla-quantize: cannot write %s\n", out_path);
        vla_quant_clip_plan_free(&plan);
        free(out);
        return 1;
    }
    free(out);
    if (n_pics && quiet) {
        char sum[1024];
        vla_quant_clip_plan_summary(&plan, sum, sizeof sum);
        printf("%s\n", sum);
    }
    vla_quant_clip_plan_free(&plan);
    if (!quiet)
        printf("%s: %d tensors converted to %s, largest abs error %.4g, worst relative RMS %.4g, %lu bytes\n", out_path,
               s.n_converted, vla_type_name(o.to), s.max_abs, s.worst_rel_rms, (unsigned long)out_n);
    return 0;
}
