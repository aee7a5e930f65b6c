/* transfer.c: the one outbound HTTP call of src/jobs (transfer.h), on one
 * libcurl easy handle per POST. Hardened the way the relay and the gateway
 * were: http/https only, no redirects, no proxy unless asked, no signals,
 * connect/first-byte/idle/total timeouts. The body is never logged. */
#include "transfer.h"

#include <curl/curl.h>
#include <string.h>

#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

struct xfer {
    const struct zt__jobs_post *p;
    CURL *c;
    bool head_seen, aborted, timed_out;
    uint64_t start_ms;
};

int zt__jobs_http_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : ZT_EIO;
}

void zt__jobs_http_cleanup(void)
{
    curl_global_cleanup();
}

const char *zt__jobs_endpoint_path(const char *endpoint)
{
    const char *p = strstr(endpoint, "://");
    p = p ? p + 3 : endpoint;
    const char *slash = strchr(p, '/');
    return slash ? slash : "";
}

static int head_done(struct xfer *x)
{
    if (x->head_seen) return 0;
    long code = 0;
    char *ct = NULL;
    curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(x->c, CURLINFO_CONTENT_TYPE, &ct);
    x->head_seen = true;
    if (x->p->on_head && x->p->on_head(x->p->ud, code, ct) != 0) {
        x->aborted = true;
        return -1;
    }
    return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (len <= 2 && (len == 0 || p[0] == '\r' || p[0] == '\n')) { /* the end of a header block */
        long code = 0;
        curl_easy_getinfo(x->c, CURLINFO_RESPONSE_CODE, &code);
        if (code >= 200 && head_done(x) != 0) return 0;
    }
    return len;
}

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (head_done(x) != 0) return 0;
    if (len && x->p->on_body && x->p->on_body(x->p->ud, (const uint8_t *)p, len) != 0) {
        x->aborted = true;
        return 0;
    }
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct xfer *x = ud;
    if (x->p->cancelled && x->p->cancelled(x->p->ud)) {
        x->aborted = true;
        return 1;
    }
    if (!x->head_seen && x->p->first_byte_timeout_ms > 0 &&
        zt_time_mono_ms() - x->start_ms > (uint64_t)x->p->first_byte_timeout_ms) {
        x->timed_out = true;
        return 1;
    }
    return 0;
}

int zt__jobs_post(const struct zt__jobs_post *p, struct zt__jobs_post_result *out)
{
    memset(out, 0, sizeof *out);
    struct xfer x = {.p = p, .start_ms = zt_time_mono_ms()};
    struct curl_slist *hdrs = NULL;
    int rc = 0;
    for (size_t i = 0; i < ZT__JOBS_HEADERS_MAX && p->headers[i]; i++) {
        struct curl_slist *l = curl_slist_append(hdrs, p->headers[i]);
        if (!l) {
            rc = ZT_ENOMEM;
            goto out;
        }
        hdrs = l;
    }
    x.c = curl_easy_init();
    if (!x.c) {
        rc = ZT_ENOMEM;
        goto out;
    }
    CURL *c = x.c;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, p->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    if (!p->env_proxy) curl_easy_setopt(c, CURLOPT_PROXY, ""); /* never an environment proxy */
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)p->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)p->body_len);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, p->connect_timeout_ms > 0 ? p->connect_timeout_ms : 10000L);
    if (p->total_timeout_ms > 0) curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, p->total_timeout_ms);
    if (p->idle_timeout_ms > 0) {
        long s = (p->idle_timeout_ms + 999) / 1000;
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L); /* silence while streaming */
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s);
    }
    if (p->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, p->ca_file);
    if (p->user_agent) curl_easy_setopt(c, CURLOPT_USERAGENT, p->user_agent);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &x);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    CURLcode cr = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
    out->ok = cr == CURLE_OK;
    out->aborted = x.aborted;
    out->timed_out = x.timed_out || cr == CURLE_OPERATION_TIMEDOUT;
    if (!out->ok) zt_strlcpy(out->error, errbuf[0] ? errbuf : curl_easy_strerror(cr), sizeof out->error);
out:
    if (rc) zt_strlcpy(out->error, "cannot set up the HTTP client", sizeof out->error);
    if (x.c) curl_easy_cleanup(x.c);
    curl_slist_free_all(hdrs);
    return rc;
}
