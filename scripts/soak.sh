#!/usr/bin/env bash
# soak.sh BUILD_DIR...: the long forms of the attack tests (tests/attack/node,
# issue 17) against each build given (make soak: the normal and the
# sanitizer build), ZT_SOAK=1: larger counts (1,030 slowloris connections,
# longer trickles). Each run is bounded (SOAK_TIMEOUT seconds per test,
# loopback only). Then the long forms of two unit tests (issue 11):
# test_resume (1,000 honest jobs verified teacher-forced, no false alarm;
# make test runs 100) and test_ledger (6,000 property steps, 50 crash
# kills), each bounded by SOAK_LONG_TIMEOUT seconds (default 3600). Prints a summary table from the tests' "SOAK name
# sent=.. refused=.. errors=.. rss_before_kb=.. rss_after_kb=.." lines:
# requests sent, refused as expected, errors, node memory before/after.
# Exit 1 when any test failed.
set -u
SOAK_TIMEOUT=${SOAK_TIMEOUT:-600}
SOAK_LONG_TIMEOUT=${SOAK_LONG_TIMEOUT:-3600}
[ $# -ge 1 ] || { echo "usage: scripts/soak.sh BUILD_DIR..." >&2; exit 2; }
# 1,030 client sockets plus the node's
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
out=$(mktemp /tmp/zt-soak-XXXXXX)
trap 'rm -f "$out"' EXIT
fail=0
for b in "$@"; do
  [ -x "$b/src/node/zentalk-node" ] || { echo "soak: $b/src/node/zentalk-node not built" >&2; fail=1; continue; }
  for t in "$b"/tests/test_attack_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    echo "== $name ($b)"
    if ZT_SOAK=1 timeout "$SOAK_TIMEOUT" "$t" "$b/src/node/zentalk-node" "$b/src/cli/zentalk" >"$out.log" 2>&1; then
      st=ok
    else
      rc=$?
      if [ "$rc" = 77 ]; then st=skipped; else st="FAILED($rc)"; fail=1; fi
    fi
    grep -E '^(SKIP|\[  (FAILED|ERROR))' "$out.log" | head -20
    grep '^SOAK ' "$out.log" | sed "s#^SOAK #$b $name $st #" >>"$out"
    grep -q '^SOAK ' "$out.log" || echo "$b $name $st - sent=- refused=- errors=- rss_before_kb=- rss_after_kb=-" >>"$out"
    rm -f "$out.log"
  done
  for name in test_resume test_ledger; do
    t="$b/tests/$name"
    [ -x "$t" ] || { echo "soak: $t not built" >&2; fail=1; continue; }
    echo "== $name, ZT_SOAK=1 ($b)"
    start=$(date +%s)
    if ZT_SOAK=1 timeout "$SOAK_LONG_TIMEOUT" "$t" >"$out.log" 2>&1; then
      st=ok
    else
      rc=$?
      if [ "$rc" = 77 ]; then st=skipped; else st="FAILED($rc)"; fail=1; fi
    fi
    grep -E '^(SKIP|\[  (FAILED|ERROR)|\[  PASSED|\[  SKIPPED)' "$out.log" | head -20
    echo "$b $name $st long-form($(($(date +%s) - start))s) sent=- refused=- errors=- rss_before_kb=- rss_after_kb=-" >>"$out"
    rm -f "$out.log"
  done
done
echo
printf '%-14s %-26s %-10s %-26s %8s %8s %7s %10s %10s\n' build test status case sent refused errors rss_before rss_after
awk '{ v["sent"]="-"; v["refused"]="-"; v["errors"]="-"; v["rss_before_kb"]="-"; v["rss_after_kb"]="-";
       for (i = 5; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
       printf "%-14s %-26s %-10s %-26s %8s %8s %7s %10s %10s\n", $1, $2, $3, $4, v["sent"], v["refused"], v["errors"],
              v["rss_before_kb"], v["rss_after_kb"] }' "$out"
exit "$fail"
