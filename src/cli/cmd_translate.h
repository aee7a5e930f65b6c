/* cmd_translate.h: `zentalk translate` (internal to the CLI).
 *
 * Sends TEXT (or stdin) to the node's POST /v1/features/translate and
 * prints the translation. The caller has already called zt_net_client_global_init()
 * and json_set_alloc_funcs(). */
#ifndef ZT_CLI_TRANSLATE_H
#define ZT_CLI_TRANSLATE_H

/* argv[0] is "translate"; url is the node address given before the command
 * (NULL: $ZENTALK_URL or the default). Returns the exit status: 0 done,
 * 1 the node answered with an error or could not be reached, 2 usage. */
int zt__cli_translate(int argc, char **argv, const char *url);

#endif
