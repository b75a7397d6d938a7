#!/usr/bin/env bash
# tests/test_cli.sh BUILD_DIR - every tool and example given bad command
# lines: each must exit with status 1 or 2 (never a signal, never 0) and say
# what is wrong (on stderr, or as a FAIL line of the fixture runner).  (The examples' and the stream's own flags are
# covered in more depth by test_examples.sh and test_stream.sh.)
set -u
B=${1:-build}
T=$B/tiny_caption.gguf
I=tests/data/images/coffee.ppm
W=$B/cli_tmp
mkdir -p "$W"
printf 'not a gguf' > "$W/junk.gguf"
n=0 bad=0
try() { # try CMD...: must fail cleanly with a message
    local rc
    n=$((n + 1))
    "$@" > "$W/out" 2> "$W/err" < /dev/null
    rc=$?
    if [ $rc -eq 0 ] || [ $rc -ge 128 ] || { [ ! -s "$W/err" ] && ! grep -q FAIL "$W/out"; }; then
        bad=$((bad + 1)); echo "test_cli: FAIL (exit $rc, stderr $(wc -c < "$W/err") bytes): $*"
    fi
}
for ex in caption vqa hotswap; do
    try "$B/$ex"
    try "$B/$ex" --model
    try "$B/$ex" --bogus
    try "$B/$ex" --model "$W/junk.gguf" "$I" "q"
    try "$B/$ex" --model "$W/missing.gguf" "$I" "q"
    try "$B/$ex" --model "$T" "$W/missing.ppm" "q"
    try "$B/$ex" --model "$T" "$W/junk.gguf" "q"
done
try "$B/caption" --model "$T" --beams 0 "$I"
try "$B/caption" --model "$T" --beams 65 "$I"
try "$B/caption" --model "$T" --max-length 99999 "$I"
try "$B/caption" --model "$T" --threads 0 "$I"
try "$B/caption" --model "$T" --threads 2x "$I"
try "$B/caption" --model "$T" --adapter "$T" "$I"
try "$B/caption" --model "$T" "$I" "$I"
try "$B/vqa" --model "$T" --max-length -3 "$I" "q"
try "$B/vqa" --model "$T" "$I"
try "$B/hotswap" --model "$T" --adapter "$T" "$I"
try "$B/hotswap" --model "$T" --adapter a --adapter b --adapter c "$I"
try "$B/hotswap" --model "$T" --adapter a --adapter b --rounds 0 "$I"
try "$B/vla-convert"
try "$B/vla-convert" -o "$W/x.gguf"
try "$B/vla-convert" -o "$W/x.gguf" --bart "$W/missing"
try "$B/vla-convert" -o "$W/x.gguf" --bart "$W/junk.gguf"
try "$B/vla-convert" -o "$W/x.gguf" --bart tests/fixtures/bart_base/weights.safetensors --image-size 7
try "$B/vla-convert" -o "$W/x.gguf" --bart tests/fixtures/bart_base/weights.safetensors --max-length x
try "$B/vla-convert" --export "$W/x.txt" --model "$T"
try "$B/vla-convert" --export "$W/x.pth" --model "$W/junk.gguf"
try "$B/vla-convert" --export "$W/x.pth" --model "$T" --method nope
try "$B/vla-convert" --export "$W/x.pth" --model "$T" --adapter "$T"
try "$B/vla-convert" --merge-lora vqa --model "$T" -o "$W/x.gguf"
try "$B/vla-convert" --merge-lora vqa --model "$T" --adapter "$W/junk.gguf" -o "$W/x.gguf"
try "$B/vla-inspect"
try "$B/vla-inspect" "$W/missing.gguf"
try "$B/vla-inspect" "$W/junk.gguf"
try "$B/vla-inspect" --params "$W/junk.gguf"
try "$B/vla-inspect" --bogus "$T"
try "$B/vla-inspect" "$T" "$T"
try "$B/vla-embed"
try "$B/vla-embed" "$W/junk.gguf" "$W/x.c" sym
try "$B/vla-embed" --align 3 "$T" "$W/x.c" sym
try "$B/vla-embed" "$T" "$W/x.c" "1bad symbol"
try "$B/vla-fixtures"
try "$B/vla-fixtures" "$W/missing"
try "$B/vla-fixtures" --cases nope tests/fixtures
try "$B/vla-train"
try "$B/vla-train" --model "$T"
try "$B/vla-train" --model "$T" --data "$W/missing.jsonl" --out "$W/run"
try "$B/vla-train" --model "$T" --data "$W/junk.gguf" --out "$W/run"
try "$B/vla-train" --model "$T" --data "$W/junk.gguf" --out "$W/run" --epochs -1
try "$B/vla-train" --model "$T" --data "$W/junk.gguf" --out "$W/run" --train-clip --init adapter
try "$B/vla-train" --model "$T" --data "$W/junk.gguf" --out "$W/run" --train-clip --full --feat-cache "$W/f.bin"
try "$B/vla-train" --model "$T" --data "$W/junk.gguf" --out "$W/run" --lr abc
try "$B/vla-train" --model "$T" --data "$W/junk.gguf" --out "$W/run" --whiten-visual --init adapter
try "$B/vla-train" --model "$T" --data "$W/junk.gguf" --out "$W/run" --calibrate-trunk --full
try "$B/vla-train" --model "$T" --data "$W/junk.gguf" --out "$W/run" --calibrate-trunk --whiten-visual --full --train-clip
try "$B/vla-train" --model "$T" --data "$W/junk.gguf" --out "$W/run" --clip-lr-scale 0.3 --full
try "$B/vla-train" --model "$T" --data "$W/junk.gguf" --out "$W/run" --clip-lr-scale -1 --full --train-clip
try "$B/vla-shapes"
try "$B/vla-shapes" --out "$W/s" --scenes -5
try "$B/vla-shapes" --out "$W/s" --size 3
try "$B/vla-predict"
try "$B/vla-predict" --model "$T" --data "$W/missing.jsonl" --out "$W/p.jsonl"
try "$B/vla-predict" --model "$T" --data "$W/junk.gguf" --out "$W/p.jsonl"
try "$B/vla-predict" --model "$T" --data "$W/junk.gguf" --out "$W/p.jsonl" --beams 0
try "$B/vla-predict" --model "$T" --bogus
try "$B/vla-eval"
try "$B/vla-eval" --data "$W/missing.jsonl" --pred "$W/missing.jsonl"
try "$B/vla-eval" --data "$W/junk.gguf" --pred "$W/junk.gguf"
printf '{"id": "a", "task": "nlvr", "target": "true"}\n' > "$W/ev_ref.jsonl"
printf '{"id": "a", "prediction": "true"}\n' > "$W/ev_pred.jsonl"
try "$B/vla-eval" --data "$W/ev_ref.jsonl" --pred "$W/ev_pred.jsonl" --summary "$W/no/such/dir/s.tsv"
try "$B/vla-eval" --data "$W/ev_ref.jsonl" --pred "$W/ev_pred.jsonl" --summary
try "$B/vla-data"
try "$B/vla-data" --task nope "$W/junk.gguf"
try "$B/vla-data" --task vqa "$W/junk.gguf"
try "$B/vla-mkmodel"
try "$B/vla-mkmodel" -o "$W/x.gguf" --d-model -1
try "$B/vla-mkmodel" -o "$W/x.gguf" --d-model 33 --heads 4
try "$B/vla-mkmodel" -o "$W/x.gguf" --vocab 0
try "$B/vla-mkmodel" --adapter nope --base "$T" -o "$W/x.gguf"
try "$B/vla-mkmodel" -o "$W/x.gguf" --clip-designed
try "$B/vla-mkmodel" -o "$W/x.gguf" --clip-width 12 --clip-designed
# vla-quantize --clip-calibrate: no pictures, unreadable pictures, a model without a CLIP trunk (BART only),
# an already-I8 trunk, targets outside (0, 1], a type other than I8
"$B/vla-convert" --quiet -o "$W/bart_only.gguf" --bart tests/fixtures/bart_base/weights.safetensors 2>/dev/null
"$B/vla-quantize" --quiet "$T" "$W/t_i8.gguf"
try "$B/vla-quantize" "$T" "$W/x.gguf" --clip-calibrate
try "$B/vla-quantize" --min-grid-cos 0.999 "$T" "$W/x.gguf"
try "$B/vla-quantize" --clip-calibrate "$W/missing.ppm" "$T" "$W/x.gguf"
try "$B/vla-quantize" --clip-calibrate "$W/junk.gguf" "$T" "$W/x.gguf"
try "$B/vla-quantize" --clip-calibrate "$I" "$W/bart_only.gguf" "$W/x.gguf"
try "$B/vla-quantize" --clip-calibrate "$I" "$W/t_i8.gguf" "$W/x.gguf"
try "$B/vla-quantize" --clip-calibrate "$I" "$W/junk.gguf" "$W/x.gguf"
try "$B/vla-quantize" --clip-calibrate "$I" --min-grid-cos 0 "$T" "$W/x.gguf"
try "$B/vla-quantize" --clip-calibrate "$I" --min-grid-cos 1.5 "$T" "$W/x.gguf"
try "$B/vla-quantize" --clip-calibrate "$I" --min-grid-cos x "$T" "$W/x.gguf"
try "$B/vla-quantize" --clip-calibrate "$I" --to f16 "$T" "$W/x.gguf"
try "$B/vla-fidelity" --clip-calibrate "$W/missing.ppm" tests/fixtures/clip_trunk
try "$B/vla-fidelity" --clip-calibrate "$W/junk.gguf" tests/fixtures/clip_trunk
try "$B/vla-fidelity" --min-grid-cos 0.999 tests/fixtures/clip_trunk
try "$B/vla-fidelity" --clip-calibrate "$I" --min-grid-cos 2 tests/fixtures/clip_trunk
try "$B/vla-fidelity" --clip-calibrate "$I" --to f16 tests/fixtures/clip_trunk
try "$B/vla-fidelity" --clip-calibrate
# vla-fidelity --model: a missing file, not a GGUF, an already-I8 file (the reference would be rounded),
# case directories beside it, calibration pictures with it, a bad --inputs, an unknown option
try "$B/vla-fidelity" --model "$W/missing.gguf"
try "$B/vla-fidelity" --model "$W/junk.gguf"
try "$B/vla-fidelity" --model "$W/t_i8.gguf"
try "$B/vla-fidelity" --model "$T" tests/fixtures/clip_trunk
try "$B/vla-fidelity" --model "$T" --clip-calibrate "$I"
try "$B/vla-fidelity" --model "$T" --inputs 0
try "$B/vla-fidelity" --model "$T" --inputs x
try "$B/vla-fidelity" --bogus
try "$B/vla-fidelity" --min-cos 2
try "$B/vla-fidelity" --min-cos x
try "$B/vla-fidelity" --to f32
try "$B/vla-fidelity" --keep
try "$B/vla-fidelity" "$W/missing_dir"
mkdir -p "$W/fid_unknown" "$W/fid_noweights"   # cases the fidelity tool cannot measure: a FAIL line, never a SKIP
printf '{"inputs": {"mask": "x.npy"}, "files": {}}' > "$W/fid_unknown/manifest.json"
printf '{"files": {"model.safetensors": {}}}' > "$W/fid_noweights/manifest.json"
try "$B/vla-fidelity" "$W/fid_unknown"
try "$B/vla-fidelity" "$W/fid_noweights"
try "$B/stream" --width 0 --height 4 --format i420
try "$B/stream" --width 64 --height 48 --format yuyv
echo "test_cli: $n bad command lines, $bad not refused cleanly"
[ "$bad" = 0 ]
