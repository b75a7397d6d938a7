#!/usr/bin/env bash
# tests/test_fixture_rules.sh [BUILD_DIR] - tools/vla-fixtures never skips a
# file silently and takes its settings from the case.
#
# Each check copies one case of the fixtures (FIXTURES, default
# tests/fixtures) into a scratch fixture root (the other cases are symbolic
# links, so references like ../bart_inputs/x.npy still resolve), changes it,
# runs BUILD_DIR/vla-fixtures --cases <case> on it and looks at the result
# lines and the exit status:
#   - an output the runner does not expect (beam4_ids.npy where beam5_ids.npy
#     was, a made-up mystery.npy, listed in the manifest or only lying in the
#     directory, beam3_ids_caption.npy without a caption variant, a beam count
#     that cannot be read) gives a FAIL line and exit status 1;
#   - the beam width comes from the file name: the oracle's greedy ids pass as
#     beam1_ids.npy and fail as beam5_ids.npy, the oracle's beam-5 ids fail as
#     beam1_ids.npy; beam4_ids.npy is run with num_beams=4 (wrong ids FAIL
#     naming num_beams=4; the oracle has no 4-beam ids, so for the beam-5 ids
#     renamed to beam4 only the line and an exit status that agrees with it are
#     asserted, not the result);
#   - max_length, tolerances, declared shapes, the tokenizer's prefix, the
#     overridden EOS logit and a second task's list of beam counts come from
#     the manifest: changing them changes the result or gives a FAIL line
#     saying what is missing;
#   - a data directory without a manifest, an input file no case uses, labels
#     that disagree with their targets and an unknown --cases name FAIL.
# Prints "N passed, M failed"; exit status 1 if anything failed.
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
FIX=${FIXTURES:-tests/fixtures}
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }

make -s B="$B" "$B/vla-fixtures" || { echo "build failed"; exit 1; }
START=$(date +%s)
ROOT=$(mktemp -d "${TMPDIR:-/tmp}/vla_fixture_rules.XXXXXX")
trap 'rm -rf "$ROOT"' EXIT
FIXABS=$(cd "$FIX" && pwd)

# fresh CASE: the scratch root with a private copy of CASE
fresh() {
    local d
    rm -rf "${ROOT:?}"/*
    for d in "$FIXABS"/*/; do ln -s "$d" "$ROOT/$(basename "$d")"; done
    rm "$ROOT/$1"
    cp -r "$FIXABS/$1" "$ROOT/$1"
    C=$ROOT/$1
}
# run CASES: the runner's lines in $OUT, its exit status in $RC
run() {
    OUT=$("$B/vla-fixtures" --cases "$1" "$ROOT" 2>/dev/null)
    RC=$?
}
# line OUTPUT: the result line of an output ("<case>/OUTPUT RESULT ..." or "OUTPUT RESULT ...")
line() {
    printf '%s\n' "$OUT" | awk -v o="$1" '{ n = length($1) - length(o)
        if (n >= 0 && substr($1, n + 1) == o && (n == 0 || substr($1, n, 1) == "/")) print }'
}
# expect NAME RESULT(PASS|FAIL|"": any) OUTPUT [TEXT]: that output has a line with RESULT (and TEXT)
expect() {
    local name=$1 res=$2 out=$3 text=${4:-} l
    l=$(line "$out")
    if [ -z "$l" ]; then bad "$name: no line for $out"; return; fi
    case "$l" in
    *" $res "*) ;;
    *) if [ -n "$res" ]; then bad "$name: $l"; return; fi ;;
    esac
    if [ -n "$text" ] && ! printf '%s' "$l" | grep -qF -- "$text"; then bad "$name: '$text' not in: $l"; return; fi
    ok "$name"
}
# status NAME WANT: the exit status of the last run
status() { if [ "$RC" -eq "$2" ]; then ok "$1: exit status $2"; else bad "$1: exit status $RC, not $2"; fi; }
# add_entry MANIFEST KEY JSON: a member of "files"
add_entry() {
    awk -v k="$2" -v v="$3" '{ print } !done && /"files": \{/ { print "  \"" k "\": " v ","; done = 1 }' "$1" >"$1.new" && mv "$1.new" "$1"
}
# npy_ids SRC DST FIRST: DST = SRC (an int64 .npy of ids) with its first id replaced by FIRST
npy_ids() {
    cp "$1" "$2"
    local off=$(($(od -A n -t u2 -j 8 -N 2 --endian=little "$1") + 10)) # v1: 10 bytes, then the header
    printf "$(printf '\\%03o' "$3")" | dd of="$2" bs=1 seek="$off" conv=notrunc 2>/dev/null
}

# ---- e2e: the untouched copy passes ----
fresh e2e
run e2e
status "e2e copy" 0
expect "e2e: beam5_ids.npy is run with 5 beams" PASS beam5_ids.npy "num_beams=5 max_length=12"
expect "e2e: greedy_ids.npy is run with 1 beam" PASS greedy_ids.npy "num_beams=1"

# ---- beam5_ids.npy renamed to beam4_ids.npy, manifest unchanged ----
mv "$C/beam5_ids.npy" "$C/beam4_ids.npy"
run e2e
expect "renamed on disk: the listed beam5_ids.npy FAILs" FAIL beam5_ids.npy "missing"
if line beam4_ids.npy | grep -q "num_beams=4"; then ok "renamed on disk: beam4_ids.npy is checked with 4 beams"; else bad "renamed on disk: no 4-beam line for beam4_ids.npy"; fi
status "renamed on disk" 1

# ---- ... and in the manifest: a consistent 4-beam case ----
sed -i 's/"beam5_ids.npy"/"beam4_ids.npy"/' "$C/manifest.json"
run e2e
L4=$(line beam4_ids.npy)
if printf '%s' "$L4" | grep -q "num_beams=4 max_length=12"; then ok "beam4 case: checked with num_beams=4 ($(echo "$L4" | cut -d' ' -f2))"; else bad "beam4 case: $L4"; fi
case "$L4" in
*" PASS "*) status "beam4 case, the oracle's beam-5 ids (same ids at 4 beams here)" 0 ;;
*) status "beam4 case, the oracle's beam-5 ids (other ids at 4 beams)" 1 ;;
esac
npy_ids "$FIX/e2e/beam5_ids.npy" "$C/beam4_ids.npy" 7 # no generation starts with 7: the start token is 2
run e2e
expect "beam4 case with wrong ids: FAIL naming 4 beams" FAIL beam4_ids.npy "num_beams=4"
status "beam4 case with wrong ids" 1

# ---- the width is the file name's: oracle ids under other names ----
fresh e2e
add_entry "$C/manifest.json" beam1_ids.npy '{"shape": [1, 12], "dtype": "int64", "tolerance": "exact"}'
cp "$C/greedy_ids.npy" "$C/beam1_ids.npy"
run e2e
expect "the oracle's greedy ids pass as beam1_ids.npy (num_beams=1 is greedy search)" PASS beam1_ids.npy "num_beams=1"
status "beam1 = greedy" 0
cp "$C/beam5_ids.npy" "$C/beam1_ids.npy"
run e2e
expect "the oracle's beam-5 ids fail as beam1_ids.npy" FAIL beam1_ids.npy "num_beams=1"
cp "$FIX/e2e/greedy_ids.npy" "$C/beam5_ids.npy"
run e2e
expect "the oracle's greedy ids fail as beam5_ids.npy" FAIL beam5_ids.npy "num_beams=5"
status "greedy ids as beam 5" 1

# ---- files nobody expects ----
fresh e2e
cp "$C/greedy_ids.npy" "$C/mystery.npy"
run e2e
expect "mystery.npy in the directory only" FAIL mystery.npy "not understood"
status "mystery.npy on disk" 1
add_entry "$C/manifest.json" mystery.npy '{"shape": [1, 12], "dtype": "int64", "description": "?"}'
run e2e
expect "mystery.npy listed in the manifest" FAIL mystery.npy "not understood"
status "mystery.npy listed" 1
fresh e2e
add_entry "$C/manifest.json" mystery_out '{"file": "../e2e/greedy_ids.npy"}'
add_entry "$C/manifest.json" notes.txt '{"description": "a file that is not there"}'
run e2e
expect "a listed key the runner has no use for" FAIL mystery_out "not understood"
expect "a listed file that does not exist" FAIL notes.txt
status "unknown keys" 1
fresh e2e
cp "$C/beam5_ids.npy" "$C/beamX_ids.npy"
mkdir "$C/extra" && cp "$C/greedy_ids.npy" "$C/extra/"
run e2e
expect "a beam count that cannot be read" FAIL beamX_ids.npy "beam count"
expect "a file in a subdirectory" FAIL extra/greedy_ids.npy "not understood"
status "unreadable names" 1

# ---- settings from the manifest ----
fresh e2e
sed -i 's/"max_length": 12,/"max_length": 10,/' "$C/manifest.json"
run e2e
expect "max_length 10 from the manifest (the oracle's 12 columns cannot match)" FAIL greedy_ids.npy "max_length=10"
expect "... for beam search too" FAIL beam5_ids.npy "num_beams=5 max_length=10"
fresh e2e
sed -i '/"max_length": 12,/d' "$C/manifest.json"
run e2e
expect "no max_length: greedy search takes the width (same ids)" PASS greedy_ids.npy "max_length=12"
expect "no max_length: beam search refuses to guess" FAIL beam5_ids.npy "no max_length"
fresh e2e
sed -i '/"atol": 0.001,/d; /"rtol": 0.0001$/d' "$C/manifest.json"
sed -i 's/"max_abs_value": 3.1637272849095033,/"max_abs_value": 3.1637272849095033/' "$C/manifest.json"
run e2e
expect "a float output without a tolerance" FAIL encoder_hidden.npy "no tolerance"
fresh e2e
sed -i '0,/    8$/s//    9/' "$C/manifest.json" # input_ids.npy declared [1, 9]; the file is [1, 8]
run e2e
expect "a shape that is not the declared one" FAIL input_ids.npy "shape"
status "declared shape" 1

# ---- a VL-BART case (bart_base): variants, generation settings, training ----
fresh bart_base
run bart_base
status "bart_base copy" 0
cp "$C/beam5_ids.npy" "$C/beam3_ids_caption.npy"
run bart_base
expect "beam3_ids_caption.npy in a case without a caption variant" FAIL beam3_ids_caption.npy "not understood"
fresh bart_base
sed -i 's/get_linear_schedule_with_warmup(warmup=0, total=10)/get_linear_schedule_with_warmup(warmup=0)/' "$C/manifest.json"
run bart_base
expect "a schedule without total=N" FAIL training "total=N"
expect "... leaves the step files unchecked, and says so" FAIL params_step2.safetensors "not understood"

# ---- a second task whose manifest lists the beam counts it was run with ----
fresh bart_multiple_adapters
mv "$C/beam5_ids_caption.npy" "$C/beam4_ids_caption.npy"
sed -i 's/beam5_ids_caption/beam4_ids_caption/g' "$C/manifest.json"
run bart_multiple_adapters
expect "beam4_ids_caption.npy is run with 4 beams" "" beam4_ids_caption.npy "num_beams=4 max_length=20"
expect "the caption task's num_beams list [1, 5] has no output for 5" FAIL generation_caption:num_beams "num_beams 5 is listed"
status "num_beams list" 1

# ---- tokenizer: prefixes and lengths from the field descriptions ----
fresh tokenizer
sed -i "s/encode('vqa: ' + text, max_length=20/encode('gqa: ' + text, max_length=20/" "$C/manifest.json"
sed -i 's/"vl_decoded": "decode(vl_ids) (special tokens kept)"/&,\n   "vl_upper": "text.upper()"/' "$C/manifest.json"
run tokenizer
expect "the prompt prefix is the manifest's ('gqa: ' now)" FAIL cases.json:vl_vqa_prompt_ids "prefix 'gqa: '"
expect "the answer length is the manifest's" PASS cases.json:vl_answer_ids "max_length 10"
expect "a field the runner does not know" FAIL cases.json:vl_upper "does not understand"

# ---- bart_decode_eos: the overridden logit is the manifest's ----
fresh bart_decode_eos
sed -i '/"index": \[/,/\]/d' "$C/manifest.json"
run bart_decode_eos
expect "no eos_override.index" FAIL inputs "eos_override.index"
status "no eos index" 1

# ---- inputs of other cases ----
fresh bart_task_inputs
cp "$C/nlvr_labels.npy" "$C/l.npy"
cp "$C/step2_nlvr_labels.npy" "$C/nlvr_labels.npy" # labels [0, 1] against targets for [1, 0]
mv "$C/l.npy" "$C/step2_nlvr_labels.npy"
add_entry "$C/manifest.json" spare_ids.npy '{"shape": [2, 6], "dtype": "int64"}'
cp "$C/caption_input_ids_prefix.npy" "$C/spare_ids.npy"
run bart_task_inputs
expect "an input of other cases" PASS nlvr_input_ids.npy "input of 1 case: bart_nlvr"
expect "labels that disagree with their targets" FAIL nlvr_labels.npy "target_true"
expect "an input no case uses" FAIL spare_ids.npy "no case uses"
mkdir "$ROOT/orphan" && cp "$FIX/e2e/greedy_ids.npy" "$ROOT/orphan/"
run bart_task_inputs,orphan,no_such_case
expect "a directory of data without a manifest" FAIL orphan/manifest.json "without a manifest"
expect "an unknown --cases name" FAIL no_such_case/manifest.json "no such case"
status "orphans" 1

echo "test_fixture_rules: $(($(date +%s) - START)) s"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
