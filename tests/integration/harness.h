/* harness.h: helpers for the black-box tests (see harness.c). Failures
 * are cmocka assertions. */
#ifndef ZT_TEST_HARNESS_H
#define ZT_TEST_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <sys/types.h>

#include "zentalk/zt_buf.h"
#include "zt_test.h"

extern const char *node_bin; /* path of zentalk-node */

struct node {
    pid_t pid;
    int out_fd;  /* child's stdout */
    int err_fd;  /* child's stderr */
    uint16_t port;
    char dir[256];      /* temp dir holding data/ and logs */
    char data_dir[300];
};

struct resp {
    long status;
    struct zt_buf body;
    struct zt_buf headers;
};

void rm_rf(const char *path);
bool read_until(int fd, struct zt_buf *b, const char *needle, int timeout_ms);
void node_spawn(struct node *n, const char *const *extra, const char *const *env,
                bool wait_listen, const char *reuse_dir);
int node_wait(struct node *n, int timeout_ms);
void node_collect_stderr(struct node *n, struct zt_buf *b);
void node_cleanup(struct node *n);
size_t on_body(char *p, size_t s, size_t n, void *ud);
void http(uint16_t port, const char *method, const char *path, const char *ctype,
          const char *body, struct resp *r);
/* Like http() with an Authorization header value (e.g. "Bearer TOKEN"; NULL = none). */
void http_auth(uint16_t port, const char *method, const char *path, const char *auth, const char *ctype,
               const char *body, struct resp *r);
/* Write text to dir/name. */
void put_file(const char *dir, const char *name, const char *text);
/* Start a node on 0.0.0.0:0 with --config cfg_dir and wait for its port. */
void node_spawn_public(struct node *n, const char *cfg_dir);
/* A request with a binary body of len bytes (body may be NULL: none) and
 * extra header lines ("Name: value", NULL-terminated list, or NULL). */
void http_bin(uint16_t port, const char *method, const char *path, const char *ctype, const void *body,
              size_t len, const char *const *headers, struct resp *r);
void resp_free(struct resp *r);
/* The value of one sample line of GET /metrics ("name{labels}"), or -1. */
long long metric_value(uint16_t port, const char *name);
/* Write dir/name: a JSON array of the n JSON texts items (a peers file). */
void put_json_array(const char *dir, const char *name, char *const *items, size_t n);
json_t *resp_json(struct resp *r);
void assert_error_json(struct resp *r, long status, const char *code);
int tcp_connect(uint16_t port);
void send_all(int fd, const void *p, size_t n);
size_t response_complete(const char *s, size_t len);
int raw_request(uint16_t port, const void *req, size_t len, struct zt_buf *out);

#endif
