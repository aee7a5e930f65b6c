/* test_heldout_sets.c: the held-out evaluation sets of issue 16
 * (tests/data/heldout/, round 3's tests/data/heldout3/, round 4's
 * tests/data/heldout4/, round 5's tests/data/heldout5/, round 6's
 * tests/data/heldout6/, round 7's tests/data/heldout7/, round 8's
 * tests/data/heldout8/, round 9's tests/data/heldout9/, round 10's
 * tests/data/heldout10/, round 11's tests/data/heldout11/ and round 12's
 * tests/data/heldout12/, see their README.md) are intact and well formed.
 *
 * Each file is pinned by SHA-256 (libsodium crypto_hash_sha256): an edit
 * fails here. A held-out file is never edited once tuning starts; a new
 * version is a new file with a new pin. Beyond the pin, every record must
 * parse, the minimum sizes and label balance of issue 16 must hold, texts
 * are unique within a file, and in the PII set every span occurs in its
 * text (first occurrence, no overlaps) and every IBAN, card number, US SSN
 * and UK NINO positive passes its checksum or range rule, while SSN-shaped
 * numbers in the negatives fail it.
 *
 * This test does NOT evaluate the features on the sets: that is the
 * quality report's job (make bench-features). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "zt_test.h"

#include <sodium.h>

#define MAX_FILE (1u << 20)
#define MAX_FIELDS 8
#define MAX_RECORDS 2048

/* The pins: sha256sum tests/data/<dir>/<file>. heldout is the first
 * round's set (read during tuning twice, kept so its figures stay
 * comparable); heldout3 is round 3's, written 2026-12-06 by a writer who
 * did not tune (read once by the tuner at the end of a tuning round);
 * heldout4 is round 4's, written 2026-12-06 by another writer who did not
 * tune (read once by the tuner this session); heldout5 is round 5's,
 * written 2026-12-07 by a fifth writer who did not tune; heldout6 is
 * round 6's, written 2026-12-07 by a sixth writer who did not tune, for
 * the round after; heldout7 is round 7's, written 2026-12-07 by a seventh
 * writer who did not tune, for the round after that (nobody evaluates on
 * it until round 7's tuning is finished); heldout8 is round 8's, written
 * 2026-12-07 by an eighth writer who did not tune (read once by round 8's
 * tuner); heldout9 is round 9's, written 2026-12-07 by a ninth writer who
 * did not tune (nobody evaluates on it until round 9's tuning is
 * finished); heldout10 is round 10's, written 2026-12-07 by a tenth writer
 * who did not tune (nobody evaluates on it until round 10's tuning is
 * finished); heldout11 is round 11's, written 2026-12-07 by an eleventh
 * writer who did not tune (nobody evaluates on it until round 11's tuning
 * is finished); heldout12 is round 12's, written 2026-12-08 by a twelfth
 * writer who did not tune (nobody evaluates on it until round 12's tuning
 * is finished). */
static const struct pin {
    const char *dir, *file, *sha256;
} pins[] = {
    {"heldout", "spam_chat.tsv", "cb41a1c525cfba5e1eb495030995b104c8224023df5691479e05ae064aa5cd41"},
    {"heldout", "ordinary_chat.tsv", "b163336db962a735637ab4c441a512310ecad8c9c240e15320bd574958885fff"},
    {"heldout", "sentiment.tsv", "dd509db44690375dbb2e6c8aec13bdd2d50e5a260d3e901b9443976a4532726f"},
    {"heldout", "moderation.tsv", "c545153e5ca0d13106e213aa10da91dd4ce352c11f9a0390117d52c9d2939c76"},
    {"heldout", "pii.tsv", "ab30b3e0473841a941c550c3a5394e05fef27b97ccf1a4ee5e49ecb989c1cfad"},
    {"heldout3", "spam_chat.tsv", "340669a886884bdd9d0cea9406cb1fde95eaec23b03f89b8de9b1b02248cf1e8"},
    {"heldout3", "ordinary_chat.tsv", "130e00458fb50cc1addf79a3ce8285e4fcd6c3305f60e9a5c5cf39b17817f82c"},
    {"heldout3", "sentiment.tsv", "07b9bab688a8a58d63c9c906cc16ad1bc4acc3f705ecb80eaa4b5769b0550f87"},
    {"heldout3", "moderation.tsv", "776f288dd09ea9add3d302bfe74ad90046c7ca748343d03cb0e6149982e84882"},
    {"heldout3", "pii.tsv", "652494fe97bd538650d8ded9941772bb4e13af1acd9502dd0039216145dcefca"},
    {"heldout4", "spam_chat.tsv", "5ba9462c5b23fd5bba7c29966cb5bcb6d5bc49d4f2217f35d0cee2119ff5979b"},
    {"heldout4", "ordinary_chat.tsv", "275caec5b9545251c036fbaea129bc97eca46fcf0ab96a10efcd2e0e3671971c"},
    {"heldout4", "sentiment.tsv", "59f85699e773c2116950fadc63297db6eb72a56e8ed7742143e18c527c430557"},
    {"heldout4", "moderation.tsv", "75ccdc4884b0dcad995b7884442f85ab93253ebf12118b859086bdf63d8dbec9"},
    {"heldout4", "pii.tsv", "f84ac37849fa2463e3024efc2ff44b97cb50288094cf4f3ed681fe9ca8b2cc8e"},
    {"heldout5", "spam_chat.tsv", "8420d6f1a509e3b98f4645f8d84fe2d5be754f80693fd6d00d9cb8e7a98bbe0d"},
    {"heldout5", "ordinary_chat.tsv", "144a361f59a40b387faca4db0972e766d953ca9cf94137a8210ce0b2fcd199cd"},
    {"heldout5", "sentiment.tsv", "9cd0b7d6dbd930c3157830d007c32fab5808cd62b473703ba1bd1b7b771b43b1"},
    {"heldout5", "moderation.tsv", "66c0512c3c3272d60ad96e1d248bb1d1b4acdae9ffaf666144b88dc42643bd38"},
    {"heldout5", "pii.tsv", "1278e3c309031c4ce09f931da07603c0bfc5f7fff7ed88ae2a9182348fba3516"},
    {"heldout6", "spam_chat.tsv", "c1aa9ade7024efe2ab5355e38f45f4483706114895ed0aed110321b2ec5a63a2"},
    {"heldout6", "ordinary_chat.tsv", "70a48b17bbeb6f4db7c596afeaf92543855629e5d3af636b1999bd5d3ab1539e"},
    {"heldout6", "sentiment.tsv", "4fb152d65c331c742b60697124d5931291940677ef2ed53c1498998437b163ec"},
    {"heldout6", "moderation.tsv", "413d304c3d59dd296c12b33b2807ad685acf9248369a2a51fadbaba16b638e3a"},
    {"heldout6", "pii.tsv", "c3016853f967c05827c920d5c94ef1254ea8cf1551c64d8e1c5db1dbe8422b75"},
    {"heldout7", "spam_chat.tsv", "705f6b812494bd75714dcabe18883db84ca6cb37b1868ed93fac65c052b64e97"},
    {"heldout7", "ordinary_chat.tsv", "082309a934e6b77dbd37bc7ebd15c1d82e613afdf6b98690e970e58c196efa9e"},
    {"heldout7", "sentiment.tsv", "6c7456649dd5091bd41f1f748bb57f921a966998401cc243f9559f6b717b29b0"},
    {"heldout7", "moderation.tsv", "35d4e5c67e7cf491cf93526395fee56ead130d6505d6031fead6d486158b94c7"},
    {"heldout7", "pii.tsv", "dc500b5aad964b18cadd826d6efea2137466798eedc798053a2c10622f6ae11c"},
    {"heldout8", "spam_chat.tsv", "1956c0a00bb3256b744f0501e54badddcc09796c7cf71569673f68f5d229e26f"},
    {"heldout8", "ordinary_chat.tsv", "cc3afae44f0438aa51a366c8587b1a2c335fb8bb0cbd4559682c59c84e923c47"},
    {"heldout8", "sentiment.tsv", "1d90928ec00909e5f8196b218d3ed9e42dc31b6fefbeb12938823e4457f83cc6"},
    {"heldout8", "moderation.tsv", "984cbc024c1d51d3907adf9dde7f2dde1da90235f774f3740e829b04a6ceee04"},
    {"heldout8", "pii.tsv", "89fef0c5019fa3727371e1def2f34752a5324a71609b8c249b9ae990cb1cdc4e"},
    {"heldout9", "spam_chat.tsv", "e082a5f1f6c51526f5c357377b11722e3b28f55c6994ef6b4844d9d924148371"},
    {"heldout9", "ordinary_chat.tsv", "c87b4a54b422e5ce39aa8afd245c321f70b9b5e7b00ebf548e528b0e5f74993e"},
    {"heldout9", "sentiment.tsv", "85b53b1d478d937d59653c6d22139722a4cf0a23df74ef932c6812dc78159a4c"},
    {"heldout9", "moderation.tsv", "b1784dcda9c787e2f454b0149027dbe612acc4f719443255e716ae1fa9be1196"},
    {"heldout9", "pii.tsv", "9dae92d322765a2b13ef6dc3d8a4f7f8176b99d263d9c5f535a86f694997b355"},
    {"heldout10", "spam_chat.tsv", "0149c331bffee47dd2d2c2a5d82a8e9c8482cb115dde604093cac8fb616329fa"},
    {"heldout10", "ordinary_chat.tsv", "8a313c2bb174600a9055348c0ff1a2b7fbae16b22c0229ab1061bf02c61b1db6"},
    {"heldout10", "sentiment.tsv", "14e86e275ec5997352f7ec46ee15226ef0c39d899017f12dae98a386cbad830c"},
    {"heldout10", "moderation.tsv", "228fb16abdad8d08b92e1d484970e4157eec69e0fb83ea19cd9af48c553357f9"},
    {"heldout10", "pii.tsv", "365f35735e1950ffd12484bee1f3779c849aa4e6a3cdc785d7cc806460c44931"},
    {"heldout11", "spam_chat.tsv", "71ba3101b4a826f7b82f1b0a6f338998a55495249e0b1bc301cbfafefaab243b"},
    {"heldout11", "ordinary_chat.tsv", "b691a5a52c5fb824dff7fc728931ddeea0bde5736b4b80713652c02b52a24cbc"},
    {"heldout11", "sentiment.tsv", "4d0d388c966d811531bc0c6c12fadea4c6562157c18829b85b7babf2ee1c8262"},
    {"heldout11", "moderation.tsv", "5b80dadfde67d348c3949ea1797320d391dec6146c576ffe78f919edc57c78a3"},
    {"heldout11", "pii.tsv", "c95c30ff5bcffa9f8969dfa5dd3f6b1602952693e5087d8601387a66f66ccbf2"},
    {"heldout12", "spam_chat.tsv", "cedca6e445bf222d2e942549b58b1531a3c4d693c35bd6eda990d17fad115b14"},
    {"heldout12", "ordinary_chat.tsv", "a7f4960c860ea7bbac098b338a26dd831b555f48a17d93af093342d1e822337e"},
    {"heldout12", "sentiment.tsv", "c5c719bdf8483245ab09830e76d3a1aa1ca914ec01b785864d4801a3fcfef0ac"},
    {"heldout12", "moderation.tsv", "c76588fc746956649b2435fc65de3cd2ff60225a4c538c76de6cf23e69546506"},
    {"heldout12", "pii.tsv", "57a88f4a56d8a88c83354f32691d63607a463def40a8539fe631dac8a8b2961a"},
};

/* The minimums each round's sets must meet (issue 16; round 3's brief
 * asked for larger sets than the first round, round 4's for larger still:
 * 1,000 ordinary messages for the 1% false-positive limit, 300 harassment
 * and threat rows together, 130 PERSON_NAME spans; round 5's for larger
 * again: 1,050 ordinary, 180 harassment, 130 threat, 60 doxxing, 600 PII
 * records with 200 PERSON_NAME spans; round 6's: 340 spam-chat, 360
 * sentiment, 560 moderation with 190 allow and 70 doxxing, 260
 * PERSON_NAME spans; round 7's: 80 doxxing and 280 PERSON_NAME spans;
 * round 8's: 350 spam-chat, 400 sentiment, 600 moderation with 200 allow
 * and 90 doxxing, 700 PII records with 150 negatives and 400
 * PERSON_NAME spans; round 9's, round 10's, round 11's and round 12's:
 * the same as round 8's). */
struct mins {
    const char *dir;
    size_t spam, ordinary, sentiment, moderation, allow, harassment, threat, doxxing, pii_records, per_type,
        negatives, harassment_threat, person_name;
};
static const struct mins round1 = {"heldout", 220, 520, 330, 330, 120, 60, 40, 30, 0, 40, 80, 0, 0};
static const struct mins round3 = {"heldout3", 260, 600, 300, 340, 150, 60, 40, 30, 300, 40, 80, 0, 0};
static const struct mins round4 = {"heldout4", 300, 1000, 330, 360, 150, 150, 100, 40, 500, 45, 100, 300, 130};
static const struct mins round5 = {"heldout5", 320, 1050, 340, 540, 180, 180, 130, 60, 600, 50, 130, 310, 200};
static const struct mins round6 = {"heldout6", 340, 1050, 360, 560, 190, 180, 130, 70, 600, 50, 130, 310, 260};
static const struct mins round7 = {"heldout7", 340, 1050, 360, 560, 190, 180, 130, 80, 600, 50, 130, 310, 280};
static const struct mins round8 = {"heldout8", 350, 1050, 400, 600, 200, 180, 130, 90, 700, 50, 150, 310, 400};
static const struct mins round9 = {"heldout9", 350, 1050, 400, 600, 200, 180, 130, 90, 700, 50, 150, 310, 400};
static const struct mins round10 = {"heldout10", 350, 1050, 400, 600, 200, 180, 130, 90, 700, 50, 150, 310, 400};
static const struct mins round11 = {"heldout11", 350, 1050, 400, 600, 200, 180, 130, 90, 700, 50, 150, 310, 400};
static const struct mins round12 = {"heldout12", 350, 1050, 400, 600, 200, 180, 130, 90, 700, 50, 150, 310, 400};

/* One loaded file, split in place into records of TAB-separated fields. */
struct rec {
    char *f[MAX_FIELDS];
    size_t nf;
    size_t lineno;
};

struct set {
    char data[MAX_FILE + 1];
    size_t len;
    struct rec r[MAX_RECORDS];
    size_t n;
};

static struct set S; /* large: static, reused by each test */

static const char *pinned(const char *dir, const char *file)
{
    for (size_t i = 0; i < sizeof pins / sizeof pins[0]; i++)
        if (strcmp(pins[i].dir, dir) == 0 && strcmp(pins[i].file, file) == 0) return pins[i].sha256;
    return NULL;
}

/* Strict UTF-8 (no overlongs, no surrogates, at most U+10FFFF). */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        unsigned min, cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1, min = 0x80, cp = c & 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, min = 0x800, cp = c & 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, min = 0x10000, cp = c & 0x07;
        } else {
            return 0;
        }
        for (size_t j = 1; j <= k; j++) {
            if (i + j >= n || (s[i + j] & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (s[i + j] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += k + 1;
    }
    return 1;
}

/* Read tests/data/<dir>/<file>, check its pin and its bytes, split it. */
static void load(const char *dir, const char *file)
{
    const char *src = getenv("ZT_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/%s/%s", src ? src : ".", dir, file);
    FILE *fp = fopen(path, "rb");
    if (!fp) print_error("cannot open %s\n", path);
    assert_non_null(fp);
    S.len = fread(S.data, 1, MAX_FILE + 1, fp);
    assert_int_equal(ferror(fp), 0);
    fclose(fp);
    assert_true(S.len > 0 && S.len <= MAX_FILE);
    S.data[S.len] = '\0';

    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[2 * crypto_hash_sha256_BYTES + 1];
    assert_int_equal(crypto_hash_sha256(h, (const unsigned char *)S.data, S.len), 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    const char *want = pinned(dir, file);
    assert_non_null(want);
    if (strcmp(hex, want) != 0)
        print_error("%s/%s: sha256 %s, pinned %s: a held-out set must never be edited; "
                    "a new version is a new file with a new pin\n",
                    dir, file, hex, want);
    assert_string_equal(hex, want);

    assert_true(utf8_ok((const unsigned char *)S.data, S.len));
    assert_null(memchr(S.data, '\r', S.len));
    assert_null(memchr(S.data, '\0', S.len));
    assert_int_equal(S.data[S.len - 1], '\n');

    S.n = 0;
    size_t lineno = 0;
    char *p = S.data, *end = S.data + S.len;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        *nl = '\0';
        lineno++;
        if (p[0] != '#') {
            if (p[0] == '\0') print_error("%s:%zu: empty line\n", file, lineno);
            assert_true(p[0] != '\0');
            assert_true(S.n < MAX_RECORDS);
            struct rec *r = &S.r[S.n++];
            r->nf = 0;
            r->lineno = lineno;
            char *q = p;
            for (;;) {
                assert_true(r->nf < MAX_FIELDS);
                r->f[r->nf++] = q;
                char *tab = strchr(q, '\t');
                if (!tab) break;
                *tab = '\0';
                q = tab + 1;
            }
            for (size_t i = 0; i < r->nf; i++) {
                size_t fl = strlen(r->f[i]);
                /* no empty field, no field padded with spaces */
                if (fl == 0 || r->f[i][0] == ' ' || r->f[i][fl - 1] == ' ')
                    print_error("%s:%zu: field %zu empty or padded\n", file, lineno, i + 1);
                assert_true(fl > 0 && r->f[i][0] != ' ' && r->f[i][fl - 1] != ' ');
            }
        }
        p = nl + 1;
    }
}

/* The text field (index ti) is unique within the file. */
static void assert_unique_texts(const char *file, size_t ti)
{
    for (size_t i = 0; i < S.n; i++)
        for (size_t j = i + 1; j < S.n; j++)
            if (strcmp(S.r[i].f[ti], S.r[j].f[ti]) == 0) {
                print_error("%s:%zu and %zu: same text\n", file, S.r[i].lineno, S.r[j].lineno);
                fail();
            }
}

static size_t label_index(const char *file, const struct rec *r, size_t fi, const char *const *labels,
                          size_t nlabels)
{
    for (size_t i = 0; i < nlabels; i++)
        if (strcmp(r->f[fi], labels[i]) == 0) return i;
    print_error("%s:%zu: unknown label '%s'\n", file, r->lineno, r->f[fi]);
    fail();
    return 0;
}

/* LABEL<TAB>TEXT files: count the labels. */
static void count_two_column(const char *dir, const char *file, const char *const *labels, size_t nlabels,
                             size_t *counts)
{
    load(dir, file);
    memset(counts, 0, nlabels * sizeof counts[0]);
    for (size_t i = 0; i < S.n; i++) {
        if (S.r[i].nf != 2) print_error("%s:%zu: %zu fields, want 2\n", file, S.r[i].lineno, S.r[i].nf);
        assert_int_equal(S.r[i].nf, 2);
        counts[label_index(file, &S.r[i], 0, labels, nlabels)]++;
    }
    assert_unique_texts(file, 1);
}

static void check_spam_chat(const struct mins *m)
{
    static const char *const labels[] = {"spam", "ham"};
    size_t c[2];
    count_two_column(m->dir, "spam_chat.tsv", labels, 2, c);
    print_message("%s/spam_chat.tsv: %zu records, spam %zu, ham %zu\n", m->dir, S.n, c[0], c[1]);
    assert_true(S.n >= m->spam);
    /* about half spam: each label 40..60% */
    assert_true(c[0] * 10 >= S.n * 4 && c[1] * 10 >= S.n * 4);
}

static void check_ordinary_chat(const struct mins *m)
{
    static const char *const labels[] = {"ham"};
    size_t c[1];
    count_two_column(m->dir, "ordinary_chat.tsv", labels, 1, c);
    print_message("%s/ordinary_chat.tsv: %zu records, all ham\n", m->dir, S.n);
    assert_true(S.n >= m->ordinary);
}

static void check_sentiment(const struct mins *m)
{
    static const char *const labels[] = {"positive", "negative", "neutral"};
    size_t c[3];
    count_two_column(m->dir, "sentiment.tsv", labels, 3, c);
    print_message("%s/sentiment.tsv: %zu records, positive %zu, negative %zu, neutral %zu\n", m->dir, S.n,
                  c[0], c[1], c[2]);
    assert_true(S.n >= m->sentiment);
    /* roughly balanced: each class at least 30% */
    for (size_t i = 0; i < 3; i++) assert_true(c[i] * 10 >= S.n * 3);
}

static void check_moderation(const struct mins *m)
{
    static const char *const labels[] = {"flag", "allow"};
    static const char *const cats[] = {"harassment", "threat", "doxxing", "none"};
    const char *file = "moderation.tsv";
    size_t c[4] = {0};
    load(m->dir, file);
    for (size_t i = 0; i < S.n; i++) {
        const struct rec *r = &S.r[i];
        if (r->nf != 3) print_error("%s:%zu: %zu fields, want 3\n", file, r->lineno, r->nf);
        assert_int_equal(r->nf, 3);
        size_t l = label_index(file, r, 0, labels, 2);
        size_t k = label_index(file, r, 1, cats, 4);
        /* flag goes with a category, allow with none */
        if ((l == 0) != (k != 3)) print_error("%s:%zu: %s with %s\n", file, r->lineno, r->f[0], r->f[1]);
        assert_true((l == 0) == (k != 3));
        c[k]++;
    }
    assert_unique_texts(file, 2);
    print_message("%s/%s: %zu records, harassment %zu, threat %zu, doxxing %zu, allow %zu\n", m->dir, file,
                  S.n, c[0], c[1], c[2], c[3]);
    assert_true(S.n >= m->moderation);
    assert_true(c[3] >= m->allow);
    assert_true(c[0] >= m->harassment && c[1] >= m->threat && c[2] >= m->doxxing);
    assert_true(c[0] + c[1] >= m->harassment_threat);
}

/* ---- PII rules ---------------------------------------------------------- */

enum { T_PHONE, T_EMAIL, T_US_SSN, T_UK_NINO, T_IBAN, T_CARD, T_ADDRESS, T_PERSON_NAME, T_N };
static const char *const pii_types[T_N] = {"PHONE", "EMAIL",   "US_SSN",  "UK_NINO",
                                           "IBAN",  "CARD",    "ADDRESS", "PERSON_NAME"};

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

/* Copy s without the characters in drop into out (at most cap-1). */
static size_t compact(const char *s, const char *drop, char *out, size_t cap)
{
    size_t n = 0;
    for (; *s; s++) {
        if (strchr(drop, *s)) continue;
        if (n + 1 >= cap) return 0;
        out[n++] = *s;
    }
    out[n] = '\0';
    return n;
}

static int num_of(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) v = v * 10 + (s[i] - '0');
    return v;
}

/* ddd-dd-dddd or ddd dd dddd, area 001-899 but not 666, group 01-99,
 * serial 0001-9999. shaped is set when the form (not the range) fits. */
static int ssn_ok(const char *s, size_t n, int *shaped)
{
    *shaped = 0;
    if (n != 11 || (s[3] != '-' && s[3] != ' ') || s[6] != s[3]) return 0;
    for (size_t i = 0; i < 11; i++)
        if (i != 3 && i != 6 && !is_digit(s[i])) return 0;
    *shaped = 1;
    int area = num_of(s, 3), group = num_of(s + 4, 2), serial = num_of(s + 7, 4);
    return area >= 1 && area <= 899 && area != 666 && group >= 1 && serial >= 1;
}

/* Two prefix letters (first not D F I Q U V, second not D F I O Q U V,
 * not BG GB KN NK NT TN ZZ), six digits, suffix A-D; spaces ignored. */
static int nino_ok(const char *s)
{
    char c[16];
    if (compact(s, " ", c, sizeof c) != 9) return 0;
    static const char *const bad[] = {"BG", "GB", "KN", "NK", "NT", "TN", "ZZ"};
    if (!is_upper(c[0]) || !is_upper(c[1]) || strchr("DFIQUV", c[0]) || strchr("DFIOQUV", c[1])) return 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (c[0] == bad[i][0] && c[1] == bad[i][1]) return 0;
    for (size_t i = 2; i < 8; i++)
        if (!is_digit(c[i])) return 0;
    return c[8] >= 'A' && c[8] <= 'D';
}

/* ISO 13616: country letters, two check digits, alphanumeric BBAN; the
 * rearranged number is 1 mod 97. Spaces ignored. */
static int iban_ok(const char *s)
{
    char c[64];
    size_t n = compact(s, " ", c, sizeof c);
    if (n < 15 || n > 34 || !is_upper(c[0]) || !is_upper(c[1]) || !is_digit(c[2]) || !is_digit(c[3]))
        return 0;
    unsigned rem = 0;
    for (size_t k = 0; k < n; k++) {
        char ch = c[(k + 4) % n];
        if (is_digit(ch))
            rem = (rem * 10 + (unsigned)(ch - '0')) % 97;
        else if (is_upper(ch))
            rem = (rem * 100 + (unsigned)(ch - 'A' + 10)) % 97;
        else
            return 0;
    }
    return rem == 1;
}

/* 13-19 digits, spaces or dashes between groups, Luhn. */
static int card_ok(const char *s)
{
    char c[32];
    for (const char *p = s; *p; p++)
        if (!is_digit(*p) && *p != ' ' && *p != '-') return 0;
    size_t n = compact(s, " -", c, sizeof c);
    if (n < 13 || n > 19) return 0;
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(c[n - 1 - i] - '0');
        if (i % 2 == 1) {
            d *= 2;
            if (d > 9) d -= 9;
        }
        sum += d;
    }
    return sum % 10 == 0;
}

static void check_pii(const struct mins *m)
{
    const char *file = "pii.tsv";
    size_t per_type[T_N] = {0}, negatives = 0;
    load(m->dir, file);
    for (size_t i = 0; i < S.n; i++) {
        const struct rec *r = &S.r[i];
        const char *text = r->f[0];
        if (r->nf < 2) print_error("%s:%zu: no SPANS field\n", file, r->lineno);
        assert_true(r->nf >= 2);
        if (strcmp(r->f[1], "-") == 0) {
            assert_int_equal(r->nf, 2);
            negatives++;
            /* an SSN-shaped number in a negative is out of range */
            size_t tl = strlen(text);
            for (size_t k = 0; k + 11 <= tl; k++) {
                if ((k > 0 && is_digit(text[k - 1])) || (k + 11 < tl && is_digit(text[k + 11]))) continue;
                int shaped;
                int ok = ssn_ok(text + k, 11, &shaped);
                if (ok) print_error("%s:%zu: valid SSN in a negative\n", file, r->lineno);
                assert_false(ok);
            }
            continue;
        }
        size_t st[MAX_FIELDS], en[MAX_FIELDS];
        for (size_t j = 1; j < r->nf; j++) {
            const char *span = r->f[j];
            const char *colon = strchr(span, ':');
            if (!colon) print_error("%s:%zu: span '%s' is not TYPE:SUBSTRING\n", file, r->lineno, span);
            assert_non_null(colon);
            size_t tn = (size_t)(colon - span), t;
            for (t = 0; t < T_N; t++)
                if (strlen(pii_types[t]) == tn && strncmp(span, pii_types[t], tn) == 0) break;
            if (t == T_N) print_error("%s:%zu: unknown type in '%s'\n", file, r->lineno, span);
            assert_true(t < T_N);
            const char *sub = colon + 1;
            assert_true(sub[0] != '\0');
            const char *at = strstr(text, sub);
            if (!at) print_error("%s:%zu: '%s' not in the text\n", file, r->lineno, sub);
            assert_non_null(at);
            st[j] = (size_t)(at - text);
            en[j] = st[j] + strlen(sub);
            for (size_t k = 1; k < j; k++)
                if (st[j] < en[k] && st[k] < en[j]) {
                    print_error("%s:%zu: spans overlap\n", file, r->lineno);
                    fail();
                }
            int ok = 1, shaped;
            switch (t) {
            case T_US_SSN: ok = ssn_ok(sub, strlen(sub), &shaped); break;
            case T_UK_NINO: ok = nino_ok(sub); break;
            case T_IBAN: ok = iban_ok(sub); break;
            case T_CARD: ok = card_ok(sub); break;
            case T_EMAIL: ok = strchr(sub, '@') != NULL; break;
            default: break;
            }
            if (!ok) print_error("%s:%zu: %s '%s' fails its rule\n", file, r->lineno, pii_types[t], sub);
            assert_true(ok);
            per_type[t]++;
        }
    }
    assert_unique_texts(file, 0);
    print_message("%s/%s: %zu records, %zu negatives\n", m->dir, file, S.n, negatives);
    assert_true(S.n >= m->pii_records);
    for (size_t t = 0; t < T_N; t++) {
        print_message("  %-12s %zu spans\n", pii_types[t], per_type[t]);
        assert_true(per_type[t] >= m->per_type);
    }
    assert_true(per_type[T_PERSON_NAME] >= m->person_name);
    assert_true(negatives >= m->negatives);
}

/* One cmocka test per file and round. */
#define ROUND_TESTS(r)                                                                                           \
    static void test_spam_chat_##r(void **state)                                                                 \
    {                                                                                                            \
        (void)state;                                                                                             \
        check_spam_chat(&r);                                                                                     \
    }                                                                                                            \
    static void test_ordinary_chat_##r(void **state)                                                             \
    {                                                                                                            \
        (void)state;                                                                                             \
        check_ordinary_chat(&r);                                                                                 \
    }                                                                                                            \
    static void test_sentiment_##r(void **state)                                                                 \
    {                                                                                                            \
        (void)state;                                                                                             \
        check_sentiment(&r);                                                                                     \
    }                                                                                                            \
    static void test_moderation_##r(void **state)                                                                \
    {                                                                                                            \
        (void)state;                                                                                             \
        check_moderation(&r);                                                                                    \
    }                                                                                                            \
    static void test_pii_##r(void **state)                                                                       \
    {                                                                                                            \
        (void)state;                                                                                             \
        check_pii(&r);                                                                                           \
    }
ROUND_TESTS(round1)
ROUND_TESTS(round3)
ROUND_TESTS(round4)
ROUND_TESTS(round5)
ROUND_TESTS(round6)
ROUND_TESTS(round7)
ROUND_TESTS(round8)
ROUND_TESTS(round9)
ROUND_TESTS(round10)
ROUND_TESTS(round11)
ROUND_TESTS(round12)

/* The rules themselves, on known values. */
static void test_pii_rules(void **state)
{
    (void)state;
    int shaped;
    assert_true(iban_ok("GB82 WEST 1234 5698 7654 32"));
    assert_true(iban_ok("DE89370400440532013000"));
    assert_false(iban_ok("GB00 WEST 1234 5698 7654 32"));
    assert_false(iban_ok("DE89370400440532013001"));
    assert_true(card_ok("4111 1111 1111 1111"));
    assert_true(card_ok("3782-822463-10005"));
    assert_false(card_ok("4111 1111 1111 1112"));
    assert_false(card_ok("4111"));
    assert_true(ssn_ok("219-09-9999", 11, &shaped));
    assert_false(ssn_ok("000-12-3456", 11, &shaped));
    assert_true(shaped);
    assert_false(ssn_ok("666-12-3456", 11, &shaped));
    assert_false(ssn_ok("912-70-1234", 11, &shaped));
    assert_false(ssn_ok("123-00-4567", 11, &shaped));
    assert_false(ssn_ok("521-44-0000", 11, &shaped));
    assert_false(ssn_ok("12-345-6789", 11, &shaped));
    assert_false(shaped);
    assert_true(nino_ok("AB 12 34 56 C"));
    assert_true(nino_ok("JG103759A"));
    assert_false(nino_ok("QQ 12 34 56 C"));
    assert_false(nino_ok("GB123456A"));
    assert_false(nino_ok("AB123456E"));
    assert_true(utf8_ok((const unsigned char *)"caf\xc3\xa9 \xf0\x9f\x98\x82", 10));
    assert_false(utf8_ok((const unsigned char *)"\xc0\xaf", 2));
    assert_false(utf8_ok((const unsigned char *)"\xed\xa0\x80", 3));
    assert_false(utf8_ok((const unsigned char *)"\xe2\x82", 2));
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pii_rules),          cmocka_unit_test(test_spam_chat_round1),
        cmocka_unit_test(test_ordinary_chat_round1), cmocka_unit_test(test_sentiment_round1),
        cmocka_unit_test(test_moderation_round1),  cmocka_unit_test(test_pii_round1),
        cmocka_unit_test(test_spam_chat_round3),   cmocka_unit_test(test_ordinary_chat_round3),
        cmocka_unit_test(test_sentiment_round3),   cmocka_unit_test(test_moderation_round3),
        cmocka_unit_test(test_pii_round3),         cmocka_unit_test(test_spam_chat_round4),
        cmocka_unit_test(test_ordinary_chat_round4), cmocka_unit_test(test_sentiment_round4),
        cmocka_unit_test(test_moderation_round4),  cmocka_unit_test(test_pii_round4),
        cmocka_unit_test(test_spam_chat_round5),   cmocka_unit_test(test_ordinary_chat_round5),
        cmocka_unit_test(test_sentiment_round5),   cmocka_unit_test(test_moderation_round5),
        cmocka_unit_test(test_pii_round5),
        cmocka_unit_test(test_spam_chat_round6),   cmocka_unit_test(test_ordinary_chat_round6),
        cmocka_unit_test(test_sentiment_round6),   cmocka_unit_test(test_moderation_round6),
        cmocka_unit_test(test_pii_round6),
        cmocka_unit_test(test_spam_chat_round7),   cmocka_unit_test(test_ordinary_chat_round7),
        cmocka_unit_test(test_sentiment_round7),   cmocka_unit_test(test_moderation_round7),
        cmocka_unit_test(test_pii_round7),
        cmocka_unit_test(test_spam_chat_round8),   cmocka_unit_test(test_ordinary_chat_round8),
        cmocka_unit_test(test_sentiment_round8),   cmocka_unit_test(test_moderation_round8),
        cmocka_unit_test(test_pii_round8),
        cmocka_unit_test(test_spam_chat_round9),   cmocka_unit_test(test_ordinary_chat_round9),
        cmocka_unit_test(test_sentiment_round9),   cmocka_unit_test(test_moderation_round9),
        cmocka_unit_test(test_pii_round9),
        cmocka_unit_test(test_spam_chat_round10),  cmocka_unit_test(test_ordinary_chat_round10),
        cmocka_unit_test(test_sentiment_round10),  cmocka_unit_test(test_moderation_round10),
        cmocka_unit_test(test_pii_round10),
        cmocka_unit_test(test_spam_chat_round11),  cmocka_unit_test(test_ordinary_chat_round11),
        cmocka_unit_test(test_sentiment_round11),  cmocka_unit_test(test_moderation_round11),
        cmocka_unit_test(test_pii_round11),
        cmocka_unit_test(test_spam_chat_round12),  cmocka_unit_test(test_ordinary_chat_round12),
        cmocka_unit_test(test_sentiment_round12),  cmocka_unit_test(test_moderation_round12),
        cmocka_unit_test(test_pii_round12),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
