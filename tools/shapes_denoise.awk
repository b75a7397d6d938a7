# tools/shapes_denoise.awk - the Shapes base model's "denoise" lines (tests/shapes.mk,
# docs/shapes.md "Fifth session"): BART-style text infilling over the words of the
# VQA, GQA and NLVR2 tasks, so that the base knows their vocabulary (question words
# in the encoder, answers such as "yes", "2", "true" as the first decoder token)
# without being trained on the tasks themselves: the answer is given in the input.
#
#   awk -f tools/shapes_denoise.awk vqa_train.jsonl gqa_train.jsonl nlvr_train.jsonl
#
# Each line of vla-shapes' VQA / GQA / NLVR2 files becomes
#   {"task": "denoise", "image": <its first picture>,
#    "input": "<answer>: <question with one word replaced by <mask>>",
#    "target": "<answer>: <question>", "id": "denoise-<id>"}
# The masked word is word (7 * line number) mod (number of words) + 1.  Lines
# without an input, an answer (VQA "answer", else "target") or a picture are
# dropped.  The picture paths are copied as they are.
function field(name,   re, m) {
    re = "\"" name "\": \"[^\"]*\""
    if (match($0, re)) {
        m = substr($0, RSTART, RLENGTH)
        sub("^\"" name "\": \"", "", m)
        sub("\"$", "", m)
        return m
    }
    return ""
}
{
    q = field("input"); a = field("answer"); if (a == "") a = field("target")
    img = field("image"); id = field("id")
    if (q == "" || a == "" || img == "") next
    n = split(q, w, " "); k = (NR * 7) % n + 1
    masked = ""
    for (i = 1; i <= n; i++) masked = masked (i > 1 ? " " : "") (i == k ? "<mask>" : w[i])
    printf "{\"task\": \"denoise\", \"image\": \"%s\", \"input\": \"%s: %s\", \"target\": \"%s: %s\", \"id\": \"denoise-%s\"}\n", img, a, masked, a, q, id
}
