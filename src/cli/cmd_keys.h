/* cmd_keys.h: `zentalk keygen` and `zentalk id` (internal to the CLI).
 *
 * main.c dispatches here before its own option pass (these commands have
 * their own options). The caller has already called json_set_alloc_funcs(). */
#ifndef ZT_CLI_KEYS_H
#define ZT_CLI_KEYS_H

/* argv[0] is "keygen". Returns the exit status: 0, 1 error, 2 usage. */
int zt__cli_keygen(int argc, char **argv);

/* argv[0] is "id". Returns the exit status: 0, 1 error, 2 usage. */
int zt__cli_id(int argc, char **argv);

#endif
