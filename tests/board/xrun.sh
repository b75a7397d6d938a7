#!/bin/sh
# xrun.sh - run one test binary (natively, under qemu-user or qemu-system),
# show its output as it comes, and judge it.
#
#   sh tests/board/xrun.sh NAME EXPECT_SIMD EXPECT LOG RESULT -- COMMAND...
#
#   NAME         label for the messages (e.g. pi4, m4+selftest)
#   EXPECT_SIMD  shell pattern the program's "simd=" line must match
#                (empty: anything)
#   EXPECT       pass   - exit status 0, a summary line with 0 failed
#                fail   - exit status 1 and at least 1 failed check: the
#                         deliberate-failure self-check of the harness
#   LOG          file that receives the program's output
#   RESULT       file that receives one tab-separated line for test-cross:
#                name simd passed failed status run_seconds verdict reason
#
# Exit status: 0 when the verdict is "ok"; otherwise the program's own
# status when it was non-zero, else 1.  POSIX sh (dash) only.

name=$1 expect_simd=$2 expect=$3 log=$4 result=$5
shift 5
[ "$1" = "--" ] && shift

mkdir -p "$(dirname "$log")" "$(dirname "$result")"
rm -f "$result" "$log.rc"

t0=$(date +%s.%N)
# The braces keep the exit status of the program (a pipeline reports the
# status of its last command, tee).
{ "$@" 2>&1; echo $? >"$log.rc"; } | tee "$log"
t1=$(date +%s.%N)
rc=$(cat "$log.rc" 2>/dev/null || echo 255)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')

simd=$(sed -n 's/^simd=//p' "$log" | head -n 1 | tr -d '\r')
summary=$(grep -E '^vla_check: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
passed=$(printf '%s\n' "$summary" | sed -n 's/^vla_check: \([0-9]*\) passed.*/\1/p')
failed=$(printf '%s\n' "$summary" | sed -n 's/.* passed, \([0-9]*\) failed.*/\1/p')

verdict=ok
reason=
if [ -z "$summary" ]; then
    verdict=FAIL
    reason="no summary line (crash, hang or timeout; exit status $rc)"
    [ "$rc" = 124 ] && reason="timed out (exit status 124)"
elif [ "$expect" = fail ]; then
    if [ "$rc" != 1 ] || [ "${failed:-0}" -lt 1 ]; then
        verdict=FAIL
        reason="the deliberate failure was not reported: exit status $rc, $failed failed"
    else
        reason="deliberate failure caught: exit status 1"
    fi
else
    if [ "$rc" != 0 ] || [ "${failed:-1}" != 0 ]; then
        verdict=FAIL
        reason="$failed checks failed, exit status $rc"
    fi
fi
if [ -n "$expect_simd" ]; then
    # shellcheck disable=SC2254 # the pattern is meant to be a pattern
    case "$simd" in
    $expect_simd) ;;
    *)
        verdict=FAIL
        reason="${reason:+$reason; }SIMD path '$simd', expected '$expect_simd'"
        ;;
    esac
fi

printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "${simd:-?}" "${passed:--}" "${failed:--}" "$rc" "$secs" \
    "$verdict" "$reason" >"$result"
echo "[$name] simd=${simd:-?} passed=${passed:--} failed=${failed:--} exit=$rc run=${secs}s: $verdict${reason:+ ($reason)}"

[ "$verdict" = ok ] && exit 0
[ "$rc" != 0 ] && [ "$expect" = pass ] && exit "$rc"
exit 1
