/* test_attack_mesh.c: attacks on the mesh (zt_mesh.h, docs/internals/mesh.md).
 *
 *  - chunk flood: one caller asks a node for chunks as fast as it can; past
 *    mesh.serve_burst the node answers 429 with Retry-After, serves no more
 *    than the rate allows, and its other routes keep answering;
 *  - forged holder records (in a private network namespace: the DHT binds
 *    every address): under a blob's DHT key, next to an honest holder's
 *    record, this process puts junk, a record with a bad signature, one
 *    whose node id is not its key's, an expired one and a valid record of
 *    another blob, each naming an endpoint here that counts what it is
 *    asked: none of them is ever contacted;
 *  - manifest bombs: validly signed holders (cheap sybil keys) whose
 *    endpoints serve a manifest claiming 2^32-1 chunks, 16 MiB of garbage,
 *    and a manifest of another file under the advertised root: each is
 *    refused and its holder's score lowered, the pull completes from the
 *    honest holder with the right bytes, and the puller's memory stays
 *    bounded (the bomb's count is refused before anything is allocated);
 *    restarted, the puller still knows the sybils it caught (its scores are
 *    kept in its store) and does not ask them again;
 *  - fakes during a pull: while a pull from an honest (rate-limited, so
 *    slow) holder runs, this process publishes holder records of sybils
 *    whose endpoints stall every request for 8 s, serve 16 MiB of garbage,
 *    or serve another file's manifest, and a record with a bad signature:
 *    the pull (which reads the holders again every 2 s) completes from
 *    the honest holder with the right bytes within a bound, the sybils
 *    that served junk are penalised, the forged one is never contacted;
 *  - replica flood: a node whose store is bounded (mesh.max_store_mb 1)
 *    and holds a pinned 2 MiB blob is asked to replicate 40 blobs: each is
 *    refused (507 store_full) before any pull starts, and the pinned blob
 *    is never evicted, though the store is over its bound;
 *  - replica burst: a bounded store with room whose replica pull has no
 *    size yet (its holder sits on the manifest) tells 39 more offers to
 *    ask again later (503) instead of starting 39 pulls past its bound;
 *  - replica too big: a stranger's offer of a 24 MiB blob to a store
 *    bounded at 16 MiB is refused once the manifest gives its size, before
 *    any chunk is fetched (offers cannot make the bound evict honest
 *    copies). */
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mesh_util.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_mesh.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define WAIT_MS 60000

static char files_dir[256];

static void add(uint16_t port, const char *path, const char *want_sha)
{
    char body[600];
    snprintf(body, sizeof body, "{\"path\":\"%s\",\"rf\":1}", path);
    json_t *j = post_json(port, "/v1/mesh/add", NULL, body, 200);
    assert_string_equal(json_string_value(json_object_get(j, "sha256")), want_sha);
    json_decref(j);
}

/* ---- flood (no DHT needed) ------------------------------------------------------- */

static void test_chunk_flood(void **state)
{
    (void)state;
    char dir[256];
    tmp_dir(dir, sizeof dir, "meshatk");
    put_file(dir, "config.yaml", "mesh:\n  serve_rate_rps: 5\n  serve_burst: 10\n");
    struct node n;
    const char *const args[] = {"--config", dir, NULL};
    node_spawn(&n, args, NULL, true, dir);
    char path[512], sha[65];
    mesh_make_file(files_dir, "flood.bin", 1u << 20, 9, path, sizeof path, sha);
    add(n.port, path, sha);
    /* the one chunk's hash is the file's (a file of exactly one chunk) */
    char target[128];
    snprintf(target, sizeof target, "/v1/mesh/chunk/%s", sha);
    uint64_t t0 = zt_time_mono_ms();
    unsigned ok = 0, limited = 0, other = 0;
    bool retry_after = false;
    for (int i = 0; i < 300; i++) {
        struct resp r;
        http(n.port, "GET", target, NULL, NULL, &r);
        if (r.status == 200) ok++;
        else if (r.status == 429) {
            limited++;
            retry_after = retry_after || strstr(zt_buf_str(&r.headers), "Retry-After:") != NULL;
        } else other++;
        resp_free(&r);
    }
    double secs = (double)(zt_time_mono_ms() - t0) / 1000.0;
    printf("# 300 chunk requests in %.1f s: %u served, %u refused (429)\n", secs, ok, limited);
    assert_int_equal(other, 0);
    assert_true(limited > 0 && retry_after);
    assert_true(ok <= 10 + (unsigned)(5.0 * secs) + 2); /* the burst, then the rate */
    struct resp h;
    http(n.port, "GET", "/healthz", NULL, NULL, &h);
    assert_int_equal(h.status, 200);
    resp_free(&h);
    /* a bad name is refused before the limiter or the disk */
    http(n.port, "GET", "/v1/mesh/chunk/..%2f..%2fnode.key", NULL, NULL, &h);
    assert_int_equal(h.status, 400);
    resp_free(&h);
    node_stop(&n, 30000);
    rm_rf(dir);
}

/* ---- forged records and bombs (DHT) ------------------------------------------------ */

enum mode { M_COUNT, M_BOMB, M_GARBAGE, M_OTHER_FILE, M_STALL };

struct fake {
    enum mode mode;
    struct zt_http_server *srv;
    struct zt_buf other; /* M_OTHER_FILE: a valid manifest of another file */
    int requests;
};

static void fake_handler(void *ud, struct zt_http_req *req, struct zt_http_resp *resp)
{
    struct fake *f = ud;
    (void)req;
    __atomic_fetch_add(&f->requests, 1, __ATOMIC_SEQ_CST);
    resp->content_type = "application/octet-stream";
    switch (f->mode) {
    case M_BOMB: {
        uint8_t h[ZT_MESH_MANIFEST_HEADER] = "ZTMF\x01";
        zt_put_le32(h + 8, ZT_MESH_CHUNK_SIZE);
        zt_put_le32(h + 12, 0xffffffffu);
        zt_put_le64(h + 16, (uint64_t)1 << 52);
        zt_ignore(zt_buf_append(&resp->body, h, sizeof h));
        break;
    }
    case M_GARBAGE: {
        static char junk[1 << 16];
        memset(junk, 'z', sizeof junk);
        for (int i = 0; i < 256; i++) /* 16 MiB, four times what a manifest may be */
            if (zt_buf_append(&resp->body, junk, sizeof junk) != 0) break;
        break;
    }
    case M_OTHER_FILE: zt_ignore(zt_buf_append(&resp->body, f->other.data, f->other.len)); break;
    case M_STALL: /* a holder that sits on the manifest: the pull has no size for 8 s */
        zt_time_sleep_ms(8000);
        resp->status = 404;
        break;
    default: resp->status = 404; break;
    }
}

static void fake_start(struct fake *f, enum mode mode)
{
    memset(f, 0, sizeof *f);
    f->mode = mode;
    zt_buf_init(&f->other, ZT_MESH_MANIFEST_MAX);
    struct zt_http_opts ho = {.host = "127.0.0.1", .threads = 2, .max_connections = 64, .timeout_s = 30,
                              .max_header_bytes = 16384, .max_body_bytes = 65536, .handler = fake_handler, .ud = f};
    assert_int_equal(zt_http_start(&ho, &f->srv), 0);
}

static char *record(struct zt_identity *id, const struct fake *f, const uint8_t root[32], const uint8_t sha[32],
                    uint64_t size, int64_t exp)
{
    struct zt_mesh_holder h;
    memset(&h, 0, sizeof h);
    snprintf(h.endpoint, sizeof h.endpoint, "http://127.0.0.1:%u", (unsigned)zt_http_port(f->srv));
    memcpy(h.root, root, 32);
    memcpy(h.sha256, sha, 32);
    h.size = size;
    h.rf = 1;
    h.exp = exp;
    char *rec = NULL;
    assert_int_equal(zt_mesh_record_sign(id, &h, &rec), 0);
    return rec;
}

struct seen_ctx {
    int valid;
};

static bool on_seen(void *ud, const void *data, size_t len)
{
    struct seen_ctx *c = ud;
    if (zt_mesh_record_verify(data, len, zt_time_real_ms() / 1000, NULL) == 0) c->valid++;
    return true;
}

static double peer_score(uint16_t port, const char *node_id)
{
    struct resp r;
    http(port, "GET", "/v1/mesh/status", NULL, NULL, &r);
    json_t *j = resp_json(&r);
    resp_free(&r);
    size_t k;
    json_t *p;
    double s = 0;
    json_array_foreach(json_object_get(j, "peers"), k, p) if (zt_str_eq(json_string_value(json_object_get(p, "node_id")), node_id))
        s = json_real_value(json_object_get(p, "score"));
    json_decref(j);
    return s;
}

static void test_forged_records_and_bombs(void **state)
{
    (void)state;
    if (!zt_dht_available()) {
        zt_skip("the DHT is not built");
        return;
    }
    char hdir[256], pdir[256];
    tmp_dir(hdir, sizeof hdir, "meshatk");
    tmp_dir(pdir, sizeof pdir, "meshatk");
    put_file(hdir, "config.yaml", "node:\n  roles: [worker]\n  dht_port: 4901\nmesh:\n  record_ttl_s: 30\n");
    put_file(pdir, "config.yaml", "node:\n  roles: [worker]\n  dht_port: 4902\n  bootstrap: [\"127.0.0.1:4901\"]\n");
    struct node H, P;
    const char *const ha[] = {"--config", hdir, NULL}, *const pa[] = {"--config", pdir, NULL};
    node_spawn(&H, ha, NULL, true, hdir);
    node_spawn(&P, pa, NULL, true, pdir);
    char path[512], sha_hex[65], opath[512], osha[65];
    mesh_make_file(files_dir, "real.bin", (3u << 20) + 3, 21, path, sizeof path, sha_hex);
    mesh_make_file(files_dir, "other.bin", (3u << 20) + 3, 22, opath, sizeof opath, osha);
    add(H.port, path, sha_hex);
    struct zt_mesh_manifest man, oman;
    assert_int_equal(zt_mesh_manifest_of_file(path, &man), 0);
    assert_int_equal(zt_mesh_manifest_of_file(opath, &oman), 0);

    struct fake forged, bomb, garbage, other;
    fake_start(&forged, M_COUNT);
    fake_start(&bomb, M_BOMB);
    fake_start(&garbage, M_GARBAGE);
    fake_start(&other, M_OTHER_FILE);
    uint8_t *enc = NULL;
    size_t elen = 0;
    assert_int_equal(zt_mesh_manifest_encode(&oman, &enc, &elen), 0);
    assert_int_equal(zt_buf_append(&other.other, enc, elen), 0);
    zt_free(enc);

    struct zt_dht_opts dopt = {.port = 4909};
    struct zt_dht *d = NULL;
    assert_int_equal(zt_dht_new(&dopt, &d), 0);
    assert_int_equal(zt_dht_bootstrap(d, "127.0.0.1:4901"), 0);
    struct zt_identity *ids[6];
    for (int i = 0; i < 6; i++) assert_int_equal(zt_identity_generate(&ids[i]), 0);
    int64_t now = zt_time_real_ms() / 1000;
    char *recs[8];
    size_t nr = 0;
    /* 1: a bad signature */
    char *r = record(ids[0], &forged, man.root, man.file_sha256, man.file_size, now + 3600);
    char *sig = strstr(r, "\"sig\":\"");
    assert_non_null(sig);
    sig[7] = sig[7] == 'a' ? 'b' : 'a';
    recs[nr++] = r;
    /* 2: a node id that is not its key's (another key signs for it) */
    r = record(ids[1], &forged, man.root, man.file_sha256, man.file_size, now + 3600);
    json_t *o = json_loads(r, 0, NULL);
    json_object_set_new(o, "node_id", json_string(zt_identity_id(ids[2])));
    zt_free(r);
    recs[nr++] = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    /* 3: expired; 4: a valid record of another blob put under this key */
    recs[nr++] = record(ids[2], &forged, man.root, man.file_sha256, man.file_size, now - 10);
    recs[nr++] = record(ids[3], &forged, oman.root, oman.file_sha256, oman.file_size, now + 3600);
    /* sybils with valid records: a bomb, garbage, another file's manifest under our root */
    recs[nr++] = record(ids[3], &bomb, man.root, man.file_sha256, man.file_size, now + 3600);
    recs[nr++] = record(ids[4], &garbage, man.root, man.file_sha256, man.file_size, now + 3600);
    recs[nr++] = record(ids[5], &other, man.root, man.file_sha256, man.file_size, now + 3600);
    /* until every valid record (3 sybils and H's) can be read back */
    struct seen_ctx sc = {0};
    uint64_t until = zt_time_mono_ms() + WAIT_MS;
    for (;;) {
        for (size_t i = 0; i < nr; i++) assert_int_equal(zt_dht_put_value(d, "mesh", sha_hex, recs[i], strlen(recs[i])), 0);
        assert_int_equal(zt_dht_put_value(d, "mesh", sha_hex, "junk", 4), 0);
        sc.valid = 0;
        assert_int_equal(zt_dht_get_values(d, "mesh", sha_hex, 2000, on_seen, &sc), 0);
        if (sc.valid >= 4) break;
        assert_true(zt_time_mono_ms() < until);
        zt_time_sleep_ms(300);
    }
    /* the pull: retried while the puller's DHT view fills in */
    char body[200];
    snprintf(body, sizeof body, "{\"sha256\":\"%s\",\"install\":true,\"name\":\"real.gguf\"}", sha_hex);
    mesh_pull_until_done(P.port, sha_hex, body, until);
    char inst[600];
    snprintf(inst, sizeof inst, "%s/models/real.gguf", P.data_dir);
    char got[65];
    mesh_file_sha(inst, got);
    assert_string_equal(got, sha_hex);
    printf("# forged endpoint asked %d times; bomb %d, garbage %d, other file %d\n", forged.requests, bomb.requests,
           garbage.requests, other.requests);
    assert_int_equal(forged.requests, 0); /* no forged, expired or misplaced record was used */
    /* each sybil that served something was caught (a pull may end before it asked them all) */
    if (bomb.requests) assert_true(peer_score(P.port, zt_identity_id(ids[3])) < 0);
    if (garbage.requests) assert_true(peer_score(P.port, zt_identity_id(ids[4])) < 0);
    if (other.requests) assert_true(peer_score(P.port, zt_identity_id(ids[5])) < 0);
    assert_true(bomb.requests + garbage.requests + other.requests > 0);
    /* a second pull does not ask the caught sybils again */
    int before = bomb.requests + garbage.requests + other.requests;
    struct resp ur;
    char ub[120];
    snprintf(ub, sizeof ub, "{\"sha256\":\"%s\"}", sha_hex);
    http(P.port, "POST", "/v1/mesh/unpin", "application/json", ub, &ur);
    assert_int_equal(ur.status, 200);
    resp_free(&ur);
    snprintf(body, sizeof body, "{\"sha256\":\"%s\"}", sha_hex);
    mesh_pull_until_done(P.port, sha_hex, body, until);
    int after = bomb.requests + garbage.requests + other.requests;
    int caught = (bomb.requests > 0) + (garbage.requests > 0) + (other.requests > 0);
    assert_true(after - before <= 3 - caught); /* only the sybils not yet caught */
    /* the puller restarted: its scores come back from its store, the caught
     * sybils are still not asked */
    caught = (bomb.requests > 0) + (garbage.requests > 0) + (other.requests > 0);
    assert_int_equal(kill(P.pid, SIGTERM), 0);
    assert_int_equal(node_wait(&P, 30000), 0);
    node_cleanup(&P);
    node_spawn(&P, pa, NULL, true, pdir);
    if (bomb.requests) assert_true(peer_score(P.port, zt_identity_id(ids[3])) < 0);
    if (garbage.requests) assert_true(peer_score(P.port, zt_identity_id(ids[4])) < 0);
    if (other.requests) assert_true(peer_score(P.port, zt_identity_id(ids[5])) < 0);
    http(P.port, "POST", "/v1/mesh/unpin", "application/json", ub, &ur);
    assert_int_equal(ur.status, 200);
    resp_free(&ur);
    mesh_pull_until_done(P.port, sha_hex, body, until);
    int third = bomb.requests + garbage.requests + other.requests;
    printf("# after the puller's restart: %d caught sybil(s) still known, %d request(s) to sybils\n", caught,
           third - after);
    assert_true(third - after <= 3 - caught);
    for (size_t i = 0; i < nr; i++) zt_free(recs[i]);
    for (int i = 0; i < 6; i++) zt_identity_free(ids[i]);
    zt_dht_free(d);
    struct fake *fs[] = {&forged, &bomb, &garbage, &other};
    for (int i = 0; i < 4; i++) {
        zt_http_stop(fs[i]->srv);
        zt_buf_deinit(&fs[i]->other);
    }
    zt_mesh_manifest_deinit(&man);
    zt_mesh_manifest_deinit(&oman);
    node_stop(&P, 30000);
    node_stop(&H, 30000);
    rm_rf(pdir);
    rm_rf(hdir);
}

/* ---- fake holders published while a pull runs (DHT) ---------------------------------------- */

static void test_fakes_during_pull(void **state)
{
    (void)state;
    if (!zt_dht_available()) {
        zt_skip("the DHT is not built");
        return;
    }
    char hdir[256], pdir[256];
    tmp_dir(hdir, sizeof hdir, "meshfake");
    tmp_dir(pdir, sizeof pdir, "meshfake");
    /* the honest holder serves 4 chunks a second: a 24 MiB pull lasts seconds */
    put_file(hdir, "config.yaml",
             "node:\n  roles: [worker]\n  dht_port: 4941\nmesh:\n  record_ttl_s: 30\n  serve_rate_rps: 4\n"
             "  serve_burst: 4\n");
    put_file(pdir, "config.yaml", "node:\n  roles: [worker]\n  dht_port: 4942\n  bootstrap: [\"127.0.0.1:4941\"]\n");
    struct node H, P;
    const char *const ha[] = {"--config", hdir, NULL}, *const pa[] = {"--config", pdir, NULL};
    node_spawn(&H, ha, NULL, true, hdir);
    node_spawn(&P, pa, NULL, true, pdir);
    char path[512], sha_hex[65], opath[512], osha[65];
    mesh_make_file(files_dir, "during.bin", 24u << 20, 41, path, sizeof path, sha_hex);
    mesh_make_file(files_dir, "during-other.bin", 2u << 20, 42, opath, sizeof opath, osha);
    add(H.port, path, sha_hex);
    struct zt_mesh_manifest man, oman;
    assert_int_equal(zt_mesh_manifest_of_file(path, &man), 0);
    assert_int_equal(zt_mesh_manifest_of_file(opath, &oman), 0);
    struct fake forged, stall, garbage, other;
    fake_start(&forged, M_COUNT);
    fake_start(&stall, M_STALL);
    fake_start(&garbage, M_GARBAGE);
    fake_start(&other, M_OTHER_FILE);
    uint8_t *enc = NULL;
    size_t elen = 0;
    assert_int_equal(zt_mesh_manifest_encode(&oman, &enc, &elen), 0);
    assert_int_equal(zt_buf_append(&other.other, enc, elen), 0);
    zt_free(enc);
    struct zt_dht_opts dopt = {.port = 4949};
    struct zt_dht *d = NULL;
    assert_int_equal(zt_dht_new(&dopt, &d), 0);
    assert_int_equal(zt_dht_bootstrap(d, "127.0.0.1:4941"), 0);
    struct zt_identity *ids[4];
    for (int i = 0; i < 4; i++) assert_int_equal(zt_identity_generate(&ids[i]), 0);
    int64_t now = zt_time_real_ms() / 1000;
    char *recs[4];
    recs[0] = record(ids[0], &forged, man.root, man.file_sha256, man.file_size, now + 3600);
    char *sig = strstr(recs[0], "\"sig\":\"");
    assert_non_null(sig);
    sig[7] = sig[7] == 'a' ? 'b' : 'a'; /* a bad signature */
    recs[1] = record(ids[1], &stall, man.root, man.file_sha256, man.file_size, now + 3600);
    recs[2] = record(ids[2], &garbage, man.root, man.file_sha256, man.file_size, now + 3600);
    recs[3] = record(ids[3], &other, man.root, man.file_sha256, man.file_size, now + 3600);
    /* the pull starts (again while the puller's DHT view has no holder yet) */
    char body[200], target[120];
    snprintf(body, sizeof body, "{\"sha256\":\"%s\",\"install\":true,\"name\":\"during.gguf\"}", sha_hex);
    snprintf(target, sizeof target, "/v1/mesh/pull/%s", sha_hex);
    json_decref(post_json(P.port, "/v1/mesh/pull", NULL, body, 202));
    uint64_t until = zt_time_mono_ms() + WAIT_MS, t_run = 0, t_done = 0;
    long long have_at_fakes = -1;
    for (;;) {
        assert_true(zt_time_mono_ms() < until);
        struct resp r;
        http(P.port, "GET", target, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        json_t *j = resp_json(&r);
        resp_free(&r);
        const char *st = json_string_value(json_object_get(j, "state"));
        long long have = (long long)json_integer_value(json_object_get(j, "have"));
        bool done = zt_str_eq(st, "done"), failed = zt_str_eq(st, "failed");
        if (failed && t_run) fail_msg("the pull failed with fake holders about: %s", json_string_value(json_object_get(j, "error")));
        json_decref(j);
        if (done) {
            t_done = zt_time_mono_ms();
            break;
        }
        if (failed) { /* no holder seen yet: before any fake, asked again */
            zt_time_sleep_ms(300);
            json_decref(post_json(P.port, "/v1/mesh/pull", NULL, body, 202));
            continue;
        }
        if (have > 0 && !t_run) { /* running, chunks coming from the honest holder: the fakes go in */
            t_run = zt_time_mono_ms();
            have_at_fakes = have;
        }
        if (t_run)
            for (int i = 0; i < 4; i++) assert_int_equal(zt_dht_put_value(d, "mesh", sha_hex, recs[i], strlen(recs[i])), 0);
        zt_time_sleep_ms(300);
    }
    assert_true(t_run > 0);
    assert_true(have_at_fakes < (long long)man.n_chunks); /* published while the pull ran */
    char inst[600], got[65];
    snprintf(inst, sizeof inst, "%s/models/during.gguf", P.data_dir);
    mesh_file_sha(inst, got);
    assert_string_equal(got, sha_hex); /* not corrupted */
    printf("# fakes published at chunk %lld of %u; the pull completed %.1f s later; forged asked %d, stalling %d,"
           " garbage %d, other file %d\n",
           have_at_fakes, man.n_chunks, (double)(t_done - t_run) / 1000.0, forged.requests, stall.requests,
           garbage.requests, other.requests);
    assert_int_equal(forged.requests, 0);
    assert_true(t_done - t_run < 45000); /* the stalling sybil did not hold the pull up for long */
    if (garbage.requests) assert_true(peer_score(P.port, zt_identity_id(ids[2])) < 0);
    if (other.requests) assert_true(peer_score(P.port, zt_identity_id(ids[3])) < 0);
    for (int i = 0; i < 4; i++) {
        zt_free(recs[i]);
        zt_identity_free(ids[i]);
    }
    zt_dht_free(d);
    node_stop(&P, 30000);
    node_stop(&H, 30000);
    struct fake *fs[] = {&forged, &stall, &garbage, &other};
    for (int i = 0; i < 4; i++) {
        zt_http_stop(fs[i]->srv);
        zt_buf_deinit(&fs[i]->other);
    }
    zt_mesh_manifest_deinit(&man);
    zt_mesh_manifest_deinit(&oman);
    unlink(path);
    unlink(opath);
    rm_rf(pdir);
    rm_rf(hdir);
}

/* ---- replica flood on a bounded store (no DHT needed) ----------------------------------- */

static void test_replica_flood_bounded(void **state)
{
    (void)state;
    char dir[256];
    tmp_dir(dir, sizeof dir, "meshrep");
    put_file(dir, "config.yaml", "mesh:\n  max_store_mb: 1\n");
    struct node n;
    const char *const args[] = {"--config", dir, NULL};
    node_spawn(&n, args, NULL, true, dir);
    char path[512], sha[65];
    mesh_make_file(files_dir, "pinned.bin", 2u << 20, 7, path, sizeof path, sha);
    add(n.port, path, sha); /* added: pinned */
    unsigned refused = 0;
    for (int i = 0; i < 40; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"sha256\":\"%064x\",\"rf\":2}", 0xa11ce00 + i);
        struct resp r;
        http(n.port, "POST", "/v1/mesh/replicate", "application/json", body, &r);
        refused += r.status == 507 && strstr(zt_buf_str(&r.body), "store_full") != NULL;
        resp_free(&r);
    }
    assert_int_equal(refused, 40);
    zt_time_sleep_ms(2500); /* two rounds of the mesh thread's bound check */
    struct resp r;
    http(n.port, "GET", "/v1/mesh/status", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *st = resp_json(&r);
    resp_free(&r);
    assert_int_equal(json_array_size(json_object_get(st, "pulls")), 0); /* none started */
    assert_int_equal(json_integer_value(json_object_get(st, "blobs")), 1);
    assert_int_equal(json_integer_value(json_object_get(st, "store_bytes")), 2 << 20); /* over the bound, pinned: kept */
    printf("# 40 replica offers to a store over its 1 MiB bound: %u refused (507), the pinned 2 MiB blob kept\n",
           refused);
    json_decref(st);
    node_stop(&n, 30000);
    rm_rf(dir);
}

/* ---- replica offers of a blob whose holder a stranger announces in the DHT -------------- */

/* A worker node (DHT on dht_port, the next port free for the stranger's
 * DHT, mesh.max_store_mb = store_mb) and a stranger: a DHT client
 * bootstrapped to it and an identity that signs holder records. */
struct stranger {
    char dir[256];
    struct node n;
    struct zt_dht *d;
    struct zt_identity *id;
    char *rec;        /* the holder record (stranger_announce) */
    char sha_hex[65]; /* the offered blob */
    char body[160];   /* the replica offer */
};

static void stranger_start(struct stranger *s, const char *tag, int dht_port, int store_mb)
{
    memset(s, 0, sizeof *s);
    tmp_dir(s->dir, sizeof s->dir, tag);
    char cfg[160], boot[32];
    snprintf(cfg, sizeof cfg, "node:\n  roles: [worker]\n  dht_port: %d\nmesh:\n  max_store_mb: %d\n", dht_port,
             store_mb);
    put_file(s->dir, "config.yaml", cfg);
    const char *const args[] = {"--config", s->dir, NULL};
    node_spawn(&s->n, args, NULL, true, s->dir);
    struct zt_dht_opts dopt = {.port = (uint16_t)(dht_port + 7)};
    assert_int_equal(zt_dht_new(&dopt, &s->d), 0);
    snprintf(boot, sizeof boot, "127.0.0.1:%d", dht_port);
    assert_int_equal(zt_dht_bootstrap(s->d, boot), 0);
    assert_int_equal(zt_identity_generate(&s->id), 0);
}

/* The stranger's signed record: holder serves the blob (root, sha, size). */
static void stranger_announce(struct stranger *s, const struct fake *holder, const uint8_t root[32],
                              const uint8_t sha[32], uint64_t size)
{
    s->rec = record(s->id, holder, root, sha, size, zt_time_real_ms() / 1000 + 3600);
    zt_hex_encode(s->sha_hex, sha, 32);
    snprintf(s->body, sizeof s->body, "{\"sha256\":\"%s\",\"rf\":2}", s->sha_hex);
}

/* The record put again (the node's DHT view fills in meanwhile) and the
 * blob offered once more: 202 (a pull starts) or 503 (ask again later). */
static void stranger_offer(struct stranger *s)
{
    assert_int_equal(zt_dht_put_value(s->d, "mesh", s->sha_hex, s->rec, strlen(s->rec)), 0);
    struct resp r;
    http(s->n.port, "POST", "/v1/mesh/replicate", "application/json", s->body, &r);
    assert_true(r.status == 202 || r.status == 503);
    resp_free(&r);
    zt_time_sleep_ms(300);
}

static void stranger_stop(struct stranger *s)
{
    zt_free(s->rec);
    zt_identity_free(s->id);
    zt_dht_free(s->d);
    node_stop(&s->n, 30000);
    rm_rf(s->dir);
}

/* A burst of replica offers to a bounded store with room: while the pull
 * of the first has no manifest yet (its holder, found through the DHT,
 * sits on it), the pull has no size, so the other offers are told to ask
 * again later (503) instead of each starting a pull that could take the
 * store past its bound: one blob at most over it, not one per offer. */
static void test_replica_burst_bounded(void **state)
{
    (void)state;
    if (!zt_dht_available()) {
        zt_skip("the DHT is not built");
        return;
    }
    struct stranger s;
    stranger_start(&s, "meshburst", 4912, 64);
    struct fake stall;
    fake_start(&stall, M_STALL);
    uint8_t root[32], sha[32];
    randombytes_buf(root, sizeof root);
    randombytes_buf(sha, sizeof sha);
    stranger_announce(&s, &stall, root, sha, 48u << 20);
    /* offered until the node's pull is at the stalling holder (a pull that
     * found no holder ends) */
    uint64_t until = zt_time_mono_ms() + WAIT_MS;
    while (__atomic_load_n(&stall.requests, __ATOMIC_SEQ_CST) == 0) {
        assert_true(zt_time_mono_ms() < until);
        stranger_offer(&s);
    }
    unsigned accepted = 0, busy = 0, other = 0;
    for (int i = 0; i < 39; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"sha256\":\"%064x\",\"rf\":2}", 0xb0b0000 + i);
        struct resp r;
        http(s.n.port, "POST", "/v1/mesh/replicate", "application/json", body, &r);
        if (r.status == 202) accepted++;
        else if (r.status == 503) busy++;
        else other++;
        resp_free(&r);
    }
    printf("# 39 replica offers while a replica pull's size is unknown (its holder stalls), bound 64 MiB: "
           "%u accepted, %u told to ask later (503), %u other\n",
           accepted, busy, other);
    assert_int_equal(busy, 39);
    stranger_stop(&s);
    zt_http_stop(stall.srv);
    zt_buf_deinit(&stall.other);
}

/* A stranger's replica offer for a blob bigger than the room left under
 * mesh.max_store_mb: accepted while its size is unknown, the pull is
 * refused once the manifest gives the size, before any chunk is asked, so
 * offers cannot make the bound evict the node's honest copies. */
static void test_replica_too_big(void **state)
{
    (void)state;
    if (!zt_dht_available()) {
        zt_skip("the DHT is not built");
        return;
    }
    struct stranger s;
    stranger_start(&s, "meshbig", 4922, 16);
    char path[512], sha_hex[65];
    mesh_make_file(files_dir, "big.bin", 24u << 20, 31, path, sizeof path, sha_hex);
    struct zt_mesh_manifest man;
    assert_int_equal(zt_mesh_manifest_of_file(path, &man), 0);
    struct fake holder; /* serves the manifest (and would serve it again for any chunk) */
    fake_start(&holder, M_OTHER_FILE);
    uint8_t *enc = NULL;
    size_t elen = 0;
    assert_int_equal(zt_mesh_manifest_encode(&man, &enc, &elen), 0);
    assert_int_equal(zt_buf_append(&holder.other, enc, elen), 0);
    zt_free(enc);
    stranger_announce(&s, &holder, man.root, man.file_sha256, man.file_size);
    assert_string_equal(s.sha_hex, sha_hex);
    uint64_t until = zt_time_mono_ms() + WAIT_MS;
    char target[120];
    snprintf(target, sizeof target, "/v1/mesh/pull/%s", sha_hex);
    json_t *pull = NULL;
    for (;;) { /* offered until a pull ends having reached the holder */
        assert_true(zt_time_mono_ms() < until);
        stranger_offer(&s);
        if (__atomic_load_n(&holder.requests, __ATOMIC_SEQ_CST) == 0) continue;
        struct resp r;
        http(s.n.port, "GET", target, NULL, NULL, &r);
        json_decref(pull);
        pull = r.status == 200 ? resp_json(&r) : NULL;
        resp_free(&r);
        if (pull && zt_str_eq(json_string_value(json_object_get(pull, "state")), "failed")) break;
    }
    const char *why = json_string_value(json_object_get(pull, "error"));
    printf("# a 24 MiB replica offered to a store bounded at 16 MiB: pull %s (%s); the holder was asked %d time(s), "
           "chunks fetched %lld\n",
           json_string_value(json_object_get(pull, "state")), why ? why : "", holder.requests,
           (long long)json_integer_value(json_object_get(pull, "have")));
    assert_non_null(why);
    assert_non_null(strstr(why, "max_store_mb"));
    assert_int_equal(json_integer_value(json_object_get(pull, "have")), 0);
    json_decref(pull);
    stranger_stop(&s);
    zt_http_stop(holder.srv);
    zt_buf_deinit(&holder.other);
    zt_mesh_manifest_deinit(&man);
    unlink(path);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_attack_mesh")) return 2;
    json_set_alloc_funcs(zt_malloc, zt_free);
    int outer = zt_dht_available() ? netns_rerun(argc, argv) : -1;
    if (outer >= 0) return outer;
    if (zt_hash_init() != 0) return 1;
    tmp_dir(files_dir, sizeof files_dir, "meshatkf");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunk_flood),
        cmocka_unit_test(test_forged_records_and_bombs),
        cmocka_unit_test(test_fakes_during_pull),
        cmocka_unit_test(test_replica_flood_bounded),
        cmocka_unit_test(test_replica_burst_bounded),
        cmocka_unit_test(test_replica_too_big),
    };
    int rc = cmocka_run_group_tests_name("attack_mesh", tests, NULL, NULL);
    rm_rf(files_dir);
    return zt_test_exit(rc);
}
