/* cmd_mesh.h: `zentalk mesh status|ls|add|pin|unpin|pull` (internal to the
 * CLI): the node's mesh through its operator routes (GET/POST /v1/mesh/...,
 * loopback or an admin token; docs/cli.md). The caller has called
 * json_set_alloc_funcs(). */
#ifndef ZT_CLI_MESH_H
#define ZT_CLI_MESH_H

#include <stdbool.h>
#include <stddef.h>

/* argv[0] is "mesh". Returns the exit status (0, 1, 2 usage). */
int zt__cli_mesh(int argc, char **argv);

/* Ask the node at url to fetch sha (64 hex) from its peers into its models
 * directory (name may be NULL) and wait, printing progress to stderr.
 * 0: installed; 3: the mesh cannot give it (no holder, node unreachable
 * or without the mesh; why says why); 1: failed otherwise (holders found
 * that all failed). A caller with a URL falls back to it after either. */
int zt__cli_mesh_pull(const char *url, const char *sha, const char *name, bool install, char *why, size_t why_len);

/* $ZENTALK_URL or the default node address. */
const char *zt__cli_mesh_node_url(void);

#endif
