# shellcheck shell=sh
# bench/net_lib.sh: what bench/network.sh, bench/outbound.sh and
# bench/verify_network.sh share (sourced, not run): the binaries and the
# model checked, a temp dir removed at exit with the nodes started, the
# worker's config (model id "stories", one thread) and url_of. Before
# sourcing: B (the build dir); optionally MODEL (default stories260K),
# NET_CTX (context, default 256), NET_BATCH (slots, default 8). After:
# NODE, MODEL, tmp, and gw_pid, wk_pid, pids (set them to the pids to stop
# at exit; pids is a list).
NODE="$B/src/node/zentalk-node"
MODEL="${MODEL:-$PWD/tests/models/stories260K.gguf}"
[ -x "$NODE" ] || { echo "no $NODE: build first" >&2; exit 1; }
[ -f "$MODEL" ] || { echo "no $MODEL" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }
tmp=$(mktemp -d)
gw_pid=""
wk_pid=""
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  [ -z "$wk_pid" ] || kill "$wk_pid" 2>/dev/null || true
  [ -z "$gw_pid" ] || kill "$gw_pid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
mkdir -p "$tmp/cfg"
printf 'model_cache:\n  default_model: stories\nmodels:\n  - id: stories\n    path: %s\n    context_size: %s\n' \
  "$MODEL" "${NET_CTX:-256}" >"$tmp/cfg/models.yaml"
printf 'gpu_pool:\n  cpu_threads: 1\n  max_batch: %s\n' "${NET_BATCH:-8}" >"$tmp/cfg/gpu-pool.yaml"

# the banner "zentalk-node listening on URL" of a node's stdout file (30 s)
url_of() {
  i=0
  while [ $i -lt 300 ]; do
    u=$(sed -n 's/^zentalk-node listening on //p' "$1" 2>/dev/null || true) # not there yet: the node's shell opens it
    [ -n "$u" ] && { echo "$u"; return 0; }
    sleep 0.1
    i=$((i + 1))
  done
  echo "no banner in $1" >&2
  return 1
}
