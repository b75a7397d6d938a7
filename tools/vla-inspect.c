/* vla-inspect: print what a GGUF file holds.
 *
 *   vla-inspect [--tensors-only|--kv-only] FILE.gguf
 *   vla-inspect --params MODEL.gguf [ADAPTER.gguf]
 *
 * --params counts parameters the way the paper's Table 1 does (trainer_base.py
 * of the official code): total = every BART parameter once (the tied word
 * embedding counted once, final_logits_bias left out: it is a buffer) + the
 * visual projection theta_V->L + every PEFT module of every task (a module
 * shared by all tasks counted once); the CLIP trunk is not counted (it is not
 * part of the trained model).  Trainable = the PEFT modules + theta_V->L, plus
 * per method what the official scripts unfreeze: all BART LayerNorms for
 * adapters / Compacter / Hyperformer, all BART bias vectors (LayerNorm biases
 * included) for LoRA, nothing more for prompts; without an adapter file:
 * full fine-tuning (everything trains).  --params-paper counts the paper's reading
 * instead ("we always update ... all layer normalizations": every method
 * trains the BART LayerNorms, LoRA its biases too).
 *
 * Prints the header, every metadata key with its value (arrays: type, count
 * and the first items), every tensor (name, type, shape in PyTorch order,
 * bytes) and the totals.  A malformed file exits with status 1 and the reason.
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#define VLA_TOOL_IMPLEMENTATION
#include "vla_tool.h"

#include <stdlib.h>
#include <string.h>

static const char *vtype_name(vla_gguf_vtype t) {
    static const char *n[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"};
    return (unsigned)t < sizeof n / sizeof n[0] ? n[t] : "?";
}

static void print_str(const char *s, size_t n, size_t max) {
    size_t i;
    putchar('"');
    for (i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20 || c == 0x7f) printf("\\x%02x", c);
        else putchar(c);
    }
    putchar('"');
    if (n > max) printf("...(%zu bytes)", n);
}

static void print_scalar(vla_gguf_vtype t, const unsigned char *p) {
    switch (t) {
    case VLA_GGUF_U8: printf("%u", p[0]); break;
    case VLA_GGUF_I8: printf("%d", (int8_t)p[0]); break;
    case VLA_GGUF_BOOL: printf("%s", p[0] ? "true" : "false"); break;
    case VLA_GGUF_U16: printf("%u", vla__rd16(p)); break;
    case VLA_GGUF_I16: printf("%d", (int16_t)vla__rd16(p)); break;
    case VLA_GGUF_U32: printf("%u", vla__rd32(p)); break;
    case VLA_GGUF_I32: printf("%d", (int32_t)vla__rd32(p)); break;
    case VLA_GGUF_U64: printf("%llu", (unsigned long long)vla__rd64(p)); break;
    case VLA_GGUF_I64: printf("%lld", (long long)(int64_t)vla__rd64(p)); break;
    case VLA_GGUF_F32: { uint32_t b = vla__rd32(p); float f; memcpy(&f, &b, 4); printf("%.9g", f); } break;
    case VLA_GGUF_F64: { uint64_t b = vla__rd64(p); double f; memcpy(&f, &b, 8); printf("%.17g", f); } break;
    default: printf("?");
    }
}

static size_t scalar_size(vla_gguf_vtype t) {
    switch (t) {
    case VLA_GGUF_U8: case VLA_GGUF_I8: case VLA_GGUF_BOOL: return 1;
    case VLA_GGUF_U16: case VLA_GGUF_I16: return 2;
    case VLA_GGUF_U32: case VLA_GGUF_I32: case VLA_GGUF_F32: return 4;
    default: return 8;
    }
}

/* ---- --params ---- */

static uint64_t t_elems(const vla_tensor *t) {
    uint64_t n = 1;
    int d;
    for (d = 0; d < t->n_dims; d++) n *= (uint64_t)t->ne[d];
    return n;
}

static int has(vla_str s, const char *sub) {
    size_t k = strlen(sub), i;
    for (i = 0; i + k <= s.n; i++)
        if (!memcmp(s.s + i, sub, k)) return 1;
    return 0;
}

static int starts(vla_str s, const char *pre) { size_t k = strlen(pre); return s.n >= k && !memcmp(s.s, pre, k); }
static int ends(vla_str s, const char *suf) { size_t k = strlen(suf); return s.n >= k && !memcmp(s.s + s.n - k, suf, k); }

static unsigned char *open_gguf(const char *path, vla_gguf *g, void **mem) {
    size_t size;
    char err[256];
    vla_arena a;
    unsigned char *buf = vla_tool_read_file(path, &size, err, sizeof err);
    if (!buf) { fprintf(stderr, "vla-inspect: %s\n", err); return NULL; }
    vla_arena_init_measure(&a);
    if (vla_gguf_open(g, buf, size, &a) != VLA_OK) { fprintf(stderr, "vla-inspect: %s: not a valid GGUF file\n", path); free(buf); return NULL; }
    *mem = malloc(a.peak_total + VLA_ALIGN);
    vla_arena_init(&a, *mem, a.peak_total + VLA_ALIGN);
    if (vla_gguf_open(g, buf, size, &a) != VLA_OK) { fprintf(stderr, "vla-inspect: %s: not a valid GGUF file\n", path); free(buf); free(*mem); return NULL; }
    return buf;
}

static int params(const char *model_path, const char *adapter_path, int paper) {
    vla_gguf g, ga;
    void *m1 = NULL, *m2 = NULL;
    unsigned char *b1 = open_gguf(model_path, &g, &m1), *b2 = NULL;
    uint64_t k, total = 0, vis = 0, ln = 0, bias = 0, peft = 0, trainable;
    char method[32] = "full_finetune";
    if (!b1) return 1;
    for (k = 0; k < g.n_tensors; k++) {
        const vla_tensor *t = &g.tensors[k];
        uint64_t n = t_elems(t);
        if (starts(t->name, "visual.") || starts(t->name, "final_logits_bias")) continue;
        total += n;
        if (starts(t->name, "encoder.visual_embedding.")) { vis += n; continue; }
        if (has(t->name, "layer_norm.") || has(t->name, "layernorm_embedding.")) ln += n;
        if (ends(t->name, ".bias")) bias += n;
    }
    if (adapter_path) {
        vla_str ms;
        b2 = open_gguf(adapter_path, &ga, &m2);
        if (!b2) { free(b1); free(m1); return 1; }
        if (vla_gguf_get_str(&ga, "vladapter.adapter.method", &ms) != VLA_OK) {
            fprintf(stderr, "vla-inspect: %s is not an adapter file\n", adapter_path);
            free(b1); free(m1); free(b2); free(m2);
            return 1;
        }
        snprintf(method, sizeof method, "%.*s", (int)ms.n, ms.s);
        for (k = 0; k < ga.n_tensors; k++) {
            const vla_tensor *t = &ga.tensors[k];
            if (t->name.n > 2 && t->name.s[1] == '.' && strchr("ALPH", t->name.s[0])) peft += t_elems(t); /* modules, not overrides */
        }
    }
    total += peft;
    if (!adapter_path) trainable = total;
    else if (!strcmp(method, "lora")) trainable = peft + vis + bias + (paper ? ln / 2 : 0); /* + the LN gains */
    else if (!strcmp(method, "prompt")) trainable = peft + vis + (paper ? ln : 0);
    else trainable = peft + vis + ln;
    printf("method=%s trainable=%llu total=%llu percent=%.2f\n", method, (unsigned long long)trainable, (unsigned long long)total,
           100.0 * (double)trainable / (double)(total ? total : 1));
    printf("  BART+visual=%llu (theta_V->L %llu, LayerNorms %llu, biases %llu), PEFT modules=%llu\n",
           (unsigned long long)(total - peft), (unsigned long long)vis, (unsigned long long)ln, (unsigned long long)bias,
           (unsigned long long)peft);
    free(b1); free(m1); free(b2); free(m2);
    return 0;
}

int main(int argc, char **argv) {
    const char *path = NULL;
    int show_kv = 1, show_t = 1, i;
    unsigned char *buf;
    size_t size, need;
    char err[256];
    vla_arena a;
    void *mem;
    vla_gguf g;
    vla_status st;
    uint64_t k, total_bytes = 0, total_elems = 0;
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tensors-only")) show_kv = 0;
        else if (!strcmp(argv[i], "--kv-only")) show_t = 0;
        else if (!strcmp(argv[i], "--params") || !strcmp(argv[i], "--params-paper")) {
            if (i + 1 >= argc) { fprintf(stderr, "usage: vla-inspect --params[-paper] MODEL.gguf [ADAPTER.gguf]\n"); return 2; }
            return params(argv[i + 1], i + 2 < argc ? argv[i + 2] : NULL, !strcmp(argv[i], "--params-paper"));
        }
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: vla-inspect [--tensors-only|--kv-only] FILE.gguf\n       vla-inspect --params MODEL.gguf [ADAPTER.gguf]\n");
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "vla-inspect: unknown option '%s'\n", argv[i]);
            return 2;
        } else if (path) {
            fprintf(stderr, "vla-inspect: one file at a time (%s, %s)\n", path, argv[i]);
            return 2;
        } else path = argv[i];
    }
    if (!path) { fprintf(stderr, "usage: vla-inspect [--tensors-only|--kv-only] FILE.gguf\n"); return 2; }
    buf = vla_tool_read_file(path, &size, err, sizeof err);
    if (!buf) { fprintf(stderr, "vla-inspect: %s\n", err); return 1; }
    /* size the tables first (a measuring open also validates the whole file) */
    vla_arena_init_measure(&a);
    st = vla_gguf_open(&g, buf, size, &a);
    if (st != VLA_OK) {
        fprintf(stderr, "vla-inspect: %s: %s (%s)\n", path, vla_status_str(st),
                st == VLA_ERR_VERSION ? "only GGUF v2/v3 are read" : "the header, a count, a length or an offset does not fit the file");
        free(buf);
        return 1;
    }
    need = a.peak_total + VLA_ALIGN;
    mem = malloc(need);
    vla_arena_init(&a, mem, need);
    st = vla_gguf_open(&g, buf, size, &a);
    if (st != VLA_OK) {
        fprintf(stderr, "vla-inspect: %s: %s (duplicate key or tensor name)\n", path, vla_status_str(st));
        free(mem); free(buf);
        return 1;
    }
    printf("file: %s\nsize: %zu bytes\ngguf version: %u\nalignment: %u\nkeys: %llu\ntensors: %llu\n", path, size, g.version,
           g.alignment, (unsigned long long)g.n_kv, (unsigned long long)g.n_tensors);
    if (show_kv) {
        printf("\n-- metadata --\n");
        for (k = 0; k < g.n_kv; k++) {
            const vla_gguf_kv *kv = &g.kv[k];
            printf("%-44.*s %-7s ", (int)kv->key.n, kv->key.s, vtype_name(kv->type));
            if (kv->type == VLA_GGUF_STRING) print_str((const char *)kv->val + 8, (size_t)vla__rd64(kv->val), 200);
            else if (kv->type == VLA_GGUF_ARRAY) {
                uint64_t j, shown = 0;
                printf("[%s x %llu] ", vtype_name(kv->arr_type), (unsigned long long)kv->arr_n);
                if (kv->arr_type == VLA_GGUF_STRING) {
                    size_t pos = 0;
                    vla_str s;
                    while (shown < 4 && vla_gguf_arr_next_str(kv, &pos, &s)) { print_str(s.s, s.n, 40); printf(" "); shown++; }
                } else {
                    for (j = 0; j < kv->arr_n && j < 8; j++) { print_scalar(kv->arr_type, kv->val + j * scalar_size(kv->arr_type)); printf(" "); }
                    shown = j;
                }
                if (kv->arr_n > shown) printf("...");
            } else print_scalar(kv->type, kv->val);
            printf("\n");
        }
    }
    if (show_t) printf("\n-- tensors (shape in PyTorch order) --\n");
    for (k = 0; k < g.n_tensors; k++) {
        const vla_tensor *t = &g.tensors[k];
        uint64_t nel = 1;
        int d;
        for (d = 0; d < t->n_dims; d++) nel *= (uint64_t)t->ne[d];
        total_elems += nel;
        total_bytes += t->nbytes;
        if (!show_t) continue;
        printf("%-64.*s %-5s [", (int)t->name.n, t->name.s, vla_type_name(t->type));
        for (d = t->n_dims - 1; d >= 0; d--) printf("%lld%s", (long long)t->ne[d], d ? ", " : "");
        printf("] %llu bytes\n", (unsigned long long)t->nbytes);
    }
    printf("\ntotal: %llu tensors, %llu elements, %llu bytes of tensor data (%.2f MiB)\n", (unsigned long long)g.n_tensors,
           (unsigned long long)total_elems, (unsigned long long)total_bytes, (double)total_bytes / 1048576.0);
    free(mem);
    free(buf);
    return 0;
}
