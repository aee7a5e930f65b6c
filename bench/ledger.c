/* bench/ledger.c: the CHAIN ledger's figures (zt_ledger.h;
 * docs/internals/ledger.md).
 *
 *   bench_ledger [--pg CONNINFO] [SETTLEMENTS [LEAVES [THREADS]]]
 *       --pg         PostgreSQL (a libpq conninfo or URI of an empty
 *                    database; the ledger creates its tables there and
 *                    leaves them) instead of SQLite
 *       SETTLEMENTS  reserve + settle pairs (default 2000)
 *       LEAVES       payout leaves in one batch (default 10000)
 *       THREADS      threads settling at once on one file (default 8)
 *
 * SQLite on tmpfs where there is one (WAL, synchronous=NORMAL, one
 * BEGIN IMMEDIATE transaction per call, as in production); or PostgreSQL
 * (one serialisable transaction per call, retried on conflicts; writers
 * queue on the ledger's writers' lock, src/ledger/ledger.c).
 * Printed:
 * settlements/s and the transactions retried after a conflict (each
 * store handle's zt_store_tx_retries; up to 100 tries here, where
 * production gives up after 4) by one thread and by THREADS threads (one store handle
 * each; once all on one user and provider, once each thread on its own,
 * sharing only the escrow and fee accounts), the time to build a payout
 * batch of LEAVES providers from the store (select, Merkle tree, leaves,
 * earning rows, the transfer) and to
 * build the bare tree, the time to check one proof and the proof length.
 * Figures only, never asserted. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

static char dbpath[300];
static const char *pg_url; /* --pg */
static char run_id[24];    /* job id prefix: unique per run */

struct books {
    struct zt_store *st;
    struct zt_ledger *l;
};

static int books_open(struct books *b)
{
    struct zt_store_opts o = {.path = pg_url ? pg_url : dbpath, .busy_timeout_ms = 10000, .tx_attempts = 100};
    int rc = zt_store_open(pg_url ? "postgres" : "sqlite", &o, &b->st);
    if (rc) return rc;
    rc = zt_ledger_new(b->st, &b->l);
    if (rc) zt_store_close(b->st);
    return rc;
}

static void books_close(struct books *b)
{
    zt_ledger_free(b->l);
    zt_store_close(b->st);
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "bench_ledger: %s: %s\n", what, zt_strerror(rc));
    exit(1);
}

struct worker {
    int id, n;
    int64_t user, prov, retries;
    int rc;
};

static void *settle_loop(void *arg)
{
    struct worker *w = arg;
    struct books b;
    if ((w->rc = books_open(&b))) return NULL;
    for (int i = 0; i < w->n && !w->rc; i++) {
        char job[48];
        snprintf(job, sizeof job, "%sw%d-%d", run_id, w->id, i);
        if ((w->rc = zt_ledger_reserve(b.l, job, w->user, 1000)) == 0)
            w->rc = zt_ledger_settle(b.l, job, w->prov, 700, 30, i);
    }
    w->retries = zt_store_tx_retries(b.st);
    books_close(&b);
    return NULL;
}

int main(int argc, char **argv)
{
    int64_t arg[3] = {2000, 10000, 8};
    bool bad = false;
    int a0 = 1;
    if (argc > 2 && strcmp(argv[1], "--pg") == 0) {
        pg_url = argv[2];
        a0 = 3;
    }
    for (int i = a0; i < argc && i - a0 < 3; i++) bad |= zt_str_to_i64(argv[i], &arg[i - a0]) != 0;
    if (bad || arg[0] < 1 || arg[0] > 10000000 || arg[1] < 1 || arg[1] > 10000000 || arg[2] < 1 || arg[2] > 64) {
        fprintf(stderr, "usage: bench_ledger [--pg CONNINFO] [SETTLEMENTS [LEAVES [THREADS]]]\n");
        return 2;
    }
    snprintf(run_id, sizeof run_id, "r%llx-", (unsigned long long)zt_time_real_ms());
    int n_settle = (int)arg[0], n_leaves = (int)arg[1], n_threads = (int)arg[2];
    zt_log_set_level(ZT_LOG_OFF);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/zt-bench-ledger-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!pg_url && !mkdtemp(dir)) return 1;
    snprintf(dbpath, sizeof dbpath, "%s/ledger.db", dir);
    printf("store: %s\n", pg_url ? "postgres (serialisable transactions)" : "sqlite (WAL, synchronous=NORMAL)");

    struct books b;
    int rc;
    if ((rc = books_open(&b))) die(pg_url ? "open (the PostgreSQL database of --pg)" : "open", rc);
    int64_t user = 0, prov = 0;
    if ((rc = zt_ledger_account(b.l, ZT_LEDGER_USER, "0x00000000000000000000000000000000000000aa", NULL, &user)) ||
        (rc = zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, "node-bench", "0x00000000000000000000000000000000000000bb",
                                &prov)) ||
        (rc = zt_ledger_mint(b.l, "dep", user, (zt_u128)1000000000000ull, NULL, NULL)))
        die("setup", rc);

    /* one thread */
    struct worker w1 = {.id = 0, .n = n_settle, .user = user, .prov = prov};
    uint64_t t0 = zt_time_mono_ns();
    settle_loop(&w1);
    double s1 = (double)(zt_time_mono_ns() - t0) / 1e9;
    if (w1.rc) die("settle", w1.rc);
    printf("settlements (reserve + settle, 1 thread): %d in %.2f s = %.0f/s, %lld retried\n", n_settle, s1,
           n_settle / s1, (long long)w1.retries);

    /* threads at once on one file */
    struct worker *ws = calloc((size_t)n_threads, sizeof *ws);
    pthread_t *th = calloc((size_t)n_threads, sizeof *th);
    if (!ws || !th) return 1;
    int per = n_settle / n_threads > 0 ? n_settle / n_threads : 1;
    t0 = zt_time_mono_ns();
    for (int i = 0; i < n_threads; i++) {
        ws[i] = (struct worker){.id = i + 1, .n = per, .user = user, .prov = prov};
        pthread_create(&th[i], NULL, settle_loop, &ws[i]);
    }
    for (int i = 0; i < n_threads; i++) pthread_join(th[i], NULL);
    double sn = (double)(zt_time_mono_ns() - t0) / 1e9;
    int64_t retried = 0;
    for (int i = 0; i < n_threads; i++) {
        if (ws[i].rc) die("settle (threads)", ws[i].rc);
        retried += ws[i].retries;
    }
    printf("settlements (%d threads, one database): %d in %.2f s = %.0f/s, %lld retried\n", n_threads,
           per * n_threads, sn, per * n_threads / sn, (long long)retried);
    /* the same with a user and a provider of its own per thread (jobs of
     * different users on different workers): only the escrow and fee
     * accounts are shared */
    for (int i = 0; i < n_threads; i++) {
        char ua[43], pn[32], key[32];
        snprintf(ua, sizeof ua, "0x%040x", 0x100 + i);
        snprintf(pn, sizeof pn, "node-bench-%d", i);
        snprintf(key, sizeof key, "dep-%d", i);
        ws[i] = (struct worker){.id = n_threads + 1 + i, .n = per};
        if ((rc = zt_ledger_account(b.l, ZT_LEDGER_USER, ua, NULL, &ws[i].user)) ||
            (rc = zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, pn, NULL, &ws[i].prov)) ||
            (rc = zt_ledger_mint(b.l, key, ws[i].user, (zt_u128)1000000000000ull, NULL, NULL)))
            die("setup (threads)", rc);
    }
    t0 = zt_time_mono_ns();
    for (int i = 0; i < n_threads; i++) pthread_create(&th[i], NULL, settle_loop, &ws[i]);
    for (int i = 0; i < n_threads; i++) pthread_join(th[i], NULL);
    sn = (double)(zt_time_mono_ns() - t0) / 1e9;
    retried = 0;
    for (int i = 0; i < n_threads; i++) {
        if (ws[i].rc) die("settle (threads, own accounts)", ws[i].rc);
        retried += ws[i].retries;
    }
    printf("settlements (%d threads, own user and provider each): %d in %.2f s = %.0f/s, %lld retried\n",
           n_threads, per * n_threads, sn, per * n_threads / sn, (long long)retried);
    fflush(stdout);
    free(ws);
    free(th);

    /* a batch of n_leaves providers, one earning each */
    t0 = zt_time_mono_ns();
    for (int i = 0; i < n_leaves; i++) {
        char node[32], addr[43], job[48];
        snprintf(node, sizeof node, "node-%d", i);
        snprintf(addr, sizeof addr, "0x%040x", 0x1000 + i);
        snprintf(job, sizeof job, "%sb-%d", run_id, i);
        if ((rc = zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, node, addr, &prov)) ||
            (rc = zt_ledger_reserve(b.l, job, user, 1000)) || (rc = zt_ledger_settle(b.l, job, prov, 500, 0, 1)))
            die("batch setup", rc);
    }
    double sp = (double)(zt_time_mono_ns() - t0) / 1e9;
    printf("setup: %d providers with one settled job each in %.2f s\n", n_leaves, sp);
    int64_t bid;
    size_t nl;
    /* the earlier settlements belong to one provider: they join the batch as one leaf */
    t0 = zt_time_mono_ns();
    if ((rc = zt_ledger_batch(b.l, 1000000, 0, 2, &bid, &nl))) die("batch", rc);
    double sb = (double)(zt_time_mono_ns() - t0) / 1e9;
    printf("payout batch: %zu leaves in %.3f s (from the store, in one transaction)\n", nl, sb);

    /* the bare tree */
    uint8_t(*lv)[ZT_MERKLE_HASH] = calloc((size_t)n_leaves, ZT_MERKLE_HASH);
    if (!lv) return 1;
    for (int i = 0; i < n_leaves; i++) {
        uint8_t a[20] = {0};
        memcpy(a, &i, sizeof i);
        zt_merkle_leaf((uint64_t)i, a, (zt_u128)i + 1, lv[i]);
    }
    struct zt_merkle *m;
    t0 = zt_time_mono_ns();
    if ((rc = zt_merkle_build((const uint8_t(*)[ZT_MERKLE_HASH])lv, (size_t)n_leaves, &m))) die("tree", rc);
    double st = (double)(zt_time_mono_ns() - t0) / 1e9;
    printf("merkle tree alone: %d leaves in %.3f ms\n", n_leaves, st * 1e3);
    uint8_t root[ZT_MERKLE_HASH], proof[ZT_MERKLE_MAX_DEPTH][ZT_MERKLE_HASH];
    zt_merkle_root(m, root);
    size_t np = 0, maxp = 0;
    int reps = 10000, ok = 0;
    t0 = zt_time_mono_ns();
    for (int r = 0; r < reps; r++) {
        size_t i = (size_t)r * 7919 % (size_t)n_leaves;
        if (zt_merkle_proof(m, i, proof, ZT_MERKLE_MAX_DEPTH, &np)) die("proof", ZT_EIO);
        if (np > maxp) maxp = np;
        ok += zt_merkle_verify(root, lv[i], (const uint8_t(*)[ZT_MERKLE_HASH])proof, np);
    }
    double sv = (double)(zt_time_mono_ns() - t0) / 1e9;
    printf("proof check: %.2f us each (%d of %d verified), at most %zu hashes\n", sv / reps * 1e6, ok, reps, maxp);
    /* from the store (rebuilds the tree from the batch's leaves) */
    struct zt_ledger_leaf leaf;
    t0 = zt_time_mono_ns();
    if ((rc = zt_ledger_batch_proof(b.l, bid, "0x0000000000000000000000000000000000001000", &leaf, proof, &np)))
        die("batch proof", rc);
    printf("proof from the store (reads the batch, rebuilds the tree): %.2f ms, %zu hashes\n",
           (double)(zt_time_mono_ns() - t0) / 1e6, np);
    /* the stake gate placement calls per candidate worker (a read of the
     * STAKE balance, no account created): staked and never-staked nodes */
    struct zt_ledger_prices gate = {.min_stake = 100};
    if ((rc = zt_ledger_stake_deposit(b.l, run_id, "node-bench", 100, NULL))) die("stake", rc);
    int n_gate = 2000, admitted = 0;
    t0 = zt_time_mono_ns();
    for (int i = 0; i < n_gate; i++) {
        bool in = false;
        if ((rc = zt_ledger_stake_ok(b.l, &gate, i % 2 ? "node-bench" : "node-unstaked", &in))) die("stake gate", rc);
        admitted += in;
    }
    double sg = (double)(zt_time_mono_ns() - t0) / 1e9;
    printf("stake gate: %.1f us a check (%d of %d admitted)\n", sg / n_gate * 1e6, admitted, n_gate);
    char why[200];
    t0 = zt_time_mono_ns();
    rc = zt_ledger_audit(b.l, why, sizeof why);
    printf("audit: %s in %.2f s\n", rc ? why : "clean", (double)(zt_time_mono_ns() - t0) / 1e9);
    zt_merkle_free(m);
    free(lv);
    books_close(&b);
    static const char *const suffix[] = {"", "-wal", "-shm"};
    for (int i = 0; !pg_url && i < 3; i++) {
        char p[600];
        snprintf(p, sizeof p, "%s%s", dbpath, suffix[i]);
        unlink(p);
    }
    if (!pg_url) rmdir(dir);
    return rc ? 1 : 0;
}
