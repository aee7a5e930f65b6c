/* attest.c: software attestation reports: build, sign, verify; the hashes
 * of the files a report lists, kept while the files stay the same. See
 * zt_attest.h and docs/privacy/ATTESTATION.md. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json_doc.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_attest.h"
#include "zentalk/zt_crypto.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_str.h"

static const char *const report_keys[] = {"v",      "type",   "node_id",   "ed25519_pk",
                                          "kem_pk", "nonce",  "binary_sha256", "engine",
                                          "models", "issued_at", "evidence", "sig", NULL};

static bool nonce_ok(const char *s, bool lower_only)
{
    if (!s) return false;
    size_t n = strnlen(s, 2 * ZT_ATTEST_NONCE_MAX + 1);
    if (n < 2 * ZT_ATTEST_NONCE_MIN || n > 2 * ZT_ATTEST_NONCE_MAX) return false;
    return zt_hex_valid(s, n, lower_only ? ZT_HEX_LOWER : ZT_HEX_ANY_CASE);
}

bool zt_attest_nonce_valid(const char *s)
{
    return nonce_ok(s, false);
}

static bool good_str(const char *s)
{
    if (!s) return false;
    size_t n = strnlen(s, ZT_ATTEST_MAX_STR + 1);
    return n > 0 && n <= ZT_ATTEST_MAX_STR && zt_utf8_valid(s, n);
}

static json_t *hex_string(const uint8_t *p, size_t n)
{
    char hex[2 * ZT_ED25519_SIG_LEN + 1];
    if (2 * n + 1 > sizeof hex) return NULL;
    sodium_bin2hex(hex, sizeof hex, p, n);
    return json_string(hex);
}


/* ---- Build ------------------------------------------------------------------ */

static json_t *models_json(const struct zt_attest_model *m, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *o = json_object();
        if (!o || json_object_set_new(o, "id", json_string(m[i].id)) != 0 ||
            json_object_set_new(o, "sha256", hex_string(m[i].sha256, ZT_SHA256_LEN)) != 0) {
            json_decref(o);
            json_decref(a);
            return NULL;
        }
        if (json_array_append_new(a, o) != 0) { /* o is released on failure too */
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

int zt_attest_report(const struct zt_identity *id, const struct zt_attest_claims *c, char **out)
{
    if (!id || !c || !out || !nonce_ok(c->nonce_hex, false) || !good_str(c->engine) ||
        c->n_models > ZT_ATTEST_MAX_MODELS || (c->n_models && !c->models) || c->issued_at < 0)
        return ZT_EINVAL;
    for (size_t i = 0; i < c->n_models; i++)
        if (!good_str(c->models[i].id)) return ZT_EINVAL;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    char nonce[ZT_ATTEST_NONCE_HEX_SIZE];
    zt_strlcpy(nonce, c->nonce_hex, sizeof nonce);
    for (char *p = nonce; *p; p++)
        if (*p >= 'A' && *p <= 'F') *p = (char)(*p - 'A' + 'a');

    int rc = ZT_ENOMEM;
    json_t *j = json_object();
    json_t *jm = models_json(c->models, c->n_models);
    if (!j || !jm) goto out;
    if (json_object_set_new(j, "v", json_integer(ZT_ATTEST_VERSION)) != 0 ||
        json_object_set_new(j, "type", json_string("software")) != 0 ||
        json_object_set_new(j, "node_id", json_string(zt_identity_id(id))) != 0 ||
        json_object_set_new(j, "ed25519_pk", hex_string(zt_identity_sign_pk(id), ZT_ED25519_PK_LEN)) != 0 ||
        json_object_set_new(j, "kem_pk", hex_string(zt_identity_kem_pk(id), ZT_X25519_LEN)) != 0 ||
        json_object_set_new(j, "nonce", json_string(nonce)) != 0 ||
        json_object_set_new(j, "binary_sha256", hex_string(c->binary_sha256, ZT_SHA256_LEN)) != 0 ||
        json_object_set_new(j, "engine", json_string(c->engine)) != 0 ||
        json_object_set(j, "models", jm) != 0 ||
        json_object_set_new(j, "issued_at", json_integer((json_int_t)c->issued_at)) != 0 ||
        json_object_set_new(j, "evidence", json_array()) != 0)
        goto out;
    rc = zt_identity_sign_json(id, j, ZT_ATTEST_MAX, out); /* *out only on success */
out:
    json_decref(jm);
    json_decref(j);
    return rc;
}

/* ---- Verify ----------------------------------------------------------------- */

void zt_attest_report_deinit(struct zt_attest_report *r)
{
    if (!r) return;
    for (size_t i = 0; r->models && i < r->n_models; i++) zt_free(r->models[i].id);
    zt_free(r->models);
    zt_free(r->engine);
    memset(r, 0, sizeof *r);
}

/* models: [{"id":str,"sha256":hex}...] with exactly those keys. */
static int check_models(json_t *a)
{
    if (!json_is_array(a) || json_array_size(a) > ZT_ATTEST_MAX_MODELS) return ZT_EPARSE;
    size_t i;
    json_t *m;
    uint8_t h[ZT_SHA256_LEN];
    json_array_foreach(a, i, m) {
        if (!json_is_object(m) || json_object_size(m) != 2 ||
            !good_str(json_string_value(json_object_get(m, "id"))) ||
            zt_hex_decode_str(h, sizeof h, json_string_value(json_object_get(m, "sha256")), ZT_HEX_LOWER) != 0)
            return ZT_EPARSE;
    }
    return 0;
}

/* evidence: up to ZT_ATTEST_MAX_EVIDENCE {"type":str,"quote":str} objects. */
static int check_evidence(json_t *a)
{
    if (!json_is_array(a) || json_array_size(a) > ZT_ATTEST_MAX_EVIDENCE) return ZT_EPARSE;
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e) {
        if (!json_is_object(e) || json_object_size(e) != 2 ||
            !good_str(json_string_value(json_object_get(e, "type"))) ||
            !json_is_string(json_object_get(e, "quote")))
            return ZT_EPARSE;
    }
    return 0;
}

static int copy_models(json_t *a, struct zt_attest_report *r)
{
    size_t n = json_array_size(a);
    if (n == 0) return 0;
    r->models = zt_calloc(n, sizeof *r->models);
    if (!r->models) return ZT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        json_t *m = json_array_get(a, i);
        r->models[i].id = zt_strdup(json_string_value(json_object_get(m, "id")));
        if (!r->models[i].id) return ZT_ENOMEM;
        r->n_models = i + 1;
        if (zt_hex_decode_str(r->models[i].sha256, ZT_SHA256_LEN, json_string_value(json_object_get(m, "sha256")), ZT_HEX_LOWER) != 0)
            return ZT_EPARSE;
    }
    return 0;
}

static bool hex_eq_nocase(const char *a, const char *b)
{
    size_t n = strlen(a);
    if (n != strlen(b)) return false;
    for (size_t i = 0; i < n; i++) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'F') x = (char)(x - 'A' + 'a');
        if (y >= 'A' && y <= 'F') y = (char)(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

int zt_attest_verify(const char *json, size_t len, const char *expected_nonce_hex,
                     struct zt_attest_report *out)
{
    if (!json) return ZT_EINVAL;
    if (len > ZT_ATTEST_MAX) return ZT_ETOOBIG;
    if (zt_crypto_init() != 0) return ZT_ECRYPTO;
    int rc;
    json_t *j = NULL;
    uint8_t sig[ZT_ED25519_SIG_LEN];
    struct zt_attest_report r;
    memset(&r, 0, sizeof r);
    if ((rc = zt__json_doc_load(json, len, &j, NULL)) != 0) goto out;
    if ((rc = zt__json_doc_shape(j, report_keys, ZT_ATTEST_VERSION)) != 0) goto out;
    rc = ZT_EPARSE;
    const char *type = json_string_value(json_object_get(j, "type"));
    const char *node_id = json_string_value(json_object_get(j, "node_id"));
    const char *nonce = json_string_value(json_object_get(j, "nonce"));
    const char *engine = json_string_value(json_object_get(j, "engine"));
    json_t *jissued = json_object_get(j, "issued_at");
    json_t *jmodels = json_object_get(j, "models"), *jev = json_object_get(j, "evidence");
    if (!type || !zt_identity_id_valid(node_id) || !nonce_ok(nonce, true) || !good_str(engine) ||
        !json_is_integer(jissued) || json_integer_value(jissued) < 0 || check_models(jmodels) != 0 ||
        check_evidence(jev) != 0 ||
        zt_hex_decode_str(r.ed25519_pk, sizeof r.ed25519_pk, json_string_value(json_object_get(j, "ed25519_pk")), ZT_HEX_LOWER) != 0 ||
        zt_hex_decode_str(r.kem_pk, sizeof r.kem_pk, json_string_value(json_object_get(j, "kem_pk")), ZT_HEX_LOWER) != 0 ||
        zt_hex_decode_str(r.binary_sha256, sizeof r.binary_sha256, json_string_value(json_object_get(j, "binary_sha256")), ZT_HEX_LOWER) != 0 ||
        zt_hex_decode_str(sig, sizeof sig, json_string_value(json_object_get(j, "sig")), ZT_HEX_LOWER) != 0)
        goto out;
    if (strcmp(type, "software") != 0) {
        /* tdx, sev-snp, nvidia-cc: the format has room, this verifier cannot check them */
        rc = ZT_EUNSUPPORTED;
        goto out;
    }
    if (json_array_size(jev) != 0) goto out; /* a software report carries no evidence */
    if ((rc = zt__json_doc_signed_by(j, r.ed25519_pk, node_id, r.node_id, ZT_ATTEST_MAX)) != 0) goto out;
    if (expected_nonce_hex && !hex_eq_nocase(nonce, expected_nonce_hex)) {
        rc = ZT_ETIMEDOUT;
        goto out;
    }
    if (out) {
        zt_strlcpy(r.type, type, sizeof r.type);
        zt_strlcpy(r.nonce, nonce, sizeof r.nonce);
        r.issued_at = (int64_t)json_integer_value(jissued);
        rc = ZT_ENOMEM;
        r.engine = zt_strdup(engine);
        if (!r.engine) goto out;
        if ((rc = copy_models(jmodels, &r)) != 0) goto out;
        *out = r;
        memset(&r, 0, sizeof r);
    }
    rc = 0;
out:
    zt_attest_report_deinit(&r);
    json_decref(j);
    return rc;
}

/* ---- file hashes ---------------------------------------------------------- */

int zt_attest_self_sha256(uint8_t out[static ZT_SHA256_LEN])
{
    return zt_sha256_file("/proc/self/exe", out);
}

/* ---- file hashes kept -------------------------------------------------------- */

/* The kept hash of one file, keyed on what a change to it changes: a
 * write moves mtime and ctime; `cp -p` or `touch -r` can put mtime back,
 * never ctime; a file renamed over it has another inode (or device). */
struct file_hash {
    bool valid;
    off_t size;
    dev_t dev;
    ino_t ino;
    struct timespec mtime, ctime;
    uint8_t sha256[ZT_SHA256_LEN];
};

struct zt_attest_hashes {
    pthread_mutex_t mu; /* guards slot */
    struct file_hash *slot;
    size_t n;
};

int zt_attest_hashes_new(size_t n, struct zt_attest_hashes **out)
{
    struct zt_attest_hashes *h = zt_calloc(1, sizeof *h);
    if (!h) return ZT_ENOMEM;
    h->n = n;
    if (n && !(h->slot = zt_calloc(n, sizeof *h->slot))) {
        zt_free(h);
        return ZT_ENOMEM;
    }
    pthread_mutex_init(&h->mu, NULL);
    *out = h;
    return 0;
}

void zt_attest_hashes_free(struct zt_attest_hashes *h)
{
    if (!h) return;
    pthread_mutex_destroy(&h->mu);
    zt_free(h->slot);
    zt_free(h);
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool same_file(const struct file_hash *f, const struct stat *st)
{
    return f->valid && f->size == st->st_size && f->dev == st->st_dev && f->ino == st->st_ino &&
           same_time(&f->mtime, &st->st_mtim) && same_time(&f->ctime, &st->st_ctim);
}

/* The file clock's tick, with room: ctime comes from the kernel's coarse
 * clock (1-10 ms a tick, by CONFIG_HZ), so two writes within one tick
 * leave the same ctime. */
#define CTIME_TICK_NS 20000000LL

/* Whether a hash taken of st (stat'ed at t0, the same file after hashing)
 * may be kept: a write during the hash changed the key, or, when it fell
 * in the tick of the file's last change, could have left it unchanged
 * ("racy git"; review8 F12): a file changed within a tick of t0 is hashed
 * again next time. */
static bool may_keep(const struct stat *st, const struct stat *after, const struct timespec *t0)
{
    if (st->st_size != after->st_size || st->st_dev != after->st_dev || st->st_ino != after->st_ino ||
        !same_time(&st->st_mtim, &after->st_mtim) || !same_time(&st->st_ctim, &after->st_ctim))
        return false;
    long long c = (long long)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec;
    long long t = (long long)t0->tv_sec * 1000000000LL + t0->tv_nsec;
    return c < t - CTIME_TICK_NS;
}

int zt_attest_hashes_get(struct zt_attest_hashes *h, size_t slot, const char *path, uint8_t out[static ZT_SHA256_LEN],
                         int64_t *hashed_bytes)
{
    *hashed_bytes = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ZT_EIO;
    struct stat st, after;
    struct timespec t0;
    clock_gettime(CLOCK_REALTIME, &t0); /* the file times' clock */
    if (fstat(fd, &st) != 0) {
        close(fd);
        return ZT_EIO;
    }
    pthread_mutex_lock(&h->mu);
    bool hit = slot < h->n && same_file(&h->slot[slot], &st);
    if (hit) memcpy(out, h->slot[slot].sha256, ZT_SHA256_LEN);
    pthread_mutex_unlock(&h->mu);
    if (hit) {
        close(fd);
        return 0;
    }
    int rc = zt_sha256_fd(fd, out);
    bool keep = !rc && fstat(fd, &after) == 0 && may_keep(&st, &after, &t0);
    close(fd);
    if (rc) return rc;
    *hashed_bytes = (int64_t)st.st_size;
    if (slot < h->n && keep) {
        pthread_mutex_lock(&h->mu);
        h->slot[slot] = (struct file_hash){.valid = true, .size = st.st_size, .dev = st.st_dev, .ino = st.st_ino,
                                           .mtime = st.st_mtim, .ctime = st.st_ctim};
        memcpy(h->slot[slot].sha256, out, ZT_SHA256_LEN);
        pthread_mutex_unlock(&h->mu);
    }
    return 0;
}
