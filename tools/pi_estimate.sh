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
#     conditional backward branch whose body holds multiply-add instructions
#     (fmla / vfma / vmla for fp32; sdot, or smull / smlal / vmull / vmlal
#     for int8) and no call, the one with the most of them if there are
#     several (an unconditional jump back is not taken as a loop: it is how
#     gcc returns from a tail step it placed out of line); its MACs per
#     iteration are counted from those instructions: fmla .4s = 4, .2s = 2;
#     sdot .4s = 16 (4 lanes x 4 byte products), .2s = 8; smull / smlal /
#     smull2 / smlal2 .8h = 8 (8 byte products widened to int16); armv7
#     vmull.s8 / vmlal.s8 = 8.  The pairwise accumulations that follow the
#     widening products (sadalp, vpadal: int16 pairs into int32) add no
#     product and count 0, as do loads, address and loop arithmetic.  The
#     instruction mix counted is printed with the table.
#  3. llvm-mca runs that loop body (1000 iterations) for the board's core:
#     cycles per iteration = Total Cycles / 1000.  Cortex-A72 has no model of
#     its own in LLVM (it uses the Cortex-A57 one); the Cortex-A76 has none
#     either, so Neoverse-N1 (the same core design for servers) stands in.
#  4. MACs per cycle per core x clock x cores (4 cores on both boards, perfect
#     scaling assumed) gives the compute time of the work counted by
#     tools/bench_work.c: the CLIP RN101 trunk at 224x224, BART-base encode of
#     46 tokens, and N_STEPS greedy decode steps.  fp32 rows run all of it at
#     the fp32 loop's rate.  int8 rows are the I8 model (int8 weights, one
#     F32 scale per row; the CLIP convolutions too, through im2col and the
#     same GEMM on Arm): the MACs on int8 weights (clip_macs_int8,
#     enc_macs_int8, dec_macs_int8) at the int8 loop's rate, the rest (the
#     stem's first convolution, kept F32, and the attention scores and
#     values, activations x activations) at the same build's fp32 rate.
#  5. Decode is bound by memory, not by MACs: each step streams the decoder's
#     weights and the LM head: bench_work's dec_weight_bytes_per_step (the
#     fp32 matrices) for fp32 rows, dec_weight_bytes_per_step_i8 (every byte
#     of the I8 file a step reads: int8 matrices, their F32 row scales, and
#     the biases and LayerNorms kept F32) for int8 rows.  Its time is bytes /
#     bandwidth, for the theoretical bandwidth of each board's memory bus and
#     for a typical measured one (see BW_* below and the doc).
#
# The kernels are variables, the function of the -O2 assembly that holds
# the loop (a static kernel that gcc inlines has no symbol of its own):
#   KERNEL_F32   default vla__k4x3, the 4x3 tile of the fp32 dot path.
#   KERNEL_I8_A72, KERNEL_I8_A76, KERNEL_I8_V7 (or KERNEL_I8 for all three)
#                default vla__gemm_i8_rect, the I8 GEMM.  On AArch64 (Pi 4:
#                smull / smlal / sadalp; Pi 5: sdot) its M >= 4 loop is the
#                inlined 4x4 tile vla__i8_sums4x4 (VLA__I8_DOT4): 16 bytes of
#                4 x rows against 4 W rows per iteration; on 32-bit armv7 it
#                is the inlined 1 x 4 vla__i8_sums1x4 (vmull / vmlal /
#                vpadal), run once per x row.  The loop with the most
#                multiply-adds is the one taken, so the 4x4 tile wins over the
#                1 x 4 loop (M % 4 rows, GEMV) in the same function.
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-docs/pi-estimate.md}
B=${B:-build}
LLVM_MCA=${LLVM_MCA:-}
KERNEL_F32=${KERNEL_F32:-vla__k4x3}
KERNEL_I8=${KERNEL_I8:-vla__gemm_i8_rect}
KERNEL_I8_A72=${KERNEL_I8_A72:-$KERNEL_I8}
KERNEL_I8_A76=${KERNEL_I8_A76:-$KERNEL_I8}
KERNEL_I8_V7=${KERNEL_I8_V7:-$KERNEL_I8}
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
# (the innermost backward branch with the most multiply-adds) and its
# instruction mix into $W/mix.txt ("16 sdot (16 MACs each), 8 ldr, ...",
# and how many of them address the stack: spilled registers),
# prints "MACs-per-iteration instructions" ("-1 0": FUNC is not in FILE,
# "0 0": no multiply-add loop in it); KIND f32 or i8.
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
                # sdot: 4 byte products per int32 lane; smull / smlal (2):
                # one byte product per int16 lane.  sadalp / vpadal (the
                # int16 pairs into int32 after them) multiply nothing: 0.
                if (s ~ /^[ \t]*sdot[ \t]+v[0-9]+\.4s/) m = 16
                else if (s ~ /^[ \t]*sdot[ \t]+v[0-9]+\.2s/) m = 8
                else if (s ~ /^[ \t]*(smull2?|smlal2?)[ \t]+v[0-9]+\.8h/) m = 8
                else if (s ~ /^[ \t]*v(mull|mlal)\.s8[ \t]/) m = 8
            }
            return m
        }
        $0 ~ "^" fn ":" { on = 1; seen = 1; n = 0; next }
        on && /^[ \t]*\.size/ { on = 0 }
        !on { next }
        {
            line[++n] = $0
            # A loop closes with a conditional branch back (gcc -O2 rotates
            # its loops); an unconditional "b" back is the return from code
            # placed out of line (a tail step after its loop, say), whose
            # span from the label holds unrelated code: no loop.
            if ($0 ~ /^\.L[A-Za-z0-9_]+:/) { lab = $0; sub(/:.*/, "", lab); at[lab] = n }
            else if ($0 ~ /^[ \t]+(b\.[a-z]+|b(eq|ne|cs|cc|hs|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le)|cbn?z|tbn?z)[ \t]/) {
                tgt = $NF; sub(/.*,[ \t]*/, "", tgt)
                if (tgt in at) { lo[++nl] = at[tgt]; hi[nl] = n }
            }
            else if ($0 ~ /^[ \t]+blx?[ \t]/) calls[n] = 1
        }
        END {
            best = 0
            for (i = 1; i <= nl; i++) {
                mc[i] = 0
                for (j = lo[i]; j <= hi[i]; j++) {
                    mc[i] += macs(line[j])
                    if (j in calls) { mc[i] = 0; break }   # a call in it: no kernel loop
                }
            }
            # innermost loops with multiply-adds (no such loop inside), the one with the most
            for (i = 1; i <= nl; i++) {
                if (!mc[i]) continue
                inner = 1
                for (k = 1; k <= nl; k++)
                    if (k != i && mc[k] && lo[k] >= lo[i] && hi[k] <= hi[i] && hi[k] - lo[k] < hi[i] - lo[i]) inner = 0
                if (inner && mc[i] > bm) { bm = mc[i]; best = i }
            }
            if (!seen) { print "-1 0"; exit }
            if (!best) { print "0 0"; exit }
            for (j = lo[best]; j <= hi[best]; j++) {
                s = line[j]
                if (s ~ /^[ \t]*\./ || s ~ /^\.L/ || s ~ /^[ \t]*$/) continue
                print s > out; c++
                # the mix: count and mnemonic (with the MACs it was counted
                # for), in order of first appearance, the multiply-adds first
                split(s, f, /[ \t]+/); mn = (f[1] == "" ? f[2] : f[1]); m = macs(s)
                key = mn (m ? " (" m " MACs each)" : "")
                if (!(key in cnt)) { ord[++nk] = key; mac[key] = m }
                cnt[key]++
                if (s ~ /\[sp[],]/) nsp++
            }
            mix = ""
            for (pass = 1; pass <= 2; pass++)
                for (i = 1; i <= nk; i++)
                    if ((pass == 1) == (mac[ord[i]] > 0))
                        mix = mix (mix == "" ? "" : ", ") cnt[ord[i]] " " ord[i]
            if (nsp) mix = mix "; " nsp " of them load or store on the stack"
            print mix > mixf
            print bm, c
        }' out="$W/loop.s" mixf="$W/mix.txt" "$1"
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
    rm -f "$W/mix.txt"
    set -- $(loop "$W/$asm.s" "$fn" "$kind")
    m=$1 ni=$2 mix=
    if [ "$m" = -1 ]; then
        echo "pi_estimate.sh: $fn is not in the $asm assembly (inlined into its caller? name that function)" >&2
        m=0 cyc=0
    elif [ "$m" = 0 ]; then
        echo "pi_estimate.sh: no multiply-add loop found in $fn ($asm)" >&2
        cyc=0
    else
        cyc=$(mca "$triple" "$cpu")
        [ -n "$cyc" ] || { echo "pi_estimate.sh: llvm-mca failed on $fn ($asm):" >&2; cat "$W/mca.err" >&2; cyc=0; }
        cp "$W/loop.s" "$W/loop-$asm-$kind.s"
        mix=$(cat "$W/mix.txt")
    fi
    ROWS="$ROWS$label|$fn|$kind|$m|$ni|$cyc|$cpu|$mix
"
}
measure "Pi 4, AArch64" a72 "$KERNEL_F32" f32 aarch64-linux-gnu cortex-a72
measure "Pi 4, AArch64" a72 "$KERNEL_I8_A72" i8 aarch64-linux-gnu cortex-a72
measure "Pi 4, armv7 32-bit" v7 "$KERNEL_F32" f32 thumbv7a-linux-gnueabihf cortex-a72
measure "Pi 4, armv7 32-bit" v7 "$KERNEL_I8_V7" i8 thumbv7a-linux-gnueabihf cortex-a72
measure "Pi 5, AArch64 + dotprod" a76 "$KERNEL_F32" f32 aarch64-linux-gnu neoverse-n1
measure "Pi 5, AArch64 + dotprod" a76 "$KERNEL_I8_A76" i8 aarch64-linux-gnu neoverse-n1

CLIP=$(work clip_macs) ENC=$(work enc_macs) DEC=$(work dec_macs) WB=$(work dec_weight_bytes_per_step)
CLIP8=$(work clip_macs_int8) ENC8=$(work enc_macs_int8) DEC8=$(work dec_macs_int8) WB8=$(work dec_weight_bytes_per_step_i8)
TOK=$(work enc_tokens) STEPS=$(work dec_steps)
for v in "$CLIP" "$ENC" "$DEC" "$WB" "$CLIP8" "$ENC8" "$DEC8" "$WB8" "$TOK" "$STEPS"; do
    [ -n "$v" ] || { echo "pi_estimate.sh: tools/bench_work.c printed no key it needs:" >&2; cat "$W/work.txt" >&2; exit 1; }
done
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
    echo "The int8 column is the I8 model's (int8 weights, one F32 scale per row): the MACs on int8 weights."
    echo "The rest stays fp32: the stem's first convolution (3 input channels, kept F32) and the attention"
    echo "scores and values (activations x activations)."
    echo
    echo "| part | MACs | of which int8 (I8) |"
    echo "|---|---|---|"
    awk -v c="$CLIP" -v e="$ENC" -v d="$DEC" -v c8="$CLIP8" -v e8="$ENC8" -v d8="$DEC8" -v t="$TOK" -v s="$STEPS" 'BEGIN {
        printf "| CLIP RN101 trunk, 224x224 | %.2f G | %.2f G |\n", c / 1e9, c8 / 1e9
        printf "| BART-base encode, %d tokens (with the cross-attention K/V) | %.2f G | %.2f G |\n", t, e / 1e9, e8 / 1e9
        printf "| %d greedy decode steps | %.2f G | %.2f G |\n", s, d / 1e9, d8 / 1e9 }'
    echo
    echo "A decode step reads $(awk -v w="$WB" -v w8="$WB8" 'BEGIN { printf "%.0f MB of fp32 weight matrices, or %.1f MB of the I8 file", w / 1e6, w8 / 1e6 }')"
    echo "(6 decoder layers and the 50465 x 768 LM head; for I8 every byte a step reads: the int8 matrices, their"
    echo "F32 row scales, and the biases, LayerNorms, final_logits_bias and position row kept F32)."
    echo
    echo "## Inner loops (llvm-mca, 1000 iterations)"
    echo
    echo "| board, build | kernel function | kind | MACs / iteration | instructions | cycles / iteration | MACs / cycle | llvm-mca -mcpu |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s' "$ROWS" | awk -F'|' 'NF >= 7 { printf "| %s | `%s` | %s | %d | %d | %.2f | %.1f | %s |\n", $1, $2, $3, $4, $5, $6, ($6 > 0 ? $4 / $6 : 0), $7 }'
    echo
    echo "The instructions of each loop, as counted (a multiply-add with the MACs it was counted for; sadalp /"
    echo "vpadal, which add the int16 products into int32 pairwise, multiply nothing and count 0):"
    echo
    echo "| board, build | kind | instruction mix of one iteration |"
    echo "|---|---|---|"
    printf '%s' "$ROWS" | awk -F'|' 'NF >= 8 { printf "| %s | %s | %s |\n", $1, $3, $8 }'
    echo
    echo "## Estimated time of one caption (4 cores, perfect scaling assumed)"
    echo
    echo "Compute = MACs / (MACs per cycle x clock x 4).  Decode (memory) = $STEPS steps x bytes per step /"
    echo "bandwidth, theoretical and typical; a decode step takes the larger of its compute and memory times."
    echo "fp32 rows run every MAC at the fp32 loop's rate and read the fp32 matrices.  int8 (I8) rows run the"
    echo "int8 MACs (the column above: the CLIP convolutions, the BART matrices, the LM head) at the int8 loop's"
    echo "rate, the rest at the same build's fp32 rate, and read the I8 file's bytes per decode step."
    echo
    echo "| board, build | clock GHz | kind | CLIP ms | encode ms | decode compute ms | decode memory ms (theoretical / typical GB/s) | caption ms (typical) |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s' "$ROWS" | awk -F'|' -v c="$CLIP" -v e="$ENC" -v d="$DEC" -v wb="$WB" -v s="$STEPS" -v n="$CORES" \
        -v c8="$CLIP8" -v e8="$ENC8" -v d8="$DEC8" -v wb8="$WB8" \
        -v g4="$PI4_GHZ" -v g5="$PI5_GHZ" -v t4="$BW4_THEO" -v y4="$BW4_TYP" -v t5="$BW5_THEO" -v y5="$BW5_TYP" '
        # ms of a MACs at rate r8 (the int8 part a8 of them) and rf (the rest)
        function ms(a, a8, r8, rf) { return ((a - a8) / rf + a8 / r8) * 1e3 }
        NF >= 7 && $6 > 0 {
            pi5 = ($1 ~ /Pi 5/)
            ghz = pi5 ? g5 : g4; bt = pi5 ? t5 : t4; by = pi5 ? y5 : y4
            rate = $4 / $6 * ghz * 1e9 * n          # MACs per second, all cores
            if ($3 == "f32") {                       # each build: its f32 row comes first
                frate[$1] = rate
                cm = ms(c, 0, 1, rate); em = ms(e, 0, 1, rate); dm = ms(d, 0, 1, rate); bytes = wb
            } else {
                if (!($1 in frate)) next             # no fp32 rate for the fp32 rest
                rf = frate[$1]
                cm = ms(c, c8, rate, rf); em = ms(e, e8, rate, rf); dm = ms(d, d8, rate, rf); bytes = wb8
            }
            mt = s * bytes / (bt * 1e9) * 1e3; my = s * bytes / (by * 1e9) * 1e3
            tot = cm + em + (dm > my ? dm : my)
            printf "| %s | %.1f | %s | %.0f | %.0f | %.0f | %.0f / %.0f (%.1f / %.1f) | %.0f |\n",
                $1, ghz, ($3 == "i8" ? "int8 (I8)" : "fp32"), cm, em, dm, mt, my, bt, by, tot
        }'
    echo
    echo "## What the estimate leaves out"
    echo
    echo "- Everything outside the inner loops: horizontal sums, packing, im2col, activations, LayerNorm,"
    echo "  attention softmax, beam bookkeeping; for int8 also the quantization of each x row (its absolute"
    echo "  maximum, then a rounding pass), the int32 -> float epilogue with the two scales, and the K % 16 tail"
    echo "  step.  On the x86 development machine the GEMM kernels reach 50-90% of the fp32 FMA peak and the"
    echo "  whole CLIP trunk about half of it, so expect real times 1.5-2x these."
    echo "- Caches: the loops are timed as if every load hit L1.  The Pi 4 has 1 MB of L2 shared by 4 cores, the"
    echo "  Pi 5 512 KB per core + 2 MB L3: the CLIP and encoder weights do not stay in cache either."
    echo "- Scheduling models: LLVM has no Cortex-A72 model (the Cortex-A57 one is used) and no Cortex-A76 one"
    echo "  (Neoverse-N1 stands in).  Clocks: Pi 4 at $PI4_GHZ GHz (later boards run 1.8), Pi 5 at $PI5_GHZ GHz,"
    echo "  no thermal throttling."
    echo "- Bandwidth: theoretical = transfer rate x 32-bit bus (Pi 4 LPDDR4-3200: 12.8 GB/s; Pi 5 LPDDR4X-4267:"
    echo "  17.1 GB/s).  Typical: Pi 4 $BW4_TYP GB/s, the STREAM copy result of sci-pi.org.uk's \"Stream\" page"
    echo "  (a Pi 4 without a display); Pi 5 $BW5_TYP GB/s is an assumption (the same 43% of theoretical), to"
    echo "  be replaced by a measurement (build/bench_peaks on the board prints it)."
    echo "- The int8 loops are the I8 GEMM's (\`vla__gemm_i8_rect\`, into which gcc inlines the kernels).  On"
    echo "  AArch64 it is the 4x4 tile \`vla__i8_sums4x4\` (16 bytes of 4 x rows against 4 W rows per"
    echo "  iteration): sdot on the Pi 5, smull / smlal / sadalp on the Pi 4, where the 16 accumulators, 8"
    echo "  loaded vectors and the int16 products do not fit the 32 registers and gcc spills accumulators to"
    echo "  the stack (the stack loads and stores in its mix; llvm-mca counts them as L1 hits).  On"
    echo "  armv7 it is the 1 x 4 \`vla__i8_sums1x4\` (vmull / vmlal / vpadal), run once per x row.  Rows the"
    echo "  4x4 tile does not cover (M % 4, and the M = 1 GEMV of a greedy decode step) run the 1 x 4 loop on"
    echo "  AArch64 too, at a rate not estimated here: the decode compute column uses the 4x4 rate, but decode"
    echo "  is bound by memory.  On the Cortex-A57 model armv7's vmull / vmlal loop comes out faster per cycle"
    echo "  than AArch64's spilling smull / smlal tile; take it as the model's, not the board's, verdict."
    echo "- On the boards themselves: \`make bench\` prints measured peaks (tools/bench_peaks.c builds for Arm:"
    echo "  fmla, sdot or smull/smlal, and a streaming read), which replace every assumption here."
} > "$OUT"
echo "pi_estimate.sh: wrote $OUT"
