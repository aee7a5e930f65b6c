/* zt_annotate.h: live annotations of conversation messages (the WebSocket
 * endpoint /v1/ws, docs/api.md) and the hooks a node plugs features into.
 *
 * For each {"type":"message"} event a client sends, the server builds an
 * annotations object by calling every registered annotator in order; each
 * adds its own fields (its name is the natural key: "spam", "language",
 * "smart_replies", ...). The server registers "basic" (sizes, timestamp)
 * and "translation" itself; others are added with zt_server_add_annotator()
 * before zt_server_start(). */
#ifndef ZT_ANNOTATE_H
#define ZT_ANNOTATE_H

#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

struct json_t;
struct zt_server;
struct zt_translate;

/* One message, as the client sent it (all strings valid UTF-8, borrowed
 * for the duration of the call). */
struct zt_annot_msg {
    const char *conversation;  /* required by the protocol */
    const char *id;            /* required */
    const char *from;          /* "" when absent */
    const char *text;          /* NUL-terminated; no NUL inside */
    size_t text_len;
    const char *lang;          /* the client's "lang" (ISO 639-1 or -3), or NULL */
    const char *translate_to;  /* the client's "translate_to", or NULL */
    int64_t received_ms;       /* wall clock when the server got it */
    struct json_t *event;      /* the whole event object (read only) */
};

/* Add fields to annotations (a JSON object). *conv_state is this
 * annotator's state for m->conversation on this connection (NULL at
 * first; set it to keep context, e.g. recent messages for smart replies).
 * Return 0, or a negative ZT_E*: the server then sets
 * annotations.errors.NAME and the other annotators still run. Runs on the
 * connection's thread; annotators are shared by all connections, so what
 * ud points to must be thread-safe. Never log the text. */
typedef int (*zt_annotate_fn)(void *ud, const struct zt_annot_msg *m, void **conv_state,
                              struct json_t *annotations);

struct zt_annotator {
    const char *name;                   /* static string, [a-z_]+ */
    zt_annotate_fn annotate;
    /* frees a conversation's state (connection closed, or the conversation
     * evicted: at most 32 per connection); NULL when the annotator keeps none */
    void (*conv_free)(void *ud, void *conv_state);
    void *ud;
};

#define ZT_ANNOTATORS_MAX 16

/* Register an annotator (copied) after the built-in ones. Call before
 * zt_server_start(). ZT_ETOOBIG past ZT_ANNOTATORS_MAX, ZT_EINVAL for a
 * missing name or function. */
ZT_NODISCARD int zt_server_add_annotator(struct zt_server *s, const struct zt_annotator *a);

/* The server's translation engine (zt_translate.h), e.g. to install the
 * language detector with zt_translate_set_detector() before start. */
struct zt_translate *zt_server_translate(struct zt_server *s);

#endif
