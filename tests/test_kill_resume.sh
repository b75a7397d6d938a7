#!/usr/bin/env bash
# tests/test_kill_resume.sh [BUILD_DIR] - vla-train killed with SIGKILL at
# random moments, resumed until done, ends with the bytes of an uninterrupted
# run.
#
# In BUILD_DIR/test_kill_resume/ (BUILD_DIR default build/): a small random
# CLIP-BART with the real tokenizer (as tests/test_vla_train.sh makes it), six
# PPM pictures, train/dev JSONL files with every task.  A reference run trains
# 3 epochs x 7 batches with a state checkpoint after every step (--save-every
# 1: checkpoint writes are frequent) and a dev evaluation every epoch.  Then
# TRIALS trials (default 14), each in a fresh directory:
#   - odd trials start without a feature cache (the cache is computed and
#     written in the first run), the others with a copy of the reference's;
#   - "timed" trials (the first half) SIGKILL each run after a random delay
#     (timeout -s KILL) up to 1.2 x the reference's wall time (0.6 x for a
#     resumed run; seeded: SEED, default 4931), at most 3 times, then let the
#     run finish;
#   - "injected" trials (the second half) preload BUILD_DIR/kill_shim.so
#     (tests/kill_shim.c), which SIGKILLs the process at the N-th fwrite into
#     a file it writes in the test directory (a torn write), fsync, rename or
#     just after a rename,
#     N random up to what a whole run does (the first is always reached):
#     two such kills (two of the four events, in turn), then one timed kill,
#     then the run finishes;
#   - after every kill: once a trial has had a state.gguf, it still has one
#     and vla-inspect reads it; every visible file is whole: the .gguf files
#     read, dev_predictions.jsonl ends with a newline, and no later run finds
#     the feature cache damaged or truncated (vla-train would recompute it and
#     say so); the next run resumes (--resume) if there is a state, starts
#     afresh if there is none, and must not fail;
#   - at the end adapter.gguf, state.gguf and dev_predictions.jsonl are
#     byte-identical (cmp) to the reference's, and so is the feature cache;
#   - one more trial kills right after the last state.gguf is renamed into
#     place, before that epoch's dev evaluation (a kill there used to leave
#     dev_predictions.jsonl an epoch behind after the resume);
#   - over all trials: at least 10 kills after a state existed, at least 10
#     of them injected.
# A failed trial's directory stays in BUILD_DIR/test_kill_resume/.  Prints
# "N passed, M failed" and the kill counts; exit status 1 if anything failed.
# About 20 s on 2 idle cores (40 s when they are busy), much of it in fsync.
set -u
cd "$(dirname "$0")/.."
B=${1:-build}
FIX=${FIXTURES:-tests/fixtures}
T=$B/test_kill_resume
CC=${CC:-cc}
SEED=${SEED:-4931}
TRIALS=${TRIALS:-14}
PASS=0
FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok   - $*"; }
bad() { FAIL=$((FAIL + 1)); echo "FAIL - $*"; }

make -s B="$B" "$B/vla-mkmodel" "$B/vla-inspect" "$B/vla-train" || { echo "build failed"; exit 1; }
$CC -std=c99 -Wall -Wextra -Wpedantic -Werror -O2 -shared -fPIC tests/kill_shim.c -o "$B/kill_shim.so" -ldl || { echo "build failed"; exit 1; }
SHIM=$(cd "$B" && pwd)/kill_shim.so
export VLA_KILL_MATCH=test_kill_resume/ # the shim watches the files written here

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
for s in 1 2 3 4 5 6; do
    LC_ALL=C awk -v s=$s 'BEGIN { w = 24 + 4 * s; h = 20 + 2 * s; printf "P6\n%d %d\n255\n", w, h;
        for (y = 0; y < h; y++) for (x = 0; x < w; x++) for (c = 0; c < 3; c++)
            printf "%c", int((x * (s + c) * 9 + y * (7 - s) * 5 + c * 80 * s) % 256) }' >"$T/data/img/p$s.ppm"
done
cat >"$T/data/train.jsonl" <<EOF
{"task": "vqa", "image": "img/p1.ppm", "input": "what color is it?", "answers": {"red": 1.0, "dark red": 0.3}}
{"task": "vqa", "image": "img/p2.ppm", "input": "how many dogs are there?", "answers": {"two": 0.9, "2": 0.6}}
{"task": "vqa", "image": "img/p3.ppm", "input": "is it sunny?", "answers": {"yes": 1.0}}
{"task": "vqa", "image": "img/p4.ppm", "input": "what is on the table?", "answers": ["cup", "cup", "mug", "cup"]}
{"task": "gqa", "image": "img/p5.ppm", "input": "which side is the lamp on?", "answers": {"left": 1.0}}
{"task": "gqa", "image": "img/p6.ppm", "input": "is the man walking?", "target": "no"}
{"task": "nlvr", "image": "img/p2.ppm", "image2": "img/p3.ppm", "input": "there are two dogs in total.", "target": "true"}
{"task": "nlvr", "image": "img/p4.ppm", "image2": "img/p5.ppm", "input": "one image shows a cat.", "target": "false"}
{"task": "caption", "image": "img/p2.ppm", "target": "A red square on a grey wall."}
{"task": "caption", "image": "img/p5.ppm", "target": "Two stripes of colour."}
EOF
cat >"$T/data/dev.jsonl" <<EOF
{"task": "vqa", "image": "img/p6.ppm", "input": "what color is it?", "answers": ["red", "red", "blue"]}
{"task": "gqa", "image": "img/p1.ppm", "input": "is it dark?", "target": "no"}
{"task": "nlvr", "image": "img/p1.ppm", "image2": "img/p6.ppm", "input": "both are striped.", "target": "true"}
{"task": "caption", "image": "img/p3.ppm", "target": "Stripes."}
EOF
TRAIN=("$B/vla-train" --model "$M" --data "$T/data/train.jsonl" --dev "$T/data/dev.jsonl" --init adapter:hidden=16
       --epochs 3 --batch 2 --lr 3e-2 --threads 1 --save-every 1 --log-every 1000)
OUTS="adapter.gguf state.gguf dev_predictions.jsonl"

now_ms() { date +%s%3N; }

# ---- the reference: uninterrupted ----
t0=$(now_ms)
"${TRAIN[@]}" --out "$T/ref" --feat-cache "$T/ref.feats" >"$T/ref.log" 2>&1
rc=$?
REF_MS=$(($(now_ms) - t0))
if [ $rc -ne 0 ] || [ ! -s "$T/ref/adapter.gguf" ] || [ ! -s "$T/ref/dev_predictions.jsonl" ]; then
    tail -n 5 "$T/ref.log"
    echo "the reference run failed"
    exit 1
fi
ok "reference run: 21 steps, a state after each, $REF_MS ms"
# how many events a whole run has (with the feature cache, which is not
# rewritten then: a run without it has more, so any N up to these is reached)
rm -rf "$T/count"
cp "$T/ref.feats" "$T/count.feats"
VLA_KILL_AT=count LD_PRELOAD=$SHIM "${TRAIN[@]}" --out "$T/count" --feat-cache "$T/count.feats" >"$T/count.log" 2>&1
read -r NW NF NR < <(sed -n 's/^events write=\([0-9]*\) fsync=\([0-9]*\) rename=\([0-9]*\)$/\1 \2 \3/p' "$T/count.log")
if [ -z "${NR:-}" ] || ! cmp -s "$T/count/adapter.gguf" "$T/ref/adapter.gguf"; then
    tail -n 3 "$T/count.log"
    bad "a run under the kill shim (counting only) gives the reference's adapter.gguf"
    NW=1 NF=1 NR=1
else
    ok "a run under the kill shim (counting only) is the reference's; it has $NW file writes, $NF fsyncs, $NR renames"
fi

rnd() { echo $(((RANDOM * 32768 + RANDOM) % ($1 > 0 ? $1 : 1))); } # 0 .. $1 - 1
MAXD=$((REF_MS * 12 / 10 + 1))

# check_dir DIR HAD_STATE: what a kill may leave; returns 1 if something is wrong
check_dir() {
    local d=$1 had=$2 f
    if [ -e "$d/state.gguf" ]; then
        "$B/vla-inspect" "$d/state.gguf" >/dev/null 2>&1 || { echo "   state.gguf does not read"; return 1; }
    elif [ "$had" -eq 1 ]; then
        echo "   the state.gguf of an earlier run is gone"
        return 1
    fi
    if [ -e "$d/adapter.gguf" ]; then
        "$B/vla-inspect" "$d/adapter.gguf" >/dev/null 2>&1 || { echo "   adapter.gguf does not read"; return 1; }
    fi
    f=$d/dev_predictions.jsonl
    if [ -e "$f" ] && [ -s "$f" ] && [ "$(tail -c 1 "$f" | od -A n -t u1 | tr -d ' ')" != 10 ]; then
        echo "   dev_predictions.jsonl is torn"
        return 1
    fi
    return 0
}

KILLS=0 BEFORE_STATE=0 INJECTED=0 RESUMES=0
EVENTS=(write fsync rename renamed)
# the last trial: a kill right after the last state was renamed into place,
# before that epoch's dev evaluation (the last renames of a run: the state of
# the last step, the dev predictions of the last epoch, adapter.gguf)
for ((trial = 1; trial <= TRIALS + 1; trial++)); do
    D=$T/t$trial
    RANDOM=$((SEED + trial)) # each trial's draws are its own, whatever the timing did before
    rm -rf "$D" "$D.feats" "$D.log"
    if [ $((trial % 2)) -eq 0 ] || [ $trial -gt $TRIALS ]; then cp "$T/ref.feats" "$D.feats"; fi
    if [ $trial -le $((TRIALS / 2)) ]; then kind=timed; n_inj=0; n_timed=3
    elif [ $trial -le $TRIALS ]; then kind=injected; n_inj=2; n_timed=1
    else kind="after the last state"; n_inj=1; n_timed=0; FORCE=renamed:$((NR - 2)); fi
    had=0 done=0 problem="" runs=0 what=""
    while [ $done -eq 0 ] && [ $runs -lt 12 ]; do
        args=("${TRAIN[@]}" --out "$D" --feat-cache "$D.feats")
        if [ -e "$D/state.gguf" ]; then args+=(--resume); RESUMES=$((RESUMES + 1)); fi
        runs=$((runs + 1))
        inj=0 attempt=1
        if [ $n_inj -gt 0 ]; then # a kill at a file-system event
            ev=${EVENTS[$(((2 * (trial - TRIALS / 2 - 1) + n_inj) % 4))]}
            case $ev in write) max=$NW ;; fsync) max=$NF ;; *) max=$NR ;; esac
            [ -n "$what" ] && max=$((max / 6 + 1)) # a resumed run does less
            n=$(($(rnd "$max") + 1))
            [ "${FORCE:-}" ] && { ev=${FORCE%%:*}; n=${FORCE#*:}; FORCE=""; }
            what="$what $ev:$n"
            { VLA_KILL_AT=$ev:$n LD_PRELOAD=$SHIM "${args[@]}" >>"$D.log" 2>&1; } 2>/dev/null
            rc=$?
            inj=1
            n_inj=$((n_inj - 1))
        elif [ $n_timed -gt 0 ]; then # a kill after a random delay (timeout: SIGKILL, status 137)
            max=$MAXD
            [ -n "$what" ] && max=$((MAXD / 2 + 1)) # a resumed run does less
            ms=$(($(rnd "$max") + 1))
            what="$what ${ms}ms"
            { timeout -s KILL "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))" "${args[@]}" >>"$D.log" 2>&1; } 2>/dev/null
            rc=$?
            n_timed=$((n_timed - 1))
        else
            attempt=0
            "${args[@]}" >>"$D.log" 2>&1
            rc=$?
        fi
        if [ $rc -eq 0 ]; then
            [ $attempt -eq 1 ] && what="$what(finished first)"
            done=1
        elif [ $rc -eq 137 ]; then
            KILLS=$((KILLS + 1))
            if [ $had -eq 0 ] && [ ! -e "$D/state.gguf" ]; then BEFORE_STATE=$((BEFORE_STATE + 1)); fi
            [ $inj -eq 1 ] && INJECTED=$((INJECTED + 1))
            if ! msg=$(check_dir "$D" $had); then problem="after the kill at$what:$msg"; break; fi
        else
            problem="a run exited with $rc after kills at$what: $(grep 'vla-train' "$D.log" | tail -n 1)"
            break
        fi
        [ -e "$D/state.gguf" ] && had=1
    done
    if [ -z "$problem" ] && grep -q "is corrupt\|is truncated" "$D.log"; then
        problem=" a run found a torn feature cache: $(grep -m 1 'is corrupt\|is truncated' "$D.log")"
    fi
    if [ -n "$problem" ]; then bad "trial $trial ($kind):$problem"; continue; fi
    if [ $done -eq 0 ]; then bad "trial $trial ($kind): not finished after $runs runs"; continue; fi
    same=1 diff=""
    for f in $OUTS; do cmp -s "$T/ref/$f" "$D/$f" || { same=0; diff="$diff $f"; }; done
    cmp -s "$T/ref.feats" "$D.feats" || { same=0; diff="$diff feature-cache"; }
    if [ $same -eq 1 ]; then
        ok "trial $trial ($kind, kills at$what; $runs runs): byte-identical"
        rm -rf "$D" "$D.feats" "$D.log"
    else bad "trial $trial ($kind, kills at$what): differs:$diff"; fi
done
echo "     $KILLS kills ($INJECTED at an injected file-system event, $BEFORE_STATE before the first state was written), $RESUMES resumes"
if [ $((KILLS - BEFORE_STATE)) -ge 10 ] && [ $INJECTED -ge 10 ]; then ok "at least 10 kills after the first state, at least 10 of them injected"
else bad "only $((KILLS - BEFORE_STATE)) kills after the first state, $INJECTED injected"; fi
echo "test_kill_resume: $(($(date +%s) - START)) s"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
