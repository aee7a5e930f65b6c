/* zentalk-node: the daemon. Reads the configuration, prepares the data
 * directory, starts the enabled roles and the HTTP API, and waits for
 * signals: SIGTERM/SIGINT drain and exit 0 within server.shutdown_timeout_s
 * (a watchdog thread ends the process at that deadline if the teardown
 * overruns), SIGHUP reopens the log file and reloads the peers file.
 *
 * Signals are blocked in every thread (the HTTP threads inherit the mask)
 * and taken synchronously here with sigtimedwait(), so no work happens in a
 * signal handler. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datadir.h"
#include "joiner.h"
#include "node.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_http_client.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_server.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_version.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: zentalk-node [OPTIONS]\n"
            "\n"
            "Run a zentalk-ai node: the gateway, orchestrator and worker roles\n"
            "chosen in config.yaml or --roles (all three by default), serving the HTTP API.\n"
            "\n"
            "Options:\n"
            "  -c, --config DIR      read the YAML files of DIR (config.yaml, models.yaml, ...);\n"
            "                        default $ZENTALK_CONFIG (or $ZENTALK_CONFIG_DIR), else the\n"
            "                        embedded defaults\n"
            "  -l, --listen HOST:PORT  listen address (overrides server.listen; port 0 = any)\n"
            "  -d, --data-dir DIR    data directory (overrides node.data_dir)\n"
            "  -r, --roles LIST      comma-separated roles: gateway, orchestrator, worker\n"
            "                        (overrides node.roles; default all three)\n"
            "  -j, --join URL        join the orchestrator at URL as a worker (repeatable;\n"
            "                        overrides node.join): heartbeat to it and accept the\n"
            "                        sealed jobs of its gateway, no peers file needed;\n"
            "                        URL#NODE_ID pins the orchestrator's node id\n"
            "      --orchestrator URL  (a gateway without the orchestrator role) place jobs\n"
            "                        through the orchestrator at URL[#NODE_ID]; a comma-\n"
            "                        separated list fails over to the next when one does\n"
            "                        not answer (overrides node.orchestrator)\n"
            "      --outbound        this worker cannot be reached (NAT): keep an outbound\n"
            "                        long-poll to the first --join orchestrator, which pushes\n"
            "                        sealed jobs over it (overrides node.outbound)\n"
            "      --rebuild-from-mesh  (an orchestrator that lost its data directory, its node\n"
            "                        key restored) rebuild its job and ledger records from\n"
            "                        the segments it published to the mesh, then exit;\n"
            "                        start it again without this flag\n"
            "      --check-config    validate the configuration and the model files, print\n"
            "                        problems, exit 0/1\n"
            "      --dump-config     print the effective configuration as YAML and exit\n"
            "  -h, --help            show this help and exit\n"
            "  -V, --version         show the version and exit\n"
            "\n"
            "Precedence: defaults < files in --config DIR < ZENTALK_<SECTION>_<KEY>\n"
            "environment variables < command-line flags. See docs/configuration.md.\n"
            "\n"
            "Signals: SIGTERM/SIGINT finish requests in flight and exit 0, within\n"
            "server.shutdown_timeout_s in all (also while the node is starting); a\n"
            "second one stops draining at once.\n"
            "SIGHUP reopens the log file and reloads encryption.peers_file.\n"
            "\n"
            "Exit status: 0 clean stop, 1 runtime or configuration error, 2 usage error.\n");
}

struct opts {
    const char *config_dir;
    const char *listen;
    const char *data_dir;
    const char *roles;
    char join[4096]; /* --join URLs, comma-separated */
    bool outbound;
    const char *orchestrator;
    bool check_config;
    bool dump_config;
    bool rebuild;
};

static int parse_args(int argc, char **argv, struct opts *o)
{
    enum { OPT_CHECK = 256, OPT_DUMP, OPT_OUTBOUND, OPT_ORCH, OPT_REBUILD };
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"data-dir", required_argument, NULL, 'd'},
        {"roles", required_argument, NULL, 'r'},
        {"join", required_argument, NULL, 'j'},
        {"outbound", no_argument, NULL, OPT_OUTBOUND},
        {"orchestrator", required_argument, NULL, OPT_ORCH},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"rebuild-from-mesh", no_argument, NULL, OPT_REBUILD},
        {"dump-config", no_argument, NULL, OPT_DUMP},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:l:d:r:j:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': o->config_dir = optarg; break;
        case 'l': o->listen = optarg; break;
        case 'd': o->data_dir = optarg; break;
        case 'r': o->roles = optarg; break;
        case 'j': {
            size_t have = strlen(o->join);
            if (strchr(optarg, ',') || have + strlen(optarg) + 2 > sizeof o->join) {
                fprintf(stderr, "zentalk-node: --join takes one URL (repeat the option for more)\n");
                return 2;
            }
            snprintf(o->join + have, sizeof o->join - have, "%s%s", have ? "," : "", optarg);
            break;
        }
        case OPT_CHECK: o->check_config = true; break;
        case OPT_OUTBOUND: o->outbound = true; break;
        case OPT_ORCH: o->orchestrator = optarg; break;
        case OPT_DUMP: o->dump_config = true; break;
        case OPT_REBUILD: o->rebuild = true; break;
        case 'h': usage(stdout); exit(0);
        case 'V':
            printf("zentalk-node %s (commit %s, %s, %s)\n", ZT_VERSION, ZT_GIT_COMMIT,
                   ZT_BUILD_TYPE, ZT_COMPILER);
            exit(0);
        case ':':
            fprintf(stderr, "zentalk-node: option %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "zentalk-node: unknown option %s (see --help)\n", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "zentalk-node: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }
    return 0;
}

static bool listen_is_loopback(const char *listen)
{
    char host[256];
    uint16_t port;
    if (zt_str_split_hostport(listen, host, sizeof host, &port) != 0) return false;
    return zt_str_eq(host, "localhost") || zt_str_eq(host, "::1") || zt_str_starts_with(host, "127.");
}

/* A listener off loopback that must authenticate needs a key to check
 * tokens with; without one no request could ever be served. */
static int check_auth_config(const struct zt_config *cfg)
{
    if (!cfg->encryption.require_auth || cfg->encryption.jwt_secret[0] ||
        cfg->encryption.jwt_public_key_file[0] || listen_is_loopback(cfg->server.listen))
        return 0;
    fprintf(stderr,
            "zentalk-node: server.listen %s is not a loopback address and encryption.require_auth is "
            "true, but encryption.jwt_secret is empty (and so is encryption.jwt_public_key_file): set "
            "the JWT secret (e.g. ZENTALK_ENCRYPTION_JWT_SECRET) or a public key, listen on 127.0.0.1, or "
            "set encryption.require_auth "
            "to false\n",
            cfg->server.listen);
    return ZT_ECONFIG;
}

/* Load, override and validate. Problems go to stderr. */
static int load_config(const struct opts *o, struct zt_config *cfg)
{
    struct zt_buf errs;
    zt_buf_init(&errs, 1u << 20);
    int rc = zt_config_init_defaults(cfg);
    if (!rc && o->config_dir) rc = zt_config_load_dir(cfg, o->config_dir, &errs);
    if (!rc) rc = zt_config_apply_env(cfg, environ, &errs);
    if (!rc && o->listen) rc = zt_config_set(cfg, "server.listen", o->listen, "--listen", &errs);
    if (!rc && o->data_dir) rc = zt_config_set(cfg, "node.data_dir", o->data_dir, "--data-dir", &errs);
    if (!rc && o->roles) rc = zt_config_set(cfg, "node.roles", o->roles, "--roles", &errs);
    if (!rc && o->join[0]) rc = zt_config_set(cfg, "node.join", o->join, "--join", &errs);
    if (!rc && o->outbound) rc = zt_config_set(cfg, "node.outbound", "true", "--outbound", &errs);
    if (!rc && o->orchestrator)
        rc = zt_config_set(cfg, "node.orchestrator", o->orchestrator, "--orchestrator", &errs);
    if (!rc) rc = zt_config_validate(cfg, &errs);
    if (!rc) rc = check_auth_config(cfg);
    if (!rc) rc = zt__joiner_check(cfg, &errs);
    if (errs.len) fputs(zt_buf_str(&errs), stderr);
    if (errs.len && errs.data[errs.len - 1] != '\n') fputc('\n', stderr);
    if (rc == ZT_ENOTFOUND && o->config_dir)
        fprintf(stderr, "zentalk-node: config directory %s: not found\n", o->config_dir);
    else if (rc && !errs.len)
        fprintf(stderr, "zentalk-node: configuration: %s\n", zt_strerror(rc));
    zt_buf_deinit(&errs);
    return rc;
}

/* --check-config also looks at the model files (missing: error; not a
 * GGUF: warning), which a starting node leaves to the first request. */
static int check_model_files(const struct zt_config *cfg)
{
    struct zt_buf errs;
    zt_buf_init(&errs, 1u << 20);
    int rc = zt_config_check_model_files(cfg, &errs);
    if (errs.len) fputs(zt_buf_str(&errs), stderr);
    zt_buf_deinit(&errs);
    return rc;
}

static void roles_string(unsigned mask, char *out, size_t n)
{
    const char *names[ZT_ROLE_COUNT];
    size_t k = zt_role_list(mask, names);
    out[0] = '\0';
    for (size_t i = 0; i < k; i++) {
        if (i) strncat(out, ",", n - strlen(out) - 1);
        strncat(out, names[i], n - strlen(out) - 1);
    }
}

/* Each role reports what it has. Models load lazily, and there is no
 * scheduler or ledger yet: the roles are ready as soon as the API serves,
 * and their detail says plainly what is there. */
static void mark_roles_ready(struct zt_server *srv, const struct zt_config *cfg)
{
    char detail[128];
    if (cfg->node.role_mask & ZT_ROLE_GATEWAY)
        zt_server_set_ready(srv, ZT_ROLE_GATEWAY, true, "http api serving");
    if (cfg->node.role_mask & ZT_ROLE_ORCHESTRATOR)
        zt_server_set_ready(srv, ZT_ROLE_ORCHESTRATOR, true, "single node, no peers");
    if (cfg->node.role_mask & ZT_ROLE_WORKER) {
        snprintf(detail, sizeof detail, "%zu model(s) configured, loaded on first use", cfg->n_models);
        zt_server_set_ready(srv, ZT_ROLE_WORKER, true, detail);
    }
}

/* The stop's time bound (server.shutdown_timeout_s): at least this long,
 * and at most this long of it kept for the teardown after draining. */
#define STOP_MIN_MS 1000u
#define STOP_RESERVE_MS 2000u

/* Ends the process at deadline_ms unless done is set first: the last
 * resort when the ordered teardown overruns server.shutdown_timeout_s (a
 * model still loading, a job that cannot be cut mid-step). */
struct stop_watchdog {
    pthread_t thread;
    uint64_t deadline_ms;
    atomic_bool done;
};

static void *stop_watchdog_run(void *arg)
{
    struct stop_watchdog *w = arg;
    while (!atomic_load(&w->done)) {
        if (zt_time_mono_ms() >= w->deadline_ms) {
            zt_log(ZT_LOG_WARN, "shutdown_deadline",
                   "detail=\"server.shutdown_timeout_s passed during the teardown: exiting now\"");
            _exit(0); /* log lines are single write(2)s: nothing buffered is lost */
        }
        zt_time_sleep_ms(10);
    }
    return NULL;
}

/* A stop asked for while the node starts (SIGTERM/SIGINT before the
 * main loop's sigwaitinfo): taken here at once, so the start skips its
 * remaining steps and stops (the `stopping` label in run), and the process ends within
 * server.shutdown_timeout_s of the signal even if a step in progress
 * never returns (the last resort, as stop_watchdog_run). SIGHUP is left
 * pending for the main loop. */
struct start_guard {
    pthread_t thread;
    sigset_t stops;      /* SIGTERM, SIGINT */
    uint64_t timeout_ms; /* server.shutdown_timeout_s (at least STOP_MIN_MS) */
    int exit_code;       /* of the last resort: 0, 1 for --rebuild-from-mesh (it did not finish) */
    atomic_int sig;      /* the stop signal taken (0: none) */
    atomic_bool done;    /* the start is over: the main loop takes signals */
};

static void *start_guard_run(void *arg)
{
    struct start_guard *g = arg;
    uint64_t deadline = 0;
    while (!atomic_load(&g->done)) {
        if (deadline && zt_time_mono_ms() >= deadline) {
            zt_log(ZT_LOG_WARN, "shutdown_deadline",
                   "detail=\"server.shutdown_timeout_s passed since a stop signal during the start: exiting now\"");
            _exit(g->exit_code);
        }
        struct timespec tick = {0, 20 * 1000000L};
        int sig = sigtimedwait(&g->stops, NULL, &tick);
        if ((sig == SIGTERM || sig == SIGINT) && !atomic_load(&g->sig)) {
            atomic_store(&g->sig, sig);
            deadline = zt_time_mono_ms() + g->timeout_ms;
            zt_log(ZT_LOG_INFO, "shutdown_requested", "signal=%s detail=\"during the start: stopping\"",
                   sig == SIGTERM ? "SIGTERM" : "SIGINT");
        }
    }
    return NULL;
}

/* The start is over (or abandoned): the guard ends; the signal it took, or 0. */
static int start_guard_end(struct start_guard *g, bool started)
{
    if (started) {
        atomic_store(&g->done, true);
        pthread_join(g->thread, NULL);
    }
    return atomic_load(&g->sig);
}

#define REBUILD_WAIT_MS 120000 /* for the head in the DHT and each segment */

/* SIGTERM, SIGINT and SIGHUP in *set, blocked in the calling thread. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
}

static int run(struct zt_config *cfg, bool rebuild)
{
    int rc = 1, lock_fd = -1;
    struct zt_node *node = NULL;
    struct zt_server *srv = NULL; /* the node's */
    struct zt_identity *identity = NULL;
    struct zt_buf err;
    zt_buf_init(&err, 4096);
    char node_id[ZT_NODE_ID_MAX];

    /* Blocked since main (block_signals), before any thread exists, so
     * all threads inherit it; a stop from there on is taken (start_guard,
     * then the main loop), never the default action's abrupt end. */
    sigset_t set;
    block_signals(&set);
    signal(SIGPIPE, SIG_IGN);
    uint64_t stop_ms = (uint64_t)cfg->server.shutdown_timeout_s * 1000u;
    struct start_guard guard = {.timeout_ms = stop_ms < STOP_MIN_MS ? STOP_MIN_MS : stop_ms, .exit_code = rebuild};
    sigemptyset(&guard.stops);
    sigaddset(&guard.stops, SIGTERM);
    sigaddset(&guard.stops, SIGINT);
    bool guarded = pthread_create(&guard.thread, NULL, start_guard_run, &guard) == 0;
    int stop_sig = 0;

    enum zt_log_level level = ZT_LOG_INFO;
    zt_ignore(zt_log_level_parse(cfg->log.level, &level));
    enum zt_log_format fmt = zt_str_eq(cfg->log.format, "json") ? ZT_LOG_JSON : ZT_LOG_TEXT;
    if (zt_log_open(cfg->log.file, level, fmt) != 0) {
        fprintf(stderr, "zentalk-node: cannot open log file %s: %s\n", cfg->log.file, strerror(errno));
        goto out;
    }
    if (zt_hash_init() != 0) {
        fprintf(stderr, "zentalk-node: libsodium failed to initialise\n");
        goto out;
    }
    if (zt__datadir_prepare(cfg->node.data_dir, &err) != 0 ||
        zt__datadir_lock(cfg->node.data_dir, &lock_fd, &err) != 0) {
        fprintf(stderr, "zentalk-node: %s\n", zt_buf_str(&err));
        goto out;
    }
    /* The identity: its id is the node's id unless node.id names it for
     * display; the derived one is always logged. */
    char key_path[4096];
    bool key_created = false;
    const char *pass_env = cfg->encryption.passphrase_env ? cfg->encryption.passphrase_env : "";
    const char *key_file = cfg->encryption.key_file && cfg->encryption.key_file[0]
                               ? cfg->encryption.key_file
                               : "node.key";
    if (zt__datadir_identity(cfg->node.data_dir, key_file, pass_env, &identity, &key_created, key_path,
                             sizeof key_path, &err) != 0) {
        fprintf(stderr, "zentalk-node: %s\n", zt_buf_str(&err));
        goto out;
    }
    zt_log(ZT_LOG_INFO, key_created ? "identity_created" : "identity_loaded", "node_id=%s key_file=%s",
           zt_identity_id(identity), key_path);
    zt_strlcpy(node_id, cfg->node.id[0] ? cfg->node.id : zt_identity_id(identity), sizeof node_id);

    zt_buf_reset(&err);
    if (zt_node_new(cfg, node_id, identity, &node, &err) != 0) {
        fprintf(stderr, "zentalk-node: cannot build the node: %s\n", zt_buf_str(&err));
        goto out;
    }
    srv = zt_node_server(node);
    if (atomic_load(&guard.sig)) { /* asked to stop while it was built: nothing is running yet */
        zt_log(ZT_LOG_INFO, "node_stopped", "node_id=%s detail=\"stopped during the start\"", node_id);
        if (rebuild) fprintf(stderr, "zentalk-node: stopped before the rebuild from the mesh ran\n");
        rc = rebuild ? 1 : 0; /* a rebuild that did not run is no success */
        goto out;
    }
    int src = zt_node_start(node);
    if (src == ZT_EADDRINUSE) {
        fprintf(stderr, "zentalk-node: cannot listen on %s: address already in use "
                        "(is another zentalk-node running? choose another with --listen)\n",
                cfg->server.listen);
        goto out;
    } else if (src) {
        int e = errno;
        fprintf(stderr, "zentalk-node: cannot listen on %s: %s%s%s\n", cfg->server.listen,
                zt_strerror(src),
                src == ZT_EINVAL ? " (host must be a numeric IP address or localhost)" : ": ",
                src == ZT_EINVAL ? "" : strerror(e));
        goto out;
    }
    if (atomic_load(&guard.sig)) goto stopping;
    if (zt_node_start_dht(node, &err) != 0) { /* node.dht_port: discovery (zt_dht.h) */
        fprintf(stderr, "zentalk-node: %s\n", zt_buf_str(&err));
        goto out;
    }
    if (atomic_load(&guard.sig)) goto stopping;
    if (rebuild) { /* --rebuild-from-mesh: the store from the published segments, then exit */
        zt_buf_reset(&err);
        int rrc = zt_node_rebuild_from_mesh(node, REBUILD_WAIT_MS, &err);
        fprintf(rrc ? stderr : stdout, "zentalk-node: %s%s\n", rrc ? "cannot rebuild from the mesh: " : "",
                zt_buf_str(&err));
        zt_log(rrc ? ZT_LOG_ERROR : ZT_LOG_INFO, "dbsync_rebuild", "result=%s detail=\"%s\"",
               rrc ? zt_strerror(rrc) : "ok", zt_buf_str(&err));
        if (!rrc) rc = 0;
        goto out;
    }
    if (zt_node_start_dbsync(node) != 0) {
        fprintf(stderr, "zentalk-node: cannot start the database sync\n");
        goto out;
    }
    if (atomic_load(&guard.sig)) goto stopping;
    char host[256];
    uint16_t port;
    zt_ignore(zt_str_split_hostport(cfg->server.listen, host, sizeof host, &port));
    port = zt_server_port(srv);
    const char *h = host[0] ? host : "127.0.0.1";
    bool v6 = strchr(h, ':') != NULL;
    char url[300];
    snprintf(url, sizeof url, "%s://%s%s%s:%u", zt_server_tls(srv) ? "https" : "http", v6 ? "[" : "", h, v6 ? "]" : "",
             (unsigned)port);
    char roles[64];
    roles_string(cfg->node.role_mask, roles, sizeof roles);
    zt_log(ZT_LOG_INFO, "node_started",
           "version=%s node_id=%s roles=%s url=%s data_dir=%s threads=%lld pid=%ld", ZT_VERSION,
           node_id, roles, url, cfg->node.data_dir, (long long)cfg->server.threads, (long)getpid());
    if (!cfg->encryption.jwt_secret[0] && !cfg->encryption.jwt_public_key_file[0])
        zt_log(ZT_LOG_WARN, "auth_disabled",
               "detail=\"no encryption.jwt_secret: bearer tokens are not accepted; loopback clients act "
               "as admin, others %s\"",
               cfg->encryption.require_auth ? "are refused" : "get role user");
    else
        zt_log(ZT_LOG_INFO, "auth_enabled", "tokens=required_%s rate_limit_rps=%lld rate_limit_burst=%lld",
               cfg->encryption.require_auth && !listen_is_loopback(cfg->server.listen) ? "always"
                                                                                        : "for_admin",
               (long long)cfg->server.rate_limit_rps, (long long)cfg->server.rate_limit_burst);
    /* ready before the line clients (and tests) wait for: a /readyz right
     * after "listening" must not see the roles still starting */
    mark_roles_ready(srv, cfg);
    printf("zentalk-node listening on %s\n", url);
    fflush(stdout);

    stop_sig = start_guard_end(&guard, guarded); /* from here the main loop takes the signals */
    guarded = false;
    while (!stop_sig) {
        siginfo_t si;
        int sig = sigwaitinfo(&set, &si);
        if (sig < 0) continue; /* EINTR */
        if (sig == SIGHUP) {
            if (zt_log_reopen() != 0)
                zt_log(ZT_LOG_ERROR, "log_reopen_failed", "file=%s", cfg->log.file);
            else
                zt_log(ZT_LOG_INFO, "log_reopened", "file=%s", cfg->log.file[0] ? cfg->log.file : "stderr");
            zt_buf_reset(&err);
            if (zt_node_reload_peers(node, &err) != 0) /* the previous peers stay */
                zt_log(ZT_LOG_ERROR, "peers_reload_failed", "detail=\"%s\"", zt_buf_str(&err));
            continue;
        }
        stop_sig = sig;
    }
stopping: /* also from the start, asked to stop on its way (start_guard) */
    if (guarded) {
        stop_sig = start_guard_end(&guard, guarded);
        guarded = false;
    }
    zt_log(ZT_LOG_INFO, "shutdown_started", "signal=%s inflight=%lld timeout_s=%lld",
           stop_sig == SIGTERM ? "SIGTERM" : "SIGINT", (long long)zt_server_inflight(srv),
           (long long)cfg->server.shutdown_timeout_s);
    zt_node_begin_stop(node); /* a joined worker takes no new job from here */

    /* The whole stop fits in server.shutdown_timeout_s (at least
     * STOP_MIN_MS): requests in flight drain until the last quarter of it
     * (at most STOP_RESERVE_MS before the end), which is left to the
     * ordered teardown, whose own waits end at the deadline; a watchdog
     * ends the process at the deadline if the teardown still runs. A
     * second signal stops draining at once. */
    uint64_t t0 = zt_time_mono_ms(), timeout_ms = (uint64_t)cfg->server.shutdown_timeout_s * 1000u;
    if (timeout_ms < STOP_MIN_MS) timeout_ms = STOP_MIN_MS;
    uint64_t deadline = t0 + timeout_ms;
    uint64_t reserve = timeout_ms / 4 < STOP_RESERVE_MS ? timeout_ms / 4 : STOP_RESERVE_MS;
    struct stop_watchdog dog = {.deadline_ms = deadline};
    bool dog_started = pthread_create(&dog.thread, NULL, stop_watchdog_run, &dog) == 0;
    int drc = ZT_ETIMEDOUT;
    struct timespec tick = {0, 20 * 1000000L};
    zt_ignore(zt_server_drain(srv, 0)); /* stop accepting now */
    while (zt_time_mono_ms() + reserve < deadline) {
        if (zt_server_inflight(srv) == 0) {
            drc = 0;
            break;
        }
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGTERM || sig == SIGINT) {
            zt_log(ZT_LOG_WARN, "shutdown_forced", "inflight=%lld", (long long)zt_server_inflight(srv));
            break;
        }
    }
    if (drc != 0 && zt_server_inflight(srv) == 0) drc = 0;
    if (drc != 0)
        zt_log(ZT_LOG_WARN, "shutdown_incomplete", "inflight=%lld detail=\"closing remaining connections\"",
               (long long)zt_server_inflight(srv));
    zt_node_set_stop_deadline(node, deadline - reserve / 4); /* a little room for what follows the waits */
    zt_node_free(node);
    node = NULL;
    if (dog_started) {
        atomic_store(&dog.done, true);
        pthread_join(dog.thread, NULL);
    }
    zt_log(ZT_LOG_INFO, "node_stopped", "node_id=%s", node_id);
    if (rebuild) fprintf(stderr, "zentalk-node: stopped before the rebuild from the mesh ran\n");
    rc = rebuild ? 1 : 0; /* only --rebuild-from-mesh stopped during its start comes here */
out:
    zt_node_free(node);
    zt_identity_free(identity);
    if (lock_fd >= 0) close(lock_fd);
    zt_buf_deinit(&err);
    zt_ignore(start_guard_end(&guard, guarded));
    zt_log_close();
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    int prc = parse_args(argc, argv, &o);
    if (prc) return prc;
    if (!o.check_config && !o.dump_config) { /* the daemon: a stop while the configuration loads waits for run() */
        sigset_t set;
        block_signals(&set);
    }
    if (!o.config_dir) o.config_dir = zt_config_default_dir(); /* $ZENTALK_CONFIG, as the CLI */
    /* jansson allocates through our wrappers so leaks there are counted too */
    json_set_alloc_funcs(zt_malloc, zt_free);

    struct zt_config cfg;
    memset(&cfg, 0, sizeof cfg);
    int rc = load_config(&o, &cfg);
    if (o.check_config) {
        if (rc == 0) rc = check_model_files(&cfg);
        if (rc == 0) printf("configuration OK%s%s\n", o.config_dir ? ": " : " (embedded defaults)",
                            o.config_dir ? o.config_dir : "");
        zt_config_deinit(&cfg);
        return rc == 0 ? 0 : 1;
    }
    if (rc) {
        zt_config_deinit(&cfg);
        return 1;
    }
    if (o.dump_config) {
        struct zt_buf b;
        zt_buf_init(&b, 1u << 22);
        rc = zt_config_dump(&cfg, &b);
        if (rc == 0) fputs(zt_buf_str(&b), stdout);
        zt_buf_deinit(&b);
        zt_config_deinit(&cfg);
        return rc == 0 ? 0 : 1;
    }
    /* libcurl (the outbound HTTP client) is initialised once, here, before
     * any thread exists */
    if (zt_net_client_global_init() != 0) {
        fprintf(stderr, "zentalk-node: libcurl failed to initialise\n");
        zt_config_deinit(&cfg);
        return 1;
    }
    rc = run(&cfg, o.rebuild);
    zt_net_client_global_cleanup();
    zt_config_deinit(&cfg);
    return rc;
}
