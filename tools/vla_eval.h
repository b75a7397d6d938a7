/* vla_eval.h - the metrics of VL-Adapter's tasks, for host programs.
 *
 * Static functions only (include it where it is used; nothing to define).
 * It may allocate (malloc): it is for tools and tests, not for the boards.
 * C99, libc and libm.
 *
 *   [E1] VQA: the official answer normalisation and accuracy
 *        (GT-Vision-Lab/VQA, PythonEvaluationTools/vqaEvaluation/vqaEval.py)
 *        and the soft scores VL-T5 trains on
 *   [E2] exact match (GQA, NLVR2, captions)
 *   [E3] caption tokenisation: a documented simplification of the PTB
 *        tokenizer that the COCO caption evaluation runs first
 *   [E4] CIDEr-D as pycocoevalcap's cider_scorer.py computes it
 *
 * [E1] VQA accuracy of one prediction against the humans' answers (10 in
 * VQA), as vqaEval.py evaluates it:
 *   1. every answer and the prediction: '\n' and '\t' become spaces, then
 *      leading and trailing whitespace is stripped;
 *   2. ONLY IF the stripped answers are not all the same string, the answers
 *      and the prediction are normalised (the official script skips step 2
 *      when the humans agree exactly: then "Two" does not match "2");
 *      normalisation = punctuation, then digits/articles/contractions:
 *      - punctuation: each of  ; / [ ] " { } ( ) = + \ _ - > < @ ` , ? !
 *        is deleted when the text (before this step) holds it followed or
 *        preceded by a space, or holds a digit, a comma and a digit in a
 *        row anywhere; otherwise it becomes a space.  Then every '.' that is
 *        not followed by a digit is deleted, at most the first 32 of them
 *        (the script passes re.UNICODE, 32, as re.sub's count);
 *      - lowercase, split at whitespace, "none" and "zero".."ten" become
 *        "0".."10", the articles a/an/the are dropped, words in the script's
 *        contraction table are replaced ("dont" -> "don't", ...), joined by
 *        single spaces;
 *   3. for each answer i: m_i = how many of the OTHER answers equal the
 *      prediction; accuracy = mean over i of min(1, m_i / 3).
 * Differences from Python, all outside ASCII: lowercase, whitespace and
 * digits are ASCII only here (Python's str methods and re's \d also know
 * Unicode letters, spaces and digits).  The four contraction keys with
 * capitals ("Im", "Ive", "Id've", "I'dve") are left out: after lowercasing
 * they can never match, so the result is the same.
 *
 * VL-T5 (and so VL-Adapter) trains on LXMERT's answer labels: each answer
 * normalised as above (always, plus commas removed: VL-T5's
 * normalize_answer), counted over the 10 answers, score = min(1, 0.3 *
 * count) (1 -> 0.3, 2 -> 0.6, 3 -> 0.9, 4+ -> 1).
 *
 * [E3] Tokenisation for CIDEr.  pycocoevalcap runs Stanford CoreNLP 3.4.1's
 * PTBTokenizer (-lowerCase -preserveLines) and drops the tokens '' ' `` `
 * -LRB- -RRB- -LCB- -RCB- . ? ! , : - -- ... ;  What this file does instead:
 *   - ASCII letters are lowercased (other bytes are kept as they are);
 *   - the text is cut at whitespace into chunks; in a chunk, the characters
 *     , ; : ? ! " ( ) [ ] { } and ` separate tokens and are dropped, except
 *     a ',' or ':' between two digits ("1,000", "3:30" stay whole);
 *   - a token loses its leading apostrophes and its trailing periods and
 *     apostrophes ("dogs'" -> "dogs", "end." -> "end"); periods inside stay
 *     ("3.5", "u.s");
 *   - the clitics 's 'm 'd 're 've 'll and n't are split off as tokens of
 *     their own ("dog's" -> "dog 's", "don't" -> "do n't"), as PTB does;
 *   - a token made only of - . ' characters is dropped ("-", "--", "...").
 * Where this differs from PTB: brackets (PTB keeps [ ] as -LSB- -RSB-),
 * abbreviations inside a sentence ("mr." keeps its period in PTB), "cannot"
 * / "gonna" (PTB splits them), "$5" / "5%" (PTB splits the symbol off),
 * non-ASCII letters (PTB lowercases them) and Unicode quotes.  On plain
 * lowercase words with commas and a final period, the captions here, both
 * give the same tokens.
 *
 * [E4] CIDEr-D over a set of N items (candidate + references each), as
 * pycocoevalcap computes it: n-grams n = 1..4 of the whitespace-split
 * tokens; document frequency df(g) = number of items whose references hold
 * g (the evaluated set's references only); weight of g in a sentence =
 * count * (log N - log max(1, df(g))); for each reference r and each n:
 * sum over the candidate's n-grams of min(w_c, w_r) * w_r (the clipping),
 * divided by |w_c| |w_r| when both are non-zero, times
 * exp(-(l_c - l_r)^2 / (2 * 6^2)) where l is the number of BIGRAMS of the
 * sentence (what the reference code counts as the length: words - 1, or 0);
 * item score = 10 * mean over n of the sum over references / #references;
 * the corpus score is the mean over items.  With N = 1 every weight is 0
 * (log 1 - log 1), so the score is 0, as in the reference code.
 */
#ifndef VLA_EVAL_H
#define VLA_EVAL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define VLA_EVAL_FN static __attribute__((unused))
#else
#define VLA_EVAL_FN static
#endif

/* ======================================================================
 * helpers: a growing string, Python's whitespace (ASCII part)
 * ====================================================================== */

typedef struct vla_eval__sb {
    char *p;
    size_t n, cap;
    int bad; /* an allocation failed */
} vla_eval__sb;

static void vla_eval__put(vla_eval__sb *b, const char *s, size_t n) {
    if (b->bad) return;
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 32;
        char *q;
        while (c < b->n + n + 1) c *= 2;
        q = (char *)realloc(b->p, c);
        if (!q) { b->bad = 1; return; }
        b->p = q;
        b->cap = c;
    }
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

static void vla_eval__putc(vla_eval__sb *b, char c) { vla_eval__put(b, &c, 1); }

/* The finished string (never NULL unless allocation failed). */
static char *vla_eval__take(vla_eval__sb *b) {
    vla_eval__put(b, "", 0);
    if (b->bad) { free(b->p); return NULL; }
    return b->p;
}

/* What Python's str.split() / str.strip() treat as whitespace, within ASCII. */
static int vla_eval__space(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13) || (c >= 0x1c && c <= 0x1f); }
static int vla_eval__digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* The next whitespace-separated word of s[*pos, n): its start and length,
 * 0 when there is none left. */
static int vla_eval__word(const char *s, size_t n, size_t *pos, size_t *start, size_t *len) {
    size_t i = *pos;
    while (i < n && vla_eval__space((unsigned char)s[i])) i++;
    if (i == n) { *pos = i; return 0; }
    *start = i;
    while (i < n && !vla_eval__space((unsigned char)s[i])) i++;
    *len = i - *start;
    *pos = i;
    return 1;
}

/* ======================================================================
 * [E1] VQA
 * ====================================================================== */

/* '\n' and '\t' -> ' ', then Python's strip().  Returns a malloc'd string. */
VLA_EVAL_FN char *vla_eval_vqa_strip(const char *s, size_t n) {
    vla_eval__sb b = {0, 0, 0, 0};
    size_t a = 0, e = n, i;
    while (a < e && vla_eval__space((unsigned char)s[a])) a++;
    while (e > a && vla_eval__space((unsigned char)s[e - 1])) e--;
    for (i = a; i < e; i++) vla_eval__putc(&b, s[i] == '\n' || s[i] == '\t' ? ' ' : s[i]);
    return vla_eval__take(&b);
}

/* processPunctuation of vqaEval.py. */
VLA_EVAL_FN char *vla_eval_vqa_punctuation(const char *s, size_t n) {
    static const char punct[] = ";/[]\"{}()=+\\_-><@`,?!";
    unsigned char drop[256];
    int comma_num = 0, periods = 0;
    size_t i;
    vla_eval__sb b = {0, 0, 0, 0}, c = {0, 0, 0, 0};
    char *out;
    memset(drop, 0, sizeof drop);
    for (i = 0; i + 2 < n; i++)
        if (vla_eval__digit((unsigned char)s[i]) && s[i + 1] == ',' && vla_eval__digit((unsigned char)s[i + 2])) comma_num = 1;
    for (i = 0; punct[i]; i++) {
        size_t k;
        int hit = comma_num;
        for (k = 0; !hit && k + 1 < n; k++)
            if ((s[k] == punct[i] && s[k + 1] == ' ') || (s[k] == ' ' && s[k + 1] == punct[i])) hit = 1;
        drop[(unsigned char)punct[i]] = (unsigned char)(hit ? 2 : 1);
    }
    for (i = 0; i < n; i++) {
        unsigned char d = drop[(unsigned char)s[i]];
        if (d == 2) continue;
        vla_eval__putc(&b, d == 1 ? ' ' : s[i]);
    }
    out = vla_eval__take(&b);
    if (!out) return NULL;
    /* periods not followed by a digit go, the first 32 of them */
    for (i = 0; out[i]; i++) {
        if (out[i] == '.' && periods < 32 && !vla_eval__digit((unsigned char)out[i + 1])) { periods++; continue; }
        vla_eval__putc(&c, out[i]);
    }
    free(out);
    return vla_eval__take(&c);
}

/* The contraction table of vqaEval.py (keys that can match lowercase words). */
static const char *const vla_eval__contr[] = {
    "aint", "ain't", "arent", "aren't", "cant", "can't", "couldve", "could've", "couldnt", "couldn't",
    "couldn'tve", "couldn't've", "couldnt've", "couldn't've", "didnt", "didn't", "doesnt", "doesn't",
    "dont", "don't", "hadnt", "hadn't", "hadnt've", "hadn't've", "hadn'tve", "hadn't've", "hasnt", "hasn't",
    "havent", "haven't", "hed", "he'd", "hed've", "he'd've", "he'dve", "he'd've", "hes", "he's",
    "howd", "how'd", "howll", "how'll", "hows", "how's", "isnt", "isn't", "itd", "it'd", "itd've", "it'd've",
    "it'dve", "it'd've", "itll", "it'll", "let's", "let's", "maam", "ma'am", "mightnt", "mightn't",
    "mightnt've", "mightn't've", "mightn'tve", "mightn't've", "mightve", "might've", "mustnt", "mustn't",
    "mustve", "must've", "neednt", "needn't", "notve", "not've", "oclock", "o'clock", "oughtnt", "oughtn't",
    "ow's'at", "'ow's'at", "'ows'at", "'ow's'at", "'ow'sat", "'ow's'at", "shant", "shan't",
    "shed've", "she'd've", "she'dve", "she'd've", "she's", "she's", "shouldve", "should've",
    "shouldnt", "shouldn't", "shouldnt've", "shouldn't've", "shouldn'tve", "shouldn't've",
    "somebody'd", "somebodyd", "somebodyd've", "somebody'd've", "somebody'dve", "somebody'd've",
    "somebodyll", "somebody'll", "somebodys", "somebody's", "someoned", "someone'd",
    "someoned've", "someone'd've", "someone'dve", "someone'd've", "someonell", "someone'll",
    "someones", "someone's", "somethingd", "something'd", "somethingd've", "something'd've",
    "something'dve", "something'd've", "somethingll", "something'll", "thats", "that's",
    "thered", "there'd", "thered've", "there'd've", "there'dve", "there'd've", "therere", "there're",
    "theres", "there's", "theyd", "they'd", "theyd've", "they'd've", "they'dve", "they'd've",
    "theyll", "they'll", "theyre", "they're", "theyve", "they've", "twas", "'twas", "wasnt", "wasn't",
    "wed've", "we'd've", "we'dve", "we'd've", "weve", "we've", "werent", "weren't", "whatll", "what'll",
    "whatre", "what're", "whats", "what's", "whatve", "what've", "whens", "when's", "whered", "where'd",
    "wheres", "where's", "whereve", "where've", "whod", "who'd", "whod've", "who'd've", "who'dve", "who'd've",
    "wholl", "who'll", "whos", "who's", "whove", "who've", "whyll", "why'll", "whyre", "why're",
    "whys", "why's", "wont", "won't", "wouldve", "would've", "wouldnt", "wouldn't", "wouldnt've", "wouldn't've",
    "wouldn'tve", "wouldn't've", "yall", "y'all", "yall'll", "y'all'll", "y'allll", "y'all'll",
    "yall'd've", "y'all'd've", "y'alld've", "y'all'd've", "y'all'dve", "y'all'd've", "youd", "you'd",
    "youd've", "you'd've", "you'dve", "you'd've", "youll", "you'll", "youre", "you're", "youve", "you've",
    NULL};

static const char *const vla_eval__numbers[] = {"none", "0", "zero", "0", "one", "1", "two", "2", "three", "3",
                                                "four", "4", "five", "5", "six", "6", "seven", "7", "eight", "8",
                                                "nine", "9", "ten", "10", NULL};

static const char *vla_eval__lookup(const char *const *table, const char *w, size_t n) {
    int i;
    for (i = 0; table[i]; i += 2)
        if (strlen(table[i]) == n && !memcmp(table[i], w, n)) return table[i + 1];
    return NULL;
}

/* processDigitArticle of vqaEval.py. */
VLA_EVAL_FN char *vla_eval_vqa_digit_article(const char *s, size_t n) {
    vla_eval__sb b = {0, 0, 0, 0};
    size_t pos = 0, st, len, i;
    char *low = (char *)malloc(n + 1);
    int first = 1;
    if (!low) return NULL;
    for (i = 0; i < n; i++) low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    low[n] = 0;
    while (vla_eval__word(low, n, &pos, &st, &len)) {
        const char *w = low + st, *m;
        size_t wl = len;
        if ((m = vla_eval__lookup(vla_eval__numbers, w, wl)) != NULL) { w = m; wl = strlen(m); }
        if ((wl == 1 && w[0] == 'a') || (wl == 2 && !memcmp(w, "an", 2)) || (wl == 3 && !memcmp(w, "the", 3))) continue;
        if ((m = vla_eval__lookup(vla_eval__contr, w, wl)) != NULL) { w = m; wl = strlen(m); }
        if (!first) vla_eval__putc(&b, ' ');
        vla_eval__put(&b, w, wl);
        first = 0;
    }
    free(low);
    return vla_eval__take(&b);
}

/* processPunctuation then processDigitArticle (the official normalisation
 * of an already stripped answer). */
VLA_EVAL_FN char *vla_eval_vqa_normalize(const char *s, size_t n) {
    char *p = vla_eval_vqa_punctuation(s, n), *r;
    if (!p) return NULL;
    r = vla_eval_vqa_digit_article(p, strlen(p));
    free(p);
    return r;
}

/* VL-T5's normalize_answer (strip, punctuation, digits/articles, commas
 * removed): the form in which an answer becomes a training label. */
VLA_EVAL_FN char *vla_eval_vqa_label(const char *s, size_t n) {
    char *a = vla_eval_vqa_strip(s, n), *r;
    size_t i, k = 0;
    if (!a) return NULL;
    r = vla_eval_vqa_normalize(a, strlen(a));
    free(a);
    if (!r) return NULL;
    for (i = 0; r[i]; i++)
        if (r[i] != ',') r[k++] = r[i];
    r[k] = 0;
    return r;
}

/* LXMERT's soft score of an answer given by `count` of the humans. */
VLA_EVAL_FN double vla_eval_vqa_soft_score(int count) {
    return count <= 0 ? 0.0 : count == 1 ? 0.3 : count == 2 ? 0.6 : count == 3 ? 0.9 : 1.0;
}

/* Official accuracy (0..1) of `pred` against answers[0, n) (n >= 1).
 * Returns a negative value when memory runs out. */
VLA_EVAL_FN double vla_eval_vqa_accuracy(const char *pred, const char *const *answers, int n) {
    char **a = (char **)calloc((size_t)n + 1, sizeof(char *));
    char *p = NULL;
    int i, j, differ = 0, ok = 1;
    double sum = 0.0;
    if (!a || n < 1) { free(a); return -1.0; }
    for (i = 0; i < n && ok; i++) ok = (a[i] = vla_eval_vqa_strip(answers[i], strlen(answers[i]))) != NULL;
    if (ok) ok = (p = vla_eval_vqa_strip(pred, strlen(pred))) != NULL;
    for (i = 1; ok && i < n; i++)
        if (strcmp(a[i], a[0])) differ = 1;
    if (ok && differ) {
        for (i = 0; i <= n && ok; i++) {
            char **slot = i < n ? &a[i] : &p;
            char *q = vla_eval_vqa_normalize(*slot, strlen(*slot));
            if (!q) ok = 0;
            else { free(*slot); *slot = q; }
        }
    }
    for (i = 0; ok && i < n; i++) {
        int m = 0;
        double acc;
        for (j = 0; j < n; j++)
            if (j != i && !strcmp(a[j], p)) m++;
        acc = (double)m / 3.0;
        sum += acc < 1.0 ? acc : 1.0;
    }
    for (i = 0; i < n; i++) free(a[i]);
    free(a);
    free(p);
    return ok ? sum / (double)n : -1.0;
}

/* ======================================================================
 * [E2] exact match: both sides stripped of leading/trailing whitespace
 * ====================================================================== */

VLA_EVAL_FN int vla_eval_exact(const char *pred, const char *target) {
    size_t a = 0, b = strlen(pred), c = 0, d = strlen(target);
    while (a < b && vla_eval__space((unsigned char)pred[a])) a++;
    while (b > a && vla_eval__space((unsigned char)pred[b - 1])) b--;
    while (c < d && vla_eval__space((unsigned char)target[c])) c++;
    while (d > c && vla_eval__space((unsigned char)target[d - 1])) d--;
    return b - a == d - c && !memcmp(pred + a, target + c, b - a);
}

/* ======================================================================
 * [E3] caption tokenisation (the PTB simplification described above)
 * ====================================================================== */

static int vla_eval__sep(const char *t, size_t n, size_t i) {
    char c = t[i];
    if (c == ',' || c == ':')
        return !(i > 0 && i + 1 < n && vla_eval__digit((unsigned char)t[i - 1]) && vla_eval__digit((unsigned char)t[i + 1]));
    return c == ';' || c == '?' || c == '!' || c == '"' || c == '(' || c == ')' || c == '[' || c == ']' || c == '{' ||
           c == '}' || c == '`';
}

static void vla_eval__emit(vla_eval__sb *b, const char *t, size_t n) {
    size_t k;
    for (k = 0; k < n; k++)
        if (t[k] != '-' && t[k] != '.' && t[k] != '\'') break;
    if (k == n) return; /* only - . ' : punctuation */
    if (b->n) vla_eval__putc(b, ' ');
    vla_eval__put(b, t, n);
}

/* One token (between separators): apostrophes/periods trimmed, clitics split. */
static void vla_eval__token(vla_eval__sb *b, const char *t, size_t n) {
    static const char *const clitics[] = {"n't", "'s", "'m", "'d", "'re", "'ve", "'ll", NULL};
    int i;
    for (i = 0; clitics[i]; i++)
        if (strlen(clitics[i]) == n && !memcmp(t, clitics[i], n)) { vla_eval__emit(b, t, n); return; }
    while (n && t[0] == '\'') { t++; n--; }
    while (n && (t[n - 1] == '.' || t[n - 1] == '\'')) n--;
    if (!n) return;
    for (i = 0; clitics[i]; i++) {
        size_t l = strlen(clitics[i]);
        if (n > l && !memcmp(t + n - l, clitics[i], l)) {
            vla_eval__token(b, t, n - l);
            vla_eval__emit(b, clitics[i], l);
            return;
        }
    }
    vla_eval__emit(b, t, n);
}

/* Tokens of s[0, n) joined by single spaces (malloc'd; NULL on OOM). */
VLA_EVAL_FN char *vla_eval_tokenize(const char *s, size_t n) {
    vla_eval__sb b = {0, 0, 0, 0};
    char *low = (char *)malloc(n + 1);
    size_t pos = 0, st, len, i;
    if (!low) return NULL;
    for (i = 0; i < n; i++) low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    low[n] = 0;
    while (vla_eval__word(low, n, &pos, &st, &len)) {
        const char *w = low + st;
        size_t a = 0;
        for (i = 0; i <= len; i++) {
            if (i == len || vla_eval__sep(w, len, i)) {
                if (i > a) vla_eval__token(&b, w + a, i - a);
                a = i + 1;
            }
        }
    }
    free(low);
    return vla_eval__take(&b);
}

/* ======================================================================
 * [E4] CIDEr-D
 * ====================================================================== */

typedef struct vla_eval_cider {
    double sigma;         /* 6 */
    /* words: interned strings */
    char **word;
    size_t n_word, cap_word;
    uint32_t *wtab;       /* open addressing, word index + 1, 0 = empty */
    size_t wtab_cap;
    /* n-grams (1..4 words) */
    uint32_t *gw;         /* 4 word ids per n-gram */
    unsigned char *gn;    /* its order */
    double *gdf;          /* document frequency over the items' references */
    size_t *glast;        /* last item (+1) that counted it */
    double *gscratch;     /* per-gram weight of the reference at hand */
    size_t n_gram, cap_gram;
    uint32_t *gtab;
    size_t gtab_cap;
    /* sentences, cooked: distinct n-grams in first-seen order and counts */
    size_t *s_off, *s_len;
    size_t n_sent, cap_sent;
    uint32_t *sg, *sc;
    size_t n_sg, cap_sg;
    /* items: candidate sentence, references [ref0, ref0 + n_ref) */
    size_t *it_cand, *it_ref0, *it_nref;
    size_t n_item, cap_item;
    int bad;
} vla_eval_cider;

VLA_EVAL_FN void vla_eval_cider_init(vla_eval_cider *c) {
    memset(c, 0, sizeof *c);
    c->sigma = 6.0;
}

VLA_EVAL_FN void vla_eval_cider_free(vla_eval_cider *c) {
    size_t i;
    for (i = 0; i < c->n_word; i++) free(c->word[i]);
    free(c->word); free(c->wtab);
    free(c->gw); free(c->gn); free(c->gdf); free(c->glast); free(c->gscratch); free(c->gtab);
    free(c->s_off); free(c->s_len); free(c->sg); free(c->sc);
    free(c->it_cand); free(c->it_ref0); free(c->it_nref);
    memset(c, 0, sizeof *c);
}

/* Grow *p (elements of `size` bytes) to hold at least `need`. */
static int vla_eval__grow(void **p, size_t *cap, size_t need, size_t size) {
    size_t c = *cap ? *cap : 16;
    void *q;
    if (need <= *cap) return 1;
    while (c < need) c *= 2;
    q = realloc(*p, c * size);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

static uint64_t vla_eval__hash(const void *p, size_t n) {
    const unsigned char *s = (const unsigned char *)p;
    uint64_t h = 1469598103934665603ull;
    size_t i;
    for (i = 0; i < n; i++) { h ^= s[i]; h *= 1099511628211ull; }
    return h ^ (h >> 29);
}

/* Rebuild an open-addressing table of `count` entries keyed by key(i). */
static int vla_eval__rehash(uint32_t **tab, size_t *cap, size_t count, uint64_t (*key)(const vla_eval_cider *, size_t),
                            const vla_eval_cider *c) {
    size_t nc = *cap ? *cap * 2 : 256, i;
    uint32_t *t = (uint32_t *)calloc(nc, sizeof(uint32_t));
    if (!t) return 0;
    for (i = 0; i < count; i++) {
        size_t h = (size_t)(key(c, i) & (nc - 1));
        while (t[h]) h = (h + 1) & (nc - 1);
        t[h] = (uint32_t)(i + 1);
    }
    free(*tab);
    *tab = t;
    *cap = nc;
    return 1;
}

static uint64_t vla_eval__wkey(const vla_eval_cider *c, size_t i) { return vla_eval__hash(c->word[i], strlen(c->word[i])); }
static uint64_t vla_eval__gkey(const vla_eval_cider *c, size_t i) {
    return vla_eval__hash(c->gw + 4 * i, sizeof(uint32_t) * c->gn[i]) + c->gn[i];
}

static long vla_eval__word_id(vla_eval_cider *c, const char *w, size_t n) {
    size_t h;
    char *copy;
    if ((c->n_word + 1) * 2 > c->wtab_cap && !vla_eval__rehash(&c->wtab, &c->wtab_cap, c->n_word, vla_eval__wkey, c)) return -1;
    h = (size_t)(vla_eval__hash(w, n) & (c->wtab_cap - 1));
    while (c->wtab[h]) {
        const char *x = c->word[c->wtab[h] - 1];
        if (strlen(x) == n && !memcmp(x, w, n)) return (long)(c->wtab[h] - 1);
        h = (h + 1) & (c->wtab_cap - 1);
    }
    if (!vla_eval__grow((void **)&c->word, &c->cap_word, c->n_word + 1, sizeof(char *))) return -1;
    copy = (char *)malloc(n + 1);
    if (!copy) return -1;
    memcpy(copy, w, n);
    copy[n] = 0;
    c->word[c->n_word] = copy;
    c->wtab[h] = (uint32_t)(c->n_word + 1);
    return (long)c->n_word++;
}

static long vla_eval__gram_id(vla_eval_cider *c, const uint32_t *w, int n) {
    size_t h, cap;
    if ((c->n_gram + 1) * 2 > c->gtab_cap && !vla_eval__rehash(&c->gtab, &c->gtab_cap, c->n_gram, vla_eval__gkey, c)) return -1;
    h = (size_t)((vla_eval__hash(w, sizeof(uint32_t) * (size_t)n) + (uint64_t)n) & (c->gtab_cap - 1));
    while (c->gtab[h]) {
        size_t g = c->gtab[h] - 1;
        if (c->gn[g] == n && !memcmp(c->gw + 4 * g, w, sizeof(uint32_t) * (size_t)n)) return (long)g;
        h = (h + 1) & (c->gtab_cap - 1);
    }
    cap = c->cap_gram;
    if (!vla_eval__grow((void **)&c->gn, &cap, c->n_gram + 1, 1)) return -1;
    cap = c->cap_gram;
    if (!vla_eval__grow((void **)&c->gw, &cap, c->n_gram + 1, 4 * sizeof(uint32_t))) return -1;
    cap = c->cap_gram;
    if (!vla_eval__grow((void **)&c->gdf, &cap, c->n_gram + 1, sizeof(double))) return -1;
    cap = c->cap_gram;
    if (!vla_eval__grow((void **)&c->gscratch, &cap, c->n_gram + 1, sizeof(double))) return -1;
    cap = c->cap_gram;
    if (!vla_eval__grow((void **)&c->glast, &cap, c->n_gram + 1, sizeof(size_t))) return -1;
    c->cap_gram = cap;
    memset(c->gw + 4 * c->n_gram, 0, 4 * sizeof(uint32_t));
    memcpy(c->gw + 4 * c->n_gram, w, sizeof(uint32_t) * (size_t)n);
    c->gn[c->n_gram] = (unsigned char)n;
    c->gdf[c->n_gram] = 0.0;
    c->gscratch[c->n_gram] = 0.0;
    c->glast[c->n_gram] = 0;
    c->gtab[h] = (uint32_t)(c->n_gram + 1);
    return (long)c->n_gram++;
}

/* Cook one sentence (split at whitespace) into c's sentence list. */
static long vla_eval__cook(vla_eval_cider *c, const char *s) {
    size_t n = strlen(s), pos = 0, st, len, nw = 0, capw = 0, i, k;
    uint32_t *ids = NULL;
    size_t first = c->n_sg;
    long r = -1;
    while (vla_eval__word(s, n, &pos, &st, &len)) {
        long id = vla_eval__word_id(c, s + st, len);
        if (id < 0 || !vla_eval__grow((void **)&ids, &capw, nw + 1, sizeof(uint32_t))) goto out;
        ids[nw++] = (uint32_t)id;
    }
    for (k = 1; k <= 4; k++)
        for (i = 0; i + k <= nw; i++) {
            long g = vla_eval__gram_id(c, ids + i, (int)k);
            size_t q, cap;
            if (g < 0) goto out;
            for (q = first; q < c->n_sg; q++)
                if (c->sg[q] == (uint32_t)g) break;
            if (q < c->n_sg) { c->sc[q]++; continue; }
            cap = c->cap_sg;
            if (!vla_eval__grow((void **)&c->sg, &cap, c->n_sg + 1, sizeof(uint32_t))) goto out;
            cap = c->cap_sg;
            if (!vla_eval__grow((void **)&c->sc, &cap, c->n_sg + 1, sizeof(uint32_t))) goto out;
            c->cap_sg = cap;
            c->sg[c->n_sg] = (uint32_t)g;
            c->sc[c->n_sg] = 1;
            c->n_sg++;
        }
    {
        size_t cap = c->cap_sent;
        if (!vla_eval__grow((void **)&c->s_off, &cap, c->n_sent + 1, sizeof(size_t))) goto out;
        cap = c->cap_sent;
        if (!vla_eval__grow((void **)&c->s_len, &cap, c->n_sent + 1, sizeof(size_t))) goto out;
        c->cap_sent = cap;
    }
    c->s_off[c->n_sent] = first;
    c->s_len[c->n_sent] = c->n_sg - first;
    r = (long)c->n_sent++;
out:
    free(ids);
    return r;
}

/* Add an item: a candidate and n_refs >= 1 references, already tokenised
 * (split at whitespace).  0 on success, -1 on bad arguments or OOM. */
VLA_EVAL_FN int vla_eval_cider_add(vla_eval_cider *c, const char *cand, const char *const *refs, int n_refs) {
    long cs, r0 = -1;
    int i;
    size_t cap, q, item;
    if (c->bad || n_refs < 1) return -1;
    cs = vla_eval__cook(c, cand);
    if (cs < 0) { c->bad = 1; return -1; }
    item = c->n_item + 1; /* glast holds item + 1 */
    for (i = 0; i < n_refs; i++) {
        long rs = vla_eval__cook(c, refs[i]);
        if (rs < 0) { c->bad = 1; return -1; }
        if (i == 0) r0 = rs;
        for (q = c->s_off[rs]; q < c->s_off[rs] + c->s_len[rs]; q++) {
            uint32_t g = c->sg[q];
            if (c->glast[g] != item) { c->glast[g] = item; c->gdf[g] += 1.0; }
        }
    }
    cap = c->cap_item;
    if (!vla_eval__grow((void **)&c->it_cand, &cap, c->n_item + 1, sizeof(size_t))) { c->bad = 1; return -1; }
    cap = c->cap_item;
    if (!vla_eval__grow((void **)&c->it_ref0, &cap, c->n_item + 1, sizeof(size_t))) { c->bad = 1; return -1; }
    cap = c->cap_item;
    if (!vla_eval__grow((void **)&c->it_nref, &cap, c->n_item + 1, sizeof(size_t))) { c->bad = 1; return -1; }
    c->cap_item = cap;
    c->it_cand[c->n_item] = (size_t)cs;
    c->it_ref0[c->n_item] = (size_t)r0;
    c->it_nref[c->n_item] = (size_t)n_refs;
    c->n_item++;
    return 0;
}

/* Weights of sentence s: w[k] for its k-th distinct n-gram, the norms per
 * order, the bigram count. */
static void vla_eval__vec(const vla_eval_cider *c, size_t s, double ref_len, double *w, double norm[4], double *length) {
    size_t k, off = c->s_off[s];
    int n;
    for (n = 0; n < 4; n++) norm[n] = 0.0;
    *length = 0.0;
    for (k = 0; k < c->s_len[s]; k++) {
        uint32_t g = c->sg[off + k];
        double df = c->gdf[g] > 1.0 ? c->gdf[g] : 1.0;
        int order = c->gn[g] - 1;
        w[k] = (double)c->sc[off + k] * (ref_len - log(df));
        norm[order] += w[k] * w[k];
        if (order == 1) *length += (double)c->sc[off + k];
    }
    for (n = 0; n < 4; n++) norm[n] = sqrt(norm[n]);
}

/* The scores: per_item[i] (may be NULL) and the mean in *mean (0 for an
 * empty set).  0 on success, -1 on OOM or an earlier failure. */
VLA_EVAL_FN int vla_eval_cider_compute(vla_eval_cider *c, double *mean, double *per_item) {
    double ref_len, total = 0.0, *wc, *wr;
    size_t i, maxlen = 1;
    *mean = 0.0;
    if (c->bad) return -1;
    if (c->n_item == 0) return 0;
    for (i = 0; i < c->n_sent; i++)
        if (c->s_len[i] > maxlen) maxlen = c->s_len[i];
    wc = (double *)malloc(sizeof(double) * maxlen);
    wr = (double *)malloc(sizeof(double) * maxlen);
    if (!wc || !wr) { free(wc); free(wr); return -1; }
    ref_len = log((double)c->n_item);
    for (i = 0; i < c->n_item; i++) {
        size_t cs = c->it_cand[i], r, k;
        double norm_c[4], len_c, score[4] = {0.0, 0.0, 0.0, 0.0}, avg;
        int n;
        vla_eval__vec(c, cs, ref_len, wc, norm_c, &len_c);
        for (r = 0; r < c->it_nref[i]; r++) {
            size_t rs = c->it_ref0[i] + r;
            double norm_r[4], len_r, val[4] = {0.0, 0.0, 0.0, 0.0}, delta, pen;
            vla_eval__vec(c, rs, ref_len, wr, norm_r, &len_r);
            for (k = 0; k < c->s_len[rs]; k++) c->gscratch[c->sg[c->s_off[rs] + k]] = wr[k];
            for (k = 0; k < c->s_len[cs]; k++) {
                uint32_t g = c->sg[c->s_off[cs] + k];
                double h = wc[k], v = c->gscratch[g];
                val[c->gn[g] - 1] += (h < v ? h : v) * v;
            }
            for (k = 0; k < c->s_len[rs]; k++) c->gscratch[c->sg[c->s_off[rs] + k]] = 0.0;
            delta = len_c - len_r;
            pen = exp(-(delta * delta) / (2.0 * c->sigma * c->sigma));
            for (n = 0; n < 4; n++) {
                if (norm_c[n] != 0.0 && norm_r[n] != 0.0) val[n] /= norm_c[n] * norm_r[n];
                val[n] *= pen;
                score[n] += val[n];
            }
        }
        avg = (score[0] + score[1] + score[2] + score[3]) / 4.0;
        avg /= (double)c->it_nref[i];
        avg *= 10.0;
        if (per_item) per_item[i] = avg;
        total += avg;
    }
    free(wc);
    free(wr);
    *mean = total / (double)c->n_item;
    return 0;
}

#endif /* VLA_EVAL_H */
