#!/bin/sh
# tools/shapes_demo.sh - what `make demo` runs: the Shapes world's trained
# model at work (docs/shapes.md).
#
#   1. the bundled requests (examples/shapes/demo.jsonl: captions, VQA and
#      GQA questions, an NLVR2 pair), answered by one process that loads the
#      base once and selects the adapter's task per request; each answer is
#      printed next to the truth;
#   2. 200 scenes generated now (a new seed every run, printed), answered the
#      same way and scored by vla-eval: caption exact match and CIDEr-D, VQA
#      accuracy, GQA exact match, NLVR2 accuracy.
#
# Variables: B (build directory, default build), SEED (the test scenes' seed;
# default: the clock), THREADS (default 2), SCENES (default 200).
set -eu
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
D=examples/shapes
THREADS=${THREADS:-2}
SCENES=${SCENES:-200}
SEED=${SEED:-$(date +%s)}
for f in "$D/base.gguf" "$D/adapter.gguf" "$D/demo.jsonl"; do
    [ -f "$f" ] || { echo "shapes_demo: $f is missing"; exit 1; }
done
for exe in vla-predict vla-shapes vla-eval; do
    [ -x "$B/$exe" ] || { echo "shapes_demo: $B/$exe is missing (make builds it)"; exit 1; }
done
OUT=$B/demo
rm -rf "$OUT"
mkdir -p "$OUT"
t0=$(date +%s)
echo "== the bundled requests: one loaded base, the adapter's task switched per request"
echo "   ($D/base.gguf $(wc -c < "$D/base.gguf") bytes, $D/adapter.gguf $(wc -c < "$D/adapter.gguf") bytes)"
"$B/vla-predict" --model "$D/base.gguf" --adapter "$D/adapter.gguf" --data "$D/demo.jsonl" \
    --out "$OUT/bundled-pred.jsonl" --threads "$THREADS" --quiet --show
echo
echo "== $SCENES scenes generated now (vla-shapes --seed $SEED), scored by vla-eval"
"$B/vla-shapes" --seed "$SEED" --scenes "$SCENES" --val 0 --test 1 --out "$OUT/scenes" --quiet
"$B/vla-predict" --model "$D/base.gguf" --adapter "$D/adapter.gguf" --data "$OUT/scenes/test.jsonl" \
    --out "$OUT/scenes-pred.jsonl" --threads "$THREADS" --quiet
"$B/vla-eval" --data "$OUT/scenes/test.jsonl" --pred "$OUT/scenes-pred.jsonl"
echo "demo: $(($(date +%s) - t0)) s"
