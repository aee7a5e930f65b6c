/* cmd_gdpr.c: `zentalk privacy export|erase` (gdpr.h). */
#include "cmd_gdpr.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "cmd.h"
#include "http.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_file.h"

#define MAX_RESPONSE (64u * 1024u * 1024u)
#define TIMEOUT_MS 120000L

static void usage(FILE *f)
{
    fprintf(f, "Usage: zentalk privacy export [--url URL] [--identity ID] [--out FILE]\n"
               "       zentalk privacy erase  [--url URL] [--identity ID] --yes [--json]\n"
               "export: everything the node holds about the identity, as one JSON archive (stdout or FILE,\n"
               "created 0600). erase: delete its search messages and key, revoke its sessions, make its\n"
               "audit entries unlinkable; prints what was erased. Without --identity: the caller's own\n"
               "($ZENTALK_TOKEN is sent as the bearer token); another identity needs an admin token.\n");
}

static int write_out(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    if (zt_fd_write_full(fd, data, len) != 0) {
        perror(path);
        close(fd);
        return 1;
    }
    if (write(fd, "\n", 1) != 1 || close(fd) != 0) {
        perror(path);
        return 1;
    }
    return 0;
}

int zt__cli_privacy(int argc, char **argv, const char *default_url)
{
    if (argc < 2 || (strcmp(argv[1], "export") != 0 && strcmp(argv[1], "erase") != 0)) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            usage(stdout);
            return 0;
        }
        usage(stderr);
        return 2;
    }
    bool erase = strcmp(argv[1], "erase") == 0;
    const char *url = default_url, *identity = NULL, *out = NULL;
    bool yes = false, as_json = false;
    const struct zt__cli_opt opts[] = {
        {"url", 'u', ZT__CLI_STR, &url}, {"identity", 'i', ZT__CLI_STR, &identity}, {"out", 'o', ZT__CLI_STR, &out},
        {"yes", 'y', ZT__CLI_FLAG, &yes}, {"json", 'j', ZT__CLI_FLAG, &as_json},     {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {.name = "privacy", .usage = usage};
    int prc = ZT__CLI_PARSE(argc, argv, 2, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    if (optind < argc) {
        fprintf(stderr, "zentalk: privacy %s takes no argument (name the identity with --identity)\n", argv[1]);
        return 2;
    }
    if (erase && !yes) {
        fprintf(stderr, "zentalk: privacy erase deletes data for good; add --yes to confirm\n");
        return 2;
    }
    if (erase && out) {
        fprintf(stderr, "zentalk: --out is for export\n");
        return 2;
    }
    json_t *req = json_object();
    if (!req) return 1;
    if (identity) json_object_set_new(req, "identity", json_string(identity));
    if (identity && !json_object_get(req, "identity")) {
        fprintf(stderr, "zentalk: --identity is not valid UTF-8\n");
        json_decref(req);
        return 2;
    }
    struct zt_buf body;
    zt_buf_init(&body, MAX_RESPONSE);
    long status = 0;
    int rc = zt__cli_http_post_json(url, erase ? "/v1/privacy/erase" : "/v1/privacy/export", req, TIMEOUT_MS,
                                    &status, &body);
    json_decref(req);
    if (rc) goto out;
    if (status < 200 || status >= 300) {
        zt__cli_print_api_error(status, zt_buf_str(&body));
        rc = 1;
        goto out;
    }
    if (!erase) {
        if (out) rc = write_out(out, zt_buf_str(&body), body.len);
        else printf("%s\n", zt_buf_str(&body));
        goto out;
    }
    json_t *j = json_loadb(zt_buf_str(&body), body.len, 0, NULL);
    json_t *e = json_object_get(j, "erased");
    if (as_json || !json_is_object(e)) {
        printf("%s\n", zt_buf_str(&body));
    } else {
        printf("erased %s: %lld search messages%s, %lld sessions revoked, audit pseudonym %s (%lld entries "
               "unlinked)\n",
               json_string_value(json_object_get(j, "identity")),
               (long long)json_integer_value(json_object_get(e, "search_documents")),
               json_is_true(json_object_get(e, "search_key_destroyed")) ? " and the search key" : "",
               (long long)json_integer_value(json_object_get(e, "sessions_revoked")),
               json_is_true(json_object_get(e, "audit_salt_destroyed")) ? "destroyed" : "had no salt",
               (long long)json_integer_value(json_object_get(e, "audit_entries_unlinked")));
        long long clear = json_integer_value(json_object_get(json_object_get(j, "kept"), "audit_entries_with_clear_identity"));
        if (clear) printf("kept: %lld older audit entries that name the identity in clear (removed by retention)\n", clear);
    }
    json_decref(j);
out:
    zt_buf_deinit(&body);
    return rc;
}
