#!/bin/sh
# cuda_check.sh: every check of the CUDA backend on a machine with an NVIDIA
# GPU, in one short run (issue 14; docs/internals/cuda.md). Builds the
# engine's tests and benchmarks with the CUDA backend for this GPU's
# architecture only (fast to compile), then:
#   1. test_cuda_ops: every op on random tensors against the CPU backend
#      (test_backend_ops, ZT_OPS_BACKEND=cuda): bit for bit in the
#      deterministic mode, the op-by-op error table in the fast mode;
#   2. test_cuda: stories260K greedy on the GPU against the CPU (fast: the
#      same tokens; deterministic: tokens and logits bit-identical), the
#      budget, the failure hook, the device index;
#   3. bench_engine --backend cuda (both modes) beside the CPU on
#      stories260K and on a 134M-parameter model made by zt-gen-model
#      (Q8_0, F16, Q4_K), with the share of the GPU's memory bandwidth;
#      ZT_CHECK_1B=1 adds a 1.1B-parameter Q8_0 model.
# Everything is printed and also written under $OUT (default
# BUILD/cuda-check). Exit status: 0 when both tests passed (not skipped).
# Usage: scripts/cuda_check.sh [BUILD_DIR]   (default build-cuda)
set -u
B=${1:-build-cuda}
OUT=${OUT:-$B/cuda-check}
SRC=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$B" "$OUT"
log() { echo "== $*" | tee -a "$OUT/summary.txt"; }
: >"$OUT/summary.txt"

nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory --format=csv 2>&1 | tee "$OUT/gpu.txt"
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
cc=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '.')
[ -n "$cc" ] || cc=90
nvcc=${CMAKE_CUDA_COMPILER:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}
log "GPU: ${gpu:-unknown} (sm_$cc), nvcc $nvcc"

# the memory bandwidth limit of the GPU, GB/s (datasheet figures)
case "$gpu" in
  *H200*) bw=4800 ;; *H100*PCIe*) bw=2000 ;; *H100*NVL*) bw=3900 ;; *H100*) bw=3350 ;;
  *A100*80GB*PCIe*) bw=1935 ;; *A100*80GB*) bw=2039 ;; *A100*) bw=1555 ;;
  *L40S*|*L40*) bw=864 ;; *L4*) bw=300 ;; *A10*) bw=600 ;; *T4*) bw=320 ;;
  *4090*) bw=1008 ;; *3090*) bw=936 ;; *) bw=0 ;;
esac

if ! cmake -S "$SRC" -B "$B" -DCMAKE_BUILD_TYPE=Release -DZT_CUDA=ON -DZT_CUDA_ARCHS="$cc" \
     -DCMAKE_CUDA_COMPILER="$nvcc" >"$OUT/cmake.txt" 2>&1; then
  log "cmake failed (see $OUT/cmake.txt)"; tail -20 "$OUT/cmake.txt"; exit 1
fi
if ! cmake --build "$B" -j"$(nproc)" --target test_backend_ops test_cuda bench_engine zt-gen-model \
     >"$OUT/build.txt" 2>&1; then
  log "build failed (see $OUT/build.txt)"; tail -30 "$OUT/build.txt"; exit 1
fi
export ZT_TEST_MODELS_DIR="$SRC/tests/models"
status=0
run_test() { # name, command...
  name=$1; shift
  "$@" >"$OUT/$name.txt" 2>&1
  rc=$?
  case $rc in 0) r=passed ;; 77) r="SKIPPED (no device?)"; status=1 ;; *) r="FAILED ($rc)"; status=1 ;; esac
  log "$name: $r"
  grep -E "max abs|bit-identical|greedy tokens|SKIP|FAIL|element .* is|relative error" "$OUT/$name.txt" | tee -a "$OUT/summary.txt"
}
run_test test_cuda_ops env ZT_OPS_BACKEND=cuda "$B/tests/test_backend_ops"
run_test test_cuda "$B/tests/test_cuda"

bench() { # model, label, extra args...
  m=$1; label=$2; shift 2
  for be in "cpu -t $(nproc)" "cuda" "cuda --deterministic"; do
    line=$("$B/bench/bench_engine" "$m" -b $be "$@" 2>&1 | tee -a "$OUT/bench.txt" | grep -iE "tokens/s|t/s" | tr '\n' ' ')
    log "bench $label [$be]: $line"
  done
}
bench "$SRC/tests/models/stories260K.gguf" stories260K -p 128 -n 64 -r 3
gen="$B/tools/zt-gen-model"
vocab="$SRC/tests/models/llama-2-tiny-random.gguf"
for t in Q8_0 F16 Q4_K; do
  f="$B/m134-$t.gguf"
  [ -f "$f" ] || "$gen" "$f" --type "$t" --dim 768 --layers 12 --heads 12 --kv-heads 12 --ff 2048 --ctx 2048 \
    --vocab-from "$vocab" >/dev/null 2>&1 || { log "zt-gen-model $t failed"; continue; }
  bytes=$(stat -c %s "$f")
  bench "$f" "134M $t ($bytes bytes)" -p 128 -n 64 -r 3
  [ "$bw" -gt 0 ] && log "  $t: at N tokens/s generation reads N x $bytes bytes; the ${gpu} limit is $bw GB/s = $(( bw * 1000000000 / bytes )) tokens/s"
done
if [ "${ZT_CHECK_1B:-0}" = 1 ]; then
  f="$B/m1b-Q8_0.gguf"
  [ -f "$f" ] || "$gen" "$f" --type Q8_0 --dim 2048 --layers 22 --heads 32 --kv-heads 4 --ff 5632 --ctx 2048 \
    --vocab-from "$vocab" >/dev/null 2>&1
  bytes=$(stat -c %s "$f")
  bench "$f" "1.1B Q8_0 ($bytes bytes)" -p 128 -n 64 -r 2
  [ "$bw" -gt 0 ] && log "  1.1B Q8_0: the ${gpu} limit is $(( bw * 1000000000 / bytes )) tokens/s"
fi
log "done: $OUT/summary.txt"
exit $status
