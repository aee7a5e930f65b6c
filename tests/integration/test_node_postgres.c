/* test_node_postgres.c: a node whose store is PostgreSQL (database.driver:
 * postgres; docs/deployment.md "PostgreSQL and Redis").
 * - With a real PostgreSQL (tests/common/zt_test_servers.h) the node
 *   starts, is ready, and its node store's tables are in that database
 *   (meta, the pseudonym salts of the audit log);
 * - a gateway+orchestrator on PostgreSQL and a worker that joins it with
 *   --join (stories260K): the worker's registry row and the chat's job
 *   row (done, on that worker) are in PostgreSQL;
 * - with an unreachable database it refuses to start and says why, and
 *   the URL's password is in neither its stderr nor its log.
 * Usage: test_node_postgres PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <libpq-fe.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_sched.h"
#include "zentalk/zt_time.h"
#include "zt_test_servers.h"

/* The first column of the first row of sql on the test database, as a
 * number (-1 when no row). */
static long pg_long(const char *db, const char *sql)
{
    PGconn *c = PQconnectdb(db);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    long v = PQntuples(r) > 0 ? strtol(PQgetvalue(r, 0, 0), NULL, 10) : -1;
    PQclear(r);
    PQfinish(c);
    return v;
}

static void test_store_on_postgres(void **state)
{
    (void)state;
    char db[700], env_url[800];
    if (!zt_test_pg_new_db(db, sizeof db)) zt_skip("%s", db);
    snprintf(env_url, sizeof env_url, "ZENTALK_DATABASE_POSTGRES_URL=%s", db);
    const char *const env[] = {"ZENTALK_DATABASE_DRIVER=postgres", env_url, "ZENTALK_PRIVACY_AUDIT_LOG=true", NULL};
    struct node n;
    node_spawn(&n, NULL, env, true, NULL);
    struct resp r;
    http(n.port, "GET", "/readyz", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    /* the node store's tables are in PostgreSQL, migrated */
    assert_int_equal(pg_long(db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version:pseudonyms'"),
                     1);
    assert_int_equal(pg_long(db, "SELECT count(*) FROM information_schema.tables"
                                 " WHERE table_schema = current_schema() AND table_name = 'identity_salts'"),
                     1);
    kill(n.pid, SIGTERM);
    assert_int_equal(node_wait(&n, 20000), 0);
    node_cleanup(&n);
    rm_rf(n.dir);
}

/* The orchestrator's registry and job states on PostgreSQL, end to end. */
static void test_network_on_postgres(void **state)
{
    (void)state;
    char model[1024], cfg[256], db[700], env_url[800], yaml[1400];
    if (!find_test_model("stories260K.gguf", model, sizeof model)) zt_skip("stories260K.gguf not found (tests/models)");
    if (!zt_test_pg_new_db(db, sizeof db)) zt_skip("%s", db);
    tmp_dir(cfg, sizeof cfg, "pgnet");
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 256\n    max_tokens: 16\n",
             model);
    put_file(cfg, "models.yaml", yaml);
    put_file(cfg, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n");
    snprintf(env_url, sizeof env_url, "ZENTALK_DATABASE_POSTGRES_URL=%s", db);
    const char *const genv[] = {"ZENTALK_DATABASE_DRIVER=postgres", env_url, NULL};
    const char *const gargs[] = {"--roles", "gateway,orchestrator", NULL};
    struct node gw, wk;
    node_spawn(&gw, gargs, genv, true, NULL);
    const char *const wargs[] = {"--config", cfg, "--roles", "worker", "--join", gw.url, NULL};
    const char *const wenv[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", NULL};
    node_spawn(&wk, wargs, wenv, true, NULL);
    /* joined: the registry row is in PostgreSQL */
    uint64_t until = zt_time_mono_ms() + 20000;
    while (pg_long(db, "SELECT count(*) FROM registry_nodes") < 1 && zt_time_mono_ms() < until) zt_time_sleep_ms(100);
    assert_int_equal(pg_long(db, "SELECT count(*) FROM registry_nodes"), 1);
    /* a chat the gateway places on the worker: its job row, done */
    struct resp r;
    http(gw.port, "POST", "/v1/chat/completions", "application/json",
         "{\"model\":\"stories\",\"max_tokens\":8,\"seed\":1,"
         "\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}]}",
         &r);
    if (r.status != 200) fprintf(stderr, "chat: %ld %s\n", r.status, zt_buf_str(&r.body));
    assert_int_equal(r.status, 200);
    resp_free(&r);
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sched_jobs WHERE state IN (%d, %d) AND worker IS NOT NULL",
             (int)ZT_JOB_STATE_DONE, (int)ZT_JOB_STATE_VERIFIED);
    until = zt_time_mono_ms() + 10000;
    while (pg_long(db, sql) < 1 && zt_time_mono_ms() < until) zt_time_sleep_ms(100);
    assert_int_equal(pg_long(db, sql), 1);
    kill(wk.pid, SIGTERM);
    assert_int_equal(node_wait(&wk, 20000), 0);
    kill(gw.pid, SIGTERM);
    assert_int_equal(node_wait(&gw, 20000), 0);
    node_cleanup(&wk);
    node_cleanup(&gw);
    rm_rf(wk.dir);
    rm_rf(gw.dir);
    rm_rf(cfg);
}

static void test_unreachable_refused(void **state)
{
    (void)state;
    /* nothing listens on port 1; the password must never be printed */
    const char *const env[] = {"ZENTALK_DATABASE_DRIVER=postgres",
                               "ZENTALK_DATABASE_POSTGRES_URL=postgresql://zentalk:pw-Zq81x@127.0.0.1:1/zentalk"
                               "?connect_timeout=3",
                               "ZENTALK_PRIVACY_AUDIT_LOG=true", NULL};
    struct node n;
    struct zt_buf err;
    zt_buf_init(&err, 1 << 20);
    uint16_t port = node_start(&n, NULL, env, NULL, &err);
    assert_int_equal(port, 0); /* it exited: its stderr is in err */
    const char *e = zt_buf_str(&err);
    if (!strstr(e, "PostgreSQL")) fprintf(stderr, "stderr: %s\n", e);
    assert_non_null(strstr(e, "PostgreSQL"));
    assert_null(strstr(e, "pw-Zq81x"));
    zt_buf_deinit(&err);
    node_cleanup(&n);
    rm_rf(n.dir);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_node_postgres")) return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_on_postgres),
        cmocka_unit_test(test_network_on_postgres),
        cmocka_unit_test(test_unreachable_refused),
    };
    return zt_test_exit(cmocka_run_group_tests_name("node_postgres", tests, NULL, NULL));
}
