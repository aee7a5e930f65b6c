#!/usr/bin/env bash
# view_logs.sh: read a node's logs (file, journal or compose), filtered by level and event.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

usage() {
  cat <<'USAGE'
Usage: scripts/monitoring/view_logs.sh [SOURCE] [FILTERS] [OPTIONS]

Show a node's log lines, in either of its formats (log.format: text
"TIME LEVEL EVENT key=value..." or json, one object per line), filtered.

Source (default: --file when log.file is set via $ZENTALK_LOG_FILE, else
--journal):
      --file FILE        a log file (log.file); "-" reads stdin
      --journal [UNIT]   journalctl -u UNIT (default zentalk-node)
      --compose SERVICE  docker compose logs SERVICE (run in the compose
                         project's directory)
Filters:
  -l, --level LEVEL      least severe level shown: debug, info, warn, error
  -e, --event NAME       only this event (the text format's third field,
                         json's "msg"); repeatable
  -g, --grep REGEX       only lines matching REGEX (extended)
Options:
  -f, --follow           keep reading as lines arrive
  -n, --lines N          start with the last N lines (default all; with
                         --follow, 50)
      --pretty           json lines as text ("TIME LEVEL EVENT key=value")
  -h, --help             show this help and exit

Logs never hold prompts, keys or tokens (the node does not write them).

Exit status: 0 success (even when no line matched), 1 the source cannot
be read, 2 usage error.
USAGE
}

src="" arg="" level="" grep_re="" follow=0 lines="" pretty=0
events=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --file) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; src="file"; arg="$2"; shift 2 ;;
    --journal)
      src="journal"; arg=zentalk-node; shift
      if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then arg="$1"; shift; fi ;;
    --compose) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; src="compose"; arg="$2"; shift 2 ;;
    -l|--level) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; level="$2"; shift 2 ;;
    -e|--event) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; events+=("$2"); shift 2 ;;
    -g|--grep) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; grep_re="$2"; shift 2 ;;
    -f|--follow) follow=1; shift ;;
    -n|--lines) [ $# -ge 2 ] || zt_usage_error "$1 needs a value"; lines="$2"; shift 2 ;;
    --pretty) pretty=1; shift ;;
    *) zt_usage_error "unknown argument: $1" ;;
  esac
done
case "$level" in ''|debug|info|warn|error) ;; *) zt_usage_error "--level: one of debug, info, warn, error" ;; esac
case "$lines" in *[!0-9]*) zt_usage_error "--lines: a whole number" ;; esac
if [ -z "$src" ]; then
  if [ -n "${ZENTALK_LOG_FILE:-}" ]; then src="file"; arg="$ZENTALK_LOG_FILE"; else src="journal"; arg=zentalk-node; fi
fi
[ -n "$lines" ] || { [ "$follow" = 0 ] || lines=50; }

read_source() {
  case "$src" in
    file)
      if [ "$arg" = - ]; then cat; return; fi
      [ -r "$arg" ] || zt_die "cannot read $arg"
      if [ "$follow" = 1 ]; then tail -n "${lines:-50}" -F "$arg"
      elif [ -n "$lines" ]; then tail -n "$lines" "$arg"
      else cat "$arg"; fi ;;
    journal)
      command -v journalctl >/dev/null 2>&1 || zt_die "journalctl not found (use --file or --compose)"
      local a=(-u "$arg" -o cat --no-pager)
      [ -z "$lines" ] || a+=(-n "$lines")
      [ "$follow" = 0 ] || a+=(-f)
      journalctl "${a[@]}" ;;
    compose)
      command -v docker >/dev/null 2>&1 || zt_die "docker not found"
      local a=(compose logs --no-color --no-log-prefix)
      [ -z "$lines" ] || a+=(--tail "$lines")
      [ "$follow" = 0 ] || a+=(-f)
      docker "${a[@]}" "$arg" ;;
  esac
}

# The filter: one awk over both formats, line-buffered for --follow.
read_source | awk -v minlevel="$level" -v events="${events[*]+"${events[*]}"}" -v re="$grep_re" -v pretty="$pretty" '
  BEGIN {
    rank["debug"] = 0; rank["info"] = 1; rank["warn"] = 2; rank["error"] = 3
    n = split(events, ev, " "); for (i = 1; i <= n; i++) want[ev[i]] = 1
  }
  function jfield(s, k,    m) {
    if (match(s, "\"" k "\":\"[^\"]*\"")) { m = substr(s, RSTART + length(k) + 4, RLENGTH - length(k) - 5); return m }
    return ""
  }
  {
    line = $0
    if (substr(line, 1, 1) == "{") { lvl = jfield(line, "level"); evt = jfield(line, "msg"); json = 1 }
    else { lvl = $2; evt = $3; json = 0 }
    if (minlevel != "" && (lvl in rank) && rank[lvl] < rank[minlevel]) next
    if (n > 0 && !(evt in want)) next
    if (re != "" && line !~ re) next
    if (json && pretty) {
      rest = line
      gsub(/^\{|\}$/, "", rest)
      gsub(/"(ts|level|msg)":"[^"]*",?/, "", rest)
      gsub(/","/, "\" ", rest); gsub(/":"/, "=\"", rest); gsub(/",/, "\" ", rest); gsub(/":/, "=", rest); gsub(/^"|,"/, " ", rest)
      sub(/^ +/, "", rest)
      line = sprintf("%s %-5s %s %s", jfield(line, "ts"), lvl, evt, rest)
    }
    print line
    fflush()
  }'
