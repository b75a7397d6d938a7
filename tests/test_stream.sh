#!/usr/bin/env bash
# tests/test_stream.sh [BUILD_DIR] - examples/stream.c (live captioning of raw
# camera frames) on the examples' test model, BUILD_DIR/tiny_caption.gguf.
#
# Builds what it needs (the Makefile's rules where they exist, else the same
# command lines), then in BUILD_DIR/test_stream/:
#   - YUV -> RGB against pixels worked out by hand from the formulas (BT.601 /
#     BT.709, full / limited range, the default, an odd-sized frame whose last
#     column has a chroma sample of its own), through --dump-ppm without a model
#   - I420 and rgb24 streams from tools/gen_i420 (64x48, odd frames picture A,
#     even frames picture B, a square moving with the frame number), read with
#     --all: one line per frame, in order, nothing dropped; the frames stream
#     converted are byte for byte gen_i420's own decoding (written separately:
#     a numerically inverted matrix); every caption equals build/caption on
#     that frame's PPM; row padding (--stride) changes nothing; 2 threads give
#     the 1-thread captions; --question gives build/vqa's answers
#   - dropping: 20 frames at once with --every 1500: increasing frame numbers,
#     each line's "dropped" = the gap to the previous line, the "in all" sum and
#     the summary agree, the last frame is captioned, some frames were dropped,
#     and each captioned frame is the frame its number says; the same checks
#     without --every and with a paced producer (no count asserted there)
#   - end of stream: a truncated last frame is a warning (exit 0, the frames
#     before it captioned), an empty stream exits 0; --max-frames exits while
#     standard input is still open
#   - bad flags and files: exit 2 (1 for unreadable files) with an "error:"
#     line, never a signal
#   - the drop, truncation, --max-frames and error-exit runs again under
#     ASan + UBSan
# Prints "N passed, M failed"; exit status 1 if anything failed.
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
CC=${CC:-cc}
T=$B/test_stream
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }
check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1
    shift
    if "$@"; then ok "$name"; else bad "$name"; fi
}

# ---- build ----
IMGF=""
IMGL=""
if [ -f /usr/include/stb/stb_image.h ]; then IMGF="-DVLA_HAVE_STB_IMAGE -I/usr/include/stb"; IMGL="-lstb"; fi
build() { # build TARGET SOURCE CFLAGS... : the Makefile rule if there is one
    local tgt=$1 src=$2
    shift 2
    if make -n B="$B" "$B/$tgt" >/dev/null 2>&1; then
        make -s B="$B" "$B/$tgt"
    elif [ ! -x "$B/$tgt" ] || [ "$src" -nt "$B/$tgt" ] || [ vladapter.h -nt "$B/$tgt" ] || [ examples/example_util.h -nt "$B/$tgt" ]; then
        # shellcheck disable=SC2068
        $CC -std=c99 -Wall -Wextra -Wpedantic $@ "$src" -o "$B/$tgt" $IMGL -lm -lpthread
    fi
}
mkdir -p "$B"
make -s B="$B" "$B/caption" "$B/vqa" "$B/tiny_caption.gguf" || { echo "build failed"; exit 1; }
# shellcheck disable=SC2086
build stream examples/stream.c -O2 -g -march=native $IMGF || { echo "build failed"; exit 1; }
build gen_i420 tools/gen_i420.c -O2 -g || { echo "build failed"; exit 1; }
START=$(date +%s)
rm -rf "$T"
mkdir -p "$T"
M=$B/tiny_caption.gguf
S=$B/stream
G=$B/gen_i420

bytes() { local v; for v in "$@"; do printf "\\$(printf '%03o' "$v")"; done; } # decimal values -> raw bytes
lines_ok() { # every line of FILE has the documented form
    local n m
    n=$(wc -l < "$1")
    m=$(grep -cE '^frame [0-9]+ \| [0-9]+\.[0-9] ms \| dropped [0-9]+ \([0-9]+ in all\) \| ' "$1")
    [ "$n" = "$m" ]
}
n_lines_ok() { lines_ok "$1" && [ "$(wc -l < "$1")" = "$2" ]; } # n_lines_ok FILE N
fields() { sed -nE 's/^frame ([0-9]+) \| [0-9.]+ ms \| dropped ([0-9]+) \(([0-9]+) in all\) \| .*$/\1 \2 \3/p' "$1"; }
consistent() { # consistent OUT LAST: frame numbers increase, drops add up, the last frame is LAST
    fields "$1" | awk -v last="$2" '
        { if ($1 <= prev || $2 != $1 - prev - 1) bad = 1; tot += $2; if ($3 != tot) bad = 1; prev = $1 }
        END { exit (bad || prev != last || NR == 0) }'
}
summary_ok() { # summary_ok OUT ERR READ: the stderr summary matches the lines
    local n d
    n=$(wc -l < "$1")
    d=$(fields "$1" | awk '{ s += $2 } END { print s + 0 }')
    grep -q "^stream: $3 frames read, $n captioned, $d dropped$" "$2"
}
captions_match() { # captions_match OUT PPMDIR [TOOL ARGS...]: each line's text = the tool on that frame's PPM
    local out=$1 dir=$2 tool=${3:-caption} n text want
    shift 3 2>/dev/null || shift $#
    [ -s "$out" ] || { echo "    no lines"; return 1; }
    while IFS= read -r line; do
        n=$(echo "$line" | sed -E 's/^frame ([0-9]+) .*/\1/')
        text=${line#* | * | * | }
        if [ "$tool" = vqa ]; then
            want=$("$B/vqa" --model "$M" "$(printf '%s/frame_%06d.ppm' "$dir" "$n")" "$@")
        else
            want=$("$B/caption" --model "$M" "$(printf '%s/frame_%06d.ppm' "$dir" "$n")")
        fi
        [ "$text" = "$want" ] || { echo "    frame $n: stream '$text', $tool '$want'"; return 1; }
    done < "$out"
}
frames_match() { # frames_match OUT DUMPDIR GENDIR: each captioned frame's PPM is the generator's
    local n
    for n in $(fields "$1" | awk '{ print $1 }'); do
        cmp -s "$(printf '%s/frame_%06d.ppm' "$2" "$n")" "$(printf '%s/frame_%06d.ppm' "$3" "$n")" ||
            { echo "    frame $n differs"; return 1; }
    done
}

# ---- 1. YUV -> RGB against hand-computed pixels ----
# A 4x2 I420 frame: Y rows 16 235 81 145 / 128 60 200 41; chroma sample 0
# (columns 0-1) U=128 V=128, sample 1 (columns 2-3) U=110 V=160.
#   full range:    Y'=Y, Cb'=U-128, Cr'=V-128
#   limited range: Y'=(Y-16)*255/219, Cb'=(U-128)*255/224, Cr'=(V-128)*255/224
#   R=Y'+2(1-Kr)Cr', G=Y'-2Kb(1-Kb)/Kg Cb'-2Kr(1-Kr)/Kg Cr', B=Y'+2(1-Kb)Cb'
#   BT.601 Kr=.299 Kb=.114: 1.402, .344136, .714136, 1.772
#   BT.709 Kr=.2126 Kb=.0722: 1.5748, .187324, .468124, 1.8556
# e.g. BT.601 full, Y=81 Cb'=-18 Cr'=32: R=81+44.864=125.864 -> 126,
#   G=81+6.194-22.852=64.342 -> 64, B=81-31.896=49.104 -> 49;
#   BT.601 limited, Y=128 U=V=128: 112*1.164384=130.411 -> 130 130 130;
#   BT.601 limited, Y=41: Y'=29.110, Cb'=-20.491, Cr'=36.428: R=80.182 -> 80,
#   G=29.110+7.052-26.015=10.146 -> 10, B=29.110-36.310=-7.2 -> 0;
#   BT.709 full, Y=200: R=200+50.394=250.394 -> 250, G=200+3.372-14.980=188.392
#   -> 188, B=200-33.401=166.599 -> 167.
bytes 16 235 81 145 128 60 200 41 128 110 128 160 > "$T/px4x2.yuv"
# Y 100 150 50, U 200 60, V 70 180 (3x1: the third pixel has chroma sample 1
# to itself), BT.709 limited: pixel 2: Y'=39.589 Cb'=-77.411 Cr'=59.196:
# R=39.589+93.222=132.81 -> 133, G=39.589+14.501-27.711=26.379 -> 26,
# B=39.589-143.644 -> 0; pixel 0: Y'=84*1.164384=97.808, Cb'=72*1.138393=81.964,
# Cr'=-58*1.138393=-66.027: R=97.808-103.979 -> 0, G=97.808-15.354+30.909
# =113.363 -> 113, B=97.808+152.093=249.901 -> 250
bytes 100 150 50 200 60 70 180 > "$T/px3x1.yuv"
px_case() { # px_case NAME W H FILE EXPECTED FLAGS...
    local name=$1 w=$2 h=$3 in=$4 want=$5 got d
    shift 5
    d=$T/px_$name
    mkdir -p "$d"
    if ! "$S" --width "$w" --height "$h" --format i420 "$@" --dump-ppm "$d" < "$in" > "$d/out" 2> "$d/err"; then
        bad "yuv->rgb $name: exit status"; cat "$d/err"; return
    fi
    got=$(tail -c $((w * h * 3)) "$d/frame_000001.ppm" | od -An -tu1 -v | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')
    if [ "$got" = "$want" ]; then ok "yuv->rgb $name"; else bad "yuv->rgb $name: got '$got', want '$want'"; fi
}
px_case bt601-limited 4 2 "$T/px4x2.yuv" "0 0 0 255 255 255 127 57 39 201 131 114 130 130 130 51 51 51 255 195 178 80 10 0" --yuv bt601 --range limited
px_case bt601-full 4 2 "$T/px4x2.yuv" "16 16 16 235 235 235 126 64 49 190 128 113 128 128 128 60 60 60 245 183 168 86 24 9" --yuv bt601 --range full
px_case bt709-limited 4 2 "$T/px4x2.yuv" "0 0 0 255 255 255 133 62 38 208 137 112 130 130 130 51 51 51 255 201 176 86 16 0" --yuv bt709 --range limited
px_case bt709-full 4 2 "$T/px4x2.yuv" "16 16 16 235 235 235 131 69 48 195 133 112 128 128 128 60 60 60 250 188 167 91 29 8" --yuv bt709 --range full
px_case default-is-bt601-full 4 2 "$T/px4x2.yuv" "16 16 16 235 235 235 126 64 49 190 128 113 128 128 128 60 60 60 245 183 168 86 24 9"
px_case odd-3x1-bt709-limited 3 1 "$T/px3x1.yuv" "0 113 250 52 172 255 133 26 0" --yuv bt709 --range limited

# ---- 2. every frame, I420 and rgb24 ----
W=64
H=48
FB=$((W * H * 3 / 2))
mkdir -p "$T/gen" "$T/gen709" "$T/genrgb"
"$G" --width $W --height $H --frames 5 --ppm-dir "$T/gen" > "$T/f5.i420"
"$G" --width $W --height $H --frames 5 --yuv bt709 --range limited --stride 80 --ppm-dir "$T/gen709" > "$T/f5s.i420"
"$G" --width $W --height $H --frames 5 --format rgb24 --ppm-dir "$T/genrgb" > "$T/f5.rgb"
"$G" --width $W --height $H --frames 5 --format rgb24 --stride 200 > "$T/f5s.rgb"
"$G" --width $W --height $H --frames 20 --ppm-dir "$T/gen" > "$T/f20.i420"
all_case() { # all_case NAME INPUT GENDIR STREAM-FLAGS...
    local name=$1 in=$2 gen=$3 d
    shift 3
    d=$T/all_$name
    mkdir -p "$d"
    "$S" --model "$M" --width $W --height $H --all --dump-ppm "$d" "$@" < "$in" > "$d/out" 2> "$d/err"
    check "$name: exit 0" test $? = 0
    check "$name: one line per frame, documented form" n_lines_ok "$d/out" 5
    check "$name: frames 1..5 in order, none dropped" test "$(fields "$d/out" | tr '\n' ,)" = "1 0 0,2 0 0,3 0 0,4 0 0,5 0 0,"
    check "$name: converted frames = gen_i420's decoding" frames_match "$d/out" "$d" "$gen"
    check "$name: captions = build/caption on each frame" captions_match "$d/out" "$d"
    check "$name: summary" summary_ok "$d/out" "$d/err" 5
}
all_case i420 "$T/f5.i420" "$T/gen"
all_case i420-bt709-limited-stride80 "$T/f5s.i420" "$T/gen709" --yuv bt709 --range limited --stride 80
all_case rgb24 "$T/f5.rgb" "$T/genrgb" --format rgb24
all_case rgb24-stride200 "$T/f5s.rgb" "$T/genrgb" --format rgb24 --stride 200
all_case i420-2-threads "$T/f5.i420" "$T/gen" --threads 2
check "two different pictures give different captions" test "$(sed -n 1p "$T/all_i420/out" | sed 's/.* | //')" != "$(sed -n 2p "$T/all_i420/out" | sed 's/.* | //')"

# words inside the test model's 300-token vocabulary (as tests/test_examples.sh uses)
Q=" day New there He may"
mkdir -p "$T/q"
"$S" --model "$M" --width $W --height $H --all --dump-ppm "$T/q" --question "$Q" < "$T/f5.i420" > "$T/q/out" 2> "$T/q/err"
check "--question: exit 0" test $? = 0
check "--question: 5 lines, frames 1..5" n_lines_ok "$T/q/out" 5
check "--question: answers = build/vqa on each frame" captions_match "$T/q/out" "$T/q" vqa "$Q"

# ---- 3. dropping ----
d=$T/drop_every
mkdir -p "$d"
"$S" --model "$M" --width $W --height $H --every 1500 --dump-ppm "$d" < "$T/f20.i420" > "$d/out" 2> "$d/err"
check "drop --every 1500: exit 0" test $? = 0
check "drop --every 1500: line form" lines_ok "$d/out"
check "drop --every 1500: increasing frames, drops add up, frame 20 last" consistent "$d/out" 20
check "drop --every 1500: frames were dropped" test "$(wc -l < "$d/out")" -lt 20
check "drop --every 1500: summary" summary_ok "$d/out" "$d/err" 20
check "drop --every 1500: each line's frame is that frame" frames_match "$d/out" "$d" "$T/gen"
check "drop --every 1500: captions = build/caption" captions_match "$d/out" "$d"
d=$T/drop_fast
mkdir -p "$d"
"$S" --model "$M" --width $W --height $H --dump-ppm "$d" < "$T/f20.i420" > "$d/out" 2> "$d/err"
check "drop (as fast as it can): exit 0" test $? = 0
check "drop (as fast as it can): consistent, frame 20 last" consistent "$d/out" 20
check "drop (as fast as it can): summary" summary_ok "$d/out" "$d/err" 20
check "drop (as fast as it can): each line's frame is that frame" frames_match "$d/out" "$d" "$T/gen"
d=$T/drop_paced
mkdir -p "$d"
(for k in 1 2 3 4 5 6; do tail -c +$(((k - 1) * FB + 1)) "$T/f20.i420" | head -c $FB; sleep 0.3; done) |
    "$S" --model "$M" --width $W --height $H --dump-ppm "$d" > "$d/out" 2> "$d/err"
check "paced producer: exit 0" test $? = 0
check "paced producer: consistent, frame 6 last" consistent "$d/out" 6
check "paced producer: summary" summary_ok "$d/out" "$d/err" 6
check "paced producer: each line's frame is that frame" frames_match "$d/out" "$d" "$T/gen"

# ---- 4. end of stream ----
head -c $((5 * FB - 1000)) "$T/f5.i420" > "$T/trunc.i420"
d=$T/trunc_all
mkdir -p "$d"
"$S" --model "$M" --width $W --height $H --all < "$T/trunc.i420" > "$d/out" 2> "$d/err"
check "truncated last frame (--all): exit 0" test $? = 0
check "truncated last frame (--all): frames 1..4 captioned" consistent "$d/out" 4
check "truncated last frame (--all): 4 lines" test "$(wc -l < "$d/out")" = 4
check "truncated last frame: the warning" grep -q "^warning: the stream ended inside frame 5 ($((FB - 1000)) of $FB bytes): that frame is ignored$" "$d/err"
d=$T/trunc
mkdir -p "$d"
"$S" --model "$M" --width $W --height $H < "$T/trunc.i420" > "$d/out" 2> "$d/err"
check "truncated last frame (dropping): exit 0" test $? = 0
check "truncated last frame (dropping): frame 4 last" consistent "$d/out" 4
check "truncated last frame (dropping): the warning" grep -q '^warning: the stream ended inside frame 5' "$d/err"
"$S" --model "$M" --width $W --height $H < /dev/null > "$T/empty.out" 2> "$T/empty.err"
check "empty stream: exit 0" test $? = 0
check "empty stream: no lines, summary" eval "[ ! -s '$T/empty.out' ] && grep -q '^stream: 0 frames read, 0 captioned, 0 dropped$' '$T/empty.err'"
head -c 100 "$T/f5.i420" | "$S" --width $W --height $H --dump-ppm "$T" > /dev/null 2> "$T/short.err"
check "a stream shorter than one frame: exit 0" test $? = 0
check "a stream shorter than one frame: warning" grep -q "ended inside frame 1 (100 of $FB bytes)" "$T/short.err"
maxf() { # maxf BINARY OUTBASE: --max-frames 2 while standard input stays open
    local t0 t1 rc feeder
    rm -f "$2.fifo"
    mkfifo "$2.fifo"
    (cat "$T/f5.i420"; exec sleep 40) > "$2.fifo" &
    feeder=$!
    t0=$(date +%s)
    timeout 25 "$1" --model "$M" --width $W --height $H --all --max-frames 2 > "$2.out" 2> "$2.err" < "$2.fifo"
    rc=$?
    kill "$feeder" 2>/dev/null
    wait "$feeder" 2>/dev/null
    t1=$(date +%s)
    [ $rc = 0 ] && [ "$(wc -l < "$2.out")" = 2 ] && consistent "$2.out" 2 && [ $((t1 - t0)) -lt 20 ]
}
check "--max-frames 2 exits with standard input still open" maxf "$S" "$T/maxf"

# ---- 5. bad flags and files ----
rejects() { # rejects WANT-RC ARGS...: exit status WANT-RC, an error line, nothing on stdout
    local want=$1 rc
    shift
    "$S" "$@" < "$T/f5.i420" > "$T/bad.out" 2> "$T/bad.err"
    rc=$?
    [ $rc = "$want" ] && grep -q '^error: ' "$T/bad.err" && [ ! -s "$T/bad.out" ] || { echo "    '$*': rc=$rc $(head -c 200 "$T/bad.err")"; return 1; }
}
base="--model $M --width $W --height $H"
bad_ok=1
for args in "--model $M" "--model $M --width $W" "$base --width 0" "$base --width -3" "$base --width abc" \
    "$base --width 16385" "$base --height 1x" "$base --format nv12" "$base --yuv bt2020" "$base --range tv" \
    "$base --stride 10" "$base --format rgb24 --stride 100" "$base --stride 0" "$base --threads 0" "$base --threads 300" \
    "$base --every -5" "$base --every x" "$base --max-frames -1" "$base --bogus" "$base extra.yuv" "$base --dump-ppm $T/nonexistent" \
    "$base --dump-ppm $T/f5.i420" "--width $W --height $H" "--width $W --height $H --dump-ppm $T --question hi" "$base --height"; do
    # shellcheck disable=SC2086
    rejects 2 $args || bad_ok=0
done
rejects 2 --model "$M" --width $W --height $H --question "" || bad_ok=0
rejects 1 --model "$T/no-such-model.gguf" --width $W --height $H || bad_ok=0
rejects 1 --model "$T/f5.i420" --width $W --height $H || bad_ok=0
rejects 1 --model "$M" --adapter "$T/f5.i420" --width $W --height $H || bad_ok=0
check "bad flags and files refused with a message" test $bad_ok = 1

# ---- 6. under ASan + UBSan ----
SB=$T/stream_asan
# shellcheck disable=SC2086
if $CC -std=c99 -Wall -Wextra -Wpedantic -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    $IMGF examples/stream.c -o "$SB" $IMGL -lm -lpthread; then
    san() { # san NAME INPUT LAST FLAGS...
        local name=$1 in=$2 last=$3
        shift 3
        "$SB" --model "$M" --width $W --height $H "$@" < "$in" > "$T/san.out" 2> "$T/san.err" &&
            consistent "$T/san.out" "$last" && ! grep -q 'Sanitizer' "$T/san.err" || { head -20 "$T/san.err"; return 1; }
    }
    check "asan: dropping" san drop "$T/f20.i420" 20
    check "asan: --all with stride" san stride "$T/f5s.i420" 5 --all --stride 80 --yuv bt709 --range limited
    check "asan: rgb24, 2 threads" san rgb "$T/f5s.rgb" 5 --all --format rgb24 --stride 200 --threads 2
    check "asan: truncated last frame" san trunc "$T/trunc.i420" 4 --all
    check "asan: --max-frames with standard input open" maxf "$SB" "$T/maxf_asan"
    san_err() { # the error exits: status 1, a message, no sanitizer report
        "$SB" "$@" --width $W --height $H < "$T/f5.i420" > /dev/null 2> "$T/san.err"
        [ $? = 1 ] && grep -q '^error: ' "$T/san.err" && ! grep -q 'Sanitizer' "$T/san.err" || { head -20 "$T/san.err"; return 1; }
    }
    check "asan: a file that is not a model" san_err --model "$T/f5.i420"
    check "asan: a file that is not an adapter" san_err --model "$M" --adapter "$T/f5.i420"
    check "asan: an unwritable --dump-ppm target mid-stream" san_err --model "$M" --dump-ppm /proc
else
    bad "asan build"
fi

echo "test_stream: $PASS passed, $FAIL failed ($(($(date +%s) - START)) s)"
[ $FAIL = 0 ]
