/* lex.c: the lexicon-feature commands of the CLI. See features.h. */
#include "lex.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "http.h"
#include "input.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_version.h"

#define TEXT_MAX 65536 /* the routes' limit */
#define RESP_MAX (1u << 20)

static void print_sentiment(json_t *j)
{
    printf("%-8s  compound %.4f  pos %.3f  neu %.3f  neg %.3f\n", json_string_value(json_object_get(j, "label")),
           json_number_value(json_object_get(j, "compound")), json_number_value(json_object_get(j, "pos")),
           json_number_value(json_object_get(j, "neu")), json_number_value(json_object_get(j, "neg")));
}

static void print_language(json_t *j)
{
    const char *name = json_string_value(json_object_get(j, "name"));
    printf("%s  %s  %s  confidence %.2f (best guess %s)\n", json_string_value(json_object_get(j, "language")),
           json_string_value(json_object_get(j, "iso639_3")), name ? name : "undetermined",
           json_number_value(json_object_get(j, "confidence")), json_string_value(json_object_get(j, "best")));
}

static void print_moderation(json_t *j)
{
    printf("%s\n", json_string_value(json_object_get(j, "action")));
    const char *k;
    json_t *v;
    json_object_foreach(json_object_get(j, "categories"), k, v) {
        double s = json_number_value(json_object_get(v, "score"));
        if (s > 0)
            printf("  %-10s score %.2f%s (action %s)\n", k, s, json_is_true(json_object_get(v, "matched")) ? " matched" : "",
                   json_string_value(json_object_get(v, "action")));
    }
    size_t i;
    json_array_foreach(json_object_get(j, "matches"), i, v) {
        printf("  - %s: %s%s\n", json_string_value(json_object_get(v, "category")),
               json_string_value(json_object_get(v, "term")),
               json_is_true(json_object_get(v, "obfuscated")) ? " (obfuscated)" : "");
    }
}

int zt__cli_features(int gargc, char **gargv, int argc, char **argv)
{
    const char *cmd = argv[0];
    const char *path = strcmp(cmd, "sentiment") == 0  ? "/v1/features/sentiment"
                       : strcmp(cmd, "moderate") == 0 ? "/v1/features/moderate"
                                                      : "/v1/features/language";
    const char *url = zt__cli_node_url();
    bool as_json = false;
    for (int i = 1; i < gargc; i++) {
        if ((strcmp(gargv[i], "-u") == 0 || strcmp(gargv[i], "--url") == 0) && i + 1 < gargc) url = gargv[++i];
        else if (zt_str_starts_with(gargv[i], "--url=")) url = gargv[i] + 6;
        else if (strcmp(gargv[i], "--json") == 0) as_json = true;
    }
    struct zt_buf text;
    zt_buf_init(&text, TEXT_MAX);
    int rc = 0, words = 0;
    bool dashdash = false;
    for (int i = 1; i < argc && rc == 0; i++) {
        const char *a = argv[i];
        if (!dashdash && strcmp(a, "--") == 0) {
            dashdash = true;
        } else if (!dashdash && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
            printf("Usage: zentalk [--url URL] %s [--json] [TEXT...]\n"
                   "POST TEXT (the arguments joined by spaces; stdin when there are none) to %s.\n",
                   cmd, path);
            zt_buf_deinit(&text);
            return 0;
        } else if (!dashdash && strcmp(a, "--json") == 0) {
            as_json = true;
        } else if (!dashdash && (strcmp(a, "-u") == 0 || strcmp(a, "--url") == 0)) {
            if (i + 1 >= argc) {
                fprintf(stderr, "zentalk: option %s needs a value\n", a);
                rc = 2;
            } else {
                url = argv[++i];
            }
        } else if (!dashdash && zt_str_starts_with(a, "--url=")) {
            url = a + 6;
        } else if (!dashdash && a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "zentalk: unknown option %s (see zentalk %s --help)\n", a, cmd);
            rc = 2;
        } else {
            if ((words++ && zt_buf_append_byte(&text, ' ') != 0) || zt_buf_append_str(&text, a) != 0) {
                fprintf(stderr, "zentalk: the text is longer than %d bytes\n", TEXT_MAX);
                rc = 2;
            }
        }
    }
    if (rc == 0 && !zt__cli_url_ok(url)) rc = 2;
    if (rc == 0 && words == 0) rc = zt__cli_read_stdin(&text);
    json_t *req = NULL, *j = NULL;
    struct zt_buf out;
    zt_buf_init(&out, RESP_MAX);
    if (rc) goto out;
    if (text.len == 0) {
        fprintf(stderr, "zentalk: the text is empty\n");
        rc = 2;
        goto out;
    }
    req = json_pack("{s:s%}", "text", zt_buf_str(&text), text.len);
    if (!req) {
        fprintf(stderr, "zentalk: the text is not valid UTF-8\n");
        rc = 1;
        goto out;
    }
    long status = 0;
    rc = zt__cli_http_post_json(url, path, req, 30000L, &status, &out);
    if ((rc = zt__cli_check_answer(rc, status, &out)) != 0) goto out;
    if (as_json) {
        fputs(zt_buf_str(&out), stdout);
        goto out;
    }
    j = json_loads(zt_buf_str(&out), 0, NULL);
    json_t *res = json_object_get(j, "result");
    if (!json_is_object(res)) {
        fprintf(stderr, "zentalk: the node's answer is not a JSON object\n");
        rc = 1;
        goto out;
    }
    if (path[13] == 's') print_sentiment(res);
    else if (path[13] == 'm') print_moderation(res);
    else print_language(res);
out:
    json_decref(req);
    json_decref(j);
    zt_buf_deinit(&out);
    zt_buf_deinit(&text);
    return rc;
}
