/* engine.c: engine-wide identity. */
#include "zentalk/zt_engine.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_version.h"

const char *zt_engine_build_id(void)
{
    /* Receipts name the engine build: outputs are only comparable between
     * workers running the same kernels. */
    return "zentalk-engine/" ZT_VERSION "+" ZT_GIT_COMMIT;
}

const char *zt_engine_build_id_kv(int kv)
{
    return kv == ZT_GGML_F16 ? "zentalk-engine/" ZT_VERSION "+" ZT_GIT_COMMIT "+kv-f16" : zt_engine_build_id();
}
