/* test_gdpr.c: audit pseudonyms (zt_pseudoid.h: stable while the salt
 * exists, unlinkable after forget, persistent across reopen, no identity
 * in the store file), the store's salt and retention operations, search
 * list/expire, the export/erase request parser and audit line matcher,
 * and one retention sweep (zt_gdpr_sweep) over a temp directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_embed.h"
#include "zentalk/zt_gdpr.h"
#include "zentalk/zt_pseudoid.h"
#include "zentalk/zt_search.h"
#include "zentalk/zt_store.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_wallet.h"
#include "zt_test.h"

static char dir[256], dbpath[300];
static const uint8_t SECRET[32] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static void rm_dir(const char *d)
{
    DIR *dd = opendir(d);
    struct dirent *e;
    while (dd && (e = readdir(dd))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", d, e->d_name);
        struct stat st;
        if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) rm_dir(p);
        else unlink(p);
    }
    if (dd) closedir(dd);
    rmdir(d);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/zt-gdpr-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(dbpath, sizeof dbpath, "%s/zentalk.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rm_dir(dir);
    return 0;
}

static struct zt_pseudoid *open_pid(const uint8_t *secret)
{
    struct zt_store_opts o = {.path = dbpath, .busy_timeout_ms = 1000};
    struct zt_store *st = NULL;
    assert_int_equal(zt_store_open("sqlite", &o, &st), 0);
    struct zt_pseudoid *p = NULL;
    assert_int_equal(zt_pseudoid_new(st, secret, &p), 0);
    return p;
}

static bool file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    static char buf[1 << 21];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp(buf + i, needle, m) == 0) return true;
    return false;
}

static void test_pseudonyms(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    struct zt_pseudoid *p = open_pid(SECRET);
    char a1[ZT_PSEUDOID_STR], a2[ZT_PSEUDOID_STR], b[ZT_PSEUDOID_STR], a3[ZT_PSEUDOID_STR];
    assert_int_equal(zt_pseudoid_get(p, "alice@example.org", false, a1), ZT_ENOTFOUND);
    assert_int_equal(zt_pseudoid_get(p, "alice@example.org", true, a1), 0);
    assert_true(zt_pseudoid_is(a1));
    assert_int_equal(zt_pseudoid_get(p, "alice@example.org", false, a2), 0);
    assert_string_equal(a1, a2);
    assert_int_equal(zt_pseudoid_get(p, "bob@example.org", true, b), 0);
    assert_string_not_equal(a1, b);
    /* bad identities */
    char big[400];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(zt_pseudoid_get(p, "", true, a2), ZT_EINVAL);
    assert_int_equal(zt_pseudoid_get(p, big, true, a2), ZT_EINVAL);
    assert_int_equal(zt_pseudoid_get(p, NULL, true, a2), ZT_EINVAL);
    zt_pseudoid_free(p);
    /* persistent: the same salt after reopening */
    p = open_pid(SECRET);
    assert_int_equal(zt_pseudoid_get(p, "alice@example.org", false, a2), 0);
    assert_string_equal(a1, a2);
    /* forget: the old pseudonym cannot be recomputed; a new salt gives a new one */
    bool found = false;
    assert_int_equal(zt_pseudoid_forget(p, "alice@example.org", &found), 0);
    assert_true(found);
    assert_int_equal(zt_pseudoid_forget(p, "alice@example.org", &found), 0);
    assert_false(found);
    assert_int_equal(zt_pseudoid_get(p, "alice@example.org", false, a2), ZT_ENOTFOUND);
    assert_int_equal(zt_pseudoid_get(p, "alice@example.org", true, a3), 0);
    assert_string_not_equal(a1, a3);
    assert_int_equal(zt_pseudoid_get(p, "bob@example.org", false, a2), 0); /* bob untouched */
    assert_string_equal(a2, b);
    zt_pseudoid_free(p);
    /* another node secret finds no salt for the same identity */
    uint8_t other[32];
    memcpy(other, SECRET, 32);
    other[0] ^= 1;
    p = open_pid(other);
    assert_int_equal(zt_pseudoid_get(p, "bob@example.org", false, a2), ZT_ENOTFOUND);
    zt_pseudoid_free(p);
    /* nothing about the identities in clear in the database */
    char wal[400];
    snprintf(wal, sizeof wal, "%s-wal", dbpath);
    assert_false(file_has(dbpath, "alice@example.org"));
    assert_false(file_has(dbpath, "bob@example.org"));
    assert_false(file_has(wal, "alice@example.org"));
    assert_false(zt_pseudoid_is("p:0123"));
    assert_false(zt_pseudoid_is("q:0123456789abcdef0123456789abcdef"));
    assert_true(zt_pseudoid_is("p:0123456789abcdef0123456789abcdef"));
    assert_int_equal(zt_alloc_live(), live);
}

static void test_store_expire(void **state)
{
    (void)state;
    struct zt_store_opts o = {.path = dbpath, .busy_timeout_ms = 1000};
    struct zt_store *st = NULL;
    assert_int_equal(zt_store_open("sqlite", &o, &st), 0);
    int v = 0;
    assert_int_equal(zt_store_schema_version(st, &v), 0);
    assert_int_equal(v, 2);
    uint8_t u1[32], u2[32], id[32];
    memset(u1, 1, 32);
    memset(u2, 2, 32);
    const uint8_t pl[40] = {0};
    for (int i = 0; i < 300; i++) { /* more than one batch of 256 */
        memset(id, 0, 32);
        id[0] = (uint8_t)i;
        id[1] = (uint8_t)(i >> 8);
        assert_int_equal(zt_store_doc_put(st, i % 2 ? u1 : u2, id, pl, sizeof pl, pl, 8, "tabc tdef", i < 280 ? 1000 : 5000), 0);
    }
    size_t n = 0, c1 = 0, c2 = 0;
    assert_int_equal(zt_store_docs_expire(st, 1000, &n), 0); /* strictly before */
    assert_int_equal(n, 0);
    assert_int_equal(zt_store_docs_expire(st, 2000, &n), 0);
    assert_int_equal(n, 280);
    assert_int_equal(zt_store_count(st, u1, &c1), 0);
    assert_int_equal(zt_store_count(st, u2, &c2), 0);
    assert_int_equal(c1 + c2, 20);
    assert_int_equal(zt_store_docs_expire(st, 2000, &n), 0);
    assert_int_equal(n, 0);
    /* salts */
    uint8_t salt[32], got[32];
    memset(salt, 7, 32);
    assert_int_equal(zt_store_salt_get(st, u1, got, 32), ZT_ENOTFOUND);
    assert_int_equal(zt_store_salt_put(st, u1, salt, 32), 0);
    assert_int_equal(zt_store_salt_put(st, u1, salt, 32), ZT_EEXIST);
    assert_int_equal(zt_store_salt_get(st, u1, got, 32), 0);
    assert_memory_equal(got, salt, 32);
    assert_int_equal(zt_store_salt_get(st, u1, got, 16), ZT_EIO); /* wrong length */
    bool found = false;
    assert_int_equal(zt_store_salt_delete(st, u1, &found), 0);
    assert_true(found);
    assert_int_equal(zt_store_salt_delete(st, u1, &found), 0);
    assert_false(found);
    zt_store_close(st);
}

static void test_search_list_expire(void **state)
{
    (void)state;
    char p[1024];
    struct zt_embed *E = NULL;
    if (zt_asset_path("data", ZT_EMBED_ASSET, p, sizeof p) != 0 || zt_embed_load(p, &E) != 0) {
        zt_skip("%s not installed (make data)", ZT_EMBED_ASSET);
    }
    char sp[400];
    snprintf(sp, sizeof sp, "%s/search.db", dir);
    struct zt_store_opts o = {.path = sp, .busy_timeout_ms = 1000};
    struct zt_store *st = NULL;
    assert_int_equal(zt_store_open("sqlite", &o, &st), 0);
    struct zt_search_opts so = {.store = st, .embed = E, .node_secret = SECRET, .bm25_weight = 1, .vector_weight = 1,
                                .rrf_k = 60, .candidates = 50, .scan_limit = 100, .min_similarity = 0.2};
    struct zt_search *s = NULL;
    assert_int_equal(zt_search_new(&so, &s), 0);
    struct zt_search_msg m[3] = {{"m1", 2, "the first message", 17},
                                 {"m2", 2, "a second one", 12},
                                 {"m3", 2, "and the third", 13}};
    assert_int_equal(zt_search_index(s, "alice", m, 3), 0);
    assert_int_equal(zt_search_index(s, "bob", m, 1), 0);
    struct zt_search_hit *h = NULL;
    size_t n = 0;
    assert_int_equal(zt_search_list(s, "alice", 0, &h, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(h[0].id, "m3"); /* newest first */
    assert_string_equal(h[0].text, "and the third");
    assert_string_equal(h[2].text, "the first message");
    assert_true(h[2].ts > 0);
    zt_search_hits_free(h, n);
    assert_int_equal(zt_search_list(s, "alice", 2, &h, &n), 0);
    assert_int_equal(n, 2);
    zt_search_hits_free(h, n);
    assert_int_equal(zt_search_list(s, "carol", 0, &h, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(zt_search_list(s, "", 0, &h, &n), ZT_EINVAL);
    /* retention: everything indexed before now + 1 s goes, of every user */
    size_t gone = 0;
    assert_int_equal(zt_search_expire(s, zt_time_real_ms() - 3600 * 1000, &gone), 0);
    assert_int_equal(gone, 0);
    assert_int_equal(zt_search_expire(s, zt_time_real_ms() + 1000, &gone), 0);
    assert_int_equal(gone, 4);
    assert_int_equal(zt_search_list(s, "alice", 0, &h, &n), 0);
    assert_int_equal(n, 0);
    zt_search_free(s);
    zt_store_close(st);
    zt_embed_free(E);
}

static void test_parse_and_match(void **state)
{
    (void)state;
    char why[160];
    const char *id = NULL;
    static const struct {
        const char *body;
        int rc;
    } cases[] = {
        {"{}", 0},
        {"{\"identity\":\"wallet:0xabc\"}", 0},
        {"{\"identity\":\"\"}", ZT_EINVAL},
        {"{\"identity\":3}", ZT_EINVAL},
        {"{\"identity\":\"a\\u0001b\"}", ZT_EINVAL},
        {"{\"identity\":\"a\",\"x\":1}", ZT_EINVAL},
        {"[]", ZT_EINVAL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *j = json_loads(cases[i].body, 0, NULL);
        assert_non_null(j);
        assert_int_equal(zt_gdpr_parse(j, &id, why, sizeof why), cases[i].rc);
        json_decref(j);
    }
    char big[300];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_t *j = json_pack("{s:s}", "identity", big);
    assert_int_equal(zt_gdpr_parse(j, &id, why, sizeof why), ZT_EINVAL);
    json_decref(j);

    const char *ps = "p:0123456789abcdef0123456789abcdef";
    const char *l1 = "{\"identity\":\"p:0123456789abcdef0123456789abcdef\",\"kind\":\"request\",\"seq\":4}";
    const char *l2 = "{\"identity\":\"ops\",\"subject\":\"p:0123456789abcdef0123456789abcdef\",\"seq\":5}";
    const char *l3 = "{\"identity\":\"alice\",\"seq\":6}";
    const char *l4 = "{\"identity\":\"alice2\",\"seq\":7,\"route\":\"/alice\"}";
    const char *l5 = "not json p:0123456789abcdef0123456789abcdef";
    json_t *e = NULL;
    assert_int_equal(zt_gdpr_audit_match(l1, strlen(l1), ps, "alice", &e), 1);
    assert_int_equal(json_integer_value(json_object_get(e, "seq")), 4);
    json_decref(e);
    assert_int_equal(zt_gdpr_audit_match(l2, strlen(l2), ps, "alice", NULL), 1);
    assert_int_equal(zt_gdpr_audit_match(l3, strlen(l3), ps, "alice", NULL), 2);
    assert_int_equal(zt_gdpr_audit_match(l3, strlen(l3), NULL, "alice", NULL), 2);
    assert_int_equal(zt_gdpr_audit_match(l4, strlen(l4), ps, "alice", NULL), 0);
    assert_int_equal(zt_gdpr_audit_match(l5, strlen(l5), ps, "alice", NULL), 0);
    assert_int_equal(zt_gdpr_audit_match(l1, strlen(l1), NULL, "bob", NULL), 0);
    assert_int_equal(zt_gdpr_audit_match(l1, 0, ps, "alice", NULL), 0);
}

static void test_sweep_once(void **state)
{
    (void)state;
    struct zt_config cfg;
    assert_int_equal(zt_config_init_defaults(&cfg), 0);
    struct zt_buf errs;
    zt_buf_init(&errs, 4096);
    char data[400], temp[500];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(temp, sizeof temp, "%s/temp", data);
    assert_int_equal(mkdir(data, 0700), 0);
    assert_int_equal(mkdir(temp, 0700), 0);
    assert_int_equal(zt_config_set(&cfg, "node.data_dir", data, "test", &errs), 0);
    assert_int_equal(zt_config_set(&cfg, "privacy.retention_temp_hours", "1", "test", &errs), 0);
    char f_old[600], f_new[600], sub[600];
    snprintf(f_old, sizeof f_old, "%s/old", temp);
    snprintf(f_new, sizeof f_new, "%s/new", temp);
    snprintf(sub, sizeof sub, "%s/subdir", temp);
    FILE *f = fopen(f_old, "w");
    assert_non_null(f);
    fclose(f);
    f = fopen(f_new, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(mkdir(sub, 0700), 0);
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 7200;
    tv[1] = tv[0];
    assert_int_equal(utimes(f_old, tv), 0);
    assert_int_equal(utimes(sub, tv), 0);
    struct zt_wallet *w = NULL;
    assert_int_equal(zt_wallet_new(60, &w), 0);
    struct zt_gdpr_sweeper *g = NULL;
    struct zt_gdpr_holders h = {.wallet = w}; /* no audit log, no search store */
    assert_int_equal(zt_gdpr_sweeper_new(&cfg, &h, &g), 0);
    struct zt_gdpr_sweep_stats st;
    assert_int_equal(zt_gdpr_sweep(g, zt_time_real_ms(), &st), 0);
    assert_int_equal(st.temp_files, 1);
    assert_int_not_equal(access(f_old, F_OK), 0);
    assert_int_equal(access(f_new, F_OK), 0);
    assert_int_equal(access(sub, F_OK), 0); /* directories are left alone */
    /* two hours later the fresh one is old too */
    assert_int_equal(zt_gdpr_sweep(g, zt_time_real_ms() + 7200 * 1000, &st), 0);
    assert_int_equal(st.temp_files, 1);
    /* 0 = never swept */
    f = fopen(f_old, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(utimes(f_old, tv), 0);
    assert_int_equal(zt_config_set(&cfg, "privacy.retention_temp_hours", "0", "test", &errs), 0);
    assert_int_equal(zt_gdpr_sweep(g, zt_time_real_ms(), &st), 0);
    assert_int_equal(st.temp_files, 0);
    assert_int_equal(access(f_old, F_OK), 0);
    /* the thread: starts (one sweep at once), stops at free */
    assert_int_equal(zt_gdpr_sweeper_start(g), 0);
    assert_int_equal(zt_gdpr_sweeper_start(g), ZT_EINVAL);
    for (int i = 0; i < 500 && zt_gdpr_sweeper_runs(g) == 0; i++) zt_time_sleep_ms(2);
    assert_true(zt_gdpr_sweeper_runs(g) >= 1);
    zt_gdpr_sweeper_free(g);
    zt_wallet_free(w);
    zt_buf_deinit(&errs);
    zt_config_deinit(&cfg);
}

int main(void)
{
    json_set_alloc_funcs(zt_malloc, zt_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pseudonyms, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_search_list_expire, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_and_match, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_once, setup, teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
