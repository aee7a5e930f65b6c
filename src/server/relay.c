/* relay.c: the oblivious relay. See relay.h and docs/internals/relay.md.
 *
 * Each relayed request gets a thread of its own running one libcurl easy
 * transfer (bounded by max_inflight), so the HTTP threads never block. The
 * client's connection is deferred; when the upstream's response headers
 * are in, it becomes a stream with the upstream's status and content type
 * (zt_http_async_stream_start) and the body follows as libcurl delivers
 * it. Backpressure: the transfer thread waits while more than
 * ZT__RELAY_BUFFER_MAX bytes are queued for a slow client. A client that
 * goes away aborts the transfer (libcurl's progress callback).
 *
 * What goes upstream: the body, Content-Type, the four Zentalk-* signature
 * headers, Host, Accept (libcurl's "* / *") and Content-Length. Nothing of
 * the client's: no address, no Authorization, no User-Agent, no proxy
 * from the environment. Bodies are never logged. */
#include <jansson.h>

#include "relay.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_envelope.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

struct zt__relay {
    struct zt_peers *peers;
    const struct zt_identity *id;
    unsigned timeout_s;
    unsigned max_inflight;
    char *ca_file;            /* NULL: libcurl's default CA store */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned inflight;
    atomic_bool stopping;
    atomic_uint_fast64_t forwarded, failed, refused;
};

struct job {
    struct zt__relay *relay;
    struct zt_http_async *a;
    atomic_int refs;        /* the thread + on_close */
    atomic_bool closed;     /* the client is gone */
    char target_id[ZT_IDENTITY_ID_SIZE];
    char url[ZT_DESCRIPTOR_MAX_ENDPOINT + sizeof ZT__RELAY_UPSTREAM_PATH + 1];
    struct curl_slist *headers;
    uint8_t *body;
    size_t body_len;
    /* transfer state (the thread's only) */
    CURL *curl;
    bool headers_done;
    bool streaming;
    bool timed_out;
    char ctype[128];
    uint64_t start_ms;
    uint64_t bytes;
};

int zt__relay_new(struct zt_peers *peers, unsigned timeout_s, unsigned max_inflight, struct zt__relay **out)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return ZT_EIO;
    struct zt__relay *r = zt_calloc(1, sizeof *r);
    if (!r) {
        curl_global_cleanup();
        return ZT_ENOMEM;
    }
    r->peers = peers;
    r->timeout_s = timeout_s ? timeout_s : 1;
    r->max_inflight = max_inflight ? max_inflight : 1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    *out = r;
    return 0;
}

int zt__relay_set_ca_file(struct zt__relay *r, const char *path)
{
    char *copy = NULL;
    if (path && path[0] && !(copy = zt_strdup(path))) return ZT_ENOMEM;
    zt_free(r->ca_file);
    r->ca_file = copy;
    return 0;
}

void zt__relay_set_identity(struct zt__relay *r, const struct zt_identity *id)
{
    r->id = id;
}

void zt__relay_shutdown(struct zt__relay *r, uint64_t wait_ms)
{
    if (!r) return;
    atomic_store(&r->stopping, true);
    uint64_t deadline = zt_time_mono_ms() + wait_ms;
    pthread_mutex_lock(&r->mu);
    while (r->inflight > 0 && zt_time_mono_ms() < deadline) {
        pthread_mutex_unlock(&r->mu);
        zt_time_sleep_ms(5);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
}

void zt__relay_free(struct zt__relay *r)
{
    if (!r) return;
    zt__relay_shutdown(r, 10000);
    pthread_mutex_lock(&r->mu);
    bool left = r->inflight > 0;
    pthread_mutex_unlock(&r->mu);
    if (left) { /* a thread still holds r: leak it rather than free under it */
        zt_log(ZT_LOG_WARN, "relay_leak", "detail=\"transfers still running at shutdown\"");
        return;
    }
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    zt_free(r->ca_file);
    zt_free(r);
    curl_global_cleanup();
}

void zt__relay_stats(struct zt__relay *r, struct zt__relay_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!r) return;
    out->forwarded = atomic_load(&r->forwarded);
    out->failed = atomic_load(&r->failed);
    out->refused = atomic_load(&r->refused);
    pthread_mutex_lock(&r->mu);
    out->inflight = r->inflight;
    pthread_mutex_unlock(&r->mu);
}

static void job_unref(struct job *j)
{
    if (atomic_fetch_sub(&j->refs, 1) != 1) return;
    curl_slist_free_all(j->headers);
    if (j->body) {
        zt_free(j->body);
    }
    zt_free(j);
}

static void on_client_close(void *ud)
{
    struct job *j = ud;
    atomic_store(&j->closed, true);
    job_unref(j);
}

static bool aborted(const struct job *j)
{
    return atomic_load(&j->closed) || atomic_load(&j->relay->stopping);
}

/* Printable ASCII, trimmed, or NULL. */
static void take_content_type(struct job *j, const char *v, size_t n)
{
    while (n && (v[0] == ' ' || v[0] == '\t')) v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (n == 0 || n >= sizeof j->ctype) return;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7E) return;
    memcpy(j->ctype, v, n);
    j->ctype[n] = '\0';
}

static int start_stream(struct job *j)
{
    if (j->streaming) return 0;
    long code = 0;
    curl_easy_getinfo(j->curl, CURLINFO_RESPONSE_CODE, &code);
    if (code < 200 || code > 999) code = 502;
    int rc = zt_http_async_stream_start(j->a, (int)code, j->ctype[0] ? j->ctype : "application/octet-stream");
    if (rc) return rc;
    j->streaming = true;
    atomic_fetch_add(&j->relay->forwarded, 1);
    return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct job *j = ud;
    size_t len = size * n;
    if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) { /* a new header block (after 1xx) */
        j->ctype[0] = '\0';
        return len;
    }
    if (len <= 2 && (len == 0 || p[0] == '\r' || p[0] == '\n')) { /* end of a block */
        long code = 0;
        curl_easy_getinfo(j->curl, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200) {
            j->headers_done = true;
            if (start_stream(j) != 0) return 0; /* client gone: abort */
        }
        return len;
    }
    static const char ct[] = "content-type:";
    if (len > sizeof ct - 1) {
        bool match = true;
        for (size_t i = 0; i < sizeof ct - 1 && match; i++) {
            char c = p[i];
            if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
            match = c == ct[i];
        }
        if (match) take_content_type(j, p + sizeof ct - 1, len - (sizeof ct - 1));
    }
    return len;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct job *j = ud;
    size_t len = size * n;
    if (!j->streaming && start_stream(j) != 0) return 0;
    while (zt_http_async_pending(j->a) > ZT__RELAY_BUFFER_MAX) { /* a slow client */
        if (aborted(j)) return 0;
        zt_time_sleep_ms(2);
    }
    if (len && zt_http_async_write(j->a, p, len) != 0) return 0;
    j->bytes += len;
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct job *j = ud;
    if (aborted(j)) return 1;
    if (zt_http_async_client_gone(j->a)) { /* gone while we waited for upstream */
        atomic_store(&j->closed, true);
        return 1;
    }
    if (!j->headers_done && zt_time_mono_ms() - j->start_ms > (uint64_t)j->relay->timeout_s * 1000u) {
        j->timed_out = true;
        return 1;
    }
    return 0;
}

static void answer_error(struct job *j, int status, const char *code, const char *msg)
{
    struct zt_http_resp resp;
    zt_http_resp_init(&resp);
    zt_http_resp_error(&resp, status, code, msg);
    zt_ignore(zt_http_async_respond(j->a, &resp));
    zt_http_resp_deinit(&resp);
}

static void run_transfer(struct job *j)
{
    struct zt__relay *r = j->relay;
    CURL *c = curl_easy_init();
    CURLcode res = CURLE_FAILED_INIT;
    char errbuf[CURL_ERROR_SIZE] = "";
    j->curl = c;
    j->start_ms = zt_time_mono_ms();
    if (c) {
        long t = (long)r->timeout_s;
        curl_easy_setopt(c, CURLOPT_URL, j->url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never an environment proxy */
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)j->body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, j->headers);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, t < 10 ? t : 10L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* silence while streaming */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, t);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, j);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, j);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, j);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
        if (r->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
        res = curl_easy_perform(c);
    }
    const char *outcome = "ok";
    if (j->streaming) {
        if (res == CURLE_OK) {
            zt_http_async_end(j->a);
        } else {
            outcome = atomic_load(&j->closed) ? "client_gone" : "upstream_cut";
            if (!atomic_load(&j->closed)) atomic_fetch_add(&r->failed, 1);
            zt_http_async_fail(j->a);
        }
    } else if (atomic_load(&j->closed)) {
        outcome = "client_gone";
        /* resume the suspended connection so libmicrohttpd finds it closed
         * and frees it (an answer nobody reads) */
        answer_error(j, 502, "client_gone", "the client went away");
    } else {
        atomic_fetch_add(&r->failed, 1);
        if (j->timed_out || res == CURLE_OPERATION_TIMEDOUT) {
            outcome = "upstream_timeout";
            answer_error(j, 504, "upstream_timeout", "the target node did not answer in time");
        } else if (atomic_load(&r->stopping)) {
            outcome = "shutdown";
            answer_error(j, 503, "shutting_down", "the relay is shutting down");
        } else {
            outcome = "upstream_unreachable";
            answer_error(j, 502, "upstream_unreachable", "the target node could not be reached");
        }
    }
    long code = 0;
    if (c) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    zt_log(ZT_LOG_INFO, "relay_done", "target=%s outcome=%s upstream_status=%ld bytes=%llu duration_ms=%llu%s%s%s",
           j->target_id, outcome, code, (unsigned long long)j->bytes,
           (unsigned long long)(zt_time_mono_ms() - j->start_ms), errbuf[0] ? " detail=\"" : "", errbuf,
           errbuf[0] ? "\"" : "");
    if (c) curl_easy_cleanup(c);
    j->curl = NULL;
}

static void *transfer_thread(void *arg)
{
    struct job *j = arg;
    struct zt__relay *r = j->relay;
    run_transfer(j);
    zt_http_async_release(j->a);
    job_unref(j);
    pthread_mutex_lock(&r->mu);
    r->inflight--;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void refuse(struct zt__relay *r, struct zt_http_resp *resp, int status, const char *code, const char *msg)
{
    atomic_fetch_add(&r->refused, 1);
    zt_http_resp_error(resp, status, code, msg);
}

/* The path part of an endpoint URL ("" for "http://host:port"). */
static const char *endpoint_path(const char *endpoint)
{
    const char *p = strstr(endpoint, "://");
    p = p ? p + 3 : endpoint;
    const char *slash = strchr(p, '/');
    return slash ? slash : "";
}

void zt__relay_handle(struct zt__relay *r, struct zt_http_req *req, struct zt_http_resp *resp)
{
    struct job *j = NULL;
    const char *target = zt_http_req_header(req, ZT__RELAY_TARGET_HEADER);
    if (!target) {
        refuse(r, resp, 400, "missing_target", "the Zentalk-Target-Node header (a node id zt1...) is required");
        return;
    }
    if (!zt_identity_id_valid(target)) {
        refuse(r, resp, 400, "invalid_target", "Zentalk-Target-Node is not a node id (zt1 + 32 base32 characters)");
        return;
    }
    const char *ct = zt_http_req_header(req, "Content-Type");
    size_t ctl = strlen(ZT__RELAY_CONTENT_TYPE);
    if (!ct || strncmp(ct, ZT__RELAY_CONTENT_TYPE, ctl) != 0 || (ct[ctl] != '\0' && ct[ctl] != ';')) {
        refuse(r, resp, 415, "unsupported_media_type", "Content-Type must be " ZT__RELAY_CONTENT_TYPE);
        return;
    }
    size_t len;
    const char *body = zt_http_req_body(req, &len);
    struct zt_env_header h;
    size_t used;
    if (len == 0 || zt_env_header_decode_prefix((const uint8_t *)body, len, &h, &used) != 0) {
        refuse(r, resp, 400, "invalid_envelope", "the body is not a sealed envelope (bad cleartext header)");
        return;
    }
    int64_t now = zt_time_real_ms() / 1000;
    if (h.expires <= (uint64_t)now) {
        refuse(r, resp, 400, "expired_envelope", "the envelope has expired");
        return;
    }
    struct zt_peer peer;
    int lrc = zt_peers_lookup(r->peers, target, now, &peer);
    if (lrc) {
        refuse(r, resp, 404, "unknown_node",
               lrc == ZT_ETIMEDOUT ? "the target node's descriptor has expired"
                                   : "the target node is not a registered peer of this relay");
        return;
    }
    if (!r->id || atomic_load(&r->stopping)) {
        refuse(r, resp, 503, "unavailable", "the relay is not available");
        return;
    }
    pthread_mutex_lock(&r->mu);
    bool full = r->inflight >= r->max_inflight;
    if (!full) r->inflight++;
    pthread_mutex_unlock(&r->mu);
    if (full) {
        zt_ignore(zt_http_resp_header(resp, "Retry-After", "1"));
        refuse(r, resp, 503, "overloaded", "too many relayed requests in progress; retry later");
        return;
    }
    j = zt_calloc(1, sizeof *j);
    if (!j) goto oom;
    j->relay = r;
    atomic_init(&j->refs, 1);
    zt_strlcpy(j->target_id, peer.node_id, sizeof j->target_id);
    snprintf(j->url, sizeof j->url, "%s%s", peer.endpoint, ZT__RELAY_UPSTREAM_PATH);
    char signed_target[ZT_NODEAUTH_TARGET_MAX];
    if ((size_t)snprintf(signed_target, sizeof signed_target, "%s%s", endpoint_path(peer.endpoint),
                         ZT__RELAY_UPSTREAM_PATH) >= sizeof signed_target)
        goto oom;
    j->body = zt_malloc(len);
    if (!j->body) goto oom;
    memcpy(j->body, body, len);
    j->body_len = len;
    struct zt_nodeauth_headers sh;
    if (zt_nodeauth_sign(r->id, peer.node_id, "POST", signed_target, j->body, len, now, &sh) != 0) goto oom;
    struct curl_slist *l = curl_slist_append(NULL, "Content-Type: " ZT__RELAY_CONTENT_TYPE);
    if (!l) goto oom;
    j->headers = l;
    if (!(l = curl_slist_append(j->headers, "Expect:"))) goto oom; /* no 100-continue round trip */
    j->headers = l;
    if (zt_nodeauth_curl_headers(&sh, &j->headers) != 0) goto oom;
    j->a = zt_http_req_defer(req, on_client_close, j);
    if (!j->a) goto oom;
    atomic_fetch_add(&j->refs, 1); /* on_close's */
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int prc = pthread_create(&t, &attr, transfer_thread, j);
    pthread_attr_destroy(&attr);
    if (prc != 0) {
        zt_http_async_abandon(j->a); /* on_close will not run */
        atomic_fetch_sub(&j->refs, 1);
        goto oom;
    }
    return;
oom:
    if (j) {
        j->refs = 1;
        job_unref(j);
    }
    pthread_mutex_lock(&r->mu);
    r->inflight--;
    pthread_mutex_unlock(&r->mu);
    refuse(r, resp, 503, "overloaded", "the relay could not start the transfer");
}
