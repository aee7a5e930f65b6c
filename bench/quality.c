/* bench/quality.c: answer quality of the messaging features on labelled sets
 * (issue 16 item 8).
 *
 *   bench_quality [DIR [BASELINE]]      (default tests/data/tune, bench/quality_baseline.txt)
 *   bench_quality --write DIR OUT       figures of DIR written as a baseline file
 *
 * DIR holds any of (a missing file is skipped; lines starting with # are comments):
 *   spam_chat.tsv      LABEL<TAB>TEXT               spam | ham
 *   ordinary_chat.tsv  [ham<TAB>]TEXT               false-positive rate of spam
 *   sentiment.tsv      LABEL<TAB>TEXT               positive | negative | neutral
 *   moderation.tsv     LABEL<TAB>CATEGORY<TAB>TEXT  flag | allow (CATEGORY is reported per row)
 *   pii.tsv            TEXT<TAB>SPANS               SPANS: TYPE:substring items separated by
 *                                                   '|', ';' or TAB (a new item starts at a
 *                                                   known type name and ':'); empty or "-": none
 *
 * Features run as the node runs them with the default configuration: spam at
 * features.spam.threshold (0.8), sentiment labels at 0.05 in both modes,
 * moderation at threshold 0.7 with the default actions and the detected
 * language (a message counts as flagged when the action is flag or block),
 * PII with the built-in detector and the names asset. A PII hit is a true
 * positive when it has the gold type and overlaps the gold substring.
 * Assets come from $ZENTALK_ASSETS_DIR (default data/assets).
 *
 * Each figure is printed beside the baseline's figure of the same key (the
 * committed bench/quality_baseline.txt holds the tuning-set figures of the
 * code before issue 16, and the held-out ones once they were measured).
 * Figures only: nothing is asserted, the exit status is 0 unless a set
 * cannot be read. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_str.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_langid.h"
#include "zentalk/zt_moderation.h"
#include "zentalk/zt_pii.h"
#include "zentalk/zt_sentiment.h"
#include "zentalk/zt_spam.h"


/* As the node should run it (issue 16): when the detector is unsure of a
 * message, English terms are checked too. */
static void moderation_policy_extra(struct zt_moderation_policy *p, const struct zt_langid_result *lr)
{
    static const char *const also[] = {"en"};
    p->lang_unsure = !lr || lr->confidence < 0.8;
    p->also_langs = also;
    p->n_also_langs = 1;
}

static char assets[4096];

/* The built-in detector with the names asset when it is installed. */
static int pii_detector(struct zt_pii_detector **d)
{
    int rc = zt_pii_detector_new(NULL, d, NULL);
    if (rc) return rc;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", assets, ZT_PII_NAMES_ASSET);
    struct zt_asset a;
    if (zt_asset_load(path, ZT_PII_NAMES_KIND, ZT_PII_NAMES_VERSION, &a) == 0) {
        rc = zt_pii_detector_set_names(*d, a.data, a.len);
        zt_asset_deinit(&a);
        if (rc) return rc;
    } else {
        printf("pii: %s not installed: PERSON_NAME is not detected\n", path);
    }
    return 0;
}

#define MAX_FIG 512
#define LINE_MAX_B 8192

struct fig {
    char key[96];
    double v;
};
static struct fig figs[MAX_FIG], base[MAX_FIG];
static size_t n_figs, n_base;
static const char *set_name = "";

static const double *base_of(const char *key)
{
    for (size_t i = 0; i < n_base; i++)
        if (strcmp(base[i].key, key) == 0) return &base[i].v;
    return NULL;
}

static void put(const char *key, double v)
{
    char k[96];
    snprintf(k, sizeof k, "%s.%s", set_name, key);
    if (n_figs < MAX_FIG) {
        snprintf(figs[n_figs].key, sizeof figs[n_figs].key, "%s", k);
        figs[n_figs++].v = v;
    }
    const double *b = base_of(k);
    if (b)
        printf("  %-34s %8.4f   (baseline %.4f, %+.4f)\n", key, v, *b, v - *b);
    else
        printf("  %-34s %8.4f   (no baseline)\n", key, v);
}

static void load_baseline(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[256];
    while (n_base < MAX_FIG && fgets(line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n') continue;
        /* "key value": the key up to the first space, the value after it */
        line[strcspn(line, "\r\n")] = '\0';
        char *sp = strchr(line, ' ');
        double v;
        if (!sp || (size_t)(sp - line) >= sizeof base[n_base].key) continue;
        *sp++ = '\0';
        while (*sp == ' ') sp++;
        if (zt_str_to_double(sp, &v) != 0) continue;
        size_t kl = (size_t)(sp - 1 - line);
        memcpy(base[n_base].key, line, kl + 1); /* checked shorter than the key field above */
        base[n_base++].v = v;
    }
    fclose(f);
}

/* ---- reading sets ----------------------------------------------------------- */

struct row {
    char *f[3]; /* fields; the last one is the rest of the line */
    size_t nf;
};

struct rows {
    struct row *v;
    size_t n;
    char *buf;
};

/* Read DIR/NAME into rows of at most maxf tab-separated fields. 1: no file. */
static int read_set(const char *dir, const char *name, size_t maxf, struct rows *out)
{
    memset(out, 0, sizeof *out);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    if (!fp) return 1;
    fseek(fp, 0, SEEK_END);
    long sz = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    out->buf = zt_malloc((size_t)sz + 1);
    size_t cap = 64;
    out->v = zt_malloc(cap * sizeof *out->v);
    if (!out->buf || !out->v || fread(out->buf, 1, (size_t)sz, fp) != (size_t)sz) {
        fclose(fp);
        fprintf(stderr, "bench_quality: cannot read %s\n", path);
        exit(1);
    }
    fclose(fp);
    out->buf[sz] = 0;
    char *save = NULL;
    for (char *l = strtok_r(out->buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        size_t ll = strlen(l);
        if (ll && l[ll - 1] == '\r') l[--ll] = 0;
        if (l[0] == '#' || ll == 0) continue;
        struct row r = {.nf = 0};
        char *p = l;
        while (r.nf + 1 < maxf) {
            char *t = strchr(p, '\t');
            if (!t) break;
            *t = 0;
            r.f[r.nf++] = p;
            p = t + 1;
        }
        r.f[r.nf++] = p;
        if (out->n == cap) {
            cap *= 2;
            struct row *nv = zt_realloc(out->v, cap * sizeof *nv);
            if (!nv) exit(1);
            out->v = nv;
        }
        out->v[out->n++] = r;
    }
    return 0;
}

static void free_rows(struct rows *r)
{
    zt_free(r->v);
    zt_free(r->buf);
}

static void prf(const char *what, size_t tp, size_t fp, size_t fn)
{
    double p = tp + fp ? (double)tp / (double)(tp + fp) : 1.0;
    double r = tp + fn ? (double)tp / (double)(tp + fn) : 1.0;
    double f1 = p + r > 0 ? 2 * p * r / (p + r) : 0.0;
    char k[96];
    snprintf(k, sizeof k, "%s.precision", what);
    put(k, p);
    snprintf(k, sizeof k, "%s.recall", what);
    put(k, r);
    snprintf(k, sizeof k, "%s.f1", what);
    put(k, f1);
}

static void asset(const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", assets, name);
}

/* ---- spam ------------------------------------------------------------------- */

static void eval_spam(const char *dir, bool verbose)
{
    char path[4200];
    asset("spam.zta", path, sizeof path);
    struct zt_spam_model *m = NULL;
    if (zt_spam_load(path, &m) != 0) {
        printf("spam: skipped (%s not installed: run `make data`)\n", path);
        return;
    }
    struct rows rs;
    if (read_set(dir, "spam_chat.tsv", 2, &rs) == 0) {
        size_t tp = 0, fp = 0, fn = 0, tn = 0;
        for (size_t i = 0; i < rs.n; i++) {
            if (rs.v[i].nf < 2) continue;
            bool gold = strcmp(rs.v[i].f[0], "spam") == 0;
            struct zt_spam_result r;
            const char *t = rs.v[i].f[1];
            if (zt_spam_classify(m, t, strlen(t), 0.8, 0, &r) != 0) continue;
            if (gold && r.spam) tp++;
            else if (!gold && r.spam) fp++;
            else if (gold) fn++;
            else tn++;
            if (verbose && gold != r.spam) printf("    miss %s p=%.3f %s\n", gold ? "spam" : "ham", r.probability, t);
        }
        printf("spam_chat.tsv: %zu messages (tp %zu fp %zu fn %zu tn %zu)\n", rs.n, tp, fp, fn, tn);
        prf("spam", tp, fp, fn);
        free_rows(&rs);
    } else {
        printf("spam_chat.tsv: not in %s\n", dir);
    }
    if (read_set(dir, "ordinary_chat.tsv", 2, &rs) == 0) {
        size_t flagged = 0, n = 0;
        double sum = 0;
        for (size_t i = 0; i < rs.n; i++) {
            const char *t = rs.v[i].f[rs.v[i].nf - 1];
            struct zt_spam_result r;
            if (zt_spam_classify(m, t, strlen(t), 0.8, 0, &r) != 0) continue;
            n++;
            sum += r.probability;
            if (r.spam) {
                flagged++;
                if (verbose) printf("    fp p=%.3f %s\n", r.probability, t);
            }
        }
        printf("ordinary_chat.tsv: %zu messages, %zu flagged\n", n, flagged);
        put("spam.ordinary_fp_rate", n ? (double)flagged / (double)n : 0.0);
        put("spam.ordinary_mean_p", n ? sum / (double)n : 0.0);
        free_rows(&rs);
    } else {
        printf("ordinary_chat.tsv: not in %s\n", dir);
    }
    zt_spam_free(m);
}

/* ---- sentiment ---------------------------------------------------------------- */

static void eval_sentiment(const char *dir, bool verbose)
{
    char path[4200];
    asset(ZT_SENTIMENT_ASSET, path, sizeof path);
    struct zt_sentiment *s = NULL;
    if (zt_sentiment_load(path, &s) != 0) {
        printf("sentiment: skipped (%s not installed)\n", path);
        return;
    }
    struct rows rs;
    if (read_set(dir, "sentiment.tsv", 2, &rs) != 0) {
        printf("sentiment.tsv: not in %s\n", dir);
        zt_sentiment_free(s);
        return;
    }
    for (int mode = 0; mode < ZT_SENTIMENT_N_MODES; mode++) {
        size_t ok = 0, n = 0, conf[3][3] = {{0}};
        static const char *const labs[3] = {"positive", "negative", "neutral"};
        for (size_t i = 0; i < rs.n; i++) {
            if (rs.v[i].nf < 2) continue;
            const char *t = rs.v[i].f[1];
            struct zt_sentiment_result r;
            if (zt_sentiment_score_mode(s, (enum zt_sentiment_mode)mode, t, strlen(t), &r) != 0) continue;
            const char *got = zt_sentiment_label(&r, 0.05);
            int g = -1, p = -1;
            for (int k = 0; k < 3; k++) {
                if (strcmp(rs.v[i].f[0], labs[k]) == 0) g = k;
                if (strcmp(got, labs[k]) == 0) p = k;
            }
            if (g < 0 || p < 0) continue;
            n++;
            conf[g][p]++;
            if (g == p) ok++;
            else if (verbose && mode == ZT_SENTIMENT_CHAT)
                printf("    miss %s got %s (%.3f) %s\n", labs[g], got, r.compound, t);
        }
        printf("sentiment.tsv (%s mode): %zu messages; rows gold, columns answer (pos neg neu): "
               "[%zu %zu %zu] [%zu %zu %zu] [%zu %zu %zu]\n",
               zt_sentiment_mode_name((enum zt_sentiment_mode)mode), n, conf[0][0], conf[0][1], conf[0][2],
               conf[1][0], conf[1][1], conf[1][2], conf[2][0], conf[2][1], conf[2][2]);
        char k[64];
        snprintf(k, sizeof k, "sentiment.%s.accuracy", zt_sentiment_mode_name((enum zt_sentiment_mode)mode));
        put(k, n ? (double)ok / (double)n : 0.0);
    }
    free_rows(&rs);
    zt_sentiment_free(s);
}

/* ---- moderation ----------------------------------------------------------------- */

static void eval_moderation(const char *dir, bool verbose)
{
    char path[4200];
    asset(ZT_MODERATION_ASSET, path, sizeof path);
    struct zt_moderation *m = NULL;
    if (zt_moderation_load(path, &m) != 0) {
        printf("moderation: skipped (%s not installed)\n", path);
        return;
    }
    static const char *const langs[] = {"en", "es", "fr", "de", "it", "pt", "nl", "ca", "gl", "eu", "ru", "uk",
                                        "pl", "cs", "sk", "sl", "hr", "sr", "bg", "ro", "hu", "el", "tr", "sv",
                                        "da", "nb", "fi", "et", "lv", "lt", "is", "ga", "cy", "sq", "af", "ar",
                                        "he", "fa", "hi", "ja", "ko", "zh", "vi", "th", "id", "ms"};
    struct zt_langid *lid = NULL;
    const char *bad = NULL;
    if (zt_langid_new("/usr/share/libexttextcat", langs, sizeof langs / sizeof langs[0], &lid, &bad) != 0) lid = NULL;
    struct zt_moderation_policy pol;
    memset(&pol, 0, sizeof pol);
    pol.threshold = 0.7;
    pol.actions[ZT_MOD_PROFANITY] = ZT_MOD_FLAG;
    pol.actions[ZT_MOD_SEXUAL] = ZT_MOD_FLAG;
    pol.actions[ZT_MOD_HATE] = ZT_MOD_BLOCK;
    pol.actions[ZT_MOD_HARASSMENT] = ZT_MOD_BLOCK;
    pol.actions[ZT_MOD_SELF_HARM] = ZT_MOD_FLAG;
    pol.actions[ZT_MOD_SPAM_LINKS] = ZT_MOD_FLAG;
    struct rows rs;
    if (read_set(dir, "moderation.tsv", 3, &rs) != 0) {
        printf("moderation.tsv: not in %s\n", dir);
    } else {
        size_t tp = 0, fp = 0, fn = 0, tn = 0;
        size_t cat_n[4] = {0}, cat_hit[4] = {0};
        static const char *const cats[4] = {"harassment", "threat", "doxxing", "none"};
        for (size_t i = 0; i < rs.n; i++) {
            if (rs.v[i].nf < 3) continue;
            const char *t = rs.v[i].f[2];
            size_t len = strlen(t);
            struct zt_moderation_policy p = pol;
            struct zt_langid_result lr;
            if (lid && zt_langid_detect(lid, t, len, 0.5, &lr) == 0 && strcmp(lr.code, "und") != 0) p.lang = lr.code;
            moderation_policy_extra(&p, lid ? &lr : NULL);
            struct zt_moderation_result r;
            if (zt_moderation_check(m, t, len, &p, &r) != 0) continue;
            bool gold = strcmp(rs.v[i].f[0], "flag") == 0, got = r.action != ZT_MOD_ALLOW;
            if (gold && got) tp++;
            else if (!gold && got) fp++;
            else if (gold) fn++;
            else tn++;
            for (int c = 0; c < 4; c++)
                if (strcmp(rs.v[i].f[1], cats[c]) == 0) {
                    cat_n[c]++;
                    cat_hit[c] += got == gold;
                }
            if (verbose && gold != got) {
                printf("    miss %s/%s lang=%s %s\n", rs.v[i].f[0], rs.v[i].f[1], p.lang ? p.lang : "-", t);
                if (getenv("ZT_QUALITY_WHY"))
                    for (size_t k = 0; k < r.n_matches; k++)
                        printf("        %s %.2f %s\n", zt_moderation_category_name(r.matches[k].category),
                               r.matches[k].weight, r.matches[k].term);
            }
        }
        printf("moderation.tsv: %zu messages (tp %zu fp %zu fn %zu tn %zu)\n", rs.n, tp, fp, fn, tn);
        prf("moderation", tp, fp, fn);
        for (int c = 0; c < 4; c++) {
            if (!cat_n[c]) continue;
            char k[64];
            snprintf(k, sizeof k, "moderation.%s.correct", cats[c]);
            put(k, (double)cat_hit[c] / (double)cat_n[c]);
        }
        free_rows(&rs);
    }
    zt_langid_free(lid);
    zt_moderation_free(m);
}

/* ---- PII ---------------------------------------------------------------------------- */

#define N_PII_EVAL 11
static const char *const pii_types[N_PII_EVAL] = {"EMAIL", "PHONE",  "CARD",    "IBAN",    "IP",         "ETH",
                                                   "BTC",   "US_SSN", "UK_NINO", "ADDRESS", "PERSON_NAME"};

static int pii_type_of(const char *s, size_t n)
{
    for (int k = 0; k < N_PII_EVAL; k++)
        if (strlen(pii_types[k]) == n && memcmp(pii_types[k], s, n) == 0) return k;
    return -1;
}

struct gold {
    int type;
    size_t s, e;
    bool used;
};

/* Items of SPANS: a new item starts at a known type name followed by ':' at
 * the start or after a separator ('|', ';', ',', space). */
static size_t parse_spans(const char *text, const char *spans, struct gold *g, size_t max)
{
    size_t n = 0, tl = strlen(text), sl = strlen(spans);
    size_t i = 0, search_from = 0;
    while (i < sl && n < max) {
        while (i < sl && strchr("|;, \t", spans[i])) i++;
        size_t c = i;
        while (c < sl && spans[c] != ':') c++;
        if (c >= sl) break;
        int ty = pii_type_of(spans + i, c - i);
        size_t vs = c + 1, ve = vs;
        /* the value runs to the next separator followed by TYPE: */
        for (ve = vs; ve < sl; ve++) {
            if (!strchr("|;,\t", spans[ve])) continue;
            size_t k = ve + 1;
            while (k < sl && spans[k] == ' ') k++;
            size_t cc = k;
            while (cc < sl && spans[cc] != ':' && spans[cc] != ' ') cc++;
            if (cc < sl && spans[cc] == ':' && pii_type_of(spans + k, cc - k) >= 0) break;
        }
        size_t e2 = ve;
        while (e2 > vs && (spans[e2 - 1] == ' ' || spans[e2 - 1] == '\t')) e2--;
        if (ty >= 0 && e2 > vs) {
            /* locate the value in the text */
            const char *hit = NULL;
            for (size_t p = search_from; p + (e2 - vs) <= tl; p++)
                if (memcmp(text + p, spans + vs, e2 - vs) == 0) {
                    hit = text + p;
                    break;
                }
            if (!hit)
                for (size_t p = 0; p + (e2 - vs) <= tl; p++)
                    if (memcmp(text + p, spans + vs, e2 - vs) == 0) {
                        hit = text + p;
                        break;
                    }
            if (hit) {
                g[n].type = ty;
                g[n].s = (size_t)(hit - text);
                g[n].e = g[n].s + (e2 - vs);
                g[n].used = false;
                search_from = g[n].e;
                n++;
            } else {
                fprintf(stderr, "bench_quality: pii.tsv: \"%.*s\" is not in \"%s\"\n", (int)(e2 - vs), spans + vs, text);
            }
        }
        i = ve;
    }
    return n;
}

static void eval_pii(const char *dir, bool verbose)
{
    struct rows rs;
    if (read_set(dir, "pii.tsv", 2, &rs) != 0) {
        printf("pii.tsv: not in %s\n", dir);
        return;
    }
    struct zt_pii_detector *d = NULL;
    if (pii_detector(&d) != 0) {
        printf("pii: cannot build a detector\n");
        free_rows(&rs);
        return;
    }
    size_t tp[N_PII_EVAL] = {0}, fp[N_PII_EVAL] = {0}, fn[N_PII_EVAL] = {0}, seen[N_PII_EVAL] = {0};
    struct zt_pii_hits h;
    zt_pii_hits_init(&h);
    for (size_t i = 0; i < rs.n; i++) {
        const char *t = rs.v[i].f[0];
        const char *sp = rs.v[i].nf > 1 ? rs.v[i].f[1] : "";
        struct gold g[32];
        size_t ng = strcmp(sp, "-") == 0 ? 0 : parse_spans(t, sp, g, 32);
        for (size_t k = 0; k < ng; k++) seen[g[k].type]++;
        if (zt_pii_detect(d, t, strlen(t), &h) != 0) continue;
        for (size_t j = 0; j < h.n; j++) {
            int ty = pii_type_of(zt_pii_type_name(d, h.v[j].type), strlen(zt_pii_type_name(d, h.v[j].type)));
            if (ty < 0) continue;
            bool ok = false;
            for (size_t k = 0; k < ng; k++) /* one hit may cover several gold items ("18 Elm Road, Leeds LS6 2AB") */
                if (!g[k].used && g[k].type == ty && h.v[j].start < g[k].e && g[k].s < h.v[j].end) g[k].used = ok = true;
            if (ok) tp[ty]++;
            else {
                fp[ty]++;
                if (verbose)
                    printf("    fp %s \"%.*s\" in: %s\n", pii_types[ty], (int)(h.v[j].end - h.v[j].start), t + h.v[j].start, t);
            }
        }
        for (size_t k = 0; k < ng; k++)
            if (!g[k].used) {
                fn[g[k].type]++;
                if (verbose) printf("    fn %s \"%.*s\" in: %s\n", pii_types[g[k].type], (int)(g[k].e - g[k].s), t + g[k].s, t);
            }
    }
    printf("pii.tsv: %zu texts\n", rs.n);
    for (int k = 0; k < N_PII_EVAL; k++) {
        if (!seen[k] && !fp[k]) continue;
        char w[64];
        snprintf(w, sizeof w, "pii.%s", pii_types[k]);
        printf("  %s: gold %zu, tp %zu fp %zu fn %zu\n", pii_types[k], seen[k], tp[k], fp[k], fn[k]);
        prf(w, tp[k], fp[k], fn[k]);
    }
    zt_pii_hits_deinit(&h);
    zt_pii_detector_free(d);
    free_rows(&rs);
}

int main(int argc, char **argv)
{
    bool write = argc > 1 && strcmp(argv[1], "--write") == 0;
    bool verbose = getenv("ZT_QUALITY_VERBOSE") != NULL;
    const char *dir = argc > 1 + write ? argv[1 + write] : "tests/data/tune";
    const char *bpath = argc > 2 + write ? argv[2 + write] : "bench/quality_baseline.txt";
    const char *ad = getenv("ZENTALK_ASSETS_DIR");
    snprintf(assets, sizeof assets, "%s", ad && *ad ? ad : "data/assets");
    if (!write) load_baseline(bpath);
    const char *sl = strrchr(dir, '/');
    set_name = sl && sl[1] ? sl + 1 : dir;
    printf("quality of the messaging features on %s (set name \"%s\"; baseline %s)\n", dir, set_name,
           write ? "-" : bpath);
    eval_spam(dir, verbose);
    eval_sentiment(dir, verbose);
    eval_moderation(dir, verbose);
    eval_pii(dir, verbose);
    if (write) {
        FILE *f = fopen(bpath, "w");
        if (!f) return 1;
        for (size_t i = 0; i < n_figs; i++) fprintf(f, "%s %.4f\n", figs[i].key, figs[i].v);
        fclose(f);
    }
    return 0;
}
