/* test_gguf.c - GGUF writer/reader round trip, a corpus of malformed files,
 * and the arena (exhaustion, size queries).  Run it under ASan+UBSan too
 * (make test does): every malformed file must fail cleanly, never crash. */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#include "board/vla_check.h"

#include <stdlib.h>
#include <string.h>

/* ---- an in-memory sink for the writer ---- */
typedef struct sink { unsigned char *p; size_t n, cap; } sink;

static vla_status sink_write(void *u, const void *d, size_t n) {
    sink *s = (sink *)u;
    if (s->n + n > s->cap) return VLA_ERR_IO;
    memcpy(s->p + s->n, d, n);
    s->n += n;
    return VLA_OK;
}

static float t_f32[3 * 5];
static uint16_t t_f16[7];
static unsigned char t_q8[2 * VLA_Q8_0_BYTES * 2];

/* Writes the reference file; returns its size. */
static size_t make_file(unsigned char *out, size_t cap, uint32_t alignment) {
    static unsigned char arena_mem[1 << 16];
    vla_arena a;
    vla_gguf_writer w;
    sink s;
    int64_t ne2[2] = {5, 3}, ne1[1] = {7}, neq[2] = {64, 2};
    static const uint32_t u32s[4] = {1, 2, 3, 0xffffffffu};
    static const float f32s[2] = {0.5f, -2.25f};
    vla_str strs[3];
    float q[128];
    int i;
    strs[0].s = "alpha"; strs[0].n = 5;
    strs[1].s = ""; strs[1].n = 0;
    strs[2].s = "g\xc3\xa9n\xc3\xa9ral"; strs[2].n = 9;
    for (i = 0; i < 15; i++) t_f32[i] = (float)i * 0.25f - 1.0f;
    for (i = 0; i < 7; i++) t_f16[i] = vla_fp32_to_fp16((float)i - 3.5f);
    for (i = 0; i < 128; i++) q[i] = (float)((i * 37) % 19) - 9.0f;
    vla_quantize_q8_0(t_q8, q, 128);
    vla_arena_init(&a, arena_mem, sizeof arena_mem);
    VC_CHECK(vla_gguf_writer_init(&w, &a, 16, 4, alignment) == VLA_OK);
    vla_gguf_add_str(&w, "general.architecture", "vladapter", 9);
    vla_gguf_add_u32(&w, "test.u32", 123456789u);
    vla_gguf_add_i32(&w, "test.i32", -42);
    vla_gguf_add_u64(&w, "test.u64", 5000000000ull);
    vla_gguf_add_f32(&w, "test.f32", 3.25f);
    vla_gguf_add_bool(&w, "test.bool", 1);
    vla_gguf_add_arr(&w, "test.arr_u32", VLA_GGUF_U32, u32s, 4);
    vla_gguf_add_arr(&w, "test.arr_f32", VLA_GGUF_F32, f32s, 2);
    vla_gguf_add_arr(&w, "test.arr_str", VLA_GGUF_STRING, strs, 3);
    vla_gguf_add_tensor(&w, "w.f32", VLA_TYPE_F32, 2, ne2, t_f32);
    vla_gguf_add_tensor(&w, "w.f16", VLA_TYPE_F16, 1, ne1, t_f16);
    vla_gguf_add_tensor(&w, "w.q8", VLA_TYPE_Q8_0, 2, neq, t_q8);
    VC_CHECK(w.err == VLA_OK);
    s.p = out; s.n = 0; s.cap = cap;
    VC_CHECK(vla_gguf_write(&w, sink_write, &s) == VLA_OK);
    VC_CHECK((uint64_t)s.n == vla_gguf_writer_size(&w));
    return s.n;
}

static unsigned char g_arena[1 << 16];

static vla_status try_open(const unsigned char *buf, size_t n, vla_gguf *g) {
    vla_arena a, m;
    vla_gguf gm;
    vla_status s1, s2;
    vla_arena_init(&a, g_arena, sizeof g_arena);
    s1 = vla_gguf_open(g, buf, n, &a);
    /* a measuring open must agree on validity */
    vla_arena_init_measure(&m);
    s2 = vla_gguf_open(&gm, buf, n, &m);
    if ((s1 == VLA_OK) != (s2 == VLA_OK) && !(s1 == VLA_ERR_FORMAT && s2 == VLA_OK)) {
        /* the measuring pass skips the duplicate-name tables, so it may
         * accept what the full open rejects as a duplicate; never the reverse */
        VC_CHECKF(0, "measuring open %d vs open %d", (int)s2, (int)s1);
    }
    return s1;
}

static void test_round_trip(void) {
    static unsigned char buf[8192];
    size_t n;
    vla_gguf g;
    vla_gguf_kv kv;
    vla_tensor t;
    vla_str s;
    uint32_t u;
    float f;
    int b, i;
    size_t pos = 0;
    vc_section("gguf round trip");
    n = make_file(buf, sizeof buf, 32);
    VC_CHECK(try_open(buf, n, &g) == VLA_OK);
    VC_CHECK(g.version == 3 && g.n_tensors == 3 && g.n_kv == 10 && g.alignment == 32);
    VC_CHECK(vla_gguf_get_str(&g, "general.architecture", &s) == VLA_OK && s.n == 9 && !memcmp(s.s, "vladapter", 9));
    VC_CHECK(vla_gguf_get_u32(&g, "test.u32", &u) == VLA_OK && u == 123456789u);
    VC_CHECK(vla_gguf_get_u32(&g, "test.i32", &u) == VLA_ERR_FORMAT); /* negative does not fit */
    VC_CHECK(vla_gguf_get_u32(&g, "test.u64", &u) == VLA_ERR_FORMAT); /* too big for u32 */
    VC_CHECK(vla_gguf_get_f32(&g, "test.f32", &f) == VLA_OK && f == 3.25f);
    VC_CHECK(vla_gguf_get_bool(&g, "test.bool", &b) == VLA_OK && b == 1);
    VC_CHECK(vla_gguf_get_u32(&g, "missing.key", &u) == VLA_ERR_NOT_FOUND);
    VC_CHECK(vla_gguf_get_kv(&g, "test.arr_u32", &kv) == VLA_OK && kv.type == VLA_GGUF_ARRAY && kv.arr_type == VLA_GGUF_U32 &&
             kv.arr_n == 4 && vla__rd32(kv.val + 12) == 0xffffffffu);
    VC_CHECK(vla_gguf_get_kv(&g, "test.arr_str", &kv) == VLA_OK && kv.arr_n == 3);
    i = 0;
    while (vla_gguf_arr_next_str(&kv, &pos, &s)) {
        static const char *want[3] = {"alpha", "", "g\xc3\xa9n\xc3\xa9ral"};
        VC_CHECK(s.n == strlen(want[i]) && !memcmp(s.s, want[i], s.n));
        i++;
    }
    VC_CHECK(i == 3);
    VC_CHECK(vla_gguf_get_tensor(&g, "w.f32", &t) == VLA_OK && t.type == VLA_TYPE_F32 && t.n_dims == 2 && t.ne[0] == 5 &&
             t.ne[1] == 3 && !memcmp(t.data, t_f32, sizeof t_f32));
    VC_CHECK(((const unsigned char *)t.data - buf) % 32 == 0);
    VC_CHECK(vla_gguf_get_tensor(&g, "w.f16", &t) == VLA_OK && t.nbytes == 14 && !memcmp(t.data, t_f16, 14));
    VC_CHECK(vla_gguf_get_tensor(&g, "w.q8", &t) == VLA_OK && t.type == VLA_TYPE_Q8_0 && t.nbytes == 4 * VLA_Q8_0_BYTES &&
             !memcmp(t.data, t_q8, t.nbytes));
    VC_CHECK(vla_gguf_get_tensor(&g, "w.nope", &t) == VLA_ERR_NOT_FOUND);
    { /* the same look-ups work after a measuring open (size queries) */
        vla_arena m;
        vla_gguf gm;
        vla_arena_init_measure(&m);
        VC_CHECK(vla_gguf_open(&gm, buf, n, &m) == VLA_OK);
        VC_CHECK(vla_gguf_get_u32(&gm, "test.u32", &u) == VLA_OK && u == 123456789u);
        VC_CHECK(vla_gguf_get_tensor(&gm, "w.f16", &t) == VLA_OK && !memcmp(t.data, t_f16, 14));
        VC_CHECK(m.peak_total > 0 && m.peak_total < sizeof g_arena);
    }
    /* another alignment */
    n = make_file(buf, sizeof buf, 256);
    VC_CHECK(try_open(buf, n, &g) == VLA_OK && g.alignment == 256);
    VC_CHECK(vla_gguf_get_tensor(&g, "w.q8", &t) == VLA_OK && ((const unsigned char *)t.data - buf) % 256 == 0);
}

/* Byte offsets inside the reference file, found by scanning its layout. */
static size_t find(const unsigned char *buf, size_t n, const char *needle) {
    size_t k = strlen(needle), i;
    for (i = 0; i + k <= n; i++)
        if (!memcmp(buf + i, needle, k)) return i;
    return 0;
}

static void put64(unsigned char *p, uint64_t v) { int i; for (i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i)); }
static void put32(unsigned char *p, uint32_t v) { int i; for (i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }

static void expect_bad(const unsigned char *good, size_t n, void (*mutate)(unsigned char *, size_t), const char *what) {
    static unsigned char b[8192];
    vla_gguf g;
    vla_status st;
    memcpy(b, good, n);
    mutate(b, n);
    st = try_open(b, n, &g);
    VC_CHECKF(st != VLA_OK, "malformed file accepted: %s", what);
}

static size_t g_n;
static unsigned char g_good[8192];

static void m_magic(unsigned char *b, size_t n) { (void)n; b[0] = 'X'; }
static void m_version1(unsigned char *b, size_t n) { (void)n; put32(b + 4, 1); }
static void m_version9(unsigned char *b, size_t n) { (void)n; put32(b + 4, 9); }
static void m_ntensors(unsigned char *b, size_t n) { (void)n; put64(b + 8, 0x7fffffffffffffffull); }
static void m_nkv(unsigned char *b, size_t n) { (void)n; put64(b + 16, 1ull << 40); }
static void m_nkv_more(unsigned char *b, size_t n) { (void)n; put64(b + 16, 11); }
static void m_keylen(unsigned char *b, size_t n) { (void)n; put64(b + 24, 0xffffffffffff0000ull); }
static void m_kvtype(unsigned char *b, size_t n) { size_t o = find(b, n, "test.u32"); put32(b + o + 8, 77); }
static void m_bool(unsigned char *b, size_t n) { size_t o = find(b, n, "test.bool"); b[o + 9 + 4] = 2; }
static void m_arrcount(unsigned char *b, size_t n) { size_t o = find(b, n, "test.arr_u32"); put64(b + o + 12 + 4 + 4, 1ull << 61); }
static void m_arrtype(unsigned char *b, size_t n) { size_t o = find(b, n, "test.arr_u32"); put32(b + o + 12 + 4, 9); /* nested array */ }
static void m_strlen(unsigned char *b, size_t n) { size_t o = find(b, n, "test.arr_str"); put64(b + o + 12 + 4 + 4 + 8, 1ull << 50); }
static void m_dims0(unsigned char *b, size_t n) { size_t o = find(b, n, "w.f32"); put32(b + o + 5, 0); }
static void m_dims5(unsigned char *b, size_t n) { size_t o = find(b, n, "w.f32"); put32(b + o + 5, 5); }
static void m_dimzero(unsigned char *b, size_t n) { size_t o = find(b, n, "w.f32"); put64(b + o + 9, 0); }
static void m_dimhuge(unsigned char *b, size_t n) { size_t o = find(b, n, "w.f32"); put64(b + o + 9, 1ull << 39); put64(b + o + 17, 1ull << 39); }
static void m_ttype(unsigned char *b, size_t n) { size_t o = find(b, n, "w.f32"); put32(b + o + 25, 99); }
static void m_q8rows(unsigned char *b, size_t n) { size_t o = find(b, n, "w.q8"); put64(b + o + 8, 48); }
static void m_offset_misaligned(unsigned char *b, size_t n) { size_t o = find(b, n, "w.f16"); put64(b + o + 4 + 4 + 8 + 4, 4); }
static void m_offset_far(unsigned char *b, size_t n) { size_t o = find(b, n, "w.f16"); put64(b + o + 4 + 4 + 8 + 4, 1ull << 40); }
static void m_offset_wrap(unsigned char *b, size_t n) { size_t o = find(b, n, "w.f16"); put64(b + o + 4 + 4 + 8 + 4, 0xffffffffffffffe0ull); }
static void m_dup_tensor(unsigned char *b, size_t n) { size_t o = find(b, n, "w.f16"); memcpy(b + o, "w.f32", 5); memcpy(b + o - 8, "\x05", 1); }
static void m_dup_key(unsigned char *b, size_t n) { size_t o = find(b, n, "test.i32"); memcpy(b + o, "test.u32", 8); }
static void m_align0(unsigned char *b, size_t n) { size_t o = find(b, n, "general.alignment"); put32(b + o + 17 + 4, 0); }
static void m_align3(unsigned char *b, size_t n) { size_t o = find(b, n, "general.alignment"); put32(b + o + 17 + 4, 48); }
static void m_align_huge(unsigned char *b, size_t n) { size_t o = find(b, n, "general.alignment"); put32(b + o + 17 + 4, 1u << 31); }
static void m_align_type(unsigned char *b, size_t n) { size_t o = find(b, n, "general.alignment"); put32(b + o + 17, 5); }

static void test_malformed(void) {
    static unsigned char b[8192];
    vla_gguf g;
    size_t cut, need, i;
    uint64_t rng = 12345;
    int crashes_impossible = 1;
    vc_section("gguf malformed corpus");
    g_n = make_file(g_good, sizeof g_good, 32);
    VC_CHECK(try_open(g_good, g_n, &g) == VLA_OK);
    /* the smallest valid prefix: the blob start + the end of the last tensor */
    {
        vla_tensor t;
        size_t end = 0;
        const char *names[3] = {"w.f32", "w.f16", "w.q8"};
        for (i = 0; i < 3; i++) {
            vla_gguf_get_tensor(&g, names[i], &t);
            if ((size_t)((const unsigned char *)t.data - g_good) + t.nbytes > end) end = (size_t)((const unsigned char *)t.data - g_good) + t.nbytes;
        }
        need = end;
    }
    for (cut = 0; cut < g_n; cut++) { /* truncated at every byte */
        vla_status st;
        memcpy(b, g_good, cut);
        st = try_open(b, cut, &g);
        if (cut < need) VC_CHECKF(st != VLA_OK, "truncation at %zu accepted", cut);
        else VC_CHECKF(st == VLA_OK, "truncation at %zu (inside the final padding) refused", cut);
    }
    expect_bad(g_good, g_n, m_magic, "bad magic");
    expect_bad(g_good, g_n, m_version1, "version 1");
    expect_bad(g_good, g_n, m_version9, "version 9");
    expect_bad(g_good, g_n, m_ntensors, "huge tensor count");
    expect_bad(g_good, g_n, m_nkv, "huge kv count");
    expect_bad(g_good, g_n, m_nkv_more, "kv count one too many");
    expect_bad(g_good, g_n, m_keylen, "huge key length");
    expect_bad(g_good, g_n, m_kvtype, "unknown kv type");
    expect_bad(g_good, g_n, m_bool, "bool value 2");
    expect_bad(g_good, g_n, m_arrcount, "huge array count");
    expect_bad(g_good, g_n, m_arrtype, "nested array");
    expect_bad(g_good, g_n, m_strlen, "huge string in an array");
    expect_bad(g_good, g_n, m_dims0, "0 dimensions");
    expect_bad(g_good, g_n, m_dims5, "5 dimensions");
    expect_bad(g_good, g_n, m_dimzero, "a zero dimension");
    expect_bad(g_good, g_n, m_dimhuge, "element count overflow");
    expect_bad(g_good, g_n, m_ttype, "unknown tensor type");
    expect_bad(g_good, g_n, m_q8rows, "Q8_0 row not a multiple of 32");
    expect_bad(g_good, g_n, m_offset_misaligned, "misaligned tensor offset");
    expect_bad(g_good, g_n, m_offset_far, "tensor offset past the end");
    expect_bad(g_good, g_n, m_offset_wrap, "tensor offset that wraps");
    expect_bad(g_good, g_n, m_dup_tensor, "duplicate tensor name");
    expect_bad(g_good, g_n, m_dup_key, "duplicate key");
    expect_bad(g_good, g_n, m_align0, "alignment 0");
    expect_bad(g_good, g_n, m_align3, "alignment not a power of two");
    expect_bad(g_good, g_n, m_align_huge, "alignment 2^31");
    expect_bad(g_good, g_n, m_align_type, "alignment of the wrong type");
    /* random byte flips: any result is fine, a crash is not (ASan/UBSan) */
    for (i = 0; i < 4000; i++) {
        size_t k, flips;
        memcpy(b, g_good, g_n);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        flips = 1 + (size_t)(rng >> 60);
        for (k = 0; k < flips; k++) {
            rng = rng * 6364136223846793005ull + 1442695040888963407ull;
            b[(rng >> 33) % g_n] ^= (unsigned char)(1u << ((rng >> 20) & 7));
        }
        (void)try_open(b, g_n, &g);
    }
    VC_CHECK(crashes_impossible);
}

static void test_arena(void) {
    static unsigned char mem[4096 + 64];
    vla_arena a, m;
    void *p, *q;
    size_t mark;
    vla_arena_stats s;
    vc_section("arena");
    vla_arena_init(&a, mem + 3, 4096); /* unaligned memory is aligned inside */
    p = vla_arena_alloc(&a, 100);
    VC_CHECK(p && (uintptr_t)p % VLA_ALIGN == 0);
    mark = vla_arena_scratch_mark(&a);
    q = vla_arena_scratch(&a, 1000);
    VC_CHECK(q && (uintptr_t)q % VLA_ALIGN == 0 && (unsigned char *)q >= (unsigned char *)p + 128);
    VC_CHECK(vla_arena_scratch(&a, 1 << 20) == NULL);                 /* exhaustion */
    VC_CHECK(a.failed_need >= (1u << 20));                              /* ... names the size */
    vla_arena_scratch_release(&a, mark);
    VC_CHECK(vla_arena_scratch(&a, 2000) != NULL);                      /* reused after release */
    vla_arena_scratch_release(&a, mark);
    s = vla_arena_get_stats(&a);
    VC_CHECK(s.persistent == 128 && s.scratch_peak == 2048 && s.peak == 128 + 2048);
    VC_CHECK(vla_arena_alloc(&a, 5000) == NULL && a.failed_need >= 5000);
    /* measuring: the same calls give the same peak, without memory */
    vla_arena_init_measure(&m);
    vla_arena_alloc(&m, 100);
    mark = vla_arena_scratch_mark(&m);
    vla_arena_scratch(&m, 1000);
    vla_arena_scratch_release(&m, mark);
    vla_arena_scratch(&m, 2000);
    VC_CHECK(m.peak_total == s.peak);
}

int main(int argc, char **argv) {
    vc_init(argc, argv);
    test_round_trip();
    test_malformed();
    test_arena();
    vc_selftest();
    return vc_summary();
}
