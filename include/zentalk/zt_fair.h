/* zt_fair.h: a feature's own bounded work queue, fair per caller (src/core;
 * issue 17 item 8). The HTTP side (a request's caller key, the 429/503
 * answer) is src/server/fair_api.h.
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
#ifndef ZT_FAIR_H
#define ZT_FAIR_H

#include <stdbool.h>
#include <stddef.h>

#include "zt_error.h"

struct zt_fair;

/* Run one step of task; true when steps remain. Runs on a worker. */
typedef bool (*zt_fair_step_fn)(void *task);
/* After the last step (or when the queue shuts down with steps left:
 * stopped true), answer and free task. Runs on a worker. */
typedef void (*zt_fair_done_fn)(void *task, bool stopped);

/* threads workers; at most max_tasks tasks queued or running, at most
 * max_per_caller of one caller. ZT_EINVAL, ZT_ENOMEM. */
ZT_NODISCARD int zt_fair_new(unsigned threads, size_t max_tasks, size_t max_per_caller, struct zt_fair **out);
/* Stops the workers: queued tasks get done(task, true). NULL: no-op. */
void zt_fair_free(struct zt_fair *f);

/* Queue task for caller (a string: identity, or "addr:" + address).
 * ZT_EBUSY: the queue is full; ZT_EPERM: caller holds max_per_caller
 * tasks; ZT_ECLOSED: shutting down; ZT_ENOMEM. On error the task stays the
 * caller's. */
ZT_NODISCARD int zt_fair_submit(struct zt_fair *f, const char *caller, void *task, zt_fair_step_fn step,
                                 zt_fair_done_fn done);

#endif
