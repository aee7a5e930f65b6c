/* http_server.c: libmicrohttpd wrapper. See zt_http.h and docs/internals/http.md.
 *
 * Request life cycle (libmicrohttpd calls on_access several times):
 *   1st call   headers are in: create the request, check header and
 *              Content-Length limits, count it in flight.
 *   n calls    body chunks: append to a buffer bounded by max_body_bytes.
 *   last call  (*upload_size == 0): run the handler, queue the response.
 *   completed  on_completed: observer (metrics), free, no longer in flight.
 * A limit hit early answers at once; libmicrohttpd then closes the connection
 * rather than reading the rest of the body. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_json_num.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"

#ifndef POLLRDHUP
#define POLLRDHUP 0x2000 /* Linux; <poll.h> defines it only with _GNU_SOURCE */
#endif

#define RESP_MAX_BYTES (64u * 1024u * 1024u)
#define PATH_MAX_BYTES 2048
#define DISCARD_MAX_BYTES (8u * 1024u * 1024u)

/* ---- per-address accounting (slowloris, issue 17 item 2) ----------------
 * Every connection is counted against its peer address (IPv4, or the /64
 * of an IPv6 address) from accept to close; every request in flight against
 * its client address (the peer, or the forwarded address when the peer is a
 * trusted proxy). A timer thread closes connections whose request head is
 * not complete within header_timeout_s. docs/internals/http.md. */
struct addr_key {
    uint8_t b[16]; /* IPv6, or IPv4-mapped */
};

struct addr_ent {
    struct addr_key k;
    unsigned conns;    /* connections from this peer address */
    unsigned inflight; /* requests in flight for this client address */
    struct addr_ent *next;
};

struct cidr {
    struct addr_key k;
    unsigned bits; /* of the 128 */
};

struct conn_ctx {
    struct addr_key peer;
    bool proxy;          /* the peer is a trusted proxy */
    int fd;
    uint64_t head_start_ms; /* accept, or the end of the previous request */
    bool head_done;      /* a request's head is in (until it completes) */
    bool upgraded;       /* handed over (WebSocket): no deadline */
    bool cut;            /* the deadline closed it */
    struct conn_ctx *prev, *next;
};

#define ADDR_BUCKETS 1024
#define MAX_FORWARDED_HOPS 32

struct zt_http_server {
    struct MHD_Daemon *mhd;
    int listen_fd;
    uint16_t port;
    struct zt_http_opts opts;
    atomic_int_fast64_t inflight;
    pthread_mutex_t idle_mu; /* with idle_cv: told when inflight drops to 0 */
    pthread_cond_t idle_cv;
    atomic_uint_fast64_t next_id;
    uint64_t id_salt;
    /* guard: per-address counts, the connection list, the head deadline */
    pthread_mutex_t gmu;
    struct addr_ent *buckets[ADDR_BUCKETS];
    unsigned total_conns;
    unsigned cap_existing; /* connections an address that has one may add up to */
    struct conn_ctx *conns;
    struct cidr *proxies;
    size_t n_proxies;
    pthread_t reaper;
    pthread_cond_t reaper_cv;
    bool reaper_running, reaper_stop;
    atomic_uint_fast64_t refused_per_address, refused_reserve, cut_head;
};

struct zt_http_req {
    bool started;        /* on_access has seen it (else only the URI log ran) */
    struct conn_ctx *cc; /* its connection's accounting (NULL: none) */
    struct addr_key client; /* peer, or forwarded address from a trusted proxy */
    char client_str[INET6_ADDRSTRLEN];
    bool counted;        /* counted in flight for client */
    char target[PATH_MAX_BYTES]; /* request target as received: path?query */
    bool target_too_long;
    struct zt_http_server *srv;
    struct MHD_Connection *conn;
    const char *method;
    char path[PATH_MAX_BYTES];
    char id[ZT_HTTP_REQUEST_ID_LEN];
    const char *route;
    uint64_t start_ns;
    struct zt_buf body;
    int status;          /* status sent, for the observer */
    int reject_status;   /* a limit was hit: answer this and stop */
    const char *reject_code;
    const char *reject_msg;
    bool reject_close;   /* framing in doubt: answer, then close the connection */
    bool bare_lf;        /* the request line ended in a bare LF (on_uri) */
    size_t discarded;    /* body bytes dropped after a late reject */
    bool responded;
    struct zt_http_async *async; /* deferred or streamed answer */
    zt_http_upgrade_fn upgrade_fn; /* set: answer 101 and hand the socket over */
    void *upgrade_ud;
    bool upgraded;       /* the socket was handed over: no longer in flight */
};

struct zt_http_upgraded {
    struct MHD_UpgradeResponseHandle *urh;
};

#define STREAM_MAX_PENDING (8u * 1024u * 1024u)

struct zt_http_async {
    pthread_mutex_t mu;
    int refs;                     /* the request (until completion) + the producer */
    struct MHD_Connection *conn;
    struct zt_http_req *req;      /* NULL once the request completed */
    bool stream;
    bool failed;                  /* stream: end without the last chunk */
    bool suspended;
    bool closed;                  /* connection ended: no more resume */
    bool ended;                   /* stream: producer is done */
    bool ready;                   /* deferred: response stored */
    bool sent;                    /* deferred: response queued */
    int status;
    const char *content_type;
    char ctype_buf[128];          /* zt_http_async_stream_start()'s copy */
    bool late_stream;             /* deferred handle turned into a stream */
    struct zt_http_resp resp;     /* deferred answer, or stream headers */
    struct zt_buf pending;        /* stream bytes not yet given to libmicrohttpd */
    size_t pending_off;
    zt_http_close_fn on_close;
    void *ud;
};

/* ---- per-address accounting --------------------------------------------- */

static bool key_from_sockaddr(const struct sockaddr *sa, struct addr_key *k)
{
    memset(k, 0, sizeof *k);
    if (!sa) return false;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)(const void *)sa;
        k->b[10] = k->b[11] = 0xff;
        memcpy(k->b + 12, &in4->sin_addr, 4);
        return true;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        memcpy(k->b, &in6->sin6_addr, 16);
        /* one IPv6 host holds a /64: count the /64 */
        if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) memset(k->b + 8, 0, 8);
        return true;
    }
    return false;
}

/* A textual IPv4 or IPv6 address (a [v6] with brackets, an IPv4 with
 * :port, as in Forwarded) into k. */
static bool key_from_text(const char *t, size_t n, struct addr_key *k)
{
    char buf[INET6_ADDRSTRLEN + 8];
    while (n && (*t == ' ' || *t == '\t' || *t == '"')) t++, n--;
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '"')) n--;
    if (n == 0 || n >= sizeof buf) return false;
    memcpy(buf, t, n);
    buf[n] = '\0';
    char *a = buf;
    if (a[0] == '[') { /* [v6] or [v6]:port */
        char *e = strchr(a, ']');
        if (!e) return false;
        *e = '\0';
        a++;
    } else if (strchr(a, '.') && strchr(a, ':')) {
        *strchr(a, ':') = '\0'; /* v4:port */
    }
    struct sockaddr_in in4 = {.sin_family = AF_INET};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};
    if (inet_pton(AF_INET, a, &in4.sin_addr) == 1) return key_from_sockaddr((struct sockaddr *)&in4, k);
    if (inet_pton(AF_INET6, a, &in6.sin6_addr) == 1) return key_from_sockaddr((struct sockaddr *)&in6, k);
    return false;
}

static void key_to_text(const struct addr_key *k, char *out, size_t n)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(k->b, mapped, 12) == 0) {
        if (!inet_ntop(AF_INET, k->b + 12, out, (socklen_t)n)) zt_strlcpy(out, "?", n);
    } else if (!inet_ntop(AF_INET6, k->b, out, (socklen_t)n)) {
        zt_strlcpy(out, "?", n);
    }
}

static bool cidr_match(const struct cidr *c, const struct addr_key *k)
{
    unsigned full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->k.b, k->b, full) != 0) return false;
    if (!rest) return true;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (c->k.b[full] & mask) == (k->b[full] & mask);
}

/* "ADDR" or "ADDR/BITS" (IPv4 or IPv6). */
static int parse_cidr(const char *t, struct cidr *out)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (zt_strlcpy(buf, t, sizeof buf) >= sizeof buf) return ZT_EINVAL;
    char *slash = strchr(buf, '/');
    long bits = -1;
    if (slash) {
        *slash = '\0';
        char *end;
        bits = strtol(slash + 1, &end, 10);
        if (*end || end == slash + 1) return ZT_EINVAL;
    }
    struct in_addr a4;
    struct in6_addr a6;
    memset(out, 0, sizeof *out);
    if (inet_pton(AF_INET, buf, &a4) == 1) {
        if (bits > 32) return ZT_EINVAL;
        out->k.b[10] = out->k.b[11] = 0xff;
        memcpy(out->k.b + 12, &a4, 4);
        out->bits = 96 + (unsigned)(bits < 0 ? 32 : bits);
        return 0;
    }
    if (inet_pton(AF_INET6, buf, &a6) == 1) {
        if (bits > 128) return ZT_EINVAL;
        memcpy(out->k.b, &a6, 16);
        out->bits = (unsigned)(bits < 0 ? 128 : bits);
        return 0;
    }
    return ZT_EINVAL;
}

/* A trusted proxy is matched on its full address (not the /64 key). */
static bool is_proxy_sa(const struct zt_http_server *s, const struct sockaddr *sa)
{
    if (!s->n_proxies || !sa) return false;
    struct addr_key k;
    if (!key_from_sockaddr(sa, &k)) return false;
    if (sa->sa_family == AF_INET6) memcpy(k.b, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
    for (size_t i = 0; i < s->n_proxies; i++)
        if (cidr_match(&s->proxies[i], &k)) return true;
    return false;
}

static bool is_proxy_key(const struct zt_http_server *s, const struct addr_key *k)
{
    for (size_t i = 0; i < s->n_proxies; i++)
        if (cidr_match(&s->proxies[i], k)) return true;
    return false;
}

static unsigned addr_hash(const struct addr_key *k)
{
    return (unsigned)(zt_fnv1a64(k->b, sizeof k->b) % ADDR_BUCKETS);
}

/* The caller holds gmu. NULL when absent (create false) or out of memory. */
static struct addr_ent *addr_get(struct zt_http_server *s, const struct addr_key *k, bool create)
{
    struct addr_ent **b = &s->buckets[addr_hash(k)];
    for (struct addr_ent *e = *b; e; e = e->next)
        if (memcmp(e->k.b, k->b, sizeof k->b) == 0) return e;
    if (!create) return NULL;
    struct addr_ent *e = zt_calloc(1, sizeof *e);
    if (!e) return NULL;
    e->k = *k;
    e->next = *b;
    *b = e;
    return e;
}

/* The caller holds gmu: drop the entry once nothing counts on it. */
static void addr_put(struct zt_http_server *s, struct addr_ent *e)
{
    if (!e || e->conns || e->inflight) return;
    for (struct addr_ent **pp = &s->buckets[addr_hash(&e->k)]; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            zt_free(e);
            return;
        }
    }
}

/* True when the client closed its side (FIN or reset) of a connection
 * between requests and libmicrohttpd has read everything it sent: nothing
 * more can come. libmicrohttpd 0.9.75 can leave such a connection open
 * until its idle timeout (seen after a 4xx on a kept-alive connection),
 * where it would count against its address. */
static bool peer_gone(int fd)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN | POLLRDHUP};
    if (poll(&pf, 1, 0) <= 0 || !(pf.revents & (POLLRDHUP | POLLHUP | POLLERR))) return false;
    int unread = 0;
    return ioctl(fd, FIONREAD, &unread) == 0 && unread == 0;
}

/* The caller holds gmu: close (shutdown) connections waiting for a head
 * whose client is gone, and return how many connections from k still
 * count. Only when an address is at a limit (O(connections)). */
static unsigned live_conns(struct zt_http_server *s, const struct addr_key *k)
{
    unsigned n = 0;
    for (struct conn_ctx *cc = s->conns; cc; cc = cc->next) {
        if (memcmp(cc->peer.b, k->b, sizeof k->b) != 0 || cc->cut) continue;
        if (!cc->head_done && !cc->upgraded && cc->fd >= 0 && peer_gone(cc->fd)) {
            shutdown(cc->fd, SHUT_RDWR);
            cc->cut = true;
            continue;
        }
        n++;
    }
    return n;
}

/* libmicrohttpd's accept policy: refuse an address over its share before
 * a connection is set up. (Counted exactly in on_connection; between the
 * two, accepts racing on several threads may pass a limit by a few.) */
static enum MHD_Result on_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
    (void)addrlen;
    struct zt_http_server *s = cls;
    struct addr_key k;
    if (!key_from_sockaddr(addr, &k)) return MHD_YES;
    if (is_proxy_sa(s, addr)) return MHD_YES; /* many users behind it: limited per forwarded address */
    pthread_mutex_lock(&s->gmu);
    struct addr_ent *e = addr_get(s, &k, false);
    unsigned have = e ? e->conns : 0;
    bool per_addr = s->opts.max_conns_per_address && have >= s->opts.max_conns_per_address;
    bool reserve = have > 0 && s->total_conns >= s->cap_existing;
    if (per_addr || reserve) { /* at a limit: count only connections whose client is still there */
        unsigned live = live_conns(s, &k);
        unsigned gone = have - live;
        have = live;
        per_addr = s->opts.max_conns_per_address && have >= s->opts.max_conns_per_address;
        reserve = have > 0 && s->total_conns - gone >= s->cap_existing;
    }
    pthread_mutex_unlock(&s->gmu);
    if (!per_addr && !reserve) return MHD_YES;
    char t[INET6_ADDRSTRLEN];
    key_to_text(&k, t, sizeof t);
    atomic_fetch_add(per_addr ? &s->refused_per_address : &s->refused_reserve, 1);
    zt_log_rl(ZT_LOG_WARN, 1, "connection_refused", "addr=%s open=%u reason=%s", t, have,
              per_addr ? "server.max_connections_per_address" : "server.new_address_reserve_percent");
    return MHD_NO;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    struct zt_http_server *s = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn_ctx *cc = zt_calloc(1, sizeof *cc);
        *socket_context = cc;
        if (!cc) return; /* not counted, no deadline: only under memory pressure */
        const union MHD_ConnectionInfo *ai = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        const union MHD_ConnectionInfo *fi = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        cc->fd = fi ? (int)fi->connect_fd : -1;
        zt_ignore(key_from_sockaddr(ai ? ai->client_addr : NULL, &cc->peer));
        cc->proxy = is_proxy_sa(s, ai ? ai->client_addr : NULL);
        cc->head_start_ms = zt_time_mono_ms();
        pthread_mutex_lock(&s->gmu);
        struct addr_ent *e = addr_get(s, &cc->peer, true);
        if (e) e->conns++;
        s->total_conns++;
        cc->next = s->conns;
        if (s->conns) s->conns->prev = cc;
        s->conns = cc;
        pthread_mutex_unlock(&s->gmu);
        return;
    }
    struct conn_ctx *cc = *socket_context;
    if (!cc) return;
    /* libmicrohttpd calls this before it closes the socket: once the entry
     * is unlinked (under gmu) the reaper no longer touches cc->fd */
    pthread_mutex_lock(&s->gmu);
    if (cc->prev) cc->prev->next = cc->next;
    else s->conns = cc->next;
    if (cc->next) cc->next->prev = cc->prev;
    struct addr_ent *e = addr_get(s, &cc->peer, false);
    if (e) {
        e->conns--;
        addr_put(s, e);
    }
    s->total_conns--;
    pthread_mutex_unlock(&s->gmu);
    zt_free(cc);
    *socket_context = NULL;
}

/* The head deadline: every 250 ms, connections whose request head has not
 * come in full within header_timeout_s of its start are shut down (the
 * socket; libmicrohttpd then sees the end and closes the connection).
 * libmicrohttpd's own timeout is an idle timeout that each trickled byte
 * resets. */
static void *reaper_main(void *arg)
{
    struct zt_http_server *s = arg;
    uint64_t limit = (uint64_t)s->opts.header_timeout_s * 1000u;
    pthread_mutex_lock(&s->gmu);
    while (!s->reaper_stop) {
        uint64_t now = zt_time_mono_ms();
        unsigned cut = 0;
        for (struct conn_ctx *cc = s->conns; cc; cc = cc->next) {
            if (cc->head_done || cc->upgraded || cc->cut || cc->fd < 0) continue;
            if (now - cc->head_start_ms > limit) {
                cut++;
            } else if (!peer_gone(cc->fd)) {
                continue;
            }
            shutdown(cc->fd, SHUT_RDWR);
            cc->cut = true;
        }
        if (cut) {
            atomic_fetch_add(&s->cut_head, cut);
            zt_log_rl(ZT_LOG_WARN, 1, "request_head_timeout", "closed=%u detail=\"request head not complete within "
                      "server.header_timeout_s\"", cut);
        }
        struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, 250);
        pthread_cond_timedwait(&s->reaper_cv, &s->gmu, &ts);
    }
    pthread_mutex_unlock(&s->gmu);
    return NULL;
}

/* Which address a request is from: the peer, or, when the peer is a
 * trusted proxy, the nearest address in Forwarded (for=) or
 * X-Forwarded-For that is not itself a trusted proxy (walking from the
 * right: entries further left were written by whoever the proxy forwarded
 * for, and are only believed through a chain of trusted proxies). */
struct fwd_scan {
    const char *forwarded[8], *xff[8];
    size_t n_forwarded, n_xff;
};

static enum MHD_Result collect_fwd(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct fwd_scan *f = cls;
    if (!key || !value) return MHD_YES;
    if (strcasecmp(key, "Forwarded") == 0 && f->n_forwarded < 8) f->forwarded[f->n_forwarded++] = value;
    if (strcasecmp(key, "X-Forwarded-For") == 0 && f->n_xff < 8) f->xff[f->n_xff++] = value;
    return MHD_YES;
}

/* Split the header values into hop addresses (for= of each Forwarded
 * element, or each X-Forwarded-For entry), in order. A hop that is not an
 * address (unknown, _obfuscated) ends the chain there: hops[i].ok false. */
struct hop {
    struct addr_key k;
    bool ok;
};

static size_t split_hops(const char *const *vals, size_t nv, bool forwarded, struct hop *hops, size_t cap)
{
    size_t n = 0;
    for (size_t v = 0; v < nv; v++) {
        for (const char *p = vals[v]; *p && n < cap;) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            const char *t = p;
            size_t tl = len;
            if (forwarded) { /* for=...; by=...; proto=... */
                tl = 0;
                for (const char *q = p; q < p + len;) {
                    while (q < p + len && (*q == ' ' || *q == ';')) q++;
                    const char *qe = memchr(q, ';', (size_t)(p + len - q));
                    size_t ql = qe ? (size_t)(qe - q) : (size_t)(p + len - q);
                    if (ql > 4 && strncasecmp(q, "for=", 4) == 0) {
                        t = q + 4;
                        tl = ql - 4;
                    }
                    q += ql;
                }
            }
            hops[n].ok = tl && key_from_text(t, tl, &hops[n].k);
            n++;
            p += len;
            if (*p == ',') p++;
        }
    }
    return n;
}

static void resolve_client(struct zt_http_req *r, struct MHD_Connection *c)
{
    struct zt_http_server *s = r->srv;
    r->client = r->cc->peer;
    if (r->cc->proxy) {
        struct fwd_scan f = {0};
        MHD_get_connection_values(c, MHD_HEADER_KIND, collect_fwd, &f);
        struct hop hops[MAX_FORWARDED_HOPS];
        size_t n = f.n_forwarded ? split_hops(f.forwarded, f.n_forwarded, true, hops, MAX_FORWARDED_HOPS)
                                 : split_hops(f.xff, f.n_xff, false, hops, MAX_FORWARDED_HOPS);
        for (size_t i = n; i-- > 0;) {
            if (!hops[i].ok) break;
            r->client = hops[i].k;
            if (!is_proxy_key(s, &hops[i].k)) break;
        }
    }
    key_to_text(&r->client, r->client_str, sizeof r->client_str);
}

/* Count the request in flight for its client; past the per-address limit
 * for a forwarded client, 429 and close (a direct client is held by the
 * connection limit already). */
static void count_client(struct zt_http_req *r, bool forwarded);

/* ---- responses ---------------------------------------------------------- */

static enum MHD_Result async_continue(struct zt_http_req *r);

static void jansson_free(void *p)
{
    json_free_t jfree;
    json_get_alloc_funcs(NULL, &jfree); /* json_dumps used jansson's allocator */
    jfree(p);
}

void zt_http_resp_error(struct zt_http_resp *resp, int status, const char *code,
                        const char *message)
{
    resp->status = status;
    resp->content_type = "application/json";
    zt_buf_reset(&resp->body);
    /* OpenAI clients read error.type; ours read error.code: give both */
    const char *type = status == 401   ? "authentication_error"
                       : status == 403 ? "permission_error"
                       : status == 404 ? "not_found_error"
                       : status == 429 ? "rate_limit_error"
                       : status >= 500 ? "server_error"
                                       : "invalid_request_error";
    json_t *j = json_pack("{s:{s:s,s:s,s:s}}", "error", "code", code, "message", message, "type", type);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    if (!s || zt_buf_append_str(&resp->body, s) != 0 || zt_buf_append_byte(&resp->body, '\n') != 0) {
        zt_buf_reset(&resp->body);
        zt_ignore(zt_buf_append_str(&resp->body,
                                "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}\n"));
    }
    json_decref(j);
    if (s) jansson_free(s);
}

void zt_http_resp_json(struct zt_http_resp *resp, int status, json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    zt_buf_reset(&resp->body);
    /* reals in their shortest round-trip form (0.8, not 0.80000000000000004) */
    if (!s || zt_json_shorten_reals(s, strlen(s), &resp->body) != 0 || zt_buf_append_byte(&resp->body, '\n') != 0) {
        if (s) jansson_free(s);
        zt_http_resp_error(resp, 500, "internal", "could not encode the response");
        return;
    }
    jansson_free(s);
    resp->status = status;
    resp->content_type = "application/json";
}

int zt_http_resp_header(struct zt_http_resp *resp, const char *name, const char *value)
{
    if (resp->n_headers >= ZT_HTTP_MAX_RESP_HEADERS) return ZT_ETOOBIG;
    if (strlen(value) >= sizeof resp->headers[0].value) return ZT_ETOOBIG;
    for (const char *p = value; *p; p++)
        if (*p == '\r' || *p == '\n') return ZT_EINVAL; /* no header injection */
    resp->headers[resp->n_headers].name = name;
    zt_strlcpy(resp->headers[resp->n_headers].value, value, sizeof resp->headers[0].value);
    resp->n_headers++;
    return 0;
}

static void free_body(void *p)
{
    zt_free(p);
}

static void add_common_headers(struct MHD_Response *mr, const char *request_id)
{
    MHD_add_response_header(mr, "X-Request-Id", request_id);
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
}

/* Add the handler's own headers (resp may be NULL), queue mr with status and
 * let go of it. */
static enum MHD_Result queue(struct zt_http_req *r, struct MHD_Response *mr, int status,
                             const struct zt_http_resp *resp)
{
    for (size_t i = 0; resp && i < resp->n_headers; i++)
        MHD_add_response_header(mr, resp->headers[i].name, resp->headers[i].value);
    r->status = status;
    r->responded = true;
    enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, mr);
    MHD_destroy_response(mr);
    return ret;
}

static enum MHD_Result send_resp(struct zt_http_req *r, struct zt_http_resp *resp)
{
    size_t len = 0;
    char *data = zt_buf_detach(&resp->body, &len);
    struct MHD_Response *mr = NULL;
    if (data) mr = MHD_create_response_from_buffer_with_free_callback(len, data, free_body);
    if (!mr) {
        zt_free(data);
        return MHD_NO; /* libmicrohttpd closes the connection */
    }
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE,
                            resp->content_type ? resp->content_type : "application/json");
    add_common_headers(mr, r->id);
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    return queue(r, mr, resp->status, resp);
}

void zt_http_resp_init(struct zt_http_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->status = 200;
    resp->content_type = "application/json";
    zt_buf_init(&resp->body, RESP_MAX_BYTES);
}

void zt_http_resp_deinit(struct zt_http_resp *resp)
{
    zt_buf_deinit(&resp->body);
}

static enum MHD_Result send_error(struct zt_http_req *r, int status, const char *code,
                                  const char *msg)
{
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    zt_http_resp_error(&resp, status, code, msg);
    /* libmicrohttpd closes the connection after a response that says so:
     * nothing pipelined behind a request whose end is in doubt is read */
    if (r->reject_close) zt_ignore(zt_http_resp_header(&resp, MHD_HTTP_HEADER_CONNECTION, "close"));
    enum MHD_Result ret = send_resp(r, &resp);
    zt_buf_deinit(&resp.body);
    return ret;
}

/* ---- request accessors -------------------------------------------------- */

const char *zt_http_req_method(const struct zt_http_req *r) { return r->method; }
const char *zt_http_req_path(const struct zt_http_req *r) { return r->path; }
const char *zt_http_req_id(const struct zt_http_req *r) { return r->id; }
const char *zt_http_req_target(const struct zt_http_req *r) { return r->target; }

const char *zt_http_req_header(const struct zt_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *zt_http_req_query(const struct zt_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *zt_http_req_body(const struct zt_http_req *r, size_t *len)
{
    if (len) *len = r->body.len;
    return zt_buf_str(&r->body);
}

bool zt_http_req_peer_is_loopback(const struct zt_http_req *r)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr) return false;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in4->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

const char *zt_http_req_client_addr(const struct zt_http_req *r)
{
    return r->client_str[0] ? r->client_str : "";
}

void zt_http_req_set_route(struct zt_http_req *r, const char *label)
{
    r->route = label;
}

/* ---- deferred and streamed responses ------------------------------------ */

static void async_unref(struct zt_http_async *a)
{
    pthread_mutex_lock(&a->mu);
    int left = --a->refs;
    pthread_mutex_unlock(&a->mu);
    if (left) return;
    zt_buf_deinit(&a->resp.body);
    zt_buf_deinit(&a->pending);
    pthread_mutex_destroy(&a->mu);
    zt_free(a);
}

static struct zt_http_async *async_new(struct zt_http_req *r, bool stream, zt_http_close_fn on_close, void *ud)
{
    if (r->async) return NULL; /* one per request */
    struct zt_http_async *a = zt_calloc(1, sizeof *a);
    if (!a) return NULL;
    pthread_mutex_init(&a->mu, NULL);
    a->refs = 2;
    a->conn = r->conn;
    a->req = r;
    a->stream = stream;
    a->on_close = on_close;
    a->ud = ud;
    zt_http_resp_init(&a->resp);
    zt_buf_init(&a->pending, STREAM_MAX_PENDING);
    r->async = a;
    return a;
}

struct zt_http_async *zt_http_req_defer(struct zt_http_req *r, zt_http_close_fn on_close, void *ud)
{
    return async_new(r, false, on_close, ud);
}

struct zt_http_async *zt_http_req_stream(struct zt_http_req *r, int status, const char *content_type,
                                         zt_http_close_fn on_close, void *ud)
{
    struct zt_http_async *a = async_new(r, true, on_close, ud);
    if (a) {
        a->status = status;
        a->content_type = content_type;
    }
    return a;
}

/* libmicrohttpd pulls the stream body from here (on its thread). With
 * nothing to send yet, the connection is suspended: no thread spins or
 * waits; zt_http_async_write() resumes it. */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    struct zt_http_async *a = cls;
    ssize_t ret;
    pthread_mutex_lock(&a->mu);
    size_t avail = a->pending.len - a->pending_off;
    if (avail) {
        size_t n = avail < max ? avail : max;
        memcpy(buf, a->pending.data + a->pending_off, n);
        a->pending_off += n;
        if (a->pending_off == a->pending.len) {
            zt_buf_reset(&a->pending);
            a->pending_off = 0;
        }
        ret = (ssize_t)n;
    } else if (a->ended) {
        ret = a->failed ? MHD_CONTENT_READER_END_WITH_ERROR : MHD_CONTENT_READER_END_OF_STREAM;
    } else if (a->closed) {
        ret = MHD_CONTENT_READER_END_WITH_ERROR;
    } else {
        a->suspended = true;
        MHD_suspend_connection(a->conn);
        ret = 0;
    }
    pthread_mutex_unlock(&a->mu);
    return ret;
}

/* The handler took an async handle: start the stream, or wait (suspended)
 * for the deferred answer unless it is already there. */
static enum MHD_Result queue_stream(struct zt_http_req *r, struct zt_http_async *a,
                                   const struct zt_http_resp *resp)
{
    struct MHD_Response *mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_reader, a, NULL);
    if (!mr) return MHD_NO;
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, a->content_type ? a->content_type : "application/json");
    MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(mr, "X-Accel-Buffering", "no");
    add_common_headers(mr, r->id);
    return queue(r, mr, a->status, resp);
}

static enum MHD_Result async_start(struct zt_http_req *r, struct zt_http_resp *resp)
{
    struct zt_http_async *a = r->async;
    if (a->stream) return queue_stream(r, a, resp);
    pthread_mutex_lock(&a->mu);
    bool ready = a->ready;
    if (!ready) {
        a->suspended = true;
        MHD_suspend_connection(r->conn);
    }
    pthread_mutex_unlock(&a->mu);
    return ready ? async_continue(r) : MHD_YES;
}

/* Called again after a resume: send the deferred answer. */
static enum MHD_Result async_continue(struct zt_http_req *r)
{
    struct zt_http_async *a = r->async;
    pthread_mutex_lock(&a->mu);
    bool ready = a->ready && !a->sent;
    if (ready) a->sent = true;
    bool late = ready && a->late_stream;
    pthread_mutex_unlock(&a->mu);
    if (!ready) return MHD_YES;
    if (late) return queue_stream(r, a, NULL);
    return send_resp(r, &a->resp);
}

/* 0 when the handler may still answer on a (a->mu held): ZT_EINVAL after
 * an answer or a stream, ZT_ECLOSED when the client is gone. */
static int answerable_locked(const struct zt_http_async *a)
{
    if (a->stream || a->ready) return ZT_EINVAL;
    return a->closed ? ZT_ECLOSED : 0;
}

/* Resume the connection's MHD processing if it waits for us (a->mu held). */
static void wake_locked(struct zt_http_async *a)
{
    if (a->suspended) {
        a->suspended = false;
        MHD_resume_connection(a->conn);
    }
}

int zt_http_async_stream_start(struct zt_http_async *a, int status, const char *content_type)
{
    int rc = 0;
    if (status < 100 || status > 999 || !content_type) return ZT_EINVAL;
    size_t n = strlen(content_type);
    if (n == 0 || n >= sizeof a->ctype_buf) return ZT_EINVAL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)content_type[i] < 0x20 || (unsigned char)content_type[i] > 0x7E) return ZT_EINVAL;
    pthread_mutex_lock(&a->mu);
    rc = answerable_locked(a);
    if (rc == 0) {
        memcpy(a->ctype_buf, content_type, n + 1);
        a->content_type = a->ctype_buf;
        a->status = status;
        a->stream = true;
        a->late_stream = true;
        a->ready = true;
        wake_locked(a);
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

size_t zt_http_async_pending(struct zt_http_async *a)
{
    pthread_mutex_lock(&a->mu);
    size_t n = a->pending.len - a->pending_off;
    pthread_mutex_unlock(&a->mu);
    return n;
}


/* libmicrohttpd does not watch a suspended connection, so a client that
 * went away while we wait (for an upstream, say) is noticed only when the
 * connection resumes. Look at the socket: the peer's FIN (POLLRDHUP) or an
 * error. The lock keeps the connection alive (on_completed waits for it). */
bool zt_http_async_client_gone(struct zt_http_async *a)
{
    bool gone = false;
    pthread_mutex_lock(&a->mu);
    if (a->closed) {
        gone = true;
    } else if (a->suspended) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(a->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (ci) {
            struct pollfd p = {.fd = ci->connect_fd, .events = POLLRDHUP};
            gone = poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
        }
    }
    pthread_mutex_unlock(&a->mu);
    return gone;
}

void zt_http_async_fail(struct zt_http_async *a)
{
    pthread_mutex_lock(&a->mu);
    a->failed = true;
    pthread_mutex_unlock(&a->mu);
    zt_http_async_end(a);
}

int zt_http_async_respond(struct zt_http_async *a, struct zt_http_resp *resp)
{
    int rc = 0;
    pthread_mutex_lock(&a->mu);
    rc = answerable_locked(a);
    if (rc == 0) {
        zt_buf_deinit(&a->resp.body);
        a->resp = *resp;
        zt_buf_init(&resp->body, a->resp.body.max); /* the body now belongs to a */
        a->ready = true;
        wake_locked(a);
    }
    pthread_mutex_unlock(&a->mu);
    return rc;
}

int zt_http_async_write(struct zt_http_async *a, const void *p, size_t n)
{
    int rc = 0;
    pthread_mutex_lock(&a->mu);
    if (!a->stream || a->ended) rc = ZT_EINVAL;
    else if (a->closed) rc = ZT_ECLOSED;
    else rc = zt_buf_append(&a->pending, p, n);
    if (rc == 0) wake_locked(a);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

void zt_http_async_end(struct zt_http_async *a)
{
    pthread_mutex_lock(&a->mu);
    a->ended = true;
    if (!a->closed) wake_locked(a);
    pthread_mutex_unlock(&a->mu);
}

void zt_http_async_release(struct zt_http_async *a)
{
    if (a) async_unref(a);
}

void zt_http_async_abandon(struct zt_http_async *a)
{
    if (!a) return;
    if (a->req) a->req->async = NULL;
    a->refs = 1; /* neither the request nor a producer keeps it */
    async_unref(a);
}

/* The request is over (sent, or the client went away). */
static void async_closed(struct zt_http_async *a)
{
    pthread_mutex_lock(&a->mu);
    a->closed = true;
    a->req = NULL;
    pthread_mutex_unlock(&a->mu);
    if (a->on_close) a->on_close(a->ud); /* outside our lock: it may cancel work */
    async_unref(a);
}

/* ---- protocol upgrade --------------------------------------------------- */

int zt_http_req_upgrade(struct zt_http_req *r, zt_http_upgrade_fn fn, void *ud)
{
    if (!fn || r->async || r->upgrade_fn) return ZT_EINVAL;
    r->upgrade_fn = fn;
    r->upgrade_ud = ud;
    return 0;
}

/* A request left the in-flight count (it ended, or became a long-lived
 * upgraded session); the last one wakes zt_http_wait_idle. */
static void inflight_done(struct zt_http_server *s)
{
    if (atomic_fetch_sub(&s->inflight, 1) != 1) return;
    pthread_mutex_lock(&s->idle_mu); /* a waiter between its check and its sleep holds it */
    pthread_cond_broadcast(&s->idle_cv);
    pthread_mutex_unlock(&s->idle_mu);
}

void zt_http_upgraded_close(struct zt_http_upgraded *u)
{
    if (!u) return;
    MHD_upgrade_action(u->urh, MHD_UPGRADE_ACTION_CLOSE);
    zt_free(u);
}

/* libmicrohttpd sent the 101: the socket is the handler's now. */
static void on_upgraded(void *cls, struct MHD_Connection *c, void *con_cls, const char *extra,
                        size_t extra_len, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
    (void)cls, (void)c;
    struct zt_http_req *r = con_cls;
    if (!r->upgraded) {
        r->upgraded = true;
        inflight_done(r->srv); /* a long-lived session is not a request in flight */
    }
    struct zt_http_upgraded *u = zt_calloc(1, sizeof *u);
    if (!u) {
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        return;
    }
    u->urh = urh;
    r->upgrade_fn(r->upgrade_ud, u, (int)sock, extra, extra_len);
}

static enum MHD_Result upgrade_start(struct zt_http_req *r, struct zt_http_resp *resp)
{
    struct MHD_Response *mr = MHD_create_response_for_upgrade(on_upgraded, NULL);
    if (!mr) return MHD_NO;
    MHD_add_response_header(mr, "X-Request-Id", r->id);
    for (size_t i = 0; i < resp->n_headers; i++)
        MHD_add_response_header(mr, resp->headers[i].name, resp->headers[i].value);
    r->status = MHD_HTTP_SWITCHING_PROTOCOLS;
    r->responded = true;
    if (r->cc) {
        pthread_mutex_lock(&r->srv->gmu);
        r->cc->upgraded = true; /* a WebSocket has its own idle timeout */
        pthread_mutex_unlock(&r->srv->gmu);
    }
    enum MHD_Result ret = MHD_queue_response(r->conn, MHD_HTTP_SWITCHING_PROTOCOLS, mr);
    MHD_destroy_response(mr);
    return ret;
}

/* ---- libmicrohttpd callbacks -------------------------------------------- */

struct header_sum {
    size_t bytes;
};

static enum MHD_Result sum_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
    (void)kind;
    struct header_sum *hs = cls;
    hs->bytes += strlen(key) + (value ? strlen(value) : 0) + 4; /* ": " and CRLF */
    return MHD_YES;
}

static void reject(struct zt_http_req *r, int status, const char *code, const char *msg)
{
    if (r->reject_status) return;
    r->reject_status = status;
    r->reject_code = code;
    r->reject_msg = msg;
}

/* A 400 after which the connection is closed: the request's framing (where
 * it ends) is in doubt, so whatever follows it on the connection is not
 * read as another request (RFC 9112 §6.3, request smuggling). */
static void reject_framing(struct zt_http_req *r, const char *msg)
{
    if (r->reject_status && r->reject_close) return;
    r->reject_status = 0; /* framing wins over a size limit seen first */
    reject(r, 400, "bad_request", msg);
    r->reject_close = true;
}

static void count_client(struct zt_http_req *r, bool forwarded)
{
    struct zt_http_server *s = r->srv;
    pthread_mutex_lock(&s->gmu);
    struct addr_ent *e = addr_get(s, &r->client, true);
    bool over = false;
    if (e) {
        e->inflight++;
        r->counted = true;
        over = forwarded && s->opts.max_conns_per_address && e->inflight > s->opts.max_conns_per_address;
    }
    pthread_mutex_unlock(&s->gmu);
    if (over) {
        atomic_fetch_add(&s->refused_per_address, 1);
        zt_log_rl(ZT_LOG_WARN, 1, "request_refused", "client=%s reason=server.max_connections_per_address",
                  r->client_str);
        reject(r, 429, "too_many_connections",
               "too many requests in flight from this address (server.max_connections_per_address)");
        r->reject_close = true;
    }
}

static void uncount_client(struct zt_http_req *r)
{
    if (!r->counted) return;
    struct zt_http_server *s = r->srv;
    pthread_mutex_lock(&s->gmu);
    struct addr_ent *e = addr_get(s, &r->client, false);
    if (e) {
        e->inflight--;
        addr_put(s, e);
    }
    pthread_mutex_unlock(&s->gmu);
    r->counted = false;
}

/* libmicrohttpd 0.9.75 parses the request head in place: each line's
 * terminator is overwritten with NUL, both bytes of a CRLF, one byte of a
 * bare LF (or CR), which it accepts even in strict mode. A string it hands
 * us that ends a line is therefore followed by a second NUL exactly when
 * the line ended in CRLF. ends_in_bare_lf(s) is true when s (the last field
 * of a line, as kept in libmicrohttpd's read buffer) is followed by one NUL
 * and then a byte that is not NUL: the next line started right after a
 * single-byte terminator. The byte read is inside the read buffer: the
 * terminator is never the last byte libmicrohttpd has read, except for a
 * bare LF at the very end of what arrived, where the byte after it is the
 * buffer's unused space (a NUL or not: at worst a bare LF goes unseen). */
static bool ends_in_bare_lf(const char *s)
{
    size_t n = strlen(s);
    return n > 0 && s[n + 1] != '\0';
}

struct framing {
    unsigned content_length; /* Content-Length headers */
    unsigned transfer_encoding;
    bool te_not_chunked;     /* a Transfer-Encoding other than "chunked" alone */
    bool bare_lf;
};

static enum MHD_Result scan_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value)
{
    (void)kind;
    struct framing *f = cls;
    if (!key) return MHD_YES;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) f->content_length++;
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        f->transfer_encoding++;
        if (!value || strcasecmp(value, "chunked") != 0) f->te_not_chunked = true;
    }
    if (value && ends_in_bare_lf(value)) f->bare_lf = true;
    return MHD_YES;
}

/* RFC 9112 §6.3: a request with two Content-Length headers, or with both
 * Content-Length and Transfer-Encoding, or with a Transfer-Encoding whose
 * only coding is not chunked, cannot be framed reliably: 400 and close.
 * Line endings must be CRLF (§2.2: a bare LF is refused here). */
static void check_framing(struct zt_http_req *r, struct MHD_Connection *c)
{
    struct framing f = {0};
    MHD_get_connection_values(c, MHD_HEADER_KIND, scan_framing, &f);
    if (r->bare_lf || f.bare_lf)
        reject_framing(r, "line endings must be CRLF");
    else if (f.content_length > 1)
        reject_framing(r, "more than one Content-Length header");
    else if (f.transfer_encoding && f.content_length)
        reject_framing(r, "Content-Length together with Transfer-Encoding");
    else if (f.transfer_encoding > 1 || f.te_not_chunked)
        reject_framing(r, "the only Transfer-Encoding accepted is chunked");
    else if (strstr(r->target, "%00"))
        reject_framing(r, "the request target contains %00");
}

/* First call: headers are complete. */
/* libmicrohttpd's URI log callback: the first thing it calls for a request,
 * with the request target exactly as received (path and query, still
 * percent-encoded), which signed node requests cover. The request starts
 * here; on_access fills the rest. NULL (out of memory) makes on_access
 * allocate it without a target. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls, (void)c;
    struct zt_http_req *r = zt_calloc(1, sizeof *r);
    if (!r) return NULL;
    if (zt_strlcpy(r->target, uri ? uri : "", sizeof r->target) >= sizeof r->target) {
        r->target[0] = '\0';
        r->target_too_long = true;
    }
    /* uri is still in libmicrohttpd's read buffer: the request line was
     * "METHOD uri HTTP/x.y" with the spaces and the terminator made NUL */
    if (uri && *uri) {
        const char *ver = uri + strlen(uri) + 1;
        if (strncmp(ver, "HTTP/", 5) == 0 && ends_in_bare_lf(ver)) r->bare_lf = true;
    }
    return r;
}

static struct zt_http_req *req_new(struct zt_http_server *s, struct MHD_Connection *c,
                                   const char *url, const char *method, struct zt_http_req *r)
{
    if (!r) r = zt_calloc(1, sizeof *r);
    if (!r) return NULL;
    r->started = true;
    r->srv = s;
    r->conn = c;
    r->method = method;
    r->start_ns = zt_time_mono_ns();
    zt_buf_init(&r->body, s->opts.max_body_bytes);
    const union MHD_ConnectionInfo *sc = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    r->cc = sc ? sc->socket_context : NULL;
    if (r->cc) {
        pthread_mutex_lock(&s->gmu);
        r->cc->head_done = true; /* the head is in: its deadline is met */
        pthread_mutex_unlock(&s->gmu);
        resolve_client(r, c);
    }
    uint64_t n = atomic_fetch_add(&s->next_id, 1);
    snprintf(r->id, sizeof r->id, "%016llx", (unsigned long long)(n ^ s->id_salt));
    if (zt_strlcpy(r->path, url, sizeof r->path) >= sizeof r->path || r->target_too_long)
        reject(r, 414, "uri_too_long", "request target is too long");
    atomic_fetch_add(&s->inflight, 1);

    struct header_sum hs = {strlen(url) + strlen(method) + 12};
    MHD_get_connection_values(c, MHD_HEADER_KIND, sum_header, &hs);
    if (hs.bytes > s->opts.max_header_bytes)
        reject(r, 431, "headers_too_large", "request headers exceed server.max_header_bytes");

    check_framing(r, c);
    if (r->cc) count_client(r, r->cc->proxy && memcmp(r->client.b, r->cc->peer.b, sizeof r->client.b) != 0);
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                 MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl) {
        uint64_t v;
        if (zt_str_to_u64(cl, &v) != 0)
            reject_framing(r, "Content-Length is not a number");
        else if (v > s->opts.max_body_bytes)
            reject(r, 413, "body_too_large", "request body exceeds server.max_body_bytes");
    }
    return r;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct zt_http_server *s = cls;
    struct zt_http_req *r = *con_cls;
    if (!r || !r->started) {
        struct zt_http_req *pre = r;
        r = req_new(s, c, url, method, pre);
        if (!r) {
            zt_free(pre);
            *con_cls = NULL;
            return MHD_NO;
        }
        *con_cls = r;
        if (r->reject_status)
            return send_error(r, r->reject_status, r->reject_code, r->reject_msg);
        return MHD_YES;
    }
    if (r->responded) { /* answered early: drop whatever still arrives */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) {
        /* libmicrohttpd cannot queue a response in the middle of a body, so a
         * body that turns out too large (chunked) is discarded up to a bound
         * and answered when it ends; past the bound the connection is cut. */
        if (r->reject_status) {
            r->discarded += *upload_size;
            *upload_size = 0;
            return r->discarded > DISCARD_MAX_BYTES ? MHD_NO : MHD_YES;
        }
        int rc = zt_buf_append(&r->body, upload_data, *upload_size);
        *upload_size = 0;
        if (rc == ZT_ETOOBIG) {
            reject(r, 413, "body_too_large", "request body exceeds server.max_body_bytes");
            zt_buf_deinit(&r->body);
        } else if (rc) {
            reject(r, 503, "overloaded", "out of memory reading the request");
            zt_buf_deinit(&r->body);
        }
        return MHD_YES;
    }
    if (r->reject_status) return send_error(r, r->reject_status, r->reject_code, r->reject_msg);
    if (r->async) return async_continue(r);
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    s->opts.handler(s->opts.ud, r, &resp);
    enum MHD_Result ret = r->async        ? async_start(r, &resp)
                          : r->upgrade_fn ? upgrade_start(r, &resp)
                                          : send_resp(r, &resp);
    zt_buf_deinit(&resp.body);
    return ret;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    struct zt_http_server *s = cls;
    struct zt_http_req *r = *con_cls;
    if (!r) return;
    if (!r->started) { /* only the request line was read */
        zt_free(r);
        *con_cls = NULL;
        return;
    }
    uint64_t dur = zt_time_mono_ns() - r->start_ns;
    int status = r->responded ? r->status : 0; /* 0: the client went away first */
    if (s->opts.observer) s->opts.observer(s->opts.ud, r->route, r->method, status, dur);
    zt_log(ZT_LOG_DEBUG, "http_request",
           "request_id=%s method=%s route=%s status=%d duration_us=%llu end=%d", r->id, r->method,
           r->route ? r->route : "-", status, (unsigned long long)(dur / 1000), (int)toe);
    if (r->async) async_closed(r->async);
    zt_buf_deinit(&r->body);
    uncount_client(r);
    if (r->cc) {
        /* a kept-alive connection's next head has the same deadline,
         * counted from now */
        pthread_mutex_lock(&s->gmu);
        r->cc->head_done = false;
        r->cc->head_start_ms = zt_time_mono_ms();
        pthread_mutex_unlock(&s->gmu);
    }
    bool upgraded = r->upgraded;
    zt_free(r);
    *con_cls = NULL;
    if (!upgraded) inflight_done(s);
}

ZT_PRINTF(2, 0) static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
    zt_log_rl(ZT_LOG_WARN, 10, "http_server", "detail=\"%s\"", msg);
}

/* ---- start / stop ------------------------------------------------------- */

static int open_listener(const char *host, uint16_t port, int *fd_out, uint16_t *port_out)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    const char *h = (!*host || zt_str_eq(host, "localhost")) ? "127.0.0.1" : host;
    if (inet_pton(AF_INET, h, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        sslen = sizeof *in4;
    } else if (inet_pton(AF_INET6, h, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        sslen = sizeof *in6;
    } else {
        return ZT_EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return ZT_EIO;
    int one = 1;
    /* SO_REUSEADDR lets a restarted node bind past TIME_WAIT; on Linux it does
     * not let two live listeners share a port, so a second node still fails. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sslen) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return e == EADDRINUSE ? ZT_EADDRINUSE : (e == EACCES ? ZT_EPERM : ZT_EIO);
    }
    if (listen(fd, 511) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return e == EADDRINUSE ? ZT_EADDRINUSE : ZT_EIO;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        close(fd);
        return ZT_EIO;
    }
    *port_out = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                  : ((struct sockaddr_in *)&bound)->sin_port);
    *fd_out = fd;
    return 0;
}

int zt_http_tls_check(const char *cert_pem, const char *key_pem, char *why, size_t why_len)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
        snprintf(why, why_len, "this libmicrohttpd was built without TLS (GnuTLS)");
        return ZT_EUNSUPPORTED;
    }
    if (!cert_pem || !key_pem || !strstr(cert_pem, "-----BEGIN CERTIFICATE-----")) {
        snprintf(why, why_len, "the certificate file is not a PEM certificate (-----BEGIN CERTIFICATE-----)");
        return ZT_EPARSE;
    }
    if (!strstr(key_pem, "PRIVATE KEY-----")) {
        snprintf(why, why_len, "the key file is not a PEM private key (-----BEGIN ... PRIVATE KEY-----)");
        return ZT_EPARSE;
    }
    gnutls_certificate_credentials_t cred = NULL;
    if (gnutls_certificate_allocate_credentials(&cred) != GNUTLS_E_SUCCESS) {
        snprintf(why, why_len, "out of memory");
        return ZT_ENOMEM;
    }
    gnutls_datum_t c = {(unsigned char *)(uintptr_t)cert_pem, (unsigned)strlen(cert_pem)};
    gnutls_datum_t k = {(unsigned char *)(uintptr_t)key_pem, (unsigned)strlen(key_pem)};
    int g = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
    gnutls_certificate_free_credentials(cred);
    if (g == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
        snprintf(why, why_len, "the private key does not belong to the certificate");
        return ZT_ECRYPTO;
    }
    if (g < 0) {
        snprintf(why, why_len, "GnuTLS cannot load the certificate or key: %s", gnutls_strerror(g));
        return ZT_EPARSE;
    }
    return 0;
}

/* Stop the reaper and free the accounting and s itself (the daemon is
 * stopped: every connection was closed and uncounted). */
static void guard_free(struct zt_http_server *s)
{
    zt_thread_stop(&s->gmu, &s->reaper_cv, &s->reaper_stop, &s->reaper, &s->reaper_running);
    for (size_t b = 0; b < ADDR_BUCKETS; b++) {
        while (s->buckets[b]) {
            struct addr_ent *e = s->buckets[b];
            s->buckets[b] = e->next;
            zt_free(e);
        }
    }
    pthread_cond_destroy(&s->reaper_cv);
    pthread_mutex_destroy(&s->gmu);
    pthread_cond_destroy(&s->idle_cv);
    pthread_mutex_destroy(&s->idle_mu);
    zt_free(s->proxies);
    zt_free(s);
}

int zt_http_start(const struct zt_http_opts *opts, struct zt_http_server **out)
{
    if (!opts->handler || opts->threads < 1 || opts->max_connections < 1) return ZT_EINVAL;
    bool tls = opts->tls_cert_pem || opts->tls_key_pem;
    if (tls) {
        char why[160];
        int trc = zt_http_tls_check(opts->tls_cert_pem, opts->tls_key_pem, why, sizeof why);
        if (trc) return trc;
    }
    struct zt_http_server *s = zt_calloc(1, sizeof *s);
    if (!s) return ZT_ENOMEM;
    s->opts = *opts;
    s->opts.trusted_proxies = NULL; /* the caller's list is parsed into s->proxies */
    s->listen_fd = -1;
    randombytes_buf(&s->id_salt, sizeof s->id_salt);
    if (opts->n_trusted_proxies) {
        s->proxies = zt_calloc(opts->n_trusted_proxies, sizeof *s->proxies);
        if (!s->proxies) {
            zt_free(s);
            return ZT_ENOMEM;
        }
        for (size_t i = 0; i < opts->n_trusted_proxies; i++) {
            if (parse_cidr(opts->trusted_proxies[i] ? opts->trusted_proxies[i] : "", &s->proxies[i]) != 0) {
                zt_free(s->proxies);
                zt_free(s);
                return ZT_EINVAL;
            }
        }
        s->n_proxies = opts->n_trusted_proxies;
    }
    unsigned pct = opts->new_address_reserve_percent > 90 ? 90 : opts->new_address_reserve_percent;
    s->cap_existing = opts->max_connections - (unsigned)((uint64_t)opts->max_connections * pct / 100u);
    if (s->cap_existing < 1) s->cap_existing = 1;
    pthread_mutex_init(&s->gmu, NULL);
    zt_cond_init_mono(&s->reaper_cv);
    pthread_mutex_init(&s->idle_mu, NULL);
    zt_cond_init_mono(&s->idle_cv);
    int rc = open_listener(opts->host, opts->port, &s->listen_fd, &s->port);
    if (rc) {
        guard_free(s);
        return rc;
    }
    /* The per-connection pool holds the request headers plus read/write
     * buffers; give it room beyond max_header_bytes so our own check (and its
     * JSON 431) sees oversized headers before libmicrohttpd's pool runs out. */
    size_t pool = opts->max_header_bytes * 2 + 32 * 1024;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ITC |
                     MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG | (tls ? MHD_USE_TLS : 0);
    s->mhd = MHD_start_daemon(flags, 0, on_accept, s, on_access, s,
                              MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s, /* first, to catch all */
                              MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd,
                              MHD_OPTION_THREAD_POOL_SIZE, opts->threads,
                              MHD_OPTION_CONNECTION_LIMIT, opts->max_connections,
                              MHD_OPTION_CONNECTION_TIMEOUT, opts->timeout_s,
                              MHD_OPTION_CONNECTION_MEMORY_LIMIT, pool,
                              MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                              MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
                              MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
                              /* RFC 9112 strictly: Host required in HTTP/1.1,
                               * no whitespace in header names; 0.9.75 still
                               * accepts bare LF: check_framing() refuses it */
                              MHD_OPTION_STRICT_FOR_CLIENT, (int)1,
                              /* with TLS off these are MHD_OPTION_END-terminated no-ops */
                              tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, opts->tls_key_pem,
                              MHD_OPTION_HTTPS_MEM_CERT, opts->tls_cert_pem,
                              MHD_OPTION_END);
    if (!s->mhd) {
        close(s->listen_fd);
        guard_free(s);
        return ZT_EIO;
    }
    if (opts->header_timeout_s) {
        if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
            MHD_stop_daemon(s->mhd);
            guard_free(s);
            return ZT_ENOMEM;
        }
        s->reaper_running = true;
    }
    *out = s;
    return 0;
}

uint16_t zt_http_port(const struct zt_http_server *s) { return s->port; }

int64_t zt_http_inflight(const struct zt_http_server *s)
{
    return (int64_t)atomic_load(&s->inflight);
}

int zt_http_wait_idle(struct zt_http_server *s, uint64_t timeout_ms)
{
    struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, timeout_ms);
    pthread_mutex_lock(&s->idle_mu);
    int wr = 0;
    while (atomic_load(&s->inflight) > 0 && wr != ETIMEDOUT) wr = pthread_cond_timedwait(&s->idle_cv, &s->idle_mu, &ts);
    bool idle = atomic_load(&s->inflight) <= 0;
    pthread_mutex_unlock(&s->idle_mu);
    return idle ? 0 : ZT_ETIMEDOUT;
}

void zt_http_quiesce(struct zt_http_server *s)
{
    if (!s || !s->mhd || s->listen_fd < 0) return;
    MHD_socket fd = MHD_quiesce_daemon(s->mhd);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    s->listen_fd = -1;
}

void zt_http_stop(struct zt_http_server *s)
{
    if (!s) return;
    if (s->mhd) MHD_stop_daemon(s->mhd); /* closes the listen socket if not quiesced */
    guard_free(s);
}
