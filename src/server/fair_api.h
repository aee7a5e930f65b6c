/* fair_api.h: the HTTP side of a feature's fair queue (zt_fair.h, in
 * src/core): translate_api.c and conv_api.c key their callers and answer
 * refused submits the same way. Internal to src/server. */
#ifndef ZT_SERVER_FAIR_API_H
#define ZT_SERVER_FAIR_API_H

#include <stddef.h>

#include "req.h"
#include "zentalk/zt_fair.h"

/* The caller key of a request for zt_fair_submit: the principal's identity,
 * else the client address. */
void zt__fair_caller(const struct zt__req_ctx *cx, char *out, size_t n);

/* Answer a refused submit (rc) in resp: 503 overloaded / 429 rate_limited,
 * with Retry-After. what names the feature ("translations"). */
void zt__fair_refuse(struct zt_http_resp *resp, int rc, const char *what);

#endif
