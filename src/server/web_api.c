/* web_api.c: the dashboard's static files. See web_api.h. */
#include <string.h>

#include "web_api.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_str.h"

/* The page loads nothing from elsewhere: scripts, styles and requests stay
 * on this origin (no CDN, no inline script); at most 127 bytes, a header
 * value's limit (zt_http.h). */
#define WEB_CSP "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
_Static_assert(sizeof WEB_CSP <= 128, "the CSP is longer than a response header value may be");

void zt__web_h(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    (void)ud, (void)body;
    const char *path = zt_http_req_path(cx->req);
    const char *name = zt_str_eq(path, "/") ? "index.html" : path + strlen("/ui/");
    const struct zt__web_asset *a = NULL;
    for (size_t i = 0; i < zt__web_n_assets && !a; i++)
        if (zt_str_eq(zt__web_assets[i].name, name)) a = &zt__web_assets[i];
    if (!a) {
        zt_http_resp_error(resp, 404, "not_found", "no such file in the dashboard");
        return;
    }
    int rc = zt_buf_append(&resp->body, a->data, a->len);
    if (!rc) rc = zt_http_resp_header(resp, "Content-Security-Policy", WEB_CSP);
    if (!rc) rc = zt_http_resp_header(resp, "Referrer-Policy", "no-referrer");
    if (rc) {
        zt_buf_reset(&resp->body);
        zt_http_resp_error(resp, 500, "internal", "out of memory");
        return;
    }
    resp->status = 200;
    resp->content_type = a->content_type;
}
