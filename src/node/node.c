/* node.c: the composition root. See node.h.
 *
 * Build order follows the dependencies: what a subsystem borrows is built
 * before it (store before privacy and search, models before the router,
 * the features before their wiring, privacy, search and wallet before
 * GDPR), and the HTTP layer last, with every handle. zt_node_free() is the
 * reverse with one twist that the HTTP layer imposes: work that answers
 * requests later (inference jobs, relayed and remote jobs) is ended first,
 * so that every deferred answer is sent while the listener still runs;
 * only then does the listener stop and the subsystems go. */
#include "node.h"

#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../server/conv_api.h"
#include "../server/server_deps.h"
#include "../server/orch_api.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_infer.h"
#include "../server/privacy_api.h"
#include "../server/relay_api.h"
#include "../server/route_api.h"
#include "zentalk/zt_sealed_worker.h"
#include "joiner.h"
#include "wiring.h"
#include "ws_hub.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_annotate.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_auth.h"
#include "zentalk/zt_bridge.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_featset.h"
#include "zentalk/zt_intent.h"
#include "zentalk/zt_gdpr.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_jobs.h" /* the relay the node builds (zt_relay) */
#include "zentalk/zt_ledger.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_dbsync.h"
#include "zentalk/zt_mesh.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_nat_relay.h"
#include "zentalk/zt_orch_role.h"
#include "zentalk/zt_gwjob.h"
#include "zentalk/zt_verifier.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_pii.h"
#include "zentalk/zt_queue.h"
#include "zentalk/zt_registry.h"
#include "zentalk/zt_sched.h"
#include "zentalk/zt_verifier.h"
#include "zentalk/zt_ratelimit.h"
#include "zentalk/zt_rcache.h"
#include "zentalk/zt_search.h"
#include "zentalk/zt_server.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_translate.h"
#include "zentalk/zt_wallet.h"
#include "zentalk/zt_ws.h"

#define RATE_LIMIT_KEYS 10000 /* identities tracked; least recently seen evicted */
#define JOINED_MAX 16         /* node.join entries (config.c's bound) */

struct zt_node {
    const struct zt_config *cfg;
    const char *node_id;
    const struct zt_identity *id;
    char peers_path[4096];
    struct zt_metrics *metrics;
    struct zt_store *search_store; /* features.search.db_path; borrowed by search */
    struct zt_ratelimit *limiter;
    struct zt_auth_keys auth_keys;
    struct zt_wallet *wallet;
    struct zt_peers *peers;
    struct zt_nodeauth_verifier *nodeauth;
    struct zt_privacy_layer *privacy;
    struct zt_lexfeat *lexfeat;
    struct zt_infer *models;
    struct zt_spamfeat *feat_spam;
    struct zt_relay *relay;
    struct zt_gw_runner *runner; /* the gateway's remote jobs (zt_gwjob.h), lent to the router */
    struct zt__route *route;
    struct zt_rcache *rcache; /* the gateway's result cache (NULL: off) */
    struct zt_bridge *bridge; /* webhooks to integration.api_url (NULL: off) */
    struct zt_translate *translator; /* the Apertium pipelines (features.translate) */
    struct zt_translate_svc *translate; /* the translation service over it (routes, annotator) */
    struct zt_annot_engine *annot; /* live annotations (/v1/ws) */
    struct zt_ws_hub *ws; /* /v1/ws: its connections speak the annotation protocol (ws_hub.c) */
    struct zt_searchfeat *search;
    struct zt_convfeat *convfeat;       /* intents, replies, summaries: the data */
    struct zt_intent_pool *intents;     /* intent batches off the HTTP threads */
    struct zt__feat_conv *conv;         /* their routes (with the chat model) */
    struct zt__wiring *wiring;
    struct zt_gdpr *gdpr;               /* GDPR export and erase (their routes' service) */
    struct zt_gdpr_sweeper *sweeper;    /* retention */
    struct zt_sealed_worker *sealed;
    struct zt_infer_attest *attest;
    struct zt_server *server;
    struct zt_dht *dht; /* node.dht_port: discovery */
    struct zt_mesh *mesh; /* mesh.enabled: blobs shared with peers (holder records in dht) */
    struct zt_store *dbsync_store; /* the database sync's own handle on the orchestrator's store */
    struct zt_store *mesh_store;   /* the mesh's handle on the node store (peers' scores) */
    struct zt_dbsync *dbsync; /* mesh.db_sync_interval_s: job and ledger rows published to the mesh */
    uint64_t stop_deadline_ms; /* zt_time_mono_ms() by which zt_node_free() returns; 0: none */
    /* the orchestrator role: its own store handle, the registry, the
     * scheduler and their HTTP side (routes, pump) */
    struct zt_store *orch_store;
    struct zt_registry *registry;
    struct zt_sched *sched;
    struct zt_queue *queue; /* database.queue: redis: the queue shared with other orchestrators */
    struct zt_orch_role *role; /* the role's verifier, NAT relay, lease table, pump; the gateway's placement */
    struct zt__orch *orch;     /* its HTTP side */
    struct zt_chain *chain; /* chain.enabled: the books the gateway's jobs are paid from */
    /* the worker's joins (node.join) and the descriptors of the
     * orchestrators it joined, trusted like peers-file entries */
    struct zt__joiner *joiner;
    pthread_mutex_t joined_mu;
    bool joiner_gone; /* under joined_mu: the checks' reports stop (zt_node_free) */
    char *joined[JOINED_MAX];
    size_t joined_len[JOINED_MAX];
};

/* path under data_dir unless absolute. */
static int data_path(const struct zt_config *cfg, const char *name, char *out, size_t n)
{
    int w = name[0] == '/' ? snprintf(out, n, "%s", name) : snprintf(out, n, "%s/%s", cfg->node.data_dir, name);
    return w < 0 || (size_t)w >= n ? ZT_ETOOBIG : 0;
}

static int load_jwt_key(struct zt_node *n, const char *path, struct zt_buf *err)
{
    char *buf = NULL;
    size_t len = 0;
    int rc = zt_file_read(path, ZT_AUTH_PEM_MAX, &buf, &len);
    if (rc == ZT_ETOOBIG) {
        zt_ignore(zt_buf_appendf(err, "%s: larger than %d bytes", path, ZT_AUTH_PEM_MAX));
        return rc;
    }
    if (rc == ZT_ENOMEM) return rc;
    if (rc) {
        zt_ignore(zt_buf_appendf(err, "%s: %s", path, rc == ZT_ENOTFOUND ? strerror(ENOENT) : strerror(errno)));
        return ZT_EIO;
    }
    const char *why = "";
    rc = zt_auth_keys_set_pem(&n->auth_keys, buf, len, &why);
    zt_free(buf);
    if (rc) {
        zt_ignore(zt_buf_appendf(err, "%s: %s", path, why));
        return rc;
    }
    bool rsa = n->auth_keys.rsa_pem != NULL;
    unsigned need = rsa ? ZT_AUTH_ALG_RS256 : ZT_AUTH_ALG_EDDSA;
    if (!(n->auth_keys.algs & need)) {
        zt_ignore(zt_buf_appendf(err, "%s: an %s key, but encryption.jwt_algorithms does not list %s", path,
                                 rsa ? "RSA" : "Ed25519", rsa ? "RS256" : "EdDSA"));
        return ZT_ECONFIG;
    }
    zt_log(ZT_LOG_INFO, "jwt_public_key_loaded", "file=%s alg=%s", path, rsa ? "RS256" : "EdDSA");
    return 0;
}

/* Token keys: the HS256 secret and the allowed algorithms, and the public
 * key file when set. */
static int build_auth(struct zt_node *n, struct zt_buf *err)
{
    const struct zt_config *cfg = n->cfg;
    zt_auth_keys_init(&n->auth_keys);
    n->auth_keys.hs_secret = cfg->encryption.jwt_secret;
    for (size_t i = 0; i < cfg->encryption.jwt_algorithms.count; i++) {
        unsigned bit = 0;
        if (zt_auth_alg_parse(cfg->encryption.jwt_algorithms.items[i], &bit) == 0) n->auth_keys.algs |= bit;
    }
    if (zt_ratelimit_new((double)cfg->server.rate_limit_rps, (double)cfg->server.rate_limit_burst, RATE_LIMIT_KEYS,
                         &n->limiter) != 0)
        return ZT_ENOMEM;
    if (zt_wallet_new(cfg->server.session_ttl_s > 0 ? cfg->server.session_ttl_s : 86400, &n->wallet) != 0)
        return ZT_ENOMEM;
    if (!cfg->encryption.jwt_public_key_file[0]) return 0;
    char kp[4096];
    int rc = data_path(cfg, cfg->encryption.jwt_public_key_file, kp, sizeof kp);
    if (!rc) rc = load_jwt_key(n, kp, err);
    if (rc) zt_ignore(zt_buf_appendf(err, " (encryption.jwt_public_key_file)"));
    return rc;
}

/* PERSON_NAME: the names asset, when installed (`make data`), goes to the
 * privacy gate's detector; without it names are not detected (a warning). */
static int load_names(struct zt_privacy_layer *pv, const struct zt_config *cfg)
{
    char path[4096];
    struct zt_asset a;
    int rc = zt_asset_path(cfg->node.data_dir, ZT_PII_NAMES_ASSET, path, sizeof path);
    if (!rc) rc = zt_asset_load(path, ZT_PII_NAMES_KIND, ZT_PII_NAMES_VERSION, &a);
    if (rc) {
        if (rc == ZT_ENOMEM) return rc;
        zt_log(ZT_LOG_WARN, "asset_missing", "asset=%s path=\"%s\" reason=\"%s\" hint=\"run make data\" effect=\"PERSON_NAME not detected\"",
               ZT_PII_NAMES_ASSET, path, zt_strerror(rc));
        return 0;
    }
    rc = zt_privacy_layer_set_names(pv, a.data, a.len);
    zt_asset_deinit(&a);
    if (rc == ZT_EPARSE) {
        zt_log(ZT_LOG_WARN, "asset_invalid", "asset=%s path=\"%s\" effect=\"PERSON_NAME not detected\"",
               ZT_PII_NAMES_ASSET, path);
        return 0;
    }
    return rc;
}

/* The privacy layer, and its audit log with the pseudonym salts in the
 * node store. */
static int build_privacy(struct zt_node *n, struct zt_buf *err)
{
    int rc = zt_privacy_layer_new(n->cfg, &n->privacy, err);
    if (rc) {
        zt_log(ZT_LOG_ERROR, "privacy_config_invalid", "reason=\"%s\"", zt_buf_str(err));
        return rc == ZT_ENOMEM ? rc : ZT_ECONFIG;
    }
    rc = load_names(n->privacy, n->cfg);
    if (rc) return rc;
    if (!n->cfg->privacy.audit_log) return 0;
    struct zt_store *st = NULL;
    rc = zt_store_open_config(n->cfg, NULL, &st, err); /* database.*: driver, path */
    if (!rc) rc = zt_privacy_layer_open_audit(n->privacy, n->id, st, err); /* st is the privacy layer's now */
    if (rc) zt_ignore(zt_buf_appendf(err, " (the audit log)"));
    return rc;
}

/* The gateway's result cache (zt_rcache.h), unless the privacy policy
 * keeps nothing (privacy.result_cache off, retention_cache_days 0). Its
 * secret: database.result_cache_secret, else derived from the node key. */
static int build_rcache(struct zt_node *n, struct zt_buf *err)
{
    const struct zt_config *cfg = n->cfg;
    if (zt_str_eq(cfg->privacy.result_cache, "off") || cfg->privacy.retention_cache_days <= 0 || !n->id) return 0;
    uint8_t secret[ZT_RCACHE_SECRET_LEN];
    const char *s = cfg->database.result_cache_secret;
    if (s && s[0]) {
        zt_sha256(secret, s, strlen(s));
    } else {
        static const char ctx[] = "zentalk-result-cache-secret-v1";
        crypto_auth_hmacsha256(secret, (const uint8_t *)ctx, sizeof ctx - 1, zt_identity_sign_sk(n->id));
    }
    struct zt_rcache_opts o = {
        .backend = cfg->database.result_cache,
        .redis_url = cfg->database.redis_url,
        .max_bytes = (size_t)cfg->database.result_cache_max_mb << 20,
        .ttl_s = cfg->privacy.retention_cache_days * 86400,
        .verify_permille = (uint32_t)cfg->database.result_cache_verify_permille,
        .secret = secret,
    };
    int rc = zt_rcache_new(&o, &n->rcache);
    sodium_memzero(secret, sizeof secret);
    if (!rc) rc = zt_rcache_register_metrics(n->rcache, n->metrics);
    if (rc) {
        zt_ignore(zt_buf_appendf(err, "the result cache (database.result_cache %s): %s", cfg->database.result_cache,
                                 zt_strerror(rc)));
        return rc;
    }
    zt__route_set_cache(n->route, n->rcache);
    return 0;
}

/* Peers, node signatures, and the relay and router of a gateway. */
static int build_network(struct zt_node *n, struct zt_buf *err)
{
    const struct zt_config *cfg = n->cfg;
    int rc = zt_peers_new(&n->peers);
    if (!rc) rc = zt_peers_register_metrics(n->peers, n->metrics);
    if (!rc) rc = zt_nodeauth_verifier_new(0, &n->nodeauth);
    if (!rc)
        rc = zt_relay_new(n->peers, (unsigned)cfg->server.relay_timeout_s, (unsigned)cfg->server.relay_max_inflight,
                          &n->relay);
    struct zt_gw_runner_opts ro = {.cfg = cfg, .id = n->id, .peers = n->peers, .pv = n->privacy};
    if (!rc) rc = zt_gw_runner_new(&ro, &n->runner);
    if (!rc) rc = zt__route_new(cfg, n->models, n->peers, n->privacy, n->runner, &n->route);
    if (!rc) rc = zt_relay_register_metrics(n->relay, n->metrics);
    if (!rc) rc = zt__route_register_metrics(n->route, n->metrics);
    if (!rc) rc = zt_gw_runner_register_metrics(n->runner, n->metrics);
    if (rc) return rc;
    zt_relay_set_identity(n->relay, n->id);
    /* server.relay_private_targets: auto = allowed only when this node
     * itself listens on loopback (a private test or single-machine network) */
    const char *pt = cfg->server.relay_private_targets;
    bool allow_private = zt_str_eq(pt, "allow");
    if (zt_str_eq(pt, "auto")) {
        char host[256];
        uint16_t port;
        allow_private = zt_str_split_hostport(cfg->server.listen, host, sizeof host, &port) == 0 &&
                        (zt_str_eq(host, "localhost") || zt_str_eq(host, "::1") || zt_str_starts_with(host, "127."));
    }
    zt_relay_set_allow_private(n->relay, allow_private);
    zt__route_set_identity(n->route, n->id);
    if (cfg->server.relay_ca_file[0]) {
        char ca[4096];
        rc = data_path(cfg, cfg->server.relay_ca_file, ca, sizeof ca);
        if (!rc && access(ca, R_OK) != 0) {
            zt_ignore(zt_buf_appendf(err, "server.relay_ca_file %s: %s", ca, strerror(errno)));
            return ZT_EIO;
        }
        if (!rc) rc = zt_relay_set_ca_file(n->relay, ca);
        if (rc) return rc;
    }
    rc = data_path(cfg, cfg->encryption.peers_file, n->peers_path, sizeof n->peers_path);
    if (!rc) rc = zt_node_reload_peers(n, err);
    if (rc) zt_ignore(zt_buf_appendf(err, " (encryption.peers_file)"));
    return rc;
}

/* The messaging features, their store and their wiring. */
static int build_features(struct zt_node *n, struct zt_buf *err)
{
    const struct zt_config *cfg = n->cfg;
    int rc = zt_lexfeat_new(cfg, &n->lexfeat);
    if (!rc) rc = zt_spamfeat_new(cfg, &n->feat_spam);
    const struct zt_cfg_translate *tc = &cfg->features.translate;
    struct zt_translate_opts to = {
        .modes_dir = tc->modes_dir,
        .max_input_bytes = (size_t)tc->max_bytes,
        .timeout_ms = (unsigned)tc->timeout_ms,
        .pipelines = (unsigned)tc->pipelines,
    };
    if (!rc) rc = zt_translate_new(&to, &n->translator);
    struct zt_translate_svc_opts so = {
        .engine = n->translator,
        .enabled = tc->enabled,
        .max_bytes = (size_t)tc->max_bytes,
        .threshold = tc->threshold,
        .timeout_ms = (unsigned)tc->timeout_ms,
        .model = tc->model,
    };
    if (!rc) rc = zt_translate_svc_new(&so, &n->translate);
    if (!rc) rc = zt_annot_new((size_t)cfg->server.ws_max_message_bytes, &n->annot);
    if (!rc) rc = zt__node_ws_hub_new(cfg, n->annot, &n->ws);
    if (rc) return rc;
    struct zt_annotator tr_ann = {.name = "translation", .annotate = zt_translate_annotate, .ud = n->translate};
    rc = zt_annot_add(n->annot, &tr_ann);
    if (!rc) rc = zt_searchfeat_new(cfg, &n->search);
    if (!rc && zt_searchfeat_wants_store(n->search)) {
        struct zt_buf serr;
        zt_buf_init(&serr, 4096);
        if (zt_store_open_config(cfg, cfg->features.search.db_path, &n->search_store, &serr) != 0)
            zt_log(ZT_LOG_WARN, "search_store_unavailable", "detail=\"%s\"", zt_buf_str(&serr)); /* routes: 503 */
        zt_buf_deinit(&serr);
        rc = zt_searchfeat_open(n->search, n->id, n->search_store);
    }
    if (!rc) rc = zt_searchfeat_register_metrics(n->search, n->metrics);
    if (!rc) rc = zt_convfeat_new(cfg, zt_searchfeat_stopwords(n->search), &n->convfeat);
    if (!rc) rc = zt_intent_pool_new(zt_convfeat_intents(n->convfeat), &n->intents);
    if (!rc) rc = zt__feat_conv_new(cfg, n->convfeat, n->models, n->intents, &n->conv);
    if (!rc) rc = zt__wiring_new(cfg, n->lexfeat, n->feat_spam, n->convfeat, n->translator, n->annot, &n->wiring);
    if (rc) {
        zt_ignore(zt_buf_appendf(err, "features: %s (see the log)", zt_strerror(rc)));
        return rc;
    }
    zt_log(ZT_LOG_INFO, "features_wired", "wired=%s", zt__wiring_summary(n->wiring));
    return 0;
}

static int search_expire(void *ud, int64_t before_ms, size_t *n)
{
    struct zt_search *se = zt_searchfeat_engine(ud);
    if (!se) {
        *n = 0;
        return 0;
    }
    return zt_search_expire(se, before_ms, n);
}

/* The retention sweeper over what holds personal data. */
static int build_sweeper(struct zt_node *n)
{
    struct zt_gdpr_holders h = {
        .audit_dir = zt_privacy_layer_audit_dir(n->privacy),
        .wallet = n->wallet,
        .search_expire = search_expire,
        .search_ud = n->search,
    };
    return zt_gdpr_sweeper_new(n->cfg, &h, &n->sweeper);
}

/* The GDPR export and erase over every holder of personal data besides
 * the privacy layer's own (audit log, salts) and the wallet's sessions:
 * the search store first (its erase can fail, and then nothing else
 * goes), the ledger after (its payment records survive erasure; n->chain
 * NULL: it says there is none). */
static int build_gdpr(struct zt_node *n)
{
    const struct zt_gdpr_provider h[] = {
        {.name = "search_documents", .what = "the search messages", .export_fn = zt_searchfeat_gdpr_export,
         .erase_fn = zt_searchfeat_gdpr_erase, .ud = n->search},
        {.name = "ledger", .what = "the ledger", .keeps = true, .export_fn = zt_chain_gdpr_export,
         .erase_fn = zt_chain_gdpr_erase, .ud = n->chain},
    };
    const struct zt_gdpr_opts o = {
        .node_id = n->node_id, .pv = n->privacy, .wallet = n->wallet, .providers = h, .n_providers = sizeof h / sizeof h[0]};
    return zt_gdpr_new(&o, &n->gdpr);
}

/* A local job's end (zt_infer_job_report_end): the job.completed webhook,
 * worker "local". */
static void local_job_ended(void *ud, const struct zt_infer_job_end *e)
{
    zt_bridge_job_completed(ud, e->job_id, e->user, e->model, "local", e->outcome, e->prompt_tokens,
                            e->completion_tokens, e->duration_ms);
}

/* A remote job's end (the gateway's runner, zt_gwjob.h): the
 * job.completed webhook, worker the one that ran it last. */
static void remote_job_ended(void *ud, const struct zt_gw_end *e)
{
    zt_bridge_job_completed(ud, e->job_id, e->user, e->model, e->worker, e->outcome, e->prompt_tokens,
                            e->completion_tokens, e->ms);
}

/* A scheduled job settled to its worker (chain.enabled): payout.settled. */
static void remote_job_paid(void *ud, const struct zt_gw_paid *p)
{
    zt_bridge_payout_settled(ud, p->at, p->job_id, p->user, p->worker, p->prompt_tokens, p->completion_tokens);
}

/* A result cache hit billed as a new job (zt_rcache_hit): job.completed,
 * outcome "cache", the original's worker and counts. */
static void cache_hit(void *ud, const struct zt_rcache_hit_end *e)
{
    zt_bridge_job_completed(ud, e->job_id, e->user, e->model, e->worker, "cache", e->prompt_tokens,
                            e->completion_tokens, 0);
}

/* This gateway's signed descriptor, for its remote orchestrator. */
static int gateway_desc(void *ud, char **out)
{
    return zt_sealed_worker_descriptor(ud, NULL, out);
}

/* The verifier's settled hook to the ledger (the orchestrator does not
 * depend on the ledger): the honest checkers share a slash and get the
 * verification bonus. */
static int chain_verified(void *ud, const char *job_id, enum zt_verify_verdict verdict, const char *worker,
                          const char *const *honest, size_t n_honest)
{
    return zt_chain_verified(ud, job_id, worker, verdict == ZT_VERDICT_WORKER_WRONG, honest, n_honest);
}

/* The orchestrator role: a store handle of its own (one SQLite connection
 * on the node store), the registry, the scheduler, their HTTP side. */
/* A payout batch built (pending) or exported (submitted): a webhook to the
 * API server (zt_bridge.h), keyed by batch and state. */
static void batch_webhook(void *ud, const struct zt_ledger_batch_info *bi)
{
    char key[96], total[ZT_U128_STR_LEN];
    const char *state = zt_ledger_batch_state_name(bi->state);
    snprintf(key, sizeof key, "payout.batch:%lld:%s", (long long)bi->id, state);
    zt_u128_format(bi->total, total);
    json_t *d = json_pack("{s:I,s:s,s:s,s:I}", "batch_id", (json_int_t)bi->id, "state", state, "total", total,
                          "leaves", (json_int_t)bi->n_leaves);
    if (d) zt_ignore(zt_bridge_emit(ud, bi->state == ZT_BATCH_PENDING ? "payout.batched" : "payout.submitted", key, d));
    json_decref(d);
}

static int build_orchestrator(struct zt_node *n, struct zt_buf *err)
{
    const struct zt_config *cfg = n->cfg;
    if (!(cfg->node.role_mask & ZT_ROLE_ORCHESTRATOR)) {
        /* a gateway whose orchestrator runs in another process (node.orchestrator) */
        if (!(cfg->node.role_mask & ZT_ROLE_GATEWAY) || !cfg->node.orchestrator[0]) return 0;
        int rc = zt_orch_role_new_remote(cfg, n->id, gateway_desc, n->sealed, &n->role, err);
        if (!rc) rc = zt__orch_new(n->role, &n->orch);
        if (rc) return rc;
        struct zt_gw_place p;
        zt_orch_role_place(n->role, &p);
        zt_gw_runner_set_place(n->runner, &p);
        zt__route_set_orch(n->route, n->role);
        return 0;
    }
    const struct zt_cfg_orchestrator *oc = &cfg->orchestrator;
    int64_t now = zt_time_real_ms();
    struct zt_registry_opts ro = {
        .self_id = zt_identity_id(n->id),
        .heartbeat_expiry_ms = oc->heartbeat_expiry_ms,
        .record_window_ms = oc->record_window_ms,
        .max_nodes = (size_t)oc->max_nodes,
        .rep_threshold = oc->reputation.threshold,
        .rep_prior_good = oc->reputation.prior_good,
        .rep_prior_bad = oc->reputation.prior_bad,
        .rep_half_life_ms = oc->reputation.half_life_hours * 3600000,
        .dup_quarantine_ms = oc->duplicate_quarantine_s * 1000,
        /* a store other orchestrators may share: read their changes back */
        .sync_ms = zt_str_eq(cfg->database.driver, "postgres") ? ZT_REG_SYNC_MS_DEFAULT : 0,
    };
    struct zt_sched_opts so = {
        .max_queued = (size_t)oc->queue.max,
        .max_queued_per_client = (size_t)(oc->queue.max_per_client < oc->queue.max ? oc->queue.max_per_client
                                                                                     : oc->queue.max),
        .max_attempts = (uint32_t)oc->max_attempts,
        .quantum = (uint32_t)oc->fair_quantum_tokens,
        .w_rep = oc->score.reputation,
        .w_load = oc->score.load,
        .w_lat = oc->score.latency,
        .w_price = oc->score.price,
        .scan_max = (size_t)oc->scan_max,
    };
    int rc = zt_store_open_config(cfg, NULL, &n->orch_store, err);
    if (!rc && (rc = zt_registry_open(n->orch_store, &ro, now, &n->registry)) != 0)
        zt_ignore(zt_buf_appendf(err, "the worker registry: %s", zt_strerror(rc)));
    if (!rc && (rc = zt_sched_open(n->registry, &so, now, &n->sched)) != 0)
        zt_ignore(zt_buf_appendf(err, "the scheduler: %s", zt_strerror(rc)));
    if (!rc && zt_str_eq(cfg->database.queue, "redis") &&
        (rc = zt_queue_open_config(cfg, zt_identity_id(n->id), &n->queue, err)) == 0)
        zt_sched_set_queue(n->sched, n->queue);
    if (!rc) rc = zt_orch_role_new(cfg, n->registry, n->sched, &n->role);
    if (!rc) rc = zt__orch_new(n->role, &n->orch);
    /* each part registers its own zentalk_orchestrator_* families */
    if (!rc) rc = zt_sched_register_metrics(n->sched, n->metrics);
    if (!rc) rc = zt_registry_register_metrics(n->registry, n->metrics);
    if (!rc) rc = zt__orch_register_metrics(n->orch, n->metrics);
    if (!rc) rc = zt_orch_role_register_metrics(n->role, n->metrics);
    if (!rc) rc = zt_gw_runner_register_placement_metrics(n->runner, n->metrics);
    if (!rc) rc = zt_verifier_register_metrics(zt_orch_role_verifier(n->role), n->metrics);
    if (!rc) rc = zt_nat_relay_register_metrics(zt_orch_role_relay(n->role), n->metrics);
    if (rc) {
        zt_ignore(zt_buf_appendf(err, " (orchestrator role)"));
        return rc;
    }
    if (cfg->chain.enabled && (rc = zt_chain_open(cfg, &n->chain, err)) == 0 && n->bridge)
        zt_chain_set_on_batch(n->chain, batch_webhook, n->bridge); /* payout webhooks (integration.api_url) */
    if (rc || (rc = zt_chain_register_metrics(n->chain, n->metrics)) != 0 ||
        (n->chain && (rc = zt_chain_payouts_start(n->chain, err)) != 0)) {
        zt_ignore(zt_buf_appendf(err, " (chain.enabled: the ledger)"));
        return rc;
    }
    if (n->chain) { /* the stake gate; a decided verification: the bonus, and the slash of a mismatch */
        zt_sched_set_admit(n->sched, zt_chain_stake_admit, n->chain);
        zt_verifier_set_on_settled(zt_orch_role_verifier(n->role), chain_verified, n->chain);
    }
    zt__route_set_chain(n->route, n->chain);
    zt_gw_runner_set_chain(n->runner, n->chain);
    struct zt_gw_place p;
    zt_orch_role_place(n->role, &p);
    zt_gw_runner_set_place(n->runner, &p);
    zt__route_set_orch(n->route, n->role);
    zt_orch_role_set_runner(n->role, n->runner); /* the pump's events: the jobs waiting in the runner */
    zt_log(ZT_LOG_INFO, "orchestrator_ready", "workers_known=%zu live=%zu queued=%zu",
           zt_registry_count(n->registry, false), zt_registry_count(n->registry, true), zt_sched_queued(n->sched));
    return 0;
}

/* The joiner hands over an orchestrator's verified descriptor: it joins
 * the trusted peers (its gateway may send this worker sealed jobs). */
static int trust_joined(void *ud, size_t i, const char *desc, size_t len)
{
    struct zt_node *n = ud;
    if (i >= JOINED_MAX) return ZT_EINVAL;
    char *copy = zt_malloc(len + 1);
    if (!copy) return ZT_ENOMEM;
    memcpy(copy, desc, len);
    copy[len] = '\0';
    pthread_mutex_lock(&n->joined_mu);
    bool same = n->joined[i] && n->joined_len[i] == len && memcmp(n->joined[i], desc, len) == 0;
    if (!same) {
        zt_free(n->joined[i]);
        n->joined[i] = copy;
        n->joined_len[i] = len;
        copy = NULL;
    }
    pthread_mutex_unlock(&n->joined_mu);
    zt_free(copy);
    if (same) return 0;
    struct zt_buf err;
    zt_buf_init(&err, 1024);
    int rc = zt_node_reload_peers(n, &err);
    if (rc) zt_log(ZT_LOG_ERROR, "peers_reload_failed", "detail=\"%s\"", zt_buf_str(&err));
    zt_buf_deinit(&err);
    return rc;
}

/* A peer that served a bad chunk: the orchestrator's registry hears it. */
static void mesh_report(void *ud, const char *node_id, const char *reason)
{
    struct zt_node *n = ud;
    (void)reason;
    if (n->registry) zt_ignore(zt_registry_report(n->registry, node_id, ZT_OUTCOME_MISMATCH, zt_time_real_ms()));
}

/* The orchestrator joined names a model to serve: fetch it from the mesh
 * into models/ (a pull already running or done is joined). */
static void mesh_want(void *ud, const char *sha_hex)
{
    struct zt_node *n = ud;
    int rc = n->mesh ? zt_mesh_want(n->mesh, sha_hex) : ZT_EUNSUPPORTED;
    zt_log(rc ? ZT_LOG_WARN : ZT_LOG_INFO, "mesh_model_wanted", "sha256=%s result=%s", sha_hex,
           rc ? zt_strerror(rc) : "pulling");
}

/* A model the mesh installed into models/ (told by the orchestrator, or a
 * `models pull sha256:`): served without a models.yaml entry, under its
 * file name less ".gguf" (the name its adder gave it in the mesh), then
 * advertised to the orchestrators joined (a join with the new descriptor). */
static void mesh_installed(void *ud, const char *sha_hex, const char *name)
{
    struct zt_node *n = ud;
    char id[ZT_INFER_ID_MAX + 1], path[512];
    size_t l = strlen(name);
    if (l > 5 && zt_str_eq(name + l - 5, ".gguf")) l -= 5;
    snprintf(id, sizeof id, "%.*s", (int)(l < ZT_INFER_ID_MAX ? l : ZT_INFER_ID_MAX), name);
    snprintf(path, sizeof path, "models/%s", name);
    size_t before = zt_infer_model_count(n->models);
    int rc = zt_infer_register(n->models, id, path, sha_hex);
    bool added = !rc && zt_infer_model_count(n->models) > before; /* not the same one again (a join's re-instruction) */
    if (rc || added)
        zt_log(rc ? ZT_LOG_WARN : ZT_LOG_INFO, "mesh_model_registered", "model=%s sha256=%s result=%s", id, sha_hex,
               rc ? zt_strerror(rc) : "served");
    if (added) zt__joiner_refresh(n->joiner);
}

static int build_mesh(struct zt_node *n, struct zt_buf *err)
{
    const struct zt_cfg_mesh *c = &n->cfg->mesh;
    if (!c->enabled) return 0;
    char dir[4096], models[4096];
    int rc = data_path(n->cfg, c->dir, dir, sizeof dir);
    if (!rc) rc = data_path(n->cfg, "models", models, sizeof models);
    if (!rc) rc = zt_store_open_config(n->cfg, NULL, &n->mesh_store, err);
    struct zt_mesh_opts o = {
        .dir = dir, .models_dir = models, .id = n->id, .peers = n->peers, .metrics = n->metrics,
        .replication = (unsigned)c->replication_model, .record_ttl_s = (unsigned)c->record_ttl_s,
        .repair_interval_s = (unsigned)c->repair_interval_s, .parallel = (unsigned)c->parallel,
        .serve_rps = c->serve_rate_rps, .serve_burst = c->serve_burst,
        .max_bytes = (uint64_t)c->max_store_mb << 20, .accept_replicas = c->accept_replicas, .st = n->mesh_store,
    };
    if (!rc) rc = zt_mesh_new(&o, &n->mesh);
    if (rc) zt_ignore(zt_buf_appendf(err, "mesh store %s: %s", dir, zt_strerror(rc)));
    if (!rc) {
        zt_mesh_set_report_hook(n->mesh, mesh_report, n);
        zt_mesh_set_installed_hook(n->mesh, mesh_installed, n);
    }
    return rc;
}

/* An orchestrator with the mesh publishes its job and ledger rows
 * (zt_dbsync.h), through its own store handle: its own SQLite file, or a
 * PostgreSQL database shared by orchestrators (each publishes its chain:
 * its jobs and the shared ledger, its bookkeeping keyed by its node id). */
static int build_dbsync(struct zt_node *n, struct zt_buf *err)
{
    const struct zt_cfg_mesh *c = &n->cfg->mesh;
    if (!n->mesh || !n->registry || c->db_sync_interval_s <= 0) {
        /* off: a change log an earlier run made stops growing */
        int rc = n->orch_store ? zt_dbsync_unlog(n->orch_store, zt_identity_id(n->id)) : 0;
        if (rc) zt_log(ZT_LOG_WARN, "dbsync_unlog_failed", "error=%s", zt_strerror(rc));
        return 0;
    }
    char mesh_dir[4096], dir[4096 + 8];
    int rc = data_path(n->cfg, c->dir, mesh_dir, sizeof mesh_dir);
    if (!rc) snprintf(dir, sizeof dir, "%s/dbsync", mesh_dir);
    if (!rc) rc = zt_store_open_config(n->cfg, NULL, &n->dbsync_store, err);
    struct zt_dbsync_opts o = {.st = n->dbsync_store, .mesh = n->mesh, .id = n->id, .tmp_dir = dir,
                               .interval_s = (unsigned)c->db_sync_interval_s, .rf = (unsigned)c->replication_db,
                               .head_ttl_s = (unsigned)c->record_ttl_s};
    if (!rc && (rc = zt_dbsync_new(&o, &n->dbsync)) != 0)
        zt_ignore(zt_buf_appendf(err, "database sync (mesh.db_sync_interval_s): %s", zt_strerror(rc)));
    return rc;
}

static int build_server(struct zt_node *n, struct zt_buf *err)
{
    const struct zt_config *cfg = n->cfg;
    struct zt_server_deps d = {
        .cfg = cfg,
        .node_id = n->node_id,
        .identity = n->id,
        .metrics = n->metrics,
        .limiter = n->limiter,
        .auth_keys = &n->auth_keys,
        .wallet = n->wallet,
        .peers = n->peers,
        .nodeauth = n->nodeauth,
        .privacy = n->privacy,
        .models = n->models,
        .route = n->route,
        .relay = n->relay,
        .sealed = n->sealed,
        .attest = n->attest,
        .feat_spam = n->feat_spam,
        .search = n->search,
        .conv = n->conv,
        .lexfeat = n->lexfeat,
        .translate = n->translate,
        .ws = n->ws,
        .gdpr = n->gdpr,
        .orch = n->orch,
        .nat_relay = zt__orch_nat_relay(n->orch),
        .chain = n->chain,
        .mesh = n->mesh,
        .dbsync = n->dbsync,
    };
    int rc = zt_server_new(&d, &n->server);
    if (rc) return rc;
    const char *tc = cfg->server.tls_cert_file, *tk = cfg->server.tls_key_file;
    if (!tc[0] && !tk[0]) return 0;
    if (!tc[0] || !tk[0]) {
        zt_ignore(zt_buf_appendf(err, "HTTPS needs both server.tls_cert_file and server.tls_key_file"));
        return ZT_ECONFIG;
    }
    char cp[4096], kp[4096];
    rc = data_path(cfg, tc, cp, sizeof cp);
    if (!rc) rc = data_path(cfg, tk, kp, sizeof kp);
    if (!rc) rc = zt_server_set_tls(n->server, cp, kp, err);
    if (rc) zt_ignore(zt_buf_appendf(err, " (server.tls_cert_file / server.tls_key_file)"));
    return rc;
}

/* A check this worker ran ended: the joiner reports its signed answer to
 * the orchestrators (joiner.h), unless the node is stopping. */
static void check_ended(void *ud, const uint8_t *ckpt, size_t ckpt_len, const uint8_t *receipt, size_t receipt_len)
{
    struct zt_node *n = ud;
    pthread_mutex_lock(&n->joined_mu);
    if (!n->joiner_gone) zt__joiner_check_report(n->joiner, ckpt, ckpt_len, receipt, receipt_len);
    pthread_mutex_unlock(&n->joined_mu);
}

int zt_node_new(const struct zt_config *cfg, const char *node_id, const struct zt_identity *id, struct zt_node **out,
                struct zt_buf *err)
{
    struct zt_node *n = zt_calloc(1, sizeof *n);
    if (!n) return ZT_ENOMEM;
    n->cfg = cfg;
    n->node_id = node_id;
    n->id = id;
    pthread_mutex_init(&n->joined_mu, NULL);
    int rc = zt_metrics_new(&n->metrics);
    if (!rc) rc = build_auth(n, err);
    if (!rc) rc = build_privacy(n, err);
    if (!rc && (rc = zt_infer_new(cfg, NULL, &n->models)) != 0) zt_ignore(zt_buf_appendf(err, "model registry"));
    if (!rc) rc = zt_infer_register_metrics(n->models, n->metrics);
    if (!rc) rc = build_network(n, err);
    if (!rc) rc = build_rcache(n, err);
    if (!rc && (rc = zt_bridge_new(cfg, &n->bridge, err)) == 0 && (rc = zt_bridge_register_metrics(n->bridge, n->metrics)) == 0)
    {
        if (n->bridge) { /* integration.api_url + webhook_secret */
            zt_infer_set_on_end(n->models, local_job_ended, n->bridge);
            const struct zt_gw_hooks h = {.ended = remote_job_ended, .paid = remote_job_paid, .ud = n->bridge};
            zt_gw_runner_set_hooks(n->runner, &h);
            zt_rcache_set_on_hit(n->rcache, cache_hit, n->bridge);
        }
    }
    if (!rc) rc = build_features(n, err);
    if (!rc) zt_translate_svc_set_infer(n->translate, n->models); /* features.translate.model */
    if (!rc) rc = build_sweeper(n);
    /* the worker's sealed jobs and the signed descriptor and attestation */
    if (!rc && (rc = zt_sealed_worker_new(id, n->models, cfg, &n->sealed)) != 0) zt_ignore(zt_buf_appendf(err, "sealed jobs"));
    if (!rc && (rc = zt_infer_attest_new(n->models, id, &n->attest)) != 0)
        zt_ignore(zt_buf_appendf(err, "cannot hash the running binary for attestation: %s", strerror(errno)));
    if (!rc) rc = build_orchestrator(n, err);
    /* after the orchestrator: the export shows a wallet's ledger account (n->chain) */
    if (!rc && (rc = build_gdpr(n)) != 0)
        zt_ignore(zt_buf_appendf(err, "GDPR"));
    if (!rc && (rc = zt__joiner_check(cfg, err)) != 0)
        while (err->len && err->data[err->len - 1] == '\n') err->data[--err->len] = '\0';
    if (!rc && cfg->node.join.count &&
        (rc = zt__joiner_new(cfg, id, n->models, trust_joined, n, &n->joiner, err)) != 0 && !err->len)
        zt_ignore(zt_buf_appendf(err, "node.join: %s", zt_strerror(rc)));
    if (!rc && n->joiner) zt__joiner_set_models_hook(n->joiner, mesh_want, n);
    if (!rc && n->joiner) zt_sealed_worker_set_check_hook(n->sealed, check_ended, n);
    if (!rc) rc = build_mesh(n, err);
    if (!rc) rc = build_dbsync(n, err);
    if (!rc) rc = build_server(n, err);
    if (rc) {
        if (!err->len) zt_ignore(zt_buf_appendf(err, "%s", zt_strerror(rc)));
        zt_node_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

int zt_node_start(struct zt_node *n)
{
    int rc = zt_server_start(n->server);
    /* the URL is known once listening (an ephemeral port); copied under the
     * descriptor's lock, since requests are already being served */
    if (!rc) zt_sealed_worker_set_endpoint(n->sealed, zt_server_endpoint(n->server));
    if (!rc) rc = zt_gdpr_sweeper_start(n->sweeper); /* retention: identity and audit log are set by now */
    if (!rc) rc = zt_orch_role_start(n->role);
    if (!rc && n->joiner) {
        /* node.outbound: the listener is where relayed requests run (the descriptor names the relay) */
        const char *ep = n->cfg->node.endpoint[0] && !n->cfg->node.outbound ? n->cfg->node.endpoint
                                                                            : zt_server_endpoint(n->server);
        rc = zt__joiner_start(n->joiner, ep);
    }
    return rc;
}

/* The peers file's descriptors plus those of the orchestrators joined, as
 * one JSON array (*out, zt_free); ZT_ENOTFOUND when there is neither. */
static int peers_text(struct zt_node *n, char **out, size_t *len, struct zt_buf *err)
{
    char *file = NULL;
    size_t flen = 0;
    int rc = zt_file_read(n->peers_path, ZT_PEERS_FILE_MAX, &file, &flen);
    if (rc && rc != ZT_ENOTFOUND) {
        zt_ignore(zt_buf_appendf(err, "%s: %s", n->peers_path, rc == ZT_ETOOBIG ? "too large" : strerror(errno)));
        return rc == ZT_ENOMEM || rc == ZT_ETOOBIG ? rc : ZT_EIO;
    }
    json_t *arr = NULL;
    if (!rc) {
        json_error_t je;
        arr = json_loadb(file, flen, JSON_REJECT_DUPLICATES, &je);
        zt_free(file);
        if (!json_is_array(arr)) {
            json_decref(arr);
            zt_ignore(zt_buf_appendf(err, "%s: not a JSON array of node descriptors", n->peers_path));
            return ZT_EPARSE;
        }
    } else {
        arr = json_array();
    }
    size_t joined = 0;
    pthread_mutex_lock(&n->joined_mu);
    for (size_t i = 0; i < JOINED_MAX && arr; i++) {
        if (!n->joined[i]) continue;
        json_t *d = json_loadb(n->joined[i], n->joined_len[i], 0, NULL);
        /* an array: the orchestrator and the gateways it vouches for */
        if (json_is_array(d) && json_array_extend(arr, d) == 0) joined += json_array_size(d);
        else if (d && !json_is_array(d) && json_array_append_new(arr, d) == 0) joined++, d = NULL;
        if (json_is_array(d)) json_decref(d);
    }
    pthread_mutex_unlock(&n->joined_mu);
    if (!arr) return ZT_ENOMEM;
    if (rc == ZT_ENOTFOUND && !joined) {
        json_decref(arr);
        return ZT_ENOTFOUND;
    }
    *out = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    if (!*out) return ZT_ENOMEM;
    *len = strlen(*out);
    return 0;
}

static int dht_sign(void *ud, char **json)
{
    return zt_sealed_worker_descriptor(ud, NULL, json);
}

/* A revocation the DHT learnt: the registry honours it (orchestrator role). */
static void dht_revoked(void *ud, const char *node_id, const uint8_t *kem_pk, int64_t at)
{
    zt_ignore(zt_registry_revoke_key(ud, node_id, kem_pk, at, zt_time_real_ms()));
}

int zt_node_start_dht(struct zt_node *n, struct zt_buf *err)
{
    int rc = zt_dht_node_start(n->cfg, dht_sign, n->sealed, n->peers, zt_identity_id(n->id), &n->dht, err);
    if (!rc && n->dht && n->registry) {
        zt_orch_role_set_dht(n->role, n->dht);
        zt_dht_on_revocation(n->dht, dht_revoked, n->registry);
    }
    if (!rc && n->mesh) { /* holder records carry the URL peers reach us at */
        const char *ep = n->cfg->node.endpoint[0] ? n->cfg->node.endpoint : zt_server_endpoint(n->server);
        rc = zt_mesh_start(n->mesh, n->dht, ep);
    }
    return rc;
}

int zt_node_start_dbsync(struct zt_node *n)
{
    return n->dbsync ? zt_dbsync_start(n->dbsync, n->dht) : 0;
}

int zt_node_rebuild_from_mesh(struct zt_node *n, unsigned timeout_ms, struct zt_buf *msg)
{
    if (!n->dbsync) {
        zt_ignore(zt_buf_appendf(msg, "no database sync here: the orchestrator role, mesh.enabled and "
                                      "mesh.db_sync_interval_s > 0 are needed"));
        return ZT_EUNSUPPORTED;
    }
    char why[1536];
    int rc = zt_dbsync_rebuild(n->dbsync, n->dht, timeout_ms, why, sizeof why);
    zt_ignore(zt_buf_appendf(msg, "%s", why));
    return rc;
}

int zt_node_reload_peers(struct zt_node *n, struct zt_buf *err)
{
    size_t kept = 0, dropped = 0;
    const char *path = n->peers_path;
    char *text = NULL;
    size_t len = 0;
    int rc = peers_text(n, &text, &len, err);
    if (rc == ZT_ENOTFOUND) {
        rc = zt_peers_load_text(n->peers, "[]", 2, zt_time_real_ms() / 1000, &kept, &dropped, err);
        if (!rc) zt_log(ZT_LOG_INFO, "peers_loaded", "file=%s peers=0 detail=\"no peers file: no trusted peers\"", path);
        return rc;
    }
    if (rc) return rc;
    struct zt_buf why;
    zt_buf_init(&why, 512);
    rc = zt_peers_load_text(n->peers, text, len, zt_time_real_ms() / 1000, &kept, &dropped, &why);
    zt_free(text);
    if (rc) zt_ignore(zt_buf_appendf(err, "%s: %s", path, why.len ? zt_buf_str(&why) : zt_strerror(rc)));
    zt_buf_deinit(&why);
    if (rc) return rc;
    zt_log(dropped ? ZT_LOG_WARN : ZT_LOG_INFO, "peers_loaded", "file=%s peers=%zu dropped=%zu", path, kept, dropped);
    return 0;
}

void zt_node_begin_stop(struct zt_node *n)
{
    if (n) zt__joiner_drain(n->joiner);
}

struct zt_server *zt_node_server(struct zt_node *n)
{
    return n->server;
}

void zt_node_set_stop_deadline(struct zt_node *n, uint64_t deadline_ms)
{
    n->stop_deadline_ms = deadline_ms;
}

/* How long one step of the shutdown may wait: want, or what is left
 * before the stop deadline. */
static uint64_t stop_wait_ms(const struct zt_node *n, uint64_t want)
{
    if (!n->stop_deadline_ms) return want;
    uint64_t now = zt_time_mono_ms();
    uint64_t left = n->stop_deadline_ms > now ? n->stop_deadline_ms - now : 0;
    return left < want ? left : want;
}

void zt_node_free(struct zt_node *n)
{
    if (!n) return;
    pthread_mutex_lock(&n->joined_mu);
    n->joiner_gone = true; /* jobs still ending report nothing more */
    pthread_mutex_unlock(&n->joined_mu);
    zt__joiner_stop(n->joiner, stop_wait_ms(n, 5000)); /* leaves the orchestrators joined (still serving) */
    zt__joiner_free(n->joiner);
    zt_dbsync_stop(n->dbsync); /* its publisher uses the mesh and the DHT */
    zt_mesh_stop(n->mesh); /* its pulls and repair use the DHT */
    zt_dht_free(n->dht);   /* stops publishing and discovery first */
    zt_gdpr_sweeper_free(n->sweeper); /* stops the sweeper before what it sweeps goes */
    /* End inference first: every job answers (an error for those cut
     * short), the connections it resumes get a moment to flush, and only
     * then does the HTTP server close what is left. */
    zt_infer_shutdown(n->models);
    zt_relay_shutdown(n->relay, stop_wait_ms(n, 5000));
    zt_gw_runner_shutdown(n->runner, stop_wait_ms(n, 5000)); /* jobs waiting for a worker answer 503 */
    zt_orch_role_stop(n->role); /* no scheduler event reaches the runner after this */
    if (n->server) zt_server_wait_idle(n->server, stop_wait_ms(n, 2000));
    zt_ws_hub_free(n->ws); /* closes (1001) and ends upgraded connections before the daemon stops */
    zt_server_free(n->server); /* the listener stops: no handler runs after this */
    zt_dbsync_free(n->dbsync); /* after the server: the audit route uses it */
    zt_mesh_free(n->mesh);
    zt_store_close(n->mesh_store); /* after the mesh: its last scores are written at its stop */
    zt_relay_free(n->relay);
    zt__route_free(n->route);
    zt_gw_runner_free(n->runner); /* after the router that lent it */
    zt_rcache_free(n->rcache); /* after the routes that use it */
    zt__orch_free(n->orch);
    zt_orch_role_free(n->role); /* after its HTTP side */
    zt_sched_free(n->sched);
    zt_queue_free(n->queue); /* after the scheduler: its entries stay pending for the others to claim */
    zt_registry_free(n->registry);
    zt_store_close(n->orch_store); /* after the registry and scheduler that used it */
    zt_store_close(n->dbsync_store);
    zt_chain_free(n->chain);       /* after the routes that settle through it */
    zt_bridge_free(n->bridge);     /* after the routes and the payout loop that emit; undelivered webhooks stay */
    for (size_t i = 0; i < JOINED_MAX; i++) zt_free(n->joined[i]);
    pthread_mutex_destroy(&n->joined_mu);
    zt_nodeauth_verifier_free(n->nodeauth);
    zt_peers_free(n->peers);
    zt_auth_keys_deinit(&n->auth_keys);
    zt_translate_svc_free(n->translate); /* after the last request that could use a pipeline */
    zt_translate_free(n->translator);
    zt_infer_attest_free(n->attest);
    zt_sealed_worker_free(n->sealed);
    zt_gdpr_free(n->gdpr);
    zt__feat_conv_free(n->conv); /* after zt_infer_shutdown(): no job callback runs any more */
    zt_intent_pool_free(n->intents); /* after the routes: batches still queued end stopped */
    zt_convfeat_free(n->convfeat);
    zt_infer_free(n->models);
    zt_spamfeat_free(n->feat_spam);
    zt_searchfeat_free(n->search);
    zt_store_close(n->search_store); /* after the search engine that used it */
    zt_ratelimit_free(n->limiter);
    zt_wallet_free(n->wallet);
    zt_privacy_layer_free(n->privacy); /* final audit checkpoint; closes the node store */
    zt_lexfeat_free(n->lexfeat);
    zt__wiring_free(n->wiring); /* after every feature that calls into it */
    zt_annot_free(n->annot); /* after the connections (zt_ws_hub_free) and the annotators' features */
    zt_metrics_free(n->metrics); /* last: nothing renders any more */
    zt_free(n);
}
