/* zt_test_sqlite.h: SQLite's allocator routed through zt_malloc, so that
 * zt_alloc_fail_after() reaches SQLite's allocations too and the leak
 * check counts them (the store, registry and ledger sweeps). */
#ifndef ZT_TEST_SQLITE_H
#define ZT_TEST_SQLITE_H

#include <stdint.h>

/* Call first in main(), before any other SQLite call: installs the
 * allocator (a size header in front of every block) and turns the
 * lookaside off. 0, or -1 when SQLite refuses (the test should fail). */
int zt_test_sqlite_route_alloc(void);

/* How many allocations and reallocations SQLite has asked for so far. */
int64_t zt_test_sqlite_calls(void);

#endif
