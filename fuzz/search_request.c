/* fuzz/search_request.c: the request parsers of /v1/search/{index,query,delete} and
 * /v1/features/categorize (src/server/search_api.c). Properties: an
 * accepted request has a user of 1..ZT_SEARCH_USER_MAX bytes, 1..BATCH_MAX
 * messages with ids and texts within bounds (index), a query within bounds
 * and a limit in 1..LIMIT_MAX (query); categorisation gets 1..256 non-empty
 * texts within bounds; a refusal always says why; nothing leaks. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_auth.h"
#include "zentalk/zt_categorize.h"
#include "zentalk/zt_search.h"
#include "zentalk/zt_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t len, size_t max)
{
    if (!s || len == 0 || len > max || strlen(s) != len) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20)) return 0;
    json_error_t e;
    json_t *j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &e);
    if (!j) return 0;
    int64_t live = zt_alloc_live();
    for (int op = ZT_SEARCH_OP_INDEX; op <= ZT_SEARCH_OP_DELETE; op++) {
        struct zt_search_req r;
        char why[160] = "";
        int rc = zt_search_req_parse((enum zt_search_op)op, j, &r, why, sizeof why);
        if (rc) {
            if (rc != ZT_EINVAL && rc != ZT_ENOMEM) abort();
            if (rc == ZT_EINVAL && why[0] == '\0') abort();
            continue;
        }
        check_text(r.user, strlen(r.user), ZT_SEARCH_USER_MAX);
        if (op == ZT_SEARCH_OP_INDEX) {
            if (r.n_msgs == 0 || r.n_msgs > ZT_SEARCH_BATCH_MAX) abort();
            for (size_t i = 0; i < r.n_msgs; i++) {
                check_text(r.msgs[i].id, r.msgs[i].id_len, ZT_SEARCH_ID_MAX);
                check_text(r.msgs[i].text, r.msgs[i].text_len, ZT_SEARCH_TEXT_MAX);
            }
        } else if (op == ZT_SEARCH_OP_QUERY) {
            check_text(r.query, r.query_len, ZT_SEARCH_QUERY_MAX);
            if (r.limit < 1 || r.limit > ZT_SEARCH_LIMIT_MAX) abort();
        } else if (r.id) {
            check_text(r.id, r.id_len, ZT_SEARCH_ID_MAX);
        }
        struct zt_auth_principal p = {.role = ZT_AUTH_USER};
        memcpy(p.identity, "alice", 6);
        if (zt_search_may_act(&p, r.user) != (strcmp(r.user, "alice") == 0)) abort();
        p.identity[0] = '\0';
        if (zt_search_may_act(&p, r.user)) abort(); /* no identity, not admin */
        zt_search_req_deinit(&r);
    }
    struct zt_categorize_req c;
    char why[160] = "";
    int rc = zt_categorize_req_parse(j, &c, why, sizeof why);
    if (rc == 0) {
        if (c.n == 0 || c.n > ZT_CATEGORIZE_BATCH_MAX) abort();
        for (size_t i = 0; i < c.n; i++) check_text(c.texts[i], c.lens[i], ZT_CATEGORIZE_TEXT_MAX);
        zt_categorize_req_deinit(&c);
    } else if (rc == ZT_EINVAL && why[0] == '\0') {
        abort();
    }
    json_decref(j);
    if (zt_alloc_live() != live) abort();
    return 0;
}
