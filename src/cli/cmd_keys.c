/* cmd_keys.c: `zentalk keygen` writes a new node identity key file; `zentalk id`
 * shows the node id and public keys of one. Key files, ids and the
 * passphrase protection are described in docs/internals/identity.md.
 *
 * The passphrase is read from an environment variable named on the command
 * line (--passphrase-env VAR) or by $ZENTALK_ENCRYPTION_PASSPHRASE_ENV, the
 * same indirection as encryption.passphrase_env, so it never appears in
 * argv (visible in ps) or in shell history. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmd_keys.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_str.h"

#define PATH_CAP 4096

/* The passphrase from the variable named var (NULL/"" = none: *pass NULL).
 * 0, or 1 with a message when the variable is named but unset or empty. */
static int passphrase_from_env(const char *var, const char **pass)
{
    *pass = NULL;
    if (!var || !*var) var = getenv("ZENTALK_ENCRYPTION_PASSPHRASE_ENV");
    if (!var || !*var) return 0;
    const char *p = getenv(var);
    if (!p || !*p) {
        zt__cli_say("the passphrase variable %s is not set or empty", var);
        return 1;
    }
    *pass = p;
    return 0;
}

int zt__cli_key_path(const char *key, const char *data_dir, char *path, size_t cap)
{
    if (key && data_dir) {
        zt__cli_say("give --key or --data-dir, not both");
        return 2;
    }
    if (key) {
        if (!*key) {
            zt__cli_say("--key must not be empty");
            return 2;
        }
        zt_strlcpy(path, key, cap);
        return 0;
    }
    if (!data_dir) data_dir = getenv("ZENTALK_NODE_DATA_DIR");
    if (!data_dir || !*data_dir) data_dir = "data";
    const char *name = getenv("ZENTALK_ENCRYPTION_KEY_FILE");
    if (!name || !*name) name = "node.key";
    int n = name[0] == '/' ? snprintf(path, cap, "%s", name) : snprintf(path, cap, "%s/%s", data_dir, name);
    if (n < 0 || (size_t)n >= cap) {
        zt__cli_say("key file path is too long");
        return 2;
    }
    return 0;
}

int zt__cli_key_load(const char *path, const char *pass_env, struct zt_identity **id, const char **pass)
{
    *id = NULL;
    if (passphrase_from_env(pass_env, pass) != 0) return 1;
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    int lrc = zt_identity_load(path, *pass, *pass ? strlen(*pass) : 0, id, &err);
    if (lrc == ZT_EINVAL && !*pass)
        zt__cli_say("%s is protected by a passphrase: name the variable holding it with --passphrase-env VAR", path);
    else if (lrc == ZT_ENOTFOUND)
        zt__cli_say("no key file at %s (a node creates it on first start; or run zentalk keygen --out %s)", path, path);
    else if (lrc)
        zt__cli_say("%s", err.len ? zt_buf_str(&err) : zt_strerror(lrc));
    zt_buf_deinit(&err);
    return lrc ? 1 : 0;
}

/* What keygen needs: the passphrase, the identity, the error text
 * of the key file functions. */
struct key_job {
    const char *pass; /* NULL: none */
    size_t pass_len;
    struct zt_identity *id;
    struct zt_buf err;
};

/* The passphrase (pass_env) and k ready; 0, or 1 (said why). */
static int key_job_begin(const char *pass_env, struct key_job *k)
{
    memset(k, 0, sizeof *k);
    if (passphrase_from_env(pass_env, &k->pass) != 0) return 1;
    k->pass_len = k->pass ? strlen(k->pass) : 0;
    zt_buf_init(&k->err, 4096);
    return 0;
}

/* Say why a key file function failed with rc. */
static void key_job_say(const struct key_job *k, int rc)
{
    zt__cli_say("%s", k->err.len ? zt_buf_str(&k->err) : zt_strerror(rc));
}

/* Free what k holds; returns rc. */
static int key_job_end(struct key_job *k, int rc)
{
    zt_identity_free(k->id);
    zt_buf_deinit(&k->err);
    return rc;
}

static void print_identity(const struct zt_identity *id, const char *path, bool encrypted, bool as_json)
{
    char ed[2 * ZT_ED25519_PK_LEN + 1], kem[2 * ZT_X25519_LEN + 1];
    zt_hex_encode(ed, zt_identity_sign_pk(id), ZT_ED25519_PK_LEN);
    zt_hex_encode(kem, zt_identity_kem_pk(id), ZT_X25519_LEN);
    if (as_json) {
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:b}", "node_id", zt_identity_id(id), "ed25519_pk", ed,
                              "kem_pk", kem, "key_file", path, "encrypted", encrypted);
        char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        if (s) printf("%s\n", s);
        zt_free(s);
        json_decref(j);
        return;
    }
    printf("node_id     %s\n", zt_identity_id(id));
    printf("ed25519_pk  %s\n", ed);
    printf("kem_pk      %s  (X25519)\n", kem);
    printf("key_file    %s  (%s)\n", path, encrypted ? "passphrase-protected" : "not encrypted");
}

static void keygen_usage(FILE *out)
{
    fprintf(out,
            "Usage: zentalk keygen --out FILE [--passphrase-env VAR] [--force]\n"
            "\n"
            "Generate a node identity (Ed25519 signing key, X25519 KEM key) and write\n"
            "it to FILE with mode 0600, atomically. Prints the node id and public keys.\n"
            "\n"
            "  -o, --out FILE            key file to write (a node reads DATA_DIR/node.key)\n"
            "  -p, --passphrase-env VAR  encrypt the secret keys with the passphrase held\n"
            "                            in the environment variable VAR (Argon2id +\n"
            "                            XChaCha20-Poly1305); default\n"
            "                            $ZENTALK_ENCRYPTION_PASSPHRASE_ENV, else none\n"
            "  -f, --force               replace FILE if it exists (the old key is lost)\n"
            "      --json                print the result as JSON\n"
            "  -h, --help                show this help\n");
}

int zt__cli_keygen(int argc, char **argv)
{
    const char *out = NULL, *pass_env = NULL;
    bool force = false, as_json = false;
    const struct zt__cli_opt opts[] = {
        {"out", 'o', ZT__CLI_STR, &out},     {"passphrase-env", 'p', ZT__CLI_STR, &pass_env},
        {"force", 'f', ZT__CLI_FLAG, &force}, {"json", 'j', ZT__CLI_FLAG, &as_json},
        {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {.name = "keygen", .usage = keygen_usage};
    int prc = ZT__CLI_PARSE(argc, argv, 0, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    if (!zt__cli_no_operands(argc, argv, &cmd)) return 2;
    if (!out || !*out) {
        zt__cli_say("keygen needs --out FILE");
        return 2;
    }
    struct key_job k;
    if (key_job_begin(pass_env, &k) != 0) return 1;
    if (zt_identity_generate(&k.id) != 0) {
        zt__cli_say("cannot generate keys");
        return key_job_end(&k, 1);
    }
    int src = zt_identity_save(k.id, out, k.pass, k.pass_len, NULL, force ? ZT_IDENTITY_OVERWRITE : 0, &k.err);
    if (src == ZT_EEXIST) zt__cli_say("%s already exists; use --force to replace it (the old identity is lost)", out);
    else if (src) key_job_say(&k, src);
    else print_identity(k.id, out, k.pass != NULL, as_json);
    return key_job_end(&k, src ? 1 : 0);
}

static void id_usage(FILE *out)
{
    fprintf(out,
            "Usage: zentalk id [--key FILE | --data-dir DIR] [--passphrase-env VAR] [--json]\n"
            "\n"
            "Show the node id and public keys of a node identity key file. The default\n"
            "file is DIR/node.key (DIR: --data-dir, else $ZENTALK_NODE_DATA_DIR, else\n"
            "\"data\"; the name: $ZENTALK_ENCRYPTION_KEY_FILE, else node.key), the one\n"
            "zentalk-node uses.\n"
            "\n"
            "  -k, --key FILE            key file to read\n"
            "  -d, --data-dir DIR        the node's data directory\n"
            "  -p, --passphrase-env VAR  environment variable holding the passphrase of an\n"
            "                            encrypted key file (default\n"
            "                            $ZENTALK_ENCRYPTION_PASSPHRASE_ENV)\n"
            "      --json                print as JSON\n"
            "  -h, --help                show this help\n");
}

int zt__cli_id(int argc, char **argv)
{
    const char *key = NULL, *data_dir = NULL, *pass_env = NULL;
    bool as_json = false;
    const struct zt__cli_opt opts[] = {
        {"key", 'k', ZT__CLI_STR, &key},     {"data-dir", 'd', ZT__CLI_STR, &data_dir},
        {"passphrase-env", 'p', ZT__CLI_STR, &pass_env}, {"json", 'j', ZT__CLI_FLAG, &as_json},
        {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {.name = "id", .usage = id_usage};
    int prc = ZT__CLI_PARSE(argc, argv, 0, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    if (!zt__cli_no_operands(argc, argv, &cmd)) return 2;
    char path[PATH_CAP];
    if (zt__cli_key_path(key, data_dir, path, sizeof path) != 0) return 2;
    const char *pass = NULL;
    struct zt_identity *id = NULL;
    if (zt__cli_key_load(path, pass_env, &id, &pass) != 0) return 1;
    /* a plain file has no "encryption" to ask about here: re-read the kind cheaply */
    bool encrypted = false;
    if (pass) {
        struct zt_identity *probe = NULL;
        encrypted = zt_identity_load(path, NULL, 0, &probe, NULL) == ZT_EINVAL;
        zt_identity_free(probe);
    }
    print_identity(id, path, encrypted, as_json);
    zt_identity_free(id);
    return 0;
}
