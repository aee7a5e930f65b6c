/* test_attack_disk_fill.c: filling the disk through the search index,
 * against a real zentalk-node (issue 17 item 9). Before: one client grew
 * the search database by 192 MB in 22 s, and deleting the user's messages
 * left 570 MB plus a 304 MB WAL.
 * Checked:
 *  - per-user quotas (features.search.max_messages_per_user,
 *    max_bytes_per_user): past them the index answers 403 quota_exceeded
 *    (JSON), other users are not affected, deleting makes room again;
 *  - deleting a user's messages gives the space back: the database file
 *    and its WAL shrink (incremental vacuum, WAL checkpoint);
 *  - /metrics shows the store's size.
 * Needs the GloVe asset (make data); skips without it.
 * Usage: test_attack_disk_fill PATH/zentalk-node [PATH/zentalk] */
#define _GNU_SOURCE
#include "harness.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static bool have_assets(void)
{
    const char *d = getenv("ZENTALK_ASSETS_DIR");
    char p[1024];
    snprintf(p, sizeof p, "%s/glove.zta", d ? d : "data/assets");
    struct stat st;
    return stat(p, &st) == 0;
}

/* Index n messages of about size bytes each for user, ids from first;
 * returns the status. */
static long index_batch(uint16_t port, const char *user, int first, int n, size_t size, struct resp *out)
{
    struct zt_buf b;
    zt_buf_init(&b, 64u << 20);
    assert_int_equal(zt_buf_appendf(&b, "{\"user\":\"%s\",\"messages\":[", user), 0);
    for (int i = 0; i < n; i++) {
        assert_int_equal(zt_buf_appendf(&b, "%s{\"id\":\"m%d\",\"text\":\"", i ? "," : "", first + i), 0);
        static const char *const words[] = {"flight", "lisbon", "dinner", "plumber", "monday", "sushi",
                                            "meeting", "budget", "holiday", "garden", "invoice", "concert"};
        size_t len = 0;
        for (unsigned k = (unsigned)(first + i); len < size; k = k * 1103515245u + 12345u) {
            const char *w = words[(k >> 16) % 12];
            assert_int_equal(zt_buf_appendf(&b, "%s%s %u", len ? " " : "", w, (k >> 8) % 1000), 0);
            len += strlen(w) + 5;
        }
        assert_int_equal(zt_buf_append_str(&b, "\"}"), 0);
    }
    assert_int_equal(zt_buf_append_str(&b, "]}"), 0);
    struct resp r;
    http(port, "POST", "/v1/search/index", "application/json", zt_buf_str(&b), &r);
    zt_buf_deinit(&b);
    long st = r.status;
    if (out) *out = r;
    else resp_free(&r);
    return st;
}

static void delete_user(uint16_t port, const char *user)
{
    char body[128];
    snprintf(body, sizeof body, "{\"user\":\"%s\"}", user);
    struct resp r;
    http(port, "POST", "/v1/search/delete", "application/json", body, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
}

static long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : 0;
}

static long long store_bytes(const struct node *n)
{
    char p[512];
    snprintf(p, sizeof p, "%s/search.db", n->data_dir);
    long long db = file_size(p);
    snprintf(p, sizeof p, "%s/search.db-wal", n->data_dir);
    return db + file_size(p);
}

static void test_quotas(void **state)
{
    (void)state;
    if (!have_assets()) zt_skip("glove.zta not installed (run `make data`)");
    char cfg[256];
    tmp_dir(cfg, sizeof cfg, "diskcfg");
    put_file(cfg, "features.yaml",
             "features:\n  search:\n    max_messages_per_user: 50\n    max_bytes_per_user: 200000\n");
    const char *const args[] = {"--config", cfg, NULL};
    struct node n;
    node_spawn(&n, args, NULL, true, NULL);
    /* messages: 50 fit, the 51st does not */
    assert_int_equal(index_batch(n.port, "alice", 0, 50, 40, NULL), 200);
    struct resp r;
    assert_int_equal(index_batch(n.port, "alice", 50, 1, 40, &r), 403);
    assert_error_json(&r, 403, "quota_exceeded");
    resp_free(&r);
    /* bytes: 4 KiB messages (about 12 KB stored each) run into 200,000 bytes long before 50 messages */
    int ok = 0;
    long st = 200;
    for (int i = 0; i < 50 && st == 200; i++) {
        st = index_batch(n.port, "bob", i, 1, 4096, &r);
        if (st == 200) ok++;
        else assert_error_json(&r, 403, "quota_exceeded");
        resp_free(&r);
    }
    printf("bytes quota: %d messages of 4 KiB indexed before 403\n", ok);
    assert_int_equal(st, 403);
    assert_true(ok >= 5 && ok < 50); /* stored size (ciphertext, vector, terms) runs out before the count */
    /* another user is not affected; deleting makes room again */
    assert_int_equal(index_batch(n.port, "carol", 0, 10, 40, NULL), 200);
    delete_user(n.port, "alice");
    assert_int_equal(index_batch(n.port, "alice", 0, 10, 40, NULL), 200);
    node_stop(&n, 60000);
    rm_rf(cfg);
}

static void test_delete_gives_space_back(void **state)
{
    (void)state;
    if (!have_assets()) zt_skip("glove.zta not installed (run `make data`)");
    struct node n;
    node_spawn(&n, NULL, NULL, true, NULL);
    assert_int_equal(index_batch(n.port, "keeper", 0, 10, 200, NULL), 200);
    for (int b = 0; b < 4; b++) assert_int_equal(index_batch(n.port, "filler", b * 100, 100, 8000, NULL), 200);
    long long full = store_bytes(&n);
    long long metric = metric_value(n.port, "zentalk_store_bytes{store=\"search\"}");
    printf("store after 400 x 8 KB messages: %lld bytes on disk, /metrics says %lld\n", full, metric);
    assert_true(full > 3 * 1000 * 1000);
    assert_true(metric > 0 && metric <= full + 1024 * 1024 && metric >= full / 2);
    delete_user(n.port, "filler");
    long long after = store_bytes(&n);
    long long metric_after = metric_value(n.port, "zentalk_store_bytes{store=\"search\"}");
    printf("after deleting them: %lld bytes on disk, /metrics says %lld\n", after, metric_after);
    assert_true(after < full / 4);
    assert_true(metric_after < full / 4);
    /* what stays is intact */
    struct resp r;
    http(n.port, "POST", "/v1/search/query", "application/json", "{\"user\":\"keeper\",\"query\":\"flight\"}", &r);
    assert_int_equal(r.status, 200);
    json_t *j = resp_json(&r);
    assert_true(json_array_size(json_object_get(j, "results")) > 0);
    json_decref(j);
    resp_free(&r);
    node_stop(&n, 60000);
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_attack_disk_fill")) return 2;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quotas),
        cmocka_unit_test(test_delete_gives_space_back),
    };
    int f = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return zt_test_exit(f);
}
