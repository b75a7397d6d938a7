/* gen_unicode_tables.c - print the Unicode range tables of the tokenizer's
 * pre-split (parts/tokenizer.h, section "Unicode 15.0 classes").
 *
 *   cc -std=c99 -O2 -o gen_unicode_tables tools/gen_unicode_tables.c
 *   ./gen_unicode_tables /usr/share/unicode > tables.inc
 *
 * Input: UnicodeData.txt and PropList.txt of Unicode 15.0.0 (Debian package
 * unicode-data 15.0, installed under /usr/share/unicode).  The version is
 * checked: the tokenizer must match the `regex` module that produced the
 * reference outputs, which uses 15.0 (NOT Python 3.11's unicodedata, 14.0).
 *
 * Output: four tables of inclusive code point ranges {first, last}, sorted and
 * merged (consecutive code points of the same set form one range):
 *   vla__uc_letter   general category L*  (Lu Ll Lt Lm Lo)
 *   vla__uc_number   general category N*  (Nd Nl No)
 *   vla__uc_space    property White_Space (the pre-split's \s)
 *   vla__uc_pyspace  Python's str.isspace: bidi class WS, B or S, or
 *                    category Zs (= White_Space plus U+001C..U+001F); used
 *                    for the blank-text check and the stripping next to
 *                    special tokens
 * UnicodeData.txt lists big blocks (CJK, Hangul, Tangut, ...) as a
 * "<..., First>" line and a "<..., Last>" line; every code point between
 * them gets the block's fields.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_CP 0x110000

enum { SET_L = 1, SET_N = 2, SET_WS = 4, SET_PY = 8 };

static unsigned char set_of[N_CP];

static void die(const char *msg, const char *arg) {
    fprintf(stderr, "gen_unicode_tables: %s%s\n", msg, arg ? arg : "");
    exit(1);
}

/* Split a line at ';' into at most max fields (in place). */
static int split_fields(char *line, char **f, int max) {
    int n = 0;
    f[n++] = line;
    while (*line && n < max) {
        if (*line == ';') { *line = 0; f[n++] = line + 1; }
        line++;
    }
    return n;
}

static unsigned long parse_cp(const char *s, const char *path) {
    char *e;
    unsigned long v = strtoul(s, &e, 16);
    if (e == s || v >= N_CP) die("bad code point in ", path);
    return v;
}

/* The set bits one UnicodeData.txt record contributes. */
static unsigned char record_sets(const char *gc, const char *bidi) {
    unsigned char m = 0;
    if (gc[0] == 'L' && gc[1] && strchr("ultmo", gc[1])) m |= SET_L;
    if (gc[0] == 'N' && gc[1] && strchr("dlo", gc[1])) m |= SET_N;
    if (!strcmp(bidi, "WS") || !strcmp(bidi, "B") || !strcmp(bidi, "S") || !strcmp(gc, "Zs")) m |= SET_PY;
    return m;
}

static void read_unicode_data(const char *path) {
    FILE *f = fopen(path, "r");
    char line[1024];
    unsigned long first = 0;
    int in_block = 0;
    if (!f) die("cannot open ", path);
    while (fgets(line, sizeof line, f)) {
        char *fld[16];
        unsigned long cp, c;
        size_t nl;
        unsigned char m;
        if (line[0] == '#' || line[0] == '\n') continue;
        if (split_fields(line, fld, 16) < 5) die("short line in ", path);
        cp = parse_cp(fld[0], path);
        m = record_sets(fld[2], fld[4]);
        nl = strlen(fld[1]);
        if (nl > 8 && !strcmp(fld[1] + nl - 8, ", First>")) {
            /* e.g. "4E00;<CJK Ideograph, First>;Lo;..." */
            if (in_block) die("nested <First> block in ", path);
            first = cp;
            in_block = 1;
            continue;
        }
        if (nl > 7 && !strcmp(fld[1] + nl - 7, ", Last>")) {
            /* e.g. "9FFF;<CJK Ideograph, Last>;Lo;..." closes the block */
            if (!in_block || cp < first) die("<Last> without <First> in ", path);
            for (c = first; c <= cp; c++) set_of[c] |= m;
            in_block = 0;
            continue;
        }
        if (in_block) die("unterminated <First> block in ", path);
        set_of[cp] |= m;
    }
    fclose(f);
}

/* PropList.txt: "0009..000D    ; White_Space # Cc ..." or "0020 ; White_Space". */
static int read_prop_list(const char *path, const char **version) {
    static char ver[64];
    FILE *f = fopen(path, "r");
    char line[1024];
    int n = 0;
    if (!f) die("cannot open ", path);
    ver[0] = 0;
    while (fgets(line, sizeof line, f)) {
        char *semi, *dots, *name;
        unsigned long lo, hi, c;
        if (!ver[0] && !strncmp(line, "# PropList-", 11)) {
            /* "# PropList-15.0.0.txt": keep "15.0.0" */
            const char *v = line + 11, *end = strstr(v, ".txt");
            size_t k = end ? (size_t)(end - v) : 0;
            if (k >= sizeof ver) k = sizeof ver - 1;
            memcpy(ver, v, k);
            ver[k] = 0;
        }
        if (line[0] == '#' || line[0] == '\n') continue;
        semi = strchr(line, ';');
        if (!semi) continue;
        name = semi + 1;
        while (*name == ' ') name++;
        if (strncmp(name, "White_Space", 11) != 0 || (name[11] != ' ' && name[11] != '#' && name[11] != '\n')) continue;
        *semi = 0;
        lo = parse_cp(line, path);
        dots = strstr(line, "..");
        hi = dots ? parse_cp(dots + 2, path) : lo;
        if (hi < lo) die("bad range in ", path);
        for (c = lo; c <= hi; c++) { set_of[c] |= SET_WS; n++; }
    }
    fclose(f);
    *version = ver;
    return n;
}

static int print_table(const char *name, unsigned char bit, const char *what) {
    unsigned long c = 0, lo;
    int n = 0, col = 0;
    /* count first so the array has an exact size */
    for (c = 0; c < N_CP; c++)
        if ((set_of[c] & bit) && (c == 0 || !(set_of[c - 1] & bit))) n++;
    printf("/* %s: %d ranges */\n", what, n);
    printf("static const uint32_t %s[%d][2] = {\n", name, n);
    for (c = 0; c < N_CP;) {
        if (!(set_of[c] & bit)) { c++; continue; }
        lo = c;
        while (c < N_CP && (set_of[c] & bit)) c++;
        if (col == 0) printf("   ");
        printf(" {0x%lX, 0x%lX},", lo, c - 1);
        if (++col == 5) { printf("\n"); col = 0; }
    }
    if (col) printf("\n");
    printf("};\n");
    return n;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "/usr/share/unicode";
    char p1[4096], p2[4096];
    const char *version = "";
    unsigned long c;
    int n_ws;
    snprintf(p1, sizeof p1, "%s/UnicodeData.txt", dir);
    snprintf(p2, sizeof p2, "%s/PropList.txt", dir);
    read_unicode_data(p1);
    n_ws = read_prop_list(p2, &version);
    if (strcmp(version, "15.0.0") != 0) {
        fprintf(stderr, "gen_unicode_tables: PropList.txt is version '%s', the tokenizer needs 15.0.0\n", version);
        return 1;
    }
    /* Sanity: Python's whitespace must be White_Space plus U+001C..U+001F. */
    for (c = 0; c < N_CP; c++) {
        int ws = (set_of[c] & SET_WS) != 0, py = (set_of[c] & SET_PY) != 0;
        int extra = c >= 0x1C && c <= 0x1F;
        if (py != (ws || extra)) {
            fprintf(stderr, "gen_unicode_tables: U+%04lX: python space %d, White_Space %d: unexpected\n", c, py, ws);
            return 1;
        }
        if ((set_of[c] & SET_WS) && (set_of[c] & (SET_L | SET_N))) {
            fprintf(stderr, "gen_unicode_tables: U+%04lX is both White_Space and L/N\n", c);
            return 1;
        }
    }
    printf("/* BEGIN generated by tools/gen_unicode_tables.c from Unicode %s UnicodeData.txt and\n", version);
    printf(" * PropList.txt (%d White_Space code points). Do not edit; rebuild with\n", n_ws);
    printf(" *   cc -std=c99 -O2 -o gen_unicode_tables tools/gen_unicode_tables.c\n");
    printf(" *   ./gen_unicode_tables /usr/share/unicode > tables.inc\n");
    printf(" * and paste tables.inc over this block. */\n");
    print_table("vla__uc_letter", SET_L, "L* = Lu Ll Lt Lm Lo");
    print_table("vla__uc_number", SET_N, "N* = Nd Nl No");
    print_table("vla__uc_space", SET_WS, "White_Space (PropList.txt)");
    print_table("vla__uc_pyspace", SET_PY, "Python str.isspace(): bidi WS/B/S or Zs = White_Space + U+001C..U+001F");
    printf("/* END generated tables */\n");
    return 0;
}
