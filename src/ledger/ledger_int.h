/* ledger_int.h: what the ledger's files share (src/ledger only). */
#ifndef ZT_LEDGER_INT_H
#define ZT_LEDGER_INT_H

#include <stddef.h>

#include "zentalk/zt_buf.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_store.h"

struct zt_ledger {
    struct zt_store *st;
    int64_t fee_id, treasury_id, escrow_id, payout_id; /* the system accounts */
    struct zt_store_stmt *q_acct_ins, *q_acct_get, *q_acct_payout, *q_bal_get, *q_bal_set, *q_tx_get, *q_tx_ins,
        *q_ent_ins, *q_tot_get, *q_tot_set, *q_esc_get, *q_esc_ins, *q_esc_set, *q_earn_ins;
    /* PostgreSQL only (NULL on SQLite): a transaction's balances and
     * entries in one statement each, rows as array parameters */
    struct zt_store_stmt *q_bal_many, *q_bal_set_many, *q_ent_ins_many;
    /* zt_ledger_new making the system accounts: its writes pass a ledger
     * awaiting its rebuild (zt__ledger_write_tx) */
    bool seeding;
};

/* ledger_version.restored of a ledger awaiting its rebuild from the mesh
 * (zt_ledger_clear; zt__ledger_write_tx): a real version is never
 * negative, and NULL means never restored */
#define ZT__LEDGER_AWAITING (-1)

/* s is 1..max printable ASCII bytes, no space (account owners, transaction
 * keys, job ids) */
bool zt__ledger_printable_id(const char *s, size_t max);
int zt__ledger_bal_parse(const char *s, size_t n, struct zt_ledger_bal *out);
void zt__ledger_bal_format(const struct zt_ledger_bal *b, char out[static ZT_U128_STR_LEN]);
int zt__ledger_bal_apply(struct zt_ledger_bal *b, zt_u128 v, bool credit);
/* "0x" + 40 hex into its canonical lower-case text (ZT_EINVAL) */
int zt__ledger_norm_address(const char *s, char out[static 43]);
int zt__ledger_run(struct zt_store_stmt *q);
/* zt_store_tx for a transaction that may write the ledger: on PostgreSQL
 * it first takes the writers' lock on ledger_version, so writers of
 * several connections queue instead of aborting (ledger.c) */
int zt__ledger_write_tx(struct zt_ledger *l, zt_store_tx_fn fn, void *ud);
/* step q for its one row: 0 (a row to read), ZT_ENOTFOUND (none) or the store's error */
int zt__ledger_row(struct zt_store_stmt *q);
int zt__ledger_get_bal(struct zt_ledger *l, int64_t id, int *kind, struct zt_ledger_bal *b);
int zt__ledger_get_minted(struct zt_ledger *l, zt_u128 *out);
int zt__ledger_check_body(const char *key, const char *memo, bool mint, const struct zt_ledger_entry *e, size_t n,
                          size_t max);
/* inside a transaction: post (or find the replay of) one transaction */
int zt__ledger_post_tx(struct zt_ledger *l, const char *key, const char *memo, bool mint,
                       const struct zt_ledger_entry *e, size_t n, int64_t *tx_id, bool *replayed);
/* PostgreSQL array literals built in a zt_buf (zt_buf_init(b,
 * ZT_LEDGER_ARR_MAX)) and bound as one text parameter ("?::bigint[]" in
 * the statement): tokens are numbers or 0x addresses, never quoted */
#define ZT_LEDGER_ARR_MAX ((size_t)256 << 20)
int zt__ledger_arr_add(struct zt_buf *b, const char *tok);
int zt__ledger_arr_add_i64(struct zt_buf *b, int64_t v);
/* closes the literal ("{}" when empty) and binds it as parameter i */
int zt__ledger_arr_bind(struct zt_store_stmt *q, int i, struct zt_buf *b);
/* write n bytes to path atomically: a temporary file beside it (mode),
 * fsync, rename, fsync of the directory */
/* the balance of (kind, owner) without creating the account (read-only;
 * ZT_ENOTFOUND when it has none); owner already canonical */
int zt__ledger_find_balance(struct zt_ledger *l, enum zt_ledger_kind kind, const char *owner,
                            struct zt_ledger_bal *out);
/* inside a transaction: batch id's row (ZT_ENOTFOUND) */
int zt__ledger_batch_read(struct zt_store *st, int64_t id, struct zt_ledger_batch_info *o);
int zt__ledger_write_file(const char *path, const void *p, size_t n, unsigned mode);

#endif
