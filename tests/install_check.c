/* install_check.c - compiled against the INSTALLED header (make install),
 * found through pkg-config: captions a PPM with the task-level call.
 *   install_check MODEL.gguf IMAGE.ppm */
#define VLADAPTER_IMPLEMENTATION
#include <vladapter.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    unsigned char *b = NULL;
    long k;
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (k = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 && (b = (unsigned char *)malloc((size_t)k)) &&
        fread(b, 1, (size_t)k, f) == (size_t)k)
        *n = (size_t)k;
    else { free(b); b = NULL; }
    fclose(f);
    return b;
}

int main(int argc, char **argv) {
    size_t mn = 0, pn = 0, need;
    unsigned char *mf, *pf;
    void *mm = NULL, *cm = NULL;
    vla_model *m = NULL;
    vla_ctx *c = NULL;
    vla_ctx_params p;
    vla_task_sizes s = {0};
    vla_image pic;
    char text[512];
    vla_status st;
    if (argc != 3 || !(mf = slurp(argv[1], &mn)) || !(pf = slurp(argv[2], &pn))) { fprintf(stderr, "usage: install_check MODEL IMAGE.ppm\n"); return 2; }
    st = vla_pnm_read(&pic, pf, pn, NULL);
    if (st == VLA_OK) st = vla_model_mem_req(mf, mn, &need);
    if (st == VLA_OK) st = vla_model_init(&m, mm = malloc(need), need, mf, mn, NULL);
    s.max_picture_w = pic.width; s.max_picture_h = pic.height;
    if (st == VLA_OK) st = vla_task_ctx_params(&p, m, &s, NULL, 0);
    if (st == VLA_OK) st = vla_ctx_mem_req(m, &p, &need);
    if (st == VLA_OK) st = vla_ctx_init(&c, m, &p, cm = malloc(need), need);
    if (st == VLA_OK) st = vla_caption(c, &pic, NULL, text, sizeof text, NULL);
    if (st != VLA_OK) { fprintf(stderr, "install_check: %s\n", vla_status_str(st)); return 1; }
    printf("%s\n", text);
    free(cm); free(mm); free(mf); free(pf);
    return 0;
}
