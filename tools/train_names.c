/* train_names.c: zt-train-clf's part for the person-name context scorer of
 * PII detection (src/privacy/pii_internal.h): writing its model file,
 * cross-validating it on the PERSON_NAME rows of the tuning sets and
 * (`score-names`) showing its margins on stdin's lines. Needs the names
 * asset ($ZENTALK_ASSETS_DIR/names.zta, `make data`). Overrides for `cv
 * . names` and `score-names`: ZT_CV_THRESHOLD (the recipe's threshold;
 * the cv grid runs from it -1.0 to +3.0), ZT_CV_WORD_GATE,
 * ZT_CV_START_GATE, ZT_CV_BRAND_GATE, ZT_CV_PLACE_GATE (pii_internal.h's
 * gates), and for cv ZT_CV_LOG2, _EPOCHS, _LR, _L2, _POSW, ZT_CV_WRITERS,
 * ZT_CV_ROWS, ZT_CV_ROUNDS, ZT_CV_VERBOSE (every miss). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pii_internal.h"
#include "train_names.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_pii.h"

#define FOLDS 5

static int detector(struct zt_pii_detector **d)
{
    const char *dir = getenv("ZENTALK_ASSETS_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "data/assets", ZT_PII_NAMES_ASSET);
    struct zt_asset a;
    if (zt_asset_load(path, ZT_PII_NAMES_KIND, ZT_PII_NAMES_VERSION, &a) != 0) {
        fprintf(stderr, "zt-train-clf: %s not installed (run `make data`): the name model needs it\n", path);
        return ZT_ENOTFOUND;
    }
    int rc = zt_pii_detector_new(NULL, d, NULL);
    if (rc == 0 && (rc = zt_pii_detector_set_names(*d, a.data, a.len)) != 0) zt_pii_detector_free(*d);
    zt_asset_deinit(&a);
    return rc;
}

int train_names_write(const char *src)
{
    struct zt_pii_detector *d = NULL;
    struct zt__pii_name_set set;
    uint8_t *out = NULL;
    size_t len = 0;
    if (detector(&d) != 0) return 1;
    size_t n_cand = 0;
    int rc = zt__pii_name_set_load(d, src, &set);
    if (rc == 0) {
        n_cand = set.n;
        rc = zt__pii_name_train(&set, NULL, zt__pii_name_recipe(), &out, &len);
        zt__pii_name_set_deinit(&set);
    }
    zt_pii_detector_free(d);
    if (rc) {
        fprintf(stderr, "zt-train-clf: names.clf: error %d\n", rc);
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/src/privacy/models/names.clf", src);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(out, 1, len, f) == len;
    if (f && fclose(f) != 0) ok = 0;
    zt_free(out);
    if (!ok) {
        fprintf(stderr, "zt-train-clf: cannot write %s\n", path);
        return 1;
    }
    printf("%s: %zu candidates, %zu bytes\n", path, n_cand, len);
    return 0;
}

struct counts {
    size_t tp, fp, fn;
};

/* PERSON_NAME hits of the detector on row text against its gold substrings
 * ('\n'-separated), as bench_quality counts them: a gold substring with an
 * overlapping hit is a true positive, one without a false negative, a hit
 * overlapping no gold substring a false positive. */
static void score_row(const struct zt_pii_detector *d, const char *text, const char *gold, struct counts *c,
                      bool verbose)
{
    struct zt_pii_hits hits = {0};
    if (zt_pii_detect(d, text, strlen(text), &hits) != 0) return;
    bool used[ZT_PII_MAX_HITS] = {false};
    for (const char *g = gold; *g;) {
        size_t n = strcspn(g, "\n");
        const char *p = NULL;
        bool hit = false;
        char item[128];
        if (n && n < sizeof item) {
            memcpy(item, g, n);
            item[n] = 0;
            p = strstr(text, item);
        }
        if (p) {
            size_t a = (size_t)(p - text), b = a + n;
            for (size_t i = 0; i < hits.n; i++) {
                if (hits.v[i].type != ZT_PII_PERSON_NAME || hits.v[i].start >= b || a >= hits.v[i].end) continue;
                hit = true;
                if (i < ZT_PII_MAX_HITS) used[i] = true;
            }
        }
        if (hit) c->tp++;
        else {
            c->fn++;
            if (verbose) printf("    fn %.*s in: %s\n", (int)n, g, text);
        }
        g += n;
        if (*g == '\n') g++;
    }
    for (size_t i = 0; i < hits.n; i++)
        if (hits.v[i].type == ZT_PII_PERSON_NAME && !(i < ZT_PII_MAX_HITS && used[i])) {
            c->fp++;
            if (verbose)
                printf("    fp %.*s in: %s\n", (int)(hits.v[i].end - hits.v[i].start), text + hits.v[i].start, text);
        }
    zt_pii_hits_deinit(&hits);
}

static void print_counts(const char *what, const struct counts *c)
{
    double p = c->tp + c->fp ? (double)c->tp / (double)(c->tp + c->fp) : 1.0;
    double r = c->tp + c->fn ? (double)c->tp / (double)(c->tp + c->fn) : 1.0;
    printf("  %-28s P %.3f R %.3f F1 %.3f   (tp %zu fp %zu fn %zu)\n", what, p, r, p + r > 0 ? 2 * p * r / (p + r) : 0.0,
           c->tp, c->fp, c->fn);
}

#define N_OFF 9

/* The gates of pii_internal.h for d, with the ZT_CV_*_GATE overrides. */
static void gates_from_env(struct zt_pii_detector *d)
{
    zt__pii_set_name_word_gate(d, getenv("ZT_CV_WORD_GATE") ? atof(getenv("ZT_CV_WORD_GATE")) : ZT__PII_WORD_GATE);
    zt__pii_set_name_brand_gate(d, getenv("ZT_CV_BRAND_GATE") ? atof(getenv("ZT_CV_BRAND_GATE")) : ZT__PII_BRAND_GATE);
    zt__pii_set_name_start_gate(d, getenv("ZT_CV_START_GATE") ? atof(getenv("ZT_CV_START_GATE")) : ZT__PII_START_GATE);
    zt__pii_set_name_place_gate(d, getenv("ZT_CV_PLACE_GATE") ? atof(getenv("ZT_CV_PLACE_GATE")) : ZT__PII_PLACE_GATE);
}

struct probe {
    const struct zt_hlr *m;
    const char *text;
};

static void probe_cb(size_t s, size_t e, const uint64_t *h, size_t n, double rule_conf, unsigned flags, void *ud)
{
    (void)flags;
    const struct probe *p = ud;
    int64_t q = 0;
    for (size_t i = 0; i < n; i++) q += zt_hlr_q(p->m, h[i]);
    printf("  %-16.*s rules %.2f model %+6.2f\n", (int)(e - s), p->text + s, rule_conf, zt_hlr_margin(p->m, q, n));
}

int train_names_score(const char *src)
{
    struct zt_pii_detector *d = NULL;
    struct zt__pii_name_set set = {0};
    uint8_t *file = NULL;
    size_t fl = 0;
    struct zt_hlr m;
    int ret = 1;
    if (detector(&d) != 0) return 1;
    struct zt_hlr_params prm = *zt__pii_name_recipe();
    if (getenv("ZT_CV_THRESHOLD")) prm.threshold = atof(getenv("ZT_CV_THRESHOLD"));
    if (zt__pii_name_set_load(d, src, &set) != 0 || zt__pii_name_train(&set, NULL, &prm, &file, &fl) != 0 ||
        zt_hlr_parse(file, fl, &m) != 0) {
        fprintf(stderr, "zt-train-clf: cannot train the name model on %s\n", src);
        goto out;
    }
    zt__pii_set_name_model(d, &m);
    gates_from_env(d);
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        struct zt_pii_hits hits = {0};
        if (zt_pii_detect(d, line, strlen(line), &hits) != 0) continue;
        printf("%s\n", line);
        for (size_t i = 0; i < hits.n; i++)
            if (hits.v[i].type == ZT_PII_PERSON_NAME)
                printf("  PERSON_NAME %.*s\n", (int)(hits.v[i].end - hits.v[i].start), line + hits.v[i].start);
        zt_pii_hits_deinit(&hits);
        struct probe p = {&m, line};
        zt__pii_name_candidates(d, line, strlen(line), probe_cb, &p);
    }
    ret = 0;
out:
    zt__pii_set_name_model(d, NULL);
    zt_free(file);
    zt__pii_name_set_deinit(&set);
    zt_pii_detector_free(d);
    return ret;
}

int train_names_cv(const char *src)
{
    struct zt_pii_detector *d = NULL;
    struct zt__pii_name_set set = {0};
    struct zt__pii_rows rows = {0};
    uint8_t *use = NULL;
    int ret = 1;
    if (detector(&d) != 0) return 1;
    gates_from_env(d);
    if (zt__pii_name_set_load(d, src, &set) != 0 || zt__pii_rows_load(src, &rows) != 0) {
        fprintf(stderr, "zt-train-clf: cannot read the PII tuning sets under %s\n", src);
        goto out;
    }
    use = zt_calloc(set.n_rows ? set.n_rows : 1, 1);
    if (!use) goto out;
    struct zt_hlr_params prm = *zt__pii_name_recipe();
    if (getenv("ZT_CV_THRESHOLD")) prm.threshold = atof(getenv("ZT_CV_THRESHOLD"));
    if (getenv("ZT_CV_LOG2")) prm.log2 = (uint32_t)strtoul(getenv("ZT_CV_LOG2"), NULL, 10);
    if (getenv("ZT_CV_EPOCHS")) prm.epochs = (uint32_t)strtoul(getenv("ZT_CV_EPOCHS"), NULL, 10);
    if (getenv("ZT_CV_LR")) prm.lr = atof(getenv("ZT_CV_LR"));
    if (getenv("ZT_CV_L2")) prm.l2 = atof(getenv("ZT_CV_L2"));
    if (getenv("ZT_CV_POSW")) prm.pos_weight = atof(getenv("ZT_CV_POSW"));
    bool by_round = getenv("ZT_CV_ROUNDS") != NULL; /* train on rounds 1-2, test on round 4 */
    /* ZT_CV_WRITERS=1: leave one worn writer out (the tuning rows always train) */
    bool lowo = getenv("ZT_CV_WRITERS") != NULL;
    bool verbose = getenv("ZT_CV_VERBOSE") != NULL;
    int folds = lowo ? ZT__PII_N_WORN : by_round ? 1 : FOLDS;
    struct counts rules = {0}, model[N_OFF] = {{0}}, wr[ZT__PII_N_WORN][N_OFF];
    memset(wr, 0, sizeof wr);
    size_t pos = 0;
    for (size_t i = 0; i < set.n; i++) pos += set.label[i];
    for (int k = 0; k < folds; k++) {
        /* the PII rows and then the ordinary chat rows (pii_internal.h), each left out with its writer */
        for (size_t i = 0; i < set.n_rows; i++)
            use[i] = lowo       ? set.row_round[i] != ZT__PII_ROUND_WORN + 1 + k
                     : by_round ? set.row_round[i] != 4 && set.row_round[i] <= ZT__PII_ROUND_WORN
                                : (int)(i % FOLDS) != k;
        uint8_t *file = NULL;
        size_t fl = 0;
        struct zt_hlr m;
        if (zt__pii_name_train(&set, use, &prm, &file, &fl) != 0 || zt_hlr_parse(file, fl, &m) != 0) {
            zt_free(file);
            goto out;
        }
        for (size_t i = 0; i < rows.n; i++) {
            if (use[i]) continue;
            zt__pii_set_name_model(d, NULL);
            score_row(d, rows.text[i], rows.gold[i], &rules, false);
            for (int o = 0; o < N_OFF; o++) {
                struct zt_hlr mo = m;
                mo.threshold += -1.0 + 0.5 * o;
                zt__pii_set_name_model(d, &mo);
                struct counts c1 = {0};
                score_row(d, rows.text[i], rows.gold[i], &c1, verbose && o == 2);
                model[o].tp += c1.tp;
                model[o].fp += c1.fp;
                model[o].fn += c1.fn;
                if (lowo) {
                    wr[k][o].tp += c1.tp;
                    wr[k][o].fp += c1.fp;
                    wr[k][o].fn += c1.fn;
                }
            }
        }
        zt__pii_set_name_model(d, NULL);
        zt_free(file);
    }
    printf("names.clf: %zu candidates (%zu persons) from %zu rows, %s\n", set.n, pos, rows.n,
           lowo       ? "leave one worn writer out (tuning rows always trained), pooled"
           : by_round ? "trained on rounds 1-2 (and 5-6), tested on round 4"
                      : "5-fold cross-validation by row (row i in fold i % 5)");
    print_counts("rules alone", &rules);
    for (int o = 0; o < N_OFF; o++) {
        char what[64];
        snprintf(what, sizeof what, "rules or model >= %+.1f", -1.0 + 0.5 * o);
        print_counts(what, &model[o]);
        if (!lowo) continue;
        double sum = 0, worst = 2, psum = 0, pworst = 2;
        int wk = 0, pk = 0;
        for (int k = 0; k < ZT__PII_N_WORN; k++) {
            const struct counts *c = &wr[k][o];
            double r = c->tp + c->fn ? (double)c->tp / (double)(c->tp + c->fn) : 1.0;
            double p = c->tp + c->fp ? (double)c->tp / (double)(c->tp + c->fp) : 1.0;
            sum += r;
            psum += p;
            if (p < pworst) {
                pworst = p;
                pk = k;
            }
            if (r < worst) {
                worst = r;
                wk = k;
            }
            if (getenv("ZT_CV_ROWS")) printf("      writer %d: P %.3f R %.3f\n", k + 1, p, r);
        }
        printf("    recall by writer: mean %.3f, worst %.3f (writer %d); precision mean %.3f, worst %.3f (writer %d)\n",
               sum / ZT__PII_N_WORN, worst, wk + 1, psum / ZT__PII_N_WORN, pworst, pk + 1);
    }
    ret = 0;
out:
    zt_free(use);
    zt__pii_rows_deinit(&rows);
    zt__pii_name_set_deinit(&set);
    zt_pii_detector_free(d);
    return ret;
}
