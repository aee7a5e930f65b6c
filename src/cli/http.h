/* http.h: GET and POST requests to a node from the CLI (internal to src/cli). */
#ifndef ZT_CLI_HTTP_H
#define ZT_CLI_HTTP_H

#include "zentalk/zt_buf.h"

/* GET base+path (base may end with '/'); on success returns 0, *out holds
 * the body and *status the HTTP code. Prints a one-line reason and returns
 * 1 when the node cannot be reached. */
int zt__cli_http_get(const char *base, const char *path, long timeout_ms, long *status, struct zt_buf *out);
/* POST the compact JSON of req to base+path (Content-Type:
 * application/json; "Authorization: Bearer $ZENTALK_TOKEN" when that is
 * set); the rest as zt__cli_http_get(). */
struct json_t;
int zt__cli_http_post_json(const char *base, const char *path, const struct json_t *req, long timeout_ms,
                           long *status, struct zt_buf *out);
/* Print the error of a non-2xx answer ({"error":{"message"}}) to stderr. */
void zt__cli_print_api_error(long status, const char *body);

#endif
