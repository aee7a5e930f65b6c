/* zt_test_sqlite.c: see zt_test_sqlite.h. */
#include "zt_test_sqlite.h"

#include <sqlite3.h>
#include <stdatomic.h>

#include "zentalk/zt_alloc.h"

static atomic_int_fast64_t calls;

static void *sq_malloc(int n)
{
    atomic_fetch_add(&calls, 1);
    int64_t *p = zt_malloc((size_t)n + 16);
    if (!p) return NULL;
    p[0] = n;
    return p + 2;
}

static void sq_free(void *p)
{
    if (p) zt_free((int64_t *)p - 2);
}

static void *sq_realloc(void *p, int n)
{
    atomic_fetch_add(&calls, 1);
    int64_t *b = zt_realloc(p ? (int64_t *)p - 2 : NULL, (size_t)n + 16);
    if (!b) return NULL;
    b[0] = n;
    return b + 2;
}

static int sq_size(void *p)
{
    return p ? (int)((int64_t *)p)[-2] : 0;
}

static int sq_roundup(int n)
{
    return (n + 7) & ~7;
}

static int sq_init(void *ud)
{
    (void)ud;
    return SQLITE_OK;
}

static void sq_shutdown(void *ud)
{
    (void)ud;
}

static const sqlite3_mem_methods MEM = {sq_malloc, sq_free, sq_realloc, sq_size, sq_roundup, sq_init, sq_shutdown, NULL};

int zt_test_sqlite_route_alloc(void)
{
    if (sqlite3_config(SQLITE_CONFIG_MALLOC, &MEM) != SQLITE_OK ||
        sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0) != SQLITE_OK || sqlite3_initialize() != SQLITE_OK)
        return -1;
    return 0;
}

int64_t zt_test_sqlite_calls(void)
{
    return atomic_load(&calls);
}
