#!/bin/sh
# tools/bench.sh - what `make bench` runs: GEMM, model, training-step and PyTorch
# benchmarks in sequence (never two at once), then the comparison tables.
#
#   sh tools/bench.sh [-q]          (from anywhere; needs build/bench_gemm and
#                                    build/bench_model, which `make bench` builds;
#                                    build/bench_train when present, else the
#                                    training part is skipped with a message)
#
#   -q                 quick: fewer repetitions everywhere (a smoke test, not numbers
#                      to quote)
#   THREADS=N          thread counts 1 and N (default: 1 and 2) for all of them
#   BENCH_*            sizes and repeats of bench_model / bench_train / bench_torch.py
#                      (see the tops of tools/bench_model.c and tools/bench_train.c);
#                      BENCH_GEMM_ARGS: extra bench_gemm flags
#   BENCH_PYTHON       the interpreter with torch (default /usr/bin/python3: Debian's
#                      python3-torch; a pyenv python on PATH usually has no torch)
#   B                  the build directory (default build)
#
# Timings on a shared machine are only as quiet as the machine: the load
# average is printed before and after.  Takes 2-3 minutes on 2 cores, plus
# about 10 s the first time, when bench_model writes ~0.9 GB of random-weight
# files into build/bench-files (kept for the next run; BENCH_DIR moves them);
# the training step adds about 2 minutes (and ~0.6 GB of files, ~10 s, the first time).
set -u
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
PY=${BENCH_PYTHON:-/usr/bin/python3}
QUICK=
[ "${1:-}" = "-q" ] && QUICK=-q
GEMM_ARGS="${BENCH_GEMM_ARGS:-} $QUICK"
if [ -n "${THREADS:-}" ]; then
    if [ "$THREADS" = 1 ]; then : "${BENCH_THREADS:=1}"; else : "${BENCH_THREADS:=1 $THREADS}"; fi
    export BENCH_THREADS
    GEMM_ARGS="$GEMM_ARGS -t $THREADS"
fi
RESULTS=$B/bench_model.tsv
status=0

for exe in bench_gemm bench_model; do
    [ -x "$B/$exe" ] || { echo "bench.sh: $B/$exe is missing (make bench builds it)"; exit 1; }
done
simd=$("$B/bench_model" --simd 2>/dev/null || echo "?")
if torch_v=$("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null); then
    torch_v="PyTorch $torch_v"
else
    torch_v="PyTorch not installed"
fi
load0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo "?")
rev=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
git diff --quiet HEAD -- vladapter.h 2>/dev/null || rev="$rev + uncommitted changes"
echo "=============================================================================="
echo "vladapter.h benchmarks: $(uname -m), SIMD $simd, $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo '?') cpus," \
     "$torch_v ($PY)"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), vladapter.h at $rev, load average before: $load0"
echo "=============================================================================="

t0=$(date +%s)
echo
echo "### 1/4 GEMM kernel vs OpenBLAS (tools/bench_gemm.c)"
# shellcheck disable=SC2086
"$B/bench_gemm" $GEMM_ARGS || status=1

echo
echo "### 2/4 model benchmarks (tools/bench_model.c)"
"$B/bench_model" $QUICK -o "$RESULTS" || status=1

echo
echo "### 3/4 training step (tools/bench_train.c)"
if [ -x "$B/bench_train" ]; then
    "$B/bench_train" $QUICK -a "$RESULTS" || status=1
else
    echo "bench.sh: $B/bench_train is missing: training step skipped, here and for PyTorch (build: see tools/bench_train.c)"
    [ -n "${BENCH_SECTIONS:-}" ] || { BENCH_SECTIONS="bart,clip,pipeline,adapters"; export BENCH_SECTIONS; }
fi

echo
echo "### 4/4 PyTorch at the same shapes, and the comparison (tools/bench_torch.py)"
"$PY" tools/bench_torch.py $QUICK --ours "$RESULTS" || status=1

echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')" \
     "(before: $load0); total $(($(date +%s) - t0)) s; raw numbers: $RESULTS"
exit $status
