/* zt_test_servers.h: a real PostgreSQL and a real redis-server for the
 * tests of the shared store and queue (issue 11 item 7, issue 12 item 7).
 *
 * One server of each kind per test program, started on first use and
 * stopped at exit (atexit, and the children get SIGTERM if the test
 * process dies: PR_SET_PDEATHSIG):
 * - PostgreSQL: initdb into a fresh temp dir owned by an unprivileged
 *   user (initdb refuses root: as root the dir is chowned to `postgres`,
 *   else `nobody`, and the programs run with that uid), then `postgres`
 *   itself as a child on a free loopback port, its unix socket in the temp
 *   dir, fsync off (tests only). The binaries are found in $ZT_PG_BINDIR,
 *   /usr/lib/postgresql/<newest>/bin or PATH.
 * - Redis: `redis-server` as a child (no persistence) on a free loopback
 *   port, as the `redis` user (or nobody) when run as root.
 *
 * Where a server cannot be installed or started, the start functions
 * return false with the reason in why: the caller skips (zt_skip / the
 * PostgreSQL variant of a test group is reported as skipped), never
 * passes. The process starter lives here so that tests themselves do not
 * fork (tests/README.md). */
#ifndef ZT_TEST_SERVERS_H
#define ZT_TEST_SERVERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_test.h"

/* Start (once) this program's PostgreSQL. False with the reason in why. */
bool zt_test_pg_start(char *why, size_t cap);
/* A fresh, empty database on it: a new schema zt_<n> in the database
 * "zt", and a libpq conninfo whose search_path is that schema ("host=<socket
 * dir> port=<p> dbname=zt user=postgres options='-c search_path=zt_<n>'")
 * in out. Starts the server when needed; false with the reason in out. */
bool zt_test_pg_new_db(char *out, size_t cap);
/* The environment of an orchestrator on the shared store: PostgreSQL at
 * db, the Redis queue at redis with claim window claim_ms, verification off
 * (rows end done): e->v, NULL-terminated, points into e. */
struct zt_test_shared_env {
    char db[800], redis[300], claim[64];
    const char *v[8];
};
void zt_test_shared_env(struct zt_test_shared_env *e, const char *db, const char *redis, int claim_ms);
/* The first column of the first row of sql on the database conninfo, as a
 * number (-1: no row); fails the test when the query fails. */
long zt_test_pg_long(const char *conninfo, const char *sql);
/* The loopback TCP port of the running server (0 when none). */
uint16_t zt_test_pg_port(void);

/* The running server's data directory (NULL when none): the canary test
 * scans its files. */
const char *zt_test_pg_data_dir(void);
/* pg_dump of the whole test database "zt" (every schema) into file, as
 * this process's user. False with the reason in why. */
bool zt_test_pg_dump(const char *file, char *why, size_t cap);

/* Run a cmocka group on this program's PostgreSQL (its setup makes each
 * test's database with zt_test_pg_new_db): its failure count, or 0 and a
 * counted skip with the reason when no server can be started. */
int zt_test_pg_group(const char *name, const struct CMUnitTest *tests, size_t n);
#define zt_test_pg_run(name, tests) zt_test_pg_group((name), (tests), sizeof(tests) / sizeof((tests)[0]))

/* Start (once) this program's redis-server: its URL
 * ("redis://127.0.0.1:<port>") in url, or false with the reason in url. */
bool zt_test_redis_start(char *url, size_t cap);

/* Stop both now (also done at exit). */
void zt_test_servers_stop(void);

#endif
