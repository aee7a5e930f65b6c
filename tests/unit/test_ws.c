/* test_ws.c: WebSocket framing (zt_ws.h) on byte vectors: the handshake
 * key of RFC 6455 section 1.3, the frames of section 5.7 (parsed, encoded,
 * and fed byte by byte), the receiver's protocol checks and close codes,
 * incremental UTF-8 validation, and the annotation protocol's event handling
 * (src/server/ws_api.c) without a socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include <jansson.h>
#include <stdio.h>

#include "zentalk/zt_annotate.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_ws.h"
#include "zt_test.h"

/* RFC 6455 5.7 */
static const uint8_t HELLO_UNMASKED[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
static const uint8_t HELLO_MASKED[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
static const uint8_t FRAG1[] = {0x01, 0x03, 0x48, 0x65, 0x6c};
static const uint8_t FRAG2[] = {0x80, 0x02, 0x6c, 0x6f};
static const uint8_t PING_UNMASKED[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
static const uint8_t PONG_MASKED[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
static const uint8_t MASK[4] = {0x37, 0xfa, 0x21, 0x3d};

static void test_accept_key(void **state)
{
    (void)state;
    char out[ZT_WS_ACCEPT_LEN];
    assert_int_equal(zt_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out), 0); /* RFC 6455 1.3 */
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_int_equal(zt_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ=", out), ZT_EINVAL);
    assert_int_equal(zt_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ!!", out), ZT_EINVAL);
    assert_int_equal(zt_ws_accept_key("dGhlIHNhbXBsZSBub25jZXh4eA==", out), ZT_EINVAL); /* 19 bytes */
    assert_int_equal(zt_ws_accept_key("", out), ZT_EINVAL);
    assert_int_equal(zt_ws_accept_key(NULL, out), ZT_EINVAL);
}

static void test_parse_rfc_examples(void **state)
{
    (void)state;
    struct zt_ws_frame f;
    assert_int_equal(zt_ws_frame_parse(HELLO_UNMASKED, sizeof HELLO_UNMASKED, &f), 0);
    assert_true(f.fin);
    assert_int_equal(f.opcode, ZT_WS_OP_TEXT);
    assert_false(f.masked);
    assert_int_equal(f.len, 5);
    assert_int_equal(f.header_len, 2);
    assert_int_equal(zt_ws_frame_parse(HELLO_MASKED, sizeof HELLO_MASKED, &f), 0);
    assert_true(f.masked);
    assert_memory_equal(f.mask, MASK, 4);
    assert_int_equal(f.header_len, 6);
    uint8_t p[5];
    memcpy(p, HELLO_MASKED + 6, 5);
    zt_ws_mask(p, 5, f.mask, 0);
    assert_memory_equal(p, "Hello", 5);
    /* unmasking in pieces gives the same */
    memcpy(p, HELLO_MASKED + 6, 5);
    zt_ws_mask(p, 2, f.mask, 0);
    zt_ws_mask(p + 2, 3, f.mask, 2);
    assert_memory_equal(p, "Hello", 5);
    assert_int_equal(zt_ws_frame_parse(FRAG1, sizeof FRAG1, &f), 0);
    assert_false(f.fin);
    assert_int_equal(f.opcode, ZT_WS_OP_TEXT);
    assert_int_equal(zt_ws_frame_parse(FRAG2, sizeof FRAG2, &f), 0);
    assert_true(f.fin);
    assert_int_equal(f.opcode, ZT_WS_OP_CONT);
    assert_int_equal(zt_ws_frame_parse(PING_UNMASKED, sizeof PING_UNMASKED, &f), 0);
    assert_int_equal(f.opcode, ZT_WS_OP_PING);
    assert_int_equal(zt_ws_frame_parse(PONG_MASKED, sizeof PONG_MASKED, &f), 0);
    assert_int_equal(f.opcode, ZT_WS_OP_PONG);
    /* 256 bytes: 16-bit length; 64 KiB: 64-bit length */
    const uint8_t h256[] = {0x82, 0x7e, 0x01, 0x00};
    assert_int_equal(zt_ws_frame_parse(h256, sizeof h256, &f), 0);
    assert_int_equal(f.len, 256);
    assert_int_equal(f.header_len, 4);
    const uint8_t h64k[] = {0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0};
    assert_int_equal(zt_ws_frame_parse(h64k, sizeof h64k, &f), 0);
    assert_int_equal(f.len, 65536);
    assert_int_equal(f.header_len, 10);
    /* incomplete headers */
    for (size_t n = 0; n < sizeof h64k; n++) assert_int_equal(zt_ws_frame_parse(h64k, n, &f), ZT_EBUSY);
    for (size_t n = 0; n < 6; n++) assert_int_equal(zt_ws_frame_parse(HELLO_MASKED, n, &f), ZT_EBUSY);
    /* 64-bit length with the top bit set */
    const uint8_t bad[] = {0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1};
    assert_int_equal(zt_ws_frame_parse(bad, sizeof bad, &f), ZT_EPARSE);
    /* RSV bits are reported, not judged, by the parser */
    const uint8_t rsv[] = {0xc1, 0x00};
    assert_int_equal(zt_ws_frame_parse(rsv, sizeof rsv, &f), 0);
    assert_int_equal(f.rsv, 4);
}

static void test_encode(void **state)
{
    (void)state;
    struct zt_buf b;
    zt_buf_init(&b, 1 << 20);
    assert_int_equal(zt_ws_frame_encode(&b, ZT_WS_OP_TEXT, true, "Hello", 5, NULL), 0);
    assert_int_equal(b.len, sizeof HELLO_UNMASKED);
    assert_memory_equal(b.data, HELLO_UNMASKED, b.len);
    zt_buf_reset(&b);
    assert_int_equal(zt_ws_frame_encode(&b, ZT_WS_OP_TEXT, true, "Hello", 5, MASK), 0);
    assert_memory_equal(b.data, HELLO_MASKED, sizeof HELLO_MASKED);
    zt_buf_reset(&b);
    assert_int_equal(zt_ws_frame_encode(&b, ZT_WS_OP_TEXT, false, "Hel", 3, NULL), 0);
    assert_int_equal(zt_ws_frame_encode(&b, ZT_WS_OP_CONT, true, "lo", 2, NULL), 0);
    assert_memory_equal(b.data, FRAG1, sizeof FRAG1);
    assert_memory_equal(b.data + sizeof FRAG1, FRAG2, sizeof FRAG2);
    zt_buf_reset(&b);
    assert_int_equal(zt_ws_frame_encode(&b, ZT_WS_OP_PONG, true, "Hello", 5, MASK), 0);
    assert_memory_equal(b.data, PONG_MASKED, sizeof PONG_MASKED);
    static uint8_t big[65536];
    zt_buf_reset(&b);
    assert_int_equal(zt_ws_frame_encode(&b, ZT_WS_OP_BINARY, true, big, 256, NULL), 0);
    assert_memory_equal(b.data, "\x82\x7e\x01\x00", 4);
    assert_int_equal(b.len, 260);
    zt_buf_reset(&b);
    assert_int_equal(zt_ws_frame_encode(&b, ZT_WS_OP_BINARY, true, big, sizeof big, NULL), 0);
    assert_memory_equal(b.data, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
    assert_int_equal(b.len, 10 + sizeof big);
    /* control frames: at most 125 bytes, never fragmented */
    assert_int_equal(zt_ws_frame_encode(&b, ZT_WS_OP_PING, true, big, 126, NULL), ZT_EINVAL);
    assert_int_equal(zt_ws_frame_encode(&b, ZT_WS_OP_PING, false, "x", 1, NULL), ZT_EINVAL);
    /* full buffer: nothing appended */
    struct zt_buf small;
    zt_buf_init(&small, 8);
    assert_int_equal(zt_ws_frame_encode(&small, ZT_WS_OP_TEXT, true, "0123456789", 10, NULL), ZT_ETOOBIG);
    assert_int_equal(small.len, 0);
    zt_buf_deinit(&small);
    /* close: code + reason, cut to 125 bytes on a character boundary */
    zt_buf_reset(&b);
    assert_int_equal(zt_ws_close_encode(&b, 1000, "bye"), 0);
    assert_memory_equal(b.data, "\x88\x05\x03\xe8" "bye", 7);
    zt_buf_reset(&b);
    char reason[200];
    memset(reason, 'a', sizeof reason);
    memcpy(reason + 122, "\xc3\xa9", 2); /* é straddling byte 123 of the reason */
    reason[199] = '\0';
    assert_int_equal(zt_ws_close_encode(&b, 1011, reason), 0);
    assert_true(b.len <= 2 + 125);
    assert_int_equal((uint8_t)b.data[1], 2 + 122); /* the é did not fit whole: cut before it */
    zt_buf_reset(&b);
    assert_int_equal(zt_ws_close_encode(&b, 0, NULL), 0);
    assert_memory_equal(b.data, "\x88\x00", 2);
    zt_buf_deinit(&b);
}

static void test_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        bool ok;
    } v[] = {
        {"plain", true},           {"caf\xc3\xa9", true},       {"\xe2\x82\xac", true},
        {"\xf0\x9f\x98\x80", true}, {"\xf4\x8f\xbf\xbf", true},  {"\xef\xbf\xbf", true},
        {"\xc0\x80", false},        {"\xc1\xbf", false},         {"\xe0\x80\x80", false},
        {"\xe0\x9f\xbf", false},    {"\xed\xa0\x80", false},     {"\xed\xbf\xbf", false},
        {"\xf0\x80\x80\x80", false}, {"\xf4\x90\x80\x80", false}, {"\xf5\x80\x80\x80", false},
        {"\x80", false},            {"\xff", false},             {"a\xc3", false},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct zt_utf8_state st;
        zt_utf8_state_init(&st);
        bool ok = zt_utf8_feed(&st, (const uint8_t *)v[i].s, strlen(v[i].s)) && zt_utf8_complete(&st);
        assert_int_equal(ok, v[i].ok);
        /* the same, one byte at a time */
        zt_utf8_state_init(&st);
        bool ok2 = true;
        for (size_t k = 0; v[i].s[k]; k++) ok2 &= zt_utf8_feed(&st, (const uint8_t *)v[i].s + k, 1);
        ok2 = ok2 && zt_utf8_complete(&st);
        assert_int_equal(ok2, v[i].ok);
    }
    /* a bad byte fails at once, before the end of the text */
    struct zt_utf8_state st;
    zt_utf8_state_init(&st);
    assert_false(zt_utf8_feed(&st, (const uint8_t *)"\xed\xa0", 2));
}

/* Feed bytes one at a time, collecting events. Returns the last rc. */
static int feed_all(struct zt_ws_rx *rx, const uint8_t *p, size_t n, struct zt_ws_event *evs, size_t *n_ev,
                    uint8_t (*texts)[64], uint16_t *code)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(zt_ws_rx_feed(rx, p + i, 1), 0);
        struct zt_ws_event ev;
        while ((rc = zt_ws_rx_next(rx, &ev, code)) == 1) {
            size_t k = (*n_ev)++;
            evs[k] = ev;
            assert_true(ev.len < 64);
            memcpy(texts[k], ev.data, ev.len);
        }
        if (rc < 0) return rc;
    }
    return rc;
}

static void test_rx(void **state)
{
    (void)state;
    struct zt_ws_rx rx;
    struct zt_ws_event evs[8];
    uint8_t texts[8][64];
    size_t n = 0;
    uint16_t code = 0;
    /* server side: the masked frames of 5.7, byte by byte */
    zt_ws_rx_init(&rx, 1024, true);
    assert_int_equal(feed_all(&rx, HELLO_MASKED, sizeof HELLO_MASKED, evs, &n, texts, &code), 0);
    assert_int_equal(feed_all(&rx, PONG_MASKED, sizeof PONG_MASKED, evs, &n, texts, &code), 0);
    assert_int_equal(n, 2);
    assert_int_equal(evs[0].kind, ZT_WS_EV_MESSAGE);
    assert_int_equal(evs[0].opcode, ZT_WS_OP_TEXT);
    assert_memory_equal(texts[0], "Hello", 5);
    assert_int_equal(evs[1].kind, ZT_WS_EV_PONG);
    assert_memory_equal(texts[1], "Hello", 5);
    zt_ws_rx_deinit(&rx);
    /* client side (no mask expected): fragments with a ping in between */
    zt_ws_rx_init(&rx, 1024, false);
    n = 0;
    assert_int_equal(feed_all(&rx, FRAG1, sizeof FRAG1, evs, &n, texts, &code), 0);
    assert_int_equal(feed_all(&rx, PING_UNMASKED, sizeof PING_UNMASKED, evs, &n, texts, &code), 0);
    assert_int_equal(feed_all(&rx, FRAG2, sizeof FRAG2, evs, &n, texts, &code), 0);
    assert_int_equal(n, 2);
    assert_int_equal(evs[0].kind, ZT_WS_EV_PING);
    assert_int_equal(evs[1].kind, ZT_WS_EV_MESSAGE);
    assert_int_equal(evs[1].len, 5);
    assert_memory_equal(texts[1], "Hello", 5);
    /* a close frame with code and reason */
    const uint8_t close[] = {0x88, 0x05, 0x03, 0xe8, 'b', 'y', 'e'};
    n = 0;
    assert_int_equal(feed_all(&rx, close, sizeof close, evs, &n, texts, &code), 0);
    assert_int_equal(evs[0].kind, ZT_WS_EV_CLOSE);
    assert_int_equal(evs[0].close_code, 1000);
    assert_memory_equal(texts[0], "bye", 3);
    const uint8_t close_empty[] = {0x88, 0x00};
    n = 0;
    assert_int_equal(feed_all(&rx, close_empty, sizeof close_empty, evs, &n, texts, &code), 0);
    assert_int_equal(evs[0].close_code, ZT_WS_CLOSE_NO_STATUS);
    zt_ws_rx_deinit(&rx);
}

/* One protocol violation per vector, with the close code it must give. */
static void test_rx_violations(void **state)
{
    (void)state;
    static const struct {
        const char *what;
        uint8_t bytes[24];
        size_t len;
        bool mask_required;
        uint16_t code;
    } v[] = {
        {"unmasked client frame", {0x81, 0x01, 'a'}, 3, true, 1002},
        {"masked server frame", {0x81, 0x81, 0, 0, 0, 0, 'a'}, 7, false, 1002},
        {"RSV1", {0xc1, 0x00}, 2, false, 1002},
        {"RSV3", {0x91, 0x00}, 2, false, 1002},
        {"reserved data opcode", {0x83, 0x00}, 2, false, 1002},
        {"reserved control opcode", {0x8b, 0x00}, 2, false, 1002},
        {"fragmented ping", {0x09, 0x00}, 2, false, 1002},
        {"ping of 126 bytes", {0x89, 0x7e, 0x00, 0x7e}, 4, false, 1002},
        {"continuation first", {0x80, 0x00}, 2, false, 1002},
        {"text inside a fragmented text", {0x01, 0x01, 'a', 0x81, 0x01, 'b'}, 6, false, 1002},
        {"frame over the message limit", {0x81, 0x11}, 2, false, 1009},
        {"fragments over the limit", {0x01, 0x0a, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 0x80, 0x07}, 14,
         false, 1009},
        {"64-bit length MSB", {0x81, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0}, 10, false, 1002},
        {"invalid UTF-8", {0x81, 0x02, 0xc3, 0x28}, 4, false, 1007},
        {"truncated UTF-8 at the end", {0x81, 0x01, 0xc3}, 3, false, 1007},
        {"bad byte in the first fragment", {0x01, 0x01, 0xff}, 3, false, 1007},
        {"close with one byte", {0x88, 0x01, 0x03}, 3, false, 1002},
        {"close code 1005", {0x88, 0x02, 0x03, 0xed}, 4, false, 1002},
        {"close code 999", {0x88, 0x02, 0x03, 0xe7}, 4, false, 1002},
        {"close code 2999", {0x88, 0x02, 0x0b, 0xb7}, 4, false, 1002},
        {"close reason not UTF-8", {0x88, 0x03, 0x03, 0xe8, 0xff}, 5, false, 1007},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        struct zt_ws_rx rx;
        zt_ws_rx_init(&rx, 16, v[i].mask_required);
        assert_int_equal(zt_ws_rx_feed(&rx, v[i].bytes, v[i].len), 0);
        struct zt_ws_event ev;
        uint16_t code = 0;
        int rc;
        while ((rc = zt_ws_rx_next(&rx, &ev, &code)) == 1) {
        }
        if (rc != ZT_EPARSE || code != v[i].code)
            fail_msg("%s: rc %d code %u, want %u", v[i].what, rc, (unsigned)code, (unsigned)v[i].code);
        /* the receiver stays failed */
        assert_int_equal(zt_ws_rx_next(&rx, &ev, &code), ZT_EPARSE);
        zt_ws_rx_deinit(&rx);
    }
    /* a frame exactly at the limit is fine; one byte more is not */
    struct zt_ws_rx rx;
    zt_ws_rx_init(&rx, 126, false);
    uint8_t fr[4 + 126] = {0x82, 0x7e, 0x00, 0x7e};
    assert_int_equal(zt_ws_rx_feed(&rx, fr, sizeof fr), 0);
    struct zt_ws_event ev;
    uint16_t code;
    assert_int_equal(zt_ws_rx_next(&rx, &ev, &code), 1);
    assert_int_equal(ev.len, 126);
    assert_int_equal(zt_ws_close_code_valid(1000), true);
    assert_int_equal(zt_ws_close_code_valid(1004), false);
    assert_int_equal(zt_ws_close_code_valid(1006), false);
    assert_int_equal(zt_ws_close_code_valid(1015), false);
    assert_int_equal(zt_ws_close_code_valid(4999), true);
    zt_ws_rx_deinit(&rx);
}

static void test_events(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    struct zt_config cfg;
    assert_int_equal(zt_config_init_defaults(&cfg), 0);
    struct zt_annot_engine *ws = NULL;
    assert_int_equal(zt_annot_new((size_t)cfg.server.ws_max_message_bytes, &ws), 0);
    /* the greeting: protocol version, message bound, annotators in order */
    json_t *h = zt_annot_hello_event(ws);
    assert_string_equal(json_string_value(json_object_get(h, "type")), "hello");
    assert_int_equal(json_integer_value(json_object_get(h, "version")), ZT_ANNOT_PROTOCOL_VERSION);
    assert_int_equal(json_integer_value(json_object_get(h, "max_message_bytes")), cfg.server.ws_max_message_bytes);
    assert_int_equal(json_array_size(json_object_get(h, "annotators")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(h, "annotators"), 0)), "basic");
    json_decref(h);
    struct zt_annot_convs *cv = zt_annot_convs_new();
    assert_non_null(cv);
    static const char msg[] = "{\"type\":\"message\",\"conversation\":\"c\",\"id\":\"m1\",\"text\":\"caf\xc3\xa9\\nx\"}";
    json_t *a = zt_annot_handle_event(ws, cv, msg, strlen(msg));
    assert_string_equal(json_string_value(json_object_get(a, "type")), "annotations");
    assert_string_equal(json_string_value(json_object_get(a, "id")), "m1");
    json_t *an = json_object_get(a, "annotations");
    assert_int_equal(json_integer_value(json_object_get(an, "bytes")), 7);
    assert_int_equal(json_integer_value(json_object_get(an, "chars")), 6);
    assert_int_equal(json_integer_value(json_object_get(an, "lines")), 2);
    json_decref(a);
    static const char *const bad[] = {"", "{", "[]", "{\"type\":1}", "{\"type\":\"nope\"}",
                                      "{\"type\":\"message\"}", "{\"type\":\"message\",\"id\":\"x\"}",
                                      "{\"type\":\"message\",\"id\":\"x\",\"conversation\":\"c\"}",
                                      "{\"type\":\"message\",\"id\":\"x\",\"conversation\":\"c\",\"text\":1}",
                                      "{\"type\":\"message\",\"id\":\"x\",\"id\":\"y\"}"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *e = zt_annot_handle_event(ws, cv, bad[i], strlen(bad[i]));
        assert_string_equal(json_string_value(json_object_get(e, "type")), "error");
        json_decref(e);
    }
    /* more conversations than the table holds: the oldest are evicted */
    for (int i = 0; i < 100; i++) {
        char ev[128];
        snprintf(ev, sizeof ev, "{\"type\":\"message\",\"conversation\":\"c%d\",\"id\":\"m\",\"text\":\"t\"}", i);
        json_decref(zt_annot_handle_event(ws, cv, ev, strlen(ev)));
    }
    zt_annot_convs_free(ws, cv);
    zt_annot_free(ws);
    zt_config_deinit(&cfg);
    assert_int_equal(zt_alloc_live(), live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accept_key), cmocka_unit_test(test_parse_rfc_examples),
        cmocka_unit_test(test_encode),     cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_rx),         cmocka_unit_test(test_rx_violations),
        cmocka_unit_test(test_events),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
