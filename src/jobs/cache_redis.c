/* cache_redis.c: the result cache's Redis backend (hiredis): one
 * connection behind a mutex, SET name value PX ttl / GET / DEL under
 * "zentalk:rcache:<hex name>". Values are sealed by cache.c before they get
 * here, so Redis holds keyed hashes and ciphertext only. A command that
 * fails reconnects once; a Redis that stays away makes lookups misses
 * (counted as errors), never a failed request. */
#include "cache_int.h"

#include <hiredis/hiredis.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

struct rds {
    pthread_mutex_t mu;
    redisContext *c;
    char host[256];
    int port, db;
    char *password; /* sodium_malloc'd, or NULL */
    struct timeval tv;
    int64_t ttl_ms; /* the entries' lifetime (PX) */
    uint64_t down_until_ms; /* mono ms: after a failed connect, no new attempt before this */
};

#define RETRY_CONNECT_MS 1000 /* a Redis that is away costs one connect timeout a second, not one per request */

/* redis://[:password@]host[:port][/db] */
static int parse(struct rds *r, const char *url)
{
    if (!url || !zt_str_starts_with(url, "redis://")) return ZT_EINVAL;
    const char *p = url + 8, *at = strrchr(p, '@');
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *pw = colon ? colon + 1 : p;
        size_t n = (size_t)(at - pw);
        r->password = sodium_malloc(n + 1);
        if (!r->password) return ZT_ENOMEM;
        memcpy(r->password, pw, n);
        r->password[n] = '\0';
        p = at + 1;
    }
    const char *slash = strchr(p, '/');
    size_t hp_len = slash ? (size_t)(slash - p) : strlen(p);
    char hp[300];
    if (!hp_len || hp_len >= sizeof hp) return ZT_EINVAL;
    memcpy(hp, p, hp_len);
    hp[hp_len] = '\0';
    uint16_t port = 6379;
    if (strchr(hp, ':')) {
        if (zt_str_split_hostport(hp, r->host, sizeof r->host, &port) != 0) return ZT_EINVAL;
    } else {
        zt_strlcpy(r->host, hp, sizeof r->host);
    }
    r->port = port;
    if (slash && slash[1]) {
        char *end = NULL;
        long db = strtol(slash + 1, &end, 10);
        if (!end || *end || db < 0 || db > 1000) return ZT_EINVAL;
        r->db = (int)db;
    }
    return 0;
}

static bool ok_reply(redisReply *rep)
{
    bool ok = rep && rep->type != REDIS_REPLY_ERROR;
    freeReplyObject(rep);
    return ok;
}

/* Connect (again): AUTH and SELECT. Under r->mu. */
static int connect_now(struct rds *r)
{
    if (r->c) redisFree(r->c);
    r->c = NULL;
    if (zt_time_mono_ms() < r->down_until_ms) return ZT_EIO;
    r->c = redisConnectWithTimeout(r->host, r->port, r->tv);
    if (!r->c || r->c->err) goto fail;
    redisSetTimeout(r->c, r->tv);
    if (r->password && !ok_reply(redisCommand(r->c, "AUTH %s", r->password))) goto fail;
    if (r->db && !ok_reply(redisCommand(r->c, "SELECT %d", r->db))) goto fail;
    return 0;
fail:
    zt_log(ZT_LOG_WARN, "result_cache_redis_unreachable", "host=%s port=%d error=\"%s\"", r->host, r->port,
           r->c && r->c->errstr[0] ? r->c->errstr : "refused");
    if (r->c) redisFree(r->c);
    r->c = NULL;
    r->down_until_ms = zt_time_mono_ms() + RETRY_CONNECT_MS;
    return ZT_EIO;
}

/* One command, reconnecting once when the connection broke. Under r->mu. */
static redisReply *command(struct rds *r, int argc, const char **argv, const size_t *lens)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (!r->c && connect_now(r) != 0) return NULL;
        redisReply *rep = redisCommandArgv(r->c, argc, argv, lens);
        if (rep) return rep;
        redisFree(r->c); /* the context is unusable after an I/O error */
        r->c = NULL;
    }
    return NULL;
}

static void name(const uint8_t key[static ZT_RCACHE_KEY_LEN], char out[static 15 + 2 * ZT_RCACHE_KEY_LEN + 1])
{
    memcpy(out, "zentalk:rcache:", 15);
    zt_hex_encode(out + 15, key, ZT_RCACHE_KEY_LEN);
}

static int r_get(void *b, const uint8_t key[static ZT_RCACHE_KEY_LEN], int64_t now_ms, uint8_t **val, size_t *len)
{
    (void)now_ms; /* Redis expires entries itself */
    struct rds *r = b;
    char k[15 + 2 * ZT_RCACHE_KEY_LEN + 1];
    name(key, k);
    const char *argv[] = {"GET", k};
    pthread_mutex_lock(&r->mu);
    redisReply *rep = command(r, 2, argv, NULL);
    pthread_mutex_unlock(&r->mu);
    int rc = !rep || rep->type == REDIS_REPLY_ERROR ? ZT_EIO : rep->type != REDIS_REPLY_STRING ? ZT_ENOTFOUND : 0;
    if (!rc) {
        uint8_t *v = zt_malloc(rep->len ? rep->len : 1);
        if (!v) rc = ZT_ENOMEM;
        else {
            memcpy(v, rep->str, rep->len);
            *val = v;
            *len = rep->len;
        }
    }
    freeReplyObject(rep);
    return rc;
}

static int r_put(void *b, const uint8_t key[static ZT_RCACHE_KEY_LEN], const uint8_t *val, size_t len,
                 int64_t expires_ms, uint64_t *evicted)
{
    (void)expires_ms, (void)evicted; /* PX below; Redis's maxmemory policy evicts */
    struct rds *r = b;
    char k[15 + 2 * ZT_RCACHE_KEY_LEN + 1], px[24];
    name(key, k);
    snprintf(px, sizeof px, "%lld", (long long)r->ttl_ms);
    const char *argv[] = {"SET", k, (const char *)val, "PX", px};
    const size_t lens[] = {3, strlen(k), len, 2, strlen(px)};
    pthread_mutex_lock(&r->mu);
    redisReply *rep = command(r, 5, argv, lens);
    pthread_mutex_unlock(&r->mu);
    return ok_reply(rep) ? 0 : ZT_EIO;
}

static void r_del(void *b, const uint8_t key[static ZT_RCACHE_KEY_LEN])
{
    struct rds *r = b;
    char k[15 + 2 * ZT_RCACHE_KEY_LEN + 1];
    name(key, k);
    const char *argv[] = {"DEL", k};
    pthread_mutex_lock(&r->mu);
    freeReplyObject(command(r, 2, argv, NULL));
    pthread_mutex_unlock(&r->mu);
}

static void r_usage(void *b, uint64_t *entries, uint64_t *bytes)
{
    (void)b;
    *entries = *bytes = 0; /* Redis's own INFO says */
}

static void r_free(void *b)
{
    struct rds *r = b;
    if (!r) return;
    if (r->c) redisFree(r->c);
    sodium_free(r->password);
    pthread_mutex_destroy(&r->mu);
    zt_free(r);
}

static const struct zt__rcache_store redis_ops = {
    .get = r_get, .put = r_put, .del = r_del, .usage = r_usage, .free = r_free,
};

int zt__rcache_redis_new(const char *url, int64_t timeout_ms, int64_t ttl_s, const struct zt__rcache_store **ops,
                         void **out)
{
    struct rds *r = zt_calloc(1, sizeof *r);
    if (!r) return ZT_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    r->ttl_ms = ttl_s * 1000;
    r->tv = (struct timeval){.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    int rc = parse(r, url);
    if (!rc) {
        pthread_mutex_lock(&r->mu);
        rc = connect_now(r);
        pthread_mutex_unlock(&r->mu);
    }
    if (rc) {
        if (rc == ZT_EINVAL) zt_log(ZT_LOG_ERROR, "config_invalid", "key=database.redis_url reason=\"not a redis:// URL\"");
        r_free(r);
        return rc;
    }
    *ops = &redis_ops;
    *out = r;
    return 0;
}
