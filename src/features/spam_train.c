/* spam_train.c: the e-mail cleaner and the deterministic trainer of the spam
 * model (zt_spam.h). Logistic regression, AdaGrad steps, L2 applied to the
 * weights a message touches, a fixed-seed shuffle per epoch. */
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <utf8proc.h>

#include "spam_internal.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_asset.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_spam.h"
#include "zentalk/zt_str.h"

/* ---- e-mail text ------------------------------------------------------------ */

/* growable byte buffer private to this file (bounded by the input size) */
struct sb {
    char *p;
    size_t n, cap;
    int oom;
};

static void sb_putn(struct sb *b, const char *s, size_t n)
{
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 256;
        while (c < b->n + n + 1) c *= 2;
        char *q = zt_realloc(b->p, c);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void sb_putc(struct sb *b, char c)
{
    sb_putn(b, &c, 1);
}

static int ieq_prefix(const char *s, size_t n, const char *pre)
{
    size_t k = strlen(pre);
    if (n < k) return 0;
    for (size_t i = 0; i < k; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != pre[i]) return 0;
    }
    return 1;
}

static int icontains(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (ieq_prefix(s + i, n - i, needle)) return 1;
    return 0;
}


/* A line of at least 40 base64 characters and nothing else. */
static int b64_line(const char *s, size_t n)
{
    if (n < 40) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
              c == '/' || c == '='))
            return 0;
    }
    return 1;
}

/* Decode quoted-printable line s[0..n) (soft break "=" at the end: no newline). */
static void qp_line(struct sb *o, const char *s, size_t n)
{
    int soft = n > 0 && s[n - 1] == '=';
    if (soft) n--;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '=' && i + 2 < n) {
            int hi = zt_hex_digit(s[i + 1]), lo = zt_hex_digit(s[i + 2]);
            if (hi >= 0 && lo >= 0) {
                sb_putc(o, (char)(hi << 4 | lo));
                i += 2;
                continue;
            }
        }
        sb_putc(o, s[i]);
    }
    if (!soft) sb_putc(o, '\n');
}

/* The Subject header (continuation lines joined) of the header block. */
static void subject(struct sb *o, const char *h, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && h[e] != '\n') e++;
        if (ieq_prefix(h + i, e - i, "subject:")) {
            sb_putn(o, h + i + 8, e - i - 8);
            while (e + 1 < n && (h[e + 1] == ' ' || h[e + 1] == '\t')) {
                size_t s2 = e + 1, e2 = s2;
                while (e2 < n && h[e2] != '\n') e2++;
                sb_putn(o, h + s2, e2 - s2);
                e = e2;
            }
            sb_putc(o, '\n');
            return;
        }
        i = e + 1;
    }
}

/* Body lines without MIME structure: part headers, boundaries, base64 and
 * non-text parts dropped; quoted-printable decoded. */
static void body_text(struct sb *o, const char *hdr, size_t hn, const char *b, size_t n)
{
    int qp = icontains(hdr, hn, "quoted-printable");
    int skip = icontains(hdr, hn, "content-transfer-encoding: base64") && !icontains(hdr, hn, "multipart");
    int in_part_hdr = 0;
    size_t i = 0;
    while (i < n) {
        size_t e = i;
        while (e < n && b[e] != '\n') e++;
        size_t ln = e - i;
        if (ln && b[i + ln - 1] == '\r') ln--;
        const char *l = b + i;
        if (ln > 2 && l[0] == '-' && l[1] == '-' && memchr(l, ' ', ln) == NULL) {
            in_part_hdr = 1; /* a boundary: part headers follow */
            skip = 0;
            qp = 0;
        } else if (in_part_hdr) {
            if (ln == 0) {
                in_part_hdr = 0;
            } else {
                if (icontains(l, ln, "quoted-printable")) qp = 1;
                if (icontains(l, ln, "base64")) skip = 1;
                if (ieq_prefix(l, ln, "content-type:") && !icontains(l, ln, "text/") &&
                    !icontains(l, ln, "multipart"))
                    skip = 1;
            }
        } else if (!skip && !b64_line(l, ln)) {
            if (qp) qp_line(o, l, ln);
            else {
                sb_putn(o, l, ln);
                sb_putc(o, '\n');
            }
        }
        i = e + 1;
    }
}

static const struct {
    const char *name;
    uint32_t cp;
} ENTITIES[] = {{"nbsp", ' '}, {"amp", '&'},     {"lt", '<'},      {"gt", '>'},     {"quot", '"'},
                {"apos", '\''}, {"copy", 0xA9}, {"reg", 0xAE},    {"euro", 0x20AC}, {"pound", 0xA3},
                {"mdash", 0x2014}, {"ndash", 0x2013}, {"hellip", 0x2026}, {"trade", 0x2122}};

static void put_cp(struct sb *o, uint32_t cp)
{
    uint8_t u[4];
    if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) cp = ' ';
    utf8proc_ssize_t k = utf8proc_encode_char((utf8proc_int32_t)cp, u);
    sb_putn(o, (const char *)u, (size_t)k);
}

/* HTML tags out (script/style with their content), entities decoded. */
static void strip_html(struct sb *o, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        char c = s[i];
        if (c == '<' && i + 1 < n &&
            ((s[i + 1] >= 'a' && s[i + 1] <= 'z') || (s[i + 1] >= 'A' && s[i + 1] <= 'Z') || s[i + 1] == '/' ||
             s[i + 1] == '!')) {
            const char *gt = memchr(s + i, '>', n - i < 4096 ? n - i : 4096);
            if (gt) {
                size_t tl = (size_t)(gt - (s + i));
                int script = ieq_prefix(s + i, tl, "<script"), style = ieq_prefix(s + i, tl, "<style");
                i += tl + 1;
                if (script || style) {
                    const char *end = script ? "</script" : "</style";
                    while (i < n && !ieq_prefix(s + i, n - i, end)) i++;
                }
                sb_putc(o, ' ');
                continue;
            }
        }
        if (c == '&') {
            size_t j = i + 1;
            while (j < n && j - i < 10 && s[j] != ';') j++;
            if (j < n && s[j] == ';' && j > i + 1) {
                const char *nm = s + i + 1;
                size_t nl = j - i - 1;
                uint32_t cp = 0;
                int ok = 0;
                if (nm[0] == '#') {
                    int hex = nl > 1 && (nm[1] == 'x' || nm[1] == 'X');
                    ok = nl > (size_t)(hex ? 2 : 1);
                    for (size_t k = hex ? 2 : 1; k < nl && ok; k++) {
                        int d = hex ? zt_hex_digit(nm[k]) : (nm[k] >= '0' && nm[k] <= '9' ? nm[k] - '0' : -1);
                        if (d < 0 || cp > 0x10FFFF) ok = 0;
                        else cp = cp * (hex ? 16u : 10u) + (uint32_t)d;
                    }
                } else {
                    for (size_t k = 0; k < sizeof ENTITIES / sizeof ENTITIES[0]; k++)
                        if (strlen(ENTITIES[k].name) == nl && memcmp(ENTITIES[k].name, nm, nl) == 0) {
                            cp = ENTITIES[k].cp;
                            ok = 1;
                        }
                }
                if (ok) {
                    put_cp(o, cp);
                    i = j + 1;
                    continue;
                }
            }
        }
        sb_putc(o, c);
        i++;
    }
}

/* Valid UTF-8 out of s: invalid bytes read as Latin-1 (C1 controls dropped),
 * whitespace and control runs collapsed to one space, trimmed. */
static void clean_utf8(struct sb *o, const char *s, size_t n)
{
    size_t i = 0;
    int space = 1;
    while (i < n) {
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)s + i, (utf8proc_ssize_t)(n - i), &cp);
        if (k <= 0) {
            cp = (uint8_t)s[i];
            k = 1;
            if (cp < 0xA0) cp = ' ';
        }
        i += (size_t)k;
        if (cp < 0x20 || cp == 0x7F || cp == ' ' || cp == 0xA0 || (cp >= 0x80 && cp < 0xA0)) {
            if (!space) sb_putc(o, ' ');
            space = 1;
            continue;
        }
        space = 0;
        put_cp(o, (uint32_t)cp);
    }
    while (o->n && o->p[o->n - 1] == ' ') o->p[--o->n] = '\0';
}

int zt_spam_email_text(const char *raw, size_t len, size_t max, char **out, size_t *out_len)
{
    struct sb a = {0}, h = {0}, c = {0};
    int rc = ZT_ENOMEM;
    /* headers end at the first empty line */
    size_t hend = len, bstart = len;
    for (size_t i = 0; i < len; i++) {
        if (raw[i] != '\n') continue;
        if (i + 1 < len && raw[i + 1] == '\n') {
            hend = i, bstart = i + 2;
            break;
        }
        if (i + 2 < len && raw[i + 1] == '\r' && raw[i + 2] == '\n') {
            hend = i, bstart = i + 3;
            break;
        }
    }
    if (hend == len) hend = 0, bstart = 0; /* no header block: all body */
    subject(&a, raw, hend);
    body_text(&a, raw, hend, raw + bstart, len - bstart);
    if (a.oom) goto out;
    strip_html(&h, a.p ? a.p : "", a.n);
    if (h.oom) goto out;
    clean_utf8(&c, h.p ? h.p : "", h.n);
    if (c.oom) goto out;
    if (!c.p) {
        sb_putn(&c, "", 0);
        if (c.oom) goto out;
    }
    size_t n = c.n;
    if (n > max) {
        n = max;
        while (n > 0 && ((uint8_t)c.p[n] & 0xC0) == 0x80) n--;
        c.p[n] = '\0';
    }
    *out = c.p;
    *out_len = n;
    c.p = NULL;
    rc = 0;
out:
    zt_free(a.p);
    zt_free(h.p);
    zt_free(c.p);
    return rc;
}

/* ---- corpus ----------------------------------------------------------------- */

struct msg {
    size_t off;   /* into the feature array */
    uint32_t n;   /* distinct features */
    uint8_t spam, test;
};

struct corpus {
    uint32_t *feat;
    size_t nfeat, capfeat;
    struct msg *msgs;
    size_t nmsg, capmsg;
    uint64_t mask;
    int oom;
};

static void feat_cb(uint64_t h, const char *kind, const char *name, void *ud)
{
    (void)kind, (void)name;
    struct corpus *c = ud;
    if (c->oom) return;
    uint32_t *q = zt_array_grow(c->feat, &c->capfeat, c->nfeat + 1, sizeof *q, 1u << 20);
    if (!q) {
        c->oom = 1;
        return;
    }
    c->feat = q;
    c->feat[c->nfeat++] = (uint32_t)(h & c->mask);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) zt_free(v[i]);
    zt_free(v);
}

/* Sorted entries of dir (no dot files); dirs_only selects directories, else *.json. */
static int list_dir(const char *dir, int dirs_only, char ***out, size_t *n_out)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? ZT_ENOTFOUND : ZT_EIO;
    char **v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char p[4096];
        int k = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (k < 0 || (size_t)k >= sizeof p) continue;
        struct stat st;
        if (stat(p, &st) != 0) continue;
        if (dirs_only ? !S_ISDIR(st.st_mode) : !(S_ISREG(st.st_mode) && zt_str_ends_with(e->d_name, ".json")))
            continue;
        char **q = zt_array_grow(v, &cap, n + 1, sizeof *q, 64);
        if (!q) {
            rc = ZT_ENOMEM;
            goto out;
        }
        v = q;
        if (!(v[n] = zt_strdup(e->d_name))) {
            rc = ZT_ENOMEM;
            goto out;
        }
        n++;
    }
    qsort(v, n, sizeof *v, cmp_str);
out:
    closedir(d);
    if (rc) {
        free_names(v, n);
        return rc;
    }
    *out = v;
    *n_out = n;
    return 0;
}

#define MAX_FILE (8u * 1024u * 1024u)

static int add_file(struct corpus *c, struct zt_sha256_ctx *sha, const char *dir, const char *group,
                    const char *name, FILE *log)
{
    char path[4096];
    int k = snprintf(path, sizeof path, "%s/%s/%s", dir, group, name);
    if (k < 0 || (size_t)k >= sizeof path) return ZT_ETOOBIG;
    char *data = NULL, *text = NULL;
    size_t len = 0, tl = 0;
    json_t *j = NULL;
    int rc = zt_file_read(path, MAX_FILE, &data, &len);
    if (rc) goto out;
    zt_sha256_update(sha, group, strlen(group));
    zt_sha256_update(sha, "/", 1);
    zt_sha256_update(sha, name, strlen(name) + 1);
    zt_sha256_update(sha, data ? data : "", len);
    json_error_t err;
    j = json_loadb(data ? data : "", len, 0, &err);
    const char *g = json_string_value(json_object_get(j, "group"));
    json_t *tj = json_object_get(j, "text");
    if (!g || !json_is_string(tj)) {
        if (log) fprintf(log, "spam: %s: not a corpus message (no group/text)\n", path);
        rc = ZT_EPARSE;
        goto out;
    }
    int spam;
    if (zt_str_starts_with(g, "spam")) spam = 1;
    else if (strstr(g, "ham")) spam = 0;
    else {
        if (log) fprintf(log, "spam: %s: unknown group %s\n", path, g);
        rc = ZT_EPARSE;
        goto out;
    }
    const char *raw = json_string_value(tj);
    size_t rl = json_string_length(tj);
    rc = zt_spam_email_text(raw, rl, ZT_SPAM_MAX_BYTES, &text, &tl);
    if (rc) goto out;
    struct msg *q = zt_array_grow(c->msgs, &c->capmsg, c->nmsg + 1, sizeof *q, 4096);
    if (!q) {
        rc = ZT_ENOMEM;
        goto out;
    }
    c->msgs = q;
    struct msg *m = &c->msgs[c->nmsg];
    m->off = c->nfeat;
    size_t n = 0;
    rc = zt__spam_features(text, tl, feat_cb, c, &n);
    if (rc) goto out;
    if (c->oom) {
        rc = ZT_ENOMEM;
        goto out;
    }
    m->n = (uint32_t)n;
    m->spam = (uint8_t)spam;
    m->test = zt_fnv1a64(raw, rl) % 5 == 0;
    c->nmsg++;
out:
    json_decref(j);
    zt_free(text);
    zt_free(data);
    return rc;
}

/* ---- training -------------------------------------------------------------- */

static uint64_t xs_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static double predict(const struct corpus *c, const struct msg *m, const float *w, double bias)
{
    double s = 0;
    for (uint32_t i = 0; i < m->n; i++) s += w[c->feat[m->off + i]];
    double x = m->n ? 1.0 / sqrt((double)m->n) : 0.0;
    return 1.0 / (1.0 + exp(-(bias + x * s)));
}

int zt_spam_train(const struct zt_spam_train_opts *o, const char *out_path, struct zt_spam_info *info)
{
    struct zt_spam_info in = {0};
    in.buckets_log2 = o->buckets_log2 ? o->buckets_log2 : 20;
    in.epochs = o->epochs ? o->epochs : 6;
    in.learning_rate = o->learning_rate > 0 ? o->learning_rate : 0.2;
    in.l2 = o->l2 < 0 ? 0 : o->l2 > 0 ? o->l2 : 1e-6;
    in.seed = o->seed ? o->seed : 20021;
    in.holdout_mod = 5;
    if (in.buckets_log2 < ZT__SPAM_MIN_LOG2 || in.buckets_log2 > ZT__SPAM_MAX_LOG2 || in.epochs > 100)
        return ZT_EINVAL;
    struct corpus c = {.mask = ((uint64_t)1 << in.buckets_log2) - 1};
    char **groups = NULL, **files = NULL;
    size_t ng = 0, nf = 0;
    float *w = NULL, *g2 = NULL;
    uint32_t *order = NULL;
    uint8_t *payload = NULL;
    struct zt_sha256_ctx sha;
    zt_sha256_init(&sha);
    int rc = list_dir(o->corpus_dir, 1, &groups, &ng);
    if (rc) goto out;
    for (size_t gi = 0; gi < ng; gi++) {
        char gd[4096];
        int k = snprintf(gd, sizeof gd, "%s/%s", o->corpus_dir, groups[gi]);
        if (k < 0 || (size_t)k >= sizeof gd) continue;
        rc = list_dir(gd, 0, &files, &nf);
        if (rc) goto out;
        for (size_t fi = 0; fi < nf; fi++)
            if ((rc = add_file(&c, &sha, o->corpus_dir, groups[gi], files[fi], o->log)) != 0) goto out;
        free_names(files, nf);
        files = NULL, nf = 0;
    }
    if (c.nmsg == 0) {
        if (o->log) fprintf(o->log, "spam: no messages under %s\n", o->corpus_dir);
        rc = ZT_ENOTFOUND;
        goto out;
    }
    zt_sha256_final(&sha, in.data_sha256);
    size_t nb = (size_t)1 << in.buckets_log2, ntr = 0;
    w = zt_calloc(nb, sizeof *w);
    g2 = zt_calloc(nb, sizeof *g2);
    order = zt_calloc(c.nmsg, sizeof *order);
    if (!w || !g2 || !order) {
        rc = ZT_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < c.nmsg; i++) {
        if (c.msgs[i].test) {
            in.n_test++;
            in.n_test_spam += c.msgs[i].spam;
        } else {
            order[ntr++] = (uint32_t)i;
            in.n_train_spam += c.msgs[i].spam;
        }
    }
    in.n_train = (uint32_t)ntr;
    if (o->log)
        fprintf(o->log, "spam: %zu messages (%u train, %u spam; %u held out, %u spam), %zu features stored\n",
                c.nmsg, in.n_train, in.n_train_spam, in.n_test, in.n_test_spam, c.nfeat);
    double bias = 0, gb = 0, lr = in.learning_rate;
    const double eps = 1e-8;
    uint64_t rng = in.seed;
    for (uint32_t ep = 0; ep < in.epochs; ep++) {
        for (size_t i = ntr; i > 1; i--) { /* Fisher-Yates, fixed seed */
            size_t j = (size_t)(xs_next(&rng) % i);
            uint32_t t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        double loss = 0;
        for (size_t oi = 0; oi < ntr; oi++) {
            const struct msg *m = &c.msgs[order[oi]];
            double p = predict(&c, m, w, bias), y = m->spam;
            loss -= m->spam ? log(p + 1e-12) : log(1 - p + 1e-12);
            double gr = p - y, x = m->n ? 1.0 / sqrt((double)m->n) : 0.0;
            for (uint32_t k = 0; k < m->n; k++) {
                uint32_t b = c.feat[m->off + k];
                double gk = gr * x + in.l2 * w[b];
                g2[b] += (float)(gk * gk);
                w[b] -= (float)(lr * gk / (sqrt((double)g2[b]) + eps));
            }
            gb += gr * gr;
            bias -= lr * gr / (sqrt(gb) + eps);
        }
        if (o->log) fprintf(o->log, "spam: epoch %u: train log-loss %.4f\n", ep + 1, loss / (double)(ntr ? ntr : 1));
    }
    size_t tp = 0, fp = 0, fn = 0, tn = 0;
    for (size_t i = 0; i < c.nmsg; i++) {
        const struct msg *m = &c.msgs[i];
        if (!m->test) continue;
        int pred = predict(&c, m, w, bias) >= 0.5;
        if (pred && m->spam) tp++;
        else if (pred) fp++;
        else if (m->spam) fn++;
        else tn++;
    }
    in.precision = tp + fp ? (double)tp / (double)(tp + fp) : 0;
    in.recall = tp + fn ? (double)tp / (double)(tp + fn) : 0;
    in.f1 = in.precision + in.recall > 0 ? 2 * in.precision * in.recall / (in.precision + in.recall) : 0;
    in.accuracy = in.n_test ? (double)(tp + tn) / (double)in.n_test : 0;
    if (o->log)
        fprintf(o->log,
                "spam: held out (%u messages, threshold 0.5): precision %.4f recall %.4f F1 %.4f accuracy %.4f"
                " (tp %zu fp %zu fn %zu tn %zu)\n",
                in.n_test, in.precision, in.recall, in.f1, in.accuracy, tp, fp, fn, tn);
    if (o->log) { /* the same split at the default threshold of features.spam (0.8) */
        size_t tp8 = 0, fp8 = 0, fn8 = 0;
        for (size_t i = 0; i < c.nmsg; i++) {
            const struct msg *m = &c.msgs[i];
            if (!m->test) continue;
            int pred = predict(&c, m, w, bias) >= 0.8;
            tp8 += pred && m->spam, fp8 += pred && !m->spam, fn8 += !pred && m->spam;
        }
        double p8 = tp8 + fp8 ? (double)tp8 / (double)(tp8 + fp8) : 0, r8 = tp8 + fn8 ? (double)tp8 / (double)(tp8 + fn8) : 0;
        fprintf(o->log, "spam: held out at threshold 0.8: precision %.4f recall %.4f F1 %.4f\n", p8, r8,
                p8 + r8 > 0 ? 2 * p8 * r8 / (p8 + r8) : 0);
    }
    size_t plen = ZT__SPAM_PAYLOAD_HEADER + 4 * nb;
    payload = zt_calloc(1, plen);
    if (!payload) {
        rc = ZT_ENOMEM;
        goto out;
    }
    zt_put_le32(payload + 0, in.buckets_log2);
    zt_put_le32(payload + 4, in.epochs);
    zt_put_le_f64(payload + 8, in.learning_rate);
    zt_put_le_f64(payload + 16, in.l2);
    zt_put_le64(payload + 24, in.seed);
    zt_put_le32(payload + 32, in.holdout_mod);
    zt_put_le32(payload + 36, in.n_train);
    zt_put_le32(payload + 40, in.n_test);
    zt_put_le32(payload + 44, in.n_train_spam);
    zt_put_le32(payload + 48, in.n_test_spam);
    zt_put_le_f64(payload + 56, in.precision);
    zt_put_le_f64(payload + 64, in.recall);
    zt_put_le_f64(payload + 72, in.f1);
    zt_put_le_f64(payload + 80, in.accuracy);
    zt_put_le_f64(payload + 88, bias);
    for (size_t i = 0; i < nb; i++) {
        uint32_t v;
        memcpy(&v, &w[i], sizeof v);
        zt_put_le32(payload + ZT__SPAM_PAYLOAD_HEADER + 4 * i, v);
    }
    rc = zt_asset_write(out_path, ZT_SPAM_ASSET_KIND, ZT_SPAM_ASSET_VERSION, in.data_sha256, payload, plen);
    if (rc) goto out;
    if (info) *info = in;
out:
    free_names(groups, ng);
    free_names(files, nf);
    zt_free(c.feat);
    zt_free(c.msgs);
    zt_free(w);
    zt_free(g2);
    zt_free(order);
    zt_free(payload);
    return rc;
}
