/* zentalk.c: the command-line client: `status`, and one file per command
 * group, cmd_<noun>.c: `models` (cmd_models.c), `run` and `chat`
 * (cmd_run.c), `keygen` and `id` (cmd_keys.c), `attest` (cmd_attest.c),
 * the features, privacy, search, translate, gdpr, job and peers commands;
 * their options are described by one table each (cmd.h). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_attest.h"
#include "cmd_features.h"
#include "cmd_peers.h"
#include "cmd_job.h"
#include "cmd_conv.h"
#include "lex.h"
#include "cmd_keys.h"
#include "cmd_models.h"
#include "cmd_privacy.h"
#include "cmd_gdpr.h"
#include "cmd_run.h"
#include "cmd_translate.h"
#include "cmd_search.h"
#include "cmd.h"
#include "http.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_http_client.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_version.h"

#define DEFAULT_URL "http://127.0.0.1:8080"
#define MAX_RESPONSE (8u * 1024u * 1024u)

static void usage(FILE *out)
{
    fputs(  "Usage: zentalk [--url URL] COMMAND [OPTIONS]\n"
            "\n"
            "Command-line client for a zentalk-ai node.\n"
            "\n"
            "Commands:\n"
            "  status [--url URL] [--json]   show the node's id, roles, version, uptime,\n"
            "                                readiness, models and peers\n"
            "  models pull URL [--sha256 HEX] [--name FILE] [--force] [--data-dir DIR]\n"
            "                                download a GGUF model into DIR/models/\n"
            "                                (resumable, checksum verified)\n"
            "  models list [--json] [--data-dir DIR]\n"
            "                                show the models in DIR/models/\n"
            "  models rm NAME [--data-dir DIR]\n"
            "                                delete a model (see zentalk models --help)\n"
            "  run MODEL PROMPT [-n N] [--temp T] [--seed S] [--threads N] [--stats]\n"
            "                                generate locally (MODEL: a GGUF file or a models.yaml id)\n"
            "  chat MODEL [--system TEXT] [--temp T] [--seed S] [--threads N]\n"
            "                                interactive local chat\n"
            "  keygen --out FILE [--passphrase-env VAR] [--force]\n"
            "                                generate a node identity key file (mode 0600)\n"
            "  id [--key FILE | --data-dir DIR] [--passphrase-env VAR] [--json]\n"
            "                                show a node's id and public keys (DIR/node.key)\n"
            "  attest [URL] [--nonce HEX] [--expect-binary SHA256] [--json]\n"
            "                                fetch and verify a node's signed attestation report\n",
            out);
    /* in two parts: C limits a string literal to 4095 characters */
    fputs("  spam [--threshold T] [--json] TEXT...|-\n"
            "                                classify a message as spam or ham (node API)\n"
            "  entities [--now ISO] [--dmy] [--json] TEXT...|-\n"
            "                                extract dates, money, links, contacts, wallets (node API)\n"
            "  train spam [--corpus DIR] [--out FILE]\n"
            "                                train the spam model locally (see zentalk train --help)\n"
            "  peers add URL|FILE [--data-dir DIR | --file PEERS]\n"
            "                                verify a node descriptor and add it to DIR/peers.json\n"
            "  peers list [--data-dir DIR | --file PEERS] [--json]\n"
            "                                show the trusted peers and whether each is valid\n"
            "  peers self --endpoint URL [--data-dir DIR | --key FILE] [--role R]... [--days N]\n"
            "                                print this node's signed descriptor (for peers add)\n"
            "  translate [--from LANG] --to LANG [--keep-marks] [--json] [TEXT...]\n"
            "                                translate TEXT (or stdin) with the node's Apertium pairs\n"
            "  pii [--feature NAME] [--json] [TEXT]\n"
            "                                find personal data in TEXT (or stdin) and pseudonymise it\n"
            "  privacy export [--identity ID] [--out FILE] | privacy erase [--identity ID] --yes\n"
            "                                everything the node holds about an identity; erase it (node API)\n"
            "  audit verify [--pubkey HEX | --key FILE | --descriptor FILE] [--data-dir DIR] [FILE...]\n"
            "                                check audit log files (chain, order, checkpoint signatures)\n"
            "  job run --node URL MODEL PROMPT [--chat] [--seed N] [--temp T] [-n N] [--receipt]\n"
            "                                seal a job to a worker, stream and verify the sealed\n"
            "                                result and its signed receipt (see job run --help)\n"
            "  search index|query|delete --user U ...\n"
            "                                private semantic search (see zentalk search --help)\n"
            "  categorize [TEXT...]          categorise a text, or stdin lines as one conversation\n"
            "  replies [--me NAME] [--json] < CONVERSATION\n"
            "                                three suggested replies to the last message\n"
            "  summarize [--max-sentences N] [--json] < CONVERSATION\n"
            "                                key messages, decisions, open questions, action items\n"
            "  sentiment [--json] [TEXT...]  VADER sentiment of TEXT (stdin when none)\n"
            "  moderate [--json] [TEXT...]   moderation verdict, categories and masked terms\n"
            "  language [--json] [TEXT...]   language of TEXT: ISO 639-1/639-3, confidence\n"
            "\n"
            "Options:\n"
            "  -u, --url URL   node address (default $ZENTALK_URL or " DEFAULT_URL ")\n"
            "  -h, --help      show this help and exit\n"
            "  -V, --version   show the version and exit\n"
            "\n"
            "DIR defaults to $ZENTALK_NODE_DATA_DIR or \"data\", as the node's data_dir.\n"
            "\n"
            "Exit status: 0 success, 1 the node answered with an error or could not be\n"
            "reached (or a models command failed), 2 usage error, 3 a sealed job's result\n"
            "did not verify (job run), 130 interrupted.\n",
          out);
}


/* string value of j, or dflt when j is not a string */
static const char *sv(const json_t *j, const char *dflt)
{
    const char *s = json_string_value(j);
    return s ? s : dflt;
}

static void print_duration(double secs)
{
    long long s = (long long)secs;
    if (s >= 86400) printf("%lldd ", s / 86400);
    printf("%02lld:%02lld:%02lld\n", (s % 86400) / 3600, (s % 3600) / 60, s % 60);
}

static int cmd_status(const char *url, bool as_json)
{
    struct zt_buf body;
    zt_buf_init(&body, MAX_RESPONSE);
    long status = 0;
    int rc = zt__cli_http_get(url, "/v1/status", 15000L, &status, &body);
    if ((rc = zt__cli_check_answer(rc, status, &body)) != 0) goto out;
    if (as_json) {
        fputs(zt_buf_str(&body), stdout);
        goto out;
    }
    json_error_t jerr;
    json_t *j = json_loads(zt_buf_str(&body), 0, &jerr);
    if (!json_is_object(j)) {
        fprintf(stderr, "zentalk: the node's /v1/status is not a JSON object (line %d: %s)\n", jerr.line, jerr.text);
        json_decref(j);
        rc = 1;
        goto out;
    }
    printf("node        %s\n", sv(json_object_get(j, "node_id"), "?"));
    printf("url         %s\n", url);
    printf("version     %s (%s)\n", sv(json_object_get(j, "version"), "?"),
           sv(json_object_get(j, "commit"), "?"));
    printf("uptime      ");
    print_duration(json_number_value(json_object_get(j, "uptime_seconds")));
    printf("ready       %s\n", json_is_true(json_object_get(j, "ready")) ? "yes" : "no");
    const char *role;
    json_t *rv;
    json_object_foreach(json_object_get(j, "readiness"), role, rv) {
        printf("  %-13s %s  %s\n", role, json_is_true(json_object_get(rv, "ready")) ? "ready    " : "not ready",
               sv(json_object_get(rv, "detail"), ""));
    }
    size_t i;
    json_t *v;
    json_t *models = json_object_get(j, "models");
    printf("models      %zu loaded", json_array_size(models));
    json_t *conf = json_object_get(j, "models_configured");
    printf(", %zu configured\n", json_array_size(conf));
    json_array_foreach(conf, i, v) printf("  %s\n", sv(v, "?"));
    printf("peers       %zu\n", json_array_size(json_object_get(j, "peers")));
    json_decref(j);
out:
    zt_buf_deinit(&body);
    return rc;
}

/* Index of the command word, skipping global options before it, or -1 when
 * there is none or --help/--version comes first (the main pass handles those). */
static int command_index(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--") == 0) return i + 1 < argc ? i + 1 : -1;
        if (a[0] != '-' || a[1] == '\0') return i;
        if (strcmp(a, "-u") == 0 || strcmp(a, "--url") == 0) i++; /* skip its value */
        else if (!zt_str_starts_with(a, "--url=") && !zt_str_starts_with(a, "-u")) return -1;
    }
    return -1;
}

static int dispatch(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"url", required_argument, NULL, 'u'},
        {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    /* `models` has its own options (--sha256, --name, ...), which the global
     * pass below would reject, so it is dispatched first. */
    int ci = command_index(argc, argv);
    if (ci > 0 && strcmp(argv[ci], "models") == 0) {
        json_set_alloc_funcs(zt_malloc, zt_free);
        int mrc = zt__cli_models(argc - ci, argv + ci);
        return mrc;
    }

    /* `attest` fetches and checks a node's attestation report, with its own options */
    if (ci > 0 && strcmp(argv[ci], "attest") == 0) {
        json_set_alloc_funcs(zt_malloc, zt_free);
        int arc = zt__cli_attest(argc - ci, argv + ci);
        return arc;
    }

    /* `peers` edits the peers file (zt_peers.h), with its own options */
    if (ci > 0 && strcmp(argv[ci], "peers") == 0) {
        if (zt_hash_init() != 0) return 1;
        json_set_alloc_funcs(zt_malloc, zt_free);
        int prc = zt__cli_peers(argc - ci, argv + ci);
        return prc;
    }

    /* `translate` posts to the node, with its own options; a --url given
     * before the command counts */
    if (ci > 0 && strcmp(argv[ci], "translate") == 0) {
        const char *gurl = NULL;
        for (int i = 1; i < ci; i++) {
            if ((strcmp(argv[i], "-u") == 0 || strcmp(argv[i], "--url") == 0) && i + 1 < ci) gurl = argv[++i];
            else if (zt_str_starts_with(argv[i], "--url=")) gurl = argv[i] + 6;
        }
        json_set_alloc_funcs(zt_malloc, zt_free);
        int trc = zt__cli_translate(argc - ci, argv + ci, gurl);
        return trc;
    }

    /* `job run` seals a job to a worker and verifies the result */
    if (ci > 0 && strcmp(argv[ci], "job") == 0) {
        json_set_alloc_funcs(zt_malloc, zt_free);
        int jrc = zt__cli_job(argc - ci, argv + ci);
        return jrc;
    }

    /* `search` and `categorize` call the node's API, with their own options */
    if (ci > 0 && (strcmp(argv[ci], "search") == 0 || strcmp(argv[ci], "categorize") == 0)) {
        json_set_alloc_funcs(zt_malloc, zt_free);
        int src = strcmp(argv[ci], "search") == 0 ? zt__cli_search(argc - ci, argv + ci)
                                                  : zt__cli_categorize(argc - ci, argv + ci);
        return src;
    }

    /* `replies` and `summarize` send a conversation read from stdin */
    if (ci > 0 && (strcmp(argv[ci], "replies") == 0 || strcmp(argv[ci], "summarize") == 0)) {
        json_set_alloc_funcs(zt_malloc, zt_free);
        int crc = strcmp(argv[ci], "replies") == 0 ? zt__cli_replies(argc - ci, argv + ci)
                                                   : zt__cli_summarize(argc - ci, argv + ci);
        return crc;
    }

    /* `sentiment`, `moderate`, `language` POST a text, with their own options */
    if (ci > 0 && (strcmp(argv[ci], "sentiment") == 0 || strcmp(argv[ci], "moderate") == 0 ||
                   strcmp(argv[ci], "language") == 0)) {
        json_set_alloc_funcs(zt_malloc, zt_free);
        return zt__cli_features(ci, argv, argc - ci, argv + ci);
    }

    /* `keygen` and `id` work on a node identity key file, with their own options */
    if (ci > 0 && (strcmp(argv[ci], "keygen") == 0 || strcmp(argv[ci], "id") == 0)) {
        json_set_alloc_funcs(zt_malloc, zt_free);
        return strcmp(argv[ci], "keygen") == 0 ? zt__cli_keygen(argc - ci, argv + ci) : zt__cli_id(argc - ci, argv + ci);
    }

    /* `spam` and `entities` call the node's feature routes; `train` runs the trainer here */
    if (ci > 0 && (strcmp(argv[ci], "spam") == 0 || strcmp(argv[ci], "entities") == 0)) {
        json_set_alloc_funcs(zt_malloc, zt_free);
        /* a global --url before the command applies too */
        for (int i = 1; i < ci; i++)
            if ((strcmp(argv[i], "-u") == 0 || strcmp(argv[i], "--url") == 0) && i + 1 < ci) setenv("ZENTALK_URL", argv[i + 1], 1);
            else if (zt_str_starts_with(argv[i], "--url=")) setenv("ZENTALK_URL", argv[i] + 6, 1);
        int frc = strcmp(argv[ci], "spam") == 0 ? zt__cli_spam(argc - ci, argv + ci) : zt__cli_entities(argc - ci, argv + ci);
        return frc;
    }
    if (ci > 0 && strcmp(argv[ci], "train") == 0) {
        json_set_alloc_funcs(zt_malloc, zt_free);
        return zt__cli_train(argc - ci, argv + ci);
    }
    /* `pii` (through the API) and `audit verify` (local files), with their own options */
    if (ci > 0 && (strcmp(argv[ci], "pii") == 0 || strcmp(argv[ci], "privacy") == 0)) {
        json_set_alloc_funcs(zt_malloc, zt_free);
        const char *purl = getenv("ZENTALK_URL");
        for (int i = 1; i < ci; i++) /* a global --url before the command */
            if ((strcmp(argv[i], "-u") == 0 || strcmp(argv[i], "--url") == 0) && i + 1 < ci) purl = argv[i + 1];
            else if (zt_str_starts_with(argv[i], "--url=")) purl = argv[i] + 6;
        const char *base = purl && *purl ? purl : DEFAULT_URL;
        int prc = strcmp(argv[ci], "pii") == 0 ? zt__cli_pii(argc - ci, argv + ci, base)
                                               : zt__cli_privacy(argc - ci, argv + ci, base);
        return prc;
    }
    if (ci > 0 && strcmp(argv[ci], "audit") == 0) {
        if (zt_hash_init() != 0) return 1;
        json_set_alloc_funcs(zt_malloc, zt_free);
        return zt__cli_audit(argc - ci, argv + ci);
    }

    /* `run` and `chat` run a model in this process, with their own options */
    if (ci > 0 && (strcmp(argv[ci], "run") == 0 || strcmp(argv[ci], "chat") == 0)) {
        if (zt_hash_init() != 0) return 1;
        json_set_alloc_funcs(zt_malloc, zt_free);
        return strcmp(argv[ci], "run") == 0 ? zt__cli_run(argc - ci, argv + ci) : zt__cli_chat(argc - ci, argv + ci);
    }

    const char *url = getenv("ZENTALK_URL");
    if (!url || !*url) url = DEFAULT_URL;
    bool as_json = false;
    int c;
    opterr = 0;
    /* options may come before or after the command (GNU permutation) */
    while ((c = getopt_long(argc, argv, ":u:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'u': url = optarg; break;
        case 'j': as_json = true; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("zentalk %s (commit %s)\n", ZT_VERSION, ZT_GIT_COMMIT); return 0;
        case ':': fprintf(stderr, "zentalk: option %s needs a value\n", argv[optind - 1]); return 2;
        default: fprintf(stderr, "zentalk: unknown option %s (see --help)\n", argv[optind - 1]); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[optind];
    if (optind + 1 < argc) {
        fprintf(stderr, "zentalk: unexpected argument '%s'\n", argv[optind + 1]);
        return 2;
    }
    if (!zt_str_starts_with(url, "http://") && !zt_str_starts_with(url, "https://")) {
        fprintf(stderr, "zentalk: --url must start with http:// or https:// (got '%s')\n", url);
        return 2;
    }
    json_set_alloc_funcs(zt_malloc, zt_free);
    int rc;
    if (strcmp(cmd, "status") == 0) {
        rc = cmd_status(url, as_json);
    } else {
        fprintf(stderr, "zentalk: unknown command '%s' (see --help)\n", cmd);
        rc = 2;
    }
    return rc;
}

/* libcurl is initialised once, here, before anything else runs (the
 * outbound HTTP client's contract, zt_http_client.h); the client the
 * commands share is freed before it is cleaned up. */
int main(int argc, char **argv)
{
    if (zt_net_client_global_init() != 0) {
        fprintf(stderr, "zentalk: libcurl failed to initialise\n");
        return 1;
    }
    int rc = dispatch(argc, argv);
    zt__cli_http_cleanup();
    zt_net_client_global_cleanup();
    return rc;
}
