/* cmd_nodes.h: `zentalk nodes` (internal to the CLI): the workers an
 * orchestrator knows (GET /v1/orchestrator/nodes, role admin). The caller
 * has called json_set_alloc_funcs(). */
#ifndef ZT_CLI_NODES_H
#define ZT_CLI_NODES_H

#include <jansson.h>
#include <stdbool.h>

/* GET url+path as a JSON object (the caller decrefs it), or NULL with a
 * message printed; with as_json the answer is printed as it is instead
 * (NULL, *printed true). Shared by `nodes` and `jobs`. */
json_t *zt__cli_get_object(const char *url, const char *path, bool as_json, bool *printed);

/* One line per worker (id, state, models, reputation, load, last
 * heartbeat), or the answer as JSON. Returns the exit status: 0, 1. */
int zt__cli_nodes(const char *url, bool as_json);

#endif
