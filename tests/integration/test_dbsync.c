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
 *     until `zentalk mesh publish` makes the next segment.
 *
 * test_rebuild_postgres: nodes 3 and 4, two gateway+orchestrators on one
 * real PostgreSQL (tests/common/zt_test_servers.h; skipped with the reason
 * where none can be started), each publishing its own jobs and the shared
 * ledger; both published, the database is wiped (its schema dropped) and
 * both data directories deleted (keys kept); node 3 rebuilds (the ledger
 * and its jobs), then node 4 (its jobs: the ledger is there); every row of
 * every published table is as before the wipe, `zentalk ledger audit`
 * passes, and both, started again, audit clean and go on. */
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
#include "zt_test_servers.h"

#define WAIT_MS 90000 /* the longest any poll waits (a loaded 2-core sanitizer run) */
#define N_NODES 5 /* 0-2: test_publish_rebuild_audit; 3, 4: test_rebuild_postgres */
#define N_BASE 3
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
             i == 0 || i >= N_BASE ? "gateway, orchestrator" : "worker", DHT_PORT0 + i,
             i == 1 ? DHT_PORT0 : DHT_PORT0 + 1);
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

static void deposit_at(int i, const char *key, const char *amount)
{
    char body[200];
    snprintf(body, sizeof body, "{\"address\":\"" ADDRESS "\",\"amount\":\"%s\",\"key\":\"%s\"}", amount, key);
    json_decref(post_json(nodes[i].n.port, "/v1/admin/ledger/deposit", NULL, body, 200));
}

static void deposit(const char *key, const char *amount)
{
    deposit_at(0, key, amount);
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

/* `zentalk mesh audit --json` on node i: its exit status; the answer in *out. */
static int cli_audit_of(int i, json_t **out)
{
    char env_url[200];
    snprintf(env_url, sizeof env_url, "ZENTALK_URL=%s", nodes[i].n.url);
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

static int cli_audit(json_t **out)
{
    return cli_audit_of(0, out);
}

/* How many dbsync segments node i holds (of the publisher whose node id
 * is pub, or of any when NULL). */
static int segments_of(int i, const char *pub)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "dbsync-%.12s-", pub ? pub + 3 : "");
    json_t *j = get_json(i, "/v1/mesh/blobs");
    size_t k;
    json_t *b;
    int n = 0;
    json_array_foreach(json_object_get(j, "blobs"), k, b) n +=
        zt_str_starts_with(json_string_value(json_object_get(b, "name")), pub ? prefix : "dbsync-");
    json_decref(j);
    return n;
}

/* Until node i's audit passes with nothing left unpublished and both
 * holders hold every segment of its chain (pub: its node id; NULL: any
 * chain's): the head's seq. */
static long long wait_published_of(int i, const char *pub)
{
    uint64_t until = zt_time_mono_ms() + WAIT_MS;
    for (;;) {
        json_t *a = NULL;
        int rc = cli_audit_of(i, &a);
        long long head = (long long)json_integer_value(json_object_get(a, "head_seq"));
        bool done = rc == 0 && json_is_true(json_object_get(a, "ok")) && head > 0 &&
                    json_integer_value(json_object_get(a, "unpublished_rows")) == 0 &&
                    json_integer_value(json_object_get(a, "local_seq")) == head;
        char *last = json_dumps(a, JSON_COMPACT);
        json_decref(a);
        if (done && segments_of(1, pub) >= head && segments_of(2, pub) >= head) {
            free(last);
            return head;
        }
        if (zt_time_mono_ms() >= until)
            fail_msg("node %d not published: audit %s, holders %d and %d", i, last ? last : "?", segments_of(1, pub),
                     segments_of(2, pub));
        free(last);
        zt_time_sleep_ms(500);
    }
}

static long long wait_published(void)
{
    return wait_published_of(0, NULL);
}

/* Node i stops and loses its data directory (data, its path): only its
 * node key comes back, as from a backup. */
static void lose_disk(int i, char *data, size_t cap)
{
    char key[512], saved[512];
    snprintf(key, sizeof key, "%s/node.key", nodes[i].n.data_dir);
    snprintf(saved, sizeof saved, "%s/node.key.backup", nodes[i].dir);
    char cmd[1400], sh_out[256];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", key, saved);
    assert_int_equal(run_shell(cmd, sh_out, sizeof sh_out), 0);
    assert_int_equal(kill(nodes[i].n.pid, SIGTERM), 0);
    node_wait(&nodes[i].n, 30000);
    node_cleanup(&nodes[i].n);
    nodes[i].up = false;
    zt_strlcpy(data, nodes[i].n.data_dir, cap);
    rm_rf(data);
    snprintf(cmd, sizeof cmd, "mkdir -m 700 '%s' && cp '%s' '%s/node.key'", data, saved, data);
    assert_int_equal(run_shell(cmd, sh_out, sizeof sh_out), 0);
}

/* `zentalk-node --rebuild-from-mesh` for node i into data: its output in out. */
static void rebuild(int i, const char *data, const char *const *env, struct zt_buf *out)
{
    const char *const rb_args[] = {"--config", nodes[i].dir, "--data-dir", data, "--listen", "127.0.0.1:0",
                                   "--rebuild-from-mesh", NULL};
    int rc = run_prog(node_bin, rb_args, env, NULL, out, RUN_MERGE_STDERR);
    if (rc != 0 || !strstr(zt_buf_str(out), "rebuilt from")) fail_msg("node %d rebuild (%d): %s", i, rc, zt_buf_str(out));
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
    for (int i = 1; i < N_BASE; i++) {
        char grep[600], gout[64];
        snprintf(grep, sizeof grep, "grep -rqF '%s' '%s/mesh'", &ADDRESS[2], nodes[i].n.data_dir);
        assert_int_equal(run_shell(grep, gout, sizeof gout), 1);
    }

    /* 2: the disk is lost; the key comes back from its backup */
    char data[300];
    lose_disk(0, data, sizeof data);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    rebuild(0, data, orch_env, &out);
    zt_buf_reset(&out);
    const char *const la_args[] = {"ledger", "audit", "--config", nodes[0].dir, "--data-dir", data, NULL};
    int rc = run_prog(cli_bin, la_args, orch_env, NULL, &out, RUN_MERGE_STDERR);
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
    assert_int_equal(json_integer_value(json_object_get(a, "moved_rows")), 0);
    long long forged = json_integer_value(json_object_get(a, "mismatched_rows"));
    json_decref(a);

    /* 5: a job taken over by another orchestrator (its row now theirs) is
     * not missing: moved (review10 F3); a job really deleted is */
    open_db(&st);
    sql(st, "UPDATE sched_jobs SET orch = 'zt1otherorchestrator' WHERE job_id = 'job-3'");
    zt_store_close(st);
    assert_int_equal(cli_audit(&a), 1); /* the forged row still */
    assert_int_equal(json_integer_value(json_object_get(a, "moved_rows")), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "mismatched_rows")), forged); /* the old code: one more */
    assert_non_null(strstr(json_string_value(json_object_get(a, "first_mismatch")), "ledger_txs"));
    json_decref(a);
    open_db(&st);
    sql(st, "DELETE FROM sched_jobs WHERE job_id = 'job-1'");
    zt_store_close(st);
    assert_int_equal(cli_audit(&a), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "moved_rows")), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "mismatched_rows")), forged + 1);
    json_decref(a);
    /* published: job-1's tombstone goes out, job-3's image stays (no tombstone: its row is there) */
    zt_buf_init(&out, 1 << 16);
    assert_int_equal(run_prog(cli_bin, pub_args, penv, NULL, &out, RUN_MERGE_STDERR), 0);
    zt_buf_deinit(&out);
    assert_int_equal(cli_audit(&a), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "moved_rows")), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "mismatched_rows")), forged);
    json_decref(a);
    /* the text form says it */
    const char *const audit_args[] = {"mesh", "audit", NULL};
    zt_buf_init(&out, 1 << 16);
    assert_int_equal(run_prog(cli_bin, audit_args, penv, NULL, &out, RUN_MERGE_STDERR), 1);
    printf("# zentalk mesh audit: %s", zt_buf_str(&out));
    assert_non_null(strstr(zt_buf_str(&out), "1 moved to another orchestrator"));
    zt_buf_deinit(&out);
}

/* ---- test_rebuild_postgres ------------------------------------------------------------ */

static const char *const PG_TABLES[] = {"ledger_accounts", "ledger_txs", "ledger_entries", "ledger_totals",
                                        "ledger_escrows", "ledger_earnings", "ledger_batches", "ledger_batch_items",
                                        "ledger_batch_leaves", "sched_jobs"};
#define N_PG_TABLES (sizeof PG_TABLES / sizeof PG_TABLES[0])

static void pg_open(const char *db, struct zt_store **st)
{
    struct zt_store_opts o = {.path = db, .busy_timeout_ms = 10000};
    assert_int_equal(zt_store_open("postgres", &o, st), 0);
}

/* Every row of every published table: per table "<count> <md5 of its rows as text, sorted>". */
static void pg_fingerprint(const char *db, char out[][80])
{
    struct zt_store *st = NULL;
    pg_open(db, &st);
    for (size_t t = 0; t < N_PG_TABLES; t++) {
        char sql[300];
        snprintf(sql, sizeof sql,
                 "SELECT COUNT(*) || ' ' || md5(COALESCE(string_agg(x::text, '|' ORDER BY x::text), '')) FROM %s x",
                 PG_TABLES[t]);
        struct zt_store_stmt *q = NULL;
        assert_int_equal(zt_store_prepare(st, sql, &q), 0);
        assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
        const char *v;
        size_t n;
        assert_int_equal(zt_store_column_text(q, 0, &v, &n), 0);
        snprintf(out[t], 80, "%.*s", (int)n, v);
        zt_store_stmt_free(q);
    }
    zt_store_close(st);
}

/* The orchestrator environment on the database (pg: the two entries after orch_env). */
static void pg_env(const char *db, char url[900], const char *env[8])
{
    snprintf(url, 900, "ZENTALK_DATABASE_POSTGRES_URL=%s", db);
    size_t k = 0;
    for (; orch_env[k]; k++) env[k] = orch_env[k];
    env[k++] = "ZENTALK_DATABASE_DRIVER=postgres";
    env[k++] = url;
    env[k] = NULL;
}

static void start_pg_node(int i, const char *const *env)
{
    const char *const args[] = {"--config", nodes[i].dir, NULL};
    node_spawn(&nodes[i].n, args, env, true, nodes[i].dir);
    nodes[i].up = true;
}

static void test_rebuild_postgres(void **state)
{
    (void)state;
    char db[800], url[900];
    if (!zt_test_pg_new_db(db, sizeof db)) zt_skip("no PostgreSQL: %s", db);
    const char *env[8];
    pg_env(db, url, env);
    char ids[2][64];
    for (int i = N_BASE; i < N_NODES; i++) {
        tmp_dir(nodes[i].dir, sizeof nodes[i].dir, "dbsync-pg");
        write_config(i);
        start_pg_node(i, env);
        node_id_of(nodes[i].n.port, ids[i - N_BASE], sizeof ids[0], NULL);
    }
    /* the shared ledger, through both; jobs of each */
    deposit_at(3, "p-1", "4");
    deposit_at(4, "p-2", "6");
    struct zt_store *st = NULL;
    pg_open(db, &st);
    for (int k = 0; k < 3; k++) {
        char s[900];
        int64_t now = zt_time_real_ms();
        snprintf(s, sizeof s,
                 "INSERT INTO sched_jobs(job_id, seq, client, model, ctx, max_tokens, price_ceiling, deadline, state,"
                 " worker, attempts, tokens, created, updated, assigned, started, finished, reason, orch)"
                 " VALUES('pg-job-%d', %d, 'c0ffee', 'stories', 256, 16, 0, 0, 3, 'zt1worker', 1, 16, %lld, %lld,"
                 " %lld, %lld, %lld, '', '%s')",
                 k, k + 1, (long long)now, (long long)now, (long long)now, (long long)now, (long long)now,
                 ids[k == 2]); /* two of node 3's, one of node 4's */
        sql(st, s);
    }
    zt_store_close(st);
    long long head3 = wait_published_of(3, ids[0]), head4 = wait_published_of(4, ids[1]); /* nothing is written after */
    printf("# on PostgreSQL: node 3's chain head %lld, node 4's %lld\n", head3, head4);
    char before[N_PG_TABLES][80], after[N_PG_TABLES][80];
    pg_fingerprint(db, before);

    /* both lose their disks; the database is wiped */
    char data[2][300];
    for (int i = N_BASE; i < N_NODES; i++) lose_disk(i, data[i - N_BASE], sizeof data[0]);
    pg_open(db, &st);
    struct zt_store_stmt *q = NULL;
    assert_int_equal(zt_store_prepare(st, "SELECT current_schema()", &q), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    const char *schema;
    size_t sl;
    assert_int_equal(zt_store_column_text(q, 0, &schema, &sl), 0);
    char wipe[300];
    snprintf(wipe, sizeof wipe, "DROP SCHEMA %.*s CASCADE; CREATE SCHEMA %.*s", (int)sl, schema, (int)sl, schema);
    zt_store_stmt_free(q);
    sql(st, wipe);
    zt_store_close(st);
    assert_int_equal(zt_test_pg_long(db, "SELECT COUNT(*) FROM information_schema.tables"
                                         " WHERE table_schema = current_schema()"),
                     0);

    /* node 3: the ledger and its jobs; node 4: its jobs */
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    rebuild(3, data[0], env, &out);
    assert_null(strstr(zt_buf_str(&out), "this orchestrator's jobs only"));
    zt_buf_reset(&out);
    rebuild(4, data[1], env, &out);
    assert_non_null(strstr(zt_buf_str(&out), "this orchestrator's jobs only"));
    zt_buf_reset(&out);
    pg_fingerprint(db, after);
    for (size_t t = 0; t < N_PG_TABLES; t++) {
        printf("# %s: %s%s\n", PG_TABLES[t], after[t], strcmp(before[t], after[t]) ? " (before the wipe: differs)" : "");
        assert_string_equal(before[t], after[t]);
    }
    const char *const la_args[] = {"ledger", "audit", "--config", nodes[3].dir, "--data-dir", data[0], NULL};
    int rc = run_prog(cli_bin, la_args, env, NULL, &out, RUN_MERGE_STDERR);
    if (rc != 0) fail_msg("ledger audit (%d): %s", rc, zt_buf_str(&out));
    printf("# rebuilt on PostgreSQL; zentalk ledger audit: %s", zt_buf_str(&out));
    zt_buf_deinit(&out);

    /* started again: both clean against their chains, and they go on */
    for (int i = N_BASE; i < N_NODES; i++) {
        start_pg_node(i, env);
        json_t *a = NULL;
        /* its head record is found again once its DHT node has rejoined
         * (a restarted node's first audit may come before: polled) */
        uint64_t until = zt_time_mono_ms() + WAIT_MS;
        while ((rc = cli_audit_of(i, &a)) != 0 && zt_time_mono_ms() < until) {
            json_decref(a);
            a = NULL;
            zt_time_sleep_ms(500);
        }
        char *txt = json_dumps(a, JSON_COMPACT);
        if (rc != 0) fail_msg("node %d audit after the rebuild (%d): %s", i, rc, txt ? txt : "?");
        free(txt);
        assert_int_equal(json_integer_value(json_object_get(a, "head_seq")), i == 3 ? head3 : head4);
        assert_int_equal(json_integer_value(json_object_get(a, "mismatched_rows")), 0);
        json_decref(a);
    }
    deposit_at(4, "p-3", "1");
    assert_true(wait_published_of(4, ids[1]) > head4);
    assert_true(wait_published_of(3, ids[0]) > head3);
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < N_BASE; i++) {
        tmp_dir(nodes[i].dir, sizeof nodes[i].dir, "dbsync");
        write_config(i);
    }
    for (int i = N_BASE; i-- > 0;) start_node(i);
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
        cmocka_unit_test(test_rebuild_postgres),
    };
    return zt_test_exit(cmocka_run_group_tests_name("dbsync", tests, setup, teardown));
}
