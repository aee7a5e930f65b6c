/* revoked.c: the registry honouring signed revocations (zt_registry.h,
 * docs/internals/orchestrator.md "Revocations"). The record is the DHT's
 * (zt_dht.h: the whole node key, or one KEM key rotated away), signed by
 * the key it revokes. A revoked node key never joins again; a revoked KEM
 * key never again in a join's descriptor (the node joins with its new
 * one). A live session that uses what is revoked ends at once (as a drop:
 * its jobs are requeued). Persisted under the store owner
 * "registry_revoked", apart from the registry's own tables; bounded. */
#include <stdio.h>
#include <string.h>

#include "orch_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"

#define KEY_MAX (ZT_IDENTITY_ID_SIZE + 1 + 2 * ZT_X25519_LEN + 1) /* "node_id" or "node_id/kemhex" */

static const struct zt_store_step REV_STEPS[] = {
    {.sql = "CREATE TABLE registry_revoked(node_id TEXT NOT NULL, kem TEXT NOT NULL, at BIGINT NOT NULL,"
            " PRIMARY KEY(node_id, kem));"},
};
static const struct zt_store_schema REV_SCHEMA = ZT_STORE_SCHEMA("registry_revoked", REV_STEPS);
static const char SQL_PUT[] = "INSERT INTO registry_revoked(node_id, kem, at) VALUES(?,?,?) ON CONFLICT DO NOTHING";
static const char SQL_LOAD[] = "SELECT node_id, kem FROM registry_revoked ORDER BY node_id, kem";

struct rev_entry {
    char key[KEY_MAX];
};

struct orch_revoked {
    struct orch_map map; /* key -> rev_entry */
    struct zt_store_stmt *q_put;
};

static void key_of(char out[static KEY_MAX], const char *node_id, const uint8_t *kem)
{
    if (!kem) {
        zt_strlcpy(out, node_id, KEY_MAX);
        return;
    }
    char hex[2 * ZT_X25519_LEN + 1];
    zt_hex_encode(hex, kem, ZT_X25519_LEN);
    snprintf(out, KEY_MAX, "%s/%s", node_id, hex);
}

/* Under r->mu (or before r is shared). Remember key; ZT_EBUSY past the bound. */
static int remember(struct orch_revoked *v, const char *key, bool *added)
{
    *added = false;
    if (orch_map_get(&v->map, key)) return 0;
    if (v->map.n >= ZT_REG_REVOKED_MAX) return ZT_EBUSY;
    struct rev_entry *e = zt_calloc(1, sizeof *e);
    if (!e) return ZT_ENOMEM;
    zt_strlcpy(e->key, key, sizeof e->key);
    if (orch_map_put(&v->map, e->key, e) != 0) {
        zt_free(e);
        return ZT_ENOMEM;
    }
    *added = true;
    return 0;
}

bool orch_revoked_refuses(const struct zt_registry *r, const char *node_id, const uint8_t *kem_pk)
{
    if (!r->revoked || !node_id) return false;
    char k[KEY_MAX];
    key_of(k, node_id, NULL);
    if (orch_map_get(&r->revoked->map, k)) return true;
    if (!kem_pk) return false;
    key_of(k, node_id, kem_pk);
    return orch_map_get(&r->revoked->map, k) != NULL;
}

/* Whether node id's live session uses what is revoked (under r->mu). */
static bool session_revoked(struct zt_registry *r, const char *node_id)
{
    struct orch_node *n = orch_node_find(r, node_id);
    return n && n->has_session && n->state == ZT_NODE_LIVE && orch_revoked_refuses(r, node_id, n->kem_pk);
}

int orch_revoked_open(struct zt_registry *r, int64_t now_ms)
{
    int rc = zt_store_migrate(r->st, &REV_SCHEMA);
    if (rc) return rc;
    struct orch_revoked *v = zt_calloc(1, sizeof *v);
    if (!v) return ZT_ENOMEM;
    r->revoked = v;
    struct zt_store_stmt *q = NULL;
    if ((rc = zt_store_prepare(r->st, SQL_PUT, &v->q_put)) != 0 || (rc = zt_store_prepare(r->st, SQL_LOAD, &q)) != 0)
        goto out;
    while ((rc = zt_store_step(q)) == ZT_STORE_ROW) {
        const char *id, *kem;
        size_t il, kl;
        if ((rc = zt_store_column_text(q, 0, &id, &il)) != 0 || (rc = zt_store_column_text(q, 1, &kem, &kl)) != 0)
            break;
        char k[KEY_MAX];
        if (il >= ZT_IDENTITY_ID_SIZE || kl > 2 * ZT_X25519_LEN) continue; /* not ours: ignored */
        snprintf(k, sizeof k, "%.*s%s%.*s", (int)il, id, kl ? "/" : "", (int)kl, kem);
        bool added;
        if ((rc = remember(v, k, &added)) != 0) break;
    }
    if (rc == ZT_STORE_DONE) rc = 0;
out:
    zt_store_stmt_free(q);
    if (rc) return rc;
    /* sessions restored from the store with what was revoked end now */
    char ids[64][ZT_IDENTITY_ID_SIZE];
    size_t n = 0;
    for (size_t i = 0; i < r->n_all && n < 64; i++)
        if (session_revoked(r, r->all[i]->id)) zt_strlcpy(ids[n++], r->all[i]->id, sizeof ids[0]);
    for (size_t i = 0; i < n; i++) zt_ignore(zt_registry_drop(r, ids[i], now_ms));
    return 0;
}

void orch_revoked_free(struct zt_registry *r)
{
    struct orch_revoked *v = r ? r->revoked : NULL;
    if (!v) return;
    for (size_t i = 0; i < v->map.cap; i++) {
        struct orch_map_slot *s = &v->map.slots[i];
        if (s->key && s->key != orch_map_tomb) zt_free(s->val);
    }
    orch_map_deinit(&v->map);
    zt_store_stmt_free(v->q_put);
    zt_free(v);
    r->revoked = NULL;
}

int zt_registry_revoke_key(struct zt_registry *r, const char *node_id, const uint8_t *kem_pk, int64_t at,
                           int64_t now_ms)
{
    if (!r || !r->revoked || !node_id || !zt_identity_id_valid(node_id)) return ZT_EINVAL;
    char k[KEY_MAX], kem_hex[2 * ZT_X25519_LEN + 1] = "";
    key_of(k, node_id, kem_pk);
    if (kem_pk) zt_hex_encode(kem_hex, kem_pk, ZT_X25519_LEN);
    pthread_mutex_lock(&r->mu);
    bool added = false;
    int rc = orch_map_get(&r->revoked->map, k) ? 0 : ZT_ENOTFOUND;
    if (rc == ZT_ENOTFOUND) {
        /* written first: a failed write leaves nothing remembered */
        struct zt_store_stmt *q = r->revoked->q_put;
        rc = zt_store_bind_text(q, 1, node_id, SIZE_MAX);
        if (!rc) rc = zt_store_bind_text(q, 2, kem_hex, SIZE_MAX);
        if (!rc) rc = zt_store_bind_i64(q, 3, at);
        if (!rc) rc = zt_store_step(q);
        zt_store_reset(q);
        if (rc == ZT_STORE_DONE) rc = 0;
        if (!rc) rc = remember(r->revoked, k, &added);
    }
    bool end = !rc && session_revoked(r, node_id);
    pthread_mutex_unlock(&r->mu);
    if (rc) return rc;
    if (added)
        zt_log(ZT_LOG_WARN, "registry_revoked", "node=%s what=%s%s session=%s", node_id, kem_pk ? "kem_key:" : "node_key",
               kem_hex, end ? "ended" : "none");
    if (end) zt_ignore(zt_registry_drop(r, node_id, now_ms));
    return 0;
}

int zt_registry_revoke(struct zt_registry *r, const char *rec, size_t len, int64_t now_ms)
{
    if (!r || !rec) return ZT_EINVAL;
    struct zt_dht_revocation v;
    int rc = zt_dht_revocation_verify(rec, len, &v); /* signed by the key it revokes */
    if (rc) return rc;
    return zt_registry_revoke_key(r, v.node_id, v.has_kem ? v.kem_pk : NULL, v.at, now_ms);
}

bool zt_registry_revoked(struct zt_registry *r, const char *node_id, const uint8_t *kem_pk)
{
    if (!r || !node_id) return false;
    pthread_mutex_lock(&r->mu);
    bool x = orch_revoked_refuses(r, node_id, kem_pk);
    pthread_mutex_unlock(&r->mu);
    return x;
}

size_t zt_registry_revoked_count(struct zt_registry *r)
{
    if (!r || !r->revoked) return 0;
    pthread_mutex_lock(&r->mu);
    size_t n = r->revoked->map.n;
    pthread_mutex_unlock(&r->mu);
    return n;
}
