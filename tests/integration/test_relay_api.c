/* test_relay_api: the oblivious relay and signed node requests, black-box.
 *
 * Two real nodes: R (the relay) and T (a target), each with a key made
 * here and a peers file naming the other; plus, inside this process, a
 * fake upstream F (a socket that records exactly what the relay sent and
 * streams a response in two parts) and a dead endpoint D (a closed port).
 *   client -> R -> T: T's own answer (its route /v1/jobs/sealed or, before
 *     the worker route exists, its 404) passes through with T's status;
 *     T counted a valid node signature from R.
 *   client -> R -> F: the body arrives unchanged, signed by R (verified here
 *     with R's descriptor), with no client header; F's status, content
 *     type and body stream back part by part.
 *   unknown / invalid / missing target, bad envelope, wrong content type:
 *     the relay's own 4xx; D: 502; a target that never answers: 504.
 *   T directly: bad, unknown, replayed signatures are 401; with
 *     encryption.relay_callers=peer an unsigned caller is 401.
 *   `zentalk job run --via R` -> R -> W (a worker with the tiny model that
 *     admits only signed peers): the sealed job runs end to end. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_envelope.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"


#define ENVELOPE_CT "application/vnd.zentalk.envelope"

/* ---- fake upstream ------------------------------------------------------ */

enum fake_mode { FAKE_STREAM, FAKE_HANG };

struct fake {
    int lfd;
    uint16_t port;
    pthread_t th;
    bool joined;
    enum fake_mode mode;
    struct zt_buf req;       /* the raw request received */
    atomic_bool client_got_part1;
    atomic_bool stop;
    bool part1_before_part2; /* the client had part 1 before part 2 was sent */
};


static const char *find_ci(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    for (const char *p = hay; *p; p++)
        if (strncasecmp(p, needle, n) == 0) return p;
    return NULL;
}

static void *fake_main(void *arg)
{
    struct fake *f = arg;
    struct pollfd pfd = {.fd = f->lfd, .events = POLLIN};
    if (poll(&pfd, 1, 20000) != 1) return NULL;
    int c = accept(f->lfd, NULL, NULL);
    if (c < 0) return NULL;
    char buf[4096];
    size_t need = 0;
    for (;;) { /* headers, then Content-Length bytes */
        ssize_t r = recv(c, buf, sizeof buf, 0);
        if (r <= 0) break;
        if (zt_buf_append(&f->req, buf, (size_t)r) != 0) break;
        const char *s = zt_buf_str(&f->req), *end = strstr(s, "\r\n\r\n");
        if (!end) continue;
        if (!need) {
            const char *cl = find_ci(s, "\r\ncontent-length:");
            need = (size_t)(end + 4 - s) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
        }
        if (f->req.len >= need) break;
    }
    if (f->mode == FAKE_HANG) {
        for (int i = 0; i < 1000 && !atomic_load(&f->stop); i++) zt_time_sleep_ms(10);
        close(c);
        return NULL;
    }
    static const char head[] = "HTTP/1.1 203 Non-Authoritative Information\r\n"
                               "Content-Type: application/vnd.zentalk.result\r\n"
                               "X-Upstream-Private: 1\r\n"
                               "Transfer-Encoding: chunked\r\n\r\n"
                               "5\r\nhello\r\n";
    send_all(c, head, sizeof head - 1);
    for (int i = 0; i < 1000 && !atomic_load(&f->client_got_part1); i++) zt_time_sleep_ms(10);
    f->part1_before_part2 = atomic_load(&f->client_got_part1);
    static const char tail[] = "6\r\n world\r\n0\r\n\r\n";
    send_all(c, tail, sizeof tail - 1);
    zt_time_sleep_ms(50);
    close(c);
    return NULL;
}

static void fake_start(struct fake *f, enum fake_mode mode)
{
    memset(f, 0, sizeof *f);
    f->mode = mode;
    zt_buf_init(&f->req, 1 << 20);
    f->lfd = listen_any(&f->port);
    assert_int_equal(pthread_create(&f->th, NULL, fake_main, f), 0);
}

static void fake_stop(struct fake *f)
{
    atomic_store(&f->stop, true);
    atomic_store(&f->client_got_part1, true);
    if (!f->joined) pthread_join(f->th, NULL);
    close(f->lfd);
    zt_buf_deinit(&f->req);
}

/* ---- nodes -------------------------------------------------------------- */

struct peer_node {
    struct zt_identity *id;
    char dir[256];
    struct node n;
};

static void make_dir(struct peer_node *p)
{
    tmp_dir(p->dir, sizeof p->dir, "relay");
    char d[320], key[400];
    snprintf(d, sizeof d, "%s/data", p->dir);
    assert_int_equal(mkdir(d, 0700), 0);
    assert_int_equal(zt_identity_generate(&p->id), 0);
    snprintf(key, sizeof key, "%s/node.key", d);
    assert_int_equal(zt_identity_save(p->id, key, NULL, 0, NULL, 0, NULL), 0);
}

static char *descriptor(const struct zt_identity *id, const char *endpoint)
{
    const char *roles[] = {"worker"};
    char *out = NULL;
    assert_int_equal(zt_identity_descriptor(id, roles, 1, NULL, 0, endpoint,
                                            zt_time_real_ms() / 1000 + 3600, &out),
                     0);
    return out;
}

static void write_peers(struct peer_node *p, char **descs, size_t n)
{
    struct zt_buf b;
    zt_buf_init(&b, 1 << 20);
    assert_int_equal(zt_buf_append_str(&b, "["), 0);
    for (size_t i = 0; i < n; i++) {
        if (i) assert_int_equal(zt_buf_append_str(&b, ",\n"), 0);
        assert_int_equal(zt_buf_append_str(&b, descs[i]), 0);
    }
    assert_int_equal(zt_buf_append_str(&b, "]\n"), 0);
    char d[320];
    snprintf(d, sizeof d, "%s/data", p->dir);
    put_file(d, "peers.json", zt_buf_str(&b));
    zt_buf_deinit(&b);
}

static void spawn(struct peer_node *p, const char *const *env)
{
    node_spawn(&p->n, NULL, env, true, p->dir);
}

/* A sealed envelope to kem_pk (its cleartext header is what the relay reads). */
static uint8_t *envelope(const uint8_t *kem_pk, int64_t expires_in, size_t *len)
{
    struct zt_env_header h;
    memset(&h, 0, sizeof h);
    h.flags = ZT_ENV_FLAG_STREAM;
    h.suite = ZT_HPKE_SUITE_CHACHA;
    zt_env_job_id_new(h.job_id);
    memset(h.reply_pk, 9, sizeof h.reply_pk);
    uint64_t now = (uint64_t)(zt_time_real_ms() / 1000);
    h.created = now - 100;
    h.expires = (uint64_t)((int64_t)now + expires_in);
    h.max_tokens = 16;
    h.model_len = 4;
    memcpy(h.model, "tiny", 5);
    uint8_t *out = NULL;
    static const uint8_t msg[] = "{\"prompt\":\"secret\"}";
    assert_int_equal(zt_env_seal(&h, kem_pk, msg, sizeof msg - 1, NULL, &out, len), 0);
    return out;
}

struct client_resp {
    long status;
    struct zt_buf body;
    struct zt_buf headers;
    char ctype[128];
    struct fake *fake; /* told when "hello" arrived */
};

/* Tells the fake upstream when the first part of the answer ("hello") reached the client. */
static void on_part(struct resp *r, void *ud)
{
    struct fake *f = ud;
    if (f && strstr(zt_buf_str(&r->body), "hello")) atomic_store(&f->client_got_part1, true);
}

/* POST body to port's path with extra headers (NULL-terminated). */
static void post(uint16_t port, const char *path, const void *body, size_t len, const char *const *hdrs,
                 struct client_resp *r)
{
    const char *h[16];
    size_t n = 0;
    for (size_t i = 0; hdrs && hdrs[i] && n < 14; i++) h[n++] = hdrs[i];
    h[n++] = "Expect:";
    h[n] = NULL;
    struct http_opts o = {.headers = h, .body = body, .len = len, .sized = true, .body_max = 1u << 20,
                          .on_body = on_part, .ud = r->fake};
    struct resp hr;
    int rc = http_req(port, "POST", path, &o, &hr);
    if (rc != 0) fprintf(stderr, "curl POST %s: error %d\n", path, rc);
    assert_int_equal(rc, 0);
    r->status = hr.status;
    r->body = hr.body;
    r->headers = hr.headers;
    zt_strlcpy(r->ctype, hr.ctype, sizeof r->ctype);
}

static void client_resp_free(struct client_resp *r)
{
    zt_buf_deinit(&r->body);
    zt_buf_deinit(&r->headers);
}

static void assert_code(struct client_resp *r, long status, const char *code)
{
    if (r->status != status) fprintf(stderr, "status %ld body %s\n", r->status, zt_buf_str(&r->body));
    assert_int_equal(r->status, status);
    json_t *j = json_loads(zt_buf_str(&r->body), 0, NULL);
    assert_non_null(j);
    const char *got = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
    if (!got || strcmp(got, code) != 0) fprintf(stderr, "code %s, wanted %s\n", got ? got : "-", code);
    assert_string_equal(got, code);
    json_decref(j);
}

/* The value of metric line `name` in port's /metrics, or -1. */
static long long metric(uint16_t port, const char *name)
{
    return metric_value(port, name);
}

/* ---- the scenario ------------------------------------------------------- */

static struct peer_node R, T, F, D, X; /* X: a node nobody registered */
static struct fake fake;
static uint16_t dead_port;

static int setup(void **state)
{
    (void)state;
    make_dir(&R);
    make_dir(&T);
    make_dir(&F);
    make_dir(&D);
    make_dir(&X);
    fake_start(&fake, FAKE_STREAM);
    int dfd = listen_any(&dead_port);
    close(dfd); /* nothing listens there now */
    /* T trusts R (the endpoint does not matter for checking signatures) */
    char *dr = descriptor(R.id, "http://127.0.0.1:1");
    write_peers(&T, &dr, 1);
    zt_free(dr);
    static const char *const tenv[] = {"ZENTALK_ENCRYPTION_RELAY_CALLERS=peer", NULL};
    spawn(&T, tenv);
    char url[64];
    char *ds[3];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", T.n.port);
    ds[0] = descriptor(T.id, url);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", fake.port); /* a trailing '/' is dropped */
    ds[1] = descriptor(F.id, url);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", dead_port);
    ds[2] = descriptor(D.id, url);
    write_peers(&R, ds, 3);
    for (int i = 0; i < 3; i++) zt_free(ds[i]);
    static const char *const renv[] = {"ZENTALK_SERVER_RELAY_TIMEOUT_S=2", NULL};
    spawn(&R, renv);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    fake_stop(&fake);
    struct peer_node *all[] = {&R, &T, &F, &D, &X};
    for (size_t i = 0; i < 5; i++) {
        if (all[i]->n.pid) node_cleanup(&all[i]->n);
        zt_identity_free(all[i]->id);
        rm_rf(all[i]->dir);
    }
    return 0;
}

static void relay(const struct zt_identity *target, const void *body, size_t len, struct client_resp *r)
{
    char th[128];
    snprintf(th, sizeof th, "Zentalk-Target-Node: %s", zt_identity_id(target));
    const char *const hdrs[] = {"Content-Type: " ENVELOPE_CT, th, "Authorization: Bearer client-secret-token",
                                "X-Forwarded-For: 203.0.113.7", "User-Agent: client-app/1.0",
                                "Cookie: session=abc", NULL};
    post(R.n.port, "/v1/relay/jobs", body, len, hdrs, r);
}

static void test_relay_to_real_node(void **state)
{
    (void)state;
    size_t len;
    uint8_t *env = envelope(zt_identity_kem_pk(T.id), 600, &len);
    struct client_resp r = {0};
    relay(T.id, env, len, &r);
    /* T's own answer: before the worker route exists, T's 404 */
    json_t *j = json_loads(zt_buf_str(&r.body), 0, NULL);
    const char *code = j ? json_string_value(json_object_get(json_object_get(j, "error"), "code")) : NULL;
    assert_true(r.status != 502 && r.status != 504);
    if (code) { /* never one of the relay's own refusals */
        assert_true(strcmp(code, "unknown_node") != 0 && strcmp(code, "upstream_unreachable") != 0 &&
                    strcmp(code, "invalid_envelope") != 0);
    }
    /* T served exactly this status on the sealed route (or as unmatched) */
    char name[128];
    snprintf(name, sizeof name, "zentalk_http_requests_total{route=\"/v1/jobs/sealed\",status=\"%ld\"}", r.status);
    char name2[128];
    snprintf(name2, sizeof name2, "zentalk_http_requests_total{route=\"unmatched\",status=\"%ld\"}", r.status);
    long long n1 = -1, n2 = -1;
    for (int i = 0; i < 100 && n1 != 1 && n2 != 1; i++) { /* T counts a request when it completes */
        n1 = metric(T.n.port, name);
        n2 = metric(T.n.port, name2);
        if (n1 != 1 && n2 != 1) zt_time_sleep_ms(20);
    }
    assert_true(n1 == 1 || n2 == 1);
    if (n2 == 1) assert_string_equal(code, "not_found");
    /* ... having checked R's signature */
    assert_int_equal(metric(T.n.port, "zentalk_node_auth_total{result=\"ok\"}"), 1);
    assert_int_equal(metric(R.n.port, "zentalk_relay_requests_total{outcome=\"forwarded\"}"), 1);
    /* /v1/status lists R's three peers */
    struct resp st;
    http(R.n.port, "GET", "/v1/status", NULL, NULL, &st);
    json_t *sj = resp_json(&st);
    assert_int_equal(json_array_size(json_object_get(sj, "peers")), 3);
    json_decref(sj);
    resp_free(&st);
    json_decref(j);
    client_resp_free(&r);
    zt_free(env);
}

static void test_relay_streams_and_strips(void **state)
{
    (void)state;
    size_t len;
    uint8_t *env = envelope(zt_identity_kem_pk(F.id), 600, &len);
    struct client_resp r = {0};
    r.fake = &fake;
    relay(F.id, env, len, &r);
    assert_int_equal(r.status, 203);
    assert_string_equal(r.ctype, "application/vnd.zentalk.result");
    assert_int_equal(r.body.len, 11);
    assert_memory_equal(r.body.data, "hello world", 11);
    assert_null(find_ci(zt_buf_str(&r.headers), "x-upstream-private"));
    pthread_join(fake.th, NULL);
    fake.joined = true;
    assert_true(fake.part1_before_part2); /* streamed, not buffered */

    /* what F received */
    const char *q = zt_buf_str(&fake.req);
    const char *end = strstr(q, "\r\n\r\n");
    assert_non_null(end);
    assert_true(zt_str_starts_with(q, "POST /v1/jobs/sealed HTTP/1.1\r\n"));
    size_t hl = (size_t)(end + 4 - q);
    assert_int_equal(fake.req.len - hl, len);
    assert_memory_equal(q + hl, env, len);
    char *head = zt_strndup(q, hl);
    const char *banned[] = {"authorization:", "x-forwarded-for", "forwarded:", "user-agent:", "cookie:",
                            "x-real-ip", "zentalk-target-node", "203.0.113.7", "client-"};
    for (size_t i = 0; i < sizeof banned / sizeof banned[0]; i++) {
        if (find_ci(head, banned[i])) fprintf(stderr, "upstream saw %s:\n%s\n", banned[i], head);
        assert_null(find_ci(head, banned[i]));
    }
    assert_non_null(find_ci(head, "\r\ncontent-type: " ENVELOPE_CT "\r\n"));
    /* the signature: R's, for F, over this request */
    char vals[4][128];
    const char *names[4] = {"\r\nZentalk-Node: ", "\r\nZentalk-Date: ", "\r\nZentalk-Nonce: ",
                            "\r\nZentalk-Signature: "};
    for (int i = 0; i < 4; i++) {
        const char *p = find_ci(head, names[i]);
        assert_non_null(p);
        p += strlen(names[i]);
        size_t vl = strcspn(p, "\r");
        assert_true(vl < sizeof vals[i]);
        memcpy(vals[i], p, vl);
        vals[i][vl] = '\0';
    }
    assert_string_equal(vals[0], zt_identity_id(R.id));
    struct zt_nodeauth_parsed np;
    assert_int_equal(zt_nodeauth_parse(vals[0], vals[1], vals[2], vals[3], &np), 0);
    struct zt_peers *peers;
    struct zt_nodeauth_verifier *v;
    assert_int_equal(zt_peers_new(&peers), 0);
    assert_int_equal(zt_nodeauth_verifier_new(16, &v), 0);
    char *dr = descriptor(R.id, "http://127.0.0.1:1");
    char arr[8192];
    snprintf(arr, sizeof arr, "[%s]", dr);
    assert_int_equal(zt_peers_load_text(peers, arr, strlen(arr), zt_time_real_ms() / 1000, NULL, NULL, NULL), 0);
    assert_int_equal(zt_nodeauth_verify(v, peers, zt_identity_id(F.id), "POST", "/v1/jobs/sealed", env, len, &np,
                                        zt_time_real_ms() / 1000, NULL),
                     0);
    zt_free(dr);
    zt_free(head);
    zt_nodeauth_verifier_free(v);
    zt_peers_free(peers);
    client_resp_free(&r);
    zt_free(env);
}

static void test_relay_refusals(void **state)
{
    (void)state;
    size_t len;
    uint8_t *env = envelope(zt_identity_kem_pk(T.id), 600, &len);
    struct client_resp r = {0};
    relay(X.id, env, len, &r); /* well-formed id, not registered */
    assert_code(&r, 404, "unknown_node");
    client_resp_free(&r);

    const char *const bad_id[] = {"Content-Type: " ENVELOPE_CT, "Zentalk-Target-Node: zt1nope", NULL};
    post(R.n.port, "/v1/relay/jobs", env, len, bad_id, &r);
    assert_code(&r, 400, "invalid_target");
    client_resp_free(&r);
    const char *const no_target[] = {"Content-Type: " ENVELOPE_CT, NULL};
    post(R.n.port, "/v1/relay/jobs", env, len, no_target, &r);
    assert_code(&r, 400, "missing_target");
    client_resp_free(&r);
    char th[128];
    snprintf(th, sizeof th, "Zentalk-Target-Node: %s", zt_identity_id(T.id));
    const char *const json_ct[] = {"Content-Type: application/json", th, NULL};
    post(R.n.port, "/v1/relay/jobs", env, len, json_ct, &r);
    assert_code(&r, 415, "unsupported_media_type");
    client_resp_free(&r);
    const char *const ok_hdrs[] = {"Content-Type: " ENVELOPE_CT, th, NULL};
    post(R.n.port, "/v1/relay/jobs", "garbage", 7, ok_hdrs, &r);
    assert_code(&r, 400, "invalid_envelope");
    client_resp_free(&r);
    uint8_t *old = envelope(zt_identity_kem_pk(T.id), -10, &len);
    post(R.n.port, "/v1/relay/jobs", old, len, ok_hdrs, &r);
    assert_code(&r, 400, "expired_envelope");
    client_resp_free(&r);
    zt_free(old);

    relay(D.id, env, len, &r); /* registered, nothing listening */
    assert_code(&r, 502, "upstream_unreachable");
    client_resp_free(&r);
    zt_free(env);
}

static void test_relay_timeout(void **state)
{
    (void)state;
    /* F again, now accepting and never answering */
    fake_stop(&fake);
    fake_start(&fake, FAKE_HANG);
    /* R knows F at the old port: re-register F at the new one (SIGHUP) */
    char url[64], *ds[3];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", T.n.port);
    ds[0] = descriptor(T.id, url);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", fake.port);
    ds[1] = descriptor(F.id, url);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", dead_port);
    ds[2] = descriptor(D.id, url);
    write_peers(&R, ds, 3);
    for (int i = 0; i < 3; i++) zt_free(ds[i]);
    kill(R.n.pid, SIGHUP);
    zt_time_sleep_ms(300);
    size_t len;
    uint8_t *env = envelope(zt_identity_kem_pk(F.id), 600, &len);
    struct client_resp r = {0};
    uint64_t t0 = zt_time_mono_ms();
    relay(F.id, env, len, &r);
    assert_code(&r, 504, "upstream_timeout");
    assert_true(zt_time_mono_ms() - t0 >= 1500);
    client_resp_free(&r);
    zt_free(env);
}

/* Signed requests straight to T. */
static void signed_post(const struct zt_identity *from, const char *to, const char *path, const char *body,
                        const char *tamper_sig, struct zt_nodeauth_headers *reuse, struct client_resp *r)
{
    struct zt_nodeauth_headers h;
    if (reuse && reuse->node[0]) {
        h = *reuse;
    } else {
        assert_int_equal(zt_nodeauth_sign(from, to, "POST", path, body, strlen(body), zt_time_real_ms() / 1000, &h),
                         0);
        if (reuse) *reuse = h;
    }
    char l[4][160];
    snprintf(l[0], sizeof l[0], "Zentalk-Node: %s", h.node);
    snprintf(l[1], sizeof l[1], "Zentalk-Date: %s", h.date);
    snprintf(l[2], sizeof l[2], "Zentalk-Nonce: %s", h.nonce);
    snprintf(l[3], sizeof l[3], "Zentalk-Signature: %s", tamper_sig ? tamper_sig : h.sig);
    const char *const hdrs[] = {"Content-Type: " ENVELOPE_CT, l[0], l[1], l[2], l[3], NULL};
    post(T.n.port, path, body, strlen(body), hdrs, r);
}

static void test_node_auth_on_target(void **state)
{
    (void)state;
    struct client_resp r = {0};
    const char *tid = zt_identity_id(T.id);
    /* relay_callers=peer on T: unsigned callers are refused */
    const char *const plain[] = {"Content-Type: " ENVELOPE_CT, NULL};
    post(T.n.port, "/v1/relay/jobs", "x", 1, plain, &r);
    assert_code(&r, 401, "unauthorized");
    client_resp_free(&r);
    /* R signed: through the gate, then T's relay has no such target */
    struct zt_nodeauth_headers once;
    memset(&once, 0, sizeof once);
    signed_post(R.id, tid, "/v1/relay/jobs", "x", NULL, &once, &r);
    assert_code(&r, 400, "missing_target");
    client_resp_free(&r);
    /* the same signature again: a replay */
    signed_post(R.id, tid, "/v1/relay/jobs", "x", NULL, &once, &r);
    assert_code(&r, 401, "invalid_node_signature");
    client_resp_free(&r);
    /* an unregistered node */
    signed_post(X.id, tid, "/v1/relay/jobs", "x", NULL, NULL, &r);
    assert_code(&r, 401, "invalid_node_signature");
    client_resp_free(&r);
    /* signed for another node (R), sent to T */
    signed_post(R.id, zt_identity_id(F.id), "/v1/relay/jobs", "x", NULL, NULL, &r);
    assert_code(&r, 401, "invalid_node_signature");
    client_resp_free(&r);
    /* a malformed signature */
    signed_post(R.id, tid, "/v1/relay/jobs", "x", "AAAA", NULL, &r);
    assert_code(&r, 401, "invalid_node_signature");
    client_resp_free(&r);
    assert_true(metric(T.n.port, "zentalk_node_auth_total{result=\"replay\"}") == 1);
    assert_true(metric(T.n.port, "zentalk_node_auth_total{result=\"unknown_node\"}") == 1);
    assert_true(metric(T.n.port, "zentalk_node_auth_total{result=\"bad_signature\"}") == 1);
    assert_true(metric(T.n.port, "zentalk_node_auth_total{result=\"malformed\"}") == 1);
}

static const char *cli_bin;

static int run_quiet(const char *const *argv)
{
    return run_prog(argv[0], argv + 1, NULL, NULL, NULL, RUN_QUIET);
}

/* A relay R2 (CA file set, long timeout) in front of an HTTPS target TS and
 * a fake upstream that never answers: the signed request crosses TLS, and a
 * client that gives up aborts the upstream transfer at once. */
static void test_relay_https_and_client_abort(void **state)
{
    (void)state;
    struct peer_node TS, R2;
    memset(&TS, 0, sizeof TS);
    memset(&R2, 0, sizeof R2);
    make_dir(&TS);
    make_dir(&R2);
    char cert[400], key[400];
    snprintf(cert, sizeof cert, "%s/tls.crt", TS.dir);
    snprintf(key, sizeof key, "%s/tls.key", TS.dir);
    const char *const gen[] = {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                               "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                               "-addext", "subjectAltName=IP:127.0.0.1", NULL};
    assert_int_equal(run_quiet(gen), 0);
    char *dr = descriptor(R2.id, "http://127.0.0.1:1");
    write_peers(&TS, &dr, 1);
    zt_free(dr);
    char ce[500], ke[500];
    snprintf(ce, sizeof ce, "ZENTALK_SERVER_TLS_CERT_FILE=%s", cert);
    snprintf(ke, sizeof ke, "ZENTALK_SERVER_TLS_KEY_FILE=%s", key);
    const char *const tenv[] = {ce, ke, NULL};
    node_spawn(&TS.n, NULL, tenv, false, TS.dir);
    struct zt_buf b;
    zt_buf_init(&b, 1 << 16);
    assert_true(read_until(TS.n.out_fd, &b, "\n", 15000));
    const char *lp = strstr(zt_buf_str(&b), "listening on https://127.0.0.1:");
    assert_non_null(lp);
    uint16_t tport = (uint16_t)strtoul(lp + strlen("listening on https://127.0.0.1:"), NULL, 10);
    zt_buf_deinit(&b);

    struct fake hang;
    fake_start(&hang, FAKE_HANG);
    struct peer_node H;
    memset(&H, 0, sizeof H);
    make_dir(&H);
    char url[64], *ds[2];
    snprintf(url, sizeof url, "https://127.0.0.1:%u", tport);
    ds[0] = descriptor(TS.id, url);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", hang.port);
    ds[1] = descriptor(H.id, url);
    write_peers(&R2, ds, 2);
    zt_free(ds[0]);
    zt_free(ds[1]);
    char ca[500];
    snprintf(ca, sizeof ca, "ZENTALK_SERVER_RELAY_CA_FILE=%s", cert);
    const char *const renv[] = {ca, "ZENTALK_SERVER_RELAY_TIMEOUT_S=30", NULL};
    spawn(&R2, renv);

    /* through TLS: the target's own answer, and it saw R2's signature */
    size_t len;
    uint8_t *env = envelope(zt_identity_kem_pk(TS.id), 600, &len);
    struct client_resp r = {0};
    char th[128];
    snprintf(th, sizeof th, "Zentalk-Target-Node: %s", zt_identity_id(TS.id));
    const char *const hdrs[] = {"Content-Type: " ENVELOPE_CT, th, NULL};
    post(R2.n.port, "/v1/relay/jobs", env, len, hdrs, &r);
    assert_true(r.status != 502 && r.status != 504);
    assert_int_equal(metric(R2.n.port, "zentalk_relay_requests_total{outcome=\"forwarded\"}"), 1);
    client_resp_free(&r);
    zt_free(env);

    /* the client gives up after 300 ms: the transfer ends long before the 30 s timeout */
    env = envelope(zt_identity_kem_pk(H.id), 600, &len);
    snprintf(th, sizeof th, "Zentalk-Target-Node: %s", zt_identity_id(H.id));
    const char *const h300[] = {"Content-Type: " ENVELOPE_CT, th, NULL};
    struct http_opts o300 = {.headers = h300, .body = env, .len = len, .sized = true, .timeout_ms = 300};
    struct resp gave_up;
    assert_int_equal(http_req(R2.n.port, "POST", "/v1/relay/jobs", &o300, &gave_up), CURLE_OPERATION_TIMEDOUT);
    resp_free(&gave_up);
    uint64_t t0 = zt_time_mono_ms();
    long long inflight = -1;
    while (zt_time_mono_ms() - t0 < 8000) {
        inflight = metric(R2.n.port, "zentalk_relay_in_flight");
        if (inflight == 0) break;
        zt_time_sleep_ms(50);
    }
    assert_int_equal(inflight, 0);
    /* and the client's connection was released (only this /metrics request is left) */
    /* (the value the loop saw: asking again races with the end of the
     * previous /metrics request, which may still count for a moment) */
    long long http_inflight = -1;
    while (zt_time_mono_ms() - t0 < 8000 && (http_inflight = metric(R2.n.port, "zentalk_http_requests_in_flight")) != 1)
        zt_time_sleep_ms(50);
    assert_int_equal(http_inflight, 1);
    zt_free(env);
    fake_stop(&hang);
    struct peer_node *all[] = {&TS, &R2, &H};
    for (size_t i = 0; i < 3; i++) {
        if (all[i]->n.pid) node_cleanup(&all[i]->n);
        zt_identity_free(all[i]->id);
        rm_rf(all[i]->dir);
    }
}

/* Run the CLI with args; exit status, output in out. */
static int cli(const char *const *args, struct zt_buf *out)
{
    return run_prog(cli_bin, args, NULL, NULL, out, RUN_MERGE_STDERR);
}

static void test_cli_peers_add(void **state)
{
    (void)state;
    if (!cli_bin) skip();
    char peers[400], dfile[400], bad[400];
    snprintf(peers, sizeof peers, "%s/cli-peers.json", X.dir);
    snprintf(dfile, sizeof dfile, "%s/t.json", X.dir);
    snprintf(bad, sizeof bad, "%s/bad.json", X.dir);
    char *d = descriptor(T.id, "http://127.0.0.1:9");
    put_file(X.dir, "t.json", d);
    zt_free(d);
    struct zt_buf out;
    zt_buf_init(&out, 1 << 16);
    const char *const add[] = {"peers", "add", dfile, "--file", peers, NULL};
    assert_int_equal(cli(add, &out), 0);
    assert_non_null(strstr(zt_buf_str(&out), zt_identity_id(T.id)));
    /* again with a newer endpoint: replaced, not duplicated */
    d = descriptor(T.id, "http://127.0.0.1:10");
    put_file(X.dir, "t.json", d);
    zt_free(d);
    zt_buf_reset(&out);
    assert_int_equal(cli(add, &out), 0);
    struct zt_buf text;
    zt_buf_init(&text, 1 << 20);
    FILE *f = fopen(peers, "r");
    assert_non_null(f);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) assert_int_equal(zt_buf_append(&text, chunk, n), 0);
    fclose(f);
    struct zt_peers *p;
    assert_int_equal(zt_peers_new(&p), 0);
    size_t kept = 0, dropped = 0;
    assert_int_equal(zt_peers_load_text(p, text.data, text.len, zt_time_real_ms() / 1000, &kept, &dropped, NULL), 0);
    assert_int_equal(kept, 1);
    assert_int_equal(dropped, 0);
    struct zt_peer peer;
    assert_int_equal(zt_peers_lookup(p, zt_identity_id(T.id), zt_time_real_ms() / 1000, &peer), 0);
    assert_string_equal(peer.endpoint, "http://127.0.0.1:10");
    zt_peers_free(p);
    /* list */
    const char *const list[] = {"peers", "list", "--file", peers, NULL};
    zt_buf_reset(&out);
    assert_int_equal(cli(list, &out), 0);
    assert_non_null(strstr(zt_buf_str(&out), "ok"));
    /* a tampered descriptor is refused and the file is left alone */
    d = descriptor(R.id, "http://127.0.0.1:11");
    char *at = strstr(d, "127.0.0.1:11");
    at[10] = '2';
    put_file(X.dir, "bad.json", d);
    zt_free(d);
    const char *const add_bad[] = {"peers", "add", bad, "--file", peers, NULL};
    zt_buf_reset(&out);
    assert_int_equal(cli(add_bad, &out), 1);
    assert_non_null(strstr(zt_buf_str(&out), "bad signature"));
    zt_buf_reset(&out);
    assert_int_equal(cli(list, &out), 0);
    assert_null(strstr(zt_buf_str(&out), zt_identity_id(R.id)));
    /* peers self: a node's own descriptor made from its key file, offline */
    char ddir[400];
    snprintf(ddir, sizeof ddir, "%s/data", X.dir);
    const char *const self[] = {"peers", "self", "--endpoint", "https://x.example:8443", "--data-dir", ddir,
                                "--role", "gateway", "--days", "2", NULL};
    zt_buf_reset(&out);
    assert_int_equal(cli(self, &out), 0);
    struct zt_node_descriptor nd;
    assert_int_equal(zt_identity_descriptor_verify(out.data, out.len - 1, zt_time_real_ms() / 1000, &nd), 0);
    assert_string_equal(nd.node_id, zt_identity_id(X.id));
    assert_string_equal(nd.endpoint, "https://x.example:8443");
    assert_true(nd.expires > zt_time_real_ms() / 1000 + 86400);
    zt_node_descriptor_deinit(&nd);
    const char *const self_bad[] = {"peers", "self", "--data-dir", ddir, NULL};
    zt_buf_reset(&out);
    assert_int_equal(cli(self_bad, &out), 2);
    zt_buf_deinit(&text);
    zt_buf_deinit(&out);
}

/* The whole path: `zentalk job run --via R` seals a job to a real worker W
 * (serving the tiny model) and sends it through the relay R. W admits
 * only signed peers on its sealed route (encryption.sealed_jobs_callers:
 * peer), so the job can only have arrived through R, signed as R; the
 * client still gets the text W computes for /v1/completions with the same
 * parameters, sealed to it, with a receipt that verifies against W's key.
 * The same job sent directly to W is refused (401). */
static void test_client_relay_worker(void **state)
{
    (void)state;
    char model[1024];
    (void)find_test_model("stories260K.gguf", model, sizeof model);
    if (!cli_bin || access(model, R_OK) != 0) {
        zt_skip("needs the zentalk CLI and %s", model);
    }
    struct peer_node W;
    make_dir(&W);
    char *dr = descriptor(R.id, "http://127.0.0.1:1");
    write_peers(&W, &dr, 1);
    zt_free(dr);
    char yaml[1600];
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  memory_budget_mb: 0\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 256\n    max_tokens: 32\n", model);
    put_file(W.dir, "models.yaml", yaml);
    put_file(W.dir, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n");
    const char *const wargs[] = {"--config", W.dir, NULL};
    static const char *const wenv[] = {"ZENTALK_ENCRYPTION_SEALED_JOBS_CALLERS=peer", NULL};
    node_spawn(&W.n, wargs, wenv, true, W.dir);

    /* R learns W (with W's real endpoint) on SIGHUP */
    char url[64];
    char *ds[4];
    snprintf(url, sizeof url, "http://127.0.0.1:%u", T.n.port);
    ds[0] = descriptor(T.id, url);
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", fake.port);
    ds[1] = descriptor(F.id, url);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", dead_port);
    ds[2] = descriptor(D.id, url);
    snprintf(url, sizeof url, "http://127.0.0.1:%u", W.n.port);
    ds[3] = descriptor(W.id, url);
    write_peers(&R, ds, 4);
    for (int i = 0; i < 4; i++) zt_free(ds[i]);
    assert_int_equal(kill(R.n.pid, SIGHUP), 0);
    size_t peers = 0;
    for (int i = 0; i < 200 && peers != 4; i++) {
        struct resp st;
        http(R.n.port, "GET", "/v1/status", NULL, NULL, &st);
        json_t *sj = resp_json(&st);
        peers = json_array_size(json_object_get(sj, "peers"));
        json_decref(sj);
        resp_free(&st);
        if (peers != 4) zt_time_sleep_ms(25);
    }
    assert_int_equal(peers, 4);

    /* the text W computes for the same parameters in clear; asked first, so
     * W has loaded its model before the relayed job (R gives W 2 s to start
     * answering, which a loaded machine's sanitizer build can miss) */
    struct resp r;
    http(W.n.port, "POST", "/v1/completions", "application/json",
         "{\"model\":\"stories\",\"prompt\":\"Once upon a time\",\"seed\":7,\"temperature\":0.8,\"max_tokens\":20}", &r);
    assert_int_equal(r.status, 200);
    json_t *b = resp_json(&r);
    resp_free(&r);
    long long ok0 = metric(W.n.port, "zentalk_node_auth_total{result=\"ok\"}");
    char wurl[64], rurl[64];
    snprintf(wurl, sizeof wurl, "http://127.0.0.1:%u", W.n.port);
    snprintf(rurl, sizeof rurl, "http://127.0.0.1:%u", R.n.port);
    const char *const via[] = {"job", "run", "--node", wurl, "--via", rurl, "stories", "Once upon a time",
                               "--seed", "7", "--temp", "0.8", "-n", "20", "--json", NULL};
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    int rc = cli(via, &out);
    if (rc) fprintf(stderr, "job run --via: %d %s\n", rc, zt_buf_str(&out));
    assert_int_equal(rc, 0);
    json_t *a = json_loads(zt_buf_str(&out), 0, NULL);
    if (!a) fprintf(stderr, "job run --via printed: %s\n", zt_buf_str(&out));
    assert_non_null(a);
    json_t *rec = json_object_get(a, "receipt");
    assert_true(json_is_true(json_object_get(rec, "verified")));
    assert_string_equal(json_string_value(json_object_get(rec, "worker_node_id")), zt_identity_id(W.id));
    /* the job reached W signed by R */
    assert_true(metric(W.n.port, "zentalk_node_auth_total{result=\"ok\"}") > ok0);
    assert_true(metric(R.n.port, "zentalk_relay_requests_total{outcome=\"forwarded\"}") >= 2);

    json_t *cb = json_array_get(json_object_get(b, "choices"), 0);
    assert_true(strlen(json_string_value(json_object_get(a, "text"))) > 10);
    assert_string_equal(json_string_value(json_object_get(a, "text")), json_string_value(json_object_get(cb, "text")));
    assert_string_equal(json_string_value(json_object_get(rec, "seq_chain")),
                        json_string_value(json_object_get(json_object_get(b, "zentalk"), "seq_hash")));
    json_decref(a);
    json_decref(b);

    /* directly to W: not a signed peer, refused */
    const char *const direct[] = {"job", "run", "--node", wurl, "stories", "x", "-n", "2", NULL};
    zt_buf_reset(&out);
    assert_int_equal(cli(direct, &out), 1);
    assert_non_null(strstr(zt_buf_str(&out), "401"));
    zt_buf_deinit(&out);

    node_cleanup(&W.n);
    zt_identity_free(W.id);
    rm_rf(W.dir);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_relay_api ZENTALK_NODE [ZENTALK]\n");
        return 2;
    }
    node_bin = argv[1];
    cli_bin = argc > 2 ? argv[2] : NULL;
    signal(SIGPIPE, SIG_IGN);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    json_set_alloc_funcs(zt_malloc, zt_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relay_to_real_node),
        cmocka_unit_test(test_relay_streams_and_strips),
        cmocka_unit_test(test_relay_refusals),
        cmocka_unit_test(test_node_auth_on_target),
        cmocka_unit_test(test_relay_timeout),
        cmocka_unit_test(test_cli_peers_add),
        cmocka_unit_test(test_relay_https_and_client_abort),
        cmocka_unit_test(test_client_relay_worker),
    };
    int rc = cmocka_run_group_tests_name("relay", tests, setup, teardown);
    curl_global_cleanup();
    return zt_test_exit(rc);
}
