/* test_store_locks.c: a SQLite store keeps the POSIX locks of its
 * connections while the same process opens more handles on the file
 * (src/store/sqlite.c sq_open).
 *
 * A connection in WAL mode holds a SHARED lock (a read lock on bytes
 * 0x40000002 .. +510 of the database file) for as long as it is open; it
 * is what stops another process, closing its own connection, from taking
 * the file EXCLUSIVE and checkpointing and deleting the WAL under it.
 * POSIX locks belong to the process, and closing any descriptor of the
 * file drops them all: sq_open used to open and close the file before
 * SQLite did, so the node's second store handle dropped its first
 * handle's lock, a `zentalk` CLI run beside the node then deleted the WAL
 * the node kept writing to, and the node's later writes were lost
 * (test_payout_webhooks found it). Here: handle A, then handle B on the
 * same file; an open file description lock (F_OFD_GETLK, which POSIX locks
 * of this very process conflict with) still finds the SHARED lock. */
#define _GNU_SOURCE /* F_OFD_GETLK */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_store.h"
#include "zt_test.h"

#define SHARED_FIRST 0x40000002 /* SQLite's os.h: PENDING_BYTE + 2 */
#define SHARED_SIZE 510

static char dir[256], path[300];

/* Whether some POSIX lock of this process reads the SHARED range: asked
 * through probe, a descriptor open from before the store (closing one
 * here would drop the very locks looked for). */
static bool shared_held(int probe)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = SHARED_FIRST, .l_len = SHARED_SIZE};
    assert_int_equal(fcntl(probe, F_OFD_GETLK, &fl), 0);
    return fl.l_type == F_RDLCK;
}

static void test_second_handle_keeps_locks(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/zt-store-locks-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/zentalk.db", dir);
    int probe = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600); /* the file exists before the store opens it */
    assert_true(probe >= 0);
    struct zt_store_opts o = {.path = path, .busy_timeout_ms = 5000};
    struct zt_store *a = NULL, *b = NULL;
    assert_int_equal(zt_store_open("sqlite", &o, &a), 0);
    assert_int_equal(zt_store_exec(a, "CREATE TABLE t(x INTEGER); INSERT INTO t VALUES(1)"), 0);
    assert_true(shared_held(probe)); /* A holds SHARED (the premise) */
    assert_int_equal(zt_store_open("sqlite", &o, &b), 0);
    assert_int_equal(zt_store_exec(b, "INSERT INTO t VALUES(2)"), 0);
    assert_int_equal(zt_store_exec(a, "INSERT INTO t VALUES(3)"), 0);
    if (!shared_held(probe)) fail_msg("opening a second handle dropped the first one's SHARED lock");
    zt_store_close(b);
    zt_store_close(a);
    close(probe);
    char side[320];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_handle_keeps_locks),
    };
    return zt_test_exit(cmocka_run_group_tests_name("store_locks", tests, NULL, NULL));
}
