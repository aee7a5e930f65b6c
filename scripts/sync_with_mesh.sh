#!/usr/bin/env bash
# sync_with_mesh.sh: share this node's models through the mesh and fetch
# the ones a list names.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() {
  cat <<'USAGE'
Usage: sync_with_mesh.sh [OPTIONS]

Bring a node's mesh store (docs/integration/MESH_STORAGE.md) in line with
its models directory:
  - share: every DIR/models/NAME.gguf whose NAME.gguf.sha256 sidecar matches
    its bytes (what `zentalk models pull` writes) is added to the node's mesh
    and pinned (`zentalk mesh add`), unless the node holds it already; a file
    whose bytes do not match its sidecar is reported and skipped;
  - fetch (--pull FILE): every line "sha256:HEX [NAME]" of FILE is pulled
    from the node's peers into its models directory (`zentalk mesh pull
    --install`), verified chunk by chunk.
The node must run on this machine (mesh add reads the file by its path) and
answer the CLI as its operator (loopback, or $ZENTALK_TOKEN with role admin).

Options:
  -u, --url URL        the node (default $ZENTALK_URL or http://127.0.0.1:8080)
  -d, --data-dir DIR   its data directory (default $ZENTALK_NODE_DATA_DIR or data)
  -p, --pull FILE      also fetch the blobs FILE lists (one "sha256:HEX [NAME]" a line)
  -n, --dry-run        report what would be done, change nothing
  -h, --help           show this help and exit

Environment: ZENTALK_CLI_BIN (the zentalk binary).

Exit status: 0 everything shared and fetched, 1 something failed, 2 usage error.
USAGE
}

url="${ZENTALK_URL:-http://127.0.0.1:8080}" data_dir="${ZENTALK_NODE_DATA_DIR:-data}" pull="" dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    -u|--url) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; url="$2"; shift 2 ;;
    -d|--data-dir) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; data_dir="$2"; shift 2 ;;
    -p|--pull) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; pull="$2"; shift 2 ;;
    -n|--dry-run) dry_run=1; shift ;;
    *) zt_usage_error "unknown option $1" ;;
  esac
done
[ -z "$pull" ] || [ -r "$pull" ] || zt_die "cannot read $pull"
cli=$(zt_find_bin zentalk)
export ZENTALK_URL="$url"

held=$("$cli" mesh ls --json 2>/dev/null) || zt_die "the node at $url does not answer mesh ls (is it running, with mesh.enabled?)"
failed=0 shared=0 fetched=0 skipped=0
shopt -s nullglob
for f in "$data_dir"/models/*.gguf; do
  name=$(basename "$f")
  side="$f.sha256"
  if [ ! -f "$side" ]; then
    echo "skip $name: no $name.sha256 sidecar (not pulled by zentalk models pull)"
    skipped=$((skipped + 1))
    continue
  fi
  want=$(cut -c1-64 "$side")
  case "$held" in *"\"$want\""*) echo "held $name sha256:$want"; continue ;; esac
  got=$(sha256sum "$f" | cut -c1-64)
  if [ "$got" != "$want" ]; then
    echo "FAIL $name: its bytes do not match its sidecar (sha256 $got, sidecar $want)"
    failed=$((failed + 1))
    continue
  fi
  if [ "$dry_run" = 1 ]; then echo "would add $name sha256:$want"; continue; fi
  if "$cli" mesh add "$f" --name "$name" >/dev/null; then
    echo "added $name sha256:$want"
    shared=$((shared + 1))
  else
    failed=$((failed + 1))
  fi
done
if [ -n "$pull" ]; then
  while read -r sha name _; do
    case "$sha" in ''|'#'*) continue ;; esac
    case "$sha" in sha256:*) ;; *) sha="sha256:$sha" ;; esac
    case "$held" in *"\"${sha#sha256:}\""*) echo "held $sha"; continue ;; esac
    if [ "$dry_run" = 1 ]; then echo "would pull $sha"; continue; fi
    args=(mesh pull "$sha" --install)
    [ -z "${name:-}" ] || args+=(--name "$name")
    if "$cli" "${args[@]}"; then fetched=$((fetched + 1)); else failed=$((failed + 1)); fi
  done <"$pull"
fi
echo "mesh sync: $shared added, $fetched fetched, $skipped skipped, $failed failed"
[ "$failed" = 0 ]
