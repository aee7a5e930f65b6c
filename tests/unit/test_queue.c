/* test_queue.c: the orchestrators' shared job queue (zt_queue.h).
 *
 * - memory: push, take, acknowledge, redelivery of an entry left
 *   unacknowledged past claim_idle_ms, the bound, bad arguments;
 * - redis (a real redis-server, tests/common/zt_test_servers.h): the same
 *   through a consumer group; a second consumer claims (XAUTOCLAIM) what
 *   the first left pending, with its owner and delivery count; a
 *   restarted consumer of the same name gets its own pending entries back;
 * - takeover (a real redis-server and a real PostgreSQL): orchestrator A,
 *   a child process, works jobs off the stream, each guarded by its row
 *   in PostgreSQL (queued -> running with a lease -> done); then it takes
 *   three more, finishes one without acknowledging it, starts two, and is
 *   killed with SIGKILL. Orchestrator B (this process) claims A's three
 *   entries after the idle time, takes over the two running rows whose
 *   lease ran out, acknowledges the finished one without running it
 *   again, and works the rest: every job done exactly once (each row's
 *   completion counter is 1), the stream empty, nothing pending.
 * Where a server cannot be started the part that needs it is skipped with
 * the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"
#include "zt_test_servers.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_queue.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_time.h"

static unsigned stream_no; /* a fresh stream per test */

static int teardown(void **state)
{
    (void)state;
    int64_t leaked = zt_alloc_live() - zt_test_leak_base();
    if (leaked) {
        printf("leak: %lld allocations\n", (long long)leaked);
        return -1;
    }
    return 0;
}

static struct zt_queue *open_q(const char *backend, const char *url, const char *stream, const char *consumer,
                               int64_t idle_ms)
{
    struct zt_queue_opts o = {.backend = backend, .url = url, .stream = stream, .consumer = consumer,
                              .claim_idle_ms = idle_ms, .max_len = 4};
    struct zt_queue *q = NULL;
    assert_int_equal(zt_queue_open(&o, &q), 0);
    return q;
}

static void depth_is(struct zt_queue *q, size_t entries, size_t pending)
{
    size_t e = 99, p = 99;
    assert_int_equal(zt_queue_depth(q, &e, &p), 0);
    assert_int_equal(e, entries);
    assert_int_equal(p, pending);
}

/* ---- in-process ---------------------------------------------------------------- */

static void test_memory(void **state)
{
    (void)state;
    struct zt_queue *q = open_q(NULL, NULL, NULL, NULL, 100);
    assert_string_equal(zt_queue_backend(q), "memory");
    struct zt_queue_msg m;
    assert_int_equal(zt_queue_take(q, 0, &m), ZT_ENOTFOUND);
    char id1[ZT_QUEUE_ID_MAX];
    assert_int_equal(zt_queue_push(q, "job-1", "meta", 4, id1), 0);
    assert_int_equal(zt_queue_push(q, "job-2", NULL, 0, NULL), 0);
    depth_is(q, 2, 0);
    assert_int_equal(zt_queue_take(q, 0, &m), 0);
    assert_string_equal(m.id, id1);
    assert_string_equal(m.job_id, "job-1");
    assert_int_equal(m.len, 4);
    assert_memory_equal(m.body, "meta", 4);
    assert_int_equal(m.deliveries, 1);
    assert_string_equal(m.from, "");
    zt_queue_msg_clear(&m);
    depth_is(q, 2, 1);
    /* job-2 next; job-1 is taken */
    assert_int_equal(zt_queue_take(q, 0, &m), 0);
    assert_string_equal(m.job_id, "job-2");
    assert_int_equal(zt_queue_ack(q, m.id), 0);
    assert_int_equal(zt_queue_ack(q, m.id), ZT_ENOTFOUND);
    zt_queue_msg_clear(&m);
    /* nothing new; job-1 comes back once its taker stalled past 100 ms */
    assert_int_equal(zt_queue_take(q, 0, &m), ZT_ENOTFOUND);
    assert_int_equal(zt_queue_take(q, 2000, &m), 0);
    assert_string_equal(m.job_id, "job-1");
    assert_int_equal(m.deliveries, 2);
    assert_int_equal(zt_queue_ack(q, m.id), 0);
    zt_queue_msg_clear(&m);
    depth_is(q, 0, 0);
    /* the bound (4) */
    for (int i = 0; i < 4; i++) assert_int_equal(zt_queue_push(q, "j", NULL, 0, NULL), 0);
    assert_int_equal(zt_queue_push(q, "j", NULL, 0, NULL), ZT_EBUSY);
    /* arguments */
    assert_int_equal(zt_queue_push(q, "", NULL, 0, NULL), ZT_EINVAL);
    assert_int_equal(zt_queue_push(q, "j", NULL, 3, NULL), ZT_EINVAL);
    assert_int_equal(zt_queue_ack(q, ""), ZT_EINVAL);
    assert_int_equal(zt_queue_take(q, -1, &m), ZT_EINVAL);
    zt_queue_free(q);
    zt_queue_free(NULL);
    struct zt_queue_opts bad = {.backend = "kafka"};
    assert_int_equal(zt_queue_open(&bad, &q), ZT_EINVAL);
    bad = (struct zt_queue_opts){.backend = "redis", .consumer = "a"}; /* no URL */
    assert_int_equal(zt_queue_open(&bad, &q), ZT_EINVAL);
    bad.url = "http://127.0.0.1:1";
    assert_int_equal(zt_queue_open(&bad, &q), ZT_EINVAL);
    bad.url = "redis://127.0.0.1:1"; /* nothing listens */
    bad.timeout_ms = 500;
    assert_int_equal(zt_queue_open(&bad, &q), ZT_EIO);
}

/* From the configuration: memory by default; redis needs redis_url. */
static void test_config(void **state)
{
    (void)state;
    struct zt_config cfg;
    assert_int_equal(zt_config_init_defaults(&cfg), 0);
    struct zt_buf errs;
    zt_buf_init(&errs, 4096);
    struct zt_queue *q = NULL;
    assert_int_equal(zt_queue_open_config(&cfg, "node-a", &q, &errs), 0);
    assert_string_equal(zt_queue_backend(q), "memory");
    zt_queue_free(q);
    q = NULL;
    assert_int_equal(zt_config_set(&cfg, "database.queue", "redis", "test", &errs), 0);
    assert_int_equal(zt_queue_open_config(&cfg, "node-a", &q, &errs), ZT_EINVAL);
    assert_non_null(strstr(zt_buf_str(&errs), "database.redis_url is required"));
    char url[256];
    if (zt_test_redis_start(url, sizeof url)) {
        zt_buf_reset(&errs);
        assert_int_equal(zt_config_set(&cfg, "database.redis_url", url, "test", &errs), 0);
        assert_int_equal(zt_queue_open_config(&cfg, "node-a", &q, &errs), 0);
        assert_string_equal(zt_queue_backend(q), "redis");
        zt_queue_free(q);
    } else {
        zt_skip_part("the Redis part of test_config: %s", url);
    }
    zt_buf_deinit(&errs);
    zt_config_deinit(&cfg);
}

/* ---- Redis -------------------------------------------------------------------------- */

static void test_redis(void **state)
{
    (void)state;
    char url[256], stream[32];
    if (!zt_test_redis_start(url, sizeof url)) zt_skip("%s", url);
    snprintf(stream, sizeof stream, "zt:test:%u", ++stream_no);
    struct zt_queue *a = open_q("redis", url, stream, "orch-a", 300);
    struct zt_queue *b = open_q("redis", url, stream, "orch-b", 300);
    assert_string_equal(zt_queue_backend(a), "redis");
    struct zt_queue_msg m;
    assert_int_equal(zt_queue_take(b, 0, &m), ZT_ENOTFOUND);
    static const uint8_t body[] = {0, 1, 2, 0xff, 0};
    char id1[ZT_QUEUE_ID_MAX], id2[ZT_QUEUE_ID_MAX];
    assert_int_equal(zt_queue_push(a, "job-1", body, sizeof body, id1), 0);
    assert_int_equal(zt_queue_push(b, "job-2", NULL, 0, id2), 0);
    assert_int_equal(zt_queue_push(b, "job-3", NULL, 0, NULL), 0);
    depth_is(a, 3, 0);
    /* each entry to one consumer */
    assert_int_equal(zt_queue_take(a, 0, &m), 0);
    assert_string_equal(m.id, id1);
    assert_string_equal(m.job_id, "job-1");
    assert_int_equal(m.len, sizeof body);
    assert_memory_equal(m.body, body, sizeof body);
    assert_int_equal(m.deliveries, 1);
    zt_queue_msg_clear(&m);
    assert_int_equal(zt_queue_take(b, 0, &m), 0);
    assert_string_equal(m.id, id2);
    assert_int_equal(zt_queue_ack(b, m.id), 0);
    assert_int_equal(zt_queue_ack(b, m.id), ZT_ENOTFOUND);
    zt_queue_msg_clear(&m);
    assert_int_equal(zt_queue_take(a, 0, &m), 0);
    assert_string_equal(m.job_id, "job-3");
    zt_queue_msg_clear(&m);
    depth_is(a, 2, 2); /* job-1 and job-3 pending with a; job-2 deleted */
    /* b blocks briefly and finds nothing: a's entries are not idle yet */
    assert_int_equal(zt_queue_take(b, 50, &m), ZT_ENOTFOUND);
    /* a stops acknowledging: after 300 ms b claims both, oldest first */
    zt_time_sleep_ms(350);
    assert_int_equal(zt_queue_take(b, 0, &m), 0);
    assert_string_equal(m.id, id1);
    assert_string_equal(m.from, "orch-a");
    assert_int_equal(m.deliveries, 2);
    assert_memory_equal(m.body, body, sizeof body);
    assert_int_equal(zt_queue_ack(b, m.id), 0);
    zt_queue_msg_clear(&m);
    assert_int_equal(zt_queue_take(b, 0, &m), 0);
    assert_string_equal(m.job_id, "job-3");
    assert_string_equal(m.from, "orch-a");
    zt_queue_msg_clear(&m);
    /* b "restarts" holding job-3: its new handle gets job-3 back first */
    zt_queue_free(b);
    b = open_q("redis", url, stream, "orch-b", 300);
    assert_int_equal(zt_queue_push(a, "job-4", NULL, 0, NULL), 0);
    assert_int_equal(zt_queue_take(b, 0, &m), 0);
    assert_string_equal(m.job_id, "job-3");
    assert_string_equal(m.from, "orch-b");
    assert_int_equal(zt_queue_ack(b, m.id), 0);
    zt_queue_msg_clear(&m);
    assert_int_equal(zt_queue_take(b, 1000, &m), 0);
    assert_string_equal(m.job_id, "job-4");
    assert_int_equal(zt_queue_ack(b, m.id), 0);
    zt_queue_msg_clear(&m);
    depth_is(a, 0, 0);
    /* a blocking take on an empty stream times out */
    assert_int_equal(zt_queue_take(a, 100, &m), ZT_ENOTFOUND);
    zt_queue_free(a);
    zt_queue_free(b);
}

/* Redis drops the connections (a restart, a failover) and loses the group
 * (no persistence): the call that meets the dead connection fails, the
 * next reconnects; the group is made again when a command finds it gone. */
static void test_redis_recovery(void **state)
{
    (void)state;
    char url[256], stream[32];
    if (!zt_test_redis_start(url, sizeof url)) zt_skip("%s", url);
    snprintf(stream, sizeof stream, "zt:test:%u", ++stream_no);
    struct zt_queue *a = open_q("redis", url, stream, "orch-a", 300);
    struct zt_queue_msg m;
    assert_int_equal(zt_queue_push(a, "job-1", NULL, 0, NULL), 0);
    /* the test's own connection: kill every other client, delete the stream */
    const char *port = strrchr(url, ':') + 1;
    redisContext *c = redisConnect("127.0.0.1", (int)strtol(port, NULL, 10));
    assert_true(c && !c->err);
    redisReply *r = redisCommand(c, "CLIENT KILL TYPE normal SKIPME yes");
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_true(r->integer >= 1);
    freeReplyObject(r);
    r = redisCommand(c, "DEL %s", stream);
    assert_non_null(r);
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(zt_queue_push(a, "job-2", NULL, 0, NULL), ZT_EIO); /* met the dead connection */
    assert_int_equal(zt_queue_push(a, "job-2", NULL, 0, NULL), 0);      /* reconnected (the group made again) */
    assert_int_equal(zt_queue_take(a, 0, &m), 0);
    assert_string_equal(m.job_id, "job-2"); /* job-1 went with the deleted stream */
    assert_int_equal(zt_queue_ack(a, m.id), 0);
    zt_queue_msg_clear(&m);
    /* the group alone deleted: the next command makes it again */
    c = redisConnect("127.0.0.1", (int)strtol(port, NULL, 10));
    assert_true(c && !c->err);
    r = redisCommand(c, "XGROUP DESTROY %s orchestrators", stream);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    freeReplyObject(r);
    redisFree(c);
    assert_int_equal(zt_queue_push(a, "job-3", NULL, 0, NULL), 0);
    assert_int_equal(zt_queue_take(a, 0, &m), 0);
    assert_string_equal(m.job_id, "job-3");
    assert_int_equal(zt_queue_ack(a, m.id), 0);
    zt_queue_msg_clear(&m);
    depth_is(a, 0, 0);
    zt_queue_free(a);
}

/* ---- takeover: two orchestrators on one Redis + PostgreSQL ----------------------- */

#define TK_JOBS 30
#define TK_LEASE_MS 400 /* the row's lease; the queue's claim_idle_ms too */

static const struct zt_store_step TK_STEPS[] = {
    {.sql = "CREATE TABLE tk_jobs(id TEXT PRIMARY KEY, state TEXT NOT NULL, owner TEXT, lease BIGINT NOT NULL,"
            " runs BIGINT NOT NULL, completions BIGINT NOT NULL, done_by TEXT);"},
};
static const struct zt_store_schema TK_SCHEMA = {.owner = "tk", .steps = TK_STEPS, .n_steps = 1};

struct tk {
    struct zt_store *st;
    struct zt_store_stmt *claim, *finish, *state;
    const char *me;
};

static int tk_open(struct tk *t, const char *db, const char *me)
{
    struct zt_store_opts o = {.path = db, .busy_timeout_ms = 2000, .tx_attempts = 20};
    memset(t, 0, sizeof *t);
    t->me = me;
    int rc = zt_store_open("postgres", &o, &t->st);
    if (!rc) rc = zt_store_migrate(t->st, &TK_SCHEMA);
    /* the guard: a job is ours when it is queued, or running under a lease
     * that ran out (its orchestrator died or stalled) */
    if (!rc)
        rc = zt_store_prepare(t->st,
                              "UPDATE tk_jobs SET state = 'running', owner = ?, lease = ?, runs = runs + 1"
                              " WHERE id = ? AND (state = 'queued' OR (state = 'running' AND lease < ?))",
                              &t->claim);
    /* done only by the owner of a running row: exactly once */
    if (!rc)
        rc = zt_store_prepare(t->st,
                              "UPDATE tk_jobs SET state = 'done', done_by = owner, completions = completions + 1"
                              " WHERE id = ? AND state = 'running' AND owner = ?",
                              &t->finish);
    if (!rc) rc = zt_store_prepare(t->st, "SELECT state FROM tk_jobs WHERE id = ?", &t->state);
    return rc;
}

static void tk_close(struct tk *t)
{
    zt_store_stmt_free(t->claim);
    zt_store_stmt_free(t->finish);
    zt_store_stmt_free(t->state);
    zt_store_close(t->st);
}

/* 1 when this orchestrator now owns the job, 0 when not, < 0 an error. */
static int tk_claim(struct tk *t, const char *job)
{
    int64_t now = zt_time_real_ms();
    zt_store_reset(t->claim);
    int rc = zt_store_bind_text(t->claim, 1, t->me, SIZE_MAX);
    if (!rc) rc = zt_store_bind_i64(t->claim, 2, now + TK_LEASE_MS);
    if (!rc) rc = zt_store_bind_text(t->claim, 3, job, SIZE_MAX);
    if (!rc) rc = zt_store_bind_i64(t->claim, 4, now);
    if (!rc) rc = zt_store_step(t->claim);
    return rc ? rc : zt_store_changes(t->claim) == 1;
}

static int tk_finish(struct tk *t, const char *job)
{
    zt_store_reset(t->finish);
    int rc = zt_store_bind_text(t->finish, 1, job, SIZE_MAX);
    if (!rc) rc = zt_store_bind_text(t->finish, 2, t->me, SIZE_MAX);
    if (!rc) rc = zt_store_step(t->finish);
    return rc ? rc : zt_store_changes(t->finish) == 1;
}

/* 1 when the job's row is final (done). */
static int tk_final(struct tk *t, const char *job)
{
    zt_store_reset(t->state);
    int rc = zt_store_bind_text(t->state, 1, job, SIZE_MAX);
    if (!rc) rc = zt_store_step(t->state);
    if (rc != ZT_STORE_ROW) return rc < 0 ? rc : ZT_ENOTFOUND;
    const char *s = NULL;
    rc = zt_store_column_text(t->state, 0, &s, NULL);
    int fin = !rc && strcmp(s, "done") == 0;
    zt_store_reset(t->state);
    return rc ? rc : fin;
}

/* One entry, worked by an orchestrator: claim the row, "run" the job,
 * finish the row, acknowledge. The entry is acknowledged only when its
 * row is final: a row another orchestrator holds under a live lease is
 * left pending (it acknowledges, or its entry is claimed when it dies).
 * *ran = 1 when this call ran the job. */
static int tk_work(struct tk *t, struct zt_queue *q, const struct zt_queue_msg *m, int *ran)
{
    *ran = 0;
    int own = tk_claim(t, m->job_id);
    if (own < 0) return own;
    if (own) {
        zt_time_sleep_ms(5); /* the job */
        int fin = tk_finish(t, m->job_id);
        if (fin < 0) return fin;
        *ran = fin;
    }
    int fin = tk_final(t, m->job_id);
    if (fin < 0) return fin;
    return fin ? zt_queue_ack(q, m->id) : 0;
}

/* Orchestrator A: works until it has finished `before` jobs, then takes
 * three more: finishes the first without acknowledging it, claims the
 * other two and "hangs" mid-work (tells the parent, waits for SIGKILL). */
static void tk_child(const char *url, const char *stream, const char *db, int sync_fd, int before)
{
    zt_log_set_level(ZT_LOG_OFF);
    struct tk t;
    struct zt_queue *q = NULL;
    struct zt_queue_opts o = {.backend = "redis", .url = url, .stream = stream, .consumer = "orch-a",
                              .claim_idle_ms = TK_LEASE_MS};
    if (tk_open(&t, db, "orch-a") || zt_queue_open(&o, &q)) _exit(3);
    int done = 0;
    while (done < before) {
        struct zt_queue_msg m;
        int rc = zt_queue_take(q, 100, &m);
        if (rc == ZT_ENOTFOUND) continue;
        int ran = 0;
        if (rc || tk_work(&t, q, &m, &ran)) _exit(4);
        done += ran;
        zt_queue_msg_clear(&m);
    }
    for (int k = 0; k < 3; k++) {
        struct zt_queue_msg m;
        if (zt_queue_take(q, 1000, &m) || tk_claim(&t, m.job_id) != 1) _exit(5);
        if (k == 0 && tk_finish(&t, m.job_id) != 1) _exit(6); /* done, never acknowledged */
        zt_queue_msg_clear(&m);
    }
    if (write(sync_fd, "k", 1) != 1) _exit(7);
    for (;;) pause(); /* mid-work until killed */
}

static int64_t tk_sum(const char *db, const char *sql)
{
    struct zt_store *st = NULL;
    struct zt_store_opts o = {.path = db};
    assert_int_equal(zt_store_open("postgres", &o, &st), 0);
    struct zt_store_stmt *q = NULL;
    assert_int_equal(zt_store_prepare(st, sql, &q), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    int64_t v = -1;
    assert_int_equal(zt_store_column_i64(q, 0, &v), 0);
    zt_store_stmt_free(q);
    zt_store_close(st);
    return v;
}

static void test_takeover(void **state)
{
    (void)state;
    char url[256], db[700], stream[32];
    if (!zt_test_redis_start(url, sizeof url)) zt_skip("%s", url);
    if (!zt_test_pg_new_db(db, sizeof db)) zt_skip("%s", db);
    snprintf(stream, sizeof stream, "zt:test:%u", ++stream_no);
    /* the jobs: rows queued in PostgreSQL, entries in the stream */
    struct tk b;
    assert_int_equal(tk_open(&b, db, "orch-b"), 0);
    struct zt_queue *q = open_q("redis", url, stream, "orch-b", TK_LEASE_MS);
    struct zt_store_stmt *ins = NULL;
    assert_int_equal(zt_store_prepare(b.st, "INSERT INTO tk_jobs(id, state, lease, runs, completions)"
                                            " VALUES(?, 'queued', 0, 0, 0)",
                                      &ins),
                     0);
    for (int i = 0; i < TK_JOBS; i++) {
        char job[32];
        snprintf(job, sizeof job, "job-%02d", i);
        zt_store_reset(ins);
        assert_int_equal(zt_store_bind_text(ins, 1, job, SIZE_MAX), 0);
        assert_int_equal(zt_store_step(ins), ZT_STORE_DONE);
        assert_int_equal(zt_queue_push(q, job, NULL, 0, NULL), 0);
    }
    zt_store_stmt_free(ins);
    /* orchestrator A: a child process, killed mid-work */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        tk_child(url, stream, db, fds[1], 8);
    }
    close(fds[1]);
    char c = 0;
    ssize_t r = read(fds[0], &c, 1); /* A is mid-work */
    close(fds[0]);
    kill(pid, SIGKILL);
    int st = 0;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_int_equal(r, 1);
    assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* orchestrator B works the rest, claiming what A held */
    int ran = 0, claimed = 0, empty = 0;
    uint64_t deadline = zt_time_mono_ms() + 30000;
    while (zt_time_mono_ms() < deadline) {
        size_t e = 0, p = 0;
        assert_int_equal(zt_queue_depth(q, &e, &p), 0);
        if (e == 0) break;
        struct zt_queue_msg m;
        int rc = zt_queue_take(q, 100, &m);
        if (rc == ZT_ENOTFOUND) {
            empty++;
            continue;
        }
        assert_int_equal(rc, 0);
        if (strcmp(m.from, "orch-a") == 0) claimed++;
        int did = 0;
        assert_int_equal(tk_work(&b, q, &m, &did), 0);
        ran += did;
        zt_queue_msg_clear(&m);
    }
    print_message("takeover: A ran 9 (8 + 1 finished, not acknowledged) and was killed holding 3 entries; "
                  "B claimed %d of them and ran %d jobs\n",
                  claimed, ran);
    depth_is(q, 0, 0);
    assert_int_equal(claimed, 3);
    assert_int_equal(ran, TK_JOBS - 9);
    /* every job done exactly once; the two A held running ran twice
     * (its work was lost with it) but completed once */
    assert_int_equal(tk_sum(db, "SELECT count(*) FROM tk_jobs WHERE state = 'done'"), TK_JOBS);
    assert_int_equal(tk_sum(db, "SELECT count(*) FROM tk_jobs WHERE completions <> 1"), 0);
    assert_int_equal(tk_sum(db, "SELECT count(*) FROM tk_jobs WHERE done_by = 'orch-a'"), 9);
    assert_int_equal(tk_sum(db, "SELECT count(*) FROM tk_jobs WHERE runs = 2"), 2);
    zt_queue_free(q);
    tk_close(&b);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN); /* as the node: a write to a dropped connection is an error, not a signal */
    zt_log_set_level(ZT_LOG_OFF);
#define T(f) cmocka_unit_test_setup_teardown(f, zt_test_leak_setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_memory),
        T(test_config),
        T(test_redis),
        T(test_redis_recovery),
        T(test_takeover),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
