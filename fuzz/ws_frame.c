/* fuzz/ws_frame.c: the WebSocket receiver (src/net/ws.c) on arbitrary
 * bytes. The first byte picks the role (server: masks required) and how the
 * rest is cut into reads. Properties: no crash or leak; events stay inside
 * the limits (a message at most max_message bytes, a control payload at
 * most 125); text messages and close reasons are valid UTF-8; after an
 * error the receiver keeps failing with the same close code, one of 1002,
 * 1007, 1009; and a frame re-encoded and parsed gives back its header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MESSAGE 4096

static void check_event(const struct zt_ws_event *ev)
{
    struct zt_utf8_state st;
    switch (ev->kind) {
    case ZT_WS_EV_MESSAGE:
        if (ev->len > MAX_MESSAGE) abort();
        if (ev->opcode == ZT_WS_OP_TEXT) {
            zt_utf8_state_init(&st);
            if (!zt_utf8_feed(&st, ev->data, ev->len) || !zt_utf8_complete(&st)) abort();
        } else if (ev->opcode != ZT_WS_OP_BINARY) {
            abort();
        }
        break;
    case ZT_WS_EV_CLOSE:
        if (ev->close_code != ZT_WS_CLOSE_NO_STATUS && !zt_ws_close_code_valid(ev->close_code)) abort();
        zt_utf8_state_init(&st);
        if (!zt_utf8_feed(&st, ev->data, ev->len) || !zt_utf8_complete(&st)) abort();
        /* fall through */
    case ZT_WS_EV_PING:
    case ZT_WS_EV_PONG:
        if (ev->len > ZT_WS_MAX_CONTROL) abort();
        break;
    default: abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    bool server = data[0] & 1;
    size_t step = (size_t)(data[0] >> 1) + 1; /* 1..128 bytes per read */
    data++;
    size--;
    struct zt_ws_rx rx;
    zt_ws_rx_init(&rx, MAX_MESSAGE, server);
    uint16_t fail_code = 0;
    for (size_t off = 0; off < size && !fail_code;) {
        size_t n = size - off < step ? size - off : step;
        if (zt_ws_rx_feed(&rx, data + off, n) != 0) break; /* ENOMEM under injection */
        off += n;
        for (;;) {
            struct zt_ws_event ev;
            uint16_t code = 0;
            int rc = zt_ws_rx_next(&rx, &ev, &code);
            if (rc == 0) break;
            if (rc < 0) {
                if (code != 1002 && code != 1007 && code != 1009 && code != 1011) abort();
                uint16_t again = 0;
                if (zt_ws_rx_next(&rx, &ev, &again) >= 0 || again != code) abort();
                fail_code = code;
                break;
            }
            check_event(&ev);
        }
    }
    zt_ws_rx_deinit(&rx);

    /* header round trip */
    struct zt_ws_frame f;
    if (zt_ws_frame_parse(data, size, &f) == 0 && f.len <= 65536 && !(f.opcode & 0x8 && (f.len > 125 || !f.fin))) {
        struct zt_buf b;
        zt_buf_init(&b, 1u << 20);
        uint8_t *payload = zt_calloc(1, (size_t)f.len + 1);
        if (payload && zt_ws_frame_encode(&b, f.opcode, f.fin, payload, (size_t)f.len, f.masked ? f.mask : NULL) == 0) {
            struct zt_ws_frame g;
            if (zt_ws_frame_parse((const uint8_t *)b.data, b.len, &g) != 0) abort();
            if (g.fin != f.fin || g.opcode != f.opcode || g.len != f.len || g.masked != f.masked) abort();
            if (g.header_len + g.len != b.len) abort();
        }
        zt_free(payload);
        zt_buf_deinit(&b);
    }
    return 0;
}
