#!/bin/sh
# tools/pi_estimate.sh - an ESTIMATE of one caption's time on a Raspberry Pi 4
# (Cortex-A72) and a Raspberry Pi 5 (Cortex-A76), until real boards are
# measured.  Writes docs/pi-estimate.md (or the file given as $1).
#
#   sh tools/pi_estimate.sh [out.md]
#
# Needs: the cross compilers of the README's test line (gcc-aarch64-linux-gnu,
# gcc-arm-linux-gnueabihf), llvm-mca (Debian's llvm-19 by default: the first
# release with a Neoverse-N1 scheduling model; LLVM_MCA=llvm-mca-14 or any
# other works, see below), and a host cc for tools/bench_work.c.
#
# How:
#  1. vladapter.h's implementation is compiled to assembly for each board
#     (gcc -O2, the flags a Pi build would use): AArch64 -mcpu=cortex-a72
#     (Pi 4), AArch64 -mcpu=cortex-a76 (Pi 5: NEON + dotprod), and 32-bit
#     armv7 NEON -mcpu=cortex-a72 -mfpu=neon-fp-armv8 (a 32-bit OS on a Pi 4;
#     Thumb-2, as Debian armhf gcc emits by default).
#  2. In the kernel's function the inner loop is found as the innermost
#     backward branch whose body holds multiply-add instructions (fmla / vfma
#     / vmla for fp32; sdot, or smull / smlal / vmull / vmlal for int8), the
#     one with the most of them if there are several; its MACs per
#     iteration are counted from those instructions (fmla .4s = 4, sdot .4s =
#     16, smull / smlal .8h = 8, ...).
#  3. llvm-mca runs that loop body (1000 iterations) for the board's core:
#     cycles per iteration = Total Cycles / 1000.  Cortex-A72 has no model of
#     its own in LLVM (it uses the Cortex-A57 one); the Cortex-A76 has none
#     either, so Neoverse-N1 (the same core design for servers) stands in.
#  4. MACs per cycle per core x clock x cores (4 cores on both boards, perfect
#     scaling assumed) gives the compute time of the work counted by
#     tools/bench_work.c: the CLIP RN101 trunk at 224x224, BART-base encode of
#     46 tokens, and N_STEPS greedy decode steps.
#  5. Decode is bound by memory, not by MACs: each step streams the decoder's
#     weights and the LM head (bench_work's dec_weight_bytes_per_step, fp32;
#     / 4 x (1 + 2/32) for Q8_0: 34-byte blocks of 32 weights).  Its time is
#     bytes / bandwidth, for the theoretical bandwidth of each board's memory
#     bus and for a typical measured one (see BW_* below and the doc).
#
# The kernels are variables: KERNEL_F32 (default vla__k4x3, the 4x3 tile of the
# fp32 dot path) and KERNEL_I8 (default vla__gemm_q8_rect, which holds the
# inlined Q8_0 4x3 tile vla__q8k4x3 at -O2).  The per-row int8 kernel being
# written on branch int8 replaces the latter: KERNEL_I8=<its function>.
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-docs/pi-estimate.md}
B=${B:-build}
LLVM_MCA=${LLVM_MCA:-}
KERNEL_F32=${KERNEL_F32:-vla__k4x3}
KERNEL_I8=${KERNEL_I8:-vla__gemm_q8_rect}
N_STEPS=${N_STEPS:-20}
CC_A64=${CC_A64:-aarch64-linux-gnu-gcc}
CC_A32=${CC_A32:-arm-linux-gnueabihf-gcc}
HOST_CC=${HOST_CC:-cc}
# Boards: clock (GHz), cores, memory bus; bandwidths in GB/s (10^9 bytes/s).
# Theoretical = transfer rate x bus width: Pi 4 LPDDR4-3200 x 32 bit = 12.8,
# Pi 5 LPDDR4X-4267 x 32 bit = 17.1.  Typical measured: Pi 4 STREAM copy
# 5.5 GB/s (sci-pi.org.uk, "Stream" page, a Pi 4 without a display); Pi 5:
# no measurement cited here yet, assumed the same 43% of theoretical = 7.4.
PI4_GHZ=${PI4_GHZ:-1.5}
PI5_GHZ=${PI5_GHZ:-2.4}
BW4_THEO=12.8
BW4_TYP=${BW4_TYP:-5.5}
BW5_THEO=17.1
BW5_TYP=${BW5_TYP:-7.4}
CORES=4

if [ -z "$LLVM_MCA" ]; then
    for m in llvm-mca-19 llvm-mca; do
        if command -v "$m" > /dev/null 2>&1; then LLVM_MCA=$m; break; fi
    done
fi
for t in "$LLVM_MCA" "$CC_A64" "$CC_A32" "$HOST_CC"; do
    if [ -z "$t" ] || ! command -v "$t" > /dev/null 2>&1; then
        echo "pi_estimate.sh: ${t:-llvm-mca} not found (apt-get install llvm-19 gcc-aarch64-linux-gnu gcc-arm-linux-gnueabihf)" >&2
        exit 1
    fi
done
MCA_VERSION=$("$LLVM_MCA" --version | sed -n 's/.*LLVM version \([0-9.]*\).*/\1/p' | head -n 1)

W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$B"
"$HOST_CC" -std=c99 -O2 tools/bench_work.c -o "$W/bench_work"
"$W/bench_work" --steps "$N_STEPS" > "$W/work.txt"
work() { awk -v k="$1" '$1 == k { print $2 }' "$W/work.txt"; }

printf '#define VLADAPTER_IMPLEMENTATION\n#include "%s/vladapter.h"\n' "$(pwd)" > "$W/impl.c"
"$CC_A64" -std=c99 -O2 -mcpu=cortex-a72 -S "$W/impl.c" -o "$W/a72.s"
"$CC_A64" -std=c99 -O2 -mcpu=cortex-a76 -S "$W/impl.c" -o "$W/a76.s"
"$CC_A32" -std=c99 -O2 -mcpu=cortex-a72 -mfpu=neon-fp-armv8 -mfloat-abi=hard -S "$W/impl.c" -o "$W/v7.s"

# loop FILE FUNC KIND -> the instructions of the inner loop into $W/loop.s
# (the innermost backward branch with the most multiply-adds),
# prints "MACs-per-iteration instructions"; KIND f32 or i8.
loop() {
    awk -v fn="$2" -v kind="$3" '
        function macs(s,    m) {
            m = 0
            if (kind == "f32") {
                if (s ~ /^[ \t]*fmla[ \t]+v[0-9]+\.4s/) m = 4
                else if (s ~ /^[ \t]*fmla[ \t]+v[0-9]+\.2s/) m = 2
                else if (s ~ /^[ \t]*v(fma|mla)\.f32[ \t]+q/) m = 4
                else if (s ~ /^[ \t]*v(fma|mla)\.f32[ \t]+d/) m = 2
            } else {
                if (s ~ /^[ \t]*sdot[ \t]+v[0-9]+\.4s/) m = 16
                else if (s ~ /^[ \t]*(smull2?|smlal2?)[ \t]+v[0-9]+\.8h/) m = 8
                else if (s ~ /^[ \t]*v(mull|mlal)\.s8[ \t]/) m = 8
            }
            return m
        }
        $0 ~ "^" fn ":" { on = 1; n = 0; next }
        on && /^[ \t]*\.size/ { on = 0 }
        !on { next }
        {
            line[++n] = $0
            if ($0 ~ /^\.L[A-Za-z0-9_]+:/) { lab = $0; sub(/:.*/, "", lab); at[lab] = n }
            else if ($0 ~ /^[ \t]+(b|b\.[a-z]+|b[a-z][a-z]|cbn?z|tbn?z)[ \t]/) {
                tgt = $NF; sub(/.*,[ \t]*/, "", tgt)
                if (tgt in at) { lo[++nl] = at[tgt]; hi[nl] = n }
            }
        }
        END {
            best = 0
            for (i = 1; i <= nl; i++) {
                mc[i] = 0
                for (j = lo[i]; j <= hi[i]; j++) mc[i] += macs(line[j])
            }
            # innermost loops with multiply-adds (no such loop inside), the one with the most
            for (i = 1; i <= nl; i++) {
                if (!mc[i]) continue
                inner = 1
                for (k = 1; k <= nl; k++)
                    if (k != i && mc[k] && lo[k] >= lo[i] && hi[k] <= hi[i] && hi[k] - lo[k] < hi[i] - lo[i]) inner = 0
                if (inner && mc[i] > bm) { bm = mc[i]; best = i }
            }
            if (!best) { print "0 0"; exit }
            for (j = lo[best]; j <= hi[best]; j++) {
                s = line[j]
                if (s ~ /^[ \t]*\./ || s ~ /^\.L/ || s ~ /^[ \t]*$/) continue
                print s > out; c++
            }
            print bm, c
        }' out="$W/loop.s" "$1"
}

# mca TRIPLE CPU -> cycles per iteration of $W/loop.s
mca() {
    "$LLVM_MCA" -mtriple="$1" -mcpu="$2" -iterations=1000 "$W/loop.s" 2> "$W/mca.err" |
        awk '/^Total Cycles:/ { printf "%.2f\n", $3 / 1000 }'
}

# one row: label board-asm kernel kind triple mca-cpu
ROWS=
measure() {
    label=$1 asm=$2 fn=$3 kind=$4 triple=$5 cpu=$6
    set -- $(loop "$W/$asm.s" "$fn" "$kind")
    m=$1 ni=$2
    if [ "$m" = 0 ]; then
        echo "pi_estimate.sh: no multiply-add loop found in $fn ($asm)" >&2
        cyc=0
    else
        cyc=$(mca "$triple" "$cpu")
        [ -n "$cyc" ] || { echo "pi_estimate.sh: llvm-mca failed on $fn ($asm):" >&2; cat "$W/mca.err" >&2; cyc=0; }
        cp "$W/loop.s" "$W/loop-$asm-$kind.s"
    fi
    ROWS="$ROWS$label|$fn|$kind|$m|$ni|$cyc|$cpu
"
}
measure "Pi 4, AArch64" a72 "$KERNEL_F32" f32 aarch64-linux-gnu cortex-a72
measure "Pi 4, AArch64" a72 "$KERNEL_I8" i8 aarch64-linux-gnu cortex-a72
measure "Pi 4, armv7 32-bit" v7 "$KERNEL_F32" f32 thumbv7a-linux-gnueabihf cortex-a72
measure "Pi 4, armv7 32-bit" v7 "$KERNEL_I8" i8 thumbv7a-linux-gnueabihf cortex-a72
measure "Pi 5, AArch64 + dotprod" a76 "$KERNEL_F32" f32 aarch64-linux-gnu neoverse-n1
measure "Pi 5, AArch64 + dotprod" a76 "$KERNEL_I8" i8 aarch64-linux-gnu neoverse-n1

CLIP=$(work clip_macs) ENC=$(work enc_macs) DEC=$(work dec_macs) WB=$(work dec_weight_bytes_per_step)
TOK=$(work enc_tokens) STEPS=$(work dec_steps)
REV=$(git rev-parse --short HEAD 2>/dev/null || echo "?")
git diff --quiet HEAD -- vladapter.h 2>/dev/null || REV="$REV + uncommitted changes"

{
    echo "# Raspberry Pi: an ESTIMATE, not a measurement"
    echo
    echo "Until real boards are measured: the cycles per iteration that llvm-mca predicts for the inner loops"
    echo "of vladapter.h's kernels, multiplied out over the work of one caption, plus the decode time that the"
    echo "boards' memory bandwidth allows.  Produced by"
    echo
    echo '```sh'
    echo "sh tools/pi_estimate.sh            # writes docs/pi-estimate.md"
    echo '```'
    echo
    echo "from vladapter.h at $REV with llvm-mca $MCA_VERSION ($LLVM_MCA), $("$CC_A64" --version | head -n 1)."
    echo "Everything below is generated; the method is at the top of tools/pi_estimate.sh."
    echo
    echo "## Work of one caption (tools/bench_work.c, from the model shapes)"
    echo
    echo "| part | MACs |"
    echo "|---|---|"
    awk -v c="$CLIP" -v e="$ENC" -v d="$DEC" -v t="$TOK" -v s="$STEPS" 'BEGIN {
        printf "| CLIP RN101 trunk, 224x224 | %.2f G |\n", c / 1e9
        printf "| BART-base encode, %d tokens (with the cross-attention K/V) | %.2f G |\n", t, e / 1e9
        printf "| %d greedy decode steps | %.2f G |\n", s, d / 1e9 }'
    echo
    echo "A decode step reads $(awk -v w="$WB" 'BEGIN { printf "%.0f MB of fp32 weights (%.0f MB as Q8_0)", w / 1e6, w / 4 * 34 / 32 / 1e6 }')"
    echo "(6 decoder layers and the 50465 x 768 LM head)."
    echo
    echo "## Inner loops (llvm-mca, 1000 iterations)"
    echo
    echo "| board, build | kernel function | kind | MACs / iteration | instructions | cycles / iteration | MACs / cycle | llvm-mca -mcpu |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s' "$ROWS" | awk -F'|' 'NF >= 7 { printf "| %s | `%s` | %s | %d | %d | %.2f | %.1f | %s |\n", $1, $2, $3, $4, $5, $6, ($6 > 0 ? $4 / $6 : 0), $7 }'
    echo
    echo "## Estimated time of one caption (4 cores, perfect scaling assumed)"
    echo
    echo "Compute = MACs / (MACs per cycle x clock x 4).  Decode (memory) = $STEPS steps x weight bytes /"
    echo "bandwidth, theoretical and typical; a decode step takes the larger of its compute and memory times."
    echo "fp32 rows use the fp32 kernel for everything; int8 rows the int8 kernel for every MAC and Q8_0"
    echo "weights for the decode traffic (the CLIP trunk has no int8 path today: its int8 time is what one would"
    echo "take)."
    echo
    echo "| board, build | clock GHz | kind | CLIP ms | encode ms | decode compute ms | decode memory ms (theoretical / typical GB/s) | caption ms (typical) |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s' "$ROWS" | awk -F'|' -v c="$CLIP" -v e="$ENC" -v d="$DEC" -v wb="$WB" -v s="$STEPS" -v n="$CORES" \
        -v g4="$PI4_GHZ" -v g5="$PI5_GHZ" -v t4="$BW4_THEO" -v y4="$BW4_TYP" -v t5="$BW5_THEO" -v y5="$BW5_TYP" '
        NF >= 7 && $6 > 0 {
            pi5 = ($1 ~ /Pi 5/)
            ghz = pi5 ? g5 : g4; bt = pi5 ? t5 : t4; by = pi5 ? y5 : y4
            rate = $4 / $6 * ghz * 1e9 * n          # MACs per second, all cores
            bytes = ($3 == "i8") ? wb / 4 * 34 / 32 : wb
            cm = c / rate * 1e3; em = e / rate * 1e3; dm = d / rate * 1e3
            mt = s * bytes / (bt * 1e9) * 1e3; my = s * bytes / (by * 1e9) * 1e3
            tot = cm + em + (dm > my ? dm : my)
            printf "| %s | %.1f | %s | %.0f | %.0f | %.0f | %.0f / %.0f (%.1f / %.1f) | %.0f |\n",
                $1, ghz, ($3 == "i8" ? "int8 (Q8_0)" : "fp32"), cm, em, dm, mt, my, bt, by, tot
        }'
    echo
    echo "## What the estimate leaves out"
    echo
    echo "- Everything outside the inner loops: horizontal sums, packing, im2col, activations, LayerNorm,"
    echo "  attention softmax, beam bookkeeping.  On the x86 development machine the GEMM kernels reach 50-90%"
    echo "  of the fp32 FMA peak and the whole CLIP trunk about half of it, so expect real times 1.5-2x these."
    echo "- Caches: the loops are timed as if every load hit L1.  The Pi 4 has 1 MB of L2 shared by 4 cores, the"
    echo "  Pi 5 512 KB per core + 2 MB L3: the CLIP and encoder weights do not stay in cache either."
    echo "- Scheduling models: LLVM has no Cortex-A72 model (the Cortex-A57 one is used) and no Cortex-A76 one"
    echo "  (Neoverse-N1 stands in).  Clocks: Pi 4 at $PI4_GHZ GHz (later boards run 1.8), Pi 5 at $PI5_GHZ GHz,"
    echo "  no thermal throttling."
    echo "- Bandwidth: theoretical = transfer rate x 32-bit bus (Pi 4 LPDDR4-3200: 12.8 GB/s; Pi 5 LPDDR4X-4267:"
    echo "  17.1 GB/s).  Typical: Pi 4 $BW4_TYP GB/s, the STREAM copy result of sci-pi.org.uk's \"Stream\" page"
    echo "  (a Pi 4 without a display); Pi 5 $BW5_TYP GB/s is an assumption (the same 43% of theoretical), to"
    echo "  be replaced by a measurement (build/bench_peaks on the board prints it)."
    echo "- The int8 loop found is the innermost loop of the Q8_0 tile (one W block against 4 rows of x): the"
    echo "  per-block work around it (scales, fp16 conversion, the double accumulation) is not counted, so the"
    echo "  int8 rows are optimistic.  On the Cortex-A57 model armv7's vmull/vmlal loop comes out faster than"
    echo "  AArch64's smull/smlal one; take it as the model's, not the board's, verdict."
    echo "- The int8 kernel is the existing Q8_0 one (\`$KERNEL_I8\`); a per-row int8 kernel is being written"
    echo "  on branch int8: rerun with KERNEL_I8=<its function>."
    echo "- On the boards themselves: \`make bench\` prints measured peaks (tools/bench_peaks.c builds for Arm:"
    echo "  fmla, sdot or smull/smlal, and a streaming read), which replace every assumption here."
} > "$OUT"
echo "pi_estimate.sh: wrote $OUT"
