/* http.h: GET and POST-JSON requests to a node from the CLI (internal to src/cli). */
#ifndef ZT_CLI_HTTP_H
#define ZT_CLI_HTTP_H

#include <jansson.h>

#include "zentalk/zt_buf.h"

struct zt_http_client;

/* The CLI's outbound HTTP client (zt_http_client.h), made on first use;
 * NULL (and a message) when out of memory. main() frees it at exit with
 * zt__cli_http_cleanup(), before zt_net_client_global_cleanup(). */
struct zt_http_client *zt__cli_http_client(void);
void zt__cli_http_cleanup(void);

/* GET base+path (base may end with '/'); on success returns 0, *out holds
 * the body and *status the HTTP code. Prints a one-line reason and returns
 * 1 when the node cannot be reached. */
int zt__cli_http_get(const char *base, const char *path, long timeout_ms, long *status, struct zt_buf *out);
/* POST the compact JSON of req to base+path; as zt__cli_http_get().
 * Both send "Authorization: Bearer $ZENTALK_TOKEN" when it is set. */
int zt__cli_http_post_json(const char *base, const char *path, const json_t *req, long timeout_ms, long *status,
                           struct zt_buf *out);
/* POST req and parse the answer: 0 with *status (2xx) and the parsed
 * answer in *resp (the caller decrefs it); prints a one-line reason
 * (unreachable, non-2xx answer with its message, non-JSON answer) and
 * returns 1 otherwise. */
int zt__cli_http_post_json_parsed(const char *base, const char *path, const json_t *req, long timeout_ms,
                                  long *status, json_t **resp);
/* Print the error of a non-2xx answer ({"error":{"message"}}) to stderr. */
void zt__cli_print_api_error(long status, const char *body);

#endif
