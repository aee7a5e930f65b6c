/* cmd_privacy.c: `zentalk pii` (through the node's HTTP API) and
 * `zentalk audit verify` (local: reads the files). See cmd_privacy.h. */
#include "cmd_privacy.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "http.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_audit.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

extern char **environ;

#define MAX_TEXT (16u * 1024u * 1024u)
#define MAX_RESPONSE (64u * 1024u * 1024u)
#define MAX_AUDIT_FILES 4096

/* The checkpoint interval the node runs with: privacy.audit_checkpoint_entries
 * and _seconds from DIR (else found as the node finds it: $ZENTALK_CONFIG,
 * $ZENTALK_CONFIG_DIR, else ./config when readable, else the defaults) and
 * the environment. 0, or 1 after printing why. */
static int checkpoint_interval(const char *dir, uint64_t *entries, uint64_t *ms)
{
    struct zt_config cfg;
    struct zt_buf errs;
    memset(&cfg, 0, sizeof cfg);
    zt_buf_init(&errs, 1 << 16);
    int rc = zt_config_init_defaults(&cfg);
    if (!dir) dir = zt_config_default_dir();
    if (!dir && access("config", R_OK) == 0) dir = "config";
    if (!rc && dir) rc = zt_config_load_dir(&cfg, dir, &errs);
    if (!rc) rc = zt_config_apply_env(&cfg, environ, &errs);
    if (!rc) rc = zt_config_validate(&cfg, &errs);
    if (rc) {
        fprintf(stderr, "zentalk: configuration: %s%s\n", errs.len ? "\n" : "", errs.len ? zt_buf_str(&errs) : zt_strerror(rc));
    } else {
        *entries = (uint64_t)cfg.privacy.audit_checkpoint_entries;
        *ms = (uint64_t)cfg.privacy.audit_checkpoint_seconds * 1000u;
    }
    zt_buf_deinit(&errs);
    zt_config_deinit(&cfg);
    return rc ? 1 : 0;
}

/* ---- zentalk pii ------------------------------------------------------- */

int zt__cli_pii(int argc, char **argv, const char *default_url)
{
    const char *url = default_url, *feature = NULL;
    bool as_json = false;
    const struct zt__cli_opt opts[] = {
        {"url", 'u', ZT__CLI_STR, &url}, {"json", 'j', ZT__CLI_FLAG, &as_json},
        {"feature", 'f', ZT__CLI_STR, &feature}, {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {
        .name = "pii",
        .help = "Usage: zentalk pii [--url URL] [--json] [--feature NAME] [TEXT]\n"
                "Find personal data in TEXT (or stdin) with the node's detector (POST /v1/privacy/pii):\n"
                "prints one line per hit (type, byte span, confidence), then the pseudonymised text.\n"
                "$ZENTALK_TOKEN, when set, is sent as the bearer token.\n",
    };
    int prc = ZT__CLI_PARSE(argc, argv, 1, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    if (optind + 1 < argc) {
        fprintf(stderr, "zentalk: pii takes one TEXT argument (quote it), or stdin\n");
        return 2;
    }
    struct zt_buf text, body;
    zt_buf_init(&text, MAX_TEXT);
    zt_buf_init(&body, MAX_RESPONSE);
    int rc = 0;
    char *req = NULL;
    if (optind < argc) {
        if (zt_buf_append_str(&text, argv[optind]) != 0) rc = 1;
    } else if (zt_file_read_stream(stdin, &text) != 0) {
        fprintf(stderr, "zentalk: cannot read stdin (at most %u bytes)\n", MAX_TEXT);
        rc = 1;
    }
    if (rc) goto out;
    json_t *j = json_object();
    json_object_set_new(j, "text", json_stringn(zt_buf_str(&text), text.len));
    if (feature) json_object_set_new(j, "feature", json_string(feature));
    if (!json_object_get(j, "text")) {
        fprintf(stderr, "zentalk: the text is not valid UTF-8\n");
        json_decref(j);
        rc = 1;
        goto out;
    }
    long status = 0;
    rc = zt__cli_http_post_json(url, "/v1/privacy/pii", j, 30000L, &status, &body);
    json_decref(j);
    if ((rc = zt__cli_check_answer(rc, status, &body)) != 0) goto out;
    if (as_json) {
        fputs(zt_buf_str(&body), stdout);
        fputc('\n', stdout);
        goto out;
    }
    json_t *r = json_loads(zt_buf_str(&body), 0, NULL);
    json_t *hits = json_object_get(r, "hits");
    size_t i;
    json_t *h;
    json_array_foreach(hits, i, h) {
        printf("%-12s %6lld-%-6lld %.2f\n", json_string_value(json_object_get(h, "type")),
               (long long)json_integer_value(json_object_get(h, "start")),
               (long long)json_integer_value(json_object_get(h, "end")),
               json_number_value(json_object_get(h, "confidence")));
    }
    printf("%zu hit(s), decision %s\n", json_array_size(hits),
           json_is_string(json_object_get(r, "decision")) ? json_string_value(json_object_get(r, "decision")) : "?");
    const char *ps = json_string_value(json_object_get(r, "pseudonymised"));
    printf("%s\n", ps ? ps : "");
    json_decref(r);
out:
    free(req);
    zt_buf_deinit(&text);
    zt_buf_deinit(&body);
    return rc;
}

/* ---- zentalk audit verify ---------------------------------------------- */

/* The public signing key of a key file or a node descriptor: "ed25519_pk",
 * checked against "node_id" when there is one. */
static int pk_from_json_file(const char *path, uint8_t pk[ZT_ED25519_PK_LEN])
{
    json_error_t e;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!j) {
        fprintf(stderr, "zentalk: %s: %s (line %d)\n", path, e.text, e.line);
        return 1;
    }
    int rc = zt_hex_decode_str(pk, ZT_ED25519_PK_LEN, json_string_value(json_object_get(j, "ed25519_pk")), ZT_HEX_ANY_CASE) ? 1 : 0;
    if (rc) fprintf(stderr, "zentalk: %s: no valid \"ed25519_pk\"\n", path);
    const char *id = json_string_value(json_object_get(j, "node_id"));
    if (!rc && id) {
        char want[ZT_IDENTITY_ID_SIZE];
        zt_identity_node_id(pk, want);
        if (strcmp(want, id) != 0) {
            fprintf(stderr, "zentalk: %s: node_id does not match ed25519_pk\n", path);
            rc = 1;
        }
    }
    json_decref(j);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* DIR/logs/audit/audit-*.jsonl, sorted (the names sort by index). */
static int list_audit(const char *data_dir, char **files, size_t *n)
{
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/logs/audit", data_dir);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "zentalk: cannot open %s\n", dir);
        return 1;
    }
    struct dirent *e;
    *n = 0;
    while ((e = readdir(d)) != NULL && *n < MAX_AUDIT_FILES) {
        if (!zt_str_starts_with(e->d_name, "audit-") || !zt_str_ends_with(e->d_name, ".jsonl")) continue;
        size_t l = strlen(dir) + strlen(e->d_name) + 2;
        files[*n] = zt_malloc(l);
        if (!files[*n]) break;
        snprintf(files[*n], l, "%s/%s", dir, e->d_name);
        (*n)++;
    }
    closedir(d);
    qsort(files, *n, sizeof files[0], cmp_str);
    return 0;
}

int zt__cli_audit(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        bool help = argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0);
        fprintf(help ? stdout : stderr, "Usage: zentalk audit verify [--pubkey HEX | --key FILE | --descriptor FILE] "
                                        "[--data-dir DIR] [--config DIR] [FILE...]\n(see zentalk audit verify --help)\n");
        return help ? 0 : 2;
    }
    const char *pubkey = NULL, *keyfile = NULL, *desc = NULL, *data_dir = NULL, *config_dir = NULL;
    const struct zt__cli_opt opts[] = {
        {"pubkey", 'p', ZT__CLI_STR, &pubkey}, {"key", 'k', ZT__CLI_STR, &keyfile},
        {"descriptor", 'd', ZT__CLI_STR, &desc}, {"data-dir", 'D', ZT__CLI_STR, &data_dir},
        {"config", 'c', ZT__CLI_STR, &config_dir}, {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {
        .name = "audit verify",
        .help = "Usage: zentalk audit verify [--pubkey HEX | --key FILE | --descriptor FILE] [--data-dir DIR] "
                "[--config DIR] [FILE...]\n"
                "Check audit log files, oldest first: the hash chain, the sequence numbers and the\n"
                "checkpoint signatures (the node's Ed25519 key: --pubkey, the ed25519_pk of a key file\n"
                "or a node descriptor, or DIR/node.key). Without FILE: every DIR/logs/audit/audit-*.jsonl.\n"
                "Entries after the last signed checkpoint must be within the checkpoint interval\n"
                "(privacy.audit_checkpoint_entries and _seconds of --config DIR, else the node's\n"
                "configuration as the node finds it, else ./config, else the defaults; environment\n"
                "overrides apply): older ones, left by a node killed and not restarted, or rewritten,\n"
                "are a problem.\n"
                "Each problem is printed as FILE:LINE: seq N: what. Exit 0 intact, 1 problems.\n",
    };
    int prc = ZT__CLI_PARSE(argc, argv, 2, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    if ((pubkey != NULL) + (keyfile != NULL) + (desc != NULL) > 1) {
        fprintf(stderr, "zentalk: give one of --pubkey, --key, --descriptor\n");
        return 2;
    }
    uint64_t cp_entries = 0, cp_ms = 0;
    if (checkpoint_interval(config_dir, &cp_entries, &cp_ms) != 0) return 1;
    const char *dd = data_dir ? data_dir : getenv("ZENTALK_NODE_DATA_DIR");
    if (!dd || !dd[0]) dd = "data";
    uint8_t pk[ZT_ED25519_PK_LEN];
    char defkey[1100];
    if (pubkey) {
        if (zt_hex_decode_str(pk, ZT_ED25519_PK_LEN, pubkey, ZT_HEX_ANY_CASE) != 0) {
            fprintf(stderr, "zentalk: --pubkey must be 64 hex digits (the node's ed25519_pk)\n");
            return 2;
        }
    } else {
        if (!keyfile && !desc) {
            snprintf(defkey, sizeof defkey, "%s/node.key", dd);
            keyfile = defkey;
        }
        if (pk_from_json_file(keyfile ? keyfile : desc, pk) != 0) return 1;
    }
    char **files = zt_calloc(MAX_AUDIT_FILES, sizeof *files);
    if (!files) return 1;
    size_t n = 0;
    int rc = 0;
    bool owned = optind >= argc;
    if (owned) {
        if (list_audit(dd, files, &n) != 0) {
            rc = 1;
            goto out;
        }
    } else {
        for (int i = optind; i < argc && n < MAX_AUDIT_FILES; i++) files[n++] = argv[i];
    }
    if (n == 0) {
        fprintf(stderr, "zentalk: no audit files\n");
        rc = 1;
        goto out;
    }
    struct zt_audit_report rep;
    struct zt_buf report;
    zt_buf_init(&report, 16u * 1024u * 1024u);
    int vr = zt_audit_verify((const char *const *)files, n, pk, &rep, &report);
    if (vr == 0 || vr == ZT_ECRYPTO) {
        int sr = zt_audit_check_signed(&rep, cp_entries, cp_ms, zt_time_real_ms(), &report);
        if (sr) {
            rep.problems++;
            vr = sr;
        }
    }
    fputs(zt_buf_str(&report), stdout);
    zt_buf_deinit(&report);
    printf("%llu entries in %zu file(s), seq %llu..%llu%s\n", (unsigned long long)rep.entries, n,
           (unsigned long long)rep.first_seq, (unsigned long long)rep.last_seq,
           rep.starts_at_checkpoint ? " (starts at a signed checkpoint: older files removed by retention)" : "");
    if (rep.checkpoint_seq)
        printf("last valid checkpoint: seq %llu at %s:%llu%s\n", (unsigned long long)rep.checkpoint_seq,
               rep.checkpoint_file, (unsigned long long)rep.checkpoint_line,
               rep.checkpoint_clean ? "" : " (problems before it)");
    else
        printf("no valid checkpoint\n");
    if (rep.checkpoint_seq && rep.last_seq > rep.checkpoint_seq)
        printf("entries %llu..%llu come after the last checkpoint: chained, not signed yet\n",
               (unsigned long long)rep.checkpoint_seq + 1, (unsigned long long)rep.last_seq);
    if (rep.truncated_tail) printf("truncated tail: a write was cut short (crash); the node cuts it on restart\n");
    if (vr == 0) {
        printf("OK: chain intact\n");
    } else if (vr == ZT_ECRYPTO) {
        printf("FAILED: %llu problem(s)\n", (unsigned long long)rep.problems);
        rc = 1;
    } else {
        fprintf(stderr, "zentalk: %s\n", zt_strerror(vr));
        rc = 1;
    }
out:
    if (owned)
        for (size_t i = 0; i < n; i++) zt_free(files[i]);
    zt_free(files);
    return rc;
}
