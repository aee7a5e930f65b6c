/* cmd_peers.h: `zentalk peers add|list` (internal to the CLI): the peers file
 * of the node's registry (zt_peers.h). The caller has called
 * zt_net_client_global_init() and json_set_alloc_funcs(). */
#ifndef ZT_CLI_PEERS_H
#define ZT_CLI_PEERS_H

/* argv[0] is "peers". Returns the exit status: 0, 1 error, 2 usage. */
int zt__cli_peers(int argc, char **argv);

#endif
