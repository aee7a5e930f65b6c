/* ledger_api.c: GET /v1/balance, GET /v1/rewards, POST
 * /v1/admin/ledger/deposit over the node's books (ledger_api.h). Amounts
 * are decimal strings of base units (10^18 per token): never JSON
 * numbers, which lose precision past 2^53. */
#include <stdio.h>
#include <string.h>

#include "ledger_api.h"
#include "req.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_ledger.h"

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
    zt_u128 earned, staked;
    if (!ledger_ok(zt_chain_balance(c, ZT_LEDGER_PROVIDER, node, &earned), resp) ||
        !ledger_ok(zt_chain_balance(c, ZT_LEDGER_STAKE, node, &staked), resp))
        return;
    char es[ZT_U128_STR_LEN], ss[ZT_U128_STR_LEN];
    zt_u128_format(earned, es);
    zt_u128_format(staked, ss);
    zt_http_resp_json(resp, 200, json_pack("{s:s,s:s,s:s,s:i}", "node_id", node, "unpaid", es, "staked", ss,
                                           "decimals", ZT_LEDGER_DECIMALS));
}

void zt__ledger_h_deposit(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)cx;
    struct zt_chain *c = ud;
    if (!chain_on(c, resp)) return;
    const char *addr = json_string_value(json_object_get(body, "address"));
    const char *amount = json_string_value(json_object_get(body, "amount"));
    const char *key = json_string_value(json_object_get(body, "key"));
    zt_u128 v = 0;
    uint8_t a20[20];
    if (!addr || zt_ledger_parse_address(addr, a20) || !amount || zt_u128_parse(amount, strlen(amount), &v) || v == 0 ||
        !key || !key[0] || strlen(key) > 64 || json_object_size(body) != 3) {
        zt_http_resp_error(resp, 400, "invalid_request",
                           "the body is {\"address\":\"0x<40 hex>\",\"amount\":\"<base units, decimal string>\","
                           "\"key\":\"<idempotency key, 1..64 bytes>\"}");
        return;
    }
    bool replayed = false;
    int rc = zt_chain_deposit(c, key, addr, v, &replayed);
    if (rc == ZT_EEXIST) {
        zt_http_resp_error(resp, 409, "key_reused", "this key was used for another deposit");
        return;
    }
    if (rc == ZT_EINVAL || rc == ZT_ERANGE) {
        zt_http_resp_error(resp, 400, "invalid_request", "the deposit was refused (a bad key, or the total overflows)");
        return;
    }
    if (!ledger_ok(rc, resp)) return;
    zt_u128 b;
    char who[64], norm[43], bs[ZT_U128_STR_LEN];
    snprintf(who, sizeof who, "wallet:%s", addr);
    if (!ledger_ok(zt_chain_payer(who, norm) ? ZT_EIO : zt_chain_balance(c, ZT_LEDGER_USER, norm, &b), resp)) return;
    zt_u128_format(b, bs);
    zt_http_resp_json(resp, 200, json_pack("{s:s,s:s,s:b}", "address", norm, "balance", bs, "replayed", replayed));
}
