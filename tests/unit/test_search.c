/* test_search.c: the store (schema, migrations) and private search (index,
 * query, delete, crypto-shredding, no plaintext on disk). Needs the glove
 * and stopwords assets (make data); skips with the reason otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_embed.h"
#include "zentalk/zt_search.h"
#include "zentalk/zt_stopwords.h"
#include "zentalk/zt_store.h"
#include "zt_test.h"

static char dir[256], dbpath[300];
static struct zt_embed *E;
static struct zt_stopwords *SW;
static const uint8_t SECRET[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                   17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static int setup(void **state)
{
    (void)state;
    zt_test_leak_mark();
    snprintf(dir, sizeof dir, "/tmp/zt-search-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(dbpath, sizeof dbpath, "%s/search.db", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int64_t leaked = zt_alloc_live() - zt_test_leak_base(); /* assets are loaded before the tests */
    if (leaked != 0) {
        printf("leak: %lld allocations\n", (long long)leaked);
        return -1;
    }
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    rmdir(dir);
    return 0;
}

static bool load_assets(void)
{
    if (E) return true;
    char p[512];
    if (zt_asset_path(NULL, ZT_EMBED_ASSET, p, sizeof p) || zt_embed_load(p, &E)) {
        zt_skip_part("%s not installed (run `make data`)", ZT_EMBED_ASSET);
        return false;
    }
    if (zt_asset_path(NULL, ZT_STOPWORDS_ASSET, p, sizeof p) || zt_stopwords_load(p, &SW)) {
        zt_skip_part("%s not installed (run `make data`)", ZT_STOPWORDS_ASSET);
        return false;
    }
    return true;
}

static struct zt_store *open_store(void)
{
    struct zt_store *st = NULL;
    struct zt_store_opts o = {.path = dbpath, .busy_timeout_ms = 1000};
    assert_int_equal(zt_store_open("sqlite", &o, &st), 0);
    return st;
}

static struct zt_search *new_search(struct zt_store *st)
{
    struct zt_search_opts o = {.store = st, .embed = E, .stop = SW, .node_secret = SECRET,
                               .bm25_weight = 1, .vector_weight = 1, .rrf_k = 60,
                               .candidates = 50, .scan_limit = 10000, .min_similarity = 0.3};
    struct zt_search *s = NULL;
    assert_int_equal(zt_search_new(&o, &s), 0);
    return s;
}

static void exec_sql(const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
}

static long count_sql(const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_open(dbpath, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    long n = (long)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    sqlite3_close(db);
    return n;
}

static void test_store_schema(void **state)
{
    (void)state;
    struct zt_store *st = open_store();
    int v = -1;
    assert_int_equal(zt_store_schema_version(st, &v), 0);
    assert_int_equal(v, ZT_STORE_SCHEMA_VERSION);
    zt_store_close(st);
    /* reopening keeps the schema (no second migration) */
    st = open_store();
    assert_int_equal(zt_store_schema_version(st, &v), 0);
    assert_int_equal(v, ZT_STORE_SCHEMA_VERSION);
    /* the layout version and one row per built-in owner (search, pseudonyms) */
    assert_int_equal(count_sql("SELECT count(*) FROM meta"), 3);
    uint8_t ref[32] = {7}, w[8] = {1, 2, 3}, out[16];
    size_t n = 0;
    assert_int_equal(zt_store_key_get(st, ref, out, sizeof out, &n), ZT_ENOTFOUND);
    assert_int_equal(zt_store_key_put(st, ref, w, 3), 0);
    assert_int_equal(zt_store_key_put(st, ref, w, 3), ZT_EEXIST);
    assert_int_equal(zt_store_key_get(st, ref, out, 2, &n), ZT_ETOOBIG);
    assert_int_equal(zt_store_key_get(st, ref, out, sizeof out, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, w, 3);
    zt_store_close(st);
    /* a newer schema is refused, not touched */
    exec_sql("UPDATE meta SET value = '99' WHERE key = 'schema_version'");
    struct zt_store *st2 = NULL;
    struct zt_store_opts o = {.path = dbpath, .busy_timeout_ms = 100};
    assert_int_equal(zt_store_open("sqlite", &o, &st2), ZT_EUNSUPPORTED);
    assert_null(st2);
    /* a file path is not a PostgreSQL connection string: a connection error, no handle */
    assert_int_equal(zt_store_open("postgres", &o, &st2), ZT_EIO);
    assert_null(st2);
    assert_int_equal(zt_store_open("nosuch", &o, &st2), ZT_EINVAL);
}

static void index_text(struct zt_search *s, const char *user, const char *id, const char *text)
{
    struct zt_search_msg m = {id, strlen(id), text, strlen(text)};
    assert_int_equal(zt_search_index(s, user, &m, 1), 0);
}

static int query(struct zt_search *s, const char *user, const char *q, struct zt_search_hit **h, size_t *n)
{
    return zt_search_query(s, user, q, strlen(q), 10, h, n);
}

static const struct {
    const char *id, *text;
} MSGS[] = {
    {"m1", "I booked the flights to Paris for our holiday in June"},
    {"m2", "Can you pick up milk and eggs from the grocery store?"},
    {"m3", "The quarterly budget review meeting moved to Thursday"},
    {"m4", "Our team won the football match last night"},
    {"m5", "My doctor said the blood test results look fine"},
    {"m6", "The new laptop has a faster processor and more memory"},
};

static void test_index_query_delete(void **state)
{
    (void)state;
    if (!load_assets()) skip();
    struct zt_store *st = open_store();
    struct zt_search *s = new_search(st);
    struct zt_search_msg batch[6];
    for (size_t i = 0; i < 6; i++)
        batch[i] = (struct zt_search_msg){MSGS[i].id, strlen(MSGS[i].id), MSGS[i].text, strlen(MSGS[i].text)};
    assert_int_equal(zt_search_index(s, "alice", batch, 6), 0);
    size_t n = 0;
    assert_int_equal(zt_search_count(s, "alice", &n), 0);
    assert_int_equal(n, 6);

    /* lexical (stemmed: "flight" matches "flights") */
    struct zt_search_hit *h = NULL;
    assert_int_equal(query(s, "alice", "flight", &h, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(h[0].id, "m1");
    assert_string_equal(h[0].text, MSGS[0].text);
    assert_true(h[0].bm25 > 0);
    zt_search_hits_free(h, n);

    /* semantic: no shared word with m5 */
    assert_int_equal(query(s, "alice", "hospital nurse medicine", &h, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(h[0].id, "m5");
    assert_true(h[0].bm25 == 0);
    assert_true(h[0].similarity > 0.3);
    zt_search_hits_free(h, n);
    assert_int_equal(query(s, "alice", "computer hardware", &h, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(h[0].id, "m6");
    zt_search_hits_free(h, n);

    /* another user sees nothing of alice's */
    assert_int_equal(query(s, "bob", "flight", &h, &n), 0);
    assert_int_equal(n, 0);
    assert_null(h);

    /* replacing a message by id */
    index_text(s, "alice", "m1", "The train to Berlin leaves at noon");
    assert_int_equal(zt_search_count(s, "alice", &n), 0);
    assert_int_equal(n, 6);
    assert_int_equal(query(s, "alice", "Berlin", &h, &n), 0);
    assert_true(n >= 1);
    assert_string_equal(h[0].id, "m1");
    zt_search_hits_free(h, n);
    assert_int_equal(query(s, "alice", "Paris flights", &h, &n), 0);
    for (size_t i = 0; i < n; i++) assert_true(h[i].bm25 == 0); /* old terms gone from the index */
    zt_search_hits_free(h, n);

    /* delete one */
    bool found = false;
    assert_int_equal(zt_search_delete(s, "alice", "m4", 2, &found), 0);
    assert_true(found);
    assert_int_equal(zt_search_delete(s, "alice", "m4", 2, &found), 0);
    assert_false(found);
    assert_int_equal(query(s, "alice", "football match", &h, &n), 0);
    for (size_t i = 0; i < n; i++) assert_string_not_equal(h[i].id, "m4");
    zt_search_hits_free(h, n);

    /* bad input */
    struct zt_search_msg bad = {"x", 1, "", 0};
    assert_int_equal(zt_search_index(s, "alice", &bad, 1), ZT_EINVAL);
    bad = (struct zt_search_msg){"x", 1, "\xff\xfe", 2};
    assert_int_equal(zt_search_index(s, "alice", &bad, 1), ZT_EPARSE);
    assert_int_equal(zt_search_index(s, "", batch, 1), ZT_EINVAL);
    assert_int_equal(zt_search_query(s, "alice", "x", 1, 0, &h, &n), ZT_EINVAL);
    assert_int_equal(zt_search_query(s, "alice", "x", 1, ZT_SEARCH_LIMIT_MAX + 1, &h, &n), ZT_EINVAL);
    /* a query of stop words and unknown words only is not an error */
    assert_int_equal(query(s, "alice", "the of qqqzzzxx", &h, &n), 0);
    zt_search_hits_free(h, n);

    zt_search_free(s);
    zt_store_close(st);
}

static bool file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    fclose(f);
    bool hit = false;
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= got && !hit; i++) hit = memcmp(b + i, needle, nl) == 0;
    free(b);
    return hit;
}

static void scan_files(const char *needle, bool *hit)
{
    char p[400];
    const char *sfx[] = {"", "-wal", "-shm"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s%s", dbpath, sfx[i]);
        if (file_has(p, needle)) *hit = true;
    }
}

static void test_no_plaintext_and_shredding(void **state)
{
    (void)state;
    if (!load_assets()) skip();
    struct zt_store *st = open_store();
    struct zt_search *s = new_search(st);
    /* canary word "xylophonists", its stem "xylophonist" */
    index_text(s, "carol", "secret-1", "the xylophonists rehearse on Tuesday at the conservatory");
    index_text(s, "carol", "secret-2", "xylophonists xylophonists everywhere");
    index_text(s, "dave", "d1", "nothing to see here about xylophonists");
    struct zt_search_hit *h;
    size_t n;
    assert_int_equal(query(s, "carol", "xylophonist", &h, &n), 0);
    assert_int_equal(n, 2);
    zt_search_hits_free(h, n);
    /* the canary is in memory above; on disk neither the word, its stem, the
     * message id nor the user name may appear (also in the WAL) */
    bool hit = false;
    scan_files("xylophonist", &hit);
    scan_files("conservatory", &hit);
    scan_files("secret-1", &hit);
    scan_files("carol", &hit);
    assert_false(hit);
    /* the blind-index tokens differ per user for the same word */
    char *t1 = NULL, *t2 = NULL;
    assert_int_equal(zt_search_terms(s, "carol", "xylophonists", 12, &t1), 0);
    assert_int_equal(zt_search_terms(s, "dave", "xylophonists", 12, &t2), 0);
    assert_int_equal(strlen(t1), 17);
    assert_string_not_equal(t1, t2);
    zt_free(t1);
    zt_free(t2);

    /* keep carol's ciphertext rows, then shred her */
    exec_sql("CREATE TABLE stolen AS SELECT * FROM search_docs");
    assert_int_equal(count_sql("SELECT count(*) FROM search_keys"), 2);
    size_t gone = 0;
    assert_int_equal(zt_search_delete_user(s, "carol", &gone), 0);
    assert_int_equal(gone, 2);
    assert_int_equal(zt_search_count(s, "carol", &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(count_sql("SELECT count(*) FROM search_keys"), 1); /* dave's */
    assert_int_equal(count_sql("SELECT count(*) FROM search_docs"), 1);
    assert_int_equal(query(s, "carol", "xylophonist", &h, &n), 0);
    assert_int_equal(n, 0);
    /* dave is untouched */
    assert_int_equal(query(s, "dave", "xylophonist", &h, &n), 0);
    assert_int_equal(n, 1);
    zt_search_hits_free(h, n);

    /* carol comes back: she gets a new key; her old ciphertexts, put back
     * by someone who kept a copy, cannot be opened under it */
    index_text(s, "carol", "new", "a fresh start");
    exec_sql("INSERT INTO search_docs SELECT * FROM stolen WHERE user_ref IN (SELECT user_ref FROM "
             "search_docs WHERE rowid = (SELECT max(rowid) FROM search_docs)) AND rowid NOT IN "
             "(SELECT rowid FROM search_docs); DROP TABLE stolen");
    assert_int_equal(zt_search_count(s, "carol", &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(zt_search_query(s, "carol", "fresh start music", 17, 10, &h, &n), ZT_ECRYPTO);
    zt_search_free(s);
    zt_store_close(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_schema, setup, teardown),
        cmocka_unit_test_setup_teardown(test_index_query_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_plaintext_and_shredding, setup, teardown),
    };
    zt_ignore(load_assets()); /* once, so each test can check it leaks nothing */
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    zt_embed_free(E);
    zt_stopwords_free(SW);
    return zt_test_exit(rc);
}
