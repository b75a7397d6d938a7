#!/bin/sh
# tools/shapes_reproduce.sh - what `make reproduce` runs: the paper's Table 1
# in the Shapes world (docs/shapes.md, "Table 1 in miniature").
#
# From the shipped base model (examples/shapes/base.gguf), every method of
# Table 1 is trained multitask on the four tasks with the official per-method
# settings (vla_train_defaults: learning rates 1e-4 full, 3e-4 multiple and
# half-shared adapters, 1e-3 the rest; AdamW, warmup 10 %, dropout 0.1,
# clipping 5; the official per-task batch ratios), the same number of epochs
# of the same data for all, CLIP frozen (the feature cache is shared by the
# methods), then scored on test scenes no method has seen.  Module widths are
# the paper scripts' scaled by d_model / 768 where they are widths (LoRA rank
# 128, prompt MLP 800, Hyperformer task embedding 512 and projector 128; the
# adapter reduction 8, Compacter k 2, 40 prompt vectors and LoRA's
# alpha / rank stay as they are).
#
# Variables (defaults in brackets): B [build], W [$B/reproduce], THREADS [2],
# SCENES [1500] training scenes, TEST_SCENES [200], EPOCHS [3], BATCH [32],
# METHODS [all eleven], BASE [examples/shapes/base.gguf], SEED [21].
# A method whose run is complete (its predictions exist) is not trained again
# while these settings and the base stay the same ($W/settings); otherwise W
# starts afresh.
set -eu
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
W=${W:-$B/reproduce}
THREADS=${THREADS:-2}
SCENES=${SCENES:-1500}
TEST_SCENES=${TEST_SCENES:-200}
EPOCHS=${EPOCHS:-3}
BATCH=${BATCH:-32}
BASE=${BASE:-examples/shapes/base.gguf}
SEED=${SEED:-21}
ALL_METHODS="full multiple_adapters half_shared_adapters single_adapter hyperformer multiple_compacters single_compacter multiple_lora single_lora multiple_prompts single_prompt"
METHODS=${METHODS:-$ALL_METHODS}
TASKS=vqa+gqa+nlvr+caption

for exe in vla-train vla-predict vla-shapes vla-eval vla-inspect vla-quantize; do
    [ -x "$B/$exe" ] || { echo "reproduce: $B/$exe is missing (make builds it)"; exit 1; }
done
[ -f "$BASE" ] || { echo "reproduce: $BASE is missing"; exit 1; }
d=$("$B/vla-inspect" "$BASE" | awk '$1 == "vladapter.bart.d_model" { print $3 }')
case "$d" in ''|*[!0-9]*) echo "reproduce: cannot read d_model of $BASE"; exit 1 ;; esac
# widths scaled by d / 768, rounded, at least 1
sc() { echo $(( ($1 * d + 384) / 768 > 0 ? ($1 * d + 384) / 768 : 1 )); }
RANK=$(sc 128); MID=$(sc 800); TEMB=$(sc 512); THID=$(sc 128)
ALPHA=$(awk "BEGIN { printf \"%g\", 32 * $RANK / 128 }")
mkdir -p "$W"
t0=$(date +%s)
# What W's data and runs were made with: anything else starts W afresh (a
# run left by other settings must not reach the table).
settings="scenes=$SCENES test_scenes=$TEST_SCENES seed=$SEED epochs=$EPOCHS batch=$BATCH base=$(cksum < "$BASE" | cut -d' ' -f1)"
if [ "$(cat "$W/settings" 2>/dev/null)" != "$settings" ]; then
    [ -f "$W/settings" ] && echo "reproduce: $W was made with other settings ($(cat "$W/settings")): starting afresh"
    for m in $ALL_METHODS; do
        rm -rf "${W:?}/$m" "$W/$m.log" # only what this script writes: W may hold other files
    done
    rm -rf "$W/data" "$W/test" "$W/base-f32.gguf" "$W/base-f32.gguf.tmp" "$W/feats.bin"
    echo "$settings" > "$W/settings"
fi
# Every method starts from the same F32 copy of the base: full fine-tuning
# cannot train I8 tensors, and the adapters are trained (and scored) on the
# same weights as the full model (the shipped base's int8 values, widened).
if [ ! -f "$W/base-f32.gguf" ] || [ "$BASE" -nt "$W/base-f32.gguf" ]; then
    "$B/vla-quantize" --quiet --to f32 "$BASE" "$W/base-f32.gguf.tmp" && mv "$W/base-f32.gguf.tmp" "$W/base-f32.gguf"
fi
BASE=$W/base-f32.gguf
if [ ! -f "$W/data/train.jsonl" ] || [ ! -f "$W/test/test.jsonl" ]; then
    rm -rf "$W/data" "$W/test"
    "$B/vla-shapes" --seed "$SEED" --scenes "$SCENES" --vqa 2 --gqa 2 --nlvr 1 --val 0 --test 0 --out "$W/data" --quiet
    "$B/vla-shapes" --seed $((SEED + 1)) --scenes "$TEST_SCENES" --vqa 2 --gqa 2 --nlvr 1 --val 0 --test 1 --out "$W/test" --quiet
fi
echo "reproduce: d_model $d: LoRA rank $RANK (alpha $ALPHA), prompt MLP $MID, Hyperformer task embedding $TEMB / projector $THID;"
echo "reproduce: $SCENES training scenes ($(wc -l < "$W/data/train.jsonl") lines), $EPOCHS epochs, batch $BATCH; $TEST_SCENES test scenes"
for m in $METHODS; do
    case $m in
        full) how="--full" ;;
        multiple_adapters) how="--init adapter:tasks=$TASKS" ;;
        half_shared_adapters|single_adapter) how="--init $m:tasks=$TASKS" ;;
        hyperformer) how="--init hyperformer:tasks=$TASKS,task_emb=$TEMB,task_hidden=$THID" ;;
        multiple_compacters|single_compacter) how="--init $m:tasks=$TASKS" ;;
        multiple_lora|single_lora) how="--init $m:tasks=$TASKS,rank=$RANK,alpha=$ALPHA" ;;
        multiple_prompts|single_prompt) how="--init $m:tasks=$TASKS,mid=$MID" ;;
        *) echo "reproduce: unknown method $m"; exit 1 ;;
    esac
    R=$W/$m
    if [ -f "$R/pred.jsonl" ]; then echo "reproduce: $m: done before ($R)"; continue; fi
    rm -rf "$R"
    t1=$(date +%s)
    # shellcheck disable=SC2086 # $how is a list of arguments
    if ! "$B/vla-train" --model "$BASE" --data "$W/data/train.jsonl" --out "$R" $how --feat-cache "$W/feats.bin" \
            --epochs "$EPOCHS" --batch "$BATCH" --threads "$THREADS" --log-every 100 2> "$W/$m.log"; then
        tail -n 5 "$W/$m.log"; echo "reproduce: $m: training failed"; exit 1
    fi
    if [ "$m" = full ]; then set -- --model "$R/model.gguf"; else set -- --model "$BASE" --adapter "$R/adapter.gguf"; fi
    "$B/vla-predict" "$@" --data "$W/test/test.jsonl" --out "$R/pred.tmp" --threads "$THREADS" --quiet
    "$B/vla-eval" --data "$W/test/test.jsonl" --pred "$R/pred.tmp" --summary "$R/eval.tsv" > "$R/eval.txt"
    if [ "$m" = full ]; then "$B/vla-inspect" --params "$BASE" > "$R/params.txt"
    else "$B/vla-inspect" --params "$BASE" "$R/adapter.gguf" > "$R/params.txt"; fi
    # the mean training loss of the first and the last epoch ("epoch E/N: train loss X (...)")
    awk '/^epoch [0-9]+\/[0-9]+: train loss / { if (first == "") first = $5; last = $5; n++ }
         END { printf "first %s last %s epochs %d\n", first, last, n }' "$W/$m.log" > "$R/loss.txt"
    mv "$R/pred.tmp" "$R/pred.jsonl"
    echo "reproduce: $m: $(($(date +%s) - t1)) s"
done
echo
# every method's training loss must fall from the first epoch to the last
bad=0
for m in $METHODS; do
    R=$W/$m
    [ -f "$R/loss.txt" ] || { echo "reproduce: $m: no loss record"; bad=1; continue; }
    read -r _f first _l last _e epochs < "$R/loss.txt"
    if [ "$epochs" -lt 2 ]; then echo "reproduce: $m: $epochs epoch(s): cannot tell whether the loss falls"; bad=1
    elif awk -v a="$first" -v b="$last" 'BEGIN { exit !(b < a) }'; then echo "reproduce: $m: training loss $first -> $last over $epochs epochs"
    else echo "reproduce: $m: FAIL: the training loss did not fall ($first -> $last over $epochs epochs)"; bad=1; fi
done
echo
echo "Table 1 in the Shapes world ($SCENES training scenes x $EPOCHS epochs, $TEST_SCENES test scenes; $(($(date +%s) - t0)) s)"
printf '%-22s %9s %7s %7s %7s %9s %7s\n' method "params %" VQA GQA NLVR2 "CIDEr-D" avg
for m in $METHODS; do
    R=$W/$m
    [ -f "$R/eval.tsv" ] || { printf '%-22s no evaluation (%s/eval.tsv is missing)\n' "$m" "$R"; bad=1; continue; }
    awk -F '\t' -v m="$m" -v p="$(sed -n 's/.*percent=\([0-9.]*\).*/\1/p' "$R/params.txt")" '
        $1 == "vqa" { v = $3 } $1 == "gqa" { g = $3 } $1 == "nlvr" { n = $3 } $1 == "caption" { c = $4 }
        END { printf "%-22s %9.2f %7.2f %7.2f %7.2f %9.2f %7.2f\n", m, p, v, g, n, c, (v + g + n + c) / 4 }' "$R/eval.tsv"
done
[ "$bad" = 0 ] || { echo "reproduce: FAIL"; exit 1; }
