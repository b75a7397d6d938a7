#!/bin/sh
# tools/bench.sh - what `make bench` runs: the machine's measured peaks first,
# then GEMM, model, training-step and PyTorch benchmarks in sequence (never two
# at once), the comparison tables, and the figures as fractions of the peaks.
#
#   sh tools/bench.sh [-q]          (from anywhere; needs build/bench_gemm and
#                                    build/bench_model, which `make bench` builds;
#                                    build/bench_peaks, build/bench_work and
#                                    build/bench_train when present, else those
#                                    parts are skipped with a message)
#
#   -q                 quick: fewer repetitions everywhere (a smoke test, not numbers
#                      to quote)
#   THREADS=N          thread counts 1 and N (default: 1 and 2) for all of them
#   BENCH_*            sizes and repeats of bench_model / bench_train / bench_torch.py
#                      (see the tops of tools/bench_model.c and tools/bench_train.c);
#                      BENCH_GEMM_ARGS: extra bench_gemm flags (-8, the Q8_0
#                      int8 table, is always on)
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
GEMM_ARGS="-8 ${BENCH_GEMM_ARGS:-} $QUICK" # -8: the Q8_0 int8 path too
PEAK_ARGS="-t ${THREADS:-2} $QUICK"
if [ -n "${THREADS:-}" ]; then
    if [ "$THREADS" = 1 ]; then : "${BENCH_THREADS:=1}"; else : "${BENCH_THREADS:=1 $THREADS}"; fi
    export BENCH_THREADS
    GEMM_ARGS="$GEMM_ARGS -t $THREADS"
fi
RESULTS=$B/bench_model.tsv
PEAKS=$B/bench_peaks.tsv
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
echo "### 1/6 measured peaks: fp32 FMA, int8 dot product, streaming read (tools/bench_peaks.c)"
rm -f "$PEAKS"
if [ -x "$B/bench_peaks" ]; then
    # shellcheck disable=SC2086
    "$B/bench_peaks" $PEAK_ARGS -o "$PEAKS" || status=1
    GEMM_ARGS="$GEMM_ARGS -p $PEAKS"
else
    echo "bench.sh: $B/bench_peaks is missing (make bench builds it): no peaks, no fractions of them"
fi

echo
echo "### 2/6 GEMM kernel vs OpenBLAS (tools/bench_gemm.c)"
# shellcheck disable=SC2086
"$B/bench_gemm" $GEMM_ARGS || status=1

echo
echo "### 3/6 model benchmarks (tools/bench_model.c)"
"$B/bench_model" $QUICK -o "$RESULTS" || status=1

echo
echo "### 4/6 training step (tools/bench_train.c)"
if [ -x "$B/bench_train" ]; then
    "$B/bench_train" $QUICK -a "$RESULTS" || status=1
else
    echo "bench.sh: $B/bench_train is missing: training step skipped, here and for PyTorch (build: see tools/bench_train.c)"
    [ -n "${BENCH_SECTIONS:-}" ] || { BENCH_SECTIONS="bart,clip,pipeline,adapters"; export BENCH_SECTIONS; }
fi

echo
echo "### 5/6 PyTorch at the same shapes, and the comparison (tools/bench_torch.py)"
"$PY" tools/bench_torch.py $QUICK --ours "$RESULTS" || status=1

echo
echo "### 6/6 our figures as fractions of the measured peaks (tools/bench_work.c counts the work)"
if [ ! -s "$PEAKS" ]; then
    echo "bench.sh: no measured peaks ($PEAKS): fractions skipped"
elif [ ! -x "$B/bench_work" ]; then
    echo "bench.sh: $B/bench_work is missing (make bench builds it): fractions skipped"
else
    "$B/bench_work" | awk -v peaks="$PEAKS" -v ours="$RESULTS" '
        { work[$1] = $2 }
        END {
            while ((getline ln < peaks) > 0) { split(ln, f, "\t"); pk[f[2], f[3]] = f[4] }
            while ((getline ln < ours) > 0) { split(ln, f, "\t"); o[f[1], f[2], f[3]] = f[4]; th[f[2]] = 1 }
            steps = work["dec_steps"]
            printf "work (bench_work): CLIP trunk %.2f GMAC, BART encode of %d tokens %.2f GMAC (with the cross-attention K/V),\n",
                work["clip_macs"] / 1e9, work["enc_tokens"], work["enc_macs"] / 1e9
            printf "  %d decode steps %.2f GMAC; a decode step reads %.1f MB of fp32 weights (decoder layers + LM head)\n",
                steps, work["dec_macs"] / 1e9, work["dec_weight_bytes_per_step"] / 1e6
            printf "GFLOP/s = 2 x MAC / time, as a fraction of the fp32 FMA peak; GB/s = weight bytes per decode step /\n"
            printf "  time per step, as a fraction of the streaming-read peak; both peaks at the same thread count\n"
            printf "%-34s %7s %10s %12s %10s %8s\n", "figure", "threads", "ours ms", "rate", "peak", "of peak"
            n = 0
            for (t in th) tl[++n] = t + 0
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (tl[j] < tl[i]) { x = tl[i]; tl[i] = tl[j]; tl[j] = x }
            for (i = 1; i <= n; i++) {
                t = tl[i]
                row("CLIP trunk fp32, GFLOP/s", "clip", "clip_ms", 2 * work["clip_macs"], "fp32_gflops", 1)
                row("BART encode fp32, GFLOP/s", "bart", "encode_ms", 2 * work["enc_macs"], "fp32_gflops", 1)
                row("greedy decode, GFLOP/s", "bart", "greedy_tok_ms", 2 * work["dec_macs"] / steps, "fp32_gflops", 1)
                row("greedy decode, weight GB/s", "bart", "greedy_tok_ms", work["dec_weight_bytes_per_step"], "read_gbs", 1)
                row("beam decode, weight GB/s", "bart", "beam_tok_ms", work["dec_weight_bytes_per_step"], "read_gbs", 1)
            }
        }
        function row(label, sec, key, units, pkey, scale,    ms, r, p) {
            if (!((sec, t, key) in o) || !((t, pkey) in pk)) return
            ms = o[sec, t, key]; p = pk[t, pkey]
            if (ms <= 0 || p <= 0) return
            r = units / (ms * 1e6)
            printf "%-34s %7d %10.2f %12.1f %10.1f %7.0f%%\n", label, t, ms, r, p, 100 * r / p
        }' || status=1
fi

echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')" \
     "(before: $load0); total $(($(date +%s) - t0)) s; raw numbers: $RESULTS"
exit $status
