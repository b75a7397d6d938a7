/* vladapter.h - VL-Adapter (CLIP-ResNet + BART, with adapters) in one C header.
 *
 *   Do this in exactly one C or C++ file:
 *       #define VLADAPTER_IMPLEMENTATION
 *       #include "vladapter.h"
 *   Everywhere else just #include "vladapter.h".
 *
 * ============================================================================
 * TABLE OF CONTENTS  (search for the tag in brackets to jump to a layer)
 * ============================================================================
 *   Manual
 *     [M1] What it does / what it does NOT do
 *     [M2] Configuration macros
 *     [M3] Memory: arenas, size queries, lifetimes
 *     [M4] Errors, logging, thread safety, untrusted files
 *     [M5] int8: the I8 weight format and the integer path
 *   Declarations
 *     [D1] Basic types, status codes, logging
 *     [D2] Arena
 *     [D3] Tensors, weight matrices, execution settings
 *     [D4] Kernels (fp32 reference + fast paths)
 *     [D5] GGUF reader and writer
 *     [D6] The model: hyperparameters, loading
 *     [D7] Inference context: encode, decode, greedy and beam search
 *     [D8] CLIP ModifiedResNet trunk
 *     [D9] Image input: raw pixels, Pillow-exact resize, CLIP normalisation, PNM
 *     [D10] Parameter-efficient modules: adapter files, hot-swapping
 *     [D11] Tokenizer: byte-level BPE with VL-Adapter's added tokens
 *     [D12] Trainer: backprop + AdamW in fixed memory, losses, checkpoints
 *     [D13] Task level: vla_caption, vla_answer, vla_verify (start here)
 *   Implementation
 *     [I1] Portability: libc overrides, SIMD selection, fp16, overflow-safe sizes
 *     [I2] Status strings, logging
 *     [I3] Arena
 *     [I4] Kernels: scalar reference definitions
 *     [I5] Kernels: fast paths (blocked, SIMD)
 *     [I6] GGUF
 *     [I7] Model loading (weights view, tensor checks)
 *     [I8] BART encoder-decoder with the visual embedding, PEFT hooks
 *     [I9] Decoding: greedy and beam search (transformers 4.2.1 rules)
 *     [I10] CLIP trunk
 *     [I11] Image input
 *     [I12] Parameter-efficient modules: attach, precompute
 *     [I13] Tokenizer
 *     [I14] Trainer: backward kernels, trainable set, modules, forward and
 *           backward passes, AdamW, adapter/model/state files
 *     [I15] Task level: sizing, the caption / answer / verify chains
 *
 *   The model in one picture (shapes for BART-base, one image):
 *
 *     pixels [H, W, 3] u8 --vla_clip_preprocess--> [224, 224, 3] f32
 *       --CLIP trunk [I10]--> grid [7*7, 2048] --6x6 max pool--> [36, 2048]
 *       --visual embedding [I8]: LN(W_f v) + LN(W_p box) + E_img + E_tok[V-1-i]--> [36, 768]
 *     text ids [Lt] --E_tok + P[t+2], layernorm_embedding--> [Lt, 768]
 *     encoder input [Lt + 36, 768] --6 post-LN layers (+ adapters / LoRA)--> [Lt + 36, 768]
 *     decoder: start token 2, KV cache, 6 layers with cross-attention
 *       --> logits = h E_tok^T + final_logits_bias [50465] --> greedy / beam search
 *
 * ============================================================================
 * [M1] WHAT IT DOES
 * ============================================================================
 * vladapter.h runs (and, later, trains the adapters of) the CLIP-BART model of
 * "VL-Adapter: Parameter-Efficient Transfer Learning for Vision-and-Language
 * Tasks" (Sung, Cho, Bansal; CVPR 2022) in plain C99 on a caller-provided block
 * of memory.  Model files are GGUF (v3, little-endian) produced by tools/.
 *
 * It does NOT:
 *   - allocate memory (no malloc/free), exit, abort, or start threads;
 *   - keep global mutable state (two models in one process are fine);
 *   - download anything or read files behind your back (file helpers exist
 *     only without VLA_NO_STDIO and only read the path you pass);
 *   - copy or modify model weights: tensors point into your buffer (a mapped
 *     file, a const array in flash, a file read into RAM), which must outlive
 *     the model and stay unchanged;
 *   - detect the CPU at run time: SIMD paths are chosen when you compile.
 *
 * ============================================================================
 * [M2] CONFIGURATION MACROS (define before including the implementation)
 * ============================================================================
 *   VLADAPTER_IMPLEMENTATION  compile the implementation in this file
 *   VLADAPTER_STATIC          make every function static (private copy)
 *   VLA_NO_STDIO              drop the path-based helpers; only the
 *                             from-memory loaders remain
 *   VLA_NO_SIMD               compile only the scalar reference kernels
 *   VLA_ASSERT(x)             debug checks (default: assert from <assert.h>;
 *                             never used to validate input)
 *   VLA_MEMCPY, VLA_MEMSET, VLA_MEMCMP, VLA_STRLEN
 *                             libc memory/string functions
 *   VLA_SQRTF VLA_EXPF VLA_LOGF VLA_TANHF VLA_ERFF VLA_POWF VLA_FABSF
 *   VLA_POW VLA_SQRT           libm functions (define all or none; the two
 *                             double ones serve beam scores and BN folding)
 *   VLA_MAX_LAYERS            largest layer count a file may declare (64)
 *   VLA_MAX_DIMS              largest tensor rank (4, as GGUF)
 *   VLA_MAX_IMAGE_DIM         largest image width/height accepted (16384)
 *   VLA_TOKENIZER_MAX_TOKENS  largest vocabulary a file may declare (2^22)
 *   VLA_TOKENIZER_MAX_TEXT    longest text vla_tokenize takes (16 MiB)
 *   VLA_CONV_SCRATCH_BYTES    im2col band of a convolution (1 MiB; at least one
 *                             output row is always used)
 *
 * ============================================================================
 * [M3] MEMORY
 * ============================================================================
 * Every object (model, inference context, adapter slot, trainer) follows the
 * same two-step pattern:
 *      size_t need;  vla_xxx_mem_req(..., &need);     // from the file header
 *      vla_xxx_init(&obj, mem, need, ...);              // carve mem
 * The size query and the init run the same layout code (the query in a
 * "measuring" arena that hands out no memory), so the number returned is the
 * peak that init and every later call will use: nothing grows afterwards.
 *
 * An arena has two regions that grow towards each other:
 *      [ persistent ->            free            <- scratch ]
 * Persistent blocks live as long as the object (tables, KV cache, encoder
 * output, later: adapter weights, AdamW moments, saved activations).
 * Scratch is a stack: a layer marks it, takes its temporaries, and releases
 * them when it returns, so layer N+1 reuses layer N's bytes.  The arena
 * records the high-water mark of both regions (vla_arena_stats).
 *
 * How later parts fit:  int8 weights (I8 with one scale per row, [M5]; or
 * Q8_0 blocks of 32 with an fp16 scale, the ggml layout) are described by
 * the same vla_mat as fp32 weights, so the linear and convolution APIs do
 * not change.  The trainer allocates saved
 * activations, gradients and the AdamW m/v vectors for the trainable tensors
 * only as persistent blocks of its own arena, sized by its own mem_req.
 *
 * ============================================================================
 * [M4] ERRORS, LOGGING, THREADS, UNTRUSTED FILES
 * ============================================================================
 * Every fallible call returns vla_status (VLA_OK == 0, errors < 0);
 * vla_status_str() names it.  A log callback (optional) receives a sentence
 * with details, e.g. the number of bytes that were missing.
 * Thread safety: a model is read-only after init and may be shared by any
 * number of threads; each context, adapter slot and trainer must be used by one
 * thread at a time.  Parallel kernels run through a parallel-for callback you
 * supply (vla_exec); the library itself owns no threads.
 * Security: every count, length, offset, alignment and dimension of a GGUF
 * file is checked against the bytes that exist, with overflow-safe arithmetic,
 * before anything is read; a bad file returns VLA_ERR_FORMAT.  Weights that are
 * well-formed but adversarial can still produce meaningless output.
 *
 * ============================================================================
 * [M5] INT8: THE I8 WEIGHT FORMAT AND THE INTEGER PATH
 * ============================================================================
 * File format (standard GGUF types, so other GGUF readers can list it):
 *   "<name>"        type I8 (24), ne = {in, out} for a linear weight of
 *                   PyTorch shape [out, in]; ne = {cin, k, k, cout} for a
 *                   folded CLIP convolution (a [cout, k*k*cin] matrix).
 *                   Row-major q[out][in], symmetric, q in [-127, 127].
 *   "<name>_scale"  type F32, ne = {out}, in the same file: one scale per
 *                   output row (vla_i8_scale_name).  W[r][c] = scale[r] * q.
 *   Quantization: scale = amax(row)/127, q = round-half-away-from-zero(w *
 *   (1/scale)) (vla_quantize_i8_row).  The loader refuses an I8 weight whose
 *   scale tensor is missing, not F32, not of `out` elements or misaligned,
 *   and rows longer than VLA_I8_MAX_K (VLA_ERR_FORMAT).
 * Which tensors tools/vla-quantize makes I8 (tools/vla_quant.h): every BART
 * linear (attention q/k/v/out, fc1, fc2 of encoder and decoder, cross-
 * attention), the visual feature projection, the shared token embedding
 * (it is also the LM head; a per-row scale suits both uses), and every CLIP
 * convolution but the first (3 input channels of raw pixels).  They stay
 * fp32: LayerNorms, biases, final_logits_bias, the BatchNorm-folded conv
 * biases, the position tables, the image-order table and the 5-input box
 * projection (their rows are added, or K is tiny), adapter/LoRA/prompt
 * modules (adapter files are F32), and whatever --keep names.  A file may
 * mix I8, Q8_0, F16 and F32 tensors; Q8_0 files still load and run as before.
 * A CLIP trunk in mixed precision (vla-quantize --clip-calibrate PIC...
 * --min-grid-cos X): some trunk convolutions I8, the others F32 because
 * they were measured too sensitive on calibration pictures (each one's grid
 * cosine alone against the F32 trunk; the least sensitive made I8 while the
 * smallest grid cosine over the pictures stays >= X).  Such a file says so
 * in its metadata (the loader ignores these keys):
 *   vladapter.quant.clip_plan               STRING  the plan in a sentence:
 *                                           pictures, I8 count, share of
 *                                           the trunk's multiply-adds, target
 *   vladapter.quant.clip_plan.i8            ARRAY of STRING: the convolutions
 *                                           made I8 (tensor names)
 *   vladapter.quant.clip_plan.min_grid_cos  F32  the target X
 *   vladapter.quant.clip_plan.grid_cos      ARRAY of F32: the measured grid
 *                                           cosine per calibration picture
 * Rewriting the file with vla-quantize drops them (a new plan writes its own).
 * Arithmetic: a linear layer or convolution with I8 weights runs the integer
 * path by default (no flag): for a linear layer each row of activations
 * gets its own scale; for a convolution (1x1 and 3x3 alike, ModifiedResNet's
 * avgpool strides unchanged) the whole input picture gets one, as TFLite and
 * CMSIS-NN do, so each input value is quantized once and not once per
 * kernel tap (which had cost as much as the dot products at the 32- and
 * 64-channel stem); the int32 sum runs over the whole im2col row, and one
 * fp32 epilogue per output gives ((float)isum * (d_x * d_w)) + b
 * (definitions: vla_linear and vla_conv2d in [D4]).  Every
 * SIMD path (AVX-512 VNNI, AVX2, NEON, NEON dotprod, Helium, RVV) returns
 * the scalar definition's bits, for any thread count, so a model gives the
 * same floats on every target (tests/test_i8.c; tests/test_unit.c section
 * i8 under QEMU).  vla_exec.int8_widen = 1 widens I8 weights to fp32 and
 * runs the fp32 kernels instead (weights quantized, activations not).
 * Memory: no extra model memory (weights and scales point into the file);
 * one stack buffer per task of VLA_GEMM_I8_STACK bytes (32 KiB; 64 KiB with
 * AVX-512 VNNI; 4 KiB on Cortex-M) holds quantized activation rows and, on AVX-512 VNNI and AVX2
 * for M >= 9 (8 on AVX2), one K block of a W panel packed for the register tile (any
 * K); elsewhere rows longer than the buffer holds run the reference loop
 * (same bits, slower).  The VNNI convolutions pack their W panel in a stack
 * buffer of their own (48.3 KiB with the 64 KiB default, 16.3 KiB below).
 * Measured on the build machine (1 thread, AVX-512 VNNI, Zen 5, shared
 * machine; build/bench_gemm -i, docs/bench.md): BART-base encoder GEMMs
 * (M = 46) 510-620 GOP/s, 61-82% of the measured vpdpbusd peak; CLIP
 * convolutions (vla_conv2d: the picture's amax and quantization included)
 * 61-81%, 45% for the 56x56 1x1 256->64 (its 3.2 MB fp32 input read twice:
 * amax, quantization); decode-step GEMVs (M <= 8) keep the dot kernels.
 * Accuracy: on the tiny test model, encoder output and logits have cosine
 * 0.9998 with the F32 model (tests/test_quant.c prints it).
 */
#ifndef VLADAPTER_H
#define VLADAPTER_H

#include <stddef.h>
#include <stdint.h>

#ifdef VLADAPTER_STATIC
#define VLA_DEF static
#else
#define VLA_DEF extern
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifndef VLA_MAX_LAYERS
#define VLA_MAX_LAYERS 64
#endif
#define VLA_MAX_DIMS 4

/* ==========================================================================
 * [D1] Basic types, status codes, logging
 * ========================================================================== */

typedef enum vla_status {
    VLA_OK = 0,
    VLA_ERR_ARGS = -1,        /* a NULL pointer, a zero or negative size ...   */
    VLA_ERR_NOMEM = -2,       /* the memory you gave is too small              */
    VLA_ERR_FORMAT = -3,      /* a file is malformed or truncated              */
    VLA_ERR_VERSION = -4,     /* a file version this build does not read       */
    VLA_ERR_UNSUPPORTED = -5, /* valid, but a feature this build lacks         */
    VLA_ERR_NOT_FOUND = -6,   /* a tensor, key or task name is missing         */
    VLA_ERR_STATE = -7,       /* a call made in the wrong order                */
    VLA_ERR_MISMATCH = -8,    /* shapes or fingerprints that must agree differ */
    VLA_ERR_IO = -9,          /* reading or writing a file failed              */
    VLA_ERR_RANGE = -10       /* a value outside its documented range          */
} vla_status;

VLA_DEF const char *vla_status_str(vla_status s);

typedef enum vla_log_level { VLA_LOG_ERROR = 0, VLA_LOG_WARN = 1, VLA_LOG_INFO = 2, VLA_LOG_DEBUG = 3 } vla_log_level;
/* Receives one complete sentence without a trailing newline. */
typedef void (*vla_log_fn)(void *user, vla_log_level level, const char *msg);

typedef struct vla_logger {
    vla_log_fn fn; /* NULL: silent */
    void *user;
} vla_logger;

/* A byte string that is not NUL-terminated (names inside a GGUF file). */
typedef struct vla_str {
    const char *s;
    size_t n;
} vla_str;

/* ==========================================================================
 * [D2] Arena: caller memory split into a persistent and a scratch region
 * ========================================================================== */

typedef struct vla_arena {
    unsigned char *base;   /* caller memory; NULL while measuring          */
    size_t size;           /* capacity in bytes                            */
    size_t lo;             /* persistent region: [0, lo)                   */
    size_t hi;             /* scratch region:    [hi, size) (grows down)   */
    size_t peak_lo;        /* high-water marks                             */
    size_t peak_scratch;
    size_t peak_total;
    size_t failed_need;    /* total bytes the failed request would need    */
    int measuring;         /* 1: hand out no memory, only count            */
    vla_logger log;
} vla_arena;

typedef struct vla_arena_stats {
    size_t capacity;       /* bytes given                                  */
    size_t persistent;     /* persistent bytes in use                      */
    size_t scratch_peak;   /* largest scratch stack seen                   */
    size_t peak;           /* largest persistent + scratch seen            */
} vla_arena_stats;

/* Alignment of every block: 64 bytes (a cache line, enough for AVX-512). */
#define VLA_ALIGN 64

VLA_DEF void vla_arena_init(vla_arena *a, void *mem, size_t size);
/* A measuring arena: unlimited, hands out no memory, records the peak. */
VLA_DEF void vla_arena_init_measure(vla_arena *a);
/* Persistent block, aligned to VLA_ALIGN; NULL when out of memory (the
 * arena then remembers how much would have been needed). */
VLA_DEF void *vla_arena_alloc(vla_arena *a, size_t bytes);
/* Scratch stack. mark = vla_arena_scratch_mark(a); ...; release(a, mark). */
VLA_DEF size_t vla_arena_scratch_mark(const vla_arena *a);
VLA_DEF void *vla_arena_scratch(vla_arena *a, size_t bytes);
VLA_DEF void vla_arena_scratch_release(vla_arena *a, size_t mark);
VLA_DEF vla_arena_stats vla_arena_get_stats(const vla_arena *a);

/* ==========================================================================
 * [D3] Tensors, weight matrices, execution settings
 * ========================================================================== */

/* Element types: the ggml/GGUF type ids, so other GGUF tools read our files. */
typedef enum vla_type {
    VLA_TYPE_F32 = 0,
    VLA_TYPE_F16 = 1,
    VLA_TYPE_Q8_0 = 8,  /* blocks of 32: fp16 scale d, then 32 int8 q; x = d*q */
    VLA_TYPE_I8 = 24,   /* int8; as a weight matrix: one fp32 scale per row, see vla_mat */
    VLA_TYPE_I16 = 25,
    VLA_TYPE_I32 = 26,
    VLA_TYPE_I64 = 27,
    VLA_TYPE_F64 = 28,
    VLA_TYPE_BF16 = 30
} vla_type;

#define VLA_Q8_0_BLOCK 32
#define VLA_Q8_0_BYTES 34 /* 2-byte fp16 scale + 32 int8 */

/* A tensor as stored in a GGUF file.  ne[0] is the fastest-varying dimension
 * (ggml order): a PyTorch weight of shape [out, in] has ne = {in, out}. */
typedef struct vla_tensor {
    vla_str name;
    vla_type type;
    int n_dims;
    int64_t ne[VLA_MAX_DIMS];
    const void *data;
    uint64_t nbytes;
} vla_tensor;

/* A weight matrix W of shape [rows, cols] = [out, in], row-major, as PyTorch
 * stores nn.Linear weights: y = x W^T.  Rows are contiguous.  F32, F16,
 * Q8_0 (cols a multiple of 32) and I8 all fit this one description.
 * I8: data is q[rows][cols] int8 in [-127, 127] (symmetric, -128 unused)
 * and scale[rows] fp32; W[r][c] = scale[r] * q[r][c].  vla_linear then runs
 * the integer path (see [I5] "I8 path") unless vla_exec.int8_widen is set. */
typedef struct vla_mat {
    vla_type type;
    int rows;          /* N: output features */
    int cols;          /* K: input features  */
    const void *data;
    const float *scale; /* I8 only: [rows] per-row scales; ignored otherwise */
} vla_mat;

/* The I8 integer path sums q_x q_w exactly in int32 over a whole row: valid
 * for K <= VLA_I8_MAX_K (127 * 128 * K < 2^31, so even a stray -128 in W
 * cannot overflow).  Longer rows are refused by the loader. */
#define VLA_I8_MAX_K 132000

/* Parallel-for supplied by the caller: run task(arg, i) for i in [0, n), in
 * any order, possibly concurrently, and return when all are done. */
typedef void (*vla_task_fn)(void *arg, int i);
typedef void (*vla_parallel_fn)(void *user, vla_task_fn task, void *arg, int n);

typedef struct vla_exec {
    vla_parallel_fn parallel; /* NULL: run on the calling thread          */
    void *parallel_user;
    int n_threads;            /* how many tasks to split work into (>= 1) */
    int force_reference;      /* 1: use the scalar reference kernels      */
    int int8_activations;     /* 1: Q8_0 weights meet activations quantized
                                 to int8 per block of 32 (integer dot
                                 products, faster, ~1e-2 relative error);
                                 0: weights widened to fp32 on the fly      */
    int int8_widen;           /* I8 weights: 0 (default) the integer path
                                 (activation rows quantized to int8, int32
                                 sums); 1: widen W to fp32 and run the fp32
                                 kernels (slower, no activation rounding)   */
} vla_exec;

/* Which SIMD path this build uses for fp32 kernels ("avx2+fma", "neon", ...). */
VLA_DEF const char *vla_simd_name(void);

/* ==========================================================================
 * [D4] Kernels
 *
 * Every kernel has a scalar reference (suffix _ref) that is its definition,
 * and a dispatching entry point (no suffix) that takes a vla_exec and uses the
 * fast path unless ex->force_reference is set (or ex is NULL: reference).
 * Layouts: activations are row-major "tokens x features"; images are
 * channels-last (H, W, C) so that a 1x1 convolution is a plain linear layer.
 * ========================================================================== */

/* y[M,N] = x[M,K] . W[N,K]^T + b[N]      (b may be NULL; w: F32, F16, Q8_0, I8)
 * For I8 weights vla_linear_ref is the integer path's definition (below);
 * with ex->int8_widen the fp32 dot of x with the widened W instead.
 *
 * I8 definition, for each row m of x and output n:
 *   d_x  = amax_k |x[m][k]| / 127 (fp32; NaN ignored), id = 1/d_x (0 if d_x = 0)
 *   q_x  = round-half-away-from-zero(x * id), clamped to [-127, 127], NaN -> 0
 *          (decided by comparisons of x*id with t +- 0.5, so no compiler
 *          contraction can change it)
 *   isum = sum_k q_x[k] q_w[n][k], exact int32 over the whole row
 *   y    = ((float)isum * (d_x * d_w[n])) + b[n], each operation an fp32
 *          rounding, in this order, never fused: every target and thread
 *          count gives the same bits. */
VLA_DEF void vla_linear(const vla_exec *ex, float *y, const float *x, const vla_mat *w, const float *b, int M);
VLA_DEF void vla_linear_ref(float *y, const float *x, const vla_mat *w, const float *b, int M);

/* Convolution, channels-last, no dilation, no groups.
 * x[H, W, Cin] -> y[Ho, Wo, Cout], Ho = (H + 2*pad - k)/stride + 1.
 * w is [Cout, k*k*Cin] with the inner order (ky, kx, cin) (tools/ reorders
 * PyTorch's (cin, ky, kx) at conversion).  A k > 1 convolution needs scratch
 * (im2col of a band of output rows) from the arena's scratch stack; its size
 * is vla_conv2d_scratch_size().
 * I8 weights (vla_conv2d_ref is the definition): one activation scale for
 * the call, d_x = amax over all of x / 127 (fp32; NaN ignored), id = 1/d_x
 * (0 if d_x = 0); every im2col row (padding 0) is rounded with id as in the
 * I8 definition of vla_linear above and meets each weight row in an exact
 * int32 sum; y = ((float)isum * (d_x * d_w[n])) + b[n], the same epilogue.
 * One call is one picture: the CLIP trunk calls it per picture, and hands
 * it the amax its ReLU pass measured while writing x (the same number; one
 * read of x fewer). */
VLA_DEF size_t vla_conv2d_scratch_size(int H, int W, int Cin, int k, int stride, int pad);
VLA_DEF vla_status vla_conv2d(const vla_exec *ex, vla_arena *scratch, float *y, const float *x, const vla_mat *w,
                              const float *b, int H, int W, int Cin, int k, int stride, int pad);
VLA_DEF void vla_conv2d_ref(float *y, const float *x, const vla_mat *w, const float *b, int H, int W, int Cin, int k,
                            int stride, int pad);

/* Average pooling with kernel = stride = s (floor), channels-last:
 * x[H, W, C] -> y[H/s, W/s, C]. */
VLA_DEF void vla_avgpool2d(float *y, const float *x, int H, int W, int C, int s);
/* Adaptive max pooling to (oh, ow) as PyTorch: bin i covers
 * [floor(i*H/oh), ceil((i+1)*H/oh)).  x[H, W, C] -> y[oh, ow, C]. */
VLA_DEF void vla_adaptive_maxpool2d(float *y, const float *x, int H, int W, int C, int oh, int ow);

/* Fold eval-mode BatchNorm into the preceding convolution (computed in
 * double): w[co, :] *= g/sqrt(var+eps); b[co] = beta - mean*g/sqrt(var+eps)
 * (+ the old bias times the same scale, if old_b is not NULL). */
VLA_DEF void vla_bn_fold(float *w, float *b, const float *old_b, int cout, int k_per_out, const float *gamma,
                         const float *beta, const float *mean, const float *var, float eps);

/* y[M, N] = LayerNorm(x[M, N]) * g + b (biased variance, as PyTorch). In place is fine. */
VLA_DEF void vla_layernorm(float *y, const float *x, const float *g, const float *b, int M, int N, float eps);
/* Row softmax in place: x[M, N]. */
VLA_DEF void vla_softmax(float *x, int M, int N);
/* log_softmax of one row, in place. */
VLA_DEF void vla_log_softmax(float *x, int N);
VLA_DEF void vla_gelu_erf(float *x, size_t n);   /* exact: 0.5 x (1 + erf(x/sqrt 2)) */
VLA_DEF void vla_gelu_tanh(float *x, size_t n);  /* 0.5 x (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))) */
VLA_DEF void vla_relu(float *x, size_t n);
VLA_DEF void vla_add(float *y, const float *a, const float *b, size_t n); /* y = a + b (y may alias) */
/* y[i, :] = row ids[i] of table E[rows, cols] (any vla_mat type), as fp32.
 * Returns VLA_ERR_RANGE for an id outside [0, rows). */
VLA_DEF vla_status vla_embedding(float *y, const vla_mat *E, const int32_t *ids, int n);
/* One row of a weight matrix as fp32. */
VLA_DEF void vla_mat_row(float *y, const vla_mat *w, int row);

/* Multi-head attention core (projections are separate linear layers).
 *   q[Lq, ldq], k[Lk, ldk], v[Lk, ldv] hold n_heads heads of size dh side by
 *   side; out[Lq, ldo] gets softmax(q k^T + mask) v per head.
 *   q must already be scaled (BART scales q by dh^-1/2 after its projection).
 *   key_mask: NULL, or Lk additive values (0 keep, -INF masked) for all queries.
 *   causal: query i sees keys j <= i + causal_offset (causal_offset = number of
 *   cached keys before the first query); 0 disables causality when causal == 0.
 *   Needs Lq*Lk floats of scratch: vla_attention_scratch_size(). */
VLA_DEF size_t vla_attention_scratch_size(int Lq, int Lk);
VLA_DEF vla_status vla_attention(const vla_exec *ex, vla_arena *scratch, float *out, int ldo, const float *q, int ldq,
                                 const float *k, int ldk, const float *v, int ldv, int Lq, int Lk, int n_heads, int dh,
                                 const float *key_mask, int causal, int causal_offset);
VLA_DEF void vla_attention_ref(float *out, int ldo, const float *q, int ldq, const float *k, int ldk, const float *v,
                               int ldv, int Lq, int Lk, int n_heads, int dh, const float *key_mask, int causal,
                               int causal_offset, float *scores /* [Lq*Lk] */);

/* Q8_0: quantize n floats (n a multiple of 32) into n/32 blocks; the
 * reference rounding is round-half-away-from-zero of x/d, d = amax/127. */
VLA_DEF void vla_quantize_q8_0(void *dst, const float *x, size_t n);
VLA_DEF float vla_fp16_to_fp32(uint16_t h);
VLA_DEF uint16_t vla_fp32_to_fp16(float f);
/* I8: quantize one row of n floats with one scale: *scale = amax/127, q in
 * [-127, 127] by the rounding of the I8 definition above (the same function
 * quantizes activations).  Returns the scale (0 for an all-zero row). */
VLA_DEF float vla_quantize_i8_row(signed char *q, const float *x, int n);

/* ==========================================================================
 * [D5] GGUF reader (zero copy, hostile-file safe) and writer
 *
 * Layout (v3, little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv,
 * n_kv x (string key, u32 value type, value), n_tensors x (string name,
 * u32 n_dims, u64 ne[n_dims], u32 type, u64 offset), zero padding to the
 * alignment, then the data blob; tensor offsets are relative to the blob and
 * multiples of the alignment.  A string is u64 length + bytes (no NUL).
 * Our own keys live under "vladapter."; general.alignment is honoured.
 * ========================================================================== */

typedef enum vla_gguf_vtype {
    VLA_GGUF_U8 = 0, VLA_GGUF_I8 = 1, VLA_GGUF_U16 = 2, VLA_GGUF_I16 = 3,
    VLA_GGUF_U32 = 4, VLA_GGUF_I32 = 5, VLA_GGUF_F32 = 6, VLA_GGUF_BOOL = 7,
    VLA_GGUF_STRING = 8, VLA_GGUF_ARRAY = 9, VLA_GGUF_U64 = 10, VLA_GGUF_I64 = 11,
    VLA_GGUF_F64 = 12
} vla_gguf_vtype;

typedef struct vla_gguf_kv {
    vla_str key;
    vla_gguf_vtype type;      /* for arrays: VLA_GGUF_ARRAY                 */
    vla_gguf_vtype arr_type;  /* element type of an array                   */
    uint64_t arr_n;           /* element count of an array                  */
    const unsigned char *val; /* the value's bytes (first element)          */
    size_t val_bytes;         /* all of the value's bytes                   */
} vla_gguf_kv;

typedef struct vla_gguf {
    const unsigned char *data; /* the whole file, caller memory            */
    size_t size;
    uint32_t version;
    uint32_t alignment;
    uint64_t n_kv;
    uint64_t n_tensors;
    size_t kv_offset;          /* start of the kv section                  */
    size_t tinfo_offset;       /* start of the tensor infos                */
    size_t blob_offset;        /* start of the tensor data                 */
    vla_gguf_kv *kv;           /* [n_kv]      (arena)                      */
    vla_tensor *tensors;       /* [n_tensors] (arena)                      */
    uint32_t *kv_hash;         /* open addressing, 2*n_kv slots, index+1   */
    uint32_t *tensor_hash;     /* 2*n_tensors slots                        */
} vla_gguf;

/* Parse and validate.  The kv/tensor tables (about 100 bytes per entry) come
 * from the arena's persistent region; with a measuring arena nothing is
 * stored and the call only validates and counts: every count, offset and
 * length is checked, but a key or tensor name that occurs twice is found
 * only by the hash tables of a storing open (VLA_ERR_FORMAT there), so a size
 * query can pass for a file that the real open then refuses. data must stay
 * alive and unchanged while g is used (tensors point into it). */
VLA_DEF vla_status vla_gguf_open(vla_gguf *g, const void *data, size_t size, vla_arena *a);
/* Look-ups copy the entry out.  After a measuring open (a size query) there
 * are no tables and look-ups scan the (already validated) file instead. */
VLA_DEF vla_status vla_gguf_get_kv(const vla_gguf *g, const char *key, vla_gguf_kv *out);
VLA_DEF vla_status vla_gguf_get_tensor(const vla_gguf *g, const char *name, vla_tensor *out);
/* Typed getters: NOT_FOUND if absent, FORMAT if the type does not fit.
 * Integers of any width are accepted when the value fits the output. */
VLA_DEF vla_status vla_gguf_get_u32(const vla_gguf *g, const char *key, uint32_t *out);
VLA_DEF vla_status vla_gguf_get_f32(const vla_gguf *g, const char *key, float *out);
VLA_DEF vla_status vla_gguf_get_bool(const vla_gguf *g, const char *key, int *out);
VLA_DEF vla_status vla_gguf_get_str(const vla_gguf *g, const char *key, vla_str *out);
/* Array of strings: iterate with *pos = 0 first; returns 1 while items remain. */
VLA_DEF int vla_gguf_arr_next_str(const vla_gguf_kv *kv, size_t *pos, vla_str *out);
/* Size in bytes of n elements of a tensor type (0 for a bad n or type). */
VLA_DEF uint64_t vla_type_size(vla_type t, uint64_t n);
VLA_DEF const char *vla_type_name(vla_type t);
/* A tensor's view as a weight matrix (2-D: rows = ne[1], cols = ne[0]).
 * F32/F16/Q8_0 only: an I8 matrix needs its scale tensor, so it gives
 * VLA_ERR_UNSUPPORTED here; use vla_gguf_get_mat. */
VLA_DEF vla_status vla_tensor_as_mat(const vla_tensor *t, vla_mat *m);
/* Name of the scale tensor of an I8 weight: "<name>_scale" into buf (NUL-
 * terminated); 0 if it does not fit cap. */
VLA_DEF int vla_i8_scale_name(char *buf, size_t cap, const char *name);
/* A weight matrix by name.  For an I8 tensor [rows, cols] (or a folded
 * convolution [rows, k, k, cin], viewed as [rows, k*k*cin]) the tensor
 * "<name>_scale" must exist in the same file as F32 with ne = {rows}, 4-byte
 * aligned: VLA_ERR_FORMAT otherwise.  Other types as vla_tensor_as_mat (2-D
 * only).  Returns NOT_FOUND when name is absent. */
VLA_DEF vla_status vla_gguf_get_mat(const vla_gguf *g, const char *name, vla_mat *m);

/* Writer.  Keys and scalar/string values are copied into the arena; array
 * items and tensor data are referenced and must stay alive until write. */
typedef vla_status (*vla_write_fn)(void *user, const void *data, size_t n);

typedef struct vla_gguf_wkv {
    const char *key;
    vla_gguf_vtype type, arr_type;
    uint64_t arr_n;
    union { uint64_t u; int64_t i; double f; } num;
    vla_str str;               /* STRING value                          */
    const void *arr;           /* numeric array items, or vla_str items */
} vla_gguf_wkv;

typedef struct vla_gguf_wtensor {
    const char *name;
    vla_type type;
    int n_dims;
    int64_t ne[VLA_MAX_DIMS];
    const void *data;
    uint64_t nbytes;
} vla_gguf_wtensor;

typedef struct vla_gguf_writer {
    vla_arena *a;
    uint32_t alignment;
    vla_gguf_wkv *kv;
    int n_kv, cap_kv;
    vla_gguf_wtensor *t;
    int n_t, cap_t;
    vla_status err;            /* first error; later calls do nothing     */
} vla_gguf_writer;

VLA_DEF vla_status vla_gguf_writer_init(vla_gguf_writer *w, vla_arena *a, int max_kv, int max_tensors, uint32_t alignment);
VLA_DEF void vla_gguf_add_u32(vla_gguf_writer *w, const char *key, uint32_t v);
VLA_DEF void vla_gguf_add_i32(vla_gguf_writer *w, const char *key, int32_t v);
VLA_DEF void vla_gguf_add_u64(vla_gguf_writer *w, const char *key, uint64_t v);
VLA_DEF void vla_gguf_add_f32(vla_gguf_writer *w, const char *key, float v);
VLA_DEF void vla_gguf_add_bool(vla_gguf_writer *w, const char *key, int v);
VLA_DEF void vla_gguf_add_str(vla_gguf_writer *w, const char *key, const char *s, size_t n);
/* items: an array of n values of arr_type (for VLA_GGUF_STRING: vla_str[n]). */
VLA_DEF void vla_gguf_add_arr(vla_gguf_writer *w, const char *key, vla_gguf_vtype arr_type, const void *items, uint64_t n);
/* A key-value of an opened file, any type (rewriting a file keeps its
 * metadata).  Array items are referenced in the source file, which must stay
 * alive until write; string arrays take 16 bytes per item of the arena.
 * Numeric arrays are referenced as stored (little-endian), so on a
 * big-endian host the writer would swap them: a little-endian host only. */
VLA_DEF void vla_gguf_add_kv(vla_gguf_writer *w, const vla_gguf_kv *kv);
VLA_DEF void vla_gguf_add_tensor(vla_gguf_writer *w, const char *name, vla_type type, int n_dims, const int64_t *ne,
                                 const void *data);
/* Total file size the writer will produce. */
VLA_DEF uint64_t vla_gguf_writer_size(const vla_gguf_writer *w);
VLA_DEF vla_status vla_gguf_write(vla_gguf_writer *w, vla_write_fn fn, void *user);

/* ==========================================================================
 * [D6] The model: hyperparameters, loading
 *
 * A model file holds the BART encoder-decoder, the visual embedding, the
 * tokenizer and optionally the CLIP ResNet trunk.  Tensor names are the
 * official state-dict names without the leading "model." (e.g.
 * "encoder.layers.0.self_attn.q_proj.weight"); hyperparameters are
 * "vladapter.*" keys (see tools/vla-convert).
 * ========================================================================== */

typedef struct vla_hparams {
    /* BART (has_bart = 0: a vision-only file holding just the CLIP trunk) */
    int has_bart;
    int d_model, n_enc_layers, n_dec_layers, n_enc_heads, n_dec_heads, enc_ffn, dec_ffn;
    int vocab;              /* rows of the shared embedding (50465 with VL tokens) */
    int n_positions;        /* rows of each position table (max positions + 2)     */
    float ln_eps;           /* 1e-5                                                 */
    float embed_scale;      /* 1 (scale_embedding false)                            */
    int pad_id, bos_id, eos_id, dec_start_id;
    /* visual embedding (0 when the file has none) */
    int has_visual;
    int feat_dim;           /* channels of a grid feature (2048 for RN101)           */
    int n_boxes;            /* visual tokens per image (36)                          */
    int pool_h, pool_w;     /* adaptive max pool target (6 x 6); 0 = no pooling      */
    int n_images;           /* rows of the image-order table (2)                     */
    /* generation defaults from the file (the official config) */
    int no_repeat_ngram, num_beams, max_length, min_length, early_stopping;
    float length_penalty;
    /* CLIP ModifiedResNet trunk (0 when the file has none) */
    int has_clip;
    int clip_width;         /* 64 for RN101: stem 3 -> w/2 -> w/2 -> w           */
    int clip_blocks[4];     /* bottlenecks per stage: (3, 4, 23, 3) for RN101    */
    int clip_image_size;    /* input side S (224); the grid is S/32 x S/32        */
    int clip_out_ch;        /* channels of the grid: 32 * width (2048)            */
} vla_hparams;

typedef struct vla_model vla_model;

/* Bytes vla_model_init needs for this file (from its header alone). */
VLA_DEF vla_status vla_model_mem_req(const void *gguf, size_t gguf_size, size_t *bytes);
/* Load: validates the file, points tensors into it (no copy), builds the
 * tokenizer tables.  gguf must stay alive and unchanged while the model is
 * used.  log may be NULL. */
VLA_DEF vla_status vla_model_init(vla_model **out, void *mem, size_t mem_size, const void *gguf, size_t gguf_size,
                                  const vla_logger *log);
VLA_DEF const vla_hparams *vla_model_hparams(const vla_model *m);
VLA_DEF const vla_gguf *vla_model_gguf(const vla_model *m);

/* ==========================================================================
 * [D7] Inference context: encode once, then decode (teacher-forced logits,
 *      greedy or beam search), all inside memory fixed at init.
 * ========================================================================== */

typedef struct vla_ctx_params {
    int max_batch;          /* examples per call (B)                             */
    int max_text_len;       /* text ids per example (Lt), incl. <s> and </s>     */
    int max_images;         /* images per example: 0, 1 or 2 (NLVR2)              */
    int max_grid;           /* grid cells per image (49 for a 7x7 grid)           */
    int max_dec_len;        /* decoder length incl. the start token (max_length) */
    int max_beams;          /* largest num_beams for vla_generate                */
    int use_clip;           /* 1: reserve memory to run the CLIP trunk on images */
    int max_prompt_len;     /* prompt vectors an adapter may prepend (0: none)    */
    int max_adapter_dim;    /* widest adapter / LoRA rank to allow (0: up to what
                               fits in the FFN buffers, d + hidden <= ffn)        */
    vla_exec exec;          /* threads / reference switch                        */
    vla_logger log;
    /* Reservations of the task-level calls [D13] (all 0: the calls are off).
     * vla_task_ctx_params fills them; set by hand only if you size by hand. */
    int max_picture_w;      /* widest / tallest picture vla_caption, vla_answer  */
    int max_picture_h;      /*   and vla_verify take (pixels)                     */
    int max_input_bytes;    /* longest task prefix + question text, in bytes     */
} vla_ctx_params;

/* One batch of encoder inputs.  Zero-initialise and fill what you have. */
typedef struct vla_input {
    int batch;              /* B                                                     */
    int text_len;           /* Lt                                                    */
    const int32_t *ids;     /* [B, Lt] token ids, padded with pad_id                 */
    int no_pad_mask;        /* 1: attend to pad tokens too (plain BART without an
                               attention mask); 0 (default): pads are masked          */
    int n_images;           /* images per example (0, 1, 2)                           */
    int grid_h, grid_w;     /* each image's feature grid (7 x 7)                      */
    const float *feats;     /* [B, n_images*grid_h*grid_w, feat_dim] channels-last   */
    const float *boxes;     /* [B, n_images*grid_h*grid_w, 4] as (x1, x2, y1, y2), or
                               NULL for all-zero boxes (CLIP grid features)           */
    int n_embeds;           /* text positions given as embeddings instead of ids  */
    const float *embeds;    /* [B, n_embeds, d_model]: placed after the ids; they get
                               the position embeddings (continuing after the ids)
                               and layernorm_embedding like token embeddings, and are
                               never masked.  ids + embeds <= ctx max_text_len.     */
    const float *images;    /* instead of feats: [B*n_images, S, S, 3] preprocessed
                               images (vla_image_preprocess); the CLIP trunk of the
                               model turns them into grid features (use_clip = 1)    */
} vla_input;

typedef struct vla_gen_params {
    int num_beams;          /* 1 = greedy                                          */
    int max_length;         /* decoder length incl. the start token                */
    int min_length;
    int no_repeat_ngram;    /* 0 = off                                             */
    int early_stopping;
    float length_penalty;
} vla_gen_params;

typedef struct vla_ctx vla_ctx;

VLA_DEF vla_status vla_ctx_mem_req(const vla_model *m, const vla_ctx_params *p, size_t *bytes);
VLA_DEF vla_status vla_ctx_init(vla_ctx **out, const vla_model *m, const vla_ctx_params *p, void *mem, size_t mem_size);
/* The file's generation defaults (num_beams from the file may be overridden). */
VLA_DEF vla_gen_params vla_gen_defaults(const vla_model *m);

/* Run the encoder; its output and key mask stay in the context. */
VLA_DEF vla_status vla_encode(vla_ctx *c, const vla_input *in);
/* Only the input assembly (text embeddings after layernorm_embedding, then
 * the visual tokens): what the first encoder layer sees.  Decoding after it
 * is refused (VLA_ERR_STATE) until vla_encode runs. */
VLA_DEF vla_status vla_encode_embeddings(vla_ctx *c, const vla_input *in);
/* Encoder output of example b: [*len, d_model]. */
VLA_DEF const float *vla_encoder_output(const vla_ctx *c, int b, int *len);
/* Teacher-forced decoder: dec_ids [B, T] (T <= max_dec_len) -> logits
 * [B, T, vocab] (final_logits_bias included).  Uses the KV cache step by step. */
VLA_DEF vla_status vla_decode_logits(vla_ctx *c, const int32_t *dec_ids, int T, float *logits);
/* Generation with the official semantics (greedy or beam search).
 * out_ids [B, max_length]: each row starts with the start token, rows that end
 * early are padded with pad_id; *out_len = width used (as HF returns);
 * scores [B] (optional): the beam's final score (sum logprob / len^lp). */
VLA_DEF vla_status vla_generate(vla_ctx *c, const vla_gen_params *g, int32_t *out_ids, int *out_len, float *scores);
VLA_DEF vla_arena_stats vla_ctx_stats(const vla_ctx *c);

/* ==========================================================================
 * [D8] CLIP ModifiedResNet trunk (image -> grid features)
 *
 * image: [S, S, 3] preprocessed, channels-last (S = hp.clip_image_size).
 * stage 0 stops after the stem, 1..4 after layer1..layer4; the output is
 * channels-last [h, w, ch] (stage 4: the grid features [S/32 * S/32, 32*width],
 * token index = row * w + col, what the official feature extraction stores).
 * Needs a context made with use_clip = 1.
 * ========================================================================== */
VLA_DEF vla_status vla_clip_run(vla_ctx *c, const float *image, int stage, float *out, int *h, int *w, int *ch);

/* ============================================================================
 * [D9] Image input: raw pixels, Pillow-exact bicubic resize, CLIP
 *      normalisation, PNM reader
 * ============================================================================
 * What VL-Adapter's feature extraction does to a picture (coco_CLIP.py):
 *
 *     PIL Image.open(path).convert("RGB")
 *       -> Resize((S, S), BICUBIC)      both sides forced to S: the aspect
 *                                       ratio is NOT kept (squash)
 *       -> CenterCrop(S)                a no-op after the squash
 *       -> ToTensor, (v/255 - mean)/std per channel, float32
 *
 * This layer reproduces it bit for bit from 8-bit pixels in memory:
 *
 *     vla_image        a view of caller pixels: gray, gray+alpha, RGB or RGBA,
 *                      any row stride (camera frames, decoded files)
 *     vla_image_resize     Pillow 9.4 Image.resize(BICUBIC) of the RGB image,
 *                          down- and upscaling, fixed-point as Pillow -> uint8
 *     vla_image_normalize  uint8 RGB -> float (v/255 - mean)/std, HWC or CHW
 *     vla_clip_preprocess  both in one call: pixels -> CLIP trunk input
 *     vla_pnm_read         binary PGM/PPM (P5/P6) from memory, zero copy
 *
 * Channel conversion is Pillow's convert("RGB"): gray is replicated to
 * R = G = B, alpha is simply dropped (no compositing onto a background).
 *
 * Layouts.  Pixel buffers are row-major, top row first, channels interleaved:
 *     8-bit image   [height][stride bytes], pixel (x, y) channel c at
 *                   data[y * stride + x * channels + c]
 *     resized RGB   [out_h][out_w][3] uint8, packed (no padding)
 *     float HWC     [H][W][3] float32 (channels-last: what the library's
 *                   convolutions take)
 *     float CHW     [3][H][W] float32 (PyTorch's NCHW without N, i.e. the
 *                   layout of the fixtures' pixel_values.npy)
 *
 * Memory.  The resize takes its scratch (filter tables and a small ring of
 * intermediate rows) from the caller's arena scratch stack and releases it
 * before returning; *_scratch_size() says how much.  With a measuring arena
 * (vla_arena_init_measure) the calls read and write no pixels and only record
 * that need.  No heap, no VLAs, a few dozen bytes of stack.
 *
 * Exactness.  The resize needs IEEE double arithmetic without excess
 * precision (FLT_EVAL_METHOD 0, i.e. any SSE2/ARM/RISC-V target, not an x87
 * build): its filter weights are computed in double as Pillow computes them,
 * and every product is rounded before it is added so that compilers which fuse
 * multiply-adds (FMA on ARMv8, RISC-V, x86 with -mfma) build the same filter
 * tables as Pillow's x86-64 build.  On a target without a double FPU the
 * weights are computed in software, once per call (2 kernel evaluations per tap, i.e.
 * about 2 * (out_w * kw + out_h * kh), kw/kh the taps per output sample:
 * 2 * ceil(2 * max(in/out, 1)) + 1), not per pixel.
 */
#define VLADAPTER_IMAGE_H 1 /* examples/image_io.h checks for this layer */


/* Largest width or height accepted anywhere in this layer (input, output,
 * PNM header); at most 65536.  The default 16384 keeps every byte count of an
 * image below 2^30 (fine for 32-bit size_t). */
#ifndef VLA_MAX_IMAGE_DIM
#define VLA_MAX_IMAGE_DIM 16384
#endif
#if VLA_MAX_IMAGE_DIM < 1 || VLA_MAX_IMAGE_DIM > 65536
#error "VLA_MAX_IMAGE_DIM must be in 1..65536 (row byte counts and tap counts are ints)"
#endif

/* A read-only view of 8-bit pixels in caller memory (nothing is copied). */
typedef struct vla_image {
    const unsigned char *data; /* pixel (0, 0); rows go downwards            */
    int width, height;         /* 1 .. VLA_MAX_IMAGE_DIM                     */
    int channels;              /* 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA        */
    size_t stride;             /* bytes from a row to the next (>= width *
                                  channels; padding bytes are never read)    */
} vla_image;

/* Layout of a float image. */
typedef enum vla_layout {
    VLA_LAYOUT_HWC = 0, /* [H][W][3], channels-last (the library's default) */
    VLA_LAYOUT_CHW = 1  /* [3][H][W], planar, as PyTorch's pixel_values     */
} vla_layout;

/* Fill a view after checking it: pixels not NULL, 1 <= width, height <=
 * VLA_MAX_IMAGE_DIM (else VLA_ERR_RANGE), channels in 1..4, stride >= width *
 * channels or 0 for packed rows.  Returns VLA_ERR_ARGS for anything else (the
 * view is then zeroed). */
VLA_DEF vla_status vla_image_view(vla_image *img, const void *pixels, int width, int height, int channels,
                                  size_t stride);

/* Scratch bytes vla_image_resize needs for these sizes (a multiple of
 * VLA_ALIGN; 0 when no pass is needed, i.e. equal sizes, or when an argument
 * is out of range; (size_t)-1 when it does not fit the address space). */
VLA_DEF size_t vla_image_resize_scratch_size(int in_w, int in_h, int out_w, int out_h);

/* Resize src (converted to RGB as above) to dst[out_h][out_w][3] exactly as
 * Pillow 9.4's Image.resize((out_w, out_h), Image.BICUBIC) does on an 8-bit
 * RGB image: Keys' cubic kernel (a = -0.5), antialiased when shrinking (the
 * kernel is widened by the scale), two separable passes in 22-bit fixed point,
 * each rounded and clamped to 0..255, the horizontal pass first; an axis whose
 * size does not change is not filtered.  Both sides are forced (no aspect
 * preservation); upscaling uses the same code.
 *   scratch: arena whose scratch stack supplies
 *            vla_image_resize_scratch_size(src->width, src->height, out_w,
 *            out_h) bytes (may be NULL when that is 0); released on return.
 *   dst:     out_h * out_w * 3 bytes; must not overlap src.
 * Returns VLA_ERR_ARGS / VLA_ERR_RANGE for a bad view or size, VLA_ERR_NOMEM
 * when the scratch does not fit. */
VLA_DEF vla_status vla_image_resize(vla_arena *scratch, unsigned char *dst, int out_w, int out_h,
                                    const vla_image *src);

/* dst = (rgb / 255 - mean[c]) / std[c] in float32, each step rounded to float
 * as PyTorch's ToTensor + Normalize do (so the result equals pixel_values).
 *   rgb:  [height][width][3] uint8, packed
 *   dst:  width * height * 3 floats in the given layout (HWC or CHW)
 *   mean, std: 3 floats each, or NULL for CLIP's values
 *              mean = (0.48145466, 0.4578275, 0.40821073),
 *              std  = (0.26862954, 0.26130258, 0.27577711).
 * Returns VLA_ERR_ARGS for NULL buffers, a bad layout or a zero std. */
VLA_DEF vla_status vla_image_normalize(float *dst, const unsigned char *rgb, int width, int height,
                                       const float *mean, const float *std, vla_layout layout);

/* Scratch bytes vla_clip_preprocess needs (= the resize's need). */
VLA_DEF size_t vla_clip_preprocess_scratch_size(int in_w, int in_h, int size);

/* One call from camera/decoded pixels to the CLIP trunk's input:
 * Resize((size, size), BICUBIC) then CLIP normalisation.
 *   size:   the model's input resolution (224 for VL-Adapter's RN101)
 *   dst:    size * size * 3 floats, HWC (what the trunk takes) or CHW.
 *           The resized uint8 image is staged in the last quarter of dst,
 *           so no extra scratch is needed beyond the resize's.
 *   scratch: vla_clip_preprocess_scratch_size(src->width, src->height, size)
 *            bytes of scratch stack (NULL allowed when that is 0). */
VLA_DEF vla_status vla_clip_preprocess(vla_arena *scratch, float *dst, int size, vla_layout layout,
                                       const vla_image *src);

/* Binary PNM from memory: P5 (PGM, 1 channel) and P6 (PPM, 3 channels) with
 * maxval 255.  On success img views the raster inside data (zero copy:
 * data must outlive img) and *used (if not NULL) is the offset just past the
 * raster, where a next image of a stream would start.
 * Header: magic, width, height, maxval as ASCII decimals separated by
 * whitespace (space, tab, CR, LF, VT, FF) and/or '#' comments running to the
 * end of the line; after maxval exactly one whitespace byte, then the raster.
 * Results:
 *   VLA_ERR_FORMAT       not a PNM, missing/garbled token, width or height 0,
 *                        maxval 0 or > 65535, a comment right after maxval,
 *                        raster shorter than width * height * channels
 *   VLA_ERR_UNSUPPORTED  a valid PNM this reader does not take: P1-P4 (plain
 *                        or 1-bit), P7 (PAM), maxval != 255 (16-bit samples,
 *                        or 8-bit with a smaller range, which Pillow would
 *                        rescale by v * 255 / maxval), width or height above
 *                        VLA_MAX_IMAGE_DIM
 * Every check is made against the bytes present; the reader never reads
 * outside [data, data + size). */
VLA_DEF vla_status vla_pnm_read(vla_image *img, const void *data, size_t size, size_t *used);

/* ==========================================================================
 * [D10] Parameter-efficient modules: adapter files and hot-swapping
 *
 * An adapter file is a GGUF with general.type = "adapter" holding one adapter
 * set: its method (adapter, compacter, hyperformer, lora, prompt), its task
 * names with their text prefixes and decoding presets, the modules (per task,
 * or shared by all tasks under the task name "*"), and optionally tensors
 * with base-model names that replace the base's (the LayerNorms, biases and
 * visual embedding that training updated).  It is bound to its base model by
 * vladapter.adapter.base_fingerprint.
 *
 * Attaching carves a slot out of memory you size with vla_adapter_mem_req
 * (from the file header): it never touches or copies the base model, and
 * whatever can be computed once is computed there (Compacter's Kronecker
 * sums, Hyperformer's generated adapters per task and layer, the prompt MLP
 * outputs).  Several slots may be attached to one model at once; a context
 * selects one (and a task) per request with vla_ctx_set_adapter.
 *
 * Placement (as the official code): an adapter site rewrites a sublayer
 * output y (after out_proj / fc2, before the residual and LayerNorm) as
 *     y <- y + up(gelu_tanh(down(y)))
 * (gelu_tanh as the official code; vladapter.adapter.activation = "gelu"
 * selects the exact GELU the paper's text names) at 30 sites of BART-base:
 * encoder self-attention and FFN, decoder self-,
 * cross-attention and FFN.  LoRA adds s * B(A x) (s = alpha / r) to q_proj and
 * v_proj of every attention (for cross-attention v it acts on the encoder
 * output).  Prompt tuning prepends prompt vectors to the text embeddings
 * before layernorm_embedding (no positions; they are attended like text).
 * ========================================================================== */

typedef struct vla_adapter vla_adapter;

VLA_DEF vla_status vla_adapter_mem_req(const vla_model *m, const void *file, size_t size, size_t *bytes);
/* file must stay alive and unchanged while the slot is attached. */
VLA_DEF vla_status vla_adapter_attach(vla_adapter **out, const vla_model *m, void *mem, size_t mem_size, const void *file,
                                      size_t size, const vla_logger *log);
/* Marks the slot unusable; its memory is yours again (contexts using it must
 * select another adapter or none first). */
VLA_DEF void vla_adapter_detach(vla_adapter *a);
VLA_DEF const char *vla_adapter_method(const vla_adapter *a);
VLA_DEF int vla_adapter_n_tasks(const vla_adapter *a);
/* Index of a task by name, or -1. */
VLA_DEF int vla_adapter_find_task(const vla_adapter *a, const char *task);
/* What a context needs to run this set: the longest prompt any task
 * prepends (ctx max_prompt_len) and the widest adapter / LoRA rank
 * (ctx max_adapter_dim). */
VLA_DEF int vla_adapter_prompt_len(const vla_adapter *a);
VLA_DEF int vla_adapter_max_dim(const vla_adapter *a);
/* Name, text prefix ("vqa: ", or empty) and decoding preset of task i. */
VLA_DEF vla_status vla_adapter_task(const vla_adapter *a, int i, vla_str *name, vla_str *prefix, vla_gen_params *preset);
/* Select the adapter set and task for the next requests (a = NULL: the base
 * model alone).  Takes effect at the next vla_encode. */
VLA_DEF vla_status vla_ctx_set_adapter(vla_ctx *c, const vla_adapter *a, const char *task);
/* 64-bit fingerprint stored in a model file by the converter (0 if none). */
VLA_DEF uint64_t vla_model_fingerprint(const vla_model *m);

/* ============================================================================
 * [D11] Tokenizer: GPT-2 / RoBERTa byte-level BPE, as BART and VL-Adapter use it
 * ============================================================================
 * Reproduces, id for id and byte for byte, the official slow tokenizer
 * (transformers 4.2.1 BartTokenizer: vocab.json + merges.txt of bart-base,
 * add_prefix_space False, errors "replace", clean_up_tokenization_spaces on)
 * and VL-Adapter's 200 added tokens:
 *     <extra_id_99> .. <extra_id_0>          = ids 50265 .. 50364
 *     <vis_extra_id_99> .. <vis_extra_id_0>  = ids 50365 .. 50464
 * The same tables serve two tokenizers, chosen per call: use_added_tokens = 0
 * is plain BART (the added tokens are ordinary text, BPE'd like any other),
 * 1 is VL-Adapter's tokenizer (they are cut out of the text as single ids).
 *
 *     size_t persistent, peak;
 *     vla_tokenizer_mem_req(&gguf, &persistent, &peak);        // or measure
 *     vla_tokenizer_init(&tok, &gguf, &arena);                 // tables
 *     vla_tokenize(tok, &arena, "vqa: what is it?", 16, 1, 1, 20, ids, 20, &n);
 *     vla_detokenize(tok, ids, n, 1, 1, text, sizeof text, &len);
 *
 * ENCODE (vla_tokenize), in this order:
 *  1. Blank text: text that is empty or only whitespace in Python's sense
 *     (White_Space plus U+001C..U+001F) gives no ids at all: "" and "\x1c"
 *     both encode to [<s>, </s>].  Only the whole text is tested.
 *  2. Special tokens (<s> </s> <pad> <unk> <mask>, plus the 200 added ones
 *     when use_added_tokens = 1) are cut out wherever their exact spelling
 *     occurs ("Hello<mask>world" -> Hello, <mask>, world).  Whitespace
 *     (Python's set) next to one is removed from the neighbouring text:
 *     before <mask> only ("a <mask> b" -> a, <mask>, Ġb), on both sides of
 *     an added token, never for <s> </s> <pad> <unk>.  Text left empty
 *     disappears; any other text between cuts is tokenized on its own.
 *  3. Pre-split each text piece with GPT-2's pattern (Unicode 15.0 classes):
 *     's 't 're 've 'm 'll 'd (lower case, only where a piece starts);
 *     an optional U+0020 + a run of letters (L*); the same with numbers
 *     (N*); the same with anything else that is not White_Space; a
 *     White_Space run (all of it at the end of the text, otherwise all but
 *     its last character, which starts the next piece).
 *  4. Each piece's UTF-8 bytes are BPE'd: start with one symbol per byte,
 *     repeatedly take the adjacent pair with the lowest merge rank and merge
 *     all its occurrences left to right, until no pair has a rule.
 *  5. Truncation (max_length M > 0): <s> and </s> count towards M, the first
 *     M - 2 content ids are kept (M = 1 still gives [<s>, </s>]).
 *  6. add_special adds <s> in front and </s> at the end.
 * Invalid UTF-8 in the input (Python strings cannot hold it) is accepted:
 * each byte that does not start a valid sequence is a character of the
 * "anything else" class and goes through BPE as that byte.
 *
 * DECODE (vla_detokenize):
 *  - skip_special drops every special id: <s> <pad> </s> <unk> <mask> (token
 *    type control/unknown) and the added tokens (user-defined).
 *  - The remaining ids form units: each maximal run of base-vocabulary ids
 *    (special ones included when kept) becomes bytes through the inverse
 *    byte alphabet and is decoded as UTF-8 as one unit; each added token is
 *    a unit of its own; units are joined with one space:
 *    [<s>, <extra_id_0>, </s>] -> "<s> <extra_id_0> </s>".
 *  - Invalid UTF-8 becomes one U+FFFD per maximal subpart (Python's
 *    errors="replace"): E2 82 -> 1, ED A0 80 -> 3, C0 AF -> 2.
 *  - clean_up_spaces applies Python's ten replacements, in order, each over
 *    the result of the previous one: " ." " ?" " !" " ," lose their space,
 *    " ' " -> "'", and " n't" " 'm" " 's" " 've" " 're" lose their space.
 *
 * GGUF KEYS (written by tools/vla_tokconv.h; ggml's names, so other GGUF
 * tools read the vocabulary too):
 *   tokenizer.ggml.model          string  "gpt2" (required)
 *   tokenizer.ggml.pre            string  "gpt-2" (informational, not read)
 *   tokenizer.ggml.tokens         string array [n_tokens], indexed by id.
 *                                 Normal tokens are spelled exactly as in
 *                                 vocab.json, i.e. in GPT-2's byte alphabet
 *                                 ("Ġthe"); control and user-defined tokens
 *                                 are their literal text ("<s>").
 *   tokenizer.ggml.token_type     int32 array [n_tokens]: 1 normal,
 *                                 2 unknown, 3 control (<s> <pad> </s> <unk>
 *                                 <mask>), 4 user-defined (the added
 *                                 tokens; they must be the last ids).
 *                                 Types 2/3/4 are "special": cut out of the
 *                                 text, dropped by skip_special.
 *   tokenizer.ggml.merges         string array [n_merges], "A B" in rank order
 *                                 (rank = index), both parts and the result AB
 *                                 normal tokens
 *   tokenizer.ggml.bos_token_id, eos_token_id, unknown_token_id,
 *   padding_token_id              u32 (required); mask_token_id u32 (optional)
 *   tokenizer.ggml.add_bos_token, add_eos_token   bool (informational)
 *   vladapter.tokenizer.lstrip_ids  int32 array: special tokens that remove
 *                                 the whitespace on their left (<mask> and the
 *                                 added tokens)
 *   vladapter.tokenizer.rstrip_ids  int32 array: special tokens that remove
 *                                 the whitespace on their right (the added
 *                                 tokens)
 * vla_tokenizer_init validates all of it (alphabet of every normal token,
 * UTF-8 of every special token, no duplicate tokens or merges, every merge
 * part and result present and normal, all 256 one-byte tokens present, ids
 * in range, limits below) and returns VLA_ERR_FORMAT for a bad file,
 * VLA_ERR_NOT_FOUND if there is no tokenizer.ggml.model key, and
 * VLA_ERR_UNSUPPORTED for a model other than "gpt2".
 *
 * MEMORY.  Zero copy: token strings stay in the GGUF buffer, which must stay
 * alive and unchanged while the tokenizer is used.  Persistent tables:
 *     8 bytes per token          id -> (offset, length, type, flags)
 *     12 bytes per merge         rank -> (left id, right id, merged id)
 *     4 * P(n_merges) bytes      hash (left, right) -> rank
 *     4 * P(n_special) bytes     hash of special-token spellings
 *     about 1.2 KB               the tokenizer struct (byte -> id table)
 * where P(n) is the smallest power of two >= 2n (at least 16).  During init
 * only, 4 * P(n_tokens) bytes of scratch (hash spelling -> id) are used and
 * released.  BART with VL tokens (50465 tokens, 50000 merges, 205 special):
 * 1,531,328 bytes persistent, 2,055,616 peak.  With a measuring arena init
 * only counts (reads the file's counts and token types, builds nothing,
 * checks less); *out must then not be used.
 * vla_tokenize needs 28 bytes of scratch per input byte (BPE symbols and a
 * min-heap of candidate merges: O(n log n) for any piece, no quadratic
 * case), vla_tokenize_scratch_size(len) rounded to VLA_ALIGN, released on
 * return.  vla_detokenize needs no memory at all.
 * Time: linear in the text apart from BPE's log factor; special tokens are
 * found with a 256-bit first-byte map and one hash pass of at most 255 bytes
 * where a spelling may start (100 KB of one letter: a few milliseconds).
 *
 * LIMITS (VLA_ERR_FORMAT in a file, VLA_ERR_RANGE for a text):
 *   VLA_TOKENIZER_MAX_TOKENS  tokens and merges in a file (1 << 22 each)
 *   VLA_TOKENIZER_MAX_TEXT    bytes of one vla_tokenize text (1 << 24)
 *   a token's stored spelling: 1..65535 bytes; special tokens 1..255 bytes
 *
 * OUTPUT BUFFERS.  When ids or text do not fit, the call writes what fits,
 * stores the full size in *n_ids / *len and returns VLA_ERR_NOMEM; call again
 * with a bigger buffer (vla_detokenize with out = NULL, cap = 0 is a size
 * query).  Decoded text is always NUL-terminated when cap > 0 and is cut at
 * a UTF-8 character boundary.
 *
 * Threads: an initialised tokenizer is read-only; any number of threads may
 * use it at once, each with its own scratch arena.
 */
#define VLADAPTER_TOKENIZER_H 1


#ifndef VLA_TOKENIZER_MAX_TOKENS
#define VLA_TOKENIZER_MAX_TOKENS (1 << 22)
#endif
#ifndef VLA_TOKENIZER_MAX_TEXT
#define VLA_TOKENIZER_MAX_TEXT ((size_t)1 << 24)
#endif

/* Token types (ggml's numbering). */
#define VLA_TOKEN_NORMAL 1
#define VLA_TOKEN_UNKNOWN 2
#define VLA_TOKEN_CONTROL 3
#define VLA_TOKEN_USER_DEFINED 4

typedef struct vla_tokenizer vla_tokenizer; /* lives in the arena */

typedef struct vla_tokenizer_info {
    int32_t n_tokens;  /* all ids, added tokens included (50465)                  */
    int32_t n_base;    /* ids before the added (user-defined) tokens (50265)      */
    int32_t n_merges;  /* 50000                                                    */
    int32_t n_special; /* control/unknown/user-defined tokens (205)               */
    int32_t bos, eos, pad, unk; /* 0, 2, 1, 3                                      */
    int32_t mask;      /* 50264, or -1 if the file names none                     */
} vla_tokenizer_info;

/* Build the tables from an opened GGUF (g and its buffer must outlive the
 * tokenizer).  With a measuring arena: size query only (see MEMORY). */
VLA_DEF vla_status vla_tokenizer_init(vla_tokenizer **out, const vla_gguf *g, vla_arena *a);
/* Bytes init takes: persistent (stays) and peak (persistent + init scratch). */
VLA_DEF vla_status vla_tokenizer_mem_req(const vla_gguf *g, size_t *persistent, size_t *peak);
VLA_DEF vla_tokenizer_info vla_tokenizer_get_info(const vla_tokenizer *t);

/* The stored spelling of a token (zero copy, not NUL-terminated): byte-alphabet
 * form for normal tokens ("Ġworld"), literal text for special ones.  These are
 * the strings BartTokenizer.tokenize() returns.  type (may be NULL) receives
 * VLA_TOKEN_*.  VLA_ERR_RANGE for an id outside [0, n_tokens). */
VLA_DEF vla_status vla_tokenizer_token(const vla_tokenizer *t, int32_t id, vla_str *text, int *type);
/* The raw bytes a token stands for ("Ġworld" -> " world"), for streaming
 * output; may be part of a UTF-8 character.  NOMEM if cap < *len. */
VLA_DEF vla_status vla_tokenizer_token_bytes(const vla_tokenizer *t, int32_t id, unsigned char *buf, size_t cap,
                                             size_t *len);

/* Scratch bytes vla_tokenize needs for a text of up to max_text_bytes. */
VLA_DEF size_t vla_tokenize_scratch_size(size_t max_text_bytes);
/* text[0, len) (UTF-8, no NUL needed) -> ids[0, *n_ids).
 *   add_special       1: <s> ... </s> around the content (encode()), 0: not
 *   use_added_tokens  1: VL-Adapter's tokenizer, 0: plain BART
 *   max_length        0: no truncation; M > 0: at most M ids in all (HF's
 *                     truncation=True for one sequence)
 * scratch: a real (not measuring) arena with vla_tokenize_scratch_size(len)
 * free bytes.  VLA_ERR_RANGE if len > VLA_TOKENIZER_MAX_TEXT. */
VLA_DEF vla_status vla_tokenize(const vla_tokenizer *t, vla_arena *scratch, const char *text, size_t len,
                                int add_special, int use_added_tokens, int max_length, int32_t *ids, int max_ids,
                                int *n_ids);
/* ids[0, n) -> UTF-8 text out[0, *len) + NUL (tokenizer.decode()).
 * VLA_ERR_RANGE (nothing written) if an id is outside [0, n_tokens). */
VLA_DEF vla_status vla_detokenize(const vla_tokenizer *t, const int32_t *ids, int n, int skip_special,
                                  int clean_up_spaces, char *out, size_t cap, size_t *len);
/* The tokenizer of a loaded model (NULL if its file has none). */
VLA_DEF const vla_tokenizer *vla_model_tokenizer(const vla_model *m);


/* ============================================================================
 * [D12] Trainer: backprop + AdamW for the trainable parameters, in fixed memory
 * ============================================================================
 * What the official code does in one training step (multitask.py, with
 * transformers 4.2.1), reproduced here:
 *
 *   loss     = the task's loss of the batch (train mode: dropout on)
 *   grads    = d loss / d p   for every trainable p its task's forward used
 *   clip     : g *= min(1, clip_norm / (||g||_2 over all grads + 1e-6))
 *   AdamW    : m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *              p -= lr_t sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)
 *              p -= lr_t wd p          (after the update; wd = 0 for names
 *                                       containing "bias" or "LayerNorm.weight")
 *   schedule : lr_t = lr * t/W for t < W (warmup), then lr * (T-t)/(T-W),
 *              t = 0, 1, ... counting optimizer steps (the first step uses
 *              lr_0, which is 0 whenever W > 0)
 *   grads of the parameters this batch's task did not use stay "None": those
 *   parameters are not touched at all (no decay either), as in PyTorch.
 *
 * Losses (ignore index -100 in labels):
 *   VLA_LOSS_VQA           mean_b( score_b * mean_t CE(b, t) )
 *   VLA_LOSS_EXAMPLE_MEAN  mean_b( mean_t CE(b, t) )          GQA, NLVR2
 *   VLA_LOSS_TOKEN_MEAN    sum_{b,t} CE(b, t) / #tokens        COCO captions
 * The decoder input is labels shifted right: [start, y_0 .. y_{T-2}] with
 * -100 -> pad, exactly as shift_tokens_right.
 *
 * Which parameters train (trainer_base.py's unfreeze_parameters):
 *   always        the visual embedding (feature/box projections, their
 *                 LayerNorms, image-order embedding)          train_visual
 *   PEFT modules  every module of the adapter file (all tasks; only the
 *                 batch's task gets gradients)
 *   train_layer_norms  every BART LayerNorm (adapter, Compacter, Hyperformer
 *                 scripts: --unfreeze_layer_norms)
 *   train_biases  every BART bias vector, LayerNorm biases included (LoRA)
 *   full_finetune every BART parameter (shared embedding = LM head, both
 *                 position tables, every layer); final_logits_bias is a
 *                 buffer and never trains.
 * vla_train_defaults(method) gives the official script's settings.
 *
 * Memory (all of it from the size query, nothing grows later), in floats:
 *   4 P                 trainable values, gradients, AdamW m and v (P
 *                       trainable floats, each tensor rounded up to 16)
 *   2 G                 generated module weights and their gradients: Compacter
 *                       and Hyperformer G = sites (2 d r + r + d); prompt
 *                       tuning 2 n d + n mid
 *   activations, with R_e = B L encoder rows (L = prompt + text + visual
 *   tokens), R_d = B T decoder rows, H heads, r_l the LoRA rank (0 without
 *   LoRA), r_a the adapter width (0 without adapters):
 *     encoder layer     A_e = R_e (10 d + ffn + 2 r_l + 2 r_a) + B H L^2
 *     decoder layer     A_d = R_d (15 d + ffn + 3 r_l + 3 r_a) + R_e (2 d + r_l)
 *                             + B H T (T + L)
 *     recompute = 0     Le A_e + Ld A_d
 *     recompute = 1     Le R_e d + Ld R_d d + A_e + A_d   (each layer's input;
 *                       one layer's set is rebuilt from it during backward)
 *   + the input assembly R_e d + B Nv (feat_dim + 2 d + 5), the encoder output
 *     and mask R_e (d + 1), the decoder rows R_d (2 d + 1), the logits R_d V
 *   + backward scratch: R (2 w + 4 d + 2 r) + R_e d + one row, R = max(R_e, R_d),
 *     w = max(ffn, d).
 * At BART-base shapes with a Single Adapter (B 8, 20 text + 36 visual, T 5)
 * vla_trainer_mem_req gives the exact number; tests/test_train_io prints it
 * for both modes.  The size query runs the same layout code as init, and a
 * step takes nothing more (no scratch stack is used), so the query equals
 * the high-water mark.
 *
 * Frozen weights are read where they are (mapped file, flash), any type:
 * gradients flow through F16 and Q8_0 matrices by widening one row at a
 * time.  Trainable tensors are copied into the trainer as fp32 at init.
 *
 * Output: vla_trainer_save writes an adapter file with the adapter file's own
 * keys (method, tasks, prefixes, presets, base fingerprint) and every tensor,
 * trained ones replaced, plus the base tensors that trained (LayerNorms,
 * biases, visual embedding) under their base names: vla_adapter_attach reads
 * it as it is.  Without an adapter file (full fine-tuning, or only the visual
 * embedding training) it writes a whole model file with the trained tensors
 * in place.  vla_trainer_save_state / vla_trainer_load_state serialise
 * everything a resumed run needs (values, moments, step, generator, a cursor
 * the caller owns for its data position): a resumed run is bit-identical.
 *
 * Threads: one trainer, one thread at a time; kernels split work through
 * params.exec like every other object.
 *
 * In code (tools/vla-train.c is the complete program: data file, CLIP
 * feature cache, checkpoints, resume):
 *
 *     vla_train_params p = vla_train_defaults("adapter");
 *     p.max_batch = 8; p.max_text_len = 20; p.max_images = 1; p.max_grid = 49;
 *     p.max_target_len = 10; p.total_steps = steps; p.warmup_steps = steps / 10;
 *     vla_trainer_mem_req(model, adapter_file, adapter_size, &p, &need);
 *     vla_trainer_init(&t, model, adapter_file, adapter_size, &p, mem, need);
 *     for (each batch b) {                 // b.in: ids + CLIP grid features
 *         vla_trainer_step(t, &b, &loss, &lr);
 *     }
 *     vla_trainer_save(t, write_cb, out);  // attach it with vla_adapter_attach
 *
 * CLIP: frozen by default (as in the paper): run it once per picture and
 * pass the grid features.  With train_clip = 1 the trunk's folded
 * convolutions (weights and BN-folded biases, "visual.*") train as well: a
 * batch then passes vla_input.images [B * n_images, S, S, 3] (preprocessed),
 * the trainer runs the trunk and keeps, per picture, every convolution's
 * input and ReLU output (see vla__tclip_walk for the exact count; about
 * 0.8 M floats for width 8 at 224 x 224), and the backward pass continues
 * through the 6 x 6 max pool into the trunk:
 *     conv  y = col(x) W^T + b:  dW += dy^T col(x), db += sum dy,
 *                                dx = col2im(dy W)
 *     avgpool s:                 dx[i] = dy[i / s] / s^2
 *     relu, max pool:            the gradient flows where the output was > 0 /
 *                                to the first maximum of each window
 * vla_input.embeds is not supported (VLA_ERR_ARGS).
 * ========================================================================== */

typedef enum vla_loss_kind {
    VLA_LOSS_VQA = 0,          /* per-example token mean x answer score, batch mean */
    VLA_LOSS_EXAMPLE_MEAN = 1, /* per-example token mean, batch mean (GQA, NLVR2)  */
    VLA_LOSS_TOKEN_MEAN = 2    /* token mean over the whole batch (captions)       */
} vla_loss_kind;

typedef struct vla_train_params {
    /* largest shapes a batch may have (memory is sized from these) */
    int max_batch;          /* B                                                  */
    int max_text_len;       /* Lt, <s> and </s> included                          */
    int max_images;         /* 0, 1 or 2 (NLVR2)                                  */
    int max_grid;           /* grid cells per image (49)                          */
    int max_target_len;     /* T: label tokens per example                        */
    /* what trains (see vla_train_defaults) */
    int train_visual, train_layer_norms, train_biases, full_finetune;
    int train_clip;         /* 1: the CLIP trunk's convolutions train too (never in
                               the paper, which keeps CLIP frozen; for a base model
                               pretrained from scratch): batches then carry
                               vla_input.images instead of grid features          */
    float clip_lr_scale;    /* train_clip: the trunk's learning rate is lr x this
                               (0 or 1: lr).  The folded trunk has no batch
                               normalisation left to steady it: at the lr of a
                               small transformer (1e-3) its ReLUs can die       */
    /* AdamW (transformers 4.2.1) and the schedule */
    double lr;              /* peak learning rate (a Python float in the official code) */
    float beta1, beta2, eps, weight_decay;
    float clip_norm;        /* <= 0: no clipping                                   */
    long total_steps;       /* T of the linear decay (>= 1)                        */
    long warmup_steps;      /* W                                                   */
    /* dropout (train mode): on the embeddings, attention probabilities, every
     * sublayer output, the FFN activation and LoRA's input; 0 = off */
    float dropout;
    uint64_t seed;          /* dropout generator                                   */
    int recompute;          /* 1: gradient checkpointing per layer                 */
    int rebind;             /* 1: an adapter file made for another base model (its
                               base fingerprint differs) starts from its weights on
                               this one, and the file vla_trainer_save writes binds
                               to this base (warm start after the base trained on);
                               0: such a file is refused (VLA_ERR_MISMATCH)        */
    vla_exec exec;
    vla_logger log;
} vla_train_params;

/* The official script's settings for a method ("adapter", "compacter",
 * "hyperformer", "lora", "prompt", "full", "multiple_adapters",
 * "half_shared_adapters" or NULL/"none"): lr (1e-3; 3e-4 for the multiple and
 * half-shared adapters, 1e-4 for full), which tensors train, AdamW (0.9,
 * 0.999, 1e-6, wd 0.01), clipping 5, dropout 0.1, seed 9595.  Shapes,
 * total_steps and warmup_steps (10% of the total in the scripts) are left
 * for you. */
VLA_DEF vla_train_params vla_train_defaults(const char *method);

typedef struct vla_train_batch {
    const char *task;       /* the adapter file's task (NULL: its first)          */
    vla_loss_kind loss;
    vla_input in;           /* encoder input: ids and grid feats (no images: CLIP
                               is frozen, run it once and cache its features)    */
    int target_len;         /* T                                                  */
    const int32_t *labels;  /* [B, T] target ids, -100 = ignored                  */
    const float *scores;    /* [B] answer scores (VLA_LOSS_VQA), else NULL         */
} vla_train_batch;

/* One trainable tensor as the trainer holds it. */
typedef struct vla_train_tensor {
    const char *name;       /* its name in the file vla_trainer_save writes       */
    const char *official;   /* the official state-dict name ("model.encoder...") */
    int n_dims;
    int64_t ne[VLA_MAX_DIMS]; /* ggml order: ne[0] fastest                        */
    size_t n;               /* elements                                           */
    float *value, *grad, *m, *v;
    int decay;              /* weight decay applies                               */
    int has_grad;           /* the last backward reached it                        */
} vla_train_tensor;

typedef struct vla_trainer vla_trainer;

/* adapter: the adapter file holding the modules to train (their initial
 * values) and its task list, or NULL (full fine-tuning, or the visual
 * embedding alone).  It must stay alive while the trainer is used. */
VLA_DEF vla_status vla_trainer_mem_req(const vla_model *m, const void *adapter, size_t adapter_size,
                                       const vla_train_params *p, size_t *bytes);
VLA_DEF vla_status vla_trainer_init(vla_trainer **out, const vla_model *m, const void *adapter, size_t adapter_size,
                                    const vla_train_params *p, void *mem, size_t mem_size);
/* Forward + backward of one batch: every trainable tensor's grad is set
 * (zero and has_grad = 0 where the task did not reach it); *loss (optional). */
VLA_DEF vla_status vla_trainer_backward(vla_trainer *t, const vla_train_batch *b, float *loss);
/* Forward only: the loss of a batch with the current values (no dropout). */
VLA_DEF vla_status vla_trainer_loss(vla_trainer *t, const vla_train_batch *b, float *loss);
/* Clip, AdamW, advance the schedule.  lr_used / grad_norm (optional): the
 * learning rate of this update and the norm before clipping. */
VLA_DEF vla_status vla_trainer_apply(vla_trainer *t, float *lr_used, float *grad_norm);
/* Both in one call. */
VLA_DEF vla_status vla_trainer_step(vla_trainer *t, const vla_train_batch *b, float *loss, float *lr_used);
VLA_DEF float vla_trainer_lr(const vla_trainer *t, long step);
VLA_DEF long vla_trainer_steps_done(const vla_trainer *t);
/* train_clip, before the first step: a data-dependent start for a trunk
 * trained from random weights.  Each convolution in turn (stem 1-3, then per
 * block conv1, conv2, conv3, downsample) is measured on images [n, S, S, 3]
 * (preprocessed) run through the trunk, and rescaled so that each output
 * channel has mean 0 and variance 1 over those pictures' pixels before its
 * ReLU: W[r] /= sd_r, b_r = (b_r - mean_r) / sd_r (sd_r = 1 where the
 * channel never changes), the normalisation BatchNorm in training mode would
 * apply at the first step, folded; and a channel whose third central moment
 * is negative is negated (W[r], b_r times -1), so that its rare large values
 * point upwards and pass its ReLU.  The trunk then passes the pictures'
 * differences on instead of the constant of a plain background, and dark
 * objects on a light background are not cut off by the first ReLU (measured
 * without the sign rule: four of five colours confused, docs/shapes.md). 
 * VLA_ERR_ARGS without train_clip or after a step. */
VLA_DEF vla_status vla_trainer_calibrate_clip(vla_trainer *t, const float *images, int n_images);
VLA_DEF int vla_trainer_n_tensors(const vla_trainer *t);
VLA_DEF vla_status vla_trainer_tensor(const vla_trainer *t, int i, vla_train_tensor *out);
/* Trainable floats (the paper's "updated parameters"). */
VLA_DEF size_t vla_trainer_n_params(const vla_trainer *t);
VLA_DEF vla_arena_stats vla_trainer_stats(const vla_trainer *t);
/* Four u64 the caller may use for its data position; saved with the state. */
VLA_DEF uint64_t *vla_trainer_cursor(vla_trainer *t);
/* The trained result: an adapter file (or a model file, see above). */
VLA_DEF vla_status vla_trainer_save(const vla_trainer *t, vla_write_fn fn, void *user);
VLA_DEF vla_status vla_trainer_save_state(const vla_trainer *t, vla_write_fn fn, void *user);
/* Restores a state written for the same model, adapter file and parameters
 * (names and shapes are checked; VLA_ERR_MISMATCH otherwise). */
VLA_DEF vla_status vla_trainer_load_state(vla_trainer *t, const void *data, size_t size);

/* Backward kernels (reference definitions + the fast entry points the
 * trainer uses):
 *   dx[M, K] += dy[M, N] W[N, K]            (W any vla_mat type)
 *   dW[N, K] += dy[M, N]^T x[M, K];  db[N] += sum_m dy[m, :]   (db or dW may be
 *                                       NULL: a frozen weight with a trained bias)
 *   LayerNorm: y = (x - mu) / sqrt(var + eps) * g + b  ->  dx (overwritten),
 *              dg, db accumulated (may be NULL); g NULL means 1
 *   activations: dx = dy * f'(x) for the pre-activation x (dx may alias dy) */
VLA_DEF void vla_linear_bwd_x_ref(float *dx, const float *dy, const vla_mat *w, int M);
VLA_DEF void vla_linear_bwd_w_ref(float *dw, float *db, const float *dy, const float *x, int M, int N, int K);
/* The fast entry points transpose panels of W (bwd_x) or of dy and x (bwd_w)
 * into scratch and run them through vla_linear's blocked GEMM; scratch holds
 * vla_linear_bwd_scratch_size(M, N, K) bytes (NULL: plain loops, slower). */
VLA_DEF size_t vla_linear_bwd_scratch_size(int M, int N, int K);
VLA_DEF void vla_linear_bwd_x(const vla_exec *ex, float *dx, const float *dy, const vla_mat *w, int M, float *scratch);
VLA_DEF void vla_linear_bwd_w(const vla_exec *ex, float *dw, float *db, const float *dy, const float *x, int M, int N, int K,
                              float *scratch);
VLA_DEF void vla_layernorm_bwd(float *dx, float *dg, float *db, const float *dy, const float *x, const float *g, int M, int N,
                               float eps);
VLA_DEF void vla_gelu_erf_bwd(float *dx, const float *dy, const float *x, size_t n);
VLA_DEF void vla_gelu_tanh_bwd(float *dx, const float *dy, const float *x, size_t n);
/* Attention backward for one sequence, all heads (the layout of
 * vla_attention_ref): given the probabilities P [H, Lq, Lk] of the forward
 * (after the mask, before dropout), dq [Lq, ldq], dk/dv [Lk, ld] are
 * accumulated from dout [Lq, ldo].  q is the scaled query of the forward. */
VLA_DEF void vla_attention_bwd_ref(float *dq, float *dk, float *dv, int ld, const float *dout, int ldo, const float *q,
                                   const float *k, const float *v, const float *P, int Lq, int Lk, int n_heads, int dh);

/* ==========================================================================
 * [D13] Task level: one call per task (caption, answer, verify)
 *
 * The calls an application reaches for first.  Each runs the whole official
 * chain of its task on a context and the adapter/task selected in it
 * (vla_ctx_set_adapter; none: the base model), in the context's memory:
 *
 *   picture(s) --vla_clip_preprocess--> CLIP trunk --> grid features
 *   prefix + text --vla_tokenize (the task's truncation)--> ids
 *   vla_encode --> vla_generate (the task's preset) --> vla_detokenize
 *
 *             encoder text                  truncation  decoding
 *   caption   <s> prefix </s>               40 ids      preset, else 5 beams,
 *                                                       the file's max_length
 *   answer    <s> prefix question </s>      20 ids      preset, else greedy,
 *             (VQA and GQA)                             the file's max_length
 *   verify    <s> prefix statement </s>,    none: a     no generation: decoder
 *             two pictures (NLVR2)          longer text input [</s>, <s>], true
 *                                           is an error iff logit("true") >
 *                                                       logit("false")
 * The prefix is the selected task's ("vqa: " for the single_* methods,
 * empty otherwise).  "true" / "false" are the first ids of tokenize("true")
 * and tokenize("false") without special tokens, as the official code takes
 * them.  The output text is decoded as the official evaluation decodes it:
 * special tokens skipped, clean_up_tokenization_spaces on (" ." -> ".").
 * g (may be NULL) replaces the decoding preset for one call.
 *
 * Quick start (error checks left out; every call returns a vla_status):
 *
 *     vla_model_mem_req(file, size, &need);   vla_model_init(&m, mem, need, file, size, NULL);
 *     vla_task_sizes s = {0};  s.max_picture_w = 640;  s.max_picture_h = 480;
 *     vla_task_ctx_params(&p, m, &s, NULL, 0);
 *     vla_ctx_mem_req(m, &p, &need);          vla_ctx_init(&c, m, &p, cmem, need);
 *     vla_image_view(&pic, rgb, 640, 480, 3, 0);
 *     vla_caption(c, &pic, NULL, text, sizeof text, NULL);
 *
 * Memory.  The context holds everything: the picture's CLIP input (one
 * [S, S, 3] float buffer, reused per picture) and the resize's scratch, the
 * text and the tokenizer's scratch live in its scratch stack; the ids in and
 * out are kept (vla_task_ids).  A picture larger than max_picture_w x
 * max_picture_h, a prefix + question longer than max_input_bytes, a statement
 * with more ids than max_text_len, or a preset with more beams or a longer
 * max_length than the context holds returns VLA_ERR_RANGE with a sentence in
 * the log and changes nothing outside the context.  A task the adapter lacks
 * fails at vla_ctx_set_adapter (VLA_ERR_NOT_FOUND).
 * ========================================================================== */

/* What an application knows about its requests; vla_task_ctx_params turns it
 * into context parameters.  Zero-initialise and fill what applies. */
typedef struct vla_task_sizes {
    int max_question_bytes; /* longest question (answer) or statement (verify), in
                               bytes; 0: captions only                          */
    int max_pictures;       /* pictures per request: 1 (caption, answer) or 2
                               (verify); 0 counts as 1                          */
    int max_picture_w;      /* largest picture, in pixels (camera resolution)    */
    int max_picture_h;
    int max_beams;          /* 0: whatever the presets need (5 for captions)      */
    int max_length;         /* 0: whatever the presets and the model file need      */
} vla_task_sizes;

/* Context parameters for the task-level calls: *p is zeroed and filled from
 * the model, the sizes and the adapter sets the context will select (their
 * prompts, widths, longest prefix and presets are covered).  Set p->exec and
 * p->log afterwards if you want threads or messages, then size and init the
 * context as usual.  The text length is bounded from bytes (a token is at
 * least one byte): the truncations above cap it for captions and answers. */
VLA_DEF vla_status vla_task_ctx_params(vla_ctx_params *p, const vla_model *m, const vla_task_sizes *s,
                                       const vla_adapter *const *adapters, int n_adapters);

/* The decoding settings a call uses when g is NULL: the selected adapter
 * task's preset, else the official ones (captions 5 beams, answers greedy)
 * with the rest from the model file (vladapter.gen.max_length: 20 when the
 * file has none, as the official evaluation).  Copy, change, pass as g. */
typedef enum vla_task_kind { VLA_TASK_CAPTION = 0, VLA_TASK_ANSWER = 1 } vla_task_kind;
VLA_DEF vla_gen_params vla_task_preset(const vla_ctx *c, vla_task_kind kind);

/* Caption one picture.  text[0, *len) + NUL; when cap is too small the text is
 * cut at a character boundary, *len holds the full length and the call returns
 * VLA_ERR_NOMEM (the ids are still available).  len may be NULL. */
VLA_DEF vla_status vla_caption(vla_ctx *c, const vla_image *picture, const vla_gen_params *g, char *text, size_t cap,
                               size_t *len);
/* Answer a question (NUL-terminated UTF-8) about a picture (VQA, GQA). */
VLA_DEF vla_status vla_answer(vla_ctx *c, const vla_image *picture, const char *question, const vla_gen_params *g,
                              char *text, size_t cap, size_t *len);

/* NLVR2's decision on a pair of pictures and a statement. */
typedef struct vla_verdict {
    int is_true;        /* 1 iff true_logit > false_logit (the official rule)   */
    float true_logit;   /* decoder logits at position 1 for the ids of "true"  */
    float false_logit;  /*   and "false"                                        */
} vla_verdict;
VLA_DEF vla_status vla_verify(vla_ctx *c, const vla_image *left, const vla_image *right, const char *statement,
                              vla_verdict *out);
/* The same rule on the encoder output already in the context (your own
 * vla_encode: a batch, precomputed features): out[0, B) for its B examples.
 * Needs the model's tokenizer for the ids of "true" and "false". */
VLA_DEF vla_status vla_verify_encoded(vla_ctx *c, vla_verdict *out);

/* The ids of the last task call: which = 0 the encoder text ids (with <s> and
 * </s>), 1 the generated ids (starting with the decoder start token, as
 * vla_generate returns them).  NULL (and *n = 0) before any call. */
VLA_DEF const int32_t *vla_task_ids(const vla_ctx *c, int which, int *n);

#ifdef __cplusplus
}
#endif
#endif /* VLADAPTER_H */

/* ############################################################################
 * IMPLEMENTATION
 * ############################################################################ */
#ifdef VLADAPTER_IMPLEMENTATION
#ifndef VLADAPTER_IMPLEMENTATION_DONE
#define VLADAPTER_IMPLEMENTATION_DONE

/* ==========================================================================
 * [I1] Portability: libc overrides, SIMD selection, fp16, safe sizes
 * ========================================================================== */

#ifndef VLA_ASSERT
#include <assert.h>
#define VLA_ASSERT(x) assert(x)
#endif
#if !defined(VLA_MEMCPY) || !defined(VLA_MEMSET) || !defined(VLA_MEMCMP) || !defined(VLA_STRLEN)
#include <string.h>
#endif
#ifndef VLA_MEMCPY
#define VLA_MEMCPY(d, s, n) memcpy(d, s, n)
#endif
#ifndef VLA_MEMSET
#define VLA_MEMSET(d, v, n) memset(d, v, n)
#endif
#ifndef VLA_MEMCMP
#define VLA_MEMCMP(a, b, n) memcmp(a, b, n)
#endif
#ifndef VLA_STRLEN
#define VLA_STRLEN(s) strlen(s)
#endif
#if defined(VLA_SQRTF) || defined(VLA_EXPF) || defined(VLA_LOGF) || defined(VLA_TANHF) || defined(VLA_ERFF) || \
    defined(VLA_POWF) || defined(VLA_FABSF) || defined(VLA_POW) || defined(VLA_SQRT)
#if !defined(VLA_SQRTF) || !defined(VLA_EXPF) || !defined(VLA_LOGF) || !defined(VLA_TANHF) || !defined(VLA_ERFF) || \
    !defined(VLA_POWF) || !defined(VLA_FABSF) || !defined(VLA_POW) || !defined(VLA_SQRT)
#error "vladapter.h: define all of VLA_SQRTF VLA_EXPF VLA_LOGF VLA_TANHF VLA_ERFF VLA_POWF VLA_FABSF VLA_POW VLA_SQRT, or none"
#endif
#else
#include <math.h>
#define VLA_SQRTF(x) sqrtf(x)
#define VLA_EXPF(x) expf(x)
#define VLA_LOGF(x) logf(x)
#define VLA_TANHF(x) tanhf(x)
#define VLA_ERFF(x) erff(x)
#define VLA_POWF(x, y) powf(x, y)
#define VLA_FABSF(x) fabsf(x)
#define VLA_POW(x, y) pow(x, y)
#define VLA_SQRT(x) sqrt(x)
#endif
#if !defined(VLA_NO_STDIO)
#include <stdio.h>
#include <stdarg.h>
#endif

/* Compile-time checks of the type sizes the file formats rely on. */
typedef char vla__check_u16[sizeof(uint16_t) == 2 ? 1 : -1];
typedef char vla__check_u32[sizeof(uint32_t) == 4 ? 1 : -1];
typedef char vla__check_f32[sizeof(float) == 4 ? 1 : -1];

#define VLA__NEG_INF (-3.402823466e+38f * 2.0f) /* -inf without <math.h>'s INFINITY */

/* SIMD path, chosen once at compile time. */
#if !defined(VLA_NO_SIMD) && defined(__AVX2__) && defined(__FMA__)
#define VLA__AVX2 1
#include <immintrin.h>
#elif !defined(VLA_NO_SIMD) && defined(__ARM_NEON) && defined(__aarch64__)
#define VLA__NEON64 1
#include <arm_neon.h>
#elif !defined(VLA_NO_SIMD) && defined(__ARM_NEON)
#define VLA__NEON32 1
#include <arm_neon.h>
#elif !defined(VLA_NO_SIMD) && defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 2)
#define VLA__MVE 1
#include <arm_mve.h>
#elif !defined(VLA_NO_SIMD) && defined(__riscv_vector)
#define VLA__RVV 1
#endif

VLA_DEF const char *vla_simd_name(void) {
#if defined(VLA__AVX2) && defined(__AVX512F__)
    return "avx2+fma (avx512f target)";
#elif defined(VLA__AVX2)
    return "avx2+fma";
#elif defined(VLA__NEON64) && defined(__ARM_FEATURE_DOTPROD)
    return "neon+dotprod";
#elif defined(VLA__NEON64) || defined(VLA__NEON32)
    return "neon";
#elif defined(VLA__MVE)
    return "helium (mve)";
#elif defined(VLA__RVV)
    return "rvv1.0";
#else
    return "scalar";
#endif
}

/* Overflow-safe size arithmetic: the result saturates to SIZE_MAX, which no
 * buffer can hold, so a later bounds check fails instead of wrapping. */
static size_t vla__add(size_t a, size_t b) { return (a > (size_t)-1 - b) ? (size_t)-1 : a + b; }
static size_t vla__mul(size_t a, size_t b) { return (a != 0 && b > (size_t)-1 / a) ? (size_t)-1 : a * b; }
static size_t vla__align_up(size_t x, size_t a) { return vla__add(x, a - 1) & ~(a - 1); }

static uint16_t vla__rd16(const unsigned char *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t vla__rd32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t vla__rd64(const unsigned char *p) { return (uint64_t)vla__rd32(p) | ((uint64_t)vla__rd32(p + 4) << 32); }

VLA_DEF float vla_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ffu, bits;
    float f;
    if (exp == 0) {
        if (man == 0) {
            bits = sign;
        } else { /* subnormal: renormalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400u)) { man <<= 1; exp--; }
            bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (man << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    VLA_MEMCPY(&f, &bits, 4);
    return f;
}

VLA_DEF uint16_t vla_fp32_to_fp16(float f) { /* round to nearest even */
    uint32_t x, sign, mant;
    int32_t exp;
    VLA_MEMCPY(&x, &f, 4);
    sign = (x >> 16) & 0x8000u;
    exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
    mant = x & 0x7fffffu;
    if (((x >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00u | (mant ? 0x200u : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00u);
    if (exp <= 0) {
        uint32_t m, shift, half, r;
        if (exp < -10) return (uint16_t)sign;
        m = mant | 0x800000u;
        shift = (uint32_t)(14 - exp);
        half = 1u << (shift - 1);
        r = m >> shift;
        if ((m & ((1u << shift) - 1)) > half || ((m & ((1u << shift) - 1)) == half && (r & 1))) r++;
        return (uint16_t)(sign | r);
    } else {
        uint32_t r = ((uint32_t)exp << 10) | (mant >> 13), rem = mant & 0x1fffu;
        if (rem > 0x1000u || (rem == 0x1000u && (r & 1))) r++; /* may carry into the exponent: correct */
        return (uint16_t)(sign | r);
    }
}

/* ==========================================================================
 * [I2] Status strings, logging
 * ========================================================================== */

VLA_DEF const char *vla_status_str(vla_status s) {
    switch (s) {
    case VLA_OK: return "ok";
    case VLA_ERR_ARGS: return "invalid argument";
    case VLA_ERR_NOMEM: return "not enough memory in the arena";
    case VLA_ERR_FORMAT: return "malformed or truncated file";
    case VLA_ERR_VERSION: return "unsupported file version";
    case VLA_ERR_UNSUPPORTED: return "unsupported feature";
    case VLA_ERR_NOT_FOUND: return "not found";
    case VLA_ERR_STATE: return "call made in the wrong state";
    case VLA_ERR_MISMATCH: return "mismatch";
    case VLA_ERR_IO: return "i/o error";
    case VLA_ERR_RANGE: return "value out of range";
    }
    return "unknown status";
}

/* Minimal formatter so logging works under VLA_NO_STDIO too: supports
 * %s %d %u %zu %llu %g (as fixed 6 digits) and %%. */
static void vla__fmt(char *out, size_t cap, const char *fmt, const void *const *args) {
    size_t o = 0;
    int ai = 0;
    if (cap == 0) return;
    while (*fmt && o + 1 < cap) {
        if (*fmt != '%') { out[o++] = *fmt++; continue; }
        fmt++;
        if (*fmt == 's') {
            const char *s = (const char *)args[ai++];
            while (s && *s && o + 1 < cap) out[o++] = *s++;
            fmt++;
        } else if (*fmt == 'z' || *fmt == 'u' || *fmt == 'd' || *fmt == 'l') { /* numbers are passed as unsigned long long* / long long* */
            char tmp[24];
            int n = 0, neg = 0;
            unsigned long long v;
            while (*fmt == 'l' || *fmt == 'z') fmt++; /* %llu, %zu, %lld: the width modifiers */
            if (*fmt == 'd') {
                long long sv = *(const long long *)args[ai++];
                neg = sv < 0;
                v = neg ? (unsigned long long)(-(sv + 1)) + 1 : (unsigned long long)sv;
            } else {
                v = *(const unsigned long long *)args[ai++];
            }
            while (*fmt == 'z' || *fmt == 'u' || *fmt == 'd') fmt++;
            do { tmp[n++] = (char)('0' + (int)(v % 10)); v /= 10; } while (v && n < 24);
            if (neg && o + 1 < cap) out[o++] = '-';
            while (n && o + 1 < cap) out[o++] = tmp[--n];
        } else {
            out[o++] = *fmt ? *fmt++ : '%';
        }
    }
    out[o] = 0;
}

static void vla__log(const vla_logger *lg, vla_log_level lvl, const char *fmt, const void *a0, const void *a1,
                     const void *a2) {
    char buf[256];
    const void *args[3];
    if (!lg || !lg->fn) return;
    args[0] = a0; args[1] = a1; args[2] = a2;
    vla__fmt(buf, sizeof buf, fmt, args);
    lg->fn(lg->user, lvl, buf);
}

/* ==========================================================================
 * [I3] Arena
 * ========================================================================== */

VLA_DEF void vla_arena_init(vla_arena *a, void *mem, size_t size) {
    VLA_MEMSET(a, 0, sizeof *a);
    /* Align the start so that every block is VLA_ALIGN-aligned in memory. */
    if (mem) {
        size_t mis = (size_t)((uintptr_t)mem & (VLA_ALIGN - 1));
        size_t skip = mis ? VLA_ALIGN - mis : 0;
        if (size < skip) size = skip;
        a->base = (unsigned char *)mem + skip;
        a->size = (size - skip) & ~(size_t)(VLA_ALIGN - 1);
    }
    a->hi = a->size;
}

VLA_DEF void vla_arena_init_measure(vla_arena *a) {
    VLA_MEMSET(a, 0, sizeof *a);
    a->measuring = 1;
    a->size = ((size_t)-1 / 4) & ~(size_t)(VLA_ALIGN - 1);
    a->hi = a->size;
}

static void vla__arena_note_peak(vla_arena *a) {
    size_t scratch = a->size - a->hi;
    if (a->lo > a->peak_lo) a->peak_lo = a->lo;
    if (scratch > a->peak_scratch) a->peak_scratch = scratch;
    if (a->lo + scratch > a->peak_total) a->peak_total = a->lo + scratch;
}

static void vla__arena_fail(vla_arena *a, size_t bytes) {
    size_t need = vla__add(vla__add(a->lo, a->size - a->hi), bytes);
    unsigned long long n = need, have = a->size;
    if (need > a->failed_need) a->failed_need = need;
    vla__log(&a->log, VLA_LOG_ERROR, "arena exhausted: %llu bytes needed so far, %llu available", &n, &have, 0);
}

VLA_DEF void *vla_arena_alloc(vla_arena *a, size_t bytes) {
    size_t n = vla__align_up(bytes ? bytes : 1, VLA_ALIGN);
    void *p;
    if (n > a->hi - a->lo) { vla__arena_fail(a, n); return NULL; }
    p = a->measuring ? (void *)(uintptr_t)VLA_ALIGN : (void *)(a->base + a->lo); /* non-NULL, never dereferenced */
    a->lo += n;
    vla__arena_note_peak(a);
    return p;
}

VLA_DEF size_t vla_arena_scratch_mark(const vla_arena *a) { return a->hi; }

VLA_DEF void *vla_arena_scratch(vla_arena *a, size_t bytes) {
    size_t n = vla__align_up(bytes ? bytes : 1, VLA_ALIGN);
    if (n > a->hi - a->lo) { vla__arena_fail(a, n); return NULL; }
    a->hi -= n;
    vla__arena_note_peak(a);
    return a->measuring ? (void *)(uintptr_t)VLA_ALIGN : (void *)(a->base + a->hi);
}

VLA_DEF void vla_arena_scratch_release(vla_arena *a, size_t mark) {
    if (mark >= a->hi && mark <= a->size) a->hi = mark;
}

VLA_DEF vla_arena_stats vla_arena_get_stats(const vla_arena *a) {
    vla_arena_stats s;
    s.capacity = a->measuring ? 0 : a->size;
    s.persistent = a->lo;
    s.scratch_peak = a->peak_scratch;
    s.peak = a->peak_total;
    return s;
}

/* ==========================================================================
 * [I4] Kernels: scalar reference definitions
 *
 * These loops are the definition of each operation.  They are written for
 * clarity and used (a) when ex->force_reference is set, (b) by the tests as
 * the oracle for the fast paths, (c) on targets without a fast path.
 * ========================================================================== */

static size_t vla__row_bytes(vla_type t, int cols) { return (size_t)vla_type_size(t, (uint64_t)cols); }

/* Dot product of fp32 x[K] with row r of W, reference. */
static float vla__dot_row_ref(const float *x, const vla_mat *w, int r) {
    const unsigned char *row = (const unsigned char *)w->data + (size_t)r * vla__row_bytes(w->type, w->cols);
    float acc = 0.0f;
    int k, b;
    switch (w->type) {
    case VLA_TYPE_F32: {
        const float *wr = (const float *)(const void *)row;
        for (k = 0; k < w->cols; k++) acc += x[k] * wr[k];
    } break;
    case VLA_TYPE_F16:
        for (k = 0; k < w->cols; k++) acc += x[k] * vla_fp16_to_fp32(vla__rd16(row + 2 * (size_t)k));
        break;
    case VLA_TYPE_Q8_0:
        for (b = 0; b < w->cols / VLA_Q8_0_BLOCK; b++) {
            const unsigned char *blk = row + (size_t)b * VLA_Q8_0_BYTES;
            float d = vla_fp16_to_fp32(vla__rd16(blk)), s = 0.0f;
            for (k = 0; k < VLA_Q8_0_BLOCK; k++) s += x[b * VLA_Q8_0_BLOCK + k] * (float)(int8_t)blk[2 + k];
            acc += d * s;
        }
        break;
    case VLA_TYPE_I8: { /* widened: W[r][k] = scale[r] * q (fp32) */
        const float d = w->scale[r];
        for (k = 0; k < w->cols; k++) acc += x[k] * (d * (float)(signed char)row[k]);
    } break;
    default: break;
    }
    return acc;
}

/* ---- I8: the integer path's definition (see vla_linear in [D4]) -------- */

/* Round v = x * id half away from zero into [-127, 127], NaN -> 0.  Only
 * comparisons and conversions touch v, so a compiler that fuses x * id into
 * a later add cannot change the result. */
static int vla__i8_round(float v) {
    int t;
    if (v >= 127.0f) return 127;
    if (v <= -127.0f) return -127;
    if (!(v == v)) return 0;
    t = (int)v; /* toward zero; |t| <= 126 */
    if (v >= 0.0f) {
        if (v >= (float)t + 0.5f) t++;
    } else if (v <= (float)t - 0.5f) {
        t--;
    }
    return t;
}

/* amax/127 of n floats (NaN ignored). */
static float vla__i8_scale_of(const float *x, int n) {
    float amax = 0.0f;
    int i;
    for (i = 0; i < n; i++) {
        float a = VLA_FABSF(x[i]);
        if (a > amax) amax = a;
    }
    return amax / 127.0f;
}

static float vla__i8_inv(float d) { return d != 0.0f ? 1.0f / d : 0.0f; }

VLA_DEF float vla_quantize_i8_row(signed char *q, const float *x, int n) {
    const float d = vla__i8_scale_of(x, n), id = vla__i8_inv(d);
    int i;
    for (i = 0; i < n; i++) q[i] = (signed char)vla__i8_round(x[i] * id);
    return d;
}

/* The epilogue: ((float)isum * s) + b with s = d_x * d_w, the product
 * rounded to fp32 before the add (the volatile forbids an FMA). */
static float vla__i8_out(int32_t isum, float s, float b) {
    volatile float t = (float)isum * s;
    return t + b;
}

/* Product of one quantized activation and one weight: through int16 (exact:
 * |q_x| <= 127, |q_w| <= 128), which keeps GCC 12 from vectorizing the sum
 * into a vpdpbusd that treats one operand as unsigned (see vla__dot_i8_32). */
#define VLA__I8_MUL(a, b) ((int32_t)(int16_t)((int)(a) * (int)(b)))

/* y[M,N] = the I8 definition; x rows quantized on the fly (no buffer, slow:
 * every output requantizes its row). */
static void vla__linear_i8_ref(float *y, const float *x, const vla_mat *w, const float *b, int M) {
    const int K = w->cols, N = w->rows;
    int m, n, k;
    for (m = 0; m < M; m++) {
        const float *xm = x + (size_t)m * K;
        const float dx = vla__i8_scale_of(xm, K), id = vla__i8_inv(dx);
        for (n = 0; n < N; n++) {
            const signed char *q = (const signed char *)w->data + (size_t)n * K;
            int32_t isum = 0;
            for (k = 0; k < K; k++) isum += VLA__I8_MUL(vla__i8_round(xm[k] * id), q[k]);
            y[(size_t)m * N + n] = vla__i8_out(isum, dx * w->scale[n], b ? b[n] : 0.0f);
        }
    }
}

/* One element W[r, c] of a weight matrix of any type, as fp32. */
static float vla__mat_at(const vla_mat *w, int r, int c) {
    const unsigned char *row = (const unsigned char *)w->data + (size_t)r * vla__row_bytes(w->type, w->cols);
    if (w->type == VLA_TYPE_F16) return vla_fp16_to_fp32(vla__rd16(row + 2 * (size_t)c));
    if (w->type == VLA_TYPE_Q8_0) {
        const unsigned char *blk = row + (size_t)(c / VLA_Q8_0_BLOCK) * VLA_Q8_0_BYTES;
        return vla_fp16_to_fp32(vla__rd16(blk)) * (float)(int8_t)blk[2 + c % VLA_Q8_0_BLOCK];
    }
    if (w->type == VLA_TYPE_I8) return w->scale[r] * (float)(signed char)row[c];
    return ((const float *)(const void *)row)[c];
}

VLA_DEF void vla_mat_row(float *y, const vla_mat *w, int r) {
    int k;
    if (w->type == VLA_TYPE_F32)
        VLA_MEMCPY(y, (const unsigned char *)w->data + (size_t)r * vla__row_bytes(w->type, w->cols), sizeof(float) * (size_t)w->cols);
    else
        for (k = 0; k < w->cols; k++) y[k] = vla__mat_at(w, r, k);
}

/* fp32 reference of any weight type (I8 widened). */
static void vla__linear_f32_ref(float *y, const float *x, const vla_mat *w, const float *b, int M) {
    int m, n;
    for (m = 0; m < M; m++)
        for (n = 0; n < w->rows; n++)
            y[(size_t)m * w->rows + n] = vla__dot_row_ref(x + (size_t)m * w->cols, w, n) + (b ? b[n] : 0.0f);
}

VLA_DEF void vla_linear_ref(float *y, const float *x, const vla_mat *w, const float *b, int M) {
    int m, n;
    if (w->type == VLA_TYPE_I8) { vla__linear_i8_ref(y, x, w, b, M); return; }
    for (m = 0; m < M; m++)
        for (n = 0; n < w->rows; n++)
            y[(size_t)m * w->rows + n] = vla__dot_row_ref(x + (size_t)m * w->cols, w, n) + (b ? b[n] : 0.0f);
}

/* Element j of the im2col row of output pixel (oy, ox): j = (ky*k + kx)*Cin + ci,
 * 0 in the padding. */
static float vla__patch_at(const float *x, int H, int W, int Cin, int k, int stride, int pad, int oy, int ox, int j) {
    int ci = j % Cin, kx = (j / Cin) % k, ky = j / Cin / k;
    int iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
    return (iy < 0 || iy >= H || ix < 0 || ix >= W) ? 0.0f : x[((size_t)iy * W + ix) * Cin + ci];
}

/* I8 convolution, reference: one activation scale for the whole call (a
 * picture): d_x = amax of x [H, W, Cin] / 127; each output pixel's im2col
 * row (padding 0) is quantized with it and meets the weight rows as in
 * vla__linear_i8_ref (int32 sum over the row, the same epilogue). */
static void vla__conv2d_i8_ref(float *y, const float *x, const vla_mat *w, const float *b, int H, int W, int Cin,
                               int k, int stride, int pad) {
    const int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1, K = k * k * Cin;
    const float dx = vla__i8_scale_of(x, H * W * Cin), id = vla__i8_inv(dx);
    int oy, ox, co, j;
    for (oy = 0; oy < Ho; oy++)
        for (ox = 0; ox < Wo; ox++)
            for (co = 0; co < w->rows; co++) {
                const signed char *q = (const signed char *)w->data + (size_t)co * K;
                int32_t isum = 0;
                for (j = 0; j < K; j++)
                    isum += VLA__I8_MUL(vla__i8_round(vla__patch_at(x, H, W, Cin, k, stride, pad, oy, ox, j) * id), q[j]);
                y[((size_t)oy * Wo + ox) * w->rows + co] = vla__i8_out(isum, dx * w->scale[co], b ? b[co] : 0.0f);
            }
}

/* fp32 reference of any weight type (I8 widened). */
static void vla__conv2d_f32_ref(float *y, const float *x, const vla_mat *w, const float *b, int H, int W, int Cin,
                                int k, int stride, int pad) {
    int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1, Cout = w->rows;
    int oy, ox, co, ky, kx, ci;
    for (oy = 0; oy < Ho; oy++)
        for (ox = 0; ox < Wo; ox++)
            for (co = 0; co < Cout; co++) {
                float acc = b ? b[co] : 0.0f; /* weight row co holds (ky, kx, ci) */
                for (ky = 0; ky < k; ky++)
                    for (kx = 0; kx < k; kx++) {
                        int iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                        for (ci = 0; ci < Cin; ci++)
                            acc += x[((size_t)iy * W + ix) * Cin + ci] * vla__mat_at(w, co, (ky * k + kx) * Cin + ci);
                    }
                y[((size_t)oy * Wo + ox) * Cout + co] = acc;
            }
}

VLA_DEF void vla_conv2d_ref(float *y, const float *x, const vla_mat *w, const float *b, int H, int W, int Cin, int k,
                            int stride, int pad) {
    if (w->type == VLA_TYPE_I8) vla__conv2d_i8_ref(y, x, w, b, H, W, Cin, k, stride, pad);
    else vla__conv2d_f32_ref(y, x, w, b, H, W, Cin, k, stride, pad);
}

VLA_DEF void vla_adaptive_maxpool2d(float *y, const float *x, int H, int W, int C, int oh, int ow) {
    int i, j, c, r, q;
    for (i = 0; i < oh; i++) {
        int r0 = (i * H) / oh, r1 = ((i + 1) * H + oh - 1) / oh;
        for (j = 0; j < ow; j++) {
            int c0 = (j * W) / ow, c1 = ((j + 1) * W + ow - 1) / ow;
            for (c = 0; c < C; c++) {
                float m = x[((size_t)r0 * W + c0) * C + c];
                for (r = r0; r < r1; r++)
                    for (q = c0; q < c1; q++) {
                        float v = x[((size_t)r * W + q) * C + c];
                        if (v > m || v != v) m = v; /* NaN propagates, as PyTorch */
                    }
                y[((size_t)i * ow + j) * C + c] = m;
            }
        }
    }
}

VLA_DEF void vla_bn_fold(float *w, float *b, const float *old_b, int cout, int k_per_out, const float *gamma,
                         const float *beta, const float *mean, const float *var, float eps) {
    int co, i;
    for (co = 0; co < cout; co++) {
        double s = (double)gamma[co] / VLA_SQRT((double)var[co] + (double)eps);
        for (i = 0; i < k_per_out; i++) w[(size_t)co * k_per_out + i] = (float)((double)w[(size_t)co * k_per_out + i] * s);
        b[co] = (float)((double)beta[co] + ((old_b ? (double)old_b[co] : 0.0) - (double)mean[co]) * s);
    }
}

VLA_DEF void vla_layernorm(float *y, const float *x, const float *g, const float *b, int M, int N, float eps) {
    int m, n;
    for (m = 0; m < M; m++) {
        const float *xr = x + (size_t)m * N;
        float *yr = y + (size_t)m * N;
        float mean = 0.0f, var = 0.0f, inv;
        for (n = 0; n < N; n++) mean += xr[n];
        mean /= (float)N;
        for (n = 0; n < N; n++) var += (xr[n] - mean) * (xr[n] - mean);
        var /= (float)N;
        inv = 1.0f / VLA_SQRTF(var + eps);
        for (n = 0; n < N; n++) yr[n] = (xr[n] - mean) * inv * (g ? g[n] : 1.0f) + (b ? b[n] : 0.0f);
    }
}

VLA_DEF void vla_softmax(float *x, int M, int N) {
    int m, n;
    for (m = 0; m < M; m++) {
        float *r = x + (size_t)m * N, mx = r[0], sum = 0.0f;
        for (n = 1; n < N; n++) if (r[n] > mx) mx = r[n];
        if (mx == VLA__NEG_INF) { /* every key masked: PyTorch gives NaN; we give zeros */
            for (n = 0; n < N; n++) r[n] = 0.0f;
            continue;
        }
        for (n = 0; n < N; n++) { r[n] = VLA_EXPF(r[n] - mx); sum += r[n]; }
        for (n = 0; n < N; n++) r[n] /= sum;
    }
}

VLA_DEF void vla_log_softmax(float *x, int N) {
    float mx = x[0], sum = 0.0f, lse;
    int n;
    for (n = 1; n < N; n++) if (x[n] > mx) mx = x[n];
    for (n = 0; n < N; n++) sum += VLA_EXPF(x[n] - mx);
    lse = mx + VLA_LOGF(sum);
    for (n = 0; n < N; n++) x[n] -= lse;
}

VLA_DEF void vla_gelu_erf(float *x, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + VLA_ERFF(x[i] * 0.70710678118654752f));
}

VLA_DEF void vla_gelu_tanh(float *x, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + VLA_TANHF(0.79788456080286536f * (v + 0.044715f * v * v * v)));
    }
}


VLA_DEF vla_status vla_embedding(float *y, const vla_mat *E, const int32_t *ids, int n) {
    int i;
    for (i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= E->rows) return VLA_ERR_RANGE;
        vla_mat_row(y + (size_t)i * E->cols, E, ids[i]);
    }
    return VLA_OK;
}

VLA_DEF void vla_attention_ref(float *out, int ldo, const float *q, int ldq, const float *k, int ldk, const float *v,
                               int ldv, int Lq, int Lk, int n_heads, int dh, const float *key_mask, int causal,
                               int causal_offset, float *scores) {
    int h, i, j, d;
    for (h = 0; h < n_heads; h++) {
        for (i = 0; i < Lq; i++) {
            float *s = scores + (size_t)i * Lk;
            for (j = 0; j < Lk; j++) {
                float acc = 0.0f;
                for (d = 0; d < dh; d++) acc += q[(size_t)i * ldq + h * dh + d] * k[(size_t)j * ldk + h * dh + d];
                if (key_mask) acc += key_mask[j];
                if (causal && j > i + causal_offset) acc = VLA__NEG_INF;
                s[j] = acc;
            }
        }
        vla_softmax(scores, Lq, Lk);
        for (i = 0; i < Lq; i++)
            for (d = 0; d < dh; d++) {
                float acc = 0.0f;
                for (j = 0; j < Lk; j++) acc += scores[(size_t)i * Lk + j] * v[(size_t)j * ldv + h * dh + d];
                out[(size_t)i * ldo + h * dh + d] = acc;
            }
    }
}

VLA_DEF void vla_quantize_q8_0(void *dst, const float *x, size_t n) {
    unsigned char *o = (unsigned char *)dst;
    size_t b, i;
    for (b = 0; b < n / VLA_Q8_0_BLOCK; b++) {
        const float *xb = x + b * VLA_Q8_0_BLOCK;
        float amax = 0.0f, d, id;
        uint16_t dh;
        for (i = 0; i < VLA_Q8_0_BLOCK; i++) if (VLA_FABSF(xb[i]) > amax) amax = VLA_FABSF(xb[i]);
        d = amax / 127.0f;
        dh = vla_fp32_to_fp16(d);
        d = vla_fp16_to_fp32(dh); /* quantize against the scale that is stored */
        id = d != 0.0f ? 1.0f / d : 0.0f;
        o[0] = (unsigned char)(dh & 0xff);
        o[1] = (unsigned char)(dh >> 8);
        for (i = 0; i < VLA_Q8_0_BLOCK; i++) {
            float v = xb[i] * id;
            int q = (int)(v < 0 ? v - 0.5f : v + 0.5f);
            if (q > 127) q = 127;
            if (q < -127) q = -127;
            o[2 + i] = (unsigned char)(int8_t)q;
        }
        o += VLA_Q8_0_BYTES;
    }
}

/* ==========================================================================
 * [I5] Kernels: fast paths
 *
 * Structure: a kernel entry point splits its work into ex->n_threads tasks
 * (through the caller's parallel-for) and each task runs a blocked loop
 * built on the small SIMD primitives below.  Every SIMD loop has a scalar
 * tail; with VLA_NO_SIMD only the tails remain.
 * ========================================================================== */

/* ---- MVE primitives (Cortex-M55/M85 Helium, fp32) ---------------------- */
#if defined(VLA__MVE)
static float vla__dot_f32_mve(const float *a, const float *b, int n) {
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
    int k = 0;
    for (; k < (n & ~7); k += 8) { /* two independent chains hide the FMA latency */
        s0 = vfmaq_f32(s0, vld1q_f32(a + k), vld1q_f32(b + k));
        s1 = vfmaq_f32(s1, vld1q_f32(a + k + 4), vld1q_f32(b + k + 4));
    }
    for (; k < n; k += 4) { /* 1..7 left; lanes past n load as 0.0f */
        mve_pred16_t p = vctp32q((uint32_t)(n - k));
        s0 = vfmaq_f32(s0, vldrwq_z_f32(a + k, p), vldrwq_z_f32(b + k, p));
    }
    s0 = vaddq_f32(s0, s1);
    return (vgetq_lane_f32(s0, 0) + vgetq_lane_f32(s0, 1)) + (vgetq_lane_f32(s0, 2) + vgetq_lane_f32(s0, 3));
}

static void vla__axpy_f32_mve(float *y, float a, const float *x, int n) {
    int k = 0;
    for (; k < (n & ~3); k += 4) vst1q_f32(y + k, vfmaq_n_f32(vld1q_f32(y + k), vld1q_f32(x + k), a));
    if (k < n) { /* 1..3 left: predicated load and store */
        mve_pred16_t p = vctp32q((uint32_t)(n - k));
        float32x4_t vy = vldrwq_z_f32(y + k, p);
        vstrwq_p_f32(y + k, vfmaq_n_f32(vy, vldrwq_z_f32(x + k, p), a), p);
    }
}
#endif /* VLA__MVE */

/* ---- RVV 1.0 primitives (inline assembly, VLEN-agnostic) ---------------- */
#if defined(VLA__RVV)
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 13)
#define VLA__RVV_CLOBBERS_DOT , "v8", "v9", "v10", "v11", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24"
#define VLA__RVV_CLOBBERS_AXPY , "v8", "v9", "v10", "v11", "v12", "v13", "v14", "v15", \
    "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23"
#else
#define VLA__RVV_CLOBBERS_DOT  /* GCC 12: see the note above */
#define VLA__RVV_CLOBBERS_AXPY
#endif
#if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 13)
#define VLA__RVV_CLOBBERS_I8 , "v8", "v9", "v10", "v11", "v12"
#else
#define VLA__RVV_CLOBBERS_I8
#endif

static float vla__dot_f32_rvv(const float *a, const float *b, int n) {
    size_t left = n > 0 ? (size_t)n : 0, vl;
    float r;
    /* v8..v11: partial sums (LMUL=4), v16..v19 / v20..v23: a and b strips,
     * v24: the reduction. */
    __asm__ volatile(
        "vsetvli   %[vl], zero, e32, m4, ta, ma\n\t"
        "vmv.v.i   v8, 0\n\t"
        "1:\n\t"
        "vsetvli   %[vl], %[left], e32, m4, tu, ma\n\t"
        "vle32.v   v16, (%[a])\n\t"
        "vle32.v   v20, (%[b])\n\t"
        "vfmacc.vv v8, v16, v20\n\t"
        "sub       %[left], %[left], %[vl]\n\t"
        "slli      %[vl], %[vl], 2\n\t"
        "add       %[a], %[a], %[vl]\n\t"
        "add       %[b], %[b], %[vl]\n\t"
        "bnez      %[left], 1b\n\t"
        "vsetvli   %[vl], zero, e32, m4, ta, ma\n\t"
        "vmv.s.x   v24, zero\n\t"
        "vfredusum.vs v24, v8, v24\n\t"
        "vfmv.f.s  %[r], v24\n\t"
        : [r] "=f"(r), [vl] "=&r"(vl), [left] "+r"(left), [a] "+r"(a), [b] "+r"(b)
        :
        : "memory" VLA__RVV_CLOBBERS_DOT);
    return r;
}

static void vla__axpy_f32_rvv(float *y, float a, const float *x, int n) {
    size_t left = n > 0 ? (size_t)n : 0, vl;
    if (left == 0) return;
    /* v8..v15: x strip, v16..v23: y strip (LMUL=8) */
    __asm__ volatile(
        "1:\n\t"
        "vsetvli   %[vl], %[left], e32, m8, ta, ma\n\t"
        "vle32.v   v8, (%[x])\n\t"
        "vle32.v   v16, (%[y])\n\t"
        "vfmacc.vf v16, %[a], v8\n\t"
        "vse32.v   v16, (%[y])\n\t"
        "sub       %[left], %[left], %[vl]\n\t"
        "slli      %[vl], %[vl], 2\n\t"
        "add       %[x], %[x], %[vl]\n\t"
        "add       %[y], %[y], %[vl]\n\t"
        "bnez      %[left], 1b\n\t"
        : [vl] "=&r"(vl), [left] "+r"(left), [x] "+r"(x), [y] "+r"(y)
        : [a] "f"(a)
        : "memory" VLA__RVV_CLOBBERS_AXPY);
}
#endif /* VLA__RVV */

/* sum_k a[k] b[k] */
static float vla__dot_f32(const float *a, const float *b, int n) {
    int k = 0;
    float acc = 0.0f;
#if defined(VLA__AVX2)
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m128 h;
    for (; k < (n & ~15); k += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k), _mm256_loadu_ps(b + k), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + k + 8), _mm256_loadu_ps(b + k + 8), s1);
    }
    s0 = _mm256_add_ps(s0, s1);
    h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
    acc = _mm_cvtss_f32(h);
#elif defined(VLA__NEON64) || defined(VLA__NEON32)
    float32x4_t s0 = vdupq_n_f32(0.0f), s1 = vdupq_n_f32(0.0f);
    float32x2_t t;
    for (; k < (n & ~7); k += 8) {
#if defined(__ARM_FEATURE_FMA)
        s0 = vfmaq_f32(s0, vld1q_f32(a + k), vld1q_f32(b + k));
        s1 = vfmaq_f32(s1, vld1q_f32(a + k + 4), vld1q_f32(b + k + 4));
#else
        s0 = vmlaq_f32(s0, vld1q_f32(a + k), vld1q_f32(b + k));
        s1 = vmlaq_f32(s1, vld1q_f32(a + k + 4), vld1q_f32(b + k + 4));
#endif
    }
    s0 = vaddq_f32(s0, s1);
    t = vadd_f32(vget_low_f32(s0), vget_high_f32(s0));
    t = vpadd_f32(t, t);
    acc = vget_lane_f32(t, 0);
#elif defined(VLA__MVE)
    acc = vla__dot_f32_mve(a, b, n);
    k = n;
#elif defined(VLA__RVV)
    acc = vla__dot_f32_rvv(a, b, n);
    k = n;
#endif
    for (; k < n; k++) acc += a[k] * b[k];
    return acc;
}

/* y[k] += a * x[k] */
static void vla__axpy_f32(float *y, float a, const float *x, int n) {
    int k = 0;
#if defined(VLA__AVX2)
    __m256 va = _mm256_set1_ps(a);
    for (; k < (n & ~7); k += 8) _mm256_storeu_ps(y + k, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + k), _mm256_loadu_ps(y + k)));
#elif defined(VLA__NEON64) || defined(VLA__NEON32)
    float32x4_t va = vdupq_n_f32(a);
    for (; k < (n & ~3); k += 4) vst1q_f32(y + k, vmlaq_f32(vld1q_f32(y + k), va, vld1q_f32(x + k)));
#elif defined(VLA__MVE)
    vla__axpy_f32_mve(y, a, x, n);
    k = n;
#elif defined(VLA__RVV)
    vla__axpy_f32_rvv(y, a, x, n);
    k = n;
#endif
    for (; k < n; k++) y[k] += a * x[k];
}

/* Rows [n0, n1) of y = x W^T + b for all M rows of x. */
static void vla__run(const vla_exec *ex, vla_task_fn fn, void *arg, int n) {
    int i;
    if (ex && ex->parallel && n > 1) ex->parallel(ex->parallel_user, fn, arg, n);
    else for (i = 0; i < n; i++) fn(arg, i);
}

static int vla__n_tasks(const vla_exec *ex) { return (ex && ex->n_threads > 1 && ex->parallel) ? ex->n_threads : 1; }

/* ---------------------------------------------------------------------------
 * vla_linear's fast paths: blocked fp32 GEMM and the int8 path
 * ---------------------------------------------------------------------------
 * Entry points (all static):
 *   vla__linear_fast(ex, y, x, w, b, M)    y[M,N] = x[M,K] W[N,K]^T + b in
 *                                          fp32 arithmetic; W is F32, F16
 *                                          or Q8_0 (the latter two converted
 *                                          to fp32 on the fly); other types
 *                                          go to vla_linear_ref.
 *   vla__linear_q8(ex, y, x, w, b, M)      Q8_0 weights: x quantized per
 *                                          block of 32 on the fly, int8 dot
 *                                          products; other weights go to
 *                                          vla__linear_fast.
 *   vla__linear_q8_ref(y, x, w, b, M)      the scalar definition of the int8
 *                                          path; vla__linear_q8 returns the
 *                                          same bits.
 *   vla__linear_i8(ex, y, x, w, b, M)      I8 weights (the default integer
 *                                          path, [M5]); vla__linear_i8_ref
 *                                          is its definition.
 *   vla__linear_stack_bytes(w, M, int8)    largest stack buffer one task of
 *                                          that call uses.
 *
 * MEMORY.  Nothing is allocated and no scratch is asked of the caller, so
 * vla_linear's signature stays.  Each task has at most one bounded stack
 * buffer (defaults; M-profile Cortex-M defaults in brackets):
 *     F32 weights, dot path              none
 *     F16 / Q8_0 weights, dot path       6 x 512 floats = 12 KiB   [2.25 KiB]
 *     small-K packed path                12 KiB                    [not used]
 *     int8 path                          15 KiB                    [4 KiB]
 *     I8 path                            32 KiB                    [4 KiB]
 * plus a few hundred bytes of locals.  Weights and activations are read in
 * place; W is never copied as a whole.
 *
 * ---------------------------------------------------------------------------
 * fp32, dot path (the default): dot-product form, W used in place
 * ---------------------------------------------------------------------------
 * y[m][n] is the dot product of row m of x and row n of W, both contiguous
 * along K.  The micro-kernel computes a 4 x 3 tile of y with 12 vector
 * accumulators running along K:
 *
 *           W rows n..n+2  (kc floats each, VW at a time)
 *        +----------------+
 *     x  | c00  c01  c02  |   per step of VW floats (16 AVX-512, 8 AVX2,
 *   rows | c10  c11  c12  |   4 NEON, 1 scalar): 3 loads of W, 4 of x,
 *   m..  | c20  c21  c22  |   12 FMAs; after the K loop 12 horizontal sums
 *   m+3  | c30  c31  c32  |   (4 at a time), then + bias or + y
 *        +----------------+
 *
 * 12 accumulators + 3 W vectors + 1 x vector are the 16 registers of AVX2
 * and armv7 NEON.  12 independent chains cover the FMA latency (4 cycles x
 * 2 pipes needs 8).  The loads must stay separate instructions: see
 * VLA__VREG.  Blocks run along K as Q8_0 blocks do, so converted F16/Q8_0
 * rows use the same kernel.  The cost of this form is one horizontal sum
 * per output and K block (~3 vector ops), small at K >= 256; short K goes
 * to the packed path below.  Rows of x left over (M % 4, and M = 1: GEMV)
 * use a 1 x 6 kernel that streams six W rows at once.
 *
 * Blocking, for one task owning rows [m0,m1) of x and rows [n0,n1) of W:
 *
 *   for each M block of mc rows      x block mc x kc <= VLA_GEMM_L2 (256 KiB)
 *     for each K block (kc <= 1024 floats on x86, 768 elsewhere, a multiple
 *                       of 32; 512 for F16/Q8_0)
 *       for each group of 6 W rows   6 x kc floats stay in L1/L2; F16/Q8_0
 *                                    rows are converted here, once per
 *                                    group, into the stack slab
 *         for each 4-row strip of x  two 4x3 tiles, 4 x kc floats of x
 *                                    streamed from L2
 *         for each remaining row     one 1x6 tile
 *       (a group or tile with fewer W rows repeats its last row and stores
 *       only the valid columns)
 *
 * The first K block stores sum + bias, later ones add to y.  The BART shapes
 * (M = 36..46, K = 768..3072) run one M block and 1 to 4 K blocks; the big
 * ResNet GEMMs (M in the thousands) run M blocks that keep x in L2 while a
 * task's W (Cout x kc, a few hundred KiB at most) is reread from L2/L3.
 *
 * ---------------------------------------------------------------------------
 * fp32, packed path: short K (K <= 128 from M = 32, K <= 384 from M = 256)
 * ---------------------------------------------------------------------------
 * Outer-product form, 6 rows of x x 2 vectors of y, over W^T micro-panels
 * packed on the stack; see the comment above vla__pack_wt.  Chosen by
 * vla__gemm_use_packed from measurements; never in scalar builds.
 *
 * ---------------------------------------------------------------------------
 * Threads
 * ---------------------------------------------------------------------------
 * The caller's parallel-for gets ex->n_threads tasks (fewer if there are
 * fewer tiles).  Each task owns a contiguous range of whole tiles along M
 * (strips of 4, or 6 in the packed path) or along N (groups of 6, 2 vectors
 * packed, 3 int8), whichever dimension has more: N for the transformer
 * (each task streams its share of W once), M for the early convolutions
 * (each task reads all of the small W and its own pixels).  Tasks write
 * disjoint parts of y.  Every output is computed by the same kernel, in the
 * same order, whatever the split, so results do not depend on the thread
 * count (the test checks this bit for bit).
 *
 * ---------------------------------------------------------------------------
 * int8 path (Q8_0 weights): quantize x per block of 32, integer dot products
 * ---------------------------------------------------------------------------
 *   x block:  d_x = amax/127 (fp32 scale, not rounded to fp16), q_x =
 *             round-half-away(x * (1/d_x)) in [-127, 127]; NaN -> 0.  Done
 *             by vla__q8_quant_row, one out-of-line function shared by the
 *             reference and the fast path.
 *   W block:  d_w (fp16), q_w in [-128, 127] (the file's bytes).
 *   y[m][n] = (float)( sum over blocks j, in order, of
 *                      (double)isum_j * (double)(d_w,j * d_x,j) ) + b[n]
 *   isum_j  = the exact int32 sum of the 32 products q_x q_w.
 *   The double accumulator makes the result immune to FMA contraction:
 *   |isum| < 2^17 and a float scale has 24 bits, so every product is exact
 *   in double and fused or unfused multiply-adds round alike.  Hence the
 *   fast path equals vla__linear_q8_ref bit for bit with any compiler and
 *   flags.  (FPUs without double use float and a volatile per term; see
 *   vla__q8acc.)
 *
 * Blocking: no K blocks (an output's block sequence stays in one
 * accumulator).  A task quantizes R rows of x at a time into its stack
 * buffer (R = VLA_GEMM_Q8_STACK / (1.125 K), a multiple of 4 when possible:
 * 16 rows at K = 768, 4 at K = 3072) and sweeps its W rows over them with a
 * 4 x 3 kernel (1 x 3 for the rest), reading Q8_0 blocks in place.  Rows too
 * long for the buffer (K > ~13600) take the fp32 path.  Per block and W
 * row: AVX2 abs/sign + maddubs + madd (dpbusd with AVX512-VNNI), NEON
 * vmull_s8/vmlal_s8 + vpadalq_s16 (vdotq_s32 with dotprod); the 4 partial
 * vectors of a W row are reduced together, scaled, and accumulated in
 * double (vectors on AVX2 and AArch64, scalar on armv7 and scalar builds).
 * Helium and RVV builds run the scalar int8 kernels.
 */
/* Tuning macros (defaults in brackets; the stack buffers are per task):
 *   VLA_GEMM_KC            longest K block of the dot path, floats [1024
 *                          on x86, 768 elsewhere]
 *   VLA_GEMM_KC_CVT        same for F16/Q8_0 rows, whose 6-row fp32 slab
 *                          is on the stack: 6 x 512 x 4 = 12 KiB [512]
 *   VLA_GEMM_PANEL_BYTES   packed W^T panel of the small-K path [12 KiB]
 *   VLA_GEMM_Q8_STACK      int8 path: quantized rows of x [15 KiB]
 *   VLA_GEMM_I8_STACK      I8 path: quantized rows of x [32 KiB; 64 KiB
 *                          with AVX-512 VNNI; 4 KiB on Cortex-M]; rows that do not fit run the
 *                          reference loop (same bits)
 *   VLA_GEMM_L2            bytes of x to keep per M block [256 KiB]
 *   VLA_GEMM_PREFETCH_BYTES  read-ahead of the Q8_0 int8 GEMV kernel [2048]
 *   VLA_GEMM_I8_PREFETCH_BYTES  read-ahead of the I8 GEMV (AVX-512 VNNI) [4096]
 * On Cortex-M (M-profile) the stack buffers default to 2-4 KiB. */
#if defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M')
#define VLA__GEMM_SMALL_STACK 1
#endif
#ifndef VLA_GEMM_KC
#if defined(VLA__AVX2)
#define VLA_GEMM_KC 1024 /* Zen 4: +8-10% at K = 1024 and 2048 over 768 */
#else
#define VLA_GEMM_KC 768 /* 6 W rows + 4 x rows = 30 KiB: fits a 32 KiB L1 */
#endif
#endif
#ifndef VLA_GEMM_L2
#define VLA_GEMM_L2 (256 * 1024)
#endif
#ifndef VLA_GEMM_Q8_STACK
#if defined(VLA__GEMM_SMALL_STACK)
#define VLA_GEMM_Q8_STACK 4096
#else
#define VLA_GEMM_Q8_STACK (15 * 1024)
#endif
#endif

#define VLA__MR 4 /* rows of x per micro-tile */
#define VLA__NR 3 /* rows of W per micro-tile */
#define VLA__NG 6 /* rows of W per group: two 4x3 tiles, or one 1x6 */
#ifndef VLA_GEMM_KC_CVT
#if defined(VLA__GEMM_SMALL_STACK)
#define VLA_GEMM_KC_CVT 96
#else
#define VLA_GEMM_KC_CVT 512
#endif
#endif

typedef char vla__check_gemm_kc[(VLA_GEMM_KC % 32 == 0 && VLA_GEMM_KC >= 32 && VLA_GEMM_KC_CVT % 32 == 0 &&
                                  VLA_GEMM_KC_CVT >= 32) ? 1 : -1];

/* Entry points that only some builds call (tests, benchmarks, an int8
 * switch) must not trip -Wunused-function in the others. */
#if defined(__GNUC__) || defined(__clang__)
#define VLA__MAYBE_UNUSED __attribute__((unused))
#else
#define VLA__MAYBE_UNUSED
#endif

#if defined(__GNUC__) || defined(__clang__)
#define VLA__NOINLINE __attribute__((noinline))
#elif defined(_MSC_VER)
#define VLA__NOINLINE __declspec(noinline)
#else
#define VLA__NOINLINE
#endif

/* ---------------------------------------------------------------------------
 * Vector layer: one fp32 vector type per target, VLA__VW lanes wide.  The
 * scalar build uses VW = 1 and the same kernels, so there is no separate
 * scalar kernel to keep in sync.
 * ------------------------------------------------------------------------- */
#if defined(VLA__AVX2) && defined(__AVX512F__)
typedef __m512 vla__vf;
#define VLA__VW 16
#define VLA__VZERO() _mm512_setzero_ps()
#define VLA__VLD(p) _mm512_loadu_ps(p)
#define VLA__VFMA(c, a, b) _mm512_fmadd_ps(a, b, c)
#define VLA__VADD(a, b) _mm512_add_ps(a, b)
#define VLA__VSET1(v) _mm512_set1_ps(v)
#define VLA__VST(p, v) _mm512_storeu_ps(p, v)
#define VLA__VMUL(a, b) _mm512_mul_ps(a, b)
#define VLA__VRELU(a) _mm512_max_ps(a, _mm512_setzero_ps()) /* a > 0 ? a : +0 (NaN, -0 -> +0) */
#define VLA__VHAS_MASK 1
typedef __mmask16 vla__vmask;
#define VLA__VMASK(n) ((__mmask16)((1u << (n)) - 1u))
#define VLA__VLDM(p, m) _mm512_maskz_loadu_ps(m, p)
#elif defined(VLA__AVX2)
typedef __m256 vla__vf;
#define VLA__VW 8
#define VLA__VZERO() _mm256_setzero_ps()
#define VLA__VLD(p) _mm256_loadu_ps(p)
#define VLA__VFMA(c, a, b) _mm256_fmadd_ps(a, b, c)
#define VLA__VADD(a, b) _mm256_add_ps(a, b)
#define VLA__VSET1(v) _mm256_set1_ps(v)
#define VLA__VST(p, v) _mm256_storeu_ps(p, v)
#define VLA__VMUL(a, b) _mm256_mul_ps(a, b)
#define VLA__VRELU(a) _mm256_max_ps(a, _mm256_setzero_ps())
#define VLA__VHAS_MASK 1
typedef __m256i vla__vmask;
#define VLA__VMASK(n) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VLA__VLDM(p, m) _mm256_maskload_ps(p, m)
#elif defined(VLA__NEON64) || defined(VLA__NEON32)
typedef float32x4_t vla__vf;
#define VLA__VW 4
#define VLA__VZERO() vdupq_n_f32(0.0f)
#define VLA__VLD(p) vld1q_f32(p)
#if defined(__ARM_FEATURE_FMA)
#define VLA__VFMA(c, a, b) vfmaq_f32(c, a, b)
#else
#define VLA__VFMA(c, a, b) vmlaq_f32(c, a, b)
#endif
#define VLA__VADD(a, b) vaddq_f32(a, b)
#define VLA__VSET1(v) vdupq_n_f32(v)
#define VLA__VST(p, v) vst1q_f32(p, v)
#define VLA__VMUL(a, b) vmulq_f32(a, b)
/* vmaxq_f32 would keep a NaN: the mask of a > 0 keeps a, else +0 */
#define VLA__VRELU(a) vreinterpretq_f32_u32(vandq_u32(vcgtq_f32(a, vdupq_n_f32(0.0f)), vreinterpretq_u32_f32(a)))
#else
typedef float vla__vf;
#define VLA__VW 1
#define VLA__VZERO() 0.0f
#define VLA__VLD(p) (*(p))
#define VLA__VFMA(c, a, b) ((c) + (a) * (b))
#define VLA__VADD(a, b) ((a) + (b))
#define VLA__VSET1(v) (v)
#define VLA__VST(p, v) (*(p) = (v))
#define VLA__VMUL(a, b) ((a) * (b))
#define VLA__VRELU(a) ((a) > 0.0f ? (a) : 0.0f)
#endif

/* ---------------------------------------------------------------------------
 * Element-wise ops on the vector layer (each lane computes exactly what the
 * scalar loop in its comment computes: the same bits on every target)
 * ------------------------------------------------------------------------- */

/* x[i] = x[i] > 0 ? x[i] : 0 (a NaN or -0 becomes +0) */
VLA_DEF void vla_relu(float *x, size_t n) {
    size_t i = 0;
    for (; i + VLA__VW <= n; i += VLA__VW) VLA__VST(x + i, VLA__VRELU(VLA__VLD(x + i)));
    for (; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

/* y[i] = a[i] + b[i]; y may be a (or b): each vector is loaded before it is stored */
VLA_DEF void vla_add(float *y, const float *a, const float *b, size_t n) {
    size_t i = 0;
    for (; i + VLA__VW <= n; i += VLA__VW) VLA__VST(y + i, VLA__VADD(VLA__VLD(a + i), VLA__VLD(b + i)));
    for (; i < n; i++) y[i] = a[i] + b[i];
}

/* y[oy, ox, c] = (sum over the s x s window, row by row from 0) * (1 / s^2);
 * x [H, W, C] channels-last, y [H/s, W/s, C]. */
VLA_DEF void vla_avgpool2d(float *y, const float *x, int H, int W, int C, int s) {
    int Ho = H / s, Wo = W / s, oy, ox, c, i, j;
    const float inv = 1.0f / (float)(s * s);
    for (oy = 0; oy < Ho; oy++)
        for (ox = 0; ox < Wo; ox++) {
            float *yo = y + ((size_t)oy * Wo + ox) * C;
            const float *x0 = x + ((size_t)(oy * s) * W + (size_t)ox * s) * C;
            for (c = 0; c + VLA__VW <= C; c += VLA__VW) {
                vla__vf acc = VLA__VZERO();
                for (i = 0; i < s; i++)
                    for (j = 0; j < s; j++) acc = VLA__VADD(acc, VLA__VLD(x0 + ((size_t)i * W + j) * C + c));
                VLA__VST(yo + c, VLA__VMUL(acc, VLA__VSET1(inv)));
            }
            for (; c < C; c++) {
                float acc = 0.0f;
                for (i = 0; i < s; i++)
                    for (j = 0; j < s; j++) acc += x0[((size_t)i * W + j) * C + c];
                yo[c] = acc * inv;
            }
        }
}

/* Helium (MVE: 8 vector registers, a 4x3 tile would spill) and RVV (GCC 12
 * has no RVV intrinsics): the blocked loops below call the header's own
 * vla__dot_f32 for those targets, one output at a time, instead of the
 * register-tiled kernels. */
#if VLA__VW == 1 && (defined(VLA__MVE) || defined(VLA__RVV))
#define VLA__GEMM_DOTLOOP 1
#endif

/* Hint that p will be read soon (no fault on any address). */
#if defined(__GNUC__) || defined(__clang__)
#define VLA__PREFETCH(p) __builtin_prefetch(p)
#else
#define VLA__PREFETCH(p) ((void)0)
#endif
/* Prefetch distance of the int8 GEMV kernel: streaming a 41 MB Q8_0 lm head
 * from DRAM went from 6.5 to 9.1 GB/s on Zen 4 with 2-3 KB (1 KB and
 * 4 KB were worse; the f32 kernels stream at full speed without it). */
#ifndef VLA_GEMM_PREFETCH_BYTES
#define VLA_GEMM_PREFETCH_BYTES 2048
#endif
/* The I8 GEMV's (one decode step of an I8 model, bart-base shapes, Zen 5, 1
 * thread): 5.0 ms per greedy token without it, 4.5 at 1 KB, 3.8 at 2 KB,
 * 3.5 at 4 KB, 3.6-3.7 at 8 and 16 KB. */
#ifndef VLA_GEMM_I8_PREFETCH_BYTES
#define VLA_GEMM_I8_PREFETCH_BYTES 4096
#endif

/* VLA__VREG(v): v must live in a register here.  Without it GCC folds the
 * W (or x) loads of the 4x3 kernel into the 12 FMAs as memory operands
 * (12-16 loads per step instead of 7) and the kernel becomes load-bound:
 * half the speed on Zen 4.  An empty asm that "modifies" v forbids that. */
#if (defined(__GNUC__) || defined(__clang__)) && defined(VLA__AVX2)
#define VLA__VREG(v) __asm__("" : "+v"(v))
#elif (defined(__GNUC__) || defined(__clang__)) && (defined(VLA__NEON64) || defined(VLA__NEON32))
#define VLA__VREG(v) __asm__("" : "+w"(v))
#else
#define VLA__VREG(v) ((void)0)
#endif

/* out[0..3] = horizontal sums of a, b, c, d (4 at a time: the shuffles are
 * shared, about 1.3 vector ops per sum on AVX2). */
static void vla__vhsum4(vla__vf a, vla__vf b, vla__vf c, vla__vf d, float *out) {
#if defined(VLA__AVX2)
    __m256 a8, b8, c8, d8, t0, t1;
#if defined(__AVX512F__)
    /* 16 -> 8 lanes: add the upper 256 bits.  AVX512F has no float 256-bit
     * extract without DQ, so go through the double view; the zero-masked
     * form with a full mask for both halves because g++ 12 warns
     * (maybe-uninitialized) inside the unmasked extract and the cast. */
#define VLA__H256(v, i) _mm256_castpd_ps(_mm512_maskz_extractf64x4_pd(0xF, _mm512_castps_pd(v), i))
    a8 = _mm256_add_ps(VLA__H256(a, 0), VLA__H256(a, 1));
    b8 = _mm256_add_ps(VLA__H256(b, 0), VLA__H256(b, 1));
    c8 = _mm256_add_ps(VLA__H256(c, 0), VLA__H256(c, 1));
    d8 = _mm256_add_ps(VLA__H256(d, 0), VLA__H256(d, 1));
#undef VLA__H256
#else
    a8 = a; b8 = b; c8 = c; d8 = d;
#endif
    /* hadd(a,b) = [a01 a23 b01 b23 | a45 a67 b45 b67]; twice more and the
     * two 128-bit halves hold partial sums of a, b, c, d in order. */
    t0 = _mm256_hadd_ps(a8, b8);
    t1 = _mm256_hadd_ps(c8, d8);
    t0 = _mm256_hadd_ps(t0, t1);
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(t0), _mm256_extractf128_ps(t0, 1)));
#elif defined(VLA__NEON64)
    vst1q_f32(out, vpaddq_f32(vpaddq_f32(a, b), vpaddq_f32(c, d)));
#elif defined(VLA__NEON32)
    /* no vpaddq on armv7: fold halves, then pairwise add on 64-bit vectors */
    float32x2_t sa = vadd_f32(vget_low_f32(a), vget_high_f32(a)), sb = vadd_f32(vget_low_f32(b), vget_high_f32(b));
    float32x2_t sc = vadd_f32(vget_low_f32(c), vget_high_f32(c)), sd = vadd_f32(vget_low_f32(d), vget_high_f32(d));
    vst1q_f32(out, vcombine_f32(vpadd_f32(sa, sb), vpadd_f32(sc, sd)));
#else
    out[0] = a; out[1] = b; out[2] = c; out[3] = d;
#endif
}

/* Stream vectors: the small-M kernels (vla__k4x1, vla__k1x1) read W once,
 * from DRAM in a real decoder.  On x86 they use 256-bit vectors even when
 * the compiler targets AVX-512: Zen 4 streamed a cold 768 x 768 W at
 * 16-18 GB/s with 512-bit loads and 24 GB/s with 256-bit ones when W sits
 * at a 32-byte (not 64-byte) boundary, as GGUF's default alignment gives
 * (a 64-byte load then splits two cache lines every time). */
#if defined(VLA__AVX2)
typedef __m256 vla__sv;
#define VLA__SW 8
#define VLA__SZERO() _mm256_setzero_ps()
#define VLA__SLD(p) _mm256_loadu_ps(p)
#define VLA__SFMA(c, a, b) _mm256_fmadd_ps(a, b, c)
#define VLA__SADD(a, b) _mm256_add_ps(a, b)
#define VLA__SHAS_MASK 1
typedef __m256i vla__smask;
#define VLA__SMASK(n) _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
#define VLA__SLDM(p, m) _mm256_maskload_ps(p, m)
#if defined(__GNUC__) || defined(__clang__)
#define VLA__SREG(v) __asm__("" : "+v"(v))
#else
#define VLA__SREG(v) ((void)0)
#endif
static void vla__shsum4(__m256 a, __m256 b, __m256 c, __m256 d, float *out) {
    __m256 t = _mm256_hadd_ps(_mm256_hadd_ps(a, b), _mm256_hadd_ps(c, d));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1)));
}
#else
typedef vla__vf vla__sv;
#define VLA__SW VLA__VW
#define VLA__SZERO() VLA__VZERO()
#define VLA__SLD(p) VLA__VLD(p)
#define VLA__SFMA(c, a, b) VLA__VFMA(c, a, b)
#define VLA__SADD(a, b) VLA__VADD(a, b)
#define VLA__SREG(v) VLA__VREG(v)
#define vla__shsum4 vla__vhsum4
#endif

/* ---------------------------------------------------------------------------
 * fp32 micro-kernels.  x rows have stride ldx, W rows stride ldw (floats),
 * y rows stride ldy.  nr (1..3) valid W rows: missing ones repeat the last
 * row and are not stored.  first: store sum + bias (bias may be NULL),
 * otherwise add the sum to y.
 * ------------------------------------------------------------------------- */
static void vla__store_tile(float *y, size_t ldy, float s[VLA__NR][4], int mr, int nr, const float *bias, int first) {
    int m, n;
    for (m = 0; m < mr; m++) {
        float *ym = y + (size_t)m * ldy;
        for (n = 0; n < nr; n++) ym[n] = first ? s[n][m] + (bias ? bias[n] : 0.0f) : ym[n] + s[n][m];
    }
}

static void vla__k4x3(float *y, size_t ldy, const float *x, size_t ldx, const float *w, size_t ldw, size_t kc, int nr,
                      const float *bias, int first) {
    const float *x0 = x, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
    const float *w0 = w, *w1 = nr > 1 ? w0 + ldw : w0, *w2 = nr > 2 ? w1 + ldw : w1;
    vla__vf c00 = VLA__VZERO(), c01 = VLA__VZERO(), c02 = VLA__VZERO(), c10 = VLA__VZERO(), c11 = VLA__VZERO(),
            c12 = VLA__VZERO(), c20 = VLA__VZERO(), c21 = VLA__VZERO(), c22 = VLA__VZERO(), c30 = VLA__VZERO(),
            c31 = VLA__VZERO(), c32 = VLA__VZERO(), a, b0, b1, b2;
    float s[VLA__NR][4];
    size_t k;
    for (k = 0; k < (kc & ~(size_t)(VLA__VW - 1)); k += VLA__VW) {
        b0 = VLA__VLD(w0 + k); b1 = VLA__VLD(w1 + k); b2 = VLA__VLD(w2 + k);
        VLA__VREG(b0); VLA__VREG(b1); VLA__VREG(b2);
        a = VLA__VLD(x0 + k); VLA__VREG(a);
        c00 = VLA__VFMA(c00, a, b0); c01 = VLA__VFMA(c01, a, b1); c02 = VLA__VFMA(c02, a, b2);
        a = VLA__VLD(x1 + k); VLA__VREG(a);
        c10 = VLA__VFMA(c10, a, b0); c11 = VLA__VFMA(c11, a, b1); c12 = VLA__VFMA(c12, a, b2);
        a = VLA__VLD(x2 + k); VLA__VREG(a);
        c20 = VLA__VFMA(c20, a, b0); c21 = VLA__VFMA(c21, a, b1); c22 = VLA__VFMA(c22, a, b2);
        a = VLA__VLD(x3 + k); VLA__VREG(a);
        c30 = VLA__VFMA(c30, a, b0); c31 = VLA__VFMA(c31, a, b1); c32 = VLA__VFMA(c32, a, b2);
    }
#if defined(VLA__VHAS_MASK)
    if (k < kc) { /* x86: the last partial vector through masked loads */
        vla__vmask mk = VLA__VMASK(kc - k);
        b0 = VLA__VLDM(w0 + k, mk); b1 = VLA__VLDM(w1 + k, mk); b2 = VLA__VLDM(w2 + k, mk);
        a = VLA__VLDM(x0 + k, mk);
        c00 = VLA__VFMA(c00, a, b0); c01 = VLA__VFMA(c01, a, b1); c02 = VLA__VFMA(c02, a, b2);
        a = VLA__VLDM(x1 + k, mk);
        c10 = VLA__VFMA(c10, a, b0); c11 = VLA__VFMA(c11, a, b1); c12 = VLA__VFMA(c12, a, b2);
        a = VLA__VLDM(x2 + k, mk);
        c20 = VLA__VFMA(c20, a, b0); c21 = VLA__VFMA(c21, a, b1); c22 = VLA__VFMA(c22, a, b2);
        a = VLA__VLDM(x3 + k, mk);
        c30 = VLA__VFMA(c30, a, b0); c31 = VLA__VFMA(c31, a, b1); c32 = VLA__VFMA(c32, a, b2);
        k = kc;
    }
#endif
    vla__vhsum4(c00, c10, c20, c30, s[0]);
    vla__vhsum4(c01, c11, c21, c31, s[1]);
    vla__vhsum4(c02, c12, c22, c32, s[2]);
    for (; k < kc; k++) { /* scalar tail (NEON) */
        s[0][0] += x0[k] * w0[k]; s[1][0] += x0[k] * w1[k]; s[2][0] += x0[k] * w2[k];
        s[0][1] += x1[k] * w0[k]; s[1][1] += x1[k] * w1[k]; s[2][1] += x1[k] * w2[k];
        s[0][2] += x2[k] * w0[k]; s[1][2] += x2[k] * w1[k]; s[2][2] += x2[k] * w2[k];
        s[0][3] += x3[k] * w0[k]; s[1][3] += x3[k] * w1[k]; s[2][3] += x3[k] * w2[k];
    }
    vla__store_tile(y, ldy, s, 4, nr, bias, first);
}

/* One row of x against up to 6 rows of W (GEMV and the last M % 4 rows).
 * For M = 1 nothing is reused, the kernel just streams W: six rows in
 * flight (6 FMA chains, 1 load of x per 6 FMAs) reach OpenBLAS's sgemv on
 * Zen 4, where 3 rows with 2 chains each stayed 10-15% behind.  nr (1..6)
 * valid rows: missing ones repeat the last row and are not stored. */
static void vla__k1x6(float *y, const float *x, const float *w, size_t ldw, size_t kc, int nr, const float *bias,
                      int first) {
    const float *w0 = w, *w1 = nr > 1 ? w0 + ldw : w0, *w2 = nr > 2 ? w1 + ldw : w1, *w3 = nr > 3 ? w2 + ldw : w2,
                *w4 = nr > 4 ? w3 + ldw : w3, *w5 = nr > 5 ? w4 + ldw : w4;
    vla__vf c0 = VLA__VZERO(), c1 = VLA__VZERO(), c2 = VLA__VZERO(), c3 = VLA__VZERO(), c4 = VLA__VZERO(),
            c5 = VLA__VZERO(), a;
    float t[8];
    size_t k;
    int n;
    for (k = 0; k < (kc & ~(size_t)(VLA__VW - 1)); k += VLA__VW) {
        a = VLA__VLD(x + k); VLA__VREG(a);
        c0 = VLA__VFMA(c0, a, VLA__VLD(w0 + k)); c1 = VLA__VFMA(c1, a, VLA__VLD(w1 + k));
        c2 = VLA__VFMA(c2, a, VLA__VLD(w2 + k)); c3 = VLA__VFMA(c3, a, VLA__VLD(w3 + k));
        c4 = VLA__VFMA(c4, a, VLA__VLD(w4 + k)); c5 = VLA__VFMA(c5, a, VLA__VLD(w5 + k));
    }
#if defined(VLA__VHAS_MASK)
    if (k < kc) {
        vla__vmask mk = VLA__VMASK(kc - k);
        a = VLA__VLDM(x + k, mk);
        c0 = VLA__VFMA(c0, a, VLA__VLDM(w0 + k, mk)); c1 = VLA__VFMA(c1, a, VLA__VLDM(w1 + k, mk));
        c2 = VLA__VFMA(c2, a, VLA__VLDM(w2 + k, mk)); c3 = VLA__VFMA(c3, a, VLA__VLDM(w3 + k, mk));
        c4 = VLA__VFMA(c4, a, VLA__VLDM(w4 + k, mk)); c5 = VLA__VFMA(c5, a, VLA__VLDM(w5 + k, mk));
        k = kc;
    }
#endif
    vla__vhsum4(c0, c1, c2, c3, t);
    vla__vhsum4(c4, c5, c5, c5, t + 4);
    for (; k < kc; k++) { /* scalar tail (NEON) */
        t[0] += x[k] * w0[k]; t[1] += x[k] * w1[k]; t[2] += x[k] * w2[k];
        t[3] += x[k] * w3[k]; t[4] += x[k] * w4[k]; t[5] += x[k] * w5[k];
    }
    for (n = 0; n < nr; n++) y[n] = first ? t[n] + (bias ? bias[n] : 0.0f) : y[n] + t[n];
}

/* Streaming kernels for small M (see vla__gemm_f32_rect): one W row against
 * 4 rows of x, or against 1.  Each W vector is loaded once (kept in a
 * register) and used by every x row, so W is read as a single sequential
 * stream; stream vectors (vla__sv: 256-bit on x86). */
static void vla__k4x1(float *out, const float *x, size_t ldx, const float *w, size_t kc) {
    const float *x0 = x, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx;
    vla__sv c0 = VLA__SZERO(), c1 = VLA__SZERO(), c2 = VLA__SZERO(), c3 = VLA__SZERO(), d0 = VLA__SZERO(),
            d1 = VLA__SZERO(), d2 = VLA__SZERO(), d3 = VLA__SZERO(), b, e;
    size_t k;
    for (k = 0; k < (kc & ~(size_t)(2 * VLA__SW - 1)); k += 2 * VLA__SW) {
        b = VLA__SLD(w + k); e = VLA__SLD(w + k + VLA__SW);
        VLA__SREG(b); VLA__SREG(e);
        c0 = VLA__SFMA(c0, VLA__SLD(x0 + k), b); d0 = VLA__SFMA(d0, VLA__SLD(x0 + k + VLA__SW), e);
        c1 = VLA__SFMA(c1, VLA__SLD(x1 + k), b); d1 = VLA__SFMA(d1, VLA__SLD(x1 + k + VLA__SW), e);
        c2 = VLA__SFMA(c2, VLA__SLD(x2 + k), b); d2 = VLA__SFMA(d2, VLA__SLD(x2 + k + VLA__SW), e);
        c3 = VLA__SFMA(c3, VLA__SLD(x3 + k), b); d3 = VLA__SFMA(d3, VLA__SLD(x3 + k + VLA__SW), e);
    }
    if (k < (kc & ~(size_t)(VLA__SW - 1))) {
        b = VLA__SLD(w + k);
        VLA__SREG(b);
        c0 = VLA__SFMA(c0, VLA__SLD(x0 + k), b); c1 = VLA__SFMA(c1, VLA__SLD(x1 + k), b);
        c2 = VLA__SFMA(c2, VLA__SLD(x2 + k), b); c3 = VLA__SFMA(c3, VLA__SLD(x3 + k), b);
        k += VLA__SW;
    }
#if defined(VLA__SHAS_MASK)
    if (k < kc) {
        vla__smask mk = VLA__SMASK(kc - k);
        b = VLA__SLDM(w + k, mk);
        VLA__SREG(b);
        d0 = VLA__SFMA(d0, VLA__SLDM(x0 + k, mk), b); d1 = VLA__SFMA(d1, VLA__SLDM(x1 + k, mk), b);
        d2 = VLA__SFMA(d2, VLA__SLDM(x2 + k, mk), b); d3 = VLA__SFMA(d3, VLA__SLDM(x3 + k, mk), b);
        k = kc;
    }
#endif
    vla__shsum4(VLA__SADD(c0, d0), VLA__SADD(c1, d1), VLA__SADD(c2, d2), VLA__SADD(c3, d3), out);
    for (; k < kc; k++) { /* scalar tail (NEON) */
        out[0] += x0[k] * w[k]; out[1] += x1[k] * w[k]; out[2] += x2[k] * w[k]; out[3] += x3[k] * w[k];
    }
}

static float vla__k1x1(const float *x, const float *w, size_t kc) {
    vla__sv c0 = VLA__SZERO(), c1 = VLA__SZERO(), c2 = VLA__SZERO(), c3 = VLA__SZERO();
    float t[4];
    size_t k;
    for (k = 0; k < (kc & ~(size_t)(4 * VLA__SW - 1)); k += 4 * VLA__SW) {
        c0 = VLA__SFMA(c0, VLA__SLD(x + k), VLA__SLD(w + k));
        c1 = VLA__SFMA(c1, VLA__SLD(x + k + VLA__SW), VLA__SLD(w + k + VLA__SW));
        c2 = VLA__SFMA(c2, VLA__SLD(x + k + 2 * VLA__SW), VLA__SLD(w + k + 2 * VLA__SW));
        c3 = VLA__SFMA(c3, VLA__SLD(x + k + 3 * VLA__SW), VLA__SLD(w + k + 3 * VLA__SW));
    }
    for (; k < (kc & ~(size_t)(VLA__SW - 1)); k += VLA__SW) c0 = VLA__SFMA(c0, VLA__SLD(x + k), VLA__SLD(w + k));
#if defined(VLA__SHAS_MASK)
    if (k < kc) {
        vla__smask mk = VLA__SMASK(kc - k);
        c1 = VLA__SFMA(c1, VLA__SLDM(x + k, mk), VLA__SLDM(w + k, mk));
        k = kc;
    }
#endif
    vla__shsum4(VLA__SADD(c0, c1), VLA__SADD(c2, c3), c0, c0, t);
    t[0] += t[1];
    for (; k < kc; k++) t[0] += x[k] * w[k];
    return t[0];
}

/* ---------------------------------------------------------------------------
 * Conversion of F16 / Q8_0 weight rows to fp32 (the slab of the fp32 path).
 * ------------------------------------------------------------------------- */

/* fp16 -> fp32, exact for every input (subnormals through an int -> float
 * conversion, so flush-to-zero FPUs such as armv7 NEON get them right too).
 * Same value as vla_fp16_to_fp32, without its loop. */
static float vla__h2f(uint16_t h) {
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
    float f;
    if (e == 0) {
        f = (float)m * 5.9604644775390625e-8f; /* m * 2^-24 */
        return (h & 0x8000u) ? -f : f;
    }
    bits = ((uint32_t)(h & 0x8000u) << 16) | (e == 31 ? 0x7f800000u : (e + 112u) << 23) | (m << 13);
    VLA_MEMCPY(&f, &bits, 4);
    return f;
}

/* dst[r][0..kc) = W[n0 + r][k0 .. k0 + kc) as fp32, r < nr; row stride kc.
 * For Q8_0, k0 and kc are multiples of 32 (K is). */
static void vla__cvt_rows(float *dst, const vla_mat *w, int n0, int nr, int k0, size_t kc) {
    size_t rb = vla__row_bytes(w->type, w->cols), k;
    int r;
    for (r = 0; r < nr; r++) {
        const unsigned char *row = (const unsigned char *)w->data + (size_t)(n0 + r) * rb;
        float *d = dst + (size_t)r * kc;
        if (w->type == VLA_TYPE_F16) {
            const unsigned char *h = row + 2 * (size_t)k0;
            k = 0;
#if defined(VLA__AVX2) && defined(__F16C__) /* also on AVX-512: g++ 12 warns inside _mm512_cvtph_ps */
            for (; k < (kc & ~(size_t)7); k += 8)
                _mm256_storeu_ps(d + k, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(h + 2 * k))));
#elif defined(VLA__NEON64)
            for (; k < (kc & ~(size_t)3); k += 4) {
                uint16x4_t u = vreinterpret_u16_u8(vld1_u8(h + 2 * k)); /* byte load: any alignment */
                vst1q_f32(d + k, vcvt_f32_f16(vreinterpret_f16_u16(u)));
            }
#endif
            for (; k < kc; k++) d[k] = vla__h2f(vla__rd16(h + 2 * k));
        } else if (w->type == VLA_TYPE_I8) { /* widened: scale * q */
            const signed char *q = (const signed char *)(const void *)row + k0;
            const float dd = w->scale[n0 + r];
            for (k = 0; k < kc; k++) d[k] = dd * (float)q[k];
        } else { /* Q8_0 */
            const unsigned char *blk = row + (size_t)(k0 / VLA_Q8_0_BLOCK) * VLA_Q8_0_BYTES;
            size_t j;
            for (j = 0; j < kc; j += VLA_Q8_0_BLOCK, blk += VLA_Q8_0_BYTES) {
                float dd = vla__h2f(vla__rd16(blk));
                const signed char *q = (const signed char *)(const void *)(blk + 2);
                float *o = d + j;
#if defined(VLA__AVX2)
                __m256 vd = _mm256_set1_ps(dd);
                for (k = 0; k < 32; k += 8)
                    _mm256_storeu_ps(o + k, _mm256_mul_ps(vd, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(
                                                                  _mm_loadl_epi64((const __m128i *)(const void *)(q + k))))));
#elif defined(VLA__NEON64) || defined(VLA__NEON32)
                for (k = 0; k < 32; k += 8) {
                    int16x8_t h16 = vmovl_s8(vld1_s8((const int8_t *)q + k));
                    vst1q_f32(o + k, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(h16))), dd));
                    vst1q_f32(o + k + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_high_s16(h16))), dd));
                }
#else
                for (k = 0; k < 32; k++) o[k] = dd * (float)q[k];
#endif
            }
        }
    }
}

/* ---------------------------------------------------------------------------
 * fp32 driver: the blocked loops of the header comment over one task's
 * rectangle [m0,m1) x [n0,n1) of y.
 * ------------------------------------------------------------------------- */

/* K block: K itself up to limit (VLA_GEMM_KC, or VLA_GEMM_KC_CVT for
 * converted rows), else K split into equal parts rounded up to a multiple of
 * 32 (limit 768: K = 3072 -> 4 x 768, 2048 -> 704+704+640). */
static size_t vla__gemm_kc(int K, size_t limit) {
    size_t nk, kc;
    if ((size_t)K <= limit) return (size_t)K;
    nk = ((size_t)K + limit - 1) / limit;
    kc = ((size_t)K + nk - 1) / nk;
    return (kc + 31) & ~(size_t)31;
}

/* Below this many rows of x (the whole call's M) the dot path streams W
 * one row at a time instead of tiling: see vla__gemm_f32_rect. */
#ifndef VLA_GEMM_STREAM_M
#define VLA_GEMM_STREAM_M 8
#endif

/* Store v for row m, column c of the current group. */
static void vla__put(float *y, float v, const float *bn, int r, int first) {
    *y = first ? v + (bn ? bn[r] : 0.0f) : *y + v;
}

/* slab: VLA__NG * VLA_GEMM_KC_CVT floats for F16/Q8_0 weights, NULL for F32.
 * stream (F32 W and M < VLA_GEMM_STREAM_M: decoding): W is read row after
 * row, each row against every x row (4x1 strips, then 1x1), and not cut
 * into K blocks.  Tiles read 3-6 rows at once, which is what a
 * cache-resident W wants (5 x 768 x 768: 85 GFLOP/s tiled, 49 streamed on
 * Zen 4), but a decoder's weights (~200 MB at fp32) come from DRAM at every
 * step, and there one sequential stream is what the prefetchers follow:
 * 1 x 768 x 50465 ran at 7.8 GFLOP/s with 6 rows at once, 11.9 streamed
 * (24 GB/s), 5 x 768 x 50465 at 23 tiled, 31-38 streamed. */
static void vla__gemm_f32_rect(float *y, const float *x, const vla_mat *w, const float *b, int m0, int m1, int n0,
                               int n1, float *slab, int stream) {
    const size_t K = (size_t)w->cols, N = (size_t)w->rows;
    const size_t kcb = stream && w->type == VLA_TYPE_F32
                           ? K
                           : vla__gemm_kc(w->cols, w->type == VLA_TYPE_F32 ? VLA_GEMM_KC : VLA_GEMM_KC_CVT);
    size_t mc = VLA_GEMM_L2 / (kcb * sizeof(float)), k0, kc;
    int mb, me, n, m, nr;
    mc = mc < VLA__MR ? VLA__MR : mc & ~(size_t)(VLA__MR - 1);
    for (mb = m0; mb < m1; mb = me) {
        me = (size_t)(m1 - mb) > mc ? mb + (int)mc : m1;
        for (k0 = 0; k0 < K; k0 += kc) {
            const int first = k0 == 0;
            kc = K - k0 < kcb ? K - k0 : kcb;
            for (n = n0; n < n1; n += VLA__NG) {
                const float *wp, *bn = first && b ? b + n : NULL;
                size_t ldw;
                nr = n1 - n < VLA__NG ? n1 - n : VLA__NG;
                if (w->type == VLA_TYPE_F32) {
                    wp = (const float *)w->data + (size_t)n * K + k0;
                    ldw = K;
                } else {
                    vla__cvt_rows(slab, w, n, nr, (int)k0, kc);
                    wp = slab;
                    ldw = kc;
                }
#if defined(VLA__GEMM_DOTLOOP)
                for (m = mb; m < me; m++) {
                    int r;
                    float *ym = y + (size_t)m * N + n;
                    for (r = 0; r < nr; r++) {
                        float v = vla__dot_f32(x + (size_t)m * K + k0, wp + (size_t)r * ldw, (int)kc);
                        ym[r] = first ? v + (bn ? bn[r] : 0.0f) : ym[r] + v;
                    }
                }
                continue; /* the tiled kernels below stay compiled, unused */
#endif
                if (stream) {
                    int r;
                    for (r = 0; r < nr; r++) {
                        const float *wr = wp + (size_t)r * ldw;
                        for (m = mb; m + VLA__MR <= me; m += VLA__MR) {
                            float o[4];
                            int q;
                            vla__k4x1(o, x + (size_t)m * K + k0, K, wr, kc);
                            for (q = 0; q < VLA__MR; q++) vla__put(y + (size_t)(m + q) * N + n + r, o[q], bn, r, first);
                        }
                        for (; m < me; m++)
                            vla__put(y + (size_t)m * N + n + r, vla__k1x1(x + (size_t)m * K + k0, wr, kc), bn, r, first);
                    }
                    continue;
                }
                for (m = mb; m + VLA__MR <= me; m += VLA__MR) {
                    float *yt = y + (size_t)m * N + n;
                    const float *xt = x + (size_t)m * K + k0;
                    vla__k4x3(yt, N, xt, K, wp, ldw, kc, nr < VLA__NR ? nr : VLA__NR, bn, first);
                    if (nr > VLA__NR)
                        vla__k4x3(yt + VLA__NR, N, xt, K, wp + VLA__NR * ldw, ldw, kc, nr - VLA__NR,
                                  bn ? bn + VLA__NR : NULL, first);
                }
                for (; m < me; m++) vla__k1x6(y + (size_t)m * N + n, x + (size_t)m * K + k0, wp, ldw, kc, nr, bn, first);
            }
        }
    }
}

/* F16 / Q8_0 weights: the same loops with the conversion slab on this
 * frame (out of line so that F32 calls do not carry the 12 KiB). */
static VLA__NOINLINE void vla__gemm_cvt_rect(float *y, const float *x, const vla_mat *w, const float *b, int m0, int m1,
                                             int n0, int n1, int stream) {
    float slab[VLA__NG * VLA_GEMM_KC_CVT];
    vla__gemm_f32_rect(y, x, w, b, m0, m1, n0, n1, slab, stream);
}

/* ---------------------------------------------------------------------------
 * Small-K path: outer-product form over packed W^T micro-panels
 *
 * When K is short (the stem and early 1x1 convolutions: K = 27..288 with M
 * in the thousands; adapter up-projections: K = 64..96) the dot-product
 * form spends as much on horizontal sums as on FMAs.  There a tile of
 * 6 rows x 2 vectors of y is built from rank-1 updates instead, with no
 * horizontal sum at all:
 *
 *   panel P[kc][NRO] = W[n..n+NRO)[k0..k0+kc)^T     (packed on the stack,
 *                      NRO = 2 vectors = 32 / 16 / 8 floats for AVX-512 /
 *                      AVX2 / NEON, kc <= 12 KiB / (4 NRO): 96 / 192 / 384)
 *   per k: 2 vector loads of P[k], 6 broadcasts x[m][k], 12 FMAs
 *          (12 accumulators + 2 + 1 registers: fits AVX2 and armv7 too)
 *
 *   for each M block of mc rows       (x block mc x K <= VLA_GEMM_L2)
 *     for each panel of NRO W rows
 *       for each K block of kc        pack P (converting F16 / Q8_0)
 *         for each 6-row strip of x   the 6 x NRO kernel; y tile += P x
 *
 * Packing costs about one load and one store per weight per M block, which
 * the (mc / 6) strips that reuse P make negligible at these M.
 * ------------------------------------------------------------------------- */
#define VLA__NRO (2 * VLA__VW)
#define VLA__MRO 6
#ifndef VLA_GEMM_PANEL_BYTES
#define VLA_GEMM_PANEL_BYTES (12 * 1024)
#endif
#define VLA__KCO (VLA_GEMM_PANEL_BYTES / (sizeof(float) * VLA__NRO))
typedef char vla__check_gemm_panel[(VLA_GEMM_PANEL_BYTES / (4 * 32)) % 32 == 0 ? 1 : -1];

/* P[k][j] = W[n0 + j][k0 + k] as fp32 for j < nr, 0 for nr <= j < NRO. */
static void vla__pack_wt(float *P, const vla_mat *w, int n0, int nr, size_t k0, size_t kc) {
    const size_t rb = vla__row_bytes(w->type, w->cols);
    size_t k;
    int j;
    for (j = 0; j < VLA__NRO; j++) {
        float *o = P + j;
        if (j >= nr) {
            for (k = 0; k < kc; k++) o[k * VLA__NRO] = 0.0f;
        } else if (w->type == VLA_TYPE_F32) {
            const float *r = (const float *)w->data + (size_t)(n0 + j) * w->cols + k0;
            /* W is cold in a CNN (each layer's weights are read once per
             * image) and a row piece is only kc floats, too short for the
             * hardware prefetcher: ask for the row 4 ahead now */
            if (j + 4 < nr)
                for (k = 0; k < kc; k += 16) VLA__PREFETCH(r + 4 * (size_t)w->cols + k);
            for (k = 0; k < kc; k++) o[k * VLA__NRO] = r[k];
        } else if (w->type == VLA_TYPE_F16) {
            const unsigned char *r = (const unsigned char *)w->data + (size_t)(n0 + j) * rb + 2 * k0;
            for (k = 0; k < kc; k++) o[k * VLA__NRO] = vla__h2f(vla__rd16(r + 2 * k));
        } else if (w->type == VLA_TYPE_I8) {
            const signed char *r = (const signed char *)w->data + (size_t)(n0 + j) * rb + k0;
            const float d = w->scale[n0 + j];
            for (k = 0; k < kc; k++) o[k * VLA__NRO] = d * (float)r[k];
        } else { /* Q8_0: walk the blocks that overlap [k0, k0 + kc) */
            const unsigned char *r = (const unsigned char *)w->data + (size_t)(n0 + j) * rb;
            size_t kk = k0;
            while (kk < k0 + kc) {
                const unsigned char *blk = r + (kk / VLA_Q8_0_BLOCK) * VLA_Q8_0_BYTES;
                const float d = vla__h2f(vla__rd16(blk));
                size_t e = (kk / VLA_Q8_0_BLOCK + 1) * VLA_Q8_0_BLOCK;
                if (e > k0 + kc) e = k0 + kc;
                for (; kk < e; kk++) o[(kk - k0) * VLA__NRO] = d * (float)(signed char)blk[2 + kk % VLA_Q8_0_BLOCK];
            }
        }
    }
}

/* One row of a whole 6 x NRO tile: y = v + bias, or y += v. */
static void vla__ko_row(float *y, vla__vf v0, vla__vf v1, vla__vf b0, vla__vf b1, int first) {
    if (first) {
        VLA__VST(y, VLA__VADD(v0, b0));
        VLA__VST(y + VLA__VW, VLA__VADD(v1, b1));
    } else {
        VLA__VST(y, VLA__VADD(VLA__VLD(y), v0));
        VLA__VST(y + VLA__VW, VLA__VADD(VLA__VLD(y + VLA__VW), v1));
    }
}

/* y[0..mr)[0..nr) (+)= x[0..mr)[0..kc) P.  mr <= 6 (missing rows repeat the
 * last one and are not stored), nr <= NRO (P is zero-padded). */
static void vla__ko6(float *y, size_t ldy, const float *x, size_t ldx, const float *P, size_t kc, int mr, int nr,
                     const float *bias, int first) {
    const float *x0 = x, *x1 = mr > 1 ? x0 + ldx : x0, *x2 = mr > 2 ? x1 + ldx : x1, *x3 = mr > 3 ? x2 + ldx : x2,
                *x4 = mr > 4 ? x3 + ldx : x3, *x5 = mr > 5 ? x4 + ldx : x4;
    vla__vf c00 = VLA__VZERO(), c01 = VLA__VZERO(), c10 = VLA__VZERO(), c11 = VLA__VZERO(), c20 = VLA__VZERO(),
            c21 = VLA__VZERO(), c30 = VLA__VZERO(), c31 = VLA__VZERO(), c40 = VLA__VZERO(), c41 = VLA__VZERO(),
            c50 = VLA__VZERO(), c51 = VLA__VZERO(), a, b0, b1;
    size_t k;
    for (k = 0; k < kc; k++, P += VLA__NRO) {
        b0 = VLA__VLD(P); b1 = VLA__VLD(P + VLA__VW);
        VLA__VREG(b0); VLA__VREG(b1);
        a = VLA__VSET1(x0[k]); VLA__VREG(a); c00 = VLA__VFMA(c00, a, b0); c01 = VLA__VFMA(c01, a, b1);
        a = VLA__VSET1(x1[k]); VLA__VREG(a); c10 = VLA__VFMA(c10, a, b0); c11 = VLA__VFMA(c11, a, b1);
        a = VLA__VSET1(x2[k]); VLA__VREG(a); c20 = VLA__VFMA(c20, a, b0); c21 = VLA__VFMA(c21, a, b1);
        a = VLA__VSET1(x3[k]); VLA__VREG(a); c30 = VLA__VFMA(c30, a, b0); c31 = VLA__VFMA(c31, a, b1);
        a = VLA__VSET1(x4[k]); VLA__VREG(a); c40 = VLA__VFMA(c40, a, b0); c41 = VLA__VFMA(c41, a, b1);
        a = VLA__VSET1(x5[k]); VLA__VREG(a); c50 = VLA__VFMA(c50, a, b0); c51 = VLA__VFMA(c51, a, b1);
    }
    if (mr == VLA__MRO && nr == VLA__NRO) { /* whole tile: vector stores */
        vla__vf b0v = VLA__VZERO(), b1v = VLA__VZERO();
        if (first && bias) { b0v = VLA__VLD(bias); b1v = VLA__VLD(bias + VLA__VW); }
        vla__ko_row(y, c00, c01, b0v, b1v, first);
        vla__ko_row(y + ldy, c10, c11, b0v, b1v, first);
        vla__ko_row(y + 2 * ldy, c20, c21, b0v, b1v, first);
        vla__ko_row(y + 3 * ldy, c30, c31, b0v, b1v, first);
        vla__ko_row(y + 4 * ldy, c40, c41, b0v, b1v, first);
        vla__ko_row(y + 5 * ldy, c50, c51, b0v, b1v, first);
    } else { /* edge tile: through a buffer */
        float t[VLA__MRO][VLA__NRO];
        int m, n;
        VLA__VST(t[0], c00); VLA__VST(t[0] + VLA__VW, c01); VLA__VST(t[1], c10); VLA__VST(t[1] + VLA__VW, c11);
        VLA__VST(t[2], c20); VLA__VST(t[2] + VLA__VW, c21); VLA__VST(t[3], c30); VLA__VST(t[3] + VLA__VW, c31);
        VLA__VST(t[4], c40); VLA__VST(t[4] + VLA__VW, c41); VLA__VST(t[5], c50); VLA__VST(t[5] + VLA__VW, c51);
        for (m = 0; m < mr; m++) {
            float *ym = y + (size_t)m * ldy;
            for (n = 0; n < nr; n++) ym[n] = first ? t[m][n] + (bias ? bias[n] : 0.0f) : ym[n] + t[m][n];
        }
    }
}

/* K block of the packed path: K up to VLA__KCO, else equal parts rounded up
 * to a multiple of 32 (still <= VLA__KCO, a multiple of 32). */
static size_t vla__gemm_kco(int K) {
    size_t nk, kc;
    if ((size_t)K <= VLA__KCO) return (size_t)K;
    nk = ((size_t)K + VLA__KCO - 1) / VLA__KCO;
    kc = ((size_t)K + nk - 1) / nk;
    return (kc + 31) & ~(size_t)31;
}

static VLA__NOINLINE void vla__gemm_packed_rect(float *y, const float *x, const vla_mat *w, const float *b, int m0,
                                                int m1, int n0, int n1) {
    float P[VLA__KCO * VLA__NRO]; /* 12 KiB */
    const size_t K = (size_t)w->cols, N = (size_t)w->rows, kcb = vla__gemm_kco(w->cols);
    /* M block: its x block mc x kc (one K block) stays in L2 while every
     * panel of W sweeps over it, so each panel is packed once per M block,
     * not once per (M block, panel) pair with mc cut to fit all of K: at
     * K = 2304 that repacked W every 27 rows and packing cost more than the
     * FMAs.  Same kernel and K blocks per output as before: same sums. */
    size_t mc = VLA_GEMM_L2 / (kcb * sizeof(float)), k0, kc;
    int mb, me, n, m, nr;
    mc = mc < VLA__MRO ? VLA__MRO : mc - mc % VLA__MRO;
    for (mb = m0; mb < m1; mb = me) {
        me = (size_t)(m1 - mb) > mc ? mb + (int)mc : m1;
        for (k0 = 0; k0 < K; k0 += kc) {
            const int first = k0 == 0;
            kc = K - k0 < kcb ? K - k0 : kcb;
            for (n = n0; n < n1; n += VLA__NRO) {
                nr = n1 - n < VLA__NRO ? n1 - n : VLA__NRO;
                vla__pack_wt(P, w, n, nr, k0, kc);
                for (m = mb; m < me; m += VLA__MRO)
                    vla__ko6(y + (size_t)m * N + n, N, x + (size_t)m * K + k0, K, P, kc,
                             me - m < VLA__MRO ? me - m : VLA__MRO, nr, first && b ? b + n : NULL, first);
            }
        }
    }
}

/* Which fp32 kernel.  Measured on Zen 4 (1 thread, GFLOP/s dot / packed):
 *   M = 3136..12544: K = 27: 26/103, 64: 54/106, 256: 89/101, 288: 75/81,
 *                    576: 99/91;  M = 784: K = 512: 101/93
 *   M = 36..46:      K = 64: 53/73, 96: 66/76, 192: 83/73, 384: 85/72,
 *                    768 -> 96 outputs: 100/75
 *   M = 8..24, K = 96: dot wins (packing is amortized over too few rows).
 * So: packed for K <= 128 from M = 32, and up to K = 384 from M = 256;
 * never in scalar builds.
 * AVX-512 builds (32 lanes a panel row), Zen 5, 1 thread, dot / packed
 * with the packed loop order of vla__gemm_packed_rect (best of 3 runs):
 *   M = 196: K = 256: 114/173, 1024: 122/176, 2304: 118/173
 *   M = 784: K = 512: 126/188, 1152: 123/191;  M = 3136, K = 576: 112/199
 *   M = 49:  K = 512: 142/99, 2048: 113/109, 4608: 103/97
 *   M = 98..112, K = 2304: 140-144/147-156 (the 14x14 3x3 conv in 2 bands)
 * so there: packed for any K from M = 96 (the CLIP trunk's 14x14 and
 * larger stages, and their 3x3 convolutions' bands, see vla__conv_band). */
static int vla__gemm_use_packed(int M, int K) {
#if defined(VLA_GEMM_FORCE_PACKED)
    (void)M; (void)K;
    return VLA_GEMM_FORCE_PACKED;
#elif VLA__VW == 1
    (void)M; (void)K; /* scalar: the dot form has no horizontal sums to save */
    return 0;
#elif VLA__VW == 16
    return M >= 96 || (M >= 32 && K <= 128);
#else
    return M >= 32 && (K <= 128 || (K <= 384 && M >= 256));
#endif
}

/* ---------------------------------------------------------------------------
 * int8 path
 * ------------------------------------------------------------------------- */

/* Quantize K floats (K a multiple of 32) into q[K] and one fp32 scale per
 * block, d[j * dstride].  Out of line on purpose: the reference and the fast
 * path run this very code, so they agree bit for bit whatever the compiler
 * does with x * id + 0.5 (FMA contraction). */
static VLA__NOINLINE void vla__q8_quant_row(signed char *q, float *d, size_t dstride, const float *x, int K) {
    int j, i;
    for (j = 0; j < K / VLA_Q8_0_BLOCK; j++) {
        const float *xb = x + (size_t)j * VLA_Q8_0_BLOCK;
        signed char *qb = q + (size_t)j * VLA_Q8_0_BLOCK;
        float amax = 0.0f, dd, id;
        for (i = 0; i < VLA_Q8_0_BLOCK; i++) {
            float a = VLA_FABSF(xb[i]);
            if (a > amax) amax = a;
        }
        dd = amax / 127.0f;
        id = dd != 0.0f ? 1.0f / dd : 0.0f;
        d[(size_t)j * dstride] = dd;
        for (i = 0; i < VLA_Q8_0_BLOCK; i++) {
            float v = xb[i] * id, r = v < 0.0f ? v - 0.5f : v + 0.5f; /* round half away from zero */
            int qi = r >= 127.0f ? 127 : r <= -127.0f ? -127 : (r == r ? (int)r : 0); /* NaN -> 0, no UB */
            qb[i] = (signed char)qi;
        }
    }
}

/* Accumulator of the int8 path's definition: double, so that every term
 * (double)isum * (double)scale is exact and FMA contraction cannot change
 * a bit.  FPUs without double (Cortex-M4F/M33: __ARM_FP without bit 3,
 * soft-float, RISC-V without D) would emulate it in software at several
 * times the cost of the int8 work, so there the definition accumulates in
 * float and keeps contraction out by rounding each term through a volatile.
 * Only scalar code runs on those targets, so SIMD kernels need no float
 * variant. */
#if (defined(__ARM_FP) && !(__ARM_FP & 8)) || defined(__SOFTFP__) || \
    (defined(__riscv) && !(defined(__riscv_flen) && __riscv_flen >= 64))
#define VLA__Q8_FACC 1
typedef float vla__q8acc;
static float vla__q8_term(int32_t isum, float s) {
    volatile float t = (float)isum * s; /* |isum| < 2^24: the conversion is exact */
    return t;
}
#else
typedef double vla__q8acc;
static double vla__q8_term(int32_t isum, float s) { return (double)isum * (double)s; }
#endif

/* Sum of 32 products q_x q_w, scalar (reference and scalar builds).  Each
 * product goes through int16_t, exact since |q_x| <= 127 and |q_w| <= 128.
 * Written so on purpose: GCC 12.2 with AVX512-VNNI enabled (-march=native
 * on this Zen 4 host) vectorizes the plain loop
 *     s += (int)(signed char)a[i] * (int)(signed char)b[i]
 * into vpdpbusd, which treats one operand as UNSIGNED, and returns wrong
 * sums (checked: 99.8% of random blocks).  The int16 form is compiled
 * correctly by GCC 12 and clang 14 at -O2/-O3 on every -march tried. */
static int32_t vla__dot_i8_32(const signed char *qx, const unsigned char *qw) {
    int32_t s = 0;
    int i;
    for (i = 0; i < VLA_Q8_0_BLOCK; i++) s += (int16_t)((int)qx[i] * (int)(signed char)qw[i]);
    return s;
}

/* The int8 path's definition: scalar; each block of x quantized by
 * vla__q8_quant_row, exact int32 block sums, the blocks accumulated in
 * order in a vla__q8acc (see the top of the file).  Q8_0 weights only (K a
 * multiple of 32); slow (it requantizes x for every output). */
VLA__MAYBE_UNUSED static void vla__linear_q8_ref(float *y, const float *x, const vla_mat *w, const float *b, int M) {
    const int K = w->cols, N = w->rows, nb = K / VLA_Q8_0_BLOCK;
    const size_t rb = vla__row_bytes(w->type, w->cols);
    signed char q[VLA_Q8_0_BLOCK];
    int m, n, j;
    for (m = 0; m < M; m++)
        for (n = 0; n < N; n++) {
            const unsigned char *row = (const unsigned char *)w->data + (size_t)n * rb;
            vla__q8acc acc = 0.0f;
            for (j = 0; j < nb; j++) {
                const unsigned char *blk = row + (size_t)j * VLA_Q8_0_BYTES;
                float dx, s;
                int32_t isum;
                vla__q8_quant_row(q, &dx, 1, x + (size_t)m * K + (size_t)j * VLA_Q8_0_BLOCK, VLA_Q8_0_BLOCK);
                isum = vla__dot_i8_32(q, blk + 2);
                s = vla__h2f(vla__rd16(blk)) * dx;
                acc += vla__q8_term(isum, s);
            }
            y[(size_t)m * N + n] = (float)acc + (b ? b[n] : 0.0f);
        }
}

/* Quantized rows of x: q[r][K] (row stride K) then the scales as
 * d[block][row] (stride R) so a micro-tile loads 4 rows' scales at once. */
typedef struct vla__q8x {
    const signed char *q;
    const float *d;
    size_t ldq; /* = K */
    size_t ldd; /* = R, rows in the panel */
} vla__q8x;

/* Store a tile of sums: s[n][m] (already (float)acc + bias). */
static void vla__q8_store(float *y, size_t ldy, float s[VLA__NR][4], int mr, int nr) {
    int m, n;
    for (m = 0; m < mr; m++)
        for (n = 0; n < nr; n++) y[(size_t)m * ldy + n] = s[n][m];
}

#if defined(VLA__AVX2)
/* The fp16 scales of three Q8_0 blocks as [d0 d1 d2 0].  One vcvtph2ps with
 * F16C (exact, like vla__h2f, except that a signalling-NaN scale comes out
 * quiet); the scalar conversion otherwise.  At M = 1 the conversion was half
 * of the kernel's time when done one scale at a time. */
static __m128 vla__h2f_x3(const unsigned char *a, const unsigned char *b, const unsigned char *c) {
#if defined(__F16C__)
    return _mm_cvtph_ps(_mm_setr_epi16((short)vla__rd16(a), (short)vla__rd16(b), (short)vla__rd16(c), 0, 0, 0, 0, 0));
#else
    return _mm_setr_ps(vla__h2f(vla__rd16(a)), vla__h2f(vla__rd16(b)), vla__h2f(vla__rd16(c)), 0.0f);
#endif
}

/* Sums of 4 int32x8 vectors -> [s(p0) s(p1) s(p2) s(p3)]. */
static __m128i vla__hsum4_i32(__m256i p0, __m256i p1, __m256i p2, __m256i p3) {
    __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(p0, p1), _mm256_hadd_epi32(p2, p3));
    return _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
}
/* 32 products q_x q_w summed in groups of 4 -> int32x8.  u = |q_w| (as
 * unsigned), sx = q_x * sign(q_w): u * sx = q_x q_w, and |sx| <= 127 keeps
 * maddubs' int16 pair sums (<= 2*128*127) from saturating, even for -128. */
static __m256i vla__q8_dot32(__m256i u, __m256i v, __m256i qx) {
    __m256i sx = _mm256_sign_epi8(qx, v);
#if defined(__AVX512VNNI__) && defined(__AVX512VL__)
    return _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, sx);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, sx), _mm256_set1_epi16(1));
#endif
}
#endif

#if defined(VLA__NEON64) || defined(VLA__NEON32)
/* 32 products of two int8 blocks summed into int32x4 (exact: a product is at
 * most 128*127 and two of them fit int16). */
static int32x4_t vla__q8_dot32n(int8x16_t xa, int8x16_t xb, int8x16_t wa, int8x16_t wb) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), xa, wa), xb, wb);
#else
    int16x8_t p = vmull_s8(vget_low_s8(xa), vget_low_s8(wa));
    int16x8_t r = vmull_s8(vget_low_s8(xb), vget_low_s8(wb));
    p = vmlal_s8(p, vget_high_s8(xa), vget_high_s8(wa));
    r = vmlal_s8(r, vget_high_s8(xb), vget_high_s8(wb));
    return vpadalq_s16(vpaddlq_s16(p), r);
#endif
}
/* The fp16 scales of three Q8_0 blocks into d[0..2] (d[3] = 0): one vector
 * conversion on AArch64 (exact; a signalling-NaN scale comes out quiet);
 * scalar on armv7, whose half-precision intrinsics need -mfp16-format. */
static void vla__h2f_x3n(float *d, const unsigned char *a, const unsigned char *b, const unsigned char *c) {
#if defined(VLA__NEON64)
    const uint64_t h = (uint64_t)vla__rd16(a) | ((uint64_t)vla__rd16(b) << 16) | ((uint64_t)vla__rd16(c) << 32);
    vst1q_f32(d, vcvt_f32_f16(vreinterpret_f16_u16(vcreate_u16(h))));
#else
    d[0] = vla__h2f(vla__rd16(a)); d[1] = vla__h2f(vla__rd16(b)); d[2] = vla__h2f(vla__rd16(c)); d[3] = 0.0f;
#endif
}
static int32x4_t vla__hsum4_i32n(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d) {
#if defined(VLA__NEON64)
    return vpaddq_s32(vpaddq_s32(a, b), vpaddq_s32(c, d));
#else
    int32x2_t sa = vadd_s32(vget_low_s32(a), vget_high_s32(a)), sb = vadd_s32(vget_low_s32(b), vget_high_s32(b));
    int32x2_t sc = vadd_s32(vget_low_s32(c), vget_high_s32(c)), sd = vadd_s32(vget_low_s32(d), vget_high_s32(d));
    return vcombine_s32(vpadd_s32(sa, sb), vpadd_s32(sc, sd));
#endif
}
#endif

/* 4 rows of quantized x (starting at row r of the panel) against 3 rows of
 * Q8_0 W (w0..w2, rows may repeat).  Writes s[n][m] = (float)acc + bias. */
static void vla__q8k4x3(float s[VLA__NR][4], const vla__q8x *X, int r, const unsigned char *const *wr, int nb,
                        const float *bias3) {
    const signed char *x0 = X->q + (size_t)r * X->ldq, *x1 = x0 + X->ldq, *x2 = x1 + X->ldq, *x3 = x2 + X->ldq;
    const float *dx = X->d + r;
    int j, n, m;
#if defined(VLA__AVX2)
    __m256d a[VLA__NR];
    for (n = 0; n < VLA__NR; n++) a[n] = _mm256_setzero_pd();
    for (j = 0; j < nb; j++) {
        const size_t o = (size_t)j * VLA_Q8_0_BLOCK;
        const __m256i q0 = _mm256_loadu_si256((const __m256i *)(const void *)(x0 + o));
        const __m256i q1 = _mm256_loadu_si256((const __m256i *)(const void *)(x1 + o));
        const __m256i q2 = _mm256_loadu_si256((const __m256i *)(const void *)(x2 + o));
        const __m256i q3 = _mm256_loadu_si256((const __m256i *)(const void *)(x3 + o));
        const __m128 d4 = _mm_loadu_ps(dx + (size_t)j * X->ldd);
        const __m128 dw = vla__h2f_x3(wr[0] + (size_t)j * VLA_Q8_0_BYTES, wr[1] + (size_t)j * VLA_Q8_0_BYTES,
                                      wr[2] + (size_t)j * VLA_Q8_0_BYTES);
        for (n = 0; n < VLA__NR; n++) {
            const unsigned char *blk = wr[n] + (size_t)j * VLA_Q8_0_BYTES;
            const __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(blk + 2)), u = _mm256_abs_epi8(v);
            const __m128i is = vla__hsum4_i32(vla__q8_dot32(u, v, q0), vla__q8_dot32(u, v, q1), vla__q8_dot32(u, v, q2),
                                              vla__q8_dot32(u, v, q3));
            const __m128 dn = n == 0 ? _mm_shuffle_ps(dw, dw, 0x00) : n == 1 ? _mm_shuffle_ps(dw, dw, 0x55)
                                                                               : _mm_shuffle_ps(dw, dw, 0xaa);
            const __m128 sc = _mm_mul_ps(dn, d4);
            a[n] = _mm256_add_pd(a[n], _mm256_mul_pd(_mm256_cvtepi32_pd(is), _mm256_cvtps_pd(sc)));
        }
    }
    for (n = 0; n < VLA__NR; n++)
        _mm_storeu_ps(s[n], _mm_add_ps(_mm256_cvtpd_ps(a[n]), _mm_set1_ps(bias3 ? bias3[n] : 0.0f)));
    (void)m;
#elif defined(VLA__NEON64) || defined(VLA__NEON32)
#if defined(VLA__NEON64)
    float64x2_t alo[VLA__NR], ahi[VLA__NR];
    for (n = 0; n < VLA__NR; n++) { alo[n] = vdupq_n_f64(0.0); ahi[n] = vdupq_n_f64(0.0); }
#else
    double acc[VLA__NR][4];
    for (n = 0; n < VLA__NR; n++) for (m = 0; m < 4; m++) acc[n][m] = 0.0;
#endif
    for (j = 0; j < nb; j++) {
        const size_t o = (size_t)j * VLA_Q8_0_BLOCK;
        const int8x16_t a0 = vld1q_s8((const int8_t *)x0 + o), b0 = vld1q_s8((const int8_t *)x0 + o + 16);
        const int8x16_t a1 = vld1q_s8((const int8_t *)x1 + o), b1 = vld1q_s8((const int8_t *)x1 + o + 16);
        const int8x16_t a2 = vld1q_s8((const int8_t *)x2 + o), b2 = vld1q_s8((const int8_t *)x2 + o + 16);
        const int8x16_t a3 = vld1q_s8((const int8_t *)x3 + o), b3 = vld1q_s8((const int8_t *)x3 + o + 16);
        const float32x4_t d4 = vld1q_f32(dx + (size_t)j * X->ldd);
        float dw[4];
        vla__h2f_x3n(dw, wr[0] + (size_t)j * VLA_Q8_0_BYTES, wr[1] + (size_t)j * VLA_Q8_0_BYTES,
                     wr[2] + (size_t)j * VLA_Q8_0_BYTES);
        for (n = 0; n < VLA__NR; n++) {
            const unsigned char *blk = wr[n] + (size_t)j * VLA_Q8_0_BYTES;
            const int8x16_t wa = vld1q_s8((const int8_t *)(blk + 2)), wb = vld1q_s8((const int8_t *)(blk + 18));
            const int32x4_t is = vla__hsum4_i32n(vla__q8_dot32n(a0, b0, wa, wb), vla__q8_dot32n(a1, b1, wa, wb),
                                                 vla__q8_dot32n(a2, b2, wa, wb), vla__q8_dot32n(a3, b3, wa, wb));
            const float32x4_t sc = vmulq_n_f32(d4, dw[n]);
            const float32x4_t fi = vcvtq_f32_s32(is); /* exact: |isum| < 2^24 */
#if defined(VLA__NEON64)
            alo[n] = vaddq_f64(alo[n], vmulq_f64(vcvt_f64_f32(vget_low_f32(fi)), vcvt_f64_f32(vget_low_f32(sc))));
            ahi[n] = vaddq_f64(ahi[n], vmulq_f64(vcvt_high_f64_f32(fi), vcvt_high_f64_f32(sc)));
#else
            {
                float fv[4], sv[4];
                vst1q_f32(fv, fi);
                vst1q_f32(sv, sc);
                for (m = 0; m < 4; m++) acc[n][m] += (double)fv[m] * (double)sv[m];
            }
#endif
        }
    }
    for (n = 0; n < VLA__NR; n++) {
        const float bn = bias3 ? bias3[n] : 0.0f;
#if defined(VLA__NEON64)
        s[n][0] = (float)vgetq_lane_f64(alo[n], 0) + bn; s[n][1] = (float)vgetq_lane_f64(alo[n], 1) + bn;
        s[n][2] = (float)vgetq_lane_f64(ahi[n], 0) + bn; s[n][3] = (float)vgetq_lane_f64(ahi[n], 1) + bn;
        (void)m;
#else
        for (m = 0; m < 4; m++) s[n][m] = (float)acc[n][m] + bn;
#endif
    }
#else
    vla__q8acc acc[VLA__NR][4];
    const signed char *xs[4];
    xs[0] = x0; xs[1] = x1; xs[2] = x2; xs[3] = x3;
    for (n = 0; n < VLA__NR; n++) for (m = 0; m < 4; m++) acc[n][m] = 0.0f;
    for (j = 0; j < nb; j++) {
        const size_t o = (size_t)j * VLA_Q8_0_BLOCK;
        for (n = 0; n < VLA__NR; n++) {
            const unsigned char *blk = wr[n] + (size_t)j * VLA_Q8_0_BYTES;
            const float dw = vla__h2f(vla__rd16(blk));
            for (m = 0; m < 4; m++) {
                const int32_t isum = vla__dot_i8_32(xs[m] + o, blk + 2);
                const float sc = dw * dx[(size_t)j * X->ldd + m];
                acc[n][m] += vla__q8_term(isum, sc);
            }
        }
    }
    for (n = 0; n < VLA__NR; n++)
        for (m = 0; m < 4; m++) s[n][m] = (float)acc[n][m] + (bias3 ? bias3[n] : 0.0f);
#endif
}

/* One row of quantized x against 3 rows of W: s[n][0]. */
static void vla__q8k1x3(float s[VLA__NR][4], const vla__q8x *X, int r, const unsigned char *const *wr, int nb,
                        const float *bias3) {
    const signed char *x0 = X->q + (size_t)r * X->ldq;
    const float *dx = X->d + r;
    int j, n;
#if defined(VLA__AVX2)
    __m256d a = _mm256_setzero_pd();
    float t[4];
    for (j = 0; j < nb; j++) {
        const unsigned char *b0 = wr[0] + (size_t)j * VLA_Q8_0_BYTES, *b1 = wr[1] + (size_t)j * VLA_Q8_0_BYTES,
                            *b2 = wr[2] + (size_t)j * VLA_Q8_0_BYTES;
        const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)(x0 + (size_t)j * VLA_Q8_0_BLOCK));
        const __m256i v0 = _mm256_loadu_si256((const __m256i *)(const void *)(b0 + 2));
        const __m256i v1 = _mm256_loadu_si256((const __m256i *)(const void *)(b1 + 2));
        const __m256i v2 = _mm256_loadu_si256((const __m256i *)(const void *)(b2 + 2));
        const __m256i p0 = vla__q8_dot32(_mm256_abs_epi8(v0), v0, q), p1 = vla__q8_dot32(_mm256_abs_epi8(v1), v1, q),
                      p2 = vla__q8_dot32(_mm256_abs_epi8(v2), v2, q);
        const __m128i is = vla__hsum4_i32(p0, p1, p2, p2);
        const __m128 sc = _mm_mul_ps(vla__h2f_x3(b0, b1, b2), _mm_set1_ps(dx[(size_t)j * X->ldd]));
        VLA__PREFETCH(b0 + VLA_GEMM_PREFETCH_BYTES);
        VLA__PREFETCH(b1 + VLA_GEMM_PREFETCH_BYTES);
        VLA__PREFETCH(b2 + VLA_GEMM_PREFETCH_BYTES);
        a = _mm256_add_pd(a, _mm256_mul_pd(_mm256_cvtepi32_pd(is), _mm256_cvtps_pd(sc)));
    }
    _mm_storeu_ps(t, _mm256_cvtpd_ps(a));
    for (n = 0; n < VLA__NR; n++) s[n][0] = t[n] + (bias3 ? bias3[n] : 0.0f);
#elif defined(VLA__NEON64) || defined(VLA__NEON32)
    double acc[VLA__NR] = {0.0, 0.0, 0.0};
    for (j = 0; j < nb; j++) {
        const size_t o = (size_t)j * VLA_Q8_0_BLOCK;
        const int8x16_t a0 = vld1q_s8((const int8_t *)x0 + o), b0 = vld1q_s8((const int8_t *)x0 + o + 16);
        const unsigned char *k0 = wr[0] + (size_t)j * VLA_Q8_0_BYTES, *k1 = wr[1] + (size_t)j * VLA_Q8_0_BYTES,
                            *k2 = wr[2] + (size_t)j * VLA_Q8_0_BYTES;
#define VLA__W32(p) vld1q_s8((const int8_t *)((p) + 2)), vld1q_s8((const int8_t *)((p) + 18))
        const int32x4_t p0 = vla__q8_dot32n(a0, b0, VLA__W32(k0));
        const int32x4_t p1 = vla__q8_dot32n(a0, b0, VLA__W32(k1));
        const int32x4_t p2 = vla__q8_dot32n(a0, b0, VLA__W32(k2));
#undef VLA__W32
        int32_t is[4];
        float dw[4];
        const float d = dx[(size_t)j * X->ldd];
        VLA__PREFETCH(k0 + VLA_GEMM_PREFETCH_BYTES);
        VLA__PREFETCH(k1 + VLA_GEMM_PREFETCH_BYTES);
        VLA__PREFETCH(k2 + VLA_GEMM_PREFETCH_BYTES);
        vst1q_s32(is, vla__hsum4_i32n(p0, p1, p2, p2));
        vla__h2f_x3n(dw, k0, k1, k2);
        acc[0] += (double)is[0] * (double)(dw[0] * d);
        acc[1] += (double)is[1] * (double)(dw[1] * d);
        acc[2] += (double)is[2] * (double)(dw[2] * d);
    }
    for (n = 0; n < VLA__NR; n++) s[n][0] = (float)acc[n] + (bias3 ? bias3[n] : 0.0f);
#else
    vla__q8acc acc[VLA__NR] = {0.0f, 0.0f, 0.0f};
    for (j = 0; j < nb; j++) {
        const size_t o = (size_t)j * VLA_Q8_0_BLOCK;
        for (n = 0; n < VLA__NR; n++) {
            const unsigned char *blk = wr[n] + (size_t)j * VLA_Q8_0_BYTES;
            const int32_t isum = vla__dot_i8_32(x0 + o, blk + 2);
            const float sc = vla__h2f(vla__rd16(blk)) * dx[(size_t)j * X->ldd];
            acc[n] += vla__q8_term(isum, sc);
        }
    }
    for (n = 0; n < VLA__NR; n++) s[n][0] = (float)acc[n] + (bias3 ? bias3[n] : 0.0f);
#endif
}

/* Rows of x the int8 path quantizes per pass (0: K too long for the buffer). */
static int vla__q8_rows(int K) {
    size_t per = (size_t)K + sizeof(float) * (size_t)(K / VLA_Q8_0_BLOCK), r = VLA_GEMM_Q8_STACK / per;
    if (r >= VLA__MR) r &= ~(size_t)(VLA__MR - 1);
    return (int)(r > 1024 ? 1024 : r);
}

static void vla__gemm_q8_rect(float *y, const float *x, const vla_mat *w, const float *b, int m0, int m1, int n0,
                              int n1) {
    float buf[VLA_GEMM_Q8_STACK / sizeof(float)]; /* q rows, then scales */
    const int K = w->cols, N = w->rows, nb = K / VLA_Q8_0_BLOCK, R = vla__q8_rows(K);
    const size_t rb = vla__row_bytes(w->type, w->cols);
    float s[VLA__NR][4];
    vla__q8x X;
    int mb, r, i, n, nr;
    X.q = (const signed char *)(void *)buf;
    X.ldq = (size_t)K;
    for (mb = m0; mb < m1; mb += r) {
        float *ds = (float *)(void *)((signed char *)(void *)buf + (size_t)R * (size_t)K); /* K % 32 == 0: aligned */
        r = m1 - mb < R ? m1 - mb : R;
        X.d = ds;
        X.ldd = (size_t)r;
        for (i = 0; i < r; i++)
            vla__q8_quant_row((signed char *)(void *)buf + (size_t)i * K, ds + i, (size_t)r, x + (size_t)(mb + i) * K, K);
        for (n = n0; n < n1; n += VLA__NR) {
            const unsigned char *wr[VLA__NR];
            float b3[VLA__NR]; /* the kernels read 3 biases: pad, never read past b[N-1] */
            const float *bn = b ? b3 : NULL;
            nr = n1 - n < VLA__NR ? n1 - n : VLA__NR;
            wr[0] = (const unsigned char *)w->data + (size_t)n * rb;
            wr[1] = nr > 1 ? wr[0] + rb : wr[0];
            wr[2] = nr > 2 ? wr[1] + rb : wr[1];
            if (b) { b3[0] = b[n]; b3[1] = nr > 1 ? b[n + 1] : 0.0f; b3[2] = nr > 2 ? b[n + 2] : 0.0f; }
            for (i = 0; i + VLA__MR <= r; i += VLA__MR) {
                vla__q8k4x3(s, &X, i, wr, nb, bn);
                vla__q8_store(y + (size_t)(mb + i) * N + n, (size_t)N, s, VLA__MR, nr);
            }
            for (; i < r; i++) {
                vla__q8k1x3(s, &X, i, wr, nb, bn);
                vla__q8_store(y + (size_t)(mb + i) * N + n, (size_t)N, s, 1, nr);
            }
        }
    }
}

/* ---------------------------------------------------------------------------
 * I8 path: one scale per weight row and per activation row, int32 sums over
 * the whole row (definition: vla_linear in [D4], vla__linear_i8_ref).
 * ---------------------------------------------------------------------------
 * Two plans, both in one stack buffer of VLA_GEMM_I8_STACK bytes per task:
 *   tiled (AVX-512 VNNI from M = 9, AVX2 from M = 8: VLA__I8_TILED_M): a task takes
 *     a block of up to ~60-180 x rows (all of a BART layer's 46), computes
 *     their scales, and for each K block (VNNI: 768 with the 64 KiB buffer,
 *     256 with less; AVX2: 256; half when the task has more rows than one
 *     block) quantizes that slice of the rows, packs each
 *     panel of W rows (64 or 32 for VNNI, 16 for AVX2) in the outer-product
 *     layout of the kernel and runs register tiles over it (6 x 64, 12 x 32;
 *     6 x 16 on AVX2).  The accumulator lanes are outputs: no horizontal
 *     sums.  Between K blocks the exact int32 partial sums wait in y (their
 *     bits, masked vector stores); the last K block writes the epilogue.  W
 *     is packed and read once per M block, whatever K is.  No model memory:
 *     the panels live on the stack, like the fp32 packed path's.
 *   dot (every other build, and smaller M everywhere: decode steps, the
 *     LM head): a task quantizes R rows of x at a time into a packed stack
 *     buffer (R a multiple of 4 when it fits; rows padded with zeros to a
 *     multiple of VLA__I8_KP), then sweeps groups of 4 W rows over them.  W
 *     is read in place; its last partial vector is read with a mask
 *     (AVX-512) or copied to a zero-padded 16-byte block, never past the
 *     row.
 * The int32 sums are exact, so every kernel returns the reference's sums;
 * the epilogue ((float)isum * (d_x * d_w)) + b rounds the product before
 * the add in every path (a volatile in scalar code, an empty asm on the
 * vector), so the floats agree too.
 *
 * Activation rows are quantized 16 values at a time on AVX-512, AVX2 and
 * AArch64 NEON (vla__i8_quant_v: the scalar rule's comparisons, lane by
 * lane; on AVX-512 an equivalent clamp + trunc(c + copysign(0.5 - 2^-25))
 * checked against vla__i8_round for all 2^32 floats), so a CLIP layer with
 * few output channels is not dominated by it.
 *   AVX-512 VNNI   x packed as u8 = q_x + 128; vpdpbusd(u8 x, s8 w),
 *                  isum = sum - 128 * sum_k w (mod 2^32).  Tiled: a
 *                  broadcast dword of x (4 k of one row) times a zmm of the
 *                  panel (4 k of 16 W rows), 24 zmm accumulators; the
 *                  column sums come from one vpdpbusd(1, P) per packed zmm.
 *                  Dot (M <= 8): a 4 x 4 tile of 16 zmm accumulators (4 W +
 *                  1 x loads per 64 bytes), the W row sums from one
 *                  vpdpbusd(1, w) pass per group and M block, the 16 sums
 *                  reduced together.  Exact: vpdpbusd adds without
 *                  saturation, and the wrap-around arithmetic mod 2^32 ends
 *                  at the true isum.
 *   AVX2           x packed as int16, vpmaddwd (no int16 overflow).  Tiled:
 *                  a broadcast pair of x times a ymm of the panel (W widened
 *                  once while packing), 12 ymm accumulators.  Dot: W widened
 *                  by vpmovsxbw in the loop, 1 x row x 4 W rows.
 *   NEON           vmull_s8 + vmlal_s8 (two products of |.| <= 127*128 fit
 *                  int16) + vpadal; vdotq_s32 with dotprod.  AArch64: a
 *                  4 x 4 tile of 16 accumulators (4 x + 4 W loads per 16
 *                  bytes) on the dot plan; armv7 (16 q registers): 1 x 4.
 *   Helium         vmladavaq_s8, tail by predication.
 *   RVV            vwmul.vv + vwredsum.vs (inline assembly, GCC 12).
 *   scalar         the reference loop on the packed row.
 * On the dot plan, rows longer than the buffer holds (K > ~32000, ~4000 on
 * Cortex-M) run the reference loop: same bits, slower (the tiled plan has
 * no such limit).
 */
#ifndef VLA_GEMM_I8_STACK
#if defined(VLA__GEMM_SMALL_STACK)
#define VLA_GEMM_I8_STACK 4096
#elif defined(__AVX512VNNI__)
#define VLA_GEMM_I8_STACK (64 * 1024) /* room for the VNNI tiles' K blocks of up to 768 */
#else
#define VLA_GEMM_I8_STACK (32 * 1024)
#endif
#endif

#define VLA__I8_NR 4 /* W rows per group */
#if defined(VLA__AVX2) && defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define VLA__I8_VNNI 1
#define VLA__I8_KP 64
typedef unsigned char vla__i8p; /* q_x + 128 */
#elif defined(VLA__AVX2)
#define VLA__I8_KP 16
typedef int16_t vla__i8p;
#else
#define VLA__I8_KP 16
typedef signed char vla__i8p;
#endif

/* Name of the int8 kernel this build runs (tests and benchmarks print it). */
VLA__MAYBE_UNUSED static const char *vla__i8_kernel_name(void) {
#if defined(VLA__I8_VNNI)
    return "avx512-vnni";
#elif defined(VLA__AVX2)
    return "avx2";
#elif defined(VLA__NEON64) && defined(__ARM_FEATURE_DOTPROD)
    return "neon-dotprod";
#elif defined(VLA__NEON64) || defined(VLA__NEON32)
    return "neon";
#elif defined(VLA__MVE)
    return "helium";
#elif defined(VLA__RVV)
    return "rvv";
#else
    return "scalar";
#endif
}

static size_t vla__i8_kp(int K) { return ((size_t)K + VLA__I8_KP - 1) / VLA__I8_KP * VLA__I8_KP; }

/* Rows of x one pass quantizes (0: a row does not fit the buffer). */
static int vla__i8_rows(int K) {
    size_t per = vla__i8_kp(K) * sizeof(vla__i8p) + sizeof(float), r = VLA_GEMM_I8_STACK / per;
    if (r >= 4) r &= ~(size_t)3;
    return (int)(r > 1024 ? 1024 : r);
}

/* Vector forms of the activation quantization: the same comparisons as
 * vla__i8_amax's scalar loop and vla__i8_round, so the same bytes (the
 * tests compare them with vla_quantize_i8_row).  vla__i8_amax_v returns the
 * amax of x[0..*done) and vla__i8_quant_v quantizes x[0..return), both a
 * multiple of the vector width; the scalar loops finish.  Not on armv7 NEON:
 * its float vectors flush subnormals to zero, the scalar VFP does not. */
#if defined(VLA__I8_VNNI)
static float vla__i8_amax_v(const float *x, int K, int *done) {
    __m512 m = _mm512_setzero_ps(), m1 = m, m2 = m, m3 = m; /* 4 chains: max is exact in any order */
    int k;
    for (k = 0; k + 64 <= K; k += 64) { /* NaN: keeps m */
        m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + k)), m);
        m1 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + k + 16)), m1);
        m2 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + k + 32)), m2);
        m3 = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + k + 48)), m3);
    }
    for (; k + 16 <= K; k += 16) m = _mm512_max_ps(_mm512_abs_ps(_mm512_loadu_ps(x + k)), m);
    *done = k;
    return _mm512_reduce_max_ps(_mm512_max_ps(_mm512_max_ps(m, m1), _mm512_max_ps(m2, m3)));
}

/* Rounding half away from zero as trunc(c + copysign(0.5 - 2^-25, c)) on
 * c = v clamped to [-127, 127] (NaN -> 0 by the mask): for |c| < 128 the
 * sum rounds to the next integer exactly when the fraction of c is >= 0.5
 * (checked against vla__i8_round for all 2^32 floats). */
static int vla__i8_quant_v(vla__i8p *dst, const float *x, int K, float id) {
    const __m512 vid = _mm512_set1_ps(id), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
    const __m512i half = _mm512_castps_si512(_mm512_set1_ps(0.49999997f)), sign = _mm512_set1_epi32((int)0x80000000u);
    const __m512i off = _mm512_set1_epi32(128);
    int k;
    for (k = 0; k + 16 <= K; k += 16) {
        const __m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + k), vid);
        const __mmask16 ord = _mm512_cmp_ps_mask(v, v, _CMP_ORD_Q);
        const __m512 c = _mm512_min_ps(hi, _mm512_max_ps(lo, v)); /* NaN stays NaN, masked below */
        const __m512 h = _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_castps_si512(c), sign, half, 0xEA));
        const __m512i t = _mm512_maskz_cvttps_epi32(ord, _mm512_add_ps(c, h));
        _mm_storeu_si128((__m128i *)(void *)(dst + k), _mm512_cvtepi32_epi8(_mm512_add_epi32(t, off)));
    }
    return k;
}
#elif defined(VLA__AVX2)
static float vla__i8_amax_v(const float *x, int K, int *done) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    __m128 h;
    int k;
    for (k = 0; k + 8 <= K; k += 8) m = _mm256_max_ps(_mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)), m); /* NaN: keeps m */
    *done = k;
    h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    h = _mm_max_ps(h, _mm_movehl_ps(h, h));
    h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
    return _mm_cvtss_f32(h);
}

static __m256i vla__i8_round8(__m256 v) {
    const __m256 zero = _mm256_setzero_ps(), half = _mm256_set1_ps(0.5f);
    __m256i t = _mm256_cvttps_epi32(v);
    const __m256 tf = _mm256_cvtepi32_ps(t);
    const __m256 up = _mm256_and_ps(_mm256_cmp_ps(v, zero, _CMP_GE_OQ), _mm256_cmp_ps(v, _mm256_add_ps(tf, half), _CMP_GE_OQ));
    const __m256 dn = _mm256_and_ps(_mm256_cmp_ps(v, zero, _CMP_LT_OQ), _mm256_cmp_ps(v, _mm256_sub_ps(tf, half), _CMP_LE_OQ));
    t = _mm256_sub_epi32(t, _mm256_castps_si256(up)); /* mask = -1 */
    t = _mm256_add_epi32(t, _mm256_castps_si256(dn));
    t = _mm256_blendv_epi8(t, _mm256_set1_epi32(127), _mm256_castps_si256(_mm256_cmp_ps(v, _mm256_set1_ps(127.0f), _CMP_GE_OQ)));
    t = _mm256_blendv_epi8(t, _mm256_set1_epi32(-127), _mm256_castps_si256(_mm256_cmp_ps(v, _mm256_set1_ps(-127.0f), _CMP_LE_OQ)));
    return _mm256_andnot_si256(_mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)), t); /* NaN -> 0 */
}

static int vla__i8_quant_v(vla__i8p *dst, const float *x, int K, float id) {
    const __m256 vid = _mm256_set1_ps(id);
    int k;
    for (k = 0; k + 16 <= K; k += 16) {
        __m256i a = vla__i8_round8(_mm256_mul_ps(_mm256_loadu_ps(x + k), vid));
        __m256i b = vla__i8_round8(_mm256_mul_ps(_mm256_loadu_ps(x + k + 8), vid));
        _mm256_storeu_si256((__m256i *)(void *)(dst + k), _mm256_permute4x64_epi64(_mm256_packs_epi32(a, b), 0xD8));
    }
    return k;
}
#elif defined(VLA__NEON64)
static float vla__i8_amax_v(const float *x, int K, int *done) {
    float32x4_t m = vdupq_n_f32(0.0f);
    int k;
    for (k = 0; k + 4 <= K; k += 4) { /* lane-wise "if (a > amax) amax = a": NaN never wins */
        const float32x4_t a = vabsq_f32(vld1q_f32(x + k));
        m = vbslq_f32(vcgtq_f32(a, m), a, m);
    }
    *done = k;
    return vmaxvq_f32(m);
}

static int32x4_t vla__i8_round4(float32x4_t v) {
    const float32x4_t zero = vdupq_n_f32(0.0f), half = vdupq_n_f32(0.5f);
    int32x4_t t = vcvtq_s32_f32(v); /* toward zero */
    const float32x4_t tf = vcvtq_f32_s32(t);
    const uint32x4_t up = vandq_u32(vcgeq_f32(v, zero), vcgeq_f32(v, vaddq_f32(tf, half)));
    const uint32x4_t dn = vandq_u32(vcltq_f32(v, zero), vcleq_f32(v, vsubq_f32(tf, half)));
    t = vsubq_s32(t, vreinterpretq_s32_u32(up)); /* mask = -1 */
    t = vaddq_s32(t, vreinterpretq_s32_u32(dn));
    t = vbslq_s32(vcgeq_f32(v, vdupq_n_f32(127.0f)), vdupq_n_s32(127), t);
    t = vbslq_s32(vcleq_f32(v, vdupq_n_f32(-127.0f)), vdupq_n_s32(-127), t);
    return vbslq_s32(vceqq_f32(v, v), t, vdupq_n_s32(0)); /* NaN -> 0 */
}

static int vla__i8_quant_v(vla__i8p *dst, const float *x, int K, float id) {
    int k;
    for (k = 0; k + 16 <= K; k += 16) {
        int16x8_t lo = vcombine_s16(vmovn_s32(vla__i8_round4(vmulq_n_f32(vld1q_f32(x + k), id))),
                                    vmovn_s32(vla__i8_round4(vmulq_n_f32(vld1q_f32(x + k + 4), id))));
        int16x8_t hi = vcombine_s16(vmovn_s32(vla__i8_round4(vmulq_n_f32(vld1q_f32(x + k + 8), id))),
                                    vmovn_s32(vla__i8_round4(vmulq_n_f32(vld1q_f32(x + k + 12), id))));
        vst1q_s8(dst + k, vcombine_s8(vmovn_s16(lo), vmovn_s16(hi)));
    }
    return k;
}
#else
static float vla__i8_amax_v(const float *x, int K, int *done) { (void)x; (void)K; *done = 0; return 0.0f; }
static int vla__i8_quant_v(vla__i8p *dst, const float *x, int K, float id) { (void)dst; (void)x; (void)K; (void)id; return 0; }
#endif

/* max |x[k]| of row x[K] (NaN ignored, as vla__i8_scale_of), vector part
 * then tail; d_x = that / 127 (the definition's scale). */
static float vla__i8_row_amax(const float *x, int K) {
    int k0, k;
    float amax = vla__i8_amax_v(x, K, &k0);
    for (k = k0; k < K; k++)
        if (VLA_FABSF(x[k]) > amax) amax = VLA_FABSF(x[k]);
    return amax;
}

static float vla__i8_row_scale(const float *x, int K) { return vla__i8_row_amax(x, K) / 127.0f; }

/* Quantize row x[K] with scale d (the definition's rounding) into dst[kp],
 * zero-padded; d = *dfix when given (a convolution's per-picture scale),
 * else the row's own d_x.  Returns d. */
static float vla__i8_pack_row(vla__i8p *dst, const float *x, int K, const float *dfix) {
    const size_t kp = vla__i8_kp(K);
    const float d = dfix ? *dfix : vla__i8_row_scale(x, K), id = vla__i8_inv(d);
    size_t k;
    for (k = (size_t)vla__i8_quant_v(dst, x, K, id); k < (size_t)K; k++) {
#if defined(VLA__I8_VNNI)
        dst[k] = (vla__i8p)(vla__i8_round(x[k] * id) + 128);
#else
        dst[k] = (vla__i8p)vla__i8_round(x[k] * id);
#endif
    }
    for (; k < kp; k++) dst[k] = (vla__i8p)(VLA__I8_KP == 64 ? 128 : 0); /* q_x = 0 */
    return d;
}

/* s[n] = sum_k x[k] w_n[k] for 4 W rows (exact int32), one packed x row. */
#if defined(VLA__I8_VNNI)
static __mmask64 vla__i8_tailmask(int rem) { return rem >= 64 ? ~(__mmask64)0 : (((__mmask64)1 << rem) - 1); }

static void vla__i8_sums1x4(int32_t s[VLA__I8_NR], const vla__i8p *x, const signed char *const *wr, int K) {
    __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
    /* the group's rows are usually one run of 4 K bytes (a decode step's GEMV
     * streams W from memory): read it VLA_GEMM_I8_PREFETCH_BYTES ahead, 4
     * lines per step (a hint: no fault past the matrix) */
    const signed char *pf = wr[0] + VLA_GEMM_I8_PREFETCH_BYTES;
    int k;
    for (k = 0; k + 64 <= K; k += 64) {
        const __m512i xv = _mm512_loadu_si512((const void *)(x + k));
        VLA__PREFETCH(pf + 4 * (size_t)k); VLA__PREFETCH(pf + 4 * (size_t)k + 64);
        VLA__PREFETCH(pf + 4 * (size_t)k + 128); VLA__PREFETCH(pf + 4 * (size_t)k + 192);
        c0 = _mm512_dpbusd_epi32(c0, xv, _mm512_loadu_si512((const void *)(wr[0] + k)));
        c1 = _mm512_dpbusd_epi32(c1, xv, _mm512_loadu_si512((const void *)(wr[1] + k)));
        c2 = _mm512_dpbusd_epi32(c2, xv, _mm512_loadu_si512((const void *)(wr[2] + k)));
        c3 = _mm512_dpbusd_epi32(c3, xv, _mm512_loadu_si512((const void *)(wr[3] + k)));
    }
    if (k < K) {
        const __mmask64 mk = vla__i8_tailmask(K - k);
        const __m512i xv = _mm512_loadu_si512((const void *)(x + k));
        c0 = _mm512_dpbusd_epi32(c0, xv, _mm512_maskz_loadu_epi8(mk, wr[0] + k));
        c1 = _mm512_dpbusd_epi32(c1, xv, _mm512_maskz_loadu_epi8(mk, wr[1] + k));
        c2 = _mm512_dpbusd_epi32(c2, xv, _mm512_maskz_loadu_epi8(mk, wr[2] + k));
        c3 = _mm512_dpbusd_epi32(c3, xv, _mm512_maskz_loadu_epi8(mk, wr[3] + k));
    }
    s[0] = _mm512_reduce_add_epi32(c0); s[1] = _mm512_reduce_add_epi32(c1);
    s[2] = _mm512_reduce_add_epi32(c2); s[3] = _mm512_reduce_add_epi32(c3);
}

/* sum_k w[k] (for the +128 correction): vpdpbusd with u8 ones. */
static int32_t vla__i8_wsum(const signed char *w, int K) {
    const __m512i one = _mm512_set1_epi8(1);
    __m512i c = _mm512_setzero_si512();
    int k;
    for (k = 0; k + 64 <= K; k += 64) c = _mm512_dpbusd_epi32(c, one, _mm512_loadu_si512((const void *)(w + k)));
    if (k < K) c = _mm512_dpbusd_epi32(c, one, _mm512_maskz_loadu_epi8(vla__i8_tailmask(K - k), w + k));
    return _mm512_reduce_add_epi32(c);
}

/* [sum a, sum b, sum c, sum d] per 128-bit lane: 4 zmm -> 1 zmm whose lane j
 * holds partial sums over lane j of the inputs. */
static __m512i vla__i8_red4(__m512i a, __m512i b, __m512i c, __m512i d) {
    __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
}

/* The 4 x 4 tile: y[m][n] for 4 packed x rows and 4 W rows, stored for
 * m < mr, n < nr.  corr[n] = 128 * sum_k w_n[k]. */
static void vla__i8_tile4x4(float *y, size_t ldy, const vla__i8p *const *xr, const float *dx, int mr,
                            const signed char *const *wr, const float *dw, const float *b4, const int32_t *corr, int nr,
                            int K) {
    __m512i c00 = _mm512_setzero_si512(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    __m512i c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    __m512i w0, w1, w2, w3, xv, r;
    __m512 f, sc;
    float out[16];
    int k, m, n;
    for (k = 0; k < K; k += 64) {
        if (k + 64 <= K) {
            w0 = _mm512_loadu_si512((const void *)(wr[0] + k)); w1 = _mm512_loadu_si512((const void *)(wr[1] + k));
            w2 = _mm512_loadu_si512((const void *)(wr[2] + k)); w3 = _mm512_loadu_si512((const void *)(wr[3] + k));
        } else {
            const __mmask64 mk = vla__i8_tailmask(K - k);
            w0 = _mm512_maskz_loadu_epi8(mk, wr[0] + k); w1 = _mm512_maskz_loadu_epi8(mk, wr[1] + k);
            w2 = _mm512_maskz_loadu_epi8(mk, wr[2] + k); w3 = _mm512_maskz_loadu_epi8(mk, wr[3] + k);
        }
        VLA__VREG(w0); VLA__VREG(w1); VLA__VREG(w2); VLA__VREG(w3);
#define VLA__I8_ROW(i, a0, a1, a2, a3)                                                                               \
        xv = _mm512_loadu_si512((const void *)(xr[i] + k));                                                          \
        a0 = _mm512_dpbusd_epi32(a0, xv, w0); a1 = _mm512_dpbusd_epi32(a1, xv, w1);                                  \
        a2 = _mm512_dpbusd_epi32(a2, xv, w2); a3 = _mm512_dpbusd_epi32(a3, xv, w3);
        VLA__I8_ROW(0, c00, c01, c02, c03)
        VLA__I8_ROW(1, c10, c11, c12, c13)
        VLA__I8_ROW(2, c20, c21, c22, c23)
        VLA__I8_ROW(3, c30, c31, c32, c33)
#undef VLA__I8_ROW
    }
    {   /* lane 4m + n of r = the sum of c_mn */
        __m512i g0 = vla__i8_red4(c00, c01, c02, c03), g1 = vla__i8_red4(c10, c11, c12, c13);
        __m512i g2 = vla__i8_red4(c20, c21, c22, c23), g3 = vla__i8_red4(c30, c31, c32, c33);
        __m512i h01 = _mm512_add_epi32(_mm512_shuffle_i32x4(g0, g1, 0x44), _mm512_shuffle_i32x4(g0, g1, 0xEE));
        __m512i h23 = _mm512_add_epi32(_mm512_shuffle_i32x4(g2, g3, 0x44), _mm512_shuffle_i32x4(g2, g3, 0xEE));
        r = _mm512_add_epi32(_mm512_shuffle_i32x4(h01, h23, 0x88), _mm512_shuffle_i32x4(h01, h23, 0xDD));
    }
    r = _mm512_sub_epi32(r, _mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)corr)));
    sc = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
                                             _mm512_castps128_ps512(_mm_loadu_ps(dx))),
                       _mm512_broadcast_f32x4(_mm_loadu_ps(dw)));
    f = _mm512_mul_ps(_mm512_cvtepi32_ps(r), sc);
    VLA__VREG(f); /* rounded product before the add: no FMA */
    f = _mm512_add_ps(f, _mm512_broadcast_f32x4(_mm_loadu_ps(b4)));
    if (mr == 4 && nr == 4) {
        _mm_storeu_ps(y, _mm512_extractf32x4_ps(f, 0));
        _mm_storeu_ps(y + ldy, _mm512_extractf32x4_ps(f, 1));
        _mm_storeu_ps(y + 2 * ldy, _mm512_extractf32x4_ps(f, 2));
        _mm_storeu_ps(y + 3 * ldy, _mm512_extractf32x4_ps(f, 3));
        return;
    }
    _mm512_storeu_ps(out, f);
    for (m = 0; m < mr; m++)
        for (n = 0; n < nr; n++) y[(size_t)m * ldy + n] = out[4 * m + n];
}
#elif defined(VLA__AVX2)
static int32_t vla__hsum_i32x8(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

/* The last K % 16 bytes of 4 W rows, zero-padded to 16 (x is padded). */
static void vla__i8_tail16(signed char tail[VLA__I8_NR][16], const signed char *const *wr, int k, int K) {
    int n;
    for (n = 0; n < VLA__I8_NR; n++) {
        VLA_MEMSET(tail[n], 0, 16);
        VLA_MEMCPY(tail[n], wr[n] + k, (size_t)(K - k));
    }
}

static void vla__i8_sums1x4(int32_t s[VLA__I8_NR], const vla__i8p *x, const signed char *const *wr, int K) {
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0;
    signed char tail[VLA__I8_NR][16];
    int k = 0;
#define VLA__I8_W16(p) _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define VLA__I8_STEP(p0, p1, p2, p3)                                                                                 \
    do {                                                                                                             \
        const __m256i xv = _mm256_loadu_si256((const __m256i *)(const void *)(x + k));                               \
        c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(xv, VLA__I8_W16(p0)));                                           \
        c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(xv, VLA__I8_W16(p1)));                                           \
        c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(xv, VLA__I8_W16(p2)));                                           \
        c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(xv, VLA__I8_W16(p3)));                                           \
    } while (0)
    for (; k < (K & ~15); k += 16) VLA__I8_STEP(wr[0] + k, wr[1] + k, wr[2] + k, wr[3] + k);
    if (k < K) {
        vla__i8_tail16(tail, wr, k, K);
        VLA__I8_STEP(tail[0], tail[1], tail[2], tail[3]);
    }
#undef VLA__I8_STEP
#undef VLA__I8_W16
    s[0] = vla__hsum_i32x8(c0); s[1] = vla__hsum_i32x8(c1); s[2] = vla__hsum_i32x8(c2); s[3] = vla__hsum_i32x8(c3);
}
#elif defined(VLA__NEON64) || defined(VLA__NEON32)
static int32_t vla__hsum_i32x4n(int32x4_t v) {
#if defined(VLA__NEON64)
    return vaddvq_s32(v);
#else
    int32x2_t t = vadd_s32(vget_low_s32(v), vget_high_s32(v));
    return vget_lane_s32(vpadd_s32(t, t), 0);
#endif
}

static int32x4_t vla__i8_dot16n(int32x4_t acc, int8x16_t a, int8x16_t b) {
#if defined(__ARM_FEATURE_DOTPROD)
    return vdotq_s32(acc, a, b);
#else
    int16x8_t p = vmull_s8(vget_low_s8(a), vget_low_s8(b));
    p = vmlal_s8(p, vget_high_s8(a), vget_high_s8(b)); /* |2 * 127 * 128| < 32768 */
    return vpadalq_s16(acc, p);
#endif
}

static void vla__i8_tail16(signed char tail[VLA__I8_NR][16], const signed char *const *wr, int k, int K) {
    int n;
    for (n = 0; n < VLA__I8_NR; n++) {
        VLA_MEMSET(tail[n], 0, 16);
        VLA_MEMCPY(tail[n], wr[n] + k, (size_t)(K - k));
    }
}

static void vla__i8_sums1x4(int32_t s[VLA__I8_NR], const vla__i8p *x, const signed char *const *wr, int K) {
    int32x4_t c0 = vdupq_n_s32(0), c1 = c0, c2 = c0, c3 = c0;
    signed char tail[VLA__I8_NR][16];
    int k = 0;
#define VLA__I8_STEP(p0, p1, p2, p3)                                                                                 \
    do {                                                                                                             \
        const int8x16_t xv = vld1q_s8(x + k);                                                                        \
        c0 = vla__i8_dot16n(c0, xv, vld1q_s8(p0)); c1 = vla__i8_dot16n(c1, xv, vld1q_s8(p1));                         \
        c2 = vla__i8_dot16n(c2, xv, vld1q_s8(p2)); c3 = vla__i8_dot16n(c3, xv, vld1q_s8(p3));                         \
    } while (0)
    for (; k < (K & ~15); k += 16) VLA__I8_STEP(wr[0] + k, wr[1] + k, wr[2] + k, wr[3] + k);
    if (k < K) {
        vla__i8_tail16(tail, wr, k, K);
        VLA__I8_STEP(tail[0], tail[1], tail[2], tail[3]);
    }
#undef VLA__I8_STEP
    s[0] = vla__hsum_i32x4n(c0); s[1] = vla__hsum_i32x4n(c1); s[2] = vla__hsum_i32x4n(c2); s[3] = vla__hsum_i32x4n(c3);
}
#if defined(VLA__NEON64)
#define VLA__I8_DOT4 1
/* s[m][n] for 4 packed x rows and 4 W rows (exact int32): a 4 x 4 tile of
 * 16 accumulators, 4 x + 4 W loads per 16 bytes (the 1 x 4 loop loads 5
 * per 4 products). */
static void vla__i8_sums4x4(int32_t s[4][VLA__I8_NR], const vla__i8p *const *xr, const signed char *const *wr, int K) {
    int32x4_t c00 = vdupq_n_s32(0), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
    int32x4_t c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    signed char tail[VLA__I8_NR][16];
    int k = 0;
#define VLA__I8_STEP(p0, p1, p2, p3)                                                                                 \
    do {                                                                                                             \
        const int8x16_t w0 = vld1q_s8(p0), w1 = vld1q_s8(p1), w2 = vld1q_s8(p2), w3 = vld1q_s8(p3);                  \
        int8x16_t xv = vld1q_s8(xr[0] + k);                                                                          \
        c00 = vla__i8_dot16n(c00, xv, w0); c01 = vla__i8_dot16n(c01, xv, w1);                                        \
        c02 = vla__i8_dot16n(c02, xv, w2); c03 = vla__i8_dot16n(c03, xv, w3);                                        \
        xv = vld1q_s8(xr[1] + k);                                                                                    \
        c10 = vla__i8_dot16n(c10, xv, w0); c11 = vla__i8_dot16n(c11, xv, w1);                                        \
        c12 = vla__i8_dot16n(c12, xv, w2); c13 = vla__i8_dot16n(c13, xv, w3);                                        \
        xv = vld1q_s8(xr[2] + k);                                                                                    \
        c20 = vla__i8_dot16n(c20, xv, w0); c21 = vla__i8_dot16n(c21, xv, w1);                                        \
        c22 = vla__i8_dot16n(c22, xv, w2); c23 = vla__i8_dot16n(c23, xv, w3);                                        \
        xv = vld1q_s8(xr[3] + k);                                                                                    \
        c30 = vla__i8_dot16n(c30, xv, w0); c31 = vla__i8_dot16n(c31, xv, w1);                                        \
        c32 = vla__i8_dot16n(c32, xv, w2); c33 = vla__i8_dot16n(c33, xv, w3);                                        \
    } while (0)
    for (; k < (K & ~15); k += 16) VLA__I8_STEP(wr[0] + k, wr[1] + k, wr[2] + k, wr[3] + k);
    if (k < K) { /* x rows are zero-padded to a multiple of 16 */
        vla__i8_tail16(tail, wr, k, K);
        VLA__I8_STEP(tail[0], tail[1], tail[2], tail[3]);
    }
#undef VLA__I8_STEP
    s[0][0] = vaddvq_s32(c00); s[0][1] = vaddvq_s32(c01); s[0][2] = vaddvq_s32(c02); s[0][3] = vaddvq_s32(c03);
    s[1][0] = vaddvq_s32(c10); s[1][1] = vaddvq_s32(c11); s[1][2] = vaddvq_s32(c12); s[1][3] = vaddvq_s32(c13);
    s[2][0] = vaddvq_s32(c20); s[2][1] = vaddvq_s32(c21); s[2][2] = vaddvq_s32(c22); s[2][3] = vaddvq_s32(c23);
    s[3][0] = vaddvq_s32(c30); s[3][1] = vaddvq_s32(c31); s[3][2] = vaddvq_s32(c32); s[3][3] = vaddvq_s32(c33);
}
#endif
#elif defined(VLA__MVE)
static void vla__i8_sums1x4(int32_t s[VLA__I8_NR], const vla__i8p *x, const signed char *const *wr, int K) {
    int32_t c0 = 0, c1 = 0, c2 = 0, c3 = 0;
    int k;
    for (k = 0; k < K; k += 16) { /* the last step loads lanes >= K as 0 */
        mve_pred16_t p = vctp8q((uint32_t)(K - k));
        int8x16_t xv = vldrbq_z_s8(x + k, p);
        c0 = vmladavaq_s8(c0, xv, vldrbq_z_s8(wr[0] + k, p));
        c1 = vmladavaq_s8(c1, xv, vldrbq_z_s8(wr[1] + k, p));
        c2 = vmladavaq_s8(c2, xv, vldrbq_z_s8(wr[2] + k, p));
        c3 = vmladavaq_s8(c3, xv, vldrbq_z_s8(wr[3] + k, p));
    }
    s[0] = c0; s[1] = c1; s[2] = c2; s[3] = c3;
}
#elif defined(VLA__RVV)
/* sum_k a[k] b[k] of int8 vectors: vwmul.vv to int16, vwredsum.vs into an
 * int32 scalar (exact: |a b| <= 127 * 128 fits int16). */
static int32_t vla__i8_dot_rvv(const signed char *a, const signed char *b, int n) {
    size_t left = n > 0 ? (size_t)n : 0, vl;
    long r;
    if (left == 0) return 0;
    /* v8: a strip, v9: b strip (e8, m1), v10..v11: products (e16, m2),
     * v12: the running sum (element 0, e32) */
    __asm__ volatile(
        "vsetivli  zero, 1, e32, m1, ta, ma\n\t"
        "vmv.s.x   v12, zero\n\t"
        "1:\n\t"
        "vsetvli   %[vl], %[left], e8, m1, ta, ma\n\t"
        "vle8.v    v8, (%[a])\n\t"
        "vle8.v    v9, (%[b])\n\t"
        "vwmul.vv  v10, v8, v9\n\t"
        "vsetvli   zero, %[vl], e16, m2, ta, ma\n\t"
        "vwredsum.vs v12, v10, v12\n\t"
        "sub       %[left], %[left], %[vl]\n\t"
        "add       %[a], %[a], %[vl]\n\t"
        "add       %[b], %[b], %[vl]\n\t"
        "bnez      %[left], 1b\n\t"
        "vsetivli  zero, 1, e32, m1, ta, ma\n\t"
        "vmv.x.s   %[r], v12\n\t"
        : [r] "=r"(r), [vl] "=&r"(vl), [left] "+r"(left), [a] "+r"(a), [b] "+r"(b)
        :
        : "memory" VLA__RVV_CLOBBERS_I8);
    return (int32_t)r;
}

static void vla__i8_sums1x4(int32_t s[VLA__I8_NR], const vla__i8p *x, const signed char *const *wr, int K) {
    int n;
    for (n = 0; n < VLA__I8_NR; n++) s[n] = vla__i8_dot_rvv(x, wr[n], K);
}
#else
static void vla__i8_sums1x4(int32_t s[VLA__I8_NR], const vla__i8p *x, const signed char *const *wr, int K) {
    int n, k;
    for (n = 0; n < VLA__I8_NR; n++) {
        int32_t a = 0;
        for (k = 0; k < K; k++) a += VLA__I8_MUL(x[k], wr[n][k]);
        s[n] = a;
    }
}
#endif

/* One row of x against a group: y[n] for n < nr. */
static void vla__i8_row1x4(float *y, const vla__i8p *x, float dx, const signed char *const *wr, const float *dw,
                           const float *b4, const int32_t *corr, int nr, int K) {
    int32_t s[VLA__I8_NR];
    int n;
    vla__i8_sums1x4(s, x, wr, K);
    for (n = 0; n < nr; n++) y[n] = vla__i8_out((int32_t)((uint32_t)s[n] - (uint32_t)corr[n]), dx * dw[n], b4[n]);
}

/* The reference loop over a rectangle (rows too long for the buffer);
 * dfix as vla__i8_pack_row. */
static void vla__i8_ref_rect(float *y, const float *x, const vla_mat *w, const float *b, int m0, int m1, int n0, int n1,
                             const float *dfix) {
    const int K = w->cols, N = w->rows;
    int m, n, k;
    for (m = m0; m < m1; m++) {
        const float *xm = x + (size_t)m * K;
        const float dx = dfix ? *dfix : vla__i8_scale_of(xm, K), id = vla__i8_inv(dx);
        for (n = n0; n < n1; n++) {
            const signed char *q = (const signed char *)w->data + (size_t)n * K;
            int32_t isum = 0;
            for (k = 0; k < K; k++) isum += VLA__I8_MUL(vla__i8_round(xm[k] * id), q[k]);
            y[(size_t)m * N + n] = vla__i8_out(isum, dx * w->scale[n], b ? b[n] : 0.0f);
        }
    }
}

#if defined(VLA__I8_VNNI)
/* ---- AVX-512 VNNI, tiled path (M >= VLA__I8_TILED_M) ---------------------
 * Outer-product form: a panel of 64 W rows and a K block of at most
 * VLA__I8_KCV bytes is packed on the stack as P[k/4][64][4] (each zmm holds
 * 4 consecutive k of 16 W rows), so one vpdpbusd of a broadcast dword of x
 * (4 u8 of one x row) and one zmm of P adds 4 products to 16 outputs; the
 * accumulator lanes are the outputs themselves (no horizontal sums).  The
 * register tile is 6 x rows x 64 W rows (24 zmm accumulators, 4 W + 6
 * broadcast loads per 24 vpdpbusd).  A task quantizes a block of x rows
 * (all of a BART layer's 46) one K block at a time into the same buffer, so
 * every W byte is packed and read once per M block, whatever K is; between K
 * blocks the exact int32 partial sums wait in y (as int32 bits, masked
 * stores), and the last K block writes the epilogue.  The +128 correction
 * (x is packed as u8 = q_x + 128) is subtracted per K block: 128 * the
 * block's column sums of W, from one vpdpbusd(1, P) per packed zmm.  All of
 * it is exact mod 2^32 and ends at the reference's isum. */
#define VLA__I8_TILED 1
#define VLA__I8_MRV 6
#define VLA__I8_NRV 64
/* the K block follows the stack buffer: 768 (a BART layer's K in two
 * blocks of 384 when the rows of x need the room, vla__gemm_i8_tiled) in
 * the VNNI default of 64 KiB, 256 in less.  The convolutions' panel buffer
 * (P and its corrections: vla__gemm_i8_tiled_q, vla__convq_implicit) is
 * sized by it too: 48.3 KiB of stack, or 16.3 KiB. */
#define VLA__I8_KCV (VLA_GEMM_I8_STACK >= 64 * 1024 ? 768 : 256)
#define VLA__I8_TILED_M 9 /* below: the dot-product kernels (W read in place; M = 8 is two of their 4 x 4 tiles) */

/* One x row of a register tile: broadcast its dword at xp (4 u8 of x) and
 * add it times 4 (2) zmm of the packed panel into 4 (2) accumulators.
 * Written as inline asm for GCC and clang: with the intrinsics GCC 12
 * copies accumulators between registers inside the k loop and spills one
 * of the 6 x 64 tile's (that tile alone, its panel in L1, 1 thread of a
 * Xeon with VNNI: 667 GOP/s, 747 in asm).  The same instructions, so the
 * same integers. */
#if defined(__GNUC__) || defined(__clang__)
#define VLA__I8_DP4(xp, c0, c1, c2, c3, w0, w1, w2, w3)                                                             \
    __asm__("vpbroadcastd %[a], %%zmm31\n\t"                                                                       \
            "vpdpbusd %[v0], %%zmm31, %[s0]\n\tvpdpbusd %[v1], %%zmm31, %[s1]\n\t"                                 \
            "vpdpbusd %[v2], %%zmm31, %[s2]\n\tvpdpbusd %[v3], %%zmm31, %[s3]"                                      \
            : [s0] "+v"(c0), [s1] "+v"(c1), [s2] "+v"(c2), [s3] "+v"(c3)                                             \
            : [v0] "v"(w0), [v1] "v"(w1), [v2] "v"(w2), [v3] "v"(w3), [a] "m"(*(const int32_t *)(const void *)(xp)) \
            : "zmm31")
#define VLA__I8_DP2(xp, c0, c1, w0, w1)                                                                              \
    __asm__("vpbroadcastd %[a], %%zmm31\n\t"                                                                       \
            "vpdpbusd %[v0], %%zmm31, %[s0]\n\tvpdpbusd %[v1], %%zmm31, %[s1]"                                      \
            : [s0] "+v"(c0), [s1] "+v"(c1)                                                                           \
            : [v0] "v"(w0), [v1] "v"(w1), [a] "m"(*(const int32_t *)(const void *)(xp))                             \
            : "zmm31")
#else
#define VLA__I8_DP4(xp, c0, c1, c2, c3, w0, w1, w2, w3)                                                             \
    do {                                                                                                             \
        const __m512i a_ = _mm512_broadcastd_epi32(_mm_loadu_si32((const void *)(xp)));                              \
        c0 = _mm512_dpbusd_epi32(c0, a_, w0); c1 = _mm512_dpbusd_epi32(c1, a_, w1);                                  \
        c2 = _mm512_dpbusd_epi32(c2, a_, w2); c3 = _mm512_dpbusd_epi32(c3, a_, w3);                                  \
    } while (0)
#define VLA__I8_DP2(xp, c0, c1, w0, w1)                                                                              \
    do {                                                                                                             \
        const __m512i a_ = _mm512_broadcastd_epi32(_mm_loadu_si32((const void *)(xp)));                              \
        c0 = _mm512_dpbusd_epi32(c0, a_, w0); c1 = _mm512_dpbusd_epi32(c1, a_, w1);                                  \
    } while (0)
#endif

static __mmask16 vla__i8_mask16(int rem) { return rem >= 16 ? (__mmask16)0xFFFF : rem <= 0 ? 0 : (__mmask16)((1u << rem) - 1); }

/* Pack W rows [n, n + nr) (nr <= np, np = 64 or 32), columns [k0, k0 + kb),
 * into P[kbp/4][np][4] (kbp = kb rounded up to 64; zeros past nr and kb), and
 * corr[c] = 128 * sum of the block's W row n + c, mod 2^32. */
static void vla__i8_pack_panel(signed char *P, int32_t *corr, const signed char *w, int K, int n, int nr, int k0,
                               int kb, int np) {
    const __m512i one = _mm512_set1_epi8(1), zero = _mm512_setzero_si512();
    const size_t st = (size_t)np * 4; /* bytes per k4 step */
    int g, kk;
    for (g = 0; g < np / 16; g++) {
        const signed char *wg = w + (size_t)(n + 16 * g) * K + k0;
        const int rows = nr - 16 * g;
        __m512i cs = zero;
        for (kk = 0; kk < kb; kk += 64) {
            const __mmask64 mk = vla__i8_tailmask(kb - kk);
            signed char *o = P + (size_t)(kk / 4) * st + 64 * (size_t)g;
            __m512i r0, r1, r2, r3, r4, r5, r6, r7, r8, r9, r10, r11, r12, r13, r14, r15;
            __m512i a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15;
            /* 16 rows of 64 bytes; then a 16 x 16 transpose of dwords: out j lane i = row i dword j */
#define VLA__I8_LD(i) r##i = i < rows ? _mm512_maskz_loadu_epi8(mk, wg + (size_t)(i) * K + kk) : zero;
            VLA__I8_LD(0) VLA__I8_LD(1) VLA__I8_LD(2) VLA__I8_LD(3) VLA__I8_LD(4) VLA__I8_LD(5) VLA__I8_LD(6) VLA__I8_LD(7)
            VLA__I8_LD(8) VLA__I8_LD(9) VLA__I8_LD(10) VLA__I8_LD(11) VLA__I8_LD(12) VLA__I8_LD(13) VLA__I8_LD(14)
            VLA__I8_LD(15)
#undef VLA__I8_LD
#define VLA__I8_T1(i, j) a##i = _mm512_unpacklo_epi32(r##i, r##j); a##j = _mm512_unpackhi_epi32(r##i, r##j);
            VLA__I8_T1(0, 1) VLA__I8_T1(2, 3) VLA__I8_T1(4, 5) VLA__I8_T1(6, 7)
            VLA__I8_T1(8, 9) VLA__I8_T1(10, 11) VLA__I8_T1(12, 13) VLA__I8_T1(14, 15)
#undef VLA__I8_T1
            /* r(i + d): rows i..i+3, dword 4L + d of each 128-bit lane L */
#define VLA__I8_T2(i0, i1, i2, i3)                                                                                   \
            r##i0 = _mm512_unpacklo_epi64(a##i0, a##i2); r##i1 = _mm512_unpackhi_epi64(a##i0, a##i2);                \
            r##i2 = _mm512_unpacklo_epi64(a##i1, a##i3); r##i3 = _mm512_unpackhi_epi64(a##i1, a##i3);
            VLA__I8_T2(0, 1, 2, 3) VLA__I8_T2(4, 5, 6, 7) VLA__I8_T2(8, 9, 10, 11) VLA__I8_T2(12, 13, 14, 15)
#undef VLA__I8_T2
#define VLA__I8_T3(d, e, f, h, j0, j1, j2, j3)                                                                       \
            {                                                                                                        \
                const __m512i u0 = _mm512_shuffle_i32x4(r##d, r##e, 0x44), u1 = _mm512_shuffle_i32x4(r##d, r##e, 0xEE); \
                const __m512i u2 = _mm512_shuffle_i32x4(r##f, r##h, 0x44), u3 = _mm512_shuffle_i32x4(r##f, r##h, 0xEE); \
                a##j0 = _mm512_shuffle_i32x4(u0, u2, 0x88); a##j1 = _mm512_shuffle_i32x4(u0, u2, 0xDD);              \
                a##j2 = _mm512_shuffle_i32x4(u1, u3, 0x88); a##j3 = _mm512_shuffle_i32x4(u1, u3, 0xDD);              \
            }
            VLA__I8_T3(0, 4, 8, 12, 0, 4, 8, 12) VLA__I8_T3(1, 5, 9, 13, 1, 5, 9, 13)
            VLA__I8_T3(2, 6, 10, 14, 2, 6, 10, 14) VLA__I8_T3(3, 7, 11, 15, 3, 7, 11, 15)
#undef VLA__I8_T3
#define VLA__I8_ST(j)                                                                                                \
            _mm512_storeu_si512((void *)(o + (size_t)(j) * st), a##j); cs = _mm512_dpbusd_epi32(cs, one, a##j);
            VLA__I8_ST(0) VLA__I8_ST(1) VLA__I8_ST(2) VLA__I8_ST(3) VLA__I8_ST(4) VLA__I8_ST(5) VLA__I8_ST(6) VLA__I8_ST(7)
            VLA__I8_ST(8) VLA__I8_ST(9) VLA__I8_ST(10) VLA__I8_ST(11) VLA__I8_ST(12) VLA__I8_ST(13) VLA__I8_ST(14)
            VLA__I8_ST(15)
#undef VLA__I8_ST
        }
        _mm512_storeu_si512((void *)(corr + 16 * g), _mm512_slli_epi32(cs, 7));
    }
}

/* The 6 x 64 tile over one packed K block of kq dword steps.  x rows
 * xq + r * ldx for r < mr (the others repeat row mr - 1 and are not
 * stored).  first: start from -corr, else from the partial sums in y;
 * last: write the epilogue ((float)isum * (d_x * d_w)) + b, else the
 * partial sums (int32 bits). */
static VLA__NOINLINE void vla__i8_kern6x64(float *y, size_t ldy, const unsigned char *xq, size_t ldx, int mr, const signed char *P,
                             int kq, const int32_t *corr, int first, int last, const float *dx, const float *dw,
                             const float *b, int nr) {
    const __mmask16 m0 = vla__i8_mask16(nr), m1 = vla__i8_mask16(nr - 16), m2 = vla__i8_mask16(nr - 32),
                    m3 = vla__i8_mask16(nr - 48);
    const unsigned char *x0 = xq, *x1 = xq + (size_t)(mr > 1 ? 1 : 0) * ldx, *x2 = xq + (size_t)(mr > 2 ? 2 : mr - 1) * ldx,
                        *x3 = xq + (size_t)(mr > 3 ? 3 : mr - 1) * ldx, *x4 = xq + (size_t)(mr > 4 ? 4 : mr - 1) * ldx,
                        *x5 = xq + (size_t)(mr > 5 ? 5 : mr - 1) * ldx;
    __m512i k0, k1, k2, k3; /* corr, loaded after the loop (24 sums + 4 W + 1 x take 29 registers) */
    __m512i c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33, c40, c41, c42, c43, c50,
        c51, c52, c53;
    int k;
    c00 = _mm512_setzero_si512(); c01 = c00; c02 = c00; c03 = c00; c10 = c00; c11 = c00; c12 = c00; c13 = c00;
    c20 = c00; c21 = c00; c22 = c00; c23 = c00; c30 = c00; c31 = c00; c32 = c00; c33 = c00;
    c40 = c00; c41 = c00; c42 = c00; c43 = c00; c50 = c00; c51 = c00; c52 = c00; c53 = c00;
    for (k = 0; k < kq; k++) {
        const signed char *p = P + (size_t)k * (VLA__I8_NRV * 4);
        const __m512i w0 = _mm512_loadu_si512((const void *)p), w1 = _mm512_loadu_si512((const void *)(p + 64)),
                      w2 = _mm512_loadu_si512((const void *)(p + 128)), w3 = _mm512_loadu_si512((const void *)(p + 192));
#define VLA__I8_ROW(r) VLA__I8_DP4(x##r + 4 * (size_t)k, c##r##0, c##r##1, c##r##2, c##r##3, w0, w1, w2, w3);
        VLA__I8_ROW(0) VLA__I8_ROW(1) VLA__I8_ROW(2) VLA__I8_ROW(3) VLA__I8_ROW(4) VLA__I8_ROW(5)
#undef VLA__I8_ROW
    }
    /* + the start: -corr, or the partial sums in y minus corr (mod 2^32) */
    k0 = _mm512_loadu_si512((const void *)corr); k1 = _mm512_loadu_si512((const void *)(corr + 16));
    k2 = _mm512_loadu_si512((const void *)(corr + 32)); k3 = _mm512_loadu_si512((const void *)(corr + 48));
#define VLA__I8_INIT(r)                                                                                              \
    if (r < mr) {                                                                                                    \
        const float *yr = y + (size_t)r * ldy;                                                                       \
        c##r##0 = _mm512_sub_epi32(c##r##0, k0); c##r##1 = _mm512_sub_epi32(c##r##1, k1);                            \
        c##r##2 = _mm512_sub_epi32(c##r##2, k2); c##r##3 = _mm512_sub_epi32(c##r##3, k3);                            \
        if (!first) {                                                                                                \
            c##r##0 = _mm512_add_epi32(c##r##0, _mm512_maskz_loadu_epi32(m0, yr));                                   \
            c##r##1 = _mm512_add_epi32(c##r##1, _mm512_maskz_loadu_epi32(m1, yr + 16));                              \
            c##r##2 = _mm512_add_epi32(c##r##2, _mm512_maskz_loadu_epi32(m2, yr + 32));                              \
            c##r##3 = _mm512_add_epi32(c##r##3, _mm512_maskz_loadu_epi32(m3, yr + 48));                              \
        }                                                                                                            \
    }
    VLA__I8_INIT(0) VLA__I8_INIT(1) VLA__I8_INIT(2) VLA__I8_INIT(3) VLA__I8_INIT(4) VLA__I8_INIT(5)
#undef VLA__I8_INIT
    if (!last) {
#define VLA__I8_PART(r)                                                                                              \
        if (r < mr) {                                                                                                \
            float *yr = y + (size_t)r * ldy;                                                                         \
            _mm512_mask_storeu_epi32(yr, m0, c##r##0); _mm512_mask_storeu_epi32(yr + 16, m1, c##r##1);               \
            _mm512_mask_storeu_epi32(yr + 32, m2, c##r##2); _mm512_mask_storeu_epi32(yr + 48, m3, c##r##3);          \
        }
        VLA__I8_PART(0) VLA__I8_PART(1) VLA__I8_PART(2) VLA__I8_PART(3) VLA__I8_PART(4) VLA__I8_PART(5)
#undef VLA__I8_PART
        return;
    }
    {
        const __m512 s0 = _mm512_maskz_loadu_ps(m0, dw), s1 = _mm512_maskz_loadu_ps(m1, dw + 16),
                     s2 = _mm512_maskz_loadu_ps(m2, dw + 32), s3 = _mm512_maskz_loadu_ps(m3, dw + 48);
        const __m512 b0 = b ? _mm512_maskz_loadu_ps(m0, b) : _mm512_setzero_ps(),
                     b1 = b ? _mm512_maskz_loadu_ps(m1, b + 16) : _mm512_setzero_ps(),
                     b2 = b ? _mm512_maskz_loadu_ps(m2, b + 32) : _mm512_setzero_ps(),
                     b3 = b ? _mm512_maskz_loadu_ps(m3, b + 48) : _mm512_setzero_ps();
        __m512 f;
#define VLA__I8_OUT1(yp, m, c, s, bb)                                                                                \
        f = _mm512_mul_ps(_mm512_cvtepi32_ps(c), _mm512_mul_ps(d, s));                                               \
        VLA__VREG(f); /* rounded product before the add: no FMA */                                                   \
        _mm512_mask_storeu_ps(yp, m, _mm512_add_ps(f, bb));
#define VLA__I8_OUT(r)                                                                                               \
        if (r < mr) {                                                                                                \
            float *yr = y + (size_t)r * ldy;                                                                         \
            const __m512 d = _mm512_set1_ps(dx[r]);                                                                  \
            VLA__I8_OUT1(yr, m0, c##r##0, s0, b0) VLA__I8_OUT1(yr + 16, m1, c##r##1, s1, b1)                         \
            VLA__I8_OUT1(yr + 32, m2, c##r##2, s2, b2) VLA__I8_OUT1(yr + 48, m3, c##r##3, s3, b3)                    \
        }
        VLA__I8_OUT(0) VLA__I8_OUT(1) VLA__I8_OUT(2) VLA__I8_OUT(3) VLA__I8_OUT(4) VLA__I8_OUT(5)
#undef VLA__I8_OUT
#undef VLA__I8_OUT1
    }
}

/* The 12 x 32 tile (panels of 32 W rows: N <= 32, the CLIP stem), same
 * contract as vla__i8_kern6x64. */
static VLA__NOINLINE void vla__i8_kern12x32(float *y, size_t ldy, const unsigned char *xq, size_t ldx, int mr,
                                           const signed char *P, int kq, const int32_t *corr, int first, int last,
                                           const float *dx, const float *dw, const float *b, int nr) {
    const __mmask16 m0 = vla__i8_mask16(nr), m1 = vla__i8_mask16(nr - 16);
    const unsigned char *xp[12];
    const __m512i k0 = _mm512_loadu_si512((const void *)corr), k1 = _mm512_loadu_si512((const void *)(corr + 16));
    __m512i c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51, c60, c61, c70, c71, c80, c81, c90, c91, ca0, ca1,
        cb0, cb1;
    const unsigned char *x0, *x1, *x2, *x3, *x4, *x5, *x6, *x7, *x8, *x9, *xa, *xb;
    int k, r;
    for (r = 0; r < 12; r++) xp[r] = xq + (size_t)(r < mr ? r : mr - 1) * ldx;
    x0 = xp[0]; x1 = xp[1]; x2 = xp[2]; x3 = xp[3]; x4 = xp[4]; x5 = xp[5];
    x6 = xp[6]; x7 = xp[7]; x8 = xp[8]; x9 = xp[9]; xa = xp[10]; xb = xp[11];
    c00 = _mm512_setzero_si512(); c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00; c30 = c00; c31 = c00;
    c40 = c00; c41 = c00; c50 = c00; c51 = c00; c60 = c00; c61 = c00; c70 = c00; c71 = c00;
    c80 = c00; c81 = c00; c90 = c00; c91 = c00; ca0 = c00; ca1 = c00; cb0 = c00; cb1 = c00;
    for (k = 0; k < kq; k++) {
        const signed char *p = P + (size_t)k * 128;
        const __m512i w0 = _mm512_loadu_si512((const void *)p), w1 = _mm512_loadu_si512((const void *)(p + 64));
#define VLA__I8_ROW(r) VLA__I8_DP2(x##r + 4 * (size_t)k, c##r##0, c##r##1, w0, w1);
        VLA__I8_ROW(0) VLA__I8_ROW(1) VLA__I8_ROW(2) VLA__I8_ROW(3) VLA__I8_ROW(4) VLA__I8_ROW(5)
        VLA__I8_ROW(6) VLA__I8_ROW(7) VLA__I8_ROW(8) VLA__I8_ROW(9) VLA__I8_ROW(a) VLA__I8_ROW(b)
#undef VLA__I8_ROW
    }
    {
        const __m512 s0 = _mm512_maskz_loadu_ps(m0, dw), s1 = _mm512_maskz_loadu_ps(m1, dw + 16);
        const __m512 b0 = b ? _mm512_maskz_loadu_ps(m0, b) : _mm512_setzero_ps(),
                     b1 = b ? _mm512_maskz_loadu_ps(m1, b + 16) : _mm512_setzero_ps();
        __m512 f;
#define VLA__I8_FIN(r, i)                                                                                            \
        if (i < mr) {                                                                                                \
            float *yr = y + (size_t)i * ldy;                                                                         \
            c##r##0 = _mm512_sub_epi32(c##r##0, k0); c##r##1 = _mm512_sub_epi32(c##r##1, k1);                        \
            if (!first) {                                                                                            \
                c##r##0 = _mm512_add_epi32(c##r##0, _mm512_maskz_loadu_epi32(m0, yr));                               \
                c##r##1 = _mm512_add_epi32(c##r##1, _mm512_maskz_loadu_epi32(m1, yr + 16));                          \
            }                                                                                                        \
            if (!last) {                                                                                             \
                _mm512_mask_storeu_epi32(yr, m0, c##r##0); _mm512_mask_storeu_epi32(yr + 16, m1, c##r##1);           \
            } else {                                                                                                 \
                const __m512 d = _mm512_set1_ps(dx[i]);                                                              \
                f = _mm512_mul_ps(_mm512_cvtepi32_ps(c##r##0), _mm512_mul_ps(d, s0));                                \
                VLA__VREG(f); /* rounded product before the add: no FMA */                                           \
                _mm512_mask_storeu_ps(yr, m0, _mm512_add_ps(f, b0));                                                 \
                f = _mm512_mul_ps(_mm512_cvtepi32_ps(c##r##1), _mm512_mul_ps(d, s1));                                \
                VLA__VREG(f);                                                                                        \
                _mm512_mask_storeu_ps(yr + 16, m1, _mm512_add_ps(f, b1));                                            \
            }                                                                                                        \
        }
        VLA__I8_FIN(0, 0) VLA__I8_FIN(1, 1) VLA__I8_FIN(2, 2) VLA__I8_FIN(3, 3) VLA__I8_FIN(4, 4) VLA__I8_FIN(5, 5)
        VLA__I8_FIN(6, 6) VLA__I8_FIN(7, 7) VLA__I8_FIN(8, 8) VLA__I8_FIN(9, 9) VLA__I8_FIN(a, 10) VLA__I8_FIN(b, 11)
#undef VLA__I8_FIN
    }
}

/* Ask for the W rows the next vla__i8_pack_panel will read (rows [n,
 * n + 64) below n1, columns [k0, k0 + kc) below K) while the kernels of the
 * current panel run: the pack reads 64 rows K bytes apart, a pattern the
 * hardware prefetchers do not follow, and it otherwise waits on memory. */
static void vla__i8_prefetch_next(const signed char *w, int K, int n, int k0, int n1, int kc) {
    int r, k, k1 = k0 + kc < K ? k0 + kc : K;
    if (k0 >= K) return;
    for (r = n; r < n + VLA__I8_NRV && r < n1; r++)
        for (k = k0; k < k1; k += 64) VLA__PREFETCH(w + (size_t)r * K + k);
}

/* The tiled path over y[m0..m1) x [n0..n1); the stack buffer holds the
 * panel P, its corrections, mc rows of one K block of x and their scales. */
static void vla__gemm_i8_tiled(float *y, const float *x, const vla_mat *w, const float *b, int m0, int m1, int n0,
                               int n1, const float *dfix) {
    unsigned char buf[VLA_GEMM_I8_STACK];
    const int K = w->cols, N = w->rows;
    int kc = K < VLA__I8_KCV ? K : VLA__I8_KCV;
    size_t kcs = ((size_t)kc + 63) & ~(size_t)63, pbytes = kcs * VLA__I8_NRV;
    size_t fixed = 63 + pbytes + VLA__I8_NRV * sizeof(int32_t);
    signed char *P = (signed char *)(void *)(buf + ((64 - ((size_t)buf & 63)) & 63));
    int32_t *corr;
    unsigned char *xq;
    const signed char *wd = (const signed char *)w->data;
    float *ds;
    size_t mc = fixed < sizeof buf ? (sizeof buf - fixed) / (kcs + sizeof(float)) : 0;
    int mb, rb, k0, kb, n, nr, i;
    if (m1 - m0 > (int)mc && kc > VLA__I8_KCV / 2) { /* more rows than a block: halve the K block, double the rows
                                                        (W is packed once per M block) */
        kc = VLA__I8_KCV / 2;
        kcs = (size_t)kc;
        pbytes = kcs * VLA__I8_NRV;
        fixed = 63 + pbytes + VLA__I8_NRV * sizeof(int32_t);
        mc = fixed < sizeof buf ? (sizeof buf - fixed) / (kcs + sizeof(float)) : 0;
    }
    corr = (int32_t *)(void *)(P + pbytes);
    xq = (unsigned char *)(void *)(corr + VLA__I8_NRV);
    if (mc >= 12) mc -= mc % 12; /* whole tiles of both kernels */
    if (mc > 1020) mc = 1020;
    if (mc < 1) { vla__i8_ref_rect(y, x, w, b, m0, m1, n0, n1, dfix); return; }
    ds = (float *)(void *)(xq + mc * kcs);
    for (mb = m0; mb < m1; mb += rb) {
        rb = m1 - mb < (int)mc ? m1 - mb : (int)mc;
        for (i = 0; i < rb; i++) ds[i] = dfix ? *dfix : vla__i8_row_scale(x + (size_t)(mb + i) * K, K);
        for (k0 = 0; k0 < K; k0 += kb) {
            size_t kbp;
            kb = K - k0 < kc ? K - k0 : kc;
            kbp = ((size_t)kb + 63) & ~(size_t)63;
            for (i = 0; i < rb; i++) { /* quantize the K block of row mb + i (the definition's rounding) */
                const float *xr = x + (size_t)(mb + i) * K + k0;
                const float id = vla__i8_inv(ds[i]);
                unsigned char *o = xq + (size_t)i * kcs;
                size_t k;
                for (k = (size_t)vla__i8_quant_v(o, xr, kb, id); k < (size_t)kb; k++)
                    o[k] = (unsigned char)(vla__i8_round(xr[k] * id) + 128);
                for (; k < kbp; k++) o[k] = 128; /* q_x = 0 */
            }
            for (n = n0; n < n1; n += VLA__I8_NRV) {
                nr = n1 - n < VLA__I8_NRV ? n1 - n : VLA__I8_NRV;
                if (nr <= 32) { /* a narrow panel: 12 x 32 tiles */
                    vla__i8_pack_panel(P, corr, wd, K, n, nr, k0, kb, 32);
                    for (i = 0; i < rb; i += 12)
                        vla__i8_kern12x32(y + (size_t)(mb + i) * N + n, (size_t)N, xq + (size_t)i * kcs, kcs,
                                          rb - i < 12 ? rb - i : 12, P, (kb + 3) / 4, corr, k0 == 0, k0 + kb >= K,
                                          ds + i, w->scale + n, b ? b + n : NULL, nr);
                    continue;
                }
                vla__i8_pack_panel(P, corr, wd, K, n, nr, k0, kb, VLA__I8_NRV);
                vla__i8_prefetch_next(wd, K, n + VLA__I8_NRV < n1 ? n + VLA__I8_NRV : n0,
                                      n + VLA__I8_NRV < n1 ? k0 : k0 + kb, n1, kc);
                for (i = 0; i < rb; i += VLA__I8_MRV)
                    vla__i8_kern6x64(y + (size_t)(mb + i) * N + n, (size_t)N, xq + (size_t)i * kcs, kcs,
                                     rb - i < VLA__I8_MRV ? rb - i : VLA__I8_MRV, P, (kb + 3) / 4, corr, k0 == 0,
                                     k0 + kb >= K, ds + i, w->scale + n, b ? b + n : NULL, nr);
            }
        }
    }
}
/* The tiled path on rows quantized beforehand (the int8 convolution's
 * im2col, [D4]): xq[m] = the u8 bytes q_x + 128 of row m, ldx >= K rounded
 * up to 4 apart (the bytes past K are never multiplied: the panel is zero
 * there), dx[m] its d_x.  Without the quantization there is no M block: W
 * is packed once per K block and panel for all of rows [m0, m1). */
#define VLA__I8_PREQ 1
static void vla__gemm_i8_tiled_q(float *y, const unsigned char *xq, size_t ldx, const float *dx, const vla_mat *w,
                                 const float *b, int m0, int m1, int n0, int n1) {
    unsigned char buf[63 + VLA__I8_KCV * VLA__I8_NRV + VLA__I8_NRV * sizeof(int32_t)];
    signed char *P = (signed char *)(void *)(buf + ((64 - ((size_t)buf & 63)) & 63));
    int32_t *corr = (int32_t *)(void *)(P + VLA__I8_KCV * VLA__I8_NRV);
    const signed char *wd = (const signed char *)w->data;
    const int K = w->cols, N = w->rows;
    int k0, kb, n, nr, i;
    for (k0 = 0; k0 < K; k0 += kb) {
        kb = K - k0 < VLA__I8_KCV ? K - k0 : VLA__I8_KCV;
        for (n = n0; n < n1; n += VLA__I8_NRV) {
            nr = n1 - n < VLA__I8_NRV ? n1 - n : VLA__I8_NRV;
            if (nr <= 32) { /* a narrow panel: 12 x 32 tiles */
                vla__i8_pack_panel(P, corr, wd, K, n, nr, k0, kb, 32);
                for (i = m0; i < m1; i += 12)
                    vla__i8_kern12x32(y + (size_t)i * N + n, (size_t)N, xq + (size_t)i * ldx + k0, ldx,
                                      m1 - i < 12 ? m1 - i : 12, P, (kb + 3) / 4, corr, k0 == 0, k0 + kb >= K, dx + i,
                                      w->scale + n, b ? b + n : NULL, nr);
                continue;
            }
            vla__i8_pack_panel(P, corr, wd, K, n, nr, k0, kb, VLA__I8_NRV);
            vla__i8_prefetch_next(wd, K, n + VLA__I8_NRV < n1 ? n + VLA__I8_NRV : n0,
                                  n + VLA__I8_NRV < n1 ? k0 : k0 + kb, n1, VLA__I8_KCV);
            for (i = m0; i < m1; i += VLA__I8_MRV)
                vla__i8_kern6x64(y + (size_t)i * N + n, (size_t)N, xq + (size_t)i * ldx + k0, ldx,
                                 m1 - i < VLA__I8_MRV ? m1 - i : VLA__I8_MRV, P, (kb + 3) / 4, corr, k0 == 0,
                                 k0 + kb >= K, dx + i, w->scale + n, b ? b + n : NULL, nr);
        }
    }
}
#elif defined(VLA__AVX2)
/* ---- AVX2, tiled path (M >= VLA__I8_TILED_M) ------------------------------
 * The same plan as the AVX-512 VNNI path above, in int16: a panel of 16 W
 * rows and a K block is packed on the stack as P[k/2][16][2] int16 (each
 * ymm holds 2 consecutive k of 8 W rows), x rows are packed as int16, and
 * vpmaddwd of a broadcast dword of x (2 int16 of one row) and one ymm of P
 * adds 2 exact products (|.| <= 127 * 128) to 8 outputs.  Tile: 6 x rows x
 * 16 W rows (12 ymm accumulators).  Signed x signed: no correction.  Exact
 * int32 partial sums wait in y between K blocks, as above. */
#define VLA__I8_TILED 1
#define VLA__I8_MRV 6
#define VLA__I8_NRV 16
#define VLA__I8_KCV 256
#define VLA__I8_TILED_M 8

/* Lane masks for the first rem of 8 lanes (maskload / maskstore). */
static __m256i vla__i8_mask8(int rem) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(rem < 0 ? 0 : rem), idx);
}

/* Pack W rows [n, n + nr) (nr <= 16), columns [k0, k0 + kb), widened to
 * int16, into P[kbp/2][16][2] (kbp = kb rounded up to 16; zeros past nr
 * and kb). */
static void vla__i8_pack_panel16(int16_t *P, const signed char *w, int K, int n, int nr, int k0, int kb) {
    int g, kk, i;
    for (g = 0; g < 2; g++) {
        const signed char *wg = w + (size_t)(n + 8 * g) * K + k0;
        const int rows = nr - 8 * g;
        for (kk = 0; kk < kb; kk += 16) {
            __m256i r[8], a[8];
            int16_t *o = P + (size_t)(kk / 2) * 32 + 8 * (size_t)g * 2;
            for (i = 0; i < 8; i++) {
                if (i < rows && kb - kk >= 16) {
                    r[i] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(wg + (size_t)i * K + kk)));
                } else if (i < rows) {
                    signed char t[16];
                    VLA_MEMSET(t, 0, 16);
                    VLA_MEMCPY(t, wg + (size_t)i * K + kk, (size_t)(kb - kk));
                    r[i] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)t));
                } else {
                    r[i] = _mm256_setzero_si256();
                }
            }
            /* 8 x 8 transpose of dwords (pairs of k): a[j] lane i = r[i] dword j */
            a[0] = _mm256_unpacklo_epi32(r[0], r[1]); a[1] = _mm256_unpackhi_epi32(r[0], r[1]);
            a[2] = _mm256_unpacklo_epi32(r[2], r[3]); a[3] = _mm256_unpackhi_epi32(r[2], r[3]);
            a[4] = _mm256_unpacklo_epi32(r[4], r[5]); a[5] = _mm256_unpackhi_epi32(r[4], r[5]);
            a[6] = _mm256_unpacklo_epi32(r[6], r[7]); a[7] = _mm256_unpackhi_epi32(r[6], r[7]);
            r[0] = _mm256_unpacklo_epi64(a[0], a[2]); r[1] = _mm256_unpackhi_epi64(a[0], a[2]);
            r[2] = _mm256_unpacklo_epi64(a[1], a[3]); r[3] = _mm256_unpackhi_epi64(a[1], a[3]);
            r[4] = _mm256_unpacklo_epi64(a[4], a[6]); r[5] = _mm256_unpackhi_epi64(a[4], a[6]);
            r[6] = _mm256_unpacklo_epi64(a[5], a[7]); r[7] = _mm256_unpackhi_epi64(a[5], a[7]);
            /* r[d] (d < 4): rows 0..3, dword 4L + d of 128-bit lane L; r[4 + d]: rows 4..7 */
            for (i = 0; i < 4; i++) {
                a[i] = _mm256_permute2x128_si256(r[i], r[4 + i], 0x20);
                a[4 + i] = _mm256_permute2x128_si256(r[i], r[4 + i], 0x31);
            }
            for (i = 0; i < 8; i++) _mm256_storeu_si256((__m256i *)(void *)(o + (size_t)i * 32), a[i]);
        }
    }
}

/* The 6 x 16 tile over one packed K block of kq dword steps (contract of
 * vla__i8_kern6x64, without the correction). */
static VLA__NOINLINE void vla__i8_kern6x16(float *y, size_t ldy, const int16_t *xq, size_t ldx, int mr,
                                           const int16_t *P, int kq, int first, int last, const float *dx,
                                           const float *dw, const float *b, int nr) {
    const __m256i m0 = vla__i8_mask8(nr), m1 = vla__i8_mask8(nr - 8);
    const int16_t *x0 = xq, *x1 = xq + (size_t)(mr > 1 ? 1 : 0) * ldx, *x2 = xq + (size_t)(mr > 2 ? 2 : mr - 1) * ldx,
                  *x3 = xq + (size_t)(mr > 3 ? 3 : mr - 1) * ldx, *x4 = xq + (size_t)(mr > 4 ? 4 : mr - 1) * ldx,
                  *x5 = xq + (size_t)(mr > 5 ? 5 : mr - 1) * ldx;
    __m256i c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    int k;
    c00 = _mm256_setzero_si256(); c01 = c00; c10 = c00; c11 = c00; c20 = c00; c21 = c00;
    c30 = c00; c31 = c00; c40 = c00; c41 = c00; c50 = c00; c51 = c00;
    for (k = 0; k < kq; k++) {
        const int16_t *p = P + (size_t)k * 32;
        const __m256i w0 = _mm256_loadu_si256((const __m256i *)(const void *)p),
                      w1 = _mm256_loadu_si256((const __m256i *)(const void *)(p + 16));
        __m256i a;
#define VLA__I8_ROW(r)                                                                                               \
        a = _mm256_broadcastd_epi32(_mm_loadu_si32((const void *)(x##r + 2 * (size_t)k)));                           \
        c##r##0 = _mm256_add_epi32(c##r##0, _mm256_madd_epi16(a, w0));                                               \
        c##r##1 = _mm256_add_epi32(c##r##1, _mm256_madd_epi16(a, w1));
        VLA__I8_ROW(0) VLA__I8_ROW(1) VLA__I8_ROW(2) VLA__I8_ROW(3) VLA__I8_ROW(4) VLA__I8_ROW(5)
#undef VLA__I8_ROW
    }
    {
        const __m256 s0 = _mm256_maskload_ps(dw, m0), s1 = _mm256_maskload_ps(dw + 8, m1);
        const __m256 b0 = b ? _mm256_maskload_ps(b, m0) : _mm256_setzero_ps(),
                     b1 = b ? _mm256_maskload_ps(b + 8, m1) : _mm256_setzero_ps();
        __m256 f;
#define VLA__I8_FIN(r)                                                                                               \
        if (r < mr) {                                                                                                \
            float *yr = y + (size_t)r * ldy;                                                                         \
            if (!first) {                                                                                            \
                c##r##0 = _mm256_add_epi32(c##r##0, _mm256_maskload_epi32((const int *)(const void *)yr, m0));        \
                c##r##1 = _mm256_add_epi32(c##r##1, _mm256_maskload_epi32((const int *)(const void *)(yr + 8), m1));  \
            }                                                                                                        \
            if (!last) {                                                                                             \
                _mm256_maskstore_epi32((int *)(void *)yr, m0, c##r##0);                                              \
                _mm256_maskstore_epi32((int *)(void *)(yr + 8), m1, c##r##1);                                        \
            } else {                                                                                                 \
                const __m256 d = _mm256_set1_ps(dx[r]);                                                              \
                f = _mm256_mul_ps(_mm256_cvtepi32_ps(c##r##0), _mm256_mul_ps(d, s0));                                \
                VLA__VREG(f); /* rounded product before the add: no FMA */                                           \
                _mm256_maskstore_ps(yr, m0, _mm256_add_ps(f, b0));                                                   \
                f = _mm256_mul_ps(_mm256_cvtepi32_ps(c##r##1), _mm256_mul_ps(d, s1));                                \
                VLA__VREG(f);                                                                                        \
                _mm256_maskstore_ps(yr + 8, m1, _mm256_add_ps(f, b1));                                               \
            }                                                                                                        \
        }
        VLA__I8_FIN(0) VLA__I8_FIN(1) VLA__I8_FIN(2) VLA__I8_FIN(3) VLA__I8_FIN(4) VLA__I8_FIN(5)
#undef VLA__I8_FIN
    }
}

/* The tiled path over y[m0..m1) x [n0..n1): the stack buffer holds the
 * panel P, mc rows of one K block of x (int16) and their scales. */
static void vla__gemm_i8_tiled(float *y, const float *x, const vla_mat *w, const float *b, int m0, int m1, int n0,
                               int n1, const float *dfix) {
    unsigned char buf[VLA_GEMM_I8_STACK];
    const int K = w->cols, N = w->rows;
    int kc = K < VLA__I8_KCV ? K : VLA__I8_KCV;
    size_t kcs = ((size_t)kc + 15) & ~(size_t)15, pbytes = kcs * VLA__I8_NRV * sizeof(int16_t), fixed = 31 + pbytes;
    int16_t *P = (int16_t *)(void *)(buf + ((32 - ((size_t)buf & 31)) & 31));
    int16_t *xq;
    const signed char *wd = (const signed char *)w->data;
    float *ds;
    size_t mc = fixed < sizeof buf ? (sizeof buf - fixed) / (kcs * sizeof(int16_t) + sizeof(float)) : 0;
    int mb, rb, k0, kb, n, nr, i;
    if (m1 - m0 > (int)mc && kc > VLA__I8_KCV / 2) { /* more rows than a block: halve the K block */
        kc = VLA__I8_KCV / 2;
        kcs = (size_t)kc;
        pbytes = kcs * VLA__I8_NRV * sizeof(int16_t);
        fixed = 31 + pbytes;
        mc = fixed < sizeof buf ? (sizeof buf - fixed) / (kcs * sizeof(int16_t) + sizeof(float)) : 0;
    }
    xq = P + pbytes / sizeof(int16_t);
    if (mc >= VLA__I8_MRV) mc -= mc % VLA__I8_MRV;
    if (mc > 1020) mc = 1020;
    if (mc < 1) { vla__i8_ref_rect(y, x, w, b, m0, m1, n0, n1, dfix); return; }
    ds = (float *)(void *)(xq + mc * kcs);
    for (mb = m0; mb < m1; mb += rb) {
        rb = m1 - mb < (int)mc ? m1 - mb : (int)mc;
        for (i = 0; i < rb; i++) ds[i] = dfix ? *dfix : vla__i8_row_scale(x + (size_t)(mb + i) * K, K);
        for (k0 = 0; k0 < K; k0 += kb) {
            size_t kbp;
            kb = K - k0 < kc ? K - k0 : kc;
            kbp = ((size_t)kb + 15) & ~(size_t)15;
            for (i = 0; i < rb; i++) { /* quantize the K block of row mb + i (the definition's rounding) */
                const float *xr = x + (size_t)(mb + i) * K + k0;
                const float id = vla__i8_inv(ds[i]);
                int16_t *o = xq + (size_t)i * kcs;
                size_t k;
                for (k = (size_t)vla__i8_quant_v(o, xr, kb, id); k < (size_t)kb; k++)
                    o[k] = (int16_t)vla__i8_round(xr[k] * id);
                for (; k < kbp; k++) o[k] = 0;
            }
            for (n = n0; n < n1; n += VLA__I8_NRV) {
                nr = n1 - n < VLA__I8_NRV ? n1 - n : VLA__I8_NRV;
                vla__i8_pack_panel16(P, wd, K, n, nr, k0, kb);
                for (i = 0; i < rb; i += VLA__I8_MRV)
                    vla__i8_kern6x16(y + (size_t)(mb + i) * N + n, (size_t)N, xq + (size_t)i * kcs, kcs,
                                     rb - i < VLA__I8_MRV ? rb - i : VLA__I8_MRV, P, (kb + 1) / 2, k0 == 0,
                                     k0 + kb >= K, ds + i, w->scale + n, b ? b + n : NULL, nr);
            }
        }
    }
}
#endif


static void vla__gemm_i8_rect(float *y, const float *x, const vla_mat *w, const float *b, int m0, int m1, int n0,
                              int n1, const float *dfix) {
    float buf[VLA_GEMM_I8_STACK / sizeof(float)]; /* R packed rows, then R scales */
    const int K = w->cols, N = w->rows, R = vla__i8_rows(K);
    const size_t kp = vla__i8_kp(K);
    vla__i8p *xq = (vla__i8p *)(void *)buf;
    float *ds = (float *)(void *)(xq + (size_t)R * kp); /* kp * size is a multiple of 16: aligned */
    int mb, r, i, n, nr;
    if (R < 1) { vla__i8_ref_rect(y, x, w, b, m0, m1, n0, n1, dfix); return; }
    for (mb = m0; mb < m1; mb += r) {
        r = m1 - mb < R ? m1 - mb : R;
        for (i = 0; i < r; i++) ds[i] = vla__i8_pack_row(xq + (size_t)i * kp, x + (size_t)(mb + i) * K, K, dfix);
        for (n = n0; n < n1; n += VLA__I8_NR) {
            const signed char *wr[VLA__I8_NR];
            float dw[VLA__I8_NR], b4[VLA__I8_NR];
            int32_t corr[VLA__I8_NR];
            int j;
            nr = n1 - n < VLA__I8_NR ? n1 - n : VLA__I8_NR;
            for (j = 0; j < VLA__I8_NR; j++) { /* a short group repeats its last row */
                const int jn = n + (j < nr ? j : nr - 1);
                wr[j] = (const signed char *)w->data + (size_t)jn * K;
                dw[j] = w->scale[jn];
                b4[j] = b ? b[jn] : 0.0f;
#if defined(VLA__I8_VNNI)
                corr[j] = (int32_t)((uint32_t)vla__i8_wsum(wr[j], K) << 7); /* 128 * sum w, mod 2^32 */
#else
                corr[j] = 0;
#endif
            }
            i = 0;
#if defined(VLA__I8_VNNI)
            for (; i + 4 <= r; i += 4) {
                const vla__i8p *xr[4];
                xr[0] = xq + (size_t)i * kp; xr[1] = xr[0] + kp; xr[2] = xr[1] + kp; xr[3] = xr[2] + kp;
                vla__i8_tile4x4(y + (size_t)(mb + i) * N + n, (size_t)N, xr, ds + i, 4, wr, dw, b4, corr, nr, K);
            }
#elif defined(VLA__I8_DOT4)
            for (; i + 4 <= r; i += 4) {
                const vla__i8p *xr[4];
                int32_t s4[4][VLA__I8_NR];
                int mm;
                xr[0] = xq + (size_t)i * kp; xr[1] = xr[0] + kp; xr[2] = xr[1] + kp; xr[3] = xr[2] + kp;
                vla__i8_sums4x4(s4, xr, wr, K);
                for (mm = 0; mm < 4; mm++)
                    for (j = 0; j < nr; j++)
                        y[(size_t)(mb + i + mm) * N + n + j] = vla__i8_out(s4[mm][j], ds[i + mm] * dw[j], b4[j]);
            }
#endif
            for (; i < r; i++)
                vla__i8_row1x4(y + (size_t)(mb + i) * N + n, xq + (size_t)i * kp, ds[i], wr, dw, b4, corr, nr, K);
        }
    }
}

/* ---------------------------------------------------------------------------
 * Task split and entry points
 * ------------------------------------------------------------------------- */
typedef struct vla__gemm_job {
    float *y;
    const float *x;
    const vla_mat *w;
    const float *b;
    const float *dfix; /* I8: one activation scale for every row (a convolution's, [D4]); NULL: each row its own */
    int M, n_tasks, split_m, int8, packed, stream;
    int i8tiled; /* I8 on AVX-512 VNNI or AVX2: the tiled path (vla__gemm_i8_tiled) */
    int unit_m, unit_n; /* split granularity: the kernel's tile */
} vla__gemm_job;

/* Task t of T gets a contiguous run of whole units (unit elements each). */
static void vla__gemm_range(int total, int unit, int t, int T, int *lo, int *hi) {
    long long units = ((long long)total + unit - 1) / unit;
    long long u0 = units * t / T, u1 = units * (t + 1) / T;
    *lo = (int)(u0 * unit < total ? u0 * unit : total);
    *hi = (int)(u1 * unit < total ? u1 * unit : total);
}

static void vla__gemm_task(void *arg, int t) {
    const vla__gemm_job *j = (const vla__gemm_job *)arg;
    int m0 = 0, m1 = j->M, n0 = 0, n1 = j->w->rows;
    if (j->split_m) vla__gemm_range(j->M, j->unit_m, t, j->n_tasks, &m0, &m1);
    else vla__gemm_range(j->w->rows, j->unit_n, t, j->n_tasks, &n0, &n1);
    if (m0 >= m1 || n0 >= n1) return;
#if defined(VLA__I8_TILED)
    if (j->i8tiled) { vla__gemm_i8_tiled(j->y, j->x, j->w, j->b, m0, m1, n0, n1, j->dfix); return; }
#endif
    if (j->int8 == 2) vla__gemm_i8_rect(j->y, j->x, j->w, j->b, m0, m1, n0, n1, j->dfix);
    else if (j->int8) vla__gemm_q8_rect(j->y, j->x, j->w, j->b, m0, m1, n0, n1);
    else if (j->packed) vla__gemm_packed_rect(j->y, j->x, j->w, j->b, m0, m1, n0, n1);
    else if (j->w->type == VLA_TYPE_F32) vla__gemm_f32_rect(j->y, j->x, j->w, j->b, m0, m1, n0, n1, NULL, j->stream);
    else vla__gemm_cvt_rect(j->y, j->x, j->w, j->b, m0, m1, n0, n1, j->stream);
}

static void vla__gemm_run(const vla_exec *ex, float *y, const float *x, const vla_mat *w, const float *b, int M,
                          int int8, const float *dfix) {
    vla__gemm_job j;
    int um, un, T = vla__n_tasks(ex);
    j.y = y; j.x = x; j.w = w; j.b = b; j.M = M; j.int8 = int8; j.dfix = dfix;
    j.packed = !int8 && vla__gemm_use_packed(M, w->cols);
    /* From the whole M (same kernels whatever the split); F32 only: F16/Q8_0
     * rows are already read one after another by the conversion, and the
     * kernels then read the slab from L1, where tiles are faster. */
    j.stream = M < VLA_GEMM_STREAM_M && w->type == VLA_TYPE_F32;
    j.unit_m = j.packed ? VLA__MRO : VLA__MR;
    j.unit_n = j.packed ? VLA__NRO : int8 == 2 ? VLA__I8_NR : int8 ? VLA__NR : VLA__NG;
    j.i8tiled = 0;
#if defined(VLA__I8_TILED)
    if (int8 == 2 && M >= VLA__I8_TILED_M) {
        j.i8tiled = 1;
        j.unit_m = VLA__I8_MRV;
        j.unit_n = VLA__I8_NRV;
    }
#endif
    um = (M + j.unit_m - 1) / j.unit_m;
    un = (w->rows + j.unit_n - 1) / j.unit_n;
    j.split_m = um > un;
    /* The packed path packs the W panels a task uses: split along M, every
     * task packs all of W for its fewer rows (at 2 threads the 14x14 CLIP
     * convolutions ran slower than on the dot path).  Split N when there is
     * a panel for every task, unless M is large enough to amortize that. */
    if (j.packed && un >= T && M < 512 * T) j.split_m = 0;
    /* The tiled int8 path likewise packs every panel of its range once per
     * M block: split N whenever there is a panel for every task. */
    if (j.i8tiled && un >= T) j.split_m = 0;
    if (T > (j.split_m ? um : un)) T = j.split_m ? um : un;
    j.n_tasks = T < 1 ? 1 : T;
    vla__run(ex, vla__gemm_task, &j, j.n_tasks);
}

/* y[M,N] = x[M,K] W^T + b through the blocked kernels (fp32 arithmetic). */
VLA__MAYBE_UNUSED static void vla__linear_fast(const vla_exec *ex, float *y, const float *x, const vla_mat *w,
                                               const float *b, int M) {
    int m, n;
    if (M <= 0 || w->rows <= 0) return;
    if (w->cols <= 0) { /* empty sum: y = b */
        for (m = 0; m < M; m++)
            for (n = 0; n < w->rows; n++) y[(size_t)m * w->rows + n] = b ? b[n] : 0.0f;
        return;
    }
    if (!(w->type == VLA_TYPE_F32 || w->type == VLA_TYPE_F16 || w->type == VLA_TYPE_I8 ||
          (w->type == VLA_TYPE_Q8_0 && w->cols % VLA_Q8_0_BLOCK == 0))) {
        vla__linear_f32_ref(y, x, w, b, M); /* nothing faster for other types */
        return;
    }
    vla__gemm_run(ex, y, x, w, b, M, 0, NULL);
}

/* Q8_0 weights: int8 activations (see the header comment); anything else, or
 * a K too long for the stack buffer, takes the fp32 path. */
VLA__MAYBE_UNUSED static void vla__linear_q8(const vla_exec *ex, float *y, const float *x, const vla_mat *w,
                                             const float *b, int M) {
    if (w->type != VLA_TYPE_Q8_0 || w->cols <= 0 || w->cols % VLA_Q8_0_BLOCK != 0 || vla__q8_rows(w->cols) < 1 ||
        M <= 0 || w->rows <= 0) {
        vla__linear_fast(ex, y, x, w, b, M);
        return;
    }
    vla__gemm_run(ex, y, x, w, b, M, 1, NULL);
}

/* I8 weights: the integer path (vla_linear's definition in [D4]); dfix
 * (NULL: each row its own scale) as vla__gemm_job. */
static void vla__linear_i8(const vla_exec *ex, float *y, const float *x, const vla_mat *w, const float *b, int M,
                           const float *dfix) {
    if (M <= 0 || w->rows <= 0) return;
    if (w->cols <= 0) { vla__linear_i8_ref(y, x, w, b, M); return; }
    vla__gemm_run(ex, y, x, w, b, M, 2, dfix);
}

/* Largest stack buffer of one task (bytes): what a board's thread stacks
 * must hold on top of the frames' few hundred bytes of locals.  int8: the
 * call runs an integer path (Q8_0 with int8_activations, or I8 unwidened). */
VLA__MAYBE_UNUSED static size_t vla__linear_stack_bytes(const vla_mat *w, int M, int int8) {
    if (w->type == VLA_TYPE_I8 && int8) return VLA_GEMM_I8_STACK;
    if (!(w->type == VLA_TYPE_F32 || w->type == VLA_TYPE_F16 || w->type == VLA_TYPE_Q8_0 || w->type == VLA_TYPE_I8))
        return 0; /* reference */
    if (int8 && w->type == VLA_TYPE_Q8_0 && w->cols % VLA_Q8_0_BLOCK == 0 && vla__q8_rows(w->cols) >= 1)
        return VLA_GEMM_Q8_STACK;
    if (vla__gemm_use_packed(M, w->cols)) return sizeof(float) * VLA__KCO * VLA__NRO;
    return w->type == VLA_TYPE_F32 ? 0 : sizeof(float) * VLA__NG * VLA_GEMM_KC_CVT;
}

VLA_DEF void vla_linear(const vla_exec *ex, float *y, const float *x, const vla_mat *w, const float *b, int M) {
    const int widen = ex && ex->int8_widen;
    if (!ex || ex->force_reference) {
        if (w->type == VLA_TYPE_I8 && widen) vla__linear_f32_ref(y, x, w, b, M);
        else vla_linear_ref(y, x, w, b, M);
        return;
    }
    if (w->type == VLA_TYPE_I8 && !widen) vla__linear_i8(ex, y, x, w, b, M, NULL);
    else if (ex->int8_activations && w->type == VLA_TYPE_Q8_0) vla__linear_q8(ex, y, x, w, b, M);
    else vla__linear_fast(ex, y, x, w, b, M);
}

/* Convolution = im2col of a band of output rows, then vla_linear. */
#ifndef VLA_CONV_SCRATCH_BYTES
#define VLA_CONV_SCRATCH_BYTES (1u << 20)
#endif

/* Output rows per band: as many as VLA_CONV_SCRATCH_BYTES holds, then
 * evened out over the bands (14 rows in 8 + 6 -> 7 + 7): the GEMM of every
 * band gets the same M, so none falls below the packed path's threshold
 * (vla__gemm_use_packed) while the others are above it. */
static int vla__conv_band(int Wo, int K, int Ho) {
    size_t row = (size_t)Wo * (size_t)K * sizeof(float);
    size_t band = row ? VLA_CONV_SCRATCH_BYTES / row : 1, nb;
    if (band < 1) band = 1;
    if (band > (size_t)Ho) band = (size_t)Ho;
    if (Ho > 0) {
        nb = ((size_t)Ho + band - 1) / band;
        band = ((size_t)Ho + nb - 1) / nb;
    }
    return (int)band;
}

VLA_DEF size_t vla_conv2d_scratch_size(int H, int W, int Cin, int k, int stride, int pad) {
    int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1, K = k * k * Cin;
    if (k == 1 && stride == 1 && pad == 0) return 0;
    return vla__align_up(vla__mul(vla__mul((size_t)vla__conv_band(Wo, K, Ho), (size_t)Wo), (size_t)K * sizeof(float)),
                         VLA_ALIGN);
}

/* im2col of a band of output pixels [r0 * Wo, r0 * Wo + n_pix) into col
 * [n_pix, k * k * Cin] (padding 0), the pixels split over the tasks. */
typedef struct vla__im2col_job {
    const float *x;
    float *col;
    int H, W, Cin, k, stride, pad, Wo, r0, n_pix, n_tasks;
} vla__im2col_job;

/* The im2col rows of output pixels [p0, p1) (p = oy * Wo + ox) of x [H, W,
 * Cin] into col [p1 - p0, k * k * Cin], columns in the weights' (ky, kx,
 * ci) order, padding 0.  The trainer's explicit im2col ([I14]) is this too. */
static void vla__im2col_px(float *col, const float *x, int H, int W, int Cin, int k, int stride, int pad, int Wo, size_t p0,
                           size_t p1) {
    const size_t row = sizeof(float) * (size_t)Cin;
    size_t p;
    int ky, kx;
    for (p = p0; p < p1; p++) {
        const int oy = (int)(p / (size_t)Wo), ox = (int)(p % (size_t)Wo);
        for (ky = 0; ky < k; ky++)
            for (kx = 0; kx < k; kx++, col += Cin) {
                const int iy = oy * stride + ky - pad, ix = ox * stride + kx - pad;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) VLA_MEMSET(col, 0, row);
                else VLA_MEMCPY(col, x + ((size_t)iy * W + ix) * Cin, row);
            }
    }
}

static void vla__im2col_task(void *arg, int t) {
    const vla__im2col_job *j = (const vla__im2col_job *)arg;
    const size_t K = (size_t)j->k * j->k * j->Cin, base = (size_t)j->r0 * j->Wo;
    int p0, p1;
    vla__gemm_range(j->n_pix, 1, t, j->n_tasks, &p0, &p1);
    vla__im2col_px(j->col + (size_t)p0 * K, j->x, j->H, j->W, j->Cin, j->k, j->stride, j->pad, j->Wo, base + (size_t)p0,
                   base + (size_t)p1);
}

/* An elementwise pass over n floats in tasks: how many (one below 16384
 * elements: not worth waking a thread), and task t's range [*i0, *i1), in
 * chunks of whole 16-float vectors.  Each element's result does not depend
 * on the split.  The trainer's passes (vla__tew) split the same way. */
static int vla__ew_tasks(const vla_exec *ex, size_t n) { return n < 16384 ? 1 : vla__n_tasks(ex); }

static void vla__ew_range(size_t n, int n_tasks, int t, size_t *i0, size_t *i1) {
    const size_t c = (n / (size_t)n_tasks + 15) & ~(size_t)15;
    *i0 = c * (size_t)t;
    *i1 = t == n_tasks - 1 ? n : *i0 + c < n ? *i0 + c : n;
    if (*i0 > n) *i0 = n;
}

/* amax = max |v| over the n floats v of a pass (the tasks each take a part;
 * max is exact in any order, so any split gives the same amax):
 *   relu = 0: v = x, read only (a convolution's input, [D4])
 *   relu = 1: v = y = relu(y + a) written in place (a: NULL: relu(y)), the
 *             bits of vla_add then vla_relu, in blocks of VLA__EW_BLOCK so
 *             that the amax reads what the block just wrote from L1.
 *   relu = 2: the same pass without the amax (an fp32 trunk has no use for
 *             it); returns -1, "not measured".
 * The CLIP trunk takes its ReLU passes' amax as the next convolution's
 * activation scale: one read of the activations fewer per convolution. */
#define VLA__AMAX_PARTS 64
#define VLA__EW_BLOCK 4096
typedef struct vla__amax_job {
    float *y;
    const float *x, *a;
    size_t n;
    int n_tasks, relu;
    float part[VLA__AMAX_PARTS];
} vla__amax_job;

static void vla__amax_task(void *arg, int t) {
    vla__amax_job *j = (vla__amax_job *)arg;
    size_t i0, i1, at;
    float amax = 0.0f;
    vla__ew_range(j->n, j->n_tasks, t, &i0, &i1);
    for (at = i0; at < i1; at += VLA__EW_BLOCK) {
        const size_t len = i1 - at < VLA__EW_BLOCK ? i1 - at : VLA__EW_BLOCK;
        float a;
        if (j->relu) {
            if (j->a) vla_add(j->y + at, j->y + at, j->a + at, len);
            vla_relu(j->y + at, len);
        }
        if (j->relu == 2) continue;
        a = vla__i8_row_amax(j->relu ? j->y + at : j->x + at, (int)len);
        if (a > amax) amax = a;
    }
    j->part[t] = amax;
}

static float vla__amax_pass(const vla_exec *ex, float *y, const float *x, const float *a, size_t n, int relu) {
    vla__amax_job j;
    int t, T = vla__ew_tasks(ex, n);
    float amax = 0.0f;
    j.y = y; j.x = x; j.a = a; j.n = n; j.relu = relu;
    j.n_tasks = T < VLA__AMAX_PARTS ? T : VLA__AMAX_PARTS;
    vla__run(ex, vla__amax_task, &j, j.n_tasks);
    for (t = 0; t < j.n_tasks; t++)
        if (j.part[t] > amax) amax = j.part[t];
    return relu == 2 ? -1.0f : amax;
}

/* y = relu(y + a) over n floats (a: NULL: relu(y)); returns max(y) when
 * want_amax, else -1 (the next convolution measures it, if it needs it). */
static float vla__add_relu(const vla_exec *ex, float *y, const float *a, size_t n, int want_amax) {
    return vla__amax_pass(ex, y, NULL, a, n, want_amax ? 1 : 2);
}

#if defined(VLA__I8_PREQ)
/* The int8 convolution on AVX-512 VNNI, from bytes quantized once.  Per
 * band of output rows: the input rows the band reads are quantized with
 * the picture's scale into xin, laid out as the zero-padded picture
 * [rows][W + 2 pad][Cin] (u8 = q_x + 128; the padding 128, i.e. q_x = 0),
 * the tasks splitting the rows.  Then, for each tap row ky, the k taps of
 * an output pixel are k * Cin consecutive bytes of xin, and consecutive
 * pixels of an output row are stride * Cin bytes apart: the register tiles
 * read them in place (an implicit GEMM, K in blocks of one tap row), W
 * packed once per K block and band.  A tile stays inside one output row, so
 * narrow outputs (Wo < VLA__I8_IMPLICIT_WO: 14 x 14 and 7 x 7 would waste a
 * third of their tiles) copy each pixel's row into an im2col band first and
 * run vla__gemm_i8_tiled_q on it; a 1 x 1 convolution (stride 1, no
 * padding) is one long output row.  Each input value is quantized once,
 * not once per tap: at the stem (N = 32 or 64 weight rows) the per-pixel
 * quantization and then the im2col copies had cost as much as the dot
 * products. */
#define VLA__I8_IMPLICIT_WO 24
typedef struct vla__convq_job {
    const float *x;
    unsigned char *xin, *xq; /* xin [n_prow][Wp][Cin] from padded row prow0; xq [n_pix][ldx] (im2col mode) */
    float *y;
    const float *dx; /* d for every row (all equal) */
    float id;
    size_t ldx;
    int H, W, Wp, Cin, k, stride, pad, Wo, r0, nr, prow0, n_prow, n_pix, n_tasks, split_m, flat;
    const vla_mat *w;
    const float *b;
} vla__convq_job;

static void vla__convq_quant_task(void *arg, int t) {
    const vla__convq_job *j = (const vla__convq_job *)arg;
    const size_t Cin = (size_t)j->Cin, row = (size_t)j->Wp * Cin, pad = (size_t)j->pad * Cin, n = (size_t)j->W * Cin;
    int r0, r1, r;
    vla__gemm_range(j->n_prow, 1, t, j->n_tasks, &r0, &r1);
    for (r = r0; r < r1; r++) {
        const int iy = j->prow0 + r - j->pad;
        unsigned char *dst = j->xin + (size_t)r * row;
        const float *src = j->x + (size_t)iy * n;
        size_t c = 0, at;
        if (iy < 0 || iy >= j->H) { VLA_MEMSET(dst, 128, row); continue; }
        VLA_MEMSET(dst, 128, pad);
        dst += pad;
        for (at = 0; at < n; at += c) { /* parts of at most 2^30 values (int lengths) */
            const int part = (int)(n - at < ((size_t)1 << 30) ? n - at : ((size_t)1 << 30));
            int q;
            for (q = vla__i8_quant_v(dst + at, src + at, part, j->id); q < part; q++)
                dst[at + (size_t)q] = (unsigned char)(vla__i8_round(src[at + (size_t)q] * j->id) + 128);
            c = (size_t)part;
        }
        VLA_MEMSET(dst + n, 128, pad);
    }
}

/* n bytes, n small (one tap row of a pixel): 16-byte moves the compiler
 * inlines instead of a library call per tap. */
static void vla__copy_small(unsigned char *d, const unsigned char *s, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) VLA_MEMCPY(d + i, s + i, 16);
    for (; i < n; i++) d[i] = s[i];
}

/* Im2col mode: each pixel's row, k runs of k * Cin bytes of xin. */
static void vla__convq_im2col_task(void *arg, int t) {
    const vla__convq_job *j = (const vla__convq_job *)arg;
    const size_t seg = (size_t)j->k * j->Cin, row = (size_t)j->Wp * j->Cin;
    int p0, p1, p, ky;
    vla__gemm_range(j->n_pix, 1, t, j->n_tasks, &p0, &p1);
    for (p = p0; p < p1; p++) {
        const int oy = j->r0 + p / j->Wo, ox = p % j->Wo;
        unsigned char *o = j->xq + (size_t)p * j->ldx;
        const unsigned char *s = j->xin + (size_t)(oy * j->stride - j->prow0) * row + (size_t)ox * j->stride * j->Cin;
        for (ky = 0; ky < j->k; ky++) vla__copy_small(o + (size_t)ky * seg, s + (size_t)ky * row, seg);
        for (ky = j->k * (int)seg; ky < j->k * (int)seg + 3 && (size_t)ky < j->ldx; ky++) o[ky] = 128; /* to a dword */
    }
}

/* The register tiles over output rows [a0, a1) (pixels, when flat) and W
 * rows [n0, n1), reading xin in place.  A tile has at most
 * VLA__I8_TILE_M rows (12 x 32; 6 x 64 is half of it): a flat convolution's
 * tasks split the pixels in such units, and every tile reads the same
 * VLA__I8_TILE_M copies of the picture's d_x. */
#define VLA__I8_TILE_M 12
static void vla__convq_implicit(const vla__convq_job *j, int a0, int a1, int n0, int n1) {
    unsigned char buf[63 + VLA__I8_KCV * VLA__I8_NRV + VLA__I8_NRV * sizeof(int32_t)];
    signed char *P = (signed char *)(void *)(buf + ((64 - ((size_t)buf & 63)) & 63));
    int32_t *corr = (int32_t *)(void *)(P + VLA__I8_KCV * VLA__I8_NRV);
    const signed char *wd = (const signed char *)j->w->data;
    const int K = j->w->cols, N = j->w->rows, seg = j->k * j->Cin, ldx = j->stride * j->Cin;
    const int rows = j->flat ? 1 : a1 - a0, cols = j->flat ? a1 - a0 : j->Wo;
    const size_t prow = (size_t)j->Wp * j->Cin;
    int ky, sub, kb, n, nr, r, px;
    for (ky = 0; ky < j->k; ky++)
        for (sub = 0; sub < seg; sub += kb) {
            const int k0 = ky * seg + sub, narrow_mr = VLA__I8_TILE_M;
            kb = seg - sub < VLA__I8_KCV ? seg - sub : VLA__I8_KCV;
            for (n = n0; n < n1; n += VLA__I8_NRV) {
                const int narrow = (nr = n1 - n < VLA__I8_NRV ? n1 - n : VLA__I8_NRV) <= 32;
                vla__i8_pack_panel(P, corr, wd, K, n, nr, k0, kb, narrow ? 32 : VLA__I8_NRV);
                for (r = 0; r < rows; r++) {
                    /* output row oy (band-relative a0 + r) reads padded row oy * stride + ky */
                    const unsigned char *xr = j->flat ? j->xin + (size_t)a0 * j->Cin + sub
                                                      : j->xin + (size_t)((j->r0 + a0 + r) * j->stride + ky - j->prow0) * prow + sub;
                    float *yr = j->y + ((size_t)(j->flat ? a0 : (a0 + r) * j->Wo)) * N + n;
                    const int mr = narrow ? narrow_mr : VLA__I8_MRV;
                    for (px = 0; px < cols; px += mr) {
                        const int m = cols - px < mr ? cols - px : mr;
                        if (narrow)
                            vla__i8_kern12x32(yr + (size_t)px * N, (size_t)N, xr + (size_t)px * ldx, (size_t)ldx, m, P,
                                              (kb + 3) / 4, corr, k0 == 0, k0 + kb >= K, j->dx, j->w->scale + n,
                                              j->b ? j->b + n : NULL, nr);
                        else
                            vla__i8_kern6x64(yr + (size_t)px * N, (size_t)N, xr + (size_t)px * ldx, (size_t)ldx, m, P,
                                             (kb + 3) / 4, corr, k0 == 0, k0 + kb >= K, j->dx, j->w->scale + n,
                                             j->b ? j->b + n : NULL, nr);
                    }
                }
            }
        }
}

static void vla__convq_gemm_task(void *arg, int t) {
    const vla__convq_job *j = (const vla__convq_job *)arg;
    const int implicit = j->xq == NULL;
    const int M = implicit ? (j->flat ? j->n_pix : j->nr) : j->n_pix;
    int m0 = 0, m1 = M, n0 = 0, n1 = j->w->rows;
    if (j->split_m) vla__gemm_range(M, implicit ? (j->flat ? VLA__I8_TILE_M : 1) : VLA__I8_MRV, t, j->n_tasks, &m0, &m1);
    else vla__gemm_range(j->w->rows, VLA__I8_NRV, t, j->n_tasks, &n0, &n1);
    if (m0 >= m1 || n0 >= n1) return;
    if (implicit) vla__convq_implicit(j, m0, m1, n0, n1);
    else vla__gemm_i8_tiled_q(j->y, j->xq, j->ldx, j->dx, j->w, j->b, m0, m1, n0, n1);
}

/* Returns 0 when it did the convolution (scale d), -1 when the caller's
 * path must (the scratch the fp32 im2col asks for holds less than one band
 * of one row). */
static int vla__conv2d_i8q(const vla_exec *ex, vla_arena *scratch, float *y, const float *x, const vla_mat *w,
                           const float *b, int H, int W, int Cin, int k, int stride, int pad, float d) {
    const int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1, K = k * k * Cin, Wp = W + 2 * pad;
    const int flat = k == 1 && stride == 1 && pad == 0, implicit = flat || Wo >= VLA__I8_IMPLICIT_WO;
    const size_t ldx = ((size_t)K + 63) & ~(size_t)63, avail = (size_t)vla__conv_band(Wo, K, Ho) * Wo * K * sizeof(float);
    /* per band row: its input rows' bytes (xin) and, with im2col, its pixels' rows (xq) and d_x copies */
    const size_t prow = (size_t)Wp * Cin, per_row = (size_t)stride * prow + (implicit ? 0 : (size_t)Wo * (sizeof(float) + ldx));
    const size_t fixed = 128 + (size_t)k * prow + (implicit ? VLA__I8_TILE_M * sizeof(float) : 0);
    size_t mark, band, nb, i, n_dx;
    int T = vla__n_tasks(ex), un = (w->rows + VLA__I8_NRV - 1) / VLA__I8_NRV, r0;
    vla__convq_job j;
    unsigned char *mem;
    float *dx;
    band = avail > fixed ? (avail - fixed) / per_row : 0;
    if (band < 1 || K > VLA_I8_MAX_K) return -1;
    if (band > (size_t)Ho) band = (size_t)Ho;
    nb = ((size_t)Ho + band - 1) / band;
    band = ((size_t)Ho + nb - 1) / nb; /* evened out, as vla__conv_band */
    mark = vla_arena_scratch_mark(scratch);
    mem = (unsigned char *)vla_arena_scratch(scratch, band * per_row + fixed);
    if (!mem) return -1;
    j.xq = implicit ? NULL : mem; /* ldx is a multiple of 64: dx follows aligned */
    dx = (float *)(void *)(mem + (implicit ? 0 : band * Wo * ldx));
    n_dx = implicit ? VLA__I8_TILE_M : band * Wo; /* im2col: vla__gemm_i8_tiled_q reads dx[m] per pixel row m */
    for (i = 0; i < n_dx; i++) dx[i] = d;
    j.xin = (unsigned char *)(dx + n_dx);
    j.x = x; j.w = w; j.b = b; j.ldx = ldx; j.dx = dx; j.id = vla__i8_inv(d); j.flat = flat;
    j.H = H; j.W = W; j.Wp = Wp; j.Cin = Cin; j.k = k; j.stride = stride; j.pad = pad; j.Wo = Wo;
    for (r0 = 0; r0 < Ho; r0 += (int)band) {
        int um;
        j.r0 = r0;
        j.nr = Ho - r0 < (int)band ? Ho - r0 : (int)band;
        j.n_pix = j.nr * Wo;
        j.y = y + (size_t)r0 * Wo * w->rows;
        j.prow0 = r0 * stride; /* the padded rows the band reads */
        j.n_prow = (j.nr - 1) * stride + k;
        j.n_tasks = T < j.n_prow ? T : j.n_prow;
        vla__run(ex, vla__convq_quant_task, &j, j.n_tasks);
        if (!implicit) {
            j.n_tasks = T < j.n_pix ? T : j.n_pix;
            vla__run(ex, vla__convq_im2col_task, &j, j.n_tasks);
        }
        um = implicit ? (flat ? (j.n_pix + VLA__I8_TILE_M - 1) / VLA__I8_TILE_M : j.nr) : (j.n_pix + VLA__I8_MRV - 1) / VLA__I8_MRV;
        j.split_m = un < T; /* a panel for every task: split N (each packs only its panels) */
        j.n_tasks = !j.split_m ? un : T < um ? T : um;
        vla__run(ex, vla__convq_gemm_task, &j, j.n_tasks);
    }
    vla_arena_scratch_release(scratch, mark);
    return 0;
}
#endif

/* The im2col bands of x, each through vla_linear (dfix NULL) or, with I8
 * weights, through the integer path with the picture's scale *dfix. */
static vla_status vla__conv2d_cols(const vla_exec *ex, vla_arena *scratch, float *y, const float *x, const vla_mat *w,
                                   const float *b, int H, int W, int Cin, int k, int stride, int pad, const float *dfix) {
    int Ho = (H + 2 * pad - k) / stride + 1, Wo = (W + 2 * pad - k) / stride + 1, K = k * k * Cin, Cout = w->rows;
    int band, r0;
    size_t mark;
    float *col;
    vla__im2col_job j;
    band = vla__conv_band(Wo, K, Ho);
    mark = vla_arena_scratch_mark(scratch);
    col = (float *)vla_arena_scratch(scratch, (size_t)band * Wo * K * sizeof(float));
    if (!col) return VLA_ERR_NOMEM;
    j.x = x; j.col = col; j.H = H; j.W = W; j.Cin = Cin; j.k = k; j.stride = stride; j.pad = pad; j.Wo = Wo;
    for (r0 = 0; r0 < Ho; r0 += band) {
        int nr = Ho - r0 < band ? Ho - r0 : band, T = vla__n_tasks(ex);
        j.r0 = r0;
        j.n_pix = nr * Wo;
        j.n_tasks = T < j.n_pix ? T : j.n_pix;
        vla__run(ex, vla__im2col_task, &j, j.n_tasks);
        if (dfix) vla__linear_i8(ex, y + (size_t)r0 * Wo * Cout, col, w, b, nr * Wo, dfix);
        else vla_linear(ex, y + (size_t)r0 * Wo * Cout, col, w, b, nr * Wo);
    }
    vla_arena_scratch_release(scratch, mark);
    return VLA_OK;
}

/* vla_conv2d given x_amax = max |x| over the whole input when the caller
 * already has it (the pass that wrote x measured it), else < 0. */
static vla_status vla__conv2d_amax(const vla_exec *ex, vla_arena *scratch, float *y, const float *x, const vla_mat *w,
                                   const float *b, int H, int W, int Cin, int k, int stride, int pad, float x_amax) {
    int K = k * k * Cin;
    if (w->cols != K) return VLA_ERR_MISMATCH;
    if (w->type == VLA_TYPE_I8 && !(ex && ex->int8_widen)) { /* the integer path: one activation scale per picture */
        float d;
        if (!ex || ex->force_reference) { vla__conv2d_i8_ref(y, x, w, b, H, W, Cin, k, stride, pad); return VLA_OK; }
        if (x_amax < 0.0f) x_amax = vla__amax_pass(ex, NULL, x, NULL, (size_t)H * W * Cin, 0);
        d = x_amax / 127.0f;
#if defined(VLA__I8_PREQ)
        if ((W + 2 * pad - k) / stride + 1 >= VLA__I8_TILED_M &&
            vla__conv2d_i8q(ex, scratch, y, x, w, b, H, W, Cin, k, stride, pad, d) == 0)
            return VLA_OK; /* a 1 x 1 convolution too, when the scratch holds a band (its size query asks for none) */
#endif
        if (k == 1 && stride == 1 && pad == 0) { vla__linear_i8(ex, y, x, w, b, H * W, &d); return VLA_OK; }
        return vla__conv2d_cols(ex, scratch, y, x, w, b, H, W, Cin, k, stride, pad, &d);
    }
    if (k == 1 && stride == 1 && pad == 0) { vla_linear(ex, y, x, w, b, H * W); return VLA_OK; }
    if (!ex || ex->force_reference) { /* fp32, or I8 widened */
        if (w->type == VLA_TYPE_I8) vla__conv2d_f32_ref(y, x, w, b, H, W, Cin, k, stride, pad);
        else vla_conv2d_ref(y, x, w, b, H, W, Cin, k, stride, pad);
        return VLA_OK;
    }
    return vla__conv2d_cols(ex, scratch, y, x, w, b, H, W, Cin, k, stride, pad, NULL);
}

VLA_DEF vla_status vla_conv2d(const vla_exec *ex, vla_arena *scratch, float *y, const float *x, const vla_mat *w,
                              const float *b, int H, int W, int Cin, int k, int stride, int pad) {
    return vla__conv2d_amax(ex, scratch, y, x, w, b, H, W, Cin, k, stride, pad, -1.0f);
}

VLA_DEF size_t vla_attention_scratch_size(int Lq, int Lk) {
    return vla__align_up(vla__mul(vla__mul((size_t)Lq, (size_t)Lk), sizeof(float)), VLA_ALIGN);
}

VLA_DEF vla_status vla_attention(const vla_exec *ex, vla_arena *scratch, float *out, int ldo, const float *q, int ldq,
                                 const float *k, int ldk, const float *v, int ldv, int Lq, int Lk, int n_heads, int dh,
                                 const float *key_mask, int causal, int causal_offset) {
    size_t mark = vla_arena_scratch_mark(scratch);
    float *s = (float *)vla_arena_scratch(scratch, vla_attention_scratch_size(Lq, Lk));
    int h, i, j;
    if (!s) return VLA_ERR_NOMEM;
    if (!ex || ex->force_reference) {
        vla_attention_ref(out, ldo, q, ldq, k, ldk, v, ldv, Lq, Lk, n_heads, dh, key_mask, causal, causal_offset, s);
    } else {
        for (h = 0; h < n_heads; h++) {
            for (i = 0; i < Lq; i++) {
                float *si = s + (size_t)i * Lk;
                const float *qi = q + (size_t)i * ldq + h * dh;
                for (j = 0; j < Lk; j++) {
                    if (causal && j > i + causal_offset) { si[j] = VLA__NEG_INF; continue; }
                    si[j] = vla__dot_f32(qi, k + (size_t)j * ldk + h * dh, dh) + (key_mask ? key_mask[j] : 0.0f);
                }
            }
            vla_softmax(s, Lq, Lk);
            for (i = 0; i < Lq; i++) {
                float *oi = out + (size_t)i * ldo + h * dh;
                VLA_MEMSET(oi, 0, sizeof(float) * (size_t)dh);
                for (j = 0; j < Lk; j++)
                    if (s[(size_t)i * Lk + j] != 0.0f) vla__axpy_f32(oi, s[(size_t)i * Lk + j], v + (size_t)j * ldv + h * dh, dh);
            }
        }
    }
    vla_arena_scratch_release(scratch, mark);
    return VLA_OK;
}

/* ==========================================================================
 * [I6] GGUF
 * ========================================================================== */

VLA_DEF uint64_t vla_type_size(vla_type t, uint64_t n) {
    uint64_t lim = (uint64_t)1 << 60; /* keeps every product below 2^63 */
    if (n > lim) return 0;
    switch (t) {
    case VLA_TYPE_F32: case VLA_TYPE_I32: return 4 * n;
    case VLA_TYPE_F16: case VLA_TYPE_BF16: case VLA_TYPE_I16: return 2 * n;
    case VLA_TYPE_I8: return n;
    case VLA_TYPE_I64: case VLA_TYPE_F64: return 8 * n;
    case VLA_TYPE_Q8_0: return (n % VLA_Q8_0_BLOCK) ? 0 : n / VLA_Q8_0_BLOCK * VLA_Q8_0_BYTES;
    }
    return 0;
}

VLA_DEF const char *vla_type_name(vla_type t) {
    switch (t) {
    case VLA_TYPE_F32: return "F32";
    case VLA_TYPE_F16: return "F16";
    case VLA_TYPE_Q8_0: return "Q8_0";
    case VLA_TYPE_I8: return "I8";
    case VLA_TYPE_I16: return "I16";
    case VLA_TYPE_I32: return "I32";
    case VLA_TYPE_I64: return "I64";
    case VLA_TYPE_F64: return "F64";
    case VLA_TYPE_BF16: return "BF16";
    }
    return "?";
}

VLA_DEF vla_status vla_tensor_as_mat(const vla_tensor *t, vla_mat *m) {
    if (t->n_dims < 1 || t->n_dims > 2 || t->ne[0] > 0x7fffffff || (t->n_dims == 2 && t->ne[1] > 0x7fffffff))
        return VLA_ERR_MISMATCH;
    if (t->type != VLA_TYPE_F32 && t->type != VLA_TYPE_F16 && t->type != VLA_TYPE_Q8_0) return VLA_ERR_UNSUPPORTED;
    m->type = t->type;
    m->cols = (int)t->ne[0];
    m->rows = t->n_dims == 2 ? (int)t->ne[1] : 1;
    m->data = t->data;
    m->scale = NULL;
    return VLA_OK;
}

VLA_DEF int vla_i8_scale_name(char *buf, size_t cap, const char *name) {
    static const char suf[] = "_scale";
    size_t n = VLA_STRLEN(name);
    if (cap < sizeof suf || n > cap - sizeof suf) return 0;
    VLA_MEMCPY(buf, name, n);
    VLA_MEMCPY(buf + n, suf, sizeof suf);
    return 1;
}

/* The I8 matrix of tensor t (2-D [rows, cols], or 4-D [rows, k, k, cin] as
 * [rows, k*k*cin]) with its scale tensor from the same file g. */
static vla_status vla__i8_mat(const vla_gguf *g, const vla_tensor *t, vla_mat *m) {
    char nm[300];
    vla_tensor sc;
    int64_t cols = t->ne[0];
    int d;
    for (d = 1; d < t->n_dims - 1; d++) cols *= t->ne[d]; /* ne <= 2^40 each, total checked by the reader */
    if (t->type != VLA_TYPE_I8 || t->n_dims < 2 || cols > VLA_I8_MAX_K || t->ne[t->n_dims - 1] > 0x7fffffff)
        return VLA_ERR_FORMAT;
    if (t->name.n + 1 > sizeof nm - 8) return VLA_ERR_FORMAT;
    VLA_MEMCPY(nm, t->name.s, t->name.n);
    nm[t->name.n] = 0;
    if (!vla_i8_scale_name(nm, sizeof nm, nm)) return VLA_ERR_FORMAT;
    if (vla_gguf_get_tensor(g, nm, &sc) != VLA_OK) return VLA_ERR_FORMAT;         /* no scale tensor */
    if (sc.type != VLA_TYPE_F32 || sc.n_dims != 1 || sc.ne[0] != t->ne[t->n_dims - 1] ||
        sc.nbytes != (uint64_t)sc.ne[0] * 4 || (uintptr_t)sc.data % 4)
        return VLA_ERR_FORMAT;                                                      /* wrong shape or type */
    m->type = VLA_TYPE_I8;
    m->rows = (int)t->ne[t->n_dims - 1];
    m->cols = (int)cols;
    m->data = t->data;
    m->scale = (const float *)sc.data;
    return VLA_OK;
}

VLA_DEF vla_status vla_gguf_get_mat(const vla_gguf *g, const char *name, vla_mat *m) {
    vla_tensor t;
    vla_status st = vla_gguf_get_tensor(g, name, &t);
    if (st != VLA_OK) return st;
    if (t.type == VLA_TYPE_I8) return vla__i8_mat(g, &t, m);
    return vla_tensor_as_mat(&t, m);
}

/* A bounded reader over the file bytes: every read checks what remains. */
typedef struct vla__cur {
    const unsigned char *p;
    size_t pos, size;
    int bad;
} vla__cur;

static int vla__cur_need(vla__cur *c, size_t n) {
    if (c->bad || n > c->size - c->pos) { c->bad = 1; return 0; }
    return 1;
}
static uint32_t vla__cur_u32(vla__cur *c) {
    uint32_t v;
    if (!vla__cur_need(c, 4)) return 0;
    v = vla__rd32(c->p + c->pos);
    c->pos += 4;
    return v;
}
static uint64_t vla__cur_u64(vla__cur *c) {
    uint64_t v;
    if (!vla__cur_need(c, 8)) return 0;
    v = vla__rd64(c->p + c->pos);
    c->pos += 8;
    return v;
}
static vla_str vla__cur_str(vla__cur *c) {
    vla_str s;
    uint64_t n = vla__cur_u64(c);
    s.s = NULL; s.n = 0;
    if (c->bad || n > (uint64_t)(c->size - c->pos)) { c->bad = 1; return s; }
    s.s = (const char *)(c->p + c->pos);
    s.n = (size_t)n;
    c->pos += (size_t)n;
    return s;
}

static size_t vla__gguf_scalar_size(uint32_t t) {
    switch (t) {
    case VLA_GGUF_U8: case VLA_GGUF_I8: case VLA_GGUF_BOOL: return 1;
    case VLA_GGUF_U16: case VLA_GGUF_I16: return 2;
    case VLA_GGUF_U32: case VLA_GGUF_I32: case VLA_GGUF_F32: return 4;
    case VLA_GGUF_U64: case VLA_GGUF_I64: case VLA_GGUF_F64: return 8;
    }
    return 0;
}

/* FNV-1a, for the name hash tables. */
static uint32_t vla__hash(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++) { h ^= (unsigned char)s[i]; h *= 16777619u; }
    return h;
}

static int vla__str_eq(vla_str a, const char *b, size_t bn) { return a.n == bn && VLA_MEMCMP(a.s, b, bn) == 0; }

/* Insert index i (name nm) into a table of cap slots; 0 if the name exists. */
static int vla__hash_insert(uint32_t *tab, uint32_t cap, const vla_str *names, size_t stride, uint32_t i) {
    const vla_str *nm = (const vla_str *)(const void *)((const char *)names + stride * i);
    uint32_t h = vla__hash(nm->s, nm->n) & (cap - 1);
    while (tab[h]) {
        const vla_str *o = (const vla_str *)(const void *)((const char *)names + stride * (tab[h] - 1));
        if (vla__str_eq(*o, nm->s, nm->n)) return 0;
        h = (h + 1) & (cap - 1);
    }
    tab[h] = i + 1;
    return 1;
}

static uint32_t vla__pow2_at_least(uint64_t n) {
    uint32_t c = 16;
    while (c < n * 2 && c < 0x80000000u) c <<= 1;
    return c;
}

/* One key/value pair at the cursor (validated against the bytes present). */
static vla_status vla__gguf_read_kv(vla__cur *c, vla_gguf_kv *kv) {
    size_t start;
    VLA_MEMSET(kv, 0, sizeof *kv);
    kv->key = vla__cur_str(c);
    kv->type = (vla_gguf_vtype)vla__cur_u32(c);
    if (c->bad || kv->key.n == 0 || kv->key.n > 65535) return VLA_ERR_FORMAT;
    start = c->pos;
    if (kv->type == VLA_GGUF_STRING) {
        (void)vla__cur_str(c);
    } else if (kv->type == VLA_GGUF_ARRAY) {
        uint64_t k;
        kv->arr_type = (vla_gguf_vtype)vla__cur_u32(c);
        kv->arr_n = vla__cur_u64(c);
        if (c->bad) return VLA_ERR_FORMAT;
        start = c->pos;
        if (kv->arr_type == VLA_GGUF_STRING) {
            if (kv->arr_n > (c->size - c->pos) / 8) return VLA_ERR_FORMAT;
            for (k = 0; k < kv->arr_n && !c->bad; k++) (void)vla__cur_str(c);
        } else {
            size_t es = vla__gguf_scalar_size(kv->arr_type);
            if (es == 0 || kv->arr_n > (c->size - c->pos) / es) return VLA_ERR_FORMAT; /* also rejects nested arrays */
            c->pos += (size_t)kv->arr_n * es;
        }
    } else {
        size_t es = vla__gguf_scalar_size(kv->type);
        if (es == 0 || !vla__cur_need(c, es)) return VLA_ERR_FORMAT;
        if (kv->type == VLA_GGUF_BOOL && c->p[c->pos] > 1) return VLA_ERR_FORMAT;
        c->pos += es;
    }
    if (c->bad) return VLA_ERR_FORMAT;
    kv->val = c->p + start;
    kv->val_bytes = c->pos - start;
    return VLA_OK;
}

/* One tensor info at the cursor; t->data holds the blob-relative offset. */
static vla_status vla__gguf_read_tinfo(vla__cur *c, uint32_t alignment, vla_tensor *t) {
    uint32_t d;
    uint64_t nel = 1, off;
    VLA_MEMSET(t, 0, sizeof *t);
    t->name = vla__cur_str(c);
    t->n_dims = (int)vla__cur_u32(c);
    if (c->bad || t->name.n == 0 || t->name.n > 256 || t->n_dims < 1 || t->n_dims > VLA_MAX_DIMS) return VLA_ERR_FORMAT;
    for (d = 0; d < (uint32_t)t->n_dims; d++) {
        uint64_t ne = vla__cur_u64(c);
        if (ne == 0 || ne > ((uint64_t)1 << 40) || nel > ((uint64_t)1 << 60) / ne) return VLA_ERR_FORMAT;
        t->ne[d] = (int64_t)ne;
        nel *= ne;
    }
    t->type = (vla_type)vla__cur_u32(c);
    off = vla__cur_u64(c);
    if (c->bad) return VLA_ERR_FORMAT;
    t->nbytes = vla_type_size(t->type, nel);
    if (t->nbytes == 0) return VLA_ERR_FORMAT; /* unknown type, or Q8_0 count not a multiple of 32 */
    if (t->type == VLA_TYPE_Q8_0 && t->ne[0] % VLA_Q8_0_BLOCK) return VLA_ERR_FORMAT;
    if (off % alignment || off > ((uint64_t)1 << 62)) return VLA_ERR_FORMAT;
    t->data = (const void *)(uintptr_t)off;
    return VLA_OK;
}

VLA_DEF vla_status vla_gguf_open(vla_gguf *g, const void *data, size_t size, vla_arena *a) {
    vla__cur c;
    uint64_t i, n_kv, n_t, max_end = 0;
    uint32_t kv_cap, t_cap;
    int store;
    size_t blob;
    vla_status st;
    if (!g || !data || !a) return VLA_ERR_ARGS;
    store = !a->measuring;
    VLA_MEMSET(g, 0, sizeof *g);
    c.p = (const unsigned char *)data; c.pos = 0; c.size = size; c.bad = 0;
    if (size < 24 || VLA_MEMCMP(c.p, "GGUF", 4) != 0) return VLA_ERR_FORMAT;
    c.pos = 4;
    g->version = vla__cur_u32(&c);
    if (g->version != 3 && g->version != 2) return VLA_ERR_VERSION;
    n_t = vla__cur_u64(&c);
    n_kv = vla__cur_u64(&c);
    /* Each kv needs >= 13 bytes and each tensor info >= 28, so these caps
     * follow from the file size and stop huge counts before any allocation. */
    if (n_kv > (size - c.pos) / 13 || n_t > (size - c.pos) / 28 || n_kv >= 0x40000000u || n_t >= 0x40000000u)
        return VLA_ERR_FORMAT;
    g->data = c.p; g->size = size; g->n_kv = n_kv; g->n_tensors = n_t; g->alignment = 32;
    kv_cap = vla__pow2_at_least(n_kv);
    t_cap = vla__pow2_at_least(n_t);
    g->kv = (vla_gguf_kv *)vla_arena_alloc(a, vla__mul((size_t)n_kv + 1, sizeof(vla_gguf_kv)));
    g->tensors = (vla_tensor *)vla_arena_alloc(a, vla__mul((size_t)n_t + 1, sizeof(vla_tensor)));
    g->kv_hash = (uint32_t *)vla_arena_alloc(a, (size_t)kv_cap * 4);
    g->tensor_hash = (uint32_t *)vla_arena_alloc(a, (size_t)t_cap * 4);
    if (!g->kv || !g->tensors || !g->kv_hash || !g->tensor_hash) return VLA_ERR_NOMEM;
    if (!store) { /* a size query: validate and count, keep no tables */
        g->kv = NULL; g->tensors = NULL; g->kv_hash = NULL; g->tensor_hash = NULL;
    } else {
        VLA_MEMSET(g->kv_hash, 0, (size_t)kv_cap * 4);
        VLA_MEMSET(g->tensor_hash, 0, (size_t)t_cap * 4);
    }
    g->kv_offset = c.pos;
    for (i = 0; i < n_kv; i++) {
        vla_gguf_kv kv;
        if ((st = vla__gguf_read_kv(&c, &kv)) != VLA_OK) return st;
        if (store) {
            g->kv[i] = kv;
            if (!vla__hash_insert(g->kv_hash, kv_cap, &g->kv[0].key, sizeof(vla_gguf_kv), (uint32_t)i))
                return VLA_ERR_FORMAT; /* duplicate key */
        }
        if (vla__str_eq(kv.key, "general.alignment", 17)) {
            uint32_t al;
            if (kv.type != VLA_GGUF_U32) return VLA_ERR_FORMAT;
            al = vla__rd32(kv.val);
            if (al == 0 || (al & (al - 1)) || al > 65536) return VLA_ERR_FORMAT; /* power of two, bounded */
            g->alignment = al;
        }
    }
    g->tinfo_offset = c.pos;
    for (i = 0; i < n_t; i++) {
        vla_tensor t;
        if ((st = vla__gguf_read_tinfo(&c, g->alignment, &t)) != VLA_OK) return st;
        if ((uint64_t)(uintptr_t)t.data + t.nbytes > max_end) max_end = (uint64_t)(uintptr_t)t.data + t.nbytes;
        if (store) {
            g->tensors[i] = t;
            if (!vla__hash_insert(g->tensor_hash, t_cap, &g->tensors[0].name, sizeof(vla_tensor), (uint32_t)i))
                return VLA_ERR_FORMAT; /* duplicate name */
        }
    }
    /* The blob starts at the next alignment boundary; every tensor must lie
     * inside the bytes that exist (offsets are already aligned). */
    blob = vla__align_up(c.pos, g->alignment);
    if (blob > size || max_end > (uint64_t)(size - blob)) return VLA_ERR_FORMAT;
    g->blob_offset = blob;
    if (store)
        for (i = 0; i < n_t; i++) g->tensors[i].data = c.p + blob + (size_t)(uintptr_t)g->tensors[i].data;
    return VLA_OK;
}

VLA_DEF vla_status vla_gguf_get_kv(const vla_gguf *g, const char *key, vla_gguf_kv *out) {
    size_t n = VLA_STRLEN(key);
    uint64_t i;
    if (g->kv_hash) {
        uint32_t cap = vla__pow2_at_least(g->n_kv), h = vla__hash(key, n) & (cap - 1);
        while (g->kv_hash[h]) {
            const vla_gguf_kv *kv = &g->kv[g->kv_hash[h] - 1];
            if (vla__str_eq(kv->key, key, n)) { *out = *kv; return VLA_OK; }
            h = (h + 1) & (cap - 1);
        }
        return VLA_ERR_NOT_FOUND;
    } else { /* opened for a size query: scan the validated file */
        vla__cur c;
        c.p = g->data; c.pos = g->kv_offset; c.size = g->size; c.bad = 0;
        for (i = 0; g->data && i < g->n_kv; i++) {
            if (vla__gguf_read_kv(&c, out) != VLA_OK) return VLA_ERR_FORMAT;
            if (vla__str_eq(out->key, key, n)) return VLA_OK;
        }
        return VLA_ERR_NOT_FOUND;
    }
}

VLA_DEF vla_status vla_gguf_get_tensor(const vla_gguf *g, const char *name, vla_tensor *out) {
    size_t n = VLA_STRLEN(name);
    uint64_t i;
    if (g->tensor_hash) {
        uint32_t cap = vla__pow2_at_least(g->n_tensors), h = vla__hash(name, n) & (cap - 1);
        while (g->tensor_hash[h]) {
            const vla_tensor *t = &g->tensors[g->tensor_hash[h] - 1];
            if (vla__str_eq(t->name, name, n)) { *out = *t; return VLA_OK; }
            h = (h + 1) & (cap - 1);
        }
        return VLA_ERR_NOT_FOUND;
    } else {
        vla__cur c;
        c.p = g->data; c.pos = g->tinfo_offset; c.size = g->size; c.bad = 0;
        for (i = 0; g->data && i < g->n_tensors; i++) {
            if (vla__gguf_read_tinfo(&c, g->alignment, out) != VLA_OK) return VLA_ERR_FORMAT;
            if (vla__str_eq(out->name, name, n)) {
                out->data = g->data + g->blob_offset + (size_t)(uintptr_t)out->data;
                return VLA_OK;
            }
        }
        return VLA_ERR_NOT_FOUND;
    }
}

/* Tensor i of an opened file, with or without the stored tables. */
static vla_status vla__gguf_tensor_at(const vla_gguf *g, uint64_t i, vla_tensor *out) {
    vla__cur c;
    uint64_t k;
    if (i >= g->n_tensors) return VLA_ERR_RANGE;
    if (g->tensors) { *out = g->tensors[i]; return VLA_OK; }
    c.p = g->data; c.pos = g->tinfo_offset; c.size = g->size; c.bad = 0;
    for (k = 0; k <= i; k++)
        if (vla__gguf_read_tinfo(&c, g->alignment, out) != VLA_OK) return VLA_ERR_FORMAT;
    out->data = g->data + g->blob_offset + (size_t)(uintptr_t)out->data;
    return VLA_OK;
}

/* Read an integer kv of any width as int64 (u64 values above INT64_MAX fail). */
static vla_status vla__gguf_int(const vla_gguf_kv *kv, int64_t *out) {
    const unsigned char *p = kv->val;
    switch (kv->type) {
    case VLA_GGUF_U8: *out = p[0]; return VLA_OK;
    case VLA_GGUF_I8: *out = (int8_t)p[0]; return VLA_OK;
    case VLA_GGUF_U16: *out = vla__rd16(p); return VLA_OK;
    case VLA_GGUF_I16: *out = (int16_t)vla__rd16(p); return VLA_OK;
    case VLA_GGUF_U32: *out = vla__rd32(p); return VLA_OK;
    case VLA_GGUF_I32: *out = (int32_t)vla__rd32(p); return VLA_OK;
    case VLA_GGUF_U64: if (vla__rd64(p) > (uint64_t)INT64_MAX) return VLA_ERR_FORMAT; *out = (int64_t)vla__rd64(p); return VLA_OK;
    case VLA_GGUF_I64: *out = (int64_t)vla__rd64(p); return VLA_OK;
    default: return VLA_ERR_FORMAT;
    }
}

VLA_DEF vla_status vla_gguf_get_u32(const vla_gguf *g, const char *key, uint32_t *out) {
    vla_gguf_kv kv;
    int64_t v = 0;
    vla_status st = vla_gguf_get_kv(g, key, &kv);
    if (st != VLA_OK) return st;
    if (vla__gguf_int(&kv, &v) != VLA_OK || v < 0 || v > 0xffffffffLL) return VLA_ERR_FORMAT;
    *out = (uint32_t)v;
    return VLA_OK;
}

VLA_DEF vla_status vla_gguf_get_f32(const vla_gguf *g, const char *key, float *out) {
    vla_gguf_kv kv;
    vla_status st = vla_gguf_get_kv(g, key, &kv);
    if (st != VLA_OK) return st;
    if (kv.type == VLA_GGUF_F32) {
        uint32_t b = vla__rd32(kv.val);
        VLA_MEMCPY(out, &b, 4);
    } else if (kv.type == VLA_GGUF_F64) {
        uint64_t b = vla__rd64(kv.val);
        double d;
        VLA_MEMCPY(&d, &b, 8);
        *out = (float)d;
    } else {
        return VLA_ERR_FORMAT;
    }
    return VLA_OK;
}

VLA_DEF vla_status vla_gguf_get_bool(const vla_gguf *g, const char *key, int *out) {
    vla_gguf_kv kv;
    vla_status st = vla_gguf_get_kv(g, key, &kv);
    if (st != VLA_OK) return st;
    if (kv.type != VLA_GGUF_BOOL) return VLA_ERR_FORMAT;
    *out = kv.val[0] != 0;
    return VLA_OK;
}

VLA_DEF vla_status vla_gguf_get_str(const vla_gguf *g, const char *key, vla_str *out) {
    vla_gguf_kv kv;
    vla_status st = vla_gguf_get_kv(g, key, &kv);
    if (st != VLA_OK) return st;
    if (kv.type != VLA_GGUF_STRING) return VLA_ERR_FORMAT;
    out->n = (size_t)vla__rd64(kv.val);
    out->s = (const char *)kv.val + 8;
    return VLA_OK;
}

VLA_DEF int vla_gguf_arr_next_str(const vla_gguf_kv *kv, size_t *pos, vla_str *out) {
    uint64_t n;
    if (kv->type != VLA_GGUF_ARRAY || kv->arr_type != VLA_GGUF_STRING || *pos + 8 > kv->val_bytes) return 0;
    n = vla__rd64(kv->val + *pos); /* validated by vla_gguf_open */
    out->s = (const char *)kv->val + *pos + 8;
    out->n = (size_t)n;
    *pos += 8 + (size_t)n;
    return 1;
}

/* ---- writer ---- */

VLA_DEF vla_status vla_gguf_writer_init(vla_gguf_writer *w, vla_arena *a, int max_kv, int max_tensors, uint32_t alignment) {
    VLA_MEMSET(w, 0, sizeof *w);
    if (!a || max_kv < 0 || max_tensors < 0 || alignment == 0 || (alignment & (alignment - 1))) return VLA_ERR_ARGS;
    w->a = a;
    w->alignment = alignment;
    w->cap_kv = max_kv + 1; /* + general.alignment */
    w->cap_t = max_tensors;
    w->kv = (vla_gguf_wkv *)vla_arena_alloc(a, sizeof(vla_gguf_wkv) * (size_t)w->cap_kv);
    w->t = (vla_gguf_wtensor *)vla_arena_alloc(a, sizeof(vla_gguf_wtensor) * (size_t)(w->cap_t + 1));
    if (!w->kv || !w->t) return w->err = VLA_ERR_NOMEM;
    vla_gguf_add_u32(w, "general.alignment", alignment);
    return w->err;
}

static char *vla__arena_strdup(vla_arena *a, const char *s, size_t n) {
    char *d = (char *)vla_arena_alloc(a, n + 1);
    if (d) { VLA_MEMCPY(d, s, n); d[n] = 0; }
    return d;
}

static vla_gguf_wkv *vla__wkv(vla_gguf_writer *w, const char *key, vla_gguf_vtype t) {
    vla_gguf_wkv *kv;
    if (w->err) return NULL;
    if (w->n_kv >= w->cap_kv) { w->err = VLA_ERR_NOMEM; return NULL; }
    kv = &w->kv[w->n_kv];
    VLA_MEMSET(kv, 0, sizeof *kv);
    kv->key = vla__arena_strdup(w->a, key, VLA_STRLEN(key));
    if (!kv->key) { w->err = VLA_ERR_NOMEM; return NULL; }
    kv->type = t;
    w->n_kv++;
    return kv;
}

VLA_DEF void vla_gguf_add_u32(vla_gguf_writer *w, const char *key, uint32_t v) { vla_gguf_wkv *kv = vla__wkv(w, key, VLA_GGUF_U32); if (kv) kv->num.u = v; }
VLA_DEF void vla_gguf_add_i32(vla_gguf_writer *w, const char *key, int32_t v) { vla_gguf_wkv *kv = vla__wkv(w, key, VLA_GGUF_I32); if (kv) kv->num.i = v; }
VLA_DEF void vla_gguf_add_u64(vla_gguf_writer *w, const char *key, uint64_t v) { vla_gguf_wkv *kv = vla__wkv(w, key, VLA_GGUF_U64); if (kv) kv->num.u = v; }
VLA_DEF void vla_gguf_add_f32(vla_gguf_writer *w, const char *key, float v) { vla_gguf_wkv *kv = vla__wkv(w, key, VLA_GGUF_F32); if (kv) kv->num.f = v; }
VLA_DEF void vla_gguf_add_bool(vla_gguf_writer *w, const char *key, int v) { vla_gguf_wkv *kv = vla__wkv(w, key, VLA_GGUF_BOOL); if (kv) kv->num.u = v ? 1 : 0; }

VLA_DEF void vla_gguf_add_str(vla_gguf_writer *w, const char *key, const char *s, size_t n) {
    vla_gguf_wkv *kv = vla__wkv(w, key, VLA_GGUF_STRING);
    if (!kv) return;
    kv->str.s = vla__arena_strdup(w->a, s, n);
    kv->str.n = n;
    if (!kv->str.s) w->err = VLA_ERR_NOMEM;
}

VLA_DEF void vla_gguf_add_arr(vla_gguf_writer *w, const char *key, vla_gguf_vtype arr_type, const void *items, uint64_t n) {
    vla_gguf_wkv *kv;
    if (arr_type != VLA_GGUF_STRING && vla__gguf_scalar_size(arr_type) == 0) { if (!w->err) w->err = VLA_ERR_ARGS; return; }
    kv = vla__wkv(w, key, VLA_GGUF_ARRAY);
    if (!kv) return;
    kv->arr_type = arr_type;
    kv->arr_n = n;
    kv->arr = items;
}

VLA_DEF void vla_gguf_add_kv(vla_gguf_writer *w, const vla_gguf_kv *src) {
    char *key;
    vla_gguf_wkv *kv;
    if (w->err) return;
    if (!(key = vla__arena_strdup(w->a, src->key.s, src->key.n))) { w->err = VLA_ERR_NOMEM; return; }
    if (src->type == VLA_GGUF_STRING) { /* u64 length + text, validated by vla_gguf_open */
        if (src->val_bytes < 8) { w->err = VLA_ERR_ARGS; return; }
        vla_gguf_add_str(w, key, (const char *)src->val + 8, (size_t)vla__rd64(src->val));
        return;
    }
    if (src->type == VLA_GGUF_ARRAY && src->arr_type == VLA_GGUF_STRING) {
        vla_str *items = (vla_str *)vla_arena_alloc(w->a, sizeof(vla_str) * (size_t)(src->arr_n ? src->arr_n : 1));
        size_t pos = 0;
        uint64_t i;
        if (!items || src->arr_n > (uint64_t)((size_t)-1 / sizeof(vla_str))) { w->err = VLA_ERR_NOMEM; return; }
        for (i = 0; i < src->arr_n; i++)
            if (!vla_gguf_arr_next_str(src, &pos, &items[i])) { w->err = VLA_ERR_ARGS; return; }
        vla_gguf_add_arr(w, key, VLA_GGUF_STRING, items, src->arr_n);
        return;
    }
    if (src->type == VLA_GGUF_ARRAY) { vla_gguf_add_arr(w, key, src->arr_type, src->val, src->arr_n); return; }
    if (!(kv = vla__wkv(w, key, src->type))) return;
    switch (vla__gguf_scalar_size(src->type)) { /* the writer keeps scalars as u64 / i64 / double */
    case 1: kv->num.u = src->val[0]; if (src->type == VLA_GGUF_I8) kv->num.i = (int8_t)src->val[0]; break;
    case 2: kv->num.u = vla__rd16(src->val); if (src->type == VLA_GGUF_I16) kv->num.i = (int16_t)vla__rd16(src->val); break;
    case 4:
        if (src->type == VLA_GGUF_F32) { float f; uint32_t u = vla__rd32(src->val); VLA_MEMCPY(&f, &u, 4); kv->num.f = f; }
        else if (src->type == VLA_GGUF_I32) kv->num.i = (int32_t)vla__rd32(src->val);
        else kv->num.u = vla__rd32(src->val);
        break;
    case 8:
        if (src->type == VLA_GGUF_F64) { uint64_t u = vla__rd64(src->val); VLA_MEMCPY(&kv->num.f, &u, 8); }
        else kv->num.u = vla__rd64(src->val);
        break;
    default: w->err = VLA_ERR_ARGS; break;
    }
}

VLA_DEF void vla_gguf_add_tensor(vla_gguf_writer *w, const char *name, vla_type type, int n_dims, const int64_t *ne,
                                 const void *data) {
    vla_gguf_wtensor *t;
    uint64_t nel = 1;
    int d;
    if (w->err) return;
    if (w->n_t >= w->cap_t) { w->err = VLA_ERR_NOMEM; return; }
    if (n_dims < 1 || n_dims > VLA_MAX_DIMS) { w->err = VLA_ERR_ARGS; return; }
    t = &w->t[w->n_t];
    t->name = vla__arena_strdup(w->a, name, VLA_STRLEN(name));
    if (!t->name) { w->err = VLA_ERR_NOMEM; return; }
    t->type = type;
    t->n_dims = n_dims;
    for (d = 0; d < n_dims; d++) {
        if (ne[d] <= 0) { w->err = VLA_ERR_ARGS; return; }
        t->ne[d] = ne[d];
        nel *= (uint64_t)ne[d];
    }
    t->data = data;
    t->nbytes = vla_type_size(type, nel);
    if (t->nbytes == 0) { w->err = VLA_ERR_ARGS; return; }
    w->n_t++;
}

static uint64_t vla__wkv_bytes(const vla_gguf_wkv *kv) {
    uint64_t n = 8 + VLA_STRLEN(kv->key) + 4, i;
    if (kv->type == VLA_GGUF_STRING) return n + 8 + kv->str.n;
    if (kv->type != VLA_GGUF_ARRAY) return n + vla__gguf_scalar_size(kv->type);
    n += 12;
    if (kv->arr_type != VLA_GGUF_STRING) return n + kv->arr_n * vla__gguf_scalar_size(kv->arr_type);
    for (i = 0; i < kv->arr_n; i++) n += 8 + ((const vla_str *)kv->arr)[i].n;
    return n;
}

static uint64_t vla__gguf_header_bytes(const vla_gguf_writer *w) {
    uint64_t n = 24;
    int i;
    for (i = 0; i < w->n_kv; i++) n += vla__wkv_bytes(&w->kv[i]);
    for (i = 0; i < w->n_t; i++) n += 8 + VLA_STRLEN(w->t[i].name) + 4 + 8 * (uint64_t)w->t[i].n_dims + 4 + 8;
    return n;
}

VLA_DEF uint64_t vla_gguf_writer_size(const vla_gguf_writer *w) {
    uint64_t al = w->alignment, n = vla__gguf_header_bytes(w);
    int i;
    n = (n + al - 1) / al * al;
    for (i = 0; i < w->n_t; i++) n += (w->t[i].nbytes + al - 1) / al * al;
    return n;
}

/* Small buffered emitter so the header goes out in few callback calls. */
typedef struct vla__wbuf {
    vla_write_fn fn;
    void *user;
    unsigned char buf[512];
    size_t n;
    vla_status st;
} vla__wbuf;

static void vla__wflush(vla__wbuf *b) {
    if (b->n && b->st == VLA_OK) b->st = b->fn(b->user, b->buf, b->n);
    b->n = 0;
}
static void vla__wbytes(vla__wbuf *b, const void *p, size_t n) {
    const unsigned char *s = (const unsigned char *)p;
    if (n > sizeof b->buf) { vla__wflush(b); if (b->st == VLA_OK) b->st = b->fn(b->user, p, n); return; }
    if (b->n + n > sizeof b->buf) vla__wflush(b);
    VLA_MEMCPY(b->buf + b->n, s, n);
    b->n += n;
}
static void vla__wu32(vla__wbuf *b, uint32_t v) {
    unsigned char t[4];
    t[0] = (unsigned char)v; t[1] = (unsigned char)(v >> 8); t[2] = (unsigned char)(v >> 16); t[3] = (unsigned char)(v >> 24);
    vla__wbytes(b, t, 4);
}
static void vla__wu64(vla__wbuf *b, uint64_t v) { vla__wu32(b, (uint32_t)v); vla__wu32(b, (uint32_t)(v >> 32)); }
static void vla__wstr(vla__wbuf *b, const char *s, size_t n) { vla__wu64(b, n); vla__wbytes(b, s, n); }
static void vla__wpad(vla__wbuf *b, uint64_t n) {
    static const unsigned char z[64] = {0};
    while (n) { size_t k = n > 64 ? 64 : (size_t)n; vla__wbytes(b, z, k); n -= k; }
}
static void vla__wscalar(vla__wbuf *b, vla_gguf_vtype t, const void *p) { /* p: host value of that type */
    size_t es = vla__gguf_scalar_size(t), i;
    unsigned char tmp[8];
    const unsigned char *s = (const unsigned char *)p;
    /* serialise little-endian regardless of the host */
    uint64_t v = 0;
    if (es == 1) v = s[0];
    else if (es == 2) { uint16_t x; VLA_MEMCPY(&x, p, 2); v = x; }
    else if (es == 4) { uint32_t x; VLA_MEMCPY(&x, p, 4); v = x; }
    else { VLA_MEMCPY(&v, p, 8); }
    for (i = 0; i < es; i++) tmp[i] = (unsigned char)(v >> (8 * i));
    vla__wbytes(b, tmp, es);
}

VLA_DEF vla_status vla_gguf_write(vla_gguf_writer *w, vla_write_fn fn, void *user) {
    vla__wbuf b;
    uint64_t off = 0, al = w->alignment, hdr;
    int i;
    uint64_t k;
    if (w->err) return w->err;
    b.fn = fn; b.user = user; b.n = 0; b.st = VLA_OK;
    vla__wbytes(&b, "GGUF", 4);
    vla__wu32(&b, 3);
    vla__wu64(&b, (uint64_t)w->n_t);
    vla__wu64(&b, (uint64_t)w->n_kv);
    for (i = 0; i < w->n_kv; i++) {
        const vla_gguf_wkv *kv = &w->kv[i];
        vla__wstr(&b, kv->key, VLA_STRLEN(kv->key));
        vla__wu32(&b, (uint32_t)kv->type);
        switch (kv->type) {
        case VLA_GGUF_STRING: vla__wstr(&b, kv->str.s, kv->str.n); break;
        case VLA_GGUF_ARRAY:
            vla__wu32(&b, (uint32_t)kv->arr_type);
            vla__wu64(&b, kv->arr_n);
            for (k = 0; k < kv->arr_n; k++) {
                if (kv->arr_type == VLA_GGUF_STRING) vla__wstr(&b, ((const vla_str *)kv->arr)[k].s, ((const vla_str *)kv->arr)[k].n);
                else vla__wscalar(&b, kv->arr_type, (const unsigned char *)kv->arr + k * vla__gguf_scalar_size(kv->arr_type));
            }
            break;
        case VLA_GGUF_F32: { float f = (float)kv->num.f; vla__wscalar(&b, kv->type, &f); } break;
        case VLA_GGUF_F64: vla__wscalar(&b, kv->type, &kv->num.f); break;
        case VLA_GGUF_U8: case VLA_GGUF_BOOL: { uint8_t v = (uint8_t)kv->num.u; vla__wscalar(&b, kv->type, &v); } break;
        case VLA_GGUF_U32: { uint32_t v = (uint32_t)kv->num.u; vla__wscalar(&b, kv->type, &v); } break;
        case VLA_GGUF_I32: { int32_t v = (int32_t)kv->num.i; vla__wscalar(&b, kv->type, &v); } break;
        default: vla__wscalar(&b, kv->type, &kv->num.u); break;
        }
    }
    for (i = 0; i < w->n_t; i++) {
        const vla_gguf_wtensor *t = &w->t[i];
        int d;
        vla__wstr(&b, t->name, VLA_STRLEN(t->name));
        vla__wu32(&b, (uint32_t)t->n_dims);
        for (d = 0; d < t->n_dims; d++) vla__wu64(&b, (uint64_t)t->ne[d]);
        vla__wu32(&b, (uint32_t)t->type);
        vla__wu64(&b, off);
        off += (t->nbytes + al - 1) / al * al;
    }
    hdr = vla__gguf_header_bytes(w);
    vla__wpad(&b, (hdr + al - 1) / al * al - hdr);
    for (i = 0; i < w->n_t; i++) {
        vla__wbytes(&b, w->t[i].data, (size_t)w->t[i].nbytes);
        vla__wpad(&b, (w->t[i].nbytes + al - 1) / al * al - w->t[i].nbytes);
    }
    vla__wflush(&b);
    return b.st;
}

/* ==========================================================================
 * [I7] Model loading
 * ========================================================================== */

typedef struct vla__lin { vla_mat w; const float *b; } vla__lin; /* y = x W^T + b */
typedef struct vla__ln { const float *g, *b; } vla__ln;          /* LayerNorm gain, bias */
typedef struct vla__attn { vla__lin q, k, v, o; } vla__attn;

typedef struct vla__enc_layer {
    vla__attn sa;           /* self-attention                       */
    vla__ln sa_ln;          /* self_attn_layer_norm                 */
    vla__lin fc1, fc2;      /* FFN d -> ffn -> d                    */
    vla__ln ffn_ln;         /* final_layer_norm                     */
} vla__enc_layer;

/* A convolution with folded BatchNorm: w [cout, k*k*cin] in (ky, kx, cin) order. */
typedef struct vla__conv { vla_mat w; const float *b; int k, cin, cout; } vla__conv;

/* CLIP Bottleneck: conv1 1x1, conv2 3x3, [avgpool stride], conv3 1x1 (x4),
 * identity = [avgpool stride] conv 1x1 when the shape changes. */
typedef struct vla__bottleneck {
    vla__conv c1, c2, c3, down;
    int stride, has_down;
} vla__bottleneck;

typedef struct vla__dec_layer {
    vla__attn sa, ca;       /* causal self-attention, cross-attention */
    vla__ln sa_ln, ca_ln, ffn_ln;
    vla__lin fc1, fc2;
} vla__dec_layer;

/* Every BART weight the forward pass reads, as pointers into files.  The
 * model has one; an attached adapter set has its own copy in which the
 * tensors it overrides (trained LayerNorms, biases, the visual embedding...)
 * point into the adapter file instead. */
typedef struct vla__weights {
    vla_mat shared;                 /* [vocab, d]: token embedding = lm_head     */
    const float *final_logits_bias; /* [vocab]                                   */
    vla_mat enc_pos, dec_pos;       /* [n_positions, d], row p+2 for position p  */
    vla__ln enc_ln_emb, dec_ln_emb; /* layernorm_embedding                       */
    vla__enc_layer *enc;            /* [n_enc_layers]                            */
    vla__dec_layer *dec;            /* [n_dec_layers]                            */
    /* visual embedding (hp.has_visual) */
    vla__lin vis_feat;              /* [d, feat_dim]                             */
    vla__ln vis_feat_ln;
    vla__lin vis_box;               /* [d, 5]: (x1, x2, y1, y2, area)            */
    vla__ln vis_box_ln;
    vla_mat img_order;              /* [n_images, d]                             */
} vla__weights;

struct vla_model {
    vla_gguf gguf;
    vla_hparams hp;
    vla_logger log;
    vla__weights w;
    vla_tokenizer *tok;             /* NULL when the file has no tokenizer       */
    /* CLIP trunk (hp.has_clip): BatchNorm folded into every convolution */
    vla__conv clip_stem[3];         /* 3x3: 3 -> w/2 (stride 2), w/2 -> w/2, w/2 -> w */
    vla__bottleneck *clip_blocks;   /* all stages, in order                      */
    int clip_i8;                    /* any I8 convolution: the trunk's ReLU passes measure its amax */
};

/* Where tensors are looked up: the first file that has the name wins (an
 * adapter file, then its base model). */
typedef struct vla__src {
    const vla_gguf *g[2];
    int n;
    const vla_logger *log;
} vla__src;

static vla_status vla__find(const vla__src *s, const char *name, vla_tensor *t) {
    int i;
    for (i = 0; i < s->n; i++)
        if (vla_gguf_get_tensor(s->g[i], name, t) == VLA_OK) return VLA_OK;
    return VLA_ERR_NOT_FOUND;
}

/* "a<i>b" into buf (i < 0: "ab"). */
static const char *vla__name(char *buf, size_t cap, const char *a, int i, const char *b) {
    size_t n = 0;
    char num[12];
    int k = 0;
    while (*a && n + 1 < cap) buf[n++] = *a++;
    if (i >= 0) {
        do { num[k++] = (char)('0' + i % 10); i /= 10; } while (i && k < 11);
        while (k && n + 1 < cap) buf[n++] = num[--k];
    }
    while (*b && n + 1 < cap) buf[n++] = *b++;
    buf[n] = 0;
    return buf;
}

static vla_status vla__missing(const vla_logger *lg, const char *name, const char *what) {
    vla__log(lg, VLA_LOG_ERROR, "model file: tensor '%s' %s", name, what, 0);
    return VLA_ERR_FORMAT;
}

/* An I8 weight found in one of the files: its "<name>_scale" must be in
 * the same file (an adapter file overriding a weight brings its scale). */
static vla_status vla__load_i8(const vla__src *m, const char *name, const vla_tensor *t, vla_mat *out) {
    int i;
    vla_tensor u;
    for (i = 0; i < m->n; i++)
        if (vla_gguf_get_tensor(m->g[i], name, &u) == VLA_OK) break;
    if (i == m->n || vla__i8_mat(m->g[i], t, out) != VLA_OK)
        return vla__missing(m->log, name, "is I8 but its F32 '<name>_scale' [rows] tensor is missing, misshapen or too long a row");
    return VLA_OK;
}

/* A weight matrix that must be [rows, cols] (ne = {cols, rows}). */
static vla_status vla__load_mat(const vla__src *m, const char *name, int rows, int cols, vla_mat *out) {
    vla_tensor t;
    if (vla__find(m, name, &t) != VLA_OK) return vla__missing(m->log, name, "is missing");
    if (t.n_dims != 2 || t.ne[0] != cols || t.ne[1] != rows) return vla__missing(m->log, name, "has the wrong shape");
    if (t.type == VLA_TYPE_I8) return vla__load_i8(m, name, &t, out);
    if (vla_tensor_as_mat(&t, out) != VLA_OK) return vla__missing(m->log, name, "has an unsupported type");
    return VLA_OK;
}

/* An fp32 vector of n elements (any shape with n elements). */
static vla_status vla__load_vec(const vla__src *m, const char *name, int n, const float **out) {
    vla_tensor t;
    if (vla__find(m, name, &t) != VLA_OK) return vla__missing(m->log, name, "is missing");
    if (t.type != VLA_TYPE_F32 || t.nbytes != (uint64_t)n * 4) return vla__missing(m->log, name, "must be F32 of the expected size");
    if ((uintptr_t)t.data % 4) return vla__missing(m->log, name, "is misaligned");
    *out = (const float *)t.data;
    return VLA_OK;
}

/* A folded convolution "<prefix>.weight" [cout, k, k, cin] + ".bias" [cout]. */
static vla_status vla__load_conv(const vla__src *m, const char *prefix, int cin, int k, vla__conv *cv) {
    char nm[128];
    vla_tensor t;
    vla__name(nm, sizeof nm, prefix, -1, ".weight");
    if (vla__find(m, nm, &t) != VLA_OK) return vla__missing(m->log, nm, "is missing");
    if (t.n_dims != 4 || t.ne[0] != cin || t.ne[1] != k || t.ne[2] != k || t.ne[3] < 1 || t.ne[3] > 1 << 16 ||
        (t.type != VLA_TYPE_F32 && t.type != VLA_TYPE_F16 && t.type != VLA_TYPE_Q8_0 && t.type != VLA_TYPE_I8))
        return vla__missing(m->log, nm, "is not a [cout, k, k, cin] convolution of the expected size");
    if (t.type == VLA_TYPE_Q8_0 && (k * k * cin) % VLA_Q8_0_BLOCK) return vla__missing(m->log, nm, "cannot be Q8_0 (row not a multiple of 32)");
    cv->w.type = t.type; cv->w.rows = (int)t.ne[3]; cv->w.cols = k * k * cin; cv->w.data = t.data; cv->w.scale = NULL;
    if (t.type == VLA_TYPE_I8) {
        vla_status st = vla__load_i8(m, nm, &t, &cv->w);
        if (st != VLA_OK) return st;
    }
    cv->k = k; cv->cin = cin; cv->cout = (int)t.ne[3];
    return vla__load_vec(m, vla__name(nm, sizeof nm, prefix, -1, ".bias"), cv->cout, &cv->b);
}

static vla_status vla__load_lin(const vla__src *m, const char *prefix, int out_f, int in_f, vla__lin *l) {
    char nm[128];
    vla_status st;
    if ((st = vla__load_mat(m, vla__name(nm, sizeof nm, prefix, -1, ".weight"), out_f, in_f, &l->w)) != VLA_OK) return st;
    return vla__load_vec(m, vla__name(nm, sizeof nm, prefix, -1, ".bias"), out_f, &l->b);
}

static vla_status vla__load_ln(const vla__src *m, const char *prefix, int n, vla__ln *l) {
    char nm[128];
    vla_status st;
    if ((st = vla__load_vec(m, vla__name(nm, sizeof nm, prefix, -1, ".weight"), n, &l->g)) != VLA_OK) return st;
    return vla__load_vec(m, vla__name(nm, sizeof nm, prefix, -1, ".bias"), n, &l->b);
}

static vla_status vla__load_attn(const vla__src *m, const char *prefix, int d, vla__attn *a) {
    char nm[128];
    vla_status st;
    if ((st = vla__load_lin(m, vla__name(nm, sizeof nm, prefix, -1, ".q_proj"), d, d, &a->q)) != VLA_OK) return st;
    if ((st = vla__load_lin(m, vla__name(nm, sizeof nm, prefix, -1, ".k_proj"), d, d, &a->k)) != VLA_OK) return st;
    if ((st = vla__load_lin(m, vla__name(nm, sizeof nm, prefix, -1, ".v_proj"), d, d, &a->v)) != VLA_OK) return st;
    return vla__load_lin(m, vla__name(nm, sizeof nm, prefix, -1, ".out_proj"), d, d, &a->o);
}

static vla_status vla__hp_u32(const vla_gguf *g, const vla_logger *lg, const char *key, int *out, int dflt, int lo, int hi) {
    uint32_t v;
    vla_status st = vla_gguf_get_u32(g, key, &v);
    if (st == VLA_ERR_NOT_FOUND && dflt >= lo) { *out = dflt; return VLA_OK; }
    if (st != VLA_OK || (int64_t)v < lo || (int64_t)v > hi) {
        long long l = lo, h = hi;
        vla__log(lg, VLA_LOG_ERROR, "model file: key '%s' missing or outside [%d, %d]", key, &l, &h);
        return VLA_ERR_FORMAT;
    }
    *out = (int)v;
    return VLA_OK;
}

static vla_status vla__read_hparams(const vla_gguf *g, const vla_logger *lg, vla_hparams *hp) {
    vla_status st = VLA_OK;
    vla_tensor t;
    float f;
    int d_ok, b;
    VLA_MEMSET(hp, 0, sizeof *hp);
#define VLA__HP(key, field, dflt, lo, hi) if (st == VLA_OK) st = vla__hp_u32(g, lg, key, &hp->field, dflt, lo, hi)
    hp->has_bart = vla_gguf_get_tensor(g, "shared.weight", &t) == VLA_OK;
    if (hp->has_bart) {
        VLA__HP("vladapter.bart.d_model", d_model, -1, 1, 65536);
        VLA__HP("vladapter.bart.encoder_layers", n_enc_layers, -1, 0, VLA_MAX_LAYERS);
        VLA__HP("vladapter.bart.decoder_layers", n_dec_layers, -1, 1, VLA_MAX_LAYERS);
        VLA__HP("vladapter.bart.encoder_heads", n_enc_heads, -1, 1, 4096);
        VLA__HP("vladapter.bart.decoder_heads", n_dec_heads, -1, 1, 4096);
        VLA__HP("vladapter.bart.encoder_ffn", enc_ffn, -1, 1, 1 << 20);
        VLA__HP("vladapter.bart.decoder_ffn", dec_ffn, -1, 1, 1 << 20);
        VLA__HP("vladapter.bart.pad_id", pad_id, 1, 0, 0x7fffffff);
        VLA__HP("vladapter.bart.bos_id", bos_id, 0, 0, 0x7fffffff);
        VLA__HP("vladapter.bart.eos_id", eos_id, 2, 0, 0x7fffffff);
        VLA__HP("vladapter.bart.decoder_start_id", dec_start_id, 2, 0, 0x7fffffff);
        VLA__HP("vladapter.gen.no_repeat_ngram_size", no_repeat_ngram, 0, 0, 64);
        VLA__HP("vladapter.gen.num_beams", num_beams, 1, 1, 64);
        VLA__HP("vladapter.gen.max_length", max_length, 20, 1, 4096);
        VLA__HP("vladapter.gen.min_length", min_length, 0, 0, 4096);
        VLA__HP("vladapter.gen.early_stopping", early_stopping, 0, 0, 1);
        if (st != VLA_OK) return st;
        hp->ln_eps = 1e-5f;
        if (vla_gguf_get_f32(g, "vladapter.bart.layer_norm_eps", &f) == VLA_OK) hp->ln_eps = f;
        hp->embed_scale = 1.0f;
        if (vla_gguf_get_bool(g, "vladapter.bart.scale_embedding", &b) == VLA_OK && b) hp->embed_scale = VLA_SQRTF((float)hp->d_model);
        hp->length_penalty = 1.0f;
        if (vla_gguf_get_f32(g, "vladapter.gen.length_penalty", &f) == VLA_OK) hp->length_penalty = f;
        d_ok = hp->d_model % hp->n_enc_heads == 0 && hp->d_model % hp->n_dec_heads == 0;
        if (!d_ok) { vla__log(lg, VLA_LOG_ERROR, "model file: d_model is not a multiple of the head count", 0, 0, 0); return VLA_ERR_FORMAT; }
        /* sizes that come from tensors */
        if (vla_gguf_get_tensor(g, "shared.weight", &t) != VLA_OK || t.n_dims != 2 || t.ne[0] != hp->d_model || t.ne[1] > 0x7fffffff)
            return vla__missing(lg, "shared.weight", "is missing or not [vocab, d_model]");
        hp->vocab = (int)t.ne[1];
        if (vla_gguf_get_tensor(g, "decoder.embed_positions.weight", &t) != VLA_OK || t.n_dims != 2 || t.ne[1] < 3 || t.ne[1] > 1 << 20)
            return vla__missing(lg, "decoder.embed_positions.weight", "is missing or malformed");
        hp->n_positions = (int)t.ne[1];
        if (hp->pad_id >= hp->vocab || hp->eos_id >= hp->vocab || hp->dec_start_id >= hp->vocab || hp->bos_id >= hp->vocab) {
            vla__log(lg, VLA_LOG_ERROR, "model file: special token ids outside the vocabulary", 0, 0, 0);
            return VLA_ERR_FORMAT;
        }
    }
    if (hp->has_bart && vla_gguf_get_tensor(g, "encoder.visual_embedding.feat_embedding.0.weight", &t) == VLA_OK) {
        hp->has_visual = 1;
        if (t.n_dims != 2 || t.ne[1] != hp->d_model || t.ne[0] > 1 << 20) return vla__missing(lg, "encoder.visual_embedding.feat_embedding.0.weight", "is not [d_model, feat_dim]");
        hp->feat_dim = (int)t.ne[0];
        VLA__HP("vladapter.vis.n_boxes", n_boxes, 36, 1, 4096);
        VLA__HP("vladapter.vis.pool_h", pool_h, 6, 0, 4096);
        VLA__HP("vladapter.vis.pool_w", pool_w, 6, 0, 4096);
        if (st != VLA_OK) return st;
        if (hp->pool_h * hp->pool_w != 0 && hp->pool_h * hp->pool_w != hp->n_boxes) {
            vla__log(lg, VLA_LOG_ERROR, "model file: pool_h * pool_w must equal n_boxes", 0, 0, 0);
            return VLA_ERR_FORMAT;
        }
        if (vla_gguf_get_tensor(g, "encoder.visual_embedding.img_order_embedding.weight", &t) != VLA_OK || t.n_dims != 2 ||
            t.ne[0] != hp->d_model || t.ne[1] > 64)
            return vla__missing(lg, "encoder.visual_embedding.img_order_embedding.weight", "is missing or malformed");
        hp->n_images = (int)t.ne[1];
        if (hp->n_boxes > hp->vocab) return vla__missing(lg, "shared.weight", "has fewer rows than visual tokens");
    }
    if (vla_gguf_get_tensor(g, "visual.conv3.weight", &t) == VLA_OK) {
        char nm[64];
        int st_i, nbk;
        hp->has_clip = 1;
        if (t.n_dims != 4 || t.ne[3] < 2 || t.ne[3] > 4096 || t.ne[3] % 2) return vla__missing(lg, "visual.conv3.weight", "is malformed");
        hp->clip_width = (int)t.ne[3];
        for (st_i = 0; st_i < 4; st_i++) {
            for (nbk = 0; nbk < 256; nbk++) {
                vla__name(nm, sizeof nm, "visual.layer", st_i + 1, ".");
                vla__name(nm + VLA_STRLEN(nm), sizeof nm - VLA_STRLEN(nm), "", nbk, ".conv1.weight");
                if (vla_gguf_get_tensor(g, nm, &t) != VLA_OK) break;
            }
            if (nbk == 0) return vla__missing(lg, "visual.layerN.0.conv1.weight", "is missing (a CLIP stage without blocks)");
            hp->clip_blocks[st_i] = nbk;
        }
        VLA__HP("vladapter.clip.image_size", clip_image_size, 224, 32, 4096);
        if (st != VLA_OK) return st;
        if (hp->clip_image_size % 32) { vla__log(lg, VLA_LOG_ERROR, "model file: CLIP image size must be a multiple of 32", 0, 0, 0); return VLA_ERR_FORMAT; }
        hp->clip_out_ch = 32 * hp->clip_width;
    }
    if (!hp->has_bart && !hp->has_clip) {
        vla__log(lg, VLA_LOG_ERROR, "model file: neither BART (shared.weight) nor a CLIP trunk (visual.conv3.weight)", 0, 0, 0);
        return VLA_ERR_FORMAT;
    }
#undef VLA__HP
    return VLA_OK;
}

/* Persistent layout of a model; the same calls in a measuring arena give the size. */
static vla_status vla__model_alloc(vla_model **out, vla_arena *a, const void *gguf, size_t size, const vla_logger *log) {
    vla_model *m = (vla_model *)vla_arena_alloc(a, sizeof(vla_model)), tmp;
    vla_status st;
    if (!m) return VLA_ERR_NOMEM;
    if (a->measuring) m = &tmp; /* a size query: the struct lives on the stack */
    VLA_MEMSET(m, 0, sizeof *m);
    if (log) m->log = *log;
    a->log = m->log;
    if ((st = vla_gguf_open(&m->gguf, gguf, size, a)) != VLA_OK) {
        if (st == VLA_ERR_FORMAT) vla__log(log, VLA_LOG_ERROR, "model file: not a valid GGUF file", 0, 0, 0);
        return st;
    }
    if ((st = vla__read_hparams(&m->gguf, &m->log, &m->hp)) != VLA_OK) return st;
    {   /* the tokenizer, when the file carries one */
        vla_gguf_kv kv;
        if (vla_gguf_get_kv(&m->gguf, "tokenizer.ggml.tokens", &kv) == VLA_OK &&
            (st = vla_tokenizer_init(&m->tok, &m->gguf, a)) != VLA_OK)
            return st;
    }
    m->w.enc = (vla__enc_layer *)vla_arena_alloc(a, sizeof(vla__enc_layer) * (size_t)(m->hp.n_enc_layers + 1));
    m->w.dec = (vla__dec_layer *)vla_arena_alloc(a, sizeof(vla__dec_layer) * (size_t)(m->hp.n_dec_layers + 1));
    m->clip_blocks = (vla__bottleneck *)vla_arena_alloc(a, sizeof(vla__bottleneck) * (size_t)(m->hp.clip_blocks[0] + m->hp.clip_blocks[1] + m->hp.clip_blocks[2] + m->hp.clip_blocks[3] + 1));
    if (!m->w.enc || !m->w.dec || !m->clip_blocks) return VLA_ERR_NOMEM;
    *out = a->measuring ? NULL : m;
    return VLA_OK;
}

VLA_DEF vla_status vla_model_mem_req(const void *gguf, size_t gguf_size, size_t *bytes) {
    vla_arena a;
    vla_model *m;
    vla_status st;
    if (!gguf || !bytes) return VLA_ERR_ARGS;
    vla_arena_init_measure(&a);
    if ((st = vla__model_alloc(&m, &a, gguf, gguf_size, NULL)) != VLA_OK) return st;
    *bytes = a.peak_total + VLA_ALIGN; /* + room to align the caller's pointer */
    return VLA_OK;
}

/* Every BART weight of the view W from the files of s (arrays already carved). */
static vla_status vla__load_weights(const vla__src *s, const vla_hparams *hp, vla__weights *W) {
    vla_status st;
    char nm[128];
    int i, d = hp->d_model;
    if ((st = vla__load_mat(s, "shared.weight", hp->vocab, d, &W->shared)) != VLA_OK) return st;
    if ((st = vla__load_vec(s, "final_logits_bias", hp->vocab, &W->final_logits_bias)) != VLA_OK) return st;
    if ((st = vla__load_mat(s, "encoder.embed_positions.weight", hp->n_positions, d, &W->enc_pos)) != VLA_OK) return st;
    if ((st = vla__load_mat(s, "decoder.embed_positions.weight", hp->n_positions, d, &W->dec_pos)) != VLA_OK) return st;
    if ((st = vla__load_ln(s, "encoder.layernorm_embedding", d, &W->enc_ln_emb)) != VLA_OK) return st;
    if ((st = vla__load_ln(s, "decoder.layernorm_embedding", d, &W->dec_ln_emb)) != VLA_OK) return st;
    for (i = 0; i < hp->n_enc_layers; i++) {
        vla__enc_layer *L = &W->enc[i];
        if ((st = vla__load_attn(s, vla__name(nm, sizeof nm, "encoder.layers.", i, ".self_attn"), d, &L->sa)) != VLA_OK) return st;
        if ((st = vla__load_ln(s, vla__name(nm, sizeof nm, "encoder.layers.", i, ".self_attn_layer_norm"), d, &L->sa_ln)) != VLA_OK) return st;
        if ((st = vla__load_lin(s, vla__name(nm, sizeof nm, "encoder.layers.", i, ".fc1"), hp->enc_ffn, d, &L->fc1)) != VLA_OK) return st;
        if ((st = vla__load_lin(s, vla__name(nm, sizeof nm, "encoder.layers.", i, ".fc2"), d, hp->enc_ffn, &L->fc2)) != VLA_OK) return st;
        if ((st = vla__load_ln(s, vla__name(nm, sizeof nm, "encoder.layers.", i, ".final_layer_norm"), d, &L->ffn_ln)) != VLA_OK) return st;
    }
    for (i = 0; i < hp->n_dec_layers; i++) {
        vla__dec_layer *L = &W->dec[i];
        if ((st = vla__load_attn(s, vla__name(nm, sizeof nm, "decoder.layers.", i, ".self_attn"), d, &L->sa)) != VLA_OK) return st;
        if ((st = vla__load_ln(s, vla__name(nm, sizeof nm, "decoder.layers.", i, ".self_attn_layer_norm"), d, &L->sa_ln)) != VLA_OK) return st;
        if ((st = vla__load_attn(s, vla__name(nm, sizeof nm, "decoder.layers.", i, ".encoder_attn"), d, &L->ca)) != VLA_OK) return st;
        if ((st = vla__load_ln(s, vla__name(nm, sizeof nm, "decoder.layers.", i, ".encoder_attn_layer_norm"), d, &L->ca_ln)) != VLA_OK) return st;
        if ((st = vla__load_lin(s, vla__name(nm, sizeof nm, "decoder.layers.", i, ".fc1"), hp->dec_ffn, d, &L->fc1)) != VLA_OK) return st;
        if ((st = vla__load_lin(s, vla__name(nm, sizeof nm, "decoder.layers.", i, ".fc2"), d, hp->dec_ffn, &L->fc2)) != VLA_OK) return st;
        if ((st = vla__load_ln(s, vla__name(nm, sizeof nm, "decoder.layers.", i, ".final_layer_norm"), d, &L->ffn_ln)) != VLA_OK) return st;
    }
    if (hp->has_visual) {
        if ((st = vla__load_lin(s, "encoder.visual_embedding.feat_embedding.0", d, hp->feat_dim, &W->vis_feat)) != VLA_OK) return st;
        if ((st = vla__load_ln(s, "encoder.visual_embedding.feat_embedding.1", d, &W->vis_feat_ln)) != VLA_OK) return st;
        if ((st = vla__load_lin(s, "encoder.visual_embedding.absolute_vis_pos_embedding.0", d, 5, &W->vis_box)) != VLA_OK) return st;
        if ((st = vla__load_ln(s, "encoder.visual_embedding.absolute_vis_pos_embedding.1", d, &W->vis_box_ln)) != VLA_OK) return st;
        if ((st = vla__load_mat(s, "encoder.visual_embedding.img_order_embedding.weight", hp->n_images, d, &W->img_order)) != VLA_OK) return st;
    }
    return VLA_OK;
}

VLA_DEF vla_status vla_model_init(vla_model **out, void *mem, size_t mem_size, const void *gguf, size_t gguf_size,
                                  const vla_logger *log) {
    vla_arena a;
    vla_model *m;
    vla_status st;
    vla_hparams *hp;
    if (!out || !mem || !gguf) return VLA_ERR_ARGS;
    *out = NULL;
    vla_arena_init(&a, mem, mem_size);
    if (log) a.log = *log;
    if ((st = vla__model_alloc(&m, &a, gguf, gguf_size, log)) != VLA_OK) {
        if (st == VLA_ERR_NOMEM) {
            size_t need = 0;
            unsigned long long n;
            vla_model_mem_req(gguf, gguf_size, &need);
            n = need;
            vla__log(log, VLA_LOG_ERROR, "model: %llu bytes of memory needed (vla_model_mem_req)", &n, 0, 0);
        }
        return st;
    }
    hp = &m->hp;
    if (hp->has_bart) {
        vla__src src;
        src.g[0] = &m->gguf; src.n = 1; src.log = &m->log;
        if ((st = vla__load_weights(&src, hp, &m->w)) != VLA_OK) return st;
    }
    if (hp->has_clip) {
        int w = hp->clip_width, inpl = w, si, bi, nb = 0;
        vla__src cs, *sp = &cs;
        cs.g[0] = &m->gguf; cs.n = 1; cs.log = &m->log;
        if ((st = vla__load_conv(sp, "visual.conv1", 3, 3, &m->clip_stem[0])) != VLA_OK) return st;
        if ((st = vla__load_conv(sp, "visual.conv2", w / 2, 3, &m->clip_stem[1])) != VLA_OK) return st;
        if ((st = vla__load_conv(sp, "visual.conv3", w / 2, 3, &m->clip_stem[2])) != VLA_OK) return st;
        m->clip_i8 = m->clip_stem[0].w.type == VLA_TYPE_I8 || m->clip_stem[1].w.type == VLA_TYPE_I8 ||
                     m->clip_stem[2].w.type == VLA_TYPE_I8;
        if (m->clip_stem[0].cout != w / 2 || m->clip_stem[1].cout != w / 2) return vla__missing(&m->log, "visual.conv1", "has the wrong width");
        for (si = 0; si < 4; si++) {
            int planes = w << si;
            for (bi = 0; bi < hp->clip_blocks[si]; bi++, nb++) {
                vla__bottleneck *bk = &m->clip_blocks[nb];
                char pre[64];
                size_t pl;
                vla__name(pre, sizeof pre, "visual.layer", si + 1, ".");
                pl = VLA_STRLEN(pre);
                bk->stride = (bi == 0 && si > 0) ? 2 : 1;
                vla__name(pre + pl, sizeof pre - pl, "", bi, ".conv1");
                if ((st = vla__load_conv(sp, pre, inpl, 1, &bk->c1)) != VLA_OK) return st;
                vla__name(pre + pl, sizeof pre - pl, "", bi, ".conv2");
                if ((st = vla__load_conv(sp, pre, planes, 3, &bk->c2)) != VLA_OK) return st;
                vla__name(pre + pl, sizeof pre - pl, "", bi, ".conv3");
                if ((st = vla__load_conv(sp, pre, planes, 1, &bk->c3)) != VLA_OK) return st;
                if (bk->c1.cout != planes || bk->c2.cout != planes || bk->c3.cout != 4 * planes)
                    return vla__missing(&m->log, pre, "has the wrong channel count");
                bk->has_down = bk->stride > 1 || inpl != 4 * planes;
                if (bk->has_down) {
                    vla__name(pre + pl, sizeof pre - pl, "", bi, ".downsample.0");
                    if ((st = vla__load_conv(sp, pre, inpl, 1, &bk->down)) != VLA_OK) return st;
                    if (bk->down.cout != 4 * planes) return vla__missing(&m->log, pre, "has the wrong channel count");
                }
                m->clip_i8 |= bk->c1.w.type == VLA_TYPE_I8 || bk->c2.w.type == VLA_TYPE_I8 ||
                              bk->c3.w.type == VLA_TYPE_I8 || (bk->has_down && bk->down.w.type == VLA_TYPE_I8);
                inpl = 4 * planes;
            }
        }
    }
    *out = m;
    return VLA_OK;
}

VLA_DEF const vla_hparams *vla_model_hparams(const vla_model *m) { return &m->hp; }
VLA_DEF const vla_gguf *vla_model_gguf(const vla_model *m) { return &m->gguf; }
VLA_DEF const vla_tokenizer *vla_model_tokenizer(const vla_model *m) { return m ? m->tok : NULL; }

/* Parameter-efficient modules as the forward pass sees them ([I12] builds them). */
enum { VLA__M_ADAPTER = 1, VLA__M_COMPACTER, VLA__M_HYPERFORMER, VLA__M_LORA, VLA__M_PROMPT };

typedef struct vla__adp { vla__lin down, up; int on; } vla__adp;   /* y += up(gelu_tanh(down(y)))  */
typedef struct vla__lora { vla_mat A, B; int on; } vla__lora;      /* y += s * B(A x)              */

/* Site numbering.  Adapter sites: encoder layer l: 2l (attn), 2l+1 (ffn);
 * decoder layer l: 2Le + 3l + (0 self, 1 cross, 2 ffn).  LoRA sites: encoder
 * 2l + (0 q, 1 v); decoder 2Le + 4l + (0 q, 1 v, 2 cross q, 3 cross v). */
typedef struct vla__task {
    vla_str name, prefix;
    vla_gen_params preset;
    int has_preset;
    vla__adp *adp;          /* [n_adp_sites] or NULL */
    vla__lora *lora;        /* [n_lora_sites] or NULL */
    const float *prompt;    /* [n_prompt, d] or NULL */
    int n_prompt;
} vla__task;

struct vla_adapter {
    const vla_model *m;
    vla_gguf gguf;
    vla_logger log;
    vla__weights w;         /* the base's weights with this file's overrides */
    int method;
    float lora_scale;       /* alpha / r */
    int max_dim;            /* widest adapter hidden size or LoRA rank */
    int exact_gelu;         /* 1: adapters use exact GELU (the paper's text);
                               0: gelu_new, the tanh form the official code runs */
    int n_tasks;
    vla__task *tasks;
    int attached;
};

/* ==========================================================================
 * [I8] The BART encoder-decoder with the visual embedding
 *
 * Shapes: B examples, Lt text tokens, Nv visual tokens, L = Lt + Nv encoder
 * tokens, d = d_model, H heads of dh = d/H, R decoder rows (B, or B*beams),
 * V vocabulary.  Activations are row-major [tokens, d].
 * ========================================================================== */

struct vla_ctx {
    const vla_model *m;
    vla_ctx_params p;
    vla_arena arena;
    int Lmax, Rmax, Tmax;       /* capacities                                      */
    int B, L, Nv;               /* the last vla_encode: batch, encoder length      */
    int encoded;
    float *enc_out;             /* [B, L, d] encoder output                        */
    float *enc_mask;            /* [B, L] additive key mask (0 or -inf)            */
    float *xk, *xv;             /* [n_dec][B, L, d] cross-attention keys/values    */
    float *sk, *sv;             /* [n_dec][Rmax, Tmax, d] self-attention cache     */
    float *logits;              /* [Rmax, V]                                       */
    float *clip_feats;          /* [Bmax*max_images, grid, C] (use_clip)           */
    const vla_adapter *ad;      /* active adapter set (NULL: base model)            */
    int task;                   /* its task index                                  */
    int adp_cap;                /* widest adapter / LoRA rank the buffers take      */
    /* generation state */
    int32_t *hist, *hist2;      /* [Rmax, Tmax] token histories (double buffer)    */
    float *beam_score;          /* [Rmax] running scores (float32, as the official) */
    int32_t *next_tok, *next_src; /* [Rmax]                                         */
    float *next_score;          /* [Rmax]                                          */
    int32_t *hyp_tok;           /* [Bmax, beams+1, Tmax] finished hypotheses       */
    int32_t *hyp_len;           /* [Bmax, beams+1]                                 */
    double *hyp_score;          /* [Bmax, beams+1]                                 */
    double *worst;              /* [Bmax]                                          */
    int32_t *n_hyp, *done;      /* [Bmax]                                          */
    /* task-level calls [I15] */
    int32_t *task_in, *task_out; /* [max_text_len] encoder ids, [Tmax] generated ids */
    int n_task_in, n_task_out;
};

/* Encoder tokens per example for the given sizes. */
static int vla__enc_len(const vla_hparams *hp, int Lt, int n_images) { return Lt + (hp->has_visual ? n_images * hp->n_boxes : 0); }

/* ---- scratch layouts: the same function sizes (measuring) and carves ---- */

typedef struct vla__enc_bufs {
    float *q, *k, *v, *a;  /* [B*L, d]      */
    float *h;              /* [B*L, ffn]    */
    float *pool;           /* [n_boxes, feat_dim] pooled grid of one image */
    float *box;            /* [n_boxes, d]  */
} vla__enc_bufs;

/* Width of the FFN buffer: the FFN, or an adapter's d + hidden if wider. */
static size_t vla__hbuf(int ffn, int d, int cap) { return (size_t)(ffn > d + cap ? ffn : d + cap); }

static int vla__enc_bufs_take(vla_arena *a, const vla_hparams *hp, int rows, int cap, vla__enc_bufs *e) {
    size_t d = (size_t)hp->d_model, r = (size_t)rows;
    e->q = (float *)vla_arena_scratch(a, r * d * 4);
    e->k = (float *)vla_arena_scratch(a, r * d * 4);
    e->v = (float *)vla_arena_scratch(a, r * d * 4);
    e->a = (float *)vla_arena_scratch(a, r * d * 4);
    e->h = (float *)vla_arena_scratch(a, r * vla__hbuf(hp->enc_ffn, hp->d_model, cap) * 4);
    e->pool = (float *)vla_arena_scratch(a, (size_t)(hp->has_visual ? hp->n_boxes : 1) *
                                                (size_t)(hp->feat_dim + 1 > 5 ? hp->feat_dim + 1 : 5) * 4); /* grid, then box rows */
    e->box = (float *)vla_arena_scratch(a, (size_t)(hp->has_visual ? hp->n_boxes : 1) * d * 4);
    return e->q && e->k && e->v && e->a && e->h && e->pool && e->box;
}

typedef struct vla__dec_bufs {
    float *x, *q, *k, *v, *a;  /* [R, d]   */
    float *h;                  /* [R, ffn] */
    float *gather;             /* [R, Tmax, d]: beam reordering of the cache */
} vla__dec_bufs;

static int vla__dec_bufs_take(vla_arena *a, const vla_hparams *hp, int R, int Tmax, int cap, vla__dec_bufs *e) {
    size_t d = (size_t)hp->d_model, r = (size_t)R;
    e->x = (float *)vla_arena_scratch(a, r * d * 4);
    e->q = (float *)vla_arena_scratch(a, r * d * 4);
    e->k = (float *)vla_arena_scratch(a, r * d * 4);
    e->v = (float *)vla_arena_scratch(a, r * d * 4);
    e->a = (float *)vla_arena_scratch(a, r * d * 4);
    e->h = (float *)vla_arena_scratch(a, r * vla__hbuf(hp->dec_ffn, hp->d_model, cap) * 4);
    e->gather = (float *)vla_arena_scratch(a, r * (size_t)Tmax * d * 4);
    return e->x && e->q && e->k && e->v && e->a && e->h && e->gather;
}

static void vla__clip_sizes(const vla_hparams *hp, size_t *act, size_t *conv);
static int vla__task_on(const vla_ctx_params *p);
static int vla__task_text_phase(vla_arena *a, int max_bytes);
static int vla__task_picture_phase(vla_arena *a, const vla_ctx *c);

/* The context's persistent layout followed by the largest scratch phase. */
static vla_status vla__ctx_layout(vla_ctx *c, vla_arena *a) {
    const vla_hparams *hp = &c->m->hp;
    size_t d = (size_t)hp->d_model, nd = (size_t)hp->n_dec_layers, V = (size_t)hp->vocab;
    size_t B = (size_t)c->p.max_batch, L = (size_t)c->Lmax, R = (size_t)c->Rmax, T = (size_t)c->Tmax, nb = (size_t)c->p.max_beams;
    size_t mark, att;
    vla__enc_bufs eb;
    vla__dec_bufs db;
    c->enc_out = (float *)vla_arena_alloc(a, vla__mul(B * L, d) * 4);
    c->enc_mask = (float *)vla_arena_alloc(a, B * L * 4);
    c->xk = (float *)vla_arena_alloc(a, vla__mul(nd * B * L, d) * 4);
    c->xv = (float *)vla_arena_alloc(a, vla__mul(nd * B * L, d) * 4);
    c->sk = (float *)vla_arena_alloc(a, vla__mul(nd * R * T, d) * 4);
    c->sv = (float *)vla_arena_alloc(a, vla__mul(nd * R * T, d) * 4);
    c->logits = (float *)vla_arena_alloc(a, vla__mul(R, V) * 4);
    c->hist = (int32_t *)vla_arena_alloc(a, R * T * 4);
    c->hist2 = (int32_t *)vla_arena_alloc(a, R * T * 4);
    c->beam_score = (float *)vla_arena_alloc(a, R * 4);
    c->next_tok = (int32_t *)vla_arena_alloc(a, R * 4);
    c->next_src = (int32_t *)vla_arena_alloc(a, R * 4);
    c->next_score = (float *)vla_arena_alloc(a, R * 4);
    c->hyp_tok = (int32_t *)vla_arena_alloc(a, B * (nb + 1) * T * 4); /* nb + 1: room to insert before dropping */
    c->hyp_len = (int32_t *)vla_arena_alloc(a, B * (nb + 1) * 4);
    c->hyp_score = (double *)vla_arena_alloc(a, B * (nb + 1) * 8);
    c->worst = (double *)vla_arena_alloc(a, B * 8);
    c->n_hyp = (int32_t *)vla_arena_alloc(a, B * 4);
    c->done = (int32_t *)vla_arena_alloc(a, B * 4);
    if (!c->enc_out || !c->enc_mask || !c->xk || !c->xv || !c->sk || !c->sv || !c->logits || !c->hist || !c->hist2 ||
        !c->beam_score || !c->next_tok || !c->next_src || !c->next_score || !c->hyp_tok || !c->hyp_len ||
        !c->hyp_score || !c->worst || !c->n_hyp || !c->done)
        return VLA_ERR_NOMEM;
    if (c->p.use_clip) {
        const vla_hparams *h = hp;
        size_t g = (size_t)(h->clip_image_size / 32) * (size_t)(h->clip_image_size / 32);
        c->clip_feats = (float *)vla_arena_alloc(a, vla__mul(B * (size_t)c->p.max_images * g, (size_t)h->clip_out_ch) * 4);
        if (!c->clip_feats) return VLA_ERR_NOMEM;
    }
    if (vla__task_on(&c->p)) { /* the task-level calls keep their ids */
        c->task_in = (int32_t *)vla_arena_alloc(a, (size_t)c->p.max_text_len * 4);
        c->task_out = (int32_t *)vla_arena_alloc(a, T * 4);
        if (!c->task_in || !c->task_out) return VLA_ERR_NOMEM;
    }
    /* Scratch phases, each measured with what its kernels take on top. */
    mark = vla_arena_scratch_mark(a);
    if (vla__task_on(&c->p) && !vla__task_text_phase(a, c->p.max_input_bytes)) return VLA_ERR_NOMEM;
    vla_arena_scratch_release(a, mark);
    if (c->p.use_clip) { /* (a task call's picture,) the trunk: four activation buffers + im2col */
        size_t act, conv;
        vla__clip_sizes(hp, &act, &conv);
        if (c->p.max_picture_w > 0 && !vla__task_picture_phase(a, c)) return VLA_ERR_NOMEM;
        if (!vla_arena_scratch(a, act * 4) || !vla_arena_scratch(a, act * 4) || !vla_arena_scratch(a, act * 4) ||
            !vla_arena_scratch(a, act * 4) || (conv && !vla_arena_scratch(a, conv)))
            return VLA_ERR_NOMEM;
        vla_arena_scratch_release(a, mark);
    }
    if (!vla__enc_bufs_take(a, hp, (int)(B * L), c->adp_cap, &eb)) return VLA_ERR_NOMEM;
    if (!vla_arena_scratch(a, vla_attention_scratch_size((int)L, (int)L))) return VLA_ERR_NOMEM;
    vla_arena_scratch_release(a, mark);
    if (!vla__dec_bufs_take(a, hp, (int)R, (int)T, c->adp_cap, &db)) return VLA_ERR_NOMEM;
    att = vla_attention_scratch_size(1, (int)(L > T ? L : T));
    if (!vla_arena_scratch(a, att)) return VLA_ERR_NOMEM;
    vla_arena_scratch_release(a, mark);
    return VLA_OK;
}

static vla_status vla__ctx_check(const vla_model *m, const vla_ctx_params *p) {
    long long a, b; /* vla__log prints numbers from long long */
    if (!m || !p) return VLA_ERR_ARGS;
    if (p->max_batch < 1 || p->max_text_len < 1 || p->max_dec_len < 2 || p->max_beams < 1 || p->max_images < 0 ||
        p->max_images > 2 || p->max_batch > 4096 || p->max_text_len > 1 << 16 || p->max_dec_len > 4096 ||
        p->max_beams > 64 || p->max_prompt_len < 0 || p->max_prompt_len > 4096 || p->max_adapter_dim < 0 || p->max_adapter_dim > 1 << 16)
        return VLA_ERR_ARGS;
    if (m->hp.has_bart && (p->max_text_len + 2 > m->hp.n_positions || p->max_dec_len + 2 > m->hp.n_positions)) {
        a = m->hp.n_positions - 2;
        vla__log(&p->log, VLA_LOG_ERROR, "context: text and decoder lengths must stay <= %d positions", &a, 0, 0);
        return VLA_ERR_RANGE;
    }
    if (p->max_picture_w < 0 || p->max_picture_h < 0 || p->max_input_bytes < 0 || p->max_picture_w > VLA_MAX_IMAGE_DIM ||
        p->max_picture_h > VLA_MAX_IMAGE_DIM || p->max_input_bytes > 1 << 20 || (p->max_picture_w > 0) != (p->max_picture_h > 0))
        return VLA_ERR_ARGS;
    if (p->max_picture_w > 0 && !p->use_clip) {
        vla__log(&p->log, VLA_LOG_ERROR, "context: max_picture_w/h (task-level calls) need use_clip = 1", 0, 0, 0);
        return VLA_ERR_ARGS;
    }
    if (p->use_clip && (!m->hp.has_clip || p->max_images < 1)) {
        vla__log(&p->log, VLA_LOG_ERROR, "context: use_clip needs a model file with a CLIP trunk and max_images >= 1",
                 0, 0, 0);
        return VLA_ERR_UNSUPPORTED;
    }
    if (p->use_clip && m->hp.has_visual && m->hp.clip_out_ch != m->hp.feat_dim) {
        a = m->hp.clip_out_ch;
        b = m->hp.feat_dim;
        vla__log(&p->log, VLA_LOG_ERROR, "context: the CLIP trunk gives %d channels but the visual embedding takes %d",
                 &a, &b, 0);
        return VLA_ERR_MISMATCH;
    }
    return VLA_OK;
}

static void vla__ctx_dims(vla_ctx *c) {
    const vla_hparams *hp = &c->m->hp;
    int ffn = hp->enc_ffn < hp->dec_ffn ? hp->enc_ffn : hp->dec_ffn;
    c->adp_cap = c->p.max_adapter_dim > 0 ? c->p.max_adapter_dim : (ffn > hp->d_model ? ffn - hp->d_model : 0);
    if (c->p.use_clip) {
        int g = (c->m->hp.clip_image_size / 32) * (c->m->hp.clip_image_size / 32);
        if (c->p.max_grid < g) c->p.max_grid = g;
    }
    c->Lmax = c->p.max_prompt_len + vla__enc_len(&c->m->hp, c->p.max_text_len, c->p.max_images);
    c->Rmax = c->p.max_batch * c->p.max_beams;
    c->Tmax = c->p.max_dec_len;
}

VLA_DEF vla_status vla_ctx_mem_req(const vla_model *m, const vla_ctx_params *p, size_t *bytes) {
    vla_ctx c;
    vla_arena a;
    vla_status st;
    if (!bytes) return VLA_ERR_ARGS;
    if ((st = vla__ctx_check(m, p)) != VLA_OK) return st;
    VLA_MEMSET(&c, 0, sizeof c);
    c.m = m; c.p = *p;
    vla__ctx_dims(&c);
    vla_arena_init_measure(&a);
    if (!vla_arena_alloc(&a, sizeof(vla_ctx))) return VLA_ERR_NOMEM;
    if ((st = vla__ctx_layout(&c, &a)) != VLA_OK) return st;
    *bytes = a.peak_total + VLA_ALIGN;
    return VLA_OK;
}

VLA_DEF vla_status vla_ctx_init(vla_ctx **out, const vla_model *m, const vla_ctx_params *p, void *mem, size_t mem_size) {
    vla_arena a;
    vla_ctx *c;
    vla_status st;
    if (!out || !mem) return VLA_ERR_ARGS;
    *out = NULL;
    if ((st = vla__ctx_check(m, p)) != VLA_OK) return st;
    vla_arena_init(&a, mem, mem_size);
    a.log = p->log;
    c = (vla_ctx *)vla_arena_alloc(&a, sizeof(vla_ctx));
    if (!c) return VLA_ERR_NOMEM;
    VLA_MEMSET(c, 0, sizeof *c);
    c->m = m; c->p = *p;
    vla__ctx_dims(c);
    if ((st = vla__ctx_layout(c, &a)) != VLA_OK) {
        size_t need = 0;
        unsigned long long n;
        vla_ctx_mem_req(m, p, &need);
        n = need;
        vla__log(&p->log, VLA_LOG_ERROR, "context: %llu bytes of memory needed (vla_ctx_mem_req)", &n, 0, 0);
        return st;
    }
    c->arena = a;
    *out = c;
    return VLA_OK;
}

VLA_DEF vla_arena_stats vla_ctx_stats(const vla_ctx *c) { return vla_arena_get_stats(&c->arena); }

VLA_DEF vla_gen_params vla_gen_defaults(const vla_model *m) {
    vla_gen_params g;
    g.num_beams = m->hp.num_beams;
    g.max_length = m->hp.max_length;
    g.min_length = m->hp.min_length;
    g.no_repeat_ngram = m->hp.no_repeat_ngram;
    g.early_stopping = m->hp.early_stopping;
    g.length_penalty = m->hp.length_penalty;
    return g;
}

/* y = x W^T + b for a vla__lin. */
static void vla__lin_fwd(const vla_ctx *c, float *y, const float *x, const vla__lin *l, int M) {
    vla_linear(&c->p.exec, y, x, &l->w, l->b, M);
}

static void vla__scale(float *x, size_t n, float s) {
    size_t i;
    for (i = 0; i < n; i++) x[i] *= s;
}

/* x = LN(x + y) over M rows of width d (the post-LN residual of BART). */
static void vla__add_ln(float *x, const float *y, const vla__ln *ln, int M, int d, float eps) {
    vla_add(x, x, y, (size_t)M * d);
    vla_layernorm(x, x, ln->g, ln->b, M, d, eps);
}

/* The weights and modules of the active request. */
static const vla__weights *vla__W(const vla_ctx *c) { return c->ad ? &c->ad->w : &c->m->w; }
static const vla__task *vla__T(const vla_ctx *c) { return c->ad ? &c->ad->tasks[c->task] : NULL; }

/* Adapter at a site:  y[rows, d] <- y + up(gelu_tanh(down(y)));
 * tmp holds rows * (hidden + d) floats. */
static void vla__apply_adp(const vla_ctx *c, float *y, int rows, const vla__task *T, int site, float *tmp) {
    const vla__adp *ad;
    float *h, *u;
    if (!T || !T->adp || !T->adp[site].on) return;
    ad = &T->adp[site];
    h = tmp;
    u = tmp + (size_t)rows * ad->down.w.rows;
    vla__lin_fwd(c, h, y, &ad->down, rows);                   /* [rows, r] */
    if (c->ad->exact_gelu) vla_gelu_erf(h, (size_t)rows * ad->down.w.rows);
    else vla_gelu_tanh(h, (size_t)rows * ad->down.w.rows);
    vla__lin_fwd(c, u, h, &ad->up, rows);                     /* [rows, d] */
    vla_add(y, y, u, (size_t)rows * ad->up.w.rows);
}

/* LoRA at a projection:  y[rows, d] += s * B(A x);  tmp: rows * (r + d). */
static void vla__apply_lora(const vla_ctx *c, float *y, const float *x, int rows, const vla__task *T, int site, float *tmp) {
    const vla__lora *lo;
    float *h, *u, s;
    size_t i, n;
    if (!T || !T->lora || !T->lora[site].on) return;
    lo = &T->lora[site];
    s = c->ad->lora_scale;
    h = tmp;
    u = tmp + (size_t)rows * lo->A.rows;
    vla_linear(&c->p.exec, h, x, &lo->A, NULL, rows);          /* [rows, r] */
    vla_linear(&c->p.exec, u, h, &lo->B, NULL, rows);          /* [rows, d] */
    n = (size_t)rows * lo->B.rows;
    for (i = 0; i < n; i++) y[i] += s * u[i];
}

VLA_DEF vla_status vla_ctx_set_adapter(vla_ctx *c, const vla_adapter *a, const char *task) {
    int t = 0;
    if (!c) return VLA_ERR_ARGS;
    c->encoded = 0; /* the encoder output belonged to the previous selection */
    if (!a) { c->ad = NULL; c->task = 0; return VLA_OK; }
    if (!a->attached) return VLA_ERR_STATE;
    if (a->m != c->m) {
        vla__log(&c->p.log, VLA_LOG_ERROR, "adapter belongs to another model", 0, 0, 0);
        return VLA_ERR_MISMATCH;
    }
    if (task) {
        t = vla_adapter_find_task(a, task);
        if (t < 0) {
            vla__log(&c->p.log, VLA_LOG_ERROR, "adapter has no task '%s'", task, 0, 0);
            return VLA_ERR_NOT_FOUND;
        }
    }
    if (a->max_dim > c->adp_cap) {
        long long need = a->max_dim, have = c->adp_cap;
        vla__log(&c->p.log, VLA_LOG_ERROR, "adapter hidden size %d exceeds the context's max_adapter_dim %d", &need, &have, 0);
        return VLA_ERR_RANGE;
    }
    if (a->tasks[t].n_prompt > c->p.max_prompt_len) {
        long long need = a->tasks[t].n_prompt, have = c->p.max_prompt_len;
        vla__log(&c->p.log, VLA_LOG_ERROR, "adapter prompt of %d vectors exceeds the context's max_prompt_len %d", &need, &have, 0);
        return VLA_ERR_RANGE;
    }
    c->ad = a;
    c->task = t;
    return VLA_OK;
}

/* Visual tokens of example b appended at x[0 .. n_images*n_boxes):
 *   v_i = LN_f(W_f feat_i + c_f) + LN_p(W_p [x1, x2, y1, y2, area] + c_p)
 *         + E_img[m] + E_tok[V - 1 - i]
 * with the grid of each image max-pooled to pool_h x pool_w first. */
static vla_status vla__visual_embed(vla_ctx *c, const vla_input *in, int b, float *x, vla__enc_bufs *e) {
    const vla__weights *W = vla__W(c);
    const vla_hparams *hp = &c->m->hp;
    int d = hp->d_model, F = hp->feat_dim, nbx = hp->n_boxes, grid = in->grid_h * in->grid_w, img, i, j;
    float *row = e->a; /* one d-row of temporary space */
    for (img = 0; img < in->n_images; img++) {
        const float *feat = in->feats + ((size_t)b * in->n_images + img) * (size_t)grid * F;   /* [grid, F] */
        const float *box = in->boxes ? in->boxes + ((size_t)b * in->n_images + img) * (size_t)grid * 4 : NULL;
        float *xv = x + (size_t)img * nbx * d;                                                 /* [nbx, d] */
        if (hp->pool_h) vla_adaptive_maxpool2d(e->pool, feat, in->grid_h, in->grid_w, F, hp->pool_h, hp->pool_w);
        else VLA_MEMCPY(e->pool, feat, sizeof(float) * (size_t)nbx * F); /* first n_boxes grid cells */
        vla__lin_fwd(c, xv, e->pool, &W->vis_feat, nbx);
        vla_layernorm(xv, xv, W->vis_feat_ln.g, W->vis_feat_ln.b, nbx, d, hp->ln_eps);
        /* box branch: boxes truncated to the first n_boxes rows of this image,
         * [x1, x2, y1, y2, area] rows built in the (now free) pooling buffer */
        for (i = 0; i < nbx; i++) {
            float *bx = e->pool + (size_t)i * 5;
            if (box) {
                const float *q = box + (size_t)i * 4;
                bx[0] = q[0]; bx[1] = q[1]; bx[2] = q[2]; bx[3] = q[3];
                bx[4] = (q[3] - q[2]) * (q[1] - q[0]); /* (y2 - y1)(x2 - x1) */
            } else {
                bx[0] = bx[1] = bx[2] = bx[3] = bx[4] = 0.0f;
            }
        }
        vla__lin_fwd(c, e->box, e->pool, &W->vis_box, nbx);
        vla_layernorm(e->box, e->box, W->vis_box_ln.g, W->vis_box_ln.b, nbx, d, hp->ln_eps);
        vla_add(xv, xv, e->box, (size_t)nbx * d);
        vla_mat_row(row, &W->img_order, img);
        for (i = 0; i < nbx; i++) {
            float *xi = xv + (size_t)i * d;
            for (j = 0; j < d; j++) xi[j] += row[j];
            vla_mat_row(row + d, &W->shared, hp->vocab - 1 - i); /* obj-order: E_tok[V-1-i] */
            for (j = 0; j < d; j++) xi[j] += row[d + j];
        }
    }
    return VLA_OK;
}

static vla_status vla__encode(vla_ctx *c, const vla_input *in, int run_layers) {
    const vla_model *m;
    const vla_hparams *hp;
    const vla__weights *W;
    const vla__task *T;
    vla__enc_bufs e;
    size_t mark;
    int B, Lt, L, d, H, dh, b, t, l, rows, nd, P, Ne;
    float scale;
    vla_status st = VLA_OK;
    if (!c || !in) return VLA_ERR_ARGS;
    m = c->m; hp = &m->hp;
    W = vla__W(c); T = vla__T(c);
    P = T && T->prompt ? T->n_prompt : 0;
    B = in->batch; Lt = in->text_len;
    c->encoded = 0;
    if (!hp->has_bart) return VLA_ERR_UNSUPPORTED;
    if (B < 1 || B > c->p.max_batch || Lt < 0 || (Lt > 0 && !in->ids) || in->n_embeds < 0 || (in->n_embeds > 0 && !in->embeds) ||
        Lt > c->p.max_text_len - in->n_embeds)
        return VLA_ERR_ARGS;
    if (in->n_images < 0 || in->n_images > c->p.max_images) return VLA_ERR_ARGS;
    if (in->n_images > 0 && in->images && !in->feats) { /* run the CLIP trunk first */
        vla_input in2 = *in;
        int i, gh = 0, gw = 0, ch = 0;
        size_t per;
        if (!c->p.use_clip) return hp->has_clip ? VLA_ERR_STATE : VLA_ERR_UNSUPPORTED;
        per = (size_t)(hp->clip_image_size / 32) * (size_t)(hp->clip_image_size / 32) * (size_t)hp->clip_out_ch;
        for (i = 0; i < B * in->n_images; i++) {
            const float *img = in->images + (size_t)i * hp->clip_image_size * hp->clip_image_size * 3;
            vla_status cs = vla_clip_run(c, img, 4, c->clip_feats + (size_t)i * per, &gh, &gw, &ch);
            if (cs != VLA_OK) return cs;
        }
        in2.feats = c->clip_feats;
        in2.grid_h = gh; in2.grid_w = gw;
        in2.images = NULL;
        return vla__encode(c, &in2, run_layers);
    }
    if (in->n_images > 0) {
        if (!hp->has_visual) return VLA_ERR_UNSUPPORTED;
        if (!in->feats || in->grid_h < 1 || in->grid_w < 1 || in->grid_h * in->grid_w > c->p.max_grid ||
            in->n_images > hp->n_images)
            return VLA_ERR_ARGS;
        if (hp->pool_h ? (in->grid_h < hp->pool_h || in->grid_w < hp->pool_w) : in->grid_h * in->grid_w < hp->n_boxes)
            return VLA_ERR_ARGS;
    }
    if (c->ad && !c->ad->attached) return VLA_ERR_STATE;
    Ne = in->n_embeds;
    L = P + vla__enc_len(hp, Lt + Ne, in->n_images);
    if (L < 1) return VLA_ERR_ARGS;
    d = hp->d_model; H = hp->n_enc_heads; dh = d / H; rows = B * L; nd = hp->n_dec_layers;
    scale = 1.0f / VLA_SQRTF((float)dh);
    for (b = 0; b < B * Lt; b++)
        if (in->ids[b] < 0 || in->ids[b] >= hp->vocab) return VLA_ERR_RANGE;
    mark = vla_arena_scratch_mark(&c->arena);
    if (!vla__enc_bufs_take(&c->arena, hp, rows, c->adp_cap, &e)) return VLA_ERR_NOMEM;
    /* Input assembly:
     *   x[b] = [LN_emb([prompt; E_tok[ids]*scale + P_pos[t+2]]); visual tokens]
     * (the prompt, when an adapter has one, gets no position embedding). */
    for (b = 0; b < B; b++) {
        float *xb = c->enc_out + (size_t)b * L * d;
        float *mb = c->enc_mask + (size_t)b * L;
        if (P) VLA_MEMCPY(xb, T->prompt, sizeof(float) * (size_t)P * d);
        for (t = 0; t < P; t++) mb[t] = 0.0f;
        for (t = 0; t < Lt; t++) {
            int32_t id = in->ids[(size_t)b * Lt + t];
            float *xt = xb + (size_t)(P + t) * d;
            vla_mat_row(xt, &W->shared, id);
            if (hp->embed_scale != 1.0f) vla__scale(xt, (size_t)d, hp->embed_scale);
            vla_mat_row(e.a, &W->enc_pos, t + 2);
            vla_add(xt, xt, e.a, (size_t)d);
            mb[P + t] = (!in->no_pad_mask && id == hp->pad_id) ? VLA__NEG_INF : 0.0f;
        }
        for (t = 0; t < Ne; t++) { /* embeddings given by the caller: positions continue after the ids */
            float *xt = xb + (size_t)(P + Lt + t) * d;
            VLA_MEMCPY(xt, in->embeds + ((size_t)b * Ne + t) * d, sizeof(float) * (size_t)d);
            vla_mat_row(e.a, &W->enc_pos, Lt + t + 2);
            vla_add(xt, xt, e.a, (size_t)d);
            mb[P + Lt + t] = 0.0f;
        }
        vla_layernorm(xb, xb, W->enc_ln_emb.g, W->enc_ln_emb.b, P + Lt + Ne, d, hp->ln_eps);
        if (in->n_images > 0) vla__visual_embed(c, in, b, xb + (size_t)(P + Lt + Ne) * d, &e);
        for (t = P + Lt + Ne; t < L; t++) mb[t] = 0.0f;
    }
    /* Encoder layers (post-LN):  x = LN1(x + SA(x));  x = LN2(x + fc2(gelu(fc1(x)))) */
    for (l = 0; l < hp->n_enc_layers && st == VLA_OK && run_layers; l++) {
        const vla__enc_layer *ly = &W->enc[l];
        float *x = c->enc_out;
        vla__lin_fwd(c, e.q, x, &ly->sa.q, rows);
        vla__apply_lora(c, e.q, x, rows, T, 2 * l + 0, e.h);       /* LoRA on q_proj */
        vla__scale(e.q, (size_t)rows * d, scale);
        vla__lin_fwd(c, e.k, x, &ly->sa.k, rows);
        vla__lin_fwd(c, e.v, x, &ly->sa.v, rows);
        vla__apply_lora(c, e.v, x, rows, T, 2 * l + 1, e.h);       /* LoRA on v_proj */
        for (b = 0; b < B && st == VLA_OK; b++) {
            size_t o = (size_t)b * L * d;
            st = vla_attention(&c->p.exec, &c->arena, e.h + o, d, e.q + o, d, e.k + o, d, e.v + o, d, L, L, H, dh,
                               c->enc_mask + (size_t)b * L, 0, 0);
        }
        vla__lin_fwd(c, e.a, e.h, &ly->sa.o, rows);
        vla__apply_adp(c, e.a, rows, T, 2 * l + 0, e.h);            /* adapter after self-attention */
        vla__add_ln(x, e.a, &ly->sa_ln, rows, d, hp->ln_eps);
        vla__lin_fwd(c, e.h, x, &ly->fc1, rows);
        vla_gelu_erf(e.h, (size_t)rows * hp->enc_ffn);
        vla__lin_fwd(c, e.a, e.h, &ly->fc2, rows);
        vla__apply_adp(c, e.a, rows, T, 2 * l + 1, e.h);            /* adapter after the FFN */
        vla__add_ln(x, e.a, &ly->ffn_ln, rows, d, hp->ln_eps);
    }
    /* Cross-attention keys and values of every decoder layer, once. */
    for (l = 0; l < nd && st == VLA_OK && run_layers; l++) {
        vla__lin_fwd(c, c->xk + (size_t)l * rows * d, c->enc_out, &W->dec[l].ca.k, rows);
        vla__lin_fwd(c, c->xv + (size_t)l * rows * d, c->enc_out, &W->dec[l].ca.v, rows);
        vla__apply_lora(c, c->xv + (size_t)l * rows * d, c->enc_out, rows, T, 2 * hp->n_enc_layers + 4 * l + 3, e.h);
    }
    vla_arena_scratch_release(&c->arena, mark);
    if (st != VLA_OK) return st;
    c->B = B; c->L = L; c->Nv = L - P - Lt - Ne;
    c->encoded = run_layers ? 1 : 2;
    return VLA_OK;
}

VLA_DEF vla_status vla_encode(vla_ctx *c, const vla_input *in) { return vla__encode(c, in, 1); }
VLA_DEF vla_status vla_encode_embeddings(vla_ctx *c, const vla_input *in) { return vla__encode(c, in, 0); }

VLA_DEF const float *vla_encoder_output(const vla_ctx *c, int b, int *len) {
    if (!c || !c->encoded || b < 0 || b >= c->B) return NULL;
    if (len) *len = c->L;
    return c->enc_out + (size_t)b * c->L * c->m->hp.d_model;
}

/* One decoder step for R rows at position t: row r holds token tok[r] and
 * reads the encoder output of example r / group.  Appends K/V to the cache
 * and writes logits [R, V] to c->logits. */
static vla_status vla__dec_step(vla_ctx *c, vla__dec_bufs *e, const int32_t *tok, int R, int group, int t) {
    const vla_hparams *hp = &c->m->hp;
    const vla__weights *W = vla__W(c);
    const vla__task *T = vla__T(c);
    int d = hp->d_model, H = hp->n_dec_heads, dh = d / H, L = c->L, Tm = c->Tmax, r, l;
    float scale = 1.0f / VLA_SQRTF((float)dh);
    vla_status st = VLA_OK;
    for (r = 0; r < R; r++) {
        float *x = e->x + (size_t)r * d;
        if (tok[r] < 0 || tok[r] >= hp->vocab) return VLA_ERR_RANGE;
        vla_mat_row(x, &W->shared, tok[r]);
        if (hp->embed_scale != 1.0f) vla__scale(x, (size_t)d, hp->embed_scale);
        vla_mat_row(e->a, &W->dec_pos, t + 2);
        vla_add(x, x, e->a, (size_t)d);
    }
    vla_layernorm(e->x, e->x, W->dec_ln_emb.g, W->dec_ln_emb.b, R, d, hp->ln_eps);
    for (l = 0; l < hp->n_dec_layers && st == VLA_OK; l++) {
        const vla__dec_layer *ly = &W->dec[l];
        float *K = c->sk + (size_t)l * c->Rmax * Tm * d, *Vc = c->sv + (size_t)l * c->Rmax * Tm * d;
        const float *XK = c->xk + (size_t)l * c->B * L * d, *XV = c->xv + (size_t)l * c->B * L * d;
        /* causal self-attention over the cache [0, t] */
        int s0 = 2 * hp->n_enc_layers + 4 * l, a0 = 2 * hp->n_enc_layers + 3 * l; /* LoRA and adapter sites */
        vla__lin_fwd(c, e->q, e->x, &ly->sa.q, R);
        vla__apply_lora(c, e->q, e->x, R, T, s0 + 0, e->h);
        vla__scale(e->q, (size_t)R * d, scale);
        vla__lin_fwd(c, e->k, e->x, &ly->sa.k, R);
        vla__lin_fwd(c, e->v, e->x, &ly->sa.v, R);
        vla__apply_lora(c, e->v, e->x, R, T, s0 + 1, e->h);
        for (r = 0; r < R && st == VLA_OK; r++) {
            float *Kr = K + (size_t)r * Tm * d, *Vr = Vc + (size_t)r * Tm * d;
            VLA_MEMCPY(Kr + (size_t)t * d, e->k + (size_t)r * d, sizeof(float) * (size_t)d);
            VLA_MEMCPY(Vr + (size_t)t * d, e->v + (size_t)r * d, sizeof(float) * (size_t)d);
            st = vla_attention(&c->p.exec, &c->arena, e->h + (size_t)r * d, d, e->q + (size_t)r * d, d, Kr, d, Vr, d, 1,
                               t + 1, H, dh, NULL, 0, 0);
        }
        vla__lin_fwd(c, e->a, e->h, &ly->sa.o, R);
        vla__apply_adp(c, e->a, R, T, a0 + 0, e->h);
        vla__add_ln(e->x, e->a, &ly->sa_ln, R, d, hp->ln_eps);
        /* cross-attention over the encoder output of the row's example */
        vla__lin_fwd(c, e->q, e->x, &ly->ca.q, R);
        vla__apply_lora(c, e->q, e->x, R, T, s0 + 2, e->h);
        vla__scale(e->q, (size_t)R * d, scale);
        for (r = 0; r < R && st == VLA_OK; r++) {
            int b = r / group;
            st = vla_attention(&c->p.exec, &c->arena, e->h + (size_t)r * d, d, e->q + (size_t)r * d, d,
                               XK + (size_t)b * L * d, d, XV + (size_t)b * L * d, d, 1, L, H, dh,
                               c->enc_mask + (size_t)b * L, 0, 0);
        }
        vla__lin_fwd(c, e->a, e->h, &ly->ca.o, R);
        vla__apply_adp(c, e->a, R, T, a0 + 1, e->h);
        vla__add_ln(e->x, e->a, &ly->ca_ln, R, d, hp->ln_eps);
        /* feed-forward */
        vla__lin_fwd(c, e->h, e->x, &ly->fc1, R);
        vla_gelu_erf(e->h, (size_t)R * hp->dec_ffn);
        vla__lin_fwd(c, e->a, e->h, &ly->fc2, R);
        vla__apply_adp(c, e->a, R, T, a0 + 2, e->h);
        vla__add_ln(e->x, e->a, &ly->ffn_ln, R, d, hp->ln_eps);
    }
    /* logits = x E^T + final_logits_bias */
    vla_linear(&c->p.exec, c->logits, e->x, &W->shared, W->final_logits_bias, R);
    return st;
}

VLA_DEF vla_status vla_decode_logits(vla_ctx *c, const int32_t *dec_ids, int T, float *logits) {
    vla__dec_bufs e;
    size_t mark, V;
    int t, b;
    int32_t *tok;
    vla_status st = VLA_OK;
    if (!c || !dec_ids || !logits) return VLA_ERR_ARGS;
    if (c->encoded != 1) {
        vla__log(&c->p.log, VLA_LOG_ERROR, "decoding needs an encoder output: call vla_encode first (after any vla_ctx_set_adapter)", 0, 0, 0);
        return VLA_ERR_STATE;
    }
    if (T < 1 || T > c->Tmax) return VLA_ERR_ARGS;
    tok = c->next_tok; /* [Rmax] >= B */
    V = (size_t)c->m->hp.vocab;
    mark = vla_arena_scratch_mark(&c->arena);
    if (!vla__dec_bufs_take(&c->arena, &c->m->hp, c->Rmax, c->Tmax, c->adp_cap, &e)) return VLA_ERR_NOMEM;
    for (t = 0; t < T && st == VLA_OK; t++) {
        for (b = 0; b < c->B; b++) tok[b] = dec_ids[(size_t)b * T + t];
        st = vla__dec_step(c, &e, tok, c->B, 1, t);
        for (b = 0; b < c->B && st == VLA_OK; b++)
            VLA_MEMCPY(logits + ((size_t)b * T + t) * V, c->logits + (size_t)b * V, V * sizeof(float));
    }
    vla_arena_scratch_release(&c->arena, mark);
    return st;
}

/* ==========================================================================
 * [I9] Decoding: greedy and beam search with transformers-4.2.1 semantics
 * ========================================================================== */

/* Ban every token that would repeat an n-gram of hist[0, len): for the last
 * n-1 tokens as prefix, each earlier occurrence of that prefix bans the token
 * that followed it. */
static void vla__ban_ngrams(float *scores, const int32_t *hist, int len, int n, int V) {
    int i, k;
    if (n <= 0 || len + 1 < n) return;
    for (i = 0; i + n <= len; i++) {
        for (k = 0; k < n - 1; k++)
            if (hist[i + k] != hist[len - n + 1 + k]) break;
        if (k == n - 1 && hist[i + n - 1] >= 0 && hist[i + n - 1] < V) scores[hist[i + n - 1]] = VLA__NEG_INF;
    }
}

static vla_status vla__greedy(vla_ctx *c, vla__dec_bufs *e, const vla_gen_params *g, int32_t *out, int *out_len) {
    const vla_hparams *hp = &c->m->hp;
    int B = c->B, V = hp->vocab, T = g->max_length, b, cur, n_done = 0, width = 1;
    vla_status st;
    for (b = 0; b < B; b++) { c->hist[(size_t)b * c->Tmax] = hp->dec_start_id; c->done[b] = 0; }
    for (cur = 1; cur < T; cur++) {
        for (b = 0; b < B; b++) c->next_tok[b] = c->hist[(size_t)b * c->Tmax + cur - 1];
        if ((st = vla__dec_step(c, e, c->next_tok, B, 1, cur - 1)) != VLA_OK) return st;
        for (b = 0; b < B; b++) {
            float *s = c->logits + (size_t)b * V;
            int32_t *h = c->hist + (size_t)b * c->Tmax, best = 0, v;
            if (c->done[b]) { h[cur] = hp->pad_id; continue; }
            vla__ban_ngrams(s, h, cur, g->no_repeat_ngram, V);
            if (cur < g->min_length) s[hp->eos_id] = VLA__NEG_INF;
            for (v = 1; v < V; v++) if (s[v] > s[best]) best = v;
            h[cur] = best;
            if (best == hp->eos_id) { c->done[b] = 1; n_done++; }
        }
        width = cur + 1;
        if (n_done == B) break;
    }
    for (b = 0; b < B; b++) {
        int k;
        for (k = 0; k < T; k++) out[(size_t)b * T + k] = k < width ? c->hist[(size_t)b * c->Tmax + k] : hp->pad_id;
    }
    *out_len = width;
    return VLA_OK;
}

/* A finished hypothesis of example b (BeamHypotheses.add): tokens src[0, len)
 * with the summed log-probs; score = sum / len^lp in double, as Python does.
 * Up to nb are kept; an insertion into a full list drops the lowest score
 * (the earliest of equal ones) and "worst" becomes the lowest kept. */
static void vla__hyp_add(vla_ctx *c, int b, int nb, const int32_t *src, int len, double sum_logprobs, double lp) {
    double score = sum_logprobs / VLA_POW((double)len, lp);
    int n = c->n_hyp[b], i, lo;
    size_t base = (size_t)b * (nb + 1);
    double *sc = c->hyp_score + base;
    int32_t *ln = c->hyp_len + base, *tk = c->hyp_tok + base * c->Tmax;
    if (!(n < nb || score > c->worst[b])) return;
    sc[n] = score; ln[n] = len;
    VLA_MEMCPY(tk + (size_t)n * c->Tmax, src, sizeof(int32_t) * (size_t)len);
    n++;
    if (n > nb) {
        for (lo = 0, i = 1; i < n; i++) if (sc[i] < sc[lo]) lo = i;
        for (i = lo; i + 1 < n; i++) { /* delete slot lo, keeping the order */
            sc[i] = sc[i + 1]; ln[i] = ln[i + 1];
            VLA_MEMCPY(tk + (size_t)i * c->Tmax, tk + (size_t)(i + 1) * c->Tmax, sizeof(int32_t) * (size_t)c->Tmax);
        }
        n--;
        for (c->worst[b] = sc[0], i = 1; i < n; i++) if (sc[i] < c->worst[b]) c->worst[b] = sc[i];
    } else {
        if (score < c->worst[b]) c->worst[b] = score;
    }
    c->n_hyp[b] = n;
}

/* Swap the self-attention cache rows into the order of c->next_src. */
static void vla__cache_gather(vla_ctx *c, vla__dec_bufs *e, int R, int len) {
    size_t d = (size_t)c->m->hp.d_model, T = (size_t)c->Tmax, row = (size_t)len * d;
    int l, r, kv;
    for (l = 0; l < c->m->hp.n_dec_layers; l++)
        for (kv = 0; kv < 2; kv++) {
            float *base = (kv ? c->sv : c->sk) + (size_t)l * c->Rmax * T * d;
            for (r = 0; r < R; r++) VLA_MEMCPY(e->gather + (size_t)r * row, base + (size_t)c->next_src[r] * T * d, row * 4);
            for (r = 0; r < R; r++) VLA_MEMCPY(base + (size_t)r * T * d, e->gather + (size_t)r * row, row * 4);
        }
}

/* Top-k (k = 2*nb) of the nb*V scores of one example, descending; ties keep
 * the lower index first.  s: nb rows of V. */
static void vla__topk(const float *s, int nb, int V, int k, float *val, int32_t *idx) {
    int n = 0, i, j;
    for (i = 0; i < nb * V; i++) {
        float v = s[i];
        if (n == k && !(v > val[k - 1])) continue;
        j = n < k ? n++ : k - 1;
        while (j > 0 && v > val[j - 1]) { val[j] = val[j - 1]; idx[j] = idx[j - 1]; j--; }
        val[j] = v; idx[j] = i;
    }
}

static vla_status vla__beam(vla_ctx *c, vla__dec_bufs *e, const vla_gen_params *g, int32_t *out, int *out_len, float *scores) {
    const vla_hparams *hp = &c->m->hp;
    int B = c->B, nb = g->num_beams, R = B * nb, V = hp->vocab, T = g->max_length, Tm = c->Tmax;
    int b, k, r, cur, width = 0;
    float cval[128];
    int32_t cidx[128];
    vla_status st;
    for (r = 0; r < R; r++) {
        c->hist[(size_t)r * Tm] = hp->dec_start_id;
        c->beam_score[r] = (r % nb == 0) ? 0.0f : -1e9f; /* only beam 0 is expanded first */
    }
    for (b = 0; b < B; b++) { c->done[b] = 0; c->n_hyp[b] = 0; c->worst[b] = 1e9; }
    for (cur = 1; cur < T; cur++) {
        int all_done = 1;
        for (r = 0; r < R; r++) c->next_tok[r] = c->hist[(size_t)r * Tm + cur - 1];
        if ((st = vla__dec_step(c, e, c->next_tok, R, nb, cur - 1)) != VLA_OK) return st;
        /* scores = log_softmax(forced logits) with bans, + running score */
        for (r = 0; r < R; r++) {
            float *s = c->logits + (size_t)r * V;
            int v;
            if (cur == T - 1) /* BART forces EOS at the last step, before log_softmax */
                for (v = 0; v < V; v++) if (v != hp->eos_id) s[v] = VLA__NEG_INF;
            vla_log_softmax(s, V);
            vla__ban_ngrams(s, c->hist + (size_t)r * Tm, cur, g->no_repeat_ngram, V);
            if (cur < g->min_length) s[hp->eos_id] = VLA__NEG_INF;
            for (v = 0; v < V; v++) s[v] += c->beam_score[r];
        }
        for (b = 0; b < B; b++) {
            int live = 0;
            if (c->done[b]) { /* finished examples feed pad with score 0 */
                for (k = 0; k < nb; k++) {
                    r = b * nb + k;
                    c->next_score[r] = 0.0f; c->next_tok[r] = hp->pad_id; c->next_src[r] = r;
                }
                continue;
            }
            vla__topk(c->logits + (size_t)b * nb * V, nb, V, 2 * nb, cval, cidx);
            for (k = 0; k < 2 * nb && live < nb; k++) {
                int src = b * nb + cidx[k] / V, tok = cidx[k] % V;
                if (tok == hp->eos_id) {
                    if (k >= nb) continue; /* an EOS outside the first nb candidates is dropped */
                    vla__hyp_add(c, b, nb, c->hist + (size_t)src * Tm, cur, (double)cval[k], (double)g->length_penalty);
                } else {
                    r = b * nb + live++;
                    c->next_score[r] = cval[k]; c->next_tok[r] = tok; c->next_src[r] = src;
                }
            }
            /* is_done: nb hypotheses and (early stopping, or none of this step's
             * candidates can beat the worst kept one) */
            if (c->n_hyp[b] >= nb) {
                if (g->early_stopping) c->done[b] = 1;
                else if (c->worst[b] >= (double)cval[0] / VLA_POW((double)cur, (double)g->length_penalty)) c->done[b] = 1;
            }
        }
        /* reorder histories and cache by source beam, append the new tokens */
        for (r = 0; r < R; r++) {
            VLA_MEMCPY(c->hist2 + (size_t)r * Tm, c->hist + (size_t)c->next_src[r] * Tm, sizeof(int32_t) * (size_t)cur);
            c->hist2[(size_t)r * Tm + cur] = c->next_tok[r];
            c->beam_score[r] = c->next_score[r];
        }
        { int32_t *t = c->hist; c->hist = c->hist2; c->hist2 = t; }
        vla__cache_gather(c, e, R, cur);
        for (b = 0; b < B; b++) all_done &= c->done[b] != 0;
        if (all_done) { cur++; break; }
    }
    /* finalize: unfinished examples offer their live beams */
    for (b = 0; b < B; b++) {
        int best = 0, len, i;
        const int32_t *tk;
        if (!c->done[b])
            for (k = 0; k < nb; k++)
                vla__hyp_add(c, b, nb, c->hist + (size_t)(b * nb + k) * Tm, cur, (double)c->beam_score[b * nb + k],
                             (double)g->length_penalty);
        for (i = 1; i < c->n_hyp[b]; i++) /* the highest score; the later one on ties (Python's sorted + pop) */
            if (c->hyp_score[(size_t)b * (nb + 1) + i] >= c->hyp_score[(size_t)b * (nb + 1) + best]) best = i;
        len = c->hyp_len[(size_t)b * (nb + 1) + best];
        if (len + 1 > width) width = len + 1;
        tk = c->hyp_tok + ((size_t)b * (nb + 1) + best) * Tm;
        for (i = 0; i < T; i++) out[(size_t)b * T + i] = i < len ? tk[i] : (i == len ? hp->eos_id : hp->pad_id);
        if (scores) scores[b] = (float)c->hyp_score[(size_t)b * (nb + 1) + best];
    }
    *out_len = width < T ? width : T;
    return VLA_OK;
}

VLA_DEF vla_status vla_generate(vla_ctx *c, const vla_gen_params *g, int32_t *out_ids, int *out_len, float *scores) {
    vla__dec_bufs e;
    size_t mark;
    vla_status st;
    if (!c || !g || !out_ids || !out_len) return VLA_ERR_ARGS;
    if (c->encoded != 1) {
        vla__log(&c->p.log, VLA_LOG_ERROR, "decoding needs an encoder output: call vla_encode first (after any vla_ctx_set_adapter)", 0, 0, 0);
        return VLA_ERR_STATE;
    }
    if (g->num_beams < 1 || g->num_beams > c->p.max_beams || g->num_beams > 64 || g->max_length < 2 ||
        g->max_length > c->Tmax || g->no_repeat_ngram < 0 || g->min_length < 0)
        return VLA_ERR_ARGS;
    mark = vla_arena_scratch_mark(&c->arena);
    if (!vla__dec_bufs_take(&c->arena, &c->m->hp, c->Rmax, c->Tmax, c->adp_cap, &e)) return VLA_ERR_NOMEM;
    if (g->num_beams == 1) {
        st = vla__greedy(c, &e, g, out_ids, out_len);
        if (scores) { int b; for (b = 0; b < c->B; b++) scores[b] = 0.0f; }
    } else {
        st = vla__beam(c, &e, g, out_ids, out_len, scores);
    }
    vla_arena_scratch_release(&c->arena, mark);
    return st;
}

/* ==========================================================================
 * [I10] CLIP ModifiedResNet trunk
 *
 * Channels-last activations [H, W, C].  Every convolution has its
 * BatchNorm folded in (tools/vla-convert), so each stage is
 *   stem:        x = avgpool2(relu(conv3(relu(conv2(relu(conv1_s2(img)))))))
 *   bottleneck:  y = relu(conv3(avgpool_s(relu(conv2(relu(conv1(x)))))) + id)
 *                id = conv_down(avgpool_s(x)) when the shape changes, else x
 * Four buffers of the largest activation rotate through the blocks.
 * ========================================================================== */

/* Largest activation (floats) and largest conv scratch of the trunk. */
static void vla__clip_sizes(const vla_hparams *hp, size_t *act, size_t *conv) {
    int S = hp->clip_image_size, w = hp->clip_width, H = S / 2, si, bi, inpl = w;
    size_t a = 0, cs = 0, t;
#define VLA__MAXA(x) do { t = (x); if (t > a) a = t; } while (0)
#define VLA__MAXC(x) do { t = (x); if (t > cs) cs = t; } while (0)
    VLA__MAXA((size_t)H * H * w);
    VLA__MAXC(vla_conv2d_scratch_size(S, S, 3, 3, 2, 1));
    VLA__MAXC(vla_conv2d_scratch_size(H, H, w / 2, 3, 1, 1));
    H /= 2;
    for (si = 0; si < 4; si++) {
        int planes = w << si;
        for (bi = 0; bi < hp->clip_blocks[si]; bi++) {
            int s = (bi == 0 && si > 0) ? 2 : 1;
            VLA__MAXA((size_t)H * H * planes);
            VLA__MAXA((size_t)H * H * inpl);
            VLA__MAXC(vla_conv2d_scratch_size(H, H, planes, 3, 1, 1));
            H /= s;
            VLA__MAXA((size_t)H * H * 4 * planes);
            inpl = 4 * planes;
        }
    }
#undef VLA__MAXA
#undef VLA__MAXC
    *act = a;
    *conv = cs;
}

/* y = conv(x) (then relu(y) if relu); x_amax: max |x| if known, else < 0;
 * *y_amax (relu only): max(y) from the ReLU pass, for the next convolution
 * (-1 unless want_amax: a trunk without I8 convolutions needs none). */
static vla_status vla__clip_conv(vla_ctx *c, float *y, const float *x, const vla__conv *cv, int H, int stride, int relu,
                                 float x_amax, float *y_amax, int want_amax) {
    int pad = cv->k / 2, Ho = (H + 2 * pad - cv->k) / stride + 1;
    vla_status st = vla__conv2d_amax(&c->p.exec, &c->arena, y, x, &cv->w, cv->b, H, H, cv->cin, cv->k, stride, pad, x_amax);
    if (st == VLA_OK && relu) *y_amax = vla__add_relu(&c->p.exec, y, NULL, (size_t)Ho * Ho * cv->cout, want_amax);
    return st;
}

VLA_DEF vla_status vla_clip_run(vla_ctx *c, const float *image, int stage, float *out, int *h, int *w, int *ch) {
    const vla_model *m;
    const vla_hparams *hp;
    float *P, *Q, *R, *S4, *t;
    size_t act, conv, mark;
    int H, si, bi, nb = 0, C;
    float am = -1.0f, am1 = -1.0f, am2 = -1.0f; /* max of P (after the stem: unknown), of Q, of R */
    int q8; /* any I8 convolution: the ReLU passes measure the amax it quantizes with */
    vla_status st = VLA_OK;
    if (!c || !image || !out || stage < 0 || stage > 4) return VLA_ERR_ARGS;
    m = c->m; hp = &m->hp;
    if (!hp->has_clip) return VLA_ERR_UNSUPPORTED;
    if (!c->p.use_clip) return VLA_ERR_STATE;
    vla__clip_sizes(hp, &act, &conv);
    q8 = m->clip_i8;
    mark = vla_arena_scratch_mark(&c->arena);
    P = (float *)vla_arena_scratch(&c->arena, act * 4);
    Q = (float *)vla_arena_scratch(&c->arena, act * 4);
    R = (float *)vla_arena_scratch(&c->arena, act * 4);
    S4 = (float *)vla_arena_scratch(&c->arena, act * 4);
    if (!P || !Q || !R || !S4) { vla_arena_scratch_release(&c->arena, mark); return VLA_ERR_NOMEM; }
    /* stem: [S, S, 3] -> [S/2, S/2, w/2] -> [S/2, S/2, w/2] -> [S/2, S/2, w] -> [S/4, S/4, w] */
    H = hp->clip_image_size;
    st = vla__clip_conv(c, P, image, &m->clip_stem[0], H, 2, 1, -1.0f, &am, q8);
    H /= 2;
    if (st == VLA_OK) st = vla__clip_conv(c, Q, P, &m->clip_stem[1], H, 1, 1, am, &am1, q8);
    if (st == VLA_OK) st = vla__clip_conv(c, R, Q, &m->clip_stem[2], H, 1, 1, am1, &am2, q8);
    vla_avgpool2d(P, R, H, H, hp->clip_width, 2);
    am = -1.0f;
    H /= 2;
    C = hp->clip_width;
    for (si = 0; si < 4 && si < stage && st == VLA_OK; si++) {
        for (bi = 0; bi < hp->clip_blocks[si] && st == VLA_OK; bi++, nb++) {
            const vla__bottleneck *bk = &m->clip_blocks[nb];
            int s = bk->stride, Ho = H / s, planes = bk->c1.cout;
            float *main_in;
            /* main branch: P -> Q -> R -> (pool) -> conv3 into S4 */
            st = vla__clip_conv(c, Q, P, &bk->c1, H, 1, 1, am, &am1, q8);
            if (st == VLA_OK) st = vla__clip_conv(c, R, Q, &bk->c2, H, 1, 1, am1, &am2, q8);
            if (st != VLA_OK) break;
            main_in = R;
            if (s > 1) { vla_avgpool2d(Q, R, H, H, planes, s); main_in = Q; am2 = -1.0f; }
            st = vla__clip_conv(c, S4, main_in, &bk->c3, Ho, 1, 0, am2, NULL, q8);
            if (st != VLA_OK) break;
            /* identity branch, added into S4 */
            if (bk->has_down) {
                float *id_in = P, *id_out = (main_in == Q) ? R : Q, id_am = am;
                if (s > 1) { vla_avgpool2d(R, P, H, H, bk->c1.cin, s); id_in = R; id_out = Q; id_am = -1.0f; }
                st = vla__clip_conv(c, id_out, id_in, &bk->down, Ho, 1, 0, id_am, NULL, q8);
                am = vla__add_relu(&c->p.exec, S4, id_out, (size_t)Ho * Ho * bk->c3.cout, q8);
            } else {
                am = vla__add_relu(&c->p.exec, S4, P, (size_t)Ho * Ho * bk->c3.cout, q8);
            }
            t = P; P = S4; S4 = t; /* the output becomes the next block's input */
            H = Ho;
            C = bk->c3.cout;
        }
    }
    if (st == VLA_OK) {
        VLA_MEMCPY(out, P, sizeof(float) * (size_t)H * H * C);
        if (h) *h = H;
        if (w) *w = H;
        if (ch) *ch = C;
    }
    vla_arena_scratch_release(&c->arena, mark);
    return st;
}

/* ==========================================================================
 * [I11] Image input: implementation
 * ========================================================================== */


/* The resize's weights must be computed in IEEE binary64, as Pillow does. */
typedef char vla__check_f64[sizeof(double) == 8 ? 1 : -1];

/* ---------------------------------------------------------------------------
 * Views
 * ------------------------------------------------------------------------- */

static vla_status vla__image_check(const vla_image *im) {
    size_t row;
    if (!im || !im->data) return VLA_ERR_ARGS;
    if (im->width < 1 || im->height < 1 || im->channels < 1 || im->channels > 4) return VLA_ERR_ARGS;
    if (im->width > VLA_MAX_IMAGE_DIM || im->height > VLA_MAX_IMAGE_DIM) return VLA_ERR_RANGE;
    row = (size_t)im->width * (size_t)im->channels;
    if (im->stride < row) return VLA_ERR_ARGS;
    /* The last byte read is at (height - 1) * stride + row - 1: it must be addressable. */
    if (vla__add(vla__mul((size_t)(im->height - 1), im->stride), row) == (size_t)-1) return VLA_ERR_ARGS;
    return VLA_OK;
}

VLA_DEF vla_status vla_image_view(vla_image *img, const void *pixels, int width, int height, int channels,
                                  size_t stride) {
    vla_status st;
    if (!img) return VLA_ERR_ARGS;
    img->data = (const unsigned char *)pixels;
    img->width = width;
    img->height = height;
    img->channels = channels;
    img->stride = stride;
    if (stride == 0 && width > 0 && channels > 0) img->stride = (size_t)width * (size_t)channels;
    st = vla__image_check(img);
    if (st != VLA_OK) VLA_MEMSET(img, 0, sizeof *img);
    return st;
}

/* ---------------------------------------------------------------------------
 * Bicubic resize, Pillow 9.4 fixed point
 *
 * One pass maps n_in samples to n_out along an axis.  For output sample o:
 *
 *   scale   = n_in / n_out                 (input samples per output sample)
 *   fs      = max(scale, 1)                (kernel stretch: > 1 only when
 *                                           shrinking -- the antialiasing)
 *   support = 2 * fs                       (the cubic is 0 beyond |t| = 2)
 *   center  = (o + 0.5) * scale            (output pixel centre, in input
 *                                           coordinates where pixel i spans
 *                                           [i, i+1))
 *   first   = max(0,    trunc(center - support + 0.5))
 *   last+1  = min(n_in, trunc(center + support + 0.5))
 *   w_i     = K((i - center + 0.5) / fs)   for i = first .. last
 *             (evaluated as (i - center + 0.5) * (1 / fs), as Pillow does)
 *   w_i    /= sum_i w_i                    (skipped if the sum is 0)
 *   W_i     = trunc(w_i * 2^22 + 0.5)      (w_i >= 0)
 *             trunc(w_i * 2^22 - 0.5)      (w_i <  0)
 *   out     = clamp((2^21 + sum_i in[i] * W_i) >> 22, 0, 255)
 *
 * K is Keys' cubic with a = -0.5 (vla__bicubic).  Per output sample there are
 * at most 2 * ceil(support) + 1 taps, the row stride of the weight table.
 *
 * Pillow runs the horizontal pass over the source rows the vertical pass will
 * read into an 8-bit intermediate image, then the vertical pass over that.
 * Here the vertical pass pulls intermediate rows through a ring of
 * max-taps rows instead: output row yy reads rows [first(yy), last(yy)], both
 * non-decreasing in yy, so each intermediate row is made once, in order, and
 * lives in slot (row mod ring_rows) until no later output row needs it.  The
 * values are the same bytes Pillow's intermediate holds; the memory is
 * ring_rows * out_w * 3 bytes instead of (source rows) * out_w * 3.
 * ------------------------------------------------------------------------- */

#define VLA__RS_BITS 22                                 /* Pillow's PRECISION_BITS   */
#define VLA__RS_ONE ((double)((int32_t)1 << VLA__RS_BITS)) /* 1.0 in fixed point  */
#define VLA__RS_HALF ((int32_t)1 << (VLA__RS_BITS - 1)) /* rounding offset           */

/* Force a double through memory: rounds it to binary64 and stops the compiler
 * from fusing the product it holds with a later addition into an FMA (see
 * "Exactness" above).  Measured on 107,800 size pairs up to 700: fusing
 * `center - support` moves a window edge (first/end) for 13,372 output
 * samples; the rounded weights never changed.  The edge taps weigh 0, so
 * pixels would match anyway, but with this the tables equal Pillow's. */
static double vla__dround(double x) {
    volatile double v = x;
    return v;
}

/* Keys' cubic convolution kernel, a = -0.5 (Pillow's BICUBIC):
 *   K(t) = (a+2)|t|^3 - (a+3)|t|^2 + 1        |t| < 1
 *        = a (|t|^3 - 5|t|^2 + 8|t| - 4)      1 <= |t| < 2
 *        = 0                                  otherwise
 * evaluated in Pillow's Horner order ((1.5 t - 2.5) t t + 1 and
 * (((t - 5) t + 8) t - 4) * -0.5), every product rounded on its own. */
static double vla__bicubic(double t) {
    if (t < 0.0) t = -t;
    if (t < 1.0) {
        double p = vla__dround(1.5 * t) - 2.5;
        return vla__dround(p * t * t) + 1.0;
    }
    if (t < 2.0) {
        double p = vla__dround((t - 5.0) * t) + 8.0;
        p = vla__dround(p * t) - 4.0;
        return vla__dround(p * -0.5);
    }
    return 0.0;
}

/* Filter geometry of one axis. */
typedef struct vla__rs_axis {
    int n_in, n_out;
    int ksize;       /* most taps an output sample can have = weight row stride */
    int32_t *bounds; /* [n_out][2]: first input sample, number of taps          */
    int32_t *w;      /* [n_out][ksize]: fixed-point weights (2^22 = 1.0)        */
} vla__rs_axis;

static void vla__rs_geometry(int n_in, int n_out, double *scale, double *fs, double *support) {
    *scale = (double)n_in / (double)n_out;
    *fs = *scale < 1.0 ? 1.0 : *scale;
    *support = 2.0 * *fs;
}

static int vla__rs_ksize(int n_in, int n_out) {
    double scale, fs, support;
    int c;
    vla__rs_geometry(n_in, n_out, &scale, &fs, &support);
    c = (int)support; /* ceil(support), support > 0 */
    if ((double)c < support) c++;
    return 2 * c + 1;
}

/* Fill bounds and weights of an axis.  Also proves the fixed-point sums of
 * the passes fit int32: with every pixel 0..255 an accumulator stays within
 * [2^21 - 255 * neg, 2^21 + 255 * pos] (pos/neg: sums of the positive and
 * negative weights).  For the cubic kernel pos is at most about 1.13 * 2^22,
 * about half of the 2^31 / 255 = 2.0 * 2^22 available; VLA_ERR_RANGE would
 * only mean a broken build. */
static vla_status vla__rs_axis_fill(vla__rs_axis *ax) {
    double scale, fs, support, inv_fs;
    int o, t;
    vla__rs_geometry(ax->n_in, ax->n_out, &scale, &fs, &support);
    inv_fs = 1.0 / fs;
    for (o = 0; o < ax->n_out; o++) {
        double center = vla__dround((o + 0.5) * scale), sum = 0.0;
        int first = (int)(center - support + 0.5), end = (int)(center + support + 0.5), n;
        int32_t *w = ax->w + (size_t)o * (size_t)ax->ksize;
        int64_t pos = 0, neg = 0;
        if (first < 0) first = 0;
        if (end > ax->n_in) end = ax->n_in;
        n = end - first;
        if (n < 0) n = 0;
        if (n > ax->ksize) n = ax->ksize; /* cannot happen: ksize bounds the window */
        for (t = 0; t < n; t++) sum += vla__bicubic(vla__dround(((double)(first + t) - center + 0.5) * inv_fs));
        for (t = 0; t < n; t++) {
            double k = vla__bicubic(vla__dround(((double)(first + t) - center + 0.5) * inv_fs));
            if (sum != 0.0) k /= sum;
            w[t] = (int32_t)(k < 0.0 ? k * VLA__RS_ONE - 0.5 : k * VLA__RS_ONE + 0.5);
            if (w[t] > 0) pos += w[t];
            else neg -= w[t];
        }
        if (255 * pos + VLA__RS_HALF > INT32_MAX || 255 * neg - VLA__RS_HALF > INT32_MAX) return VLA_ERR_RANGE;
        ax->bounds[2 * o] = first;
        ax->bounds[2 * o + 1] = n;
    }
    return VLA_OK;
}

/* floor(acc / 2^22) clamped to 0..255 (acc <= 0 gives 0 without shifting a
 * negative number). */
static unsigned char vla__rs_clip(int32_t acc) {
    if (acc <= 0) return 0;
    if (acc >= ((int32_t)255 << VLA__RS_BITS)) return 255;
    return (unsigned char)(acc >> VLA__RS_BITS);
}

/* One source row (n pixels of `channels` bytes) -> n RGB pixels, unfiltered:
 * gray is replicated, alpha dropped. */
static void vla__rs_convert_row(unsigned char *dst, const unsigned char *src, int channels, int n) {
    int x;
    for (x = 0; x < n; x++, src += channels, dst += 3) {
        if (channels <= 2) {
            dst[0] = dst[1] = dst[2] = src[0];
        } else {
            dst[0] = src[0];
            dst[1] = src[1];
            dst[2] = src[2];
        }
    }
}

/* Horizontal pass over one source row -> ax->n_out RGB pixels.
 *   dst[o][c] = clip(2^21 + sum_t src[first + t][c] * W[o][t])
 * A gray source gives three identical channels, so one sum is replicated. */
static void vla__rs_hrow(unsigned char *dst, const unsigned char *src, int channels, const vla__rs_axis *ax) {
    int o, t;
    for (o = 0; o < ax->n_out; o++, dst += 3) {
        const int32_t *w = ax->w + (size_t)o * (size_t)ax->ksize;
        const unsigned char *p = src + (size_t)ax->bounds[2 * o] * (size_t)channels;
        int n = ax->bounds[2 * o + 1];
        if (channels <= 2) {
            int32_t acc = VLA__RS_HALF;
            for (t = 0; t < n; t++, p += channels) acc += (int32_t)p[0] * w[t];
            dst[0] = dst[1] = dst[2] = vla__rs_clip(acc);
        } else {
            int32_t r = VLA__RS_HALF, g = VLA__RS_HALF, b = VLA__RS_HALF;
            for (t = 0; t < n; t++, p += channels) {
                r += (int32_t)p[0] * w[t];
                g += (int32_t)p[1] * w[t];
                b += (int32_t)p[2] * w[t];
            }
            dst[0] = vla__rs_clip(r);
            dst[1] = vla__rs_clip(g);
            dst[2] = vla__rs_clip(b);
        }
    }
}

/* Vertical pass for one output row of n_bytes bytes:
 *   dst[i] = clip(2^21 + sum_t row(first + t)[i] * W[t]),
 * row(r) being ring slot r mod ring_rows.  Taps outermost, so the inner loop
 * streams over contiguous bytes (acc: n_bytes int32 of scratch). */
static void vla__rs_vrow(unsigned char *dst, int32_t *acc, const unsigned char *ring, int ring_rows, int n_bytes,
                         int first, int n, const int32_t *w) {
    int i, t;
    for (i = 0; i < n_bytes; i++) acc[i] = VLA__RS_HALF;
    for (t = 0; t < n; t++) {
        const unsigned char *row = ring + (size_t)((first + t) % ring_rows) * (size_t)n_bytes;
        int32_t wt = w[t];
        for (i = 0; i < n_bytes; i++) acc[i] += (int32_t)row[i] * wt;
    }
    for (i = 0; i < n_bytes; i++) dst[i] = vla__rs_clip(acc[i]);
}

/* Scratch layout of a resize: one block, each array VLA_ALIGN-aligned.
 *   hb [out_w][2] int32, hw [out_w][kw] int32     (if the width changes)
 *   vb [out_h][2] int32, vw [out_h][kh] int32,
 *   ring [ring_rows][out_w * 3] uint8, acc [out_w * 3] int32
 *                                                 (if the height changes) */
typedef struct vla__rs_plan {
    int need_h, need_v;
    int kw, kh, ring_rows;
    size_t off_hb, off_hw, off_vb, off_vw, off_ring, off_acc, total;
} vla__rs_plan;

/* Reserve an aligned array; a size that saturated stays saturated. */
static size_t vla__rs_take(size_t *total, size_t bytes) {
    size_t off = *total;
    if (bytes > (size_t)-1 - VLA_ALIGN) *total = (size_t)-1;
    else *total = vla__add(*total, vla__align_up(bytes, VLA_ALIGN));
    return off;
}

static void vla__rs_plan_make(vla__rs_plan *p, int in_w, int in_h, int out_w, int out_h) {
    size_t row = (size_t)out_w * 3;
    VLA_MEMSET(p, 0, sizeof *p);
    p->need_h = in_w != out_w;
    p->need_v = in_h != out_h;
    if (p->need_h) {
        p->kw = vla__rs_ksize(in_w, out_w);
        p->off_hb = vla__rs_take(&p->total, vla__mul((size_t)out_w, 2 * sizeof(int32_t)));
        p->off_hw = vla__rs_take(&p->total, vla__mul(vla__mul((size_t)out_w, (size_t)p->kw), sizeof(int32_t)));
    }
    if (p->need_v) {
        p->kh = vla__rs_ksize(in_h, out_h);
        p->ring_rows = p->kh < in_h ? p->kh : in_h; /* a window never has more rows */
        p->off_vb = vla__rs_take(&p->total, vla__mul((size_t)out_h, 2 * sizeof(int32_t)));
        p->off_vw = vla__rs_take(&p->total, vla__mul(vla__mul((size_t)out_h, (size_t)p->kh), sizeof(int32_t)));
        p->off_ring = vla__rs_take(&p->total, vla__mul((size_t)p->ring_rows, row));
        p->off_acc = vla__rs_take(&p->total, vla__mul(row, sizeof(int32_t)));
    }
}

static int vla__rs_dims_ok(int w, int h) {
    return w >= 1 && h >= 1 && w <= VLA_MAX_IMAGE_DIM && h <= VLA_MAX_IMAGE_DIM;
}

VLA_DEF size_t vla_image_resize_scratch_size(int in_w, int in_h, int out_w, int out_h) {
    vla__rs_plan p;
    if (!vla__rs_dims_ok(in_w, in_h) || !vla__rs_dims_ok(out_w, out_h)) return 0;
    vla__rs_plan_make(&p, in_w, in_h, out_w, out_h);
    return p.total;
}

VLA_DEF vla_status vla_image_resize(vla_arena *scratch, unsigned char *dst, int out_w, int out_h,
                                    const vla_image *src) {
    vla__rs_plan p;
    vla__rs_axis ah, av;
    unsigned char *mem = NULL, *ring = NULL;
    int32_t *acc = NULL;
    size_t mark = 0, row_bytes;
    vla_status st;
    int y, yy, next;

    st = vla__image_check(src);
    if (st != VLA_OK) return st;
    if (!dst || out_w < 1 || out_h < 1) return VLA_ERR_ARGS;
    if (out_w > VLA_MAX_IMAGE_DIM || out_h > VLA_MAX_IMAGE_DIM) return VLA_ERR_RANGE;
    vla__rs_plan_make(&p, src->width, src->height, out_w, out_h);
    if (p.total == (size_t)-1) return VLA_ERR_NOMEM;
    if (p.total) {
        if (!scratch) return VLA_ERR_ARGS;
        mark = vla_arena_scratch_mark(scratch);
        mem = (unsigned char *)vla_arena_scratch(scratch, p.total);
        if (!mem) return VLA_ERR_NOMEM;
    }
    if (scratch && scratch->measuring) { /* size query: touch no pixels */
        if (mem) vla_arena_scratch_release(scratch, mark);
        return VLA_OK;
    }

    /* Filter tables.  The casts are fine: every array starts VLA_ALIGN-aligned. */
    ah.n_in = src->width; ah.n_out = out_w; ah.ksize = p.kw; ah.bounds = NULL; ah.w = NULL;
    av.n_in = src->height; av.n_out = out_h; av.ksize = p.kh; av.bounds = NULL; av.w = NULL;
    if (p.need_h) {
        ah.bounds = (int32_t *)(void *)(mem + p.off_hb);
        ah.w = (int32_t *)(void *)(mem + p.off_hw);
        st = vla__rs_axis_fill(&ah);
    }
    if (p.need_v && st == VLA_OK) {
        av.bounds = (int32_t *)(void *)(mem + p.off_vb);
        av.w = (int32_t *)(void *)(mem + p.off_vw);
        ring = mem + p.off_ring;
        acc = (int32_t *)(void *)(mem + p.off_acc);
        st = vla__rs_axis_fill(&av);
    }
    if (st != VLA_OK) {
        if (mem) vla_arena_scratch_release(scratch, mark);
        return st;
    }

    row_bytes = (size_t)out_w * 3;
    if (!p.need_v) {
        /* Same height: the horizontal pass (or the plain RGB conversion)
         * writes straight into the output rows. */
        for (y = 0; y < out_h; y++) {
            const unsigned char *s = src->data + (size_t)y * src->stride;
            if (p.need_h) vla__rs_hrow(dst + (size_t)y * row_bytes, s, src->channels, &ah);
            else vla__rs_convert_row(dst + (size_t)y * row_bytes, s, src->channels, out_w);
        }
    } else {
        /* next: the first source row not yet in the ring. */
        for (yy = 0, next = 0; yy < out_h; yy++) {
            int first = av.bounds[2 * yy], n = av.bounds[2 * yy + 1];
            if (next < first) next = first;
            for (; next < first + n; next++) {
                unsigned char *slot = ring + (size_t)(next % p.ring_rows) * row_bytes;
                const unsigned char *s = src->data + (size_t)next * src->stride;
                if (p.need_h) vla__rs_hrow(slot, s, src->channels, &ah);
                else vla__rs_convert_row(slot, s, src->channels, out_w);
            }
            vla__rs_vrow(dst + (size_t)yy * row_bytes, acc, ring, p.ring_rows, (int)row_bytes, first, n,
                         av.w + (size_t)yy * (size_t)p.kh);
        }
    }
    if (mem) vla_arena_scratch_release(scratch, mark);
    return VLA_OK;
}

/* ---------------------------------------------------------------------------
 * Normalisation
 * ------------------------------------------------------------------------- */

static const float vla__clip_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
static const float vla__clip_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

/* Pixels are processed in order and each pixel's three bytes are read before
 * its floats are written.  That makes it safe for rgb to be the LAST quarter
 * of dst's own bytes (rgb == (unsigned char *)dst + 3 * N, N = 3 * np floats):
 * the floats of pixel p end at byte 12p + 12 (HWC) or 4 * (2 np + p) + 4 (CHW),
 * never past byte 9 np + 3p + 3, the first byte not yet read.
 * vla_clip_preprocess relies on this. */
VLA_DEF vla_status vla_image_normalize(float *dst, const unsigned char *rgb, int width, int height,
                                       const float *mean, const float *std, vla_layout layout) {
    size_t np, p;
    float m[3], s[3];
    int c;
    if (!dst || !rgb || width < 1 || height < 1) return VLA_ERR_ARGS;
    if (layout != VLA_LAYOUT_HWC && layout != VLA_LAYOUT_CHW) return VLA_ERR_ARGS;
    if (width > VLA_MAX_IMAGE_DIM || height > VLA_MAX_IMAGE_DIM) return VLA_ERR_RANGE;
    for (c = 0; c < 3; c++) {
        m[c] = mean ? mean[c] : vla__clip_mean[c];
        s[c] = std ? std[c] : vla__clip_std[c];
        if (s[c] == 0.0f) return VLA_ERR_ARGS;
    }
    np = (size_t)width * (size_t)height;
    for (p = 0; p < np; p++) {
        float v[3];
        for (c = 0; c < 3; c++) {
            /* ToTensor: v / 255 in float32; Normalize: (v - mean) / std, each rounded to float. */
            float x = (float)rgb[3 * p + (size_t)c] / 255.0f;
            x = x - m[c];
            v[c] = x / s[c];
        }
        if (layout == VLA_LAYOUT_HWC) {
            dst[3 * p] = v[0];
            dst[3 * p + 1] = v[1];
            dst[3 * p + 2] = v[2];
        } else {
            dst[p] = v[0];
            dst[np + p] = v[1];
            dst[2 * np + p] = v[2];
        }
    }
    return VLA_OK;
}

VLA_DEF size_t vla_clip_preprocess_scratch_size(int in_w, int in_h, int size) {
    return vla_image_resize_scratch_size(in_w, in_h, size, size);
}

VLA_DEF vla_status vla_clip_preprocess(vla_arena *scratch, float *dst, int size, vla_layout layout,
                                       const vla_image *src) {
    size_t n;
    unsigned char *staged;
    vla_status st;
    if (!dst || size < 1) return VLA_ERR_ARGS;
    if (layout != VLA_LAYOUT_HWC && layout != VLA_LAYOUT_CHW) return VLA_ERR_ARGS;
    if (size > VLA_MAX_IMAGE_DIM) return VLA_ERR_RANGE;
    n = (size_t)size * (size_t)size * 3; /* floats in dst */
    staged = (unsigned char *)dst + 3 * n; /* the last n of dst's 4n bytes */
    st = vla_image_resize(scratch, staged, size, size, src);
    if (st != VLA_OK || (scratch && scratch->measuring)) return st;
    return vla_image_normalize(dst, staged, size, size, NULL, NULL, layout);
}

/* ---------------------------------------------------------------------------
 * PNM (P5 / P6) reader
 * ------------------------------------------------------------------------- */

static int vla__pnm_is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* Skip whitespace and '#' comments (a comment runs up to, not including, the
 * next CR or LF).  Returns the number of bytes skipped. */
static size_t vla__pnm_skip(const unsigned char *b, size_t n, size_t *i) {
    size_t start = *i;
    while (*i < n) {
        if (vla__pnm_is_space(b[*i])) {
            (*i)++;
        } else if (b[*i] == '#') {
            while (*i < n && b[*i] != '\n' && b[*i] != '\r') (*i)++;
        } else {
            break;
        }
    }
    return *i - start;
}

/* Read a decimal number.  The value stops growing once it exceeds cap (the
 * result is then cap + 1 or a bit more), so long digit strings cannot
 * overflow.  Returns 0 when there is no digit. */
static int vla__pnm_number(const unsigned char *b, size_t n, size_t *i, unsigned long cap, unsigned long *out) {
    unsigned long v = 0;
    size_t start = *i;
    while (*i < n && b[*i] >= '0' && b[*i] <= '9') {
        if (v <= cap) v = v * 10 + (unsigned long)(b[*i] - '0');
        (*i)++;
    }
    *out = v;
    return *i > start;
}

VLA_DEF vla_status vla_pnm_read(vla_image *img, const void *data, size_t size, size_t *used) {
    const unsigned char *b = (const unsigned char *)data;
    unsigned long val[3]; /* width, height, maxval */
    size_t i = 2, raster;
    int channels, k;
    if (used) *used = 0;
    if (!img) return VLA_ERR_ARGS;
    VLA_MEMSET(img, 0, sizeof *img);
    if (!b) return VLA_ERR_ARGS;
    if (size < 2 || b[0] != 'P') return VLA_ERR_FORMAT;
    switch (b[1]) {
    case '5': channels = 1; break;
    case '6': channels = 3; break;
    case '1': case '2': case '3': case '4': case '7': return VLA_ERR_UNSUPPORTED;
    default: return VLA_ERR_FORMAT;
    }
    for (k = 0; k < 3; k++) {
        /* Every token is preceded by at least one whitespace byte or comment. */
        if (vla__pnm_skip(b, size, &i) == 0) return VLA_ERR_FORMAT;
        if (!vla__pnm_number(b, size, &i, k < 2 ? (unsigned long)VLA_MAX_IMAGE_DIM : 65535ul, &val[k]))
            return VLA_ERR_FORMAT;
    }
    /* Exactly one whitespace byte separates maxval from the raster. */
    if (i >= size || !vla__pnm_is_space(b[i])) return VLA_ERR_FORMAT;
    i++;
    if (val[0] == 0 || val[1] == 0 || val[2] == 0 || val[2] > 65535ul) return VLA_ERR_FORMAT;
    if (val[0] > VLA_MAX_IMAGE_DIM || val[1] > VLA_MAX_IMAGE_DIM || val[2] != 255) return VLA_ERR_UNSUPPORTED;
    raster = vla__mul(vla__mul((size_t)val[0], (size_t)val[1]), (size_t)channels); /* saturates */
    if (raster > size - i) return VLA_ERR_FORMAT;                                  /* truncated */
    img->data = b + i;
    img->width = (int)val[0];
    img->height = (int)val[1];
    img->channels = channels;
    img->stride = (size_t)val[0] * (size_t)channels;
    if (used) *used = i + raster;
    return VLA_OK;
}

/* ==========================================================================
 * [I12] Parameter-efficient modules: attach, precompute, apply
 * ========================================================================== */

static const char *vla__method_names[] = {"none", "adapter", "compacter", "hyperformer", "lora", "prompt"};

VLA_DEF uint64_t vla_model_fingerprint(const vla_model *m) {
    vla_gguf_kv kv;
    if (!m || vla_gguf_get_kv(&m->gguf, "vladapter.fingerprint", &kv) != VLA_OK || kv.type != VLA_GGUF_U64) return 0;
    return vla__rd64(kv.val);
}

/* i-th string of a string-array kv (validated at open). */
static int vla__kv_str_at(const vla_gguf_kv *kv, uint64_t i, vla_str *out) {
    size_t pos = 0;
    uint64_t k;
    for (k = 0; k <= i; k++)
        if (!vla_gguf_arr_next_str(kv, &pos, out)) return 0;
    return 1;
}

static uint32_t vla__kv_u32_at(const vla_gguf_kv *kv, uint64_t i, uint32_t dflt) {
    if (kv->type != VLA_GGUF_ARRAY || i >= kv->arr_n) return dflt;
    if (kv->arr_type == VLA_GGUF_U32 || kv->arr_type == VLA_GGUF_I32) return vla__rd32(kv->val + 4 * i);
    return dflt;
}

/* "<kind>.<task>.<site><suffix>" looked up for the task, then for "*"
 * (a module shared by all tasks); *shared tells which one was found. */
static vla_status vla__peft_find(const vla_gguf *g, const char *kind, vla_str task, const char *site, const char *suffix,
                                 vla_tensor *t, int *shared) {
    char nm[160];
    size_t n = 0, k;
    int pass;
    for (pass = 0; pass < 2; pass++) {
        const char *p;
        n = 0;
        for (p = kind; *p && n < 150; p++) nm[n++] = *p;
        nm[n++] = '.';
        if (pass == 0) { for (k = 0; k < task.n && n < 150; k++) nm[n++] = task.s[k]; }
        else nm[n++] = '*';
        nm[n++] = '.';
        for (p = site; *p && n < 158; p++) nm[n++] = *p;
        for (p = suffix; *p && n < 158; p++) nm[n++] = *p;
        nm[n] = 0;
        if (vla_gguf_get_tensor(g, nm, t) == VLA_OK) { if (shared) *shared = pass; return VLA_OK; }
    }
    return VLA_ERR_NOT_FOUND;
}

static vla_status vla__adp_find2(const vla_adapter *ad, const char *kind, vla_str task, const char *site, const char *suffix,
                                 vla_tensor *t, int *shared) {
    return vla__peft_find(&ad->gguf, kind, task, site, suffix, t, shared);
}

static vla_status vla__adp_find(const vla_adapter *ad, const char *kind, vla_str task, const char *site, const char *suffix,
                                vla_tensor *t) {
    return vla__adp_find2(ad, kind, task, site, suffix, t, NULL);
}

static vla_status vla__bad(const vla_adapter *ad, const char *what) {
    vla__log(&ad->log, VLA_LOG_ERROR, "adapter file: %s", what, 0, 0);
    return VLA_ERR_FORMAT;
}

/* A 2-D F32 tensor [rows, cols] as a matrix. */
static int vla__t_mat(const vla_tensor *t, int rows, int cols, vla_mat *m) {
    if (t->n_dims != 2 || t->ne[0] != cols || t->ne[1] != rows) return 0;
    if (t->type != VLA_TYPE_F32 && t->type != VLA_TYPE_F16 && t->type != VLA_TYPE_Q8_0) return 0;
    m->type = t->type; m->rows = rows; m->cols = cols; m->data = t->data;
    return 1;
}
static int vla__t_vec(const vla_tensor *t, int n, const float **v) {
    if (t->type != VLA_TYPE_F32 || t->nbytes != (uint64_t)n * 4 || (uintptr_t)t->data % 4) return 0;
    *v = (const float *)t->data;
    return 1;
}

static void vla__site_name(char *buf, size_t cap, int Le, int site, int lora) {
    static const char *enc_a[2] = {"attn", "ffn"}, *dec_a[3] = {"self", "cross", "ffn"};
    static const char *enc_l[2] = {"q", "v"}, *dec_l[4] = {"q", "v", "xq", "xv"};
    int per_e = 2, per_d = lora ? 4 : 3, l, k;
    const char *side, *what;
    if (site < per_e * Le) { l = site / per_e; k = site % per_e; side = "enc."; what = lora ? enc_l[k] : enc_a[k]; }
    else { site -= per_e * Le; l = site / per_d; k = site % per_d; side = "dec."; what = lora ? dec_l[k] : dec_a[k]; }
    vla__name(buf, cap, side, l, ".");
    vla__name(buf + VLA_STRLEN(buf), cap - VLA_STRLEN(buf), what, -1, "");
}

/* Compacter's PHM layer as a dense [out, in] matrix:
 *   H[in, out] = sum_i kron(rule_i [k, k], W_i [in/k, out/k]);  y = x H + b
 * so the weight in nn.Linear orientation is H^T. */
static void vla__phm_dense(float *Wt, const float *rule, const float *W, int k, int in, int out) {
    int P = in / k, Q = out / k, i, a, c2, r, q;
    VLA_MEMSET(Wt, 0, sizeof(float) * (size_t)in * out);
    for (i = 0; i < k; i++)
        for (a = 0; a < k; a++)
            for (c2 = 0; c2 < k; c2++) {
                float rv = rule[((size_t)i * k + a) * k + c2];
                for (r = 0; r < P; r++)
                    for (q = 0; q < Q; q++)
                        Wt[(size_t)(c2 * Q + q) * in + (a * P + r)] += rv * W[((size_t)i * P + r) * Q + q];
            }
}

/* A PHM factor of shape [k, A, B]: stored whole as "<which>.<name>", or as
 * the product of "<which>.<name>_left" [k, A, r] and "_right" [k, r, B]
 * (Compacter's low-rank option, factor by factor), multiplied into the
 * arena's scratch (the caller releases it).  A rule may also be shared by a
 * site's two layers ("<site>.rule", Compacter's shared-rule option) or by
 * all tasks (task "*").  fill = 0: only count memory. */
static vla_status vla__phm_factor(vla_adapter *ad, vla_arena *a, int fill, vla_str task, const char *site, const char *which,
                                  const char *name, int *k, int *A, int *B, const float **out) {
    char suf[40];
    vla_tensor t, l, r;
    int i, x, y, z, R;
    float *p;
    vla__name(suf, sizeof suf, which, -1, ".");
    vla__name(suf + VLA_STRLEN(suf), sizeof suf - VLA_STRLEN(suf), name, -1, "");
    if (vla__adp_find(ad, "A", task, site, suf, &t) == VLA_OK) {
        if (t.n_dims != 3 || t.type != VLA_TYPE_F32 || t.ne[2] > 64 || t.ne[1] > 65536 || t.ne[0] > 65536) return vla__bad(ad, "Compacter factor must be 3-D F32");
        *k = (int)t.ne[2]; *A = (int)t.ne[1]; *B = (int)t.ne[0];
        *out = (const float *)t.data;
        return VLA_OK;
    }
    vla__name(suf + VLA_STRLEN(suf), sizeof suf - VLA_STRLEN(suf), "_left", -1, "");
    if (vla__adp_find(ad, "A", task, site, suf, &l) != VLA_OK) {
        /* a rule shared by the down and up layers of a site: "<site>.rule" */
        if (which[0] && name[0] == 'r') return vla__phm_factor(ad, a, fill, task, site, "", name, k, A, B, out);
        return VLA_ERR_NOT_FOUND;
    }
    suf[VLA_STRLEN(suf) - 5] = 0;
    vla__name(suf + VLA_STRLEN(suf), sizeof suf - VLA_STRLEN(suf), "_right", -1, "");
    if (vla__adp_find(ad, "A", task, site, suf, &r) != VLA_OK) return vla__bad(ad, "Compacter low-rank factor without its right half");
    if (l.n_dims != 3 || r.n_dims != 3 || l.type != VLA_TYPE_F32 || r.type != VLA_TYPE_F32 || l.ne[2] != r.ne[2] ||
        l.ne[0] != r.ne[1] || l.ne[2] > 64 || l.ne[1] > 65536 || r.ne[0] > 65536 || l.ne[0] > 65536)
        return vla__bad(ad, "Compacter low-rank factors do not agree");
    *k = (int)l.ne[2]; *A = (int)l.ne[1]; R = (int)l.ne[0]; *B = (int)r.ne[0];
    p = (float *)vla_arena_scratch(a, sizeof(float) * (size_t)*k * *A * *B);
    if (!p) return VLA_ERR_NOMEM;
    if (fill)
        for (i = 0; i < *k; i++) /* [A, B]_i = [A, R]_i [R, B]_i */
            for (x = 0; x < *A; x++)
                for (y = 0; y < *B; y++) {
                    float s = 0.0f;
                    for (z = 0; z < R; z++)
                        s += ((const float *)l.data)[((size_t)i * *A + x) * R + z] * ((const float *)r.data)[((size_t)i * R + z) * *B + y];
                    p[((size_t)i * *A + x) * *B + y] = s;
                }
    *out = p;
    return VLA_OK;
}

/* One adapter site of one task: plain down/up, or Compacter's PHM factors
 * made dense into the slot.  fill = 0: only count memory. */
static vla_status vla__load_adp_site(vla_adapter *ad, vla_arena *a, int fill, vla_str task, const char *site, vla__adp *out) {
    int d = ad->m->hp.d_model, half;
    vla_tensor t, tb;
    for (half = 0; half < 2; half++) {
        const char *which = half ? ".up" : ".down";
        char suf[32];
        vla__lin *L = half ? &out->up : &out->down;
        vla__name(suf, sizeof suf, which, -1, ".weight");
        if (vla__adp_find(ad, "A", task, site, suf, &t) == VLA_OK) { /* dense */
            int r = half ? (int)t.ne[0] : (int)t.ne[1];
            if (t.n_dims != 2 || r < 1 || r > 65536) return vla__bad(ad, "adapter weight is not 2-D");
            if (!vla__t_mat(&t, half ? d : r, half ? r : d, &L->w)) return vla__bad(ad, "adapter weight has the wrong shape or type");
            if (r > ad->max_dim) ad->max_dim = r;
        } else { /* Compacter: rule [k, k, k] and W [k, in/k, out/k], each whole or low-rank */
            const float *rule, *W;
            int k, k2, r1, r2, P, Q, in, outd;
            float *dense;
            size_t mark = vla_arena_scratch_mark(a);
            vla_status st;
            dense = NULL;
            if ((st = vla__phm_factor(ad, a, fill, task, site, which, "rule", &k, &r1, &r2, &rule)) != VLA_OK) {
                vla_arena_scratch_release(a, mark);
                return st;
            }
            if ((st = vla__phm_factor(ad, a, fill, task, site, which, "W", &k2, &P, &Q, &W)) != VLA_OK) {
                vla_arena_scratch_release(a, mark);
                return st == VLA_ERR_NOT_FOUND ? vla__bad(ad, "Compacter rule without W") : st;
            }
            if (k < 1 || k2 != k || r1 != k || r2 != k) { vla_arena_scratch_release(a, mark); return vla__bad(ad, "Compacter rule/W shapes do not agree"); }
            in = P * k; outd = Q * k;
            if ((half ? outd : in) != d || (half ? in : outd) > 65536) { vla_arena_scratch_release(a, mark); return vla__bad(ad, "Compacter layer does not match d_model"); }
            if ((half ? in : outd) > ad->max_dim) ad->max_dim = half ? in : outd;
            vla_arena_scratch_release(a, mark); /* the dense weight goes below the factors' scratch... */
            dense = (float *)vla_arena_alloc(a, sizeof(float) * (size_t)in * outd);
            if (!dense) return VLA_ERR_NOMEM;
            /* ...so recompute low-rank factors after it (cheap, exact) */
            if ((st = vla__phm_factor(ad, a, fill, task, site, which, "rule", &k, &r1, &r2, &rule)) != VLA_OK ||
                (st = vla__phm_factor(ad, a, fill, task, site, which, "W", &k2, &P, &Q, &W)) != VLA_OK) {
                vla_arena_scratch_release(a, mark);
                return st;
            }
            if (fill) vla__phm_dense(dense, rule, W, k, in, outd);
            vla_arena_scratch_release(a, mark);
            L->w.type = VLA_TYPE_F32; L->w.rows = outd; L->w.cols = in; L->w.data = dense;
        }
        vla__name(suf, sizeof suf, which, -1, ".bias");
        if (vla__adp_find(ad, "A", task, site, suf, &tb) != VLA_OK || !vla__t_vec(&tb, L->w.rows, &L->b))
            return vla__bad(ad, "adapter bias missing or of the wrong size");
    }
    if (out->down.w.rows != out->up.w.cols) return vla__bad(ad, "adapter down/up sizes differ");
    out->on = 1;
    return VLA_OK;
}

/* One LoRA site of one task: A [r, d], B [d, r]. */
static vla_status vla__load_lora_site(vla_adapter *ad, vla_str task, const char *site, vla__lora *out) {
    int d = ad->m->hp.d_model, r;
    vla_tensor A, Bt;
    if (vla__adp_find(ad, "L", task, site, ".A", &A) != VLA_OK) return VLA_ERR_NOT_FOUND;
    if (vla__adp_find(ad, "L", task, site, ".B", &Bt) != VLA_OK) return vla__bad(ad, "LoRA A without B");
    if (A.n_dims != 2 || A.ne[1] < 1 || A.ne[1] > 65536) return vla__bad(ad, "LoRA A is not 2-D");
    r = (int)A.ne[1];
    if (!vla__t_mat(&A, r, d, &out->A) || !vla__t_mat(&Bt, d, r, &out->B)) return vla__bad(ad, "LoRA A/B shapes do not match d_model");
    if (r > ad->max_dim) ad->max_dim = r;
    out->on = 1;
    return VLA_OK;
}

/* Prompt vectors of one task: stored precomputed ("P.<task>.prompt" [n, d]),
 * or computed here once: P = fc2(tanh(fc1(emb))) (the reparameterisation MLP). */
static vla_status vla__load_prompt(vla_adapter *ad, vla_arena *a, int fill, vla_str task, const float **out, int *n_out) {
    int d = ad->m->hp.d_model, n, mid;
    vla_tensor t, e, w1, b1, w2, b2;
    vla_mat m1, m2;
    const float *c1, *c2;
    float *P, *H;
    size_t mark;
    if (vla__adp_find(ad, "P", task, "prompt", "", &t) == VLA_OK) {
        if (t.n_dims != 2 || t.ne[0] != d || t.ne[1] > 4096 || t.type != VLA_TYPE_F32) return vla__bad(ad, "prompt is not [n, d_model] F32");
        *out = (const float *)t.data;
        *n_out = (int)t.ne[1];
        return VLA_OK;
    }
    if (vla__adp_find(ad, "P", task, "emb", "", &e) != VLA_OK) return VLA_ERR_NOT_FOUND;
    if (vla__adp_find(ad, "P", task, "fc1", ".weight", &w1) != VLA_OK || vla__adp_find(ad, "P", task, "fc1", ".bias", &b1) != VLA_OK ||
        vla__adp_find(ad, "P", task, "fc2", ".weight", &w2) != VLA_OK || vla__adp_find(ad, "P", task, "fc2", ".bias", &b2) != VLA_OK)
        return vla__bad(ad, "prompt MLP tensors missing");
    if (e.n_dims != 2 || e.ne[0] != d || e.ne[1] > 4096 || e.type != VLA_TYPE_F32 || w1.n_dims != 2 || w1.ne[1] > 1 << 20)
        return vla__bad(ad, "prompt embedding is not [n, d_model] F32");
    n = (int)e.ne[1];
    mid = (int)w1.ne[1];
    if (!vla__t_mat(&w1, mid, d, &m1) || !vla__t_vec(&b1, mid, &c1) || !vla__t_mat(&w2, d, mid, &m2) || !vla__t_vec(&b2, d, &c2))
        return vla__bad(ad, "prompt MLP shapes do not agree");
    P = (float *)vla_arena_alloc(a, sizeof(float) * (size_t)n * d);
    if (!P) return VLA_ERR_NOMEM;
    mark = vla_arena_scratch_mark(a);
    H = (float *)vla_arena_scratch(a, sizeof(float) * (size_t)n * mid);
    if (!H) return VLA_ERR_NOMEM;
    if (fill) {
        vla_exec ex;
        VLA_MEMSET(&ex, 0, sizeof ex);
        ex.n_threads = 1;
        vla_linear(&ex, H, (const float *)e.data, &m1, c1, n); /* [n, mid] */
        { size_t i; for (i = 0; i < (size_t)n * mid; i++) H[i] = VLA_TANHF(H[i]); }
        vla_linear(&ex, P, H, &m2, c2, n);                       /* [n, d]   */
    }
    vla_arena_scratch_release(a, mark);
    *out = P;
    *n_out = n;
    return VLA_OK;
}

/* Hyperformer: every adapter of one task, generated into the slot.
 *   e_l = LN_1e-6(W2 relu(W1 [task; layer_l] + c1) + c2)     per side, layer
 *   W_down = reshape(G e + g) [r, d],  b_down = Gb e + gb     per site type
 *   W_up   = reshape(G e + g) [d, r],  b_up   = Gb e + gb                    */
static vla_status vla__hyper_task(vla_adapter *ad, vla_arena *a, int fill, vla_str task, vla__adp *sites) {
    const vla_hparams *hp = &ad->m->hp;
    int d = hp->d_model, side, l, ty, E, hid, dp, half;
    char nm[96];
    vla_tensor temb, lemb, p1w, p1b, p2w, p2b, lnw, lnb, gw, gb, bw, bb;
    vla_mat m1, m2, mg, mb;
    const float *c1, *c2, *lg, *lb, *gbias, *bbias;
    static const char *types_e[2] = {"attn", "ffn"}, *types_d[3] = {"self", "cross", "ffn"};
    size_t mark;
    float *in, *h1, *e;
    vla_str none;
    none.s = ""; none.n = 0;
    (void)none;
    vla__name(nm, sizeof nm, "H.task.", -1, "");
    {
        size_t k, n = VLA_STRLEN(nm);
        for (k = 0; k < task.n && n + 1 < sizeof nm; k++) nm[n++] = task.s[k];
        nm[n] = 0;
    }
    if (vla_gguf_get_tensor(&ad->gguf, nm, &temb) != VLA_OK) return vla__bad(ad, "Hyperformer task embedding H.task.<task> missing");
    if (temb.n_dims != 1 || temb.type != VLA_TYPE_F32 || temb.ne[0] > 65536) return vla__bad(ad, "Hyperformer task embedding malformed");
    E = (int)temb.ne[0];
    mark = vla_arena_scratch_mark(a);
    in = (float *)vla_arena_scratch(a, sizeof(float) * 2 * (size_t)E);
    h1 = (float *)vla_arena_scratch(a, sizeof(float) * 65536);
    e = (float *)vla_arena_scratch(a, sizeof(float) * 4096);
    if (!in || !h1 || !e) return VLA_ERR_NOMEM;
    for (side = 0; side < 2; side++) {
        const char *sd = side ? "H.dec." : "H.enc.";
        int nl = side ? hp->n_dec_layers : hp->n_enc_layers, nty = side ? 3 : 2;
#define VLA__HT(var, suffix) (vla__name(nm, sizeof nm, sd, -1, suffix), vla_gguf_get_tensor(&ad->gguf, nm, &var) == VLA_OK)
        if (!VLA__HT(lemb, "layer_emb") || !VLA__HT(p1w, "proj1.weight") || !VLA__HT(p1b, "proj1.bias") || !VLA__HT(p2w, "proj2.weight") ||
            !VLA__HT(p2b, "proj2.bias") || !VLA__HT(lnw, "ln.weight") || !VLA__HT(lnb, "ln.bias"))
            return vla__bad(ad, "Hyperformer controller tensors missing");
        if (lemb.n_dims != 2 || lemb.ne[0] != E || lemb.ne[1] < nl || lemb.type != VLA_TYPE_F32) return vla__bad(ad, "Hyperformer layer embedding malformed");
        hid = (int)p1w.ne[1];
        dp = (int)p2w.ne[1];
        if (p1w.n_dims != 2 || hid < 1 || hid > 65536 || dp < 1 || dp > 4096 || !vla__t_mat(&p1w, hid, 2 * E, &m1) ||
            !vla__t_vec(&p1b, hid, &c1) || !vla__t_mat(&p2w, dp, hid, &m2) || !vla__t_vec(&p2b, dp, &c2) ||
            !vla__t_vec(&lnw, dp, &lg) || !vla__t_vec(&lnb, dp, &lb))
            return vla__bad(ad, "Hyperformer projector shapes do not agree");
        for (l = 0; l < nl; l++) {
            if (fill) {
                VLA_MEMCPY(in, temb.data, sizeof(float) * (size_t)E);                        /* [task; layer] */
                VLA_MEMCPY(in + E, (const float *)lemb.data + (size_t)l * E, sizeof(float) * (size_t)E);
                vla_linear_ref(h1, in, &m1, c1, 1);
                vla_relu(h1, (size_t)hid);
                vla_linear_ref(e, h1, &m2, c2, 1);
                vla_layernorm(e, e, lg, lb, 1, dp, 1e-6f);
            }
            for (ty = 0; ty < nty; ty++) {
                int site = side ? 2 * hp->n_enc_layers + 3 * l + ty : 2 * l + ty;
                vla__adp *S = &sites[site];
                vla__adp tmp;
                if (!fill) S = &tmp;
                for (half = 0; half < 2; half++) {
                    char pre[48];
                    int r, outd, ind;
                    float *W, *bvec;
                    vla__lin *L = half ? &S->up : &S->down;
                    vla__name(pre, sizeof pre, side ? types_d[ty] : types_e[ty], -1, half ? ".up." : ".down.");
#define VLA__HG(var, suffix) (vla__name(nm, sizeof nm, sd, -1, pre), vla__name(nm + VLA_STRLEN(nm), sizeof nm - VLA_STRLEN(nm), suffix, -1, ""), vla_gguf_get_tensor(&ad->gguf, nm, &var) == VLA_OK)
                    if (!VLA__HG(gw, "wgen.weight") || !VLA__HG(gb, "wgen.bias") || !VLA__HG(bw, "bgen.weight") || !VLA__HG(bb, "bgen.bias"))
                        return vla__bad(ad, "Hyperformer generator tensors missing");
#undef VLA__HG
                    if (bw.n_dims != 2 || bw.ne[1] < 1 || bw.ne[1] > 65536) return vla__bad(ad, "Hyperformer bias generator malformed");
                    outd = (int)bw.ne[1];
                    r = half ? 0 : outd;
                    if (half && outd != d) return vla__bad(ad, "Hyperformer up-projection must produce d_model");
                    if (half) r = gw.n_dims == 2 ? (int)(gw.ne[1] / d) : 0;
                    ind = half ? r : d;
                    if (r < 1 || gw.n_dims != 2 || gw.ne[1] != (int64_t)outd * ind || !vla__t_mat(&gw, outd * ind, dp, &mg) ||
                        !vla__t_vec(&gb, outd * ind, &gbias) || !vla__t_mat(&bw, outd, dp, &mb) || !vla__t_vec(&bb, outd, &bbias))
                        return vla__bad(ad, "Hyperformer generator shapes do not agree");
                    if (r > ad->max_dim) ad->max_dim = r;
                    W = (float *)vla_arena_alloc(a, sizeof(float) * (size_t)outd * ind);
                    bvec = (float *)vla_arena_alloc(a, sizeof(float) * (size_t)outd);
                    if (!W || !bvec) return VLA_ERR_NOMEM;
                    if (fill) {
                        vla_exec ex;
                        VLA_MEMSET(&ex, 0, sizeof ex);
                        ex.n_threads = 1;
                        vla_linear(&ex, W, e, &mg, gbias, 1);    /* [outd * ind], row-major [out, in] */
                        vla_linear(&ex, bvec, e, &mb, bbias, 1); /* [outd] */
                    }
                    L->w.type = VLA_TYPE_F32; L->w.rows = outd; L->w.cols = ind; L->w.data = W; L->b = bvec;
                }
                S->on = 1;
            }
        }
#undef VLA__HT
    }
    vla_arena_scratch_release(a, mark);
    (void)hid;
    return VLA_OK;
}

/* 1 if every tensor of a Compacter site that task resolves is the one all
 * tasks share ("*"): rules (whole, low-rank or the site's), W (whole or
 * low-rank) and biases.  Only then is an earlier task's module the same. */
static int vla__site_shared(const vla_adapter *ad, vla_str task, const char *site) {
    static const char *sfx[] = {".down.rule", ".up.rule", ".down.rule_left", ".down.rule_right", ".up.rule_left", ".up.rule_right",
                                ".rule", ".down.W", ".up.W", ".down.W_left", ".down.W_right", ".up.W_left", ".up.W_right",
                                ".down.bias", ".up.bias"};
    unsigned i;
    int found_bias = 0;
    for (i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
        vla_tensor x;
        int shared = 0;
        if (vla__adp_find2(ad, "A", task, site, sfx[i], &x, &shared) != VLA_OK) continue;
        if (!shared) return 0;
        if (i >= 13) found_bias++;
    }
    return found_bias == 2;
}

/* Lay out (fill = 0: only count) or build (fill = 1) an attached slot. */
static vla_status vla__adapter_build(vla_adapter *ad, vla_arena *a, int fill) {
    const vla_model *m = ad->m;
    const vla_hparams *hp = &m->hp;
    vla_gguf_kv kv, kpre, knb, kml;
    vla_str sv;
    int Le = hp->n_enc_layers, Ld = hp->n_dec_layers, n_adp = 2 * Le + 3 * Ld, n_lora = 2 * Le + 4 * Ld, ti, si, any;
    char site[40];
    vla_status st;
    float alpha = 0.0f;
    int have_pre, have_nb, have_ml;
    if (vla_gguf_get_str(&ad->gguf, "general.type", &sv) != VLA_OK || !vla__str_eq(sv, "adapter", 7))
        return vla__bad(ad, "not an adapter file (general.type is not \"adapter\")");
    if (vla_gguf_get_str(&ad->gguf, "vladapter.adapter.method", &sv) != VLA_OK) return vla__bad(ad, "no vladapter.adapter.method");
    for (ad->method = 1; ad->method <= VLA__M_PROMPT; ad->method++)
        if (vla__str_eq(sv, vla__method_names[ad->method], VLA_STRLEN(vla__method_names[ad->method]))) break;
    if (ad->method > VLA__M_PROMPT) return vla__bad(ad, "unknown method (adapter, compacter, hyperformer, lora, prompt)");
    if (vla_gguf_get_kv(&ad->gguf, "vladapter.adapter.base_fingerprint", &kv) == VLA_OK) {
        uint64_t want = kv.type == VLA_GGUF_U64 ? vla__rd64(kv.val) : 0, have = vla_model_fingerprint(m);
        if (want != have) {
            vla__log(&ad->log, VLA_LOG_ERROR, "adapter file: made for a different base model (fingerprint mismatch)", 0, 0, 0);
            return VLA_ERR_MISMATCH;
        }
    } else if (vla_model_fingerprint(m) != 0) {
        vla__log(&ad->log, VLA_LOG_ERROR, "adapter file: no base fingerprint, refusing to attach it", 0, 0, 0);
        return VLA_ERR_MISMATCH;
    }
    if (vla_gguf_get_kv(&ad->gguf, "vladapter.adapter.tasks", &kv) != VLA_OK || kv.type != VLA_GGUF_ARRAY ||
        kv.arr_type != VLA_GGUF_STRING || kv.arr_n < 1 || kv.arr_n > 256)
        return vla__bad(ad, "vladapter.adapter.tasks must list 1..256 task names");
    ad->n_tasks = (int)kv.arr_n;
    have_pre = vla_gguf_get_kv(&ad->gguf, "vladapter.adapter.prefixes", &kpre) == VLA_OK && kpre.type == VLA_GGUF_ARRAY &&
               kpre.arr_type == VLA_GGUF_STRING && kpre.arr_n == kv.arr_n;
    have_nb = vla_gguf_get_kv(&ad->gguf, "vladapter.adapter.num_beams", &knb) == VLA_OK && knb.arr_n == kv.arr_n;
    have_ml = vla_gguf_get_kv(&ad->gguf, "vladapter.adapter.max_length", &kml) == VLA_OK && kml.arr_n == kv.arr_n;
    if (vla_gguf_get_f32(&ad->gguf, "vladapter.adapter.lora_alpha", &alpha) != VLA_OK) alpha = 0.0f;
    if (vla_gguf_get_str(&ad->gguf, "vladapter.adapter.activation", &sv) == VLA_OK) {
        if (vla__str_eq(sv, "gelu", 4)) ad->exact_gelu = 1;
        else if (!vla__str_eq(sv, "gelu_new", 8)) return vla__bad(ad, "vladapter.adapter.activation must be gelu_new or gelu");
    }
    /* the weights view: base tensors, replaced where the file has the same name */
    ad->w.enc = (vla__enc_layer *)vla_arena_alloc(a, sizeof(vla__enc_layer) * (size_t)(Le + 1));
    ad->w.dec = (vla__dec_layer *)vla_arena_alloc(a, sizeof(vla__dec_layer) * (size_t)(Ld + 1));
    ad->tasks = (vla__task *)vla_arena_alloc(a, sizeof(vla__task) * (size_t)ad->n_tasks);
    if (!ad->w.enc || !ad->w.dec || !ad->tasks) return VLA_ERR_NOMEM;
    if (fill && hp->has_bart) {
        vla__src src;
        src.g[0] = &ad->gguf; src.g[1] = &m->gguf; src.n = 2; src.log = &ad->log;
        if ((st = vla__load_weights(&src, hp, &ad->w)) != VLA_OK) return st;
    }
    for (ti = 0; ti < ad->n_tasks; ti++) {
        vla__task tt, *T = fill ? &ad->tasks[ti] : &tt;
        VLA_MEMSET(T, 0, sizeof *T);
        vla__kv_str_at(&kv, (uint64_t)ti, &T->name);
        if (T->name.n == 0 || T->name.n > 32) return vla__bad(ad, "task names must have 1..32 bytes");
        if (have_pre) vla__kv_str_at(&kpre, (uint64_t)ti, &T->prefix);
        else { T->prefix.s = ""; T->prefix.n = 0; }
        T->preset = vla_gen_defaults(m);
        if (have_nb) T->preset.num_beams = (int)vla__kv_u32_at(&knb, (uint64_t)ti, (uint32_t)T->preset.num_beams);
        if (have_ml) T->preset.max_length = (int)vla__kv_u32_at(&kml, (uint64_t)ti, (uint32_t)T->preset.max_length);
        if (T->preset.num_beams < 1 || T->preset.num_beams > 64 || T->preset.max_length < 2 || T->preset.max_length > 4096)
            return vla__bad(ad, "task decoding preset out of range");
        T->has_preset = have_nb || have_ml;
        any = 0;
        if (ad->method == VLA__M_ADAPTER || ad->method == VLA__M_COMPACTER || ad->method == VLA__M_HYPERFORMER) {
            T->adp = (vla__adp *)vla_arena_alloc(a, sizeof(vla__adp) * (size_t)n_adp);
            if (!T->adp) return VLA_ERR_NOMEM;
            if (fill) VLA_MEMSET(T->adp, 0, sizeof(vla__adp) * (size_t)n_adp);
            if (ad->method == VLA__M_HYPERFORMER) {
                if ((st = vla__hyper_task(ad, a, fill, T->name, T->adp)) != VLA_OK) return st;
                any = 1;
            } else {
                for (si = 0; si < n_adp; si++) {
                    vla__adp tmp, *S = fill ? &T->adp[si] : &tmp;
                    int tj;
                    vla__site_name(site, sizeof site, Le, si, 0);
                    /* a module shared by all tasks ("*") is made once: later tasks reuse it */
                    if (ad->method == VLA__M_COMPACTER && ti > 0 && vla__site_shared(ad, T->name, site)) {
                        for (tj = 0; tj < ti; tj++) { /* any earlier task whose site is all "*" too */
                            vla_str on;
                            if (fill) on = ad->tasks[tj].name;
                            else { vla__kv_str_at(&kv, (uint64_t)tj, &on); }
                            if (vla__site_shared(ad, on, site)) break;
                        }
                        if (tj < ti) { if (fill) *S = ad->tasks[tj].adp[si]; any = 1; continue; }
                    }
                    st = vla__load_adp_site(ad, a, fill, T->name, site, S);
                    if (st == VLA_OK) any = 1;
                    else if (st != VLA_ERR_NOT_FOUND) return st;
                }
            }
        } else if (ad->method == VLA__M_LORA) {
            T->lora = (vla__lora *)vla_arena_alloc(a, sizeof(vla__lora) * (size_t)n_lora);
            if (!T->lora) return VLA_ERR_NOMEM;
            if (fill) VLA_MEMSET(T->lora, 0, sizeof(vla__lora) * (size_t)n_lora);
            for (si = 0; si < n_lora; si++) {
                vla__lora tmp, *S = fill ? &T->lora[si] : &tmp;
                vla__site_name(site, sizeof site, Le, si, 1);
                st = vla__load_lora_site(ad, T->name, site, S);
                if (st == VLA_OK) any = 1;
                else if (st != VLA_ERR_NOT_FOUND) return st;
            }
        } else {
            /* a prompt every task shares ("*") is computed once: later tasks reuse it */
            vla_tensor probe;
            int shared = 0, tj;
            if (ti > 0 && (vla__adp_find2(ad, "P", T->name, "emb", "", &probe, &shared) == VLA_OK ||
                           vla__adp_find2(ad, "P", T->name, "prompt", "", &probe, &shared) == VLA_OK) && shared) {
                for (tj = 0; tj < ti; tj++) {
                    vla_str on;
                    int sh2 = 0;
                    if (fill) on = ad->tasks[tj].name;
                    else vla__kv_str_at(&kv, (uint64_t)tj, &on);
                    if ((vla__adp_find2(ad, "P", on, "emb", "", &probe, &sh2) == VLA_OK ||
                         vla__adp_find2(ad, "P", on, "prompt", "", &probe, &sh2) == VLA_OK) && sh2)
                        break;
                }
                if (tj < ti) {
                    if (fill) { T->prompt = ad->tasks[tj].prompt; T->n_prompt = ad->tasks[tj].n_prompt; }
                    continue;
                }
            }
            st = vla__load_prompt(ad, a, fill, T->name, &T->prompt, &T->n_prompt);
            if (st == VLA_OK) any = 1;
            else if (st != VLA_ERR_NOT_FOUND) return st;
        }
        if (!any) return vla__bad(ad, "a task has no modules");
    }
    ad->lora_scale = (ad->method == VLA__M_LORA && ad->max_dim > 0) ? (alpha > 0.0f ? alpha : (float)ad->max_dim) / (float)ad->max_dim : 1.0f;
    return VLA_OK;
}

VLA_DEF vla_status vla_adapter_mem_req(const vla_model *m, const void *file, size_t size, size_t *bytes) {
    vla_arena a;
    vla_adapter tmp;
    vla_status st;
    if (!m || !file || !bytes) return VLA_ERR_ARGS;
    vla_arena_init_measure(&a);
    if (!vla_arena_alloc(&a, sizeof(vla_adapter))) return VLA_ERR_NOMEM;
    VLA_MEMSET(&tmp, 0, sizeof tmp);
    tmp.m = m;
    if ((st = vla_gguf_open(&tmp.gguf, file, size, &a)) != VLA_OK) return st;
    if ((st = vla__adapter_build(&tmp, &a, 0)) != VLA_OK) return st;
    *bytes = a.peak_total + VLA_ALIGN;
    return VLA_OK;
}

VLA_DEF vla_status vla_adapter_attach(vla_adapter **out, const vla_model *m, void *mem, size_t mem_size, const void *file,
                                      size_t size, const vla_logger *log) {
    vla_arena a;
    vla_adapter *ad;
    vla_status st;
    if (!out || !m || !mem || !file) return VLA_ERR_ARGS;
    *out = NULL;
    if (!m->hp.has_bart) return VLA_ERR_UNSUPPORTED;
    vla_arena_init(&a, mem, mem_size);
    if (log) a.log = *log;
    ad = (vla_adapter *)vla_arena_alloc(&a, sizeof(vla_adapter));
    if (!ad) return VLA_ERR_NOMEM;
    VLA_MEMSET(ad, 0, sizeof *ad);
    ad->m = m;
    if (log) ad->log = *log;
    if ((st = vla_gguf_open(&ad->gguf, file, size, &a)) != VLA_OK) {
        if (st == VLA_ERR_FORMAT) vla__log(log, VLA_LOG_ERROR, "adapter file: not a valid GGUF file", 0, 0, 0);
        return st;
    }
    if ((st = vla__adapter_build(ad, &a, 1)) != VLA_OK) {
        if (st == VLA_ERR_NOMEM) {
            size_t need = 0;
            unsigned long long n;
            vla_adapter_mem_req(m, file, size, &need);
            n = need;
            vla__log(log, VLA_LOG_ERROR, "adapter slot: %llu bytes of memory needed (vla_adapter_mem_req)", &n, 0, 0);
        }
        return st;
    }
    ad->attached = 1;
    *out = ad;
    return VLA_OK;
}

VLA_DEF void vla_adapter_detach(vla_adapter *a) { if (a) a->attached = 0; }
VLA_DEF const char *vla_adapter_method(const vla_adapter *a) { return a ? vla__method_names[a->method] : "none"; }
VLA_DEF int vla_adapter_n_tasks(const vla_adapter *a) { return a ? a->n_tasks : 0; }
VLA_DEF int vla_adapter_max_dim(const vla_adapter *a) { return a ? a->max_dim : 0; }
VLA_DEF int vla_adapter_prompt_len(const vla_adapter *a) {
    int i, n = 0;
    for (i = 0; a && i < a->n_tasks; i++)
        if (a->tasks[i].prompt && a->tasks[i].n_prompt > n) n = a->tasks[i].n_prompt;
    return n;
}

VLA_DEF int vla_adapter_find_task(const vla_adapter *a, const char *task) {
    int i;
    if (!a || !task) return -1;
    for (i = 0; i < a->n_tasks; i++)
        if (vla__str_eq(a->tasks[i].name, task, VLA_STRLEN(task))) return i;
    return -1;
}

VLA_DEF vla_status vla_adapter_task(const vla_adapter *a, int i, vla_str *name, vla_str *prefix, vla_gen_params *preset) {
    if (!a || i < 0 || i >= a->n_tasks) return VLA_ERR_ARGS;
    if (name) *name = a->tasks[i].name;
    if (prefix) *prefix = a->tasks[i].prefix;
    if (preset) *preset = a->tasks[i].preset;
    return VLA_OK;
}


/* ==========================================================================
 * [I13] Tokenizer
 * ========================================================================== */

/* ---- Unicode 15.0 classes ------------------------------------------------
 * The pre-split must use Unicode 15.0 (the `regex` module that produced the
 * reference outputs), not an older table: U+11F04 (a letter new in 15.0)
 * followed by "'s" ends with the contraction 's only with 15.0 classes. */

/* BEGIN generated by tools/gen_unicode_tables.c from Unicode 15.0.0 UnicodeData.txt and
 * PropList.txt (25 White_Space code points). Do not edit; rebuild with
 *   cc -std=c99 -O2 -o gen_unicode_tables tools/gen_unicode_tables.c
 *   ./gen_unicode_tables /usr/share/unicode > tables.inc
 * and paste tables.inc over this block. */
/* L* = Lu Ll Lt Lm Lo: 659 ranges */
static const uint32_t vla__uc_letter[659][2] = {
    {0x41, 0x5A}, {0x61, 0x7A}, {0xAA, 0xAA}, {0xB5, 0xB5}, {0xBA, 0xBA},
    {0xC0, 0xD6}, {0xD8, 0xF6}, {0xF8, 0x2C1}, {0x2C6, 0x2D1}, {0x2E0, 0x2E4},
    {0x2EC, 0x2EC}, {0x2EE, 0x2EE}, {0x370, 0x374}, {0x376, 0x377}, {0x37A, 0x37D},
    {0x37F, 0x37F}, {0x386, 0x386}, {0x388, 0x38A}, {0x38C, 0x38C}, {0x38E, 0x3A1},
    {0x3A3, 0x3F5}, {0x3F7, 0x481}, {0x48A, 0x52F}, {0x531, 0x556}, {0x559, 0x559},
    {0x560, 0x588}, {0x5D0, 0x5EA}, {0x5EF, 0x5F2}, {0x620, 0x64A}, {0x66E, 0x66F},
    {0x671, 0x6D3}, {0x6D5, 0x6D5}, {0x6E5, 0x6E6}, {0x6EE, 0x6EF}, {0x6FA, 0x6FC},
    {0x6FF, 0x6FF}, {0x710, 0x710}, {0x712, 0x72F}, {0x74D, 0x7A5}, {0x7B1, 0x7B1},
    {0x7CA, 0x7EA}, {0x7F4, 0x7F5}, {0x7FA, 0x7FA}, {0x800, 0x815}, {0x81A, 0x81A},
    {0x824, 0x824}, {0x828, 0x828}, {0x840, 0x858}, {0x860, 0x86A}, {0x870, 0x887},
    {0x889, 0x88E}, {0x8A0, 0x8C9}, {0x904, 0x939}, {0x93D, 0x93D}, {0x950, 0x950},
    {0x958, 0x961}, {0x971, 0x980}, {0x985, 0x98C}, {0x98F, 0x990}, {0x993, 0x9A8},
    {0x9AA, 0x9B0}, {0x9B2, 0x9B2}, {0x9B6, 0x9B9}, {0x9BD, 0x9BD}, {0x9CE, 0x9CE},
    {0x9DC, 0x9DD}, {0x9DF, 0x9E1}, {0x9F0, 0x9F1}, {0x9FC, 0x9FC}, {0xA05, 0xA0A},
    {0xA0F, 0xA10}, {0xA13, 0xA28}, {0xA2A, 0xA30}, {0xA32, 0xA33}, {0xA35, 0xA36},
    {0xA38, 0xA39}, {0xA59, 0xA5C}, {0xA5E, 0xA5E}, {0xA72, 0xA74}, {0xA85, 0xA8D},
    {0xA8F, 0xA91}, {0xA93, 0xAA8}, {0xAAA, 0xAB0}, {0xAB2, 0xAB3}, {0xAB5, 0xAB9},
    {0xABD, 0xABD}, {0xAD0, 0xAD0}, {0xAE0, 0xAE1}, {0xAF9, 0xAF9}, {0xB05, 0xB0C},
    {0xB0F, 0xB10}, {0xB13, 0xB28}, {0xB2A, 0xB30}, {0xB32, 0xB33}, {0xB35, 0xB39},
    {0xB3D, 0xB3D}, {0xB5C, 0xB5D}, {0xB5F, 0xB61}, {0xB71, 0xB71}, {0xB83, 0xB83},
    {0xB85, 0xB8A}, {0xB8E, 0xB90}, {0xB92, 0xB95}, {0xB99, 0xB9A}, {0xB9C, 0xB9C},
    {0xB9E, 0xB9F}, {0xBA3, 0xBA4}, {0xBA8, 0xBAA}, {0xBAE, 0xBB9}, {0xBD0, 0xBD0},
    {0xC05, 0xC0C}, {0xC0E, 0xC10}, {0xC12, 0xC28}, {0xC2A, 0xC39}, {0xC3D, 0xC3D},
    {0xC58, 0xC5A}, {0xC5D, 0xC5D}, {0xC60, 0xC61}, {0xC80, 0xC80}, {0xC85, 0xC8C},
    {0xC8E, 0xC90}, {0xC92, 0xCA8}, {0xCAA, 0xCB3}, {0xCB5, 0xCB9}, {0xCBD, 0xCBD},
    {0xCDD, 0xCDE}, {0xCE0, 0xCE1}, {0xCF1, 0xCF2}, {0xD04, 0xD0C}, {0xD0E, 0xD10},
    {0xD12, 0xD3A}, {0xD3D, 0xD3D}, {0xD4E, 0xD4E}, {0xD54, 0xD56}, {0xD5F, 0xD61},
    {0xD7A, 0xD7F}, {0xD85, 0xD96}, {0xD9A, 0xDB1}, {0xDB3, 0xDBB}, {0xDBD, 0xDBD},
    {0xDC0, 0xDC6}, {0xE01, 0xE30}, {0xE32, 0xE33}, {0xE40, 0xE46}, {0xE81, 0xE82},
    {0xE84, 0xE84}, {0xE86, 0xE8A}, {0xE8C, 0xEA3}, {0xEA5, 0xEA5}, {0xEA7, 0xEB0},
    {0xEB2, 0xEB3}, {0xEBD, 0xEBD}, {0xEC0, 0xEC4}, {0xEC6, 0xEC6}, {0xEDC, 0xEDF},
    {0xF00, 0xF00}, {0xF40, 0xF47}, {0xF49, 0xF6C}, {0xF88, 0xF8C}, {0x1000, 0x102A},
    {0x103F, 0x103F}, {0x1050, 0x1055}, {0x105A, 0x105D}, {0x1061, 0x1061}, {0x1065, 0x1066},
    {0x106E, 0x1070}, {0x1075, 0x1081}, {0x108E, 0x108E}, {0x10A0, 0x10C5}, {0x10C7, 0x10C7},
    {0x10CD, 0x10CD}, {0x10D0, 0x10FA}, {0x10FC, 0x1248}, {0x124A, 0x124D}, {0x1250, 0x1256},
    {0x1258, 0x1258}, {0x125A, 0x125D}, {0x1260, 0x1288}, {0x128A, 0x128D}, {0x1290, 0x12B0},
    {0x12B2, 0x12B5}, {0x12B8, 0x12BE}, {0x12C0, 0x12C0}, {0x12C2, 0x12C5}, {0x12C8, 0x12D6},
    {0x12D8, 0x1310}, {0x1312, 0x1315}, {0x1318, 0x135A}, {0x1380, 0x138F}, {0x13A0, 0x13F5},
    {0x13F8, 0x13FD}, {0x1401, 0x166C}, {0x166F, 0x167F}, {0x1681, 0x169A}, {0x16A0, 0x16EA},
    {0x16F1, 0x16F8}, {0x1700, 0x1711}, {0x171F, 0x1731}, {0x1740, 0x1751}, {0x1760, 0x176C},
    {0x176E, 0x1770}, {0x1780, 0x17B3}, {0x17D7, 0x17D7}, {0x17DC, 0x17DC}, {0x1820, 0x1878},
    {0x1880, 0x1884}, {0x1887, 0x18A8}, {0x18AA, 0x18AA}, {0x18B0, 0x18F5}, {0x1900, 0x191E},
    {0x1950, 0x196D}, {0x1970, 0x1974}, {0x1980, 0x19AB}, {0x19B0, 0x19C9}, {0x1A00, 0x1A16},
    {0x1A20, 0x1A54}, {0x1AA7, 0x1AA7}, {0x1B05, 0x1B33}, {0x1B45, 0x1B4C}, {0x1B83, 0x1BA0},
    {0x1BAE, 0x1BAF}, {0x1BBA, 0x1BE5}, {0x1C00, 0x1C23}, {0x1C4D, 0x1C4F}, {0x1C5A, 0x1C7D},
    {0x1C80, 0x1C88}, {0x1C90, 0x1CBA}, {0x1CBD, 0x1CBF}, {0x1CE9, 0x1CEC}, {0x1CEE, 0x1CF3},
    {0x1CF5, 0x1CF6}, {0x1CFA, 0x1CFA}, {0x1D00, 0x1DBF}, {0x1E00, 0x1F15}, {0x1F18, 0x1F1D},
    {0x1F20, 0x1F45}, {0x1F48, 0x1F4D}, {0x1F50, 0x1F57}, {0x1F59, 0x1F59}, {0x1F5B, 0x1F5B},
    {0x1F5D, 0x1F5D}, {0x1F5F, 0x1F7D}, {0x1F80, 0x1FB4}, {0x1FB6, 0x1FBC}, {0x1FBE, 0x1FBE},
    {0x1FC2, 0x1FC4}, {0x1FC6, 0x1FCC}, {0x1FD0, 0x1FD3}, {0x1FD6, 0x1FDB}, {0x1FE0, 0x1FEC},
    {0x1FF2, 0x1FF4}, {0x1FF6, 0x1FFC}, {0x2071, 0x2071}, {0x207F, 0x207F}, {0x2090, 0x209C},
    {0x2102, 0x2102}, {0x2107, 0x2107}, {0x210A, 0x2113}, {0x2115, 0x2115}, {0x2119, 0x211D},
    {0x2124, 0x2124}, {0x2126, 0x2126}, {0x2128, 0x2128}, {0x212A, 0x212D}, {0x212F, 0x2139},
    {0x213C, 0x213F}, {0x2145, 0x2149}, {0x214E, 0x214E}, {0x2183, 0x2184}, {0x2C00, 0x2CE4},
    {0x2CEB, 0x2CEE}, {0x2CF2, 0x2CF3}, {0x2D00, 0x2D25}, {0x2D27, 0x2D27}, {0x2D2D, 0x2D2D},
    {0x2D30, 0x2D67}, {0x2D6F, 0x2D6F}, {0x2D80, 0x2D96}, {0x2DA0, 0x2DA6}, {0x2DA8, 0x2DAE},
    {0x2DB0, 0x2DB6}, {0x2DB8, 0x2DBE}, {0x2DC0, 0x2DC6}, {0x2DC8, 0x2DCE}, {0x2DD0, 0x2DD6},
    {0x2DD8, 0x2DDE}, {0x2E2F, 0x2E2F}, {0x3005, 0x3006}, {0x3031, 0x3035}, {0x303B, 0x303C},
    {0x3041, 0x3096}, {0x309D, 0x309F}, {0x30A1, 0x30FA}, {0x30FC, 0x30FF}, {0x3105, 0x312F},
    {0x3131, 0x318E}, {0x31A0, 0x31BF}, {0x31F0, 0x31FF}, {0x3400, 0x4DBF}, {0x4E00, 0xA48C},
    {0xA4D0, 0xA4FD}, {0xA500, 0xA60C}, {0xA610, 0xA61F}, {0xA62A, 0xA62B}, {0xA640, 0xA66E},
    {0xA67F, 0xA69D}, {0xA6A0, 0xA6E5}, {0xA717, 0xA71F}, {0xA722, 0xA788}, {0xA78B, 0xA7CA},
    {0xA7D0, 0xA7D1}, {0xA7D3, 0xA7D3}, {0xA7D5, 0xA7D9}, {0xA7F2, 0xA801}, {0xA803, 0xA805},
    {0xA807, 0xA80A}, {0xA80C, 0xA822}, {0xA840, 0xA873}, {0xA882, 0xA8B3}, {0xA8F2, 0xA8F7},
    {0xA8FB, 0xA8FB}, {0xA8FD, 0xA8FE}, {0xA90A, 0xA925}, {0xA930, 0xA946}, {0xA960, 0xA97C},
    {0xA984, 0xA9B2}, {0xA9CF, 0xA9CF}, {0xA9E0, 0xA9E4}, {0xA9E6, 0xA9EF}, {0xA9FA, 0xA9FE},
    {0xAA00, 0xAA28}, {0xAA40, 0xAA42}, {0xAA44, 0xAA4B}, {0xAA60, 0xAA76}, {0xAA7A, 0xAA7A},
    {0xAA7E, 0xAAAF}, {0xAAB1, 0xAAB1}, {0xAAB5, 0xAAB6}, {0xAAB9, 0xAABD}, {0xAAC0, 0xAAC0},
    {0xAAC2, 0xAAC2}, {0xAADB, 0xAADD}, {0xAAE0, 0xAAEA}, {0xAAF2, 0xAAF4}, {0xAB01, 0xAB06},
    {0xAB09, 0xAB0E}, {0xAB11, 0xAB16}, {0xAB20, 0xAB26}, {0xAB28, 0xAB2E}, {0xAB30, 0xAB5A},
    {0xAB5C, 0xAB69}, {0xAB70, 0xABE2}, {0xAC00, 0xD7A3}, {0xD7B0, 0xD7C6}, {0xD7CB, 0xD7FB},
    {0xF900, 0xFA6D}, {0xFA70, 0xFAD9}, {0xFB00, 0xFB06}, {0xFB13, 0xFB17}, {0xFB1D, 0xFB1D},
    {0xFB1F, 0xFB28}, {0xFB2A, 0xFB36}, {0xFB38, 0xFB3C}, {0xFB3E, 0xFB3E}, {0xFB40, 0xFB41},
    {0xFB43, 0xFB44}, {0xFB46, 0xFBB1}, {0xFBD3, 0xFD3D}, {0xFD50, 0xFD8F}, {0xFD92, 0xFDC7},
    {0xFDF0, 0xFDFB}, {0xFE70, 0xFE74}, {0xFE76, 0xFEFC}, {0xFF21, 0xFF3A}, {0xFF41, 0xFF5A},
    {0xFF66, 0xFFBE}, {0xFFC2, 0xFFC7}, {0xFFCA, 0xFFCF}, {0xFFD2, 0xFFD7}, {0xFFDA, 0xFFDC},
    {0x10000, 0x1000B}, {0x1000D, 0x10026}, {0x10028, 0x1003A}, {0x1003C, 0x1003D}, {0x1003F, 0x1004D},
    {0x10050, 0x1005D}, {0x10080, 0x100FA}, {0x10280, 0x1029C}, {0x102A0, 0x102D0}, {0x10300, 0x1031F},
    {0x1032D, 0x10340}, {0x10342, 0x10349}, {0x10350, 0x10375}, {0x10380, 0x1039D}, {0x103A0, 0x103C3},
    {0x103C8, 0x103CF}, {0x10400, 0x1049D}, {0x104B0, 0x104D3}, {0x104D8, 0x104FB}, {0x10500, 0x10527},
    {0x10530, 0x10563}, {0x10570, 0x1057A}, {0x1057C, 0x1058A}, {0x1058C, 0x10592}, {0x10594, 0x10595},
    {0x10597, 0x105A1}, {0x105A3, 0x105B1}, {0x105B3, 0x105B9}, {0x105BB, 0x105BC}, {0x10600, 0x10736},
    {0x10740, 0x10755}, {0x10760, 0x10767}, {0x10780, 0x10785}, {0x10787, 0x107B0}, {0x107B2, 0x107BA},
    {0x10800, 0x10805}, {0x10808, 0x10808}, {0x1080A, 0x10835}, {0x10837, 0x10838}, {0x1083C, 0x1083C},
    {0x1083F, 0x10855}, {0x10860, 0x10876}, {0x10880, 0x1089E}, {0x108E0, 0x108F2}, {0x108F4, 0x108F5},
    {0x10900, 0x10915}, {0x10920, 0x10939}, {0x10980, 0x109B7}, {0x109BE, 0x109BF}, {0x10A00, 0x10A00},
    {0x10A10, 0x10A13}, {0x10A15, 0x10A17}, {0x10A19, 0x10A35}, {0x10A60, 0x10A7C}, {0x10A80, 0x10A9C},
    {0x10AC0, 0x10AC7}, {0x10AC9, 0x10AE4}, {0x10B00, 0x10B35}, {0x10B40, 0x10B55}, {0x10B60, 0x10B72},
    {0x10B80, 0x10B91}, {0x10C00, 0x10C48}, {0x10C80, 0x10CB2}, {0x10CC0, 0x10CF2}, {0x10D00, 0x10D23},
    {0x10E80, 0x10EA9}, {0x10EB0, 0x10EB1}, {0x10F00, 0x10F1C}, {0x10F27, 0x10F27}, {0x10F30, 0x10F45},
    {0x10F70, 0x10F81}, {0x10FB0, 0x10FC4}, {0x10FE0, 0x10FF6}, {0x11003, 0x11037}, {0x11071, 0x11072},
    {0x11075, 0x11075}, {0x11083, 0x110AF}, {0x110D0, 0x110E8}, {0x11103, 0x11126}, {0x11144, 0x11144},
    {0x11147, 0x11147}, {0x11150, 0x11172}, {0x11176, 0x11176}, {0x11183, 0x111B2}, {0x111C1, 0x111C4},
    {0x111DA, 0x111DA}, {0x111DC, 0x111DC}, {0x11200, 0x11211}, {0x11213, 0x1122B}, {0x1123F, 0x11240},
    {0x11280, 0x11286}, {0x11288, 0x11288}, {0x1128A, 0x1128D}, {0x1128F, 0x1129D}, {0x1129F, 0x112A8},
    {0x112B0, 0x112DE}, {0x11305, 0x1130C}, {0x1130F, 0x11310}, {0x11313, 0x11328}, {0x1132A, 0x11330},
    {0x11332, 0x11333}, {0x11335, 0x11339}, {0x1133D, 0x1133D}, {0x11350, 0x11350}, {0x1135D, 0x11361},
    {0x11400, 0x11434}, {0x11447, 0x1144A}, {0x1145F, 0x11461}, {0x11480, 0x114AF}, {0x114C4, 0x114C5},
    {0x114C7, 0x114C7}, {0x11580, 0x115AE}, {0x115D8, 0x115DB}, {0x11600, 0x1162F}, {0x11644, 0x11644},
    {0x11680, 0x116AA}, {0x116B8, 0x116B8}, {0x11700, 0x1171A}, {0x11740, 0x11746}, {0x11800, 0x1182B},
    {0x118A0, 0x118DF}, {0x118FF, 0x11906}, {0x11909, 0x11909}, {0x1190C, 0x11913}, {0x11915, 0x11916},
    {0x11918, 0x1192F}, {0x1193F, 0x1193F}, {0x11941, 0x11941}, {0x119A0, 0x119A7}, {0x119AA, 0x119D0},
    {0x119E1, 0x119E1}, {0x119E3, 0x119E3}, {0x11A00, 0x11A00}, {0x11A0B, 0x11A32}, {0x11A3A, 0x11A3A},
    {0x11A50, 0x11A50}, {0x11A5C, 0x11A89}, {0x11A9D, 0x11A9D}, {0x11AB0, 0x11AF8}, {0x11C00, 0x11C08},
    {0x11C0A, 0x11C2E}, {0x11C40, 0x11C40}, {0x11C72, 0x11C8F}, {0x11D00, 0x11D06}, {0x11D08, 0x11D09},
    {0x11D0B, 0x11D30}, {0x11D46, 0x11D46}, {0x11D60, 0x11D65}, {0x11D67, 0x11D68}, {0x11D6A, 0x11D89},
    {0x11D98, 0x11D98}, {0x11EE0, 0x11EF2}, {0x11F02, 0x11F02}, {0x11F04, 0x11F10}, {0x11F12, 0x11F33},
    {0x11FB0, 0x11FB0}, {0x12000, 0x12399}, {0x12480, 0x12543}, {0x12F90, 0x12FF0}, {0x13000, 0x1342F},
    {0x13441, 0x13446}, {0x14400, 0x14646}, {0x16800, 0x16A38}, {0x16A40, 0x16A5E}, {0x16A70, 0x16ABE},
    {0x16AD0, 0x16AED}, {0x16B00, 0x16B2F}, {0x16B40, 0x16B43}, {0x16B63, 0x16B77}, {0x16B7D, 0x16B8F},
    {0x16E40, 0x16E7F}, {0x16F00, 0x16F4A}, {0x16F50, 0x16F50}, {0x16F93, 0x16F9F}, {0x16FE0, 0x16FE1},
    {0x16FE3, 0x16FE3}, {0x17000, 0x187F7}, {0x18800, 0x18CD5}, {0x18D00, 0x18D08}, {0x1AFF0, 0x1AFF3},
    {0x1AFF5, 0x1AFFB}, {0x1AFFD, 0x1AFFE}, {0x1B000, 0x1B122}, {0x1B132, 0x1B132}, {0x1B150, 0x1B152},
    {0x1B155, 0x1B155}, {0x1B164, 0x1B167}, {0x1B170, 0x1B2FB}, {0x1BC00, 0x1BC6A}, {0x1BC70, 0x1BC7C},
    {0x1BC80, 0x1BC88}, {0x1BC90, 0x1BC99}, {0x1D400, 0x1D454}, {0x1D456, 0x1D49C}, {0x1D49E, 0x1D49F},
    {0x1D4A2, 0x1D4A2}, {0x1D4A5, 0x1D4A6}, {0x1D4A9, 0x1D4AC}, {0x1D4AE, 0x1D4B9}, {0x1D4BB, 0x1D4BB},
    {0x1D4BD, 0x1D4C3}, {0x1D4C5, 0x1D505}, {0x1D507, 0x1D50A}, {0x1D50D, 0x1D514}, {0x1D516, 0x1D51C},
    {0x1D51E, 0x1D539}, {0x1D53B, 0x1D53E}, {0x1D540, 0x1D544}, {0x1D546, 0x1D546}, {0x1D54A, 0x1D550},
    {0x1D552, 0x1D6A5}, {0x1D6A8, 0x1D6C0}, {0x1D6C2, 0x1D6DA}, {0x1D6DC, 0x1D6FA}, {0x1D6FC, 0x1D714},
    {0x1D716, 0x1D734}, {0x1D736, 0x1D74E}, {0x1D750, 0x1D76E}, {0x1D770, 0x1D788}, {0x1D78A, 0x1D7A8},
    {0x1D7AA, 0x1D7C2}, {0x1D7C4, 0x1D7CB}, {0x1DF00, 0x1DF1E}, {0x1DF25, 0x1DF2A}, {0x1E030, 0x1E06D},
    {0x1E100, 0x1E12C}, {0x1E137, 0x1E13D}, {0x1E14E, 0x1E14E}, {0x1E290, 0x1E2AD}, {0x1E2C0, 0x1E2EB},
    {0x1E4D0, 0x1E4EB}, {0x1E7E0, 0x1E7E6}, {0x1E7E8, 0x1E7EB}, {0x1E7ED, 0x1E7EE}, {0x1E7F0, 0x1E7FE},
    {0x1E800, 0x1E8C4}, {0x1E900, 0x1E943}, {0x1E94B, 0x1E94B}, {0x1EE00, 0x1EE03}, {0x1EE05, 0x1EE1F},
    {0x1EE21, 0x1EE22}, {0x1EE24, 0x1EE24}, {0x1EE27, 0x1EE27}, {0x1EE29, 0x1EE32}, {0x1EE34, 0x1EE37},
    {0x1EE39, 0x1EE39}, {0x1EE3B, 0x1EE3B}, {0x1EE42, 0x1EE42}, {0x1EE47, 0x1EE47}, {0x1EE49, 0x1EE49},
    {0x1EE4B, 0x1EE4B}, {0x1EE4D, 0x1EE4F}, {0x1EE51, 0x1EE52}, {0x1EE54, 0x1EE54}, {0x1EE57, 0x1EE57},
    {0x1EE59, 0x1EE59}, {0x1EE5B, 0x1EE5B}, {0x1EE5D, 0x1EE5D}, {0x1EE5F, 0x1EE5F}, {0x1EE61, 0x1EE62},
    {0x1EE64, 0x1EE64}, {0x1EE67, 0x1EE6A}, {0x1EE6C, 0x1EE72}, {0x1EE74, 0x1EE77}, {0x1EE79, 0x1EE7C},
    {0x1EE7E, 0x1EE7E}, {0x1EE80, 0x1EE89}, {0x1EE8B, 0x1EE9B}, {0x1EEA1, 0x1EEA3}, {0x1EEA5, 0x1EEA9},
    {0x1EEAB, 0x1EEBB}, {0x20000, 0x2A6DF}, {0x2A700, 0x2B739}, {0x2B740, 0x2B81D}, {0x2B820, 0x2CEA1},
    {0x2CEB0, 0x2EBE0}, {0x2F800, 0x2FA1D}, {0x30000, 0x3134A}, {0x31350, 0x323AF},
};
/* N* = Nd Nl No: 137 ranges */
static const uint32_t vla__uc_number[137][2] = {
    {0x30, 0x39}, {0xB2, 0xB3}, {0xB9, 0xB9}, {0xBC, 0xBE}, {0x660, 0x669},
    {0x6F0, 0x6F9}, {0x7C0, 0x7C9}, {0x966, 0x96F}, {0x9E6, 0x9EF}, {0x9F4, 0x9F9},
    {0xA66, 0xA6F}, {0xAE6, 0xAEF}, {0xB66, 0xB6F}, {0xB72, 0xB77}, {0xBE6, 0xBF2},
    {0xC66, 0xC6F}, {0xC78, 0xC7E}, {0xCE6, 0xCEF}, {0xD58, 0xD5E}, {0xD66, 0xD78},
    {0xDE6, 0xDEF}, {0xE50, 0xE59}, {0xED0, 0xED9}, {0xF20, 0xF33}, {0x1040, 0x1049},
    {0x1090, 0x1099}, {0x1369, 0x137C}, {0x16EE, 0x16F0}, {0x17E0, 0x17E9}, {0x17F0, 0x17F9},
    {0x1810, 0x1819}, {0x1946, 0x194F}, {0x19D0, 0x19DA}, {0x1A80, 0x1A89}, {0x1A90, 0x1A99},
    {0x1B50, 0x1B59}, {0x1BB0, 0x1BB9}, {0x1C40, 0x1C49}, {0x1C50, 0x1C59}, {0x2070, 0x2070},
    {0x2074, 0x2079}, {0x2080, 0x2089}, {0x2150, 0x2182}, {0x2185, 0x2189}, {0x2460, 0x249B},
    {0x24EA, 0x24FF}, {0x2776, 0x2793}, {0x2CFD, 0x2CFD}, {0x3007, 0x3007}, {0x3021, 0x3029},
    {0x3038, 0x303A}, {0x3192, 0x3195}, {0x3220, 0x3229}, {0x3248, 0x324F}, {0x3251, 0x325F},
    {0x3280, 0x3289}, {0x32B1, 0x32BF}, {0xA620, 0xA629}, {0xA6E6, 0xA6EF}, {0xA830, 0xA835},
    {0xA8D0, 0xA8D9}, {0xA900, 0xA909}, {0xA9D0, 0xA9D9}, {0xA9F0, 0xA9F9}, {0xAA50, 0xAA59},
    {0xABF0, 0xABF9}, {0xFF10, 0xFF19}, {0x10107, 0x10133}, {0x10140, 0x10178}, {0x1018A, 0x1018B},
    {0x102E1, 0x102FB}, {0x10320, 0x10323}, {0x10341, 0x10341}, {0x1034A, 0x1034A}, {0x103D1, 0x103D5},
    {0x104A0, 0x104A9}, {0x10858, 0x1085F}, {0x10879, 0x1087F}, {0x108A7, 0x108AF}, {0x108FB, 0x108FF},
    {0x10916, 0x1091B}, {0x109BC, 0x109BD}, {0x109C0, 0x109CF}, {0x109D2, 0x109FF}, {0x10A40, 0x10A48},
    {0x10A7D, 0x10A7E}, {0x10A9D, 0x10A9F}, {0x10AEB, 0x10AEF}, {0x10B58, 0x10B5F}, {0x10B78, 0x10B7F},
    {0x10BA9, 0x10BAF}, {0x10CFA, 0x10CFF}, {0x10D30, 0x10D39}, {0x10E60, 0x10E7E}, {0x10F1D, 0x10F26},
    {0x10F51, 0x10F54}, {0x10FC5, 0x10FCB}, {0x11052, 0x1106F}, {0x110F0, 0x110F9}, {0x11136, 0x1113F},
    {0x111D0, 0x111D9}, {0x111E1, 0x111F4}, {0x112F0, 0x112F9}, {0x11450, 0x11459}, {0x114D0, 0x114D9},
    {0x11650, 0x11659}, {0x116C0, 0x116C9}, {0x11730, 0x1173B}, {0x118E0, 0x118F2}, {0x11950, 0x11959},
    {0x11C50, 0x11C6C}, {0x11D50, 0x11D59}, {0x11DA0, 0x11DA9}, {0x11F50, 0x11F59}, {0x11FC0, 0x11FD4},
    {0x12400, 0x1246E}, {0x16A60, 0x16A69}, {0x16AC0, 0x16AC9}, {0x16B50, 0x16B59}, {0x16B5B, 0x16B61},
    {0x16E80, 0x16E96}, {0x1D2C0, 0x1D2D3}, {0x1D2E0, 0x1D2F3}, {0x1D360, 0x1D378}, {0x1D7CE, 0x1D7FF},
    {0x1E140, 0x1E149}, {0x1E2F0, 0x1E2F9}, {0x1E4F0, 0x1E4F9}, {0x1E8C7, 0x1E8CF}, {0x1E950, 0x1E959},
    {0x1EC71, 0x1ECAB}, {0x1ECAD, 0x1ECAF}, {0x1ECB1, 0x1ECB4}, {0x1ED01, 0x1ED2D}, {0x1ED2F, 0x1ED3D},
    {0x1F100, 0x1F10C}, {0x1FBF0, 0x1FBF9},
};
/* White_Space (PropList.txt): 10 ranges */
static const uint32_t vla__uc_space[10][2] = {
    {0x9, 0xD}, {0x20, 0x20}, {0x85, 0x85}, {0xA0, 0xA0}, {0x1680, 0x1680},
    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
};
/* Python str.isspace(): bidi WS/B/S or Zs = White_Space + U+001C..U+001F: 10 ranges */
static const uint32_t vla__uc_pyspace[10][2] = {
    {0x9, 0xD}, {0x1C, 0x20}, {0x85, 0x85}, {0xA0, 0xA0}, {0x1680, 0x1680},
    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
};
/* END generated tables */

#define VLA__CP_BAD 0xFFFFFFFFu /* a byte that does not start valid UTF-8 */

enum { VLA__CL_OTHER = 0, VLA__CL_LETTER = 1, VLA__CL_NUMBER = 2, VLA__CL_SPACE = 3 };

static int vla__uc_has(const uint32_t (*tab)[2], int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) { /* binary search over sorted, disjoint ranges */
        int mid = (lo + hi) >> 1;
        if (cp < tab[mid][0]) hi = mid - 1;
        else if (cp > tab[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}
#define VLA__UC_HAS(tab, cp) vla__uc_has(tab, (int)(sizeof(tab) / sizeof(tab[0])), cp)

/* Pre-split class of a code point: letter (L*), number (N*), White_Space,
 * or other (everything else, including invalid bytes). */
static int vla__tok_class(uint32_t cp) {
    if (cp < 0x80) { /* ASCII fast path */
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return VLA__CL_LETTER;
        if (cp >= '0' && cp <= '9') return VLA__CL_NUMBER;
        if (cp == ' ' || (cp >= 0x09 && cp <= 0x0D)) return VLA__CL_SPACE;
        return VLA__CL_OTHER; /* includes U+001C..U+001F: "x\x1c's" keeps ' and s apart */
    }
    if (cp > 0x10FFFF) return VLA__CL_OTHER;
    if (VLA__UC_HAS(vla__uc_space, cp)) return VLA__CL_SPACE;
    if (VLA__UC_HAS(vla__uc_letter, cp)) return VLA__CL_LETTER;
    if (VLA__UC_HAS(vla__uc_number, cp)) return VLA__CL_NUMBER;
    return VLA__CL_OTHER;
}

/* Python's str.isspace(): White_Space plus U+001C..U+001F ("\x1c" is blank). */
static int vla__tok_pyspace(uint32_t cp) {
    if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x1F);
    return cp <= 0x10FFFF && VLA__UC_HAS(vla__uc_pyspace, cp);
}

/* ---- UTF-8 ---------------------------------------------------------------
 * One code point at s[0, n), n >= 1; returns its length.  Strict: the second
 * byte after E0 is A0..BF, after ED 80..9F, after F0 90..BF, after F4
 * 80..8F, otherwise 80..BF.  A byte that does not start a complete valid
 * sequence gives VLA__CP_BAD and length 1 ("\xE2\x82" -> BAD, BAD). */
static size_t vla__utf8_next(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t need, k;
    uint32_t v;
    if (c < 0x80) { *cp = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { need = 2; v = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { need = 3; v = c & 0x0F; lo = c == 0xE0 ? 0xA0 : 0x80; hi = c == 0xED ? 0x9F : 0xBF; }
    else if (c >= 0xF0 && c <= 0xF4) { need = 4; v = c & 0x07; lo = c == 0xF0 ? 0x90 : 0x80; hi = c == 0xF4 ? 0x8F : 0xBF; }
    else { *cp = VLA__CP_BAD; return 1; }
    if (n < need) { *cp = VLA__CP_BAD; return 1; }
    for (k = 1; k < need; k++) {
        if (s[k] < lo || s[k] > hi) { *cp = VLA__CP_BAD; return 1; }
        lo = 0x80; hi = 0xBF;
        v = (v << 6) | (s[k] & 0x3Fu);
    }
    *cp = v;
    return need;
}

/* Start of the last character of s[0, n), n >= 1 (*cp = it, or BAD). */
static size_t vla__utf8_last(const unsigned char *s, size_t n, uint32_t *cp) {
    size_t k = n - 1, lim = n > 4 ? n - 4 : 0;
    while (k > lim && (s[k] & 0xC0) == 0x80) k--; /* back over continuation bytes */
    if (vla__utf8_next(s + k, n - k, cp) == n - k) return k;
    *cp = VLA__CP_BAD;
    return n - 1;
}

static int vla__utf8_valid(const unsigned char *s, size_t n) {
    size_t i = 0;
    uint32_t cp;
    while (i < n) {
        i += vla__utf8_next(s + i, n - i, &cp);
        if (cp == VLA__CP_BAD) return 0;
    }
    return 1;
}

/* ---- GPT-2's byte alphabet ------------------------------------------------
 * Every byte stands for one printable code point: 0x21-0x7E, 0xA1-0xAC and
 * 0xAE-0xFF for themselves, the other 68 bytes (in increasing order) for
 * U+0100..U+0143.  Space 0x20 -> U+0120 'Ġ', LF -> U+010A 'Ċ',
 * 0x7F -> U+0121, 0xA0 -> U+0142, 0xAD -> U+0143. */
static uint32_t vla__tok_byte_cp(unsigned b) {
    if (b <= 0x20) return 0x100 + b;                /* controls and space  */
    if (b >= 0x7F && b <= 0xA0) return 0x121 + (b - 0x7F); /* DEL, C1, NBSP */
    if (b == 0xAD) return 0x143;                    /* soft hyphen         */
    return b;
}

/* Inverse: the byte an alphabet code point stands for, or -1. */
static int vla__tok_cp_byte(uint32_t cp) {
    if ((cp >= 0x21 && cp <= 0x7E) || (cp >= 0xA1 && cp <= 0xAC) || (cp >= 0xAE && cp <= 0xFF)) return (int)cp;
    if (cp >= 0x100 && cp <= 0x120) return (int)(cp - 0x100);
    if (cp >= 0x121 && cp <= 0x142) return (int)(cp - 0x121 + 0x7F);
    if (cp == 0x143) return 0xAD;
    return -1;
}

/* Next raw byte of an alphabet-form string s[*i, n): "Ġ" (C4 A0) -> 0x20.
 * Returns -1 (and steps one byte) where s is not an alphabet character. */
static int vla__tok_alpha_next(const unsigned char *s, size_t n, size_t *i) {
    unsigned c = s[*i];
    if (c < 0x80) { (*i)++; return vla__tok_cp_byte(c); }
    if (c >= 0xC2 && c <= 0xC5 && *i + 1 < n && (s[*i + 1] & 0xC0) == 0x80) { /* U+0080..U+017F */
        uint32_t cp = ((uint32_t)(c & 0x1F) << 6) | (s[*i + 1] & 0x3Fu);
        *i += 2;
        return vla__tok_cp_byte(cp);
    }
    (*i)++;
    return -1;
}

/* UTF-8 spelling of byte b's alphabet character: 1 or 2 bytes. */
static size_t vla__tok_byte_utf8(unsigned b, unsigned char *o) {
    uint32_t cp = vla__tok_byte_cp(b);
    if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
    o[0] = (unsigned char)(0xC0 | (cp >> 6));
    o[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
}

/* ---- Tables ---------------------------------------------------------------- */

#define VLA__TF_SPECIAL 1 /* type 2/3/4: cut out of text, skipped by skip_special */
#define VLA__TF_LSTRIP 2  /* removes the whitespace on its left  (<mask>)       */
#define VLA__TF_RSTRIP 4  /* removes the whitespace on its right (added tokens) */
#define VLA__TOK_MAX_SPECIAL 255
#define VLA__TOK_NONE 0xFFFFFFFFu

typedef struct vla__tok {
    uint32_t off;  /* spelling: strs + off (inside the GGUF buffer) */
    uint16_t len;  /* spelling length in bytes                      */
    uint8_t type;  /* VLA_TOKEN_*                                   */
    uint8_t flags; /* VLA__TF_*                                     */
} vla__tok;

struct vla_tokenizer {
    const unsigned char *strs; /* value of tokenizer.ggml.tokens in the GGUF buffer */
    vla__tok *tok;             /* [n_tokens]                                         */
    uint32_t *merge;           /* [3 * n_merges]: left, right, merged id, by rank    */
    uint32_t *merge_hash;      /* [merge_cap]: rank + 1 (0 = empty slot)             */
    uint32_t *special_hash;    /* [special_cap]: id + 1 of the special tokens        */
    uint32_t merge_cap, special_cap;
    uint32_t special_first[8]; /* bitmap: first bytes of special spellings           */
    uint32_t special_lens[8];  /* bitmap: lengths (1..255) of special spellings      */
    uint32_t special_max;      /* longest special spelling                           */
    vla_tokenizer_info info;
    int32_t byte_id[256];      /* id of each one-byte token                          */
};

#define VLA__BIT_SET(m, i) ((m)[(i) >> 5] |= 1u << ((i) & 31))
#define VLA__BIT_GET(m, i) (((m)[(i) >> 5] >> ((i) & 31)) & 1u)

/* FNV-1a, continued over several pieces (A then B hashes like "AB"). */
static uint32_t vla__tok_fnv(uint32_t h, const unsigned char *s, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) { h ^= s[i]; h *= 16777619u; }
    return h;
}
#define VLA__FNV0 2166136261u

static uint32_t vla__tok_pair_hash(uint32_t l, uint32_t r) {
    uint32_t h = l * 0x9E3779B1u ^ (r + 0x7F4A7C15u) * 0x85EBCA77u;
    h ^= h >> 15;
    h *= 0x2C1B3C6Du;
    return h ^ (h >> 12);
}

static const unsigned char *vla__tok_spell(const vla_tokenizer *t, uint32_t id) { return t->strs + t->tok[id].off; }

/* Rank of the merge rule (l, r), or VLA__TOK_NONE. */
static uint32_t vla__tok_rank(const vla_tokenizer *t, uint32_t l, uint32_t r) {
    uint32_t m = t->merge_cap - 1, h = vla__tok_pair_hash(l, r) & m, s;
    while ((s = t->merge_hash[h]) != 0) {
        const uint32_t *e = t->merge + 3 * (size_t)(s - 1);
        if (e[0] == l && e[1] == r) return s - 1;
        h = (h + 1) & m;
    }
    return VLA__TOK_NONE;
}

/* Spelling index used during init: the id spelled a||b, or VLA__TOK_NONE.
 * With ins != VLA__TOK_NONE, insert id ins instead (returns the old id if the
 * spelling exists already). */
static uint32_t vla__tok_index(const vla_tokenizer *t, uint32_t *idx, uint32_t cap, const unsigned char *a, size_t an,
                               const unsigned char *b, size_t bn, uint32_t ins) {
    uint32_t h = vla__tok_fnv(vla__tok_fnv(VLA__FNV0, a, an), b, bn) & (cap - 1);
    while (idx[h]) {
        const vla__tok *k = &t->tok[idx[h] - 1];
        const unsigned char *s = t->strs + k->off;
        if (k->len == an + bn && VLA_MEMCMP(s, a, an) == 0 && (bn == 0 || VLA_MEMCMP(s + an, b, bn) == 0))
            return idx[h] - 1;
        h = (h + 1) & (cap - 1);
    }
    if (ins != VLA__TOK_NONE) idx[h] = ins + 1;
    return VLA__TOK_NONE;
}

/* Index of the first space in p[0, n), or n. */
static size_t vla__tok_space_at(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n && p[i] != ' ') i++;
    return i;
}

static vla_status vla__tok_bad(vla_arena *a, const char *what, uint64_t i) {
    unsigned long long v = i;
    vla__log(&a->log, VLA_LOG_ERROR, "tokenizer file: %s (entry %u)", what, &v, 0); /* %u takes an unsigned long long */
    return VLA_ERR_FORMAT;
}

/* An int32 array kv (token types, strip lists) or FORMAT. */
static vla_status vla__tok_i32_array(const vla_gguf *g, const char *key, vla_gguf_kv *kv, int required) {
    vla_status st = vla_gguf_get_kv(g, key, kv);
    if (st == VLA_ERR_NOT_FOUND && !required) { kv->arr_n = 0; return VLA_OK; }
    if (st != VLA_OK) return VLA_ERR_FORMAT;
    if (kv->type != VLA_GGUF_ARRAY || kv->arr_type != VLA_GGUF_I32) return VLA_ERR_FORMAT;
    return VLA_OK;
}

VLA_DEF vla_status vla_tokenizer_init(vla_tokenizer **out, const vla_gguf *g, vla_arena *a) {
    vla_gguf_kv kt, ktype, km, kl, kr;
    vla_str model, s;
    vla_tokenizer *T;
    vla_status st;
    uint32_t n_tok, n_merge, n_special = 0, n_base, i, idx_cap, v;
    uint32_t *idx;
    size_t pos, mark;
    int seen_user = 0, store;
    if (!out || !g || !a) return VLA_ERR_ARGS;
    *out = NULL;
    store = !a->measuring;
    st = vla_gguf_get_str(g, "tokenizer.ggml.model", &model);
    if (st == VLA_ERR_NOT_FOUND) return st;
    if (st != VLA_OK) return VLA_ERR_FORMAT;
    if (!(model.n == 4 && VLA_MEMCMP(model.s, "gpt2", 4) == 0)) return VLA_ERR_UNSUPPORTED;
    /* counts and array types */
    if (vla_gguf_get_kv(g, "tokenizer.ggml.tokens", &kt) != VLA_OK || kt.type != VLA_GGUF_ARRAY ||
        kt.arr_type != VLA_GGUF_STRING || kt.arr_n < 256 || kt.arr_n > (uint64_t)VLA_TOKENIZER_MAX_TOKENS ||
        ((kt.val_bytes >> 16) >> 16) != 0) /* offsets are 32-bit (written this way: no warning where size_t is) */
        return vla__tok_bad(a, "tokenizer.ggml.tokens is missing, not a string array, or of a bad size", 0);
    if (vla_gguf_get_kv(g, "tokenizer.ggml.merges", &km) != VLA_OK || km.type != VLA_GGUF_ARRAY ||
        km.arr_type != VLA_GGUF_STRING || km.arr_n > (uint64_t)VLA_TOKENIZER_MAX_TOKENS)
        return vla__tok_bad(a, "tokenizer.ggml.merges is missing, not a string array, or too long", 0);
    if (vla__tok_i32_array(g, "tokenizer.ggml.token_type", &ktype, 1) != VLA_OK || ktype.arr_n != kt.arr_n)
        return vla__tok_bad(a, "tokenizer.ggml.token_type is missing, not int32, or not one per token", 0);
    if (vla__tok_i32_array(g, "vladapter.tokenizer.lstrip_ids", &kl, 0) != VLA_OK ||
        vla__tok_i32_array(g, "vladapter.tokenizer.rstrip_ids", &kr, 0) != VLA_OK)
        return vla__tok_bad(a, "vladapter.tokenizer.lstrip_ids/rstrip_ids are not int32 arrays", 0);
    n_tok = (uint32_t)kt.arr_n;
    n_merge = (uint32_t)km.arr_n;
    /* token types: 1..4, the user-defined (added) ones form the tail */
    n_base = n_tok;
    for (i = 0; i < n_tok; i++) {
        uint32_t ty = vla__rd32(ktype.val + 4 * (size_t)i);
        if (ty < VLA_TOKEN_NORMAL || ty > VLA_TOKEN_USER_DEFINED) return vla__tok_bad(a, "unknown token type", i);
        if (ty == VLA_TOKEN_USER_DEFINED && !seen_user) { seen_user = 1; n_base = i; }
        if (ty != VLA_TOKEN_USER_DEFINED && seen_user) return vla__tok_bad(a, "added tokens must be the last ids", i);
        if (ty != VLA_TOKEN_NORMAL) n_special++;
    }
    /* memory: the same requests in measuring and real mode */
    T = (vla_tokenizer *)vla_arena_alloc(a, sizeof(vla_tokenizer));
    if (!T) return VLA_ERR_NOMEM;
    {
        vla__tok *tok = (vla__tok *)vla_arena_alloc(a, (size_t)n_tok * sizeof(vla__tok));
        uint32_t *merge = (uint32_t *)vla_arena_alloc(a, (size_t)n_merge * 12);
        uint32_t mcap = vla__pow2_at_least(n_merge), scap = vla__pow2_at_least(n_special);
        uint32_t *mh = (uint32_t *)vla_arena_alloc(a, (size_t)mcap * 4);
        uint32_t *sh = (uint32_t *)vla_arena_alloc(a, (size_t)scap * 4);
        if (!tok || !merge || !mh || !sh) return VLA_ERR_NOMEM;
        mark = vla_arena_scratch_mark(a);
        idx_cap = vla__pow2_at_least(n_tok);
        idx = (uint32_t *)vla_arena_scratch(a, (size_t)idx_cap * 4);
        if (!idx) return VLA_ERR_NOMEM;
        if (!store) { /* size query: nothing is written */
            vla_arena_scratch_release(a, mark);
            *out = T;
            return VLA_OK;
        }
        VLA_MEMSET(T, 0, sizeof *T);
        VLA_MEMSET(mh, 0, (size_t)mcap * 4);
        VLA_MEMSET(sh, 0, (size_t)scap * 4);
        VLA_MEMSET(idx, 0, (size_t)idx_cap * 4);
        T->strs = kt.val;
        T->tok = tok;
        T->merge = merge;
        T->merge_hash = mh;
        T->merge_cap = mcap;
        T->special_hash = sh;
        T->special_cap = scap;
    }
    st = VLA_ERR_FORMAT; /* every early exit below is a bad file */
    /* 1. token spellings: alphabet (normal) or UTF-8 (special); unique */
    pos = 0;
    for (i = 0; i < n_tok; i++) {
        vla__tok *k = &T->tok[i];
        const unsigned char *p;
        if (!vla_gguf_arr_next_str(&kt, &pos, &s)) goto bad;
        p = (const unsigned char *)s.s;
        k->type = (uint8_t)vla__rd32(ktype.val + 4 * (size_t)i);
        if (s.n == 0 || s.n > 65535 || (k->type != VLA_TOKEN_NORMAL && s.n > VLA__TOK_MAX_SPECIAL)) {
            vla__tok_bad(a, "token spelling empty or too long", i);
            goto bad;
        }
        if (k->type == VLA_TOKEN_NORMAL) {
            size_t j = 0;
            while (j < s.n)
                if (vla__tok_alpha_next(p, s.n, &j) < 0) { vla__tok_bad(a, "normal token not in the byte alphabet", i); goto bad; }
        } else if (!vla__utf8_valid(p, s.n)) {
            vla__tok_bad(a, "special token is not valid UTF-8", i);
            goto bad;
        }
        k->off = (uint32_t)(p - kt.val);
        k->len = (uint16_t)s.n;
        k->flags = (uint8_t)(k->type != VLA_TOKEN_NORMAL ? VLA__TF_SPECIAL : 0);
        if (vla__tok_index(T, idx, idx_cap, p, s.n, p, 0, i) != VLA__TOK_NONE) { vla__tok_bad(a, "duplicate token", i); goto bad; }
    }
    /* 2. the 256 one-byte tokens: "a" -> id of byte 0x61, "Ġ" -> id of 0x20 */
    for (i = 0; i < 256; i++) {
        unsigned char u[2];
        size_t un = vla__tok_byte_utf8(i, u);
        v = vla__tok_index(T, idx, idx_cap, u, un, u, 0, VLA__TOK_NONE);
        if (v == VLA__TOK_NONE || T->tok[v].type != VLA_TOKEN_NORMAL) { vla__tok_bad(a, "a one-byte token is missing", i); goto bad; }
        T->byte_id[i] = (int32_t)v;
    }
    /* 3. merges "A B": A, B and AB normal tokens, each pair once; rank = index */
    pos = 0;
    for (i = 0; i < n_merge; i++) {
        const unsigned char *p, *sp;
        uint32_t l, r, res, h;
        size_t an;
        if (!vla_gguf_arr_next_str(&km, &pos, &s)) goto bad;
        p = (const unsigned char *)s.s;
        an = vla__tok_space_at(p, s.n);
        sp = p + an;
        if (an == 0 || an + 1 >= s.n || vla__tok_space_at(sp + 1, s.n - an - 1) != s.n - an - 1) {
            vla__tok_bad(a, "merge is not \"A B\"", i);
            goto bad;
        }
        l = vla__tok_index(T, idx, idx_cap, p, an, p, 0, VLA__TOK_NONE);
        r = vla__tok_index(T, idx, idx_cap, sp + 1, s.n - an - 1, p, 0, VLA__TOK_NONE);
        res = vla__tok_index(T, idx, idx_cap, p, an, sp + 1, s.n - an - 1, VLA__TOK_NONE);
        if (l == VLA__TOK_NONE || r == VLA__TOK_NONE || res == VLA__TOK_NONE || T->tok[l].type != VLA_TOKEN_NORMAL ||
            T->tok[r].type != VLA_TOKEN_NORMAL || T->tok[res].type != VLA_TOKEN_NORMAL) {
            vla__tok_bad(a, "merge part or result is not a normal token", i);
            goto bad;
        }
        if (vla__tok_rank(T, l, r) != VLA__TOK_NONE) { vla__tok_bad(a, "duplicate merge", i); goto bad; }
        T->merge[3 * (size_t)i] = l;
        T->merge[3 * (size_t)i + 1] = r;
        T->merge[3 * (size_t)i + 2] = res;
        h = vla__tok_pair_hash(l, r) & (T->merge_cap - 1);
        while (T->merge_hash[h]) h = (h + 1) & (T->merge_cap - 1);
        T->merge_hash[h] = i + 1;
    }
    /* 4. special tokens: hash of spellings, first bytes, lengths */
    for (i = 0; i < n_tok; i++) {
        const vla__tok *k = &T->tok[i];
        const unsigned char *p = vla__tok_spell(T, i);
        uint32_t h;
        if (!(k->flags & VLA__TF_SPECIAL)) continue;
        h = vla__tok_fnv(VLA__FNV0, p, k->len) & (T->special_cap - 1);
        while (T->special_hash[h]) h = (h + 1) & (T->special_cap - 1);
        T->special_hash[h] = i + 1;
        VLA__BIT_SET(T->special_first, p[0]);
        VLA__BIT_SET(T->special_lens, k->len);
        if (k->len > T->special_max) T->special_max = k->len;
    }
    /* 5. strip rules: ids of special tokens */
    for (i = 0; i < 2; i++) {
        const vla_gguf_kv *kv = i ? &kr : &kl;
        uint64_t j;
        for (j = 0; j < kv->arr_n; j++) {
            uint32_t id = vla__rd32(kv->val + 4 * (size_t)j);
            if (id >= n_tok || !(T->tok[id].flags & VLA__TF_SPECIAL)) { vla__tok_bad(a, "strip id is not a special token", j); goto bad; }
            T->tok[id].flags |= (uint8_t)(i ? VLA__TF_RSTRIP : VLA__TF_LSTRIP);
        }
    }
    /* 6. special ids */
    {
        static const char *const keys[5] = {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
                                            "tokenizer.ggml.padding_token_id", "tokenizer.ggml.unknown_token_id",
                                            "tokenizer.ggml.mask_token_id"};
        int32_t *dst[5];
        dst[0] = &T->info.bos; dst[1] = &T->info.eos; dst[2] = &T->info.pad; dst[3] = &T->info.unk; dst[4] = &T->info.mask;
        for (i = 0; i < 5; i++) {
            vla_status s2 = vla_gguf_get_u32(g, keys[i], &v);
            if (s2 == VLA_ERR_NOT_FOUND && i == 4) { *dst[i] = -1; continue; } /* mask is optional */
            if (s2 != VLA_OK || v >= n_tok) { vla__tok_bad(a, "special token id missing or out of range", i); goto bad; }
            *dst[i] = (int32_t)v;
        }
    }
    T->info.n_tokens = (int32_t)n_tok;
    T->info.n_base = (int32_t)n_base;
    T->info.n_merges = (int32_t)n_merge;
    T->info.n_special = (int32_t)n_special;
    st = VLA_OK;
    *out = T;
bad:
    vla_arena_scratch_release(a, mark);
    return st;
}

VLA_DEF vla_status vla_tokenizer_mem_req(const vla_gguf *g, size_t *persistent, size_t *peak) {
    vla_arena m;
    vla_tokenizer *t;
    vla_status st;
    vla_arena_stats s;
    if (!g) return VLA_ERR_ARGS;
    vla_arena_init_measure(&m);
    st = vla_tokenizer_init(&t, g, &m);
    s = vla_arena_get_stats(&m);
    if (persistent) *persistent = s.persistent;
    if (peak) *peak = s.peak;
    return st;
}

VLA_DEF vla_tokenizer_info vla_tokenizer_get_info(const vla_tokenizer *t) { return t->info; }

VLA_DEF vla_status vla_tokenizer_token(const vla_tokenizer *t, int32_t id, vla_str *text, int *type) {
    if (!t) return VLA_ERR_ARGS;
    if (id < 0 || id >= t->info.n_tokens) return VLA_ERR_RANGE;
    if (text) { text->s = (const char *)vla__tok_spell(t, (uint32_t)id); text->n = t->tok[id].len; }
    if (type) *type = t->tok[id].type;
    return VLA_OK;
}

VLA_DEF vla_status vla_tokenizer_token_bytes(const vla_tokenizer *t, int32_t id, unsigned char *buf, size_t cap,
                                             size_t *len) {
    const unsigned char *p;
    size_t n = 0, i = 0, L;
    if (!t || (!buf && cap)) return VLA_ERR_ARGS;
    if (id < 0 || id >= t->info.n_tokens) return VLA_ERR_RANGE;
    p = vla__tok_spell(t, (uint32_t)id);
    L = t->tok[id].len;
    while (i < L) {
        /* special tokens are literal text; normal ones go through the alphabet */
        int b = t->tok[id].type == VLA_TOKEN_NORMAL ? vla__tok_alpha_next(p, L, &i) : (int)p[i++];
        if (n < cap) buf[n] = (unsigned char)b;
        n++;
    }
    if (len) *len = n;
    return n > cap ? VLA_ERR_NOMEM : VLA_OK;
}

/* ---- Encode ----------------------------------------------------------------- */

typedef struct vla__enc {
    const vla_tokenizer *t;
    int32_t *ids;      /* output                                               */
    int max_ids;
    int base;          /* index of the first content id (1 after <s>)           */
    int count;         /* content ids so far                                    */
    int limit;         /* content ids wanted (truncation)                       */
    int use_added;
    uint64_t *heap;    /* [2n] BPE candidates: rank << 32 | position            */
    int32_t *sym;      /* [n] symbol id at each start byte, -1 once merged away */
    int32_t *prv, *nxt;/* [n] linked list of live symbols                      */
} vla__enc;

static void vla__enc_emit(vla__enc *e, int32_t id) {
    if (e->count >= e->limit) return; /* truncated */
    if (e->base + e->count < e->max_ids) e->ids[e->base + e->count] = id;
    e->count++;
}

/* Min-heap on (rank, position): the lowest rank first, leftmost first. */
static void vla__heap_down(uint64_t *h, int n, int i) {
    for (;;) {
        int l = 2 * i + 1, m = i;
        uint64_t x;
        if (l < n && h[l] < h[m]) m = l;
        if (l + 1 < n && h[l + 1] < h[m]) m = l + 1;
        if (m == i) return;
        x = h[i]; h[i] = h[m]; h[m] = x;
        i = m;
    }
}
static void vla__heap_up(uint64_t *h, int i) {
    while (i > 0 && h[(i - 1) / 2] > h[i]) {
        uint64_t x = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = x;
        i = (i - 1) / 2;
    }
}

/* BPE of one pre-split piece s[0, n) (raw bytes), emitting its ids.
 *
 * Python's loop is: find the best-ranked adjacent pair (A, B), merge every
 * occurrence of it in one left-to-right pass without overlap ("aaa" with
 * rule "a a" -> "aa" "a"), repeat.  Here every adjacent pair that has a rule
 * sits in a min-heap keyed (rank, position), so equal ranks pop left to
 * right: one "round" of rank r is exactly Python's pass.  Pairs created by a
 * merge wait in a pending list until the round ends (Python only sees them
 * in its next pass), then join the heap.  An entry is stale (skipped) when
 * the symbols at its position are no longer (A, B).  Heap + pending never
 * exceed 2n - 2 entries: each merge pops one and pushes at most two. */
static void vla__bpe(vla__enc *e, const unsigned char *s, int n) {
    const vla_tokenizer *t = e->t;
    int32_t *sym = e->sym, *prv = e->prv, *nxt = e->nxt;
    uint64_t *heap = e->heap;
    int hn = 0, pn = 0, cap = 2 * n, i;
    if (n == 1) { vla__enc_emit(e, t->byte_id[s[0]]); return; }
    for (i = 0; i < n; i++) {
        sym[i] = t->byte_id[s[i]];
        prv[i] = i - 1;
        nxt[i] = i + 1 < n ? i + 1 : -1;
    }
    for (i = 0; i + 1 < n; i++) {
        uint32_t r = vla__tok_rank(t, (uint32_t)sym[i], (uint32_t)sym[i + 1]);
        if (r != VLA__TOK_NONE) heap[hn++] = (uint64_t)r << 32 | (uint32_t)i;
    }
    for (i = hn / 2 - 1; i >= 0; i--) vla__heap_down(heap, hn, i);
    while (hn > 0) {
        uint64_t top = heap[0];
        uint32_t r = (uint32_t)(top >> 32);
        const uint32_t *rule = t->merge + 3 * (size_t)r;
        int p = (int)(uint32_t)top, q;
        heap[0] = heap[--hn];
        vla__heap_down(heap, hn, 0);
        q = nxt[p];
        if (q >= 0 && sym[p] == (int32_t)rule[0] && sym[q] == (int32_t)rule[1]) {
            /* merge p and q into p: "a" "b" -> "ab" */
            sym[p] = (int32_t)rule[2];
            sym[q] = -1;
            nxt[p] = nxt[q];
            if (nxt[q] >= 0) prv[nxt[q]] = p;
            if (prv[p] >= 0) { /* new pair (left neighbour, ab) */
                uint32_t r2 = vla__tok_rank(t, (uint32_t)sym[prv[p]], (uint32_t)sym[p]);
                if (r2 != VLA__TOK_NONE) heap[cap - 1 - pn++] = (uint64_t)r2 << 32 | (uint32_t)prv[p];
            }
            if (nxt[p] >= 0) { /* new pair (ab, right neighbour) */
                uint32_t r2 = vla__tok_rank(t, (uint32_t)sym[p], (uint32_t)sym[nxt[p]]);
                if (r2 != VLA__TOK_NONE) heap[cap - 1 - pn++] = (uint64_t)r2 << 32 | (uint32_t)p;
            }
            /* hn + pn <= 2n - 2 < cap always holds (see above) */
        }
        if (pn > 0 && (hn == 0 || (uint32_t)(heap[0] >> 32) != r)) { /* round over: pending pairs join */
            while (pn > 0) {
                heap[hn] = heap[cap - pn];
                pn--;
                vla__heap_up(heap, hn++);
            }
        }
    }
    for (i = 0; i >= 0 && e->count < e->limit; i = nxt[i]) vla__enc_emit(e, sym[i]);
}

/* End of the pre-split piece that starts at s[i] (i < n); see [D11] step 3. */
static size_t vla__presplit_next(const unsigned char *s, size_t n, size_t i) {
    uint32_t c0, c1;
    size_t l0 = vla__utf8_next(s + i, n - i, &c0), j, k, last;
    int cls;
    /* contractions, lower case only: "it's" -> it 's; "IT'S" -> IT ' S */
    if (s[i] == '\'' && i + 1 < n) {
        unsigned char a = s[i + 1];
        if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
        if (i + 2 < n && ((a == 'r' && s[i + 2] == 'e') || (a == 'v' && s[i + 2] == 'e') || (a == 'l' && s[i + 2] == 'l')))
            return i + 3;
    }
    /* optional U+0020 before a letter/number/other run: " world" is one piece */
    k = i;
    cls = vla__tok_class(c0);
    if (c0 == ' ' && i + 1 < n) {
        vla__utf8_next(s + i + 1, n - i - 1, &c1);
        if (vla__tok_class(c1) != VLA__CL_SPACE) { k = i + 1; cls = vla__tok_class(c1); }
    }
    if (cls != VLA__CL_SPACE) { /* the longest run of one class: "Hello", "123", "?!" */
        j = k;
        while (j < n) {
            size_t l = vla__utf8_next(s + j, n - j, &c1);
            if (vla__tok_class(c1) != cls) break;
            j += l;
        }
        return j;
    }
    /* whitespace run: "a   b" -> a, "  ", " b"; at the end all of it */
    j = i + l0;
    last = i;
    while (j < n) {
        size_t l = vla__utf8_next(s + j, n - j, &c1);
        if (vla__tok_class(c1) != VLA__CL_SPACE) break;
        last = j;
        j += l;
    }
    if (j == n) return n;        /* "  " at the end: one piece         */
    if (last > i) return last;   /* "\n\n b": "\n\n" then " b"        */
    return j;                    /* a single space before a non-space */
}

/* Pre-split s[0, n) and BPE every piece. */
static void vla__encode_text(vla__enc *e, const unsigned char *s, size_t n) {
    size_t i = 0;
    while (i < n && e->count < e->limit) {
        size_t j = vla__presplit_next(s, n, i);
        vla__bpe(e, s + i, (int)(j - i));
        i = j;
    }
}

/* Special token whose spelling starts at s[0] (longest one if several), or
 * VLA__TOK_NONE; *len = its length.  Plain mode skips the added tokens. */
static uint32_t vla__special_at(const vla_tokenizer *t, const unsigned char *s, size_t n, int use_added, size_t *len) {
    uint32_t h = VLA__FNV0, best = VLA__TOK_NONE;
    size_t k, maxk = n < t->special_max ? n : t->special_max;
    if (!VLA__BIT_GET(t->special_first, s[0])) return VLA__TOK_NONE;
    for (k = 1; k <= maxk; k++) {
        uint32_t slot;
        h = (h ^ s[k - 1]) * 16777619u; /* FNV-1a of s[0, k) */
        if (!VLA__BIT_GET(t->special_lens, k)) continue;
        slot = h & (t->special_cap - 1);
        while (t->special_hash[slot]) {
            uint32_t id = t->special_hash[slot] - 1;
            const vla__tok *tk = &t->tok[id];
            if (tk->len == k && VLA_MEMCMP(vla__tok_spell(t, id), s, k) == 0) {
                if (use_added || tk->type != VLA_TOKEN_USER_DEFINED) { best = id; *len = k; }
                break;
            }
            slot = (slot + 1) & (t->special_cap - 1);
        }
    }
    return best;
}

VLA_DEF size_t vla_tokenize_scratch_size(size_t max_text_bytes) {
    /* per byte: 2 heap entries (16) + sym, prv, nxt (12) */
    return max_text_bytes ? vla__align_up(vla__mul(max_text_bytes, 28), VLA_ALIGN) : 0;
}

VLA_DEF vla_status vla_tokenize(const vla_tokenizer *t, vla_arena *scratch, const char *text, size_t len,
                                int add_special, int use_added_tokens, int max_length, int32_t *ids, int max_ids,
                                int *n_ids) {
    const unsigned char *s = (const unsigned char *)text;
    vla__enc e;
    size_t mark, i, pos;
    uint32_t cp;
    int blank = 1, total;
    unsigned left_strip = 0; /* the special token on the left removes whitespace to its right */
    if (n_ids) *n_ids = 0;
    if (!t || !scratch || scratch->measuring || (!text && len) || max_length < 0 || max_ids < 0 || (!ids && max_ids) ||
        !n_ids)
        return VLA_ERR_ARGS;
    if (len > VLA_TOKENIZER_MAX_TEXT) return VLA_ERR_RANGE;
    VLA_MEMSET(&e, 0, sizeof e);
    mark = vla_arena_scratch_mark(scratch);
    if (len) {
        unsigned char *w = (unsigned char *)vla_arena_scratch(scratch, vla_tokenize_scratch_size(len));
        if (!w) return VLA_ERR_NOMEM;
        e.heap = (uint64_t *)(void *)w;                 /* [2 len] */
        e.sym = (int32_t *)(void *)(w + 16 * len);      /* [len]   */
        e.prv = e.sym + len;
        e.nxt = e.prv + len;
    }
    e.t = t;
    e.ids = ids;
    e.max_ids = max_ids;
    e.base = add_special ? 1 : 0;
    e.use_added = use_added_tokens != 0;
    e.limit = 0x7FFFFFFF;
    if (max_length > 0) e.limit = max_length > 2 * e.base ? max_length - 2 * e.base : 0; /* <s> </s> count */
    if (add_special && max_ids > 0) ids[0] = t->info.bos;
    /* 1. blank text (Python's whitespace only) gives no content ids */
    for (i = 0; i < len && blank;) {
        i += vla__utf8_next(s + i, len - i, &cp);
        blank = vla__tok_pyspace(cp);
    }
    /* 2. cut special tokens; each text piece between them is pre-split */
    pos = 0;
    while (!blank && e.count < e.limit) {
        size_t a = pos, m, b, mlen = 0;
        uint32_t id = VLA__TOK_NONE;
        for (m = pos; m < len; m++) /* the next special spelling at or after pos */
            if ((id = vla__special_at(t, s + m, len - m, e.use_added, &mlen)) != VLA__TOK_NONE) break;
        b = m; /* the text piece is s[a, b) */
        if (left_strip) /* "<extra_id_0>  x": the spaces after the token go */
            while (a < b) {
                size_t l = vla__utf8_next(s + a, b - a, &cp);
                if (!vla__tok_pyspace(cp)) break;
                a += l;
            }
        if (id != VLA__TOK_NONE && (t->tok[id].flags & VLA__TF_LSTRIP)) /* "x <mask>": the space before goes */
            while (b > a) {
                size_t k = vla__utf8_last(s + a, b - a, &cp);
                if (!vla__tok_pyspace(cp)) break;
                b = a + k;
            }
        if (a < b) vla__encode_text(&e, s + a, b - a); /* empty pieces disappear */
        if (id == VLA__TOK_NONE) break;
        vla__enc_emit(&e, (int32_t)id);
        left_strip = t->tok[id].flags & VLA__TF_RSTRIP;
        pos = m + mlen;
    }
    total = e.base + e.count + (add_special ? 1 : 0);
    if (add_special && e.base + e.count < max_ids) ids[e.base + e.count] = t->info.eos;
    *n_ids = total;
    vla_arena_scratch_release(scratch, mark);
    return total > max_ids ? VLA_ERR_NOMEM : VLA_OK;
}

/* ---- Decode ------------------------------------------------------------------
 * A streaming pipeline, no scratch memory:
 *   token bytes -> UTF-8 repair (U+FFFD per maximal subpart)
 *               -> ten clean-up stages (optional) -> output with a cap. */

static const char *const vla__cleanup_from[10] = {" .", " ?", " !", " ,", " ' ", " n't", " 'm", " 's", " 've", " 're"};
static const char *const vla__cleanup_to[10] = {".", "?", "!", ",", "'", "n't", "'m", "'s", "'ve", "'re"};
static const unsigned char vla__cleanup_len[10] = {2, 2, 2, 2, 3, 4, 3, 3, 4, 4}; /* of _from */

typedef struct vla__dec {
    char *out;
    size_t cap;
    size_t n;             /* bytes of the full result so far                 */
    size_t kept;          /* bytes stored in out (< cap)                      */
    int full;             /* out ran out of room                              */
    int clean;            /* clean-up stages active                           */
    unsigned char pend[10][4]; /* per stage: a proper prefix of its pattern  */
    unsigned char plen[10];
    unsigned char u8[4];  /* UTF-8 repair: the sequence read so far          */
    int u8n, u8need;
    unsigned char lo2, hi2; /* allowed range of the sequence's second byte   */
} vla__dec;

/* Final stage: store the byte if it fits; on overflow drop the partial
 * character at the end so the kept text stays valid UTF-8. */
static void vla__dec_sink(vla__dec *d, unsigned char c) {
    d->n++;
    if (d->full) return;
    if (d->kept + 1 < d->cap) { d->out[d->kept++] = (char)c; return; }
    d->full = 1;
    if ((c & 0xC0) == 0x80) { /* c continues a character that is already partly stored */
        while (d->kept > 0 && ((unsigned char)d->out[d->kept - 1] & 0xC0) == 0x80) d->kept--;
        if (d->kept > 0) d->kept--;
    }
}

/* Clean-up stage k: Python's str.replace(from[k], to[k]) on a stream.  The
 * pending bytes are always a proper prefix of the pattern; a byte that can no
 * longer start an occurrence moves on to stage k + 1 ("x ' ' y": the first
 * " ' " becomes "'", the scan resumes after it, so the result is "x'' y"). */
static void vla__dec_put(vla__dec *d, int k, unsigned char c) {
    const char *pat;
    size_t pl;
    unsigned char *buf;
    if (k >= 10 || !d->clean) { vla__dec_sink(d, c); return; }
    pat = vla__cleanup_from[k];
    pl = vla__cleanup_len[k];
    buf = d->pend[k];
    buf[d->plen[k]++] = c;
    while (d->plen[k] > 0) {
        size_t n = d->plen[k];
        if (VLA_MEMCMP(buf, pat, n) == 0) {
            if (n == pl) { /* an occurrence: replace it */
                const char *r = vla__cleanup_to[k];
                d->plen[k] = 0;
                while (*r) vla__dec_put(d, k + 1, (unsigned char)*r++);
            }
            return;
        }
        c = buf[0]; /* buf[0] cannot start an occurrence: pass it on */
        {
            size_t j;
            for (j = 1; j < n; j++) buf[j - 1] = buf[j];
        }
        d->plen[k] = (unsigned char)(n - 1);
        vla__dec_put(d, k + 1, c);
    }
}

static void vla__dec_emit_fffd(vla__dec *d) {
    vla__dec_put(d, 0, 0xEF); vla__dec_put(d, 0, 0xBF); vla__dec_put(d, 0, 0xBD);
}

/* UTF-8 repair, Python's errors="replace": a complete valid sequence passes;
 * an incomplete one gives one U+FFFD for its lead byte and the continuation
 * bytes read so far, and the offending byte is looked at again ("\xE2\x82A"
 * -> U+FFFD "A"); a byte that cannot start a sequence gives one U+FFFD. */
static void vla__dec_byte(vla__dec *d, unsigned char b) {
    if (d->u8need) {
        unsigned lo = d->u8n == 1 ? d->lo2 : 0x80, hi = d->u8n == 1 ? d->hi2 : 0xBF;
        if (b >= lo && b <= hi) {
            d->u8[d->u8n++] = b;
            if (d->u8n == d->u8need) {
                int i;
                for (i = 0; i < d->u8n; i++) vla__dec_put(d, 0, d->u8[i]);
                d->u8need = d->u8n = 0;
            }
            return;
        }
        vla__dec_emit_fffd(d);
        d->u8need = d->u8n = 0;
    }
    if (b < 0x80) { vla__dec_put(d, 0, b); return; }
    d->lo2 = 0x80; d->hi2 = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) d->u8need = 2;
    else if (b >= 0xE0 && b <= 0xEF) { d->u8need = 3; if (b == 0xE0) d->lo2 = 0xA0; if (b == 0xED) d->hi2 = 0x9F; }
    else if (b >= 0xF0 && b <= 0xF4) { d->u8need = 4; if (b == 0xF0) d->lo2 = 0x90; if (b == 0xF4) d->hi2 = 0x8F; }
    else { vla__dec_emit_fffd(d); return; } /* 80..C1, F5..FF */
    d->u8[0] = b;
    d->u8n = 1;
}

/* End of a unit: an unfinished sequence becomes one U+FFFD. */
static void vla__dec_unit_end(vla__dec *d) {
    if (d->u8need) vla__dec_emit_fffd(d);
    d->u8need = d->u8n = 0;
}

VLA_DEF vla_status vla_detokenize(const vla_tokenizer *t, const int32_t *ids, int n, int skip_special,
                                  int clean_up_spaces, char *out, size_t cap, size_t *len) {
    vla__dec d;
    int i, k, first_unit = 1, in_run = 0;
    if (len) *len = 0;
    if (!t || n < 0 || (!ids && n) || (!out && cap)) return VLA_ERR_ARGS;
    for (i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= t->info.n_tokens) return VLA_ERR_RANGE;
    VLA_MEMSET(&d, 0, sizeof d);
    d.out = out;
    d.cap = cap;
    d.clean = clean_up_spaces != 0;
    for (i = 0; i < n; i++) {
        const vla__tok *tk = &t->tok[ids[i]];
        const unsigned char *p = vla__tok_spell(t, (uint32_t)ids[i]);
        size_t j = 0;
        if (skip_special && (tk->flags & VLA__TF_SPECIAL)) continue; /* <s> <pad> </s> <unk> <mask>, added */
        if (tk->type == VLA_TOKEN_USER_DEFINED) { /* an added token is a unit of its own */
            if (in_run) vla__dec_unit_end(&d);
            in_run = 0;
            if (!first_unit) vla__dec_put(&d, 0, ' ');
            first_unit = 0;
            for (j = 0; j < tk->len; j++) vla__dec_put(&d, 0, p[j]); /* valid UTF-8 (checked at init) */
            continue;
        }
        if (!in_run) { /* a new run of base-vocabulary tokens */
            if (!first_unit) vla__dec_put(&d, 0, ' ');
            first_unit = 0;
            in_run = 1;
        }
        if (tk->type == VLA_TOKEN_NORMAL)
            while (j < tk->len) vla__dec_byte(&d, (unsigned char)vla__tok_alpha_next(p, tk->len, &j));
        else
            for (j = 0; j < tk->len; j++) vla__dec_byte(&d, p[j]); /* "<s>" kept: literal */
    }
    if (in_run) vla__dec_unit_end(&d);
    for (k = 0; k < 10; k++) { /* flush the clean-up stages in order */
        int m, pl = d.plen[k];
        d.plen[k] = 0;
        for (m = 0; m < pl; m++) vla__dec_put(&d, k + 1, d.pend[k][m]);
    }
    if (cap) out[d.kept] = 0;
    if (len) *len = d.n;
    return d.n + 1 > cap ? VLA_ERR_NOMEM : VLA_OK;
}


/* ==========================================================================
 * [I14] Trainer
 *
 * The training forward runs the whole decoder teacher-forced (all T positions
 * at once, causal mask) and keeps what the backward pass reads; the backward
 * pass walks the same steps in reverse, one function per layer, each written
 * next to its forward so the two read like the equations.
 * ========================================================================== */

/* ---- backward kernels: reference definitions ---- */

VLA_DEF void vla_linear_bwd_x_ref(float *dx, const float *dy, const vla_mat *w, int M) {
    int m, n, k;
    for (m = 0; m < M; m++)
        for (n = 0; n < w->rows; n++) {
            float g = dy[(size_t)m * w->rows + n];
            for (k = 0; k < w->cols; k++) dx[(size_t)m * w->cols + k] += g * vla__mat_at(w, n, k);
        }
}

VLA_DEF void vla_linear_bwd_w_ref(float *dw, float *db, const float *dy, const float *x, int M, int N, int K) {
    int m, n, k;
    for (n = 0; n < N; n++)
        for (m = 0; m < M; m++) {
            float g = dy[(size_t)m * N + n];
            if (db) db[n] += g;
            for (k = 0; dw && k < K; k++) dw[(size_t)n * K + k] += g * x[(size_t)m * K + k];
        }
}

VLA_DEF void vla_layernorm_bwd(float *dx, float *dg, float *db, const float *dy, const float *x, const float *g, int M, int N,
                               float eps) {
    int m, n;
    for (m = 0; m < M; m++) {
        const float *xr = x + (size_t)m * N, *gy = dy + (size_t)m * N;
        float *dr = dx + (size_t)m * N;
        float mean = 0.0f, var = 0.0f, inv, s1 = 0.0f, s2 = 0.0f;
        for (n = 0; n < N; n++) mean += xr[n];
        mean /= (float)N;
        for (n = 0; n < N; n++) var += (xr[n] - mean) * (xr[n] - mean);
        var /= (float)N;
        inv = 1.0f / VLA_SQRTF(var + eps);
        /* xhat = (x - mean) inv;  dxhat = dy g;
         * dx = inv (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) */
        for (n = 0; n < N; n++) {
            float xh = (xr[n] - mean) * inv, dxh = gy[n] * (g ? g[n] : 1.0f);
            s1 += dxh;
            s2 += dxh * xh;
            if (dg) dg[n] += gy[n] * xh;
            if (db) db[n] += gy[n];
        }
        s1 /= (float)N;
        s2 /= (float)N;
        for (n = 0; n < N; n++) {
            float xh = (xr[n] - mean) * inv, dxh = gy[n] * (g ? g[n] : 1.0f);
            dr[n] = inv * (dxh - s1 - xh * s2);
        }
    }
}

VLA_DEF void vla_gelu_erf_bwd(float *dx, const float *dy, const float *x, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) { /* d/dx x Phi(x) = Phi(x) + x phi(x) */
        float v = x[i];
        float cdf = 0.5f * (1.0f + VLA_ERFF(v * 0.70710678118654752f));
        float pdf = 0.39894228040143268f * VLA_EXPF(-0.5f * v * v);
        dx[i] = dy[i] * (cdf + v * pdf);
    }
}

VLA_DEF void vla_gelu_tanh_bwd(float *dx, const float *dy, const float *x, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) {
        float v = x[i], u = 0.79788456080286536f * (v + 0.044715f * v * v * v), t = VLA_TANHF(u);
        float du = 0.79788456080286536f * (1.0f + 3.0f * 0.044715f * v * v);
        dx[i] = dy[i] * (0.5f * (1.0f + t) + 0.5f * v * (1.0f - t * t) * du);
    }
}

/* Dropout mask element i of stream `key`: kept with probability 1 - p.
 * Counter based (splitmix64 of key and i), so the backward pass and a
 * recomputed forward regenerate exactly the forward's mask. */
static uint64_t vla__mix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

typedef struct vla__drop { float p; uint64_t key; uint32_t thr; } vla__drop; /* p = 0: off; thr = p 2^24 */

/* Element i is kept when the top 24 bits of splitmix64(key + i) reach thr. */
static int vla__keep(const vla__drop *d, size_t i) { return (uint32_t)(vla__mix64(d->key + (uint64_t)i) >> 40) >= d->thr; }


/* ---- backward kernels: fast entry points ----
 *
 * dx = dy W reduces over W's rows, but W is stored with its columns
 * contiguous, so the blocked GEMM (which reduces along contiguous rows) sees
 * W^T: a panel of Kp columns of W is transposed into scratch [Kp, N] and
 *     tmp[M, Kp] = dy[M, N] . panel[Kp, N]^T,   dx[:, panel] += tmp.
 * dW = dy^T x likewise: a chunk of Kc columns of x and a panel of Np columns
 * of dy are transposed, then tmp[Np, Kc] = dyT[Np, M] . xT[Kc, M]^T.
 * Packing is O(N K) (bwd_x) and O((N + K) M K / Kc) (bwd_w) against the
 * GEMM's O(M N K).  With fewer than VLA__BWD_MIN_ROWS rows the plain loops
 * below are used (a GEMV gains nothing from packing). */

#define VLA__BWD_PANEL_FLOATS ((size_t)1 << 20) /* budget for one transposed panel of W */
#define VLA__BWD_MIN_ROWS 8
#define VLA__BWD_NP 64   /* dy columns per bwd_w panel */
#define VLA__BWD_KC 256  /* x columns per bwd_w chunk  */

/* Columns of W per bwd_x panel: 64, fewer for very wide N (LM head), >= 16. */
static int vla__bwd_kp(int N, int K) {
    size_t kp = VLA__BWD_PANEL_FLOATS / (size_t)(N > 0 ? N : 1);
    kp = kp > 64 ? 64 : kp < 16 ? 16 : kp / 16 * 16;
    return (int)kp < K ? (int)kp : K;
}

/* bwd_x reduces over N in chunks of this many when N is larger (an LM head):
 * the chunk of dy is packed once and every panel of W meets it in cache. */
#define VLA__BWD_NC 2048

VLA_DEF size_t vla_linear_bwd_scratch_size(int M, int N, int K) {
    size_t kp, x, w, kc = (size_t)(K < VLA__BWD_KC ? K : VLA__BWD_KC), np = (size_t)(N < VLA__BWD_NP ? N : VLA__BWD_NP);
    if (M < VLA__BWD_MIN_ROWS || N < 1 || K < 1) return 0;
    kp = (size_t)vla__bwd_kp(N > 2 * VLA__BWD_NC ? VLA__BWD_NC : N, K);
    if (N > 2 * VLA__BWD_NC) x = (size_t)M * VLA__BWD_NC + kp * VLA__BWD_NC + (size_t)M * kp; /* dy chunk + panel + tmp */
    else x = kp * (size_t)N + (size_t)M * kp;                 /* bwd_x: panel + tmp          */
    w = kc * (size_t)M + np * (size_t)M + np * kc;            /* bwd_w: xT + dyT + tmp       */
    return vla__align_up((x > w ? x : w) * 4, VLA_ALIGN);
}

/* Plain loops, 4 rows of dx share each row of W (no scratch). */
static void vla__bwd_x_loops(float *dx, const float *dy, const vla_mat *w, int M) {
    int N = w->rows, K = w->cols, n, m, k;
    float wrow[256];
    for (n = 0; n < N; n++) {
        int k0;
        for (k0 = 0; k0 < K; k0 += 256) {
            int kw = K - k0 < 256 ? K - k0 : 256;
            for (k = 0; k < kw; k++) wrow[k] = vla__mat_at(w, n, k0 + k);
            for (m = 0; m < M; m++) {
                float g = dy[(size_t)m * N + n], *d0 = dx + (size_t)m * K + k0;
                if (g == 0.0f) continue;
                for (k = 0; k < kw; k++) d0[k] += g * wrow[k];
            }
        }
    }
}

/* Task i of a bwd_x panel: transpose rows [i per, (i + 1) per) of the
 * panel's block of W, then (after the GEMM) add rows of tmp into dx. */
typedef struct vla__pack_job {
    const vla_mat *w;
    float *pan, *dx;
    const float *tmp;
    int n0, nw, k0, kw, K, M, per, phase;
} vla__pack_job;

static void vla__pack_task(void *arg, int i) {
    const vla__pack_job *J = (const vla__pack_job *)arg;
    int a = i * J->per, b, n, j, m;
    if (J->phase == 0) { /* pan[j, n] = W[n0 + n, k0 + j], tiles of 16 rows */
        b = a + J->per > J->nw ? J->nw : a + J->per;
        if (J->w->type == VLA_TYPE_F32)
            for (n = a; n < b; n += 16) {
                int nn = b - n < 16 ? b - n : 16, q;
                const float *wr = (const float *)J->w->data + (size_t)(J->n0 + n) * J->K + J->k0;
                for (j = 0; j < J->kw; j++)
                    for (q = 0; q < nn; q++) J->pan[(size_t)j * J->nw + n + q] = wr[(size_t)q * J->K + j];
            }
        else
            for (n = a; n < b; n++)
                for (j = 0; j < J->kw; j++) J->pan[(size_t)j * J->nw + n] = vla__mat_at(J->w, J->n0 + n, J->k0 + j);
    } else { /* dx[m, k0 ..] += tmp[m, ..] */
        b = a + J->per > J->M ? J->M : a + J->per;
        for (m = a; m < b; m++) {
            float *d0 = J->dx + (size_t)m * J->K + J->k0;
            const float *t0 = J->tmp + (size_t)m * J->kw;
            for (j = 0; j < J->kw; j++) d0[j] += t0[j];
        }
    }
}

VLA_DEF void vla_linear_bwd_x(const vla_exec *ex, float *dx, const float *dy, const vla_mat *w, int M, float *scratch) {
    int N = w->rows, K = w->cols, kp, k0, m, n0, nc, nt = vla__n_tasks(ex);
    float *pan, *tmp, *dyc = NULL;
    const float *a = dy;
    vla_mat pm;
    vla__pack_job J;
    if (!ex || ex->force_reference) { vla_linear_bwd_x_ref(dx, dy, w, M); return; }
    if (!scratch || M < VLA__BWD_MIN_ROWS) { vla__bwd_x_loops(dx, dy, w, M); return; }
    nc = N > 2 * VLA__BWD_NC ? VLA__BWD_NC : N;
    kp = vla__bwd_kp(nc, K);
    if (nc < N) { dyc = scratch; scratch += (size_t)M * nc; }
    pan = scratch;
    tmp = scratch + (size_t)kp * nc;
    pm.type = VLA_TYPE_F32; pm.data = pan;
    J.w = w; J.pan = pan; J.dx = dx; J.tmp = tmp; J.K = K; J.M = M;
    for (n0 = 0; n0 < N; n0 += nc) {
        int nw = N - n0 < nc ? N - n0 : nc;
        if (dyc) { /* dy[:, n0 .. n0 + nw) made contiguous */
            for (m = 0; m < M; m++) VLA_MEMCPY(dyc + (size_t)m * nw, dy + (size_t)m * N + n0, sizeof(float) * (size_t)nw);
            a = dyc;
        }
        pm.cols = nw;
        J.n0 = n0; J.nw = nw;
        for (k0 = 0; k0 < K; k0 += kp) {
            int kw = K - k0 < kp ? K - k0 : kp;
            J.k0 = k0; J.kw = kw;
            J.phase = 0; J.per = ((nw + nt - 1) / nt + 15) / 16 * 16;
            vla__run(ex, vla__pack_task, &J, (nw + J.per - 1) / J.per);
            pm.rows = kw;
            vla_linear(ex, tmp, a, &pm, NULL, M);                   /* [M, kw] */
            J.phase = 1; J.per = (M + nt - 1) / nt;
            vla__run(ex, vla__pack_task, &J, (M + J.per - 1) / J.per);
        }
    }
}

VLA_DEF void vla_linear_bwd_w(const vla_exec *ex, float *dw, float *db, const float *dy, const float *x, int M, int N, int K,
                              float *scratch) {
    int k0, n0, m, j, k;
    float *xT, *dyT, *tmp;
    vla_mat xm;
    if (!ex || ex->force_reference) { vla_linear_bwd_w_ref(dw, db, dy, x, M, N, K); return; }
    if (db)
        for (m = 0; m < M; m++)
            for (j = 0; j < N; j++) db[j] += dy[(size_t)m * N + j];
    if (!dw) return;
    if (!scratch || M < VLA__BWD_MIN_ROWS) { /* plain loops: each x row updates a row of dW per dy entry */
        for (m = 0; m < M; m++)
            for (j = 0; j < N; j++) {
                float g = dy[(size_t)m * N + j], *w0 = dw + (size_t)j * K;
                const float *xr = x + (size_t)m * K;
                if (g == 0.0f) continue;
                for (k = 0; k < K; k++) w0[k] += g * xr[k];
            }
        return;
    }
    xT = scratch;
    dyT = xT + (size_t)(K < VLA__BWD_KC ? K : VLA__BWD_KC) * M;
    tmp = dyT + (size_t)(N < VLA__BWD_NP ? N : VLA__BWD_NP) * M;
    xm.type = VLA_TYPE_F32; xm.cols = M; xm.data = xT;
    for (k0 = 0; k0 < K; k0 += VLA__BWD_KC) {
        int kw = K - k0 < VLA__BWD_KC ? K - k0 : VLA__BWD_KC;
        for (m = 0; m < M; m += 16) {
            int mm = M - m < 16 ? M - m : 16, q;
            for (k = 0; k < kw; k++)
                for (q = 0; q < mm; q++) xT[(size_t)k * M + m + q] = x[(size_t)(m + q) * K + k0 + k];
        }
        xm.rows = kw;
        for (n0 = 0; n0 < N; n0 += VLA__BWD_NP) {
            int nw = N - n0 < VLA__BWD_NP ? N - n0 : VLA__BWD_NP;
            for (m = 0; m < M; m += 16) {
                int mm = M - m < 16 ? M - m : 16, q;
                for (j = 0; j < nw; j++)
                    for (q = 0; q < mm; q++) dyT[(size_t)j * M + m + q] = dy[(size_t)(m + q) * N + n0 + j];
            }
            vla_linear(ex, tmp, dyT, &xm, NULL, nw);             /* [nw, kw] */
            for (j = 0; j < nw; j++) {
                float *w0 = dw + (size_t)(n0 + j) * K + k0;
                const float *t0 = tmp + (size_t)j * kw;
                for (k = 0; k < kw; k++) w0[k] += t0[k];
            }
        }
    }
}

/* ---- the trainer object ---- */

typedef struct vla__tp {              /* one trainable tensor                     */
    char name[96];                    /* name in the written file                 */
    char official[192];               /* official state-dict name                 */
    int n_dims;
    int64_t ne[VLA_MAX_DIMS];
    size_t n;
    float *w, *g, *m, *v;             /* value, gradient, AdamW moments  [n]      */
    const void *src;                  /* the file tensor it was copied from       */
    int decay, used, cls;             /* cls: VLA__C_* of a base tensor, 0 for modules */
    int keep;                         /* used, saved across a loss-only pass       */
    long nstep;                       /* AdamW steps this tensor took (PyTorch's state["step"]) */
} vla__tp;

/* Gradients of the BART / visual-embedding tensors (NULL where frozen). */
typedef struct vla__lin_g { float *w, *b; } vla__lin_g;
typedef struct vla__ln_g { float *g, *b; } vla__ln_g;
typedef struct vla__attn_g { vla__lin_g q, k, v, o; } vla__attn_g;
typedef struct vla__enc_layer_g { vla__attn_g sa; vla__ln_g sa_ln; vla__lin_g fc1, fc2; vla__ln_g ffn_ln; } vla__enc_layer_g;
typedef struct vla__dec_layer_g { vla__attn_g sa, ca; vla__ln_g sa_ln, ca_ln, ffn_ln; vla__lin_g fc1, fc2; } vla__dec_layer_g;
typedef struct vla__weights_g {
    float *shared, *enc_pos, *dec_pos;
    vla__ln_g enc_ln_emb, dec_ln_emb;
    vla__enc_layer_g *enc;
    vla__dec_layer_g *dec;
    vla__lin_g vis_feat, vis_box;
    vla__ln_g vis_feat_ln, vis_box_ln;
    float *img_order;
} vla__weights_g;

/* A Compacter factor [k, A, B]: one tensor, or the product of a low-rank
 * pair left [k, A, r] x right [k, r, B]. */
typedef struct vla__tfac { vla__tp *whole, *left, *right; int k, A, B, r; } vla__tfac;

/* One half (down or up) of an adapter site of one task, as parameters. */
typedef struct vla__thalf {
    vla__tp *w, *b;                   /* plain adapter: [out, in], [out]          */
    vla__tfac rule, W;                /* Compacter: sum_i kron(rule_i, W_i)       */
    int in, out;
} vla__thalf;
typedef struct vla__tsite { vla__thalf h[2]; int on; } vla__tsite;
typedef struct vla__tlora { vla__tp *A, *B; } vla__tlora;
typedef struct vla__ttask {
    vla_str name;
    vla__tsite *adp;                  /* [n_adp] (adapter, Compacter)             */
    vla__tlora *lora;                 /* [n_lora]                                 */
    vla__tp *pe, *pw1, *pb1, *pw2, *pb2; /* prompt MLP                           */
    vla__tp *temb;                    /* Hyperformer task embedding               */
} vla__ttask;

/* Hyperformer controller of one side (encoder / decoder). */
typedef struct vla__thyper {
    vla__tp *lemb, *p1w, *p1b, *p2w, *p2b, *lnw, *lnb;
    vla__tp *gen[3][2][4];            /* [type][down/up][wgen.w, wgen.b, bgen.w, bgen.b] */
    int E, hid, dp;
    float *in, *h1, *z, *e;           /* per layer: [2E], [hid] pre-ReLU, [dp], [dp] */
} vla__thyper;

/* Gradients of an adapter site's effective (possibly generated) weights. */
typedef struct vla__adp_g { float *dw, *db, *uw, *ub; } vla__adp_g;

typedef struct vla__eact {            /* encoder layer, R = B L rows              */
    float *x;                         /* [R, d]  layer input                      */
    float *q, *k, *v;                 /* [R, d]  projections (q scaled)           */
    float *lq, *lv;                   /* [R, r]  LoRA A x of q_proj, v_proj       */
    float *P;                         /* [B, H, L, L] attention probabilities     */
    float *ctx, *ao, *ah;             /* [R, d] heads, [R, d] out_proj, [R, r] adapter pre-act */
    float *s1, *x1;                   /* [R, d]  LN1 input and output             */
    float *f1, *fo, *fh, *s2;         /* [R, ffn] fc1, [R, d] fc2, [R, r], [R, d] LN2 input */
} vla__eact;

typedef struct vla__dact {            /* decoder layer, R = B T rows, Re = B L    */
    float *x;
    float *q, *k, *v, *lq, *lv, *P, *ctx, *ao, *ah, *s1, *x1;   /* causal self-attention */
    float *cq, *lcq, *xk, *xv, *lxv;  /* cross: q [R, d], LoRA, K/V [Re, d], LoRA of v [Re, r] */
    float *P2, *cctx, *co, *ch, *s2, *x2;
    float *f1, *fo, *fh, *s3;
} vla__dact;

struct vla_trainer {
    const vla_model *m;
    vla_train_params p;
    vla_arena arena;
    vla_logger log;
    /* the adapter file (method, tasks, initial module values) */
    int has_ad;
    vla_gguf ag;
    vla__src src;                     /* where tensors resolve: the adapter file, then the base */
    int method, exact_gelu, n_tasks;
    float lora_scale;
    vla__ttask *tasks;
    vla__thyper hy[2];
    /* trainable tensors */
    vla__tp *tp;
    int n_tp;
    size_t n_params;
    vla__weights W;                   /* the view the step runs: trained tensors point at tp values */
    vla__weights_g G;
    /* the step's modules (the batch's task) */
    int task;
    vla__adp *eff;                    /* [n_adp] effective adapter weights        */
    vla__adp_g *effg;
    float *gen, *geng;                /* generated weights and their grads        */
    size_t gen_n;
    vla__lora *efl;                   /* [n_lora]                                 */
    vla__adp_g *eflg;                 /* A -> dw, B -> uw                         */
    float *prompt, *prompt_h, *dprompt; /* [n_prompt, d], [n_prompt, mid], [n_prompt, d] */
    int n_prompt, max_prompt, rmax;
    /* shapes of the current batch */
    int B, Lt, P, Nv, L, T, Re, Rd;
    /* activations */
    vla__eact *ea, ea_one;            /* per layer (recompute: ea[l].x only + ea_one) */
    vla__dact *da, da_one;
    float *enc_out, *enc_mask;        /* [Re, d], [B, L]                          */
    float *emb_s, *vis_pool, *vis_box, *vis_f, *vis_p;  /* input assembly: pre-LN rows and visual inputs */
    float *dec_s;                     /* [Rd, d] pre-LN decoder embedding         */
    int32_t *dec_ids;                 /* [Rd]                                     */
    float *logits;                    /* [Rd, V] (then its gradient)              */
    float *tokw;                      /* [Rd] loss weight of each token           */
    /* backward scratch */
    float *g0, *g1, *g2, *g3, *gf, *gr0, *gr1, *genc; /* [Rmax, d] x4, [Rmax, wide], [Rmax, r] x2, [Re, d] */
    float *row;                       /* [max(L, T, d, ffn)] + Hyperformer vectors */
    float *fac;                       /* Compacter factors made whole, their grads */
    float *bscr;                      /* scratch of the backward GEMMs             */
    float *arow;                      /* attention backward: one row per task      */
    float *lnpart;                    /* LayerNorm backward: per-chunk dg, db      */
    float *rowloss;                   /* loss of each decoder row                  */
    size_t arow_n;
    /* optimiser */
    long step;
    uint64_t cursor[4];
    int eval;                         /* 1: no dropout (vla_trainer_loss)          */
    float *gx, *dec_out;              /* [Rmax, d] gradient flowing down; [Rd, d] decoder output */
    /* the CLIP trunk when it trains (train_clip) */
    int n_conv;                       /* 3 stem convolutions + 4 per bottleneck   */
    vla__conv *cv;                    /* [n_conv] the trunk, trained values       */
    vla__lin_g *cvg;                  /* [n_conv] their gradients                 */
    size_t cact_n;                    /* floats saved per picture                 */
    float *cact;                      /* [B n_images, cact_n]                     */
    float *cgrid, *dgrid, *dpool;     /* [B n_images, grid, C] x2, [B Nv, F]      */
    float *ccol, *cdcol;              /* im2col of the largest 3x3 conv, its gradient */
    float *cg[3];                     /* gradients of activations: [largest activation] */
    struct vla__tcb *cb;              /* [n blocks] where each block's tensors are saved */
    size_t cs[4];                     /* ... and the stem's: s1, s2, s3, p0        */
    const vla__conv *calib;           /* vla_trainer_calibrate_clip: the conv measured */
    double *calib_s;                  /* [2, cout] its output's sums and squares      */
};

#define VLA__LN_CHUNK 32 /* rows per task of the trainer's LayerNorms (vla__tln) */

enum { VLA__DROP_EMB = 1, VLA__DROP_ATT, VLA__DROP_OUT, VLA__DROP_ACT, VLA__DROP_LORA, VLA__DROP_CROSS_ATT, VLA__DROP_CROSS_OUT,
       VLA__DROP_FFN_OUT };

/* The dropout stream of (step, side, layer, site, example). */
static vla__drop vla__tdrop(const vla_trainer *t, int dec, int layer, int site, int b) {
    vla__drop d;
    d.p = t->eval ? 0.0f : t->p.dropout;
    d.thr = (uint32_t)(d.p * 16777216.0f);
    d.key = vla__mix64(t->p.seed ^ vla__mix64((uint64_t)t->step * 1000003ull + (uint64_t)dec * 7919ull) ^
                       vla__mix64(((uint64_t)layer << 32) | ((uint64_t)site << 16) | (uint64_t)(b + 1)));
    return d;
}

static int vla__cstreq(const char *a, const char *b) { return VLA_STRLEN(a) == VLA_STRLEN(b) && !VLA_MEMCMP(a, b, VLA_STRLEN(a)); }

VLA_DEF vla_train_params vla_train_defaults(const char *method) {
    vla_train_params p;
    VLA_MEMSET(&p, 0, sizeof p);
    p.max_batch = 1; p.max_text_len = 20; p.max_images = 1; p.max_grid = 49; p.max_target_len = 10;
    p.train_visual = 1;
    p.lr = 1e-3;
    p.beta1 = 0.9f; p.beta2 = 0.999f; p.eps = 1e-6f; p.weight_decay = 0.01f;
    p.clip_norm = 5.0f;
    p.total_steps = 1; p.warmup_steps = 0;
    p.dropout = 0.1f;
    p.seed = 9595;
    p.exec.n_threads = 1;
    if (!method) method = "none";
    if (vla__cstreq(method, "adapter") || vla__cstreq(method, "compacter") || vla__cstreq(method, "hyperformer") ||
        vla__cstreq(method, "multiple_adapters") || vla__cstreq(method, "half_shared_adapters"))
        p.train_layer_norms = 1;
    if (vla__cstreq(method, "multiple_adapters") || vla__cstreq(method, "half_shared_adapters")) p.lr = 3e-4;
    if (vla__cstreq(method, "lora")) p.train_biases = 1;
    if (vla__cstreq(method, "full")) { p.full_finetune = 1; p.lr = 1e-4; }
    return p;
}

/* ---- official names (the state-dict names of the VL-Adapter code) ---- */

static void vla__cat(char *d, size_t cap, const char *s) {
    size_t n = VLA_STRLEN(d);
    while (*s && n + 1 < cap) d[n++] = *s++;
    d[n] = 0;
}
static void vla__catn(char *d, size_t cap, const char *s, size_t k) {
    size_t n = VLA_STRLEN(d), i;
    for (i = 0; i < k && s[i] && n + 1 < cap; i++) d[n++] = s[i];
    d[n] = 0;
}

/* Split "a.b.c" at dots: up to 8 parts into p[] (pointers, lengths). */
static int vla__split(const char *s, const char **p, size_t *n, int max) {
    int k = 0;
    while (*s && k < max) {
        const char *e = s;
        while (*e && *e != '.') e++;
        p[k] = s; n[k] = (size_t)(e - s); k++;
        s = *e ? e + 1 : e;
    }
    return k;
}
static int vla__is(const char *p, size_t n, const char *w) { return VLA_STRLEN(w) == n && !VLA_MEMCMP(p, w, n); }

/* Our tensor name -> the official one ("*" tasks become the first task). */
static void vla__official(const vla_trainer *t, const char *nm, char *out, size_t cap) {
    const char *p[8];
    size_t n[8];
    int k = vla__split(nm, p, n, 8), enc;
    const char *tk;
    size_t tn;
    out[0] = 0;
    vla__cat(out, cap, "model.");
    if (k < 2 || n[0] != 1 || (nm[0] != 'A' && nm[0] != 'L' && nm[0] != 'P' && nm[0] != 'H')) { vla__cat(out, cap, nm); return; }
    tk = p[1]; tn = n[1];
    if (tn == 1 && tk[0] == '*' && t->n_tasks > 0) { tk = t->tasks[0].name.s; tn = t->tasks[0].name.n; }
    if (nm[0] == 'A' && k == 7) { /* A.<task>.<enc|dec>.<l>.<site>.<down|up>.<param> */
        enc = vla__is(p[2], n[2], "enc");
        vla__cat(out, cap, enc ? "encoder.layers." : "decoder.layers.");
        vla__catn(out, cap, p[3], n[3]);
        vla__cat(out, cap, vla__is(p[4], n[4], "attn") || vla__is(p[4], n[4], "self") ? (enc ? ".attn_adapter" : ".self_attn_adapter")
                         : vla__is(p[4], n[4], "cross") ? ".enc_attn_adapter" : ".ff_adapter");
        vla__cat(out, cap, ".adapters.");
        vla__catn(out, cap, tk, tn);
        vla__cat(out, cap, vla__is(p[5], n[5], "down") ? ".down_sampler." : ".up_sampler.");
        if (vla__is(p[6], n[6], "bias")) vla__cat(out, cap, t->method == VLA__M_COMPACTER ? "b" : "bias");
        else if (vla__is(p[6], n[6], "rule")) vla__cat(out, cap, "phm_rule");
        else if (vla__is(p[6], n[6], "rule_left")) vla__cat(out, cap, "phm_rule_left");
        else if (vla__is(p[6], n[6], "rule_right")) vla__cat(out, cap, "phm_rule_right");
        else vla__catn(out, cap, p[6], n[6]);
    } else if (nm[0] == 'L' && k == 6) { /* L.<task>.<enc|dec>.<l>.<q|v|xq|xv>.<A|B> */
        int x = n[4] == 2;
        vla__cat(out, cap, vla__is(p[2], n[2], "enc") ? "encoder.layers." : "decoder.layers.");
        vla__catn(out, cap, p[3], n[3]);
        vla__cat(out, cap, x ? ".encoder_attn." : ".self_attn.");
        vla__catn(out, cap, p[4] + x, 1);
        vla__cat(out, cap, vla__is(p[5], n[5], "A") ? "_proj.lora_As." : "_proj.lora_Bs.");
        vla__catn(out, cap, tk, tn);
    } else if (nm[0] == 'P') { /* P.<task>.emb | fc1.weight ... */
        vla__cat(out, cap, "encoder.prompt_modules.prompts.");
        vla__catn(out, cap, tk, tn);
        vla__cat(out, cap, ".prefix_embedding.");
        if (vla__is(p[2], n[2], "emb")) vla__cat(out, cap, "0.weight");
        else {
            vla__cat(out, cap, vla__is(p[2], n[2], "fc1") ? "1." : "3.");
            if (k > 3) vla__catn(out, cap, p[3], n[3]);
        }
    } else if (nm[0] == 'H' && vla__is(p[1], n[1], "task")) {
        vla__cat(out, cap, "shared_task_embed.task_to_embeddings.");
        vla__cat(out, cap, nm + 7);
    } else if (nm[0] == 'H' && k >= 3) { /* H.<enc|dec>.<...> */
        enc = vla__is(p[1], n[1], "enc");
        vla__cat(out, cap, enc ? "encoder.adapter_layers_hyper_net." : "decoder.adapter_layers_hyper_net.");
        if (vla__is(p[2], n[2], "layer_emb")) vla__cat(out, cap, "layer_id_embeddings.weight");
        else if (k == 4 && (vla__is(p[2], n[2], "proj1") || vla__is(p[2], n[2], "proj2"))) {
            vla__cat(out, cap, vla__is(p[2], n[2], "proj1") ? "task_hypernet.task_embeding_generator.0." : "task_hypernet.task_embeding_generator.2.");
            vla__catn(out, cap, p[3], n[3]);
        } else if (k == 4 && vla__is(p[2], n[2], "ln")) {
            vla__cat(out, cap, "LayerNorm.");
            vla__catn(out, cap, p[3], n[3]);
        } else if (k == 6) { /* H.<s>.<type>.<down|up>.<wgen|bgen>.<weight|bias> */
            vla__cat(out, cap, vla__is(p[2], n[2], "ffn") ? "feed_forward_" : vla__is(p[2], n[2], "cross") ? "cross_attention_" : "self_attention_");
            vla__catn(out, cap, p[3], n[3]);
            vla__cat(out, cap, vla__is(p[4], n[4], "wgen") ? "_sampler_hyper_net.weight_generator.0." : "_sampler_hyper_net.bias_generator.0.");
            vla__catn(out, cap, p[5], n[5]);
        } else vla__cat(out, cap, nm);
    } else vla__cat(out, cap, nm);
}

/* 1 if w occurs in s (both NUL-terminated). */
static int vla__contains(const char *s, const char *w) {
    size_t n = VLA_STRLEN(s), k = VLA_STRLEN(w), i;
    for (i = 0; i + k <= n; i++)
        if (!VLA_MEMCMP(s + i, w, k)) return 1;
    return 0;
}

/* transformers' no-decay rule on the official name. */
static int vla__decays(const char *official) { return !vla__contains(official, "bias") && !vla__contains(official, "LayerNorm.weight"); }

/* ---- the trainable set ---- */

enum { VLA__C_MAT = 1, VLA__C_BIAS, VLA__C_LN_G, VLA__C_LN_B, VLA__C_EMB, VLA__C_VIS, VLA__C_CLIP };

/* Every BART / visual-embedding tensor with its class and the fields of the
 * weight view and gradient view it fills (NULL fields while planning). */
typedef void (*vla__slot_fn)(void *u, const char *name, int cls, vla_mat *mat, const float **vec, float **grad);

static void vla__each_base(const vla_hparams *hp, vla__weights *W, vla__weights_g *G, vla__slot_fn fn, void *u) {
    char nm[96];
    int l;
    static const char *pj[4] = {"q_proj", "k_proj", "v_proj", "out_proj"};
#define VLA__V(name, cls, f, gf) fn(u, name, cls, NULL, W ? &W->f : NULL, G ? &G->gf : NULL)
#define VLA__NM(pre, i, post) vla__name(nm, sizeof nm, pre, i, post)
    fn(u, "shared.weight", VLA__C_EMB, W ? &W->shared : NULL, NULL, G ? &G->shared : NULL);
    fn(u, "encoder.embed_positions.weight", VLA__C_EMB, W ? &W->enc_pos : NULL, NULL, G ? &G->enc_pos : NULL);
    fn(u, "decoder.embed_positions.weight", VLA__C_EMB, W ? &W->dec_pos : NULL, NULL, G ? &G->dec_pos : NULL);
    VLA__V("encoder.layernorm_embedding.weight", VLA__C_LN_G, enc_ln_emb.g, enc_ln_emb.g);
    VLA__V("encoder.layernorm_embedding.bias", VLA__C_LN_B, enc_ln_emb.b, enc_ln_emb.b);
    VLA__V("decoder.layernorm_embedding.weight", VLA__C_LN_G, dec_ln_emb.g, dec_ln_emb.g);
    VLA__V("decoder.layernorm_embedding.bias", VLA__C_LN_B, dec_ln_emb.b, dec_ln_emb.b);
    for (l = 0; l < hp->n_enc_layers; l++) {
        vla__enc_layer *L = W ? &W->enc[l] : NULL;
        vla__enc_layer_g *Q = G ? &G->enc[l] : NULL;
        vla__lin *lins[4];
        vla__lin_g *gl[4];
        int j;
        if (L) { lins[0] = &L->sa.q; lins[1] = &L->sa.k; lins[2] = &L->sa.v; lins[3] = &L->sa.o; }
        if (Q) { gl[0] = &Q->sa.q; gl[1] = &Q->sa.k; gl[2] = &Q->sa.v; gl[3] = &Q->sa.o; }
        for (j = 0; j < 4; j++) {
            char b2[48];
            vla__name(b2, sizeof b2, ".self_attn.", -1, pj[j]);
            fn(u, (VLA__NM("encoder.layers.", l, b2), vla__cat(nm, sizeof nm, ".weight"), nm), VLA__C_MAT, L ? &lins[j]->w : NULL, NULL, Q ? &gl[j]->w : NULL);
            fn(u, (VLA__NM("encoder.layers.", l, b2), vla__cat(nm, sizeof nm, ".bias"), nm), VLA__C_BIAS, NULL, L ? &lins[j]->b : NULL, Q ? &gl[j]->b : NULL);
        }
        fn(u, VLA__NM("encoder.layers.", l, ".self_attn_layer_norm.weight"), VLA__C_LN_G, NULL, L ? &L->sa_ln.g : NULL, Q ? &Q->sa_ln.g : NULL);
        fn(u, VLA__NM("encoder.layers.", l, ".self_attn_layer_norm.bias"), VLA__C_LN_B, NULL, L ? &L->sa_ln.b : NULL, Q ? &Q->sa_ln.b : NULL);
        fn(u, VLA__NM("encoder.layers.", l, ".fc1.weight"), VLA__C_MAT, L ? &L->fc1.w : NULL, NULL, Q ? &Q->fc1.w : NULL);
        fn(u, VLA__NM("encoder.layers.", l, ".fc1.bias"), VLA__C_BIAS, NULL, L ? &L->fc1.b : NULL, Q ? &Q->fc1.b : NULL);
        fn(u, VLA__NM("encoder.layers.", l, ".fc2.weight"), VLA__C_MAT, L ? &L->fc2.w : NULL, NULL, Q ? &Q->fc2.w : NULL);
        fn(u, VLA__NM("encoder.layers.", l, ".fc2.bias"), VLA__C_BIAS, NULL, L ? &L->fc2.b : NULL, Q ? &Q->fc2.b : NULL);
        fn(u, VLA__NM("encoder.layers.", l, ".final_layer_norm.weight"), VLA__C_LN_G, NULL, L ? &L->ffn_ln.g : NULL, Q ? &Q->ffn_ln.g : NULL);
        fn(u, VLA__NM("encoder.layers.", l, ".final_layer_norm.bias"), VLA__C_LN_B, NULL, L ? &L->ffn_ln.b : NULL, Q ? &Q->ffn_ln.b : NULL);
    }
    for (l = 0; l < hp->n_dec_layers; l++) {
        vla__dec_layer *L = W ? &W->dec[l] : NULL;
        vla__dec_layer_g *Q = G ? &G->dec[l] : NULL;
        int j, side;
        for (side = 0; side < 2; side++) {
            vla__attn *at = L ? (side ? &L->ca : &L->sa) : NULL;
            vla__attn_g *ag = Q ? (side ? &Q->ca : &Q->sa) : NULL;
            vla__ln *ln = L ? (side ? &L->ca_ln : &L->sa_ln) : NULL;
            vla__ln_g *lg = Q ? (side ? &Q->ca_ln : &Q->sa_ln) : NULL;
            for (j = 0; j < 4; j++) {
                char b2[48];
                vla__lin *li = at ? (j == 0 ? &at->q : j == 1 ? &at->k : j == 2 ? &at->v : &at->o) : NULL;
                vla__lin_g *gi = ag ? (j == 0 ? &ag->q : j == 1 ? &ag->k : j == 2 ? &ag->v : &ag->o) : NULL;
                vla__name(b2, sizeof b2, side ? ".encoder_attn." : ".self_attn.", -1, pj[j]);
                fn(u, (VLA__NM("decoder.layers.", l, b2), vla__cat(nm, sizeof nm, ".weight"), nm), VLA__C_MAT, li ? &li->w : NULL, NULL, gi ? &gi->w : NULL);
                fn(u, (VLA__NM("decoder.layers.", l, b2), vla__cat(nm, sizeof nm, ".bias"), nm), VLA__C_BIAS, NULL, li ? &li->b : NULL, gi ? &gi->b : NULL);
            }
            fn(u, VLA__NM("decoder.layers.", l, side ? ".encoder_attn_layer_norm.weight" : ".self_attn_layer_norm.weight"), VLA__C_LN_G, NULL, ln ? &ln->g : NULL, lg ? &lg->g : NULL);
            fn(u, VLA__NM("decoder.layers.", l, side ? ".encoder_attn_layer_norm.bias" : ".self_attn_layer_norm.bias"), VLA__C_LN_B, NULL, ln ? &ln->b : NULL, lg ? &lg->b : NULL);
        }
        fn(u, VLA__NM("decoder.layers.", l, ".fc1.weight"), VLA__C_MAT, L ? &L->fc1.w : NULL, NULL, Q ? &Q->fc1.w : NULL);
        fn(u, VLA__NM("decoder.layers.", l, ".fc1.bias"), VLA__C_BIAS, NULL, L ? &L->fc1.b : NULL, Q ? &Q->fc1.b : NULL);
        fn(u, VLA__NM("decoder.layers.", l, ".fc2.weight"), VLA__C_MAT, L ? &L->fc2.w : NULL, NULL, Q ? &Q->fc2.w : NULL);
        fn(u, VLA__NM("decoder.layers.", l, ".fc2.bias"), VLA__C_BIAS, NULL, L ? &L->fc2.b : NULL, Q ? &Q->fc2.b : NULL);
        fn(u, VLA__NM("decoder.layers.", l, ".final_layer_norm.weight"), VLA__C_LN_G, NULL, L ? &L->ffn_ln.g : NULL, Q ? &Q->ffn_ln.g : NULL);
        fn(u, VLA__NM("decoder.layers.", l, ".final_layer_norm.bias"), VLA__C_LN_B, NULL, L ? &L->ffn_ln.b : NULL, Q ? &Q->ffn_ln.b : NULL);
    }
    if (hp->has_visual) {
        fn(u, "encoder.visual_embedding.feat_embedding.0.weight", VLA__C_VIS, W ? &W->vis_feat.w : NULL, NULL, G ? &G->vis_feat.w : NULL);
        VLA__V("encoder.visual_embedding.feat_embedding.0.bias", VLA__C_VIS, vis_feat.b, vis_feat.b);
        VLA__V("encoder.visual_embedding.feat_embedding.1.weight", VLA__C_VIS, vis_feat_ln.g, vis_feat_ln.g);
        VLA__V("encoder.visual_embedding.feat_embedding.1.bias", VLA__C_VIS, vis_feat_ln.b, vis_feat_ln.b);
        fn(u, "encoder.visual_embedding.absolute_vis_pos_embedding.0.weight", VLA__C_VIS, W ? &W->vis_box.w : NULL, NULL, G ? &G->vis_box.w : NULL);
        VLA__V("encoder.visual_embedding.absolute_vis_pos_embedding.0.bias", VLA__C_VIS, vis_box.b, vis_box.b);
        VLA__V("encoder.visual_embedding.absolute_vis_pos_embedding.1.weight", VLA__C_VIS, vis_box_ln.g, vis_box_ln.g);
        VLA__V("encoder.visual_embedding.absolute_vis_pos_embedding.1.bias", VLA__C_VIS, vis_box_ln.b, vis_box_ln.b);
        fn(u, "encoder.visual_embedding.img_order_embedding.weight", VLA__C_VIS, W ? &W->img_order : NULL, NULL, G ? &G->img_order : NULL);
    }
#undef VLA__V
#undef VLA__NM
}

/* The CLIP trunk's convolutions in the model's order: stem conv1..3, then
 * each bottleneck's conv1, conv2, conv3, downsample.0 (index 3 + 4 nb + j;
 * a block without a downsample leaves its slot unused). */
static void vla__each_clip(const vla_model *m, vla__conv *cv, vla__lin_g *g, vla__slot_fn fn, void *u) {
    const vla_hparams *hp = &m->hp;
    static const char *part[4] = {".conv1", ".conv2", ".conv3", ".downsample.0"};
    char pre[80], nm[96];
    int si, bi, nb = 0, j;
    for (j = 0; j < 3; j++) {
        vla__name(pre, sizeof pre, "visual.conv", j + 1, "");
        fn(u, vla__name(nm, sizeof nm, pre, -1, ".weight"), VLA__C_CLIP, cv ? &cv[j].w : NULL, NULL, g ? &g[j].w : NULL);
        fn(u, vla__name(nm, sizeof nm, pre, -1, ".bias"), VLA__C_CLIP, NULL, cv ? &cv[j].b : NULL, g ? &g[j].b : NULL);
    }
    for (si = 0; si < 4; si++)
        for (bi = 0; bi < hp->clip_blocks[si]; bi++, nb++)
            for (j = 0; j < 4; j++) {
                int c = 3 + 4 * nb + j;
                size_t pl;
                if (j == 3 && !m->clip_blocks[nb].has_down) continue;
                vla__name(pre, sizeof pre, "visual.layer", si + 1, ".");
                pl = VLA_STRLEN(pre);
                vla__name(pre + pl, sizeof pre - pl, "", bi, part[j]);
                fn(u, vla__name(nm, sizeof nm, pre, -1, ".weight"), VLA__C_CLIP, cv ? &cv[c].w : NULL, NULL, g ? &g[c].w : NULL);
                fn(u, vla__name(nm, sizeof nm, pre, -1, ".bias"), VLA__C_CLIP, NULL, cv ? &cv[c].b : NULL, g ? &g[c].b : NULL);
            }
}

static int vla__trains(const vla_train_params *p, int cls) {
    if (cls == VLA__C_CLIP) return p->train_clip;
    if (p->full_finetune) return 1;
    if (cls == VLA__C_VIS) return p->train_visual;
    if (cls == VLA__C_LN_G) return p->train_layer_norms;
    if (cls == VLA__C_LN_B) return p->train_layer_norms || p->train_biases;
    if (cls == VLA__C_BIAS) return p->train_biases;
    return 0;
}

static int vla__is_peft_name(vla_str n) { return n.n > 2 && n.s[1] == '.' && (n.s[0] == 'A' || n.s[0] == 'L' || n.s[0] == 'P' || n.s[0] == 'H'); }

/* Sizes that decide the layout, read from the files alone. */
typedef struct vla__tplan {
    int n_tp;
    size_t n_floats;        /* trainable floats, each tensor rounded up to 16   */
    int rmax, n_prompt, mid, hyE, hyhid, hydp;
    vla_status st;
    const vla_trainer *t;
} vla__tplan;


static size_t vla__tensor_elems(const vla_tensor *x) {
    size_t n = 1;
    int d;
    for (d = 0; d < x->n_dims; d++) n *= (size_t)x->ne[d];
    return n;
}

static void vla__plan_slot(void *u, const char *name, int cls, vla_mat *mat, const float **vec, float **grad) {
    vla__tplan *pl = (vla__tplan *)u;
    vla_tensor x;
    (void)mat; (void)vec; (void)grad;
    if (!vla__trains(&pl->t->p, cls)) return;
    if (vla__find(&pl->t->src, name, &x) != VLA_OK) { pl->st = VLA_ERR_FORMAT; return; }
    if (x.type == VLA_TYPE_I8) { /* its values live in two tensors (q, scale): train from the F32 model */
        vla__log(&pl->t->log, VLA_LOG_ERROR, "trainer: '%s' is I8; a tensor that trains must be F32, F16 or Q8_0 (vla-quantize --to f32)", name, 0, 0);
        pl->st = VLA_ERR_UNSUPPORTED;
        return;
    }
    pl->n_tp++;
    pl->n_floats += (vla__tensor_elems(&x) + 15) / 16 * 16;
}

/* Ends with suffix? */
static int vla__ends(vla_str s, const char *suf) {
    size_t k = VLA_STRLEN(suf);
    return s.n >= k && !VLA_MEMCMP(s.s + s.n - k, suf, k);
}

static vla_status vla__trainer_plan(vla_trainer *t, vla__tplan *pl) {
    uint64_t i;
    VLA_MEMSET(pl, 0, sizeof *pl);
    pl->t = t;
    vla__each_base(&t->m->hp, NULL, NULL, vla__plan_slot, pl);
    if (t->p.train_clip) vla__each_clip(t->m, NULL, NULL, vla__plan_slot, pl);
    if (pl->st == VLA_ERR_FORMAT) vla__log(&t->log, VLA_LOG_ERROR, "trainer: a tensor to train is missing from the model", 0, 0, 0);
    if (pl->st != VLA_OK) return pl->st;
    for (i = 0; t->has_ad && i < t->ag.n_tensors; i++) {
        vla_tensor x;
        size_t n;
        if (vla__gguf_tensor_at(&t->ag, i, &x) != VLA_OK) return VLA_ERR_FORMAT;
        if (!vla__is_peft_name(x.name)) continue;
        if (x.type != VLA_TYPE_F32) {
            vla__log(&t->log, VLA_LOG_ERROR, "trainer: adapter tensors must be F32 to train (re-convert without --q8/--precompute)", 0, 0, 0);
            return VLA_ERR_UNSUPPORTED;
        }
        if (x.name.n >= 95) return VLA_ERR_FORMAT;
        n = vla__tensor_elems(&x);
        pl->n_tp++;
        pl->n_floats += (n + 15) / 16 * 16;
        if (x.name.s[0] == 'A' && vla__ends(x.name, ".down.bias") && (int)x.ne[0] > pl->rmax) pl->rmax = (int)x.ne[0];
        if (x.name.s[0] == 'L' && vla__ends(x.name, ".A") && x.n_dims == 2 && (int)x.ne[1] > pl->rmax) pl->rmax = (int)x.ne[1];
        if (x.name.s[0] == 'H' && vla__ends(x.name, ".down.bgen.weight") && x.n_dims == 2 && (int)x.ne[1] > pl->rmax) pl->rmax = (int)x.ne[1];
        if (x.name.s[0] == 'P' && vla__ends(x.name, ".emb") && x.n_dims == 2 && (int)x.ne[1] > pl->n_prompt) pl->n_prompt = (int)x.ne[1];
        if (x.name.s[0] == 'P' && vla__ends(x.name, ".fc1.weight") && x.n_dims == 2 && (int)x.ne[1] > pl->mid) pl->mid = (int)x.ne[1];
        if (x.name.s[0] == 'P' && vla__ends(x.name, ".prompt")) {
            vla__log(&t->log, VLA_LOG_ERROR, "trainer: this adapter file holds precomputed prompts; train from the file with the prompt MLP", 0, 0, 0);
            return VLA_ERR_UNSUPPORTED;
        }
        if (x.name.s[0] == 'H' && x.name.n > 7 && !VLA_MEMCMP(x.name.s, "H.task.", 7)) pl->hyE = (int)x.ne[0];
        if (x.name.s[0] == 'H' && vla__ends(x.name, "enc.proj1.weight") && x.n_dims == 2) pl->hyhid = (int)x.ne[1];
        if (x.name.s[0] == 'H' && vla__ends(x.name, "enc.proj2.weight") && x.n_dims == 2) pl->hydp = (int)x.ne[1];
    }
    return VLA_OK;
}

/* ---- the CLIP trunk's training plan (train_clip; the passes are below) ---- */

static int vla__clip_nblocks(const vla_hparams *hp) { return hp->clip_blocks[0] + hp->clip_blocks[1] + hp->clip_blocks[2] + hp->clip_blocks[3]; }

typedef struct vla__tcb vla__tcb;
struct vla__tcb {             /* one bottleneck's saved tensors: offsets  */
    size_t x, h1, h2, h2p, xp, out;   /* input, relu(conv1), relu(conv2), pooled  */
    int H, Ho;                        /* h2 and x (strided blocks only), output    */
};

/* Walk the trunk: the offsets (cb [n blocks], cs = stem s1, s2, s3, p0; both
 * may be NULL), the floats saved per picture, the largest im2col of a 3x3
 * convolution and the largest backward-GEMM scratch. */
static void vla__tclip_plan(const vla_model *m, vla__tcb *cb, size_t *cs, size_t *per_pic, size_t *col, size_t *bscr) {
    const vla_hparams *hp = &m->hp;
    int S = hp->clip_image_size, w = hp->clip_width, H = S / 2, si, bi, nb = 0, inpl = w, j;
    size_t n = 0, c = 0, bs = 0, q;
#define VLA__TC_CONV(Mo, cout, K, k)                                                             \
    do {                                                                                         \
        if ((k) > 1 && (q = (size_t)(Mo) * (size_t)(K)) > c) c = q;                              \
        if ((q = vla_linear_bwd_scratch_size((Mo), (cout), (K))) > bs) bs = q;                   \
    } while (0)
    /* stem: s1, s2 [S/2, S/2, w/2], s3 [S/2, S/2, w], p0 [S/4, S/4, w] */
    VLA__TC_CONV(H * H, w / 2, 27, 3);
    VLA__TC_CONV(H * H, w / 2, 9 * (w / 2), 3);
    VLA__TC_CONV(H * H, w, 9 * (w / 2), 3);
    for (j = 0; j < 3; j++) {
        if (cs) cs[j] = n;
        n += (size_t)H * H * (size_t)(j == 2 ? w : w / 2);
    }
    H /= 2;
    if (cs) cs[3] = n;
    n += (size_t)H * H * (size_t)w;
    for (si = 0; si < 4; si++) {
        int planes = w << si;
        for (bi = 0; bi < hp->clip_blocks[si]; bi++, nb++) {
            const vla__bottleneck *bk = &m->clip_blocks[nb];
            int s = bk->stride, Ho = H / s;
            vla__tcb b;
            VLA_MEMSET(&b, 0, sizeof b);
            b.x = nb ? cb ? cb[nb - 1].out : 0 : (cs ? cs[3] : 0);
            b.H = H; b.Ho = Ho;
            b.h1 = n; n += (size_t)H * H * (size_t)planes;
            b.h2 = n; n += (size_t)H * H * (size_t)planes;
            if (s > 1) { b.h2p = n; n += (size_t)Ho * Ho * (size_t)planes; }
            if (s > 1 && bk->has_down) { b.xp = n; n += (size_t)Ho * Ho * (size_t)inpl; }
            b.out = n; n += (size_t)Ho * Ho * (size_t)(4 * planes);
            VLA__TC_CONV(H * H, planes, inpl, 1);
            VLA__TC_CONV(H * H, planes, 9 * planes, 3);
            VLA__TC_CONV(Ho * Ho, 4 * planes, planes, 1);
            if (bk->has_down) VLA__TC_CONV(Ho * Ho, 4 * planes, inpl, 1);
            if (cb) cb[nb] = b;
            H = Ho;
            inpl = 4 * planes;
        }
    }
#undef VLA__TC_CONV
    *per_pic = n;
    *col = c ? c : 1;
    *bscr = bs;
}

/* ---- layout: the same calls size (measuring arena) and carve ---- */

static int vla__n_adp(const vla_hparams *hp) { return 2 * hp->n_enc_layers + 3 * hp->n_dec_layers; }
static int vla__n_lora(const vla_hparams *hp) { return 2 * hp->n_enc_layers + 4 * hp->n_dec_layers; }

#define VLA__TA(ptr, n) ((ptr) = (float *)vla_arena_alloc(a, vla__mul((size_t)(n), 4)), ok = ok && (ptr) != NULL)

/* rl: LoRA rank (0 without LoRA), ra: adapter width (0 without adapters). */
static int vla__eact_alloc(vla_arena *a, vla__eact *A, size_t Re, size_t d, size_t rl, size_t ra, size_t ffn, size_t att, int x_only) {
    int ok = 1;
    VLA__TA(A->x, Re * d);
    if (x_only) return ok;
    VLA__TA(A->q, Re * d); VLA__TA(A->k, Re * d); VLA__TA(A->v, Re * d);
    VLA__TA(A->lq, Re * rl); VLA__TA(A->lv, Re * rl);
    VLA__TA(A->P, att);
    VLA__TA(A->ctx, Re * d); VLA__TA(A->ao, Re * d); VLA__TA(A->ah, Re * ra);
    VLA__TA(A->s1, Re * d); VLA__TA(A->x1, Re * d);
    VLA__TA(A->f1, Re * ffn); VLA__TA(A->fo, Re * d); VLA__TA(A->fh, Re * ra); VLA__TA(A->s2, Re * d);
    return ok;
}

static int vla__dact_alloc(vla_arena *a, vla__dact *A, size_t Rd, size_t Re, size_t d, size_t rl, size_t ra, size_t ffn, size_t att1,
                           size_t att2, int x_only) {
    int ok = 1;
    VLA__TA(A->x, Rd * d);
    if (x_only) return ok;
    VLA__TA(A->q, Rd * d); VLA__TA(A->k, Rd * d); VLA__TA(A->v, Rd * d);
    VLA__TA(A->lq, Rd * rl); VLA__TA(A->lv, Rd * rl);
    VLA__TA(A->P, att1);
    VLA__TA(A->ctx, Rd * d); VLA__TA(A->ao, Rd * d); VLA__TA(A->ah, Rd * ra);
    VLA__TA(A->s1, Rd * d); VLA__TA(A->x1, Rd * d);
    VLA__TA(A->cq, Rd * d); VLA__TA(A->lcq, Rd * rl);
    VLA__TA(A->xk, Re * d); VLA__TA(A->xv, Re * d); VLA__TA(A->lxv, Re * rl);
    VLA__TA(A->P2, att2);
    VLA__TA(A->cctx, Rd * d); VLA__TA(A->co, Rd * d); VLA__TA(A->ch, Rd * ra);
    VLA__TA(A->s2, Rd * d); VLA__TA(A->x2, Rd * d);
    VLA__TA(A->f1, Rd * ffn); VLA__TA(A->fo, Rd * d); VLA__TA(A->fh, Rd * ra); VLA__TA(A->s3, Rd * d);
    return ok;
}

static size_t vla__gen_per_site(const vla_trainer *t) {
    size_t d = (size_t)t->m->hp.d_model, r = (size_t)t->rmax;
    return 2 * r * d + r + d;
}

static vla_status vla__trainer_layout(vla_trainer *t, vla_arena *a, const vla__tplan *pl) {
    const vla_hparams *hp = &t->m->hp;
    size_t d = (size_t)hp->d_model, B = (size_t)t->p.max_batch, H = (size_t)(hp->n_enc_heads > hp->n_dec_heads ? hp->n_enc_heads : hp->n_dec_heads);
    size_t Lmax = (size_t)(pl->n_prompt + vla__enc_len(hp, t->p.max_text_len, t->p.max_images)), Tm = (size_t)t->p.max_target_len;
    size_t Re = B * Lmax, Rd = B * Tm, Rm = Re > Rd ? Re : Rd, r = (size_t)(pl->rmax > 0 ? pl->rmax : 1);
    size_t ffn = (size_t)(hp->enc_ffn > hp->dec_ffn ? hp->enc_ffn : hp->dec_ffn), wide = ffn > d ? ffn : d, V = (size_t)hp->vocab;
    size_t Nv = B * (size_t)(t->p.max_images * (hp->has_visual ? hp->n_boxes : 0)), F = (size_t)(hp->has_visual ? hp->feat_dim : 1);
    int nadp = vla__n_adp(hp), nlora = vla__n_lora(hp), l, ok = 1, rec = t->p.recompute, side;
    size_t rl = t->method == VLA__M_LORA ? r : 0;
    size_t ra = t->method == VLA__M_ADAPTER || t->method == VLA__M_COMPACTER || t->method == VLA__M_HYPERFORMER ? r : 0;
    t->rmax = pl->rmax > 0 ? pl->rmax : 1;
    t->max_prompt = pl->n_prompt;
    t->tp = (vla__tp *)vla_arena_alloc(a, sizeof(vla__tp) * (size_t)(pl->n_tp + 1));
    ok = t->tp != NULL;
    {   /* values, gradients, moments: one block each */
        float *w, *g, *m, *v;
        VLA__TA(w, pl->n_floats); VLA__TA(g, pl->n_floats); VLA__TA(m, pl->n_floats); VLA__TA(v, pl->n_floats);
        if (ok && !a->measuring) { t->tp[0].w = w; t->tp[0].g = g; t->tp[0].m = m; t->tp[0].v = v; }
    }
    t->W.enc = (vla__enc_layer *)vla_arena_alloc(a, sizeof(vla__enc_layer) * (size_t)(hp->n_enc_layers + 1));
    t->W.dec = (vla__dec_layer *)vla_arena_alloc(a, sizeof(vla__dec_layer) * (size_t)(hp->n_dec_layers + 1));
    t->G.enc = (vla__enc_layer_g *)vla_arena_alloc(a, sizeof(vla__enc_layer_g) * (size_t)(hp->n_enc_layers + 1));
    t->G.dec = (vla__dec_layer_g *)vla_arena_alloc(a, sizeof(vla__dec_layer_g) * (size_t)(hp->n_dec_layers + 1));
    t->tasks = (vla__ttask *)vla_arena_alloc(a, sizeof(vla__ttask) * (size_t)(t->n_tasks + 1));
    ok = ok && t->W.enc && t->W.dec && t->G.enc && t->G.dec && t->tasks;
    for (l = 0; ok && l < t->n_tasks; l++) {
        vla__tsite *s = NULL;
        vla__tlora *lo = NULL;
        if (t->method == VLA__M_ADAPTER || t->method == VLA__M_COMPACTER) s = (vla__tsite *)vla_arena_alloc(a, sizeof(vla__tsite) * (size_t)nadp);
        if (t->method == VLA__M_LORA) lo = (vla__tlora *)vla_arena_alloc(a, sizeof(vla__tlora) * (size_t)nlora);
        if ((t->method == VLA__M_ADAPTER || t->method == VLA__M_COMPACTER) && !s) ok = 0;
        if (t->method == VLA__M_LORA && !lo) ok = 0;
        if (ok && !a->measuring) { VLA_MEMSET(&t->tasks[l], 0, sizeof t->tasks[l]); t->tasks[l].adp = s; t->tasks[l].lora = lo; }
    }
    t->eff = (vla__adp *)vla_arena_alloc(a, sizeof(vla__adp) * (size_t)nadp);
    t->effg = (vla__adp_g *)vla_arena_alloc(a, sizeof(vla__adp_g) * (size_t)nadp);
    t->efl = (vla__lora *)vla_arena_alloc(a, sizeof(vla__lora) * (size_t)nlora);
    t->eflg = (vla__adp_g *)vla_arena_alloc(a, sizeof(vla__adp_g) * (size_t)nlora);
    ok = ok && t->eff && t->effg && t->efl && t->eflg;
    t->gen_n = (t->method == VLA__M_COMPACTER || t->method == VLA__M_HYPERFORMER) ? (size_t)nadp * vla__gen_per_site(t) : 1;
    VLA__TA(t->gen, t->gen_n); VLA__TA(t->geng, t->gen_n);
    if (t->method == VLA__M_HYPERFORMER)
        for (side = 0; side < 2; side++) {
            size_t nl = (size_t)(side ? hp->n_dec_layers : hp->n_enc_layers);
            t->hy[side].E = pl->hyE; t->hy[side].hid = pl->hyhid; t->hy[side].dp = pl->hydp;
            VLA__TA(t->hy[side].in, nl * 2 * (size_t)pl->hyE + 1); VLA__TA(t->hy[side].h1, nl * (size_t)pl->hyhid + 1);
            VLA__TA(t->hy[side].z, nl * (size_t)pl->hydp + 1); VLA__TA(t->hy[side].e, nl * (size_t)pl->hydp + 1);
        }
    if (t->method == VLA__M_PROMPT) {
        VLA__TA(t->prompt, (size_t)pl->n_prompt * d + 1); VLA__TA(t->prompt_h, (size_t)pl->n_prompt * (size_t)pl->mid + 1);
        VLA__TA(t->dprompt, (size_t)pl->n_prompt * d + 1);
    }
    /* activations */
    t->ea = (vla__eact *)vla_arena_alloc(a, sizeof(vla__eact) * (size_t)(hp->n_enc_layers + 1));
    t->da = (vla__dact *)vla_arena_alloc(a, sizeof(vla__dact) * (size_t)(hp->n_dec_layers + 1));
    ok = ok && t->ea && t->da;
    for (l = 0; ok && l < hp->n_enc_layers; l++) {
        vla__eact tmp, *A = a->measuring ? &tmp : &t->ea[l];
        ok = vla__eact_alloc(a, A, Re, d, rl, ra, (size_t)hp->enc_ffn, B * H * Lmax * Lmax, rec);
    }
    for (l = 0; ok && l < hp->n_dec_layers; l++) {
        vla__dact tmp, *A = a->measuring ? &tmp : &t->da[l];
        ok = vla__dact_alloc(a, A, Rd, Re, d, rl, ra, (size_t)hp->dec_ffn, B * H * Tm * Tm, B * H * Tm * Lmax, rec);
    }
    if (ok && rec) {
        vla__eact te;
        vla__dact td;
        ok = vla__eact_alloc(a, a->measuring ? &te : &t->ea_one, Re, d, rl, ra, (size_t)hp->enc_ffn, B * H * Lmax * Lmax, 0) &&
             vla__dact_alloc(a, a->measuring ? &td : &t->da_one, Rd, Re, d, rl, ra, (size_t)hp->dec_ffn, B * H * Tm * Tm, B * H * Tm * Lmax, 0);
    }
    VLA__TA(t->enc_out, Re * d); VLA__TA(t->enc_mask, Re);
    VLA__TA(t->emb_s, Re * d);
    VLA__TA(t->vis_pool, (Nv ? Nv : 1) * F); VLA__TA(t->vis_box, (Nv ? Nv : 1) * 5);
    VLA__TA(t->vis_f, (Nv ? Nv : 1) * d); VLA__TA(t->vis_p, (Nv ? Nv : 1) * d);
    VLA__TA(t->dec_s, Rd * d);
    t->dec_ids = (int32_t *)vla_arena_alloc(a, Rd * 4 + 4);
    ok = ok && t->dec_ids;
    VLA__TA(t->logits, vla__mul(Rd, V)); VLA__TA(t->tokw, Rd + 1);
    VLA__TA(t->g0, Rm * wide); VLA__TA(t->g1, Rm * d); VLA__TA(t->g2, Rm * d); VLA__TA(t->g3, Rm * d);
    VLA__TA(t->gx, Rm * d); VLA__TA(t->dec_out, Rd * d);
    VLA__TA(t->lnpart, (Rm + VLA__LN_CHUNK - 1) / VLA__LN_CHUNK * 2 * d);
    VLA__TA(t->rowloss, Rd + 1);
    t->arow_n = Lmax > Tm ? Lmax : Tm;
    VLA__TA(t->arow, (size_t)(t->p.exec.n_threads > 1 ? t->p.exec.n_threads : 1) * t->arow_n);
    {   /* the backward GEMMs' scratch: the widest W (LM head, FFN) and the widest x */
        size_t need = 0, q;
        int Ns[6], i2;
        Ns[0] = hp->vocab; Ns[1] = (int)ffn; Ns[2] = (int)d; Ns[3] = hp->has_visual ? hp->feat_dim : 1;
        Ns[4] = pl->mid > 0 ? pl->mid : 1; Ns[5] = (int)r;
        for (i2 = 0; i2 < 6; i2++) {
            int j2;
            for (j2 = 0; j2 < 6; j2++)
                if ((q = vla_linear_bwd_scratch_size((int)Rm, Ns[i2], Ns[j2])) > need) need = q;
        }
        if (t->p.train_clip) { /* the trunk: saved activations, grids, im2col, gradients */
            size_t per, col, bs, act, conv, np = B * (size_t)t->p.max_images;
            size_t grid = (size_t)(hp->clip_image_size / 32) * (size_t)(hp->clip_image_size / 32) * (size_t)hp->clip_out_ch;
            int nblk = vla__clip_nblocks(hp);
            vla__tclip_plan(t->m, NULL, NULL, &per, &col, &bs);
            vla__clip_sizes(hp, &act, &conv);
            if (bs > need) need = bs;
            t->n_conv = 3 + 4 * nblk;
            t->cact_n = per;
            t->cv = (vla__conv *)vla_arena_alloc(a, sizeof(vla__conv) * (size_t)t->n_conv);
            t->cvg = (vla__lin_g *)vla_arena_alloc(a, sizeof(vla__lin_g) * (size_t)t->n_conv);
            t->cb = (vla__tcb *)vla_arena_alloc(a, sizeof(vla__tcb) * (size_t)nblk);
            ok = ok && t->cv && t->cvg && t->cb;
            VLA__TA(t->cact, vla__mul(np, per)); VLA__TA(t->cgrid, np * grid); VLA__TA(t->dgrid, np * grid);
            VLA__TA(t->dpool, (Nv ? Nv : 1) * F);
            VLA__TA(t->ccol, col); VLA__TA(t->cdcol, col);
            VLA__TA(t->cg[0], act); VLA__TA(t->cg[1], act); VLA__TA(t->cg[2], act);
        }
        t->bscr = need ? (float *)vla_arena_alloc(a, need) : NULL;
        ok = ok && (!need || t->bscr);
    }
    VLA__TA(t->gf, Rm * wide); VLA__TA(t->gr0, Rm * r); VLA__TA(t->gr1, Rm * r); VLA__TA(t->genc, Re * d);
    {   /* one row of any width + Compacter factor temporaries + Hyperformer's small vectors */
        size_t rw = Lmax + Tm + wide + 4 * (2 * (size_t)pl->hyE + 2 * (size_t)pl->hyhid + 4 * (size_t)pl->hydp) + 64;
        VLA__TA(t->row, rw);
        VLA__TA(t->fac, t->method == VLA__M_COMPACTER ? 4 * r * d + 4 * 4096 : 1);
    }
    return ok ? VLA_OK : VLA_ERR_NOMEM;
}
#undef VLA__TA

/* ---- fill: trainable tensors, the weight view, the modules of each task ---- */

static void vla__tensor_to_f32(const vla_tensor *x, float *out) {
    size_t n = vla__tensor_elems(x), i;
    if (x->type == VLA_TYPE_F32) { VLA_MEMCPY(out, x->data, n * 4); return; }
    if (x->type == VLA_TYPE_F16) { for (i = 0; i < n; i++) out[i] = vla_fp16_to_fp32(vla__rd16((const unsigned char *)x->data + 2 * i)); return; }
    if (x->type == VLA_TYPE_Q8_0) {
        vla_mat m;
        m.type = VLA_TYPE_Q8_0; m.cols = (int)x->ne[0]; m.rows = (int)(n / (size_t)x->ne[0]); m.data = x->data;
        for (i = 0; i < (size_t)m.rows; i++) vla_mat_row(out + i * (size_t)m.cols, &m, (int)i);
        return;
    }
    VLA_MEMSET(out, 0, n * 4);
}

/* Append a trainable tensor copied from x. */
static vla__tp *vla__tp_add(vla_trainer *t, const char *name, const vla_tensor *x, size_t *off) {
    vla__tp *p = &t->tp[t->n_tp];
    float *w0 = t->tp[0].w, *g0 = t->tp[0].g, *m0 = t->tp[0].m, *v0 = t->tp[0].v;
    int d;
    VLA_MEMSET(p->name, 0, sizeof p->name);
    vla__cat(p->name, sizeof p->name, name);
    vla__official(t, p->name, p->official, sizeof p->official);
    p->decay = vla__decays(p->official);
    p->n_dims = x->n_dims;
    for (d = 0; d < VLA_MAX_DIMS; d++) p->ne[d] = d < x->n_dims ? x->ne[d] : 1;
    p->n = vla__tensor_elems(x);
    p->w = w0 + *off; p->g = g0 + *off; p->m = m0 + *off; p->v = v0 + *off;
    p->src = x->data;
    p->used = 0; p->cls = 0; p->nstep = 0;
    vla__tensor_to_f32(x, p->w);
    VLA_MEMSET(p->g, 0, p->n * 4); VLA_MEMSET(p->m, 0, p->n * 4); VLA_MEMSET(p->v, 0, p->n * 4);
    *off += (p->n + 15) / 16 * 16;
    t->n_params += p->n;
    t->n_tp++;
    return p;
}

typedef struct vla__fillctx { vla_trainer *t; size_t off; vla_status st; } vla__fillctx;

static void vla__fill_slot(void *u, const char *name, int cls, vla_mat *mat, const float **vec, float **grad) {
    vla__fillctx *f = (vla__fillctx *)u;
    vla_trainer *t = f->t;
    vla_tensor x;
    vla__tp *p;
    if (grad) *grad = NULL;
    if (!vla__trains(&t->p, cls)) return;
    if (vla__find(&t->src, name, &x) != VLA_OK) { f->st = VLA_ERR_FORMAT; return; }
    p = vla__tp_add(t, name, &x, &f->off);
    p->cls = cls;
    if (mat) { mat->type = VLA_TYPE_F32; mat->data = p->w; } /* rows, cols: set by vla__load_weights */
    if (vec) *vec = p->w;
    if (grad) *grad = p->g;
}

static vla__tp *vla__tp_of(const vla_trainer *t, const vla_tensor *x) {
    int i;
    for (i = 0; i < t->n_tp; i++)
        if (t->tp[i].src == x->data) return &t->tp[i];
    return NULL;
}

/* A module tensor of a task ("<kind>.<task>.<site><suffix>", or task "*"). */
static vla__tp *vla__tmod(const vla_trainer *t, const char *kind, vla_str task, const char *site, const char *suffix) {
    vla_tensor x;
    if (vla__peft_find(&t->ag, kind, task, site, suffix, &x, NULL) != VLA_OK) return NULL;
    return vla__tp_of(t, &x);
}

/* A Compacter factor: whole "<half>.<name>", low-rank "_left"/"_right", or
 * (rules only) the site's shared "<site>.rule". */
static vla_status vla__tfac_find(vla_trainer *t, vla_str task, const char *site, const char *half, const char *name, vla__tfac *f) {
    char suf[48];
    VLA_MEMSET(f, 0, sizeof *f);
    vla__name(suf, sizeof suf, half, -1, ".");
    vla__cat(suf, sizeof suf, name);
    if ((f->whole = vla__tmod(t, "A", task, site, suf)) != NULL) {
        if (f->whole->n_dims != 3) return VLA_ERR_FORMAT;
        f->k = (int)f->whole->ne[2]; f->A = (int)f->whole->ne[1]; f->B = (int)f->whole->ne[0];
        return VLA_OK;
    }
    vla__cat(suf, sizeof suf, "_left");
    f->left = vla__tmod(t, "A", task, site, suf);
    suf[VLA_STRLEN(suf) - 5] = 0;
    vla__cat(suf, sizeof suf, "_right");
    f->right = vla__tmod(t, "A", task, site, suf);
    if (f->left && f->right) {
        if (f->left->n_dims != 3 || f->right->n_dims != 3 || f->left->ne[2] != f->right->ne[2] || f->left->ne[0] != f->right->ne[1])
            return VLA_ERR_FORMAT;
        f->k = (int)f->left->ne[2]; f->A = (int)f->left->ne[1]; f->r = (int)f->left->ne[0]; f->B = (int)f->right->ne[0];
        return VLA_OK;
    }
    if (half[0] && name[0] == 'r') return vla__tfac_find(t, task, site, "", name, f); /* "<site>.rule" */
    return VLA_ERR_NOT_FOUND;
}

static vla_status vla__trainer_fill(vla_trainer *t) {
    const vla_hparams *hp = &t->m->hp;
    vla__fillctx f;
    uint64_t i;
    int ti, si, side, ty, half, d = hp->d_model, nadp = vla__n_adp(hp), nlora = vla__n_lora(hp);
    char site[40];
    vla_status st;
    t->n_tp = 0;
    t->n_params = 0;
    f.t = t; f.off = 0; f.st = VLA_OK;
    /* the modules first, in the file's order, then the base tensors that train */
    for (i = 0; t->has_ad && i < t->ag.n_tensors; i++)
        if (vla__is_peft_name(t->ag.tensors[i].name)) {
            char nm[96];
            VLA_MEMSET(nm, 0, sizeof nm);
            vla__catn(nm, sizeof nm, t->ag.tensors[i].name.s, t->ag.tensors[i].name.n);
            vla__tp_add(t, nm, &t->ag.tensors[i], &f.off);
        }
    if ((st = vla__load_weights(&t->src, hp, &t->W)) != VLA_OK) return st;
    {
        vla__enc_layer_g *ge = t->G.enc;
        vla__dec_layer_g *gd = t->G.dec;
        VLA_MEMSET(&t->G, 0, sizeof t->G);
        t->G.enc = ge; t->G.dec = gd;
        VLA_MEMSET(ge, 0, sizeof(*ge) * (size_t)hp->n_enc_layers);
        VLA_MEMSET(gd, 0, sizeof(*gd) * (size_t)hp->n_dec_layers);
    }
    vla__each_base(hp, &t->W, &t->G, vla__fill_slot, &f);
    if (f.st != VLA_OK) return f.st;
    if (t->p.train_clip) { /* the trunk's view starts as the model's, then points at the trained copies */
        int j, nb, nblk = vla__clip_nblocks(hp);
        size_t per, col, bs;
        VLA_MEMSET(t->cv, 0, sizeof(vla__conv) * (size_t)t->n_conv);
        VLA_MEMSET(t->cvg, 0, sizeof(vla__lin_g) * (size_t)t->n_conv);
        for (j = 0; j < 3; j++) t->cv[j] = t->m->clip_stem[j];
        for (nb = 0; nb < nblk; nb++) {
            const vla__bottleneck *bk = &t->m->clip_blocks[nb];
            t->cv[3 + 4 * nb] = bk->c1; t->cv[4 + 4 * nb] = bk->c2; t->cv[5 + 4 * nb] = bk->c3;
            if (bk->has_down) t->cv[6 + 4 * nb] = bk->down;
        }
        vla__each_clip(t->m, t->cv, t->cvg, vla__fill_slot, &f);
        if (f.st != VLA_OK) return f.st;
        vla__tclip_plan(t->m, t->cb, t->cs, &per, &col, &bs);
    }
    /* the modules of every task */
    for (ti = 0; ti < t->n_tasks; ti++) {
        vla__ttask *T = &t->tasks[ti];
        vla_str tn = T->name;
        if (t->method == VLA__M_ADAPTER || t->method == VLA__M_COMPACTER) {
            for (si = 0; si < nadp; si++) {
                vla__tsite *S = &T->adp[si];
                VLA_MEMSET(S, 0, sizeof *S);
                vla__site_name(site, sizeof site, hp->n_enc_layers, si, 0);
                for (half = 0; half < 2; half++) {
                    vla__thalf *h = &S->h[half];
                    const char *hn = half ? ".up" : ".down";
                    char suf[32];
                    vla__name(suf, sizeof suf, hn, -1, ".bias");
                    h->b = vla__tmod(t, "A", tn, site, suf);
                    vla__name(suf, sizeof suf, hn, -1, ".weight");
                    h->w = vla__tmod(t, "A", tn, site, suf);
                    if (!h->b) break;
                    h->out = (int)h->b->n;
                    if (h->w) { if (h->w->n_dims != 2 || (int)h->w->ne[1] != h->out) return VLA_ERR_FORMAT; h->in = (int)h->w->ne[0]; }
                    else {
                        if (vla__tfac_find(t, tn, site, hn, "rule", &h->rule) != VLA_OK || vla__tfac_find(t, tn, site, hn, "W", &h->W) != VLA_OK ||
                            h->rule.k != h->W.k || h->rule.A != h->rule.k || h->rule.B != h->rule.k || h->rule.k > 16) {
                            vla__log(&t->log, VLA_LOG_ERROR, "trainer: Compacter site without rule/W factors", 0, 0, 0);
                            return VLA_ERR_FORMAT;
                        }
                        h->in = h->W.A * h->W.k;
                        if (h->W.B * h->W.k != h->out) return VLA_ERR_FORMAT;
                    }
                    if ((half ? h->out : h->in) != d || (half ? h->in : h->out) > t->rmax) return VLA_ERR_FORMAT;
                }
                S->on = S->h[0].b && S->h[1].b;
                if (S->on && S->h[0].out != S->h[1].in) return VLA_ERR_FORMAT;
            }
        } else if (t->method == VLA__M_LORA) {
            for (si = 0; si < nlora; si++) {
                vla__site_name(site, sizeof site, hp->n_enc_layers, si, 1);
                T->lora[si].A = vla__tmod(t, "L", tn, site, ".A");
                T->lora[si].B = vla__tmod(t, "L", tn, site, ".B");
                if (!T->lora[si].A != !T->lora[si].B) return VLA_ERR_FORMAT;
                if (T->lora[si].A && (T->lora[si].A->ne[0] != d || T->lora[si].B->ne[1] != d || T->lora[si].B->ne[0] != T->lora[si].A->ne[1]))
                    return VLA_ERR_FORMAT;
            }
        } else if (t->method == VLA__M_PROMPT) {
            T->pe = vla__tmod(t, "P", tn, "emb", "");
            T->pw1 = vla__tmod(t, "P", tn, "fc1", ".weight"); T->pb1 = vla__tmod(t, "P", tn, "fc1", ".bias");
            T->pw2 = vla__tmod(t, "P", tn, "fc2", ".weight"); T->pb2 = vla__tmod(t, "P", tn, "fc2", ".bias");
            if (T->pe && (!T->pw1 || !T->pb1 || !T->pw2 || !T->pb2 || T->pe->ne[0] != d || T->pw1->ne[0] != d ||
                          T->pb1->n != (size_t)T->pw1->ne[1] || T->pw2->ne[0] != T->pw1->ne[1] || T->pw2->ne[1] != d || T->pb2->n != (size_t)d))
                return VLA_ERR_FORMAT;
        } else if (t->method == VLA__M_HYPERFORMER) {
            char nm[64];
            VLA_MEMSET(nm, 0, sizeof nm);
            vla__cat(nm, sizeof nm, "H.task.");
            vla__catn(nm, sizeof nm, tn.s, tn.n);
            {
                vla_tensor x;
                T->temb = vla_gguf_get_tensor(&t->ag, nm, &x) == VLA_OK ? vla__tp_of(t, &x) : NULL;
            }
            if (!T->temb || T->temb->n != (size_t)t->hy[0].E) return VLA_ERR_FORMAT;
        }
    }
    if (t->method == VLA__M_HYPERFORMER)
        for (side = 0; side < 2; side++) {
            vla__thyper *y = &t->hy[side];
            const char *sd = side ? "H.dec." : "H.enc.";
            static const char *types_e[3] = {"attn", "ffn", ""}, *types_d[3] = {"self", "cross", "ffn"};
            static const char *gn[4] = {"wgen.weight", "wgen.bias", "bgen.weight", "bgen.bias"};
            int nty = side ? 3 : 2, nl = side ? hp->n_dec_layers : hp->n_enc_layers, g4;
            vla_tensor x;
#define VLA__HY(field, suffix) do { char nm2[96]; vla__name(nm2, sizeof nm2, sd, -1, suffix); \
        field = vla_gguf_get_tensor(&t->ag, nm2, &x) == VLA_OK ? vla__tp_of(t, &x) : NULL; if (!field) return VLA_ERR_FORMAT; } while (0)
            VLA__HY(y->lemb, "layer_emb"); VLA__HY(y->p1w, "proj1.weight"); VLA__HY(y->p1b, "proj1.bias");
            VLA__HY(y->p2w, "proj2.weight"); VLA__HY(y->p2b, "proj2.bias"); VLA__HY(y->lnw, "ln.weight"); VLA__HY(y->lnb, "ln.bias");
            if (y->lemb->ne[0] != y->E || y->lemb->ne[1] < nl || y->p1w->ne[0] != 2 * y->E || y->p1w->ne[1] != y->hid ||
                y->p2w->ne[0] != y->hid || y->p2w->ne[1] != y->dp || y->lnw->n != (size_t)y->dp)
                return VLA_ERR_FORMAT;
            for (ty = 0; ty < nty; ty++)
                for (half = 0; half < 2; half++)
                    for (g4 = 0; g4 < 4; g4++) {
                        char suf[64];
                        vla__name(suf, sizeof suf, side ? types_d[ty] : types_e[ty], -1, half ? ".up." : ".down.");
                        vla__cat(suf, sizeof suf, gn[g4]);
                        VLA__HY(y->gen[ty][half][g4], suf);
                    }
#undef VLA__HY
        }
    return VLA_OK;
}

/* ---- the step's modules: made from the trained parameters, and back ---- */

/* Site si's generated down/up weight and bias inside a gen-sized buffer:
 * [down W (r x d) | down b (r) | up W (d x r) | up b (d)]. */
static float *vla__gen_at(const vla_trainer *t, float *base, int si, int half, int bias) {
    size_t d = (size_t)t->m->hp.d_model, r = (size_t)t->rmax, o = (size_t)si * vla__gen_per_site(t);
    if (!half) return base + o + (bias ? r * d : 0);
    return base + o + r * d + r + (bias ? d * r : 0);
}

/* A Compacter factor's values [k, A, B] (low-rank: left x right into buf). */
static const float *vla__fac_val(const vla__tfac *f, float *buf) {
    int i, x, y, z;
    if (f->whole) return f->whole->w;
    for (i = 0; i < f->k; i++)
        for (x = 0; x < f->A; x++)
            for (y = 0; y < f->B; y++) {
                float s = 0.0f;
                for (z = 0; z < f->r; z++) s += f->left->w[((size_t)i * f->A + x) * f->r + z] * f->right->w[((size_t)i * f->r + z) * f->B + y];
                buf[((size_t)i * f->A + x) * f->B + y] = s;
            }
    return buf;
}

static void vla__fac_used(const vla__tfac *f) {
    if (f->whole) f->whole->used = 1;
    if (f->left) { f->left->used = 1; f->right->used = 1; }
}

/* Add dF [k, A, B] into a factor's gradient (low-rank: dL = dF R^T, dR = L^T dF). */
static void vla__fac_grad(const vla__tfac *f, const float *dF) {
    int i, x, y, z;
    size_t n = (size_t)f->k * f->A * f->B, j;
    if (f->whole) { for (j = 0; j < n; j++) f->whole->g[j] += dF[j]; return; }
    for (i = 0; i < f->k; i++)
        for (x = 0; x < f->A; x++)
            for (y = 0; y < f->B; y++) {
                float g = dF[((size_t)i * f->A + x) * f->B + y];
                for (z = 0; z < f->r; z++) {
                    f->left->g[((size_t)i * f->A + x) * f->r + z] += g * f->right->w[((size_t)i * f->r + z) * f->B + y];
                    f->right->g[((size_t)i * f->r + z) * f->B + y] += g * f->left->w[((size_t)i * f->A + x) * f->r + z];
                }
            }
}

/* Hyperformer: the task projector of (side, layer):
 *   in = [task; layer_l],  h1 = W1 in + c1,  z = W2 relu(h1) + c2,  e = LN_1e-6(z) */
static void vla__hyper_embed(vla_trainer *t, int side, int l) {
    vla__thyper *y = &t->hy[side];
    const vla__tp *te = t->tasks[t->task].temb;
    float *in = y->in + (size_t)l * 2 * y->E, *h1 = y->h1 + (size_t)l * y->hid, *z = y->z + (size_t)l * y->dp, *e = y->e + (size_t)l * y->dp;
    float *hr = t->row;
    vla_mat m1, m2;
    m1.type = m2.type = VLA_TYPE_F32;
    m1.rows = y->hid; m1.cols = 2 * y->E; m1.data = y->p1w->w;
    m2.rows = y->dp; m2.cols = y->hid; m2.data = y->p2w->w;
    VLA_MEMCPY(in, te->w, sizeof(float) * (size_t)y->E);
    VLA_MEMCPY(in + y->E, y->lemb->w + (size_t)l * y->E, sizeof(float) * (size_t)y->E);
    vla_linear_ref(h1, in, &m1, y->p1b->w, 1);
    VLA_MEMCPY(hr, h1, sizeof(float) * (size_t)y->hid);
    vla_relu(hr, (size_t)y->hid);
    vla_linear_ref(z, hr, &m2, y->p2b->w, 1);
    vla_layernorm(e, z, y->lnw->w, y->lnb->w, 1, y->dp, 1e-6f);
}

static vla_status vla__tr_modules_make(vla_trainer *t) {
    const vla_hparams *hp = &t->m->hp;
    vla__ttask *T = &t->tasks[t->task];
    int nadp = vla__n_adp(hp), nlora = vla__n_lora(hp), si, half, d = hp->d_model;
    VLA_MEMSET(t->eff, 0, sizeof(vla__adp) * (size_t)nadp);
    VLA_MEMSET(t->effg, 0, sizeof(vla__adp_g) * (size_t)nadp);
    VLA_MEMSET(t->efl, 0, sizeof(vla__lora) * (size_t)nlora);
    VLA_MEMSET(t->eflg, 0, sizeof(vla__adp_g) * (size_t)nlora);
    VLA_MEMSET(t->geng, 0, t->gen_n * 4);
    t->n_prompt = 0;
    if (!t->has_ad) return VLA_OK;
    if (t->method == VLA__M_ADAPTER || t->method == VLA__M_COMPACTER) {
        for (si = 0; si < nadp; si++) {
            vla__tsite *S = &T->adp[si];
            if (!S->on) continue;
            for (half = 0; half < 2; half++) {
                const vla__thalf *h = &S->h[half];
                vla__lin *L = half ? &t->eff[si].up : &t->eff[si].down;
                float **gw = half ? &t->effg[si].uw : &t->effg[si].dw, **gb = half ? &t->effg[si].ub : &t->effg[si].db;
                L->w.type = VLA_TYPE_F32; L->w.rows = h->out; L->w.cols = h->in;
                if (h->w) { L->w.data = h->w->w; *gw = h->w->g; h->w->used = 1; }
                else { /* Compacter: W^T = (sum_i kron(rule_i, W_i))^T, made dense for this step */
                    float *dense = vla__gen_at(t, t->gen, si, half, 0), *rb = t->fac, *wb = t->fac + 4096;
                    vla__phm_dense(dense, vla__fac_val(&h->rule, rb), vla__fac_val(&h->W, wb), h->W.k, h->in, h->out);
                    L->w.data = dense;
                    *gw = vla__gen_at(t, t->geng, si, half, 0);
                    vla__fac_used(&h->rule); vla__fac_used(&h->W);
                }
                L->b = h->b->w; *gb = h->b->g; h->b->used = 1;
            }
            t->eff[si].on = 1;
        }
    } else if (t->method == VLA__M_HYPERFORMER) {
        int side, l, ty;
        T->temb->used = 1;
        for (side = 0; side < 2; side++) {
            vla__thyper *y = &t->hy[side];
            int nl = side ? hp->n_dec_layers : hp->n_enc_layers, nty = side ? 3 : 2, g4;
            y->lemb->used = y->p1w->used = y->p1b->used = y->p2w->used = y->p2b->used = y->lnw->used = y->lnb->used = 1;
            for (l = 0; l < nl; l++) {
                const float *e = y->e + (size_t)l * y->dp;
                vla__hyper_embed(t, side, l);
                for (ty = 0; ty < nty; ty++) {
                    int site = side ? 2 * hp->n_enc_layers + 3 * l + ty : 2 * l + ty;
                    for (half = 0; half < 2; half++) {
                        vla__tp *const *g = y->gen[ty][half];
                        int outd = (int)g[2]->ne[1], ind = half ? (int)(g[0]->ne[1] / d) : d;
                        vla_mat mg, mb;
                        vla__lin *L = half ? &t->eff[site].up : &t->eff[site].down;
                        if (g[0]->ne[0] != y->dp || g[2]->ne[0] != y->dp || g[0]->ne[1] != (int64_t)outd * ind || g[1]->n != (size_t)outd * ind ||
                            g[3]->n != (size_t)outd || (half ? outd != d : outd > t->rmax) || ind > (half ? t->rmax : d))
                            return VLA_ERR_FORMAT;
                        mg.type = mb.type = VLA_TYPE_F32;
                        mg.rows = outd * ind; mg.cols = y->dp; mg.data = g[0]->w;
                        mb.rows = outd; mb.cols = y->dp; mb.data = g[2]->w;
                        L->w.type = VLA_TYPE_F32; L->w.rows = outd; L->w.cols = ind;
                        L->w.data = vla__gen_at(t, t->gen, site, half, 0);
                        L->b = vla__gen_at(t, t->gen, site, half, 1);
                        vla_linear_ref((float *)L->w.data, e, &mg, g[1]->w, 1); /* reshape [out * in] -> [out, in] */
                        vla_linear_ref((float *)L->b, e, &mb, g[3]->w, 1);
                        if (half) { t->effg[site].uw = vla__gen_at(t, t->geng, site, 1, 0); t->effg[site].ub = vla__gen_at(t, t->geng, site, 1, 1); }
                        else { t->effg[site].dw = vla__gen_at(t, t->geng, site, 0, 0); t->effg[site].db = vla__gen_at(t, t->geng, site, 0, 1); }
                        for (g4 = 0; g4 < 4; g4++) g[g4]->used = 1;
                    }
                    t->eff[site].on = 1;
                }
            }
        }
    } else if (t->method == VLA__M_LORA) {
        for (si = 0; si < nlora; si++) {
            const vla__tlora *lo = &T->lora[si];
            if (!lo->A) continue;
            t->efl[si].A.type = t->efl[si].B.type = VLA_TYPE_F32;
            t->efl[si].A.rows = (int)lo->A->ne[1]; t->efl[si].A.cols = d; t->efl[si].A.data = lo->A->w;
            t->efl[si].B.rows = d; t->efl[si].B.cols = (int)lo->A->ne[1]; t->efl[si].B.data = lo->B->w;
            t->efl[si].on = 1;
            t->eflg[si].dw = lo->A->g; t->eflg[si].uw = lo->B->g;
            lo->A->used = lo->B->used = 1;
        }
    } else if (t->method == VLA__M_PROMPT && T->pe) {
        /* P = W2 tanh(W1 E + c1) + c2 */
        int n = (int)T->pe->ne[1], mid = (int)T->pw1->ne[1];
        vla_mat m1, m2;
        size_t i;
        m1.type = m2.type = VLA_TYPE_F32;
        m1.rows = mid; m1.cols = d; m1.data = T->pw1->w;
        m2.rows = d; m2.cols = mid; m2.data = T->pw2->w;
        vla_linear(&t->p.exec, t->prompt_h, T->pe->w, &m1, T->pb1->w, n);
        for (i = 0; i < (size_t)n * mid; i++) t->prompt_h[i] = VLA_TANHF(t->prompt_h[i]);
        vla_linear(&t->p.exec, t->prompt, t->prompt_h, &m2, T->pb2->w, n);
        t->n_prompt = n;
        T->pe->used = T->pw1->used = T->pb1->used = T->pw2->used = T->pb2->used = 1;
    }
    return VLA_OK;
}

/* The batch's task modules; mark = 1 (a backward pass): the parameters they
 * read get has_grad, mark = 0 (a loss alone): has_grad stays as it was. */
static vla_status vla__tr_modules(vla_trainer *t, int mark) {
    vla_status st;
    int i;
    for (i = 0; !mark && i < t->n_tp; i++) t->tp[i].keep = t->tp[i].used;
    st = vla__tr_modules_make(t);
    for (i = 0; !mark && i < t->n_tp; i++) t->tp[i].used = t->tp[i].keep;
    return st;
}

/* After the backward pass: gradients of generated weights -> their parameters. */
static void vla__tr_modules_bwd(vla_trainer *t) {
    const vla_hparams *hp = &t->m->hp;
    vla__ttask *T = &t->tasks[t->task];
    int nadp = vla__n_adp(hp), si, half, d = hp->d_model;
    vla_exec ex1;
    VLA_MEMSET(&ex1, 0, sizeof ex1);
    ex1.n_threads = 1;
    if (!t->has_ad) return;
    if (t->method == VLA__M_COMPACTER) {
        for (si = 0; si < nadp; si++) {
            vla__tsite *S = &T->adp[si];
            if (!S->on) continue;
            for (half = 0; half < 2; half++) {
                const vla__thalf *h = &S->h[half];
                const float *dWt = vla__gen_at(t, t->geng, si, half, 0), *R, *Wv;
                size_t rd = (size_t)t->rmax * (size_t)d;
                float *dR = t->fac + 4096 + rd, *dW = t->fac + 8192 + rd;
                int k = h->W.k, P = h->W.A, Q = h->W.B, i, a2, c2, r, q, in = h->in;
                if (h->w) continue;
                R = vla__fac_val(&h->rule, t->fac);
                Wv = vla__fac_val(&h->W, t->fac + 4096);
                VLA_MEMSET(dR, 0, sizeof(float) * (size_t)k * k * k);
                VLA_MEMSET(dW, 0, sizeof(float) * (size_t)k * P * Q);
                /* Wt[c Q + q, a P + r] = sum_i rule_i[a, c] W_i[r, q] */
                for (i = 0; i < k; i++)
                    for (a2 = 0; a2 < k; a2++)
                        for (c2 = 0; c2 < k; c2++) {
                            float rv = R[((size_t)i * k + a2) * k + c2], acc = 0.0f;
                            for (r = 0; r < P; r++)
                                for (q = 0; q < Q; q++) {
                                    float g = dWt[(size_t)(c2 * Q + q) * in + (a2 * P + r)];
                                    acc += g * Wv[((size_t)i * P + r) * Q + q];
                                    dW[((size_t)i * P + r) * Q + q] += rv * g;
                                }
                            dR[((size_t)i * k + a2) * k + c2] += acc;
                        }
                vla__fac_grad(&h->rule, dR);
                vla__fac_grad(&h->W, dW);
            }
        }
    } else if (t->method == VLA__M_HYPERFORMER) {
        int side, l, ty;
        for (side = 0; side < 2; side++) {
            vla__thyper *y = &t->hy[side];
            int nl = side ? hp->n_dec_layers : hp->n_enc_layers, nty = side ? 3 : 2, j;
            float *de = t->row, *dz = de + y->dp, *dh = dz + y->dp, *din = dh + y->hid, *hr = din + 2 * y->E;
            vla_mat m1, m2;
            m1.type = m2.type = VLA_TYPE_F32;
            m1.rows = y->hid; m1.cols = 2 * y->E; m1.data = y->p1w->w;
            m2.rows = y->dp; m2.cols = y->hid; m2.data = y->p2w->w;
            for (l = 0; l < nl; l++) {
                const float *in = y->in + (size_t)l * 2 * y->E, *h1 = y->h1 + (size_t)l * y->hid, *z = y->z + (size_t)l * y->dp;
                const float *e = y->e + (size_t)l * y->dp;
                VLA_MEMSET(de, 0, sizeof(float) * (size_t)y->dp);
                for (ty = 0; ty < nty; ty++) {
                    int site = side ? 2 * hp->n_enc_layers + 3 * l + ty : 2 * l + ty;
                    for (half = 0; half < 2; half++) {
                        vla__tp *const *g = y->gen[ty][half];
                        int outd = (int)g[2]->ne[1], ind = half ? (int)(g[0]->ne[1] / d) : d;
                        vla_mat mg, mb;
                        const float *dWg = vla__gen_at(t, t->geng, site, half, 0), *dbg = vla__gen_at(t, t->geng, site, half, 1);
                        mg.type = mb.type = VLA_TYPE_F32;
                        mg.rows = outd * ind; mg.cols = y->dp; mg.data = g[0]->w;
                        mb.rows = outd; mb.cols = y->dp; mb.data = g[2]->w;
                        /* W = G e + g:  dG += dW e^T, dg += dW, de += G^T dW */
                        vla_linear_bwd_w(&ex1, g[0]->g, g[1]->g, dWg, e, 1, outd * ind, y->dp, NULL);
                        vla_linear_bwd_x(&ex1, de, dWg, &mg, 1, NULL);
                        vla_linear_bwd_w(&ex1, g[2]->g, g[3]->g, dbg, e, 1, outd, y->dp, NULL);
                        vla_linear_bwd_x(&ex1, de, dbg, &mb, 1, NULL);
                    }
                }
                vla_layernorm_bwd(dz, y->lnw->g, y->lnb->g, de, z, y->lnw->w, 1, y->dp, 1e-6f);
                for (j = 0; j < y->hid; j++) hr[j] = h1[j] > 0.0f ? h1[j] : 0.0f;
                VLA_MEMSET(dh, 0, sizeof(float) * (size_t)y->hid);
                vla_linear_bwd_x(&ex1, dh, dz, &m2, 1, NULL);
                vla_linear_bwd_w(&ex1, y->p2w->g, y->p2b->g, dz, hr, 1, y->dp, y->hid, NULL);
                for (j = 0; j < y->hid; j++) if (h1[j] <= 0.0f) dh[j] = 0.0f;
                VLA_MEMSET(din, 0, sizeof(float) * 2 * (size_t)y->E);
                vla_linear_bwd_x(&ex1, din, dh, &m1, 1, NULL);
                vla_linear_bwd_w(&ex1, y->p1w->g, y->p1b->g, dh, in, 1, y->hid, 2 * y->E, NULL);
                for (j = 0; j < y->E; j++) {
                    T->temb->g[j] += din[j];
                    y->lemb->g[(size_t)l * y->E + j] += din[y->E + j];
                }
            }
        }
    } else if (t->method == VLA__M_PROMPT && T->pe) {
        int n = t->n_prompt, mid = (int)T->pw1->ne[1];
        size_t i;
        vla_mat m1, m2;
        float *dH = t->gf;
        m1.type = m2.type = VLA_TYPE_F32;
        m1.rows = mid; m1.cols = d; m1.data = T->pw1->w;
        m2.rows = d; m2.cols = mid; m2.data = T->pw2->w;
        VLA_MEMSET(dH, 0, sizeof(float) * (size_t)n * mid);
        vla_linear_bwd_x(&t->p.exec, dH, t->dprompt, &m2, n, t->bscr);
        vla_linear_bwd_w(&t->p.exec, T->pw2->g, T->pb2->g, t->dprompt, t->prompt_h, n, d, mid, t->bscr);
        for (i = 0; i < (size_t)n * mid; i++) dH[i] *= 1.0f - t->prompt_h[i] * t->prompt_h[i];
        vla_linear_bwd_w(&t->p.exec, T->pw1->g, T->pb1->g, dH, T->pe->w, n, mid, d, t->bscr);
        vla_linear_bwd_x(&t->p.exec, T->pe->g, dH, &m1, n, t->bscr);
    }
}

/* ---- training forward / backward, layer by layer ---- */

/* Elementwise passes over large buffers, split across the exec's threads as
 * vla__add_relu's (vla__ew_tasks, vla__ew_range).
 * Dropout: x[i] = keep(i) ? x[i] / (1 - p) : 0, its own backward. */
enum { VLA__EW_DROP = 0, VLA__EW_GELU, VLA__EW_GELU_BWD };
typedef struct vla__ew_job { int op; float *x; const float *a; size_t n; int n_tasks; vla__drop dr; } vla__ew_job;

static void vla__ew_task(void *arg, int i) {
    const vla__ew_job *j = (const vla__ew_job *)arg;
    size_t k0, k1, k;
    vla__ew_range(j->n, j->n_tasks, i, &k0, &k1);
    if (k0 >= k1) return;
    if (j->op == VLA__EW_DROP) {
        float s = 1.0f / (1.0f - j->dr.p);
        for (k = k0; k < k1; k++) j->x[k] = vla__keep(&j->dr, k) ? j->x[k] * s : 0.0f;
    } else if (j->op == VLA__EW_GELU) vla_gelu_erf(j->x + k0, k1 - k0);
    else vla_gelu_erf_bwd(j->x + k0, j->x + k0, j->a + k0, k1 - k0);
}

static void vla__tew(const vla_trainer *t, int op, float *x, const float *a, size_t n, const vla__drop *dr) {
    vla__ew_job j;
    if (op == VLA__EW_DROP && (!dr || dr->p <= 0.0f)) return;
    j.op = op; j.x = x; j.a = a; j.n = n;
    if (dr) j.dr = *dr;
    j.n_tasks = vla__ew_tasks(&t->p.exec, n);
    vla__run(&t->p.exec, vla__ew_task, &j, j.n_tasks);
}

static void vla__tlin(const vla_trainer *t, float *y, const float *x, const vla__lin *l, int M) {
    vla_linear(&t->p.exec, y, x, &l->w, l->b, M);
}


/* Backward of y = x W^T + b:  dx += dy W (dx may be NULL), dW += dy^T x, db += sum dy. */
static void vla__tlin_bwd(const vla_trainer *t, float *dx, const float *dy, const float *x, const vla__lin *l, const vla__lin_g *g,
                          int M) {
    if (dx) vla_linear_bwd_x(&t->p.exec, dx, dy, &l->w, M, t->bscr);
    if (g && (g->w || g->b)) vla_linear_bwd_w(&t->p.exec, g->w, g->b, dy, x, M, l->w.rows, l->w.cols, t->bscr);
}

/* Projection with LoRA:  y = x W^T + b + s B(A drop(x));  la = A drop(x) is kept. */
static void vla__tproj_fwd(vla_trainer *t, float *y, const float *x, const vla__lin *l, int lsite, float *la, int M, vla__drop dr) {
    const vla__lora *lo;
    const float *xd = x;
    size_t i, n;
    vla__tlin(t, y, x, l, M);
    if (lsite < 0 || !t->efl[lsite].on) return;
    lo = &t->efl[lsite];
    if (dr.p > 0.0f) {
        VLA_MEMCPY(t->g0, x, sizeof(float) * (size_t)M * lo->A.cols);
        vla__tew(t, VLA__EW_DROP, t->g0, NULL, (size_t)M * lo->A.cols, &dr);
        xd = t->g0;
    }
    vla_linear(&t->p.exec, la, xd, &lo->A, NULL, M);              /* [M, r] */
    vla_linear(&t->p.exec, t->g1, la, &lo->B, NULL, M);           /* [M, d] */
    n = (size_t)M * lo->B.rows;
    for (i = 0; i < n; i++) y[i] += t->lora_scale * t->g1[i];
}

/* Backward of vla__tproj_fwd given dy; dx accumulates.  Uses g1, g2, gr0, gr1. */
static void vla__tproj_bwd(vla_trainer *t, float *dx, const float *dy, const float *x, const vla__lin *l, const vla__lin_g *g,
                           int lsite, const float *la, int M, vla__drop dr) {
    const vla__lora *lo;
    const vla__adp_g *lg;
    size_t i, n;
    int r, d;
    float s = t->lora_scale;
    vla__tlin_bwd(t, dx, dy, x, l, g, M);
    if (lsite < 0 || !t->efl[lsite].on) return;
    lo = &t->efl[lsite]; lg = &t->eflg[lsite];
    r = lo->A.rows; d = lo->A.cols;
    n = (size_t)M * r;
    for (i = 0; i < n; i++) t->gr0[i] = s * la[i];
    vla_linear_bwd_w(&t->p.exec, lg->uw, NULL, dy, t->gr0, M, d, r, t->bscr);   /* dB += dy^T (s la)      */
    VLA_MEMSET(t->gr1, 0, n * 4);
    vla_linear_bwd_x(&t->p.exec, t->gr1, dy, &lo->B, M, t->bscr);               /* dla = s dy B           */
    for (i = 0; i < n; i++) t->gr1[i] *= s;
    VLA_MEMCPY(t->g1, x, sizeof(float) * (size_t)M * d);
    vla__tew(t, VLA__EW_DROP, t->g1, NULL, (size_t)M * d, &dr);
    vla_linear_bwd_w(&t->p.exec, lg->dw, NULL, t->gr1, t->g1, M, r, d, t->bscr); /* dA += dla^T drop(x)    */
    VLA_MEMSET(t->g2, 0, sizeof(float) * (size_t)M * d);
    vla_linear_bwd_x(&t->p.exec, t->g2, t->gr1, &lo->A, M, t->bscr);
    vla__tew(t, VLA__EW_DROP, t->g2, NULL, (size_t)M * d, &dr);
    vla_add(dx, dx, t->g2, (size_t)M * d);
}

static void vla__tact(const vla_trainer *t, float *x, size_t n) {
    if (t->exact_gelu) vla_gelu_erf(x, n);
    else vla_gelu_tanh(x, n);
}

/* Adapter:  out = y + up(act(down(y)));  ah = down(y) is kept.  Uses gr0. */
static void vla__tadp_fwd(vla_trainer *t, int site, const float *y, float *ah, float *out, int M) {
    const vla__adp *a = &t->eff[site];
    size_t n;
    int d = t->m->hp.d_model;
    if (!a->on) { VLA_MEMCPY(out, y, sizeof(float) * (size_t)M * d); return; }
    n = (size_t)M * a->down.w.rows;
    vla__tlin(t, ah, y, &a->down, M);
    VLA_MEMCPY(t->gr0, ah, n * 4);
    vla__tact(t, t->gr0, n);
    vla__tlin(t, out, t->gr0, &a->up, M);
    vla_add(out, out, y, (size_t)M * d);
}

/* Backward: dy (grad of out) becomes the grad of y.  Uses gr0, gr1. */
static void vla__tadp_bwd(vla_trainer *t, int site, float *dy, const float *y, const float *ah, int M) {
    const vla__adp *a = &t->eff[site];
    const vla__adp_g *g = &t->effg[site];
    int r, d = t->m->hp.d_model;
    size_t n;
    if (!a->on) return;
    r = a->down.w.rows;
    n = (size_t)M * r;
    VLA_MEMCPY(t->gr0, ah, n * 4);
    vla__tact(t, t->gr0, n);
    vla_linear_bwd_w(&t->p.exec, g->uw, g->ub, dy, t->gr0, M, d, r, t->bscr);
    VLA_MEMSET(t->gr1, 0, n * 4);
    vla_linear_bwd_x(&t->p.exec, t->gr1, dy, &a->up.w, M, t->bscr);
    if (t->exact_gelu) vla_gelu_erf_bwd(t->gr1, t->gr1, ah, n);
    else vla_gelu_tanh_bwd(t->gr1, t->gr1, ah, n);
    vla_linear_bwd_w(&t->p.exec, g->dw, g->db, t->gr1, y, M, r, d, t->bscr);
    vla_linear_bwd_x(&t->p.exec, dy, t->gr1, &a->down.w, M, t->bscr);
}

/* LayerNorm over many rows, in chunks of VLA__LN_CHUNK rows run on the
 * exec's threads; the backward's gain/bias gradients are summed per chunk
 * and then over the chunks in order, so the result is the same for any
 * thread count. */
typedef struct vla__ln_job {
    float *y, *part;
    const float *x, *g, *b, *dy;
    int M, N, bwd, dgb;
    float eps;
} vla__ln_job;

static void vla__ln_task(void *arg, int i) {
    const vla__ln_job *J = (const vla__ln_job *)arg;
    int r0 = i * VLA__LN_CHUNK, rows = J->M - r0 < VLA__LN_CHUNK ? J->M - r0 : VLA__LN_CHUNK;
    size_t o = (size_t)r0 * J->N;
    if (!J->bwd) { vla_layernorm(J->y + o, J->x + o, J->g, J->b, rows, J->N, J->eps); return; }
    if (J->dgb) {
        float *pg = J->part + (size_t)i * 2 * J->N, *pb = pg + J->N;
        VLA_MEMSET(pg, 0, sizeof(float) * 2 * (size_t)J->N);
        vla_layernorm_bwd(J->y + o, pg, pb, J->dy + o, J->x + o, J->g, rows, J->N, J->eps);
    } else vla_layernorm_bwd(J->y + o, NULL, NULL, J->dy + o, J->x + o, J->g, rows, J->N, J->eps);
}

static void vla__tln(const vla_trainer *t, int bwd, float *y, float *dg, float *db, const float *dy, const float *x, const vla__ln *ln,
                     int M) {
    vla__ln_job J;
    int n = (M + VLA__LN_CHUNK - 1) / VLA__LN_CHUNK, i, k, N = t->m->hp.d_model;
    J.y = y; J.part = t->lnpart; J.x = x; J.g = ln->g; J.b = ln->b; J.dy = dy;
    J.M = M; J.N = N; J.bwd = bwd; J.dgb = dg || db; J.eps = t->m->hp.ln_eps;
    vla__run(&t->p.exec, vla__ln_task, &J, n);
    if (bwd && J.dgb)
        for (i = 0; i < n; i++) {
            const float *pg = t->lnpart + (size_t)i * 2 * N, *pb = pg + N;
            for (k = 0; k < N; k++) {
                if (dg) dg[k] += pg[k];
                if (db) db[k] += pb[k];
            }
        }
}

/* Post-LN residual:  s = x + drop(y);  xo = LN(s)   (y is changed). */
static void vla__tres_fwd(const vla_trainer *t, float *s, float *xo, const float *x, float *y, const vla__ln *ln, int M, vla__drop dr) {
    size_t n = (size_t)M * t->m->hp.d_model;
    vla__tew(t, VLA__EW_DROP, y, NULL, n, &dr);
    vla_add(s, x, y, n);
    vla__tln(t, 0, xo, NULL, NULL, NULL, s, ln, M);
}

/* Backward: gx holds d xo and becomes d x (the residual path); dy gets d y. */
static void vla__tres_bwd(const vla_trainer *t, float *gx, float *dy, const float *s, const vla__ln *ln, const vla__ln_g *lg, int M,
                          vla__drop dr) {
    size_t n = (size_t)M * t->m->hp.d_model;
    vla__tln(t, 1, dy, lg->g, lg->b, gx, s, ln, M);
    VLA_MEMCPY(gx, dy, n * 4);
    vla__tew(t, VLA__EW_DROP, dy, NULL, n, &dr);
}

/* The attention's dot products and axpys: vector kernels, or plain loops
 * when the caller asked for the reference kernels. */
static float vla__tdot(const vla_trainer *t, const float *a, const float *b, int n) {
    int k;
    float acc = 0.0f;
    if (!t->p.exec.force_reference) return vla__dot_f32(a, b, n);
    for (k = 0; k < n; k++) acc += a[k] * b[k];
    return acc;
}
static void vla__taxpy(const vla_trainer *t, float *y, float a, const float *x, int n) {
    int k;
    if (!t->p.exec.force_reference) { vla__axpy_f32(y, a, x, n); return; }
    for (k = 0; k < n; k++) y[k] += a * x[k];
}

/* Attention of B sequences (rows b Lq .. and b Lk ..), all heads:
 *   P = softmax(q k^T + mask [+ causal]),  ctx = drop(P) v;  P is kept. */
/* One attention call's operands; example b is one task (examples are
 * independent, so the result does not depend on the thread count). */
typedef struct vla__tattn_job {
    const vla_trainer *t;
    float *ctx, *dq, *dk, *dv;
    const float *P, *q, *k, *v, *mask, *dctx;
    float *Pw;
    int B, Lq, Lk, H, causal, dec, layer, site, nt;
} vla__tattn_job;

static void vla__tattn_fwd_ex(const vla__tattn_job *J, int b) {
    const vla_trainer *t = J->t;
    int d = t->m->hp.d_model, H = J->H, dh = d / H, Lq = J->Lq, Lk = J->Lk, h, i, j, e;
    const float *qb = J->q + (size_t)b * Lq * d, *kb = J->k + (size_t)b * Lk * d, *vb = J->v + (size_t)b * Lk * d;
    const float *mb = J->mask ? J->mask + (size_t)b * Lk : NULL;
    float *cb = J->ctx + (size_t)b * Lq * d, *Pb = J->Pw + (size_t)b * H * Lq * Lk;
    vla__drop dr = vla__tdrop(t, J->dec, J->layer, J->site, b);
    float sc = dr.p > 0.0f ? 1.0f / (1.0f - dr.p) : 1.0f;
    for (h = 0; h < H; h++)
        for (i = 0; i < Lq; i++) {
            float *p = Pb + ((size_t)h * Lq + i) * Lk, *o = cb + (size_t)i * d + h * dh;
            const float *qi = qb + (size_t)i * d + h * dh;
            for (j = 0; j < Lk; j++) {
                float acc;
                if (J->causal && j > i) { p[j] = VLA__NEG_INF; continue; }
                acc = vla__tdot(t, qi, kb + (size_t)j * d + h * dh, dh);
                p[j] = mb ? acc + mb[j] : acc;
            }
            vla_softmax(p, 1, Lk);
            for (e = 0; e < dh; e++) o[e] = 0.0f;
            for (j = 0; j < Lk; j++) {
                float pj = p[j];
                if (pj == 0.0f) continue;
                if (dr.p > 0.0f) pj = vla__keep(&dr, ((size_t)h * Lq + i) * Lk + j) ? pj * sc : 0.0f;
                vla__taxpy(t, o, pj, vb + (size_t)j * d + h * dh, dh);
            }
        }
}

static void vla__tattn_fwd_task(void *arg, int i) {
    const vla__tattn_job *J = (const vla__tattn_job *)arg;
    int b;
    for (b = i; b < J->B; b += J->nt) vla__tattn_fwd_ex(J, b);
}

static int vla__tattn_nt(const vla_trainer *t, int B) {
    int nt = vla__n_tasks(&t->p.exec);
    return nt < B ? nt : B;
}

static void vla__tattn_fwd(const vla_trainer *t, float *ctx, float *P, const float *q, const float *k, const float *v, int B, int Lq,
                           int Lk, int H, const float *mask, int causal, int dec, int layer, int site) {
    vla__tattn_job J;
    VLA_MEMSET(&J, 0, sizeof J);
    J.t = t; J.ctx = ctx; J.Pw = P; J.q = q; J.k = k; J.v = v; J.mask = mask;
    J.B = B; J.Lq = Lq; J.Lk = Lk; J.H = H; J.causal = causal; J.dec = dec; J.layer = layer; J.site = site;
    J.nt = vla__tattn_nt(t, B);
    vla__run(&t->p.exec, vla__tattn_fwd_task, &J, J.nt);
}

/* Attention backward, the definition (vla__tattn_bwd is the same with the
 * vector kernels and the forward's dropout on P). */
VLA_DEF void vla_attention_bwd_ref(float *dq, float *dk, float *dv, int ld, const float *dout, int ldo, const float *q,
                                   const float *k, const float *v, const float *P, int Lq, int Lk, int n_heads, int dh) {
    int h, i, j, e;
    for (h = 0; h < n_heads; h++)
        for (i = 0; i < Lq; i++) {
            const float *p = P + ((size_t)h * Lq + i) * Lk, *go = dout + (size_t)i * ldo + h * dh;
            float dot = 0.0f;
            /* dP_ij = dout_i . v_j;  dS_ij = P_ij (dP_ij - sum_j' P_ij' dP_ij') */
            for (j = 0; j < Lk; j++) {
                float dp = 0.0f;
                for (e = 0; e < dh; e++) dp += go[e] * v[(size_t)j * ld + h * dh + e];
                dot += p[j] * dp;
            }
            for (j = 0; j < Lk; j++) {
                float dp = 0.0f, ds;
                for (e = 0; e < dh; e++) dp += go[e] * v[(size_t)j * ld + h * dh + e];
                ds = p[j] * (dp - dot);
                for (e = 0; e < dh; e++) {
                    dv[(size_t)j * ld + h * dh + e] += p[j] * go[e];
                    dq[(size_t)i * ld + h * dh + e] += ds * k[(size_t)j * ld + h * dh + e];
                    dk[(size_t)j * ld + h * dh + e] += ds * q[(size_t)i * ld + h * dh + e];
                }
            }
        }
}

/* The backward with the vector kernels (dP_ij computed once per row, in the
 * task's own row of arow). */
static void vla__tattn_bwd_ex(const vla__tattn_job *J, int b, float *dp) {
    const vla_trainer *t = J->t;
    int d = t->m->hp.d_model, H = J->H, dh = d / H, Lq = J->Lq, Lk = J->Lk, h, i, j;
    vla__drop dr = vla__tdrop(t, J->dec, J->layer, J->site, b);
    float sc = dr.p > 0.0f ? 1.0f / (1.0f - dr.p) : 1.0f;
    size_t oq = (size_t)b * Lq * d, ok = (size_t)b * Lk * d;
    const float *q = J->q, *k = J->k, *v = J->v;
    float *dq = J->dq, *dk = J->dk, *dv = J->dv;
    for (h = 0; h < H; h++)
        for (i = 0; i < Lq; i++) {
            const float *p = J->P + (((size_t)b * H + h) * Lq + i) * Lk, *go = J->dctx + oq + (size_t)i * d + h * dh;
            const float *qi = q + oq + (size_t)i * d + h * dh;
            float *dqi = dq + oq + (size_t)i * d + h * dh, dot = 0.0f;
            for (j = 0; j < Lk; j++) { /* dp_j = m_ij (dout_i . v_j) */
                float m = 1.0f;
                dp[j] = 0.0f;
                if (p[j] == 0.0f) continue;
                if (dr.p > 0.0f) m = vla__keep(&dr, ((size_t)h * Lq + i) * Lk + j) ? sc : 0.0f;
                dp[j] = m * vla__tdot(t, go, v + ok + (size_t)j * d + h * dh, dh);
                dot += p[j] * dp[j];
                if (m != 0.0f) vla__taxpy(t, dv + ok + (size_t)j * d + h * dh, p[j] * m, go, dh);
            }
            for (j = 0; j < Lk; j++) {
                float ds;
                if (p[j] == 0.0f) continue;
                ds = p[j] * (dp[j] - dot);
                vla__taxpy(t, dqi, ds, k + ok + (size_t)j * d + h * dh, dh);
                vla__taxpy(t, dk + ok + (size_t)j * d + h * dh, ds, qi, dh);
            }
        }
}

static void vla__tattn_bwd_task(void *arg, int i) {
    const vla__tattn_job *J = (const vla__tattn_job *)arg;
    int b;
    for (b = i; b < J->B; b += J->nt) vla__tattn_bwd_ex(J, b, J->t->arow + (size_t)i * J->t->arow_n);
}

static void vla__tattn_bwd(const vla_trainer *t, float *dq, float *dk, float *dv, const float *dctx, const float *P, const float *q,
                           const float *k, const float *v, int B, int Lq, int Lk, int H, int dec, int layer, int site) {
    vla__tattn_job J;
    VLA_MEMSET(&J, 0, sizeof J);
    J.t = t; J.dq = dq; J.dk = dk; J.dv = dv; J.dctx = dctx; J.P = P; J.q = q; J.k = k; J.v = v;
    J.B = B; J.Lq = Lq; J.Lk = Lk; J.H = H; J.dec = dec; J.layer = layer; J.site = site;
    J.nt = vla__tattn_nt(t, B);
    vla__run(&t->p.exec, vla__tattn_bwd_task, &J, J.nt);
}

/* Encoder layer l:  x1 = LN1(x + drop(A(SA(x))));  xo = LN2(x1 + drop(A(fc2(drop(gelu(fc1(x1))))))) */
static void vla__tenc_fwd(vla_trainer *t, int l, vla__eact *A, float *xo) {
    const vla_hparams *hp = &t->m->hp;
    const vla__enc_layer *ly = &t->W.enc[l];
    int R = t->Re, d = hp->d_model, H = hp->n_enc_heads;
    size_t nf = (size_t)R * hp->enc_ffn;
    vla__tproj_fwd(t, A->q, A->x, &ly->sa.q, t->has_ad ? 2 * l + 0 : -1, A->lq, R, vla__tdrop(t, 0, l, VLA__DROP_LORA, -1));
    vla__scale(A->q, (size_t)R * d, 1.0f / VLA_SQRTF((float)(d / H)));
    vla__tlin(t, A->k, A->x, &ly->sa.k, R);
    vla__tproj_fwd(t, A->v, A->x, &ly->sa.v, t->has_ad ? 2 * l + 1 : -1, A->lv, R, vla__tdrop(t, 0, l, VLA__DROP_LORA, -2));
    vla__tattn_fwd(t, A->ctx, A->P, A->q, A->k, A->v, t->B, t->L, t->L, H, t->enc_mask, 0, 0, l, VLA__DROP_ATT);
    vla__tlin(t, A->ao, A->ctx, &ly->sa.o, R);
    vla__tadp_fwd(t, 2 * l + 0, A->ao, A->ah, t->g1, R);
    vla__tres_fwd(t, A->s1, A->x1, A->x, t->g1, &ly->sa_ln, R, vla__tdrop(t, 0, l, VLA__DROP_OUT, -1));
    vla__tlin(t, A->f1, A->x1, &ly->fc1, R);
    VLA_MEMCPY(t->gf, A->f1, nf * 4);
    vla__tew(t, VLA__EW_GELU, t->gf, NULL, nf, NULL);
    { vla__drop dr = vla__tdrop(t, 0, l, VLA__DROP_ACT, -1); vla__tew(t, VLA__EW_DROP, t->gf, NULL, nf, &dr); }
    vla__tlin(t, A->fo, t->gf, &ly->fc2, R);
    vla__tadp_fwd(t, 2 * l + 1, A->fo, A->fh, t->g1, R);
    vla__tres_fwd(t, A->s2, xo, A->x1, t->g1, &ly->ffn_ln, R, vla__tdrop(t, 0, l, VLA__DROP_FFN_OUT, -1));
}

/* Backward of the FFN block (shared by both sides): gx = d xo in, d x1 out. */
static void vla__tffn_bwd(vla_trainer *t, const vla__lin *fc1, const vla__lin *fc2, const vla__ln *ln, const vla__lin_g *g1, const vla__lin_g *g2,
                          const vla__ln_g *lg, const float *xin, const float *f1, const float *fo, const float *fh, const float *s, int ffn,
                          int site, int R, int dec, int l) {
    size_t nf = (size_t)R * ffn;
    vla__drop dact = vla__tdrop(t, dec, l, VLA__DROP_ACT, -1);
    vla__tres_bwd(t, t->gx, t->g2, s, ln, lg, R, vla__tdrop(t, dec, l, VLA__DROP_FFN_OUT, -1));
    vla__tadp_bwd(t, site, t->g2, fo, t->eff[site].on ? fh : NULL, R);                /* g2 = d fc2 output */
    if (g2->w) { /* fc2 trains: its input again, for dW2 */
        VLA_MEMCPY(t->gf, f1, nf * 4);
        vla__tew(t, VLA__EW_GELU, t->gf, NULL, nf, NULL);
        vla__tew(t, VLA__EW_DROP, t->gf, NULL, nf, &dact);
    }
    vla__tlin_bwd(t, NULL, t->g2, t->gf, fc2, g2, R);
    VLA_MEMSET(t->g0, 0, nf * 4);
    vla_linear_bwd_x(&t->p.exec, t->g0, t->g2, &fc2->w, R, t->bscr);                            /* d act */
    vla__tew(t, VLA__EW_DROP, t->g0, NULL, nf, &dact);
    vla__tew(t, VLA__EW_GELU_BWD, t->g0, f1, nf, NULL);
    vla__tlin_bwd(t, t->gx, t->g0, xin, fc1, g1, R);
}

static void vla__tenc_bwd(vla_trainer *t, int l, const vla__eact *A) {
    const vla_hparams *hp = &t->m->hp;
    const vla__enc_layer *ly = &t->W.enc[l];
    const vla__enc_layer_g *G = &t->G.enc[l];
    int R = t->Re, d = hp->d_model, H = hp->n_enc_heads;
    size_t n = (size_t)R * d;
    vla__tffn_bwd(t, &ly->fc1, &ly->fc2, &ly->ffn_ln, &G->fc1, &G->fc2, &G->ffn_ln, A->x1, A->f1, A->fo, A->fh, A->s2, hp->enc_ffn,
                  2 * l + 1, R, 0, l);
    vla__tres_bwd(t, t->gx, t->g2, A->s1, &ly->sa_ln, &G->sa_ln, R, vla__tdrop(t, 0, l, VLA__DROP_OUT, -1));
    vla__tadp_bwd(t, 2 * l + 0, t->g2, A->ao, A->ah, R);                               /* g2 = d out_proj output */
    VLA_MEMSET(t->g1, 0, n * 4);
    vla__tlin_bwd(t, t->g1, t->g2, A->ctx, &ly->sa.o, &G->sa.o, R);                    /* g1 = d ctx */
    VLA_MEMSET(t->g3, 0, n * 4); VLA_MEMSET(t->g0, 0, n * 4); VLA_MEMSET(t->gf, 0, n * 4);
    vla__tattn_bwd(t, t->g3, t->g0, t->gf, t->g1, A->P, A->q, A->k, A->v, t->B, t->L, t->L, H, 0, l, VLA__DROP_ATT);
    vla__scale(t->g3, n, 1.0f / VLA_SQRTF((float)(d / H)));
    vla__tproj_bwd(t, t->gx, t->g3, A->x, &ly->sa.q, &G->sa.q, t->has_ad ? 2 * l + 0 : -1, A->lq, R, vla__tdrop(t, 0, l, VLA__DROP_LORA, -1));
    vla__tlin_bwd(t, t->gx, t->g0, A->x, &ly->sa.k, &G->sa.k, R);
    vla__tproj_bwd(t, t->gx, t->gf, A->x, &ly->sa.v, &G->sa.v, t->has_ad ? 2 * l + 1 : -1, A->lv, R, vla__tdrop(t, 0, l, VLA__DROP_LORA, -2));
}

/* Decoder layer l:  causal self-attention, cross-attention over the encoder
 * output, FFN, each post-LN with its adapter. */
static void vla__tdec_fwd(vla_trainer *t, int l, vla__dact *A, float *xo) {
    const vla_hparams *hp = &t->m->hp;
    const vla__dec_layer *ly = &t->W.dec[l];
    int R = t->Rd, Re = t->Re, d = hp->d_model, H = hp->n_dec_heads, s0 = 2 * hp->n_enc_layers + 4 * l, a0 = 2 * hp->n_enc_layers + 3 * l;
    int lo = t->has_ad;
    size_t nf = (size_t)R * hp->dec_ffn;
    float sc = 1.0f / VLA_SQRTF((float)(d / H));
    /* self-attention */
    vla__tproj_fwd(t, A->q, A->x, &ly->sa.q, lo ? s0 + 0 : -1, A->lq, R, vla__tdrop(t, 1, l, VLA__DROP_LORA, -1));
    vla__scale(A->q, (size_t)R * d, sc);
    vla__tlin(t, A->k, A->x, &ly->sa.k, R);
    vla__tproj_fwd(t, A->v, A->x, &ly->sa.v, lo ? s0 + 1 : -1, A->lv, R, vla__tdrop(t, 1, l, VLA__DROP_LORA, -2));
    vla__tattn_fwd(t, A->ctx, A->P, A->q, A->k, A->v, t->B, t->T, t->T, H, NULL, 1, 1, l, VLA__DROP_ATT);
    vla__tlin(t, A->ao, A->ctx, &ly->sa.o, R);
    vla__tadp_fwd(t, a0 + 0, A->ao, A->ah, t->g1, R);
    vla__tres_fwd(t, A->s1, A->x1, A->x, t->g1, &ly->sa_ln, R, vla__tdrop(t, 1, l, VLA__DROP_OUT, -1));
    /* cross-attention */
    vla__tproj_fwd(t, A->cq, A->x1, &ly->ca.q, lo ? s0 + 2 : -1, A->lcq, R, vla__tdrop(t, 1, l, VLA__DROP_LORA, -3));
    vla__scale(A->cq, (size_t)R * d, sc);
    vla__tlin(t, A->xk, t->enc_out, &ly->ca.k, Re);
    vla__tproj_fwd(t, A->xv, t->enc_out, &ly->ca.v, lo ? s0 + 3 : -1, A->lxv, Re, vla__tdrop(t, 1, l, VLA__DROP_LORA, -4));
    vla__tattn_fwd(t, A->cctx, A->P2, A->cq, A->xk, A->xv, t->B, t->T, t->L, H, t->enc_mask, 0, 1, l, VLA__DROP_CROSS_ATT);
    vla__tlin(t, A->co, A->cctx, &ly->ca.o, R);
    vla__tadp_fwd(t, a0 + 1, A->co, A->ch, t->g1, R);
    vla__tres_fwd(t, A->s2, A->x2, A->x1, t->g1, &ly->ca_ln, R, vla__tdrop(t, 1, l, VLA__DROP_CROSS_OUT, -1));
    /* feed-forward */
    vla__tlin(t, A->f1, A->x2, &ly->fc1, R);
    VLA_MEMCPY(t->gf, A->f1, nf * 4);
    vla__tew(t, VLA__EW_GELU, t->gf, NULL, nf, NULL);
    { vla__drop dr = vla__tdrop(t, 1, l, VLA__DROP_ACT, -1); vla__tew(t, VLA__EW_DROP, t->gf, NULL, nf, &dr); }
    vla__tlin(t, A->fo, t->gf, &ly->fc2, R);
    vla__tadp_fwd(t, a0 + 2, A->fo, A->fh, t->g1, R);
    vla__tres_fwd(t, A->s3, xo, A->x2, t->g1, &ly->ffn_ln, R, vla__tdrop(t, 1, l, VLA__DROP_FFN_OUT, -1));
}

/* gx = d xo in, d x out; d(encoder output) accumulates in genc. */
static void vla__tdec_bwd(vla_trainer *t, int l, const vla__dact *A) {
    const vla_hparams *hp = &t->m->hp;
    const vla__dec_layer *ly = &t->W.dec[l];
    const vla__dec_layer_g *G = &t->G.dec[l];
    int R = t->Rd, Re = t->Re, d = hp->d_model, H = hp->n_dec_heads, s0 = 2 * hp->n_enc_layers + 4 * l, a0 = 2 * hp->n_enc_layers + 3 * l;
    int lo = t->has_ad;
    size_t n = (size_t)R * d, ne = (size_t)Re * d;
    float sc = 1.0f / VLA_SQRTF((float)(d / H));
    vla__tffn_bwd(t, &ly->fc1, &ly->fc2, &ly->ffn_ln, &G->fc1, &G->fc2, &G->ffn_ln, A->x2, A->f1, A->fo, A->fh, A->s3, hp->dec_ffn,
                  a0 + 2, R, 1, l);
    /* cross-attention block */
    vla__tres_bwd(t, t->gx, t->g2, A->s2, &ly->ca_ln, &G->ca_ln, R, vla__tdrop(t, 1, l, VLA__DROP_CROSS_OUT, -1));
    vla__tadp_bwd(t, a0 + 1, t->g2, A->co, A->ch, R);
    VLA_MEMSET(t->g1, 0, n * 4);
    vla__tlin_bwd(t, t->g1, t->g2, A->cctx, &ly->ca.o, &G->ca.o, R);
    VLA_MEMSET(t->g3, 0, n * 4); VLA_MEMSET(t->g0, 0, ne * 4); VLA_MEMSET(t->gf, 0, ne * 4);
    vla__tattn_bwd(t, t->g3, t->g0, t->gf, t->g1, A->P2, A->cq, A->xk, A->xv, t->B, t->T, t->L, H, 1, l, VLA__DROP_CROSS_ATT);
    vla__scale(t->g3, n, sc);
    vla__tproj_bwd(t, t->gx, t->g3, A->x1, &ly->ca.q, &G->ca.q, lo ? s0 + 2 : -1, A->lcq, R, vla__tdrop(t, 1, l, VLA__DROP_LORA, -3));
    vla__tlin_bwd(t, t->genc, t->g0, t->enc_out, &ly->ca.k, &G->ca.k, Re);
    vla__tproj_bwd(t, t->genc, t->gf, t->enc_out, &ly->ca.v, &G->ca.v, lo ? s0 + 3 : -1, A->lxv, Re, vla__tdrop(t, 1, l, VLA__DROP_LORA, -4));
    /* self-attention block */
    vla__tres_bwd(t, t->gx, t->g2, A->s1, &ly->sa_ln, &G->sa_ln, R, vla__tdrop(t, 1, l, VLA__DROP_OUT, -1));
    vla__tadp_bwd(t, a0 + 0, t->g2, A->ao, A->ah, R);
    VLA_MEMSET(t->g1, 0, n * 4);
    vla__tlin_bwd(t, t->g1, t->g2, A->ctx, &ly->sa.o, &G->sa.o, R);
    VLA_MEMSET(t->g3, 0, n * 4); VLA_MEMSET(t->g0, 0, n * 4); VLA_MEMSET(t->gf, 0, n * 4);
    vla__tattn_bwd(t, t->g3, t->g0, t->gf, t->g1, A->P, A->q, A->k, A->v, t->B, t->T, t->T, H, 1, l, VLA__DROP_ATT);
    vla__scale(t->g3, n, sc);
    vla__tproj_bwd(t, t->gx, t->g3, A->x, &ly->sa.q, &G->sa.q, lo ? s0 + 0 : -1, A->lq, R, vla__tdrop(t, 1, l, VLA__DROP_LORA, -1));
    vla__tlin_bwd(t, t->gx, t->g0, A->x, &ly->sa.k, &G->sa.k, R);
    vla__tproj_bwd(t, t->gx, t->gf, A->x, &ly->sa.v, &G->sa.v, lo ? s0 + 1 : -1, A->lv, R, vla__tdrop(t, 1, l, VLA__DROP_LORA, -2));
}

/* ---- input assembly, loss, the whole step ---- */

/* Encoder input (as vla__encode):  x = drop([LN_emb([prompt; E[ids] s + P[t+2]]); visual tokens]). */
static vla_status vla__tenc_input(vla_trainer *t, const vla_input *in, float *x0) {
    const vla_hparams *hp = &t->m->hp;
    const vla__weights *W = &t->W;
    int d = hp->d_model, B = t->B, P = t->P, Lt = t->Lt, L = t->L, Nv = t->Nv, b, i, j, F = hp->feat_dim, nbx = hp->n_boxes;
    float *row = t->row;
    for (b = 0; b < B; b++) {
        float *xb = x0 + (size_t)b * L * d, *sb = t->emb_s + (size_t)b * (P + Lt) * d, *mb = t->enc_mask + (size_t)b * L;
        if (P) VLA_MEMCPY(sb, t->prompt, sizeof(float) * (size_t)P * d);
        for (i = 0; i < P; i++) mb[i] = 0.0f;
        for (i = 0; i < Lt; i++) {
            int32_t id = in->ids[(size_t)b * Lt + i];
            float *xt = sb + (size_t)(P + i) * d;
            vla_mat_row(xt, &W->shared, id);
            if (hp->embed_scale != 1.0f) vla__scale(xt, (size_t)d, hp->embed_scale);
            vla_mat_row(row, &W->enc_pos, i + 2);
            vla_add(xt, xt, row, (size_t)d);
            mb[P + i] = (!in->no_pad_mask && id == hp->pad_id) ? VLA__NEG_INF : 0.0f;
        }
        vla_layernorm(xb, sb, W->enc_ln_emb.g, W->enc_ln_emb.b, P + Lt, d, hp->ln_eps);
        for (i = P + Lt; i < L; i++) mb[i] = 0.0f;
        for (i = 0; i < Nv; i++) { /* visual token i of example b: image i / nbx, object i % nbx */
            int img = i / nbx, o = i % nbx, grid = in->grid_h * in->grid_w;
            size_t vi = (size_t)b * Nv + i;
            float *pool = t->vis_pool + vi * F, *bx = t->vis_box + vi * 5;
            if (o == 0) {
                const float *feat = in->feats + ((size_t)b * in->n_images + img) * (size_t)grid * F;
                if (hp->pool_h) vla_adaptive_maxpool2d(pool, feat, in->grid_h, in->grid_w, F, hp->pool_h, hp->pool_w);
                else VLA_MEMCPY(pool, feat, sizeof(float) * (size_t)nbx * F);
            }
            if (in->boxes) {
                const float *q = in->boxes + (((size_t)b * in->n_images + img) * (size_t)grid + o) * 4;
                bx[0] = q[0]; bx[1] = q[1]; bx[2] = q[2]; bx[3] = q[3];
                bx[4] = (q[3] - q[2]) * (q[1] - q[0]);
            } else bx[0] = bx[1] = bx[2] = bx[3] = bx[4] = 0.0f;
        }
    }
    if (Nv) {
        int Mv = B * Nv;
        vla__tlin(t, t->vis_f, t->vis_pool, &W->vis_feat, Mv);
        vla__tlin(t, t->vis_p, t->vis_box, &W->vis_box, Mv);
        for (b = 0; b < B; b++)
            for (i = 0; i < Nv; i++) {
                size_t vi = (size_t)b * Nv + i;
                float *xi = x0 + ((size_t)b * L + P + Lt + i) * d, *r2 = row + d;
                vla_layernorm(xi, t->vis_f + vi * d, W->vis_feat_ln.g, W->vis_feat_ln.b, 1, d, hp->ln_eps);
                vla_layernorm(r2, t->vis_p + vi * d, W->vis_box_ln.g, W->vis_box_ln.b, 1, d, hp->ln_eps);
                vla_add(xi, xi, r2, (size_t)d);
                vla_mat_row(row, &W->img_order, i / nbx);
                vla_add(xi, xi, row, (size_t)d);
                vla_mat_row(row, &W->shared, hp->vocab - 1 - i % nbx);
                vla_add(xi, xi, row, (size_t)d);
            }
    }
    for (b = 0; b < B; b++) { vla__drop dr = vla__tdrop(t, 0, -1, VLA__DROP_EMB, b); vla__tew(t, VLA__EW_DROP, x0 + (size_t)b * L * d, NULL, (size_t)L * d, &dr); }
    (void)j;
    return VLA_OK;
}

/* Backward of the input assembly: gx = d x0 (changed). */
static void vla__tenc_input_bwd(vla_trainer *t, const vla_input *in) {
    const vla_hparams *hp = &t->m->hp;
    const vla__weights *W = &t->W;
    vla__weights_g *G = &t->G;
    int d = hp->d_model, B = t->B, P = t->P, Lt = t->Lt, L = t->L, Nv = t->Nv, b, i, nbx = hp->n_boxes;
    for (b = 0; b < B; b++) { vla__drop dr = vla__tdrop(t, 0, -1, VLA__DROP_EMB, b); vla__tew(t, VLA__EW_DROP, t->gx + (size_t)b * L * d, NULL, (size_t)L * d, &dr); }
    if (P) VLA_MEMSET(t->dprompt, 0, sizeof(float) * (size_t)P * d);
    for (b = 0; b < B; b++) {
        float *gb = t->gx + (size_t)b * L * d, *ds = t->g0;
        vla_layernorm_bwd(ds, G->enc_ln_emb.g, G->enc_ln_emb.b, gb, t->emb_s + (size_t)b * (P + Lt) * d, W->enc_ln_emb.g, P + Lt, d, hp->ln_eps);
        if (P) vla_add(t->dprompt, t->dprompt, ds, (size_t)P * d);
        for (i = 0; i < Lt; i++) {
            const float *g = ds + (size_t)(P + i) * d;
            int32_t id = in->ids[(size_t)b * Lt + i];
            int j;
            if (G->shared) for (j = 0; j < d; j++) G->shared[(size_t)id * d + j] += g[j] * hp->embed_scale;
            if (G->enc_pos) for (j = 0; j < d; j++) G->enc_pos[(size_t)(i + 2) * d + j] += g[j];
        }
    }
    if (Nv) {
        int Mv = B * Nv, j;
        float *df = t->g1, *dp = t->g2;
        for (b = 0; b < B; b++)
            for (i = 0; i < Nv; i++) {
                size_t vi = (size_t)b * Nv + i;
                const float *g = t->gx + ((size_t)b * L + P + Lt + i) * d;
                if (G->img_order) for (j = 0; j < d; j++) G->img_order[(size_t)(i / nbx) * d + j] += g[j];
                if (G->shared) for (j = 0; j < d; j++) G->shared[(size_t)(hp->vocab - 1 - i % nbx) * d + j] += g[j];
                vla_layernorm_bwd(df + vi * d, G->vis_feat_ln.g, G->vis_feat_ln.b, g, t->vis_f + vi * d, W->vis_feat_ln.g, 1, d, hp->ln_eps);
                vla_layernorm_bwd(dp + vi * d, G->vis_box_ln.g, G->vis_box_ln.b, g, t->vis_p + vi * d, W->vis_box_ln.g, 1, d, hp->ln_eps);
            }
        if (t->p.train_clip) VLA_MEMSET(t->dpool, 0, sizeof(float) * (size_t)Mv * (size_t)hp->feat_dim);
        vla__tlin_bwd(t, t->p.train_clip ? t->dpool : NULL, df, t->vis_pool, &W->vis_feat, &G->vis_feat, Mv);
        vla__tlin_bwd(t, NULL, dp, t->vis_box, &W->vis_box, &G->vis_box, Mv);
    }
}

/* Decoder input: [start, labels[:-1]] (-100 -> pad), embedded, LN, dropout. */
static vla_status vla__tdec_input(vla_trainer *t, const vla_train_batch *bt, float *x0) {
    const vla_hparams *hp = &t->m->hp;
    int d = hp->d_model, b, i, T = t->T;
    for (b = 0; b < t->B; b++)
        for (i = 0; i < T; i++) {
            int32_t id = i == 0 ? hp->dec_start_id : bt->labels[(size_t)b * T + i - 1];
            float *xt = t->dec_s + ((size_t)b * T + i) * d;
            if (id == -100) id = hp->pad_id;
            if (id < 0 || id >= hp->vocab) return VLA_ERR_RANGE;
            t->dec_ids[b * T + i] = id;
            vla_mat_row(xt, &t->W.shared, id);
            if (hp->embed_scale != 1.0f) vla__scale(xt, (size_t)d, hp->embed_scale);
            vla_mat_row(t->row, &t->W.dec_pos, i + 2);
            vla_add(xt, xt, t->row, (size_t)d);
        }
    vla_layernorm(x0, t->dec_s, t->W.dec_ln_emb.g, t->W.dec_ln_emb.b, t->Rd, d, hp->ln_eps);
    { vla__drop dr = vla__tdrop(t, 1, -1, VLA__DROP_EMB, -1); vla__tew(t, VLA__EW_DROP, x0, NULL, (size_t)t->Rd * d, &dr); }
    return VLA_OK;
}

static void vla__tdec_input_bwd(vla_trainer *t) {
    const vla_hparams *hp = &t->m->hp;
    int d = hp->d_model, r, j;
    vla__drop dr = vla__tdrop(t, 1, -1, VLA__DROP_EMB, -1);
    vla__tew(t, VLA__EW_DROP, t->gx, NULL, (size_t)t->Rd * d, &dr);
    vla_layernorm_bwd(t->g0, t->G.dec_ln_emb.g, t->G.dec_ln_emb.b, t->gx, t->dec_s, t->W.dec_ln_emb.g, t->Rd, d, hp->ln_eps);
    for (r = 0; r < t->Rd; r++) {
        const float *g = t->g0 + (size_t)r * d;
        if (t->G.shared) for (j = 0; j < d; j++) t->G.shared[(size_t)t->dec_ids[r] * d + j] += g[j] * hp->embed_scale;
        if (t->G.dec_pos) for (j = 0; j < d; j++) t->G.dec_pos[(size_t)(r % t->T + 2) * d + j] += g[j];
    }
}

/* Loss of the logits in t->logits; with grad = 1 they become d loss / d logits.
 * Rows run on the exec's threads; their losses are summed in row order. */
typedef struct vla__loss_job { vla_trainer *t; const int32_t *labels; int grad; } vla__loss_job;

static void vla__loss_task(void *arg, int r) {
    const vla__loss_job *J = (const vla__loss_job *)arg;
    vla_trainer *t = J->t;
    int V = t->m->hp.vocab, i;
    float *lg = t->logits + (size_t)r * V, mx = lg[0], s = 0.0f, lse, w = t->tokw[r];
    int32_t lab = J->labels[r];
    t->rowloss[r] = 0.0f;
    if (lab == -100) { if (J->grad) VLA_MEMSET(lg, 0, sizeof(float) * (size_t)V); return; }
    for (i = 1; i < V; i++) if (lg[i] > mx) mx = lg[i];
    for (i = 0; i < V; i++) s += VLA_EXPF(lg[i] - mx);
    lse = mx + VLA_LOGF(s);
    t->rowloss[r] = w * (lse - lg[lab]);
    if (J->grad) {
        for (i = 0; i < V; i++) lg[i] = w * VLA_EXPF(lg[i] - lse);
        lg[lab] -= w;
    }
}

static float vla__tloss(vla_trainer *t, const vla_train_batch *bt, int grad) {
    int b, i, T = t->T, n_all = 0;
    double loss = 0.0;
    vla__loss_job J;
    for (b = 0; b < t->B; b++) {
        int nb = 0;
        for (i = 0; i < T; i++) nb += bt->labels[(size_t)b * T + i] != -100;
        n_all += nb;
        for (i = 0; i < T; i++) {
            float w;
            if (bt->loss == VLA_LOSS_TOKEN_MEAN) w = 1.0f;
            else w = (bt->loss == VLA_LOSS_VQA ? bt->scores[b] : 1.0f) / (float)(nb > 0 ? nb : 1) / (float)t->B;
            t->tokw[b * T + i] = w;
        }
    }
    if (bt->loss == VLA_LOSS_TOKEN_MEAN)
        for (i = 0; i < t->B * T; i++) t->tokw[i] = n_all > 0 ? 1.0f / (float)n_all : 0.0f;
    J.t = t; J.labels = bt->labels; J.grad = grad;
    vla__run(&t->p.exec, vla__loss_task, &J, t->B * T);
    for (i = 0; i < t->B * T; i++) loss += (double)t->rowloss[i];
    return (float)loss;
}

static vla_status vla__tcheck(vla_trainer *t, const vla_train_batch *bt) {
    const vla_hparams *hp = &t->m->hp;
    const vla_input *in = &bt->in;
    int i;
    if (!bt->labels || bt->target_len < 1 || bt->target_len > t->p.max_target_len || in->batch < 1 || in->batch > t->p.max_batch ||
        in->text_len < 0 || in->text_len > t->p.max_text_len || (in->text_len > 0 && !in->ids) || in->n_embeds ||
        (in->images && (!t->p.train_clip || in->feats)) || (t->p.train_clip && in->n_images > 0 && !in->images) ||
        in->n_images < 0 || in->n_images > t->p.max_images || (bt->loss == VLA_LOSS_VQA && !bt->scores) ||
        (bt->loss != VLA_LOSS_VQA && bt->loss != VLA_LOSS_EXAMPLE_MEAN && bt->loss != VLA_LOSS_TOKEN_MEAN)) {
        vla__log(&t->log, VLA_LOG_ERROR, "trainer: batch outside the trainer's shapes, or without labels/scores", 0, 0, 0);
        return VLA_ERR_ARGS;
    }
    if (in->n_images > 0) { /* pictures: the trunk's grid (train_clip) */
        int gh = in->images ? hp->clip_image_size / 32 : in->grid_h, gw = in->images ? gh : in->grid_w;
        if (!hp->has_visual || (!in->feats && !in->images) || gh < 1 || gw < 1 || gh * gw > t->p.max_grid ||
            in->n_images > hp->n_images || (hp->pool_h ? (gh < hp->pool_h || gw < hp->pool_w) : gh * gw < hp->n_boxes))
            return VLA_ERR_ARGS;
    }
    for (i = 0; i < in->batch * in->text_len; i++)
        if (in->ids[i] < 0 || in->ids[i] >= hp->vocab) return VLA_ERR_RANGE;
    for (i = 0; i < in->batch * bt->target_len; i++)
        if (bt->labels[i] != -100 && (bt->labels[i] < 0 || bt->labels[i] >= hp->vocab)) return VLA_ERR_RANGE;
    t->task = 0;
    if (bt->task && t->n_tasks > 0) {
        for (i = 0; i < t->n_tasks; i++)
            if (vla__str_eq(t->tasks[i].name, bt->task, VLA_STRLEN(bt->task))) break;
        if (i == t->n_tasks) {
            vla__log(&t->log, VLA_LOG_ERROR, "trainer: the adapter file has no task '%s'", bt->task, 0, 0);
            return VLA_ERR_NOT_FOUND;
        }
        t->task = i;
    }
    if (in->text_len == 0 && in->n_images == 0 && !(t->method == VLA__M_PROMPT && t->tasks[t->task].pe)) {
        vla__log(&t->log, VLA_LOG_ERROR, "trainer: a batch needs text, pictures or a prompt", 0, 0, 0);
        return VLA_ERR_ARGS;
    }
    return VLA_OK;
}

/* ---- the CLIP trunk, trained (train_clip) ----
 *
 * The training forward of the trunk is the inference one ([I10]) written
 * with an explicit im2col, keeping for each picture what the backward pass
 * reads: every ReLU output, the pooled inputs of the strided blocks and each
 * block's output.  Offsets of those tensors in a picture's saved floats are
 * planned once (vla__tclip_plan) and shared by every picture. */

/* col [Ho*Ho, k*k*C] from x [H, H, C] (zero padding): vla__im2col_px over
 * every output pixel. */
static void vla__im2col(float *col, const float *x, int H, int C, int k, int s, int pad) {
    const int Ho = (H + 2 * pad - k) / s + 1;
    vla__im2col_px(col, x, H, H, C, k, s, pad, Ho, 0, (size_t)Ho * Ho);
}

/* x [H, H, C] = the sum of every column entry of col that reads it. */
static void vla__col2im(float *x, const float *col, int H, int C, int k, int s, int pad) {
    int Ho = (H + 2 * pad - k) / s + 1, oy, ox, ky, kx, c;
    VLA_MEMSET(x, 0, sizeof(float) * (size_t)H * H * C);
    for (oy = 0; oy < Ho; oy++)
        for (ox = 0; ox < Ho; ox++) {
            const float *r = col + ((size_t)oy * Ho + ox) * (size_t)(k * k * C);
            for (ky = 0; ky < k; ky++)
                for (kx = 0; kx < k; kx++, r += C) {
                    int iy = oy * s + ky - pad, ix = ox * s + kx - pad;
                    float *d = x + ((size_t)iy * H + ix) * C;
                    if (iy < 0 || iy >= H || ix < 0 || ix >= H) continue;
                    for (c = 0; c < C; c++) d[c] += r[c];
                }
        }
}

/* dx [H, H, C] = dy [H/s, H/s, C] / s^2 spread over each window. */
static void vla__avgpool_bwd(float *dx, const float *dy, int H, int C, int s) {
    int Ho = H / s, y, x, c;
    float inv = 1.0f / (float)(s * s);
    for (y = 0; y < H; y++)
        for (x = 0; x < H; x++) {
            const float *g = dy + ((size_t)(y / s) * Ho + x / s) * C;
            float *d = dx + ((size_t)y * H + x) * C;
            for (c = 0; c < C; c++) d[c] = g[c] * inv;
        }
}

/* dy *= (y > 0): the gradient of a ReLU from its output. */
static void vla__relu_bwd(float *dy, const float *y, size_t n) {
    size_t i;
    for (i = 0; i < n; i++)
        if (!(y[i] > 0.0f)) dy[i] = 0.0f;
}

/* Gradient of vla_adaptive_maxpool2d: each dy [oh, ow, C] entry goes to the
 * first maximum of its window in x [H, W, C] (the one the forward kept);
 * dx accumulates. */
static void vla__amaxpool_bwd(float *dx, const float *dy, const float *x, int H, int W, int C, int oh, int ow) {
    int i, j, c, r, q;
    for (i = 0; i < oh; i++) {
        int r0 = (i * H) / oh, r1 = ((i + 1) * H + oh - 1) / oh;
        for (j = 0; j < ow; j++) {
            int c0 = (j * W) / ow, c1 = ((j + 1) * W + ow - 1) / ow;
            for (c = 0; c < C; c++) {
                size_t at = ((size_t)r0 * W + c0) * C + c;
                float mx = x[at];
                for (r = r0; r < r1; r++)
                    for (q = c0; q < c1; q++) {
                        size_t k = ((size_t)r * W + q) * C + c;
                        if (x[k] > mx || (x[k] != x[k] && mx == mx)) { mx = x[k]; at = k; }
                    }
                dx[at] += dy[((size_t)i * ow + j) * C + c];
            }
        }
    }
}

/* y [Ho, Ho, cout] = conv(x [H, H, cin]) + b, then ReLU if relu. */
static void vla__tconv(vla_trainer *t, float *y, const float *x, const vla__conv *cv, int H, int stride, int relu) {
    int pad = cv->k / 2, Ho = (H + 2 * pad - cv->k) / stride + 1;
    const float *col = x; /* a 1x1 convolution (always stride 1 here) reads x as it is */
    if (cv->k > 1) { vla__im2col(t->ccol, x, H, cv->cin, cv->k, stride, pad); col = t->ccol; }
    vla_linear(&t->p.exec, y, col, &cv->w, cv->b, Ho * Ho);
    if (cv == t->calib) { /* vla_trainer_calibrate_clip: statistics before the ReLU */
        int r, c;
        for (r = 0; r < Ho * Ho; r++)
            for (c = 0; c < cv->cout; c++) {
                double v = y[(size_t)r * cv->cout + c];
                t->calib_s[c] += v;
                t->calib_s[cv->cout + c] += v * v;
                t->calib_s[2 * cv->cout + c] += v * v * v;
            }
    }
    if (relu) vla_relu(y, (size_t)Ho * Ho * cv->cout);
}

/* Backward of vla__tconv before its ReLU: from dy [Ho, Ho, cout],
 * dW += dy^T col(x), db += sum dy, and (dx not NULL) dx [H, H, cin] =
 * col2im(dy W), overwritten. */
static void vla__tconv_bwd(vla_trainer *t, float *dx, const float *dy, const float *x, const vla__conv *cv, const vla__lin_g *g, int H,
                           int stride) {
    int pad = cv->k / 2, Ho = (H + 2 * pad - cv->k) / stride + 1, M = Ho * Ho, K = cv->w.cols;
    const float *col = x;
    if (cv->k > 1) { vla__im2col(t->ccol, x, H, cv->cin, cv->k, stride, pad); col = t->ccol; }
    vla_linear_bwd_w(&t->p.exec, g->w, g->b, dy, col, M, cv->cout, K, t->bscr);
    if (!dx) return;
    if (cv->k == 1) {
        VLA_MEMSET(dx, 0, sizeof(float) * (size_t)M * K);
        vla_linear_bwd_x(&t->p.exec, dx, dy, &cv->w, M, t->bscr);
        return;
    }
    VLA_MEMSET(t->cdcol, 0, sizeof(float) * (size_t)M * K);
    vla_linear_bwd_x(&t->p.exec, t->cdcol, dy, &cv->w, M, t->bscr);
    vla__col2im(dx, t->cdcol, H, cv->cin, cv->k, stride, pad);
}

/* Training forward of one picture img [S, S, 3]: a (cact_n floats) keeps the
 * activations; grid [S/32 * S/32, C] gets the trunk's output. */
static void vla__tclip_fwd(vla_trainer *t, const float *img, float *a, float *grid) {
    const vla_hparams *hp = &t->m->hp;
    int S = hp->clip_image_size, w = hp->clip_width, nb, nblk = vla__clip_nblocks(hp);
    const vla__tcb *last = &t->cb[nblk - 1];
    /* stem: [S, S, 3] -> s1, s2 [S/2, S/2, w/2] -> s3 [S/2, S/2, w] -> p0 [S/4, S/4, w] */
    vla__tconv(t, a + t->cs[0], img, &t->cv[0], S, 2, 1);
    vla__tconv(t, a + t->cs[1], a + t->cs[0], &t->cv[1], S / 2, 1, 1);
    vla__tconv(t, a + t->cs[2], a + t->cs[1], &t->cv[2], S / 2, 1, 1);
    vla_avgpool2d(a + t->cs[3], a + t->cs[2], S / 2, S / 2, w, 2);
    for (nb = 0; nb < nblk; nb++) {
        const vla__bottleneck *bk = &t->m->clip_blocks[nb];
        const vla__tcb *b = &t->cb[nb];
        const vla__conv *c = &t->cv[3 + 4 * nb];
        int s = bk->stride, planes = c[0].cout, cin = c[0].cin;
        size_t no = (size_t)b->Ho * b->Ho * (size_t)c[2].cout;
        float *x = a + b->x, *out = a + b->out, *m3 = a + b->h2;
        /* out = relu(conv3(pool(relu(conv2(relu(conv1(x))))))) + id(x)) */
        vla__tconv(t, a + b->h1, x, &c[0], b->H, 1, 1);
        vla__tconv(t, a + b->h2, a + b->h1, &c[1], b->H, 1, 1);
        if (s > 1) { vla_avgpool2d(a + b->h2p, a + b->h2, b->H, b->H, planes, s); m3 = a + b->h2p; }
        vla__tconv(t, out, m3, &c[2], b->Ho, 1, 0);
        if (bk->has_down) { /* id = conv_down(pool(x)) */
            const float *ix = x;
            if (s > 1) { vla_avgpool2d(a + b->xp, x, b->H, b->H, cin, s); ix = a + b->xp; }
            vla__tconv(t, t->cg[0], ix, &c[3], b->Ho, 1, 0);
            vla_add(out, out, t->cg[0], no);
        } else vla_add(out, out, x, no);
        vla_relu(out, no);
    }
    VLA_MEMCPY(grid, a + last->out, sizeof(float) * (size_t)last->Ho * last->Ho * (size_t)hp->clip_out_ch);
}

/* Backward of one picture: dg [grid, C] is d loss / d grid; every conv's
 * dW, db accumulate.  Three activation-sized buffers rotate: cur holds the
 * gradient at a block's output, dx collects its input's. */
static void vla__tclip_bwd(vla_trainer *t, const float *img, const float *a, const float *dg) {
    const vla_hparams *hp = &t->m->hp;
    int S = hp->clip_image_size, w = hp->clip_width, nb, nblk = vla__clip_nblocks(hp), H1 = S / 2;
    float *cur = t->cg[0], *dx = t->cg[1], *tmp = t->cg[2], *sw;
    const vla__tcb *last = &t->cb[nblk - 1];
    VLA_MEMCPY(cur, dg, sizeof(float) * (size_t)last->Ho * last->Ho * (size_t)hp->clip_out_ch);
    for (nb = nblk - 1; nb >= 0; nb--) {
        const vla__bottleneck *bk = &t->m->clip_blocks[nb];
        const vla__tcb *b = &t->cb[nb];
        const vla__conv *c = &t->cv[3 + 4 * nb];
        const vla__lin_g *g = &t->cvg[3 + 4 * nb];
        int s = bk->stride, planes = c[0].cout, cin = c[0].cin, H = b->H;
        size_t nh = (size_t)H * H * (size_t)planes;
        const float *x = a + b->x;
        float *dh;
        vla__relu_bwd(cur, a + b->out, (size_t)b->Ho * b->Ho * (size_t)c[2].cout);
        /* identity branch -> dx [H, H, cin] */
        if (bk->has_down && s > 1) {
            vla__tconv_bwd(t, tmp, cur, a + b->xp, &c[3], &g[3], b->Ho, 1);
            vla__avgpool_bwd(dx, tmp, H, cin, s);
        } else if (bk->has_down) vla__tconv_bwd(t, dx, cur, x, &c[3], &g[3], H, 1);
        else VLA_MEMCPY(dx, cur, sizeof(float) * (size_t)H * H * (size_t)cin);
        /* main branch: conv3 <- pool <- relu(conv2) <- relu(conv1) */
        vla__tconv_bwd(t, tmp, cur, s > 1 ? a + b->h2p : a + b->h2, &c[2], &g[2], b->Ho, 1);
        if (s > 1) { vla__avgpool_bwd(cur, tmp, H, planes, s); dh = cur; }
        else { dh = tmp; tmp = cur; }                 /* cur's values are spent */
        vla__relu_bwd(dh, a + b->h2, nh);
        vla__tconv_bwd(t, tmp, dh, a + b->h1, &c[1], &g[1], H, 1);     /* d h1 */
        vla__relu_bwd(tmp, a + b->h1, nh);
        vla__tconv_bwd(t, dh, tmp, x, &c[0], &g[0], H, 1);             /* d x, main branch */
        vla_add(dx, dx, dh, (size_t)H * H * (size_t)cin);
        /* dx becomes the gradient at the previous block's output */
        sw = cur == dh ? tmp : cur;
        cur = dx; dx = dh; tmp = sw;
    }
    /* stem: p0 <- s3 <- s2 <- s1 <- image */
    vla__avgpool_bwd(dx, cur, H1, w, 2);
    vla__relu_bwd(dx, a + t->cs[2], (size_t)H1 * H1 * (size_t)w);
    vla__tconv_bwd(t, tmp, dx, a + t->cs[1], &t->cv[2], &t->cvg[2], H1, 1);
    vla__relu_bwd(tmp, a + t->cs[1], (size_t)H1 * H1 * (size_t)(w / 2));
    vla__tconv_bwd(t, cur, tmp, a + t->cs[0], &t->cv[1], &t->cvg[1], H1, 1);
    vla__relu_bwd(cur, a + t->cs[0], (size_t)H1 * H1 * (size_t)(w / 2));
    vla__tconv_bwd(t, NULL, cur, img, &t->cv[0], &t->cvg[0], S, 2);
}

static vla__eact *vla__teact(vla_trainer *t, int l) {
    if (!t->p.recompute) return &t->ea[l];
    t->ea_one.x = t->ea[l].x;
    return &t->ea_one;
}
static vla__dact *vla__tdact(vla_trainer *t, int l) {
    if (!t->p.recompute) return &t->da[l];
    t->da_one.x = t->da[l].x;
    return &t->da_one;
}

/* Forward of a batch; grad = 1 continues with the backward pass. */
static vla_status vla__tstep(vla_trainer *t, const vla_train_batch *bt, int grad, float *loss_out) {
    const vla_hparams *hp = &t->m->hp;
    int Le = hp->n_enc_layers, Ld = hp->n_dec_layers, l, i, d = hp->d_model;
    float loss;
    vla_status st;
    vla_input in;
    if ((st = vla__tcheck(t, bt)) != VLA_OK) return st;
    in = bt->in;
    if (grad)
        for (i = 0; i < t->n_tp; i++) { VLA_MEMSET(t->tp[i].g, 0, t->tp[i].n * 4); t->tp[i].used = 0; }
    if ((st = vla__tr_modules(t, grad)) != VLA_OK) return st;
    t->B = bt->in.batch; t->Lt = bt->in.text_len; t->P = t->n_prompt;
    if (t->P > t->max_prompt) return VLA_ERR_STATE;
    t->Nv = hp->has_visual ? bt->in.n_images * hp->n_boxes : 0;
    t->L = t->P + t->Lt + t->Nv; t->T = bt->target_len;
    t->Re = t->B * t->L; t->Rd = t->B * t->T;
    /* forward */
    if (in.images && in.n_images > 0) { /* train_clip: the trunk turns the pictures into grid features */
        int S = hp->clip_image_size, np = in.batch * in.n_images;
        size_t gsz = (size_t)(S / 32) * (S / 32) * (size_t)hp->clip_out_ch;
        for (i = 0; i < np; i++) vla__tclip_fwd(t, in.images + (size_t)i * S * S * 3, t->cact + (size_t)i * t->cact_n, t->cgrid + i * gsz);
        in.feats = t->cgrid; in.grid_h = in.grid_w = S / 32; in.images = NULL;
    }
    vla__tenc_input(t, &in, Le ? t->ea[0].x : t->enc_out);
    for (l = 0; l < Le; l++) vla__tenc_fwd(t, l, vla__teact(t, l), l + 1 < Le ? t->ea[l + 1].x : t->enc_out);
    if ((st = vla__tdec_input(t, bt, t->da[0].x)) != VLA_OK) return st;
    for (l = 0; l < Ld; l++) vla__tdec_fwd(t, l, vla__tdact(t, l), l + 1 < Ld ? t->da[l + 1].x : t->dec_out);
    vla_linear(&t->p.exec, t->logits, t->dec_out, &t->W.shared, t->W.final_logits_bias, t->Rd);
    loss = vla__tloss(t, bt, grad);
    if (loss_out) *loss_out = loss;
    if (!grad) return VLA_OK;
    /* backward: logits = h E^T + bias */
    VLA_MEMSET(t->gx, 0, sizeof(float) * (size_t)t->Rd * d);
    vla_linear_bwd_x(&t->p.exec, t->gx, t->logits, &t->W.shared, t->Rd, t->bscr);
    if (t->G.shared) vla_linear_bwd_w(&t->p.exec, t->G.shared, NULL, t->logits, t->dec_out, t->Rd, hp->vocab, d, t->bscr);
    VLA_MEMSET(t->genc, 0, sizeof(float) * (size_t)t->Re * d);
    for (l = Ld - 1; l >= 0; l--) {
        vla__dact *A = vla__tdact(t, l);
        if (t->p.recompute) vla__tdec_fwd(t, l, A, l + 1 < Ld ? t->da[l + 1].x : t->dec_out);
        vla__tdec_bwd(t, l, A);
    }
    vla__tdec_input_bwd(t);
    VLA_MEMCPY(t->gx, t->genc, sizeof(float) * (size_t)t->Re * d);
    for (l = Le - 1; l >= 0; l--) {
        vla__eact *A = vla__teact(t, l);
        if (t->p.recompute) vla__tenc_fwd(t, l, A, l + 1 < Le ? t->ea[l + 1].x : t->enc_out);
        vla__tenc_bwd(t, l, A);
    }
    vla__tenc_input_bwd(t, &in);
    vla__tr_modules_bwd(t);
    if (bt->in.images && in.n_images > 0) { /* into the trunk: the 6 x 6 max pool, then every picture backwards */
        int S = hp->clip_image_size, gs = S / 32, np = in.batch * in.n_images, F = hp->feat_dim, nbx = hp->n_boxes;
        size_t gsz = (size_t)gs * gs * (size_t)F;
        VLA_MEMSET(t->dgrid, 0, sizeof(float) * (size_t)np * gsz);
        for (i = 0; i < np; i++) { /* picture i: example i / n_images, its visual tokens from (i % n_images) nbx on */
            const float *dp = t->dpool + ((size_t)(i / in.n_images) * t->Nv + (size_t)(i % in.n_images) * nbx) * F;
            if (hp->pool_h) vla__amaxpool_bwd(t->dgrid + i * gsz, dp, t->cgrid + i * gsz, gs, gs, F, hp->pool_h, hp->pool_w);
            else vla_add(t->dgrid + i * gsz, t->dgrid + i * gsz, dp, (size_t)nbx * F);
        }
        for (i = 0; i < np; i++) vla__tclip_bwd(t, bt->in.images + (size_t)i * S * S * 3, t->cact + (size_t)i * t->cact_n, t->dgrid + i * gsz);
    }
    for (i = 0; i < t->n_tp; i++)
        if (t->tp[i].cls) t->tp[i].used = !((t->tp[i].cls == VLA__C_VIS || t->tp[i].cls == VLA__C_CLIP) && t->Nv == 0);
    return VLA_OK;
}

/* ---- public entry points ---- */

static vla_status vla__trainer_open(vla_trainer *t, vla_arena *a, const vla_model *m, const void *ad, size_t ad_size,
                                    const vla_train_params *p) {
    const vla_hparams *hp;
    vla_gguf_kv kv;
    vla_str sv;
    vla_status st;
    float alpha = 0.0f;
    if (!m || !p) return VLA_ERR_ARGS;
    hp = &m->hp;
    t->m = m; t->p = *p; t->log = p->log;
    if (!hp->has_bart) return VLA_ERR_UNSUPPORTED;
    if (p->max_batch < 1 || p->max_batch > 4096 || p->max_text_len < 0 || p->max_text_len + 2 > hp->n_positions ||
        p->max_target_len < 1 || p->max_target_len + 2 > hp->n_positions || p->max_images < 0 || p->max_images > 2 ||
        (p->max_images > 0 && (!hp->has_visual || p->max_grid < 1)) || p->total_steps < 1 || p->warmup_steps < 0 ||
        p->warmup_steps > p->total_steps || !(p->lr >= 0.0) || !(p->dropout >= 0.0f && p->dropout < 1.0f) ||
        !(p->beta1 >= 0.0f && p->beta1 < 1.0f) || !(p->beta2 >= 0.0f && p->beta2 < 1.0f) || !(p->eps > 0.0f)) {
        vla__log(&p->log, VLA_LOG_ERROR, "trainer: parameters out of range (shapes, steps, lr, betas, eps or dropout)", 0, 0, 0);
        return VLA_ERR_ARGS;
    }
    if (p->exec.n_threads < 1) t->p.exec.n_threads = 1;
    if (p->train_clip && (ad || !hp->has_clip || !hp->has_visual || hp->clip_out_ch != hp->feat_dim ||
                          (hp->clip_image_size / 32) * (hp->clip_image_size / 32) > p->max_grid)) {
        vla__log(&p->log, VLA_LOG_ERROR, "trainer: train_clip trains a whole model (no adapter file) with a CLIP trunk whose grid fits max_grid", 0, 0, 0);
        return VLA_ERR_ARGS;
    }
    t->method = 0;
    t->n_tasks = 0;
    if (ad) {
        t->has_ad = 1;
        if ((st = vla_gguf_open(&t->ag, ad, ad_size, a)) != VLA_OK) {
            if (st == VLA_ERR_FORMAT) vla__log(&p->log, VLA_LOG_ERROR, "trainer: the adapter file is not a valid GGUF file", 0, 0, 0);
            return st;
        }
        if (vla_gguf_get_str(&t->ag, "general.type", &sv) != VLA_OK || !vla__str_eq(sv, "adapter", 7) ||
            vla_gguf_get_str(&t->ag, "vladapter.adapter.method", &sv) != VLA_OK) {
            vla__log(&p->log, VLA_LOG_ERROR, "trainer: not an adapter file (general.type, vladapter.adapter.method)", 0, 0, 0);
            return VLA_ERR_FORMAT;
        }
        for (t->method = 1; t->method <= VLA__M_PROMPT; t->method++)
            if (vla__str_eq(sv, vla__method_names[t->method], VLA_STRLEN(vla__method_names[t->method]))) break;
        if (t->method > VLA__M_PROMPT) return VLA_ERR_FORMAT;
        if (vla_gguf_get_kv(&t->ag, "vladapter.adapter.base_fingerprint", &kv) == VLA_OK) {
            if (kv.type != VLA_GGUF_U64) return VLA_ERR_FORMAT;
            if (vla__rd64(kv.val) != vla_model_fingerprint(m)) {
                if (!p->rebind) {
                    vla__log(&p->log, VLA_LOG_ERROR, "trainer: the adapter file was made for a different base model (fingerprint)", 0, 0, 0);
                    return VLA_ERR_MISMATCH;
                }
                vla__log(&p->log, VLA_LOG_INFO, "trainer: the adapter file was made for another base model: its weights start here (rebind)", 0, 0, 0);
            }
        } else if (vla_model_fingerprint(m) != 0) {
            vla__log(&p->log, VLA_LOG_ERROR, "trainer: the adapter file has no base fingerprint", 0, 0, 0);
            return VLA_ERR_MISMATCH;
        }
        if (vla_gguf_get_kv(&t->ag, "vladapter.adapter.tasks", &kv) != VLA_OK || kv.type != VLA_GGUF_ARRAY ||
            kv.arr_type != VLA_GGUF_STRING || kv.arr_n < 1 || kv.arr_n > 256)
            return VLA_ERR_FORMAT;
        t->n_tasks = (int)kv.arr_n;
        if (vla_gguf_get_f32(&t->ag, "vladapter.adapter.lora_alpha", &alpha) != VLA_OK) alpha = 0.0f;
        t->exact_gelu = vla_gguf_get_str(&t->ag, "vladapter.adapter.activation", &sv) == VLA_OK && vla__str_eq(sv, "gelu", 4);
        t->lora_scale = alpha;
    }
    t->src.g[0] = t->has_ad ? &t->ag : &m->gguf; t->src.g[1] = &m->gguf;
    t->src.n = t->has_ad ? 2 : 1;
    t->src.log = &t->log;
    return VLA_OK;
}

static vla_status vla__trainer_build(vla_trainer *t, vla_arena *a, const vla_model *m, const void *ad, size_t ad_size,
                                     const vla_train_params *p) {
    vla__tplan pl;
    vla_status st;
    if ((st = vla__trainer_open(t, a, m, ad, ad_size, p)) != VLA_OK) return st;
    if ((st = vla__trainer_plan(t, &pl)) != VLA_OK) return st;
    if (t->method == VLA__M_LORA) t->lora_scale = (t->lora_scale > 0.0f ? t->lora_scale : (float)pl.rmax) / (float)(pl.rmax > 0 ? pl.rmax : 1);
    else t->lora_scale = 1.0f;
    return vla__trainer_layout(t, a, &pl);
}

VLA_DEF vla_status vla_trainer_mem_req(const vla_model *m, const void *adapter, size_t adapter_size, const vla_train_params *p,
                                       size_t *bytes) {
    vla_arena a;
    vla_trainer tmp;
    vla_status st;
    if (!bytes) return VLA_ERR_ARGS;
    vla_arena_init_measure(&a);
    if (!vla_arena_alloc(&a, sizeof(vla_trainer))) return VLA_ERR_NOMEM;
    VLA_MEMSET(&tmp, 0, sizeof tmp);
    if ((st = vla__trainer_build(&tmp, &a, m, adapter, adapter_size, p)) != VLA_OK) return st;
    *bytes = a.peak_total + VLA_ALIGN;
    return VLA_OK;
}

VLA_DEF vla_status vla_trainer_init(vla_trainer **out, const vla_model *m, const void *adapter, size_t adapter_size,
                                    const vla_train_params *p, void *mem, size_t mem_size) {
    vla_arena a;
    vla_trainer *t;
    vla_status st;
    int i;
    if (!out || !mem || !p) return VLA_ERR_ARGS;
    *out = NULL;
    vla_arena_init(&a, mem, mem_size);
    a.log = p->log;
    t = (vla_trainer *)vla_arena_alloc(&a, sizeof(vla_trainer));
    if (!t) return VLA_ERR_NOMEM;
    VLA_MEMSET(t, 0, sizeof *t);
    if ((st = vla__trainer_build(t, &a, m, adapter, adapter_size, p)) != VLA_OK) {
        if (st == VLA_ERR_NOMEM) {
            size_t need = 0;
            unsigned long long n;
            vla_trainer_mem_req(m, adapter, adapter_size, p, &need);
            n = need;
            vla__log(&p->log, VLA_LOG_ERROR, "trainer: %llu bytes of memory needed (vla_trainer_mem_req)", &n, 0, 0);
        }
        return st;
    }
    if (t->has_ad) {
        vla_gguf_kv kv;
        vla_gguf_get_kv(&t->ag, "vladapter.adapter.tasks", &kv);
        for (i = 0; i < t->n_tasks; i++) {
            vla__kv_str_at(&kv, (uint64_t)i, &t->tasks[i].name);
            if (t->tasks[i].name.n == 0 || t->tasks[i].name.n > 32) return VLA_ERR_FORMAT;
        }
    }
    if ((st = vla__trainer_fill(t)) != VLA_OK) {
        vla__log(&p->log, VLA_LOG_ERROR, "trainer: the adapter file's modules are incomplete or of inconsistent shapes", 0, 0, 0);
        return st;
    }
    t->arena = a;
    *out = t;
    return VLA_OK;
}

VLA_DEF vla_status vla_trainer_backward(vla_trainer *t, const vla_train_batch *b, float *loss) {
    if (!t || !b) return VLA_ERR_ARGS;
    t->eval = 0;
    return vla__tstep(t, b, 1, loss);
}

VLA_DEF vla_status vla_trainer_loss(vla_trainer *t, const vla_train_batch *b, float *loss) {
    vla_status st;
    if (!t || !b) return VLA_ERR_ARGS;
    t->eval = 1;
    st = vla__tstep(t, b, 0, loss);
    t->eval = 0;
    return st;
}

/* get_linear_schedule_with_warmup's factor at optimizer step s, times lr. */
static double vla__lr_at(const vla_train_params *p, long s) {
    double f;
    if (s < p->warmup_steps) f = (double)s / (double)(p->warmup_steps > 1 ? p->warmup_steps : 1);
    else {
        f = (double)(p->total_steps - s) / (double)(p->total_steps - p->warmup_steps > 1 ? p->total_steps - p->warmup_steps : 1);
        if (f < 0.0) f = 0.0;
    }
    return p->lr * f;
}

VLA_DEF float vla_trainer_lr(const vla_trainer *t, long step) { return t ? (float)vla__lr_at(&t->p, step) : 0.0f; }
VLA_DEF long vla_trainer_steps_done(const vla_trainer *t) { return t ? t->step : 0; }

VLA_DEF vla_status vla_trainer_calibrate_clip(vla_trainer *t, const float *images, int n_images) {
    const vla_hparams *hp;
    size_t img_n, avail;
    int k, i;
    if (!t || !images || n_images < 1 || !t->p.train_clip || t->step != 0) return VLA_ERR_ARGS;
    hp = &t->m->hp;
    img_n = (size_t)hp->clip_image_size * hp->clip_image_size * 3;
    /* the sums live in dgrid (a backward buffer, free before the first step) */
    avail = (size_t)t->p.max_batch * (size_t)(t->p.max_images > 0 ? t->p.max_images : 1) * (size_t)(hp->clip_image_size / 32) *
            (size_t)(hp->clip_image_size / 32) * (size_t)hp->clip_out_ch * sizeof(float);
    t->calib_s = (double *)(void *)t->dgrid;
    for (k = 0; k < t->n_conv; k++) {
        vla__conv *cv = &t->cv[k];
        float *w = NULL, *b = NULL;
        double n = 0;
        int r, c, j, K = cv->w.cols;
        if (!cv->cout) continue; /* a block without a downsample */
        for (j = 0; j < t->n_tp; j++) { /* the trainer's own copies the view points at */
            if ((const void *)t->tp[j].w == cv->w.data) w = t->tp[j].w;
            if ((const void *)t->tp[j].w == (const void *)cv->b) b = t->tp[j].w;
        }
        if (!w || !b) return VLA_ERR_STATE;
        if (3 * (size_t)cv->cout * sizeof(double) > avail) return VLA_ERR_RANGE;
        VLA_MEMSET(t->calib_s, 0, 3 * (size_t)cv->cout * sizeof(double));
        t->calib = cv;
        for (i = 0; i < n_images; i++) vla__tclip_fwd(t, images + (size_t)i * img_n, t->cact, t->cgrid);
        t->calib = NULL;
        { /* pixels per picture at this conv's output: from the count of the first channel's sums */
            int Ho;
            if (k < 3) Ho = hp->clip_image_size / 2;
            else {
                const vla__tcb *bb = &t->cb[(k - 3) / 4];
                Ho = (k - 3) % 4 < 2 ? bb->H : bb->Ho;
            }
            n = (double)n_images * Ho * Ho;
        }
        for (r = 0; r < cv->cout; r++) {
            double s1 = t->calib_s[r] / n, s2 = t->calib_s[cv->cout + r] / n, s3 = t->calib_s[2 * cv->cout + r] / n;
            double mean = s1, var = s2 - mean * mean, m3 = s3 - 3.0 * mean * s2 + 2.0 * mean * mean * mean;
            double sd = var > 1e-12 ? VLA_SQRT(var) : 1.0;
            /* the channel's rare large values (an object on a plain
             * background) point upwards, so its ReLU passes them: a
             * channel whose third central moment is negative is negated */
            double f = (m3 < 0 ? -1.0 : 1.0) / sd;
            for (c = 0; c < K; c++) w[(size_t)r * K + c] = (float)(w[(size_t)r * K + c] * f);
            b[r] = (float)((b[r] - mean) * f);
        }
    }
    VLA_MEMSET(t->dgrid, 0, avail);
    return VLA_OK;
}

VLA_DEF vla_status vla_trainer_apply(vla_trainer *t, float *lr_used, float *grad_norm) {
    double lr, ss = 0.0;
    float total, coef = 1.0f, b1, b2, eps;
    int i;
    size_t k;
    if (!t) return VLA_ERR_ARGS;
    lr = vla__lr_at(&t->p, t->step);
    b1 = t->p.beta1; b2 = t->p.beta2; eps = t->p.eps;
    /* clip_grad_norm_: the norm of the per-tensor norms, over tensors with a gradient */
    for (i = 0; i < t->n_tp; i++) {
        double s = 0.0;
        float nrm;
        if (!t->tp[i].used) continue;
        for (k = 0; k < t->tp[i].n; k++) s += (double)t->tp[i].g[k] * (double)t->tp[i].g[k];
        nrm = (float)VLA_SQRT(s);
        ss += (double)nrm * (double)nrm;
    }
    total = (float)VLA_SQRT(ss);
    if (t->p.clip_norm > 0.0f) {
        coef = t->p.clip_norm / (total + 1e-6f);
        if (coef > 1.0f) coef = 1.0f;
    }
    for (i = 0; i < t->n_tp; i++) {
        vla__tp *p = &t->tp[i];
        double bc1, bc2, lr_p = lr;
        float step_size, dec, c1 = (float)(1.0 - (double)b1), c2 = (float)(1.0 - (double)b2);
        if (!p->used) continue;
        if (p->cls == VLA__C_CLIP && t->p.clip_lr_scale > 0.0f) lr_p = lr * (double)t->p.clip_lr_scale;
        dec = (float)(-lr_p * (double)t->p.weight_decay);
        p->nstep++;
        bc1 = 1.0 - VLA_POW((double)b1, (double)p->nstep);
        bc2 = 1.0 - VLA_POW((double)b2, (double)p->nstep);
        step_size = (float)(-(lr_p * VLA_SQRT(bc2) / bc1));
        for (k = 0; k < p->n; k++) {
            float g = p->g[k] * coef, denom;
            p->g[k] = g;
            p->m[k] = p->m[k] * b1 + g * c1;
            p->v[k] = p->v[k] * b2 + (c2 * g) * g;
            denom = VLA_SQRTF(p->v[k]) + eps;
            p->w[k] = p->w[k] + step_size * p->m[k] / denom;
            if (p->decay && t->p.weight_decay > 0.0f) p->w[k] = p->w[k] + dec * p->w[k];
        }
    }
    t->step++;
    if (lr_used) *lr_used = (float)lr;
    if (grad_norm) *grad_norm = total;
    return VLA_OK;
}

VLA_DEF vla_status vla_trainer_step(vla_trainer *t, const vla_train_batch *b, float *loss, float *lr_used) {
    vla_status st = vla_trainer_backward(t, b, loss);
    if (st != VLA_OK) return st;
    return vla_trainer_apply(t, lr_used, NULL);
}

VLA_DEF int vla_trainer_n_tensors(const vla_trainer *t) { return t ? t->n_tp : 0; }
VLA_DEF size_t vla_trainer_n_params(const vla_trainer *t) { return t ? t->n_params : 0; }
VLA_DEF vla_arena_stats vla_trainer_stats(const vla_trainer *t) { return vla_arena_get_stats(&t->arena); }
VLA_DEF uint64_t *vla_trainer_cursor(vla_trainer *t) { return t ? t->cursor : NULL; }

VLA_DEF vla_status vla_trainer_tensor(const vla_trainer *t, int i, vla_train_tensor *out) {
    const vla__tp *p;
    int d;
    if (!t || !out || i < 0 || i >= t->n_tp) return VLA_ERR_ARGS;
    p = &t->tp[i];
    out->name = p->name; out->official = p->official;
    out->n_dims = p->n_dims;
    for (d = 0; d < VLA_MAX_DIMS; d++) out->ne[d] = p->ne[d];
    out->n = p->n;
    out->value = p->w; out->grad = p->g; out->m = p->m; out->v = p->v;
    out->decay = p->decay; out->has_grad = p->used;
    return VLA_OK;
}

/* ---- files: the trained result and the resumable state ---- */

static const vla__tp *vla__tp_named(const vla_trainer *t, vla_str name) {
    int i;
    for (i = 0; i < t->n_tp; i++)
        if (vla__str_eq(name, t->tp[i].name, VLA_STRLEN(t->tp[i].name))) return &t->tp[i];
    return NULL;
}

static uint64_t vla__pad_to(uint64_t n, uint64_t al) { return (n + al - 1) / al * al; }

/* One output tensor of vla_trainer_save: i < n_src walks the source file,
 * the rest are trained base tensors the adapter file did not have. */
static int vla__save_item(const vla_trainer *t, const vla_gguf *src, uint64_t i, vla_tensor *x) {
    const vla__tp *p;
    if (i < src->n_tensors) {
        if (vla__gguf_tensor_at(src, i, x) != VLA_OK) return 0;
        if ((p = vla__tp_named(t, x->name)) != NULL) { x->type = VLA_TYPE_F32; x->data = p->w; x->nbytes = p->n * 4; }
        return 1;
    } else {
        uint64_t k = i - src->n_tensors;
        int j;
        vla_tensor probe;
        for (j = 0; j < t->n_tp; j++) {
            const vla__tp *q = &t->tp[j];
            int d;
            if (!q->cls || vla_gguf_get_tensor(src, q->name, &probe) == VLA_OK) continue;
            if (k-- > 0) continue;
            x->name.s = q->name; x->name.n = VLA_STRLEN(q->name);
            x->type = VLA_TYPE_F32; x->n_dims = q->n_dims;
            for (d = 0; d < VLA_MAX_DIMS; d++) x->ne[d] = q->ne[d];
            x->data = q->w; x->nbytes = q->n * 4;
            return 1;
        }
        return 0;
    }
}

/* FNV-1a over n bytes, 8 at a time (the tail byte by byte). */
static uint64_t vla__fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = (const unsigned char *)p;
    size_t i;
    for (i = 0; i + 8 <= n; i += 8) { h ^= vla__rd64(b + i); h *= 1099511628211ull; }
    for (; i < n; i++) { h ^= b[i]; h *= 1099511628211ull; }
    return h;
}

VLA_DEF vla_status vla_trainer_save(const vla_trainer *t, vla_write_fn fn, void *user) {
    const vla_gguf *src;
    vla__wbuf b;
    uint64_t n_out, i, hdr, off, al;
    vla_tensor x, probe;
    vla_gguf_kv fp;
    size_t kv0, kv1;
    uint64_t fp_new = 0; /* the fingerprint key's new value, when patch */
    int j, patch = 0;
    if (!t || !fn) return VLA_ERR_ARGS;
    src = t->has_ad ? &t->ag : &t->m->gguf;
    al = src->alignment;
    n_out = src->n_tensors;
    if (t->has_ad)
        for (j = 0; j < t->n_tp; j++)
            if (t->tp[j].cls && vla_gguf_get_tensor(src, t->tp[j].name, &probe) != VLA_OK) n_out++;
    kv0 = src->kv_offset; kv1 = src->tinfo_offset;
    /* a whole model that trained is another model: a new fingerprint, from the
     * old one and every trained value (never 0: "none"); an adapter binds to
     * the base it trained on (another one than its file's after rebind) */
    if (!t->has_ad && vla_gguf_get_kv(src, "vladapter.fingerprint", &fp) == VLA_OK && fp.type == VLA_GGUF_U64) {
        patch = 1;
        fp_new = vla__rd64(fp.val) ^ 0x7472616696e6564ull;
        for (j = 0; j < t->n_tp; j++) fp_new = vla__fnv(fp_new, t->tp[j].w, t->tp[j].n * 4);
        if (!fp_new) fp_new = 1;
    }
    if (t->has_ad && vla_gguf_get_kv(src, "vladapter.adapter.base_fingerprint", &fp) == VLA_OK && fp.type == VLA_GGUF_U64) {
        patch = 1;
        fp_new = vla_model_fingerprint(t->m);
    }
    hdr = 24 + (uint64_t)(kv1 - kv0);
    for (i = 0; i < n_out; i++) {
        if (!vla__save_item(t, src, i, &x)) return VLA_ERR_STATE;
        hdr += 8 + x.name.n + 4 + 8 * (uint64_t)x.n_dims + 4 + 8;
    }
    b.fn = fn; b.user = user; b.n = 0; b.st = VLA_OK;
    vla__wbytes(&b, "GGUF", 4);
    vla__wu32(&b, 3);
    vla__wu64(&b, n_out);
    vla__wu64(&b, src->n_kv);
    if (patch) {
        const size_t at = (size_t)(fp.val - src->data);
        vla__wbytes(&b, src->data + kv0, at - kv0);
        vla__wu64(&b, fp_new);
        vla__wbytes(&b, src->data + at + 8, kv1 - at - 8);
    } else vla__wbytes(&b, src->data + kv0, kv1 - kv0);
    off = 0;
    for (i = 0; i < n_out; i++) {
        int d;
        vla__save_item(t, src, i, &x);
        vla__wstr(&b, x.name.s, x.name.n);
        vla__wu32(&b, (uint32_t)x.n_dims);
        for (d = 0; d < x.n_dims; d++) vla__wu64(&b, (uint64_t)x.ne[d]);
        vla__wu32(&b, (uint32_t)x.type);
        vla__wu64(&b, off);
        off += vla__pad_to(x.nbytes, al);
    }
    vla__wpad(&b, vla__pad_to(hdr, al) - hdr);
    for (i = 0; i < n_out; i++) {
        vla__save_item(t, src, i, &x);
        vla__wbytes(&b, x.data, (size_t)x.nbytes);
        vla__wpad(&b, vla__pad_to(x.nbytes, al) - x.nbytes);
    }
    vla__wflush(&b);
    return b.st;
}

/* State file: a GGUF with the step, generator seed, cursor and each tensor's
 * AdamW step count as keys, and "<name>", "m.<name>", "v.<name>" tensors;
 * vladapter.train.identity binds it to the model, the adapter file's header
 * and what trains; vladapter.train.checksum (FNV-1a over the step, the
 * cursor, the step counts, then each tensor's value, m and v in file order)
 * covers every value it restores. */
#define VLA__STATE_TYPE "vladapter.train_state"

static uint64_t vla__trainer_identity(const vla_trainer *t) {
    uint64_t h = 14695981039346656037ull, f = vla_model_fingerprint(t->m);
    int flags[4], i;
    h = vla__fnv(h, &f, 8);
    if (t->has_ad) h = vla__fnv(h, t->ag.data, t->ag.tinfo_offset); /* the adapter file's keys: method, tasks, base */
    flags[0] = t->p.train_visual; flags[1] = t->p.train_layer_norms; flags[2] = t->p.train_biases; flags[3] = t->p.full_finetune;
    h = vla__fnv(h, flags, sizeof flags);
    for (i = 0; i < t->n_tp; i++) h = vla__fnv(h, t->tp[i].name, VLA_STRLEN(t->tp[i].name));
    return h;
}


static void vla__wkey(vla__wbuf *b, const char *key, vla_gguf_vtype type) {
    vla__wstr(b, key, VLA_STRLEN(key));
    vla__wu32(b, (uint32_t)type);
}

VLA_DEF vla_status vla_trainer_save_state(const vla_trainer *t, vla_write_fn fn, void *user) {
    vla__wbuf b;
    uint64_t hdr, off = 0;
    int i, k;
    static const char *pre[3] = {"", "m.", "v."};
    uint64_t sum = 14695981039346656037ull, st64 = (uint64_t)t->step, ident;
    if (!t || !fn) return VLA_ERR_ARGS;
    ident = vla__trainer_identity(t);
    {   /* the checksum, in the order vla__state_sum reads a file */
        sum = vla__fnv(sum, &st64, 8);
        for (k = 0; k < 4; k++) sum = vla__fnv(sum, &t->cursor[k], 8);
        for (i = 0; i < t->n_tp; i++) { uint64_t ns = (uint64_t)t->tp[i].nstep; unsigned char le[8]; int q; for (q = 0; q < 8; q++) le[q] = (unsigned char)(ns >> (8 * q)); sum = vla__fnv(sum, le, 8); }
        for (i = 0; i < t->n_tp; i++) {
            sum = vla__fnv(sum, t->tp[i].w, t->tp[i].n * 4);
            sum = vla__fnv(sum, t->tp[i].m, t->tp[i].n * 4);
            sum = vla__fnv(sum, t->tp[i].v, t->tp[i].n * 4);
        }
    }
    b.fn = fn; b.user = user; b.n = 0; b.st = VLA_OK;
    hdr = 24 + (8 + 12 + 4 + 8 + VLA_STRLEN(VLA__STATE_TYPE)) + (8 + 20 + 4 + 8) + (8 + 20 + 4 + 8) + (8 + 22 + 4 + 12 + 32) +
          (8 + 21 + 4 + 12 + 8 * (uint64_t)t->n_tp) + (8 + 24 + 4 + 8) + (8 + 24 + 4 + 8);
    for (i = 0; i < t->n_tp; i++)
        for (k = 0; k < 3; k++) hdr += 8 + VLA_STRLEN(pre[k]) + VLA_STRLEN(t->tp[i].name) + 4 + 8 * (uint64_t)t->tp[i].n_dims + 4 + 8;
    vla__wbytes(&b, "GGUF", 4);
    vla__wu32(&b, 3);
    vla__wu64(&b, (uint64_t)t->n_tp * 3);
    vla__wu64(&b, 7);
    vla__wkey(&b, "general.type", VLA_GGUF_STRING); vla__wstr(&b, VLA__STATE_TYPE, VLA_STRLEN(VLA__STATE_TYPE));
    vla__wkey(&b, "vladapter.train.step", VLA_GGUF_U64); vla__wu64(&b, (uint64_t)t->step);
    vla__wkey(&b, "vladapter.train.seed", VLA_GGUF_U64); vla__wu64(&b, t->p.seed);
    vla__wkey(&b, "vladapter.train.cursor", VLA_GGUF_ARRAY); vla__wu32(&b, VLA_GGUF_U64); vla__wu64(&b, 4);
    for (k = 0; k < 4; k++) vla__wu64(&b, t->cursor[k]);
    vla__wkey(&b, "vladapter.train.nstep", VLA_GGUF_ARRAY); vla__wu32(&b, VLA_GGUF_U64); vla__wu64(&b, (uint64_t)t->n_tp);
    for (i = 0; i < t->n_tp; i++) vla__wu64(&b, (uint64_t)t->tp[i].nstep);
    vla__wkey(&b, "vladapter.train.identity", VLA_GGUF_U64); vla__wu64(&b, ident);
    vla__wkey(&b, "vladapter.train.checksum", VLA_GGUF_U64); vla__wu64(&b, sum);
    for (i = 0; i < t->n_tp; i++)
        for (k = 0; k < 3; k++) {
            const vla__tp *p = &t->tp[i];
            int d;
            size_t pl = VLA_STRLEN(pre[k]), nl = VLA_STRLEN(p->name);
            vla__wu64(&b, pl + nl);
            vla__wbytes(&b, pre[k], pl);
            vla__wbytes(&b, p->name, nl);
            vla__wu32(&b, (uint32_t)p->n_dims);
            for (d = 0; d < p->n_dims; d++) vla__wu64(&b, (uint64_t)p->ne[d]);
            vla__wu32(&b, VLA_TYPE_F32);
            vla__wu64(&b, off);
            off += vla__pad_to(p->n * 4, 32);
        }
    vla__wpad(&b, vla__pad_to(hdr, 32) - hdr);
    for (i = 0; i < t->n_tp; i++)
        for (k = 0; k < 3; k++) {
            const vla__tp *p = &t->tp[i];
            vla__wbytes(&b, k == 0 ? p->w : k == 1 ? p->m : p->v, p->n * 4);
            vla__wpad(&b, vla__pad_to(p->n * 4, 32) - p->n * 4);
        }
    vla__wflush(&b);
    return b.st;
}

VLA_DEF vla_status vla_trainer_load_state(vla_trainer *t, const void *data, size_t size) {
    vla_arena a;
    vla_gguf g;
    vla_gguf_kv kv;
    vla_str sv;
    vla__cur c;
    vla_status st;
    uint64_t step, seed, i, sum, h, cur[4];
    int k;
    static const char *pre[3] = {"", "m.", "v."};
    if (!t || !data) return VLA_ERR_ARGS;
    vla_arena_init_measure(&a); /* validates every offset and length; keeps no tables */
    if ((st = vla_gguf_open(&g, data, size, &a)) != VLA_OK) return st;
    if (vla_gguf_get_str(&g, "general.type", &sv) != VLA_OK || !vla__str_eq(sv, VLA__STATE_TYPE, VLA_STRLEN(VLA__STATE_TYPE))) {
        vla__log(&t->log, VLA_LOG_ERROR, "trainer state: not a trainer state file", 0, 0, 0);
        return VLA_ERR_FORMAT;
    }
    if (g.n_tensors != (uint64_t)t->n_tp * 3 || vla_gguf_get_kv(&g, "vladapter.train.step", &kv) != VLA_OK || kv.type != VLA_GGUF_U64)
        goto mismatch;
    step = vla__rd64(kv.val);
    if (vla_gguf_get_kv(&g, "vladapter.train.seed", &kv) != VLA_OK || kv.type != VLA_GGUF_U64) goto mismatch;
    seed = vla__rd64(kv.val);
    if (seed != t->p.seed) goto mismatch;
    if (vla_gguf_get_kv(&g, "vladapter.train.identity", &kv) != VLA_OK || kv.type != VLA_GGUF_U64 ||
        vla__rd64(kv.val) != vla__trainer_identity(t))
        goto mismatch;
    if (vla_gguf_get_kv(&g, "vladapter.train.checksum", &kv) != VLA_OK || kv.type != VLA_GGUF_U64) return VLA_ERR_FORMAT;
    sum = vla__rd64(kv.val);
    if (vla_gguf_get_kv(&g, "vladapter.train.cursor", &kv) != VLA_OK || kv.type != VLA_GGUF_ARRAY || kv.arr_type != VLA_GGUF_U64 ||
        kv.arr_n != 4)
        return VLA_ERR_FORMAT;
    for (k = 0; k < 4; k++) cur[k] = vla__rd64(kv.val + 8 * k);
    if (vla_gguf_get_kv(&g, "vladapter.train.nstep", &kv) != VLA_OK || kv.type != VLA_GGUF_ARRAY || kv.arr_type != VLA_GGUF_U64 ||
        kv.arr_n != (uint64_t)t->n_tp)
        goto mismatch;
    /* check every tensor's name, shape and the checksum before changing anything */
    h = 14695981039346656037ull;
    h = vla__fnv(h, &step, 8);
    for (k = 0; k < 4; k++) h = vla__fnv(h, &cur[k], 8);
    h = vla__fnv(h, kv.val, 8 * (size_t)t->n_tp);
    for (k = 0; k < 2; k++) {
        c.p = g.data; c.pos = g.tinfo_offset; c.size = g.size; c.bad = 0;
        for (i = 0; i < g.n_tensors; i++) {
            vla_tensor x;
            vla__tp *p = &t->tp[i / 3];
            const char *pf = pre[i % 3];
            size_t pl = VLA_STRLEN(pf), nl = VLA_STRLEN(p->name);
            int d;
            if (vla__gguf_read_tinfo(&c, g.alignment, &x) != VLA_OK) return VLA_ERR_FORMAT;
            if (x.type != VLA_TYPE_F32 || x.name.n != pl + nl || VLA_MEMCMP(x.name.s, pf, pl) || VLA_MEMCMP(x.name.s + pl, p->name, nl) ||
                x.n_dims != p->n_dims || x.nbytes != p->n * 4)
                goto mismatch;
            for (d = 0; d < x.n_dims; d++) if (x.ne[d] != p->ne[d]) goto mismatch;
            if (k == 0) h = vla__fnv(h, g.data + g.blob_offset + (size_t)(uintptr_t)x.data, p->n * 4);
            else VLA_MEMCPY(i % 3 == 0 ? p->w : i % 3 == 1 ? p->m : p->v, g.data + g.blob_offset + (size_t)(uintptr_t)x.data, p->n * 4);
        }
        if (k == 0 && h != sum) {
            vla__log(&t->log, VLA_LOG_ERROR, "trainer state: the file is corrupt (checksum)", 0, 0, 0);
            return VLA_ERR_FORMAT;
        }
    }
    for (i = 0; i < (uint64_t)t->n_tp; i++) t->tp[i].nstep = (long)vla__rd64(kv.val + 8 * i);
    for (k = 0; k < 4; k++) t->cursor[k] = cur[k];
    t->step = (long)step;
    return VLA_OK;
mismatch:
    vla__log(&t->log, VLA_LOG_ERROR, "trainer state: written for another model, adapter file or seed", 0, 0, 0);
    return VLA_ERR_MISMATCH;
}

/* ==========================================================================
 * [I15] Task level: sizing, the caption / answer / verify chains
 *
 * Each call is the low-level chain an application would write, run inside
 * the context:  pictures -> c->clip_feats (one [S, S, 3] input at a time in
 * scratch), prefix + text -> c->task_in (text and tokenizer scratch
 * released before anything else runs), vla_encode on the features,
 * vla_generate into c->task_out, vla_detokenize into the caller's buffer.
 * ========================================================================== */

#define VLA__CAPTION_MAX_IDS 40 /* caption loader: encoder text truncation     */
#define VLA__ANSWER_MAX_IDS 20  /* VQA / GQA loaders: question truncation      */

static int vla__task_on(const vla_ctx_params *p) { return p->max_picture_w > 0 || p->max_input_bytes > 0; }

/* The text phase: the prefix + question bytes and the tokenizer's scratch
 * (at least enough to tokenize "false" for vla_verify). */
static int vla__task_text_phase(vla_arena *a, int max_bytes) {
    size_t n = (size_t)(max_bytes > 8 ? max_bytes : 8);
    return vla_arena_scratch(a, n + 1) && vla_arena_scratch(a, vla_tokenize_scratch_size(n));
}

/* Resize scratch for any picture up to max_picture_w x max_picture_h: the
 * need grows with each input side, and sides above S need both filter
 * passes, so the largest sides (at least S + 1) bound every smaller picture. */
static size_t vla__task_resize_need(const vla_ctx *c) {
    int S = c->m->hp.clip_image_size, w = c->p.max_picture_w, h = c->p.max_picture_h;
    if (w <= S) w = S + 1 <= VLA_MAX_IMAGE_DIM ? S + 1 : VLA_MAX_IMAGE_DIM;
    if (h <= S) h = S + 1 <= VLA_MAX_IMAGE_DIM ? S + 1 : VLA_MAX_IMAGE_DIM;
    return vla_clip_preprocess_scratch_size(w, h, S);
}

/* The picture phase below the trunk: one CLIP input [S, S, 3], and during
 * preprocessing the resize's scratch (released before the trunk runs). */
static int vla__task_picture_phase(vla_arena *a, const vla_ctx *c) {
    size_t S = (size_t)c->m->hp.clip_image_size, mark;
    if (!vla_arena_scratch(a, S * S * 3 * 4)) return 0;
    mark = vla_arena_scratch_mark(a);
    if (!vla_arena_scratch(a, vla__task_resize_need(c))) return 0;
    vla_arena_scratch_release(a, mark);
    return 1;
}

VLA_DEF vla_status vla_task_ctx_params(vla_ctx_params *p, const vla_model *m, const vla_task_sizes *s,
                                       const vla_adapter *const *adapters, int n_adapters) {
    const vla_hparams *hp;
    int pics, P = 0, Q, beams = 5, len = 20, prompt = 0, dim = 0, i, t, Lt, Lmax;
    if (!p || !m || !s || n_adapters < 0 || (n_adapters > 0 && !adapters)) return VLA_ERR_ARGS;
    VLA_MEMSET(p, 0, sizeof *p);
    hp = &m->hp;
    len = hp->max_length; /* the model file's decoding length (20 when it has none) */
    pics = s->max_pictures ? s->max_pictures : 1;
    Q = s->max_question_bytes;
    if (pics < 1 || pics > 2 || Q < 0 || s->max_picture_w < 1 || s->max_picture_h < 1 || s->max_beams < 0 || s->max_length < 0)
        return VLA_ERR_ARGS;
    if (s->max_picture_w > VLA_MAX_IMAGE_DIM || s->max_picture_h > VLA_MAX_IMAGE_DIM || Q > (1 << 20) - 256) return VLA_ERR_RANGE;
    if (!hp->has_clip || !hp->has_visual || !hp->has_bart || !m->tok) return VLA_ERR_UNSUPPORTED;
    if (pics > hp->n_images) return VLA_ERR_UNSUPPORTED;
    for (i = 0; i < n_adapters; i++) { /* what the adapter sets' tasks need */
        const vla_adapter *a = adapters[i];
        if (!a || !a->attached) return VLA_ERR_ARGS;
        if (vla_adapter_prompt_len(a) > prompt) prompt = vla_adapter_prompt_len(a);
        if (vla_adapter_max_dim(a) > dim) dim = vla_adapter_max_dim(a);
        for (t = 0; t < a->n_tasks; t++) {
            const vla__task *T = &a->tasks[t];
            if ((int)T->prefix.n > P) P = (int)T->prefix.n;
            if (T->has_preset && T->preset.num_beams > beams) beams = T->preset.num_beams;
            if (T->has_preset && T->preset.max_length > len) len = T->preset.max_length;
        }
    }
    if (P > 255) return VLA_ERR_RANGE;
    if (s->max_beams > 0) beams = s->max_beams;
    if (s->max_length > 0) len = s->max_length;
    /* encoder ids: a token is at least one byte, plus <s> and </s> */
    Lt = P + 2 < VLA__CAPTION_MAX_IDS ? P + 2 : VLA__CAPTION_MAX_IDS;
    if (Q > 0) {
        int qa = P + Q + 2 < VLA__ANSWER_MAX_IDS ? P + Q + 2 : VLA__ANSWER_MAX_IDS;
        if (qa > Lt) Lt = qa;
        if (pics == 2 && P + Q + 2 > Lt) Lt = P + Q + 2; /* statements are not truncated */
    }
    Lmax = hp->n_positions - 2;
    if (Lt > Lmax) Lt = Lmax;
    if (Lt < 1) return VLA_ERR_RANGE;
    p->max_batch = 1;
    p->max_text_len = Lt;
    p->max_images = pics;
    p->max_dec_len = len;
    p->max_beams = beams;
    p->use_clip = 1;
    p->max_prompt_len = prompt;
    p->max_adapter_dim = dim;
    p->max_picture_w = s->max_picture_w;
    p->max_picture_h = s->max_picture_h;
    p->max_input_bytes = P + Q;
    return VLA_OK;
}

VLA_DEF const int32_t *vla_task_ids(const vla_ctx *c, int which, int *n) {
    int k = !c ? 0 : which == 0 ? c->n_task_in : which == 1 ? c->n_task_out : 0;
    if (n) *n = k;
    if (!k) return NULL;
    return which == 0 ? c->task_in : c->task_out;
}

/* The chain's common start: checks, the selected task's prefix, the text
 * tokenized into c->task_in (max_ids: the task's truncation, 0 none). */
static vla_status vla__task_text(vla_ctx *c, const char *what, const char *text, int max_ids) {
    const vla_tokenizer *tok = c->m->tok;
    const vla__task *T = vla__T(c);
    vla_str pre;
    size_t n = text ? VLA_STRLEN(text) : 0, mark;
    long long a, b;
    char *buf;
    int got = 0, i;
    vla_status st;
    c->n_task_in = c->n_task_out = 0;
    if (!vla__task_on(&c->p) || c->p.max_picture_w < 1) {
        vla__log(&c->p.log, VLA_LOG_ERROR, "%s: the context was not sized for task-level calls (vla_task_ctx_params)", what, 0, 0);
        return VLA_ERR_STATE;
    }
    if (!tok) {
        vla__log(&c->p.log, VLA_LOG_ERROR, "%s: the model file has no tokenizer", what, 0, 0);
        return VLA_ERR_UNSUPPORTED;
    }
    pre.s = ""; pre.n = 0;
    if (T) pre = T->prefix;
    if (pre.n + n > (size_t)c->p.max_input_bytes) {
        a = (long long)(pre.n + n); b = c->p.max_input_bytes;
        vla__log(&c->p.log, VLA_LOG_ERROR, "text of %d bytes (task prefix included) is longer than the context's max_input_bytes %d",
                 &a, &b, 0);
        return VLA_ERR_RANGE;
    }
    mark = vla_arena_scratch_mark(&c->arena);
    buf = (char *)vla_arena_scratch(&c->arena, pre.n + n + 1);
    if (!buf) return VLA_ERR_NOMEM;
    if (pre.n) VLA_MEMCPY(buf, pre.s, pre.n);
    if (n) VLA_MEMCPY(buf + pre.n, text, n);
    st = vla_tokenize(tok, &c->arena, buf, pre.n + n, 1, 1, max_ids, c->task_in, c->p.max_text_len, &got);
    vla_arena_scratch_release(&c->arena, mark);
    if (st == VLA_ERR_NOMEM && got > c->p.max_text_len) {
        a = got; b = c->p.max_text_len;
        vla__log(&c->p.log, VLA_LOG_ERROR, "the text has %d ids, more than the context's max_text_len %d", &a, &b, 0);
        return VLA_ERR_RANGE;
    }
    if (st != VLA_OK) return st;
    for (i = 0; i < got; i++)
        if (c->task_in[i] >= c->m->hp.vocab) {
            vla__log(&c->p.log, VLA_LOG_ERROR, "the text has a token outside the model's vocabulary", 0, 0, 0);
            return VLA_ERR_RANGE;
        }
    c->n_task_in = got;
    return VLA_OK;
}

/* Pictures -> c->clip_feats (official preprocessing, the trunk), then the
 * encoder on c->task_in and those features. */
static vla_status vla__task_encode(vla_ctx *c, const vla_image *const *pics, int n_pics) {
    const vla_hparams *hp = &c->m->hp;
    int S = hp->clip_image_size, i, gh = 0, gw = 0, ch = 0;
    size_t per = (size_t)(S / 32) * (size_t)(S / 32) * (size_t)hp->clip_out_ch, mark;
    vla_input in;
    vla_status st = VLA_OK;
    if (n_pics > c->p.max_images) {
        long long a = n_pics, b = c->p.max_images;
        vla__log(&c->p.log, VLA_LOG_ERROR, "%d pictures per request, the context holds %d (vla_task_sizes.max_pictures)", &a, &b, 0);
        return VLA_ERR_RANGE;
    }
    for (i = 0; i < n_pics; i++) {
        const vla_image *im = pics[i];
        long long a[4];
        if (!im || !im->data) return VLA_ERR_ARGS;
        if (im->width > c->p.max_picture_w || im->height > c->p.max_picture_h) {
            a[0] = im->width; a[1] = im->height; a[2] = c->p.max_picture_w;
            vla__log(&c->p.log, VLA_LOG_ERROR, "a picture of %dx%d pixels is larger than the context's max_picture_w/h (width %d)",
                     &a[0], &a[1], &a[2]);
            return VLA_ERR_RANGE;
        }
    }
    for (i = 0; i < n_pics && st == VLA_OK; i++) {
        float *x;
        mark = vla_arena_scratch_mark(&c->arena);
        x = (float *)vla_arena_scratch(&c->arena, (size_t)S * S * 3 * 4);                    /* [S, S, 3] */
        if (!x) return VLA_ERR_NOMEM;
        st = vla_clip_preprocess(&c->arena, x, S, VLA_LAYOUT_HWC, pics[i]);
        if (st == VLA_OK) st = vla_clip_run(c, x, 4, c->clip_feats + (size_t)i * per, &gh, &gw, &ch); /* [S/32 * S/32, C] */
        vla_arena_scratch_release(&c->arena, mark);
    }
    if (st != VLA_OK) return st;
    VLA_MEMSET(&in, 0, sizeof in);
    in.batch = 1;
    in.text_len = c->n_task_in;
    in.ids = c->task_in;
    in.n_images = n_pics;
    in.grid_h = gh; in.grid_w = gw;
    in.feats = c->clip_feats;
    return vla_encode(c, &in);
}

VLA_DEF vla_gen_params vla_task_preset(const vla_ctx *c, vla_task_kind kind) {
    const vla__task *T = vla__T(c);
    vla_gen_params q;
    if (T && T->has_preset) return T->preset;
    /* the official settings: captions 5 beams, answers greedy; max_length the
     * model file's vladapter.gen.max_length (20 when it has none, as the official) */
    q = vla_gen_defaults(c->m);
    q.num_beams = kind == VLA_TASK_CAPTION ? 5 : 1;
    return q;
}

/* Generation with the task's preset (or g) into c->task_out, then the text. */
static vla_status vla__task_generate(vla_ctx *c, int caption, const vla_gen_params *g, char *text, size_t cap, size_t *len) {
    vla_gen_params q = g ? *g : vla_task_preset(c, caption ? VLA_TASK_CAPTION : VLA_TASK_ANSWER);
    size_t n = 0;
    vla_status st;
    if (q.num_beams > c->p.max_beams || q.max_length > c->p.max_dec_len) {
        long long a = q.num_beams, b = q.max_length, d = c->p.max_beams;
        vla__log(&c->p.log, VLA_LOG_ERROR, "decoding with %d beams up to length %d does not fit the context (max_beams %d, or max_dec_len)",
                 &a, &b, &d);
        return VLA_ERR_RANGE;
    }
    st = vla_generate(c, &q, c->task_out, &c->n_task_out, NULL);
    if (st != VLA_OK) { c->n_task_out = 0; return st; }
    st = vla_detokenize(c->m->tok, c->task_out, c->n_task_out, 1, 1, text, cap, &n);
    if (len) *len = n;
    return st;
}

VLA_DEF vla_status vla_caption(vla_ctx *c, const vla_image *picture, const vla_gen_params *g, char *text, size_t cap,
                               size_t *len) {
    vla_status st;
    if (len) *len = 0;
    if (!c || !picture || (!text && cap)) return VLA_ERR_ARGS;
    if ((st = vla__task_text(c, "vla_caption", "", VLA__CAPTION_MAX_IDS)) != VLA_OK) return st;
    if ((st = vla__task_encode(c, &picture, 1)) != VLA_OK) return st;
    return vla__task_generate(c, 1, g, text, cap, len);
}

VLA_DEF vla_status vla_answer(vla_ctx *c, const vla_image *picture, const char *question, const vla_gen_params *g,
                              char *text, size_t cap, size_t *len) {
    vla_status st;
    if (len) *len = 0;
    if (!c || !picture || !question || (!text && cap)) return VLA_ERR_ARGS;
    if ((st = vla__task_text(c, "vla_answer", question, VLA__ANSWER_MAX_IDS)) != VLA_OK) return st;
    if ((st = vla__task_encode(c, &picture, 1)) != VLA_OK) return st;
    return vla__task_generate(c, 0, g, text, cap, len);
}

/* First id of tokenize(word) without special tokens (the official way to
 * name the answer tokens); -1 if none or outside the model's vocabulary. */
static int32_t vla__task_word_id(vla_ctx *c, const char *word) {
    int32_t ids[8];
    int n = 0;
    size_t mark = vla_arena_scratch_mark(&c->arena);
    vla_status st = vla_tokenize(c->m->tok, &c->arena, word, VLA_STRLEN(word), 0, 1, 0, ids, 8, &n);
    vla_arena_scratch_release(&c->arena, mark);
    if ((st != VLA_OK && st != VLA_ERR_NOMEM) || n < 1 || ids[0] >= c->m->hp.vocab) return -1;
    return ids[0];
}

VLA_DEF vla_status vla_verify_encoded(vla_ctx *c, vla_verdict *out) {
    vla__dec_bufs e;
    int32_t tid, fid;
    size_t mark, V;
    int b;
    vla_status st;
    if (!c || !out) return VLA_ERR_ARGS;
    if (c->encoded != 1) {
        vla__log(&c->p.log, VLA_LOG_ERROR, "vla_verify_encoded needs an encoder output: call vla_encode first", 0, 0, 0);
        return VLA_ERR_STATE;
    }
    if (!c->m->tok) {
        vla__log(&c->p.log, VLA_LOG_ERROR, "vla_verify: the model file has no tokenizer", 0, 0, 0);
        return VLA_ERR_UNSUPPORTED;
    }
    tid = vla__task_word_id(c, "true");
    fid = vla__task_word_id(c, "false");
    if (tid < 0 || fid < 0) {
        vla__log(&c->p.log, VLA_LOG_ERROR, "vla_verify: the ids of \"true\" / \"false\" are outside the model's vocabulary", 0, 0, 0);
        return VLA_ERR_RANGE;
    }
    /* decoder input [</s>, <s>] for every example; the logits at position 1 decide */
    V = (size_t)c->m->hp.vocab;
    mark = vla_arena_scratch_mark(&c->arena);
    if (!vla__dec_bufs_take(&c->arena, &c->m->hp, c->B, c->Tmax, c->adp_cap, &e)) return VLA_ERR_NOMEM;
    for (b = 0; b < c->B; b++) c->next_tok[b] = c->m->hp.dec_start_id;
    st = vla__dec_step(c, &e, c->next_tok, c->B, 1, 0);
    for (b = 0; b < c->B; b++) c->next_tok[b] = c->m->hp.bos_id;
    if (st == VLA_OK) st = vla__dec_step(c, &e, c->next_tok, c->B, 1, 1);
    vla_arena_scratch_release(&c->arena, mark);
    if (st != VLA_OK) return st;
    for (b = 0; b < c->B; b++) {
        out[b].true_logit = c->logits[(size_t)b * V + (size_t)tid];
        out[b].false_logit = c->logits[(size_t)b * V + (size_t)fid];
        out[b].is_true = out[b].true_logit > out[b].false_logit;
    }
    return VLA_OK;
}

VLA_DEF vla_status vla_verify(vla_ctx *c, const vla_image *left, const vla_image *right, const char *statement,
                              vla_verdict *out) {
    const vla_image *pics[2];
    vla_status st;
    if (!c || !left || !right || !statement || !out) return VLA_ERR_ARGS;
    VLA_MEMSET(out, 0, sizeof *out);
    if (c->m->hp.n_images < 2) {
        vla__log(&c->p.log, VLA_LOG_ERROR, "vla_verify: the model's visual embedding takes one picture per example", 0, 0, 0);
        return VLA_ERR_UNSUPPORTED;
    }
    if ((st = vla__task_text(c, "vla_verify", statement, 0)) != VLA_OK) return st;
    pics[0] = left; pics[1] = right;
    if ((st = vla__task_encode(c, pics, 2)) != VLA_OK) return st;
    return vla_verify_encoded(c, out);
}

#endif /* VLADAPTER_IMPLEMENTATION_DONE */
#endif /* VLADAPTER_IMPLEMENTATION */
