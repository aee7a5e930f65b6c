/* cmd_privacy.h: `zentalk pii` and `zentalk audit verify` (internal to the CLI).
 * The caller has called zt_net_client_global_init() (pii) and json_set_alloc_funcs(). */
#ifndef ZT_CLI_PRIVACY_H
#define ZT_CLI_PRIVACY_H

/* argv[0] is "pii". `zentalk pii [--url URL] [--json] [--feature F] [TEXT]`:
 * POST /v1/privacy/pii with TEXT (stdin when absent); prints the hits and
 * the pseudonymised text. Exit status 0, 1 (node error), 2 (usage). */
int zt__cli_pii(int argc, char **argv, const char *default_url);

/* argv[0] is "audit". `zentalk audit verify [--pubkey HEX | --key FILE |
 * --descriptor FILE | --data-dir DIR] [FILE...]`: checks audit files
 * locally. Exit status 0 intact, 1 problems found or unreadable, 2 usage. */
int zt__cli_audit(int argc, char **argv);

#endif
