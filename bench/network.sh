#!/bin/sh
# bench/network.sh BUILD_DIR [N] [CONCURRENCY]: what the network adds to a
# chat (issue 11). Starts, on loopback, a gateway+orchestrator and one
# worker that joins it with --join (tests/models/stories260K.gguf, 8 output
# tokens, greedy), then sends N chats (default 200) one at a time straight
# to the worker (the local path: the engine behind the HTTP API) and the
# same N through the gateway (scheduler placement, privacy gate, HPKE
# sealing, the signed request, the sealed stream opened and its receipt
# verified), and prints p50/p99 of each and their difference; then N chats
# CONCURRENCY at a time (default 8) both ways for throughput. With the
# one-at-a-time figures it prints the CPU time per chat of each process
# (utime+stime of all its threads, from /proc; 10 ms ticks over N chats),
# which a loaded machine moves far less than the wall times.
# Figures only: nothing is asserted. Run from the source tree.
set -e
B="${1:?usage: bench/network.sh BUILD_DIR [N] [CONCURRENCY]}"
N="${2:-200}"
C="${3:-8}"
# shellcheck source=bench/net_lib.sh
. "$(dirname "$0")/net_lib.sh"
"$NODE" --roles gateway,orchestrator --listen 127.0.0.1:0 --data-dir "$tmp/gw" >"$tmp/gw.out" 2>"$tmp/gw.err" &
gw_pid=$!
GW=$(url_of "$tmp/gw.out")
"$NODE" --config "$tmp/cfg" --roles worker --join "$GW" --listen 127.0.0.1:0 --data-dir "$tmp/wk" \
  >"$tmp/wk.out" 2>"$tmp/wk.err" &
wk_pid=$!
WK=$(url_of "$tmp/wk.out")
i=0
until grep -q orchestrator_joined "$tmp/wk.err"; do
  i=$((i + 1))
  [ $i -lt 100 ] || { echo "the worker did not join" >&2; exit 1; }
  sleep 0.1
done
BODY='{"model":"stories","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":8,"temperature":0}'
chat() { curl -s -o /dev/null -w '%{time_total}\n' -H 'Content-Type: application/json' -d "$BODY" "$1/v1/chat/completions"; }
# p50, p99 (ms) of the times (s) on stdin
pct() { sort -n | awk '{a[NR]=$1} END {printf "%.2f %.2f", a[int((NR+1)*0.5)]*1000, a[int((NR-1)*0.99)+1]*1000}'; }
chat "$WK" >/dev/null # loads the model
chat "$GW" >/dev/null
# CPU ticks (user + system, every thread) of process $1
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
w0=$(ticks "$wk_pid")
local_t=$(i=0; while [ $i -lt "$N" ]; do chat "$WK"; i=$((i + 1)); done | pct)
w1=$(ticks "$wk_pid")
g1=$(ticks "$gw_pid")
net_t=$(i=0; while [ $i -lt "$N" ]; do chat "$GW"; i=$((i + 1)); done | pct)
w2=$(ticks "$wk_pid")
g2=$(ticks "$gw_pid")
echo "$local_t $net_t" | awk -v n="$N" '{printf "%d chats one at a time, ms: local p50 %.2f p99 %.2f | through the network p50 %.2f p99 %.2f | added p50 %.2f p99 %.2f\n", n, $1, $2, $3, $4, $3 - $1, $4 - $2}'
echo "$w0 $w1 $w2 $g1 $g2" | awk -v n="$N" -v hz="$(getconf CLK_TCK)" '{u = 1e6 / hz / n; printf "CPU per chat, us: local (worker) %.0f | through the network: gateway %.0f + worker %.0f | added %.0f\n", ($2 - $1) * u, ($5 - $4) * u, ($3 - $2) * u, ($5 - $4 + $3 - $2 - ($2 - $1)) * u}'
# N chats, C at a time, to URL $1; prints chats/s
burst() {
  start=$(date +%s.%N)
  pids=""
  i=0
  while [ $i -lt "$C" ]; do
    (j=0; while [ $j -lt $((N / C)) ]; do chat "$1" >/dev/null; j=$((j + 1)); done) &
    pids="$pids $!"
    i=$((i + 1))
  done
  for p in $pids; do wait "$p"; done
  end=$(date +%s.%N)
  echo "$start $end" | awk -v n=$((N / C * C)) '{printf "%.1f", n / ($2 - $1)}'
}
echo "$((N / C * C)) chats $C at a time, chats/s: local $(burst "$WK") | through the network $(burst "$GW")"
