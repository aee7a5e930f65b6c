/* cmd_peers.c: `zentalk peers add|list`, the peers file of zt_peers.h.
 *
 * add fetches a node's signed descriptor (GET URL, or URL/v1/node/descriptor
 * when URL has no path) or reads it from a file (one descriptor or an array
 * of them), verifies each (zt_identity_descriptor_verify, and the checks
 * the node makes when it loads the file), and writes the peers file again
 * with them added (a descriptor for the same node id is replaced): a
 * temporary file in the same directory, fsync, rename. The node reloads the
 * file on SIGHUP. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "http.h"
#include "cmd_peers.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

static void usage(FILE *out)
{
    fprintf(out, "Usage: zentalk peers add URL|FILE [--data-dir DIR | --file PEERS]\n"
                 "       zentalk peers list [--data-dir DIR | --file PEERS] [--json]\n"
                 "       zentalk peers self --endpoint URL [--data-dir DIR | --key FILE]\n"
                 "                          [--passphrase-env VAR] [--role R]... [--days N]\n"
                 "\n"
                 "The peers file (default DIR/peers.json, DIR: --data-dir, else\n"
                 "$ZENTALK_NODE_DATA_DIR, else \"data\"; see encryption.peers_file) holds the\n"
                 "signed descriptors of the nodes this node trusts. add fetches a descriptor\n"
                 "(URL, or URL/v1/node/descriptor when URL is just the node's address) or reads\n"
                 "FILE, verifies it and adds it (replacing one for the same node). Send SIGHUP\n"
                 "to the node to reload the file. self prints this node's own descriptor,\n"
                 "signed with its key (DIR/node.key), for another node's peers add: its public\n"
                 "endpoint URL, roles (default worker) and validity (default 30 days).\n");
}

/* The whole of a file (NUL-terminated) into b; 0, or 1 with a message. */
static int read_file(const char *path, struct zt_buf *b, bool missing_ok)
{
    int rc = zt_file_read_buf(path, b);
    if (rc == ZT_ENOTFOUND && missing_ok) return 0;
    if (rc == ZT_ETOOBIG)
        fprintf(stderr, "zentalk: %s: larger than %zu bytes\n", path, ZT_PEERS_FILE_MAX);
    else if (rc == ZT_ENOTFOUND || rc == ZT_EIO)
        fprintf(stderr, "zentalk: %s: %s\n", path, strerror(errno));
    else if (rc)
        fprintf(stderr, "zentalk: %s: %s\n", path, zt_strerror(rc));
    return rc ? 1 : 0;
}

static int write_atomic(const char *path, const char *text)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "zentalk: cannot create a file next to %s: %s\n", path, strerror(errno));
        return 1;
    }
    bool ok = zt_fd_write_full(fd, text, strlen(text)) == 0 && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "zentalk: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return 1;
    }
    return 0;
}

static const char *peers_path(const char *file, const char *data_dir, char *buf, size_t n)
{
    if (file) return file;
    if (!data_dir) data_dir = getenv("ZENTALK_NODE_DATA_DIR");
    if (!data_dir || !*data_dir) data_dir = "data";
    snprintf(buf, n, "%s/peers.json", data_dir);
    return buf;
}

/* The descriptors of text: one object or an array of them (new refs). */
static json_t *descriptors_of(const char *text, size_t len)
{
    json_error_t je;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        fprintf(stderr, "zentalk: not JSON (line %d, column %d: %s)\n", je.line, je.column, je.text);
        return NULL;
    }
    if (json_is_object(j)) {
        json_t *a = json_array();
        json_array_append_new(a, j);
        return a;
    }
    if (!json_is_array(j)) {
        fprintf(stderr, "zentalk: expected a node descriptor (a JSON object) or an array of them\n");
        json_decref(j);
        return NULL;
    }
    return j;
}

static const char *verify_reason(int rc)
{
    switch (rc) {
    case ZT_ETIMEDOUT: return "it has expired";
    case ZT_ECRYPTO: return "bad signature, or a node id not derived from its key";
    case ZT_EUNSUPPORTED: return "unsupported descriptor version";
    case ZT_ETOOBIG: return "too large";
    default: return "not a node descriptor";
    }
}

/* zt_identity_descriptor_verify of one descriptor of a list. */
static int verify_one(const json_t *d, int64_t now)
{
    char *s = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
    int vrc = s ? zt_identity_descriptor_verify(s, strlen(s), now, NULL) : ZT_ENOMEM;
    zt_free(s);
    return vrc;
}

static int cmd_add(const char *source, const char *path)
{
    int rc = 1;
    struct zt_buf src, cur;
    zt_buf_init(&src, ZT_PEERS_FILE_MAX);
    zt_buf_init(&cur, ZT_PEERS_FILE_MAX);
    json_t *add = NULL, *list = NULL;
    char *out = NULL;
    struct zt_peers *check = NULL;
    if (zt_str_starts_with(source, "http://") || zt_str_starts_with(source, "https://")) {
        const char *rest = strstr(source, "://") + 3;
        const char *slash = strchr(rest, '/');
        bool bare = !slash || slash[1] == '\0';
        long status = 0;
        int hrc = zt__cli_http_get(source, bare ? "/v1/node/descriptor" : "", 10000, &status, &src);
        if (zt__cli_check_answer(hrc, status, &src)) goto out;
    } else if (read_file(source, &src, false) != 0) {
        goto out;
    }
    add = descriptors_of(src.data ? src.data : "", src.len);
    if (!add) goto out;
    int64_t now = zt_time_real_ms() / 1000;
    size_t i;
    json_t *d;
    json_array_foreach(add, i, d) {
        int vrc = verify_one(d, now);
        if (vrc) {
            fprintf(stderr, "zentalk: descriptor %zu of %s refused: %s\n", i + 1, source, verify_reason(vrc));
            goto out;
        }
    }
    if (read_file(path, &cur, true) != 0) goto out;
    if (cur.len) {
        list = descriptors_of(cur.data, cur.len);
        if (!list) {
            fprintf(stderr, "zentalk: %s is not a peers file; fix or remove it\n", path);
            goto out;
        }
    } else {
        list = json_array();
    }
    json_array_foreach(add, i, d) {
        const char *id = json_string_value(json_object_get(d, "node_id"));
        for (size_t k = json_array_size(list); k-- > 0;) {
            const char *other = json_string_value(json_object_get(json_array_get(list, k), "node_id"));
            if (zt_str_eq(other, id)) json_array_remove(list, k);
        }
        json_array_append(list, d);
    }
    out = json_dumps(list, JSON_INDENT(1) | JSON_SORT_KEYS);
    if (!out) goto out;
    /* load it as the node will: every added one must be kept */
    size_t kept = 0, dropped = 0;
    if (zt_peers_new(&check) != 0) goto out;
    zt_log_set_level(ZT_LOG_OFF);
    if (zt_peers_load_text(check, out, strlen(out), now, &kept, &dropped, NULL) != 0) goto out;
    json_array_foreach(add, i, d) {
        struct zt_peer p;
        const char *id = json_string_value(json_object_get(d, "node_id"));
        if (zt_peers_lookup(check, id, now, &p) != 0) {
            const char *why = zt_peers_endpoint_problem(json_string_value(json_object_get(d, "endpoint")));
            fprintf(stderr, "zentalk: %s refused: %s\n", id,
                    why ? why : "its endpoint must be http(s)://host[:port]");
            goto out;
        }
    }
    size_t ol = strlen(out);
    char *nl = zt_realloc(out, ol + 2);
    if (!nl) goto out;
    out = nl;
    out[ol] = '\n';
    out[ol + 1] = '\0';
    if (write_atomic(path, out) != 0) goto out;
    json_array_foreach(add, i, d) {
        printf("added %s (%s) to %s\n", json_string_value(json_object_get(d, "node_id")),
               json_string_value(json_object_get(d, "endpoint")), path);
    }
    if (dropped) printf("note: %zu other descriptor(s) in %s are expired or invalid; the node drops them\n", dropped, path);
    printf("send SIGHUP to the node to reload its peers\n");
    rc = 0;
out:
    zt_peers_free(check);
    zt_free(out);
    json_decref(add);
    json_decref(list);
    zt_buf_deinit(&src);
    zt_buf_deinit(&cur);
    return rc;
}

static int cmd_list(const char *path, bool as_json)
{
    struct zt_buf cur;
    zt_buf_init(&cur, ZT_PEERS_FILE_MAX);
    int rc = read_file(path, &cur, true);
    json_t *list = NULL;
    if (!rc && cur.len) {
        list = descriptors_of(cur.data, cur.len);
        if (!list) rc = 1;
    }
    if (!rc && !list) list = json_array();
    if (!rc) {
        int64_t now = zt_time_real_ms() / 1000;
        json_t *outj = json_array();
        size_t i;
        json_t *d;
        json_array_foreach(list, i, d) {
            int vrc = verify_one(d, now);
            const char *id = json_string_value(json_object_get(d, "node_id"));
            const char *ep = json_string_value(json_object_get(d, "endpoint"));
            json_t *exp = json_object_get(d, "expires");
            const char *state = vrc == 0 ? "ok" : vrc == ZT_ETIMEDOUT ? "expired" : "invalid";
            if (as_json)
                json_array_append_new(outj, json_pack("{s:s?,s:s?,s:O?,s:s}", "node_id", id, "endpoint", ep,
                                                      "expires", exp, "state", state));
            else
                printf("%-35s  %-8s  %s\n", id ? id : "-", state, ep ? ep : "-");
        }
        if (as_json) zt__cli_print_json(outj);
        json_decref(outj);
    }
    json_decref(list);
    zt_buf_deinit(&cur);
    return rc;
}

/* The signed descriptor of the identity in key_path. */
static int cmd_self(const char *key_path, const char *pass_env, const char *endpoint, const char *const *roles,
                    size_t n_roles, long days)
{
    const char *pass = NULL;
    if (pass_env) {
        pass = getenv(pass_env);
        if (!pass || !*pass) {
            fprintf(stderr, "zentalk: --passphrase-env %s: the variable is unset or empty\n", pass_env);
            return 1;
        }
    }
    struct zt_identity *id = NULL;
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    int rc = 1;
    int lrc = zt_identity_load(key_path, pass, pass ? strlen(pass) : 0, &id, &err);
    if (lrc == ZT_EINVAL && !pass) {
        fprintf(stderr, "zentalk: %s is protected by a passphrase: use --passphrase-env VAR\n", key_path);
    } else if (lrc) {
        fprintf(stderr, "zentalk: %s: %s\n", key_path, err.len ? zt_buf_str(&err) : zt_strerror(lrc));
    } else {
        char *d = NULL;
        int64_t expires = zt_time_real_ms() / 1000 + (int64_t)days * 86400;
        int drc = zt_identity_descriptor(id, roles, n_roles, NULL, 0, endpoint, expires, &d);
        if (drc) {
            fprintf(stderr, "zentalk: cannot make the descriptor: %s (roles and endpoint: 1..%d and 1..%d bytes)\n",
                    zt_strerror(drc), ZT_DESCRIPTOR_MAX_STR, ZT_DESCRIPTOR_MAX_ENDPOINT);
        } else {
            printf("%s\n", d);
            rc = 0;
        }
        zt_free(d);
    }
    zt_identity_free(id);
    zt_buf_deinit(&err);
    return rc;
}

int zt__cli_peers(int argc, char **argv)
{
    const char *data_dir = NULL, *file = NULL, *endpoint = NULL, *key = NULL, *pass_env = NULL, *days_s = NULL;
    const char *roles[ZT_DESCRIPTOR_MAX_ROLES];
    struct zt__cli_list role_list = {.v = roles, .max = ZT_DESCRIPTOR_MAX_ROLES, .noun = "roles"};
    bool as_json = false;
    const struct zt__cli_opt opts[] = {
        {"data-dir", 'd', ZT__CLI_STR, &data_dir}, {"file", 'f', ZT__CLI_STR, &file},
        {"json", 0, ZT__CLI_FLAG, &as_json},       {"help", 'h', ZT__CLI_HELP, NULL},
        {"endpoint", 0, ZT__CLI_STR, &endpoint},   {"key", 0, ZT__CLI_STR, &key},
        {"passphrase-env", 0, ZT__CLI_STR, &pass_env}, {"role", 0, ZT__CLI_LIST, &role_list},
        {"days", 0, ZT__CLI_STR, &days_s},
    };
    static const struct zt__cli_cmd cmd = {.name = "peers", .usage = usage};
    int prc = ZT__CLI_PARSE(argc, argv, 1, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    int64_t days = 30;
    if (days_s && (zt_str_to_i64(days_s, &days) != 0 || days < 1 || days > 3650)) {
        zt__cli_say("--days must be 1..3650");
        return 2;
    }
    size_t n_roles = role_list.n;
    char buf[4096];
    const char *path = peers_path(file, data_dir, buf, sizeof buf);
    if (optind < argc && strcmp(argv[optind], "add") == 0 && optind + 2 == argc)
        return cmd_add(argv[optind + 1], path);
    if (optind < argc && strcmp(argv[optind], "list") == 0 && optind + 1 == argc) return cmd_list(path, as_json);
    if (optind < argc && strcmp(argv[optind], "self") == 0 && optind + 1 == argc) {
        if (!endpoint || !(zt_str_starts_with(endpoint, "http://") || zt_str_starts_with(endpoint, "https://"))) {
            fprintf(stderr, "zentalk: peers self needs --endpoint http(s)://HOST:PORT, the address peers reach this node at\n");
            return 2;
        }
        if (key && data_dir) {
            fprintf(stderr, "zentalk: give --key or --data-dir, not both\n");
            return 2;
        }
        char kp[4096];
        if (key) {
            zt_strlcpy(kp, key, sizeof kp);
        } else {
            if (!data_dir) data_dir = getenv("ZENTALK_NODE_DATA_DIR");
            if (!data_dir || !*data_dir) data_dir = "data";
            snprintf(kp, sizeof kp, "%s/node.key", data_dir);
        }
        if (n_roles == 0) roles[n_roles++] = "worker";
        return cmd_self(kp, pass_env, endpoint, roles, n_roles, (long)days);
    }
    usage(stderr);
    return 2;
}
