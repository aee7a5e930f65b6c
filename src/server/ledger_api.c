/* ledger_api.c: GET /v1/balance, GET /v1/rewards, POST
 * /v1/admin/ledger/deposit over the node's books (ledger_api.h). Amounts
 * are decimal strings of base units (10^18 per token): never JSON
 * numbers, which lose precision past 2^53. */
#include <stdio.h>
#include <string.h>

#include "ledger_api.h"
#include "req.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_time.h"

static bool chain_on(struct zt_chain *c, struct zt_http_resp *resp)
{
    if (c) return true;
    zt_http_resp_error(resp, 404, "chain_disabled", "this node keeps no ledger (chain.enabled is false)");
    return false;
}

static bool ledger_ok(int rc, struct zt_http_resp *resp)
{
    if (!rc) return true;
    zt_http_resp_error(resp, 503, "unavailable", "the ledger could not answer");
    return false;
}

/* ?name= as a non-negative integer at most max (def when absent); false: bad */
static bool query_u64(struct zt__req_ctx *cx, const char *name, uint64_t def, uint64_t max, uint64_t *out)
{
    const char *q = zt_http_req_query(cx->req, name);
    *out = def;
    if (!q || !q[0]) return true;
    uint64_t v = 0;
    for (const char *p = q; *p; p++) {
        if (*p < '0' || *p > '9' || v > (max - (uint64_t)(*p - '0')) / 10) return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    *out = v;
    return true;
}

void zt__ledger_h_balance(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    struct zt_chain *c = ud;
    if (!chain_on(c, resp)) return;
    char addr[43], bs[ZT_U128_STR_LEN];
    if (zt_chain_payer(cx->principal.identity, addr)) {
        zt_http_resp_error(resp, 403, "not_a_wallet", "a balance belongs to a wallet: sign in with POST /v1/auth/wallet/login");
        return;
    }
    zt_u128 b;
    if (!ledger_ok(zt_chain_balance(c, ZT_LEDGER_USER, addr, &b), resp)) return;
    zt_u128_format(b, bs);
    zt_http_resp_json(resp, 200, json_pack("{s:s,s:s,s:i}", "address", addr, "balance", bs, "decimals",
                                           ZT_LEDGER_DECIMALS));
}

void zt__ledger_h_rewards(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    struct zt_chain *c = ud;
    if (!chain_on(c, resp)) return;
    const char *node = zt_http_req_query(cx->req, "node");
    /* a worker signing its own request asks for itself */
    if ((!node || !node[0]) && strncmp(cx->principal.identity, "node:", 5) == 0) node = cx->principal.identity + 5;
    if (!node || !zt_identity_id_valid(node)) {
        zt_http_resp_error(resp, 400, "invalid_request", "node must be a node id (?node=zt1...)");
        return;
    }
    uint64_t before, limit;
    const char *which = zt_http_req_query(cx->req, "account");
    bool of_stake = which && strcmp(which, "stake") == 0;
    if (!query_u64(cx, "before", 0, INT64_MAX, &before) || !query_u64(cx, "limit", 20, 500, &limit) || limit == 0 ||
        (which && !of_stake && strcmp(which, "earnings") != 0)) {
        zt_http_resp_error(resp, 400, "invalid_request", "before is an entry id, limit 1..500, account earnings|stake");
        return;
    }
    struct zt_ledger_hist *h = zt_calloc((size_t)limit, sizeof *h);
    struct zt_chain_rewards r = {0};
    int rc = h ? zt_chain_rewards(c, node, of_stake, (int64_t)before, h, (size_t)limit, &r) : ZT_ENOMEM;
    json_t *hist = rc ? NULL : zt_ledger_history_to_json(h, r.n);
    int64_t last = r.n ? h[r.n - 1].entry_id : 0;
    zt_free(h);
    if (!ledger_ok(rc ? rc : hist ? 0 : ZT_ENOMEM, resp)) return;
    char es[ZT_U128_STR_LEN], ss[ZT_U128_STR_LEN];
    zt_u128_format(r.unpaid, es);
    zt_u128_format(r.staked, ss);
    json_t *j = json_pack("{s:s,s:s,s:s,s:i,s:s*,s:o}", "node_id", node, "unpaid", es, "staked", ss, "decimals",
                          ZT_LEDGER_DECIMALS, "wallet", r.wallet[0] ? r.wallet : NULL, "history", hist);
    if (j && r.n == limit) json_object_set_new(j, "next_before", json_integer((json_int_t)last));
    zt_http_resp_json(resp, 200, j);
}

void zt__ledger_h_deposit(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)cx;
    struct zt_chain *c = ud;
    if (!chain_on(c, resp)) return;
    const char *addr = json_string_value(json_object_get(body, "address"));
    const char *amount = json_string_value(json_object_get(body, "amount"));
    const char *key = json_string_value(json_object_get(body, "key"));
    const char *node = json_string_value(json_object_get(body, "node"));
    zt_u128 v = 0;
    uint8_t a20[20];
    if (node && !addr && amount && key && json_object_size(body) == 3) { /* a stake deposit */
        if (!zt_identity_id_valid(node) || zt_u128_parse(amount, strlen(amount), &v) || v == 0 || !key[0] ||
            strlen(key) > 64) {
            zt_http_resp_error(resp, 400, "invalid_request", "a stake deposit is {\"node\":\"zt1..\",\"amount\":..,\"key\":..}");
            return;
        }
        bool replayed = false;
        zt_u128 staked = 0;
        int rc = zt_chain_stake_deposit(c, key, node, v, &replayed, &staked);
        if (rc == ZT_EEXIST) {
            zt_http_resp_error(resp, 409, "key_reused", "this key was used for another deposit");
            return;
        }
        if (!ledger_ok(rc, resp)) return;
        char bs[ZT_U128_STR_LEN];
        zt_u128_format(staked, bs);
        zt_http_resp_json(resp, 200, json_pack("{s:s,s:s,s:b}", "node_id", node, "staked", bs, "replayed", replayed));
        return;
    }
    if (!addr || zt_ledger_parse_address(addr, a20) || !amount || zt_u128_parse(amount, strlen(amount), &v) || v == 0 ||
        !key || !key[0] || strlen(key) > 64 || json_object_size(body) != 3) {
        zt_http_resp_error(resp, 400, "invalid_request",
                           "the body is {\"address\":\"0x<40 hex>\",\"amount\":\"<base units, decimal string>\","
                           "\"key\":\"<idempotency key, 1..64 bytes>\"}");
        return;
    }
    bool replayed = false;
    zt_u128 b;
    char norm[43], bs[ZT_U128_STR_LEN];
    int rc = zt_chain_wallet_deposit(c, key, addr, v, &replayed, norm, &b);
    if (rc == ZT_EEXIST) {
        zt_http_resp_error(resp, 409, "key_reused", "this key was used for another deposit");
        return;
    }
    if (rc == ZT_EINVAL || rc == ZT_ERANGE) {
        zt_http_resp_error(resp, 400, "invalid_request", "the deposit was refused (a bad key, or the total overflows)");
        return;
    }
    if (!ledger_ok(rc, resp)) return;
    zt_u128_format(b, bs);
    zt_http_resp_json(resp, 200, json_pack("{s:s,s:s,s:b}", "address", norm, "balance", bs, "replayed", replayed));
}

/* ---- history, batches, proofs ---------------------------------------------------------- */

/* GET /v1/payouts[?before=ID&limit=N][&address=0x..]: the payout batches,
 * newest first. A worker (node:<id>) sees those paying its wallet, with its
 * leaf; an admin sees all (or one address's). */
void zt__ledger_h_payouts(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    struct zt_chain *c = ud;
    if (!chain_on(c, resp)) return;
    uint64_t before, limit;
    if (!query_u64(cx, "before", 0, INT64_MAX, &before) || !query_u64(cx, "limit", 50, 500, &limit) || limit == 0) {
        zt_http_resp_error(resp, 400, "invalid_request", "before is a batch id, limit 1..500");
        return;
    }
    const char *addr = zt_http_req_query(cx->req, "address");
    uint8_t a20[20];
    bool node = strncmp(cx->principal.identity, "node:", 5) == 0;
    if (cx->principal.role != ZT_AUTH_ADMIN) {
        if (!node) {
            zt_http_resp_error(resp, 403, "forbidden", "payouts are listed for a worker (a node-signed request) or an admin");
            return;
        }
        addr = NULL; /* a worker's own wallet */
    } else if (addr && zt_ledger_parse_address(addr, a20)) {
        zt_http_resp_error(resp, 400, "invalid_request", "address must be 0x and 40 hexadecimal digits");
        return;
    }
    const char *worker = cx->principal.role != ZT_AUTH_ADMIN ? cx->principal.identity + 5 : NULL;
    struct zt_ledger_batch_info *bs = zt_calloc((size_t)limit, sizeof *bs);
    struct zt_ledger_leaf *lv = zt_calloc((size_t)limit, sizeof *lv);
    char wallet[43] = "";
    size_t n = 0;
    int rc = !bs || !lv ? ZT_ENOMEM : zt_chain_payouts(c, worker, addr, (int64_t)before, bs, lv, (size_t)limit, &n, wallet);
    if (!rc && worker) {
        addr = wallet[0] ? wallet : NULL;
        if (!addr) {
            zt_free(bs);
            zt_free(lv);
            zt_http_resp_json(resp, 200, json_pack("{s:s,s:n,s:[]}", "node_id", worker, "wallet", "payouts"));
            return;
        }
    }
    json_t *arr = rc ? NULL : json_array();
    for (size_t i = 0; arr && i < n; i++)
        if (json_array_append_new(arr, zt_ledger_batch_to_json(&bs[i], addr ? &lv[i] : NULL))) {
            json_decref(arr);
            arr = NULL;
        }
    int64_t last = n ? bs[n - 1].id : 0;
    zt_free(bs);
    zt_free(lv);
    if (!ledger_ok(rc ? rc : arr ? 0 : ZT_ENOMEM, resp)) return;
    json_t *j = json_pack("{s:o}", "payouts", arr);
    if (j && n == limit) json_object_set_new(j, "next_before", json_integer((json_int_t)last));
    if (j && addr) json_object_set_new(j, "address", json_string(addr));
    if (j && node) json_object_set_new(j, "node_id", json_string(cx->principal.identity + 5));
    zt_http_resp_json(resp, 200, j);
}

/* GET /v1/rewards/proofs/{batch}/{address}: what a claimant submits to the
 * payout contract: its leaf (index, address, amount), the Merkle proof,
 * the root and the batch's EIP-712 signature; checked here against the
 * stored root before it is answered. */
void zt__ledger_h_proof(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    static const char prefix[] = "/v1/rewards/proofs/";
    struct zt_chain *c = ud;
    if (!chain_on(c, resp)) return;
    const char *p = zt_http_req_path(cx->req) + sizeof prefix - 1;
    int64_t batch = 0;
    const char *q = p;
    while (*q >= '0' && *q <= '9' && batch < INT64_MAX / 10 - 9) batch = batch * 10 + (*q++ - '0');
    uint8_t a20[20];
    if (q == p || *q != '/' || batch <= 0 || zt_ledger_parse_address(q + 1, a20)) {
        zt_http_resp_error(resp, 400, "invalid_request", "the path is /v1/rewards/proofs/{batch id}/{0x + 40 hex}");
        return;
    }
    struct zt_ledger_leaf leaf;
    uint8_t proof[ZT_MERKLE_MAX_DEPTH][ZT_MERKLE_HASH], lh[ZT_MERKLE_HASH];
    size_t n = 0;
    struct zt_ledger_batch_info bi;
    int rc = zt_chain_batch_proof(c, batch, q + 1, &bi, &leaf, proof, &n, lh);
    if (rc == ZT_ENOTFOUND) {
        zt_http_resp_error(resp, 404, "not_found", "no such batch, or the address has no leaf in it");
        return;
    }
    if (rc == ZT_ECRYPTO) {
        zt_http_resp_error(resp, 500, "internal", "the stored batch does not verify");
        return;
    }
    if (!ledger_ok(rc, resp)) return;
    json_t *j = zt_ledger_batch_to_json(&bi, &leaf);
    json_t *pj = json_array();
    char hx[67];
    for (size_t i = 0; pj && i < n; i++) {
        hx[0] = '0', hx[1] = 'x';
        zt_hex_encode(hx + 2, proof[i], ZT_MERKLE_HASH);
        if (json_array_append_new(pj, json_string(hx))) {
            json_decref(pj);
            pj = NULL;
        }
    }
    hx[0] = '0', hx[1] = 'x';
    zt_hex_encode(hx + 2, lh, ZT_MERKLE_HASH);
    const struct zt_eip712_domain *d = zt_chain_domain(c);
    char contract[43] = "0x";
    zt_hex_encode(contract + 2, d->contract, 20);
    if (!j || !pj || json_object_set_new(j, "leaf_hash", json_string(hx)) || json_object_set_new(j, "proof", pj) ||
        json_object_set_new(j, "domain", json_pack("{s:s,s:s,s:I,s:s}", "name", d->name, "version", d->version,
                                                   "chainId", (json_int_t)d->chain_id, "verifyingContract",
                                                   contract))) {
        json_decref(j);
        zt_http_resp_error(resp, 503, "unavailable", "out of memory");
        return;
    }
    zt_http_resp_json(resp, 200, j);
}

/* PUT /v1/rewards/wallet {"address": "0x.."[, "node": id]}: the payout
 * wallet of a worker (itself, node-signed) or of any node (an admin). */
void zt__ledger_h_wallet(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_chain *c = ud;
    if (!chain_on(c, resp)) return;
    const char *addr = json_string_value(json_object_get(body, "address"));
    const char *node = json_string_value(json_object_get(body, "node"));
    bool is_node = strncmp(cx->principal.identity, "node:", 5) == 0;
    if (!node && is_node) node = cx->principal.identity + 5;
    uint8_t a20[20];
    if (!addr || zt_ledger_parse_address(addr, a20) || !node || !zt_identity_id_valid(node)) {
        zt_http_resp_error(resp, 400, "invalid_request",
                           "the body is {\"address\":\"0x<40 hex>\"} (a worker's own), or with \"node\" (an admin)");
        return;
    }
    if (cx->principal.role != ZT_AUTH_ADMIN && !(is_node && strcmp(node, cx->principal.identity + 5) == 0)) {
        zt_http_resp_error(resp, 403, "forbidden", "a worker sets its own payout wallet; an admin any node's");
        return;
    }
    char norm[43];
    if (!ledger_ok(zt_chain_set_payout_wallet(c, node, addr, norm), resp)) return;
    zt_http_resp_json(resp, 200, json_pack("{s:s,s:s}", "node_id", node, "wallet", norm));
}

/* POST /v1/admin/payouts/run: one payout round now (what the loop does
 * every chain.payout_interval_s). */
void zt__ledger_h_payout_run(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)cx, (void)body;
    struct zt_chain *c = ud;
    if (!chain_on(c, resp)) return;
    struct zt_chain_round r;
    if (!ledger_ok(zt_chain_payout_round(c, zt_time_real_ms(), &r), resp)) return;
    zt_http_resp_json(resp, 200,
                      json_pack("{s:o,s:I,s:I,s:I,s:I}", "batch", r.batch_id ? json_integer(r.batch_id) : json_null(),
                                "leaves", (json_int_t)r.n_leaves, "signed", (json_int_t)r.n_signed, "exported",
                                (json_int_t)r.n_exported, "unsigned", (json_int_t)r.n_waiting));
}
