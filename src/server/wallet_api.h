/* wallet_api.h: the wallet login routes (internal to src/server); ud is
 * the node's struct zt_wallet (zt_wallet.h). */
#ifndef ZT_SERVER_WALLET_API_H
#define ZT_SERVER_WALLET_API_H

#include "req.h"

void zt__wallet_h_nonce(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__wallet_h_login(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);
void zt__wallet_h_logout(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

#endif
