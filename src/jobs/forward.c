/* forward.c: the oblivious relay's core (zt_jobs.h): check a relayed
 * request, look the target up in the peer registry, take a slot, sign the
 * forward as the relay, and stream the upstream's answer to a sink on a
 * thread of the job pool. The HTTP route (src/server/relay_api.c) only reads the
 * request and implements the sink.
 *
 * What goes upstream: the body, Content-Type, the four Zentalk-* signature
 * headers, Host, Accept (the HTTP client's "* / *") and Content-Length.
 * Nothing of the client's: no address, no Authorization, no User-Agent, no
 * proxy from the environment. Bodies are never logged. Backpressure: the
 * forward waits while more than ZT_RELAY_BUFFER_MAX bytes are queued for a
 * slow client.
 *
 * What comes back: only a sealed result (ZT_SEALED_MEDIA_RESULT, streamed)
 * or an error in our JSON shape ({"error":{"code":...,"message":...}},
 * status 400..599, read whole, at most ZT__RELAY_ERROR_MAX bytes, rebuilt
 * from its code, message and type strings only, then passed on). Anything else (an HTML page, another route's JSON, a
 * redirect) is not passed on: the client gets 502 upstream_bad_answer, so a
 * relay never hands a stranger what some other service answered (issue 17
 * item 7). */
#include <arpa/inet.h>
#include <jansson.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "transfer.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_endian.h"
#include "zentalk/zt_jobs.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

struct zt_relay {
    struct zt_peers *peers;
    const struct zt_identity *id;
    unsigned timeout_s;
    char *ca_file; /* NULL: the system CA store */
    struct zt_job_pool *pool;
    atomic_bool allow_private; /* loopback, private, link-local targets */
    atomic_uint_fast64_t forwarded, failed, refused;
};

struct zt_relay_fwd {
    struct zt_relay *relay;
    char target_id[ZT_IDENTITY_ID_SIZE];
    char url[ZT_DESCRIPTOR_MAX_ENDPOINT + sizeof ZT_JOB_PATH_SEALED + 1];
    char lines[6][ZT__JOBS_HEADER_LINE_MAX];
    uint8_t *body;
    size_t body_len;
    struct zt_relay_sink sink;
    /* the transfer (the thread's only) */
    bool streaming, gone;
    bool bad;          /* the answer is neither a sealed result nor our JSON error */
    long status;       /* the upstream's status */
    struct zt_buf err; /* a JSON error answer, read whole before it is passed on */
    char ctype[128];
    uint64_t bytes;
};

int zt_relay_new(struct zt_peers *peers, unsigned timeout_s, unsigned max_inflight, struct zt_relay **out)
{
    if (!peers || !out) return ZT_EINVAL;
    struct zt_relay *r = zt_calloc(1, sizeof *r);
    if (!r) return ZT_ENOMEM;
    int rc = zt_job_pool_new(max_inflight, &r->pool);
    if (rc) {
        zt_free(r);
        return rc;
    }
    r->peers = peers;
    r->timeout_s = timeout_s ? timeout_s : 1;
    atomic_init(&r->allow_private, true);
    *out = r;
    return 0;
}

int zt_relay_set_ca_file(struct zt_relay *r, const char *path)
{
    char *copy = NULL;
    if (path && path[0] && !(copy = zt_strdup(path))) return ZT_ENOMEM;
    zt_free(r->ca_file);
    r->ca_file = copy;
    return 0;
}

void zt_relay_set_identity(struct zt_relay *r, const struct zt_identity *id)
{
    r->id = id;
}

void zt_relay_set_allow_private(struct zt_relay *r, bool allow)
{
    atomic_store(&r->allow_private, allow);
}

void zt_relay_shutdown(struct zt_relay *r, uint64_t wait_ms)
{
    if (r) zt_ignore(zt_job_pool_shutdown(r->pool, wait_ms));
}

void zt_relay_free(struct zt_relay *r)
{
    if (!r) return;
    if (zt_job_pool_close(r->pool, 10000, "relay") != 0) return; /* its threads hold r: leak r too */
    zt_free(r->ca_file);
    zt_free(r);
}

void zt_relay_stats(struct zt_relay *r, struct zt_relay_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!r) return;
    out->forwarded = atomic_load(&r->forwarded);
    out->failed = atomic_load(&r->failed);
    out->refused = atomic_load(&r->refused);
    out->inflight = zt_job_pool_inflight(r->pool);
}

static int m_requests(void *ud, struct zt_metrics_out *o)
{
    struct zt_relay_stats rs;
    zt_relay_stats(ud, &rs);
    int rc = zt_metrics_emit_u64(o, NULL, "outcome=\"forwarded\"", rs.forwarded);
    if (!rc) rc = zt_metrics_emit_u64(o, NULL, "outcome=\"failed\"", rs.failed);
    if (!rc) rc = zt_metrics_emit_u64(o, NULL, "outcome=\"refused\"", rs.refused);
    return rc;
}

static int m_inflight(void *ud, struct zt_metrics_out *o)
{
    struct zt_relay_stats rs;
    zt_relay_stats(ud, &rs);
    return zt_metrics_emit_u64(o, NULL, NULL, rs.inflight);
}

int zt_relay_register_metrics(struct zt_relay *r, struct zt_metrics *m)
{
    static const struct zt_metrics_fam fams[] = {
        {"zentalk_relay_requests_total", "Relayed requests, by outcome.", ZT_METRIC_COUNTER, m_requests},
        {"zentalk_relay_in_flight", "Relayed requests in progress.", ZT_METRIC_GAUGE, m_inflight},
    };
    return zt_metrics_add_fns(m, fams, sizeof fams / sizeof fams[0], r);
}

static int refuse(struct zt_relay *r, struct zt_relay_refusal *why, int status, const char *code, const char *msg)
{
    atomic_fetch_add(&r->refused, 1);
    *why = (struct zt_relay_refusal){.status = status, .code = code, .message = msg};
    return ZT_EPERM;
}

void zt_relay_fwd_free(struct zt_relay_fwd *f)
{
    if (!f) return;
    zt_job_pool_unreserve(f->relay->pool);
    zt_buf_deinit(&f->err);
    zt_free(f->body);
    zt_free(f);
}

int zt_relay_accept(struct zt_relay *r, const char *target, const char *content_type, const uint8_t *body,
                    size_t len, struct zt_relay_fwd **out, struct zt_relay_refusal *why)
{
    if (!target)
        return refuse(r, why, 400, "missing_target", "the Zentalk-Target-Node header (a node id zt1...) is required");
    if (!zt_identity_id_valid(target))
        return refuse(r, why, 400, "invalid_target", "Zentalk-Target-Node is not a node id (zt1 + 32 base32 characters)");
    size_t ctl = strlen(ZT_SEALED_MEDIA_ENVELOPE);
    if (!content_type || strncmp(content_type, ZT_SEALED_MEDIA_ENVELOPE, ctl) != 0 ||
        (content_type[ctl] != '\0' && content_type[ctl] != ';'))
        return refuse(r, why, 415, "unsupported_media_type", "Content-Type must be " ZT_SEALED_MEDIA_ENVELOPE);
    struct zt_env_header h;
    size_t used;
    if (len == 0 || !body || zt_env_header_decode_prefix(body, len, &h, &used) != 0)
        return refuse(r, why, 400, "invalid_envelope", "the body is not a sealed envelope (bad cleartext header)");
    int64_t now = zt_time_real_ms() / 1000;
    if (h.expires <= (uint64_t)now) return refuse(r, why, 400, "expired_envelope", "the envelope has expired");
    struct zt_peer peer;
    int lrc = zt_peers_lookup(r->peers, target, now, &peer);
    if (lrc)
        return refuse(r, why, 404, "unknown_node",
                      lrc == ZT_ETIMEDOUT ? "the target node's descriptor has expired"
                                          : "the target node is not a registered peer of this relay");
    if (!r->id || zt_job_pool_stopping(r->pool)) return refuse(r, why, 503, "unavailable", "the relay is not available");
    if (zt_job_pool_reserve(r->pool) != 0) {
        refuse(r, why, 503, "overloaded", "too many relayed requests in progress; retry later");
        why->retry_after = true;
        return ZT_EPERM;
    }
    struct zt_relay_fwd *f = zt_calloc(1, sizeof *f);
    if (!f) {
        zt_job_pool_unreserve(r->pool);
        return refuse(r, why, 503, "overloaded", "the relay could not start the transfer");
    }
    f->relay = r;
    zt_buf_init(&f->err, ZT__RELAY_ERROR_MAX);
    zt_strlcpy(f->target_id, peer.node_id, sizeof f->target_id);
    snprintf(f->url, sizeof f->url, "%s%s", peer.endpoint, ZT_JOB_PATH_SEALED);
    char signed_target[ZT_NODEAUTH_TARGET_MAX];
    struct zt_nodeauth_headers sh;
    if ((size_t)snprintf(signed_target, sizeof signed_target, "%s%s", zt__jobs_endpoint_path(peer.endpoint),
                         ZT_JOB_PATH_SEALED) >= sizeof signed_target ||
        !(f->body = zt_malloc(len)))
        goto oom;
    memcpy(f->body, body, len);
    f->body_len = len;
    if (zt_nodeauth_sign(r->id, peer.node_id, "POST", signed_target, f->body, len, now, &sh) != 0) goto oom;
    zt_strlcpy(f->lines[0], "Content-Type: " ZT_SEALED_MEDIA_ENVELOPE, ZT__JOBS_HEADER_LINE_MAX);
    zt_strlcpy(f->lines[1], "Expect:", ZT__JOBS_HEADER_LINE_MAX); /* no 100-continue round trip */
    snprintf(f->lines[2], ZT__JOBS_HEADER_LINE_MAX, "%s: %s", ZT_NODEAUTH_H_NODE, sh.node);
    snprintf(f->lines[3], ZT__JOBS_HEADER_LINE_MAX, "%s: %s", ZT_NODEAUTH_H_DATE, sh.date);
    snprintf(f->lines[4], ZT__JOBS_HEADER_LINE_MAX, "%s: %s", ZT_NODEAUTH_H_NONCE, sh.nonce);
    snprintf(f->lines[5], ZT__JOBS_HEADER_LINE_MAX, "%s: %s", ZT_NODEAUTH_H_SIG, sh.sig);
    *out = f;
    return 0;
oom:
    zt_relay_fwd_free(f);
    return refuse(r, why, 503, "overloaded", "the relay could not start the transfer");
}

/* ---- private targets ------------------------------------------------------------ */

/* Whether an IPv4 address (host order) is not on the public internet:
 * this host, loopback, RFC 1918, CGNAT, link-local, benchmarking,
 * IETF protocol assignments, multicast, reserved, broadcast. */
static bool v4_private(uint32_t a)
{
    return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 || (a & 0xFFC00000u) == 0x64400000u ||
           (a & 0xFFFF0000u) == 0xA9FE0000u || (a & 0xFFF00000u) == 0xAC100000u ||
           (a & 0xFFFF0000u) == 0xC0A80000u || (a & 0xFFFFFF00u) == 0xC0000000u ||
           (a & 0xFFFE0000u) == 0xC6120000u || (a >> 28) >= 0xE;
}

static bool v6_private(const uint8_t *b)
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    static const uint8_t nat64[12] = {0, 0x64, 0xFF, 0x9B};
    static const uint8_t zero[16];
    if (memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return v4_private(zt_get_be32(b + 12));
    if (memcmp(b, zero, 15) == 0) return true;          /* :: and ::1 */
    return (b[0] & 0xFE) == 0xFC ||                     /* fc00::/7 unique local */
           (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) ||   /* fe80::/10 link-local */
           (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) ||   /* fec0::/10 site-local */
           b[0] == 0xFF;                                /* multicast */
}

/* 0: every address url's host resolves to is public; ZT_EPERM: one is
 * not; ZT_ENOTFOUND: it does not resolve. Runs on the forward's thread
 * (getaddrinfo blocks). On 0, pin is "HOST:PORT:ADDRESS" with the first
 * checked address (or "" for a numeric host): the transfer connects there
 * instead of resolving the name again, so a name whose answers change
 * between the check and the connect (DNS rebinding) cannot reach a private
 * address. */
static int target_public(const char *url, char *pin, size_t pin_cap)
{
    pin[0] = '\0';
    const char *h = strstr(url, "://");
    bool tls = strncmp(url, "https://", 8) == 0;
    h = h ? h + 3 : url;
    char host[ZT_DESCRIPTOR_MAX_ENDPOINT + 1];
    size_t n = 0;
    bool bracket = *h == '[';
    if (bracket) {
        const char *close = strchr(h, ']');
        if (!close) return ZT_ENOTFOUND;
        n = (size_t)(close - h - 1);
        h++;
    } else {
        while (h[n] && h[n] != ':' && h[n] != '/') n++;
    }
    if (n == 0 || n >= sizeof host) return ZT_ENOTFOUND;
    memcpy(host, h, n);
    host[n] = '\0';
    const char *after = h + n + (bracket ? 1 : 0);
    unsigned long port = tls ? 443 : 80;
    if (*after == ':') port = strtoul(after + 1, NULL, 10);
    if (port == 0 || port > 65535) return ZT_ENOTFOUND;
    uint8_t lit[16];
    bool numeric = inet_pton(AF_INET, host, lit) == 1 || inet_pton(AF_INET6, host, lit) == 1;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || !res) return ZT_ENOTFOUND;
    int rc = 0;
    for (struct addrinfo *a = res; a && !rc; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)a->ai_addr;
            if (v4_private(ntohl(in->sin_addr.s_addr))) rc = ZT_EPERM;
        } else if (a->ai_family == AF_INET6) {
            const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)a->ai_addr;
            if (v6_private(in6->sin6_addr.s6_addr)) rc = ZT_EPERM;
        } else {
            rc = ZT_EPERM;
        }
    }
    if (!rc && !numeric) {
        char addr[INET6_ADDRSTRLEN];
        const void *src = res->ai_family == AF_INET
                              ? (const void *)&((const struct sockaddr_in *)(const void *)res->ai_addr)->sin_addr
                              : (const void *)&((const struct sockaddr_in6 *)(const void *)res->ai_addr)->sin6_addr;
        int w = inet_ntop(res->ai_family, src, addr, sizeof addr)
                    ? snprintf(pin, pin_cap, res->ai_family == AF_INET6 ? "%s:%lu:[%s]" : "%s:%lu:%s", host, port,
                               addr)
                    : -1;
        if (w < 0 || (size_t)w >= pin_cap) rc = ZT_ENOTFOUND;
    }
    freeaddrinfo(res);
    return rc;
}

/* ---- the forward ---------------------------------------------------------------- */

static bool gone(struct zt_relay_fwd *f)
{
    if (!f->gone && f->sink.gone && f->sink.gone(f->sink.ud)) f->gone = true;
    return f->gone;
}

static bool aborted(struct zt_relay_fwd *f)
{
    return gone(f) || zt_job_pool_stopping(f->relay->pool);
}

/* Printable ASCII, trimmed, or nothing (then application/octet-stream). */
static void take_content_type(struct zt_relay_fwd *f, const char *v)
{
    f->ctype[0] = '\0';
    if (!v) return;
    size_t n = strlen(v);
    while (n && (v[0] == ' ' || v[0] == '\t')) v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (n == 0 || n >= sizeof f->ctype) return;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7E) return;
    memcpy(f->ctype, v, n);
    f->ctype[n] = '\0';
}

/* Whether the media type of ct (before any ';') is exactly media. */
static bool media_is(const char *ct, const char *media)
{
    size_t n = strlen(media);
    return strncasecmp(ct, media, n) == 0 && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static int on_head(void *ud, long status, const char *content_type)
{
    struct zt_relay_fwd *f = ud;
    take_content_type(f, content_type);
    f->status = status;
    if (status >= 200 && status <= 599 && media_is(f->ctype, ZT_SEALED_MEDIA_RESULT)) {
        if (f->sink.start(f->sink.ud, (int)status, f->ctype) != 0) return -1; /* client gone: abort */
        f->streaming = true;
        atomic_fetch_add(&f->relay->forwarded, 1);
        return 0;
    }
    if (status >= 400 && status <= 599 && media_is(f->ctype, "application/json")) return 0; /* read it whole */
    f->bad = true;
    return -1;
}

static int on_body(void *ud, const uint8_t *p, size_t n)
{
    struct zt_relay_fwd *f = ud;
    if (!f->streaming) { /* a JSON error */
        if (zt_buf_append(&f->err, p, n) != 0) {
            f->bad = true;
            return -1;
        }
        return 0;
    }
    while (f->sink.pending && f->sink.pending(f->sink.ud) > ZT_RELAY_BUFFER_MAX) { /* a slow client */
        if (aborted(f)) return -1;
        zt_time_sleep_ms(2);
    }
    if (f->sink.write(f->sink.ud, p, n) != 0) return -1;
    f->bytes += n;
    return 0;
}

/* The buffered answer rebuilt as our error shape, {"error":{"code":...,
 * "message":...[,"type":...]}} with string members only, or NULL when it
 * is not one (nothing else the upstream sent is passed on). Free with
 * zt_free() (jansson allocates through zt_malloc in the node). */
static char *json_error_of(const struct zt_buf *b)
{
    if (!b->len) return NULL;
    json_t *j = json_loadb((const char *)b->data, b->len, JSON_REJECT_DUPLICATES, NULL);
    json_t *e = json_object_get(j, "error"), *type = json_object_get(e, "type");
    json_t *code = json_object_get(e, "code"), *msg = json_object_get(e, "message");
    char *out = NULL;
    if (json_is_object(j) && json_is_string(code) && json_is_string(msg)) {
        json_t *o = json_pack("{s:{s:O,s:O}}", "error", "code", code, "message", msg);
        if (o && json_is_string(type)) json_object_set(json_object_get(o, "error"), "type", type);
        out = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
    }
    json_decref(j);
    return out;
}

/* Pass the rebuilt JSON error on; false if the client is gone. */
static bool pass_error(struct zt_relay_fwd *f, const char *text)
{
    if (f->sink.start(f->sink.ud, (int)f->status, "application/json") != 0) return false;
    f->streaming = true;
    atomic_fetch_add(&f->relay->forwarded, 1);
    size_t n = strlen(text);
    if (f->sink.write(f->sink.ud, (const uint8_t *)text, n) != 0) return false;
    f->bytes += n;
    return true;
}

static bool on_cancelled(void *ud)
{
    return aborted(ud);
}

static void run_forward(void *arg)
{
    struct zt_relay_fwd *f = arg;
    struct zt_relay *r = f->relay;
    uint64_t start = zt_time_mono_ms();
    long t_ms = (long)r->timeout_s * 1000L;
    struct zt__jobs_post p = {
        .url = f->url,
        .body = f->body,
        .body_len = f->body_len,
        .connect_timeout_ms = t_ms < 10000L ? t_ms : 10000L,
        .first_byte_timeout_ms = t_ms,
        .idle_timeout_ms = t_ms,
        .ca_file = r->ca_file,
        .on_head = on_head,
        .on_body = on_body,
        .cancelled = on_cancelled,
        .ud = f,
    };
    for (size_t i = 0; i < 6; i++) p.headers[i] = f->lines[i];
    struct zt__jobs_post_result res;
    memset(&res, 0, sizeof res);
    char pin[ZT_DESCRIPTOR_MAX_ENDPOINT + INET6_ADDRSTRLEN + 16];
    pin[0] = '\0';
    int prc = atomic_load(&r->allow_private) ? 0 : target_public(f->url, pin, sizeof pin);
    if (pin[0]) p.resolve = pin; /* the checked address, not a second lookup */
    if (prc == 0 && zt__jobs_post(&p, &res) != 0) res.ok = false;
    /* a redirect is refused by the HTTP client before on_head: not passed on either */
    if (!f->streaming && res.redirected) f->bad = true;
    if (!f->streaming && !f->bad && res.ok) { /* a JSON error answer, read whole */
        char *text = json_error_of(&f->err);
        if (!text) f->bad = true;
        else if (!pass_error(f, text)) res.ok = false;
        zt_free(text);
    }
    struct zt_relay_end e = {.started = f->streaming, .ok = f->streaming && res.ok};
    const char *outcome = "ok";
    bool client_gone = gone(f);
    if (f->streaming) {
        if (!res.ok) {
            outcome = client_gone ? "client_gone" : "upstream_cut";
            if (!client_gone) atomic_fetch_add(&r->failed, 1);
        }
    } else if (prc != 0 && !client_gone) {
        atomic_fetch_add(&r->failed, 1);
        if (prc == ZT_EPERM) {
            outcome = "private_target";
            e.status = 403, e.code = "private_target",
            e.message = "the target node's address is loopback or private; this relay does not forward there";
        } else {
            outcome = "upstream_unreachable";
            e.status = 502, e.code = "upstream_unreachable", e.message = "the target node could not be reached";
        }
    } else if (f->bad && !client_gone) {
        atomic_fetch_add(&r->failed, 1);
        outcome = "upstream_bad_answer";
        e.status = 502, e.code = "upstream_bad_answer",
        e.message = "the target node's answer was not a sealed result";
    } else if (client_gone) {
        /* the sink resumes the suspended connection so it is found closed
         * and freed (an answer nobody reads) */
        outcome = "client_gone";
        e.status = 502, e.code = "client_gone", e.message = "the client went away";
    } else {
        atomic_fetch_add(&r->failed, 1);
        if (res.timed_out) {
            outcome = "upstream_timeout";
            e.status = 504, e.code = "upstream_timeout", e.message = "the target node did not answer in time";
        } else if (zt_job_pool_stopping(r->pool)) {
            outcome = "shutdown";
            e.status = 503, e.code = "shutting_down", e.message = "the relay is shutting down";
        } else {
            outcome = "upstream_unreachable";
            e.status = 502, e.code = "upstream_unreachable", e.message = "the target node could not be reached";
        }
    }
    f->sink.end(f->sink.ud, &e);
    zt_log(ZT_LOG_INFO, "relay_done", "target=%s outcome=%s upstream_status=%ld bytes=%llu duration_ms=%llu%s%s%s",
           f->target_id, outcome, res.status, (unsigned long long)f->bytes,
           (unsigned long long)(zt_time_mono_ms() - start), res.error[0] ? " detail=\"" : "", res.error,
           res.error[0] ? "\"" : "");
    zt_buf_deinit(&f->err);
    zt_free(f->body);
    zt_free(f); /* the pool releases the slot */
}

int zt_relay_start(struct zt_relay_fwd *f, const struct zt_relay_sink *sink)
{
    if (!f || !sink || !sink->start || !sink->write || !sink->end) return ZT_EINVAL;
    f->sink = *sink;
    return zt_job_pool_spawn(f->relay->pool, run_forward, f);
}
