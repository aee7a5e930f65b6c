/* vulkan_backend.c: the Vulkan compute backend (backend.h,
 * docs/internals/vulkan.md). GLSL compute shaders (shaders/NAME.comp) are
 * compiled to SPIR-V at build time and embedded (vulkan_spv.c, generated).
 *
 * One instance holds one logical device with one compute queue. Buffers
 * are host-visible and coherent (device-local too when the device has such
 * memory: lavapipe, GPUs with resizable BAR), so uploads and downloads are
 * memcpy once the queue is idle; where device-local memory is never
 * host-visible (or with ZT_VULKAN_STAGING=1) they are device-only and
 * copied through a host-visible bounce buffer. Ops are recorded
 * into one command buffer, with a full memory barrier between commands, and
 * submitted with a fence when the engine reads or writes memory
 * (buffer_get / buffer_set / buffer_free) or a per-batch resource runs out.
 * Host arrays of an op (row ids, positions, RoPE cos/sin) go to a host-
 * visible arena that lives until that submission.
 *
 * Weight types: F32, F16, BF16, Q8_0, Q4_0, Q4_K, Q6_K, every type the CPU
 * has kernels for (supports() says no to any other: the model then refuses
 * to load naming the tensor and type). Exactness per op
 * is in docs/internals/vulkan.md: every op is written in the CPU's order;
 * in the deterministic mode (zt__backend_params.exact, on a device with
 * shaderFloat64) fma, division, sqrt and exp are the CPU's too and the
 * instance is `exact`; the fast mode uses the device's own. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>
#include <vulkan/vulkan.h>

#include "backend.h"
#include "zt_math.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"

/* ---- embedded SPIR-V (vulkan_spv.c) ------------------------------------------ */

#define SPV(name) extern const uint32_t zt__spv_##name[]; extern const size_t zt__spv_##name##_size;
SPV(matmul_f)
SPV(matmul_f_emu)
SPV(quant_q8)
SPV(quant_q8_emu)
SPV(matmul_q8)
SPV(matmul_q8_emu)
SPV(get_rows)
SPV(rmsnorm)
SPV(rmsnorm_emu)
SPV(binary)
SPV(binary_emu)
SPV(rope)
SPV(attention)
SPV(attention_emu)
SPV(quant_q8k)
SPV(quant_q8k_emu)
SPV(matmul_k)
SPV(matmul_k_emu)
#undef SPV

enum { P_MATMUL_F, P_QUANT_Q8, P_MATMUL_Q8, P_GET_ROWS, P_RMSNORM, P_BINARY, P_ROPE, P_ATTENTION,
       P_QUANT_Q8K, P_MATMUL_K, P_COUNT };

/* [p] = the shader compiled from <name>.comp: its name and SPIR-V, and for
 * the shaders with an fma, a division, a square root or an exp, the module
 * built with ZT_EXACT (<name>_emu: exact fma, division and sqrt emulated in
 * double, the engine's exp; common.glsl) that the deterministic mode uses
 * (it needs shaderFloat64). */
#define SHADER(p, name) [p] = {#name, zt__spv_##name, &zt__spv_##name##_size, NULL, NULL}
#define SHADER2(p, name)                                                                          \
    [p] = {#name, zt__spv_##name, &zt__spv_##name##_size, zt__spv_##name##_emu, &zt__spv_##name##_emu_size}
static const struct {
    const char *name;
    const uint32_t *code;
    const size_t *size;
    const uint32_t *code_exact;
    const size_t *size_exact;
} shaders[P_COUNT] = {
    SHADER2(P_MATMUL_F, matmul_f),
    SHADER2(P_QUANT_Q8, quant_q8),
    SHADER2(P_MATMUL_Q8, matmul_q8),
    SHADER(P_GET_ROWS, get_rows),
    SHADER2(P_RMSNORM, rmsnorm),
    SHADER2(P_BINARY, binary),
    SHADER(P_ROPE, rope),
    SHADER2(P_ATTENTION, attention),
    SHADER2(P_QUANT_Q8K, quant_q8k),
    SHADER2(P_MATMUL_K, matmul_k),
};
#undef SHADER
#undef SHADER2

#define N_BIND 6      /* storage-buffer bindings of every shader (common.glsl) */
#define N_PC 32       /* uint32 push constants */
#define MAX_SETS 1024 /* descriptor sets per submission */
#define LOCAL 64u     /* local_size_x of every shader */
#define ATTN_RUN 64   /* items per attention dispatch (bounds the score scratch) */

struct zt__buffer {
    VkBuffer buf;
    VkDeviceMemory mem;
    uint8_t *host; /* persistent mapping; NULL for device-only memory (staged) */
    size_t size;
};

struct vk {
    struct zt__backend base;
    pthread_mutex_t mu; /* everything below: ops, submissions, buffer lifetime */
    VkInstance inst;
    VkPhysicalDevice pd;
    VkDevice dev;
    VkQueue queue;
    uint32_t qfam;
    VkPhysicalDeviceMemoryProperties memp;
    VkDescriptorSetLayout dsl;
    VkPipelineLayout pl;
    VkPipeline pipe[P_COUNT];
    VkDescriptorPool dpool;
    uint32_t sets_used;
    VkCommandPool cpool;
    VkCommandBuffer cb;
    VkFence fence;
    bool recording; /* cb has commands not yet submitted */
    bool any_cmd;   /* a command was recorded since begin (barrier before the next) */
    bool det;       /* the deterministic mode: the ZT_EXACT pipelines (exact = true) */
    bool staging;   /* engine buffers in device-only memory, copied through `stage` */
    struct zt__buffer *stage; /* host-visible bounce buffer (staging mode) */
    struct zt__buffer *arena; /* per-submission host arrays */
    size_t arena_used;
    struct zt__buffer *scratch[2]; /* 0: quantised activations, 1: attention scores */
    struct zt__buffer *dummy;      /* bound to unused bindings */
    /* RoPE inverse frequencies read back once per table */
    const struct zt__buffer *rope_buf;
    size_t rope_off, rope_n;
    float *rope_inv;
    char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
    int fail_after; /* test hook (ZT_VULKAN_FAIL_AFTER): dispatches left before the device "fails"; -1 never */
    bool failed;    /* after the hook fired: every dispatch answers ZT_EIO */
};

static struct vk *vk_of(struct zt__backend *be) { return (struct vk *)be; }

static int vkfail(const char *what, VkResult r)
{
    zt_log(ZT_LOG_ERROR, "vulkan", "%s failed (VkResult %d)", what, (int)r);
    return r == VK_ERROR_OUT_OF_HOST_MEMORY || r == VK_ERROR_OUT_OF_DEVICE_MEMORY ? ZT_ENOMEM : ZT_EIO;
}

/* ---- buffers ----------------------------------------------------------------------- */

static int find_mem(const struct vk *v, uint32_t bits, VkMemoryPropertyFlags want, uint32_t *out)
{
    for (uint32_t i = 0; i < v->memp.memoryTypeCount; i++)
        if ((bits & (1u << i)) && (v->memp.memoryTypes[i].propertyFlags & want) == want) {
            *out = i;
            return 0;
        }
    return ZT_ENOTFOUND;
}

static void buf_destroy(struct vk *v, struct zt__buffer *b)
{
    if (!b) return;
    if (b->host) vkUnmapMemory(v->dev, b->mem);
    if (b->buf) vkDestroyBuffer(v->dev, b->buf, NULL);
    if (b->mem) vkFreeMemory(v->dev, b->mem, NULL);
    zt_free(b);
}

/* size bytes of storage: host-visible, coherent, mapped and zero-filled;
 * or, for a `device` buffer in staging mode, device-local and unmapped
 * (contents undefined: vk_buffer_alloc zero-fills on the device). Offsets
 * inside are addressed with 32-bit byte offsets by the shaders, hence the
 * 4 GiB cap. */
static int buf_create(struct vk *v, size_t size, bool device, struct zt__buffer **out)
{
    if (size > 0xfffffff0u) {
        zt_log(ZT_LOG_ERROR, "vulkan", "buffer of %zu bytes: over the 4 GiB a buffer may hold", size);
        return ZT_ETOOBIG;
    }
    size_t sz = (size + 3) & ~(size_t)3;
    if (sz == 0) sz = 4;
    struct zt__buffer *b = zt_calloc(1, sizeof *b);
    if (!b) return ZT_ENOMEM;
    b->size = size;
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = sz,
                             .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                      VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                             .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = vkCreateBuffer(v->dev, &bi, NULL, &b->buf);
    if (r != VK_SUCCESS) {
        zt_free(b);
        return vkfail("vkCreateBuffer", r);
    }
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(v->dev, b->buf, &req);
    uint32_t mt;
    VkMemoryPropertyFlags hv = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    bool mapped = !(device && v->staging) ||
                  find_mem(v, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, &mt) != 0;
    if (mapped && find_mem(v, req.memoryTypeBits, hv | VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, &mt) &&
        find_mem(v, req.memoryTypeBits, hv, &mt)) {
        zt_log(ZT_LOG_ERROR, "vulkan", "no host-visible coherent memory type for a storage buffer");
        buf_destroy(v, b);
        return ZT_EUNSUPPORTED;
    }
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size,
                               .memoryTypeIndex = mt};
    r = vkAllocateMemory(v->dev, &ai, NULL, &b->mem);
    if (r == VK_SUCCESS) r = vkBindBufferMemory(v->dev, b->buf, b->mem, 0);
    void *p = NULL;
    if (r == VK_SUCCESS && mapped) r = vkMapMemory(v->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &p);
    if (r != VK_SUCCESS) {
        buf_destroy(v, b);
        return vkfail("device memory allocation", r);
    }
    b->host = p;
    if (b->host) memset(b->host, 0, sz);
    *out = b;
    return 0;
}

/* ---- submission ------------------------------------------------------------------- */

/* Submit what was recorded and wait for it; resets the per-submission
 * resources (descriptor sets, arena). Caller holds mu. */
static int flush(struct vk *v)
{
    if (!v->recording) return 0;
    v->recording = false;
    v->any_cmd = false;
    VkResult r = vkEndCommandBuffer(v->cb);
    if (r != VK_SUCCESS) return vkfail("vkEndCommandBuffer", r);
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1, .pCommandBuffers = &v->cb};
    r = vkQueueSubmit(v->queue, 1, &si, v->fence);
    if (r != VK_SUCCESS) return vkfail("vkQueueSubmit", r);
    r = vkWaitForFences(v->dev, 1, &v->fence, VK_TRUE, UINT64_MAX);
    if (r != VK_SUCCESS) return vkfail("vkWaitForFences", r);
    vkResetFences(v->dev, 1, &v->fence);
    vkResetCommandPool(v->dev, v->cpool, 0);
    vkResetDescriptorPool(v->dev, v->dpool, 0);
    v->sets_used = 0;
    v->arena_used = 0;
    return 0;
}

static int begin(struct vk *v)
{
    if (v->recording) return 0;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VkResult r = vkBeginCommandBuffer(v->cb, &bi);
    if (r != VK_SUCCESS) return vkfail("vkBeginCommandBuffer", r);
    v->recording = true;
    v->any_cmd = false;
    return 0;
}

/* Every command sees the writes of the ones before (simple and safe; the
 * batching that matters here is one submission per decode). */
static void barrier(struct vk *v)
{
    if (v->any_cmd) {
        VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                              .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                              .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                                               VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT};
        vkCmdPipelineBarrier(v->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                             VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb, 0,
                             NULL, 0, NULL);
    }
    v->any_cmd = true;
}

/* Room for n descriptor sets in this submission (flushes when short): call
 * before arena_put / dispatch of an op, so that no flush drops its data. */
static int reserve(struct vk *v, uint32_t n)
{
    if (n > MAX_SETS) return ZT_ERANGE;
    return v->sets_used + n > MAX_SETS ? flush(v) : 0;
}

/* At least `bytes` of scratch slot i (flushes before replacing it). */
static int scratch(struct vk *v, int i, size_t bytes)
{
    if (v->scratch[i] && v->scratch[i]->size >= bytes) return 0;
    int rc = flush(v);
    if (rc) return rc;
    size_t want = v->scratch[i] ? v->scratch[i]->size * 2 : 1 << 16;
    if (want < bytes) want = bytes;
    struct zt__buffer *b;
    rc = buf_create(v, want, true, &b);
    if (rc) return rc;
    buf_destroy(v, v->scratch[i]);
    v->scratch[i] = b;
    return 0;
}

/* Copy host data into the arena; *off is its offset in uints. */
static int arena_put(struct vk *v, const void *src, size_t bytes, uint32_t *off)
{
    size_t need = (bytes + 3) & ~(size_t)3;
    if (v->arena_used + need > v->arena->size) {
        int rc = flush(v);
        if (rc) return rc;
        if (need > v->arena->size) {
            struct zt__buffer *b;
            rc = buf_create(v, need * 2, false, &b);
            if (rc) return rc;
            buf_destroy(v, v->arena);
            v->arena = b;
        }
    }
    memcpy(v->arena->host + v->arena_used, src, bytes);
    *off = (uint32_t)(v->arena_used / 4);
    v->arena_used += need;
    return 0;
}

/* ---- staging (device-only memory) ------------------------------------------------- */

#define STAGE_MAX ((size_t)64 << 20) /* bytes per bounce */

/* A bounce buffer of min(bytes, STAGE_MAX) at least; *chunk is its size. */
static int stage_for(struct vk *v, size_t bytes, size_t *chunk)
{
    size_t want = bytes < STAGE_MAX ? bytes : STAGE_MAX;
    if (!v->stage || v->stage->size < want) {
        struct zt__buffer *b;
        int rc = buf_create(v, want < ((size_t)1 << 16) ? (size_t)1 << 16 : want, false, &b);
        if (rc) return rc;
        buf_destroy(v, v->stage);
        v->stage = b;
    }
    *chunk = v->stage->size;
    return 0;
}

static int copy_cmd(struct vk *v, VkBuffer from, size_t from_off, VkBuffer to, size_t to_off, size_t n)
{
    int rc = begin(v);
    if (rc) return rc;
    barrier(v);
    VkBufferCopy c = {.srcOffset = from_off, .dstOffset = to_off, .size = n};
    vkCmdCopyBuffer(v->cb, from, to, 1, &c);
    return flush(v);
}

/* Host to buf (either kind of memory); waits for earlier work. Holds mu. */
static int upload(struct vk *v, struct zt__buffer *buf, size_t off, const void *src, size_t size)
{
    int rc = flush(v);
    if (rc || !size) return rc;
    if (buf->host) {
        memcpy(buf->host + off, src, size);
        return 0;
    }
    size_t chunk;
    rc = stage_for(v, size, &chunk);
    for (size_t done = 0; !rc && done < size; done += chunk) {
        size_t n = size - done < chunk ? size - done : chunk;
        memcpy(v->stage->host, (const uint8_t *)src + done, n);
        rc = copy_cmd(v, v->stage->buf, 0, buf->buf, off + done, n);
    }
    return rc;
}

/* buf to host; waits for earlier work. Holds mu. */
static int download(struct vk *v, const struct zt__buffer *buf, size_t off, void *dst, size_t size)
{
    int rc = flush(v);
    if (rc || !size) return rc;
    if (buf->host) {
        memcpy(dst, buf->host + off, size);
        return 0;
    }
    size_t chunk;
    rc = stage_for(v, size, &chunk);
    for (size_t done = 0; !rc && done < size; done += chunk) {
        size_t n = size - done < chunk ? size - done : chunk;
        rc = copy_cmd(v, buf->buf, off + done, v->stage->buf, 0, n);
        if (!rc) memcpy((uint8_t *)dst + done, v->stage->host, n);
    }
    return rc;
}

static uint32_t groups(size_t n) { return (uint32_t)((n + LOCAL - 1) / LOCAL); }

/* Record one dispatch of pipeline p over buffers b[] (NULL: unused). */
static int dispatch(struct vk *v, int p, struct zt__buffer *const b[N_BIND], const uint32_t pc[N_PC], uint32_t gx,
                    uint32_t gy)
{
    if (gx == 0 || gy == 0) return 0;
    if (gy > 65535 || gx > 65535) return ZT_ERANGE;
    if (v->failed) return ZT_EIO;
    if (v->fail_after >= 0 && v->fail_after-- == 0) {
        zt_log(ZT_LOG_ERROR, "vulkan", "%s failed (ZT_VULKAN_FAIL_AFTER test hook): the device answers errors from now on",
               shaders[p].name);
        v->failed = true;
        return ZT_EIO;
    }
    int rc = reserve(v, 1);
    if (!rc) rc = begin(v);
    if (rc) return rc;
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = v->dpool, .descriptorSetCount = 1, .pSetLayouts = &v->dsl};
    VkDescriptorSet set;
    VkResult r = vkAllocateDescriptorSets(v->dev, &ai, &set);
    if (r != VK_SUCCESS) return vkfail("vkAllocateDescriptorSets", r);
    v->sets_used++;
    VkDescriptorBufferInfo bi[N_BIND];
    VkWriteDescriptorSet w[N_BIND];
    for (int i = 0; i < N_BIND; i++) {
        const struct zt__buffer *x = b[i] ? b[i] : v->dummy;
        bi[i] = (VkDescriptorBufferInfo){.buffer = x->buf, .offset = 0, .range = VK_WHOLE_SIZE};
        w[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                      .dstBinding = (uint32_t)i, .descriptorCount = 1,
                                      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .pBufferInfo = &bi[i]};
    }
    vkUpdateDescriptorSets(v->dev, N_BIND, w, 0, NULL);
    barrier(v);
    vkCmdBindPipeline(v->cb, VK_PIPELINE_BIND_POINT_COMPUTE, v->pipe[p]);
    vkCmdBindDescriptorSets(v->cb, VK_PIPELINE_BIND_POINT_COMPUTE, v->pl, 0, 1, &set, 0, NULL);
    vkCmdPushConstants(v->cb, v->pl, VK_SHADER_STAGE_COMPUTE_BIT, 0, N_PC * sizeof(uint32_t), pc);
    vkCmdDispatch(v->cb, gx, gy, 1);
    return 0;
}

/* ---- tensor checks -------------------------------------------------------------------- */

static uint32_t f2u(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* F32 tensor: offset and row stride in floats, rows inside the buffer. */
static int f32_view(const struct zt__tensor *t, uint32_t *off, uint32_t *stride)
{
    if (t->type != ZT_GGML_F32 || t->offset % 4 || t->nb1 % 4) return ZT_EINVAL;
    if (t->ne1 && t->offset + (t->ne1 - 1) * t->nb1 + t->ne0 * 4 > t->buf->size) return ZT_ERANGE;
    *off = (uint32_t)(t->offset / 4);
    *stride = (uint32_t)(t->nb1 / 4);
    return 0;
}

static bool vk_supports(const struct zt__backend *be, enum zt_ggml_type type)
{
    (void)be;
    return zt__backend_weight_type(type);
}

static int weight_view(const struct zt__tensor *t)
{
    return zt__backend_check_weight(t, t->buf->size, "vulkan");
}

/* ---- memory ------------------------------------------------------------------------------- */

static int vk_buffer_alloc(struct zt__backend *be, size_t size, struct zt__buffer **out)
{
    struct vk *v = vk_of(be);
    pthread_mutex_lock(&v->mu);
    struct zt__buffer *b;
    int rc = buf_create(v, size, true, &b);
    if (!rc && !b->host) { /* device-only: zero it on the device, in order with the ops */
        rc = begin(v);
        if (!rc) {
            barrier(v);
            vkCmdFillBuffer(v->cb, b->buf, 0, VK_WHOLE_SIZE, 0);
        } else {
            buf_destroy(v, b);
        }
    }
    if (!rc) *out = b;
    pthread_mutex_unlock(&v->mu);
    return rc;
}

static void vk_buffer_free(struct zt__backend *be, struct zt__buffer *buf)
{
    if (!buf) return;
    struct vk *v = vk_of(be);
    pthread_mutex_lock(&v->mu);
    if (flush(v)) zt_log(ZT_LOG_WARN, "vulkan", "a submission failed before a buffer was freed");
    if (v->rope_buf == buf) v->rope_buf = NULL;
    buf_destroy(v, buf);
    pthread_mutex_unlock(&v->mu);
}

/* A mapped buffer is a device copy: unmapping it frees it. */
static void vk_buffer_unmap(struct zt__backend *be, struct zt__buffer *buf)
{
    vk_buffer_free(be, buf);
}

static int vk_buffer_map(struct zt__backend *be, const void *host, size_t size, struct zt__buffer **out)
{
    struct vk *v = vk_of(be);
    pthread_mutex_lock(&v->mu);
    struct zt__buffer *b;
    int rc = buf_create(v, size, true, &b);
    if (!rc) {
        rc = upload(v, b, 0, host, size);
        if (rc) buf_destroy(v, b);
        else *out = b;
    }
    pthread_mutex_unlock(&v->mu);
    return rc;
}

static int vk_buffer_set(struct zt__backend *be, struct zt__buffer *buf, size_t offset, const void *src,
                         size_t size)
{
    struct vk *v = vk_of(be);
    if (offset > buf->size || size > buf->size - offset) return ZT_ERANGE;
    pthread_mutex_lock(&v->mu);
    int rc = upload(v, buf, offset, src, size);
    if (v->rope_buf == buf) v->rope_buf = NULL;
    pthread_mutex_unlock(&v->mu);
    return rc;
}

static int vk_buffer_get(struct zt__backend *be, const struct zt__buffer *buf, size_t offset, void *dst,
                         size_t size)
{
    struct vk *v = vk_of(be);
    if (offset > buf->size || size > buf->size - offset) return ZT_ERANGE;
    pthread_mutex_lock(&v->mu);
    int rc = download(v, buf, offset, dst, size);
    pthread_mutex_unlock(&v->mu);
    return rc;
}

/* ---- ops -------------------------------------------------------------------------------------- */

#define LOCKED(v, call) ZT__BACKEND_LOCKED(&(v)->mu, call)

static int get_rows_locked(struct vk *v, const struct zt__tensor *src, const int32_t *ids,
                           const struct zt__tensor *dst)
{
    uint32_t doff, ds, ioff;
    int rc = weight_view(src);
    if (!rc) rc = f32_view(dst, &doff, &ds);
    if (!rc) rc = zt__get_rows_check(src, ids, dst);
    if (rc) return rc;
    rc = reserve(v, 1);
    if (!rc) rc = arena_put(v, ids, dst->ne1 * sizeof(int32_t), &ioff);
    if (rc) return rc;
    uint32_t pc[N_PC] = {(uint32_t)src->offset, (uint32_t)src->nb1, ioff, doff, ds, (uint32_t)src->ne0};
    switch (src->type) {
    case ZT_GGML_F32: pc[7] = 0; break;
    case ZT_GGML_F16: pc[7] = 1; break;
    case ZT_GGML_Q8_0: pc[7] = 2; break;
    case ZT_GGML_Q4_0: pc[7] = 3; break;
    case ZT_GGML_Q4_K: pc[7] = 5; break;
    case ZT_GGML_Q6_K: pc[7] = 6; break;
    default: pc[7] = 4; break; /* BF16 */
    }
    struct zt__buffer *b[N_BIND] = {src->buf, v->arena, dst->buf};
    return dispatch(v, P_GET_ROWS, b, pc, groups(src->ne0), (uint32_t)dst->ne1);
}

static int vk_get_rows(struct zt__backend *be, const struct zt__tensor *src, const int32_t *ids,
                       const struct zt__tensor *dst)
{
    struct vk *v = vk_of(be);
    LOCKED(v, get_rows_locked(v, src, ids, dst));
}

static int rmsnorm_locked(struct vk *v, const struct zt__tensor *x, const struct zt__tensor *g, float eps,
                          const struct zt__tensor *dst)
{
    uint32_t xo, xs, go, gs, d0, dstr;
    int rc = f32_view(x, &xo, &xs);
    if (!rc) rc = f32_view(g, &go, &gs);
    if (!rc) rc = f32_view(dst, &d0, &dstr);
    if (rc) return rc;
    uint32_t pc[N_PC] = {xo, xs, go, d0, dstr, (uint32_t)x->ne0, f2u(eps)};
    struct zt__buffer *b[N_BIND] = {x->buf, g->buf, dst->buf};
    return dispatch(v, P_RMSNORM, b, pc, (uint32_t)x->ne1, 1);
}

static int vk_rmsnorm(struct zt__backend *be, const struct zt__tensor *x, const struct zt__tensor *g, float eps,
                      const struct zt__tensor *dst)
{
    struct vk *v = vk_of(be);
    LOCKED(v, rmsnorm_locked(v, x, g, eps, dst));
}

/* add (kind 0) and swiglu (kind 1); b may be one row (broadcast) */
static int binary_locked(struct vk *v, const struct zt__tensor *a, const struct zt__tensor *bt,
                         const struct zt__tensor *dst, uint32_t kind)
{
    uint32_t ao, as, bo, bs, d0, ds;
    int rc = f32_view(a, &ao, &as);
    if (!rc) rc = f32_view(bt, &bo, &bs);
    if (!rc) rc = f32_view(dst, &d0, &ds);
    if (rc) return rc;
    if (bt->ne1 == 1 && a->ne1 != 1) bs = 0;
    uint32_t pc[N_PC] = {ao, as, bo, bs, d0, ds, (uint32_t)a->ne0, kind};
    struct zt__buffer *b[N_BIND] = {a->buf, bt->buf, dst->buf};
    return dispatch(v, P_BINARY, b, pc, groups(a->ne0), (uint32_t)a->ne1);
}

static int vk_add(struct zt__backend *be, const struct zt__tensor *a, const struct zt__tensor *b,
                  const struct zt__tensor *dst)
{
    struct vk *v = vk_of(be);
    LOCKED(v, binary_locked(v, a, b, dst, 0));
}

static int vk_swiglu(struct zt__backend *be, const struct zt__tensor *g, const struct zt__tensor *u,
                     const struct zt__tensor *dst)
{
    struct vk *v = vk_of(be);
    LOCKED(v, binary_locked(v, g, u, dst, 1));
}

static int matmul_locked(struct vk *v, const struct zt__tensor *w, const struct zt__tensor *x,
                         const struct zt__tensor *dst)
{
    uint32_t xo, xs, d0, ds;
    int rc = weight_view(w);
    if (!rc) rc = f32_view(x, &xo, &xs);
    if (!rc) rc = f32_view(dst, &d0, &ds);
    if (rc) return rc;
    if (x->ne0 != w->ne0) return ZT_EINVAL;
    uint32_t pc[N_PC] = {(uint32_t)w->offset, (uint32_t)w->nb1, xo, xs, d0, ds, (uint32_t)w->ne0,
                         (uint32_t)w->ne1, w->type == ZT_GGML_F16 ? 1u : w->type == ZT_GGML_BF16 ? 2u : 0u};
    if (w->type == ZT_GGML_Q4_K || w->type == ZT_GGML_Q6_K) {
        size_t nbk = w->ne0 / 256;
        rc = reserve(v, 2);
        if (!rc) rc = scratch(v, 0, nbk * 65 * 4 * (x->ne1 ? x->ne1 : 1));
        if (rc) return rc;
        pc[8] = w->type == ZT_GGML_Q6_K ? 1u : 0u;
        uint32_t qpc[N_PC] = {xo, xs, (uint32_t)w->ne0};
        struct zt__buffer *qb[N_BIND] = {x->buf, v->scratch[0]};
        rc = dispatch(v, P_QUANT_Q8K, qb, qpc, groups(nbk), (uint32_t)x->ne1);
        if (rc) return rc;
        struct zt__buffer *kb[N_BIND] = {w->buf, v->scratch[0], dst->buf};
        return dispatch(v, P_MATMUL_K, kb, pc, groups(w->ne1), (uint32_t)x->ne1);
    }
    if (w->type != ZT_GGML_Q8_0 && w->type != ZT_GGML_Q4_0) {
        struct zt__buffer *b[N_BIND] = {w->buf, x->buf, dst->buf};
        return dispatch(v, P_MATMUL_F, b, pc, groups(w->ne1), (uint32_t)x->ne1);
    }
    size_t nb = w->ne0 / 32;
    rc = reserve(v, 2);
    if (!rc) rc = scratch(v, 0, nb * 9 * 4 * (x->ne1 ? x->ne1 : 1));
    if (rc) return rc;
    pc[8] = w->type == ZT_GGML_Q4_0 ? 1u : 0u;
    uint32_t qpc[N_PC] = {xo, xs, (uint32_t)w->ne0, (uint32_t)x->ne1};
    struct zt__buffer *qb[N_BIND] = {x->buf, v->scratch[0]};
    rc = dispatch(v, P_QUANT_Q8, qb, qpc, groups(nb), (uint32_t)x->ne1);
    if (rc) return rc;
    struct zt__buffer *b[N_BIND] = {w->buf, v->scratch[0], dst->buf};
    return dispatch(v, P_MATMUL_Q8, b, pc, groups(w->ne1), (uint32_t)x->ne1);
}

static int vk_matmul(struct zt__backend *be, const struct zt__tensor *w, const struct zt__tensor *x,
                     const struct zt__tensor *dst)
{
    struct vk *v = vk_of(be);
    LOCKED(v, matmul_locked(v, w, x, dst));
}

/* cos/sin of every (row, i) on the host with the CPU's cosf/sinf, then the
 * rotation on the device: the same bits as the CPU. */
static int rope_locked(struct vk *v, const struct zt__tensor *x, const uint32_t *pos, const struct zt__rope *p)
{
    uint32_t xo, xs, io, is, toff;
    int rc = f32_view(x, &xo, &xs);
    if (!rc) rc = f32_view(&p->inv_freq, &io, &is);
    if (rc) return rc;
    if (!zt__rope_fits(x, p)) return ZT_EINVAL;
    uint32_t half = p->n_rot / 2;
    if (v->rope_buf != p->inv_freq.buf || v->rope_off != p->inv_freq.offset || v->rope_n != half) {
        float *inv = zt_malloc((half ? half : 1) * sizeof(float));
        if (!inv) return ZT_ENOMEM;
        /* waits for queued work: the table may be the result of an op */
        rc = download(v, p->inv_freq.buf, p->inv_freq.offset, inv, half * sizeof(float));
        if (rc) {
            zt_free(inv);
            return rc;
        }
        zt_free(v->rope_inv);
        v->rope_inv = inv;
        v->rope_buf = p->inv_freq.buf;
        v->rope_off = p->inv_freq.offset;
        v->rope_n = half;
    }
    size_t n = x->ne1, cells;
    if (zt_mul_size(n, (size_t)half * 2, &cells)) return ZT_ERANGE;
    float *tab = zt_malloc((cells ? cells : 1) * sizeof(float));
    if (!tab) return ZT_ENOMEM;
    for (size_t b = 0; b < n; b++) {
        float ps = (float)pos[b] * p->freq_scale;
        for (uint32_t i = 0; i < half; i++) {
            float theta = ps * v->rope_inv[i];
            zt__sincosf(theta, &tab[(b * half + i) * 2 + 1], &tab[(b * half + i) * 2]);
        }
    }
    rc = reserve(v, 1);
    if (!rc) rc = arena_put(v, tab, cells * sizeof(float), &toff);
    zt_free(tab);
    if (rc) return rc;
    uint32_t pc[N_PC] = {xo, xs, toff, half, p->n_heads, p->head_dim, p->neox ? 1u : 0u};
    struct zt__buffer *b[N_BIND] = {x->buf, v->arena};
    return dispatch(v, P_ROPE, b, pc, groups((size_t)half * p->n_heads), (uint32_t)n);
}

static int vk_rope(struct zt__backend *be, const struct zt__tensor *x, const uint32_t *pos, const struct zt__rope *p)
{
    struct vk *v = vk_of(be);
    LOCKED(v, rope_locked(v, x, pos, p));
}

static int copy_row(struct vk *v, const struct zt__tensor *src, size_t r, const struct zt__tensor *dst, size_t dr)
{
    uint32_t so, ss, d0, ds;
    int rc = f32_view(src, &so, &ss);
    if (!rc) rc = f32_view(dst, &d0, &ds);
    if (rc) return rc;
    if (dr >= dst->ne1 || r >= src->ne1 || dst->ne0 < src->ne0) return ZT_ERANGE;
    rc = begin(v);
    if (rc) return rc;
    barrier(v);
    VkBufferCopy c = {.srcOffset = src->offset + r * src->nb1, .dstOffset = dst->offset + dr * dst->nb1,
                      .size = src->ne0 * sizeof(float)};
    vkCmdCopyBuffer(v->cb, src->buf->buf, dst->buf->buf, 1, &c);
    return 0;
}

static int kv_store_locked(struct vk *v, const struct zt__tensor *k, const struct zt__tensor *vt,
                           const struct zt__kv_view *kv)
{
    for (size_t b = 0; b < k->ne1; b++) {
        int rc = copy_row(v, k, b, &kv[b].k, kv[b].pos);
        if (!rc) rc = copy_row(v, vt, b, &kv[b].v, kv[b].pos);
        if (rc) return rc;
    }
    return 0;
}

static int vk_kv_store(struct zt__backend *be, const struct zt__tensor *k, const struct zt__tensor *vt,
                       const struct zt__kv_view *kv)
{
    struct vk *v = vk_of(be);
    LOCKED(v, kv_store_locked(v, k, vt, kv));
}

static bool same_cache(const struct zt__kv_view *a, const struct zt__kv_view *b)
{
    return a->k.buf == b->k.buf && a->k.offset == b->k.offset && a->k.nb1 == b->k.nb1 && a->v.buf == b->v.buf &&
           a->v.offset == b->v.offset && a->v.nb1 == b->v.nb1;
}

/* Items are grouped into runs that share one cache (a prompt's rows), at
 * most ATTN_RUN per dispatch; the scores of a run live in scratch slot 1. */
static int attention_locked(struct vk *v, const struct zt__tensor *q, const struct zt__kv_view *kv,
                            const struct zt__attn *p, const struct zt__tensor *dst)
{
    uint32_t qo, qs, d0, ds, poff;
    int rc = f32_view(q, &qo, &qs);
    if (!rc) rc = f32_view(dst, &d0, &ds);
    if (rc) return rc;
    size_t n = q->ne1;
    if (!n) return 0;
    if (!p->n_head_kv || p->n_head % p->n_head_kv || (size_t)p->n_head * p->head_dim > q->ne0) return ZT_EINVAL;
    uint32_t max_pos = 0, runs = 0;
    for (size_t b = 0; b < n; b++) {
        if (kv[b].pos >= kv[b].k.ne1 || kv[b].pos >= kv[b].v.ne1) return ZT_ERANGE;
        if (kv[b].pos + 1 > max_pos) max_pos = kv[b].pos + 1;
        if (b == 0 || !same_cache(&kv[b], &kv[b - 1])) runs++;
    }
    runs += (uint32_t)(n / ATTN_RUN);
    uint32_t *pos = zt_malloc(n * sizeof(uint32_t));
    if (!pos) return ZT_ENOMEM;
    for (size_t b = 0; b < n; b++) pos[b] = kv[b].pos;
    size_t sbytes = (size_t)ATTN_RUN * p->n_head * max_pos * sizeof(float);
    rc = reserve(v, runs);
    if (!rc) rc = scratch(v, 1, sbytes);
    if (!rc) rc = arena_put(v, pos, n * sizeof(uint32_t), &poff);
    zt_free(pos);
    if (rc) return rc;
    for (size_t b0 = 0; b0 < n;) {
        size_t b1 = b0 + 1;
        while (b1 < n && b1 - b0 < ATTN_RUN && same_cache(&kv[b1], &kv[b0])) b1++;
        uint32_t ko, ks, vo, vs;
        rc = f32_view(&kv[b0].k, &ko, &ks);
        if (!rc) rc = f32_view(&kv[b0].v, &vo, &vs);
        if (rc) return rc;
        uint32_t pc[N_PC] = {qo + (uint32_t)b0 * qs, qs, ko, ks, vo, vs, d0 + (uint32_t)b0 * ds, ds,
                             poff + (uint32_t)b0, max_pos, p->n_head, p->n_head / p->n_head_kv, p->head_dim,
                             f2u(1.0f / sqrtf((float)p->head_dim))};
        struct zt__buffer *b[N_BIND] = {q->buf, kv[b0].k.buf, kv[b0].v.buf, dst->buf, v->arena, v->scratch[1]};
        rc = dispatch(v, P_ATTENTION, b, pc, p->n_head, (uint32_t)(b1 - b0));
        if (rc) return rc;
        b0 = b1;
    }
    return 0;
}

static int vk_attention(struct zt__backend *be, const struct zt__tensor *q, const struct zt__kv_view *kv,
                        const struct zt__attn *p, const struct zt__tensor *dst)
{
    struct vk *v = vk_of(be);
    LOCKED(v, attention_locked(v, q, kv, p, dst));
}

/* ---- lifecycle -------------------------------------------------------------------------------- */

static int vk_set_threads(struct zt__backend *be, unsigned n_threads)
{
    (void)be;
    return n_threads < 1 || n_threads > 256 ? ZT_EINVAL : 0; /* the device decides its own parallelism */
}

static void vk_free(struct zt__backend *be)
{
    struct vk *v = vk_of(be);
    if (v->dev) {
        if (flush(v)) zt_log(ZT_LOG_WARN, "vulkan", "the last submission failed");
        vkDeviceWaitIdle(v->dev);
        buf_destroy(v, v->arena);
        buf_destroy(v, v->scratch[0]);
        buf_destroy(v, v->scratch[1]);
        buf_destroy(v, v->dummy);
        buf_destroy(v, v->stage);
        for (int i = 0; i < P_COUNT; i++)
            if (v->pipe[i]) vkDestroyPipeline(v->dev, v->pipe[i], NULL);
        if (v->pl) vkDestroyPipelineLayout(v->dev, v->pl, NULL);
        if (v->dsl) vkDestroyDescriptorSetLayout(v->dev, v->dsl, NULL);
        if (v->dpool) vkDestroyDescriptorPool(v->dev, v->dpool, NULL);
        if (v->fence) vkDestroyFence(v->dev, v->fence, NULL);
        if (v->cpool) vkDestroyCommandPool(v->dev, v->cpool, NULL);
        vkDestroyDevice(v->dev, NULL);
    }
    if (v->inst) vkDestroyInstance(v->inst, NULL);
    zt_free(v->rope_inv);
    pthread_mutex_destroy(&v->mu);
    zt_free(v);
}

static const struct zt__backend_ops vk_ops;

/* Instance and physical device: ZT_VULKAN_DEVICE (an index into the
 * loader's list) overrides params->device. ZT_ENOTFOUND when there is none. */
static int pick_device(struct vk *v, unsigned want)
{
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "zentalk",
                             .pEngineName = "zentalk", .apiVersion = VK_API_VERSION_1_1};
    VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
    VkResult r = vkCreateInstance(&ici, NULL, &v->inst);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED) {
        zt_log(ZT_LOG_INFO, "vulkan", "no Vulkan device (no driver: VkResult %d)", (int)r);
        return ZT_ENOTFOUND;
    }
    if (r != VK_SUCCESS) return vkfail("vkCreateInstance", r);
    uint32_t n = 0;
    r = vkEnumeratePhysicalDevices(v->inst, &n, NULL);
    if (r != VK_SUCCESS) return vkfail("vkEnumeratePhysicalDevices", r);
    if (n == 0) {
        zt_log(ZT_LOG_INFO, "vulkan", "no Vulkan device");
        return ZT_ENOTFOUND;
    }
    if (zt__backend_device_index("ZT_VULKAN_DEVICE", "vulkan", want, &want) != 0) return ZT_EINVAL;
    if (want >= n) {
        zt_log(ZT_LOG_ERROR, "vulkan", "no Vulkan device %u (this machine has %u)", want, n);
        return ZT_ENOTFOUND;
    }
    VkPhysicalDevice *pds = zt_calloc(n, sizeof *pds);
    if (!pds) return ZT_ENOMEM;
    r = vkEnumeratePhysicalDevices(v->inst, &n, pds);
    if (r == VK_SUCCESS || r == VK_INCOMPLETE) v->pd = pds[want < n ? want : 0];
    zt_free(pds);
    if (!v->pd) return vkfail("vkEnumeratePhysicalDevices", r);
    VkPhysicalDeviceProperties props;
    vkGetPhysicalDeviceProperties(v->pd, &props);
    snprintf(v->name, sizeof v->name, "%s", props.deviceName);
    vkGetPhysicalDeviceMemoryProperties(v->pd, &v->memp);
    uint32_t nq = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(v->pd, &nq, NULL);
    VkQueueFamilyProperties qf[16];
    if (nq > 16) nq = 16;
    vkGetPhysicalDeviceQueueFamilyProperties(v->pd, &nq, qf);
    for (v->qfam = 0; v->qfam < nq; v->qfam++)
        if (qf[v->qfam].queueFlags & VK_QUEUE_COMPUTE_BIT) break;
    if (v->qfam == nq) {
        zt_log(ZT_LOG_ERROR, "vulkan", "device %u (%s) has no compute queue", want, v->name);
        return ZT_EUNSUPPORTED;
    }
    return 0;
}

static int make_pipelines(struct vk *v)
{
    VkDescriptorSetLayoutBinding lb[N_BIND];
    for (uint32_t i = 0; i < N_BIND; i++)
        lb[i] = (VkDescriptorSetLayoutBinding){.binding = i, .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                               .descriptorCount = 1, .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkDescriptorSetLayoutCreateInfo dli = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                           .bindingCount = N_BIND, .pBindings = lb};
    VkResult r = vkCreateDescriptorSetLayout(v->dev, &dli, NULL, &v->dsl);
    if (r != VK_SUCCESS) return vkfail("vkCreateDescriptorSetLayout", r);
    VkPushConstantRange pcr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .size = N_PC * sizeof(uint32_t)};
    VkPipelineLayoutCreateInfo pli = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO, .setLayoutCount = 1,
                                      .pSetLayouts = &v->dsl, .pushConstantRangeCount = 1,
                                      .pPushConstantRanges = &pcr};
    r = vkCreatePipelineLayout(v->dev, &pli, NULL, &v->pl);
    if (r != VK_SUCCESS) return vkfail("vkCreatePipelineLayout", r);
    for (int i = 0; i < P_COUNT; i++) {
        bool ex = v->det && shaders[i].code_exact;
        VkShaderModuleCreateInfo smi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                        .codeSize = ex ? *shaders[i].size_exact : *shaders[i].size,
                                        .pCode = ex ? shaders[i].code_exact : shaders[i].code};
        VkShaderModule sm;
        r = vkCreateShaderModule(v->dev, &smi, NULL, &sm);
        if (r != VK_SUCCESS) return vkfail(shaders[i].name, r);
        VkComputePipelineCreateInfo cpi = {
            .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
            .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                      .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = sm, .pName = "main"},
            .layout = v->pl};
        r = vkCreateComputePipelines(v->dev, VK_NULL_HANDLE, 1, &cpi, NULL, &v->pipe[i]);
        vkDestroyShaderModule(v->dev, sm, NULL);
        if (r != VK_SUCCESS) return vkfail(shaders[i].name, r);
    }
    return 0;
}

static int vk_create(const struct zt__backend_params *p, struct zt__backend **out)
{
    struct vk *v = zt_calloc(1, sizeof *v);
    if (!v) return ZT_ENOMEM;
    pthread_mutex_init(&v->mu, NULL);
    v->base.ops = &vk_ops;
    v->base.exact = false;
    v->fail_after = zt__backend_fail_after("ZT_VULKAN_FAIL_AFTER", 100000000);
    int rc = pick_device(v, p->device);
    if (rc) goto out;
    /* The deterministic mode (p->exact: the CPU's bits on every op) emulates
     * fma, division and sqrt exactly in double, so it needs shaderFloat64;
     * without it the instance runs in the fast mode and says so (exact =
     * false). The fast mode uses the device's fma, division, sqrt and exp. */
    VkPhysicalDeviceFeatures have;
    vkGetPhysicalDeviceFeatures(v->pd, &have);
    v->det = p->exact && have.shaderFloat64;
    if (p->exact && !have.shaderFloat64)
        zt_log(ZT_LOG_WARN, "vulkan", "device %s has no shaderFloat64: no deterministic mode, results within tolerance",
               v->name);
    v->base.exact = v->det;
    VkPhysicalDeviceFeatures feat = {.shaderFloat64 = v->det ? VK_TRUE : VK_FALSE};
    /* staging: when device-local memory is never host-visible (a discrete
     * GPU without resizable BAR), or forced with ZT_VULKAN_STAGING=1 */
    bool dl = false, dl_hv = false;
    for (uint32_t i = 0; i < v->memp.memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = v->memp.memoryTypes[i].propertyFlags;
        if (f & VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT) {
            dl = true;
            if ((f & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) && (f & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT)) dl_hv = true;
        }
    }
    const char *senv = getenv("ZT_VULKAN_STAGING");
    v->staging = (dl && !dl_hv) || (senv && !strcmp(senv, "1"));
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, .queueFamilyIndex = v->qfam,
                                   .queueCount = 1, .pQueuePriorities = &prio};
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci, .pEnabledFeatures = &feat};
    VkResult r = vkCreateDevice(v->pd, &dci, NULL, &v->dev);
    if (r != VK_SUCCESS) {
        rc = vkfail("vkCreateDevice", r);
        goto out;
    }
    vkGetDeviceQueue(v->dev, v->qfam, 0, &v->queue);
    VkCommandPoolCreateInfo cpi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .queueFamilyIndex = v->qfam};
    r = vkCreateCommandPool(v->dev, &cpi, NULL, &v->cpool);
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = v->cpool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
    if (r == VK_SUCCESS) r = vkAllocateCommandBuffers(v->dev, &cai, &v->cb);
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (r == VK_SUCCESS) r = vkCreateFence(v->dev, &fci, NULL, &v->fence);
    VkDescriptorPoolSize ps = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = MAX_SETS * N_BIND};
    VkDescriptorPoolCreateInfo dpi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = MAX_SETS,
                                      .poolSizeCount = 1, .pPoolSizes = &ps};
    if (r == VK_SUCCESS) r = vkCreateDescriptorPool(v->dev, &dpi, NULL, &v->dpool);
    if (r != VK_SUCCESS) {
        rc = vkfail("command pool, fence or descriptor pool", r);
        goto out;
    }
    rc = make_pipelines(v);
    if (!rc) rc = buf_create(v, 16, false, &v->dummy);
    if (!rc) rc = buf_create(v, 1 << 16, false, &v->arena);
    if (rc) goto out;
    zt_log(ZT_LOG_DEBUG, "vulkan", "device=\"%s\" mode=%s memory=%s", v->name, v->det ? "deterministic" : "fast",
           v->staging ? "device+staging" : "host-visible");
    *out = &v->base;
    return 0;
out:
    vk_free(&v->base);
    return rc;
}

static const struct zt__backend_ops vk_ops = ZT__BACKEND_OPS(vk, "vulkan");

/* Whether physical device pd offers device extension `name`. */
static bool has_ext(VkPhysicalDevice pd, const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(pd, NULL, &n, NULL) != VK_SUCCESS || n == 0) return false;
    VkExtensionProperties *e = zt_calloc(n, sizeof *e);
    if (!e) return false;
    bool found = false;
    VkResult r = vkEnumerateDeviceExtensionProperties(pd, NULL, &n, e);
    for (uint32_t i = 0; (r == VK_SUCCESS || r == VK_INCOMPLETE) && i < n && !found; i++)
        found = !strcmp(e[i].extensionName, name);
    zt_free(e);
    return found;
}

/* g's free memory from VK_EXT_memory_budget: heapBudget - heapUsage of
 * heap h (the largest device-local one). A driver without the extension,
 * or one that lists it and fills in a zero budget, reports nothing. */
static void vk_free_mem(VkPhysicalDevice pd, uint32_t h, struct zt_gpu_info *g)
{
    if (!has_ext(pd, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME)) {
        snprintf(g->free_from, sizeof g->free_from, "none: no VK_EXT_memory_budget");
        return;
    }
    VkPhysicalDeviceMemoryBudgetPropertiesEXT bp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT};
    VkPhysicalDeviceMemoryProperties2 mp = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2,
                                            .pNext = &bp};
    vkGetPhysicalDeviceMemoryProperties2(pd, &mp);
    if (h >= mp.memoryProperties.memoryHeapCount || bp.heapBudget[h] == 0) {
        snprintf(g->free_from, sizeof g->free_from, "none: VK_EXT_memory_budget gave no budget");
        return;
    }
    uint64_t f = bp.heapBudget[h] > bp.heapUsage[h] ? bp.heapBudget[h] - bp.heapUsage[h] : 0;
    g->free_mb = f / (1024 * 1024);
    g->has_free = true;
    snprintf(g->free_from, sizeof g->free_from, "VK_EXT_memory_budget");
}

/* The physical devices the loader lists, for `zentalk gpus`. */
static int vk_list(struct zt_gpu_info *out, size_t cap, size_t *n)
{
    *n = 0;
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "zentalk",
                             .pEngineName = "zentalk", .apiVersion = VK_API_VERSION_1_1};
    VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
    VkInstance inst;
    if (vkCreateInstance(&ici, NULL, &inst) != VK_SUCCESS) return 0; /* no driver: no devices */
    uint32_t count = 0;
    VkPhysicalDevice pds[16];
    if (vkEnumeratePhysicalDevices(inst, &count, NULL) == VK_SUCCESS && count) {
        if (count > 16) count = 16;
        VkResult r = vkEnumeratePhysicalDevices(inst, &count, pds);
        if (r != VK_SUCCESS && r != VK_INCOMPLETE) count = 0;
    }
    static const char *const types[] = {"other", "integrated", "discrete", "virtual", "cpu"};
    for (uint32_t i = 0; i < count && i < cap; i++) {
        VkPhysicalDeviceProperties props;
        VkPhysicalDeviceFeatures feat;
        VkPhysicalDeviceMemoryProperties mem;
        vkGetPhysicalDeviceProperties(pds[i], &props);
        vkGetPhysicalDeviceFeatures(pds[i], &feat);
        vkGetPhysicalDeviceMemoryProperties(pds[i], &mem);
        struct zt_gpu_info *g = &out[i];
        memset(g, 0, sizeof *g);
        snprintf(g->backend, sizeof g->backend, "vulkan");
        g->index = i;
        snprintf(g->name, sizeof g->name, "%s", props.deviceName);
        snprintf(g->type, sizeof g->type, "%s", props.deviceType <= 4 ? types[props.deviceType] : "other");
        uint32_t heap = UINT32_MAX;
        for (uint32_t h = 0; h < mem.memoryHeapCount; h++)
            if ((mem.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
                mem.memoryHeaps[h].size / (1024 * 1024) > g->memory_mb) {
                g->memory_mb = mem.memoryHeaps[h].size / (1024 * 1024);
                heap = h;
            }
        if (props.apiVersion >= VK_API_VERSION_1_1) vk_free_mem(pds[i], heap, g);
        else snprintf(g->free_from, sizeof g->free_from, "none: a Vulkan 1.0 device");
        g->deterministic = feat.shaderFloat64;
        snprintf(g->api, sizeof g->api, "%u.%u.%u", VK_API_VERSION_MAJOR(props.apiVersion),
                 VK_API_VERSION_MINOR(props.apiVersion), VK_API_VERSION_PATCH(props.apiVersion));
    }
    *n = count;
    vkDestroyInstance(inst, NULL);
    return 0;
}

const struct zt__backend_reg zt__backend_vulkan_reg = {
    .name = "vulkan",
    .create = vk_create,
    .list = vk_list,
};
