/* payout.c: payout batches (zt_ledger.h): earnings past the dispute window
 * grouped per provider into (index, address, amount) leaves under one
 * StandardMerkleTree root, in one transaction with the move of the amounts
 * to the payouts account. ledger_batch_items.earning_id is the primary
 * key: an earning can never enter two batches, whichever orchestrator
 * builds them (the second insert fails and its transaction rolls back).
 * On PostgreSQL the batch is a handful of statements whatever its size
 * (rows as array parameters), not a few per leaf. */
#include <stdio.h>
#include <string.h>

#include "ledger_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"

struct prov {
    int64_t acct;
    char address[43];
    zt_u128 total;
    size_t first, n; /* its earnings in the earnings array */
};

struct batch_args {
    struct zt_ledger *l;
    int64_t cutoff, now;
    zt_u128 min;
    int64_t batch_id;
    size_t n_leaves;
};

/* the batch's leaves and its earnings' rows: on SQLite one prepared
 * one-row statement per row (in-process, cheap); on PostgreSQL one
 * statement per table with the rows as array parameters (a round trip
 * each, not one per row). The earning ids are the primary key either way. */
static int insert_rows(struct zt_store *st, int64_t bid, const struct prov *pv, size_t n_pv, const int64_t *earn)
{
    bool pg = zt_store_dialect(st) == ZT_STORE_DIALECT_POSTGRES;
    struct zt_store_stmt *q = NULL;
    struct zt_buf a[3];
    for (size_t k = 0; k < 3; k++) zt_buf_init(&a[k], ZT_LEDGER_ARR_MAX);
    char as[ZT_U128_STR_LEN];
    int rc;
    if (pg) {
        if ((rc = zt_store_prepare(st,
                                   "INSERT INTO ledger_batch_leaves(batch_id, idx, address, amount)"
                                   " SELECT ?::bigint, v.i, v.a, v.m FROM unnest(?::bigint[], ?::text[], ?::numeric[])"
                                   " AS v(i, a, m)",
                                   &q)))
            goto out;
        for (size_t i = 0; i < n_pv && !rc; i++) {
            zt_u128_format(pv[i].total, as);
            if (!(rc = zt__ledger_arr_add_i64(&a[0], (int64_t)i)) && !(rc = zt__ledger_arr_add(&a[1], pv[i].address)))
                rc = zt__ledger_arr_add(&a[2], as);
        }
        if (rc || (rc = zt_store_bind_i64(q, 1, bid))) goto out;
        for (int k = 0; k < 3 && !rc; k++) rc = zt__ledger_arr_bind(q, 2 + k, &a[k]);
        if (rc || (rc = zt__ledger_run(q))) goto out;
        zt_store_stmt_free(q);
        q = NULL;
        zt_buf_reset(&a[0]);
        if ((rc = zt_store_prepare(st,
                                   "INSERT INTO ledger_batch_items(earning_id, batch_id)"
                                   " SELECT v.e, ?::bigint FROM unnest(?::bigint[]) AS v(e)",
                                   &q)))
            goto out;
        for (size_t i = 0; i < n_pv && !rc; i++)
            for (size_t j = pv[i].first; j < pv[i].first + pv[i].n && !rc; j++) rc = zt__ledger_arr_add_i64(&a[0], earn[j]);
        if (rc || (rc = zt_store_bind_i64(q, 1, bid)) || (rc = zt__ledger_arr_bind(q, 2, &a[0]))) goto out;
        rc = zt__ledger_run(q);
        goto out;
    }
    if ((rc = zt_store_prepare(st, "INSERT INTO ledger_batch_leaves(batch_id, idx, address, amount) VALUES(?, ?, ?, ?)",
                               &q)))
        goto out;
    for (size_t i = 0; i < n_pv; i++) {
        zt_u128_format(pv[i].total, as);
        if ((rc = zt_store_bind_i64(q, 1, bid)) || (rc = zt_store_bind_i64(q, 2, (int64_t)i)) ||
            (rc = zt_store_bind_text(q, 3, pv[i].address, SIZE_MAX)) || (rc = zt_store_bind_text(q, 4, as, SIZE_MAX)) ||
            (rc = zt__ledger_run(q)))
            goto out;
    }
    zt_store_stmt_free(q);
    q = NULL;
    if ((rc = zt_store_prepare(st, "INSERT INTO ledger_batch_items(earning_id, batch_id) VALUES(?, ?)", &q))) goto out;
    for (size_t i = 0; i < n_pv; i++)
        for (size_t j = pv[i].first; j < pv[i].first + pv[i].n; j++)
            if ((rc = zt_store_bind_i64(q, 1, earn[j])) || (rc = zt_store_bind_i64(q, 2, bid)) ||
                (rc = zt__ledger_run(q)))
                goto out;
out:
    zt_store_stmt_free(q);
    for (size_t k = 0; k < 3; k++) zt_buf_deinit(&a[k]);
    return rc;
}

static int batch_body(struct zt_store *st, void *ud)
{
    struct batch_args *a = ud;
    struct zt_ledger *l = a->l;
    struct zt_store_stmt *q = NULL;
    struct prov *pv = NULL;
    int64_t *earn = NULL;
    struct zt_ledger_entry *e = NULL;
    uint8_t (*leaves)[ZT_MERKLE_HASH] = NULL;
    struct zt_merkle *m = NULL;
    size_t n_pv = 0, cap_pv = 0, n_earn = 0, cap_earn = 0;
    int rc = zt_store_prepare(st,
                              "SELECT e.id, e.amount, a.id, a.payout FROM ledger_earnings e"
                              " JOIN ledger_accounts a ON a.id = e.provider_id"
                              " WHERE e.ts <= ? AND a.payout IS NOT NULL AND NOT EXISTS"
                              " (SELECT 1 FROM ledger_batch_items b WHERE b.earning_id = e.id)"
                              " ORDER BY a.id, e.id",
                              &q);
    if (rc) goto out;
    if ((rc = zt_store_bind_i64(q, 1, a->cutoff))) goto out;
    while ((rc = zt_store_step(q)) == ZT_STORE_ROW) {
        int64_t eid, acct;
        const char *s, *addr;
        size_t n, an;
        zt_u128 v;
        if ((rc = zt_store_column_i64(q, 0, &eid)) || (rc = zt_store_column_text(q, 1, &s, &n)) ||
            (rc = zt_store_column_i64(q, 2, &acct)) || (rc = zt_store_column_text(q, 3, &addr, &an)))
            goto out;
        if (zt_u128_parse(s, n, &v) || an != 42) {
            rc = ZT_EIO;
            goto out;
        }
        if (n_pv == 0 || pv[n_pv - 1].acct != acct) {
            struct prov *np = zt_array_grow(pv, &cap_pv, n_pv + 1, sizeof *pv, 64);
            if (!np) {
                rc = ZT_ENOMEM;
                goto out;
            }
            pv = np;
            pv[n_pv] = (struct prov){.acct = acct, .first = n_earn};
            memcpy(pv[n_pv].address, addr, 43);
            n_pv++;
        }
        if ((rc = zt_array_push(&earn, &n_earn, &cap_earn, &eid, sizeof eid, 256))) goto out;
        pv[n_pv - 1].n++;
        if ((rc = zt_u128_add(pv[n_pv - 1].total, v, &pv[n_pv - 1].total))) goto out;
    }
    if (rc != ZT_STORE_DONE) goto out;
    zt_store_stmt_free(q);
    q = NULL;

    /* the providers due: at least min_payout */
    size_t k = 0;
    for (size_t i = 0; i < n_pv; i++)
        if (pv[i].total >= a->min && pv[i].total > 0) pv[k++] = pv[i];
    n_pv = k;
    if (n_pv == 0) {
        rc = ZT_ENOTFOUND;
        goto out;
    }
    leaves = zt_calloc(n_pv, sizeof *leaves);
    e = zt_calloc(n_pv + 1, sizeof *e);
    if (!leaves || !e) {
        rc = ZT_ENOMEM;
        goto out;
    }
    zt_u128 total = 0;
    for (size_t i = 0; i < n_pv; i++) {
        uint8_t addr[20];
        if (zt_ledger_parse_address(pv[i].address, addr)) {
            rc = ZT_EIO;
            goto out;
        }
        zt_merkle_leaf(i, addr, pv[i].total, leaves[i]);
        if ((rc = zt_u128_add(total, pv[i].total, &total))) goto out;
        e[i] = (struct zt_ledger_entry){pv[i].acct, pv[i].total, false};
    }
    e[n_pv] = (struct zt_ledger_entry){l->payout_id, total, true}; /* one credit for the batch */
    if ((rc = zt_merkle_build((const uint8_t(*)[ZT_MERKLE_HASH])leaves, n_pv, &m))) goto out;
    uint8_t root[ZT_MERKLE_HASH];
    zt_merkle_root(m, root);

    char ts[ZT_U128_STR_LEN];
    zt_u128_format(total, ts);
    if ((rc = zt_store_prepare(st,
                               "INSERT INTO ledger_batches(root, n_leaves, total, state, created)"
                               " VALUES(?, ?, ?, 0, ?) RETURNING id",
                               &q)))
        goto out;
    if ((rc = zt_store_bind_blob(q, 1, root, sizeof root)) || (rc = zt_store_bind_i64(q, 2, (int64_t)n_pv)) ||
        (rc = zt_store_bind_text(q, 3, ts, SIZE_MAX)) || (rc = zt_store_bind_i64(q, 4, a->now)))
        goto out;
    if ((rc = zt_store_step(q)) != ZT_STORE_ROW) {
        rc = rc == ZT_STORE_DONE ? ZT_EIO : rc;
        goto out;
    }
    int64_t bid;
    if ((rc = zt_store_column_i64(q, 0, &bid))) goto out;
    zt_store_stmt_free(q);
    q = NULL;

    if ((rc = insert_rows(st, bid, pv, n_pv, earn))) goto out;
    char key[64];
    snprintf(key, sizeof key, "payout:%lld", (long long)bid);
    int64_t tx;
    bool rep;
    if ((rc = zt__ledger_check_body(key, "payout", false, e, n_pv + 1, n_pv + 1)) ||
        (rc = zt__ledger_post_tx(l, key, "payout", false, e, n_pv + 1, &tx, &rep)))
        goto out;
    a->batch_id = bid;
    a->n_leaves = n_pv;
out:
    zt_store_stmt_free(q);
    zt_merkle_free(m);
    zt_free(leaves);
    zt_free(e);
    zt_free(pv);
    zt_free(earn);
    return rc;
}

int zt_ledger_batch(struct zt_ledger *l, int64_t cutoff_ms, zt_u128 min_payout, int64_t now_ms, int64_t *batch_id,
                    size_t *n_leaves)
{
    if (!l || !batch_id || !n_leaves) return ZT_EINVAL;
    struct batch_args a = {.l = l, .cutoff = cutoff_ms, .now = now_ms, .min = min_payout};
    int rc = zt__ledger_write_tx(l, batch_body, &a);
    if (rc) return rc;
    *batch_id = a.batch_id;
    *n_leaves = a.n_leaves;
    return 0;
}

/* ---- roots and proofs -------------------------------------------------------- */

struct proof_args {
    struct zt_ledger *l;
    int64_t batch;
    const char *address; /* NULL: the root only */
    uint8_t root[ZT_MERKLE_HASH];
    struct zt_ledger_leaf leaf;
    uint8_t (*proof)[ZT_MERKLE_HASH];
    size_t n;
};

static int proof_body(struct zt_store *st, void *ud)
{
    struct proof_args *a = ud;
    struct zt_store_stmt *q = NULL;
    uint8_t (*leaves)[ZT_MERKLE_HASH] = NULL;
    struct zt_merkle *m = NULL;
    int rc = zt_store_prepare(st, "SELECT root, n_leaves FROM ledger_batches WHERE id = ?", &q);
    if (rc) goto out;
    if ((rc = zt_store_bind_i64(q, 1, a->batch)) || (rc = zt__ledger_row(q))) goto out;
    const void *r;
    size_t rn;
    int64_t nl;
    if ((rc = zt_store_column_blob(q, 0, &r, &rn)) || (rc = zt_store_column_i64(q, 1, &nl))) goto out;
    if (rn != ZT_MERKLE_HASH || nl <= 0) {
        rc = ZT_EIO;
        goto out;
    }
    memcpy(a->root, r, ZT_MERKLE_HASH);
    zt_store_stmt_free(q);
    q = NULL;
    if (!a->address) goto out;
    leaves = zt_calloc((size_t)nl, sizeof *leaves);
    if (!leaves) {
        rc = ZT_ENOMEM;
        goto out;
    }
    if ((rc = zt_store_prepare(st, "SELECT idx, address, amount FROM ledger_batch_leaves WHERE batch_id = ? ORDER BY idx",
                               &q)) ||
        (rc = zt_store_bind_i64(q, 1, a->batch)))
        goto out;
    int64_t found = -1, i = 0;
    while ((rc = zt_store_step(q)) == ZT_STORE_ROW) {
        int64_t idx;
        const char *ad, *am;
        size_t adn, amn;
        uint8_t addr[20];
        zt_u128 v;
        if ((rc = zt_store_column_i64(q, 0, &idx)) || (rc = zt_store_column_text(q, 1, &ad, &adn)) ||
            (rc = zt_store_column_text(q, 2, &am, &amn)))
            goto out;
        if (idx != i || i >= nl || zt_ledger_parse_address(ad, addr) || zt_u128_parse(am, amn, &v)) {
            rc = ZT_EIO;
            goto out;
        }
        zt_merkle_leaf((uint64_t)idx, addr, v, leaves[i]);
        if (strcmp(ad, a->address) == 0) {
            found = i;
            a->leaf.index = (uint64_t)idx;
            memcpy(a->leaf.address, addr, 20);
            a->leaf.amount = v;
        }
        i++;
    }
    if (rc != ZT_STORE_DONE) goto out;
    if (i != nl) {
        rc = ZT_EIO;
        goto out;
    }
    if (found < 0) {
        rc = ZT_ENOTFOUND;
        goto out;
    }
    if ((rc = zt_merkle_build((const uint8_t(*)[ZT_MERKLE_HASH])leaves, (size_t)nl, &m)) ||
        (rc = zt_merkle_proof(m, (size_t)found, a->proof, ZT_MERKLE_MAX_DEPTH, &a->n)))
        goto out;
    uint8_t root[ZT_MERKLE_HASH];
    zt_merkle_root(m, root);
    if (memcmp(root, a->root, sizeof root) != 0) rc = ZT_EIO; /* the stored leaves no longer give the root */
out:
    zt_store_stmt_free(q);
    zt_merkle_free(m);
    zt_free(leaves);
    return rc;
}

int zt_ledger_batch_root(struct zt_ledger *l, int64_t batch_id, uint8_t root[static ZT_MERKLE_HASH])
{
    if (!l) return ZT_EINVAL;
    struct proof_args a = {.l = l, .batch = batch_id};
    int rc = zt_store_tx(l->st, proof_body, &a);
    if (!rc) memcpy(root, a.root, ZT_MERKLE_HASH);
    return rc;
}

int zt_ledger_batch_proof(struct zt_ledger *l, int64_t batch_id, const char *address, struct zt_ledger_leaf *leaf,
                          uint8_t (*proof)[ZT_MERKLE_HASH], size_t *n)
{
    if (!l || !address || !leaf || !proof || !n) return ZT_EINVAL;
    char norm[43];
    if (zt__ledger_norm_address(address, norm)) return ZT_EINVAL;
    struct proof_args a = {.l = l, .batch = batch_id, .address = norm, .proof = proof};
    int rc = zt_store_tx(l->st, proof_body, &a);
    if (rc) return rc;
    *leaf = a.leaf;
    *n = a.n;
    return 0;
}
