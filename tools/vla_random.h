/* vla_random.h - random-weight model parts for benchmarks and tests (host side).
 *
 * Adds to a vla_conv (tools/vla_convert.h) what vla_conv_random_bart does not
 * make:
 *   vla_random_clip     a CLIP ModifiedResNet trunk of any (layers, width,
 *                       image size), already in the converted form the model
 *                       loader reads: BatchNorm folded (each convolution has a
 *                       bias), weights [cout, k, k, cin], named
 *                       visual.conv{1,2,3}, visual.layer{s}.{b}.conv{1,2,3},
 *                       visual.layer{s}.{b}.downsample.0 (.weight / .bias),
 *                       plus vladapter.clip.image_size / .bn_folded.
 *   vla_random_adapter  an adapter file for any method (adapter, compacter,
 *                       hyperformer, lora, prompt) at any BART shape, in the
 *                       naming of vladapter.h [D10] / vla_conv_peft.
 * Everything is seeded and deterministic.  Two initialisation styles:
 *   VLA_RAND_INIT_FAST      (the default, for benchmarks) splitmix64 uniform
 *                           numbers scaled to a plausible standard deviation:
 *                           fast, and the values do not matter for timing as
 *                           long as they stay finite and away from denormals;
 *   VLA_RAND_INIT_OFFICIAL  (adapter files only; what tools/vla-train --init
 *                           starts from) the official code's initialisation,
 *                           ../shared/docs/architecture.md 2.6 and 3.x:
 *       adapter         down/up Linear N(0, 0.02), bias 0
 *       compacter       W_i xavier-uniform with gain sqrt(2), i.e.
 *                       U(+-sqrt(2) sqrt(6 / (in/k + out/k))); rule N(0, 0.01);
 *                       b 0
 *       lora            A kaiming-uniform (a = sqrt(5)): U(+-1/sqrt(in));
 *                       B = 0; alpha 32 unless given
 *       prompt          prompt embedding and both MLP Linears N(0, 0.02),
 *                       biases 0
 *       hyperformer     task embeddings N(0, 1); layer embeddings, projector
 *                       and generator Linears N(0, 0.02) with bias 0; the
 *                       projector LayerNorm (1, 0)
 *     (normal numbers: Box-Muller over vla_conv_randn's xorshift stream, so
 *     the values are seeded but not torch's).
 *
 * Include after vla_convert.h; define VLA_RANDOM_IMPLEMENTATION in the one
 * file that also has VLA_CONVERT_IMPLEMENTATION.
 */
#ifndef VLA_RANDOM_H
#define VLA_RANDOM_H

#include "vla_convert.h"

typedef struct vla_rand_clip {
    int layers[4];   /* bottlenecks per stage: RN101 = {3, 4, 23, 3}, RN50 = {3, 4, 6, 3} */
    int width;       /* 64 for RN50/RN101 (stem 3 -> w/2 -> w/2 -> w; grid 32*w channels) */
    int image_size;  /* a multiple of 32 (224) */
    uint64_t seed;
    int designed;    /* 1: the stem computes colour and edge features by design (below) */
} vla_rand_clip;

/* Append the trunk's tensors and keys to cv.  0 on success, -1 (cv->err). */
int vla_random_clip(vla_conv *cv, const vla_rand_clip *r);

typedef struct vla_rand_adapter {
    const char *method;     /* "adapter", "compacter", "hyperformer", "lora", "prompt" */
    int d_model, enc_layers, dec_layers;
    int n_tasks;            /* 1..16; names from tasks[] or vqa, gqa, nlvr, caption, task4.. */
    const char *tasks[16];  /* NULL entries: the default names                          */
    int shared;             /* 1: one module for all tasks (task "*", the "single"
                               variants); 0: one per task; 2 (adapters only): the
                               "half-shared" variant, down-projections shared (task
                               "*"), up-projections per task.  Hyperformer is always
                               generated per task from a shared hypernetwork.      */
    int hidden;             /* adapter / compacter / hyperformer hidden size, LoRA rank */
    int phm_k;              /* compacter: Kronecker factor count (divides d and hidden) */
    float lora_alpha;       /* LoRA: scale = alpha / rank (0: 32)                       */
    int prompt_len;         /* prompt: vectors prepended (40)                           */
    int prompt_mid;         /* prompt: width of the reparameterisation MLP (800)        */
    int task_emb;           /* hyperformer: task embedding size (512)                   */
    int task_hidden;        /* hyperformer: projector hidden size (128)                 */
    int task_proj;          /* hyperformer: projected embedding size (64)               */
    uint64_t base_fingerprint; /* the model's vladapter.fingerprint                     */
    int max_length;         /* every task's preset max_length (0: 20, the official)      */
    uint64_t seed;
    int init;               /* VLA_RAND_INIT_FAST (0) or VLA_RAND_INIT_OFFICIAL            */
    int prefixes;           /* task text prefixes: VLA_RAND_PREFIX_TASK (0) "<task>: ",
                               VLA_RAND_PREFIX_OFFICIAL the single_* scripts' ("vqa: ",
                               "gpa: " (sic), "nlvr: ", "caption: ", other tasks
                               "<task>: "), VLA_RAND_PREFIX_NONE none (the multiple_*,
                               hyperformer and full fine-tuning scripts)            */
} vla_rand_adapter;

enum { VLA_RAND_INIT_FAST = 0, VLA_RAND_INIT_OFFICIAL = 1 };
enum { VLA_RAND_PREFIX_TASK = 0, VLA_RAND_PREFIX_OFFICIAL = 1, VLA_RAND_PREFIX_NONE = 2 };

/* Fill an empty cv with one adapter file.  0 on success, -1 (cv->err). */
int vla_random_adapter(vla_conv *cv, const vla_rand_adapter *r);
/* The generator under all of it: splitmix64, *state advanced by one step.
 * vla_random_normal: N(0, 1) by Box-Muller from two of its draws. */
uint64_t vla_random_u64(uint64_t *state);
double vla_random_normal(uint64_t *state);

#endif /* VLA_RANDOM_H */

#ifdef VLA_RANDOM_IMPLEMENTATION
#ifndef VLA_RANDOM_IMPLEMENTATION_DONE
#define VLA_RANDOM_IMPLEMENTATION_DONE

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t vla_random_u64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double vla_random_normal(uint64_t *s) {
    const double u1 = ((double)(vla_random_u64(s) >> 11) + 1.0) * (1.0 / 9007199254740992.0); /* (0, 1] */
    const double u2 = (double)(vla_random_u64(s) >> 11) * (1.0 / 9007199254740992.0);        /* [0, 1) */
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* n floats, uniform with the given mean and standard deviation. */
static float *vla_rnd__vals(size_t n, double mean, double std, uint64_t *s) {
    float *d = (float *)malloc(n * sizeof(float) + 4);
    double a = std * 1.7320508075688772; /* half-width of a uniform with that deviation */
    size_t i;
    if (!d) return NULL;
    for (i = 0; i < n; i++) {
        double u = (double)(vla_random_u64(s) >> 11) * (1.0 / 9007199254740992.0); /* [0, 1) */
        d[i] = (float)(mean + a * (2.0 * u - 1.0));
    }
    return d;
}

/* Add a random F32 tensor of PyTorch shape sh[0..nd). */
static int vla_rnd__add(vla_conv *cv, const char *name, int nd, const int64_t *sh, double mean, double std, uint64_t *s) {
    size_t n = 1;
    int i;
    float *d;
    for (i = 0; i < nd; i++) n *= (size_t)sh[i];
    d = vla_rnd__vals(n, mean, std, s);
    if (!d) { snprintf(cv->err, sizeof cv->err, "out of memory (%s)", name); return -1; }
    return vla_conv_add_owned(cv, name, nd, sh, d); /* takes d, also on failure */
}

static int vla_rnd__add1(vla_conv *cv, const char *name, int64_t a, double mean, double std, uint64_t *s) {
    return vla_rnd__add(cv, name, 1, &a, mean, std, s);
}

/* A folded convolution: weight [cout, k, k, cin] ~ gain * sqrt(2 / fan_in), bias small. */
static int vla_rnd__conv(vla_conv *cv, const char *prefix, int cin, int cout, int k, double gain, uint64_t *s) {
    char nm[160];
    int64_t sh[4];
    sh[0] = cout; sh[1] = k; sh[2] = k; sh[3] = cin;
    snprintf(nm, sizeof nm, "%s.weight", prefix);
    if (vla_rnd__add(cv, nm, 4, sh, 0.0, gain * sqrt(2.0 / (double)(k * k * cin)), s) != 0) return -1;
    snprintf(nm, sizeof nm, "%s.bias", prefix);
    return vla_rnd__add1(cv, nm, cout, 0.0, 0.05, s);
}

/* The designed stem (vla_rand_clip.designed): what a trained CNN's first
 * layers compute, written down, so that a from-scratch model sees colour and
 * shape from its first step.  On CLIP-normalised pixels x_c = (v_c - m_c) / s_c
 * (v in [0, 1]):
 *   conv1 (stride 2, centre tap): 6 colour channels relu(+-2 (v_c - 0.6))
 *         (both signs, so the colour survives the ReLU linearly);
 *   conv2: the 6 colour channels copied, a = relu(2 sum_c relu(0.6 - v_c)) and
 *         a - 1 (relu'd): objectness o = a - relu(a - 1), clamped to [0, 1] (the
 *         Shapes world's background has every channel >= 200/255, every object
 *         colour one channel <= 80/255 (+-15), so o is 1 inside every object
 *         and 0 outside, whatever its colour);
 *   conv3: the colours and o copied, then relu(+-d_theta o - 0.6) for n_or
 *         orientations theta = k pi / n_or, d_theta = (cos theta Sobel_x +
 *         sin theta Sobel_y) / 4, which is 1 across a sharp edge of o whose
 *         normal is theta: the bias keeps only edges within about 50 degrees
 *         (edge direction histograms: a square's are at 0 and 90 degrees, a
 *         triangle's at 90, 30 and 150, a circle's everywhere);
 * n_or = min(6, (width - 7) / 2), designed channels 7 + 2 n_or (15 at width 16).
 * The remaining channels of each convolution stay random.  Every later block
 * passes the designed channels on unchanged: the downsample 1x1 convolutions
 * copy them, the residual branches add nothing to them, so the grid holds
 * their averages over each cell next to the random features.
 * Measured (docs/shapes.md): a linear probe on the grid of one-object scenes
 * reads colour, shape and size at 99-100 %, against 93 / 52 / 96 % for a
 * random trunk of the same width. */
static int vla_rnd__n_or(int w) { int n = (w - 7) / 2; return n > 6 ? 6 : n; }
static int vla_rnd__nd(int w) { return 7 + 2 * vla_rnd__n_or(w); }

static float *vla_rnd__find(vla_conv *cv, const char *name, size_t *n) {
    const vla_conv_tensor *t = vla_conv_find(cv, name);
    if (!t) { snprintf(cv->err, sizeof cv->err, "designed CLIP: no tensor %s", name); return NULL; }
    *n = t->nbytes / 4;
    return (float *)t->data;
}

static void vla_rnd__keep_designed(vla_conv *cv, const char *prefix, int cin, int identity, int w) {
    char nm[160];
    float *W, *B;
    size_t nw, nb;
    int nd = vla_rnd__nd(w), o, i;
    snprintf(nm, sizeof nm, "%s.weight", prefix);
    W = vla_rnd__find(cv, nm, &nw);
    snprintf(nm, sizeof nm, "%s.bias", prefix);
    B = vla_rnd__find(cv, nm, &nb);
    if (!W || !B) return;
    for (o = 0; o < nd; o++) {
        for (i = 0; i < cin; i++) W[(size_t)o * cin + i] = (identity && i == o) ? 1.0f : 0.0f;
        B[o] = 0.0f;
    }
}

static int vla_rnd__designed_stem(vla_conv *cv, int w, uint64_t *s) {
    static const float mean[3] = {0.48145466f, 0.4578275f, 0.40821073f}, sd[3] = {0.26862954f, 0.26130258f, 0.27577711f};
    static const float sob_x[9] = {-1, 0, 1, -2, 0, 2, -1, 0, 1}, sob_y[9] = {-1, -2, -1, 0, 0, 0, 1, 2, 1};
    int h = w / 2, nor = vla_rnd__n_or(w), c, o, t;
    float *W, *B;
    size_t nw, nb;
    if (h < 8 || nor < 2) { /* conv2 holds the 6 colours and o's two halves */
        snprintf(cv->err, sizeof cv->err, "designed CLIP stem: width must be at least 16 (8 stem channels)");
        return -1;
    }
    if (vla_rnd__conv(cv, "visual.conv1", 3, h, 3, 1.0, s) || vla_rnd__conv(cv, "visual.conv2", h, h, 3, 1.0, s) ||
        vla_rnd__conv(cv, "visual.conv3", h, w, 3, 1.0, s))
        return -1;
    /* conv1: [h, 3, 3, 3]; centre tap index 4 */
    W = vla_rnd__find(cv, "visual.conv1.weight", &nw); B = vla_rnd__find(cv, "visual.conv1.bias", &nb);
    if (!W || !B) return -1;
    for (o = 0; o < 6; o++) {
        float sg = o < 3 ? 2.0f : -2.0f;
        c = o % 3;
        for (t = 0; t < 27; t++) W[(size_t)o * 27 + t] = 0.0f;
        W[(size_t)o * 27 + 4 * 3 + c] = sg * sd[c];
        B[o] = sg * (mean[c] - 0.6f);
    }
    /* conv2: [h, 3, 3, h] */
    W = vla_rnd__find(cv, "visual.conv2.weight", &nw); B = vla_rnd__find(cv, "visual.conv2.bias", &nb);
    if (!W || !B) return -1;
    for (o = 0; o < 8; o++) {
        for (t = 0; t < 9 * h; t++) W[(size_t)o * 9 * h + t] = 0.0f;
        B[o] = o == 7 ? -1.0f : 0.0f;
        if (o < 6) W[(size_t)o * 9 * h + 4 * h + o] = 1.0f;
        else for (c = 3; c < 6; c++) W[(size_t)o * 9 * h + 4 * h + c] = 2.0f; /* 2 sum relu(0.6 - v_c) (- 1) */
    }
    /* conv3: [w, 3, 3, h]; o = channel 6 - channel 7 (objectness clamped to [0, 1]) */
    W = vla_rnd__find(cv, "visual.conv3.weight", &nw); B = vla_rnd__find(cv, "visual.conv3.bias", &nb);
    if (!W || !B) return -1;
    for (o = 0; o < 7 + 2 * nor; o++) {
        for (t = 0; t < 9 * h; t++) W[(size_t)o * 9 * h + t] = 0.0f;
        B[o] = 0.0f;
        if (o < 6) W[(size_t)o * 9 * h + 4 * h + o] = 1.0f;
        else if (o == 6) { W[(size_t)o * 9 * h + 4 * h + 6] = 1.0f; W[(size_t)o * 9 * h + 4 * h + 7] = -1.0f; }
        else {
            int k = (o - 7) / 2;
            float sg = (o - 7) % 2 ? -1.0f : 1.0f, th = 3.14159265f * (float)k / (float)nor;
            for (t = 0; t < 9; t++) {
                float d = sg * (cosf(th) * sob_x[t] + sinf(th) * sob_y[t]) / 4.0f;
                W[(size_t)o * 9 * h + t * h + 6] = d;
                W[(size_t)o * 9 * h + t * h + 7] = -d;
            }
            B[o] = -0.6f; /* only edges within ~50 degrees of theta */
        }
    }
    return 0;
}

int vla_random_clip(vla_conv *cv, const vla_rand_clip *r) {
    uint64_t st = r->seed * 0xD1B54A32D192ED03ull + 7;
    int w = r->width, inpl, si, bi;
    char nm[160];
    if (w < 2 || w % 2 || r->image_size < 32 || r->image_size % 32) {
        snprintf(cv->err, sizeof cv->err, "random CLIP: width must be even and the image size a multiple of 32");
        return -1;
    }
    for (si = 0; si < 4; si++)
        if (r->layers[si] < 1) { snprintf(cv->err, sizeof cv->err, "random CLIP: every stage needs a block"); return -1; }
    if (r->designed) {
        if (vla_rnd__designed_stem(cv, w, &st) != 0) return -1;
    } else if (vla_rnd__conv(cv, "visual.conv1", 3, w / 2, 3, 1.0, &st) || vla_rnd__conv(cv, "visual.conv2", w / 2, w / 2, 3, 1.0, &st) ||
               vla_rnd__conv(cv, "visual.conv3", w / 2, w, 3, 1.0, &st))
        return -1;
    inpl = w;
    for (si = 0; si < 4; si++) {
        int planes = w << si;
        for (bi = 0; bi < r->layers[si]; bi++) {
            int stride = (bi == 0 && si > 0) ? 2 : 1;
            /* the residual branch's last conv is damped so that 33 blocks of
             * "x + f(x)" keep the activations in a sane range */
            snprintf(nm, sizeof nm, "visual.layer%d.%d.conv1", si + 1, bi);
            if (vla_rnd__conv(cv, nm, inpl, planes, 1, 1.0, &st)) return -1;
            snprintf(nm, sizeof nm, "visual.layer%d.%d.conv2", si + 1, bi);
            if (vla_rnd__conv(cv, nm, planes, planes, 3, 1.0, &st)) return -1;
            snprintf(nm, sizeof nm, "visual.layer%d.%d.conv3", si + 1, bi);
            if (vla_rnd__conv(cv, nm, planes, 4 * planes, 1, 0.2, &st)) return -1;
            if (r->designed) vla_rnd__keep_designed(cv, nm, planes, 0, w);
            if (stride > 1 || inpl != 4 * planes) {
                snprintf(nm, sizeof nm, "visual.layer%d.%d.downsample.0", si + 1, bi);
                if (vla_rnd__conv(cv, nm, inpl, 4 * planes, 1, 0.7, &st)) return -1;
                if (r->designed) vla_rnd__keep_designed(cv, nm, inpl, 1, w);
            }
            inpl = 4 * planes;
        }
    }
    vla_conv_str(cv, "general.architecture", "vladapter");
    vla_conv_u32(cv, "vladapter.clip.image_size", (uint32_t)r->image_size);
    vla_conv_bool(cv, "vladapter.clip.bn_folded", 1);
    return 0;
}

static const char *vla_rnd__default_task(int i, char *buf, size_t cap) {
    static const char *names[4] = {"vqa", "gqa", "nlvr", "caption"};
    if (i < 4) return names[i];
    snprintf(buf, cap, "task%d", i);
    return buf;
}

/* Official initialisations: normal(0, a), uniform(-a, a), constant a. */
enum { VLA_RND__NORMAL = 1, VLA_RND__UNIFORM, VLA_RND__CONST };

typedef struct vla_rnd__gen {
    const vla_rand_adapter *r;
    uint64_t fast;           /* splitmix64 state of the fast style       */
    uint64_t normal, unif;   /* the official style's two streams         */
} vla_rnd__gen;

/* One tensor of PyTorch shape sh[0..nd): fast style (uniform with the given
 * mean and deviation) or official style (kind, a). */
static int vla_rnd__put(vla_conv *cv, vla_rnd__gen *g, const char *name, int nd, const int64_t *sh, double fmean,
                        double fstd, int kind, double a) {
    size_t n = 1, i;
    float *d;
    int j;
    if (g->r->init != VLA_RAND_INIT_OFFICIAL) return vla_rnd__add(cv, name, nd, sh, fmean, fstd, &g->fast);
    for (j = 0; j < nd; j++) n *= (size_t)sh[j];
    d = (float *)malloc(n * sizeof(float) + 4);
    if (!d) { snprintf(cv->err, sizeof cv->err, "out of memory (%s)", name); return -1; }
    for (i = 0; i < n; i++) {
        if (kind == VLA_RND__NORMAL) d[i] = (float)(a * vla_conv_randn(&g->normal));
        else if (kind == VLA_RND__UNIFORM) {
            double u = (double)(vla_random_u64(&g->unif) >> 11) * (1.0 / 9007199254740992.0); /* [0, 1) */
            d[i] = (float)(a * (2.0 * u - 1.0));
        } else d[i] = (float)a;
    }
    return vla_conv_add_owned(cv, name, nd, sh, d);
}

static int vla_rnd__put1(vla_conv *cv, vla_rnd__gen *g, const char *name, int64_t a0, double fm, double fs, int kind, double a) {
    return vla_rnd__put(cv, g, name, 1, &a0, fm, fs, kind, a);
}
static int vla_rnd__put2(vla_conv *cv, vla_rnd__gen *g, const char *name, int64_t a0, int64_t a1, double fm, double fs, int kind,
                         double a) {
    int64_t sh[2];
    sh[0] = a0; sh[1] = a1;
    return vla_rnd__put(cv, g, name, 2, sh, fm, fs, kind, a);
}
static int vla_rnd__put3(vla_conv *cv, vla_rnd__gen *g, const char *name, int64_t a0, int64_t a1, int64_t a2, double fm,
                         double fs, int kind, double a) {
    int64_t sh[3];
    sh[0] = a0; sh[1] = a1; sh[2] = a2;
    return vla_rnd__put(cv, g, name, 3, sh, fm, fs, kind, a);
}

/* The text prefix of a task in the requested style. */
static void vla_rnd__prefix(char *out, size_t cap, const char *task, int style) {
    if (style == VLA_RAND_PREFIX_NONE) { out[0] = 0; return; }
    if (style == VLA_RAND_PREFIX_OFFICIAL && !strcmp(task, "gqa")) { snprintf(out, cap, "gpa: "); return; } /* multitask.py */
    snprintf(out, cap, "%s: ", task);
}

int vla_random_adapter(vla_conv *cv, const vla_rand_adapter *r) {
    vla_rnd__gen g;
    int d = r->d_model, h = r->hidden, ti, l, side, k, rc = 0;
    int method = 0, n_tasks = r->n_tasks < 1 ? 1 : r->n_tasks > 16 ? 16 : r->n_tasks;
    char nm[200], task[64], buf[16];
    static const char *methods[5] = {"adapter", "compacter", "hyperformer", "lora", "prompt"};
    static const char *enc_sites[2] = {"attn", "ffn"}, *dec_sites[3] = {"self", "cross", "ffn"};
    static const char *enc_lora[2] = {"q", "v"}, *dec_lora[4] = {"q", "v", "xq", "xv"};
    const int N = VLA_RND__NORMAL, U = VLA_RND__UNIFORM, C = VLA_RND__CONST;
    g.r = r;
    g.fast = r->seed * 0xA24BAED4963EE407ull + 3;
    g.normal = r->seed * 0x9E3779B97F4A7C15ull + 0x5851F42D4C957F2Dull; /* xorshift: never 0 in practice */
    if (!g.normal) g.normal = 1;
    g.unif = r->seed * 0xD1342543DE82EF95ull + 11;
    for (k = 0; k < 5; k++)
        if (r->method && !strcmp(r->method, methods[k])) method = k + 1;
    if (!method) { snprintf(cv->err, sizeof cv->err, "random adapter: unknown method '%s'", r->method ? r->method : "(null)"); return -1; }
    if (d < 1 || h < 1) { snprintf(cv->err, sizeof cv->err, "random adapter: sizes must be positive"); return -1; }
    cv->n_tasks = n_tasks;
    for (ti = 0; ti < n_tasks; ti++) {
        const char *tn = r->tasks[ti] ? r->tasks[ti] : vla_rnd__default_task(ti, buf, sizeof buf);
        snprintf(cv->task_names[ti], sizeof cv->task_names[ti], "%s", tn);
        vla_rnd__prefix(cv->task_prefix[ti], sizeof cv->task_prefix[ti], tn, r->prefixes);
        cv->task_beams[ti] = !strcmp(tn, "caption") ? 5 : 1;
        cv->task_maxlen[ti] = r->max_length > 0 ? (uint32_t)r->max_length : 20;
    }
    cv->base_fingerprint = r->base_fingerprint;
    vla_conv_str(cv, "general.architecture", "vladapter");
    vla_conv_str(cv, "general.type", "adapter");
    vla_conv_str(cv, "vladapter.adapter.method", methods[method - 1]);
#define VLA_RND_OK(x) do { if (!rc && (x) != 0) rc = -1; } while (0)
    if (method == 3) { /* Hyperformer: task embeddings + one hypernetwork per side */
        int E = r->task_emb > 0 ? r->task_emb : 512, hid = r->task_hidden > 0 ? r->task_hidden : 128;
        int dp = r->task_proj > 0 ? r->task_proj : 64;
        for (ti = 0; ti < n_tasks; ti++) {
            snprintf(nm, sizeof nm, "H.task.%s", cv->task_names[ti]);
            VLA_RND_OK(vla_rnd__put1(cv, &g, nm, E, 0.0, 1.0, N, 1.0));
        }
        for (side = 0; side < 2; side++) {
            const char *sd = side ? "dec" : "enc";
            int nl = side ? r->dec_layers : r->enc_layers, nty = side ? 3 : 2, ty, half;
            snprintf(nm, sizeof nm, "H.%s.layer_emb", sd); VLA_RND_OK(vla_rnd__put2(cv, &g, nm, nl, E, 0.0, 1.0, N, 0.02));
            snprintf(nm, sizeof nm, "H.%s.proj1.weight", sd); VLA_RND_OK(vla_rnd__put2(cv, &g, nm, hid, 2 * E, 0.0, 0.02, N, 0.02));
            snprintf(nm, sizeof nm, "H.%s.proj1.bias", sd); VLA_RND_OK(vla_rnd__put1(cv, &g, nm, hid, 0.0, 0.01, C, 0.0));
            snprintf(nm, sizeof nm, "H.%s.proj2.weight", sd); VLA_RND_OK(vla_rnd__put2(cv, &g, nm, dp, hid, 0.0, 0.02, N, 0.02));
            snprintf(nm, sizeof nm, "H.%s.proj2.bias", sd); VLA_RND_OK(vla_rnd__put1(cv, &g, nm, dp, 0.0, 0.01, C, 0.0));
            snprintf(nm, sizeof nm, "H.%s.ln.weight", sd); VLA_RND_OK(vla_rnd__put1(cv, &g, nm, dp, 1.0, 0.01, C, 1.0));
            snprintf(nm, sizeof nm, "H.%s.ln.bias", sd); VLA_RND_OK(vla_rnd__put1(cv, &g, nm, dp, 0.0, 0.01, C, 0.0));
            for (ty = 0; ty < nty; ty++)
                for (half = 0; half < 2; half++) {
                    const char *t = side ? dec_sites[ty] : enc_sites[ty], *ud = half ? "up" : "down";
                    int outd = half ? d : h;
                    snprintf(nm, sizeof nm, "H.%s.%s.%s.wgen.weight", sd, t, ud);
                    VLA_RND_OK(vla_rnd__put2(cv, &g, nm, (int64_t)d * h, dp, 0.0, 0.01, N, 0.02));
                    snprintf(nm, sizeof nm, "H.%s.%s.%s.wgen.bias", sd, t, ud);
                    VLA_RND_OK(vla_rnd__put1(cv, &g, nm, (int64_t)d * h, 0.0, 0.01, C, 0.0));
                    snprintf(nm, sizeof nm, "H.%s.%s.%s.bgen.weight", sd, t, ud);
                    VLA_RND_OK(vla_rnd__put2(cv, &g, nm, outd, dp, 0.0, 0.01, N, 0.02));
                    snprintf(nm, sizeof nm, "H.%s.%s.%s.bgen.bias", sd, t, ud);
                    VLA_RND_OK(vla_rnd__put1(cv, &g, nm, outd, 0.0, 0.01, C, 0.0));
                }
        }
        return rc;
    }
    for (ti = 0; ti < (r->shared == 1 ? 1 : n_tasks) && !rc; ti++) {
        int half_shared = r->shared == 2 && method == 1; /* down: task "*", once; up: per task */
        snprintf(task, sizeof task, "%s", r->shared == 1 ? "*" : cv->task_names[ti]);
        if (method == 5) { /* prompt: embedding + the reparameterisation MLP */
            int n = r->prompt_len > 0 ? r->prompt_len : 40, mid = r->prompt_mid > 0 ? r->prompt_mid : 800;
            snprintf(nm, sizeof nm, "P.%s.emb", task); VLA_RND_OK(vla_rnd__put2(cv, &g, nm, n, d, 0.0, 0.5, N, 0.02));
            snprintf(nm, sizeof nm, "P.%s.fc1.weight", task); VLA_RND_OK(vla_rnd__put2(cv, &g, nm, mid, d, 0.0, 0.02, N, 0.02));
            snprintf(nm, sizeof nm, "P.%s.fc1.bias", task); VLA_RND_OK(vla_rnd__put1(cv, &g, nm, mid, 0.0, 0.01, C, 0.0));
            snprintf(nm, sizeof nm, "P.%s.fc2.weight", task); VLA_RND_OK(vla_rnd__put2(cv, &g, nm, d, mid, 0.0, 0.02, N, 0.02));
            snprintf(nm, sizeof nm, "P.%s.fc2.bias", task); VLA_RND_OK(vla_rnd__put1(cv, &g, nm, d, 0.0, 0.01, C, 0.0));
            continue;
        }
        for (side = 0; side < 2; side++) {
            int nl = side ? r->dec_layers : r->enc_layers;
            for (l = 0; l < nl; l++) {
                if (method == 4) { /* LoRA on q/v (and the decoder's cross q/v): A kaiming-uniform, B = 0 */
                    int ns = side ? 4 : 2;
                    for (k = 0; k < ns; k++) {
                        const char *w = side ? dec_lora[k] : enc_lora[k];
                        snprintf(nm, sizeof nm, "L.%s.%s.%d.%s.A", task, side ? "dec" : "enc", l, w);
                        VLA_RND_OK(vla_rnd__put2(cv, &g, nm, h, d, 0.0, 0.02, U, 1.0 / sqrt((double)d)));
                        snprintf(nm, sizeof nm, "L.%s.%s.%d.%s.B", task, side ? "dec" : "enc", l, w);
                        VLA_RND_OK(vla_rnd__put2(cv, &g, nm, d, h, 0.0, 0.02, C, 0.0));
                    }
                    continue;
                }
                for (k = 0; k < (side ? 3 : 2); k++) {
                    const char *site = side ? dec_sites[k] : enc_sites[k];
                    char pre[120];
                    snprintf(pre, sizeof pre, "A.%s.%s.%d.%s", task, side ? "dec" : "enc", l, site);
                    if (half_shared) {
                        char dpre[120];
                        snprintf(dpre, sizeof dpre, "A.*.%s.%d.%s", side ? "dec" : "enc", l, site);
                        if (ti == 0) {
                            snprintf(nm, sizeof nm, "%s.down.weight", dpre); VLA_RND_OK(vla_rnd__put2(cv, &g, nm, h, d, 0.0, 0.02, N, 0.02));
                            snprintf(nm, sizeof nm, "%s.down.bias", dpre); VLA_RND_OK(vla_rnd__put1(cv, &g, nm, h, 0.0, 0.01, C, 0.0));
                        }
                        snprintf(nm, sizeof nm, "%s.up.weight", pre); VLA_RND_OK(vla_rnd__put2(cv, &g, nm, d, h, 0.0, 0.02, N, 0.02));
                        snprintf(nm, sizeof nm, "%s.up.bias", pre); VLA_RND_OK(vla_rnd__put1(cv, &g, nm, d, 0.0, 0.01, C, 0.0));
                        continue;
                    }
                    if (method == 1) { /* plain bottleneck adapter */
                        snprintf(nm, sizeof nm, "%s.down.weight", pre); VLA_RND_OK(vla_rnd__put2(cv, &g, nm, h, d, 0.0, 0.02, N, 0.02));
                        snprintf(nm, sizeof nm, "%s.up.weight", pre); VLA_RND_OK(vla_rnd__put2(cv, &g, nm, d, h, 0.0, 0.02, N, 0.02));
                    } else { /* Compacter: rule [k, k, k] and W [k, in/k, out/k] per half */
                        int pk = r->phm_k > 0 ? r->phm_k : 2;
                        double xav;
                        if (d % pk || h % pk) { snprintf(cv->err, sizeof cv->err, "random compacter: k must divide d and hidden"); return -1; }
                        xav = sqrt(2.0) * sqrt(6.0 / (double)(d / pk + h / pk)); /* the same for down and up */
                        snprintf(nm, sizeof nm, "%s.down.rule", pre); VLA_RND_OK(vla_rnd__put3(cv, &g, nm, pk, pk, pk, 0.0, 0.5, N, 0.01));
                        snprintf(nm, sizeof nm, "%s.down.W", pre); VLA_RND_OK(vla_rnd__put3(cv, &g, nm, pk, d / pk, h / pk, 0.0, 0.02, U, xav));
                        snprintf(nm, sizeof nm, "%s.up.rule", pre); VLA_RND_OK(vla_rnd__put3(cv, &g, nm, pk, pk, pk, 0.0, 0.5, N, 0.01));
                        snprintf(nm, sizeof nm, "%s.up.W", pre); VLA_RND_OK(vla_rnd__put3(cv, &g, nm, pk, h / pk, d / pk, 0.0, 0.02, U, xav));
                    }
                    snprintf(nm, sizeof nm, "%s.down.bias", pre); VLA_RND_OK(vla_rnd__put1(cv, &g, nm, h, 0.0, 0.01, C, 0.0));
                    snprintf(nm, sizeof nm, "%s.up.bias", pre); VLA_RND_OK(vla_rnd__put1(cv, &g, nm, d, 0.0, 0.01, C, 0.0));
                }
            }
        }
    }
    if (method == 4) vla_conv_f32(cv, "vladapter.adapter.lora_alpha", r->lora_alpha > 0.0f ? r->lora_alpha : 32.0f);
#undef VLA_RND_OK
    return rc;
}

#endif /* VLA_RANDOM_IMPLEMENTATION_DONE */
#endif /* VLA_RANDOM_IMPLEMENTATION */
