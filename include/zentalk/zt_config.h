/* zt_config.h: the node's configuration.
 *
 * One typed struct per section, filled from (in increasing precedence):
 *   1. compiled-in defaults (the "embedded default"; the files in config/ repeat them),
 *   2. the YAML files of a config directory (config.yaml, encryption.yaml,
 *      gpu-pool.yaml, database.yaml, chain.yaml, integration.yaml,
 *      privacy.yaml, models.yaml, features.yaml; a missing file keeps defaults),
 *   3. environment variables ZENTALK_<SECTION>_<KEY> (e.g. ZENTALK_SERVER_LISTEN,
 *      ZENTALK_FEATURES_SPAM_THRESHOLD),
 *   4. command-line flags (--listen, --data-dir), applied by the caller with
 *      zt_config_set().
 * A declarative table per section (name, type, bounds, default, secret flag)
 * drives parsing, validation, environment overrides, zt_config_dump() and
 * zt_config_describe() (docs/configuration.md, docs/internals/config.md).
 * Unknown keys, wrong types, out-of-range values and malformed YAML are errors
 * that name file:line:column and the key.
 *
 * YAML rules (YAML 1.2 core schema, strict): booleans are true/false
 * (yes/no/on/off are refused), integers are plain decimal without leading
 * zeros, a quoted "5" is a string, null (~, null or nothing) means "" for a
 * string, "no keys" for a section and is a type error elsewhere. Anchors,
 * aliases, tags, more than one document, NUL bytes, control characters and
 * invalid UTF-8 are refused. Environment values and zt_config_set() also take
 * yes/no/on/off/1/0 for booleans and comma-separated lists.
 *
 * Every function that changes a configuration is all-or-nothing: on any
 * error (ZT_ECONFIG, ZT_ENOMEM, ...) the configuration is left as it was. */
#ifndef ZT_CONFIG_H
#define ZT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_error.h"

#define ZT_CFG_MAX_LIST 64     /* most entries in a list of strings */
#define ZT_CFG_MAX_MODELS 256  /* most entries under models: */
#define ZT_CFG_MAX_STR 4096    /* longest string value */
#define ZT_CFG_MAX_FILE_BYTES (1024 * 1024) /* largest configuration file */

struct zt_strlist {
    char **items; /* owned */
    size_t count;
};

/* Roles a node runs (config.yaml: node.roles). */
enum zt_role {
    ZT_ROLE_GATEWAY = 1u << 0,
    ZT_ROLE_ORCHESTRATOR = 1u << 1,
    ZT_ROLE_WORKER = 1u << 2,
};
#define ZT_ROLE_COUNT 3
/* The name of role bit i (i < ZT_ROLE_COUNT): "gateway", "orchestrator",
 * "worker"; NULL after the last. */
extern const char *const zt_role_names[ZT_ROLE_COUNT + 1];
/* The names of the roles in mask, in bit order, into out; their count. */
size_t zt_role_list(unsigned mask, const char *out[static ZT_ROLE_COUNT]);

/* config.yaml */
struct zt_cfg_node {
    char *id;                 /* "" = the id derived from the node key */
    struct zt_strlist roles;  /* gateway, orchestrator, worker */
    unsigned role_mask;       /* derived from roles (ZT_ROLE_*) */
    char *data_dir;           /* created 0700 on start */
    char *endpoint;           /* URL peers reach this node at; "" = derived from server.listen */
    struct zt_strlist join;   /* orchestrator URLs a worker joins (--join) */
    int64_t heartbeat_interval_ms; /* a joined worker's heartbeat period */
    bool outbound;            /* reached only through its long-poll to the first node.join orchestrator */
    char *orchestrator;       /* a gateway in another process: the orchestrator's URL[#NODE_ID] ("" = none) */
    char *orchestrator_token; /* bearer for its lease routes ("" = none) */

    int64_t dht_port;         /* UDP port of the discovery DHT; 0 = off */
    struct zt_strlist bootstrap; /* DHT bootstrap nodes, host:port */
    bool dht_multicast;       /* OpenDHT's LAN peer discovery */
};
struct zt_cfg_server {
    char *listen;             /* host:port */
    int64_t threads;          /* HTTP thread pool size */
    int64_t max_connections;
    int64_t max_header_bytes;
    int64_t max_body_bytes;
    int64_t request_timeout_s;   /* idle connection timeout */
    int64_t max_connections_per_address; /* per peer address (IPv6: /64); 0 = no limit */
    int64_t new_address_reserve_percent; /* of max_connections, for addresses holding none */
    int64_t header_timeout_s;    /* deadline for a whole request head */
    struct zt_strlist trusted_proxies; /* addresses / ADDR/BITS whose forwarded headers count */
    int64_t shutdown_timeout_s;  /* how long SIGTERM waits for in-flight requests */
    int64_t rate_limit_rps;      /* requests per second per identity; 0 = off */
    int64_t rate_limit_burst;    /* token bucket size per identity */
    int64_t session_ttl_s;       /* wallet login session lifetime */
    int64_t relay_timeout_s;     /* relay: wait for upstream headers / longest silence */
    int64_t relay_max_inflight;  /* relay: transfers at once */
    char *relay_ca_file;         /* relay: PEM CAs for https peers; "" = system store */
    char *relay_private_targets; /* relay: auto|allow|refuse loopback/private targets */
    char *tls_cert_file;         /* PEM certificate chain; "" = plain HTTP */
    char *tls_key_file;          /* PEM private key of tls_cert_file */
    int64_t ws_max_connections;  /* WebSocket connections (/v1/ws) */
    int64_t ws_max_message_bytes;
    int64_t ws_idle_timeout_s;   /* ping after half, close after all of it */
};
struct zt_cfg_log {
    char *level;              /* debug|info|warn|error */
    char *format;             /* text|json */
    char *file;               /* "" = stderr */
};
/* config.yaml: mesh (src/mesh, zt_mesh.h) */
struct zt_cfg_mesh {
    bool enabled;             /* hold, serve and pull blobs */
    char *dir;                /* the chunk store, relative to data_dir */
    int64_t replication_model; /* holders a model blob should have */
    int64_t record_ttl_s;     /* holder records' lifetime in the DHT */
    int64_t repair_interval_s;
    int64_t parallel;         /* chunk requests in flight per pull */
    double serve_rate_rps;    /* chunk and manifest requests per caller */
    double serve_burst;
    int64_t max_store_mb;     /* replicas refused past it; 0 = no limit */
    bool accept_replicas;
    struct zt_strlist serve_models; /* orchestrator: sha256:<hex> told to joining workers */
    int64_t db_sync_interval_s; /* orchestrator: database-sync segments; 0 = off */
    int64_t replication_db;     /* holders of each segment */
};
/* encryption.yaml */
struct zt_cfg_encryption {
    char *key_file;           /* node identity key file, relative to data_dir */
    char *passphrase_env;     /* name of the env var holding the key passphrase */
    char *aead;               /* chacha20poly1305|aes256gcm */
    int64_t job_ttl_s;        /* validity window of a sealed job */
    int64_t replay_ids;       /* sealed job ids the worker's replay cache holds */
    bool require_auth;        /* API authentication on non-loopback listeners */
    char *jwt_secret;         /* secret; HS256 key of API tokens */
    char *peers_file;         /* trusted peer descriptors, relative to data_dir */
    char *relay_callers;      /* peer_or_user|peer: who may call POST /v1/relay/jobs */
    char *sealed_jobs_callers;/* peer_or_user|peer: who may call POST /v1/jobs/sealed */
    char *jwt_public_key_file;/* PEM public key (RSA or Ed25519) verifying RS256/EdDSA tokens */
    struct zt_strlist jwt_algorithms; /* HS256, RS256, EdDSA: the token algorithms accepted */
    char *remote_worker;      /* node id pinned for remote LLM jobs; "" = first peer serving the model */
    char *relay;              /* node id of the relay remote jobs go through; "" = direct */
    int64_t remote_timeout_s; /* wait for a remote answer to start / longest silence */
    int64_t remote_stall_ms;  /* silence after which a streaming job moves to another worker (0: off) */
    int64_t remote_max_tokens;/* max_tokens of a remote job whose request names none */
    int64_t remote_max_inflight; /* remote jobs at once */
};
/* gpu-pool.yaml */
struct zt_cfg_gpu_pool {
    char *backend;            /* auto|cpu|vulkan|cuda */
    bool deterministic;       /* GPU backends: the CPU's bits */
    struct zt_strlist devices;/* CUDA device ids; empty = all */
    int64_t max_vram_mb;      /* 0 = no limit */
    int64_t cpu_threads;      /* 0 = number of cores */
    int64_t max_batch;        /* sequences decoded together */
    char *kv_cache_type;      /* f32|f16 */
    char *precision;          /* exact|bf16: CPU float matrices (zt_quant.h's BF16 mode) */
};
/* database.yaml */
struct zt_cfg_database {
    char *driver;             /* sqlite|postgres */
    char *sqlite_path;        /* relative to data_dir */
    char *postgres_url;       /* secret */
    char *redis_url;          /* secret; required when queue is redis */
    char *queue;              /* memory|redis */
    int64_t queue_claim_ms;   /* redis queue: claim entries unacknowledged this long */
    int64_t pool_size;
    int64_t busy_timeout_ms;
    char *result_cache;       /* memory|redis */
    int64_t result_cache_max_mb;
    char *result_cache_secret; /* secret; "" = derived from the node key */
    int64_t result_cache_verify_permille;
};
/* chain.yaml */
struct zt_cfg_chain {
    bool enabled;
    char *network;
    char *rpc_url;
    char *token_symbol;
    char *wallet_address;
    int64_t payout_interval_s;
    char *min_payout; /* tokens, exact decimal text (zt_u128_parse_tokens) */
    int64_t orchestrator_fee_bps;
    char *verification_bonus;
    char *slash_amount;
    char *min_stake;
    char *price_prompt_per_1k;
    char *price_completion_per_1k;
    char *price_cache_hit;    /* tokens per answer from the result cache */
    int64_t dispute_window_s;
    int64_t payout_chain_id;
    char *payout_contract;
    char *payout_key_file;
    char *payout_passphrase_env;
};
/* integration.yaml */
struct zt_cfg_integration {
    char *api_url;            /* zentalk-api base URL; "" = standalone */
    char *jwt_issuer;
    char *jwt_audience;
    char *webhook_secret;     /* secret */
    int64_t timeout_ms;
    char *webhook_path;       /* appended to api_url */
    int64_t webhook_retry_base_ms;
    int64_t webhook_max_attempts;
};
/* privacy.yaml */
struct zt_cfg_pii_pattern {   /* privacy.extra_patterns[] */
    char *type;               /* upper-case name, e.g. EMPLOYEE_ID */
    char *regex;              /* PCRE2 (UTF) pattern; checked to compile */
};
struct zt_cfg_privacy_rule {  /* privacy.policies[] */
    char *feature;            /* feature or route name, or "*" */
    char *type;               /* PII type name, or "*" */
    char *action;             /* local_only|pseudonymise|allow */
};
struct zt_cfg_privacy {
    bool pii_filter;
    char *default_policy;     /* local_only|pseudonymise|allow */
    bool audit_log;
    int64_t retention_cache_days;
    char *result_cache;       /* user|tenant|off */
    int64_t retention_jobs_days;
    int64_t retention_audit_days;
    int64_t retention_search_days; /* 0 = keep */
    int64_t retention_temp_hours;  /* 0 = keep */
    int64_t sweep_interval_s;
    struct zt_cfg_pii_pattern *extra_patterns; /* owned array */
    size_t n_extra_patterns;
    struct zt_cfg_privacy_rule *policies;      /* owned array */
    size_t n_policies;
    int64_t pii_max_text_bytes;       /* POST /v1/privacy/pii text limit */
    int64_t audit_max_bytes;          /* rotate the audit file above this */
    int64_t audit_checkpoint_entries; /* signed checkpoint every N entries */
    int64_t audit_checkpoint_seconds; /* ... or every T seconds */
    char *audit_fsync;                /* always|checkpoint|never */
    struct zt_strlist verification_exempt_features; /* never sent to a verifier */
    struct zt_strlist verification_exempt_users;    /* caller identities never sent to a verifier */
};
/* models.yaml */
struct zt_cfg_model {
    char *id;
    char *path;               /* relative to data_dir */
    char *url;
    char *sha256;             /* 64 hex digits, or "" */
    int64_t context_size;     /* 0 = the model's own */
    double temperature;
    double top_p;
    int64_t top_k;
    int64_t max_tokens;
};
struct zt_cfg_model_cache {
    int64_t memory_budget_mb; /* LRU eviction above this; 0 = no limit */
    char *default_model;      /* "" = first entry */
};
/* features.yaml */
struct zt_cfg_feature {
    bool enabled;
    double threshold;         /* meaning depends on the feature */
    char *model;              /* smart_replies, summarize: models.yaml id of a chat model ("" = none); NULL for the others */
};
struct zt_cfg_translate {      /* features.translate: the common keys, then Apertium's */
    bool enabled;
    double threshold;
    char *modes_dir;          /* Apertium modes directory */
    int64_t timeout_ms;       /* per text */
    int64_t max_bytes;        /* per text */
    int64_t pipelines;        /* per language pair */
    char *model;              /* models.yaml id of a chat model that translates ("" = Apertium only) */
};
/* features.search: private hybrid search (zt_search.h) */
struct zt_cfg_search {
    bool enabled;
    double threshold;         /* least cosine similarity of a semantic hit */
    double bm25_weight;       /* reciprocal rank fusion weight of the BM25 list */
    double vector_weight;     /* ... and of the embedding list */
    int64_t rrf_k;
    int64_t candidates;       /* hits taken from each list */
    int64_t scan_limit;       /* newest messages compared by embedding; 0 = all */
    int64_t max_messages_per_user; /* search index quota; 0 = none */
    int64_t max_bytes_per_user;    /* search index quota in bytes; 0 = none */
    char *db_path;            /* relative to data_dir */
};
/* features.categorize.categories[] */
struct zt_cfg_category {
    char *name;
    struct zt_strlist seeds;
};
struct zt_cfg_categorize {
    bool enabled;
    double threshold;         /* least vote share of the best category */
    int64_t top;              /* categories reported */
    struct zt_cfg_category *categories; /* owned array; empty = the built-in set */
    size_t n_categories;
};
#define ZT_CFG_MAX_CATEGORIES 64
/* features.moderation.actions: allow, flag or block, per category */
struct zt_cfg_moderation_actions {
    char *profanity, *sexual, *hate, *harassment, *self_harm, *spam_links;
};
struct zt_cfg_moderation {
    bool enabled;
    double threshold;         /* least category score that counts as a match */
    struct zt_cfg_moderation_actions actions;
    struct zt_strlist default_languages; /* with "en": word lists that count when detection is unsure */
};
/* features.sentiment */
struct zt_cfg_sentiment {
    bool enabled;
    double threshold;         /* least |compound| labelled positive or negative */
    char *mode;               /* "chat" or "vader" (zt_sentiment_mode_parse()) */
};
struct zt_cfg_language {
    bool enabled;
    double threshold;         /* least confidence; below it the answer is "und" */
    struct zt_strlist languages; /* ISO 639-1 codes compared (zt_langid.h) */
    char *fingerprints_dir;   /* libexttextcat's .lm files */
};
struct zt_cfg_features {
    struct zt_cfg_feature smart_replies, summarize;
    struct zt_cfg_translate translate;
    struct zt_cfg_feature spam;
    struct zt_cfg_search search;
    struct zt_cfg_sentiment sentiment;
    struct zt_cfg_moderation moderation;
    struct zt_cfg_categorize categorize;
    struct zt_cfg_language language;
    struct zt_cfg_feature entities;
};

/* config.yaml: orchestrator (src/orchestrator; docs/internals/orchestrator.md) */
struct zt_cfg_orch_reputation {
    double threshold, prior_good, prior_bad;
    int64_t half_life_hours;
};
struct zt_cfg_orch_queue {
    int64_t max, max_per_client;
};
struct zt_cfg_orch_score {
    double reputation, load, latency, price;
};
struct zt_cfg_orch_verification {
    bool enabled;
    double rate;             /* share of jobs verified */
    int64_t new_worker_jobs; /* always verified below this many verified jobs */
    double low_reputation;   /* always verified below this score */
    int64_t max_replicas;    /* replicated execution: most extra workers */
    int64_t verdict_wait_s;  /* a leased job's missing verdict: the orchestrator decides it then */
};
struct zt_cfg_orch_leases { /* leases of gateways in other processes (zt_lease.h) */
    int64_t max_per_caller;  /* open at once per caller (gateway node id, else token identity, else address) */
    int64_t idle_s;          /* no call or report about it this long: reclaimed (a started job not done: never) */
    int64_t start_s;         /* an assignment handed out and not reported started this long: reclaimed */
    int64_t max_s;           /* a lease open this long: reclaimed (its job cancelled unless done) */
};
struct zt_cfg_orchestrator {
    int64_t heartbeat_expiry_ms;
    int64_t record_window_ms;
    int64_t max_nodes;
    int64_t duplicate_quarantine_s;
    int64_t max_attempts;
    int64_t fair_quantum_tokens;
    int64_t scan_max;
    int64_t join_rate_per_minute;   /* joins per minute per client address */
    struct zt_cfg_orch_reputation reputation;
    struct zt_cfg_orch_queue queue;
    struct zt_cfg_orch_score score;
    struct zt_cfg_orch_verification verification;
    struct zt_cfg_orch_leases leases;
};

struct zt_config {
    struct zt_cfg_node node;
    struct zt_cfg_server server;
    struct zt_cfg_log log;
    struct zt_cfg_orchestrator orchestrator;
    struct zt_cfg_mesh mesh;
    struct zt_cfg_encryption encryption;
    struct zt_cfg_gpu_pool gpu_pool;
    struct zt_cfg_database database;
    struct zt_cfg_chain chain;
    struct zt_cfg_integration integration;
    struct zt_cfg_privacy privacy;
    struct zt_cfg_model_cache model_cache;
    struct zt_cfg_model *models; /* owned array */
    size_t n_models;
    struct zt_cfg_features features;
    char *dir;                   /* config directory read, or NULL for defaults only */
};

/* Fill cfg with the compiled-in defaults. */
ZT_NODISCARD int zt_config_init_defaults(struct zt_config *cfg);

/* Read every known file in dir over the current values. A missing file is
 * fine; a missing dir is ZT_ENOTFOUND (no message: the caller names it), an
 * unreadable dir or file ZT_EIO. Errors (one line each, "file:line:col: key:
 * problem") are appended to errs, all of them, not just the first; other
 * *.yaml files in dir get a "warning:" line. Sets cfg->dir. Returns 0 or
 * ZT_ECONFIG (or ZT_ENOMEM, ZT_EIO). */
ZT_NODISCARD int zt_config_load_dir(struct zt_config *cfg, const char *dir, struct zt_buf *errs);

/* Parse one YAML document (name is used in messages) as the given file kind
 * ("config.yaml", "models.yaml", ...): only the sections of that file are
 * allowed. The kind "config.example.yaml" allows every section (the example
 * file and the output of zt_config_dump() parse as it). For tests, the
 * fuzzer and --check-config. ZT_EINVAL for an unknown kind. */
ZT_NODISCARD int zt_config_load_string(struct zt_config *cfg, const char *file_kind,
                                       const char *name, const char *yaml, size_t len,
                                       struct zt_buf *errs);

/* Apply ZENTALK_* variables from envp (NULL-terminated, e.g. environ).
 * Unknown ZENTALK_ variables are reported in errs as warnings prefixed
 * "warning:" and do not fail; ZENTALK_URL (the CLI's), ZENTALK_CONFIG_DIR and
 * the variable named by encryption.passphrase_env are not configuration keys
 * and are ignored silently. Errors read "environment ZENTALK_X: key: ...". */
ZT_NODISCARD int zt_config_apply_env(struct zt_config *cfg, char *const *envp, struct zt_buf *errs);

/* Set one leaf by dotted path ("server.listen") from a string, with the same
 * type and bound checks as the files; origin names the source in messages. */
ZT_NODISCARD int zt_config_set(struct zt_config *cfg, const char *path, const char *value,
                               const char *origin, struct zt_buf *errs);

/* Cross-field checks and derived values (role_mask, listen syntax, models).
 * Call after every source was applied. */
ZT_NODISCARD int zt_config_validate(struct zt_config *cfg, struct zt_buf *errs);

/* Effective configuration as YAML appended to out, secrets shown as
 * "<redacted>" (empty secrets as ""). It parses back with the kind
 * "config.example.yaml". On error out is left as it was. */
ZT_NODISCARD int zt_config_dump(const struct zt_config *cfg, struct zt_buf *out);

/* Reference of every key, generated from the tables: a Markdown table per
 * section (type, bounds, default, environment variable, description; the
 * key reference of docs/configuration.md) or commented-out environment
 * assignments with their defaults (.env.example). Tests check both files
 * contain it, so the docs cannot drift from the code. */
enum zt_config_doc_format {
    ZT_CONFIG_DOC_MARKDOWN = 0,
    ZT_CONFIG_DOC_ENV = 1,
};
ZT_NODISCARD int zt_config_describe(enum zt_config_doc_format fmt, struct zt_buf *out);

/* The configuration directory when none is given (--config): $ZENTALK_CONFIG,
 * else $ZENTALK_CONFIG_DIR, else NULL (the compiled-in defaults). The node
 * and the CLI both use it. */
const char *zt_config_default_dir(void);

/* The file of model entry e: an absolute path as it is; a relative one (or
 * models/<last segment of url> when path is empty) against data_dir, then
 * against the read-only assets directory (zt_assets_dir(): the bundled
 * demo model lives in its models/), so an entry keeps working whatever
 * --data-dir the node runs with. When neither has it, out is the data
 * directory's path (where `zentalk models pull` puts it) and alt (if not
 * NULL) the assets directory's. ZT_ETOOBIG: out too small. */
ZT_NODISCARD int zt_config_model_file(const char *data_dir, const struct zt_cfg_model *e, char *out, size_t n,
                                      char *alt, size_t alt_n);

/* --check-config's look at the model files of cfg (after validation):
 * an entry whose file is missing is an error, unless it has a url (then a
 * warning: `zentalk models pull` fetches it, the node starts and answers
 * 503 for it until then); a file that is not a GGUF (no "GGUF" magic) is a
 * warning (the node starts; that model answers 503). Lines are appended to
 * errs like zt_config_validate()'s. Returns 0 or ZT_ECONFIG (errors). */
ZT_NODISCARD int zt_config_check_model_files(const struct zt_config *cfg, struct zt_buf *errs);

void zt_config_deinit(struct zt_config *cfg);

#endif
