#!/bin/sh
# bench/run.sh BUILD_DIR: HTTP throughput of zentalk-node with wrk.
# Starts the node from BUILD_DIR on a free loopback port with a scratch data
# directory, runs wrk against the cheap routes, prints requests/s, latency
# percentiles and the node's resident memory, then stops the node.
# Env: BENCH_SECONDS (10), BENCH_CONNS (64), BENCH_THREADS (2).
set -eu
build=${1:-build-release}
node="$build/src/node/zentalk-node"
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNS:-64}
threads=${BENCH_THREADS:-2}
command -v wrk >/dev/null 2>&1 || { echo "bench: wrk is not installed (scripts/setup.sh installs it)"; exit 1; }
[ -x "$node" ] || { echo "bench: $node not built (make release)"; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/zt-bench.XXXXXX")
out="$dir/stdout"
ZENTALK_LOG_LEVEL=warn "$node" --listen 127.0.0.1:0 --data-dir "$dir/data" >"$out" 2>"$dir/stderr" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT INT TERM
for _ in $(seq 1 100); do grep -q 'listening on' "$out" 2>/dev/null && break; sleep 0.05; done
url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$out")
[ -n "$url" ] || { echo "bench: node did not start"; cat "$dir/stderr"; exit 1; }

echo "zentalk-node $("$node" --version | cut -d' ' -f2-)"
echo "machine: $(nproc) cores; wrk -t$threads -c$conns -d${secs}s"
for route in /healthz /v1/status /metrics; do
  res=$(wrk -t"$threads" -c"$conns" -d"${secs}s" --latency "$url$route")
  rps=$(echo "$res" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$res" | awk '$1=="50%" {print $2}')
  p90=$(echo "$res" | awk '$1=="90%" {print $2}')
  p99=$(echo "$res" | awk '$1=="99%" {print $2}')
  errs=$(echo "$res" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  printf '%-12s %10s req/s   p50 %-8s p90 %-8s p99 %-8s %s\n' "$route" "$rps" "$p50" "$p90" "$p99" "$errs"
done
rss=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status)
echo "node memory: rss ${rss} KiB, peak ${hwm} KiB"
kill -TERM $pid
wait $pid && echo "node stopped cleanly"
trap 'rm -rf "$dir"' EXIT
