/* backend.c: the list of compiled-in compute backends (backend.h). A new
 * backend adds its zt__backend_reg here, behind the build option that
 * compiles it; the CPU stays first (the default and the reference). */
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "zentalk/zt_log.h"

#ifdef ZT_HAVE_VULKAN
extern const struct zt__backend_reg zt__backend_vulkan_reg;
#endif
#ifdef ZT_HAVE_CUDA
extern const struct zt__backend_reg zt__backend_cuda_reg;
#endif

static const struct zt__backend_reg *const registry[] = {
    &zt__backend_cpu_reg,
#ifdef ZT_HAVE_VULKAN
    &zt__backend_vulkan_reg, /* src/engine/vulkan, when built (ZT_VULKAN) */
#endif
#ifdef ZT_HAVE_CUDA
    &zt__backend_cuda_reg, /* src/engine/cuda, when built (ZT_CUDA: nvcc found) */
#endif
};

size_t zt__backend_count(void) { return sizeof registry / sizeof registry[0]; }

const struct zt__backend_reg *zt__backend_at(size_t i)
{
    return i < zt__backend_count() ? registry[i] : NULL;
}

int zt__backend_new(const char *name, const struct zt__backend_params *p, struct zt__backend **out)
{
    if (!name) name = "cpu";
    struct zt__backend_params dflt = {.n_threads = 1};
    for (size_t i = 0; i < zt__backend_count(); i++)
        if (strcmp(registry[i]->name, name) == 0) return registry[i]->create(p ? p : &dflt, out);
    return ZT_ENOTFOUND;
}

void zt__backend_free(struct zt__backend *be)
{
    if (be) be->ops->free(be);
}

bool zt__backend_weight_type(enum zt_ggml_type type)
{
    switch (type) {
    case ZT_GGML_F32:
    case ZT_GGML_F16:
    case ZT_GGML_BF16:
    case ZT_GGML_Q8_0:
    case ZT_GGML_Q4_0:
    case ZT_GGML_Q4_K:
    case ZT_GGML_Q6_K: return true;
    default: return false;
    }
}

int zt__backend_check_weight(const struct zt__tensor *t, size_t buf_size, const char *who)
{
    if (!zt__backend_weight_type(t->type)) {
        zt_log(ZT_LOG_ERROR, who, "no kernel for %s weights", zt_ggml_type_name(t->type));
        return ZT_EUNSUPPORTED;
    }
    if ((t->type == ZT_GGML_F32 && (t->offset % 4 || t->nb1 % 4)) || t->offset % 2 || t->nb1 % 2) return ZT_EINVAL;
    if ((t->type == ZT_GGML_Q8_0 || t->type == ZT_GGML_Q4_0) && t->ne0 % 32) return ZT_EINVAL;
    if ((t->type == ZT_GGML_Q4_K || t->type == ZT_GGML_Q6_K) && t->ne0 % 256) return ZT_EINVAL;
    if (t->ne0 > UINT32_MAX || t->ne1 > UINT32_MAX) return ZT_ERANGE;
    if (t->ne1 && (t->offset > buf_size || (t->nb1 && t->ne1 > (buf_size - t->offset) / t->nb1))) return ZT_ERANGE;
    return 0;
}

int zt__backend_device_index(const char *env, const char *tag, unsigned want, unsigned *out)
{
    const char *v = getenv(env);
    if (v && *v) {
        char *end;
        unsigned long x = strtoul(v, &end, 10);
        if (*end || x > 1000) {
            zt_log(ZT_LOG_ERROR, tag, "%s=%s is not a device index", env, v);
            return ZT_EINVAL;
        }
        want = (unsigned)x;
    }
    *out = want;
    return 0;
}

bool zt__rope_fits(const struct zt__tensor *x, const struct zt__rope *p)
{
    return !(p->n_rot % 2 || p->n_rot > p->head_dim || p->inv_freq.ne0 < p->n_rot / 2 ||
             (size_t)p->n_heads * p->head_dim > x->ne0);
}

int zt__get_rows_check(const struct zt__tensor *src, const int32_t *ids, const struct zt__tensor *dst)
{
    if (dst->ne0 != src->ne0) return ZT_EINVAL;
    for (size_t b = 0; b < dst->ne1; b++)
        if (ids[b] < 0 || (size_t)ids[b] >= src->ne1) return ZT_ERANGE;
    return 0;
}

int zt__backend_fail_after(const char *env, long max)
{
    const char *v = getenv(env);
    if (!v || !*v) return -1;
    char *end;
    long x = strtol(v, &end, 10);
    return !*end && x >= 0 && x < max ? (int)x : -1;
}
