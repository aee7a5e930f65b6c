/* webhook_rx.h: the book of a test's webhook receiver (test_webhooks,
 * test_payout_webhooks): every attempt checked as an API server checks it
 * (the HMAC-SHA256 signature over timestamp and body, the Idempotency-Key
 * equal to the event's id) and counted per key, so a test can say each
 * event came, how often, and whether a copy came after it was taken (the
 * receiver's dedup). The test's HTTP handler decides the answer. Header
 * only: part of the harness. */
#ifndef ZT_TEST_WEBHOOK_RX_H
#define ZT_TEST_WEBHOOK_RX_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "zentalk/zt_bridge.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define WH_RX_MAX 64

struct wh_event {
    char key[ZT_BRIDGE_KEY_MAX + 1];
    char type[64];
    json_t *body; /* its first attempt's */
    int attempts;
    bool accepted; /* the test's handler took it (answered 2xx) */
};

struct wh_rx {
    pthread_mutex_t mu;
    const char *secret;
    int bad_sig, bad_key; /* attempts whose signature, or key, was wrong */
    int duplicates;       /* attempts of an event already accepted */
    struct wh_event k[WH_RX_MAX];
    int n;
};

static inline void wh_rx_init(struct wh_rx *rx, const char *secret)
{
    memset(rx, 0, sizeof *rx);
    pthread_mutex_init(&rx->mu, NULL);
    rx->secret = secret;
}

static inline void wh_rx_deinit(struct wh_rx *rx)
{
    for (int i = 0; i < rx->n; i++) json_decref(rx->k[i].body);
    pthread_mutex_destroy(&rx->mu);
}

/* One attempt (req), checked and counted; its event (NULL: no key, or the
 * book full). With rx->mu held: the caller unlocks it once it has decided
 * (an accepted event's next attempts count as duplicates here). */
static inline struct wh_event *wh_rx_attempt(struct wh_rx *rx, struct zt_http_req *req)
{
    size_t len = 0;
    const char *body = zt_http_req_body(req, &len);
    const char *sig = zt_http_req_header(req, "Zentalk-Signature");
    const char *key = zt_http_req_header(req, "Idempotency-Key");
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *id = json_string_value(json_object_get(j, "id"));
    const char *type = json_string_value(json_object_get(j, "type"));
    pthread_mutex_lock(&rx->mu);
    if (zt_bridge_verify(rx->secret, sig, body, len, zt_time_real_ms() / 1000, 300) != 0) rx->bad_sig++;
    if (!key || !id || strcmp(key, id) != 0) rx->bad_key++;
    int i = 0;
    while (key && i < rx->n && strcmp(rx->k[i].key, key) != 0) i++;
    if (key && i == rx->n && rx->n < WH_RX_MAX) {
        zt_strlcpy(rx->k[i].key, key, sizeof rx->k[i].key);
        zt_strlcpy(rx->k[i].type, type ? type : "", sizeof rx->k[i].type);
        rx->k[i].body = json_incref(j);
        rx->n++;
    }
    json_decref(j);
    if (!key || i == rx->n) return NULL;
    rx->k[i].attempts++;
    if (rx->k[i].accepted) rx->duplicates++;
    return &rx->k[i];
}

/* Events whose type starts with type (accepted: only those taken). */
static inline int wh_rx_count(struct wh_rx *rx, const char *type, bool accepted)
{
    int c = 0;
    pthread_mutex_lock(&rx->mu);
    for (int i = 0; i < rx->n; i++)
        if (zt_str_starts_with(rx->k[i].type, type) && (!accepted || rx->k[i].accepted)) c++;
    pthread_mutex_unlock(&rx->mu);
    return c;
}

/* Until wh_rx_count reaches n (at most timeout_ms): whether it did. */
static inline bool wh_rx_wait(struct wh_rx *rx, const char *type, int n, bool accepted, int timeout_ms)
{
    uint64_t until = zt_time_mono_ms() + (uint64_t)timeout_ms;
    while (wh_rx_count(rx, type, accepted) < n && zt_time_mono_ms() < until) zt_time_sleep_ms(20);
    return wh_rx_count(rx, type, accepted) >= n;
}

/* The first body of the nth (0-based) event whose type starts with type
 * (a new reference, or NULL). */
static inline json_t *wh_rx_body(struct wh_rx *rx, const char *type, int nth)
{
    json_t *b = NULL;
    pthread_mutex_lock(&rx->mu);
    for (int i = 0; i < rx->n && !b; i++)
        if (zt_str_starts_with(rx->k[i].type, type) && nth-- == 0) b = json_incref(rx->k[i].body);
    pthread_mutex_unlock(&rx->mu);
    return b;
}

#endif
