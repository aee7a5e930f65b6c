/* cmd_ledger.h: `zentalk ledger audit|balance|deposit` (internal to the
 * CLI): the node's ledger, read and written in its database directly
 * (database.yaml of --config, node.data_dir or --data-dir), for the
 * operator on the node's machine. docs/cli.md, docs/internals/ledger.md. */
#ifndef ZT_CLI_LEDGER_H
#define ZT_CLI_LEDGER_H

/* argv[0] is "ledger". Returns the exit status: 0, 1 error (audit: a
 * discrepancy), 2 usage. */
int zt__cli_ledger(int argc, char **argv);

#endif
