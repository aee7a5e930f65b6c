/* cmd_attest.h: `zentalk attest URL` (internal to the CLI).
 *
 * Fetches GET /v1/attestation/report?nonce=... from a node, checks it with
 * zt_attest_verify() (schema, node id derived from the key, signature, our
 * nonce) and prints what the node claims. The caller has already called
 * zt_net_client_global_init() and json_set_alloc_funcs(). */
#ifndef ZT_CLI_ATTEST_H
#define ZT_CLI_ATTEST_H

/* argv[0] is "attest". Returns the exit status: 0 verified, 1 any failure,
 * 2 usage. */
int zt__cli_attest(int argc, char **argv);

#endif
