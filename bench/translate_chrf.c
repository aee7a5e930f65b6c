/* bench_translate_chrf [DATA_DIR [MODES_DIR]]: translation quality of every
 * installed Apertium pair with English on one side, scored by chrF against
 * the committed reference translations (tests/data/translate/en-XX.tsv:
 * "English<TAB>reference" lines, used in both directions).
 *
 * chrF (Popović 2015, as sacreBLEU computes it): character n-grams of
 * orders 1 to 6 with whitespace removed, counted over the whole set;
 * precision and recall averaged over the orders; F-score with beta = 2
 * (recall weighs twice as much). 0 to 100.
 *
 * Each pair is scored twice: Apertium's output as it is (opts.raw) and with
 * the rewrites of config/translate.txt and the tidying (what the node
 * serves). A pair is called usable at chrF >= 40 with the node's output and
 * no more than 10% of its output words carrying an unknown-word mark in the
 * raw output. Figures only: nothing is asserted. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_translate.h"

#define MAX_N 6
#define BETA 2.0
#define MAX_LINES 256
#define GRAM_MAX (MAX_N * 4)

/* ---- chrF ------------------------------------------------------------------- */

struct chrf {
    double match[MAX_N], hyp[MAX_N], ref[MAX_N];
};

/* Code point boundaries of s without whitespace: cp[i] is the byte offset
 * of character i in the squeezed copy q. */
static size_t squeeze(const char *s, char *q, size_t *cp, size_t max)
{
    size_t n = 0, qb = 0;
    for (size_t i = 0; s[i] && n < max;) {
        unsigned char c = (unsigned char)s[i];
        size_t l = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
            continue;
        }
        cp[n++] = qb;
        for (size_t k = 0; k < l && s[i]; k++) q[qb++] = s[i++];
    }
    cp[n] = qb;
    q[qb] = '\0';
    return n;
}

struct gram {
    const char *p;
    size_t len;
};

static int cmp_gram(const void *a, const void *b)
{
    const struct gram *x = a, *y = b;
    size_t l = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->p, y->p, l);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static size_t grams(const char *q, const size_t *cp, size_t n, size_t order, struct gram *g)
{
    size_t k = 0;
    for (size_t i = 0; i + order <= n; i++) g[k++] = (struct gram){q + cp[i], cp[i + order] - cp[i]};
    qsort(g, k, sizeof *g, cmp_gram);
    return k;
}

/* Add one hypothesis / reference pair's n-gram counts to c. */
static void chrf_add(struct chrf *c, const char *hyp, const char *ref)
{
    size_t lh = strlen(hyp), lr = strlen(ref);
    char *qh = malloc(lh + 1), *qr = malloc(lr + 1);
    size_t *ch = malloc((lh + 2) * sizeof *ch), *cr = malloc((lr + 2) * sizeof *cr);
    struct gram *gh = malloc((lh + 1) * sizeof *gh), *gr = malloc((lr + 1) * sizeof *gr);
    if (!qh || !qr || !ch || !cr || !gh || !gr) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    size_t nh = squeeze(hyp, qh, ch, lh + 1), nr = squeeze(ref, qr, cr, lr + 1);
    for (size_t o = 1; o <= MAX_N; o++) {
        size_t kh = grams(qh, ch, nh, o, gh), kr = grams(qr, cr, nr, o, gr);
        size_t i = 0, j = 0, m = 0;
        while (i < kh && j < kr) {
            int d = cmp_gram(&gh[i], &gr[j]);
            if (d == 0) {
                m++;
                i++;
                j++;
            } else if (d < 0) {
                i++;
            } else {
                j++;
            }
        }
        c->match[o - 1] += (double)m;
        c->hyp[o - 1] += (double)kh;
        c->ref[o - 1] += (double)kr;
    }
    free(qh);
    free(qr);
    free(ch);
    free(cr);
    free(gh);
    free(gr);
}

static double chrf_score(const struct chrf *c)
{
    double p = 0, r = 0;
    int orders = 0;
    for (int o = 0; o < MAX_N; o++) {
        if (c->hyp[o] == 0 && c->ref[o] == 0) continue;
        p += c->hyp[o] > 0 ? c->match[o] / c->hyp[o] : 0;
        r += c->ref[o] > 0 ? c->match[o] / c->ref[o] : 0;
        orders++;
    }
    if (!orders) return 0;
    p /= orders;
    r /= orders;
    if (p + r == 0) return 0;
    double b2 = BETA * BETA;
    return 100.0 * (1 + b2) * p * r / (b2 * p + r);
}

static void chrf_self_check(void)
{
    struct chrf a = {0}, b = {0}, c = {0};
    chrf_add(&a, "La casa es grande.", "La casa es grande.");
    chrf_add(&b, "xyz", "La casa");
    chrf_add(&c, "La  casa", "La casa grande");
    double sa = chrf_score(&a), sb = chrf_score(&b), sc = chrf_score(&c);
    if (sa < 99.999 || sb > 0.001 || !(sc > 30 && sc < 100)) {
        fprintf(stderr, "chrF self-check failed: %.3f %.3f %.3f\n", sa, sb, sc);
        exit(1);
    }
}

/* ---- the sets --------------------------------------------------------------- */

struct set {
    char *buf;
    const char *en[MAX_LINES], *xx[MAX_LINES];
    size_t n;
};

static int load_set(const char *path, struct set *s)
{
    size_t len;
    memset(s, 0, sizeof *s);
    if (zt_file_read(path, 1u << 20, &s->buf, &len) != 0) return -1;
    char *p = s->buf;
    while (*p && s->n < MAX_LINES) {
        char *e = strchr(p, '\n');
        if (e) *e = '\0';
        char *tab = strchr(p, '\t');
        if (*p != '#' && tab) {
            *tab = '\0';
            s->en[s->n] = p;
            s->xx[s->n] = tab + 1;
            s->n++;
        }
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static size_t count_words(const char *s)
{
    size_t n = 0;
    for (bool in = false; *s; s++) {
        bool w = *s != ' ' && *s != '\n';
        if (w && !in) n++;
        in = w;
    }
    return n;
}

static size_t count_marked(const char *s)
{
    size_t n = 0;
    for (size_t i = 0; s[i]; i++)
        if ((s[i] == '*' || s[i] == '#' || s[i] == '@') && (i == 0 || s[i - 1] == ' ') && s[i + 1] && s[i + 1] != ' ')
            n++;
    return n;
}

/* Score src -> dst over the set; from_en: English is the source. */
static void score_pair(struct zt_translate *node, struct zt_translate *raw, const char *src, const char *dst,
                       const struct set *s, bool from_en)
{
    struct chrf cn = {0}, cr = {0};
    size_t words = 0, marked = 0, fails = 0;
    struct zt_buf o;
    zt_buf_init(&o, 1 << 20);
    char first[512] = "";
    for (size_t i = 0; i < s->n; i++) {
        const char *in = from_en ? s->en[i] : s->xx[i], *ref = from_en ? s->xx[i] : s->en[i];
        zt_buf_reset(&o);
        if (zt_translate_text(raw, src, dst, in, strlen(in), true, &o) != 0) {
            fails++;
            continue;
        }
        words += count_words(zt_buf_str(&o));
        marked += count_marked(zt_buf_str(&o));
        zt_buf_reset(&o);
        if (zt_translate_text(raw, src, dst, in, strlen(in), false, &o) != 0) {
            fails++;
            continue;
        }
        chrf_add(&cr, zt_buf_str(&o), ref);
        zt_buf_reset(&o);
        if (zt_translate_text(node, src, dst, in, strlen(in), false, &o) != 0) {
            fails++;
            continue;
        }
        chrf_add(&cn, zt_buf_str(&o), ref);
        if (i == 0) snprintf(first, sizeof first, "%s", zt_buf_str(&o));
    }
    zt_buf_deinit(&o);
    double fr = chrf_score(&cr), fn = chrf_score(&cn), mk = words ? 100.0 * (double)marked / (double)words : 100;
    bool usable = fn >= 40 && mk <= 10 && fails == 0;
    printf("| %s-%s | %zu | %5.1f | %5.1f | %4.1f%% | %s | %s |\n", src, dst, s->n, fr, fn, mk,
           usable ? "usable" : "not usable", first);
}

int main(int argc, char **argv)
{
    const char *data = argc > 1 ? argv[1] : "tests/data/translate";
    const char *modes = argc > 2 ? argv[2] : NULL;
    chrf_self_check();
    struct zt_translate_opts on = {.modes_dir = modes, .pipelines = 1, .timeout_ms = 30000};
    struct zt_translate_opts or_ = on;
    or_.raw = true;
    struct zt_translate *node = NULL, *raw = NULL;
    if (zt_translate_new(&on, &node) != 0 || zt_translate_new(&or_, &raw) != 0) {
        fprintf(stderr, "cannot open the translation pairs\n");
        return 1;
    }
    printf("chrF (beta 2, character 1..6-grams) against %s; raw = Apertium as it is, node = with\n"
           "config/translate.txt and tidying; marks = words of the raw output Apertium marked unknown\n\n",
           data);
    printf("| pair | sentences | chrF raw | chrF node | marks | verdict | sentence 1 (node) |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- |\n");
    DIR *d = opendir(data);
    if (!d) {
        fprintf(stderr, "%s: cannot open\n", data);
        return 1;
    }
    char names[64][64];
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && nn < 64)
        if (strncmp(e->d_name, "en-", 3) == 0 && strstr(e->d_name, ".tsv") && strlen(e->d_name) < 64)
            snprintf(names[nn++], sizeof names[0], "%s", e->d_name);
    closedir(d);
    qsort(names, nn, sizeof names[0], (int (*)(const void *, const void *))strcmp);
    size_t scored = 0;
    for (size_t i = 0; i < nn; i++) {
        char code[8] = {0}, path[4096];
        snprintf(code, sizeof code, "%.*s", (int)(strlen(names[i]) - 7), names[i] + 3);
        const char *x3 = zt_translate_lang3(code);
        snprintf(path, sizeof path, "%s/%s", data, names[i]);
        struct set s;
        if (!x3 || load_set(path, &s) != 0) {
            fprintf(stderr, "%s: unknown language or unreadable\n", path);
            continue;
        }
        for (int dir = 0; dir < 2; dir++) {
            const char *src = dir ? x3 : "eng", *dst = dir ? "eng" : x3;
            if (!zt_translate_has_pair(node, src, dst)) {
                printf("| %s-%s | %zu | - | - | - | not installed | |\n", src, dst, s.n);
                continue;
            }
            score_pair(node, raw, src, dst, &s, dir == 0);
            scored++;
        }
        zt_free(s.buf);
    }
    zt_translate_free(node);
    zt_translate_free(raw);
    return scored ? 0 : 1;
}
