#!/bin/sh
# bench/mesh_spread.sh BUILD_DIR MODEL.gguf: the time to spread a model to
# four peers through the mesh against fetching it four times from one
# server (issue 18). In a private network namespace (the DHT binds every
# address; root or user namespaces), on loopback:
#  - mesh: a source node adds MODEL (`POST /v1/mesh/add`; the chunking time
#    is printed apart), four peers (same DHT) pull it at once, each
#    installing it into its models directory (every chunk and the whole
#    file verified); the time runs from the four pulls' start to the last
#    one's end. A 1 MiB blob is pulled first by every peer so that DHT
#    discovery and peer admission are not in the figure.
#  - one server: python3's http.server serves MODEL and four
#    `zentalk models pull URL --sha256 HEX` run at once (each verifies the
#    SHA-256 and the GGUF, as a mesh pull does).
# Both again with the source's upload capped (ZT_BENCH_SOURCE_RATE, a tc
# rate, default 100mbit; 0 or no tc: skipped): an HTB class on lo for the
# packets sent from the source node's HTTP port and from the server's
# port, four fresh peers and fresh download directories. This is the case
# the mesh is for: the source sends about one copy, the peers the rest.
# Figures only: nothing is asserted. Run from the source tree.
set -eu
B="${1:?usage: bench/mesh_spread.sh BUILD_DIR MODEL.gguf}"
MODEL="${2:?usage: bench/mesh_spread.sh BUILD_DIR MODEL.gguf}"
NODE="$B/src/node/zentalk-node"
CLI="$B/src/cli/zentalk"
if [ ! -x "$NODE" ] || [ ! -x "$CLI" ]; then echo "no $NODE or $CLI: build first" >&2; exit 1; fi
[ -f "$MODEL" ] || { echo "no $MODEL" >&2; exit 1; }
MODEL=$(realpath "$MODEL")
if [ -z "${ZT_BENCH_IN_NETNS:-}" ]; then
  # shellcheck disable=SC2016 # $0 and $@ are the inner shell's
  exec env ZT_BENCH_IN_NETNS=1 unshare -n sh -c 'ip link set lo up && exec sh "$0" "$@"' "$0" "$@"
fi
command -v curl >/dev/null || { echo "curl is needed" >&2; exit 1; }
command -v python3 >/dev/null || { echo "python3 is needed" >&2; exit 1; }
tmp=$(mktemp -d)
pids=""
cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
now() { date +%s.%N; }
since() { echo "$(now) $1" | awk '{printf "%.2f", $1 - $2}'; }
url_of() {
  i=0
  while [ $i -lt 200 ]; do
    u=$(sed -n 's/^zentalk-node listening on //p' "$1" 2>/dev/null || true) # not there yet: the node's shell opens it
    [ -n "$u" ] && { echo "$u"; return 0; }
    sleep 0.05; i=$((i + 1))
  done
  echo "node did not start: $(cat "$1.err")" >&2; return 1
}
start() { # NAME DHT_PORT
  d="$tmp/$1"; mkdir -p "$d"
  printf 'node:\n  roles: [worker]\n  dht_port: %s\n  bootstrap: ["127.0.0.1:5901"]\nmesh:\n  serve_rate_rps: 0\n  record_ttl_s: 600\n' \
    "$2" >"$d/config.yaml"
  ZENTALK_LOG_LEVEL=warn "$NODE" --config "$d" --data-dir "$d/data" --listen 127.0.0.1:0 >"$d/out" 2>"$d/out.err" &
  lastpid=$!
  pids="$pids $lastpid"
}
post() { curl -sf -H 'Content-Type: application/json' -d "$2" "$1"; }
wait_pull() { # URL SHA
  while :; do
    s=$(curl -sf "$1/v1/mesh/pull/$2" || true)
    case "$s" in
      *'"state":"done"'*) return 0 ;;
      *'"state":"failed"'*) post "$1/v1/mesh/pull" "{\"sha256\":\"$2\",\"install\":${3:-false}}" >/dev/null ;;
    esac
    sleep 0.1
  done
}

start n0 5901
U0=$(url_of "$tmp/n0/out")
SIZE=$(stat -c %s "$MODEL")
SHA=$(sha256sum "$MODEL" | cut -c1-64)
echo "model: $(basename "$MODEL"), $SIZE bytes, sha256 $SHA"
echo "machine: $(nproc) cores (shared), load $(cut -d' ' -f1-3 /proc/loadavg), loopback, one process per node"
t=$(now)
post "$U0/v1/mesh/add" "{\"path\":\"$MODEL\",\"name\":\"model.gguf\",\"rf\":1}" >/dev/null
echo "mesh add (hash + chunk the file on the source): $(since "$t") s"
mkdir -p "$tmp/www"; ln -s "$MODEL" "$tmp/www/model.gguf"
(cd "$tmp/www" && exec python3 -m http.server 5999 --bind 127.0.0.1 >/dev/null 2>&1) &
pids="$pids $!"
i=0; while ! curl -sf -o /dev/null -r 0-0 http://127.0.0.1:5999/model.gguf && [ $i -lt 100 ]; do sleep 0.05; i=$((i + 1)); done

round() { # R LABEL: four fresh peers pull MODEL from the mesh, then four downloads from the server
  r=$1; peers=""; rp=""
  for i in 1 2 3 4; do start "r$r-n$i" $((5901 + 10 * r + i)); rp="$rp $lastpid"; done
  for i in 1 2 3 4; do peers="$peers $(url_of "$tmp/r$r-n$i/out")"; done
  # warm-up: discovery and admission (a 1 MiB blob pulled by every peer), uncapped
  head -c 1048576 /dev/urandom >"$tmp/warm$r.bin"
  wsha=$(sha256sum "$tmp/warm$r.bin" | cut -c1-64)
  post "$U0/v1/mesh/add" "{\"path\":\"$tmp/warm$r.bin\",\"rf\":1}" >/dev/null
  for u in $peers; do post "$u/v1/mesh/pull" "{\"sha256\":\"$wsha\"}" >/dev/null; done
  for u in $peers; do wait_pull "$u" "$wsha"; done
  [ -n "${3:-}" ] && cap "$3"
  served_before=$(curl -sf "$U0/v1/mesh/status" | sed -n 's/.*"chunks_served":\([0-9]*\).*/\1/p')
  t=$(now)
  for u in $peers; do post "$u/v1/mesh/pull" "{\"sha256\":\"$SHA\",\"install\":true}" >/dev/null; done
  for u in $peers; do wait_pull "$u" "$SHA" true; done
  mesh=$(since "$t")
  served=$(curl -sf "$U0/v1/mesh/status" | sed -n 's/.*"chunks_served":\([0-9]*\).*/\1/p')
  chunks=$(( (SIZE + 1048575) / 1048576 ))
  echo "$2 mesh: four peers hold and installed it in $mesh s (the source served $((served - served_before)) chunks, 4 x $chunks wanted)"
  for i in 1 2 3 4; do
    got=$(sha256sum "$tmp/r$r-n$i/data/models/model.gguf" | cut -c1-64)
    [ "$got" = "$SHA" ] || echo "peer $i: WRONG BYTES"
  done
  t=$(now)
  dl=""
  for i in 1 2 3 4; do
    ZENTALK_URL=http://127.0.0.1:1 "$CLI" models pull http://127.0.0.1:5999/model.gguf --sha256 "$SHA" \
      --data-dir "$tmp/r$r-d$i" >/dev/null 2>&1 &
    dl="$dl $!"
  done
  ok=0
  for p in $dl; do wait "$p" && ok=$((ok + 1)); done
  one=$(since "$t")
  echo "$2 one server: four downloads ($ok verified) in $one s"
  echo "$2 ratio (one server / mesh): $(echo "$one $mesh" | awk '{printf "%.2f", $1 / $2}')"
  for p in $rp; do kill "$p" 2>/dev/null || true; done
  for p in $rp; do wait "$p" 2>/dev/null || true; done
  for i in 1 2 3 4; do rm -rf "$tmp/r$r-d$i" "$tmp/r$r-n$i"; done
}

# the source's upload capped at RATE: what leaves the source node's HTTP
# port and the server's port goes through one HTB class
cap() {
  sport=${U0##*:}
  tc qdisc add dev lo root handle 1: htb default 10 r2q 1000 &&
    tc class add dev lo parent 1: classid 1:10 htb rate 100gbit &&
    tc class add dev lo parent 1: classid 1:20 htb rate "$1" &&
    tc filter add dev lo protocol ip parent 1:0 prio 1 u32 match ip sport "$sport" 0xffff flowid 1:20 &&
    tc filter add dev lo protocol ip parent 1:0 prio 1 u32 match ip sport 5999 0xffff flowid 1:20
}

round 1 "uncapped:"
RATE=${ZT_BENCH_SOURCE_RATE:-100mbit}
if [ "$RATE" = 0 ]; then
  echo "source capped: skipped (ZT_BENCH_SOURCE_RATE=0)"
elif ! command -v tc >/dev/null || ! tc qdisc add dev lo root handle 9: htb 2>/dev/null; then
  echo "source capped: skipped (no tc, or no HTB qdisc here)"
else
  tc qdisc del dev lo root
  round 2 "source capped at $RATE:" "$RATE"
fi
