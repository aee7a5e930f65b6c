/* wallet_api.c: the wallet login routes (POST /v1/auth/wallet/nonce,
 * /v1/auth/wallet/login, /v1/auth/logout) over the login state of
 * zt_wallet.h. */
#include "wallet_api.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>

#include "zentalk/zt_http.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_wallet.h"

static const char *str_field(json_t *body, const char *name)
{
    json_t *v = json_object_get(body, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static void wallet_unauthorized(struct zt_http_resp *resp, const char *message)
{
    zt_ignore(zt_http_resp_header(resp, "WWW-Authenticate", "Bearer realm=\"zentalk-ai\""));
    zt_http_resp_error(resp, 401, "unauthorized", message);
}

void zt__wallet_h_nonce(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_wallet *w = ud;
    uint8_t addr[ZT_WALLET_ADDR_LEN];
    if (json_object_size(body) != 1 || zt_wallet_parse_address(str_field(body, "address"), addr) != 0) {
        zt_http_resp_error(resp, 400, "invalid_request",
                           "body must be {\"address\": \"0x<40 hex digits>\"}");
        return;
    }
    char msg[ZT_WALLET_MSG_MAX], nonce[33];
    int64_t exp;
    int rc = zt_wallet_nonce(w, addr, zt_http_req_client_addr(cx->req), zt_time_real_ms() / 1000, msg, sizeof msg,
                             nonce, &exp);
    if (rc == ZT_EPERM) { /* this client, or this wallet address, holds its share of pending nonces */
        zt_ignore(zt_http_resp_header(resp, "Retry-After", "60"));
        zt_http_resp_error(resp, 429, "rate_limited",
                           "too many pending nonces for this client or address; use one or retry later");
        return;
    }
    if (rc == ZT_EBUSY) { /* live nonces are never evicted for a newcomer */
        zt_ignore(zt_http_resp_header(resp, "Retry-After", "60"));
        zt_http_resp_error(resp, 503, "overloaded", "too many pending wallet logins; retry later");
        return;
    }
    if (rc) {
        zt_http_resp_error(resp, 500, "internal", "could not issue a nonce");
        return;
    }
    zt_http_resp_json(resp, 200,
                      json_pack("{s:s,s:s,s:I}", "nonce", nonce, "message", msg, "expires_at", (json_int_t)exp));
}

void zt__wallet_h_login(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_wallet *w = ud;
    uint8_t addr[ZT_WALLET_ADDR_LEN], sig[ZT_WALLET_SIG_LEN];
    json_t *m = json_object_get(body, "message");
    if (json_object_size(body) != 3 || !json_is_string(m) ||
        zt_wallet_parse_address(str_field(body, "address"), addr) != 0 ||
        zt_wallet_parse_sig(str_field(body, "signature"), sig) != 0) {
        zt_http_resp_error(resp, 400, "invalid_request",
                           "body must be {\"address\": \"0x<40 hex>\", \"message\": \"<issued message>\", "
                           "\"signature\": \"0x<130 hex>\"}");
        return;
    }
    char token[ZT_WALLET_TOKEN_LEN + 1];
    int64_t exp = 0;
    const char *why = "login refused";
    int rc = zt_wallet_login(w, addr, json_string_value(m), json_string_length(m), sig,
                              zt_time_real_ms() / 1000, token, &exp, &why);
    char shown[ZT_WALLET_ADDR_STR];
    zt_wallet_format_address(addr, shown);
    if (rc) {
        /* no address: the log is not erasable, the audit entry (pseudonymous) carries who */
        zt_log(ZT_LOG_INFO, "wallet_login_refused", "reason=\"%s\" request_id=%s", why, cx->request_id);
        char msg[160];
        snprintf(msg, sizeof msg, "wallet login refused: %s", why);
        wallet_unauthorized(resp, msg);
        return;
    }
    zt_log(ZT_LOG_INFO, "wallet_login", "request_id=%s", cx->request_id);
    zt_http_resp_json(resp, 200,
                      json_pack("{s:s,s:I,s:s,s:s}", "session_token", token, "expires_at", (json_int_t)exp,
                                "role", "user", "address", shown));
    sodium_memzero(token, sizeof token);
}

void zt__wallet_h_logout(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)body;
    struct zt_wallet *w = ud;
    const char *tok;
    size_t len;
    if (zt_wallet_parse_bearer(zt_http_req_header(cx->req, "Authorization"), &tok, &len) != 0) {
        wallet_unauthorized(resp, "logout requires \"Authorization: Bearer <session token>\"");
        return;
    }
    if (zt_wallet_logout(w, tok, len, zt_time_real_ms() / 1000) != 0) {
        wallet_unauthorized(resp, "unknown, expired or revoked session");
        return;
    }
    zt_http_resp_json(resp, 200, json_pack("{s:b}", "revoked", 1));
}
