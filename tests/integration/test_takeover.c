/* test_takeover.c: two live orchestrators on one PostgreSQL and one Redis
 * stream (database.driver: postgres, database.queue: redis;
 * docs/internals/orchestrator.md "Several orchestrators").
 * - Orchestrators A and B (gateway,orchestrator), two workers joined to
 *   both (--join A --join B) and a third joined to A only: B lists the
 *   third as live (it never heard from it: the shared registry);
 * - twelve chats sent to A at once on slowed workers (4 slots: some run,
 *   the rest wait in A's queue), then A killed with SIGKILL: B claims A's
 *   queue entries once they are idle past database.queue_claim_ms and ends
 *   each of A's unfinished jobs exactly once (failed, orchestrator_lost;
 *   the row belongs to B after), none is left queued, assigned or running,
 *   the jobs A finished before dying stay done, and A's entries are gone
 *   from the stream;
 * - B then serves chats on the same workers.
 * The time from the kill to the last of A's jobs ended is printed
 * ("takeover: ... ms"). Skips with the reason when PostgreSQL or Redis
 * cannot be started, or without the test model.
 * Usage: test_takeover PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_queue.h"
#include "zentalk/zt_sched.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zt_test_servers.h"

#define N_CHATS 12
#define CLAIM_MS 2000

static char db[700];

static long pg_long(const char *sql) { return zt_test_pg_long(db, sql); }

/* count(*) of sched_jobs rows of orchestrator orch matching cond. */
static long pg_count(const char *orch, const char *cond)
{
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sched_jobs WHERE orch = '%s'%s%s", orch, cond[0] ? " AND " : "",
             cond);
    return pg_long(sql);
}

/* The state of node id in port's /v1/orchestrator/nodes ("" when absent). */
static void state_at(uint16_t port, const char *id, char *out, size_t cap)
{
    struct resp r;
    http(port, "GET", "/v1/orchestrator/nodes", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    resp_free(&r);
    out[0] = '\0';
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(j, "nodes"), i, n) {
        if (zt_str_eq(json_string_value(json_object_get(n, "node_id")), id))
            zt_strlcpy(out, json_string_value(json_object_get(n, "state")), cap);
    }
    json_decref(j);
}

static bool wait_state(uint16_t port, const char *id, const char *want, int timeout_ms)
{
    uint64_t until = zt_time_mono_ms() + (uint64_t)timeout_ms;
    char st[32];
    do {
        state_at(port, id, st, sizeof st);
        if (zt_str_eq(st, want)) return true;
        zt_time_sleep_ms(100);
    } while (zt_time_mono_ms() < until);
    return false;
}

struct call {
    uint16_t port;
    int seed;
    long status;
};

static void *chat_thread(void *arg)
{
    struct call *c = arg;
    char body[256];
    snprintf(body, sizeof body,
             "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Once upon a time\"}],"
             "\"max_tokens\":16,\"seed\":%d}",
             c->seed);
    struct http_opts o = {.ctype = "application/json", .body = body, .timeout_ms = 60000};
    struct resp r;
    memset(&r, 0, sizeof r);
    c->status = http_req(c->port, "POST", "/v1/chat/completions", &o, &r) == 0 ? r.status : 0;
    resp_free(&r);
    return NULL;
}

static void test_takeover(void **state)
{
    (void)state;
    char model[1024], cfg[256], redis[256], yaml[1400];
    if (!find_test_model("stories260K.gguf", model, sizeof model)) zt_skip("stories260K.gguf not found (tests/models)");
    if (!zt_test_pg_new_db(db, sizeof db)) zt_skip("%s", db);
    if (!zt_test_redis_start(redis, sizeof redis)) zt_skip("%s", redis);
    tmp_dir(cfg, sizeof cfg, "takeover");
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 256\n    max_tokens: 16\n",
             model);
    put_file(cfg, "models.yaml", yaml);
    put_file(cfg, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n");
    char env_db[800], env_redis[300], env_claim[64];
    snprintf(env_db, sizeof env_db, "ZENTALK_DATABASE_POSTGRES_URL=%s", db);
    snprintf(env_redis, sizeof env_redis, "ZENTALK_DATABASE_REDIS_URL=%s", redis);
    snprintf(env_claim, sizeof env_claim, "ZENTALK_DATABASE_QUEUE_CLAIM_MS=%d", CLAIM_MS);
    const char *const oenv[] = {"ZENTALK_DATABASE_DRIVER=postgres", env_db, "ZENTALK_DATABASE_QUEUE=redis", env_redis,
                                env_claim, "ZENTALK_ORCHESTRATOR_HEARTBEAT_EXPIRY_MS=3000",
                                /* jobs end "done" (3), not "verified" (5): the network's
                                 * verification is test_verify_network's */
                                "ZENTALK_ORCHESTRATOR_VERIFICATION_ENABLED=false", NULL};
    const char *const oargs[] = {"--roles", "gateway,orchestrator", NULL};
    struct node a, b, wk[3];
    node_spawn(&a, oargs, oenv, true, NULL);
    node_spawn(&b, oargs, oenv, true, NULL);
    char a_id[64], b_id[64], w_id[3][64];
    node_id_of(a.port, a_id, sizeof a_id, NULL);
    node_id_of(b.port, b_id, sizeof b_id, NULL);
    const char *const wenv[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", "ZT_TEST_MODE=1", "ZT_TEST_DELAY_MS=60",
                                NULL};
    for (int i = 0; i < 3; i++) {
        const char *const both[] = {"--config", cfg, "--roles", "worker", "--join", a.url, "--join", b.url, NULL};
        const char *const only_a[] = {"--config", cfg, "--roles", "worker", "--join", a.url, NULL};
        node_spawn(&wk[i], i < 2 ? both : only_a, wenv, true, NULL);
        node_id_of(wk[i].port, w_id[i], sizeof w_id[i], NULL);
    }
    for (int i = 0; i < 3; i++) assert_true(wait_state(a.port, w_id[i], "live", 20000));
    /* B never heard from the third worker: it knows it from the shared registry */
    for (int i = 0; i < 3; i++) assert_true(wait_state(b.port, w_id[i], "live", 20000));
    /* the third cannot take B's (or A's, below) jobs only by chance: stop it */
    kill(wk[2].pid, SIGTERM);
    assert_int_equal(node_wait(&wk[2], 20000), 0);
    assert_true(wait_state(b.port, w_id[2], "left", 10000));

    /* load on A, then A dies */
    struct call c[N_CHATS];
    pthread_t t[N_CHATS];
    for (int i = 0; i < N_CHATS; i++) {
        c[i] = (struct call){.port = a.port, .seed = i + 1};
        assert_int_equal(pthread_create(&t[i], NULL, chat_thread, &c[i]), 0);
    }
    uint64_t until = zt_time_mono_ms() + 20000;
    while (pg_count(a_id, "") < N_CHATS && zt_time_mono_ms() < until)
        zt_time_sleep_ms(50);
    assert_int_equal(pg_count(a_id, ""), N_CHATS);
    zt_time_sleep_ms(1500);
    assert_int_equal(kill(a.pid, SIGKILL), 0);
    uint64_t t_kill = zt_time_mono_ms();
    assert_int_equal(node_wait(&a, 10000), 128 + SIGKILL);
    for (int i = 0; i < N_CHATS; i++) pthread_join(t[i], NULL);
    long done_before = pg_count(a_id, "state = 3");
    long open_at_kill = pg_count(a_id, "state IN (0, 1, 2)");
    long answered = 0;
    for (int i = 0; i < N_CHATS; i++) answered += c[i].status == 200;
    printf("at the kill: %ld of A's jobs done (%ld chats answered), %ld unfinished\n", done_before, answered,
           open_at_kill);
    assert_true(open_at_kill > 0); /* the kill came mid-load */
    /* a job is done before its answer goes out: A may die in between */
    assert_true(answered <= done_before);
    assert_int_equal(done_before + open_at_kill, N_CHATS);

    /* B takes over: every unfinished job of A ends, once, at B */
    until = t_kill + 30000;
    while (pg_count(a_id, "state IN (0, 1, 2)") > 0 &&
           zt_time_mono_ms() < until)
        zt_time_sleep_ms(50);
    uint64_t t_done = zt_time_mono_ms();
    assert_int_equal(pg_count(a_id, "state IN (0, 1, 2)"), 0);
    printf("takeover: %llu ms from SIGKILL to the last of A's jobs ended at B (claim window %d ms)\n",
           (unsigned long long)(t_done - t_kill), CLAIM_MS);
    assert_int_equal(pg_count(b_id, "reason = 'orchestrator_lost' AND state = 4"),
                     open_at_kill);
    assert_int_equal(pg_count(a_id, "state = 3"), done_before);
    assert_int_equal(pg_long("SELECT count(*) FROM sched_jobs"), N_CHATS);
    assert_int_equal(metric_value(b.port, "zentalk_orchestrator_jobs_adopted_total"), open_at_kill);
    /* A's entries are gone from the stream (acknowledged by B) */
    struct zt_queue *q = NULL;
    struct zt_queue_opts qo = {.backend = "redis", .url = redis, .consumer = "test-observer"};
    assert_int_equal(zt_queue_open(&qo, &q), 0);
    size_t entries = 1, pending = 1;
    assert_int_equal(zt_queue_depth(q, &entries, &pending), 0);
    assert_int_equal(entries, 0);
    zt_queue_free(q);

    /* B serves on the same workers (they joined it too) */
    for (int i = 0; i < 4; i++) {
        c[i] = (struct call){.port = b.port, .seed = 100 + i};
        assert_int_equal(pthread_create(&t[i], NULL, chat_thread, &c[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(c[i].status, 200);
    }
    assert_int_equal(pg_count(b_id, "state = 3"), 4);
    /* nothing of A's was ended twice: the only rows that moved are A's open ones */
    assert_int_equal(pg_long("SELECT count(*) FROM sched_jobs"), N_CHATS + 4);

    for (int i = 0; i < 2; i++) {
        kill(wk[i].pid, SIGTERM);
        assert_int_equal(node_wait(&wk[i], 20000), 0);
    }
    kill(b.pid, SIGTERM);
    assert_int_equal(node_wait(&b, 20000), 0);
    for (int i = 0; i < 3; i++) {
        node_cleanup(&wk[i]);
        rm_rf(wk[i].dir);
    }
    node_cleanup(&a);
    node_cleanup(&b);
    rm_rf(a.dir);
    rm_rf(b.dir);
    rm_rf(cfg);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_takeover")) return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_takeover),
    };
    return zt_test_exit(cmocka_run_group_tests_name("takeover", tests, NULL, NULL));
}
