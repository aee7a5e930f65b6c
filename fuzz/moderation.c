/* fuzz/moderation.c: zt_moderation_check over arbitrary bytes, and the term
 * payload reader. The first byte picks the target. Invariants: valid UTF-8
 * is always checked; scores in [0, 1]; matched follows the threshold; shown
 * terms are NUL-terminated valid UTF-8. A built-in term table exercises
 * every kind of entry (words, phrases, prefixes, substrings, hosts, TLDs). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_moderation.h"
#include "zentalk/zt_str.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct zt_moderation *mod;

static void init(void)
{
    static const struct {
        enum zt_mod_category c;
        const char *t;
        const char *lang;
    } terms[] = {
        {ZT_MOD_PROFANITY, "fuck", NULL},      {ZT_MOD_PROFANITY, "shit", "en"},
        {ZT_MOD_PROFANITY, "ass", NULL},       {ZT_MOD_PROFANITY, "bite", "fr"},
        {ZT_MOD_SEXUAL, "porn*", NULL},        {ZT_MOD_HATE, "sub human", NULL},
        {ZT_MOD_HARASSMENT, "i will kill you", NULL}, {ZT_MOD_SELF_HARM, "self-harm", NULL},
        {ZT_MOD_PROFANITY, "\xE4\xB8\x8B\xE8\xB4\xB1", "zh"}, {ZT_MOD_PROFANITY, "\xD0\xB1\xD0\xBB\xD1\x8F", "ru"},
        {ZT_MOD_SPAM_LINKS, "bit.ly", NULL},   {ZT_MOD_SPAM_LINKS, ".xyz", NULL},
    };
    struct zt_moderation_builder *b = NULL;
    if (zt_moderation_builder_new(&b) != 0) abort();
    for (size_t i = 0; i < sizeof terms / sizeof terms[0]; i++)
        if (zt_moderation_builder_add(b, terms[i].c, terms[i].t, strlen(terms[i].t), 0.8, terms[i].lang) != 0)
            abort();
    uint8_t *p = NULL;
    size_t n = 0;
    if (zt_moderation_builder_payload(b, &p, &n) != 0 || zt_moderation_from_payload(p, n, &mod) != 0) abort();
    zt_moderation_builder_free(b);
    zt_free(p);
}

static void check(const struct zt_moderation_result *r, double th)
{
    if (r->n_matches > ZT_MODERATION_MAX_MATCHES) abort();
    for (int c = 0; c < ZT_MOD_N_CATEGORIES; c++) {
        if (!(r->score[c] >= 0 && r->score[c] <= 1)) abort();
        if (r->matched[c] != (r->score[c] > 0 && r->score[c] >= th)) abort();
    }
    for (size_t i = 0; i < r->n_matches; i++) {
        size_t l = strnlen(r->matches[i].term, ZT_MODERATION_TERM_MAX);
        if (l >= ZT_MODERATION_TERM_MAX || !zt_utf8_valid(r->matches[i].term, l)) abort();
        if (r->score[r->matches[i].category] <= 0) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!mod) init();
    if (size == 0 || size > 16384) return 0;
    const char *s = (const char *)data + 1;
    size_t len = size - 1;
    struct zt_moderation_policy pol = {
        .threshold = (data[0] >> 1) / 127.0,
        .actions = {ZT_MOD_FLAG, ZT_MOD_FLAG, ZT_MOD_BLOCK, ZT_MOD_BLOCK, ZT_MOD_FLAG, ZT_MOD_ALLOW},
        .lang = (data[0] & 2) ? "fr" : NULL,
    };
    struct zt_moderation_result r;
    if (data[0] & 1) {
        struct zt_moderation *x = NULL;
        if (zt_moderation_from_payload(s, len, &x) == 0) {
            if (zt_moderation_check(x, "f u c k bit.ly/x sh1t", 21, &pol, &r) != 0) abort();
            check(&r, pol.threshold);
            zt_moderation_free(x);
        }
        return 0;
    }
    int rc = zt_moderation_check(mod, s, len, &pol, &r);
    if (zt_utf8_valid(s, len) && rc != 0) abort();
    if (rc == 0) check(&r, pol.threshold);
    return 0;
}
