#!/usr/bin/env bash
# start_orchestrator.sh: start a zentalk-node running the gateway and orchestrator roles.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

usage() {
  cat <<'USAGE'
Usage: start_orchestrator.sh [OPTIONS] [-- NODE_ARGS...]

Start a zentalk-node that runs the gateway and orchestrator roles (the
public API and the scheduler; no models of its own unless --roles adds
worker), in the foreground. The configuration is checked first
(zentalk-node --check-config); then the script execs the node.

Options:
  -c, --config DIR     configuration directory (default $ZENTALK_CONFIG_DIR,
                       else the node's compiled-in defaults)
  -d, --data-dir DIR   data directory (node.data_dir)
  -l, --listen H:P     listen address (server.listen); off loopback set
                       ZENTALK_ENCRYPTION_JWT_SECRET (the node requires auth)
      --roles LIST     roles instead of "gateway,orchestrator"
      --dry-run        check the configuration, print the command, do not start
  -h, --help           show this help and exit

Today the orchestrator role reports ready but schedules nothing of its own:
the registry and scheduler come with the network issue. Workers are reached
through the peers file (encryption.peers_file), see docs/getting-started.md.

Environment: ZENTALK_NODE_BIN and every ZENTALK_<SECTION>_<KEY> variable.

Exit status: the node's (0 clean stop, 1 error), 1 when the configuration
does not check, 2 usage error.
USAGE
}

case "${1:-}" in -h|--help) usage; exit 0 ;; esac
zt_start_node gateway,orchestrator "$@"
