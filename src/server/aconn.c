/* aconn.c: deferred connections held twice (aconn.h). */
#include "aconn.h"

#include "zentalk/zt_alloc.h"

void zt__aconn_unref(struct zt__aconn *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1) zt_free(c);
}

static void on_closed(void *ud)
{
    struct zt__aconn *c = ud;
    atomic_store(&c->closed, true);
    zt__aconn_unref(c);
}

struct zt__aconn *zt__aconn_defer(struct zt_http_req *req)
{
    struct zt__aconn *c = zt_calloc(1, sizeof *c);
    if (!c) return NULL;
    atomic_init(&c->refs, 2);
    c->a = zt_http_req_defer(req, on_closed, c);
    if (!c->a) {
        zt_free(c);
        return NULL;
    }
    return c;
}
