/* ws_conn.c: WebSocket connections over upgraded HTTP sockets. See zt_ws.h
 * and docs/internals/websocket.md.
 *
 * One detached thread per connection: the thread owns the socket, its rx
 * and its tx buffer, so nothing on the data path is shared or locked. The
 * hub only counts connections and carries the shutdown request, which each
 * thread sees within one poll tick (TICK_MS). */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_http.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_ws.h"

#define TICK_MS 200
#define READ_CHUNK (64u * 1024u)
#define WRITE_TIMEOUT_MS 5000   /* a peer that reads nothing for this long is dropped */
#define CLOSE_LINGER_MS 1000    /* wait for the peer's close frame after ours */
#define FREE_WAIT_MS 5000       /* zt_ws_hub_free waits this long for threads */

struct zt_ws_hub {
    struct zt_ws_hub_opts o;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t count;
    bool closing;
    _Atomic uint16_t close_code; /* != 0: every connection closes with it */
};

struct zt_ws_conn {
    struct zt_ws_hub *hub;
    struct zt_http_upgraded *u;
    int fd;
    struct zt_ws_rx rx;
    struct zt_buf tx;
    bool close_sent;
    bool broken; /* write failed: stop at once */
};

int zt_ws_hub_new(const struct zt_ws_hub_opts *opts, struct zt_ws_hub **out)
{
    if (!opts || !opts->on_text || opts->max_message < 1 || opts->max_connections < 1) return ZT_EINVAL;
    struct zt_ws_hub *h = zt_calloc(1, sizeof *h);
    if (!h) return ZT_ENOMEM;
    h->o = *opts;
    if (h->o.idle_timeout_s < 2) h->o.idle_timeout_s = 2;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    *out = h;
    return 0;
}

bool zt_ws_hub_has_room(struct zt_ws_hub *h)
{
    pthread_mutex_lock(&h->mu);
    bool ok = !h->closing && h->count < h->o.max_connections;
    pthread_mutex_unlock(&h->mu);
    return ok;
}

size_t zt_ws_hub_count(struct zt_ws_hub *h) { return zt_locked_size(&h->mu, &h->count); }

/* ---- writing ------------------------------------------------------------ */

/* Write all of tx (the socket is non-blocking: wait for room, bounded). */
static int flush_tx(struct zt_ws_conn *c)
{
    size_t off = 0;
    uint64_t deadline = zt_time_mono_ms() + WRITE_TIMEOUT_MS;
    while (off < c->tx.len && !c->broken) {
        ssize_t n = send(c->fd, c->tx.data + off, c->tx.len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            uint64_t now = zt_time_mono_ms();
            if (now >= deadline) break;
            struct pollfd pfd = {.fd = c->fd, .events = POLLOUT};
            (void)poll(&pfd, 1, (int)(deadline - now));
            continue;
        }
        break;
    }
    bool ok = off == c->tx.len;
    zt_buf_reset(&c->tx);
    if (!ok) c->broken = true;
    return ok ? 0 : ZT_EIO;
}

static int send_frame(struct zt_ws_conn *c, uint8_t op, const void *p, size_t n)
{
    if (c->broken) return ZT_EIO;
    int rc = zt_ws_frame_encode(&c->tx, op, true, p, n, NULL);
    return rc ? rc : flush_tx(c);
}

int zt_ws_send_text(struct zt_ws_conn *c, const char *text, size_t len)
{
    if (c->close_sent) return ZT_ECLOSED;
    return send_frame(c, ZT_WS_OP_TEXT, text, len);
}

static void send_close(struct zt_ws_conn *c, uint16_t code, const char *reason)
{
    if (c->close_sent || c->broken) return;
    c->close_sent = true;
    if (zt_ws_close_encode(&c->tx, code, reason) == 0) zt_ignore(flush_tx(c));
}

/* ---- the connection's thread -------------------------------------------- */

/* After our close frame: read (and drop) until the peer's close frame, EOF
 * or CLOSE_LINGER_MS, so the peer sees a clean close rather than a reset. */
static void linger(struct zt_ws_conn *c)
{
    if (c->broken) return;
    (void)shutdown(c->fd, SHUT_WR); /* our side is done; keep reading */
    uint64_t deadline = zt_time_mono_ms() + CLOSE_LINGER_MS;
    char buf[4096];
    for (;;) {
        uint64_t now = zt_time_mono_ms();
        if (now >= deadline) return;
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, (int)(deadline - now));
        if (pr <= 0) {
            if (pr < 0 && errno == EINTR) continue;
            return;
        }
        ssize_t n = recv(c->fd, buf, sizeof buf, 0);
        if (n == 0) return;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            return;
        }
    }
}

/* Handle every complete event in rx. false: the connection is over. */
static bool drain_events(struct zt_ws_conn *c, void *state)
{
    struct zt_ws_hub *h = c->hub;
    for (;;) {
        struct zt_ws_event ev;
        uint16_t code = 0;
        int rc = zt_ws_rx_next(&c->rx, &ev, &code);
        if (rc == 0) return true;
        if (rc < 0) {
            zt_log_rl(ZT_LOG_INFO, 10, "ws_protocol_error", "close_code=%u", (unsigned)code);
            send_close(c, code, code == ZT_WS_CLOSE_TOO_BIG     ? "message too big"
                                : code == ZT_WS_CLOSE_BAD_DATA  ? "invalid UTF-8 in text"
                                : code == ZT_WS_CLOSE_INTERNAL ? "out of memory"
                                                                : "protocol error");
            linger(c);
            return false;
        }
        switch (ev.kind) {
        case ZT_WS_EV_MESSAGE:
            if (ev.opcode != ZT_WS_OP_TEXT) {
                send_close(c, ZT_WS_CLOSE_UNSUPPORTED, "binary messages are not supported");
                linger(c);
                return false;
            }
            h->o.on_text(h->o.ud, state, c, (const char *)ev.data, ev.len);
            if (c->broken) return false;
            break;
        case ZT_WS_EV_PING:
            if (send_frame(c, ZT_WS_OP_PONG, ev.data, ev.len) != 0) return false;
            break;
        case ZT_WS_EV_PONG:
            break; /* any traffic counts as alive */
        case ZT_WS_EV_CLOSE:
            if (!c->close_sent) {
                /* echo the peer's code (RFC 6455 5.5.1); none received: empty close */
                c->close_sent = true;
                uint16_t echo = ev.close_code == ZT_WS_CLOSE_NO_STATUS ? 0 : ev.close_code;
                if (zt_ws_close_encode(&c->tx, echo, NULL) == 0) zt_ignore(flush_tx(c));
            }
            return false;
        }
    }
}

static void conn_run(struct zt_ws_conn *c, const char *extra, size_t extra_len)
{
    struct zt_ws_hub *h = c->hub;
    void *state = h->o.on_open ? h->o.on_open(h->o.ud, c) : NULL;
    uint64_t idle_ms = (uint64_t)h->o.idle_timeout_s * 1000u;
    uint64_t last_rx = zt_time_mono_ms();
    bool ping_sent = false;
    bool alive = true;
    if (extra_len && zt_ws_rx_feed(&c->rx, extra, extra_len) != 0) alive = false;
    char *buf = zt_malloc(READ_CHUNK);
    if (!buf) alive = false;
    while (alive) {
        alive = drain_events(c, state);
        if (!alive) break;
        uint16_t code = atomic_load(&h->close_code);
        if (code) {
            send_close(c, code, "server shutting down");
            linger(c);
            break;
        }
        uint64_t now = zt_time_mono_ms();
        if (now - last_rx >= idle_ms) {
            send_close(c, ZT_WS_CLOSE_GOING_AWAY, "idle timeout");
            linger(c);
            break;
        }
        if (!ping_sent && now - last_rx >= idle_ms / 2) {
            ping_sent = true;
            if (send_frame(c, ZT_WS_OP_PING, "keepalive", 9) != 0) break;
        }
        struct pollfd pfd = {.fd = c->fd, .events = POLLIN};
        int pr = poll(&pfd, 1, TICK_MS);
        if (pr < 0 && errno != EINTR) break;
        if (pr <= 0) continue;
        ssize_t n = recv(c->fd, buf, READ_CHUNK, 0);
        if (n == 0) break; /* peer gone without a close frame */
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
            break;
        }
        last_rx = zt_time_mono_ms();
        ping_sent = false;
        if (zt_ws_rx_feed(&c->rx, buf, (size_t)n) != 0) { /* cannot happen after a drain; be safe */
            send_close(c, ZT_WS_CLOSE_TOO_BIG, "message too big");
            linger(c);
            break;
        }
    }
    zt_free(buf);
    if (h->o.on_close) h->o.on_close(h->o.ud, state);
}

struct start_arg {
    struct zt_ws_conn *c;
    char *extra;
    size_t extra_len;
};

static void *conn_thread(void *arg)
{
    struct start_arg *sa = arg;
    struct zt_ws_conn *c = sa->c;
    struct zt_ws_hub *h = c->hub;
    conn_run(c, sa->extra, sa->extra_len);
    zt_free(sa->extra);
    zt_free(sa);
    zt_http_upgraded_close(c->u);
    zt_ws_rx_deinit(&c->rx);
    zt_buf_deinit(&c->tx);
    zt_free(c);
    zt_count_down(&h->mu, &h->cv, &h->count);
    return NULL;
}

int zt_ws_hub_adopt(struct zt_ws_hub *h, struct zt_http_upgraded *u, int fd, const char *extra,
                    size_t extra_len)
{
    int rc = 0;
    struct zt_ws_conn *c = NULL;
    struct start_arg *sa = NULL;
    pthread_mutex_lock(&h->mu);
    if (h->closing) rc = ZT_ECLOSED;
    else if (h->count >= h->o.max_connections) rc = ZT_EBUSY;
    else h->count++;
    pthread_mutex_unlock(&h->mu);
    if (rc) goto out;
    c = zt_calloc(1, sizeof *c);
    sa = zt_calloc(1, sizeof *sa);
    if (!c || !sa || (extra_len && !(sa->extra = zt_malloc(extra_len)))) {
        rc = ZT_ENOMEM;
        goto uncount;
    }
    if (extra_len) memcpy(sa->extra, extra, extra_len);
    sa->extra_len = extra_len;
    c->hub = h;
    c->u = u;
    c->fd = fd;
    zt_ws_rx_init(&c->rx, h->o.max_message, true);
    /* answers may be larger than the message (a translation, annotations) */
    zt_buf_init(&c->tx, 4 * h->o.max_message + 64 * 1024);
    sa->c = c;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t t;
    int prc = pthread_create(&t, &attr, conn_thread, sa);
    pthread_attr_destroy(&attr);
    if (prc == 0) return 0;
    zt_ws_rx_deinit(&c->rx);
    zt_buf_deinit(&c->tx);
    rc = ZT_ENOMEM;
uncount:
    zt_count_down(&h->mu, &h->cv, &h->count);
out:
    if (sa) zt_free(sa->extra);
    zt_free(sa);
    zt_free(c);
    zt_http_upgraded_close(u);
    return rc;
}

void zt_ws_hub_close_all(struct zt_ws_hub *h, uint16_t code)
{
    if (!h) return;
    pthread_mutex_lock(&h->mu);
    h->closing = true;
    pthread_mutex_unlock(&h->mu);
    uint16_t expected = 0;
    atomic_compare_exchange_strong(&h->close_code, &expected, code);
}

void zt_ws_hub_free(struct zt_ws_hub *h)
{
    if (!h) return;
    zt_ws_hub_close_all(h, ZT_WS_CLOSE_GOING_AWAY);
    uint64_t deadline = zt_time_mono_ms() + FREE_WAIT_MS;
    pthread_mutex_lock(&h->mu);
    while (h->count > 0 && zt_time_mono_ms() < deadline) {
        pthread_mutex_unlock(&h->mu);
        zt_time_sleep_ms(10);
        pthread_mutex_lock(&h->mu);
    }
    size_t left = h->count;
    pthread_mutex_unlock(&h->mu);
    if (left) {
        /* a thread stuck in an application callback: leak the hub rather
         * than free memory it still uses */
        zt_log(ZT_LOG_WARN, "ws_shutdown_incomplete", "connections=%zu", left);
        return;
    }
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    zt_free(h);
}
