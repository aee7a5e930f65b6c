/* transfer.h: the one outbound HTTP call of src/jobs (internal). Every
 * POST the job client and the relay make goes through zt__jobs_post(),
 * which sends it with src/net's outbound HTTP client (zt_http_client.h). */
#ifndef ZT_JOBS_TRANSFER_H
#define ZT_JOBS_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zentalk/zt_error.h"

#define ZT__JOBS_HEADERS_MAX 12
#define ZT__JOBS_HEADER_LINE_MAX 160 /* one fixed header line (not a bearer token) */
#define ZT__RELAY_ERROR_MAX ((size_t)16 << 10) /* bytes of a JSON error answer the relay passes on */

struct zt__jobs_post {
    const char *url;               /* http:// or https:// only */
    const uint8_t *body;
    size_t body_len;
    const char *headers[ZT__JOBS_HEADERS_MAX]; /* "Name: value" lines, NULL-terminated list */
    long connect_timeout_ms;       /* 0: 10 s */
    long total_timeout_ms;         /* 0: none */
    long first_byte_timeout_ms;    /* answer headers within (0: none) */
    long idle_timeout_ms;          /* longest silence while streaming (0: none; with no
                                      total timeout either, 5 min of silence end it) */
    bool env_proxy;                /* honour http(s)_proxy; otherwise never a proxy */
    const char *ca_file;           /* PEM CAs for https, NULL: the system store */
    const char *user_agent;        /* NULL: none (the relay sends nothing about anyone) */
    const char *resolve;           /* "HOST:PORT:ADDRESS": connect there (zt_http_request.resolve) */
    /* The final answer's headers are in (status >= 200): 0, or abort. */
    int (*on_head)(void *ud, long status, const char *content_type);
    /* Answer bytes as they arrive: 0, or abort. */
    int (*on_body)(void *ud, const uint8_t *p, size_t n);
    /* Polled: true aborts. May be NULL. */
    bool (*cancelled)(void *ud);
    void *ud;
};

struct zt__jobs_post_result {
    long status;        /* 0: no answer */
    bool ok;            /* the transfer completed */
    bool timed_out;     /* a timeout ended it */
    bool aborted;       /* a callback ended it */
    bool redirected;    /* the answer was a redirect (never followed) */
    char error[256];    /* the transport's reason when !ok ("" otherwise) */
};

/* Take / drop a reference to the shared HTTP client (the first makes it,
 * the last frees it). ZT_EIO, ZT_ENOMEM. */
ZT_NODISCARD int zt__jobs_http_init(void);
void zt__jobs_http_cleanup(void);

/* Run one POST to its end. *out is always written. ZT_ENOMEM / ZT_EINVAL
 * when it could not be started (then out->error says why). */
ZT_NODISCARD int zt__jobs_post(const struct zt__jobs_post *p, struct zt__jobs_post_result *out);

/* The path part of an endpoint URL ("" for "http://host:port"). */
const char *zt__jobs_endpoint_path(const char *endpoint);

#endif
