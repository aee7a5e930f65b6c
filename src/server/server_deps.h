/* server_deps.h: what the HTTP layer is handed (internal to src/server
 * and its composition root, src/node/node.c; docs/internals/dispatch.md).
 * The types are the subsystems' own; zt_server_new() (zt_server.h) copies
 * the struct and builds its route table from it. */
#ifndef ZT_SERVER_DEPS_H
#define ZT_SERVER_DEPS_H

#include "zentalk/zt_config.h"

struct zt_identity;
struct zt_metrics;
struct zt_ratelimit;
struct zt_auth_keys;
struct zt_wallet;
struct zt_peers;
struct zt_nodeauth_verifier;
struct zt_privacy_layer;
struct zt_infer;
struct zt__route;
struct zt_relay;
struct zt_sealed_worker;
struct zt_infer_attest;
struct zt_spamfeat;
struct zt_searchfeat;
struct zt__feat_conv;
struct zt_lexfeat;
struct zt_translate_svc;
struct zt_ws_hub;
struct zt_gdpr;
struct zt__orch;
struct zt_nat_relay;
struct zt_chain;
struct zt_mesh;
struct zt_dbsync;

/* What the routes serve, all borrowed: the node builds them before
 * zt_server_new() and frees them after zt_server_free(). Every member is
 * required except attest and sealed (NULL: their routes answer 503) and
 * orch (NULL: not an orchestrator; its routes answer 404) and nat_relay
 * (NULL: the relay routes answer 404). */
struct zt_server_deps {
    const struct zt_config *cfg;
    const char *node_id;
    const struct zt_identity *identity; /* checks signed node requests */
    struct zt_metrics *metrics;         /* GET /metrics renders it; the server registers its own families */
    struct zt_ratelimit *limiter;       /* per-identity limits of token callers */
    const struct zt_auth_keys *auth_keys;
    struct zt_wallet *wallet;
    struct zt_peers *peers;
    struct zt_nodeauth_verifier *nodeauth;
    struct zt_privacy_layer *privacy;        /* audit sink, /v1/privacy/pii */
    struct zt_infer *models;
    struct zt__route *route;
    struct zt_relay *relay;
    struct zt_sealed_worker *sealed;
    struct zt_infer_attest *attest; /* what this worker attests (zt_infer.h) */
    struct zt_spamfeat *feat_spam;
    struct zt_searchfeat *search;
    struct zt__feat_conv *conv;
    struct zt_lexfeat *lexfeat;
    struct zt_translate_svc *translate; /* the translation service (zt_translate.h) */
    struct zt_ws_hub *ws;               /* /v1/ws: the connections (built by the node, src/node/ws_hub.c) */
    struct zt_gdpr *gdpr;
    struct zt__orch *orch;
    struct zt_nat_relay *nat_relay; /* the orchestrator's relay to workers behind NAT (zt__orch_nat_relay) */
    struct zt_chain *chain; /* chain.enabled: the node's books (zt_ledger.h); NULL: the ledger routes answer 404 */
    struct zt_mesh *mesh;   /* mesh.enabled: blobs shared with peers (zt_mesh.h); NULL: /v1/mesh/ answers 404 */
    struct zt_dbsync *dbsync; /* database sync (zt_dbsync.h); NULL: /v1/dbsync/ answers 404 */
};

#endif
