/* bench/crypto.c: HPKE (RFC 9180) seal+open cost next to the raw libsodium
 * AEAD it is built on, measured in the same run.
 *
 *   bench_crypto [iterations]     (default 2000; single shot uses a quarter)
 *
 * For 1 KiB and 64 KiB bodies and each available AEAD, three rows:
 *   raw          crypto_aead_*_encrypt + _decrypt, fixed key, counter nonce
 *   hpke ctx     zt_hpke_ctx_seal + zt_hpke_ctx_open on set-up contexts
 *   hpke 1-shot  zt_hpke_seal + zt_hpke_open: X25519 encap and decap, the
 *                key schedule and the AEAD, as a sealed job pays it
 * MB/s is body bytes per second through one seal plus one open (each byte is
 * encrypted and decrypted): "p50" from the median latency (robust on a busy
 * machine), "mean" from the total time. Latency is one seal plus one open,
 * percentiles over the iterations; "vs raw" compares the p50 throughput with
 * the raw row of the same AEAD and size. Figures only: nothing is asserted. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_hpke.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

enum kind { RAW, CTX, ONESHOT };
static const char *KIND_NAME[] = {"raw libsodium", "hpke ctx", "hpke 1-shot"};

struct bench {
    uint16_t aead;
    size_t size;
    uint8_t *pt, *ct, *out;
    uint8_t aad[64];
    uint8_t key[32];
    uint8_t sk_r[ZT_HPKE_SK_LEN], pk_r[ZT_HPKE_PK_LEN];
    struct zt_hpke_ctx *snd, *rcv;
    uint64_t nonce_ctr;
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int raw_once(struct bench *b)
{
    uint8_t nonce[12] = {0};
    b->nonce_ctr++;
    memcpy(nonce, &b->nonce_ctr, sizeof b->nonce_ctr);
    unsigned long long n;
    if (b->aead == ZT_HPKE_AEAD_AES256GCM) {
        if (crypto_aead_aes256gcm_encrypt(b->ct, &n, b->pt, b->size, b->aad, sizeof b->aad, NULL,
                                          nonce, b->key) != 0)
            return -1;
        return crypto_aead_aes256gcm_decrypt(b->out, NULL, NULL, b->ct, n, b->aad, sizeof b->aad,
                                             nonce, b->key);
    }
    if (crypto_aead_chacha20poly1305_ietf_encrypt(b->ct, &n, b->pt, b->size, b->aad,
                                                  sizeof b->aad, NULL, nonce, b->key) != 0)
        return -1;
    return crypto_aead_chacha20poly1305_ietf_decrypt(b->out, NULL, NULL, b->ct, n, b->aad,
                                                     sizeof b->aad, nonce, b->key);
}

static int ctx_once(struct bench *b)
{
    size_t ct_len = b->size + ZT_HPKE_TAG_LEN;
    if (zt_hpke_ctx_seal(b->snd, b->aad, sizeof b->aad, b->pt, b->size, b->ct, ct_len) != 0)
        return -1;
    return zt_hpke_ctx_open(b->rcv, b->aad, sizeof b->aad, b->ct, ct_len, b->out, b->size);
}

static int oneshot_once(struct bench *b)
{
    struct zt_hpke_suite s = {ZT_HPKE_KEM_X25519_SHA256, ZT_HPKE_KDF_HKDF_SHA256, b->aead};
    uint8_t enc[ZT_HPKE_ENC_LEN];
    size_t ct_len = b->size + ZT_HPKE_TAG_LEN;
    if (zt_hpke_seal(s, NULL, b->pk_r, b->aad, sizeof b->aad, b->pt, b->size, enc, b->ct,
                     ct_len) != 0)
        return -1;
    return zt_hpke_open(s, NULL, enc, b->sk_r, b->aad, sizeof b->aad, b->ct, ct_len, b->out,
                        b->size);
}

struct result {
    double mbps, mbps_mean, p50_us, p99_us;
};

static int run(struct bench *b, enum kind k, size_t iters, uint64_t *ns, struct result *r)
{
    int (*fn)(struct bench *) = k == RAW ? raw_once : k == CTX ? ctx_once : oneshot_once;
    for (size_t i = 0; i < iters / 10 + 1; i++) /* warm up caches and clocks */
        if (fn(b) != 0) return -1;
    uint64_t total = 0;
    for (size_t i = 0; i < iters; i++) {
        uint64_t t0 = zt_time_mono_ns();
        if (fn(b) != 0) return -1;
        ns[i] = zt_time_mono_ns() - t0;
        total += ns[i];
    }
    if (memcmp(b->out, b->pt, b->size) != 0) return -1;
    qsort(ns, iters, sizeof ns[0], cmp_u64);
    r->mbps_mean = (double)b->size * (double)iters / ((double)total / 1e9) / 1e6;
    r->p50_us = (double)ns[iters / 2] / 1e3;
    r->mbps = (double)b->size / r->p50_us; /* bytes per us = MB/s */
    r->p99_us = (double)ns[(iters * 99) / 100] / 1e3;
    return 0;
}

int main(int argc, char **argv)
{
    int64_t n = 2000;
    if (argc > 1 && (zt_str_to_i64(argv[1], &n) != 0 || n < 10 || n > 10000000)) {
        fprintf(stderr, "usage: %s [iterations >= 10]\n", argv[0]);
        return 2;
    }
    if (zt_crypto_init() != 0) return 1;
    static const size_t SIZES[] = {1024, 65536};
    static const uint16_t AEADS[] = {ZT_HPKE_AEAD_CHACHA20POLY1305, ZT_HPKE_AEAD_AES256GCM};
    uint64_t *ns = zt_calloc((size_t)n, sizeof *ns);
    if (!ns) return 1;
    int rc = 0;

    printf("HPKE DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256, libsodium %s, %lld iterations "
           "(1-shot: %lld)\n",
           sodium_version_string(), (long long)n, (long long)(n / 4 < 10 ? 10 : n / 4));
    printf("%-18s %7s  %-14s %10s %10s %10s %10s %8s\n", "aead", "body", "path", "MB/s p50",
           "MB/s mean", "p50 us", "p99 us", "vs raw");
    for (size_t a = 0; a < sizeof AEADS / sizeof AEADS[0]; a++) {
        if (!zt_hpke_aead_available(AEADS[a])) {
            printf("%-18s %7s  %-14s (not available on this CPU)\n",
                   zt_hpke_aead_name(AEADS[a]), "-", "-");
            continue;
        }
        for (size_t s = 0; s < sizeof SIZES / sizeof SIZES[0]; s++) {
            struct bench b = {.aead = AEADS[a], .size = SIZES[s]};
            struct zt_hpke_suite su = {ZT_HPKE_KEM_X25519_SHA256, ZT_HPKE_KDF_HKDF_SHA256,
                                       AEADS[a]};
            uint8_t enc[ZT_HPKE_ENC_LEN];
            b.pt = zt_malloc(b.size);
            b.ct = zt_malloc(b.size + ZT_HPKE_TAG_LEN);
            b.out = zt_malloc(b.size);
            if (!b.pt || !b.ct || !b.out || zt_hpke_keypair(b.sk_r, b.pk_r) != 0 ||
                zt_hpke_setup_sender(su, NULL, b.pk_r, enc, &b.snd) != 0 ||
                zt_hpke_setup_receiver(su, NULL, enc, b.sk_r, &b.rcv) != 0) {
                rc = 1;
                goto next;
            }
            randombytes_buf(b.pt, b.size);
            randombytes_buf(b.aad, sizeof b.aad);
            randombytes_buf(b.key, sizeof b.key);
            double raw_mbps = 0;
            for (int k = RAW; k <= ONESHOT; k++) {
                size_t iters = (size_t)(k == ONESHOT ? (n / 4 < 10 ? 10 : n / 4) : n);
                struct result r;
                if (run(&b, (enum kind)k, iters, ns, &r) != 0) {
                    fprintf(stderr, "%s %s failed\n", zt_hpke_aead_name(AEADS[a]), KIND_NAME[k]);
                    rc = 1;
                    goto next;
                }
                if (k == RAW) raw_mbps = r.mbps;
                printf("%-18s %6zuK  %-14s %10.1f %10.1f %10.2f %10.2f %7.2fx\n",
                       zt_hpke_aead_name(AEADS[a]), b.size / 1024, KIND_NAME[k], r.mbps,
                       r.mbps_mean, r.p50_us, r.p99_us, raw_mbps > 0 ? r.mbps / raw_mbps : 0.0);
            }
        next:
            zt_hpke_ctx_free(b.snd);
            zt_hpke_ctx_free(b.rcv);
            zt_free(b.pt);
            zt_free(b.ct);
            zt_free(b.out);
            if (rc != 0) goto out;
        }
    }
out:
    zt_free(ns);
    return rc;
}
