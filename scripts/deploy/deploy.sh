#!/usr/bin/env bash
# deploy.sh: install a release under a prefix and switch its `current` symlink to it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/deploy/deploy.sh --prefix DIR [OPTIONS] RELEASE

Install RELEASE (a tarball from build.sh, or an unpacked release directory)
as PREFIX/releases/NAME and point PREFIX/current at it. The switch is one
rename(2) of a new symlink over the old, so a process that starts from
PREFIX/current/bin/zentalk-node sees either the old release or the new one,
never a mix. PREFIX/releases/HISTORY records the deployments (newest last)
for rollback.sh.

Before switching, the new release's binary must run (`zentalk-node
--version`) and its configuration must check (`--check-config` with
PREFIX/config when that directory exists, else the release's own config).

Options:
  -p, --prefix DIR       installation prefix (required), e.g. /opt/zentalk
  -n, --name NAME        release name (default: the tarball's top directory,
                         or the directory's name)
      --force            replace an installed release of the same name
      --restart CMD      run CMD after the switch (e.g. "systemctl restart
                         zentalk-node"); run through sh -c
      --health-url URL   after the switch (and restart), wait until
                         health_check.sh passes against URL; on failure,
                         roll back to the previous release and exit 1
      --health-wait S    seconds to wait for health (default 30)
      --keep N           keep the N most recently installed releases, delete
                         older ones
                         (default 5; the current and previous are never deleted)
  -h, --help             show this help and exit

Exit status: 0 deployed, 1 failed (nothing switched, or rolled back),
2 usage error.
USAGE
}

prefix="" name="" force=0 restart="" health_url="" health_wait=30 keep=5 release=""
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    -p|--prefix) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; prefix="$2"; shift 2 ;;
    -n|--name) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; name="$2"; shift 2 ;;
    --force) force=1; shift ;;
    --restart) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; restart="$2"; shift 2 ;;
    --health-url) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; health_url="$2"; shift 2 ;;
    --health-wait) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; health_wait="$2"; shift 2 ;;
    --keep) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; keep="$2"; shift 2 ;;
    -*) zt_usage_error "unknown option: $1" ;;
    *) [ -z "$release" ] || zt_usage_error "one release at a time"; release="$1"; shift ;;
  esac
done
[ -n "$prefix" ] || zt_usage_error "--prefix is required"
[ -n "$release" ] || zt_usage_error "no release given"
case "$keep" in ''|*[!0-9]*|0|1) zt_usage_error "--keep: a whole number of at least 2" ;; esac
case "$health_wait" in ''|*[!0-9]*) zt_usage_error "--health-wait: whole seconds" ;; esac
[ -e "$release" ] || zt_die "$release does not exist"

mkdir -p "$prefix/releases"
prefix=$(cd "$prefix" && pwd)
releases="$prefix/releases"
exec 9>"$releases/.lock"
flock -n 9 || zt_die "another deploy or rollback holds $releases/.lock"

stage=$(mktemp -d "$releases/.incoming.XXXXXX")
trap 'rm -rf "$stage"' EXIT
if [ -d "$release" ]; then
  [ -n "$name" ] || name=$(basename "$(cd "$release" && pwd)")
  cp -R "$release/." "$stage/"
else
  tar -C "$stage" -xzf "$release" || zt_die "cannot unpack $release"
  top=$(find "$stage" -mindepth 1 -maxdepth 1)
  if [ "$(printf '%s\n' "$top" | wc -l)" = 1 ] && [ -d "$top" ]; then
    [ -n "$name" ] || name=$(basename "$top")
    mv "$top" "$stage.top" && rmdir "$stage" && mv "$stage.top" "$stage"
  fi
  [ -n "$name" ] || zt_die "cannot name the release: give --name"
fi
case "$name" in ''|.*|*/*|HISTORY) zt_die "bad release name: $name" ;; esac
node="$stage/bin/zentalk-node"
[ -x "$node" ] || zt_die "$release has no executable bin/zentalk-node"
"$node" --version >/dev/null || zt_die "$node does not run on this machine"
config="$stage/share/zentalk/config"
[ ! -d "$prefix/config" ] || config="$prefix/config"
if [ -d "$config" ]; then
  "$node" --config "$config" --check-config >/dev/null ||
    zt_die "the configuration $config does not check with the new release (run: $node --config $config --check-config)"
fi

target="$releases/$name"
if [ -e "$target" ]; then
  [ "$force" = 1 ] || zt_die "release $name is installed already (--force replaces it)"
  [ "$(readlink "$prefix/current" 2>/dev/null || true)" != "releases/$name" ] || zt_die "release $name is current: deploy it under another --name"
  rm -rf "$target"
fi
mv "$stage" "$target"
previous=$(readlink "$prefix/current" 2>/dev/null || true)

# switch: a new symlink renamed over the old one (atomic)
zt_switch_current() {
  ln -sfn "releases/$1" "$prefix/.current.new"
  mv -Tf "$prefix/.current.new" "$prefix/current"
}
zt_switch_current "$name"
echo "$name" >>"$releases/HISTORY"
echo "deployed $name (previous: ${previous#releases/})"

if [ -n "$restart" ]; then
  sh -c "$restart" || echo "$ZT_SCRIPT_NAME: restart command failed: $restart" >&2
fi
if [ -n "$health_url" ]; then
  ok=0
  deadline=$(( $(date +%s) + health_wait ))
  while :; do
    if "$ZT_REPO_ROOT/scripts/health_check.sh" -q "$health_url"; then ok=1; break; fi
    [ "$(date +%s)" -lt "$deadline" ] || break
    sleep 1
  done
  if [ "$ok" = 0 ]; then
    echo "$ZT_SCRIPT_NAME: $health_url is not healthy after ${health_wait}s: rolling back" >&2
    flock -u 9
    if [ -n "$previous" ]; then
      "$ZT_REPO_ROOT/scripts/deploy/rollback.sh" --prefix "$prefix" ${restart:+--restart "$restart"} >&2
    fi
    exit 1
  fi
  echo "healthy: $health_url"
fi

# prune: the $keep most recently installed releases stay, current and previous always
mapfile -t recent < <(find "$releases" -mindepth 1 -maxdepth 1 -type d ! -name '.*' -printf '%T@ %f\n' |
  sort -rn | head -n "$keep" | cut -d' ' -f2-)
for d in "$releases"/*/; do
  r=$(basename "$d")
  case " ${recent[*]} $name ${previous#releases/} " in *" $r "*) continue ;; esac
  rm -rf "$d"
  echo "pruned $r"
done
