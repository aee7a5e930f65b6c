/* zt_conv.h: one message of a conversation, as the conversation features
 * (smart replies, summaries) take it. Borrowed pointers: the caller owns the
 * text; lengths in bytes, valid UTF-8. */
#ifndef ZT_CONV_H
#define ZT_CONV_H

#include <stdbool.h>
#include <stddef.h>

#include "zt_error.h"

struct zt_conv_msg {
    const char *from; /* speaker ("" when unknown) */
    size_t from_len;
    const char *text;
    size_t len;
};

/* ---- the request of the conversation routes ---- */

#define ZT_CONV_MAX_MESSAGES 500
#define ZT_CONV_MAX_TEXT (64u * 1024u) /* bytes per message */
#define ZT_CONV_MAX_FROM 128           /* bytes of a speaker name */
#define ZT_INTENT_MAX_TEXTS 256

struct json_t;
/* A parsed {"messages":[{"from":"alice","text":"..."}...], "me":"bob"}
 * request; pointers into the JSON body (borrowed). */
struct zt_conv_req {
    struct zt_conv_msg *msgs; /* zt_malloc'd */
    size_t n;
    const char *me;
    size_t me_len;
    long max_sentences; /* 0 when absent */
};
/* Check and parse body. On failure returns ZT_EINVAL (or ZT_ETOOBIG for
 * limits, ZT_ENOMEM) with a message for a 400 answer in err. Free with
 * zt_conv_req_deinit(). */
ZT_NODISCARD int zt_conv_req_parse(struct json_t *body, bool summarize, struct zt_conv_req *out, char *err, size_t err_size);
void zt_conv_req_deinit(struct zt_conv_req *r);

#endif
