/* search_req.c: the schemas of the search and categorisation requests
 * (the bodies of POST /v1/search/{index,query,delete} and
 * /v1/features/categorize), and who may act on whose messages. See
 * zt_search.h and zt_categorize.h. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_auth.h"
#include "zentalk/zt_categorize.h"
#include "zentalk/zt_search.h"
#include "zentalk/zt_str.h"

static int bad(char *why, size_t n, const char *msg)
{
    snprintf(why, n, "%s", msg);
    return ZT_EINVAL;
}

static int get_str(json_t *body, const char *key, size_t max, bool required, const char **out,
                   size_t *len, char *why, size_t n)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    *len = 0;
    if (!v) {
        if (!required) return 0;
        snprintf(why, n, "\"%s\" is required", key);
        return ZT_EINVAL;
    }
    if (!json_is_string(v)) {
        snprintf(why, n, "\"%s\" must be a string", key);
        return ZT_EINVAL;
    }
    size_t l = json_string_length(v);
    if (l == 0) {
        snprintf(why, n, "\"%s\" must not be empty", key);
        return ZT_EINVAL;
    }
    if (l > max) {
        snprintf(why, n, "\"%s\" is longer than %zu bytes", key, max);
        return ZT_EINVAL;
    }
    const char *s = json_string_value(v);
    if (strlen(s) != l) {
        snprintf(why, n, "\"%s\" must not contain NUL characters", key);
        return ZT_EINVAL;
    }
    *out = s;
    *len = l;
    return 0;
}

/* Keys allowed in body; anything else is a 400 so that typos are seen. */
static int only_keys(json_t *body, const char *const *keys, char *why, size_t n)
{
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        bool ok = false;
        for (size_t i = 0; keys[i] && !ok; i++) ok = strcmp(k, keys[i]) == 0;
        if (!ok) {
            char q[40];
            zt_strlcpy(q, k, sizeof q);
            snprintf(why, n, "unknown field \"%s\"", q);
            return ZT_EINVAL;
        }
    }
    return 0;
}

void zt_search_req_deinit(struct zt_search_req *r)
{
    if (!r) return;
    zt_free(r->msgs);
    memset(r, 0, sizeof *r);
}

/* strict: m is an entry of "messages" (only "id" and "text" allowed) */
static int parse_msg(json_t *m, bool strict, struct zt_search_msg *out, char *why, size_t n)
{
    static const char *const keys[] = {"id", "text", NULL};
    if (!json_is_object(m)) return bad(why, n, "each message must be an object {\"id\",\"text\"}");
    int rc = strict ? only_keys(m, keys, why, n) : 0;
    if (!rc) rc = get_str(m, "id", ZT_SEARCH_ID_MAX, true, &out->id, &out->id_len, why, n);
    if (!rc) rc = get_str(m, "text", ZT_SEARCH_TEXT_MAX, true, &out->text, &out->text_len, why, n);
    return rc;
}

int zt_search_req_parse(enum zt_search_op op, json_t *body, struct zt_search_req *out, char *why,
                     size_t why_len)
{
    static const char *const k_index[] = {"user", "id", "text", "messages", NULL};
    static const char *const k_query[] = {"user", "query", "limit", NULL};
    static const char *const k_delete[] = {"user", "id", NULL};
    struct zt_search_req r;
    memset(&r, 0, sizeof r);
    size_t ul;
    if (!json_is_object(body)) return bad(why, why_len, "request body must be a JSON object");
    int rc = only_keys(body, op == ZT_SEARCH_OP_INDEX ? k_index : op == ZT_SEARCH_OP_QUERY ? k_query : k_delete,
                       why, why_len);
    if (!rc) rc = get_str(body, "user", ZT_SEARCH_USER_MAX, true, &r.user, &ul, why, why_len);
    if (rc) goto out;
    if (op == ZT_SEARCH_OP_INDEX) {
        json_t *msgs = json_object_get(body, "messages");
        bool single = json_object_get(body, "id") || json_object_get(body, "text");
        if (msgs && single) {
            rc = bad(why, why_len, "give either \"id\" and \"text\" or \"messages\", not both");
            goto out;
        }
        if (msgs) {
            if (!json_is_array(msgs) || json_array_size(msgs) == 0) {
                rc = bad(why, why_len, "\"messages\" must be a non-empty array");
                goto out;
            }
            if (json_array_size(msgs) > ZT_SEARCH_BATCH_MAX) {
                char m[96];
                snprintf(m, sizeof m, "\"messages\" holds more than %d entries", ZT_SEARCH_BATCH_MAX);
                rc = bad(why, why_len, m);
                goto out;
            }
            r.n_msgs = json_array_size(msgs);
            r.msgs = zt_calloc(r.n_msgs, sizeof *r.msgs);
            if (!r.msgs) {
                rc = ZT_ENOMEM;
                goto out;
            }
            for (size_t i = 0; i < r.n_msgs && !rc; i++)
                rc = parse_msg(json_array_get(msgs, i), true, &r.msgs[i], why, why_len);
        } else {
            r.n_msgs = 1;
            r.msgs = zt_calloc(1, sizeof *r.msgs);
            if (!r.msgs) {
                rc = ZT_ENOMEM;
                goto out;
            }
            rc = parse_msg(body, false, &r.msgs[0], why, why_len);
            if (rc && !single) rc = bad(why, why_len, "\"id\" and \"text\", or \"messages\", are required");
        }
    } else if (op == ZT_SEARCH_OP_QUERY) {
        rc = get_str(body, "query", ZT_SEARCH_QUERY_MAX, true, &r.query, &r.query_len, why, why_len);
        if (rc) goto out;
        r.limit = 10;
        json_t *l = json_object_get(body, "limit");
        if (l) {
            if (!json_is_integer(l) || json_integer_value(l) < 1 ||
                json_integer_value(l) > ZT_SEARCH_LIMIT_MAX) {
                char m[96];
                snprintf(m, sizeof m, "\"limit\" must be an integer from 1 to %d", ZT_SEARCH_LIMIT_MAX);
                rc = bad(why, why_len, m);
                goto out;
            }
            r.limit = (size_t)json_integer_value(l);
        }
    } else {
        rc = get_str(body, "id", ZT_SEARCH_ID_MAX, false, &r.id, &r.id_len, why, why_len);
    }
out:
    if (rc) {
        zt_search_req_deinit(&r);
        return rc;
    }
    *out = r;
    return 0;
}

bool zt_search_may_act(const struct zt_auth_principal *caller, const char *user)
{
    if (!caller || !user) return false;
    if (caller->role == ZT_AUTH_ADMIN) return true;
    return caller->identity[0] != '\0' && strcmp(caller->identity, user) == 0;
}

void zt_categorize_req_deinit(struct zt_categorize_req *r)
{
    if (!r) return;
    zt_free(r->texts);
    zt_free(r->lens);
    memset(r, 0, sizeof *r);
}

int zt_categorize_req_parse(json_t *body, struct zt_categorize_req *out, char *why, size_t why_len)
{
    static const char *const keys[] = {"text", "texts", "messages", NULL};
    struct zt_categorize_req r;
    memset(&r, 0, sizeof r);
    if (!json_is_object(body)) return bad(why, why_len, "request body must be a JSON object");
    int rc = only_keys(body, keys, why, why_len);
    if (rc) return rc;
    json_t *text = json_object_get(body, "text"), *texts = json_object_get(body, "texts"),
           *msgs = json_object_get(body, "messages");
    if ((text != NULL) + (texts != NULL) + (msgs != NULL) != 1)
        return bad(why, why_len, "give exactly one of \"text\", \"texts\" or \"messages\"");
    json_t *arr = texts ? texts : msgs;
    r.n = 1;
    if (arr) {
        if (!json_is_array(arr) || json_array_size(arr) == 0)
            return bad(why, why_len, texts ? "\"texts\" must be a non-empty array"
                                           : "\"messages\" must be a non-empty array");
        if (json_array_size(arr) > ZT_CATEGORIZE_BATCH_MAX) {
            snprintf(why, why_len, "at most %d texts or messages per request", ZT_CATEGORIZE_BATCH_MAX);
            return ZT_EINVAL;
        }
        r.n = json_array_size(arr);
    }
    r.batch = texts != NULL;
    r.texts = zt_calloc(r.n, sizeof *r.texts);
    r.lens = zt_calloc(r.n, sizeof *r.lens);
    if (!r.texts || !r.lens) {
        rc = ZT_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < r.n && !rc; i++) {
        if (text) {
            rc = get_str(body, "text", ZT_CATEGORIZE_TEXT_MAX, true, &r.texts[i], &r.lens[i], why, why_len);
        } else if (texts) {
            json_t *v = json_array_get(texts, i);
            json_t *wrap = json_pack("{sO}", "text", v);
            if (!wrap) {
                rc = ZT_ENOMEM;
                break;
            }
            rc = get_str(wrap, "text", ZT_CATEGORIZE_TEXT_MAX, true, &r.texts[i], &r.lens[i], why, why_len);
            json_decref(wrap); /* the string itself stays owned by texts */
            if (rc) snprintf(why, why_len, "\"texts\"[%zu] must be a non-empty string of at most %d bytes", i,
                             ZT_CATEGORIZE_TEXT_MAX);
        } else {
            static const char *const mkeys[] = {"from", "text", NULL};
            json_t *m = json_array_get(msgs, i);
            if (!json_is_object(m)) {
                rc = bad(why, why_len, "each message must be an object {\"from\",\"text\"}");
                break;
            }
            rc = only_keys(m, mkeys, why, why_len);
            json_t *from = json_object_get(m, "from");
            if (!rc && from && !json_is_string(from)) rc = bad(why, why_len, "\"from\" must be a string");
            if (!rc) rc = get_str(m, "text", ZT_CATEGORIZE_TEXT_MAX, true, &r.texts[i], &r.lens[i], why, why_len);
        }
    }
out:
    if (rc) {
        zt_categorize_req_deinit(&r);
        return rc;
    }
    *out = r;
    return 0;
}
