/* webhook.c: the delivery thread of the API bridge (zt_bridge.h): due
 * outbox rows posted, signed, through the one outbound HTTP client, with
 * backoff; see docs/internals/bridge.md. */
#include "bridge_int.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_http_client.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"

#define BATCH 16
#define ANSWER_MAX ((size_t)64 << 10) /* a receiver's answer is read up to this, then cut */
#define BACKOFF_MAX_MS 3600000LL
#define IDLE_MS 1000

enum { W_DELIVERED, W_FAILED, W_RETRIED, W_N };
static const char *const wnames[W_N] = {"delivered", "failed", "retried"};

struct zt_bridge {
    char *url;
    char *secret; /* sodium_malloc'd */
    long timeout_ms;
    int64_t base_ms, max_attempts;
    struct zt_store *st;
    pthread_mutex_t st_mu; /* the store handle and its statements */
    struct zt_store_stmt *q_claim, *q_update, *q_next; /* prepared once (STMTS) */
    struct zt_http_client *http;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop, kick, started;
    pthread_t th;
    atomic_uint_fast64_t n[W_N];
};

static const char SQL_CLAIM[] = "SELECT idem_key, type, attempts, body FROM webhook_outbox WHERE state = 0 AND "
                                "next_ms <= ? ORDER BY next_ms, idem_key LIMIT ?";
static const char SQL_UPDATE[] = "UPDATE webhook_outbox SET state = ?, attempts = ?, next_ms = ?, last_status = ?, "
                                 "last_error = ? WHERE idem_key = ? AND state = 0";
static const char SQL_NEXT[] = "SELECT MIN(next_ms) FROM webhook_outbox WHERE state = 0";
static const struct zt_store_stmt_def STMTS[] = {
    {offsetof(struct zt_bridge, q_claim), SQL_CLAIM},
    {offsetof(struct zt_bridge, q_update), SQL_UPDATE},
    {offsetof(struct zt_bridge, q_next), SQL_NEXT},
};
#define N_STMTS (sizeof STMTS / sizeof STMTS[0])

struct due {
    char key[ZT_BRIDGE_KEY_MAX + 1];
    char type[64];
    char *body;
    int64_t attempts;
};

static bool stopping(struct zt_bridge *b)
{
    pthread_mutex_lock(&b->mu);
    bool s = b->stop;
    pthread_mutex_unlock(&b->mu);
    return s;
}

/* Up to BATCH due rows (body copied). */
static size_t claim(struct zt_bridge *b, int64_t now, struct due *out)
{
    size_t n = 0;
    struct zt_store_stmt *q = b->q_claim;
    pthread_mutex_lock(&b->st_mu);
    int rc = zt_store_bind_i64(q, 1, now);
    if (!rc) rc = zt_store_bind_i64(q, 2, BATCH);
    while (!rc && n < BATCH && (rc = zt_store_step(q)) == ZT_STORE_ROW) {
        const char *s, *t, *body;
        size_t sl, tl, bl;
        struct due *d = &out[n];
        rc = zt_store_column_text(q, 0, &s, &sl);
        if (!rc) rc = zt_store_column_text(q, 1, &t, &tl);
        if (!rc) rc = zt_store_column_i64(q, 2, &d->attempts);
        if (!rc) rc = zt_store_column_text(q, 3, &body, &bl);
        if (rc) break;
        zt_strlcpy(d->key, s, sizeof d->key);
        zt_strlcpy(d->type, t, sizeof d->type);
        d->body = zt_strndup(body, bl);
        if (d->body) n++;
    }
    zt_store_reset(q);
    pthread_mutex_unlock(&b->st_mu);
    if (rc < 0) zt_log(ZT_LOG_WARN, "webhook_outbox_error", "op=claim error=%s", zt_strerror(rc));
    return n;
}

static void update(struct zt_bridge *b, const struct due *d, int state, int64_t next_ms, long status, const char *err)
{
    struct zt_store_stmt *q = b->q_update;
    pthread_mutex_lock(&b->st_mu);
    int rc = zt_store_bind_i64(q, 1, state);
    if (!rc) rc = zt_store_bind_i64(q, 2, d->attempts + 1);
    if (!rc) rc = zt_store_bind_i64(q, 3, next_ms);
    if (!rc) rc = zt_store_bind_i64(q, 4, status);
    if (!rc) rc = zt_store_bind_text(q, 5, err, SIZE_MAX);
    if (!rc) rc = zt_store_bind_text(q, 6, d->key, SIZE_MAX);
    if (!rc) rc = zt_store_step(q);
    zt_store_reset(q);
    pthread_mutex_unlock(&b->st_mu);
    if (rc != ZT_STORE_DONE) zt_log(ZT_LOG_WARN, "webhook_outbox_error", "op=update error=%s", zt_strerror(rc));
}

static int64_t backoff_ms(const struct zt_bridge *b, int64_t attempts)
{
    int64_t d = b->base_ms;
    for (int64_t i = 0; i < attempts && d < BACKOFF_MAX_MS; i++) d *= 2;
    if (d > BACKOFF_MAX_MS) d = BACKOFF_MAX_MS;
    return d + (int64_t)randombytes_uniform((uint32_t)(d / 4 + 1)); /* jitter: receivers back up together */
}

static bool should_stop(void *ud)
{
    return stopping(ud);
}

/* One attempt at d. */
static void deliver(struct zt_bridge *b, struct due *d)
{
    char sig[128], sig_h[160], key_h[ZT_BRIDGE_KEY_MAX + 32], ev_h[96];
    size_t len = strlen(d->body);
    zt_bridge_sign(b->secret, zt_time_real_ms() / 1000, d->body, len, sig, sizeof sig);
    snprintf(sig_h, sizeof sig_h, "Zentalk-Signature: %s", sig);
    snprintf(key_h, sizeof key_h, "Idempotency-Key: %.*s", ZT_BRIDGE_KEY_MAX, d->key);
    snprintf(ev_h, sizeof ev_h, "Zentalk-Event: %.63s", d->type);
    const char *headers[] = {sig_h, key_h, ev_h, NULL};
    struct zt_http_request rq = {
        .method = "POST",
        .url = b->url,
        .headers = headers,
        .body = d->body,
        .body_len = len,
        .content_type = "application/json",
        .connect_timeout_ms = b->timeout_ms < 10000 ? b->timeout_ms : 10000,
        .timeout_ms = b->timeout_ms,
        .first_byte_timeout_ms = b->timeout_ms,
        .max_body_bytes = ANSWER_MAX,
        .redirects = ZT_HTTP_REDIRECT_NONE,
        .should_stop = should_stop,
        .ud = b,
    };
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    uint64_t t0 = zt_time_mono_ms();
    int rc = zt_http_client_do(b->http, &rq, &resp);
    if (rc == ZT_ECLOSED && stopping(b)) { /* cut by shutdown: still pending, tried again after a restart */
        zt_http_response_deinit(&resp);
        return;
    }
    int64_t now = zt_time_real_ms();
    long st = rc ? 0 : resp.status;
    char err[160] = "";
    if (rc) snprintf(err, sizeof err, "%.40s%s%.100s", zt_strerror(rc), resp.reason[0] ? ": " : "", resp.reason);
    else if (st < 200 || st > 299) snprintf(err, sizeof err, "HTTP %ld", st);
    if (!err[0]) {
        update(b, d, ZT_BRIDGE_DELIVERED, now, st, "");
        atomic_fetch_add(&b->n[W_DELIVERED], 1);
        zt_log(ZT_LOG_INFO, "webhook_delivered", "key=%s type=%s attempts=%lld status=%ld duration_ms=%llu", d->key,
               d->type, (long long)d->attempts + 1, st, (unsigned long long)(zt_time_mono_ms() - t0));
    } else if (st == 410 || d->attempts + 1 >= b->max_attempts) {
        update(b, d, ZT_BRIDGE_FAILED, now, st, err);
        atomic_fetch_add(&b->n[W_FAILED], 1);
        zt_log(ZT_LOG_WARN, "webhook_failed", "key=%s type=%s attempts=%lld error=\"%s\"", d->key, d->type,
               (long long)d->attempts + 1, err);
    } else {
        int64_t wait = backoff_ms(b, d->attempts);
        update(b, d, ZT_BRIDGE_PENDING, now + wait, st, err);
        atomic_fetch_add(&b->n[W_RETRIED], 1);
        zt_log(ZT_LOG_INFO, "webhook_retry", "key=%s type=%s attempts=%lld error=\"%s\" retry_in_ms=%lld", d->key,
               d->type, (long long)d->attempts + 1, err, (long long)wait);
    }
    zt_http_response_deinit(&resp);
}

/* Milliseconds until the next pending row is due (IDLE_MS at most). */
static int64_t next_due_in(struct zt_bridge *b, int64_t now)
{
    struct zt_store_stmt *q = b->q_next;
    int64_t next = now + IDLE_MS;
    pthread_mutex_lock(&b->st_mu);
    if (zt_store_step(q) == ZT_STORE_ROW) {
        int64_t v;
        if (zt_store_column_i64(q, 0, &v) == 0 && v < next) next = v;
    }
    zt_store_reset(q);
    pthread_mutex_unlock(&b->st_mu);
    return next > now ? next - now : 0;
}

static void *run(void *arg)
{
    struct zt_bridge *b = arg;
    struct due due[BATCH];
    while (!stopping(b)) {
        size_t n = claim(b, zt_time_real_ms(), due);
        for (size_t i = 0; i < n; i++) {
            if (!stopping(b)) deliver(b, &due[i]);
            zt_free(due[i].body);
        }
        if (n == BATCH) continue;
        int64_t wait = next_due_in(b, zt_time_real_ms());
        pthread_mutex_lock(&b->mu);
        if (wait > 0 && !b->stop && !b->kick) {
            struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, (uint64_t)wait);
            pthread_cond_timedwait(&b->cv, &b->mu, &ts);
        }
        b->kick = false;
        pthread_mutex_unlock(&b->mu);
    }
    return NULL;
}

int zt_bridge_new(const struct zt_config *cfg, struct zt_bridge **out, struct zt_buf *err)
{
    *out = NULL;
    const struct zt_cfg_integration *ic = &cfg->integration;
    if (!ic->api_url || !ic->api_url[0] || !ic->webhook_secret || !ic->webhook_secret[0]) return 0;
    if (!zt_str_starts_with(ic->api_url, "http://") && !zt_str_starts_with(ic->api_url, "https://")) {
        zt_ignore(zt_buf_appendf(err, "integration.api_url must be an http:// or https:// URL"));
        return ZT_ECONFIG;
    }
    struct zt_bridge *b = zt_calloc(1, sizeof *b);
    if (!b) return ZT_ENOMEM;
    pthread_mutex_init(&b->st_mu, NULL);
    pthread_mutex_init(&b->mu, NULL);
    zt_cond_init_mono(&b->cv);
    for (int i = 0; i < W_N; i++) atomic_init(&b->n[i], 0);
    int rc = ZT_ENOMEM;
    size_t ul = strlen(ic->api_url);
    while (ul && ic->api_url[ul - 1] == '/') ul--;
    size_t need = ul + strlen(ic->webhook_path) + 1;
    b->url = zt_malloc(need);
    b->secret = sodium_malloc(strlen(ic->webhook_secret) + 1);
    if (!b->url || !b->secret) goto out;
    snprintf(b->url, need, "%.*s%s", (int)ul, ic->api_url, ic->webhook_path);
    memcpy(b->secret, ic->webhook_secret, strlen(ic->webhook_secret) + 1);
    b->timeout_ms = (long)ic->timeout_ms;
    b->base_ms = ic->webhook_retry_base_ms;
    b->max_attempts = ic->webhook_max_attempts;
    rc = zt_store_open_config(cfg, NULL, &b->st, err);
    if (!rc && ((rc = zt_bridge_migrate(b->st)) != 0 || (rc = zt_store_prepare_all(b->st, b, STMTS, N_STMTS)) != 0))
        zt_ignore(zt_buf_appendf(err, "the webhook outbox: %s", zt_strerror(rc)));
    struct zt_http_client_opts ho = {.max_inflight = 2};
    if (!rc) rc = zt_http_client_new(&ho, &b->http);
    if (!rc) {
        rc = pthread_create(&b->th, NULL, run, b) == 0 ? 0 : ZT_EIO;
        b->started = rc == 0;
    }
out:
    if (rc) {
        zt_bridge_free(b);
        return rc;
    }
    int64_t c[3] = {0, 0, 0};
    pthread_mutex_lock(&b->st_mu);
    zt_ignore(zt_bridge_counts(b->st, c));
    pthread_mutex_unlock(&b->st_mu);
    zt_log(ZT_LOG_INFO, "webhooks_ready", "pending=%lld failed=%lld", (long long)c[0], (long long)c[2]);
    *out = b;
    return 0;
}

void zt_bridge_free(struct zt_bridge *b)
{
    if (!b) return;
    if (b->started) {
        zt_set_and_wake(&b->mu, &b->cv, &b->stop);
        zt_http_client_shutdown(b->http); /* an attempt in flight ends now */
        pthread_join(b->th, NULL);
    }
    zt_http_client_free(b->http);
    zt_store_stmt_free_all(b, STMTS, N_STMTS);
    zt_store_close(b->st);
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    pthread_mutex_destroy(&b->st_mu);
    if (b->secret) sodium_free(b->secret);
    zt_free(b->url);
    zt_free(b);
}

int zt_bridge_emit(struct zt_bridge *b, const char *type, const char *key, json_t *data)
{
    if (!b) return 0;
    bool added = false;
    pthread_mutex_lock(&b->st_mu);
    int rc = zt_bridge_enqueue(b->st, type, key, data, zt_time_real_ms(), &added);
    pthread_mutex_unlock(&b->st_mu);
    if (!rc && added) zt_set_and_wake(&b->mu, &b->cv, &b->kick);
    if (rc) zt_log(ZT_LOG_WARN, "webhook_enqueue_failed", "key=%s type=%s error=%s", key, type, zt_strerror(rc));
    return rc;
}

static int m_total(void *ud, struct zt_metrics_out *o)
{
    static atomic_uint_fast64_t zero[W_N]; /* webhooks off: the same samples, 0 */
    struct zt_bridge *b = ud;
    return zt_metrics_emit_each(o, "result", wnames, b ? b->n : zero, W_N);
}

static int m_pending(void *ud, struct zt_metrics_out *o)
{
    struct zt_bridge *b = ud;
    int64_t c[3] = {0, 0, 0};
    if (!b) return zt_metrics_emit_u64(o, NULL, NULL, 0);
    pthread_mutex_lock(&b->st_mu);
    zt_ignore(zt_bridge_counts(b->st, c));
    pthread_mutex_unlock(&b->st_mu);
    return zt_metrics_emit_u64(o, NULL, NULL, (uint64_t)c[0]);
}

int zt_bridge_register_metrics(struct zt_bridge *b, struct zt_metrics *m)
{
    static const struct zt_metrics_fam fams[] = {
        {"zentalk_webhooks_total", "Webhook delivery attempts to integration.api_url, by result.", ZT_METRIC_COUNTER,
         m_total},
        {"zentalk_webhooks_pending", "Webhooks in the outbox waiting for delivery.", ZT_METRIC_GAUGE, m_pending},
    };
    return zt_metrics_add_fns(m, fams, sizeof fams / sizeof fams[0], b);
}
