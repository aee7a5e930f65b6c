/* test_core.c: unit tests for src/core (errors, alloc, buffers, strings,
 * time, hashes with known-answer vectors, logging, thread pool). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_pool.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"
#include "zt_test.h"

static void test_strerror(void **state)
{
    (void)state;
    assert_string_equal(zt_strerror(0), "success");
    assert_string_equal(zt_strerror(ZT_ENOMEM), "out of memory");
    assert_string_equal(zt_strerror(ZT_ENET), "network error");
    assert_string_equal(zt_strerror(-1000), "unknown error");
    assert_string_equal(zt_strerror(5), "unknown error");
    for (int e = 0; e > -ZT_ERR_COUNT; e--) assert_non_null(zt_strerror(e));
}

static void test_alloc_counts_and_injects(void **state)
{
    (void)state;
    int64_t before = zt_alloc_live();
    void *a = zt_malloc(10);
    char *s = zt_strdup("hello");
    assert_int_equal(zt_alloc_live(), before + 2);
    zt_alloc_fail_after(2);
    void *ok = zt_malloc(1);   /* 1st: succeeds */
    void *bad = zt_malloc(1);  /* 2nd: injected failure */
    void *again = zt_malloc(1);
    assert_non_null(ok);
    assert_null(bad);
    assert_non_null(again);
    assert_null(zt_calloc(SIZE_MAX / 2, 4)); /* overflow is refused */
    assert_null(zt_reallocarray(NULL, SIZE_MAX / 2, 4));
    size_t out;
    assert_int_equal(zt_mul_size(SIZE_MAX, 2, &out), ZT_ERANGE);
    assert_int_equal(zt_mul_size(3, 4, &out), 0);
    assert_int_equal(out, 12);
    zt_free(ok);
    zt_free(again);
    zt_free(a);
    zt_free(s);
    zt_free(NULL);
    assert_int_equal(zt_alloc_live(), before);
}

/* zt_array_push: appends, grows from first by doubling, and on an
 * injected allocation failure leaves the array, its count and capacity as
 * they were. */
static void test_array_push(void **state)
{
    (void)state;
    int64_t before = zt_alloc_live();
    struct pair {
        int a;
        double b;
    } *v = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 5; i++) {
        struct pair x = {i, i * 0.5};
        assert_int_equal(zt_array_push(&v, &n, &cap, &x, sizeof x, 2), 0);
    }
    assert_int_equal(n, 5);
    assert_int_equal(cap, 8);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(v[i].a, i);
        assert_true(v[i].b == i * 0.5);
    }
    struct pair *old = v;
    for (int i = 5; i < 8; i++) { /* room left: no allocation */
        struct pair x = {i, 0};
        zt_alloc_fail_after(1);
        assert_int_equal(zt_array_push(&v, &n, &cap, &x, sizeof x, 2), 0);
        zt_alloc_fail_after(0);
    }
    assert_ptr_equal(v, old);
    struct pair x = {8, 0};
    zt_alloc_fail_after(1);
    assert_int_equal(zt_array_push(&v, &n, &cap, &x, sizeof x, 2), ZT_ENOMEM);
    assert_ptr_equal(v, old);
    assert_int_equal(n, 8);
    assert_int_equal(cap, 8);
    assert_int_equal(zt_array_push(&v, &n, &cap, &x, sizeof x, 2), 0);
    assert_int_equal(n, 9);
    assert_int_equal(cap, 16);
    assert_int_equal(v[8].a, 8);
    assert_int_equal(v[7].a, 7);
    zt_free(v);
    assert_int_equal(zt_alloc_live(), before);
}

static void test_buf_limits(void **state)
{
    (void)state;
    struct zt_buf b;
    zt_buf_init(&b, 10);
    assert_string_equal(zt_buf_str(&b), "");
    assert_int_equal(zt_buf_append_str(&b, "hello"), 0);
    assert_int_equal(zt_buf_appendf(&b, "%d", 1234), 0);
    assert_string_equal(zt_buf_str(&b), "hello1234");
    assert_int_equal(zt_buf_append_str(&b, "xy"), ZT_ETOOBIG); /* 11 > 10 */
    assert_string_equal(zt_buf_str(&b), "hello1234");          /* unchanged */
    assert_int_equal(zt_buf_append_byte(&b, '!'), 0);
    assert_int_equal(b.len, 10);
    assert_int_equal(zt_buf_appendf(&b, "%s", ""), 0);
    assert_int_equal(zt_buf_append_byte(&b, '!'), ZT_ETOOBIG);
    zt_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal(zt_buf_str(&b), "");
    zt_buf_deinit(&b);

    /* long formatted output goes through the second vsnprintf pass */
    zt_buf_init(&b, 100000);
    char big[1000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    assert_int_equal(zt_buf_appendf(&b, "[%s]", big), 0);
    assert_int_equal(b.len, 1001);
    size_t len;
    char *d = zt_buf_detach(&b, &len);
    assert_int_equal(len, 1001);
    assert_int_equal(d[0], '[');
    assert_int_equal(d[1000], ']');
    assert_null(b.data);
    zt_free(d);
    d = zt_buf_detach(&b, &len); /* empty buffer detaches as "" */
    assert_string_equal(d, "");
    zt_free(d);
    zt_buf_deinit(&b);

    /* allocation failure leaves the buffer as it was */
    zt_buf_init(&b, 1000);
    zt_alloc_fail_after(1);
    assert_int_equal(zt_buf_append_str(&b, "abc"), ZT_ENOMEM);
    assert_int_equal(zt_buf_append_str(&b, "abc"), 0);
    zt_buf_deinit(&b);
}

static void test_str_numbers(void **state)
{
    (void)state;
    int64_t i;
    uint64_t u;
    double d;
    bool bv;
    assert_int_equal(zt_str_to_i64("42", &i), 0);
    assert_int_equal(i, 42);
    assert_int_equal(zt_str_to_i64("-7", &i), 0);
    assert_int_equal(i, -7);
    assert_int_equal(zt_str_to_i64(" 42", &i), ZT_EPARSE);
    assert_int_equal(zt_str_to_i64("42x", &i), ZT_EPARSE);
    assert_int_equal(zt_str_to_i64("", &i), ZT_EPARSE);
    assert_int_equal(zt_str_to_i64("4.2", &i), ZT_EPARSE);
    assert_int_equal(zt_str_to_i64("99999999999999999999", &i), ZT_ERANGE);
    assert_int_equal(zt_str_to_u64("-1", &u), ZT_EPARSE);
    assert_int_equal(zt_str_to_u64("18446744073709551615", &u), 0);
    assert_true(u == UINT64_MAX);
    assert_int_equal(zt_str_to_double("0.25", &d), 0);
    assert_true(d == 0.25);
    assert_int_equal(zt_str_to_double("1e3", &d), 0);
    assert_true(d == 1000.0);
    assert_int_equal(zt_str_to_double("nan", &d), ZT_EPARSE);
    assert_int_equal(zt_str_to_double("inf", &d), ZT_EPARSE);
    assert_int_equal(zt_str_to_double("0x10", &d), ZT_EPARSE);
    assert_int_equal(zt_str_to_double("1e999", &d), ZT_ERANGE);
    assert_int_equal(zt_str_to_bool("Yes", &bv), 0);
    assert_true(bv);
    assert_int_equal(zt_str_to_bool("off", &bv), 0);
    assert_false(bv);
    assert_int_equal(zt_str_to_bool("maybe", &bv), ZT_EPARSE);
}

static void test_str_misc(void **state)
{
    (void)state;
    char small[4];
    assert_int_equal(zt_strlcpy(small, "hello", sizeof small), 5);
    assert_string_equal(small, "hel");
    assert_true(zt_str_eq_ci("Content-Type", "content-type"));
    assert_false(zt_str_eq_ci("abc", "abcd"));
    assert_true(zt_str_eq(NULL, NULL));
    assert_false(zt_str_eq("a", NULL));
    assert_true(zt_str_starts_with("/v1/status", "/v1/"));
    assert_true(zt_str_ends_with("models.yaml", ".yaml"));
    assert_false(zt_str_ends_with("a", "yaml"));

    char host[64];
    uint16_t port;
    assert_int_equal(zt_str_split_hostport("127.0.0.1:8080", host, sizeof host, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 8080);
    assert_int_equal(zt_str_split_hostport("[::1]:0", host, sizeof host, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_int_equal(zt_str_split_hostport(":9000", host, sizeof host, &port), 0);
    assert_string_equal(host, "");
    assert_int_equal(zt_str_split_hostport("::1:80", host, sizeof host, &port), ZT_EPARSE);
    assert_int_equal(zt_str_split_hostport("host", host, sizeof host, &port), ZT_EPARSE);
    assert_int_equal(zt_str_split_hostport("host:", host, sizeof host, &port), ZT_EPARSE);
    assert_int_equal(zt_str_split_hostport("host:65536", host, sizeof host, &port), ZT_ERANGE);
    assert_int_equal(zt_str_split_hostport("host:8x", host, sizeof host, &port), ZT_EPARSE);
    assert_int_equal(zt_str_split_hostport("ho st:80", host, sizeof host, &port), ZT_EPARSE);

    char hex[9];
    const uint8_t raw[4] = {0xde, 0xad, 0x00, 0x0f};
    zt_hex_encode(hex, raw, 4);
    assert_string_equal(hex, "dead000f");

    assert_true(zt_utf8_valid("h\xc3\xa9llo \xf0\x9f\x98\x80", 11));
    assert_false(zt_utf8_valid("\xc3", 1));             /* truncated */
    assert_false(zt_utf8_valid("\xc0\xaf", 2));         /* overlong */
    assert_false(zt_utf8_valid("\xed\xa0\x80", 3));     /* surrogate */
    assert_false(zt_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(zt_utf8_valid("\xff", 1));
}

static void test_time(void **state)
{
    (void)state;
    uint64_t a = zt_time_mono_ns();
    zt_time_sleep_ms(5);
    uint64_t b = zt_time_mono_ns();
    assert_true(b - a >= 5000000u);
    char iso[ZT_TIME_ISO_LEN];
    zt_time_iso8601(iso, sizeof iso, 0);
    assert_string_equal(iso, "1970-01-01T00:00:00.000Z");
    zt_time_iso8601(iso, sizeof iso, 1795710000123LL);
    assert_string_equal(iso, "2026-11-26T16:20:00.123Z"); /* date -u -d @1795710000 */
}

/* Known-answer vectors: FIPS 180-2 for SHA-256, RFC 7693 Appendix A for BLAKE2b-512. */
static void test_hash_vectors(void **state)
{
    (void)state;
    assert_int_equal(zt_hash_init(), 0);
    uint8_t out[64];
    char hex[129];
    zt_sha256(out, "abc", 3);
    zt_hex_encode(hex, out, 32);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    zt_sha256(out, "", 0);
    zt_hex_encode(hex, out, 32);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

    struct zt_sha256_ctx c;
    zt_sha256_init(&c);
    const char *msg = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    for (size_t i = 0; msg[i]; i++) zt_sha256_update(&c, msg + i, 1);
    zt_sha256_final(&c, out);
    zt_hex_encode(hex, out, 32);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

    assert_int_equal(zt_blake2b(out, 64, "abc", 3, NULL, 0), 0);
    zt_hex_encode(hex, out, 64);
    assert_string_equal(hex,
                        "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                        "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923");
    assert_int_equal(zt_blake2b(out, 8, "abc", 3, NULL, 0), ZT_EINVAL);
    const uint8_t key[4] = {1, 2, 3, 4};
    assert_int_equal(zt_blake2b(out, 32, "abc", 3, key, sizeof key), ZT_EINVAL);
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void test_log_text_and_json(void **state)
{
    (void)state;
    char path[] = "/tmp/zt-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);

    assert_int_equal(zt_log_open(path, ZT_LOG_INFO, ZT_LOG_TEXT), 0);
    zt_log(ZT_LOG_DEBUG, "hidden", "x=%d", 1);
    zt_log(ZT_LOG_INFO, "listening", "url=%s threads=%d", "http://127.0.0.1:8080", 4);
    zt_log(ZT_LOG_WARN, "evil", "value=%s", "a\nforged line");
    char *t = read_file(path);
    assert_null(strstr(t, "hidden"));
    assert_non_null(strstr(t, "info  listening url=http://127.0.0.1:8080 threads=4\n"));
    assert_non_null(strstr(t, "value=a?forged line\n")); /* no log injection */

    assert_int_equal(zt_log_open(path, ZT_LOG_DEBUG, ZT_LOG_JSON), 0);
    zt_log(ZT_LOG_DEBUG, "req", "route=/v1/status status=200 detail=\"two words\" q=\"x\"y");
    t = read_file(path);
    assert_non_null(strstr(t, "\"level\":\"debug\",\"msg\":\"req\",\"route\":\"/v1/status\",\"status\":200,"
                              "\"detail\":\"two words\",\"q\":\"\\\"x\\\"y\"}\n"));

    /* reopen after the file was moved away (log rotation) */
    char moved[64];
    snprintf(moved, sizeof moved, "%s.1", path);
    assert_int_equal(rename(path, moved), 0);
    assert_int_equal(zt_log_reopen(), 0);
    zt_log(ZT_LOG_ERROR, "after_rotate", "n=%d", 1);
    t = read_file(path);
    assert_non_null(strstr(t, "after_rotate"));

    enum zt_log_level lv;
    assert_int_equal(zt_log_level_parse("WARN", &lv), 0);
    assert_int_equal(lv, ZT_LOG_WARN);
    assert_int_equal(zt_log_level_parse("loud", &lv), ZT_EINVAL);

    /* the rate limiter lets 3 through in a second and counts the rest */
    struct zt_log_rl rl = {0};
    unsigned sup = 0, passed = 0;
    for (int i = 0; i < 10; i++) passed += zt_log_rl_pass(&rl, 3, &sup) ? 1u : 0u;
    assert_true(passed >= 3 && passed <= 6); /* a second boundary may open a new window */

    zt_log_close();
    unlink(path);
    unlink(moved);
}

static atomic_int counter;

static void bump(void *arg)
{
    (void)arg;
    atomic_fetch_add(&counter, 1);
}

static void slow(void *arg)
{
    (void)arg;
    zt_time_sleep_ms(20);
    atomic_fetch_add(&counter, 1);
}

static void test_pool(void **state)
{
    (void)state;
    struct zt_pool *p = NULL;
    assert_int_equal(zt_pool_new(0, 10, &p), ZT_EINVAL);
    assert_int_equal(zt_pool_new(4, 1000, &p), 0);
    assert_int_equal(zt_pool_threads(p), 4);
    atomic_store(&counter, 0);
    for (int i = 0; i < 1000; i++) assert_int_equal(zt_pool_submit(p, bump, NULL), 0);
    zt_pool_wait_idle(p);
    assert_int_equal(atomic_load(&counter), 1000);
    zt_pool_free(p);

    /* a full queue refuses work instead of blocking; free runs what is queued */
    assert_int_equal(zt_pool_new(1, 2, &p), 0);
    atomic_store(&counter, 0);
    int accepted = 0, busy = 0;
    for (int i = 0; i < 10; i++) {
        int rc = zt_pool_submit(p, slow, NULL);
        if (rc == 0) accepted++;
        else if (rc == ZT_EBUSY) busy++;
    }
    assert_true(busy > 0);
    zt_pool_free(p);
    assert_int_equal(atomic_load(&counter), accepted);
    zt_pool_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_strerror, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_alloc_counts_and_injects, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_array_push, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_buf_limits, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_str_numbers, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_str_misc, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_time, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_hash_vectors, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_log_text_and_json, zt_test_leak_setup, zt_test_leak_teardown),
        cmocka_unit_test_setup_teardown(test_pool, zt_test_leak_setup, zt_test_leak_teardown),
    };
    return zt_test_exit(cmocka_run_group_tests_name("core", tests, NULL, NULL));
}
