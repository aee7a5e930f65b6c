/* backend.c: the list of compiled-in compute backends (backend.h). A new
 * backend adds its zt__backend_reg here, behind the build option that
 * compiles it; the CPU stays first (the default and the reference). */
#include <string.h>

#include "backend.h"

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
