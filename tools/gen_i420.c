/* gen_i420: synthetic raw video for tests/test_stream.sh.
 *
 *   gen_i420 --width W --height H --frames N [--format i420|rgb24]
 *            [--yuv bt601|bt709] [--range full|limited] [--stride S] [--ppm-dir DIR]
 *
 * Writes N frames to standard output, as rpicam-vid --codec yuv420 (planar
 * I420: Y rows of S bytes, then U and V, (H+1)/2 rows of (S+1)/2 bytes) or
 * ffmpeg -pix_fmt rgb24 (rows of S bytes) writes them; padding bytes are 0xA5.
 * Odd-numbered frames show picture A (a red/green gradient with a white
 * square), even-numbered ones picture B (colour bars with a black square);
 * the square moves with the frame number, so no two frames are alike.
 *
 * --ppm-dir DIR writes DIR/frame_NNNNNN.ppm (N from 1) for every frame: the
 * RGB picture a reader should recover.  For rgb24 that is the picture itself;
 * for i420 it is the I420 frame decoded again, here with the inverse of the
 * forward matrix worked out numerically (a 3x3 inverse), not with the closed
 * form examples/stream.c uses, so the two are written independently.
 *
 * Forward conversion: Y' = Kr R + Kg G + Kb B, Cb' = (B - Y') / (2 (1 - Kb)),
 * Cr' = (R - Y') / (2 (1 - Kr)); full range Y = Y', U = 128 + Cb', V = 128 +
 * Cr'; limited Y = 16 + Y' 219/255, U = 128 + Cb' 224/255, V likewise; Cb'
 * and Cr' averaged over each 2 x 2 block (the pixels of it that exist), all
 * rounded to nearest and clamped to 0..255.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int int_arg(const char *flag, const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "gen_i420: %s takes a number from %d to %d, not '%s'\n", flag, lo, hi, s);
        return 0;
    }
    *out = (int)v;
    return 1;
}

static unsigned char u8(double x) {
    if (x <= 0.0) return 0;
    if (x >= 255.0) return 255;
    return (unsigned char)(x + 0.5);
}

/* Picture A or B of frame k (1-based), pixel (x, y). */
static void picture(int k, int x, int y, int w, int h, unsigned char rgb[3]) {
    int sq = 4 + 5 * (k - 1), sz = w / 6 > 2 ? w / 6 : 2;
    int in_sq = x >= sq % w && x < sq % w + sz && y >= h / 3 && y < h / 3 + sz;
    if (k % 2) {
        rgb[0] = (unsigned char)(w > 1 ? 255 * x / (w - 1) : 0);
        rgb[1] = (unsigned char)(h > 1 ? 255 * y / (h - 1) : 0);
        rgb[2] = 96;
        if (in_sq) rgb[0] = rgb[1] = rgb[2] = 250;
    } else {
        static const unsigned char bars[6][3] = {{220, 30, 30}, {230, 220, 40}, {40, 200, 60},
                                                 {50, 210, 220}, {40, 50, 210}, {210, 40, 200}};
        memcpy(rgb, bars[(x * 6 / w) % 6], 3);
        if (in_sq) rgb[0] = rgb[1] = rgb[2] = 8;
    }
}

/* inv = m^-1 by cofactors. */
static void invert3(double m[3][3], double inv[3][3]) {
    double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                 m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    int i, j;
    for (i = 0; i < 3; i++)
        for (j = 0; j < 3; j++) {
            int r0 = (j + 1) % 3, r1 = (j + 2) % 3, c0 = (i + 1) % 3, c1 = (i + 2) % 3;
            inv[i][j] = (m[r0][c0] * m[r1][c1] - m[r0][c1] * m[r1][c0]) / det;
        }
}

static int write_ppm(const char *dir, int k, const unsigned char *rgb, int w, int h) {
    char path[4096];
    FILE *f;
    int ok;
    snprintf(path, sizeof path, "%s/frame_%06d.ppm", dir, k);
    if (!(f = fopen(path, "wb"))) { fprintf(stderr, "gen_i420: cannot write %s\n", path); return 0; }
    ok = fprintf(f, "P6\n%d %d\n255\n", w, h) > 0 && fwrite(rgb, 1, (size_t)w * h * 3, f) == (size_t)w * h * 3;
    if (fclose(f) != 0) ok = 0;
    return ok;
}

int main(int argc, char **argv) {
    int w = 0, h = 0, n = 0, rgb24 = 0, bt709 = 0, full = 1, stride = 0, i, k, x, y;
    const char *dir = NULL;
    double kr, kb, kg, m[3][3], inv[3][3], ys, cs, yo;
    size_t s, cstr, ch, frame_bytes;
    unsigned char *rgb, *out, *back;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "--width") && more) { if (!int_arg(a, argv[++i], 1, 16384, &w)) return 2; }
        else if (!strcmp(a, "--height") && more) { if (!int_arg(a, argv[++i], 1, 16384, &h)) return 2; }
        else if (!strcmp(a, "--frames") && more) { if (!int_arg(a, argv[++i], 0, 1000000, &n)) return 2; }
        else if (!strcmp(a, "--stride") && more) { if (!int_arg(a, argv[++i], 1, 65536, &stride)) return 2; }
        else if (!strcmp(a, "--format") && more) { a = argv[++i]; if (!strcmp(a, "rgb24")) rgb24 = 1; else if (strcmp(a, "i420")) return 2; }
        else if (!strcmp(a, "--yuv") && more) { a = argv[++i]; if (!strcmp(a, "bt709")) bt709 = 1; else if (strcmp(a, "bt601")) return 2; }
        else if (!strcmp(a, "--range") && more) { a = argv[++i]; if (!strcmp(a, "limited")) full = 0; else if (strcmp(a, "full")) return 2; }
        else if (!strcmp(a, "--ppm-dir") && more) dir = argv[++i];
        else { fprintf(stderr, "gen_i420: unknown argument %s\n", a); return 2; }
    }
    if (!w || !h) { fprintf(stderr, "gen_i420: --width and --height are required\n"); return 2; }
    s = stride ? (size_t)stride : (size_t)w * (rgb24 ? 3 : 1);
    if (s < (size_t)w * (rgb24 ? 3 : 1)) { fprintf(stderr, "gen_i420: stride too short\n"); return 2; }
    cstr = (s + 1) / 2;
    ch = ((size_t)h + 1) / 2;
    frame_bytes = rgb24 ? s * h : s * h + 2 * cstr * ch;
    kr = bt709 ? 0.2126 : 0.299; kb = bt709 ? 0.0722 : 0.114; kg = 1.0 - kr - kb;
    /* rows: Y', Cb', Cr' from R, G, B */
    m[0][0] = kr; m[0][1] = kg; m[0][2] = kb;
    m[1][0] = -kr / (2 * (1 - kb)); m[1][1] = -kg / (2 * (1 - kb)); m[1][2] = (1 - kb) / (2 * (1 - kb));
    m[2][0] = (1 - kr) / (2 * (1 - kr)); m[2][1] = -kg / (2 * (1 - kr)); m[2][2] = -kb / (2 * (1 - kr));
    invert3(m, inv);
    yo = full ? 0.0 : 16.0; ys = full ? 1.0 : 219.0 / 255.0; cs = full ? 1.0 : 224.0 / 255.0;
    rgb = (unsigned char *)malloc((size_t)w * h * 3);
    back = (unsigned char *)malloc((size_t)w * h * 3);
    out = (unsigned char *)malloc(frame_bytes);
    if (!rgb || !back || !out) return 1;
    for (k = 1; k <= n; k++) {
        memset(out, 0xA5, frame_bytes);
        for (y = 0; y < h; y++)
            for (x = 0; x < w; x++) picture(k, x, y, w, h, rgb + ((size_t)y * w + x) * 3);
        if (rgb24) {
            for (y = 0; y < h; y++) memcpy(out + s * y, rgb + (size_t)y * w * 3, (size_t)w * 3);
            memcpy(back, rgb, (size_t)w * h * 3);
        } else {
            unsigned char *up = out + s * h, *vp = up + cstr * ch;
            for (y = 0; y < h; y++)
                for (x = 0; x < w; x++) {
                    const unsigned char *p = rgb + ((size_t)y * w + x) * 3;
                    out[s * y + x] = u8(yo + ys * (m[0][0] * p[0] + m[0][1] * p[1] + m[0][2] * p[2]));
                }
            for (y = 0; y < (int)ch; y++)
                for (x = 0; x < (w + 1) / 2; x++) {
                    double cb = 0, cr = 0;
                    int dx, dy, cnt = 0;
                    for (dy = 0; dy < 2; dy++)
                        for (dx = 0; dx < 2; dx++) {
                            int px = 2 * x + dx, py = 2 * y + dy;
                            const unsigned char *p;
                            if (px >= w || py >= h) continue;
                            p = rgb + ((size_t)py * w + px) * 3;
                            cb += m[1][0] * p[0] + m[1][1] * p[1] + m[1][2] * p[2];
                            cr += m[2][0] * p[0] + m[2][1] * p[1] + m[2][2] * p[2];
                            cnt++;
                        }
                    up[cstr * y + x] = u8(128.0 + cs * cb / cnt);
                    vp[cstr * y + x] = u8(128.0 + cs * cr / cnt);
                }
            /* decode again: [R G B] = inv [Y' Cb' Cr'] */
            for (y = 0; y < h; y++)
                for (x = 0; x < w; x++) {
                    double v[3];
                    int c;
                    v[0] = (out[s * y + x] - yo) / ys;
                    v[1] = (up[cstr * (y / 2) + x / 2] - 128.0) / cs;
                    v[2] = (vp[cstr * (y / 2) + x / 2] - 128.0) / cs;
                    for (c = 0; c < 3; c++)
                        back[((size_t)y * w + x) * 3 + c] = u8(inv[c][0] * v[0] + inv[c][1] * v[1] + inv[c][2] * v[2]);
                }
        }
        if (fwrite(out, 1, frame_bytes, stdout) != frame_bytes) return 1;
        if (dir && !write_ppm(dir, k, back, w, h)) return 1;
    }
    free(rgb); free(back); free(out);
    return fflush(stdout) == 0 ? 0 : 1;
}
