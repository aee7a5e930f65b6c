/* test_attack_relay_paths.c: the relay must not reach paths it should not
 * (issue 17 item 7). Before the fix a peer registered with an endpoint that
 * has a path (http://127.0.0.1:PORT/internal/admin) made the relay POST to
 * /internal/admin/v1/jobs/sealed and hand the internal answer to an
 * anonymous client.
 *
 * A fake "internal admin" HTTP server runs in this process on 127.0.0.1
 * and answers whatever the current test sets (a secret JSON document, an
 * HTML page, a redirect, a JSON error with extra members). The relay node R
 * has two peers: P, whose endpoint names the admin server with a path, and
 * B, whose endpoint is the admin server's bare address.
 *   - P is dropped when R loads its peers (WARN peer_dropped, the reason
 *     says "path"); relaying to P is 404 unknown_node and the admin server
 *     sees no request under /internal/admin.
 *   - B's answers that are not a sealed result or our JSON error become
 *     502 upstream_bad_answer; a JSON error is passed on rebuilt from its
 *     code, message and type (nothing else of it).
 *   - `zentalk peers add` refuses a descriptor with a path and says why.
 *   - the relay core (in this process) with private targets refused: a
 *     peer on loopback, RFC 1918, link-local (cloud metadata), [::1] or an
 *     IPv4-mapped loopback ends 403 private_target and nothing reaches the
 *     admin server; allowed, the same forward reaches it.
 * Usage: test_attack_relay_paths PATH/zentalk-node [PATH/zentalk] */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zt_test.h"

#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_envelope.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define ENVELOPE_CT "application/vnd.zentalk.envelope"
#define SECRET "secret-internal-state"

static const char *cli_bin;

/* ---- the fake internal admin server -------------------------------------- */

static int admin_fd;
static uint16_t admin_port;
static pthread_t admin_th;
static atomic_bool admin_stop;
static pthread_mutex_t admin_mu = PTHREAD_MUTEX_INITIALIZER;
static char admin_paths[4096];          /* the request lines it saw, one a line */
static const char *_Atomic admin_answer; /* the whole HTTP answer it sends */

static void *admin_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&admin_stop)) {
        struct pollfd pfd = {.fd = admin_fd, .events = POLLIN};
        if (poll(&pfd, 1, 100) != 1) continue;
        int c = accept(admin_fd, NULL, NULL);
        if (c < 0) continue;
        struct zt_buf req;
        zt_buf_init(&req, 1 << 20);
        char buf[4096];
        size_t need = 0;
        for (;;) { /* the head, then Content-Length bytes */
            struct pollfd cp = {.fd = c, .events = POLLIN};
            if (poll(&cp, 1, 5000) != 1) break;
            ssize_t r = recv(c, buf, sizeof buf, 0);
            if (r <= 0 || zt_buf_append(&req, buf, (size_t)r) != 0) break;
            const char *s = zt_buf_str(&req), *end = strstr(s, "\r\n\r\n");
            if (!end) continue;
            if (!need) {
                const char *cl = strcasestr(s, "\r\ncontent-length:");
                need = (size_t)(end + 4 - s) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
            }
            if (req.len >= need) break;
        }
        const char *s = zt_buf_str(&req), *eol = strstr(s, "\r\n");
        pthread_mutex_lock(&admin_mu);
        size_t have = strlen(admin_paths);
        if (eol && have + (size_t)(eol - s) + 2 < sizeof admin_paths) {
            memcpy(admin_paths + have, s, (size_t)(eol - s));
            admin_paths[have + (size_t)(eol - s)] = '\n';
            admin_paths[have + (size_t)(eol - s) + 1] = '\0';
        }
        pthread_mutex_unlock(&admin_mu);
        const char *a = atomic_load(&admin_answer);
        send_all(c, a, strlen(a));
        shutdown(c, SHUT_WR);
        zt_time_sleep_ms(20);
        close(c);
        zt_buf_deinit(&req);
    }
    return NULL;
}

static bool admin_saw(const char *needle)
{
    pthread_mutex_lock(&admin_mu);
    bool r = strstr(admin_paths, needle) != NULL;
    pthread_mutex_unlock(&admin_mu);
    return r;
}

/* ---- the relay node --------------------------------------------------- */

static struct zt_identity *P, *B, *R;
static char rdir[256];
static struct node relay;

static char *descriptor(const struct zt_identity *id, const char *endpoint)
{
    const char *roles[] = {"worker"};
    char *out = NULL;
    assert_int_equal(zt_identity_descriptor(id, roles, 1, NULL, 0, endpoint, zt_time_real_ms() / 1000 + 3600, &out),
                     0);
    return out;
}

static int setup(void **state)
{
    (void)state;
    admin_fd = listen_any(&admin_port);
    atomic_store(&admin_answer, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                "Connection: close\r\n\r\n{\"admin\":\"" SECRET "\"}\n\n");
    assert_int_equal(pthread_create(&admin_th, NULL, admin_main, NULL), 0);
    assert_int_equal(zt_identity_generate(&P), 0);
    assert_int_equal(zt_identity_generate(&B), 0);
    assert_int_equal(zt_identity_generate(&R), 0);
    tmp_dir(rdir, sizeof rdir, "relaypaths");
    char d[320], key[400], url[128];
    snprintf(d, sizeof d, "%s/data", rdir);
    assert_int_equal(mkdir(d, 0700), 0);
    snprintf(key, sizeof key, "%s/node.key", d);
    assert_int_equal(zt_identity_save(R, key, NULL, 0, NULL, 0, NULL), 0);
    char *ds[2];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/internal/admin", admin_port);
    ds[0] = descriptor(P, url);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", admin_port);
    ds[1] = descriptor(B, url);
    put_json_array(d, "peers.json", ds, 2);
    zt_free(ds[0]);
    zt_free(ds[1]);
    static const char *const env[] = {"ZENTALK_LOG_LEVEL=info", "ZENTALK_SERVER_RELAY_TIMEOUT_S=5", NULL};
    node_spawn(&relay, NULL, env, true, rdir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    atomic_store(&admin_stop, true);
    pthread_join(admin_th, NULL);
    close(admin_fd);
    if (relay.pid) node_cleanup(&relay);
    zt_identity_free(P);
    zt_identity_free(B);
    zt_identity_free(R);
    rm_rf(rdir);
    return 0;
}

/* A sealed envelope to target's kem_pk (*len bytes; zt_free it). */
static uint8_t *envelope(const struct zt_identity *target, size_t *len)
{
    struct zt_env_header h;
    memset(&h, 0, sizeof h);
    h.flags = ZT_ENV_FLAG_STREAM;
    h.suite = ZT_HPKE_SUITE_CHACHA;
    zt_env_job_id_new(h.job_id);
    memset(h.reply_pk, 9, sizeof h.reply_pk);
    uint64_t now = (uint64_t)(zt_time_real_ms() / 1000);
    h.created = now - 10;
    h.expires = now + 600;
    h.max_tokens = 16;
    h.model_len = 4;
    memcpy(h.model, "tiny", 5);
    uint8_t *env = NULL;
    static const uint8_t msg[] = "{\"prompt\":\"hi\"}";
    assert_int_equal(zt_env_seal(&h, zt_identity_kem_pk(target), msg, sizeof msg - 1, NULL, &env, len), 0);
    return env;
}

/* An anonymous client relays a sealed envelope to target through the node
 * listening on port. */
static void relay_via(uint16_t port, const struct zt_identity *target, struct resp *r)
{
    size_t len = 0;
    uint8_t *env = envelope(target, &len);
    char th[128];
    snprintf(th, sizeof th, "Zentalk-Target-Node: %s", zt_identity_id(target));
    const char *const hdrs[] = {"Content-Type: " ENVELOPE_CT, th, "Expect:", NULL};
    struct http_opts o = {.headers = hdrs, .body = env, .len = len, .sized = true};
    assert_int_equal(http_req(port, "POST", "/v1/relay/jobs", &o, r), 0);
    zt_free(env);
}

/* ... through R. */
static void relay_to(const struct zt_identity *target, struct resp *r)
{
    relay_via(relay.port, target, r);
}

static void assert_no_secret(struct resp *r)
{
    if (strstr(zt_buf_str(&r->body), SECRET) || strstr(zt_buf_str(&r->body), "admin")) {
        print_error("the relay handed the client the internal answer: %ld %s\n", r->status, zt_buf_str(&r->body));
        fail();
    }
}

static void test_path_endpoint_refused(void **state)
{
    (void)state;
    struct resp r;
    relay_to(P, &r);
    assert_no_secret(&r);
    assert_false(admin_saw("/internal/admin"));
    assert_error_json(&r, 404, "unknown_node");
    resp_free(&r);
}

/* Each of these answers from the upstream becomes 502 upstream_bad_answer. */
static void test_foreign_answers_are_502(void **state)
{
    (void)state;
    static const char *const answers[] = {
        /* another route's JSON document */
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        "{\"admin\":\"" SECRET "\"}\n\n",
        /* an HTML error page */
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n"
        "<html><body>" SECRET " admin</body></html>\n",
        /* a redirect into the internal network */
        "HTTP/1.1 302 Found\r\nLocation: http://10.0.0.1/admin\r\nContent-Type: text/plain\r\n"
        "Connection: close\r\n\r\n" SECRET "\n",
        /* a JSON answer with an error status that is not our error shape */
        "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\n"
        "Connection: close\r\n\r\n{\"admin\":\"" SECRET "\"}\n\n",
        /* our error shape under a success status */
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
        "{\"error\":{\"code\":\"x\",\"message\":\"" SECRET "\"}}\n\n\n\n\n\n\n\n",
    };
    for (size_t i = 0; i < sizeof answers / sizeof *answers; i++) {
        atomic_store(&admin_answer, answers[i]);
        struct resp r;
        relay_to(B, &r);
        assert_no_secret(&r);
        if (!strstr(zt_buf_str(&r.body), "upstream_bad_answer")) print_error("answer %zu: %ld %s\n", i, r.status, zt_buf_str(&r.body));
        assert_error_json(&r, 502, "upstream_bad_answer");
        resp_free(&r);
    }
    assert_true(admin_saw("POST /v1/jobs/sealed "));
}

/* A JSON error in our shape is passed on, with nothing but its code,
 * message and type. */
static void test_json_error_rebuilt(void **state)
{
    (void)state;
    atomic_store(&admin_answer,
                 "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\n"
                 "Connection: close\r\n\r\n"
                 "{\"error\":{\"code\":\"busy\",\"message\":\"later\",\"type\":\"t\",\"x\":\"" SECRET "\"},"
                 "\"y\":\"admin\"}\n");
    struct resp r;
    relay_to(B, &r);
    assert_no_secret(&r);
    assert_error_json(&r, 429, "busy");
    json_t *j = resp_json(&r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "error"), "message")), "later");
    json_decref(j);
    resp_free(&r);
}

static void test_cli_peers_add_refuses_path(void **state)
{
    (void)state;
    if (!cli_bin) zt_skip("no zentalk CLI given");
    char file[400], peers[400];
    char *d = descriptor(P, "http://127.0.0.1:9/internal/admin");
    put_file(rdir, "p.json", d);
    zt_free(d);
    snprintf(file, sizeof file, "%s/p.json", rdir);
    snprintf(peers, sizeof peers, "%s/cli-peers.json", rdir);
    const char *const add[] = {"peers", "add", file, "--file", peers, NULL};
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    assert_int_equal(run_prog(cli_bin, add, NULL, NULL, &out, RUN_MERGE_STDERR), 1);
    if (!strstr(zt_buf_str(&out), "path")) {
        print_error("peers add did not say why: %s\n", zt_buf_str(&out));
        fail();
    }
    assert_int_not_equal(access(peers, F_OK), 0); /* nothing written */
    zt_buf_deinit(&out);
}

/* Which endpoints a descriptor may carry. */
static void test_endpoint_forms(void **state)
{
    (void)state;
    static const char *const good[] = {"http://127.0.0.1:8080", "https://worker1.example:8443", "http://h",
                                       "http://h/", "http://[::1]:9", "https://[2001:db8::1]", "http://h:65535"};
    static const char *const bad[] = {"http://h/internal/admin", "http://h//", "http://h/?", "http://u@h",
                                      "http://h?x", "http://h#f", "ftp://h", "http://", "http://:80",
                                      "http://h:", "http://h:0", "http://h:65536", "http://h:80x", "http://[]:1",
                                      "http://[::1", "http://h:80/v1", "http://h\\x", "http://h x"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        const char *why = zt_peers_endpoint_problem(good[i]);
        if (why) print_error("%s refused: %s\n", good[i], why);
        assert_null(why);
    }
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (!zt_peers_endpoint_problem(bad[i])) print_error("%s accepted\n", bad[i]);
        assert_non_null(zt_peers_endpoint_problem(bad[i]));
    }
    assert_non_null(strstr(zt_peers_endpoint_problem("http://h/internal/admin"), "path"));
}

/* ---- the relay core with private targets refused ----------------------- */

struct sink_state {
    pthread_mutex_t mu;
    bool ended;
    int status;
    char code[64];
};

static int sink_start(void *ud, int status, const char *ct)
{
    (void)ct;
    struct sink_state *k = ud;
    pthread_mutex_lock(&k->mu);
    k->status = status;
    pthread_mutex_unlock(&k->mu);
    return 0;
}

static int sink_write(void *ud, const void *p, size_t n)
{
    (void)ud, (void)p, (void)n;
    return 0;
}

static void sink_end(void *ud, const struct zt_relay_end *e)
{
    struct sink_state *k = ud;
    pthread_mutex_lock(&k->mu);
    if (!e->started) {
        k->status = e->status;
        zt_strlcpy(k->code, e->code ? e->code : "", sizeof k->code);
    }
    k->ended = true;
    pthread_mutex_unlock(&k->mu);
}

/* Forward a sealed envelope to target (registered at endpoint) through a
 * relay core; the status and code the client would get. */
static int core_forward(const struct zt_identity *target, const char *endpoint, bool allow_private, char *code,
                        size_t code_cap)
{
    char *d = descriptor(target, endpoint);
    size_t dl = strlen(d);
    char *arr = zt_malloc(dl + 3);
    assert_non_null(arr);
    snprintf(arr, dl + 3, "[%s]", d);
    zt_free(d);
    struct zt_peers *peers;
    assert_int_equal(zt_peers_new(&peers), 0);
    size_t kept = 0;
    assert_int_equal(zt_peers_load_text(peers, arr, strlen(arr), zt_time_real_ms() / 1000, &kept, NULL, NULL), 0);
    zt_free(arr);
    assert_int_equal(kept, 1);
    struct zt_relay *relay_core;
    assert_int_equal(zt_relay_new(peers, 2, 4, &relay_core), 0);
    zt_relay_set_identity(relay_core, R);
    zt_relay_set_allow_private(relay_core, allow_private);
    size_t len = 0;
    uint8_t *env = envelope(target, &len);
    struct zt_relay_fwd *f = NULL;
    struct zt_relay_refusal why;
    assert_int_equal(zt_relay_accept(relay_core, zt_identity_id(target), ENVELOPE_CT, env, len, &f, &why), 0);
    zt_free(env);
    struct sink_state k = {.mu = PTHREAD_MUTEX_INITIALIZER};
    struct zt_relay_sink sink = {.start = sink_start, .write = sink_write, .end = sink_end, .ud = &k};
    assert_int_equal(zt_relay_start(f, &sink), 0);
    bool ended = false;
    for (int i = 0; i < 1000 && !ended; i++) {
        zt_time_sleep_ms(10);
        pthread_mutex_lock(&k.mu);
        ended = k.ended;
        pthread_mutex_unlock(&k.mu);
    }
    assert_true(ended);
    zt_relay_free(relay_core);
    zt_peers_free(peers);
    zt_strlcpy(code, k.code, code_cap);
    return k.status;
}

static void test_core_private_targets(void **state)
{
    (void)state;
    char code[64], url[128];
    static const char *const private_urls[] = {"http://10.1.2.3:9", "http://169.254.169.254", "http://[::1]:9",
                                               "http://[::ffff:127.0.0.1]:9", "http://192.168.0.1:9",
                                               "http://localhost:9"};
    for (size_t i = 0; i < sizeof private_urls / sizeof *private_urls; i++) {
        int st = core_forward(B, private_urls[i], false, code, sizeof code);
        if (st != 403 || strcmp(code, "private_target") != 0) {
            print_error("%s: %d %s\n", private_urls[i], st, code);
            fail();
        }
    }
    /* the admin server on 127.0.0.1: refused, and it sees nothing */
    atomic_store(&admin_answer, "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.zentalk.result\r\n"
                                "Connection: close\r\n\r\ncore-allowed");
    snprintf(url, sizeof url, "http://127.0.0.1:%u", admin_port);
    pthread_mutex_lock(&admin_mu);
    admin_paths[0] = '\0';
    pthread_mutex_unlock(&admin_mu);
    assert_int_equal(core_forward(B, url, false, code, sizeof code), 403);
    assert_false(admin_saw("POST"));
    /* allowed (the default): the same forward reaches it */
    assert_int_equal(core_forward(B, url, true, code, sizeof code), 200);
    assert_true(admin_saw("POST /v1/jobs/sealed "));
}

/* The node honours server.relay_private_targets: a relay told to refuse
 * private targets answers 403 private_target for B (on 127.0.0.1) and
 * sends it nothing; R (auto, listening on loopback) reaches it. */
static void test_node_refuses_private_targets(void **state)
{
    (void)state;
    char dir[256], d[320], key[400], url[128];
    tmp_dir(dir, sizeof dir, "relaypriv");
    snprintf(d, sizeof d, "%s/data", dir);
    assert_int_equal(mkdir(d, 0700), 0);
    snprintf(key, sizeof key, "%s/node.key", d);
    assert_int_equal(zt_identity_save(R, key, NULL, 0, NULL, 0, NULL), 0);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", admin_port);
    char *ds[1] = {descriptor(B, url)};
    put_json_array(d, "peers.json", ds, 1);
    zt_free(ds[0]);
    static const char *const env[] = {"ZENTALK_SERVER_RELAY_PRIVATE_TARGETS=refuse", "ZENTALK_SERVER_RELAY_TIMEOUT_S=5",
                                      NULL};
    struct node strict;
    node_spawn(&strict, NULL, env, true, dir);
    pthread_mutex_lock(&admin_mu);
    admin_paths[0] = '\0';
    pthread_mutex_unlock(&admin_mu);
    struct resp r;
    relay_via(strict.port, B, &r);
    assert_error_json(&r, 403, "private_target");
    resp_free(&r);
    assert_false(admin_saw("POST"));
    node_cleanup(&strict);
    rm_rf(dir);
}

/* The operator learns why P was dropped. */
static void test_log_says_why(void **state)
{
    (void)state;
    kill(relay.pid, SIGTERM);
    node_wait(&relay, 20000);
    struct zt_buf log;
    zt_buf_init(&log, 1 << 22);
    node_collect_stderr(&relay, &log);
    const char *l = strstr(zt_buf_str(&log), "peer_dropped");
    if (!l || !strstr(l, zt_identity_id(P)) || !strstr(l, "path")) {
        print_error("no peer_dropped line naming %s and its path: %s\n", zt_identity_id(P), zt_buf_str(&log));
        fail();
    }
    zt_buf_deinit(&log);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_attack_relay_paths ZENTALK_NODE [ZENTALK]\n");
        return 2;
    }
    node_bin = argv[1];
    cli_bin = argc > 2 ? argv[2] : NULL;
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_set_alloc_funcs(zt_malloc, zt_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_endpoint_refused),
        cmocka_unit_test(test_foreign_answers_are_502),
        cmocka_unit_test(test_json_error_rebuilt),
        cmocka_unit_test(test_cli_peers_add_refuses_path),
        cmocka_unit_test(test_endpoint_forms),
        cmocka_unit_test(test_core_private_targets),
        cmocka_unit_test(test_node_refuses_private_targets),
        cmocka_unit_test(test_log_says_why),
    };
    int rc = zt_test_exit(cmocka_run_group_tests(tests, setup, teardown));
    curl_global_cleanup();
    return rc;
}
