/* queue.c: the orchestrators' shared job queue (zt_queue.h): an
 * in-process backend and a Redis Streams backend (hiredis 0.14: the
 * synchronous API, RESP2; XAUTOCLAIM answers three elements on Redis 7).
 *
 * Redis layout: one stream (opts.stream) whose entries have the fields
 * "job" (the job id) and "body" (opaque bytes), one consumer group
 * (opts.group) created with MKSTREAM at open (BUSYGROUP is fine: another
 * orchestrator made it). take = (1) this consumer's own pending entries
 * once after open (XREADGROUP ... STREAMS s 0.., a restarted
 * orchestrator's), (2) XAUTOCLAIM of one entry idle past claim_idle_ms
 * (its delivery count and former owner from XPENDING before the claim),
 * (3) XREADGROUP ... > with BLOCK. ack = XACK + XDEL in one MULTI, so the
 * stream holds only unfinished work (XLEN is the depth). */
#include <errno.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_queue.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"

#define CLAIM_IDLE_DEFAULT 30000
#define MAX_LEN_DEFAULT 100000
#define TIMEOUT_DEFAULT 5000

/* in-process entries */
struct mentry {
    struct mentry *next;
    char id[ZT_QUEUE_ID_MAX];
    char job_id[ZT_QUEUE_KEY_MAX];
    uint8_t *body;
    size_t len;
    bool taken;
    uint64_t taken_ms; /* monotonic */
    int64_t deliveries;
};

struct zt_queue {
    bool redis;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* memory: an entry was pushed */
    int64_t claim_idle_ms;
    char stream[ZT_QUEUE_KEY_MAX], group[ZT_QUEUE_KEY_MAX], consumer[ZT_QUEUE_KEY_MAX];
    /* memory */
    struct mentry *head, *tail;
    size_t n, max_len;
    uint64_t seq;
    /* redis */
    redisContext *c;
    char host[256];
    int port, db;
    char *password;
    struct timeval tv;
    bool own_done;                     /* own pending entries after open: all handed out */
    char own_cursor[ZT_QUEUE_ID_MAX];  /* the last own pending id handed out */
};

void zt_queue_msg_clear(struct zt_queue_msg *m)
{
    if (!m) return;
    zt_free(m->body);
    memset(m, 0, sizeof *m);
}

const char *zt_queue_backend(const struct zt_queue *q) { return q->redis ? "redis" : "memory"; }

static bool key_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n < ZT_QUEUE_KEY_MAX;
}

/* ---- in-process ---------------------------------------------------------------- */

static int mem_push(struct zt_queue *q, const char *job_id, const void *body, size_t len, char *id_out)
{
    if (q->n >= q->max_len) return ZT_EBUSY;
    struct mentry *e = zt_calloc(1, sizeof *e);
    if (!e) return ZT_ENOMEM;
    if (len) {
        e->body = zt_malloc(len);
        if (!e->body) {
            zt_free(e);
            return ZT_ENOMEM;
        }
        memcpy(e->body, body, len);
    }
    e->len = len;
    zt_strlcpy(e->job_id, job_id, sizeof e->job_id);
    snprintf(e->id, sizeof e->id, "%llu-0", (unsigned long long)++q->seq);
    if (q->tail) q->tail->next = e;
    else q->head = e;
    q->tail = e;
    q->n++;
    if (id_out) zt_strlcpy(id_out, e->id, ZT_QUEUE_ID_MAX);
    pthread_cond_broadcast(&q->cv);
    return 0;
}

/* the first entry new, or taken and idle past claim_idle_ms */
static struct mentry *mem_next(struct zt_queue *q, uint64_t now)
{
    for (struct mentry *e = q->head; e; e = e->next)
        if (!e->taken || now - e->taken_ms >= (uint64_t)q->claim_idle_ms) return e;
    return NULL;
}

static int mem_take(struct zt_queue *q, int64_t block_ms, struct zt_queue_msg *m)
{
    uint64_t deadline = zt_time_mono_ms() + (uint64_t)(block_ms > 0 ? block_ms : 0);
    struct mentry *e;
    for (;;) {
        uint64_t now = zt_time_mono_ms();
        e = mem_next(q, now);
        if (e || now >= deadline) break;
        struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, deadline - now);
        pthread_cond_timedwait(&q->cv, &q->mu, &ts);
    }
    if (!e) return ZT_ENOTFOUND;
    struct zt_queue_msg r = {.len = e->len, .deliveries = e->deliveries + 1};
    if (e->len) {
        r.body = zt_malloc(e->len);
        if (!r.body) return ZT_ENOMEM;
        memcpy(r.body, e->body, e->len);
    }
    if (e->taken) zt_strlcpy(r.from, q->consumer, sizeof r.from); /* a stalled taker of this process */
    zt_strlcpy(r.id, e->id, sizeof r.id);
    zt_strlcpy(r.job_id, e->job_id, sizeof r.job_id);
    e->taken = true;
    e->taken_ms = zt_time_mono_ms();
    e->deliveries++;
    *m = r;
    return 0;
}

static int mem_ack(struct zt_queue *q, const char *id)
{
    for (struct mentry **pp = &q->head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next) {
        struct mentry *e = *pp;
        if (strcmp(e->id, id) != 0 || !e->taken) continue;
        *pp = e->next;
        if (q->tail == e) q->tail = prev;
        q->n--;
        zt_free(e->body);
        zt_free(e);
        return 0;
    }
    return ZT_ENOTFOUND;
}

static void mem_depth(struct zt_queue *q, size_t *entries, size_t *pending)
{
    size_t p = 0;
    for (struct mentry *e = q->head; e; e = e->next) p += e->taken;
    *entries = q->n;
    *pending = p;
}

/* ---- Redis ------------------------------------------------------------------------ */

/* redis://[[user]:password@]host[:port][/db] */
static int parse_url(struct zt_queue *q, const char *url)
{
    const char *p = url;
    if (strncmp(p, "redis://", 8) != 0) return ZT_EINVAL;
    p += 8;
    const char *at = strchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p; /* "user:pw@" or "pw@" */
        q->password = zt_strndup(pw, (size_t)(at - pw));
        if (!q->password) return ZT_ENOMEM;
        p = at + 1;
    }
    size_t hl = strcspn(p, ":/");
    if (hl == 0 || hl >= sizeof q->host) return ZT_EINVAL;
    memcpy(q->host, p, hl);
    q->host[hl] = '\0';
    p += hl;
    q->port = 6379;
    if (*p == ':') {
        char *end = NULL;
        long v = strtol(p + 1, &end, 10);
        if (end == p + 1 || v < 1 || v > 65535) return ZT_EINVAL;
        q->port = (int)v;
        p = end;
    }
    if (*p == '/' && p[1]) {
        char *end = NULL;
        long v = strtol(p + 1, &end, 10);
        if (*end || v < 0 || v > 1000) return ZT_EINVAL;
        q->db = (int)v;
    } else if (*p && strcmp(p, "/") != 0) {
        return ZT_EINVAL;
    }
    return 0;
}

static int rerr(struct zt_queue *q, const char *what, const redisReply *r)
{
    const char *msg = r && r->type == REDIS_REPLY_ERROR ? r->str : q->c && q->c->err ? q->c->errstr : "no reply";
    char m[200];
    size_t n = 0;
    for (const char *p = msg; *p && n + 1 < sizeof m; p++) m[n++] = (char)(*p == '"' ? '\'' : (unsigned char)*p < 0x20 ? ' ' : *p);
    m[n] = '\0';
    zt_log(ZT_LOG_WARN, "queue_error", "backend=redis op=%s host=%s port=%d error=\"%s\"", what, q->host, q->port, m);
    return ZT_EIO;
}

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* One command on the raw connection: 0, or ZT_EIO (logged). ok_prefix: an
 * error reply starting with it counts as success (BUSYGROUP). */
static int raw(struct zt_queue *q, const char *what, int argc, const char **argv, const char *ok_prefix)
{
    redisReply *r = redisCommandArgv(q->c, argc, argv, NULL);
    if (!r) return rerr(q, what, NULL);
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR && !(ok_prefix && strncmp(r->str, ok_prefix, strlen(ok_prefix)) == 0))
        rc = rerr(q, what, r);
    freeReplyObject(r);
    return rc;
}

/* The group, from the stream's start (entries added before any
 * orchestrator came up are delivered too); BUSYGROUP = it exists. */
static int ensure_group(struct zt_queue *q)
{
    const char *a[] = {"XGROUP", "CREATE", q->stream, q->group, "0", "MKSTREAM"};
    return raw(q, "xgroup", ARGC(a), a, "BUSYGROUP");
}

/* What every connection needs: AUTH, SELECT, the group. */
static int session(struct zt_queue *q)
{
    redisSetTimeout(q->c, q->tv);
    int rc = 0;
    if (q->password) {
        const char *a[] = {"AUTH", q->password};
        rc = raw(q, "auth", 2, a, NULL);
    }
    if (!rc && q->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", q->db);
        const char *a[] = {"SELECT", db};
        rc = raw(q, "select", 2, a, NULL);
    }
    return rc ? rc : ensure_group(q);
}

/* A command by argv; the reply, or NULL (the error logged). A broken
 * connection is re-established first (a restarted Redis, a dropped
 * connection: AUTH, SELECT and the group again); a group that vanished
 * (a Redis restarted without persistence, the key deleted) is created
 * again and the command retried once. */
static redisReply *cmd(struct zt_queue *q, const char *what, int argc, const char **argv, const size_t *lens)
{
    if (q->c && q->c->err) {
        if (redisReconnect(q->c) != REDIS_OK || q->c->err) {
            rerr(q, what, NULL);
            return NULL;
        }
        if (session(q)) return NULL;
        zt_log(ZT_LOG_WARN, "queue_reconnected", "backend=redis host=%s port=%d", q->host, q->port);
    }
    for (int attempt = 0;; attempt++) {
        redisReply *r = redisCommandArgv(q->c, argc, argv, lens);
        if (!r) {
            rerr(q, what, NULL);
            return NULL;
        }
        if (r->type != REDIS_REPLY_ERROR) return r;
        bool nogroup = strncmp(r->str, "NOGROUP", 7) == 0;
        rerr(q, what, r);
        freeReplyObject(r);
        if (!nogroup || attempt > 0 || ensure_group(q)) return NULL;
        zt_log(ZT_LOG_WARN, "queue_group_recreated", "backend=redis stream=%s group=%s", q->stream, q->group);
    }
}

static int redis_connect(struct zt_queue *q)
{
    q->c = redisConnectWithTimeout(q->host, q->port, q->tv);
    if (!q->c) return ZT_ENOMEM;
    if (q->c->err) return rerr(q, "connect", NULL);
    return session(q);
}

/* The answer of an XADD, r: the new entry's id, copied to id_out when not
 * NULL; r is freed. */
static int stream_id(redisReply *r, char *id_out)
{
    if (!r) return ZT_EIO;
    int rc = r->type == REDIS_REPLY_STRING && r->len < ZT_QUEUE_ID_MAX ? 0 : ZT_EIO;
    if (!rc && id_out) zt_strlcpy(id_out, r->str, ZT_QUEUE_ID_MAX);
    freeReplyObject(r);
    return rc;
}

static int redis_push(struct zt_queue *q, const char *job_id, const void *body, size_t len, char *id_out)
{
    const char *a[] = {"XADD", q->stream, "*", "job", job_id, "body", len ? body : ""};
    size_t l[] = {4, strlen(q->stream), 1, 3, strlen(job_id), 4, len};
    return stream_id(cmd(q, "xadd", ARGC(a), a, l), id_out);
}

/* One stream entry [id, [field, value, ...]] into m. ZT_ENOTFOUND for an
 * entry whose data is gone (deleted while pending). */
static int entry_to_msg(const redisReply *e, struct zt_queue_msg *m)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING)
        return ZT_EIO;
    const redisReply *f = e->element[1];
    if (f->type == REDIS_REPLY_NIL) return ZT_ENOTFOUND;
    if (f->type != REDIS_REPLY_ARRAY || e->element[0]->len >= ZT_QUEUE_ID_MAX) return ZT_EIO;
    struct zt_queue_msg r = {.deliveries = 1};
    zt_strlcpy(r.id, e->element[0]->str, sizeof r.id);
    bool have_job = false;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *v = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) continue;
        if (strcmp(k->str, "job") == 0 && v->len > 0 && v->len < ZT_QUEUE_KEY_MAX) {
            memcpy(r.job_id, v->str, v->len);
            r.job_id[v->len] = '\0';
            have_job = true;
        } else if (strcmp(k->str, "body") == 0 && v->len > 0 && !r.body) {
            r.body = zt_malloc(v->len);
            if (!r.body) return ZT_ENOMEM;
            memcpy(r.body, v->str, v->len);
            r.len = v->len;
        }
    }
    if (!have_job) {
        zt_free(r.body);
        return ZT_EIO; /* not an entry this code wrote */
    }
    *m = r;
    return 0;
}

/* XREADGROUP reply: [[stream, [entry...]]] or nil; the first entry */
static int read_reply(const redisReply *r, struct zt_queue_msg *m)
{
    if (r->type == REDIS_REPLY_NIL) return ZT_ENOTFOUND;
    if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) return ZT_EIO;
    const redisReply *s = r->element[0];
    if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 || s->element[1]->type != REDIS_REPLY_ARRAY) return ZT_EIO;
    if (s->element[1]->elements == 0) return ZT_ENOTFOUND;
    return entry_to_msg(s->element[1]->element[0], m);
}

/* (1) this consumer's own pending entries, once after open */
static int take_own(struct zt_queue *q, struct zt_queue_msg *m)
{
    for (;;) {
        const char *a[] = {"XREADGROUP", "GROUP", q->group, q->consumer, "COUNT", "1", "STREAMS", q->stream,
                           q->own_cursor};
        redisReply *r = cmd(q, "xreadgroup_own", ARGC(a), a, NULL);
        if (!r) return ZT_EIO;
        /* the cursor moves past this id even when its data is gone */
        const redisReply *s = r->type == REDIS_REPLY_ARRAY && r->elements ? r->element[0] : NULL;
        const redisReply *es = s && s->type == REDIS_REPLY_ARRAY && s->elements == 2 ? s->element[1] : NULL;
        if (!es || es->type != REDIS_REPLY_ARRAY || es->elements == 0) {
            freeReplyObject(r);
            q->own_done = true;
            return ZT_ENOTFOUND;
        }
        const redisReply *e = es->element[0];
        if (e->type == REDIS_REPLY_ARRAY && e->elements == 2 && e->element[0]->type == REDIS_REPLY_STRING)
            zt_strlcpy(q->own_cursor, e->element[0]->str, sizeof q->own_cursor);
        else {
            freeReplyObject(r);
            return ZT_EIO;
        }
        int rc = entry_to_msg(e, m);
        freeReplyObject(r);
        if (rc == ZT_ENOTFOUND) continue;
        if (!rc) zt_strlcpy(m->from, q->consumer, sizeof m->from);
        return rc;
    }
}

/* (2) one entry idle past claim_idle_ms, from any consumer */
static int take_claim(struct zt_queue *q, struct zt_queue_msg *m)
{
    char idle[24];
    snprintf(idle, sizeof idle, "%lld", (long long)q->claim_idle_ms);
    /* scan the whole pending list at most once per take: XAUTOCLAIM's
     * cursor comes back 0-0 at its end */
    for (int round = 0; round < 2; round++) {
        /* who holds the next candidate (XPENDING IDLE, Redis >= 6.2), so the
         * claim can say from whom and how often it was delivered */
        char owner[ZT_QUEUE_KEY_MAX] = "", first[ZT_QUEUE_ID_MAX] = "";
        int64_t count = 0;
        const char *pa[] = {"XPENDING", q->stream, q->group, "IDLE", idle, "-", "+", "1"};
        redisReply *p = cmd(q, "xpending_idle", ARGC(pa), pa, NULL);
        if (!p) return ZT_EIO;
        if (p->type == REDIS_REPLY_ARRAY && p->elements == 1 && p->element[0]->type == REDIS_REPLY_ARRAY &&
            p->element[0]->elements == 4) {
            const redisReply *e = p->element[0]; /* [id, consumer, idle ms, deliveries] */
            if (e->element[0]->type == REDIS_REPLY_STRING) zt_strlcpy(first, e->element[0]->str, sizeof first);
            if (e->element[1]->type == REDIS_REPLY_STRING) zt_strlcpy(owner, e->element[1]->str, sizeof owner);
            if (e->element[3]->type == REDIS_REPLY_INTEGER) count = e->element[3]->integer;
        }
        freeReplyObject(p);
        if (!first[0]) return ZT_ENOTFOUND;
        const char *a[] = {"XAUTOCLAIM", q->stream, q->group, q->consumer, idle, first, "COUNT", "1"};
        redisReply *r = cmd(q, "xautoclaim", ARGC(a), a, NULL);
        if (!r) return ZT_EIO;
        int rc = ZT_ENOTFOUND;
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[1]->type != REDIS_REPLY_ARRAY) {
            rc = ZT_EIO;
        } else if (r->element[1]->elements > 0) {
            rc = entry_to_msg(r->element[1]->element[0], m);
            if (!rc) {
                /* another consumer may have claimed `first` in between:
                 * then what XPENDING said is about another entry */
                bool same = strcmp(m->id, first) == 0;
                m->deliveries = same ? count + 1 : 2;
                zt_strlcpy(m->from, same ? owner : "?", sizeof m->from);
                zt_log(ZT_LOG_INFO, "queue_claimed", "backend=redis entry=%s job=%s from=%s deliveries=%lld", m->id,
                       m->job_id, owner, (long long)m->deliveries);
            }
        }
        /* an entry deleted while pending (third element) is dropped by
         * XAUTOCLAIM itself: look again */
        bool deleted = r->type == REDIS_REPLY_ARRAY && r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY &&
                       r->element[2]->elements > 0;
        freeReplyObject(r);
        if (rc != ZT_ENOTFOUND || !deleted) return rc;
    }
    return ZT_ENOTFOUND;
}

static int redis_take(struct zt_queue *q, int64_t block_ms, struct zt_queue_msg *m)
{
    int rc;
    if (!q->own_done && (rc = take_own(q, m)) != ZT_ENOTFOUND) return rc;
    if ((rc = take_claim(q, m)) != ZT_ENOTFOUND) return rc;
    char block[24];
    snprintf(block, sizeof block, "%lld", (long long)(block_ms > 0 ? block_ms : 0));
    const char *a[] = {"XREADGROUP", "GROUP", q->group, q->consumer, "COUNT", "1", "BLOCK", block, "STREAMS",
                       q->stream, ">"};
    /* without BLOCK when no wait is wanted (BLOCK 0 waits for ever) */
    const char *nb[] = {"XREADGROUP", "GROUP", q->group, q->consumer, "COUNT", "1", "STREAMS", q->stream, ">"};
    if (block_ms > 0) {
        /* the command waits longer than the socket timeout may allow */
        struct timeval tv = {.tv_sec = (time_t)((block_ms + 5000) / 1000), .tv_usec = 0};
        if (tv.tv_sec > q->tv.tv_sec) redisSetTimeout(q->c, tv);
    }
    redisReply *r = block_ms > 0 ? cmd(q, "xreadgroup", ARGC(a), a, NULL) : cmd(q, "xreadgroup", ARGC(nb), nb, NULL);
    if (block_ms > 0 && q->c && !q->c->err) redisSetTimeout(q->c, q->tv);
    if (!r) return ZT_EIO;
    rc = read_reply(r, m);
    freeReplyObject(r);
    return rc;
}

static int redis_ack(struct zt_queue *q, const char *id)
{
    /* XACK and XDEL together: the stream keeps only unfinished work */
    redisAppendCommand(q->c, "MULTI");
    const char *a[] = {"XACK", q->stream, q->group, id};
    const char *d[] = {"XDEL", q->stream, id};
    redisAppendCommandArgv(q->c, ARGC(a), a, NULL);
    redisAppendCommandArgv(q->c, ARGC(d), d, NULL);
    redisAppendCommand(q->c, "EXEC");
    int rc = 0;
    long long acked = -1;
    for (int i = 0; i < 4; i++) {
        redisReply *r = NULL;
        if (redisGetReply(q->c, (void **)&r) != REDIS_OK || !r) {
            rc = rerr(q, "xack", NULL);
            break; /* the connection is in error: the next command reconnects */
        }
        if (r->type == REDIS_REPLY_ERROR) rc = rerr(q, "xack", r);
        if (i == 3 && r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_INTEGER)
            acked = r->element[0]->integer;
        freeReplyObject(r);
    }
    if (!rc && acked < 0) rc = ZT_EIO;
    if (!rc && acked == 0) rc = ZT_ENOTFOUND;
    return rc;
}

static int redis_depth(struct zt_queue *q, size_t *entries, size_t *pending)
{
    const char *a[] = {"XLEN", q->stream};
    redisReply *r = cmd(q, "xlen", ARGC(a), a, NULL);
    if (!r) return ZT_EIO;
    long long n = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
    freeReplyObject(r);
    const char *p[] = {"XPENDING", q->stream, q->group};
    r = cmd(q, "xpending", ARGC(p), p, NULL);
    if (!r) return ZT_EIO;
    long long pn = r->type == REDIS_REPLY_ARRAY && r->elements >= 1 && r->element[0]->type == REDIS_REPLY_INTEGER
                       ? r->element[0]->integer
                       : -1;
    freeReplyObject(r);
    if (n < 0 || pn < 0) return ZT_EIO;
    *entries = (size_t)n;
    *pending = (size_t)pn;
    return 0;
}

/* ---- the API ------------------------------------------------------------------------ */

void zt_queue_free(struct zt_queue *q)
{
    if (!q) return;
    while (q->head) {
        struct mentry *e = q->head;
        q->head = e->next;
        zt_free(e->body);
        zt_free(e);
    }
    if (q->c) redisFree(q->c);
    if (q->password) {
        sodium_memzero(q->password, strlen(q->password));
        zt_free(q->password);
    }
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    zt_free(q);
}

int zt_queue_open(const struct zt_queue_opts *o, struct zt_queue **out)
{
    if (!o || !out) return ZT_EINVAL;
    bool redis = o->backend && strcmp(o->backend, "redis") == 0;
    if (o->backend && !redis && strcmp(o->backend, "memory") != 0) return ZT_EINVAL;
    const char *stream = o->stream ? o->stream : "zentalk:jobs";
    const char *group = o->group ? o->group : "orchestrators";
    const char *consumer = o->consumer ? o->consumer : "local";
    if (!key_ok(stream) || !key_ok(group) || !key_ok(consumer) || o->claim_idle_ms < 0 || o->timeout_ms < 0)
        return ZT_EINVAL;
    if (redis && (!o->url || !o->url[0] || !o->consumer)) return ZT_EINVAL;
    struct zt_queue *q = zt_calloc(1, sizeof *q);
    if (!q) return ZT_ENOMEM;
    pthread_mutex_init(&q->mu, NULL);
    zt_cond_init_mono(&q->cv);
    q->redis = redis;
    q->claim_idle_ms = o->claim_idle_ms ? o->claim_idle_ms : CLAIM_IDLE_DEFAULT;
    q->max_len = o->max_len ? o->max_len : MAX_LEN_DEFAULT;
    zt_strlcpy(q->stream, stream, sizeof q->stream);
    zt_strlcpy(q->group, group, sizeof q->group);
    zt_strlcpy(q->consumer, consumer, sizeof q->consumer);
    zt_strlcpy(q->own_cursor, "0", sizeof q->own_cursor);
    int64_t t = o->timeout_ms ? o->timeout_ms : TIMEOUT_DEFAULT;
    q->tv.tv_sec = (time_t)(t / 1000);
    q->tv.tv_usec = (suseconds_t)(t % 1000) * 1000;
    int rc = 0;
    if (redis) {
        rc = parse_url(q, o->url);
        if (rc == ZT_EINVAL) zt_log(ZT_LOG_ERROR, "queue_bad_url", "backend=redis reason=\"want redis://[:password@]host[:port][/db]\"");
        if (!rc) rc = redis_connect(q);
    }
    return ZT_HAND_OUT(rc, q, zt_queue_free, out);
}

int zt_queue_open_config(const struct zt_config *cfg, const char *consumer, struct zt_queue **out,
                         struct zt_buf *errs)
{
    if (!cfg || !out) return ZT_EINVAL;
    const struct zt_cfg_database *db = &cfg->database;
    bool redis = zt_str_eq(db->queue, "redis");
    if (redis && !(db->redis_url && db->redis_url[0])) {
        if (errs) zt_ignore(zt_buf_append_str(errs, "database.redis_url is required when database.queue is redis\n"));
        return ZT_EINVAL;
    }
    struct zt_queue_opts o = {
        .backend = redis ? "redis" : "memory",
        .url = db->redis_url,
        .consumer = consumer,
        .claim_idle_ms = db->queue_claim_ms,
    };
    int rc = zt_queue_open(&o, out);
    /* the URL may hold a password: never printed */
    if (rc && errs)
        zt_ignore(zt_buf_appendf(errs, "database: cannot open the %s job queue: %s (the log says why)\n",
                                 o.backend, zt_strerror(rc)));
    return rc;
}

int zt_queue_push(struct zt_queue *q, const char *job_id, const void *body, size_t len,
                  char id_out[ZT_QUEUE_ID_MAX])
{
    if (!q || !key_ok(job_id) || len > ZT_QUEUE_BODY_MAX || (len && !body)) return ZT_EINVAL;
    pthread_mutex_lock(&q->mu);
    int rc = q->redis ? redis_push(q, job_id, body, len, id_out) : mem_push(q, job_id, body, len, id_out);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int zt_queue_take(struct zt_queue *q, int64_t block_ms, struct zt_queue_msg *m)
{
    if (!q || !m || block_ms < 0) return ZT_EINVAL;
    memset(m, 0, sizeof *m);
    pthread_mutex_lock(&q->mu);
    int rc = q->redis ? redis_take(q, block_ms, m) : mem_take(q, block_ms, m);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int zt_queue_ack(struct zt_queue *q, const char *id)
{
    if (!q || !id || !id[0] || strlen(id) >= ZT_QUEUE_ID_MAX) return ZT_EINVAL;
    pthread_mutex_lock(&q->mu);
    int rc = q->redis ? redis_ack(q, id) : mem_ack(q, id);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int zt_queue_depth(struct zt_queue *q, size_t *entries, size_t *pending)
{
    if (!q || !entries || !pending) return ZT_EINVAL;
    pthread_mutex_lock(&q->mu);
    int rc = 0;
    if (q->redis) rc = redis_depth(q, entries, pending);
    else mem_depth(q, entries, pending);
    pthread_mutex_unlock(&q->mu);
    return rc;
}

/* ---- entries owned from the start (several orchestrators) ---------------------- */

/* XADD and the delivery to this consumer in one script, so no other
 * consumer can read the entry first: it is pending here from its first
 * moment. Entries nobody had read yet (pushed with zt_queue_push) are
 * delivered here on the way (COUNT 1000 reaches ours): they stay pending
 * here, unrenewed, and come back through XAUTOCLAIM after claim_idle_ms. */
static const char PUSH_OWN_LUA[] =
    "local id = redis.call('XADD', KEYS[1], '*', 'job', ARGV[1], 'body', ARGV[2]) "
    "redis.call('XREADGROUP', 'GROUP', ARGV[3], ARGV[4], 'COUNT', 1000, 'STREAMS', KEYS[1], '>') "
    "return id";

static int redis_push_own(struct zt_queue *q, const char *job_id, const void *body, size_t len, char *id_out)
{
    const char *a[] = {"EVAL", PUSH_OWN_LUA, "1", q->stream, job_id, len ? body : "", q->group, q->consumer};
    size_t l[] = {4, strlen(PUSH_OWN_LUA), 1, strlen(q->stream), strlen(job_id), len, strlen(q->group),
                  strlen(q->consumer)};
    return stream_id(cmd(q, "push_own", ARGC(a), a, l), id_out);
}

int zt_queue_push_own(struct zt_queue *q, const char *job_id, const void *body, size_t len,
                      char id_out[ZT_QUEUE_ID_MAX])
{
    if (!q || !key_ok(job_id) || len > ZT_QUEUE_BODY_MAX || (len && !body)) return ZT_EINVAL;
    pthread_mutex_lock(&q->mu);
    int rc;
    if (q->redis) {
        rc = redis_push_own(q, job_id, body, len, id_out);
    } else {
        char id[ZT_QUEUE_ID_MAX];
        rc = mem_push(q, job_id, body, len, id);
        for (struct mentry *e = q->tail; !rc && e; e = NULL) {
            e->taken = true;
            e->taken_ms = zt_time_mono_ms();
            e->deliveries = 1;
        }
        if (!rc && id_out) zt_strlcpy(id_out, id, ZT_QUEUE_ID_MAX);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

#define RENEW_BATCH 100

int zt_queue_renew(struct zt_queue *q, const char *const *ids, size_t n)
{
    if (!q || (n && !ids)) return ZT_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!ids[i] || !ids[i][0] || strlen(ids[i]) >= ZT_QUEUE_ID_MAX) return ZT_EINVAL;
    pthread_mutex_lock(&q->mu);
    int rc = 0;
    if (!q->redis) {
        uint64_t now = zt_time_mono_ms();
        for (struct mentry *e = q->head; e; e = e->next)
            for (size_t i = 0; i < n; i++)
                if (e->taken && strcmp(e->id, ids[i]) == 0) e->taken_ms = now;
    }
    for (size_t off = 0; q->redis && off < n && !rc; off += RENEW_BATCH) {
        size_t k = n - off < RENEW_BATCH ? n - off : RENEW_BATCH;
        const char *a[6 + RENEW_BATCH];
        int argc = 0;
        a[argc++] = "XCLAIM";
        a[argc++] = q->stream;
        a[argc++] = q->group;
        a[argc++] = q->consumer;
        a[argc++] = "0";
        for (size_t i = 0; i < k; i++) a[argc++] = ids[off + i];
        a[argc++] = "JUSTID";
        redisReply *r = cmd(q, "xclaim_renew", argc, a, NULL);
        if (!r) rc = ZT_EIO;
        freeReplyObject(r);
    }
    pthread_mutex_unlock(&q->mu);
    return rc;
}

int64_t zt_queue_claim_idle_ms(const struct zt_queue *q) { return q ? q->claim_idle_ms : 0; }
