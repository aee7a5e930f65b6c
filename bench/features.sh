#!/bin/sh
# bench/features.sh BUILD_DIR [SEARCH_N]: the messaging features' benchmarks,
# one after the other (messages/s on one core for each feature; search index
# throughput and query p50/p99 over SEARCH_N indexed messages, default
# 100000; the figure is SEARCH_N=1000000, which takes minutes and
# ~650 MiB of disk). Figures only: nothing is asserted. Run from the source
# tree after `make data`.
#
# First the quality report (issue 16, bench/quality.c): precision, recall,
# F1 or accuracy of spam, sentiment, moderation and PII on the held-out sets
# beside bench/quality_baseline.txt. The held-out directory is
# $ZT_QUALITY_DIR when set; otherwise the newest in the tree: round 12's
# tests/data/heldout12/, round 11's tests/data/heldout11/, round 10's tests/data/heldout10/, round 9's tests/data/heldout9/, round 8's tests/data/heldout8/, round 7's
# tests/data/heldout7/, round 6's tests/data/heldout6/, round 5's tests/data/heldout5/, round 4's
# tests/data/heldout4/, round 3's
# tests/data/heldout3/, the first round's tests/data/heldout/ (older ones
# stay reportable: ZT_QUALITY_DIR=tests/data/heldout4). When no held-out set is in
# the tree it says so and reports the tuning sets of tests/data/tune/,
# marked as such: those figures are not held out.
set -e
B="${1:?usage: bench/features.sh BUILD_DIR [SEARCH_N]}"
N="${2:-100000}"
export ZENTALK_ASSETS_DIR="${ZENTALK_ASSETS_DIR:-$PWD/data/assets}"
export ZT_SOURCE_DIR="${ZT_SOURCE_DIR:-$PWD}"
run() {
  echo "== $*"
  taskset -c 0 "$@" || echo "($1 failed: exit $?)"
}
echo "== quality"
Q="${ZT_QUALITY_DIR:-}"
if [ -z "$Q" ]; then
  for d in tests/data/heldout12 tests/data/heldout11 tests/data/heldout10 tests/data/heldout9 tests/data/heldout8 tests/data/heldout7 tests/data/heldout6 tests/data/heldout5 tests/data/heldout4 tests/data/heldout3 tests/data/heldout; do
    if [ -d "$d" ]; then Q=$d; break; fi
  done
fi
if [ -n "$Q" ] && [ -d "$Q" ]; then
  "$B/bench/bench_quality" "$Q" bench/quality_baseline.txt || echo "(bench_quality failed: exit $?)"
else
  echo "no held-out set here (${Q:-tests/data/heldout12/, heldout11/, heldout10/, heldout9/, heldout8/, heldout7/, heldout6/, heldout5/, heldout4/, heldout3/ and heldout/}): no held-out figures. Tuning-set figures (NOT held out):"
  "$B/bench/bench_quality" tests/data/tune bench/quality_baseline.txt || echo "(bench_quality failed: exit $?)"
fi
run "$B/bench/bench_spam"
run "$B/bench/bench_lexfeatures"
run "$B/bench/bench_replies"
run "$B/bench/bench_pii"
if [ -e /usr/share/apertium/modes/eng-spa.mode ]; then run "$B/bench/bench_translate" 500 eng-spa; else echo "== translate: skipped (apertium-eng-spa not installed)"; fi
run "$B/bench/bench_translate_chrf" "$ZT_SOURCE_DIR/tests/data/translate"
tmp=$(mktemp -d)
run "$B/bench/bench_search" "$N" "$(( N / 1000 > 0 ? N / 1000 : 1 ))" 500 "$tmp/search.db"
rm -rf "$tmp"
