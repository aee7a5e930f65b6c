#!/usr/bin/env bash
# ok() only echoes, so "A && ok || bad" below is an if-then-else:
# shellcheck disable=SC2015
# test_scripts.sh: the operator scripts work, against a real node.
# Usage: test_scripts.sh SOURCE_DIR ZENTALK_NODE ZENTALK_CLI
#  - every script answers --help (exit 0, a Usage: line) and refuses an
#    unknown option (exit 2);
#  - build.sh packages the built binaries; deploy.sh installs two releases
#    into a temporary prefix and switches `current`; rollback.sh switches
#    back, refuses when nothing is left, --to and --list work;
#  - a node started from PREFIX/current (127.0.0.1, port 0, a temp data
#    dir): health_check.sh, check_metrics.sh, verify_gpu_nodes.sh pass
#    against it and fail against a dead port; deploy.sh --health-url keeps
#    a healthy release and rolls an unhealthy one back;
#  - update_models.sh reports a missing model file (exit 1), then passes;
#  - view_logs.sh filters the node's log by event and level;
#  - start_inference.sh / start_orchestrator.sh --dry-run give the roles;
#  - setup_env.sh writes a 0600 env file once, the systemd layout under a
#    root, and the Kubernetes ConfigMap.
set -euo pipefail
src="$1" node="$2" cli="$3"
export ZENTALK_NODE_BIN="$node" ZENTALK_CLI_BIN="$cli"
# the scripts must not see the caller's node settings
while IFS= read -r v; do unset "$v"; done < <(env | awk -F= '/^ZENTALK_/ && $1 != "ZENTALK_NODE_BIN" && $1 != "ZENTALK_CLI_BIN" && $1 != "ZENTALK_ASSETS_DIR" { print $1 }')
S="$src/scripts"
tmp=$(mktemp -d /tmp/zt-scripts-test.XXXXXX)
node_pid=""
cleanup() {
  if [ -n "$node_pid" ]; then kill "$node_pid" 2>/dev/null || true; wait "$node_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
# expect RC DESCRIPTION CMD...: run CMD (output to $tmp/out), check its exit status
expect() {
  local want="$1" what="$2" rc=0
  shift 2
  "$@" >"$tmp/out" 2>&1 || rc=$?
  if [ "$rc" = "$want" ]; then ok "$what (exit $rc)"; else bad "$what: exit $rc, expected $want"; sed 's/^/  | /' "$tmp/out"; fi
}
has() { if grep -qE -- "$1" "$tmp/out"; then ok "$2"; else bad "$2: no /$1/ in:"; sed 's/^/  | /' "$tmp/out"; fi; }

scripts=(start_inference.sh start_orchestrator.sh update_models.sh sync_with_mesh.sh health_check.sh verify_gpu_nodes.sh
  deploy/deploy.sh deploy/rollback.sh deploy/build.sh deploy/setup_env.sh
  monitoring/check_metrics.sh monitoring/view_logs.sh)
for s in "${scripts[@]}"; do
  expect 0 "$s --help" "$S/$s" --help
  head -n 1 "$tmp/out" | grep -q '^Usage: ' || bad "$s --help does not start with Usage:"
  grep -q '^set -euo pipefail$' "$S/$s" || bad "$s lacks set -euo pipefail"
  expect 2 "$s --no-such-option" "$S/$s" --no-such-option
done

# ---- build, deploy, rollback --------------------------------------------------
build_dir=$(cd "$(dirname "$node")/../.." && pwd)
expect 0 "build.sh --no-compile" "$S/deploy/build.sh" --no-compile --build-dir "$build_dir" --out "$tmp/dist"
tarball=$(tail -n 1 "$tmp/out")
[ -f "$tarball" ] && tar -tzf "$tarball" >"$tmp/list" && grep -q '/bin/zentalk-node$' "$tmp/list" && ok "tarball $(basename "$tarball") holds bin/zentalk-node" || bad "no tarball with bin/zentalk-node: $tarball"
P="$tmp/prefix"
expect 0 "deploy r1" "$S/deploy/deploy.sh" --prefix "$P" --name r1 "$tarball"
expect 0 "deploy r2" "$S/deploy/deploy.sh" --prefix "$P" --name r2 "$tarball"
[ "$(readlink "$P/current")" = releases/r2 ] && ok "current -> r2" || bad "current is $(readlink "$P/current"), expected releases/r2"
expect 1 "deploy r2 again (installed)" "$S/deploy/deploy.sh" --prefix "$P" --name r2 "$tarball"
expect 0 "rollback" "$S/deploy/rollback.sh" --prefix "$P"
[ "$(readlink "$P/current")" = releases/r1 ] && ok "rolled back: current -> r1" || bad "after rollback current is $(readlink "$P/current")"
expect 1 "rollback with nothing before r1" "$S/deploy/rollback.sh" --prefix "$P"
expect 0 "rollback --to r2" "$S/deploy/rollback.sh" --prefix "$P" --to r2
[ "$(readlink "$P/current")" = releases/r2 ] && ok "current -> r2 again" || bad "after --to r2 current is $(readlink "$P/current")"
expect 0 "rollback --list" "$S/deploy/rollback.sh" --prefix "$P" --list
has '^\* r2$' "--list marks r2 current"

# ---- a node from the deployed release -------------------------------------------
cfg="$tmp/cfg"
mkdir -p "$cfg"
printf 'models:\n  - id: tiny\n    path: models/tiny.gguf\n' >"$cfg/models.yaml"
data="$tmp/data"
"$P/current/bin/zentalk-node" --config "$cfg" --data-dir "$data" --listen 127.0.0.1:0 >"$tmp/node.out" 2>"$tmp/node.log" &
node_pid=$!
url=""
for _ in $(seq 1 200); do
  url=$(sed -n 's/.*listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$tmp/node.out" | head -n 1)
  [ -z "$url" ] || break
  kill -0 "$node_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  bad "the node did not start"; cat "$tmp/node.log"
  exit 1
fi
ok "node from $P/current at $url"
dead="http://127.0.0.1:9"

expect 0 "health_check.sh" "$S/health_check.sh" --metrics "$url"
has "healthy \(zt1" "health_check names the node"
expect 0 "health_check.sh --json" "$S/health_check.sh" --json "$url"
has '"healthy":true' "health_check --json"
expect 1 "health_check.sh on a dead port" "$S/health_check.sh" -t 2 "$dead"
expect 0 "check_metrics.sh" "$S/monitoring/check_metrics.sh" --max-5xx-ratio 0.5 --max-inflight 100 "$url"
has "requests [0-9]+ \(2xx" "check_metrics summary"
expect 1 "check_metrics.sh --max-rss-mb 1" "$S/monitoring/check_metrics.sh" --max-rss-mb 1 "$url"
expect 1 "check_metrics.sh on a dead port" "$S/monitoring/check_metrics.sh" -t 2 "$dead"
expect 0 "verify_gpu_nodes.sh" "$S/verify_gpu_nodes.sh" "$url"
has "descriptor signature verifies" "verify_gpu_nodes verifies the descriptor"
has "^not checked: GPU" "verify_gpu_nodes says what it cannot check"
expect 1 "verify_gpu_nodes.sh on a dead port" "$S/verify_gpu_nodes.sh" -t 2 "$dead"
expect 0 "deploy r3 --health-url (healthy)" "$S/deploy/deploy.sh" --prefix "$P" --name r3 --health-url "$url" "$tarball"
[ "$(readlink "$P/current")" = releases/r3 ] && ok "current -> r3" || bad "current is $(readlink "$P/current"), expected r3"
expect 1 "deploy r4 --health-url (unhealthy)" "$S/deploy/deploy.sh" --prefix "$P" --name r4 --health-url "$dead" --health-wait 1 "$tarball"
[ "$(readlink "$P/current")" = releases/r3 ] && ok "unhealthy r4 rolled back to r3" || bad "current is $(readlink "$P/current"), expected r3"

expect 1 "update_models.sh with the model file missing" "$S/update_models.sh" --config "$cfg" --data-dir "$data"
has "MISSING +tiny" "update_models reports the missing file"
printf 'x' >"$data/models/tiny.gguf"
expect 0 "update_models.sh with the file there" "$S/update_models.sh" --config "$cfg" --data-dir "$data"

# sync_with_mesh.sh: a pulled model (with its sidecar) is shared, once; tiny.gguf (no sidecar) is skipped
head -c 3000000 /dev/urandom >"$data/models/shared.gguf"
(cd "$data/models" && sha256sum shared.gguf >shared.gguf.sha256)
expect 0 "sync_with_mesh.sh" "$S/sync_with_mesh.sh" --url "$url" --data-dir "$data"
has "^added shared.gguf sha256:" "sync_with_mesh adds the model"
has "^skip tiny.gguf" "sync_with_mesh skips a model without a sidecar"
expect 0 "sync_with_mesh.sh again" "$S/sync_with_mesh.sh" --url "$url" --data-dir "$data"
has "^held shared.gguf" "sync_with_mesh finds it held"
expect 1 "sync_with_mesh.sh on a dead port" "$S/sync_with_mesh.sh" --url "$dead" --data-dir "$data"

expect 0 "view_logs.sh --event node_started" "$S/monitoring/view_logs.sh" --file "$tmp/node.log" --event node_started
has "node_started" "view_logs finds node_started"
[ "$(wc -l <"$tmp/out")" = 1 ] && ok "view_logs shows one line" || bad "view_logs --event shows $(wc -l <"$tmp/out") lines"
expect 0 "view_logs.sh --level error" "$S/monitoring/view_logs.sh" --file "$tmp/node.log" --level error
if grep -qE ' (info|warn|debug) ' "$tmp/out"; then bad "view_logs --level error shows lower levels"; else ok "view_logs --level error filters"; fi

kill -TERM "$node_pid"
rc=0; wait "$node_pid" || rc=$?
node_pid=""
[ "$rc" = 0 ] && ok "node stopped cleanly on SIGTERM" || bad "node exited $rc on SIGTERM"

# ---- start scripts, setup_env ----------------------------------------------------
expect 0 "start_inference.sh --dry-run" "$S/start_inference.sh" --dry-run --data-dir "$tmp/d2"
has "ZENTALK_NODE_ROLES=worker " "start_inference runs the worker role"
expect 0 "start_orchestrator.sh --dry-run" "$S/start_orchestrator.sh" --dry-run --data-dir "$tmp/d2"
has "ZENTALK_NODE_ROLES=gateway,orchestrator " "start_orchestrator runs gateway,orchestrator"
expect 1 "start_inference.sh with a missing config dir" "$S/start_inference.sh" --dry-run --config "$tmp/nope"

expect 0 "setup_env.sh --env-file" "$S/deploy/setup_env.sh" --env-file "$tmp/env/zentalk.env"
[ "$(stat -c %a "$tmp/env/zentalk.env")" = 600 ] && ok "env file mode 0600" || bad "env file mode $(stat -c %a "$tmp/env/zentalk.env")"
grep -qE '^ZENTALK_ENCRYPTION_JWT_SECRET=[0-9a-f]{64}$' "$tmp/env/zentalk.env" && ok "env file holds a 64-hex secret" || bad "env file secret"
expect 1 "setup_env.sh --env-file again (refuses to overwrite)" "$S/deploy/setup_env.sh" --env-file "$tmp/env/zentalk.env"
expect 0 "setup_env.sh --systemd --root" "$S/deploy/setup_env.sh" --systemd --root "$tmp/root"
[ -f "$tmp/root/etc/systemd/system/zentalk-node.service" ] && [ -f "$tmp/root/etc/zentalk/config.yaml" ] && ok "systemd layout installed" || bad "systemd layout missing"
expect 0 "setup_env.sh --k8s-configmap" "$S/deploy/setup_env.sh" --k8s-configmap
cmp -s "$tmp/out" "$src/deploy/kubernetes/configmap.yaml" && ok "configmap.yaml is current" || bad "deploy/kubernetes/configmap.yaml differs from setup_env.sh --k8s-configmap"

if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "scripts: all checks passed"
