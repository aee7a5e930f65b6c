/* fair_api.c: the HTTP side of a feature's fair queue (zt_fair.h, src/core):
 * a request's caller key and the answer to a refused submit. See fair_api.h. */
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
