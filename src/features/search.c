/* search.c: private hybrid search over a user's messages (zt_search.h). */
#include <libstemmer.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_search.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_text.h"
#include "zentalk/zt_time.h"

#define KEY_LEN 32
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define WRAPPED_LEN (NONCE_LEN + KEY_LEN + TAG_LEN)
#define TERM_HASH_LEN 8          /* 64-bit blind-index hashes */
#define TERM_TOKEN_LEN (1 + 2 * TERM_HASH_LEN)
#define WORD_MAX 128
#define MAX_QUERY_TERMS 64
#define DIM_MAX ZT_EMBED_MAX_DIM

/* Node-level keys (sodium_malloc'd). */
struct node_keys {
    uint8_t wrap[KEY_LEN]; /* wraps per-user keys */
    uint8_t uref[KEY_LEN]; /* user_ref = BLAKE2b(uref, user) */
};

/* Per-user keys, derived from K_user (sodium_malloc'd). */
struct user_keys {
    uint8_t term[KEY_LEN];
    uint8_t id[KEY_LEN];
    uint8_t enc[KEY_LEN];
};

struct zt_search {
    pthread_mutex_t mu;
    struct zt_store *store;
    const struct zt_embed *embed;
    const struct zt_stopwords *stop;
    struct node_keys *nk;
    struct user_keys *uk; /* scratch for the operation holding mu */
    struct sb_stemmer *stemmer;
    size_t dim;
    double w_bm25, w_vec, min_sim;
    size_t rrf_k, candidates, scan_limit;
    uint64_t max_msgs, max_bytes; /* per user; 0 = no limit */
};

int zt_search_new(const struct zt_search_opts *o, struct zt_search **out)
{
    if (!o || !o->store || !o->embed || !o->node_secret) return ZT_EINVAL;
    if (sodium_init() < 0) return ZT_ECRYPTO;
    struct zt_search *s = zt_calloc(1, sizeof *s);
    if (!s) return ZT_ENOMEM;
    pthread_mutex_init(&s->mu, NULL); /* first: zt_search_free undoes any step below */
    int rc = ZT_ENOMEM;
    s->nk = sodium_malloc(sizeof *s->nk);
    s->uk = sodium_malloc(sizeof *s->uk);
    if (!s->nk || !s->uk) goto out;
    if (crypto_kdf_derive_from_key(s->nk->wrap, KEY_LEN, 1, "ztsrchwr", o->node_secret) ||
        crypto_kdf_derive_from_key(s->nk->uref, KEY_LEN, 2, "ztsrchur", o->node_secret)) {
        rc = ZT_ECRYPTO;
        goto out;
    }
    s->stemmer = sb_stemmer_new("english", NULL);
    if (!s->stemmer) {
        rc = ZT_EUNSUPPORTED;
        goto out;
    }
    s->store = o->store;
    s->embed = o->embed;
    s->stop = o->stop;
    s->dim = zt_embed_dim(o->embed);
    s->w_bm25 = o->bm25_weight;
    s->w_vec = o->vector_weight;
    s->rrf_k = o->rrf_k > 0 ? (size_t)o->rrf_k : 60;
    s->candidates = o->candidates > 0 ? (size_t)o->candidates : 100;
    s->scan_limit = o->scan_limit > 0 ? (size_t)o->scan_limit : 0;
    s->min_sim = o->min_similarity;
    s->max_msgs = o->max_messages_per_user > 0 ? (uint64_t)o->max_messages_per_user : 0;
    s->max_bytes = o->max_bytes_per_user > 0 ? (uint64_t)o->max_bytes_per_user : 0;
    rc = 0;
out:
    return ZT_HAND_OUT(rc, s, zt_search_free, out);
}

void zt_search_free(struct zt_search *s)
{
    if (!s) return;
    sb_stemmer_delete(s->stemmer);
    sodium_free(s->nk);
    sodium_free(s->uk);
    pthread_mutex_destroy(&s->mu);
    zt_free(s);
}

/* ---- keys --------------------------------------------------------------- */

static int check_user(const char *user)
{
    if (!user) return ZT_EINVAL;
    size_t n = strlen(user);
    if (n == 0 || n > ZT_SEARCH_USER_MAX) return ZT_EINVAL;
    return zt_utf8_valid(user, n) ? 0 : ZT_EPARSE;
}

static void user_ref(const struct zt_search *s, const char *user, uint8_t ref[ZT_STORE_REF_LEN])
{
    crypto_generichash(ref, ZT_STORE_REF_LEN, (const unsigned char *)user, strlen(user), s->nk->uref,
                       KEY_LEN);
}

/* check_user, then take s->mu and compute user's ref: on 0 the caller
 * holds the lock. */
static int lock_user(struct zt_search *s, const char *user, uint8_t ref[ZT_STORE_REF_LEN])
{
    int rc = check_user(user);
    if (rc) return rc;
    pthread_mutex_lock(&s->mu);
    user_ref(s, user, ref);
    return 0;
}

static void wrap_ad(const uint8_t ref[ZT_STORE_REF_LEN], uint8_t ad[16 + ZT_STORE_REF_LEN])
{
    memcpy(ad, "zt-search-key-v1", 16);
    memcpy(ad + 16, ref, ZT_STORE_REF_LEN);
}

/* Load (or with create, make) the user's key into s->uk. ZT_ENOTFOUND: no
 * key and !create. Caller holds mu. */
static int load_user_key(struct zt_search *s, const uint8_t ref[ZT_STORE_REF_LEN], bool create)
{
    uint8_t wrapped[WRAPPED_LEN + 8], ad[16 + ZT_STORE_REF_LEN];
    size_t wl = 0;
    uint8_t *k = sodium_malloc(KEY_LEN);
    if (!k) return ZT_ENOMEM;
    wrap_ad(ref, ad);
    int rc = zt_store_key_get(s->store, ref, wrapped, sizeof wrapped, &wl);
    if (rc == ZT_ENOTFOUND && create) {
        randombytes_buf(k, KEY_LEN);
        randombytes_buf(wrapped, NONCE_LEN);
        crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped + NONCE_LEN, NULL, k, KEY_LEN, ad, sizeof ad,
                                                   NULL, wrapped, s->nk->wrap);
        rc = zt_store_key_put(s->store, ref, wrapped, WRAPPED_LEN);
    } else if (rc == 0) {
        unsigned long long kl;
        if (wl != WRAPPED_LEN ||
            crypto_aead_xchacha20poly1305_ietf_decrypt(k, &kl, NULL, wrapped + NONCE_LEN,
                                                       WRAPPED_LEN - NONCE_LEN, ad, sizeof ad, wrapped,
                                                       s->nk->wrap) != 0 ||
            kl != KEY_LEN)
            rc = ZT_ECRYPTO;
    }
    if (rc == 0 && (crypto_kdf_derive_from_key(s->uk->term, KEY_LEN, 1, "ztsterm_", k) ||
                    crypto_kdf_derive_from_key(s->uk->id, KEY_LEN, 2, "ztsid___", k) ||
                    crypto_kdf_derive_from_key(s->uk->enc, KEY_LEN, 3, "ztsenc__", k)))
        rc = ZT_ECRYPTO;
    sodium_free(k);
    return rc;
}

static void forget_user_key(struct zt_search *s) { sodium_memzero(s->uk, sizeof *s->uk); }

static void id_ref(const struct zt_search *s, const char *id, size_t len, uint8_t ref[ZT_STORE_REF_LEN])
{
    crypto_generichash(ref, ZT_STORE_REF_LEN, (const unsigned char *)id, len, s->uk->id, KEY_LEN);
}

/* AD of a sealed payload ('p') or vector ('v'): tag || user_ref || id_ref */
static void seal_ad(char tag, const uint8_t *uref, const uint8_t *iref, uint8_t ad[1 + 2 * ZT_STORE_REF_LEN])
{
    ad[0] = (uint8_t)tag;
    memcpy(ad + 1, uref, ZT_STORE_REF_LEN);
    memcpy(ad + 1 + ZT_STORE_REF_LEN, iref, ZT_STORE_REF_LEN);
}

/* nonce || ciphertext of pt into *out (zt_malloc'd, *out_len bytes). */
static int seal(const struct zt_search *s, char tag, const uint8_t *uref, const uint8_t *iref,
                const uint8_t *pt, size_t len, uint8_t **out, size_t *out_len)
{
    uint8_t ad[1 + 2 * ZT_STORE_REF_LEN];
    seal_ad(tag, uref, iref, ad);
    size_t n = NONCE_LEN + len + TAG_LEN;
    uint8_t *c = zt_malloc(n);
    if (!c) return ZT_ENOMEM;
    randombytes_buf(c, NONCE_LEN);
    crypto_aead_xchacha20poly1305_ietf_encrypt(c + NONCE_LEN, NULL, pt, len, ad, sizeof ad, NULL, c,
                                               s->uk->enc);
    *out = c;
    *out_len = n;
    return 0;
}

/* Open a sealed blob into pt (cap bytes at least len - NONCE - TAG). */
static int open_sealed(const struct zt_search *s, char tag, const uint8_t *uref, const uint8_t *iref,
                       const uint8_t *c, size_t len, uint8_t *pt, size_t cap, size_t *pt_len)
{
    if (len < NONCE_LEN + TAG_LEN || len - NONCE_LEN - TAG_LEN > cap) return ZT_ECRYPTO;
    uint8_t ad[1 + 2 * ZT_STORE_REF_LEN];
    seal_ad(tag, uref, iref, ad);
    unsigned long long n;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(pt, &n, NULL, c + NONCE_LEN, len - NONCE_LEN, ad,
                                                   sizeof ad, c, s->uk->enc) != 0)
        return ZT_ECRYPTO;
    *pt_len = (size_t)n;
    return 0;
}

/* ---- terms ------------------------------------------------------------- */

static int tokenize(const char *text, size_t len, struct zt_token **toks, size_t *n)
{
    struct zt_token one;
    size_t total = 0;
    int rc = zt_text_tokenize(text, len, &one, 1, &total);
    if (rc) return rc;
    *toks = NULL;
    *n = 0;
    if (total == 0) return 0;
    struct zt_token *t = zt_calloc(total, sizeof *t);
    if (!t) return ZT_ENOMEM;
    rc = zt_text_tokenize(text, len, t, total, n);
    return ZT_HAND_OUT(rc, t, zt_free, toks);
}

static int cmp_tok(const void *a, const void *b)
{
    return memcmp(a, b, TERM_TOKEN_LEN);
}

/* Blind-index tokens of text (sorted; duplicates kept for term frequency)
 * into *out as an array of TERM_TOKEN_LEN-byte tokens. Caller holds mu and
 * has loaded the user's keys. */
static int hashed_terms(struct zt_search *s, const char *text, size_t len, char **out, size_t *n_out)
{
    struct zt_token *toks = NULL;
    size_t n = 0, k = 0;
    int rc = tokenize(text, len, &toks, &n);
    if (rc) return rc;
    char *terms = n ? zt_calloc(n, TERM_TOKEN_LEN) : NULL;
    if (n && !terms) {
        zt_free(toks);
        return ZT_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        if (toks[i].kind != ZT_TOK_WORD && toks[i].kind != ZT_TOK_NUMBER) continue;
        char w[WORD_MAX + 1];
        long wl = zt_text_token_fold(text, &toks[i], w, sizeof w);
        if (wl <= 0) continue; /* over-long words are not indexed */
        if (zt_stopwords_has(s->stop, w, (size_t)wl)) continue;
        const sb_symbol *st = sb_stemmer_stem(s->stemmer, (const sb_symbol *)w, (int)wl);
        const uint8_t *stem = st ? st : (const uint8_t *)w;
        size_t sl = st ? (size_t)sb_stemmer_length(s->stemmer) : (size_t)wl;
        uint8_t h[TERM_HASH_LEN];
        crypto_generichash(h, sizeof h, stem, sl, s->uk->term, KEY_LEN);
        char *t = terms + k * TERM_TOKEN_LEN;
        char hx[2 * TERM_HASH_LEN + 1]; /* a token has no room for the NUL */
        zt_hex_encode(hx, h, TERM_HASH_LEN);
        t[0] = 't';
        memcpy(t + 1, hx, 2 * TERM_HASH_LEN);
        k++;
        sodium_memzero(w, sizeof w);
    }
    zt_free(toks);
    if (k) qsort(terms, k, TERM_TOKEN_LEN, cmp_tok);
    *out = terms;
    *n_out = k;
    return 0;
}

/* tokens joined by sep into a NUL-terminated string */
static char *join_terms(const char *terms, size_t n, const char *sep, bool unique)
{
    size_t sl = strlen(sep);
    char *s = zt_malloc(n * (TERM_TOKEN_LEN + sl) + 1);
    if (!s) return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        const char *t = terms + i * TERM_TOKEN_LEN;
        if (unique && i > 0 && memcmp(t, t - TERM_TOKEN_LEN, TERM_TOKEN_LEN) == 0) continue;
        if (o) {
            memcpy(s + o, sep, sl);
            o += sl;
        }
        memcpy(s + o, t, TERM_TOKEN_LEN);
        o += TERM_TOKEN_LEN;
    }
    s[o] = '\0';
    return s;
}

int zt_search_terms(struct zt_search *s, const char *user, const char *text, size_t len, char **out)
{
    uint8_t ref[ZT_STORE_REF_LEN];
    int rc = lock_user(s, user, ref);
    if (rc) return rc;
    rc = load_user_key(s, ref, false);
    char *terms = NULL;
    size_t n = 0;
    if (!rc) rc = hashed_terms(s, text, len, &terms, &n);
    forget_user_key(s);
    pthread_mutex_unlock(&s->mu);
    if (rc) return rc;
    char *j = join_terms(terms, n, " ", false);
    zt_free(terms);
    if (!j) return ZT_ENOMEM;
    *out = j;
    return 0;
}

/* ---- vectors ------------------------------------------------------------ */

/* SIF embedding of text quantised to int8 (unit vector * 127). */
static int embed_q(const struct zt_search *s, const char *text, size_t len, int8_t *q, size_t *found)
{
    float v[DIM_MAX];
    int rc = zt_embed_text(s->embed, text, len, v, found);
    if (rc) return rc;
    for (size_t i = 0; i < s->dim; i++) q[i] = (int8_t)lrintf(v[i] * 127.0f);
    return 0;
}

static double cosine_q(const int8_t *a, const int8_t *b, size_t n)
{
    long dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < n; i++) {
        dot += (long)a[i] * b[i];
        na += (long)a[i] * a[i];
        nb += (long)b[i] * b[i];
    }
    if (na == 0 || nb == 0) return 0;
    return (double)dot / sqrt((double)na * (double)nb);
}

/* ---- index ------------------------------------------------------------- */

static int check_msg(const struct zt_search_msg *m)
{
    if (!m->id || m->id_len == 0 || m->id_len > ZT_SEARCH_ID_MAX) return ZT_EINVAL;
    if (!m->text || m->text_len == 0 || m->text_len > ZT_SEARCH_TEXT_MAX) return ZT_EINVAL;
    if (!zt_utf8_valid(m->id, m->id_len) || !zt_utf8_valid(m->text, m->text_len)) return ZT_EPARSE;
    return 0;
}

static int index_one(struct zt_search *s, const uint8_t *uref, const struct zt_search_msg *m, int64_t ts)
{
    uint8_t iref[ZT_STORE_REF_LEN];
    id_ref(s, m->id, m->id_len, iref);
    char *terms = NULL, *joined = NULL;
    uint8_t *pt = NULL, *cp = NULL, *cv = NULL;
    size_t nt = 0, cpl = 0, cvl = 0, found = 0;
    int8_t q[DIM_MAX];
    int rc = hashed_terms(s, m->text, m->text_len, &terms, &nt);
    if (rc) goto out;
    rc = ZT_ENOMEM;
    joined = join_terms(terms, nt, " ", false);
    if (!joined) goto out;
    rc = embed_q(s, m->text, m->text_len, q, &found);
    if (rc) goto out;
    /* payload plaintext: u16 id length (LE) || id || text */
    size_t pl = 2 + m->id_len + m->text_len;
    rc = ZT_ENOMEM;
    pt = zt_malloc(pl);
    if (!pt) goto out;
    pt[0] = (uint8_t)(m->id_len & 0xff);
    pt[1] = (uint8_t)(m->id_len >> 8);
    memcpy(pt + 2, m->id, m->id_len);
    memcpy(pt + 2 + m->id_len, m->text, m->text_len);
    rc = seal(s, 'p', uref, iref, pt, pl, &cp, &cpl);
    sodium_memzero(pt, pl);
    if (rc) goto out;
    rc = seal(s, 'v', uref, iref, (const uint8_t *)q, s->dim, &cv, &cvl);
    if (rc) goto out;
    rc = zt_store_doc_put(s->store, uref, iref, cp, cpl, cv, cvl, joined, ts);
out:
    zt_free(terms);
    zt_free(joined);
    zt_free(pt);
    zt_free(cp);
    zt_free(cv);
    return rc;
}

/* Whether user_ref may store n more messages of about add bytes (s->mu
 * held, in the index transaction): 0, ZT_EPERM over a quota, or the
 * store's error. A backend that cannot report bytes is held to the message
 * count only. */
static int check_quota(struct zt_search *s, const uint8_t *uref, size_t n, uint64_t add)
{
    if (!s->max_msgs && !s->max_bytes) return 0;
    size_t docs = 0;
    uint64_t bytes = 0;
    int rc = zt_store_usage(s->store, uref, &docs, &bytes);
    if (rc == ZT_EUNSUPPORTED) {
        rc = zt_store_count(s->store, uref, &docs);
        bytes = 0;
    }
    if (rc) return rc;
    if (s->max_msgs && (uint64_t)docs + n > s->max_msgs) return ZT_EPERM;
    if (s->max_bytes && bytes + add > s->max_bytes) return ZT_EPERM;
    return 0;
}

/* After deletes: space back to the file system; a failure is logged only
 * (the delete itself stands). */
static void compact(struct zt_search *s)
{
    int rc = zt_store_compact(s->store);
    if (rc) zt_log_rl(ZT_LOG_WARN, 60, "search_compact_failed", "error=\"%s\"", zt_strerror(rc));
}

int zt_search_index(struct zt_search *s, const char *user, const struct zt_search_msg *msgs, size_t n)
{
    int rc = check_user(user);
    if (rc) return rc;
    if (!msgs || n == 0 || n > ZT_SEARCH_BATCH_MAX) return ZT_EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((rc = check_msg(&msgs[i])) != 0) return rc;
    uint8_t uref[ZT_STORE_REF_LEN];
    int64_t ts = zt_time_real_ms();
    pthread_mutex_lock(&s->mu);
    user_ref(s, user, uref);
    rc = zt_store_begin(s->store);
    if (rc) goto unlock;
    uint64_t add = 0; /* what the batch will store, about: ciphertext + vector + terms */
    for (size_t i = 0; i < n; i++) add += 2 + msgs[i].id_len + msgs[i].text_len + 2 * (NONCE_LEN + TAG_LEN) + s->dim;
    rc = check_quota(s, uref, n, add);
    if (!rc) rc = load_user_key(s, uref, true);
    for (size_t i = 0; !rc && i < n; i++) rc = index_one(s, uref, &msgs[i], ts);
    if (!rc)
        rc = zt_store_commit(s->store);
    else
        zt_ignore(zt_store_rollback(s->store));
unlock:
    forget_user_key(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- query ------------------------------------------------------------- */

struct cand {
    int64_t rowid;
    double bm25, sim;
    size_t rank_b, rank_v; /* 1-based; 0 = not in that list */
    double score;
};

struct cands {
    struct cand *v;
    size_t n, cap;
};

static struct cand *cand_find(struct cands *c, int64_t rowid)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i].rowid == rowid) return &c->v[i];
    return NULL;
}

static struct cand *cand_add(struct cands *c, int64_t rowid)
{
    struct cand *x = cand_find(c, rowid);
    if (x) return x;
    if (c->n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 64;
        struct cand *v = zt_reallocarray(c->v, nc, sizeof *v);
        if (!v) return NULL;
        c->v = v;
        c->cap = nc;
    }
    x = &c->v[c->n++];
    memset(x, 0, sizeof *x);
    x->rowid = rowid;
    x->sim = -2; /* not computed */
    return x;
}

struct qctx {
    struct zt_search *s;
    const uint8_t *uref;
    struct cands *c;
    const int8_t *qv;
    bool have_qv;
    /* scan: top `candidates` by similarity, kept as a small sorted array */
    struct cand *top;
    size_t n_top, max_top;
    size_t rank;
    int err;
};

static int on_hit(void *ud, int64_t rowid, double bm25)
{
    struct qctx *q = ud;
    struct cand *x = cand_add(q->c, rowid);
    if (!x) return ZT_ENOMEM;
    x->bm25 = bm25;
    x->rank_b = ++q->rank;
    return 0;
}

static int doc_sim(struct qctx *q, const struct zt_store_doc *d, double *sim)
{
    int8_t v[DIM_MAX];
    size_t vl;
    int rc = open_sealed(q->s, 'v', q->uref, d->id_ref, d->vec, d->vec_len, (uint8_t *)v, sizeof v, &vl);
    if (rc) return rc;
    if (vl != q->s->dim) return ZT_ECRYPTO;
    *sim = cosine_q(q->qv, v, vl);
    return 0;
}

static int on_scan(void *ud, const struct zt_store_doc *d)
{
    struct qctx *q = ud;
    double sim;
    int rc = doc_sim(q, d, &sim);
    if (rc) return rc;
    if (sim < q->s->min_sim) return 0;
    if (q->n_top == q->max_top && sim <= q->top[q->n_top - 1].sim) return 0;
    size_t i = q->n_top < q->max_top ? q->n_top++ : q->n_top - 1;
    while (i > 0 && q->top[i - 1].sim < sim) {
        q->top[i] = q->top[i - 1];
        i--;
    }
    memset(&q->top[i], 0, sizeof q->top[i]);
    q->top[i].rowid = d->rowid;
    q->top[i].sim = sim;
    return 0;
}

static int on_sim(void *ud, const struct zt_store_doc *d)
{
    struct qctx *q = ud;
    struct cand *x = cand_find(q->c, d->rowid);
    if (!x) return 0;
    return doc_sim(q, d, &x->sim);
}

struct fetch {
    struct qctx *q;
    struct zt_search_hit *h;
};

static int on_fetch(void *ud, const struct zt_store_doc *d)
{
    struct fetch *f = ud;
    size_t cap = d->payload_len, pl;
    if (cap < NONCE_LEN + TAG_LEN) return ZT_ECRYPTO;
    uint8_t *pt = zt_malloc(cap);
    if (!pt) return ZT_ENOMEM;
    int rc = open_sealed(f->q->s, 'p', f->q->uref, d->id_ref, d->payload, d->payload_len, pt, cap, &pl);
    if (rc) goto out;
    rc = ZT_ECRYPTO;
    if (pl < 2) goto out;
    size_t il = (size_t)pt[0] | (size_t)pt[1] << 8;
    if (il > pl - 2) goto out;
    rc = ZT_ENOMEM;
    f->h->id = zt_strndup((const char *)pt + 2, il);
    f->h->text = zt_strndup((const char *)pt + 2 + il, pl - 2 - il);
    if (!f->h->id || !f->h->text) goto out;
    f->h->ts = d->ts;
    rc = 0;
out:
    sodium_memzero(pt, cap);
    zt_free(pt);
    return rc;
}

static int cmp_score(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->score != y->score) return x->score < y->score ? 1 : -1;
    return x->rowid < y->rowid ? 1 : x->rowid > y->rowid ? -1 : 0; /* newer first */
}

void zt_search_hits_free(struct zt_search_hit *hits, size_t n)
{
    if (!hits) return;
    for (size_t i = 0; i < n; i++) {
        zt_free(hits[i].id);
        if (hits[i].text) {
            sodium_memzero(hits[i].text, strlen(hits[i].text));
            zt_free(hits[i].text);
        }
    }
    zt_free(hits);
}

int zt_search_query(struct zt_search *s, const char *user, const char *query, size_t query_len,
                    size_t limit, struct zt_search_hit **hits_out, size_t *n_out)
{
    int rc = check_user(user);
    if (rc) return rc;
    if (!query || query_len == 0 || query_len > ZT_SEARCH_QUERY_MAX) return ZT_EINVAL;
    if (limit == 0 || limit > ZT_SEARCH_LIMIT_MAX) return ZT_EINVAL;
    if (!zt_utf8_valid(query, query_len)) return ZT_EPARSE;
    uint8_t uref[ZT_STORE_REF_LEN];
    struct cands c = {0};
    struct zt_search_hit *hits = NULL;
    size_t nh = 0;
    char *terms = NULL, *expr = NULL;
    int8_t qv[DIM_MAX];
    struct qctx q = {.s = s, .uref = uref, .c = &c, .qv = qv};
    pthread_mutex_lock(&s->mu);
    user_ref(s, user, uref);
    rc = load_user_key(s, uref, false);
    if (rc == ZT_ENOTFOUND) { /* nothing indexed for this user */
        rc = 0;
        goto out;
    }
    if (rc) goto out;
    size_t nt = 0, found = 0;
    rc = hashed_terms(s, query, query_len, &terms, &nt);
    if (rc) goto out;
    if (nt > MAX_QUERY_TERMS) nt = MAX_QUERY_TERMS;
    if (nt) {
        rc = ZT_ENOMEM;
        expr = join_terms(terms, nt, " OR ", true);
        if (!expr) goto out;
        rc = zt_store_match(s->store, uref, expr, s->candidates, on_hit, &q);
        if (rc) goto out;
    }
    rc = embed_q(s, query, query_len, qv, &found);
    if (rc) goto out;
    q.have_qv = found > 0;
    if (q.have_qv) {
        q.max_top = s->candidates;
        q.top = zt_calloc(q.max_top, sizeof *q.top);
        rc = ZT_ENOMEM;
        if (!q.top) goto out;
        rc = zt_store_scan(s->store, uref, s->scan_limit, on_scan, &q);
        if (rc) goto out;
        for (size_t i = 0; i < q.n_top; i++) {
            struct cand *x = cand_add(&c, q.top[i].rowid);
            rc = ZT_ENOMEM;
            if (!x) goto out;
            x->sim = q.top[i].sim;
            x->rank_v = i + 1;
        }
        /* similarity of lexical hits outside the scanned window */
        for (size_t i = 0; i < c.n; i++) {
            if (c.v[i].sim > -2) continue;
            rc = zt_store_doc_get(s->store, uref, c.v[i].rowid, on_sim, &q);
            if (rc) goto out;
        }
    }
    for (size_t i = 0; i < c.n; i++) {
        struct cand *x = &c.v[i];
        if (x->sim < -1) x->sim = 0;
        x->score = (x->rank_b ? s->w_bm25 / (double)(s->rrf_k + x->rank_b) : 0) +
                   (x->rank_v ? s->w_vec / (double)(s->rrf_k + x->rank_v) : 0);
    }
    if (c.n) qsort(c.v, c.n, sizeof *c.v, cmp_score);
    nh = c.n < limit ? c.n : limit;
    while (nh > 0 && c.v[nh - 1].score <= 0) nh--;
    rc = 0;
    if (nh) {
        rc = ZT_ENOMEM;
        hits = zt_calloc(nh, sizeof *hits);
        if (!hits) goto out;
        for (size_t i = 0; i < nh; i++) {
            hits[i].score = c.v[i].score;
            hits[i].bm25 = c.v[i].bm25;
            hits[i].similarity = c.v[i].sim;
            struct fetch f = {&q, &hits[i]};
            rc = zt_store_doc_get(s->store, uref, c.v[i].rowid, on_fetch, &f);
            if (rc) goto out;
        }
    }
    rc = 0;
out:
    forget_user_key(s);
    pthread_mutex_unlock(&s->mu);
    sodium_memzero(qv, sizeof qv);
    zt_free(terms);
    zt_free(expr);
    zt_free(c.v);
    zt_free(q.top);
    if (rc) {
        zt_search_hits_free(hits, nh);
        return rc;
    }
    *hits_out = hits;
    *n_out = hits ? nh : 0;
    return 0;
}

/* ---- delete ------------------------------------------------------------- */

int zt_search_delete(struct zt_search *s, const char *user, const char *id, size_t id_len, bool *found)
{
    int rc = check_user(user);
    if (rc) return rc;
    if (!id || id_len == 0 || id_len > ZT_SEARCH_ID_MAX) return ZT_EINVAL;
    uint8_t uref[ZT_STORE_REF_LEN], iref[ZT_STORE_REF_LEN];
    bool f = false;
    pthread_mutex_lock(&s->mu);
    user_ref(s, user, uref);
    rc = load_user_key(s, uref, false);
    if (rc == 0) {
        id_ref(s, id, id_len, iref);
        rc = zt_store_doc_delete(s->store, uref, iref, &f);
        if (!rc && f) compact(s);
    } else if (rc == ZT_ENOTFOUND) {
        rc = 0;
    }
    forget_user_key(s);
    pthread_mutex_unlock(&s->mu);
    if (!rc && found) *found = f;
    return rc;
}

int zt_search_delete_user(struct zt_search *s, const char *user, size_t *n_docs)
{
    uint8_t uref[ZT_STORE_REF_LEN];
    size_t n = 0;
    int rc = lock_user(s, user, uref);
    if (rc) return rc;
    rc = zt_store_user_delete(s->store, uref, &n);
    if (!rc && n) compact(s);
    pthread_mutex_unlock(&s->mu);
    if (!rc && n_docs) *n_docs = n;
    return rc;
}

struct list_ctx {
    struct qctx *q;
    struct zt_search_hit *v;
    size_t n, cap;
};

static int on_list(void *ud, const struct zt_store_doc *d)
{
    struct list_ctx *l = ud;
    size_t old = l->cap;
    struct zt_search_hit *nv = zt_array_grow(l->v, &l->cap, l->n + 1, sizeof *nv, 16);
    if (!nv) return ZT_ENOMEM;
    memset(nv + old, 0, (l->cap - old) * sizeof *nv);
    l->v = nv;
    struct fetch f = {l->q, &l->v[l->n]};
    int rc = on_fetch(&f, d);
    if (rc) {
        zt_free(l->v[l->n].id);
        zt_free(l->v[l->n].text);
        memset(&l->v[l->n], 0, sizeof l->v[l->n]);
        return rc;
    }
    l->n++;
    return 0;
}

int zt_search_list(struct zt_search *s, const char *user, size_t limit, struct zt_search_hit **hits,
                   size_t *n_out)
{
    uint8_t uref[ZT_STORE_REF_LEN];
    struct qctx q = {.s = s, .uref = uref};
    struct list_ctx l = {.q = &q};
    int rc = lock_user(s, user, uref);
    if (rc) return rc;
    rc = load_user_key(s, uref, false);
    if (rc == ZT_ENOTFOUND) {
        rc = 0;
    } else if (!rc) {
        rc = zt_store_scan(s->store, uref, limit, on_list, &l);
    }
    forget_user_key(s);
    pthread_mutex_unlock(&s->mu);
    if (rc) {
        zt_search_hits_free(l.v, l.n);
        return rc;
    }
    *hits = l.v;
    *n_out = l.n;
    return 0;
}

int zt_search_expire(struct zt_search *s, int64_t before_ms, size_t *n_docs)
{
    size_t n = 0;
    pthread_mutex_lock(&s->mu);
    int rc = zt_store_docs_expire(s->store, before_ms, &n);
    if (!rc && n) compact(s);
    pthread_mutex_unlock(&s->mu);
    if (!rc && n_docs) *n_docs = n;
    return rc;
}

int zt_search_count(struct zt_search *s, const char *user, size_t *n)
{
    uint8_t uref[ZT_STORE_REF_LEN];
    int rc = lock_user(s, user, uref);
    if (rc) return rc;
    rc = zt_store_count(s->store, uref, n);
    pthread_mutex_unlock(&s->mu);
    return rc;
}
