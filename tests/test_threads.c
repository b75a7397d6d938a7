/* test_threads.c - one model shared by several threads, each with its own
 * context ([M4]: "a model is read-only after init and may be shared by any
 * number of threads; each context, adapter slot and trainer must be used by
 * one thread at a time"), meant to run under ThreadSanitizer.
 *
 *   test_threads MODEL.gguf [-v]     (build/tiny_caption.gguf: the fixture
 *                                     CLIP trunk + VL-BART + tokenizer)
 *
 *  - three adapter files are made for the model (multiple adapters, single
 *    LoRA, multiple prompts; random weights, as tests/test_adapters.c does);
 *    their bytes are shared by every thread, and every thread attaches its
 *    own slots from them;
 *  - N_REQ requests, each: adapter set (or none) and task, a batch of two
 *    texts, pictures (8-bit RGB preprocessed by the thread, through the CLIP
 *    trunk) or ready grid features, greedy or 3-beam search; outputs: the
 *    encoder output, teacher-forced logits, the generated ids, the beam
 *    scores, the ids detokenized to text and a text tokenized to ids;
 *  - every request runs once on the main thread in a fresh context (the
 *    reference), then N_THREADS threads run all of them N_ROUNDS times, each
 *    in its own order with its own context and slots, switching adapter sets
 *    and tasks between requests; two of the threads give their context a
 *    vla_threadpool of 2 threads (examples/vla_threads.h) as its exec, so pool
 *    workers and request threads run at the same time (the test counts the
 *    parallel-fors that really went to 2 threads: there must be some);
 *  - every output must equal the reference bit for bit (the pool threads'
 *    too: the kernels split work without changing the summation order of an
 *    output, and this test holds the library to it for these shapes).
 *
 * Built with -fsanitize=thread it must report nothing (TSan makes the
 * process exit with status 66 on a report; TSAN_OPTIONS=halt_on_error=1 stops
 * at the first).  The last line is vla_check's "N passed, M failed".
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "test_util.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "../tools/vla_convert.h"
#define VLA_THREADS_IMPLEMENTATION
#include "../examples/vla_threads.h"
#include "board/vla_check.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define N_REQ 8
#define N_THREADS 4
#define N_ROUNDS 2
#define B 2        /* examples per request                    */
#define LT 7       /* text ids per example                    */
#define TDEC 4     /* teacher-forced decoder length           */
#define MAXLEN 9   /* generation max_length                   */
#define PW 40      /* the camera picture: PW x PH RGB          */
#define PH 30

static const char *const g_tasks[4] = {"vqa", "gqa", "nlvr", "caption"};
static const char *const g_methods[3] = {"multiple_adapters", "single_lora", "multiple_prompts"};

typedef struct blob { unsigned char *p; size_t n; } blob;

/* What one request produces. */
typedef struct result {
    vla_status st;             /* first failing call, or VLA_OK */
    int enc_len, width;
    float *enc;                /* [B, enc_len, d]               */
    float logits[B * TDEC * 300];
    int32_t ids[B * MAXLEN];
    float scores[B];
    char text[B][256];
    int32_t tok[64];
    int n_tok;
} result;

/* Everything a thread owns: its context, its slots, its scratch. */
typedef struct worker {
    int index, use_pool;
    const vla_model *m;
    const blob *ad_files;       /* shared, read-only */
    vla_adapter *ad[3];
    void *ad_mem[3];
    vla_threadpool pool;
    long jobs;                  /* parallel-fors of 2+ tasks the pool ran */
    vla_ctx *c;
    void *ctx_mem;
    unsigned char *scratch;     /* tokenizer / preprocessing scratch */
    size_t scratch_n;
    float *pix;                 /* [B, S, S, 3]                     */
    float *feats;               /* [B, 49, feat_dim]                */
    result *res;                /* [N_ROUNDS * N_REQ]               */
    int failed_setup;
} worker;

static blob adapter_file(const vla_model *m, const char *method, uint64_t seed) {
    vla_rand_peft p;
    vla_conv cv;
    blob b = {NULL, 0};
    memset(&p, 0, sizeof p);
    p.method = method; p.d_model = 32; p.enc_layers = 2; p.dec_layers = 2; p.reduction = 8; p.lora_r = 4;
    p.prompt_len = 6; p.prompt_mid = 24; p.hyper_task_dim = 16; p.hyper_hidden = 8; p.hyper_dp = 4; p.phm_k = 2; p.seed = seed;
    vla_conv_init(&cv);
    cv.quiet = 1;
    if (vla_conv_random_peft(&cv, &p) == 0) {
        cv.base_fingerprint = vla_model_fingerprint(m);
        if (vla_conv_write_mem(&cv, &b.p, &b.n) != 0) b.p = NULL;
    }
    vla_conv_free(&cv);
    return b;
}


static vla_ctx_params ctx_params(const vla_model *m) {
    vla_ctx_params p;
    (void)m;
    memset(&p, 0, sizeof p);
    p.max_batch = B; p.max_text_len = LT; p.max_images = 1; p.max_grid = 49; p.max_dec_len = MAXLEN > TDEC ? MAXLEN : TDEC;
    p.max_beams = 3; p.use_clip = 1; p.max_prompt_len = 6;
    p.exec.n_threads = 1;
    return p;
}

/* The request's camera picture of example b: a pattern from (r, b). */
static void picture(int r, int b, unsigned char *rgb) {
    int x, y, ch;
    for (y = 0; y < PH; y++)
        for (x = 0; x < PW; x++)
            for (ch = 0; ch < 3; ch++) rgb[((size_t)y * PW + x) * 3 + ch] = (unsigned char)((x * (5 + r + ch) + y * (3 + b) * 7 + ch * 50 + r * 31) & 255);
}

/* Run request r in context c with the worker's slots; everything into out. */
static void run_request(worker *w, int r, result *out) {
    static const int32_t base_ids[B][LT] = {{0, 5, 9, 33, 71, 2, 1}, {0, 42, 43, 44, 45, 46, 2}};
    static const int32_t dec[B * TDEC] = {2, 0, 17, 18, 2, 0, 19, 20};
    static const char *const texts[4] = {"what is on the table?", "is the man walking?", "two dogs in total.", "a red square."};
    const vla_hparams *hp = vla_model_hparams(w->m);
    int a = r % 4, task = (r / 4 + r) % 4, use_images = r == 6, beams = r % 2 ? 3 : 1, b, i, S = hp->clip_image_size;
    int32_t ids[B * LT];
    vla_input in;
    vla_gen_params g;
    vla_arena ar;
    vla_status st;
    size_t len;
    memset(out->logits, 0, sizeof out->logits);
    memset(out->ids, 0, sizeof out->ids);
    memset(out->scores, 0, sizeof out->scores);
    memset(out->text, 0, sizeof out->text);
    out->width = out->enc_len = out->n_tok = 0;
    for (b = 0; b < B; b++)
        for (i = 0; i < LT; i++) ids[b * LT + i] = base_ids[b][i] > 2 ? (base_ids[b][i] + 7 * r) % 297 + 3 : base_ids[b][i];
    /* adapter set and task for this request (a = 0: the base model) */
    st = vla_ctx_set_adapter(w->c, a ? w->ad[a - 1] : NULL, a ? g_tasks[task] : NULL);
    memset(&in, 0, sizeof in);
    in.batch = B; in.text_len = LT; in.ids = ids; in.n_images = 1; in.grid_h = in.grid_w = 7;
    if (st == VLA_OK && use_images) { /* pictures as a camera hands them over, preprocessed here */
        unsigned char rgb[PW * PH * 3];
        vla_image img;
        for (b = 0; b < B && st == VLA_OK; b++) {
            picture(r, b, rgb);
            vla_arena_init(&ar, w->scratch, w->scratch_n);
            st = vla_image_view(&img, rgb, PW, PH, 3, 0);
            if (st == VLA_OK) st = vla_clip_preprocess(&ar, w->pix + (size_t)b * S * S * 3, S, VLA_LAYOUT_HWC, &img);
        }
        in.images = w->pix;
    } else {
        for (i = 0; i < B * 49 * hp->feat_dim; i++) w->feats[i] = (float)(((i + 1) * (7919 + 13 * r)) % 1000) / 1000.0f;
        in.feats = w->feats;
    }
    if (st == VLA_OK) st = vla_encode(w->c, &in);
    if (st == VLA_OK) {
        const float *e = vla_encoder_output(w->c, 0, &out->enc_len);
        (void)e;
        for (b = 0; b < B; b++) memcpy(out->enc + (size_t)b * out->enc_len * hp->d_model, vla_encoder_output(w->c, b, NULL),
                                      sizeof(float) * (size_t)out->enc_len * hp->d_model);
        st = vla_decode_logits(w->c, dec, TDEC, out->logits);
    }
    if (st == VLA_OK) {
        g = vla_gen_defaults(w->m);
        g.num_beams = beams; g.max_length = MAXLEN; g.min_length = 0; g.no_repeat_ngram = 3; g.early_stopping = 1; g.length_penalty = 1.0f;
        st = vla_generate(w->c, &g, out->ids, &out->width, out->scores);
    }
    /* the shared tokenizer, both ways */
    for (b = 0; b < B && st == VLA_OK; b++)
        st = vla_detokenize(vla_model_tokenizer(w->m), out->ids + b * MAXLEN, out->width, 1, 1, out->text[b], sizeof out->text[b], &len);
    if (st == VLA_OK) {
        vla_arena_init(&ar, w->scratch, w->scratch_n);
        st = vla_tokenize(vla_model_tokenizer(w->m), &ar, texts[r % 4], strlen(texts[r % 4]), 1, 1, 20, out->tok, 64, &out->n_tok);
    }
    out->st = st;
}

static int same(const result *x, const result *y, int d) {
    return x->st == y->st && x->enc_len == y->enc_len && x->width == y->width && x->n_tok == y->n_tok &&
           !memcmp(x->enc, y->enc, sizeof(float) * (size_t)B * x->enc_len * d) && !memcmp(x->logits, y->logits, sizeof x->logits) &&
           !memcmp(x->ids, y->ids, sizeof x->ids) && !memcmp(x->scores, y->scores, sizeof x->scores) &&
           !memcmp(x->text, y->text, sizeof x->text) && !memcmp(x->tok, y->tok, sizeof(int32_t) * (size_t)x->n_tok);
}

/* The pool's parallel-for, counting the jobs that really split. */
static void counting_parallel(void *user, vla_task_fn task, void *arg, int n) {
    worker *w = (worker *)user;
    if (n > 1) w->jobs++;
    vla_threadpool_parallel(&w->pool, task, arg, n);
}

static int worker_setup(worker *w, int n_res) {
    const vla_hparams *hp = vla_model_hparams(w->m);
    vla_ctx_params p = ctx_params(w->m);
    size_t need;
    int k, S = hp->clip_image_size;
    if (w->use_pool) {
        if (vla_threadpool_init(&w->pool, 2) != 0) return -1;
        vla_threadpool_exec(&w->pool, &p.exec);
        p.exec.parallel = counting_parallel;
        p.exec.parallel_user = w;
    }
    for (k = 0; k < 3; k++) {
        if (vla_adapter_mem_req(w->m, w->ad_files[k].p, w->ad_files[k].n, &need) != VLA_OK) return -1;
        w->ad_mem[k] = malloc(need);
        if (vla_adapter_attach(&w->ad[k], w->m, w->ad_mem[k], need, w->ad_files[k].p, w->ad_files[k].n, NULL) != VLA_OK) return -1;
    }
    if (vla_ctx_mem_req(w->m, &p, &need) != VLA_OK) return -1;
    w->ctx_mem = malloc(need);
    if (vla_ctx_init(&w->c, w->m, &p, w->ctx_mem, need) != VLA_OK) return -1;
    w->scratch_n = vla_clip_preprocess_scratch_size(PW, PH, S) + vla_tokenize_scratch_size(64) + 4 * VLA_ALIGN;
    w->scratch = (unsigned char *)malloc(w->scratch_n);
    w->pix = (float *)malloc(sizeof(float) * (size_t)B * S * S * 3);
    w->feats = (float *)malloc(sizeof(float) * (size_t)B * 49 * hp->feat_dim);
    w->res = (result *)calloc((size_t)n_res, sizeof(result));
    for (k = 0; k < n_res && w->res; k++)
        w->res[k].enc = (float *)malloc(sizeof(float) * (size_t)B * (LT + 6 + hp->n_boxes) * hp->d_model);
    return w->scratch && w->pix && w->feats && w->res ? 0 : -1;
}

static void worker_free(worker *w, int n_res) {
    int k;
    for (k = 0; k < 3; k++) {
        if (w->ad[k]) vla_adapter_detach(w->ad[k]);
        free(w->ad_mem[k]);
    }
    for (k = 0; w->res && k < n_res; k++) free(w->res[k].enc);
    free(w->res); free(w->ctx_mem); free(w->scratch); free(w->pix); free(w->feats);
    if (w->use_pool) vla_threadpool_destroy(&w->pool);
}

/* A thread: every request N_ROUNDS times, in an order of its own. */
static void *thread_main(void *arg) {
    worker *w = (worker *)arg;
    int round, k;
    for (round = 0; round < N_ROUNDS; round++)
        for (k = 0; k < N_REQ; k++) {
            int r = (k * (2 * w->index + 1) + round * 3 + w->index) % N_REQ; /* an odd stride: a permutation */
            run_request(w, r, &w->res[round * N_REQ + r]);
        }
    return NULL;
}

int main(int argc, char **argv) {
    size_t model_n = 0, need;
    unsigned char *model_file;
    void *model_mem;
    vla_model *m = NULL;
    blob ads[3];
    worker ref, ws[N_THREADS];
    pthread_t th[N_THREADS];
    int k, t, r, bad = 0, started = 0, d;
    vc_init(argc, argv);
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s MODEL.gguf (build/tiny_caption.gguf)\n", argv[0]);
        return 2;
    }
    vc_section("one model, contexts in several threads");
    model_file = read_file(argv[1], &model_n);
    VC_CHECKF(model_file != NULL, "cannot read %s", argv[1]);
    if (!model_file) return vc_summary();
    VC_CHECK(vla_model_mem_req(model_file, model_n, &need) == VLA_OK);
    model_mem = malloc(need);
    VC_CHECK(vla_model_init(&m, model_mem, need, model_file, model_n, NULL) == VLA_OK);
    if (!m) return vc_summary();
    VC_CHECK(vla_model_hparams(m)->has_clip && vla_model_hparams(m)->d_model == 32 && vla_model_tokenizer(m) != NULL);
    d = vla_model_hparams(m)->d_model;
    for (k = 0; k < 3; k++) {
        ads[k] = adapter_file(m, g_methods[k], 31 + (uint64_t)k);
        VC_CHECKF(ads[k].p != NULL, "adapter file %s", g_methods[k]);
        if (!ads[k].p) return vc_summary();
    }

    /* the references: one request at a time on this thread, a fresh context each */
    memset(&ref, 0, sizeof ref);
    ref.m = m; ref.ad_files = ads;
    VC_CHECK(worker_setup(&ref, N_REQ) == 0);
    for (r = 0; r < N_REQ; r++) {
        vla_ctx_params p = ctx_params(m);
        VC_CHECK(vla_ctx_mem_req(m, &p, &need) == VLA_OK && vla_ctx_init(&ref.c, m, &p, ref.ctx_mem, need) == VLA_OK);
        run_request(&ref, r, &ref.res[r]);
        VC_CHECKF(ref.res[r].st == VLA_OK, "reference request %d: %s", r, vla_status_str(ref.res[r].st));
    }
    /* the requests differ from each other (adapters, tasks, pictures matter) */
    for (r = 1; r < N_REQ; r++) VC_CHECKF(memcmp(ref.res[r].logits, ref.res[0].logits, sizeof ref.res[0].logits) != 0, "request %d", r);

    /* the threads */
    memset(ws, 0, sizeof ws);
    for (t = 0; t < N_THREADS; t++) {
        ws[t].index = t;
        ws[t].use_pool = t < 2;
        ws[t].m = m;
        ws[t].ad_files = ads;
        ws[t].failed_setup = worker_setup(&ws[t], N_ROUNDS * N_REQ) != 0;
        VC_CHECKF(!ws[t].failed_setup, "thread %d setup", t);
    }
    for (t = 0; t < N_THREADS; t++)
        if (!ws[t].failed_setup && pthread_create(&th[t], NULL, thread_main, &ws[t]) == 0) started |= 1 << t;
    for (t = 0; t < N_THREADS; t++)
        if (started & (1 << t)) pthread_join(th[t], NULL);
    VC_CHECK(started == (1 << N_THREADS) - 1);
    for (t = 0; t < N_THREADS; t++) {
        int mism = 0;
        if (!(started & (1 << t))) continue;
        for (k = 0; k < N_ROUNDS * N_REQ; k++)
            if (!same(&ws[t].res[k], &ref.res[k % N_REQ], d)) {
                mism++;
                if (vc_st.verbose) fprintf(stderr, "thread %d round %d request %d differs (status %s)\n", t, k / N_REQ, k % N_REQ,
                                           vla_status_str(ws[t].res[k].st));
            }
        VC_CHECKF(mism == 0, "thread %d (%s): %d of %d requests differ from the single-threaded run", t,
                  ws[t].use_pool ? "2-thread pool exec" : "serial exec", mism, N_ROUNDS * N_REQ);
        if (ws[t].use_pool) VC_CHECKF(ws[t].jobs > 0, "thread %d: its pool never ran a job on 2 threads", t);
        if (vc_st.verbose && ws[t].use_pool) printf("  thread %d: %ld parallel-fors split across its pool\n", t, ws[t].jobs);
        bad += mism;
    }
    if (!bad && vc_st.verbose) printf("  %d threads x %d requests x %d rounds equal the references\n", N_THREADS, N_REQ, N_ROUNDS);
    for (t = 0; t < N_THREADS; t++) worker_free(&ws[t], N_ROUNDS * N_REQ);
    worker_free(&ref, N_REQ);
    for (k = 0; k < 3; k++) free(ads[k].p);
    free(model_mem);
    free(model_file);
    vc_selftest();
    return vc_summary();
}
