/* cmd_mesh.c: `zentalk mesh ...` (cmd_mesh.h). */
#include "cmd_mesh.h"

#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "http.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define MAX_ANSWER (8u << 20)
#define PULL_POLL_MS 200u

const char *zt__cli_mesh_node_url(void)
{
    const char *u = getenv("ZENTALK_URL");
    return u && *u ? u : "http://127.0.0.1:8080";
}

static void usage(FILE *out)
{
    fputs("Usage: zentalk mesh COMMAND [--url URL] [--json]\n"
          "Blobs (model files) this node shares with its peers (the node's operator routes).\n"
          "  status            what the store holds, chunks served and fetched, pulls, peers' scores\n"
          "  ls                the blobs held: sha256, size, chunks, pinned, holders seen\n"
          "  add FILE [--name NAME] [--rf N]\n"
          "                    chunk FILE into the store, pin it and advertise it (FILE is read by the node)\n"
          "  pull sha256:HEX [--name NAME] [--install]\n"
          "                    fetch a blob from its holders (with --install: into the node's models)\n"
          "  pin sha256:HEX    keep a blob held here\n"
          "  unpin sha256:HEX  drop it from the store and stop advertising it\n"
          "  audit             (an orchestrator) check the job and ledger segments it published against\n"
          "                    its store: the first gap or mismatch, the rows not yet published; exit 1\n"
          "                    on a gap or mismatch\n"
          "  publish           (an orchestrator) publish the rows changed since the last segment now\n"
          "  -u, --url URL     node address (default $ZENTALK_URL or http://127.0.0.1:8080)\n",
          out);
}

static const char *sha_of(const char *s)
{
    if (s && zt_str_starts_with(s, "sha256:")) s += 7;
    if (!s || strlen(s) != 64) return NULL;
    for (const char *c = s; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f'))) return NULL;
    return s;
}

/* GET path; the parsed object, or NULL (said). printed: shown as JSON. */
static json_t *get_obj(const char *url, const char *path, bool as_json, bool *printed)
{
    struct zt_buf b;
    zt_buf_init(&b, MAX_ANSWER);
    long st = 0;
    json_t *j = NULL;
    *printed = false;
    int rc = zt__cli_http_get(url, path, 15000L, &st, &b);
    if (zt__cli_check_answer(rc, st, &b) == 0) {
        if (as_json) {
            puts(zt_buf_str(&b));
            *printed = true;
        } else {
            j = json_loads(zt_buf_str(&b), 0, NULL);
        }
    }
    zt_buf_deinit(&b);
    return j;
}

static void fmt_size(char *out, size_t n, json_int_t v)
{
    if (v >= (1 << 30)) snprintf(out, n, "%.1f GiB", (double)v / (double)(1 << 30));
    else if (v >= (1 << 20)) snprintf(out, n, "%.1f MiB", (double)v / (double)(1 << 20));
    else snprintf(out, n, "%lld B", (long long)v);
}

static int show_status(const char *url, bool as_json)
{
    bool printed;
    json_t *j = get_obj(url, "/v1/mesh/status", as_json, &printed);
    if (!j) return printed ? 0 : 1;
    char held[32];
    fmt_size(held, sizeof held, json_integer_value(json_object_get(j, "bytes_held")));
    printf("node %s  dht %s  replication %lld  record ttl %lld s\n", json_string_value(json_object_get(j, "node_id")),
           json_is_true(json_object_get(j, "dht")) ? "on" : "off",
           (long long)json_integer_value(json_object_get(j, "replication")),
           (long long)json_integer_value(json_object_get(j, "record_ttl_s")));
    printf("blobs %lld (%s, %lld chunks)  served %lld chunks  fetched %lld  bad from peers %lld  replicas asked %lld\n",
           (long long)json_integer_value(json_object_get(j, "blobs")), held,
           (long long)json_integer_value(json_object_get(j, "chunks_held")),
           (long long)json_integer_value(json_object_get(j, "chunks_served")),
           (long long)json_integer_value(json_object_get(j, "chunks_fetched")),
           (long long)json_integer_value(json_object_get(j, "bad_chunks")),
           (long long)json_integer_value(json_object_get(j, "replicas_asked")));
    char in_store[32], bound[32] = "no bound";
    fmt_size(in_store, sizeof in_store, json_integer_value(json_object_get(j, "store_bytes")));
    json_int_t max = json_integer_value(json_object_get(j, "max_store_bytes"));
    if (max > 0) fmt_size(bound, sizeof bound, max);
    printf("store %s of %s (unpinned blobs are evicted past it)\n", in_store, bound);
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "pulls"), i, x) {
        const char *err = json_string_value(json_object_get(x, "error"));
        printf("pull %.16s  %-7s %lld/%lld chunks  %s%s\n", json_string_value(json_object_get(x, "sha256")),
               json_string_value(json_object_get(x, "state")), (long long)json_integer_value(json_object_get(x, "have")),
               (long long)json_integer_value(json_object_get(x, "total")), json_string_value(json_object_get(x, "name")),
               err ? err : "");
    }
    json_array_foreach(json_object_get(j, "peers"), i, x)
        printf("peer %s  score %.0f\n", json_string_value(json_object_get(x, "node_id")),
               json_real_value(json_object_get(x, "score")));
    json_decref(j);
    return 0;
}

/* `mesh audit`: GET /v1/dbsync/audit; 1 on a gap or a mismatch. */
static int show_audit(const char *url, bool as_json)
{
    struct zt_buf b;
    zt_buf_init(&b, MAX_ANSWER);
    long st = 0;
    int rc = zt__cli_http_get(url, "/v1/dbsync/audit", 60000L, &st, &b);
    json_t *j = zt__cli_check_answer(rc, st, &b) == 0 ? json_loads(zt_buf_str(&b), 0, NULL) : NULL;
    if (j && as_json) puts(zt_buf_str(&b));
    zt_buf_deinit(&b);
    if (!j) return 1;
    bool ok = json_is_true(json_object_get(j, "ok"));
    if (!as_json) {
        const char *gap = json_string_value(json_object_get(j, "gap"));
        const char *first = json_string_value(json_object_get(j, "first_mismatch"));
        printf("%s: published head %lld, local %lld; %lld row(s) differ from the chain, %lld not yet published, "
               "%lld moved to another orchestrator\n",
               ok ? "audit OK" : "audit FAILED", (long long)json_integer_value(json_object_get(j, "head_seq")),
               (long long)json_integer_value(json_object_get(j, "local_seq")),
               (long long)json_integer_value(json_object_get(j, "mismatched_rows")),
               (long long)json_integer_value(json_object_get(j, "unpublished_rows")),
               (long long)json_integer_value(json_object_get(j, "moved_rows")));
        if (gap) printf("gap: %s\n", gap);
        if (first) printf("first mismatch: %s\n", first);
    }
    json_decref(j);
    return ok ? 0 : 1;
}

static int show_list(const char *url, bool as_json)
{
    bool printed;
    json_t *j = get_obj(url, "/v1/mesh/blobs", as_json, &printed);
    if (!j) return printed ? 0 : 1;
    printf("%-71s %-10s %-7s %-6s %-7s %s\n", "SHA256", "SIZE", "CHUNKS", "PINNED", "HOLDERS", "NAME");
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "blobs"), i, x) {
        char size[32];
        fmt_size(size, sizeof size, json_integer_value(json_object_get(x, "size")));
        printf("sha256:%-64s %-10s %-7lld %-6s %lld/%-5lld %s\n", json_string_value(json_object_get(x, "sha256")), size,
               (long long)json_integer_value(json_object_get(x, "chunks")),
               json_is_true(json_object_get(x, "pinned")) ? "yes" : "no",
               (long long)json_integer_value(json_object_get(x, "holders")),
               (long long)json_integer_value(json_object_get(x, "rf")), json_string_value(json_object_get(x, "name")));
    }
    if (!json_array_size(json_object_get(j, "blobs"))) puts("(no blobs held)");
    json_decref(j);
    return 0;
}

static int post(const char *url, const char *path, json_t *req, bool as_json, const char *say)
{
    json_t *resp = NULL;
    long st = 0;
    int rc = zt__cli_http_post_json_parsed(url, path, req, 600000L, &st, &resp);
    json_decref(req);
    if (rc) return 1;
    if (as_json) zt__cli_print_json(resp);
    else if (strcmp(say, "published") == 0)
        printf("published %lld segment(s)\n", (long long)json_integer_value(json_object_get(resp, "segments")));
    else printf("%s sha256:%s\n", say, json_string_value(json_object_get(resp, "sha256")));
    json_decref(resp);
    return 0;
}

int zt__cli_mesh_pull(const char *url, const char *sha, const char *name, bool install, char *why, size_t why_len)
{
    json_t *req = json_pack("{s:s,s:b}", "sha256", sha, "install", install);
    if (req && name) json_object_set_new(req, "name", json_string(name));
    struct zt_buf b;
    zt_buf_init(&b, MAX_ANSWER);
    long st = 0;
    int rc = req ? zt__cli_http_post_json(url, "/v1/mesh/pull", req, 15000L, &st, &b) : 1;
    json_decref(req);
    int out = 3;
    snprintf(why, why_len, "the node at %s cannot be reached", url);
    if (rc) goto done;
    if (st == 404 || st == 401 || st == 403) {
        snprintf(why, why_len, "the node at %s does not run the mesh for this caller (HTTP %ld)", url, st);
        goto done;
    }
    if (st != 202) {
        zt__cli_print_api_error(st, zt_buf_str(&b));
        out = 1;
        goto done;
    }
    char path[128];
    snprintf(path, sizeof path, "/v1/mesh/pull/%s", sha);
    bool tty = isatty(STDERR_FILENO) == 1;
    for (;;) {
        zt_buf_reset(&b);
        if (zt__cli_http_get(url, path, 15000L, &st, &b) != 0 || st != 200) {
            snprintf(why, why_len, "lost the node while it pulled");
            out = 1;
            break;
        }
        json_t *j = json_loads(zt_buf_str(&b), 0, NULL);
        const char *state = json_string_value(json_object_get(j, "state"));
        long long have = (long long)json_integer_value(json_object_get(j, "have")),
                  total = (long long)json_integer_value(json_object_get(j, "total"));
        if (tty) fprintf(stderr, "\r\033[Kzentalk: mesh pull %lld/%lld chunks", have, total);
        if (zt_str_eq(state, "done")) {
            if (tty) fputs("\r\033[K", stderr);
            printf("pulled sha256:%s from peers (%lld chunks, verified) as %s\n", sha, total,
                   json_string_value(json_object_get(j, "name")));
            json_decref(j);
            out = 0;
            break;
        }
        if (!zt_str_eq(state, "running")) {
            if (tty) fputs("\r\033[K", stderr);
            const char *e = json_string_value(json_object_get(j, "error"));
            snprintf(why, why_len, "%s", e ? e : "the pull failed");
            out = json_integer_value(json_object_get(j, "holders")) == 0 ? 3 : 1;
            json_decref(j);
            break;
        }
        json_decref(j);
        zt_time_sleep_ms(PULL_POLL_MS);
    }
done:
    zt_buf_deinit(&b);
    return out;
}

int zt__cli_mesh(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'}, {"json", no_argument, NULL, 'j'},
        {"name", required_argument, NULL, 'n'}, {"rf", required_argument, NULL, 'r'},
        {"install", no_argument, NULL, 'i'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *url = zt__cli_mesh_node_url(), *name = NULL;
    bool as_json = false, install = false;
    long rf = 0;
    optind = 0;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":u:jn:r:ih", longopts, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 'j': as_json = true; break;
        case 'n': name = optarg; break;
        case 'i': install = true; break;
        case 'r': {
            char *end = NULL;
            rf = strtol(optarg, &end, 10);
            if (!end || *end || rf < 1 || rf > 16) {
                zt__cli_say("--rf must be 1 to 16");
                return 2;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        case ':': zt__cli_say("option %s needs a value", argv[optind - 1]); return 2;
        default: zt__cli_say("unknown option %s (see zentalk mesh --help)", argv[optind - 1]); return 2;
        }
    }
    int npos = argc - optind;
    char **pos = argv + optind;
    if (npos < 1) {
        usage(stderr);
        return 2;
    }
    const char *verb = pos[0];
    if (strcmp(verb, "status") == 0 && npos == 1) return show_status(url, as_json);
    if ((strcmp(verb, "ls") == 0 || strcmp(verb, "list") == 0) && npos == 1) return show_list(url, as_json);
    if (strcmp(verb, "audit") == 0 && npos == 1) return show_audit(url, as_json);
    if (strcmp(verb, "publish") == 0 && npos == 1) return post(url, "/v1/dbsync/publish", json_object(), as_json, "published");
    if (strcmp(verb, "add") == 0 && npos == 2) {
        char abs[PATH_MAX];
        if (!realpath(pos[1], abs)) {
            zt__cli_say("cannot find %s", pos[1]);
            return 1;
        }
        json_t *req = json_pack("{s:s,s:i}", "path", abs, "rf", (int)rf);
        if (req && name) json_object_set_new(req, "name", json_string(name));
        return post(url, "/v1/mesh/add", req, as_json, "added");
    }
    const char *sha = npos == 2 ? sha_of(pos[1]) : NULL;
    if (npos == 2 && !sha) {
        zt__cli_say("expected sha256:<64 lower-case hex digits>, not '%s'", pos[1]);
        return 2;
    }
    if (sha && strcmp(verb, "pull") == 0) {
        char why[256];
        int rc = zt__cli_mesh_pull(url, sha, name, install, why, sizeof why);
        if (rc) zt__cli_say("mesh pull failed: %s", why);
        return rc ? 1 : 0;
    }
    if (sha && (strcmp(verb, "pin") == 0 || strcmp(verb, "unpin") == 0)) {
        char path[32];
        snprintf(path, sizeof path, "/v1/mesh/%s", verb);
        return post(url, path, json_pack("{s:s}", "sha256", sha), as_json, verb[0] == 'p' ? "pinned" : "unpinned");
    }
    zt__cli_say("unknown or incomplete mesh command (status, ls, audit, publish, add FILE, pull|pin|unpin sha256:HEX)");
    return 2;
}
