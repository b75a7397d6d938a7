#!/usr/bin/env bash
# tests/test_vla_data.sh [BUILD_DIR] - tools/vla-data: the official VL-T5 /
# VL-Adapter data files converted to vla-train's JSONL.
#
#   1. tests/data/official/ holds small files in the official layouts (VQA
#      karpathy_train/val, GQA train/testdev, NLVR2 train + a JSON-lines
#      valid, Karpathy's dataset_coco.json); each is converted and compared
#      byte for byte with tests/data/official/expected/*.jsonl, written by
#      hand.  Run with the normal build and with an ASan/UBSan build.
#   2. options: --limit, --image-pattern, --image-ext, --images with and
#      without a trailing '/', no --images, several inputs, stdout, --absolute,
#      --check-images, a repeated label answer, the relative-path note
#   3. malformed inputs (truncated, missing fields, wrong types, bad JSON,
#      bad UTF-8, ...): each an error naming FILE:LINE, exit status 1 (never a
#      signal), and no output file left behind (an old one is kept)
#   4. a 40 MB generated file converted under a 24 MB address-space limit
#      (the reader streams), with progress lines
#   5. build/vla-train accepts the converted files: a tiny model (vla-mkmodel
#      --preset tiny, the real tokenizer), one step on the converted VQA file,
#      then one epoch on all four tasks with the evaluation files as --dev
# Prints "N passed, M failed"; exit status 1 if anything failed.
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
FIX=${FIXTURES:-tests/fixtures}
CC=${CC:-cc}
O=tests/data/official
E=$O/expected
T=$B/test_vla_data
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

# ---- build: the Makefile's rule when it has one ----
mkdir -p "$B"
if grep -q '^\$(B)/vla-data:' Makefile; then
    make -s B="$B" "$B/vla-data" || { echo "build failed"; exit 1; }
else
    $CC -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 tools/vla-data.c -o "$B/vla-data" -lm || { echo "build failed"; exit 1; }
fi
$CC -std=c99 -Wall -Wextra -Wpedantic -Werror -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
    -fno-sanitize-recover=undefined tools/vla-data.c -o "$B/vla-data_asan" -lm || { echo "build failed"; exit 1; }

START=$(date +%s)
rm -rf "$T"
mkdir -p "$T"

for BIN in "$B/vla-data" "$B/vla-data_asan"; do
    tag=$(basename "$BIN")

    # ---- 1. every official layout, byte for byte ----
    conv() { # conv EXPECTED ARGS...: converting must succeed and give EXPECTED exactly
        local exp=$1
        shift
        rm -f "$T/out.jsonl"
        if "$BIN" --quiet "$@" -o "$T/out.jsonl" 2>"$T/err.log" && cmp -s "$T/out.jsonl" "$E/$exp"; then
            ok "$tag: $exp"
        else
            bad "$tag: $exp: $(head -c 300 "$T/err.log")"
            diff "$T/out.jsonl" "$E/$exp" | head -n 6
        fi
    }
    conv vqa_train.jsonl --task vqa --images /data/coco/images $O/vqa/karpathy_train.json
    conv vqa_val.jsonl --task vqa --split karpathy_val --images /data/coco/images $O/vqa/karpathy_val.json
    conv gqa_train.jsonl --task gqa --images /data/vg/VG_100K $O/gqa/train.json
    conv gqa_testdev.jsonl --task gqa --split testdev --images /data/gqa/images $O/gqa/testdev.json
    conv nlvr_train.jsonl --task nlvr --images /data/nlvr/images $O/nlvr/train.json
    conv nlvr_valid.jsonl --task nlvr --split valid --images /data/nlvr/images $O/nlvr/valid.jsonl
    conv caption_train.jsonl --task caption --images /data/coco/images $O/coco/dataset_coco.json
    conv caption_val.jsonl --task caption --split val --images /data/coco/images $O/coco/dataset_coco.json
    conv caption_test.jsonl --task caption --split karpathy_test --images /data/coco/images $O/coco/dataset_coco.json
done
BIN=$B/vla-data

# ---- 2. options ----
run() { "$BIN" --quiet "$@" 2>"$T/err.log"; } # the output on stdout
check "stdout gives the same bytes as -o" cmp -s <(run --task vqa --images /data/coco/images $O/vqa/karpathy_train.json) "$E/vqa_train.jsonl"
check "--limit 2 stops after two lines" cmp -s <(run --task vqa --limit 2 --images /data/coco/images $O/vqa/karpathy_train.json) \
    <(head -n 2 "$E/vqa_train.jsonl")
check "--limit 1 stops inside an image's captions" cmp -s <(run --task caption --limit 1 --images /data/coco/images $O/coco/dataset_coco.json) \
    <(head -n 1 "$E/caption_train.jsonl")
check "--image-pattern {digits}.jpg (COCO 2017 names)" grep -q '^{"task": "vqa", "image": "/coco/train2017/000000458752.jpg", "input"' \
    <(run --task vqa --images /coco/train2017 --image-pattern '{digits}.jpg' $O/vqa/karpathy_train.json)
check "--image-ext png" grep -q '"image": "/i/val2014/COCO_val2014_000000393225.png"' \
    <(run --task vqa --images /i --image-ext png $O/vqa/karpathy_train.json)
check "--image-ext .jpeg on nlvr" grep -q '"image": "/n/train-10171-0-img0.jpeg", "image2": "/n/train-10171-0-img1.jpeg"' \
    <(run --task nlvr --images /n --image-ext .jpeg $O/nlvr/train.json)
check "--images DIR/ gives no double slash" cmp -s <(run --task gqa --images /data/vg/VG_100K/ $O/gqa/train.json) "$E/gqa_train.jsonl"
check "no --images: the pattern alone" grep -q '^{"task": "gqa", "image": "2375429.jpg", ' <(run --task gqa $O/gqa/train.json)
check "two inputs are converted one after the other" cmp -s \
    <(run --task gqa --images /data/gqa/images $O/gqa/train.json $O/gqa/testdev.json) \
    <(sed 's|/data/vg/VG_100K/|/data/gqa/images/|' "$E/gqa_train.jsonl"; cat "$E/gqa_testdev.jsonl")
IMG=$(cd tests/data/images && pwd)/coffee.ppm
check "--absolute --check-images with a fixed picture" grep -q "^{\"task\": \"nlvr\", \"image\": \"$IMG\", \"image2\": \"$IMG\", \"input\"" \
    <(run --task nlvr --images tests/data/images --absolute --check-images --image-pattern coffee.ppm $O/nlvr/train.json)
printf '[{"img_id": "1", "sent": "q?", "question_id": "7", "label": {"2": 0.3, "3": 0.6, "2": 1.0}}]\n' >"$T/dup.json"
check "a repeated label answer: first place, last score (as Python's json)" \
    test "$(run --task gqa "$T/dup.json")" = '{"task": "gqa", "image": "1.jpg", "input": "q?", "answers": {"2": 1.0, "3": 0.6}, "id": "7"}'
"$BIN" --task vqa --images /data/coco/images $O/vqa/karpathy_train.json -o "$T/v.jsonl" 2>"$T/err.log"
check "the summary counts the question with an empty label" grep -q 'vqa: 3 line(s) from 4 entries' "$T/err.log"
check "... and says why it is left out" grep -q 'skipped 1 question(s) with an empty "label"' "$T/err.log"
mkdir -p "$T/sub"
"$BIN" --task gqa --images ../img $O/gqa/train.json -o "$T/sub/g.jsonl" 2>"$T/err.log"
check "a relative DIR with -o elsewhere prints a note" grep -q "note: .*vla-train reads them against $T/sub/" "$T/err.log"

# ---- 3. malformed inputs ----
n=0
bad_input() { # bad_input TASK WHERE TEXT CONTENT [ARGS...]: must fail at FILE:WHERE with TEXT
    local task=$1 where=$2 text=$3 content=$4 f rc
    shift 4
    n=$((n + 1))
    f=$T/bad$n.json
    printf '%s' "$content" >"$f"
    printf 'old\n' >"$T/bad.out"
    "$B/vla-data_asan" --task "$task" "$@" "$f" -o "$T/bad.out" >/dev/null 2>"$T/bad$n.log"
    rc=$?
    if [ $rc -eq 1 ] && grep -qF -- "$f:$where: $text" "$T/bad$n.log" && [ "$(cat "$T/bad.out")" = old ] &&
        [ ! -e "$T/bad.out.tmp" ]; then
        ok "bad input $n ($text): exit 1, $f:$where"
    else
        bad "bad input $n ($text): exit $rc, $(head -c 300 "$T/bad$n.log")"
    fi
}
Q='{"img_id": "COCO_train2014_000000000001", "sent": "q?", "question_id": 1, "label": {"a": 1}}'
bad_input vqa 2:21 "the file ends inside the string that starts at 2:13 (truncated file?)" \
    "[$Q,"$'\n'' {"img_id": "COCO_tr'
bad_input vqa 3:1 "the file ends inside the list that starts at 1:1 (truncated file?)" "[$Q,"$'\n'"$Q"$'\n'
bad_input gqa 2 'entry 2: "sent" (the question) is missing' \
    "[$Q,"$'\n''{"img_id": "COCO_train2014_000000000002", "question_id": 2, "label": {"a": 1}}]'
bad_input vqa 1 'entry 1: "label" {answer: score} is missing' '[{"img_id": "COCO_val2014_1", "sent": "q", "question_id": 1}]'
bad_input vqa 1 'entry 1: "question_id" is missing' '[{"img_id": "COCO_val2014_1", "sent": "q", "label": {"a": 1}}]'
bad_input gqa 1 'entry 1: "label" must be an object {answer: score}, not a list' '[{"img_id": "1", "sent": "q", "question_id": "1", "label": ["a"]}]'
bad_input gqa 1 'entry 1: "label": the score of "a" must be a number >= 0, not a string' \
    '[{"img_id": "1", "sent": "q", "question_id": "1", "label": {"a": "high"}}]'
bad_input gqa 1 'entry 1: "label": the score of "a" must be a number >= 0, not -0.5' \
    '[{"img_id": "1", "sent": "q", "question_id": "1", "label": {"a": -0.5}}]'
bad_input gqa 1 'entry 1: "img_id" (the image id) must be a string, not a list' '[{"img_id": ["1"], "sent": "q", "question_id": "1", "label": {"a": 1}}]'
bad_input gqa 1 'entry 1: "sent" (the question) must be a string, not null' '[{"img_id": "1", "sent": null, "question_id": "1", "label": {"a": 1}}]'
bad_input vqa 1 'entry 1: "answers"[1] must be {"answer": "...", ...} (or a string)' \
    '[{"img_id": "COCO_val2014_1", "sent": "q", "question_id": 1, "label": {"a": 1}, "answers": [{"answer": "a"}, {"answer": 3}]}]' --split val
bad_input nlvr 1 'entry 1: "label" must be 0 or 1, not 2' '[{"identifier": "a", "img0": "a0", "img1": "a1", "sent": "s", "label": 2}]'
bad_input nlvr 1 'entry 1: "img1" (the image id) is missing' '[{"identifier": "a", "img0": "a0", "sent": "s", "label": 1}]'
bad_input nlvr 2 'entry 2: "label" (0 or 1) is missing' \
    '{"identifier": "a", "img0": "a0", "img1": "a1", "sent": "s", "label": 1}'$'\n''{"identifier": "b", "img0": "b0", "img1": "b1", "sent": "s"}'
bad_input caption 1 'entry 1: "sentences"[1]: "raw" (the caption) is missing' \
    '{"images": [{"filename": "COCO_train2014_1.jpg", "split": "train", "sentences": [{"raw": "a"}, {"tokens": []}]}]}'
bad_input caption 1 "entry 1: \"split\" is 'minival'; dataset_coco.json uses train, restval, val and test" \
    '{"images": [{"filename": "COCO_val2014_1.jpg", "split": "minival", "sentences": []}]}'
bad_input caption 1 'entry 1: "sentences" must be a list, not an object' \
    '{"images": [{"filename": "COCO_val2014_1.jpg", "split": "train", "sentences": {"raw": "a"}}]}'
bad_input caption 1:1 "expected dataset_coco.json's object" '[{"filename": "COCO_val2014_1.jpg"}]'
bad_input caption 1:12 '"images" must be a list [...], found' '{"images": {}}'
bad_input gqa 1:69 "a comma before '}' (trailing commas are not JSON)" '[{"img_id": "1", "sent": "q", "question_id": "1", "label": {"a": 1},}]'
bad_input gqa 1:28 "invalid UTF-8 (byte 0xFF) inside a string" '[{"img_id": "1", "sent": "q'$'\xff''?", "question_id": "1", "label": {"a": 1}}]'
bad_input gqa 1:33 "lone UTF-16 high surrogate \\uD800" '[{"img_id": "1", "sent": "\ud800?", "question_id": "1", "label": {"a": 1}}]'
bad_input gqa 1:66 "unknown word 'NaN' (JSON has true, false and null)" '[{"img_id": "1", "sent": "q", "question_id": "1", "label": {"a": NaN}}]'
bad_input gqa 1:47 "bad number (leading zero, or a letter right after it)" '[{"img_id": "1", "sent": "q", "question_id": 01, "label": {"a": 1}}]'
bad_input gqa 1:70 "expected ',' or ']' after an entry of the list that starts at 1:1, found '{'" \
    '[{"img_id": "1", "sent": "q", "question_id": "1", "label": {"a": 1}} {"img_id": "2"}]'
bad_input gqa 1:71 "unexpected 'x' after the end of the JSON value" '[{"img_id": "1", "sent": "q", "question_id": "1", "label": {"a": 1}}] x'
bad_input gqa 1:1 "expected a JSON list [...] of entries (or one object per line), found '\"'" '"hello"'
bad_input gqa 1 "entry 1: expected an object {...}, found a number" '[1]'
bad_input gqa 1:15 "control byte 0x0A inside a string" '[{"img_id": "1'$'\n''", "sent": "q"}]'
bad_input gqa 1 "entry 1: picture /nowhere/1.jpg not found" '[{"img_id": "1", "sent": "q", "question_id": "1", "label": {"a": 1}}]' \
    --images /nowhere --check-images
bad_input gqa 1 "entry 1: image id '1' names no COCO folder" '[{"img_id": "1", "sent": "q", "question_id": "1", "label": {"a": 1}}]' \
    --image-pattern '{subdir}/{img_id}.jpg'
printf '' >"$T/empty.json"
"$BIN" --task gqa "$T/empty.json" >/dev/null 2>"$T/err.log"
rc=$?
check "an empty file: exit 1 with a sentence" test $rc -eq 1 -a -n "$(grep 'empty.json is empty' "$T/err.log")"
"$BIN" --task caption --split val "$T/nonexistent.json" >/dev/null 2>"$T/err.log"
rc=$?
check "a missing input file: exit 1 with a sentence" test $rc -eq 1 -a -n "$(grep 'cannot open .*nonexistent.json' "$T/err.log")"
printf '{"images": [{"filename": "COCO_train2014_1.jpg", "split": "train", "sentences": [{"raw": "a"}]}]}' >"$T/onlytrain.json"
"$BIN" --task caption --split val "$T/onlytrain.json" >/dev/null 2>"$T/err.log"
check "no image of the split: exit 1 naming the split" grep -q "none of the 1 images is in the Karpathy split 'val'" "$T/err.log"
for args in "--task ocr" "--task vqa --split restval" "--task caption --split valid" "--task vqa --image-pattern {foo}.jpg" \
    "--task vqa --image-ext png --image-pattern x" "--task vqa --limit 0" "--task vqa --absolute" "--task vqa --bogus"; do
    # shellcheck disable=SC2086
    "$BIN" $args $O/vqa/karpathy_train.json >/dev/null 2>"$T/err.log"
    rc=$?
    check "usage error ($args): exit 2 with a sentence" test $rc -eq 2 -a -s "$T/err.log"
done

# ---- 4. a large file streams ----
LC_ALL=C awk 'BEGIN { printf "[";
    for (i = 0; i < 150000; i++) {
        if (i) printf ",\n";
        printf "{\"answer_type\": \"other\", \"img_id\": \"COCO_train2014_%012d\", \"label\": {\"net\": 1, \"mesh\": 0.3}, ", i;
        printf "\"question_id\": %d, \"question_type\": \"what is\", \"sent\": \"What is the thing number %d made of?\", ", i * 1000, i;
        printf "\"answers\": [";
        for (k = 1; k <= 10; k++) printf "%s{\"answer\": \"net\", \"answer_confidence\": \"yes\", \"answer_id\": %d}", (k > 1 ? ", " : ""), k;
        printf "]}" }
    printf "]\n" }' >"$T/big.json"
(ulimit -v 24000 && "$BIN" --task vqa "$T/big.json" -o "$T/big.jsonl") 2>"$T/big.log"
rc=$?
check "a $(($(wc -c <"$T/big.json") / 1000000)) MB file converts in a 24 MB address space" test $rc -eq 0
check "... all 150000 entries" test "$(wc -l <"$T/big.jsonl")" -eq 150000
check "... the last one right" test "$(tail -n 1 "$T/big.jsonl")" = \
    '{"task": "vqa", "image": "train2014/COCO_train2014_000000149999.jpg", "input": "What is the thing number 149999 made of?", "answers": {"net": 1, "mesh": 0.3}, "id": 149999000}'
check "... with progress lines on stderr" grep -q "big.json: 50% (" "$T/big.log"
rm -f "$T/big.json" "$T/big.jsonl"

# ---- 5. vla-train accepts the converted files ----
make -s B="$B" "$B/vla-mkmodel" "$B/vla-train" || { echo "build failed"; exit 1; }
M=$T/model.gguf
if "$B/vla-mkmodel" -o "$M" --preset tiny --vocab 50465 --clip "$FIX/clip_trunk/weights.safetensors" \
    --tokenizer "$FIX/tokenizer" >"$T/mkmodel.log" 2>&1; then
    T0=$(date +%s)
    PIC=(--images tests/data/images --absolute --check-images --image-pattern coffee.ppm --quiet)
    mkdir -p "$T/train"
    "$BIN" "${PIC[@]}" --task vqa $O/vqa/karpathy_train.json -o "$T/train/vqa.jsonl"
    "$B/vla-train" --model "$M" --data "$T/train/vqa.jsonl" --init single_adapter:hidden=16 --epochs 1 --batch 4 \
        --threads 1 --out "$T/run1" >"$T/run1.log" 2>&1
    rc=$?
    check "vla-train: one step on the converted VQA file" test $rc -eq 0 -a -s "$T/run1/adapter.gguf"
    check "... 3 vqa examples (the empty label left out), 1 step" \
        grep -q 'task vqa  *3 train .* 1 batches per epoch' "$T/run1.log"
    {
        "$BIN" "${PIC[@]}" --task gqa $O/gqa/train.json
        "$BIN" "${PIC[@]}" --task nlvr $O/nlvr/train.json
        "$BIN" "${PIC[@]}" --task caption $O/coco/dataset_coco.json
    } >"$T/train/all.jsonl"
    cat "$T/train/vqa.jsonl" >>"$T/train/all.jsonl"
    {
        "$BIN" "${PIC[@]}" --task vqa --split val $O/vqa/karpathy_val.json
        "$BIN" "${PIC[@]}" --task gqa --split testdev $O/gqa/testdev.json
        "$BIN" "${PIC[@]}" --task nlvr --split valid $O/nlvr/valid.jsonl
        "$BIN" "${PIC[@]}" --task caption --split val $O/coco/dataset_coco.json
    } >"$T/train/dev.jsonl"
    "$B/vla-train" --model "$M" --data "$T/train/all.jsonl" --dev "$T/train/dev.jsonl" --init adapter:hidden=16 --epochs 1 \
        --batch 4 --threads 1 --out "$T/run2" >"$T/run2.log" 2>&1
    rc=$?
    check "vla-train: one epoch on all four converted tasks, evaluation files as --dev" test $rc -eq 0 -a -s "$T/run2/adapter.gguf"
    check "... every dev line (annotators' list, references, nlvr, gqa) was predicted" \
        test "$(wc -l <"$T/run2/dev_predictions.jsonl" 2>/dev/null)" -eq 6
    check "... the dev report names all four tasks" grep -q '^dev epoch 1: loss .*vqa.*gqa.*nlvr.*caption' "$T/run2.log"
    echo "     vla-train part: $(($(date +%s) - T0)) s"
else
    cat "$T/mkmodel.log"
    bad "cannot make the test model"
fi

echo "test_vla_data: $(($(date +%s) - START)) s"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
