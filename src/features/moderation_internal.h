/* moderation_internal.h: what moderation.c and moderation_harass.c share
 * (not installed). */
#ifndef ZT_FEATURES_MODERATION_INTERNAL_H
#define ZT_FEATURES_MODERATION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* One moderation token: case-folded, accents stripped, apostrophes split. */
struct zt__mod_word {
    const char *p;
    size_t len;
};

#define ZT__MOD_HITS_MAX 8

struct zt__mod_hits {
    struct {
        const char *label; /* static: "insult", "threat", "doxxing", ... */
        double weight;
    } v[ZT__MOD_HITS_MAX];
    size_t n;
    bool friendly; /* banter markers ("jk", "love you", 😂, ❤): insults count less */
    bool game;     /* a game, a match or a laugh ("in ranked", "at ping pong", "lol"; not "after the game") */
    bool praise;   /* round 9: a word of praise ("you're brilliant", "t'es un génie", "making me blush") */
    bool mild;     /* round 12: a judgement of a skill ("you're hopeless at directions") or a
                    * manner ("come as you are"): the learned model's yes counts less */
};

/* The harassment rules (moderation_harass.c) over the words w[0..n) of a
 * message and its raw text (for contact data); fills h (distinct labels). */
void zt__mod_harass(const struct zt__mod_word *w, size_t n, const char *raw, size_t rawlen, struct zt__mod_hits *h);

/* The learned harassment classifier (learned.h) says yes at its margin 0:
 * that margin is moved to the logit of 0.7 (the default
 * features.moderation.threshold) for the weight of its match. */
#define ZT__MOD_LEARNED_AT 0.8472978603872037

struct zt_moderation;
struct zt_moderation_policy;
struct zt_moderation_result;
/* zt_moderation_check() without the learned classifier: for
 * cross-validation (zt-train-clf cv). */
int zt__moderation_check_rules(const struct zt_moderation *m, const char *text, size_t len,
                               const struct zt_moderation_policy *policy, struct zt_moderation_result *out);

/* The learned harassment model that a check consults: its yes needs
 * margin >= offset + gate (a text naming no person; gate3: a third person
 * only, learned.h). zt_moderation_check() uses the compiled-in model at
 * offset 0 with learned.h's gates. */
struct zt_hlr;
struct zt__mod_learned {
    const struct zt_hlr *m;
    double offset, gate, gate3;
};

/* zt_moderation_check() with the learned model `learned` (NULL: the rules
 * alone): the whole decision for cross-validation (round 12, zt-train-clf
 * cv with ZT_CV_FULL=1). */
int zt__moderation_check_with(const struct zt_moderation *m, const char *text, size_t len,
                              const struct zt_moderation_policy *policy, const struct zt__mod_learned *learned,
                              struct zt_moderation_result *out);

#endif
