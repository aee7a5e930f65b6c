/* zt_nat_relay.h: the orchestrator's relay for workers behind NAT (issue
 * 11; docs/internals/orchestrator.md "Workers behind NAT"). The HTTP
 * routes (POST /v1/orchestrator/poll, /v1/orchestrator/relay/<node id>...,
 * /v1/orchestrator/relay-result/<relay id>) are src/server/orch_relay.c's:
 * they park a connection behind one of the two small interfaces below and
 * render a struct zt_nat_res. This module (src/orchestrator/relay.c) holds
 * no HTTP: it keeps
 *
 *  - the outbound workers: each one's last poll and its parked poll (one
 *    per worker: a new one answers the old at once; held HOLD_MAX_MS at
 *    most);
 *  - the relays: a gateway's request waiting for its worker's poll (up to
 *    8 handed to one poll), then its answer streamed back to the gateway
 *    in order, piece by piece, as the worker posts it;
 *  - the bounds: 1024 relays open, 64 per worker (past them 503), a
 *    request no poll took within 10 s answered 502, a relay with no piece
 *    for 120 s cut, 65536 workers;
 *  - the reachability a worker's view shows (polled within seen_ms:
 *    "outbound"), and a worker whose outbound connection is gone dropped
 *    from the registry until it joins again.
 *
 * A relay id is 128 random bits handed only to the worker's authenticated
 * poll: the capability its result pieces present. The relay reads nothing
 * of what it carries (sealed to the worker, signed by the gateway).
 *
 * Threads: every function is thread-safe. The callbacks of a parked poll
 * and of a sink are called with the relay's lock held: they must not call
 * back into the relay. Errors: 0 or a negative ZT_E*. */
#ifndef ZT_NAT_RELAY_H
#define ZT_NAT_RELAY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

struct zt_registry;
struct zt_nat_relay;

/* A worker's parked poll. answer() is called once with the poll's answer
 * (a JSON body the callee takes) and lets the poll go; gone(): the
 * worker's connection closed. */
struct zt_nat_poll {
    void (*answer)(struct zt_nat_poll *p, json_t *body);
    bool (*gone)(struct zt_nat_poll *p);
};

/* A gateway's held request: where its worker's answer goes. start() sends
 * the status and content type, write() one piece (both: 0, or nonzero
 * when the gateway is gone); finish() ends a started stream (ok false:
 * cut) and lets the sink go; refuse() answers a request whose stream never
 * started with an error and lets the sink go; gone(): the gateway's
 * connection closed. */
struct zt_nat_sink {
    int (*start)(struct zt_nat_sink *s, int status, const char *content_type);
    int (*write)(struct zt_nat_sink *s, const char *p, size_t n);
    void (*finish)(struct zt_nat_sink *s, bool ok);
    void (*refuse)(struct zt_nat_sink *s, int status, const char *code, const char *msg);
    bool (*gone)(struct zt_nat_sink *s);
};

/* What a call answers at once: status 0 when it was parked (its poll or
 * sink answers later); else the HTTP status, with code and message for an
 * error (static strings), Retry-After seconds (0: none) and, for 200, the
 * JSON body (the caller takes it). */
struct zt_nat_res {
    int status;
    const char *code, *msg;
    int retry_after_s;
    json_t *body;
};

/* seen_ms: a worker that polled within it is reachable (<= 0: 30 s);
 * reg (borrowed, may be NULL) is asked whether a worker is live and told
 * of one that became unreachable. ZT_ENOMEM. */
ZT_NODISCARD int zt_nat_relay_new(int64_t seen_ms, struct zt_registry *reg, struct zt_nat_relay **out);
/* Answers every parked poll and relay (zt_nat_relay_sweep all), then
 * frees. NULL is a no-op. */
void zt_nat_relay_free(struct zt_nat_relay *r);
/* What every poll answer carries as "gateways" (a new reference, or
 * NULL; called with the relay's lock held). */
typedef json_t *(*zt_nat_gateways_fn)(void *ud);
void zt_nat_relay_set_gateways(struct zt_nat_relay *r, zt_nat_gateways_fn fn, void *ud);

/* A worker's poll (its signed heartbeat already accepted): the requests
 * waiting for it go back at once ({"requests":[...],"gateways":...});
 * none, it is parked for hold_ms (at most 25 s; <= 0: answered empty at
 * once) through park(ud), which returns the parked poll or NULL when the
 * connection cannot be held (answered empty at once). 503 when the relay
 * knows too many workers. */
void zt_nat_relay_poll(struct zt_nat_relay *r, const char *node_id, int64_t hold_ms,
                       struct zt_nat_poll *(*park)(void *ud), void *ud, struct zt_nat_res *res);

/* A gateway's request for an outbound worker. */
struct zt_nat_req {
    const char *node_id;        /* the worker (a valid node id) */
    const char *method, *target;
    json_t *headers;            /* borrowed: ["Name: value", ...], what the worker needs */
    const char *body;
    size_t body_len;
    /* hold the gateway's connection: its sink, or NULL when it cannot be
     * held (called with the relay's lock held) */
    struct zt_nat_sink *(*park)(void *ud);
    void *park_ud;
};
/* Queue q for its worker's poll (handed to a parked one at once): status
 * 0, the sink answers. Refused: 502 worker_unreachable (not live, or no
 * poll within seen_ms; a live one is dropped from the registry), 503
 * overloaded (the bounds, Retry-After 1; or out of memory). */
void zt_nat_relay_request(struct zt_nat_relay *r, const struct zt_nat_req *q, struct zt_nat_res *res);

/* One piece of a worker's answer. */
struct zt_nat_piece {
    const char *relay_id;     /* from the path */
    long status;              /* the answer's HTTP status (the first piece) */
    const char *content_type; /* NULL or "": application/octet-stream */
    long seq;                 /* 0, 1, ... in order */
    bool end;                 /* the last piece */
    const char *body;
    size_t len;
};
/* Write p to its gateway: 200 {"ok":true}; else 404 unknown_relay (never
 * handed out, or over), 409 out_of_order, 410 client_gone, 400 bad_status.
 * The last piece, an out-of-order one or a gone gateway ends the relay
 * (a stream not ended by its last piece is cut; one never started is
 * answered 502 worker_failed). */
void zt_nat_relay_piece(struct zt_nat_relay *r, const struct zt_nat_piece *p, struct zt_nat_res *res);

/* Answer polls past their hold or whose worker went (that worker is
 * dropped from the registry), end relays nobody took within 10 s (502),
 * idle for 120 s or whose gateway went; all: everything now (503,
 * stopping). */
void zt_nat_relay_sweep(struct zt_nat_relay *r, bool all);
/* node_id has a parked poll or polled within seen_ms (its view says
 * reachable: outbound). NULL r: false. */
bool zt_nat_relay_outbound(struct zt_nat_relay *r, const char *node_id);
/* Requests relayed, or refused. */
uint64_t zt_nat_relay_count(struct zt_nat_relay *r, bool refused);

/* Register zentalk_orchestrator_relay_requests_total (zt_metrics.h). */
struct zt_metrics;
ZT_NODISCARD int zt_nat_relay_register_metrics(struct zt_nat_relay *r, struct zt_metrics *m);

#endif
