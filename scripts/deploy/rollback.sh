#!/usr/bin/env bash
# rollback.sh: point a prefix's `current` symlink back at an earlier release.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/deploy/rollback.sh --prefix DIR [OPTIONS]

Switch PREFIX/current back to the release deployed before the current one
(PREFIX/releases/HISTORY, written by deploy.sh): the current release's last
entry is taken off HISTORY, so a second rollback goes one further back.
With --to NAME, switch to that installed release instead (and record it).
The switch is atomic (a new symlink renamed over the old one).

Options:
  -p, --prefix DIR   installation prefix (required)
      --to NAME      the release to switch to
      --restart CMD  run CMD after the switch (through sh -c)
      --list         print the installed releases, the current one marked *,
                     and exit
  -h, --help         show this help and exit

Exit status: 0 switched (or listed), 1 nothing to roll back to or the
release is missing, 2 usage error.
USAGE
}

prefix="" to="" restart="" list=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    -p|--prefix) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; prefix="$2"; shift 2 ;;
    --to) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; to="$2"; shift 2 ;;
    --restart) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; restart="$2"; shift 2 ;;
    --list) list=1; shift ;;
    *) zt_usage_error "unknown argument: $1" ;;
  esac
done
[ -n "$prefix" ] || zt_usage_error "--prefix is required"
releases="$prefix/releases"
[ -d "$releases" ] || zt_die "$releases does not exist: nothing was deployed under $prefix"
current=$(readlink "$prefix/current" 2>/dev/null || true)
current="${current#releases/}"

if [ "$list" = 1 ]; then
  for d in "$releases"/*/; do
    [ -d "$d" ] || continue
    r=$(basename "$d")
    if [ "$r" = "$current" ]; then echo "* $r"; else echo "  $r"; fi
  done
  exit 0
fi

exec 9>"$releases/.lock"
flock -w 30 9 || zt_die "another deploy or rollback holds $releases/.lock"
touch "$releases/HISTORY"
if [ -n "$to" ]; then
  [ -x "$releases/$to/bin/zentalk-node" ] || zt_die "release $to is not installed under $releases"
  [ "$to" != "$current" ] || zt_die "$to is current already"
  target="$to"
  echo "$to" >>"$releases/HISTORY"
else
  # drop the current release's last entry, then every entry whose directory
  # is gone; the last remaining entry is the target
  mapfile -t hist < <(awk 'NF' "$releases/HISTORY")
  n=${#hist[@]}
  if [ "$n" -gt 0 ] && [ "${hist[n - 1]}" = "$current" ]; then n=$((n - 1)); fi
  target=""
  while [ "$n" -gt 0 ]; do
    cand="${hist[n - 1]}"
    if [ "$cand" != "$current" ] && [ -x "$releases/$cand/bin/zentalk-node" ]; then target="$cand"; break; fi
    n=$((n - 1))
  done
  [ -n "$target" ] || zt_die "no earlier release to roll back to (current: ${current:-none})"
  printf '%s\n' "${hist[@]:0:n}" >"$releases/HISTORY.new"
  mv -f "$releases/HISTORY.new" "$releases/HISTORY"
fi
ln -sfn "releases/$target" "$prefix/.current.new"
mv -Tf "$prefix/.current.new" "$prefix/current"
echo "rolled back: ${current:-none} -> $target"
if [ -n "$restart" ]; then
  sh -c "$restart" || zt_die "restart command failed: $restart"
fi
