/* langid.c: language identification on libexttextcat (zt_langid.h).
 *
 * libexttextcat's textcat_Classify() answers "UNKNOWN" whenever more than
 * five languages are within 3 % of the best, which is most short messages
 * against its 160 fingerprints, and gives no scores. So this module uses
 * the library's fingerprint layer directly (fp_Read, fp_Create,
 * fp_Compare): every configured language gets a distance, and the
 * confidence comes from the gap between the best two. */
#include <fingerprint.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <textcat.h>
#include <unistd.h>
#include <utf8proc.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_langid.h"

#define MAX_NGRAMS 400   /* as textcat (MAXNGRAMS) */
#define READ_BYTES 1024  /* of the message; n-gram ranks settle long before */
#define GAP_HALF 0.006   /* relative gap at which confidence is 0.5 */
#define FULL_LETTERS 15  /* fewer letters scale the confidence down */

struct known {
    struct zt_langid_lang lang;
    const char *lm[2]; /* fingerprint files (zh: simplified and traditional) */
};

static const struct known known[] = {
    {{"af", "afr", "Afrikaans"}, {"af.lm", NULL}},
    {{"ar", "ara", "Arabic"}, {"ar.lm", NULL}},
    {{"az", "aze", "Azerbaijani"}, {"az.lm", "az-Cyrl.lm"}},
    {{"be", "bel", "Belarusian"}, {"be.lm", NULL}},
    {{"bg", "bul", "Bulgarian"}, {"bg.lm", NULL}},
    {{"bn", "ben", "Bengali"}, {"bn.lm", NULL}},
    {{"br", "bre", "Breton"}, {"br.lm", NULL}},
    {{"bs", "bos", "Bosnian"}, {"bs.lm", NULL}},
    {{"ca", "cat", "Catalan"}, {"ca.lm", NULL}},
    {{"cs", "ces", "Czech"}, {"cs.lm", NULL}},
    {{"cy", "cym", "Welsh"}, {"cy.lm", NULL}},
    {{"da", "dan", "Danish"}, {"da.lm", NULL}},
    {{"de", "deu", "German"}, {"de.lm", NULL}},
    {{"el", "ell", "Greek"}, {"el.lm", NULL}},
    {{"en", "eng", "English"}, {"en.lm", NULL}},
    {{"eo", "epo", "Esperanto"}, {"eo.lm", NULL}},
    {{"es", "spa", "Spanish"}, {"es.lm", NULL}},
    {{"et", "est", "Estonian"}, {"et.lm", NULL}},
    {{"eu", "eus", "Basque"}, {"eu.lm", NULL}},
    {{"fa", "fas", "Persian"}, {"fa.lm", NULL}},
    {{"fi", "fin", "Finnish"}, {"fi.lm", NULL}},
    {{"fr", "fra", "French"}, {"fr.lm", NULL}},
    {{"fy", "fry", "Western Frisian"}, {"fy.lm", NULL}},
    {{"ga", "gle", "Irish"}, {"ga.lm", NULL}},
    {{"gl", "glg", "Galician"}, {"gl.lm", NULL}},
    {{"he", "heb", "Hebrew"}, {"he.lm", NULL}},
    {{"hi", "hin", "Hindi"}, {"hi.lm", NULL}},
    {{"hr", "hrv", "Croatian"}, {"hr.lm", NULL}},
    {{"hu", "hun", "Hungarian"}, {"hu.lm", NULL}},
    {{"hy", "hye", "Armenian"}, {"hy.lm", NULL}},
    {{"id", "ind", "Indonesian"}, {"id.lm", NULL}},
    {{"is", "isl", "Icelandic"}, {"is.lm", NULL}},
    {{"it", "ita", "Italian"}, {"it.lm", NULL}},
    {{"ja", "jpn", "Japanese"}, {"ja.lm", NULL}},
    {{"ka", "kat", "Georgian"}, {"ka.lm", NULL}},
    {{"kk", "kaz", "Kazakh"}, {"kk.lm", NULL}},
    {{"ko", "kor", "Korean"}, {"ko.lm", NULL}},
    {{"la", "lat", "Latin"}, {"la.lm", NULL}},
    {{"lb", "ltz", "Luxembourgish"}, {"lb.lm", NULL}},
    {{"lt", "lit", "Lithuanian"}, {"lt.lm", NULL}},
    {{"lv", "lav", "Latvian"}, {"lv.lm", NULL}},
    {{"mk", "mkd", "Macedonian"}, {"mk.lm", NULL}},
    {{"ms", "msa", "Malay"}, {"ms.lm", NULL}},
    {{"mt", "mlt", "Maltese"}, {"mt.lm", NULL}},
    {{"nb", "nob", "Norwegian Bokmal"}, {"nb.lm", NULL}},
    {{"nl", "nld", "Dutch"}, {"nl.lm", NULL}},
    {{"nn", "nno", "Norwegian Nynorsk"}, {"nn.lm", NULL}},
    {{"oc", "oci", "Occitan"}, {"oc.lm", NULL}},
    {{"pl", "pol", "Polish"}, {"pl.lm", NULL}},
    {{"pt", "por", "Portuguese"}, {"pt.lm", NULL}},
    {{"ro", "ron", "Romanian"}, {"ro.lm", NULL}},
    {{"ru", "rus", "Russian"}, {"ru.lm", NULL}},
    {{"sk", "slk", "Slovak"}, {"sk.lm", NULL}},
    {{"sl", "slv", "Slovenian"}, {"sl.lm", NULL}},
    {{"sq", "sqi", "Albanian"}, {"sq.lm", NULL}},
    {{"sr", "srp", "Serbian"}, {"sr-Cyrl.lm", "sr-Latn.lm"}},
    {{"sv", "swe", "Swedish"}, {"sv.lm", NULL}},
    {{"sw", "swa", "Swahili"}, {"sw.lm", NULL}},
    {{"ta", "tam", "Tamil"}, {"ta.lm", NULL}},
    {{"th", "tha", "Thai"}, {"th.lm", NULL}},
    {{"tl", "tgl", "Tagalog"}, {"tl.lm", NULL}},
    {{"tr", "tur", "Turkish"}, {"tr.lm", NULL}},
    {{"uk", "ukr", "Ukrainian"}, {"uk.lm", NULL}},
    {{"ur", "urd", "Urdu"}, {"ur.lm", NULL}},
    {{"uz", "uzb", "Uzbek"}, {"uz.lm", "uz-Cyrl.lm"}},
    {{"vi", "vie", "Vietnamese"}, {"vi.lm", NULL}},
    {{"zh", "zho", "Chinese"}, {"zh-Hans.lm", "zh-Hant.lm"}},
};
#define N_KNOWN (sizeof known / sizeof known[0])

struct cand {
    const struct zt_langid_lang *lang;
    void *fp[2];
};

struct zt_langid {
    struct cand *c;
    size_t n;
    pthread_mutex_t mu;
};

const struct zt_langid_lang *zt_langid_known(size_t i)
{
    return i < N_KNOWN ? &known[i].lang : NULL;
}

void zt_langid_free(struct zt_langid *l)
{
    if (!l) return;
    for (size_t i = 0; i < l->n; i++)
        for (int k = 0; k < 2; k++)
            if (l->c[i].fp[k]) fp_Done(l->c[i].fp[k]);
    zt_free(l->c);
    pthread_mutex_destroy(&l->mu);
    zt_free(l);
}

int zt_langid_new(const char *dir, const char *const *languages, size_t n, struct zt_langid **out,
                  const char **bad)
{
    struct zt_langid *l = NULL;
    int rc = ZT_EINVAL;
    if (n == 0 || !dir) goto out;
    rc = ZT_ENOMEM;
    l = zt_calloc(1, sizeof *l);
    if (!l) goto out;
    pthread_mutex_init(&l->mu, NULL);
    l->c = zt_calloc(n, sizeof *l->c);
    if (!l->c) goto out;
    for (size_t i = 0; i < n; i++) {
        const struct known *k = NULL;
        for (size_t j = 0; j < N_KNOWN && !k; j++)
            if (strcmp(known[j].lang.code, languages[i]) == 0) k = &known[j];
        if (!k) {
            if (bad) *bad = languages[i];
            rc = ZT_EINVAL;
            goto out;
        }
        struct cand *c = &l->c[l->n++];
        c->lang = &k->lang;
        for (int f = 0; f < 2 && k->lm[f]; f++) {
            char path[4096];
            int w = snprintf(path, sizeof path, "%s/%s", dir, k->lm[f]);
            rc = ZT_ETOOBIG;
            if (w < 0 || (size_t)w >= sizeof path) goto out;
            rc = ZT_ENOTFOUND;
            if (access(path, R_OK) != 0) {
                if (bad) *bad = languages[i];
                goto out;
            }
            rc = ZT_ENOMEM;
            c->fp[f] = fp_Init(k->lang.code);
            if (!c->fp[f]) goto out;
            fp_SetProperty(c->fp[f], TCPROP_UTF8AWARE, TC_TRUE);
            rc = ZT_EPARSE;
            if (fp_Read(c->fp[f], path, MAX_NGRAMS) == 0) {
                if (bad) *bad = languages[i];
                goto out;
            }
        }
    }
    *out = l;
    l = NULL;
    rc = 0;
out:
    zt_langid_free(l);
    return rc;
}

/* letters in valid UTF-8 (ZT_EPARSE otherwise) */
static long count_letters(const char *t, size_t len)
{
    long n = 0;
    for (size_t i = 0; i < len;) {
        int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate((const utf8proc_uint8_t *)t + i, (utf8proc_ssize_t)(len - i), &cp);
        if (k <= 0) return ZT_EPARSE;
        utf8proc_category_t cat = utf8proc_category(cp);
        if (cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO) n++;
        i += (size_t)k;
    }
    return n;
}

int zt_langid_detect(struct zt_langid *l, const char *text, size_t len, double threshold,
                     struct zt_langid_result *out)
{
    if (len > ZT_LANGID_MAX_TEXT) return ZT_ETOOBIG;
    long letters = count_letters(text, len);
    if (letters < 0) return (int)letters;
    struct zt_langid_result r;
    memset(&r, 0, sizeof r);
    r.code = r.code3 = "und";
    r.lang = l->c[0].lang;
    if (letters < ZT_LANGID_MIN_LETTERS) {
        *out = r;
        return 0;
    }
    size_t use = len;
    if (use > READ_BYTES) {
        use = READ_BYTES;
        while (use > 0 && ((unsigned char)text[use] & 0xC0) == 0x80) use--; /* whole characters */
    }
    int best[ZT_LANGID_ALTS + 1];
    size_t idx[ZT_LANGID_ALTS + 1];
    size_t nb = 0;
    pthread_mutex_lock(&l->mu);
    void *u = fp_Init("message");
    if (!u) {
        pthread_mutex_unlock(&l->mu);
        return ZT_ENOMEM;
    }
    fp_SetProperty(u, TCPROP_UTF8AWARE, TC_TRUE);
    fp_SetProperty(u, TCPROP_MINIMUM_DOCUMENT_SIZE, 1);
    /* libexttextcat reads the buffer as a C string: control characters
     * (NUL included) become spaces in a bounded copy */
    char buf[READ_BYTES + 1];
    for (size_t i = 0; i < use; i++) buf[i] = (unsigned char)text[i] < 0x20 ? ' ' : text[i];
    buf[use] = '\0';
    bool made = fp_Create(u, buf, (unsigned)use, MAX_NGRAMS) != 0;
    for (size_t i = 0; made && i < l->n; i++) {
        int d = INT_MAX;
        for (int f = 0; f < 2 && l->c[i].fp[f]; f++) {
            int df = fp_Compare(l->c[i].fp[f], u, INT_MAX);
            if (df < d) d = df;
        }
        /* insertion into the sorted top list */
        size_t pos = nb;
        while (pos > 0 && best[pos - 1] > d) pos--;
        if (pos <= ZT_LANGID_ALTS) {
            size_t last = nb < ZT_LANGID_ALTS + 1 ? nb : ZT_LANGID_ALTS;
            for (size_t j = last; j > pos; j--) best[j] = best[j - 1], idx[j] = idx[j - 1];
            best[pos] = d, idx[pos] = i;
            if (nb < ZT_LANGID_ALTS + 1) nb++;
        }
    }
    fp_Done(u);
    pthread_mutex_unlock(&l->mu);
    if (!made || nb == 0 || best[0] <= 0) { /* no n-grams: nothing to tell languages apart */
        if (made && nb > 0) r.lang = l->c[idx[0]].lang;
        *out = r;
        return 0;
    }
    r.lang = l->c[idx[0]].lang;
    double d1 = (double)best[0];
    if (nb == 1) {
        r.confidence = 1.0;
    } else {
        double g = ((double)best[1] - (double)best[0]) / d1;
        r.confidence = g / (g + GAP_HALF);
    }
    if (letters < FULL_LETTERS) r.confidence *= (double)letters / FULL_LETTERS;
    for (size_t j = 1; j < nb; j++) {
        r.alts[r.n_alts].lang = l->c[idx[j]].lang;
        r.alts[r.n_alts].distance_ratio = (double)best[j] / d1;
        r.n_alts++;
    }
    if (r.confidence > 0 && r.confidence >= threshold) {
        r.code = r.lang->code;
        r.code3 = r.lang->code3;
    }
    *out = r;
    return 0;
}
