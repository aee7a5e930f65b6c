/* http_client.c: the one outbound HTTP client. See zt_http_client.h and
 * docs/internals/http_client.md.
 *
 * A bounded pool of slots, each an easy handle inside a multi handle of its
 * own. A call takes an idle slot (waiting on the condition variable when all
 * max_inflight are busy), drives its transfer on the calling thread with
 * curl_multi_perform/curl_multi_poll (100 ms at most per poll, so
 * should_stop() and shutdown are seen quickly; shutdown also wakes the poll
 * with curl_multi_wakeup), and gives the slot back. The slot's multi handle
 * keeps its connection and DNS caches between calls, so a caller talking
 * to the same peer again reuses the connection; idle slots are taken
 * last-in first-out, so the warm ones are used first.
 *
 * Redirects are never followed by libcurl (CURLOPT_FOLLOWLOCATION stays
 * off): the header callback notices a 3xx with a Location at the end of
 * its headers and stops that transfer; the Location is resolved against
 * the current URL with libcurl's URL parser, checked (scheme, host, no
 * downgrade, hop count) and only then requested, so a refused target is
 * never connected to. */
#include "zentalk/zt_http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_identity.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_version.h"

#define MAX_INFLIGHT_LIMIT 4096u
#define POLL_MS 100
#define URL_MAX 8192

struct slot {
    CURL *easy;   /* created on first use, reused (curl_easy_reset) */
    CURLM *multi; /* holds the slot's connection and DNS caches */
    bool busy;
};

struct zt_http_client {
    pthread_mutex_t mu;
    pthread_cond_t cv;        /* a slot became free, or the last request ended */
    struct slot *slots;       /* max_inflight of them, after this header (one allocation) */
    unsigned *idle;           /* stack of idle slot indices (LIFO: warm first), after slots */
    unsigned n_idle;
    unsigned max_inflight;
    unsigned inflight;
    atomic_bool closing;
    char *ca_file;
    char *user_agent;
    size_t max_header_bytes;
};

/* ---- global ------------------------------------------------------------- */

/* libcurl allocates through the zt_ wrappers too, so that tests count its
 * allocations (a leaked handle shows) and inject failures into its paths. */
int zt_net_client_global_init(void)
{
    return curl_global_init_mem(CURL_GLOBAL_DEFAULT, zt_malloc, zt_free, zt_realloc, zt_strdup, zt_calloc) == CURLE_OK
               ? 0
               : ZT_EIO;
}

void zt_net_client_global_cleanup(void)
{
    curl_global_cleanup();
}

/* ---- response ----------------------------------------------------------- */

void zt_http_response_init(struct zt_http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    /* the request's max_body_bytes is the cap (checked in on_body) */
    zt_buf_init(&resp->body, SIZE_MAX / 2);
}

void zt_http_response_deinit(struct zt_http_response *resp)
{
    zt_buf_deinit(&resp->body);
}

/* ---- client ------------------------------------------------------------- */

void zt_http_client_free(struct zt_http_client *c)
{
    if (!c) return;
    zt_http_client_shutdown(c);
    for (unsigned i = 0; c->slots && i < c->max_inflight; i++) {
        if (c->slots[i].easy) curl_easy_cleanup(c->slots[i].easy);
        if (c->slots[i].multi) curl_multi_cleanup(c->slots[i].multi);
    }
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    zt_free(c->ca_file);
    zt_free(c->user_agent);
    zt_free(c);
}

int zt_http_client_new(const struct zt_http_client_opts *opts, struct zt_http_client **out)
{
    struct zt_http_client_opts o = opts ? *opts : (struct zt_http_client_opts){0};
    if (o.max_inflight == 0) o.max_inflight = ZT_HTTP_CLIENT_MAX_INFLIGHT;
    if (o.max_inflight > MAX_INFLIGHT_LIMIT) return ZT_EINVAL;
    /* the header, slots[max_inflight], idle[max_inflight] */
    struct zt_http_client *c = zt_calloc(1, sizeof *c + o.max_inflight * (sizeof(struct slot) + sizeof(unsigned)));
    if (!c) return ZT_ENOMEM;
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        zt_free(c);
        return ZT_ENOMEM;
    }
    if (pthread_cond_init(&c->cv, NULL) != 0) {
        pthread_mutex_destroy(&c->mu);
        zt_free(c);
        return ZT_ENOMEM;
    }
    atomic_init(&c->closing, false);
    c->max_inflight = o.max_inflight;
    c->max_header_bytes = o.max_header_bytes ? o.max_header_bytes : ZT_HTTP_CLIENT_MAX_HEADERS;
    c->slots = (struct slot *)(void *)(c + 1);
    c->idle = (unsigned *)(void *)(c->slots + o.max_inflight);
    c->user_agent = zt_strdup(o.user_agent ? o.user_agent : "zentalk/" ZT_VERSION);
    if (o.ca_file) c->ca_file = zt_strdup(o.ca_file);
    if (!c->user_agent || (o.ca_file && !c->ca_file)) {
        zt_http_client_free(c);
        return ZT_ENOMEM;
    }
    /* push in reverse so slot 0 is used first */
    for (unsigned i = 0; i < o.max_inflight; i++) c->idle[i] = o.max_inflight - 1 - i;
    c->n_idle = o.max_inflight;
    *out = c;
    return 0;
}

unsigned zt_http_client_inflight(struct zt_http_client *c)
{
    return zt_locked_unsigned(&c->mu, &c->inflight);
}

void zt_http_client_shutdown(struct zt_http_client *c)
{
    pthread_mutex_lock(&c->mu);
    atomic_store(&c->closing, true);
    for (unsigned i = 0; c->slots && i < c->max_inflight; i++)
        if (c->slots[i].busy && c->slots[i].multi) curl_multi_wakeup(c->slots[i].multi);
    pthread_cond_broadcast(&c->cv); /* waiters for a slot give up */
    while (c->inflight > 0) pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

/* Take an idle slot, waiting while all are busy; its handles are made on
 * first use, under the lock (shutdown reads them to wake the slot). 0,
 * ZT_ECLOSED when shut down, ZT_ENOMEM. */
static int slot_acquire(struct zt_http_client *c, struct slot **out)
{
    int rc = ZT_ECLOSED;
    pthread_mutex_lock(&c->mu);
    while (!atomic_load(&c->closing) && c->n_idle == 0) pthread_cond_wait(&c->cv, &c->mu);
    if (!atomic_load(&c->closing)) {
        struct slot *s = &c->slots[c->idle[c->n_idle - 1]];
        if (!s->easy) s->easy = curl_easy_init();
        if (!s->multi) s->multi = curl_multi_init();
        if (s->easy && s->multi) {
            c->n_idle--;
            s->busy = true;
            c->inflight++;
            *out = s;
            rc = 0;
        } else {
            rc = ZT_ENOMEM; /* the slot stays idle; what was made is kept */
        }
    }
    pthread_mutex_unlock(&c->mu);
    return rc;
}

static void slot_release(struct zt_http_client *c, struct slot *s)
{
    pthread_mutex_lock(&c->mu);
    s->busy = false;
    c->idle[c->n_idle++] = (unsigned)(s - c->slots);
    c->inflight--;
    /* broadcast: a waiter for a slot and shutdown (waiting for inflight == 0)
     * share the condition variable */
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

/* ---- one transfer ------------------------------------------------------- */

/* What the callbacks of one hop see and record. */
struct xfer {
    struct zt_http_client *c;
    const struct zt_http_request *req;
    struct zt_http_response *resp;
    size_t max_body;
    uint64_t first_byte_deadline_ns; /* 0: none */
    size_t header_bytes;  /* all header lines of this call so far */
    long status;          /* of the response whose headers are being read */
    bool follow;          /* this hop's response is a redirect to follow */
    bool head_done;       /* on_head called (final response) */
    char location[URL_MAX];
    char content_type[128];
    int64_t content_length; /* -1: no Content-Length */
    int stop_err;         /* why a callback stopped the transfer (ZT_E*) */
    char stop_reason[128];
};

static void stop(struct xfer *x, int err, const char *reason)
{
    if (x->stop_err) return; /* the first cause wins */
    x->stop_err = err;
    zt_strlcpy(x->stop_reason, reason, sizeof x->stop_reason);
}

static bool stop_requested(struct xfer *x)
{
    if (atomic_load(&x->c->closing)) {
        stop(x, ZT_ECLOSED, "the HTTP client is shutting down");
        return true;
    }
    if (x->req->should_stop && x->req->should_stop(x->req->ud)) {
        stop(x, ZT_ECLOSED, "cancelled");
        return true;
    }
    if (x->first_byte_deadline_ns && !x->head_done && zt_time_mono_ns() > x->first_byte_deadline_ns) {
        stop(x, ZT_ETIMEDOUT, "no answer within the first-byte timeout");
        return true;
    }
    return false;
}

/* Copy a header value without surrounding blanks and CR/LF. */
static void header_value(const char *v, size_t n, char *out, size_t cap)
{
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

static size_t on_header(char *line, size_t size, size_t nitems, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nitems;
    x->header_bytes += n;
    if (x->header_bytes > x->c->max_header_bytes) {
        stop(x, ZT_ETOOBIG, "the response headers are over the size cap");
        return 0;
    }
    if (stop_requested(x)) return 0;
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0) { /* a status line: a new response */
        const char *sp = memchr(line, ' ', n);
        long st = 0;
        if (sp) {
            for (const char *p = sp + 1; p < line + n && *p >= '0' && *p <= '9' && st < 1000; p++)
                st = st * 10 + (*p - '0');
        }
        x->status = st;
        x->location[0] = '\0';
        x->content_type[0] = '\0';
        x->content_length = -1;
        return n;
    }
    if (n >= 15 && strncasecmp(line, "content-length:", 15) == 0) {
        char v[32];
        header_value(line + 15, n - 15, v, sizeof v);
        int64_t cl = 0;
        bool ok = v[0] != '\0';
        for (const char *p = v; *p && ok; p++) {
            if (*p < '0' || *p > '9' || cl > (INT64_MAX - 9) / 10) ok = false;
            else cl = cl * 10 + (*p - '0');
        }
        x->content_length = ok ? cl : -1;
        return n;
    }
    if (n >= 9 && strncasecmp(line, "location:", 9) == 0) {
        header_value(line + 9, n - 9, x->location, sizeof x->location);
        return n;
    }
    if (n >= 13 && strncasecmp(line, "content-type:", 13) == 0) {
        header_value(line + 13, n - 13, x->content_type, sizeof x->content_type);
        return n;
    }
    bool end = (n == 2 && line[0] == '\r') || (n == 1 && line[0] == '\n');
    if (!end || x->head_done) return n; /* a header, or a trailer */
    if (x->status >= 100 && x->status < 200) return n; /* 100 Continue: the real one follows */
    if (x->status >= 300 && x->status < 400 && x->location[0]) {
        if (x->req->redirects == ZT_HTTP_REDIRECT_NONE) {
            stop(x, ZT_EPERM, "the server answered with a redirect and redirects are off");
            return 0;
        }
        x->follow = true; /* checked and requested by the caller loop */
        return 0;         /* no need for this response's body */
    }
    x->head_done = true;
    x->resp->status = x->status;
    zt_strlcpy(x->resp->content_type, x->content_type, sizeof x->resp->content_type);
    if (x->req->on_head) {
        int rc = x->req->on_head(x->req->ud, x->status, x->content_type, x->content_length);
        if (rc != 0) {
            stop(x, rc < 0 ? rc : ZT_EINVAL, "stopped by the response's header callback");
            return 0;
        }
    }
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
    struct xfer *x = ud;
    size_t n = size * nmemb;
    if (stop_requested(x)) return 0;
    if (n > x->max_body || x->resp->body_bytes > x->max_body - n) {
        stop(x, ZT_ETOOBIG, "the response body is over the size cap");
        return 0;
    }
    x->resp->body_bytes += n;
    int rc;
    if (x->req->on_body) {
        rc = x->req->on_body(x->req->ud, data, n);
        if (rc != 0) {
            stop(x, rc < 0 ? rc : ZT_EINVAL, "stopped by the response's body callback");
            return 0;
        }
    } else if ((rc = zt_buf_append(&x->resp->body, data, n)) != 0) {
        stop(x, rc, rc == ZT_ETOOBIG ? "the response body is over the size cap" : "out of memory");
        return 0;
    }
    return n;
}

static int on_progress(void *ud, curl_off_t a, curl_off_t b, curl_off_t cc, curl_off_t d)
{
    (void)a, (void)b, (void)cc, (void)d;
    return stop_requested(ud) ? 1 : 0;
}

/* Map a libcurl result (when no callback set a cause) to a ZT_E*. */
static int map_curl(CURLcode cr, const struct xfer *x)
{
    switch (cr) {
    case CURLE_OK: return 0;
    case CURLE_OPERATION_TIMEDOUT: return ZT_ETIMEDOUT;
    case CURLE_FILESIZE_EXCEEDED: return ZT_ETOOBIG;
    case CURLE_OUT_OF_MEMORY:
        /* libcurl 7.88 refuses a header line over its own 100 KB limit this
         * way: a status line came, the headers did not end */
        return x->status != 0 && !x->head_done ? ZT_ETOOBIG : ZT_ENOMEM;
    case CURLE_RANGE_ERROR:
    case CURLE_BAD_DOWNLOAD_RESUME: return ZT_ERANGE;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT: return ZT_EINVAL;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH: return ZT_ECRYPTO;
    default: return ZT_ENET;
    }
}

/* The hardened defaults, for every hop of every request. */
static void harden(CURL *e, const struct zt_http_client *c, const struct zt_http_request *req, char *errbuf)
{
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* redirects are checked here, hop by hop */
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 0L);
    if (!req->env_proxy) curl_easy_setopt(e, CURLOPT_PROXY, ""); /* never a proxy from the environment */
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    const char *ca = req->ca_file ? req->ca_file : c->ca_file;
    if (ca) curl_easy_setopt(e, CURLOPT_CAINFO, ca);
    curl_easy_setopt(e, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 64L * 1024L); /* fewer callbacks for downloads */
    /* no CURLOPT_ACCEPT_ENCODING: no compressed bodies, so no decompression
     * bomb can get past the body cap */
}

static bool header_line_ok(const char *h)
{
    return strpbrk(h, "\r\n") == NULL && strchr(h, ':') != NULL;
}

static bool method_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > 16) return false;
    for (size_t i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z') return false;
    return true;
}

static bool scheme_ok(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

/* Resolve the Location against the current URL and decide whether to go
 * there. 0 with the new URL in next (and *cross_host), or ZT_EPERM/ZT_EINVAL
 * with a reason. */
static int check_redirect(const struct zt_http_request *req, const char *cur, const char *location, char *next,
                          size_t cap, bool *cross_host, char *reason, size_t rcap)
{
    int rc = ZT_EPERM;
    CURLU *u = curl_url();
    char *from_scheme = NULL, *from_host = NULL, *to_scheme = NULL, *to_host = NULL, *to_url = NULL;
    if (!u) return ZT_ENOMEM;
    if (curl_url_set(u, CURLUPART_URL, cur, 0) != CURLUE_OK || curl_url_get(u, CURLUPART_SCHEME, &from_scheme, 0) ||
        curl_url_get(u, CURLUPART_HOST, &from_host, 0)) {
        snprintf(reason, rcap, "cannot parse the current URL");
        rc = ZT_EINVAL;
        goto out;
    }
    /* relative Locations resolve against cur; any scheme parses, so that a
     * file:// or gopher:// target is refused by name below */
    if (curl_url_set(u, CURLUPART_URL, location, CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_SCHEME, &to_scheme, 0) != CURLUE_OK) {
        snprintf(reason, rcap, "refused a redirect to a malformed URL");
        goto out;
    }
    if (strcmp(to_scheme, "http") != 0 && strcmp(to_scheme, "https") != 0) {
        snprintf(reason, rcap, "refused a redirect to a %.16s: URL (http and https only)", to_scheme);
        goto out;
    }
    if (strcmp(from_scheme, "https") == 0 && strcmp(to_scheme, "http") == 0) {
        snprintf(reason, rcap, "refused a redirect from https to http");
        goto out;
    }
    if (curl_url_get(u, CURLUPART_HOST, &to_host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &to_url, 0) != CURLUE_OK) {
        snprintf(reason, rcap, "refused a redirect to a URL without a host");
        goto out;
    }
    *cross_host = strcasecmp(from_host, to_host) != 0;
    if (*cross_host && req->redirects != ZT_HTTP_REDIRECT_ANY_HOST) {
        snprintf(reason, rcap, "refused a redirect to another host");
        goto out;
    }
    if (strlen(to_url) >= cap) {
        snprintf(reason, rcap, "refused a redirect to an overlong URL");
        goto out;
    }
    memcpy(next, to_url, strlen(to_url) + 1);
    rc = 0;
out:
    curl_free(from_scheme);
    curl_free(from_host);
    curl_free(to_scheme);
    curl_free(to_host);
    curl_free(to_url);
    curl_url_cleanup(u);
    return rc;
}

/* Build the header list for one hop. cross_host: the caller's headers
 * (credentials, signatures) stay behind. */
static int build_headers(const struct zt_http_request *req, bool with_body, bool cross_host, struct curl_slist **out)
{
    struct curl_slist *l = NULL, *t;
    char line[256];
    if (!cross_host && req->headers) {
        for (const char *const *h = req->headers; *h; h++) {
            if (!(t = curl_slist_append(l, *h))) goto oom;
            l = t;
        }
    }
    if (with_body && req->content_type) {
        int w = snprintf(line, sizeof line, "Content-Type: %s", req->content_type);
        if (w < 0 || (size_t)w >= sizeof line) goto oom;
        if (!(t = curl_slist_append(l, line))) goto oom;
        l = t;
    }
    /* no "Expect: 100-continue" round trip before a body */
    if (!(t = curl_slist_append(l, "Expect:"))) goto oom;
    l = t;
    *out = l;
    return 0;
oom:
    curl_slist_free_all(l);
    return ZT_ENOMEM;
}

/* Run the easy handle in the slot's multi until done, polling for stop
 * requests. Returns the transfer's CURLcode. */
static CURLcode drive(struct slot *s, struct xfer *x)
{
    CURLcode result = CURLE_OK;
    if (curl_multi_add_handle(s->multi, s->easy) != CURLM_OK) return CURLE_OUT_OF_MEMORY;
    for (;;) {
        int running = 0;
        if (curl_multi_perform(s->multi, &running) != CURLM_OK) {
            result = CURLE_OUT_OF_MEMORY;
            break;
        }
        int left = 0;
        CURLMsg *m;
        bool done = false;
        while ((m = curl_multi_info_read(s->multi, &left)) != NULL) {
            if (m->msg == CURLMSG_DONE) {
                result = m->data.result;
                done = true;
            }
        }
        if (done || running == 0) break;
        if (stop_requested(x)) {
            result = CURLE_ABORTED_BY_CALLBACK;
            break;
        }
        if (curl_multi_poll(s->multi, NULL, 0, POLL_MS, NULL) != CURLM_OK) {
            result = CURLE_OUT_OF_MEMORY;
            break;
        }
    }
    curl_multi_remove_handle(s->multi, s->easy);
    return result;
}

static int run_request(struct zt_http_client *c, struct slot *s, const struct zt_http_request *req,
                       struct zt_http_response *resp)
{
    int rc = 0;
    struct curl_slist *hdrs = NULL, *pin = NULL;
    char errbuf[CURL_ERROR_SIZE];
    char *url = zt_malloc(URL_MAX);
    struct xfer *x = zt_calloc(1, sizeof *x);
    if (req->resolve && !(pin = curl_slist_append(NULL, req->resolve))) rc = ZT_ENOMEM;
    if (!url || !x || rc) {
        rc = ZT_ENOMEM;
        zt_strlcpy(resp->reason, "out of memory", sizeof resp->reason);
        goto out;
    }
    zt_strlcpy(url, req->url, URL_MAX);
    const char *method = req->method ? req->method : (req->body ? "POST" : "GET");
    bool with_body = req->body != NULL;
    bool cross_host = false;
    long timeout = req->timeout_ms ? req->timeout_ms : ZT_HTTP_CLIENT_TIMEOUT_MS;
    uint64_t deadline = timeout > 0 ? zt_time_mono_ns() + (uint64_t)timeout * 1000000u : 0;
    unsigned max_hops = req->max_redirects ? req->max_redirects : ZT_HTTP_CLIENT_MAX_REDIRECTS;
    uint64_t first_byte = req->first_byte_timeout_ms > 0
                              ? zt_time_mono_ns() + (uint64_t)req->first_byte_timeout_ms * 1000000u
                              : 0;

    for (;;) {
        memset(x, 0, sizeof *x);
        x->c = c;
        x->req = req;
        x->resp = resp;
        x->max_body = req->max_body_bytes ? req->max_body_bytes : ZT_HTTP_CLIENT_MAX_BODY;
        x->first_byte_deadline_ns = first_byte;
        errbuf[0] = '\0';
        resp->body_bytes = 0;
        zt_buf_reset(&resp->body);

        CURL *e = s->easy;
        curl_easy_reset(e); /* keeps the connections; clears every option */
        harden(e, c, req, errbuf);
        curl_easy_setopt(e, CURLOPT_URL, url);
        if (pin) curl_easy_setopt(e, CURLOPT_RESOLVE, pin);
        long ct = req->connect_timeout_ms ? req->connect_timeout_ms : ZT_HTTP_CLIENT_CONNECT_TIMEOUT_MS;
        if (deadline) {
            uint64_t now = zt_time_mono_ns();
            long left = now < deadline ? (long)((deadline - now) / 1000000u) : 0;
            if (left <= 0) {
                rc = ZT_ETIMEDOUT;
                zt_strlcpy(resp->reason, "timed out while following redirects", sizeof resp->reason);
                goto out;
            }
            curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, left);
            if (ct > left) ct = left;
        }
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, ct);
        if (req->low_speed_bps >= 0) {
            curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, req->low_speed_bps ? req->low_speed_bps : ZT_HTTP_CLIENT_LOW_SPEED_BPS);
            curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, req->low_speed_s ? req->low_speed_s : ZT_HTTP_CLIENT_LOW_SPEED_S);
        }
        if (x->max_body != SIZE_MAX)
            curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_body + (curl_off_t)req->range_from);
        if (req->range_from > 0) curl_easy_setopt(e, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)req->range_from);
        if (strcmp(method, "GET") == 0 && !with_body) {
            curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
        } else if (strcmp(method, "HEAD") == 0) {
            curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        } else {
            /* an empty body still goes out with "Content-Length: 0" */
            curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(with_body ? req->body_len : 0));
            curl_easy_setopt(e, CURLOPT_POSTFIELDS, with_body ? req->body : "");
            if (strcmp(method, "POST") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
        }
        curl_slist_free_all(hdrs);
        hdrs = NULL;
        if ((rc = build_headers(req, with_body, cross_host, &hdrs)) != 0) {
            zt_strlcpy(resp->reason, "out of memory", sizeof resp->reason);
            goto out;
        }
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
        curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(e, CURLOPT_XFERINFODATA, x);

        CURLcode cr = drive(s, x);
        if (x->follow) {
            if (resp->redirects >= max_hops) {
                rc = ZT_EPERM;
                snprintf(resp->reason, sizeof resp->reason, "refused a redirect: more than %u hops", max_hops);
                goto out;
            }
            char *next = zt_malloc(URL_MAX);
            if (!next) {
                rc = ZT_ENOMEM;
                zt_strlcpy(resp->reason, "out of memory", sizeof resp->reason);
                goto out;
            }
            bool hop_cross = false;
            rc = check_redirect(req, url, x->location, next, URL_MAX, &hop_cross, resp->reason, sizeof resp->reason);
            if (rc == 0) memcpy(url, next, strlen(next) + 1);
            zt_free(next);
            if (rc != 0) goto out;
            cross_host = cross_host || hop_cross;
            resp->redirects++;
            /* 303, and 301/302 after a POST, go on as GET (what browsers do) */
            if (x->status == 303 || ((x->status == 301 || x->status == 302) && strcmp(method, "POST") == 0)) {
                method = "GET";
                with_body = false;
            }
            continue;
        }
        if (x->stop_err) {
            rc = x->stop_err;
            zt_strlcpy(resp->reason, x->stop_reason, sizeof resp->reason);
        } else if (cr != CURLE_OK) {
            rc = map_curl(cr, x);
            if (rc == ZT_ETOOBIG && cr == CURLE_OUT_OF_MEMORY)
                zt_strlcpy(resp->reason, "a response header line is over libcurl's limit", sizeof resp->reason);
            else
                snprintf(resp->reason, sizeof resp->reason, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cr));
        } else if (!x->head_done) {
            long st = 0;
            curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &st);
            resp->status = st;
            if (st == 0) {
                rc = ZT_ENET;
                zt_strlcpy(resp->reason, "no HTTP response", sizeof resp->reason);
            }
        }
        break;
    }
out:
    curl_slist_free_all(hdrs);
    curl_slist_free_all(pin);
    zt_free(url);
    zt_free(x);
    return rc;
}

int zt_http_client_do(struct zt_http_client *c, const struct zt_http_request *req, struct zt_http_response *resp)
{
    resp->status = 0;
    resp->content_type[0] = '\0';
    resp->body_bytes = 0;
    resp->redirects = 0;
    resp->reason[0] = '\0';
    zt_buf_reset(&resp->body);
    if (!req || !req->url || strlen(req->url) >= URL_MAX || !scheme_ok(req->url)) {
        zt_strlcpy(resp->reason, "the URL must be http:// or https://", sizeof resp->reason);
        return ZT_EINVAL;
    }
    if ((req->method && !method_ok(req->method)) || (req->content_type && strpbrk(req->content_type, "\r\n")) ||
        (req->timeout_ms < 0 && req->low_speed_bps < 0)) {
        zt_strlcpy(resp->reason, "bad method, content type or limits", sizeof resp->reason);
        return ZT_EINVAL;
    }
    if (req->headers) {
        for (const char *const *h = req->headers; *h; h++) {
            if (!header_line_ok(*h)) {
                zt_strlcpy(resp->reason, "a request header is not one \"Name: value\" line", sizeof resp->reason);
                return ZT_EINVAL;
            }
        }
    }
    struct slot *s = NULL;
    int rc = slot_acquire(c, &s);
    if (rc != 0) {
        zt_strlcpy(resp->reason, rc == ZT_ECLOSED ? "the HTTP client is shutting down" : "out of memory",
                   sizeof resp->reason);
        return rc;
    }
    rc = run_request(c, s, req, resp);
    slot_release(c, s);
    return rc;
}

int zt_http_client_json(struct zt_http_client *c, const char *url, const char *const *headers, const char *body,
                        long timeout_ms, struct zt_http_response *resp)
{
    struct zt_http_request req = {
        .url = url,
        .headers = headers,
        .body = body,
        .body_len = body ? strlen(body) : 0,
        .content_type = body ? "application/json" : NULL,
        .timeout_ms = timeout_ms,
    };
    return zt_http_client_do(c, &req, resp);
}

int zt_http_client_descriptor(struct zt_http_client *c, const char *base_url, long timeout_ms, int64_t now,
                              struct zt_http_response *resp, struct zt_node_descriptor *d)
{
    memset(d, 0, sizeof *d);
    char url[ZT_DESCRIPTOR_MAX_ENDPOINT + 32];
    if ((size_t)snprintf(url, sizeof url, "%s/v1/node/descriptor", base_url) >= sizeof url) return ZT_EINVAL;
    int rc = zt_http_client_json(c, url, NULL, NULL, timeout_ms, resp);
    if (!rc && resp->status != 200) rc = ZT_EIO;
    if (!rc) rc = zt_identity_descriptor_verify(zt_buf_str(&resp->body), resp->body.len, now, d);
    return rc;
}
