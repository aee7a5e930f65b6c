/* learned.c: the learned chat classifiers at run time (learned.h): the
 * compiled-in model files (zt_ml.h) and scoring a text. Training is in
 * learned_train.c. */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "learned.h"
#include "spam_internal.h"
#include "zentalk/zt_error.h"

/* src/features/models/NAME.clf compiled in by cmake/embed.cmake */
extern const unsigned char zt__model_spam_chat[];
extern const size_t zt__model_spam_chat_len;
extern const unsigned char zt__model_harass[];
extern const size_t zt__model_harass_len;
extern const unsigned char zt__model_sent_pos[];
extern const size_t zt__model_sent_pos_len;
extern const unsigned char zt__model_sent_neg[];
extern const size_t zt__model_sent_neg_len;

static struct zt_hlr builtin[ZT__CLF_N];
static int builtin_rc[ZT__CLF_N];
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_init(void)
{
    builtin_rc[ZT__CLF_SPAM_CHAT] = zt_hlr_parse(zt__model_spam_chat, zt__model_spam_chat_len, &builtin[ZT__CLF_SPAM_CHAT]);
    builtin_rc[ZT__CLF_HARASS] = zt_hlr_parse(zt__model_harass, zt__model_harass_len, &builtin[ZT__CLF_HARASS]);
    builtin_rc[ZT__CLF_SENT_POS] =
        zt_hlr_parse(zt__model_sent_pos, zt__model_sent_pos_len, &builtin[ZT__CLF_SENT_POS]);
    builtin_rc[ZT__CLF_SENT_NEG] =
        zt_hlr_parse(zt__model_sent_neg, zt__model_sent_neg_len, &builtin[ZT__CLF_SENT_NEG]);
}

/* An unparsable built-in model (a broken build) scores every text as "no":
 * all-zero weights and a bias far below the threshold. */
static const int8_t zero_w[1u << ZT_HLR_MIN_LOG2];
static const struct zt_hlr never = {.log2 = ZT_HLR_MIN_LOG2,
                                    .mask = (1u << ZT_HLR_MIN_LOG2) - 1,
                                     .bias = -100.0,
                                     .w = zero_w};

const struct zt_hlr *zt__clf_builtin(enum zt__clf_which which)
{
    pthread_once(&builtin_once, builtin_init);
    if ((unsigned)which >= ZT__CLF_N || builtin_rc[which]) return &never;
    return &builtin[which];
}

struct sum {
    const struct zt_hlr *m;
    int64_t q;
    bool act;
};

/* The spam module's cues that ask for an action: a link, money, a phone number, a number. */
static bool actionable_cue(const char *name)
{
    static const char *const act[] = {"urls=1", "urls=2+", "shortener", "money", "phone", "number", NULL};
    for (int k = 0; act[k]; k++)
        if (strcmp(name, act[k]) == 0) return true;
    return false;
}

static void sum_cb(uint64_t h, const char *kind, const char *name, void *ud)
{
    struct sum *s = ud;
    s->q += zt_hlr_q(s->m, h);
    if (!s->act && kind[0] == 'c' && strcmp(kind, "cue") == 0) s->act = actionable_cue(name);
}

/* Top-level domains that end a bare link ("hmrc-refund-gov.com", "t.me/x"):
 * the spam cues count only links with a scheme or "www." */
static const char *const tlds[] = {
    "com", "net", "org", "info", "io", "co", "uk", "de", "fr", "it", "nl", "es", "pt", "br", "eu", "us", "ca", "au",
    "in", "ru", "cn", "me", "ly", "gl", "gd", "cc", "tk", "ml", "ga", "cf", "gq", "xyz", "top", "shop", "club", "app",
    "online", "site", "live", "link", "claims", "support", "help", "biz", "pro", "vip", "icu", "cyou", "sbs", "best",
    "fun", "win", "bid", "loan", "click", "store", "tech", "website", "today", "rest", "buzz", "monster", "cfd", NULL};

/* A bare link or an amount: a token label(.label)+ ending in a listed TLD,
 * a currency sign before a digit ("$4.5M", "R$800", "£2.99") or after one
 * ("300€", "50 £"). */
static bool bare_action(const char *t, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '$' && i + 1 < len && t[i + 1] >= '0' && t[i + 1] <= '9') return true;
        if (i + 2 < len && (unsigned char)t[i] == 0xE2 && (unsigned char)t[i + 1] == 0x82 &&
            (unsigned char)t[i + 2] == 0xAC && i + 3 < len && t[i + 3] >= '0' && t[i + 3] <= '9')
            return true; /* € */
        if (i + 1 < len && c == 0xC2 && ((unsigned char)t[i + 1] == 0xA3 || (unsigned char)t[i + 1] == 0xA5) &&
            i + 2 < len && t[i + 2] >= '0' && t[i + 2] <= '9')
            return true; /* £ ¥ */
        if (c >= '0' && c <= '9' && i + 1 < len) { /* an amount with the sign after it: "300€", "50 £" */
            size_t k = i + 1 + (t[i + 1] == ' ');
            if (k + 2 < len && (unsigned char)t[k] == 0xE2 && (unsigned char)t[k + 1] == 0x82 &&
                (unsigned char)t[k + 2] == 0xAC)
                return true;
            if (k + 1 < len && (unsigned char)t[k] == 0xC2 && (unsigned char)t[k + 1] == 0xA3) return true;
        }
        if (c != '.' || i == 0 || i + 2 >= len) continue;
        unsigned char p = (unsigned char)t[i - 1];
        if (!((p | 0x20) >= 'a' && (p | 0x20) <= 'z') && !(p >= '0' && p <= '9') && p != '-') continue;
        size_t s = i + 1, e = s;
        while (e < len && ((((unsigned char)t[e] | 0x20) >= 'a' && ((unsigned char)t[e] | 0x20) <= 'z'))) e++;
        if (e - s < 2 || e - s > 12) continue;
        if (e < len && (t[e] == '-' || (t[e] >= '0' && t[e] <= '9') || (unsigned char)t[e] >= 0x80)) continue;
        char tld[16];
        for (size_t k = s; k < e; k++) tld[k - s] = (char)(t[k] | 0x20);
        tld[e - s] = 0;
        for (size_t k = 0; tlds[k]; k++)
            if (strcmp(tld, tlds[k]) == 0) return true;
    }
    return false;
}

int zt__clf_score(const struct zt_hlr *m, const char *text, size_t len, double *margin, bool *actionable)
{
    struct sum s = {.m = m};
    size_t n = 0;
    int rc = zt__spam_features(text, len, sum_cb, &s, &n);
    if (rc) return rc;
    *margin = zt_hlr_margin(m, s.q, n); /* the empty text has no features: never a yes */
    if (actionable) *actionable = s.act || bare_action(text, len);
    return 0;
}

int zt__clf_margin(const struct zt_hlr *m, const char *text, size_t len, double *margin)
{
    return zt__clf_score(m, text, len, margin, NULL);
}

/* second-person words of the languages of the tuning sets, then third-person ones */
static const char *const second_words[] = {
    "you", "your", "yours", "yourself", "youre", "u", "ur", "ya", "yall", "kys", "tu", "t\xc3\xba", "te", "ti", "toi",
    "ton", "ta", "tes", "t", "vous", "usted", "eres", "vos", "du", "dich", "dir", "dein", "deine", "euch", "ihr",
    "voc\xc3\xaa", "voce", "vc", "seu", "sua", "sei", "tuo", "tua", "je", "jij", "jou", "jouw", NULL};
static const char *const third_words[] = {"he",  "she", "him", "her", "his", "they", "them", "their", "hes",
                                          "shes", "ze", "hij", "hem", "haar", "lui", "lei",  "il",    "elle",
                                          "er",  "sie", "ele", "ela", "\xc3\xa9l", "ella", NULL};

int zt__clf_person(const char *text, size_t len)
{
    int found = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)text[i];
        if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') && c < 0x80) {
            i++;
            continue;
        }
        size_t s = i;
        while (i < len && ((((unsigned char)text[i] | 0x20) >= 'a' && ((unsigned char)text[i] | 0x20) <= 'z') ||
                           (unsigned char)text[i] >= 0x80))
            i++;
        char w[16];
        size_t n = i - s;
        if (n >= sizeof w) continue;
        for (size_t k = 0; k < n; k++)
            w[k] = (unsigned char)text[s + k] < 0x80 ? (char)(text[s + k] | 0x20) : text[s + k];
        w[n] = 0;
        /* French "t'" only as a word of its own ("t'es"), not the t of "can't" */
        if (n == 1 && w[0] == 't' && s > 0 && text[s - 1] != ' ') continue;
        for (size_t k = 0; second_words[k]; k++)
            if (strcmp(w, second_words[k]) == 0) return 2;
        for (size_t k = 0; !found && third_words[k]; k++)
            if (strcmp(w, third_words[k]) == 0) found = 1;
    }
    return found;
}

bool zt__clf_addressed(const char *text, size_t len)
{
    return zt__clf_person(text, len) != 0;
}

int zt__sentiment_decide(double mpos, double mneg, double c, double w, double neutral)
{
    double sp = mpos + w * c, sn = mneg - w * c;
    if (sp < neutral && sn < neutral) return 2;
    return sp >= sn ? 0 : 1;
}
