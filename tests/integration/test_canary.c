/* test_canary.c: the whole-node canary test (issue 6).
 *
 * Two real nodes on 127.0.0.1, each with its own key, peers file and log
 * file at debug level:
 *   G, the gateway: messaging features, privacy, search, WebSocket, and the
 *     relay that carries sealed jobs to W; JWT authentication on;
 *   W, the worker: serves tests/models/stories260K.gguf. G has no
 *     model, so G seals its chat and completion requests to W (local-first
 *     routing, with the privacy policy applied); they are also called on W
 *     directly, with embeddings (which run only where the model is); the
 *     sealed path goes client -> G (relay) -> W with `zentalk job run --via`.
 * A unique canary ("cnry" + 24 random hex digits) is pushed, inside
 * ordinary sentences and as an e-mail local part, through every feature
 * route of the route table (spam, entities, preprocess, translate,
 * categorize, intents, smart-replies, summarize), /v1/privacy/pii, the chat
 * API, completions, embeddings, search index + query, the WebSocket /v1/ws
 * (a minimal client below) and /v1/jobs/sealed through the relay. Then the
 * nodes stop gracefully and every file under both node directories (data
 * directories with SQLite db/WAL/SHM, audit logs, key files; config and
 * log files), the nodes' stdout/stderr and the /metrics output captured
 * before stopping are scanned for the canary in clear, in base64 (standard
 * and URL-safe, all three byte alignments) and in hex (lower and upper
 * case): nothing may be found. The user's JWT sub must not appear in clear
 * in the audit log either (it carries pseudonyms).
 * The network stores (test_canary_network_stores): a gateway+orchestrator
 * O whose registry and job tables are on a real PostgreSQL and whose job
 * queue is a real Redis stream (database.driver: postgres, database.queue:
 * redis), and a worker joined to it with --join. Chats and completions
 * carrying the canary go through O while every Redis key and value (each
 * key's whole contents by type: strings, lists, hashes, sets, sorted sets,
 * stream entries) is read again and again, so the queue entries are seen
 * while the jobs are in it; then a pg_dump of the database and every file
 * of PostgreSQL's data directory (tables, WAL, after a CHECKPOINT) are
 * scanned: neither the canary in any form nor the user's JWT sub is there
 * (jobs carry metadata only; the fair-queueing client key is a pseudonym).
 * Then G restarts on the same data: export for the user finds its search
 * messages (the canary in them); erase; export again finds nothing of the
 * user; the scan runs again.
 * Usage: test_canary PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zt_test_servers.h"

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <pthread.h>

#define SECRET "canary-integration-secret-0123456789abcdefghijklmnop"

static const char *cli_bin;
static char model_path[1024];

struct peer_node {
    struct zt_identity *id;
    char dir[256];
    char log[400];
    struct node n;
    struct zt_buf out; /* stdout + stderr collected at stop */
};

static struct peer_node G, W;
static char canary[64];
static char sub[64];
static char *tok_user, *tok_admin;

/* captured /metrics and process output: scanned with the files */
struct blob {
    char name[64];
    char *data;
    size_t len;
};
static struct blob blobs[8];
static size_t n_blobs;

/* ---- helpers ----------------------------------------------------------- */

static void make_node(struct peer_node *p, const char *tag)
{
    char t[32];
    snprintf(t, sizeof t, "canary-%s", tag);
    tmp_dir(p->dir, sizeof p->dir, t);
    char d[320], key[400];
    snprintf(d, sizeof d, "%s/data", p->dir);
    assert_int_equal(mkdir(d, 0700), 0);
    assert_int_equal(zt_identity_generate(&p->id), 0);
    snprintf(key, sizeof key, "%s/node.key", d);
    assert_int_equal(zt_identity_save(p->id, key, NULL, 0, NULL, 0, NULL), 0);
    snprintf(p->log, sizeof p->log, "%s/node.log", p->dir);
    char cfg[600];
    snprintf(cfg, sizeof cfg, "log:\n  level: debug\n  file: %s\n", p->log);
    put_file(p->dir, "config.yaml", cfg);
    zt_buf_init(&p->out, 1 << 22);
}

/* model: the model the node advertises, or NULL */
static char *descriptor(const struct zt_identity *id, const char *role, const char *model, const char *endpoint)
{
    const char *roles[] = {role};
    const char *models[] = {model};
    char *out = NULL;
    assert_int_equal(zt_identity_descriptor(id, roles, 1, model ? models : NULL, model ? 1 : 0, endpoint,
                                            zt_time_real_ms() / 1000 + 3600, &out),
                     0);
    return out;
}

static void write_peers(struct peer_node *p, const char *desc)
{
    struct zt_buf b;
    zt_buf_init(&b, 1 << 20);
    assert_int_equal(zt_buf_appendf(&b, "[%s]\n", desc), 0);
    char d[320];
    snprintf(d, sizeof d, "%s/data", p->dir);
    put_file(d, "peers.json", zt_buf_str(&b));
    zt_buf_deinit(&b);
}

static void spawn_g(void)
{
    static const char *const env[] = {"ZENTALK_ENCRYPTION_JWT_SECRET=" SECRET, NULL};
    const char *const args[] = {"--config", G.dir, NULL};
    node_spawn(&G.n, args, env, true, G.dir);
}

static void drain_fd(int fd, struct zt_buf *b)
{
    char buf[4096];
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) assert_int_equal(zt_buf_append(b, buf, (size_t)r), 0);
}

static void stop(struct peer_node *p)
{
    assert_int_equal(kill(p->n.pid, SIGTERM), 0);
    assert_int_equal(node_wait(&p->n, 30000), 0);
    drain_fd(p->n.out_fd, &p->out);
    drain_fd(p->n.err_fd, &p->out);
    close(p->n.out_fd);
    close(p->n.err_fd);
    p->n.out_fd = p->n.err_fd = -1;
}

static void keep_blob(const char *name, const char *data, size_t len)
{
    assert_true(n_blobs < sizeof blobs / sizeof blobs[0]);
    struct blob *b = &blobs[n_blobs++];
    zt_strlcpy(b->name, name, sizeof b->name);
    b->data = zt_malloc(len + 1);
    assert_non_null(b->data);
    memcpy(b->data, data, len);
    b->data[len] = '\0';
    b->len = len;
}

static void capture_metrics(struct peer_node *p, const char *name)
{
    struct resp r;
    http(p->n.port, "GET", "/metrics", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    assert_true(r.body.len > 100);
    keep_blob(name, r.body.data, r.body.len);
    resp_free(&r);
}

static void free_blobs(void)
{
    for (size_t i = 0; i < n_blobs; i++) zt_free(blobs[i].data);
    n_blobs = 0;
}

/* POST with the user's token; the status must be one of ok (0-terminated). */
static void post_as(uint16_t port, const char *token, const char *path, const char *body, const long *ok, struct resp *out)
{
    char auth[2048];
    if (token) snprintf(auth, sizeof auth, "Bearer %s", token);
    struct resp r;
    http_auth(port, "POST", path, token ? auth : NULL, "application/json", body, &r);
    bool good = false;
    for (size_t i = 0; ok[i]; i++) good |= r.status == ok[i];
    if (!good) fprintf(stderr, "%s: unexpected %ld: %s\n", path, r.status, zt_buf_str(&r.body));
    assert_true(good);
    if (out) *out = r;
    else resp_free(&r);
}

/* ---- the scan ------------------------------------------------------------ */

#define N_FORMS 10
static char forms[N_FORMS][160];

static void make_forms(void)
{
    size_t n = strlen(canary), f = 0;
    zt_strlcpy(forms[f++], canary, sizeof forms[0]);
    for (size_t i = 0; canary[i]; i++) forms[f][i] = (char)(canary[i] >= 'a' && canary[i] <= 'z' ? canary[i] - 32 : canary[i]);
    f++;
    sodium_bin2hex(forms[f++], sizeof forms[0], (const unsigned char *)canary, n);
    sodium_bin2hex(forms[f], sizeof forms[0], (const unsigned char *)canary, n);
    for (char *c = forms[f]; *c; c++)
        if (*c >= 'a' && *c <= 'f') *c = (char)(*c - 32);
    f++;
    /* base64 from byte offset k (k = 0, 1, 2: the three alignments the
     * canary can have in a longer base64 stream), whole groups only, so
     * the characters depend on the canary's bytes alone */
    for (int v = 0; v < 2; v++) {
        int variant = v ? sodium_base64_VARIANT_URLSAFE_NO_PADDING : sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
        for (size_t k = 0; k < 3; k++) {
            size_t m = (n - k) / 3 * 3;
            sodium_bin2base64(forms[f], sizeof forms[0], (const unsigned char *)canary + k, m, variant);
            f++;
        }
    }
    assert_int_equal(f, N_FORMS);
}

static int found_in(const char *data, size_t len);

/* The scanner itself: the canary embedded at each byte offset in a longer
 * text, then base64'd (both alphabets) or hex'd, is found. */
static void check_scanner(void)
{
    for (size_t k = 0; k < 3; k++) {
        char plain[128], enc[256];
        snprintf(plain, sizeof plain, "%.*sFrom: %s!", (int)k, "xyz", canary);
        for (int v = 0; v < 2; v++) {
            sodium_bin2base64(enc, sizeof enc, (const unsigned char *)plain, strlen(plain),
                              v ? sodium_base64_VARIANT_URLSAFE : sodium_base64_VARIANT_ORIGINAL);
            assert_true(found_in(enc, strlen(enc)) >= 0);
        }
        sodium_bin2hex(enc, sizeof enc, (const unsigned char *)plain, strlen(plain));
        assert_true(found_in(enc, strlen(enc)) >= 0);
        assert_true(found_in(plain, strlen(plain)) >= 0);
    }
    assert_true(found_in("nothing here", 12) < 0);
}

static int found_in(const char *data, size_t len)
{
    for (int f = 0; f < N_FORMS; f++)
        if (memmem(data, len, forms[f], strlen(forms[f]))) return f;
    return -1;
}

struct scan_stats {
    size_t files, bytes;
    /* a live PostgreSQL data directory: files come and go while it runs (a
     * vanished one is passed over), too many to list, and the user's JWT
     * sub must not be there either */
    bool pg;
};

static void scan_tree(const char *path, struct scan_stats *st)
{
    struct stat sb;
    if (st->pg && lstat(path, &sb) != 0) return;
    assert_int_equal(lstat(path, &sb), 0);
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (st->pg && !d) return;
        assert_non_null(d);
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            char p[1024];
            snprintf(p, sizeof p, "%s/%s", path, e->d_name);
            scan_tree(p, st);
        }
        closedir(d);
        return;
    }
    if (!S_ISREG(sb.st_mode)) return;
    FILE *f = fopen(path, "rb");
    if (st->pg && !f) return;
    assert_non_null(f);
    size_t cap = (size_t)sb.st_size + 1, n = 0;
    char *buf = zt_malloc(cap);
    assert_non_null(buf);
    n = fread(buf, 1, cap, f);
    fclose(f);
    int hit = found_in(buf, n);
    bool has_sub = st->pg && memmem(buf, n, sub, strlen(sub)) != NULL;
    zt_free(buf);
    if (!st->pg) printf("  scanned %s (%zu bytes)\n", path, n);
    if (hit >= 0) fail_msg("canary form %d (%s) found in %s", hit, forms[hit], path);
    if (has_sub) fail_msg("the user's JWT sub is in clear in %s", path);
    st->files++;
    st->bytes += n;
}

/* While the nodes run: their directories as they are now (SQLite -wal and
 * -shm files exist only while a connection is open). */
static void scan_running(void)
{
    printf("canary scan (nodes running): %s\n", canary);
    struct scan_stats st = {0, 0, false};
    scan_tree(G.dir, &st);
    scan_tree(W.dir, &st);
    printf("canary scan (nodes running): %zu files, %zu bytes: not found\n", st.files, st.bytes);
}

static void scan_all(const char *when)
{
    printf("canary scan (%s): %s\n", when, canary);
    struct scan_stats st = {0, 0, false};
    scan_tree(G.dir, &st);
    scan_tree(W.dir, &st);
    struct peer_node *ps[2] = {&G, &W};
    for (int i = 0; i < 2; i++) {
        int hit = found_in(ps[i]->out.data ? ps[i]->out.data : "", ps[i]->out.len);
        printf("  scanned %s stdout+stderr (%zu bytes)\n", i ? "worker" : "gateway", ps[i]->out.len);
        if (hit >= 0) fail_msg("canary form %d found in the %s's output", hit, i ? "worker" : "gateway");
        st.files++;
        st.bytes += ps[i]->out.len;
    }
    for (size_t i = 0; i < n_blobs; i++) {
        int hit = found_in(blobs[i].data, blobs[i].len);
        printf("  scanned %s (%zu bytes)\n", blobs[i].name, blobs[i].len);
        if (hit >= 0) fail_msg("canary form %d found in %s", hit, blobs[i].name);
        st.files++;
        st.bytes += blobs[i].len;
    }
    printf("  (Redis and PostgreSQL: test_canary_network_stores)\n");
    printf("canary scan (%s): %zu locations, %zu bytes, canary in clear, base64 (3 alignments, 2 alphabets) "
           "and hex (lower, upper): not found\n",
           when, st.files, st.bytes);
    assert_true(st.files >= 10);
}

/* The JWT sub must not be in clear in G's audit files (pseudonyms). */
static void assert_audit_pseudonymous(void)
{
    char adir[600];
    snprintf(adir, sizeof adir, "%s/logs/audit", G.n.data_dir);
    DIR *d = opendir(adir);
    assert_non_null(d);
    struct dirent *e;
    size_t files = 0;
    bool saw_pseudonym = false;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char p[900];
        snprintf(p, sizeof p, "%s/%s", adir, e->d_name);
        FILE *f = fopen(p, "rb");
        assert_non_null(f);
        static char buf[1 << 22];
        size_t n = fread(buf, 1, sizeof buf, f);
        fclose(f);
        if (memmem(buf, n, sub, strlen(sub))) fail_msg("the user's identity is in clear in %s", p);
        if (memmem(buf, n, "\"identity\":\"p:", 14)) saw_pseudonym = true;
        files++;
    }
    closedir(d);
    assert_true(files >= 1);
    assert_true(saw_pseudonym);
}

/* ---- a minimal WebSocket client ---------------------------------------- */

static void ws_send_text(int fd, const char *msg)
{
    size_t n = strlen(msg);
    assert_true(n < 65536);
    uint8_t hdr[8];
    size_t h = 0;
    hdr[h++] = 0x81;
    if (n < 126) {
        hdr[h++] = (uint8_t)(0x80 | n);
    } else {
        hdr[h++] = 0x80 | 126;
        hdr[h++] = (uint8_t)(n >> 8);
        hdr[h++] = (uint8_t)n;
    }
    uint8_t mask[4];
    randombytes_buf(mask, 4);
    uint8_t *frame = zt_malloc(h + 4 + n);
    assert_non_null(frame);
    memcpy(frame, hdr, h);
    memcpy(frame + h, mask, 4);
    for (size_t i = 0; i < n; i++) frame[h + 4 + i] = (uint8_t)msg[i] ^ mask[i % 4];
    send_all(fd, frame, h + 4 + n);
    zt_free(frame);
}

/* Read until buf holds needle (or timeout). */
static bool ws_read_until(int fd, struct zt_buf *b, const char *needle)
{
    return read_until(fd, b, needle, 10000);
}

static void push_ws(const char *token, const char *text)
{
    int fd = tcp_connect(G.n.port);
    assert_true(fd >= 0);
    char req[2048];
    snprintf(req, sizeof req,
             "GET /v1/ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
             "Authorization: Bearer %s\r\n\r\n",
             token);
    send_all(fd, req, strlen(req));
    struct zt_buf b;
    zt_buf_init(&b, 1 << 20);
    assert_true(ws_read_until(fd, &b, "\"hello\""));
    assert_non_null(strstr(zt_buf_str(&b), "101"));
    char ev[2048];
    snprintf(ev, sizeof ev,
             "{\"type\":\"message\",\"conversation\":\"c1\",\"id\":\"m1\",\"from\":\"alice\",\"text\":\"%s\","
             "\"lang\":\"en\",\"translate_to\":\"spa\"}",
             text);
    ws_send_text(fd, ev);
    assert_true(ws_read_until(fd, &b, "\"annotations\""));
    /* a close frame (1000), then the server's echo */
    uint8_t cl[8] = {0x88, 0x82, 1, 2, 3, 4, 0x03 ^ 1, 0xe8 ^ 2};
    send_all(fd, cl, sizeof cl);
    zt_time_sleep_ms(50);
    close(fd);
    zt_buf_deinit(&b);
}

/* ---- the test ------------------------------------------------------------ */

static const char *const known_routes[] = {
    "/v1/features/spam",      "/v1/features/entities", "/v1/features/preprocess",
    "/v1/features/categorize", "/v1/features/intents",  "/v1/features/translate",
    "/v1/features/translate/languages", "/v1/features/smart-replies", "/v1/features/summarize", NULL,
};

/* POST {"text": text} to every "/v1/features/..." path of server.c's route
 * table that known_routes does not list; returns how many. */
static size_t for_unknown_feature_routes(const char *text, char *body, size_t cap)
{
    const char *src = getenv("ZT_SOURCE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/src/server/server.c", src ? src : ".");
    FILE *f = fopen(path, "rb");
    if (!f) {
        zt_skip_part("%s not readable: only the named feature routes were exercised", path);
        return 0;
    }
    static char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    size_t extra = 0;
    static const long any[] = {200, 400, 403, 405, 413, 422, 503, 0};
    for (const char *p = strstr(buf, "{\"/v1/features/"); p; p = strstr(p + 1, "{\"/v1/features/")) {
        const char *b = p + 2, *e = strchr(b, '"');
        if (!e || (size_t)(e - b) >= 128) continue;
        char route[128];
        memcpy(route, b, (size_t)(e - b));
        route[e - b] = '\0';
        bool known = false;
        for (size_t i = 0; known_routes[i] && !known; i++) known = strcmp(known_routes[i], route) == 0;
        if (known) continue;
        snprintf(body, cap, "{\"text\":\"%s\"}", text);
        post_as(G.n.port, tok_user, route, body, any, NULL);
        printf("  also sent to %s\n", route);
        extra++;
    }
    return extra;
}

static int run_cli(const char *const *args, struct zt_buf *out)
{
    return run_prog(cli_bin, args, NULL, NULL, out, RUN_MERGE_STDERR);
}

static json_t *export_as(const char *token, const char *body)
{
    static const long ok[] = {200, 0};
    struct resp r;
    post_as(G.n.port, token, "/v1/privacy/export", body, ok, &r);
    json_t *j = resp_json(&r);
    resp_free(&r);
    assert_non_null(j);
    return j;
}

static size_t export_docs(json_t *j, bool *has_canary)
{
    json_t *d = json_object_get(json_object_get(json_object_get(j, "data"), "search_documents"), "items");
    assert_true(json_is_array(d));
    *has_canary = false;
    size_t i;
    json_t *v;
    json_array_foreach(d, i, v) if (strstr(json_string_value(json_object_get(v, "text")), canary)) *has_canary = true;
    return json_array_size(d);
}

/* A stopped node's process, output, directory and key, released. */
static void release(struct peer_node *p)
{
    node_cleanup(&p->n);
    zt_buf_deinit(&p->out);
    rm_rf(p->dir);
    p->dir[0] = '\0';
    zt_identity_free(p->id);
    p->id = NULL;
}

/* A fresh canary, its encoded forms and a fresh JWT sub for the user. */
static void new_canary(void)
{
    uint8_t rnd[12];
    randombytes_buf(rnd, sizeof rnd);
    char hex[25];
    sodium_bin2hex(hex, sizeof hex, rnd, sizeof rnd);
    snprintf(canary, sizeof canary, "cnry%s", hex);
    randombytes_buf(rnd, 6);
    sodium_bin2hex(hex, sizeof hex, rnd, 6);
    snprintf(sub, sizeof sub, "canary-user-%s", hex);
    make_forms();
}

static void test_canary_everywhere(void **state)
{
    (void)state;
    if (!model_path[0] || !cli_bin) {
        zt_skip("needs the zentalk CLI and stories260K.gguf (tests/models)");
    }
    new_canary();
    check_scanner();
    tok_user = jwt_mint(SECRET, sub, "user", 900);
    tok_admin = jwt_mint(SECRET, "canary-admin", "admin", 900);

    /* W: the worker, with the model; its peers: G (signs relayed jobs) */
    make_node(&W, "w");
    make_node(&G, "g");
    char *dg = descriptor(G.id, "gateway", NULL, "http://127.0.0.1:1");
    write_peers(&W, dg);
    zt_free(dg);
    char yaml[1600];
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  memory_budget_mb: 0\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 512\n    max_tokens: 24\n",
             model_path);
    put_file(W.dir, "models.yaml", yaml);
    put_file(W.dir, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n");
    const char *const wargs[] = {"--config", W.dir, NULL};
    node_spawn(&W.n, wargs, NULL, true, W.dir);
    /* G: the gateway; its peers: W at its real endpoint */
    char wurl[64], gurl[64];
    snprintf(wurl, sizeof wurl, "http://127.0.0.1:%u", W.n.port);
    char *dw = descriptor(W.id, "worker", "stories", wurl);
    write_peers(&G, dw);
    zt_free(dw);
    spawn_g();
    snprintf(gurl, sizeof gurl, "http://127.0.0.1:%u", G.n.port);

    const char *C = canary;
    char s1[256], s2[256], s3[256], mail[128];
    snprintf(s1, sizeof s1, "Hi Bob, the code for the door is %s, see you at the station tomorrow at 9.", C);
    snprintf(s2, sizeof s2, "Thanks! Can you send the %s report to me before Friday?", C);
    snprintf(mail, sizeof mail, "%s@example.com", C);
    snprintf(s3, sizeof s3, "Sure, I will mail it to %s tonight and call you about %s.", mail, C);
    static const long ok200[] = {200, 0};
    static const long ok_or_asset[] = {200, 400, 503, 0}; /* a missing asset or pair still receives the text */
    char body[4096];

    /* every messaging feature of the route table */
    static const char *const text_routes[] = {"/v1/features/spam", "/v1/features/entities",
                                              "/v1/features/preprocess", "/v1/features/categorize",
                                              "/v1/features/intents"};
    for (size_t i = 0; i < sizeof text_routes / sizeof text_routes[0]; i++) {
        snprintf(body, sizeof body, "{\"texts\":[\"%s\",\"%s\",\"%s\"]}", s1, s2, s3);
        post_as(G.n.port, tok_user, text_routes[i], body, ok_or_asset, NULL);
    }
    snprintf(body, sizeof body, "{\"text\":\"%s\",\"source\":\"en\",\"target\":\"spa\"}", s1);
    post_as(G.n.port, tok_user, "/v1/features/translate", body, ok_or_asset, NULL);
    char conv[2048];
    snprintf(conv, sizeof conv,
             "[{\"from\":\"alice\",\"text\":\"%s\"},{\"from\":\"bob\",\"text\":\"%s\"},{\"from\":\"alice\",\"text\":\"%s\"}]",
             s1, s2, s3);
    snprintf(body, sizeof body, "{\"messages\":%s,\"me\":\"bob\"}", conv);
    post_as(G.n.port, tok_user, "/v1/features/smart-replies", body, ok_or_asset, NULL);
    snprintf(body, sizeof body, "{\"messages\":%s}", conv);
    post_as(G.n.port, tok_user, "/v1/features/summarize", body, ok_or_asset, NULL);
    post_as(G.n.port, tok_user, "/v1/features/categorize", body, ok_or_asset, NULL);
    /* and any /v1/features/ route of the route table (src/server/server.c)
     * this test does not know by name yet, with a plain {"text"} body */
    size_t n_extra = for_unknown_feature_routes(s1, body, sizeof body);
    printf("feature routes in the route table not named by this test: %zu (sent {\"text\"})\n", n_extra);
    snprintf(body, sizeof body, "{\"text\":\"%s\",\"feature\":\"chat\"}", s3);
    post_as(G.n.port, tok_user, "/v1/privacy/pii", body, ok200, NULL);

    /* search: index the conversation for the user, query it back */
    snprintf(body, sizeof body,
             "{\"user\":\"%s\",\"messages\":[{\"id\":\"m1\",\"text\":\"%s\"},{\"id\":\"m2\",\"text\":\"%s\"},"
             "{\"id\":\"m3\",\"text\":\"%s\"}]}",
             sub, s1, s2, s3);
    static const long ok_search[] = {200, 503, 0};
    struct resp r;
    post_as(G.n.port, tok_user, "/v1/search/index", body, ok_search, &r);
    bool have_search = r.status == 200;
    if (!have_search) zt_skip_part("search unavailable on this node (%s); not indexed", zt_buf_str(&r.body));
    resp_free(&r);
    snprintf(body, sizeof body, "{\"user\":\"%s\",\"query\":\"%s door code\"}", sub, C);
    post_as(G.n.port, tok_user, "/v1/search/query", body, ok_search, &r);
    if (have_search) assert_non_null(strstr(zt_buf_str(&r.body), C));
    resp_free(&r);

    /* the WebSocket */
    push_ws(tok_user, s1);

    /* the LLM API: through G (no model here: sealed to W) and on W itself */
    snprintf(body, sizeof body,
             "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"},"
             "{\"role\":\"assistant\",\"content\":\"%s\"}],\"max_tokens\":8}",
             s1, s2);
    struct resp cr;
    post_as(G.n.port, tok_user, "/v1/chat/completions", body, ok200, &cr);
    assert_non_null(strstr(zt_buf_str(&cr.body), zt_identity_id(W.id))); /* zentalk.ran_on: W */
    resp_free(&cr);
    post_as(W.n.port, NULL, "/v1/chat/completions", body, ok200, NULL);
    snprintf(body, sizeof body,
             "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}],\"max_tokens\":8,"
             "\"stream\":true}",
             s2);
    post_as(G.n.port, tok_user, "/v1/chat/completions", body, ok200, NULL);
    post_as(W.n.port, NULL, "/v1/chat/completions", body, ok200, NULL);
    snprintf(body, sizeof body, "{\"model\":\"stories\",\"prompt\":\"%s\",\"max_tokens\":8}", s3);
    post_as(G.n.port, tok_user, "/v1/completions", body, ok200, NULL);
    post_as(W.n.port, NULL, "/v1/completions", body, ok200, NULL);
    snprintf(body, sizeof body, "{\"model\":\"stories\",\"input\":[\"%s\",\"%s\"]}", s1, s2);
    post_as(W.n.port, NULL, "/v1/embeddings", body, ok200, NULL);

    /* the sealed path: client -> G (relay) -> W */
    const char *const job[] = {"job", "run", "--node", wurl, "--via", gurl, "stories", s1, "-n", "8", "--json", NULL};
    struct zt_buf out;
    zt_buf_init(&out, 1 << 20);
    int rc = run_cli(job, &out);
    if (rc) fprintf(stderr, "job run --via: %d %s\n", rc, zt_buf_str(&out));
    assert_int_equal(rc, 0);
    assert_non_null(strstr(zt_buf_str(&out), "\"verified\":true"));
    zt_buf_deinit(&out);

    /* the canary appears nowhere once the nodes have stopped */
    zt_time_sleep_ms(200);
    capture_metrics(&G, "gateway /metrics");
    capture_metrics(&W, "worker /metrics");
    scan_running();
    stop(&G);
    stop(&W);
    scan_all("after every feature");
    assert_audit_pseudonymous();

    /* G again, on the same data: export, erase, export */
    spawn_g();
    bool has = false;
    json_t *e1 = export_as(tok_user, "{}");
    assert_string_equal(json_string_value(json_object_get(e1, "identity")), sub);
    if (have_search) {
        assert_int_equal(export_docs(e1, &has), 3);
        assert_true(has);
    }
    json_t *au = json_object_get(json_object_get(e1, "data"), "audit_entries");
    assert_true(json_integer_value(json_object_get(au, "count")) >= 10);
    assert_true(json_is_string(json_object_get(au, "pseudonym")));
    json_decref(e1);
    post_as(G.n.port, tok_user, "/v1/privacy/erase", "{}", ok200, &r);
    json_t *er = resp_json(&r);
    resp_free(&r);
    json_t *erased = json_object_get(er, "erased");
    if (have_search) assert_int_equal(json_integer_value(json_object_get(erased, "search_documents")), 3);
    assert_true(json_is_true(json_object_get(erased, "audit_salt_destroyed")));
    assert_true(json_integer_value(json_object_get(erased, "audit_entries_unlinked")) >= 10);
    json_decref(er);
    json_t *e2 = export_as(tok_user, "{}");
    if (have_search) { /* without the search asset there is no index to export (skip noted above) */
        assert_int_equal(export_docs(e2, &has), 0);
        assert_false(has);
    }
    au = json_object_get(json_object_get(e2, "data"), "audit_entries");
    assert_int_equal(json_integer_value(json_object_get(au, "count")), 0);
    assert_true(json_is_null(json_object_get(au, "pseudonym")));
    json_decref(e2);
    /* erase is idempotent */
    post_as(G.n.port, tok_user, "/v1/privacy/erase", "{}", ok200, &r);
    er = resp_json(&r);
    resp_free(&r);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(er, "erased"), "search_documents")), 0);
    json_decref(er);
    free_blobs();
    capture_metrics(&G, "gateway /metrics (after erase)");
    scan_running();
    zt_buf_reset(&G.out);
    zt_buf_reset(&W.out);
    stop(&G);
    scan_all("after erase");
    assert_audit_pseudonymous();

    free_blobs();
    free(tok_user);
    free(tok_admin);
    release(&G);
    release(&W);
}

/* ---- the network stores: PostgreSQL and Redis ---------------------------- */

static struct peer_node O, N;

/* A reply's strings, recursively, into b. */
static void reply_text(const redisReply *r, struct zt_buf *b)
{
    if (!r) return;
    if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR) {
        assert_int_equal(zt_buf_append(b, r->str, r->len), 0);
        assert_int_equal(zt_buf_append(b, "\n", 1), 0);
    }
    if (r->type == REDIS_REPLY_ARRAY)
        for (size_t i = 0; i < r->elements; i++) reply_text(r->element[i], b);
}

/* Every key of the Redis server and its whole value, as text, into b;
 * the number of stream entries seen. */
static size_t redis_snapshot(redisContext *rc, struct zt_buf *b)
{
    size_t entries = 0;
    char cursor[32] = "0";
    do {
        redisReply *sc = redisCommand(rc, "SCAN %s COUNT 1000", cursor);
        assert_non_null(sc);
        assert_int_equal(sc->type, REDIS_REPLY_ARRAY);
        zt_strlcpy(cursor, sc->element[0]->str, sizeof cursor);
        const redisReply *keys = sc->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            const char *k = keys->element[i]->str;
            size_t kl = keys->element[i]->len;
            assert_int_equal(zt_buf_append(b, k, kl), 0);
            assert_int_equal(zt_buf_append(b, "\n", 1), 0);
            redisReply *t = redisCommand(rc, "TYPE %b", k, kl);
            assert_non_null(t);
            redisReply *v = NULL;
            if (zt_str_eq(t->str, "string")) v = redisCommand(rc, "GET %b", k, kl);
            else if (zt_str_eq(t->str, "list")) v = redisCommand(rc, "LRANGE %b 0 -1", k, kl);
            else if (zt_str_eq(t->str, "hash")) v = redisCommand(rc, "HGETALL %b", k, kl);
            else if (zt_str_eq(t->str, "set")) v = redisCommand(rc, "SMEMBERS %b", k, kl);
            else if (zt_str_eq(t->str, "zset")) v = redisCommand(rc, "ZRANGE %b 0 -1 WITHSCORES", k, kl);
            else if (zt_str_eq(t->str, "stream")) {
                v = redisCommand(rc, "XRANGE %b - +", k, kl);
                if (v && v->type == REDIS_REPLY_ARRAY) entries += v->elements;
                redisReply *g = redisCommand(rc, "XINFO GROUPS %b", k, kl);
                reply_text(g, b);
                freeReplyObject(g);
            }
            reply_text(v, b);
            freeReplyObject(v);
            freeReplyObject(t);
        }
        freeReplyObject(sc);
    } while (strcmp(cursor, "0") != 0);
    return entries;
}

struct chat_call {
    uint16_t port;
    const char *path;
    const char *body;
    long status;
};

static void *chat_thread(void *arg)
{
    struct chat_call *c = arg;
    char auth[2048];
    snprintf(auth, sizeof auth, "Bearer %s", tok_user);
    struct http_opts o = {.ctype = "application/json", .body = c->body, .auth = auth, .timeout_ms = 60000};
    struct resp r;
    memset(&r, 0, sizeof r);
    c->status = http_req(c->port, "POST", c->path, &o, &r) == 0 ? r.status : 0;
    resp_free(&r);
    return NULL;
}

static void scan_blob(const char *what, const char *data, size_t len, bool quiet)
{
    int hit = found_in(data, len);
    if (hit >= 0) fail_msg("canary form %d (%s) found in %s", hit, forms[hit], what);
    if (memmem(data, len, sub, strlen(sub))) fail_msg("the user's JWT sub is in clear in %s", what);
    if (!quiet) printf("  scanned %s (%zu bytes)\n", what, len);
}

static void test_canary_network_stores(void **state)
{
    (void)state;
    if (!model_path[0]) zt_skip("needs stories260K.gguf (tests/models)");
    char db[700], redis_url[256];
    if (!zt_test_pg_new_db(db, sizeof db)) zt_skip("%s", db);
    if (!zt_test_redis_start(redis_url, sizeof redis_url)) zt_skip("%s", redis_url);
    new_canary();
    tok_user = jwt_mint(SECRET, sub, "user", 900);

    /* O: gateway + orchestrator on PostgreSQL and Redis; N joins it */
    make_node(&O, "o");
    make_node(&N, "n");
    char env_db[800], env_redis[300];
    snprintf(env_db, sizeof env_db, "ZENTALK_DATABASE_POSTGRES_URL=%s", db);
    snprintf(env_redis, sizeof env_redis, "ZENTALK_DATABASE_REDIS_URL=%s", redis_url);
    const char *const oenv[] = {"ZENTALK_ENCRYPTION_JWT_SECRET=" SECRET, "ZENTALK_DATABASE_DRIVER=postgres", env_db,
                                "ZENTALK_DATABASE_QUEUE=redis", env_redis,
                                /* the result cache in Redis too, so that its entries are scanned */
                                "ZENTALK_DATABASE_RESULT_CACHE=redis", NULL};
    const char *const oargs[] = {"--config", O.dir, "--roles", "gateway,orchestrator", NULL};
    node_spawn(&O.n, oargs, oenv, true, O.dir);
    char ourl[64];
    snprintf(ourl, sizeof ourl, "http://127.0.0.1:%u", O.n.port);
    char yaml[1600];
    snprintf(yaml, sizeof yaml,
             "model_cache:\n  memory_budget_mb: 0\n  default_model: stories\n"
             "models:\n  - id: stories\n    path: %s\n    context_size: 512\n    max_tokens: 24\n",
             model_path);
    put_file(N.dir, "models.yaml", yaml);
    put_file(N.dir, "gpu-pool.yaml", "gpu_pool:\n  cpu_threads: 1\n  max_batch: 2\n");
    /* slowed, so that the jobs stay in the queue a while */
    const char *const nenv[] = {"ZENTALK_NODE_HEARTBEAT_INTERVAL_MS=300", "ZT_TEST_MODE=1", "ZT_TEST_DELAY_MS=40",
                                NULL};
    const char *const nargs[] = {"--config", N.dir, "--roles", "worker", "--join", ourl, NULL};
    node_spawn(&N.n, nargs, nenv, true, N.dir);

    const char *C = canary;
    char s1[256], s2[256], body[2048], body2[2048], body3[2048];
    snprintf(s1, sizeof s1, "Hi Bob, the code for the door is %s, see you at the station tomorrow at 9.", C);
    snprintf(s2, sizeof s2, "Thanks! Can you send the %s report to me before Friday?", C);
    snprintf(body, sizeof body,
             "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"},"
             "{\"role\":\"assistant\",\"content\":\"%s\"}],\"max_tokens\":16}",
             s1, s2);
    snprintf(body2, sizeof body2,
             "{\"model\":\"stories\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}],\"max_tokens\":16,"
             "\"stream\":true}",
             s2);
    snprintf(body3, sizeof body3, "{\"model\":\"stories\",\"prompt\":\"%s\",\"max_tokens\":16}", s1);
    /* until the worker has joined: no worker is 404/503 */
    uint64_t until = zt_time_mono_ms() + 30000;
    struct chat_call first = {.port = O.n.port, .path = "/v1/chat/completions", .body = body};
    do {
        chat_thread(&first);
        if (first.status != 200) zt_time_sleep_ms(200);
    } while (first.status != 200 && zt_time_mono_ms() < until);
    assert_int_equal(first.status, 200);

    redisContext *rc = redisConnect("127.0.0.1", (int)strtol(strrchr(redis_url, ':') + 1, NULL, 10));
    assert_non_null(rc);
    assert_int_equal(rc->err, 0);
    struct zt_buf rb;
    zt_buf_init(&rb, 1 << 24);
    size_t entries_seen = 0, snapshots = 0;
    for (int round = 0; round < 2; round++) {
        struct chat_call c[3] = {{.port = O.n.port, .path = "/v1/chat/completions", .body = body},
                                 {.port = O.n.port, .path = "/v1/chat/completions", .body = body2},
                                 {.port = O.n.port, .path = "/v1/completions", .body = body3}};
        pthread_t t[3];
        for (int i = 0; i < 3; i++) assert_int_equal(pthread_create(&t[i], NULL, chat_thread, &c[i]), 0);
        /* read the whole of Redis while they run */
        for (int k = 0; k < 40; k++) {
            zt_buf_reset(&rb);
            entries_seen += redis_snapshot(rc, &rb);
            snapshots++;
            scan_blob("Redis (every key and value)", rb.data ? rb.data : "", rb.len, true);
            zt_time_sleep_ms(15);
        }
        for (int i = 0; i < 3; i++) {
            pthread_join(t[i], NULL);
            assert_int_equal(c[i].status, 200);
        }
    }
    zt_buf_reset(&rb);
    redis_snapshot(rc, &rb);
    scan_blob("Redis (every key and value, at the end)", rb.data ? rb.data : "", rb.len, false);
    printf("Redis: %zu snapshots, %zu stream entries seen in them\n", snapshots, entries_seen);
    assert_true(entries_seen > 0); /* the queue was read while jobs were in it */
    zt_buf_deinit(&rb);
    redisFree(rc);

    /* the jobs are in PostgreSQL (metadata), then the database is dumped */
    PGconn *pc = PQconnectdb(db);
    assert_int_equal(PQstatus(pc), CONNECTION_OK);
    PGresult *pr = PQexec(pc, "SELECT count(*) FROM sched_jobs WHERE state IN (3, 5)"); /* done, verified */
    assert_int_equal(PQresultStatus(pr), PGRES_TUPLES_OK);
    long done = strtol(PQgetvalue(pr, 0, 0), NULL, 10);
    PQclear(pr);
    printf("PostgreSQL: %ld jobs done in sched_jobs\n", done);
    /* three distinct requests (body, body2, body3) ran on the worker at
     * least once; their repeats may be answered from the result cache */
    assert_true(done >= 3);
    stop(&N);
    stop(&O);
    scan_blob("worker stdout+stderr", N.out.data ? N.out.data : "", N.out.len, false);
    scan_blob("gateway+orchestrator stdout+stderr", O.out.data ? O.out.data : "", O.out.len, false);
    pr = PQexec(pc, "CHECKPOINT");
    assert_int_equal(PQresultStatus(pr), PGRES_COMMAND_OK);
    PQclear(pr);
    PQfinish(pc);
    char dump[400], why[600];
    snprintf(dump, sizeof dump, "%s/pg_dump.sql", O.dir);
    if (zt_test_pg_dump(dump, why, sizeof why)) {
        FILE *f = fopen(dump, "rb");
        assert_non_null(f);
        static char dbuf[1 << 23];
        size_t n = fread(dbuf, 1, sizeof dbuf, f);
        fclose(f);
        assert_non_null(memmem(dbuf, n, "sched_jobs", 10));
        assert_non_null(memmem(dbuf, n, "registry_nodes", 14));
        scan_blob("pg_dump of the database", dbuf, n, false);
    } else {
        zt_skip_part("pg_dump: %s (the data files are scanned)", why);
    }
    struct scan_stats st = {0, 0, true};
    const char *pgdata = zt_test_pg_data_dir();
    assert_non_null(pgdata);
    scan_tree(pgdata, &st);
    printf("  scanned PostgreSQL's data directory: %zu files, %zu bytes\n", st.files, st.bytes);
    assert_true(st.files > 100);
    /* the node directories too */
    struct scan_stats st2 = {0, 0, false};
    scan_tree(O.dir, &st2);
    scan_tree(N.dir, &st2);
    printf("canary scan (PostgreSQL + Redis network): canary and JWT sub: not found\n");

    free(tok_user);
    tok_user = NULL;
    release(&O);
    release(&N);
}

/* After a failure: stop whatever still runs, remove the directories. */
static int teardown(void **state)
{
    (void)state;
    struct peer_node *ps[4] = {&G, &W, &O, &N};
    for (int i = 0; i < 4; i++) {
        if (ps[i]->n.pid > 0) node_cleanup(&ps[i]->n);
        if (ps[i]->dir[0]) rm_rf(ps[i]->dir);
        ps[i]->dir[0] = '\0';
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s PATH/zentalk-node [PATH/zentalk]\n", argv[0]);
        return 2;
    }
    node_bin = argv[1];
    cli_bin = argc > 2 ? argv[2] : NULL;
    if (sodium_init() < 0) return 1;
    (void)find_test_model("stories260K.gguf", model_path, sizeof model_path);
    if (access(model_path, R_OK) != 0) model_path[0] = '\0';
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_canary_everywhere, teardown),
        cmocka_unit_test_teardown(test_canary_network_stores, teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
