/* moderation_harass.c: the harassment rules of zt_moderation_check()
 * (issue 16): insults aimed at a person, exclusion, incitement to
 * self-harm, threats with intent and doxxing. The word lists of
 * config/moderation/ match fixed phrases; these rules match shapes:
 *
 *   insult     a second-person target ("you", "u", "ur", "you're", "you
 *              are so", "what a ... you are") or a named person ("X is a
 *              ...") with an insult word, no negation between ("you're not
 *              stupid" is not an insult; "I'm such an idiot" aims at the
 *              speaker; "he's a stupid cat" insults no one: a third person
 *              needs an insult noun)
 *   exclusion  "nobody wants you", "everyone hates you", "you're not
 *              welcome", "get out of this chat", "leave the group"
 *   self-harm  "kill yourself", "just die", "die already", "unalive yourself"
 *   threat     a first-person subject ("i", "i'll", "im gonna", "we") and a
 *              violent verb aimed at "you"/"your ..." (a third person counts
 *              less), not negated and not a game ("beat you at chess");
 *              fixed threats ("watch your back", "you're dead when", "i know
 *              where your kids")
 *   doxxing    contact data (phone number, street address, e-mail, SSN,
 *              UK postcode) in a hostile message that points at a person
 *              ("his number is", "the loser lives at", "flood it")
 *
 * Words are the moderation tokens: case-folded, accents stripped,
 * apostrophes split ("you're" -> "you" "re"). They run on every message,
 * whatever its detected language (English rules; issue 16: a short English
 * insult detected as Czech must still match). Weights are listed in
 * docs/features/moderation.md. */
#include <stdbool.h>
#include <string.h>

#include "moderation_internal.h"
#include "zentalk/zt_str.h"

#define W_INSULT 0.8
#define W_INSULT3 0.75
#define W_BANTER 0.55 /* an insult among friendly markers: not flagged alone */ /* a named third person */
#define W_EXCLUDE 0.75
#define W_INCITE 0.95
#define W_THREAT 0.9
#define W_THREAT3 0.6 /* a threat against a third person ("i'll kill him"): hyperbole is common */
#define W_DOXX 0.9

static bool eqw(const struct zt__mod_word *w, const char *s)
{
    /* byte by byte: most comparisons end at the first byte, and no strlen */
    for (size_t i = 0; i < w->len; i++)
        if (s[i] != w->p[i]) return false; /* also stops at the NUL of a shorter s */
    return s[w->len] == 0;
}

static bool in(const struct zt__mod_word *w, const char *const *list)
{
    for (size_t i = 0; list[i]; i++)
        if (eqw(w, list[i])) return true;
    return false;
}

/* insult words: nouns (usable for a third person) and adjectives */
static const char *const INSULT_N[] = {
    "idiot",   "idiots",   "moron",    "morons",  "loser",   "losers",  "clown",   "freak",    "imbecile",
    "dumbass", "jackass",  "jerk",     "scum",    "creep",   "failure", "joke",    "embarrassment",
    "garbage", "trash",    "rat",      "pig",     "cretin",  "dimwit",  "halfwit", "nobody",   "nothing",
    "waste",   "disgrace", "parasite", "pos",     "dork",    "weirdo",  "coward",  "fool",     "muppet",
    "donkey",  "nitwit",   "numpty",   "bellend", "tosser",  "prick",   "wanker",  "cunt",     "bitch",
    "asshole", "arsehole", "retard",   "degenerate", "lowlife", "simp",  "cow",     "slut",     "whore",
    "bastard", "dickhead", "twat",     "scumbag", "psycho",
    /* round 5 */
    "fatso", "perv", "buffoon", "disappointment", "snowflake",
    /* round 9 */
    "brat", "bimbo", "fatty", "sfigato", "sfigata", NULL};
static const char *const INSULT_A[] = {
    "stupid", "dumb", "pathetic", "worthless", "useless", "disgusting", "ugly", "brainless", "clueless",
    "incompetent", "annoying", "fat", "hopeless", "retarded", "gross", "repulsive", "dense", "thick",
    "vile", "awful", "insufferable", "braindead", "dumbest", "stupidest", "ugliest", "worst", "lamest",
    "saddest", "creepy",
    /* round 9 */
    "whiny", "irrelevant", "spineless", "talentless", NULL};
static const char *const FILLER[] = {"such", "so", "a", "an", "the", "absolute", "total", "complete", "fucking", "fking",
                                     "effing", "freaking", "really", "truly", "utter", "big", "little", "pathetic",
                                     "stupid", "dumb", "ugly", "worthless", "useless", "just", "literally", "of", "piece",
                                     "bunch", "always", "been", "and", "an", "honestly", "ever", "fat", "lazy", "too", "very", "way", "such",
                                     "most", "biggest", "genuinely", "absolutely", "seriously", "officially",
                                     /* round 9 */ "totally", "completely", "utterly", NULL};
static const char *const NEG[] = {"not", "t", "never", "no", "isn", "aren", "nt", "hardly", "don", "didn", "wasn",
                                  "weren", "won", NULL};
static const char *const YOU[] = {"you", "u", "ya", "ur", "youre", "yall", NULL};

/* Index of the next word at or after i that is not a filler; n if none
 * within max words. */
static size_t skip_fill(const struct zt__mod_word *w, size_t n, size_t i, size_t max, bool *neg)
{
    size_t k = 0;
    while (i < n && k < max && (in(&w[i], FILLER) || in(&w[i], NEG) || eqw(&w[i], "re") || eqw(&w[i], "are") ||
                                eqw(&w[i], "r") || eqw(&w[i], "is") || eqw(&w[i], "s") || eqw(&w[i], "were") ||
                                eqw(&w[i], "being") || eqw(&w[i], "look") || eqw(&w[i], "sound") ||
                                eqw(&w[i], "like") || eqw(&w[i], "act") || eqw(&w[i], "acting") ||
                                eqw(&w[i], "have"))) {
        if (in(&w[i], NEG)) *neg = true;
        i++;
        k++;
    }
    return k < max ? i : n;
}

/* Do the words at i spell phrase (words separated by single spaces; "@you"
 * is any second-person word: you, u, ya, ur)? */
static bool phrase_at(const struct zt__mod_word *w, size_t n, size_t i, const char *phrase)
{
    /* quick reject on the first byte: every second-person word starts with 'y' or 'u' */
    if (i >= n || !w[i].len) return false;
    char c0 = w[i].p[0];
    if (phrase[0] == '@' ? c0 != 'y' && c0 != 'u' : c0 != phrase[0]) return false;
    const char *p = phrase;
    for (size_t k = i;; k++) {
        if (k >= n) return false;
        if (p[0] == '@') { /* "@you" */
            if (!in(&w[k], YOU)) return false;
            p += 4;
        } else {
            size_t q = 0;
            while (q < w[k].len && p[q] == w[k].p[q]) q++;
            if (q < w[k].len || (p[q] != ' ' && p[q] != 0)) return false;
            p += q;
        }
        if (*p == 0) return true;
        p++; /* the space */
    }
}

/* The first bytes of a message's words, to skip phrases that cannot start anywhere. */
struct firsts {
    unsigned char b[32];
};

static void firsts_of(const struct zt__mod_word *w, size_t n, struct firsts *f)
{
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < n; i++)
        if (w[i].len) {
            unsigned char c = (unsigned char)w[i].p[0];
            f->b[c >> 3] |= (unsigned char)(1u << (c & 7));
        }
}

static bool may_start(const struct firsts *f, const char *phrase)
{
    unsigned char c = (unsigned char)phrase[0];
    if (c == '@') return (f->b['y' >> 3] & (1u << ('y' & 7))) || (f->b['u' >> 3] & (1u << ('u' & 7)));
    return f->b[c >> 3] & (1u << (c & 7));
}

static bool is_insult(const struct zt__mod_word *w)
{
    return in(w, INSULT_N) || in(w, INSULT_A);
}

static void put(struct zt__mod_hits *h, const char *label, double w)
{
    for (size_t i = 0; i < h->n; i++)
        if (strcmp(h->v[i].label, label) == 0) {
            /* the same rule twice: more evidence, capped */
            if (h->v[i].weight < w) h->v[i].weight = w;
            return;
        }
    if (h->n < ZT__MOD_HITS_MAX) {
        h->v[h->n].label = label;
        h->v[h->n].weight = w;
        h->n++;
    }
}

/* ---- insults and exclusion ------------------------------------------------------- */

static void insults(const struct zt__mod_word *w, size_t n, bool friendly, struct zt__mod_hits *h)
{
    int count = 0;
    /* banter: "lmao you idiot, that was hilarious", "you're so dumb 😂 love you" */
    const double w_insult = friendly ? W_BANTER : W_INSULT;
    for (size_t i = 0; i < n; i++) {
        bool you = in(&w[i], YOU) || (eqw(&w[i], "your") && i + 1 < n && (eqw(&w[i + 1], "so") || eqw(&w[i + 1], "such")));
        if (you) {
            /* "you (are|re) (such) (a) INSULT", "you INSULT", "u r so dumb" */
            bool neg = false;
            size_t j = skip_fill(w, n, i + 1, 6, &neg);
            /* the filler run may itself hold the insult adjective ("you stupid idiot") */
            bool hit = false;
            /* round 6: a judgement of a skill is not an insult ("you're hopeless at
             * directions", "you're trash at this game") */
            for (size_t k = i + 1; k < n && k <= j && !hit; k++)
                if (is_insult(&w[k])) {
                    hit = !(k + 1 < n && eqw(&w[k + 1], "at"));
                    h->mild |= !hit; /* round 12: the learned model's yes counts less too */
                }
            if (hit && !neg) {
                /* "you know it was stupid" never gets here: skip_fill stops at "know" */
                count++;
                put(h, "insult", w_insult);
            }
        }
        /* "what a moron you are", "such an idiot you are" */
        if ((eqw(&w[i], "what") || eqw(&w[i], "such")) && i + 3 < n) {
            bool neg = false;
            size_t j = skip_fill(w, n, i + 1, 4, &neg);
            if (j < n && is_insult(&w[j]) && j + 1 < n && in(&w[j + 1], YOU)) {
                count++;
                put(h, "insult", w_insult);
            } else if (eqw(&w[i], "what") && j < n && in(&w[j], INSULT_N) && (j + 1 == n || in(&w[j + 1], YOU))) {
                put(h, "insult", W_INSULT3);
            }
        }
        /* a named third person: "X is a pathetic loser", "he's such a moron" */
        if ((eqw(&w[i], "is") || (eqw(&w[i], "s") && i > 0)) && i > 0 && !eqw(&w[i - 1], "it") &&
            !eqw(&w[i - 1], "that") && !eqw(&w[i - 1], "this") && !eqw(&w[i - 1], "what") &&
            !eqw(&w[i - 1], "there") && !eqw(&w[i - 1], "here")) {
            bool neg = false;
            size_t j = skip_fill(w, n, i + 1, 5, &neg);
            if (j < n && in(&w[j], INSULT_N) && !neg && !eqw(&w[j], "nothing") && !eqw(&w[j], "nobody") &&
                !eqw(&w[j], "joke") && !eqw(&w[j], "waste")) {
                bool a = false;
                for (size_t k = i + 1; k < j; k++) a |= eqw(&w[k], "a") || eqw(&w[k], "an") || eqw(&w[k], "such");
                bool fond = false; /* "he's an idiot sometimes but I love him" */
                for (size_t k = j + 1; k < n; k++)
                    fond |= eqw(&w[k], "love") || eqw(&w[k], "adore") || eqw(&w[k], "bless") || eqw(&w[k], "haha") ||
                            eqw(&w[k], "lol");
                if (a && !fond) put(h, "insult", W_INSULT3);
            }
        }
        /* vocative: "shut up, idiot", "read the thread you dumb idiot" is above */
        if (eqw(&w[i], "shut") && i + 1 < n && eqw(&w[i + 1], "up")) put(h, "shut_up", 0.5);
    }
    if (count >= 2) put(h, "insults", 0.6);
    /* round 9: a message that opens with an insult and nothing it describes:
     * "worthless. absolutely worthless.", "whiny brat, grow up", "useless piece
     * of garbage" (the insult ends the run or another follows); "stupid printer",
     * "fat chance", "trash day" describe a thing. Also "imagine being this stupid". */
    size_t v0 = 0;
    if (n > 2 && eqw(&w[0], "imagine") && eqw(&w[1], "being")) v0 = 2;
    if (n > v0) {
        size_t a = v0;
        while (v0 > 0 && a < n && a < v0 + 3 && !is_insult(&w[a]) &&
               (in(&w[a], FILLER) || eqw(&w[a], "this") || eqw(&w[a], "that")))
            a++;
        if (a < n && is_insult(&w[a])) {
            size_t b = a + 1;
            while (b < n && b < a + 5 && !is_insult(&w[b]) && in(&w[b], FILLER)) b++;
            bool joke = eqw(&w[a], "joke") || eqw(&w[a], "nothing") || eqw(&w[a], "nobody") || eqw(&w[a], "waste");
            /* one word alone ("Creepy!", "Weird.") is a reaction, not aimed at anyone (review9 F8) */
            if (!joke && (v0 > 0 || (b >= n && n > 1) || (b < n && is_insult(&w[b])))) put(h, "insult", w_insult);
        }
    }
    /* a dismissal with an insult noun: "get lost, freak", "shut up idiot" */
    bool dismiss = false;
    for (size_t i = 0; i + 1 < n; i++)
        dismiss |= (eqw(&w[i], "shut") && eqw(&w[i + 1], "up")) || (eqw(&w[i], "get") && eqw(&w[i + 1], "lost")) ||
                   (eqw(&w[i], "go") && (eqw(&w[i + 1], "away") || eqw(&w[i + 1], "cry")));
    if (dismiss)
        for (size_t i = 0; i < n; i++)
            if (in(&w[i], INSULT_N) && !eqw(&w[i], "nothing") && !eqw(&w[i], "nobody") && !eqw(&w[i], "joke")) {
                put(h, "insult", w_insult);
                break;
            }
    /* round 5: the same in the other supported languages ("cállate, estúpido",
     * "stai zitto, deficiente", "rot op, eikel"), folded */
    static const char *const shut[] = {"callate", "callaos", "calla", "cierra", "zitto", "zitta", "taci", "sparisci",
                                       "ferme", "tais", "degage", "klappe", "maul", "verpiss", "hau", "verschwinde",
                                       "rot", "bek", "kop", "cala", "some", NULL};
    static const char *const insult_x[] = {"estupido", "estupida", "idiota", "imbecil", "deficiente", "abruti",
                                           "abrutie", "cretin", "cretine", "cretino", "cretina", "connard", "conne",
                                           "eikel", "sukkel", "lul", "otario", "babaca", "burro", "burra", "payaso",
                                           "gilipollas", "pendejo", "tonto", "tonta", "stronzo", "stronza", "scemo",
                                           "scema", "coglione", "trottel", "depp", "vollidiot", "arschloch", "idiot",
                                           "loser", "creep", "fatso", "snowflake", "clown", "fatty", "sfigato", "sfigata", NULL};
    bool shut_x = false, ins_x = false;
    for (size_t i = 0; i < n && !shut_x; i++) shut_x = in(&w[i], shut);
    for (size_t i = 0; i < n && shut_x && !ins_x; i++) ins_x = in(&w[i], insult_x);
    if (shut_x && ins_x) put(h, "insult", w_insult);
}

static const char *const EXCL_SUBJ[] = {"nobody", "noone", "everyone", "everybody", "we", "no", "people", NULL};
static const char *const EXCL_VERB[] = {"wants", "likes", "cares", "hates", "invited", "asked", "needs", "loves",
                                        "care", "want", "like", "hate", "one", "misses", "would", "stand", "trusts",
                                        "respects", "love", "talks", "talk", "texts", "invites", "listens", "laughs",
                                        "laugh", "laughing", "laughed", "miss", NULL};

static void exclusion(const struct zt__mod_word *w, size_t n, struct zt__mod_hits *h)
{
    for (size_t i = 0; i + 1 < n; i++) { /* (round 9: "nobody cares" may end the message) */
        if (!in(&w[i], EXCL_SUBJ)) continue;
        size_t j = i + 1;
        if (eqw(&w[i], "no") && eqw(&w[j], "one")) j++;
        else if (eqw(&w[i], "no")) continue;
        /* "no one in this group likes you": up to four words between */
        size_t lim = j + 4;
        while (j < n && j < lim && !in(&w[j], EXCL_VERB)) j++;
        bool none = eqw(&w[i], "nobody") || eqw(&w[i], "noone") || eqw(&w[i], "no");
        /* round 9: "keep crying, no one cares" (the verb ends the message) */
        if (none && j + 1 == n && (eqw(&w[j], "cares") || eqw(&w[j], "asked"))) {
            put(h, "exclusion", W_EXCLUDE);
            continue;
        }
        if (j + 1 >= n || !in(&w[j], EXCL_VERB) || eqw(&w[j], "one")) continue;
        if (eqw(&w[j], "miss") && !none) continue; /* "everyone will miss you" */
        /* "nobody wants you", "nobody cares about your opinion", "we all hate you" */
        size_t k = j + 1;
        if (k < n && (eqw(&w[k], "about") || eqw(&w[k], "for") || eqw(&w[k], "what") || eqw(&w[k], "to") ||
                      eqw(&w[k], "with") || eqw(&w[k], "at")))
            k++;
        if (k < n && (in(&w[k], YOU) || eqw(&w[k], "your"))) {
            if (eqw(&w[i], "we") && !(eqw(&w[j], "hate") || eqw(&w[j], "want"))) continue;
            put(h, "exclusion", W_EXCLUDE);
        }
    }
    static const char *const phrases[] = {
        "not welcome",
        "get out of this",
        "get out of the group",
        "get out of here",
        "leave the group",
        "leave this group",
        "leave the chat",
        "get lost",
        "nobody asked",
        "no one asked",
        "stop posting",
        "go away",
        "get a life",
        "@you should just disappear",
        "@you should disappear",
        "do us all a favour",
        "do us all a favor",
        /* round 2 (issue 16) */
        "and disappear",
        "better without @you",
        "better off without @you",
        "@you disgust me",
        "@you make me sick",
        "excuse for a human",
        /* round 5 */
        "uninstall life",
        "uninstall your life",
        "existence is a",
        "vai a merda",
        "vete a la mierda",
        "fai schifo",
        "va te faire",
        /* round 9 */
        "belong in the bin",
        "belong in the trash",
        "belong in a zoo",
        "belong in the zoo",
        "belong in a cage",
        "never be good at anything",
        "@you ll never amount to",
        "good for nothing",
        "thought @you had friends",
        "@you re not part of this",
        "back to the asylum",
        "@you re mentally ill",
        "keep crying",
        "nikt cie tu nie chce",
        "nikt cie nie lubi",
        "kimse seni sevmiyor",
        "kimse seni istemiyor",
        "koi tujhe pasand nahi",
        "tu bilkul bekaar",
    };
    static const double pw[] = {0.7, 0.7, 0.7, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.5,
                                0.4, 0.6, 0.75, 0.75, 0.5, 0.5, 0.75, 0.8, 0.8, 0.8, 0.8, 0.8,
                                0.8, 0.8, 0.75, 0.8, 0.8, 0.75, 0.8,
                                /* round 9 */
                                0.8, 0.8, 0.8, 0.8, 0.8, 0.75, 0.8, 0.75, 0.8, 0.75, 0.8, 0.75, 0.6, 0.8, 0.8,
                                0.8, 0.8, 0.8, 0.8};
    _Static_assert(sizeof pw / sizeof pw[0] == sizeof phrases / sizeof phrases[0], "one weight a phrase");
    struct firsts f;
    firsts_of(w, n, &f);
    for (size_t p = 0; p < sizeof phrases / sizeof phrases[0]; p++)
        for (size_t i = 0; i < n && may_start(&f, phrases[p]); i++) {
            if (phrase_at(w, n, i, phrases[p])) {
                put(h, p <= 6 || p == 13 || p == 14 || p >= 17 ? "exclusion" : "dismissal", pw[p]);
                break;
            }
        }
}

/* ---- incitement and threats ---------------------------------------------------------- */

static void incitement(const struct zt__mod_word *w, size_t n, struct zt__mod_hits *h)
{
    for (size_t i = 0; i < n; i++) {
        if ((eqw(&w[i], "kill") || eqw(&w[i], "unalive") || eqw(&w[i], "end") || eqw(&w[i], "hang")) && i + 1 < n &&
            (eqw(&w[i + 1], "yourself") || eqw(&w[i + 1], "urself") || eqw(&w[i + 1], "yourselves")))
            put(h, "self_harm_incitement", W_INCITE);
        if (eqw(&w[i], "kys")) put(h, "self_harm_incitement", W_INCITE);
        if (eqw(&w[i], "die") && i > 0 && (eqw(&w[i - 1], "just") || eqw(&w[i - 1], "go") || eqw(&w[i - 1], "pls") ||
                                           eqw(&w[i - 1], "please") || eqw(&w[i - 1], "should")))
            put(h, "self_harm_incitement", W_INCITE);
        if (eqw(&w[i], "die") && i + 1 < n && eqw(&w[i + 1], "already")) put(h, "self_harm_incitement", W_INCITE);
        if (eqw(&w[i], "nobody") && i + 3 < n && eqw(&w[i + 1], "would") && eqw(&w[i + 2], "miss") &&
            in(&w[i + 3], YOU))
            put(h, "self_harm_incitement", W_INCITE);
        /* round 6: the other supported languages (folded) */
        static const char *const other[] = {"jezelf van kant", "se mata logo", "vai se matar", "ammazzati",
                                            "tue toi", "matate", "suicidate", "uccidici", NULL};
        for (size_t k = 0; other[k]; k++)
            if (phrase_at(w, n, i, other[k])) put(h, "self_harm_incitement", W_INCITE);
    }
}

static const char *const VIOLENT[] = {"kill",  "murder", "hurt",     "beat",   "stab",  "shoot",  "punch", "smash",
                                      "break", "burn",   "end",      "strangle", "choke", "slap", "bash",  "rape",
                                      "cut",   "gut",    "wreck",    "torture", "drown", "hunt",  "find",  "get",
                                      "batter", "kick",  "bury",     "destroy", "fight", "jump",  "attack", "ruin",
                                      "slash", "poison", "hang", "skin", "slit", "knock", NULL};
/* verbs that are seldom hyperbole: a threat against a third person counts in full */
static const char *const GRAVE[] = {"stab", "shoot", "murder", "strangle", "rape", "torture", "poison", "slit",
                                    "slash", "choke", "drown", "bury", NULL};
static const char *const FIRST[] = {"i",    "ill",      "im",       "imma", "ima", "we", "gonna", "gunna",
                                    "finna", "someone", "somebody", "they", "me",  NULL};
/* "your ..." that stands for the reader: kin, body, home */
static const char *const YOURS[] = {"family", "kids", "children", "child", "wife", "husband", "mom", "mum", "mother",
                                    "dad", "father", "brother", "sister", "son", "daughter", "dog", "cat", "face",
                                    "head", "legs", "arms", "neck", "body", "house", "car", "girlfriend", "boyfriend",
                                    "baby", "teeth", "skull", NULL};
static const char *const TARGET3[] = {"him", "her", "them", "his", "their", NULL};
static const char *const GAME[] = {"game",  "chess", "fifa",  "round", "match",    "cards", "poker", "tennis",
                                   "golf",  "pool",  "darts", "mario", "scrabble", "monopoly", "haha", "lol",
                                   "lmao",  "slack", "deal",  "discount", "slice", "piece", "seat", "lift", "ranked", "tournament",
                                   "pong", "uno", "smash", "catan", "kart", "fortnite", "badminton", "squash", "quiz",
                                   "level", "boss", "pitch", "final", NULL};

static void threats(const struct zt__mod_word *w, size_t n, struct zt__mod_hits *h)
{
    for (size_t j = 0; j < n; j++) {
        if (!in(&w[j], VIOLENT)) continue;
        /* a first-person subject (or "gonna") within five words before, no negation between */
        bool subj = false, neg = false;
        for (size_t k = j > 6 ? j - 6 : 0; k < j; k++) {
            if (in(&w[k], FIRST)) subj = true, neg = false;
            else if (subj && (in(&w[k], NEG) || eqw(&w[k], "wouldn") || eqw(&w[k], "if"))) neg = true;
        }
        if (!subj || neg) continue;
        /* the target right after (through "the crap out of", "your ... in") */
        size_t t = j + 1;
        bool through = false;
        while (t < n && t <= j + 4 &&
               (eqw(&w[t], "the") || eqw(&w[t], "crap") || eqw(&w[t], "shit") || eqw(&w[t], "hell") ||
                eqw(&w[t], "out") || eqw(&w[t], "of") || eqw(&w[t], "up") || eqw(&w[t], "down") ||
                eqw(&w[t], "every") || eqw(&w[t], "bone") || eqw(&w[t], "in") || eqw(&w[t], "all"))) {
            through |= eqw(&w[t], "crap") || eqw(&w[t], "shit") || eqw(&w[t], "hell");
            t++;
        }
        if (t >= n) continue;
        bool you = in(&w[t], YOU) || eqw(&w[t], "your") || eqw(&w[t], "yourself") || eqw(&w[t], "ur");
        /* "beat your brother up", "burn your house": the reader's kin and home count as the reader */
        bool yours = (eqw(&w[t], "your") || eqw(&w[t], "ur")) && t + 1 < n && in(&w[t + 1], YOURS);
        bool third = in(&w[t], TARGET3);
        if (!you && !third) continue;
        if (yours) third = false;
        /* "find you" and "get you" are threats only with more ("i will find you and hurt you") */
        bool weak = eqw(&w[j], "find") || eqw(&w[j], "get") || eqw(&w[j], "fight") || eqw(&w[j], "jump") ||
                    eqw(&w[j], "destroy") || eqw(&w[j], "ruin") || eqw(&w[j], "beat") || eqw(&w[j], "end");
        if (through) weak = false;
        /* a game or a joke: "i'll destroy you at chess", "beat you in fifa" */
        bool game = t + 1 < n && eqw(&w[t + 1], "at") && you && !eqw(&w[t], "your");
        for (size_t k = t + 1; k < n; k++)
            game |= in(&w[k], GAME) && !(k > 1 && (eqw(&w[k - 2], "after") || eqw(&w[k - 2], "before"))) &&
                    !(k > 0 && (eqw(&w[k - 1], "after") || eqw(&w[k - 1], "before"))); /* "jump you after the game" */
        if (game) continue;
        /* "beat you up", and a bare "i'll get you" / "we will find you" ending the message */
        if (weak && you && t + 1 < n && eqw(&w[t + 1], "up")) weak = false;
        if (weak && yours && ((t + 2 < n && eqw(&w[t + 2], "up")) || !(eqw(&w[j], "get") || eqw(&w[j], "find"))))
            weak = false; /* "destroy your car", not "get your mum a present" */
        /* round 8: a time or a place to do it ("beat you senseless on Friday at the bus stop"); only
         * for the violent weak verbs: "get you" / "find you" are mostly kind ("I'll get you a coffee
         * tomorrow", "find you a black dress"), review 8 F6 */
        if (weak && you && t + 1 < n && !eqw(&w[t + 1], "to") && !eqw(&w[j], "get") && !eqw(&w[j], "find")) {
            static const char *const when[] = {"tonight", "tomorrow", "monday", "tuesday", "wednesday", "thursday",
                                               "friday", "saturday", "sunday", "outside", "minute", "stop",
                                               "senseless", "unconscious", "bloody", "black", NULL};
            for (size_t k = t + 1; k < n && weak; k++)
                if (in(&w[k], when)) weak = false;
        }
        if (weak && you && t + 1 == n && !eqw(&w[j], "beat")) {
            put(h, "threat_end", 0.75);
            continue;
        }
        double wt = you ? (weak ? 0.55 : W_THREAT) : (in(&w[j], GRAVE) ? W_THREAT : W_THREAT3);
        put(h, weak ? "threat_weak" : "threat", wt);
    }
    static const char *const phrases[] = {
        "watch your back",
        "know where @you live",
        "know where your",
        "@you re dead",
        "you are dead",
        "won t live",
        "coming for @you",
        "make @you pay",
        "@you ll regret",
        "you will regret",
        "you ll pay for",
        "say that again and",
        "one more word and",
        "keep talking and",
        "i swear i",
        "be careful",
        "sleep with one eye",
        "@you re next",
        "pay him a visit",
        "pay her a visit",
        "burn your house",
        "end @you",
        "make @you regret",
        "come to your house",
        "go back to where @you came from",
        "hope @you die",
        "hope @you get hit",
        "hope @you get run over",
        "hope @you get cancer",
        "hope @you rot",
        "hope @you suffer",
        "hope @you choke",
        "hope @you burn",
        "make @you suffer",
        "@you re done",
        "@you ll be sorry",
        "coming to your house",
        "wait till i",
        "better watch yourself",
        "watch yourself",
        "not joking",
        "@you re going to get hurt",
        "going to get hurt",
        "make sure @you never",
        "never walk again",
        "if @you keep talking",
        /* round 2 (issue 16): tuned on tests/data/tune/round2 */
        "what s coming to @you",
        "put @you in the hospital",
        "put @you in hospital",
        "sleep with your door",
        "know where @you work",
        "won t see tomorrow",
        "wish @you were never born",
        "find out where @you live",
        "@you re a dead man",
        "dead man walking",
        "again and see what happens",
        "family isn t safe",
        "won t be safe",
        "end your life",
        "knock your teeth",
        "rip your head off",
        "meet me outside and",
        "bullet in @you",
        "put a bullet",
        "make your life hell",
        "make your life a living hell",
        "@you re gonna get hurt",
        "gonna get hurt",
        "count your days",
        "days are numbered",
        "waiting for @you after school",
        "kick your head in",
        "smash your face",
        "@you re going to regret",
        "@you re gonna regret",
        "@you will be sorry",
        "never see your",
        "@you ll all pay",
        "six feet under",
        "@you in a ditch",
        "bringing a gun",
        "shoot up",
        "teach @you a lesson",
        "@you r dead",
        "ruin your life",
        "destroy your life",
        "outside your house",
        "come after @you",
        "set your house on fire",
        "burn down your",
        "hope someone kills @you",
        "hope someone stabs @you",
        "hope someone hurts @you",
        "hope someone shoots @you",
        "hope somebody kills @you",
        "hope somebody hurts @you",
        "make @you disappear",
        "@you better watch out",
        "better watch out",
        "catch @you alone",
        "and burn it down",
        "get a bullet",
        "end up in hospital",
        "end up in the hospital",
        "pay for what @you did",
        "see how brave @you are",
        "to deal with @you",
        "jump @you after",
        "watch my back if",
        "and sort @you out",
        /* round 5: veiled threats, and the other supported languages' (folded) */
        "a shame if something",
        "last prayers",
        "se donde vives",
        "so dove abiti",
        "sais ou tu habites",
        "weiss wo du wohnst",
        "onde moras",
        "onde voce mora",
        "weet waar je woont",
        "ir a por ti",
        "vengo a prenderti",
        "vais bruler",
        /* round 7 */
        "running @you over",
        "run @you over",
        "push @you down",
        "push @you off",
        "half to death",
        "take care of @you permanently",
        "getting stabbed",
        "get stabbed",
        "smash every window",
        "smash your windows",
        "every window in your",
        "know which school",
        "what i did to the last",
        "or i ll send the",
        "or i ll post the",
        "or i ll leak",
        "sort @you out with my",
        "with my boys to",
        "first one i m visiting",
        "break your legs",
        "break your neck",
        "slash your tyres",
        "slash your tires",
        "key your car",
        "with everyone inside",
        "bring a knife",
        "@you re getting hurt",
        "and then i come for",
        "kick your door in",
        "it s your last night",
        /* round 8 */
        "put @you in a wheelchair",
        "put @you in a coma",
        "put @you in the ground",
        "put @you in a body bag",
        "put @you in the grave",
        "bomb the office",
        "bomb the school",
        "blow up the office",
        "blow up the school",
        /* round 9 */
        "kill everyone at",
        "shoot everyone",
        "come round and make @you",
        "your legs get broken",
        "legs get broken",
        "or your photos go",
        "wife should be careful",
        "husband should be careful",
        "kids should be careful",
        "family should be careful",
        "daughter should be careful",
        "son should be careful",
        "throw @you off the balcony",
        "throw @you off the roof",
        "throw @you off a",
        "throw @you off the bridge",
        "or i ll come round and",
        "or i ll come over and",
        "or your legs get",
        "or your face gets",
        "and i ll come for @you",
        /* round 6: threats of the other supported languages (folded) */
        "te voy a matar",
        "te reviento",
        "vas a morir",
        "vou te matar",
        "voce morre",
        "vou queimar",
        "bring dich um",
        "mach dich kalt",
        "bist du tot",
        "vais te tuer",
        "vais te buter",
        "ti ammazzo",
        "ti uccido",
        "maak je af",
        "maak ik je af",
        "vermoord je",
        /* round 7: the other languages' (folded), hyperbole-checked like round 6's */
        "voy a por ti",
        "vamos a por ti",
        "je te plante",
        "vais te planter",
        "zunde dein",
        "te parto la cara",
        "te rompo la cara",
        "je te defonce",
        "ti spacco la faccia",
        "vou te quebrar",
        "ik sla je",
        "ich schlag dich",
        "stech dich ab",
        "vais te casser",
        "te quemo",
        "ti brucio",
        "zunde deine",
        "zunde deinen",
        "ik steek je",
        "dein auto an",
        "in de fik",
        "quemar tu",
        "bruler ta",
        "brucio la tua",
        "queimar o teu",
        "queimar seu",
        /* round 8: hurting the reader or their kin, other languages (folded) */
        "hacerle dano a tus",
        "hacerte dano",
        "machucar seus",
        "machucar teus",
        "vou te machucar",
        "ik breek je",
        "ich breche dir",
        "ti accoltello",
        "ik doe je kinderen",
        "faire du mal a tes",
        "te faire du mal",
        "fare del male ai tuoi",
        "ti faccio del male",
        "tu deinen kindern",
        /* round 9: threats and "go die" in languages the lists do not cover (folded) */
        "zabije cie",
        "zabije was",
        "seni oldurecegim",
        "oldurecegim seni",
        "maar dalunga",
        "maar daalunga",
        "maar denge",
        "jaan se maar",
        "geh sterben",
        "stirb einfach",
        "vete a morir",
    };
    static const double pw[] = {0.8, 0.9, 0.7, 0.8, 0.8, 0.8, 0.75, 0.8, 0.6, 0.6, 0.6, 0.5, 0.5, 0.5, 0.3, 0.3,
                                0.8, 0.7, 0.75, 0.75, 0.9, 0.8, 0.8, 0.6, 0.85, 0.9, 0.85, 0.85, 0.9, 0.85, 0.85,
                                0.8, 0.85, 0.85, 0.6, 0.6, 0.75, 0.4, 0.8, 0.55, 0.35, 0.85, 0.6, 0.8, 0.8, 0.4,
                                /* round 2 */
                                0.8, 0.85, 0.85, 0.75, 0.75, 0.85, 0.8, 0.85, 0.85, 0.8, 0.8, 0.8, 0.75, 0.9,
                                0.85, 0.9, 0.75, 0.9, 0.9, 0.8, 0.85, 0.85, 0.6, 0.85, 0.85, 0.8, 0.85, 0.85,
                                0.8, 0.8, 0.75, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.8, 0.8, 0.8, 0.8, 0.75,
                                0.8, 0.9, 0.85, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9,
                                0.85, 0.8, 0.7, 0.8, 0.8, 0.85, 0.7, 0.7,
                                0.8, 0.75, 0.75, 0.8, 0.8, 0.75,
                                /* round 5 */
                                0.8, 0.85, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.75, 0.75, 0.75,
                                /* round 7 */
                                0.85, 0.8, 0.8, 0.75, 0.85, 0.85, 0.8, 0.75, 0.8, 0.8, 0.75, 0.8, 0.8, 0.7, 0.7, 0.8, 0.8, 0.6, 0.8, 0.85, 0.85, 0.8, 0.8, 0.75,
                                0.8, 0.8, 0.8, 0.8, 0.8, 0.8,
                                /* round 8 */
                                0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85,
                                /* round 9 */
                                0.85, 0.85, 0.85, 0.85, 0.85, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85,
                                /* round 6 */
                                0.85, 0.8, 0.8, 0.85, 0.8, 0.75, 0.85, 0.85, 0.8, 0.85, 0.85, 0.85, 0.85, 0.8, 0.8, 0.85,
                                /* round 7, other languages */
                                0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.75, 0.8, 0.75, 0.75, 0.75, 0.85, 0.75, 0.75, 0.75, 0.8, 0.8, 0.8, 0.75, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8,
                                /* round 8, other languages */
                                0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8,
                                /* round 9, other languages */
                                0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85, 0.85};
    /* round 6: the other languages' phrases are hyperbole before a
     * preposition ("te voy a matar a besos", "vou te matar de rir", "ti
     * ammazzo di coccole", "ik maak je af met Monopoly") or among laughs */
    static const char *const hyper[] = {"a", "de", "di", "con", "com", "met", "bij", "mit", "beim", "au", "en",
                                        "haha", "jaja", "kkk", "kkkk", "ahah", "mdr", "lol", NULL};
    size_t first_r6 = sizeof phrases / sizeof phrases[0] - 16 - 26 - 14 - 11; /* round 6's 16, round 7's 26, round 8's 14 and round 9's 11 other languages */
    bool laughs = h->friendly;
    for (size_t i = 0; i < n && !laughs; i++) laughs = in(&w[i], hyper) && w[i].len > 2;
    struct firsts f;
    firsts_of(w, n, &f);
    for (size_t p = 0; p < sizeof phrases / sizeof phrases[0]; p++)
        for (size_t i = 0; i < n && may_start(&f, phrases[p]); i++) {
            if (phrase_at(w, n, i, phrases[p])) {
                if (p >= first_r6) {
                    size_t nw = 1;
                    for (const char *c = phrases[p]; *c; c++) nw += *c == ' ';
                    if (laughs || (i + nw < n && in(&w[i + nw], hyper))) break;
                }
                put(h, p <= 10 || p >= 16 ? "threat_phrase" : "threat_lead", pw[p]);
                _Static_assert(sizeof pw / sizeof pw[0] == sizeof phrases / sizeof phrases[0], "one weight a phrase");
                break;
            }
        }
}

/* Round 5: a warning of the other supported languages ("ten cuidado",
 * "pass auf"): a weak threat of its own, a threat beside "I know where
 * you live" in the same language. */
static void threat_warning(const struct zt__mod_word *w, size_t n, struct zt__mod_hits *h)
{
    static const char *const warn[] = {"ten cuidado", "fais gaffe", "pass auf", "stai attento", "stai attenta",
                                       "tem cuidado", "fais attention", NULL};
    for (size_t i = 0; i < n; i++)
        for (size_t p = 0; warn[p]; p++)
            if (phrase_at(w, n, i, warn[p])) {
                put(h, "threat_warning", 0.5);
                return;
            }
}

/* A condition ("if I see you again", "mess with me again") and an outcome
 * ("you're finished", "you'll end up in hospital"): each weak, together a threat. */
static void threat_pairs(const struct zt__mod_word *w, size_t n, struct zt__mod_hits *h)
{
    static const char *const lead[] = {"if i see @you again", "mess with me again", "next time i see @you",
                                       "one day i ll", "if @you ever", "try me", "keep it up and", "keep posting and",
                                       "next time @you see me",
                                       "keep talking and", NULL};
    static const char *const outcome[] = {"@you re finished", "@you ll end up",
                                          "@you won t", "@you ll regret", "see what happens", "the last time", NULL};
    bool l = false, o = false;
    for (size_t i = 0; i < n; i++) {
        for (size_t p = 0; lead[p] && !l; p++) l = phrase_at(w, n, i, lead[p]);
        for (size_t p = 0; outcome[p] && !o; p++) o = phrase_at(w, n, i, outcome[p]);
    }
    if (l) put(h, "threat_condition", 0.5);
    if (o) put(h, "threat_outcome", 0.5);
}

/* ---- doxxing ------------------------------------------------------------------------ */

static bool dig(char c)
{
    return zt_ascii_digit((unsigned char)c);
}

static bool alpha(char c)
{
    return zt_ascii_alpha((unsigned char)c);
}

static char low(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* Contact data in raw text: a phone-like run of 10+ digits (separators
 * allowed), an SSN shape, an e-mail address, a street address (number,
 * capitalised name, street word) or a UK postcode. */
static int contact_data(const char *s, size_t n)
{
    static const char *const street[] = {"street", "st", "road", "rd", "avenue", "ave", "lane", "ln", "drive", "dr",
                                         "way", "close", "court", "ct", "place", "pl", "boulevard", "blvd", "terrace",
                                         "crescent", "grove", "gardens", "square", "hill", "parade", "row", "walk",
                                         "mews", "highway", "hwy", "parkway", "circle", NULL};
    for (size_t i = 0; i < n; i++) {
        /* digits with separators */
        if (dig(s[i]) && (i == 0 || !alpha(s[i - 1]))) {
            size_t d = 0, j = i;
            while (j < n && (dig(s[j]) || ((s[j] == ' ' || s[j] == '-' || s[j] == '.' || s[j] == '(' || s[j] == ')') &&
                                            j + 1 < n && (dig(s[j + 1]) || s[j + 1] == '(' || s[j] == ')')))) {
                d += dig(s[j]);
                j++;
            }
            if (d >= 10 && d <= 15) return 1;
            if (d == 9 && j - i == 11 && (s[i + 3] == '-' || s[i + 3] == ' ') && s[i + 6] == s[i + 3]) return 2; /* an SSN */
            /* a street address: 1-5 digits (a letter may follow), a capitalised word or two, a street word */
            size_t k = i;
            while (k < n && dig(s[k])) k++;
            if (k - i >= 1 && k - i <= 5) {
                if (k < n && alpha(s[k]) && (k + 1 >= n || s[k + 1] == ' ')) k++;
                size_t words = 0;
                while (k < n && s[k] == ' ' && words < 3) {
                    k++;
                    size_t ws = k;
                    while (k < n && alpha(s[k])) k++;
                    if (k == ws) break;
                    char wl[16];
                    size_t l = k - ws < sizeof wl - 1 ? k - ws : sizeof wl - 1;
                    for (size_t q = 0; q < l; q++) wl[q] = low(s[ws + q]);
                    wl[l] = 0;
                    bool is_street = false;
                    for (size_t q = 0; street[q]; q++) is_street |= strcmp(wl, street[q]) == 0;
                    if (is_street && words >= 1) return 1;
                    if (!(s[ws] >= 'A' && s[ws] <= 'Z')) break;
                    words++;
                }
            }
            i = j > i ? j - 1 : i;
        }
        if (s[i] == '@' && i > 0 && (alpha(s[i - 1]) || dig(s[i - 1]) || s[i - 1] == '_' || s[i - 1] == '.')) {
            size_t j = i + 1;
            while (j < n && (alpha(s[j]) || dig(s[j]) || s[j] == '-' || s[j] == '.')) j++;
            if (j > i + 3 && memchr(s + i, '.', j - i)) return 1;
        }
    }
    /* UK postcode: A9 9AA, A99 9AA, AA9 9AA, AA99 9AA, A9A 9AA, AA9A 9AA */
    for (size_t i = 0; i + 6 <= n; i++) {
        if (i > 0 && (alpha(s[i - 1]) || dig(s[i - 1]))) continue;
        size_t j = i, a1 = 0;
        while (j < n && s[j] >= 'A' && s[j] <= 'Z' && a1 < 2) j++, a1++;
        if (!a1 || j >= n || !dig(s[j])) continue;
        j++;
        if (j < n && (dig(s[j]) || (s[j] >= 'A' && s[j] <= 'Z'))) j++;
        if (j + 4 > n || s[j] != ' ' || !dig(s[j + 1]) || !(s[j + 2] >= 'A' && s[j + 2] <= 'Z') ||
            !(s[j + 3] >= 'A' && s[j + 3] <= 'Z'))
            continue;
        if (j + 4 < n && (alpha(s[j + 4]) || dig(s[j + 4]))) continue;
        return 1;
    }
    return 0;
}

static const char *const STRONG[] = {"spam", "flood", "leak", "leaked", "expose", "harass", "blast", "dox", "doxx", "raid",
                                     "swat", "prank", "regret", "revenge", "punish", "scammer", "creep", "pervert",
                                     "snitch", "troll", "liar", "blow",
                                     /* insults of the languages the moderation lists cover, as a target's name */
                                     "idiota", "idioten", "idiot", "imbécil", "imbecil", "cabrón", "cabron",
                                     "pendejo", "connard", "connasse", "salaud", "arschloch", "otário", "otario",
                                     "babaca", "stronza", "stronzo", "klootzak", "eikel",
                                     /* round 5: calls to harass and names of a target, in the same languages */
                                     "bombard", "cheater",
                                     "traitor", "rat", "coward", "scum", "harcelez", "inondez",
                                     "acosadla", "acosadle", "llamadla", "llamadle", "molestadla", "molestadle",
                                     "chivata", "chivato", "soplon", "soplona", "traidor", "traidora", "verme",
                                     "spia", "infame", "lache", "traitre", "verrater", "verraterin",
                                     "verpetzer", "petze", "verrader", "verklikker", "klikspaan", "queixinhas",
                                     "bufo", "x9", "rata", "vagabunda", "xinga", "doxxed", "doxed", "doxing", NULL};
static const char *const POINT[] = {"his", "her", "their", "him", "them", "he", "she", "lives", "live", "living", "address",
                                    "number", "phone", "email", "ssn", "home", "here", "found", "cell", "mobile",
                                    "inbox", "plate", "works", "kids", "school", "número", "numero", "nummer",
                                    "dirección", "direccion", "adresse", "indirizzo", "endereço", "adres",
                                    /* round 5: the same words folded (accents stripped), and other languages' */
                                    "endereco", "morada", "telefono", "telefone", "movil", "portable", "handynummer",
                                    "handy", "mail", "su", "sa", "son", "sein", "seine", "ihre", "ihr", "ihn", "suo",
                                    "sua", "seu", "zijn", "haar", "hem", "hij", "zij", "woont", "abita", "vive",
                                    "wohnt", "habite", "mora", "la", "lo", "le",
                                    /* round 7 */
                                    "dela", "dele", "elle", "ella", "ele", "ela", "er", "ze", "lei", "lui", NULL};
static const char *const HOSTILE[] = {"everyone", "visit", "show", "hell", "fun", "post", "teach", "lesson", "call",
                                      "let", "knows", "go", "make", "tell", "everywhere", "pay", "text", "message",
                                      "know", "todos", "alle", "tous", "tutti", "iedereen", "allez", "ruft",
                                      "manda", "chiamatela", "chiamatelo", "id", NULL};
static const char *const WHERE_VERB[] = {"lives", "live", "living", "works", "working", "parks", "stays", "staying",
                                         "sleeps", "woont", "wohnt", "abita", "habite", "vive", "mora",
                                         /* round 7: working, studying and training somewhere, in the same languages */
                                         "trabaja", "trabajan", "trabalha", "trabalham", "lavora", "lavorano",
                                         "travaille", "bosse", "arbeitet", "werkt", "studies", "studying", "estudia",
                                         "estuda", "studia", "etudie", "studiert", "studeert", "trains", "training",
                                         "walks", "drinks", "waits", "sits", "leaves", "finishes", "arrives",
                                         /* round 8: a routine of getting somewhere */
                                         "catches", "takes", "picks", "jogs", "drops", NULL};
static const char *const WHERE_PREP[] = {"at", "on", "in", "near", "op", "en", "a", "em", "na", "no", "im", "am",
                                         /* round 7 */
                                         "al", "alla", "bei", "bij", "au", "chez", "presso", "outside", "by", "del",
                                         "do", "da", "aan", "an", "auf", "above", "behind", "opposite", "over",
                                         "next", NULL};
static const char *const SCHOOL[] = {"primary", "school", "academy", "college", "elementary", "high", "nursery", NULL};

/* Round 5 (issue 16): what makes contact data a call to harass its owner.
 * CALL: the reader is sent to the person ("go knock on her door", "tell
 * him what you think", "allez lui rendre visite"); GRUDGE: why the poster
 * wants them hurt ("who reported me", "he owes me"); DISCLOSE: posting
 * someone's details ("here's his address", "her full name"), a kind of
 * data of its own when the details are not in the message. Words are
 * the moderation tokens (folded, apostrophes split). */
static const char *const CALL[] = {
    "go tell", "go find", "go say", "go wild", "go visit", "go see", "go give", "go knock", "go round", "tell her what", "tell him what", "tell them what", "what @you think of", "make her", "make him",
    "make them", "make sure he", "make sure she", "make sure they", "sign her up", "sign him up", "do your thing", "do ur thing", "know what to do", "do what @you want",
    "feel watched", "see how he likes", "see how she likes", "hear from us", "no peace", "at his door", "at her door",
    "on her door", "on his door", "knock on", "lose his job", "lose her job", "get him fired", "get her fired",
    "get her sacked", "get him sacked", "pay him a visit", "pay her a visit", "pay them a visit", "drop by",
    "show up at", "make a scene", "so everyone can", "so you all can", "everyone can", "show up and", "turn up at", "turn up and", "find her after", "find him after", "give him hell", "give her hell", "ruin his", "ruin her", "ruin their", "make his life",
    "make her life", "learned a lesson", "learn a lesson",
    "see her ignore", "see him ignore", "bury him", "bury her", "just saying", "you know where", "id a", "vamos a por", "llamadla", "llamadle", "que no pueda", "hacerle una visita",
    "allez lui", "allez le", "allez la", "rendre visite", "rendez lui", "geht mal", "geht vorbei", "besucht ihn",
    "besucht sie", "ruft ihn", "ruft sie", "andate a", "fargli visita", "farle visita", "chiamatelo tutti", "chiamatela tutti", "aparecam la", "vao la", "liguem lhe", "ga maar", "ga langs",
    "bel hem", "bel haar", "eens langs",
    /* round 6 */
    "show up", "wait for them", "wait for her", "wait for him", "teach her a", "teach him a", "teach them a",
    "go get him", "go get her", "go make", "make sure the other", "eens opzoeken",
    "scrivetele", "scrivetegli", "encher o saco",
    /* round 7: sending the reader, in more words and languages */
    "get him", "get her", "get them", "sort it", "sort him out", "sort her out", "have fun lads", "have fun boys",
    "have fun with", "have fun guys", "spread the word", "make noise", "sem parar", "non stop", "nonstop",
    "can t miss him", "can t miss her", "we ll be there", "we will be there", "just so @you know", "keep going",
    "go there", "go off", "end her career", "end his career", "end their career", "make it public", "ruin him",
    "ruin her", "ruin them", "call and tell", "call till", "call until", "everyone go", "go say", "go visit",
    "go pay", "vamos esperar", "vamos atras", "pak haar", "pak hem", "sagt ihr", "sagt ihm", "zeigt ihr",
    "zeigt ihm", "a ver si sigue", "dile lo que", "decidle", "dites lui", "allez la voir", "allez le voir",
    "ditele", "andatela", "andatelo", "zeg haar", "zeg hem", "falem com ela", "falem com ele", "digam a ela",
    "digam a ele", "pile on", "vamos la", "have fun", "spam her", "spam him", "email her", "email him",
    "call him at", "call her at", "ga hem", "ga haar", "zoek hem op", "zoek haar op",
    /* round 8: sending the reader to the person or their things, in more words and languages */
    "keep calling", "keep texting", "keep messaging", "go and tell", "go and find", "go and see", "go and visit",
    "go ask", "tell him who", "tell her who", "let him know what", "let her know what", "let them know what",
    "message her there", "message him there", "find her there", "find him there", "confront her", "confront him",
    "confront them", "where to find", "when to find", "when to confront", "call the house", "ring the house",
    "make sure everyone", "everyone knows who", "order pizza", "order pizzas", "allez y", "vamos encher",
    "andate tutti", "a trovarlo", "a trovarla", "anyone nearby", "fategliela pagare", "fateglielo pagare",
    "make her pay", "make him pay", "make them pay", "wreck it", "key it", "key his car", "key her car",
    "smash it up", "sait ce qu il faut faire", "savez ce qu il faut faire", "sapete cosa fare", "sabeis lo que",
    "sabem o que fazer", "wisst was zu tun", "weten wat ze", "aspettatelo", "aspettatela", "esperadle",
    "esperadla", "esperadlo", "esperem ela", "esperem ele", "attendez la", "attendez le", "wartet auf ihn",
    "wartet auf sie", "wacht hem op", "wacht haar op", "ga er allemaal", "ga er heen", "allemaal heen",
    /* round 9: the reader sent to scare, pester or wait for the person; the person alone or easy to reach */
    "scare her", "scare him", "scare them", "get creative", "make some noise", "day and night", "night and day",
    "his boss", "her boss", "their boss", "easy target", "easy to find", "easy to spot", "can t miss", "on his own",
    "on her own", "anyone wants to", "if anyone wants", "can t hide", "cannot hide", "can find him", "can find her",
    "can find them", "so everyone knows", "everyone knows what", "for everyone", "for all to see", "how brave",
    "buzz till", "egg it", "egg his", "egg her", "egg the", "brick through", "schreibt ihr", "schreibt ihm",
    "llenadle", "llenadla", "escribidle", "inondez la", "inondez le", "intasategli", "scrivetegli tutti", NULL};
static const char *const GRUDGE[] = {
    "who reported", "who complained", "who dumped", "who cut me", "who lied", "who wrote", "who snitched",
    "who ratted", "who banned", "who blocked", "who fired", "who failed", "who beat", "who trashed", "who cheated",
    "who made fun", "who kept", "who was rude", "who stole", "who hit", "who insulted", "who grassed",
    "banned me", "blocked me", "reported me", "reported us", "reported my", "owes me", "lied about me",
    "cheated on", "dumped my", "que me denuncio", "mich angezeigt", "mich gemeldet", "qui m a balance", "qui m a signale",
    "che mi ha denunciato", "que me robo", "what she deserves", "what he deserves",
    "what they deserve", "deserves no peace", "deserves everything coming", "spread it", "who s in",
    /* round 7 */
    "who kicked", "who called the cops", "called the cops on", "called the police on", "who sued", "who robbed",
    "who attacked", "who scratched", "i followed him", "i followed her", "followed him home", "followed her home",
    "time for payback", "payback", "get what s coming",
    /* round 8 */
    "deserves every", "ci ha denunciato", "qui m a vire",
    "qui m a virer", "que nos denuncio", "uns angezeigt", "ons heeft aangegeven",
    /* round 9: what the person did to the poster, or a public incident they are known from */
    "who scammed", "who bullied", "who got me", "got me sacked", "got me fired", "who attacked", "get away from me",
    "from the video", "from the viral", "viral video", "from the tiktok", "who ruined", "who hurt", NULL};
static const char *const DISCLOSE[] = {
    "here s his", "here s her", "here s their", "here s the", "here is his", "here is her", "here is the",
    "this is his", "this is her", "this is the address", "this is the home", "his full name", "her full name",
    "their full names", "home address", "home town", "hometown", "her school", "his school", "where he lives",
    "where she lives", "posting his", "posting her", "posting the", "publishing his", "publishing her",
    "publishing the", "got her address", "got his address", "got their address", "found her", "found his",
    "found the", "in the doc", "this is where", "here s where", "here is where",
    "her workplace", "his workplace", "voici l adresse", "voici le numero", "voici son", "aqui esta la direccion",
    "esta es la direccion", "este es el movil", "este es el numero", "ecco il numero", "ecco l indirizzo",
    "das ist die adresse", "hier ist die adresse", "das ist ihre", "das ist seine", "dit is het adres",
    "dit is het nummer", "o endereco", "esse e o numero", "esta e a morada",
    /* round 7: a person's details named without the details */
    "his ssn", "her ssn", "his social", "her social", "real name", "his real", "her real", "personal cell",
    "personal number", "private number", "home phone", "new workplace", "his employer", "her employer",
    "name badge", "his instagram", "her instagram", "his discord", "her discord", "his license", "her license",
    "su direccion", "sa adresse", "seine adresse", "ihre adresse", "o numero dela", "o numero dele",
    "work email", "his manager", "her manager",
    "real address", "new address",
    /* round 8 */
    "drop the address", "drop her address", "drop his address", "where she works", "where he works",
    "hier ist die", "hier ist seine", "hier ist ihre", "voici une photo",
    /* round 9: who the person is and what is known of them */
    "her name is", "his name is", "their name is", "work address", "shift times", "in the screenshot",
    "date of birth", "medical records", "her phone number", "his phone number", "kid s name", "kids names",
    "that s her house", "that s his house", "this is her house", "this is his house", "her house is",
    "his house is", "her new flat", "his new flat", "the address of", "got the address", "posting it", NULL};
/* Round 8: the person unmasked or their home shown: with contact data or
 * whereabouts this is doxxing by itself ("I matched it on Street View",
 * "here's a photo of the front door", "pic of her house"). */
static const char *const REVEAL[] = {
    "street view", "matched it", "front door", "photo of his", "photo of her", "pic of his", "pic of her",
    "picture of his", "picture of her", "photo of the house", "photo de sa", "foto de su", "foto da casa",
    "foto von seinem", "foto von ihrem", "foto van zijn", "foto van haar", "foto della sua", "real address",
    "tracked down", "tracked her", "tracked him",
    /* round 9 */
    "thinks she s anonymous", "thinks he s anonymous", "think they re anonymous", "unmasked", NULL};

/* Harassing at all hours: a call only with a third person in the message
 * ("ring him every hour", not "ring me at midnight"). */
static const char *const NUISANCE[] = {"at midnight", "middle of the night",
                                       "every hour", "every night", "all night", "quiet night", "en pleine nuit",
                                       "toute la nuit", "toda la noche", "tag und nacht", "a mezzanotte",
                                       "tutta la notte", "a noite toda", "de hele nacht", "midden in de nacht", NULL};
static const char *const THIRD[] = {"him", "her", "he", "she", "them", "his", "la", "le", "lo", "lui", "ihn", "sie",
                                    "hem", "haar", "ela", "ele", "gli", NULL};

static bool any_phrase(const struct zt__mod_word *w, size_t n, const struct firsts *f, const char *const *list)
{
    for (size_t p = 0; list[p]; p++)
        if (may_start(f, list[p]))
            for (size_t i = 0; i < n; i++)
                if (phrase_at(w, n, i, list[p])) return true;
    return false;
}

/* A street word of the languages the lists cover, alone ("via", "calle",
 * "rue", "Street") or as the end of a compound ("Lindenstraße",
 * "Kerkstraat"), lower-cased in wl. */
static bool street_word(const char *wl, size_t l)
{
    static const char *const words[] = {"street", "st", "road", "rd", "avenue", "ave", "lane", "ln", "drive", "dr",
                                        "way", "close", "court", "place", "boulevard", "blvd", "terrace", "crescent",
                                        "grove", "gardens", "square", "hill", "parade", "row", "walk", "mews",
                                        "highway", "parkway", "circle", "via", "viale", "corso", "piazza", "calle",
                                        "avenida", "plaza", "paseo", "carrer", "rua", "rue", "travessa", "largo",
                                        "chemin", "allee", "strada", NULL};
    static const char *const ends[] = {"straat", "strasse", "stra\xc3\x9f" "e", "weg", "gasse", "laan", "plein",
                                       "platz", "allee", "gracht", "kade", "dijk", "steeg", NULL};
    for (size_t q = 0; words[q]; q++)
        if (words[q][0] == wl[0] && strncmp(wl, words[q], l) == 0 && words[q][l] == 0) return true;
    if (l < 5) return false;
    for (size_t q = 0; ends[q]; q++) {
        size_t el = strlen(ends[q]);
        if (l > el + 2 && wl[l - 1] == ends[q][el - 1] && memcmp(wl + l - el, ends[q], el) == 0) return true;
    }
    return false;
}

/* A street word followed by a house number within two words, no comma
 * between ("calle Olmo 12", "Kerkstraat 9", "Walnut Street no. 14",
 * "Elm Street, number 9"): from each run of 1-4 digits, the three words
 * before it. */
static bool street_then_number(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!dig(s[i]) || (i > 0 && (dig(s[i - 1]) || alpha(s[i - 1])))) continue;
        size_t d = i;
        while (d < n && dig(s[d])) d++;
        if (d - i > 4 || (d < n && dig(s[d]))) {
            i = d;
            continue;
        }
        size_t k = i;
        bool num_word = false; /* the word read last is "number", "no", "nr" */
        for (int words = 0; words < 3 && k > 0; words++) {
            while (k > 0 && (s[k - 1] == ' ' || s[k - 1] == '.')) k--;
            /* a comma is crossed only before "number"/"no" ("Elm Street, number 9") */
            if (k > 0 && s[k - 1] == ',') {
                if (!num_word) break;
                k--;
                while (k > 0 && s[k - 1] == ' ') k--;
            }
            size_t we = k;
            while (k > 0 && (alpha(s[k - 1]) || (unsigned char)s[k - 1] >= 0x80)) k--;
            size_t l = we - k;
            if (!l || l >= 32) break;
            char wl[32];
            for (size_t q = 0; q < l; q++) wl[q] = low(s[k + q]);
            wl[l] = 0;
            if (street_word(wl, l)) return true;
            num_word = l <= 6 && wl[0] == 'n';
        }
        i = d;
    }
    return false;
}

/* A house number before a street word of the languages that write it
 * first ("8 rue Victor Hugo", "12 avenue des Lilas"). */
static bool number_then_street(const char *s, size_t n)
{
    static const char *const words[] = {"rue", "avenue", "boulevard", "bd", "place", "chemin", "impasse", "quai",
                                        "cours", "allee", "all\xc3\xa9" "e", "route", NULL};
    for (size_t i = 0; i < n; i++) {
        if (!dig(s[i]) || (i > 0 && (dig(s[i - 1]) || alpha(s[i - 1])))) continue;
        size_t j = i;
        while (j < n && dig(s[j])) j++;
        if (j - i > 4) {
            i = j;
            continue;
        }
        if (j < n && s[j] == ',') j++;
        if (j >= n || s[j] != ' ') continue;
        j++;
        size_t ws = j;
        while (j < n && (alpha(s[j]) || (unsigned char)s[j] >= 0x80)) j++;
        char wl[16];
        size_t l = j - ws;
        if (!l || l >= sizeof wl || (j < n && s[j] != ' ')) continue;
        for (size_t q = 0; q < l; q++) wl[q] = low(s[ws + q]);
        wl[l] = 0;
        for (size_t q = 0; words[q]; q++)
            if (strcmp(wl, words[q]) == 0) return true;
    }
    return false;
}

/* A short phone number: NNN-NNNN, or four groups of 2-3 digits ("612 55
 * 01 47"); counted only with a word that points at a person. */
static bool short_phone(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!dig(s[i]) || (i > 0 && (dig(s[i - 1]) || alpha(s[i - 1])))) continue;
        size_t j = i, groups = 0, d = 0;
        bool bad = false;
        while (j < n && dig(s[j])) {
            size_t g = j;
            while (j < n && dig(s[j])) j++;
            groups++;
            d += j - g;
            if (j - g > 4) bad = true;
            if (j + 1 < n && (s[j] == '-' || s[j] == ' ' || s[j] == '.') && dig(s[j + 1])) j++;
            else break;
        }
        if (!bad && ((groups == 2 && d == 7 && s[i + 3] == '-') || (groups >= 4 && d >= 8 && d <= 9)) &&
            (j >= n || !alpha(s[j])))
            return true;
        i = j;
    }
    return false;
}

/* Round 7: a numbered room, flat, ward or bed ("room 112", "flat 12",
 * "ward 6", "Hall B, room 15") and a car's plate, in the languages the
 * lists cover. */
static const char *const ROOM[] = {"room", "flat", "apt", "apartment", "ward", "dorm", "suite", "bed", "cabin",
                                   "habitacion", "piso", "planta", "chambre", "appartement", "zimmer", "wohnung",
                                   "kamer", "stanza", "camera", "quarto", "apartamento", "sala", NULL};
static const char *const PLATE[] = {"plate", "plates", "reg", "registration", "numberplate", "matricula", "placa",
                                    "kennzeichen", "immatriculation", "targa", "kenteken",
                                    /* round 8 */
                                    "plaque", "nummernschild", NULL};
/* a child, a partner or a parent of the target, and where children are found */
static const char *const KIN[] = {"kid", "kids", "son", "daughter", "children", "child", "wife", "husband",
                                  "girlfriend", "boyfriend", "mum", "mom", "mother", "dad", "father", "grandma",
                                  "grandmother", "nan", "hijos", "hijo", "hija", "hijas", "ninos", "esposa", "mujer",
                                  "marido", "madre", "padre", "enfants", "fils", "fille", "femme", "mari", "mere",
                                  "kinder", "sohn", "tochter", "frau", "mann", "mutter", "vater", "filho", "filha",
                                  "filhos", "filhas", "mae", "pai", "figli", "figlio", "figlia",
                                  "moglie", "marito", "kinderen", "zoon", "dochter", "vrouw", "man",
                                  "moeder", "vader",
                                  /* round 8 */
                                  "boy", "girl", "baby", "parents", "partner", "ex", "gran", "granny", NULL};
static const char *const KIDPLACE[] = {"school", "primary", "nursery", "daycare", "kindergarten", "preschool",
                                       "academy", "college", "year", "class", "practice", "training", "under",
                                       "club", "pickup", "pick", "colegio", "escuela", "guarderia", "instituto",
                                       "ecole", "lycee", "schule", "grundschule", "kita",
                                       "gymnasium", "escola", "scuola", "asilo", "basisschool",
                                       "kinderopvang",
                                       /* round 8: where children are taken */
                                       "pool", "swimming", "playground", "ballet", "dance", "football", NULL};
/* a time of day or a routine: "at 7", "3:15", "16h30", "a las 5", "mornings", "shift" */
static const char *const ROUTINE[] = {"morning", "mornings", "every", "night", "nights", "tonight", "evening",
                                      "evenings", "shift", "shifts", "schedule", "rota", "closing", "alone",
                                      "pm", "am", "turno", "turnos", "tarde", "manana", "noite", "manha", "mattina",
                                      "sera", "pomeriggio", "matin", "soir", "schicht", "fruhschicht",
                                      "spatschicht", "nachtschicht", "dienst", "ochtend", "avond", "salen", "sale",
                                      "sortie", "sai", "esce", "weekdays", "saturday", "saturdays", "sunday",
                                      "sundays", "monday", "mondays", "friday", "fridays", "daily", "mananas",
                                      "tardes", "noches", "matins", "soirs", "sere", "noites", "manhas", "ochtends",
                                      "avonds", "abends", "morgens", "nachts", "avonddienst", "nachtdienst",
                                      "ochtenddienst", "dagdienst", "nachtschicht",
                                      /* round 8: coming out or finishing, in the same languages */
                                      "saem", "escono", "sortent", "finisce", "finit", "endet", "termina", "acaba",
                                      "meio", "mediodia", "mezzogiorno", "midi", "tuesdays", "wednesdays",
                                      "thursdays", NULL};

/* the speaker's own words beside the first-person subjects (FIRST) */
static const char *const SPEAKER[] = {"my", "mine", "me", "we", "us", "our", "yo", "nosotros", "mi", "je", "moi",
                                      "nous", "ich", "wir", "mich", "eu", "nos", "io", "noi", "ik", "wij", "mijn",
                                      "recojo", "collect", NULL};

static bool routine(const struct zt__mod_word *w, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (in(&w[i], ROUTINE)) return true;
        /* "at 7", "a las 5", "om 6", "um 8", "alle 9", "as 7", "3:15" / "16h30" as two words or one */
        if (w[i].len && w[i].len <= 5 && dig(w[i].p[0]) && i > 0 &&
            (eqw(&w[i - 1], "at") || eqw(&w[i - 1], "las") || eqw(&w[i - 1], "om") || eqw(&w[i - 1], "um") ||
             eqw(&w[i - 1], "alle") || eqw(&w[i - 1], "as") || eqw(&w[i - 1], "is") || eqw(&w[i - 1], "till") ||
             eqw(&w[i - 1], "until") || eqw(&w[i - 1], "by") || eqw(&w[i - 1], "tot") || eqw(&w[i - 1], "bis") ||
             eqw(&w[i - 1], "hasta") || eqw(&w[i - 1], "fino") || eqw(&w[i - 1], "ate") || eqw(&w[i - 1], "jusqu")))
            return true;
        /* round 8: "after school", "after work", "after practice" */
        if (eqw(&w[i], "after") && i + 1 < n &&
            (eqw(&w[i + 1], "school") || eqw(&w[i + 1], "work") || eqw(&w[i + 1], "class") ||
             eqw(&w[i + 1], "practice") || eqw(&w[i + 1], "training") || eqw(&w[i + 1], "shift")))
            return true;
        if (w[i].len >= 3 && w[i].len <= 5 && dig(w[i].p[0]) && (w[i].p[w[i].len - 1] == 'h' || w[i].p[1] == 'h' || w[i].p[2] == 'h'))
            return true;
    }
    return false;
}

/* Round 7: a third person's own or kin word ("his", "her", "sus", "ses",
 * "seine", "dele") before a kin word ("his kids", "her daughter's") */
static const char *const OWNER3[] = {"his", "her", "their", "s", "sus", "su", "ses", "son", "sa", "seine", "sein",
                                     "ihre", "ihr", "dele", "dela", "deles", "seu", "sua", "seus", "suas", "suoi",
                                     "sua", "suo", "zijn", "haar", "hun", NULL};

/* Round 8: OWNER3 at i and list at i + 1, or at i + 2 after one word
 * ("her new boyfriend", "her daily jog route"): the index of the match or 0. */
static size_t owned(const struct zt__mod_word *w, size_t n, size_t i, const char *const *list)
{
    if (!in(&w[i], OWNER3)) return 0;
    if (i + 1 < n && in(&w[i + 1], list)) return i + 1;
    for (size_t k = i + 2; k < n && k <= i + 3; k++) {
        if (in(&w[k - 1], OWNER3) || in(&w[k - 1], KIN)) return 0;
        if (in(&w[k], list)) return k;
    }
    return 0;
}

static const char *const OWNED_PLACE[] = {"gym", "school", "schedule", "route", "car", "workplace", "dorm", "office",
                                          "shift", NULL};

/* Round 8: when someone comes out: "finishes at 10", "sale a las 22",
 * "Schicht endet um 20 Uhr", "dienst tot 21 uur", "escono alle 16". */
static bool leaving_time(const struct zt__mod_word *w, size_t n)
{
    static const char *const leave[] = {"finishes", "leaves", "endet", "finisce", "finit", "sale", "salen", "sai",
                                        "saem", "esce", "escono", "sortent", "sort", "termina", "acaba", "gets",
                                        "off", "klaar", "fertig", "tot", "till", "until", "bis", "hasta", "fino",
                                        "ate", "jusqu", NULL};
    for (size_t i = 0; i < n; i++) {
        if (!in(&w[i], leave)) continue;
        for (size_t k = i + 1; k < n && k <= i + 4; k++)
            if (w[k].len && dig(w[k].p[0])) return true;
    }
    return false;
}

static bool specific_place(const struct zt__mod_word *w, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        /* "room 112", "flat 12", "Hall B, room 15" */
        if (in(&w[i], ROOM) && w[i + 1].len && w[i + 1].len <= 4 &&
            (dig(w[i + 1].p[0]) || (w[i + 1].len == 1 && i + 2 < n && dig(w[i + 2].p[0]))))
            return true;
        if (in(&w[i], PLATE) && (i + 2 < n || i > 0)) return true;
        /* "his kids ... school", "sus hijos van al colegio", "her daughter's nursery" */
        size_t kk = owned(w, n, i, KIN);
        if (kk)
            for (size_t k = kk + 1; k < n && k <= kk + 10; k++)
                if (in(&w[k], KIDPLACE)) return true;
        if (in(&w[i], KIN) && (eqw(&w[i + 1], "dele") || eqw(&w[i + 1], "dela")))
            for (size_t k = i + 2; k < n && k <= i + 9; k++)
                if (in(&w[k], KIDPLACE)) return true;
        /* "he's at the Red Lion right now", "she's staying at", "ela esta no" */
        if ((eqw(&w[i], "he") || eqw(&w[i], "she") || eqw(&w[i], "they")) && i + 2 < n &&
            (eqw(&w[i + 1], "s") || eqw(&w[i + 1], "is") || eqw(&w[i + 1], "re") || eqw(&w[i + 1], "are")) &&
            (eqw(&w[i + 2], "at") || eqw(&w[i + 2], "in") || eqw(&w[i + 2], "staying") || eqw(&w[i + 2], "outside")))
            return true;
        /* "his gym", "her school is", "his schedule" */
        if (owned(w, n, i, OWNED_PLACE)) return true;
    }
    return false;
}

/* Where someone is, without contact data: "lives on Maple Street", "works
 * at the Tesco", "his kids go to Westfield Primary". */
static bool whereabouts(const struct zt__mod_word *w, size_t n)
{
    if (specific_place(w, n)) return true;
    for (size_t i = 0; i + 1 < n; i++) {
        /* "lives on", "works nights at" */
        if (in(&w[i], WHERE_VERB) && (in(&w[i + 1], WHERE_PREP) || (i + 2 < n && in(&w[i + 2], WHERE_PREP)) ||
                                      (i + 3 < n && in(&w[i + 3], WHERE_PREP) && !eqw(&w[i + 1], "hard"))))
            return true;
        if ((eqw(&w[i], "go") || eqw(&w[i], "goes")) && eqw(&w[i + 1], "to") && i + 3 < n &&
            (in(&w[i + 3], SCHOOL) || (i + 4 < n && in(&w[i + 4], SCHOOL))))
            return true;
        /* "goes to Oakfield High", "the shop on Bridge Street" (a place named by its street) */
        if ((eqw(&w[i], "on") || eqw(&w[i], "at")) && i + 2 < n && w[i + 2].len && street_word(w[i + 2].p, w[i + 2].len) &&
            !eqw(&w[i + 2], "way") && !eqw(&w[i + 2], "place") && !eqw(&w[i + 2], "walk") && !eqw(&w[i + 2], "row"))
            return true;
    }
    return false;
}

/* Round 8: a plate word and then, within five words, the plate itself: a
 * word of letters and digits ("yd70", "1d23") or a number beside a short
 * letter group ("4821 klm", "ab 123 cd", "m ab 1234"). */
/* Review 8 F7: a unit, a clock suffix or a month is no plate's letter group
 * ("12 cm", "9 am", "15 may", "12cm"); the letters of W (digits skipped). */
static bool unit_letters(const struct zt__mod_word *w)
{
    static const char *const unit[] = {"cm",  "mm",  "km",  "m",   "kg",  "g",   "mg",  "lb",   "lbs",  "oz",  "ml",
                                       "l",   "cl",  "dl",  "ft",  "am",  "pm",  "h",   "hr",   "hrs",  "min", "mins",
                                       "sec", "s",   "th",  "st",  "nd",  "rd",  "x",   "uhr",  "px",   "gb",  "mb",
                                       "kb",  "v",   "w",   "kw",  "jan", "feb", "mar", "apr",  "may",  "jun", "jul",
                                       "aug", "sep", "sept", "oct", "nov", "dec", "mai", "mei", "juin", "ene", NULL};
    char buf[8];
    size_t m = 0;
    for (size_t q = 0; q < w->len; q++) {
        char ch = w->p[q];
        if (dig(ch)) continue;
        if (m + 1 >= sizeof buf) return false;
        buf[m++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    buf[m] = 0;
    if (!m) return false;
    for (size_t k = 0; unit[k]; k++)
        if (strcmp(buf, unit[k]) == 0) return true;
    return false;
}

static bool plate_shown(const struct zt__mod_word *w, size_t n)
{
    /* "plate", "registration", "plaque" are a vehicle's only beside a vehicle word
     * ("the plate is 20 x 30 cm", "registration closes on 15 may"); "reg" and the
     * plate words of other languages are the vehicle's anyway */
    static const char *const loose[] = {"plate", "plates", "registration", "plaque", "placa", "targa", NULL};
    static const char *const vehicle[] = {"car",     "cars",  "van",    "truck",   "lorry",  "bike",    "motorbike",
                                          "vehicle", "licence", "license", "number", "parks",  "parked", "drives",
                                          "driving", "auto",  "coche",  "carro",   "voiture", "wagen",  "macchina",
                                          "moto",    "taxi",  "suv",    "jeep",    "pickup", NULL};
    bool veh = false;
    for (size_t i = 0; i < n && !veh; i++) veh = in(&w[i], vehicle);
    static const char *const glue[] = {"is", "es", "e", "c", "est", "ist", "the", "a", "on", "in", "of", "at", "de",
                                       "do", "da", "het", "zijn", "een", "and", "it", "its", "s", "la", "le", "el",
                                       "il", "o", "der", "die", "das", NULL};
    for (size_t i = 0; i < n; i++) {
        if (!in(&w[i], PLATE) || (!veh && in(&w[i], loose))) continue;
        for (size_t k = i + 1; k < n && k <= i + 6; k++) {
            bool d = false, a = false;
            for (size_t q = 0; q < w[k].len; q++) {
                d |= dig(w[k].p[q]);
                a |= alpha(w[k].p[q]);
            }
            if (d && a && w[k].len >= 3 && w[k].len <= 8 && !unit_letters(&w[k])) return true;
            if (!d || w[k].len > 4) continue;
            for (size_t j = k > i + 1 ? k - 1 : k + 1; j <= k + 1 && j < n; j += 2) {
                bool letters = w[j].len >= 1 && w[j].len <= 3;
                for (size_t q = 0; q < w[j].len && letters; q++) letters = alpha(w[j].p[q]);
                if (letters && j != i && !in(&w[j], glue) && !unit_letters(&w[j])) return true;
            }
        }
    }
    return false;
}

static void doxxing(const struct zt__mod_word *w, size_t n, const char *raw, size_t rawlen, struct zt__mod_hits *h)
{
    int kind = contact_data(raw, rawlen);
    if (!kind && (street_then_number(raw, rawlen) || number_then_street(raw, rawlen))) kind = 1;
    if (!kind && short_phone(raw, rawlen)) kind = 4;
    struct firsts f;
    firsts_of(w, n, &f);
    bool disclose = any_phrase(w, n, &f, DISCLOSE);
    if (!kind && (whereabouts(w, n) || disclose)) kind = 3;
    if (!kind) return;
    bool point = false, insult = false, strong = false;
    int weak = 0;
    for (size_t i = 0; i < n; i++) {
        point |= in(&w[i], POINT);
        insult |= is_insult(&w[i]);
        strong |= in(&w[i], STRONG);
        weak += in(&w[i], HOSTILE);
    }
    /* someone else's data in a hostile message: an insult, another rule, a
     * call to harass, or an SSN (never shared about someone kindly) */
    /* "found where she lives", "let him have it" */
    for (size_t i = 0; i + 1 < n; i++) {
        if (eqw(&w[i], "found") && eqw(&w[i + 1], "where")) strong = true;
        if (eqw(&w[i], "who") && eqw(&w[i + 1], "wants")) strong = true; /* "her address ..., who wants it?" */
        if (eqw(&w[i], "let") && i + 3 < n && in(&w[i + 1], TARGET3) && eqw(&w[i + 2], "have") && eqw(&w[i + 3], "it"))
            strong = true;
    }
    /* round 5: a call to go at the person, with a grudge or a disclosure */
    bool call = any_phrase(w, n, &f, CALL);
    if (!call && any_phrase(w, n, &f, NUISANCE))
        for (size_t i = 0; i < n && !call; i++) call = in(&w[i], THIRD);
    bool grudge = any_phrase(w, n, &f, GRUDGE);
    static const char *const crowd[] = {"everyone", "everybody", "todos", "todas", "alle", "tous", "toutes", "tutti",
                                        "iedereen", "allemaal", NULL};
    bool many = false;
    for (size_t i = 0; i < n; i++) many |= in(&w[i], crowd);
    /* round 7: "go" ending the message; whereabouts with a time, a
     * numbered room, a plate or the target's kin, and a call */
    if (!call && n > 1 && eqw(&w[n - 1], "go") && !eqw(&w[n - 2], "we") && !eqw(&w[n - 2], "i") &&
        !eqw(&w[n - 2], "to") && !eqw(&w[n - 2], "let") && !eqw(&w[n - 2], "s") && !eqw(&w[n - 2], "you") &&
        !eqw(&w[n - 2], "can") && !eqw(&w[n - 2], "should") && !eqw(&w[n - 2], "will") && !eqw(&w[n - 2], "ll"))
        call = true;
    bool timed = routine(w, n);
    bool kin3 = false;
    for (size_t i = 0; i + 1 < n && !kin3; i++)
        kin3 = owned(w, n, i, KIN) ||
               (in(&w[i], KIN) && (eqw(&w[i + 1], "dele") || eqw(&w[i + 1], "dela")));
    static const char *const kind_words[] = {"news", "surprise", "birthday", "present", "gift", "lift", "ride",
                                             "congrats", "congratulations", "welcome", "hug", "flowers", "cake",
                                             "please", "pls", "thanks", "thank", "felicidades", "cumpleanos",
                                             "anniversaire", "geburtstag", "compleanno", "aniversario", "verjaardag",
                                             "regalo", "cadeau", "geschenk", "presente", NULL};
    bool kindly = h->friendly;
    for (size_t i = 0; i < n && !kindly; i++) kindly = in(&w[i], kind_words);
    if (call && kind == 3 && !kindly && (timed || kin3 || specific_place(w, n))) strong = true;
    /* the target's children's school and the time they come out ("sus hijos van al colegio San José, salen a las 5") */
    if (kind == 3 && kin3 && timed && !kindly && specific_place(w, n)) {
        /* ... told by no one who takes part ("I'll take them home", "la recojo yo") */
        bool speaker = false;
        for (size_t i = 0; i < n && !speaker; i++) speaker = in(&w[i], FIRST) || in(&w[i], SPEAKER);
        if (!speaker) strong = true;
    }
    if (call && (grudge || disclose || many || kind != 3)) strong = true;
    /* round 8: the speaker takes part ("my", "we", "I'll pick her up") */
    static const char *const self[] = {"i", "ill", "im", "ive", "we", "yo", "je", "ich", "wir", "eu", "io", "noi",
                                       "ik", "wij", "nous", NULL};
    static const char *const she_he[] = {"ze", "zij", "hij", "er", "ella", "el", "elle", "il", "lei", NULL};
    /* German "im" (in dem) is no "I'm" beside German words */
    static const char *const german[] = {"der", "die", "das", "und", "ist", "uhr", "bei", "arbeitet", "wohnt", NULL};
    bool de = false;
    for (size_t i = 0; i < n && !de; i++) de = in(&w[i], german);
    bool speaker = false, third = false, subject_me = false;
    for (size_t i = 0; i < n; i++) {
        bool im_de = de && eqw(&w[i], "im");
        speaker |= !im_de && (in(&w[i], FIRST) || in(&w[i], SPEAKER));
        subject_me |= !im_de && in(&w[i], self);
        third |= in(&w[i], THIRD) || in(&w[i], OWNER3) || in(&w[i], she_he);
    }
    /* round 8: a grudge with whereabouts ("the girl who reported us lives above the chippy") */
    if (grudge && kind == 3 && !kindly && !subject_me) strong = true;
    /* round 8: the person unmasked or their home shown, with data or whereabouts */
    if (any_phrase(w, n, &f, REVEAL) && !kindly) strong = true;
    /* round 8: someone's plate written out, told by no one who takes part */
    if (!kindly && !speaker && plate_shown(w, n)) strong = true;
    /* round 8: a third person's routine disclosed ("this is where she walks her dog every evening"),
     * or where they work or study and when they come out ("Schicht endet um 20 Uhr") */
    /* (a bare "he works at the bakery and finishes at 4" is no disclosure: the leaving time needs a
     * shift, a grudge, a call or a disclosure beside it, review 8 F7) */
    static const char *const shift[] = {"shift", "shifts", "schicht", "dienst", "turno", NULL};
    bool shift_end = false;
    for (size_t i = 0; i < n && !shift_end; i++) shift_end = in(&w[i], shift);
    if (kind == 3 && third && !speaker && !kindly &&
        ((disclose && timed) || (leaving_time(w, n) && (shift_end || grudge || call || disclose)))) {
        bool where = false;
        for (size_t i = 0; i < n && !where; i++) where = in(&w[i], WHERE_VERB);
        if (where) strong = true;
    }
    /* a grudge with contact data or a disclosure; with whereabouts alone it also needs a call */
    if (grudge && (disclose || (kind != 3 && kind != 0))) strong = true;
    /* a short number is a phone only beside a word that points at a person */
    if (kind == 4 && !point) return;
    /* a named target ("this snitch", "the creep") points at someone too */
    point |= strong;
    /* whereabouts without contact data: only with an insult, another rule or a strong word */
    if (kind == 3 ? (insult || h->n > 0 || strong) : point && (insult || h->n > 0 || strong || weak >= 2 || kind == 2))
        put(h, "doxxing", W_DOXX);
}

static bool has_bytes(const char *s, size_t n, const char *needle)
{
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= n; i++)
        if (memcmp(s + i, needle, nl) == 0) return true;
    return false;
}

/* Friendly markers: laughter and affection. */
static bool friendly(const struct zt__mod_word *w, size_t n, const char *raw, size_t rawlen)
{
    static const char *const marks[] = {"jk", "hilarious", "kidding", "joking", NULL}; /* "lol" may mock: not friendly */
    for (size_t i = 0; i < n; i++) {
        if (in(&w[i], marks)) return true;
        /* "love you", "love it", "i love it" (round 6), "proud of you" */
        if ((eqw(&w[i], "love") || eqw(&w[i], "luv")) && i + 1 < n && (in(&w[i + 1], YOU) || eqw(&w[i + 1], "it")))
            return true;
        if (eqw(&w[i], "proud") && i + 2 < n && eqw(&w[i + 1], "of") && in(&w[i + 2], YOU)) return true;
    }
    /* 😂 🤣 ❤ 😘 🥰 */
    return has_bytes(raw, rawlen, "\xF0\x9F\x98\x82") || has_bytes(raw, rawlen, "\xF0\x9F\xA4\xA3") ||
           has_bytes(raw, rawlen, "\xE2\x9D\xA4") || has_bytes(raw, rawlen, "\xF0\x9F\x98\x98") ||
           has_bytes(raw, rawlen, "\xF0\x9F\xA5\xB0");
}

void zt__mod_harass(const struct zt__mod_word *w, size_t n, const char *raw, size_t rawlen, struct zt__mod_hits *h)
{
    h->n = 0;
    h->friendly = friendly(w, n, raw, rawlen);
    /* round 6: a game or a laugh anywhere (the learned model's yes counts less) */
    static const char *const play[] = {"game", "chess", "fifa", "round", "match", "cards", "poker", "tennis", "golf",
                                       "darts", "mario", "scrabble", "monopoly", "ranked", "tournament", "pong",
                                       "uno", "smash", "catan", "kart", "fortnite", "badminton", "squash", "quiz",
                                       "kickern", "tischtennis",
                                       NULL};
    h->game = false;
    for (size_t i = 0; i < n && !h->game; i++)
        h->game = in(&w[i], play) && !(i > 0 && (eqw(&w[i - 1], "after") || eqw(&w[i - 1], "before"))) &&
                  !(i > 1 && (eqw(&w[i - 2], "after") || eqw(&w[i - 2], "before")));
    /* round 9: praise ("you're brilliant", "je bent een held", "eres un crack"): the
     * learned model's yes counts as among banter when no rule fires */
    static const char *const praise[] = {"brilliant", "genius", "gorgeous", "beautiful", "amazing", "legend",
                                         "hero", "blush", "talented", "awesome", "sweetheart", "angel", "kind",
                                         "genie", "genio", "crack", "schatz", "held", "mito", "idolo", "fenomeno",
                                         "champion", "gem", "lovely", "stunning", NULL};
    h->praise = false;
    for (size_t i = 0; i < n && !h->praise; i++)
        h->praise = in(&w[i], praise) && !(i + 1 < n && eqw(&w[i + 1], "of")); /* "what kind of ..." */
    /* round 12: "as you are" ending the message is a manner, not a judgement
     * ("come as you are", "stay just as you are"; not "as dumb as you are") */
    h->mild = n >= 3 && eqw(&w[n - 3], "as") && in(&w[n - 2], YOU) &&
              (eqw(&w[n - 1], "are") || eqw(&w[n - 1], "were") || eqw(&w[n - 1], "re")) &&
              !(n >= 5 && eqw(&w[n - 5], "as"));
    insults(w, n, h->friendly, h);
    exclusion(w, n, h);
    incitement(w, n, h);
    threats(w, n, h);
    threat_pairs(w, n, h);
    threat_warning(w, n, h);
    doxxing(w, n, raw, rawlen, h);
}
