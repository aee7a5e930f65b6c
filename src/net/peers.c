/* peers.c: the static peer registry, and the workers the discovery DHT
 * found (zt_dht.h). See zt_peers.h and docs/internals/peers.md.
 *
 * The peers are a sorted array (by node id) behind a read-write lock; a
 * load builds a new array aside and swaps it in, so readers never wait for
 * parsing and a failed load leaves the old set. */
#include "zentalk/zt_file.h"
#include "zentalk/zt_peers.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"

struct zt_peers {
    pthread_rwlock_t lock;
    struct zt_peer *v; /* sorted by node_id */
    size_t n;
    /* per peer (same index as v): whether it runs the worker role and the
     * models its descriptor lists, each followed by '\0' (models_len bytes) */
    struct peer_models *m;
    /* nodes found in the discovery DHT (zt_peers_set_discovered): the same
     * shape, sorted by node id, consulted after the static peers */
    struct zt_peer *dv;
    struct peer_models *dm;
    size_t dn;
    void (*unknown)(void *, const char *, const char *); /* zt_peers_set_unknown_hook */
    void *unknown_ud;
    /* the failure memory (zt_peers_note): peers this node's own attempts
     * found failed, held until `until`; its own lock, taken briefly inside
     * a pick's read lock (never the other way round) */
    pthread_mutex_t held_lock;
    struct held {
        char node_id[ZT_IDENTITY_ID_SIZE];
        int64_t until;   /* unix seconds: held before it */
        unsigned fails;  /* failures in a row (the hold doubles with each) */
    } held[ZT_PEERS_HELD_MAX];
    atomic_size_t n_held; /* entries in use, held[0..n_held): read unlocked by a pick's fast path */
};

struct peer_models {
    bool worker;
    char *names;
    size_t len;
};

static void models_free(struct peer_models *m, size_t n)
{
    if (!m) return;
    for (size_t i = 0; i < n; i++) zt_free(m[i].names);
    zt_free(m);
}

int zt_peers_new(struct zt_peers **out)
{
    struct zt_peers *p = zt_calloc(1, sizeof *p);
    if (!p) return ZT_ENOMEM;
    atomic_init(&p->n_held, 0);
    int rc = pthread_rwlock_init(&p->lock, NULL) != 0 ? ZT_ENOMEM : 0;
    if (!rc && pthread_mutex_init(&p->held_lock, NULL) != 0) {
        pthread_rwlock_destroy(&p->lock);
        rc = ZT_ENOMEM;
    }
    return ZT_HAND_OUT(rc, p, zt_free, out); /* no lock to destroy */
}

void zt_peers_free(struct zt_peers *p)
{
    if (!p) return;
    pthread_rwlock_destroy(&p->lock);
    pthread_mutex_destroy(&p->held_lock);
    models_free(p->m, p->n);
    zt_free(p->v);
    models_free(p->dm, p->dn);
    zt_free(p->dv);
    zt_free(p);
}

const char *zt_peers_endpoint_problem(const char *e)
{
    const char *rest;
    if (!e) return "endpoint is missing";
    if (zt_str_starts_with(e, "http://")) rest = e + 7;
    else if (zt_str_starts_with(e, "https://")) rest = e + 8;
    else return "endpoint is not an http:// or https:// URL";
    for (const char *c = e; *c; c++)
        if (*c <= 0x20 || *c >= 0x7F || *c == '@' || *c == '?' || *c == '#' || *c == '\\')
            return "endpoint has spaces, userinfo, a query or a fragment (scheme://host[:port] only)";
    /* the host: a name or IPv4 address, or [IPv6] */
    const char *h = rest;
    if (*h == '[') {
        const char *close = strchr(h, ']');
        if (!close || close == h + 1) return "endpoint has a malformed [IPv6] host";
        h = close + 1;
    } else {
        while (*h && *h != ':' && *h != '/') h++;
        if (h == rest) return "endpoint has no host";
    }
    if (*h == ':') { /* a port: 1..65535 */
        unsigned long port = 0;
        const char *d = ++h;
        while (*h >= '0' && *h <= '9' && port <= 65535) port = port * 10 + (unsigned long)(*h++ - '0');
        if (h == d || port == 0 || port > 65535 || (*h && *h != '/')) return "endpoint has an invalid port";
    }
    /* the relay and the job client append the route themselves: a path
     * would let a descriptor aim them at any route of the host */
    if (*h == '/' && h[1] != '\0') return "endpoint has a path (scheme://host[:port] only)";
    return NULL;
}

static int peer_cmp(const void *a, const void *b)
{
    return strcmp(((const struct zt_peer *)a)->node_id, ((const struct zt_peer *)b)->node_id);
}

static const char *verify_reason(int rc)
{
    switch (rc) {
    case ZT_ETIMEDOUT: return "expired";
    case ZT_ECRYPTO: return "bad signature or node id not derived from its key";
    case ZT_EUNSUPPORTED: return "unsupported descriptor version";
    case ZT_ETOOBIG: return "descriptor too large";
    case ZT_ENOMEM: return "out of memory";
    default: return "malformed descriptor";
    }
}

struct loaded {
    struct zt_peer peer;
    struct peer_models m;
};

static int loaded_cmp(const void *a, const void *b)
{
    return strcmp(((const struct loaded *)a)->peer.node_id, ((const struct loaded *)b)->peer.node_id);
}

/* The peer of a verified descriptor (its endpoint without trailing '/'). */
static void peer_of(const struct zt_node_descriptor *d, struct zt_peer *e)
{
    memcpy(e->node_id, d->node_id, sizeof e->node_id);
    memcpy(e->ed25519_pk, d->ed25519_pk, sizeof e->ed25519_pk);
    memcpy(e->kem_pk, d->kem_pk, sizeof e->kem_pk);
    size_t el = zt_strlcpy(e->endpoint, d->endpoint, sizeof e->endpoint);
    while (el > 0 && e->endpoint[el - 1] == '/') e->endpoint[--el] = '\0';
    e->expires = d->expires;
}

/* The worker role and the models of a verified descriptor. */
static int take_models(const struct zt_node_descriptor *d, struct peer_models *m)
{
    for (size_t i = 0; i < d->n_roles; i++) m->worker |= strcmp(d->roles[i], "worker") == 0;
    size_t len = 0;
    for (size_t i = 0; i < d->n_models; i++) len += strlen(d->models[i]) + 1;
    if (!len) return 0;
    m->names = zt_malloc(len);
    if (!m->names) return ZT_ENOMEM;
    for (size_t i = 0; i < d->n_models; i++) {
        size_t l = strlen(d->models[i]) + 1;
        memcpy(m->names + m->len, d->models[i], l);
        m->len += l;
    }
    return 0;
}

/* Put a new set of peers in place (the file's, or the discovered ones)
 * under the write lock and free the one it replaces. */
static void swap_in(struct zt_peers *p, bool discovered, struct zt_peer *pv, struct peer_models *pm, size_t n)
{
    struct zt_peer **v = discovered ? &p->dv : &p->v;
    struct peer_models **m = discovered ? &p->dm : &p->m;
    size_t *cnt = discovered ? &p->dn : &p->n;
    pthread_rwlock_wrlock(&p->lock);
    struct zt_peer *old = *v;
    struct peer_models *old_m = *m;
    size_t old_n = *cnt;
    *v = pv;
    *m = pm;
    *cnt = n;
    pthread_rwlock_unlock(&p->lock);
    models_free(old_m, old_n);
    zt_free(old);
}

int zt_peers_load_text(struct zt_peers *p, const char *text, size_t len, int64_t now, size_t *kept,
                       size_t *dropped, struct zt_buf *err)
{
    int rc = 0;
    json_t *arr = NULL;
    struct loaded *v = NULL;
    struct zt_peer *pv = NULL;
    struct peer_models *pm = NULL;
    size_t n = 0, nd = 0, total = 0;
    if (len > ZT_PEERS_FILE_MAX) return ZT_ETOOBIG;
    json_error_t je;
    arr = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!arr) {
        if (err) zt_ignore(zt_buf_appendf(err, "not JSON at line %d, column %d: %s", je.line, je.column, je.text));
        rc = ZT_EPARSE;
        goto out;
    }
    if (!json_is_array(arr)) {
        if (err) zt_ignore(zt_buf_append_str(err, "a peers file is a JSON array of node descriptors"));
        rc = ZT_EPARSE;
        goto out;
    }
    total = json_array_size(arr);
    if (total > ZT_PEERS_MAX) {
        if (err) zt_ignore(zt_buf_appendf(err, "more than %d descriptors", ZT_PEERS_MAX));
        rc = ZT_ETOOBIG;
        goto out;
    }
    if (total) {
        v = zt_calloc(total, sizeof *v);
        if (!v) {
            rc = ZT_ENOMEM;
            goto out;
        }
    }
    for (size_t i = 0; i < total; i++) {
        json_t *d = json_array_get(arr, i);
        char *s = json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!s) {
            rc = ZT_ENOMEM;
            goto out;
        }
        struct zt_node_descriptor nd_out;
        memset(&nd_out, 0, sizeof nd_out);
        int vrc = zt_identity_descriptor_verify(s, strlen(s), now, &nd_out);
        zt_free(s);
        if (vrc == ZT_ENOMEM) {
            rc = ZT_ENOMEM;
            goto out;
        }
        const char *reason = vrc ? verify_reason(vrc) : NULL;
        if (!reason) reason = zt_peers_endpoint_problem(nd_out.endpoint);
        if (reason) {
            json_t *idj = json_is_object(d) ? json_object_get(d, "node_id") : NULL;
            const char *ids = json_is_string(idj) && zt_identity_id_valid(json_string_value(idj))
                                  ? json_string_value(idj)
                                  : "-";
            zt_log(ZT_LOG_WARN, "peer_dropped", "index=%zu node_id=%s reason=\"%s\"", i, ids, reason);
            zt_node_descriptor_deinit(&nd_out);
            nd++;
            continue;
        }
        peer_of(&nd_out, &v[n].peer);
        rc = take_models(&nd_out, &v[n].m);
        zt_node_descriptor_deinit(&nd_out);
        n++;
        if (rc) goto out;
    }
    if (n > 1) qsort(v, n, sizeof *v, loaded_cmp);
    /* One descriptor per id: keep the one that expires last. */
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (w > 0 && strcmp(v[w - 1].peer.node_id, v[i].peer.node_id) == 0) {
            zt_log(ZT_LOG_WARN, "peer_dropped", "node_id=%s reason=\"duplicate; the later expiry is kept\"",
                   v[i].peer.node_id);
            nd++;
            if (v[i].peer.expires > v[w - 1].peer.expires) {
                struct loaded t = v[w - 1];
                v[w - 1] = v[i];
                v[i] = t;
            }
            zt_free(v[i].m.names);
            v[i].m.names = NULL;
            continue;
        }
        if (w != i) {
            v[w] = v[i];
            v[i].m.names = NULL;
        }
        w++;
    }
    n = w;
    if (n) {
        pv = zt_calloc(n, sizeof *pv);
        pm = zt_calloc(n, sizeof *pm);
        if (!pv || !pm) {
            rc = ZT_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < n; i++) {
            pv[i] = v[i].peer;
            pm[i] = v[i].m;
            v[i].m.names = NULL;
        }
    }
    swap_in(p, false, pv, pm, n);
    pv = NULL;
    pm = NULL;
    if (kept) *kept = n;
    if (dropped) *dropped = nd;
out:
    if (pm) models_free(pm, n);
    zt_free(pv);
    if (v)
        for (size_t i = 0; i < total; i++) zt_free(v[i].m.names);
    zt_free(v);
    json_decref(arr);
    return rc;
}

int zt_peers_load_file(struct zt_peers *p, const char *path, int64_t now, size_t *kept, size_t *dropped,
                       struct zt_buf *err)
{
    int rc = 0, fd = -1;
    char *text = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            swap_in(p, false, NULL, NULL, 0);
            if (kept) *kept = 0;
            if (dropped) *dropped = 0;
            return ZT_ENOTFOUND;
        }
        if (err) zt_ignore(zt_buf_appendf(err, "%s: %s", path, strerror(errno)));
        return ZT_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (err) zt_ignore(zt_buf_appendf(err, "%s: not a regular file", path));
        rc = ZT_EIO;
        goto out;
    }
    if ((uint64_t)st.st_size > ZT_PEERS_FILE_MAX) {
        if (err) zt_ignore(zt_buf_appendf(err, "%s: larger than %zu bytes", path, ZT_PEERS_FILE_MAX));
        rc = ZT_ETOOBIG;
        goto out;
    }
    size_t cap = (size_t)st.st_size + 1, len = 0;
    text = zt_malloc(cap);
    if (!text) {
        rc = ZT_ENOMEM;
        goto out;
    }
    if (zt_fd_read_full(fd, text, cap, &len) != 0) {
        if (err) zt_ignore(zt_buf_appendf(err, "%s: %s", path, strerror(errno)));
        rc = ZT_EIO;
        goto out;
    }
    if (len == cap) { /* grew while we read it */
        if (err) zt_ignore(zt_buf_appendf(err, "%s: changed while being read", path));
        rc = ZT_EIO;
        goto out;
    }
    struct zt_buf why;
    zt_buf_init(&why, 512);
    rc = zt_peers_load_text(p, text, len, now, kept, dropped, &why);
    if (rc && err) zt_ignore(zt_buf_appendf(err, "%s: %s", path, why.len ? zt_buf_str(&why) : zt_strerror(rc)));
    zt_buf_deinit(&why);
out:
    zt_free(text);
    if (fd >= 0) close(fd);
    return rc;
}

int zt_peers_lookup(struct zt_peers *p, const char *node_id, int64_t now, struct zt_peer *out)
{
    if (!p || !node_id || !zt_identity_id_valid(node_id)) return ZT_ENOTFOUND;
    struct zt_peer key;
    zt_strlcpy(key.node_id, node_id, sizeof key.node_id);
    int rc = ZT_ENOTFOUND;
    pthread_rwlock_rdlock(&p->lock);
    const struct zt_peer *e = p->n ? bsearch(&key, p->v, p->n, sizeof *p->v, peer_cmp) : NULL;
    if (!e && p->dn) e = bsearch(&key, p->dv, p->dn, sizeof *p->dv, peer_cmp);
    if (e) {
        rc = now >= e->expires ? ZT_ETIMEDOUT : 0;
        if (!rc) *out = *e;
    } else if (p->unknown) {
        p->unknown(p->unknown_ud, node_id, NULL); /* under the read lock: unsetting the hook waits for it */
    }
    pthread_rwlock_unlock(&p->lock);
    return rc;
}

size_t zt_peers_list(struct zt_peers *p, struct zt_peer *out, size_t max)
{
    if (!p) return 0;
    pthread_rwlock_rdlock(&p->lock);
    size_t n = p->n < max ? p->n : max;
    if (n) memcpy(out, p->v, n * sizeof *out);
    size_t nd = p->dn < max - n ? p->dn : max - n; /* then the discovered ones */
    if (nd) memcpy(out + n, p->dv, nd * sizeof *out);
    pthread_rwlock_unlock(&p->lock);
    return n + nd;
}

static int peers_metric(void *ud, struct zt_metrics_out *o)
{
    return zt_metrics_emit_u64(o, NULL, NULL, zt_peers_count(ud));
}

int zt_peers_register_metrics(struct zt_peers *p, struct zt_metrics *m)
{
    return zt_metrics_add_fn(m, "zentalk_peers", "Peers in the registry: the peers file's and those the DHT found.", ZT_METRIC_GAUGE, peers_metric, p);
}

size_t zt_peers_count(struct zt_peers *p)
{
    if (!p) return 0;
    pthread_rwlock_rdlock(&p->lock);
    size_t n = p->n + p->dn;
    pthread_rwlock_unlock(&p->lock);
    return n;
}

static bool lists_model(const struct peer_models *m, const char *model)
{
    for (size_t off = 0; off < m->len; off += strlen(m->names + off) + 1)
        if (strcmp(m->names + off, model) == 0) return true;
    return false;
}

/* ---- the failure memory --------------------------------------------------- */

/* The entry of node_id, or NULL; under held_lock. */
static struct held *held_find(struct zt_peers *p, const char *node_id)
{
    size_t n = atomic_load(&p->n_held);
    for (size_t i = 0; i < n; i++)
        if (strcmp(p->held[i].node_id, node_id) == 0) return &p->held[i];
    return NULL;
}

void zt_peers_note(struct zt_peers *p, const char *node_id, bool ok, int64_t now)
{
    if (!p || !node_id || !node_id[0] || strlen(node_id) >= ZT_IDENTITY_ID_SIZE) return;
    pthread_mutex_lock(&p->held_lock);
    struct held *h = held_find(p, node_id);
    size_t n = atomic_load(&p->n_held);
    if (ok) {
        if (h) { /* an ok attempt clears it: the last entry takes its place */
            *h = p->held[n - 1];
            memset(&p->held[n - 1], 0, sizeof *h);
            atomic_store(&p->n_held, n - 1);
        }
    } else {
        if (!h && n < ZT_PEERS_HELD_MAX) {
            h = &p->held[n];
            atomic_store(&p->n_held, n + 1);
        } else if (!h) { /* full: the hold that ends first (an expired one) is forgotten */
            h = &p->held[0];
            for (size_t i = 1; i < n; i++)
                if (p->held[i].until < h->until) h = &p->held[i];
        }
        if (strcmp(h->node_id, node_id) != 0) {
            zt_strlcpy(h->node_id, node_id, sizeof h->node_id);
            h->fails = 0;
        }
        if (h->fails < ZT_PEERS_HOLD_DOUBLINGS + 1) h->fails++;
        h->until = now + ((int64_t)ZT_PEERS_HOLD_S << (h->fails - 1)); /* held from now */
    }
    pthread_mutex_unlock(&p->held_lock);
}

bool zt_peers_held(struct zt_peers *p, const char *node_id, int64_t now)
{
    if (!p || !node_id || atomic_load(&p->n_held) == 0) return false; /* nobody held: no lock */
    pthread_mutex_lock(&p->held_lock);
    const struct held *h = held_find(p, node_id);
    bool held = h && now < h->until;
    pthread_mutex_unlock(&p->held_lock);
    return held;
}

/* ---- picking ------------------------------------------------------------ */

/* held: false = only peers not held; true = only held ones. */
static bool pick_in(struct zt_peers *p, const struct zt_peer *v, const struct peer_models *m, size_t n,
                    const char *model, const char *pin, bool held, int64_t now, struct zt_peer *out)
{
    for (size_t i = 0; i < n; i++) {
        if (pin && pin[0] && strcmp(pin, v[i].node_id) != 0) continue;
        if (now >= v[i].expires || !m[i].worker || !lists_model(&m[i], model)) continue;
        if (!(pin && pin[0]) && zt_peers_held(p, v[i].node_id, now) != held) continue;
        *out = v[i];
        return true;
    }
    return false;
}

int zt_peers_pick(struct zt_peers *p, const char *model, const char *pin, int64_t now, struct zt_peer *out)
{
    if (!p || !model || !model[0]) return ZT_ENOTFOUND;
    pthread_rwlock_rdlock(&p->lock);
    /* healthy peers first (static, then discovered); a held peer only when
     * no healthy one serves the model; a pin is taken held or not */
    bool found = false;
    for (int held = 0; held < 2 && !found; held++)
        found = pick_in(p, p->v, p->m, p->n, model, pin, held, now, out) ||
                pick_in(p, p->dv, p->dm, p->dn, model, pin, held, now, out);
    if (!found && !(pin && pin[0]) && p->unknown) p->unknown(p->unknown_ud, NULL, model); /* nobody serves it */
    pthread_rwlock_unlock(&p->lock);
    return found ? 0 : ZT_ENOTFOUND;
}

void zt_peers_set_unknown_hook(struct zt_peers *p, void (*fn)(void *ud, const char *node_id, const char *model),
                               void *ud)
{
    if (!p) return;
    pthread_rwlock_wrlock(&p->lock);
    p->unknown = fn;
    p->unknown_ud = ud;
    pthread_rwlock_unlock(&p->lock);
}

int zt_peers_set_discovered(struct zt_peers *p, const struct zt_node_descriptor *d, size_t n, int64_t now,
                            size_t *kept)
{
    if (!p || (n && !d)) return ZT_EINVAL;
    struct zt_peer *pv = n ? zt_calloc(n, sizeof *pv) : NULL;
    struct peer_models *pm = n ? zt_calloc(n, sizeof *pm) : NULL;
    if (n && (!pv || !pm)) {
        zt_free(pv);
        zt_free(pm);
        return ZT_ENOMEM;
    }
    size_t k = 0;
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        const struct zt_node_descriptor *x = &d[i];
        bool dup = false;
        for (size_t j = 0; j < k && !dup; j++) dup = strcmp(pv[j].node_id, x->node_id) == 0;
        pthread_rwlock_rdlock(&p->lock); /* a static peer is known already */
        struct zt_peer key;
        memcpy(key.node_id, x->node_id, sizeof key.node_id);
        dup = dup || (p->n && bsearch(&key, p->v, p->n, sizeof *p->v, peer_cmp));
        pthread_rwlock_unlock(&p->lock);
        if (dup || now >= x->expires || !x->endpoint || zt_peers_endpoint_problem(x->endpoint)) continue;
        peer_of(x, &pv[k]);
        rc = take_models(x, &pm[k]);
        k++;
    }
    if (rc) {
        models_free(pm, k);
        zt_free(pv);
        return rc;
    }
    for (size_t i = 1; i < k; i++) /* insertion sort by id, models alongside (k is small) */
        for (size_t j = i; j > 0 && strcmp(pv[j - 1].node_id, pv[j].node_id) > 0; j--) {
            struct zt_peer t = pv[j];
            pv[j] = pv[j - 1];
            pv[j - 1] = t;
            struct peer_models tm = pm[j];
            pm[j] = pm[j - 1];
            pm[j - 1] = tm;
        }
    swap_in(p, true, pv, pm, k);
    if (kept) *kept = k;
    return 0;
}
