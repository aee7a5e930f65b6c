/* cmd_gdpr.h: `zentalk privacy export|erase` (internal to the CLI), through the
 * node's API (POST /v1/privacy/export, /v1/privacy/erase). The caller has
 * called zt_net_client_global_init() and json_set_alloc_funcs(). */
#ifndef ZT_CLI_GDPR_H
#define ZT_CLI_GDPR_H

/* argv[0] is "privacy".
 *   zentalk privacy export [--url URL] [--identity ID] [--out FILE]
 *   zentalk privacy erase  [--url URL] [--identity ID] --yes [--json]
 * Without --identity the caller's own identity ($ZENTALK_TOKEN); naming
 * another needs an admin token (or the loopback operator). Exit status 0,
 * 1 (node error), 2 (usage). */
int zt__cli_privacy(int argc, char **argv, const char *default_url);

#endif
