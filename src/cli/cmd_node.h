/* cmd_node.h: `zentalk node rotate-key|revoke` (internal to the CLI; cmd_node.c). */
#ifndef ZT_CLI_NODE_H
#define ZT_CLI_NODE_H

/* argv[0] is "node". Returns the exit status: 0, 1 error, 2 usage. */
int zt__cli_node(int argc, char **argv);

#endif
