#!/bin/sh
# smoke.sh BINARY CORPUS SECONDS: fuzz for a few seconds from the committed
# corpus, writing new inputs to a scratch dir (the corpus in git is untouched).
# A crash leaves its reproducer in the scratch dir, which is kept and printed.
set -u
bin=$1 corpus=$2 secs=$3
scratch=$(mktemp -d "${TMPDIR:-/tmp}/zt-fuzz.XXXXXX")
cd "$scratch" || exit 1
"$bin" -max_total_time="$secs" -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
  -print_final_stats=1 "$scratch" "$corpus" >log.txt 2>&1
rc=$?
grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' log.txt
if [ $rc -ne 0 ]; then
  tail -n 60 log.txt
  echo "fuzz smoke failed (rc=$rc); reproducer kept in $scratch"
  exit $rc
fi
rm -rf "$scratch"
