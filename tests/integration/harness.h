/* harness.h: helpers for the black-box tests (see harness.c). Failures
 * are cmocka assertions. */
#ifndef ZT_TEST_HARNESS_H
#define ZT_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <sys/types.h>

#include "zentalk/zt_buf.h"
#include "zt_test.h"

extern const char *node_bin; /* path of zentalk-node */

/* The start of a black-box test's main(): node_bin = argv[1] (false, with
 * the usage "TEST ZENTALK_NODE ZENTALK" printed, when argc < 3) and
 * SIGPIPE ignored. */
bool harness_start(int argc, char **argv, const char *test);

struct node {
    pid_t pid;
    int out_fd;  /* child's stdout */
    int err_fd;  /* child's stderr */
    uint16_t port;
    char dir[256];      /* temp dir holding data/ and logs */
    char data_dir[300];
    char url[128];      /* from the banner: SCHEME://HOST:PORT */
};

struct resp {
    long status;
    struct zt_buf body;
    struct zt_buf headers;
    char ctype[128]; /* the Content-Type of the answer ("" if none) */
};

/* Everything a request can vary (zero = the default). */
struct http_opts {
    const char *url;            /* a whole URL instead of http://127.0.0.1:PORT + path */
    const char *ctype;          /* Content-Type of the body; NULL: curl's default, or none with no_ctype */
    bool no_ctype;              /* send no Content-Type at all */
    const char *auth;           /* Authorization value ("Bearer T"); NULL: none */
    const char *const *headers; /* more "Name: value" lines, NULL-terminated */
    const void *body;           /* request body: len bytes when sized, else a C string */
    size_t len;
    bool sized;
    const char *ca_file;        /* https: the CA to trust */
    long timeout_ms;            /* 0: 60 s (sanitizer builds on a loaded 2-core machine) */
    const char *from;           /* source address to bind ("127.0.0.2": another client address); NULL: any */
    size_t body_max;            /* 0: 16 MiB kept of the answer */
    /* Called after each piece of the answer's body arrives (r->body so far). */
    void (*on_body)(struct resp *r, void *ud);
    void *ud;
};

/* One request; the answer in r (resp_free it, whatever the result). Returns
 * curl's result, CURLE_OK (0) when an answer came: no assertion, for tests
 * that expect a failure (a TLS error, a refused connection). */
int http_req(uint16_t port, const char *method, const char *path, const struct http_opts *o, struct resp *r);

void rm_rf(const char *path);
/* A fresh directory /tmp/zt-TAG-XXXXXX (mode 0700) in buf; fails the test
 * if it cannot be made. Every test makes its own: no test reads another's. */
void tmp_dir(char *buf, size_t cap, const char *tag);
/* The committed test model NAME (tests/models) as an absolute path in buf;
 * skips the current test, saying why, when it is absent. */
void need_test_model(const char *name, char *buf, size_t cap);
/* The same without skipping: false (and buf "") when absent. */
bool find_test_model(const char *name, char *buf, size_t cap);
bool read_until(int fd, struct zt_buf *b, const char *needle, int timeout_ms);
/* Start zentalk-node with --listen 127.0.0.1:0 (unless extra names
 * --listen) and --data-dir DIR/data (unless extra names --data-dir) in a
 * fresh temp dir (or reuse_dir), extra args and env ("NAME=value")
 * added. wait_listen: wait for its banner and read the port (the test
 * fails if it does not come). */
void node_spawn(struct node *n, const char *const *extra, const char *const *env,
                bool wait_listen, const char *reuse_dir);
/* Like node_spawn, for a node that may refuse to start or listen on
 * another scheme or host: waits for the banner ("listening on
 * SCHEME://HOST:PORT") and returns the port, or 0 when the node exited
 * first (its stderr appended to err, if given). */
uint16_t node_start(struct node *n, const char *const *extra, const char *const *env,
                    const char *reuse_dir, struct zt_buf *err);
int node_wait(struct node *n, int timeout_ms);
void node_collect_stderr(struct node *n, struct zt_buf *b);
void node_cleanup(struct node *n);
/* SIGTERM, the node must exit 0 within timeout_ms, then node_cleanup and
 * its temp dir removed. */
void node_stop(struct node *n, int timeout_ms);
size_t on_body(char *p, size_t s, size_t n, void *ud);
void http(uint16_t port, const char *method, const char *path, const char *ctype,
          const char *body, struct resp *r);
/* Like http() with an Authorization header value (e.g. "Bearer TOKEN"; NULL = none). */
void http_auth(uint16_t port, const char *method, const char *path, const char *auth, const char *ctype,
               const char *body, struct resp *r);
/* Write text to dir/name. */
void put_file(const char *dir, const char *name, const char *text);
/* Start a node on 0.0.0.0:0 with --config cfg_dir and wait for its port. */
void node_spawn_public(struct node *n, const char *cfg_dir);
/* A request with a binary body of len bytes (body may be NULL: none) and
 * extra header lines ("Name: value", NULL-terminated list, or NULL). */
void http_bin(uint16_t port, const char *method, const char *path, const char *ctype, const void *body,
              size_t len, const char *const *headers, struct resp *r);
void resp_free(struct resp *r);
/* An HS256 JWT (malloc'd: free() it) under secret for sub and role, iss
 * zentalk-api and aud zentalk-ai (the defaults of integration.*), expiring
 * ttl_s seconds from now (negative: already expired). Fails the test on
 * error. */
char *jwt_mint(const char *secret, const char *sub, const char *role, long ttl_s);
/* POST body (JSON) to path, with an Authorization value (NULL: none);
 * asserts the status is want and returns the parsed answer. */
json_t *post_json(uint16_t port, const char *path, const char *auth, const char *body, long want);

/* Run a program (no shell; PATH searched when prog has no '/') with args
 * (NULL-terminated, after argv[0]), env entries "NAME=value" set and
 * "NAME" unset in the child, stdin from in (NULL: /dev/null). Its stdout
 * goes to out (NULL: /dev/null), and its stderr too with RUN_MERGE_STDERR
 * (else, or with out NULL, stderr is the test's own; RUN_QUIET discards
 * it). Returns its exit status, 128 + signal when killed, 127 when it
 * could not be executed. */
#define RUN_MERGE_STDERR 1u
#define RUN_QUIET 2u
int run_prog(const char *prog, const char *const *args, const char *const *env, const char *in,
             struct zt_buf *out, unsigned flags);
/* Run a shell command line (popen); its stdout in out (cap bytes, NUL
 * terminated) or appended to b; returns its exit status, -1 if killed. */
int run_shell(const char *cmd, char *out, size_t cap);
int run_shell_buf(const char *cmd, struct zt_buf *b);

/* Run this test program again (argv, through run_prog) inside a private
 * network namespace, `unshare -n` with lo up, for tests of what binds
 * every address (the OpenDHT C API). Returns -1 when already inside (the
 * caller goes on with its tests), else the inner run's exit status after
 * printing its output; 77 with "SKIP: why" when no namespace can be made
 * (unshare needs root or user namespaces; ip needs iproute2). */
int netns_rerun(int argc, char **argv);
/* A worker's entry in the view of the orchestrator at port (GET
 * /v1/orchestrator/nodes, as admin from loopback): a new reference, or
 * NULL when it is not listed. */
json_t *orch_node(uint16_t port, const char *node_id);
/* A job's state in the view of the orchestrator at port (GET
 * /v1/orchestrator/jobs): "" when it is not listed. Static storage. */
const char *orch_job_state(uint16_t port, const char *job);
/* Wait (at most timeout_ms) until that orchestrator counts want live
 * workers; returns the last count seen. */
long orch_wait_live(uint16_t port, long want, int timeout_ms);
/* How many entries of j's "jobs" (GET /v1/orchestrator/jobs, `zentalk
 * jobs --json`) are in state. */
long jobs_in_state_of(const json_t *j, const char *state);
/* The same at the orchestrator at port (its last 100 jobs). */
long orch_jobs_in_state(uint16_t port, const char *state);
/* The same as `zentalk jobs --json` (the cli binary, ZENTALK_URL=url:
 * exit status 0) shows them. */
long cli_jobs_in_state(const char *cli, const char *url, const char *state);
/* The worker of a running job at the orchestrator at port (among its last
 * 5 jobs), or "". */
void orch_running_worker(uint16_t port, char *out, size_t n);
/* Play a remote gateway at that orchestrator: lease a job of model
 * "stories" (8 tokens), report it started and ok on its worker; job and
 * worker (64 bytes each) filled, verify (cap bytes) the "verify" the ok
 * answer carries ("" when the job was not drawn for a check). */
void orch_lease_run(uint16_t port, char *job, char *worker, char *verify, size_t cap);
/* Whether netns_rerun can make its namespace (false: it would skip). */
bool netns_available(void);

/* A listening TCP socket on 127.0.0.1, port 0 (its port in *port): for the
 * fake peers a test plays itself. */
int listen_any(uint16_t *port);
/* The value of one sample line of GET /metrics ("name{labels}"), or -1. */
long long metric_value(uint16_t port, const char *name);
/* metric_value, polled until it is at least min (at most timeout_ms): for
 * a counter the node moves after it answered the request that moves it
 * (the gateway counts a job ended once its client has the answer).
 * Returns the last value read. */
long long metric_wait_at_least(uint16_t port, const char *name, long long min, int timeout_ms);
/* Write dir/name: a JSON array of the n JSON texts items (a peers file). */
void put_json_array(const char *dir, const char *name, char *const *items, size_t n);
json_t *resp_json(struct resp *r);
void assert_error_json(struct resp *r, long status, const char *code);
int tcp_connect(uint16_t port);
void send_all(int fd, const void *p, size_t n);
size_t response_complete(const char *s, size_t len);
int raw_request(uint16_t port, const void *req, size_t len, struct zt_buf *out);
/* The node id of the node at port (GET /v1/node/descriptor) into out; its
 * descriptor's text too when desc is not NULL (zt_free it). */
void node_id_of(uint16_t port, char *out, size_t cap, char **desc);
/* POST body (a chat request) to /v1/chat/completions at port: the status;
 * on 200 the answer's text appended to text (the deltas of a stream) and
 * the worker it ran on (zentalk.ran_on) in ran_on; an SSE error record
 * makes it 502. A status other than 200 is printed with its body. */
long chat_text(uint16_t port, const char *body, bool stream, struct zt_buf *text, char *ran_on, size_t cap);
/* The same with an Authorization value (NULL: none). */
long chat_text_auth(uint16_t port, const char *auth, const char *body, bool stream, struct zt_buf *text, char *ran_on,
                    size_t cap);

/* ---- a loopback network (issue 11) ---------------------------------------- */
/* A fresh config dir (tmp_dir with tag) whose models.yaml serves
 * tests/models/stories260K.gguf as "stories" (context 256, at most 16
 * tokens) on one thread, max_batch jobs at once. False (nothing made)
 * when the model is missing. */
bool net_config(char *cfg_dir, size_t cap, const char *tag, unsigned max_batch);
/* Spawn a worker on cfg_dir that joins gw_url (--roles worker --join;
 * --listen listen when not NULL; reuse_dir as node_spawn) and read its
 * node id into id (64 bytes). */
void net_worker(struct node *n, const char *cfg_dir, const char *gw_url, const char *const *env, const char *listen,
                const char *reuse_dir, char *id);
/* A verifying loopback network (test_verify_network, test_ledger_cheat):
 * a gateway+orchestrator started with gw_env and, joined to it on a
 * net_config dir (tag; 2 jobs at once per worker), one cheating worker
 * with cheat_env (joined first: with equal scores it wins the first
 * placements) and n_honest (1..NET_HONEST_MAX) workers with wk_env. False,
 * nothing started, when the model is missing. */
#define NET_HONEST_MAX 4
struct net_cheat {
    char cfg_dir[256];
    struct node gw, cheat, wk[NET_HONEST_MAX];
    char cheat_id[64], wk_id[NET_HONEST_MAX][64];
    int n_honest;
};
bool net_cheat_start(struct net_cheat *n, const char *tag, int n_honest, const char *const *gw_env,
                     const char *const *cheat_env, const char *const *wk_env);
/* Stop every node net_cheat_start started; remove its config dir. */
void net_cheat_stop(struct net_cheat *n);

#endif
