/* test_node_revoke.c: the operator's KEM key rotation and revocation
 * (`zentalk node rotate-key`, `zentalk node revoke`) against a
 * gateway+orchestrator with two workers joined by --join:
 *
 *  - rotate-key gives worker A's key file a new KEM key, same node id, and
 *    writes the old key's signed revocation; A restarted on its data joins
 *    with the new key; posting the old key's revocation (node revoke
 *    --record) leaves A live and working (chats run on it);
 *  - node revoke --node-key --yes of worker B: its session ends at once,
 *    its re-joins are refused (never live again), chats run on A; without
 *    --yes it is a usage error;
 *  - forged revocations over HTTP (junk, a changed signature) are refused
 *    and change nothing;
 *  - the orchestrator restarted on its data still refuses B;
 *  - B is listed `revoked` (not `expired`) by the JSON and `zentalk nodes`.
 * Usage: test_node_revoke PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

static const char *cli_bin;
static bool have_model;
static char cfg_dir[256];
static struct node gw, wa, wb;
static char id_a[64], id_b[64];

static const char *const gw_env[] = {"ZENTALK_ORCHESTRATOR_HEARTBEAT_EXPIRY_MS=3000",
                                     "ZENTALK_ORCHESTRATOR_VERIFICATION_ENABLED=false", NULL};
static const char *const wk_env[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", NULL};

static void spawn_worker(struct node *n, char id[64], const char *listen, const char *dir)
{
    net_worker(n, cfg_dir, gw.url, wk_env, listen, dir, id);
}

/* node id's state in the orchestrator's list ("" when unknown); its
 * joined_ms into *joined when not NULL. */
static const char *state_at(const char *id, long long *joined)
{
    static char st[16];
    struct resp r;
    http(gw.port, "GET", "/v1/orchestrator/nodes", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    size_t i;
    json_t *n;
    st[0] = '\0';
    json_array_foreach(json_object_get(j, "nodes"), i, n) {
        if (zt_str_eq(json_string_value(json_object_get(n, "node_id")), id)) {
            zt_strlcpy(st, json_string_value(json_object_get(n, "state")), sizeof st);
            if (joined) *joined = (long long)json_integer_value(json_object_get(n, "joined_ms"));
        }
    }
    json_decref(j);
    resp_free(&r);
    return st;
}

static const char *state_of(const char *id)
{
    return state_at(id, NULL);
}

static bool wait_state(const char *id, const char *want, int ms)
{
    for (int t = 0; t < ms; t += 100) {
        if (zt_str_eq(state_of(id), want)) return true;
        zt_time_sleep_ms(100);
    }
    return false;
}

/* A chat; the worker it ran on into ran (64 bytes). */
static long chat(char *ran)
{
    struct resp r;
    http(gw.port, "POST", "/v1/chat/completions", "application/json",
         "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],\"max_tokens\":6}",
         &r);
    json_t *j = resp_json(&r);
    const char *w = json_string_value(json_object_get(json_object_get(j, "zentalk"), "ran_on"));
    zt_strlcpy(ran, w ? w : "", 64);
    long st = r.status;
    json_decref(j);
    resp_free(&r);
    return st;
}

static int cli(const char *const *args, struct zt_buf *out)
{
    zt_buf_reset(out);
    return run_prog(cli_bin, args, NULL, NULL, out, 0);
}

static int group_setup(void **state)
{
    (void)state;
    if (!net_config(cfg_dir, sizeof cfg_dir, "revcfg", 2)) return 0;
    have_model = true;
    const char *const gargs[] = {"--roles", "gateway,orchestrator", NULL};
    node_spawn(&gw, gargs, gw_env, true, NULL);
    spawn_worker(&wa, id_a, NULL, NULL);
    spawn_worker(&wb, id_b, NULL, NULL);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (wa.pid > 0) node_cleanup(&wa);
    if (wb.pid > 0) node_cleanup(&wb);
    if (gw.pid > 0) node_cleanup(&gw);
    if (cfg_dir[0]) rm_rf(cfg_dir);
    return 0;
}

static void test_rotate_and_revoke(void **state)
{
    (void)state;
    if (!have_model) zt_skip("stories260K.gguf not found (tests/models)");
    assert_true(wait_state(id_a, "live", 20000));
    assert_true(wait_state(id_b, "live", 20000));
    struct zt_buf out;
    zt_buf_init(&out, 1u << 20);
    char rev[400];
    snprintf(rev, sizeof rev, "%s/old-kem.revocation", wa.dir);

    /* rotate A's KEM key: same id, new key, the old one's revocation written */
    const char *const rot[] = {"node", "rotate-key", "--data-dir", wa.data_dir, "--revocation", rev, "--json", NULL};
    assert_int_equal(cli(rot, &out), 0);
    json_t *j = json_loads(zt_buf_str(&out), 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "node_id")), id_a);
    assert_string_not_equal(json_string_value(json_object_get(j, "kem_pk")),
                            json_string_value(json_object_get(j, "old_kem_pk")));
    json_decref(j);
    /* A restarted on its data and port: joins with the new key (a new join) */
    long long joined0 = 0, joined1 = 0;
    state_at(id_a, &joined0);
    char dir[256], listen[64];
    zt_strlcpy(dir, wa.dir, sizeof dir);
    snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)wa.port);
    assert_int_equal(kill(wa.pid, SIGKILL), 0);
    assert_int_equal(node_wait(&wa, 10000), 128 + SIGKILL);
    node_cleanup(&wa);
    char id[64];
    spawn_worker(&wa, id, listen, dir);
    assert_string_equal(id, id_a);
    for (int t = 0; t < 200 && (!zt_str_eq(state_at(id_a, &joined1), "live") || joined1 == joined0); t++)
        zt_time_sleep_ms(100);
    assert_string_equal(state_of(id_a), "live");
    assert_true(joined1 != joined0);
    /* the old key revoked: A (on the new one) stays live and works */
    const char *const post[] = {"node", "revoke", "--record", rev, "--url", gw.url, "--json", NULL};
    assert_int_equal(cli(post, &out), 0);
    assert_non_null(strstr(zt_buf_str(&out), "kem_key"));
    zt_time_sleep_ms(600); /* several heartbeats: the session is the new key's, it stays */
    assert_string_equal(state_at(id_a, &joined0), "live");
    assert_true(joined0 == joined1);
    char ran[64];
    assert_int_equal(chat(ran), 200);

    /* B's whole key: without --yes a usage error; with it, B is out for good */
    const char *const no[] = {"node", "revoke", "--node-key", "--data-dir", wb.data_dir, "--url", gw.url, NULL};
    assert_int_equal(cli(no, &out), 2);
    assert_string_equal(state_of(id_b), "live");
    const char *const yes[] = {"node", "revoke", "--node-key", "--yes", "--data-dir", wb.data_dir, "--url", gw.url,
                               NULL};
    assert_int_equal(cli(yes, &out), 0);
    assert_non_null(strstr(zt_buf_str(&out), "node_key"));
    assert_string_not_equal(state_of(id_b), "live");
    zt_time_sleep_ms(1500); /* its heartbeats get 404, its re-joins 403 */
    assert_string_equal(state_of(id_b), "revoked"); /* not "expired": the list says why */
    const char *const nodes[] = {"nodes", "--url", gw.url, NULL};
    assert_int_equal(cli(nodes, &out), 0);
    const char *line = strstr(zt_buf_str(&out), id_b);
    assert_non_null(line);
    assert_non_null(strstr(line, "revoked"));
    for (int i = 0; i < 4; i++) {
        assert_int_equal(chat(ran), 200);
        assert_string_equal(ran, id_a);
    }

    /* forged revocations change nothing */
    struct resp r;
    http(gw.port, "POST", "/v1/orchestrator/revoke", "application/json", "{\"kind\":\"zentalk-revocation\"}", &r);
    assert_int_equal(r.status, 400);
    resp_free(&r);
    char *text = NULL;
    FILE *f = fopen(rev, "r");
    assert_non_null(f);
    char buf[1100];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    text = strstr(buf, "\"at\":");
    assert_non_null(text);
    text[5] = text[5] == '1' ? '2' : '1'; /* another time: the signature no longer covers it */
    http(gw.port, "POST", "/v1/orchestrator/revoke", "application/json", buf, &r);
    assert_int_equal(r.status, 403);
    resp_free(&r);
    assert_string_equal(state_of(id_a), "live");

    /* the orchestrator restarted on its data: B is still refused */
    zt_strlcpy(dir, gw.dir, sizeof dir);
    snprintf(listen, sizeof listen, "127.0.0.1:%u", (unsigned)gw.port);
    assert_int_equal(kill(gw.pid, SIGKILL), 0);
    assert_int_equal(node_wait(&gw, 10000), 128 + SIGKILL);
    node_cleanup(&gw);
    const char *const gargs[] = {"--roles", "gateway,orchestrator", "--listen", listen, NULL};
    node_spawn(&gw, gargs, gw_env, true, dir);
    assert_true(wait_state(id_a, "live", 10000));
    zt_time_sleep_ms(1000);
    assert_string_equal(state_of(id_b), "revoked");
    zt_buf_deinit(&out);
}

int main(int argc, char **argv)
{
    if (argc > 1) node_bin = argv[1];
    if (argc > 2) cli_bin = argv[2];
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_rotate_and_revoke)};
    return zt_test_exit(cmocka_run_group_tests(tests, group_setup, group_teardown));
}
