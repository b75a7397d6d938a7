/* test_convert.c - the converter's readers against damaged input (run under
 * ASan+UBSan): truncated and corrupted safetensors files, torch zip
 * checkpoints and JSON configs must give a clean error (or, for damage the
 * format cannot detect, a converted model that still loads); never a crash.
 * The restricted unpickler has its own, larger corpus in test_torch.c.
 *
 *   test_convert [FIXTURES_DIR]
 */
#define VLADAPTER_IMPLEMENTATION
#include "../vladapter.h"
#define VLA_CONVERT_IMPLEMENTATION
#include "../tools/vla_convert.h"
#include "board/vla_check.h"

#include <stdlib.h>
#include <string.h>

static const char *g_dir = "tests/fixtures";

static unsigned char *slurp(const char *rel, size_t *n) {
    char p[2048], err[256];
    snprintf(p, sizeof p, "%s/%s", g_dir, rel);
    return vla_tool_read_file(p, n, err, sizeof err);
}

/* Run the whole conversion on buf; returns 0 when it converted (and the
 * model loads), 1 when it was refused cleanly, -1 when refused silently. */
static int convert(const unsigned char *buf, size_t n, const vla_json *cfg) {
    vla_ckpt k;
    vla_conv cv, acv;
    char err[512];
    int rc = 1;
    err[0] = 0;
    if (vla_ckpt_open_mem(&k, buf, n, err, sizeof err) != 0) return err[0] ? 1 : -1; /* a message is required */
    vla_conv_init(&cv);
    vla_conv_init(&acv);
    cv.quiet = acv.quiet = 1;
    if (vla_conv_bart(&cv, k.src, k.n, cfg, NULL) == 0 && vla_conv_peft(&acv, k.src, k.n, cfg) >= 0) {
        unsigned char *g = NULL;
        size_t gn, need;
        if (vla_conv_write_mem(&cv, &g, &gn) == 0 && vla_model_mem_req(g, gn, &need) == VLA_OK) {
            void *mem = malloc(need);
            vla_model *m;
            rc = vla_model_init(&m, mem, need, g, gn, NULL) == VLA_OK ? 0 : 1;
            free(mem);
        }
        free(g);
    } else if (!cv.err[0] && !acv.err[0]) {
        rc = -1; /* refused without a reason */
    }
    vla_conv_free(&cv);
    vla_conv_free(&acv);
    vla_ckpt_close(&k);
    return rc;
}

static void corpus(const char *rel, const vla_json *cfg, size_t header_bytes) {
    size_t n, cut, i;
    unsigned char *good = slurp(rel, &n), *b;
    int silent = 0, converted = 0, refused = 0;
    uint64_t rng = 2024;
    VC_CHECKF(good != NULL, "cannot read %s", rel);
    if (!good) return;
    VC_CHECKF(convert(good, n, cfg) == 0, "%s does not convert", rel);
    b = (unsigned char *)malloc(n);
    /* truncations: every byte of the header region, then a stride */
    for (cut = 0; cut < n; cut += cut < header_bytes ? 7 : 4999) {
        int r = convert(good, cut, cfg);
        if (r < 0) silent++;
        else if (r == 0) converted++;
        else refused++;
    }
    VC_CHECKF(silent == 0, "%s: %d truncations refused without a message", rel, silent);
    VC_CHECKF(converted == 0, "%s: %d truncated files converted", rel, converted);
    /* corruption: bytes of the header region and anywhere */
    for (i = 0; i < 200; i++) {
        int r;
        size_t at;
        memcpy(b, good, n);
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        at = (i % 2) ? (size_t)(rng >> 33) % (header_bytes < n ? header_bytes : n) : (size_t)(rng >> 33) % n;
        b[at] ^= (unsigned char)(1 + (rng >> 13) % 255);
        r = convert(b, n, cfg);
        if (r < 0) silent++;
    }
    VC_CHECKF(silent == 0, "%s: damaged files refused without a message", rel);
    free(b);
    free(good);
}

int main(int argc, char **argv) {
    char err[256];
    size_t n;
    unsigned char *cj;
    vla_json *cfg, *man;
    vc_init(argc, argv);
    if (argc > 1 && argv[1][0] != '-') g_dir = argv[1];
    cj = slurp("bart_single_adapter/manifest.json", &n);
    man = cj ? vla_json_parse((const char *)cj, n, err, sizeof err) : NULL;
    cfg = man ? vla_json_copy(vla_json_get(man, "config")) : NULL;
    free(cj);
    vla_json_free(man);
    VC_CHECK(cfg != NULL);
    if (!cfg) return vc_summary();
    vc_section("safetensors corpus");
    corpus("bart_base/weights.safetensors", cfg, 12000);
    vc_section("torch zip corpus (VL-Adapter LAST.pth)");
    corpus("checkpoint_formats/vladapter_LAST.pth", cfg, 4000);
    vc_section("JSON corpus");
    {
        static const char *bad[] = {"", "{", "{\"a\":", "{\"a\":1,}", "[1,2", "\"\\u12\"", "{\"a\" 1}", "nul", "{\"a\":\"\\q\"}",
                                    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                                    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["
                                    "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["};
        size_t i;
        for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            vla_json *j = vla_json_parse(bad[i], strlen(bad[i]), err, sizeof err);
            VC_CHECKF(j == NULL && err[0], "bad JSON %zu accepted", i);
            vla_json_free(j);
        }
    }
    vla_json_free(cfg);
    vc_selftest();
    return vc_summary();
}
