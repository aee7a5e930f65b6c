/* intent.c: intent detection over zt_text tokens and the cue file
 * (zt_intent.h, docs/features/intents.md). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "conv_util.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_intent.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_text.h"

#define MAX_PHRASE_WORDS 8
#define MAX_LEXICONS 32
#define MAX_BOOSTS 4
#define WORD_MAX 128

/* the compiled-in config/intents.txt (cmake/embed.cmake) */
extern const unsigned char zt__builtin_intents[];
extern const size_t zt__builtin_intents_len;

static const char *const names[ZT_INTENT_COUNT] = {
    "statement", "question", "yesno_question", "thanks",    "greeting",     "farewell",        "invitation",
    "scheduling", "apology", "request",        "agreement", "disagreement", "congratulations", "complaint", "bad_news",  "grief",           "urgent",
};

/* lexicons the rules use; a cue file must define them all */
static const char *const required_lex[] = {"aux",      "pronoun",    "wh",         "negation", "time",
                                           "decision", "commitment", "imperative", "todo"};
enum { LX_AUX, LX_PRONOUN, LX_WH, LX_NEG, LX_TIME, LX_N_REQUIRED };

struct phrase {
    uint64_t h[MAX_PHRASE_WORDS];
    uint8_t n;
};

enum cue_where { CUE_START, CUE_ANY, CUE_ONLY };

struct cue {
    struct phrase p;
    enum cue_where where;
    double w;
};

struct lexicon {
    char name[32];
    struct phrase *p;
    size_t n, cap;
};

struct intent_cues {
    struct cue *c;
    size_t n, cap;
    struct {
        int lex;
        double w;
    } boost[MAX_BOOSTS];
    size_t n_boost;
};

struct zt_intent_model {
    struct lexicon lex[MAX_LEXICONS];
    size_t n_lex;
    int req[LX_N_REQUIRED]; /* indexes of the required lexicons */
    struct intent_cues in[ZT_INTENT_COUNT];
};

const char *zt_intent_name(enum zt_intent i)
{
    return (unsigned)i < ZT_INTENT_COUNT ? names[i] : "unknown";
}

int zt_intent_from_name(const char *name, size_t len, enum zt_intent *out)
{
    for (int i = 0; i < ZT_INTENT_COUNT; i++)
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0) {
            *out = (enum zt_intent)i;
            return 0;
        }
    return ZT_ENOTFOUND;
}

/* ---- words ---------------------------------------------------------------- */

#define TF_CLAUSE 0x1u /* first word of a clause */
#define TF_SENT 0x2u   /* first word of a sentence */
#define TF_CLOCK 0x4u  /* a clock time: "3pm", "10:30", "9 am" */

struct ptok {
    uint64_t h;
    uint32_t flags;
    uint32_t sent;
};

struct psent {
    size_t first, n; /* words */
    bool q;          /* ends with '?' */
    bool excl;       /* ends with '!' */
};

void zt__ptext_deinit(struct zt__ptext *p)
{
    zt_free(p->t);
    zt_free(p->s);
    memset(p, 0, sizeof *p);
}

/* Hash of the folded form of token t (curly apostrophes as '; an emoji run
 * by its first code point, so that "🎉🎉" is "🎉"). */
static int word_hash(const char *text, const struct zt_token *t, uint64_t *h)
{
    char f[WORD_MAX];
    long n = zt_text_token_fold(text, t, f, sizeof f);
    if (n == ZT_ETOOBIG) n = (long)strlen(f);
    if (n < 0) return (int)n;
    char g[WORD_MAX];
    size_t m = 0;
    for (size_t i = 0; i < (size_t)n; i++) {
        if (i + 2 < (size_t)n && (unsigned char)f[i] == 0xE2 && (unsigned char)f[i + 1] == 0x80 &&
            ((unsigned char)f[i + 2] == 0x99 || (unsigned char)f[i + 2] == 0x98)) {
            g[m++] = '\'';
            i += 2;
        } else {
            g[m++] = f[i];
        }
    }
    if (t->kind == ZT_TOK_EMOJI && m > 0) {
        unsigned char c = (unsigned char)g[0];
        size_t cl = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (cl < m) m = cl;
    }
    *h = zt_fnv1a64(g, m);
    return 0;
}

static bool is_ascii_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Is the WORD t like "3pm" / "11am"? */
static bool clock_word(const char *text, const struct zt_token *t)
{
    if (t->len < 3 || t->len > 4 || !is_ascii_digit(text[t->off])) return false;
    const char *e = text + t->off + t->len - 2;
    for (const char *p = text + t->off; p < e; p++)
        if (!is_ascii_digit(*p)) return false;
    return (e[0] == 'a' || e[0] == 'p' || e[0] == 'A' || e[0] == 'P') && (e[1] == 'm' || e[1] == 'M');
}

static bool is_am_pm(const char *text, const struct zt_token *t)
{
    if (t->len != 2) return false;
    const char *p = text + t->off;
    return (p[0] == 'a' || p[0] == 'p' || p[0] == 'A' || p[0] == 'P') && (p[1] == 'm' || p[1] == 'M');
}

/* Split text into sentences and words (WORD, NUMBER, EMOJI tokens). */
int zt__ptext_init(const char *text, size_t len, struct zt__ptext *p)
{
    memset(p, 0, sizeof *p);
    struct zt_token *t = NULL;
    struct zt_span *sp = NULL, one;
    size_t nt = 0, ns = 0;
    int rc = zt_text_tokenize_all(text, len, NULL, 0, &t, &nt);
    if (rc) goto out;
    rc = zt_text_sentences(text, len, &one, 1, &ns);
    if (rc) goto out;
    sp = zt_calloc(ns ? ns : 1, sizeof *sp);
    p->t = zt_calloc(nt ? nt : 1, sizeof *p->t);
    p->s = zt_calloc(ns ? ns : 1, sizeof *p->s);
    if (!sp || !p->t || !p->s) {
        rc = ZT_ENOMEM;
        goto out;
    }
    size_t ns2 = 0;
    rc = zt_text_sentences(text, len, sp, ns, &ns2);
    if (rc) goto out;
    size_t si = 0;
    bool clause = true, sent = true;
    for (size_t i = 0; i < nt; i++) {
        const struct zt_token *k = &t[i];
        while (si + 1 < ns && k->off >= sp[si + 1].off) {
            si++;
            clause = sent = true;
        }
        if (k->kind == ZT_TOK_PUNCT) {
            char c = text[k->off];
            if (c == ',' || c == ';' || c == ':' || c == '-' || c == '(') clause = true;
            if (c == '?' && p->n_s) p->s[p->n_s - 1].q = true;
            if (c == '!' && p->n_s) p->s[p->n_s - 1].excl = true;
            if ((c == '?' || c == '!' || c == '.') && p->n_s) clause = true;
            continue;
        }
        if (k->kind == ZT_TOK_URL) continue;
        struct ptok *w = &p->t[p->n];
        rc = word_hash(text, k, &w->h);
        if (rc) goto out;
        if (sent || p->n_s == 0) { /* ns >= 1 whenever there is a word */
            if (p->n_s == ns) goto out;
            p->s[p->n_s] = (struct psent){.first = p->n};
            p->n_s++;
        }
        w->sent = (uint32_t)(p->n_s - 1);
        if (sent) w->flags |= TF_SENT;
        if (clause) w->flags |= TF_CLAUSE;
        if (k->kind == ZT_TOK_WORD && clock_word(text, k)) w->flags |= TF_CLOCK;
        if (k->kind == ZT_TOK_NUMBER) {
            size_t e = k->off + k->len;
            if (e + 1 < len && text[e] == ':' && is_ascii_digit(text[e + 1])) w->flags |= TF_CLOCK;
            if (i + 1 < nt && t[i + 1].kind == ZT_TOK_WORD && is_am_pm(text, &t[i + 1])) w->flags |= TF_CLOCK;
        }
        p->s[p->n_s - 1].n++;
        p->n++;
        clause = sent = false;
    }
out:
    zt_free(t);
    zt_free(sp);
    if (rc) zt__ptext_deinit(p);
    return rc;
}

static bool phrase_at(const struct zt__ptext *p, size_t i, const struct phrase *ph)
{
    if (ph->n == 0 || i + ph->n > p->n) return false;
    for (size_t k = 0; k < ph->n; k++)
        if (p->t[i + k].h != ph->h[k] || p->t[i + k].sent != p->t[i].sent) return false;
    return true;
}

static bool lex_at(const struct lexicon *lx, const struct zt__ptext *p, size_t i)
{
    for (size_t k = 0; k < lx->n; k++)
        if (phrase_at(p, i, &lx->p[k])) return true;
    return false;
}

static bool lex_any(const struct zt_intent_model *m, int lx, const struct zt__ptext *p, enum zt_lex_where where)
{
    for (size_t i = 0; i < p->n; i++) {
        if (where == ZT_LEX_START && !(p->t[i].flags & TF_CLAUSE)) continue;
        if (lx == m->req[LX_TIME] && (p->t[i].flags & TF_CLOCK)) return true;
        if (lex_at(&m->lex[lx], p, i)) return true;
    }
    return false;
}

/* ---- the cue file ------------------------------------------------------- */

static int parse_phrase(const char *s, size_t n, struct phrase *ph)
{
    struct zt_token t[MAX_PHRASE_WORDS + 1];
    size_t nt = 0;
    int rc = zt_text_tokenize(s, n, t, MAX_PHRASE_WORDS + 1, &nt);
    if (rc) return rc;
    memset(ph, 0, sizeof *ph);
    for (size_t i = 0; i < nt && i < MAX_PHRASE_WORDS + 1; i++) {
        if (t[i].kind == ZT_TOK_PUNCT || t[i].kind == ZT_TOK_URL) continue;
        if (ph->n == MAX_PHRASE_WORDS) return ZT_ETOOBIG;
        rc = word_hash(s, &t[i], &ph->h[ph->n]);
        if (rc) return rc;
        ph->n++;
    }
    if (nt > MAX_PHRASE_WORDS + 1) return ZT_ETOOBIG;
    return ph->n ? 0 : ZT_EINVAL;
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    void *p = zt_array_grow(*arr, cap, n + 1, elem, 16);
    if (!p) return ZT_ENOMEM;
    *arr = p;
    return 0;
}

static int find_lex(const struct zt_intent_model *m, const char *name, size_t len)
{
    for (size_t i = 0; i < m->n_lex; i++)
        if (strlen(m->lex[i].name) == len && memcmp(m->lex[i].name, name, len) == 0) return (int)i;
    return -1;
}

/* next whitespace-separated field of [*s, e) */
static bool parse_weight(const char *f, size_t fl, double *w)
{
    char buf[32];
    if (fl == 0 || fl >= sizeof buf) return false;
    memcpy(buf, f, fl);
    buf[fl] = '\0';
    return zt_str_to_double(buf, w) == 0 && *w > 0 && *w <= 1;
}

#define FAIL ZT__DATA_FAIL

/* config/intents.txt into m (zeroed): ZT__DATA_FILE_FUNCS */
static int parse_intents(struct zt_intent_model *m, struct zt__dfile *d)
{
    int rc;
    int cur_lex = -1, cur_int = -1;
    const char *ln, *le;
    while ((rc = zt__dfile_next(d, &ln, &le)) > 0) {
        const char *f;
        size_t fl;
        const char *s = zt__first_field(ln, le, &f, &fl);
        if (fl == 7 && memcmp(f, "lexicon", 7) == 0) {
            const char *nm;
            size_t nl;
            if (!zt__next_field(&s, le, &nm, &nl) || s != le) FAIL("expected `lexicon NAME`");
            if (nl >= sizeof m->lex[0].name) FAIL("lexicon name too long");
            if (find_lex(m, nm, nl) >= 0) FAIL("lexicon %.*s defined twice", (int)nl, nm);
            if (m->n_lex == MAX_LEXICONS) FAIL("too many lexicons (at most %d)", MAX_LEXICONS);
            memcpy(m->lex[m->n_lex].name, nm, nl);
            cur_lex = (int)m->n_lex++;
            cur_int = -1;
            continue;
        }
        if (fl == 6 && memcmp(f, "intent", 6) == 0) {
            const char *nm;
            size_t nl;
            enum zt_intent it;
            if (!zt__next_field(&s, le, &nm, &nl) || s != le) FAIL("expected `intent NAME`");
            if (zt_intent_from_name(nm, nl, &it) != 0 || it == ZT_INTENT_STATEMENT)
                FAIL("unknown intent '%.*s'", (int)(nl > 40 ? 40 : nl), nm);
            cur_int = (int)it;
            cur_lex = -1;
            continue;
        }
        if (cur_lex >= 0) {
            struct lexicon *lx = &m->lex[cur_lex];
            if (grow((void **)&lx->p, &lx->cap, lx->n, sizeof *lx->p)) {
                rc = ZT_ENOMEM;
                goto out;
            }
            int r = parse_phrase(ln, (size_t)(le - ln), &lx->p[lx->n]);
            if (r == ZT_ENOMEM) {
                rc = r;
                goto out;
            }
            if (r) FAIL("bad phrase (1 to %d words)", MAX_PHRASE_WORDS);
            lx->n++;
            continue;
        }
        if (cur_int < 0) FAIL("a cue outside any `intent` or `lexicon` section");
        struct intent_cues *ic = &m->in[cur_int];
        if (fl == 5 && memcmp(f, "boost", 5) == 0) {
            const char *nm, *wf;
            size_t nl, wl;
            double w;
            if (!zt__next_field(&s, le, &nm, &nl) || !zt__next_field(&s, le, &wf, &wl) || s != le) FAIL("expected `boost LEXICON WEIGHT`");
            int lx = find_lex(m, nm, nl);
            if (lx < 0) FAIL("unknown lexicon '%.*s' (define it above)", (int)(nl > 40 ? 40 : nl), nm);
            if (!parse_weight(wf, wl, &w)) FAIL("weight must be a number in (0, 1]");
            if (ic->n_boost == MAX_BOOSTS) FAIL("too many boosts (at most %d)", MAX_BOOSTS);
            ic->boost[ic->n_boost].lex = lx;
            ic->boost[ic->n_boost].w = w;
            ic->n_boost++;
            continue;
        }
        enum cue_where where;
        if (fl == 5 && memcmp(f, "start", 5) == 0) where = CUE_START;
        else if (fl == 3 && memcmp(f, "any", 3) == 0) where = CUE_ANY;
        else if (fl == 4 && memcmp(f, "only", 4) == 0) where = CUE_ONLY;
        else FAIL("unknown directive '%.*s' (start, any, only, boost)", (int)(fl > 40 ? 40 : fl), f);
        const char *wf;
        size_t wl;
        double w;
        if (!zt__next_field(&s, le, &wf, &wl) || !parse_weight(wf, wl, &w)) FAIL("weight must be a number in (0, 1]");
        while (s < le && (*s == ' ' || *s == '\t')) s++;
        if (grow((void **)&ic->c, &ic->cap, ic->n, sizeof *ic->c)) {
            rc = ZT_ENOMEM;
            goto out;
        }
        struct cue *c = &ic->c[ic->n];
        int r = parse_phrase(s, (size_t)(le - s), &c->p);
        if (r == ZT_ENOMEM) {
            rc = r;
            goto out;
        }
        if (r) FAIL("bad phrase (1 to %d words)", MAX_PHRASE_WORDS);
        c->where = where;
        c->w = w;
        ic->n++;
    }
    if (rc) goto out;
    for (size_t i = 0; i < sizeof required_lex / sizeof required_lex[0]; i++) {
        int lx = find_lex(m, required_lex[i], strlen(required_lex[i]));
        if (lx < 0) {
            snprintf(d->err, d->err_size, "%s: lexicon %s is missing", d->file, required_lex[i]);
            rc = ZT_EPARSE;
            goto out;
        }
        if (i < LX_N_REQUIRED) m->req[i] = lx;
    }
out:
    return rc;
}

ZT__DATA_FILE_FUNCS(zt_intent_model, struct zt_intent_model, parse_intents, zt__builtin_intents, "intents.txt")

void zt_intent_model_free(struct zt_intent_model *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_lex; i++) zt_free(m->lex[i].p);
    for (int i = 0; i < ZT_INTENT_COUNT; i++) zt_free(m->in[i].c);
    zt_free(m);
}

/* ---- detection ---------------------------------------------------------- */

static void noisy_or(double *acc, double w)
{
    *acc = 1.0 - (1.0 - *acc) * (1.0 - w);
}

/* Questions from the shape of each sentence. */
static void question_rules(const struct zt_intent_model *m, const struct zt__ptext *p, const bool *greet, double sc[])
{
    const struct lexicon *aux = &m->lex[m->req[LX_AUX]], *wh = &m->lex[m->req[LX_WH]],
                         *pron = &m->lex[m->req[LX_PRONOUN]];
    static const char *const excl_next[] = {"a", "an"};
    uint64_t ex[2] = {zt_fnv1a64(excl_next[0], 1), zt_fnv1a64(excl_next[1], 2)};
    for (size_t s = 0; s < p->n_s; s++) {
        const struct psent *se = &p->s[s];
        double q = 0, yn = 0;
        bool wh_anywhere = false;
        for (size_t i = se->first; i < se->first + se->n; i++) {
            if (greet[i]) continue; /* "how are you", "what's up" greet */
            bool cl = (p->t[i].flags & TF_CLAUSE) != 0;
            if (lex_at(wh, p, i)) {
                wh_anywhere = true;
                if (cl) {
                    bool exclam = i + 1 < se->first + se->n && (p->t[i + 1].h == ex[0] || p->t[i + 1].h == ex[1]);
                    if (se->q) noisy_or(&q, 0.85);
                    else if (!exclam && !se->excl) noisy_or(&q, 0.6);
                }
            } else if (cl && lex_at(aux, p, i)) {
                bool pronoun = i + 1 < se->first + se->n && lex_at(pron, p, i + 1);
                if (se->q) noisy_or(&yn, pronoun ? 0.85 : 0.8);
                else if (pronoun && (p->t[i].flags & TF_SENT)) noisy_or(&yn, 0.7);
            }
        }
        if (se->q && q == 0 && yn == 0 && !(se->n && greet[se->first])) {
            if (wh_anywhere) q = 0.75;
            else yn = 0.7;
        }
        if (q > sc[ZT_INTENT_QUESTION]) sc[ZT_INTENT_QUESTION] = q;
        if (yn > sc[ZT_INTENT_YESNO]) sc[ZT_INTENT_YESNO] = yn;
    }
}

int zt_intent_detect(const struct zt_intent_model *m, const char *text, size_t len, struct zt_intent_result *out)
{
    struct zt__ptext p;
    int rc = zt__ptext_init(text, len, &p);
    if (rc) return rc;
    rc = zt__intent_detect_p(m, &p, out);
    zt__ptext_deinit(&p);
    return rc;
}

int zt__intent_detect_p(const struct zt_intent_model *m, const struct zt__ptext *pp, struct zt_intent_result *out)
{
    const struct zt__ptext p = *pp;
    int rc = 0;
    double sc[ZT_INTENT_COUNT] = {0};
    /* words of greeting cues ("how are you?") do not make questions */
    bool *greet = zt_calloc(p.n ? p.n : 1, sizeof *greet);
    if (!greet) return ZT_ENOMEM;
    const struct intent_cues *gc = &m->in[ZT_INTENT_GREETING];
    for (size_t c = 0; c < gc->n; c++)
        for (size_t i = 0; i < p.n; i++)
            if ((gc->c[c].where != CUE_START || (p.t[i].flags & TF_CLAUSE)) && phrase_at(&p, i, &gc->c[c].p))
                for (size_t k = 0; k < gc->c[c].p.n; k++) greet[i + k] = true;
    question_rules(m, &p, greet, sc);
    zt_free(greet);
    const struct lexicon *neg = &m->lex[m->req[LX_NEG]];
    bool lex_hit[MAX_LEXICONS] = {false}, lex_done[MAX_LEXICONS] = {false};
    for (int it = 1; it < ZT_INTENT_COUNT; it++) {
        const struct intent_cues *ic = &m->in[it];
        double acc = 0;
        bool matched = false;
        for (size_t c = 0; c < ic->n; c++) {
            const struct cue *cu = &ic->c[c];
            bool hit = false;
            if (cu->where == CUE_ONLY) {
                hit = p.n == cu->p.n && phrase_at(&p, 0, &cu->p);
            } else {
                for (size_t i = 0; i < p.n && !hit; i++) {
                    if (cu->where == CUE_START && !(p.t[i].flags & TF_CLAUSE)) continue;
                    if (!phrase_at(&p, i, &cu->p)) continue;
                    if (cu->where == CUE_ANY && i > 0 && p.t[i - 1].sent == p.t[i].sent && lex_at(neg, &p, i - 1))
                        continue; /* "not sorry", "don't agree" */
                    hit = true;
                }
            }
            if (hit) {
                noisy_or(&acc, cu->w);
                matched = true;
            }
        }
        for (size_t b = 0; matched && b < ic->n_boost; b++) {
            int lx = ic->boost[b].lex;
            if (!lex_done[lx]) {
                lex_hit[lx] = lex_any(m, lx, &p, ZT_LEX_ANY);
                lex_done[lx] = true;
            }
            if (lex_hit[lx]) noisy_or(&acc, ic->boost[b].w);
        }
        noisy_or(&sc[it], acc);
    }
    /* "Can you ...?", "Do you want to ...?", "Are you free ...?" ask for
     * something more specific than a yes or a no: that intent leads */
    double specific = sc[ZT_INTENT_REQUEST];
    if (sc[ZT_INTENT_INVITATION] > specific) specific = sc[ZT_INTENT_INVITATION];
    if (sc[ZT_INTENT_SCHEDULING] > specific) specific = sc[ZT_INTENT_SCHEDULING];
    if (specific >= 0.7 && sc[ZT_INTENT_YESNO] >= specific) sc[ZT_INTENT_YESNO] = specific - 0.01;
    /* "Hi! Are you free at 3?": a greeting in front of something else is
     * not what the message is about */
    double other = 0;
    for (int it = 1; it < ZT_INTENT_COUNT; it++)
        if (it != ZT_INTENT_GREETING && sc[it] > other) other = sc[it];
    if (other >= ZT_INTENT_MIN && sc[ZT_INTENT_GREETING] >= other) sc[ZT_INTENT_GREETING] = other - 0.01;
    struct zt_intent_result r;
    memset(&r, 0, sizeof r);
    r.has_time = lex_any(m, m->req[LX_TIME], &p, ZT_LEX_ANY);
    double best = 0;
    for (int it = 1; it < ZT_INTENT_COUNT; it++) {
        if (sc[it] > best) best = sc[it];
        if (sc[it] < ZT_INTENT_MIN) continue;
        /* insertion by confidence, ties by enum order (stable) */
        size_t k = r.n;
        while (k > 0 && r.labels[k - 1].confidence < sc[it]) {
            r.labels[k] = r.labels[k - 1];
            k--;
        }
        r.labels[k] = (struct zt_intent_label){(enum zt_intent)it, sc[it]};
        r.n++;
    }
    if (r.n == 0) {
        r.labels[0] = (struct zt_intent_label){ZT_INTENT_STATEMENT, 1.0 - best};
        r.n = 1;
    }
    *out = r;
    return rc;
}

double zt_intent_score(const struct zt_intent_result *r, enum zt_intent i)
{
    for (size_t k = 0; k < r->n; k++)
        if (r->labels[k].intent == i) return r->labels[k].confidence;
    return 0;
}

int zt_intent_lexicon(const struct zt_intent_model *m, const char *name, const char *text, size_t len,
                      enum zt_lex_where where, bool *hit)
{
    int lx = find_lex(m, name, strlen(name));
    if (lx < 0) {
        *hit = false;
        return 0;
    }
    struct zt__ptext p;
    int rc = zt__ptext_init(text, len, &p);
    if (rc) return rc;
    *hit = lex_any(m, lx, &p, where);
    zt__ptext_deinit(&p);
    return 0;
}

bool zt__intent_lexicon_p(const struct zt_intent_model *m, const char *name, const struct zt__ptext *p,
                          enum zt_lex_where where)
{
    int lx = find_lex(m, name, strlen(name));
    return lx >= 0 && lex_any(m, lx, p, where);
}
