/* ledger_api.h: the ledger over HTTP (internal to src/server;
 * docs/internals/ledger.md, docs/api.md). The node's books (struct
 * zt_chain, zt_ledger.h) are borrowed; NULL (chain.enabled false): every
 * route answers 404 chain_disabled.
 *
 *  - GET /v1/balance (user): the caller's wallet balance;
 *  - GET /v1/rewards?node=ID (provider): a provider's earnings (its
 *    balance not yet paid out) and stake;
 *  - POST /v1/admin/ledger/deposit (admin): mint into a wallet. */
#ifndef ZT_SERVER_LEDGER_API_H
#define ZT_SERVER_LEDGER_API_H

#include "req.h"

void zt__ledger_h_balance(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__ledger_h_rewards(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__ledger_h_deposit(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
