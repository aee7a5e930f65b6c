/* cmd_node.c: `zentalk node rotate-key` and `zentalk node revoke` (cmd_node.h):
 * an operator's key rotation and revocation (docs/internals/orchestrator.md
 * "Revocations", docs/internals/dht.md "Rotation and revocation").
 *
 * rotate-key keeps the node's Ed25519 key (its node id) and gives it a new
 * X25519 KEM key, rewriting the key file in place (same passphrase); the
 * node takes it at its next start and joins with a newly signed
 * descriptor. --revocation FILE also writes the signed revocation of the
 * old KEM key, to post once the node runs on the new one.
 *
 * revoke signs a revocation with the key file (one KEM key with --kem HEX,
 * or the whole node key with --node-key --yes: that node id is never
 * accepted again) or takes one made before (--record FILE), and posts it to
 * each orchestrator (--url, repeatable; POST /v1/orchestrator/revoke), which
 * ends the sessions using it, refuses them from then on, and publishes the
 * record in its DHT when it runs one; --out FILE writes it instead. */
#include "cmd_node.h"

#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "cmd_keys.h"
#include "http.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define PATH_CAP 4096
#define MAX_URLS 16

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: zentalk node rotate-key [--key FILE | --data-dir DIR] [--passphrase-env VAR]\n"
            "                               [--revocation FILE] [--json]\n"
            "       zentalk node revoke (--kem HEX | --node-key --yes | --record FILE)\n"
            "                           [--key FILE | --data-dir DIR] [--passphrase-env VAR]\n"
            "                           [--url URL]... [--out FILE] [--json]\n"
            "\n"
            "rotate-key  give the node key file a new X25519 KEM key, keeping the node id\n"
            "            (Ed25519 key); restart the node to use it. --revocation FILE\n"
            "            writes the signed revocation of the old KEM key: post it with\n"
            "            node revoke --record FILE once the node runs on the new key.\n"
            "revoke      sign a revocation with the key file and post it to each\n"
            "            orchestrator (POST URL/v1/orchestrator/revoke): --kem HEX revokes\n"
            "            that KEM key (joins carrying it are refused); --node-key --yes the\n"
            "            whole node key (that node id is never accepted again; there is\n"
            "            no undo). --record FILE posts one made before.\n"
            "\n"
            "  -k, --key FILE            key file (default DIR/node.key, as zentalk id)\n"
            "  -d, --data-dir DIR        the node's data directory\n"
            "  -p, --passphrase-env VAR  environment variable holding the key file's passphrase\n"
            "  -u, --url URL             an orchestrator to tell (repeatable; default\n"
            "                            $ZENTALK_URL, else " ZT__CLI_DEFAULT_URL ")\n"
            "      --out FILE            write the revocation record to FILE instead of posting it\n"
            "      --json                print the result as JSON\n"
            "  -h, --help                show this help\n");
}

/* Write text (a public record) to path, mode 0600. 0 or 1 with a message. */
static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = fd < 0 ? ZT_EIO : zt_fd_write_full(fd, text, strlen(text));
    if (fd >= 0 && close(fd) != 0 && !rc) rc = ZT_EIO;
    if (rc) zt__cli_say("%s: cannot write: %s", path, zt_strerror(rc));
    return rc ? 1 : 0;
}

static int rotate_cmd(const char *path, const char *pass_env, const char *rev_out, bool as_json)
{
    struct zt_identity *old = NULL, *nid = NULL;
    const char *pass = NULL;
    if (zt__cli_key_load(path, pass_env, &old, &pass) != 0) return 1;
    int rc = 1;
    char *rev = NULL;
    uint8_t *sec = sodium_malloc(ZT_ED25519_SEED_LEN + ZT_X25519_LEN); /* seed || new KEM secret */
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    if (!sec) {
        zt__cli_say("out of memory");
        goto out;
    }
    memcpy(sec, zt_identity_sign_sk(old), ZT_ED25519_SEED_LEN); /* libsodium's sk: seed || pk */
    randombytes_buf(sec + ZT_ED25519_SEED_LEN, ZT_X25519_LEN);
    if (zt_identity_from_secret(sec, sec + ZT_ED25519_SEED_LEN, &nid) != 0 ||
        strcmp(zt_identity_id(nid), zt_identity_id(old)) != 0) {
        zt__cli_say("cannot make the new KEM key");
        goto out;
    }
    /* the old KEM key's revocation first: once the file is rewritten the
     * old key is gone */
    if (rev_out && (zt_dht_revocation(old, zt_identity_kem_pk(old), zt_time_real_ms() / 1000, &rev) != 0 ||
                    write_file(rev_out, rev) != 0))
        goto out;
    int src = zt_identity_save(nid, path, pass, pass ? strlen(pass) : 0, NULL, ZT_IDENTITY_OVERWRITE, &err);
    if (src) {
        zt__cli_say("%s: %s", path, err.len ? zt_buf_str(&err) : zt_strerror(src));
        goto out;
    }
    char ok[2 * ZT_X25519_LEN + 1], nk[2 * ZT_X25519_LEN + 1];
    zt_hex_encode(ok, zt_identity_kem_pk(old), ZT_X25519_LEN);
    zt_hex_encode(nk, zt_identity_kem_pk(nid), ZT_X25519_LEN);
    if (as_json) {
        json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s?}", "node_id", zt_identity_id(nid), "key_file", path, "old_kem_pk",
                              ok, "kem_pk", nk, "revocation", rev_out);
        char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        if (s) printf("%s\n", s);
        zt_free(s);
        json_decref(j);
    } else {
        printf("node_id     %s  (unchanged)\nold kem_pk  %s\nkem_pk      %s  (X25519, new)\nkey_file    %s\n",
               zt_identity_id(nid), ok, nk, path);
        printf("Restart the node to use the new key%s.\n",
               rev_out ? "; then post the old key's revocation: zentalk node revoke --record FILE --url ORCH" : "");
    }
    rc = 0;
out:
    if (sec) sodium_free(sec);
    zt_free(rev);
    zt_buf_deinit(&err);
    zt_identity_free(old);
    zt_identity_free(nid);
    return rc;
}

/* Post rec to each URL; 0 when every one took it. */
static int post_all(const char *rec, const char *const *urls, size_t n, bool as_json)
{
    json_t *req = json_loads(rec, 0, NULL);
    if (!req) {
        zt__cli_say("the revocation record is not JSON");
        return 1;
    }
    int bad = 0;
    json_t *all = json_array();
    for (size_t i = 0; i < n; i++) {
        long status = 0;
        json_t *resp = NULL;
        if (zt__cli_http_post_json_parsed(urls[i], "/v1/orchestrator/revoke", req, 15000L, &status, &resp) != 0) {
            bad++;
            continue;
        }
        if (as_json) json_array_append_new(all, json_pack("{s:s,s:O}", "url", urls[i], "answer", resp));
        else
            printf("%s: %s %s (%s)\n", urls[i], json_string_value(json_object_get(resp, "status")),
                   json_string_value(json_object_get(resp, "what")),
                   json_is_true(json_object_get(resp, "published")) ? "published in its DHT" : "not in a DHT");
        json_decref(resp);
    }
    if (as_json) {
        char *s = json_dumps(all, JSON_INDENT(2));
        if (s) printf("%s\n", s);
        zt_free(s);
    }
    json_decref(all);
    json_decref(req);
    return bad ? 1 : 0;
}

static int revoke_cmd(const char *path, const char *pass_env, const char *kem_hex, bool node_key, const char *record,
                  const char *const *urls, size_t n_urls, const char *out, bool as_json)
{
    char *rec = NULL;
    int rc = 1;
    if (record) {
        size_t len;
        int frc = zt_file_read(record, ZT_DHT_REVOCATION_MAX, &rec, &len);
        if (frc) {
            zt__cli_say("%s: %s", record, zt_strerror(frc));
            return 1;
        }
        if (zt_dht_revocation_verify(rec, len, NULL) != 0) {
            zt__cli_say("%s: not a signed revocation record", record);
            goto out;
        }
    } else {
        uint8_t kem[ZT_X25519_LEN];
        if (kem_hex && zt_hex_decode(kem, sizeof kem, kem_hex, strlen(kem_hex), ZT_HEX_ANY_CASE) != 0) {
            zt__cli_say("--kem must be 64 hex digits (an X25519 public key)");
            return 2;
        }
        struct zt_identity *id = NULL;
        const char *pass = NULL;
        if (zt__cli_key_load(path, pass_env, &id, &pass) != 0) return 1;
        if (kem_hex && memcmp(kem, zt_identity_kem_pk(id), sizeof kem) == 0)
            fprintf(stderr, "zentalk: note: %s is this key file's current KEM key (rotate it first: zentalk node "
                            "rotate-key)\n", kem_hex);
        int src = zt_dht_revocation(id, node_key ? NULL : kem, zt_time_real_ms() / 1000, &rec);
        zt_identity_free(id);
        if (src) {
            zt__cli_say("cannot sign the revocation: %s", zt_strerror(src));
            return 1;
        }
    }
    if (out) rc = write_file(out, rec);
    else rc = post_all(rec, urls, n_urls, as_json);
    if (!rc && out && !as_json) printf("revocation written to %s\n", out);
out:
    zt_free(rec);
    return rc;
}

int zt__cli_node(int argc, char **argv)
{
    const char *key = NULL, *data_dir = NULL, *pass_env = NULL, *kem = NULL, *record = NULL, *out = NULL,
               *rev_out = NULL;
    const char *url_v[MAX_URLS];
    struct zt__cli_list urls = {.v = url_v, .max = MAX_URLS, .noun = "URLs"};
    bool as_json = false, node_key = false, yes = false;
    const struct zt__cli_opt opts[] = {
        {"key", 'k', ZT__CLI_STR, &key},          {"data-dir", 'd', ZT__CLI_STR, &data_dir},
        {"passphrase-env", 'p', ZT__CLI_STR, &pass_env}, {"url", 'u', ZT__CLI_LIST, &urls},
        {"kem", 0, ZT__CLI_STR, &kem},            {"node-key", 0, ZT__CLI_FLAG, &node_key},
        {"yes", 0, ZT__CLI_FLAG, &yes},           {"record", 0, ZT__CLI_STR, &record},
        {"out", 0, ZT__CLI_STR, &out},            {"revocation", 0, ZT__CLI_STR, &rev_out},
        {"json", 0, ZT__CLI_FLAG, &as_json},      {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {.name = "node", .usage = usage};
    int prc = ZT__CLI_PARSE(argc, argv, 1, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    const char *verb = optind < argc ? argv[optind] : "";
    if (optind + 1 != argc || (strcmp(verb, "rotate-key") != 0 && strcmp(verb, "revoke") != 0)) {
        usage(stderr);
        return 2;
    }
    char path[PATH_CAP];
    if (zt__cli_key_path(key, data_dir, path, sizeof path) != 0) return 2;
    if (strcmp(verb, "rotate-key") == 0) {
        if (kem || node_key || record || out || urls.n) {
            zt__cli_say("rotate-key takes --key/--data-dir, --passphrase-env, --revocation and --json");
            return 2;
        }
        return rotate_cmd(path, pass_env, rev_out, as_json);
    }
    if (rev_out || (!!kem + !!node_key + !!record) != 1) {
        zt__cli_say("node revoke needs one of --kem HEX, --node-key --yes, --record FILE");
        return 2;
    }
    if (node_key && !yes) {
        zt__cli_say("--node-key revokes this node id for good (no undo): add --yes to confirm");
        return 2;
    }
    if (!urls.n) url_v[urls.n++] = zt__cli_node_url();
    for (size_t i = 0; i < urls.n; i++)
        if (!zt__cli_url_ok(url_v[i])) return 2;
    return revoke_cmd(path, pass_env, kem, node_key, record, url_v, urls.n, out, as_json);
}
