#!/usr/bin/env bash
# build.sh: build a release of zentalk-node and package it as a tarball.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/deploy/build.sh [OPTIONS]

Build zentalk-node and zentalk (CMake, Release, no tests) and package a
release tarball for deploy.sh:

  OUT/zentalk-VERSION-COMMIT.tar.gz
    zentalk-VERSION-COMMIT/bin/zentalk-node, bin/zentalk
    zentalk-VERSION-COMMIT/share/zentalk/config/   the repository's config/
    zentalk-VERSION-COMMIT/share/zentalk/assets/   data assets, when built
    zentalk-VERSION-COMMIT/RELEASE                 version, commit, date, sha256s

Options:
  -b, --build-dir DIR  CMake build tree (default build-release)
  -o, --out DIR        where the tarball goes (default dist)
      --no-compile     package the binaries already in the build tree
      --assets DIR     data assets to include (default $ZENTALK_ASSETS_DIR,
                       else data/assets when it exists; scripts/data.sh makes them)
      --image TAG      also build the container image (docker build -t TAG
                       --build-arg ZT_GIT_COMMIT=COMMIT .;
                       needs a running docker daemon and a bookworm base)
  -h, --help           show this help and exit

Prints the tarball's path on the last line.

Exit status: 0 built, 1 build or packaging failed, 2 usage error.
USAGE
}

build_dir=build-release out=dist compile=1 image="" assets="${ZENTALK_ASSETS_DIR:-}"
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    -b|--build-dir) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; build_dir="$2"; shift 2 ;;
    -o|--out) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; out="$2"; shift 2 ;;
    --no-compile) compile=0; shift ;;
    --assets) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; assets="$2"; shift 2 ;;
    --image) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; image="$2"; shift 2 ;;
    *) zt_usage_error "unknown argument: $1" ;;
  esac
done
cd "$ZT_REPO_ROOT"
case "$build_dir" in /*) ;; *) build_dir="$ZT_REPO_ROOT/$build_dir" ;; esac
case "$out" in /*) ;; *) out="$ZT_REPO_ROOT/$out" ;; esac
[ -n "$assets" ] || { [ ! -d data/assets ] || assets=data/assets; }

if [ "$compile" = 1 ]; then
  [ -f "$build_dir/CMakeCache.txt" ] ||
    cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  cmake --build "$build_dir" -j "$(nproc 2>/dev/null || echo 2)" --target zentalk-node zentalk
fi
for b in src/node/zentalk-node src/cli/zentalk; do
  [ -x "$build_dir/$b" ] || zt_die "$build_dir/$b is missing (build first, or drop --no-compile)"
done

version=$("$build_dir/src/node/zentalk-node" --version | awk '{ print $2; exit }')
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
name="zentalk-$version-$commit"
mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root="$stage/$name"
mkdir -p "$root/bin" "$root/share/zentalk"
install -m 0755 "$build_dir/src/node/zentalk-node" "$build_dir/src/cli/zentalk" "$root/bin/"
cp -R config "$root/share/zentalk/config"
if [ -n "$assets" ] && [ -d "$assets" ]; then
  cp -R "$assets" "$root/share/zentalk/assets"
else
  echo "$ZT_SCRIPT_NAME: note: no data assets packaged (run scripts/data.sh first); features that need them answer 503" >&2
fi
{
  echo "name=$name"
  echo "version=$version"
  echo "commit=$commit"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  (cd "$root" && sha256sum bin/zentalk-node bin/zentalk) | sed 's/^/sha256 /'
} >"$root/RELEASE"
tarball="$out/$name.tar.gz"
tar -C "$stage" -czf "$tarball.tmp" "$name"
mv -f "$tarball.tmp" "$tarball"

if [ -n "$image" ]; then
  command -v docker >/dev/null 2>&1 || zt_die "--image: docker not found"
  docker build --build-arg ZT_GIT_COMMIT="$commit" -t "$image" .
fi
echo "$tarball"
