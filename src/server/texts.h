/* texts.h: the body every messaging-feature route takes (internal to
 * src/server; docs/api.md, "Messaging features"): {"text": S} or
 * {"texts": [S, ...]} of 1 to ZT__TEXTS_MAX strings, each non-empty, at
 * most ZT__TEXT_MAX bytes and without NUL (json_loadb refuses \u0000 in a
 * body already), beside the route's own options;
 * any other field is refused. Spam, entities, preprocess (spam_api.c),
 * sentiment, moderation, language (lex_api.c) and intents (conv_api.c)
 * read their texts with it. */
#ifndef ZT_SERVER_TEXTS_H
#define ZT_SERVER_TEXTS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "zentalk/zt_http.h"

#define ZT__TEXT_MAX (64u * 1024u) /* bytes per text */
#define ZT__TEXTS_MAX 256u         /* texts per request */

/* A request's texts, borrowed from its body. */
struct zt__texts {
    json_t *arr;    /* the "texts" array; NULL for one "text" */
    json_t *single; /* the one "text" */
    size_t n;
};

/* Text i (a JSON string). */
json_t *zt__texts_at(const struct zt__texts *t, size_t i);

/* body's texts into *t. options: the names of the route's other fields
 * (NULL-terminated; NULL: none); usage: the body's shape, appended to the
 * messages as "; the body is USAGE" (NULL: not). false, with resp a 400
 * invalid_request saying what is wrong, otherwise. */
bool zt__texts_get(json_t *body, const char *const *options, const char *usage, struct zt__texts *t,
                   struct zt_http_resp *resp);

#endif
