/* cmd_models.h: `zentalk models pull|list|rm` (internal to the CLI).
 *
 * main.c dispatches here before its own option pass, because these
 * subcommands have options (--sha256, --name, ...) that the global parser
 * would reject. The caller has already run zt_net_client_global_init() and
 * json_set_alloc_funcs(). */
#ifndef ZT_CLI_MODELS_H
#define ZT_CLI_MODELS_H

/* argv[0] is "models", argv[1] the subcommand. Returns the process exit
 * status: 0 success, 1 error, 2 usage error, 130 interrupted (SIGINT). */
int zt__cli_models(int argc, char **argv);

#endif
