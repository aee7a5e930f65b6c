/* learned.c: the learned chat classifiers at run time (learned.h): parsing
 * the compiled-in model files and scoring a text. Training is in
 * learned_train.c. */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "learned.h"
#include "spam_internal.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_error.h"

/* src/features/models/NAME.clf compiled in by cmake/embed.cmake */
extern const unsigned char zt__model_spam_chat[];
extern const size_t zt__model_spam_chat_len;
extern const unsigned char zt__model_harass[];
extern const size_t zt__model_harass_len;

int zt__clf_parse(const void *data, size_t len, struct zt__clf *out)
{
    const uint8_t *p = data;
    if (len < ZT__CLF_HEADER || memcmp(p, "ZTLC", 4) != 0 || zt_get_le32(p + 4) != 1) return ZT_EPARSE;
    uint32_t log2 = zt_get_le32(p + 8);
    if (log2 < ZT__SPAM_MIN_LOG2 || log2 > ZT__SPAM_MAX_LOG2 || len != ZT__CLF_HEADER + ((size_t)1 << log2))
        return ZT_EPARSE;
    struct zt__clf m = {
        .log2 = log2,
        .mask = (1u << log2) - 1,
        .n_examples = zt_get_le32(p + 12),
        .bias = zt_get_le_f64(p + 16),
        .scale = zt_get_le_f64(p + 24),
        .threshold = zt_get_le_f64(p + 32),
        .w = (const int8_t *)(p + ZT__CLF_HEADER),
    };
    if (!isfinite(m.bias) || !isfinite(m.scale) || !isfinite(m.threshold) || m.scale < 0) return ZT_EPARSE;
    *out = m;
    return 0;
}

static struct zt__clf builtin[ZT__CLF_N];
static int builtin_rc[ZT__CLF_N];
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_init(void)
{
    builtin_rc[ZT__CLF_SPAM_CHAT] = zt__clf_parse(zt__model_spam_chat, zt__model_spam_chat_len, &builtin[ZT__CLF_SPAM_CHAT]);
    builtin_rc[ZT__CLF_HARASS] = zt__clf_parse(zt__model_harass, zt__model_harass_len, &builtin[ZT__CLF_HARASS]);
}

/* An unparsable built-in model (a broken build) scores every text as "no":
 * all-zero weights and a bias far below the threshold. */
static const int8_t zero_w[1u << ZT__SPAM_MIN_LOG2];
static const struct zt__clf never = {.log2 = ZT__SPAM_MIN_LOG2,
                                     .mask = (1u << ZT__SPAM_MIN_LOG2) - 1,
                                     .bias = -100.0,
                                     .w = zero_w};

const struct zt__clf *zt__clf_builtin(enum zt__clf_which which)
{
    pthread_once(&builtin_once, builtin_init);
    if ((unsigned)which >= ZT__CLF_N || builtin_rc[which]) return &never;
    return &builtin[which];
}

struct sum {
    const struct zt__clf *m;
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
    s->q += s->m->w[h & s->m->mask];
    if (!s->act && kind[0] == 'c' && strcmp(kind, "cue") == 0) s->act = actionable_cue(name);
}

int zt__clf_score(const struct zt__clf *m, const char *text, size_t len, double *margin, bool *actionable)
{
    struct sum s = {.m = m};
    size_t n = 0;
    int rc = zt__spam_features(text, len, sum_cb, &s, &n);
    if (rc) return rc;
    /* a text without features (empty) is never a yes */
    *margin = n ? m->bias + m->scale * (double)s.q / sqrt((double)n) - m->threshold : -1e9;
    if (actionable) *actionable = s.act;
    return 0;
}

int zt__clf_margin(const struct zt__clf *m, const char *text, size_t len, double *margin)
{
    return zt__clf_score(m, text, len, margin, NULL);
}
