/* orch_test.h: what test_registry.c and test_sched.c share: a temp store,
 * an orchestrator id, and workers that build signed join, heartbeat and
 * leave records (zt_registry.h). Included by one test file each.
 * The store is a SQLite file, or with orch_setup_pg a fresh database on
 * the test program's PostgreSQL (tests/common/zt_test_servers.h). */
#ifndef ZT_ORCH_TEST_H
#define ZT_ORCH_TEST_H

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_registry.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zt_test.h"
#include "zt_test_servers.h"

#define T0 ((int64_t)1800000000000) /* the tests' clock, unix ms */

static char dir[256], dbpath[300];
static struct zt_identity *orch_id; /* this orchestrator */
static char pg_db[600];             /* the PostgreSQL group's database; "" = SQLite */

struct worker {
    struct zt_identity *id;
    char *desc;
    uint8_t boot[ZT_REG_BOOT_LEN];
    uint64_t seq;
    char endpoint[64];
    struct zt_worker_caps caps;
};

ZT_UNUSED static void rm_db(void)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t j = 0; j < sizeof suffix / sizeof suffix[0]; j++) {
        char p[400];
        snprintf(p, sizeof p, "%s%s", dbpath, suffix[j]);
        unlink(p);
    }
}

ZT_UNUSED static int orch_setup(void **state)
{
    (void)state;
    if (zt_crypto_init() != 0) return -1;
    snprintf(dir, sizeof dir, "%s/zt-orch-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) return -1;
    snprintf(dbpath, sizeof dbpath, "%s/orch.db", dir);
    zt_test_leak_mark();
    return zt_identity_generate(&orch_id) == 0 ? 0 : -1;
}

/* The same on a fresh PostgreSQL database (the server is started by main). */
ZT_UNUSED static int orch_setup_pg(void **state)
{
    if (!zt_test_pg_new_db(pg_db, sizeof pg_db)) {
        printf("cannot make a PostgreSQL database: %s\n", pg_db);
        return -1;
    }
    return orch_setup(state);
}

ZT_UNUSED static int orch_teardown(void **state)
{
    (void)state;
    zt_alloc_fail_after(0);
    zt_identity_free(orch_id);
    orch_id = NULL;
    int64_t leaked = zt_alloc_live() - zt_test_leak_base();
    rm_db();
    rmdir(dir);
    if (leaked) {
        printf("leak: %lld allocations\n", (long long)leaked);
        return -1;
    }
    return 0;
}

ZT_UNUSED static struct zt_store *store_open(void)
{
    struct zt_store *st = NULL;
    struct zt_store_opts o = {.path = pg_db[0] ? pg_db : dbpath, .busy_timeout_ms = 1000};
    assert_int_equal(zt_store_open(pg_db[0] ? "postgres" : "sqlite", &o, &st), 0);
    return st;
}

ZT_UNUSED static struct zt_registry_opts reg_opts(void)
{
    return (struct zt_registry_opts){.self_id = zt_identity_id(orch_id)};
}

/* A worker serving models (NULL-terminated), with a descriptor valid for
 * an hour after T0, from endpoint http://10.0.0.<n>:8080. */
ZT_UNUSED static void worker_init_roles(struct worker *w, const char *const *models, int n, uint32_t slots,
                              uint64_t price, const char *role)
{
    memset(w, 0, sizeof *w);
    assert_int_equal(zt_identity_generate(&w->id), 0);
    size_t nm = 0;
    while (models && models[nm]) nm++;
    snprintf(w->endpoint, sizeof w->endpoint, "http://10.0.0.%d:8080", n);
    const char *roles[] = {role};
    assert_int_equal(zt_identity_descriptor(w->id, roles, 1, models, nm, w->endpoint, T0 / 1000 + 3600, &w->desc), 0);
    randombytes_buf(w->boot, sizeof w->boot);
    zt_strlcpy(w->caps.engine, "zt-test-engine-1", sizeof w->caps.engine);
    zt_strlcpy(w->caps.cpu, "x86_64 test", sizeof w->caps.cpu);
    zt_strlcpy(w->caps.gpu, "none", sizeof w->caps.gpu);
    w->caps.mem_mb = 4096;
    w->caps.slots = slots;
    w->caps.ctx_max = 4096;
    w->caps.price_per_1k = price;
}

ZT_UNUSED static void worker_init(struct worker *w, const char *const *models, int n, uint32_t slots, uint64_t price)
{
    worker_init_roles(w, models, n, slots, price, "worker");
}

ZT_UNUSED static void worker_deinit(struct worker *w)
{
    zt_identity_free(w->id);
    zt_free(w->desc);
    memset(w, 0, sizeof *w);
}

/* Records with the next sequence number (caller frees). */
static char *join_rec(struct worker *w, int64_t ts)
{
    char *rec = NULL;
    assert_int_equal(zt_registry_join_record(w->id, w->desc, zt_identity_id(orch_id), w->boot, ++w->seq, ts, &w->caps, &rec), 0);
    return rec;
}

static char *hb_rec(struct worker *w, int64_t ts, uint32_t busy)
{
    char *rec = NULL;
    struct zt_worker_load l = {.busy = busy, .queue = 0};
    assert_int_equal(zt_registry_heartbeat_record(w->id, zt_identity_id(orch_id), w->boot, ++w->seq, ts, &l, &rec), 0);
    return rec;
}

ZT_UNUSED static int do_join(struct zt_registry *r, struct worker *w, int64_t now)
{
    char *rec = join_rec(w, now);
    int rc = zt_registry_join(r, rec, strlen(rec), now, NULL);
    zt_free(rec);
    return rc;
}

ZT_UNUSED static int do_hb(struct zt_registry *r, struct worker *w, int64_t now, uint32_t busy)
{
    char *rec = hb_rec(w, now, busy);
    int rc = zt_registry_heartbeat(r, rec, strlen(rec), now);
    zt_free(rec);
    return rc;
}

ZT_UNUSED static int do_leave(struct zt_registry *r, struct worker *w, int64_t now)
{
    char *rec = NULL;
    assert_int_equal(zt_registry_leave_record(w->id, zt_identity_id(orch_id), w->boot, ++w->seq, now, &rec), 0);
    int rc = zt_registry_leave(r, rec, strlen(rec), now);
    zt_free(rec);
    return rc;
}

ZT_UNUSED static struct zt_node_info node_info(struct zt_registry *r, struct worker *w, int64_t now)
{
    struct zt_node_info ni;
    assert_int_equal(zt_registry_get(r, zt_identity_id(w->id), now, &ni), 0);
    return ni;
}

#endif
