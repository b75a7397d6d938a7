/* stream: caption a live camera stream, always the newest frame.
 *
 *   rpicam-vid -t 0 --width 640 --height 480 --codec yuv420 --framerate 5 -o - |
 *       build/stream --model M.gguf --width 640 --height 480 --format i420
 *
 *   ffmpeg -f v4l2 -i /dev/video0 -vf scale=640:480 -f rawvideo -pix_fmt rgb24 - |
 *       build/stream --model M.gguf --width 640 --height 480 --format rgb24
 *
 * Standard input carries raw frames back to back, nothing else:
 *   i420   planar YUV 4:2:0 (rpicam-vid --codec yuv420, ffmpeg -pix_fmt yuv420p):
 *          the Y plane (H rows of S bytes, the first W of them pixels), then U,
 *          then V (each (H+1)/2 rows of (S+1)/2 bytes, the first (W+1)/2 of them
 *          samples; one sample per 2 x 2 pixels).  S = --stride, default W.
 *   rgb24  packed R, G, B bytes (ffmpeg -pix_fmt rgb24): H rows of S bytes,
 *          S = --stride, default 3 W.
 *
 * Two threads.  A reader keeps reading standard input into a ring of three
 * frame buffers; the main thread takes the newest complete frame, converts it
 * to RGB and captions it with one library call (vla_caption, or vla_answer
 * with --question).  A frame that was overtaken by a newer one before the
 * main thread got to it is dropped, so a slow model never falls behind the
 * camera: each caption is of the freshest picture there is.  Every caption
 * prints one line on standard output:
 *
 *   frame 12 | 184.2 ms | dropped 3 (7 in all) | a man riding a bike
 *
 * the frame's number in the stream (the first is 1), the time from the
 * moment its last byte arrived to the print, the frames skipped since the
 * previous line, and the text.  At the end of the stream the last complete
 * frame is still captioned and the program exits 0; a last frame cut short
 * is reported on standard error and ignored.
 *
 * YUV to RGB.  R = Y' + 2(1-Kr) Cr', G = Y' - 2Kb(1-Kb)/Kg Cb' - 2Kr(1-Kr)/Kg Cr',
 * B = Y' + 2(1-Kb) Cb', Kg = 1 - Kr - Kb, with Kr, Kb = 0.299, 0.114 (--yuv
 * bt601) or 0.2126, 0.0722 (bt709); --range full: Y' = Y, Cb' = U - 128,
 * Cr' = V - 128; limited: Y' = (Y - 16) 255/219, Cb' = (U - 128) 255/224,
 * Cr' = (V - 128) 255/224.  Rounded to nearest and clamped to 0..255, in
 * double precision.  Each chroma sample serves its 2 x 2 block (no chroma
 * interpolation).  The default, bt601 + full, is what rpicam-vid writes with
 * --codec yuv420: it asks libcamera for the sYCC (JPEG) colour space for
 * that codec, i.e. the BT.601 matrix at full range, whatever the size.  Its
 * H.264 path uses SMPTE 170M (BT.601, limited) below 1280x720 and Rec.709
 * (limited) from there on; ffmpeg's yuv420p is usually limited range.
 *
 * Row padding.  rpicam-vid writes the camera's whole buffer, padding
 * included: rows of the Y plane are a multiple of 64 bytes on a Raspberry Pi
 * 4 and earlier and of 128 bytes on a Pi 5 (half that for U and V).  A width
 * that is a multiple of 128 (640, 1280, 1920) has no padding anywhere;
 * otherwise pass --stride (the frame is then S * H * 3/2 bytes).
 *
 * Needs POSIX (poll, read, clock_gettime) and pthreads: Linux, the Pi OS.
 */
#define _POSIX_C_SOURCE 200809L
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "image_io.h"
#define VLA_THREADS_IMPLEMENTATION
#include "vla_threads.h"
#include "example_util.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { FMT_I420 = 0, FMT_RGB24 = 1 };
#define N_SLOTS 3

static void usage(FILE *f) {
    fprintf(f,
            "usage: stream --model M.gguf --width W --height H [--format i420|rgb24] [options] < frames\n"
            "  --format i420|rgb24      raw frames on standard input (default i420: rpicam-vid --codec yuv420)\n"
            "  --stride S               bytes per row of the Y plane (i420) or of the picture (rgb24),\n"
            "                           when rows are padded (default W, or 3 W for rgb24)\n"
            "  --yuv bt601|bt709        YUV matrix (default bt601)\n"
            "  --range full|limited     YUV range (default full: what rpicam-vid --codec yuv420 writes)\n"
            "  --adapter A.gguf         an adapter file, with --task NAME (default caption, or vqa with --question)\n"
            "  --question \"...\"         answer this question about each frame (vla_answer) instead of captioning\n"
            "  --threads N              threads for the model (default 1)\n"
            "  --every MS               caption at most once every MS milliseconds (default 0: as fast as it can)\n"
            "  --max-frames N           exit after N captions (default 0: at the end of the stream)\n"
            "  --all                    keep every frame (wait instead of dropping): for recorded files\n"
            "  --dump-ppm DIR           also write each captioned frame's RGB as DIR/frame_NNNNNN.ppm; without\n"
            "                           --model, only convert and write (a check of the colour settings)\n"
            "Output: one line per caption: frame N | latency ms | dropped K (T in all) | text\n");
}

/* ---- YUV -> RGB ---------------------------------------------------------- */

typedef struct yuv_coef {
    double y_off, y_scale, c_scale; /* Y' = (Y - y_off) y_scale, C' = (C - 128) c_scale */
    double r_v, g_u, g_v, b_u;      /* R = Y' + r_v Cr'; G = Y' - g_u Cb' - g_v Cr'; B = Y' + b_u Cb' */
} yuv_coef;

static void yuv_coef_init(yuv_coef *k, int bt709, int full) {
    double kr = bt709 ? 0.2126 : 0.299, kb = bt709 ? 0.0722 : 0.114, kg = 1.0 - kr - kb;
    k->y_off = full ? 0.0 : 16.0;
    k->y_scale = full ? 1.0 : 255.0 / 219.0;
    k->c_scale = full ? 1.0 : 255.0 / 224.0;
    k->r_v = 2.0 * (1.0 - kr);
    k->b_u = 2.0 * (1.0 - kb);
    k->g_u = 2.0 * kb * (1.0 - kb) / kg;
    k->g_v = 2.0 * kr * (1.0 - kr) / kg;
}

static unsigned char to_u8(double x) {
    if (x <= 0.0) return 0;
    if (x >= 255.0) return 255;
    return (unsigned char)(x + 0.5);
}

/* An I420 frame (Y stride s, U/V stride (s+1)/2) -> packed RGB rows of 3 w bytes. */
static void i420_to_rgb(const yuv_coef *k, const unsigned char *frame, int w, int h, size_t s, unsigned char *rgb) {
    size_t cs = (s + 1) / 2, ch = ((size_t)h + 1) / 2;
    const unsigned char *u_plane = frame + s * (size_t)h, *v_plane = u_plane + cs * ch;
    int x, y;
    for (y = 0; y < h; y++) {
        const unsigned char *yr = frame + s * (size_t)y;
        const unsigned char *ur = u_plane + cs * (size_t)(y / 2), *vr = v_plane + cs * (size_t)(y / 2);
        unsigned char *o = rgb + (size_t)y * (size_t)w * 3;
        for (x = 0; x < w; x++) {
            double yy = ((double)yr[x] - k->y_off) * k->y_scale;
            double cb = ((double)ur[x / 2] - 128.0) * k->c_scale, cr = ((double)vr[x / 2] - 128.0) * k->c_scale;
            o[3 * x + 0] = to_u8(yy + k->r_v * cr);
            o[3 * x + 1] = to_u8(yy - k->g_u * cb - k->g_v * cr);
            o[3 * x + 2] = to_u8(yy + k->b_u * cb);
        }
    }
}

/* ---- the reader thread and its ring -------------------------------------- */

typedef struct frame_slot {
    unsigned char *data;
    long long number; /* 1-based position in the stream */
    double t_arrived; /* monotonic seconds when its last byte was read */
} frame_slot;

typedef struct ring {
    pthread_mutex_t mu;
    pthread_cond_t cv;       /* a new frame, the end, a slot given back, stop */
    frame_slot slot[N_SLOTS];
    int newest;              /* complete frame nobody took yet, or -1 */
    int taken;               /* slot the main thread works on, or -1 */
    int ended;               /* the reader has finished */
    int stop;                /* the main thread wants no more frames */
    int keep_all;            /* --all: wait for the main thread instead of dropping */
    size_t frame_bytes;
    long long frames_read;
    size_t tail_bytes;       /* bytes of a last, incomplete frame */
    int read_errno;          /* a read error, 0 if none */
} ring;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int stop_requested(ring *r) {
    int s;
    pthread_mutex_lock(&r->mu);
    s = r->stop;
    pthread_mutex_unlock(&r->mu);
    return s;
}

/* Read n bytes from fd; fewer means end of input, an error (*err) or stop. */
static size_t read_full(ring *r, int fd, unsigned char *p, size_t n, int *err) {
    size_t got = 0;
    while (got < n) {
        struct pollfd pf;
        ssize_t k;
        int pr;
        pf.fd = fd; pf.events = POLLIN; pf.revents = 0;
        pr = poll(&pf, 1, 200); /* wake up now and then to see whether to stop */
        if (pr < 0) {
            if (errno == EINTR) continue;
            *err = errno;
            break;
        }
        if (pr == 0) {
            if (stop_requested(r)) break;
            continue;
        }
        k = read(fd, p + got, n - got);
        if (k < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            *err = errno;
            break;
        }
        if (k == 0) break;
        got += (size_t)k;
    }
    return got;
}

static void *reader_main(void *arg) {
    ring *r = (ring *)arg;
    long long n = 0;
    for (;;) {
        int f, err = 0;
        size_t got;
        /* a slot that is neither the newest frame nor the one being captioned:
           with three there is always one, and only this thread writes it */
        pthread_mutex_lock(&r->mu);
        for (f = 0; f == r->newest || f == r->taken; f++) {}
        pthread_mutex_unlock(&r->mu);
        got = read_full(r, 0, r->slot[f].data, r->frame_bytes, &err);
        if (got < r->frame_bytes) {
            pthread_mutex_lock(&r->mu);
            if (!r->stop) { r->tail_bytes = got; r->read_errno = err; }
            pthread_mutex_unlock(&r->mu);
            break;
        }
        n++;
        pthread_mutex_lock(&r->mu);
        while (r->keep_all && r->newest >= 0 && !r->stop) pthread_cond_wait(&r->cv, &r->mu);
        if (r->stop) {
            pthread_mutex_unlock(&r->mu);
            break;
        }
        /* an untaken older frame is overwritten later: it is dropped */
        r->slot[f].number = n;
        r->slot[f].t_arrived = now_s();
        r->newest = f;
        r->frames_read = n;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_lock(&r->mu);
    r->ended = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* ---- output helpers ------------------------------------------------------ */

static int write_ppm(const char *dir, long long number, const unsigned char *rgb, int w, int h, size_t stride) {
    char path[4096];
    FILE *f;
    int y, ok;
    if (snprintf(path, sizeof path, "%s/frame_%06lld.ppm", dir, number) >= (int)sizeof path) {
        fprintf(stderr, "error: --dump-ppm: the path is too long\n");
        return 0;
    }
    if (!(f = fopen(path, "wb"))) {
        fprintf(stderr, "error: cannot write %s\n", path);
        return 0;
    }
    ok = fprintf(f, "P6\n%d %d\n255\n", w, h) > 0;
    for (y = 0; ok && y < h; y++) ok = fwrite(rgb + stride * (size_t)y, 1, (size_t)w * 3, f) == (size_t)w * 3;
    if (fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "error: cannot write %s\n", path);
    return ok;
}

/* "--format x": one of the names, or a message and -1. */
static int choice_flag(const char *flag, const char *text, const char *a, const char *b) {
    if (!strcmp(text, a)) return 0;
    if (!strcmp(text, b)) return 1;
    fprintf(stderr, "error: %s takes %s or %s, not '%s'\n", flag, a, b, text);
    return -1;
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *adapter_path = NULL, *task = NULL, *question = NULL, *dump_dir = NULL;
    int width = 0, height = 0, format = FMT_I420, bt709 = 0, full = 1, yuv_given = 0, stride_flag = 0;
    int threads = 1, every_ms = 0, max_frames = 0, keep_all = 0, i, rc = 1, reader_started = 0, pool_started = 0;
    unsigned char *mfile = NULL, *afile = NULL, *rgb = NULL;
    void *mmem = NULL, *amem = NULL, *cmem = NULL;
    vla_model *m = NULL;
    vla_adapter *ad = NULL;
    vla_ctx *c = NULL;
    vla_task_sizes s;
    vla_exec exec;
    vla_threadpool pool;
    yuv_coef coef;
    ring rg, *r = &rg;
    pthread_t reader;
    pthread_condattr_t ca;
    size_t stride, frame_bytes;
    double frame_d, t_last = 0.0;
    long long captioned = 0, last_number = 0, dropped_total = 0;
    char text[4096];
    struct stat st;

    memset(r, 0, sizeof *r); /* before any exit path: done: frees its slots */
    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc, v;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { usage(stdout); return 0; }
        else if (!strcmp(a, "--model") && more) model_path = argv[++i];
        else if (!strcmp(a, "--adapter") && more) adapter_path = argv[++i];
        else if (!strcmp(a, "--task") && more) task = argv[++i];
        else if (!strcmp(a, "--question") && more) question = argv[++i];
        else if (!strcmp(a, "--dump-ppm") && more) dump_dir = argv[++i];
        else if (!strcmp(a, "--width") && more) { if (!ex_int_flag(a, argv[++i], 1, VLA_MAX_IMAGE_DIM, &width)) return 2; }
        else if (!strcmp(a, "--height") && more) { if (!ex_int_flag(a, argv[++i], 1, VLA_MAX_IMAGE_DIM, &height)) return 2; }
        else if (!strcmp(a, "--stride") && more) { if (!ex_int_flag(a, argv[++i], 1, 4 * VLA_MAX_IMAGE_DIM, &stride_flag)) return 2; }
        else if (!strcmp(a, "--threads") && more) { if (!ex_int_flag(a, argv[++i], 1, 256, &threads)) return 2; }
        else if (!strcmp(a, "--every") && more) { if (!ex_int_flag(a, argv[++i], 0, 86400000, &every_ms)) return 2; }
        else if (!strcmp(a, "--max-frames") && more) { if (!ex_int_flag(a, argv[++i], 0, INT_MAX, &max_frames)) return 2; }
        else if (!strcmp(a, "--format") && more) { if ((format = choice_flag(a, argv[++i], "i420", "rgb24")) < 0) return 2; }
        else if (!strcmp(a, "--yuv") && more) { if ((v = choice_flag(a, argv[++i], "bt601", "bt709")) < 0) return 2; bt709 = v; yuv_given = 1; }
        else if (!strcmp(a, "--range") && more) { if ((v = choice_flag(a, argv[++i], "limited", "full")) < 0) return 2; full = v; yuv_given = 1; }
        else if (!strcmp(a, "--all")) keep_all = 1;
        else if (a[0] == '-' && a[1]) { fprintf(stderr, "error: unknown option %s (or its value is missing)\n", a); usage(stderr); return 2; }
        else { fprintf(stderr, "error: unexpected argument '%s': frames come on standard input\n", a); usage(stderr); return 2; }
    }
    if (!width || !height) { fprintf(stderr, "error: --width and --height are required (the camera's frame size)\n"); usage(stderr); return 2; }
    if (!model_path && !dump_dir) { fprintf(stderr, "error: --model is required (or --dump-ppm DIR alone, to only convert frames)\n"); usage(stderr); return 2; }
    if (!model_path && (adapter_path || question || task)) { fprintf(stderr, "error: --adapter, --task and --question need --model\n"); return 2; }
    if (format == FMT_RGB24 && yuv_given) fprintf(stderr, "note: --yuv and --range apply to i420 input only\n");
    if (question && !question[0]) { fprintf(stderr, "error: --question is empty\n"); return 2; }
    stride = stride_flag ? (size_t)stride_flag : (size_t)width * (format == FMT_RGB24 ? 3 : 1);
    if (stride < (size_t)width * (format == FMT_RGB24 ? 3 : 1)) {
        fprintf(stderr, "error: --stride %d is shorter than a row (%d bytes)\n", stride_flag, width * (format == FMT_RGB24 ? 3 : 1));
        return 2;
    }
    frame_d = format == FMT_RGB24 ? (double)stride * height
                                  : (double)stride * height + 2.0 * (double)((stride + 1) / 2) * (double)((height + 1) / 2);
    if (frame_d > (double)(SIZE_MAX / 4)) { fprintf(stderr, "error: a %dx%d frame does not fit in memory here\n", width, height); return 2; }
    frame_bytes = (size_t)frame_d;
    if (dump_dir && (stat(dump_dir, &st) != 0 || !S_ISDIR(st.st_mode))) { fprintf(stderr, "error: --dump-ppm %s: not a directory\n", dump_dir); return 2; }
    if (isatty(0)) { fprintf(stderr, "error: standard input is a terminal: pipe raw frames in (see --help)\n"); return 2; }
    if (!task) task = question ? "vqa" : "caption";
    yuv_coef_init(&coef, bt709, full);

    /* the model first, so that the first frame read is a fresh one */
    if (model_path) {
        if (!(m = ex_load_model(model_path, &mfile, &mmem))) goto done;
        if (adapter_path && !(ad = ex_attach(m, adapter_path, &afile, &amem))) goto done;
        memset(&exec, 0, sizeof exec); /* fast fp32 kernels; the pool fills in the rest */
        if (threads > 1 && vla_threadpool_init(&pool, threads) == 0) { vla_threadpool_exec(&pool, &exec); pool_started = 1; }
        memset(&s, 0, sizeof s);
        s.max_picture_w = width; s.max_picture_h = height;
        s.max_question_bytes = question ? (int)strlen(question) : 0;
        if (!(c = ex_task_ctx(m, &s, (const vla_adapter *const *)&ad, ad ? 1 : 0, pool_started ? &exec : NULL, &cmem, NULL))) goto done;
        if (ad && vla_ctx_set_adapter(c, ad, task) != VLA_OK) {
            fprintf(stderr, "error: the adapter has no task '%s'; it has:", task);
            ex_list_tasks(ad);
            goto done;
        }
    }

    r->newest = r->taken = -1;
    r->keep_all = keep_all;
    r->frame_bytes = frame_bytes;
    for (i = 0; i < N_SLOTS; i++)
        if (!(r->slot[i].data = (unsigned char *)malloc(frame_bytes))) { fprintf(stderr, "error: out of memory (%zu-byte frames)\n", frame_bytes); goto done; }
    if (format == FMT_I420 && !(rgb = (unsigned char *)malloc((size_t)width * (size_t)height * 3))) { fprintf(stderr, "error: out of memory\n"); goto done; }
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&reader, NULL, reader_main, r) != 0) { fprintf(stderr, "error: cannot start the reader thread\n"); goto done_ring; }
    reader_started = 1;
    setvbuf(stdout, NULL, _IOLBF, 0);

    for (;;) {
        frame_slot *fs;
        const unsigned char *px;
        size_t px_stride;
        long long skipped;
        vla_image pic;
        vla_status vs = VLA_OK;
        double t_now;
        pthread_mutex_lock(&r->mu);
        /* --every: wait out the interval (newer frames keep replacing the newest) */
        if (every_ms > 0 && captioned > 0) {
            double until = t_last + every_ms * 1e-3;
            while (!(r->ended && r->newest < 0) && (t_now = now_s()) < until) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_sec += (time_t)(until - t_now);
                ts.tv_nsec += (long)(((until - t_now) - (double)(time_t)(until - t_now)) * 1e9);
                if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
                pthread_cond_timedwait(&r->cv, &r->mu, &ts);
            }
        }
        while (r->newest < 0 && !r->ended) pthread_cond_wait(&r->cv, &r->mu);
        if (r->newest < 0) { pthread_mutex_unlock(&r->mu); break; }
        r->taken = r->newest;
        r->newest = -1;
        pthread_cond_broadcast(&r->cv); /* --all: the reader may publish its next frame */
        pthread_mutex_unlock(&r->mu);
        fs = &r->slot[r->taken];
        t_last = now_s();

        if (format == FMT_I420) {
            i420_to_rgb(&coef, fs->data, width, height, stride, rgb);
            px = rgb; px_stride = (size_t)width * 3;
        } else {
            px = fs->data; px_stride = stride;
        }
        if (dump_dir && !write_ppm(dump_dir, fs->number, px, width, height, px_stride)) goto stop;
        if (c) {
            vla_image_view(&pic, px, width, height, 3, px_stride);
            vs = question ? vla_answer(c, &pic, question, NULL, text, sizeof text, NULL)
                          : vla_caption(c, &pic, NULL, text, sizeof text, NULL);
            if (vs != VLA_OK && vs != VLA_ERR_NOMEM) { fprintf(stderr, "error: frame %lld: %s\n", fs->number, vla_status_str(vs)); goto stop; }
        } else {
            snprintf(text, sizeof text, "%s/frame_%06lld.ppm", dump_dir, fs->number);
        }
        skipped = fs->number - last_number - 1;
        dropped_total += skipped;
        last_number = fs->number;
        captioned++;
        {
            int tn;
            const char *tx = ex_trim(text, &tn);
            printf("frame %lld | %.1f ms | dropped %lld (%lld in all) | %.*s\n", fs->number, (now_s() - fs->t_arrived) * 1e3, skipped,
                   dropped_total, tn, tx);
        }
        fflush(stdout);
        pthread_mutex_lock(&r->mu);
        r->taken = -1;
        pthread_cond_broadcast(&r->cv);
        pthread_mutex_unlock(&r->mu);
        if (max_frames && captioned >= max_frames) break;
    }
    rc = 0;
stop:
    pthread_mutex_lock(&r->mu);
    r->stop = 1;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    pthread_join(reader, NULL);
    reader_started = 0;
    if (r->read_errno) {
        fprintf(stderr, "error: reading standard input: %s\n", strerror(r->read_errno));
        rc = 1;
    } else if (r->tail_bytes) {
        fprintf(stderr, "warning: the stream ended inside frame %lld (%zu of %zu bytes): that frame is ignored\n",
                r->frames_read + 1, r->tail_bytes, frame_bytes);
    }
    fprintf(stderr, "stream: %lld frames read, %lld captioned, %lld dropped\n", r->frames_read, captioned, dropped_total);
done_ring:
    if (reader_started) pthread_join(reader, NULL);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
done:
    for (i = 0; i < N_SLOTS; i++) { free(r->slot[i].data); r->slot[i].data = NULL; }
    if (pool_started) vla_threadpool_destroy(&pool);
    free(rgb); free(cmem); free(amem); free(afile); free(mmem); free(mfile);
    return rc;
}
