/* dbsync_api.c: the database sync's routes (dbsync_api.h). Parsing and
 * rendering only: the work is zt_dbsync.h's. */
#include "dbsync_api.h"

#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dbsync.h"

#define PREFIX "/v1/dbsync/"
#define AUDIT_WAIT_MS 5000 /* for the head in the DHT */

void zt__dbsync_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_dbsync *s = ud;
    (void)body;
    if (!s) {
        zt_http_resp_error(resp, 404, "dbsync_disabled",
                           "this node publishes no database segments (orchestrator, mesh, mesh.db_sync_interval_s)");
        return;
    }
    const char *path = zt_http_req_path(cx->req);
    const char *rest = strncmp(path, PREFIX, strlen(PREFIX)) == 0 ? path + strlen(PREFIX) : "";
    bool post = strcmp(zt_http_req_method(cx->req), "POST") == 0;
    char *j = NULL;
    int rc;
    if (post && strcmp(rest, "publish") == 0) {
        unsigned made = 0;
        rc = zt_dbsync_publish(s, &made);
        if (!rc) {
            zt_http_resp_json(resp, 200, json_pack("{s:I}", "segments", (json_int_t)made));
            return;
        }
        zt_http_resp_error(resp, rc == ZT_EEXIST ? 409 : 500, rc == ZT_EEXIST ? "rebuild_first" : "internal",
                           rc == ZT_EEXIST ? "a chain of this node is published and this store has none: "
                                             "run zentalk-node --rebuild-from-mesh"
                                           : zt_strerror(rc));
        return;
    }
    if (!post && strcmp(rest, "status") == 0) rc = zt_dbsync_status_json(s, &j);
    else if (!post && strcmp(rest, "audit") == 0) rc = zt_dbsync_audit(s, AUDIT_WAIT_MS, &j);
    else rc = ZT_ENOTFOUND;
    if (rc) {
        zt_http_resp_error(resp, rc == ZT_ENOTFOUND ? 404 : 500, rc == ZT_ENOTFOUND ? "not_found" : "internal",
                           zt_strerror(rc));
        return;
    }
    resp->status = 200;
    if (zt_buf_append_str(&resp->body, j) != 0) zt_http_resp_error(resp, 500, "internal", "answer too large");
    zt_free(j);
}
