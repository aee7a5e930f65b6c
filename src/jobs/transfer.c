/* transfer.c: the one outbound HTTP call of src/jobs (transfer.h), through
 * the node's one outbound HTTP client (zt_http_client.h, src/net): its
 * hardened defaults apply (http/https only, no redirects, caps on body and
 * headers, no proxy unless asked, no signals), plus the connect,
 * first-byte, idle and total timeouts a call names. The body is never
 * logged.
 *
 * One client is shared by every pool in the process (the gateway's job
 * pool and the relay's), reference-counted by zt__jobs_http_init/cleanup
 * (zt_job_pool_new/free); the pools bound how many calls run at once (and
 * answer 503 past that), so the client's own in-flight limit is only a
 * backstop. A call made with no pool alive (`zentalk job run`: one call per
 * process) gets a client of its own for that call. */
#include "transfer.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_http_client.h"
#include "zentalk/zt_str.h"

#define CLIENT_MAX_INFLIGHT 512u
#define BODY_MAX (64u << 20)     /* an answer (a stream of tokens, a sealed result) */
#define NO_LIMIT_IDLE_S 300L     /* when a call names neither total nor idle timeout */

static pthread_mutex_t client_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned client_refs;
static struct zt_http_client *client;

int zt__jobs_http_init(void)
{
    int rc = 0;
    pthread_mutex_lock(&client_mu);
    if (client_refs == 0) {
        /* main() has done this already; standalone users (tests) need it,
         * and libcurl counts the calls */
        rc = zt_net_client_global_init();
        if (rc == 0) {
            struct zt_http_client_opts o = {.max_inflight = CLIENT_MAX_INFLIGHT};
            rc = zt_http_client_new(&o, &client);
            if (rc != 0) zt_net_client_global_cleanup();
        }
    }
    if (rc == 0) client_refs++;
    pthread_mutex_unlock(&client_mu);
    return rc == 0 ? 0 : (rc == ZT_ENOMEM ? ZT_ENOMEM : ZT_EIO);
}

void zt__jobs_http_cleanup(void)
{
    pthread_mutex_lock(&client_mu);
    if (client_refs > 0 && --client_refs == 0) {
        zt_http_client_free(client);
        client = NULL;
        zt_net_client_global_cleanup();
    }
    pthread_mutex_unlock(&client_mu);
}

const char *zt__jobs_endpoint_path(const char *endpoint)
{
    const char *p = strstr(endpoint, "://");
    p = p ? p + 3 : endpoint;
    const char *slash = strchr(p, '/');
    return slash ? slash : "";
}

/* The caller's callbacks, and whether one of them ended the call. */
struct call {
    const struct zt__jobs_post *p;
    bool aborted;
};

static int on_head(void *ud, long status, const char *content_type, int64_t content_length)
{
    (void)content_length;
    struct call *k = ud;
    if (k->p->on_head && k->p->on_head(k->p->ud, status, content_type) != 0) {
        k->aborted = true;
        return ZT_ECLOSED;
    }
    return 0;
}

static int on_body(void *ud, const void *data, size_t n)
{
    struct call *k = ud;
    if (n && k->p->on_body && k->p->on_body(k->p->ud, data, n) != 0) {
        k->aborted = true;
        return ZT_ECLOSED;
    }
    return 0;
}

static bool should_stop(void *ud)
{
    struct call *k = ud;
    if (k->p->cancelled && k->p->cancelled(k->p->ud)) {
        k->aborted = true;
        return true;
    }
    return false;
}

int zt__jobs_post(const struct zt__jobs_post *p, struct zt__jobs_post_result *out)
{
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&client_mu);
    struct zt_http_client *c = client; /* the caller's pool holds a reference */
    pthread_mutex_unlock(&client_mu);
    struct zt_http_client *own = NULL;
    if (!c) {
        if (zt_http_client_new(NULL, &own) != 0) {
            zt_strlcpy(out->error, "cannot set up the HTTP client", sizeof out->error);
            return ZT_ENOMEM;
        }
        c = own;
    }
    /* the caller's lines, and its User-Agent or none at all ("User-Agent:"
     * with no value removes the client's default) */
    const char *lines[ZT__JOBS_HEADERS_MAX + 2];
    char ua[ZT__JOBS_HEADER_LINE_MAX];
    size_t n = 0;
    for (; n < ZT__JOBS_HEADERS_MAX && p->headers[n]; n++) lines[n] = p->headers[n];
    int w = snprintf(ua, sizeof ua, "User-Agent:%s%s", p->user_agent ? " " : "", p->user_agent ? p->user_agent : "");
    lines[n++] = w > 0 && (size_t)w < sizeof ua ? ua : "User-Agent:";
    lines[n] = NULL;

    struct call k = {.p = p};
    bool idle = p->idle_timeout_ms > 0;
    struct zt_http_request req = {
        .method = "POST",
        .url = p->url,
        .headers = lines,
        .body = p->body ? (const void *)p->body : (const void *)"",
        .body_len = p->body_len,
        .connect_timeout_ms = p->connect_timeout_ms,
        .timeout_ms = p->total_timeout_ms > 0 ? p->total_timeout_ms : -1,
        /* silence while streaming: under 1 byte/s for the idle time */
        .low_speed_bps = 1,
        .low_speed_s = idle ? (p->idle_timeout_ms + 999) / 1000 : NO_LIMIT_IDLE_S,
        .first_byte_timeout_ms = p->first_byte_timeout_ms,
        .max_body_bytes = BODY_MAX,
        .ca_file = p->ca_file,
        .env_proxy = p->env_proxy,
        .resolve = p->resolve,
        .on_head = on_head,
        .on_body = on_body,
        .should_stop = should_stop,
        .ud = &k,
    };
    if (p->total_timeout_ms > 0 && !idle) req.low_speed_bps = -1; /* the total timeout bounds it */
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    int rc = zt_http_client_do(c, &req, &resp);
    out->status = resp.status;
    out->ok = rc == 0;
    out->aborted = k.aborted;
    out->timed_out = rc == ZT_ETIMEDOUT;
    out->redirected = rc == ZT_EPERM || (resp.status >= 300 && resp.status <= 399);
    if (rc != 0) zt_strlcpy(out->error, resp.reason[0] ? resp.reason : zt_strerror(rc), sizeof out->error);
    zt_http_response_deinit(&resp);
    zt_http_client_free(own);
    /* refused before anything was sent: the caller's input */
    return rc == ZT_EINVAL ? ZT_EINVAL : 0;
}
