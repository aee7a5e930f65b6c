/* http.c: the CLI's GET and POST-JSON helpers (libcurl) and API error printing. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_version.h"

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct zt_buf *b = ud;
    size_t len = size * n;
    return zt_buf_append(b, p, len) == 0 ? len : 0; /* 0 aborts the transfer */
}

/* One request: GET when body is NULL, else POST of len bytes of JSON.
 * "Authorization: Bearer $ZENTALK_TOKEN" goes with every request when the
 * variable is set. */
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
    CURL *c = curl_easy_init();
    if (!c) return 1;
    struct curl_slist *hdrs = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "zentalk/" ZT_VERSION);
    const char *tok = getenv("ZENTALK_TOKEN");
    char auth[4096];
    if (tok && tok[0]) {
        int k = snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
        if (k > 0 && (size_t)k < sizeof auth) hdrs = curl_slist_append(hdrs, auth);
    }
    if (body) {
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hdrs);
    if (rc != CURLE_OK) {
        fprintf(stderr, "zentalk: cannot reach %s: %s\n", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        curl_easy_cleanup(c);
        return 1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
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
