/* cmd_translate.c: `zentalk translate --from LANG --to LANG [TEXT...]`. See cmd_translate.h. */
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "http.h"
#include "input.h"
#include "cmd_translate.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"

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
            "  -u, --url URL     node address (default $ZENTALK_URL or " ZT__CLI_DEFAULT_URL ")\n"
            "\n"
            "The node lists its pairs at GET /v1/features/translate/languages.\n");
}

int zt__cli_translate(int argc, char **argv, const char *url)
{
    const char *from = NULL, *to = NULL;
    bool keep = false, as_json = false;
    if (!url) url = zt__cli_node_url();
    else if (!*url) url = ZT__CLI_DEFAULT_URL;
    const struct zt__cli_opt opts[] = {
        {"from", 'f', ZT__CLI_STR, &from}, {"to", 't', ZT__CLI_STR, &to}, {"keep-marks", 'k', ZT__CLI_FLAG, &keep},
        {"json", 'j', ZT__CLI_FLAG, &as_json}, {"url", 'u', ZT__CLI_STR, &url}, {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {.name = "translate", .usage = usage};
    int prc = ZT__CLI_PARSE(argc, argv, 1, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    if (!to) {
        fprintf(stderr, "zentalk translate: --to LANG is required (see --help)\n");
        return 2;
    }
    int rc = 1;
    json_t *req = NULL, *ans = NULL;
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
    int hrc = zt__cli_http_post_json(url, "/v1/features/translate", req, 60000L, &status, &resp);
    if (zt__cli_check_answer(hrc, status, &resp)) goto out;
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
    zt_buf_deinit(&text);
    zt_buf_deinit(&resp);
    return rc;
}
