#!/usr/bin/env bash
# setup_env.sh: prepare what a deployment needs beside the release itself.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/deploy/setup_env.sh MODE [OPTIONS]

Modes (one or more):
  --env-file FILE        write an environment file for a node: a fresh
                         random encryption.jwt_secret (64 hex digits) and the
                         service layout's paths, mode 0600; refuses to
                         overwrite an existing FILE
  --systemd              install the systemd unit and the configuration:
                         ROOT/etc/systemd/system/zentalk-node.service,
                         ROOT/etc/zentalk/ (config/, unless it exists) and
                         ROOT/etc/zentalk/zentalk.env (unless it exists);
                         then run: systemctl daemon-reload &&
                         systemctl enable --now zentalk-node
  --k8s-configmap        print deploy/kubernetes/configmap.yaml made from
                         config/ (redirect it into that file after editing
                         config/; a ctest checks they agree)
  --check                list the tools a deployment uses and whether each
                         is here (curl, tar, flock, systemctl, docker, kubectl)

Options:
      --root DIR         install under DIR instead of / (for --systemd; a
                         staging root or a test)
  -h, --help             show this help and exit

Exit status: 0 done, 1 failed, 2 usage error.
USAGE
}

env_file="" systemd=0 configmap=0 check=0 root=""
[ $# -gt 0 ] || { usage >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --env-file) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; env_file="$2"; shift 2 ;;
    --systemd) systemd=1; shift ;;
    --k8s-configmap) configmap=1; shift ;;
    --check) check=1; shift ;;
    --root) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; root="${2%/}"; shift 2 ;;
    *) zt_usage_error "unknown argument: $1" ;;
  esac
done

random_hex() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

write_env() {
  local f="$1"
  [ ! -e "$f" ] || zt_die "$f exists; not overwriting it (it may hold the only copy of a secret)"
  mkdir -p "$(dirname "$f")"
  (
    umask 077
    cat >"$f" <<ENV
# zentalk-node environment (setup_env.sh, $(date -u +%Y-%m-%d)); mode 0600, never commit it.
# Every ZENTALK_<SECTION>_<KEY> of docs/configuration.md may be set here.
ZENTALK_ENCRYPTION_JWT_SECRET=$(random_hex)
ZENTALK_NODE_DATA_DIR=/var/lib/zentalk
# ZENTALK_SERVER_LISTEN=0.0.0.0:8080
# ZENTALK_NODE_ROLES=gateway,orchestrator,worker
ENV
  )
  echo "wrote $f (a new JWT secret: issue API tokens with it)"
}

if [ "$check" = 1 ]; then
  for t in curl tar flock sha256sum systemctl systemd-analyze docker kubectl; do
    if command -v "$t" >/dev/null 2>&1; then echo "ok      $t"; else echo "missing $t"; fi
  done
fi

if [ -n "$env_file" ]; then
  write_env "$env_file"
fi

if [ "$systemd" = 1 ]; then
  unit_dir="$root/etc/systemd/system" etc="$root/etc/zentalk"
  mkdir -p "$unit_dir"
  install -m 0644 "$ZT_REPO_ROOT/deploy/systemd/zentalk-node.service" "$unit_dir/zentalk-node.service"
  echo "installed $unit_dir/zentalk-node.service"
  if [ -d "$etc" ] && [ -f "$etc/config.yaml" ]; then
    echo "kept $etc (exists)"
  else
    mkdir -p "$etc"
    cp -R "$ZT_REPO_ROOT/config/." "$etc/"
    echo "installed $etc from config/"
  fi
  if [ -e "$etc/zentalk.env" ]; then echo "kept $etc/zentalk.env (exists)"; else write_env "$etc/zentalk.env"; fi
  if [ -z "$root" ]; then
    echo "next: deploy a release to /opt/zentalk (scripts/deploy/deploy.sh --prefix /opt/zentalk ...), then"
    echo "      systemctl daemon-reload && systemctl enable --now zentalk-node"
  fi
fi

if [ "$configmap" = 1 ]; then
  cat <<'HEAD'
# GENERATED from config/ by scripts/deploy/setup_env.sh --k8s-configmap; do
# not edit: edit config/ and regenerate. The node reads these files from
# /etc/zentalk (--config); config.example.yaml stays out (the node ignores it).
apiVersion: v1
kind: ConfigMap
metadata:
  name: zentalk-config
  labels:
    app.kubernetes.io/part-of: zentalk-ai
data:
HEAD
  for f in "$ZT_REPO_ROOT"/config/*; do
    [ -f "$f" ] || continue
    base=$(basename "$f")
    [ "$base" != config.example.yaml ] || continue
    echo "  $base: |+"
    sed -e 's/^/    /' -e 's/^    $//' "$f"
  done
fi
