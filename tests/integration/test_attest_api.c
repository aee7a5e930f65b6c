/* test_attest_api.c: GET /v1/attestation/report and `zentalk attest`,
 * against the real zentalk-node on 127.0.0.1.
 *
 * The report must verify (zt_attest_verify) with our nonce, carry the node's
 * id and the SHA-256 of the zentalk-node file that runs, and a bad nonce is
 * 400. With tests/models/stories260K.gguf the model is loaded and
 * its file's SHA-256 must appear in the report.
 * Usage: test_attest_api PATH/zentalk-node PATH/zentalk */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "zentalk/zt_attest.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_str.h"

static const char *cli_bin;
static char model_path[1024];
static char cfg_dir[256];
static struct node nd;

static const char NONCE[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static void file_sha256(const char *path, char hex[static 2 * ZT_SHA256_LEN + 1])
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    struct zt_sha256_ctx c;
    zt_sha256_init(&c);
    static char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) zt_sha256_update(&c, buf, (size_t)n);
    assert_int_equal(n, 0);
    close(fd);
    uint8_t h[ZT_SHA256_LEN];
    zt_sha256_final(&c, h);
    zt_hex_encode(hex, h, sizeof h);
}

static int group_setup(void **state)
{
    (void)state;
    const char *const *args = NULL;
    static const char *cfg_args[] = {"--config", cfg_dir, NULL};
    if (model_path[0]) {
        tmp_dir(cfg_dir, sizeof cfg_dir, "attcfg");
        char p[400];
        snprintf(p, sizeof p, "%s/models.yaml", cfg_dir);
        FILE *f = fopen(p, "w");
        assert_non_null(f);
        fprintf(f, "models:\n  - id: stories\n    path: %s\n    context_size: 256\n", model_path);
        fclose(f);
        args = cfg_args;
    }
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
    if (cfg_dir[0]) rm_rf(cfg_dir);
    return st == 0 ? 0 : -1;
}

static void get_report(const char *nonce, struct resp *r)
{
    char path[512];
    snprintf(path, sizeof path, "/v1/attestation/report?nonce=%s", nonce);
    http(nd.port, "GET", path, NULL, NULL, r);
}

static void status_node_id(char out[static ZT_IDENTITY_ID_SIZE])
{
    struct resp r;
    http(nd.port, "GET", "/v1/status", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    zt_strlcpy(out, json_string_value(json_object_get(j, "node_id")), ZT_IDENTITY_ID_SIZE);
    json_decref(j);
    resp_free(&r);
}

static void test_report_verifies(void **state)
{
    (void)state;
    struct resp r;
    get_report(NONCE, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(zt_buf_str(&r.headers), "Cache-Control: no-store"));
    struct zt_attest_report rep;
    assert_int_equal(zt_attest_verify(zt_buf_str(&r.body), r.body.len, NONCE, &rep), 0);
    assert_string_equal(rep.type, "software");
    assert_string_equal(rep.nonce, NONCE);
    char id[ZT_IDENTITY_ID_SIZE];
    status_node_id(id);
    assert_string_equal(rep.node_id, id);
    /* the hash of the binary that runs */
    char want[2 * ZT_SHA256_LEN + 1], got[2 * ZT_SHA256_LEN + 1];
    file_sha256(node_bin, want);
    zt_hex_encode(got, rep.binary_sha256, sizeof rep.binary_sha256);
    assert_string_equal(got, want);
    assert_true(strncmp(rep.engine, "zentalk-engine/", 15) == 0);
    assert_int_equal(rep.n_models, 0); /* nothing loaded yet */
    /* another nonce: not this report's */
    assert_int_equal(zt_attest_verify(zt_buf_str(&r.body), r.body.len,
                                      "ffffffffffffffffffffffffffffffff", NULL),
                     ZT_ETIMEDOUT);
    zt_attest_report_deinit(&rep);
    resp_free(&r);

    /* upper-case nonce: answered in lower case */
    char upper[sizeof NONCE];
    for (size_t i = 0; i < sizeof NONCE; i++)
        upper[i] = (NONCE[i] >= 'a' && NONCE[i] <= 'f') ? (char)(NONCE[i] - 32) : NONCE[i];
    get_report(upper, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(zt_attest_verify(zt_buf_str(&r.body), r.body.len, upper, NULL), 0);
    resp_free(&r);
}

static void test_bad_nonce(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "0123456789abcdef0123456789abcde",   /* 31 digits */
        "0123456789abcdef0123456789abcdef0", /* odd */
        "0123456789abcdef0123456789abcdeg",  /* not hex */
        ("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
         "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef00"), /* 65 bytes */
    };
    struct resp r;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        get_report(bad[i], &r);
        assert_error_json(&r, 400, "invalid_request");
        resp_free(&r);
    }
    http(nd.port, "GET", "/v1/attestation/report", NULL, NULL, &r);
    assert_error_json(&r, 400, "invalid_request");
    resp_free(&r);
    http(nd.port, "POST", "/v1/attestation/report?nonce=0123456789abcdef0123456789abcdef", NULL, NULL, &r);
    assert_int_equal(r.status, 405);
    resp_free(&r);
}

static void test_loaded_model_hash(void **state)
{
    (void)state;
    if (!model_path[0]) {
        zt_skip("stories260K.gguf not found (tests/models)");
    }
    struct resp r;
    http(nd.port, "POST", "/v1/completions", "application/json",
         "{\"prompt\":\"Once\",\"max_tokens\":1,\"temperature\":0}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    char want[2 * ZT_SHA256_LEN + 1], got[2 * ZT_SHA256_LEN + 1];
    file_sha256(model_path, want);
    for (int round = 0; round < 2; round++) { /* computed, then cached */
        get_report(NONCE, &r);
        assert_int_equal(r.status, 200);
        struct zt_attest_report rep;
        assert_int_equal(zt_attest_verify(zt_buf_str(&r.body), r.body.len, NONCE, &rep), 0);
        assert_int_equal(rep.n_models, 1);
        assert_string_equal(rep.models[0].id, "stories");
        zt_hex_encode(got, rep.models[0].sha256, ZT_SHA256_LEN);
        assert_string_equal(got, want);
        zt_attest_report_deinit(&rep);
        resp_free(&r);
    }
}

/* Run cmd; its stdout into out; returns the exit status. */

static void test_cli_attest(void **state)
{
    (void)state;
    char cmd[1024], out[8192], id[ZT_IDENTITY_ID_SIZE], bin[2 * ZT_SHA256_LEN + 1];
    status_node_id(id);
    file_sha256(node_bin, bin);

    snprintf(cmd, sizeof cmd, "'%s' attest http://127.0.0.1:%u", cli_bin, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, id));
    assert_non_null(strstr(out, bin));
    assert_non_null(strstr(out, "type: software"));
    assert_non_null(strstr(out, "not the hardware it runs on"));

    snprintf(cmd, sizeof cmd, "'%s' attest --url http://127.0.0.1:%u --nonce %s --expect-binary %s --json",
             cli_bin, nd.port, NONCE, bin);
    assert_int_equal(run_shell(cmd, out, sizeof out), 0);
    assert_int_equal(zt_attest_verify(out, strlen(out), NONCE, NULL), 0);

    /* checks that fail: exit 1 */
    snprintf(cmd, sizeof cmd,
             "'%s' attest http://127.0.0.1:%u --expect-binary "
             "0000000000000000000000000000000000000000000000000000000000000000 2>&1",
             cli_bin, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "FAILED"));
    snprintf(cmd, sizeof cmd, "'%s' attest http://127.0.0.1:1 2>/dev/null", cli_bin);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    /* not a node that answers the route: exit 1 */
    snprintf(cmd, sizeof cmd, "'%s' attest http://127.0.0.1:%u/nope 2>/dev/null", cli_bin, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 1);
    /* usage errors: exit 2 */
    snprintf(cmd, sizeof cmd, "'%s' attest http://127.0.0.1:%u --nonce 00 2>/dev/null", cli_bin, nd.port);
    assert_int_equal(run_shell(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "'%s' attest --bogus 2>/dev/null", cli_bin);
    assert_int_equal(run_shell(cmd, out, sizeof out), 2);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: test_attest_api ZENTALK_NODE ZENTALK\n");
        return 2;
    }
    node_bin = argv[1];
    cli_bin = argv[2];
    signal(SIGPIPE, SIG_IGN);
    (void)find_test_model("stories260K.gguf", model_path, sizeof model_path);
    char *abs = access(model_path, R_OK) == 0 ? realpath(model_path, NULL) : NULL;
    model_path[0] = '\0';
    if (abs) {
        zt_strlcpy(model_path, abs, sizeof model_path);
        free(abs);
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_verifies),
        cmocka_unit_test(test_bad_nonce),
        cmocka_unit_test(test_loaded_model_hash),
        cmocka_unit_test(test_cli_attest),
    };
    int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
    curl_global_cleanup();
    return zt_test_exit(rc);
}
