/* dht.c: signed node descriptors in a DHT (OpenDHT's C API). See zt_dht.h
 * and docs/internals/dht.md.
 *
 * OpenDHT runs its own thread; a get calls back on it once per value and
 * once when done. Each get is an `op` on d's list: its callbacks check and
 * keep values there under d->mu, the caller waits on d->cv, and whoever
 * comes last (the done callback or the caller) frees it. A runner deleted
 * with gets in flight never calls them back (seen with 2.4.12), so
 * zt_dht_free frees what is left on the list once the runner is gone. */
#include "zentalk/zt_dht.h"

#include "dht_int.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"

#ifdef ZT_HAVE_OPENDHT
#include <opendht/opendht_c.h>
#endif

/* ---- Revocation records (no DHT needed) ------------------------------------ */

#define REV_KIND "zentalk-revocation"

static json_t *hex_json(const uint8_t *b, size_t n)
{
    char h[2 * 64 + 1];
    zt_hex_encode(h, b, n);
    return json_string(h);
}

int zt_dht_revocation(const struct zt_identity *id, const uint8_t *kem_pk, int64_t at, char **out)
{
    if (!id || !out || at < 0) return ZT_EINVAL;
    json_t *o = json_object();
    int rc = ZT_ENOMEM;
    if (!o) return rc;
    if (json_object_set_new(o, "at", json_integer(at)) || json_object_set_new(o, "kind", json_string(REV_KIND)) ||
        json_object_set_new(o, "ed25519_pk", hex_json(zt_identity_sign_pk(id), ZT_ED25519_PK_LEN)) ||
        json_object_set_new(o, "node_id", json_string(zt_identity_id(id))) ||
        json_object_set_new(o, "v", json_integer(1)) ||
        (kem_pk && json_object_set_new(o, "kem_pk", hex_json(kem_pk, ZT_X25519_LEN))))
        goto out;
    rc = zt_identity_sign_json(id, o, ZT_DHT_REVOCATION_MAX, out);
out:
    json_decref(o);
    return rc;
}

int zt_dht_revocation_verify(const char *json, size_t len, struct zt_dht_revocation *out)
{
    struct zt_dht_revocation r;
    memset(&r, 0, sizeof r);
    json_t *o;
    const char *nid;
    int rc = zt_identity_record_parse(json, len, ZT_DHT_REVOCATION_MAX, REV_KIND, r.ed25519_pk, &nid, &o);
    if (rc) return rc;
    json_t *at = json_object_get(o, "at"), *kem = json_object_get(o, "kem_pk");
    rc = ZT_EPARSE;
    if (json_object_size(o) != (kem ? 7u : 6u) || !json_is_integer(at) || json_integer_value(at) < 0 ||
        (kem && zt_hex_decode_str(r.kem_pk, sizeof r.kem_pk, json_string_value(kem), ZT_HEX_LOWER) != 0))
        goto out;
    r.has_kem = kem != NULL;
    r.at = (int64_t)json_integer_value(at);
    rc = zt_identity_record_verify(o, r.ed25519_pk, nid, r.node_id, ZT_DHT_REVOCATION_MAX);
    if (!rc && out) *out = r;
out:
    json_decref(o);
    return rc;
}

/* ---- One value from the DHT, checked (no DHT needed) ---------------------------- */

static bool lists(char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0) return true;
    return false;
}

int zt__dht_check_value(const void *data, size_t len, int64_t now, const char *role, const char *model,
                        const char *want_id, struct zt_node_descriptor *desc, struct zt_dht_revocation *rev)
{
    const char *s = data;
    if (!s || len < 2 || len > ZT_DESCRIPTOR_MAX || s[0] != '{') return ZT__DHT_JUNK;
    struct zt_node_descriptor x;
    memset(&x, 0, sizeof x);
    if (zt_identity_descriptor_verify(s, len, now, &x) == 0) {
        if (lists(x.roles, x.n_roles, role) && (!model || lists(x.models, x.n_models, model)) &&
            (!want_id || strcmp(want_id, x.node_id) == 0)) {
            *desc = x;
            return ZT__DHT_DESCRIPTOR;
        }
        zt_node_descriptor_deinit(&x); /* valid, but not for this key: junk here */
        return ZT__DHT_JUNK;
    }
    if (len <= ZT_DHT_REVOCATION_MAX && zt_dht_revocation_verify(s, len, rev) == 0) return ZT__DHT_REVOCATION;
    return ZT__DHT_JUNK;
}

#ifndef ZT_HAVE_OPENDHT

bool zt_dht_available(void)
{
    return false;
}
int zt_dht_new(const struct zt_dht_opts *o, struct zt_dht **out)
{
    (void)o, (void)out;
    return ZT_EUNSUPPORTED;
}
void zt_dht_free(struct zt_dht *d)
{
    (void)d;
}
uint16_t zt_dht_port(const struct zt_dht *d)
{
    (void)d;
    return 0;
}
int zt_dht_bootstrap(struct zt_dht *d, const char *hostport)
{
    (void)d, (void)hostport;
    return ZT_EUNSUPPORTED;
}
int zt_dht_publish(struct zt_dht *d, const char *json, size_t len, int64_t now)
{
    (void)d, (void)json, (void)len, (void)now;
    return ZT_EUNSUPPORTED;
}
int zt_dht_publish_from(struct zt_dht *d, zt_dht_sign_fn sign, void *ud)
{
    (void)d, (void)sign, (void)ud;
    return ZT_EUNSUPPORTED;
}
int zt_dht_lookup(struct zt_dht *d, const char *role, const char *model, int64_t now, unsigned timeout_ms,
                  struct zt_node_descriptor *out, size_t max, size_t *n)
{
    (void)d, (void)role, (void)model, (void)now, (void)timeout_ms, (void)out, (void)max, (void)n;
    return ZT_EUNSUPPORTED;
}
int zt_dht_revoke(struct zt_dht *d, const char *json, size_t len)
{
    (void)d, (void)json, (void)len;
    return ZT_EUNSUPPORTED;
}
void zt_dht_on_revocation(struct zt_dht *d, zt_dht_revocation_fn fn, void *ud)
{
    (void)d, (void)fn, (void)ud;
}
int zt__dht_put_raw(struct zt_dht *d, const char *role, const char *model, const char *node_id, const void *data,
                    size_t len)
{
    (void)d, (void)role, (void)model, (void)node_id, (void)data, (void)len;
    return ZT_EUNSUPPORTED;
}
int zt_dht_put_value(struct zt_dht *d, const char *ns, const char *name, const void *data, size_t len)
{
    (void)d, (void)ns, (void)name, (void)data, (void)len;
    return ZT_EUNSUPPORTED;
}
int zt_dht_get_values(struct zt_dht *d, const char *ns, const char *name, unsigned timeout_ms, zt_dht_value_fn fn,
                      void *ud)
{
    (void)d, (void)ns, (void)name, (void)timeout_ms, (void)fn, (void)ud;
    return ZT_EUNSUPPORTED;
}
int zt_dht_node_start(const struct zt_config *cfg, zt_dht_sign_fn sign, void *sign_ud, struct zt_peers *peers,
                      const char *self_id, struct zt_dht **out, struct zt_buf *err)
{
    (void)sign, (void)sign_ud, (void)peers, (void)self_id;
    *out = NULL;
    if (!cfg->node.dht_port) return 0;
    if (err) zt_ignore(zt_buf_append_str(err, "node.dht_port is set but the DHT is not built "
                                              "(no OpenDHT C API, libopendht-c-dev, at build time)"));
    return ZT_EUNSUPPORTED;
}

#else /* ZT_HAVE_OPENDHT */

#define KEY_PREFIX "zentalk-dht-v1/"
#define OWN_REVOCATIONS 16
#define LOOKUP_MAX_INTERVAL_MS 30000u
#define LOOKUP_TIMEOUT_MS 15000u /* a flooded key takes seconds (docs/internals/dht.md) */
#define SEEN_MAX (2 * ZT_DHT_MAX_RESULTS) /* nodes the node's discovery remembers */
#define FORGET_MS (600u * 1000u)          /* a node no lookup returned for this long goes */
#define WANTED_MAX 8              /* models the node's discovery also looks up by name */
#define WANTED_RESULTS 64         /* workers kept per such model */
#define NUDGE_MS 2000u           /* discovery run early at most this often */
#define NODE_KEYS_MIN_MS 2000u   /* what the nodes' own keys get even after a slow first get */

bool zt_dht_available(void)
{
    return true;
}

struct revoked {
    char node_id[ZT_IDENTITY_ID_SIZE]; /* derived from pk (checked when it was verified) */
    int64_t at;
    uint8_t pk[ZT_ED25519_PK_LEN];
    bool has_kem;
    uint8_t kem[ZT_X25519_LEN];
};

/* One get in flight. */
struct op {
    struct zt_dht *d;
    struct op *next;
    /* what a descriptor must list, copied: a late callback outlives the caller */
    char role[ZT_DESCRIPTOR_MAX_STR + 1], model[ZT_DESCRIPTOR_MAX_STR + 1];
    bool any_model;
    char want_id[ZT_IDENTITY_ID_SIZE]; /* a node's own key: only its descriptors ("": any) */
    int64_t now;                       /* the lookup's clock for expiry */
    struct zt_node_descriptor *res; /* verified, one per node; ZT_DHT_MAX_RESULTS at most */
    size_t n_res, max_res;
    size_t seen;   /* values inspected */
    bool done;     /* the done callback ran: OpenDHT is finished with it */
    bool gone;     /* the caller stopped waiting: no more values wanted */
    zt_dht_value_fn raw; /* zt_dht_get_values: every value goes to raw(raw_ud), under d->mu */
    void *raw_ud;
};

struct seen {
    struct zt_node_descriptor d;
    uint64_t last_ms; /* when a lookup last returned it (monotonic) */
};

struct zt_dht {
    dht_runner *r;
    uint16_t port;
    unsigned refresh_s;
    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;  /* a get finished; the thread is told to stop */
    struct op *ops;
    struct revoked *revoked; /* ring of ZT_DHT_MAX_REVOKED */
    size_t n_revoked, rev_next;
    /* what we publish */
    char *desc;
    dht_value *desc_val;
    dht_infohash keys[ZT_DHT_MAX_KEYS + 1];
    size_t n_keys;
    dht_value *own_rev[OWN_REVOCATIONS];
    size_t n_own_rev;
    zt_dht_revocation_fn rev_fn; /* told of each revocation first remembered (zt_dht_on_revocation) */
    void *rev_ud;
    /* the publisher / discovery thread */
    pthread_t th;
    bool th_started, stop;
    zt_dht_sign_fn sign;
    void *sign_ud;
    struct zt_peers *peers; /* when the node's discovery runs */
    char self_id[ZT_IDENTITY_ID_SIZE];
    bool gateways; /* a worker also admits the gateways found */
    struct seen *seen; /* what the node's lookups found (SEEN_MAX; the discovery thread's) */
    size_t n_seen;
    const struct zt_strlist *bootstrap; /* the node's config (outlives d) */
    bool nudged;           /* a node or a model we do not know was asked for: look now */
    char wanted[WANTED_MAX][ZT_DESCRIPTOR_MAX_STR + 1]; /* models asked for that no peer served */
    size_t n_wanted, wanted_next;
    uint64_t last_nudge_ms;
    size_t last_found;
};

static void key_of(dht_infohash *h, const char *kind, const char *a, const char *b)
{
    char s[64 + 2 * ZT_DESCRIPTOR_MAX_STR];
    int w = b ? snprintf(s, sizeof s, KEY_PREFIX "%s/%s/%s", kind, a, b) : snprintf(s, sizeof s, KEY_PREFIX "%s/%s", kind, a);
    dht_infohash_get(h, (const uint8_t *)s, w < 0 ? 0 : (size_t)w < sizeof s ? (size_t)w : sizeof s - 1);
}

int zt_dht_new(const struct zt_dht_opts *o, struct zt_dht **out)
{
    if (!o || !out) return ZT_EINVAL;
    struct zt_dht *d = zt_calloc(1, sizeof *d);
    if (!d) return ZT_ENOMEM;
    d->revoked = zt_calloc(ZT_DHT_MAX_REVOKED, sizeof *d->revoked);
    d->refresh_s = o->refresh_s ? o->refresh_s : ZT_DHT_REFRESH_S;
    if (!d->revoked || !(d->r = dht_runner_new())) {
        zt_free(d->revoked);
        zt_free(d);
        return ZT_ENOMEM;
    }
    pthread_mutex_init(&d->mu, NULL);
    zt_cond_init_mono(&d->cv);
    dht_runner_config c;
    dht_runner_config_default(&c);
    c.threaded = true;
    c.log = false;
    c.peer_discovery = o->multicast;
    c.peer_publish = o->multicast;
    c.dht_config.node_config.network = ZT_DHT_NETWORK;
    int rc = dht_runner_run_config(d->r, o->port, &c);
    if (rc != 0) {
        zt_log(ZT_LOG_ERROR, "dht_bind_failed", "port=%u code=%d", (unsigned)o->port, rc);
        zt_dht_free(d);
        return ZT_EIO;
    }
    d->port = dht_runner_get_bound_port(d->r, AF_INET);
    *out = d;
    return 0;
}

uint16_t zt_dht_port(const struct zt_dht *d)
{
    return d ? d->port : 0;
}

static void unref_published(struct zt_dht *d)
{
    if (d->desc_val) dht_value_unref(d->desc_val);
    d->desc_val = NULL;
    for (size_t i = 0; i < d->n_own_rev; i++) dht_value_unref(d->own_rev[i]);
    d->n_own_rev = 0;
}

static void op_free(struct op *op)
{
    for (size_t i = 0; i < op->n_res; i++) zt_node_descriptor_deinit(&op->res[i]);
    zt_free(op->res);
    zt_free(op);
}

void zt_dht_free(struct zt_dht *d)
{
    if (!d) return;
    if (d->peers) zt_peers_set_unknown_hook(d->peers, NULL, NULL); /* waits for a hook call in progress */
    zt_thread_stop(&d->mu, &d->cv, &d->stop, &d->th, &d->th_started);
    dht_runner_delete(d->r); /* joins OpenDHT's threads: no callback runs after this */
    for (struct op *op = d->ops, *next; op; op = next) {
        next = op->next;
        op_free(op);
    }
    unref_published(d);
    for (size_t i = 0; i < d->n_seen; i++) zt_node_descriptor_deinit(&d->seen[i].d);
    zt_free(d->seen);
    zt_free(d->desc);
    zt_free(d->revoked);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    zt_free(d);
}

int zt_dht_bootstrap(struct zt_dht *d, const char *hostport)
{
    char host[256];
    uint16_t port;
    if (!d || !hostport || zt_str_split_hostport(hostport, host, sizeof host, &port) != 0 || !host[0] || !port)
        return ZT_EINVAL;
    char svc[8];
    snprintf(svc, sizeof svc, "%u", (unsigned)port);
    dht_runner_bootstrap(d->r, host, svc);
    return 0;
}

/* ---- Revocations remembered -------------------------------------------------- */

/* Under d->mu. */
static bool is_revoked(const struct zt_dht *d, const struct zt_node_descriptor *x)
{
    for (size_t i = 0; i < d->n_revoked; i++) {
        const struct revoked *r = &d->revoked[i];
        if (memcmp(r->pk, x->ed25519_pk, sizeof r->pk) != 0) continue;
        if (!r->has_kem || memcmp(r->kem, x->kem_pk, sizeof r->kem) == 0) return true;
    }
    return false;
}

/* Under d->mu. True when r is new. */
static bool remember(struct zt_dht *d, const struct revoked *r)
{
    for (size_t i = 0; i < d->n_revoked; i++) {
        const struct revoked *x = &d->revoked[i];
        if (memcmp(x->pk, r->pk, sizeof r->pk) == 0 && x->has_kem == r->has_kem &&
            (!r->has_kem || memcmp(x->kem, r->kem, sizeof r->kem) == 0))
            return false;
    }
    d->revoked[d->rev_next] = *r;
    d->rev_next = (d->rev_next + 1) % ZT_DHT_MAX_REVOKED;
    if (d->n_revoked < ZT_DHT_MAX_REVOKED) d->n_revoked++;
    return true;
}

/* Tell the hook of a new revocation (not under d->mu). */
static void tell(zt_dht_revocation_fn fn, void *ud, const struct revoked *e)
{
    if (fn) fn(ud, e->node_id, e->has_kem ? e->kem : NULL, e->at);
}

void zt_dht_on_revocation(struct zt_dht *d, zt_dht_revocation_fn fn, void *ud)
{
    if (!d) return;
    pthread_mutex_lock(&d->mu);
    d->rev_fn = fn;
    d->rev_ud = ud;
    size_t n = d->n_revoked;
    struct revoked *copy = n ? zt_malloc(n * sizeof *copy) : NULL;
    if (copy) memcpy(copy, d->revoked, n * sizeof *copy);
    pthread_mutex_unlock(&d->mu);
    for (size_t i = 0; copy && i < n; i++) tell(fn, ud, &copy[i]); /* the ones seen before */
    zt_free(copy);
}

static void revoked_of(const struct zt_dht_revocation *v, struct revoked *r)
{
    memset(r, 0, sizeof *r);
    zt_strlcpy(r->node_id, v->node_id, sizeof r->node_id);
    r->at = v->at;
    memcpy(r->pk, v->ed25519_pk, sizeof r->pk);
    r->has_kem = v->has_kem;
    if (v->has_kem) memcpy(r->kem, v->kem_pk, sizeof r->kem);
}

/* ---- Gets ------------------------------------------------------------------------ */

/* Keep a verified descriptor: one per node, the later expiry (a rotation);
 * a new node beyond max_res is dropped. Under d->mu. Takes x. */
static void keep(struct op *op, struct zt_node_descriptor *x)
{
    for (size_t i = 0; i < op->n_res; i++) {
        if (strcmp(op->res[i].node_id, x->node_id) != 0) continue;
        if (x->expires > op->res[i].expires) {
            zt_node_descriptor_deinit(&op->res[i]);
            op->res[i] = *x;
            memset(x, 0, sizeof *x);
        }
        zt_node_descriptor_deinit(x);
        return;
    }
    if (op->n_res < op->max_res) {
        op->res[op->n_res++] = *x;
        memset(x, 0, sizeof *x);
    }
    zt_node_descriptor_deinit(x);
}

static bool on_value(const dht_value *v, void *ud)
{
    struct op *op = ud;
    struct zt_dht *d = op->d;
    pthread_mutex_lock(&d->mu);
    bool more = !op->gone && ++op->seen < ZT_DHT_MAX_VALUES;
    pthread_mutex_unlock(&d->mu);
    if (!more) return false;
    dht_data_view dv = dht_value_get_data(v);
    if (op->raw) { /* under the lock: the caller's fn and ud end when it stops waiting */
        pthread_mutex_lock(&d->mu);
        more = !op->gone && op->raw(op->raw_ud, dv.data, dv.size);
        pthread_mutex_unlock(&d->mu);
        return more;
    }
    struct zt_node_descriptor x;
    struct zt_dht_revocation r;
    switch (zt__dht_check_value(dv.data, dv.size, op->now, op->role, op->any_model ? NULL : op->model,
                                op->want_id[0] ? op->want_id : NULL, &x, &r)) {
    case ZT__DHT_DESCRIPTOR:
        pthread_mutex_lock(&d->mu);
        if (!op->gone && !is_revoked(d, &x)) keep(op, &x); /* a revoked KEM key does not shadow the next one */
        pthread_mutex_unlock(&d->mu);
        zt_node_descriptor_deinit(&x);
        break;
    case ZT__DHT_REVOCATION: {
        struct revoked e;
        revoked_of(&r, &e);
        pthread_mutex_lock(&d->mu);
        bool fresh = remember(d, &e);
        zt_dht_revocation_fn fn = d->rev_fn;
        void *fud = d->rev_ud;
        pthread_mutex_unlock(&d->mu);
        if (fresh) tell(fn, fud, &e);
        break;
    }
    default: break; /* junk: dropped, nothing kept */
    }
    return true;
}

static void on_done(bool ok, void *ud)
{
    (void)ok; /* "not ok" is also "no other node answered": what was found stands */
    struct op *op = ud;
    struct zt_dht *d = op->d;
    pthread_mutex_lock(&d->mu);
    op->done = true;
    bool free_it = op->gone;
    if (free_it) { /* unlink */
        for (struct op **p = &d->ops; *p; p = &(*p)->next)
            if (*p == op) {
                *p = op->next;
                break;
            }
    }
    pthread_cond_broadcast(&d->cv);
    pthread_mutex_unlock(&d->mu);
    if (free_it) op_free(op);
}

/* Put op on d's list of lookups in flight (on_done takes it off) and start
 * the DHT get of h that feeds it. */
static void op_launch(struct zt_dht *d, const dht_infohash *h, struct op *op)
{
    pthread_mutex_lock(&d->mu);
    op->next = d->ops;
    d->ops = op;
    pthread_mutex_unlock(&d->mu);
    dht_runner_get(d->r, h, on_value, on_done, op);
}

static struct op *get_start(struct zt_dht *d, const dht_infohash *h, const char *role, const char *model,
                            const char *want_id, int64_t now, size_t max_res)
{
    struct op *op = zt_calloc(1, sizeof *op);
    if (!op) return NULL;
    op->res = max_res ? zt_calloc(max_res, sizeof *op->res) : NULL;
    if (max_res && !op->res) {
        zt_free(op);
        return NULL;
    }
    op->d = d;
    zt_strlcpy(op->role, role, sizeof op->role);
    op->any_model = !model;
    zt_strlcpy(op->model, model ? model : "", sizeof op->model);
    zt_strlcpy(op->want_id, want_id ? want_id : "", sizeof op->want_id);
    op->now = now;
    op->max_res = max_res;
    op_launch(d, h, op);
    return op;
}

/* Wait for ops[0..n) until done or the deadline. Under d->mu. */
static void wait_ops(struct zt_dht *d, struct op **ops, size_t n, const struct timespec *until)
{
    for (;;) {
        bool all = true;
        for (size_t i = 0; i < n && all; i++) all = !ops[i] || ops[i]->done;
        if (all || d->stop || pthread_cond_timedwait(&d->cv, &d->mu, until) != 0) return;
    }
}

/* The caller is finished with op: freed now if OpenDHT is too. Under d->mu. */
static void get_release(struct zt_dht *d, struct op *op)
{
    if (!op) return;
    if (!op->done) {
        op->gone = true;
        return;
    }
    for (struct op **p = &d->ops; *p; p = &(*p)->next)
        if (*p == op) {
            *p = op->next;
            break;
        }
    op_free(op);
}

int zt_dht_lookup(struct zt_dht *d, const char *role, const char *model, int64_t now, unsigned timeout_ms,
                  struct zt_node_descriptor *out, size_t max, size_t *n)
{
    if (!d || !role || !role[0] || !out || !n || !max || max > ZT_DHT_MAX_RESULTS ||
        strlen(role) > ZT_DESCRIPTOR_MAX_STR || (model && strlen(model) > ZT_DESCRIPTOR_MAX_STR))
        return ZT_EINVAL;
    struct timespec until = zt_time_after_ms(CLOCK_MONOTONIC, timeout_ms);
    dht_infohash h;
    key_of(&h, model ? "model" : "role", role, model);
    struct op *first = get_start(d, &h, role, model, NULL, now, max);
    if (!first) return ZT_ENOMEM;
    pthread_mutex_lock(&d->mu);
    wait_ops(d, &first, 1, &until);
    /* take what was found; then ask each node's own key for revocations
     * (and a newer descriptor), all at once */
    size_t m = first->n_res;
    struct zt_node_descriptor *cand = first->res;
    first->res = NULL;
    first->n_res = 0;
    first->max_res = 0;
    get_release(d, first);
    pthread_mutex_unlock(&d->mu);
    struct op **ops = m ? zt_calloc(m, sizeof *ops) : NULL;
    int rc = m && !ops ? ZT_ENOMEM : 0;
    for (size_t i = 0; i < m && !rc; i++) {
        dht_infohash hk;
        key_of(&hk, "node", cand[i].node_id, NULL);
        if (!(ops[i] = get_start(d, &hk, role, model, cand[i].node_id, now, 1))) rc = ZT_ENOMEM;
    }
    struct timespec floor_ts = zt_time_after_ms(CLOCK_MONOTONIC, NODE_KEYS_MIN_MS);
    if (floor_ts.tv_sec > until.tv_sec || (floor_ts.tv_sec == until.tv_sec && floor_ts.tv_nsec > until.tv_nsec))
        until = floor_ts;
    pthread_mutex_lock(&d->mu);
    if (!rc) wait_ops(d, ops, m, &until);
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        struct op *op = ops ? ops[i] : NULL;
        if (!rc && op && op->n_res == 1 && op->res[0].expires > cand[i].expires) { /* a rotation the model key has not seen yet */
            zt_node_descriptor_deinit(&cand[i]);
            cand[i] = op->res[0];
            op->n_res = 0;
        }
        get_release(d, op);
        if (rc || is_revoked(d, &cand[i])) {
            zt_node_descriptor_deinit(&cand[i]);
            continue;
        }
        out[k++] = cand[i];
    }
    pthread_mutex_unlock(&d->mu);
    zt_free(ops);
    zt_free(cand);
    if (rc) {
        for (size_t i = 0; i < k; i++) zt_node_descriptor_deinit(&out[i]);
        return rc;
    }
    *n = k;
    return 0;
}

/* ---- Publishing -------------------------------------------------------------------- */

/* Under d->mu. */
static void put_all(struct zt_dht *d)
{
    for (size_t i = 0; i < d->n_keys; i++) {
        if (d->desc_val) dht_runner_put(d->r, &d->keys[i], d->desc_val, NULL, NULL, false);
        for (size_t j = 0; j < d->n_own_rev; j++) dht_runner_put(d->r, &d->keys[i], d->own_rev[j], NULL, NULL, false);
    }
}

int zt_dht_publish(struct zt_dht *d, const char *json, size_t len, int64_t now)
{
    if (!d || !json) return ZT_EINVAL;
    struct zt_node_descriptor x;
    memset(&x, 0, sizeof x);
    int rc = zt_identity_descriptor_verify(json, len, now, &x);
    if (rc) return rc;
    char *copy = zt_strndup(json, len);
    dht_value *v = copy ? dht_value_new((const uint8_t *)json, len) : NULL;
    if (!v) {
        zt_free(copy);
        zt_node_descriptor_deinit(&x);
        return ZT_ENOMEM;
    }
    pthread_mutex_lock(&d->mu);
    bool same = d->desc && strcmp(d->desc, copy) == 0;
    if (same) { /* the same value again: it refreshes, it does not pile up */
        dht_value_unref(v);
        zt_free(copy);
    } else {
        if (d->desc_val) dht_value_unref(d->desc_val);
        zt_free(d->desc);
        d->desc_val = v;
        d->desc = copy;
        size_t k = 0, dropped = 0;
        key_of(&d->keys[k++], "node", x.node_id, NULL);
        for (size_t i = 0; i < x.n_roles; i++) {
            if (k < ZT_DHT_MAX_KEYS) key_of(&d->keys[k++], "role", x.roles[i], NULL);
            else dropped++;
            for (size_t j = 0; j < x.n_models; j++) {
                if (k < ZT_DHT_MAX_KEYS) key_of(&d->keys[k++], "model", x.roles[i], x.models[j]);
                else dropped++;
            }
        }
        d->n_keys = k;
        if (strstr(x.endpoint, "://0.0.0.0") || strstr(x.endpoint, "://[::]"))
            zt_log(ZT_LOG_WARN, "dht_endpoint_unroutable",
                   "endpoint=%s detail=\"other nodes cannot reach this address: set node.endpoint\"", x.endpoint);
        if (dropped)
            zt_log(ZT_LOG_WARN, "dht_keys_dropped", "keys=%zu dropped=%zu detail=\"a descriptor is published under at most %d keys\"",
                   k, dropped, ZT_DHT_MAX_KEYS);
    }
    put_all(d);
    pthread_mutex_unlock(&d->mu);
    zt_node_descriptor_deinit(&x);
    return 0;
}

int zt_dht_revoke(struct zt_dht *d, const char *json, size_t len)
{
    if (!d || !json) return ZT_EINVAL;
    struct zt_dht_revocation r;
    int rc = zt_dht_revocation_verify(json, len, &r);
    if (rc) return rc;
    dht_value *v = dht_value_new((const uint8_t *)json, len);
    if (!v) return ZT_ENOMEM;
    struct revoked e;
    revoked_of(&r, &e);
    dht_infohash hk;
    key_of(&hk, "node", r.node_id, NULL);
    pthread_mutex_lock(&d->mu);
    bool fresh = remember(d, &e);
    zt_dht_revocation_fn fn = d->rev_fn;
    void *fud = d->rev_ud;
    if (d->n_own_rev == OWN_REVOCATIONS) { /* the oldest goes */
        dht_value_unref(d->own_rev[0]);
        memmove(d->own_rev, d->own_rev + 1, (OWN_REVOCATIONS - 1) * sizeof *d->own_rev);
        d->n_own_rev--;
    }
    d->own_rev[d->n_own_rev++] = v;
    dht_runner_put(d->r, &hk, v, NULL, NULL, false);
    for (size_t i = 0; i < d->n_keys; i++) dht_runner_put(d->r, &d->keys[i], v, NULL, NULL, false);
    pthread_mutex_unlock(&d->mu);
    if (fresh) tell(fn, fud, &e);
    return 0;
}

int zt__dht_put_raw(struct zt_dht *d, const char *role, const char *model, const char *node_id, const void *data,
                    size_t len)
{
    if (!d || !data || !len || (!role && !node_id)) return ZT_EINVAL;
    dht_infohash h;
    if (role) key_of(&h, model ? "model" : "role", role, model);
    else key_of(&h, "node", node_id, NULL);
    dht_value *v = dht_value_new(data, len);
    if (!v) return ZT_ENOMEM;
    dht_runner_put(d->r, &h, v, NULL, NULL, false);
    dht_value_unref(v);
    return 0;
}

/* ns: a lower-case word that is not one of the descriptors' kinds. */
static bool ns_ok(const char *ns)
{
    if (!ns || !ns[0] || strlen(ns) > 32 || !strcmp(ns, "role") || !strcmp(ns, "model") || !strcmp(ns, "node"))
        return false;
    for (const char *c = ns; *c; c++)
        if (*c < 'a' || *c > 'z') return false;
    return true;
}

int zt_dht_put_value(struct zt_dht *d, const char *ns, const char *name, const void *data, size_t len)
{
    if (!d || !ns_ok(ns) || !name || strlen(name) > ZT_DESCRIPTOR_MAX_STR || !data || !len || len > ZT_DHT_VALUE_MAX)
        return ZT_EINVAL;
    dht_infohash h;
    key_of(&h, ns, name, NULL);
    dht_value *v = dht_value_new(data, len);
    if (!v) return ZT_ENOMEM;
    dht_runner_put(d->r, &h, v, NULL, NULL, false);
    dht_value_unref(v);
    return 0;
}

int zt_dht_get_values(struct zt_dht *d, const char *ns, const char *name, unsigned timeout_ms, zt_dht_value_fn fn,
                      void *ud)
{
    if (!d || !ns_ok(ns) || !name || strlen(name) > ZT_DESCRIPTOR_MAX_STR || !fn) return ZT_EINVAL;
    dht_infohash h;
    key_of(&h, ns, name, NULL);
    struct op *op = zt_calloc(1, sizeof *op);
    if (!op) return ZT_ENOMEM;
    op->d = d;
    op->raw = fn;
    op->raw_ud = ud;
    op_launch(d, &h, op);
    struct timespec until = zt_time_after_ms(CLOCK_MONOTONIC, timeout_ms);
    pthread_mutex_lock(&d->mu);
    wait_ops(d, &op, 1, &until);
    get_release(d, op);
    pthread_mutex_unlock(&d->mu);
    return 0;
}

/* ---- The publisher and discovery thread ------------------------------------------- */

/* Fold one lookup's results (taken) into what the node has seen: the later
 * expiry per node, seen now; a node no lookup has returned for FORGET_MS
 * (a lookup can miss one: a flooded key, a lost UDP answer), an expired
 * descriptor and a revoked key go. Only the discovery thread calls it. */
static void fold_seen(struct zt_dht *d, struct zt_node_descriptor *v, size_t n)
{
    uint64_t t = zt_time_mono_ms();
    int64_t now = zt_time_real_ms() / 1000;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < d->n_seen && strcmp(d->seen[j].d.node_id, v[i].node_id) != 0) j++;
        if (j == d->n_seen) { /* a new node */
            if (j == SEEN_MAX) {
                zt_node_descriptor_deinit(&v[i]);
                continue;
            }
            memset(&d->seen[j], 0, sizeof d->seen[j]); /* may hold a moved entry's copy */
            d->n_seen++;
        } else if (v[i].expires < d->seen[j].d.expires) { /* an older descriptor: still there */
            d->seen[j].last_ms = t;
            zt_node_descriptor_deinit(&v[i]);
            continue;
        }
        zt_node_descriptor_deinit(&d->seen[j].d);
        d->seen[j].d = v[i];
        d->seen[j].last_ms = t;
        memset(&v[i], 0, sizeof v[i]);
    }
    size_t w = 0;
    pthread_mutex_lock(&d->mu);
    for (size_t j = 0; j < d->n_seen; j++) {
        struct seen *e = &d->seen[j];
        if (now >= e->d.expires || t - e->last_ms > FORGET_MS || is_revoked(d, &e->d)) {
            zt_node_descriptor_deinit(&e->d);
            continue;
        }
        d->seen[w++] = *e;
    }
    d->n_seen = w;
    pthread_mutex_unlock(&d->mu);
}

/* The node's discovery: workers (to seal jobs to) and, for a worker, the
 * gateways (whose signed requests it then admits) become peers. */
static void discover(struct zt_dht *d)
{
    struct zt_node_descriptor *v = zt_calloc(2 * ZT_DHT_MAX_RESULTS + WANTED_MAX * WANTED_RESULTS, sizeof *v);
    size_t n = 0, ng = 0;
    if (!v || zt_dht_lookup(d, "worker", NULL, zt_time_real_ms() / 1000, LOOKUP_TIMEOUT_MS, v, ZT_DHT_MAX_RESULTS, &n) != 0) {
        zt_free(v);
        return;
    }
    if (d->gateways &&
        zt_dht_lookup(d, "gateway", NULL, zt_time_real_ms() / 1000, LOOKUP_TIMEOUT_MS, v + n, ZT_DHT_MAX_RESULTS, &ng) == 0)
        n += ng;
    /* the models asked for that no peer served: their own keys, for when
     * the role's key holds more workers than one lookup keeps */
    char (*wanted)[ZT_DESCRIPTOR_MAX_STR + 1] = zt_malloc(sizeof d->wanted);
    size_t nw = 0;
    if (wanted) {
        pthread_mutex_lock(&d->mu);
        nw = d->n_wanted;
        memcpy(wanted, d->wanted, sizeof d->wanted);
        pthread_mutex_unlock(&d->mu);
    }
    for (size_t i = 0; i < nw; i++) {
        size_t nm = 0;
        if (zt_dht_lookup(d, "worker", wanted[i], zt_time_real_ms() / 1000, LOOKUP_TIMEOUT_MS, v + n, WANTED_RESULTS,
                          &nm) == 0)
            n += nm;
    }
    zt_free(wanted);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) { /* never ourselves */
        if (strcmp(v[i].node_id, d->self_id) == 0) zt_node_descriptor_deinit(&v[i]);
        else v[w++] = v[i];
    }
    fold_seen(d, v, w);
    zt_free(v);
    struct zt_node_descriptor *all = d->n_seen ? zt_calloc(d->n_seen, sizeof *all) : NULL;
    for (size_t i = 0; all && i < d->n_seen; i++) all[i] = d->seen[i].d; /* shallow: set_discovered copies */
    size_t kept = 0;
    if ((all || !d->n_seen) && zt_peers_set_discovered(d->peers, all, all ? d->n_seen : 0, zt_time_real_ms() / 1000, &kept) == 0 &&
        kept != d->last_found) {
        zt_log(ZT_LOG_INFO, "dht_peers", "found=%zu", kept);
        d->last_found = kept;
    }
    zt_free(all);
    if (!kept && d->bootstrap) /* alone so far: knock again (a bootstrap node may have come up since) */
        for (size_t i = 0; i < d->bootstrap->count; i++) zt_ignore(zt_dht_bootstrap(d, d->bootstrap->items[i]));
}

static void *thread_main(void *arg)
{
    struct zt_dht *d = arg;
    uint64_t next_pub = 0, next_look = 0, pub_every = 1000, look_every = 1000;
    pthread_mutex_lock(&d->mu);
    while (!d->stop) {
        bool nudged = d->nudged;
        d->nudged = false;
        pthread_mutex_unlock(&d->mu);
        uint64_t t = zt_time_mono_ms();
        if (d->sign && t >= next_pub) {
            char *json = NULL;
            int rc = d->sign(d->sign_ud, &json);
            if (!rc) rc = zt_dht_publish(d, json, strlen(json), zt_time_real_ms() / 1000);
            zt_free(json);
            if (rc) zt_log(ZT_LOG_WARN, "dht_publish_failed", "reason=\"%s\"", zt_strerror(rc));
            next_pub = t + pub_every;
            pub_every = pub_every * 2 < (uint64_t)d->refresh_s * 1000 ? pub_every * 2 : (uint64_t)d->refresh_s * 1000;
        }
        if (d->peers && (t >= next_look || nudged)) {
            discover(d);
            next_look = zt_time_mono_ms() + look_every;
            look_every = look_every * 2 < LOOKUP_MAX_INTERVAL_MS ? look_every * 2 : LOOKUP_MAX_INTERVAL_MS;
        }
        uint64_t wake = d->sign ? next_pub : UINT64_MAX;
        if (d->peers && next_look < wake) wake = next_look;
        t = zt_time_mono_ms();
        struct timespec until = zt_time_after_ms(CLOCK_MONOTONIC, wake > t ? (wake - t < 60000 ? wake - t : 60000) : 0);
        pthread_mutex_lock(&d->mu);
        if (!d->stop && !d->nudged) zt_ignore(pthread_cond_timedwait(&d->cv, &d->mu, &until));
    }
    pthread_mutex_unlock(&d->mu);
    return NULL;
}

/* The peer registry's hook: a node it does not know (a signed request
 * from a gateway this worker has not found yet) or a model no peer serves
 * (remembered: discovery then also reads that model's key). Runs discovery
 * now, at most every NUDGE_MS; never waits for it. */
static void nudge(void *ud, const char *node_id, const char *model)
{
    (void)node_id;
    struct zt_dht *d = ud;
    uint64_t t = zt_time_mono_ms();
    pthread_mutex_lock(&d->mu);
    if (model && model[0] && strlen(model) <= ZT_DESCRIPTOR_MAX_STR) {
        bool known = false;
        for (size_t i = 0; i < d->n_wanted && !known; i++) known = strcmp(d->wanted[i], model) == 0;
        if (!known) { /* the last WANTED_MAX models asked for */
            zt_strlcpy(d->wanted[d->wanted_next], model, sizeof d->wanted[0]);
            d->wanted_next = (d->wanted_next + 1) % WANTED_MAX;
            if (d->n_wanted < WANTED_MAX) d->n_wanted++;
        }
    }
    if (t - d->last_nudge_ms >= NUDGE_MS || !d->last_nudge_ms) {
        d->last_nudge_ms = t;
        d->nudged = true;
        pthread_cond_broadcast(&d->cv);
    }
    pthread_mutex_unlock(&d->mu);
}

int zt_dht_publish_from(struct zt_dht *d, zt_dht_sign_fn sign, void *ud)
{
    if (!d) return ZT_EINVAL;
    if (d->th_started) return ZT_EEXIST;
    d->sign = sign;
    d->sign_ud = ud;
    if (pthread_create(&d->th, NULL, thread_main, d) != 0) return ZT_ENOMEM;
    d->th_started = true;
    return 0;
}

int zt_dht_node_start(const struct zt_config *cfg, zt_dht_sign_fn sign, void *sign_ud, struct zt_peers *peers,
                      const char *self_id, struct zt_dht **out, struct zt_buf *err)
{
    *out = NULL;
    if (!cfg->node.dht_port) return 0;
    struct zt_dht_opts o = {.port = (uint16_t)cfg->node.dht_port, .multicast = cfg->node.dht_multicast};
    struct zt_dht *d = NULL;
    int rc = zt_dht_new(&o, &d);
    if (rc) {
        if (err)
            zt_ignore(zt_buf_appendf(err, "node.dht_port %u: %s", (unsigned)o.port,
                                     rc == ZT_EIO ? "cannot bind the UDP port" : zt_strerror(rc)));
        return rc;
    }
    d->bootstrap = &cfg->node.bootstrap;
    for (size_t i = 0; i < cfg->node.bootstrap.count; i++)
        if (zt_dht_bootstrap(d, cfg->node.bootstrap.items[i]) != 0)
            zt_log(ZT_LOG_WARN, "dht_bootstrap_invalid", "node=\"%s\"", cfg->node.bootstrap.items[i]);
    d->peers = peers;
    if (!(d->seen = zt_calloc(SEEN_MAX, sizeof *d->seen))) {
        zt_dht_free(d);
        return ZT_ENOMEM;
    }
    d->gateways = (cfg->node.role_mask & ZT_ROLE_WORKER) != 0;
    zt_strlcpy(d->self_id, self_id ? self_id : "", sizeof d->self_id);
    rc = zt_dht_publish_from(d, sign, sign_ud);
    if (rc) {
        zt_dht_free(d);
        return rc;
    }
    zt_peers_set_unknown_hook(peers, nudge, d);
    zt_log(ZT_LOG_INFO, "dht_started", "port=%u bootstrap=%zu multicast=%s", (unsigned)d->port,
           cfg->node.bootstrap.count, cfg->node.dht_multicast ? "on" : "off");
    *out = d;
    return 0;
}

#endif /* ZT_HAVE_OPENDHT */
