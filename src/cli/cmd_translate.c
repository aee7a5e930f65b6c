/* cmd_translate.c: `zentalk translate --from LANG --to LANG [TEXT...]`. See translate.h. */
#include <getopt.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "input.h"
#include "cmd_translate.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"

#define DEFAULT_URL "http://127.0.0.1:8080"
#define MAX_INPUT (1024u * 1024u)
#define MAX_RESPONSE (8u * 1024u * 1024u)

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: zentalk translate [--from LANG] --to LANG [--keep-marks] [--json] [--url URL] [TEXT...]\n"
            "\n"
            "Translate TEXT (the words joined by spaces), or standard input when no TEXT is\n"
            "given, with the node's Apertium pairs (POST /v1/features/translate).\n"
            "\n"
            "  -f, --from LANG   source language, ISO 639-1 or 639-3 (en, eng, es, spa, ca, cat);\n"
            "                    without it the node detects the language, if it can\n"
            "  -t, --to LANG     target language\n"
            "  -k, --keep-marks  keep Apertium's marks on unknown words (*word)\n"
            "  -j, --json        print the node's JSON answer\n"
            "  -u, --url URL     node address (default $ZENTALK_URL or " DEFAULT_URL ")\n"
            "\n"
            "The node lists its pairs at GET /v1/features/translate/languages.\n");
}

int zt__cli_translate(int argc, char **argv, const char *url)
{
    static const struct option longopts[] = {
        {"from", required_argument, NULL, 'f'}, {"to", required_argument, NULL, 't'},
        {"keep-marks", no_argument, NULL, 'k'}, {"json", no_argument, NULL, 'j'},
        {"url", required_argument, NULL, 'u'},  {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *from = NULL, *to = NULL;
    bool keep = false, as_json = false;
    if (!url) url = getenv("ZENTALK_URL");
    if (!url || !*url) url = DEFAULT_URL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:t:kju:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': from = optarg; break;
        case 't': to = optarg; break;
        case 'k': keep = true; break;
        case 'j': as_json = true; break;
        case 'u': url = optarg; break;
        case 'h': usage(stdout); return 0;
        case ':': fprintf(stderr, "zentalk translate: option %s needs a value\n", argv[optind - 1]); return 2;
        default: fprintf(stderr, "zentalk translate: unknown option %s (see --help)\n", argv[optind - 1]); return 2;
        }
    }
    if (!to) {
        fprintf(stderr, "zentalk translate: --to LANG is required (see --help)\n");
        return 2;
    }
    int rc = 1;
    json_t *req = NULL, *ans = NULL;
    char *body_s = NULL;
    struct zt_buf text, resp;
    zt_buf_init(&text, MAX_INPUT);
    zt_buf_init(&resp, MAX_RESPONSE);
    if (optind < argc) {
        for (int i = optind; i < argc; i++)
            if ((i > optind && zt_buf_append_byte(&text, ' ') != 0) || zt_buf_append_str(&text, argv[i]) != 0) {
                fprintf(stderr, "zentalk translate: text is too long\n");
                goto out;
            }
    } else if (zt__cli_read_stdin(&text) != 0) {
        goto out;
    }
    if (text.len == 0) {
        fprintf(stderr, "zentalk translate: nothing to translate\n");
        rc = 2;
        goto out;
    }
    req = json_pack("{s:s%,s:s,s:b}", "text", zt_buf_str(&text), text.len, "target", to, "keep_unknown_marks", keep);
    if (req && from) json_object_set_new(req, "source", json_string(from));
    if (!req) {
        fprintf(stderr, "zentalk translate: the text is not valid UTF-8\n");
        goto out;
    }
    long status = 0;
    if (zt__cli_http_post_json(url, "/v1/features/translate", req, 60000L, &status, &resp) != 0) goto out;
    if (status != 200) {
        zt__cli_print_api_error(status, zt_buf_str(&resp));
        goto out;
    }
    if (as_json) {
        fputs(zt_buf_str(&resp), stdout);
        rc = 0;
        goto out;
    }
    ans = json_loads(zt_buf_str(&resp), 0, NULL);
    const char *tr = json_string_value(json_object_get(ans, "translation"));
    if (!tr) {
        fprintf(stderr, "zentalk translate: the node's answer has no translation\n");
        goto out;
    }
    puts(tr);
    rc = 0;
out:
    json_decref(req);
    json_decref(ans);
    if (body_s) {
        json_free_t jfree;
        json_get_alloc_funcs(NULL, &jfree);
        jfree(body_s);
    }
    zt_buf_deinit(&text);
    zt_buf_deinit(&resp);
    return rc;
}
