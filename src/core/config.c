/* config.c: the node's configuration (see zt_config.h and
 * docs/internals/config.md).
 *
 * Every key lives in one declarative table per section (struct cfg_key:
 * name, type, offset into the section struct, bounds, default, flags, doc).
 * The same tables drive
 *   - defaults, copy and deinit (walk the table, touch each field),
 *   - YAML parsing (libyaml events, so aliases and anchors are seen and
 *     refused before anything could expand them),
 *   - environment overrides (names computed from the dotted path),
 *   - zt_config_set() for command-line flags,
 *   - zt_config_validate(), zt_config_dump() and zt_config_describe().
 * Adding a key is one table line plus the struct field.
 *
 * Every public function that changes a configuration works on a deep copy
 * and swaps it in only on success, so a failed load (bad file, ENOMEM) leaves
 * the caller's configuration exactly as it was. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_assets_dir.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_json_num.h"
#include "zentalk/zt_str.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define STRLIST_ITEM_MAX 256 /* longest entry of a list of strings */
#define PATH_LEN 160         /* longest dotted path we build ("models[255].context_size") */
#define WHY_LEN 512          /* one problem description */
#define QUOTE_MAX 64         /* bytes of a bad value echoed back in a message */
#define EXAMPLE_KIND "config.example.yaml"

/* ---------------------------------------------------------------------------
 * The tables
 * ------------------------------------------------------------------------- */

enum key_type {
    KT_BOOL,    /* bool */
    KT_INT,     /* int64_t in [min, max] */
    KT_DOUBLE,  /* finite double in [dmin, dmax] */
    KT_STRING,  /* char *, at most max bytes, optional allowed values or format */
    KT_STRLIST, /* struct zt_strlist, at most max entries */
    KT_SECTION, /* an embedded struct described by sub */
    KT_LIST,    /* a pointer to an array of sub structs plus a size_t count */
};

/* Syntax rules for non-empty strings (the empty string is governed by
 * KEY_NONEMPTY alone). */
enum key_fmt {
    KF_ANY,      /* any text without control characters */
    KF_ID,       /* A-Z a-z 0-9 . _ - */
    KF_MODEL_ID, /* A-Z a-z 0-9 . _ - : */
    KF_HOSTPORT, /* host:port, [v6]:port or :port */
    KF_HEX64,    /* a SHA-256 digest in hex */
    KF_DIGITS,   /* a device ordinal */
    KF_URL,      /* scheme://rest */
    KF_ENV_NAME, /* an environment variable name */
    KF_ETH_ADDR, /* 0x and 40 hex digits */
    KF_TOKENS,   /* a token amount: I or I.F, no leading zero, 1..18 decimals */
    KF_NODE_ID,  /* a node id: "zt1" and 32 base32 characters (a-z, 2-7), as zt_identity_id_valid */
};

#define KEY_SECRET (1u << 0)   /* dump shows <redacted>; messages never echo the value */
#define KEY_REQUIRED (1u << 1) /* must be present in every entry of a LIST */
#define KEY_NONEMPTY (1u << 2) /* "" or an empty list is not allowed */
#define KEY_UNIQUE (1u << 3)   /* STRLIST: no repeated entry; LIST: unique across entries */
/* Validated, but no part of the node reads it yet (the subsystem that will
 * is still to be written): a value other than the default is reported as
 * "reserved, not used yet" (a warning from zt_config_validate, so at start-up
 * and by --check-config), and the generated reference says so. Take the
 * flag off in the commit that makes something read the key. */
#define KEY_RESERVED (1u << 4)

struct cfg_table;

struct cfg_key {
    const char *name;
    enum key_type type;
    unsigned flags;
    size_t off;       /* offsetof the field in its section struct */
    size_t count_off; /* KT_LIST: offsetof its size_t count */
    int64_t min, max; /* KT_INT: bounds; KT_STRING: longest length; KT_STRLIST, KT_LIST: most entries */
    double dmin, dmax;
    enum key_fmt fmt;             /* KT_STRING and KT_STRLIST entries */
    const char *const *allowed;   /* KT_STRING and KT_STRLIST entries: the only values (NULL-ended) */
    bool def_bool;
    int64_t def_int;
    double def_double;
    const char *def_str;
    const char *const *def_list;  /* KT_STRLIST (NULL-ended) */
    const struct cfg_table *sub;  /* KT_SECTION, KT_LIST */
    const char *file;             /* root keys: the file that holds the section */
    const char *doc;
};

struct cfg_table {
    const struct cfg_key *keys;
    size_t n;
    size_t size; /* sizeof the struct (for KT_LIST elements) */
    /* Rule across the keys of one LIST entry: returns the problem (and the
     * key it concerns in *key, or NULL) or NULL when the entry is fine. */
    const char *(*check)(const void *obj, const char **key);
};

#define BOOL_KEYF(S, F, DEF, FLAGS, DOC)                                                    \
    {.name = #F, .type = KT_BOOL, .off = offsetof(S, F), .def_bool = (DEF), .flags = (FLAGS), \
     .doc = (DOC)}
#define BOOL_KEY(S, F, DEF, DOC) BOOL_KEYF(S, F, DEF, 0, DOC)
#define INT_KEYF(S, F, DEF, MIN, MAX, FLAGS, DOC)                                           \
    {.name = #F, .type = KT_INT, .off = offsetof(S, F), .def_int = (DEF), .min = (MIN),    \
     .max = (MAX), .flags = (FLAGS), .doc = (DOC)}
#define INT_KEY(S, F, DEF, MIN, MAX, DOC) INT_KEYF(S, F, DEF, MIN, MAX, 0, DOC)
#define DBL_KEYF(S, F, DEF, MIN, MAX, FLAGS, DOC)                                           \
    {.name = #F, .type = KT_DOUBLE, .off = offsetof(S, F), .def_double = (DEF),            \
     .dmin = (MIN), .dmax = (MAX), .flags = (FLAGS), .doc = (DOC)}
#define DBL_KEY(S, F, DEF, MIN, MAX, DOC) DBL_KEYF(S, F, DEF, MIN, MAX, 0, DOC)
#define STR_KEY(S, F, DEF, MAXLEN, FMT, FLAGS, DOC)                                         \
    {.name = #F, .type = KT_STRING, .off = offsetof(S, F), .def_str = (DEF),               \
     .max = (MAXLEN), .fmt = (FMT), .flags = (FLAGS), .doc = (DOC)}
#define ENUM_KEYF(S, F, DEF, ALLOWED, FLAGS, DOC)                                           \
    {.name = #F, .type = KT_STRING, .off = offsetof(S, F), .def_str = (DEF), .max = 64,    \
     .allowed = (ALLOWED), .flags = KEY_NONEMPTY | (FLAGS), .doc = (DOC)}
#define ENUM_KEY(S, F, DEF, ALLOWED, DOC) ENUM_KEYF(S, F, DEF, ALLOWED, 0, DOC)
#define STRLIST_KEY(S, F, DEF, MAXN, ALLOWED, FMT, FLAGS, DOC)                              \
    {.name = #F, .type = KT_STRLIST, .off = offsetof(S, F), .def_list = (DEF),             \
     .max = (MAXN), .allowed = (ALLOWED), .fmt = (FMT), .flags = (FLAGS), .doc = (DOC)}
#define SECTION_KEY(S, F, SUB, FILE, DOC)                                                   \
    {.name = #F, .type = KT_SECTION, .off = offsetof(S, F), .sub = (SUB), .file = (FILE),  \
     .doc = (DOC)}
#define TABLE(NAME, KEYS, TYPE, CHECK)                                                      \
    _Static_assert(ARRAY_LEN(KEYS) <= 64, "a table holds at most 64 keys (seen-key mask)"); \
    static const struct cfg_table NAME = {KEYS, ARRAY_LEN(KEYS), sizeof(TYPE), CHECK}

static const char *const no_strings[] = {NULL};

/* config.yaml: node */
const char *const zt_role_names[ZT_ROLE_COUNT + 1] = {"gateway", "orchestrator", "worker", NULL};

size_t zt_role_list(unsigned mask, const char *out[static ZT_ROLE_COUNT])
{
    size_t n = 0;
    for (unsigned i = 0; i < ZT_ROLE_COUNT; i++)
        if (mask & (1u << i)) out[n++] = zt_role_names[i];
    return n;
}

static const struct cfg_key node_keys[] = {
    STR_KEY(struct zt_cfg_node, id, "", 64, KF_ID, 0,
            "Name of this node shown to peers; empty = the id derived from the node key (encryption.key_file)."),
    STRLIST_KEY(struct zt_cfg_node, roles, zt_role_names, ZT_CFG_MAX_LIST, zt_role_names, KF_ANY,
                KEY_NONEMPTY | KEY_UNIQUE, "Roles this process runs."),
    STR_KEY(struct zt_cfg_node, data_dir, "data", ZT_CFG_MAX_STR, KF_ANY, KEY_NONEMPTY,
            "Directory for keys, databases and models; created with mode 0700."),
    STR_KEY(struct zt_cfg_node, endpoint, "", 256, KF_URL, 0,
            "URL other nodes reach this one at (http:// or https://), advertised in its signed descriptor; "
            "empty = derived from server.listen (set it behind a proxy or on 0.0.0.0)."),
    STRLIST_KEY(struct zt_cfg_node, join, no_strings, 16, NULL, KF_URL, KEY_UNIQUE,
                "Orchestrator URLs this worker joins (zentalk-node --join), http(s)://host[:port], optionally "
                "#NODE_ID to pin the orchestrator's node id; it heartbeats to each and accepts the sealed jobs of "
                "the gateway it joined. Empty = joins none."),
    INT_KEY(struct zt_cfg_node, heartbeat_interval_ms, 10000, 100, 600000,
            "Milliseconds between a joined worker's heartbeats (keep it well under the orchestrator's "
            "orchestrator.heartbeat_expiry_ms)."),
    STR_KEY(struct zt_cfg_node, orchestrator, "", 600, KF_ANY, 0,
            "A gateway without the orchestrator role places its jobs through the orchestrator at this URL "
            "(http(s)://host[:port], optionally #NODE_ID to pin its node id; zentalk-node --orchestrator): it leases "
            "a worker for each job over HTTP and reports how the attempt went. A comma-separated list (up to 4): "
            "the first is used, the next when it does not answer. Empty = its own orchestrator, or static peers."),
    STR_KEY(struct zt_cfg_node, orchestrator_token, "", 4096, KF_ANY, KEY_SECRET,
            "Bearer token (role admin on that orchestrator) sent with node.orchestrator's lease calls; empty = none "
            "(the orchestrator on loopback)."),
    BOOL_KEY(struct zt_cfg_node, outbound, false,
             "A worker no one can connect to (behind NAT): it keeps an outbound long-poll to the first node.join "
             "orchestrator, which pushes sealed jobs over it and streams the results back; its descriptor's "
             "endpoint is that orchestrator's relay (zentalk-node --outbound)."),

    INT_KEY(struct zt_cfg_node, dht_port, 0, 0, 65535,
            "UDP port of the discovery DHT (OpenDHT; it binds every address): the node publishes its signed "
            "descriptor and finds workers there; 0 = no DHT (the default)."),
    STRLIST_KEY(struct zt_cfg_node, bootstrap, no_strings, 64, NULL, KF_HOSTPORT, KEY_UNIQUE,
                "DHT nodes (host:port) to join the discovery DHT through; used when node.dht_port is set."),
    BOOL_KEY(struct zt_cfg_node, dht_multicast, false,
             "Let the DHT find and announce peers by multicast on the local network."),
};
TABLE(node_table, node_keys, struct zt_cfg_node, NULL);

/* config.yaml: mesh */
static const struct cfg_key mesh_keys[] = {
    BOOL_KEY(struct zt_cfg_mesh, enabled, true,
             "Hold, serve and pull content-addressed blobs (models) with other nodes; holder records go to the "
             "DHT when node.dht_port is set."),
    STR_KEY(struct zt_cfg_mesh, dir, "mesh", ZT_CFG_MAX_STR, KF_ANY, KEY_NONEMPTY,
            "The chunk store (chunks, manifests, blobs held), relative to node.data_dir unless absolute."),
    INT_KEY(struct zt_cfg_mesh, replication_model, 3, 1, 16,
            "Holders a model blob added here should have; when fewer are live, a holder asks peers to replicate it."),
    INT_KEY(struct zt_cfg_mesh, record_ttl_s, 600, 3, 86400,
            "Lifetime of this node's holder records in the DHT (republished every third of it); a holder that "
            "left is noticed after it."),
    INT_KEY(struct zt_cfg_mesh, repair_interval_s, 60, 1, 86400, "Seconds between replication checks."),
    INT_KEY(struct zt_cfg_mesh, parallel, 8, 1, 32, "Chunk requests in flight per pull (spread over the holders)."),
    DBL_KEY(struct zt_cfg_mesh, serve_rate_rps, 200.0, 0.0, 100000.0,
            "Chunk and manifest requests per second one caller may make (429 past it); 0 = no limit."),
    DBL_KEY(struct zt_cfg_mesh, serve_burst, 400.0, 1.0, 100000.0, "Burst of those requests."),
    INT_KEY(struct zt_cfg_mesh, max_store_mb, 0, 0, 100000000,
            "The chunk store's bound: unpinned blobs are evicted past it (least recently used first; pinned blobs"
            " and installed models never), and replicas other holders ask for are refused once the store holds"
            " this much; 0 = no limit."),
    BOOL_KEY(struct zt_cfg_mesh, accept_replicas, true, "Take blobs that other holders ask this node to replicate."),
    STRLIST_KEY(struct zt_cfg_mesh, serve_models, no_strings, 64, NULL, KF_ANY, KEY_UNIQUE,
                "Orchestrator: models (sha256:<hex>) a joining worker is told to fetch from the mesh and serve."),
    INT_KEY(struct zt_cfg_mesh, db_sync_interval_s, 60, 0, 86400,
            "Orchestrator: seconds between database-sync segments (job and ledger rows published to the mesh); 0 = off."),
    INT_KEY(struct zt_cfg_mesh, replication_db, 3, 1, 16, "Holders each database-sync segment should have."),
};
TABLE(mesh_table, mesh_keys, struct zt_cfg_mesh, NULL);

/* config.yaml: orchestrator */
static const struct cfg_key orch_rep_keys[] = {
    DBL_KEY(struct zt_cfg_orch_reputation, threshold, 0.5, 0.0, 1.0, "A worker whose reputation is below gets no work."),
    DBL_KEY(struct zt_cfg_orch_reputation, prior_good, 2.0, 0.0, 100.0, "Beta prior of good outcomes (alpha)."),
    DBL_KEY(struct zt_cfg_orch_reputation, prior_bad, 1.0, 0.0, 100.0, "Beta prior of bad outcomes (beta)."),
    INT_KEY(struct zt_cfg_orch_reputation, half_life_hours, 168, 1, 8760, "Half-life of the outcome counts, in hours."),
};
TABLE(orch_rep_table, orch_rep_keys, struct zt_cfg_orch_reputation, NULL);
static const struct cfg_key orch_queue_keys[] = {
    INT_KEY(struct zt_cfg_orch_queue, max, 10000, 1, 1000000, "Jobs waiting for a worker, all clients; past it: 503."),
    INT_KEY(struct zt_cfg_orch_queue, max_per_client, 1000, 1, 1000000, "Jobs waiting per client (at most queue.max)."),
};
TABLE(orch_queue_table, orch_queue_keys, struct zt_cfg_orch_queue, NULL);
static const struct cfg_key orch_score_keys[] = {
    DBL_KEY(struct zt_cfg_orch_score, reputation, 0.40, 0.0, 1.0, "Placement score weight of reputation."),
    DBL_KEY(struct zt_cfg_orch_score, load, 0.25, 0.0, 1.0, "... of free slots."),
    DBL_KEY(struct zt_cfg_orch_score, latency, 0.20, 0.0, 1.0, "... of measured latency per token."),
    DBL_KEY(struct zt_cfg_orch_score, price, 0.15, 0.0, 1.0, "... of price per 1k tokens."),
};
TABLE(orch_score_table, orch_score_keys, struct zt_cfg_orch_score, NULL);
static const struct cfg_key orch_verif_keys[] = {
    BOOL_KEY(struct zt_cfg_orch_verification, enabled, true,
             "Check jobs on a second worker (teacher-forced); false: every answer carries its receipt only."),
    DBL_KEY(struct zt_cfg_orch_verification, rate, 0.05, 0.0, 1.0,
            "Share of jobs verified, drawn with a key only the orchestrator holds."),
    INT_KEY(struct zt_cfg_orch_verification, new_worker_jobs, 10, 0, 1000000,
            "A worker with fewer verified jobs than this has every job verified (0: off)."),
    DBL_KEY(struct zt_cfg_orch_verification, low_reputation, 0.8, 0.0, 1.0,
            "A worker whose reputation is below this has every job verified (0: off)."),
    INT_KEY(struct zt_cfg_orch_verification, max_replicas, 3, 1, 6,
            "Most workers a job asking for replicated execution (zentalk.replicas) runs on besides the first."),
    INT_KEY(struct zt_cfg_orch_verification, verdict_wait_s, 30, 1, 600,
            "A remote gateway's checked job with no verdict this long after its last check event or checker "
            "report is decided by the orchestrator from the signed chains it holds."),
};
TABLE(orch_verif_table, orch_verif_keys, struct zt_cfg_orch_verification, NULL);
static const struct cfg_key orch_lease_keys[] = {
    INT_KEY(struct zt_cfg_orch_leases, max_per_caller, 1024, 1, 4096,
            "Leases a gateway in another process may hold open at once (POST /v1/orchestrator/lease; the caller is "
            "its signed gateway node id, else its token's identity, else its address); past it: 429 lease_limit. "
            "All callers together: 4096 (past it: 503)."),
    INT_KEY(struct zt_cfg_orch_leases, idle_s, 120, 1, 86400,
            "A lease nobody calls or reports about for this long is reclaimed (its job cancelled unless done, its "
            "worker's slot freed); a job reported started and not yet done is running and never idle (left to "
            "`max_s`)."),
    INT_KEY(struct zt_cfg_orch_leases, start_s, 60, 1, 3600,
            "A lease whose assigned worker was handed out and not reported started this long after is reclaimed, "
            "however often it is asked about."),
    INT_KEY(struct zt_cfg_orch_leases, max_s, 3600, 1, 604800,
            "A lease open this long is reclaimed, however often it is asked about (its job cancelled unless done; "
            "a verdict being decided is waited for)."),
};
TABLE(orch_lease_table, orch_lease_keys, struct zt_cfg_orch_leases, NULL);
static const struct cfg_key orch_keys[] = {
    INT_KEY(struct zt_cfg_orchestrator, heartbeat_expiry_ms, 30000, 1000, 600000,
            "A worker session with no heartbeat for this long expires (its jobs are requeued)."),
    INT_KEY(struct zt_cfg_orchestrator, record_window_ms, 60000, 1000, 600000,
            "Clock skew allowed on join, heartbeat and leave records."),
    INT_KEY(struct zt_cfg_orchestrator, max_nodes, 65536, 1, 1048576, "Worker nodes known, live or not."),
    INT_KEY(struct zt_cfg_orchestrator, duplicate_quarantine_s, 600, 0, 86400,
            "A node id proven to run on two machines gets no work this long."),
    INT_KEY(struct zt_cfg_orchestrator, max_attempts, 3, 1, 10, "Assignments per job before it fails."),
    INT_KEY(struct zt_cfg_orchestrator, fair_quantum_tokens, 4096, 1, 1048576,
            "Deficit round robin quantum between clients, in tokens."),
    INT_KEY(struct zt_cfg_orchestrator, scan_max, 256, 1, 65536, "Candidate workers scored per placement."),
    INT_KEY(struct zt_cfg_orchestrator, join_rate_per_minute, 60, 1, 1000000,
            "Join requests per minute per client address (POST /v1/orchestrator/join); past it: 429."),
    SECTION_KEY(struct zt_cfg_orchestrator, reputation, &orch_rep_table, NULL, "Worker reputation."),
    SECTION_KEY(struct zt_cfg_orchestrator, queue, &orch_queue_table, NULL, "The bounded job queue."),
    SECTION_KEY(struct zt_cfg_orchestrator, score, &orch_score_table, NULL, "Placement score weights."),
    SECTION_KEY(struct zt_cfg_orchestrator, verification, &orch_verif_table, NULL,
                "Verification of results by other workers (docs/internals/orchestrator.md)."),
    SECTION_KEY(struct zt_cfg_orchestrator, leases, &orch_lease_table, NULL,
                "Leases of gateways in other processes: each caller's share and when a lease ends "
                "(docs/internals/orchestrator.md \"Leases\")."),
};
TABLE(orch_table, orch_keys, struct zt_cfg_orchestrator, NULL);

/* config.yaml: server */
static const char *const relay_private[] = {"auto", "allow", "refuse", NULL};
static const struct cfg_key server_keys[] = {
    STR_KEY(struct zt_cfg_server, listen, "127.0.0.1:8080", 262, KF_HOSTPORT, KEY_NONEMPTY,
            "Address of the HTTP API, host:port or [v6]:port; port 0 picks a free port."),
    INT_KEY(struct zt_cfg_server, threads, 4, 1, 256, "HTTP worker threads."),
    INT_KEY(struct zt_cfg_server, max_connections, 1024, 1, 100000,
            "Most simultaneous client connections."),
    INT_KEY(struct zt_cfg_server, max_header_bytes, 16384, 1024, 1048576,
            "Largest request line plus headers, in bytes."),
    INT_KEY(struct zt_cfg_server, max_body_bytes, 1048576, 1024, 1073741824,
            "Largest request body, in bytes."),
    INT_KEY(struct zt_cfg_server, request_timeout_s, 30, 1, 3600,
            "Seconds an idle or slow connection is kept."),
    INT_KEY(struct zt_cfg_server, max_connections_per_address, 64, 0, 100000,
            "Most connections one client address holds at once (an IPv6 /64 counts as one address; "
            "behind server.trusted_proxies: requests in flight per forwarded address); 0 = no limit."),
    INT_KEY(struct zt_cfg_server, new_address_reserve_percent, 10, 0, 90,
            "Share of server.max_connections kept for addresses that hold no connection yet: an address "
            "that holds some cannot open more once only this share is left."),
    INT_KEY(struct zt_cfg_server, header_timeout_s, 10, 1, 3600,
            "Seconds a client has to send a whole request head (request line and headers), from the "
            "connection's start or the end of its previous request, however slowly it trickles."),
    STRLIST_KEY(struct zt_cfg_server, trusted_proxies, no_strings, 64, NULL, KF_ANY, KEY_UNIQUE,
                "Reverse proxies (IPv4/IPv6 addresses or ADDR/BITS) whose Forwarded / X-Forwarded-For "
                "headers name the client; they are exempt from server.max_connections_per_address, the "
                "forwarded address is limited instead. Empty = those headers are ignored."),
    INT_KEY(struct zt_cfg_server, shutdown_timeout_s, 10, 0, 600,
            "Seconds a SIGTERM or SIGINT stop takes at most (at least 1): requests in flight drain until a "
            "quarter of it (at most 2 s) is left for the teardown, then the node exits. A stop during the start "
            "skips the remaining start steps; if a step in progress does not return, the node exits this long "
            "after the signal."),
    INT_KEY(struct zt_cfg_server, rate_limit_rps, 20, 0, 1000000,
            "API requests per second allowed per authenticated identity; 0 = no limit."),
    INT_KEY(struct zt_cfg_server, rate_limit_burst, 40, 1, 1000000,
            "Requests an identity may send at once before server.rate_limit_rps applies."),
    INT_KEY(struct zt_cfg_server, session_ttl_s, 86400, 60, 31536000,
            "Seconds a wallet login session (POST /v1/auth/wallet/login) stays valid."),
    INT_KEY(struct zt_cfg_server, relay_timeout_s, 120, 1, 3600,
            "Oblivious relay: seconds to wait for the target node's response headers (504 after), "
            "and the longest silence while its response streams."),
    INT_KEY(struct zt_cfg_server, relay_max_inflight, 64, 1, 100000,
            "Oblivious relay: requests relayed at once; more are answered 503."),
    ENUM_KEY(struct zt_cfg_server, relay_private_targets, "auto", relay_private,
              "Oblivious relay: forward to peers whose address is loopback, private, link-local or "
              "reserved: allow, refuse (403 private_target), or auto (allow when server.listen is "
              "loopback, refuse otherwise)."),
    STR_KEY(struct zt_cfg_server, relay_ca_file, "", ZT_CFG_MAX_STR, KF_ANY, 0,
            "Oblivious relay: PEM file of the CAs that https peers' certificates are checked "
            "against, relative to node.data_dir; empty = the system CA store."),
    STR_KEY(struct zt_cfg_server, tls_cert_file, "", ZT_CFG_MAX_STR, KF_ANY, 0,
            "PEM certificate (chain) for HTTPS on server.listen; empty = plain HTTP. A relative path "
            "is relative to node.data_dir."),
    STR_KEY(struct zt_cfg_server, tls_key_file, "", ZT_CFG_MAX_STR, KF_ANY, 0,
            "PEM private key of server.tls_cert_file (unencrypted, readable by the node only)."),
    INT_KEY(struct zt_cfg_server, ws_max_connections, 256, 1, 100000,
            "Most simultaneous WebSocket connections (GET /v1/ws), one thread each."),
    INT_KEY(struct zt_cfg_server, ws_max_message_bytes, 65536, 125, 16777216,
            "Largest WebSocket message (all fragments), in bytes; larger closes with 1009."),
    INT_KEY(struct zt_cfg_server, ws_idle_timeout_s, 60, 2, 86400,
            "Seconds a silent WebSocket is kept: pinged after half, closed after all of it."),
};
TABLE(server_table, server_keys, struct zt_cfg_server, NULL);

/* config.yaml: log */
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};
static const char *const log_formats[] = {"text", "json", NULL};
static const struct cfg_key log_keys[] = {
    ENUM_KEY(struct zt_cfg_log, level, "info", log_levels, "Least severe level written."),
    ENUM_KEY(struct zt_cfg_log, format, "text", log_formats,
             "text (key=value) or json (one object per line)."),
    STR_KEY(struct zt_cfg_log, file, "", ZT_CFG_MAX_STR, KF_ANY, 0,
            "Log file (appended, reopened on SIGHUP); empty = stderr."),
};
TABLE(log_table, log_keys, struct zt_cfg_log, NULL);

/* encryption.yaml */
static const char *const aeads[] = {"chacha20poly1305", "aes256gcm", NULL};
static const char *const node_callers[] = {"peer_or_user", "peer", NULL};
static const char *const jwt_alg_names[] = {"HS256", "RS256", "EdDSA", NULL};
static const char *const jwt_alg_default[] = {"HS256", "RS256", "EdDSA", NULL};
static const struct cfg_key encryption_keys[] = {
    STR_KEY(struct zt_cfg_encryption, key_file, "node.key", ZT_CFG_MAX_STR, KF_ANY, KEY_NONEMPTY,
            "Node identity key file (X25519 + Ed25519), relative to node.data_dir."),
    STR_KEY(struct zt_cfg_encryption, passphrase_env, "", 128, KF_ENV_NAME, 0,
            "Name of the environment variable holding the key file passphrase; empty = "
            "key file protected by its 0600 mode only."),
    ENUM_KEY(struct zt_cfg_encryption, aead, "chacha20poly1305", aeads,
             "AEAD sealing jobs and results (HPKE)."),
    INT_KEY(struct zt_cfg_encryption, job_ttl_s, 300, 10, 86400,
            "Seconds a sealed job stays valid."),
    INT_KEY(struct zt_cfg_encryption, replay_ids, 65536, 256, 1048576,
            "Unexpired sealed job ids a worker remembers against replays; an anonymous client "
            "address may hold 1/64 of them, all anonymous callers 1/2, a signed peer or "
            "authenticated user 1/8."),
    BOOL_KEY(struct zt_cfg_encryption, require_auth, true,
             "Require a bearer token (JWT) on listeners that are not loopback; such a "
             "listener refuses to start without encryption.jwt_secret."),
    STR_KEY(struct zt_cfg_encryption, jwt_secret, "", ZT_CFG_MAX_STR, KF_ANY, KEY_SECRET,
            "HS256 secret verifying API tokens (JWT) from zentalk-api; empty = no tokens: "
            "loopback clients act as admin."),
    STR_KEY(struct zt_cfg_encryption, peers_file, "peers.json", ZT_CFG_MAX_STR, KF_ANY, KEY_NONEMPTY,
            "Trusted peers: a JSON array of signed node descriptors, relative to node.data_dir; "
            "reloaded on SIGHUP; a missing file means no peers."),
    ENUM_KEY(struct zt_cfg_encryption, relay_callers, "peer_or_user", node_callers,
             "Who may call POST /v1/relay/jobs: peer (signed requests from registered peers only) "
             "or peer_or_user (also callers with role user)."),
    ENUM_KEY(struct zt_cfg_encryption, sealed_jobs_callers, "peer_or_user", node_callers,
             "Who may call POST /v1/jobs/sealed: peer (signed requests from registered peers, "
             "e.g. relays, only) or peer_or_user (also callers with role user)."),
    STR_KEY(struct zt_cfg_encryption, jwt_public_key_file, "", ZT_CFG_MAX_STR, KF_ANY, 0,
            "PEM public key (SubjectPublicKeyInfo) verifying API tokens: an RSA key for RS256 or "
            "an Ed25519 key for EdDSA; relative to node.data_dir; empty = none."),
    STRLIST_KEY(struct zt_cfg_encryption, jwt_algorithms, jwt_alg_default, 3, jwt_alg_names, KF_ANY,
                KEY_NONEMPTY | KEY_UNIQUE,
                "Token algorithms accepted, each needing its key: HS256 (encryption.jwt_secret), "
                "RS256 or EdDSA (encryption.jwt_public_key_file)."),
    STR_KEY(struct zt_cfg_encryption, remote_worker, "", 64, KF_NODE_ID, 0,
            "Node id (zt1...) of the peer that runs completions and chats for models this node does not "
            "serve; empty = the first registered worker peer (by node id) whose descriptor lists the model."),
    STR_KEY(struct zt_cfg_encryption, relay, "", 64, KF_NODE_ID, 0,
            "Node id (zt1...) of a registered peer running the relay role through which remote jobs go "
            "(the worker does not learn this node's address); empty = straight to the worker."),
    INT_KEY(struct zt_cfg_encryption, remote_timeout_s, 120, 1, 3600,
            "Seconds to wait for a remote worker's answer to start, and the longest silence while it "
            "streams; a job that goes past it fails (504 before any text)."),
    INT_KEY(struct zt_cfg_encryption, remote_stall_ms, 10000, 0, 3600000,
            "Milliseconds without a token from a remote worker that has started streaming after which the "
            "job moves to the next registered worker serving the model, with the tokens so far (resumable "
            "streams; a worker whose connection drops moves at once); 0 = no stall deadline."),
    INT_KEY(struct zt_cfg_encryption, remote_max_tokens, 512, 1, 1048576,
            "max_tokens of a remote job whose request names none (the sealed header needs a bound)."),
    INT_KEY(struct zt_cfg_encryption, remote_max_inflight, 64, 1, 4096,
            "Remote jobs in progress at once; 503 beyond."),
};
TABLE(encryption_table, encryption_keys, struct zt_cfg_encryption, NULL);

/* gpu-pool.yaml */
static const char *const backends[] = {"auto", "cpu", "vulkan", "cuda", NULL};
static const char *const kv_types[] = {"f32", "f16", NULL};
static const char *const precisions[] = {"exact", "bf16", NULL};
static const struct cfg_key gpu_pool_keys[] = {
    ENUM_KEY(struct zt_cfg_gpu_pool, backend, "auto", backends,
             "Compute backend of the worker's models: cpu, vulkan (any Vulkan 1.1 device: NVIDIA, AMD, Intel, "
             "Mesa's lavapipe) or cuda (NVIDIA GPUs; built when nvcc was found at build time); a GPU backend "
             "without a device refuses to start; auto = cpu until the GPU pool places models itself."),
    BOOL_KEY(struct zt_cfg_gpu_pool, deterministic, true,
             "On a GPU backend, compute the CPU engine's bits (Vulkan: exact fma, division, sqrt and exp emulated "
             "in double, slower on GPUs with slow fp64; CUDA: the device's IEEE fma, division and sqrt, no "
             "contraction) so that receipts verify against CPU workers; false = the device's fast math, and the "
             "engine build id ends in +fast."),
    STRLIST_KEY(struct zt_cfg_gpu_pool, devices, no_strings, 16, NULL, KF_DIGITS, 0,
                "Devices of the GPU pool, as indices into `zentalk gpus`' list for gpu_pool.backend, e.g. "
                "[\"0\", \"1\"]; an index listed twice is two logical devices sharing one GPU (each with its own "
                "budget and slots); empty = every device of the backend."),
    INT_KEY(struct zt_cfg_gpu_pool, max_vram_mb, 0, 0, 16777216,
            "Weight memory in MiB per device of the GPU pool (below the device's memory): a model goes to the "
            "device with the most room, split over two when none holds it, and is refused (model_unavailable, "
            "the sizes in the log) before anything is uploaded when no two do; 0 = the device's memory."),
    INT_KEY(struct zt_cfg_gpu_pool, cpu_threads, 0, 0, 1024,
            "Threads for CPU inference; 0 = one per CPU this process may run on (its affinity mask: `taskset`, container CPU sets)."),
    INT_KEY(struct zt_cfg_gpu_pool, max_batch, 8, 1, 1024,
            "Sequences decoded together; on a GPU backend also the slots of each device of the pool, shared by "
            "the models placed on it."),
    ENUM_KEY(struct zt_cfg_gpu_pool, kv_cache_type, "f32", kv_types,
             "KV cache element type of CPU inference: f32 (exact) or f16 (half the memory, deterministic, but not the bits of f32)."),
    ENUM_KEY(struct zt_cfg_gpu_pool, precision, "exact", precisions,
             "Precision of CPU inference's float matrices (F32/F16/BF16 weights): exact (the canonical order) or "
             "bf16, the declared reduced-precision mode (weights and activations rounded to bf16, AVX512-BF16 "
             "vdpbf16ps where the CPU has it: faster F16 prompts, deterministic, but not the bits of exact); "
             "work done in it carries +bf16 in the engine build id, and jobs asking for exact are refused."),
};
TABLE(gpu_pool_table, gpu_pool_keys, struct zt_cfg_gpu_pool, NULL);

/* database.yaml */
static const char *const drivers[] = {"sqlite", "postgres", NULL};
static const char *const queues[] = {"memory", "redis", NULL};
static const struct cfg_key database_keys[] = {
    ENUM_KEY(struct zt_cfg_database, driver, "sqlite", drivers, "Store backend."),
    STR_KEY(struct zt_cfg_database, sqlite_path, "zentalk.db", ZT_CFG_MAX_STR, KF_ANY, KEY_NONEMPTY,
            "SQLite database file, relative to node.data_dir."),
    STR_KEY(struct zt_cfg_database, postgres_url, "", ZT_CFG_MAX_STR, KF_ANY, KEY_SECRET,
            "PostgreSQL connection URI or conninfo; required when driver is postgres."),
    STR_KEY(struct zt_cfg_database, redis_url, "", ZT_CFG_MAX_STR, KF_ANY, KEY_SECRET,
            "Redis URL (redis://[:password@]host[:port][/db]) of the shared job queue; required when queue is redis."),
    ENUM_KEY(struct zt_cfg_database, queue, "memory", queues,
             "Job queue: memory (in-process, one machine) or redis (a Redis Stream shared by several orchestrators)."),
    INT_KEY(struct zt_cfg_database, queue_claim_ms, 30000, 100, 3600000,
            "Milliseconds a queue entry may stay unacknowledged before another orchestrator claims it (redis queue)."),
    INT_KEYF(struct zt_cfg_database, pool_size, 4, 1, 256, KEY_RESERVED, "Database connections kept open."),
    INT_KEY(struct zt_cfg_database, busy_timeout_ms, 5000, 0, 600000,
            "Milliseconds to wait for a locked database."),
    ENUM_KEY(struct zt_cfg_database, result_cache, "memory", queues,
             "The gateway's result cache: memory (an in-process LRU bounded by result_cache_max_mb) or redis "
             "(shared through redis_url). Who may share an entry and for how long is privacy.yaml's "
             "(result_cache, retention_cache_days)."),
    INT_KEY(struct zt_cfg_database, result_cache_max_mb, 64, 1, 65536,
            "Megabytes the in-process result cache holds (least recently used entries go first)."),
    STR_KEY(struct zt_cfg_database, result_cache_secret, "", ZT_CFG_MAX_STR, KF_ANY, KEY_SECRET,
            "Secret keying the result cache's entry names and encrypting its values; empty = derived from this "
            "node's identity key (gateways sharing one Redis need the same secret to share entries)."),
    INT_KEY(struct zt_cfg_database, result_cache_verify_permille, 10, 0, 1000,
            "Cache hits, per 1000, that are run again by a worker and compared with the cached chain (a mismatch "
            "evicts the entry)."),
};
TABLE(database_table, database_keys, struct zt_cfg_database, NULL);

/* chain.yaml */
static const struct cfg_key chain_keys[] = {
    BOOL_KEYF(struct zt_cfg_chain, enabled, false, 0,
             "Charge jobs placed by this node's orchestrator to the caller's wallet in the ledger (escrow at "
             "submission, the worker paid on completion); false = chat is free, no deposits."),
    STR_KEY(struct zt_cfg_chain, network, "testnet", 64, KF_ID, KEY_NONEMPTY | KEY_RESERVED,
            "Chain network name."),
    STR_KEY(struct zt_cfg_chain, rpc_url, "", 2048, KF_URL, KEY_RESERVED,
            "JSON-RPC endpoint; required when enabled."),
    STR_KEY(struct zt_cfg_chain, token_symbol, "CHAIN", 16, KF_ID, KEY_NONEMPTY | KEY_RESERVED,
            "Symbol of the reward token."),
    STR_KEY(struct zt_cfg_chain, wallet_address, "", 42, KF_ETH_ADDR, 0,
            "Address receiving this node's payouts: a worker announces it in its signed join record and the "
            "orchestrator's ledger pays its earnings there; empty = none (an admin sets it)."),
    INT_KEYF(struct zt_cfg_chain, payout_interval_s, 86400, 60, 2592000, 0,
            "Seconds between payout rounds (batch the due earnings, sign, export)."),
    STR_KEY(struct zt_cfg_chain, min_payout, "10", 40, KF_TOKENS, KEY_NONEMPTY,
            "Smallest provider balance, in tokens (exact decimal text, up to 18 decimals), that is paid out."),
    /* pricing and settlement (issue 12; amounts in tokens, exact decimal text) */
    INT_KEYF(struct zt_cfg_chain, orchestrator_fee_bps, 500, 0, 10000, 0,
             "The orchestrator's fee, in basis points (1/10000) of a job's cost."),
    STR_KEY(struct zt_cfg_chain, verification_bonus, "0.001", 40, KF_TOKENS, KEY_NONEMPTY,
            "Tokens paid from the fee account to each honest verifier of a checked job (at most an equal share "
            "of what the fee account holds)."),
    STR_KEY(struct zt_cfg_chain, slash_amount, "10", 40, KF_TOKENS, KEY_NONEMPTY,
            "Tokens taken from a provider's stake (at most what it holds) on a confirmed verification mismatch; "
            "the job's earning not yet paid out also goes back to the payer."),
    STR_KEY(struct zt_cfg_chain, min_stake, "100", 40, KF_TOKENS, KEY_NONEMPTY,
            "Tokens a provider must have staked to be given work (with chain.enabled; 0 = no stake gate)."),
    STR_KEY(struct zt_cfg_chain, price_prompt_per_1k, "0.001", 40, KF_TOKENS, KEY_NONEMPTY,
            "Price, in tokens, of 1000 prompt tokens: a worker advertises it in its signed join record and the "
            "gateway settles the worker's jobs at it; a gateway's own is the default for jobs not placed on a "
            "worker it knows."),
    STR_KEY(struct zt_cfg_chain, price_completion_per_1k, "0.002", 40, KF_TOKENS, KEY_NONEMPTY,
            "Price, in tokens, of 1000 completion tokens (as price_prompt_per_1k); a worker refuses a job whose "
            "ceiling is under the higher of its two prices."),
    STR_KEY(struct zt_cfg_chain, price_cache_hit, "0", 40, KF_TOKENS, KEY_NONEMPTY,
            "Price, in tokens, of an answer served from the gateway's result cache (0 = free)."),
    INT_KEYF(struct zt_cfg_chain, dispute_window_s, 86400, 0, 2592000, 0,
             "Seconds an earning waits before it may be paid out (a mismatch found meanwhile can still slash it)."),
    INT_KEYF(struct zt_cfg_chain, payout_chain_id, 1, 1, INT64_MAX, 0,
             "Chain id in the EIP-712 domain of payout batch signatures."),
    STR_KEY(struct zt_cfg_chain, payout_contract, "", 42, KF_ETH_ADDR, 0,
            "Payout contract (the EIP-712 verifyingContract of batch signatures)."),
    STR_KEY(struct zt_cfg_chain, payout_key_file, "payout.key", ZT_CFG_MAX_STR, KF_ANY, KEY_NONEMPTY,
            "Passphrase-protected secp256k1 key that signs payout batches, relative to node.data_dir."),
    STR_KEY(struct zt_cfg_chain, payout_passphrase_env, "", 128, KF_ENV_NAME, 0,
            "Environment variable holding the payout key's passphrase; empty or unset = batches stay pending (unsigned)."),
};
TABLE(chain_table, chain_keys, struct zt_cfg_chain, NULL);

/* integration.yaml */
static const struct cfg_key integration_keys[] = {
    STR_KEY(struct zt_cfg_integration, api_url, "", 2048, KF_URL, 0,
            "zentalk-api base URL, where webhooks go (with webhook_path); empty = standalone node, no webhooks."),
    STR_KEY(struct zt_cfg_integration, jwt_issuer, "zentalk-api", 256, KF_ANY, 0,
            "Expected iss claim of JWTs."),
    STR_KEY(struct zt_cfg_integration, jwt_audience, "zentalk-ai", 256, KF_ANY, 0,
            "Expected aud claim of JWTs."),
    STR_KEY(struct zt_cfg_integration, webhook_secret, "", ZT_CFG_MAX_STR, KF_ANY, KEY_SECRET,
            "HMAC-SHA256 secret signing webhooks to zentalk-api (job completions, payouts); empty = webhooks off."),
    INT_KEY(struct zt_cfg_integration, timeout_ms, 10000, 100, 600000,
            "Milliseconds per call to zentalk-api (a webhook attempt that takes longer is retried)."),
    STR_KEY(struct zt_cfg_integration, webhook_path, "/v1/webhooks/zentalk-ai", 256, KF_ANY, KEY_NONEMPTY,
            "Path under api_url that webhooks are posted to."),
    INT_KEY(struct zt_cfg_integration, webhook_retry_base_ms, 1000, 10, 3600000,
            "Milliseconds before a failed webhook is sent again; doubled after each attempt (at most an hour)."),
    INT_KEY(struct zt_cfg_integration, webhook_max_attempts, 12, 1, 100,
            "Attempts after which a webhook is marked failed (zentalk webhooks list shows it)."),
};
TABLE(integration_table, integration_keys, struct zt_cfg_integration, NULL);

/* privacy.yaml */
static const char *const policies[] = {"local_only", "pseudonymise", "allow", NULL};
static const char *const audit_fsync_modes[] = {"always", "checkpoint", "never", NULL};
static const char *const cache_scopes[] = {"user", "tenant", "off", NULL};

/* privacy.yaml: extra_patterns[] and policies[] */
static const char *check_pii_pattern(const void *obj, const char **key);
static const struct cfg_key pii_pattern_keys[] = {
    STR_KEY(struct zt_cfg_pii_pattern, type, "", 31, KF_ID, KEY_REQUIRED | KEY_NONEMPTY | KEY_UNIQUE,
            "Type name reported for matches: upper-case letters, digits and _ (not a built-in type)."),
    STR_KEY(struct zt_cfg_pii_pattern, regex, "", 1024, KF_ANY, KEY_REQUIRED | KEY_NONEMPTY,
            "PCRE2 pattern (UTF mode); it must compile."),
};
TABLE(pii_pattern_table, pii_pattern_keys, struct zt_cfg_pii_pattern, check_pii_pattern);

static const char *check_privacy_rule(const void *obj, const char **key);
static const struct cfg_key privacy_rule_keys[] = {
    STR_KEY(struct zt_cfg_privacy_rule, feature, "", 64, KF_ANY, KEY_REQUIRED | KEY_NONEMPTY,
            "Feature or route (chat, completions, summarize, ...), or * for any."),
    STR_KEY(struct zt_cfg_privacy_rule, type, "", 31, KF_ANY, KEY_REQUIRED | KEY_NONEMPTY,
            "PII type (EMAIL, PHONE, CARD, IBAN, IP, ETH, BTC or a custom type), or * for any."),
    ENUM_KEY(struct zt_cfg_privacy_rule, action, "pseudonymise", policies,
             "local_only, pseudonymise or allow."),
};
TABLE(privacy_rule_table, privacy_rule_keys, struct zt_cfg_privacy_rule, check_privacy_rule);
static const struct cfg_key privacy_keys[] = {
    BOOL_KEY(struct zt_cfg_privacy, pii_filter, true,
             "Detect personal data before a job leaves the gateway."),
    ENUM_KEY(struct zt_cfg_privacy, default_policy, "pseudonymise", policies,
             "What happens to personal data found: local_only = never leaves this node, "
             "pseudonymise = replaced by stable typed tokens such as <EMAIL_1>, allow = sent sealed as is."),
    BOOL_KEY(struct zt_cfg_privacy, audit_log, true,
             "Record privacy decisions (never content) in the audit log."),
    INT_KEY(struct zt_cfg_privacy, retention_cache_days, 7, 0, 3650,
            "Days cached results (the gateway's result cache) are kept; 0 = not cached."),
    ENUM_KEY(struct zt_cfg_privacy, result_cache, "user", cache_scopes,
             "Who shares an entry of the result cache: user (each caller has its own; the default), tenant (every "
             "authenticated caller of this gateway) or off (nothing is cached). Only jobs the privacy gate allows "
             "as they are (no personal data masked) are cached."),
    INT_KEYF(struct zt_cfg_privacy, retention_jobs_days, 30, 0, 3650, KEY_RESERVED,
            "Days job metadata is kept; 0 = deleted when settled."),
    INT_KEY(struct zt_cfg_privacy, retention_audit_days, 365, 0, 3650,
            "Days rotated audit files are kept (the file being written is never deleted); 0 = kept forever."),
    INT_KEY(struct zt_cfg_privacy, retention_search_days, 0, 0, 36500,
            "Days indexed search messages are kept (the retention sweeper deletes older ones); 0 = kept until deleted."),
    INT_KEY(struct zt_cfg_privacy, retention_temp_hours, 24, 0, 87600,
            "Hours files under node.data_dir/temp are kept; 0 = never swept."),
    INT_KEY(struct zt_cfg_privacy, sweep_interval_s, 3600, 1, 86400,
            "Seconds between runs of the retention sweeper (it also runs at start)."),
    {.name = "extra_patterns", .type = KT_LIST, .off = offsetof(struct zt_cfg_privacy, extra_patterns),
     .count_off = offsetof(struct zt_cfg_privacy, n_extra_patterns), .max = 32,
     .sub = &pii_pattern_table,
     .doc = "Custom PII types: a list of {type, regex} (PCRE2); not settable from the environment."},
    {.name = "policies", .type = KT_LIST, .off = offsetof(struct zt_cfg_privacy, policies),
     .count_off = offsetof(struct zt_cfg_privacy, n_policies), .max = 256,
     .sub = &privacy_rule_table,
     .doc = "Rules {feature, type, action}; the most specific match wins, default_policy otherwise; "
            "not settable from the environment."},
    INT_KEY(struct zt_cfg_privacy, pii_max_text_bytes, 65536, 1, 16777216,
            "Longest text POST /v1/privacy/pii accepts, in bytes."),
    INT_KEY(struct zt_cfg_privacy, audit_max_bytes, 16777216, 4096, 4294967296,
            "Size in bytes above which the audit file is rotated (the chain continues in the next file)."),
    INT_KEY(struct zt_cfg_privacy, audit_checkpoint_entries, 1000, 1, 1000000,
            "A checkpoint signed with the node key is written every this many audit entries."),
    INT_KEY(struct zt_cfg_privacy, audit_checkpoint_seconds, 300, 1, 86400,
            "... or when this many seconds passed since the last one (checked on each entry)."),
    ENUM_KEY(struct zt_cfg_privacy, audit_fsync, "checkpoint", audit_fsync_modes,
             "When audit entries reach the disk: always = fsync after every entry, checkpoint = at "
             "checkpoints and rotation, never = left to the kernel."),
    STRLIST_KEY(struct zt_cfg_privacy, verification_exempt_features, no_strings, 64, NULL, KF_ID, KEY_UNIQUE,
                "Features whose jobs are never sent to a second worker for verification or replication (\"chat\", "
                "\"completion\"); their answers say \"verification\":\"exempt\"."),
    STRLIST_KEY(struct zt_cfg_privacy, verification_exempt_users, no_strings, 1024, NULL, KF_ANY, KEY_UNIQUE,
                "Caller identities (user ids, wallet addresses) whose jobs are never sent to a second worker."),
};
TABLE(privacy_table, privacy_keys, struct zt_cfg_privacy, NULL);

/* models.yaml: model_cache */
static const struct cfg_key model_cache_keys[] = {
    INT_KEY(struct zt_cfg_model_cache, memory_budget_mb, 0, 0, 16777216,
            "Memory for loaded models in MiB, least recently used evicted above it; 0 = no limit."),
    STR_KEY(struct zt_cfg_model_cache, default_model, "", 128, KF_MODEL_ID, 0,
            "Model used when a request names none; empty = the first entry of models."),
};
TABLE(model_cache_table, model_cache_keys, struct zt_cfg_model_cache, NULL);

/* models.yaml: models[] */
static const char *check_model(const void *obj, const char **key);
static const struct cfg_key model_keys[] = {
    STR_KEY(struct zt_cfg_model, id, "", 128, KF_MODEL_ID, KEY_REQUIRED | KEY_NONEMPTY | KEY_UNIQUE,
            "Name clients use in requests (required, unique)."),
    STR_KEY(struct zt_cfg_model, path, "", ZT_CFG_MAX_STR, KF_ANY, 0,
            "GGUF file, relative to node.data_dir; path or url is required."),
    STR_KEY(struct zt_cfg_model, url, "", 2048, KF_URL, 0,
            "Where `zentalk models pull` downloads the file from; needs sha256."),
    STR_KEY(struct zt_cfg_model, sha256, "", 64, KF_HEX64, 0,
            "SHA-256 of the file, 64 hex digits; checked after download."),
    INT_KEY(struct zt_cfg_model, context_size, 0, 0, 1048576,
            "Context window in tokens; 0 = the model's own."),
    DBL_KEY(struct zt_cfg_model, temperature, 0.8, 0.0, 2.0, "Default sampling temperature."),
    DBL_KEY(struct zt_cfg_model, top_p, 0.95, 0.0, 1.0, "Default nucleus sampling mass."),
    INT_KEY(struct zt_cfg_model, top_k, 40, 0, 1000, "Default top-k; 0 = off."),
    INT_KEY(struct zt_cfg_model, max_tokens, 512, 1, 1048576,
            "Default limit of generated tokens per request."),
};
TABLE(model_table, model_keys, struct zt_cfg_model, check_model);

/* features.yaml: one table per feature because the defaults differ. */
#define FEATURE_TABLE(NAME, EN, TH, DOC_TH)                                                 \
    static const struct cfg_key NAME##_keys[] = {                                          \
        BOOL_KEY(struct zt_cfg_feature, enabled, EN, "Serve this feature."),               \
        DBL_KEY(struct zt_cfg_feature, threshold, TH, 0.0, 1.0, DOC_TH),                   \
    };                                                                                     \
    TABLE(NAME##_table, NAME##_keys, struct zt_cfg_feature, NULL)

/* Features with a generative path also name the chat model to use. */
#define FEATURE_LLM_TABLE(NAME, EN, TH, DOC_TH)                                             \
    static const struct cfg_key NAME##_keys[] = {                                          \
        BOOL_KEY(struct zt_cfg_feature, enabled, EN, "Serve this feature."),               \
        DBL_KEY(struct zt_cfg_feature, threshold, TH, 0.0, 1.0, DOC_TH),                   \
        STR_KEY(struct zt_cfg_feature, model, "", 128, KF_MODEL_ID, 0,                     \
                "models.yaml id of a chat model for the generative path; \"\" = classical only."), \
    };                                                                                     \
    TABLE(NAME##_table, NAME##_keys, struct zt_cfg_feature, NULL)

FEATURE_LLM_TABLE(smart_replies, true, 0.5, "Least confidence for a suggested reply to be shown.");
FEATURE_LLM_TABLE(summarize, true, 0.5, "Least salience for a sentence to enter an extractive summary.");
/* translate has Apertium's keys on top of the common two */
static const struct cfg_key translate_keys[] = {
    BOOL_KEY(struct zt_cfg_translate, enabled, true, "Serve this feature."),
    DBL_KEY(struct zt_cfg_translate, threshold, 0.5, 0.0, 1.0,
            "Least language-id confidence to translate automatically."),
    STR_KEY(struct zt_cfg_translate, modes_dir, "/usr/share/apertium/modes", ZT_CFG_MAX_STR, KF_ANY,
            KEY_NONEMPTY, "Apertium modes directory; its LLL-LLL.mode (and LL-LL.mode) files are the language pairs."),
    INT_KEY(struct zt_cfg_translate, timeout_ms, 10000, 100, 600000,
            "Milliseconds a text may take; a pipeline that takes longer is killed and restarted."),
    INT_KEY(struct zt_cfg_translate, max_bytes, 16384, 16, 1048576, "Largest text to translate, in bytes."),
    INT_KEY(struct zt_cfg_translate, pipelines, 2, 1, 16,
            "Apertium pipelines per language pair (requests beyond wait for one)."),
    STR_KEY(struct zt_cfg_translate, model, "", 128, KF_MODEL_ID, 0,
            "models.yaml id of a chat model that translates (prompted); Apertium's translation is the "
            "fallback when it is absent or fails; \"\" = Apertium only."),
};
TABLE(translate_table, translate_keys, struct zt_cfg_translate, NULL);
FEATURE_TABLE(spam, true, 0.8, "Spam probability above which a message is flagged.");
static const struct cfg_key search_keys[] = {
    BOOL_KEY(struct zt_cfg_search, enabled, true, "Serve this feature."),
    DBL_KEY(struct zt_cfg_search, threshold, 0.3, 0.0, 1.0,
            "Least cosine similarity for a semantic (embedding) hit."),
    DBL_KEY(struct zt_cfg_search, bm25_weight, 1.0, 0.0, 100.0,
            "Weight of the BM25 ranking in reciprocal rank fusion."),
    DBL_KEY(struct zt_cfg_search, vector_weight, 1.0, 0.0, 100.0,
            "Weight of the embedding ranking in reciprocal rank fusion."),
    INT_KEY(struct zt_cfg_search, rrf_k, 60, 1, 10000,
            "k of reciprocal rank fusion: score = w / (k + rank)."),
    INT_KEY(struct zt_cfg_search, candidates, 100, 1, 10000, "Hits taken from each ranking."),
    INT_KEY(struct zt_cfg_search, scan_limit, 20000, 0, 100000000,
            "Newest messages of a user compared by embedding per query; 0 = all."),
    INT_KEY(struct zt_cfg_search, max_messages_per_user, 100000, 0, 1000000000,
            "Messages one user may keep in the search index (403 quota_exceeded past it); 0 = no limit."),
    INT_KEY(struct zt_cfg_search, max_bytes_per_user, 268435456, 0, 1099511627776,
            "Bytes one user's indexed messages may take (ciphertext, vectors, index terms; 403 "
            "quota_exceeded past it); 0 = no limit."),
    STR_KEY(struct zt_cfg_search, db_path, "search.db", ZT_CFG_MAX_STR, KF_ANY, KEY_NONEMPTY,
            "SQLite file of the encrypted search index, relative to node.data_dir."),
};
TABLE(search_table, search_keys, struct zt_cfg_search, NULL);
static const struct cfg_key category_keys[] = {
    STR_KEY(struct zt_cfg_category, name, "", 64, KF_ID, KEY_REQUIRED | KEY_NONEMPTY | KEY_UNIQUE,
            "Category name (required, unique)."),
    STRLIST_KEY(struct zt_cfg_category, seeds, no_strings, ZT_CFG_MAX_LIST, NULL, KF_ANY,
                KEY_REQUIRED | KEY_NONEMPTY, "Seed words whose vectors make the category's centroid."),
};
TABLE(category_table, category_keys, struct zt_cfg_category, NULL);
static const struct cfg_key categorize_keys[] = {
    BOOL_KEY(struct zt_cfg_categorize, enabled, true, "Serve this feature."),
    DBL_KEY(struct zt_cfg_categorize, threshold, 0.25, 0.0, 1.0,
            "Least vote share of the best category (1/n = no preference); below it: uncategorised."),
    INT_KEY(struct zt_cfg_categorize, top, 3, 1, 64, "Categories reported per conversation."),
    {.name = "categories", .type = KT_LIST, .off = offsetof(struct zt_cfg_categorize, categories),
     .count_off = offsetof(struct zt_cfg_categorize, n_categories), .max = ZT_CFG_MAX_CATEGORIES,
     .sub = &category_table,
     .doc = "Categories with seed words; empty = the built-in set (docs/features/categorize.md); "
            "not settable from the environment."},
};
TABLE(categorize_table, categorize_keys, struct zt_cfg_categorize, NULL);
static const char *const sentiment_modes[] = {"chat", "vader", NULL};
static const struct cfg_key sentiment_keys[] = {
    BOOL_KEY(struct zt_cfg_sentiment, enabled, true, "Serve this feature."),
    DBL_KEY(struct zt_cfg_sentiment, threshold, 0.05, 0.0, 1.0,
            "Least |compound| score labelled positive or negative (VADER's own cut is 0.05)."),
    ENUM_KEY(struct zt_cfg_sentiment, mode, "chat", sentiment_modes,
             "Scoring: chat (negation and contrast across clauses, small talk neutral, emoji, "
             "sarcasm) or vader (the VADER reference, for comparison)."),
};
TABLE(sentiment_table, sentiment_keys, struct zt_cfg_sentiment, NULL);

/* features.moderation and features.language have keys of their own. */
static const char *const moderation_action_names[] = {"allow", "flag", "block", NULL};
#define MOD_ACTION_KEY(F, DEF, WHAT)                                                          \
    ENUM_KEY(struct zt_cfg_moderation_actions, F, DEF, moderation_action_names,             \
             "What to do with a message that matches " WHAT ": allow, flag or block.")
static const struct cfg_key moderation_actions_keys[] = {
    MOD_ACTION_KEY(profanity, "flag", "profanity"),
    MOD_ACTION_KEY(sexual, "flag", "sexual terms"),
    MOD_ACTION_KEY(hate, "block", "hate speech"),
    MOD_ACTION_KEY(harassment, "block", "harassment or threats"),
    MOD_ACTION_KEY(self_harm, "flag", "self-harm phrases"),
    MOD_ACTION_KEY(spam_links, "flag", "spam or suspicious links"),
};
TABLE(moderation_actions_table, moderation_actions_keys, struct zt_cfg_moderation_actions, NULL);
static const char *const moderation_default_langs[] = {"en", NULL};
static const struct cfg_key moderation_keys[] = {
    BOOL_KEY(struct zt_cfg_moderation, enabled, true, "Serve this feature."),
    DBL_KEY(struct zt_cfg_moderation, threshold, 0.7, 0.0, 1.0,
            "Least category score (0..1) that counts as a match and triggers the category's action."),
    SECTION_KEY(struct zt_cfg_moderation, actions, &moderation_actions_table, NULL,
                "Action per moderation category."),
    STRLIST_KEY(struct zt_cfg_moderation, default_languages, moderation_default_langs, ZT_CFG_MAX_LIST, NULL,
                KF_ID, KEY_UNIQUE,
                "ISO 639-1 codes whose word lists count fully, with English, when language detection is "
                "unsure (a short English message detected as another language)."),
};
TABLE(moderation_table, moderation_keys, struct zt_cfg_moderation, NULL);

static const char *const language_default_list[] = {
    "en", "es", "fr", "de", "it", "pt", "nl", "ca", "gl", "eu", "ru", "uk", "pl", "cs", "sk", "sl",
    "hr", "sr", "bg", "ro", "hu", "el", "tr", "sv", "da", "nb", "fi", "et", "lv", "lt", "is", "ga",
    "cy", "sq", "af", "ar", "he", "fa", "hi", "ja", "ko", "zh", "vi", "th", "id", "ms", NULL};
static const struct cfg_key language_keys[] = {
    BOOL_KEY(struct zt_cfg_language, enabled, true, "Serve this feature."),
    DBL_KEY(struct zt_cfg_language, threshold, 0.5, 0.0, 1.0,
            "Least confidence to report a detected language; below it the answer is und."),
    STRLIST_KEY(struct zt_cfg_language, languages, language_default_list, ZT_CFG_MAX_LIST, NULL, KF_ID,
                KEY_NONEMPTY | KEY_UNIQUE,
                "ISO 639-1 codes the detector chooses among (fewer candidates: better accuracy on short messages)."),
    STR_KEY(struct zt_cfg_language, fingerprints_dir, "/usr/share/libexttextcat", ZT_CFG_MAX_STR, KF_ANY,
            KEY_NONEMPTY, "Directory of libexttextcat's language fingerprints (*.lm)."),
};
TABLE(language_table, language_keys, struct zt_cfg_language, NULL);
/* entities: no confidence cut is applied yet, so its threshold is reserved */
static const struct cfg_key entities_keys[] = {
    BOOL_KEY(struct zt_cfg_feature, enabled, true, "Serve this feature."),
    DBL_KEYF(struct zt_cfg_feature, threshold, 0.5, 0.0, 1.0, KEY_RESERVED,
             "Least confidence to report a named entity."),
};
TABLE(entities_table, entities_keys, struct zt_cfg_feature, NULL);

#define FEATURE_KEY(NAME, DOC) SECTION_KEY(struct zt_cfg_features, NAME, &NAME##_table, NULL, DOC)
static const struct cfg_key features_keys[] = {
    FEATURE_KEY(smart_replies, "Suggested short replies."),
    FEATURE_KEY(summarize, "Conversation summaries."),
    FEATURE_KEY(translate, "Message translation (Apertium)."),
    FEATURE_KEY(spam, "Spam filtering."),
    FEATURE_KEY(search, "Semantic search."),
    FEATURE_KEY(sentiment, "Sentiment analysis."),
    FEATURE_KEY(moderation, "Content moderation."),
    FEATURE_KEY(categorize, "Conversation categorisation."),
    FEATURE_KEY(language, "Language identification."),
    FEATURE_KEY(entities, "Named-entity extraction."),
};
TABLE(features_table, features_keys, struct zt_cfg_features, NULL);

static const struct cfg_key root_keys[] = {
    SECTION_KEY(struct zt_config, node, &node_table, "config.yaml", "This node."),
    SECTION_KEY(struct zt_config, server, &server_table, "config.yaml", "The HTTP API."),
    SECTION_KEY(struct zt_config, log, &log_table, "config.yaml", "Logging."),
    SECTION_KEY(struct zt_config, orchestrator, &orch_table, "config.yaml",
                "The orchestrator role: worker registry and scheduler."),
    SECTION_KEY(struct zt_config, mesh, &mesh_table, "config.yaml", "Blobs (models) shared between nodes."),
    SECTION_KEY(struct zt_config, encryption, &encryption_table, "encryption.yaml",
                "Keys, sealing and API authentication."),
    SECTION_KEY(struct zt_config, gpu_pool, &gpu_pool_table, "gpu-pool.yaml",
                "Compute devices of the worker role."),
    SECTION_KEY(struct zt_config, database, &database_table, "database.yaml",
                "Storage and queue."),
    SECTION_KEY(struct zt_config, chain, &chain_table, "chain.yaml", "CHAIN token payouts."),
    SECTION_KEY(struct zt_config, integration, &integration_table, "integration.yaml",
                "The zentalk-api service."),
    SECTION_KEY(struct zt_config, privacy, &privacy_table, "privacy.yaml",
                "Personal data handling and retention."),
    SECTION_KEY(struct zt_config, model_cache, &model_cache_table, "models.yaml",
                "Loaded-model cache of the worker role."),
    {.name = "models", .type = KT_LIST, .off = offsetof(struct zt_config, models),
     .count_off = offsetof(struct zt_config, n_models), .max = ZT_CFG_MAX_MODELS,
     .sub = &model_table, .file = "models.yaml",
     .doc = "Models this node can serve; not settable from the environment."},
    SECTION_KEY(struct zt_config, features, &features_table, "features.yaml",
                "Messaging AI features."),
};
TABLE(root_table, root_keys, struct zt_config, NULL);

/* The files of a config directory, in load order. */
static const char *const file_kinds[] = {
    "config.yaml",    "encryption.yaml", "gpu-pool.yaml", "database.yaml", "chain.yaml",
    "integration.yaml", "privacy.yaml",  "models.yaml",   "features.yaml",
};

/* ZENTALK_ variables that belong to other programs or parts and are not
 * configuration keys: not warned about. */
static const char *const env_reserved[] = {
    "ZENTALK_URL",        /* the zentalk CLI's node address */
    "ZENTALK_TOKEN",      /* the zentalk CLI's bearer token */
    "ZENTALK_CONFIG",     /* the configuration directory when --config is not given */
    "ZENTALK_CONFIG_DIR", /* where scripts/deployments keep --config */
    "ZENTALK_ASSETS_DIR", /* where the feature assets are (zt_asset.h) */
    NULL,
};

static const char *check_model(const void *obj, const char **key)
{
    const struct zt_cfg_model *m = obj;
    bool has_path = m->path && m->path[0];
    bool has_url = m->url && m->url[0];
    *key = NULL;
    if (!has_path && !has_url) return "needs a path or a url";
    if (has_url && !(m->sha256 && m->sha256[0])) {
        *key = "sha256";
        return "is required when url is set (downloads are verified)";
    }
    return NULL;
}

static const char *const builtin_pii_types[] = {"EMAIL", "PHONE", "CARD", "IBAN", "IP", "ETH", "BTC", NULL};

static bool pii_type_name_ok(const char *s)
{
    if (!s || !(s[0] >= 'A' && s[0] <= 'Z')) return false;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_')) return false;
    return true;
}

/* A custom PII type: an upper-case name that is not built in, and a regex
 * that PCRE2 compiles (its message is returned, so the error names
 * file:line of the entry). */
static const char *check_pii_pattern(const void *obj, const char **key)
{
    static _Thread_local char why[WHY_LEN];
    const struct zt_cfg_pii_pattern *pp = obj;
    *key = "type";
    if (!pii_type_name_ok(pp->type)) return "must be upper-case letters, digits and _, starting with a letter";
    for (size_t i = 0; builtin_pii_types[i]; i++)
        if (strcmp(pp->type, builtin_pii_types[i]) == 0) return "is a built-in type";
    *key = "regex";
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)(pp->regex ? pp->regex : ""), PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
    if (re) {
        pcre2_code_free(re);
        return NULL;
    }
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(err, msg, sizeof msg) < 0) msg[0] = 0;
    snprintf(why, sizeof why, "does not compile at offset %zu: %s", (size_t)off, (const char *)msg);
    return why;
}

static const char *check_privacy_rule(const void *obj, const char **key)
{
    const struct zt_cfg_privacy_rule *r = obj;
    *key = "type";
    if (strcmp(r->type ? r->type : "", "*") != 0 && !pii_type_name_ok(r->type))
        return "must be a PII type name (upper case) or *";
    *key = "feature";
    const char *f = r->feature ? r->feature : "";
    if (strcmp(f, "*") == 0) return NULL;
    for (const char *c = f; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-' || *c == '/' ||
              *c == '.'))
            return "must be a feature name (lower case, digits, _ - . /) or *";
    return NULL;
}

/* ---------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------- */

static const char *sv(const char *s)
{
    return s ? s : "";
}

static void *field(void *base, size_t off)
{
    return (char *)base + off;
}

static const void *cfield(const void *base, size_t off)
{
    return (const char *)base + off;
}

/* KT_LIST fields are "struct X *"; they are read and written through memcpy
 * so that one generic routine serves every element type without breaking
 * the aliasing rules. */
static void *list_get(const void *base, const struct cfg_key *k, size_t *count)
{
    void *arr;
    memcpy(&arr, cfield(base, k->off), sizeof arr);
    memcpy(count, cfield(base, k->count_off), sizeof *count);
    return arr;
}

static void list_put(void *base, const struct cfg_key *k, void *arr, size_t count)
{
    memcpy(field(base, k->off), &arr, sizeof arr);
    memcpy(field(base, k->count_off), &count, sizeof count);
}

static const struct cfg_key *find_key(const struct cfg_table *t, const char *s, size_t len)
{
    for (size_t i = 0; i < t->n; i++)
        if (strlen(t->keys[i].name) == len && memcmp(t->keys[i].name, s, len) == 0)
            return &t->keys[i];
    return NULL;
}

static bool in_list(const char *const *list, const char *s, size_t len)
{
    for (; *list; list++)
        if (strlen(*list) == len && memcmp(*list, s, len) == 0) return true;
    return false;
}

/* A user-supplied value for a message: quoted, printable ASCII kept, every
 * other byte as \xNN (so nothing reaches a terminal raw), cut at QUOTE_MAX. */
static void quote(char *out, size_t n, const char *s, size_t len)
{
    size_t o = 0;
    if (n < 8) {
        if (n) out[0] = '\0';
        return;
    }
    out[o++] = '"';
    for (size_t i = 0; i < len && i < QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (o + 8 >= n) break;
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            out[o++] = (char)c;
        } else {
            int w = snprintf(out + o, n - o, "\\x%02X", c);
            if (w < 0) break;
            o += (size_t)w;
        }
    }
    if (len > QUOTE_MAX && o + 4 < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* "a, b, c" from a NULL-ended list. */
static void join_list(char *out, size_t n, const char *const *list, const char *sep)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; list[i]; i++) {
        int w = snprintf(out + o, n - o, "%s%s", i ? sep : "", list[i]);
        if (w < 0 || (size_t)w >= n - o) return;
        o += (size_t)w;
    }
}

/* Shortest decimal form that reads back as exactly d. */
static void fmt_double(char *out, size_t n, double d)
{
    zt_fmt_double(out, n, d);
}

/* ---------------------------------------------------------------------------
 * Error reports
 * ------------------------------------------------------------------------- */

struct report {
    struct zt_buf *errs; /* may be NULL: messages dropped, still counted */
    unsigned n;          /* errors (warnings not counted) */
    int rc;              /* ZT_ENOMEM once a message could not be stored */
};

static void report_add(struct report *r, bool warning, const char *where, const char *path,
                       const char *problem)
{
    if (!warning) r->n++;
    if (!r->errs) return;
    bool has_path = path && path[0];
    int rc = zt_buf_appendf(r->errs, "%s%s: %s%s%s\n", warning ? "warning: " : "", where,
                            has_path ? path : "", has_path ? ": " : "", problem);
    /* A full error buffer (ZT_ETOOBIG) just loses the tail of a long list;
     * running out of memory must reach the caller. */
    if (rc == ZT_ENOMEM) r->rc = ZT_ENOMEM;
}


static void report_at(struct report *r, const char *file, size_t line, size_t col,
                      const char *path, const char *problem)
{
    r->n++;
    if (!r->errs) return;
    bool has_path = path && path[0];
    int rc = zt_buf_appendf(r->errs, "%s:%zu:%zu: %s%s%s\n", file, line, col,
                            has_path ? path : "", has_path ? ": " : "", problem);
    if (rc == ZT_ENOMEM) r->rc = ZT_ENOMEM;
}

/* The result of a public call: running out of memory wins over bad input,
 * which wins over success. */
static int finish(int rc, const struct report *r)
{
    if (rc == ZT_ENOMEM || r->rc == ZT_ENOMEM) return ZT_ENOMEM;
    if (rc) return rc;
    return r->n ? ZT_ECONFIG : 0;
}

/* ---------------------------------------------------------------------------
 * Value checks, shared by files, environment, flags and zt_config_validate()
 * ------------------------------------------------------------------------- */

static bool chars_ok(const char *s, size_t len, const char *extra)
{
    for (size_t i = 0; i < len; i++)
        if (!zt_ascii_alnum(s[i]) && !strchr(extra, s[i])) return false;
    return true;
}

static const char *fmt_desc(enum key_fmt f)
{
    switch (f) {
    case KF_ANY: return "text";
    case KF_ID: return "letters, digits, '.', '_' and '-'";
    case KF_MODEL_ID: return "letters, digits, '.', '_', '-' and ':'";
    case KF_HOSTPORT: return "host:port, [v6]:port or :port";
    case KF_HEX64: return "64 hexadecimal digits";
    case KF_DIGITS: return "decimal digits";
    case KF_URL: return "a URL (scheme://...)";
    case KF_ENV_NAME: return "an environment variable name (letters, digits and '_')";
    case KF_ETH_ADDR: return "0x and 40 hexadecimal digits";
    case KF_NODE_ID: return "a node id (zt1 and 32 characters of a-z, 2-7)";
    case KF_TOKENS: return "a decimal amount of tokens (digits, optionally '.' and 1 to 18 decimals; quote it in YAML)";
    }
    return "text";
}

static bool fmt_ok(enum key_fmt f, const char *s, size_t len)
{
    switch (f) {
    case KF_ANY: return true;
    case KF_ID: return chars_ok(s, len, "._-");
    case KF_MODEL_ID: return chars_ok(s, len, "._-:");
    case KF_HOSTPORT: {
        /* zt_str_split_hostport wants a C string; s may be a slice. */
        char tmp[300], host[256];
        uint16_t port;
        if (len >= sizeof tmp) return false;
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        return zt_str_split_hostport(tmp, host, sizeof host, &port) == 0;
    }
    case KF_HEX64:
        if (len != 64) return false;
        for (size_t i = 0; i < len; i++)
            if (zt_hex_digit(s[i]) < 0) return false;
        return true;
    case KF_DIGITS:
        for (size_t i = 0; i < len; i++)
            if (!zt_ascii_digit(s[i])) return false;
        return len > 0 && len <= 9;
    case KF_URL: {
        size_t i = 0;
        if (!len || !zt_ascii_alpha(s[0])) return false;
        while (i < len && (zt_ascii_alnum(s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')) i++;
        if (len - i < 4 || memcmp(s + i, "://", 3) != 0) return false;
        for (size_t j = i + 3; j < len; j++)
            if (s[j] == ' ') return false;
        return true;
    }
    case KF_ENV_NAME:
        return len > 0 && !zt_ascii_digit(s[0]) && chars_ok(s, len, "_");
    case KF_NODE_ID:
        if (len != 35 || memcmp(s, "zt1", 3) != 0) return false;
        for (size_t i = 3; i < len; i++)
            if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '2' && s[i] <= '7'))) return false;
        return true;
    case KF_ETH_ADDR:
        if (len != 42 || s[0] != '0' || s[1] != 'x') return false;
        for (size_t i = 2; i < len; i++)
            if (zt_hex_digit(s[i]) < 0) return false;
        return true;
    case KF_TOKENS: {
        /* the ledger's zt_u128_parse_tokens spelling (exact base units, no
         * float): at most 20 integer digits keeps 10^18 x the value in u128 */
        size_t i = 0;
        while (i < len && zt_ascii_digit(s[i])) i++;
        if (i == 0 || i > 20 || (i > 1 && s[0] == '0')) return false;
        if (i == len) return true;
        if (s[i] != '.' || len - i - 1 < 1 || len - i - 1 > 18) return false;
        for (size_t j = i + 1; j < len; j++)
            if (!zt_ascii_digit(s[j])) return false;
        return true;
    }
    }
    return false;
}

/* UTF-8 sequence at s (n bytes left): its length and code point, or 0. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t c = s[0], min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, min = 0x80, c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, min = 0x800, c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

/* The value shown in a message: quoted, or "<redacted>" for secrets. */
static void shown(const struct cfg_key *k, char *out, size_t n, const char *s, size_t len)
{
    if (k->flags & KEY_SECRET)
        snprintf(out, n, "(secret value not shown)");
    else
        quote(out, n, s, len);
}

/* A string value (or one entry of a list of strings when item). */
static bool check_string(const struct cfg_key *k, const char *s, size_t len, bool item, char *why,
                         size_t n)
{
    size_t max = item ? STRLIST_ITEM_MAX : (size_t)k->max;
    char q[QUOTE_MAX * 4 + 16];
    if (memchr(s, '\0', len)) {
        snprintf(why, n, "NUL characters are not allowed");
        return false;
    }
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t w = utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (!w) {
            snprintf(why, n, "is not valid UTF-8");
            return false;
        }
        /* C0 and C1 controls and DEL: a config value has no business moving
         * a terminal's cursor. U+FFFE/U+FFFF: YAML cannot carry them, and
         * every value must survive zt_config_dump() and a re-read. */
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xFFFE || cp == 0xFFFF) {
            snprintf(why, n, "control characters are not allowed");
            return false;
        }
        i += w;
    }
    if (len > max) {
        snprintf(why, n, "is too long (%zu bytes; at most %zu)", len, max);
        return false;
    }
    if (len == 0) {
        if (item || (k->flags & KEY_NONEMPTY)) {
            snprintf(why, n, "must not be empty");
            return false;
        }
        return true;
    }
    if (k->allowed && !in_list(k->allowed, s, len)) {
        char opts[128];
        join_list(opts, sizeof opts, k->allowed, ", ");
        shown(k, q, sizeof q, s, len);
        snprintf(why, n, "must be one of %s; got %s", opts, q);
        return false;
    }
    if (!fmt_ok(k->fmt, s, len)) {
        shown(k, q, sizeof q, s, len);
        snprintf(why, n, "must be %s; got %s", fmt_desc(k->fmt), q);
        return false;
    }
    return true;
}

static bool check_strlist(const struct cfg_key *k, const struct zt_strlist *l, char *why, size_t n)
{
    char sub[WHY_LEN / 2];
    if (l->count > (size_t)k->max) {
        snprintf(why, n, "too many entries (%zu; at most %" PRId64 ")", l->count, k->max);
        return false;
    }
    if (l->count == 0 && (k->flags & KEY_NONEMPTY)) {
        snprintf(why, n, "must list at least one entry");
        return false;
    }
    for (size_t i = 0; i < l->count; i++) {
        const char *s = sv(l->items[i]);
        if (!check_string(k, s, strlen(s), true, sub, sizeof sub)) {
            snprintf(why, n, "entry %zu %s", i, sub);
            return false;
        }
        if (!(k->flags & KEY_UNIQUE)) continue;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s, sv(l->items[j])) == 0) {
                quote(sub, sizeof sub, s, strlen(s));
                snprintf(why, n, "duplicate entry %s", sub);
                return false;
            }
        }
    }
    return true;
}

/* Checks the field (or a value of the field's type) at fp against k. */
static bool check_field(const struct cfg_key *k, const void *fp, char *why, size_t n)
{
    switch (k->type) {
    case KT_INT: {
        int64_t v = *(const int64_t *)fp;
        if (v < k->min || v > k->max) {
            snprintf(why, n, "must be between %" PRId64 " and %" PRId64 "; got %" PRId64, k->min,
                     k->max, v);
            return false;
        }
        return true;
    }
    case KT_DOUBLE: {
        double v = *(const double *)fp;
        if (!isfinite(v) || v < k->dmin || v > k->dmax) {
            char a[32], b[32], c[32];
            fmt_double(a, sizeof a, k->dmin);
            fmt_double(b, sizeof b, k->dmax);
            fmt_double(c, sizeof c, v);
            snprintf(why, n, "must be between %s and %s; got %s", a, b, c);
            return false;
        }
        return true;
    }
    case KT_STRING: {
        const char *s = sv(*(char *const *)fp);
        return check_string(k, s, strlen(s), false, why, n);
    }
    case KT_STRLIST: return check_strlist(k, (const struct zt_strlist *)fp, why, n);
    case KT_BOOL:
    case KT_SECTION:
    case KT_LIST: return true;
    }
    return true;
}

/* ---------------------------------------------------------------------------
 * Lists of strings
 * ------------------------------------------------------------------------- */

static void strlist_free(struct zt_strlist *l)
{
    for (size_t i = 0; i < l->count; i++) zt_free(l->items[i]);
    zt_free(l->items);
    l->items = NULL;
    l->count = 0;
}

static int strlist_push(struct zt_strlist *l, size_t *cap, const char *s, size_t len)
{
    char **p = zt_array_grow(l->items, &*cap, l->count + 1, sizeof *p, 4);
    if (!p) return ZT_ENOMEM;
    l->items = p;
    char *d = zt_strndup(s, len);
    if (!d) return ZT_ENOMEM;
    l->items[l->count++] = d;
    return 0;
}

static bool strlist_has(const struct zt_strlist *l, const char *s, size_t len)
{
    for (size_t i = 0; i < l->count; i++)
        if (strlen(l->items[i]) == len && memcmp(l->items[i], s, len) == 0) return true;
    return false;
}

/* ---------------------------------------------------------------------------
 * Whole objects: defaults, deinit, deep copy (all walk the tables)
 * ------------------------------------------------------------------------- */

static void obj_deinit(const struct cfg_table *t, void *base)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct cfg_key *k = &t->keys[i];
        void *fp = field(base, k->off);
        switch (k->type) {
        case KT_STRING: {
            char **sp = fp;
            zt_free(*sp);
            *sp = NULL;
            break;
        }
        case KT_STRLIST: strlist_free(fp); break;
        case KT_SECTION: obj_deinit(k->sub, fp); break;
        case KT_LIST: {
            size_t count;
            char *arr = list_get(base, k, &count);
            for (size_t j = 0; arr && j < count; j++) obj_deinit(k->sub, arr + j * k->sub->size);
            zt_free(arr);
            list_put(base, k, NULL, 0);
            break;
        }
        case KT_BOOL:
        case KT_INT:
        case KT_DOUBLE: break;
        }
    }
}

/* base must be zeroed: after a failure it holds only owned pointers or NULL,
 * so obj_deinit() can clean it. */
static int obj_init(const struct cfg_table *t, void *base)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct cfg_key *k = &t->keys[i];
        void *fp = field(base, k->off);
        int rc = 0;
        switch (k->type) {
        case KT_BOOL: *(bool *)fp = k->def_bool; break;
        case KT_INT: *(int64_t *)fp = k->def_int; break;
        case KT_DOUBLE: *(double *)fp = k->def_double; break;
        case KT_STRING:
            *(char **)fp = zt_strdup(sv(k->def_str));
            if (!*(char **)fp) rc = ZT_ENOMEM;
            break;
        case KT_STRLIST: {
            size_t cap = 0;
            for (size_t j = 0; k->def_list && k->def_list[j] && !rc; j++)
                rc = strlist_push(fp, &cap, k->def_list[j], strlen(k->def_list[j]));
            break;
        }
        case KT_SECTION: rc = obj_init(k->sub, fp); break;
        case KT_LIST: break; /* every list defaults to empty */
        }
        if (rc) return rc;
    }
    return 0;
}

/* dst must be zeroed (see obj_init). */
static int obj_copy(const struct cfg_table *t, void *dst, const void *src)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct cfg_key *k = &t->keys[i];
        void *dp = field(dst, k->off);
        const void *sp = cfield(src, k->off);
        int rc = 0;
        switch (k->type) {
        case KT_BOOL: memcpy(dp, sp, sizeof(bool)); break;
        case KT_INT: memcpy(dp, sp, sizeof(int64_t)); break;
        case KT_DOUBLE: memcpy(dp, sp, sizeof(double)); break;
        case KT_STRING: {
            const char *s = *(char *const *)sp;
            if (s && !(*(char **)dp = zt_strdup(s))) rc = ZT_ENOMEM;
            break;
        }
        case KT_STRLIST: {
            const struct zt_strlist *sl = sp;
            struct zt_strlist *dl = dp;
            if (!sl->count) break;
            if (!(dl->items = zt_calloc(sl->count, sizeof *dl->items))) return ZT_ENOMEM;
            dl->count = sl->count;
            for (size_t j = 0; j < sl->count && !rc; j++)
                if (sl->items[j] && !(dl->items[j] = zt_strdup(sl->items[j]))) rc = ZT_ENOMEM;
            break;
        }
        case KT_SECTION: rc = obj_copy(k->sub, dp, sp); break;
        case KT_LIST: {
            size_t count;
            const char *sarr = list_get(src, k, &count);
            if (!count || !sarr) break;
            char *darr = zt_calloc(count, k->sub->size);
            if (!darr) return ZT_ENOMEM;
            list_put(dst, k, darr, count);
            for (size_t j = 0; j < count && !rc; j++)
                rc = obj_copy(k->sub, darr + j * k->sub->size, sarr + j * k->sub->size);
            break;
        }
        }
        if (rc) return rc;
    }
    return 0;
}

static void derive_roles(struct zt_config *cfg)
{
    unsigned mask = 0;
    for (size_t i = 0; i < cfg->node.roles.count; i++)
        for (unsigned r = 0; zt_role_names[r]; r++)
            if (zt_str_eq(cfg->node.roles.items[i], zt_role_names[r])) mask |= 1u << r;
    cfg->node.role_mask = mask;
}

static int config_copy(struct zt_config *dst, const struct zt_config *src)
{
    memset(dst, 0, sizeof *dst);
    int rc = obj_copy(&root_table, dst, src);
    if (!rc && src->dir && !(dst->dir = zt_strdup(src->dir))) rc = ZT_ENOMEM;
    if (rc) {
        zt_config_deinit(dst);
        return rc;
    }
    dst->node.role_mask = src->node.role_mask;
    return 0;
}

/* Replace *cfg by *tmp (which the caller no longer owns). */
static void config_commit(struct zt_config *cfg, struct zt_config *tmp)
{
    derive_roles(tmp);
    zt_config_deinit(cfg);
    *cfg = *tmp;
    memset(tmp, 0, sizeof *tmp);
}

/* ---------------------------------------------------------------------------
 * Converting text to typed values
 * ------------------------------------------------------------------------- */

#define CONV_BAD 1 /* the value is wrong; why says how */

struct value {
    bool b;
    int64_t i;
    double d;
    char *s;
    struct zt_strlist l;
};

static void *value_ptr(const struct cfg_key *k, struct value *v)
{
    switch (k->type) {
    case KT_BOOL: return &v->b;
    case KT_INT: return &v->i;
    case KT_DOUBLE: return &v->d;
    case KT_STRING: return &v->s;
    case KT_STRLIST: return &v->l;
    case KT_SECTION:
    case KT_LIST: break;
    }
    return NULL;
}

static void value_free(struct value *v)
{
    zt_free(v->s);
    v->s = NULL;
    strlist_free(&v->l);
}

/* Move v into the field of base described by k, freeing the old value. */
static void value_store(const struct cfg_key *k, void *base, struct value *v)
{
    void *fp = field(base, k->off);
    switch (k->type) {
    case KT_BOOL: *(bool *)fp = v->b; break;
    case KT_INT: *(int64_t *)fp = v->i; break;
    case KT_DOUBLE: *(double *)fp = v->d; break;
    case KT_STRING: {
        char **sp = fp;
        zt_free(*sp);
        *sp = v->s;
        v->s = NULL;
        break;
    }
    case KT_STRLIST: {
        struct zt_strlist *lp = fp;
        strlist_free(lp);
        *lp = v->l;
        v->l.items = NULL;
        v->l.count = 0;
        break;
    }
    case KT_SECTION:
    case KT_LIST: break;
    }
}

/* Integers are plain decimal: -?(0|[1-9][0-9]*). s[len] must be NUL. */
static int parse_int(const char *s, size_t len, int64_t *out, char *why, size_t n)
{
    char q[QUOTE_MAX * 4 + 16];
    size_t i = (len && s[0] == '-') ? 1 : 0;
    bool digits = i < len;
    for (size_t j = i; j < len; j++) digits = digits && zt_ascii_digit(s[j]);
    quote(q, sizeof q, s, len);
    if (!digits) {
        snprintf(why, n, "expected an integer; got %s", q);
        return CONV_BAD;
    }
    if (s[i] == '0' && len - i > 1) {
        snprintf(why, n, "leading zeros are not allowed (YAML 1.1 reads them as octal); got %s", q);
        return CONV_BAD;
    }
    int rc = zt_str_to_i64(s, out);
    if (rc) {
        snprintf(why, n, "%s; got %s", rc == ZT_ERANGE ? "is out of range" : "expected an integer",
                 q);
        return CONV_BAD;
    }
    return 0;
}

/* Numbers: decimal with optional fraction and exponent; no hex, inf or nan.
 * s[len] must be NUL. */
static int parse_double(const char *s, size_t len, double *out, char *why, size_t n)
{
    char q[QUOTE_MAX * 4 + 16];
    bool ok = false;
    for (size_t i = 0; i < len; i++) {
        if (zt_ascii_digit(s[i])) {
            ok = true;
        } else if (!strchr(".eE+-", s[i]) || s[i] == '\0') {
            ok = false;
            break;
        }
    }
    quote(q, sizeof q, s, len);
    int rc = ok ? zt_str_to_double(s, out) : ZT_EPARSE;
    if (rc) {
        snprintf(why, n, "%s; got %s", rc == ZT_ERANGE ? "is out of range" : "expected a number",
                 q);
        return CONV_BAD;
    }
    return 0;
}

static bool text_is(const char *s, size_t len, const char *const *words)
{
    return in_list(words, s, len);
}

static const char *const yaml_nulls[] = {"", "~", "null", "Null", "NULL", NULL};
static const char *const yaml_trues[] = {"true", "True", "TRUE", NULL};
static const char *const yaml_falses[] = {"false", "False", "FALSE", NULL};
static const char *const yaml11_bools[] = {"yes", "Yes", "YES", "no", "No", "NO", "on", "On",
                                           "ON", "off", "Off", "OFF", "y", "Y", "n", "N", NULL};

/* A YAML scalar event to k's type. Files follow the YAML 1.2 core schema:
 * booleans are true/false, null is ~/null/empty, numbers are plain (a quoted
 * "5" is a string, not an integer). */
static int convert_scalar(const struct cfg_key *k, const yaml_event_t *e, struct value *v,
                          char *why, size_t n)
{
    const char *s = (const char *)e->data.scalar.value;
    size_t len = e->data.scalar.length;
    bool plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    bool null = plain && text_is(s, len, yaml_nulls);
    char q[QUOTE_MAX * 4 + 16];
    quote(q, sizeof q, s, len);
    switch (k->type) {
    case KT_STRING:
        if (null) len = 0;
        if (memchr(s, '\0', len)) {
            snprintf(why, n, "NUL characters are not allowed");
            return CONV_BAD;
        }
        v->s = zt_strndup(s, len);
        return v->s ? 0 : ZT_ENOMEM;
    case KT_BOOL:
        if (plain && text_is(s, len, yaml_trues)) {
            v->b = true;
            return 0;
        }
        if (plain && text_is(s, len, yaml_falses)) {
            v->b = false;
            return 0;
        }
        if (null)
            snprintf(why, n, "expected true or false; got null");
        else if (!plain)
            snprintf(why, n, "expected true or false; got the quoted string %s", q);
        else if (text_is(s, len, yaml11_bools))
            snprintf(why, n, "expected true or false; got %s (YAML 1.1 booleans are not accepted)",
                     q);
        else
            snprintf(why, n, "expected true or false; got %s", q);
        return CONV_BAD;
    case KT_INT:
    case KT_DOUBLE:
        if (null || !plain) {
            snprintf(why, n, "expected %s; got %s%s", k->type == KT_INT ? "an integer" : "a number",
                     null ? "null" : "the quoted string ", null ? "" : q);
            return CONV_BAD;
        }
        return k->type == KT_INT ? parse_int(s, len, &v->i, why, n)
                                 : parse_double(s, len, &v->d, why, n);
    case KT_STRLIST:
    case KT_SECTION:
    case KT_LIST: break;
    }
    snprintf(why, n, "unexpected scalar");
    return CONV_BAD;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

/* Text from the environment or a command-line flag to k's type. Booleans
 * also take yes/no/on/off/1/0 here (shell habits); lists are comma-separated
 * with blanks around entries ignored. */
static int convert_text(const struct cfg_key *k, const char *s, struct value *v, char *why,
                        size_t n)
{
    size_t len = strlen(s);
    char q[QUOTE_MAX * 4 + 16];
    switch (k->type) {
    case KT_STRING:
        v->s = zt_strndup(s, len);
        return v->s ? 0 : ZT_ENOMEM;
    case KT_BOOL:
        if (zt_str_to_bool(s, &v->b) == 0) return 0;
        quote(q, sizeof q, s, len);
        snprintf(why, n, "expected a boolean (true/false, yes/no, on/off, 1/0); got %s", q);
        return CONV_BAD;
    case KT_INT: return parse_int(s, len, &v->i, why, n);
    case KT_DOUBLE: return parse_double(s, len, &v->d, why, n);
    case KT_STRLIST: {
        size_t cap = 0;
        const char *p = s;
        while (*p && is_space(*p)) p++;
        if (!*p) return 0; /* "" is the empty list */
        for (;;) {
            const char *end = strchr(p, ',');
            const char *stop = end ? end : p + strlen(p);
            while (p < stop && is_space(*p)) p++;
            const char *e = stop;
            while (e > p && is_space(e[-1])) e--;
            if (v->l.count >= (size_t)k->max) {
                snprintf(why, n, "too many entries (at most %" PRId64 ")", k->max);
                return CONV_BAD;
            }
            if (strlist_push(&v->l, &cap, p, (size_t)(e - p))) return ZT_ENOMEM;
            if (!end) break;
            p = end + 1;
        }
        return 0;
    }
    case KT_SECTION:
    case KT_LIST: break;
    }
    snprintf(why, n, "cannot be set from text");
    return CONV_BAD;
}

/* ---------------------------------------------------------------------------
 * YAML files
 * ------------------------------------------------------------------------- */

struct parse {
    yaml_parser_t y;
    yaml_event_t ev;  /* the current event */
    bool have_ev;
    const char *name; /* file name in messages */
    const char *kind; /* file kind: decides which sections may appear */
    bool all_sections;
    const char *text;
    size_t len;
    struct report *rep;
    char path[PATH_LEN]; /* dotted path of the node being read */
    size_t path_len;
};

static size_t path_push_key(struct parse *p, const char *name)
{
    size_t old = p->path_len;
    int w = snprintf(p->path + old, sizeof p->path - old, "%s%s", old ? "." : "", name);
    if (w < 0 || (size_t)w >= sizeof p->path - old)
        p->path_len = sizeof p->path - 1; /* cut; messages stay readable */
    else
        p->path_len = old + (size_t)w;
    return old;
}

static size_t path_push_index(struct parse *p, size_t i)
{
    size_t old = p->path_len;
    int w = snprintf(p->path + old, sizeof p->path - old, "[%zu]", i);
    if (w < 0 || (size_t)w >= sizeof p->path - old)
        p->path_len = sizeof p->path - 1;
    else
        p->path_len = old + (size_t)w;
    return old;
}

static void path_pop(struct parse *p, size_t old)
{
    p->path_len = old;
    p->path[old] = '\0';
}

static void perr(struct parse *p, yaml_mark_t m, const char *fmt, ...) ZT_PRINTF(3, 4);
static void perr(struct parse *p, yaml_mark_t m, const char *fmt, ...)
{
    char why[WHY_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    /* libyaml marks are 0-based; editors count from 1. */
    report_at(p->rep, p->name, m.line + 1, m.column + 1, p->path, why);
}

/* 1-based line and column (in characters) of a byte offset. */
static void offset_pos(const char *text, size_t len, size_t off, size_t *line, size_t *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            (*line)++;
            *col = 1;
        } else if ((c & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static void yaml_error(struct parse *p)
{
    const yaml_parser_t *y = &p->y;
    char why[WHY_LEN];
    size_t line, col;
    if (y->error == YAML_MEMORY_ERROR) return; /* reported as ZT_ENOMEM */
    if (y->error == YAML_READER_ERROR) {
        offset_pos(p->text, p->len, y->problem_offset, &line, &col);
    } else {
        line = y->problem_mark.line + 1;
        col = y->problem_mark.column + 1;
    }
    if (y->context)
        snprintf(why, sizeof why, "YAML syntax error: %s (%s at %zu:%zu)", sv(y->problem),
                 y->context, y->context_mark.line + 1, y->context_mark.column + 1);
    else
        snprintf(why, sizeof why, "YAML syntax error: %s", sv(y->problem));
    report_at(p->rep, p->name, line, col, NULL, why);
}

/* Advance to the next event. Returns 0, ZT_EPARSE (syntax error, reported:
 * reading stops) or ZT_ENOMEM. */
static int next(struct parse *p)
{
    if (p->have_ev) {
        yaml_event_delete(&p->ev);
        p->have_ev = false;
    }
    if (!yaml_parser_parse(&p->y, &p->ev)) {
        yaml_error(p);
        return p->y.error == YAML_MEMORY_ERROR ? ZT_ENOMEM : ZT_EPARSE;
    }
    p->have_ev = true;
    if (p->ev.type == YAML_NO_EVENT) { /* only after the end of the stream */
        perr(p, p->ev.start_mark, "unexpected end of input");
        return ZT_EPARSE;
    }
    return 0;
}

/* Anchors, aliases and tags are refused wherever they appear in a value we
 * read: aliases can expand exponentially ("billion laughs") and tags would
 * let a file change how a value is typed. Reports and returns false. */
static bool props_ok(struct parse *p)
{
    const yaml_event_t *e = &p->ev;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    switch (e->type) {
    case YAML_ALIAS_EVENT:
        perr(p, e->start_mark, "aliases are not allowed (write the value out)");
        return false;
    case YAML_SCALAR_EVENT:
        anchor = e->data.scalar.anchor;
        tag = e->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = e->data.sequence_start.anchor;
        tag = e->data.sequence_start.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = e->data.mapping_start.anchor;
        tag = e->data.mapping_start.tag;
        break;
    default: return true;
    }
    if (anchor) {
        perr(p, e->start_mark, "anchors are not allowed");
        return false;
    }
    if (tag) {
        perr(p, e->start_mark, "tags are not allowed");
        return false;
    }
    return true;
}

/* Consume the node starting at the current event, however deep, without
 * recursion. */
static int skip_node(struct parse *p)
{
    size_t depth = 0;
    for (;;) {
        switch (p->ev.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: depth++; break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (depth) depth--;
            break;
        default: break;
        }
        int rc = next(p);
        if (rc || depth == 0) return rc;
    }
}

static bool is_null_event(const yaml_event_t *e)
{
    return e->type == YAML_SCALAR_EVENT && e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
           !e->data.scalar.anchor && !e->data.scalar.tag &&
           text_is((const char *)e->data.scalar.value, e->data.scalar.length, yaml_nulls);
}

static const char *type_name(const struct cfg_key *k)
{
    switch (k->type) {
    case KT_BOOL: return "true or false";
    case KT_INT: return "an integer";
    case KT_DOUBLE: return "a number";
    case KT_STRING: return "a string";
    case KT_STRLIST: return "a list of strings";
    case KT_SECTION: return "a mapping";
    case KT_LIST: return "a list of mappings";
    }
    return "a value";
}

/* Report that the current node has the wrong shape for k, and skip it. */
static int type_error(struct parse *p, const struct cfg_key *k)
{
    const yaml_event_t *e = &p->ev;
    char got[QUOTE_MAX * 4 + 32];
    switch (e->type) {
    case YAML_SCALAR_EVENT:
        if (is_null_event(e))
            snprintf(got, sizeof got, "null");
        else if (k->flags & KEY_SECRET)
            snprintf(got, sizeof got, "a string");
        else
            quote(got, sizeof got, (const char *)e->data.scalar.value, e->data.scalar.length);
        break;
    case YAML_SEQUENCE_START_EVENT: snprintf(got, sizeof got, "a list"); break;
    case YAML_MAPPING_START_EVENT: snprintf(got, sizeof got, "a mapping"); break;
    default: snprintf(got, sizeof got, "something else"); break;
    }
    perr(p, e->start_mark, "expected %s; got %s", type_name(k), got);
    return skip_node(p);
}

static int parse_scalar(struct parse *p, const struct cfg_key *k, void *base)
{
    if (!props_ok(p)) return skip_node(p);
    if (p->ev.type != YAML_SCALAR_EVENT) return type_error(p, k);
    struct value v = {0};
    char why[WHY_LEN];
    int rc = convert_scalar(k, &p->ev, &v, why, sizeof why);
    if (rc == ZT_ENOMEM) return rc;
    if (rc == 0 && !check_field(k, value_ptr(k, &v), why, sizeof why)) rc = CONV_BAD;
    if (rc == CONV_BAD) {
        perr(p, p->ev.start_mark, "%s", why);
        value_free(&v);
    } else {
        value_store(k, base, &v);
    }
    return next(p);
}

/* A list of strings replaces the old list whole, and only when every entry
 * is good; each bad entry is reported at its own position. */
static int parse_strlist(struct parse *p, const struct cfg_key *k, void *base)
{
    if (!props_ok(p)) return skip_node(p);
    if (p->ev.type != YAML_SEQUENCE_START_EVENT) return type_error(p, k);
    yaml_mark_t start = p->ev.start_mark;
    unsigned errors_before = p->rep->n;
    struct zt_strlist l = {0};
    size_t cap = 0, i = 0;
    bool too_many = false;
    int rc = next(p);
    while (!rc && p->ev.type != YAML_SEQUENCE_END_EVENT) {
        size_t idx = i++;
        size_t mark = path_push_index(p, idx);
        char why[WHY_LEN];
        if (idx >= (size_t)k->max || too_many) {
            if (!too_many) perr(p, p->ev.start_mark, "too many entries (at most %" PRId64 ")", k->max);
            too_many = true;
            rc = skip_node(p);
        } else if (!props_ok(p)) {
            rc = skip_node(p);
        } else if (p->ev.type != YAML_SCALAR_EVENT) {
            perr(p, p->ev.start_mark, "expected a string; got a %s",
                 p->ev.type == YAML_MAPPING_START_EVENT ? "mapping" : "list");
            rc = skip_node(p);
        } else {
            const char *s = (const char *)p->ev.data.scalar.value;
            size_t len = p->ev.data.scalar.length;
            if (is_null_event(&p->ev)) len = 0;
            if (!check_string(k, s, len, true, why, sizeof why)) {
                perr(p, p->ev.start_mark, "%s", why);
            } else if ((k->flags & KEY_UNIQUE) && strlist_has(&l, s, len)) {
                char q[QUOTE_MAX * 4 + 16];
                quote(q, sizeof q, s, len);
                perr(p, p->ev.start_mark, "duplicate entry %s", q);
            } else {
                rc = strlist_push(&l, &cap, s, len);
            }
            if (!rc) rc = next(p);
        }
        path_pop(p, mark);
    }
    if (!rc && l.count == 0 && (k->flags & KEY_NONEMPTY) && p->rep->n == errors_before)
        perr(p, start, "must list at least one entry");
    if (!rc && p->rep->n == errors_before) {
        struct value v = {.l = l};
        value_store(k, base, &v);
        l.items = NULL;
        l.count = 0;
    }
    strlist_free(&l);
    return rc ? rc : next(p);
}

static int parse_mapping(struct parse *p, const struct cfg_table *t, void *base, bool root);

/* A LIST (models) replaces the old list whole, and only when every entry is
 * good. */
static int parse_list(struct parse *p, const struct cfg_key *k, void *base)
{
    if (!props_ok(p)) return skip_node(p);
    if (p->ev.type != YAML_SEQUENCE_START_EVENT) return type_error(p, k);
    const struct cfg_table *sub = k->sub;
    unsigned errors_before = p->rep->n;
    char *arr = NULL;
    size_t n = 0, cap = 0, i = 0;
    bool too_many = false;
    int rc = next(p);
    while (!rc && p->ev.type != YAML_SEQUENCE_END_EVENT) {
        size_t idx = i++;
        size_t mark = path_push_index(p, idx);
        if (idx >= (size_t)k->max || too_many) {
            if (!too_many) perr(p, p->ev.start_mark, "too many entries (at most %" PRId64 ")", k->max);
            too_many = true;
            rc = skip_node(p);
        } else if (!props_ok(p)) {
            rc = skip_node(p);
        } else if (p->ev.type != YAML_MAPPING_START_EVENT) {
            char got[QUOTE_MAX * 4 + 16];
            if (p->ev.type == YAML_SCALAR_EVENT)
                quote(got, sizeof got, (const char *)p->ev.data.scalar.value,
                      p->ev.data.scalar.length);
            else
                snprintf(got, sizeof got, "a list");
            perr(p, p->ev.start_mark, "expected a mapping; got %s", got);
            rc = skip_node(p);
        } else {
            char *na = zt_array_grow(arr, &cap, n + 1, sub->size, 4);
            if (!na) {
                rc = ZT_ENOMEM;
                path_pop(p, mark);
                break;
            }
            arr = na;
            char *elem = arr + n * sub->size;
            memset(elem, 0, sub->size);
            n++; /* counted now so the cleanup below frees a half-made entry */
            yaml_mark_t start = p->ev.start_mark;
            unsigned before = p->rep->n;
            rc = obj_init(sub, elem);
            if (!rc) rc = parse_mapping(p, sub, elem, false);
            if (!rc && p->rep->n == before) {
                /* Rules across keys and entries, checked on complete entries only. */
                const char *key = NULL;
                const char *problem = sub->check ? sub->check(elem, &key) : NULL;
                if (problem) {
                    size_t m2 = key ? path_push_key(p, key) : p->path_len;
                    perr(p, start, "%s", problem);
                    path_pop(p, m2);
                }
                for (size_t u = 0; u < sub->n; u++) {
                    const struct cfg_key *uk = &sub->keys[u];
                    if (!(uk->flags & KEY_UNIQUE) || uk->type != KT_STRING) continue;
                    const char *val = sv(*(char *const *)cfield(elem, uk->off));
                    for (size_t j = 0; j + 1 < n; j++) {
                        const char *other = sv(*(char *const *)cfield(arr + j * sub->size, uk->off));
                        if (strcmp(val, other) != 0) continue;
                        char q[QUOTE_MAX * 4 + 16];
                        quote(q, sizeof q, val, strlen(val));
                        size_t m2 = path_push_key(p, uk->name);
                        perr(p, start, "duplicate %s %s (also used by %s[%zu])", uk->name, q,
                             k->name, j);
                        path_pop(p, m2);
                        break;
                    }
                }
            }
        }
        path_pop(p, mark);
    }
    if (!rc && p->rep->n == errors_before) {
        /* Swap in the new list; the old one is freed below. */
        size_t old_n;
        char *old = list_get(base, k, &old_n);
        list_put(base, k, n ? arr : NULL, n);
        if (!n) zt_free(arr);
        arr = old;
        n = old_n;
    }
    for (size_t j = 0; arr && j < n; j++) obj_deinit(sub, arr + j * sub->size);
    zt_free(arr);
    return rc ? rc : next(p);
}

static int parse_value(struct parse *p, const struct cfg_key *k, void *base)
{
    switch (k->type) {
    case KT_SECTION:
        if (!props_ok(p)) return skip_node(p);
        if (p->ev.type == YAML_MAPPING_START_EVENT)
            return parse_mapping(p, k->sub, field(base, k->off), false);
        /* "server:" with every key commented out: nothing to change. */
        if (is_null_event(&p->ev)) return next(p);
        return type_error(p, k);
    case KT_LIST: return parse_list(p, k, base);
    case KT_STRLIST: return parse_strlist(p, k, base);
    case KT_BOOL:
    case KT_INT:
    case KT_DOUBLE:
    case KT_STRING: return parse_scalar(p, k, base);
    }
    return skip_node(p);
}

/* A key name for a message: printable ASCII, the rest as '?', cut short. */
static void key_text(char *out, size_t n, const char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 4 < n && i < QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
    }
    if ((len > QUOTE_MAX || o + 4 >= n) && o + 4 < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    if (o == 0 && n > 2) snprintf(out, n, "\"\"");
}

static void known_keys(char *out, size_t n, const struct cfg_table *t, const char *file)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < t->n; i++) {
        if (file && !zt_str_eq(t->keys[i].file, file)) continue;
        int w = snprintf(out + o, n - o, "%s%s", o ? ", " : "", t->keys[i].name);
        if (w < 0 || (size_t)w >= n - o) return;
        o += (size_t)w;
    }
}

static void unknown_key(struct parse *p, yaml_mark_t m, const struct cfg_table *t, bool root)
{
    char known[300];
    if (root && !p->all_sections) {
        known_keys(known, sizeof known, t, p->kind);
        perr(p, m, "unknown section (%s holds %s)", p->kind, known);
    } else {
        known_keys(known, sizeof known, t, NULL);
        perr(p, m, "unknown %s (known: %s)", root ? "section" : "key", known);
    }
}

static int parse_mapping(struct parse *p, const struct cfg_table *t, void *base, bool root)
{
    yaml_mark_t start = p->ev.start_mark;
    uint64_t seen = 0;
    int rc = next(p);
    while (!rc && p->ev.type != YAML_MAPPING_END_EVENT) {
        /* The key. */
        bool ok = props_ok(p);
        if (ok && p->ev.type != YAML_SCALAR_EVENT) {
            perr(p, p->ev.start_mark, "mapping keys must be plain strings");
            ok = false;
        }
        if (!ok) {
            rc = skip_node(p); /* the key */
            if (!rc) rc = skip_node(p); /* its value */
            continue;
        }
        const char *name = (const char *)p->ev.data.scalar.value;
        size_t name_len = p->ev.data.scalar.length;
        yaml_mark_t key_mark = p->ev.start_mark;
        const struct cfg_key *k = find_key(t, name, name_len);
        char shown_name[QUOTE_MAX + 8];
        key_text(shown_name, sizeof shown_name, name, name_len);
        rc = next(p); /* to the value; name is gone now */
        if (rc) break;
        size_t mark = path_push_key(p, k ? k->name : shown_name);
        if (!k) {
            unknown_key(p, key_mark, t, root);
            rc = skip_node(p);
        } else if (root && !p->all_sections && !zt_str_eq(k->file, p->kind)) {
            perr(p, key_mark, "this section belongs in %s, not %s", k->file, p->kind);
            rc = skip_node(p);
        } else if (seen & (UINT64_C(1) << (unsigned)(k - t->keys))) {
            perr(p, key_mark, "duplicate key");
            rc = skip_node(p);
        } else {
            seen |= UINT64_C(1) << (unsigned)(k - t->keys);
            rc = parse_value(p, k, base);
        }
        path_pop(p, mark);
    }
    if (rc) return rc;
    for (size_t i = 0; i < t->n; i++) {
        if (!(t->keys[i].flags & KEY_REQUIRED) || (seen & (UINT64_C(1) << i))) continue;
        size_t mark = path_push_key(p, t->keys[i].name);
        perr(p, start, "required key is missing");
        path_pop(p, mark);
    }
    return next(p);
}

static int parse_stream(struct parse *p, struct zt_config *cfg)
{
    int rc = next(p); /* STREAM-START */
    if (!rc) rc = next(p);
    if (rc) return rc;
    if (p->ev.type == YAML_STREAM_END_EVENT) return 0; /* an empty file changes nothing */
    if (p->ev.type != YAML_DOCUMENT_START_EVENT) {
        perr(p, p->ev.start_mark, "expected a YAML document");
        return ZT_EPARSE;
    }
    rc = next(p);
    if (rc) return rc;
    if (!props_ok(p)) {
        rc = skip_node(p);
    } else if (p->ev.type == YAML_MAPPING_START_EVENT) {
        rc = parse_mapping(p, &root_table, cfg, true);
    } else if (is_null_event(&p->ev)) {
        rc = next(p); /* only comments: nothing to change */
    } else {
        perr(p, p->ev.start_mark, "the top level must be a mapping of sections");
        rc = skip_node(p);
    }
    if (!rc) rc = next(p); /* past DOCUMENT-END */
    if (rc) return rc;
    if (p->ev.type == YAML_DOCUMENT_START_EVENT) {
        perr(p, p->ev.start_mark, "only one YAML document is allowed per file");
        return ZT_EPARSE;
    }
    return 0;
}

/* Refuse what libyaml's reader would refuse, but say where (libyaml gives
 * only a byte offset) and in words a user understands. */
static bool scan_text(struct report *rep, const char *name, const char *text, size_t len)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        size_t w = utf8_decode(s + i, len - i, &cp);
        char why[96];
        if (s[i] == 0) {
            report_at(rep, name, line, col, NULL, "NUL bytes are not allowed");
            return false;
        }
        if (!w) {
            snprintf(why, sizeof why, "invalid UTF-8 (byte 0x%02X)", s[i]);
            report_at(rep, name, line, col, NULL, why);
            return false;
        }
        /* The characters YAML 1.1 allows in a stream (libyaml's reader). */
        bool printable = cp == 0x09 || cp == 0x0A || cp == 0x0D || (cp >= 0x20 && cp <= 0x7E) ||
                         cp == 0x85 || (cp >= 0xA0 && cp <= 0xD7FF) ||
                         (cp >= 0xE000 && cp <= 0xFFFD) || cp >= 0x10000;
        if (!printable) {
            snprintf(why, sizeof why, "control character U+%04" PRIX32 " is not allowed", cp);
            report_at(rep, name, line, col, NULL, why);
            return false;
        }
        if (cp == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
        i += w;
    }
    return true;
}

/* Parse one file's text into cfg. Problems go to rep; returns 0 or
 * ZT_ENOMEM. cfg may be half-updated after problems: callers parse into a
 * copy. */
static int parse_text(struct zt_config *cfg, const char *kind, const char *name, const char *text,
                      size_t len, struct report *rep)
{
    if (len > ZT_CFG_MAX_FILE_BYTES) {
        char why[96];
        snprintf(why, sizeof why, "file is too large (%zu bytes; at most %d)", len,
                 ZT_CFG_MAX_FILE_BYTES);
        report_at(rep, name, 1, 1, NULL, why);
        return 0;
    }
    if (!text) text = "";
    if (!scan_text(rep, name, text, len)) return 0;

    struct parse p;
    memset(&p, 0, sizeof p);
    if (!yaml_parser_initialize(&p.y)) return ZT_ENOMEM;
    p.name = name;
    p.kind = kind;
    p.all_sections = zt_str_eq(kind, EXAMPLE_KIND);
    p.text = text;
    p.len = len;
    p.rep = rep;
    yaml_parser_set_input_string(&p.y, (const unsigned char *)text, len);
    /* Never guess UTF-16 from a BOM: config files are UTF-8. */
    yaml_parser_set_encoding(&p.y, YAML_UTF8_ENCODING);
    int rc = parse_stream(&p, cfg);
    if (p.have_ev) yaml_event_delete(&p.ev);
    yaml_parser_delete(&p.y);
    return rc == ZT_ENOMEM ? rc : 0; /* ZT_EPARSE was reported */
}

static bool kind_known(const char *kind)
{
    if (zt_str_eq(kind, EXAMPLE_KIND)) return true;
    for (size_t i = 0; i < ARRAY_LEN(file_kinds); i++)
        if (zt_str_eq(kind, file_kinds[i])) return true;
    return false;
}

/* Read a whole regular file of at most ZT_CFG_MAX_FILE_BYTES (without
 * blocking: a FIFO named config.yaml must not hang start-up). Returns 0,
 * ZT_ENOTFOUND (no such file: not reported), ZT_EIO or ZT_ETOOBIG (both
 * reported) or ZT_ENOMEM. */
static int read_file(const char *path, char **out, size_t *len_out, struct report *rep)
{
    char why[256];
    int rc = zt_file_read_regular(path, ZT_CFG_MAX_FILE_BYTES, out, len_out);
    switch (rc) {
    case 0:
    case ZT_ENOTFOUND:
    case ZT_ENOMEM:
        return rc;
    case ZT_EINVAL:
        report_add(rep, false, path, NULL, "not a regular file");
        return ZT_EIO;
    case ZT_ETOOBIG:
        snprintf(why, sizeof why, "file is too large (more than %d bytes)", ZT_CFG_MAX_FILE_BYTES);
        report_add(rep, false, path, NULL, why);
        return ZT_ETOOBIG;
    default:
        snprintf(why, sizeof why, "cannot read: %s", strerror(errno));
        report_add(rep, false, path, NULL, why);
        return ZT_EIO;
    }
}

/* *.yaml files in dir that are none of ours: probably a typo. */
static void warn_unknown_files(const char *dir, struct report *rep)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        if (n[0] == '.' || !(zt_str_ends_with(n, ".yaml") || zt_str_ends_with(n, ".yml"))) continue;
        if (kind_known(n)) continue;
        char where[PATH_LEN * 2];
        char shown_name[QUOTE_MAX + 8];
        key_text(shown_name, sizeof shown_name, n, strlen(n));
        snprintf(where, sizeof where, "%s/%s", dir, shown_name);
        report_add(rep, true, where, NULL, "not a zentalk configuration file; ignored");
    }
    closedir(d);
}

/* ---------------------------------------------------------------------------
 * Public: lifecycle and loading
 * ------------------------------------------------------------------------- */

int zt_config_init_defaults(struct zt_config *cfg)
{
    struct zt_config tmp;
    if (!cfg) return ZT_EINVAL;
    memset(&tmp, 0, sizeof tmp);
    int rc = obj_init(&root_table, &tmp);
    if (rc) {
        zt_config_deinit(&tmp);
        return rc;
    }
    derive_roles(&tmp);
    *cfg = tmp;
    return 0;
}

void zt_config_deinit(struct zt_config *cfg)
{
    if (!cfg) return;
    obj_deinit(&root_table, cfg);
    zt_free(cfg->dir);
    memset(cfg, 0, sizeof *cfg);
}

int zt_config_load_string(struct zt_config *cfg, const char *file_kind, const char *name,
                          const char *yaml, size_t len, struct zt_buf *errs)
{
    struct report rep = {errs, 0, 0};
    struct zt_config tmp;
    if (!cfg || !file_kind || (!yaml && len)) return ZT_EINVAL;
    if (!name) name = file_kind;
    if (!kind_known(file_kind)) {
        report_add(&rep, false, name, NULL, "unknown configuration file kind");
        return rep.rc ? rep.rc : ZT_EINVAL;
    }
    int rc = config_copy(&tmp, cfg);
    if (rc) return rc;
    rc = finish(parse_text(&tmp, file_kind, name, yaml, len, &rep), &rep);
    if (rc) {
        zt_config_deinit(&tmp);
        return rc;
    }
    config_commit(cfg, &tmp);
    return 0;
}

int zt_config_load_dir(struct zt_config *cfg, const char *dir, struct zt_buf *errs)
{
    struct report rep = {errs, 0, 0};
    struct zt_config tmp;
    struct zt_buf path;
    struct stat st;
    bool io_error = false;
    int rc;
    if (!cfg || !dir) return ZT_EINVAL;
    if (stat(dir, &st) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) return ZT_ENOTFOUND; /* the caller says so */
        char why[256];
        snprintf(why, sizeof why, "cannot access the configuration directory: %s", strerror(errno));
        report_add(&rep, false, dir, NULL, why);
        return rep.rc ? rep.rc : ZT_EIO;
    }
    if (!S_ISDIR(st.st_mode)) {
        report_add(&rep, false, dir, NULL, "not a directory");
        return rep.rc ? rep.rc : ZT_ENOTFOUND;
    }
    rc = config_copy(&tmp, cfg);
    if (rc) return rc;
    zt_buf_init(&path, 65536);
    for (size_t i = 0; i < ARRAY_LEN(file_kinds) && !rc; i++) {
        char *data = NULL;
        size_t len = 0;
        zt_buf_reset(&path);
        rc = zt_buf_appendf(&path, "%s/%s", dir, file_kinds[i]);
        if (rc) break;
        rc = read_file(zt_buf_str(&path), &data, &len, &rep);
        if (rc == ZT_ENOTFOUND || rc == ZT_ETOOBIG) { /* missing: defaults; too big: reported */
            rc = 0;
            continue;
        }
        if (rc == ZT_EIO) {
            io_error = true;
            rc = 0;
            continue;
        }
        if (rc) break;
        rc = parse_text(&tmp, file_kinds[i], zt_buf_str(&path), data, len, &rep);
        zt_free(data);
    }
    zt_buf_deinit(&path);
    if (!rc) warn_unknown_files(dir, &rep);
    if (!rc) {
        zt_free(tmp.dir);
        if (!(tmp.dir = zt_strdup(dir))) rc = ZT_ENOMEM;
    }
    rc = finish(rc, &rep);
    if (rc != ZT_ENOMEM && io_error) rc = ZT_EIO;
    if (rc) {
        zt_config_deinit(&tmp);
        return rc;
    }
    config_commit(cfg, &tmp);
    return 0;
}

/* ---------------------------------------------------------------------------
 * Leaves by dotted path: environment, zt_config_set, validate, describe
 * ------------------------------------------------------------------------- */

struct leaf {
    const struct cfg_key *k;
    size_t sec_off; /* offset of the struct holding the field, from struct zt_config */
    char path[PATH_LEN];
    char env[PATH_LEN + 8];
};

/* Called for every key that is not a SECTION (KT_LIST included); a nonzero
 * return stops the walk and is returned. */
typedef int (*leaf_fn)(const struct leaf *lf, void *ctx);

static int walk(const struct cfg_table *t, size_t sec_off, const char *prefix, leaf_fn fn,
                void *ctx)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct cfg_key *k = &t->keys[i];
        struct leaf lf;
        lf.k = k;
        lf.sec_off = sec_off;
        snprintf(lf.path, sizeof lf.path, "%s%s%s", prefix, prefix[0] ? "." : "", k->name);
        if (k->type == KT_SECTION) {
            int rc = walk(k->sub, sec_off + k->off, lf.path, fn, ctx);
            if (rc) return rc;
            continue;
        }
        /* ZENTALK_ + the dotted path upper-cased, '.' -> '_'. */
        size_t o = (size_t)snprintf(lf.env, sizeof lf.env, "ZENTALK_");
        for (const char *c = lf.path; *c && o + 1 < sizeof lf.env; c++)
            lf.env[o++] = *c == '.' ? '_' : (*c >= 'a' && *c <= 'z') ? (char)(*c - 'a' + 'A') : *c;
        lf.env[o] = '\0';
        int rc = fn(&lf, ctx);
        if (rc) return rc;
    }
    return 0;
}

struct find_ctx {
    const char *name;
    size_t len;
    bool by_env;
    struct leaf found;
};

static int find_leaf_cb(const struct leaf *lf, void *vctx)
{
    struct find_ctx *c = vctx;
    const char *s = c->by_env ? lf->env : lf->path;
    if (strlen(s) != c->len || memcmp(s, c->name, c->len) != 0) return 0;
    c->found = *lf;
    return 1;
}

static bool find_leaf(const char *name, size_t len, bool by_env, struct leaf *out)
{
    struct find_ctx c = {.name = name, .len = len, .by_env = by_env};
    if (walk(&root_table, 0, "", find_leaf_cb, &c) != 1) return false;
    *out = c.found;
    return true;
}

/* Set one leaf from text; problems are reported as "where: path: why". */
static int set_leaf_text(struct zt_config *cfg, const struct leaf *lf, const char *text,
                         const char *where, struct report *rep)
{
    const struct cfg_key *k = lf->k;
    struct value v = {0};
    char why[WHY_LEN];
    if (k->type == KT_LIST) {
        report_add(rep, false, where, lf->path, "cannot be set from text; use models.yaml");
        return 0;
    }
    int rc = convert_text(k, text, &v, why, sizeof why);
    if (rc == ZT_ENOMEM) {
        value_free(&v);
        return rc;
    }
    if (rc == 0 && !check_field(k, value_ptr(k, &v), why, sizeof why)) rc = CONV_BAD;
    if (rc == CONV_BAD) {
        value_free(&v);
        report_add(rep, false, where, lf->path, why);
        return 0;
    }
    value_store(k, field(cfg, lf->sec_off), &v);
    return 0;
}

struct env_ctx {
    struct zt_config *cfg;
    char *const *envp;
    struct report *rep;
};

static const char *env_lookup(char *const *envp, const char *name)
{
    size_t n = strlen(name);
    for (; *envp; envp++)
        if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=') return *envp + n + 1;
    return NULL;
}

static int env_apply_cb(const struct leaf *lf, void *vctx)
{
    struct env_ctx *c = vctx;
    if (lf->k->type == KT_LIST) return 0; /* reported by env_warn_unknown */
    const char *val = env_lookup(c->envp, lf->env);
    if (!val) return 0;
    char where[sizeof lf->env + 16];
    snprintf(where, sizeof where, "environment %s", lf->env);
    return set_leaf_text(c->cfg, lf, val, where, c->rep);
}

static void env_warn_unknown(const struct zt_config *cfg, char *const *envp, struct report *rep)
{
    for (; *envp; envp++) {
        const char *e = *envp;
        if (strncmp(e, "ZENTALK_", 8) != 0) continue;
        size_t len = strcspn(e, "=");
        struct leaf lf;
        char name[QUOTE_MAX + 8], where[QUOTE_MAX + 32];
        bool known = find_leaf(e, len, true, &lf);
        if (known && lf.k->type != KT_LIST) continue;
        bool reserved = false;
        for (size_t i = 0; env_reserved[i]; i++)
            reserved = reserved || (strlen(env_reserved[i]) == len && !memcmp(e, env_reserved[i], len));
        const char *pass = sv(cfg->encryption.passphrase_env);
        if (reserved || (pass[0] && strlen(pass) == len && !memcmp(e, pass, len))) continue;
        key_text(name, sizeof name, e, len);
        snprintf(where, sizeof where, "environment %s", name);
        report_add(rep, true, where, NULL,
                   known ? "models cannot be set from the environment (use models.yaml); ignored"
                         : "unknown variable; ignored (see .env.example)");
    }
}

int zt_config_apply_env(struct zt_config *cfg, char *const *envp, struct zt_buf *errs)
{
    struct report rep = {errs, 0, 0};
    struct zt_config tmp;
    if (!cfg) return ZT_EINVAL;
    if (!envp) return 0;
    int rc = config_copy(&tmp, cfg);
    if (rc) return rc;
    struct env_ctx c = {&tmp, envp, &rep};
    rc = walk(&root_table, 0, "", env_apply_cb, &c);
    if (!rc) env_warn_unknown(&tmp, envp, &rep);
    rc = finish(rc, &rep);
    if (rc) {
        zt_config_deinit(&tmp);
        return rc;
    }
    config_commit(cfg, &tmp);
    return 0;
}

/* Is path a section ("server", "features.spam")? */
static bool is_section_path(const char *path)
{
    const struct cfg_table *t = &root_table;
    const char *p = path;
    for (;;) {
        size_t len = strcspn(p, ".");
        const struct cfg_key *k = find_key(t, p, len);
        if (!k || k->type != KT_SECTION) return false;
        if (!p[len]) return true;
        t = k->sub;
        p += len + 1;
    }
}

int zt_config_set(struct zt_config *cfg, const char *path, const char *value, const char *origin,
                  struct zt_buf *errs)
{
    struct report rep = {errs, 0, 0};
    struct leaf lf;
    if (!cfg || !path || !value) return ZT_EINVAL;
    if (!origin) origin = "set";
    if (!find_leaf(path, strlen(path), false, &lf)) {
        char shown_path[QUOTE_MAX + 8];
        key_text(shown_path, sizeof shown_path, path, strlen(path));
        report_add(&rep, false, origin, shown_path,
                   is_section_path(path) ? "is a section; set one of its keys" : "unknown key");
        return finish(0, &rep);
    }
    int rc = finish(set_leaf_text(cfg, &lf, value, origin, &rep), &rep);
    if (!rc) derive_roles(cfg);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Validation
 * ------------------------------------------------------------------------- */

#define VALIDATE_WHERE "config"

struct validate_ctx {
    struct zt_config *cfg;
    struct report *rep;
};

static void validate_list(const struct leaf *lf, const void *sec, struct report *rep)
{
    const struct cfg_key *k = lf->k;
    const struct cfg_table *sub = k->sub;
    char why[WHY_LEN], path[PATH_LEN * 2];
    size_t n;
    const char *arr = list_get(sec, k, &n);
    if (n > (size_t)k->max) {
        snprintf(why, sizeof why, "too many entries (%zu; at most %" PRId64 ")", n, k->max);
        report_add(rep, false, VALIDATE_WHERE, lf->path, why);
    }
    for (size_t i = 0; arr && i < n; i++) {
        const char *elem = arr + i * sub->size;
        unsigned before = rep->n;
        for (size_t j = 0; j < sub->n; j++) {
            const struct cfg_key *sk = &sub->keys[j];
            if (check_field(sk, cfield(elem, sk->off), why, sizeof why)) continue;
            snprintf(path, sizeof path, "%s[%zu].%s", lf->path, i, sk->name);
            report_add(rep, false, VALIDATE_WHERE, path, why);
        }
        if (rep->n != before) continue;
        const char *key = NULL;
        const char *problem = sub->check ? sub->check(elem, &key) : NULL;
        if (problem) {
            snprintf(path, sizeof path, "%s[%zu]%s%s", lf->path, i, key ? "." : "", key ? key : "");
            report_add(rep, false, VALIDATE_WHERE, path, problem);
        }
        for (size_t j = 0; j < sub->n; j++) {
            const struct cfg_key *uk = &sub->keys[j];
            if (!(uk->flags & KEY_UNIQUE) || uk->type != KT_STRING) continue;
            const char *val = sv(*(char *const *)cfield(elem, uk->off));
            for (size_t o = 0; o < i; o++) {
                if (strcmp(val, sv(*(char *const *)cfield(arr + o * sub->size, uk->off))) != 0)
                    continue;
                char q[QUOTE_MAX * 4 + 16];
                quote(q, sizeof q, val, strlen(val));
                snprintf(path, sizeof path, "%s[%zu].%s", lf->path, i, uk->name);
                snprintf(why, sizeof why, "duplicate %s %s (also used by %s[%zu])", uk->name, q,
                         lf->path, o);
                report_add(rep, false, VALIDATE_WHERE, path, why);
                break;
            }
        }
    }
}

/* True when the field holds the key's compiled-in default. */
static bool is_default(const struct cfg_key *k, const void *fp)
{
    switch (k->type) {
    case KT_BOOL: return *(const bool *)fp == k->def_bool;
    case KT_INT: return *(const int64_t *)fp == k->def_int;
    case KT_DOUBLE: return *(const double *)fp == k->def_double;
    case KT_STRING: return zt_str_eq(sv(*(char *const *)fp), sv(k->def_str));
    case KT_STRLIST: {
        const struct zt_strlist *l = fp;
        size_t n = 0;
        while (k->def_list && k->def_list[n]) n++;
        if (l->count != n) return false;
        for (size_t i = 0; i < n; i++)
            if (!zt_str_eq(sv(l->items[i]), k->def_list[i])) return false;
        return true;
    }
    case KT_SECTION:
    case KT_LIST: break;
    }
    return true;
}

#define RESERVED_NOTE "reserved, not used yet: accepted and checked, but nothing in this node reads it"

/* An IPv4/IPv6 address, or ADDRESS/BITS (server.trusted_proxies). */
static bool proxy_valid(const char *t)
{
    char buf[64];
    if (zt_strlcpy(buf, t, sizeof buf) >= sizeof buf) return false;
    char *slash = strchr(buf, '/');
    long max = 0;
    uint8_t tmp[16];
    if (slash) *slash = '\0';
    if (inet_pton(AF_INET, buf, tmp) == 1) max = 32;
    else if (inet_pton(AF_INET6, buf, tmp) == 1) max = 128;
    else return false;
    if (!slash) return true;
    char *end;
    long bits = strtol(slash + 1, &end, 10);
    return end != slash + 1 && !*end && bits >= 0 && bits <= max;
}

/* Lexically normalise a path (no file system access): "." and empty
 * components dropped, ".." removes the previous component, or stays when
 * there is none (a relative path climbing out). False when it does not fit. */
static bool normalise_path(const char *in, char *out, size_t cap)
{
    size_t starts[128], n = 0, len = 0;
    bool abs = in[0] == '/';
    if (cap < 2) return false;
    out[0] = '\0';
    if (abs) out[len++] = '/', out[len] = '\0';
    for (const char *p = in; *p;) {
        while (*p == '/') p++;
        const char *e = strchr(p, '/');
        size_t cl = e ? (size_t)(e - p) : strlen(p);
        if (cl == 0) break;
        if (cl == 1 && p[0] == '.') {
            /* nothing */
        } else if (cl == 2 && p[0] == '.' && p[1] == '.' && n > 0 &&
                   !(len - starts[n - 1] == 2 && out[starts[n - 1]] == '.' && out[starts[n - 1] + 1] == '.')) {
            len = starts[--n];
            if (len > (abs ? 1u : 0u)) len--; /* the '/' before it */
            out[len] = '\0';
        } else if (!(cl == 2 && p[0] == '.' && p[1] == '.' && abs && n == 0)) { /* "/.." is "/" */
            if (n == sizeof starts / sizeof *starts) return false;
            if (len > (abs ? 1u : 0u)) {
                if (len + 1 >= cap) return false;
                out[len++] = '/';
            }
            if (len + cl >= cap) return false;
            starts[n++] = len;
            memcpy(out + len, p, cl);
            len += cl;
            out[len] = '\0';
        }
        p += cl;
    }
    return true;
}

/* True when path (relative to data_dir unless absolute) lies outside
 * data_dir: compared after lexical normalisation, and again after
 * realpath() when both exist (a symlink out counts too). */
static bool path_outside(const char *data_dir, const char *path)
{
    char full[4096], nd[4096], np[4096];
    if (path[0] == '/')
        snprintf(full, sizeof full, "%s", path);
    else
        snprintf(full, sizeof full, "%s/%s", data_dir, path);
    if (!normalise_path(data_dir, nd, sizeof nd) || !normalise_path(full, np, sizeof np)) return true;
    size_t dl = strlen(nd);
    bool inside;
    if (zt_str_eq(nd, "."))
        inside = np[0] != '/' && strncmp(np, "../", 3) != 0 && !zt_str_eq(np, "..");
    else
        inside = strncmp(np, nd, dl) == 0 && (np[dl] == '/' || (dl == 1 && nd[0] == '/'));
    if (!inside) return true;
    char rd[PATH_MAX], rp[PATH_MAX];
    if (realpath(data_dir, rd) && realpath(full, rp)) {
        size_t rl = strlen(rd);
        return !(strncmp(rp, rd, rl) == 0 && (rp[rl] == '/' || zt_str_eq(rd, "/")));
    }
    return false;
}

static int validate_cb(const struct leaf *lf, void *vctx)
{
    struct validate_ctx *c = vctx;
    const void *sec = cfield(c->cfg, lf->sec_off);
    char why[WHY_LEN];
    if (lf->k->type == KT_LIST) {
        validate_list(lf, sec, c->rep);
        return 0;
    }
    const void *fp = cfield(sec, lf->k->off);
    if (!check_field(lf->k, fp, why, sizeof why))
        report_add(c->rep, false, VALIDATE_WHERE, lf->path, why);
    else if ((lf->k->flags & KEY_RESERVED) && !is_default(lf->k, fp))
        report_add(c->rep, true, VALIDATE_WHERE, lf->path, RESERVED_NOTE);
    return 0;
}

int zt_config_validate(struct zt_config *cfg, struct zt_buf *errs)
{
    struct report rep = {errs, 0, 0};
    if (!cfg) return ZT_EINVAL;
    struct validate_ctx c = {cfg, &rep};
    (void)walk(&root_table, 0, "", validate_cb, &c);

    /* Rules across sections. */
    const char *dm = sv(cfg->model_cache.default_model);
    if (dm[0]) {
        bool found = false;
        for (size_t i = 0; cfg->models && i < cfg->n_models; i++)
            found = found || zt_str_eq(sv(cfg->models[i].id), dm);
        if (!found)
            report_add(&rep, false, VALIDATE_WHERE, "model_cache.default_model",
                       "names no entry of models");
    }
    for (size_t i = 0; i < cfg->server.trusted_proxies.count; i++) {
        if (proxy_valid(sv(cfg->server.trusted_proxies.items[i]))) continue;
        char path[PATH_LEN], why[WHY_LEN], q[QUOTE_MAX * 4 + 16];
        const char *v = sv(cfg->server.trusted_proxies.items[i]);
        quote(q, sizeof q, v, strlen(v));
        snprintf(path, sizeof path, "server.trusted_proxies[%zu]", i);
        snprintf(why, sizeof why, "must be an IPv4 or IPv6 address, or ADDRESS/BITS; got %s", q);
        report_add(&rep, false, VALIDATE_WHERE, path, why);
    }
    /* A model path is read whole and mapped: one outside the data
     * directory (absolute, or climbing out with ..) is most likely a
     * mistake, or a way to make the node read files it should not. */
    for (size_t i = 0; cfg->models && i < cfg->n_models; i++) {
        const char *mp = sv(cfg->models[i].path);
        if (!mp[0] || !path_outside(sv(cfg->node.data_dir), mp)) continue;
        char path[PATH_LEN], why[WHY_LEN];
        snprintf(path, sizeof path, "models[%zu].path", i);
        snprintf(why, sizeof why, "outside node.data_dir (%s): the node reads whatever file this names; keep "
                                  "models under the data directory", sv(cfg->node.data_dir));
        report_add(&rep, true, VALIDATE_WHERE, path, why);
    }
    const struct {
        const char *key, *id;
    } feature_models[] = {{"features.smart_replies.model", sv(cfg->features.smart_replies.model)},
                          {"features.summarize.model", sv(cfg->features.summarize.model)},
                          {"features.translate.model", sv(cfg->features.translate.model)}};
    for (size_t f = 0; f < ARRAY_LEN(feature_models); f++) {
        if (!feature_models[f].id[0]) continue;
        bool found = false;
        for (size_t i = 0; cfg->models && i < cfg->n_models; i++)
            found = found || zt_str_eq(sv(cfg->models[i].id), feature_models[f].id);
        if (!found) report_add(&rep, false, VALIDATE_WHERE, feature_models[f].key, "names no entry of models");
    }
    if (zt_str_eq(cfg->database.driver, "postgres") && !sv(cfg->database.postgres_url)[0])
        report_add(&rep, false, VALIDATE_WHERE, "database.postgres_url",
                   "is required when database.driver is postgres");
    if (zt_str_eq(cfg->database.queue, "redis") && !sv(cfg->database.redis_url)[0])
        report_add(&rep, false, VALIDATE_WHERE, "database.redis_url", "is required when database.queue is redis");
    if (cfg->chain.enabled) {
        if (!sv(cfg->chain.rpc_url)[0])
            report_add(&rep, false, VALIDATE_WHERE, "chain.rpc_url",
                       "is required when chain.enabled is true");
        if (!sv(cfg->chain.wallet_address)[0])
            report_add(&rep, false, VALIDATE_WHERE, "chain.wallet_address",
                       "is required when chain.enabled is true");
    }
    derive_roles(cfg);
    return finish(0, &rep);
}

const char *zt_config_default_dir(void)
{
    const char *d = getenv("ZENTALK_CONFIG");
    if (d && d[0]) return d;
    d = getenv("ZENTALK_CONFIG_DIR");
    return d && d[0] ? d : NULL;
}

/* ---------------------------------------------------------------------------
 * Model files (the node's resolution, and --check-config's look at them)
 * ------------------------------------------------------------------------- */

int zt_config_model_file(const char *data_dir, const struct zt_cfg_model *e, char *out, size_t n, char *alt,
                         size_t alt_n)
{
    const char *p = sv(e->path);
    char tmp[512];
    if (!p[0]) {
        const char *url = sv(e->url);
        const char *slash = strrchr(url, '/');
        snprintf(tmp, sizeof tmp, "models/%s", slash ? slash + 1 : url);
        p = tmp;
    }
    if (alt && alt_n) alt[0] = '\0';
    /* "." (a file named on the command line): the path as given */
    bool as_is = p[0] == '/' || (data_dir && strcmp(data_dir, ".") == 0);
    int w = as_is ? snprintf(out, n, "%s", p) : snprintf(out, n, "%s/%s", data_dir ? data_dir : "data", p);
    if (w < 0 || (size_t)w >= n) return ZT_ETOOBIG;
    if (as_is || access(out, F_OK) == 0) return 0;
    char a[4096];
    w = snprintf(a, sizeof a, "%s/%s", zt_assets_dir(), p);
    if (w < 0 || (size_t)w >= sizeof a) return 0;
    if (access(a, F_OK) != 0) {
        /* a build-tree binary: the committed demo model in tests/models */
        const char *sm = zt_assets_source_models_dir();
        const char *base = strrchr(p, '/');
        char b[4096];
        int bw = sm ? snprintf(b, sizeof b, "%s/%s", sm, base ? base + 1 : p) : -1;
        if (bw > 0 && (size_t)bw < sizeof b && access(b, F_OK) == 0) {
            memcpy(a, b, (size_t)bw + 1);
            w = bw;
        }
    }
    if (access(a, F_OK) == 0) {
        if ((size_t)w >= n) return ZT_ETOOBIG;
        memcpy(out, a, (size_t)w + 1);
    } else if (alt && alt_n) {
        snprintf(alt, alt_n, "%s", a);
    }
    return 0;
}

int zt_config_check_model_files(const struct zt_config *cfg, struct zt_buf *errs)
{
    struct report rep = {errs, 0, 0};
    if (!cfg) return ZT_EINVAL;
    for (size_t i = 0; cfg->models && i < cfg->n_models; i++) {
        const struct zt_cfg_model *e = &cfg->models[i];
        char where[160], path[4096], alt[4096], problem[8400];
        snprintf(where, sizeof where, "models.yaml: model '%s'", sv(e->id));
        if (zt_config_model_file(sv(cfg->node.data_dir), e, path, sizeof path, alt, sizeof alt) != 0) {
            report_add(&rep, false, where, NULL, "its path is too long");
            continue;
        }
        FILE *f = fopen(path, "rb");
        if (!f) {
            bool url = sv(e->url)[0] != '\0';
            snprintf(problem, sizeof problem, "file %s %s%s%s%s", path, errno == ENOENT ? "not found" : strerror(errno),
                     alt[0] ? " (nor " : "", alt, alt[0] ? ")" : "");
            if (url)
                snprintf(problem + strlen(problem), sizeof problem - strlen(problem),
                         "; run `zentalk models pull %s` (the node starts and answers 503 for it until then)", sv(e->url));
            report_add(&rep, url, where, NULL, problem);
            continue;
        }
        char magic[4] = {0};
        size_t got = fread(magic, 1, sizeof magic, f);
        fclose(f);
        if (got != 4 || memcmp(magic, "GGUF", 4) != 0) {
            snprintf(problem, sizeof problem, "%s is not a GGUF file (the node starts; this model answers 503)", path);
            report_add(&rep, true, where, NULL, problem);
        }
    }
    return finish(0, &rep);
}

/* ---------------------------------------------------------------------------
 * Dump
 * ------------------------------------------------------------------------- */

/* A YAML double-quoted string. */
static int put_quoted(struct zt_buf *b, const char *s)
{
    int rc = zt_buf_append_byte(b, '"');
    for (; *s && !rc; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            rc = zt_buf_appendf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7F)
            rc = zt_buf_appendf(b, "\\x%02X", c);
        else
            rc = zt_buf_append_byte(b, (char)c);
    }
    return rc ? rc : zt_buf_append_byte(b, '"');
}

static int put_scalar(struct zt_buf *b, const struct cfg_key *k, const void *fp)
{
    char num[40];
    switch (k->type) {
    case KT_BOOL: return zt_buf_append_str(b, *(const bool *)fp ? "true" : "false");
    case KT_INT: return zt_buf_appendf(b, "%" PRId64, *(const int64_t *)fp);
    case KT_DOUBLE:
        fmt_double(num, sizeof num, *(const double *)fp);
        return zt_buf_append_str(b, num);
    case KT_STRING: {
        const char *s = sv(*(char *const *)fp);
        return put_quoted(b, (k->flags & KEY_SECRET) && s[0] ? "<redacted>" : s);
    }
    case KT_STRLIST: {
        const struct zt_strlist *l = fp;
        int rc = zt_buf_append_byte(b, '[');
        for (size_t i = 0; i < l->count && !rc; i++) {
            if (i) rc = zt_buf_append_str(b, ", ");
            if (!rc) rc = put_quoted(b, sv(l->items[i]));
        }
        return rc ? rc : zt_buf_append_byte(b, ']');
    }
    case KT_SECTION:
    case KT_LIST: break;
    }
    return 0;
}

static int dump_obj(struct zt_buf *b, const struct cfg_table *t, const void *base, int indent,
                    bool list_item);

/* "key: value" at indent; a list entry's first key is written "- key". */
static int dump_key(struct zt_buf *b, const struct cfg_key *k, const void *base, int indent,
                    bool first_of_item)
{
    const void *fp = cfield(base, k->off);
    int rc = zt_buf_appendf(b, "%*s%s%s:", first_of_item ? indent - 2 : indent, "",
                            first_of_item ? "- " : "", k->name);
    if (rc) return rc;
    switch (k->type) {
    case KT_SECTION:
        rc = zt_buf_append_byte(b, '\n');
        return rc ? rc : dump_obj(b, k->sub, fp, indent + 2, false);
    case KT_LIST: {
        size_t n;
        const char *arr = list_get(base, k, &n);
        if (!n || !arr) return zt_buf_append_str(b, " []\n");
        rc = zt_buf_append_byte(b, '\n');
        for (size_t i = 0; i < n && !rc; i++)
            rc = dump_obj(b, k->sub, arr + i * k->sub->size, indent + 4, true);
        return rc;
    }
    default:
        rc = zt_buf_append_byte(b, ' ');
        if (!rc) rc = put_scalar(b, k, fp);
        return rc ? rc : zt_buf_append_byte(b, '\n');
    }
}

static int dump_obj(struct zt_buf *b, const struct cfg_table *t, const void *base, int indent,
                    bool list_item)
{
    int rc = 0;
    for (size_t i = 0; i < t->n && !rc; i++)
        rc = dump_key(b, &t->keys[i], base, indent, list_item && i == 0);
    return rc;
}

int zt_config_dump(const struct zt_config *cfg, struct zt_buf *out)
{
    if (!cfg || !out) return ZT_EINVAL;
    size_t start = out->len;
    const char *file = NULL;
    int rc = zt_buf_append_str(out, "# zentalk-ai effective configuration; secrets are shown as "
                                    "\"<redacted>\".\n");
    for (size_t i = 0; i < root_table.n && !rc; i++) {
        const struct cfg_key *k = &root_table.keys[i];
        if (!zt_str_eq(file, k->file)) {
            file = k->file;
            rc = zt_buf_appendf(out, "\n# %s\n", file);
        }
        if (!rc) rc = dump_key(out, k, cfg, 0, false);
    }
    if (rc) { /* leave out as it was */
        out->len = start;
        if (out->data) out->data[start] = '\0';
    }
    return rc;
}

/* ---------------------------------------------------------------------------
 * Describe: the reference tables of docs/configuration.md and .env.example
 * ------------------------------------------------------------------------- */

static void type_desc(const struct cfg_key *k, char *out, size_t n)
{
    char opts[256];
    const char *secret = (k->flags & KEY_SECRET) ? ", secret" : "";
    switch (k->type) {
    case KT_BOOL: snprintf(out, n, "boolean"); return;
    case KT_INT: snprintf(out, n, "integer, %" PRId64 "..%" PRId64, k->min, k->max); return;
    case KT_DOUBLE: {
        char a[32], b[32];
        fmt_double(a, sizeof a, k->dmin);
        fmt_double(b, sizeof b, k->dmax);
        snprintf(out, n, "number, %s..%s", a, b);
        return;
    }
    case KT_STRING:
        if (k->allowed) {
            join_list(opts, sizeof opts, k->allowed, ", ");
            snprintf(out, n, "one of: %s", opts);
        } else {
            snprintf(out, n, "string%s%s, at most %" PRId64 " bytes%s%s",
                     k->fmt != KF_ANY ? ": " : "", k->fmt != KF_ANY ? fmt_desc(k->fmt) : "", k->max,
                     (k->flags & KEY_NONEMPTY) ? ", not empty" : "", secret);
        }
        return;
    case KT_STRLIST:
        if (k->allowed) join_list(opts, sizeof opts, k->allowed, ", ");
        snprintf(out, n, "list of strings%s%s, at most %" PRId64 " entries%s%s",
                 k->allowed ? " from: " : k->fmt != KF_ANY ? ": " : "",
                 k->allowed ? opts : k->fmt != KF_ANY ? fmt_desc(k->fmt) : "", k->max,
                 (k->flags & KEY_NONEMPTY) ? ", at least one" : "",
                 (k->flags & KEY_UNIQUE) ? ", no repeats" : "");
        return;
    case KT_SECTION: snprintf(out, n, "section"); return;
    case KT_LIST: snprintf(out, n, "list of mappings, at most %" PRId64 " entries", k->max); return;
    }
}

/* The default as YAML (md) or as an environment value (env). */
static int put_default(struct zt_buf *b, const struct cfg_key *k, bool env)
{
    char num[40];
    switch (k->type) {
    case KT_BOOL: return zt_buf_append_str(b, k->def_bool ? "true" : "false");
    case KT_INT: return zt_buf_appendf(b, "%" PRId64, k->def_int);
    case KT_DOUBLE:
        fmt_double(num, sizeof num, k->def_double);
        return zt_buf_append_str(b, num);
    case KT_STRING: return zt_buf_appendf(b, env ? "%s" : "\"%s\"", sv(k->def_str));
    case KT_STRLIST: {
        int rc = env ? 0 : zt_buf_append_byte(b, '[');
        for (size_t i = 0; k->def_list && k->def_list[i] && !rc; i++)
            rc = zt_buf_appendf(b, "%s%s", i ? (env ? "," : ", ") : "", k->def_list[i]);
        return rc ? rc : env ? 0 : zt_buf_append_byte(b, ']');
    }
    case KT_LIST: return env ? 0 : zt_buf_append_str(b, "[]");
    case KT_SECTION: break;
    }
    return 0;
}

/* Markdown table cells must not contain '|'. */
static int put_md(struct zt_buf *b, const char *s)
{
    int rc = 0;
    for (; *s && !rc; s++) rc = *s == '|' ? zt_buf_append_str(b, "\\|") : zt_buf_append_byte(b, *s);
    return rc;
}

static int md_row(struct zt_buf *b, const struct cfg_key *k, const char *path, const char *env)
{
    char type[400];
    type_desc(k, type, sizeof type);
    int rc = zt_buf_appendf(b, "| `%s` | ", path);
    if (!rc) rc = put_md(b, type);
    if (!rc) rc = zt_buf_append_str(b, " | `");
    if (!rc) rc = put_default(b, k, false);
    if (!rc) rc = env ? zt_buf_appendf(b, "` | `%s` | ", env) : zt_buf_append_str(b, "` | - | ");
    if (!rc && (k->flags & KEY_RESERVED)) rc = zt_buf_append_str(b, "**Reserved, not used yet.** ");
    if (!rc) rc = put_md(b, k->doc);
    return rc ? rc : zt_buf_append_str(b, " |\n");
}

static int md_cb(const struct leaf *lf, void *vctx)
{
    struct zt_buf *b = vctx;
    int rc = md_row(b, lf->k, lf->path, lf->k->type == KT_LIST ? NULL : lf->env);
    if (rc || lf->k->type != KT_LIST) return rc;
    char path[PATH_LEN + 16];
    for (size_t i = 0; i < lf->k->sub->n && !rc; i++) {
        snprintf(path, sizeof path, "%s[].%s", lf->path, lf->k->sub->keys[i].name);
        rc = md_row(b, &lf->k->sub->keys[i], path, NULL);
    }
    return rc;
}

static int env_cb(const struct leaf *lf, void *vctx)
{
    struct zt_buf *b = vctx;
    char type[400];
    if (lf->k->type == KT_LIST) return 0;
    type_desc(lf->k, type, sizeof type);
    int rc = zt_buf_appendf(b, "# %s (%s): %s%s\n#%s=", lf->path, type,
                            (lf->k->flags & KEY_RESERVED) ? "Reserved, not used yet. " : "", lf->k->doc, lf->env);
    if (!rc) rc = put_default(b, lf->k, true);
    return rc ? rc : zt_buf_append_byte(b, '\n');
}

int zt_config_describe(enum zt_config_doc_format fmt, struct zt_buf *out)
{
    if (!out || (fmt != ZT_CONFIG_DOC_MARKDOWN && fmt != ZT_CONFIG_DOC_ENV)) return ZT_EINVAL;
    size_t start = out->len;
    int rc = 0;
    for (size_t i = 0; i < root_table.n && !rc; i++) {
        const struct cfg_key *k = &root_table.keys[i];
        struct cfg_table one = {k, 1, root_table.size, NULL};
        if (fmt == ZT_CONFIG_DOC_MARKDOWN) {
            rc = zt_buf_appendf(out,
                                "%s### `%s` (%s)\n\n%s\n\n"
                                "| key | type | default | environment | description |\n"
                                "| --- | --- | --- | --- | --- |\n",
                                i ? "\n" : "", k->name, k->file, k->doc);
            if (!rc) rc = walk(&one, 0, "", md_cb, out);
        } else {
            rc = zt_buf_appendf(out, "%s# ---- %s (%s): %s\n", i ? "\n" : "", k->name, k->file,
                                k->doc);
            if (!rc) rc = walk(&one, 0, "", env_cb, out);
        }
    }
    if (rc) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
    }
    return rc;
}
