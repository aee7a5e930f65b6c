/* http.c: the CLI's GET and POST helpers (libcurl) and API error printing. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "zentalk/zt_version.h"

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    struct zt_buf *b = ud;
    size_t len = size * n;
    return zt_buf_append(b, p, len) == 0 ? len : 0; /* 0 aborts the transfer */
}

int zt__cli_http_get(const char *base, const char *path, long timeout_ms, long *status, struct zt_buf *out)
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
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "zentalk/" ZT_VERSION);
    CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        fprintf(stderr, "zentalk: cannot reach %s: %s\n", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        curl_easy_cleanup(c);
        return 1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    return 0;
}

int zt__cli_http_post_json(const char *base, const char *path, const json_t *req, long timeout_ms, long *status,
                           struct zt_buf *out)
{
    char url[2048];
    size_t bl = strlen(base);
    while (bl && base[bl - 1] == '/') bl--;
    int n = snprintf(url, sizeof url, "%.*s%s", (int)bl, base, path);
    if (n < 0 || (size_t)n >= sizeof url) {
        fprintf(stderr, "zentalk: URL too long\n");
        return 1;
    }
    char *body = json_dumps(req, JSON_COMPACT);
    CURL *c = curl_easy_init();
    if (!body || !c) {
        fprintf(stderr, "zentalk: out of memory\n");
        if (c) curl_easy_cleanup(c);
        if (body) {
            void (*jfree)(void *);
            json_get_alloc_funcs(NULL, &jfree);
            jfree(body);
        }
        return 1;
    }
    struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
    const char *tok = getenv("ZENTALK_TOKEN");
    char auth[4096];
    if (tok && *tok) {
        int al = snprintf(auth, sizeof auth, "Authorization: Bearer %s", tok);
        if (al > 0 && (size_t)al < sizeof auth) h = curl_slist_append(h, auth);
    }
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_USERAGENT, "zentalk/" ZT_VERSION);
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(h);
    void (*jfree)(void *);
    json_get_alloc_funcs(NULL, &jfree);
    jfree(body);
    if (rc != CURLE_OK) {
        fprintf(stderr, "zentalk: cannot reach %s: %s\n", url, errbuf[0] ? errbuf : curl_easy_strerror(rc));
        curl_easy_cleanup(c);
        return 1;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(c);
    return 0;
}

void zt__cli_print_api_error(long status, const char *body)
{
    json_t *j = json_loads(body, 0, NULL);
    json_t *msg = j ? json_object_get(json_object_get(j, "error"), "message") : NULL;
    fprintf(stderr, "zentalk: node answered HTTP %ld%s%s\n", status, json_is_string(msg) ? ": " : "",
            json_is_string(msg) ? json_string_value(msg) : "");
    json_decref(j);
}
