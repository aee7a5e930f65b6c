/* attest_api.c: GET /v1/attestation/report. See attest_api.h and
 * docs/privacy/ATTESTATION.md. */
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

#include "attest_api.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_attest.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_time.h"

struct zt__attest {
    const struct zt_identity *id;
    struct zt_infer *ms;
    uint8_t binary_sha256[ZT_SHA256_LEN];
    struct zt_attest_hashes *hashes; /* one slot per configured model */
};

int zt__attest_new(const struct zt_identity *id, struct zt_infer *ms, struct zt__attest **out)
{
    struct zt__attest *a = zt_calloc(1, sizeof *a);
    if (!a) return ZT_ENOMEM;
    a->id = id;
    a->ms = ms;
    if (zt_attest_hashes_new(zt_infer_model_count(ms), &a->hashes) != 0) {
        zt_free(a);
        return ZT_ENOMEM;
    }
    int rc = zt_attest_file_sha256("/proc/self/exe", a->binary_sha256);
    if (rc) {
        zt_attest_hashes_free(a->hashes);
        zt_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

void zt__attest_free(struct zt__attest *a)
{
    if (!a) return;
    zt_attest_hashes_free(a->hashes);
    zt_free(a);
}

/* The hash of model i's file (zt_attest_hashes_get: kept while the file
 * stays the same). */
static int model_sha256(struct zt__attest *a, size_t i, uint8_t out[static ZT_SHA256_LEN])
{
    char path[1024];
    int rc = zt_infer_model_file(a->ms, i, path, sizeof path);
    if (rc) return rc;
    uint64_t t0 = zt_time_mono_ms();
    int64_t bytes;
    rc = zt_attest_hashes_get(a->hashes, i, path, out, &bytes);
    if (rc || bytes < 0) return rc;
    bool loaded;
    zt_log(ZT_LOG_INFO, "attest_model_hashed", "model=%s bytes=%lld ms=%llu", zt_infer_model(a->ms, i, &loaded)->id,
           (long long)bytes, (unsigned long long)(zt_time_mono_ms() - t0));
    return 0;
}

void zt__attest_handle(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__attest *a = ud;
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
    size_t n = zt_infer_model_count(a->ms), n_loaded = 0;
    struct zt_attest_model *models = n ? zt_calloc(n, sizeof *models) : NULL;
    char *report = NULL;
    if (n && !models) {
        zt_http_resp_error(resp, 500, "internal", "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        bool loaded = false;
        const struct zt_cfg_model *e = zt_infer_model(a->ms, i, &loaded);
        if (!loaded) continue;
        int rc = model_sha256(a, i, models[n_loaded].sha256);
        if (rc) {
            zt_log(ZT_LOG_WARN, "attest_model_hash_failed", "model=%s error=%s", e->id, zt_strerror(rc));
            zt_http_resp_error(resp, 500, "internal", "cannot hash a loaded model's file");
            goto out;
        }
        models[n_loaded++].id = e->id;
    }
    struct zt_attest_claims c = {
        .nonce_hex = nonce,
        .engine = zt_engine_build_id(),
        .models = models,
        .n_models = n_loaded,
        .issued_at = zt_time_real_ms() / 1000,
    };
    memcpy(c.binary_sha256, a->binary_sha256, ZT_SHA256_LEN);
    int rc = zt_attest_report(a->id, &c, &report);
    if (rc || zt_buf_append_str(&resp->body, report) != 0) {
        zt_buf_reset(&resp->body);
        zt_http_resp_error(resp, 500, "internal", "cannot sign the attestation report");
        goto out;
    }
    resp->status = 200;
    resp->content_type = "application/json";
    zt_ignore(zt_http_resp_header(resp, "Cache-Control", "no-store"));
out:
    zt_free(report);
    zt_free(models);
}
