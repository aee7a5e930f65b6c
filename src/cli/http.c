/* http.c: the CLI's GET and POST-JSON helpers (through the one outbound
 * HTTP client, zt_http_client.h) and API error printing. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_http_client.h"

/* The CLI's one client: made on first use, freed by main() at exit. One
 * request at a time (the CLI is single-threaded). */
static struct zt_http_client *cli_client;

struct zt_http_client *zt__cli_http_client(void)
{
    if (!cli_client) {
        struct zt_http_client_opts o = {.max_inflight = 4};
        if (zt_http_client_new(&o, &cli_client) != 0) {
            fprintf(stderr, "zentalk: out of memory\n");
            return NULL;
        }
    }
    return cli_client;
}

void zt__cli_http_cleanup(void)
{
    zt_http_client_free(cli_client);
    cli_client = NULL;
}

static int on_body(void *ud, const void *p, size_t n)
{
    return zt_buf_append(ud, p, n);
}

/* One request: GET when body is NULL, else POST of len bytes of JSON.
 * "Authorization: Bearer $ZENTALK_TOKEN" goes with every request when the
 * variable is set. The answer is appended to out (its cap applies). */
static int request(const char *base, const char *path, const char *body, size_t len, long timeout_ms,
                   long *status, struct zt_buf *out)
{
    char url[2048];
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/') bl--;
    int n = snprintf(url, sizeof url, "%.*s%s", (int)bl, base, path);
    if (n < 0 || (size_t)n >= sizeof url) {
        fprintf(stderr, "zentalk: URL too long\n");
        return 1;
    }
    struct zt_http_client *c = zt__cli_http_client();
    if (!c) return 1;
    const char *hdrs[2] = {NULL, NULL};
    const char *tok = getenv("ZENTALK_TOKEN");
    char auth[4096];
    if (tok && tok[0]) {
        int k = snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
        if (k > 0 && (size_t)k < sizeof auth) hdrs[0] = auth;
    }
    struct zt_http_request req = {
        .url = url,
        .headers = hdrs,
        .body = body,
        .body_len = len,
        .content_type = body ? "application/json" : NULL,
        .connect_timeout_ms = 3000,
        .timeout_ms = timeout_ms,
        .low_speed_bps = -1, /* answers come whole, after the node has worked: the timeout bounds them */
        .env_proxy = true,   /* a user's command honours http_proxy/no_proxy, as curl does */
        .max_body_bytes = out->max > out->len ? out->max - out->len : 1,
        .on_body = on_body,
        .ud = out,
    };
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    int rc = zt_http_client_do(c, &req, &resp);
    if (rc != 0) {
        fprintf(stderr, "zentalk: cannot reach %s: %s\n", url, resp.reason[0] ? resp.reason : zt_strerror(rc));
        zt_http_response_deinit(&resp);
        return 1;
    }
    *status = resp.status;
    zt_http_response_deinit(&resp);
    return 0;
}

int zt__cli_http_get(const char *base, const char *path, long timeout_ms, long *status, struct zt_buf *out)
{
    return request(base, path, NULL, 0, timeout_ms, status, out);
}

int zt__cli_http_post_json(const char *base, const char *path, const json_t *req, long timeout_ms, long *status,
                           struct zt_buf *out)
{
    char *body = json_dumps(req, JSON_COMPACT);
    if (!body) {
        fprintf(stderr, "zentalk: out of memory (or a string that is not UTF-8)\n");
        return 1;
    }
    int rc = request(base, path, body, strlen(body), timeout_ms, status, out);
    zt_free(body); /* jansson allocates with zt_malloc (json_set_alloc_funcs in main) */
    return rc;
}

void zt__cli_print_api_error(long status, const char *body)
{
    json_t *j = json_loads(body, 0, NULL);
    json_t *msg = j ? json_object_get(json_object_get(j, "error"), "message") : NULL;
    fprintf(stderr, "zentalk: node answered HTTP %ld%s%s\n", status, json_is_string(msg) ? ": " : "",
            json_is_string(msg) ? json_string_value(msg) : "");
    json_decref(j);
}

int zt__cli_http_post_json_parsed(const char *base, const char *path, const json_t *req, long timeout_ms,
                                  long *status, json_t **resp)
{
    struct zt_buf out;
    zt_buf_init(&out, 64u << 20);
    int ret = zt__cli_http_post_json(base, path, req, timeout_ms, status, &out);
    if (ret == 0 && (*status < 200 || *status > 299)) {
        zt__cli_print_api_error(*status, zt_buf_str(&out));
        ret = 1;
    }
    if (ret == 0) {
        *resp = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
        if (!*resp) {
            fprintf(stderr, "zentalk: the node's answer is not JSON\n");
            ret = 1;
        }
    }
    zt_buf_deinit(&out);
    return ret;
}
