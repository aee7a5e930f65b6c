/* test_entities.c: entity extraction (zt_entities.h) with known answers.
 * Reference time: Tuesday 2026-12-01 09:30:00 UTC (1796117400). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_entities.h"
#include "zt_test.h"

#define REF_NOW 1796117400

static struct zt_entities_ref REF = {.now = REF_NOW, .utc_offset = 0, .flags = 0};

static size_t ex(const char *s, const struct zt_entities_ref *ref, struct zt_entity *e, size_t max)
{
    size_t n = 0;
    assert_int_equal(zt_entities_extract(s, strlen(s), ref, e, max, &n), 0);
    return n;
}

/* the only entity of s is of type t, spans text and has value v */
static void one(const char *s, enum zt_entity_type t, const char *text, const char *v)
{
    struct zt_entity e[8];
    size_t n = ex(s, &REF, e, 8);
    if (n != 1) {
        for (size_t i = 0; i < n && i < 8; i++)
            fprintf(stderr, "  %s: %s [%zu,%zu) %s\n", s, zt_entity_type_name(e[i].type), e[i].off,
                    e[i].off + e[i].len, e[i].value);
        fail_msg("%s: %zu entities, want 1", s, n);
    }
    if (e[0].type != t) fail_msg("%s: type %s, want %s", s, zt_entity_type_name(e[0].type), zt_entity_type_name(t));
    assert_int_equal(e[0].len, strlen(text));
    assert_memory_equal(s + e[0].off, text, e[0].len);
    assert_string_equal(e[0].value, v);
}

static void none(const char *s)
{
    struct zt_entity e[8];
    size_t n = ex(s, &REF, e, 8);
    if (n) fail_msg("%s: %zu entities (first %s %s), want none", s, n, zt_entity_type_name(e[0].type), e[0].value);
}

static void test_dates(void **state)
{
    (void)state;
    one("see you 2026-12-24 ok", ZT_ENT_DATE, "2026-12-24", "2026-12-24");
    one("due 1 Dec 2026.", ZT_ENT_DATE, "1 Dec 2026", "2026-12-01");
    one("due 1st of December 2026", ZT_ENT_DATE, "1st of December 2026", "2026-12-01");
    one("on December 25, 2026!", ZT_ENT_DATE, "December 25, 2026", "2026-12-25");
    one("Dec 3 works", ZT_ENT_DATE, "Dec 3", "2026-12-03");
    one("3 Sept", ZT_ENT_DATE, "3 Sept", "2026-09-03");
    /* slashes: month first by default, a number > 12 decides */
    one("12/01/2026", ZT_ENT_DATE, "12/01/2026", "2026-12-01");
    one("25/12/2026", ZT_ENT_DATE, "25/12/2026", "2026-12-25");
    one("12/25/26", ZT_ENT_DATE, "12/25/26", "2026-12-25");
    struct zt_entities_ref dmy = REF;
    dmy.flags = ZT_ENT_DMY;
    struct zt_entity e[8];
    assert_int_equal(ex("12/01/2026", &dmy, e, 8), 1);
    assert_string_equal(e[0].value, "2026-01-12");
    /* dots and dashes: day first */
    one("01.12.2026", ZT_ENT_DATE, "01.12.2026", "2026-12-01");
    one("05-11-2026", ZT_ENT_DATE, "05-11-2026", "2026-11-05");
    /* invalid calendar dates are not dates */
    none("2026-02-30");
    none("31/31/2026");
    /* leap day */
    one("2028-02-29", ZT_ENT_DATE, "2028-02-29", "2028-02-29");
    /* ISO with time and offset: converted to the reference offset */
    one("at 2026-12-01T14:30:00+01:00", ZT_ENT_DATETIME, "2026-12-01T14:30:00+01:00", "2026-12-01T13:30:00Z");
    one("2026-12-01T08:00Z", ZT_ENT_DATETIME, "2026-12-01T08:00Z", "2026-12-01T08:00:00Z");
}

static void test_times_relative(void **state)
{
    (void)state;
    one("meet at 14:30", ZT_ENT_DATETIME, "14:30", "2026-12-01T14:30:00Z");
    one("2pm?", ZT_ENT_DATETIME, "2pm", "2026-12-01T14:00:00Z");
    one("at 2:30 p.m. sharp", ZT_ENT_DATETIME, "2:30 p.m.", "2026-12-01T14:30:00Z");
    one("12am", ZT_ENT_DATETIME, "12am", "2026-12-01T00:00:00Z");
    one("noon", ZT_ENT_DATETIME, "noon", "2026-12-01T12:00:00Z");
    one("tomorrow", ZT_ENT_DATE, "tomorrow", "2026-12-02");
    one("Yesterday was fun", ZT_ENT_DATE, "Yesterday", "2026-11-30");
    one("tomorrow at 2pm", ZT_ENT_DATETIME, "tomorrow at 2pm", "2026-12-02T14:00:00Z");
    one("2pm tomorrow", ZT_ENT_DATETIME, "2pm tomorrow", "2026-12-02T14:00:00Z");
    one("1 Dec 2026, 14:30", ZT_ENT_DATETIME, "1 Dec 2026, 14:30", "2026-12-01T14:30:00Z");
    /* the reference is a Tuesday */
    one("next Monday", ZT_ENT_DATE, "next Monday", "2026-12-07");
    one("next tuesday", ZT_ENT_DATE, "next tuesday", "2026-12-08");
    one("this Tuesday", ZT_ENT_DATE, "this Tuesday", "2026-12-01");
    one("on Friday at 9am", ZT_ENT_DATETIME, "on Friday at 9am", "2026-12-04T09:00:00Z");
    one("next week", ZT_ENT_DATE, "next week", "2026-12-08");
    one("in 2 hours", ZT_ENT_DATETIME, "in 2 hours", "2026-12-01T11:30:00Z");
    one("in ten minutes", ZT_ENT_DATETIME, "in ten minutes", "2026-12-01T09:40:00Z");
    one("in 20 hours", ZT_ENT_DATETIME, "in 20 hours", "2026-12-02T05:30:00Z");
    one("in 3 days", ZT_ENT_DATE, "in 3 days", "2026-12-04");
    one("2 weeks ago", ZT_ENT_DATE, "2 weeks ago", "2026-11-17");
    /* a reference offset: local time and output offset */
    struct zt_entities_ref paris = {.now = REF_NOW, .utc_offset = 60};
    struct zt_entity e[4];
    assert_int_equal(ex("tomorrow at 14:30", &paris, e, 4), 1);
    assert_string_equal(e[0].value, "2026-12-02T14:30:00+01:00");
    struct zt_entities_ref ny = {.now = REF_NOW, .utc_offset = -300}; /* 04:30 local */
    assert_int_equal(ex("in 1 hour", &ny, e, 4), 1);
    assert_string_equal(e[0].value, "2026-12-01T05:30:00-05:00");
    struct zt_entities_ref late = {.now = REF_NOW + 15 * 3600, .utc_offset = 0}; /* 00:30 next day */
    assert_int_equal(ex("today", &late, e, 4), 1);
    assert_string_equal(e[0].value, "2026-12-02");
    /* not times */
    none("25:00");
    none("13pm");
    none("I have 5 apples");
    none("version 1.2.3");
}

static void test_money(void **state)
{
    (void)state;
    one("it costs $3.50.", ZT_ENT_MONEY, "$3.50", "3.50 USD");
    one("\xe2\x82\xac" "20 please", ZT_ENT_MONEY, "\xe2\x82\xac" "20", "20.00 EUR");
    one("pay 20 EUR now", ZT_ENT_MONEY, "20 EUR", "20.00 EUR");
    one("1.2k USD", ZT_ENT_MONEY, "1.2k USD", "1200.00 USD");
    one("USD 1,000", ZT_ENT_MONEY, "USD 1,000", "1000.00 USD");
    one("\xc2\xa3" "1,234.56", ZT_ENT_MONEY, "\xc2\xa3" "1,234.56", "1234.56 GBP");
    one("3,50 \xe2\x82\xac", ZT_ENT_MONEY, "3,50 \xe2\x82\xac", "3.50 EUR");
    one("1.000,50 EUR", ZT_ENT_MONEY, "1.000,50 EUR", "1000.50 EUR");
    one("5 bucks", ZT_ENT_MONEY, "5 bucks", "5.00 USD");
    one("\xc2\xa5" "500", ZT_ENT_MONEY, "\xc2\xa5" "500", "500 JPY");
    one("0.05 BTC", ZT_ENT_MONEY, "0.05 BTC", "0.05 BTC");
    one("$2m", ZT_ENT_MONEY, "$2m", "2000000.00 USD");
    struct zt_entity e[2];
    assert_int_equal(ex("$3.50", &REF, e, 2), 1);
    assert_true(fabs(e[0].amount - 3.5) < 1e-9);
    assert_string_equal(e[0].detail, "USD");
    none("I have 20 cats");
}

static void test_contacts(void **state)
{
    (void)state;
    one("see https://Example.COM/Path?q=A.", ZT_ENT_URL, "https://Example.COM/Path?q=A", "https://example.com/Path?q=A");
    one("(www.example.org/x)", ZT_ENT_URL, "www.example.org/x", "http://www.example.org/x");
    one("wiki https://en.wikipedia.org/wiki/C_(language) ok", ZT_ENT_URL, "https://en.wikipedia.org/wiki/C_(language)",
        "https://en.wikipedia.org/wiki/C_(language)");
    one("mail Bob.Smith+x@Mail.Example.COM, thanks", ZT_ENT_EMAIL, "Bob.Smith+x@Mail.Example.COM",
        "Bob.Smith+x@mail.example.com");
    none("a@b");
    none("user@localhost");
    one("hi @Alice_B!", ZT_ENT_MENTION, "@Alice_B", "@alice_b");
    one("#Caf\xc3\xa9Life rocks", ZT_ENT_HASHTAG, "#Caf\xc3\xa9Life", "#caf\xc3\xa9life");
    none("issue #123");
    none("C# rocks");
    one("call +44 20 7946 0958 now", ZT_ENT_PHONE, "+44 20 7946 0958", "+442079460958");
    one("call +1-800-555-0199.", ZT_ENT_PHONE, "+1-800-555-0199", "+18005550199");
    one("(555) 123-4567", ZT_ENT_PHONE, "(555) 123-4567", "5551234567");
    one("ring 020 7946 0958", ZT_ENT_PHONE, "020 7946 0958", "02079460958");
    one("text 07700900123", ZT_ENT_PHONE, "07700900123", "07700900123");
    none("order 1234567890");
    none("+12");
}

static void test_wallets(void **state)
{
    (void)state;
    char cs[43];
    assert_int_equal(zt_eth_checksum("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", cs), 0);
    assert_string_equal(cs, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
    assert_int_equal(zt_eth_checksum("zz", cs), ZT_EPARSE);
    struct zt_entity e[4];
    /* EIP-55 examples: checksummed, lower case (no checksum), broken checksum */
    const char *ok = "send to 0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359 pls";
    assert_int_equal(ex(ok, &REF, e, 4), 1);
    assert_int_equal(e[0].type, ZT_ENT_WALLET);
    assert_true(e[0].valid);
    assert_string_equal(e[0].value, "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359");
    assert_string_equal(e[0].detail, "eth");
    assert_int_equal(ex("0xdbf03b407c01e7cd3cbea99509d93f8dddc8c6fb", &REF, e, 4), 1);
    assert_true(e[0].valid);
    assert_string_equal(e[0].value, "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB");
    assert_int_equal(ex("0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6Fb", &REF, e, 4), 1);
    assert_false(e[0].valid);
    none("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAedd"); /* 41 hex digits */
    /* Bitcoin */
    const char *kind = NULL;
    assert_true(zt_btc_address_valid("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", 34, &kind));
    assert_string_equal(kind, "p2pkh");
    assert_true(zt_btc_address_valid("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", 34, &kind));
    assert_string_equal(kind, "p2sh");
    assert_false(zt_btc_address_valid("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", 34, &kind));
    assert_true(zt_btc_address_valid("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", 42, &kind));
    assert_string_equal(kind, "p2wpkh");
    assert_true(zt_btc_address_valid("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", 42, &kind));
    assert_false(zt_btc_address_valid("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", 42, &kind));
    assert_false(zt_btc_address_valid("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kV8f3t4", 42, &kind)); /* mixed case */
    const char *tr = "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0";
    assert_true(zt_btc_address_valid(tr, strlen(tr), &kind));
    assert_string_equal(kind, "p2tr");
    /* a v1 address with a bech32 (not bech32m) checksum is refused (BIP-350) */
    const char *bad = "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7k7grplx";
    assert_false(zt_btc_address_valid(bad, strlen(bad), &kind));
    one("btc: 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2.", ZT_ENT_WALLET, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
        "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2");
    one("to BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", ZT_ENT_WALLET, "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
    none("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3");
}

static void test_spans_and_limits(void **state)
{
    (void)state;
    /* code point offsets after multi-byte characters */
    const char *s = "caf\xc3\xa9 \xf0\x9f\x98\x80 @bob at 2pm #t\xc3\xa9";
    struct zt_entity e[8];
    size_t n = ex(s, &REF, e, 8);
    assert_int_equal(n, 3);
    assert_int_equal(e[0].type, ZT_ENT_MENTION);
    assert_int_equal(e[0].off, 11);
    assert_int_equal(e[0].cp_off, 7);
    assert_int_equal(e[0].cp_len, 4);
    assert_int_equal(e[1].type, ZT_ENT_DATETIME);
    assert_int_equal(e[1].cp_off, 15);
    assert_int_equal(e[2].type, ZT_ENT_HASHTAG);
    assert_int_equal(e[2].len, 4);
    assert_int_equal(e[2].cp_len, 3);
    /* more entities than room: the count is the total */
    assert_int_equal(ex("#a #b #c #d", &REF, e, 2), 4);
    assert_string_equal(e[1].value, "#b");
    /* bad input */
    size_t k;
    assert_int_equal(zt_entities_extract("\xff", 1, &REF, e, 8, &k), ZT_EPARSE);
    struct zt_entities_ref bad = {.now = 0, .utc_offset = 5000};
    assert_int_equal(zt_entities_extract("x", 1, &bad, e, 8, &k), ZT_EINVAL);
    assert_int_equal(zt_entities_extract("", 0, &REF, e, 8, &k), 0);
    assert_int_equal(k, 0);
}

static void test_parse_time(void **state)
{
    (void)state;
    struct zt_entities_ref r = {0};
    assert_int_equal(zt_entities_parse_time("2026-12-01T09:30:00Z", &r), 0);
    assert_int_equal(r.now, REF_NOW);
    assert_int_equal(r.utc_offset, 0);
    assert_int_equal(zt_entities_parse_time("2026-12-01T10:30:00.123+01:00", &r), 0);
    assert_int_equal(r.now, REF_NOW);
    assert_int_equal(r.utc_offset, 60);
    assert_int_equal(zt_entities_parse_time("2026-12-01T04:30-05:00", &r), 0);
    assert_int_equal(r.now, REF_NOW);
    assert_int_equal(r.utc_offset, -300);
    assert_int_equal(zt_entities_parse_time("2026-12-01T09:30:00", &r), ZT_EPARSE); /* no offset */
    assert_int_equal(zt_entities_parse_time("2026-13-01T09:30:00Z", &r), ZT_EPARSE);
    assert_int_equal(zt_entities_parse_time("yesterday", &r), ZT_EPARSE);
    assert_int_equal(zt_entities_parse_time("2026-12-01T09:30:00Zjunk", &r), ZT_EPARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dates),   cmocka_unit_test(test_times_relative), cmocka_unit_test(test_money),
        cmocka_unit_test(test_contacts), cmocka_unit_test(test_wallets),       cmocka_unit_test(test_spans_and_limits),
        cmocka_unit_test(test_parse_time),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
