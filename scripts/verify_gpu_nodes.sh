#!/usr/bin/env bash
# verify_gpu_nodes.sh: check that worker nodes of a network are what they claim.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() {
  cat <<'USAGE'
Usage: verify_gpu_nodes.sh [OPTIONS] URL...

For each worker node URL, check what a node exposes today:
  - GET /v1/status answers 200 with "ready":true and the worker role;
  - GET /v1/node/descriptor answers a descriptor whose signature verifies
    (`zentalk peers add` into a scratch peers file: nothing of yours is
    changed), whose node_id is the one /v1/status reports, whose roles
    include worker, which lists at least one model, and which does not
    expire within --min-minutes minutes (a node serves its own descriptor
    with a short validity and renews it).
With --local, also list this machine's NVIDIA GPUs (nvidia-smi -L).

NOT CHECKED YET, and said so in the output: the node's GPU devices, VRAM
and backend (the descriptor carries no device information, and
gpu_pool.backend/devices are reserved keys until the GPU issue lands), and
the orchestrator's registry, heartbeats and reputation (the network issue).
A worker computes on its CPU today.

Options:
      --min-minutes N  fail when a descriptor expires within N minutes (default 5)
      --local          also check this machine's GPUs with nvidia-smi
  -t, --timeout S      seconds per request (default 5)
  -h, --help           show this help and exit

Environment: ZENTALK_TOKEN (bearer token for /v1/status where auth is on),
ZENTALK_CLI_BIN.

Exit status: 0 every node passed, 1 a node failed a check, 2 usage error.
USAGE
}

min_minutes=5 local_gpu=0
urls=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --min-minutes) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; min_minutes="$2"; shift 2 ;;
    --local) local_gpu=1; shift ;;
    -t|--timeout) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; ZT_HTTP_TIMEOUT="$2"; shift 2 ;;
    -*) zt_usage_error "unknown option: $1" ;;
    *) urls+=("${1%/}"); shift ;;
  esac
done
case "$min_minutes" in ''|*[!0-9]*) zt_usage_error "--min-minutes: not a whole number" ;; esac
[ ${#urls[@]} -gt 0 ] || [ "$local_gpu" = 1 ] || zt_usage_error "no node URL given"
cli=$(zt_find_bin zentalk)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

failed=0
fail() { echo "FAIL $*"; node_failed=1; }
# json_str FILE KEY / json_arr FILE KEY: a top-level string / array of a flat JSON object
json_str() { grep -o "\"$2\":\"[^\"]*\"" "$1" | head -n 1 | cut -d'"' -f4 || true; }
json_arr() { grep -o "\"$2\":\[[^]]*\]" "$1" | head -n 1 | sed -e 's/^[^[]*\[//' -e 's/\]$//' -e 's/"//g' || true; }

for url in "${urls[@]}"; do
  node_failed=0
  echo "== $url"
  status=$(zt_http_status "$url/v1/status" "$scratch/status" 2>/dev/null) || status=000
  if [ "$status" != 200 ]; then
    fail "$url/v1/status answered $status"
  else
    grep -q '"ready":true' "$scratch/status" || fail "$url is not ready: $(grep -o '"readiness":{.*}},' "$scratch/status" || true)"
  fi
  status=$(zt_http_status "$url/v1/node/descriptor" "$scratch/desc" 2>/dev/null) || status=000
  if [ "$status" != 200 ]; then
    fail "$url/v1/node/descriptor answered $status"
  else
    rm -f "$scratch/peers.json"
    if out=$("$cli" peers add "$url" --file "$scratch/peers.json" 2>&1); then
      echo "ok   descriptor signature verifies"
    else
      fail "descriptor does not verify: $out"
    fi
    id=$(json_str "$scratch/desc" node_id)
    sid=""
    [ ! -f "$scratch/status" ] || sid=$(json_str "$scratch/status" node_id)
    if [ -n "$sid" ] && [ "$id" != "$sid" ]; then
      fail "descriptor node_id $id is not /v1/status's $sid"
    else
      echo "ok   node_id $id"
    fi
    roles=$(json_arr "$scratch/desc" roles)
    case ",$roles," in
      *,worker,*) echo "ok   roles $roles" ;;
      *) fail "roles \"$roles\" lack worker" ;;
    esac
    models=$(json_arr "$scratch/desc" models)
    if [ -n "$models" ]; then echo "ok   models $models"; else fail "the descriptor lists no model"; fi
    expires=$(grep -o '"expires":[0-9]*' "$scratch/desc" | cut -d: -f2 || true)
    now=$(date +%s)
    if [ -z "$expires" ]; then
      fail "the descriptor has no expires"
    elif [ "$expires" -lt $((now + min_minutes * 60)) ]; then
      fail "the descriptor expires in $(( (expires - now) / 60 )) min (under $min_minutes)"
    else
      echo "ok   descriptor valid for $(( (expires - now) / 60 )) more minute(s)"
    fi
  fi
  echo "not checked: GPU devices, VRAM and backend (no device fields in the descriptor yet; GPU issue)"
  echo "not checked: registry membership, heartbeats, reputation (no orchestrator registry yet; network issue)"
  if [ "$node_failed" = 1 ]; then failed=1; echo "$url: FAILED"; else echo "$url: passed"; fi
done

if [ "$local_gpu" = 1 ]; then
  echo "== this machine"
  if command -v nvidia-smi >/dev/null 2>&1; then
    if gpus=$(nvidia-smi -L 2>&1) && [ -n "$gpus" ]; then
      printf 'ok   %s\n' "$gpus"
    else
      echo "FAIL nvidia-smi found no GPU: $gpus"
      failed=1
    fi
  else
    echo "FAIL nvidia-smi not found: no NVIDIA driver on this machine"
    failed=1
  fi
fi
exit "$failed"
