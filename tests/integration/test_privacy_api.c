/* test_privacy_api.c: POST /v1/privacy/pii, `zentalk pii`, the audit log
 * the node writes and `zentalk audit verify`, and telemetry hygiene (a
 * canary string sent to the node appears in none of its log file, audit
 * log or /metrics, nor in base64 or hex), against the real zentalk-node.
 * Usage: test_privacy_api PATH/zentalk-node PATH/zentalk */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "zentalk/zt_str.h"

static const char *cli_bin;
static char cfg_dir[256];
static char log_path[400];
static struct node nd;

static int group_setup(void **state)
{
    (void)state;
    tmp_dir(cfg_dir, sizeof cfg_dir, "privcfg");
    snprintf(log_path, sizeof log_path, "%s/node.log", cfg_dir);
    char cfg[1024];
    /* debug level: even debug lines must not carry content */
    snprintf(cfg, sizeof cfg, "log:\n  level: debug\n  file: %s\n", log_path);
    put_file(cfg_dir, "config.yaml", cfg);
    put_file(cfg_dir, "privacy.yaml",
             "privacy:\n"
             "  pii_max_text_bytes: 2048\n"
             "  audit_max_bytes: 4096\n"
             "  audit_checkpoint_entries: 3\n"
             "  extra_patterns:\n"
             "    - type: TICKET\n"
             "      regex: 'TCK-[0-9]{6}'\n"
             "  policies:\n"
             "    - {feature: chat, type: CARD, action: local_only}\n");
    static const char *args[] = {"--config", cfg_dir, NULL};
    args[1] = cfg_dir;
    node_spawn(&nd, args, NULL, true, NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    kill(nd.pid, SIGTERM);
    int st = node_wait(&nd, 20000);
    node_cleanup(&nd);
    rm_rf(nd.dir);
    rm_rf(cfg_dir);
    return st == 0 ? 0 : -1;
}

static void post_pii(const char *body, struct resp *r)
{
    http(nd.port, "POST", "/v1/privacy/pii", "application/json", body, r);
}

static void test_pii_ok(void **state)
{
    (void)state;
    struct resp r;
    post_pii("{\"text\":\"Mail alice@example.com or alice@example.com, card 4111 1111 1111 1111, ticket "
             "TCK-123456, from 192.0.2.1\"}",
             &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "pseudonymised")),
                        "Mail <EMAIL_1> or <EMAIL_1>, card <CARD_1>, ticket <TICKET_1>, from <IP_1>");
    json_t *hits = json_object_get(j, "hits");
    assert_int_equal(json_array_size(hits), 5);
    json_t *h0 = json_array_get(hits, 0);
    assert_string_equal(json_string_value(json_object_get(h0, "type")), "EMAIL");
    assert_int_equal(json_integer_value(json_object_get(h0, "start")), 5);
    assert_int_equal(json_integer_value(json_object_get(h0, "end")), 22);
    assert_true(json_real_value(json_object_get(h0, "confidence")) == 1.0);
    assert_int_equal(json_array_size(json_object_get(j, "types")), 4);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "pseudonymise");
    json_decref(j);
    resp_free(&r);
    /* the policy for chat keeps cards local */
    post_pii("{\"text\":\"4111111111111111\",\"feature\":\"chat\"}", &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "local_only");
    json_decref(j);
    resp_free(&r);
    /* nothing found */
    post_pii("{\"text\":\"hello, nothing here: 2024-01-15 $12.50\"}", &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    assert_int_equal(json_array_size(json_object_get(j, "hits")), 0);
    assert_string_equal(json_string_value(json_object_get(j, "decision")), "allow");
    json_decref(j);
    resp_free(&r);
}

/* PERSON_NAME (issue 16): the node loads names.zta from the assets
 * directory into the privacy gate; a name with a cue is found and masked
 * (default_policy pseudonymise), "Will you come?" is not a name. */
static void test_pii_names(void **state)
{
    (void)state;
    const char *dir = getenv("ZENTALK_ASSETS_DIR");
    char a[4096];
    snprintf(a, sizeof a, "%s/names.zta", dir ? dir : "data/assets");
    if (access(a, R_OK) != 0) zt_skip("%s missing (run `make data`)", a);
    struct resp r;
    post_pii("{\"text\":\"Carol, can you send the deck?\"}", &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    json_t *h0 = json_array_get(json_object_get(j, "hits"), 0);
    assert_non_null(h0);
    assert_string_equal(json_string_value(json_object_get(h0, "type")), "PERSON_NAME");
    assert_int_equal(json_integer_value(json_object_get(h0, "start")), 0);
    assert_int_equal(json_integer_value(json_object_get(h0, "end")), 5);
    assert_string_equal(json_string_value(json_object_get(j, "pseudonymised")),
                        "<PERSON_NAME_1>, can you send the deck?");
    json_decref(j);
    resp_free(&r);
    post_pii("{\"text\":\"Will you come?\"}", &r);
    assert_int_equal(r.status, 200);
    j = resp_json(&r);
    assert_int_equal(json_array_size(json_object_get(j, "hits")), 0);
    json_decref(j);
    resp_free(&r);
}

static void test_pii_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"text\":\"\"}",         "{}",
        "{\"text\":5}",            "{\"text\":[\"a\"]}",
        "{\"text\":null}",         "{\"text\":\"a\",\"extra\":1}",
        "{\"text\":\"a\",\"feature\":\"Bad Name\"}", "{\"text\":\"a\",\"feature\":7}",
    };
    struct resp r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        post_pii(bad[i], &r);
        assert_error_json(&r, 400, "invalid_request");
        resp_free(&r);
    }
    /* over privacy.pii_max_text_bytes (2048) */
    char big[3000];
    memcpy(big, "{\"text\":\"", 9);
    memset(big + 9, 'a', 2100);
    memcpy(big + 2109, "\"}", 3);
    post_pii(big, &r);
    assert_error_json(&r, 413, "too_large");
    resp_free(&r);
    post_pii("{\"text\":", &r);
    assert_error_json(&r, 400, "invalid_json");
    resp_free(&r);
    http(nd.port, "POST", "/v1/privacy/pii", "text/plain", "hello", &r);
    assert_int_equal(r.status, 415);
    resp_free(&r);
    http(nd.port, "GET", "/v1/privacy/pii", NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    resp_free(&r);
}


static void test_cli_pii(void **state)
{
    (void)state;
    char cmd[1024], out[8192];
    snprintf(cmd, sizeof cmd, "'%s' --url http://127.0.0.1:%u pii 'call +44 20 7946 0018 or bob@example.org'",
             cli_bin, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "PHONE"));
    assert_non_null(strstr(out, "call <PHONE_1> or <EMAIL_1>"));
    snprintf(cmd, sizeof cmd, "printf 'IBAN GB82 WEST 1234 5698 7654 32' | '%s' pii --url http://127.0.0.1:%u --json",
             cli_bin, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "\"pseudonymised\":\"IBAN <IBAN_1>\""));
    snprintf(cmd, sizeof cmd, "printf '' | '%s' pii --url http://127.0.0.1:%u 2>&1", cli_bin, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "must not be empty"));
    snprintf(cmd, sizeof cmd, "'%s' pii --bogus 2>/dev/null", cli_bin);
    assert_int_equal(run_shell(cmd, out, sizeof out), 2);
}

/* ---- telemetry hygiene ------------------------------------------------- */

static char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    struct zt_buf b;
    zt_buf_init(&b, 64u << 20);
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) assert_int_equal(zt_buf_append(&b, chunk, k), 0);
    fclose(f);
    return zt_buf_detach(&b, n);
}

static bool contains(const char *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; m && i + m <= n; i++)
        if (memcmp(hay + i, needle, m) == 0) return true;
    return false;
}

/* The canary and its encodings must be in none of: the log file, every
 * audit file, /metrics. */
static void assert_nowhere(const char *canary)
{
    char forms[4][512];
    zt_strlcpy(forms[0], canary, sizeof forms[0]);
    sodium_bin2base64(forms[1], sizeof forms[1], (const unsigned char *)canary, strlen(canary),
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    sodium_bin2hex(forms[2], sizeof forms[2], (const unsigned char *)canary, strlen(canary));
    sodium_bin2base64(forms[3], sizeof forms[3], (const unsigned char *)canary, strlen(canary),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    /* base64 of a prefix: a 3-byte aligned chunk of the canary */
    forms[1][24] = forms[3][24] = '\0';
    struct resp r;
    http(nd.port, "GET", "/metrics", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    char *texts[64];
    size_t lens[64], n = 0;
    texts[n] = zt_buf_detach(&r.body, &lens[n]);
    n++;
    resp_free(&r);
    texts[n] = slurp(log_path, &lens[n]);
    assert_non_null(texts[n]);
    assert_true(lens[n] > 0);
    n++;
    char adir[512];
    snprintf(adir, sizeof adir, "%s/logs/audit", nd.data_dir);
    DIR *d = opendir(adir);
    assert_non_null(d);
    struct dirent *e;
    size_t audit_files = 0;
    while ((e = readdir(d)) != NULL && n < 64) {
        if (e->d_name[0] == '.') continue;
        char p[800];
        snprintf(p, sizeof p, "%s/%s", adir, e->d_name);
        texts[n] = slurp(p, &lens[n]);
        assert_non_null(texts[n]);
        n++;
        audit_files++;
    }
    closedir(d);
    assert_true(audit_files >= 1);
    for (size_t i = 0; i < n; i++) {
        for (int f = 0; f < 4; f++) {
            if (contains(texts[i], lens[i], forms[f]))
                fail_msg("canary form %d (%s) found in source %zu", f, forms[f], i);
        }
        free(texts[i]);
    }
}

static void test_canary(void **state)
{
    (void)state;
    uint8_t rnd[8];
    randombytes_buf(rnd, sizeof rnd);
    char hex[17], canary[64], body[512];
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(canary, sizeof canary, "CANARY%sZQX", hex);
    struct resp r;
    /* in clear text, in an e-mail address, in a custom type, in a bad body,
     * as an unknown field and an oversized text */
    snprintf(body, sizeof body, "{\"text\":\"secret %s and %s@example.com TCK-123456\"}", canary, canary);
    post_pii(body, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(zt_buf_str(&r.body), "<EMAIL_1>"));
    resp_free(&r);
    snprintf(body, sizeof body, "{\"text\":\"%s\",\"%s\":1}", canary, canary);
    post_pii(body, &r);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    snprintf(body, sizeof body, "{\"text\": %s}", canary);
    post_pii(body, &r);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    snprintf(body, sizeof body, "{\"text\":\"%s\",\"feature\":\"%s\"}", canary, canary);
    post_pii(body, &r);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    /* the canary in the path and a header too */
    char path[128];
    snprintf(path, sizeof path, "/v1/privacy/%s", canary);
    http(nd.port, "GET", path, NULL, NULL, &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    usleep(200 * 1000); /* the access log line is written after the response */
    assert_nowhere(canary);
}

/* ---- audit ------------------------------------------------------------- */

static void test_audit_entries_verify(void **state)
{
    (void)state;
    /* enough requests to rotate (audit_max_bytes 4096) and checkpoint (every 3) */
    struct resp r;
    char rid[64] = "";
    for (int i = 0; i < 20; i++) {
        post_pii("{\"text\":\"call +33 1 23 45 67 89\"}", &r);
        assert_int_equal(r.status, 200);
        const char *h = strstr(zt_buf_str(&r.headers), "X-Request-Id: ");
        assert_non_null(h);
        memcpy(rid, h + 14, 16);
        rid[16] = '\0';
        resp_free(&r);
    }
    /* the last request's entry: route, status, request id, PII types; no content */
    char adir[512], p[800];
    snprintf(adir, sizeof adir, "%s/logs/audit", nd.data_dir);
    unsigned last = 0;
    for (unsigned i = 1; i < 1000; i++) {
        snprintf(p, sizeof p, "%s/audit-%06u.jsonl", adir, i);
        if (access(p, F_OK) == 0) last = i;
    }
    assert_true(last >= 2); /* rotated */
    snprintf(p, sizeof p, "%s/audit-%06u.jsonl", adir, last);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    size_t n;
    char *text = slurp(p, &n);
    assert_non_null(text);
    char *e = strstr(text, rid);
    assert_non_null(e);
    while (e > text && e[-1] != '\n') e--;
    assert_non_null(strstr(e, "\"route\":\"/v1/privacy/pii\""));
    assert_non_null(strstr(e, "\"pii\":[\"PHONE\"]"));
    assert_non_null(strstr(e, "\"status\":200"));
    assert_null(strstr(text, "23 45 67"));
    free(text);
    char cmd[4096], out[16384];
    snprintf(cmd, sizeof cmd, "'%s' audit verify --data-dir '%s'", cli_bin, nd.data_dir);
    int rc = run_shell(cmd, out, sizeof out);
    if (rc != 0) fprintf(stderr, "%s\n", out);
    assert_int_equal(rc, 0);
    assert_non_null(strstr(out, "OK: chain intact"));
    assert_non_null(strstr(out, "last valid checkpoint: seq"));
    /* with the public key given explicitly, and files named */
    char keyp[600];
    snprintf(keyp, sizeof keyp, "%s/node.key", nd.data_dir);
    snprintf(cmd, sizeof cmd, "'%s' audit verify --key '%s' '%s'/audit-*.jsonl", cli_bin, keyp, adir);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    /* a tampered copy: named */
    char tdir[300];
    snprintf(tdir, sizeof tdir, "%s/tampered", cfg_dir);
    snprintf(cmd, sizeof cmd,
             "mkdir -p '%s' && cp '%s'/audit-000001.jsonl '%s'/ && sed -i '2s/\"status\":200/\"status\":201/' "
             "'%s'/audit-000001.jsonl && '%s' audit verify --key '%s' '%s'/audit-000001.jsonl",
             tdir, adir, tdir, tdir, cli_bin, keyp, tdir);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "audit-000001.jsonl:2: seq 2: entry altered"));
    assert_non_null(strstr(out, "FAILED"));
    /* a wrong key: usage of another node's key fails every checkpoint */
    snprintf(cmd, sizeof cmd, "'%s' audit verify --pubkey %064d '%s'/audit-000001.jsonl", cli_bin, 0, adir);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "checkpoint signature invalid"));
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_privacy_api ZENTALK_NODE ZENTALK\n");
        return 2;
    }
    node_bin = argv[1];
    cli_bin = argv[2];
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0) return 1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pii_ok),
        cmocka_unit_test(test_pii_errors),
        cmocka_unit_test(test_cli_pii),
        cmocka_unit_test(test_canary),
        cmocka_unit_test(test_audit_entries_verify),
        cmocka_unit_test(test_pii_names),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    return zt_test_exit(rc);
}
