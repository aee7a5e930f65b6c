/* aconn.h: a deferred connection (zt_http_req_defer) shared by the thread
 * that answers it and by its close callback, freed by the last of the two:
 * the relay route's stream and the orchestrator relay's parked gateway
 * requests and polls. Internal to src/server. */
#ifndef ZT_SERVER_ACONN_H
#define ZT_SERVER_ACONN_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "zentalk/zt_http.h"

struct zt__aconn {
    struct zt_http_async *a;
    atomic_int refs;
    atomic_bool closed; /* the client is gone (the close callback ran) */
};

/* Defer req: a connection with two references, the caller's and the close
 * callback's (which sets closed and drops its reference). NULL when out of
 * memory or the request cannot be deferred. */
struct zt__aconn *zt__aconn_defer(struct zt_http_req *req);
/* Drop one reference; the last frees c. NULL is a no-op. */
void zt__aconn_unref(struct zt__aconn *c);

#endif
