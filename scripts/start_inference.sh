#!/usr/bin/env bash
# start_inference.sh: start a zentalk-node running the worker role (inference).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() {
  cat <<'USAGE'
Usage: start_inference.sh [OPTIONS] [-- NODE_ARGS...]

Start a zentalk-node that runs the worker role (it serves the models of
models.yaml to gateways), in the foreground. The configuration is checked
first (zentalk-node --check-config); then the script execs the node, so
signals reach it directly (SIGTERM drains, SIGHUP reopens logs and reloads
peers).

Options:
  -c, --config DIR     configuration directory (default $ZENTALK_CONFIG_DIR,
                       else the node's compiled-in defaults)
  -d, --data-dir DIR   data directory (node.data_dir)
  -l, --listen H:P     listen address (server.listen)
      --roles LIST     roles instead of "worker" (comma-separated)
      --join URL       orchestrator to join (repeatable; node.join): the
                       worker heartbeats to it and runs the jobs its gateway
                       seals, with no peers file
      --dry-run        check the configuration, print the command, do not start
  -h, --help           show this help and exit

Environment: ZENTALK_NODE_BIN (the node binary; default the build tree, then
PATH) and every ZENTALK_<SECTION>_<KEY> variable of docs/configuration.md.

Exit status: the node's (0 clean stop, 1 error), 1 when the configuration
does not check, 2 usage error.
USAGE
}

case "${1:-}" in -h|--help) usage; exit 0 ;; esac
zt_start_node worker "$@"
