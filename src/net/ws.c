/* ws.c: WebSocket framing (RFC 6455). See zt_ws.h and docs/internals/websocket.md. */
#include <nettle/sha1.h>
#include <sodium.h>
#include <string.h>

#include "zentalk/zt_ws.h"

#include "zentalk/zt_endian.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define READ_SLACK (64u * 1024u) /* bytes fed on top of one pending frame */

/* ---- handshake ---------------------------------------------------------- */

int zt_ws_accept_key(const char *key, char out[static ZT_WS_ACCEPT_LEN])
{
    /* the key must be base64 of 16 random bytes (RFC 6455 4.2.1 item 5) */
    uint8_t raw[18];
    size_t raw_len = 0;
    size_t klen = key ? strlen(key) : 0;
    if (klen != 24) return ZT_EINVAL;
    if (sodium_base642bin(raw, sizeof raw, key, klen, NULL, &raw_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        raw_len != 16)
        return ZT_EINVAL;
    struct sha1_ctx ctx;
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_init(&ctx);
    sha1_update(&ctx, klen, (const uint8_t *)key);
    sha1_update(&ctx, sizeof WS_GUID - 1, (const uint8_t *)WS_GUID);
    sha1_digest(&ctx, sizeof digest, digest);
    sodium_bin2base64(out, ZT_WS_ACCEPT_LEN, digest, sizeof digest, sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

/* ---- frames ------------------------------------------------------------- */

int zt_ws_frame_parse(const uint8_t *p, size_t n, struct zt_ws_frame *f)
{
    if (n < 2) return ZT_EBUSY;
    struct zt_ws_frame fr;
    memset(&fr, 0, sizeof fr);
    fr.fin = (p[0] & 0x80) != 0;
    fr.rsv = (uint8_t)((p[0] >> 4) & 0x7);
    fr.opcode = (uint8_t)(p[0] & 0x0f);
    fr.masked = (p[1] & 0x80) != 0;
    uint8_t len7 = (uint8_t)(p[1] & 0x7f);
    size_t pos = 2;
    if (len7 == 126) {
        if (n < 4) return ZT_EBUSY;
        fr.len = zt_get_be16(p + 2);
        pos = 4;
    } else if (len7 == 127) {
        if (n < 10) return ZT_EBUSY;
        if (p[2] & 0x80) return ZT_EPARSE; /* "the most significant bit MUST be 0" */
        fr.len = zt_get_be64(p + 2);
        pos = 10;
    } else {
        fr.len = len7;
    }
    if (fr.masked) {
        if (n < pos + 4) return ZT_EBUSY;
        memcpy(fr.mask, p + pos, 4);
        pos += 4;
    }
    fr.header_len = pos;
    *f = fr;
    return 0;
}

void zt_ws_mask(uint8_t *p, size_t n, const uint8_t mask[static 4], uint64_t off)
{
    for (size_t i = 0; i < n; i++) p[i] ^= mask[(off + i) & 3];
}

static bool is_control(uint8_t op)
{
    return (op & 0x8) != 0;
}

int zt_ws_frame_encode(struct zt_buf *out, uint8_t opcode, bool fin, const void *payload, size_t len,
                       const uint8_t *mask)
{
    if (opcode > 0xf) return ZT_EINVAL;
    if (is_control(opcode) && (len > ZT_WS_MAX_CONTROL || !fin)) return ZT_EINVAL;
    uint8_t h[ZT_WS_MAX_HEADER];
    size_t hl = 0;
    h[hl++] = (uint8_t)((fin ? 0x80 : 0) | opcode);
    uint8_t mbit = mask ? 0x80 : 0;
    if (len < 126) {
        h[hl++] = (uint8_t)(mbit | len);
    } else if (len <= 0xffff) {
        h[hl++] = (uint8_t)(mbit | 126);
        zt_put_be16(h + hl, (uint16_t)len);
        hl += 2;
    } else {
        h[hl++] = (uint8_t)(mbit | 127);
        zt_put_be64(h + hl, (uint64_t)len);
        hl += 8;
    }
    if (mask) {
        memcpy(h + hl, mask, 4);
        hl += 4;
    }
    if (len > out->max || out->len > out->max - len || out->max - out->len - len < hl) return ZT_ETOOBIG;
    size_t start = out->len;
    int rc = zt_buf_append(out, h, hl);
    if (!rc && len) rc = zt_buf_append(out, payload, len);
    if (rc) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
        return rc;
    }
    if (mask) zt_ws_mask((uint8_t *)out->data + start + hl, len, mask, 0);
    return 0;
}

int zt_ws_close_encode(struct zt_buf *out, uint16_t code, const char *reason)
{
    if (code == 0) return zt_ws_frame_encode(out, ZT_WS_OP_CLOSE, true, NULL, 0, NULL);
    uint8_t p[ZT_WS_MAX_CONTROL];
    zt_put_be16(p, code);
    size_t rl = reason ? strlen(reason) : 0;
    if (rl > ZT_WS_MAX_CONTROL - 2) {
        rl = ZT_WS_MAX_CONTROL - 2;
        while (rl && ((uint8_t)reason[rl] & 0xc0) == 0x80) rl--; /* not inside a character */
    }
    if (rl) memcpy(p + 2, reason, rl);
    return zt_ws_frame_encode(out, ZT_WS_OP_CLOSE, true, p, rl + 2, NULL);
}

bool zt_ws_close_code_valid(uint16_t code)
{
    if (code >= 1000 && code <= 1003) return true;
    if (code >= 1007 && code <= 1011) return true;
    return code >= 3000 && code <= 4999;
}

/* ---- UTF-8 ------------------------------------------------------------- */

void zt_utf8_state_init(struct zt_utf8_state *st)
{
    memset(st, 0, sizeof *st);
}

bool zt_utf8_feed(struct zt_utf8_state *st, const uint8_t *p, size_t n)
{
    if (st->bad) return false;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (st->need) {
            if (c < st->lo || c > st->hi) goto bad;
            st->need--;
            st->lo = 0x80;
            st->hi = 0xbf;
            continue;
        }
        if (c < 0x80) continue;
        st->lo = 0x80;
        st->hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            st->need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            st->need = 2;
            if (c == 0xe0) st->lo = 0xa0;      /* no overlong 3-byte forms */
            else if (c == 0xed) st->hi = 0x9f; /* no surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            st->need = 3;
            if (c == 0xf0) st->lo = 0x90;      /* no overlong 4-byte forms */
            else if (c == 0xf4) st->hi = 0x8f; /* nothing past U+10FFFF */
        } else {
            goto bad; /* continuation byte, C0/C1, F5..FF */
        }
    }
    return true;
bad:
    st->bad = true;
    return false;
}

bool zt_utf8_complete(const struct zt_utf8_state *st)
{
    return !st->bad && st->need == 0;
}

/* ---- receiving ---------------------------------------------------------- */

void zt_ws_rx_init(struct zt_ws_rx *rx, size_t max_message, bool require_mask)
{
    memset(rx, 0, sizeof *rx);
    rx->max_message = max_message;
    rx->require_mask = require_mask;
    zt_buf_init(&rx->in, max_message + ZT_WS_MAX_HEADER + READ_SLACK);
    zt_buf_init(&rx->msg, max_message);
    zt_utf8_state_init(&rx->utf8);
}

void zt_ws_rx_deinit(struct zt_ws_rx *rx)
{
    zt_buf_deinit(&rx->in);
    zt_buf_deinit(&rx->msg);
}

int zt_ws_rx_feed(struct zt_ws_rx *rx, const void *p, size_t n)
{
    if (rx->in_off) { /* drop what was consumed */
        size_t left = rx->in.len - rx->in_off;
        memmove(rx->in.data, rx->in.data + rx->in_off, left);
        rx->in.len = left;
        rx->in.data[left] = '\0';
        rx->in_off = 0;
    }
    return zt_buf_append(&rx->in, p, n);
}

static int fail(struct zt_ws_rx *rx, uint16_t code, uint16_t *close_code)
{
    rx->failed = true;
    rx->fail_code = code;
    *close_code = code;
    return code == ZT_WS_CLOSE_INTERNAL ? ZT_ENOMEM : ZT_EPARSE;
}

int zt_ws_rx_next(struct zt_ws_rx *rx, struct zt_ws_event *ev, uint16_t *close_code)
{
    if (rx->failed) {
        *close_code = rx->fail_code;
        return rx->fail_code == ZT_WS_CLOSE_INTERNAL ? ZT_ENOMEM : ZT_EPARSE;
    }
    if (rx->msg_opcode == 0 && rx->msg.len) zt_buf_reset(&rx->msg); /* the last message was handed out */
    for (;;) {
        if (!rx->in.data) return 0; /* nothing fed yet */
        uint8_t *p = (uint8_t *)rx->in.data + rx->in_off;
        size_t avail = rx->in.len - rx->in_off;
        struct zt_ws_frame f;
        int rc = zt_ws_frame_parse(p, avail, &f);
        if (rc == ZT_EBUSY) return 0;
        if (rc) return fail(rx, ZT_WS_CLOSE_PROTOCOL, close_code);
        /* checks that need only the header: fail before buffering a payload */
        if (f.rsv) return fail(rx, ZT_WS_CLOSE_PROTOCOL, close_code); /* no extension negotiated */
        if (rx->require_mask && !f.masked) return fail(rx, ZT_WS_CLOSE_PROTOCOL, close_code);
        if (!rx->require_mask && f.masked) return fail(rx, ZT_WS_CLOSE_PROTOCOL, close_code);
        switch (f.opcode) {
        case ZT_WS_OP_CONT:
            if (!rx->msg_opcode) return fail(rx, ZT_WS_CLOSE_PROTOCOL, close_code);
            break;
        case ZT_WS_OP_TEXT:
        case ZT_WS_OP_BINARY:
            if (rx->msg_opcode) return fail(rx, ZT_WS_CLOSE_PROTOCOL, close_code); /* previous unfinished */
            break;
        case ZT_WS_OP_CLOSE:
        case ZT_WS_OP_PING:
        case ZT_WS_OP_PONG:
            if (!f.fin || f.len > ZT_WS_MAX_CONTROL) return fail(rx, ZT_WS_CLOSE_PROTOCOL, close_code);
            break;
        default:
            return fail(rx, ZT_WS_CLOSE_PROTOCOL, close_code); /* reserved opcode */
        }
        if (!is_control(f.opcode) && (f.len > rx->max_message || rx->msg.len + f.len > rx->max_message))
            return fail(rx, ZT_WS_CLOSE_TOO_BIG, close_code);
        if (avail - f.header_len < f.len) return 0; /* payload not all here yet */
        size_t len = (size_t)f.len;
        uint8_t *pl = p + f.header_len;
        if (f.masked) zt_ws_mask(pl, len, f.mask, 0);
        rx->in_off += f.header_len + len;

        if (is_control(f.opcode)) {
            memcpy(rx->control, pl, len);
            memset(ev, 0, sizeof *ev);
            ev->data = rx->control;
            ev->len = len;
            if (f.opcode == ZT_WS_OP_PING) {
                ev->kind = ZT_WS_EV_PING;
            } else if (f.opcode == ZT_WS_OP_PONG) {
                ev->kind = ZT_WS_EV_PONG;
            } else {
                ev->kind = ZT_WS_EV_CLOSE;
                ev->close_code = ZT_WS_CLOSE_NO_STATUS;
                if (len == 1) return fail(rx, ZT_WS_CLOSE_PROTOCOL, close_code);
                if (len >= 2) {
                    uint16_t code = zt_get_be16(rx->control);
                    if (!zt_ws_close_code_valid(code)) return fail(rx, ZT_WS_CLOSE_PROTOCOL, close_code);
                    struct zt_utf8_state st;
                    zt_utf8_state_init(&st);
                    if (!zt_utf8_feed(&st, rx->control + 2, len - 2) || !zt_utf8_complete(&st))
                        return fail(rx, ZT_WS_CLOSE_BAD_DATA, close_code);
                    ev->close_code = code;
                    ev->data = rx->control + 2;
                    ev->len = len - 2;
                }
            }
            return 1;
        }

        uint8_t op = f.opcode == ZT_WS_OP_CONT ? rx->msg_opcode : f.opcode;
        if (f.opcode != ZT_WS_OP_CONT) zt_utf8_state_init(&rx->utf8);
        if (op == ZT_WS_OP_TEXT && !zt_utf8_feed(&rx->utf8, pl, len))
            return fail(rx, ZT_WS_CLOSE_BAD_DATA, close_code); /* fail fast, per fragment */
        if (f.fin && op == ZT_WS_OP_TEXT && !zt_utf8_complete(&rx->utf8))
            return fail(rx, ZT_WS_CLOSE_BAD_DATA, close_code);
        if (f.fin && f.opcode != ZT_WS_OP_CONT) { /* a whole message in one frame: no copy */
            memset(ev, 0, sizeof *ev);
            ev->kind = ZT_WS_EV_MESSAGE;
            ev->opcode = op;
            ev->data = pl;
            ev->len = len;
            return 1;
        }
        if (len && zt_buf_append(&rx->msg, pl, len) != 0) return fail(rx, ZT_WS_CLOSE_INTERNAL, close_code);
        if (f.opcode != ZT_WS_OP_CONT) rx->msg_opcode = op;
        if (f.fin) {
            memset(ev, 0, sizeof *ev);
            ev->kind = ZT_WS_EV_MESSAGE;
            ev->opcode = op;
            ev->data = (const uint8_t *)rx->msg.data;
            ev->len = rx->msg.len;
            rx->msg_opcode = 0; /* msg is reset on the next call */
            if (!ev->data) ev->data = (const uint8_t *)"";
            return 1;
        }
    }
}
