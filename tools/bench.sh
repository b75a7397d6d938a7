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
#                      BENCH_WEIGHTS="f32 i8" (default): bench_model's bart, clip
#                      and pipeline on the fp32 model and on its I8 copy;
#                      BENCH_GEMM_ARGS: extra bench_gemm flags (-8, the Q8_0
#                      int8 table, is always on)
#   BENCH_PYTHON       the interpreter with torch (default /usr/bin/python3: Debian's
#                      python3-torch; a pyenv python on PATH usually has no torch)
#   B                  the build directory (default build)
#
# Timings on a shared machine are only as quiet as the machine: the load
# average is printed before and after.  Takes 2-3 minutes on 2 cores, plus
# about 10 s the first time, when bench_model writes ~0.9 GB of random-weight
# files into build/bench-files (kept for the next run; BENCH_DIR moves them)
# and their ~0.2 GB I8 copy (the int8 tables, a few seconds more);
# the training step adds about 2 minutes (and ~0.6 GB of files, ~10 s, the first time).
set -u
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
PY=${BENCH_PYTHON:-/usr/bin/python3}
QUICK=
[ "${1:-}" = "-q" ] && QUICK=-q
GEMM_ARGS="-8 ${BENCH_GEMM_ARGS:-} $QUICK -o $B/bench_gemm.tsv" # -8: the Q8_0 int8 path too
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
            while ((getline ln < ours) > 0) { split(ln, f, "\t"); o[f[1], f[2], f[3]] = f[4]; if (f[2] > 0) th[f[2]] = 1 }
            steps = work["dec_steps"]
            printf "work (bench_work): CLIP trunk %.2f GMAC, BART encode of %d tokens %.2f GMAC (with the cross-attention K/V),\n",
                work["clip_macs"] / 1e9, work["enc_tokens"], work["enc_macs"] / 1e9
            printf "  %d decode steps %.2f GMAC; a decode step reads %.1f MB of fp32 weights (decoder layers + LM head)\n",
                steps, work["dec_macs"] / 1e9, work["dec_weight_bytes_per_step"] / 1e6
            printf "  int8 (the I8 copy): CLIP trunk %.2f GMAC and BART encode %.2f GMAC on int8 weights; an int8 decode step\n",
                work["clip_macs_int8"] / 1e9, work["enc_macs_int8"] / 1e9
            printf "  reads %.1f MB of the I8 file (int8 matrices + F32 row scales, biases, LayerNorms)\n",
                work["dec_weight_bytes_per_step_i8"] / 1e6
            printf "GFLOP/s = 2 x MAC / time, as a fraction of the fp32 FMA peak; GB/s = weight bytes per decode step /\n"
            printf "  time per step, as a fraction of the streaming-read peak; both peaks at the same thread count;\n"
            printf "  int8 rows: GOP/s = 2 x int8-weight MAC / time, as a fraction of the int8 dot-product peak (int8_gops)\n"
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
                mrow = 1 # int8 rows: a missing input prints a line
                row("CLIP trunk int8, GOP/s", "clip_i8", "clip_ms", 2 * work["clip_macs_int8"], "int8_gops", 1)
                row("BART encode int8, GOP/s", "bart_i8", "encode_ms", 2 * work["enc_macs_int8"], "int8_gops", 1)
                row("greedy decode int8, GOP/s", "bart_i8", "greedy_tok_ms", 2 * work["dec_macs_int8"] / steps, "int8_gops", 1)
                row("greedy decode int8, weight GB/s", "bart_i8", "greedy_tok_ms", i8_bytes(t), "read_gbs", 1)
                row("beam decode int8, weight GB/s", "bart_i8", "beam_tok_ms", i8_bytes(t), "read_gbs", 1)
                mrow = 0
            }
            printf "\nint8 against fp32 and against the memory bound (acceptance: CLIP trunk int8 >= 3x our fp32 trunk;\n"
            printf "  greedy int8 ms/token <= 1.5 x the time to stream a step'"'"'s int8 bytes at the measured read bandwidth)\n"
            if (n == 0) print "  missing: no thread counts in " ours
            for (i = 1; i <= n; i++) {
                t = tl[i]
                if ((("clip", t, "clip_ms") in o) && (("clip_i8", t, "clip_ms") in o) && o["clip_i8", t, "clip_ms"] > 0) {
                    x = o["clip", t, "clip_ms"] / o["clip_i8", t, "clip_ms"]
                    printf "CLIP trunk int8 vs fp32, %d thread%s: %.2fx (fp32 %.2f ms / int8 %.2f ms; goal >= 3.00x: %s)\n",
                        t, (t > 1 ? "s" : ""), x, o["clip", t, "clip_ms"], o["clip_i8", t, "clip_ms"], (x >= 3 ? "met" : "NOT met")
                } else
                    printf "CLIP trunk int8 vs fp32, %d thread%s: missing (needs clip and clip_i8 clip_ms in %s)\n",
                        t, (t > 1 ? "s" : ""), ours
            }
            for (i = 1; i <= n; i++) {
                t = tl[i]
                if ((("bart_i8", t, "greedy_tok_ms") in o) && ((t, "read_gbs") in pk) && pk[t, "read_gbs"] > 0) {
                    b = i8_bytes(t); ms = o["bart_i8", t, "greedy_tok_ms"]
                    bound = b / (pk[t, "read_gbs"] * 1e6) # ms to stream b bytes
                    printf "greedy int8, %d thread%s: %.3f ms/token vs bytes/bandwidth %.3f ms (%.1f MB / %.1f GB/s) -> ratio %.2f (goal <= 1.50: %s)\n",
                        t, (t > 1 ? "s" : ""), ms, bound, b / 1e6, pk[t, "read_gbs"], ms / bound, (ms / bound <= 1.5 ? "met" : "NOT met")
                } else
                    printf "greedy int8, %d thread%s: missing (needs bart_i8 greedy_tok_ms in %s and read_gbs in %s)\n",
                        t, (t > 1 ? "s" : ""), ours, peaks
            }
        }
        # the I8 bytes a decode step reads: bench_model'"'"'s sum over the I8 file'"'"'s
        # tensors when it wrote one, else bench_work'"'"'s count (the same number)
        function i8_bytes(t) {
            return (("bart_i8", t, "dec_bytes_per_step") in o) ? o["bart_i8", t, "dec_bytes_per_step"] : work["dec_weight_bytes_per_step_i8"]
        }
        function row(label, sec, key, units, pkey, scale,    ms, r, p) {
            if (!((sec, t, key) in o) || !((t, pkey) in pk)) {
                if (mrow) printf "%-34s %7d   missing: needs %s %s (results) and %s (peaks)\n", label, t, sec, key, pkey
                return
            }
            ms = o[sec, t, key]; p = pk[t, pkey]
            if (ms <= 0 || p <= 0) return
            r = units / (ms * 1e6)
            printf "%-34s %7d %10.2f %12.1f %10.1f %7.0f%%\n", label, t, ms, r, p, 100 * r / p
        }' || status=1
fi

echo
echo "int8 GEMM against the int8 peak, 1 thread (acceptance: >= 50 % at the encoder and CLIP shapes; encoder ="
echo "  the I8 table's BART rows at M = 46, CLIP = the I8 convolutions as the trunk runs them; from $B/bench_gemm.tsv)"
if [ ! -s "$B/bench_gemm.tsv" ]; then
    echo "int8 GEMM: missing ($B/bench_gemm.tsv was not written)"; status=1
else
    awk -F'\t' '
        $3 == 1 && $1 == "i8_linear" && $2 ~ /^bart (q\/k\/v\/o proj|fc1|fc2)$/ { n["enc"]++; if (!("enc" in lo) || $5 < lo["enc"]) { lo["enc"] = $5; at["enc"] = $2 } }
        $3 == 1 && $1 == "i8_conv" { n["clip"]++; if (!("clip" in lo) || $5 < lo["clip"]) { lo["clip"] = $5; at["clip"] = $2 } }
        $1 ~ /DIFF/ { bad++ }
        END {
            split("enc clip", k, " "); name["enc"] = "encoder shapes"; name["clip"] = "CLIP shapes"
            for (i = 1; i <= 2; i++) {
                if (!(k[i] in n) || lo[k[i]] <= 0) { printf "int8 GEMM, %s: missing (no rows or no int8 peak)\n", name[k[i]]; continue }
                printf "int8 GEMM, %s, 1 thread: lowest %.0f %% of the int8 peak (%s) over %d shapes (goal >= 50 %%: %s)\n",
                    name[k[i]], 100 * lo[k[i]], at[k[i]], n[k[i]], (lo[k[i]] >= 0.5 ? "met" : "NOT met")
            }
            if (bad) printf "int8 GEMM: %d rows differ from the scalar reference (DIFF)\n", bad
        }' "$B/bench_gemm.tsv"
fi

echo
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')" \
     "(before: $load0); total $(($(date +%s) - t0)) s; raw numbers: $RESULTS"
exit $status
