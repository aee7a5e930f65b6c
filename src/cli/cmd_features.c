/* cmd_features.c: the CLI's messaging-feature commands. See cmd_features.h.
 *   zentalk spam [--url URL] [--json] [--threshold T] TEXT...|-
 *   zentalk entities [--url URL] [--json] [--now ISO] [--dmy] TEXT...|-
 *   zentalk train spam [--corpus DIR] [--out FILE] [--epochs N] [--buckets LOG2] */
#include "cmd_features.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "http.h"
#include "input.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_spam.h"
#include "zentalk/zt_str.h"

#define TEXT_MAX (64u * 1024u)

/* Read the TEXT operands (or stdin) after the options, POST {"text": TEXT}
 * and the fields of extra (taken) to path, and print the answer's "result"
 * as JSON or with print. Returns the exit status. */
static int post_text(int argc, char **argv, const char *url, const char *path, json_t *extra, bool as_json,
                     void (*print)(const json_t *result))
{
    struct zt_buf text;
    zt_buf_init(&text, TEXT_MAX);
    int rc = zt__cli_read_text(argc - optind, argv + optind, &text);
    json_t *req = NULL, *ans = NULL;
    if (rc) goto out;
    req = json_pack("{s:s%}", "text", text.data, text.len);
    if (!req || !extra || json_object_update(req, extra) != 0) {
        rc = 1;
        goto out;
    }
    long status = 0;
    if ((rc = zt__cli_http_post_json_parsed(url, path, req, 30000, &status, &ans)) != 0) goto out;
    json_t *r = json_object_get(ans, "result");
    if (as_json)
        zt__cli_print_json(r);
    else
        print(r);
out:
    json_decref(extra);
    json_decref(req);
    json_decref(ans);
    zt_buf_deinit(&text);
    return rc;
}

static void print_spam(const json_t *r)
{
    printf("%s (p(spam) = %.3f, threshold %.2f)\n", json_string_value(json_object_get(r, "label")),
           json_number_value(json_object_get(r, "probability")), json_number_value(json_object_get(r, "threshold")));
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(r, "features"), i, f)
        printf("  %+.3f  %-6s %s\n", json_number_value(json_object_get(f, "weight")),
               json_string_value(json_object_get(f, "kind")), json_string_value(json_object_get(f, "feature")));
}

int zt__cli_spam(int argc, char **argv)
{
    const char *url = zt__cli_node_url(), *ths = NULL;
    bool as_json = false;
    const struct zt__cli_opt opts[] = {
        {"url", 'u', ZT__CLI_STR, &url}, {"json", 'j', ZT__CLI_FLAG, &as_json},
        {"threshold", 0, ZT__CLI_STR, &ths}, {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {
        .name = "spam",
        .help = "usage: zentalk spam [--url URL] [--json] [--threshold T] TEXT...|-\n"
                "Classify a message as spam or ham with the node's model (POST /v1/features/spam).\n",
        .stop_at_operand = true,
    };
    int prc = ZT__CLI_PARSE(argc, argv, 1, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    double th = -1;
    if (ths && (zt_str_to_double(ths, &th) != 0 || th < 0 || th > 1)) {
        fprintf(stderr, "zentalk spam: --threshold must be a number in [0, 1]\n");
        return 2;
    }
    json_t *extra = json_pack("{s:i}", "top", 5);
    if (extra && th >= 0) json_object_set_new(extra, "threshold", json_real(th));
    return post_text(argc, argv, url, "/v1/features/spam", extra, as_json, print_spam);
}

static void print_entities(const json_t *r)
{
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r, "entities"), i, e)
        printf("%-9s %-28s %s\n", json_string_value(json_object_get(e, "type")),
               json_string_value(json_object_get(e, "value")), json_string_value(json_object_get(e, "text")));
}

int zt__cli_entities(int argc, char **argv)
{
    const char *url = zt__cli_node_url(), *now = NULL;
    bool as_json = false, dmy = false;
    const struct zt__cli_opt opts[] = {
        {"url", 'u', ZT__CLI_STR, &url}, {"json", 'j', ZT__CLI_FLAG, &as_json}, {"now", 0, ZT__CLI_STR, &now},
        {"dmy", 0, ZT__CLI_FLAG, &dmy},  {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {
        .name = "entities",
        .help = "usage: zentalk entities [--url URL] [--json] [--now ISO8601] [--dmy] TEXT...|-\n"
                "Extract dates, money, links, contacts and wallets (POST /v1/features/entities).\n",
        .stop_at_operand = true,
    };
    int prc = ZT__CLI_PARSE(argc, argv, 1, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    json_t *extra = json_pack("{s:s}", "date_order", dmy ? "dmy" : "mdy");
    if (extra && now) json_object_set_new(extra, "now", json_string(now));
    return post_text(argc, argv, url, "/v1/features/entities", extra, as_json, print_entities);
}

int zt__cli_train(int argc, char **argv)
{
    const char *usage = "usage: zentalk train spam [--corpus DIR] [--out FILE] [--epochs N] [--buckets LOG2]\n"
                        "Train the spam model here (no node needed) on the SpamAssassin corpus that `make data`\n"
                        "downloads (default DIR: ${XDG_CACHE_HOME:-~/.cache}/zentalk/spam-assassin/package/data;\n"
                        "default FILE: spam.zta in the assets directory: $ZENTALK_ASSETS_DIR, else the source\n"
                        "tree's data/assets for a build-tree binary or PREFIX/share/zentalk/assets, else\n"
                        "$XDG_DATA_HOME/zentalk/assets).\n";
    if (argc < 2 || strcmp(argv[1], "spam") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            fputs(usage, stdout);
            return 0;
        }
        fprintf(stderr, "zentalk train: the only trainable model is `spam`\n%s", usage);
        return 2;
    }
    const char *corpus_arg = NULL, *out_arg = NULL, *epochs = NULL, *buckets = NULL;
    const struct zt__cli_opt opts[] = {
        {"corpus", 0, ZT__CLI_STR, &corpus_arg}, {"out", 0, ZT__CLI_STR, &out_arg},
        {"epochs", 0, ZT__CLI_STR, &epochs},     {"buckets", 0, ZT__CLI_STR, &buckets},
        {"help", 'h', ZT__CLI_HELP, NULL},
    };
    const struct zt__cli_cmd cmd = {.name = "train spam", .help = usage, .stop_at_operand = true};
    int prc = ZT__CLI_PARSE(argc - 1, argv + 1, 1, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    char corpus[4096] = "", out[4096] = "";
    if (corpus_arg) zt_strlcpy(corpus, corpus_arg, sizeof corpus);
    if (out_arg) zt_strlcpy(out, out_arg, sizeof out);
    struct zt_spam_train_opts o = {.log = stderr};
    int64_t v;
    if (epochs) {
        if (zt_str_to_i64(epochs, &v) != 0 || v < 1 || v > 100) {
            fprintf(stderr, "zentalk train spam: --epochs out of range\n");
            return 2;
        }
        o.epochs = (uint32_t)v;
    }
    if (buckets) {
        if (zt_str_to_i64(buckets, &v) != 0 || v < 8 || v > 24) {
            fprintf(stderr, "zentalk train spam: --buckets out of range\n");
            return 2;
        }
        o.buckets_log2 = (uint32_t)v;
    }
    if (optind + 1 < argc) {
        fprintf(stderr, "zentalk train spam: unexpected argument '%s'\n", argv[optind + 1]);
        return 2;
    }
    if (!corpus[0]) {
        const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
        if (xdg && *xdg) snprintf(corpus, sizeof corpus, "%s/zentalk/spam-assassin/package/data", xdg);
        else snprintf(corpus, sizeof corpus, "%s/.cache/zentalk/spam-assassin/package/data", home ? home : ".");
    }
    if (!out[0]) {
        const char *dd = getenv("ZENTALK_NODE_DATA_DIR");
        if (zt_asset_path(dd && *dd ? dd : "data", "spam.zta", out, sizeof out) != 0) return 2;
    }
    o.corpus_dir = corpus;
    struct zt_spam_info info;
    int rc = zt_spam_train(&o, out, &info);
    if (rc) {
        fprintf(stderr, "zentalk train spam: %s (corpus %s; `make data` downloads it)\n", zt_strerror(rc), corpus);
        return 1;
    }
    char sha[65];
    zt_hex_encode(sha, info.data_sha256, 32);
    printf("wrote %s\n  data sha256 %s\n  held out %u: precision %.4f recall %.4f F1 %.4f accuracy %.4f\n", out, sha,
           info.n_test, info.precision, info.recall, info.f1, info.accuracy);
    return 0;
}
