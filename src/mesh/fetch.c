/* fetch.c: pulling a blob from its holders (mesh_int.h).
 *
 * A pull reads the holder records of the blob from the DHT (verified,
 * live, not ours, not of a peer whose local score is below zero), fetches
 * the manifest by the root most holders advertise (checked against it and
 * against the SHA-256 asked for), then runs up to `parallel` workers that
 * take the missing chunks one at a time, each from the usable holder with
 * the fewest requests in flight (chunk i starts at holder i mod n, so
 * every holder is asked early). A chunk is stored only once its SHA-256
 * matches the manifest: a holder that sends a bad one is dropped from the
 * pull at once, its score lowered and the report hook called, and the
 * chunk goes back to the queue for another holder. A holder gets one
 * request at a time until it has served one good chunk, so a liar costs
 * one chunk's transfer. A holder that does not
 * answer is skipped for a while and dropped after three failures in a
 * row; one that answers 429 is skipped for 200 ms; one that answers 404
 * (a partial holder: a node pulling the same blob, advertised as such) is
 * not asked for that chunk again until every holder has lacked it. Chunks
 * are fetched in a random order, and a pull advertises its node as a
 * partial holder once it has the manifest, and reads the holders again
 * every 2 s while it runs (refresh_holders), so that peers pulling at once
 * serve each other. Chunks already in the
 * store are not fetched again, so a pull that was interrupted (or a node
 * killed) resumes where it stopped. At the end the whole file's SHA-256 is
 * checked over the stored chunks (and, to install, the file is written to
 * models_dir through a temporary name). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sodium.h>
#include <unistd.h>

#include "mesh_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_http_client.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_nodeauth.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"

#define HOLDERS_TIMEOUT_MS 3000u
#define HOLDERS_REFRESH_MS 2000u /* a pull reads the holders again this often (partial holders that came since) */
#define CHUNK_TIMEOUT_MS 60000L
#define DOWN_MS 1000u       /* a holder that did not answer is skipped this long */
#define BUSY_MS 200u        /* ... one that answered 429 */
#define MAX_FAILS 3u        /* failures in a row before a holder is dropped from the pull */
#define MAX_REFUSALS 30u    /* 401s (not a peer of it yet) before it is dropped */
#define BAD_SCORE (-100.0)  /* a bad chunk or manifest */
#define ERROR_ROOM 4096u    /* bytes of an answer that is not a chunk */
#define MAX_CLEARS 600u     /* times a chunk every holder lacked is tried again (50 ms apart) */

/* ---- Holders ------------------------------------------------------------------ */

struct holders_ctx {
    struct zt_mesh *m;
    const uint8_t *sha;
    int64_t now;
    const char *self;
    struct zt_mesh_holder *out;
    size_t n, max;
};

static bool on_record(void *ud, const void *data, size_t len)
{
    struct holders_ctx *c = ud;
    struct zt_mesh_holder h;
    if (zt_mesh_record_verify(data, len, c->now, &h) != 0 || memcmp(h.sha256, c->sha, 32) != 0 ||
        strcmp(h.node_id, c->self) == 0)
        return true; /* junk, another blob's record put here, or ours */
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->out[i].node_id, h.node_id) == 0) {
            /* the latest record of a node; a withdrawal wins a tie */
            if (h.exp > c->out[i].exp || (h.exp == c->out[i].exp && h.withdrawn)) c->out[i] = h;
            return true;
        }
    if (c->n < c->max) c->out[c->n++] = h;
    return true;
}

size_t zt__mesh_holders(struct zt_mesh *m, const uint8_t sha[static 32], struct zt_mesh_holder *out, size_t max)
{
    pthread_mutex_lock(&m->mu);
    struct zt_dht *dht = m->dht;
    pthread_mutex_unlock(&m->mu);
    if (!dht) return 0;
    char hex[65];
    zt_hex_encode(hex, sha, 32);
    struct holders_ctx c = {.m = m, .sha = sha, .now = zt_time_real_ms() / 1000, .self = zt_identity_id(m->o.id),
                            .out = out, .max = max};
    if (zt_dht_get_values(dht, "mesh", hex, HOLDERS_TIMEOUT_MS, on_record, &c) != 0) return 0;
    size_t k = 0; /* nodes whose latest record withdraws it hold it no more (review7 F11) */
    for (size_t i = 0; i < c.n; i++)
        if (!out[i].withdrawn) out[k++] = out[i];
    return k;
}

/* ---- Requests ------------------------------------------------------------------ */

/* "Name: value" header lines of a signed request, NULL-terminated. */
struct signed_hdrs {
    char l[4][160];
    const char *v[5];
};

static int sign_hdrs(struct zt_mesh *m, const char *to, const char *method, const char *path, const void *body,
                     size_t len, struct signed_hdrs *h)
{
    struct zt_nodeauth_headers a;
    int rc = zt_nodeauth_sign(m->o.id, to, method, path, body, len, zt_time_real_ms() / 1000, &a);
    if (rc) return rc;
    snprintf(h->l[0], sizeof h->l[0], ZT_NODEAUTH_H_NODE ": %s", a.node);
    snprintf(h->l[1], sizeof h->l[1], ZT_NODEAUTH_H_DATE ": %s", a.date);
    snprintf(h->l[2], sizeof h->l[2], ZT_NODEAUTH_H_NONCE ": %s", a.nonce);
    snprintf(h->l[3], sizeof h->l[3], ZT_NODEAUTH_H_SIG ": %s", a.sig);
    for (int i = 0; i < 4; i++) h->v[i] = h->l[i];
    h->v[4] = NULL;
    return 0;
}

long zt__mesh_get(struct zt_mesh *m, const struct zt_mesh_holder *h, const char *path, size_t max, struct zt_buf *out)
{
    char url[ZT_DESCRIPTOR_MAX_ENDPOINT + 200];
    const char *ep = h->endpoint;
    size_t el = strlen(ep);
    while (el && ep[el - 1] == '/') el--;
    int w = snprintf(url, sizeof url, "%.*s%s", (int)el, ep, path);
    if (w < 0 || (size_t)w >= sizeof url) return ZT_ETOOBIG;
    struct signed_hdrs sh;
    int rc = sign_hdrs(m, h->node_id, "GET", path, NULL, 0, &sh);
    if (rc) return rc;
    struct zt_http_request rq = {.method = "GET", .url = url, .headers = sh.v, .timeout_ms = CHUNK_TIMEOUT_MS,
                                 .connect_timeout_ms = 3000, .max_body_bytes = max, .first_byte_timeout_ms = 10000};
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    rc = zt_http_client_do(m->http, &rq, &resp);
    long st = rc ? rc : resp.status;
    if (!rc) {
        zt_buf_reset(out);
        if (resp.status == 200 && zt_buf_append(out, resp.body.data ? resp.body.data : "", resp.body.len) != 0)
            st = ZT_ENOMEM;
    }
    zt_http_response_deinit(&resp);
    return st;
}

long zt__mesh_post(struct zt_mesh *m, const char *node_id, const char *endpoint, const char *path, const char *json)
{
    char url[ZT_DESCRIPTOR_MAX_ENDPOINT + 200];
    int w = snprintf(url, sizeof url, "%s%s", endpoint, path);
    if (w < 0 || (size_t)w >= sizeof url) return ZT_ETOOBIG;
    struct signed_hdrs sh;
    int rc = sign_hdrs(m, node_id, "POST", path, json, strlen(json), &sh);
    if (rc) return rc;
    struct zt_http_request rq = {.method = "POST", .url = url, .headers = sh.v, .body = json,
                                 .body_len = strlen(json), .content_type = "application/json", .timeout_ms = 5000,
                                 .connect_timeout_ms = 2000, .max_body_bytes = 65536};
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    rc = zt_http_client_do(m->http, &rq, &resp);
    long st = rc ? rc : resp.status;
    zt_http_response_deinit(&resp);
    return st;
}

/* ---- One pull ------------------------------------------------------------------- */

struct src {
    struct zt_mesh_holder h;
    unsigned inflight, fails, refusals, good;
    uint64_t skip_until_ms;
    bool dropped;
};

struct job {
    struct zt__pull *p;
    struct zt_mesh *m;
    struct zt_mesh_manifest man;
    struct src *srcs;
    size_t n_srcs;
    uint32_t *queue; /* chunk indices still to fetch */
    size_t n_queue;
    uint64_t *lacks;  /* per chunk: bit s set when holder s answered 404 (a partial holder) */
    uint16_t *clears; /* per chunk: how often every holder lacked it */
    unsigned inflight;
    bool failed;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static void pull_set(struct zt__pull *p, int state, int rc, const char *why)
{
    struct zt_mesh *m = p->m;
    pthread_mutex_lock(&m->mu);
    zt_strlcpy(p->why, why, sizeof p->why);
    p->rc = rc;
    p->state = state;
    if (state != ZT__PULL_RUNNING) p->ended_ms = zt_time_mono_ms();
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
}

/* The usable holder for chunk i with the fewest requests in flight (then
 * the fewest good chunks), or -1
 * (*wait: one may be usable later). Under j->mu. */
static int pick(struct job *j, uint32_t i, bool *wait)
{
    uint64_t now = zt_time_mono_ms();
    int best = -1;
    *wait = false;
    for (size_t k = 0; k < j->n_srcs; k++) {
        size_t s = (i + k) % j->n_srcs;
        struct src *x = &j->srcs[s];
        if (x->dropped || (s < 64 && (j->lacks[i] >> s & 1))) continue;
        if (x->skip_until_ms > now || (!x->good && x->inflight)) { /* unproven: one chunk at a time */
            *wait = true;
            continue;
        }
        /* the fewest requests in flight; on a tie the one that has served the
         * fewest chunks, so that every holder is tried (and a liar caught) early */
        const struct src *b = best < 0 ? NULL : &j->srcs[best];
        if (!b || x->inflight < b->inflight || (x->inflight == b->inflight && x->good < b->good)) best = (int)s;
    }
    return best;
}

static void *worker(void *arg)
{
    struct job *j = arg;
    struct zt_mesh *m = j->m;
    struct zt_buf body;
    zt_buf_init(&body, ZT_MESH_CHUNK_SIZE);
    pthread_mutex_lock(&j->mu);
    for (;;) {
        if (j->failed || m->stop) break;
        if (!j->n_queue) {
            if (!j->inflight) break;
            pthread_cond_wait(&j->cv, &j->mu);
            continue;
        }
        bool wait = false;
        uint32_t next = j->queue[j->n_queue - 1];
        int s = pick(j, next, &wait);
        if (s < 0 && !wait && j->lacks[next] && j->clears[next] < MAX_CLEARS) {
            /* every holder left lacked it: partial holders may have it by now */
            j->lacks[next] = 0;
            j->clears[next]++;
            wait = true;
        }
        if (s < 0) {
            if (!wait && !j->inflight) {
                j->failed = true;
                break;
            }
            struct timespec t = zt_time_after_ms(CLOCK_MONOTONIC, 50);
            pthread_cond_timedwait(&j->cv, &j->mu, &t);
            continue;
        }
        uint32_t i = j->queue[--j->n_queue];
        struct src *x = &j->srcs[s];
        x->inflight++;
        j->inflight++;
        struct zt_mesh_holder h = x->h;
        pthread_mutex_unlock(&j->mu);

        char path[128], hex[65];
        zt_hex_encode(hex, j->man.chunks[i], 32);
        snprintf(path, sizeof path, "/v1/mesh/chunk/%s", hex);
        size_t want = zt_mesh_chunk_len(&j->man, i);
        /* room for an error's JSON too (a 429 on a 7-byte last chunk) */
        long st = zt__mesh_get(m, &h, path, want < ERROR_ROOM ? ERROR_ROOM : want, &body);
        int verdict = 0; /* 0 ok, 1 down, 2 busy, 3 bad, 4 not admitted (yet), 5 lacks it */
        if (st == 200) {
            uint8_t got[32];
            zt_sha256(got, body.data ? body.data : "", body.len);
            if (body.len != want || memcmp(got, j->man.chunks[i], 32) != 0) verdict = 3;
            else if (zt__mstore_put_chunk(&m->st, got, body.data, body.len) != 0) verdict = 1;
        } else if (st == ZT_ETOOBIG) {
            verdict = 3; /* more bytes than the chunk has */
        } else {
            verdict = st == 429 || st == 503 ? 2 : st == 401 || st == 403 ? 4 : st == 404 ? 5 : 1;
        }
        if (verdict == 0) {
            atomic_fetch_add(&m->chunks_fetched, 1);
            atomic_fetch_add(&m->bytes_fetched, want);
            zt__mesh_score(m, h.node_id, 1, "");
        } else if (verdict == 3) {
            zt__mesh_score(m, h.node_id, BAD_SCORE, "served a chunk that does not match its hash");
        }

        pthread_mutex_lock(&j->mu);
        x->inflight--;
        j->inflight--;
        if (verdict == 0) {
            x->fails = 0;
            x->good++;
            pthread_mutex_lock(&m->mu);
            j->p->have++;
            pthread_mutex_unlock(&m->mu);
        } else {
            j->queue[j->n_queue++] = i; /* for another holder (or this one later) */
            if (verdict == 3) {
                x->dropped = true;
                pthread_mutex_lock(&m->mu);
                j->p->bad++;
                pthread_mutex_unlock(&m->mu);
            } else if (verdict == 2) {
                x->skip_until_ms = zt_time_mono_ms() + BUSY_MS;
            } else if (verdict == 5) { /* a partial holder without it (yet): another holder */
                if (s < 64) j->lacks[i] |= (uint64_t)1 << s;
            } else if (verdict == 4) { /* it has not found us in the DHT yet: it will */
                x->skip_until_ms = zt_time_mono_ms() + DOWN_MS;
                if (++x->refusals >= MAX_REFUSALS) x->dropped = true;
            } else {
                x->skip_until_ms = zt_time_mono_ms() + DOWN_MS;
                if (++x->fails >= MAX_FAILS) x->dropped = true;
            }
        }
        pthread_cond_broadcast(&j->cv);
    }
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    zt_buf_deinit(&body);
    return NULL;
}

/* While the workers run: the DHT read again every HOLDERS_REFRESH_MS for
 * holders of the same manifest that were not there at the start. Peers
 * pulling the same blob at once advertise themselves as partial holders
 * only once they have its manifest, after the others' first look: without
 * this they would all fetch every chunk from the source. A holder already
 * known (dropped ones too) or caught before is not added. */
static void refresh_holders(struct job *j, const uint8_t sha[static 32], struct zt_mesh_holder *hs)
{
    struct zt_mesh *m = j->m;
    for (;;) {
        pthread_mutex_lock(&j->mu);
        struct timespec t = zt_time_after_ms(CLOCK_MONOTONIC, HOLDERS_REFRESH_MS);
        bool done = false;
        for (;;) {
            done = j->failed || m->stop || (!j->n_queue && !j->inflight);
            if (done || pthread_cond_timedwait(&j->cv, &j->mu, &t) != 0) break;
        }
        pthread_mutex_unlock(&j->mu);
        if (done) return;
        size_t n = zt__mesh_holders(m, sha, hs, ZT__MESH_MAX_HOLDERS), added = 0;
        for (size_t i = 0; i < n; i++) {
            if (memcmp(hs[i].root, j->man.root, 32) != 0 || zt_mesh_peer_score(m, hs[i].node_id) < 0) continue;
            pthread_mutex_lock(&j->mu);
            bool known = false;
            for (size_t k = 0; k < j->n_srcs && !known; k++) known = strcmp(j->srcs[k].h.node_id, hs[i].node_id) == 0;
            if (!known && j->n_srcs < ZT__MESH_MAX_HOLDERS) {
                memset(&j->srcs[j->n_srcs], 0, sizeof j->srcs[0]);
                j->srcs[j->n_srcs++].h = hs[i];
                added++;
                pthread_cond_broadcast(&j->cv);
            }
            size_t total = j->n_srcs;
            pthread_mutex_unlock(&j->mu);
            if (added) {
                pthread_mutex_lock(&m->mu);
                j->p->holders = (unsigned)total;
                pthread_mutex_unlock(&m->mu);
            }
        }
        if (added) zt_log(ZT_LOG_DEBUG, "mesh_pull_holders", "sha256=%s added=%zu", j->p->sha_hex, added);
    }
}

static int cmp_root_votes(const struct src *s, size_t n, const uint8_t root[32])
{
    int v = 0;
    for (size_t i = 0; i < n; i++) v += memcmp(s[i].h.root, root, 32) == 0;
    return v;
}

/* The manifest by the root most holders advertise, from one of them. */
static int get_manifest(struct job *j)
{
    struct zt_mesh *m = j->m;
    const uint8_t *root = NULL;
    int votes = 0;
    for (size_t i = 0; i < j->n_srcs; i++) {
        int v = cmp_root_votes(j->srcs, j->n_srcs, j->srcs[i].h.root);
        if (v > votes) {
            votes = v;
            root = j->srcs[i].h.root;
        }
    }
    /* only the holders of that root serve this pull */
    uint8_t r[32];
    memcpy(r, root, 32);
    for (size_t i = 0; i < j->n_srcs; i++) j->srcs[i].dropped = memcmp(j->srcs[i].h.root, r, 32) != 0;
    struct zt_buf b;
    zt_buf_init(&b, ZT_MESH_MANIFEST_MAX);
    char hex[65], path[128];
    zt_hex_encode(hex, r, 32);
    snprintf(path, sizeof path, "/v1/mesh/manifest/%s", hex);
    int rc = ZT_ENET;
    /* ours already (a pull interrupted after the manifest came)? */
    if (zt__mstore_read(&m->st, "manifests", hex, ZT_MESH_MANIFEST_MAX, &b) == 0 &&
        zt_mesh_manifest_decode(b.data, b.len, r, &j->man) == 0)
        rc = 0;
    for (size_t i = 0; rc && i < j->n_srcs; i++) {
        struct src *x = &j->srcs[i];
        if (x->dropped) continue;
        long st = zt__mesh_get(m, &x->h, path, ZT_MESH_MANIFEST_MAX, &b);
        if (st != 200 && st != ZT_ETOOBIG) continue; /* down or busy: the next holder */
        int d = st == ZT_ETOOBIG ? ZT_ETOOBIG : zt_mesh_manifest_decode(b.data, b.len, r, &j->man);
        if (!d && (memcmp(j->man.file_sha256, x->h.sha256, 32) != 0 || j->man.file_size != x->h.size)) {
            zt_mesh_manifest_deinit(&j->man);
            d = ZT_ECRYPTO;
        }
        if (d) {
            x->dropped = true;
            zt__mesh_score(m, x->h.node_id, BAD_SCORE, "served a manifest that does not match its record");
            continue;
        }
        rc = zt__mstore_write(&m->st, "manifests", hex, NULL, 0, b.data, b.len, true);
    }
    zt_buf_deinit(&b);
    return rc;
}

/* Check the whole file over the stored chunks; install: write it to
 * models_dir/name (through .name.partial) with its sidecar. */
static int finish(struct job *j, const char *name, bool install, char *why, size_t why_len)
{
    struct zt_mesh *m = j->m;
    char part[ZT__MSTORE_PATH + 300] = "", final[ZT__MSTORE_PATH + 300], side[ZT__MSTORE_PATH + 300];
    int fd = -1, rc = 0;
    if (install) {
        if (!m->models_dir[0]) {
            snprintf(why, why_len, "this node has no models directory");
            return ZT_EINVAL;
        }
        (void)mkdir(m->models_dir, 0700);
        snprintf(part, sizeof part, "%s/.%s.partial", m->models_dir, name);
        snprintf(final, sizeof final, "%s/%s", m->models_dir, name);
        snprintf(side, sizeof side, "%s/%s.sha256", m->models_dir, name);
        fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            snprintf(why, why_len, "cannot write %.180s: %s", part, strerror(errno));
            return ZT_EIO;
        }
    }
    struct zt_buf c;
    zt_buf_init(&c, ZT_MESH_FRAME_HEADER + ZT_MESH_CHUNK_SIZE);
    struct zt_sha256_ctx sha;
    zt_sha256_init(&sha);
    for (uint32_t i = 0; !rc && i < j->man.n_chunks; i++) {
        rc = zt__mesh_chunk_read(m, j->man.chunks[i], &c);
        if (rc) {
            snprintf(why, why_len, "chunk %u vanished from the store", i);
            break;
        }
        zt_sha256_update(&sha, c.data, c.len);
        if (fd >= 0 && zt_fd_write_full(fd, c.data, c.len) != 0) {
            snprintf(why, why_len, "cannot write %.180s: %s", part, strerror(errno));
            rc = ZT_EIO;
        }
    }
    zt_buf_deinit(&c);
    uint8_t d[32];
    zt_sha256_final(&sha, d);
    if (!rc && memcmp(d, j->man.file_sha256, 32) != 0) {
        snprintf(why, why_len, "the chunks verify but the whole file does not match its SHA-256");
        rc = ZT_ECRYPTO;
    }
    if (fd >= 0) {
        if (!rc && fsync(fd) != 0) rc = ZT_EIO;
        close(fd);
        char hex[65], line[400];
        zt_hex_encode(hex, d, 32);
        int w = snprintf(line, sizeof line, "%s  %s\n", hex, name);
        struct stat st;
        if (!rc && stat(final, &st) == 0) { /* there already: same bytes or refuse */
            struct zt_buf old;
            zt_buf_init(&old, 256);
            bool same = zt_file_read_buf(side, &old) == 0 && zt_str_starts_with(zt_buf_str(&old), hex);
            zt_buf_deinit(&old);
            if (!same) {
                snprintf(why, why_len, "%.200s exists with other contents", final);
                rc = ZT_EEXIST;
            }
            (void)unlink(part);
        } else if (!rc) {
            int sfd = open(side, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (sfd < 0 || zt_fd_write_full(sfd, line, (size_t)w) != 0 || fsync(sfd) != 0) rc = ZT_EIO;
            if (sfd >= 0) close(sfd);
            if (!rc && rename(part, final) != 0) rc = ZT_EIO;
            if (!rc) rc = zt__mstore_sync_dir(m->models_dir); /* the file's name and its sidecar's */
            if (rc) snprintf(why, why_len, "cannot install %.180s: %s", final, strerror(errno));
        }
        if (rc) (void)unlink(part);
    }
    return rc;
}

void *zt__mesh_pull_main(void *arg)
{
    struct zt__pull *p = arg;
    struct zt_mesh *m = p->m;
    struct job j;
    memset(&j, 0, sizeof j);
    j.p = p;
    j.m = m;
    pthread_mutex_init(&j.mu, NULL);
    zt_cond_init_mono(&j.cv); /* waited on with CLOCK_MONOTONIC deadlines */
    pthread_t th[32];
    size_t n_th = 0;
    char why[256] = "";
    uint8_t sha[32];
    int rc = zt_hex_decode_str(sha, 32, p->sha_hex, ZT_HEX_LOWER);
    j.srcs = zt_calloc(ZT__MESH_MAX_HOLDERS, sizeof *j.srcs);
    struct zt_mesh_holder *hs = zt_calloc(ZT__MESH_MAX_HOLDERS, sizeof *hs);
    if (!rc && (!j.srcs || !hs)) rc = ZT_ENOMEM;
    pthread_mutex_lock(&m->mu);
    bool held = !rc && zt__mesh_find(m, sha) != NULL;
    pthread_mutex_unlock(&m->mu);
    if (held && !p->install) goto out; /* nothing to do */
    if (held) { /* only the install is missing: from our own chunks */
        pthread_mutex_lock(&m->mu);
        struct zt__blob *b = zt__mesh_find(m, sha);
        struct zt_mesh_manifest copy = b->man;
        uint8_t (*chunks)[32] = zt_malloc((size_t)copy.n_chunks * 32);
        if (chunks) memcpy(chunks, b->man.chunks, (size_t)copy.n_chunks * 32);
        copy.chunks = chunks;
        char name[ZT_MESH_NAME_MAX + 1];
        zt_strlcpy(name, p->name[0] ? p->name : b->name, sizeof name);
        pthread_mutex_unlock(&m->mu);
        if (!chunks) {
            rc = ZT_ENOMEM;
            goto out;
        }
        j.man = copy;
        if (!name[0]) snprintf(name, sizeof name, "%.16s.gguf", p->sha_hex);
        zt_strlcpy(p->name, name, sizeof p->name);
        rc = finish(&j, name, true, why, sizeof why);
        if (!rc && (rc = zt__mesh_use_file(m, sha, name)) != 0)
            snprintf(why, sizeof why, "cannot serve it from %s: %s", name, zt_strerror(rc));
        goto out;
    }
    size_t n = rc ? 0 : zt__mesh_holders(m, sha, hs, ZT__MESH_MAX_HOLDERS);
    for (size_t i = 0; i < n; i++) {
        if (zt_mesh_peer_score(m, hs[i].node_id) < 0) continue; /* caught serving bad data before */
        j.srcs[j.n_srcs++].h = hs[i];
    }
    pthread_mutex_lock(&m->mu);
    p->holders = (unsigned)j.n_srcs;
    pthread_mutex_unlock(&m->mu);
    if (!rc && !j.n_srcs) {
        rc = ZT_ENOTFOUND;
        snprintf(why, sizeof why, "no peer holds it (no holder record in the DHT%s)", m->dht ? "" : ": no DHT");
        goto out;
    }
    if (!rc && (rc = get_manifest(&j)) != 0) {
        snprintf(why, sizeof why, "no holder served a manifest that verifies");
        goto out;
    }
    /* the name: asked for, else the one most holders advertise (checked), else the hash */
    if (!p->name[0]) {
        for (size_t i = 0; i < j.n_srcs && !p->name[0]; i++)
            if (!j.srcs[i].dropped && j.srcs[i].h.name[0]) zt_strlcpy(p->name, j.srcs[i].h.name, sizeof p->name);
        if (!p->name[0]) snprintf(p->name, sizeof p->name, "%.16s.gguf", p->sha_hex);
    }
    /* a replica a holder asked for, now that its size is known: refused
     * if the store with it (and the other replica pulls under way) would
     * pass mesh.max_store_mb, so that a stranger's offers cannot make the
     * bound evict honest copies (review7 F3) */
    if (m->o.max_bytes) {
        pthread_mutex_lock(&m->mu);
        bool replica = p->replica && !p->install;
        uint64_t bytes = zt__mesh_store_bytes(m) + j.man.file_size;
        for (size_t i = 0; replica && i < m->n_pulls; i++) {
            const struct zt__pull *o = m->pulls[i];
            if (o != p && o->state == ZT__PULL_RUNNING && o->replica && o->total)
                bytes += (uint64_t)(o->total - o->have) * ZT_MESH_CHUNK_SIZE;
        }
        pthread_mutex_unlock(&m->mu);
        if (replica && bytes > m->o.max_bytes) {
            rc = ZT_ETOOBIG;
            snprintf(why, sizeof why, "a replica of %llu bytes would take the store past mesh.max_store_mb",
                     (unsigned long long)j.man.file_size);
            goto out;
        }
    }
    unsigned rf = p->rf;
    for (size_t i = 0; i < j.n_srcs && !rf; i++) rf = j.srcs[i].h.rf; /* the adder's promise travels */
    j.queue = zt_malloc((size_t)j.man.n_chunks * sizeof *j.queue);
    j.lacks = zt_calloc(j.man.n_chunks, sizeof *j.lacks);
    j.clears = zt_calloc(j.man.n_chunks, sizeof *j.clears);
    if (!j.queue || !j.lacks || !j.clears) {
        rc = ZT_ENOMEM;
        goto out;
    }
    for (uint32_t i = j.man.n_chunks; i-- > 0;)
        if (!zt__mstore_has_chunk(&m->st, j.man.chunks[i])) j.queue[j.n_queue++] = i;
    /* a random order: peers pulling the same blob at once fetch different
     * chunks first and so can serve each other (they advertise themselves
     * as partial holders now) */
    for (size_t i = j.n_queue; i > 1; i--) {
        size_t k = randombytes_uniform((uint32_t)i);
        uint32_t t = j.queue[i - 1];
        j.queue[i - 1] = j.queue[k];
        j.queue[k] = t;
    }
    zt__mesh_publish(m, &j.man, p->name, rf, true, zt_time_real_ms() / 1000);
    pthread_mutex_lock(&m->mu);
    p->total = j.man.n_chunks;
    p->have = j.man.n_chunks - (uint32_t)j.n_queue;
    pthread_mutex_unlock(&m->mu);
    if (p->have)
        zt_log(ZT_LOG_INFO, "mesh_pull_resumed", "sha256=%s have=%u of=%u", p->sha_hex, p->have, p->total);
    size_t want = j.n_queue < m->o.parallel ? j.n_queue : m->o.parallel;
    for (; n_th < want; n_th++)
        if (pthread_create(&th[n_th], NULL, worker, &j) != 0) break;
    if (want && !n_th) rc = ZT_ENOMEM;
    if (n_th) refresh_holders(&j, sha, hs);
    for (size_t i = 0; i < n_th; i++) pthread_join(th[i], NULL);
    if (!rc && (j.failed || j.n_queue)) {
        rc = m->stop ? ZT_ECLOSED : p->bad ? ZT_ECRYPTO : ZT_ENET;
        snprintf(why, sizeof why, "%u of %u chunks missing: no holder left that answers%s", (unsigned)j.n_queue,
                 j.man.n_chunks, p->bad ? " with good data" : "");
        goto out;
    }
    if (!rc) rc = finish(&j, p->name, p->install, why, sizeof why);
    if (rc == ZT_ECRYPTO) /* every chunk matched a manifest whose file hash lies: its holders lied */
        for (size_t i = 0; i < j.n_srcs; i++)
            if (!j.srcs[i].dropped) zt__mesh_score(m, j.srcs[i].h.node_id, BAD_SCORE, "advertised a false manifest");
    if (!rc) {
        struct zt_mesh_manifest keep = j.man;
        memset(&j.man, 0, sizeof j.man);
        rc = zt__mesh_hold(m, &keep, p->name, rf, p->install, NULL);
        zt_mesh_manifest_deinit(&keep);
        if (rc) snprintf(why, sizeof why, "cannot record the blob: %s", zt_strerror(rc));
        /* installed: served from the model file from now on, one copy on disk */
        if (!rc && p->install && (rc = zt__mesh_use_file(m, sha, p->name)) != 0)
            snprintf(why, sizeof why, "cannot serve it from %s: %s", p->name, zt_strerror(rc));
    }
out:
    if (!rc && p->install && m->installed) m->installed(m->installed_ud, p->sha_hex, p->name);
    if (!rc)
        zt_log(ZT_LOG_INFO, "mesh_pulled", "sha256=%s chunks=%u holders=%zu bad=%u", p->sha_hex, p->total, j.n_srcs,
               p->bad);
    else
        zt_log(ZT_LOG_WARN, "mesh_pull_failed", "sha256=%s error=%s detail=\"%s\"", p->sha_hex, zt_strerror(rc), why);
    zt_mesh_manifest_deinit(&j.man);
    zt_free(j.queue);
    zt_free(j.lacks);
    zt_free(j.clears);
    zt_free(j.srcs);
    zt_free(hs);
    pthread_cond_destroy(&j.cv);
    pthread_mutex_destroy(&j.mu);
    pull_set(p, rc ? ZT__PULL_FAILED : ZT__PULL_DONE, rc, why);
    return NULL;
}
