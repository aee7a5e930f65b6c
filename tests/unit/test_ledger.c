/* test_ledger.c: the CHAIN ledger (zt_ledger.h, docs/internals/ledger.md):
 * u128 decimal text, balanced and unbalanced transactions, idempotency,
 * no negative balance, escrow/settle/refund/slash, the property test
 * (random jobs, audit after every step), 8 threads settling at once,
 * persistence across reopen, an allocation-failure sweep, Merkle trees
 * against OpenZeppelin's published vector, payout batches, and a crash
 * test (a child killed with SIGKILL, the audit after each restart).
 * The store-backed tests (postings, jobs, the property test, 8 threads,
 * batches) run again on a real PostgreSQL (serialisable transactions with
 * retry, NUMERIC(39,0) amounts): tests/common/zt_test_servers.h, a fresh
 * database per test; skipped with the reason where no server starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"
#include "zt_test_servers.h"
#include "zt_test_sqlite.h"

#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_keccak.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_wallet.h"

static char dir[256], dbpath[300];
static char pg_db[600]; /* the PostgreSQL group's database; "" = SQLite */

static void rm_files(void)
{
    static const char *const suffix[] = {"", "-wal", "-shm", "-journal"};
    for (size_t j = 0; j < sizeof suffix / sizeof suffix[0]; j++) {
        char p[600];
        snprintf(p, sizeof p, "%s%s", dbpath, suffix[j]);
        unlink(p);
    }
}

static int setup(void **state)
{
    (void)state;
    zt_test_leak_mark();
    snprintf(dir, sizeof dir, "%s/zt-ledger-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) return -1;
    snprintf(dbpath, sizeof dbpath, "%s/ledger.db", dir);
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

struct books {
    struct zt_store *st;
    struct zt_ledger *l;
};

static int books_open(struct books *b)
{
    struct zt_store_opts o = {.path = pg_db[0] ? pg_db : dbpath, .busy_timeout_ms = 5000, .tx_attempts = 50};
    b->st = NULL;
    b->l = NULL;
    int rc = zt_store_open(pg_db[0] ? "postgres" : "sqlite", &o, &b->st);
    if (!rc) rc = zt_ledger_new(b->st, &b->l);
    if (rc) {
        zt_ledger_free(b->l);
        zt_store_close(b->st);
        b->l = NULL;
        b->st = NULL;
    }
    return rc;
}

static void books_close(struct books *b)
{
    zt_ledger_free(b->l);
    zt_store_close(b->st);
    b->l = NULL;
    b->st = NULL;
}

static zt_u128 U(const char *s)
{
    zt_u128 v = 0;
    assert_int_equal(zt_u128_parse(s, strlen(s), &v), 0);
    return v;
}

static zt_u128 bal(struct books *b, int64_t id)
{
    struct zt_ledger_bal x;
    assert_int_equal(zt_ledger_balance(b->l, id, &x), 0);
    assert_false(x.neg);
    return x.mag;
}

/* Adds d (1 or -1) to batch id's stored total, behind the ledger's back. */
static void batch_total_add(struct books *b, int64_t id, int d)
{
    struct zt_store_stmt *q = NULL;
    assert_int_equal(zt_store_prepare(b->st,
                                      d > 0 ? "UPDATE ledger_batches SET total = total + 1 WHERE id = ?"
                                            : "UPDATE ledger_batches SET total = total - 1 WHERE id = ?",
                                      &q),
                     0);
    assert_int_equal(zt_store_bind_i64(q, 1, id), 0);
    assert_int_equal(zt_store_step(q), ZT_STORE_DONE);
    zt_store_stmt_free(q);
}

static void audit_ok(struct books *b)
{
    char why[256];
    int rc = zt_ledger_audit(b->l, why, sizeof why);
    if (rc) print_error("audit: %s (%s)\n", zt_strerror(rc), why);
    assert_int_equal(rc, 0);
}

static void addr_of(unsigned i, char out[43])
{
    snprintf(out, 43, "0x%040x", i);
}

/* ---- amounts ----------------------------------------------------------------- */

static void test_u128(void **state)
{
    (void)state;
    static const char *const good[] = {"0", "1", "9", "10", "1000000000000000000", "18446744073709551616",
                                       "340282366920938463463374607431768211455"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        zt_u128 v;
        char out[ZT_U128_STR_LEN];
        assert_int_equal(zt_u128_parse(good[i], strlen(good[i]), &v), 0);
        assert_int_equal(zt_u128_format(v, out), strlen(good[i]));
        assert_string_equal(out, good[i]);
    }
    assert_true(U("340282366920938463463374607431768211455") == ZT_U128_MAX);
    static const struct {
        const char *s;
        int rc;
    } bad[] = {
        {"", ZT_EPARSE},        {"-1", ZT_EPARSE},       {"+1", ZT_EPARSE},     {"1.5", ZT_EPARSE},
        {"1e18", ZT_EPARSE},    {"1E3", ZT_EPARSE},      {" 1", ZT_EPARSE},     {"1 ", ZT_EPARSE},
        {"01", ZT_EPARSE},      {"0x10", ZT_EPARSE},     {"inf", ZT_EPARSE},    {"nan", ZT_EPARSE},
        {"340282366920938463463374607431768211456", ZT_ERANGE},  /* 2^128 */
        {"999999999999999999999999999999999999999", ZT_ERANGE},  /* 39 nines */
        {"1000000000000000000000000000000000000000", ZT_ERANGE}, /* 40 digits */
        {"10000000000000000000000000000000000000000000000000000e", ZT_EPARSE},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        zt_u128 v = 7;
        int rc = zt_u128_parse(bad[i].s, strlen(bad[i].s), &v);
        if (rc != bad[i].rc) print_error("%s: %s\n", bad[i].s, zt_strerror(rc));
        assert_int_equal(rc, bad[i].rc);
        assert_true(v == 7);
    }
    /* tokens: exact, no floating point */
    zt_u128 v;
    assert_int_equal(zt_u128_parse_tokens("1.5", 3, &v), 0);
    assert_true(v == U("1500000000000000000"));
    assert_int_equal(zt_u128_parse_tokens("0.000000000000000001", 20, &v), 0);
    assert_true(v == 1);
    assert_int_equal(zt_u128_parse_tokens("12", 2, &v), 0);
    assert_true(v == U("12000000000000000000"));
    assert_int_equal(zt_u128_parse_tokens("0.1", 3, &v), 0); /* 0.1 exactly, unlike a double */
    assert_true(v == U("100000000000000000"));
    const char *max_tok = "340282366920938463463.374607431768211455";
    assert_int_equal(zt_u128_parse_tokens(max_tok, strlen(max_tok), &v), 0);
    assert_true(v == ZT_U128_MAX);
    const char *over = "340282366920938463463.374607431768211456";
    assert_int_equal(zt_u128_parse_tokens(over, strlen(over), &v), ZT_ERANGE);
    static const char *const badtok[] = {"1.", ".5", "1.0000000000000000001", "1e3", "1.5e2", "-1", "01.5",
                                         "1..2", "1.2.3", "", "0x1"};
    for (size_t i = 0; i < sizeof badtok / sizeof badtok[0]; i++)
        assert_int_equal(zt_u128_parse_tokens(badtok[i], strlen(badtok[i]), &v), ZT_EPARSE);
    /* checked arithmetic */
    zt_u128 r = 5;
    assert_int_equal(zt_u128_add(ZT_U128_MAX, 1, &r), ZT_ERANGE);
    assert_int_equal(zt_u128_sub(1, 2, &r), ZT_ERANGE);
    assert_int_equal(zt_u128_mul(ZT_U128_MAX / 2 + 1, 2, &r), ZT_ERANGE);
    assert_true(r == 5);
    assert_int_equal(zt_u128_mul(ZT_U128_MAX / 3, 3, &r), 0);
    assert_true(r == ZT_U128_MAX);
    /* random round trips */
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 20000; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        uint64_t t = s * 0x2545f4914f6cdd1dull;
        zt_u128 x = ((zt_u128)s << 64 | t) >> (i % 128);
        char out[ZT_U128_STR_LEN];
        size_t n = zt_u128_format(x, out);
        zt_u128 y;
        assert_int_equal(zt_u128_parse(out, n, &y), 0);
        assert_true(x == y);
    }
}

/* ---- transactions -------------------------------------------------------------- */

static void test_post(void **state)
{
    (void)state;
    struct books b;
    assert_int_equal(books_open(&b), 0);
    char a1[43], a2[43];
    addr_of(1, a1);
    addr_of(2, a2);
    int64_t u1, u2, u1again, prov, t;
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, a1, NULL, &u1), 0);
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, a2, NULL, &u2), 0);
    /* the same wallet in upper case is the same account */
    char up[43];
    memcpy(up, a1, 43);
    up[41] = 'A';
    up[40] = 'B';
    a1[41] = 'a';
    a1[40] = 'b';
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, a1, NULL, &u1again), 0);
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, up, NULL, &t), 0);
    assert_true(t == u1again && u1again != u1);
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, "0x12", NULL, &t), ZT_EINVAL);
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, a1, a2, &t), ZT_EINVAL); /* payout on a user */
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, "node-1", a2, &prov), 0);

    int64_t tx, tx2;
    bool rep;
    assert_int_equal(zt_ledger_mint(b.l, "dep-1", u1, U("1000"), &tx, &rep), 0);
    assert_false(rep);
    assert_int_equal(zt_ledger_mint(b.l, "dep-1", u1, U("1000"), &tx2, &rep), 0); /* replay */
    assert_true(rep && tx2 == tx);
    assert_int_equal(zt_ledger_mint(b.l, "dep-1", u1, U("1001"), &tx2, &rep), ZT_EEXIST);
    assert_true(bal(&b, u1) == 1000);

    /* balanced */
    struct zt_ledger_entry e[3] = {{u1, 300, false}, {u2, 200, true}, {prov, 100, true}};
    assert_int_equal(zt_ledger_post(b.l, "t-1", "pay", e, 3, &tx, &rep), 0);
    assert_true(bal(&b, u1) == 700 && bal(&b, u2) == 200 && bal(&b, prov) == 100);
    /* replayed with the same body: nothing moves */
    assert_int_equal(zt_ledger_post(b.l, "t-1", "pay", e, 3, &tx2, &rep), 0);
    assert_true(rep && tx == tx2 && bal(&b, u1) == 700);
    /* the same key with another body: refused */
    e[1].amount = 199;
    e[2].amount = 101;
    assert_int_equal(zt_ledger_post(b.l, "t-1", "pay", e, 3, &tx2, &rep), ZT_EEXIST);
    assert_int_equal(zt_ledger_post(b.l, "t-1", "other memo", (struct zt_ledger_entry[]){{u1, 300, false}, {u2, 200, true}, {prov, 100, true}}, 3, &tx2, &rep), ZT_EEXIST);
    /* unbalanced, empty, zero, unknown account */
    struct zt_ledger_entry ub[2] = {{u1, 10, false}, {u2, 11, true}};
    assert_int_equal(zt_ledger_post(b.l, "t-2", NULL, ub, 2, NULL, NULL), ZT_EINVAL);
    assert_int_equal(zt_ledger_post(b.l, "t-2", NULL, ub, 0, NULL, NULL), ZT_EINVAL);
    struct zt_ledger_entry zero[2] = {{u1, 0, false}, {u2, 0, true}};
    assert_int_equal(zt_ledger_post(b.l, "t-2", NULL, zero, 2, NULL, NULL), ZT_EINVAL);
    struct zt_ledger_entry unk[2] = {{u1, 1, false}, {99999, 1, true}};
    assert_int_equal(zt_ledger_post(b.l, "t-2", NULL, unk, 2, NULL, NULL), ZT_EINVAL);
    assert_int_equal(zt_ledger_post(b.l, "bad key", NULL, e, 2, NULL, NULL), ZT_EINVAL);
    /* never negative: u2 has 200 */
    struct zt_ledger_entry over[2] = {{u2, 201, false}, {u1, 201, true}};
    assert_int_equal(zt_ledger_post(b.l, "t-3", NULL, over, 2, NULL, NULL), ZT_ERANGE);
    assert_true(bal(&b, u2) == 200 && bal(&b, u1) == 700);
    /* the failed key was not taken */
    over[0].amount = over[1].amount = 200;
    assert_int_equal(zt_ledger_post(b.l, "t-3", NULL, over, 2, NULL, NULL), 0);
    assert_true(bal(&b, u2) == 0 && bal(&b, u1) == 900);
    /* the treasury may go negative (and the sum still holds) */
    int64_t tre;
    assert_int_equal(zt_ledger_system_account(b.l, ZT_LEDGER_TREASURY, &tre), 0);
    struct zt_ledger_entry tr[2] = {{tre, 50, false}, {u2, 50, true}};
    assert_int_equal(zt_ledger_post(b.l, "bonus-1", "verification bonus", tr, 2, NULL, NULL), 0);
    struct zt_ledger_bal x;
    assert_int_equal(zt_ledger_balance(b.l, tre, &x), 0);
    assert_true(x.neg && x.mag == 50);
    zt_u128 minted;
    assert_int_equal(zt_ledger_minted(b.l, &minted), 0);
    assert_true(minted == 1000);
    audit_ok(&b);
    /* an overflowing credit is refused */
    assert_int_equal(zt_ledger_mint(b.l, "dep-big", u1, ZT_U128_MAX, NULL, NULL), ZT_ERANGE);
    audit_ok(&b);

    /* the audit finds a tampered balance, and a tampered entry */
    assert_int_equal(zt_store_exec(b.st, "UPDATE ledger_accounts SET balance = '901' WHERE balance = '900'"), 0);
    char why[256];
    assert_int_equal(zt_ledger_audit(b.l, why, sizeof why), ZT_ERANGE);
    assert_non_null(strstr(why, "balance"));
    assert_int_equal(zt_store_exec(b.st, "UPDATE ledger_accounts SET balance = '900' WHERE balance = '901'"), 0);
    audit_ok(&b);
    assert_int_equal(zt_store_exec(b.st, "UPDATE ledger_entries SET amount = '301' WHERE amount = '300'"), 0);
    assert_int_equal(zt_ledger_audit(b.l, why, sizeof why), ZT_ERANGE);
    assert_non_null(strstr(why, "not balanced"));
    books_close(&b);
}

/* ---- jobs ----------------------------------------------------------------------- */

static void test_jobs(void **state)
{
    (void)state;
    struct books b;
    assert_int_equal(books_open(&b), 0);
    char a[43], pa[43], va[43];
    addr_of(7, a);
    addr_of(8, pa);
    addr_of(9, va);
    int64_t user, prov, ver, fee, esc, stake;
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, a, NULL, &user), 0);
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, "node-p", pa, &prov), 0);
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, "node-v", va, &ver), 0);
    assert_int_equal(zt_ledger_system_account(b.l, ZT_LEDGER_FEE, &fee), 0);
    assert_int_equal(zt_ledger_system_account(b.l, ZT_LEDGER_ESCROW, &esc), 0);
    assert_int_equal(zt_ledger_mint(b.l, "dep", user, 1000, NULL, NULL), 0);
    assert_int_equal(zt_ledger_mint(b.l, "dep-p", prov, 500, NULL, NULL), 0);

    assert_int_equal(zt_ledger_reserve(b.l, "job-1", user, 400), 0);
    assert_int_equal(zt_ledger_reserve(b.l, "job-1", user, 400), 0); /* idempotent */
    assert_int_equal(zt_ledger_reserve(b.l, "job-1", user, 401), ZT_EEXIST);
    assert_true(bal(&b, user) == 600 && bal(&b, esc) == 400);
    assert_int_equal(zt_ledger_reserve(b.l, "job-2", user, 601), ZT_ERANGE); /* short */
    assert_int_equal(zt_ledger_settle(b.l, "job-2", prov, 1, 1, 0), ZT_ENOTFOUND); /* the failed reserve left nothing */
    assert_int_equal(zt_ledger_settle(b.l, "job-1", prov, 300, 101, 0), ZT_ERANGE); /* more than reserved */
    assert_int_equal(zt_ledger_settle(b.l, "job-1", user, 300, 10, 0), ZT_EINVAL);  /* not a provider */
    assert_int_equal(zt_ledger_settle(b.l, "job-1", prov, 300, 10, 1000), 0);
    assert_true(bal(&b, user) == 690 && bal(&b, prov) == 800 && bal(&b, fee) == 10 && bal(&b, esc) == 0);
    assert_int_equal(zt_ledger_settle(b.l, "job-1", prov, 300, 10, 1000), 0); /* replay */
    assert_int_equal(zt_ledger_settle(b.l, "job-1", prov, 299, 10, 1000), ZT_EEXIST);
    assert_int_equal(zt_ledger_refund(b.l, "job-1"), ZT_EPERM);
    assert_true(bal(&b, user) == 690 && bal(&b, prov) == 800);

    assert_int_equal(zt_ledger_reserve(b.l, "job-3", user, 90), 0);
    assert_int_equal(zt_ledger_refund(b.l, "job-3"), 0);
    assert_int_equal(zt_ledger_refund(b.l, "job-3"), 0);
    assert_int_equal(zt_ledger_settle(b.l, "job-3", prov, 1, 0, 0), ZT_EPERM);
    assert_true(bal(&b, user) == 690 && bal(&b, esc) == 0);

    /* stake and slash */
    assert_int_equal(zt_ledger_stake(b.l, "stake-1", "node-p", 500), 0);
    assert_int_equal(zt_ledger_stake(b.l, "stake-1", "node-p", 500), 0);
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_STAKE, "node-p", NULL, &stake), 0);
    assert_true(bal(&b, prov) == 300 && bal(&b, stake) == 500);
    int64_t tre;
    assert_int_equal(zt_ledger_system_account(b.l, ZT_LEDGER_TREASURY, &tre), 0);
    int64_t vs[2] = {ver, user};
    assert_int_equal(zt_ledger_slash(b.l, "job-1", "node-p", 501, vs, 2), ZT_ERANGE);
    assert_int_equal(zt_ledger_slash(b.l, "job-1", "node-p", 101, vs, 2), 0);
    assert_int_equal(zt_ledger_slash(b.l, "job-1", "node-p", 101, vs, 2), 0);
    assert_true(bal(&b, stake) == 399 && bal(&b, ver) == 50 && bal(&b, user) == 740 && bal(&b, tre) == 1);
    audit_ok(&b);
    books_close(&b);

    /* persisted: reopen, same balances, replays still recognised */
    assert_int_equal(books_open(&b), 0);
    assert_true(bal(&b, user) == 740 && bal(&b, stake) == 399 && bal(&b, fee) == 10);
    assert_int_equal(zt_ledger_settle(b.l, "job-1", prov, 300, 10, 1000), 0);
    assert_int_equal(zt_ledger_mint(b.l, "dep", user, 1000, NULL, NULL), 0);
    assert_true(bal(&b, user) == 740);
    zt_u128 m;
    assert_int_equal(zt_ledger_minted(b.l, &m), 0);
    assert_true(m == 1500);
    audit_ok(&b);
    books_close(&b);
}

/* ---- property test ---------------------------------------------------------- */

#define P_USERS 12
#define P_PROVS 5

static uint64_t rng_state;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

struct pjob {
    char id[32];
    int user;
    zt_u128 amount;
    int state; /* 1 reserved, 2 settled, 3 refunded */
};

static void test_property(void **state)
{
    (void)state;
    struct books b;
    assert_int_equal(books_open(&b), 0);
    rng_state = 0x1234567887654321ull;
    const char *soak = getenv("ZT_SOAK");
    /* PostgreSQL: the audit after each step is a round of queries over a
     * socket, so make test runs 500 steps there (6000 in make soak) */
    int steps = soak && soak[0] == '1' ? 6000 : pg_db[0] ? 500 : 2000;
    int64_t users[P_USERS], provs[P_PROVS], fee;
    zt_u128 ub[P_USERS] = {0}, pb[P_PROVS] = {0}, sb[P_PROVS] = {0}, fb = 0, minted = 0;
    for (int i = 0; i < P_USERS; i++) {
        char a[43];
        addr_of(0x100u + (unsigned)i, a);
        assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, a, NULL, &users[i]), 0);
    }
    for (int i = 0; i < P_PROVS; i++) {
        char a[43], node[16];
        addr_of(0x200u + (unsigned)i, a);
        snprintf(node, sizeof node, "node-%d", i);
        assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, node, a, &provs[i]), 0);
    }
    assert_int_equal(zt_ledger_system_account(b.l, ZT_LEDGER_FEE, &fee), 0);
    struct pjob *jobs = calloc((size_t)steps, sizeof *jobs);
    assert_non_null(jobs);
    int n_jobs = 0, n_ok = 0, n_refused = 0;
    int64_t tre;
    assert_int_equal(zt_ledger_system_account(b.l, ZT_LEDGER_TREASURY, &tre), 0);
    zt_u128 tb = 0; /* treasury: only remainders of slashes here */
    for (int step = 0; step < steps; step++) {
        int op = (int)(rnd() % 10);
        char key[48];
        int rc;
        if (op == 0) { /* deposit */
            int u = (int)(rnd() % P_USERS);
            zt_u128 v = rnd() % 1000000 + 1;
            snprintf(key, sizeof key, "dep-%d", step);
            assert_int_equal(zt_ledger_mint(b.l, key, users[u], v, NULL, NULL), 0);
            ub[u] += v;
            minted += v;
        } else if (op == 1) { /* a provider stakes from its deposit */
            int p = (int)(rnd() % P_PROVS);
            zt_u128 v = rnd() % 100000 + 1;
            char node[16];
            snprintf(node, sizeof node, "node-%d", p);
            snprintf(key, sizeof key, "dep-%d", step);
            assert_int_equal(zt_ledger_mint(b.l, key, provs[p], v, NULL, NULL), 0);
            minted += v;
            snprintf(key, sizeof key, "stake-%d", step);
            assert_int_equal(zt_ledger_stake(b.l, key, node, v), 0);
            sb[p] += v;
        } else if (op <= 4) { /* submit: reserve (sometimes more than the balance) */
            int u = (int)(rnd() % P_USERS);
            zt_u128 v = rnd() % 300000 + 1;
            struct pjob *j = &jobs[n_jobs];
            snprintf(j->id, sizeof j->id, "job-%d", step);
            rc = zt_ledger_reserve(b.l, j->id, users[u], v);
            if (v > ub[u]) {
                assert_int_equal(rc, ZT_ERANGE);
                n_refused++;
            } else {
                assert_int_equal(rc, 0);
                ub[u] -= v;
                j->user = u;
                j->amount = v;
                j->state = 1;
                n_jobs++;
            }
        } else if (n_jobs > 0) {
            struct pjob *j = &jobs[rnd() % (uint64_t)n_jobs];
            int p = (int)(rnd() % P_PROVS);
            if (op <= 6) { /* success: settle (sometimes over the reservation) */
                zt_u128 cost = rnd() % (j->amount + 2), fe = rnd() % 100;
                rc = zt_ledger_settle(b.l, j->id, provs[p], cost, fe, step);
                if (j->state == 3) {
                    assert_int_equal(rc, ZT_EPERM);
                } else if (j->state == 2) {
                    assert_true(rc == ZT_EEXIST || rc == 0); /* replay with another body, or by chance the same */
                } else if (cost + fe > j->amount) {
                    assert_int_equal(rc, ZT_ERANGE);
                } else {
                    assert_int_equal(rc, 0);
                    pb[p] += cost;
                    fb += fe;
                    ub[j->user] += j->amount - cost - fe;
                    j->state = 2;
                    n_ok++;
                }
            } else if (op == 7) { /* failure: refund */
                rc = zt_ledger_refund(b.l, j->id);
                if (j->state == 2) {
                    assert_int_equal(rc, ZT_EPERM);
                } else {
                    assert_int_equal(rc, 0);
                    if (j->state == 1) ub[j->user] += j->amount;
                    j->state = 3;
                }
            } else if (op == 8) { /* mismatch: refund the user, slash the provider */
                char node[16];
                snprintf(node, sizeof node, "node-%d", p);
                rc = zt_ledger_refund(b.l, j->id);
                if (j->state == 2) {
                    assert_int_equal(rc, ZT_EPERM);
                    continue;
                }
                assert_int_equal(rc, 0);
                if (j->state == 1) ub[j->user] += j->amount;
                j->state = 3;
                zt_u128 v = rnd() % 5000 + 1;
                int vp[2] = {(p + 1) % P_PROVS, (p + 2) % P_PROVS};
                int64_t vs[2] = {provs[vp[0]], provs[vp[1]]};
                snprintf(key, sizeof key, "%s-x%d", j->id, step);
                rc = zt_ledger_slash(b.l, key, node, v, vs, 2);
                if (v > sb[p]) {
                    assert_int_equal(rc, ZT_ERANGE);
                } else {
                    assert_int_equal(rc, 0);
                    sb[p] -= v;
                    pb[vp[0]] += v / 2;
                    pb[vp[1]] += v / 2;
                    tb += v % 2;
                }
            } else { /* a payout batch now and then */
                int64_t bid;
                size_t nl;
                rc = zt_ledger_batch(b.l, step - 50, 1000, step, &bid, &nl);
                assert_true(rc == 0 || rc == ZT_ENOTFOUND);
                if (rc == 0) {
                    /* moved to the payouts account: recompute the providers from the books */
                    for (int i = 0; i < P_PROVS; i++) pb[i] = bal(&b, provs[i]);
                }
            }
        }
        audit_ok(&b);
    }
    for (int i = 0; i < P_USERS; i++) assert_true(bal(&b, users[i]) == ub[i]);
    for (int i = 0; i < P_PROVS; i++) assert_true(bal(&b, provs[i]) == pb[i]);
    assert_true(bal(&b, fee) == fb);
    assert_true(bal(&b, tre) == tb);
    zt_u128 m;
    assert_int_equal(zt_ledger_minted(b.l, &m), 0);
    assert_true(m == minted);
    print_message("property: %d steps, %d jobs reserved, %d settled, %d refused for funds; audit after each\n", steps,
                  n_jobs, n_ok, n_refused);
    free(jobs);
    books_close(&b);
}

/* ---- 8 threads ---------------------------------------------------------------- */

#define T_THREADS 8
#define T_JOBS 40

static int64_t t_user, t_prov;

static void *settler(void *arg)
{
    intptr_t id = (intptr_t)arg;
    struct books b;
    intptr_t done = 0;
    if (books_open(&b)) return (void *)(intptr_t)-1000;
    for (int i = 0; i < T_JOBS; i++) {
        char job[32];
        snprintf(job, sizeof job, "t%d-%d", (int)id, i);
        int rc = zt_ledger_reserve(b.l, job, t_user, 100);
        if (rc == ZT_ERANGE) continue; /* the shared user ran out: expected */
        if (rc) {
            done = -1;
            break;
        }
        if ((rc = zt_ledger_settle(b.l, job, t_prov, 60, 5, i)) != 0) {
            done = -2;
            break;
        }
        done++;
    }
    books_close(&b);
    return (void *)done;
}

static void test_threads(void **state)
{
    (void)state;
    struct books b;
    assert_int_equal(books_open(&b), 0);
    char a[43], pa[43];
    addr_of(0x300, a);
    addr_of(0x301, pa);
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, a, NULL, &t_user), 0);
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, "node-t", pa, &t_prov), 0);
    /* enough for 200 reservations of 100 at once; 320 are attempted, and
     * settling returns 35 each, so about 270 succeed */
    assert_int_equal(zt_ledger_mint(b.l, "dep", t_user, 20000, NULL, NULL), 0);
    pthread_t th[T_THREADS];
    for (intptr_t i = 0; i < T_THREADS; i++) assert_int_equal(pthread_create(&th[i], NULL, settler, (void *)i), 0);
    intptr_t total = 0;
    for (int i = 0; i < T_THREADS; i++) {
        void *r;
        assert_int_equal(pthread_join(th[i], &r), 0);
        if ((intptr_t)r < 0) print_error("thread %d failed: %ld\n", i, (long)(intptr_t)r);
        assert_true((intptr_t)r >= 0);
        total += (intptr_t)r;
    }
    /* no lost update: every settlement is in the balances */
    int64_t fee;
    assert_int_equal(zt_ledger_system_account(b.l, ZT_LEDGER_FEE, &fee), 0);
    assert_true(bal(&b, t_prov) == (zt_u128)(60 * total));
    assert_true(bal(&b, fee) == (zt_u128)(5 * total));
    assert_true(bal(&b, t_user) == (zt_u128)(20000 - 65 * total));
    audit_ok(&b);
    print_message("threads: %d settled by %d threads\n", (int)total, T_THREADS);
    books_close(&b);
}

/* ---- writers of several orchestrators at once (review9 F4) ------------------- */

/* Q_THREADS connections, each with the production store options (the
 * default 4 tries of zt_store_tx), settle Q_JOBS jobs each for a user and
 * a provider of their own, so their transactions share only the system
 * accounts and the ledger version. On PostgreSQL every ledger write bumps
 * the one version row inside serialisable transactions: unless writers
 * queue, overlapping transactions abort (40001) or deadlock, and after 4
 * tries a settlement fails with ZT_EBUSY. */
#define Q_THREADS 2
#define Q_JOBS 200

struct q_worker {
    int id;
    int64_t user, prov, done, retries;
    int rc;
};

static void *q_settler(void *arg)
{
    struct q_worker *w = arg;
    struct zt_store_opts o = {.path = pg_db[0] ? pg_db : dbpath, .busy_timeout_ms = 5000};
    struct zt_store *st = NULL;
    struct zt_ledger *l = NULL;
    if ((w->rc = zt_store_open(pg_db[0] ? "postgres" : "sqlite", &o, &st)) || (w->rc = zt_ledger_new(st, &l))) {
        zt_store_close(st);
        return NULL;
    }
    for (int i = 0; i < Q_JOBS && !w->rc; i++) {
        char job[32];
        snprintf(job, sizeof job, "q%d-%d", w->id, i);
        if (!(w->rc = zt_ledger_reserve(l, job, w->user, 100))) w->rc = zt_ledger_settle(l, job, w->prov, 60, 5, i);
        if (!w->rc) w->done++;
    }
    w->retries = zt_store_tx_retries(st);
    zt_ledger_free(l);
    zt_store_close(st);
    return NULL;
}

static void test_queue(void **state)
{
    (void)state;
    struct books b;
    assert_int_equal(books_open(&b), 0);
    struct q_worker w[Q_THREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < Q_THREADS; i++) {
        char a[43], pa[43], pn[32], key[32];
        addr_of(0x400 + (unsigned)i, a);
        addr_of(0x500 + (unsigned)i, pa);
        snprintf(pn, sizeof pn, "node-q%d", i);
        snprintf(key, sizeof key, "dep-q%d", i);
        w[i].id = i;
        assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, a, NULL, &w[i].user), 0);
        assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, pn, pa, &w[i].prov), 0);
        assert_int_equal(zt_ledger_mint(b.l, key, w[i].user, 100 * Q_JOBS, NULL, NULL), 0);
    }
    int64_t fee;
    assert_int_equal(zt_ledger_system_account(b.l, ZT_LEDGER_FEE, &fee), 0);
    zt_u128 fee0 = bal(&b, fee);
    pthread_t th[Q_THREADS];
    uint64_t t0 = zt_time_mono_ns();
    for (int i = 0; i < Q_THREADS; i++) assert_int_equal(pthread_create(&th[i], NULL, q_settler, &w[i]), 0);
    for (int i = 0; i < Q_THREADS; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
    double s = (double)(zt_time_mono_ns() - t0) / 1e9;
    int64_t done = 0, retries = 0;
    for (int i = 0; i < Q_THREADS; i++) {
        print_message("queue: connection %d: %lld of %d settled, %lld retries%s%s\n", i, (long long)w[i].done, Q_JOBS,
                      (long long)w[i].retries, w[i].rc ? ", stopped by " : "", w[i].rc ? zt_strerror(w[i].rc) : "");
        done += w[i].done;
        retries += w[i].retries;
    }
    print_message("queue (%s): %lld settlements by %d connections in %.2f s, %lld retries\n",
                  pg_db[0] ? "postgres" : "sqlite", (long long)done, Q_THREADS, s, (long long)retries);
    for (int i = 0; i < Q_THREADS; i++) {
        assert_int_equal(w[i].rc, 0);
        assert_int_equal(w[i].done, Q_JOBS);
        /* no lost write: each settlement is in the balances */
        assert_true(bal(&b, w[i].prov) == (zt_u128)(60 * Q_JOBS));
        assert_true(bal(&b, w[i].user) == (zt_u128)(35 * Q_JOBS));
    }
    assert_true(bal(&b, fee) == fee0 + (zt_u128)(5 * Q_JOBS * Q_THREADS));
    audit_ok(&b);
    books_close(&b);
}

/* ---- Merkle trees ----------------------------------------------------------- */

static void unhex(const char *s, uint8_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = (uint8_t)(zt_hex_digit(s[2 * i]) << 4 | zt_hex_digit(s[2 * i + 1]));
}

static void test_merkle(void **state)
{
    (void)state;
    /* @openzeppelin/merkle-tree's README: StandardMerkleTree.of([[0x1111..,
     * 5e18], [0x2222.., 2.5e18]], ["address", "uint256"]) dumps the tree
     * [root d4dee0be.., leaf(0x1111) eb02c421.., leaf(0x2222) b92c48e9..] */
    uint8_t w[2][2][32] = {{{0}}};
    memset(w[0][0] + 12, 0x11, 20);
    memset(w[1][0] + 12, 0x22, 20);
    zt_u128 v1 = U("5000000000000000000"), v2 = U("2500000000000000000");
    for (int i = 0; i < 16; i++) {
        w[0][1][31 - i] = (uint8_t)(v1 >> (8 * i));
        w[1][1][31 - i] = (uint8_t)(v2 >> (8 * i));
    }
    uint8_t leaves[2][32], want[32], root[32];
    zt_merkle_leaf_words((const uint8_t(*)[32])w[0], 2, leaves[0]);
    zt_merkle_leaf_words((const uint8_t(*)[32])w[1], 2, leaves[1]);
    unhex("eb02c421cfa48976e66dfb29120745909ea3a0f843456c263cf8f1253483e283", want, 32);
    assert_memory_equal(leaves[0], want, 32);
    unhex("b92c48e9d7abe27fd8dfd6b5dfdbfb1c9a463f80c712b66f3a5180a090cccafc", want, 32);
    assert_memory_equal(leaves[1], want, 32);
    struct zt_merkle *m;
    assert_int_equal(zt_merkle_build((const uint8_t(*)[32])leaves, 2, &m), 0);
    zt_merkle_root(m, root);
    unhex("d4dee0beab2d53f2cc83e567171bd2820e49898130a22622b10ead383e90bd77", want, 32);
    assert_memory_equal(root, want, 32);
    uint8_t proof[ZT_MERKLE_MAX_DEPTH][32];
    size_t n;
    assert_int_equal(zt_merkle_proof(m, 0, proof, ZT_MERKLE_MAX_DEPTH, &n), 0);
    assert_int_equal(n, 1);
    assert_memory_equal(proof[0], leaves[1], 32);
    zt_merkle_free(m);

    /* the payout leaf (uint256 index, address, uint256 amount): the ABI
     * encoding written out by hand, hashed twice */
    const char *enc = "000000000000000000000000000000000000000000000000000000000000002a"
                      "000000000000000000000000abcdefabcdefabcdefabcdefabcdefabcdefabcd"
                      "0000000000000000000000000000000000000000000000000de0b6b3a7640000";
    uint8_t bytes[96], inner[32], leaf[32];
    unhex(enc, bytes, 96);
    zt_keccak256(inner, bytes, 96);
    zt_keccak256(want, inner, 32);
    uint8_t addr[20];
    assert_int_equal(zt_ledger_parse_address("0xabcdefABCDEFabcdefabcdefabcdefabcdefabcd", addr), 0);
    zt_merkle_leaf(42, addr, U("1000000000000000000"), leaf);
    assert_memory_equal(leaf, want, 32);

    /* every leaf's proof verifies, altered leaves and proofs do not; depth */
    static const size_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 33, 100, 1000, 10000};
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        size_t nl = sizes[si];
        uint8_t(*lv)[32] = calloc(nl, 32);
        assert_non_null(lv);
        for (size_t i = 0; i < nl; i++) {
            uint8_t a[20] = {0};
            memcpy(a, &i, sizeof i);
            zt_merkle_leaf(i, a, (zt_u128)i * 1000 + 1, lv[i]);
        }
        assert_int_equal(zt_merkle_build((const uint8_t(*)[32])lv, nl, &m), 0);
        zt_merkle_root(m, root);
        size_t maxd = 0;
        size_t step = nl > 100 ? 7 : 1;
        for (size_t i = 0; i < nl; i += step) {
            assert_int_equal(zt_merkle_proof(m, i, proof, ZT_MERKLE_MAX_DEPTH, &n), 0);
            if (n > maxd) maxd = n;
            assert_true(zt_merkle_verify(root, lv[i], (const uint8_t(*)[32])proof, n));
            uint8_t alt[32];
            uint8_t a[20] = {0};
            memcpy(a, &i, sizeof i);
            zt_merkle_leaf(i, a, (zt_u128)i * 1000 + 2, alt); /* another amount */
            assert_false(zt_merkle_verify(root, alt, (const uint8_t(*)[32])proof, n));
            zt_merkle_leaf(i + 1, a, (zt_u128)i * 1000 + 1, alt); /* another index */
            assert_false(zt_merkle_verify(root, alt, (const uint8_t(*)[32])proof, n));
            if (n) {
                proof[n - 1][5] ^= 1;
                assert_false(zt_merkle_verify(root, lv[i], (const uint8_t(*)[32])proof, n));
            }
        }
        if (nl == 10000) assert_true(maxd <= 14);
        assert_int_equal(zt_merkle_proof(m, nl, proof, ZT_MERKLE_MAX_DEPTH, &n), ZT_ERANGE);
        zt_merkle_free(m);
        free(lv);
    }
}

/* ---- payout batches ------------------------------------------------------------ */

static void test_batches(void **state)
{
    (void)state;
    struct books b;
    assert_int_equal(books_open(&b), 0);
    char ua[43];
    addr_of(0x400, ua);
    int64_t user, provs[6], pay;
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, ua, NULL, &user), 0);
    assert_int_equal(zt_ledger_mint(b.l, "dep", user, 1000000, NULL, NULL), 0);
    for (int i = 0; i < 6; i++) {
        char a[43], node[16];
        addr_of(0x500u + (unsigned)i, a);
        snprintf(node, sizeof node, "node-%d", i);
        assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, node, a, &provs[i]), 0);
    }
    assert_int_equal(zt_ledger_system_account(b.l, ZT_LEDGER_PAYOUT, &pay), 0);
    /* provider i earns (i + 1) * 100 per job, 3 jobs at t = 10, 20, 30 */
    for (int t = 1; t <= 3; t++)
        for (int i = 0; i < 6; i++) {
            char job[32];
            snprintf(job, sizeof job, "j-%d-%d", t, i);
            assert_int_equal(zt_ledger_reserve(b.l, job, user, 1000), 0);
            assert_int_equal(zt_ledger_settle(b.l, job, provs[i], (zt_u128)(i + 1) * 100, 1, t * 10), 0);
        }
    int64_t bid, bid2;
    size_t nl;
    /* nothing older than the window */
    assert_int_equal(zt_ledger_batch(b.l, 5, 0, 100, &bid, &nl), ZT_ENOTFOUND);
    /* t <= 20: two jobs each; 2 * (i+1) * 100 >= 700 -> providers 3, 4, 5 */
    assert_int_equal(zt_ledger_batch(b.l, 20, 700, 100, &bid, &nl), 0);
    assert_int_equal(nl, 3);
    assert_true(bal(&b, pay) == 800 + 1000 + 1200);
    assert_true(bal(&b, provs[5]) == 600 && bal(&b, provs[0]) == 300);
    audit_ok(&b);
    /* the same earnings never go again */
    assert_int_equal(zt_ledger_batch(b.l, 20, 700, 100, &bid2, &nl), ZT_ENOTFOUND);
    /* everything else (threshold 0) */
    assert_int_equal(zt_ledger_batch(b.l, 1000, 0, 200, &bid2, &nl), 0);
    assert_int_equal(nl, 6);
    assert_true(bid2 != bid);
    for (int i = 0; i < 6; i++) assert_true(bal(&b, provs[i]) == 0);
    audit_ok(&b);
    /* proofs from the store verify against the root */
    uint8_t root[32], proof[ZT_MERKLE_MAX_DEPTH][32], leaf[32];
    assert_int_equal(zt_ledger_batch_root(b.l, bid2, root), 0);
    for (int i = 0; i < 6; i++) {
        char a[43];
        addr_of(0x500u + (unsigned)i, a);
        struct zt_ledger_leaf lf;
        size_t n;
        assert_int_equal(zt_ledger_batch_proof(b.l, bid2, a, &lf, proof, &n), 0);
        zt_merkle_leaf(lf.index, lf.address, lf.amount, leaf);
        assert_true(zt_merkle_verify(root, leaf, (const uint8_t(*)[32])proof, n));
        assert_true(lf.amount == (zt_u128)(i < 3 ? 3 : 1) * (zt_u128)(i + 1) * 100);
        zt_merkle_leaf(lf.index, lf.address, lf.amount + 1, leaf);
        assert_false(zt_merkle_verify(root, leaf, (const uint8_t(*)[32])proof, n));
    }
    struct zt_ledger_leaf lf;
    size_t n;
    assert_int_equal(zt_ledger_batch_proof(b.l, bid2, ua, &lf, proof, &n), ZT_ENOTFOUND);
    assert_int_equal(zt_ledger_batch_root(b.l, 999, root), ZT_ENOTFOUND);
    /* a second insert of a batched earning is refused by the store */
    struct zt_store_stmt *q;
    assert_int_equal(zt_store_prepare(b.st,
                                      "INSERT INTO ledger_batch_items(earning_id, batch_id)"
                                      " SELECT earning_id, batch_id FROM ledger_batch_items LIMIT 1",
                                      &q),
                     0);
    assert_int_equal(zt_store_step(q), ZT_EEXIST);
    zt_store_stmt_free(q);
    /* the audit finds a batch whose leaves do not add up to its total: the
     * first (judged when the next batch's rows begin) and the last (judged
     * after the last row) */
    const int64_t ids[2] = {bid, bid2};
    for (int k = 0; k < 2; k++) {
        char why[256], want[64];
        batch_total_add(&b, ids[k], 1);
        assert_int_equal(zt_ledger_audit(b.l, why, sizeof why), ZT_ERANGE);
        snprintf(want, sizeof want, "batch %lld: leaves do not add up", (long long)ids[k]);
        assert_non_null(strstr(why, want));
        batch_total_add(&b, ids[k], -1);
        audit_ok(&b);
    }
    books_close(&b);
}

/* ---- EIP-712 signatures, the payout key, batch states --------------------------- */

static void hexin(uint8_t *out, size_t n, const char *s)
{
    assert_int_equal(zt_hex_decode_str(out, n, s, ZT_HEX_ANY_CASE), 0);
}

static void word_text(uint8_t w[32], const char *s)
{
    zt_keccak256(w, s, strlen(s));
}

static void word_addr(uint8_t w[32], const char *hex40)
{
    memset(w, 0, 32);
    hexin(w + 12, 20, hex40);
}

/* The example of the EIP-712 spec (Ether Mail, signed by keccak256("cow")):
 * its published domain separator, Mail hash, digest and signature, the
 * Mail hash assembled here by hand from the spec's encodeData; then our
 * PayoutBatch hash assembled by hand the same way. */
static void test_eip712(void **state)
{
    (void)state;
    struct zt_eip712_domain d = {.name = "Ether Mail", .version = "1", .chain_id = 1};
    hexin(d.contract, 20, "CcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC");
    uint8_t sep[32], want[32];
    zt_eip712_domain_separator(&d, sep);
    hexin(want, 32, "f2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f");
    assert_memory_equal(sep, want, 32);
    /* hashStruct(Person) = keccak(typeHash || keccak(name) || wallet) */
    uint8_t p[3][32], from[32], to[32], mail[4][32], mh[32];
    word_text(p[0], "Person(string name,address wallet)");
    word_text(p[1], "Cow");
    word_addr(p[2], "CD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826");
    zt_keccak256(from, p, sizeof p);
    word_text(p[1], "Bob");
    word_addr(p[2], "bBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB");
    zt_keccak256(to, p, sizeof p);
    word_text(mail[0], "Mail(Person from,Person to,string contents)Person(string name,address wallet)");
    memcpy(mail[1], from, 32);
    memcpy(mail[2], to, 32);
    word_text(mail[3], "Hello, Bob!");
    zt_keccak256(mh, mail, sizeof mail);
    hexin(want, 32, "c52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e");
    assert_memory_equal(mh, want, 32);
    uint8_t dg[32];
    zt_eip712_digest(sep, mh, dg);
    hexin(want, 32, "be609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
    assert_memory_equal(dg, want, 32);
    /* the cow key signs it to the published signature */
    uint8_t sk[32], addr[20], sig[65], wsig[65];
    word_text(sk, "cow");
    struct zt_payout_key *k;
    assert_int_equal(zt_payout_key_from_secret(sk, &k), 0);
    zt_payout_key_address(k, addr);
    hexin(want, 20, "CD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826");
    assert_memory_equal(addr, want, 20);
    assert_int_equal(zt_payout_key_sign(k, dg, sig), 0);
    hexin(wsig, 65,
          "4355c47d63924e8a72e509b65029052eb6c299d53a04e167c5775fd466751c9d"
          "07299936d304c153f6443dfa05f40ff007d72911b6f72307f996231605b915621c");
    assert_memory_equal(sig, wsig, 65);
    zt_payout_key_free(k);
    /* PayoutBatch{batchId 7, root, total 10^18 + 5, leaves 3} by hand */
    uint8_t w[5][32], root[32], sh[32];
    memset(root, 0xab, 32);
    word_text(w[0], "PayoutBatch(uint256 batchId,bytes32 root,uint256 total,uint256 leaves)");
    memset(w[1], 0, 32);
    w[1][31] = 7;
    memcpy(w[2], root, 32);
    hexin(w[3], 32, "0000000000000000000000000000000000000000000000000de0b6b3a7640005");
    memset(w[4], 0, 32);
    w[4][31] = 3;
    zt_keccak256(want, w, sizeof w);
    zt_payout_batch_hash(7, root, U("1000000000000000005"), 3, sh);
    assert_memory_equal(sh, want, 32);
    /* a bad secret */
    memset(sk, 0, 32);
    assert_int_equal(zt_payout_key_from_secret(sk, &k), ZT_EINVAL);
}

static const struct zt_payout_kdf FAST_KDF = {.opslimit = 1, .memlimit = 8192};

/* The key file and the documented backup/restore procedure
 * (docs/internals/ledger.md "Backup and restore"): copy the key file,
 * lose the original, restore the copy, same address and signatures. */
static void test_payout_key(void **state)
{
    (void)state;
    char path[400], copy[400];
    snprintf(path, sizeof path, "%s/payout.key", dir);
    snprintf(copy, sizeof copy, "%s/payout.key.backup", dir);
    struct zt_payout_key *k, *k2;
    assert_int_equal(zt_payout_key_generate(&k), 0);
    assert_int_equal(zt_payout_key_save(k, path, "", 0, &FAST_KDF), ZT_EINVAL); /* a passphrase is required */
    assert_int_equal(zt_payout_key_save(k, path, "hunter22", 8, &FAST_KDF), 0);
    assert_int_equal(zt_payout_key_save(k, path, "hunter22", 8, &FAST_KDF), ZT_EEXIST);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    /* the secret is not in the file */
    char *text;
    size_t len;
    assert_int_equal(zt_file_read(path, 4096, &text, &len), 0);
    assert_non_null(strstr(text, "zentalk-payout-key"));
    zt_free(text);
    assert_int_equal(zt_payout_key_load(path, "wrong", 5, &k2), ZT_ECRYPTO);
    /* backup: a byte copy of the file, 0600 */
    char *bytes;
    assert_int_equal(zt_file_read(path, 4096, &bytes, &len), 0);
    FILE *f = fopen(copy, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, len, f), len);
    fclose(f);
    zt_free(bytes);
    assert_int_equal(zt_payout_key_load(copy, "hunter22", 8, &k2), ZT_EPERM); /* group/other-readable */
    assert_int_equal(chmod(copy, 0600), 0);
    /* the original is lost; restore the copy in its place */
    assert_int_equal(unlink(path), 0);
    assert_int_equal(zt_payout_key_load(path, "hunter22", 8, &k2), ZT_ENOTFOUND);
    assert_int_equal(rename(copy, path), 0);
    assert_int_equal(zt_payout_key_load(path, "hunter22", 8, &k2), 0);
    uint8_t a1[20], a2[20], dg[32], s1[65], s2[65];
    zt_payout_key_address(k, a1);
    zt_payout_key_address(k2, a2);
    assert_memory_equal(a1, a2, 20);
    memset(dg, 0x42, 32);
    assert_int_equal(zt_payout_key_sign(k, dg, s1), 0);
    assert_int_equal(zt_payout_key_sign(k2, dg, s2), 0);
    assert_memory_equal(s1, s2, 65);
    zt_payout_key_free(k2);
    /* an altered address is refused */
    assert_int_equal(zt_file_read(path, 4096, &text, &len), 0);
    char *at = strstr(text, "\"address\": \"0x");
    assert_non_null(at);
    at[14] = at[14] == '0' ? '1' : '0';
    unlink(path);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    fclose(f);
    zt_free(text);
    assert_int_equal(chmod(path, 0600), 0);
    assert_int_equal(zt_payout_key_load(path, "hunter22", 8, &k2), ZT_ECRYPTO);
    unlink(path);
    zt_payout_key_free(k);
}

struct hook_state {
    int calls;
    char json[1 << 16];
};

static int submit_hook(const char *json, size_t len, void *ud, char *ref, size_t cap)
{
    struct hook_state *h = ud;
    h->calls++;
    snprintf(h->json, sizeof h->json, "%.*s", (int)len, json);
    snprintf(ref, cap, "0x%064d", h->calls);
    return 0;
}

/* pending -> signed -> submitted -> confirmed, each step once; the export
 * file's signature recovers to the payout key's address over the digest
 * rebuilt from the batch, and every proof in it verifies. Then the
 * ledger's backup (VACUUM INTO on SQLite) restores to the same books. */
static void test_batch_states(void **state)
{
    (void)state;
    struct books b;
    assert_int_equal(books_open(&b), 0);
    char ua[43];
    addr_of(0x700, ua);
    int64_t user, prov[3];
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, ua, NULL, &user), 0);
    assert_int_equal(zt_ledger_mint(b.l, "dep", user, U("5000000000000000000"), NULL, NULL), 0);
    for (int i = 0; i < 3; i++) {
        char a[43], node[16], job[16];
        addr_of(0x800u + (unsigned)i, a);
        snprintf(node, sizeof node, "node-%d", i);
        snprintf(job, sizeof job, "job-%d", i);
        assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, node, a, &prov[i]), 0);
        assert_int_equal(zt_ledger_reserve(b.l, job, user, U("1000000000000000000")), 0);
        assert_int_equal(zt_ledger_settle(b.l, job, prov[i], U("300000000000000000") * (zt_u128)(unsigned)(i + 1), 1000, 10), 0);
    }
    int64_t bid, bid2;
    size_t nl;
    assert_int_equal(zt_ledger_batch(b.l, 100, 0, 200, &bid, &nl), 0);
    assert_int_equal(nl, 3);
    struct zt_ledger_batch_info bi;
    assert_int_equal(zt_ledger_batch_info(b.l, bid, &bi), 0);
    assert_int_equal(bi.state, ZT_BATCH_PENDING);
    assert_false(bi.has_sig);
    assert_string_equal(zt_ledger_batch_state_name(bi.state), "pending");
    struct zt_eip712_domain d = {.name = ZT_PAYOUT_DOMAIN_NAME, .version = ZT_PAYOUT_DOMAIN_VERSION, .chain_id = 31337};
    memset(d.contract, 0x5a, 20);
    char path[400];
    snprintf(path, sizeof path, "%s/batch.json", dir);
    /* not before it is signed */
    assert_int_equal(zt_ledger_batch_export(b.l, bid, &d, path), ZT_EPERM);
    assert_int_equal(zt_ledger_batch_confirm(b.l, bid), ZT_EPERM);
    uint8_t sk[32], sig[65], sig2[65];
    memset(sk, 0x11, 32);
    struct zt_payout_key *k, *k2;
    assert_int_equal(zt_payout_key_from_secret(sk, &k), 0);
    assert_int_equal(zt_ledger_batch_sign(b.l, bid, &d, k, sig), 0);
    /* signed once: another key later gets the stored signature back */
    memset(sk, 0x22, 32);
    assert_int_equal(zt_payout_key_from_secret(sk, &k2), 0);
    assert_int_equal(zt_ledger_batch_sign(b.l, bid, &d, k2, sig2), 0);
    assert_memory_equal(sig, sig2, 65);
    zt_payout_key_free(k2);
    assert_int_equal(zt_ledger_batch_info(b.l, bid, &bi), 0);
    assert_int_equal(bi.state, ZT_BATCH_SIGNED);
    /* the signature recovers to the key's address over the digest */
    uint8_t dom[32], sh[32], dg[32], rec[20], kaddr[20];
    zt_eip712_domain_separator(&d, dom);
    zt_payout_batch_hash((uint64_t)bid, bi.root, bi.total, bi.n_leaves, sh);
    zt_eip712_digest(dom, sh, dg);
    assert_int_equal(zt_wallet_recover(dg, sig, rec), 0);
    zt_payout_key_address(k, kaddr);
    assert_memory_equal(rec, kaddr, 20);
    assert_true(bi.total == U("1800000000000000000"));
    /* export: the file, then submitted; again: the same bytes, same state */
    assert_int_equal(zt_ledger_batch_export(b.l, bid, &d, path), 0);
    char *t1, *t2;
    size_t n1, n2;
    assert_int_equal(zt_file_read(path, 1 << 20, &t1, &n1), 0);
    assert_int_equal(zt_ledger_batch_export(b.l, bid, &d, path), 0);
    assert_int_equal(zt_file_read(path, 1 << 20, &t2, &n2), 0);
    assert_int_equal(n1, n2);
    assert_memory_equal(t1, t2, n1);
    assert_int_equal(zt_ledger_batch_info(b.l, bid, &bi), 0);
    assert_int_equal(bi.state, ZT_BATCH_SUBMITTED);
    assert_int_equal(strncmp(bi.tx_ref, "file:", 5), 0);
    /* the file: signature, root, every leaf's proof */
    json_error_t je;
    json_t *doc = json_loadb(t1, n1, 0, &je);
    assert_non_null(doc);
    char sigh[133];
    sigh[0] = '0';
    sigh[1] = 'x';
    zt_hex_encode(sigh + 2, sig, 65);
    assert_string_equal(json_string_value(json_object_get(doc, "signature")), sigh);
    assert_string_equal(json_string_value(json_object_get(doc, "total")), "1800000000000000000");
    json_t *lv = json_object_get(doc, "leaves");
    assert_int_equal(json_array_size(lv), 3);
    for (size_t i = 0; i < 3; i++) {
        json_t *e = json_array_get(lv, i), *pj = json_object_get(e, "proof");
        uint8_t a[20], leaf[32], proof[ZT_MERKLE_MAX_DEPTH][32];
        zt_u128 amt;
        const char *am = json_string_value(json_object_get(e, "amount"));
        assert_int_equal(zt_ledger_parse_address(json_string_value(json_object_get(e, "address")), a), 0);
        assert_int_equal(zt_u128_parse(am, strlen(am), &amt), 0);
        zt_merkle_leaf((uint64_t)json_integer_value(json_object_get(e, "index")), a, amt, leaf);
        for (size_t j = 0; j < json_array_size(pj); j++) hexin(proof[j], 32, json_string_value(json_array_get(pj, j)) + 2);
        assert_true(zt_merkle_verify(bi.root, leaf, (const uint8_t(*)[32])proof, json_array_size(pj)));
    }
    json_decref(doc);
    zt_free(t1);
    zt_free(t2);
    /* confirmed, once */
    assert_int_equal(zt_ledger_batch_confirm(b.l, bid), 0);
    assert_int_equal(zt_ledger_batch_confirm(b.l, bid), 0);
    assert_int_equal(zt_ledger_batch_info(b.l, bid, &bi), 0);
    assert_int_equal(bi.state, ZT_BATCH_CONFIRMED);
    /* the hook: handed exactly once */
    assert_int_equal(zt_ledger_reserve(b.l, "job-x", user, 100), 0);
    assert_int_equal(zt_ledger_settle(b.l, "job-x", prov[0], 50, 0, 20), 0);
    assert_int_equal(zt_ledger_batch(b.l, 100, 0, 300, &bid2, &nl), 0);
    struct hook_state *h = calloc(1, sizeof *h);
    assert_non_null(h);
    assert_int_equal(zt_ledger_batch_submit(b.l, bid2, &d, submit_hook, h), ZT_EPERM);
    assert_int_equal(zt_ledger_batch_sign(b.l, bid2, &d, k, NULL), 0);
    assert_int_equal(zt_ledger_batch_submit(b.l, bid2, &d, submit_hook, h), 0);
    assert_int_equal(zt_ledger_batch_submit(b.l, bid2, &d, submit_hook, h), 0);
    assert_int_equal(h->calls, 1);
    assert_non_null(strstr(h->json, "\"leafCount\": 1"));
    assert_int_equal(zt_ledger_batch_info(b.l, bid2, &bi), 0);
    assert_int_equal(bi.state, ZT_BATCH_SUBMITTED);
    assert_int_equal(strlen(bi.tx_ref), 66);
    free(h);
    zt_payout_key_free(k);
    audit_ok(&b);
    if (!pg_db[0]) {
        /* backup (docs: sqlite3 ledger.db "VACUUM INTO 'backup.db'") and restore */
        char bk[400], sql[600];
        snprintf(bk, sizeof bk, "%s/backup.db", dir);
        snprintf(sql, sizeof sql, "VACUUM INTO '%s'", bk);
        sqlite3 *db;
        assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
        assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        zt_u128 ub = bal(&b, user);
        books_close(&b);
        rm_files();
        assert_int_equal(rename(bk, dbpath), 0);
        assert_int_equal(books_open(&b), 0);
        audit_ok(&b);
        assert_true(bal(&b, user) == ub);
        assert_int_equal(zt_ledger_batch_info(b.l, bid, &bi), 0);
        assert_int_equal(bi.state, ZT_BATCH_CONFIRMED);
    }
    unlink(path);
    books_close(&b);
}

/* ---- pricing and the job path ------------------------------------------------------ */

static void test_job_path(void **state)
{
    (void)state;
    struct zt_cfg_chain c = {.min_payout = "10", .orchestrator_fee_bps = 500, .verification_bonus = "0.001",
                             .slash_amount = "10", .min_stake = "100", .price_prompt_per_1k = "0.001",
                             .price_completion_per_1k = "0.002", .dispute_window_s = 60};
    struct zt_ledger_prices p;
    char why[128];
    assert_int_equal(zt_ledger_prices_from_config(&c, &p, why, sizeof why), 0);
    assert_true(p.prompt_per_1k == U("1000000000000000"));
    assert_true(p.min_stake == U("100000000000000000000"));
    assert_int_equal(p.fee_bps, 500);
    assert_int_equal(p.dispute_window_ms, 60000);
    /* 1500 prompt + 500 completion: 1.5e15 + 1e15 = 2.5e15; fee 5% */
    zt_u128 cost, fee, est;
    assert_int_equal(zt_ledger_job_cost(&p, 1500, 500, &cost, &fee), 0);
    assert_true(cost == U("2500000000000000") && fee == U("125000000000000"));
    /* rounding: a price of 1 base unit per 1k, 1 token costs 1 (ceil); fee floor */
    struct zt_ledger_prices tiny = {.prompt_per_1k = 1, .completion_per_1k = 1, .fee_bps = 9999};
    assert_int_equal(zt_ledger_job_cost(&tiny, 1, 0, &cost, &fee), 0);
    assert_true(cost == 1 && fee == 0);
    assert_int_equal(zt_ledger_job_cost(&tiny, 20000, 0, &cost, &fee), 0);
    assert_true(cost == 20 && fee == 19);
    struct zt_ledger_prices huge = {.prompt_per_1k = ZT_U128_MAX};
    assert_int_equal(zt_ledger_job_cost(&huge, 2, 0, &cost, &fee), ZT_ERANGE);
    assert_int_equal(zt_ledger_job_estimate(&p, 1000, 1000, &est), 0);
    assert_true(est == U("3150000000000000")); /* 3e15 + 5% */
    c.slash_amount = "1e3";
    assert_int_equal(zt_ledger_prices_from_config(&c, &p, why, sizeof why), ZT_ECONFIG);
    assert_string_equal(why, "chain.slash_amount: not an exact token amount");
    c.slash_amount = "10";
    assert_int_equal(zt_ledger_prices_from_config(&c, &p, why, sizeof why), 0);

    struct books b;
    assert_int_equal(books_open(&b), 0);
    const char *ua = "0x00000000000000000000000000000000000000Aa";
    int64_t user, prov, fee_acct;
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, ua, NULL, &user), 0);
    assert_int_equal(zt_ledger_system_account(b.l, ZT_LEDGER_FEE, &fee_acct), 0);
    /* no balance: refused (the gateway's 402), nothing reserved */
    zt_u128 r;
    assert_int_equal(zt_ledger_job_open(b.l, &p, "j1", ua, 1000, 1000, &r), ZT_ERANGE);
    int64_t eu;
    zt_u128 ea;
    int es;
    assert_int_equal(zt_ledger_escrow(b.l, "j1", &eu, &ea, &es), ZT_ENOTFOUND);
    assert_int_equal(zt_ledger_mint(b.l, "dep", user, U("1000000000000000000"), NULL, NULL), 0);
    assert_int_equal(zt_ledger_job_open(b.l, &p, "j1", ua, 1000, 1000, &r), 0);
    assert_true(r == est);
    assert_int_equal(zt_ledger_job_open(b.l, &p, "j1", ua, 1000, 1000, NULL), 0); /* replay */
    assert_int_equal(zt_ledger_escrow(b.l, "j1", &eu, &ea, &es), 0);
    assert_true(eu == user && ea == est && es == 1);
    /* used 200 prompt + 300 completion: 0.2e15 + 0.6e15 = 8e14, fee 4e13 */
    assert_int_equal(zt_ledger_job_close(b.l, &p, "j1", "zt1worker", 200, 300, 5), 0);
    assert_int_equal(zt_ledger_job_close(b.l, &p, "j1", "zt1worker", 200, 300, 5), 0); /* replay */
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, "zt1worker", NULL, &prov), 0);
    assert_true(bal(&b, prov) == U("800000000000000"));
    assert_true(bal(&b, fee_acct) == U("40000000000000"));
    assert_true(bal(&b, user) == U("1000000000000000000") - U("840000000000000"));
    /* over the reservation: cut to it */
    assert_int_equal(zt_ledger_job_open(b.l, &p, "j2", ua, 10, 10, &r), 0);
    assert_int_equal(zt_ledger_job_close(b.l, &p, "j2", "zt1worker", 100000, 100000, 6), 0);
    assert_true(bal(&b, prov) == U("800000000000000") + r);
    /* failure: all back */
    zt_u128 before = bal(&b, user);
    assert_int_equal(zt_ledger_job_open(b.l, &p, "j3", ua, 1000, 1000, NULL), 0);
    assert_int_equal(zt_ledger_job_fail(b.l, "j3"), 0);
    assert_int_equal(zt_ledger_job_fail(b.l, "j3"), 0);
    assert_true(bal(&b, user) == before);
    assert_int_equal(zt_ledger_job_close(b.l, &p, "j3", "zt1worker", 1, 1, 7), ZT_EPERM);
    assert_int_equal(zt_ledger_job_close(b.l, &p, "nope", "zt1worker", 1, 1, 7), ZT_ENOTFOUND);
    /* the stake gate */
    bool ok = true;
    assert_int_equal(zt_ledger_stake_ok(b.l, &p, "zt1worker", &ok), 0);
    assert_false(ok);
    assert_int_equal(zt_ledger_mint(b.l, "dep-w", prov, U("100000000000000000000"), NULL, NULL), 0);
    assert_int_equal(zt_ledger_stake(b.l, "stake-1", "zt1worker", U("99999999999999999999")), 0);
    assert_int_equal(zt_ledger_stake_ok(b.l, &p, "zt1worker", &ok), 0);
    assert_false(ok);
    assert_int_equal(zt_ledger_stake(b.l, "stake-2", "zt1worker", 1), 0);
    assert_int_equal(zt_ledger_stake_ok(b.l, &p, "zt1worker", &ok), 0);
    assert_true(ok);
    /* who pays: a wallet session's identity, nothing else */
    char payer[43];
    assert_int_equal(zt_chain_payer("wallet:0x00000000000000000000000000000000000000AA", payer), 0);
    assert_string_equal(payer, "0x00000000000000000000000000000000000000aa");
    assert_int_equal(zt_chain_payer("alice", payer), ZT_EPERM);
    assert_int_equal(zt_chain_payer("", payer), ZT_EPERM);
    assert_int_equal(zt_chain_payer(NULL, payer), ZT_EPERM);
    assert_int_equal(zt_chain_payer("wallet:0x1234", payer), ZT_EPERM);
    assert_int_equal(zt_chain_payer("node:zt1abc", payer), ZT_EPERM);
    assert_int_equal(zt_chain_prompt_bound(16, 1), 16 + 2 * ZT_CHAIN_TEMPLATE_ALLOWANCE);
    struct zt_ledger_prices nostake = p;
    nostake.min_stake = 0;
    assert_int_equal(zt_ledger_stake_ok(b.l, &nostake, "zt1other", &ok), 0);
    assert_true(ok);
    audit_ok(&b);
    books_close(&b);
}

/* ---- allocation failures ---------------------------------------------------- */

/* open + a reservation and its settlement with allocation fail_n failing */
static int open_settle(int fail_n)
{
    struct books b;
    zt_alloc_fail_after(fail_n);
    int rc = books_open(&b);
    int64_t user = 0, prov = 0;
    if (!rc) rc = zt_ledger_account(b.l, ZT_LEDGER_USER, "0x00000000000000000000000000000000000000aa", NULL, &user);
    if (!rc) rc = zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, "node-a", "0x00000000000000000000000000000000000000bb", &prov);
    if (!rc) rc = zt_ledger_mint(b.l, "dep", user, 1000, NULL, NULL);
    if (!rc) rc = zt_ledger_reserve(b.l, "job", user, 500);
    if (!rc) rc = zt_ledger_settle(b.l, "job", prov, 300, 20, 1);
    zt_alloc_fail_after(0);
    books_close(&b);
    return rc;
}

static void test_alloc_failures(void **state)
{
    (void)state;
    rm_files();
    int64_t c0 = zt_test_sqlite_calls();
    assert_int_equal(open_settle(0), 0);
    int total = (int)(zt_test_sqlite_calls() - c0) + 200;
    const char *full = getenv("ZT_TORTURE_FULL");
    int stride = full && full[0] == '1' ? 1 : 5;
    int failed = 0, tried = 0;
    for (int n = 1; n <= total; n += stride) {
        tried++;
        rm_files();
        int64_t live = zt_alloc_live();
        int rc = open_settle(n);
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
        /* what the failed attempt left is consistent, and finishing it works */
        assert_int_equal(open_settle(0), 0);
        struct books b;
        assert_int_equal(books_open(&b), 0);
        audit_ok(&b);
        int64_t user;
        assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, "0x00000000000000000000000000000000000000aa", NULL, &user), 0);
        assert_true(bal(&b, user) == 680);
        books_close(&b);
    }
    assert_true(failed > 10);
    print_message("alloc sweep: %d of %d allocation points, %d failed cleanly\n", tried, total, failed);
}

/* ---- crash test ------------------------------------------------------------------ */

/* the child: settlements and batches in a loop until killed */
static const struct zt_eip712_domain CRASH_DOMAIN = {.name = ZT_PAYOUT_DOMAIN_NAME,
                                                     .version = ZT_PAYOUT_DOMAIN_VERSION, .chain_id = 5};

static struct zt_payout_key *crash_key(void)
{
    uint8_t sk[32];
    memset(sk, 0x33, sizeof sk);
    struct zt_payout_key *k = NULL;
    return zt_payout_key_from_secret(sk, &k) ? NULL : k;
}

static void crash_batch_path(int64_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/batch-%lld.json", dir, (long long)id);
}

/* every batch not yet confirmed: signed, exported, confirmed */
static int crash_batches_forward(struct books *b)
{
    struct zt_payout_key *k = crash_key();
    if (!k) return ZT_ECRYPTO;
    int rc = 0;
    for (int64_t id = 1; !rc; id++) {
        struct zt_ledger_batch_info bi;
        if ((rc = zt_ledger_batch_info(b->l, id, &bi))) break;
        if (bi.state == ZT_BATCH_CONFIRMED) continue;
        char path[400];
        crash_batch_path(id, path, sizeof path);
        if (!(rc = zt_ledger_batch_sign(b->l, id, &CRASH_DOMAIN, k, NULL)) &&
            !(rc = zt_ledger_batch_export(b->l, id, &CRASH_DOMAIN, path)))
            rc = zt_ledger_batch_confirm(b->l, id);
    }
    zt_payout_key_free(k);
    return rc == ZT_ENOTFOUND ? 0 : rc;
}

/* After a kill: each batch's state agrees with what it holds: a signature
 * (recovering to the payout key over the batch's digest) from signed on,
 * the export file with that signature from submitted on. Returns how many
 * are confirmed. */
static int crash_check_batches_in(struct books *b, const struct zt_eip712_domain *d, const char *files)
{
    struct zt_payout_key *k = crash_key();
    assert_non_null(k);
    uint8_t kaddr[20], dom[32];
    zt_payout_key_address(k, kaddr);
    zt_payout_key_free(k);
    zt_eip712_domain_separator(d, dom);
    int confirmed = 0;
    for (int64_t id = 1;; id++) {
        struct zt_ledger_batch_info bi;
        int rc = zt_ledger_batch_info(b->l, id, &bi);
        if (rc == ZT_ENOTFOUND) break;
        assert_int_equal(rc, 0);
        assert_true(bi.has_sig == (bi.state >= ZT_BATCH_SIGNED));
        if (bi.has_sig) {
            uint8_t sh[32], dg[32], rec[20];
            zt_payout_batch_hash((uint64_t)id, bi.root, bi.total, bi.n_leaves, sh);
            zt_eip712_digest(dom, sh, dg);
            assert_int_equal(zt_wallet_recover(dg, bi.sig, rec), 0);
            assert_memory_equal(rec, kaddr, 20);
        }
        if (bi.state >= ZT_BATCH_SUBMITTED) {
            char path[400], sigh[2 * ZT_EIP712_SIG_LEN + 3] = "0x", *text;
            size_t len;
            snprintf(path, sizeof path, "%s/batch-%lld.json", files, (long long)id);
            assert_int_equal(zt_file_read(path, 1 << 24, &text, &len), 0);
            zt_hex_encode(sigh + 2, bi.sig, ZT_EIP712_SIG_LEN);
            assert_non_null(strstr(text, sigh));
            zt_free(text);
        }
        confirmed += bi.state == ZT_BATCH_CONFIRMED;
    }
    return confirmed;
}

static int crash_check_batches(struct books *b)
{
    return crash_check_batches_in(b, &CRASH_DOMAIN, dir);
}

static void crash_child(unsigned seed)
{
    struct books b;
    if (books_open(&b)) _exit(3);
    int64_t user, prov[3];
    if (zt_ledger_account(b.l, ZT_LEDGER_USER, "0x00000000000000000000000000000000000000cc", NULL, &user)) _exit(4);
    for (int i = 0; i < 3; i++) {
        char node[16], a[43];
        snprintf(node, sizeof node, "node-%d", i);
        addr_of(0x600u + (unsigned)i, a);
        if (zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, node, a, &prov[i])) _exit(5);
    }
    for (unsigned k = 0;; k++) {
        char key[48];
        snprintf(key, sizeof key, "dep-%u-%u", seed, k);
        if (zt_ledger_mint(b.l, key, user, 1000, NULL, NULL)) _exit(6);
        snprintf(key, sizeof key, "job-%u-%u", seed, k);
        if (zt_ledger_reserve(b.l, key, user, 900)) _exit(7);
        if (k % 5 == 4) {
            if (zt_ledger_refund(b.l, key)) _exit(8);
        } else if (zt_ledger_settle(b.l, key, prov[k % 3], 500 + k % 300, 7, (int64_t)k)) {
            _exit(9);
        }
        if (k % 7 == 6) {
            int64_t bid;
            size_t nl;
            int rc = zt_ledger_batch(b.l, (int64_t)k, 0, (int64_t)k, &bid, &nl);
            if (rc && rc != ZT_ENOTFOUND) _exit(10);
            if (crash_batches_forward(&b)) _exit(11);
        }
    }
}

/* the sum of the decimal column 0 of a query's rows */
static zt_u128 sum_text(struct zt_store *st, const char *sql)
{
    struct zt_store_stmt *q;
    assert_int_equal(zt_store_prepare(st, sql, &q), 0);
    zt_u128 t = 0;
    int rc;
    while ((rc = zt_store_step(q)) == ZT_STORE_ROW) {
        const char *s;
        size_t n;
        zt_u128 v;
        assert_int_equal(zt_store_column_text(q, 0, &s, &n), 0);
        assert_int_equal(zt_u128_parse(s, n, &v), 0);
        assert_int_equal(zt_u128_add(t, v, &t), 0);
    }
    assert_int_equal(rc, ZT_STORE_DONE);
    zt_store_stmt_free(q);
    return t;
}

/* Run child(seed) in a process and SIGKILL it after us microseconds (it
 * never exits on its own). */
static void kill_child(void (*child)(unsigned), unsigned seed, unsigned us)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) child(seed);
    usleep((useconds_t)us);
    kill(pid, SIGKILL);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status)) print_error("child exited %d before the kill\n", WEXITSTATUS(status));
    assert_true(WIFSIGNALED(status));
}

/* After a kill: the audit holds, and no earning is lost or paid twice:
 * every earning is either still on its provider's account or in exactly
 * one batch, moved to payouts. */
static void crash_check_books(struct books *b, zt_u128 *earned_out, zt_u128 *batched_out)
{
    audit_ok(b);
    zt_u128 earned = sum_text(b->st, "SELECT amount FROM ledger_earnings");
    zt_u128 batched = sum_text(b->st, "SELECT e.amount FROM ledger_earnings e JOIN ledger_batch_items i"
                                      " ON i.earning_id = e.id");
    zt_u128 held = sum_text(b->st, "SELECT balance FROM ledger_accounts WHERE kind = 2");
    int64_t pay;
    assert_int_equal(zt_ledger_system_account(b->l, ZT_LEDGER_PAYOUT, &pay), 0);
    assert_true(bal(b, pay) == batched);
    assert_true(held + batched == earned);
    *earned_out = earned;
    *batched_out = batched;
}

static void test_crash(void **state)
{
    (void)state;
    zt_u128 last_earned = 0, last_batched = 0;
    int last_confirmed = 0;
    rm_files();
    int kills = 100; /* issue 12's count, in make test (about 40 s more than 10 on a loaded 2-core machine) */
    rng_state = 12345;
    for (int i = 0; i < kills; i++) {
        kill_child(crash_child, (unsigned)i, 20000 + (unsigned)(rnd() % 150000));
        struct books b;
        assert_int_equal(books_open(&b), 0);
        crash_check_books(&b, &last_earned, &last_batched);
        last_confirmed = crash_check_batches(&b);
        books_close(&b);
    }
    print_message("crash: %d kills, audit clean after each restart; earned %llu, batched %llu base units; "
                  "%d batches signed, exported and confirmed\n",
                  kills, (unsigned long long)last_earned, (unsigned long long)last_batched, last_confirmed);
    assert_true(last_batched > 0); /* the children got as far as batching */
    assert_true(last_confirmed > 0);
    char path[400];
    for (int64_t id = 1; id < 100000; id++) {
        crash_batch_path(id, path, sizeof path);
        bool gone = unlink(path) == 0;
        strncat(path, ".tmp", sizeof path - strlen(path) - 1);
        gone = unlink(path) == 0 || gone;
        if (!gone) break;
    }
}

/* ---- reading the books: history, batch lists, wallets, penalties (both stores) ---- */

static void test_reading(void **state)
{
    (void)state;
    struct books b;
    assert_int_equal(books_open(&b), 0);
    char ua[43], pa[43];
    addr_of(0x800, ua);
    addr_of(0x801, pa);
    int64_t user, prov, stake;
    char got[43];
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_USER, ua, NULL, &user), 0);
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_PROVIDER, "p-1", NULL, &prov), 0);
    assert_int_equal(zt_ledger_payout_address(b.l, "p-1", got), 0);
    assert_string_equal(got, "");
    assert_int_equal(zt_ledger_payout_address(b.l, "nobody", got), ZT_ENOTFOUND);
    assert_int_equal(zt_ledger_set_wallet(b.l, "p-1", pa), 0);
    assert_int_equal(zt_ledger_payout_address(b.l, "p-1", got), 0);
    assert_string_equal(got, pa);
    assert_int_equal(zt_ledger_mint(b.l, "m-1", user, 10000, NULL, NULL), 0);
    for (int i = 0; i < 3; i++) {
        char job[16];
        snprintf(job, sizeof job, "r-%d", i);
        assert_int_equal(zt_ledger_reserve(b.l, job, user, 1000), 0);
        assert_int_equal(zt_ledger_settle(b.l, job, prov, 100 + (zt_u128)i, 10, 5), 0);
    }
    /* the user's history, newest first, two at a time */
    struct zt_ledger_hist h[8];
    size_t n;
    assert_int_equal(zt_ledger_history(b.l, user, 0, h, 2, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(h[0].key, "settle:r-2");
    assert_true(h[0].credit && h[0].amount == 1000 - 102 - 10);
    assert_string_equal(h[1].key, "reserve:r-2");
    assert_true(!h[1].credit && h[1].amount == 1000);
    assert_true(h[0].entry_id > h[1].entry_id);
    assert_int_equal(zt_ledger_history(b.l, user, h[1].entry_id, h, 8, &n), 0);
    assert_int_equal(n, 5); /* settle, reserve x2 and the mint */
    assert_string_equal(h[4].key, "m-1");
    assert_string_equal(h[4].memo, "mint");
    assert_true(h[4].balance_after.mag == 10000);
    json_t *j = zt_ledger_history_to_json(h, n);
    assert_int_equal(json_array_size(j), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(j, 4), "amount")), "10000");
    json_decref(j);
    assert_int_equal(zt_ledger_history(b.l, user, 0, h, 0, &n), ZT_EINVAL);
    /* batches: none, then one; listed all and by the wallet, with its leaf */
    struct zt_ledger_batch_info bi[4];
    struct zt_ledger_leaf lv[4];
    int64_t ids[4];
    assert_int_equal(zt_ledger_batch_list(b.l, NULL, 0, bi, NULL, 4, &n), 0);
    assert_int_equal(n, 0);
    int64_t bid;
    size_t nl;
    assert_int_equal(zt_ledger_batch(b.l, 5, 1, 6, &bid, &nl), 0);
    assert_int_equal(zt_ledger_batch_list(b.l, NULL, 0, bi, NULL, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_true(bi[0].id == bid && bi[0].total == 303 && bi[0].state == ZT_BATCH_PENDING);
    assert_int_equal(zt_ledger_batch_list(b.l, pa, 0, bi, lv, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_true(lv[0].amount == 303 && lv[0].index == 0);
    assert_int_equal(zt_ledger_batch_list(b.l, ua, 0, bi, lv, 4, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(zt_ledger_batch_list(b.l, NULL, bid, bi, NULL, 4, &n), 0);
    assert_int_equal(n, 0);
    j = zt_ledger_batch_to_json(&bi[0], NULL);
    json_decref(j);
    /* unfinished until submitted */
    assert_int_equal(zt_ledger_batch_unfinished(b.l, ids, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_true(ids[0] == bid);
    struct zt_payout_key *k = crash_key();
    assert_non_null(k);
    char path[400];
    snprintf(path, sizeof path, "%s/reading-batch.json", dir);
    assert_int_equal(zt_ledger_batch_sign(b.l, bid, &CRASH_DOMAIN, k, NULL), 0);
    assert_int_equal(zt_ledger_batch_unfinished(b.l, ids, 4, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(zt_ledger_batch_export(b.l, bid, &CRASH_DOMAIN, path), 0);
    assert_int_equal(zt_ledger_batch_unfinished(b.l, ids, 4, &n), 0);
    assert_int_equal(n, 0);
    zt_payout_key_free(k);
    unlink(path);
    /* a stake deposit once per key; a penalty: the stake slashed, the unpaid earning back */
    bool rep = false;
    assert_int_equal(zt_ledger_stake_deposit(b.l, "sk", "p-1", 50, &rep), 0);
    assert_false(rep);
    assert_int_equal(zt_ledger_stake_deposit(b.l, "sk", "p-1", 50, &rep), 0);
    assert_true(rep);
    assert_int_equal(zt_ledger_stake_deposit(b.l, "sk", "p-1", 51, &rep), ZT_EEXIST);
    assert_int_equal(zt_ledger_account(b.l, ZT_LEDGER_STAKE, "p-1", NULL, &stake), 0);
    assert_int_equal(zt_ledger_reserve(b.l, "r-9", user, 1000), 0);
    assert_int_equal(zt_ledger_settle(b.l, "r-9", prov, 400, 10, 9), 0);
    zt_u128 ub = bal(&b, user);
    struct zt_ledger_slash_result r;
    assert_int_equal(zt_ledger_penalize(b.l, "r-9", "p-1", 30, NULL, 0, &r), 0);
    assert_true(r.slashed == 30 && r.clawed_back == 400 && !r.replayed);
    assert_true(bal(&b, stake) == 20 && bal(&b, user) == ub + 400 && bal(&b, prov) == 0);
    assert_int_equal(zt_ledger_penalize(b.l, "r-9", "p-1", 30, NULL, 0, &r), 0);
    assert_true(r.replayed);
    assert_int_equal(zt_ledger_batch(b.l, 100, 1, 101, &bid, &nl), ZT_ENOTFOUND); /* nothing left to pay */
    audit_ok(&b);
    books_close(&b);
}

/* ---- the node's payout loop, killed (zt_chain_payout_round) -------------------- */

#define LOOP_PASS_VAR "ZT_TEST_LEDGER_LOOP_PASS"
#define LOOP_USER "0x00000000000000000000000000000000000000cc"

/* the node's books on the test's database, as chain.yaml would set them */
static int loop_chain_open(struct zt_chain **c)
{
    static const char *const kv[][2] = {
        {"database.sqlite_path", "ledger.db"},   {"chain.enabled", "true"},
        {"chain.dispute_window_s", "0"},         {"chain.min_payout", "0.000000000000000001"},
        {"chain.payout_chain_id", "5"},          {"chain.payout_passphrase_env", LOOP_PASS_VAR},
        {"chain.price_prompt_per_1k", "0.000000000000001"}, {"chain.price_completion_per_1k", "0.000000000000002"},
        {"chain.orchestrator_fee_bps", "1000"},
    };
    struct zt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    int rc = zt_config_init_defaults(&cfg);
    if (!rc) rc = zt_config_set(&cfg, "node.data_dir", dir, "test", NULL);
    for (size_t i = 0; !rc && i < sizeof kv / sizeof kv[0]; i++) rc = zt_config_set(&cfg, kv[i][0], kv[i][1], "test", NULL);
    if (!rc) rc = zt_chain_open(&cfg, c, NULL);
    zt_config_deinit(&cfg);
    return rc;
}

/* the child: the gateway's job path and payout rounds (the loop's thread
 * running too), until killed */
static void loop_child(unsigned seed)
{
    struct zt_chain *c = NULL;
    if (setenv(LOOP_PASS_VAR, "pw", 1) || loop_chain_open(&c) || zt_chain_payouts_start(c, NULL)) _exit(3);
    struct zt_ledger *l = zt_chain_lock(c);
    for (int i = 0; i < 3; i++) {
        char node[16], a[43];
        snprintf(node, sizeof node, "node-%d", i);
        addr_of(0x700u + (unsigned)i, a);
        if (zt_ledger_set_wallet(l, node, a)) _exit(4);
    }
    zt_chain_unlock(c);
    for (unsigned k = 0;; k++) {
        char key[48], job[48], node[16];
        snprintf(key, sizeof key, "dep-%u-%u", seed, k);
        snprintf(job, sizeof job, "job-%u-%u", seed, k);
        snprintf(node, sizeof node, "node-%u", k % 3);
        if (zt_chain_deposit(c, key, LOOP_USER, 1000000, NULL)) _exit(5);
        if (zt_chain_job_open(c, "wallet:" LOOP_USER, job, 10, 1, 16, NULL, NULL, 0)) _exit(6);
        zt_chain_job_end(c, job, k % 5 != 4, node, NULL, 100 + k % 50, 10);
        struct zt_chain_round r;
        if (k % 7 == 6 && zt_chain_payout_round(c, zt_time_real_ms(), &r)) _exit(7);
    }
}

static void test_crash_loop(void **state)
{
    (void)state;
    if (pg_db[0]) return;
    char key_path[400], files[400];
    snprintf(key_path, sizeof key_path, "%s/payout.key", dir);
    snprintf(files, sizeof files, "%s/payouts", dir);
    struct zt_payout_key *k = crash_key();
    assert_non_null(k);
    assert_int_equal(zt_payout_key_save(k, key_path, "pw", 2, &FAST_KDF), 0);
    zt_payout_key_free(k);
    const char *soak = getenv("ZT_SOAK");
    int kills = soak && soak[0] == '1' ? 50 : 6;
    const struct zt_eip712_domain d = {.name = ZT_PAYOUT_DOMAIN_NAME, .version = ZT_PAYOUT_DOMAIN_VERSION,
                                       .chain_id = 5};
    zt_u128 earned = 0, batched = 0;
    int submitted = 0;
    rng_state = 777;
    for (int i = 0; i < kills; i++) {
        kill_child(loop_child, (unsigned)i, 60000 + (unsigned)(rnd() % 200000));
        struct books b;
        assert_int_equal(books_open(&b), 0);
        crash_check_books(&b, &earned, &batched);
        crash_check_batches_in(&b, &d, files);
        books_close(&b);
    }
    /* a restarted node finishes what the killed one began: after one round
     * every batch is submitted, each once, with its file */
    struct zt_chain *c = NULL;
    assert_int_equal(setenv(LOOP_PASS_VAR, "pw", 1), 0);
    assert_int_equal(loop_chain_open(&c), 0);
    assert_int_equal(zt_chain_payouts_start(c, NULL), 0);
    struct zt_chain_round r;
    assert_int_equal(zt_chain_payout_round(c, INT64_MAX / 2, &r), 0);
    zt_chain_free(c);
    struct books b;
    assert_int_equal(books_open(&b), 0);
    crash_check_books(&b, &earned, &batched);
    crash_check_batches_in(&b, &d, files);
    for (int64_t id = 1;; id++) {
        struct zt_ledger_batch_info bi;
        int rc = zt_ledger_batch_info(b.l, id, &bi);
        if (rc == ZT_ENOTFOUND) break;
        assert_int_equal(rc, 0);
        assert_int_equal(bi.state, ZT_BATCH_SUBMITTED);
        submitted++;
        char path[500];
        snprintf(path, sizeof path, "%s/batch-%lld.json", files, (long long)id);
        unlink(path);
        strncat(path, ".tmp", sizeof path - strlen(path) - 1);
        unlink(path);
    }
    books_close(&b);
    print_message("payout loop crash: %d kills; %d batches, each built, signed and exported once; earned %llu, "
                  "batched %llu base units\n",
                  kills, submitted, (unsigned long long)earned, (unsigned long long)batched);
    assert_true(submitted > 0 && batched > 0);
    unlink(key_path);
    rmdir(files);
}

/* zt_chain_account_export (a data export's ledger part): asking creates no
 * account; the balance and the entries newest first, cut at max. */
static void test_chain_export(void **state)
{
    (void)state;
    struct zt_chain *c = NULL;
    assert_int_equal(loop_chain_open(&c), 0);
    const char *a = "0x00000000000000000000000000000000000000dd";
    json_t *j = NULL;
    assert_int_equal(zt_chain_account_export(c, a, 10, &j), ZT_ENOTFOUND);
    assert_null(j);
    int64_t id = 0;
    struct zt_ledger_bal b;
    struct zt_ledger *l = zt_chain_lock(c);
    assert_int_equal(zt_ledger_find(l, ZT_LEDGER_USER, a, &id, &b), ZT_ENOTFOUND); /* none was created */
    zt_chain_unlock(c);
    assert_int_equal(zt_chain_account_export(c, a, 0, &j), ZT_EINVAL);
    assert_int_equal(zt_chain_deposit(c, "x1", a, 5, NULL), 0);
    assert_int_equal(zt_chain_deposit(c, "x2", a, 7, NULL), 0);
    assert_int_equal(zt_chain_deposit(c, "x3", a, 11, NULL), 0);
    static const struct {
        size_t max, count;
        bool truncated;
    } cases[] = {{10, 3, false}, {3, 3, true}, {2, 2, true}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(zt_chain_account_export(c, a, cases[i].max, &j), 0);
        assert_string_equal(json_string_value(json_object_get(j, "address")), a);
        assert_string_equal(json_string_value(json_object_get(j, "balance")), "23");
        assert_int_equal(json_integer_value(json_object_get(j, "decimals")), ZT_LEDGER_DECIMALS);
        assert_int_equal(json_integer_value(json_object_get(j, "count")), cases[i].count);
        assert_int_equal(json_is_true(json_object_get(j, "truncated")), cases[i].truncated);
        json_t *h = json_object_get(j, "history");
        assert_int_equal(json_array_size(h), cases[i].count);
        assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "key")), "deposit:x3");
        assert_string_equal(json_string_value(json_object_get(json_array_get(h, 0), "amount")), "11");
        assert_string_equal(json_string_value(json_object_get(json_array_get(h, 1), "key")), "deposit:x2");
        json_decref(j);
        j = NULL;
    }
    zt_chain_free(c);
}

/* a worker's books through the chain, each call one lock: the rewards
 * page, a stake deposit, the payout wallet, the batches for a worker or an
 * address, a claimant's proof checked against the stored root */
static void exec_sql(const char *sql)
{
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

/* An admin's wallet deposit and the balance it leaves (POST
 * /v1/admin/ledger/deposit): the address normalised, the balance after
 * each deposit, a replay (same balance), a key reused, a bad key. */
static void test_chain_wallet_deposit(void **state)
{
    (void)state;
    struct zt_chain *c = NULL;
    assert_int_equal(loop_chain_open(&c), 0);
    const char *upper = "0x00000000000000000000000000000000000000CD";
    bool rep = true;
    char norm[43] = "";
    zt_u128 bal = 0;
    assert_int_equal(zt_chain_wallet_deposit(c, "w1", upper, 40, &rep, norm, &bal), 0);
    assert_false(rep);
    assert_string_equal(norm, "0x00000000000000000000000000000000000000cd");
    assert_true(bal == 40);
    assert_int_equal(zt_chain_wallet_deposit(c, "w2", norm, 2, &rep, norm, &bal), 0);
    assert_true(!rep && bal == 42);
    assert_int_equal(zt_chain_wallet_deposit(c, "w2", norm, 2, &rep, norm, &bal), 0);
    assert_true(rep && bal == 42); /* a replay adds nothing */
    assert_int_equal(zt_chain_wallet_deposit(c, "w2", norm, 3, &rep, norm, &bal), ZT_EEXIST);
    char longkey[300];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert_int_equal(zt_chain_wallet_deposit(c, longkey, norm, 3, &rep, norm, &bal), ZT_EINVAL);
    zt_u128 b = 0;
    assert_int_equal(zt_chain_balance(c, ZT_LEDGER_USER, norm, &b), 0);
    assert_true(b == 42);
    zt_chain_free(c);
}

static void test_chain_worker(void **state)
{
    (void)state;
    struct zt_chain *c = NULL;
    assert_int_equal(loop_chain_open(&c), 0);
    const char *node = "node-w", *other = "node-x";
    struct zt_ledger_hist h[4];
    struct zt_chain_rewards r;
    /* a node never seen: both accounts made, nothing owed, no wallet */
    assert_int_equal(zt_chain_rewards(c, node, false, 0, h, 4, &r), 0);
    assert_true(r.unpaid == 0 && r.staked == 0 && r.n == 0);
    assert_string_equal(r.wallet, "");
    struct zt_ledger *l = zt_chain_lock(c);
    int64_t id;
    struct zt_ledger_bal b;
    assert_int_equal(zt_ledger_find(l, ZT_LEDGER_PROVIDER, node, &id, &b), 0);
    assert_int_equal(zt_ledger_find(l, ZT_LEDGER_STAKE, node, &id, &b), 0);
    zt_chain_unlock(c);
    assert_int_equal(zt_chain_rewards(c, node, false, 0, h, 0, &r), ZT_EINVAL);
    /* stake: the deposit and the stake it leaves; a replay; a key reused */
    bool rep = true;
    zt_u128 staked = 0;
    assert_int_equal(zt_chain_stake_deposit(c, "s1", node, 50, &rep, &staked), 0);
    assert_false(rep);
    assert_true(staked == 50);
    assert_int_equal(zt_chain_stake_deposit(c, "s1", node, 50, &rep, &staked), 0);
    assert_true(rep && staked == 50);
    assert_int_equal(zt_chain_stake_deposit(c, "s1", node, 51, &rep, &staked), ZT_EEXIST);
    assert_int_equal(zt_chain_stake_deposit(c, "s2", node, 25, &rep, &staked), 0);
    assert_true(!rep && staked == 75);
    /* the payout wallet, written in capitals, read back as stored */
    char norm[43];
    assert_int_equal(zt_chain_set_payout_wallet(c, node, "0x00000000000000000000000000000000000000AB", norm), 0);
    assert_string_equal(norm, "0x00000000000000000000000000000000000000ab");
    assert_int_equal(zt_chain_set_payout_wallet(c, node, "0xnot-an-address", norm), ZT_EINVAL);
    /* two jobs earn; the page pages, newest first */
    assert_int_equal(zt_chain_deposit(c, "d1", LOOP_USER, 1000000000, NULL), 0);
    for (int i = 0; i < 2; i++) {
        char job[16];
        snprintf(job, sizeof job, "wj-%d", i);
        assert_int_equal(zt_chain_job_open(c, "wallet:" LOOP_USER, job, 10, 1, 16, NULL, NULL, 0), 0);
        zt_chain_job_end(c, job, true, node, NULL, 100, 10);
    }
    zt_u128 earned = 0;
    assert_int_equal(zt_chain_balance(c, ZT_LEDGER_PROVIDER, node, &earned), 0);
    assert_true(earned > 0);
    assert_int_equal(zt_chain_rewards(c, node, false, 0, h, 1, &r), 0);
    assert_int_equal(r.n, 1);
    assert_true(r.unpaid == earned && r.staked == 75);
    assert_string_equal(r.wallet, norm);
    assert_string_equal(h[0].key, "settle:wj-1");
    assert_int_equal(zt_chain_rewards(c, node, false, h[0].entry_id, h, 4, &r), 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(h[0].key, "settle:wj-0");
    assert_int_equal(zt_chain_rewards(c, node, true, 0, h, 4, &r), 0); /* the stake account's */
    assert_int_equal(r.n, 2);
    assert_string_equal(h[0].key, "stake:s2");
    /* no batch yet; then one, paying the wallet */
    struct zt_ledger_batch_info bi[4];
    struct zt_ledger_leaf lv[4];
    size_t n = 9;
    char wallet[43];
    assert_int_equal(zt_chain_payouts(c, node, NULL, 0, bi, lv, 4, &n, wallet), 0);
    assert_int_equal(n, 0);
    assert_string_equal(wallet, norm);
    struct zt_chain_round round;
    assert_int_equal(zt_chain_payout_round(c, zt_time_real_ms() + 1000, &round), 0);
    assert_true(round.batch_id > 0);
    assert_int_equal(zt_chain_payouts(c, node, NULL, 0, bi, lv, 4, &n, wallet), 0);
    assert_int_equal(n, 1);
    assert_true(bi[0].id == round.batch_id && lv[0].amount == earned);
    assert_int_equal(zt_chain_payouts(c, NULL, norm, 0, bi, lv, 4, &n, wallet), 0);
    assert_int_equal(n, 1);
    assert_string_equal(wallet, "");
    assert_int_equal(zt_chain_payouts(c, NULL, NULL, 0, bi, lv, 4, &n, wallet), 0);
    assert_int_equal(n, 1);
    assert_int_equal(zt_chain_payouts(c, NULL, NULL, round.batch_id, bi, lv, 4, &n, wallet), 0);
    assert_int_equal(n, 0);
    /* a node without a wallet, and one without an account, see none */
    assert_int_equal(zt_chain_rewards(c, other, false, 0, h, 4, &r), 0);
    assert_int_equal(zt_chain_payouts(c, other, NULL, 0, bi, lv, 4, &n, wallet), 0);
    assert_true(n == 0 && wallet[0] == '\0');
    assert_int_equal(zt_chain_payouts(c, "node-none", NULL, 0, bi, lv, 4, &n, wallet), 0);
    assert_true(n == 0 && wallet[0] == '\0');
    /* the claimant's proof: verified against the root, the leaf's hash given */
    uint8_t proof[ZT_MERKLE_MAX_DEPTH][ZT_MERKLE_HASH], lh[ZT_MERKLE_HASH], want[ZT_MERKLE_HASH];
    struct zt_ledger_leaf leaf;
    struct zt_ledger_batch_info info;
    size_t np = 0;
    assert_int_equal(zt_chain_batch_proof(c, round.batch_id, norm, &info, &leaf, proof, &np, lh), 0);
    assert_true(info.id == round.batch_id && leaf.amount == earned);
    zt_merkle_leaf(leaf.index, leaf.address, leaf.amount, want);
    assert_memory_equal(lh, want, ZT_MERKLE_HASH);
    assert_true(zt_merkle_verify(info.root, lh, (const uint8_t(*)[ZT_MERKLE_HASH])proof, np));
    assert_int_equal(zt_chain_batch_proof(c, round.batch_id, LOOP_USER, &info, &leaf, proof, &np, lh), ZT_ENOTFOUND);
    assert_int_equal(zt_chain_batch_proof(c, round.batch_id + 1, norm, &info, &leaf, proof, &np, lh), ZT_ENOTFOUND);
    /* a stored leaf changed behind the books' back: the books refuse it
     * (the leaves no longer give the stored root) before any proof is checked */
    if (!pg_db[0]) {
        char sql[200];
        snprintf(sql, sizeof sql, "UPDATE ledger_batch_leaves SET amount = '%llu' WHERE batch_id = %lld",
                 (unsigned long long)earned + 1, (long long)round.batch_id);
        exec_sql(sql);
        assert_int_equal(zt_chain_batch_proof(c, round.batch_id, norm, &info, &leaf, proof, &np, lh), ZT_EIO);
    }
    zt_chain_free(c);
    char payouts[400];
    snprintf(payouts, sizeof payouts, "%s/payouts", dir);
    rmdir(payouts);
}

int main(void)
{
    if (zt_test_sqlite_route_alloc() != 0) {
        printf("cannot route SQLite's allocator\n");
        return 1;
    }
    zt_log_set_level(ZT_LOG_OFF);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_u128),    T(test_post),    T(test_jobs),           T(test_property), T(test_threads),
        T(test_merkle),  T(test_batches), T(test_alloc_failures), T(test_crash),
        T(test_eip712),  T(test_payout_key), T(test_batch_states), T(test_job_path), T(test_crash_loop),
        T(test_reading), T(test_chain_export), T(test_chain_worker), T(test_chain_wallet_deposit), T(test_queue),
    };
    int failures = cmocka_run_group_tests_name("ledger_sqlite", tests, NULL, NULL);
    /* the same books on a real PostgreSQL (issue 12 item 7) */
#define P(f) cmocka_unit_test_setup_teardown(f, setup_pg, teardown)
    const struct CMUnitTest pg_tests[] = {
        P(test_post), P(test_jobs), P(test_property), P(test_threads), P(test_batches), P(test_batch_states),
        P(test_job_path), P(test_reading), P(test_queue),
    };
    failures += zt_test_pg_run("ledger_postgres", pg_tests);
    return zt_test_exit(failures);
}
