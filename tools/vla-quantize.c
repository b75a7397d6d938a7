/* vla-quantize: rewrite a model file's weight matrices in another type.
 *
 *   vla-quantize [--to i8|q8_0|f16|f32] [--keep GLOB]... [--quiet] IN.gguf OUT.gguf
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
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#define VLA_TOOL_IMPLEMENTATION
#include "vla_tool.h"
#define VLA_QUANT_IMPLEMENTATION
#include "vla_quant.h"

#include <stdlib.h>
#include <string.h>

static void usage(void) {
    fprintf(stderr, "usage: vla-quantize [--to i8|q8_0|f16|f32] [--keep GLOB]... [--quiet] IN.gguf OUT.gguf\n");
}

int main(int argc, char **argv) {
    const char *keep[256], *in_path = NULL, *out_path = NULL;
    vla_quant_opts o;
    vla_quant_stat s;
    unsigned char *in, *out = NULL;
    size_t n, out_n;
    char err[512];
    int i, quiet = 0, t;
    FILE *f;
    memset(&o, 0, sizeof o);
    o.to = VLA_TYPE_I8;
    o.keep = keep;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--to") && i + 1 < argc) {
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
    if (!(in = vla_tool_read_file(in_path, &n, err, sizeof err))) { fprintf(stderr, "vla-quantize: %s\n", err); return 1; }
    o.table = quiet ? NULL : stdout;
    o.progress = quiet ? NULL : stderr;
    if (vla_quant_gguf(in, n, &o, &out, &out_n, &s, err, sizeof err) != 0) {
        fprintf(stderr, "vla-quantize: %s: %s\n", in_path, err);
        free(in);
        return 1;
    }
    free(in);
    if (!(f = fopen(out_path, "wb")) || fwrite(out, 1, out_n, f) != out_n || fclose(f) != 0) {
        fprintf(stderr, "vla-quantize: cannot write %s\n", out_path);
        free(out);
        return 1;
    }
    free(out);
    if (!quiet)
        printf("%s: %d tensors converted to %s, largest abs error %.4g, worst relative RMS %.4g, %lu bytes\n", out_path,
               s.n_converted, vla_type_name(o.to), s.max_abs, s.worst_rel_rms, (unsigned long)out_n);
    return 0;
}
