/* cmd_payouts.h: `zentalk payouts list|export|confirm|keygen` (internal to
 * the CLI): the node's payout batches in its database, read and moved
 * directly, for the operator on the node's machine. docs/cli.md,
 * docs/internals/ledger.md. */
#ifndef ZT_CLI_PAYOUTS_H
#define ZT_CLI_PAYOUTS_H

/* argv[0] is "payouts". Returns the exit status: 0, 1 error, 2 usage. */
int zt__cli_payouts(int argc, char **argv);

#endif
