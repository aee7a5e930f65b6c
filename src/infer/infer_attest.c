/* infer_attest.c: what this worker attests (zt_infer.h, "attestation"):
 * the running binary's hash, the engine build, and each loaded model with
 * its file's SHA-256, signed by the node key as a software report
 * (zt_attest.h, src/crypto/attest.c). The route (src/server/attest_api.c)
 * checks the client's nonce and answers the report. See
 * docs/privacy/ATTESTATION.md. */
#include <stdbool.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_attest.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_infer.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_time.h"

struct zt_infer_attest {
    const struct zt_identity *id;
    struct zt_infer *inf;
    uint8_t binary_sha256[ZT_SHA256_LEN];
    struct zt_attest_hashes *hashes; /* one slot per configured model */
};

int zt_infer_attest_new(struct zt_infer *inf, const struct zt_identity *id, struct zt_infer_attest **out)
{
    struct zt_infer_attest *a = zt_calloc(1, sizeof *a);
    if (!a) return ZT_ENOMEM;
    a->id = id;
    a->inf = inf;
    int rc = zt_attest_hashes_new(zt_infer_model_count(inf), &a->hashes) != 0 ? ZT_ENOMEM : 0;
    if (!rc) rc = zt_attest_self_sha256(a->binary_sha256);
    return ZT_HAND_OUT(rc, a, zt_infer_attest_free, out);
}

void zt_infer_attest_free(struct zt_infer_attest *a)
{
    if (!a) return;
    zt_attest_hashes_free(a->hashes);
    zt_free(a);
}

/* The hash of model i's file (zt_attest_hashes_get: kept while the file
 * stays the same). */
static int model_sha256(struct zt_infer_attest *a, size_t i, uint8_t out[static ZT_SHA256_LEN])
{
    char path[1024];
    int rc = zt_infer_model_file(a->inf, i, path, sizeof path);
    if (rc) return rc;
    uint64_t t0 = zt_time_mono_ms();
    int64_t bytes;
    rc = zt_attest_hashes_get(a->hashes, i, path, out, &bytes);
    if (rc || bytes < 0) return rc;
    bool loaded;
    zt_log(ZT_LOG_INFO, "attest_model_hashed", "model=%s bytes=%lld ms=%llu", zt_infer_model(a->inf, i, &loaded)->id,
           (long long)bytes, (unsigned long long)(zt_time_mono_ms() - t0));
    return 0;
}

int zt_infer_attest_claims(struct zt_infer_attest *a, const char *nonce_hex, struct zt_attest_claims *c,
                           struct zt_attest_model **out)
{
    memset(c, 0, sizeof *c);
    *out = NULL;
    size_t n = zt_infer_model_count(a->inf), n_loaded = 0;
    struct zt_attest_model *models = n ? zt_calloc(n, sizeof *models) : NULL;
    if (n && !models) return ZT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        bool loaded = false;
        const struct zt_cfg_model *e = zt_infer_model(a->inf, i, &loaded);
        if (!loaded) continue;
        int rc = model_sha256(a, i, models[n_loaded].sha256);
        if (rc) {
            zt_log(ZT_LOG_WARN, "attest_model_hash_failed", "model=%s error=%s", e->id, zt_strerror(rc));
            zt_free(models);
            return ZT_EIO;
        }
        models[n_loaded++].id = e->id;
    }
    c->nonce_hex = nonce_hex;
    c->engine = zt_engine_build_id();
    c->models = models;
    c->n_models = n_loaded;
    c->issued_at = zt_time_real_ms() / 1000;
    memcpy(c->binary_sha256, a->binary_sha256, ZT_SHA256_LEN);
    *out = models;
    return 0;
}

int zt_infer_attest_report(struct zt_infer_attest *a, const char *nonce_hex, char **report)
{
    struct zt_attest_claims c;
    struct zt_attest_model *models;
    int rc = zt_infer_attest_claims(a, nonce_hex, &c, &models);
    if (rc) return rc;
    rc = zt_attest_report(a->id, &c, report) != 0 ? ZT_ECRYPTO : 0;
    zt_free(models);
    return rc;
}
