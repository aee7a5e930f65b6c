/* fair.h: a feature's own bounded work queue, fair per caller (internal to
 * src/server; issue 17 item 8).
 *
 * Before: four large translation batches held every translation thread and
 * a one-sentence translation from someone else waited 30 s; intent batches
 * ran on the HTTP threads, so eight of them made /healthz time out. Now a
 * feature's requests are deferred (zt_http_req_defer) and run here, off the
 * HTTP threads, which stay free for health, metrics and everything else.
 *
 * A task is worked in steps (one text of a batch, say): each worker takes
 * the next caller in round-robin order, runs one step of that caller's
 * oldest task and puts the task back, so a caller with many or large
 * requests shares the workers with a caller who sends one small request,
 * which waits for at most one step per worker instead of whole batches.
 * Callers are keyed by identity (or client address when anonymous). The
 * queue is bounded in total and per caller; the per-request work budget
 * (bytes per batch) is the feature's to check before submitting.
 * Thread-safe. */
#ifndef ZT_SERVER_FAIR_H
#define ZT_SERVER_FAIR_H

#include <stdbool.h>
#include <stddef.h>

#include "req.h"
#include "zentalk/zt_error.h"

struct zt__fair;

/* Run one step of task; true when steps remain. Runs on a worker. */
typedef bool (*zt__fair_step_fn)(void *task);
/* After the last step (or when the queue shuts down with steps left:
 * stopped true), answer and free task. Runs on a worker. */
typedef void (*zt__fair_done_fn)(void *task, bool stopped);

/* threads workers; at most max_tasks tasks queued or running, at most
 * max_per_caller of one caller. ZT_EINVAL, ZT_ENOMEM. */
ZT_NODISCARD int zt__fair_new(unsigned threads, size_t max_tasks, size_t max_per_caller, struct zt__fair **out);
/* Stops the workers: queued tasks get done(task, true). NULL: no-op. */
void zt__fair_free(struct zt__fair *f);

/* Queue task for caller (a string: identity, or "addr:" + address).
 * ZT_EBUSY: the queue is full; ZT_EPERM: caller holds max_per_caller
 * tasks; ZT_ECLOSED: shutting down; ZT_ENOMEM. On error the task stays the
 * caller's. */
ZT_NODISCARD int zt__fair_submit(struct zt__fair *f, const char *caller, void *task, zt__fair_step_fn step,
                                 zt__fair_done_fn done);

/* The caller key of a request for zt__fair_submit: the principal's identity,
 * else the client address. */
void zt__fair_caller(const struct zt__req_ctx *cx, char *out, size_t n);

/* Answer a refused submit (rc) in resp: 503 overloaded / 429 rate_limited,
 * with Retry-After. what names the feature ("translations"). */
void zt__fair_refuse(struct zt_http_resp *resp, int rc, const char *what);

#endif
