/* zt-train-clf: the trainer of the learned chat classifiers (learned.h).
 *
 *   zt-train-clf write [SRC_DIR]   retrain the models from SRC_DIR/tests/data/tune/ and
 *                                  write SRC_DIR/src/features/models/NAME.clf and
 *                                  SRC_DIR/src/privacy/models/names.clf (the person-name
 *                                  scorer: needs the names asset of `make data`)
 *   zt-train-clf score             each line of stdin with both compiled-in models'
 *                                  margins (>= 0: the model says yes) before their
 *                                  gates, and the gates' inputs ("act": an actionable
 *                                  cue, "you": a person named)
 *   zt-train-clf cv [SRC_DIR [names]]  5-fold cross-validation on the tuning sets: the
 *                                  model alone at several thresholds, the rules
 *                                  alone, and both together (needs the assets of
 *                                  `make data` in $ZENTALK_ASSETS_DIR for the rules);
 *                                  ZT_CV_ROUNDS=1: round 1 against rounds 2-4;
 *                                  ZT_CV_ROUNDS=4: round 4 tested on rounds 1-3 (and 6);
 *                                  ZT_CV_ROUNDS=6: round 6 tested on rounds 1-4
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
        static const char *const also[] = {"en"};
        struct zt_moderation_policy p;
        memset(&p, 0, sizeof p);
        p.threshold = 0.7;
        for (int c = 0; c < ZT_MOD_N_CATEGORIES; c++) p.actions[c] = ZT_MOD_FLAG;
        p.lang_unsure = true;
        p.also_langs = also;
        p.n_also_langs = 1;
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

/* by_round 1: round 1 against the later rounds (ordinary chat halved);
 * by_round 2: the newest batch (round 4, its ordinary chat too) against all
 * before it, trained one way only (fold 1 is never tested). */
static int fold_of(const struct zt__clf_example *e, size_t i, int by_round)
{
    if (!by_round) return (int)(i % FOLDS);
    if (by_round == 2) return e->source == ZT__CLF_SRC_ROUND4 || e->source == ZT__CLF_SRC_ORDINARY4 ? 0 : 1;
    if (by_round == 3) return e->source == ZT__CLF_SRC_ROUND6 || e->source == ZT__CLF_SRC_ORDINARY6 ? 0 : 1;
    if (ZT__CLF_SRC_IS_ORDINARY(e->source) ||
        e->source == ZT__CLF_SRC_SENTIMENT)
        return (int)(i % 2);
    return e->source != ZT__CLF_SRC_ROUND1;
}

static int cv(const char *src)
{
    for (int w = 0; w < ZT__CLF_N; w++) {
        struct zt__clf_example *ex = NULL, *tr = NULL;
        char **bufs = NULL;
        size_t n = 0, nb = 0;
        int rc = zt__clf_examples((enum zt__clf_which)w, src, &ex, &n, &bufs, &nb);
        if (rc) {
            fprintf(stderr, "zt-train-clf: cannot read the tuning sets under %s: %d\n", src, rc);
            return 1;
        }
        double *mz = zt_calloc(n, sizeof *mz);
        int *say = zt_calloc(n, sizeof *say), *rul = zt_calloc(n, sizeof *rul);
        tr = zt_calloc(n, sizeof *tr);
        if (!mz || !say || !rul || !tr) return 1;
        struct zt_hlr_params prm = *zt__clf_recipe((enum zt__clf_which)w);
        const struct zt_hlr_params *rp = &prm;
        /* overrides for trying parameters */
        if (getenv("ZT_CV_LOG2")) prm.log2 = (uint32_t)strtoul(getenv("ZT_CV_LOG2"), NULL, 10);
        if (getenv("ZT_CV_EPOCHS")) prm.epochs = (uint32_t)strtoul(getenv("ZT_CV_EPOCHS"), NULL, 10);
        if (getenv("ZT_CV_LR")) prm.lr = atof(getenv("ZT_CV_LR"));
        if (getenv("ZT_CV_L2")) prm.l2 = atof(getenv("ZT_CV_L2"));
        if (getenv("ZT_CV_POSW")) prm.pos_weight = atof(getenv("ZT_CV_POSW"));
        /* ZT_CV_ROUNDS=1: two folds by round instead (train on round 1 and half
         * of the ordinary chat, test on rounds 2-3 and the other half, and back):
         * how the model does on a batch written after it */
        /* ZT_CV_ROUNDS=4: the newest batch (round 4 and its ordinary chat)
         * tested on a model trained on the rounds before it only */
        /* ZT_CV_ROUNDS=6: round 6 (spam only) tested on a model trained on all before it */
        long cvr = getenv("ZT_CV_ROUNDS") ? strtol(getenv("ZT_CV_ROUNDS"), NULL, 10) : 0;
        int by_round = !getenv("ZT_CV_ROUNDS") ? 0 : cvr == 4 ? 2 : cvr == 6 ? 3 : 1;
        int folds = by_round >= 2 ? 1 : by_round ? 2 : FOLDS;
        bool *tested = zt_calloc(n, sizeof *tested), *act = zt_calloc(n, sizeof *act), *open = zt_calloc(n, sizeof *open);
        if (!tested || !act || !open) return 1;
        /* the models' gates (learned.h): the chat-scam model's on texts without an
         * actionable cue, the harassment model's on texts that name no person */
        double gate = w == ZT__CLF_SPAM_CHAT ? ZT__CLF_SPAM_GATE : ZT__CLF_HARASS_GATE;
        if (getenv("ZT_CV_GATE")) gate = atof(getenv("ZT_CV_GATE"));
        for (size_t i = 0; i < n; i++) tested[i] = fold_of(&ex[i], i, by_round) < folds;
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
            zt_free(file);
        }
        rules((enum zt__clf_which)w, ex, n, rul);
        /* open[i]: the gate does not apply (an actionable cue; a person named) */
        for (size_t i = 0; i < n; i++) open[i] = w == ZT__CLF_HARASS ? zt__clf_addressed(ex[i].text, ex[i].len) : act[i];
        if (by_round == 3)
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
        report("rules alone (tuned on these)", ex, n, rul, tested);
        for (double off = -1.0; off <= 3.01; off += 0.25) {
            char what[64];
            for (size_t i = 0; i < n; i++) say[i] = mz[i] >= off + (open[i] ? 0.0 : gate);
            snprintf(what, sizeof what, "model, margin >= %+.1f", off);
            report(what, ex, n, say, tested);
            if (rul[0] >= 0) {
                for (size_t i = 0; i < n; i++) say[i] = say[i] || rul[i] == 1;
                snprintf(what, sizeof what, "rules or model >= %+.1f", off);
                report(what, ex, n, say, tested);
            }
        }
        if (getenv("ZT_CV_VERBOSE"))
            for (size_t i = 0; i < n; i++)
                if (tested[i] && (mz[i] >= (open[i] ? 0.0 : gate)) != (ex[i].label == 1))
                    printf("    miss label=%d src=%d margin=%+.2f rules=%d %s\n", ex[i].label, ex[i].source, mz[i],
                           rul[i], ex[i].text);
        zt_free(mz);
        zt_free(say);
        zt_free(rul);
        zt_free(tr);
        zt_free(tested);
        zt_free(act);
        zt_free(open);
        zt__clf_examples_free(ex, bufs, nb);
    }
    return 0;
}

/* Each line of stdin with both compiled-in models' margins. */
static int score(void)
{
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        double a = 0, b = 0;
        bool act = false;
        if (zt__clf_score(zt__clf_builtin(ZT__CLF_SPAM_CHAT), line, strlen(line), &a, &act) != 0 ||
            zt__clf_margin(zt__clf_builtin(ZT__CLF_HARASS), line, strlen(line), &b) != 0)
            continue;
        /* the margins before the gates; the gates' inputs after them */
        printf("spam %+6.2f %s  harass %+6.2f %s  %s\n", a, act ? "act" : "-  ", b,
               zt__clf_addressed(line, strlen(line)) ? "you" : "-  ", line);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "score") == 0) return score();
    const char *src = argc > 2 ? argv[2] : ".";
    if (argc >= 2 && strcmp(argv[1], "write") == 0) return write_models(src) || train_names_write(src);
    if (argc >= 2 && strcmp(argv[1], "cv") == 0) {
        if (argc > 3 && strcmp(argv[3], "names") == 0) return train_names_cv(src);
        return cv(src) || train_names_cv(src);
    }
    fprintf(stderr, "usage: zt-train-clf write [SRC_DIR] | cv [SRC_DIR [names]] | score\n");
    return 2;
}
