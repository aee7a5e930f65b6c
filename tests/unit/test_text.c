/* test_text.c: text preprocessing (zt_text.h) and asset files (zt_asset.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_text.h"
#include "zt_test.h"

static size_t toks(const char *s, struct zt_token *t, size_t max)
{
    size_t n = 0;
    assert_int_equal(zt_text_tokenize(s, strlen(s), t, max, &n), 0);
    return n;
}

static void expect_tok(const char *s, const struct zt_token *t, const char *text, enum zt_tok_kind k)
{
    assert_int_equal(t->kind, k);
    assert_int_equal(t->len, strlen(text));
    assert_memory_equal(s + t->off, text, t->len);
}

static void test_tokenize(void **state)
{
    (void)state;
    struct zt_token t[32];
    const char *s = "I don't LOVE it!!! Costs $3.50, see https://example.org/x?y=1. \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD ok";
    size_t n = toks(s, t, 32);
    assert_int_equal(n, 16);
    expect_tok(s, &t[0], "I", ZT_TOK_WORD);
    expect_tok(s, &t[1], "don't", ZT_TOK_WORD);
    expect_tok(s, &t[2], "LOVE", ZT_TOK_WORD);
    assert_true(t[2].flags & ZT_TOK_F_UPPER);
    assert_false(t[0].flags & ZT_TOK_F_UPPER); /* one letter is not shouting */
    expect_tok(s, &t[3], "it", ZT_TOK_WORD);
    expect_tok(s, &t[4], "!", ZT_TOK_PUNCT);
    expect_tok(s, &t[7], "Costs", ZT_TOK_WORD);
    assert_true(t[7].flags & ZT_TOK_F_TITLE);
    expect_tok(s, &t[8], "$", ZT_TOK_PUNCT);
    expect_tok(s, &t[9], "3.50", ZT_TOK_NUMBER);
    expect_tok(s, &t[10], ",", ZT_TOK_PUNCT);
    expect_tok(s, &t[11], "see", ZT_TOK_WORD);
    expect_tok(s, &t[12], "https://example.org/x?y=1", ZT_TOK_URL);
    expect_tok(s, &t[13], ".", ZT_TOK_PUNCT);
    expect_tok(s, &t[14], "\xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", ZT_TOK_EMOJI); /* thumbs up + skin tone */
    expect_tok(s, &t[15], "ok", ZT_TOK_WORD);

    /* More tokens than room: the count is the total. */
    assert_int_equal(toks(s, t, 3), 16);
    /* Invalid UTF-8 is an error, not a crash. */
    size_t n2;
    assert_int_equal(zt_text_tokenize("ab\xC3(", 4, t, 32, &n2), ZT_EPARSE);
    assert_int_equal(zt_text_tokenize("\xF0\x9F", 2, t, 32, &n2), ZT_EPARSE);
    assert_int_equal(toks("", t, 32), 0);
    assert_int_equal(toks(" \t\n ", t, 32), 0);
}

static void test_fold_normalize(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    char out[64];
    struct zt_token t[4];
    const char *s = "\xC3\x89T\xC3\x89 Stra\xC3\x9F" "e \xEF\xBC\xA1\xEF\xBC\xA2"; /* ÉTÉ Straße ＡＢ */
    assert_int_equal(toks(s, t, 4), 3);
    assert_int_equal(zt_text_token_fold(s, &t[0], out, sizeof out), 5);
    assert_string_equal(out, "\xC3\xA9t\xC3\xA9");
    assert_true(zt_text_token_fold(s, &t[1], out, sizeof out) > 0);
    assert_string_equal(out, "strasse");
    assert_true(zt_text_token_fold(s, &t[2], out, sizeof out) > 0);
    assert_string_equal(out, "ab"); /* fullwidth letters under NFKC */
    /* e + combining acute folds like the precomposed letter */
    const char *d = "e\xCC\x81";
    assert_int_equal(toks(d, t, 4), 1);
    assert_true(zt_text_token_fold(d, &t[0], out, sizeof out) > 0);
    assert_string_equal(out, "\xC3\xA9");
    /* too small: a valid prefix and ZT_ETOOBIG */
    assert_int_equal(toks(s, t, 4), 3);
    assert_int_equal(zt_text_token_fold(s, &t[0], out, 4), ZT_ETOOBIG);
    assert_string_equal(out, "\xC3\xA9t");

    char *norm = NULL;
    size_t nl = 0;
    assert_int_equal(zt_text_normalize("A\x01" "B\n\xEF\xAC\x81", 7, ZT_TEXT_NFKC | ZT_TEXT_CASEFOLD | ZT_TEXT_STRIP_CC,
                                       &norm, &nl), 0);
    assert_string_equal(norm, "ab\nfi"); /* control char dropped, newline kept, ligature split */
    assert_int_equal(nl, 5);
    zt_free(norm);
    assert_int_equal(zt_text_normalize("\xFF", 1, ZT_TEXT_NFKC, &norm, &nl), ZT_EPARSE);
    assert_int_equal(zt_text_codepoints("h\xC3\xA9llo", 6), 5);
    assert_int_equal(zt_text_codepoints("\xC3", 1), ZT_EPARSE);
    assert_int_equal(zt_alloc_live(), live);
}

static void test_sentences(void **state)
{
    (void)state;
    struct zt_span sp[16];
    size_t n = 0;
    const char *s = "Dr. Smith arrived at 3 p.m. today. Did you see him?! Yes. "
                    "He said \"fine.\" Then left\nNew line here";
    assert_int_equal(zt_text_sentences(s, strlen(s), sp, 16, &n), 0);
    assert_int_equal(n, 6);
    assert_int_equal(sp[0].len, strlen("Dr. Smith arrived at 3 p.m. today."));
    assert_memory_equal(s + sp[1].off, "Did you see him?!", sp[1].len);
    assert_memory_equal(s + sp[2].off, "Yes.", sp[2].len);
    assert_memory_equal(s + sp[3].off, "He said \"fine.\"", sp[3].len);
    assert_memory_equal(s + sp[4].off, "Then left", sp[4].len);
    assert_memory_equal(s + sp[5].off, "New line here", sp[5].len);
    assert_int_equal(zt_text_sentences("  ", 2, sp, 16, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(zt_text_sentences("a\xE2", 2, sp, 16, &n), ZT_EPARSE);
}

static void test_asset_roundtrip(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    char dir[] = "/tmp/zt-asset-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256];
    snprintf(path, sizeof path, "%s/x.zta", dir);
    uint8_t src[32];
    memset(src, 7, sizeof src);
    const char payload[] = "hello assets";
    assert_int_equal(zt_asset_write(path, "test-kind", 3, src, payload, sizeof payload), 0);

    struct zt_asset a;
    assert_int_equal(zt_asset_load(path, "test-kind", 3, &a), 0);
    assert_int_equal(a.len, sizeof payload);
    assert_memory_equal(a.data, payload, sizeof payload);
    assert_memory_equal(a.source_sha256, src, 32);
    assert_int_equal(((uintptr_t)a.data) % 8, 0);
    zt_asset_deinit(&a);

    assert_int_equal(zt_asset_load(path, "other", 3, &a), ZT_EPARSE);
    assert_int_equal(zt_asset_load(path, "test-kind", 4, &a), ZT_EUNSUPPORTED);
    char missing[256];
    snprintf(missing, sizeof missing, "%s/none.zta", dir);
    assert_int_equal(zt_asset_load(missing, "test-kind", 3, &a), ZT_ENOTFOUND);
    assert_int_equal(zt_asset_write(path, "", 3, src, payload, 1), ZT_EINVAL);
    assert_int_equal(zt_asset_write(path, "bad kind", 3, src, payload, 1), ZT_EINVAL);

    /* Every single-byte change and every truncation is refused. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t file[512];
    size_t flen = fread(file, 1, sizeof file, f);
    fclose(f);
    for (size_t i = 0; i < flen; i++) {
        for (size_t cut = 0; cut < 2; cut++) {
            f = fopen(path, "wb");
            assert_non_null(f);
            if (cut) {
                assert_int_equal(fwrite(file, 1, i, f), i);
            } else {
                file[i] ^= 0x01;
                assert_int_equal(fwrite(file, 1, flen, f), flen);
                file[i] ^= 0x01;
            }
            fclose(f);
            int rc = zt_asset_load(path, "test-kind", 3, &a);
            assert_true(rc == ZT_EPARSE || rc == ZT_EUNSUPPORTED);
        }
    }
    unlink(path);
    rmdir(dir);

    /* assets directory: the environment wins over the data dir */
    char p[128];
    unsetenv("ZENTALK_ASSETS_DIR");
    assert_int_equal(zt_asset_path("/var/zt", "vader.zta", p, sizeof p), 0);
    assert_string_equal(p, "/var/zt/assets/vader.zta");
    setenv("ZENTALK_ASSETS_DIR", "/opt/a", 1);
    assert_int_equal(zt_asset_path("/var/zt", "vader.zta", p, sizeof p), 0);
    assert_string_equal(p, "/opt/a/vader.zta");
    assert_int_equal(zt_asset_path("/var/zt", "vader.zta", p, 8), ZT_ETOOBIG);
    assert_int_equal(zt_alloc_live(), live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokenize),
        cmocka_unit_test(test_fold_normalize),
        cmocka_unit_test(test_sentences),
        cmocka_unit_test(test_asset_roundtrip),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
