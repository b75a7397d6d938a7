#!/bin/sh
# matrix.sh - build and run test_unit for every entry of the cross matrix,
# one after the other, and print one line per entry plus a total.
#
#   sh tests/board/matrix.sh OUTDIR "MAKE-COMMAND" ENTRY...
#
# ENTRY is a TARGET of tests/cross.mk, optionally with a suffix:
#   t+selftest  built with -DVLA_SELFTEST_FAIL: must exit 1 with a failure
#   t+argfail   run with the argument --fail:   must exit 1 with a failure
# Each entry runs `MAKE-COMMAND test-unit TARGET=t ...`; its whole output
# goes to OUTDIR/logs/<entry>.log and is shown only when the entry fails.
# Exit status: 0 when every entry is ok.  POSIX sh (dash) only.

out=$1 mk=$2
shift 2
mkdir -p "$out/logs" "$out/results"

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

t_all=$(now)
n_ok=0 n_bad=0 checks_pass=0 checks_fail=0 bad_list=
row() { printf '%-16s %-28s %7s %7s %6s %8s %7s  %s\n' "$@"; }
row target simd passed failed warn build_s run_s result
row ---------------- ---------------------------- ------- ------- ------ -------- ------- ------
for e in "$@"; do
    t=${e%%+*}
    extra=
    expect=pass
    case $e in
    *+selftest) extra="SELFTEST=1" expect=fail ;;
    *+argfail) extra="ARGS=--fail" expect=fail ;;
    esac
    id=$(printf '%s' "$e" | tr '+' '_')
    log=$out/logs/$id.log
    res=$out/results/$id.txt
    rm -f "$res"
    t0=$(now)
    # shellcheck disable=SC2086 # mk and extra are word lists on purpose
    $mk test-unit TARGET="$t" $extra VX_NAME="$e" VX_RESULT="$res" >"$log" 2>&1 </dev/null
    t1=$(now)
    total=$(sub "$t0" "$t1")
    warn=$(grep -c ': warning:' "$log")
    if [ -s "$res" ]; then
        IFS='	' read -r _name simd passed failed _rc run verdict reason <"$res"
        build=$(awk -v a="$total" -v b="$run" 'BEGIN { v = a - b; if (v < 0) v = 0; printf "%.1f", v }')
        run=$(awk -v r="$run" 'BEGIN { printf "%.1f", r }')
    else
        simd=- passed=- failed=- run=- build=$total verdict=FAIL reason="build failed"
    fi
    row "$e" "$simd" "$passed" "$failed" "$warn" "$build" "$run" "$verdict${reason:+: $reason}" |
        sed 's/ *$//'
    case $verdict in
    ok*)
        n_ok=$((n_ok + 1))
        if [ "$expect" = pass ]; then
            checks_pass=$((checks_pass + ${passed:-0}))
        fi
        ;;
    *)
        n_bad=$((n_bad + 1))
        bad_list="$bad_list $e"
        echo "---- last lines of $log ----"
        tail -n 25 "$log"
        echo "----"
        ;;
    esac
    case $failed in '' | -) ;; *) [ "$expect" = pass ] && checks_fail=$((checks_fail + failed)) ;; esac
done
t_end=$(now)
echo
echo "total: $((n_ok + n_bad)) entries, $n_ok ok, $n_bad failed${bad_list:+ (${bad_list# })};" \
    "$checks_pass checks passed, $checks_fail failed; $(sub "$t_all" "$t_end") s"
echo "test-cross: $n_ok passed, $n_bad failed"
[ "$n_bad" = 0 ]
