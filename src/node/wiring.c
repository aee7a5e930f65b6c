/* wiring.c: features connected to one another (wiring.h). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "wiring.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_annotate.h"
#include "zentalk/zt_featset.h"
#include "zentalk/zt_langid.h"
#include "zentalk/zt_moderation.h"
#include "zentalk/zt_replies.h"
#include "zentalk/zt_sentiment.h"
#include "zentalk/zt_spam.h"
#include "zentalk/zt_translate.h"

#define LIVE_MSGS 8         /* messages of a conversation kept for live replies */
#define LIVE_TEXT 1024      /* bytes of each kept (cut on a code point) */
#define LIVE_FROM 64
#define SPAM_TOP 3          /* contributing features shown in an annotation */

struct zt__wiring {
    const struct zt_config *cfg;
    const struct zt_sentiment *sent;   /* NULL: not wired */
    enum zt_sentiment_mode sent_mode;  /* features.sentiment.mode */
    const struct zt_moderation *mod;
    struct zt_moderation_policy policy;
    struct zt_langid *lang;
    const struct zt_spam_model *spam;
    struct zt_convfeat *conv;
    char summary[256];
};

static void add_summary(struct zt__wiring *w, const char *what)
{
    size_t n = strlen(w->summary);
    snprintf(w->summary + n, sizeof w->summary - n, "%s%s", n ? "," : "", what);
}

/* ---- hooks --------------------------------------------------------------- */

/* translation: ISO 639-3 code of the text's language */
static int detect_lang(void *ud, const char *text, size_t len, char lang3[static 4], double *confidence)
{
    struct zt__wiring *w = ud;
    struct zt_langid_result r;
    int rc = zt_langid_detect(w->lang, text, len, 0.0, &r);
    if (rc) return rc;
    if (!r.lang) return ZT_ENOTFOUND;
    snprintf(lang3, 4, "%s", r.lang->code3);
    *confidence = r.confidence;
    return 0;
}

/* smart replies: polarity in [-1, 1] */
static double reply_sentiment(const char *text, size_t len, void *ud)
{
    struct zt__wiring *w = ud;
    struct zt_sentiment_result r;
    return zt_sentiment_score_mode(w->sent, w->sent_mode, text, len, &r) == 0 ? r.compound : 0.0;
}

/* smart replies: would moderation flag (or block) the suggestion? A text
 * moderation cannot check counts as flagged: never offer what was not
 * checked. */
static bool reply_flagged(const char *text, size_t len, void *ud)
{
    struct zt__wiring *w = ud;
    struct zt_moderation_result r;
    if (zt_moderation_check(w->mod, text, len, &w->policy, &r) != 0) return true;
    return r.action != ZT_MOD_ALLOW;
}

/* ---- live annotators (/v1/ws) ---------------------------------------------- */

/* Set a's member key to v (NULL: out of memory). */
static int put(json_t *a, const char *key, json_t *v)
{
    return json_object_set_new(a, key, v) == 0 ? 0 : ZT_ENOMEM;
}

static int ann_language(void *ud, const struct zt_annot_msg *m, void **st, json_t *a)
{
    (void)st;
    struct zt__wiring *w = ud;
    struct zt_langid_result r;
    int rc = zt_langid_detect(w->lang, m->text, m->text_len, w->cfg->features.language.threshold, &r);
    if (rc) return rc;
    return put(a, "language",
               json_pack("{s:s,s:s,s:f}", "code", r.code, "code3", r.code3, "confidence", r.confidence));
}

static int ann_sentiment(void *ud, const struct zt_annot_msg *m, void **st, json_t *a)
{
    (void)st;
    struct zt__wiring *w = ud;
    struct zt_sentiment_result r;
    int rc = zt_sentiment_score_mode(w->sent, w->sent_mode, m->text, m->text_len, &r);
    if (rc) return rc;
    return put(a, "sentiment",
               json_pack("{s:f,s:s,s:s}", "compound", r.compound, "label",
                         zt_sentiment_label(&r, w->cfg->features.sentiment.threshold), "mode",
                         zt_sentiment_mode_name(w->sent_mode)));
}

static int ann_spam(void *ud, const struct zt_annot_msg *m, void **st, json_t *a)
{
    (void)st;
    struct zt__wiring *w = ud;
    struct zt_spam_result r;
    int rc = zt_spam_classify(w->spam, m->text, m->text_len, w->cfg->features.spam.threshold, SPAM_TOP, &r);
    if (rc) return rc;
    json_t *top = json_array();
    for (size_t i = 0; top && i < r.n_top; i++) json_array_append_new(top, json_string(r.top[i].name));
    return put(a, "spam", json_pack("{s:f,s:b,s:o}", "probability", r.probability, "spam", r.spam, "top",
                                    top ? top : json_array()));
}

static int ann_moderation(void *ud, const struct zt_annot_msg *m, void **st, json_t *a)
{
    (void)st;
    struct zt__wiring *w = ud;
    struct zt_moderation_policy p = w->policy;
    /* the language annotator ran first: its answer weighs other languages' word lists */
    const char *code = json_string_value(json_object_get(json_object_get(a, "language"), "code"));
    p.lang = code && strcmp(code, "und") != 0 ? code : (m->lang && strlen(m->lang) == 2 ? m->lang : NULL);
    if (code && p.lang == code)
        p.lang_unsure = json_number_value(json_object_get(json_object_get(a, "language"), "confidence")) <
                        ZT_LEXFEAT_LANG_SURE;
    struct zt_moderation_result r;
    int rc = zt_moderation_check(w->mod, m->text, m->text_len, &p, &r);
    if (rc) return rc;
    json_t *cats = json_array();
    for (int c = 0; cats && c < ZT_MOD_N_CATEGORIES; c++)
        if (r.matched[c]) json_array_append_new(cats, json_string(zt_moderation_category_name((enum zt_mod_category)c)));
    return put(a, "moderation", json_pack("{s:s,s:o}", "action", zt_moderation_action_name(r.action), "categories",
                                          cats ? cats : json_array()));
}

/* The last LIVE_MSGS messages of one conversation, oldest first. */
struct live_conv {
    size_t n;
    struct {
        char from[LIVE_FROM];
        char text[LIVE_TEXT];
        size_t from_len, len;
    } m[LIVE_MSGS];
};

/* Copy at most cap - 1 bytes of s[0..len), cut on a code point boundary. */
static size_t copy_cut(char *dst, size_t cap, const char *s, size_t len)
{
    size_t n = len < cap - 1 ? len : cap - 1;
    if (n < len)
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    memcpy(dst, s, n);
    dst[n] = '\0';
    return n;
}

static int ann_replies(void *ud, const struct zt_annot_msg *m, void **st, json_t *a)
{
    struct zt__wiring *w = ud;
    struct live_conv *c = *st;
    if (!c) {
        c = zt_calloc(1, sizeof *c);
        if (!c) return ZT_ENOMEM;
        *st = c;
    }
    if (c->n == LIVE_MSGS) {
        memmove(&c->m[0], &c->m[1], sizeof c->m[0] * (LIVE_MSGS - 1));
        c->n--;
    }
    c->m[c->n].from_len = copy_cut(c->m[c->n].from, LIVE_FROM, m->from, strlen(m->from));
    c->m[c->n].len = copy_cut(c->m[c->n].text, LIVE_TEXT, m->text, m->text_len);
    c->n++;
    struct zt_conv_msg msgs[LIVE_MSGS];
    for (size_t i = 0; i < c->n; i++)
        msgs[i] = (struct zt_conv_msg){.from = c->m[i].from, .from_len = c->m[i].from_len,
                                       .text = c->m[i].text, .len = c->m[i].len};
    struct zt_replies_result r;
    int rc = zt_replies_suggest(zt_convfeat_bank(w->conv), zt_convfeat_intents(w->conv),
                                zt_convfeat_hooks(w->conv), msgs, c->n, NULL, 0,
                                w->cfg->features.smart_replies.threshold, &r);
    if (rc) return rc;
    json_t *list = json_array();
    for (size_t i = 0; list && i < r.n; i++) json_array_append_new(list, json_string(r.replies[i].text));
    return put(a, "smart_replies",
               json_pack("{s:o,s:s,s:s}", "replies", list ? list : json_array(), "intent", zt_intent_name(r.used),
                         "moderation", r.moderated ? "checked" : "unavailable"));
}

static void live_conv_free(void *ud, void *st)
{
    (void)ud;
    zt_free(st);
}

/* ---- wiring --------------------------------------------------------------- */

int zt__wiring_new(const struct zt_config *cfg, struct zt_lexfeat *lex, struct zt_spamfeat *spam,
                   struct zt_convfeat *conv, struct zt_translate *tr, struct zt_annot_engine *eng, struct zt__wiring **out)
{
    const struct zt_cfg_features *fe = &cfg->features;
    struct zt__wiring *w = zt_calloc(1, sizeof *w);
    if (!w) return ZT_ENOMEM;
    w->cfg = cfg;
    w->conv = conv;
    if (lex && fe->sentiment.enabled) {
        w->sent = zt_lexfeat_sentiment(lex, NULL);
        w->sent_mode = zt_lexfeat_sentiment_mode(lex);
    }
    if (lex && fe->moderation.enabled) {
        w->mod = zt_lexfeat_moderation(lex, NULL);
        zt_lexfeat_policy(lex, &w->policy);
    }
    if (lex && fe->language.enabled) w->lang = zt_lexfeat_langid(lex, NULL);
    if (spam && fe->spam.enabled) w->spam = zt_spamfeat_model(spam);

    /* hooks */
    if (w->lang && tr) {
        zt_translate_set_detector(tr, detect_lang, w);
        add_summary(w, "translate.detect");
    }
    if (conv) {
        struct zt_reply_hooks h = {0};
        if (w->sent) h.sentiment = reply_sentiment, h.sentiment_ud = w;
        if (w->mod) h.is_flagged = reply_flagged, h.flag_ud = w;
        zt_convfeat_set_hooks(conv, &h);
        if (w->sent) add_summary(w, "replies.sentiment");
        if (w->mod) add_summary(w, "replies.moderation");
    }

    /* live annotators, in this order (moderation reads language's answer) */
    int rc = 0;
    struct zt_annotator anns[] = {
        {.name = "language", .annotate = ann_language, .ud = w},
        {.name = "sentiment", .annotate = ann_sentiment, .ud = w},
        {.name = "spam", .annotate = ann_spam, .ud = w},
        {.name = "moderation", .annotate = ann_moderation, .ud = w},
        {.name = "smart_replies", .annotate = ann_replies, .conv_free = live_conv_free, .ud = w},
    };
    bool have[] = {w->lang != NULL, w->sent != NULL, w->spam != NULL, w->mod != NULL,
                   conv != NULL && fe->smart_replies.enabled};
    for (size_t i = 0; eng && rc == 0 && i < sizeof anns / sizeof anns[0]; i++) {
        if (!have[i]) continue;
        rc = zt_annot_add(eng, &anns[i]);
        if (rc == 0) {
            char what[40];
            snprintf(what, sizeof what, "ws.%s", anns[i].name);
            add_summary(w, what);
        }
    }
    if (rc) {
        zt__wiring_free(w);
        return rc;
    }
    if (!w->summary[0]) snprintf(w->summary, sizeof w->summary, "none");
    *out = w;
    return 0;
}

const char *zt__wiring_summary(const struct zt__wiring *w)
{
    return w ? w->summary : "none";
}

void zt__wiring_free(struct zt__wiring *w)
{
    zt_free(w);
}
