/* cmd_conv.c: `zentalk replies` and `zentalk summarize`: read a conversation
 * from stdin (JSON, or "name: text" lines), POST it to the node's
 * /v1/features/smart-replies or /v1/features/summarize and print the answer. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "cmd_conv.h"
#include "http.h"
#include "input.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_str.h"

#define MAX_INPUT (16u << 20)

static void usage(FILE *out, bool summarize)
{
    if (summarize)
        fprintf(out, "Usage: zentalk summarize [--url URL] [--max-sentences N] [--json] < CONVERSATION\n");
    else
        fprintf(out, "Usage: zentalk replies [--url URL] [--me NAME] [--json] < CONVERSATION\n");
    fprintf(out,
            "\n"
            "CONVERSATION on stdin: a JSON object {\"messages\":[{\"from\":\"alice\",\"text\":\"...\"}]},\n"
            "a JSON array of such messages, or one message per line as \"name: text\"\n"
            "(a line without \"name:\" has no speaker). Empty lines are skipped.\n"
            "\n"
            "  -u, --url URL          node address (default $ZENTALK_URL or " ZT__CLI_DEFAULT_URL ")\n"
            "%s"
            "      --json             print the node's JSON answer\n"
            "  -h, --help             show this help\n",
            summarize ? "      --max-sentences N  key sentences wanted (1..20)\n"
                      : "      --me NAME          whose turn it is (replies answer the others)\n");
}

/* The conversation on stdin as a messages array (new reference), or NULL
 * with a message printed. */
static json_t *read_conversation(void)
{
    struct zt_buf in;
    zt_buf_init(&in, MAX_INPUT);
    if (zt__cli_read_stdin(&in) != 0) {
        zt_buf_deinit(&in);
        return NULL;
    }
    const char *s = zt_buf_str(&in);
    size_t i = 0;
    while (i < in.len && (s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r')) i++;
    json_t *msgs = NULL;
    if (i < in.len && (s[i] == '{' || s[i] == '[')) {
        json_error_t err;
        json_t *j = json_loadb(s, in.len, 0, &err);
        if (!j) {
            fprintf(stderr, "zentalk: stdin: invalid JSON at line %d, column %d: %s\n", err.line, err.column, err.text);
        } else if (json_is_array(j)) {
            msgs = json_incref(j);
        } else if (json_is_array(json_object_get(j, "messages"))) {
            msgs = json_incref(json_object_get(j, "messages"));
        } else {
            fprintf(stderr, "zentalk: stdin: expected {\"messages\": [...]} or an array of messages\n");
        }
        json_decref(j);
    } else {
        msgs = json_array();
        const char *p = s, *end = s + in.len;
        while (msgs && p < end) {
            const char *e = memchr(p, '\n', (size_t)(end - p));
            if (!e) e = end;
            const char *a = p, *b = e;
            p = e < end ? e + 1 : end;
            if (b > a && b[-1] == '\r') b--;
            while (a < b && (*a == ' ' || *a == '\t')) a++;
            if (a == b) continue;
            const char *colon = memchr(a, ':', (size_t)(b - a));
            /* "name: text": a short name without spaces at both ends */
            const char *from = "", *text = a;
            size_t from_len = 0;
            if (colon && colon > a && colon - a <= 64 && colon + 1 < b && colon[1] == ' ') {
                from = a;
                from_len = (size_t)(colon - a);
                text = colon + 2;
            }
            while (text < b && *text == ' ') text++;
            json_array_append_new(msgs, json_pack("{s:s%,s:s%}", "from", from, from_len, "text", text, (size_t)(b - text)));
        }
        if (msgs && json_array_size(msgs) == 0) {
            fprintf(stderr, "zentalk: stdin holds no messages\n");
            json_decref(msgs);
            msgs = NULL;
        }
    }
    zt_buf_deinit(&in);
    return msgs;
}

static void print_items(const char *title, json_t *arr)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0) return;
    printf("\n%s:\n", title);
    size_t i;
    json_t *it;
    json_array_foreach(arr, i, it) {
        const char *from = json_string_value(json_object_get(it, "from"));
        const char *kind = json_string_value(json_object_get(it, "kind"));
        const char *as = json_string_value(json_object_get(it, "assignee"));
        printf("  [%lld] %s%s%s", (long long)json_integer_value(json_object_get(it, "index")), from ? from : "",
               from ? ": " : "", json_string_value(json_object_get(it, "text")));
        if (kind) printf("  (%s%s%s)", kind, as ? ", " : "", as ? as : "");
        printf("\n");
    }
}

static void usage_replies(FILE *out)
{
    usage(out, false);
}

static void usage_summarize(FILE *out)
{
    usage(out, true);
}

static int run(int argc, char **argv, bool summarize)
{
    const char *url = zt__cli_node_url(), *me = NULL, *max_s = NULL;
    bool as_json = false;
    const struct zt__cli_opt opts_replies[] = {
        {"url", 'u', ZT__CLI_STR, &url}, {"me", 0, ZT__CLI_STR, &me},
        {"json", 0, ZT__CLI_FLAG, &as_json}, {"help", 'h', ZT__CLI_HELP, NULL},
    };
    const struct zt__cli_opt opts_summarize[] = {
        {"url", 'u', ZT__CLI_STR, &url}, {"max-sentences", 0, ZT__CLI_STR, &max_s},
        {"json", 0, ZT__CLI_FLAG, &as_json}, {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd_replies = {.name = "replies", .usage = usage_replies};
    static const struct zt__cli_cmd cmd_summarize = {.name = "summarize", .usage = usage_summarize};
    int prc = summarize ? ZT__CLI_PARSE(argc, argv, 1, &cmd_summarize, opts_summarize)
                        : ZT__CLI_PARSE(argc, argv, 1, &cmd_replies, opts_replies);
    if (prc != ZT__CLI_PARSED) return prc;
    int64_t max_sentences = 0;
    if (max_s && (zt_str_to_i64(max_s, &max_sentences) != 0 || max_sentences < 1 || max_sentences > 20)) {
        zt__cli_say("--max-sentences must be an integer from 1 to 20");
        return 2;
    }
    if (optind < argc) {
        zt__cli_say("unexpected argument '%s' (the conversation is read from stdin)", argv[optind]);
        return 2;
    }
    if (!zt__cli_url_ok(url)) return 2;
    json_t *msgs = read_conversation();
    if (!msgs) return 1;
    json_t *req = json_pack("{s:o}", "messages", msgs);
    if (req && me) json_object_set_new(req, "me", json_string(me));
    if (req && max_sentences) json_object_set_new(req, "max_sentences", json_integer(max_sentences));
    long status = 0;
    json_t *resp = NULL;
    int rc = req ? zt__cli_http_post_json_parsed(url, summarize ? "/v1/features/summarize" : "/v1/features/smart-replies", req,
                                          120000L, &status, &resp)
                 : 1;
    json_decref(req);
    if (rc) return 1;
    json_t *r = json_object_get(resp, "result");
    if (as_json) {
        zt__cli_print_json(resp);
    } else if (summarize) {
        printf("%s\n", json_string_value(json_object_get(r, "summary")) ? json_string_value(json_object_get(r, "summary")) : "");
        print_items("Key messages", json_object_get(r, "key_messages"));
        print_items("Decisions", json_object_get(r, "decisions"));
        print_items("Open questions", json_object_get(r, "open_questions"));
        print_items("Action items", json_object_get(r, "action_items"));
    } else {
        size_t i;
        json_t *it;
        json_array_foreach(json_object_get(r, "replies"), i, it)
            printf("%zu. %s\n", i + 1, json_string_value(json_object_get(it, "text")));
        const char *fb = json_string_value(json_object_get(r, "fallback"));
        fprintf(stderr, "(intent %s, method %s, moderation %s%s%s)\n",
                json_string_value(json_object_get(json_object_get(r, "intent"), "intent")),
                json_string_value(json_object_get(r, "method")), json_string_value(json_object_get(r, "moderation")),
                fb ? ", fallback: " : "", fb ? fb : "");
    }
    json_decref(resp);
    return 0;
}

int zt__cli_replies(int argc, char **argv)
{
    return run(argc, argv, false);
}

int zt__cli_summarize(int argc, char **argv)
{
    return run(argc, argv, true);
}
