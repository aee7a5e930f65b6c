/* cmd_search.c: `zentalk search ...` and `zentalk categorize` (search.h).
 *
 *   zentalk search index --user U --id ID [TEXT...]   one message (TEXT or stdin)
 *   zentalk search index --user U                     stdin lines "ID<TAB>TEXT", 256 per request
 *   zentalk search query --user U [--limit N] QUERY...
 *   zentalk search delete --user U (--id ID | --all)
 *   zentalk categorize [TEXT...]                      one text, or stdin lines = one conversation
 * Common options: -u/--url URL, --token TOKEN (default $ZENTALK_TOKEN), --json.
 * Exit status: 0, 1 (node error or unreachable), 2 (usage). */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "http.h"
#include "input.h"
#include "cmd_search.h"
#include "progress.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_str.h"

#define MAX_INPUT (16u * 1024u * 1024u)
#define BATCH 256

struct opts {
    const char *url, *token, *user, *id;
    long limit;
    bool json, all;
};

static void search_usage(FILE *f)
{
    fprintf(f, "Usage:\n"
               "  zentalk search index --user U --id ID [TEXT...]   index one message (TEXT or stdin)\n"
               "  zentalk search index --user U                     index stdin lines \"ID<TAB>TEXT\"\n"
               "  zentalk search query --user U [--limit N] QUERY...\n"
               "  zentalk search delete --user U (--id ID | --all)\n"
               "  zentalk categorize [TEXT...]   (no TEXT: stdin lines are one conversation)\n"
               "Options: -u, --url URL; --token TOKEN (default $ZENTALK_TOKEN); --json\n"
               "\"user\" must be the token's identity unless the token is an admin's (or the\n"
               "caller is the loopback operator of a node without encryption.jwt_secret).\n");
}

/* The common options: 0, or -1 after --help, or 2 (the reason printed). */
static int parse(int argc, char **argv, const char *name, struct opts *o)
{
    memset(o, 0, sizeof *o);
    o->url = zt__cli_node_url();
    o->token = getenv("ZENTALK_TOKEN");
    const char *token = NULL, *limit = NULL;
    const struct zt__cli_opt opts[] = {
        {"url", 'u', ZT__CLI_STR, &o->url}, {"token", 0, ZT__CLI_STR, &token}, {"user", 0, ZT__CLI_STR, &o->user},
        {"id", 0, ZT__CLI_STR, &o->id},      {"limit", 0, ZT__CLI_STR, &limit}, {"json", 0, ZT__CLI_FLAG, &o->json},
        {"all", 0, ZT__CLI_FLAG, &o->all},   {"help", 'h', ZT__CLI_HELP, NULL},
    };
    const struct zt__cli_cmd cmd = {.name = name, .usage = search_usage, .stop_at_operand = true};
    int prc = ZT__CLI_PARSE(argc, argv, 1, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc == 0 ? -1 : prc;
    if (token) {
        o->token = token;
        setenv("ZENTALK_TOKEN", token, 1); /* http.c sends it */
    }
    o->limit = 10;
    if (limit) {
        char *end;
        o->limit = strtol(limit, &end, 10);
        if (*end || o->limit < 1 || o->limit > 100) {
            zt__cli_say("--limit must be 1..100");
            return 2;
        }
    }
    return 0;
}

/* the remaining arguments joined by spaces, or NULL when there are none */
static char *join_args(int argc, char **argv)
{
    if (optind >= argc) return NULL;
    struct zt_buf b;
    zt_buf_init(&b, MAX_INPUT);
    for (int i = optind; i < argc; i++)
        if ((i > optind && zt_buf_append(&b, " ", 1)) || zt_buf_append_str(&b, argv[i])) {
            zt_buf_deinit(&b);
            return NULL;
        }
    char *s = zt_strdup(zt_buf_str(&b));
    zt_buf_deinit(&b);
    return s;
}

static char *read_stdin(void)
{
    struct zt_buf b;
    zt_buf_init(&b, MAX_INPUT);
    char *s = zt__cli_read_stdin(&b) == 0 ? zt_strdup(zt_buf_str(&b)) : NULL;
    zt_buf_deinit(&b);
    return s;
}

/* POST and parse the answer; prints the error and returns 1 on failure. */
static int call(const struct opts *o, const char *path, json_t *req, json_t **out)
{
    long status = 0;
    return zt__cli_http_post_json_parsed(o->url, path, req, 60000L, &status, out);
}

/* POST req (taken; NULL is out of memory) and print the answer: the JSON
 * with --json, else through print. Returns the exit status. */
static int post_print(const struct opts *o, const char *path, json_t *req, void (*print)(const json_t *resp))
{
    json_t *resp = NULL;
    int rc = !req || call(o, path, req, &resp) ? 1 : 0;
    if (rc == 0) {
        if (o->json)
            zt__cli_print_json(resp);
        else
            print(resp);
    }
    json_decref(req);
    json_decref(resp);
    return rc;
}

static int do_index(const struct opts *o, int argc, char **argv)
{
    int rc = 1;
    char *text = NULL;
    json_t *req = NULL, *resp = NULL, *msgs = NULL;
    long total = 0;
    if (o->id) {
        text = join_args(argc, argv);
        if (!text) text = read_stdin();
        if (!text) return 1;
        size_t l = strlen(text);
        while (l && (text[l - 1] == '\n' || text[l - 1] == '\r')) text[--l] = '\0';
        req = json_pack("{s:s,s:s,s:s}", "user", o->user, "id", o->id, "text", text);
        if (!req || call(o, "/v1/search/index", req, &resp)) goto out;
        total = (long)json_integer_value(json_object_get(json_object_get(resp, "result"), "indexed"));
    } else {
        if (optind < argc) {
            fprintf(stderr, "zentalk: without --id, messages come from stdin as \"ID<TAB>TEXT\" lines\n");
            rc = 2;
            goto out;
        }
        text = read_stdin();
        if (!text) goto out;
        /* a bar over the lines on a terminal: a large export takes a while */
        uint64_t lines_total = 0;
        for (const char *c = text; *c; c++) lines_total += *c == '\n';
        if (text[0] && text[strlen(text) - 1] != '\n') lines_total++;
        struct zt__cli_bar bar;
        zt__cli_bar_init(&bar, "indexing", "lines");
        char *line = text;
        size_t lineno = 0;
        while (line && *line) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = '\0';
            lineno++;
            size_t ll = strlen(line);
            if (ll && line[ll - 1] == '\r') line[--ll] = '\0';
            if (ll) {
                char *tab = strchr(line, '\t');
                if (!tab) {
                    fprintf(stderr, "zentalk: stdin line %zu: expected ID<TAB>TEXT\n", lineno);
                    goto out;
                }
                *tab = '\0';
                if (!msgs && !(msgs = json_array())) goto out;
                if (json_array_append_new(msgs, json_pack("{s:s,s:s}", "id", line, "text", tab + 1))) goto out;
            }
            line = nl ? nl + 1 : NULL;
            bool flush = msgs && (json_array_size(msgs) == BATCH || !line || !*line);
            if (flush) {
                req = json_pack("{s:s,s:o}", "user", o->user, "messages", msgs);
                msgs = NULL;
                if (!req || call(o, "/v1/search/index", req, &resp)) goto out;
                total += (long)json_integer_value(json_object_get(json_object_get(resp, "result"), "indexed"));
                json_decref(req);
                json_decref(resp);
                req = resp = NULL;
                zt__cli_bar_update(&bar, lineno, lines_total);
            }
        }
        zt__cli_bar_end(&bar);
    }
    if (o->json)
        printf("{\"indexed\":%ld}\n", total);
    else
        printf("indexed %ld message%s\n", total, total == 1 ? "" : "s");
    rc = 0;
out:
    zt_free(text);
    json_decref(req);
    json_decref(resp);
    json_decref(msgs);
    return rc;
}

static void print_hits(const json_t *resp)
{
    size_t i;
    json_t *h;
    json_array_foreach(json_object_get(resp, "results"), i, h)
    {
        printf("%2zu. [%s] %.4f  %s\n", i + 1, json_string_value(json_object_get(h, "id")),
               json_number_value(json_object_get(h, "score")), json_string_value(json_object_get(h, "text")));
    }
    if (i == 0) printf("no results\n");
}

static int do_query(const struct opts *o, int argc, char **argv)
{
    char *q = join_args(argc, argv);
    if (!q) {
        fprintf(stderr, "zentalk: search query needs a QUERY\n");
        return 2;
    }
    json_t *req = json_pack("{s:s,s:s,s:I}", "user", o->user, "query", q, "limit", (json_int_t)o->limit);
    zt_free(q);
    return post_print(o, "/v1/search/query", req, print_hits);
}

static void print_deleted(const json_t *resp)
{
    json_t *res = json_object_get(resp, "result");
    printf("deleted %lld message(s)%s\n", (long long)json_integer_value(json_object_get(res, "deleted")),
           json_is_true(json_object_get(res, "user_key_destroyed")) ? "; the user's key is destroyed" : "");
}

static int do_delete(const struct opts *o)
{
    if (!o->id == !o->all) {
        fprintf(stderr, "zentalk: search delete needs --id ID or --all\n");
        return 2;
    }
    json_t *req = o->id ? json_pack("{s:s,s:s}", "user", o->user, "id", o->id) : json_pack("{s:s}", "user", o->user);
    return post_print(o, "/v1/search/delete", req, print_deleted);
}

int zt__cli_search(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        search_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *sub = argv[1];
    struct opts o;
    int rc = parse(argc - 1, argv + 1, "search", &o);
    if (rc) return rc < 0 ? 0 : rc;
    argc--, argv++;
    if (!o.user || !o.user[0]) {
        fprintf(stderr, "zentalk: search %s needs --user USER\n", sub);
        return 2;
    }
    if (strcmp(sub, "index") == 0) return do_index(&o, argc, argv);
    if (strcmp(sub, "query") == 0) return do_query(&o, argc, argv);
    if (strcmp(sub, "delete") == 0) return do_delete(&o);
    fprintf(stderr, "zentalk: unknown search command '%s' (index, query, delete)\n", sub);
    return 2;
}

static void print_categories(const json_t *resp)
{
    json_t *res = json_object_get(resp, "result");
    printf("%s\n", json_string_value(json_object_get(res, "category")));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(res, "categories"), i, c)
        printf("  %-14s %.3f\n", json_string_value(json_object_get(c, "name")),
               json_number_value(json_object_get(c, "score")));
}

int zt__cli_categorize(int argc, char **argv)
{
    struct opts o;
    int rc = parse(argc, argv, "categorize", &o);
    if (rc) return rc < 0 ? 0 : rc;
    char *text = join_args(argc, argv);
    json_t *req = NULL;
    rc = 1;
    if (text) {
        req = json_pack("{s:s}", "text", text);
    } else {
        text = read_stdin();
        if (!text) return 1;
        json_t *msgs = json_array();
        for (char *line = text; msgs && line && *line;) {
            char *nl = strchr(line, '\n');
            if (nl) *nl = '\0';
            if (*line && json_array_append_new(msgs, json_pack("{s:s}", "text", line))) break;
            line = nl ? nl + 1 : NULL;
        }
        if (!msgs || json_array_size(msgs) == 0) {
            fprintf(stderr, "zentalk: categorize needs TEXT or lines on stdin\n");
            json_decref(msgs);
            rc = 2;
            goto out;
        }
        req = json_pack("{s:o}", "messages", msgs);
    }
    rc = post_print(&o, "/v1/features/categorize", req, print_categories);
    req = NULL;
out:
    zt_free(text);
    json_decref(req);
    return rc;
}
