#!/usr/bin/env bash
# tests/test_valgrind.sh BUILD_DIR - valgrind memcheck over the examples and
# the tools on the test models: no invalid read/write, no use of
# uninitialised values, no definite leak.  Built apart (BUILD_DIR/vg) with
# -mavx2 -mfma: valgrind does not run AVX-512 code, and -march=native may
# pick it.  make valgrind runs this; CI does too.
set -u
B=${1:-build}
V=$B/vg
mkdir -p "$V"
CC=${CC:-cc}
FL="-std=c99 -O1 -g -mavx2 -mfma"
IMG=""
if [ -f /usr/include/stb/stb_image.h ]; then IMG="-DVLA_HAVE_STB_IMAGE -I/usr/include/stb"; IMGL="-lstb"; else IMGL=""; fi
build() { # build NAME SOURCE [libs]
    local n=$1 s=$2; shift 2
    [ "$V/$n" -nt "$s" ] && [ "$V/$n" -nt vladapter.h ] && return 0
    $CC $FL $IMG "$s" -o "$V/$n" "$@" -lm || { echo "test_valgrind: FAIL building $n"; exit 1; }
}
build caption examples/caption.c $IMGL -lpthread
build vqa examples/vqa.c $IMGL
build hotswap examples/hotswap.c $IMGL
build vla-convert tools/vla-convert.c
build vla-inspect tools/vla-inspect.c
build vla-train tools/vla-train.c $IMGL
build vla-eval tools/vla-eval.c
W=$B/examples_models   # made by tests/test_examples.sh
T=$B/tiny_caption.gguf
[ -s "$W/lora.gguf" ] && [ -s "$T" ] || { echo "test_valgrind: FAIL run tests/test_examples.sh first ($W)"; exit 1; }
fails=0 runs=0
vg() { # vg LABEL CMD...: one memcheck run
    local label=$1; shift
    runs=$((runs + 1))
    if ! valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-origins=no "$@" \
            > "$V/out.txt" 2> "$V/err.txt"; then
        if grep -q "==[0-9]*==" "$V/err.txt" || [ "$(tail -c 200 "$V/err.txt" | grep -c 'exit')" != 0 ]; then :; fi
        rc=$?
    fi
    if grep -q "==[0-9]*==" "$V/err.txt"; then
        echo "test_valgrind: FAIL $label"; sed -n 1,30p "$V/err.txt"; fails=$((fails + 1))
    fi
}
I=tests/data/images/coffee.ppm
vg "caption" "$V/caption" --model "$T" "$I"
vg "caption, adapter, 2 threads" "$V/caption" --model "$W/lora.gguf" --adapter "$W/lora_ad.gguf" --threads 2 --beams 2 "$I"
vg "vqa" "$V/vqa" --model "$W/multiple_adapters.gguf" --adapter "$W/multiple_adapters_ad.gguf" "$I" " day New there"
vg "hotswap" "$V/hotswap" --model "$W/lora.gguf" --adapter "$W/lora_ad.gguf" --adapter "$W/lora_ad.gguf" --rounds 8 "$I" " day"
vg "caption, bad flag" "$V/caption" --model "$T" --beams 0 "$I"
vg "caption, missing file" "$V/caption" --model "$V/nope.gguf" "$I"
vg "vla-inspect" "$V/vla-inspect" "$W/lora.gguf"
vg "vla-inspect --params" "$V/vla-inspect" --params "$W/lora.gguf" "$W/lora_ad.gguf"
vg "vla-convert (safetensors + tokenizer)" "$V/vla-convert" --quiet -o "$V/c.gguf" --adapter-out "$V/c_ad.gguf" \
    --bart tests/fixtures/bart_lora/weights.safetensors --clip tests/fixtures/clip_trunk/weights.safetensors --tokenizer tests/fixtures/tokenizer
vg "vla-convert (LAST.pth)" "$V/vla-convert" --quiet -o "$V/l.gguf" --adapter-out "$V/l_ad.gguf" \
    --bart tests/fixtures/checkpoint_formats/vladapter_lora_LAST.pth --config tests/fixtures/bart_lora/weights.safetensors
vg "vla-convert --export" "$V/vla-convert" --export "$V/e.pth" --model "$V/c.gguf" --adapter "$V/c_ad.gguf"
vg "vla-convert --merge-lora" "$V/vla-convert" --merge-lora vqa --model "$V/c.gguf" --adapter "$V/c_ad.gguf" -o "$V/m.gguf"
echo "test_valgrind: $runs memcheck runs, $fails with errors"
[ "$fails" = 0 ]
