/* history.c: reading the books (zt_ledger.h "reading the books"): an
 * account's entries newest first in pages, the payout batches (all, or
 * those paying one address, with its leaf), a provider's payout wallet,
 * and the batches a payout round must still finish. Read-only; each call
 * is one zt_store_tx, so a page is a consistent snapshot. */
#include <stdio.h>
#include <string.h>

#include "ledger_int.h"
#include "zentalk/zt_alloc.h"

#define PAGE_MAX 1000 /* rows per call at most */

static void text_to(char *dst, size_t cap, const char *s, size_t n)
{
    if (n >= cap) n = cap - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* ---- pages ----------------------------------------------------------------------- */

/* A listing's page: the rows below before, newest first, at most max; n
 * found. Each listing's arguments start with one. */
struct page {
    int64_t before;
    size_t max, n;
};

/* Run body (its arguments: those that start with pg) in one transaction
 * for the page below before_id (0: from the newest) of at most max rows
 * (PAGE_MAX at most); *n: the rows found. */
static int list_page(struct zt_ledger *l, int (*body)(struct zt_store *, void *), struct page *pg, int64_t before_id,
                     size_t max, size_t *n)
{
    pg->before = before_id ? before_id : INT64_MAX;
    pg->max = max > PAGE_MAX ? PAGE_MAX : max;
    int rc = zt_store_tx(l->st, body, pg);
    if (!rc) *n = pg->n;
    return rc;
}

/* ---- an account's history ------------------------------------------------------ */

struct hist_args {
    struct page pg; /* first */
    int64_t account;
    struct zt_ledger_hist *out;
};

static int hist_body(struct zt_store *st, void *ud)
{
    struct hist_args *a = ud;
    struct zt_store_stmt *q = NULL;
    a->pg.n = 0;
    int rc = zt_store_prepare(st,
                              "SELECT e.id, e.tx_id, t.idem_key, t.memo, e.credit, e.amount, e.balance_after"
                              " FROM ledger_entries e JOIN ledger_txs t ON t.id = e.tx_id"
                              " WHERE e.account_id = ? AND e.id < ? ORDER BY e.id DESC LIMIT ?",
                              &q);
    if (rc) return rc;
    if ((rc = zt_store_bind_i64(q, 1, a->account)) || (rc = zt_store_bind_i64(q, 2, a->pg.before)) ||
        (rc = zt_store_bind_i64(q, 3, (int64_t)a->pg.max)))
        goto out;
    while ((rc = zt_store_step(q)) == ZT_STORE_ROW) {
        struct zt_ledger_hist *h = &a->out[a->pg.n];
        const char *key, *memo, *amt, *bal;
        size_t kn, mn, an, bn;
        int64_t credit;
        memset(h, 0, sizeof *h);
        if ((rc = zt_store_column_i64(q, 0, &h->entry_id)) || (rc = zt_store_column_i64(q, 1, &h->tx_id)) ||
            (rc = zt_store_column_text(q, 2, &key, &kn)) || (rc = zt_store_column_text(q, 3, &memo, &mn)) ||
            (rc = zt_store_column_i64(q, 4, &credit)) || (rc = zt_store_column_text(q, 5, &amt, &an)) ||
            (rc = zt_store_column_text(q, 6, &bal, &bn)))
            goto out;
        if (zt_u128_parse(amt, an, &h->amount) || zt__ledger_bal_parse(bal, bn, &h->balance_after)) {
            rc = ZT_EIO;
            goto out;
        }
        text_to(h->key, sizeof h->key, key, kn);
        text_to(h->memo, sizeof h->memo, memo, mn);
        h->credit = credit != 0;
        a->pg.n++;
    }
    rc = rc == ZT_STORE_DONE ? 0 : rc;
out:
    zt_store_stmt_free(q);
    return rc;
}

int zt_ledger_history(struct zt_ledger *l, int64_t account, int64_t before_id, struct zt_ledger_hist *out,
                      size_t max, size_t *n)
{
    if (!l || !out || !n || max == 0 || before_id < 0) return ZT_EINVAL;
    struct hist_args a = {.account = account, .out = out};
    return list_page(l, hist_body, &a.pg, before_id, max, n);
}

/* ---- batches ---------------------------------------------------------------------- */

struct list_args {
    struct page pg;      /* first */
    const char *address; /* canonical, or NULL */
    struct zt_ledger_batch_info *out;
    struct zt_ledger_leaf *leaves;
};

static int list_body(struct zt_store *st, void *ud)
{
    struct list_args *a = ud;
    struct zt_store_stmt *q = NULL;
    int64_t *ids = zt_calloc(a->pg.max, sizeof *ids);
    struct zt_ledger_leaf *lv = zt_calloc(a->pg.max, sizeof *lv);
    size_t k = 0;
    a->pg.n = 0;
    int rc = !ids || !lv ? ZT_ENOMEM : 0;
    if (!rc)
        rc = a->address ? zt_store_prepare(st,
                                           "SELECT batch_id, idx, amount FROM ledger_batch_leaves WHERE address = ?"
                                           " AND batch_id < ? ORDER BY batch_id DESC LIMIT ?",
                                           &q)
                        : zt_store_prepare(st, "SELECT id FROM ledger_batches WHERE id < ? ORDER BY id DESC LIMIT ?",
                                           &q);
    if (rc) goto out;
    int p = 1;
    if ((a->address && (rc = zt_store_bind_text(q, p++, a->address, SIZE_MAX))) ||
        (rc = zt_store_bind_i64(q, p++, a->pg.before)) || (rc = zt_store_bind_i64(q, p, (int64_t)a->pg.max)))
        goto out;
    while (k < a->pg.max && (rc = zt_store_step(q)) == ZT_STORE_ROW) {
        if ((rc = zt_store_column_i64(q, 0, &ids[k]))) goto out;
        if (a->address) {
            int64_t idx;
            const char *am;
            size_t an;
            if ((rc = zt_store_column_i64(q, 1, &idx)) || (rc = zt_store_column_text(q, 2, &am, &an))) goto out;
            if (idx < 0 || zt_u128_parse(am, an, &lv[k].amount) || zt_ledger_parse_address(a->address, lv[k].address)) {
                rc = ZT_EIO;
                goto out;
            }
            lv[k].index = (uint64_t)idx;
        }
        k++;
    }
    if (rc != ZT_STORE_DONE && rc != ZT_STORE_ROW) goto out;
    zt_store_stmt_free(q);
    q = NULL;
    for (size_t i = 0; i < k; i++) {
        if ((rc = zt__ledger_batch_read(st, ids[i], &a->out[i]))) {
            if (rc == ZT_ENOTFOUND) rc = ZT_EIO;
            goto out;
        }
        if (a->leaves) a->leaves[i] = lv[i];
    }
    a->pg.n = k;
    rc = 0;
out:
    zt_store_stmt_free(q);
    zt_free(ids);
    zt_free(lv);
    return rc;
}

int zt_ledger_batch_list(struct zt_ledger *l, const char *address, int64_t before_id,
                         struct zt_ledger_batch_info *out, struct zt_ledger_leaf *leaves, size_t max, size_t *n)
{
    if (!l || !out || !n || max == 0 || before_id < 0) return ZT_EINVAL;
    char norm[43];
    if (address && zt__ledger_norm_address(address, norm)) return ZT_EINVAL;
    struct list_args a = {.address = address ? norm : NULL, .out = out, .leaves = leaves};
    return list_page(l, list_body, &a.pg, before_id, max, n);
}

/* ---- a provider's wallet, the unfinished batches ---------------------------------------- */

struct payout_args {
    struct zt_ledger *l;
    const char *node;
    char addr[43];
};

static int payout_body(struct zt_store *st, void *ud)
{
    (void)st;
    struct payout_args *a = ud;
    struct zt_store_stmt *q = a->l->q_acct_get;
    a->addr[0] = '\0';
    int rc = zt_store_bind_i64(q, 1, ZT_LEDGER_PROVIDER);
    if (!rc) rc = zt_store_bind_text(q, 2, a->node, SIZE_MAX);
    if (!rc) rc = zt__ledger_row(q);
    if (!rc && zt_store_column_type(q, 1) != ZT_STORE_NULL) {
        const char *s;
        size_t n;
        if (!(rc = zt_store_column_text(q, 1, &s, &n))) {
            if (n == 42)
                text_to(a->addr, sizeof a->addr, s, n);
            else
                rc = ZT_EIO;
        }
    }
    zt_store_reset(q);
    return rc;
}

int zt_ledger_payout_address(struct zt_ledger *l, const char *node_id, char out[static 43])
{
    if (!l || !zt__ledger_printable_id(node_id, ZT_LEDGER_KEY_MAX)) return ZT_EINVAL;
    struct payout_args a = {.l = l, .node = node_id};
    int rc = zt_store_tx(l->st, payout_body, &a);
    if (!rc) memcpy(out, a.addr, sizeof a.addr);
    return rc;
}

struct unfinished_args {
    struct page pg; /* first; no before: the oldest first */
    int64_t *ids;
};

static int unfinished_body(struct zt_store *st, void *ud)
{
    struct unfinished_args *a = ud;
    struct zt_store_stmt *q = NULL;
    a->pg.n = 0;
    int rc = zt_store_prepare(st, "SELECT id FROM ledger_batches WHERE state < 2 ORDER BY id LIMIT ?", &q);
    if (rc) return rc;
    if ((rc = zt_store_bind_i64(q, 1, (int64_t)a->pg.max))) goto out;
    while ((rc = zt_store_step(q)) == ZT_STORE_ROW)
        if ((rc = zt_store_column_i64(q, 0, &a->ids[a->pg.n++]))) goto out;
    rc = rc == ZT_STORE_DONE ? 0 : rc;
out:
    zt_store_stmt_free(q);
    return rc;
}

int zt_ledger_batch_unfinished(struct zt_ledger *l, int64_t *ids, size_t max, size_t *n)
{
    if (!l || !ids || !n || max == 0) return ZT_EINVAL;
    struct unfinished_args a = {.ids = ids};
    return list_page(l, unfinished_body, &a.pg, 0, max, n);
}
