/* zt-train-clf: the trainer of the learned chat classifiers (learned.h).
 *
 *   zt-train-clf write [SRC_DIR]   retrain the models from SRC_DIR/tests/data/tune/ and the
 *                                  worn held-out sets (tests/data/heldout/, heldout3/ ... heldout11/), and
 *                                  write SRC_DIR/src/features/models/NAME.clf and
 *                                  SRC_DIR/src/privacy/models/names.clf (the person-name
 *                                  scorer: needs the names asset of `make data`)
 *   zt-train-clf score             each line of stdin with both compiled-in models'
 *                                  margins (>= 0: the model says yes) before their
 *                                  gates, and the gates' inputs ("act": an actionable
 *                                  cue, "you": a second person named, "3rd": a third
 *                                  person only), and the sentiment heads' margins;
 *                                  ZT_SCORE_TRAIN=SRC_DIR: spam and harassment models
 *                                  trained there with the ZT_CV_* overrides instead
 *   zt-train-clf score-names [SRC_DIR]  each line of stdin with the PERSON_NAME hits of a
 *                                  name model trained on SRC_DIR's rows (ZT_CV_THRESHOLD:
 *                                  its threshold), and every candidate with the rules'
 *                                  confidence and the model's margin (round 12)
 *   zt-train-clf cv [SRC_DIR [clf|sentiment|names]]  cross-validation on the tuning
 *                                  and worn sets: the model alone at several thresholds,
 *                                  the rules alone, and both together (needs the assets of
 *                                  `make data` in $ZENTALK_ASSETS_DIR for the rules);
 *                                  5-fold by row unless:
 *                                  ZT_CV_WRITERS=1: leave one worn writer out (round 10;
 *                                  ZT_CV_ROWS=1 prints every writer; the sentiment heads
 *                                  are always cross-validated this way);
 *                                  ZT_CV_DOXX, ZT_CV_SHORT, ZT_CV_NEGW, ZT_CV_ALLOWW: the
 *                                  data recipe (learned.h's struct zt__clf_data);
 *                                  ZT_CV_MODEL=spam|harass: that model only;
 *                                  ZT_CV_FULL=1 (with ZT_CV_WRITERS=1): also the whole
 *                                  moderation decision with each writer's model
 *                                  (gates, banter and reported-speech damping; round 12);
 *                                  ZT_CV_ROUNDS=1: round 1 against rounds 2-4;
 *                                  ZT_CV_ROUNDS=4: round 4 tested on rounds 1-3 (and 6);
 *                                  ZT_CV_ROUNDS=6: round 6 tested on rounds 1-4
 *                                  (the batch modes train on the worn sets too)
 *
 * SRC_DIR defaults to ".". Training is deterministic (test_learned checks
 * that it reproduces the committed files byte for byte). */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "learned.h"
#include "moderation_internal.h"
#include "spam_internal.h"
#include "train_names.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_moderation.h"
#include "zentalk/zt_sentiment.h"
#include "zentalk/zt_spam.h"

#define FOLDS 5

static int write_models(const char *src)
{
    for (int w = 0; w < ZT__CLF_N; w++) {
        struct zt__clf_example *ex = NULL;
        char **bufs = NULL;
        size_t n = 0, nb = 0, len = 0;
        uint8_t *out = NULL;
        int rc = zt__clf_examples((enum zt__clf_which)w, src, &ex, &n, &bufs, &nb);
        if (rc == 0) rc = zt__clf_train(ex, n, zt__clf_recipe((enum zt__clf_which)w), &out, &len);
        zt__clf_examples_free(ex, bufs, nb);
        if (rc) {
            fprintf(stderr, "zt-train-clf: %s: error %d\n", zt__clf_name((enum zt__clf_which)w), rc);
            return 1;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/src/features/models/%s", src, zt__clf_name((enum zt__clf_which)w));
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(out, 1, len, f) != len || fclose(f) != 0) {
            fprintf(stderr, "zt-train-clf: cannot write %s\n", path);
            zt_free(out);
            return 1;
        }
        printf("%s: %zu examples, %zu bytes\n", path, n, len);
        zt_free(out);
    }
    return 0;
}

/* The policy of the cross-validation: every category flagged at the default
 * threshold, detection unsure, English also checked. */
static void cv_policy(struct zt_moderation_policy *p)
{
    static const char *const also[] = {"en"};
    memset(p, 0, sizeof *p);
    p->threshold = 0.7;
    for (int c = 0; c < ZT_MOD_N_CATEGORIES; c++) p->actions[c] = ZT_MOD_FLAG;
    p->lang_unsure = true;
    p->also_langs = also;
    p->n_also_langs = 1;
}

/* Round 12: the whole moderation decision (rules, the learned model of the
 * row's fold with its gates, banter and reported-speech damping) of every
 * tested row at margin offset off (-1: not available). */
static void full_decision(const struct zt_moderation *mod, const struct zt__clf_example *ex, size_t n,
                          const int *fold, const struct zt_hlr *models, double off, double gate, double gate3, int *out)
{
    struct zt_moderation_policy p;
    cv_policy(&p);
    for (size_t i = 0; i < n; i++) {
        out[i] = 0;
        if (fold[i] < 0 || ex[i].len > ZT_MODERATION_MAX_TEXT) continue;
        struct zt__mod_learned l = {.m = &models[fold[i]], .offset = off, .gate = gate, .gate3 = gate3};
        struct zt_moderation_result r;
        if (zt__moderation_check_with(mod, ex[i].text, ex[i].len, &p, &l, &r) == 0) out[i] = r.action != ZT_MOD_ALLOW;
    }
}

/* The rules' verdict on every example (-1: not available). */
static void rules(enum zt__clf_which w, const struct zt__clf_example *ex, size_t n, int *out)
{
    const char *dir = getenv("ZENTALK_ASSETS_DIR");
    char path[4096];
    for (size_t i = 0; i < n; i++) out[i] = -1;
    if (w == ZT__CLF_SPAM_CHAT) {
        struct zt_spam_model *m = NULL;
        snprintf(path, sizeof path, "%s/spam.zta", dir ? dir : "data/assets");
        if (zt_spam_load(path, &m) != 0) return;
        for (size_t i = 0; i < n; i++) {
            struct zt_spam_result r;
            if (zt__spam_classify_rules(m, ex[i].text, ex[i].len, 0.8, &r) == 0) out[i] = r.spam;
        }
        zt_spam_free(m);
    } else {
        struct zt_moderation *m = NULL;
        snprintf(path, sizeof path, "%s/%s", dir ? dir : "data/assets", ZT_MODERATION_ASSET);
        if (zt_moderation_load(path, &m) != 0) return;
        struct zt_moderation_policy p;
        cv_policy(&p);
        for (size_t i = 0; i < n; i++) {
            struct zt_moderation_result r;
            if (ex[i].len <= ZT_MODERATION_MAX_TEXT &&
                zt__moderation_check_rules(m, ex[i].text, ex[i].len, &p, &r) == 0)
                out[i] = r.action != ZT_MOD_ALLOW;
        }
        zt_moderation_free(m);
    }
}

/* tested: the rows to count (NULL: all) */
static void report(const char *what, const struct zt__clf_example *ex, size_t n, const int *say, const bool *tested)
{
    size_t tp = 0, fp = 0, fn = 0, ord = 0, ord_fp = 0;
    for (size_t i = 0; i < n; i++) {
        if (say[i] < 0) return;
        if (tested && !tested[i]) continue;
        if (ex[i].source == ZT__CLF_SRC_SENTIMENT) continue; /* training only */
        if (ZT__CLF_SRC_IS_ORDINARY(ex[i].source)) {
            ord++;
            ord_fp += say[i] == 1;
            continue;
        }
        if (ex[i].label && say[i]) tp++;
        else if (!ex[i].label && say[i]) fp++;
        else if (ex[i].label) fn++;
    }
    double p = tp + fp ? (double)tp / (double)(tp + fp) : 1.0, r = tp + fn ? (double)tp / (double)(tp + fn) : 1.0;
    printf("  %-28s P %.3f R %.3f F1 %.3f   ordinary chat flagged %zu/%zu (%.2f%%)\n", what, p, r,
           p + r > 0 ? 2 * p * r / (p + r) : 0.0, ord_fp, ord, ord ? 100.0 * (double)ord_fp / (double)ord : 0.0);
}

/* Leave-one-writer-out figures of say[]: each worn writer's P / R / F1 and
 * ordinary chat flagged, then the mean and the worst F1 and the pooled counts. */
static void report_writers(const char *what, const struct zt__clf_example *ex, size_t n, const int *say, bool rows)
{
    size_t tp[ZT__CLF_N_WRITERS + 1] = {0}, fp[ZT__CLF_N_WRITERS + 1] = {0}, fn[ZT__CLF_N_WRITERS + 1] = {0},
           ord[ZT__CLF_N_WRITERS + 1] = {0}, ofp[ZT__CLF_N_WRITERS + 1] = {0};
    for (size_t i = 0; i < n; i++) {
        int k = ex[i].writer;
        if (say[i] < 0) return;
        if (k < 1 || k > ZT__CLF_N_WRITERS || ex[i].source == ZT__CLF_SRC_SENTIMENT) continue;
        if (ZT__CLF_SRC_IS_ORDINARY(ex[i].source)) {
            ord[k]++;
            ofp[k] += say[i] == 1;
        } else if (ex[i].label && say[i]) tp[k]++;
        else if (!ex[i].label && say[i]) fp[k]++;
        else if (ex[i].label) fn[k]++;
    }
    double sum = 0, worst = 2, f1s[ZT__CLF_N_WRITERS + 1] = {0};
    int wk = 0;
    size_t T = 0, F = 0, N = 0, O = 0, OF = 0, maxof = 0;
    for (int k = 1; k <= ZT__CLF_N_WRITERS; k++) {
        double p = tp[k] + fp[k] ? (double)tp[k] / (double)(tp[k] + fp[k]) : 1.0;
        double r = tp[k] + fn[k] ? (double)tp[k] / (double)(tp[k] + fn[k]) : 1.0;
        f1s[k] = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
        sum += f1s[k];
        if (f1s[k] < worst) {
            worst = f1s[k];
            wk = k;
        }
        T += tp[k];
        F += fp[k];
        N += fn[k];
        O += ord[k];
        OF += ofp[k];
        if (ofp[k] > maxof) maxof = ofp[k];
        if (rows)
            printf("    %-10s P %.3f R %.3f F1 %.3f  ordinary %zu/%zu\n", zt__clf_worn_dir(k), p, r, f1s[k], ofp[k],
                   ord[k]);
    }
    double p = T + F ? (double)T / (double)(T + F) : 1.0, r = T + N ? (double)T / (double)(T + N) : 1.0;
    printf("  %-26s mean F1 %.3f worst %.3f (%s)  pooled P %.3f R %.3f F1 %.3f  ordinary %zu/%zu (worst writer %zu)\n",
           what, sum / ZT__CLF_N_WRITERS, worst, zt__clf_worn_dir(wk), p, r, p + r > 0 ? 2 * p * r / (p + r) : 0.0, OF,
           O, maxof);
}

/* by_round 1: round 1 against the later rounds (ordinary chat halved);
 * by_round 2: the newest batch (round 4, its ordinary chat too) against all
 * before it, trained one way only (fold 1 is never tested). */
static int fold_of(const struct zt__clf_example *e, size_t i, int by_round)
{
    if (!by_round) return (int)(i % FOLDS);
    /* leave one writer out: worn writer k is fold k-1; the tuning sets always train */
    if (by_round == 4) return e->writer >= 1 ? e->writer - 1 : 1000;
    if (e->writer >= 1) return 1000; /* the batch modes: the worn sets always train */
    if (by_round == 2) return e->source == ZT__CLF_SRC_ROUND4 || e->source == ZT__CLF_SRC_ORDINARY4 ? 0 : 1;
    if (by_round == 3) return e->source == ZT__CLF_SRC_ROUND6 || e->source == ZT__CLF_SRC_ORDINARY6 ? 0 : 1;
    if (ZT__CLF_SRC_IS_ORDINARY(e->source) ||
        e->source == ZT__CLF_SRC_SENTIMENT)
        return (int)(i % 2);
    return e->source != ZT__CLF_SRC_ROUND1;
}

/* The data recipe and parameters of model w with the ZT_CV_* overrides. */
static void overrides(enum zt__clf_which w, struct zt__clf_data *d, struct zt_hlr_params *prm)
{
    *d = *zt__clf_data_recipe(w);
    *prm = *zt__clf_recipe(w);
    if (getenv("ZT_CV_DOXX")) d->doxxing = strtol(getenv("ZT_CV_DOXX"), NULL, 10) != 0;
    if (getenv("ZT_CV_SHORT")) d->short_words = (int)strtol(getenv("ZT_CV_SHORT"), NULL, 10);
    if (getenv("ZT_CV_NEGW")) d->neg_weight = (int)strtol(getenv("ZT_CV_NEGW"), NULL, 10);
    if (getenv("ZT_CV_ALLOWW")) d->allow_weight = (int)strtol(getenv("ZT_CV_ALLOWW"), NULL, 10);
    if (getenv("ZT_CV_LOG2")) prm->log2 = (uint32_t)strtoul(getenv("ZT_CV_LOG2"), NULL, 10);
    if (getenv("ZT_CV_EPOCHS")) prm->epochs = (uint32_t)strtoul(getenv("ZT_CV_EPOCHS"), NULL, 10);
    if (getenv("ZT_CV_LR")) prm->lr = atof(getenv("ZT_CV_LR"));
    if (getenv("ZT_CV_L2")) prm->l2 = atof(getenv("ZT_CV_L2"));
    if (getenv("ZT_CV_POSW")) prm->pos_weight = atof(getenv("ZT_CV_POSW"));
}

static int cv(const char *src)
{
    for (int w = 0; w <= ZT__CLF_HARASS; w++) {
        const char *only = getenv("ZT_CV_MODEL");
        if (only && strcmp(only, w == ZT__CLF_SPAM_CHAT ? "spam" : "harass") != 0) continue;
        struct zt__clf_example *ex = NULL, *tr = NULL;
        char **bufs = NULL;
        size_t n = 0, nb = 0;
        /* overrides of the data recipe for trying it (round 11) */
        struct zt__clf_data d;
        struct zt_hlr_params prm;
        overrides((enum zt__clf_which)w, &d, &prm);
        int rc = zt__clf_examples_with((enum zt__clf_which)w, src, &d, &ex, &n, &bufs, &nb);
        if (rc) {
            fprintf(stderr, "zt-train-clf: cannot read the tuning sets under %s: %d\n", src, rc);
            return 1;
        }
        double *mz = zt_calloc(n, sizeof *mz);
        int *say = zt_calloc(n, sizeof *say), *rul = zt_calloc(n, sizeof *rul);
        tr = zt_calloc(n, sizeof *tr);
        if (!mz || !say || !rul || !tr) return 1;
        const struct zt_hlr_params *rp = &prm;
        /* ZT_CV_ROUNDS=1: two folds by round instead (train on round 1 and half
         * of the ordinary chat, test on rounds 2-3 and the other half, and back):
         * how the model does on a batch written after it */
        /* ZT_CV_ROUNDS=4: the newest batch (round 4 and its ordinary chat)
         * tested on a model trained on the rounds before it only */
        /* ZT_CV_ROUNDS=6: round 6 (spam only) tested on a model trained on all before it */
        long cvr = getenv("ZT_CV_ROUNDS") ? strtol(getenv("ZT_CV_ROUNDS"), NULL, 10) : 0;
        int by_round = !getenv("ZT_CV_ROUNDS") ? 0 : cvr == 4 ? 2 : cvr == 6 ? 3 : 1;
        /* ZT_CV_WRITERS=1: leave one worn writer out (train on the tuning sets
         * and the other seven, score the one left out) */
        if (getenv("ZT_CV_WRITERS")) by_round = 4;
        int folds = by_round == 4 ? ZT__CLF_N_WRITERS : by_round >= 2 ? 1 : by_round ? 2 : FOLDS;
        bool *tested = zt_calloc(n, sizeof *tested), *act = zt_calloc(n, sizeof *act);
        double *need = zt_calloc(n, sizeof *need);
        if (!tested || !act || !need) return 1;
        /* the models' gates (learned.h): the chat-scam model's on texts without an
         * actionable cue, the harassment model's on texts that name no person */
        double gate = w == ZT__CLF_SPAM_CHAT ? ZT__CLF_SPAM_GATE : ZT__CLF_HARASS_GATE;
        if (getenv("ZT_CV_GATE")) gate = atof(getenv("ZT_CV_GATE"));
        for (size_t i = 0; i < n; i++) tested[i] = fold_of(&ex[i], i, by_round) < folds;
        /* ZT_CV_FULL=1 (harassment, leave one writer out): keep each fold's model
         * for the whole moderation decision */
        bool full = w == ZT__CLF_HARASS && by_round == 4 && getenv("ZT_CV_FULL");
        uint8_t *fold_file[ZT__CLF_N_WRITERS] = {NULL};
        struct zt_hlr fold_m[ZT__CLF_N_WRITERS];
        int *fold_ix = full ? zt_calloc(n, sizeof *fold_ix) : NULL;
        if (full && !fold_ix) return 1;
        for (size_t i = 0; full && i < n; i++) fold_ix[i] = tested[i] ? fold_of(&ex[i], i, by_round) : -1;
        for (int k = 0; k < folds; k++) {
            size_t nt = 0;
            for (size_t i = 0; i < n; i++)
                if (fold_of(&ex[i], i, by_round) != k) tr[nt++] = ex[i];
            uint8_t *file = NULL;
            size_t fl = 0;
            struct zt_hlr m;
            if (zt__clf_train(tr, nt, rp, &file, &fl) != 0 || zt_hlr_parse(file, fl, &m) != 0) return 1;
            for (size_t i = 0; i < n; i++)
                if (fold_of(&ex[i], i, by_round) == k && zt__clf_score(&m, ex[i].text, ex[i].len, &mz[i], &act[i]) != 0)
                    mz[i] = -1e9;
            if (full) {
                fold_file[k] = file;
                fold_m[k] = m;
            } else zt_free(file);
        }
        rules((enum zt__clf_which)w, ex, n, rul);
        /* need[i]: the gate's extra margin (none with an actionable cue; for
         * harassment none with a second person, gate3 with a third person only) */
        double gate3 = w == ZT__CLF_HARASS ? ZT__CLF_HARASS_GATE3 : 0.0;
        if (getenv("ZT_CV_GATE3")) gate3 = atof(getenv("ZT_CV_GATE3"));
        struct zt_moderation *mod = NULL;
        if (full) {
            const char *dir = getenv("ZENTALK_ASSETS_DIR");
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir ? dir : "data/assets", ZT_MODERATION_ASSET);
            if (zt_moderation_load(path, &mod) != 0) mod = NULL;
        }
        for (size_t i = 0; i < n; i++) {
            if (w != ZT__CLF_HARASS) {
                need[i] = act[i] ? 0.0 : gate;
                continue;
            }
            int person = zt__clf_person(ex[i].text, ex[i].len);
            need[i] = person == 2 ? 0.0 : person == 1 ? gate3 : gate;
        }
        if (by_round == 4)
            printf("%s: %zu examples, leave one writer out (tuning sets always trained)\n",
                   zt__clf_name((enum zt__clf_which)w), n);
        else if (by_round == 3)
            printf("%s: %zu examples, trained on rounds 1-4, tested on round 6 (its ordinary chat too)\n",
                   zt__clf_name((enum zt__clf_which)w), n);
        else if (by_round == 2)
            printf("%s: %zu examples, trained on rounds 1-3 (and 6), tested on round 4 (its ordinary chat too)\n",
                   zt__clf_name((enum zt__clf_which)w), n);
        else if (by_round)
            printf("%s: %zu examples, trained on round 1, tested on rounds 2-3 and back (ordinary chat halved)\n",
                   zt__clf_name((enum zt__clf_which)w), n);
        else
            printf("%s: %zu examples, %d-fold cross-validation (row i in fold i %% %d)\n",
                   zt__clf_name((enum zt__clf_which)w), n, FOLDS, FOLDS);
        bool lowo = by_round == 4;
        void (*rep)(const char *, const struct zt__clf_example *, size_t, const int *, const bool *) = report;
        if (lowo) report_writers("rules alone (in-sample)", ex, n, rul, true);
        else rep("rules alone (tuned on these)", ex, n, rul, tested);
        for (double off = -1.0; off <= 3.01; off += 0.25) {
            char what[64];
            for (size_t i = 0; i < n; i++) say[i] = mz[i] >= off + need[i];
            snprintf(what, sizeof what, "model, margin >= %+.2f", off);
            if (lowo) report_writers(what, ex, n, say, getenv("ZT_CV_ROWS") != NULL);
            else rep(what, ex, n, say, tested);
            if (rul[0] >= 0) {
                for (size_t i = 0; i < n; i++) say[i] = say[i] || rul[i] == 1;
                snprintf(what, sizeof what, "rules or model >= %+.2f", off);
                if (lowo) report_writers(what, ex, n, say, getenv("ZT_CV_ROWS") != NULL);
                else rep(what, ex, n, say, tested);
            }
            if (full && mod) {
                full_decision(mod, ex, n, fold_ix, fold_m, off, gate, gate3, say);
                snprintf(what, sizeof what, "whole check, >= %+.2f", off);
                report_writers(what, ex, n, say, getenv("ZT_CV_ROWS") != NULL);
                /* ZT_CV_VERBOSE: the whole check's misses at the offset ZT_CV_VOFF (0) */
                double voff = getenv("ZT_CV_VOFF") ? atof(getenv("ZT_CV_VOFF")) : 0.0;
                if (getenv("ZT_CV_VERBOSE") && fabs(off - voff) < 0.01)
                    for (size_t i = 0; i < n; i++)
                        if (fold_ix[i] >= 0 && say[i] != (ex[i].label == 1))
                            printf("    whole miss label=%d writer=%d %s\n", ex[i].label, ex[i].writer, ex[i].text);
            }
        }
        for (int k = 0; k < ZT__CLF_N_WRITERS; k++) zt_free(fold_file[k]);
        zt_free(fold_ix);
        zt_moderation_free(mod);
        if (getenv("ZT_CV_VERBOSE"))
            for (size_t i = 0; i < n; i++)
                if (tested[i] && (mz[i] >= need[i]) != (ex[i].label == 1))
                    printf("    miss label=%d src=%d margin=%+.2f rules=%d %s\n", ex[i].label, ex[i].source, mz[i],
                           rul[i], ex[i].text);
        zt_free(mz);
        zt_free(say);
        zt_free(rul);
        zt_free(tr);
        zt_free(tested);
        zt_free(act);
        zt_free(need);
        zt__clf_examples_free(ex, bufs, nb);
    }
    return 0;
}

/* The chat sentiment heads, leave one worn writer out: each row's class from
 * the two heads' margins and chat mode's compound c (learned.h's
 * zt__sentiment_decide()), over a grid of the compound's weight and the
 * neutral margin, against chat mode alone; 3-class accuracy per writer. */
static int cv_sentiment(const char *src)
{
    const char *dir = getenv("ZENTALK_ASSETS_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "data/assets", ZT_SENTIMENT_ASSET);
    struct zt_sentiment *sm = NULL;
    if (zt_sentiment_load(path, &sm) != 0) {
        fprintf(stderr, "zt-train-clf: %s not installed (run `make data`): sentiment cv needs it\n", path);
        return 1;
    }
    struct zt__clf_example *ex[2] = {NULL, NULL};
    char **bufs[2] = {NULL, NULL};
    size_t n[2] = {0, 0}, nb[2] = {0, 0};
    for (int h = 0; h < 2; h++)
        if (zt__clf_examples(h ? ZT__CLF_SENT_NEG : ZT__CLF_SENT_POS, src, &ex[h], &n[h], &bufs[h], &nb[h]) != 0)
            return 1;
    if (n[0] != n[1]) return 1;
    size_t N = n[0];
    double *mz[2] = {zt_calloc(N, sizeof(double)), zt_calloc(N, sizeof(double))}, *cmp = zt_calloc(N, sizeof *cmp);
    int *gold = zt_calloc(N, sizeof *gold);
    struct zt__clf_example *tr = zt_calloc(N, sizeof *tr);
    if (!mz[0] || !mz[1] || !cmp || !gold || !tr) return 1;
    for (size_t i = 0; i < N; i++) {
        gold[i] = ex[0][i].label ? 0 : ex[1][i].label ? 1 : 2; /* positive, negative, neutral */
        struct zt_sentiment_result r = {0};
        /* chat mode's rules alone: the compiled-in heads saw every writer */
        if (zt__sentiment_chat_rules(sm, ex[0][i].text, ex[0][i].len, &r) == 0) cmp[i] = r.compound;
    }
    for (int h = 0; h < 2; h++) {
        struct zt_hlr_params prm = *zt__clf_recipe(h ? ZT__CLF_SENT_NEG : ZT__CLF_SENT_POS);
        if (getenv("ZT_CV_LOG2")) prm.log2 = (uint32_t)strtoul(getenv("ZT_CV_LOG2"), NULL, 10);
        if (getenv("ZT_CV_EPOCHS")) prm.epochs = (uint32_t)strtoul(getenv("ZT_CV_EPOCHS"), NULL, 10);
        if (getenv("ZT_CV_LR")) prm.lr = atof(getenv("ZT_CV_LR"));
        if (getenv("ZT_CV_L2")) prm.l2 = atof(getenv("ZT_CV_L2"));
        for (int k = 1; k <= ZT__CLF_N_WRITERS; k++) {
            size_t nt = 0;
            for (size_t i = 0; i < N; i++)
                if (ex[h][i].writer != k) tr[nt++] = ex[h][i];
            uint8_t *file = NULL;
            size_t fl = 0;
            struct zt_hlr m;
            if (zt__clf_train(tr, nt, &prm, &file, &fl) != 0 || zt_hlr_parse(file, fl, &m) != 0) return 1;
            for (size_t i = 0; i < N; i++)
                if (ex[h][i].writer == k && zt__clf_margin(&m, ex[h][i].text, ex[h][i].len, &mz[h][i]) != 0)
                    mz[h][i] = -1e9;
            zt_free(file);
        }
    }
    printf("sent_pos.clf + sent_neg.clf: %zu rows, leave one writer out (tuning rows always trained); 3-class accuracy\n", N);
    static const double weights[] = {-1, 0, 1, 2, 3, 4, 6, 8};
    for (size_t wi = 0; wi < sizeof weights / sizeof weights[0]; wi++)
        for (double neu = -1.0; neu <= 1.51; neu += 0.25) {
            if (weights[wi] < 0 && neu > -1.0) break;
            size_t ok[ZT__CLF_N_WRITERS + 1] = {0}, tot[ZT__CLF_N_WRITERS + 1] = {0};
            for (size_t i = 0; i < N; i++) {
                int k = ex[0][i].writer;
                if (k < 1) continue;
                int got = weights[wi] < 0 ? (cmp[i] >= 0.05 ? 0 : cmp[i] <= -0.05 ? 1 : 2)
                                          : zt__sentiment_decide(mz[0][i], mz[1][i], cmp[i], weights[wi], neu);
                tot[k]++;
                ok[k] += got == gold[i];
            }
            double sum = 0, worst = 2;
            size_t O = 0, T = 0;
            for (int k = 1; k <= ZT__CLF_N_WRITERS; k++) {
                double a = tot[k] ? (double)ok[k] / (double)tot[k] : 0;
                sum += a;
                worst = a < worst ? a : worst;
                O += ok[k];
                T += tot[k];
                if (getenv("ZT_CV_ROWS")) printf("    %-10s %.3f\n", zt__clf_worn_dir(k), a);
            }
            if (weights[wi] < 0) printf("  chat mode alone                   ");
            else printf("  heads + %.0f x compound, neutral < %+.2f", weights[wi], neu);
            printf("  mean %.3f worst %.3f pooled %.3f\n", sum / ZT__CLF_N_WRITERS, worst, (double)O / (double)T);
        }
    for (int h = 0; h < 2; h++) {
        zt_free(mz[h]);
        zt__clf_examples_free(ex[h], bufs[h], nb[h]);
    }
    zt_free(cmp);
    zt_free(gold);
    zt_free(tr);
    zt_sentiment_free(sm);
    return 0;
}

/* Model w trained on every row with the ZT_CV_* overrides into *m (*file keeps its bytes). */
static int train_override(enum zt__clf_which w, const char *src, uint8_t **file, struct zt_hlr *m)
{
    struct zt__clf_data d;
    struct zt_hlr_params prm;
    overrides(w, &d, &prm);
    struct zt__clf_example *ex = NULL;
    char **bufs = NULL;
    size_t n = 0, nb = 0, fl = 0;
    int rc = zt__clf_examples_with(w, src, &d, &ex, &n, &bufs, &nb);
    if (rc == 0) rc = zt__clf_train(ex, n, &prm, file, &fl);
    zt__clf_examples_free(ex, bufs, nb);
    return rc ? rc : zt_hlr_parse(*file, fl, m);
}

/* Each line of stdin with both compiled-in models' margins (ZT_SCORE_TRAIN=SRC_DIR:
 * models trained on SRC_DIR's rows with the ZT_CV_* overrides instead). */
static int score(void)
{
    const struct zt_hlr *ms = zt__clf_builtin(ZT__CLF_SPAM_CHAT), *mh = zt__clf_builtin(ZT__CLF_HARASS);
    struct zt_hlr trained[2];
    uint8_t *files[2] = {NULL, NULL};
    if (getenv("ZT_SCORE_TRAIN")) {
        if (train_override(ZT__CLF_SPAM_CHAT, getenv("ZT_SCORE_TRAIN"), &files[0], &trained[0]) != 0 ||
            train_override(ZT__CLF_HARASS, getenv("ZT_SCORE_TRAIN"), &files[1], &trained[1]) != 0) {
            fprintf(stderr, "zt-train-clf: cannot train on %s\n", getenv("ZT_SCORE_TRAIN"));
            return 1;
        }
        ms = &trained[0];
        mh = &trained[1];
    }
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        double a = 0, b = 0;
        bool act = false;
        if (zt__clf_score(ms, line, strlen(line), &a, &act) != 0 || zt__clf_margin(mh, line, strlen(line), &b) != 0)
            continue;
        double sp = 0, sn = 0;
        if (zt__clf_margin(zt__clf_builtin(ZT__CLF_SENT_POS), line, strlen(line), &sp) != 0 ||
            zt__clf_margin(zt__clf_builtin(ZT__CLF_SENT_NEG), line, strlen(line), &sn) != 0)
            continue;
        /* the margins before the gates; the gates' inputs after them; the sentiment heads' */
        printf("spam %+6.2f %s  harass %+6.2f %s  pos %+6.2f neg %+6.2f  %s\n", a, act ? "act" : "-  ", b,
               (const char *const[]){"-  ", "3rd", "you"}[zt__clf_person(line, strlen(line))], sp, sn, line);
    }
    zt_free(files[0]);
    zt_free(files[1]);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "score") == 0) return score();
    if (argc >= 2 && strcmp(argv[1], "score-names") == 0) return train_names_score(argc > 2 ? argv[2] : ".");
    const char *src = argc > 2 ? argv[2] : ".";
    if (argc >= 2 && strcmp(argv[1], "write") == 0) return write_models(src) || train_names_write(src);
    if (argc >= 2 && strcmp(argv[1], "cv") == 0) {
        if (argc > 3 && strcmp(argv[3], "names") == 0) return train_names_cv(src);
        if (argc > 3 && strcmp(argv[3], "sentiment") == 0) return cv_sentiment(src);
        if (argc > 3 && strcmp(argv[3], "clf") == 0) return cv(src);
        return cv(src) || cv_sentiment(src) || train_names_cv(src);
    }
    fprintf(stderr,
            "usage: zt-train-clf write [SRC_DIR] | cv [SRC_DIR [clf|sentiment|names]] | score | score-names [SRC_DIR]\n");
    return 2;
}
