/* test_cuda_math.c: the element-level arithmetic of the CUDA kernels
 * (src/engine/cuda/kernels_math.h) compiled for the host, bit for bit
 * against the CPU engine, so that a machine without a GPU checks what the
 * CUDA backend's deterministic mode rests on: the fp16 conversions (every
 * half, a sweep of floats), the engine's exp and sin/cos (sweeps), weight
 * decoding of every type (random rows against zt_dequant_row) and the
 * activation quantiser (random rows against zt_quant_activations), and the
 * matrix products' canonical lanes folded as the kernels fold them
 * (against zt_quant_vec_dot, every type), and rmsnorm, swiglu, rope and
 * attention per thread against the CPU backend's ops. On the
 * device the same functions use round-to-nearest intrinsics, operation for
 * operation (kernels_math.h); what this cannot check is the device's own
 * arithmetic and the kernels' thread layout: scripts/cuda_check.sh does, on
 * a GPU. Runs in every build (it needs no CUDA toolkit). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/engine/backend.h"
#include "../../src/engine/cuda/kernels_math.h"
#include "../../src/engine/zt_math.h"
#include "zentalk/zt_quant.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

static uint32_t bits(float f) { return zt__f32_u(f); }

static void test_half(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 65536; h++) {
        float want = zt_fp16_to_fp32((uint16_t)h), got = half_to_float(h);
        if (bits(want) != bits(got)) fail_msg("half %04x: %08x, CPU %08x", h, bits(got), bits(want));
    }
    for (uint64_t u = 0; u < 0x100000000ull; u += 4099) {
        float f = zt__f32_bits((uint32_t)u);
        uint32_t want = zt_fp32_to_fp16(f), got = float_to_half(f);
        if (want != got) fail_msg("float %08x: half %04x, CPU %04x", (uint32_t)u, got, want);
    }
}

static void test_exp_sincos(void **state)
{
    (void)state;
    size_t n = 0;
    for (uint64_t u = 0; u < 0x100000000ull; u += 1021) {
        float x = zt__f32_bits((uint32_t)u);
        float want = zt__expf(x), got = zt_expf(x);
        if (bits(want) != bits(got) && !(want != want && got != got))
            fail_msg("exp(%a): %08x, CPU %08x", (double)x, bits(got), bits(want));
        n++;
    }
    for (uint64_t u = 0; u < 0x100000000ull; u += 211) {
        float x = zt__f32_bits((uint32_t)u);
        if (!(x > -1.6e6f && x < 1.6e6f)) continue;
        float s0, c0, s1, c1;
        zt__sincosf(x, &s0, &c0);
        zt_sincosf(x, &s1, &c1);
        if (bits(s0) != bits(s1) || bits(c0) != bits(c1)) fail_msg("sincos(%a) differs", (double)x);
    }
    printf("exp on %zu floats, sin/cos on every 211th float below 1.6e6: the CPU's bits\n", n);
}

static uint64_t rng = 0x1234567887654321ull;
static float rnd(void)
{
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return (float)(rng >> 40) / 16777216.0f * 4.0f - 2.0f;
}

static void test_decode(void **state)
{
    (void)state;
    static const struct {
        enum zt_ggml_type t;
        uint32_t cu;
    } types[] = {{ZT_GGML_F32, ZT_CU_F32},   {ZT_GGML_F16, ZT_CU_F16},   {ZT_GGML_BF16, ZT_CU_BF16},
                 {ZT_GGML_Q8_0, ZT_CU_Q8_0}, {ZT_GGML_Q4_0, ZT_CU_Q4_0}, {ZT_GGML_Q4_K, ZT_CU_Q4_K},
                 {ZT_GGML_Q6_K, ZT_CU_Q6_K}};
    enum { N = 1024 };
    float x[N], want[N];
    uint8_t row[N * 4];
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
        for (int rep = 0; rep < 20; rep++) {
            for (size_t i = 0; i < N; i++) x[i] = rnd() * (rep % 3 ? 1.0f : 1e-3f);
            assert_int_equal(zt_quant_row(types[k].t, x, row, N), 0);
            assert_int_equal(zt_dequant_row(types[k].t, row, want, N), 0);
            for (uint32_t i = 0; i < N; i++) {
                float got = decode(row, types[k].cu, i);
                if (bits(got) != bits(want[i]))
                    fail_msg("%s element %u: %a, CPU %a", zt_ggml_type_name(types[k].t), i, (double)got,
                             (double)want[i]);
            }
        }
}

static void test_quant(void **state)
{
    (void)state;
    enum { N = 512 };
    float x[N];
    struct zt_block_q8_0 q0[N / 32];
    struct zt_block_q8_k qk[N / 256];
    uint32_t o[65];
    for (int rep = 0; rep < 50; rep++) {
        for (size_t i = 0; i < N; i++) x[i] = rnd() * (rep % 5 ? 1.0f : 1e-30f);
        if (rep == 7) x[3] = 0.0f / 0.0f; /* NaN: code -127, as the CPU */
        if (rep == 8) memset(x, 0, sizeof x);
        assert_int_equal(zt_quant_activations(ZT_GGML_Q8_0, x, q0, N), 0);
        for (uint32_t b = 0; b < N / 32; b++) {
            quant_block(x + 32 * b, 32, 1, o);
            assert_int_equal(o[0], bits(zt_fp16_to_fp32(q0[b].d)));
            assert_memory_equal(&o[1], q0[b].qs, 32);
        }
        assert_int_equal(zt_quant_activations(ZT_GGML_Q4_K, x, qk, N), 0);
        for (uint32_t b = 0; b < N / 256; b++) {
            quant_block(x + 256 * b, 256, 0, o);
            assert_int_equal(o[0], bits(qk[b].d));
            assert_memory_equal(&o[1], qk[b].qs, 256);
        }
    }
}

/* The matrix-product lanes of the kernels (mm_f_lane, mm_q8_part + mm_q8_step,
 * mm_k_part + mm_k_step) folded as the kernels' shuffles fold them (lane
 * l += lane l + h, h halving): the CPU's zt_quant_vec_dot bits, for every
 * weight type, 1 to 4 activation rows per tile, lengths with partial lane
 * rounds and odd block counts. */
static void test_matmul_lanes(void **state)
{
    (void)state;
    static const enum zt_ggml_type types[] = {ZT_GGML_F32,  ZT_GGML_F16,  ZT_GGML_BF16, ZT_GGML_Q8_0,
                                              ZT_GGML_Q4_0, ZT_GGML_Q4_K, ZT_GGML_Q6_K};
    static const uint32_t cu[] = {ZT_CU_F32, ZT_CU_F16, ZT_CU_BF16, ZT_CU_Q8_0, ZT_CU_Q4_0, ZT_CU_Q4_K, ZT_CU_Q6_K};
    enum { NMAX = 1280 };
    static float x[4 * NMAX], lanes[32][4];
    static uint8_t w[NMAX * 4], xcpu[NMAX * 4];
    static uint32_t xq[4 * (NMAX / 32) * 65];
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        enum zt_ggml_type t = types[ti];
        bool kq = t == ZT_GGML_Q4_K || t == ZT_GGML_Q6_K, q8 = t == ZT_GGML_Q8_0 || t == ZT_GGML_Q4_0;
        static const uint32_t lens_f[] = {7, 32, 96, 1000}, lens_q8[] = {32, 160, 416, 1280}, lens_k[] = {256, 512, 768, 1280};
        const uint32_t *lens = kq ? lens_k : q8 ? lens_q8 : lens_f;
        for (int li = 0; li < 4; li++)
            for (uint32_t nbt = 1; nbt <= 4; nbt++) {
                uint32_t n = lens[li];
                for (uint32_t i = 0; i < NMAX; i++) x[i] = rnd();
                assert_int_equal(zt_quant_row(t, x, w, n), 0);
                for (uint32_t i = 0; i < 4 * n; i++) x[i] = rnd() * 2.0f;
                uint32_t blk = kq ? 256u : 32u, words = kq ? 65u : 9u, nb = n / blk;
                if (kq || q8)
                    for (uint32_t c = 0; c < nbt; c++)
                        for (uint32_t b = 0; b < nb; b++)
                            quant_block(x + c * n + b * blk, blk, !kq, xq + ((size_t)c * nb + b) * words);
                memset(lanes, 0, sizeof lanes);
                uint32_t nl = kq || q8 ? 8 : 32;
                if (q8) {
                    /* block k's 4 parts summed (the kernel's xor shuffles),
                     * then lane k % 8's float step */
                    for (uint32_t k = 0; k < nb; k++) {
                        int s[4] = {0, 0, 0, 0};
                        float wd = 0;
                        for (uint32_t th = 0; th < 4; th++) {
                            int p[4];
                            mm_q8_part(w + (size_t)k * (t == ZT_GGML_Q8_0 ? 34 : 18), cu[ti], xq, nb, k, nbt, th, p, &wd);
                            for (int c = 0; c < 4; c++) s[c] += p[c];
                        }
                        for (uint32_t c = 0; c < nbt; c++)
                            lanes[k % 8][c] = mm_q8_step(lanes[k % 8][c], wd, zt__f32_bits(xq[((size_t)c * nb + k) * 9]), s[c]);
                    }
                } else if (kq) {
                    for (uint32_t k = 0; k < nb; k++) {
                        int is[4] = {0, 0, 0, 0}, ms[4] = {0, 0, 0, 0};
                        float wd = 0, wdmin = 0;
                        for (uint32_t th = 0; th < 32; th++) {
                            int pi[4], pm[4];
                            mm_k_part(w + (size_t)k * (t == ZT_GGML_Q6_K ? 210 : 144), t == ZT_GGML_Q6_K, xq, nb, k,
                                      nbt, th, pi, pm, &wd, &wdmin);
                            for (int c = 0; c < 4; c++) {
                                is[c] += pi[c];
                                ms[c] += pm[c];
                            }
                        }
                        for (uint32_t c = 0; c < nbt; c++)
                            lanes[k % 8][c] = mm_k_step(lanes[k % 8][c], wd, wdmin, zt__f32_bits(xq[((size_t)c * nb + k) * 65]),
                                                        t == ZT_GGML_Q6_K, is[c], ms[c]);
                    }
                } else {
                    for (uint32_t l = 0; l < nl; l++) mm_f_lane(w, cu[ti], x, n, nbt, n, l, lanes[l]);
                }
                for (uint32_t h = nl / 2; h > 0; h >>= 1)
                    for (uint32_t l = 0; l < h; l++)
                        for (int c = 0; c < 4; c++) lanes[l][c] = lanes[l][c] + lanes[l + h][c];
                for (uint32_t c = 0; c < nbt; c++) {
                    float want;
                    assert_int_equal(zt_quant_activations(t, x + c * n, xcpu, n), 0);
                    assert_int_equal(zt_quant_vec_dot(t, n, w, xcpu, &want), 0);
                    if (bits(want) != bits(lanes[0][c]))
                        fail_msg("%s n %u row %u of %u: %a, CPU %a", zt_ggml_type_name(t), n, c, nbt,
                                 (double)lanes[0][c], (double)want);
                }
            }
    }
}

/* rmsnorm, swiglu, rope and attention as the kernels compute them per
 * thread (rms_scale/rms_apply, swiglu1, rope_pair, attn_score/
 * attn_softmax/attn_out) against the CPU backend's ops: the same bits. */
static void test_ops(void **state)
{
    (void)state;
    struct zt__backend *cpu;
    assert_int_equal(zt__backend_new("cpu", NULL, &cpu), 0);
    const struct zt__backend_ops *op = cpu->ops;
    enum { N = 300, R = 3, HD = 32, NH = 4, NKV = 2, CTX = 40 };
    static float a[R * N], b[R * N], g[N], y[R * N], k[CTX * NKV * HD], v[CTX * NKV * HD], q[NH * HD], o[NH * HD],
        kl[CTX * NKV * HD];
    for (int i = 0; i < R * N; i++) {
        a[i] = rnd() * 3.0f;
        b[i] = rnd();
    }
    for (int i = 0; i < N; i++) g[i] = rnd();
    struct zt__tensor ta = zt__tensor_f32((struct zt__buffer *)(void *)a, 0, N, R);
    struct zt__tensor tb = zt__tensor_f32((struct zt__buffer *)(void *)b, 0, N, R);
    struct zt__tensor tg = zt__tensor_f32((struct zt__buffer *)(void *)g, 0, N, 1);
    struct zt__tensor ty = zt__tensor_f32((struct zt__buffer *)(void *)y, 0, N, R);
    /* the CPU backend's buffers are host addresses (backend.md) */
    assert_int_equal(op->rmsnorm(cpu, &ta, &tg, 1e-5f, &ty), 0);
    for (int r = 0; r < R; r++) {
        float sc = rms_scale(a + r * N, N, 1e-5f);
        for (int i = 0; i < N; i++)
            if (bits(rms_apply(a[r * N + i], sc, g[i])) != bits(y[r * N + i])) fail_msg("rmsnorm %d,%d", r, i);
    }
    assert_int_equal(op->swiglu(cpu, &ta, &tb, &ty), 0);
    for (int i = 0; i < R * N; i++)
        if (bits(swiglu1(a[i], b[i])) != bits(y[i])) fail_msg("swiglu %d", i);
    /* rope: both layouts, partial rotation, scaling, late positions */
    for (int neox = 0; neox < 2; neox++) {
        float inv[8], x[NH * HD], want[NH * HD];
        uint32_t pos[1] = {neox ? 4095u : 17u};
        for (int i = 0; i < 8; i++) inv[i] = 1.0f / (float)(1 << i);
        for (int i = 0; i < NH * HD; i++) x[i] = want[i] = rnd();
        struct zt__rope rp = {.n_heads = NH, .head_dim = HD, .n_rot = 16, .neox = neox, .freq_scale = 0.5f,
                              .inv_freq = zt__tensor_f32((struct zt__buffer *)(void *)inv, 0, 8, 1)};
        struct zt__tensor tx = zt__tensor_f32((struct zt__buffer *)(void *)want, 0, NH * HD, 1);
        assert_int_equal(op->rope(cpu, &tx, pos, &rp), 0);
        for (uint32_t h = 0; h < NH; h++)
            for (uint32_t i = 0; i < 8; i++) rope_pair(x + h * HD, i, 8, neox, pos[0], 0.5f, inv[i]);
        for (int i = 0; i < NH * HD; i++)
            if (bits(x[i]) != bits(want[i])) fail_msg("rope neox %d element %d", neox, i);
    }
    /* attention: one item at position 37 over a GQA cache */
    for (int i = 0; i < CTX * NKV * HD; i++) {
        k[i] = rnd();
        v[i] = rnd();
    }
    for (int i = 0; i < NH * HD; i++) q[i] = rnd() * 2.0f;
    /* the CPU's K cache in its layout (tiles of 16 positions, backend.h) */
    for (size_t t = 0; t < CTX; t++)
        for (size_t c = 0; c < NKV * HD; c++) kl[zt__kv_k_index(cpu->kv_k_tile, CTX, NKV * HD, t, c)] = k[t * NKV * HD + c];
    struct zt__kv_view kv = {.k = zt__tensor_f32((struct zt__buffer *)(void *)kl, 0, NKV * HD, CTX),
                             .v = zt__tensor_f32((struct zt__buffer *)(void *)v, 0, NKV * HD, CTX), .pos = 37};
    struct zt__attn at = {.n_head = NH, .n_head_kv = NKV, .head_dim = HD};
    struct zt__tensor tq = zt__tensor_f32((struct zt__buffer *)(void *)q, 0, NH * HD, 1);
    struct zt__tensor to = zt__tensor_f32((struct zt__buffer *)(void *)o, 0, NH * HD, 1);
    assert_int_equal(op->attention(cpu, &tq, &kv, &at, &to), 0);
    float scale = 1.0f / sqrtf((float)HD), sc[CTX];
    for (uint32_t h = 0; h < NH; h++) {
        uint32_t kvh = h / (NH / NKV);
        for (uint32_t t = 0; t <= 37; t++) sc[t] = attn_score(q + h * HD, k + t * NKV * HD + kvh * HD, HD, scale);
        float inv = attn_softmax(sc, 38);
        for (uint32_t i = 0; i < HD; i++)
            if (bits(attn_out(sc, inv, v + kvh * HD, NKV * HD, 38, i)) != bits(o[h * HD + i]))
                fail_msg("attention head %u dim %u", h, i);
    }
    zt__backend_free(cpu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_half),
        cmocka_unit_test(test_exp_sincos),
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_quant),
        cmocka_unit_test(test_matmul_lanes),
        cmocka_unit_test(test_ops),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
