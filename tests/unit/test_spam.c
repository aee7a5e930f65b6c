/* test_spam.c: spam features, the e-mail cleaner, the asset payload parser,
 * deterministic training on a small corpus, and (when data/assets/spam.zta
 * is installed) the shipped model on the held-out figures it records and on
 * the chat-style messages of tests/data/spam_chat.tsv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/features/spam_internal.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_spam.h"
#include "zt_test.h"

/* measured F1 of the shipped model on tests/data/spam_chat.tsv, minus a margin (docs/features/spam.md) */
#define ZT_TEST_CHAT_F1_FLOOR 0.80

/* ---- features ------------------------------------------------------------ */

struct names {
    char v[512][80];
    size_t n;
};

static void collect(const char *kind, const char *name, void *ud)
{
    struct names *s = ud;
    if (s->n < 512) snprintf(s->v[s->n++], sizeof s->v[0], "%s:%s", kind, name);
}

static int has(const struct names *s, const char *f)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], f) == 0) return 1;
    return 0;
}

static long feats(const char *text, struct names *s)
{
    memset(s, 0, sizeof *s);
    return zt_spam_features(text, strlen(text), collect, s);
}

static void test_features(void **state)
{
    (void)state;
    struct names *s = zt_malloc(sizeof *s);
    assert_non_null(s);
    long n = feats("WIN a FREE prize!!! Visit http://bit.ly/abc now, only $5", s);
    assert_true(n > 0);
    assert_int_equal((size_t)n, s->n);
    assert_true(has(s, "word:free"));
    assert_true(has(s, "word:win"));
    assert_true(has(s, "bigram:a free"));
    assert_true(has(s, "bigram:visit <url>"));
    assert_true(has(s, "chars:<fr"));
    assert_true(has(s, "chars:free>"));
    assert_true(has(s, "chars:<free"));
    assert_true(has(s, "domain:bit.ly"));
    assert_true(has(s, "cue:urls=1"));
    assert_true(has(s, "cue:shortener"));
    assert_true(has(s, "cue:money"));
    assert_true(has(s, "cue:exclaim_run"));
    assert_true(has(s, "cue:caps=mid"));
    assert_false(has(s, "cue:phone"));
    assert_false(has(s, "cue:exclaim"));
    /* distinct: a repeated word counts once */
    n = feats("ok ok ok", s);
    size_t words = 0;
    for (size_t i = 0; i < s->n; i++) words += strncmp(s->v[i], "word:", 5) == 0;
    assert_int_equal(words, 1);
    assert_true(has(s, "bigram:ok ok"));
    /* phones, caps, money after the number, bare shortener */
    feats("CALL NOW +44 20 7946 0958 for 20 EUR, see tinyurl.com/x", s);
    assert_true(has(s, "cue:phone"));
    assert_true(has(s, "cue:money"));
    assert_true(has(s, "cue:shortener"));
    assert_true(has(s, "cue:caps=mid") || has(s, "cue:caps=high"));
    feats("THIS IS ALL CAPS", s);
    assert_true(has(s, "cue:caps=high"));
    feats("see you at 5", s);
    assert_false(has(s, "cue:phone"));
    assert_true(has(s, "cue:number"));
    assert_false(has(s, "cue:money"));
    /* punctuation breaks bigrams */
    feats("hello, world", s);
    assert_false(has(s, "bigram:hello world"));
    /* invalid UTF-8 */
    assert_int_equal(zt_spam_features("a\xff", 2, collect, s), ZT_EPARSE);
    /* empty text: no features */
    assert_int_equal(feats("", s), 0);
    zt_free(s);
}

/* ---- e-mail text ---------------------------------------------------------- */

static void expect_email(const char *raw, const char *want)
{
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(zt_spam_email_text(raw, strlen(raw), 4096, &out, &n), 0);
    assert_string_equal(out, want);
    assert_int_equal(n, strlen(want));
    zt_free(out);
}

static void test_email_text(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    expect_email("From: a@b\nSubject: Hello there\nX-Y: z\n\nBody  line\none\n", "Hello there Body line one");
    /* quoted-printable with a soft break and an escaped byte (Latin-1 0xE9) */
    expect_email("Subject: x\nContent-Transfer-Encoding: quoted-printable\n\ncaf=E9 au=\nlait =3D ok\n",
                 "x caf\xc3\xa9 aulait = ok");
    /* HTML: tags, script, entities */
    expect_email("Subject: s\n\n<html><script>var a=1;</script><p>Buy&nbsp;now &amp; save&#33;</p></html>",
                 "s Buy now & save!");
    /* MIME: boundary, part headers, base64 part and attachment dropped */
    expect_email("Subject: m\nContent-Type: multipart/alternative; boundary=\"XX\"\n\n"
                 "--XX\nContent-Type: text/plain\n\nplain part\n"
                 "--XX\nContent-Type: image/gif\nContent-Transfer-Encoding: base64\n\n"
                 "R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7R0lGODlh\n"
                 "--XX--\n",
                 "m plain part");
    /* no header block: everything is body; cut at a code point */
    char *out = NULL;
    size_t n = 0;
    assert_int_equal(zt_spam_email_text("h\xc3\xa9llo", 6, 2, &out, &n), 0);
    assert_string_equal(out, "h");
    zt_free(out);
    assert_int_equal(zt_alloc_live(), live);
}

/* ---- payload parser -------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void putf64(uint8_t *p, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    put32(p, (uint32_t)v);
    put32(p + 4, (uint32_t)(v >> 32));
}

static uint8_t *payload(uint32_t log2, float w, double bias, size_t *len)
{
    size_t nb = (size_t)1 << log2;
    *len = ZT__SPAM_PAYLOAD_HEADER + 4 * nb;
    uint8_t *p = zt_calloc(1, *len);
    assert_non_null(p);
    put32(p, log2);
    put32(p + 4, 1);
    putf64(p + 8, 0.1);
    put32(p + 32, 5);
    putf64(p + 56, 0.5);
    putf64(p + 88, bias);
    uint32_t wb;
    memcpy(&wb, &w, sizeof wb);
    for (size_t i = 0; i < nb; i++) put32(p + ZT__SPAM_PAYLOAD_HEADER + 4 * i, wb);
    return p;
}

static void test_model_parse(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    size_t len;
    uint8_t *p = payload(8, 0.25f, -1.0, &len);
    struct zt_spam_model *m = NULL;
    assert_int_equal(zt_spam_model_parse(p, len, &m), 0);
    /* every weight 0.25: logit = -1 + sqrt(n) * 0.25 */
    struct zt_spam_result r;
    assert_int_equal(zt_spam_classify_model(m, "hello world", 11, 0.5, 3, &r), 0);
    double z = -1.0 + sqrt((double)r.n_features) * 0.25;
    assert_true(fabs(r.probability - 1.0 / (1.0 + exp(-z))) < 1e-9);
    assert_int_equal(r.spam, r.probability >= 0.5);
    assert_int_equal(r.n_top, 3);
    assert_true(fabs(r.top[0].weight - 0.25 / sqrt((double)r.n_features)) < 1e-9);
    struct zt_spam_info info;
    zt_spam_model_info(m, &info);
    assert_int_equal(info.buckets_log2, 8);
    assert_int_equal(info.holdout_mod, 5);
    zt_spam_free(m);
    zt_spam_free(NULL);
    /* malformed payloads are refused */
    m = NULL;
    assert_int_equal(zt_spam_model_parse(p, len - 1, &m), ZT_EPARSE);
    assert_int_equal(zt_spam_model_parse(p, 10, &m), ZT_EPARSE);
    assert_int_equal(zt_spam_model_parse(NULL, 0, &m), ZT_EPARSE);
    put32(p, 40);
    assert_int_equal(zt_spam_model_parse(p, len, &m), ZT_EPARSE);
    put32(p, 8);
    put32(p + ZT__SPAM_PAYLOAD_HEADER + 12, 0x7fc00000u); /* NaN weight */
    assert_int_equal(zt_spam_model_parse(p, len, &m), ZT_EPARSE);
    put32(p + ZT__SPAM_PAYLOAD_HEADER + 12, 0);
    putf64(p + 72, 1.5); /* F1 out of [0,1] */
    assert_int_equal(zt_spam_model_parse(p, len, &m), ZT_EPARSE);
    putf64(p + 72, 0.5);
    put32(p + 32, 0); /* holdout_mod */
    assert_int_equal(zt_spam_model_parse(p, len, &m), ZT_EPARSE);
    assert_null(m);
    zt_free(p);
    /* a missing file and a wrong kind */
    assert_int_equal(zt_spam_load("/nonexistent/spam.zta", &m), ZT_ENOTFOUND);
    char path[] = "/tmp/zt_spam_kindXXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    uint8_t sha[32] = {0};
    assert_int_equal(zt_asset_write(path, "other", 1, sha, "x", 1), 0);
    assert_int_not_equal(zt_spam_load(path, &m), 0);
    unlink(path);
    assert_int_equal(zt_alloc_live(), live);
}

/* ---- training -------------------------------------------------------------- */

static void write_msg(const char *dir, const char *group, int i, const char *text)
{
    char d[512], p[600];
    snprintf(d, sizeof d, "%s/%s", dir, group);
    mkdir(d, 0700);
    snprintf(p, sizeof p, "%s/%05d.x.json", d, i);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fprintf(f, "{\"id\":\"%05d\",\"group\":\"%s\",\"text\":\"Subject: s%d\\n\\n%s\"}", i, group, i, text);
    fclose(f);
}

static int slurp(const char *path, uint8_t **out, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uint8_t *b = zt_malloc(1u << 24);
    *n = fread(b, 1, 1u << 24, f);
    fclose(f);
    *out = b;
    return 0;
}

static void rm_corpus(const char *dir)
{
    const char *groups[] = {"spam-1", "easy-ham-1"};
    for (int g = 0; g < 2; g++)
        for (int i = 0; i < 200; i++) {
            char p[600];
            snprintf(p, sizeof p, "%s/%s/%05d.x.json", dir, groups[g], i);
            unlink(p);
        }
    for (int g = 0; g < 2; g++) {
        char p[600];
        snprintf(p, sizeof p, "%s/%s", dir, groups[g]);
        rmdir(p);
    }
    rmdir(dir);
}

static void test_train(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    char dir[] = "/tmp/zt_spam_corpusXXXXXX";
    assert_non_null(mkdtemp(dir));
    static const char *const spamw[] = {"free", "winner", "cash", "prize", "click", "offer", "viagra", "loan"};
    static const char *const hamw[] = {"meeting", "patch", "kernel", "lunch", "review", "build", "thanks", "release"};
    for (int i = 0; i < 120; i++) {
        char t[256];
        snprintf(t, sizeof t, "%s %s now %s for you %d", spamw[i % 8], spamw[(i * 3 + 1) % 8], spamw[(i * 5 + 2) % 8], i);
        write_msg(dir, "spam-1", i, t);
        snprintf(t, sizeof t, "the %s and the %s went %s today %d", hamw[i % 8], hamw[(i * 3 + 1) % 8], hamw[(i * 5 + 2) % 8], i);
        write_msg(dir, "easy-ham-1", i, t);
    }
    char a[600], b[600];
    snprintf(a, sizeof a, "%s/a.zta", dir);
    snprintf(b, sizeof b, "%s/b.zta", dir);
    struct zt_spam_train_opts o = {.corpus_dir = dir, .buckets_log2 = 12, .epochs = 3};
    struct zt_spam_info ia, ib;
    assert_int_equal(zt_spam_train(&o, a, &ia), 0);
    assert_int_equal(zt_spam_train(&o, b, &ib), 0);
    assert_int_equal(ia.n_train + ia.n_test, 240);
    assert_int_equal(ia.buckets_log2, 12);
    assert_true(ia.n_test > 20);
    assert_true(ia.f1 > 0.95);
    assert_memory_equal(ia.data_sha256, ib.data_sha256, 32);
    /* deterministic: the same data gives the same file */
    uint8_t *fa, *fb;
    size_t na, nb;
    assert_int_equal(slurp(a, &fa, &na), 0);
    assert_int_equal(slurp(b, &fb, &nb), 0);
    assert_int_equal(na, nb);
    assert_memory_equal(fa, fb, na);
    zt_free(fa);
    zt_free(fb);
    struct zt_spam_model *m = NULL;
    assert_int_equal(zt_spam_load(a, &m), 0);
    struct zt_spam_info li;
    zt_spam_model_info(m, &li);
    assert_memory_equal(li.data_sha256, ia.data_sha256, 32);
    struct zt_spam_result r;
    const char *sp = "free cash prize, click now";
    assert_int_equal(zt_spam_classify_model(m, sp, strlen(sp), 0.5, 4, &r), 0);
    assert_true(r.spam);
    assert_int_equal(r.n_top, 4);
    assert_true(r.top[0].weight > 0);
    const char *hm = "the kernel build review went fine";
    assert_int_equal(zt_spam_classify_model(m, hm, strlen(hm), 0.5, 4, &r), 0);
    assert_false(r.spam);
    zt_spam_free(m);
    /* a malformed corpus file is an error, not a crash */
    char bad[600];
    snprintf(bad, sizeof bad, "%s/spam-1/00199.x.json", dir);
    FILE *f = fopen(bad, "w");
    fputs("{\"group\": 3}", f);
    fclose(f);
    assert_int_equal(zt_spam_train(&o, a, NULL), ZT_EPARSE);
    o.corpus_dir = "/nonexistent/corpus";
    assert_int_equal(zt_spam_train(&o, a, NULL), ZT_ENOTFOUND);
    unlink(a);
    unlink(b);
    rm_corpus(dir);
    assert_int_equal(zt_alloc_live(), live);
}

/* ---- the shipped model ----------------------------------------------------- */

static struct zt_spam_model *shipped(void)
{
    char path[4096];
    if (zt_asset_path("data", "spam.zta", path, sizeof path) != 0) return NULL;
    struct zt_spam_model *m = NULL;
    if (zt_spam_load(path, &m) != 0) {
        zt_skip_part("%s not installed (run `make data`)", path);
        return NULL;
    }
    return m;
}

static void test_shipped_model(void **state)
{
    (void)state;
    struct zt_spam_model *m = shipped();
    if (!m) skip();
    struct zt_spam_info in;
    zt_spam_model_info(m, &in);
    printf("held out: %u messages, precision %.4f recall %.4f F1 %.4f accuracy %.4f\n", in.n_test,
           in.precision, in.recall, in.f1, in.accuracy);
    assert_true(in.n_test > 1000);
    assert_true(in.f1 > 0.95);
    /* the chat-style set */
    const char *src = getenv("ZT_SOURCE_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/spam_chat.tsv", src ? src : ".");
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[2048];
    size_t tp = 0, fp = 0, fn = 0, tn = 0, tp8 = 0, fp8 = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        char *tab = strchr(line, '\t');
        assert_non_null(tab);
        *tab = '\0';
        char *text = tab + 1;
        text[strcspn(text, "\n")] = '\0';
        int want = strcmp(line, "spam") == 0;
        struct zt_spam_result r;
        assert_int_equal(zt_spam_classify(m, text, strlen(text), 0.5, 0, &r), 0);
        int got = r.probability >= 0.5;
        tp8 += want && r.probability >= 0.8;
        fp8 += !want && r.probability >= 0.8;
        if (got && want) tp++;
        else if (got) fp++;
        else if (want) fn++;
        else tn++;
    }
    fclose(f);
    double p = tp + fp ? (double)tp / (double)(tp + fp) : 0, rc = tp + fn ? (double)tp / (double)(tp + fn) : 0;
    double f1 = p + rc > 0 ? 2 * p * rc / (p + rc) : 0;
    printf("chat set: %zu messages, precision %.4f recall %.4f F1 %.4f (tp %zu fp %zu fn %zu tn %zu)\n",
           tp + fp + fn + tn, p, rc, f1, tp, fp, fn, tn);
    double p8 = tp8 + fp8 ? (double)tp8 / (double)(tp8 + fp8) : 0, r8 = (double)tp8 / (double)(tp + fn);
    printf("chat set at threshold 0.8: precision %.4f recall %.4f F1 %.4f\n", p8, r8,
           p8 + r8 > 0 ? 2 * p8 * r8 / (p8 + r8) : 0);
    assert_int_equal(tp + fp + fn + tn, 71);
    assert_true(f1 >= ZT_TEST_CHAT_F1_FLOOR);
    /* explanations are words, not hash ids */
    const char *s = "Congratulations, you won a free prize! Claim your cash now";
    struct zt_spam_result r;
    assert_int_equal(zt_spam_classify(m, s, strlen(s), 0.8, 5, &r), 0);
    assert_int_equal(r.n_top, 5);
    for (size_t i = 0; i < r.n_top; i++) {
        assert_true(strlen(r.top[i].name) > 0);
        assert_true(i == 0 || fabs(r.top[i].weight) <= fabs(r.top[i - 1].weight));
    }
    zt_spam_free(m);
}

/* ---- chat-scam cues (issue 16) ---------------------------------------------- */

static int cue(const char *text, const char *name)
{
    struct zt__spam_cue v[ZT_SPAM_TOP_MAX];
    size_t n = 0;
    (void)zt__spam_chat_cues(text, strlen(text), v, ZT_SPAM_TOP_MAX, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].name, name) == 0) return 1;
    return 0;
}

static void test_chat_cues(void **state)
{
    (void)state;
    /* links: shortener, IP literal, punycode, cheap TLD, look-alike host, scam words in a host */
    assert_true(cue("see bit.ly/3kP9xQz", "link_shortener"));
    assert_true(cue("login at http://185.23.44.12/verify", "link_ip_literal"));
    assert_false(cue("the server is 192.168.1.20", "link_ip_literal"));
    assert_true(cue("https://xn--pypal-4ve.com/login", "link_punycode"));
    assert_true(cue("Claim now at http://usdt-bonus.xyz", "link_cheap_tld"));
    assert_true(cue("go to paypa1-secure.com", "link_lookalike"));
    assert_true(cue("https://chase.account-verify.ru", "link_lookalike"));
    assert_false(cue("https://www.paypal.com/myaccount", "link_lookalike"));
    assert_false(cue("https://www.amazon.co.uk/dp/B0C1234567", "link_lookalike"));
    assert_false(cue("see report.pdf and e.g. 3.95", "link"));
    /* round 6: safe accounts, changed payee details, sextortion */
    assert_true(cue("Your funds are at risk. Move your savings to the protected account we've opened for you", "safe_account"));
    assert_false(cue("PSA: the bank will never ask you to move money to a safe account", "safe_account"));
    assert_true(cue("Please note our bank details have changed, pay the invoice to the new account", "new_payee"));
    assert_true(cue("I hacked your device and recorded you. Send 0.05 BTC to the address below", "sextortion"));
    /* a country code under another suffix (round 6); "co.uk" and sites under a country code are not */
    assert_true(cue("Bestätigen Sie hier: sparkassen-konto.de.ms", "link_stacked_suffix"));
    assert_true(cue("claim at https://energy-refund.co.uk.net/form", "link_stacked_suffix"));
    assert_false(cue("see https://news.bbc.co.uk/weather", "link_stacked_suffix"));
    assert_false(cue("read de.wikipedia.org/wiki/Kiel", "link_stacked_suffix"));
    assert_false(cue("ik ben er om 5.de laatste trein", "link_stacked_suffix"));
    /* scam shapes */
    assert_true(cue("URGENT! Your wallet has been selected for a 5000 USDT airdrop", "crypto_claim"));
    assert_true(cue("please reply with your 12-word recovery phrase", "seed_phrase"));
    assert_true(cue("Congratulations you won a $1000 Walmart gift card, reply YES", "prize"));
    assert_true(cue("Congratulations you won a $1000 Walmart gift card, reply YES", "reply_keyword"));
    assert_true(cue("Hi mum, my phone broke so this is my new number", "new_number"));
    assert_false(cue("hi mum, home by 7, save me some pizza", "new_number"));
    assert_true(cue("Royal Mail: your parcel could not be delivered, pay the fee", "parcel_fee"));
    assert_false(cue("my parcel finally arrived", "parcel_fee"));
    assert_true(cue("Hallo Mama, mein Handy ist kaputt, das ist meine neue Nummer", "new_number"));
    const char *wfh = "I'm working from home today";
    assert_true(zt__spam_chat_cues(wfh, strlen(wfh), NULL, 0, NULL) < 1.0); /* a weak cue at most */
    assert_true(cue("Ihr Paket wartet auf Zustellung", "parcel_fee"));
    /* round 2 (issue 16): scareware renewals, dead phones only with a money request */
    assert_true(cue("Your Norton subscription has been renewed for $399. Call to cancel", "tech_support"));
    assert_true(cue("Mum my phone died, can you transfer some money? I'll explain", "dead_phone_money"));
    assert_false(cue("hi mum, phone died, charging it at Tom's, back home by 10", "new_number"));
    assert_false(cue("hi mum, phone died, charging it at Tom's, back home by 10", "dead_phone_money"));
    assert_true(cue("I sent you $50 on Cash App by mistake, can you send it back please?", "mistaken_payment"));
    assert_false(cue("sent you $50 for the tickets, check your Cash App", "mistaken_payment"));
    /* round 9: warrants, a buyer's "payment" to click for, app installs, more languages; a
     * warning about scams counts against */
    assert_true(cue("A warrant has been issued for your arrest, call back immediately to settle", "authority"));
    assert_false(cue("the police issued a warrant for the burglar, it was on the news", "authority"));
    assert_true(cue("I paid for your bike already, click the link to receive your money", "receive_payment"));
    assert_true(cue("paket anda tertahan, cek resi di aplikasi ini (file .apk)", "app_install"));
    assert_true(cue("Paket anda tertahan di gudang kurir, bayar biaya", "parcel_fee"));
    assert_true(cue("Hej mamma, det är jag, har nytt nummer. Kan du swisha 2000 kr?", "new_number"));
    assert_true(cue("new number, my phone got stolen, can you lend me 100 till Friday?", "lost_phone_money"));
    assert_true(cue("Finanzamt: Sie haben Anspruch auf eine Steuerrückerstattung", "refund"));
    assert_true(cue("join the VIP pump group, we call the coin before the pump, 300% profit", "investment"));
    assert_true(cue("there are fake texts going round from the bank, don't click on anything", "scam_warning"));
    assert_false(cue("I paid the deposit, thanks for the link", "receive_payment"));
    /* review9 F3: people's own taxes, a developer's apk, a "warning" carrying a link */
    assert_false(cue("I have unpaid taxes, I need to pay them before Friday", "authority"));
    assert_false(cue("send me the apk when the build is done", "app_install"));
    assert_false(cue("beware of fake texts, verify your account here: http://bank-verify.example/x", "scam_warning"));
    /* nothing in everyday chat */
    struct zt__spam_cue v[4];
    size_t n = 9;
    assert_true(zt__spam_chat_cues("can you send me the slides from this morning?", 45, v, 4, &n) == 0.0);
    assert_int_equal(n, 0);
}

/* The rows of issue 16's table, on the shipped model (skipped without it). */
static void test_issue16_rows(void **state)
{
    (void)state;
    struct zt_spam_model *m = shipped();
    if (!m) skip();
    static const char *const spam[] = {
        "URGENT! Your wallet has been selected for a 5000 USDT airdrop. Claim now at http://usdt-bonus.xyz",
        "Congratulations you won a $1000 Walmart gift card, reply YES"};
    struct zt_spam_result r;
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(zt_spam_classify(m, spam[i], strlen(spam[i]), 0.8, 5, &r), 0);
        printf("%.3f %s\n", r.probability, spam[i]);
        assert_true(r.spam);
        assert_string_equal(r.top[0].kind, "rule");
    }
    const char *ham = "can you send me the slides from this morning?";
    assert_int_equal(zt_spam_classify(m, ham, strlen(ham), 0.8, 5, &r), 0);
    printf("%.3f %s\n", r.probability, ham);
    assert_true(r.probability < 0.3); /* clearly ham */
    /* round 9: a warning about a scam that quotes the scam lowers the learned model's say too */
    const char *warn = "Attenzione, messaggi falsi di Poste: il pacco in giacenza, paga la riconsegna. Non cliccate";
    assert_int_equal(zt_spam_classify(m, warn, strlen(warn), 0.8, 5, &r), 0);
    printf("%.3f %s\n", r.probability, warn);
    assert_false(r.spam);
    zt_spam_free(m);
}

/* ---- allocation failures (issue 17, make tsan bullet) --------------------- */

/* One operation under test: returns 0 or a negative ZT_E*, frees what it made. */
typedef int (*spam_op)(const struct zt_spam_model *m, void *out);

static int op_parse(const struct zt_spam_model *m, void *out)
{
    (void)m;
    size_t len;
    uint8_t *p = payload(8, 0.25f, -1.0, &len); /* made before the injection point counts */
    zt_alloc_fail_after(*(int64_t *)out);
    struct zt_spam_model *mm = NULL;
    int rc = zt_spam_model_parse(p, len, &mm);
    zt_alloc_fail_after(0);
    if (rc == 0) {
        struct zt_spam_info info;
        zt_spam_model_info(mm, &info);
        if (info.buckets_log2 != 8) rc = ZT_EINVAL;
    }
    zt_spam_free(mm);
    zt_free(p);
    return rc;
}

static const char SWEEP_TEXT[] = "Hi mum, this is my new number! Claim your prize at http://bit.ly/xx or "
                                 "http://192.0.2.1/login, send the seed phrase, pay the parcel fee.";

static int op_classify(const struct zt_spam_model *m, void *out)
{
    struct zt_spam_result *r = out;
    return zt_spam_classify(m, SWEEP_TEXT, sizeof SWEEP_TEXT - 1, 0.5, ZT_SPAM_TOP_MAX, r);
}

static int op_email(const struct zt_spam_model *m, void *out)
{
    (void)m;
    static const char raw[] = "From: a@b.example\r\nSubject: =?UTF-8?B?SGVsbG8=?=\r\n"
                              "Content-Type: text/html\r\n\r\n<p>Win &amp; claim <b>now</b></p>\r\n";
    char **s = out;
    size_t n = 0;
    return zt_spam_email_text(raw, sizeof raw - 1, 4096, s, &n);
}

/* The Nth allocation fails, for every N until op succeeds: op returns
 * ZT_ENOMEM or 0, never crashes or leaks, and its success matches same()
 * against the answer made without failures. Returns the failure points. */
static int sweep(spam_op op, const struct zt_spam_model *m, void *want, void *got, size_t got_size,
                 bool (*same)(const void *want, const void *got), void (*drop)(void *got), bool injects_itself)
{
    int n;
    bool ok = false;
    for (n = 1; n < 100000 && !ok; n++) {
        int64_t live = zt_alloc_live();
        memset(got, 0, got_size);
        int64_t at = n;
        if (injects_itself) *(int64_t *)got = at;
        else zt_alloc_fail_after(at);
        int rc = op(m, got);
        zt_alloc_fail_after(0);
        if (rc != 0 && rc != ZT_ENOMEM) {
            print_error("n=%d: rc=%d\n", n, rc);
            fail();
        }
        ok = rc == 0;
        if (ok && same) assert_true(same(want, got));
        if (ok && drop) drop(got);
        assert_int_equal(zt_alloc_live(), live);
    }
    assert_true(ok);
    return n - 2;
}

static bool same_result(const void *a, const void *b)
{
    const struct zt_spam_result *x = a, *y = b;
    if (x->probability != y->probability || x->spam != y->spam || x->n_top != y->n_top) return false;
    for (size_t i = 0; i < x->n_top; i++)
        if (strcmp(x->top[i].name, y->top[i].name) != 0 || x->top[i].weight != y->top[i].weight) return false;
    return true;
}

static bool same_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b) == 0;
}

static void drop_str(void *p)
{
    zt_free(*(char **)p);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    int64_t live = zt_alloc_live();
    size_t len;
    uint8_t *p = payload(10, 0.125f, -2.0, &len);
    struct zt_spam_model *m = NULL;
    assert_int_equal(zt_spam_model_parse(p, len, &m), 0);
    zt_free(p);

    int64_t slot = 0;
    print_message("spam parse: %d failure points, then success\n",
                  sweep(op_parse, NULL, NULL, &slot, sizeof slot, NULL, NULL, true));

    struct zt_spam_result want, got;
    assert_int_equal(op_classify(m, &want), 0);
    assert_true(want.n_top > 0);
    print_message("spam classify: %d failure points, then success\n",
                  sweep(op_classify, m, &want, &got, sizeof got, same_result, NULL, false));

    char *ws = NULL, *gs = NULL;
    assert_int_equal(op_email(NULL, &ws), 0);
    int pts = sweep(op_email, NULL, &ws, &gs, sizeof gs, same_str, drop_str, false);
    print_message("spam email text: %d failure points, then success\n", pts);
    assert_true(pts > 0);
    zt_free(ws);
    zt_spam_free(m);
    assert_int_equal(zt_alloc_live(), live);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features),     cmocka_unit_test(test_email_text),
        cmocka_unit_test(test_model_parse),  cmocka_unit_test(test_train),
        cmocka_unit_test(test_shipped_model), cmocka_unit_test(test_chat_cues),
        cmocka_unit_test(test_issue16_rows),   cmocka_unit_test(test_alloc_failures),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
