/* req.h: the request context and the handler signature of every route
 * (internal to src/server; docs/internals/dispatch.md).
 *
 * dispatch (server.c) builds one struct zt__req_ctx per request on its own
 * stack, after matching the route and admitting the caller, and passes it
 * to the route's handler together with the route's user data (the
 * subsystem the route serves). Nothing about a request lives in
 * thread-locals: what a handler learns for the audit log (PII types seen,
 * the privacy decision, the job it started) it notes in the context, and
 * dispatch writes the audit entry from it when the handler returns.
 *
 * The context lives until the handler returns. A handler that answers
 * later (zt_http_req_defer, zt_http_req_stream) must copy what it needs
 * from it; the audit entry is written at return with the status the
 * handler left in resp (200 = accepted). */
#ifndef ZT_SERVER_REQ_H
#define ZT_SERVER_REQ_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "zentalk/zt_auth.h"
#include "zentalk/zt_http.h"

struct zt__req_ctx;

/* Where a handler's own audit entry goes (the erase route must write its
 * entry before the pseudonym salt goes, so it cannot wait for dispatch).
 * record: one entry for cx with subject_pseudonym (may be NULL) and
 * status; 0 or the audit log's error. */
struct zt__audit_sink {
    int (*record)(void *ud, const struct zt__req_ctx *cx, const char *subject_pseudonym, int status);
    void *ud;
};

/* What a handler noted for the request's audit entry. */
struct zt__req_notes {
    uint64_t pii_types;   /* bit t: PII type t was seen */
    const char *decision; /* privacy decision (a static string), NULL = "none" */
    char job_id[64];      /* hex id of the job the request started, "" = none */
    bool recorded;        /* the handler wrote the entry itself */
};

struct zt__req_ctx {
    struct zt_http_req *req;
    const char *route;                 /* the route's path (static) */
    const char *request_id;            /* zt_http_req_id(req) */
    intptr_t arg;                      /* the route's constant from its table entry (an op, a kind), 0 = none */
    struct zt_auth_principal principal; /* the admitted caller; identity "" = anonymous */
    struct zt__req_notes notes;
    const struct zt__audit_sink *audit; /* never NULL inside a handler */
};

/* A route handler: ud is the route's user data (its subsystem), body the
 * request's JSON object (NULL for routes without a JSON body). Routes that
 * share a handler tell themselves apart by cx->arg (the constant in their
 * table entry), so no route needs a one-line wrapper. Answers in resp, or
 * defers (zt_http.h). */
typedef void (*zt__handler_fn)(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp);

/* Note PII types seen and the privacy decision (a static string). */
static inline void zt__req_note_privacy(struct zt__req_ctx *cx, uint64_t pii_types, const char *decision)
{
    cx->notes.pii_types |= pii_types;
    cx->notes.decision = decision;
}

/* Note the job the request started (hex id, copied). */
void zt__req_note_job(struct zt__req_ctx *cx, const char *job_hex);

/* Write this request's audit entry now, with a subject pseudonym; dispatch
 * then writes none for it. */
ZT_NODISCARD int zt__req_audit_now(struct zt__req_ctx *cx, const char *subject_pseudonym, int status);

#endif
