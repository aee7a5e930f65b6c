/* ledger.c: the double-entry books in the store (zt_ledger.h; owner
 * "ledger", docs/internals/ledger.md). Amounts and balances are decimal
 * TEXT (signed only for the treasury); sums are done in C with checked
 * u128 arithmetic. Every movement is one zt_store_tx. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ledger_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_log.h"

/* The ledger version's triggers on table t (schema step 3). */
#define LV_SQLITE(t)                                                                                            \
    "CREATE TRIGGER ledger_version_" t "_i AFTER INSERT ON " t " BEGIN UPDATE ledger_version SET v = v + 1; END;" \
    "CREATE TRIGGER ledger_version_" t "_u AFTER UPDATE ON " t " BEGIN UPDATE ledger_version SET v = v + 1; END;" \
    "CREATE TRIGGER ledger_version_" t "_d AFTER DELETE ON " t " BEGIN UPDATE ledger_version SET v = v + 1; END;"
#define LV_PG(t)                                                                                                \
    "CREATE TRIGGER ledger_version_" t "_id AFTER INSERT OR DELETE ON " t " FOR EACH ROW"                         \
    " EXECUTE FUNCTION ledger_version_bump();"                                                                  \
    "CREATE TRIGGER ledger_version_" t "_u AFTER UPDATE ON " t " FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)" \
    " EXECUTE FUNCTION ledger_version_bump();"
/* PostgreSQL: a TRUNCATE bumps it once per table (schema step 4) */
#define LV_PG_TRUNCATE(t)                                                                                       \
    "CREATE TRIGGER ledger_version_" t "_t AFTER TRUNCATE ON " t " FOR EACH STATEMENT"                            \
    " EXECUTE FUNCTION ledger_version_bump();"
/* every table of the ledger */
#define LEDGER_VERSION_TRIGGERS(X)                                                                              \
    X("ledger_accounts") X("ledger_txs") X("ledger_entries") X("ledger_totals") X("ledger_escrows")            \
        X("ledger_earnings") X("ledger_batches") X("ledger_batch_items") X("ledger_batch_leaves")

static const struct zt_store_step LEDGER_STEPS[] = {
    /* 1: accounts, transactions, entries, totals, escrows, earnings, batches */
    {.sql = "CREATE TABLE ledger_accounts(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, owner TEXT NOT NULL,"
            " payout TEXT, balance TEXT NOT NULL, UNIQUE(kind, owner));"
            "CREATE TABLE ledger_txs(id INTEGER PRIMARY KEY, idem_key TEXT NOT NULL UNIQUE, body BLOB NOT NULL,"
            " mint INTEGER NOT NULL, memo TEXT NOT NULL);"
            "CREATE TABLE ledger_entries(id INTEGER PRIMARY KEY, tx_id INTEGER NOT NULL REFERENCES ledger_txs(id),"
            " account_id INTEGER NOT NULL REFERENCES ledger_accounts(id), credit INTEGER NOT NULL,"
            " amount TEXT NOT NULL, balance_after TEXT NOT NULL);"
            "CREATE INDEX ledger_entries_acct ON ledger_entries(account_id, id);"
            "CREATE INDEX ledger_entries_tx ON ledger_entries(tx_id, id);"
            "CREATE TABLE ledger_totals(k TEXT PRIMARY KEY, v TEXT NOT NULL);"
            "INSERT INTO ledger_totals(k, v) VALUES('minted', '0');"
            "CREATE TABLE ledger_escrows(job_id TEXT PRIMARY KEY, user_id INTEGER NOT NULL, amount TEXT NOT NULL,"
            " state INTEGER NOT NULL);"
            "CREATE TABLE ledger_earnings(id INTEGER PRIMARY KEY, provider_id INTEGER NOT NULL,"
            " job_id TEXT NOT NULL UNIQUE, amount TEXT NOT NULL, ts INTEGER NOT NULL);"
            "CREATE INDEX ledger_earnings_ts ON ledger_earnings(ts);"
            "CREATE TABLE ledger_batches(id INTEGER PRIMARY KEY, root BLOB NOT NULL, n_leaves INTEGER NOT NULL,"
            " total TEXT NOT NULL, state INTEGER NOT NULL, created INTEGER NOT NULL);"
            "CREATE TABLE ledger_batch_items(earning_id INTEGER PRIMARY KEY REFERENCES ledger_earnings(id),"
            " batch_id INTEGER NOT NULL REFERENCES ledger_batches(id));"
            "CREATE TABLE ledger_batch_leaves(batch_id INTEGER NOT NULL REFERENCES ledger_batches(id),"
            " idx INTEGER NOT NULL, address TEXT NOT NULL, amount TEXT NOT NULL, PRIMARY KEY(batch_id, idx));",
     .sql_pg = "CREATE TABLE ledger_accounts(id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
               " kind BIGINT NOT NULL, owner TEXT NOT NULL, payout TEXT, balance NUMERIC(40,0) NOT NULL,"
               " UNIQUE(kind, owner));"
               "CREATE TABLE ledger_txs(id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
               " idem_key TEXT NOT NULL UNIQUE, body BYTEA NOT NULL, mint BIGINT NOT NULL, memo TEXT NOT NULL);"
               "CREATE TABLE ledger_entries(id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
               " tx_id BIGINT NOT NULL REFERENCES ledger_txs(id),"
               " account_id BIGINT NOT NULL REFERENCES ledger_accounts(id), credit BIGINT NOT NULL,"
               " amount NUMERIC(39,0) NOT NULL, balance_after NUMERIC(40,0) NOT NULL);"
               "CREATE INDEX ledger_entries_acct ON ledger_entries(account_id, id);"
               "CREATE INDEX ledger_entries_tx ON ledger_entries(tx_id, id);"
               "CREATE TABLE ledger_totals(k TEXT PRIMARY KEY, v NUMERIC(39,0) NOT NULL);"
               "INSERT INTO ledger_totals(k, v) VALUES('minted', 0);"
               "CREATE TABLE ledger_escrows(job_id TEXT PRIMARY KEY, user_id BIGINT NOT NULL,"
               " amount NUMERIC(39,0) NOT NULL, state BIGINT NOT NULL);"
               "CREATE TABLE ledger_earnings(id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
               " provider_id BIGINT NOT NULL, job_id TEXT NOT NULL UNIQUE, amount NUMERIC(39,0) NOT NULL,"
               " ts BIGINT NOT NULL);"
               "CREATE INDEX ledger_earnings_ts ON ledger_earnings(ts);"
               "CREATE TABLE ledger_batches(id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, root BYTEA NOT NULL,"
               " n_leaves BIGINT NOT NULL, total NUMERIC(39,0) NOT NULL, state BIGINT NOT NULL,"
               " created BIGINT NOT NULL);"
               "CREATE TABLE ledger_batch_items(earning_id BIGINT PRIMARY KEY REFERENCES ledger_earnings(id),"
               " batch_id BIGINT NOT NULL REFERENCES ledger_batches(id));"
               "CREATE TABLE ledger_batch_leaves(batch_id BIGINT NOT NULL REFERENCES ledger_batches(id),"
               " idx BIGINT NOT NULL, address TEXT NOT NULL, amount NUMERIC(39,0) NOT NULL,"
               " PRIMARY KEY(batch_id, idx));"},
    /* 2: batch states past pending: the EIP-712 signature of the root and
     * the reference of its submission (the export file, a hook's answer) */
    {.sql = "ALTER TABLE ledger_batches ADD COLUMN sig BLOB;"
            "ALTER TABLE ledger_batches ADD COLUMN tx_ref TEXT;",
     .sql_pg = "ALTER TABLE ledger_batches ADD COLUMN sig BYTEA;"
               "ALTER TABLE ledger_batches ADD COLUMN tx_ref TEXT;"},
    /* 3: the ledger version (docs/internals/ledger.md "The ledger
     * version"): one row whose v every row inserted, changed or deleted
     * in a ledger table bumps, by triggers in the writer's transaction,
     * whichever code (or person) writes; restored: the version a rebuild
     * from the mesh restored (NULL: never restored). Database sync writes
     * it into each segment and compares it at a rebuild (src/mesh/dbsync.c).
     * PostgreSQL counts only updates that change the row; SQLite (a store
     * of one node's own) counts every update. A table added to the ledger
     * gets its triggers in a new step. */
    {.sql = "CREATE TABLE ledger_version(id INTEGER PRIMARY KEY CHECK(id = 1), v INTEGER NOT NULL, restored INTEGER);"
            "INSERT INTO ledger_version(id, v, restored) VALUES(1, 0, NULL);" LEDGER_VERSION_TRIGGERS(LV_SQLITE),
     .sql_pg = "CREATE TABLE ledger_version(id BIGINT PRIMARY KEY CHECK(id = 1), v BIGINT NOT NULL, restored BIGINT);"
               "INSERT INTO ledger_version(id, v, restored) VALUES(1, 0, NULL);"
               "CREATE FUNCTION ledger_version_bump() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN"
               " UPDATE ledger_version SET v = v + 1; RETURN NULL; END $f$;" LEDGER_VERSION_TRIGGERS(LV_PG)},
    /* 4: PostgreSQL: a TRUNCATE of a ledger table (no row trigger fires)
     * bumps the version too, once per table, by a statement-level
     * trigger; database sync logs it as well and sends a tombstone for
     * each published row it removed (src/mesh/dbsync.c). SQLite has no
     * TRUNCATE: a DELETE without WHERE on a table with triggers deletes
     * row by row, each bumping. */
    {.sql = "", .sql_pg = LEDGER_VERSION_TRIGGERS(LV_PG_TRUNCATE)},
};
static const struct zt_store_schema LEDGER_SCHEMA = ZT_STORE_SCHEMA("ledger", LEDGER_STEPS);

static const char SQL_ACCT_INS[] = "INSERT INTO ledger_accounts(kind, owner, payout, balance) VALUES(?, ?, ?, '0')"
                                   " ON CONFLICT(kind, owner) DO NOTHING";
static const char SQL_ACCT_GET[] = "SELECT id, payout FROM ledger_accounts WHERE kind = ? AND owner = ?";
static const char SQL_ACCT_PAYOUT[] = "UPDATE ledger_accounts SET payout = ? WHERE id = ?";
static const char SQL_BAL_GET[] = "SELECT kind, balance FROM ledger_accounts WHERE id = ?";
static const char SQL_BAL_SET[] = "UPDATE ledger_accounts SET balance = ? WHERE id = ?";
static const char SQL_TX_GET[] = "SELECT id, body FROM ledger_txs WHERE idem_key = ?";
static const char SQL_TX_INS[] = "INSERT INTO ledger_txs(idem_key, body, mint, memo) VALUES(?, ?, ?, ?) RETURNING id";
static const char SQL_ENT_INS[] = "INSERT INTO ledger_entries(tx_id, account_id, credit, amount, balance_after)"
                                  " VALUES(?, ?, ?, ?, ?)";
static const char SQL_TOT_GET[] = "SELECT v FROM ledger_totals WHERE k = 'minted'";
static const char SQL_TOT_SET[] = "UPDATE ledger_totals SET v = ? WHERE k = 'minted'";
static const char SQL_ESC_GET[] = "SELECT user_id, amount, state FROM ledger_escrows WHERE job_id = ?";
static const char SQL_ESC_INS[] = "INSERT INTO ledger_escrows(job_id, user_id, amount, state) VALUES(?, ?, ?, 1)";
static const char SQL_ESC_SET[] = "UPDATE ledger_escrows SET state = ? WHERE job_id = ?";
static const char SQL_EARN_INS[] = "INSERT INTO ledger_earnings(provider_id, job_id, amount, ts) VALUES(?, ?, ?, ?)";
/* PostgreSQL only: a transaction's rows as array parameters (one round trip
 * per table; "set-based writes" below) */
static const char SQL_BAL_MANY_PG[] = "SELECT a.id, a.kind, a.balance FROM unnest(?::bigint[]) AS v(id)"
                                      " JOIN ledger_accounts AS a ON a.id = v.id";
static const char SQL_BAL_SET_MANY_PG[] = "UPDATE ledger_accounts AS a SET balance = v.b"
                                          " FROM unnest(?::bigint[], ?::numeric[]) AS v(id, b) WHERE a.id = v.id";
static const char SQL_ENT_INS_MANY_PG[] =
    "INSERT INTO ledger_entries(tx_id, account_id, credit, amount, balance_after)"
    " SELECT ?::bigint, v.a, v.c, v.m, v.b FROM unnest(?::bigint[], ?::bigint[], ?::numeric[], ?::numeric[])"
    " WITH ORDINALITY AS v(a, c, m, b, o) ORDER BY v.o";

bool zt_ledger_kind_may_go_negative(enum zt_ledger_kind k) { return k == ZT_LEDGER_TREASURY; }

const char *zt_ledger_kind_name(enum zt_ledger_kind k)
{
    switch (k) {
    case ZT_LEDGER_USER: return "user";
    case ZT_LEDGER_PROVIDER: return "provider";
    case ZT_LEDGER_STAKE: return "stake";
    case ZT_LEDGER_FEE: return "fee";
    case ZT_LEDGER_TREASURY: return "treasury";
    case ZT_LEDGER_ESCROW: return "escrow";
    case ZT_LEDGER_PAYOUT: return "payouts";
    }
    return "?";
}

int zt_ledger_parse_address(const char *s, uint8_t out[static 20])
{
    if (!s || strlen(s) != 42 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) return ZT_EINVAL;
    for (int i = 0; i < 20; i++) {
        int hi = zt_hex_digit(s[2 + 2 * i]), lo = zt_hex_digit(s[3 + 2 * i]);
        if (hi < 0 || lo < 0) return ZT_EINVAL;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}

/* canonical text of an address: 0x + lower-case hex */
int zt__ledger_norm_address(const char *s, char out[static 43])
{
    uint8_t a[20];
    if (zt_ledger_parse_address(s, a)) return ZT_EINVAL;
    out[0] = '0';
    out[1] = 'x';
    zt_hex_encode(out + 2, a, 20); /* lower case, NUL-terminated */
    return 0;
}

bool zt__ledger_printable_id(const char *s, size_t max)
{
    if (!s) return false;
    size_t n = strlen(s);
    if (n == 0 || n > max) return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7e) return false;
    return true;
}

int zt__ledger_bal_parse(const char *s, size_t n, struct zt_ledger_bal *out)
{
    bool neg = n > 0 && s[0] == '-';
    zt_u128 v;
    int rc = zt_u128_parse(s + neg, n - neg, &v);
    if (rc) return ZT_EIO; /* the books hold only what this code wrote */
    if (neg && v == 0) return ZT_EIO;
    out->mag = v;
    out->neg = neg;
    return 0;
}

void zt__ledger_bal_format(const struct zt_ledger_bal *b, char out[static ZT_U128_STR_LEN])
{
    size_t o = 0;
    if (b->neg && b->mag) out[o++] = '-';
    zt_u128_format(b->mag, out + o);
}

/* b += (credit ? +v : -v), signed; ZT_ERANGE when it leaves 128 bits */
int zt__ledger_bal_apply(struct zt_ledger_bal *b, zt_u128 v, bool credit)
{
    bool add = credit != b->neg; /* same sign as the balance: magnitudes add */
    if (add) return zt_u128_add(b->mag, v, &b->mag);
    if (b->mag >= v) {
        b->mag -= v;
    } else {
        b->mag = v - b->mag;
        b->neg = !b->neg;
    }
    if (b->mag == 0) b->neg = false;
    return 0;
}

/* ---- handle ------------------------------------------------------------------ */

/* The statements a ledger keeps prepared (zt_store_prepare_all); the last
 * three: PostgreSQL only. */
static const struct zt_store_stmt_def STMTS[] = {
    {offsetof(struct zt_ledger, q_acct_ins), SQL_ACCT_INS}, {offsetof(struct zt_ledger, q_acct_get), SQL_ACCT_GET},
    {offsetof(struct zt_ledger, q_acct_payout), SQL_ACCT_PAYOUT},
    {offsetof(struct zt_ledger, q_bal_get), SQL_BAL_GET},   {offsetof(struct zt_ledger, q_bal_set), SQL_BAL_SET},
    {offsetof(struct zt_ledger, q_tx_get), SQL_TX_GET},     {offsetof(struct zt_ledger, q_tx_ins), SQL_TX_INS},
    {offsetof(struct zt_ledger, q_ent_ins), SQL_ENT_INS},   {offsetof(struct zt_ledger, q_tot_get), SQL_TOT_GET},
    {offsetof(struct zt_ledger, q_tot_set), SQL_TOT_SET},   {offsetof(struct zt_ledger, q_esc_get), SQL_ESC_GET},
    {offsetof(struct zt_ledger, q_esc_ins), SQL_ESC_INS},   {offsetof(struct zt_ledger, q_esc_set), SQL_ESC_SET},
    {offsetof(struct zt_ledger, q_earn_ins), SQL_EARN_INS},
    {offsetof(struct zt_ledger, q_bal_many), SQL_BAL_MANY_PG},
    {offsetof(struct zt_ledger, q_bal_set_many), SQL_BAL_SET_MANY_PG},
    {offsetof(struct zt_ledger, q_ent_ins_many), SQL_ENT_INS_MANY_PG},
};
#define N_STMTS (sizeof STMTS / sizeof STMTS[0])

int zt_ledger_new(struct zt_store *st, struct zt_ledger **out)
{
    if (!st || !out) return ZT_EINVAL;
    int rc = zt_store_migrate(st, &LEDGER_SCHEMA);
    if (rc) return rc;
    struct zt_ledger *l = zt_calloc(1, sizeof *l);
    if (!l) return ZT_ENOMEM;
    l->st = st;
    size_t n_q = N_STMTS - (zt_store_dialect(st) == ZT_STORE_DIALECT_POSTGRES ? 0 : 3);
    if ((rc = zt_store_prepare_all(st, l, STMTS, n_q)) != 0) {
        zt_ledger_free(l);
        return rc;
    }
    l->seeding = true; /* the system accounts, also in a ledger awaiting its rebuild */
    if ((rc = zt_ledger_system_account(l, ZT_LEDGER_FEE, &l->fee_id)) ||
        (rc = zt_ledger_system_account(l, ZT_LEDGER_TREASURY, &l->treasury_id)) ||
        (rc = zt_ledger_system_account(l, ZT_LEDGER_ESCROW, &l->escrow_id)) ||
        (rc = zt_ledger_system_account(l, ZT_LEDGER_PAYOUT, &l->payout_id))) {
        zt_ledger_free(l);
        return rc;
    }
    l->seeding = false;
    *out = l;
    return 0;
}

void zt_ledger_free(struct zt_ledger *l)
{
    if (!l) return;
    zt_store_stmt_free_all(l, STMTS, N_STMTS);
    zt_free(l);
}

/* ---- writers queue (review9 F4) ------------------------------------------------ */

/* Every ledger write bumps the one ledger_version row (schema step 3), so
 * on a PostgreSQL shared by several orchestrators two overlapping ledger
 * transactions always touch one row in common. Under SERIALIZABLE the
 * second to update it aborts (40001), or the two deadlock (40P01) when
 * they had touched other rows in the other order, and zt_store_tx gives
 * up after its tries: ZT_EBUSY. So a writer first takes a lock that only
 * writers take: LOCK TABLE in SHARE ROW EXCLUSIVE mode conflicts with
 * itself and with the triggers' ROW EXCLUSIVE, never with plain reads
 * (ACCESS SHARE), and LOCK TABLE takes no snapshot: run before any
 * other statement, the transaction's snapshot is taken after the lock is
 * granted, so it sees the writer before it and its own writes conflict
 * with nothing. A row lock (SELECT ... FOR UPDATE) would not do: that
 * statement takes the snapshot before waiting, and the row it then
 * updates was changed since (40001 again). SQLite's BEGIN IMMEDIATE
 * already queues writers: nothing to do there. Held to commit; sent with
 * the BEGIN in one round trip (zt_store_tx_first). */
static int write_tx(struct zt_ledger *l, zt_store_tx_fn fn, void *ud)
{
    return zt_store_tx_first(l->st,
                             zt_store_dialect(l->st) == ZT_STORE_DIALECT_POSTGRES
                                 ? "LOCK TABLE ledger_version IN SHARE ROW EXCLUSIVE MODE"
                                 : NULL,
                             fn, ud);
}

/* A ledger awaiting its rebuild (review10 F1): zt_ledger_clear (`zentalk
 * ledger prefer chain --yes`) emptied it and set ledger_version.restored
 * to ZT__LEDGER_AWAITING (-1) in the same transaction. A real version is
 * never negative and NULL means never restored, so -1 is that mark and
 * nothing else. Until a rebuild from the mesh replays the chain's ledger
 * (src/mesh/dbsync.c replay_tx sets restored to the chain's version,
 * which clears it), every ledger writer refuses with ZT_EBUSY: another
 * orchestrator on the same PostgreSQL must not settle into the emptied
 * ledger (its rows would make the rebuild keep it; its gateway retries),
 * and database sync publishes none of the ledger tables meanwhile. Read
 * under the writers' lock, in the writer's own transaction. */
struct gated {
    zt_store_tx_fn fn;
    void *ud;
};

static int gated_body(struct zt_store *st, void *ud)
{
    struct gated *g = ud;
    struct zt_store_stmt *q = NULL;
    int64_t restored = 0;
    int rc = zt_store_prepare(st, "SELECT restored FROM ledger_version WHERE id = 1", &q);
    if (!rc) rc = zt__ledger_row(q);
    if (!rc) {
        rc = zt_store_column_i64(q, 0, &restored);
        if (rc == ZT_ENOTFOUND) rc = 0, restored = 0; /* NULL: never restored */
    }
    zt_store_stmt_free(q);
    if (rc) return rc;
    if (restored == ZT__LEDGER_AWAITING) {
        zt_log_rl(ZT_LOG_WARN, 1, "ledger_awaiting_rebuild",
                  "detail=\"the ledger was emptied for a rebuild from the mesh (zentalk ledger prefer chain) and "
                  "takes no write until that rebuild (zentalk-node --rebuild-from-mesh) restores it: refused, "
                  "retry later\"");
        return ZT_EBUSY;
    }
    return g->fn(st, g->ud);
}

int zt__ledger_write_tx(struct zt_ledger *l, zt_store_tx_fn fn, void *ud)
{
    if (l->seeding) return write_tx(l, fn, ud);
    struct gated g = {.fn = fn, .ud = ud};
    return write_tx(l, gated_body, &g);
}

/* ---- the ways out of a refused rebuild (zt_ledger.h) ------------------------- */

struct prefer_args {
    int64_t chain, v;
};

static int prefer_body(struct zt_store *st, void *ud)
{
    struct prefer_args *a = ud;
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(st,
                              "UPDATE ledger_version SET v = CASE WHEN v > ? THEN v ELSE ? END + 1, restored = NULL"
                              " WHERE id = 1",
                              &q);
    if (!rc) rc = zt_store_bind_i64(q, 1, a->chain);
    if (!rc) rc = zt_store_bind_i64(q, 2, a->chain);
    if (!rc) rc = zt__ledger_run(q);
    zt_store_stmt_free(q);
    q = NULL;
    if (!rc) rc = zt_store_prepare(st, "SELECT v FROM ledger_version WHERE id = 1", &q);
    if (!rc) rc = zt__ledger_row(q);
    if (!rc) rc = zt_store_column_i64(q, 0, &a->v);
    zt_store_stmt_free(q);
    return rc;
}

int zt_ledger_prefer_database(struct zt_ledger *l, int64_t chain_version, int64_t *v)
{
    if (!l || !v || chain_version < 0 || chain_version == INT64_MAX) return ZT_EINVAL;
    struct prefer_args a = {.chain = chain_version};
    int rc = write_tx(l, prefer_body, &a); /* clears the awaiting mark too (zt_ledger.h) */
    if (!rc) *v = a.v;
    return rc;
}

static int clear_body(struct zt_store *st, void *ud)
{
    (void)ud;
    /* children before the rows they reference; then the awaiting mark
     * (zt__ledger_write_tx): the deletes' change-log entries are never
     * published, and no writer fills the ledger before the rebuild */
    return zt_store_exec(st, "DELETE FROM ledger_batch_leaves; DELETE FROM ledger_batch_items;"
                             " DELETE FROM ledger_batches; DELETE FROM ledger_earnings; DELETE FROM ledger_escrows;"
                             " DELETE FROM ledger_entries; DELETE FROM ledger_txs; DELETE FROM ledger_accounts;"
                             " UPDATE ledger_totals SET v = '0' WHERE k = 'minted';"
                             " UPDATE ledger_version SET restored = -1 WHERE id = 1");
}

int zt_ledger_clear(struct zt_ledger *l)
{
    if (!l) return ZT_EINVAL;
    return write_tx(l, clear_body, NULL); /* a second clear while awaiting: the same */
}

/* run a statement with no rows to completion */
int zt__ledger_run(struct zt_store_stmt *q)
{
    int rc = zt_store_step(q);
    if (rc == ZT_STORE_ROW) rc = ZT_EIO;
    zt_store_reset(q);
    return rc;
}

int zt__ledger_row(struct zt_store_stmt *q)
{
    int rc = zt_store_step(q);
    return rc == ZT_STORE_ROW ? 0 : rc == ZT_STORE_DONE ? ZT_ENOTFOUND : rc;
}

/* ---- accounts ---------------------------------------------------------------- */

struct acct_args {
    struct zt_ledger *l;
    enum zt_ledger_kind kind;
    const char *owner, *payout;
    int64_t id;
};

static int acct_body(struct zt_store *st, void *ud)
{
    (void)st;
    struct acct_args *a = ud;
    struct zt_ledger *l = a->l;
    int rc;
    if ((rc = zt_store_bind_i64(l->q_acct_ins, 1, a->kind)) || (rc = zt_store_bind_text(l->q_acct_ins, 2, a->owner, SIZE_MAX)) ||
        (rc = zt_store_bind_text(l->q_acct_ins, 3, a->payout, SIZE_MAX)) || (rc = zt__ledger_run(l->q_acct_ins)))
        return rc;
    struct zt_store_stmt *q = l->q_acct_get;
    if ((rc = zt_store_bind_i64(q, 1, a->kind)) || (rc = zt_store_bind_text(q, 2, a->owner, SIZE_MAX))) goto out;
    if ((rc = zt_store_step(q)) != ZT_STORE_ROW) {
        rc = rc == ZT_STORE_DONE ? ZT_EIO : rc;
        goto out;
    }
    if ((rc = zt_store_column_i64(q, 0, &a->id))) goto out;
    const char *cur = NULL;
    size_t n = 0;
    int prc = zt_store_column_text(q, 1, &cur, &n);
    bool differs = a->payout && (prc != 0 || strcmp(cur, a->payout) != 0);
    zt_store_reset(q);
    if (differs) {
        if ((rc = zt_store_bind_text(l->q_acct_payout, 1, a->payout, SIZE_MAX)) ||
            (rc = zt_store_bind_i64(l->q_acct_payout, 2, a->id)) || (rc = zt__ledger_run(l->q_acct_payout)))
            return rc;
    }
    return 0;
out:
    zt_store_reset(q);
    return rc;
}

int zt_ledger_account(struct zt_ledger *l, enum zt_ledger_kind kind, const char *owner, const char *payout,
                      int64_t *id)
{
    if (!l || !id || kind < ZT_LEDGER_USER || kind > ZT_LEDGER_PAYOUT) return ZT_EINVAL;
    char own[43], pay[43];
    if (kind == ZT_LEDGER_USER) {
        if (zt__ledger_norm_address(owner, own)) return ZT_EINVAL;
        owner = own;
    } else if (!zt__ledger_printable_id(owner, ZT_LEDGER_KEY_MAX)) {
        return ZT_EINVAL;
    }
    if (payout) {
        if (kind != ZT_LEDGER_PROVIDER || zt__ledger_norm_address(payout, pay)) return ZT_EINVAL;
        payout = pay;
    }
    struct acct_args a = {.l = l, .kind = kind, .owner = owner, .payout = payout};
    int rc = zt__ledger_write_tx(l, acct_body, &a);
    if (!rc) *id = a.id;
    return rc;
}

int zt_ledger_system_account(struct zt_ledger *l, enum zt_ledger_kind kind, int64_t *id)
{
    switch (kind) {
    case ZT_LEDGER_FEE:
    case ZT_LEDGER_TREASURY:
    case ZT_LEDGER_ESCROW:
    case ZT_LEDGER_PAYOUT: return zt_ledger_account(l, kind, zt_ledger_kind_name(kind), NULL, id);
    default: return ZT_EINVAL;
    }
}

/* the kind and balance of account id; ZT_ENOTFOUND */
int zt__ledger_get_bal(struct zt_ledger *l, int64_t id, int *kind, struct zt_ledger_bal *b)
{
    struct zt_store_stmt *q = l->q_bal_get;
    int rc = zt_store_bind_i64(q, 1, id);
    if (!rc) rc = zt__ledger_row(q);
    if (rc) goto out;
    int64_t k;
    const char *s;
    size_t n;
    if ((rc = zt_store_column_i64(q, 0, &k)) || (rc = zt_store_column_text(q, 1, &s, &n)) ||
        (rc = zt__ledger_bal_parse(s, n, b)))
        goto out;
    if (kind) *kind = (int)k;
out:
    zt_store_reset(q);
    return rc;
}

/* An account's balance in one transaction: of account id, or (owner set)
 * of the account of kind and owner, looked up first (id then set). */
struct bal_args {
    struct zt_ledger *l;
    enum zt_ledger_kind kind;
    const char *owner; /* NULL: id is given */
    int64_t id;
    struct zt_ledger_bal b;
};

static int bal_body(struct zt_store *st, void *ud)
{
    (void)st;
    struct bal_args *a = ud;
    int rc = 0;
    if (a->owner) {
        struct zt_store_stmt *q = a->l->q_acct_get;
        rc = zt_store_bind_i64(q, 1, a->kind);
        if (!rc) rc = zt_store_bind_text(q, 2, a->owner, SIZE_MAX);
        if (!rc) rc = zt__ledger_row(q);
        if (!rc) rc = zt_store_column_i64(q, 0, &a->id);
        zt_store_reset(q);
    }
    if (!rc) rc = zt__ledger_get_bal(a->l, a->id, NULL, &a->b);
    return rc;
}

int zt_ledger_balance(struct zt_ledger *l, int64_t account, struct zt_ledger_bal *out)
{
    if (!l || !out) return ZT_EINVAL;
    struct bal_args a = {.l = l, .id = account};
    int rc = zt_store_tx(l->st, bal_body, &a);
    if (!rc) *out = a.b;
    return rc;
}

int zt_ledger_find(struct zt_ledger *l, enum zt_ledger_kind kind, const char *owner, int64_t *id,
                   struct zt_ledger_bal *out)
{
    if (!l || !owner || !id || !out) return ZT_EINVAL;
    struct bal_args a = {.l = l, .kind = kind, .owner = owner};
    int rc = zt_store_tx(l->st, bal_body, &a);
    if (!rc) {
        *id = a.id;
        *out = a.b;
    }
    return rc;
}

int zt__ledger_find_balance(struct zt_ledger *l, enum zt_ledger_kind kind, const char *owner,
                            struct zt_ledger_bal *out)
{
    int64_t id;
    return zt_ledger_find(l, kind, owner, &id, out);
}

int zt__ledger_get_minted(struct zt_ledger *l, zt_u128 *out)
{
    struct zt_store_stmt *q = l->q_tot_get;
    int rc = zt_store_step(q);
    if (rc != ZT_STORE_ROW) {
        rc = rc == ZT_STORE_DONE ? ZT_EIO : rc;
        goto out;
    }
    const char *s;
    size_t n;
    if ((rc = zt_store_column_text(q, 0, &s, &n))) goto out;
    if (zt_u128_parse(s, n, out)) rc = ZT_EIO;
out:
    zt_store_reset(q);
    return rc;
}

struct minted_args {
    struct zt_ledger *l;
    zt_u128 v;
};

static int minted_body(struct zt_store *st, void *ud)
{
    (void)st;
    struct minted_args *a = ud;
    return zt__ledger_get_minted(a->l, &a->v);
}

int zt_ledger_minted(struct zt_ledger *l, zt_u128 *out)
{
    if (!l || !out) return ZT_EINVAL;
    struct minted_args a = {.l = l};
    int rc = zt_store_tx(l->st, minted_body, &a);
    if (!rc) *out = a.v;
    return rc;
}

/* ---- posting --------------------------------------------------------------- */

/* The body's digest: what a repeated key must match. */
static void body_hash(const char *memo, bool mint, const struct zt_ledger_entry *e, size_t n, uint8_t out[32])
{
    /* canonical text, hashed piecewise through a small buffer */
    char line[128];
    uint8_t acc[32] = {0};
    int k = snprintf(line, sizeof line, "zt-ledger-v1|%d|", mint ? 1 : 0);
    const void *parts[3] = {line, memo, NULL};
    size_t lens[3] = {(size_t)k, strlen(memo), 0};
    zt_keccak256v(acc, parts, lens, 2);
    for (size_t i = 0; i < n; i++) {
        char amt[ZT_U128_STR_LEN];
        zt_u128_format(e[i].amount, amt);
        k = snprintf(line, sizeof line, "|%lld|%c|%s", (long long)e[i].account, e[i].credit ? 'c' : 'd', amt);
        const void *p2[2] = {acc, line};
        size_t l2[2] = {sizeof acc, (size_t)k};
        uint8_t next[32];
        zt_keccak256v(next, p2, l2, 2);
        memcpy(acc, next, sizeof acc);
    }
    memcpy(out, acc, 32);
}

/* ---- set-based writes ------------------------------------------------------------
 * On PostgreSQL every statement is a round trip, so a transaction's rows
 * travel as array parameters of one statement per table (unnest); SQLite
 * runs in-process and keeps its one-row prepared statements. */

int zt__ledger_arr_add(struct zt_buf *b, const char *tok)
{
    int rc = zt_buf_append_byte(b, b->len == 0 ? '{' : ',');
    return rc ? rc : zt_buf_append_str(b, tok);
}

int zt__ledger_arr_add_i64(struct zt_buf *b, int64_t v)
{
    char t[24];
    snprintf(t, sizeof t, "%lld", (long long)v);
    return zt__ledger_arr_add(b, t);
}

int zt__ledger_arr_bind(struct zt_store_stmt *q, int i, struct zt_buf *b)
{
    int rc = b->len == 0 ? zt_buf_append_str(b, "{}") : zt_buf_append_byte(b, '}');
    return rc ? rc : zt_store_bind_text(q, i, zt_buf_str(b), b->len);
}

/* one account a transaction touches */
struct slot {
    int64_t id;
    int kind;
    bool loaded;
    struct zt_ledger_bal b;
};

static int slot_cmp(const void *x, const void *y)
{
    int64_t a = ((const struct slot *)x)->id, b = ((const struct slot *)y)->id;
    return (a > b) - (a < b);
}

static struct slot *slot_find(struct slot *s, size_t n, int64_t id)
{
    struct slot k = {.id = id};
    return bsearch(&k, s, n, sizeof *s, slot_cmp);
}

/* the balances of the accounts s[] (sorted by id, distinct); an unknown
 * account is ZT_EINVAL */
static int load_slots(struct zt_ledger *l, struct slot *s, size_t n)
{
    int rc = 0;
    if (!l->q_bal_many) {
        for (size_t i = 0; i < n && !rc; i++) rc = zt__ledger_get_bal(l, s[i].id, &s[i].kind, &s[i].b);
        return rc == ZT_ENOTFOUND ? ZT_EINVAL : rc;
    }
    struct zt_store_stmt *q = l->q_bal_many;
    struct zt_buf ids;
    zt_buf_init(&ids, ZT_LEDGER_ARR_MAX);
    for (size_t i = 0; i < n && !rc; i++) rc = zt__ledger_arr_add_i64(&ids, s[i].id);
    if (rc || (rc = zt__ledger_arr_bind(q, 1, &ids))) goto out;
    size_t seen = 0;
    while ((rc = zt_store_step(q)) == ZT_STORE_ROW) {
        int64_t id, k;
        const char *t;
        size_t tn;
        if ((rc = zt_store_column_i64(q, 0, &id)) || (rc = zt_store_column_i64(q, 1, &k)) ||
            (rc = zt_store_column_text(q, 2, &t, &tn)))
            goto out;
        struct slot *sl = slot_find(s, n, id);
        if (!sl || sl->loaded) {
            rc = ZT_EIO;
            goto out;
        }
        if ((rc = zt__ledger_bal_parse(t, tn, &sl->b))) goto out;
        sl->kind = (int)k;
        sl->loaded = true;
        seen++;
    }
    if (rc == ZT_STORE_DONE) rc = seen == n ? 0 : ZT_EINVAL;
out:
    zt_store_reset(q);
    zt_buf_deinit(&ids);
    return rc;
}

/* write the accounts' new balances and the entries (after[i]: entry i's
 * balance_after) */
static int write_rows(struct zt_ledger *l, int64_t tx, const struct zt_ledger_entry *e, size_t n,
                      const struct slot *s, size_t n_s, char (*after)[ZT_U128_STR_LEN])
{
    int rc = 0;
    char bs[ZT_U128_STR_LEN], as[ZT_U128_STR_LEN];
    if (!l->q_bal_set_many) {
        for (size_t i = 0; i < n_s && !rc; i++) {
            zt__ledger_bal_format(&s[i].b, bs);
            if (!(rc = zt_store_bind_text(l->q_bal_set, 1, bs, SIZE_MAX)) &&
                !(rc = zt_store_bind_i64(l->q_bal_set, 2, s[i].id)))
                rc = zt__ledger_run(l->q_bal_set);
        }
        struct zt_store_stmt *qe = l->q_ent_ins;
        for (size_t i = 0; i < n && !rc; i++) {
            zt_u128_format(e[i].amount, as);
            if (!(rc = zt_store_bind_i64(qe, 1, tx)) && !(rc = zt_store_bind_i64(qe, 2, e[i].account)) &&
                !(rc = zt_store_bind_i64(qe, 3, e[i].credit)) && !(rc = zt_store_bind_text(qe, 4, as, SIZE_MAX)) &&
                !(rc = zt_store_bind_text(qe, 5, after[i], SIZE_MAX)))
                rc = zt__ledger_run(qe);
        }
        return rc;
    }
    struct zt_buf a[4];
    for (size_t k = 0; k < 4; k++) zt_buf_init(&a[k], ZT_LEDGER_ARR_MAX);
    for (size_t i = 0; i < n_s && !rc; i++) {
        zt__ledger_bal_format(&s[i].b, bs);
        if (!(rc = zt__ledger_arr_add_i64(&a[0], s[i].id))) rc = zt__ledger_arr_add(&a[1], bs);
    }
    if (rc || (rc = zt__ledger_arr_bind(l->q_bal_set_many, 1, &a[0])) ||
        (rc = zt__ledger_arr_bind(l->q_bal_set_many, 2, &a[1])) || (rc = zt__ledger_run(l->q_bal_set_many)))
        goto out;
    for (size_t k = 0; k < 2; k++) zt_buf_reset(&a[k]);
    for (size_t i = 0; i < n && !rc; i++) {
        zt_u128_format(e[i].amount, as);
        if (!(rc = zt__ledger_arr_add_i64(&a[0], e[i].account)) && !(rc = zt__ledger_arr_add_i64(&a[1], e[i].credit)) &&
            !(rc = zt__ledger_arr_add(&a[2], as)))
            rc = zt__ledger_arr_add(&a[3], after[i]);
    }
    struct zt_store_stmt *q = l->q_ent_ins_many;
    if (rc || (rc = zt_store_bind_i64(q, 1, tx))) goto out;
    for (int k = 0; k < 4 && !rc; k++) rc = zt__ledger_arr_bind(q, 2 + k, &a[k]);
    if (!rc) rc = zt__ledger_run(q);
out:
    zt_store_reset(l->q_bal_set_many);
    zt_store_reset(l->q_ent_ins_many);
    for (size_t k = 0; k < 4; k++) zt_buf_deinit(&a[k]);
    return rc;
}

/* entries e[] of transaction tx: every account's balance read once, the
 * entries applied in order in C (an account may appear more than once),
 * the new balances and the entries written */
static int apply_entries(struct zt_ledger *l, int64_t tx, bool mint, const struct zt_ledger_entry *e, size_t n)
{
    struct slot *s = zt_calloc(n, sizeof *s);
    char (*after)[ZT_U128_STR_LEN] = zt_calloc(n, sizeof *after);
    int rc = ZT_ENOMEM;
    if (!s || !after) goto out;
    for (size_t i = 0; i < n; i++) s[i].id = e[i].account;
    qsort(s, n, sizeof *s, slot_cmp);
    size_t n_s = 0;
    for (size_t i = 0; i < n; i++)
        if (n_s == 0 || s[n_s - 1].id != s[i].id) s[n_s++] = s[i];
    if ((rc = load_slots(l, s, n_s))) goto out;
    zt_u128 added = 0;
    for (size_t i = 0; i < n; i++) {
        struct slot *sl = slot_find(s, n_s, e[i].account);
        if (!sl) { /* every account is in s[] */
            rc = ZT_EIO;
            goto out;
        }
        if ((rc = zt__ledger_bal_apply(&sl->b, e[i].amount, e[i].credit))) goto out;
        if (sl->b.neg && !zt_ledger_kind_may_go_negative((enum zt_ledger_kind)sl->kind)) {
            rc = ZT_ERANGE;
            goto out;
        }
        zt__ledger_bal_format(&sl->b, after[i]);
        if (mint && (rc = zt_u128_add(added, e[i].amount, &added))) goto out;
    }
    if ((rc = write_rows(l, tx, e, n, s, n_s, after))) goto out;
    if (mint) {
        zt_u128 m;
        char ms[ZT_U128_STR_LEN];
        if ((rc = zt__ledger_get_minted(l, &m)) || (rc = zt_u128_add(m, added, &m))) goto out;
        zt_u128_format(m, ms);
        if ((rc = zt_store_bind_text(l->q_tot_set, 1, ms, SIZE_MAX)) || (rc = zt__ledger_run(l->q_tot_set))) goto out;
    }
out:
    zt_free(s);
    zt_free(after);
    return rc;
}

int zt__ledger_post_tx(struct zt_ledger *l, const char *key, const char *memo, bool mint,
                       const struct zt_ledger_entry *e, size_t n, int64_t *tx_id, bool *replayed)
{
    uint8_t h[32];
    body_hash(memo, mint, e, n, h);
    /* the key seen before? */
    struct zt_store_stmt *q = l->q_tx_get;
    int rc = zt_store_bind_text(q, 1, key, SIZE_MAX);
    if (rc) goto out_q;
    rc = zt_store_step(q);
    if (rc == ZT_STORE_ROW) {
        int64_t id;
        const void *b;
        size_t bn;
        if ((rc = zt_store_column_i64(q, 0, &id)) || (rc = zt_store_column_blob(q, 1, &b, &bn))) goto out_q;
        rc = bn == sizeof h && memcmp(b, h, sizeof h) == 0 ? 0 : ZT_EEXIST;
        if (!rc) {
            *tx_id = id;
            *replayed = true;
        }
        goto out_q;
    }
    if (rc != ZT_STORE_DONE) goto out_q;
    zt_store_reset(q);

    /* insert the transaction, then each entry with the balance after it */
    q = l->q_tx_ins;
    int64_t id = 0;
    if ((rc = zt_store_bind_text(q, 1, key, SIZE_MAX)) || (rc = zt_store_bind_blob(q, 2, h, sizeof h)) ||
        (rc = zt_store_bind_i64(q, 3, mint)) || (rc = zt_store_bind_text(q, 4, memo, SIZE_MAX)))
        goto out_q;
    if ((rc = zt_store_step(q)) != ZT_STORE_ROW) {
        rc = rc == ZT_STORE_DONE ? ZT_EIO : rc;
        goto out_q;
    }
    if ((rc = zt_store_column_i64(q, 0, &id))) goto out_q;
    zt_store_reset(q);
    if ((rc = apply_entries(l, id, mint, e, n))) return rc;
    *tx_id = id;
    *replayed = false;
    return 0;
out_q:
    zt_store_reset(q);
    return rc;
}

/* Check a body before any store work. */
int zt__ledger_check_body(const char *key, const char *memo, bool mint, const struct zt_ledger_entry *e, size_t n,
                          size_t max)
{
    if (!zt__ledger_printable_id(key, ZT_LEDGER_KEY_MAX) || !memo || strlen(memo) > 256 || !e || n == 0 || n > max)
        return ZT_EINVAL;
    zt_u128 cr = 0, db = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].amount == 0) return ZT_EINVAL;
        int rc = zt_u128_add(e[i].credit ? cr : db, e[i].amount, e[i].credit ? &cr : &db);
        if (rc) return rc;
    }
    if (mint ? db != 0 : cr != db) return ZT_EINVAL;
    return 0;
}

struct post_args {
    struct zt_ledger *l;
    const char *key, *memo;
    bool mint;
    const struct zt_ledger_entry *e;
    size_t n;
    int64_t tx_id;
    bool replayed;
};

static int post_body(struct zt_store *st, void *ud)
{
    (void)st;
    struct post_args *a = ud;
    return zt__ledger_post_tx(a->l, a->key, a->memo, a->mint, a->e, a->n, &a->tx_id, &a->replayed);
}

static int post(struct zt_ledger *l, const char *key, const char *memo, bool mint, const struct zt_ledger_entry *e,
                size_t n, int64_t *tx_id, bool *replayed)
{
    if (!l) return ZT_EINVAL;
    if (!memo) memo = "";
    int rc = zt__ledger_check_body(key, memo, mint, e, n, ZT_LEDGER_MAX_ENTRIES);
    if (rc) return rc;
    struct post_args a = {.l = l, .key = key, .memo = memo, .mint = mint, .e = e, .n = n};
    rc = zt__ledger_write_tx(l, post_body, &a);
    if (rc) return rc;
    if (tx_id) *tx_id = a.tx_id;
    if (replayed) *replayed = a.replayed;
    return 0;
}

int zt_ledger_post(struct zt_ledger *l, const char *key, const char *memo, const struct zt_ledger_entry *e,
                   size_t n, int64_t *tx_id, bool *replayed)
{
    return post(l, key, memo, false, e, n, tx_id, replayed);
}

int zt_ledger_mint(struct zt_ledger *l, const char *key, int64_t account, zt_u128 amount, int64_t *tx_id,
                   bool *replayed)
{
    struct zt_ledger_entry e = {.account = account, .amount = amount, .credit = true};
    return post(l, key, "mint", true, &e, 1, tx_id, replayed);
}
