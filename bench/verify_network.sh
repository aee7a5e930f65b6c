#!/bin/sh
# bench/verify_network.sh BUILD_DIR [N] [MAX_TOKENS] [MODEL.gguf] [WORDS]:
# what verification by the network costs per job (issue 11 item 5). Starts,
# on loopback, a gateway+orchestrator with orchestrator.verification.rate 1
# (every job checked) and two workers joined with --join, sends N chats
# (default 50) one at a time (greedy, MAX_TOKENS output tokens, default
# 64; MODEL default tests/models/stories260K.gguf; WORDS: a user message
# of that many words instead of one short sentence, e.g. 110 for about
# 128 prompt tokens with the chat template; the prompt and completion
# token counts of the jobs are printed), and prints from the
# gateway's log, per job: the generation (the worker's stream, sealed and
# verified: remote_job_done's duration less the check) and the check on
# the other worker (job_checked ms: sealing the prompt and ids to it, its
# teacher-forced pass, the chain comparison), p50/p90, and their ratio.
# Then the same N chats with verification off, for the client-side
# latency both ways. Figures only: nothing is asserted. Run from the
# source tree.
set -e
B="${1:?usage: bench/verify_network.sh BUILD_DIR [N] [MAX_TOKENS] [MODEL.gguf] [WORDS]}"
N="${2:-50}"
T="${3:-64}"
MODEL="${4:-$PWD/tests/models/stories260K.gguf}"
WORDS="${5:-}"
NET_CTX=1024
NET_BATCH=2
# shellcheck source=bench/net_lib.sh
. "$(dirname "$0")/net_lib.sh"
# $1: name, $2: verification enabled (true/false)
start() {
  ZENTALK_ORCHESTRATOR_VERIFICATION_ENABLED=$2 ZENTALK_ORCHESTRATOR_VERIFICATION_RATE=1 \
    "$NODE" --roles gateway,orchestrator --listen 127.0.0.1:0 --data-dir "$tmp/$1" \
    >"$tmp/$1.out" 2>"$tmp/$1.err" &
  pids="$pids $!"
  GW=$(url_of "$tmp/$1.out")
  for w in a b; do
    "$NODE" --config "$tmp/cfg" --roles worker --join "$GW" --listen 127.0.0.1:0 --data-dir "$tmp/$1-$w" \
      >"$tmp/$1-$w.out" 2>"$tmp/$1-$w.err" &
    pids="$pids $!"
  done
  i=0
  until [ "$(cat "$tmp/$1-a.err" "$tmp/$1-b.err" 2>/dev/null | grep -c orchestrator_joined)" -ge 2 ]; do
    i=$((i + 1))
    [ $i -lt 300 ] || { echo "the workers did not join" >&2; exit 1; }
    sleep 0.1
  done
}
MSG="Once upon a time, in a land far away, there lived"
if [ -n "$WORDS" ]; then
  MSG=$(awk -v n="$WORDS" 'BEGIN { split("the little cat saw a big red ball near the old tree and ran", w, " ");
    for (i = 0; i < n; i++) printf "%s%s", (i ? " " : ""), w[i % 14 + 1] }')
fi
BODY=$(printf '{"model":"stories","messages":[{"role":"user","content":"%s"}],"max_tokens":%d,"temperature":0}' "$MSG" "$T")
chat() { curl -s -o /dev/null -w '%{time_total}\n' -H 'Content-Type: application/json' -d "$BODY" "$1/v1/chat/completions"; }
pct() { sort -n | awk -v f="${1:-%.1f}" '{a[NR]=$1} END {printf "p50 " f " p90 " f, a[int((NR+1)*0.5)], a[int((NR-1)*0.9)+1]}'; }
run() { i=0; while [ $i -lt "$N" ]; do chat "$GW"; i=$((i + 1)); done; }

start on true
chat "$GW" >/dev/null; chat "$GW" >/dev/null # both workers load the model
on_t=$(run | awk '{print $1 * 1000}' | pct)
# per job: check ms, and the whole job's ms (remote_job_done duration_ms)
grep 'job_checked' "$tmp/on.err" | tail -n "$N" | sed -n 's/.* ms=\([0-9]*\).*/\1/p' >"$tmp/check"
grep 'remote_job_done' "$tmp/on.err" | grep 'outcome=ok' | tail -n "$N" | sed -n 's/.*duration_ms=\([0-9]*\).*/\1/p' >"$tmp/total"
paste "$tmp/check" "$tmp/total" | awk '{print $2 - $1, $1, ($2 > $1 ? $1 / ($2 - $1) : 0)}' >"$tmp/rows"
gen=$(awk '{print $1}' "$tmp/rows" | pct)
chk=$(awk '{print $2}' "$tmp/rows" | pct)
ratio=$(awk '{print $3}' "$tmp/rows" | pct %.3f)
verdicts=$(grep -o 'verdict=[a-z_]*' "$tmp/on.err" | sort | uniq -c | tr '\n' ' ')
tokens=$(grep 'remote_job_done' "$tmp/on.err" | grep 'outcome=ok' | tail -n "$N" |
  sed -n 's/.*prompt_tokens=\([0-9]*\) completion_tokens=\([0-9]*\).*/\1+\2/p' | sort | uniq -c | tr '\n' ' ')
echo "$N chats, $T tokens, $(basename "$MODEL"), verification on (rate 1):"
echo "  jobs (count prompt+completion tokens): $tokens"
echo "  generation ms: $gen | check on a second worker ms: $chk | check/generation: $ratio"
echo "  verdicts: $verdicts"
echo "  client latency ms: $on_t"
start off false
chat "$GW" >/dev/null
off_t=$(run | awk '{print $1 * 1000}' | pct)
echo "  client latency ms with verification off: $off_t"
