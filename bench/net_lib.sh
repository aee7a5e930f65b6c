# shellcheck shell=sh
# bench/net_lib.sh: what bench/network.sh and bench/outbound.sh share (sourced,
# not run): the binaries and the model checked, a temp dir removed at exit
# with the nodes started, the worker's config (stories260K, 8 slots), and
# url_of. Before sourcing: B (the build dir). After: NODE, MODEL, tmp,
# gw_pid and wk_pid (set them to the pids to stop at exit).
NODE="$B/src/node/zentalk-node"
MODEL="$PWD/tests/models/stories260K.gguf"
[ -x "$NODE" ] || { echo "no $NODE: build first" >&2; exit 1; }
[ -f "$MODEL" ] || { echo "no $MODEL" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }
tmp=$(mktemp -d)
gw_pid=""
wk_pid=""
cleanup() {
  [ -z "$wk_pid" ] || kill "$wk_pid" 2>/dev/null || true
  [ -z "$gw_pid" ] || kill "$gw_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
mkdir -p "$tmp/cfg"
printf 'model_cache:\n  default_model: stories\nmodels:\n  - id: stories\n    path: %s\n    context_size: 256\n' \
  "$MODEL" >"$tmp/cfg/models.yaml"
printf 'gpu_pool:\n  cpu_threads: 1\n  max_batch: 8\n' >"$tmp/cfg/gpu-pool.yaml"

# the banner "zentalk-node listening on URL" of a node's stdout file
url_of() {
  i=0
  while [ $i -lt 100 ]; do
    u=$(sed -n 's/^zentalk-node listening on //p' "$1")
    [ -n "$u" ] && { echo "$u"; return 0; }
    sleep 0.1
    i=$((i + 1))
  done
  echo "no banner in $1" >&2
  return 1
}
