#!/usr/bin/env bash
# tests/test_vla_train.sh [BUILD_DIR] - tools/vla-train end to end.
#
# Builds what it needs (vla-mkmodel, vla-inspect, the vqa example, vla-train,
# tests/test_pyrandom) into BUILD_DIR (default build/), then in
# BUILD_DIR/test_vla_train/:
#   - a small random CLIP-BART with the real tokenizer: vla-mkmodel --preset
#     tiny with --vocab 50465 (the examples' build/tiny_caption.gguf cannot
#     serve: its 300-row embedding does not match the tokenizer's 50465 ids,
#     which vla-train refuses, see the last checks) and the clip_trunk
#     fixture's CLIP trunk
#   - six PPM pictures (written with awk) and JSONL files with vqa, gqa, nlvr
#     and caption lines
#   - trains 3 epochs with --init adapter and checks: the dev loss falls, the
#     adapter attaches (the vqa example, vla-inspect), a run stopped after k
#     steps (--max-steps) and continued with --resume ends with byte-identical
#     adapter.gguf and state.gguf, a resume with other settings is refused,
#     the feature cache is reused and a damaged / truncated / stale / foreign
#     one is detected and rebuilt, bad data lines fail with their line number
#   - runs tests/test_pyrandom (CPython's MT19937 and shuffle, constants)
# Prints "N passed, M failed"; exit status 1 if anything failed.
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
FIX=${FIXTURES:-tests/fixtures}
T=$B/test_vla_train
CC=${CC:-cc}
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}
has() { grep -q -- "$2" "$1"; } # has FILE TEXT

# ---- build (the Makefile's rules where they exist) ----
mkdir -p "$B"
make -s B="$B" "$B/vla-mkmodel" "$B/vla-inspect" "$B/vqa" || { echo "build failed"; exit 1; }
if make -n B="$B" "$B/vla-train" >/dev/null 2>&1; then
    make -s B="$B" "$B/vla-train" || { echo "build failed"; exit 1; }
elif [ ! -x "$B/vla-train" ] || [ tools/vla-train.c -nt "$B/vla-train" ] || [ vladapter.h -nt "$B/vla-train" ]; then
    IMG=""
    if [ -f /usr/include/stb/stb_image.h ]; then IMG="-DVLA_HAVE_STB_IMAGE -I/usr/include/stb -lstb"; fi
    # shellcheck disable=SC2086
    $CC -std=c99 -Wall -Wextra -Wpedantic -O2 -march=native tools/vla-train.c -o "$B/vla-train" $IMG -lm -lpthread || { echo "build failed"; exit 1; }
fi
$CC -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 tests/test_pyrandom.c -o "$B/test_pyrandom" || { echo "build failed"; exit 1; }

START=$(date +%s)
rm -rf "$T"
mkdir -p "$T/data/img"
M=$T/model.gguf
if ! "$B/vla-mkmodel" -o "$M" --preset tiny --vocab 50465 --clip "$FIX/clip_trunk/weights.safetensors" \
    --tokenizer "$FIX/tokenizer" >"$T/mkmodel.log" 2>&1; then
    cat "$T/mkmodel.log"
    echo "cannot make the test model"
    exit 1
fi

# ---- pictures: P6 of different sizes and patterns ----
for s in 1 2 3 4 5 6; do
    LC_ALL=C awk -v s=$s 'BEGIN { w = 24 + 4 * s; h = 20 + 2 * s; printf "P6\n%d %d\n255\n", w, h;
        for (y = 0; y < h; y++) for (x = 0; x < w; x++) for (c = 0; c < 3; c++)
            printf "%c", int((x * (s + c) * 9 + y * (7 - s) * 5 + c * 80 * s) % 256) }' >"$T/data/img/p$s.ppm"
done
ABS=$(cd "$T/data/img" && pwd)/p6.ppm

# ---- data: every task, both answer forms, an absolute path ----
cat >"$T/data/train.jsonl" <<EOF
{"task": "vqa", "image": "img/p1.ppm", "input": "what color is it?", "answers": {"red": 1.0, "dark red": 0.3}}
{"task": "vqa", "image": "img/p2.ppm", "input": "how many dogs are there?", "answers": {"two": 0.9, "2": 0.6}}
{"task": "vqa", "image": "img/p3.ppm", "input": "is it sunny?", "answers": {"yes": 1.0}, "id": 7}

{"task": "vqa", "image": "img/p4.ppm", "input": "what is on the table?", "answers": ["cup", "cup", "mug", "cup"]}
{"task": "gqa", "image": "img/p5.ppm", "input": "which side is the lamp on?", "answers": {"left": 1.0}}
{"task": "gqa", "image": "$ABS", "input": "is the man walking?", "target": "no"}
{"task": "gqa", "image": "img/p1.ppm", "input": "what is the fruit?", "target": "apple"}
{"task": "nlvr", "image": "img/p2.ppm", "image2": "img/p3.ppm", "input": "there are two dogs in total.", "target": "true"}
{"task": "nlvr", "image": "img/p4.ppm", "image2": "img/p5.ppm", "input": "one image shows a cat.", "target": "false"}
{"task": "nlvr", "image": "img/p6.ppm", "image2": "img/p1.ppm", "input": "both pictures are dark.", "target": "true"}
{"task": "caption", "image": "img/p2.ppm", "target": "A red square on a grey wall."}
{"task": "caption", "image": "img/p5.ppm", "target": "Two stripes of colour."}
{"task": "caption", "image": "img/p6.ppm", "target": "A noisy pattern."}
EOF
grep -v '"id": 7' "$T/data/train.jsonl" | grep . >"$T/data/dev.jsonl"

TRAIN=("$B/vla-train" --model "$M" --data "$T/data/train.jsonl" --init adapter:hidden=16 --epochs 3 --batch 4 --lr 3e-2
       --threads 1 --feat-cache "$T/feats.bin")

# ---- 1. an uninterrupted run ----
"${TRAIN[@]}" --dev "$T/data/dev.jsonl" --out "$T/a" --log-every 1 >"$T/a.log" 2>&1
check "uninterrupted run exits 0" test $? -eq 0
check "it writes adapter.gguf, state.gguf and dev_predictions.jsonl" test -s "$T/a/adapter.gguf" -a -s "$T/a/state.gguf" -a -s "$T/a/dev_predictions.jsonl"
check "the features of all 6 pictures were computed once" has "$T/a.log" "6 image(s): 0 from the cache, 6 computed"
check "the multitask order of epoch 1 is Python's (nlvr caption vqa gqa nlvr nlvr)" \
    test "$(grep '^step [1-6]/' "$T/a.log" | sed 's/.* task \([a-z]*\) .*/\1/' | tr '\n' ' ')" = "nlvr caption vqa gqa nlvr nlvr "
L1=$(sed -n 's/^dev epoch 1: loss \([0-9.]*\).*/\1/p' "$T/a.log")
L3=$(sed -n 's/^dev epoch 3: loss \([0-9.]*\).*/\1/p' "$T/a.log")
echo "     dev loss: epoch 1 ${L1:-?}, epoch 3 ${L3:-?}; train loss per epoch: $(sed -n 's/^epoch \([0-9]\)\/3: train loss \([0-9.]*\).*/\2/p' "$T/a.log" | tr '\n' ' ')"
check "the dev loss falls (epoch 3 < epoch 1 - 0.02)" awk -v a="${L1:-0}" -v b="${L3:-99}" 'BEGIN { exit !(a > 0 && b < a - 0.02) }'
check "every dev line has a prediction each epoch (12 lines)" test "$(wc -l <"$T/a/dev_predictions.jsonl")" -eq 12

# ---- 2. the result attaches ----
"$B/vqa" --model "$M" --adapter "$T/a/adapter.gguf" --task vqa "$T/data/img/p1.ppm" "what color is it?" >"$T/vqa.log" 2>&1
check "the vqa example runs with the trained adapter" test $? -eq 0
"$B/vla-inspect" "$T/a/adapter.gguf" >"$T/inspect.log" 2>&1
check "vla-inspect reads it as an adapter file" grep -q 'general.type.*"adapter"' "$T/inspect.log"

# every generated dev prediction of the last epoch is what the vqa example answers with the saved
# adapter (a batch's rows are max_length apart: a wrong stride garbles every row but the first)
same=0
for q in "p1.ppm|what color is it?" "p2.ppm|how many dogs are there?" "p4.ppm|what is on the table?"; do
    ans=$("$B/vqa" --model "$M" --adapter "$T/a/adapter.gguf" --task vqa "$T/data/img/${q%%|*}" "${q#*|}" 2>/dev/null |
          sed 's/\\/\\\\/g; s/"/\\"/g')
    # (the example prints the answer without the detokenizer's leading space)
    grep -F -e "\"task\": \"vqa\", \"prediction\": \"$ans\"" -e "\"task\": \"vqa\", \"prediction\": \" $ans\"" \
        "$T/a/dev_predictions.jsonl" | grep -q "\"epoch\": 3" && same=$((same + 1))
done
check "the 3 vqa dev predictions equal the vqa example's answers with the saved adapter ($same of 3)" test "$same" -eq 3

# ---- 3. stopped after k steps, resumed: byte-identical ----
"${TRAIN[@]}" --dev "$T/data/dev.jsonl" --out "$T/b" --max-steps 8 --save-every 3 >"$T/b1.log" 2>&1
check "a run stopped by --max-steps 8 exits 0" test $? -eq 0
check "it leaves state.gguf and no final file" test -s "$T/b/state.gguf" -a ! -e "$T/b/adapter.gguf"
check "the second run reuses all cached features" has "$T/b1.log" "6 from the cache, 0 computed"
"${TRAIN[@]}" --dev "$T/data/dev.jsonl" --out "$T/b" --resume >"$T/b2.log" 2>&1
check "--resume exits 0" test $? -eq 0
check "--resume starts at step 8 (epoch 2, batch 3)" has "$T/b2.log" "at step 8 of 18 (epoch 2, batch 3)"
check "the resumed adapter.gguf is byte-identical" cmp -s "$T/a/adapter.gguf" "$T/b/adapter.gguf"
check "the resumed state.gguf is byte-identical" cmp -s "$T/a/state.gguf" "$T/b/state.gguf"
"${TRAIN[@]}" --out "$T/b" --resume --lr 1e-3 >"$T/b3.log" 2>&1
check "--resume with another --lr is refused" test $? -ne 0
check "... with a sentence saying why" has "$T/b3.log" "other data or settings"
"${TRAIN[@]}" --out "$T/b" >"$T/b4.log" 2>&1
check "a new run into a directory with a state is refused" test $? -ne 0

# ---- 4. the feature cache: damaged, truncated, stale, foreign ----
QUICK=("$B/vla-train" --model "$M" --data "$T/data/train.jsonl" --init adapter --epochs 1 --batch 4 --threads 1 --max-steps 1)
cp "$T/feats.bin" "$T/f_bad.bin"
printf '\125\125\125\125' | dd of="$T/f_bad.bin" bs=1 seek=120000 conv=notrunc 2>/dev/null
"${QUICK[@]}" --out "$T/c1" --feat-cache "$T/f_bad.bin" >"$T/c1.log" 2>&1
check "a damaged cache entry is detected" has "$T/c1.log" "is corrupt"
check "... and only that picture is recomputed" has "$T/c1.log" "5 from the cache, 1 computed"
"${QUICK[@]}" --out "$T/c2" --feat-cache "$T/f_bad.bin" >"$T/c2.log" 2>&1
check "the rebuilt cache is complete" has "$T/c2.log" "6 from the cache, 0 computed"
check "the rebuilt cache equals the original" cmp -s "$T/feats.bin" "$T/f_bad.bin"
head -c 70000 "$T/feats.bin" >"$T/f_short.bin"
"${QUICK[@]}" --out "$T/c3" --feat-cache "$T/f_short.bin" >"$T/c3.log" 2>&1
check "a truncated cache is detected" has "$T/c3.log" "is truncated"
check "... and the missing pictures recomputed" has "$T/c3.log" "1 from the cache, 5 computed"
cp "$T/feats.bin" "$T/f_stale.bin"
sleep 1
cp "$T/data/img/p3.ppm" "$T/p3.tmp" && mv "$T/p3.tmp" "$T/data/img/p3.ppm" # same pixels, new file
"${QUICK[@]}" --out "$T/c4" --feat-cache "$T/f_stale.bin" >"$T/c4.log" 2>&1
check "a picture changed on disk is recomputed" has "$T/c4.log" "1 image(s) changed on disk"
"$B/vla-mkmodel" -o "$T/model2.gguf" --preset tiny --vocab 50465 --seed 2 --clip "$FIX/clip_trunk/weights.safetensors" \
    --tokenizer "$FIX/tokenizer" >/dev/null 2>&1
QUICK[2]=$T/model2.gguf
"${QUICK[@]}" --out "$T/c5" --feat-cache "$T/f_stale.bin" >"$T/c5.log" 2>&1
check "a cache of another model is not used" has "$T/c5.log" "made with another model"
check "... everything is recomputed" has "$T/c5.log" "0 from the cache, 6 computed"
QUICK[2]=$M

# ---- 5. bad data: an error with the line number, never a crash ----
n=0
bad_line() { # bad_line LINE TEXT JSONL-LINES...: the run must fail naming file:LINE and TEXT
    local line=$1 text=$2
    shift 2
    n=$((n + 1))
    printf '%s\n' "$@" >"$T/data/bad$n.jsonl"
    "${QUICK[@]}" --data "$T/data/bad$n.jsonl" --out "$T/bad$n" >"$T/bad$n.log" 2>&1
    local rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 128 ] && grep -q "bad$n.jsonl:$line: .*$text" "$T/bad$n.log"; then
        ok "bad line $line ($text): error exit $rc"
    else
        bad "bad line $line ($text): exit $rc, $(tail -n 1 "$T/bad$n.log")"
    fi
}
GOOD='{"task": "vqa", "image": "img/p1.ppm", "input": "q", "target": "a"}'
bad_line 2 "not valid JSON" "$GOOD" '{"task": "vqa", "image": "img/p1.ppm", "target": "a"' "$GOOD"
bad_line 3 "unknown task 'ocr'" "$GOOD" "$GOOD" '{"task": "ocr", "image": "img/p1.ppm", "target": "a"}'
bad_line 1 "expected one JSON object" '["vqa"]'
bad_line 2 "cannot be opened" "$GOOD" '{"task": "gqa", "image": "img/missing.ppm", "target": "a"}'
bad_line 1 "needs \"image2\"" '{"task": "nlvr", "image": "img/p1.ppm", "input": "s", "target": "true"}'
bad_line 1 "\"true\" or \"false\"" '{"task": "nlvr", "image": "img/p1.ppm", "image2": "img/p2.ppm", "target": "yes"}'
bad_line 2 "not a number >= 0" "$GOOD" '{"task": "vqa", "image": "img/p1.ppm", "answers": {"a": "high"}}'
bad_line 1 "no \"target\" or \"answers\"" '{"task": "gqa", "image": "img/p1.ppm", "input": "q"}'
bad_line 1 "caption is empty" '{"task": "caption", "image": "img/p1.ppm", "target": " "}'
bad_line 1 "\"task\" is missing" '{"image": "img/p1.ppm", "target": "a"}'
printf 'not a picture' >"$T/data/img/text.ppm"
bad_line 2 "cannot be read" "$GOOD" '{"task": "vqa", "image": "img/text.ppm", "target": "a"}'
"$B/vla-mkmodel" -o "$T/model300.gguf" --preset tiny --clip "$FIX/clip_trunk/weights.safetensors" --tokenizer "$FIX/tokenizer" >/dev/null 2>&1
QUICK[2]=$T/model300.gguf
bad_line 1 "outside the model's 300 embedding rows" "$GOOD"
QUICK[2]=$M

# ---- 5b. the decoding length a model file carries reaches the adapter and the task calls ----
"$B/vla-mkmodel" -o "$T/model30.gguf" --preset tiny --vocab 50465 --max-length 30 --clip "$FIX/clip_trunk/weights.safetensors" \
    --tokenizer "$FIX/tokenizer" >/dev/null 2>&1
"$B/vla-inspect" "$T/model30.gguf" >"$T/inspect30.log" 2>&1
check "vla-mkmodel --max-length 30 writes vladapter.gen.max_length 30" grep -Eq 'vladapter.gen.max_length +u32 +30$' "$T/inspect30.log"
"$B/vla-train" --model "$T/model30.gguf" --data "$T/data/train.jsonl" --init single_adapter --epochs 1 --batch 4 \
    --threads 1 --out "$T/m30" >"$T/m30.log" 2>&1
check "--init on it: the adapter's presets say max_length 30" has "$T/m30.log" "decoding max_length 30 (the base's)"
"$B/vla-inspect" "$T/m30/adapter.gguf" >"$T/inspect30a.log" 2>&1
check "vla-inspect: vladapter.adapter.max_length holds 30s" grep -Eq 'vladapter.adapter.max_length +array +\[u32 x 4\] 30 30 30 30' "$T/inspect30a.log"
"$B/vqa" --model "$T/model30.gguf" "$T/data/img/p1.ppm" "what color is it?" >"$T/vqa30.log" 2>&1
check "the vqa example sizes its context for the file's length (it ran)" test $? -eq 0

# ---- 6. Python's random, from constants ----
"$B/test_pyrandom" >"$T/pyrandom.log" 2>&1
check "test_pyrandom: $(tail -n 1 "$T/pyrandom.log")" test $? -eq 0

echo "test_vla_train: $(($(date +%s) - START)) s"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
