/* test_dbsync.c: an orchestrator's job and ledger records published to
 * the mesh as signed segments (zt_dbsync.h), and rebuilt from them, in a
 * private network namespace (the DHT binds every address; netns_rerun).
 *
 * Node 0 is a gateway+orchestrator with chain.enabled and
 * mesh.db_sync_interval_s 1 (three segments at least: deposits; jobs
 * running; the jobs done and one more deposit); nodes 1 and 2 are mesh holders. Ledger rows
 * come from admin deposits through the node's route; job rows are written
 * into node 0's sched_jobs as its scheduler writes them (this test has no
 * paid chat: test_ledger_network covers that path).
 *
 *  1. the rows are published: `zentalk mesh audit` passes with nothing
 *     unpublished, both holders hold every segment, and nothing they
 *     store names the user's wallet (it is sealed);
 *  2. node 0 stops, its data directory is deleted (its node key kept, as
 *     from a backup); `zentalk-node --rebuild-from-mesh` rebuilds the
 *     store from the holders; `zentalk ledger audit` passes on it, the
 *     jobs and the balance are back;
 *  3. started again, node 0 audits clean against the chain, publishes a
 *     new deposit as the next segment, and a row altered in its store
 *     behind its back is not published again but reported by the audit
 *     as a mismatch (exit 1);
 *  4. restarted with an hour between segments, a job changed after the
 *     last segment is reported by the audit as not yet published (1 row)
 *     until `zentalk mesh publish` makes the next segment. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mesh_util.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define WAIT_MS 90000 /* the longest any poll waits (a loaded 2-core sanitizer run) */
#define N_NODES 3
#define DHT_PORT0 4831
#define ADDRESS "0x00000000000000000000000000000000000000b1"

static struct mnode nodes[N_NODES];
static const char *cli_bin;
static const char *const orch_env[] = {"ZENTALK_CHAIN_ENABLED=true", "ZENTALK_CHAIN_RPC_URL=http://127.0.0.1:9",
                                       "ZENTALK_CHAIN_WALLET_ADDRESS=0x0000000000000000000000000000000000000001",
                                       NULL};
static char orch_id[64];

static void write_config(int i)
{
    char yaml[800];
    snprintf(yaml, sizeof yaml,
             "node:\n  roles: [%s]\n  dht_port: %d\n  bootstrap: [\"127.0.0.1:%d\"]\n"
             "mesh:\n  record_ttl_s: 30\n  repair_interval_s: 1\n  db_sync_interval_s: 1\n  replication_db: 3\n",
             i == 0 ? "gateway, orchestrator" : "worker", DHT_PORT0 + i, i == 0 ? DHT_PORT0 + 1 : DHT_PORT0);
    put_file(nodes[i].dir, "config.yaml", yaml);
}

static void start_node(int i)
{
    struct mnode *x = &nodes[i];
    const char *const args[] = {"--config", x->dir, NULL};
    node_spawn(&x->n, args, i == 0 ? orch_env : NULL, true, x->dir);
    x->up = true;
}

static json_t *get_json(int i, const char *path)
{
    struct resp r;
    http(nodes[i].n.port, "GET", path, NULL, NULL, &r);
    if (r.status != 200) fail_msg("GET %s: %ld %s", path, r.status, zt_buf_str(&r.body));
    json_t *j = resp_json(&r);
    resp_free(&r);
    return j;
}

static void deposit(const char *key, const char *amount)
{
    char body[200];
    snprintf(body, sizeof body, "{\"address\":\"" ADDRESS "\",\"amount\":\"%s\",\"key\":\"%s\"}", amount, key);
    json_decref(post_json(nodes[0].n.port, "/v1/admin/ledger/deposit", NULL, body, 200));
}

static void open_db(struct zt_store **st)
{
    char path[400];
    snprintf(path, sizeof path, "%s/zentalk.db", nodes[0].n.data_dir);
    struct zt_store_opts o = {.path = path, .busy_timeout_ms = 10000, .tx_attempts = 50};
    assert_int_equal(zt_store_open("sqlite", &o, st), 0);
}

static void sql(struct zt_store *st, const char *s)
{
    assert_int_equal(zt_store_exec(st, s), 0);
}

static long long count(struct zt_store *st, const char *s)
{
    struct zt_store_stmt *q = NULL;
    assert_int_equal(zt_store_prepare(st, s, &q), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    int64_t v = -1;
    assert_int_equal(zt_store_column_i64(q, 0, &v), 0);
    zt_store_stmt_free(q);
    return (long long)v;
}

/* Three jobs of node 0 running on a worker, as its scheduler records them. */
static void add_jobs(void)
{
    struct zt_store *st = NULL;
    open_db(&st);
    for (int k = 1; k <= 3; k++) {
        char s[900];
        snprintf(s, sizeof s,
                 "INSERT INTO sched_jobs(job_id, seq, client, model, ctx, max_tokens, price_ceiling, deadline, state,"
                 " worker, attempts, tokens, created, updated, assigned, started, finished, reason, orch)"
                 " VALUES('job-%d', %d, 'c0ffee%d', 'stories', 256, 16, 0, 0, 2, 'zt1worker', 1, 16, %lld, %lld,"
                 " %lld, %lld, %lld, '', '%s')",
                 k, k, k, (long long)zt_time_real_ms(), (long long)zt_time_real_ms(), (long long)zt_time_real_ms(),
                 (long long)zt_time_real_ms(), (long long)zt_time_real_ms(), orch_id);
        sql(st, s);
    }
    zt_store_close(st);
}

/* `zentalk mesh audit --json` on node 0: its exit status; the answer in *out. */
static int cli_audit(json_t **out)
{
    char env_url[200];
    snprintf(env_url, sizeof env_url, "ZENTALK_URL=%s", nodes[0].n.url);
    const char *const env[] = {env_url, NULL};
    const char *const args[] = {"mesh", "audit", "--json", NULL};
    struct zt_buf b;
    zt_buf_init(&b, 1 << 16);
    int rc = run_prog(cli_bin, args, env, NULL, &b, 0);
    *out = json_loads(zt_buf_str(&b), 0, NULL);
    if (!*out) fail_msg("mesh audit: %s", zt_buf_str(&b));
    zt_buf_deinit(&b);
    return rc;
}

/* How many dbsync segments node i holds. */
static int segments_held(int i)
{
    json_t *j = get_json(i, "/v1/mesh/blobs");
    size_t k;
    json_t *b;
    int n = 0;
    json_array_foreach(json_object_get(j, "blobs"), k, b) n += zt_str_starts_with(json_string_value(json_object_get(b, "name")), "dbsync-");
    json_decref(j);
    return n;
}

/* Until node 0's audit passes with nothing left unpublished and both
 * holders hold every segment: the head's seq. */
static long long wait_published(void)
{
    uint64_t until = zt_time_mono_ms() + WAIT_MS;
    for (;;) {
        json_t *a = NULL;
        int rc = cli_audit(&a);
        long long head = (long long)json_integer_value(json_object_get(a, "head_seq"));
        bool done = rc == 0 && json_is_true(json_object_get(a, "ok")) && head > 0 &&
                    json_integer_value(json_object_get(a, "unpublished_rows")) == 0 &&
                    json_integer_value(json_object_get(a, "local_seq")) == head;
        char *last = json_dumps(a, JSON_COMPACT);
        json_decref(a);
        if (done && segments_held(1) >= head && segments_held(2) >= head) {
            free(last);
            return head;
        }
        if (zt_time_mono_ms() >= until)
            fail_msg("not published: audit %s, holders %d and %d", last ? last : "?", segments_held(1), segments_held(2));
        free(last);
        zt_time_sleep_ms(500);
    }
}

static void test_publish_rebuild_audit(void **state)
{
    (void)state;
    json_t *d = get_json(0, "/v1/node/descriptor");
    zt_strlcpy(orch_id, json_string_value(json_object_get(d, "node_id")), sizeof orch_id);
    json_decref(d);
    /* 1: records, published */
    deposit("d-1", "5");
    deposit("d-2", "7");
    long long seg1 = wait_published();
    add_jobs();
    assert_true(wait_published() > seg1);
    /* the jobs end: the rows change, the next segment carries their new images */
    struct zt_store *st = NULL;
    open_db(&st);
    char done[200];
    snprintf(done, sizeof done, "UPDATE sched_jobs SET state = 3, updated = %lld, finished = %lld",
             (long long)zt_time_real_ms(), (long long)zt_time_real_ms());
    sql(st, done);
    zt_store_close(st);
    deposit("d-3", "3");
    long long head = wait_published();
    assert_true(head >= 3);
    printf("# published: head segment %lld, held by both holders\n", head);
    /* what the holders store names no wallet: the user's account is sealed */
    for (int i = 1; i < N_NODES; i++) {
        char grep[600], gout[64];
        snprintf(grep, sizeof grep, "grep -rqF '%s' '%s/mesh'", &ADDRESS[2], nodes[i].n.data_dir);
        assert_int_equal(run_shell(grep, gout, sizeof gout), 1);
    }

    /* 2: the disk is lost; the key comes back from its backup */
    char key[512], saved[512];
    snprintf(key, sizeof key, "%s/node.key", nodes[0].n.data_dir);
    snprintf(saved, sizeof saved, "%s/node.key.backup", nodes[0].dir);
    char cmd[1400], sh_out[256];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", key, saved);
    assert_int_equal(run_shell(cmd, sh_out, sizeof sh_out), 0);
    assert_int_equal(kill(nodes[0].n.pid, SIGTERM), 0);
    node_wait(&nodes[0].n, 30000);
    node_cleanup(&nodes[0].n);
    nodes[0].up = false;
    char data[300];
    zt_strlcpy(data, nodes[0].n.data_dir, sizeof data);
    rm_rf(data);
    snprintf(cmd, sizeof cmd, "mkdir -m 700 '%s' && cp '%s' '%s/node.key'", data, saved, data);
    assert_int_equal(run_shell(cmd, sh_out, sizeof sh_out), 0);
    const char *const rb_args[] = {"--config", nodes[0].dir, "--data-dir", data, "--listen", "127.0.0.1:0",
                                   "--rebuild-from-mesh", NULL};
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    int rc = run_prog(node_bin, rb_args, orch_env, NULL, &out, RUN_MERGE_STDERR);
    if (rc != 0 || !strstr(zt_buf_str(&out), "rebuilt from")) fail_msg("rebuild (%d): %s", rc, zt_buf_str(&out));
    zt_buf_reset(&out);
    const char *const la_args[] = {"ledger", "audit", "--config", nodes[0].dir, "--data-dir", data, NULL};
    rc = run_prog(cli_bin, la_args, orch_env, NULL, &out, RUN_MERGE_STDERR);
    if (rc != 0) fail_msg("ledger audit (%d): %s", rc, zt_buf_str(&out));
    printf("# rebuilt; zentalk ledger audit: %s", zt_buf_str(&out));
    zt_buf_deinit(&out);
    open_db(&st);
    assert_int_equal(count(st, "SELECT COUNT(*) FROM sched_jobs WHERE job_id IN ('job-1', 'job-2', 'job-3') AND state = 3"), 3);
    assert_int_equal(count(st, "SELECT COUNT(*) FROM ledger_txs WHERE idem_key LIKE '%d-_'"), 3);
    assert_int_equal(count(st, "SELECT COUNT(*) FROM ledger_accounts WHERE owner = '" ADDRESS "'"
                               " AND balance = '15'"), 1);
    zt_store_close(st);

    /* 3: started again: clean against the chain, and it goes on */
    start_node(0);
    json_t *a = NULL;
    assert_int_equal(cli_audit(&a), 0);
    assert_int_equal(json_integer_value(json_object_get(a, "head_seq")), head);
    assert_int_equal(json_integer_value(json_object_get(a, "mismatched_rows")), 0);
    json_decref(a);
    deposit("d-4", "1");
    long long head2 = wait_published();
    assert_true(head2 > head);
    printf("# after the rebuild: segment %lld follows %lld\n", head2, head);
    /* a row altered behind the node's back */
    open_db(&st);
    sql(st, "UPDATE ledger_txs SET memo = 'forged' WHERE idem_key LIKE '%d-1'");
    zt_store_close(st);
    zt_time_sleep_ms(2500); /* two rounds of the publisher: it must not publish the forged row */
    assert_int_equal(cli_audit(&a), 1);
    assert_false(json_is_true(json_object_get(a, "ok")));
    assert_true(json_integer_value(json_object_get(a, "mismatched_rows")) >= 1);
    const char *first = json_string_value(json_object_get(a, "first_mismatch"));
    assert_non_null(first);
    assert_non_null(strstr(first, "ledger_txs"));
    assert_non_null(strstr(first, "differs from its published image"));
    printf("# a forged row: %s\n", first);
    json_decref(a);

    /* 4: rows newer than the last segment: node 0 again with an hour
     * between segments; a job changed now is reported as not yet
     * published, until `zentalk mesh publish` */
    assert_int_equal(kill(nodes[0].n.pid, SIGTERM), 0);
    node_wait(&nodes[0].n, 30000);
    node_cleanup(&nodes[0].n);
    const char *const slow_env[] = {orch_env[0], orch_env[1], orch_env[2], "ZENTALK_MESH_DB_SYNC_INTERVAL_S=3600", NULL};
    const char *const args0[] = {"--config", nodes[0].dir, NULL};
    node_spawn(&nodes[0].n, args0, slow_env, true, nodes[0].dir);
    open_db(&st);
    char later[200];
    snprintf(later, sizeof later, "UPDATE sched_jobs SET tokens = 17, updated = %lld WHERE job_id = 'job-2'",
             (long long)zt_time_real_ms());
    sql(st, later);
    zt_store_close(st);
    assert_int_equal(cli_audit(&a), 1); /* the forged row still */
    assert_int_equal(json_integer_value(json_object_get(a, "head_seq")), head2);
    long long unpub = json_integer_value(json_object_get(a, "unpublished_rows"));
    printf("# a job changed after the last segment: %lld row(s) not yet published\n", unpub);
    assert_int_equal(unpub, 1);
    json_decref(a);
    char env_url[200];
    snprintf(env_url, sizeof env_url, "ZENTALK_URL=%s", nodes[0].n.url);
    const char *const penv[] = {env_url, NULL};
    const char *const pub_args[] = {"mesh", "publish", NULL};
    zt_buf_init(&out, 1 << 16);
    assert_int_equal(run_prog(cli_bin, pub_args, penv, NULL, &out, RUN_MERGE_STDERR), 0);
    assert_non_null(strstr(zt_buf_str(&out), "published 1 segment(s)"));
    zt_buf_deinit(&out);
    assert_int_equal(cli_audit(&a), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "head_seq")), head2 + 1);
    assert_int_equal(json_integer_value(json_object_get(a, "unpublished_rows")), 0);
    json_decref(a);
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < N_NODES; i++) {
        tmp_dir(nodes[i].dir, sizeof nodes[i].dir, "dbsync");
        write_config(i);
    }
    for (int i = N_NODES; i-- > 0;) start_node(i);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    mesh_nodes_stop(nodes, N_NODES);
    return 0;
}

int main(int argc, char **argv)
{
    cli_bin = argc > 2 ? argv[2] : NULL;
    int early = mesh_netns_start(argc, argv, "test_dbsync", "the head record lives there");
    if (early >= 0) return early;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_rebuild_audit),
    };
    return zt_test_exit(cmocka_run_group_tests_name("dbsync", tests, setup, teardown));
}
