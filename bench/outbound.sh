#!/bin/sh
# bench/outbound.sh BUILD_DIR [N]: what the relay for workers behind NAT
# (node.outbound, issue 11) adds to a chat. Starts, on loopback, a
# gateway+orchestrator, then a worker joined directly (--join) and N chats
# (default 200, tests/models/stories260K.gguf, 8 output tokens, greedy,
# one at a time) through the gateway; that worker leaves, a worker started
# with --outbound joins (jobs reach it over its long-poll, the answer comes
# back in relayed pieces) and the same N chats run again; then the two
# phases once more in the same order (both twice: a noisy machine shows).
# Prints p50/p99 of each phase and the difference. Figures only.
# Run from the source tree.
set -e
B="${1:?usage: bench/outbound.sh BUILD_DIR [N]}"
N="${2:-200}"
# shellcheck source=bench/net_lib.sh
. "$(dirname "$0")/net_lib.sh"
"$NODE" --roles gateway,orchestrator --listen 127.0.0.1:0 --data-dir "$tmp/gw" >"$tmp/gw.out" 2>"$tmp/gw.err" &
gw_pid=$!
GW=$(url_of "$tmp/gw.out")
BODY='{"model":"stories","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":8,"temperature":0}'
# one chat: its time (s); a chat that is not 200 stops the bench
chat() {
  r=$(curl -s -o "$tmp/body" -w '%{http_code} %{time_total}' -H 'Content-Type: application/json' -d "$BODY" \
    "$GW/v1/chat/completions")
  [ "${r%% *}" = 200 ] || { echo "chat answered ${r%% *}: $(head -c 300 "$tmp/body")" >&2; kill $$; exit 1; }
  echo "${r#* }"
}
pct() { sort -n | awk '{a[NR]=$1} END {printf "%.2f %.2f", a[int((NR+1)*0.5)]*1000, a[int((NR-1)*0.99)+1]*1000}'; }
# phase NAME [--outbound]: a worker joins (so), N chats, it leaves; prints p50 p99
phase() {
  name=$1
  shift
  : >"$tmp/wk.err"
  "$NODE" --config "$tmp/cfg" --roles worker --join "$GW" "$@" --listen 127.0.0.1:0 --data-dir "$tmp/wk-$name" \
    >"$tmp/wk.out" 2>"$tmp/wk.err" &
  wk_pid=$!
  i=0
  until grep -q orchestrator_joined "$tmp/wk.err"; do
    i=$((i + 1))
    [ $i -lt 100 ] || { echo "the worker did not join" >&2; exit 1; }
    sleep 0.1
  done
  chat >/dev/null # loads the model
  t=$(i=0; while [ $i -lt "$N" ]; do chat; i=$((i + 1)); done | pct)
  kill "$wk_pid"
  wait "$wk_pid" 2>/dev/null || true
  wk_pid=""
  echo "$t"
}
for round in 1 2; do
  d=$(phase direct-$round)
  o=$(phase outbound-$round --outbound)
  echo "$d $o" | awk -v n="$N" -v r="$round" '{printf "round %d, %d chats one at a time through the gateway, ms: direct worker p50 %.2f p99 %.2f | outbound worker (relay) p50 %.2f p99 %.2f | added p50 %.2f p99 %.2f\n", r, n, $1, $2, $3, $4, $3 - $1, $4 - $2}'
done
