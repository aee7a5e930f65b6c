/* summarize.c: TextRank key sentences, decisions, open questions and
 * action items of a conversation (zt_summarize.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conv_util.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_entities.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_summarize.h"
#include "zentalk/zt_text.h"

#define WORD_MAX 64
#define DAMPING 0.85
#define PR_MAX_ITER 100
#define PR_TOL 1e-6
#define REPLY_BOOST 1.15
#define REPLY_WINDOW 3  /* later messages that can take a sentence up */
#define ANSWER_WINDOW 5 /* later messages that can answer a question */

/* ---- sentences and their words ----------------------------------------------- */

struct word {
    uint64_t full; /* the folded word (stopword lookups) */
    uint64_t stem; /* with a plural -s / 's stripped (similarity) */
};

struct sent {
    size_t msg, off, len;
    size_t w0, nw;   /* words[w0..w0+nw): all words, then content words after filtering */
    bool q;          /* ends with '?' */
    double score;
};

struct work {
    struct sent *s;
    size_t n, cap;
    struct word *w;
    size_t nw, capw;
};

static int push_sent(struct work *k, struct sent s)
{
    return zt_array_push(&k->s, &k->n, &k->cap, &s, sizeof s, 64);
}

static int push_word(struct work *k, struct word w)
{
    return zt_array_push(&k->w, &k->nw, &k->capw, &w, sizeof w, 256);
}

static bool all_digits(const char *s)
{
    for (; *s; s++)
        if (*s < '0' || *s > '9') return false;
    return true;
}

/* The words of one sentence text[0..len) into k. */
static int sentence_words(struct work *k, const char *text, size_t len)
{
    struct zt_token *t = NULL;
    size_t nt = 0;
    int rc = zt_text_tokenize_all(text, len, NULL, 0, &t, &nt);
    if (rc) return rc;
    for (size_t i = 0; !rc && i < nt; i++) {
        if (t[i].kind != ZT_TOK_WORD) continue;
        char f[WORD_MAX + 1];
        long fl = zt_text_token_fold(text, &t[i], f, sizeof f);
        if (fl == ZT_ETOOBIG) continue; /* not a word anyone would repeat */
        if (fl < 0) {
            rc = (int)fl;
            break;
        }
        /* curly apostrophes as ' */
        size_t m = 0;
        for (size_t j = 0; j < (size_t)fl; j++) {
            if (j + 2 < (size_t)fl && (unsigned char)f[j] == 0xE2 && (unsigned char)f[j + 1] == 0x80 &&
                (unsigned char)f[j + 2] == 0x99) {
                f[m++] = '\'';
                j += 2;
            } else {
                f[m++] = f[j];
            }
        }
        f[m] = '\0';
        if (m < 2 || all_digits(f)) continue;
        struct word w = {.full = zt_fnv1a64(f, m)};
        size_t sl = m;
        if (sl > 2 && f[sl - 2] == '\'' && f[sl - 1] == 's') sl -= 2;
        else if (sl > 3 && f[sl - 1] == 's' && f[sl - 2] != 's') sl--;
        w.stem = zt_fnv1a64(f, sl);
        rc = push_word(k, w);
    }
    zt_free(t);
    return rc;
}

static bool ends_with_q(const char *s, size_t len)
{
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '"' || s[len - 1] == ')' || s[len - 1] == '!')) len--;
    return len > 0 && s[len - 1] == '?';
}

/* Number of content-word stems sentences a and b share (both sorted, unique). */
static size_t shared_words(const struct work *k, const struct sent *a, const struct sent *b)
{
    size_t i = 0, j = 0, n = 0;
    while (i < a->nw && j < b->nw) {
        uint64_t x = k->w[a->w0 + i].stem, y = k->w[b->w0 + j].stem;
        if (x == y) {
            n++;
            i++;
            j++;
        } else if (x < y) {
            i++;
        } else {
            j++;
        }
    }
    return n;
}

static int cmp_stem(const void *a, const void *b)
{
    uint64_t x = ((const struct word *)a)->stem, y = ((const struct word *)b)->stem;
    return x < y ? -1 : x > y;
}

/* ---- results -------------------------------------------------------------------- */

struct items {
    struct zt_summary_item *v;
    size_t n, cap;
};

static int push_item(struct items *it, struct zt_summary_item x)
{
    return zt_array_push(&it->v, &it->n, &it->cap, &x, sizeof x, 8);
}

static bool same_from(const struct zt_conv_msg *a, const struct zt_conv_msg *b)
{
    return a->from_len == b->from_len && (a->from_len == 0 || memcmp(a->from, b->from, a->from_len) == 0);
}

static bool is_question_intent(enum zt_intent i)
{
    return i == ZT_INTENT_QUESTION || i == ZT_INTENT_YESNO;
}

void zt_summary_deinit(struct zt_summary *s)
{
    if (!s) return;
    zt_free(s->key);
    zt_free(s->decisions);
    zt_free(s->questions);
    zt_free(s->actions);
    memset(s, 0, sizeof *s);
}

/* ---- who an action item is for, and by when ---------------------------------- */

static bool word_is(const char *text, const struct zt_token *t, const char *const *list, size_t n)
{
    char f[WORD_MAX + 1];
    long fl = zt_text_token_fold(text, t, f, sizeof f);
    if (fl < 0) return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(f, list[i]) == 0) return true;
    return false;
}

/* A capitalised word that can be a name (not "Ok", "Thanks", "Team"...). */
static bool name_word(const char *text, const struct zt_token *t)
{
    static const char *const not_names[] = {
        "ok", "okay", "yes", "no", "yeah", "sure", "please", "thanks", "so", "well", "also", "and", "but", "then",
        "now", "guys", "team", "everyone", "everybody", "all", "folks", "hey", "hi", "hello", "again", "today",
        "tomorrow", "tonight", "anyway", "btw", "actually", "honestly", "right", "great", "cool", "sorry", "i",
        "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "y'all", "sir", "madam", "dear"};
    unsigned char c = (unsigned char)text[t->off];
    return t->kind == ZT_TOK_WORD && c >= 'A' && c <= 'Z' && t->len >= 2 &&
           !word_is(text, t, not_names, sizeof not_names / sizeof not_names[0]);
}

static bool punct_is(const char *text, const struct zt_token *t, char c)
{
    return t->kind == ZT_TOK_PUNCT && t->len == 1 && text[t->off] == c;
}

/* The person sentence text[0..len) addresses: "@carol ..." (the mention
 * without '@'), "[Hey] Carol, can you ...", "... , Carol?". */
static int addressee(const char *text, size_t len, size_t *off, size_t *nl)
{
    struct zt_entity e[8];
    size_t ne = 0;
    struct zt_entities_ref ref0 = {0, 0, 0};
    int rc = zt_entities_extract(text, len, &ref0, e, 8, &ne);
    if (rc) return rc;
    for (size_t i = 0; i < ne && i < 8; i++)
        if (e[i].type == ZT_ENT_MENTION && e[i].len > 1) {
            *off = e[i].off + 1;
            *nl = e[i].len - 1;
            return 0;
        }
    struct zt_token *t = NULL;
    size_t nt = 0;
    rc = zt_text_tokenize_all(text, len, NULL, 0, &t, &nt);
    if (rc) return rc;
    static const char *const hello[] = {"hey", "hi", "hello", "dear", "ok", "okay", "so"};
    size_t i = 0;
    if (nt > 1 && word_is(text, &t[0], hello, sizeof hello / sizeof hello[0])) i = punct_is(text, &t[1], ',') ? 2 : 1;
    if (i + 1 < nt && name_word(text, &t[i]) && punct_is(text, &t[i + 1], ',')) {
        *off = t[i].off;
        *nl = t[i].len;
    } else {
        size_t e2 = nt;
        while (e2 > 0 && t[e2 - 1].kind == ZT_TOK_PUNCT && !punct_is(text, &t[e2 - 1], ',')) e2--;
        if (e2 >= 3 && name_word(text, &t[e2 - 1]) && punct_is(text, &t[e2 - 2], ',')) {
            *off = t[e2 - 1].off;
            *nl = t[e2 - 1].len;
        }
    }
    zt_free(t);
    return 0;
}

/* The first date of sentence text[0..len) into it (offsets in the message). */
static int due_date(const char *text, size_t len, size_t base, const struct zt_entities_ref *ref,
                    struct zt_summary_item *it)
{
    struct zt_entity e[8];
    size_t ne = 0;
    struct zt_entities_ref ref0 = {0, 0, 0};
    int rc = zt_entities_extract(text, len, ref ? ref : &ref0, e, 8, &ne);
    if (rc) return rc;
    for (size_t i = 0; i < ne && i < 8; i++)
        if (e[i].type == ZT_ENT_DATE || e[i].type == ZT_ENT_DATETIME) {
            it->due_off = base + e[i].off;
            it->due_len = e[i].len;
            if (ref) memcpy(it->due, e[i].value, sizeof it->due);
            break;
        }
    return 0;
}

static bool from_is(const struct zt_conv_msg *m, const char *name, size_t nl)
{
    if (m->from_len != nl || nl == 0) return false;
    for (size_t i = 0; i < nl; i++) {
        char a = m->from[i], b = name[i];
        if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z') b = (char)(b - 'A' + 'a');
        if (a != b) return false;
    }
    return true;
}

static bool has_item(const struct items *it, size_t msg, size_t off)
{
    for (size_t i = 0; i < it->n; i++)
        if (it->v[i].msg == msg && it->v[i].off == off) return true;
    return false;
}

struct rank_ix {
    double score;
    size_t i;
};

static int cmp_rank(const void *a, const void *b)
{
    const struct rank_ix *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

static int cmp_item_chrono(const void *a, const void *b)
{
    const struct zt_summary_item *x = a, *y = b;
    if (x->msg != y->msg) return x->msg < y->msg ? -1 : 1;
    return x->off < y->off ? -1 : x->off > y->off;
}

int zt_summarize(const struct zt_intent_model *model, const struct zt_stopwords *sw, const struct zt_conv_msg *msgs,
                 size_t n, size_t max_sentences, double min_salience, struct zt_summary *out)
{
    return zt_summarize_at(model, sw, msgs, n, max_sentences, min_salience, NULL, out);
}

int zt_summarize_at(const struct zt_intent_model *model, const struct zt_stopwords *sw,
                    const struct zt_conv_msg *msgs, size_t n, size_t max_sentences, double min_salience,
                    const struct zt_entities_ref *ref, struct zt_summary *out)
{
    if (n == 0) return ZT_EINVAL;
    struct work k;
    memset(&k, 0, sizeof k);
    struct items key = {0}, dec = {0}, qs = {0}, act = {0};
    float *sim = NULL;
    double *pr = NULL, *nx = NULL, *rowsum = NULL;
    struct rank_ix *rk = NULL;
    struct zt_intent_result *mi = NULL;
    struct zt_span *sp = NULL;
    int rc = 0;
    unsigned iters = 0;

    /* 1. sentences and words */
    for (size_t m = 0; m < n && !rc; m++) {
        struct zt_span one;
        size_t ns = 0;
        rc = zt_text_sentences(msgs[m].text, msgs[m].len, &one, 1, &ns);
        if (rc) break;
        if (k.n + ns > ZT_SUMMARY_MAX_SENTENCES) {
            rc = ZT_ETOOBIG;
            break;
        }
        zt_free(sp);
        sp = zt_calloc(ns ? ns : 1, sizeof *sp);
        if (!sp) {
            rc = ZT_ENOMEM;
            break;
        }
        size_t ns2 = 0;
        rc = zt_text_sentences(msgs[m].text, msgs[m].len, sp, ns, &ns2);
        for (size_t i = 0; !rc && i < ns && i < ns2; i++) {
            struct sent s = {.msg = m, .off = sp[i].off, .len = sp[i].len, .w0 = k.nw};
            rc = sentence_words(&k, msgs[m].text + sp[i].off, sp[i].len);
            if (rc) break;
            s.nw = k.nw - s.w0;
            s.q = ends_with_q(msgs[m].text + sp[i].off, sp[i].len);
            rc = push_sent(&k, s);
        }
    }
    if (rc) goto out;

    /* 2. the stopword language: the list covering most words */
    size_t lang = SIZE_MAX, best_hits = 0;
    for (size_t li = 0; li < zt_stopwords_langs(sw); li++) {
        size_t hits = 0;
        for (size_t i = 0; i < k.nw; i++) hits += zt_stopwords_has_hash(sw, li, k.w[i].full);
        if (lang == SIZE_MAX || hits > best_hits) {
            lang = li;
            best_hits = hits;
        }
    }
    /* content words: drop stopwords, sort and deduplicate stems per sentence */
    for (size_t i = 0; i < k.n; i++) {
        struct sent *s = &k.s[i];
        size_t m = 0;
        for (size_t j = 0; j < s->nw; j++) {
            struct word w = k.w[s->w0 + j];
            if (lang != SIZE_MAX && zt_stopwords_has_hash(sw, lang, w.full)) continue;
            k.w[s->w0 + m++] = w;
        }
        if (m > 1) qsort(k.w + s->w0, m, sizeof *k.w, cmp_stem); /* k.w is NULL without words */
        size_t u = 0;
        for (size_t j = 0; j < m; j++)
            if (u == 0 || k.w[s->w0 + u - 1].stem != k.w[s->w0 + j].stem) k.w[s->w0 + u++] = k.w[s->w0 + j];
        s->nw = u;
    }

    /* 3. TextRank */
    size_t S = k.n;
    if (S > 0) {
        size_t cells;
        if (zt_mul_size(S, S, &cells)) {
            rc = ZT_ETOOBIG;
            goto out;
        }
        sim = zt_calloc(cells, sizeof *sim);
        pr = zt_calloc(S, sizeof *pr);
        nx = zt_calloc(S, sizeof *nx);
        rowsum = zt_calloc(S, sizeof *rowsum);
        if (!sim || !pr || !nx || !rowsum) {
            rc = ZT_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < S; i++)
            for (size_t j = i + 1; j < S; j++) {
                size_t c = shared_words(&k, &k.s[i], &k.s[j]);
                if (!c) continue;
                double v = (double)c / (log1p((double)k.s[i].nw) + log1p((double)k.s[j].nw));
                sim[i * S + j] = sim[j * S + i] = (float)v;
                rowsum[i] += v;
                rowsum[j] += v;
            }
        for (size_t i = 0; i < S; i++) pr[i] = 1.0 / (double)S;
        for (iters = 1; iters <= PR_MAX_ITER; iters++) {
            double dangling = 0;
            for (size_t j = 0; j < S; j++)
                if (rowsum[j] == 0) dangling += pr[j];
            double delta = 0;
            for (size_t i = 0; i < S; i++) {
                double acc = 0;
                for (size_t j = 0; j < S; j++) {
                    float w = sim[j * S + i];
                    if (w != 0) acc += (double)w / rowsum[j] * pr[j];
                }
                nx[i] = (1.0 - DAMPING) / (double)S + DAMPING * (acc + dangling / (double)S);
                delta += fabs(nx[i] - pr[i]);
            }
            memcpy(pr, nx, S * sizeof *pr);
            if (delta < PR_TOL) break;
        }
        if (iters > PR_MAX_ITER) iters = PR_MAX_ITER;
        /* sentences another speaker takes up soon after */
        for (size_t i = 0; i < S; i++) {
            k.s[i].score = pr[i];
            bool taken_up = false;
            for (size_t j = i + 1; j < S && !taken_up; j++) {
                size_t mj = k.s[j].msg, mi_ = k.s[i].msg;
                if (mj > mi_ + REPLY_WINDOW) break;
                if (mj == mi_ || same_from(&msgs[mj], &msgs[mi_])) continue;
                taken_up = sim[i * S + j] != 0;
            }
            if (taken_up) k.s[i].score *= REPLY_BOOST;
        }
        size_t want = max_sentences;
        if (want == 0) {
            want = (S + 4) / 5;
            if (want < 1) want = 1;
            if (want > 5) want = 5;
        }
        if (want > S) want = S;
        rk = zt_calloc(S, sizeof *rk);
        if (!rk) {
            rc = ZT_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < S; i++) rk[i] = (struct rank_ix){k.s[i].score, i};
        qsort(rk, S, sizeof *rk, cmp_rank);
        for (size_t i = 0; i < want && !rc; i++) {
            if (i > 0 && rk[i].score < min_salience * rk[0].score) break;
            const struct sent *s = &k.s[rk[i].i];
            rc = push_item(&key, (struct zt_summary_item){.msg = s->msg, .off = s->off, .len = s->len, .score = rk[i].score, .assignee = SIZE_MAX});
        }
        if (rc) goto out;
        qsort(key.v, key.n, sizeof *key.v, cmp_item_chrono);
    }

    /* 4. decisions, questions, action items */
    mi = zt_calloc(n, sizeof *mi);
    if (!mi) {
        rc = ZT_ENOMEM;
        goto out;
    }
    for (size_t m = 0; m < n && !rc; m++) rc = zt_intent_detect(model, msgs[m].text, msgs[m].len, &mi[m]);
    if (rc) goto out;
    /* a message that asks, requests (or ends in '?') is no answer */
    bool *asks = zt_calloc(n, sizeof *asks);
    if (!asks) {
        rc = ZT_ENOMEM;
        goto out;
    }
    for (size_t m = 0; m < n; m++)
        asks[m] = is_question_intent(mi[m].labels[0].intent) || mi[m].labels[0].intent == ZT_INTENT_REQUEST;
    for (size_t i = 0; i < S; i++) asks[k.s[i].msg] |= k.s[i].q;
    for (size_t i = 0; i < S && !rc; i++) {
        const struct sent *s = &k.s[i];
        const struct zt_conv_msg *m = &msgs[s->msg];
        const char *t = m->text + s->off;
        struct zt__ptext pt;
        if ((rc = zt__ptext_init(t, s->len, &pt))) break;
        struct zt_summary_item it = {s->msg, s->off, s->len, 1.0, NULL, SIZE_MAX, 0, 0, 0, 0, ""};

        /* decisions: "let's go with", "we agreed"; "Let's ..." that is not a
         * question or an invitation; "Agreed." makes what it answers one */
        enum zt_intent lead = mi[s->msg].labels[0].intent;
        bool decided = zt__intent_lexicon_p(model, "decision", &pt, ZT_LEX_ANY) ||
                       (!s->q && lead != ZT_INTENT_INVITATION &&
                        zt__intent_lexicon_p(model, "decision_start", &pt, ZT_LEX_START));
        if (decided && !has_item(&dec, s->msg, s->off) && (rc = push_item(&dec, it))) {
            zt__ptext_deinit(&pt);
            break;
        }
        if (!decided && s->len <= 24 && zt__intent_lexicon_p(model, "decision_agree", &pt, ZT_LEX_START)) {
            size_t prev = SIZE_MAX;
            for (size_t q = i; q > 0 && prev == SIZE_MAX; q--)
                if (k.s[q - 1].msg < s->msg && !same_from(&msgs[k.s[q - 1].msg], m)) prev = q - 1;
            if (prev != SIZE_MAX && !has_item(&dec, k.s[prev].msg, k.s[prev].off)) {
                const struct sent *ps = &k.s[prev];
                struct zt_summary_item d = {ps->msg, ps->off, ps->len, 1.0, NULL, SIZE_MAX, 0, 0, 0, 0, ""};
                if ((rc = push_item(&dec, d))) {
                    zt__ptext_deinit(&pt);
                    break;
                }
            }
        }

        /* action items */
        bool todo = zt__intent_lexicon_p(model, "todo", &pt, ZT_LEX_ANY);
        bool commit = zt__intent_lexicon_p(model, "commitment", &pt, ZT_LEX_START);
        bool imper = zt__intent_lexicon_p(model, "imperative", &pt, ZT_LEX_ANY);
        bool timed = zt__intent_lexicon_p(model, "time", &pt, ZT_LEX_ANY);
        bool imper_start = imper && zt__intent_lexicon_p(model, "imperative", &pt, ZT_LEX_START);
        struct zt_intent_result si;
        rc = zt__intent_detect_p(model, &pt, &si);
        zt__ptext_deinit(&pt);
        if (rc) break;
        bool request = zt_intent_score(&si, ZT_INTENT_REQUEST) >= ZT_INTENT_MIN;
        /* the next message of another speaker: who a request goes to */
        size_t other = SIZE_MAX;
        for (size_t j = s->msg + 1; j < n && other == SIZE_MAX; j++)
            if (!same_from(&msgs[j], m)) other = j;
        if (todo) {
            it.kind = "todo";
            it.assignee = s->msg;
        } else if (commit && (imper || timed || si.labels[0].intent == ZT_INTENT_STATEMENT)) {
            it.kind = "commitment";
            it.assignee = s->msg;
        } else if (request && (timed || imper)) {
            it.kind = "request";
            it.assignee = other;
        } else if (imper_start && timed) {
            it.kind = "task";
        }
        if (it.kind) {
            size_t ao = 0, al = 0;
            if (!(rc = addressee(t, s->len, &ao, &al)) && al) {
                /* the one addressed owns it: their message when they speak */
                it.addressed_off = s->off + ao;
                it.addressed_len = al;
                size_t who = SIZE_MAX;
                for (size_t j = s->msg + 1; j < n && who == SIZE_MAX; j++)
                    if (from_is(&msgs[j], t + ao, al)) who = j;
                for (size_t j = 0; j < s->msg && who == SIZE_MAX; j++)
                    if (from_is(&msgs[j], t + ao, al)) who = j;
                it.assignee = who;
            }
            if (!rc) rc = due_date(t, s->len, s->off, ref, &it);
            if (!rc) rc = push_item(&act, it);
            if (rc) break;
        }

        /* an open question: no later message of another speaker answers it
         * (a request already listed as an action item is not one) */
        bool question = s->q || (is_question_intent(lead) && s->off + s->len == m->len);
        if (question && !(it.kind && strcmp(it.kind, "request") == 0)) {
            bool answered = false, first_other = true;
            for (size_t j = s->msg + 1; j < n && j <= s->msg + ANSWER_WINDOW && !answered; j++) {
                if (same_from(&msgs[j], m)) continue;
                enum zt_intent pj = mi[j].labels[0].intent;
                if (first_other && !asks[j] && pj != ZT_INTENT_GREETING) answered = true;
                first_other = false;
                /* a later message sharing content words with the question */
                for (size_t q = i + 1; q < S && !answered && !asks[j]; q++)
                    if (k.s[q].msg == j && shared_words(&k, s, &k.s[q])) answered = true;
            }
            struct zt_summary_item qi = {s->msg, s->off, s->len, 1.0, NULL, SIZE_MAX, 0, 0, 0, 0, ""};
            if (!answered && (rc = push_item(&qs, qi))) break;
        }
    }
    zt_free(asks);
    if (!rc && dec.n > 1) qsort(dec.v, dec.n, sizeof *dec.v, cmp_item_chrono);
    if (rc) goto out;

    memset(out, 0, sizeof *out);
    out->key = key.v;
    out->n_key = key.n;
    out->decisions = dec.v;
    out->n_decisions = dec.n;
    out->questions = qs.v;
    out->n_questions = qs.n;
    out->actions = act.v;
    out->n_actions = act.n;
    out->n_sentences = S;
    out->lang = lang != SIZE_MAX ? zt_stopwords_lang(sw, lang) : "";
    out->iterations = iters;
    key.v = dec.v = qs.v = act.v = NULL;
out:
    zt_free(key.v);
    zt_free(dec.v);
    zt_free(qs.v);
    zt_free(act.v);
    zt_free(k.s);
    zt_free(k.w);
    zt_free(sim);
    zt_free(pr);
    zt_free(nx);
    zt_free(rowsum);
    zt_free(rk);
    zt_free(mi);
    zt_free(sp);
    return rc;
}

int zt_summary_text(const struct zt_summary *s, const struct zt_conv_msg *msgs, struct zt_buf *out)
{
    int rc = 0;
    for (size_t i = 0; i < s->n_key && !rc; i++) {
        const struct zt_conv_msg *m = &msgs[s->key[i].msg];
        rc = zt_buf_appendf(out, "%s%.*s%s%.*s", i ? " " : "", (int)m->from_len, m->from, m->from_len ? ": " : "",
                            (int)s->key[i].len, m->text + s->key[i].off);
    }
    return rc;
}
