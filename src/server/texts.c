/* texts.c: a messaging-feature request's texts. See texts.h. */
#include "texts.h"

#include <stdio.h>
#include <string.h>

_Static_assert(ZT__TEXT_MAX == 65536, "the message below says 65536 bytes");

json_t *zt__texts_at(const struct zt__texts *t, size_t i)
{
    return t->arr ? json_array_get(t->arr, i) : t->single;
}

static bool bad(struct zt_http_resp *resp, const char *usage, const char *what)
{
    char msg[512];
    if (usage) snprintf(msg, sizeof msg, "%s; the body is %s", what, usage);
    else snprintf(msg, sizeof msg, "%s", what);
    zt_http_resp_error(resp, 400, "invalid_request", msg);
    return false;
}

bool zt__texts_get(json_t *body, const char *const *options, const char *usage, struct zt__texts *t,
                   struct zt_http_resp *resp)
{
    char what[160];
    const char *key;
    json_t *v;
    json_object_foreach(body, key, v) {
        bool known = strcmp(key, "text") == 0 || strcmp(key, "texts") == 0;
        for (size_t i = 0; options && options[i] && !known; i++) known = strcmp(key, options[i]) == 0;
        if (!known) {
            snprintf(what, sizeof what, "unknown field \"%.64s\"", key);
            return bad(resp, usage, what);
        }
    }
    json_t *one = json_object_get(body, "text"), *many = json_object_get(body, "texts");
    if ((one != NULL) == (many != NULL))
        return bad(resp, usage, "give exactly one of \"text\" (a string) or \"texts\" (an array)");
    t->single = one;
    t->arr = many;
    t->n = 1;
    if (many) {
        t->n = json_is_array(many) ? json_array_size(many) : 0;
        if (t->n == 0 || t->n > ZT__TEXTS_MAX) {
            snprintf(what, sizeof what, "\"texts\" must be an array of 1 to %u strings", ZT__TEXTS_MAX);
            return bad(resp, usage, what);
        }
    }
    for (size_t i = 0; i < t->n; i++) {
        json_t *s = zt__texts_at(t, i);
        const char *problem = !json_is_string(s)                                    ? "must be a string"
                              : json_string_length(s) == 0                          ? "must not be empty"
                              : json_string_length(s) > ZT__TEXT_MAX                ? "is longer than 65536 bytes"
                              : memchr(json_string_value(s), '\0', json_string_length(s)) ? "must not contain NUL characters"
                                                                                    : NULL;
        if (problem) {
            if (many) snprintf(what, sizeof what, "\"texts\"[%zu] %s", i, problem);
            else snprintf(what, sizeof what, "\"text\" %s", problem);
            return bad(resp, usage, what);
        }
    }
    return true;
}
