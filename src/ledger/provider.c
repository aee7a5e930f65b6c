/* provider.c: a worker's books for the routes and the CLI (zt_ledger.h):
 * its rewards page, a stake deposit, its payout wallet and batches, a
 * claimant's checked proof; and an admin's wallet deposit with the balance
 * it leaves. Each call takes the chain's lock once, so
 * what it reads together is one state of the books. */
#include <stdio.h>
#include <string.h>

#include "ledger_int.h"

int zt_chain_rewards(struct zt_chain *c, const char *node_id, bool of_stake, int64_t before_id,
                     struct zt_ledger_hist *hist, size_t max, struct zt_chain_rewards *out)
{
    if (!c || !node_id || !hist || max == 0 || !out) return ZT_EINVAL;
    memset(out, 0, sizeof *out);
    int64_t prov = 0, stake = 0;
    struct zt_ledger_bal earned = {0}, staked = {0};
    struct zt_ledger *l = zt_chain_lock(c);
    int rc = zt_ledger_account(l, ZT_LEDGER_PROVIDER, node_id, NULL, &prov);
    if (!rc) rc = zt_ledger_balance(l, prov, &earned);
    if (!rc) rc = zt_ledger_account(l, ZT_LEDGER_STAKE, node_id, NULL, &stake);
    if (!rc) rc = zt_ledger_balance(l, stake, &staked);
    if (!rc) rc = zt_ledger_payout_address(l, node_id, out->wallet);
    if (!rc) rc = zt_ledger_history(l, of_stake ? stake : prov, before_id, hist, max, &out->n);
    zt_chain_unlock(c);
    if (rc) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->unpaid = earned.neg ? 0 : earned.mag;
    out->staked = staked.neg ? 0 : staked.mag;
    return 0;
}

int zt_chain_stake_deposit(struct zt_chain *c, const char *key, const char *node_id, zt_u128 amount, bool *replayed,
                           zt_u128 *staked)
{
    if (!c || !staked) return ZT_EINVAL;
    int64_t id = 0;
    struct zt_ledger_bal b = {0};
    struct zt_ledger *l = zt_chain_lock(c);
    int rc = zt_ledger_stake_deposit(l, key, node_id, amount, replayed);
    if (!rc) rc = zt_ledger_account(l, ZT_LEDGER_STAKE, node_id, NULL, &id);
    if (!rc) rc = zt_ledger_balance(l, id, &b);
    zt_chain_unlock(c); /* a stake moved: the stake gate's answers are dropped */
    if (!rc) *staked = b.mag;
    return rc;
}

int zt_chain_wallet_deposit(struct zt_chain *c, const char *key, const char *address, zt_u128 amount, bool *replayed,
                            char norm[static 43], zt_u128 *balance)
{
    if (!balance) return ZT_EINVAL;
    int rc = zt_chain_deposit(c, key, address, amount, replayed);
    if (rc) return rc;
    char who[64];
    int n = snprintf(who, sizeof who, "wallet:%s", address);
    if (n < 0 || (size_t)n >= sizeof who || zt_chain_payer(who, norm)) return ZT_EIO;
    return zt_chain_balance(c, ZT_LEDGER_USER, norm, balance);
}

int zt_chain_payouts(struct zt_chain *c, const char *node_id, const char *address, int64_t before_id,
                     struct zt_ledger_batch_info *out, struct zt_ledger_leaf *leaves, size_t max, size_t *n,
                     char wallet[static 43])
{
    if (!c || !out || !leaves || !n) return ZT_EINVAL;
    *n = 0;
    wallet[0] = '\0';
    struct zt_ledger *l = zt_chain_lock(c);
    int rc = 0;
    if (node_id) {
        rc = zt_ledger_payout_address(l, node_id, wallet);
        if (rc == ZT_ENOTFOUND) { /* no account: no wallet */
            wallet[0] = '\0';
            rc = 0;
        }
        address = wallet;
    }
    if (!rc && (!node_id || wallet[0])) rc = zt_ledger_batch_list(l, address, before_id, out, leaves, max, n);
    zt_chain_unlock(c);
    return rc;
}

int zt_chain_batch_proof(struct zt_chain *c, int64_t batch_id, const char *address, struct zt_ledger_batch_info *info,
                         struct zt_ledger_leaf *leaf, uint8_t (*proof)[ZT_MERKLE_HASH], size_t *n,
                         uint8_t leaf_hash[static ZT_MERKLE_HASH])
{
    if (!c || !info || !leaf || !proof || !n) return ZT_EINVAL;
    struct zt_ledger *l = zt_chain_lock(c);
    int rc = zt_ledger_batch_info(l, batch_id, info);
    if (!rc) rc = zt_ledger_batch_proof(l, batch_id, address, leaf, proof, n);
    zt_chain_unlock(c);
    if (rc) return rc;
    /* what the contract will check, checked here before anyone submits it */
    zt_merkle_leaf(leaf->index, leaf->address, leaf->amount, leaf_hash);
    return zt_merkle_verify(info->root, leaf_hash, (const uint8_t(*)[ZT_MERKLE_HASH])proof, *n) ? 0 : ZT_ECRYPTO;
}

int zt_chain_set_payout_wallet(struct zt_chain *c, const char *node_id, const char *address, char norm[static 43])
{
    if (!c) return ZT_EINVAL;
    struct zt_ledger *l = zt_chain_lock(c);
    int rc = zt_ledger_set_wallet(l, node_id, address);
    if (!rc) rc = zt_ledger_payout_address(l, node_id, norm);
    zt_chain_unlock(c);
    return rc;
}
