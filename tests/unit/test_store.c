/* test_store.c: the store interface itself (zt_store.h): per-owner schema
 * migrations (fresh, upgrade of a file of the single-version layout, a
 * newer database refused, a failing step rolled back), transactions with
 * retry and savepoints, the generic typed statements, PostgreSQL's
 * parameter rewriting, opening from the configuration, and allocation
 * failures during open and migrate (SQLite's own allocations included:
 * its allocator is routed through zt_malloc here).
 *
 * The migration, transaction, statement and configuration tests run a
 * second time on a real PostgreSQL (tests/common/zt_test_servers.h: one
 * server for the program, a fresh database per test); where none can be
 * started that group is reported as skipped with the reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"
#include "zt_test_servers.h"
#include "zt_test_sqlite.h"

#include <libpq-fe.h>

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/store/store_internal.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

static char dir[256], dbpath[300];
/* The PostgreSQL group: the conninfo of this test's fresh database ("" in
 * the SQLite group). */
static char pg_db[600];
static bool on_pg(void) { return pg_db[0] != '\0'; }
static const char *driver(void) { return on_pg() ? "postgres" : "sqlite"; }
/* what the store opens: the SQLite file, or the PostgreSQL database */
static const char *db_target(void) { return on_pg() ? pg_db : dbpath; }

static int setup(void **state)
{
    (void)state;
    zt_test_leak_mark();
    /* tmpfs where there is one: the allocation sweep opens thousands of files */
    snprintf(dir, sizeof dir, "%s/zt-store-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) return -1;
    snprintf(dbpath, sizeof dbpath, "%s/store.db", dir);
    return 0;
}

static int setup_pg(void **state)
{
    if (!zt_test_pg_new_db(pg_db, sizeof pg_db)) {
        printf("cannot make a PostgreSQL database: %s\n", pg_db);
        return -1;
    }
    return setup(state);
}

/* The files a test may leave: its databases and their WAL and shm. */
static void rm_files(void)
{
    static const char *const base[] = {"store.db", "node.db", "search.db"};
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
        for (size_t j = 0; j < sizeof suffix / sizeof suffix[0]; j++) {
            char p[600];
            snprintf(p, sizeof p, "%s/%s%s", dir, base[i], suffix[j]);
            unlink(p);
        }
}

static int teardown(void **state)
{
    (void)state;
    zt_alloc_fail_after(0);
    int64_t leaked = zt_alloc_live() - zt_test_leak_base();
    rm_files();
    rmdir(dir);
    if (leaked != 0) {
        printf("leak: %lld allocations\n", (long long)leaked);
        return -1;
    }
    return 0;
}

static struct zt_store *open_store_at(const char *path, int64_t busy_ms, int attempts)
{
    struct zt_store *st = NULL;
    struct zt_store_opts o = {.path = path, .busy_timeout_ms = busy_ms, .tx_attempts = attempts};
    assert_int_equal(zt_store_open(driver(), &o, &st), 0);
    assert_non_null(st);
    return st;
}

static struct zt_store *open_store(void) { return open_store_at(db_target(), 1000, 0); }

/* Raw SQLite beside the store (the test's own view of the file): run sql
 * and return the first column of its first row as an integer (-1 when it
 * returns no row). */
static int first_int(void *ud, int ncol, char **val, char **names)
{
    (void)names;
    long *out = ud;
    int64_t v = -1;
    if (*out == -1 && ncol > 0 && val[0] && zt_str_to_i64(val[0], &v) == 0) *out = (long)v;
    return 0;
}

/* The same through libpq on the PostgreSQL group's database. */
static long raw_pg(const char *sql)
{
    PGconn *c = PQconnectdb(pg_db);
    assert_int_equal(PQstatus(c), CONNECTION_OK);
    PGresult *r = PQexec(c, sql);
    ExecStatusType t = PQresultStatus(r);
    if (t != PGRES_COMMAND_OK && t != PGRES_TUPLES_OK) print_error("sql: %s\n", PQerrorMessage(c));
    long n = -1;
    int64_t v = -1;
    if (t == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0) &&
        zt_str_to_i64(PQgetvalue(r, 0, 0), &v) == 0)
        n = (long)v;
    PQclear(r);
    PQfinish(c);
    assert_true(t == PGRES_COMMAND_OK || t == PGRES_TUPLES_OK);
    return n;
}

static long raw_sql(const char *sql)
{
    if (on_pg()) return raw_pg(sql);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    char *err = NULL;
    long n = -1;
    int rc = sqlite3_exec(db, sql, first_int, &n, &err);
    if (rc != SQLITE_OK) print_error("sql: %s\n", err ? err : "?");
    sqlite3_free(err);
    sqlite3_close(db);
    assert_int_equal(rc, SQLITE_OK);
    return n;
}

#define exec_sql(sql) ((void)raw_sql(sql))
#define count_sql(sql) raw_sql(sql)

static bool has_table(const char *name)
{
    char sql[200];
    if (on_pg())
        snprintf(sql, sizeof sql,
                 "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = '%s'",
                 name);
    else
        snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE name = '%s'", name);
    return count_sql(sql) > 0;
}

static int owner_version(struct zt_store *st, const char *owner)
{
    int v = -1;
    assert_int_equal(zt_store_owner_version(st, owner, &v), 0);
    return v;
}

/* ---- migrations ------------------------------------------------------------- */

static void test_fresh(void **state)
{
    (void)state;
    struct zt_store *st = open_store();
    /* PostgreSQL: no search tables (the private-search index needs FTS5
     * and stays in its own SQLite file); its operations say so */
    int search_v = on_pg() ? 0 : 1;
    assert_int_equal(owner_version(st, "search"), search_v);
    assert_int_equal(owner_version(st, "pseudonyms"), 1);
    int v = -1;
    assert_int_equal(zt_store_schema_version(st, &v), 0);
    assert_int_equal(v, ZT_STORE_SCHEMA_VERSION);
    assert_int_equal(owner_version(st, "never_seen"), 0);
    assert_int_equal(zt_store_owner_version(st, "Bad", &v), ZT_EINVAL);
    assert_int_equal(zt_store_dialect(st), on_pg() ? ZT_STORE_DIALECT_POSTGRES : ZT_STORE_DIALECT_SQLITE);
    /* the salts work on both */
    uint8_t ref[ZT_STORE_REF_LEN] = {1, 2, 3}, salt[32] = {0, 9, 0, 8}, back[32];
    bool found = false;
    assert_int_equal(zt_store_salt_get(st, ref, back, sizeof back), ZT_ENOTFOUND);
    assert_int_equal(zt_store_salt_put(st, ref, salt, sizeof salt), 0);
    assert_int_equal(zt_store_salt_put(st, ref, salt, sizeof salt), ZT_EEXIST);
    assert_int_equal(zt_store_salt_get(st, ref, back, sizeof back), 0);
    assert_memory_equal(back, salt, sizeof salt);
    assert_int_equal(zt_store_salt_delete(st, ref, &found), 0);
    assert_true(found);
    assert_int_equal(zt_store_salt_delete(st, ref, &found), 0);
    assert_false(found);
    if (on_pg()) {
        size_t n = 0;
        assert_int_equal(zt_store_count(st, ref, &n), ZT_EUNSUPPORTED);
    }
    zt_store_close(st);
    assert_int_equal(has_table("search_docs"), !on_pg());
    assert_int_equal(has_table("search_fts"), !on_pg());
    assert_true(has_table("identity_salts"));
    assert_int_equal(count_sql("SELECT count(*) FROM meta"), 3);
    /* reopening changes nothing */
    st = open_store();
    assert_int_equal(owner_version(st, "search"), search_v);
    zt_store_close(st);
    assert_int_equal(count_sql("SELECT count(*) FROM meta"), 3);
}

/* The schema as sqlite.c wrote it before per-owner versions: MIGRATIONS[0]
 * and [1] of that file, then schema_version set, in one transaction. */
static const char OLD_V1[] =
    "BEGIN;"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "INSERT INTO meta(key, value) VALUES('schema_version', '0');"
    "CREATE TABLE search_keys(user_ref BLOB PRIMARY KEY, wrapped BLOB NOT NULL,"
    "  created INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE search_docs(rowid INTEGER PRIMARY KEY, user_ref BLOB NOT NULL,"
    "  id_ref BLOB NOT NULL, payload BLOB NOT NULL, vec BLOB NOT NULL, terms TEXT NOT NULL,"
    "  ts INTEGER NOT NULL, UNIQUE(user_ref, id_ref));"
    "CREATE INDEX search_docs_user ON search_docs(user_ref, rowid);"
    "CREATE VIRTUAL TABLE search_fts USING fts5(terms, content='', tokenize='ascii');"
    "UPDATE meta SET value = '1' WHERE key = 'schema_version';";
static const char OLD_V2[] = "CREATE TABLE identity_salts(ref BLOB PRIMARY KEY, salt BLOB NOT NULL,"
                             "  created INTEGER NOT NULL) WITHOUT ROWID;"
                             "UPDATE meta SET value = '2' WHERE key = 'schema_version';";
/* rows as the old operations wrote them (user_ref 0x01.., id_ref 0x02..) */
static const char OLD_ROWS[] =
    "INSERT INTO search_keys VALUES(zeroblob(32), x'aabbcc', 1700000000);"
    "INSERT INTO search_docs(rowid, user_ref, id_ref, payload, vec, terms, ts)"
    "  VALUES(7, zeroblob(32), randomblob(32), x'0102', x'0304', 'tq1 tq2', 1000);"
    "INSERT INTO search_fts(rowid, terms) VALUES(7, 'tq1 tq2');";

static int on_hit(void *ud, int64_t rowid, double bm25)
{
    (void)bm25;
    *(int64_t *)ud = rowid;
    return 0;
}

static void check_old_rows(struct zt_store *st, size_t n_docs)
{
    uint8_t uref[32] = {0}, out[8];
    size_t n = 0;
    assert_int_equal(zt_store_key_get(st, uref, out, sizeof out, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "\xaa\xbb\xcc", 3);
    size_t c = 0;
    assert_int_equal(zt_store_count(st, uref, &c), 0);
    assert_int_equal(c, n_docs);
    int64_t hit = 0;
    assert_int_equal(zt_store_match(st, uref, "tq2", 10, on_hit, &hit), 0);
    assert_int_equal(hit, 7);
}

static void test_upgrade_v2(void **state)
{
    (void)state;
    char sql[4096];
    snprintf(sql, sizeof sql, "%s%s%s"
             "INSERT INTO identity_salts VALUES(x'%s', x'%s', 1700000000);COMMIT;",
             OLD_V1, OLD_V2, OLD_ROWS,
             "1111111111111111111111111111111111111111111111111111111111111111",
             "2222222222222222222222222222222222222222222222222222222222222222");
    exec_sql(sql);
    assert_int_equal(count_sql("SELECT count(*) FROM meta"), 1);
    struct zt_store *st = open_store();
    int v = -1;
    assert_int_equal(zt_store_schema_version(st, &v), 0);
    assert_int_equal(v, 2);
    assert_int_equal(owner_version(st, "search"), 1);
    assert_int_equal(owner_version(st, "pseudonyms"), 1);
    check_old_rows(st, 1);
    uint8_t ref[32], salt[32], want[32];
    memset(ref, 0x11, 32);
    memset(want, 0x22, 32);
    assert_int_equal(zt_store_salt_get(st, ref, salt, 32), 0);
    assert_memory_equal(salt, want, 32);
    /* and it still works: a new document beside the old one */
    uint8_t uref[32] = {0}, id[32] = {9};
    assert_int_equal(zt_store_doc_put(st, uref, id, (const uint8_t *)"p", 1, (const uint8_t *)"v", 1, "tq9", 2000), 0);
    size_t c = 0;
    assert_int_equal(zt_store_count(st, uref, &c), 0);
    assert_int_equal(c, 2);
    zt_store_close(st);
    assert_int_equal(count_sql("SELECT count(*) FROM meta"), 3);
    /* reopening is a no-op */
    st = open_store();
    check_old_rows(st, 2);
    zt_store_close(st);
}

static void test_upgrade_v1(void **state)
{
    (void)state;
    char sql[4096];
    snprintf(sql, sizeof sql, "%s%sCOMMIT;", OLD_V1, OLD_ROWS);
    exec_sql(sql);
    assert_false(has_table("identity_salts"));
    struct zt_store *st = open_store();
    assert_int_equal(owner_version(st, "search"), 1);
    assert_int_equal(owner_version(st, "pseudonyms"), 1); /* migrated from 0 */
    check_old_rows(st, 1);
    uint8_t ref[32] = {5}, salt[32] = {6}, got[32];
    assert_int_equal(zt_store_salt_put(st, ref, salt, 32), 0);
    assert_int_equal(zt_store_salt_get(st, ref, got, 32), 0);
    assert_memory_equal(got, salt, 32);
    zt_store_close(st);
}

static _Atomic int step_calls; /* data steps run by threads in test_concurrent_migrations */

static int count_fn(struct zt_store *st, void *ud)
{
    (void)st;
    (void)ud;
    step_calls++;
    return 0;
}

/* A data step through the statement API. */
static int fill_fn(struct zt_store *st, void *ud)
{
    (void)ud;
    step_calls++;
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(st, "INSERT INTO t_items(id, name) VALUES(?, ?)", &q);
    for (int i = 1; !rc && i <= 3; i++) {
        zt_store_reset(q);
        rc = zt_store_bind_i64(q, 1, i);
        if (!rc) rc = zt_store_bind_text(q, 2, i == 2 ? "two" : "other", SIZE_MAX);
        if (!rc) rc = zt_store_step(q);
    }
    zt_store_stmt_free(q);
    return rc;
}

static int fail_fn(struct zt_store *st, void *ud)
{
    (void)st;
    (void)ud;
    step_calls++;
    return ZT_EIO;
}

static const struct zt_store_step T_STEPS[] = {
    {.sql = "CREATE TABLE t_items(id INTEGER PRIMARY KEY, name TEXT NOT NULL);",
     .sql_pg = "CREATE TABLE t_items(id BIGINT PRIMARY KEY, name TEXT NOT NULL);"},
    {.sql = "CREATE INDEX t_items_name ON t_items(name);", .fn = fill_fn},
    {.sql = "ALTER TABLE t_items ADD COLUMN note TEXT;", .fn = count_fn},
};

static void test_owner_migrations(void **state)
{
    (void)state;
    struct zt_store *st = open_store();
    struct zt_store_schema sc = {.owner = "testowner", .steps = T_STEPS, .n_steps = 2};
    step_calls = 0;
    assert_int_equal(zt_store_migrate(st, &sc), 0);
    assert_int_equal(owner_version(st, "testowner"), 2);
    assert_int_equal(step_calls, 1);
    assert_int_equal(count_sql("SELECT count(*) FROM t_items"), 3);
    /* again: nothing to do */
    assert_int_equal(zt_store_migrate(st, &sc), 0);
    assert_int_equal(step_calls, 1);
    zt_store_close(st);
    /* a newer binary knows one step more: only that one runs */
    st = open_store();
    sc.n_steps = 3;
    assert_int_equal(zt_store_migrate(st, &sc), 0);
    assert_int_equal(owner_version(st, "testowner"), 3);
    assert_int_equal(step_calls, 2);
    assert_int_equal(count_sql(on_pg() ? "SELECT count(*) FROM information_schema.columns WHERE table_name = 't_items'"
                                         " AND table_schema = current_schema()"
                                         " AND column_name = 'note'"
                                       : "SELECT count(*) FROM pragma_table_info('t_items') WHERE name = 'note'"),
                     1);
    /* the older binary is refused, and the file is left as it is */
    sc.n_steps = 2;
    assert_int_equal(zt_store_migrate(st, &sc), ZT_EUNSUPPORTED);
    assert_int_equal(owner_version(st, "testowner"), 3);
    /* owner names are checked */
    struct zt_store_schema bad = {.owner = "Bad-name", .steps = T_STEPS, .n_steps = 1};
    assert_int_equal(zt_store_migrate(st, &bad), ZT_EINVAL);
    bad.owner = "a_very_long_owner_name_over_32_chars";
    assert_int_equal(zt_store_migrate(st, &bad), ZT_EINVAL);
    bad.owner = "";
    assert_int_equal(zt_store_migrate(st, &bad), ZT_EINVAL);
    /* no steps: version 0, nothing written */
    struct zt_store_schema none = {.owner = "empty"};
    assert_int_equal(zt_store_migrate(st, &none), 0);
    assert_int_equal(owner_version(st, "empty"), 0);
    zt_store_close(st);
}

/* Several orchestrators start at once on one fresh database: each opens
 * (meta made once) and migrates the same owner; every step runs once
 * (fill_fn's three rows are there once), all succeed. */
static void *open_and_migrate(void *arg)
{
    (void)arg;
    struct zt_store *st = NULL;
    struct zt_store_opts o = {.path = db_target(), .busy_timeout_ms = 5000, .tx_attempts = 20};
    intptr_t rc = zt_store_open(driver(), &o, &st);
    struct zt_store_schema sc = {.owner = "testowner", .steps = T_STEPS, .n_steps = 3};
    if (!rc) rc = zt_store_migrate(st, &sc);
    zt_store_close(st);
    return (void *)rc;
}

static void test_concurrent_migrations(void **state)
{
    (void)state;
    pthread_t t[4];
    for (int i = 0; i < 4; i++) assert_int_equal(pthread_create(&t[i], NULL, open_and_migrate, NULL), 0);
    for (int i = 0; i < 4; i++) {
        void *r = NULL;
        assert_int_equal(pthread_join(t[i], &r), 0);
        if ((intptr_t)r) print_error("migrator %d: %s\n", i, zt_strerror((int)(intptr_t)r));
        assert_int_equal((intptr_t)r, 0);
    }
    assert_int_equal(count_sql("SELECT count(*) FROM t_items"), 3);
    assert_int_equal(count_sql("SELECT count(*) FROM meta"), 4);
    struct zt_store *st = open_store();
    assert_int_equal(owner_version(st, "testowner"), 3);
    zt_store_close(st);
}

static void test_failing_step(void **state)
{
    (void)state;
    struct zt_store *st = open_store();
    /* step 2's script runs, then its fn fails: the table it made goes too */
    const struct zt_store_step steps[] = {
        {.sql = "CREATE TABLE f_one(a INTEGER);"},
        {.sql = "CREATE TABLE f_two(b INTEGER); INSERT INTO f_two VALUES(1);", .fn = fail_fn},
    };
    struct zt_store_schema sc = {.owner = "failing", .steps = steps, .n_steps = 2};
    step_calls = 0;
    assert_int_equal(zt_store_migrate(st, &sc), ZT_EIO);
    assert_int_equal(step_calls, 1);
    assert_int_equal(owner_version(st, "failing"), 1);
    assert_true(has_table("f_one"));
    assert_false(has_table("f_two"));
    /* a script error is rolled back the same way */
    const struct zt_store_step bad_sql[] = {
        {.sql = "CREATE TABLE f_one(a INTEGER);"},
        {.sql = "CREATE TABLE f_three(c INTEGER); THIS IS NOT SQL;"},
    };
    sc.steps = bad_sql;
    assert_int_equal(zt_store_migrate(st, &sc), ZT_EIO);
    assert_int_equal(owner_version(st, "failing"), 1);
    assert_false(has_table("f_three"));
    /* fixed binary: completes */
    const struct zt_store_step good[] = {
        {.sql = "CREATE TABLE f_one(a INTEGER);"},
        {.sql = "CREATE TABLE f_two(b INTEGER);"},
    };
    sc.steps = good;
    assert_int_equal(zt_store_migrate(st, &sc), 0);
    assert_int_equal(owner_version(st, "failing"), 2);
    zt_store_close(st);
}

static void test_newer_refused(void **state)
{
    (void)state;
    struct zt_store *st = open_store();
    zt_store_close(st);
    struct zt_store_opts o = {.path = db_target(), .busy_timeout_ms = 100};
    /* a built-in owner newer than this binary (search on SQLite; PostgreSQL
     * migrates only pseudonyms) */
    const char *owner_key = on_pg() ? "schema_version:pseudonyms" : "schema_version:search";
    char sql[200];
    snprintf(sql, sizeof sql, "UPDATE meta SET value = '9' WHERE key = '%s'", owner_key);
    exec_sql(sql);
    st = NULL;
    assert_int_equal(zt_store_open(driver(), &o, &st), ZT_EUNSUPPORTED);
    assert_null(st);
    snprintf(sql, sizeof sql, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = '%s'", owner_key);
    assert_int_equal(count_sql(sql), 9);
    /* a layout newer than this binary */
    snprintf(sql, sizeof sql,
             "UPDATE meta SET value = '1' WHERE key = '%s';"
             "UPDATE meta SET value = '3' WHERE key = 'schema_version'",
             owner_key);
    exec_sql(sql);
    assert_int_equal(zt_store_open(driver(), &o, &st), ZT_EUNSUPPORTED);
    assert_null(st);
    exec_sql("UPDATE meta SET value = '2' WHERE key = 'schema_version'");
    st = open_store();
    zt_store_close(st);
    st = NULL;
    /* drivers: PostgreSQL with what is not a reachable database */
    struct zt_store_opts bad = {.path = "host=/nonexistent port=1 dbname=x connect_timeout=2"};
    assert_int_equal(zt_store_open("postgres", &bad, &st), ZT_EIO);
    bad.path = "";
    assert_int_equal(zt_store_open("postgres", &bad, &st), ZT_EINVAL);
    assert_int_equal(zt_store_open("nosuch", &o, &st), ZT_EINVAL);
    assert_null(st);
}

/* ---- transactions ---------------------------------------------------------- */

struct txc {
    int calls, fail_until; /* ask for a retry while calls < fail_until */
    int64_t value;
    int ret;               /* returned after the write */
};

static int put_kv(struct zt_store *st, const char *k, int64_t v)
{
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(st, "INSERT INTO kv(k, v) VALUES(?, ?) ON CONFLICT(k) DO UPDATE SET v = excluded.v", &q);
    if (rc) return rc;
    rc = zt_store_bind_text(q, 1, k, SIZE_MAX);
    if (!rc) rc = zt_store_bind_i64(q, 2, v);
    if (!rc) rc = zt_store_step(q);
    zt_store_stmt_free(q);
    return rc;
}

static int64_t get_kv(struct zt_store *st, const char *k)
{
    struct zt_store_stmt *q = NULL;
    assert_int_equal(zt_store_prepare(st, "SELECT v FROM kv WHERE k = ?", &q), 0);
    assert_int_equal(zt_store_bind_text(q, 1, k, SIZE_MAX), 0);
    int64_t v = -1;
    int rc = zt_store_step(q);
    if (rc == ZT_STORE_ROW) assert_int_equal(zt_store_column_i64(q, 0, &v), 0);
    else assert_int_equal(rc, ZT_STORE_DONE);
    zt_store_stmt_free(q);
    return v;
}

static int tx_body(struct zt_store *st, void *ud)
{
    struct txc *c = ud;
    c->calls++;
    int rc = put_kv(st, "a", c->value);
    if (rc) return rc;
    if (c->calls < c->fail_until) return zt_store_retry(st);
    return c->ret;
}

static int tx_outer(struct zt_store *st, void *ud)
{
    struct txc *c = ud;
    int rc = put_kv(st, "outer", 1);
    if (!rc) rc = put_kv(st, "a", c->value);
    if (rc) return rc;
    /* the inner body fails: only its write goes */
    struct txc in = {.value = 99, .ret = ZT_EINVAL};
    assert_int_equal(zt_store_tx(st, tx_body, &in), ZT_EINVAL);
    assert_int_equal(get_kv(st, "a"), c->value);
    /* the inner body succeeds: its write stays with the outer one */
    in.ret = 0;
    in.value = 7;
    assert_int_equal(zt_store_tx(st, tx_body, &in), 0);
    /* begin inside a transaction is refused */
    assert_int_equal(zt_store_begin(st), ZT_EINVAL);
    return c->ret;
}

static void test_tx(void **state)
{
    (void)state;
    struct zt_store *st = open_store_at(db_target(), 1000, 3);
    assert_int_equal(zt_store_exec(st, "CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER NOT NULL)"), 0);
    struct txc c = {.value = 1};
    assert_int_equal(zt_store_tx(st, tx_body, &c), 0);
    assert_int_equal(c.calls, 1);
    assert_int_equal(get_kv(st, "a"), 1);
    /* an error rolls back and is not retried */
    c = (struct txc){.value = 2, .ret = ZT_EINVAL};
    assert_int_equal(zt_store_tx(st, tx_body, &c), ZT_EINVAL);
    assert_int_equal(c.calls, 1);
    assert_int_equal(get_kv(st, "a"), 1);
    /* a conflict is retried: succeeds on the third try */
    c = (struct txc){.value = 3, .fail_until = 3};
    assert_int_equal(zt_store_tx(st, tx_body, &c), 0);
    assert_int_equal(c.calls, 3);
    assert_int_equal(get_kv(st, "a"), 3);
    /* ... up to tx_attempts (3), then ZT_EBUSY with nothing written */
    c = (struct txc){.value = 4, .fail_until = 100};
    assert_int_equal(zt_store_tx(st, tx_body, &c), ZT_EBUSY);
    assert_int_equal(c.calls, 3);
    assert_int_equal(get_kv(st, "a"), 3);
    /* ZT_EBUSY that is not a conflict (a full queue elsewhere) is not retried */
    c = (struct txc){.value = 5, .ret = ZT_EBUSY};
    assert_int_equal(zt_store_tx(st, tx_body, &c), ZT_EBUSY);
    assert_int_equal(c.calls, 1);
    /* nested: savepoints */
    c = (struct txc){.value = 6};
    assert_int_equal(zt_store_tx(st, tx_outer, &c), 0);
    assert_int_equal(get_kv(st, "a"), 7);
    assert_int_equal(get_kv(st, "outer"), 1);
    /* the outer body fails: the inner commit goes with it */
    assert_int_equal(zt_store_exec(st, "DELETE FROM kv"), 0);
    c = (struct txc){.value = 6, .ret = ZT_EIO};
    assert_int_equal(zt_store_tx(st, tx_outer, &c), ZT_EIO);
    assert_int_equal(get_kv(st, "a"), -1);
    assert_int_equal(get_kv(st, "outer"), -1);
    /* inside begin/commit (the search batch style) zt_store_tx nests */
    assert_int_equal(zt_store_begin(st), 0);
    c = (struct txc){.value = 8};
    assert_int_equal(zt_store_tx(st, tx_body, &c), 0);
    assert_int_equal(zt_store_rollback(st), 0);
    assert_int_equal(get_kv(st, "a"), -1);
    assert_int_equal(zt_store_commit(st), ZT_EINVAL); /* none open */
    assert_int_equal(zt_store_rollback(st), 0);
    assert_int_equal(zt_store_tx(st, NULL, NULL), ZT_EINVAL);
    zt_store_close(st);
}

/* zt_store_tx_try: one try at a time, the caller backing off between
 * (the registry's settlement, review10 F6); and the store's clock. */
static void test_tx_try_and_clock(void **state)
{
    (void)state;
    struct zt_store *st = open_store_at(db_target(), 1000, 3);
    assert_int_equal(zt_store_exec(st, "CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER NOT NULL)"), 0);
    struct txc c = {.value = 1, .fail_until = 3};
    bool again = false;
    int64_t retries0 = zt_store_tx_retries(st);
    int a = 1;
    int rc;
    for (;; a++) {
        rc = zt_store_tx_try(st, a, tx_body, &c, &again);
        if (!again) break;
        assert_int_equal(rc, ZT_EBUSY);
        assert_int_equal(get_kv(st, "a"), -1); /* rolled back */
        uint64_t ms = zt_store_tx_backoff(st, a);
        assert_true(ms >= (5u << (a - 1)) && ms < (10u << (a - 1)));
    }
    assert_int_equal(rc, 0);
    assert_int_equal(a, 3);
    assert_int_equal(c.calls, 3);
    assert_int_equal(get_kv(st, "a"), 1);
    assert_int_equal(zt_store_tx_retries(st), retries0 + 2);
    /* at the handle's last try (3) a conflict is no longer "again" */
    c = (struct txc){.value = 2, .fail_until = 100};
    assert_int_equal(zt_store_tx_try(st, 3, tx_body, &c, &again), ZT_EBUSY);
    assert_false(again);
    /* an error that is no conflict: never again */
    c = (struct txc){.value = 2, .ret = ZT_EINVAL};
    assert_int_equal(zt_store_tx_try(st, 1, tx_body, &c, &again), ZT_EINVAL);
    assert_false(again);
    assert_int_equal(get_kv(st, "a"), 1);
    assert_int_equal(zt_store_tx_try(st, 1, NULL, NULL, &again), ZT_EINVAL);
    /* the clock: PostgreSQL's (the server here is on this machine), or
     * this machine's; the test seam shifts it */
    int64_t now = 0, shifted = 0;
    int64_t local = zt_time_real_ms();
    assert_int_equal(zt_store_clock_ms(st, &now), 0);
    assert_true(now >= local - 5000 && now <= local + 60000);
    zt_store_clock_shift(st, 30000);
    assert_int_equal(zt_store_clock_ms(st, &shifted), 0);
    assert_true(shifted - now >= 30000 && shifted - now < 90000);
    zt_store_clock_shift(st, 0);
    assert_int_equal(zt_store_clock_ms(NULL, &now), ZT_EINVAL);
    if (zt_store_dialect(st) == ZT_STORE_DIALECT_POSTGRES) {
        /* one round trip a call (review11 F4): the query stays prepared
         * on the session (the old code prepared, ran and deallocated it
         * each time: none left here), once however often it is read */
        for (int i = 0; i < 3; i++) assert_int_equal(zt_store_clock_ms(st, &now), 0);
        struct zt_store_stmt *q = NULL;
        assert_int_equal(zt_store_prepare(st,
                                          "SELECT count(*) FROM pg_prepared_statements"
                                          " WHERE statement LIKE '%epoch' || ' from clock_timestamp%'",
                                          &q),
                         0);
        assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
        int64_t kept = -1;
        assert_int_equal(zt_store_column_i64(q, 0, &kept), 0);
        zt_store_stmt_free(q);
        assert_int_equal(kept, 1);
    }
    zt_store_close(st);
}

/* Another connection holds the write lock for a while, then lets go. */
struct holder {
    struct zt_store *st;
    uint64_t hold_ms;
};

static void *hold_lock(void *arg)
{
    struct holder *h = arg;
    zt_time_sleep_ms(h->hold_ms);
    zt_ignore(zt_store_commit(h->st));
    return NULL;
}

static void test_tx_busy(void **state)
{
    (void)state;
    struct zt_store *a = open_store_at(db_target(), 1000, 0);
    assert_int_equal(zt_store_exec(a, "CREATE TABLE kv(k TEXT PRIMARY KEY, v INTEGER NOT NULL)"), 0);
    /* b waits 20 ms per try and tries 2 times: a holds the lock throughout
     * (SQLite: the database's, from BEGIN IMMEDIATE; PostgreSQL: the row
     * lock of a's uncommitted write, past lock_timeout = busy timeout) */
    struct zt_store *b = open_store_at(db_target(), 20, 2);
    assert_int_equal(zt_store_begin(a), 0);
    assert_int_equal(put_kv(a, "a", 0), 0);
    struct txc c = {.value = 1};
    assert_int_equal(zt_store_tx(b, tx_body, &c), ZT_EBUSY);
    /* SQLite refuses the begin; PostgreSQL runs the body into the lock, each try */
    assert_int_equal(c.calls, on_pg() ? 2 : 0);
    assert_int_equal(zt_store_commit(a), 0);
    zt_store_close(b);
    /* b tries 8 times (about 20 ms + back-off each): a lets go after 60 ms */
    b = open_store_at(db_target(), 20, 8);
    assert_int_equal(zt_store_begin(a), 0);
    assert_int_equal(put_kv(a, "a", 0), 0);
    struct holder h = {a, 60};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, hold_lock, &h), 0);
    c = (struct txc){.value = 2};
    int rc = zt_store_tx(b, tx_body, &c);
    pthread_join(t, NULL);
    assert_int_equal(rc, 0);
    if (on_pg()) assert_true(c.calls >= 1);
    else assert_int_equal(c.calls, 1);
    assert_int_equal(get_kv(a, "a"), 2);
    zt_store_close(b);
    zt_store_close(a);
}

/* ---- statements ------------------------------------------------------------ */

static void test_statements(void **state)
{
    (void)state;
    struct zt_store *st = open_store();
    /* PostgreSQL: a 128-bit amount is NUMERIC(39,0), bound and read as text */
    assert_int_equal(zt_store_exec(st, on_pg() ? "CREATE TABLE r(id BIGINT PRIMARY KEY, n BIGINT, t TEXT,"
                                                 "  b BYTEA, amount NUMERIC(39,0) NOT NULL);"
                                               : "CREATE TABLE r(id INTEGER PRIMARY KEY, n INTEGER, t TEXT,"
                                                 "  b BLOB, amount TEXT NOT NULL CHECK(length(amount) <= 39));"),
                     0);
    struct zt_store_stmt *ins = NULL, *sel = NULL, *q = NULL;
    assert_int_equal(zt_store_prepare(st, "INSERT INTO r(id, n, t, b, amount) VALUES(?, ?, ?, ?, ?) RETURNING id", &ins),
                     0);
    static const uint8_t blob[] = {0, 1, 2, 0, 255};
    const char *max128 = "340282366920938463463374607431768211455"; /* 2^128 - 1 */
    /* row 1: extremes */
    assert_int_equal(zt_store_bind_i64(ins, 1, 1), 0);
    assert_int_equal(zt_store_bind_i64(ins, 2, INT64_MIN), 0);
    assert_int_equal(zt_store_bind_text(ins, 3, "h\xc3\xa9llo w\xc3\xb6rld", SIZE_MAX), 0);
    assert_int_equal(zt_store_bind_blob(ins, 4, blob, sizeof blob), 0);
    assert_int_equal(zt_store_bind_text(ins, 5, max128, SIZE_MAX), 0);
    assert_int_equal(zt_store_step(ins), ZT_STORE_ROW);
    int64_t id = 0;
    assert_int_equal(zt_store_column_i64(ins, 0, &id), 0);
    assert_int_equal(id, 1);
    assert_int_equal(zt_store_step(ins), ZT_STORE_DONE);
    assert_int_equal(zt_store_changes(ins), 1);
    /* row 2: NULLs, an empty blob, INT64_MAX; text with a length */
    zt_store_reset(ins);
    assert_int_equal(zt_store_bind_i64(ins, 1, 2), 0);
    assert_int_equal(zt_store_bind_i64(ins, 2, INT64_MAX), 0);
    assert_int_equal(zt_store_bind_text(ins, 3, NULL, 0), 0);
    assert_int_equal(zt_store_bind_blob(ins, 4, "", 0), 0);
    assert_int_equal(zt_store_bind_text(ins, 5, "12345", 2), 0);
    assert_int_equal(zt_store_step(ins), ZT_STORE_ROW);
    zt_store_reset(ins);
    /* the same id again: unique constraint */
    assert_int_equal(zt_store_bind_i64(ins, 1, 2), 0);
    assert_int_equal(zt_store_bind_text(ins, 5, "1", SIZE_MAX), 0);
    assert_int_equal(zt_store_step(ins), ZT_EEXIST);
    /* reset cleared the bindings: amount NULL violates NOT NULL */
    zt_store_reset(ins);
    assert_int_equal(zt_store_bind_i64(ins, 1, 3), 0);
    assert_int_equal(zt_store_step(ins), ZT_EINVAL);
    /* CHECK (PostgreSQL: NUMERIC(39,0) overflows) */
    zt_store_reset(ins);
    assert_int_equal(zt_store_bind_i64(ins, 1, 3), 0);
    assert_int_equal(zt_store_bind_text(ins, 5, "1234567890123456789012345678901234567890", SIZE_MAX), 0);
    assert_int_equal(zt_store_step(ins), ZT_EINVAL);
    /* bad bindings */
    assert_int_equal(zt_store_bind_i64(ins, 0, 1), ZT_ERANGE);
    assert_int_equal(zt_store_bind_i64(ins, 6, 1), ZT_ERANGE);
    assert_int_equal(zt_store_bind_text(ins, 3, "\xff\xfe", SIZE_MAX), ZT_EINVAL);
    assert_int_equal(zt_store_bind_text(ins, 3, "a\0b", 3), ZT_EINVAL);
    zt_store_stmt_free(ins);

    assert_int_equal(zt_store_prepare(st,
                                      on_pg() ? "SELECT id, n, t, b, amount, 1.5::float8 FROM r ORDER BY id"
                                              : "SELECT id, n, t, b, amount, 1.5 FROM r ORDER BY id",
                                      &sel),
                     0);
    assert_int_equal(zt_store_step(sel), ZT_STORE_ROW);
    assert_int_equal(zt_store_column_count(sel), 6);
    int64_t n = 0;
    const char *t = NULL;
    const void *b = NULL;
    size_t len = 0;
    assert_int_equal(zt_store_column_i64(sel, 1, &n), 0);
    assert_true(n == INT64_MIN);
    assert_int_equal(zt_store_column_text(sel, 2, &t, &len), 0);
    assert_int_equal(len, strlen("h\xc3\xa9llo w\xc3\xb6rld"));
    assert_string_equal(t, "h\xc3\xa9llo w\xc3\xb6rld");
    assert_int_equal(zt_store_column_blob(sel, 3, &b, &len), 0);
    assert_int_equal(len, sizeof blob);
    assert_memory_equal(b, blob, sizeof blob);
    assert_int_equal(zt_store_column_text(sel, 4, &t, &len), 0);
    assert_string_equal(t, max128); /* exact: TEXT, not a numeric affinity */
    assert_int_equal(zt_store_column_type(sel, 5), ZT_STORE_REAL);
    /* typed reads check types and indexes */
    assert_int_equal(zt_store_column_text(sel, 1, &t, &len), ZT_EINVAL);
    assert_int_equal(zt_store_column_i64(sel, 2, &n), ZT_EINVAL);
    assert_int_equal(zt_store_column_i64(sel, 5, &n), ZT_EINVAL);
    assert_int_equal(zt_store_column_i64(sel, 6, &n), ZT_ERANGE);
    assert_int_equal(zt_store_column_i64(sel, -1, &n), ZT_ERANGE);
    assert_int_equal(zt_store_step(sel), ZT_STORE_ROW);
    assert_int_equal(zt_store_column_i64(sel, 1, &n), 0);
    assert_true(n == INT64_MAX);
    assert_int_equal(zt_store_column_type(sel, 2), ZT_STORE_NULL);
    assert_int_equal(zt_store_column_text(sel, 2, &t, &len), ZT_ENOTFOUND);
    assert_int_equal(zt_store_column_blob(sel, 3, &b, &len), 0);
    assert_int_equal(len, 0);
    assert_int_equal(zt_store_column_text(sel, 4, &t, &len), 0);
    assert_string_equal(t, "12");
    assert_int_equal(zt_store_step(sel), ZT_STORE_DONE);
    /* stepping again runs it again */
    assert_int_equal(zt_store_step(sel), ZT_STORE_ROW);
    zt_store_reset(sel);
    zt_store_stmt_free(sel);

    /* UPDATE changes */
    assert_int_equal(zt_store_prepare(st, "UPDATE r SET n = n + ? WHERE id >= ?", &q), 0);
    assert_int_equal(zt_store_bind_i64(q, 1, 0), 0);
    assert_int_equal(zt_store_bind_i64(q, 2, 1), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_DONE);
    assert_int_equal(zt_store_changes(q), 2);
    zt_store_stmt_free(q);
    q = NULL;
    /* one statement only; syntax errors; unknown tables */
    assert_int_equal(zt_store_prepare(st, "SELECT 1; SELECT 2", &q), ZT_EINVAL);
    assert_int_equal(zt_store_prepare(st, "SELECT 1;  \n", &q), 0);
    zt_store_stmt_free(q);
    q = NULL;
    assert_int_equal(zt_store_prepare(st, "SELEKT 1", &q), ZT_EINVAL);
    assert_int_equal(zt_store_prepare(st, "SELECT * FROM nosuch", &q), ZT_EINVAL);
    assert_int_equal(zt_store_prepare(st, "", &q), ZT_EINVAL);
    assert_null(q);

    /* a table of statements (zt_store_prepare_all): prepared in order up
     * to the first error, which leaves the ones before it for
     * zt_store_stmt_free_all (every member NULL after) */
    struct three {
        struct zt_store_stmt *a, *b, *c;
    } set = {0};
    const struct zt_store_stmt_def defs[] = {
        {offsetof(struct three, a), "SELECT count(*) FROM r WHERE id >= ?"},
        {offsetof(struct three, b), "SELEKT 1"},
        {offsetof(struct three, c), "SELECT 1"},
    };
    assert_int_equal(zt_store_prepare_all(st, &set, defs, 3), ZT_EINVAL);
    assert_non_null(set.a);
    assert_null(set.b);
    assert_null(set.c);
    zt_store_stmt_free_all(&set, defs, 3);
    assert_null(set.a);
    assert_int_equal(zt_store_prepare_all(st, &set, defs, 1), 0);
    assert_int_equal(zt_store_bind_i64(set.a, 1, 1), 0);
    assert_int_equal(zt_store_step(set.a), ZT_STORE_ROW);
    zt_store_reset(set.a);
    zt_store_stmt_free_all(&set, defs, 3);
    zt_store_close(st);
}

/* PostgreSQL: the server drops the connection (a restart, a failover):
 * the statement that meets it fails (ZT_EIO: a write is never replayed
 * blindly), the next call reconnects and prepares its statement again. */
static void test_pg_reconnect(void **state)
{
    (void)state;
    char ci[800];
    snprintf(ci, sizeof ci, "%s application_name=zt_reconnect", pg_db);
    struct zt_store *st = open_store_at(ci, 1000, 0);
    struct zt_store_stmt *q = NULL;
    assert_int_equal(zt_store_prepare(st, "SELECT CAST(? AS BIGINT) + 1", &q), 0);
    int64_t v = 0;
    assert_int_equal(zt_store_bind_i64(q, 1, 41), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    assert_int_equal(zt_store_column_i64(q, 0, &v), 0);
    assert_int_equal(v, 42);
    zt_store_reset(q);
    assert_int_equal(count_sql("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                               " WHERE application_name = 'zt_reconnect') t"),
                     1);
    assert_int_equal(zt_store_bind_i64(q, 1, 1), 0);
    assert_int_equal(zt_store_step(q), ZT_EIO);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    assert_int_equal(zt_store_column_i64(q, 0, &v), 0);
    assert_int_equal(v, 2);
    zt_store_stmt_free(q);
    /* the new session has the store's settings (lock_timeout = busy timeout) */
    assert_int_equal(zt_store_prepare(st, "SELECT current_setting('lock_timeout')", &q), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_ROW);
    const char *lt = NULL;
    assert_int_equal(zt_store_column_text(q, 0, &lt, NULL), 0);
    assert_string_equal(lt, "1s");
    zt_store_stmt_free(q);
    int ver = 0;
    assert_int_equal(zt_store_owner_version(st, "pseudonyms", &ver), 0);
    assert_int_equal(ver, 1);
    zt_store_close(st);
}

/* ---- PostgreSQL parameters --------------------------------------------------- */

static void pg_ok(const char *in, const char *want, int want_n)
{
    char *out = NULL;
    int n = -1;
    assert_int_equal(zt__store_sql_to_pg(in, &out, &n), 0);
    assert_string_equal(out, want);
    assert_int_equal(n, want_n);
    zt_free(out);
}

static void test_pg_params(void **state)
{
    (void)state;
    pg_ok("SELECT 1", "SELECT 1", 0);
    pg_ok("INSERT INTO t(a, b) VALUES(?, ?)", "INSERT INTO t(a, b) VALUES($1, $2)", 2);
    pg_ok("SELECT '?', \"q?\" FROM t WHERE a = ? -- why?\n AND b = ?",
          "SELECT '?', \"q?\" FROM t WHERE a = $1 -- why?\n AND b = $2", 2);
    pg_ok("SELECT 'it''s ?', E'\\'?' , ? /* ? */", "SELECT 'it''s ?', E'\\'?' , $1 /* ? */", 1);
    pg_ok("SELECT $$ ? $$, $fn$ a ? $ b $fn$, ?", "SELECT $$ ? $$, $fn$ a ? $ b $fn$, $1", 1);
    pg_ok("SELECT a$b FROM t WHERE x = ?", "SELECT a$b FROM t WHERE x = $1", 1);
    pg_ok("SELECT v::numeric(39,0) FROM t WHERE k = ?", "SELECT v::numeric(39,0) FROM t WHERE k = $1", 1);
    char *out = NULL;
    assert_int_equal(zt__store_sql_to_pg("SELECT ?1", &out, NULL), ZT_EINVAL);
    assert_int_equal(zt__store_sql_to_pg("SELECT $1, ?", &out, NULL), ZT_EINVAL);
    assert_int_equal(zt__store_sql_to_pg("SELECT 'open", &out, NULL), ZT_EINVAL);
    assert_int_equal(zt__store_sql_to_pg("SELECT /* open", &out, NULL), ZT_EINVAL);
    assert_int_equal(zt__store_sql_to_pg("SELECT $x$ open", &out, NULL), ZT_EINVAL);
    assert_null(out);
}

/* ---- from the configuration -------------------------------------------------- */

static void test_open_config(void **state)
{
    (void)state;
    struct zt_config cfg;
    assert_int_equal(zt_config_init_defaults(&cfg), 0);
    struct zt_buf errs;
    zt_buf_init(&errs, 4096);
    assert_int_equal(zt_config_set(&cfg, "node.data_dir", dir, "test", &errs), 0);
    assert_int_equal(zt_config_set(&cfg, "database.sqlite_path", "node.db", "test", &errs), 0);
    struct zt_store *st = NULL;
    assert_int_equal(zt_store_open_config(&cfg, NULL, &st, &errs), 0);
    zt_store_close(st);
    char p[400];
    snprintf(p, sizeof p, "%s/node.db", dir);
    assert_int_equal(access(p, F_OK), 0);
    /* the search store: another file, same settings */
    st = NULL;
    assert_int_equal(zt_store_open_config(&cfg, "search.db", &st, &errs), 0);
    zt_store_close(st);
    snprintf(p, sizeof p, "%s/search.db", dir);
    assert_int_equal(access(p, F_OK), 0);
    assert_int_equal(errs.len, 0);
    /* postgres without its URL: refused with the reason */
    assert_int_equal(zt_config_set(&cfg, "database.driver", "postgres", "test", &errs), 0);
    st = NULL;
    assert_int_equal(zt_store_open_config(&cfg, NULL, &st, &errs), ZT_EINVAL);
    assert_null(st);
    assert_non_null(strstr(zt_buf_str(&errs), "database.postgres_url is required"));
    if (on_pg()) {
        /* the node store on PostgreSQL; the search store stays its own SQLite file */
        zt_buf_reset(&errs);
        assert_int_equal(zt_config_set(&cfg, "database.postgres_url", pg_db, "test", &errs), 0);
        assert_int_equal(zt_store_open_config(&cfg, NULL, &st, &errs), 0);
        assert_int_equal(zt_store_dialect(st), ZT_STORE_DIALECT_POSTGRES);
        zt_store_close(st);
        st = NULL;
        assert_int_equal(unlink(p), 0);
        assert_int_equal(zt_store_open_config(&cfg, "search.db", &st, &errs), 0);
        assert_int_equal(zt_store_dialect(st), ZT_STORE_DIALECT_SQLITE);
        zt_store_close(st);
        assert_int_equal(access(p, F_OK), 0);
        assert_int_equal(errs.len, 0);
    }
    zt_buf_deinit(&errs);
    zt_config_deinit(&cfg);
}

/* ---- allocation failures ----------------------------------------------------- */

/* SQLite allocates through zt_malloc (tests/common/zt_test_sqlite.h), so
 * zt_alloc_fail_after reaches its allocations too. */

static void fresh_file(bool legacy)
{
    rm_files();
    if (legacy) {
        char sql[4096];
        snprintf(sql, sizeof sql, "%s%s%sCOMMIT;", OLD_V1, OLD_V2, OLD_ROWS);
        exec_sql(sql);
    }
}

/* Open and migrate an owner with allocation fail_n failing (0: none). */
static int open_migrate(int fail_n)
{
    struct zt_store *st = NULL;
    struct zt_store_opts o = {.path = dbpath, .busy_timeout_ms = 100};
    struct zt_store_schema sc = {.owner = "testowner", .steps = T_STEPS, .n_steps = 3};
    zt_alloc_fail_after(fail_n);
    int rc = zt_store_open("sqlite", &o, &st);
    if (!rc) rc = zt_store_migrate(st, &sc);
    zt_alloc_fail_after(0);
    zt_store_close(st);
    return rc;
}

/* Open (and migrate an owner) with the nth allocation failing, for every n
 * up to past the number of allocations a clean run makes (SQLite recovers
 * from some failures by itself: those runs succeed). Each failure is
 * ZT_ENOMEM (or ZT_EIO where SQLite reports it as an I/O error), nothing
 * leaks, and the file opens cleanly afterwards with every version where
 * it must be and the old rows there. */
static void sweep(bool legacy)
{
    fresh_file(legacy);
    int64_t c0 = zt_test_sqlite_calls();
    assert_int_equal(open_migrate(0), 0);
    int total = (int)(zt_test_sqlite_calls() - c0) + 100; /* + the store's own allocations, generously */
    /* every point takes a while (tmpfs or not): every 4th by default, all
     * with ZT_TORTURE_FULL=1 */
    const char *full = getenv("ZT_TORTURE_FULL");
    int stride = full && full[0] == '1' ? 1 : 4;
    int failed = 0, tried = 0;
    for (int n = 1; n <= total; n += stride) {
        tried++;
        fresh_file(legacy);
        int64_t live = zt_alloc_live();
        int rc = open_migrate(n);
        if (zt_alloc_live() != live) {
            print_error("failure point %d: %lld allocations leaked\n", n, (long long)(zt_alloc_live() - live));
            fail();
        }
        if (rc == 0) continue;
        failed++;
        if (rc != ZT_ENOMEM && rc != ZT_EIO) {
            print_error("failure point %d: %s\n", n, zt_strerror(rc));
            fail();
        }
        /* what the failed attempt left is consistent: a clean open finishes it */
        struct zt_store *st = open_store();
        if (legacy) check_old_rows(st, 1);
        zt_store_close(st);
        assert_int_equal(open_migrate(0), 0);
        st = open_store();
        assert_int_equal(owner_version(st, "search"), 1);
        assert_int_equal(owner_version(st, "pseudonyms"), 1);
        assert_int_equal(owner_version(st, "testowner"), 3);
        zt_store_close(st);
        assert_int_equal(count_sql("SELECT count(*) FROM t_items"), 3);
    }
    assert_true(failed > 10); /* the sweep reached SQLite's allocations */
    print_message("alloc sweep (%s): %d of %d allocation points, %d failed cleanly, the rest recovered\n",
                  legacy ? "upgrade" : "fresh", tried, total, failed);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    sweep(false);
    sweep(true);
}

int main(void)
{
    /* before any other SQLite call */
    if (zt_test_sqlite_route_alloc() != 0) {
        printf("cannot route SQLite's allocator\n");
        return 1;
    }
    zt_log_set_level(ZT_LOG_OFF);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_fresh),        T(test_upgrade_v2),  T(test_upgrade_v1),  T(test_owner_migrations),
        T(test_failing_step), T(test_newer_refused), T(test_tx),        T(test_tx_busy),
        T(test_statements),   T(test_pg_params),   T(test_open_config), T(test_alloc_failures),
        T(test_concurrent_migrations), T(test_tx_try_and_clock),
    };
    int failures = cmocka_run_group_tests_name("store_sqlite", tests, NULL, NULL);
    /* the same on a real PostgreSQL (the upgrades of old SQLite files and
     * the SQLite allocator sweep are SQLite's own) */
#define P(f) cmocka_unit_test_setup_teardown(f, setup_pg, teardown)
    const struct CMUnitTest pg_tests[] = {
        P(test_fresh),     P(test_owner_migrations), P(test_failing_step), P(test_newer_refused),
        P(test_tx),        P(test_tx_busy),          P(test_statements),   P(test_open_config),
        P(test_concurrent_migrations), P(test_pg_reconnect), P(test_tx_try_and_clock),
    };
    failures += zt_test_pg_run("store_postgres", pg_tests);
    return zt_test_exit(failures);
}
