/* summarize.c: TextRank key sentences, decisions, open questions and
 * action items of a conversation (zt_summarize.h). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conv_util.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
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
    struct sent *p = zt_array_grow(k->s, &k->cap, k->n + 1, sizeof *p, 64);
    if (!p) return ZT_ENOMEM;
    k->s = p;
    k->s[k->n++] = s;
    return 0;
}

static int push_word(struct work *k, struct word w)
{
    struct word *p = zt_array_grow(k->w, &k->capw, k->nw + 1, sizeof *p, 256);
    if (!p) return ZT_ENOMEM;
    k->w = p;
    k->w[k->nw++] = w;
    return 0;
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
    struct zt_summary_item *p = zt_array_grow(it->v, &it->cap, it->n + 1, sizeof *p, 8);
    if (!p) return ZT_ENOMEM;
    it->v = p;
    it->v[it->n++] = x;
    return 0;
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
            rc = push_item(&key, (struct zt_summary_item){s->msg, s->off, s->len, rk[i].score, NULL, SIZE_MAX});
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
    for (size_t i = 0; i < S && !rc; i++) {
        const struct sent *s = &k.s[i];
        const struct zt_conv_msg *m = &msgs[s->msg];
        const char *t = m->text + s->off;
        struct zt__ptext *pt;
        if ((rc = zt__ptext_new(t, s->len, &pt))) break;
        struct zt_summary_item it = {s->msg, s->off, s->len, 1.0, NULL, SIZE_MAX};
        if (zt__intent_lexicon_p(model, "decision", pt, ZT_LEX_ANY) && (rc = push_item(&dec, it))) {
            zt__ptext_free(pt);
            break;
        }

        /* an open question: no later message of another speaker answers it */
        bool question = s->q || (is_question_intent(mi[s->msg].labels[0].intent) && s->off + s->len == m->len);
        if (question) {
            bool answered = false, first_other = true;
            for (size_t j = s->msg + 1; j < n && j <= s->msg + ANSWER_WINDOW && !answered; j++) {
                if (same_from(&msgs[j], m)) continue;
                enum zt_intent pj = mi[j].labels[0].intent;
                bool asks = is_question_intent(pj);
                if (first_other && !asks && pj != ZT_INTENT_GREETING) answered = true;
                first_other = false;
                /* a later message sharing content words with the question */
                for (size_t q = i + 1; q < S && !answered && !asks; q++)
                    if (k.s[q].msg == j && shared_words(&k, s, &k.s[q])) answered = true;
            }
            if (!answered && (rc = push_item(&qs, it))) {
                zt__ptext_free(pt);
                break;
            }
        }

        /* action items */
        bool todo = zt__intent_lexicon_p(model, "todo", pt, ZT_LEX_ANY);
        bool commit = zt__intent_lexicon_p(model, "commitment", pt, ZT_LEX_START);
        bool imper = zt__intent_lexicon_p(model, "imperative", pt, ZT_LEX_ANY);
        bool timed = zt__intent_lexicon_p(model, "time", pt, ZT_LEX_ANY);
        bool imper_start = imper && zt__intent_lexicon_p(model, "imperative", pt, ZT_LEX_START);
        struct zt_intent_result si;
        rc = zt__intent_detect_p(model, pt, &si);
        zt__ptext_free(pt);
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
        if (it.kind && (rc = push_item(&act, it))) break;
    }
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
