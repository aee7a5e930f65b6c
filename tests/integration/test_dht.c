/* test_dht: the discovery DHT (src/net/dht.c, OpenDHT's C API).
 *
 * OpenDHT binds every address, so the program runs itself again inside a
 * private network namespace with only loopback (netns_rerun; SKIP when
 * none can be made, or when the DHT is not built). There is no "connected"
 * signal: every wait polls lookups with a deadline.
 *   In-process DHT nodes A and B (B bootstraps from A): a worker's
 *   descriptor published on A is found on B by role and by (role, model),
 *   not under another model or role; forged values under the same keys
 *   (garbage, a bad signature, an id not derived from the key, an expired
 *   descriptor, a valid one that does not list the model) are ignored;
 *   a rotated KEM key wins over the old descriptor; a revoked node key and
 *   a revoked KEM key are honoured (a descriptor with the revoked KEM key
 *   signed later does not shadow the new one), also by a node that never
 *   saw the revocation before the lookup; every allocation of a lookup or
 *   a publish failing in turn gives 0 or ZT_ENOMEM and leaks nothing.
 *   Two zentalk-node processes, a worker W (the tiny model) and a gateway
 *   G with no model, no peers file and no --join, both with node.dht_port
 *   and G bootstrapping from W: G finds W in the DHT and a chat to G runs
 *   on W (ran_on = W's id, with a receipt); both stop cleanly. A third
 *   node on W's DHT port refuses to start and says why.
 *   A worker with the mesh and node.dht_port (bench/mesh_spread.sh's
 *   node) sent SIGTERM at points of its start exits 0 within seconds.
 *   Built without OpenDHT: a node with node.dht_port refuses to start
 *   ("the DHT is not built"), and the rest is a SKIP. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/core/alloc_int.h"
#include "../../src/net/dht_int.h"
#include "harness.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_time.h"

#define WAIT_MS 30000 /* the longest any poll waits (a loaded 2-core sanitizer run) */

static struct zt_dht *A, *B;

static void need_dht(void)
{
    if (!zt_dht_available()) zt_skip("the DHT is not built (no OpenDHT C API, libopendht-c-dev)");
}

static int setup(void **state)
{
    (void)state;
    if (!zt_dht_available()) return 0;
    struct zt_dht_opts o = {.port = 0};
    assert_int_equal(zt_dht_new(&o, &A), 0);
    assert_int_equal(zt_dht_new(&o, &B), 0);
    char hp[32];
    snprintf(hp, sizeof hp, "127.0.0.1:%u", (unsigned)zt_dht_port(A));
    assert_int_equal(zt_dht_bootstrap(B, hp), 0);
    assert_int_equal(zt_dht_bootstrap(B, "no-port"), ZT_EINVAL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    zt_dht_free(B);
    zt_dht_free(A);
    return 0;
}

/* A signed descriptor (zt_free it). */
static char *descriptor(const struct zt_identity *id, const char *role, const char *model, int64_t expires)
{
    const char *roles[] = {role}, *models[] = {model};
    char *out = NULL;
    int rc = zt_identity_descriptor(id, roles, 1, models, model ? 1 : 0, "http://127.0.0.1:9", expires, &out);
    assert_int_equal(rc, 0);
    assert_non_null(out);
    return out;
}

static void free_all(struct zt_node_descriptor *v, size_t n)
{
    for (size_t i = 0; i < n; i++) zt_node_descriptor_deinit(&v[i]);
}

/* The descriptor of node_id among a lookup's results on d, polled until
 * present (want) or until the deadline; its KEM key into kem when found. */
static bool find(struct zt_dht *d, const char *role, const char *model, const char *node_id, uint8_t kem[32],
                 unsigned wait_ms)
{
    uint64_t until = zt_time_mono_ms() + wait_ms;
    for (;;) {
        struct zt_node_descriptor v[16];
        size_t n = 0;
        assert_int_equal(zt_dht_lookup(d, role, model, zt_time_real_ms() / 1000, 3000, v, 16, &n), 0);
        bool found = false;
        for (size_t i = 0; i < n; i++) {
            assert_true(n <= 16);
            if (strcmp(v[i].node_id, node_id) != 0) continue;
            found = true;
            if (kem) memcpy(kem, v[i].kem_pk, 32);
        }
        free_all(v, n);
        if (found || zt_time_mono_ms() >= until) return found;
        zt_time_sleep_ms(100);
    }
}

static void test_publish_and_find(void **state)
{
    (void)state;
    need_dht();
    struct zt_identity *w = NULL;
    assert_int_equal(zt_identity_generate(&w), 0);
    int64_t now = zt_time_real_ms() / 1000;
    char *d = descriptor(w, "worker", "stories", now + 3600);
    assert_int_equal(zt_dht_publish(A, d, strlen(d), now), 0);
    assert_int_equal(zt_dht_publish(A, "{}", 2, now), ZT_EPARSE); /* only what verifies is published */
    assert_true(find(B, "worker", "stories", zt_identity_id(w), NULL, WAIT_MS));
    assert_true(find(B, "worker", NULL, zt_identity_id(w), NULL, WAIT_MS));
    assert_false(find(B, "worker", "other-model", zt_identity_id(w), NULL, 0));
    assert_false(find(B, "gateway", NULL, zt_identity_id(w), NULL, 0));
    struct zt_node_descriptor v[1];
    size_t n = 0;
    assert_int_equal(zt_dht_lookup(B, "", NULL, now, 10, v, 1, &n), ZT_EINVAL);
    assert_int_equal(zt_dht_lookup(B, "worker", NULL, now, 10, v, ZT_DHT_MAX_RESULTS + 1, &n), ZT_EINVAL);
    zt_free(d);
    zt_identity_free(w);
}

static void test_forged_values_ignored(void **state)
{
    (void)state;
    need_dht();
    struct zt_identity *a = NULL, *b = NULL;
    assert_int_equal(zt_identity_generate(&a), 0);
    assert_int_equal(zt_identity_generate(&b), 0);
    int64_t now = zt_time_real_ms() / 1000;
    /* garbage */
    static const char junk[] = "not a descriptor";
    assert_int_equal(zt__dht_put_raw(A, "worker", "forged", NULL, junk, sizeof junk - 1), 0);
    /* a's descriptor with one signature digit changed */
    char *bad_sig = descriptor(a, "worker", "forged", now + 3600);
    char *sig = strstr(bad_sig, "\"sig\":\"");
    sig[7] = sig[7] == '0' ? '1' : '0';
    assert_int_equal(zt__dht_put_raw(A, "worker", "forged", NULL, bad_sig, strlen(bad_sig)), 0);
    /* a's descriptor claiming b's id */
    char *wrong_id = descriptor(a, "worker", "forged", now + 3600);
    char *id = strstr(wrong_id, "\"node_id\":\"") + 11;
    memcpy(id, zt_identity_id(b), ZT_IDENTITY_ID_LEN);
    assert_int_equal(zt__dht_put_raw(A, "worker", "forged", NULL, wrong_id, strlen(wrong_id)), 0);
    /* b's expired descriptor, and b's valid one that lists another model */
    char *expired = descriptor(b, "worker", "forged", now - 10);
    assert_int_equal(zt__dht_put_raw(A, "worker", "forged", NULL, expired, strlen(expired)), 0);
    char *elsewhere = descriptor(b, "worker", "not-forged", now + 3600);
    assert_int_equal(zt__dht_put_raw(A, "worker", "forged", NULL, elsewhere, strlen(elsewhere)), 0);
    /* a marker that the values above have arrived: an honest descriptor */
    struct zt_identity *h = NULL;
    assert_int_equal(zt_identity_generate(&h), 0);
    char *honest = descriptor(h, "worker", "forged", now + 3600);
    assert_int_equal(zt__dht_put_raw(A, "worker", "forged", NULL, honest, strlen(honest)), 0);
    assert_true(find(B, "worker", "forged", zt_identity_id(h), NULL, WAIT_MS));
    struct zt_node_descriptor v[16];
    size_t n = 0;
    assert_int_equal(zt_dht_lookup(B, "worker", "forged", now, 3000, v, 16, &n), 0);
    assert_int_equal(n, 1); /* only the honest one */
    assert_string_equal(v[0].node_id, zt_identity_id(h));
    free_all(v, n);
    zt_free(bad_sig);
    zt_free(wrong_id);
    zt_free(expired);
    zt_free(elsewhere);
    zt_free(honest);
    zt_identity_free(a);
    zt_identity_free(b);
    zt_identity_free(h);
}

static void test_rotation_and_revocation(void **state)
{
    (void)state;
    need_dht();
    uint8_t seed[32], k1[32], k2[32], got[32];
    for (int i = 0; i < 32; i++) seed[i] = (uint8_t)(i + 1), k1[i] = (uint8_t)(0x40 + i), k2[i] = (uint8_t)(0x80 + i);
    struct zt_identity *old_key = NULL, *new_key = NULL;
    assert_int_equal(zt_identity_from_secret(seed, k1, &old_key), 0);
    assert_int_equal(zt_identity_from_secret(seed, k2, &new_key), 0); /* same node, a new KEM key */
    const char *nid = zt_identity_id(new_key);
    assert_string_equal(nid, zt_identity_id(old_key));
    int64_t now = zt_time_real_ms() / 1000;
    /* the old descriptor lingers under the model key; the newly signed one is published */
    char *d1 = descriptor(old_key, "worker", "rot", now + 1800);
    assert_int_equal(zt__dht_put_raw(A, "worker", "rot", NULL, d1, strlen(d1)), 0);
    assert_true(find(B, "worker", "rot", nid, got, WAIT_MS));
    char *d2 = descriptor(new_key, "worker", "rot", now + 3600);
    assert_int_equal(zt_dht_publish(A, d2, strlen(d2), now), 0);
    uint64_t until = zt_time_mono_ms() + WAIT_MS;
    for (;;) {
        assert_true(find(B, "worker", "rot", nid, got, WAIT_MS));
        if (memcmp(got, zt_identity_kem_pk(new_key), 32) == 0 || zt_time_mono_ms() >= until) break;
        zt_time_sleep_ms(100);
    }
    assert_memory_equal(got, zt_identity_kem_pk(new_key), 32);

    /* revocation records */
    char *rk = NULL, *rn = NULL;
    struct zt_dht_revocation r;
    assert_int_equal(zt_dht_revocation(old_key, zt_identity_kem_pk(old_key), now, &rk), 0);
    assert_int_equal(zt_dht_revocation_verify(rk, strlen(rk), &r), 0);
    assert_true(r.has_kem);
    assert_string_equal(r.node_id, nid);
    char *tampered = zt_strdup(rk);
    char *dig = tampered + strlen(tampered) - 12; /* a digit of the signature */
    *dig = *dig == '0' ? '1' : '0';
    assert_int_equal(zt_dht_revocation_verify(tampered, strlen(tampered), NULL), ZT_ECRYPTO);
    zt_free(tampered);
    assert_int_equal(zt_dht_revocation_verify("{\"v\":1}", 7, NULL), ZT_EPARSE);
    /* the old KEM key revoked: the node stays, with its new key */
    assert_int_equal(zt_dht_revoke(A, rk, strlen(rk)), 0);
    assert_true(find(B, "worker", "rot", nid, got, WAIT_MS));
    assert_memory_equal(got, zt_identity_kem_pk(new_key), 32);
    /* a descriptor with the revoked KEM key signed later still loses to the new key */
    char *d3 = descriptor(old_key, "worker", "rot", now + 7200);
    assert_int_equal(zt__dht_put_raw(A, "worker", "rot", NULL, d3, strlen(d3)), 0);
    zt_time_sleep_ms(300);
    assert_true(find(B, "worker", "rot", nid, got, WAIT_MS));
    assert_memory_equal(got, zt_identity_kem_pk(new_key), 32);
    zt_free(d3);
    /* the whole key revoked (B learns it from the DHT, not from its own call) */
    assert_int_equal(zt_dht_revocation(new_key, NULL, now, &rn), 0);
    assert_int_equal(zt_dht_revoke(A, rn, strlen(rn)), 0);
    until = zt_time_mono_ms() + WAIT_MS;
    while (find(B, "worker", "rot", nid, NULL, 0) && zt_time_mono_ms() < until) zt_time_sleep_ms(100);
    assert_false(find(B, "worker", "rot", nid, NULL, 0));
    /* and it stays revoked when its descriptor is published again */
    assert_int_equal(zt__dht_put_raw(A, "worker", "rot", NULL, d2, strlen(d2)), 0);
    zt_time_sleep_ms(200);
    assert_false(find(B, "worker", "rot", nid, NULL, 0));
    zt_free(d1);
    zt_free(d2);
    zt_free(rk);
    zt_free(rn);
    zt_identity_free(old_key);
    zt_identity_free(new_key);
}

/* Every allocation of a lookup and a publish failing in turn (other
 * threads' allocations may be the ones that fail: a value whose check runs
 * out of memory is dropped): each call gives 0 or ZT_ENOMEM and, once the
 * gets still in flight are done, every allocation is given back. */
static void test_allocation_failures(void **state)
{
    (void)state;
    need_dht();
    struct zt_identity *w = NULL;
    assert_int_equal(zt_identity_generate(&w), 0);
    int64_t now = zt_time_real_ms() / 1000;
    char *d = descriptor(w, "worker", "sweep", now + 3600);
    assert_int_equal(zt_dht_publish(A, d, strlen(d), now), 0);
    assert_true(find(B, "worker", "sweep", zt_identity_id(w), NULL, WAIT_MS));
    zt_time_sleep_ms(500); /* the gets of find() are done */
    int64_t live = zt_alloc_live();
    unsigned ok = 0, nomem = 0;
    for (int64_t k = 1; k <= 40; k++) {
        struct zt_node_descriptor v[4];
        size_t n = 0;
        zt_alloc_fail_after(k);
        int rc = zt_dht_lookup(B, "worker", "sweep", now, 2000, v, 4, &n);
        zt_alloc_fail_after(0);
        assert_true(rc == 0 || rc == ZT_ENOMEM);
        if (rc == 0) {
            ok++;
            free_all(v, n);
        } else {
            nomem++;
        }
        zt_alloc_fail_after(k);
        rc = zt_dht_publish(A, d, strlen(d), now);
        zt_alloc_fail_after(0);
        assert_true(rc == 0 || rc == ZT_ENOMEM);
    }
    printf("# allocation sweep: %u lookups answered, %u out of memory\n", ok, nomem);
    assert_true(nomem > 0 && ok > 0);
    uint64_t until = zt_time_mono_ms() + WAIT_MS;
    while (zt_alloc_live() != live && zt_time_mono_ms() < until) zt_time_sleep_ms(50);
    assert_int_equal(zt_alloc_live(), live);
    assert_true(find(B, "worker", "sweep", zt_identity_id(w), NULL, WAIT_MS)); /* still works */
    zt_free(d);
    zt_identity_free(w);
}

/* ---- two nodes ------------------------------------------------------------------ */

struct dnode {
    char dir[256];
    struct node n;
};

static void test_two_nodes_find_each_other(void **state)
{
    (void)state;
    need_dht();
    char model[1024];
    need_test_model("stories260K.gguf", model, sizeof model);
    struct dnode W, G; /* each makes its own key on first start */
    memset(&W, 0, sizeof W);
    memset(&G, 0, sizeof G);
    tmp_dir(W.dir, sizeof W.dir, "dht");
    tmp_dir(G.dir, sizeof G.dir, "dht");
    /* fixed UDP ports: this namespace is the test's own */
    char yaml[1600];
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  memory_budget_mb: 0\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 256\n    max_tokens: 32\n",
             model);
    put_file(W.dir, "models.yaml", yaml);
    put_file(W.dir, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n");
    put_file(W.dir, "config.yaml", "node:\n  roles: [worker]\n  dht_port: 4711\n");
    const char *const wargs[] = {"--config", W.dir, NULL};
    node_spawn(&W.n, wargs, NULL, true, W.dir);
    put_file(G.dir, "config.yaml", "node:\n  roles: [gateway]\n  dht_port: 4712\n  bootstrap: [\"127.0.0.1:4711\"]\n");
    const char *const gargs[] = {"--config", G.dir, NULL};
    node_spawn(&G.n, gargs, NULL, true, G.dir);
    /* a third node on W's DHT port refuses to start, saying why */
    struct dnode X;
    memset(&X, 0, sizeof X);
    tmp_dir(X.dir, sizeof X.dir, "dht");
    put_file(X.dir, "config.yaml", "node:\n  roles: [gateway]\n  dht_port: 4711\n");
    const char *const xargs[] = {"--config", X.dir, NULL};
    struct zt_buf xerr;
    zt_buf_init(&xerr, 1 << 16);
    assert_int_equal(node_start(&X.n, xargs, NULL, X.dir, &xerr), 0);
    assert_non_null(strstr(zt_buf_str(&xerr), "node.dht_port 4711: cannot bind the UDP port"));
    zt_buf_deinit(&xerr);
    node_cleanup(&X.n);
    rm_rf(X.dir);
    struct resp st;
    http(W.n.port, "GET", "/v1/status", NULL, NULL, &st);
    json_t *sj = resp_json(&st);
    char w_id[ZT_IDENTITY_ID_SIZE];
    assert_true(zt_identity_id_valid(json_string_value(json_object_get(sj, "node_id"))));
    snprintf(w_id, sizeof w_id, "%s", json_string_value(json_object_get(sj, "node_id")));
    json_decref(sj);
    resp_free(&st);

    static const char chat[] = "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story\"}],"
                               "\"seed\":3,\"temperature\":0.7,\"max_tokens\":16}";
    uint64_t until = zt_time_mono_ms() + WAIT_MS, t0 = zt_time_mono_ms();
    long status = 0;
    unsigned no_peer = 0, refused = 0;
    for (;;) {
        struct resp r;
        http(G.n.port, "POST", "/v1/chat/completions", "application/json", chat, &r);
        status = r.status;
        if (status == 200) {
            json_t *j = resp_json(&r);
            json_t *zt = json_object_get(j, "zentalk");
            assert_string_equal(json_string_value(json_object_get(zt, "ran_on")), w_id);
            assert_non_null(json_string_value(json_object_get(zt, "receipt")));
            const char *text = json_string_value(json_object_get(
                json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message"), "content"));
            assert_non_null(text);
            assert_true(strlen(text) > 0);
            json_decref(j);
        } else {
            /* until G has found W: 503 no_model (no peer at all); until W has
             * found G too: 502, W refusing G's signature (not a peer yet) */
            bool waiting = status == 503 || (status == 502 && strstr(zt_buf_str(&r.body), "invalid_node_signature"));
            if (!waiting) printf("# G answered %ld: %s\n", status, zt_buf_str(&r.body));
            assert_true(waiting);
            no_peer += status == 503;
            refused += status == 502;
        }
        resp_free(&r);
        if (status == 200 || zt_time_mono_ms() >= until) break;
        zt_time_sleep_ms(200);
    }
    assert_int_equal(status, 200);
    printf("# G ran a chat on W %llu ms after both started (before: %u no peer, %u refused by W)\n",
           (unsigned long long)(zt_time_mono_ms() - t0), no_peer, refused);
    /* a model nobody serves: 404, and G's discovery then reads that model's
     * key too (nothing there); W still answers */
    static const char nobody[] = "{\"model\":\"nobody-serves-this\",\"messages\":[{\"role\":\"user\","
                                 "\"content\":\"hi\"}],\"max_tokens\":4}";
    struct resp r404;
    http(G.n.port, "POST", "/v1/chat/completions", "application/json", nobody, &r404);
    assert_int_equal(r404.status, 404);
    resp_free(&r404);
    zt_time_sleep_ms(300);
    json_decref(post_json(G.n.port, "/v1/chat/completions", NULL, chat, 200));
    /* both stop cleanly with their DHT running (sanitizer builds: no leak) */
    assert_int_equal(kill(G.n.pid, SIGTERM), 0);
    assert_int_equal(kill(W.n.pid, SIGTERM), 0);
    assert_int_equal(node_wait(&G.n, 60000), 0);
    assert_int_equal(node_wait(&W.n, 60000), 0);
    /* OpenDHT's LAN multicast discovery stays off unless configured: both
     * found each other through the bootstrap alone and say so */
    for (int i = 0; i < 2; i++) {
        struct zt_buf log;
        zt_buf_init(&log, 1 << 20);
        node_collect_stderr(i ? &W.n : &G.n, &log);
        const char *started = strstr(zt_buf_str(&log), "dht_started");
        assert_non_null(started);
        const char *eol = strchr(started, '\n');
        const char *off = strstr(started, "multicast=off");
        assert_true(off && (!eol || off < eol));
        zt_buf_deinit(&log);
    }
    node_cleanup(&G.n);
    node_cleanup(&W.n);
    rm_rf(G.dir);
    rm_rf(W.dir);
}

/* A build without OpenDHT: a node configured with a DHT port refuses to
 * start and says why. */
static void test_not_built(void **state)
{
    (void)state;
    struct dnode N;
    memset(&N, 0, sizeof N);
    tmp_dir(N.dir, sizeof N.dir, "dht");
    put_file(N.dir, "config.yaml", "node:\n  dht_port: 4711\n");
    const char *const args[] = {"--config", N.dir, NULL};
    struct zt_buf err;
    zt_buf_init(&err, 1 << 16);
    assert_int_equal(node_start(&N.n, args, NULL, N.dir, &err), 0);
    assert_non_null(strstr(zt_buf_str(&err), "the DHT is not built"));
    zt_buf_deinit(&err);
    node_cleanup(&N.n);
    rm_rf(N.dir);
    zt_skip_part("the DHT is not built (no OpenDHT C API, libopendht-c-dev): only its refusal was tested");
}

/* Whether process pid blocks SIGTERM in its main thread (zentalk-node
 * does from main on, when it runs as the daemon). */
static bool blocks_sigterm(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f) return false;
    bool yes = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "SigBlk:", 7) != 0) continue;
        unsigned long long m = strtoull(line + 7, NULL, 16);
        yes = (m >> (SIGTERM - 1)) & 1;
        break;
    }
    fclose(f);
    return yes;
}

/* A stop during the start (bench/mesh_spread.sh's node: worker, mesh,
 * node.dht_port, bootstrapping from itself): SIGTERM at several points
 * of the start, from the moment the process blocks it (the daemon does
 * from main on: before that only the default action can run) to after
 * its banner: each exits 0, says it stopped, and within a few seconds
 * (server.shutdown_timeout_s 3: even a start step that never returned
 * ends there). */
static void test_stop_during_start(void **state)
{
    (void)state;
    need_dht();
    static const unsigned delays_ms[] = {0, 30, 100, 250, 500, 1000};
    for (size_t i = 0; i < sizeof delays_ms / sizeof delays_ms[0]; i++) {
        struct dnode N;
        memset(&N, 0, sizeof N);
        tmp_dir(N.dir, sizeof N.dir, "dht");
        char yaml[400];
        snprintf(yaml, sizeof yaml,
                 "node:\n  roles: [worker]\n  dht_port: %u\n  bootstrap: [\"127.0.0.1:%u\"]\n"
                 "mesh:\n  serve_rate_rps: 0\n  record_ttl_s: 600\nserver:\n  shutdown_timeout_s: 3\n",
                 4731u + (unsigned)i, 4731u + (unsigned)i);
        put_file(N.dir, "config.yaml", yaml);
        const char *const args[] = {"--config", N.dir, NULL};
        node_spawn(&N.n, args, NULL, false, N.dir);
        uint64_t until = zt_time_mono_ms() + WAIT_MS;
        while (!blocks_sigterm(N.n.pid)) {
            assert_true(zt_time_mono_ms() < until);
            zt_time_sleep_ms(1);
        }
        zt_time_sleep_ms(delays_ms[i]);
        uint64_t t0 = zt_time_mono_ms();
        assert_int_equal(kill(N.n.pid, SIGTERM), 0);
        int st = node_wait(&N.n, 10000);
        uint64_t took = zt_time_mono_ms() - t0;
        struct zt_buf err;
        zt_buf_init(&err, 1 << 20);
        node_collect_stderr(&N.n, &err);
        printf("# SIGTERM %u ms after the block: exit %d after %llu ms%s\n", delays_ms[i], st,
               (unsigned long long)took, strstr(zt_buf_str(&err), "during the start") ? " (stopped during the start)" : "");
        if (st != 0) fprintf(stderr, "%s\n", zt_buf_str(&err));
        assert_int_equal(st, 0);
        assert_non_null(strstr(zt_buf_str(&err), "node_stopped"));
        assert_null(strstr(zt_buf_str(&err), "shutdown_deadline")); /* stopped, not cut short */
        assert_true(took < 5000);
        zt_buf_deinit(&err);
        node_cleanup(&N.n);
        rm_rf(N.dir);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_dht ZENTALK_NODE\n");
        return 2;
    }
    node_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    json_set_alloc_funcs(zt_malloc, zt_free);
    if (!zt_dht_available()) {
        const struct CMUnitTest refusal[] = {cmocka_unit_test(test_not_built)};
        return zt_test_exit(cmocka_run_group_tests_name("dht_not_built", refusal, NULL, NULL));
    }
    int outer = netns_rerun(argc, argv);
    if (outer >= 0) return outer;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_and_find),
        cmocka_unit_test(test_forged_values_ignored),
        cmocka_unit_test(test_rotation_and_revocation),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_two_nodes_find_each_other),
        cmocka_unit_test(test_stop_during_start),
    };
    return zt_test_exit(cmocka_run_group_tests_name("dht", tests, setup, teardown));
}
