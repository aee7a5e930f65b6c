/* engine.c: engine-wide identity. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "backend.h"
#include "zentalk/zt_engine.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_quant.h"
#include "zentalk/zt_version.h"
#include "zt_math.h"

/* ZT_KERNEL_ORDER: the version of the canonical reduction order of the
 * quantised dot products (docs/internals/quant.md): "k2" = one fma per
 * Q8_0/Q4_0 block into lane b % 8 (k1, unnamed, was 16 lanes of one fma
 * per 4 elements); bump it with any change to the kernels' results. */
#define ZT_KERNEL_ORDER "k2"
#define ZT_ENGINE_ID "zentalk-engine/" ZT_VERSION "+" ZT_GIT_COMMIT "+" ZT_MATH_VERSION "+" ZT_KERNEL_ORDER

static atomic_bool g_inexact;

const char *zt_engine_build_id(void)
{
    /* Receipts name the engine build: outputs are only comparable between
     * workers running the same kernels and the same math (zt_math.h). */
    return atomic_load(&g_inexact) ? ZT_ENGINE_ID "+fast" : ZT_ENGINE_ID;
}

const char *zt_engine_build_id_kv(int kv)
{
    return zt_engine_build_id_mode(kv, ZT_PRECISION_EXACT);
}

const char *zt_engine_build_id_mode(int kv, int precision)
{
    /* [kv f16][bf16][fast]: "+kv-f16", then "+bf16", then "+fast" */
    static const char *const ids[2][2][2] = {
        {{ZT_ENGINE_ID, ZT_ENGINE_ID "+fast"}, {ZT_ENGINE_ID "+bf16", ZT_ENGINE_ID "+bf16+fast"}},
        {{ZT_ENGINE_ID "+kv-f16", ZT_ENGINE_ID "+kv-f16+fast"},
         {ZT_ENGINE_ID "+kv-f16+bf16", ZT_ENGINE_ID "+kv-f16+bf16+fast"}},
    };
    return ids[kv == ZT_GGML_F16][precision == ZT_PRECISION_BF16][atomic_load(&g_inexact) ? 1 : 0];
}

void zt_engine_mark_inexact(void)
{
    atomic_store(&g_inexact, true);
}

bool zt_engine_is_inexact(void)
{
    return atomic_load(&g_inexact);
}

int zt_engine_backend_built(const char *name, char *why, size_t why_size)
{
    for (size_t i = 0; i < zt__backend_count(); i++)
        if (!strcmp(zt__backend_at(i)->name, name)) return 0;
    char have[128] = "";
    size_t n = 0;
    for (size_t i = 0; i < zt__backend_count() && n < sizeof have; i++) {
        int w = snprintf(have + n, sizeof have - n, "%s%s", i ? " " : "", zt__backend_at(i)->name);
        if (w < 0) break;
        n += (size_t)w;
    }
    if (why && why_size) {
        if (!strcmp(name, "cuda"))
            snprintf(why, why_size, "compute backend 'cuda' is not built into this binary (nvcc was not found when "
                                    "it was built; built here: %s)", have);
        else
            snprintf(why, why_size, "compute backend '%s' is not built into this binary (built here: %s)", name, have);
    }
    return ZT_ENOTFOUND;
}

int zt_engine_gpus(struct zt_gpu_info *out, size_t cap, size_t *n)
{
    size_t total = 0;
    for (size_t i = 0; i < zt__backend_count(); i++) {
        const struct zt__backend_reg *r = zt__backend_at(i);
        if (!r->list) continue;
        size_t got = 0;
        int rc = r->list(total < cap ? out + total : NULL, total < cap ? cap - total : 0, &got);
        if (rc) return rc;
        total += got;
    }
    *n = total;
    return 0;
}

int zt_engine_probe(const char *backend, unsigned device, char *why, size_t why_size)
{
    struct zt__backend_params bp = {.n_threads = 1, .device = device, .exact = true};
    struct zt__backend *be = NULL;
    struct zt__buffer *b = NULL;
    float x[64], y[64];
    for (int i = 0; i < 64; i++) x[i] = (float)i * 0.5f - 3.0f;
    const char *step = "start";
    int rc = zt__backend_new(backend, &bp, &be);
    if (!rc) {
        step = "alloc";
        rc = be->ops->buffer_alloc(be, sizeof x, &b);
    }
    if (!rc) {
        step = "upload";
        rc = be->ops->buffer_set(be, b, 0, x, sizeof x);
    }
    struct zt__tensor t = zt__tensor_f32(b, 0, 64, 1);
    if (!rc) {
        step = "op";
        rc = be->ops->add(be, &t, &t, &t);
    }
    if (!rc) {
        step = "read back";
        rc = be->ops->buffer_get(be, b, 0, y, sizeof y);
    }
    for (int i = 0; !rc && i < 64; i++)
        if (y[i] != x[i] + x[i]) {
            step = "check";
            rc = ZT_EIO;
        }
    if (rc && why && why_size) snprintf(why, why_size, "health probe of %s device %u failed at %s: %s", backend,
                                        device, step, zt_strerror(rc));
    if (b) be->ops->buffer_free(be, b);
    zt__backend_free(be);
    return rc;
}
