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

/* transactions balanced; the sum of mints */
static int check_txs(struct audit *a, zt_u128 *minted)
{
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(a->l->st,
                              "SELECT e.tx_id, t.mint, e.credit, e.amount FROM ledger_entries e"
                              " JOIN ledger_txs t ON t.id = e.tx_id ORDER BY e.tx_id, e.id",
                              &q);
    if (rc) return rc;
    int64_t cur = -1, mint = 0;
    zt_u128 cr = 0, db = 0, m = 0;
    for (;;) {
        rc = zt_store_step(q);
        if (rc != ZT_STORE_ROW && rc != ZT_STORE_DONE) goto out;
        int64_t tx = -1, mi = 0, credit = 0;
        zt_u128 v = 0;
        if (rc == ZT_STORE_ROW) {
            int r2;
            if ((r2 = zt_store_column_i64(q, 0, &tx)) || (r2 = zt_store_column_i64(q, 1, &mi)) ||
                (r2 = zt_store_column_i64(q, 2, &credit)) || (r2 = text_u128(q, 3, &v))) {
                rc = r2;
                goto out;
            }
        }
        if (tx != cur && cur >= 0) {
            if (mint ? db != 0 : cr != db) {
                rc = bad(a, "transaction %lld is not balanced", (long long)cur);
                goto out;
            }
            if (mint && zt_u128_add(m, cr, &m)) {
                rc = bad(a, "mints overflow at transaction %lld", (long long)cur);
                goto out;
            }
            cr = db = 0;
        }
        if (rc == ZT_STORE_DONE) break;
        cur = tx;
        mint = mi;
        if (zt_u128_add(credit ? cr : db, v, credit ? &cr : &db)) {
            rc = bad(a, "transaction %lld overflows", (long long)tx);
            goto out;
        }
    }
    *minted = m;
    rc = 0;
out:
    zt_store_stmt_free(q);
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
static int check_batches(struct audit *a)
{
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(a->l->st,
                              "SELECT b.id, b.total, l.amount FROM ledger_batches b"
                              " LEFT JOIN ledger_batch_leaves l ON l.batch_id = b.id ORDER BY b.id, l.idx",
                              &q);
    if (rc) return rc;
    int64_t cur = -1;
    zt_u128 want = 0, got = 0;
    for (;;) {
        rc = zt_store_step(q);
        if (rc != ZT_STORE_ROW && rc != ZT_STORE_DONE) goto out;
        int64_t id = -1;
        zt_u128 t = 0, v = 0;
        if (rc == ZT_STORE_ROW) {
            int r2;
            if ((r2 = zt_store_column_i64(q, 0, &id)) || (r2 = text_u128(q, 1, &t))) {
                rc = r2;
                goto out;
            }
            if (zt_store_column_type(q, 2) != ZT_STORE_NULL && (r2 = text_u128(q, 2, &v))) {
                rc = r2;
                goto out;
            }
        }
        if (id != cur && cur >= 0 && want != got) {
            rc = bad(a, "batch %lld: leaves do not add up to its total", (long long)cur);
            goto out;
        }
        if (rc == ZT_STORE_DONE) break;
        if (id != cur) {
            cur = id;
            want = t;
            got = 0;
        }
        if (zt_u128_add(got, v, &got)) {
            rc = bad(a, "batch %lld overflows", (long long)id);
            goto out;
        }
    }
    rc = 0;
out:
    zt_store_stmt_free(q);
    return rc;
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
