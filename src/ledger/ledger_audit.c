/* ledger_audit.c: check the books (zt_ledger.h, zt_ledger_audit): every
 * transaction balanced, every account's history replays to its balance,
 * no negative balance where the kind forbids it, mints add up to the
 * total minted and so do all balances, no earning in two batches. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ledger_int.h"
#include "zentalk/zt_log.h"

struct audit {
    struct zt_ledger *l;
    char *why;
    size_t cap;
};

static int bad(struct audit *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(struct audit *a, const char *fmt, ...)
{
    if (a->why && a->cap) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->why, a->cap, fmt, ap);
        va_end(ap);
    }
    return ZT_ERANGE;
}

static int text_u128(struct zt_store_stmt *q, int col, zt_u128 *v)
{
    const char *s;
    size_t n;
    int rc = zt_store_column_text(q, col, &s, &n);
    if (rc) return rc;
    return zt_u128_parse(s, n, v) ? ZT_EIO : 0;
}

/* A check over the rows of sql grouped by their first column (the query
 * orders them so): read takes a row's columns into st and gives its group,
 * end judges a group once its last row is read, add counts the row read
 * into its group (first: the group's first row). */
typedef int group_read_fn(struct zt_store_stmt *q, void *st, int64_t *group);
typedef int group_end_fn(struct audit *a, int64_t group, void *st);
typedef int group_add_fn(struct audit *a, int64_t group, bool first, void *st);

static int scan_groups(struct audit *a, const char *sql, group_read_fn *read, group_end_fn *end, group_add_fn *add,
                       void *st)
{
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(a->l->st, sql, &q);
    if (rc) return rc;
    int64_t cur = -1;
    while ((rc = zt_store_step(q)) == ZT_STORE_ROW) {
        int64_t g = -1;
        if ((rc = read(q, st, &g)) || (g != cur && cur >= 0 && (rc = end(a, cur, st))) ||
            (rc = add(a, g, g != cur, st)))
            goto out;
        cur = g;
    }
    if (rc == ZT_STORE_DONE) rc = cur >= 0 ? end(a, cur, st) : 0;
out:
    zt_store_stmt_free(q);
    return rc;
}

/* transactions balanced; the sum of mints */
struct txs {
    int64_t row_mint, credit; /* the row read */
    zt_u128 v;
    int64_t mint; /* the transaction's */
    zt_u128 cr, db;
    zt_u128 minted; /* all mints */
};

static int txs_read(struct zt_store_stmt *q, void *st, int64_t *tx)
{
    struct txs *t = st;
    int rc;
    if ((rc = zt_store_column_i64(q, 0, tx)) || (rc = zt_store_column_i64(q, 1, &t->row_mint)) ||
        (rc = zt_store_column_i64(q, 2, &t->credit)) || (rc = text_u128(q, 3, &t->v)))
        return rc;
    return 0;
}

static int txs_end(struct audit *a, int64_t tx, void *st)
{
    struct txs *t = st;
    if (t->mint ? t->db != 0 : t->cr != t->db) return bad(a, "transaction %lld is not balanced", (long long)tx);
    if (t->mint && zt_u128_add(t->minted, t->cr, &t->minted))
        return bad(a, "mints overflow at transaction %lld", (long long)tx);
    t->cr = t->db = 0;
    return 0;
}

static int txs_add(struct audit *a, int64_t tx, bool first, void *st)
{
    (void)first;
    struct txs *t = st;
    t->mint = t->row_mint;
    zt_u128 *side = t->credit ? &t->cr : &t->db;
    if (zt_u128_add(*side, t->v, side)) return bad(a, "transaction %lld overflows", (long long)tx);
    return 0;
}

static int check_txs(struct audit *a, zt_u128 *minted)
{
    static const char sql[] = "SELECT e.tx_id, t.mint, e.credit, e.amount FROM ledger_entries e"
                              " JOIN ledger_txs t ON t.id = e.tx_id ORDER BY e.tx_id, e.id";
    struct txs t = {0};
    int rc = scan_groups(a, sql, txs_read, txs_end, txs_add, &t);
    if (!rc) *minted = t.minted;
    return rc;
}

/* every account's history and balance; the signed sum of balances */
static int check_accounts(struct audit *a, struct zt_ledger_bal *sum)
{
    struct zt_store_stmt *qa = NULL, *qe = NULL;
    int rc;
    if ((rc = zt_store_prepare(a->l->st, "SELECT id, kind, balance FROM ledger_accounts ORDER BY id", &qa)) ||
        (rc = zt_store_prepare(a->l->st,
                               "SELECT credit, amount, balance_after, id FROM ledger_entries WHERE account_id = ?"
                               " ORDER BY id",
                               &qe)))
        goto out;
    struct zt_ledger_bal total = {0, false};
    while ((rc = zt_store_step(qa)) == ZT_STORE_ROW) {
        int64_t id, kind;
        const char *s;
        size_t n;
        struct zt_ledger_bal stored, run = {0, false};
        if ((rc = zt_store_column_i64(qa, 0, &id)) || (rc = zt_store_column_i64(qa, 1, &kind)) ||
            (rc = zt_store_column_text(qa, 2, &s, &n)) || (rc = zt__ledger_bal_parse(s, n, &stored)))
            goto out;
        bool neg_ok = zt_ledger_kind_may_go_negative((enum zt_ledger_kind)kind);
        if ((rc = zt_store_bind_i64(qe, 1, id))) goto out;
        while ((rc = zt_store_step(qe)) == ZT_STORE_ROW) {
            int64_t credit, eid;
            zt_u128 v;
            struct zt_ledger_bal after;
            if ((rc = zt_store_column_i64(qe, 0, &credit)) || (rc = text_u128(qe, 1, &v)) ||
                (rc = zt_store_column_text(qe, 2, &s, &n)) || (rc = zt__ledger_bal_parse(s, n, &after)) ||
                (rc = zt_store_column_i64(qe, 3, &eid)))
                goto out;
            if (zt__ledger_bal_apply(&run, v, credit != 0)) {
                rc = bad(a, "account %lld overflows at entry %lld", (long long)id, (long long)eid);
                goto out;
            }
            if (run.mag != after.mag || run.neg != after.neg) {
                rc = bad(a, "account %lld: entry %lld records a balance its history does not give", (long long)id,
                         (long long)eid);
                goto out;
            }
            if (run.neg && !neg_ok) {
                rc = bad(a, "account %lld (%s) negative at entry %lld", (long long)id,
                         zt_ledger_kind_name((enum zt_ledger_kind)kind), (long long)eid);
                goto out;
            }
        }
        zt_store_reset(qe);
        if (rc != ZT_STORE_DONE) goto out;
        if (run.mag != stored.mag || run.neg != stored.neg) {
            rc = bad(a, "account %lld: balance differs from its history", (long long)id);
            goto out;
        }
        if (zt__ledger_bal_apply(&total, stored.mag, !stored.neg)) {
            rc = bad(a, "the sum of balances overflows at account %lld", (long long)id);
            goto out;
        }
    }
    if (rc != ZT_STORE_DONE) goto out;
    *sum = total;
    rc = 0;
out:
    zt_store_stmt_free(qa);
    zt_store_stmt_free(qe);
    return rc;
}

/* earnings batched once, leaves add up to the batch total */
struct batches {
    zt_u128 total, v; /* the row read: the batch's total, a leaf (0: none) */
    zt_u128 want, got; /* the batch's */
};

static int batches_read(struct zt_store_stmt *q, void *st, int64_t *id)
{
    struct batches *b = st;
    int rc;
    b->v = 0;
    if ((rc = zt_store_column_i64(q, 0, id)) || (rc = text_u128(q, 1, &b->total))) return rc;
    if (zt_store_column_type(q, 2) != ZT_STORE_NULL && (rc = text_u128(q, 2, &b->v))) return rc;
    return 0;
}

static int batches_end(struct audit *a, int64_t id, void *st)
{
    const struct batches *b = st;
    return b->want != b->got ? bad(a, "batch %lld: leaves do not add up to its total", (long long)id) : 0;
}

static int batches_add(struct audit *a, int64_t id, bool first, void *st)
{
    struct batches *b = st;
    if (first) {
        b->want = b->total;
        b->got = 0;
    }
    if (zt_u128_add(b->got, b->v, &b->got)) return bad(a, "batch %lld overflows", (long long)id);
    return 0;
}

static int check_batches(struct audit *a)
{
    static const char sql[] = "SELECT b.id, b.total, l.amount FROM ledger_batches b"
                              " LEFT JOIN ledger_batch_leaves l ON l.batch_id = b.id ORDER BY b.id, l.idx";
    struct batches b = {0};
    return scan_groups(a, sql, batches_read, batches_end, batches_add, &b);
}

static int audit_body(struct zt_store *st, void *ud)
{
    (void)st;
    struct audit *a = ud;
    zt_u128 minted = 0, mints = 0;
    struct zt_ledger_bal sum = {0, false};
    int rc;
    if ((rc = zt__ledger_get_minted(a->l, &minted)) || (rc = check_txs(a, &mints)) ||
        (rc = check_accounts(a, &sum)) || (rc = check_batches(a)))
        return rc;
    if (mints != minted) return bad(a, "the mints do not add up to the total minted");
    if (sum.neg || sum.mag != minted) return bad(a, "the balances do not add up to the total minted");
    return 0;
}

int zt_ledger_audit(struct zt_ledger *l, char *why, size_t cap)
{
    if (!l) return ZT_EINVAL;
    if (why && cap) why[0] = '\0';
    struct audit a = {.l = l, .why = why, .cap = cap};
    int rc = zt_store_tx(l->st, audit_body, &a);
    if (rc == ZT_ERANGE) zt_log(ZT_LOG_WARN, "ledger_audit_failed", "why=%s", why && cap ? why : "?");
    return rc;
}
