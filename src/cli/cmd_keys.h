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

struct zt_identity;
/* The key file --key or --data-dir name (the node's: DIR/node.key, or
 * $ZENTALK_ENCRYPTION_KEY_FILE) into path. 0, or 2 with a message. */
int zt__cli_key_path(const char *key, const char *data_dir, char *path, size_t cap);
/* Load it (the passphrase from --passphrase-env VAR or
 * $ZENTALK_ENCRYPTION_PASSPHRASE_ENV, in *pass). 0, or 1 with a message. */
int zt__cli_key_load(const char *path, const char *pass_env, struct zt_identity **id, const char **pass);

#endif
