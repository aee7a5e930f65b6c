/* gdpr_svc.c: the GDPR export and erase of one identity over every holder
 * of personal data (zt_gdpr.h; docs/privacy/DATA_HANDLING.md): the wallet
 * sessions, the holders the node registers (the search store, the ledger),
 * the audit log by pseudonym and by clear identity, and what this node
 * does not keep. The erase's order is the rule here: the holders that can
 * fail first, so a failure leaves everything in place; the erase's own
 * audit entry before the pseudonym salt is destroyed. */
#include <jansson.h>
#include <sodium.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_gdpr.h"
#include "zentalk/zt_privacy.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_wallet.h"

struct zt_gdpr {
    const char *node_id;
    struct zt_privacy_layer *pv;
    struct zt_wallet *wallet;
    struct zt_gdpr_provider *h; /* the providers, in order */
    size_t n;
    size_t max; /* bytes of content in one export */
};

/* What this node does not keep (yet), said plainly in every export. */
static const struct {
    const char *name, *reason;
} not_kept[] = {
    {"jobs", "job records (the orchestrator's sched_jobs) name no person: the client is a keyed pseudonym whose "
             "salt lives only in the running process, and they hold no prompt or answer"},
    {"caches", "not exportable: answers of the result cache are stored under keyed names (the caller's pseudonym "
               "and the question) and encrypted, so none can be found per person; an erase destroys the "
               "pseudonym's salt, after which they cannot be reached, and they expire after "
               "privacy.retention_cache_days"},
    {"databases", "with database.driver: postgres the ledger and job tables above live in PostgreSQL, and Redis "
                  "(database.queue, database.result_cache) holds queue entries (job metadata) and encrypted cache "
                  "entries; otherwise the stores are the SQLite files of node.data_dir"},
};

int zt_gdpr_new(const struct zt_gdpr_opts *o, struct zt_gdpr **out)
{
    if (!o || !o->node_id || !o->pv || !o->wallet || (o->n_providers && !o->providers)) return ZT_EINVAL;
    for (size_t i = 0; i < o->n_providers; i++) {
        const struct zt_gdpr_provider *p = &o->providers[i];
        if (!p->name || !p->what || !p->export_fn || !p->erase_fn) return ZT_EINVAL;
    }
    struct zt_gdpr *g = zt_calloc(1, sizeof *g);
    if (!g) return ZT_ENOMEM;
    if (o->n_providers && !(g->h = zt_calloc(o->n_providers, sizeof *g->h))) {
        zt_free(g);
        return ZT_ENOMEM;
    }
    if (o->n_providers) memcpy(g->h, o->providers, o->n_providers * sizeof *g->h);
    g->n = o->n_providers;
    g->node_id = o->node_id;
    g->pv = o->pv;
    g->wallet = o->wallet;
    g->max = o->export_max ? o->export_max : ZT_GDPR_EXPORT_MAX;
    *out = g;
    return 0;
}

size_t zt_gdpr_export_max(const struct zt_gdpr *g)
{
    return g->max;
}

void zt_gdpr_free(struct zt_gdpr *g)
{
    if (!g) return;
    zt_free(g->h);
    zt_free(g);
}

/* A "wallet:0x<40 hex>" identity's address. */
static bool wallet_addr(const char *identity, uint8_t addr[ZT_WALLET_ADDR_LEN])
{
    return zt_str_starts_with(identity, "wallet:") && zt_wallet_parse_address(identity + 7, addr) == 0;
}

static json_t *iso(int64_t ms)
{
    char t[ZT_TIME_ISO_LEN];
    zt_time_iso8601(t, sizeof t, ms);
    return json_string(t);
}

/* ---- export --------------------------------------------------------------- */

static json_t *sessions_json(struct zt_gdpr *g, const char *identity)
{
    uint8_t addr[ZT_WALLET_ADDR_LEN];
    if (!wallet_addr(identity, addr))
        return json_pack("{s:b,s:s}", "kept", 0, "reason",
                         "this identity signs in with JWTs issued by zentalk-api; the node keeps no session for it");
    struct zt_wallet_session_info *v = zt_calloc(ZT_GDPR_SESSIONS_MAX, sizeof *v);
    if (!v) return NULL;
    size_t n = zt_wallet_list(g->wallet, addr, zt_time_real_ms() / 1000, v, ZT_GDPR_SESSIONS_MAX);
    json_t *items = json_array();
    for (size_t i = 0; items && i < n && i < ZT_GDPR_SESSIONS_MAX; i++)
        if (json_array_append_new(items, json_pack("{s:o,s:o}", "created_at", iso(v[i].created_s * 1000),
                                                   "expires_at", iso(v[i].expires_s * 1000))) != 0) {
            json_decref(items);
            items = NULL;
        }
    zt_free(v);
    if (!items) return NULL;
    return json_pack("{s:b,s:s,s:I,s:o}", "kept", 1, "note",
                     "wallet sessions live in memory only; the node keeps the SHA-256 of each token, never the token",
                     "count", (json_int_t)n, "items", items);
}

/* The audit entries about identity: by pseudonym while the salt exists, by
 * clear identity for older entries; at most budget bytes. */
static int audit_json(struct zt_gdpr *g, const char *identity, size_t budget, size_t *used, json_t **out)
{
    *used = 0;
    const char *adir = zt_privacy_layer_audit_dir(g->pv);
    if (!adir) {
        *out = json_pack("{s:b,s:s}", "kept", 0, "reason", "the audit log is off (privacy.audit_log)");
        return *out ? 0 : ZT_ENOMEM;
    }
    char ps[ZT_PSEUDOID_STR];
    bool have_ps = zt_privacy_layer_pseudonym(g->pv, identity, false, ps) == 0;
    struct zt_gdpr_audit_scan sc = {
        .pseudonym = have_ps ? ps : NULL, .identity = identity, .items = json_array(), .max = budget};
    if (!sc.items) return ZT_ENOMEM;
    int rc = zt_gdpr_audit_scan(adir, &sc);
    if (rc) {
        json_decref(sc.items);
        return rc;
    }
    *out = json_pack("{s:b,s:s?,s:I,s:I,s:o,s:s}", "kept", 1, "pseudonym", have_ps ? ps : NULL, "count",
                     (json_int_t)(sc.n_pseudo + sc.n_clear), "with_clear_identity", (json_int_t)sc.n_clear, "items",
                     sc.items, "note",
                     "entries name the caller by a keyed pseudonym; after erasure the pseudonym can no longer be "
                     "recomputed");
    sodium_memzero(ps, sizeof ps);
    *used = sc.bytes;
    return *out ? 0 : ZT_ENOMEM;
}

/* The holders with keeps == keeps, in order, into data or not_kept. */
static int export_holders(struct zt_gdpr *g, const char *identity, bool keeps, size_t *bytes, json_t *data,
                          json_t *nk)
{
    for (size_t i = 0; i < g->n; i++) {
        const struct zt_gdpr_provider *h = &g->h[i];
        if (h->keeps != keeps) continue;
        json_t *part = NULL;
        const char *why = NULL;
        size_t used = 0;
        int rc = h->export_fn(h->ud, identity, g->max - *bytes, &used, &part, &why);
        if (rc) {
            json_decref(part);
            return rc;
        }
        if (used > g->max - *bytes) { /* a holder past its budget is past the export's */
            json_decref(part);
            return ZT_ETOOBIG;
        }
        *bytes += used;
        if (part ? json_object_set_new(data, h->name, part)
                 : json_object_set_new(nk, h->name,
                                       json_pack("{s:b,s:s}", "kept", 0, "reason", why ? why : "nothing is kept")))
            return ZT_ENOMEM;
    }
    return 0;
}

int zt_gdpr_export(struct zt_gdpr *g, const char *identity, json_t **out)
{
    *out = NULL;
    json_t *data = json_object(), *nk = json_object(), *audit = NULL;
    size_t bytes = 0, used = 0;
    /* set_new takes the value, also when it fails */
    int rc = data && nk && !json_object_set_new(data, "sessions", sessions_json(g, identity)) ? 0 : ZT_ENOMEM;
    if (!rc) rc = export_holders(g, identity, false, &bytes, data, nk);
    if (!rc) rc = audit_json(g, identity, g->max - bytes, &used, &audit);
    if (!rc && json_object_set_new(data, "audit_entries", audit)) rc = ZT_ENOMEM;
    bytes += used;
    if (!rc) rc = export_holders(g, identity, true, &bytes, data, nk);
    for (size_t i = 0; !rc && i < sizeof not_kept / sizeof not_kept[0]; i++)
        if (json_object_set_new(nk, not_kept[i].name, json_pack("{s:b,s:s}", "kept", 0, "reason", not_kept[i].reason)))
            rc = ZT_ENOMEM;
    if (rc) {
        json_decref(data);
        json_decref(nk);
        return rc;
    }
    int64_t now = zt_time_real_ms();
    *out = json_pack("{s:s,s:s,s:s,s:o,s:I,s:o,s:o}", "format", ZT_GDPR_EXPORT_FORMAT, "identity", identity,
                     "node_id", g->node_id, "generated_at", iso(now), "generated_at_ms", (json_int_t)now, "data",
                     data, "not_kept", nk);
    return *out ? 0 : ZT_ENOMEM;
}

/* ---- erase ---------------------------------------------------------------- */

/* The holders with keeps == keeps, in order; the first failure stops. */
static int erase_holders(struct zt_gdpr *g, const char *identity, bool keeps, json_t *erased, json_t *kept,
                         struct zt_gdpr_erase_fail *fail)
{
    bool first = true;
    for (size_t i = 0; i < g->n; i++) {
        const struct zt_gdpr_provider *h = &g->h[i];
        if (h->keeps != keeps) continue;
        int rc = h->erase_fn(h->ud, identity, erased, kept);
        if (rc) {
            *fail = (struct zt_gdpr_erase_fail){.at = ZT_GDPR_STOP_HOLDER, .what = h->what, .first = first};
            return rc;
        }
        first = false;
    }
    return 0;
}

/* What an erase that got past the salt erased, as a list: every holder
 * that does not keep its records, the wallet sessions, the salt. */
static void erased_text(const struct zt_gdpr *g, size_t n_sess, bool salt_gone, char *out, size_t cap)
{
    char sess[48];
    snprintf(sess, sizeof sess, "%zu wallet session%s", n_sess, n_sess == 1 ? "" : "s");
    size_t total = 1 + (salt_gone ? 1 : 0), k = 0, w = 0;
    for (size_t i = 0; i < g->n; i++) total += !g->h[i].keeps;
    out[0] = '\0';
    for (size_t i = 0; i < g->n + 2 && w < cap; i++) {
        const char *part = i < g->n ? (g->h[i].keeps ? NULL : g->h[i].what)
                           : i == g->n ? sess
                           : salt_gone ? "the audit pseudonym salt" : NULL;
        if (!part) continue;
        int m = snprintf(out + w, cap - w, "%s%s", k == 0 ? "" : k + 1 == total ? " and " : ", ", part);
        if (m < 0) break;
        w += (size_t)m;
        k++;
    }
}

int zt_gdpr_erase(struct zt_gdpr *g, const char *identity, zt_gdpr_audit_fn audit, void *audit_ud, json_t **out,
                  struct zt_gdpr_erase_fail *fail)
{
    *out = NULL;
    *fail = (struct zt_gdpr_erase_fail){0};
    json_t *h_erased = json_object(), *h_kept = json_object(), *erased = NULL, *kept = NULL;
    int rc = h_erased && h_kept ? 0 : ZT_ENOMEM;
    /* 1. what the other holders keep: a failure here leaves everything in place */
    if (!rc) rc = erase_holders(g, identity, false, h_erased, h_kept, fail);
    if (rc) goto out;
    /* 2. the wallet's sessions and nonces */
    size_t n_sess = 0;
    uint8_t addr[ZT_WALLET_ADDR_LEN];
    if (wallet_addr(identity, addr)) n_sess = zt_wallet_revoke_address(g->wallet, addr);
    /* 3. the audit entries that the salt still ties to the identity */
    char ps[ZT_PSEUDOID_STR];
    bool have_ps = zt_privacy_layer_pseudonym(g->pv, identity, false, ps) == 0;
    struct zt_gdpr_audit_scan sc = {.pseudonym = have_ps ? ps : NULL, .identity = identity};
    int arc = zt_gdpr_audit_scan(zt_privacy_layer_audit_dir(g->pv), &sc);
    /* 4. the erase's own entry, under the pseudonym about to become unlinkable */
    if (audit) audit(audit_ud, have_ps ? ps : NULL);
    sodium_memzero(ps, sizeof ps);
    /* 5. the salt */
    bool salt_gone = false;
    rc = zt_privacy_layer_forget(g->pv, identity, &salt_gone);
    if (rc) {
        fail->at = ZT_GDPR_STOP_SALT;
        goto out;
    }
    /* 6. what the holders that keep their records keep */
    kept = json_pack("{s:I,s:s?,s:s}", "audit_entries_with_clear_identity", (json_int_t)sc.n_clear,
                     "audit_scan_error", arc ? zt_strerror(arc) : NULL, "audit",
                     "the audit chain cannot be edited: its entries stay, under a pseudonym nobody can tie to the "
                     "identity any more");
    rc = kept ? erase_holders(g, identity, true, h_erased, h_kept, fail) : ZT_ENOMEM;
    if (rc && fail->at == ZT_GDPR_STOP_HOLDER) { /* after the salt: say what is gone */
        fail->at = ZT_GDPR_STOP_KEPT;
        erased_text(g, n_sess, salt_gone, fail->erased, sizeof fail->erased);
    }
    if (rc) goto out;
    erased = json_pack("{s:I,s:b,s:I}", "sessions_revoked", (json_int_t)n_sess, "audit_salt_destroyed", salt_gone,
                       "audit_entries_unlinked", (json_int_t)(have_ps ? sc.n_pseudo : 0));
    /* the holders' counts first, the privacy layer's after; its statements first in kept */
    if (!erased || json_object_update(h_erased, erased) || json_object_update(kept, h_kept)) {
        rc = ZT_ENOMEM;
        goto out;
    }
    *out = json_pack("{s:s,s:O,s:O}", "identity", identity, "erased", h_erased, "kept", kept);
    rc = *out ? 0 : ZT_ENOMEM;
out:
    json_decref(h_erased);
    json_decref(h_kept);
    json_decref(erased);
    json_decref(kept);
    return rc;
}
