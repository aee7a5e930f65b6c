/* zt_ws.h: WebSocket (RFC 6455) framing, with no I/O of its own.
 *
 * Three pieces, used by the server's /v1/ws connections (src/net/ws_conn.c)
 * and testable on byte vectors:
 *  - the handshake: zt_ws_accept_key() turns Sec-WebSocket-Key into
 *    Sec-WebSocket-Accept (SHA-1 from nettle, base64 from libsodium);
 *  - frames: zt_ws_frame_parse() reads one frame header and
 *    zt_ws_frame_encode() writes one frame;
 *  - messages: struct zt_ws_rx takes bytes as they arrive and yields whole
 *    messages and control frames, enforcing the protocol (masking, RSV bits,
 *    opcodes, control frame rules, fragmentation order, UTF-8 of text checked
 *    incrementally across fragments, the size limit). A violation returns
 *    ZT_EPARSE with the close code to send (1002, 1007, 1009).
 * Everything a peer sends is bad input: errors, never asserts. */
#ifndef ZT_WS_H
#define ZT_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_buf.h"
#include "zt_error.h"

enum zt_ws_opcode {
    ZT_WS_OP_CONT = 0x0,
    ZT_WS_OP_TEXT = 0x1,
    ZT_WS_OP_BINARY = 0x2,
    ZT_WS_OP_CLOSE = 0x8,
    ZT_WS_OP_PING = 0x9,
    ZT_WS_OP_PONG = 0xA,
};

/* Close status codes (RFC 6455 section 7.4.1). */
enum zt_ws_close_code {
    ZT_WS_CLOSE_NORMAL = 1000,
    ZT_WS_CLOSE_GOING_AWAY = 1001,
    ZT_WS_CLOSE_PROTOCOL = 1002,
    ZT_WS_CLOSE_UNSUPPORTED = 1003,
    ZT_WS_CLOSE_NO_STATUS = 1005,  /* never sent: "the close frame had no code" */
    ZT_WS_CLOSE_BAD_DATA = 1007,   /* text that is not UTF-8 */
    ZT_WS_CLOSE_POLICY = 1008,
    ZT_WS_CLOSE_TOO_BIG = 1009,
    ZT_WS_CLOSE_INTERNAL = 1011,
};

#define ZT_WS_ACCEPT_LEN 29       /* 28 base64 characters + NUL */
#define ZT_WS_MAX_HEADER 14       /* 2 + 8 (64-bit length) + 4 (mask) */
#define ZT_WS_MAX_CONTROL 125

/* Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + GUID)).
 * ZT_EINVAL unless key is the base64 of 16 bytes (24 characters). */
ZT_NODISCARD int zt_ws_accept_key(const char *key, char out[static ZT_WS_ACCEPT_LEN]);

struct zt_ws_frame {
    bool fin;
    uint8_t rsv;         /* the three RSV bits (must be 0 without extensions) */
    uint8_t opcode;
    bool masked;
    uint8_t mask[4];
    uint64_t len;        /* payload length */
    size_t header_len;   /* bytes before the payload */
};

/* Parse the frame header at p[0..n). 0: *f filled; ZT_EBUSY: more bytes
 * are needed; ZT_EPARSE: a 64-bit length with its top bit set (lengths not
 * in their shortest form are accepted). Protocol rules beyond the header's
 * syntax (masking, RSV, opcodes, control frames) are zt_ws_rx's job. */
ZT_NODISCARD int zt_ws_frame_parse(const uint8_t *p, size_t n, struct zt_ws_frame *f);

/* XOR p[0..n) with the mask, starting at payload offset off (so a payload
 * may be unmasked in pieces). */
void zt_ws_mask(uint8_t *p, size_t n, const uint8_t mask[static 4], uint64_t off);

/* Append one frame (FIN set when fin) to out: header with the shortest
 * length form, then the payload, masked with mask when mask is not NULL
 * (clients mask, servers do not). ZT_EINVAL for a control frame over 125
 * bytes or not final; ZT_ETOOBIG/ZT_ENOMEM from the buffer. */
ZT_NODISCARD int zt_ws_frame_encode(struct zt_buf *out, uint8_t opcode, bool fin, const void *payload,
                                    size_t len, const uint8_t *mask);

/* Append a close frame with code and reason (cut to fit 125 bytes at a
 * character boundary). code 0 sends an empty close frame. */
ZT_NODISCARD int zt_ws_close_encode(struct zt_buf *out, uint16_t code, const char *reason);

/* Incremental UTF-8 validation: feed bytes in any pieces; ok tells whether
 * everything so far is valid, complete tells whether it also ends on a
 * character boundary. Rejects overlong forms, surrogates and > U+10FFFF. */
struct zt_utf8_state {
    uint8_t need;        /* continuation bytes still expected */
    uint8_t lo, hi;      /* allowed range of the next continuation byte */
    bool bad;
};
void zt_utf8_state_init(struct zt_utf8_state *st);
/* false as soon as the bytes seen cannot be UTF-8. */
bool zt_utf8_feed(struct zt_utf8_state *st, const uint8_t *p, size_t n);
bool zt_utf8_complete(const struct zt_utf8_state *st);

/* ---- receiving: bytes in, messages out ---------------------------------- */

enum zt_ws_event_kind {
    ZT_WS_EV_MESSAGE = 1, /* a whole text or binary message */
    ZT_WS_EV_PING,
    ZT_WS_EV_PONG,
    ZT_WS_EV_CLOSE,       /* the peer's close frame (code 1005 when it had none) */
};

struct zt_ws_event {
    enum zt_ws_event_kind kind;
    uint8_t opcode;       /* ZT_WS_OP_TEXT or ZT_WS_OP_BINARY for messages */
    const uint8_t *data;  /* payload (close: the reason), valid until the next call */
    size_t len;
    uint16_t close_code;  /* ZT_WS_EV_CLOSE */
};

struct zt_ws_rx {
    struct zt_buf in;     /* bytes not yet consumed (at most one frame) */
    size_t in_off;        /* consumed prefix of in */
    struct zt_buf msg;    /* the fragmented message being assembled */
    uint8_t msg_opcode;   /* 0: no message in progress */
    struct zt_utf8_state utf8;
    uint8_t control[ZT_WS_MAX_CONTROL];
    size_t max_message;
    bool require_mask;
    bool failed;
    uint16_t fail_code;
};

/* max_message bounds a message (all fragments) and therefore every frame;
 * the rx never holds more than about 2 * max_message bytes. require_mask:
 * true on a server (client frames must be masked). */
void zt_ws_rx_init(struct zt_ws_rx *rx, size_t max_message, bool require_mask);
void zt_ws_rx_deinit(struct zt_ws_rx *rx);
/* Add bytes read from the peer. ZT_ETOOBIG when more than a frame's worth
 * is waiting (call zt_ws_rx_next until it returns 0 before feeding more). */
ZT_NODISCARD int zt_ws_rx_feed(struct zt_ws_rx *rx, const void *p, size_t n);
/* 1: *ev holds the next event; 0: more bytes needed; ZT_EPARSE: the peer
 * broke the protocol, *close_code says how to close (1002, 1007, 1009);
 * ZT_ENOMEM (close with 1011). After an error every call fails the same. */
ZT_NODISCARD int zt_ws_rx_next(struct zt_ws_rx *rx, struct zt_ws_event *ev, uint16_t *close_code);

/* Is code acceptable in a close frame received from a peer (1000-1003,
 * 1007-1011, 3000-4999)? */
bool zt_ws_close_code_valid(uint16_t code);

/* ---- connections (src/net/ws_conn.c) ----------------------------------- */

/* A hub runs the WebSocket connections of a server: one thread per
 * connection (capped at max_connections), reading frames through a
 * zt_ws_rx, answering pings, closing on protocol errors with the right code,
 * sending pings when a connection is quiet and closing it when it stays
 * silent past idle_timeout_s, and closing everything with 1001 on shutdown.
 * The application sees connections open, text messages and close. */
struct zt_ws_hub;
struct zt_ws_conn;
struct zt_http_upgraded;

struct zt_ws_hub_opts {
    size_t max_message;         /* bytes per message (1009 above) */
    unsigned max_connections;
    unsigned idle_timeout_s;    /* ping after half of it, close after all of it */
    /* Per connection, on its thread. on_open returns the connection's
     * state (NULL is allowed); on_text gets each text message (valid UTF-8,
     * not NUL-terminated) and may answer with zt_ws_send_text(); a binary
     * message closes the connection with 1003. on_close frees the state. */
    void *(*on_open)(void *ud, struct zt_ws_conn *c);
    void (*on_text)(void *ud, void *state, struct zt_ws_conn *c, const char *text, size_t len);
    void (*on_close)(void *ud, void *state);
    void *ud;
};

ZT_NODISCARD int zt_ws_hub_new(const struct zt_ws_hub_opts *opts, struct zt_ws_hub **out);
/* Is there room for another connection? (checked before the 101) */
bool zt_ws_hub_has_room(struct zt_ws_hub *h);
/* Take an upgraded socket and start its thread. On failure (ZT_EBUSY when
 * full, ZT_ECLOSED after shutdown began, ZT_ENOMEM) the socket is closed. */
int zt_ws_hub_adopt(struct zt_ws_hub *h, struct zt_http_upgraded *u, int fd, const char *extra,
                    size_t extra_len);
/* Connections open now. */
size_t zt_ws_hub_count(struct zt_ws_hub *h);
/* Refuse new connections and ask every open one to close with code
 * (1001 at shutdown); returns at once. */
void zt_ws_hub_close_all(struct zt_ws_hub *h, uint16_t code);
/* close_all(1001), wait (bounded) for every connection to end, free.
 * NULL is a no-op. */
void zt_ws_hub_free(struct zt_ws_hub *h);

/* From on_text only (the connection's own thread): send a text message.
 * ZT_ECLOSED when the connection is closing, ZT_EIO on a write error,
 * ZT_ETOOBIG over the send buffer (4 x max_message + 64 KiB; nothing sent). */
ZT_NODISCARD int zt_ws_send_text(struct zt_ws_conn *c, const char *text, size_t len);

#endif
