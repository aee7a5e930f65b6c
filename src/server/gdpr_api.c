/* gdpr_api.c: POST /v1/privacy/{export,erase} and the retention sweeper
 * (gdpr.h). */
#include "gdpr_api.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_audit.h"
#include "zentalk/zt_gdpr.h"
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_search.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define EXPORT_FORMAT "zentalk-privacy-export-v1"

struct zt__gdpr {
    const struct zt_config *cfg;
    const char *node_id;
    struct zt_privacy_layer *pv;
    struct zt_searchfeat *search;
    struct zt_wallet *wallet;
    struct zt_chain *chain; /* NULL: chain.enabled is false, no ledger */
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

void zt__gdpr_free(struct zt__gdpr *g)
{
    zt_free(g);
}

int zt__gdpr_new(const struct zt_config *cfg, const char *node_id, struct zt_privacy_layer *pv,
                 struct zt_searchfeat *search, struct zt_wallet *wallet, struct zt_chain *chain, struct zt__gdpr **out)
{
    struct zt__gdpr *g = zt_calloc(1, sizeof *g);
    if (!g) return ZT_ENOMEM;
    g->cfg = cfg;
    g->node_id = node_id;
    g->pv = pv;
    g->search = search;
    g->wallet = wallet;
    g->chain = chain;
    *out = g;
    return 0;
}

/* ---- handlers --------------------------------------------------------------- */

/* The identity the request acts on, or NULL (resp filled: 400, 403). */
static const char *target_of(const struct zt_auth_principal *caller, json_t *body, struct zt_http_resp *resp)
{
    char why[160];
    const char *named = NULL;
    if (zt_gdpr_parse(body, &named, why, sizeof why) != 0) {
        zt_http_resp_error(resp, 400, "invalid_request", why);
        return NULL;
    }
    const char *t = named ? named : caller->identity;
    if (!t[0]) {
        zt_http_resp_error(resp, 400, "identity_required",
                           "the caller has no identity of its own (the loopback operator): name one with "
                           "{\"identity\": \"...\"}");
        return NULL;
    }
    if (!zt_search_may_act(caller, t)) {
        zt_http_resp_error(resp, 403, "forbidden", "\"identity\" must be the caller's own unless the caller is admin");
        return NULL;
    }
    return t;
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

static json_t *sessions_json(struct zt__gdpr *g, const char *identity)
{
    uint8_t addr[ZT_WALLET_ADDR_LEN];
    if (!wallet_addr(identity, addr))
        return json_pack("{s:b,s:s}", "kept", 0, "reason",
                         "this identity signs in with JWTs issued by zentalk-api; the node keeps no session for it");
    struct zt_wallet_session_info *v = zt_calloc(ZT__GDPR_SESSIONS_MAX, sizeof *v);
    if (!v) return NULL;
    size_t n = zt_wallet_list(g->wallet, addr, zt_time_real_ms() / 1000, v, ZT__GDPR_SESSIONS_MAX);
    json_t *items = json_array();
    for (size_t i = 0; items && i < n && i < ZT__GDPR_SESSIONS_MAX; i++)
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

/* The identity's ledger account (a wallet identity on a node with
 * chain.enabled), or NULL with *why saying why none is kept: payment
 * records survive erasure, so the export shows them all (up to
 * ZT__GDPR_LEDGER_MAX entries, newest first). */
static json_t *ledger_json(struct zt__gdpr *g, const char *identity, const char **why, int *rc)
{
    char addr[43];
    *rc = 0;
    if (!g->chain) {
        *why = "chain.enabled is false: this node keeps no ledger (no credits, payments or payouts)";
        return NULL;
    }
    if (zt_chain_payer(identity, addr) != 0) {
        *why = "ledger accounts belong to wallet identities (wallet:0x...); this identity has none";
        return NULL;
    }
    json_t *acct = NULL;
    *rc = zt_chain_account_export(g->chain, addr, ZT__GDPR_LEDGER_MAX, &acct);
    if (*rc == ZT_ENOTFOUND) {
        *rc = 0;
        *why = "this wallet has no ledger account on this node (it never deposited or paid here)";
        return NULL;
    }
    if (*rc) return NULL;
    json_t *j = json_pack("{s:b}", "kept", 1);
    if (!j || json_object_update(j, acct) ||
        json_object_set_new(j, "note", json_string("payment records are kept for accounting and survive erasure; "
                                                   "they name the wallet address, not a person"))) {
        json_decref(j);
        j = NULL;
        *rc = ZT_ENOMEM;
    }
    json_decref(acct);
    return j;
}

/* Whether the search database file exists (data the closed store may hold). */
static bool search_file_exists(const struct zt_config *cfg)
{
    const char *p = cfg->features.search.db_path;
    char path[4096];
    int k = p[0] == '/' ? snprintf(path, sizeof path, "%s", p) : snprintf(path, sizeof path, "%s/%s", cfg->node.data_dir, p);
    struct stat st;
    return k > 0 && (size_t)k < sizeof path && stat(path, &st) == 0 && st.st_size > 0;
}

static void store_fail(struct zt_http_resp *resp, int rc, const char *what)
{
    char m[160];
    snprintf(m, sizeof m, "%s: %s", what, zt_strerror(rc));
    if (rc == ZT_EBUSY) {
        zt_ignore(zt_http_resp_header(resp, "Retry-After", "1"));
        zt_http_resp_error(resp, 503, "store_busy", m);
    } else {
        zt_http_resp_error(resp, 500, "store_error", m);
    }
}

void zt__gdpr_h_export(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__gdpr *g = ud;
    const struct zt_auth_principal *caller = &cx->principal;
    const char *id = target_of(caller, body, resp);
    if (!id) return;
    json_t *root = NULL, *docs = NULL, *audit = NULL;
    struct zt_search_hit *hits = NULL;
    size_t nh = 0, bytes = 0;
    int rc = ZT_ENOMEM;
    json_t *sessions = sessions_json(g, id);
    if (!sessions) goto fail;
    /* search messages, decrypted for the owner */
    struct zt_search *se = zt_searchfeat_engine(g->search);
    if (se && strlen(id) <= ZT_SEARCH_USER_MAX) {
        size_t count = 0;
        rc = zt_search_count(se, id, &count);
        if (!rc && count > ZT__GDPR_EXPORT_MAX_DOCS) rc = ZT_ETOOBIG; /* bounds the memory of the list below */
        if (!rc) rc = zt_search_list(se, id, 0, &hits, &nh);
        if (rc) goto fail;
        json_t *items = json_array();
        for (size_t i = 0; items && i < nh; i++) {
            bytes += strlen(hits[i].text) + strlen(hits[i].id);
            if (bytes > ZT__GDPR_EXPORT_MAX) {
                json_decref(items);
                rc = ZT_ETOOBIG;
                goto fail;
            }
            if (json_array_append_new(items, json_pack("{s:s,s:s,s:o,s:I}", "id", hits[i].id, "text", hits[i].text,
                                                       "indexed_at", iso(hits[i].ts), "indexed_at_ms",
                                                       (json_int_t)hits[i].ts)) != 0) {
                json_decref(items);
                items = NULL;
            }
        }
        rc = ZT_ENOMEM;
        if (!items) goto fail;
        docs = json_pack("{s:b,s:I,s:o}", "kept", 1, "count", (json_int_t)nh, "items", items);
    } else if (se) {
        docs = json_pack("{s:b,s:I,s:[]}", "kept", 1, "count", (json_int_t)0, "items");
    } else {
        docs = json_pack("{s:b,s:s}", "kept", search_file_exists(g->cfg), "reason",
                         search_file_exists(g->cfg)
                             ? "the search store exists but is not open on this node now (see the node log); retry "
                               "when it is"
                             : "search is not available on this node (asset missing or store not opened)");
    }
    if (!docs) goto fail;
    /* audit entries: by pseudonym while the salt exists, by clear identity for older entries */
    char ps[ZT_PSEUDOID_STR];
    bool have_ps = zt_privacy_layer_pseudonym(g->pv, id, false, ps) == 0;
    const char *adir = zt_privacy_layer_audit_dir(g->pv);
    if (adir) {
        struct zt_gdpr_audit_scan sc = {.pseudonym = have_ps ? ps : NULL, .identity = id, .items = json_array(),
                                .max = ZT__GDPR_EXPORT_MAX > bytes ? ZT__GDPR_EXPORT_MAX - bytes : 0};
        if (!sc.items) goto fail;
        rc = zt_gdpr_audit_scan(adir, &sc);
        if (rc) {
            json_decref(sc.items);
            goto fail;
        }
        audit = json_pack("{s:b,s:s?,s:I,s:I,s:o,s:s}", "kept", 1, "pseudonym", have_ps ? ps : NULL, "count",
                          (json_int_t)(sc.n_pseudo + sc.n_clear), "with_clear_identity", (json_int_t)sc.n_clear,
                          "items", sc.items, "note",
                          "entries name the caller by a keyed pseudonym; after erasure the pseudonym can no "
                          "longer be recomputed");
    } else {
        audit = json_pack("{s:b,s:s}", "kept", 0, "reason", "the audit log is off (privacy.audit_log)");
    }
    rc = ZT_ENOMEM;
    if (!audit) goto fail;
    const char *no_ledger = NULL;
    json_t *ledger = ledger_json(g, id, &no_ledger, &rc);
    if (rc) goto fail;
    rc = ZT_ENOMEM;
    json_t *nk = json_object();
    if (nk && no_ledger) json_object_set_new(nk, "ledger", json_pack("{s:b,s:s}", "kept", 0, "reason", no_ledger));
    for (size_t i = 0; nk && i < sizeof not_kept / sizeof not_kept[0]; i++)
        json_object_set_new(nk, not_kept[i].name, json_pack("{s:b,s:s}", "kept", 0, "reason", not_kept[i].reason));
    if (!nk) {
        json_decref(ledger);
        goto fail;
    }
    root = json_pack("{s:s,s:s,s:s,s:o,s:I,s:{s:o,s:o,s:o,s:o*},s:o}", "format", EXPORT_FORMAT, "identity", id,
                     "node_id", g->node_id, "generated_at", iso(zt_time_real_ms()), "generated_at_ms",
                     (json_int_t)zt_time_real_ms(), "data", "sessions", sessions, "search_documents", docs,
                     "audit_entries", audit, "ledger", ledger, "not_kept", nk);
    sessions = docs = audit = NULL;
    if (!root) goto fail;
    zt_search_hits_free(hits, nh);
    zt_ignore(zt_http_resp_header(resp, "Content-Disposition", "attachment; filename=\"zentalk-export.json\""));
    zt_ignore(zt_http_resp_header(resp, "Cache-Control", "no-store"));
    zt_http_resp_json(resp, 200, root);
    return;
fail:
    zt_search_hits_free(hits, nh);
    json_decref(sessions);
    json_decref(docs);
    json_decref(audit);
    if (rc == ZT_ETOOBIG) {
        char m[160];
        snprintf(m, sizeof m, "the export holds more than %zu bytes of messages and audit entries; delete old "
                              "messages (POST /v1/search/delete) or ask the operator", ZT__GDPR_EXPORT_MAX);
        zt_http_resp_error(resp, 413, "export_too_large", m);
    } else if (rc == ZT_ENOMEM) {
        zt_http_resp_error(resp, 500, "internal", "out of memory");
    } else {
        store_fail(resp, rc, "export failed");
    }
}

void zt__gdpr_h_erase(void *ud, struct zt__req_ctx *cx, json_t *body, struct zt_http_resp *resp)
{
    struct zt__gdpr *g = ud;
    const struct zt_auth_principal *caller = &cx->principal;
    const char *id = target_of(caller, body, resp);
    if (!id) return;
    struct zt_search *se = zt_searchfeat_engine(g->search);
    if (!se && search_file_exists(g->cfg)) {
        zt_http_resp_error(resp, 503, "store_unavailable",
                           "the search store exists but is not open; nothing was erased (see the node log)");
        return;
    }
    size_t n_docs = 0;
    bool key_gone = false;
    if (se && strlen(id) <= ZT_SEARCH_USER_MAX) {
        int rc = zt_search_delete_user(se, id, &n_docs);
        if (rc) {
            store_fail(resp, rc, "erasing the search messages failed; nothing else was erased");
            return;
        }
        key_gone = true;
    }
    size_t n_sess = 0;
    uint8_t addr[ZT_WALLET_ADDR_LEN];
    if (wallet_addr(id, addr)) n_sess = zt_wallet_revoke_address(g->wallet, addr);
    char ps[ZT_PSEUDOID_STR];
    bool have_ps = zt_privacy_layer_pseudonym(g->pv, id, false, ps) == 0;
    struct zt_gdpr_audit_scan sc = {.pseudonym = have_ps ? ps : NULL, .identity = id};
    int arc = zt_gdpr_audit_scan(zt_privacy_layer_audit_dir(g->pv), &sc);
    /* the erase's own entry, under the pseudonym about to become unlinkable */
    bool self = strcmp(id, caller->identity) == 0;
    int rc = zt__req_audit_now(cx, !self && have_ps ? ps : NULL, 200);
    if (rc) zt_log(ZT_LOG_ERROR, "audit_write_failed", "error=\"%s\" request_id=%s", zt_strerror(rc), cx->request_id);
    bool salt_gone = false;
    rc = zt_privacy_layer_forget(g->pv, id, &salt_gone);
    if (rc) {
        store_fail(resp, rc, "search messages and sessions were erased, but the audit pseudonym salt could not be "
                             "destroyed; retry");
        return;
    }
    sodium_memzero(ps, sizeof ps);
    zt_log(ZT_LOG_INFO, "privacy_erase", "search_docs=%zu sessions=%zu salt_destroyed=%d request_id=%s", n_docs,
           n_sess, salt_gone ? 1 : 0, cx->request_id);
    json_t *j = json_pack(
        "{s:s,s:{s:I,s:b,s:I,s:b,s:I},s:{s:I,s:s?,s:s,s:s}}", "identity", id, "erased", "search_documents",
        (json_int_t)n_docs, "search_key_destroyed", key_gone, "sessions_revoked", (json_int_t)n_sess,
        "audit_salt_destroyed", salt_gone, "audit_entries_unlinked", (json_int_t)(have_ps ? sc.n_pseudo : 0), "kept",
        "audit_entries_with_clear_identity", (json_int_t)sc.n_clear, "audit_scan_error",
        arc ? zt_strerror(arc) : NULL, "audit",
        "the audit chain cannot be edited: its entries stay, under a pseudonym nobody can tie to the identity any more",
        "ledger",
        g->chain ? "payment records (a wallet's ledger account and its history) are kept for accounting and are not "
                   "erased; they name the wallet address, not a person"
                 : "chain.enabled is false: this node keeps no ledger");
    zt_http_resp_json(resp, 200, j);
}
