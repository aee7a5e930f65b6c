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

/* 413 batch_too_large in resp when a batch's text (total bytes) is over its
 * work budget: "... at most <budget><note>" (note: where the budget comes
 * from, or ""). True when it answered. */
bool zt__fair_over_budget(struct zt_http_resp *resp, size_t total, size_t budget, const char *note);

/* A request answered later, from a batch of a feature's fair queue: the
 * deferred connection and our reference to the body its strings live in.
 * A client that leaves does not stop the batch (bounded by its budget and
 * timeout); its answer is dropped. */
struct zt__fair_req {
    struct zt_http_async *a;
    json_t *body;
};

/* Defer cx's request and hold body: 0, or ZT_ENOMEM (nothing held). */
ZT_NODISCARD int zt__fair_defer(struct zt__fair_req *fr, struct zt__req_ctx *cx, json_t *body);
/* For the queue's gone callback: the client left. */
bool zt__fair_client_gone(const struct zt__fair_req *fr);
/* The batch's answer: resp sent (a client that left is no error) and
 * deinitialised, the connection released, the body let go. */
void zt__fair_answer(struct zt__fair_req *fr, struct zt_http_resp *resp);
/* The submit was refused (rc; or zt__fair_defer failed): the deferral is
 * undone, the body let go, and zt__fair_refuse answers in resp. */
void zt__fair_refused(struct zt__fair_req *fr, struct zt_http_resp *resp, int rc, const char *what);

#endif
