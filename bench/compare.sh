#!/bin/sh
# bench/compare.sh [BUILD_DIR [MODELS_DIR]]: our engine beside llama.cpp, the
# anchor of issue 13 (../shared/BENCHMARKS.md says how the anchor is built:
# b4748, -DGGML_NATIVE=ON, Release; built outside this repository).
#
#   LLAMA_CPP_DIR=/path/to/llama.cpp/build bench/compare.sh build /tmp/zt-bench-models
#
# LLAMA_CPP_DIR is llama.cpp's build directory (bin/llama-bench and
# bin/llama-quantize in it) or its source directory with build/bin/ inside;
# unset, the script says so and exits 0 (nothing to compare against).
# MODELS_DIR (default $TMPDIR/zt-bench-models) holds the benchmark model of
# BENCHMARKS.md: m-f16.gguf is made by BUILD_DIR's zt-gen-model when missing,
# m-q8_0 / m-q4_0 / m-q4_k.gguf by llama-quantize from it (Q4_K is
# llama-quantize's Q4_K_M: Q6_K in some tensors), so both engines read the
# same files.
#
# For each type (F16 Q8_0 Q4_0 Q4_K) and thread count (1 2), llama-bench and
# bench_engine run one after the other (interleaved, the same -p/-n/-r), and
# the table gives prompt (pp) and generation (tg) tokens/s, best of the
# repetitions for both (llama-bench's samples_ts, bench_engine's "best"),
# and ours / theirs. "bw share" is our generation's read rate (the bytes
# one token reads, every weight but token_embd, times tokens/s) over the
# streaming read bandwidth bench_bandwidth measures for a buffer of that
# size at the same thread count (the generation ceiling). The load average
# before each pair is printed beside it: on a shared machine the figures
# are noisy, the ratios less so.
# BUSY=1: issue 13's contention case: a shell loop spins on the last CPU
# (taskset, when present) while each llama-bench / bench_engine pair runs,
# so the 2-thread rows show both engines with a core taken by another
# process (two threads should never be slower than one).
# Env: TYPES ("F16 Q8_0 Q4_0 Q4_K"), THREADS ("1 2"), P (128), N (64), R (3), BUSY (0).
# Figures only: nothing is asserted.
set -eu
B="${1:-build}"
M="${2:-${TMPDIR:-/tmp}/zt-bench-models}"
TYPES="${TYPES:-F16 Q8_0 Q4_0 Q4_K}"
THREADS="${THREADS:-1 2}"
P="${P:-128}"
N="${N:-64}"
R="${R:-3}"
BUSY="${BUSY:-0}"

if [ -z "${LLAMA_CPP_DIR:-}" ]; then
  echo "compare.sh: LLAMA_CPP_DIR is not set: skipping the llama.cpp comparison"
  echo "  (build llama.cpp b4748 as ../shared/BENCHMARKS.md says, then LLAMA_CPP_DIR=that/build $0)"
  exit 0
fi
bin=""
for d in "$LLAMA_CPP_DIR/bin" "$LLAMA_CPP_DIR/build/bin" "$LLAMA_CPP_DIR"; do
  if [ -x "$d/llama-bench" ]; then bin="$d"; break; fi
done
[ -n "$bin" ] || { echo "compare.sh: no llama-bench under $LLAMA_CPP_DIR (bin/ or build/bin/)"; exit 1; }
ours="$B/bench/bench_engine"
bw="$B/bench/bench_bandwidth"
gen="$B/tools/zt-gen-model"
[ -x "$ours" ] || { echo "compare.sh: $ours not built (cmake --build $B --target bench_engine)"; exit 1; }

lower() { echo "$1" | tr '[:upper:]' '[:lower:]'; }
mkdir -p "$M"
f16="$M/m-f16.gguf"
if [ ! -f "$f16" ]; then
  [ -x "$gen" ] || { echo "compare.sh: $gen not built (cmake --build $B --target zt-gen-model)"; exit 1; }
  vocab="${ZT_SHARED_DIR:-../shared}/models/llama-2-tiny-random.gguf"
  [ -f "$vocab" ] || { echo "compare.sh: $vocab missing (the Llama 2 vocabulary; set ZT_SHARED_DIR)"; exit 1; }
  echo "making $f16 (134M parameters, random weights)"
  "$gen" "$f16" --type F16 --dim 768 --layers 12 --heads 12 --kv-heads 12 --ff 2048 --ctx 2048 \
    --vocab-from "$vocab" >/dev/null
fi
for t in $TYPES; do
  [ "$t" = F16 ] && continue
  f="$M/m-$(lower "$t").gguf"
  [ -f "$f" ] && continue
  [ -x "$bin/llama-quantize" ] || { echo "compare.sh: $f missing and no $bin/llama-quantize"; exit 1; }
  qt="$t"
  [ "$t" = Q4_K ] && qt=Q4_K_M
  echo "making $f (llama-quantize $qt)"
  "$bin/llama-quantize" "$f16" "$f" "$qt" >"$M/quantize-$t.log" 2>&1 ||
    { echo "compare.sh: llama-quantize failed, see $M/quantize-$t.log"; exit 1; }
done

# llama-bench -o jsonl: one line per test; the best of its samples_ts.
llama_best() { # file kind(pp|tg)
  awk -v kind="$2" '
    /"n_prompt"/ {
      np = $0; sub(/.*"n_prompt": */, "", np); sub(/[,}].*/, "", np)
      ng = $0; sub(/.*"n_gen": */, "", ng); sub(/[,}].*/, "", ng)
      if ((kind == "pp" && np + 0 > 0 && ng + 0 == 0) || (kind == "tg" && ng + 0 > 0 && np + 0 == 0)) {
        s = $0; sub(/.*"samples_ts": *\[/, "", s); sub(/\].*/, "", s)
        n = split(s, v, ","); best = 0
        for (i = 1; i <= n; i++) if (v[i] + 0 > best) best = v[i] + 0
        printf "%.1f", best
      }
    }' "$1"
}
ours_best() { # file kind(prompt|gen)
  awk -v kind="$2" '$1 == kind { for (i = 1; i <= NF; i++) if ($(i + 1) == "t/s" && $(i + 2) ~ /^best/) { print $i; exit } }' "$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.2f", a / b; else printf "-" }'; }

busy_pid=""
busy_cpu=$(($(nproc) - 1))
busy_start() {
  [ "$BUSY" = 1 ] || return 0
  if command -v taskset >/dev/null 2>&1; then
    taskset -c "$busy_cpu" sh -c 'while :; do :; done' &
  else
    sh -c 'while :; do :; done' &
  fi
  busy_pid=$!
}
busy_stop() {
  [ -n "$busy_pid" ] || return 0
  kill "$busy_pid" 2>/dev/null || true
  wait "$busy_pid" 2>/dev/null || true
  busy_pid=""
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/zt-compare.XXXXXX")
trap 'busy_stop; rm -rf "$tmp"' EXIT INT TERM
cpu=$(awk -F': ' '/^model name/ { m = $2 } /^cpu family/ { f = $2 } /^model\t/ { n = $2 }
  END { printf "%s, family %s model %s", m, f, n }' /proc/cpuinfo 2>/dev/null || echo unknown)
isa=$(grep -o -w 'avx512f\|avx512_vnni\|avx_vnni\|amx_int8\|avx512_bf16' /proc/cpuinfo 2>/dev/null | sort -u | tr '\n' ' ')
echo "CPU: $cpu ($(nproc) CPUs online; ${isa:-no AVX-512}); llama.cpp: $bin; ours: $ours"
echo "pp = prompt $P tokens, tg = generation $N tokens, tokens/s best of $R; ratio = ours / llama.cpp"
[ -n "${ZT_CPU:-}" ] && echo "ZT_CPU=$ZT_CPU"
[ "$BUSY" = 1 ] && echo "BUSY=1: another process spins on CPU $busy_cpu while both engines run (the contention case)"
echo
echo "| type | threads | llama.cpp pp / tg | ours pp / tg | ratio pp / tg | read GB/s: probe, ours (bw share) | load before | our paths |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
for t in $TYPES; do
  f="$M/m-$(lower "$t").gguf"
  for th in $THREADS; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    busy_start
    "$bin/llama-bench" -m "$f" -t "$th" -p "$P" -n "$N" -r "$R" -o jsonl >"$tmp/l" 2>"$tmp/le" ||
      { echo "compare.sh: llama-bench failed on $f:"; tail -5 "$tmp/le"; exit 1; }
    "$ours" "$f" -t "$th" -p "$P" -n "$N" -r "$R" >"$tmp/o" 2>"$tmp/oe" ||
      { echo "compare.sh: bench_engine failed on $f:"; tail -5 "$tmp/oe"; exit 1; }
    busy_stop
    probe=-
    if [ -x "$bw" ]; then
      probe=$("$bw" -m "$f" -t "$th" 2>/dev/null | sed -n 's/.*: \([0-9.]*\) GB\/s.*/\1/p')
    fi
    lpp=$(llama_best "$tmp/l" pp)
    ltg=$(llama_best "$tmp/l" tg)
    opp=$(ours_best "$tmp/o" prompt)
    otg=$(ours_best "$tmp/o" gen)
    ogbs=$(sed -n 's/^gen reads .*: \([0-9.]*\) GB\/s.*/\1/p' "$tmp/o")
    share=$(awk -v a="$ogbs" -v b="$probe" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.0f%%", 100 * a / b; else printf "-" }')
    paths=$(sed -n "s/^paths .*\($t gen=[a-z0-9]* pp=[a-z0-9]*\( packed\)*\).*/\1/p" "$tmp/o")
    echo "| $t | $th | $lpp / $ltg | $opp / $otg | $(ratio "$opp" "$lpp") / $(ratio "$otg" "$ltg") | ${probe:--}, ${ogbs:--} ($share) | $load | ${paths:-?} |"
  done
done
