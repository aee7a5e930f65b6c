/* spam.c: spam features and the classifier (zt_spam.h). The trainer and the
 * e-mail cleaner are in spam_train.c; both share zt__spam_features(). */
#include <math.h>
#include <string.h>

#include "learned.h"
#include "spam_internal.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_spam.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_text.h"

/* ---- hashing -------------------------------------------------------------- */

static uint64_t feature_hash(const char *kind, const char *name, size_t nlen)
{
    uint64_t h = zt_fnv1a64_step(ZT_FNV1A64_INIT, kind, strlen(kind));
    h = zt_fnv1a64_step(h, ":", 1);
    h = zt_mix64(zt_fnv1a64_step(h, name, nlen)); /* so that the low bits used as a bucket mix well */
    return h ? h : 1; /* 0 marks an empty slot of the set */
}

/* ---- feature extraction --------------------------------------------------- */

struct fx {
    uint64_t *set; /* open addressing, 0 = empty */
    size_t mask;
    size_t n;
    zt__spam_feat_cb cb;
    void *ud;
};

/* Longest prefix of p[0..n) of at most max bytes ending on a code point. */
static size_t utf8_cut(const char *p, size_t n, size_t max)
{
    if (n <= max) return n;
    size_t k = max;
    while (k > 0 && ((uint8_t)p[k] & 0xC0) == 0x80) k--;
    return k;
}

static void emit(struct fx *f, const char *kind, const char *name, size_t nlen)
{
    char nm[ZT_SPAM_FEATURE_NAME_MAX];
    nlen = utf8_cut(name, nlen, sizeof nm - 1);
    memcpy(nm, name, nlen);
    nm[nlen] = '\0';
    uint64_t h = feature_hash(kind, nm, nlen);
    size_t i = (size_t)h & f->mask;
    while (f->set[i]) {
        if (f->set[i] == h) return;
        i = (i + 1) & f->mask;
    }
    if (f->n + 1 > f->mask / 2) return; /* cannot happen: the set is sized for the bound */
    f->set[i] = h;
    f->n++;
    f->cb(h, kind, nm, f->ud);
}

static void emit_cue(struct fx *f, const char *cue)
{
    emit(f, "cue", cue, strlen(cue));
}

static const char *const SHORTENERS[] = {
    "bit.ly",  "tinyurl.com", "goo.gl",   "t.co",   "ow.ly",      "is.gd",      "buff.ly",
    "cutt.ly", "rb.gy",       "tiny.cc",  "t.ly",   "rebrand.ly", "shorturl.at", "bl.ink",
    "s.id",    "lnkd.in",     "shorte.st", "adf.ly", "v.gd",      "qr.ae",
};
#define N_SHORTENERS (sizeof SHORTENERS / sizeof SHORTENERS[0])

static int is_shortener(const char *host, size_t n)
{
    for (size_t i = 0; i < N_SHORTENERS; i++)
        if (strlen(SHORTENERS[i]) == n && memcmp(SHORTENERS[i], host, n) == 0) return 1;
    return 0;
}

static char lower_ascii(char c)
{
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Bare shortener links ("bit.ly/abc") that the tokeniser does not see as URLs. */
static int bare_shortener(const char *t, size_t len)
{
    for (size_t i = 0; i < N_SHORTENERS; i++) {
        size_t n = strlen(SHORTENERS[i]);
        for (size_t p = 0; p + n < len; p++) {
            if (p > 0 && (zt_ascii_alnum(t[p - 1]) || t[p - 1] == '.')) continue;
            size_t k = 0;
            while (k < n && lower_ascii(t[p + k]) == SHORTENERS[i][k]) k++;
            if (k == n && t[p + n] == '/') return 1;
        }
    }
    return 0;
}

/* A run of 9..15 digits with separators ("+44 20 7946 0958", "(555) 123-4567"). */
static int has_phone(const char *t, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (!((t[i] >= '0' && t[i] <= '9') || t[i] == '+' || t[i] == '(')) {
            i++;
            continue;
        }
        size_t digits = 0, j = i;
        while (j < len && ((t[j] >= '0' && t[j] <= '9') || t[j] == ' ' || t[j] == '-' || t[j] == '.' ||
                           t[j] == '(' || t[j] == ')' || t[j] == '+')) {
            if (t[j] >= '0' && t[j] <= '9') digits++;
            if (t[j] == ' ' && j + 1 < len && t[j + 1] == ' ') break;
            j++;
        }
        if (digits >= 9 && digits <= 15) return 1;
        i = j > i ? j : i + 1;
    }
    return 0;
}

static int tok_is(const char *text, const struct zt_token *t, const char *s)
{
    return t->len == strlen(s) && memcmp(text + t->off, s, t->len) == 0;
}

static int is_currency_sym(const char *text, const struct zt_token *t)
{
    return t->kind == ZT_TOK_PUNCT &&
           (tok_is(text, t, "$") || tok_is(text, t, "\xe2\x82\xac") || tok_is(text, t, "\xc2\xa3") ||
            tok_is(text, t, "\xc2\xa5"));
}

static int is_currency_word(const char *w)
{
    static const char *const words[] = {"usd", "eur", "gbp", "dollars", "dollar", "euros", "euro", "pounds", "bucks"};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(w, words[i]) == 0) return 1;
    return 0;
}

#define WORD_MAX 96   /* bytes of a folded word kept */
#define NGRAM_MAX_CP 40 /* longer words get no character n-grams */

static void char_ngrams(struct fx *f, const char *w, size_t wl)
{
    char b[WORD_MAX + 3];
    size_t offs[WORD_MAX + 4];
    size_t bl = 0, ncp = 0;
    b[bl++] = '<';
    memcpy(b + bl, w, wl);
    bl += wl;
    b[bl++] = '>';
    for (size_t i = 0; i < bl; i++)
        if (((uint8_t)b[i] & 0xC0) != 0x80) offs[ncp++] = i;
    if (ncp > NGRAM_MAX_CP + 2) return;
    offs[ncp] = bl;
    for (size_t n = 3; n <= 5; n++)
        for (size_t i = 0; i + n <= ncp; i++) emit(f, "chars", b + offs[i], offs[i + n] - offs[i]);
}

static void url_host(const char *u, size_t n, const char **host, size_t *hl)
{
    size_t i = 0;
    if (n >= 8 && strncmp(u, "https://", 8) == 0) i = 8;
    else if (n >= 7 && strncmp(u, "http://", 7) == 0) i = 7;
    size_t s = i;
    while (i < n && u[i] != '/' && u[i] != '?' && u[i] != '#' && u[i] != ':' && u[i] != '@') i++;
    if (i - s > 4 && strncmp(u + s, "www.", 4) == 0) s += 4;
    *host = u + s;
    *hl = i - s;
}

int zt__spam_features(const char *text, size_t len, zt__spam_feat_cb cb, void *ud, size_t *n_out)
{
    struct zt_token *toks = NULL;
    struct fx f = {.cb = cb, .ud = ud};
    int rc = 0;
    if (!zt_utf8_valid(text, len)) return ZT_EPARSE;
    len = utf8_cut(text, len, ZT_SPAM_MAX_BYTES);
    size_t ntok = 0;
    toks = zt_calloc(len + 1, sizeof *toks);
    if (!toks) return ZT_ENOMEM;
    rc = zt_text_tokenize(text, len, toks, len + 1, &ntok);
    if (rc) goto out;
    /* bound on distinct features: per token a word, a bigram and up to 3
     * n-grams per code point (+ boundaries), a domain; plus the cues */
    size_t bound = 8 * len + 64, cap = 64;
    while (cap < 2 * bound + 2) cap <<= 1;
    f.set = zt_calloc(cap, sizeof *f.set);
    if (!f.set) {
        rc = ZT_ENOMEM;
        goto out;
    }
    f.mask = cap - 1;

    char prev[WORD_MAX + 1] = "";
    size_t n_urls = 0, upper_bytes = 0, word_bytes = 0;
    int money = 0, number = 0, emoji = 0, shortener = 0;
    for (size_t i = 0; i < ntok; i++) {
        const struct zt_token *t = &toks[i];
        char cur[WORD_MAX + 1];
        cur[0] = '\0';
        switch (t->kind) {
        case ZT_TOK_WORD: {
            long fl = zt_text_token_fold(text, t, cur, sizeof cur);
            if (fl == ZT_EPARSE) {
                rc = ZT_EPARSE;
                goto out;
            }
            size_t wl = strlen(cur);
            emit(&f, "word", cur, wl);
            char_ngrams(&f, cur, wl);
            if (t->len >= 2) {
                word_bytes += t->len;
                if (t->flags & ZT_TOK_F_UPPER) upper_bytes += t->len;
            }
            if (i > 0 && toks[i - 1].kind == ZT_TOK_NUMBER && is_currency_word(cur)) money = 1;
            break;
        }
        case ZT_TOK_NUMBER:
            number = 1;
            zt_strlcpy(cur, "#", sizeof cur);
            if ((i > 0 && is_currency_sym(text, &toks[i - 1]) && toks[i - 1].off + toks[i - 1].len == t->off) ||
                (i + 1 < ntok && is_currency_sym(text, &toks[i + 1])))
                money = 1;
            break;
        case ZT_TOK_URL: {
            n_urls++;
            zt_strlcpy(cur, "<url>", sizeof cur);
            const char *h;
            size_t hl;
            url_host(text + t->off, t->len, &h, &hl);
            char host[WORD_MAX + 1];
            size_t k = 0;
            for (; k < hl && k < WORD_MAX; k++) host[k] = lower_ascii(h[k]);
            host[k] = '\0';
            if (k) emit(&f, "domain", host, k);
            if (is_shortener(host, k)) shortener = 1;
            break;
        }
        case ZT_TOK_EMOJI: emoji = 1; break;
        case ZT_TOK_PUNCT: break;
        }
        if (cur[0]) {
            if (prev[0]) {
                char bg[2 * WORD_MAX + 2];
                size_t pl = strlen(prev), cl = strlen(cur);
                memcpy(bg, prev, pl);
                bg[pl] = ' ';
                memcpy(bg + pl + 1, cur, cl);
                emit(&f, "bigram", bg, pl + 1 + cl);
            }
            memcpy(prev, cur, sizeof prev);
        } else {
            prev[0] = '\0';
        }
    }
    if (!shortener) shortener = bare_shortener(text, len);
    if (n_urls == 1) emit_cue(&f, "urls=1");
    if (n_urls >= 2) emit_cue(&f, "urls=2+");
    if (shortener) emit_cue(&f, "shortener");
    if (money) emit_cue(&f, "money");
    if (has_phone(text, len)) emit_cue(&f, "phone");
    if (number) emit_cue(&f, "number");
    if (emoji) emit_cue(&f, "emoji");
    if (word_bytes >= 6) {
        double r = (double)upper_bytes / (double)word_bytes;
        if (r >= 0.5) emit_cue(&f, "caps=high");
        else if (r >= 0.2) emit_cue(&f, "caps=mid");
    }
    size_t run = 0, best = 0, excl = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '!') {
            excl++;
            if (++run > best) best = run;
        } else {
            run = 0;
        }
    }
    if (best >= 2) emit_cue(&f, "exclaim_run");
    else if (excl) emit_cue(&f, "exclaim");
    *n_out = f.n;
out:
    zt_free(f.set);
    zt_free(toks);
    return rc;
}

struct pub_ud {
    zt_spam_feature_fn fn;
    void *ud;
};

static void pub_cb(uint64_t h, const char *kind, const char *name, void *ud)
{
    (void)h;
    struct pub_ud *p = ud;
    p->fn(kind, name, p->ud);
}

long zt_spam_features(const char *text, size_t len, zt_spam_feature_fn fn, void *ud)
{
    struct pub_ud p = {fn, ud};
    size_t n = 0;
    int rc = zt__spam_features(text, len, pub_cb, &p, &n);
    return rc ? rc : (long)n;
}

/* ---- the model ------------------------------------------------------------ */

struct zt_spam_model {
    struct zt_spam_info info;
    double bias;
    uint64_t mask;
    float *w;
};

static int in01(double x)
{
    return isfinite(x) && x >= 0.0 && x <= 1.0;
}

int zt_spam_model_parse(const void *payload, size_t len, struct zt_spam_model **out)
{
    const uint8_t *p = payload;
    if (!p || len < ZT__SPAM_PAYLOAD_HEADER) return ZT_EPARSE;
    struct zt_spam_info in = {0};
    in.buckets_log2 = zt_get_le32(p + 0);
    in.epochs = zt_get_le32(p + 4);
    in.learning_rate = zt_get_le_f64(p + 8);
    in.l2 = zt_get_le_f64(p + 16);
    in.seed = zt_get_le64(p + 24);
    in.holdout_mod = zt_get_le32(p + 32);
    in.n_train = zt_get_le32(p + 36);
    in.n_test = zt_get_le32(p + 40);
    in.n_train_spam = zt_get_le32(p + 44);
    in.n_test_spam = zt_get_le32(p + 48);
    in.precision = zt_get_le_f64(p + 56);
    in.recall = zt_get_le_f64(p + 64);
    in.f1 = zt_get_le_f64(p + 72);
    in.accuracy = zt_get_le_f64(p + 80);
    double bias = zt_get_le_f64(p + 88);
    if (in.buckets_log2 < ZT__SPAM_MIN_LOG2 || in.buckets_log2 > ZT__SPAM_MAX_LOG2) return ZT_EPARSE;
    if (zt_get_le32(p + 52) != 0 || in.holdout_mod < 2 || in.n_train_spam > in.n_train || in.n_test_spam > in.n_test)
        return ZT_EPARSE;
    if (!isfinite(in.learning_rate) || !isfinite(in.l2) || !isfinite(bias) || !in01(in.precision) ||
        !in01(in.recall) || !in01(in.f1) || !in01(in.accuracy))
        return ZT_EPARSE;
    size_t nb = (size_t)1 << in.buckets_log2;
    if (len != ZT__SPAM_PAYLOAD_HEADER + 4 * nb) return ZT_EPARSE;
    struct zt_spam_model *m = zt_calloc(1, sizeof *m);
    if (!m) return ZT_ENOMEM;
    m->w = zt_malloc(nb * sizeof *m->w);
    if (!m->w) {
        zt_free(m);
        return ZT_ENOMEM;
    }
    for (size_t i = 0; i < nb; i++) {
        float x = zt_get_le_f32(p + ZT__SPAM_PAYLOAD_HEADER + 4 * i);
        if (!isfinite(x) || fabsf(x) > 1e6f) {
            zt_spam_free(m);
            return ZT_EPARSE;
        }
        m->w[i] = x;
    }
    m->info = in;
    m->bias = bias;
    m->mask = nb - 1;
    *out = m;
    return 0;
}

int zt_spam_load(const char *path, struct zt_spam_model **out)
{
    struct zt_asset a;
    int rc = zt_asset_load(path, ZT_SPAM_ASSET_KIND, ZT_SPAM_ASSET_VERSION, &a);
    if (rc) return rc;
    struct zt_spam_model *m = NULL;
    rc = zt_spam_model_parse(a.data, a.len, &m);
    if (rc == 0) {
        memcpy(m->info.data_sha256, a.source_sha256, 32);
        *out = m;
    }
    zt_asset_deinit(&a);
    return rc;
}

void zt_spam_free(struct zt_spam_model *m)
{
    if (!m) return;
    zt_free(m->w);
    zt_free(m);
}

void zt_spam_model_info(const struct zt_spam_model *m, struct zt_spam_info *info)
{
    *info = m->info;
}

struct cls {
    const struct zt_spam_model *m;
    double sum;
    size_t n_top, top_max;
    struct zt_spam_contrib *top;
};

static void cls_cb(uint64_t h, const char *kind, const char *name, void *ud)
{
    struct cls *c = ud;
    double w = c->m->w[h & c->m->mask];
    c->sum += w;
    if (c->top_max == 0 || w == 0.0) return;
    /* keep the top_max largest |w| (all share the same scale 1/sqrt(n)) */
    size_t pos = c->n_top;
    while (pos > 0 && fabs(c->top[pos - 1].weight) < fabs(w)) pos--;
    if (pos >= c->top_max) return;
    size_t last = c->n_top < c->top_max ? c->n_top : c->top_max - 1;
    memmove(&c->top[pos + 1], &c->top[pos], (last - pos) * sizeof c->top[0]);
    zt_strlcpy(c->top[pos].kind, kind, sizeof c->top[pos].kind);
    zt_strlcpy(c->top[pos].name, name, sizeof c->top[pos].name);
    c->top[pos].weight = w;
    if (c->n_top < c->top_max) c->n_top++;
}

static void top_insert(struct zt_spam_result *r, size_t top_max, const char *kind, const char *name, double w)
{
    size_t pos = r->n_top;
    while (pos > 0 && fabs(r->top[pos - 1].weight) < fabs(w)) pos--;
    if (pos >= top_max) return;
    size_t last = r->n_top < top_max ? r->n_top : top_max - 1;
    memmove(&r->top[pos + 1], &r->top[pos], (last - pos) * sizeof r->top[0]);
    zt_strlcpy(r->top[pos].kind, kind, sizeof r->top[pos].kind);
    zt_strlcpy(r->top[pos].name, name, sizeof r->top[pos].name);
    r->top[pos].weight = w;
    if (r->n_top < top_max) r->n_top++;
}

/* chat: the chat calibration and cues; learned: the learned chat-scam model
 * too (learned.h): its margin (less ZT__CLF_SPAM_GATE for a text without a
 * link, money or a number), moved to the default threshold's logit, is
 * taken when it is above the rules' logit (either may catch a scam). */
static int classify(const struct zt_spam_model *m, const char *text, size_t len, double threshold, size_t n_top,
                    bool chat, bool learned, struct zt_spam_result *r)
{
    struct zt_spam_result res;
    memset(&res, 0, sizeof res);
    size_t top_max = n_top > ZT_SPAM_TOP_MAX ? ZT_SPAM_TOP_MAX : n_top;
    struct cls c = {.m = m, .top = res.top, .top_max = top_max};
    size_t n = 0;
    int rc = zt__spam_features(text, len, cls_cb, &c, &n);
    if (rc) return rc;
    double x = n ? 1.0 / sqrt((double)n) : 0.0;
    double z = m->bias + x * c.sum;
    res.n_top = c.n_top;
    double scale = 1.0;
    if (chat) {
        struct zt__spam_cue cues[ZT_SPAM_TOP_MAX];
        size_t nc = 0;
        double cz = zt__spam_chat_cues(text, len, cues, ZT_SPAM_TOP_MAX, &nc);
        if (len <= ZT__SPAM_CHAT_BYTES) {
            scale = ZT__SPAM_CHAT_SCALE;
            z = ZT__SPAM_CHAT_SCALE * z + ZT__SPAM_CHAT_SHIFT;
        }
        z += cz;
        for (size_t i = 0; i < res.n_top; i++) res.top[i].weight *= x * scale;
        for (size_t i = 0; i < nc; i++) top_insert(&res, top_max, "rule", cues[i].name, cues[i].weight);
        /* round 9: a warning about scams (a negative cue) lowers the learned model's say too */
        double warn = 0;
        for (size_t i = 0; i < nc; i++)
            if (cues[i].weight < 0) warn += cues[i].weight;
        double mz;
        bool act = false;
        if (learned && len <= ZT__SPAM_CHAT_BYTES &&
            zt__clf_score(zt__clf_builtin(ZT__CLF_SPAM_CHAT), text, len, &mz, &act) == 0) {
            if (!act) mz -= ZT__CLF_SPAM_GATE; /* no link, money or number: the model must be surer */
            mz += warn;
            if (mz + ZT__SPAM_LEARNED_AT > z) {
                top_insert(&res, top_max, "learned", "chat_scam_model", mz + ZT__SPAM_LEARNED_AT - z);
                z = mz + ZT__SPAM_LEARNED_AT;
            }
        }
    } else {
        for (size_t i = 0; i < res.n_top; i++) res.top[i].weight *= x;
    }
    res.probability = 1.0 / (1.0 + exp(-z));
    res.spam = res.probability >= threshold;
    res.n_features = n;
    *r = res;
    return 0;
}

int zt_spam_classify(const struct zt_spam_model *m, const char *text, size_t len, double threshold, size_t n_top,
                     struct zt_spam_result *r)
{
    return classify(m, text, len, threshold, n_top, true, true, r);
}

int zt__spam_classify_rules(const struct zt_spam_model *m, const char *text, size_t len, double threshold,
                            struct zt_spam_result *r)
{
    return classify(m, text, len, threshold, 0, true, false, r);
}

int zt_spam_classify_model(const struct zt_spam_model *m, const char *text, size_t len, double threshold,
                           size_t n_top, struct zt_spam_result *r)
{
    return classify(m, text, len, threshold, n_top, false, false, r);
}
