/* pii_names.c: the learned person-name context scorer's model, recipe and
 * training data (pii_internal.h). Scoring is in pii.c (scan_names). */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pii_internal.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_error.h"
#include "zentalk/zt_file.h"

/* src/privacy/models/names.clf compiled in by cmake/embed.cmake */
extern const unsigned char zt__model_names[];
extern const size_t zt__model_names_len;

static struct zt_hlr builtin;
static int builtin_rc;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_init(void)
{
    builtin_rc = zt_hlr_parse(zt__model_names, zt__model_names_len, &builtin);
}

const struct zt_hlr *zt__pii_name_model_builtin(void)
{
    pthread_once(&builtin_once, builtin_init);
    return builtin_rc ? NULL : &builtin;
}

/* Set with cross-validation on the tuning sets (`zt-train-clf cv`, figures
 * in docs/internals/pii.md): the threshold keeps PERSON_NAME precision at
 * or above 0.9 with the rules. Round 10: kept at 0.5 by leave-one-writer-out
 * cross-validation on the tuning and worn sets (docs/features/learned.md).
 * Round 11 (nine writers, heldout10 added): kept at 0.5 (mean / worst
 * recall by writer 0.943 / 0.820; 0.0 gives 0.947 / 0.830 and -0.5 0.950 /
 * 0.840, but both flag test_pii's must-allow "Evri says the parcel is out
 * for delivery"). */
static const struct zt_hlr_params recipe = {
    .log2 = 14, .epochs = 20, .lr = 0.5, .l2 = 1e-4, .pos_weight = 1.0, .threshold = -0.5, .seed = 16};

const struct zt_hlr_params *zt__pii_name_recipe(void)
{
    return &recipe;
}

/* ---- the tuning rows ------------------------------------------------------------- */

/* Under tests/data/: the tuning sets (rounds 1-6) and, round 10 of issue 16,
 * the worn held-out sets of eight writers (read, now development data;
 * round 11: nine, heldout10/ added; round 12: ten, heldout11/ added),
 * writer k as round ZT__PII_ROUND_WORN + k. Each set's pii.tsv, and (round
 * 12) its ordinary_chat.tsv (label<TAB>TEXT) where it has one: the
 * capitalised words at a sentence's start there that the word lists call
 * words are negatives. */
static const struct {
    const char *dir;
    uint8_t round;
    bool chat; /* an ordinary_chat.tsv beside pii.tsv */
} sets[] = {{"tune", 1, true},
            {"tune/round2", 2, false},
            {"tune/round4", 4, true},
            {"tune/round5", 5, false},
            {"tune/round6", 6, true},
            {"heldout", ZT__PII_ROUND_WORN + 1, true},
            {"heldout3", ZT__PII_ROUND_WORN + 2, true},
            {"heldout4", ZT__PII_ROUND_WORN + 3, true},
            {"heldout5", ZT__PII_ROUND_WORN + 4, true},
            {"heldout6", ZT__PII_ROUND_WORN + 5, true},
            {"heldout7", ZT__PII_ROUND_WORN + 6, true},
            {"heldout8", ZT__PII_ROUND_WORN + 7, true},
            {"heldout9", ZT__PII_ROUND_WORN + 8, true},
            {"heldout10", ZT__PII_ROUND_WORN + 9, true},
            {"heldout11", ZT__PII_ROUND_WORN + 10, true}};

#define N_SETS (sizeof sets / sizeof sets[0])

/* src_dir/tests/data/DIR/NAME into *buf (the caller frees it). */
static int read_set_file(const char *src_dir, const char *dir, const char *name, char **buf, size_t *len)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/tests/data/%s/%s", src_dir, dir, name) >= sizeof path)
        return ZT_EINVAL;
    return zt_file_read(path, 16u << 20, buf, len);
}

/* fn on each line of buf[0..len), cut in place at '\n' (a trailing '\r'
 * dropped), but empty lines and '#' comments; the first nonzero return of
 * fn is returned. */
static int each_line(char *buf, size_t len, int (*fn)(char *line, void *ud), void *ud)
{
    char *line = buf, *end = buf + len;
    int rc = 0;
    while (line < end && !rc) {
        char *nl = memchr(line, '\n', (size_t)(end - line));
        char *le = nl ? nl : end;
        *le = '\0';
        if (le > line && le[-1] == '\r') le[-1] = '\0';
        if (line[0] && line[0] != '#') rc = fn(line, ud);
        line = le + 1;
    }
    return rc;
}

static int rows_push(struct zt__pii_rows *r, size_t *cap, char *text, char *gold, uint8_t round)
{
    if (r->n == *cap) {
        size_t c = *cap ? 2 * *cap : 256;
        char **t = zt_realloc(r->text, c * sizeof *t);
        if (!t) return ZT_ENOMEM;
        r->text = t;
        char **g = zt_realloc(r->gold, c * sizeof *g);
        if (!g) return ZT_ENOMEM;
        r->gold = g;
        uint8_t *rd = zt_realloc(r->round, c);
        if (!rd) return ZT_ENOMEM;
        r->round = rd;
        *cap = c;
    }
    r->text[r->n] = text;
    r->gold[r->n] = gold;
    r->round[r->n] = round;
    r->n++;
    return 0;
}

/* The PERSON_NAME substrings of a spans field ("TYPE:substring" items
 * separated by '|', ';' or TAB), rewritten in place as '\n'-separated. */
static void gold_names(char *spans)
{
    static const char key[] = "PERSON_NAME:";
    char *w = spans, *p = spans;
    bool first = true;
    while ((p = strstr(p, key)) != NULL) {
        p += sizeof key - 1;
        while (*p == ' ') p++;
        size_t n = strcspn(p, "|;\t");
        while (n && p[n - 1] == ' ') n--;
        if (n) {
            if (!first) *w++ = '\n';
            memmove(w, p, n);
            w += n;
            first = false;
        }
        p += n;
    }
    *w = 0;
}

struct rows_ctx {
    struct zt__pii_rows *r;
    size_t cap;
    uint8_t round;
};

static int row_line(char *line, void *ud)
{
    struct rows_ctx *x = ud;
    char *tab = strchr(line, '\t');
    char *spans = tab ? tab + 1 : line + strlen(line);
    if (tab) *tab = '\0';
    gold_names(spans);
    return rows_push(x->r, &x->cap, line, spans, x->round);
}

int zt__pii_rows_load(const char *src_dir, struct zt__pii_rows *out)
{
    struct zt__pii_rows r = {0};
    struct rows_ctx x = {.r = &r};
    int rc = 0;
    for (size_t si = 0; si < N_SETS && !rc; si++) {
        char *buf = NULL;
        size_t len = 0;
        if ((rc = read_set_file(src_dir, sets[si].dir, "pii.tsv", &buf, &len)) != 0) break;
        char **nb = zt_realloc(r.bufs, (r.n_bufs + 1) * sizeof *nb);
        if (!nb) {
            zt_free(buf);
            rc = ZT_ENOMEM;
            break;
        }
        r.bufs = nb;
        nb[r.n_bufs++] = buf;
        x.round = sets[si].round;
        rc = each_line(buf, len, row_line, &x);
    }
    if (rc) {
        zt__pii_rows_deinit(&r);
        return rc;
    }
    *out = r;
    return 0;
}

void zt__pii_rows_deinit(struct zt__pii_rows *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_bufs; i++) zt_free(r->bufs[i]);
    zt_free(r->bufs);
    zt_free(r->text);
    zt_free(r->gold);
    zt_free(r->round);
    memset(r, 0, sizeof *r);
}

/* ---- the candidates ------------------------------------------------------------- */

struct collect {
    struct zt__pii_name_set *s;
    size_t cap, hcap;
    const char *text, *gold;
    uint32_t row;
    uint8_t round;
    bool chat; /* an ordinary chat row: sentence-start word candidates only, all negatives */
    int err;
    const struct zt_pii_detector *d;
    size_t rcap; /* of s->row_round */
};

/* [s, e) overlaps an occurrence of one of the '\n'-separated gold substrings */
static bool overlaps_gold(const char *text, const char *gold, size_t s, size_t e)
{
    while (*gold) {
        size_t n = strcspn(gold, "\n");
        char item[128];
        if (n && n < sizeof item) {
            memcpy(item, gold, n);
            item[n] = 0;
            for (const char *p = text; (p = strstr(p, item)) != NULL; p++) {
                size_t a = (size_t)(p - text), b = a + n;
                if (a < e && s < b) return true;
            }
        }
        gold += n;
        if (*gold == '\n') gold++;
    }
    return false;
}

static void collect_cb(size_t s, size_t e, const uint64_t *h, size_t n, double rule_conf, unsigned flags, void *ud)
{
    (void)rule_conf;
    struct collect *c = ud;
    struct zt__pii_name_set *set = c->s;
    if (c->err || (c->chat && !(flags & ZT__PII_CAND_START_WORD))) return;
    if (set->n + 1 >= c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024;
        size_t *st = zt_realloc(set->start, (cap + 1) * sizeof *st);
        if (!st) goto oom;
        set->start = st;
        uint8_t *lb = zt_realloc(set->label, cap);
        if (!lb) goto oom;
        set->label = lb;
        uint32_t *rw = zt_realloc(set->row, cap * sizeof *rw);
        if (!rw) goto oom;
        set->row = rw;
        uint8_t *rd = zt_realloc(set->round, cap);
        if (!rd) goto oom;
        set->round = rd;
        c->cap = cap;
    }
    size_t used = set->start[set->n];
    if (used + n > c->hcap) {
        size_t cap = c->hcap ? 2 * c->hcap : 16384;
        while (cap < used + n) cap *= 2;
        uint64_t *nh = zt_realloc(set->h, cap * sizeof *nh);
        if (!nh) goto oom;
        set->h = nh;
        c->hcap = cap;
    }
    memcpy(set->h + used, h, n * sizeof *h);
    set->label[set->n] = !c->chat && overlaps_gold(c->text, c->gold, s, e);
    set->row[set->n] = c->row;
    set->round[set->n] = c->round;
    set->n++;
    set->start[set->n] = used + n;
    return;
oom:
    c->err = ZT_ENOMEM;
}

/* One ordinary chat row: its sentence-start word candidates, as negatives. */
static int chat_line(char *line, void *ud)
{
    struct collect *c = ud;
    char *text = strrchr(line, '\t');
    text = text ? text + 1 : line;
    c->text = text;
    c->row = (uint32_t)c->s->n_rows;
    int rc = zt__pii_name_candidates(c->d, text, strlen(text), collect_cb, c);
    if (!rc) rc = c->err;
    if (!rc) rc = zt_array_push(&c->s->row_round, &c->s->n_rows, &c->rcap, &c->round, 1, 1024);
    return rc;
}

int zt__pii_name_set_load(const struct zt_pii_detector *d, const char *src_dir, struct zt__pii_name_set *out)
{
    struct zt__pii_rows rows;
    int rc = zt__pii_rows_load(src_dir, &rows);
    if (rc) return rc;
    struct zt__pii_name_set s = {0};
    struct collect c = {.s = &s, .d = d};
    s.start = zt_calloc(1, sizeof *s.start);
    if (!s.start) rc = ZT_ENOMEM;
    for (size_t i = 0; i < rows.n && !rc; i++) {
        c.text = rows.text[i];
        c.gold = rows.gold[i];
        c.row = (uint32_t)i;
        c.round = rows.round[i];
        rc = zt__pii_name_candidates(d, rows.text[i], strlen(rows.text[i]), collect_cb, &c);
        if (!rc) rc = c.err;
        if (!rc) rc = zt_array_push(&s.row_round, &s.n_rows, &c.rcap, &rows.round[i], 1, 1024);
    }
    s.n_pii_rows = rows.n;
    zt__pii_rows_deinit(&rows);
    /* round 12: the ordinary chat rows, the last field of each line */
    c.chat = true;
    c.gold = "";
    for (size_t si = 0; si < N_SETS && !rc; si++) {
        if (!sets[si].chat) continue;
        char *buf = NULL;
        size_t len = 0;
        if ((rc = read_set_file(src_dir, sets[si].dir, "ordinary_chat.tsv", &buf, &len)) != 0) break;
        c.round = sets[si].round;
        rc = each_line(buf, len, chat_line, &c);
        zt_free(buf);
    }
    if (rc) {
        zt__pii_name_set_deinit(&s);
        return rc;
    }
    *out = s;
    return 0;
}

void zt__pii_name_set_deinit(struct zt__pii_name_set *s)
{
    if (!s) return;
    zt_free(s->h);
    zt_free(s->start);
    zt_free(s->label);
    zt_free(s->row);
    zt_free(s->round);
    zt_free(s->row_round);
    memset(s, 0, sizeof *s);
}

int zt__pii_name_train(const struct zt__pii_name_set *s, const uint8_t *use, const struct zt_hlr_params *p,
                       uint8_t **out, size_t *out_len)
{
    if (!s || !s->n) return ZT_EINVAL;
    if (!use) return zt_hlr_train(s->h, s->start, s->label, s->n, p, out, out_len);
    /* the candidates of the rows in use, compacted */
    size_t m = 0, nh = 0;
    for (size_t i = 0; i < s->n; i++)
        if (use[s->row[i]]) {
            m++;
            nh += s->start[i + 1] - s->start[i];
        }
    if (!m) return ZT_EINVAL;
    uint64_t *h = zt_malloc((nh ? nh : 1) * sizeof *h);
    size_t *st = zt_malloc((m + 1) * sizeof *st);
    uint8_t *lb = zt_malloc(m);
    int rc = ZT_ENOMEM;
    if (!h || !st || !lb) goto out;
    size_t k = 0, o = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!use[s->row[i]]) continue;
        size_t a = s->start[i], b = s->start[i + 1];
        st[k] = o;
        memcpy(h + o, s->h + a, (b - a) * sizeof *h);
        o += b - a;
        lb[k++] = s->label[i];
    }
    st[k] = o;
    rc = zt_hlr_train(h, st, lb, m, p, out, out_len);
out:
    zt_free(h);
    zt_free(st);
    zt_free(lb);
    return rc;
}
