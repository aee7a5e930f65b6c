/* replies.c: smart replies from the response bank (zt_replies.h,
 * docs/features/smart-replies.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv_util.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_context.h"
#include "zentalk/zt_replies.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_text.h"

#define MEANING_MAX 32
#define LOOKBACK 3 /* messages of the answered speaker's turn looked at */
#define CLASH_MSG 0.5 /* |sentiment| of the answered message that makes its mood clear */

extern const unsigned char zt__builtin_replies[];
extern const size_t zt__builtin_replies_len;

struct cand {
    char text[ZT_REPLY_MAX + 1];
    char meaning[MEANING_MAX];
    enum zt_reply_tone tone;
    enum zt_reply_register reg;
};

struct zt_reply_bank {
    struct {
        struct cand *c;
        size_t n, cap;
    } in[ZT_INTENT_COUNT];
};

const char *zt_reply_tone_name(enum zt_reply_tone t)
{
    return t == ZT_TONE_POSITIVE ? "positive" : t == ZT_TONE_NEGATIVE ? "negative" : "neutral";
}

const char *zt_reply_register_name(enum zt_reply_register r)
{
    return r == ZT_REG_FORMAL ? "formal" : r == ZT_REG_CASUAL ? "casual" : "any";
}

/* ---- the bank file ------------------------------------------------------- */

static bool word_eq(const char *f, size_t fl, const char *w)
{
    return strlen(w) == fl && memcmp(f, w, fl) == 0;
}

static bool meaning_ok(const char *f, size_t fl)
{
    if (fl == 0 || fl >= MEANING_MAX) return false;
    for (size_t i = 0; i < fl; i++) {
        char c = f[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    }
    return true;
}

#define FAIL ZT__DATA_FAIL

/* config/replies.txt into b (zeroed): ZT__DATA_FILE_FUNCS */
static int parse_replies(struct zt_reply_bank *b, struct zt__dfile *d)
{
    int rc;
    int cur = -1;
    size_t sect_line[ZT_INTENT_COUNT] = {0};
    const char *ln, *le;
    while ((rc = zt__dfile_next(d, &ln, &le)) > 0) {
        const char *f;
        size_t fl;
        const char *s = zt__first_field(ln, le, &f, &fl);
        if (word_eq(f, fl, "intent")) {
            const char *nm;
            size_t nl;
            enum zt_intent it;
            if (!zt__next_field(&s, le, &nm, &nl) || s != le) FAIL("expected `intent NAME`");
            if (zt_intent_from_name(nm, nl, &it) != 0) FAIL("unknown intent '%.*s'", (int)(nl > 40 ? 40 : nl), nm);
            if (sect_line[it]) FAIL("intent %s already has a section (line %zu)", zt_intent_name(it), sect_line[it]);
            sect_line[it] = d->line;
            cur = (int)it;
            continue;
        }
        if (cur < 0) FAIL("a reply outside any `intent` section");
        const char *bar = memchr(ln, '|', (size_t)(le - ln));
        if (!bar) FAIL("expected `MEANING TONE REGISTER | TEXT`");
        const char *tf, *rf;
        size_t tl, rl;
        s = f + fl;
        if (!meaning_ok(f, fl)) FAIL("meaning must be 1 to %d characters of a-z 0-9 _", MEANING_MAX - 1);
        if (!zt__next_field(&s, bar, &tf, &tl) || !zt__next_field(&s, bar, &rf, &rl)) FAIL("expected `MEANING TONE REGISTER | TEXT`");
        const char *xf;
        size_t xl;
        if (zt__next_field(&s, bar, &xf, &xl)) FAIL("expected `|` after the register");
        struct cand c;
        memset(&c, 0, sizeof c);
        memcpy(c.meaning, f, fl);
        if (word_eq(tf, tl, "positive")) c.tone = ZT_TONE_POSITIVE;
        else if (word_eq(tf, tl, "negative")) c.tone = ZT_TONE_NEGATIVE;
        else if (word_eq(tf, tl, "neutral")) c.tone = ZT_TONE_NEUTRAL;
        else FAIL("tone must be positive, negative or neutral");
        if (word_eq(rf, rl, "casual")) c.reg = ZT_REG_CASUAL;
        else if (word_eq(rf, rl, "formal")) c.reg = ZT_REG_FORMAL;
        else if (word_eq(rf, rl, "any")) c.reg = ZT_REG_ANY;
        else FAIL("register must be casual, formal or any");
        const char *t = bar + 1;
        while (t < le && (*t == ' ' || *t == '\t')) t++;
        if (t == le) FAIL("empty reply text");
        if ((size_t)(le - t) > ZT_REPLY_MAX) FAIL("reply longer than %d bytes", ZT_REPLY_MAX);
        memcpy(c.text, t, (size_t)(le - t));
        for (size_t i = 0; i < b->in[cur].n; i++)
            if (zt_str_eq_ci(b->in[cur].c[i].text, c.text)) FAIL("duplicate reply in intent %s", zt_intent_name((enum zt_intent)cur));
        if ((rc = zt_array_push(&b->in[cur].c, &b->in[cur].n, &b->in[cur].cap, &c, sizeof c, 8))) goto out;
    }
    if (rc) goto out;
    for (int it = 0; it < ZT_INTENT_COUNT; it++) {
        if (!sect_line[it]) continue;
        size_t meanings = 0;
        for (size_t i = 0; i < b->in[it].n; i++) {
            bool seen = false;
            for (size_t k = 0; k < i && !seen; k++) seen = strcmp(b->in[it].c[k].meaning, b->in[it].c[i].meaning) == 0;
            if (!seen) meanings++;
        }
        if (meanings < ZT_REPLIES_N) {
            d->line = sect_line[it];
            FAIL("intent %s needs replies of at least %d meanings (has %zu)", zt_intent_name((enum zt_intent)it),
                 ZT_REPLIES_N, meanings);
        }
    }
    if (!sect_line[ZT_INTENT_STATEMENT]) {
        snprintf(d->err, d->err_size, "%s: the `intent statement` section (the fallback) is missing", d->file);
        rc = ZT_EPARSE;
    }
out:
    return rc;
}

ZT__DATA_FILE_FUNCS(zt_reply_bank, struct zt_reply_bank, parse_replies, zt__builtin_replies, "replies.txt")

void zt_reply_bank_free(struct zt_reply_bank *b)
{
    if (!b) return;
    for (int i = 0; i < ZT_INTENT_COUNT; i++) zt_free(b->in[i].c);
    zt_free(b);
}

/* ---- suggestions ---------------------------------------------------------- */

static bool same_speaker(const struct zt_conv_msg *m, const char *who, size_t who_len)
{
    return m->from_len == who_len && (who_len == 0 || memcmp(m->from, who, who_len) == 0);
}

/* Register of the recent messages: formal cues against casual ones. */
static int register_of(const struct zt_conv_msg *msgs, size_t n, size_t target, enum zt_reply_register *out)
{
    static const char *const formal[] = {"please", "kindly", "regards", "dear", "sir", "madam", "mr", "ms",
                                         "mrs", "sincerely", "appreciate", "would", "could", "thank", "certainly"};
    static const char *const casual[] = {"hey", "lol", "gonna", "wanna", "u", "ur", "thx", "ty", "yeah",
                                         "yep", "nope", "lmk", "btw", "omg", "haha", "cool", "ok", "k", "yo", "sup"};
    int score = 0;
    size_t from = target + 1 > LOOKBACK ? target + 1 - LOOKBACK : 0;
    struct zt_token t[256];
    for (size_t m = from; m <= target && m < n; m++) {
        size_t nt = 0;
        int rc = zt_text_tokenize(msgs[m].text, msgs[m].len, t, 256, &nt);
        if (rc) return rc;
        if (nt > 256) nt = 256;
        for (size_t i = 0; i < nt; i++) {
            if (t[i].kind == ZT_TOK_EMOJI) {
                score--;
                continue;
            }
            if (t[i].kind != ZT_TOK_WORD) continue;
            char w[32];
            long wl = zt_text_token_fold(msgs[m].text, &t[i], w, sizeof w);
            if (wl < 0) continue;
            for (size_t k = 0; k < sizeof formal / sizeof formal[0]; k++)
                if (strcmp(w, formal[k]) == 0) score++;
            for (size_t k = 0; k < sizeof casual / sizeof casual[0]; k++)
                if (strcmp(w, casual[k]) == 0) score--;
        }
    }
    *out = score > 0 ? ZT_REG_FORMAL : ZT_REG_CASUAL;
    return 0;
}

/* Intents whose message is sad news: no cheerful or curious suggestion
 * (a positive-toned candidate) is offered, with or without a sentiment hook. */
static bool sad_intent(enum zt_intent i)
{
    return i == ZT_INTENT_GRIEF || i == ZT_INTENT_BAD_NEWS;
}

/* Banks whose replies react to a mood ("Nice!", "Oh no.", "Sorry to hear
 * that"); the others answer something (yes / no, accept / decline), and
 * their tone is the answer's, not a mood. */
static bool reactive_bank(enum zt_intent i)
{
    return i != ZT_INTENT_QUESTION && i != ZT_INTENT_YESNO && i != ZT_INTENT_INVITATION &&
           i != ZT_INTENT_SCHEDULING && i != ZT_INTENT_REQUEST && i != ZT_INTENT_URGENT;
}

/* Does candidate c (of bank `bank`) clash with the answered message's mood?
 * Sad news takes no positive-toned candidate of any bank. With a sentiment
 * hook, a message whose mood is clear (|msg_s| >= CLASH_MSG) takes no
 * reaction of the opposite tone. A reply's sentiment is its curated tone,
 * not the hook's score of its text: lexicon scores read "No worries!" as
 * negative and "Please accept my deepest condolences" as positive. After
 * an apology a reassuring reply is the fitting one: not compared. */
static bool clashes(const struct cand *c, enum zt_intent bank, const struct zt_replies_result *r, bool has_msg_s,
                    double msg_s)
{
    enum zt_intent lead = r->intent.labels[0].intent;
    if (sad_intent(lead) && c->tone == ZT_TONE_POSITIVE) return true;
    if (!has_msg_s || lead == ZT_INTENT_APOLOGY || !reactive_bank(bank)) return false;
    if (msg_s <= -CLASH_MSG) return c->tone == ZT_TONE_POSITIVE;
    if (msg_s >= CLASH_MSG) return c->tone == ZT_TONE_NEGATIVE;
    return false;
}

struct ranked {
    const struct cand *c;
    double score;
    size_t order; /* tie-break: intent rank, then bank order */
};

static int cmp_ranked(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

int zt_replies_suggest(const struct zt_reply_bank *bank, const struct zt_intent_model *model,
                       const struct zt_reply_hooks *hooks, const struct zt_conv_msg *msgs, size_t n, const char *me,
                       size_t me_len, double min_confidence, struct zt_replies_result *out)
{
    if (n == 0) return ZT_EINVAL;
    struct zt_replies_result r;
    memset(&r, 0, sizeof r);
    /* the message to answer: the last one not from me */
    size_t target = n - 1;
    if (me_len) {
        size_t i = n;
        while (i > 0 && same_speaker(&msgs[i - 1], me, me_len)) i--;
        if (i > 0) target = i - 1;
    }
    int rc = zt_intent_detect(model, msgs[target].text, msgs[target].len, &r.intent);
    if (rc) return rc;
    /* a plain statement closing a turn ("see you there") after a message
     * that asked something: answer what was asked */
    for (size_t back = 1; r.intent.labels[0].intent == ZT_INTENT_STATEMENT && back < LOOKBACK && back <= target; back++) {
        const struct zt_conv_msg *pm = &msgs[target - back];
        if (!same_speaker(pm, msgs[target].from, msgs[target].from_len)) break;
        struct zt_intent_result pr;
        rc = zt_intent_detect(model, pm->text, pm->len, &pr);
        if (rc) return rc;
        if (pr.labels[0].intent != ZT_INTENT_STATEMENT) {
            r.intent = pr;
            target -= back;
        }
    }
    r.target = target;
    rc = register_of(msgs, n, target, &r.reg);
    if (rc) return rc;
    if (hooks && hooks->sentiment) {
        double s = 0, wsum = 0;
        size_t from = target + 1 > LOOKBACK ? target + 1 - LOOKBACK : 0;
        for (size_t m = from; m <= target; m++) {
            double w = m == target ? 2.0 : 1.0;
            double v = hooks->sentiment(msgs[m].text, msgs[m].len, hooks->sentiment_ud);
            if (!isfinite(v)) v = 0;
            if (v > 1) v = 1;
            if (v < -1) v = -1;
            s += w * v;
            wsum += w;
        }
        r.has_sentiment = true;
        r.sentiment = wsum > 0 ? s / wsum : 0;
    }
    r.moderated = hooks && hooks->is_flagged;
    /* the answered message's own mood, for the clash filter */
    bool has_msg_s = false;
    double msg_s = 0;
    if (hooks && hooks->sentiment) {
        msg_s = hooks->sentiment(msgs[target].text, msgs[target].len, hooks->sentiment_ud);
        has_msg_s = isfinite(msg_s);
    }

    /* candidates of the reported intents (best first), then the fallback */
    enum zt_intent order[ZT_INTENT_COUNT + 1];
    size_t n_order = 0;
    for (size_t i = 0; i < r.intent.n; i++)
        if (bank->in[r.intent.labels[i].intent].n && r.intent.labels[i].confidence >= min_confidence)
            order[n_order++] = r.intent.labels[i].intent;
    bool has_stmt = false;
    for (size_t i = 0; i < n_order; i++) has_stmt |= order[i] == ZT_INTENT_STATEMENT;
    if (!has_stmt) order[n_order++] = ZT_INTENT_STATEMENT;
    r.used = order[0];

    size_t total = 0;
    for (size_t i = 0; i < n_order; i++) total += bank->in[order[i]].n;
    struct ranked *rk = zt_calloc(total, sizeof *rk);
    if (!rk) return ZT_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n_order; i++) {
        for (size_t j = 0; j < bank->in[order[i]].n; j++) {
            const struct cand *c = &bank->in[order[i]].c[j];
            double sc = 1.0 - 0.3 * (double)i - 0.02 * (double)j; /* intent rank, bank order */
            if (c->reg == r.reg || c->reg == ZT_REG_ANY) sc += 0.1;
            if (r.has_sentiment) {
                if (c->tone == ZT_TONE_POSITIVE) sc += 0.25 * r.sentiment;
                if (c->tone == ZT_TONE_NEGATIVE) sc -= 0.25 * r.sentiment;
            }
            rk[k] = (struct ranked){c, sc, i * 1000 + j};
            k++;
        }
    }
    /* each intent's candidates compete among themselves first: the leading
     * intent's three meanings before any fallback */
    size_t off = 0;
    for (size_t i = 0; i < n_order && r.n < ZT_REPLIES_N; i++) {
        size_t cnt = bank->in[order[i]].n;
        qsort(rk + off, cnt, sizeof *rk, cmp_ranked);
        for (size_t j = off; j < off + cnt && r.n < ZT_REPLIES_N; j++) {
            const struct cand *c = rk[j].c;
            bool dup = false;
            for (size_t q = 0; q < r.n && !dup; q++)
                dup = strcmp(r.replies[q].meaning, c->meaning) == 0 || zt_str_eq_ci(r.replies[q].text, c->text);
            if (dup || clashes(c, order[i], &r, has_msg_s, msg_s)) continue;
            if (r.moderated && hooks->is_flagged(c->text, strlen(c->text), hooks->flag_ud)) continue;
            r.replies[r.n++] = (struct zt_reply){c->text, c->meaning, c->tone, rk[j].score};
        }
        off += cnt;
    }
    zt_free(rk);
    *out = r;
    return 0;
}

/* ---- the generative path's prompt and parser ----------------------------- */

int zt_replies_prompt(const struct zt_conv_msg *msgs, size_t n, const char *me, size_t me_len, size_t budget,
                      struct zt_buf *sys, struct zt_buf *user)
{
    int rc = zt_buf_append_str(sys, "You suggest replies in a chat. Write exactly three short, different, polite "
                                    "replies the user could send next, one per line, numbered 1. 2. 3., "
                                    "nothing else.");
    if (rc) return rc;
    if (me_len) {
        rc = zt_buf_appendf(sys, " The user is %.*s.", (int)(me_len > 64 ? 64 : me_len), me);
        if (rc) return rc;
    }
    rc = zt_buf_append_str(user, "Conversation:\n");
    if (!rc) rc = zt_replies_transcript(msgs, n, budget, user);
    if (!rc) rc = zt_buf_append_str(user, "Three replies:\n");
    return rc;
}

int zt_replies_transcript(const struct zt_conv_msg *msgs, size_t n, size_t budget, struct zt_buf *user)
{
    /* the context builder (zt_context.h): the newest whole messages whose
     * "from: text" lines fit budget (estimated) tokens, oldest first; the
     * newest alone is cut when over */
    if (n == 0) return 0;
    struct zt_ctx_msg *cm = zt_calloc(n, sizeof *cm);
    if (!cm) return ZT_ENOMEM;
    for (size_t i = 0; i < n; i++)
        cm[i] = (struct zt_ctx_msg){.from = msgs[i].from_len ? msgs[i].from : "someone",
                                    .text = msgs[i].text, .len = msgs[i].len};
    struct zt_ctx_result r;
    int rc = zt_context_build(cm, n, budget, NULL, NULL, &r);
    if (!rc && r.n == 0) rc = ZT_ETOOBIG;
    if (!rc) rc = zt_context_render(cm, &r, user);
    zt_free(cm);
    return rc;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

/* Add a[0..l) (trimmed, unquoted) to out when it is a usable, new reply. */
static void add_reply(const char *a, const char *b, char out[ZT_REPLIES_N][ZT_REPLY_MAX + 1], size_t *n)
{
    while (a < b && is_space(*a)) a++;
    while (b > a && is_space(b[-1])) b--;
    if (b - a >= 2 && ((*a == '"' && b[-1] == '"') || (*a == '\'' && b[-1] == '\''))) {
        a++;
        b--;
    }
    while (a < b && is_space(*a)) a++;
    while (b > a && is_space(b[-1])) b--;
    size_t l = (size_t)(b - a);
    if (*n >= ZT_REPLIES_N || l == 0 || l > ZT_REPLY_MAX || !zt_utf8_valid(a, l)) return;
    bool letter = false;
    for (size_t i = 0; i < l; i++) {
        if ((unsigned char)a[i] < 0x20) return;
        letter |= (unsigned char)a[i] >= 0x80 || (a[i] >= 'a' && a[i] <= 'z') || (a[i] >= 'A' && a[i] <= 'Z');
    }
    if (!letter) return;
    char cand[ZT_REPLY_MAX + 1];
    memcpy(cand, a, l);
    cand[l] = '\0';
    for (size_t i = 0; i < *n; i++)
        if (zt_str_eq_ci(out[i], cand)) return;
    memcpy(out[*n], cand, l + 1);
    (*n)++;
}

/* One line without its list marker ("1.", "2)", "(3)", "-", "*", "•"). */
static const char *strip_marker(const char *a, const char *b)
{
    while (a < b && is_space(*a)) a++;
    const char *s = a;
    if (a < b && *a == '(') a++;
    const char *d = a;
    while (d < b && *d >= '0' && *d <= '9' && d - a < 3) d++;
    if (d > a && d < b && (*d == '.' || *d == ')' || *d == ':')) return d + 1;
    if (s < b && (*s == '-' || *s == '*')) return s + 1;
    if (b - s >= 3 && memcmp(s, "\xE2\x80\xA2", 3) == 0) return s + 3;
    return s;
}

size_t zt_replies_parse_llm(const char *text, size_t len, char out[ZT_REPLIES_N][ZT_REPLY_MAX + 1])
{
    /* one reply per line; a model that writes them on one line (or writes
     * prose) is read sentence by sentence instead */
    for (int pass = 0; pass < 2; pass++) {
        size_t n = 0;
        const char *p = text, *end = text + len;
        while (p < end && n < ZT_REPLIES_N) {
            const char *e = memchr(p, '\n', (size_t)(end - p));
            if (!e) e = end;
            const char *a = strip_marker(p, e), *b = e;
            p = e < end ? e + 1 : end;
            if (pass == 0) {
                add_reply(a, b, out, &n);
                continue;
            }
            size_t l = (size_t)(b - a);
            if (!zt_utf8_valid(a, l)) continue;
            struct zt_span sp[16];
            size_t ns = 0;
            if (zt_text_sentences(a, l, sp, 16, &ns) != 0) continue;
            for (size_t i = 0; i < ns && i < 16; i++) add_reply(a + sp[i].off, a + sp[i].off + sp[i].len, out, &n);
        }
        if (n == ZT_REPLIES_N || pass == 1) return n;
    }
    return 0;
}
