/* mesh_util.h: what the mesh's black-box tests share (test_mesh.c, test_dbsync.c,
 * tests/attack/node/test_attack_mesh.c): test files of a seeded content,
 * a file's SHA-256, a pull driven until it is done, and main() of a test
 * whose nodes run the DHT. Static functions:
 * each test includes it once, after harness.h. */
#ifndef ZT_TEST_MESH_UTIL_H
#define ZT_TEST_MESH_UTIL_H

#include <stdio.h>
#include <stdlib.h>

#include "harness.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

/* dir/name: size bytes from a seeded generator (xorshift64*); its path in
 * path, its SHA-256 hex in sha. */
__attribute__((unused)) static void mesh_make_file(const char *dir, const char *name, size_t size, uint64_t seed, char *path, size_t cap,
                           char sha[65])
{
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint8_t *buf = malloc(size);
    assert_non_null(buf);
    uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull | 1; /* distinct seeds, distinct files (2 and 3 must not share chunks) */
    for (size_t i = 0; i < size; i++) {
        x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
        buf[i] = (uint8_t)((x * 2685821657736338717ull) >> 56);
    }
    assert_int_equal(fwrite(buf, 1, size, f), size);
    assert_int_equal(fclose(f), 0);
    uint8_t d[32];
    zt_sha256(d, buf, size);
    zt_hex_encode(sha, d, 32);
    free(buf);
}

/* The SHA-256 hex of the file at path. */
__attribute__((unused)) static void mesh_file_sha(const char *path, char sha[65])
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct zt_sha256_ctx c;
    zt_sha256_init(&c);
    static uint8_t buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) zt_sha256_update(&c, buf, n);
    fclose(f);
    uint8_t d[32];
    zt_sha256_final(&c, d);
    zt_hex_encode(sha, d, 32);
}

/* POST body to the node's /v1/mesh/pull and poll /v1/mesh/pull/<sha>
 * until "done"; a pull that failed (the DHT still spreading the records,
 * a holder not yet admitting us) is started again, until deadline_ms
 * (monotonic). */
__attribute__((unused)) static void mesh_pull_until_done(uint16_t port, const char *sha, const char *body, uint64_t deadline_ms)
{
    char path[128];
    snprintf(path, sizeof path, "/v1/mesh/pull/%s", sha);
    json_decref(post_json(port, "/v1/mesh/pull", NULL, body, 202));
    for (;;) {
        struct resp r;
        http(port, "GET", path, NULL, NULL, &r);
        assert_int_equal(r.status, 200);
        json_t *j = resp_json(&r);
        resp_free(&r);
        const char *st = json_string_value(json_object_get(j, "state"));
        bool done = zt_str_eq(st, "done"), failed = zt_str_eq(st, "failed");
        if (failed) printf("# pull failed: %s (again)\n", json_string_value(json_object_get(j, "error")));
        json_decref(j);
        if (done) return;
        assert_true(zt_time_mono_ms() < deadline_ms);
        if (failed) {
            zt_time_sleep_ms(300);
            json_decref(post_json(port, "/v1/mesh/pull", NULL, body, 202));
        }
        zt_time_sleep_ms(50);
    }
}

/* The start of main() of a test whose nodes run the DHT (it binds every
 * address, so the test runs again inside a private network namespace,
 * netns_rerun): the harness, jansson's allocator, a skip without the DHT
 * (why: what needs it). -1: go on with the tests (inside); else the exit
 * status to return. */
__attribute__((unused)) static int mesh_netns_start(int argc, char **argv, const char *prog, const char *why)
{
    if (!harness_start(argc, argv, prog)) return 2;
    json_set_alloc_funcs(zt_malloc, zt_free);
    if (!zt_dht_available()) {
        printf("SKIP: the DHT is not built (no OpenDHT C API): %s\n", why);
        return 77;
    }
    int outer = netns_rerun(argc, argv);
    if (outer >= 0) return outer;
    return zt_hash_init() != 0 ? 1 : -1;
}

/* A node of a test: its temp dir (config, data/), the process, whether it runs. */
struct mnode {
    char dir[256];
    struct node n;
    bool up;
};

/* Teardown: each node stopped (SIGTERM, exit 0) or cleaned up, its dir removed. */
__attribute__((unused)) static void mesh_nodes_stop(struct mnode *nodes, int n)
{
    for (int i = 0; i < n; i++) {
        if (!nodes[i].dir[0]) continue;
        if (nodes[i].up) node_stop(&nodes[i].n, 30000);
        else node_cleanup(&nodes[i].n);
        rm_rf(nodes[i].dir);
    }
}

#endif
