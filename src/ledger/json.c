/* json.c: the books as JSON for the routes and the CLI (zt_ledger.h):
 * amounts are decimal strings of base units, hashes and signatures 0x hex. */
#include <jansson.h>
#include <string.h>

#include "ledger_int.h"
#include "zentalk/zt_alloc.h"

static void hex0x(char *out, const uint8_t *p, size_t n)
{
    out[0] = '0';
    out[1] = 'x';
    zt_hex_encode(out + 2, p, n);
}

static json_t *amount_json(zt_u128 v)
{
    char s[ZT_U128_STR_LEN];
    zt_u128_format(v, s);
    return json_string(s);
}

struct json_t *zt_ledger_history_to_json(const struct zt_ledger_hist *h, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        char bal[ZT_U128_STR_LEN];
        zt__ledger_bal_format(&h[i].balance_after, bal);
        json_t *e = json_pack("{s:I,s:I,s:s,s:s,s:s,s:o,s:s}", "entry", (json_int_t)h[i].entry_id, "tx",
                              (json_int_t)h[i].tx_id, "key", h[i].key, "memo", h[i].memo, "direction",
                              h[i].credit ? "credit" : "debit", "amount", amount_json(h[i].amount),
                              "balance_after", bal);
        if (!e || json_array_append_new(a, e)) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

struct json_t *zt_ledger_batch_to_json(const struct zt_ledger_batch_info *b, const struct zt_ledger_leaf *leaf)
{
    char root[67], sig[2 * ZT_EIP712_SIG_LEN + 3] = "";
    hex0x(root, b->root, 32);
    if (b->has_sig) hex0x(sig, b->sig, ZT_EIP712_SIG_LEN);
    json_t *j = json_pack("{s:I,s:s,s:s,s:o,s:I,s:I,s:s*,s:s*}", "batch", (json_int_t)b->id, "state",
                          zt_ledger_batch_state_name(b->state), "root", root, "total", amount_json(b->total),
                          "leaves", (json_int_t)b->n_leaves, "created_ms", (json_int_t)b->created_ms, "signature",
                          b->has_sig ? sig : NULL, "submission", b->tx_ref[0] ? b->tx_ref : NULL);
    if (j && leaf) {
        char addr[43];
        hex0x(addr, leaf->address, 20);
        json_t *lj = json_pack("{s:I,s:s,s:o}", "index", (json_int_t)leaf->index, "address", addr, "amount",
                               amount_json(leaf->amount));
        if (!lj || json_object_set_new(j, "leaf", lj)) {
            json_decref(j);
            return NULL;
        }
    }
    return j;
}

int zt_chain_account_export(struct zt_chain *c, const char *address, size_t max, struct json_t **out)
{
    *out = NULL;
    if (!c || !address || max == 0) return ZT_EINVAL;
    struct zt_ledger_hist *h = zt_calloc(max, sizeof *h);
    if (!h) return ZT_ENOMEM;
    int64_t acct = 0;
    struct zt_ledger_bal b = {0};
    size_t n = 0;
    struct zt_ledger *l = zt_chain_lock(c);
    int rc = zt_ledger_find(l, ZT_LEDGER_USER, address, &acct, &b); /* an export creates no account */
    if (!rc) rc = zt_ledger_history(l, acct, 0, h, max, &n);
    zt_chain_unlock(c);
    json_t *hist = rc ? NULL : zt_ledger_history_to_json(h, n);
    zt_free(h);
    if (rc) return rc;
    char bal[ZT_U128_STR_LEN];
    zt__ledger_bal_format(&b, bal);
    json_t *j = hist ? json_pack("{s:s,s:s,s:i,s:I,s:b,s:o}", "address", address, "balance", bal, "decimals",
                                 ZT_LEDGER_DECIMALS, "count", (json_int_t)n, "truncated", n == max, "history", hist)
                     : NULL;
    if (!j) return ZT_ENOMEM;
    *out = j;
    return 0;
}

/* ---- the ledger as a holder of a GDPR export and erase (zt_gdpr.h) ---- */

int zt_chain_gdpr_export(void *chain, const char *identity, size_t budget, size_t *used, struct json_t **out,
                         const char **why)
{
    (void)budget; /* bounded by entries, not bytes */
    struct zt_chain *c = chain;
    char addr[43];
    *used = 0;
    *out = NULL;
    if (!c) {
        *why = "chain.enabled is false: this node keeps no ledger (no credits, payments or payouts)";
        return 0;
    }
    if (zt_chain_payer(identity, addr) != 0) {
        *why = "ledger accounts belong to wallet identities (wallet:0x...); this identity has none";
        return 0;
    }
    json_t *acct = NULL;
    int rc = zt_chain_account_export(c, addr, ZT_CHAIN_EXPORT_ENTRIES, &acct);
    if (rc == ZT_ENOTFOUND) {
        *why = "this wallet has no ledger account on this node (it never deposited or paid here)";
        return 0;
    }
    if (rc) return rc;
    json_t *j = json_pack("{s:b}", "kept", 1);
    if (!j || json_object_update(j, acct) ||
        json_object_set_new(j, "note", json_string("payment records are kept for accounting and survive erasure; "
                                                   "they name the wallet address, not a person"))) {
        json_decref(j);
        j = NULL;
        rc = ZT_ENOMEM;
    }
    json_decref(acct);
    *out = j;
    return rc;
}

int zt_chain_gdpr_erase(void *chain, const char *identity, struct json_t *erased, struct json_t *kept)
{
    (void)identity, (void)erased; /* payment records are not erased */
    const char *why = chain ? "payment records (a wallet's ledger account and its history) are kept for accounting "
                              "and are not erased; they name the wallet address, not a person"
                            : "chain.enabled is false: this node keeps no ledger";
    return json_object_set_new(kept, "ledger", json_string(why)) ? ZT_ENOMEM : 0;
}
