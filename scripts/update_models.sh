#!/usr/bin/env bash
# update_models.sh: fetch or verify every model that models.yaml names.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() {
  cat <<'USAGE'
Usage: update_models.sh [OPTIONS]

Bring the data directory's models in line with models.yaml. For each entry
of the effective configuration (zentalk-node --dump-config):
  - with a url: the file is downloaded with `zentalk models pull` (resumable,
    SHA-256 checked, nothing kept on mismatch) unless it is already there
    with the right SHA-256; it is saved as the last segment of `path` when
    path is models/NAME, else as the URL's last segment;
  - with a path only: the file must exist (relative paths are under the
    data directory), else it is reported missing.
The node loads models on first use: no restart is needed afterwards.

Options:
  -c, --config DIR     configuration directory (default $ZENTALK_CONFIG_DIR;
                       without either only the compiled-in defaults apply,
                       which name no model)
  -d, --data-dir DIR   data directory (default node.data_dir of the configuration)
      --force          download again even when the file checks
  -n, --dry-run        report what would be done, change nothing
  -h, --help           show this help and exit

Environment: ZENTALK_NODE_BIN, ZENTALK_CLI_BIN (the binaries).

Exit status: 0 every model present and verified, 1 a download or check
failed or a model is missing, 2 usage error.
USAGE
}

config="${ZENTALK_CONFIG_DIR:-}" data_dir="" force=0 dry_run=0
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    -c|--config) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; config="$2"; shift 2 ;;
    -d|--data-dir) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; data_dir="$2"; shift 2 ;;
    --force) force=1; shift ;;
    -n|--dry-run) dry_run=1; shift ;;
    *) zt_usage_error "unknown argument: $1" ;;
  esac
done
node=$(zt_find_bin zentalk-node)
cli=$(zt_find_bin zentalk)
args=()
[ -z "$config" ] || args+=(--config "$config")
[ -z "$data_dir" ] || args+=(--data-dir "$data_dir")
dump=$("$node" "${args[@]+"${args[@]}"}" --dump-config) || zt_die "the configuration does not load (see above)"

# The dump's models section: "  - id: ..." starts an entry, then its keys.
entries=$(printf '%s\n' "$dump" | awk -v OFS=$'\x1f' '
  function unq(s) { sub(/^[^:]*: */, "", s); gsub(/^"|"$/, "", s); return s }
  /^models:/ { inm = 1; next }
  inm && /^[^ ]/ { inm = 0 }
  inm && /^  - id: / { if (id != "") print id, path, url, sha; id = unq($0); path = url = sha = ""; next }
  inm && /^    path: / { path = unq($0) }
  inm && /^    url: / { url = unq($0) }
  inm && /^    sha256: / { sha = unq($0) }
  /^  data_dir: / && dd == "" { dd = unq($0); print "#data_dir", dd }
  END { if (id != "") print id, path, url, sha }')
dd=$(printf '%s\n' "$entries" | awk -F$'\x1f' '$1 == "#data_dir" { print $2 }')
[ -n "$data_dir" ] || data_dir="$dd"
[ -n "$data_dir" ] || zt_die "no data directory"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

failed=0 count=0
while IFS=$'\x1f' read -r id path url sha; do
  if [ -z "$id" ] || [ "$id" = "#data_dir" ]; then continue; fi
  file=""
  count=$((count + 1))
  if [ -n "$path" ]; then
    case "$path" in /*) file="$path" ;; *) file="$data_dir/$path" ;; esac
  fi
  if [ -z "$url" ]; then
    if [ -f "$file" ]; then
      echo "ok       $id: $file"
    else
      echo "MISSING  $id: $file (no url in models.yaml to fetch it from)"
      failed=1
    fi
    continue
  fi
  name="${url##*/}"
  name="${name%%\?*}"
  case "$path" in
    models/*/*|'') ;;
    models/*) name="${path#models/}" ;;
    *) echo "note     $id: path $path is not under models/; the download goes to models/$name" ;;
  esac
  file="$data_dir/models/$name"
  if [ "$force" = 0 ] && [ -f "$file" ] && [ "$(sha_of "$file")" = "$sha" ]; then
    echo "ok       $id: $file (sha256 checks)"
    continue
  fi
  if [ "$dry_run" = 1 ]; then
    echo "would    $id: pull $url -> $file"
    continue
  fi
  echo "pull     $id: $url -> $file"
  pull=("$cli" models pull "$url" --sha256 "$sha" --name "$name" --data-dir "$data_dir")
  [ ! -f "$file" ] || pull+=(--force)
  if "${pull[@]}"; then
    echo "ok       $id: $file (downloaded, sha256 checks)"
  else
    echo "FAILED   $id: zentalk models pull exited $?"
    failed=1
  fi
done <<<"$entries"
[ "$count" -gt 0 ] || echo "no models in the configuration (models.yaml is empty)"
exit "$failed"
