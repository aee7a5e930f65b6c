/* ledger_api.h: the ledger over HTTP (internal to src/server;
 * docs/internals/ledger.md, docs/api.md). The node's books (struct
 * zt_chain, zt_ledger.h) are borrowed; NULL (chain.enabled false): every
 * route answers 404 chain_disabled.
 *
 *  - GET /v1/balance (user): the caller's wallet balance;
 *  - GET /v1/rewards?node=ID (provider): a provider's earnings (its
 *    balance not yet paid out) and stake;
 *  - POST /v1/admin/ledger/deposit (admin): mint into a wallet, or into
 *    a node's stake;
 *  - GET /v1/payouts (provider: a worker its own; admin: all): batches;
 *  - GET /v1/rewards/proofs/{batch}/{address} (user): a leaf's proof;
 *  - PUT /v1/rewards/wallet (provider/admin): a worker's payout wallet;
 *  - POST /v1/admin/payouts/run (admin): one payout round now. */
#ifndef ZT_SERVER_LEDGER_API_H
#define ZT_SERVER_LEDGER_API_H

#include "req.h"

void zt__ledger_h_balance(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__ledger_h_rewards(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__ledger_h_deposit(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__ledger_h_payouts(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__ledger_h_proof(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__ledger_h_wallet(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__ledger_h_payout_run(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
