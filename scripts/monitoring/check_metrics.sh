#!/usr/bin/env bash
# check_metrics.sh: scrape a node's /metrics, check it and print the figures that matter.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/monitoring/check_metrics.sh [OPTIONS] [URL]

Fetch URL/metrics (default $ZENTALK_URL, else http://127.0.0.1:8080), check
that it is Prometheus text with the families every node exports
(zentalk_build_info, zentalk_uptime_seconds, zentalk_http_requests_total,
zentalk_http_request_duration_seconds, zentalk_role_ready,
process_resident_memory_bytes), and print a summary: version, uptime,
requests by status class, 5xx ratio, in-flight requests, roles not ready,
models loaded, tokens generated, jobs local/remote, peers, memory.

Options:
      --max-5xx-ratio R   fail when the share of 5xx answers is above R (0..1)
      --max-inflight N    fail when more than N requests are in flight
      --max-rss-mb N      fail when resident memory is above N MiB
      --require NAME      fail unless metric family NAME is present (repeatable)
      --raw               print the scraped text and exit (no checks)
  -t, --timeout S         seconds for the request (default 5)
  -h, --help              show this help and exit

Exit status: 0 all checks pass, 1 a check failed or the node did not
answer, 2 usage error.
USAGE
}

url="" raw=0 max5xx="" maxinflight="" maxrss=""
required=(zentalk_build_info zentalk_uptime_seconds zentalk_http_requests_total
  zentalk_http_request_duration_seconds zentalk_role_ready process_resident_memory_bytes)
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --max-5xx-ratio) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; max5xx="$2"; shift 2 ;;
    --max-inflight) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; maxinflight="$2"; shift 2 ;;
    --max-rss-mb) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; maxrss="$2"; shift 2 ;;
    --require) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; required+=("$2"); shift 2 ;;
    --raw) raw=1; shift ;;
    -t|--timeout) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; ZT_HTTP_TIMEOUT="$2"; shift 2 ;;
    -*) zt_usage_error "unknown option: $1" ;;
    *) [ -z "$url" ] || zt_usage_error "one URL at a time"; url="${1%/}"; shift ;;
  esac
done
for v in "$max5xx" "$maxinflight" "$maxrss"; do
  case "$v" in *[!0-9.]*) zt_usage_error "not a number: $v" ;; esac
done
[ -n "$url" ] || url="${ZENTALK_URL:-http://127.0.0.1:8080}"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
status=$(zt_http_status "$url/metrics" "$tmp" 2>/dev/null) || status=000
[ "$status" = 200 ] || zt_die "$url/metrics answered $status"
if [ "$raw" = 1 ]; then cat "$tmp"; exit 0; fi

failed=0
for fam in "${required[@]}"; do
  if ! grep -qE "^# TYPE $fam " "$tmp"; then
    echo "FAIL metric family $fam is missing"
    failed=1
  fi
done

# One awk pass: sums per family and label, printed as "key value" lines.
summary=$(awk '
  /^#/ || NF < 2 { next }
  {
    name = $1; val = $NF; base = name; sub(/\{.*/, "", base)
    if (base == "zentalk_http_requests_total") {
      st = name; sub(/.*status="/, "", st); sub(/".*/, "", st)
      cls = substr(st, 1, 1) "xx"; req[cls] += val; total += val
    } else if (base == "zentalk_role_ready" && val + 0 == 0) {
      r = name; sub(/.*role="/, "", r); sub(/".*/, "", r); notready = notready " " r
    } else if (base == "zentalk_jobs_total") {
      w = name; sub(/.*where="/, "", w); sub(/".*/, "", w); jobs[w] += val
    } else if (base == "zentalk_build_info") {
      v = name; sub(/.*version="/, "", v); sub(/".*/, "", v); version = v
    } else if (name !~ /\{/) {
      g[name] = val
    }
  }
  END {
    printf "version %s\n", version
    printf "uptime_s %d\n", g["zentalk_uptime_seconds"]
    printf "requests %d\n", total
    printf "requests_2xx %d\nrequests_4xx %d\nrequests_5xx %d\n", req["2xx"], req["4xx"], req["5xx"]
    printf "ratio_5xx %.4f\n", (total > 0 ? req["5xx"] / total : 0)
    printf "inflight %d\n", g["zentalk_http_requests_in_flight"]
    printf "not_ready%s\n", (notready == "" ? " -" : notready)
    printf "models_loaded %d\n", g["zentalk_models_loaded"]
    printf "generated_tokens %d\n", g["zentalk_generated_tokens_total"]
    printf "jobs_local %d\njobs_remote %d\n", jobs["local"], jobs["remote"]
    printf "peers %d\n", g["zentalk_peers"]
    printf "rss_mb %.1f\n", g["process_resident_memory_bytes"] / 1048576
  }' "$tmp")
get() { printf '%s\n' "$summary" | awk -v k="$1" '$1 == k { $1 = ""; sub(/^ /, ""); print; exit }'; }

echo "node $url: zentalk $(get version), up $(get uptime_s) s"
echo "requests $(get requests) (2xx $(get requests_2xx) 4xx $(get requests_4xx) 5xx $(get requests_5xx)), 5xx ratio $(get ratio_5xx), in flight $(get inflight)"
echo "roles not ready: $(get not_ready)"
echo "models loaded $(get models_loaded), generated tokens $(get generated_tokens), jobs local $(get jobs_local) remote $(get jobs_remote), peers $(get peers)"
echo "resident memory $(get rss_mb) MiB"

over() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }
if [ "$(get not_ready)" != "-" ]; then echo "FAIL roles not ready:$(get not_ready)"; failed=1; fi
if [ -n "$max5xx" ] && over "$(get ratio_5xx)" "$max5xx"; then echo "FAIL 5xx ratio $(get ratio_5xx) > $max5xx"; failed=1; fi
if [ -n "$maxinflight" ] && over "$(get inflight)" "$maxinflight"; then echo "FAIL in flight $(get inflight) > $maxinflight"; failed=1; fi
if [ -n "$maxrss" ] && over "$(get rss_mb)" "$maxrss"; then echo "FAIL resident memory $(get rss_mb) MiB > $maxrss"; failed=1; fi
[ "$failed" = 1 ] || echo "ok"
exit "$failed"
