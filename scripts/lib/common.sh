# shellcheck shell=bash
# common.sh: helpers shared by the operator scripts (sourced, not run).
#   zt_die MSG...          print "SCRIPT: MSG" to stderr, exit 1
#   zt_usage_error MSG...  print it and "try --help", exit 2
#   zt_find_bin NAME       path of zentalk-node or zentalk: $ZENTALK_NODE_BIN /
#                          $ZENTALK_CLI_BIN, then the build trees of this
#                          checkout, then PATH
#   zt_http_status URL OUT GET URL with curl (Authorization from $ZENTALK_TOKEN,
#                          timeout $ZT_HTTP_TIMEOUT s), body to OUT; prints the
#                          HTTP status (000 when nothing answered)
#   zt_start_node ROLES ARGS...  the shared body of start_inference.sh and
#                          start_orchestrator.sh (parses their options, execs)
ZT_SCRIPT_NAME=$(basename "$0")
ZT_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

zt_die() {
  echo "$ZT_SCRIPT_NAME: $*" >&2
  exit 1
}

zt_usage_error() {
  echo "$ZT_SCRIPT_NAME: $*" >&2
  echo "try: $ZT_SCRIPT_NAME --help" >&2
  exit 2
}

zt_find_bin() {
  local name="$1" override="" d
  case "$name" in
    zentalk-node) override="${ZENTALK_NODE_BIN:-}"; d=src/node ;;
    zentalk) override="${ZENTALK_CLI_BIN:-}"; d=src/cli ;;
    *) zt_die "internal: unknown binary $name" ;;
  esac
  if [ -n "$override" ]; then
    [ -x "$override" ] || zt_die "$override is not an executable"
    echo "$override"
    return 0
  fi
  local b
  for b in build-release build; do
    if [ -x "$ZT_REPO_ROOT/$b/$d/$name" ]; then
      echo "$ZT_REPO_ROOT/$b/$d/$name"
      return 0
    fi
  done
  if command -v "$name" >/dev/null 2>&1; then
    command -v "$name"
    return 0
  fi
  zt_die "$name not found: build it (make build), put it on PATH, or set ZENTALK_NODE_BIN / ZENTALK_CLI_BIN"
}

zt_http_status() {
  local url="$1" out="$2" timeout="${ZT_HTTP_TIMEOUT:-5}"
  local args=(-sS -o "$out" -w '%{http_code}' --max-time "$timeout")
  if [ -n "${ZENTALK_TOKEN:-}" ]; then
    args+=(-H "Authorization: Bearer $ZENTALK_TOKEN")
  fi
  curl "${args[@]}" "$url"
}

zt_start_node() {
  local roles="$1" config="" data_dir="" listen="" join="" dry_run=0
  shift
  local extra=()
  while [ $# -gt 0 ]; do
    case "$1" in
      -c|--config) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; config="$2"; shift 2 ;;
      -d|--data-dir) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; data_dir="$2"; shift 2 ;;
      -l|--listen) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; listen="$2"; shift 2 ;;
      --roles) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; roles="$2"; shift 2 ;;
      --join) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; join="${join:+$join,}$2"; shift 2 ;;
      --dry-run) dry_run=1; shift ;;
      --) shift; extra+=("$@"); break ;;
      *) zt_usage_error "unknown option: $1" ;;
    esac
  done
  local node
  node=$(zt_find_bin zentalk-node)
  local cmd=("$node")
  if [ -n "$config" ]; then
    [ -d "$config" ] || zt_die "configuration directory $config does not exist"
    cmd+=(--config "$config")
  elif [ -n "${ZENTALK_CONFIG_DIR:-}" ]; then
    cmd+=(--config "$ZENTALK_CONFIG_DIR")
  fi
  [ -z "$data_dir" ] || cmd+=(--data-dir "$data_dir")
  [ -z "$listen" ] || cmd+=(--listen "$listen")
  cmd+=("${extra[@]+"${extra[@]}"}")
  export ZENTALK_NODE_ROLES="$roles"
  # node.join: the orchestrators a worker joins (no peers file needed)
  [ -z "$join" ] || export ZENTALK_NODE_JOIN="$join"
  # validate first: a bad configuration fails here with every problem listed
  "${cmd[@]}" --check-config >&2 || zt_die "the configuration does not pass --check-config"
  if [ "$dry_run" = 1 ]; then
    printf 'ZENTALK_NODE_ROLES=%s' "$roles"
    [ -z "$join" ] || printf ' ZENTALK_NODE_JOIN=%s' "$join"
    printf ' %q' "${cmd[@]}"
    printf '\n'
    return 0
  fi
  exec "${cmd[@]}"
}
