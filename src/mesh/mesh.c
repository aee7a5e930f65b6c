/* mesh.c: the node's mesh: blobs held, serving, holder records, repair.
 * See zt_mesh.h and docs/internals/mesh.md.
 *
 * One mutex guards the tables (blobs, pulls, scores); disk and network
 * work is done outside it. The thread (zt_mesh_start) republishes a holder
 * record per blob held every third of its lifetime and, every
 * repair_interval_s, counts each blob's live holders in the DHT: when
 * fewer than its replication factor are left, the holder with the
 * smallest node id asks peers that do not hold it to replicate it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mesh_int.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_dht.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_http_client.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_metrics.h"
#include "zentalk/zt_peers.h"
#include "zentalk/zt_ratelimit.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"

#define RATE_KEYS 4096
#define ASK_GRACE_S 30 /* a peer asked to replicate counts as coming this long (until its record is seen) */
#define PULL_GRACE_S 600 /* a peer asked, pulling (a partial record), counts as coming this long */
#define BLOB_JSON_MAX 4096

static int64_t now_s(void)
{
    return zt_time_real_ms() / 1000;
}

struct zt__blob *zt__mesh_find(struct zt_mesh *m, const uint8_t sha[static 32])
{
    for (size_t i = 0; i < m->n_blobs; i++)
        if (memcmp(m->blobs[i]->sha, sha, 32) == 0) return m->blobs[i];
    return NULL;
}

static void blob_free(struct zt__blob *b)
{
    if (!b) return;
    zt_mesh_manifest_deinit(&b->man);
    zt_free(b);
}

static uint64_t held_chunks(struct zt_mesh *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->n_blobs; i++) n += m->blobs[i]->man.n_chunks;
    return n;
}

/* DIR/blobs/<sha>: {"name":s,"pinned":b,"rf":n,"root":hex} */
/* Give back a text json_dumps made, with jansson's allocator (the node
 * sets it to zt_malloc: free() would leave the counter behind). */
static void json_text_free(char *s)
{
    json_free_t f = NULL;
    json_get_alloc_funcs(NULL, &f);
    (f ? f : free)(s);
}

static int save_blob(struct zt_mesh *m, const struct zt__blob *b)
{
    char root[65];
    zt_hex_encode(root, b->man.root, 32);
    json_t *o = json_pack("{s:s,s:b,s:i,s:s}", "name", b->name, "pinned", b->pinned, "rf", (int)b->rf, "root", root);
    if (o && b->file[0] && json_object_set_new(o, "file", json_string(b->file)) != 0) {
        json_decref(o);
        o = NULL;
    }
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(o);
    if (!s) return ZT_ENOMEM;
    int rc = zt__mstore_write(&m->st, "blobs", b->sha_hex, NULL, 0, s, strlen(s), true);
    json_text_free(s);
    return rc;
}

static unsigned clamp_rf(const struct zt_mesh *m, unsigned rf)
{
    if (!rf) rf = m->o.replication;
    return rf < 1 ? 1 : rf > ZT_MESH_RF_MAX ? ZT_MESH_RF_MAX : rf;
}

int zt__mesh_hold(struct zt_mesh *m, struct zt_mesh_manifest *man, const char *name, unsigned rf, bool pinned,
                  const char *file)
{
    struct zt__blob *b = zt_calloc(1, sizeof *b);
    if (!b) return ZT_ENOMEM;
    uint8_t *enc = NULL;
    size_t len = 0;
    char root[65];
    zt_hex_encode(root, man->root, 32);
    /* every chunk on disk before the record that says the blob is held */
    int rc = zt__mstore_sync(&m->st);
    if (!rc) rc = zt_mesh_manifest_encode(man, &enc, &len);
    if (!rc) rc = zt__mstore_write(&m->st, "manifests", root, NULL, 0, enc, len, true);
    zt_free(enc);
    if (rc) {
        zt_free(b);
        return rc;
    }
    memcpy(b->sha, man->file_sha256, 32);
    zt_hex_encode(b->sha_hex, b->sha, 32);
    b->man = *man;
    memset(man, 0, sizeof *man);
    zt_strlcpy(b->name, name && zt_mesh_name_ok(name) ? name : "", sizeof b->name);
    b->rf = clamp_rf(m, rf);
    b->pinned = pinned;
    b->used_ms = zt_time_real_ms();
    zt_strlcpy(b->file, file && zt_mesh_name_ok(file) ? file : "", sizeof b->file);
    rc = save_blob(m, b);
    if (rc) {
        blob_free(b);
        return rc;
    }
    pthread_mutex_lock(&m->mu);
    struct zt__blob *old = zt__mesh_find(m, b->sha);
    if (old) { /* held already: keep the stronger promise */
        old->pinned = old->pinned || pinned;
        old->used_ms = b->used_ms;
        if (b->rf > old->rf) old->rf = b->rf;
        if (!old->file[0]) zt_strlcpy(old->file, b->file, sizeof old->file);
        if (!old->name[0]) zt_strlcpy(old->name, b->name, sizeof old->name);
        old->next_publish = 0;
        pthread_mutex_unlock(&m->mu);
        blob_free(b);
        return 0;
    }
    if (m->n_blobs == ZT__MESH_MAX_BLOBS) {
        pthread_mutex_unlock(&m->mu);
        blob_free(b);
        return ZT_ETOOBIG;
    }
    m->blobs[m->n_blobs++] = b;
    atomic_store(&m->chunks_held, held_chunks(m));
    pthread_cond_broadcast(&m->cv); /* publish now */
    pthread_mutex_unlock(&m->mu);
    return 0;
}

/* models_dir/file exists with size bytes. */
static bool file_there(const struct zt_mesh *m, const char *file, uint64_t size)
{
    char p[ZT__MSTORE_PATH + ZT_MESH_NAME_MAX + 2];
    struct stat st;
    if (!m->models_dir[0]) return false;
    snprintf(p, sizeof p, "%s/%s", m->models_dir, file);
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size == size;
}

/* Blobs saved by an earlier run: the files of DIR/blobs whose manifest is there. */
static void load_blobs(struct zt_mesh *m)
{
    char p[ZT__MSTORE_PATH + 8];
    snprintf(p, sizeof p, "%s/blobs", m->st.dir);
    DIR *dir = opendir(p);
    if (!dir) return;
    struct zt_buf b;
    zt_buf_init(&b, ZT_MESH_MANIFEST_MAX);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL && m->n_blobs < ZT__MESH_MAX_BLOBS) {
        uint8_t sha[32], root[32];
        if (strlen(e->d_name) != 64 || zt_hex_decode_str(sha, 32, e->d_name, ZT_HEX_LOWER) != 0) continue;
        if (zt__mstore_read(&m->st, "blobs", e->d_name, BLOB_JSON_MAX, &b) != 0) continue;
        json_t *o = json_loadb(b.data, b.len, 0, NULL);
        const char *rh = json_string_value(json_object_get(o, "root"));
        const char *name = json_string_value(json_object_get(o, "name"));
        json_int_t rf = json_integer_value(json_object_get(o, "rf"));
        bool pinned = json_is_true(json_object_get(o, "pinned"));
        const char *file = json_string_value(json_object_get(o, "file"));
        if (file && !zt_mesh_name_ok(file)) file = NULL;
        struct zt_mesh_manifest man;
        int rc = rh && zt_hex_decode_str(root, 32, rh, ZT_HEX_LOWER) == 0 ? 0 : ZT_EPARSE;
        if (!rc) rc = zt__mstore_read(&m->st, "manifests", rh, ZT_MESH_MANIFEST_MAX, &b);
        if (!rc) rc = zt_mesh_manifest_decode(b.data, b.len, root, &man);
        if (!rc && memcmp(man.file_sha256, sha, 32) != 0) {
            zt_mesh_manifest_deinit(&man);
            rc = ZT_ECRYPTO;
        }
        if (!rc && file && !file_there(m, file, man.file_size)) { /* the model file was removed or replaced */
            bool all = true;
            for (uint32_t i = 0; i < man.n_chunks && all; i++) all = zt__mstore_has_chunk(&m->st, man.chunks[i]);
            zt_log(ZT_LOG_WARN, "mesh_blob_file_gone", "sha256=%s file=%s action=%s", e->d_name, file,
                   all ? "served from its chunks" : "dropped");
            file = NULL;
            if (!all) {
                zt_mesh_manifest_deinit(&man);
                zt__mstore_remove(&m->st, "blobs", e->d_name);
                rc = ZT_ENOTFOUND;
            }
        }
        struct zt__blob *x = rc ? NULL : zt_calloc(1, sizeof *x);
        if (x) {
            char bp[ZT__MSTORE_PATH + 80];
            struct stat bst;
            snprintf(bp, sizeof bp, "%s/blobs/%s", m->st.dir, e->d_name);
            /* last used, as far as a restart knows: when its record was written */
            if (stat(bp, &bst) == 0) x->used_ms = (int64_t)bst.st_mtim.tv_sec * 1000 + bst.st_mtim.tv_nsec / 1000000;
            memcpy(x->sha, sha, 32);
            zt_strlcpy(x->sha_hex, e->d_name, sizeof x->sha_hex);
            x->man = man;
            zt_strlcpy(x->name, name && zt_mesh_name_ok(name) ? name : "", sizeof x->name);
            x->rf = clamp_rf(m, rf > 0 && rf <= ZT_MESH_RF_MAX ? (unsigned)rf : 0);
            x->pinned = pinned;
            zt_strlcpy(x->file, file ? file : "", sizeof x->file);
            m->blobs[m->n_blobs++] = x;
        } else if (!rc) {
            zt_mesh_manifest_deinit(&man);
        }
        json_decref(o);
    }
    closedir(dir);
    zt_buf_deinit(&b);
    atomic_store(&m->chunks_held, held_chunks(m));
}

static int register_metrics(struct zt_mesh *m)
{
    struct {
        const char *name, *help;
        enum zt_metric_type type;
        atomic_uint_fast64_t *v;
    } fams[] = {
        {"zentalk_mesh_chunks_held", "Chunks of the blobs this node holds.", ZT_METRIC_GAUGE, &m->chunks_held},
        {"zentalk_mesh_chunks_served_total", "Chunks served to peers.", ZT_METRIC_COUNTER, &m->chunks_served},
        {"zentalk_mesh_chunks_fetched_total", "Chunks fetched from peers and verified.", ZT_METRIC_COUNTER,
         &m->chunks_fetched},
        {"zentalk_mesh_bad_chunks_total", "Chunks or manifests from peers that failed verification.",
         ZT_METRIC_COUNTER, &m->bad_chunks},
        {"zentalk_mesh_bytes_served_total", "Chunk bytes served to peers.", ZT_METRIC_COUNTER, &m->bytes_served},
        {"zentalk_mesh_bytes_fetched_total", "Chunk bytes fetched and verified.", ZT_METRIC_COUNTER,
         &m->bytes_fetched},
        {"zentalk_mesh_replicas_asked_total", "Peers asked to replicate an under-replicated blob.",
         ZT_METRIC_COUNTER, &m->replicas_asked},
    };
    for (size_t i = 0; i < sizeof fams / sizeof fams[0]; i++) {
        int rc = zt_metrics_add_u64(m->o.metrics, fams[i].name, fams[i].help, fams[i].type, fams[i].v);
        if (rc) return rc;
    }
    return 0;
}

int zt_mesh_new(const struct zt_mesh_opts *o, struct zt_mesh **out)
{
    if (!o || !o->dir || !o->id || !out) return ZT_EINVAL;
    struct zt_mesh *m = zt_calloc(1, sizeof *m);
    if (!m) return ZT_ENOMEM;
    m->o = *o;
    m->o.dir = NULL;
    if (!m->o.replication) m->o.replication = 3;
    if (!m->o.record_ttl_s) m->o.record_ttl_s = 600;
    if (!m->o.repair_interval_s) m->o.repair_interval_s = 60;
    if (!m->o.parallel) m->o.parallel = 8;
    if (m->o.parallel > 32) m->o.parallel = 32;
    zt_strlcpy(m->models_dir, o->models_dir ? o->models_dir : "", sizeof m->models_dir);
    m->o.models_dir = NULL;
    pthread_mutex_init(&m->mu, NULL);
    pthread_mutex_init(&m->st_mu, NULL);
    zt_cond_init_mono(&m->cv);
    struct zt_http_client_opts co = {.max_inflight = 64};
    int rc = zt__mstore_init(&m->st, o->dir);
    if (!rc) rc = zt_http_client_new(&co, &m->http);
    if (!rc) rc = zt_ratelimit_new(o->serve_rps, o->serve_burst < 1 ? 1 : o->serve_burst, RATE_KEYS, &m->limit);
    if (!rc && o->metrics) rc = register_metrics(m);
    if (!rc) rc = zt__mesh_scores_load(m);
    if (rc) {
        zt_mesh_free(m);
        return rc;
    }
    load_blobs(m);
    *out = m;
    return 0;
}

void zt_mesh_stop(struct zt_mesh *m)
{
    if (!m) return;
    pthread_mutex_lock(&m->mu);
    m->stop = true;
    pthread_cond_broadcast(&m->cv);
    bool started = m->started;
    m->started = false;
    pthread_mutex_unlock(&m->mu);
    if (m->http) zt_http_client_shutdown(m->http); /* pulls' requests end at once */
    if (started) pthread_join(m->th, NULL);
    for (;;) { /* no pull starts once stop is set */
        struct zt__pull *p = NULL;
        pthread_mutex_lock(&m->mu);
        for (size_t i = 0; i < m->n_pulls && !p; i++)
            if (!m->pulls[i]->joined) p = m->pulls[i];
        if (p) p->joined = true;
        pthread_mutex_unlock(&m->mu);
        if (!p) break;
        pthread_join(p->th, NULL);
    }
    zt__mesh_scores_flush(m); /* what the last second changed */
}

void zt_mesh_free(struct zt_mesh *m)
{
    if (!m) return;
    zt_mesh_stop(m);
    for (size_t i = 0; i < m->n_pulls; i++) zt_free(m->pulls[i]);
    for (size_t i = 0; i < m->n_blobs; i++) blob_free(m->blobs[i]);
    zt_http_client_free(m->http);
    zt_ratelimit_free(m->limit);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    pthread_mutex_destroy(&m->st_mu);
    zt_free(m);
}

void zt_mesh_set_installed_hook(struct zt_mesh *m, zt_mesh_installed_fn fn, void *ud)
{
    pthread_mutex_lock(&m->mu);
    m->installed = fn;
    m->installed_ud = ud;
    pthread_mutex_unlock(&m->mu);
}

void zt_mesh_set_report_hook(struct zt_mesh *m, zt_mesh_report_fn fn, void *ud)
{
    pthread_mutex_lock(&m->mu);
    m->report = fn;
    m->report_ud = ud;
    pthread_mutex_unlock(&m->mu);
}

/* ---- Adding, pinning ------------------------------------------------------------ */

/* path's file name when path is a regular file directly in models_dir
 * (both resolved), else NULL. */
static const char *in_models_dir(const struct zt_mesh *m, const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!m->models_dir[0] || !zt_mesh_name_ok(base)) return NULL;
    char a[PATH_MAX], d[PATH_MAX];
    if (!realpath(path, a) || !realpath(m->models_dir, d)) return NULL;
    size_t dl = strlen(d);
    struct stat st;
    bool in = strncmp(a, d, dl) == 0 && a[dl] == '/' && strcmp(a + dl + 1, base) == 0 && stat(a, &st) == 0 &&
              S_ISREG(st.st_mode);
    return in ? base : NULL;
}

int zt_mesh_add_file(struct zt_mesh *m, const char *path, const char *name, unsigned rf, char sha_hex[static 65])
{
    if (!m || !path || (name && name[0] && !zt_mesh_name_ok(name))) return ZT_EINVAL;
    struct zt_mesh_manifest man;
    int rc = zt_mesh_manifest_of_file(path, &man);
    if (rc) return rc;
    /* a file of the models directory (a model this node runs) is served
     * from where it is: no second copy in the chunk store */
    const char *in_models = in_models_dir(m, path);
    uint8_t *buf = in_models ? NULL : zt_malloc(ZT_MESH_CHUNK_SIZE);
    int fd = buf ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    rc = in_models ? 0 : !buf ? ZT_ENOMEM : fd < 0 ? ZT_EIO : 0;
    for (uint32_t i = 0; !rc && !in_models && i < man.n_chunks; i++) {
        size_t want = zt_mesh_chunk_len(&man, i), got = 0;
        uint8_t h[32];
        rc = zt_fd_read_full(fd, buf, want, &got);
        if (!rc && got != want) rc = ZT_EIO;
        if (!rc) zt_sha256(h, buf, want);
        if (!rc && memcmp(h, man.chunks[i], 32) != 0) rc = ZT_EIO; /* changed since hashed */
        if (!rc && !zt__mstore_has_chunk(&m->st, h)) rc = zt__mstore_put_chunk(&m->st, h, buf, want);
    }
    if (fd >= 0) close(fd);
    zt_free(buf);
    char hex[65];
    zt_hex_encode(hex, man.file_sha256, 32);
    if (!rc) {
        const char *base = strrchr(path, '/');
        rc = zt__mesh_hold(m, &man, name && name[0] ? name : base ? base + 1 : path, rf, true, in_models);
    }
    zt_mesh_manifest_deinit(&man);
    if (rc) return rc;
    memcpy(sha_hex, hex, 65);
    zt_log(ZT_LOG_INFO, "mesh_added", "sha256=%s", hex);
    return 0;
}

int zt_mesh_pin(struct zt_mesh *m, const char *sha)
{
    uint8_t h[32];
    if (!m || !sha || zt_hex_decode_str(h, 32, sha, ZT_HEX_LOWER) != 0) return ZT_EINVAL;
    pthread_mutex_lock(&m->mu);
    struct zt__blob *b = zt__mesh_find(m, h);
    int rc = b ? 0 : ZT_ENOTFOUND;
    if (b) b->pinned = true;
    if (b) rc = save_blob(m, b);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* Is chunk hash h used by a blob other than skip? Under mu. */
static bool chunk_shared(struct zt_mesh *m, const struct zt__blob *skip, const uint8_t h[static 32])
{
    for (size_t i = 0; i < m->n_blobs; i++) {
        const struct zt__blob *b = m->blobs[i];
        if (b == skip) continue;
        for (uint32_t j = 0; j < b->man.n_chunks; j++)
            if (memcmp(b->man.chunks[j], h, 32) == 0) return true;
    }
    return false;
}

/* Our holder record of b withdrawn (review7 F11): a signed record that
 * says we no longer hold it, expiring a second after any holder record of
 * ours could (readers keep a node's latest record, so it shadows them
 * until they expire), instead of pullers and repair counting us as a
 * holder until record_ttl_s. Under mu (dht_runner_put only queues). */
static void withdraw_locked(struct zt_mesh *m, const struct zt__blob *b)
{
    if (!m->dht || !m->endpoint[0]) return;
    struct zt_mesh_holder h;
    memset(&h, 0, sizeof h);
    zt_strlcpy(h.endpoint, m->endpoint, sizeof h.endpoint);
    memcpy(h.root, b->man.root, 32);
    memcpy(h.sha256, b->man.file_sha256, 32);
    h.size = b->man.file_size;
    /* outlives our holder records (exp now + ttl), but never past what
     * readers accept (a day ahead: review8 F8, record_ttl_s may be 86400) */
    int64_t ahead = (int64_t)m->o.record_ttl_s + 1;
    if (ahead > ZT_IDENTITY_RECORD_MAX_AHEAD_S) ahead = ZT_IDENTITY_RECORD_MAX_AHEAD_S;
    h.exp = now_s() + ahead;
    h.rf = clamp_rf(m, b->rf);
    h.withdrawn = true;
    zt_strlcpy(h.name, zt_mesh_name_ok(b->name) ? b->name : "", sizeof h.name);
    /* remembered: a holder record of ours published for it later expires after it */
    size_t w = m->next_withdrawn++ % ZT__MESH_MAX_WITHDRAWN;
    for (size_t i = 0; i < ZT__MESH_MAX_WITHDRAWN; i++)
        if (memcmp(m->withdrawn[i].sha, b->man.file_sha256, 32) == 0) w = i;
    memcpy(m->withdrawn[w].sha, b->man.file_sha256, 32);
    m->withdrawn[w].exp = h.exp;
    char *rec = NULL;
    int rc = zt_mesh_record_sign(m->o.id, &h, &rec);
    if (!rc) rc = zt_dht_put_value(m->dht, "mesh", b->sha_hex, rec, strlen(rec));
    zt_free(rec);
    if (rc) zt_log_rl(ZT_LOG_WARN, 1, "mesh_withdraw_failed", "sha256=%s error=%s", b->sha_hex, zt_strerror(rc));
}

/* b out of the table and the store (its chunks no other blob uses, its
 * manifest, its record: withdrawn); the caller frees it. Under mu. */
static void drop_locked(struct zt_mesh *m, struct zt__blob *b)
{
    withdraw_locked(m, b);
    for (size_t i = 0; i < m->n_blobs; i++)
        if (m->blobs[i] == b) m->blobs[i] = m->blobs[--m->n_blobs];
    for (uint32_t j = 0; j < b->man.n_chunks; j++)
        if (!chunk_shared(m, b, b->man.chunks[j])) zt__mstore_del_chunk(&m->st, b->man.chunks[j]);
    char root[65];
    zt_hex_encode(root, b->man.root, 32);
    zt__mstore_remove(&m->st, "manifests", root);
    zt__mstore_remove(&m->st, "blobs", b->sha_hex);
    atomic_store(&m->chunks_held, held_chunks(m));
}

int zt_mesh_unpin(struct zt_mesh *m, const char *sha)
{
    uint8_t h[32];
    if (!m || !sha || zt_hex_decode_str(h, 32, sha, ZT_HEX_LOWER) != 0) return ZT_EINVAL;
    pthread_mutex_lock(&m->mu);
    struct zt__blob *b = zt__mesh_find(m, h);
    if (b) drop_locked(m, b);
    pthread_mutex_unlock(&m->mu);
    if (!b) return ZT_ENOTFOUND;
    zt_log(ZT_LOG_INFO, "mesh_unpinned", "sha256=%s", b->sha_hex);
    blob_free(b);
    return 0;
}

/* Bytes of the blobs whose chunks are in the store (not installed as a model file). Under mu. */
uint64_t zt__mesh_store_bytes(const struct zt_mesh *m)
{
    uint64_t n = 0;
    for (size_t i = 0; i < m->n_blobs; i++)
        if (!m->blobs[i]->file[0]) n += m->blobs[i]->man.file_size;
    return n;
}

size_t zt__mesh_evict(struct zt_mesh *m)
{
    if (!m->o.max_bytes) return 0;
    size_t dropped = 0;
    pthread_mutex_lock(&m->mu);
    bool pulling = false;
    for (size_t i = 0; i < m->n_pulls && !pulling; i++) pulling = m->pulls[i]->state == ZT__PULL_RUNNING;
    uint64_t bytes = pulling ? 0 : zt__mesh_store_bytes(m);
    while (bytes > m->o.max_bytes) {
        struct zt__blob *lru = NULL;
        for (size_t i = 0; i < m->n_blobs; i++) {
            struct zt__blob *b = m->blobs[i];
            if (!b->pinned && !b->file[0] && (!lru || b->used_ms < lru->used_ms)) lru = b;
        }
        if (!lru) { /* pinned blobs alone are over it */
            zt_log_rl(ZT_LOG_WARN, 3600, "mesh_store_over",
                      "bytes=%llu max_bytes=%llu detail=\"only pinned blobs are left: nothing to evict\"",
                      (unsigned long long)bytes, (unsigned long long)m->o.max_bytes);
            break;
        }
        bytes -= lru->man.file_size;
        drop_locked(m, lru);
        zt_log(ZT_LOG_INFO, "mesh_evicted", "sha256=%s bytes=%llu store_bytes=%llu max_bytes=%llu", lru->sha_hex,
               (unsigned long long)lru->man.file_size, (unsigned long long)bytes,
               (unsigned long long)m->o.max_bytes);
        blob_free(lru);
        dropped++;
    }
    pthread_mutex_unlock(&m->mu);
    return dropped;
}

/* Is chunk h in the store for a blob other than skip (one without a file)? Under mu. */
static bool chunk_stored_for_other(struct zt_mesh *m, const struct zt__blob *skip, const uint8_t h[static 32])
{
    for (size_t i = 0; i < m->n_blobs; i++) {
        const struct zt__blob *b = m->blobs[i];
        if (b == skip || b->file[0]) continue;
        for (uint32_t j = 0; j < b->man.n_chunks; j++)
            if (memcmp(b->man.chunks[j], h, 32) == 0) return true;
    }
    return false;
}

int zt__mesh_use_file(struct zt_mesh *m, const uint8_t sha[static 32], const char *file)
{
    if (!zt_mesh_name_ok(file)) return ZT_EINVAL;
    pthread_mutex_lock(&m->mu);
    struct zt__blob *b = zt__mesh_find(m, sha);
    int rc = !b ? ZT_ENOTFOUND : !file_there(m, file, b->man.file_size) ? ZT_EIO : 0;
    if (!rc && strcmp(b->file, file) != 0) {
        char was[sizeof b->file];
        memcpy(was, b->file, sizeof was);
        zt_strlcpy(b->file, file, sizeof b->file);
        rc = save_blob(m, b); /* durable before the chunks go */
        if (rc) memcpy(b->file, was, sizeof was);
    }
    /* the chunks leave the store (a crash before leaves both copies: harmless) */
    for (uint32_t j = 0; !rc && j < b->man.n_chunks; j++)
        if (!chunk_stored_for_other(m, b, b->man.chunks[j])) zt__mstore_del_chunk(&m->st, b->man.chunks[j]);
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int zt__mesh_chunk_read(struct zt_mesh *m, const uint8_t h[static 32], struct zt_buf *out)
{
    int rc = zt__mstore_get_chunk(&m->st, h, out);
    if (rc != ZT_ENOTFOUND) return rc;
    char path[ZT__MSTORE_PATH + ZT_MESH_NAME_MAX + 2];
    uint64_t off = 0;
    size_t len = 0;
    bool found = false;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_blobs && !found; i++) {
        const struct zt__blob *b = m->blobs[i];
        if (!b->file[0]) continue;
        for (uint32_t j = 0; j < b->man.n_chunks && !found; j++) {
            if (memcmp(b->man.chunks[j], h, 32) != 0) continue;
            found = true;
            off = (uint64_t)j * b->man.chunk_size;
            len = zt_mesh_chunk_len(&b->man, j);
            snprintf(path, sizeof path, "%s/%s", m->models_dir, b->file);
        }
    }
    pthread_mutex_unlock(&m->mu);
    if (!found) return ZT_ENOTFOUND;
    if (len > out->max) return ZT_ETOOBIG;
    uint8_t *buf = zt_malloc(len ? len : 1);
    if (!buf) return ZT_ENOMEM;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    size_t got = 0;
    rc = fd < 0 ? ZT_ENOTFOUND : 0;
    while (!rc && got < len) {
        ssize_t r = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) rc = ZT_ENOTFOUND; /* shorter than its manifest: changed */
        else got += (size_t)r;
    }
    if (fd >= 0) close(fd);
    uint8_t d[32];
    if (!rc) zt_sha256(d, buf, len);
    if (!rc && memcmp(d, h, 32) != 0) { /* the file changed since it was installed: never served */
        zt_log_rl(ZT_LOG_WARN, 60, "mesh_file_changed", "file=%s offset=%llu", path, (unsigned long long)off);
        rc = ZT_ENOTFOUND;
    }
    zt_buf_reset(out);
    if (!rc) rc = zt_buf_append(out, buf, len);
    zt_free(buf);
    return rc;
}

/* ---- Serving ------------------------------------------------------------------- */

bool zt_mesh_serve_allowed(struct zt_mesh *m, const char *caller, unsigned *retry_after_s)
{
    return zt_ratelimit_take(m->limit, caller && caller[0] ? caller : "-", zt_time_mono_ns(), retry_after_s);
}

int zt_mesh_serve_manifest(struct zt_mesh *m, const char *root_hex, struct zt_buf *out)
{
    uint8_t r[32];
    if (!m || !root_hex || zt_hex_decode_str(r, 32, root_hex, ZT_HEX_LOWER) != 0) return ZT_EINVAL;
    /* only verified manifests are stored: a blob held, or one being pulled */
    int rc = zt__mstore_read(&m->st, "manifests", root_hex, ZT_MESH_MANIFEST_MAX, out);
    if (!rc) atomic_fetch_add(&m->manifests_served, 1);
    if (!rc) { /* a peer starts a pull of it: used */
        pthread_mutex_lock(&m->mu);
        for (size_t i = 0; i < m->n_blobs; i++)
            if (memcmp(m->blobs[i]->man.root, r, 32) == 0) m->blobs[i]->used_ms = zt_time_real_ms();
        pthread_mutex_unlock(&m->mu);
    }
    return rc;
}

int zt_mesh_serve_chunk(struct zt_mesh *m, const char *hash_hex, struct zt_buf *out)
{
    uint8_t h[32];
    if (!m || !hash_hex || zt_hex_decode_str(h, 32, hash_hex, ZT_HEX_LOWER) != 0) return ZT_EINVAL;
    int rc = zt__mesh_chunk_read(m, h, out);
    if (!rc) {
        atomic_fetch_add(&m->chunks_served, 1);
        atomic_fetch_add(&m->bytes_served, out->len);
    }
    return rc;
}

int zt_mesh_read_blob(struct zt_mesh *m, const char *sha_hex, size_t max, struct zt_buf *out)
{
    uint8_t sha[32];
    if (!m || !sha_hex || !out || zt_hex_decode_str(sha, 32, sha_hex, ZT_HEX_LOWER) != 0) return ZT_EINVAL;
    pthread_mutex_lock(&m->mu);
    struct zt__blob *b = zt__mesh_find(m, sha);
    if (b) b->used_ms = zt_time_real_ms();
    uint32_t n = b ? b->man.n_chunks : 0;
    uint64_t size = b ? b->man.file_size : 0;
    uint8_t(*hs)[32] = n ? zt_malloc((size_t)n * 32) : NULL;
    if (hs) memcpy(hs, b->man.chunks, (size_t)n * 32);
    pthread_mutex_unlock(&m->mu);
    if (!b) return ZT_ENOTFOUND;
    if (!hs) return ZT_ENOMEM;
    int rc = size > max ? ZT_ETOOBIG : 0;
    struct zt_buf chunk;
    zt_buf_init(&chunk, ZT_MESH_FRAME_HEADER + ZT_MESH_CHUNK_SIZE); /* a whole chunk's frame is read first */
    zt_buf_reset(out);
    for (uint32_t i = 0; i < n && !rc; i++) {
        rc = zt__mesh_chunk_read(m, hs[i], &chunk);
        if (!rc) rc = zt_buf_append(out, chunk.data, chunk.len);
    }
    uint8_t got[32];
    if (!rc) zt_sha256(got, out->data, out->len);
    if (!rc && (out->len != size || memcmp(got, sha, 32) != 0)) rc = ZT_ECRYPTO;
    zt_buf_deinit(&chunk);
    zt_free(hs);
    return rc;
}

/* ---- Status -------------------------------------------------------------------- */

static const char *const pull_states[] = {"running", "done", "failed"};

static json_t *pull_json(const struct zt__pull *p)
{
    json_t *o = json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:b}", "sha256", p->sha_hex, "state", pull_states[p->state],
                          "name", p->name, "have", (json_int_t)p->have, "total", (json_int_t)p->total, "bad_chunks",
                          (json_int_t)p->bad, "holders", (json_int_t)p->holders, "install", p->install);
    if (o && p->why[0]) json_object_set_new(o, "error", json_string(p->why));
    if (o && p->ended_ms) json_object_set_new(o, "seconds", json_real((double)(p->ended_ms - p->started_ms) / 1e3));
    return o;
}

static int dump(json_t *o, char **out)
{
    if (!o) return ZT_ENOMEM;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (!s) return ZT_ENOMEM;
    size_t n = strlen(s);
    *out = zt_malloc(n + 1);
    if (*out) memcpy(*out, s, n + 1);
    json_text_free(s);
    return *out ? 0 : ZT_ENOMEM;
}

int zt_mesh_status_json(struct zt_mesh *m, char **out)
{
    json_t *o = json_object(), *pulls = json_array(), *peers = json_array();
    pthread_mutex_lock(&m->mu);
    uint64_t bytes = 0;
    for (size_t i = 0; i < m->n_blobs; i++) bytes += m->blobs[i]->man.file_size;
    uint64_t in_store = zt__mesh_store_bytes(m);
    for (size_t i = 0; i < m->n_pulls; i++) json_array_append_new(pulls, pull_json(m->pulls[i]));
    for (size_t i = 0; i < m->n_scores; i++)
        json_array_append_new(peers, json_pack("{s:s,s:f}", "node_id", m->scores[i].node_id, "score",
                                               m->scores[i].score));
    json_t *r = json_pack(
        "{s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:i,s:i}", "node_id", zt_identity_id(m->o.id), "dht",
        m->dht != NULL, "blobs", (json_int_t)m->n_blobs, "bytes_held", (json_int_t)bytes, "chunks_held",
        (json_int_t)atomic_load(&m->chunks_held), "chunks_served", (json_int_t)atomic_load(&m->chunks_served),
        "chunks_fetched", (json_int_t)atomic_load(&m->chunks_fetched), "bad_chunks",
        (json_int_t)atomic_load(&m->bad_chunks), "bytes_served", (json_int_t)atomic_load(&m->bytes_served),
        "replicas_asked", (json_int_t)atomic_load(&m->replicas_asked), "replication", (int)m->o.replication,
        "record_ttl_s", (int)m->o.record_ttl_s);
    if (r) {
        json_object_set_new(r, "store_bytes", json_integer((json_int_t)in_store));
        json_object_set_new(r, "max_store_bytes", json_integer((json_int_t)m->o.max_bytes));
    }
    pthread_mutex_unlock(&m->mu);
    if (r && o) json_object_update(o, r);
    json_decref(r);
    if (o && pulls) json_object_set(o, "pulls", pulls);
    if (o && peers) json_object_set(o, "peers", peers);
    json_decref(pulls);
    json_decref(peers);
    return dump(o, out);
}

int zt_mesh_list_json(struct zt_mesh *m, char **out)
{
    json_t *arr = json_array();
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_blobs && arr; i++) {
        const struct zt__blob *b = m->blobs[i];
        char root[65];
        zt_hex_encode(root, b->man.root, 32);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:I,s:I,s:b,s:i,s:i}", "sha256", b->sha_hex, "root", root,
                                             "name", b->name, "size", (json_int_t)b->man.file_size, "chunks",
                                             (json_int_t)b->man.n_chunks, "pinned", b->pinned, "rf", (int)b->rf,
                                             "holders", (int)b->holders));
    }
    pthread_mutex_unlock(&m->mu);
    return dump(json_pack("{s:o*}", "blobs", arr), out);
}

int zt_mesh_pull_json(struct zt_mesh *m, const char *sha, char **out)
{
    json_t *o = NULL;
    pthread_mutex_lock(&m->mu);
    for (size_t i = 0; i < m->n_pulls && !o; i++)
        if (strcmp(m->pulls[i]->sha_hex, sha) == 0) o = pull_json(m->pulls[i]);
    uint8_t h[32];
    if (!o && zt_hex_decode_str(h, 32, sha, ZT_HEX_LOWER) == 0 && zt__mesh_find(m, h)) {
        struct zt__blob *b = zt__mesh_find(m, h);
        o = json_pack("{s:s,s:s,s:s,s:I,s:I}", "sha256", b->sha_hex, "state", "done", "name", b->name, "have",
                      (json_int_t)b->man.n_chunks, "total", (json_int_t)b->man.n_chunks);
    }
    pthread_mutex_unlock(&m->mu);
    if (!o) return ZT_ENOTFOUND;
    return dump(o, out);
}

/* ---- Pulls ---------------------------------------------------------------------- */

static int pull_start(struct zt_mesh *m, const char *sha, const char *name, bool install, unsigned rf, bool replica)
{
    uint8_t h[32];
    if (!m || !sha || zt_hex_decode_str(h, 32, sha, ZT_HEX_LOWER) != 0 || (name && name[0] && !zt_mesh_name_ok(name)))
        return ZT_EINVAL;
    pthread_mutex_lock(&m->mu);
    int rc = 0;
    struct zt__pull *p = NULL;
    size_t slot = m->n_pulls;
    for (size_t i = 0; i < m->n_pulls; i++) {
        if (strcmp(m->pulls[i]->sha_hex, sha) != 0) continue;
        if (m->pulls[i]->state == ZT__PULL_RUNNING) {
            if (install) m->pulls[i]->install = true; /* joined: the running pull also installs */
            if (!replica) m->pulls[i]->replica = false; /* wanted here now: not a replica's bound */
            goto out;
        }
        slot = i; /* ended: replaced by this one */
    }
    if (m->stop) {
        rc = ZT_ECLOSED;
        goto out;
    }
    if (slot == m->n_pulls && m->n_pulls == ZT__MESH_MAX_PULLS) { /* reuse the oldest ended one */
        for (size_t i = 0; i < m->n_pulls && slot == m->n_pulls; i++)
            if (m->pulls[i]->state != ZT__PULL_RUNNING) slot = i;
        if (slot == m->n_pulls) {
            rc = ZT_EBUSY;
            goto out;
        }
    }
    p = zt_calloc(1, sizeof *p);
    if (!p) {
        rc = ZT_ENOMEM;
        goto out;
    }
    p->m = m;
    zt_strlcpy(p->sha_hex, sha, sizeof p->sha_hex);
    zt_strlcpy(p->name, name ? name : "", sizeof p->name);
    p->install = install;
    p->replica = replica;
    p->rf = rf;
    p->started_ms = zt_time_mono_ms();
    if (pthread_create(&p->th, NULL, zt__mesh_pull_main, p) != 0) {
        zt_free(p);
        rc = ZT_ENOMEM;
        goto out;
    }
    if (slot < m->n_pulls) {
        struct zt__pull *old = m->pulls[slot];
        m->pulls[slot] = p;
        bool join = !old->joined;
        old->joined = true;
        pthread_mutex_unlock(&m->mu);
        if (join) pthread_join(old->th, NULL); /* ended: returns at once */
        zt_free(old);
        return 0;
    }
    m->pulls[m->n_pulls++] = p;
out:
    pthread_mutex_unlock(&m->mu);
    return rc;
}

int zt_mesh_pull(struct zt_mesh *m, const char *sha, const char *name, bool install, unsigned rf)
{
    return pull_start(m, sha, name, install, rf, false);
}

int zt_mesh_want(struct zt_mesh *m, const char *sha)
{
    uint8_t h[32];
    if (!m || !sha || zt_hex_decode_str(h, 32, sha, ZT_HEX_LOWER) != 0) return ZT_EINVAL;
    pthread_mutex_lock(&m->mu);
    int rc = 0;
    /* held and installed already (a restart, a join again): only the hook */
    struct zt__blob *b = zt__mesh_find(m, h);
    char name[ZT_MESH_NAME_MAX + 1] = "";
    uint64_t size = 0;
    if (b && b->file[0] && m->installed) {
        zt_strlcpy(name, b->file, sizeof name);
        size = b->man.file_size;
    }
    pthread_mutex_unlock(&m->mu);
    if (name[0]) {
        char path[ZT__MSTORE_PATH + ZT_MESH_NAME_MAX + 2];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", m->models_dir, name);
        if (stat(path, &st) == 0 && (uint64_t)st.st_size == size) {
            m->installed(m->installed_ud, sha, name);
            return 0;
        }
    }
    pthread_mutex_lock(&m->mu);
    bool have = false;
    for (size_t i = 0; i < m->n_wanted && !have; i++) have = strcmp(m->wanted[i], sha) == 0;
    if (!have && m->n_wanted == sizeof m->wanted / sizeof m->wanted[0]) rc = ZT_ETOOBIG;
    else if (!have) zt_strlcpy(m->wanted[m->n_wanted++], sha, sizeof m->wanted[0]);
    pthread_mutex_unlock(&m->mu);
    if (!rc) zt_ignore(zt_mesh_pull(m, sha, NULL, true, 0)); /* the thread retries */
    return rc;
}

/* Pull what is wanted and not held (nor being pulled); forget what is held. Under mu. */
static void retry_wanted(struct zt_mesh *m)
{
    for (size_t i = 0; i < m->n_wanted;) {
        uint8_t h[32];
        zt_ignore(zt_hex_decode_str(h, 32, m->wanted[i], ZT_HEX_LOWER));
        if (zt__mesh_find(m, h)) {
            memcpy(m->wanted[i], m->wanted[--m->n_wanted], sizeof m->wanted[0]);
            continue;
        }
        bool running = false;
        for (size_t k = 0; k < m->n_pulls && !running; k++)
            running = strcmp(m->pulls[k]->sha_hex, m->wanted[i]) == 0 && m->pulls[k]->state == ZT__PULL_RUNNING;
        if (!running) {
            char sha[65];
            memcpy(sha, m->wanted[i], sizeof sha);
            pthread_mutex_unlock(&m->mu);
            zt_ignore(zt_mesh_pull(m, sha, NULL, true, 0));
            pthread_mutex_lock(&m->mu);
        }
        i++;
    }
}

int zt_mesh_offer(struct zt_mesh *m, const char *sha, unsigned rf)
{
    uint8_t h[32];
    if (!m || !sha || zt_hex_decode_str(h, 32, sha, ZT_HEX_LOWER) != 0) return ZT_EINVAL;
    if (!m->o.accept_replicas) return ZT_EPERM;
    pthread_mutex_lock(&m->mu);
    /* the bound counts what is in the store and what replica pulls under
     * way will add (their manifests' chunks); a replica pull whose manifest
     * is not read yet has no size: no other offer is taken until it has
     * one (503, asked again later), so a burst of offers goes past the
     * bound by one blob at most, not by one per offer */
    uint64_t bytes = zt__mesh_store_bytes(m);
    bool unsized = false;
    for (size_t i = 0; i < m->n_pulls; i++) {
        const struct zt__pull *p = m->pulls[i];
        if (p->state != ZT__PULL_RUNNING || p->install) continue;
        if (!p->total) unsized = true;
        else bytes += (uint64_t)(p->total - p->have) * ZT_MESH_CHUNK_SIZE;
    }
    bool held = zt__mesh_find(m, h) != NULL;
    pthread_mutex_unlock(&m->mu);
    if (held) return 0;
    if (m->o.max_bytes && bytes >= m->o.max_bytes) return ZT_ETOOBIG;
    if (m->o.max_bytes && unsized) return ZT_EBUSY;
    return pull_start(m, sha, NULL, false, rf, true);
}

int zt_mesh_pull_wait(struct zt_mesh *m, const char *sha, const char *name, bool install, unsigned timeout_ms,
                      char *why, size_t why_len)
{
    int rc = zt_mesh_pull(m, sha, name, install, 0);
    if (rc) return rc;
    struct timespec until = zt_time_after_ms(CLOCK_MONOTONIC, timeout_ms);
    pthread_mutex_lock(&m->mu);
    for (;;) {
        struct zt__pull *p = NULL;
        for (size_t i = 0; i < m->n_pulls && !p; i++)
            if (strcmp(m->pulls[i]->sha_hex, sha) == 0) p = m->pulls[i];
        if (!p) {
            rc = ZT_ENOTFOUND;
            break;
        }
        if (p->state != ZT__PULL_RUNNING) {
            rc = p->rc;
            if (why) zt_strlcpy(why, p->why, why_len);
            break;
        }
        if (pthread_cond_timedwait(&m->cv, &m->mu, &until) != 0) {
            rc = ZT_ETIMEDOUT;
            break;
        }
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

/* ---- Records and repair --------------------------------------------------------- */

void zt__mesh_publish(struct zt_mesh *m, const struct zt_mesh_manifest *man, const char *name, unsigned rf,
                      bool partial, int64_t now)
{
    struct zt_mesh_holder h;
    memset(&h, 0, sizeof h);
    h.exp = now + m->o.record_ttl_s;
    pthread_mutex_lock(&m->mu);
    struct zt_dht *dht = m->dht;
    zt_strlcpy(h.endpoint, m->endpoint, sizeof h.endpoint);
    /* held again soon after a withdrawal of ours (evicted and re-pulled,
     * unpinned and added): a second past it, or readers would keep the
     * withdrawal (it wins a tie) until our next republish (review8 F9);
     * never past what readers accept */
    for (size_t i = 0; i < ZT__MESH_MAX_WITHDRAWN; i++)
        if (m->withdrawn[i].exp >= h.exp && memcmp(m->withdrawn[i].sha, man->file_sha256, 32) == 0)
            h.exp = m->withdrawn[i].exp + 1;
    if (h.exp > now + ZT_IDENTITY_RECORD_MAX_AHEAD_S) h.exp = now + ZT_IDENTITY_RECORD_MAX_AHEAD_S;
    pthread_mutex_unlock(&m->mu);
    if (!dht || !h.endpoint[0]) return;
    memcpy(h.root, man->root, 32);
    memcpy(h.sha256, man->file_sha256, 32);
    h.size = man->file_size;
    h.rf = clamp_rf(m, rf);
    h.partial = partial;
    zt_strlcpy(h.name, name && zt_mesh_name_ok(name) ? name : "", sizeof h.name);
    char *rec = NULL, hex[65];
    zt_hex_encode(hex, man->file_sha256, 32);
    int rc = zt_mesh_record_sign(m->o.id, &h, &rec);
    if (!rc) rc = zt_dht_put_value(dht, "mesh", hex, rec, strlen(rec));
    zt_free(rec);
    if (rc) zt_log_rl(ZT_LOG_WARN, 1, "mesh_publish_failed", "sha256=%s error=%s", hex, zt_strerror(rc));
}

/* Peers ordered for a blob: by SHA-256(root || node id), so that every
 * holder picks the same replacement. */
struct cand {
    uint8_t key[32];
    struct zt_peer p;
};

static int cand_cmp(const void *a, const void *b)
{
    return memcmp(((const struct cand *)a)->key, ((const struct cand *)b)->key, 32);
}

static void repair_one(struct zt_mesh *m, struct zt__blob *snap, int64_t now)
{
    struct zt_mesh_holder *hs = zt_calloc(ZT__MESH_MAX_HOLDERS, sizeof *hs);
    struct cand *cs = zt_calloc(256, sizeof *cs);
    struct zt_peer *ps = zt_calloc(256, sizeof *ps);
    if (!hs || !cs || !ps) goto out;
    size_t n = zt__mesh_holders(m, snap->sha, hs, ZT__MESH_MAX_HOLDERS);
    const char *self = zt_identity_id(m->o.id);
    size_t live = 1, coming = 0; /* us; replicas under way */
    bool lowest = true;
    for (size_t i = 0; i < n; i++) {
        if (memcmp(hs[i].root, snap->man.root, 32) != 0 || hs[i].partial) continue;
        live++;
        if (strcmp(hs[i].node_id, self) < 0) lowest = false;
    }
    pthread_mutex_lock(&m->mu);
    struct zt__blob *b = zt__mesh_find(m, snap->sha);
    if (b) b->holders = (unsigned)live;
    /* a partial holder (pulling it: a holder soon) counts only if it is a
     * peer we asked, for PULL_GRACE_S after the last ask: anyone can
     * publish a partial record, and one that counted would stop this
     * blob's repair for good (review7 F2) */
    for (size_t i = 0; b && now - b->asked_at < PULL_GRACE_S && i < n; i++) {
        if (!hs[i].partial || memcmp(hs[i].root, snap->man.root, 32) != 0) continue;
        for (size_t a = 0; a < sizeof b->asked / sizeof b->asked[0]; a++)
            if (b->asked[a][0] && strcmp(hs[i].node_id, b->asked[a]) == 0) {
                coming++;
                break;
            }
    }
    /* peers asked lately that are in no record yet (a pull advertises
     * itself once it has the manifest): asked again would over-replicate */
    for (size_t a = 0; b && now - b->asked_at < ASK_GRACE_S && a < sizeof b->asked / sizeof b->asked[0]; a++) {
        if (!b->asked[a][0]) continue;
        bool seen = false, arrived = false;
        for (size_t i = 0; i < n && !seen; i++)
            if (strcmp(hs[i].node_id, b->asked[a]) == 0) {
                seen = true;
                arrived = !hs[i].partial && memcmp(hs[i].root, snap->man.root, 32) == 0;
            }
        if (arrived) b->asked[a][0] = '\0'; /* a holder now: counted live while its record lasts */
        coming += !seen;
    }
    pthread_mutex_unlock(&m->mu);
    if (live + coming >= snap->rf || !lowest || !m->o.peers) goto out;
    size_t np = zt_peers_list(m->o.peers, ps, 256), nc = 0;
    for (size_t i = 0; i < np; i++) {
        bool holds = strcmp(ps[i].node_id, self) == 0; /* a partial holder is pulling it already */
        for (size_t j = 0; j < n && !holds; j++) holds = strcmp(hs[j].node_id, ps[i].node_id) == 0;
        if (holds || ps[i].expires <= now || zt_mesh_peer_score(m, ps[i].node_id) < 0) continue;
        uint8_t buf[32 + ZT_IDENTITY_ID_SIZE];
        memcpy(buf, snap->man.root, 32);
        size_t il = strlen(ps[i].node_id);
        memcpy(buf + 32, ps[i].node_id, il);
        zt_sha256(cs[nc].key, buf, 32 + il);
        cs[nc++].p = ps[i];
    }
    qsort(cs, nc, sizeof *cs, cand_cmp);
    char body[160];
    snprintf(body, sizeof body, "{\"sha256\":\"%s\",\"rf\":%u}", snap->sha_hex, snap->rf);
    size_t want = snap->rf - live - coming, n_asked = 0;
    char asked[4][ZT_IDENTITY_ID_SIZE] = {{0}};
    for (size_t i = 0; i < nc && want; i++) {
        long st = zt__mesh_post(m, cs[i].p.node_id, cs[i].p.endpoint, "/v1/mesh/replicate", body);
        zt_log(ZT_LOG_INFO, "mesh_replica_asked", "sha256=%s peer=%s status=%ld holders=%zu rf=%u", snap->sha_hex,
               cs[i].p.node_id, st, live, snap->rf);
        atomic_fetch_add(&m->replicas_asked, 1);
        if (st != 202 && st != 200) continue;
        want--;
        if (n_asked < 4) zt_strlcpy(asked[n_asked++], cs[i].p.node_id, sizeof asked[0]);
    }
    if (n_asked) {
        pthread_mutex_lock(&m->mu);
        b = zt__mesh_find(m, snap->sha);
        if (b) {
            memcpy(b->asked, asked, sizeof b->asked);
            b->asked_at = now;
        }
        pthread_mutex_unlock(&m->mu);
    }
out:
    zt_free(hs);
    zt_free(cs);
    zt_free(ps);
}

static void *mesh_main(void *arg)
{
    struct zt_mesh *m = arg;
    int64_t next_repair = now_s() + 1, next_flush = 0;
    struct zt__blob *snap = zt_calloc(1, sizeof *snap);
    pthread_mutex_lock(&m->mu);
    while (!m->stop && snap) {
        int64_t now = now_s();
        if (now >= next_flush) { /* scores written, the store's bound kept: at most once a second */
            next_flush = now + 1;
            pthread_mutex_unlock(&m->mu);
            zt__mesh_scores_flush(m);
            zt_ignore(zt__mesh_evict(m));
            pthread_mutex_lock(&m->mu);
            continue;
        }
        /* republish what is due, one at a time outside the lock */
        struct zt__blob *due = NULL;
        for (size_t i = 0; i < m->n_blobs && !due; i++)
            if (m->blobs[i]->next_publish <= now) due = m->blobs[i];
        if (due && m->dht) {
            due->next_publish = now + (m->o.record_ttl_s / 3 ? m->o.record_ttl_s / 3 : 1);
            struct zt__blob copy = *due;
            pthread_mutex_unlock(&m->mu);
            zt__mesh_publish(m, &copy.man, copy.name, copy.rf, false, now);
            pthread_mutex_lock(&m->mu);
            continue;
        }
        if (now >= next_repair && m->dht) {
            next_repair = now + m->o.repair_interval_s;
            retry_wanted(m);
            for (size_t i = 0; i < m->n_blobs && !m->stop; i++) {
                /* a snapshot of what repair needs (the manifest's chunks are not) */
                *snap = *m->blobs[i];
                snap->man.chunks = NULL;
                pthread_mutex_unlock(&m->mu);
                repair_one(m, snap, now);
                pthread_mutex_lock(&m->mu);
            }
            continue;
        }
        struct timespec t = zt_time_after_ms(CLOCK_MONOTONIC, 250);
        pthread_cond_timedwait(&m->cv, &m->mu, &t);
    }
    pthread_mutex_unlock(&m->mu);
    zt_free(snap);
    return NULL;
}

int zt_mesh_start(struct zt_mesh *m, struct zt_dht *dht, const char *endpoint)
{
    if (!m) return ZT_EINVAL;
    pthread_mutex_lock(&m->mu);
    int rc = m->started ? ZT_EEXIST : 0;
    if (!rc) {
        m->dht = dht;
        zt_strlcpy(m->endpoint, endpoint ? endpoint : "", sizeof m->endpoint);
        rc = pthread_create(&m->th, NULL, mesh_main, m) == 0 ? 0 : ZT_ENOMEM;
        m->started = rc == 0;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}
