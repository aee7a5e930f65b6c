/* outbox.c: the webhook outbox in the store (zt_bridge.h; owner
 * "webhooks"), and the signature every delivery carries. Any process that
 * opens the node's store may write to it (the node, the CLI); the node's
 * delivery thread (webhook.c) sends what is due. */
#include "bridge_int.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_str.h"

static const struct zt_store_step steps[] = {
    {.sql = "CREATE TABLE webhook_outbox (\n"
            "  idem_key TEXT PRIMARY KEY,\n" /* the idempotency key */
            "  type TEXT NOT NULL,\n"
            "  body TEXT NOT NULL,\n"        /* the JSON posted, fixed at enqueue */
            "  state INTEGER NOT NULL,\n"    /* 0 pending, 1 delivered, 2 failed */
            "  attempts INTEGER NOT NULL,\n"
            "  created_ms INTEGER NOT NULL,\n"
            "  next_ms INTEGER NOT NULL,\n"  /* the next attempt is due then */
            "  last_status INTEGER NOT NULL,\n"
            "  last_error TEXT NOT NULL\n"
            ");\n"
            "CREATE INDEX webhook_outbox_due ON webhook_outbox (state, next_ms)",
     .sql_pg = "CREATE TABLE webhook_outbox (\n"
               "  idem_key TEXT PRIMARY KEY, type TEXT NOT NULL, body TEXT NOT NULL, state INTEGER NOT NULL,\n"
               "  attempts BIGINT NOT NULL, created_ms BIGINT NOT NULL, next_ms BIGINT NOT NULL,\n"
               "  last_status BIGINT NOT NULL, last_error TEXT NOT NULL\n"
               ");\n"
               "CREATE INDEX webhook_outbox_due ON webhook_outbox (state, next_ms)"},
};

int zt_bridge_migrate(struct zt_store *st)
{
    const struct zt_store_schema sc = ZT_STORE_SCHEMA("webhooks", steps);
    return zt_store_migrate(st, &sc);
}

const char *zt_bridge_state_name(int state)
{
    return state == ZT_BRIDGE_PENDING ? "pending" : state == ZT_BRIDGE_DELIVERED ? "delivered" : "failed";
}

int zt_bridge_enqueue(struct zt_store *st, const char *type, const char *key, json_t *data, int64_t now_ms,
                      bool *added)
{
    if (!st || !type || !type[0] || strlen(type) >= 64 || !key || !key[0] || strlen(key) > ZT_BRIDGE_KEY_MAX ||
        !json_is_object(data))
        return ZT_EINVAL;
    json_t *ev = json_pack("{s:s,s:s,s:I,s:O}", "id", key, "type", type, "created", (json_int_t)now_ms, "data", data);
    char *body = ev ? json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(ev);
    if (!body) return ZT_ENOMEM;
    struct zt_store_stmt *q = NULL;
    int rc = strlen(body) > ZT_BRIDGE_BODY_MAX ? ZT_ETOOBIG : 0;
    if (!rc) rc = zt_store_prepare(st,
                                   "INSERT INTO webhook_outbox (idem_key, type, body, state, attempts, created_ms, next_ms, "
                                   "last_status, last_error) VALUES (?, ?, ?, 0, 0, ?, ?, 0, '') "
                                   "ON CONFLICT(idem_key) DO NOTHING",
                                   &q);
    if (!rc) rc = zt_store_bind_text(q, 1, key, SIZE_MAX);
    if (!rc) rc = zt_store_bind_text(q, 2, type, SIZE_MAX);
    if (!rc) rc = zt_store_bind_text(q, 3, body, SIZE_MAX);
    if (!rc) rc = zt_store_bind_i64(q, 4, now_ms);
    if (!rc) rc = zt_store_bind_i64(q, 5, now_ms);
    if (!rc) rc = zt_store_step(q);
    if (rc == ZT_STORE_DONE && added) *added = zt_store_changes(q) > 0;
    zt_store_stmt_free(q);
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree);
    jfree(body);
    return rc == ZT_STORE_DONE ? 0 : rc;
}

int zt__bridge_read_row(struct zt_store_stmt *q, struct zt_bridge_row *r)
{
    const char *s;
    size_t n;
    memset(r, 0, sizeof *r);
    int rc = zt_store_column_text(q, 0, &s, &n);
    if (!rc) zt_strlcpy(r->key, s, sizeof r->key);
    if (!rc) rc = zt_store_column_text(q, 1, &s, &n);
    if (!rc) zt_strlcpy(r->type, s, sizeof r->type);
    int64_t state = 0;
    if (!rc) rc = zt_store_column_i64(q, 2, &state);
    r->state = (int)state;
    if (!rc) rc = zt_store_column_i64(q, 3, &r->attempts);
    if (!rc) rc = zt_store_column_i64(q, 4, &r->created_ms);
    if (!rc) rc = zt_store_column_i64(q, 5, &r->next_ms);
    if (!rc) rc = zt_store_column_i64(q, 6, &r->last_status);
    if (!rc) rc = zt_store_column_text(q, 7, &s, &n);
    if (!rc) zt_strlcpy(r->last_error, s, sizeof r->last_error);
    return rc;
}

int zt_bridge_list(struct zt_store *st, int state, size_t limit, zt_bridge_row_cb cb, void *ud)
{
    struct zt_store_stmt *q = NULL;
    int rc = zt_store_prepare(st,
                              state < 0 ? "SELECT " ZT__BRIDGE_COLS " FROM webhook_outbox WHERE state >= ? "
                                          "ORDER BY created_ms, idem_key LIMIT ?"
                                        : "SELECT " ZT__BRIDGE_COLS " FROM webhook_outbox WHERE state = ? "
                                          "ORDER BY created_ms, idem_key LIMIT ?",
                              &q);
    if (!rc) rc = zt_store_bind_i64(q, 1, state < 0 ? 0 : state);
    if (!rc) rc = zt_store_bind_i64(q, 2, (int64_t)(limit ? limit : 1000));
    while (!rc && (rc = zt_store_step(q)) == ZT_STORE_ROW) {
        struct zt_bridge_row r;
        rc = zt__bridge_read_row(q, &r);
        if (!rc) rc = cb(ud, &r);
    }
    zt_store_stmt_free(q);
    return rc == ZT_STORE_DONE ? 0 : rc;
}

int zt_bridge_counts(struct zt_store *st, int64_t out[3])
{
    struct zt_store_stmt *q = NULL;
    int64_t c[3] = {0, 0, 0};
    int rc = zt_store_prepare(st, "SELECT state, COUNT(*) FROM webhook_outbox GROUP BY state", &q);
    while (!rc && (rc = zt_store_step(q)) == ZT_STORE_ROW) {
        int64_t s = -1, n = 0;
        rc = zt_store_column_i64(q, 0, &s);
        if (!rc) rc = zt_store_column_i64(q, 1, &n);
        if (!rc && s >= 0 && s < 3) c[s] = n;
    }
    zt_store_stmt_free(q);
    if (rc != ZT_STORE_DONE) return rc;
    memcpy(out, c, sizeof c);
    return 0;
}

/* ---- signatures --------------------------------------------------------------- */

static void mac_hex(const char *secret, int64_t t, const void *body, size_t len, char out[static 65])
{
    crypto_auth_hmacsha256_state s;
    char ts[24];
    int n = snprintf(ts, sizeof ts, "%lld.", (long long)t);
    crypto_auth_hmacsha256_init(&s, (const uint8_t *)secret, strlen(secret));
    crypto_auth_hmacsha256_update(&s, (const uint8_t *)ts, (unsigned long long)n);
    crypto_auth_hmacsha256_update(&s, body, (unsigned long long)len);
    uint8_t mac[32];
    crypto_auth_hmacsha256_final(&s, mac);
    zt_hex_encode(out, mac, sizeof mac);
    sodium_memzero(&s, sizeof s);
}

void zt_bridge_sign(const char *secret, int64_t t, const void *body, size_t len, char *out, size_t cap)
{
    char h[65];
    mac_hex(secret, t, body, len, h);
    snprintf(out, cap, "t=%lld,v1=%s", (long long)t, h);
}

int zt_bridge_verify(const char *secret, const char *header, const void *body, size_t len, int64_t now_s,
                     int64_t tolerance_s)
{
    if (!secret || !header || !zt_str_starts_with(header, "t=")) return ZT_ECRYPTO;
    const char *comma = strchr(header, ',');
    if (!comma || !zt_str_starts_with(comma, ",v1=") || strlen(comma + 4) != 64) return ZT_ECRYPTO;
    int64_t t = 0;
    for (const char *p = header + 2; p < comma; p++) {
        if (*p < '0' || *p > '9' || t > INT64_MAX / 10 - 10) return ZT_ECRYPTO;
        t = t * 10 + (*p - '0');
    }
    if (comma == header + 2) return ZT_ECRYPTO;
    char want[65];
    mac_hex(secret, t, body, len, want);
    if (sodium_memcmp(want, comma + 4, 64) != 0) return ZT_ECRYPTO;
    if (tolerance_s > 0 && (t > now_s + tolerance_s || t < now_s - tolerance_s)) return ZT_ECRYPTO;
    return 0;
}
