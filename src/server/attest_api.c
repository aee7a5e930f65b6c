/* attest_api.c: GET /v1/attestation/report. See attest_api.h and
 * docs/privacy/ATTESTATION.md. */
#include <jansson.h>

#include "attest_api.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_attest.h"

void zt__attest_handle(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt_infer_attest *a = ud;
    struct zt_http_req *req = cx->req;
    (void)body;
    if (!a) {
        zt_http_resp_error(resp, 503, "unavailable", "this node has no identity key to sign with");
        return;
    }
    const char *nonce = zt_http_req_query(req, "nonce");
    if (!nonce || !zt_attest_nonce_valid(nonce)) {
        zt_http_resp_error(resp, 400, "invalid_request",
                           "nonce must be 16 to 64 random bytes in hex (32 to 128 hex digits)");
        return;
    }
    char *report = NULL;
    int rc = zt_infer_attest_report(a, nonce, &report);
    if (rc == ZT_ENOMEM) {
        zt_http_resp_error(resp, 500, "internal", "out of memory");
        return;
    }
    if (rc == ZT_EIO) {
        zt_http_resp_error(resp, 500, "internal", "cannot hash a loaded model's file");
        return;
    }
    if (rc || zt_buf_append_str(&resp->body, report) != 0) {
        zt_buf_reset(&resp->body);
        zt_http_resp_error(resp, 500, "internal", "cannot sign the attestation report");
        zt_free(report);
        return;
    }
    zt_free(report);
    resp->status = 200;
    resp->content_type = "application/json";
    zt_ignore(zt_http_resp_header(resp, "Cache-Control", "no-store"));
}
