/* test_gdpr_api.c: POST /v1/privacy/export and /v1/privacy/erase, and
 * `zentalk privacy export|erase`, against a real zentalk-node with JWT
 * authentication: a user exports and erases only their own identity (403
 * for another), an admin names any; bad bodies are 400; the export holds
 * the user's search messages and audit entries (by pseudonym) and says
 * which categories the node does not keep; erase is idempotent and leaves
 * other users alone; export after erase finds nothing; the audit log never
 * holds a user's identity in clear. Then the retention sweeper: a node
 * with privacy.sweep_interval_s 1 deletes old files under data_dir/temp
 * and keeps fresh ones.
 * Usage: test_gdpr_api PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define SECRET "gdpr-integration-secret-abcdefghijklmnopqrstuvwxyz0123"

static const char *cli_bin;
static struct node nd;
static char *t_alice, *t_bob, *t_admin;
static bool have_glove;

static void post(const char *token, const char *path, const char *body, struct resp *r)
{
    char auth[1024];
    if (token) snprintf(auth, sizeof auth, "Bearer %s", token);
    http_auth(nd.port, "POST", path, token ? auth : NULL, "application/json", body, r);
}

/* POST as the holder of token (NULL: none); the answer must be want. */
static json_t *post_as(const char *token, const char *path, const char *body, long want)
{
    char auth[1024];
    if (token) snprintf(auth, sizeof auth, "Bearer %s", token);
    return post_json(nd.port, path, token ? auth : NULL, body, want);
}

static size_t n_docs(json_t *exp)
{
    json_t *d = json_object_get(json_object_get(json_object_get(exp, "data"), "search_documents"), "items");
    return json_array_size(d);
}

static json_int_t n_audit(json_t *exp)
{
    return json_integer_value(json_object_get(json_object_get(json_object_get(exp, "data"), "audit_entries"), "count"));
}

static int group_setup(void **state)
{
    (void)state;
    char p[1024];
    const char *d = getenv("ZENTALK_ASSETS_DIR");
    snprintf(p, sizeof p, "%s/glove.zta", d ? d : "data/assets");
    have_glove = access(p, R_OK) == 0;
    if (!have_glove) zt_skip_part("%s missing: the search parts of the tests (run `make data`)", p);
    static const char *const env[] = {"ZENTALK_ENCRYPTION_JWT_SECRET=" SECRET, NULL};
    node_spawn(&nd, NULL, env, true, NULL);
    t_alice = jwt_mint(SECRET, "alice@example.org", "user", 600);
    t_bob = jwt_mint(SECRET, "bob@example.org", "user", 600);
    t_admin = jwt_mint(SECRET, "ops-admin", "admin", 600);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    kill(nd.pid, SIGTERM);
    int st = node_wait(&nd, 20000);
    node_cleanup(&nd);
    rm_rf(nd.dir);
    free(t_alice);
    free(t_bob);
    free(t_admin);
    return st == 0 ? 0 : -1;
}

static void test_auth_and_bodies(void **state)
{
    (void)state;
    struct resp r;
    post(t_alice, "/v1/privacy/export", "{\"identity\":\"bob@example.org\"}", &r);
    assert_error_json(&r, 403, "forbidden");
    resp_free(&r);
    post(t_alice, "/v1/privacy/erase", "{\"identity\":\"bob@example.org\"}", &r);
    assert_error_json(&r, 403, "forbidden");
    resp_free(&r);
    post(t_alice, "/v1/privacy/export", "{\"identity\":1}", &r);
    assert_error_json(&r, 400, "invalid_request");
    resp_free(&r);
    post(t_alice, "/v1/privacy/export", "{\"who\":\"x\"}", &r);
    assert_error_json(&r, 400, "invalid_request");
    resp_free(&r);
    post(t_alice, "/v1/privacy/erase", "{\"identity\":\"\"}", &r);
    assert_error_json(&r, 400, "invalid_request");
    resp_free(&r);
    post(t_alice, "/v1/privacy/export", "[]", &r);
    assert_error_json(&r, 400, "invalid_json");
    resp_free(&r);
    /* no token on a node with a JWT secret: a user without identity */
    post(NULL, "/v1/privacy/export", "{}", &r);
    assert_error_json(&r, 400, "identity_required");
    resp_free(&r);
    post(NULL, "/v1/privacy/export", "{\"identity\":\"alice@example.org\"}", &r);
    assert_error_json(&r, 403, "forbidden");
    resp_free(&r);
    /* a forged token */
    post("eyJhbGciOiJIUzI1NiJ9.e30.x", "/v1/privacy/export", "{}", &r);
    assert_int_equal(r.status, 401);
    resp_free(&r);
}

static void test_export_erase(void **state)
{
    (void)state;
    if (have_glove) {
        json_decref(post_as(t_alice, "/v1/search/index",
                              "{\"user\":\"alice@example.org\",\"messages\":[{\"id\":\"a1\",\"text\":\"the blue "
                              "bicycle is in the garage\"},{\"id\":\"a2\",\"text\":\"dinner at eight\"}]}",
                              200));
        json_decref(post_as(t_bob, "/v1/search/index",
                              "{\"user\":\"bob@example.org\",\"id\":\"b1\",\"text\":\"my red kayak\"}", 200));
    }
    json_t *e = post_as(t_alice, "/v1/privacy/export", "{}", 200);
    assert_string_equal(json_string_value(json_object_get(e, "identity")), "alice@example.org");
    assert_string_equal(json_string_value(json_object_get(e, "format")), "zentalk-privacy-export-v1");
    assert_true(json_is_string(json_object_get(e, "node_id")));
    if (have_glove) {
        assert_int_equal(n_docs(e), 2);
        json_t *d0 = json_array_get(
            json_object_get(json_object_get(json_object_get(e, "data"), "search_documents"), "items"), 1);
        assert_string_equal(json_string_value(json_object_get(d0, "id")), "a1");
        assert_string_equal(json_string_value(json_object_get(d0, "text")), "the blue bicycle is in the garage");
    }
    assert_true(n_audit(e) >= 1);
    json_t *au = json_object_get(json_object_get(e, "data"), "audit_entries");
    const char *ps = json_string_value(json_object_get(au, "pseudonym"));
    assert_non_null(ps);
    assert_true(zt_str_starts_with(ps, "p:"));
    json_t *nk = json_object_get(e, "not_kept");
    assert_true(json_is_false(json_object_get(json_object_get(nk, "ledger"), "kept")));
    assert_non_null(json_string_value(json_object_get(json_object_get(nk, "ledger"), "reason")));
    /* JWT identities have no node session */
    assert_true(json_is_false(json_object_get(json_object_get(json_object_get(e, "data"), "sessions"), "kept")));
    char pseudonym[64];
    zt_strlcpy(pseudonym, ps, sizeof pseudonym);
    json_decref(e);

    /* the admin names alice, and sees the same messages */
    e = post_as(t_admin, "/v1/privacy/export", "{\"identity\":\"alice@example.org\"}", 200);
    if (have_glove) assert_int_equal(n_docs(e), 2);
    json_decref(e);

    /* erase alice */
    e = post_as(t_alice, "/v1/privacy/erase", "{}", 200);
    json_t *er = json_object_get(e, "erased");
    assert_int_equal(json_integer_value(json_object_get(er, "search_documents")), have_glove ? 2 : 0);
    assert_true(json_is_true(json_object_get(er, "audit_salt_destroyed")));
    assert_true(json_integer_value(json_object_get(er, "audit_entries_unlinked")) >= 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "kept"), "audit_entries_with_clear_identity")), 0);
    json_decref(e);
    /* export after erase: nothing of alice; bob untouched */
    e = post_as(t_admin, "/v1/privacy/export", "{\"identity\":\"alice@example.org\"}", 200);
    assert_int_equal(n_docs(e), 0);
    assert_int_equal(n_audit(e), 0);
    json_decref(e);
    e = post_as(t_alice, "/v1/privacy/export", "{}", 200);
    assert_int_equal(n_docs(e), 0);
    /* the admin's export above is the admin's entry, not alice's; alice's
     * new requests have a new pseudonym */
    au = json_object_get(json_object_get(e, "data"), "audit_entries");
    assert_true(json_integer_value(json_object_get(au, "count")) <= 1);
    const char *ps2 = json_string_value(json_object_get(au, "pseudonym"));
    if (ps2) assert_string_not_equal(ps2, pseudonym);
    json_decref(e);
    e = post_as(t_bob, "/v1/privacy/export", "{}", 200);
    if (have_glove) assert_int_equal(n_docs(e), 1);
    json_decref(e);
    /* idempotent */
    e = post_as(t_alice, "/v1/privacy/erase", "{}", 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "erased"), "search_documents")), 0);
    json_decref(e);
    /* the admin erases bob */
    e = post_as(t_admin, "/v1/privacy/erase", "{\"identity\":\"bob@example.org\"}", 200);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "erased"), "search_documents")),
                     have_glove ? 1 : 0);
    json_decref(e);

    /* the audit log never names alice or bob in clear; the old pseudonym
     * entries stay (the chain cannot be edited) */
    zt_time_sleep_ms(100);
    char adir[600];
    snprintf(adir, sizeof adir, "%s/logs/audit", nd.data_dir);
    DIR *d = opendir(adir);
    assert_non_null(d);
    struct dirent *de;
    bool saw_old = false, saw_erase = false;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        char p[900];
        snprintf(p, sizeof p, "%s/%s", adir, de->d_name);
        FILE *f = fopen(p, "rb");
        assert_non_null(f);
        static char buf[1 << 20];
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        assert_null(strstr(buf, "alice@example.org"));
        assert_null(strstr(buf, "bob@example.org"));
        if (strstr(buf, pseudonym)) saw_old = true;
        if (strstr(buf, "\"route\":\"/v1/privacy/erase\"")) saw_erase = true;
    }
    closedir(d);
    assert_true(saw_old);
    assert_true(saw_erase);
}

static int cli(const char *token, const char *const *args, struct zt_buf *out)
{
    char tok[2048];
    if (token) snprintf(tok, sizeof tok, "ZENTALK_TOKEN=%s", token);
    const char *const env[] = {token ? tok : "ZENTALK_TOKEN", NULL};
    return run_prog(cli_bin, args, env, NULL, out, RUN_MERGE_STDERR);
}

static void test_cli(void **state)
{
    (void)state;
    if (!cli_bin) skip();
    char url[64], file[400];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", nd.port);
    snprintf(file, sizeof file, "%s/export.json", nd.dir);
    if (have_glove)
        json_decref(post_as(t_bob, "/v1/search/index",
                              "{\"user\":\"bob@example.org\",\"id\":\"b2\",\"text\":\"the green tent\"}", 200));
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    const char *const exp[] = {"privacy", "export", "--url", url, "--out", file, NULL};
    assert_int_equal(cli(t_bob, exp, &out), 0);
    struct stat st;
    assert_int_equal(stat(file, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    json_t *j = json_load_file(file, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "identity")), "bob@example.org");
    if (have_glove) assert_int_equal(n_docs(j), 1);
    json_decref(j);
    /* another identity with a user token: the node's 403 */
    zt_buf_reset(&out);
    const char *const other[] = {"privacy", "export", "--url", url, "--identity", "alice@example.org", NULL};
    assert_int_equal(cli(t_bob, other, &out), 1);
    assert_non_null(strstr(zt_buf_str(&out), "403"));
    /* erase needs --yes */
    zt_buf_reset(&out);
    const char *const noyes[] = {"privacy", "erase", "--url", url, NULL};
    assert_int_equal(cli(t_bob, noyes, &out), 2);
    zt_buf_reset(&out);
    const char *const er[] = {"privacy", "erase", "--url", url, "--yes", NULL};
    assert_int_equal(cli(t_bob, er, &out), 0);
    assert_non_null(strstr(zt_buf_str(&out), "erased bob@example.org"));
    assert_non_null(strstr(zt_buf_str(&out), have_glove ? "1 search messages" : "0 search messages"));
    zt_buf_reset(&out);
    const char *const bad[] = {"privacy", "frobnicate", NULL};
    assert_int_equal(cli(t_bob, bad, &out), 2);
    zt_buf_deinit(&out);
}

/* ---- the retention sweeper ---------------------------------------------- */

static void test_sweeper(void **state)
{
    (void)state;
    char dir[64];
    tmp_dir(dir, sizeof dir, "sweep");
    char temp[400], old_f[500], new_f[500];
    snprintf(temp, sizeof temp, "%s/data/temp", dir);
    char data[300];
    snprintf(data, sizeof data, "%s/data", dir);
    assert_int_equal(mkdir(data, 0700), 0);
    assert_int_equal(mkdir(temp, 0700), 0);
    put_file(temp, "old.part", "old");
    put_file(temp, "new.part", "new");
    snprintf(old_f, sizeof old_f, "%s/old.part", temp);
    snprintf(new_f, sizeof new_f, "%s/new.part", temp);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 3 * 3600;
    tv[1] = tv[0];
    assert_int_equal(utimes(old_f, tv), 0);
    put_file(dir, "privacy.yaml", "privacy:\n  sweep_interval_s: 1\n  retention_temp_hours: 2\n");
    const char *const args[] = {"--config", dir, NULL};
    struct node n;
    node_spawn(&n, args, NULL, true, dir);
    /* the first sweep runs at start */
    for (int i = 0; i < 200 && access(old_f, F_OK) == 0; i++) zt_time_sleep_ms(10);
    assert_int_not_equal(access(old_f, F_OK), 0);
    assert_int_equal(access(new_f, F_OK), 0);
    /* and again every second */
    put_file(temp, "later.part", "x");
    char later[500];
    snprintf(later, sizeof later, "%s/later.part", temp);
    assert_int_equal(utimes(later, tv), 0);
    for (int i = 0; i < 300 && access(later, F_OK) == 0; i++) zt_time_sleep_ms(10);
    assert_int_not_equal(access(later, F_OK), 0);
    assert_int_equal(access(new_f, F_OK), 0);
    /* the loopback operator of a node without a JWT secret is admin, with
     * no identity of its own */
    struct resp r;
    http(n.port, "POST", "/v1/privacy/export", "application/json", "{\"identity\":\"carol\"}", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(zt_buf_str(&r.body), "\"identity\":\"carol\""));
    resp_free(&r);
    http(n.port, "POST", "/v1/privacy/erase", "application/json", "{}", &r);
    assert_error_json(&r, 400, "identity_required");
    resp_free(&r);
    http(n.port, "POST", "/v1/privacy/erase", "application/json", "{\"identity\":\"carol\"}", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* stopped cleanly at shutdown */
    uint64_t t0 = zt_time_mono_ms();
    kill(n.pid, SIGTERM);
    assert_int_equal(node_wait(&n, 20000), 0);
    assert_true(zt_time_mono_ms() - t0 < 5000);
    node_cleanup(&n);
    rm_rf(dir);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/zentalk-node [PATH/zentalk]\n", argv[0]);
        return 2;
    }
    node_bin = argv[1];
    cli_bin = argc > 2 ? argv[2] : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_auth_and_bodies),
        cmocka_unit_test(test_export_erase),
        cmocka_unit_test(test_cli),
        cmocka_unit_test(test_sweeper),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
