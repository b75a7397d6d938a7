/* board_caption.c - caption one picture with a model, an adapter and the
 * picture all linked into the image, the way a microcontroller runs it: the
 * three files are read in place (flash; on the Cortex-M55 board the QSPI
 * flash at 0x28000000, see tests/shapes.mk), only the arena is RAM.
 *
 * The build links three arrays made by tools/vla-embed:
 *   vla_bc_model    a model file (BART + visual embedding + CLIP + tokenizer)
 *   vla_bc_adapter  an adapter file bound to it, or the one byte "-" for none
 *   vla_bc_picture  a binary PPM (P6)
 * and prints the caption of task "caption" (BART's leading space removed)
 * on a line of its own between "caption: [" and "]", then the arena's high
 * water mark.  The host build of the same file prints the same line: the
 * test compares the two.  Exit status 0, or 1 with a message.
 */
#include "vla_board.h"
#define VLADAPTER_IMPLEMENTATION
#include "../../vladapter.h"

#include <stdio.h>
#include <string.h>

extern const unsigned char vla_bc_model[], vla_bc_adapter[], vla_bc_picture[];
extern const size_t vla_bc_model_size, vla_bc_adapter_size, vla_bc_picture_size;

#ifndef BC_ARENA_BYTES
#define BC_ARENA_BYTES (32u << 20)
#endif
static unsigned char g_mem[BC_ARENA_BYTES] __attribute__((aligned(64)));

static int fail(const char *what, vla_status st) {
    printf("board_caption: %s: %s\n", what, vla_status_str(st));
    return 1;
}

int main(void) {
    vla_model *m = NULL;
    vla_adapter *ad = NULL;
    vla_ctx *c = NULL;
    vla_ctx_params p;
    vla_task_sizes s;
    vla_image pic;
    vla_gen_params g;
    vla_status st;
    size_t used = 0, need, off = 0, len = 0;
    char text[512];
    const char *t = text;
    int have_ad = !(vla_bc_adapter_size == 1 && vla_bc_adapter[0] == '-');

    if ((st = vla_pnm_read(&pic, vla_bc_picture, vla_bc_picture_size, &used)) != VLA_OK) return fail("picture", st);
    /* the model: its tables in the arena, its weights stay where they are */
    if ((st = vla_model_mem_req(vla_bc_model, vla_bc_model_size, &need)) != VLA_OK) return fail("model size", st);
    if (need > sizeof g_mem) return fail("model: arena too small", VLA_ERR_NOMEM);
    if ((st = vla_model_init(&m, g_mem, need, vla_bc_model, vla_bc_model_size, NULL)) != VLA_OK) return fail("model", st);
    off = (need + 63) & ~(size_t)63;
    if (have_ad) {
        if ((st = vla_adapter_mem_req(m, vla_bc_adapter, vla_bc_adapter_size, &need)) != VLA_OK) return fail("adapter size", st);
        if (off + need > sizeof g_mem) return fail("adapter: arena too small", VLA_ERR_NOMEM);
        if ((st = vla_adapter_attach(&ad, m, g_mem + off, need, vla_bc_adapter, vla_bc_adapter_size, NULL)) != VLA_OK)
            return fail("adapter", st);
        off = (off + need + 63) & ~(size_t)63;
    }
    memset(&s, 0, sizeof s);
    s.max_pictures = 1;
    s.max_picture_w = pic.width;
    s.max_picture_h = pic.height;
    if ((st = vla_task_ctx_params(&p, m, &s, have_ad ? (const vla_adapter *const *)&ad : NULL, have_ad)) != VLA_OK)
        return fail("context parameters", st);
    if ((st = vla_ctx_mem_req(m, &p, &need)) != VLA_OK) return fail("context size", st);
    if (off + need > sizeof g_mem) return fail("context: arena too small", VLA_ERR_NOMEM);
    if ((st = vla_ctx_init(&c, m, &p, g_mem + off, need)) != VLA_OK) return fail("context", st);
    if (have_ad && (st = vla_ctx_set_adapter(c, ad, "caption")) != VLA_OK) return fail("adapter task 'caption'", st);
    g = vla_task_preset(c, VLA_TASK_CAPTION);
    if ((st = vla_caption(c, &pic, &g, text, sizeof text, &len)) != VLA_OK) return fail("caption", st);
    while (*t == ' ') t++;
    printf("caption: [%s]\n", t);
    printf("board_caption: %s, model %lu bytes read in place, arena %lu bytes used\n", VLA_BOARD_KIND,
           (unsigned long)vla_bc_model_size, (unsigned long)(off + need));
    return 0;
}
