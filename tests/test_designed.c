/* test_designed.c - the designed CLIP stem of tools/vla_random.h
 * (vla_rand_clip.designed, `vla-mkmodel --clip-designed`).
 *
 * A designed trunk (width 16: 6 colour channels, objectness, 4 orientations x
 * 2 signs = 15 designed channels) at 64 x 64 runs pictures made here (a light
 * background with a red square, a blue disc or a yellow triangle); this file
 * computes in double, from the picture alone, what the stem is documented to
 * compute:
 *   conv1 (stride 2, centre tap)  c_k = relu(+-2 (v_c - 0.6)),
 *   conv2, conv3                  the 6 copied, o = min(1, 2 sum of the three relu(0.6 - v_c)),
 *                                 relu(+-(cos t Sobel_x + sin t Sobel_y) o / 4 - 0.6),
 *   avgpool 2,
 * and checks against vla_clip_run:
 *   - stage 0 (the stem) equals that, channel by channel (the other 13
 *     channels are random and not checked);
 *   - stage 4 (the grid): the 19 designed channels are the stem's averages
 *     over each 8 x 8 cell (every block passes them on unchanged);
 *   - what the channels are for: the square's edge energy is mostly at 0 and
 *     90 degrees (its corners give the rest), the disc's spread over all
 *     four orientations, the triangle's sides (normals at 30 and 150
 *     degrees) in between; o is 1 inside every colour; the colour channels
 *     tell red from blue from yellow.
 *   build/test_designed
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "test_util.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "../tools/vla_convert.h"
#define VLA_RANDOM_IMPLEMENTATION
#include "../tools/vla_random.h"

#include <math.h>

#define S 64      /* picture side          */
#define W 16      /* trunk width           */
#define NOR 4     /* orientations          */
#define ND 15     /* designed channels: 6 colours, o, 2 x NOR edges */
#define H1 (S / 2) /* conv1..3 resolution  */
#define HS (S / 4) /* stem output          */

static const double MEAN[3] = {0.48145466, 0.4578275, 0.40821073}, SD[3] = {0.26862954, 0.26130258, 0.27577711};

enum { SQUARE, DISC, TRIANGLE };

/* v[S][S][3] in [0, 1]: background (0.86, 0.84, 0.88) and one shape. */
static void draw(double *v, int shape, const double rgb[3]) {
    int y, x, c;
    for (y = 0; y < S; y++)
        for (x = 0; x < S; x++) {
            double fx = x + 0.5 - 32, fy = y + 0.5 - 32;
            int in = 0;
            if (shape == SQUARE) in = fabs(fx) < 13 && fabs(fy) < 13;
            else if (shape == DISC) in = fx * fx + fy * fy < 14.0 * 14.0;
            else in = fy < 12 && fy > -14 && fabs(fx) < (fy + 14) * 0.57735; /* apex at the top */
            for (c = 0; c < 3; c++) v[((size_t)y * S + x) * 3 + c] = in ? rgb[c] : (c == 0 ? 0.86 : c == 1 ? 0.84 : 0.88);
        }
}

/* The documented stem in double: out[HS][HS][ND]. */
static void stem_ref(const double *v, double *out) {
    static double c1[H1][H1][7], g[H1][H1][ND];
    static const double sx[9] = {-1, 0, 1, -2, 0, 2, -1, 0, 1}, sy[9] = {-1, -2, -1, 0, 0, 0, 1, 2, 1};
    int y, x, k, t;
    for (y = 0; y < H1; y++)
        for (x = 0; x < H1; x++) {
            const double *p = v + ((size_t)(2 * y) * S + 2 * x) * 3; /* stride 2, centre tap */
            c1[y][x][6] = 0;
            for (k = 0; k < 3; k++) {
                double a = 2.0 * (p[k] - 0.6);
                c1[y][x][k] = a > 0 ? a : 0;
                c1[y][x][3 + k] = a < 0 ? -a : 0;
                c1[y][x][6] += 2 * c1[y][x][3 + k];
            }
            if (c1[y][x][6] > 1) c1[y][x][6] = 1;
        }
    for (y = 0; y < H1; y++)
        for (x = 0; x < H1; x++) {
            for (k = 0; k < 7; k++) g[y][x][k] = c1[y][x][k];
            for (k = 0; k < NOR; k++) {
                double th = 3.14159265358979 * k / NOR, d = 0;
                for (t = 0; t < 9; t++) {
                    int yy = y + t / 3 - 1, xx = x + t % 3 - 1;
                    if (yy >= 0 && yy < H1 && xx >= 0 && xx < H1) d += (cos(th) * sx[t] + sin(th) * sy[t]) / 4.0 * c1[yy][xx][6];
                }
                g[y][x][7 + 2 * k] = d - 0.6 > 0 ? d - 0.6 : 0;
                g[y][x][8 + 2 * k] = -d - 0.6 > 0 ? -d - 0.6 : 0;
            }
        }
    for (y = 0; y < HS; y++)
        for (x = 0; x < HS; x++)
            for (k = 0; k < ND; k++)
                out[((size_t)y * HS + x) * ND + k] =
                    (g[2 * y][2 * x][k] + g[2 * y][2 * x + 1][k] + g[2 * y + 1][2 * x][k] + g[2 * y + 1][2 * x + 1][k]) / 4;
}

int main(void) {
    static const double rgbs[3][3] = {{220 / 255.0, 40 / 255.0, 40 / 255.0}, {40 / 255.0, 80 / 255.0, 220 / 255.0}, {230 / 255.0, 200 / 255.0, 40 / 255.0}};
    vla_conv cv;
    vla_rand_bart r;
    vla_rand_clip rc;
    unsigned char *file = NULL;
    size_t file_n = 0, need;
    void *mmem, *cmem;
    vla_model *m = NULL;
    vla_ctx *c = NULL;
    vla_ctx_params p;
    double *v = (double *)xmalloc(sizeof(double) * S * S * 3), *ref = (double *)xmalloc(sizeof(double) * HS * HS * ND);
    float *pic = (float *)xmalloc(sizeof(float) * S * S * 3), *st0 = (float *)xmalloc(sizeof(float) * HS * HS * W);
    float *grid = (float *)xmalloc(sizeof(float) * 4 * 32 * W);
    double energy[3][NOR], omax[3];
    int shape, i, h, w, ch, k;

    memset(&r, 0, sizeof r);
    r.d_model = 16; r.enc_layers = 1; r.dec_layers = 1; r.heads = 4; r.ffn = 24; r.vocab = 40; r.max_pos = 16;
    r.feat_dim = 32 * W; r.n_boxes = 4; r.seed = 5;
    memset(&rc, 0, sizeof rc);
    rc.layers[0] = 1; rc.layers[1] = 2; rc.layers[2] = 1; rc.layers[3] = 1; /* a block without downsample too */
    rc.width = W; rc.image_size = S; rc.seed = 6; rc.designed = 1;
    vla_conv_init(&cv);
    cv.quiet = 1;
    CHECK(vla_conv_random_bart(&cv, &r) == 0 && vla_random_clip(&cv, &rc) == 0, "designed model: %s", cv.err);
    cv.fingerprint = vla_conv_fingerprint(&cv);
    CHECK(vla_conv_write_mem(&cv, &file, &file_n) == 0, "write: %s", cv.err);
    vla_conv_free(&cv);
    if (g_fail) return test_summary();
    {   /* too narrow for the designed channels: refused with a message */
        vla_conv nv;
        vla_rand_clip nr = rc;
        nr.width = 12;
        vla_conv_init(&nv);
        nv.quiet = 1;
        CHECK(vla_random_clip(&nv, &nr) != 0 && strstr(nv.err, "width"), "width 12 designed: refused (%s)", nv.err);
        vla_conv_free(&nv);
    }
    CHECK(vla_model_mem_req(file, file_n, &need) == VLA_OK, "model mem");
    mmem = xmalloc(need);
    CHECK(vla_model_init(&m, mmem, need, file, file_n, NULL) == VLA_OK, "model init");
    memset(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = 2; p.max_images = 1; p.max_dec_len = 2; p.max_beams = 1; p.use_clip = 1; p.exec.n_threads = 1;
    CHECK(vla_ctx_mem_req(m, &p, &need) == VLA_OK, "ctx mem");
    cmem = xmalloc(need);
    CHECK(vla_ctx_init(&c, m, &p, cmem, need) == VLA_OK, "ctx init");
    if (g_fail) return test_summary();

    for (shape = 0; shape < 3; shape++) {
        double maxerr = 0, maxerr4 = 0, scale = 0;
        int y, x;
        draw(v, shape, rgbs[shape]);
        for (i = 0; i < S * S * 3; i++) pic[i] = (float)((v[i] - MEAN[i % 3]) / SD[i % 3]);
        stem_ref(v, ref);
        CHECK(vla_clip_run(c, pic, 0, st0, &h, &w, &ch) == VLA_OK && h == HS && w == HS && ch == W, "stem run (%d x %d x %d)", h, w, ch);
        for (i = 0; i < HS * HS; i++)
            for (k = 0; k < ND; k++) {
                double e = fabs(st0[(size_t)i * W + k] - ref[(size_t)i * ND + k]);
                if (e > maxerr) maxerr = e;
                if (fabs(ref[(size_t)i * ND + k]) > scale) scale = fabs(ref[(size_t)i * ND + k]);
            }
        CHECK(scale > 0.5 && maxerr < 1e-5 * scale + 1e-6, "shape %d: stem vs the documented filters: max error %.3g (scale %.3g)", shape, maxerr, scale);
        CHECK(vla_clip_run(c, pic, 4, grid, &h, &w, &ch) == VLA_OK && h == 2 && w == 2 && ch == 32 * W, "grid run");
        for (y = 0; y < 2; y++)
            for (x = 0; x < 2; x++)
                for (k = 0; k < ND; k++) {
                    double a = 0;
                    int yy, xx;
                    for (yy = 0; yy < 8; yy++)
                        for (xx = 0; xx < 8; xx++) a += st0[((size_t)(8 * y + yy) * HS + 8 * x + xx) * W + k];
                    a /= 64;
                    if (fabs(grid[((size_t)y * 2 + x) * ch + k] - a) > maxerr4) maxerr4 = fabs(grid[((size_t)y * 2 + x) * ch + k] - a);
                }
        CHECK(maxerr4 < 1e-5, "shape %d: grid's designed channels vs the cell averages of the stem: max error %.3g", shape, maxerr4);
        omax[shape] = 0;
        for (i = 0; i < HS * HS; i++) if (ref[(size_t)i * ND + 6] > omax[shape]) omax[shape] = ref[(size_t)i * ND + 6];
        for (k = 0; k < NOR; k++) {
            energy[shape][k] = 0;
            for (i = 0; i < HS * HS; i++) energy[shape][k] += ref[(size_t)i * ND + 7 + 2 * k] + ref[(size_t)i * ND + 8 + 2 * k];
        }
        {   /* colour, in the cells' maxima (every cell holds part of the object) */
            float g0[6] = {0, 0, 0, 0, 0, 0};
            for (i = 0; i < 4; i++) for (k = 0; k < 6; k++) if (grid[(size_t)i * ch + k] > g0[k]) g0[k] = grid[(size_t)i * ch + k];
            if (shape == SQUARE) CHECK(g0[4] > 0.1f && g0[5] > 0.1f && g0[3] == 0.0f, "red: G and B dark, R not (%g %g %g)", g0[3], g0[4], g0[5]);
            if (shape == DISC) CHECK(g0[3] > 0.05f && g0[4] > 0.05f && g0[5] == 0.0f, "blue: R and G dark, B not (%g %g %g)", g0[3], g0[4], g0[5]);
            if (shape == TRIANGLE) CHECK(g0[5] > 0.1f && g0[3] == 0.0f && g0[4] == 0.0f, "yellow: only B dark (%g %g %g)", g0[3], g0[4], g0[5]);
        }
    }
    printf("edge energy (0, 45, 90, 135 degrees): square %.2f %.2f %.2f %.2f, disc %.2f %.2f %.2f %.2f, triangle %.2f %.2f %.2f %.2f\n", energy[0][0], energy[0][1], energy[0][2], energy[0][3], energy[1][0], energy[1][1], energy[1][2], energy[1][3], energy[2][0], energy[2][1], energy[2][2], energy[2][3]);
    CHECK(omax[SQUARE] == 1.0 && omax[DISC] == 1.0 && omax[TRIANGLE] == 1.0, "objectness 1 inside red, blue, yellow (%g %g %g)", omax[0], omax[1], omax[2]);
    /* edge energy by orientation (0, 45, 90, 135 degrees) */
    {   /* the diagonal share (45 + 135) / (0 + 90): a square's edges are axis-aligned
         * (only its corners answer at 45 / 135), a disc's are everywhere, a
         * triangle's sides lie between */
        double q[3];
        for (k = 0; k < 3; k++) q[k] = (energy[k][1] + energy[k][3]) / (energy[k][0] + energy[k][2]);
        CHECK(fabs(energy[SQUARE][0] - energy[SQUARE][2]) < 1e-9 * energy[SQUARE][0] && fabs(energy[DISC][0] - energy[DISC][2]) < 1e-9 * energy[DISC][0], "square and disc: 0 and 90 degrees alike (symmetry)");
        CHECK(q[SQUARE] < 0.65 && q[DISC] > 0.85 && q[TRIANGLE] > q[SQUARE] + 0.2, "diagonal share: square %.2f < 0.65, disc %.2f > 0.85, triangle %.2f > square + 0.2",
              q[SQUARE], q[DISC], q[TRIANGLE]);
    }
    free(v); free(ref); free(pic); free(st0); free(grid); free(cmem); free(mmem); free(file);
    return test_summary();
}
