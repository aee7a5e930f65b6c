#!/usr/bin/env bash
# health_check.sh: check that zentalk nodes are alive, ready and answering.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() {
  cat <<'USAGE'
Usage: health_check.sh [OPTIONS] [URL...]

Check each node (default $ZENTALK_URL, else http://127.0.0.1:8080):
  GET /healthz     200: the process serves HTTP (liveness)
  GET /readyz      200: every enabled role is ready (503 lists the role that is not)
  GET /v1/status   200 and a JSON object with node_id, version and roles
  GET /metrics     (with --metrics) 200 and the zentalk_build_info family
One line per check; a node is healthy when all its checks pass.

Options:
      --live-only      check /healthz only (a liveness probe)
      --metrics        also check /metrics
  -t, --timeout S      seconds per request (default 5)
  -q, --quiet          print only failures
      --json           one JSON object per node instead of lines
  -h, --help           show this help and exit

Environment: ZENTALK_URL (default node), ZENTALK_TOKEN (a bearer token;
these routes need none, it is sent when set).

Exit status: 0 every node healthy, 1 a check failed or a node did not
answer, 2 usage error.
USAGE
}

live_only=0 metrics=0 quiet=0 json=0
urls=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --live-only) live_only=1; shift ;;
    --metrics) metrics=1; shift ;;
    -t|--timeout) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; ZT_HTTP_TIMEOUT="$2"; shift 2 ;;
    -q|--quiet) quiet=1; shift ;;
    --json) json=1; shift ;;
    -*) zt_usage_error "unknown option: $1" ;;
    *) urls+=("${1%/}"); shift ;;
  esac
done
case "${ZT_HTTP_TIMEOUT:-5}" in ''|*[!0-9.]*) zt_usage_error "--timeout: not a number" ;; esac
[ ${#urls[@]} -gt 0 ] || urls=("${ZENTALK_URL:-http://127.0.0.1:8080}")
command -v curl >/dev/null 2>&1 || zt_die "curl is required"

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

failed=0
# check URL PATH NAME: GET, expect 200; sets $status; returns 0/1
check() {
  local url="$1" path="$2" name="$3" detail=""
  status=$(zt_http_status "$url$path" "$tmp" 2>/dev/null) || true
  [ -n "$status" ] || status=000
  if [ "$status" = 200 ]; then
    node_ok_checks+=("$name")
    [ "$quiet" = 1 ] || [ "$json" = 1 ] || echo "ok   $url $path 200"
    return 0
  fi
  if [ "$status" = 000 ]; then
    detail="no answer"
  else
    detail=$(head -c 300 "$tmp" | tr -d '\n')
  fi
  node_failed_checks+=("$name")
  [ "$json" = 1 ] || echo "FAIL $url $path $status $detail"
  return 1
}

for url in "${urls[@]}"; do
  node_ok_checks=() node_failed_checks=()
  node_id=""
  if check "$url" /healthz healthz && [ "$live_only" = 0 ]; then
    check "$url" /readyz readyz || true
    if check "$url" /v1/status status; then
      # a JSON object naming the node; no jq needed: these are fixed keys
      node_id=$(grep -o '"node_id":"[^"]*"' "$tmp" | head -n 1 | cut -d'"' -f4 || true)
      if [ -z "$node_id" ] || ! grep -q '"roles":\[' "$tmp" || ! grep -q '"version":"' "$tmp"; then
        node_failed_checks+=(status_body)
        [ "$json" = 1 ] || echo "FAIL $url /v1/status body lacks node_id, version or roles"
      fi
    fi
    if [ "$metrics" = 1 ] && check "$url" /metrics metrics; then
      if ! grep -q '^zentalk_build_info' "$tmp"; then
        node_failed_checks+=(metrics_body)
        [ "$json" = 1 ] || echo "FAIL $url /metrics has no zentalk_build_info"
      fi
    fi
  fi
  healthy=true
  if [ ${#node_failed_checks[@]} -gt 0 ]; then
    healthy=false
    failed=1
  fi
  if [ "$json" = 1 ]; then
    printf '{"url":"%s","healthy":%s,"node_id":"%s","failed":[%s]}\n' "$url" "$healthy" "$node_id" \
      "$(printf '"%s",' "${node_failed_checks[@]+"${node_failed_checks[@]}"}" | sed 's/,$//')"
  elif [ "$quiet" = 0 ]; then
    echo "$url: $([ "$healthy" = true ] && echo healthy || echo UNHEALTHY)${node_id:+ ($node_id)}"
  fi
done
exit "$failed"
