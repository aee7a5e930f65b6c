/* zt_conv.h: one message of a conversation, as the conversation features
 * (smart replies, summaries) take it. Borrowed pointers: the caller owns the
 * text; lengths in bytes, valid UTF-8. */
#ifndef ZT_CONV_H
#define ZT_CONV_H

#include <stddef.h>

struct zt_conv_msg {
    const char *from; /* speaker ("" when unknown) */
    size_t from_len;
    const char *text;
    size_t len;
};

#endif
