/* fair_api.c: the HTTP side of a feature's fair queue (zt_fair.h, src/core):
 * a request's caller key, its work budget, its deferral while its batch
 * waits and runs, and the answer to a refused submit. See fair_api.h. */
#include "fair_api.h"

#include <stdio.h>

void zt__fair_caller(const struct zt__req_ctx *cx, char *out, size_t n)
{
    if (cx->principal.identity[0]) snprintf(out, n, "id:%s", cx->principal.identity);
    else snprintf(out, n, "addr:%s", zt_http_req_client_addr(cx->req));
}

void zt__fair_refuse(struct zt_http_resp *resp, int rc, const char *what)
{
    char msg[160];
    zt_ignore(zt_http_resp_header(resp, "Retry-After", "1"));
    if (rc == ZT_EPERM) {
        snprintf(msg, sizeof msg, "this caller has too many %s queued; retry after Retry-After seconds", what);
        zt_http_resp_error(resp, 429, "rate_limited", msg);
    } else if (rc == ZT_ECLOSED) {
        zt_http_resp_error(resp, 503, "shutting_down", "the node is shutting down");
    } else {
        snprintf(msg, sizeof msg, "too many %s queued; retry shortly", what);
        zt_http_resp_error(resp, 503, "overloaded", msg);
    }
}

bool zt__fair_over_budget(struct zt_http_resp *resp, size_t total, size_t budget, const char *note)
{
    if (total <= budget) return false;
    char msg[160];
    snprintf(msg, sizeof msg, "the batch holds %zu bytes of text; at most %zu%s", total, budget, note);
    zt_http_resp_error(resp, 413, "batch_too_large", msg);
    return true;
}

static void client_gone(void *ud)
{
    (void)ud; /* the batch ends on its own; its answer is dropped (zt__fair_answer) */
}

int zt__fair_defer(struct zt__fair_req *fr, struct zt__req_ctx *cx, json_t *body)
{
    fr->a = zt_http_req_defer(cx->req, client_gone, NULL);
    if (!fr->a) return ZT_ENOMEM;
    fr->body = json_incref(body);
    return 0;
}

bool zt__fair_client_gone(const struct zt__fair_req *fr)
{
    return zt_http_async_client_gone(fr->a);
}

void zt__fair_answer(struct zt__fair_req *fr, struct zt_http_resp *resp)
{
    zt_ignore(zt_http_async_respond(fr->a, resp)); /* ZT_ECLOSED: the client left */
    zt_http_resp_deinit(resp);
    zt_http_async_release(fr->a);
    json_decref(fr->body);
    fr->a = NULL;
    fr->body = NULL;
}

void zt__fair_refused(struct zt__fair_req *fr, struct zt_http_resp *resp, int rc, const char *what)
{
    if (fr->a) zt_http_async_abandon(fr->a);
    json_decref(fr->body);
    fr->a = NULL;
    fr->body = NULL;
    zt__fair_refuse(resp, rc, what);
}
