/* zt_annotate.h: live annotations of conversation messages (the WebSocket
 * endpoint /v1/ws, docs/api.md) and the hooks a node plugs features into.
 *
 * For each {"type":"message"} event a client sends, the server builds an
 * annotations object by calling every registered annotator in order; each
 * adds its own fields (its name is the natural key: "spam", "language",
 * "smart_replies", ...). The engine (src/features/annotate.c) registers
 * "basic" (sizes, timestamp) itself; the node adds "translation" and the
 * features it wires (src/node/wiring.c) with zt_annot_add() before it
 * serves. The WebSocket connections (src/server/ws_api.c) feed it. */
#ifndef ZT_ANNOTATE_H
#define ZT_ANNOTATE_H

#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

struct json_t;

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

struct zt_annot_engine;
/* Conversations of one connection (their annotators' states). */
struct zt_annot_convs;

/* An engine with the "basic" annotator; messages ("text") of at most
 * max_message bytes. ZT_ENOMEM. */
ZT_NODISCARD int zt_annot_new(size_t max_message, struct zt_annot_engine **out);
/* NULL is a no-op. */
void zt_annot_free(struct zt_annot_engine *e);
/* Register an annotator (copied) after those there. Call before the
 * engine is used. ZT_ETOOBIG past ZT_ANNOTATORS_MAX, ZT_EINVAL for a
 * missing name or function. */
ZT_NODISCARD int zt_annot_add(struct zt_annot_engine *e, const struct zt_annotator *a);
/* The annotators' names in order (up to cap into names); returns how many. */
size_t zt_annot_names(const struct zt_annot_engine *e, const char **names, size_t cap);
size_t zt_annot_max_message(const struct zt_annot_engine *e);

/* A connection's conversation table (NULL when out of memory); free it
 * with the engine that filled it. */
struct zt_annot_convs *zt_annot_convs_new(void);
void zt_annot_convs_free(struct zt_annot_engine *e, struct zt_annot_convs *cv);
/* Handle one client event (the text of a message) and return the event to
 * answer (the caller owns it; NULL when out of memory): "annotations",
 * "pong" or an "error" event. Thread-safe across connections (each with
 * its own cv). */
struct json_t *zt_annot_handle_event(struct zt_annot_engine *e, struct zt_annot_convs *cv, const char *text,
                                     size_t len);
/* An error event {"type":"error","id":id,"error":{code,message}}. */
struct json_t *zt_annot_error_event(const char *id, const char *code, const char *msg);
/* The version of the annotation protocol (the hello event's "version"). */
#define ZT_ANNOT_PROTOCOL_VERSION 1
/* The event a new connection is greeted with: {"type":"hello","version",
 * "max_message_bytes","annotators":[names in order]} (the caller owns it;
 * NULL when out of memory). */
struct json_t *zt_annot_hello_event(const struct zt_annot_engine *e);

#endif
