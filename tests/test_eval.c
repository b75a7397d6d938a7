/* test_eval.c - tools/vla_eval.h and tools/vla-eval.c against the reference
 * implementations.
 *
 *   test_eval [WORKDIR]     (temporary JSONL files go to WORKDIR, default ".")
 *
 * The expected numbers below were printed once by the reference code and
 * committed as constants (the test never calls Python):
 *   - VQA: GT-Vision-Lab/VQA PythonEvaluationTools/vqaEvaluation/vqaEval.py
 *     (VQAEval.evaluate, processPunctuation, processDigitArticle), run with
 *     the system's Python 3.11 after turning its two Python 2 print
 *     statements into calls; 10 answers per question with answer_id 1..10
 *     as in the VQA annotations.  evalQA is rounded to 2 decimals (x100).
 *   - CIDEr-D: salaniz/pycocoevalcap cider/cider.py + cider_scorer.py (numpy
 *     1.24), unmodified apart from the package-relative import, on
 *     PRE-TOKENISED strings: this machine has Java but not the Stanford
 *     CoreNLP jar that pycocoevalcap's PTB tokenizer needs.  The values are
 *     repr() of the floats.
 * The tokeniser cases (our simplification of PTB, vla_eval.h [E3]) are
 * written by hand from the documented rules, not from PTB output.
 */
#define VLA_EVAL_NO_MAIN
#include "../tools/vla-eval.c"
#include "board/vla_check.h"

/* ---- VQA: official accuracy ---- */
typedef struct vqa_case {
    const char *pred;
    const char *ans[10];
    double want; /* evalQA: round(100 * acc, 2) */
} vqa_case;

#define R10(a) {a, a, a, a, a, a, a, a, a, a}
#define P40 "........................................"

static const vqa_case g_vqa[] = {
    {"2", R10("2"), 100.0},
    {"two", R10("2"), 0.0},
    {"two", {"2", "2", "2", "2", "2", "2", "2", "2", "2", "two"}, 100.0},
    {"Two ", R10("2"), 0.0},
    {"  2\n", R10("2"), 100.0},
    {"yes!", {"yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes.", "Yes"}, 100.0},
    {"the dog", {"dog", "dog", "a dog", "the dog", "dogs", "dog", "puppy", "Dog", "dog", "an dog"}, 100.0},
    {"dont know", {"don't know", "don't know", "don't know", "don't know", "dont know", "dont know", "no idea", "no idea", "no idea", "no idea"}, 100.0},
    {"1,000", {"1000", "1000", "1000", "1000", "1000", "1,000", "1,000", "1,000", "one thousand", "one thousand"}, 100.0},
    {"black/white", {"black and white", "black and white", "black and white", "black and white", "black and white", "black white",
                     "black white", "black / white", "black / white", "black / white"}, 100.0},
    {P40 "yes", {P40 "yes", P40 "yes", P40 "yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes"}, 90.0},
    {"3.5", {"3.5", "3.5", "3.5", "3.5", "3", "3", "3", "3.50", "3.50", "3.50"}, 100.0},
    {"none", {"0", "0", "0", "0", "0", "0", "zero", "zero", "none", "none"}, 100.0},
    {"red", {"red", "red", "orange", "orange", "orange", "orange", "orange", "orange", "orange", "orange"}, 60.0},
    {"red", {"red", "red", "red", "orange", "orange", "orange", "orange", "orange", "orange", "orange"}, 90.0},
    {"red", {"red", "orange", "orange", "orange", "orange", "orange", "orange", "orange", "orange", "orange"}, 30.0},
    {"red", {"Red", "Red", "Red", "Red", "red", "orange", "orange", "orange", "orange", "orange"}, 100.0},
    {"", {"yes", "yes", "yes", "yes", "yes", "no", "no", "no", "no", "no"}, 0.0},
    {"left - side", {"left side", "left side", "left side", "left side", "left side", "left side", "left-side", "left-side", "left-side", "left-side"}, 100.0},
    {"the", {"a", "a", "a", "the", "the", "the", "the", "the", "the", "the"}, 100.0},
    {"somebody'd", {"somebodyd", "somebodyd", "somebodyd", "somebodyd", "somebodyd", "somebody'd", "somebody'd", "somebody'd", "somebody'd", "somebody'd"}, 100.0},
    {"black\twhite", {"black white", "black white", "black white", "black white", "black white", "black white", "black white", "black white", "black white", "white"}, 100.0},
    {"what?", R10("what"), 0.0},
    {"a (big) dog", {"big dog", "big dog", "big dog", "a big dog", "a big dog", "(big) dog", "(big) dog", "dog", "dog", "dog"}, 100.0},
    {"10,5 kg", {"10,5 kg", "10,5 kg", "10.5 kg", "10.5 kg", "105 kg", "105 kg", "105 kg", "105 kg", "105 kg", "105 kg"}, 100.0},
    {"it's red", {"its red", "its red", "its red", "its red", "it's red", "it's red", "it's red", "red", "red", "red"}, 90.0},
    {"two dogs.", {"2 dogs", "2 dogs", "two dogs", "two dogs", "dogs", "dogs", "dogs", "dogs", "dogs", "dogs"}, 100.0},
    {"@home", {"home", "home", "home", "home", "@home", "@home", "@home", "at home", "at home", "at home"}, 100.0},
    {"x.y.z", {"xyz", "xyz", "xyz", "xyz", "x.y.z", "x.y.z", "x.y.z", "x y z", "x y z", "x y z"}, 100.0},
    {"YES", {"yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "yes", "no"}, 100.0},
};
static const double g_vqa_overall = 82.0; /* accuracy['overall'] of the 30 questions */

/* processDigitArticle(processPunctuation(s)); the label form (VL-T5's
 * normalize_answer) gave the same strings for all of these inputs. */
static const char *const g_norm[][2] = {
    {"Yes!", "yes"}, {"two dogs.", "2 dogs"}, {"1,000", "1000"}, {"black/white", "black white"},
    {"black / white", "black white"}, {"left - side", "left side"}, {"a (big) dog", "big dog"}, {"10,5 kg", "105 kg"},
    {"it's red", "it's red"}, {"@home", "home"}, {"x.y.z", "xyz"}, {P40 "yes", "........yes"}, {"3.5", "3.5"},
    {"none of them", "0 of them"}, {"The End...", "end"}, {"dont", "don't"}, {"somebody'd", "somebodyd"}, {"a, b", "b"},
    {"hello,world", "hello world"}, {"ten 10 Ten", "10 10 10"}, {"what's up?", "what's up"}, {"  spaced   out  ", "spaced out"},
    {"q=1+2", "q 1 2"}, {"under_score", "under score"}, {"<tag>", "tag"}, {"back\\slash", "back slash"}, {"`tick`", "tick"},
    {"semi;colon", "semi colon"}, {"{x}", "x"}, {"[y]", "y"},
};

/* ---- CIDEr-D: pycocoevalcap on pre-tokenised strings ---- */
typedef struct cider_item {
    const char *cand;
    const char *refs[6];
} cider_item;

static const cider_item g_main[] = {
    {"two small red circles and a large green square",
     {"two small red circles and a large green square", "a large green square and two small red circles"}},
    {"a a a a red red circle", {"a red circle", "one red circle on a white background", "a small red circle"}},
    {"", {"a blue square"}},
    {"circle", {"a small yellow circle", "a yellow circle", "yellow circle", "one small yellow circle in the middle", "circle"}},
    {"a large purple triangle and a small purple triangle and a small blue square and more words here",
     {"a large purple triangle and a small purple triangle"}},
    {"three small green circles", {"three small green circles", "three small green circles", "three green circles"}},
};
static const double g_main_per[] = {8.304395683139118, 1.6141120360818029, 0.0, 1.31819780247492, 2.0416907296643316, 7.821602470531176};
static const double g_main_mean = 3.516666453648558;

/* the same captions as people write them: our tokeniser must give g_main */
static const cider_item g_main_raw[] = {
    {"Two small red circles, and a large GREEN square.",
     {"two small red circles and a large green square", "A large green square -- and two small red circles!"}},
    {"A a a a red, red circle...", {"A red circle.", "One red circle on a white background", "a small (red) circle"}},
    {"  .  ", {"\"A blue square\""}},
    {"Circle.", {"a small yellow circle", "A yellow circle;", "yellow circle", "one small yellow circle in the middle.", "`circle'"}},
    {"A large purple triangle and a small purple triangle, and a small blue square and more words here.",
     {"a large purple triangle and a small purple triangle"}},
    {"Three small green circles", {"three small green circles.", "Three small green circles", "three green circles"}},
};

static const cider_item g_single[] = {{"a red circle", {"a red circle"}}};

static const cider_item g_same[] = {
    {"a red circle", {"a red circle"}},
    {"a blue circle", {"a red circle"}},
    {"red circle a", {"a red circle"}},
    {"a small red square", {"a small red square", "two large blue squares and a yellow triangle"}},
};
static const double g_same_per[] = {7.5, 0.5079744465759086, 2.8591921758433085, 5.0};
static const double g_same_mean = 3.966791655604804;

static const cider_item g_shapes[] = {
    {"two small red circles , a large green square and a small yellow triangle",
     {"two small red circles , a large green square and a small yellow triangle"}},
    {"a small red circle", {"a large red circle"}},
    {"a large blue square and a small purple triangle", {"a large blue square and a small purple triangle"}},
    {"four small yellow squares", {"three small yellow squares"}},
    {"a small green triangle and a small green triangle", {"two small green triangles"}},
};
static const double g_shapes_per[] = {10.0, 3.5313360646320238, 10.0, 4.107480526765177, 0.6104417908908223};
static const double g_shapes_mean = 5.649851676457604;

static int n_refs(const cider_item *it) {
    int n = 0;
    while (n < 6 && it->refs[n]) n++;
    return n;
}

/* CIDEr-D of a set; tokenise = 1 runs vla_eval_tokenize on every string first. */
static void check_cider(const char *name, const cider_item *items, int n, const double *want_per, double want_mean, int tokenise) {
    vla_eval_cider c;
    double per[16], mean = -1.0;
    int i, ok = 1;
    vc_cmp cmp;
    vla_eval_cider_init(&c);
    for (i = 0; i < n; i++) {
        int k, nr = n_refs(&items[i]);
        char *cand = tokenise ? vla_eval_tokenize(items[i].cand, strlen(items[i].cand)) : NULL;
        char *toks[6] = {0};
        const char *refs[6];
        for (k = 0; k < nr; k++) {
            if (tokenise) toks[k] = vla_eval_tokenize(items[i].refs[k], strlen(items[i].refs[k]));
            refs[k] = tokenise ? toks[k] : items[i].refs[k];
        }
        if (vla_eval_cider_add(&c, tokenise ? cand : items[i].cand, refs, nr)) ok = 0;
        free(cand);
        for (k = 0; k < nr; k++) free(toks[k]);
    }
    VC_CHECKF(ok, "%s: cider_add", name);
    VC_CHECKF(vla_eval_cider_compute(&c, &mean, per) == 0, "%s: compute", name);
    vc_cmp_init(&cmp);
    for (i = 0; i < n; i++) vc_cmp_add(&cmp, i, per[i], want_per ? want_per[i] : 0.0, 1e-12 * (1.0 + fabs(want_per ? want_per[i] : 0.0)));
    vc_cmp_add(&cmp, n, mean, want_mean, 1e-12 * (1.0 + fabs(want_mean)));
    VC_CHECK_CMP(&cmp, "CIDEr-D %s%s (per item, then the mean)", name, tokenise ? " (tokenised here)" : "");
    vla_eval_cider_free(&c);
}

/* ---- the tokeniser (hand-written from the rules in vla_eval.h) ---- */
static const char *const g_tok[][2] = {
    {"Two small red circles, and a large GREEN square.", "two small red circles and a large green square"},
    {"A dog's ball (red) -- isn't it?", "a dog 's ball red is n't it"},
    {"It costs 1,000 dollars; at 3:30.", "it costs 1,000 dollars at 3:30"},
    {"\"Quoted\" `word' ...", "quoted word"},
    {"e.g. 3.5 u.s.", "e.g 3.5 u.s"},
    {"well-known  red-circle - x", "well-known red-circle x"},
    {"", ""},
    {"   ...   ", ""},
    {"They're here, we've seen; I'm sure", "they 're here we 've seen i 'm sure"},
    {"a,b:c", "a b c"},
    {"the dogs' bowls", "the dogs bowls"},
    {"[boxed] {braced}", "boxed braced"},
    {"Can't stop!", "ca n't stop"},
    {"dog 's", "dog 's"},
    {"tab\tand\nnewline", "tab and newline"},
};

/* ---- vla-eval end to end ---- */
static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    fputs(text, f);
    return fclose(f) == 0;
}

static const ev_task *find_task(const ev_result *r, const char *name) {
    int i;
    for (i = 0; i < r->n_tasks; i++)
        if (!strcmp(r->t[i].name, name)) return &r->t[i];
    return NULL;
}

static void test_cli(const char *dir) {
    char refs[1024], preds[1024], scores[1024], err[1024];
    ev_opts o;
    ev_result r;
    const ev_task *T;
    int rc;
    snprintf(refs, sizeof refs, "%s/test_eval_refs.jsonl", dir);
    snprintf(preds, sizeof preds, "%s/test_eval_preds.jsonl", dir);
    snprintf(scores, sizeof scores, "%s/test_eval_scores.jsonl", dir);
    VC_CHECK(write_file(refs,
        "{\"task\": \"vqa\", \"id\": 1, \"image\": \"a.ppm\", \"input\": \"how many?\", \"answers\": {\"2\": 1}, "
        "\"all_answers\": [\"2\", \"2\", \"2\", \"2\", \"2\", \"2\", \"2\", \"2\", \"2\", \"two\"]}\n"
        "{\"task\": \"vqa\", \"id\": \"q2\", \"answers\": {\"red\": 0.6, \"orange\": 1}, "
        "\"all_answers\": [\"red\", \"red\", \"orange\", \"orange\", \"orange\", \"orange\", \"orange\", \"orange\", \"orange\", \"orange\"]}\n"
        "{\"task\": \"vqa\", \"id\": \"q3\", \"answers\": {\"red\": 0.6, \"orange\": 1}}\n"
        "\n"
        "{\"task\": \"gqa\", \"id\": \"g1\", \"target\": \"left\"}\n"
        "{\"task\": \"gqa\", \"id\": \"g2\", \"target\": \"blue\"}\n"
        "{\"task\": \"nlvr\", \"id\": \"n1\", \"target\": \"true\"}\n"
        "{\"task\": \"nlvr\", \"id\": \"n2\", \"target\": \"false\"}\n"
        "{\"task\": \"nlvr\", \"id\": \"n3\", \"target\": \"false\"}\n"
        "{\"task\": \"nlvr\", \"id\": \"n4\", \"target\": \"true\"}\n"
        "{\"task\": \"caption\", \"id\": \"c1\", \"target\": \"two small red circles and a large green square\", "
        "\"refs\": [\"Two small red circles, and a large GREEN square.\", \"A large green square -- and two small red circles!\"]}\n"
        "{\"task\": \"caption\", \"id\": \"c2\", \"refs\": [\"A red circle.\", \"One red circle on a white background\", \"a small (red) circle\"]}\n"
        "{\"task\": \"caption\", \"id\": \"c3\", \"target\": \"\\\"A blue square\\\"\"}\n"
        "{\"task\": \"caption\", \"id\": \"c4\", \"refs\": [\"a small yellow circle\", \"A yellow circle;\", \"yellow circle\", "
        "\"one small yellow circle in the middle.\", \"`circle'\"]}\n"
        "{\"task\": \"caption\", \"id\": \"c5\", \"refs\": [\"a large purple triangle and a small purple triangle\"]}\n"
        "{\"task\": \"caption\", \"id\": \"c6\", \"refs\": [\"three small green circles.\", \"Three small green circles\", \"three green circles\"]}\n"
        "{\"task\": \"count\", \"id\": \"x1\", \"target\": \"3\"}\n"));
    VC_CHECK(write_file(preds,
        "{\"id\": \"1\", \"prediction\": \" two\"}\n"
        "{\"id\": \"q2\", \"prediction\": \"Red\", \"epoch\": 3}\n"
        "{\"id\": \"q3\", \"prediction\": \"red \"}\n"
        "{\"id\": \"g1\", \"prediction\": \"left\"}\n"
        "{\"id\": \"g2\", \"prediction\": \"Blue\"}\n"
        "{\"id\": \"n1\", \"prediction\": \"true\"}\n"
        "{\"id\": \"n2\", \"prediction\": \"false\"}\n"
        "{\"id\": \"n3\", \"prediction\": \"true\"}\n"
        "{\"id\": \"n4\", \"prediction\": \"true\"}\n"
        "{\"id\": \"c1\", \"prediction\": \"two small red circles and a large green square\"}\n"
        "{\"id\": \"c2\", \"prediction\": \"A a a a red, red circle...\"}\n"
        "{\"id\": \"c3\", \"prediction\": \"  .  \"}\n"
        "{\"id\": \"c4\", \"prediction\": \"Circle.\"}\n"
        "{\"id\": \"c5\", \"prediction\": \"A large purple triangle and a small purple triangle, and a small blue square and more words here.\"}\n"
        "{\"id\": \"c6\", \"prediction\": \"Three small green circles\"}\n"
        "{\"id\": \"x1\", \"prediction\": \"3\"}\n"));
    memset(&o, 0, sizeof o);
    o.data = refs;
    o.pred = preds;
    o.scores = scores;
    rc = ev_run(&o, &r, err, sizeof err);
    VC_CHECKF(rc == 0, "ev_run: %s", rc ? err : "");
    if (rc) return;
    ev_print(stdout, &r);
    { /* --summary: one line per task; the caption's CIDEr-D is pycocoevalcap's (g_main_mean) */
        char sum_path[1100], want[512];
        FILE *f;
        size_t n;
        unsigned char *got;
        snprintf(sum_path, sizeof sum_path, "%s/test_eval_summary.tsv", dir);
        f = fopen(sum_path, "w");
        VC_CHECK(f != NULL);
        if (f) { ev_summary(f, &r); fclose(f); }
        got = vla_tool_read_file(sum_path, &n, err, sizeof err);
        snprintf(want, sizeof want, "vqa\t3\t73.33\t-\ngqa\t2\t50.00\t-\nnlvr\t4\t75.00\t-\ncaption\t6\t16.67\t%.2f\ncount\t1\t100.00\t-\n",
                 100.0 * g_main_mean);
        VC_CHECKF(got && n == strlen(want) && !memcmp(got, want, n), "--summary wrote:\n%.*s", got ? (int)n : 0, got ? (const char *)got : "");
        free(got);
    }
    VC_CHECK(r.n_used == 16 && r.n_joined == 16 && r.n_missing == 0 && r.n_tasks == 5);
    T = find_task(&r, "vqa");
    /* 1.0 (normalised, the answers differ) + 0.6 (2 of 10 say red) + 0.6 (the score of "red") */
    VC_CHECKF(T && T->n == 3 && fabs(T->sum - 2.2) < 1e-12, "vqa sum %g", T ? T->sum : -1.0);
    VC_CHECK(T && T->rule == (EV_RULE_HUMANS | EV_RULE_SCORES));
    T = find_task(&r, "gqa");
    VC_CHECK(T && T->n == 2 && T->sum == 1.0);
    T = find_task(&r, "nlvr");
    VC_CHECK(T && T->n == 4 && T->sum == 3.0);
    T = find_task(&r, "count");
    VC_CHECK(T && T->n == 1 && T->sum == 1.0);
    T = find_task(&r, "caption");
    VC_CHECK(T && T->n == 6 && T->exact_sum == 1.0 && T->cider.n_item == 6);
    VC_CHECKF(T && fabs(T->cider_mean - g_main_mean) < 1e-12, "caption CIDEr-D %.17g, want %.17g", T ? T->cider_mean : -1.0, g_main_mean);
    ev_result_free(&r);
    {
        size_t n;
        unsigned char *s = vla_tool_read_file(scores, &n, err, sizeof err);
        int lines = 0;
        size_t i;
        for (i = 0; s && i < n; i++) lines += s[i] == '\n';
        VC_CHECKF(s && lines == 16, "--scores wrote %d lines", lines);
        VC_CHECK(s && strstr((const char *)s, "{\"id\": \"c1\", \"task\": \"caption\", \"score\": 1, \"cider\": 8.3043956831391"));
        free(s);
    }
    /* --task */
    o.scores = NULL;
    o.task = "nlvr";
    rc = ev_run(&o, &r, err, sizeof err);
    VC_CHECK(rc == 0 && r.n_tasks == 1 && r.n_used == 4 && r.t[0].sum == 3.0);
    if (!rc) ev_result_free(&r);
    o.task = NULL;
    /* a missing prediction: an error, or left out with --allow-missing */
    VC_CHECK(write_file(preds, "{\"id\": \"g1\", \"prediction\": \"left\"}\n{\"id\": 1, \"prediction\": \"2\"}\n"));
    rc = ev_run(&o, &r, err, sizeof err);
    VC_CHECKF(rc != 0 && strstr(err, "no prediction for id 'q2'"), "missing: %s", err);
    o.allow_missing = 1;
    rc = ev_run(&o, &r, err, sizeof err);
    VC_CHECK(rc == 0 && r.n_joined == 2 && r.n_missing == 14 && r.n_tasks == 2);
    if (!rc) ev_result_free(&r);
    /* an unknown id, a duplicate id, bad JSON, no prediction member */
    VC_CHECK(write_file(preds, "{\"id\": \"zz\", \"prediction\": \"left\"}\n"));
    rc = ev_run(&o, &r, err, sizeof err);
    VC_CHECKF(rc != 0 && strstr(err, "id 'zz' is not in the reference file"), "unknown: %s", err);
    VC_CHECK(write_file(preds, "{\"id\": \"g1\", \"prediction\": \"left\"}\n{\"id\": \"g1\", \"prediction\": \"x\"}\n"));
    rc = ev_run(&o, &r, err, sizeof err);
    VC_CHECKF(rc != 0 && strstr(err, ":2: id 'g1' appears twice"), "duplicate: %s", err);
    VC_CHECK(write_file(preds, "{\"id\": \"g1\", \"prediction\": \"left\"\n"));
    rc = ev_run(&o, &r, err, sizeof err);
    VC_CHECKF(rc != 0 && strstr(err, ":1: not valid JSON"), "bad JSON: %s", err);
    VC_CHECK(write_file(preds, "\n\n{\"id\": \"g1\", \"answer\": \"left\"}\n"));
    rc = ev_run(&o, &r, err, sizeof err);
    VC_CHECKF(rc != 0 && strstr(err, "test_eval_preds.jsonl:3: \"prediction\" is missing"), "no prediction: %s", err);
    VC_CHECK(write_file(preds, "{\"id\": \"g1\", \"prediction\": \"left\"}\n"));
    VC_CHECK(write_file(refs, "{\"task\": \"gqa\", \"target\": \"left\"}\n"));
    rc = ev_run(&o, &r, err, sizeof err);
    VC_CHECKF(rc != 0 && strstr(err, "needs an \"id\""), "no id: %s", err);
    remove(refs);
    remove(preds);
    remove(scores);
}

int main(int argc, char **argv) {
    const char *dir = ".";
    size_t i;
    int a;
    vc_init(argc, argv);
    for (a = 1; a < argc; a++)
        if (argv[a][0] != '-') dir = argv[a];

    vc_section("vqa accuracy (vqaEval.py)");
    {
        vc_cmp c;
        double sum = 0.0;
        vc_cmp_init(&c);
        for (i = 0; i < sizeof g_vqa / sizeof g_vqa[0]; i++) {
            double acc = vla_eval_vqa_accuracy(g_vqa[i].pred, g_vqa[i].ans, 10);
            sum += acc;
            vc_cmp_add(&c, (long)i, 100.0 * acc, g_vqa[i].want, 1e-9);
        }
        VC_CHECK_CMP(&c, "per question (x100)");
        VC_CHECKF(fabs(100.0 * sum / (double)(sizeof g_vqa / sizeof g_vqa[0]) - g_vqa_overall) < 1e-9, "overall %g", 100.0 * sum / 30.0);
        VC_CHECK(fabs(vla_eval_vqa_accuracy("a", (const char *const[]){"a"}, 1) - 0.0) < 1e-12); /* one answer: nobody else */
    }

    vc_section("vqa normalisation");
    for (i = 0; i < sizeof g_norm / sizeof g_norm[0]; i++) {
        char *n = vla_eval_vqa_normalize(g_norm[i][0], strlen(g_norm[i][0]));
        char *l = vla_eval_vqa_label(g_norm[i][0], strlen(g_norm[i][0]));
        VC_CHECKF(n && !strcmp(n, g_norm[i][1]), "normalize('%s') = '%s', want '%s'", g_norm[i][0], n ? n : "(null)", g_norm[i][1]);
        VC_CHECKF(l && !strcmp(l, g_norm[i][1]), "label('%s') = '%s', want '%s'", g_norm[i][0], l ? l : "(null)", g_norm[i][1]);
        free(n);
        free(l);
    }
    {
        char *l = vla_eval_vqa_label(" 1,000,000 \n", 12);
        VC_CHECK(l && !strcmp(l, "1000000"));
        free(l);
        VC_CHECK(vla_eval_vqa_soft_score(0) == 0.0 && vla_eval_vqa_soft_score(1) == 0.3 && vla_eval_vqa_soft_score(2) == 0.6 &&
                 vla_eval_vqa_soft_score(3) == 0.9 && vla_eval_vqa_soft_score(4) == 1.0 && vla_eval_vqa_soft_score(10) == 1.0);
    }

    vc_section("exact match");
    VC_CHECK(vla_eval_exact(" left\n", "left"));
    VC_CHECK(!vla_eval_exact("Left", "left"));
    VC_CHECK(vla_eval_exact("", "  "));
    VC_CHECK(!vla_eval_exact("a small red circle.", "a small red circle"));

    vc_section("tokeniser");
    for (i = 0; i < sizeof g_tok / sizeof g_tok[0]; i++) {
        char *t = vla_eval_tokenize(g_tok[i][0], strlen(g_tok[i][0]));
        VC_CHECKF(t && !strcmp(t, g_tok[i][1]), "tokenize('%s') = '%s', want '%s'", g_tok[i][0], t ? t : "(null)", g_tok[i][1]);
        free(t);
    }

    vc_section("CIDEr-D (pycocoevalcap)");
    check_cider("main", g_main, 6, g_main_per, g_main_mean, 0);
    check_cider("main", g_main_raw, 6, g_main_per, g_main_mean, 1);
    {
        static const double zero[1] = {0.0};
        check_cider("one item", g_single, 1, zero, 0.0, 0);
    }
    check_cider("shared references", g_same, 4, g_same_per, g_same_mean, 0);
    check_cider("shapes captions", g_shapes, 5, g_shapes_per, g_shapes_mean, 0);
    {
        vla_eval_cider c;
        double m = 1.0;
        vla_eval_cider_init(&c);
        VC_CHECK(vla_eval_cider_compute(&c, &m, NULL) == 0 && m == 0.0); /* empty set */
        VC_CHECK(vla_eval_cider_add(&c, "a", NULL, 0) == -1);            /* no references */
        vla_eval_cider_free(&c);
    }

    vc_section("vla-eval files");
    test_cli(dir);

    vc_selftest();
    return vc_summary();
}
