/* audit.c: the hash-chained audit log. See zt_audit.h and
 * docs/internals/audit.md.
 *
 * Lines are compact JSON with sorted keys (jansson), ASCII only. The hash
 * chain is over the exact bytes of each line, so verify never has to
 * re-serialise anything: it hashes what is on disk. */
#include <dirent.h>
#include <stdarg.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_audit.h"
#include "audit_int.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"

#define CP_CONTEXT "zentalk-audit-checkpoint-v1\n"
#define FILE_PREFIX "audit-"
#define FILE_SUFFIX ".jsonl"
#define MAX_FILES 1000000u
#define TAIL_BYTES (3 * ZT_AUDIT_LINE_MAX)

struct zt_audit {
    pthread_mutex_t mu;
    char *dir;
    const struct zt_identity *id;
    uint64_t max_bytes, cp_entries, cp_ms;
    enum zt_audit_fsync fsync_mode;
    int fd;
    unsigned index;   /* of the file being written */
    uint64_t size;    /* its size */
    uint64_t seq;     /* of the last entry */
    uint8_t prev[ZT_SHA256_LEN];
    uint64_t since_cp;
    uint64_t cp_seq;  /* seq of the last checkpoint written (0: none this run) */
    int64_t last_cp_ms;
    int64_t retention_days;
    uint64_t last_sweep_ms;
    /* the checkpoint timer: a quiet log is still signed within cp_ms */
    pthread_t timer;
    pthread_cond_t cv;
    bool timer_running;
    bool stopping;
};

#define SWEEP_EVERY_MS (3600u * 1000u)

/* ---- small helpers ------------------------------------------------------ */

size_t zt__audit_cp_message(uint64_t seq, const uint8_t prev[32], char *out, size_t n)
{
    char hex[65];
    zt_hex_encode(hex, prev, 32);
    int k = snprintf(out, n, CP_CONTEXT "%llu\n%s\n", (unsigned long long)seq, hex);
    return k < 0 ? 0 : (size_t)k;
}

static int mkdir_p(const char *path)
{
    char tmp[1024];
    size_t n = zt_strlcpy(tmp, path, sizeof tmp);
    if (n >= sizeof tmp || n == 0) return ZT_EINVAL;
    for (size_t i = 1; i <= n; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0') continue;
        char c = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return ZT_EIO;
        tmp[i] = c;
    }
    return 0;
}

static void file_path(const char *dir, unsigned index, char *out, size_t n)
{
    snprintf(out, n, "%s/" FILE_PREFIX "%06u" FILE_SUFFIX, dir, index);
}

/* The index of a file name "audit-NNNNNN.jsonl", or 0. */
static unsigned name_index(const char *name)
{
    size_t pl = sizeof FILE_PREFIX - 1, sl = sizeof FILE_SUFFIX - 1, n = strlen(name);
    if (n <= pl + sl || strncmp(name, FILE_PREFIX, pl) != 0 || strcmp(name + n - sl, FILE_SUFFIX) != 0) return 0;
    uint64_t v = 0;
    for (size_t i = pl; i < n - sl; i++) {
        if (name[i] < '0' || name[i] > '9') return 0;
        v = v * 10 + (uint64_t)(name[i] - '0');
        if (v > MAX_FILES) return 0;
    }
    return (unsigned)v;
}

static int cmp_unsigned(const void *a, const void *b)
{
    unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
    return x < y ? -1 : x > y;
}

/* Sorted indexes of the audit files in dir (*out zt_malloc'd). */
static int list_files(const char *dir, unsigned **out, size_t *n_out)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? ZT_ENOTFOUND : ZT_EIO;
    unsigned *v = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        unsigned idx = name_index(e->d_name);
        if (!idx) continue;
        if ((rc = zt_array_push(&v, &n, &cap, &idx, sizeof idx, 16))) break;
    }
    closedir(d);
    if (rc) {
        zt_free(v);
        return rc;
    }
    if (n) qsort(v, n, sizeof *v, cmp_unsigned);
    *out = v;
    *n_out = n;
    return 0;
}

/* ---- line parser -------------------------------------------------------- */

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" (zt_time_iso8601) as ms since the epoch; 0
 * when it is not that. */
static int digits(const char *s, size_t n)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

static int64_t parse_ts(const char *s)
{
    static const char shape[] = "0000-00-00T00:00:00.000Z";
    if (strlen(s) != sizeof shape - 1) return 0;
    for (size_t i = 0; i < sizeof shape - 1; i++)
        if (shape[i] != '0' && s[i] != shape[i]) return 0;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2), h = digits(s + 11, 2),
        mi = digits(s + 14, 2), sec = digits(s + 17, 2), ms = digits(s + 20, 3);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || ms < 0 || ms > 999)
        return 0;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    time_t t = timegm(&tm);
    return t < 0 ? 0 : (int64_t)t * 1000 + ms;
}

int zt__audit_parse_line(const char *line, size_t len, struct zt__audit_line *out)
{
    if (!line || len == 0 || len >= ZT_AUDIT_LINE_MAX || memchr(line, '\n', len)) return ZT_EPARSE;
    json_error_t jerr;
    json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    int rc = ZT_EPARSE;
    struct zt__audit_line l;
    memset(&l, 0, sizeof l);
    if (!j || !json_is_object(j)) goto out;
    json_t *seq = json_object_get(j, "seq"), *prev = json_object_get(j, "prev"), *kind = json_object_get(j, "kind");
    if (!json_is_integer(seq) || json_integer_value(seq) < 1 || !json_is_string(prev) || !json_is_string(kind))
        goto out;
    l.seq = (uint64_t)json_integer_value(seq);
    if (zt_hex_decode(l.prev, sizeof l.prev, json_string_value(prev), json_string_length(prev), ZT_HEX_LOWER) != 0) goto out;
    l.checkpoint = strcmp(json_string_value(kind), "checkpoint") == 0;
    json_t *ts = json_object_get(j, "ts");
    if (json_is_string(ts)) l.ts_ms = parse_ts(json_string_value(ts));
    json_t *sig = json_object_get(j, "sig");
    if (sig) {
        if (!json_is_string(sig) || zt_hex_decode(l.sig, sizeof l.sig, json_string_value(sig), json_string_length(sig), ZT_HEX_LOWER) != 0)
            goto out;
        l.has_sig = true;
    }
    if (l.checkpoint && !l.has_sig) goto out;
    *out = l;
    rc = 0;
out:
    json_decref(j);
    return rc;
}

/* ---- writing ------------------------------------------------------------ */

static int sync_fd(int fd)
{
    return fdatasync(fd) == 0 ? 0 : ZT_EIO;
}

static void set_str(json_t *o, const char *key, const char *v)
{
    if (!v || !v[0]) return;
    char cut[ZT_AUDIT_FIELD_MAX + 1];
    zt_strlcpy(cut, v, sizeof cut);
    /* a cut in the middle of a UTF-8 sequence would make jansson refuse it */
    size_t n = strlen(cut);
    while (n && !zt_utf8_valid(cut, n)) cut[--n] = '\0';
    json_object_set_new(o, key, json_string(cut));
}

static int open_file(struct zt_audit *a, unsigned index, bool create)
{
    char path[1200];
    file_path(a->dir, index, path, sizeof path);
    int fd = open(path, (create ? O_CREAT | O_EXCL : 0) | O_RDWR | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) return ZT_EIO;
    if (fchmod(fd, 0600) != 0) {
        close(fd);
        return ZT_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return ZT_EIO;
    }
    if (a->fd >= 0) close(a->fd);
    a->fd = fd;
    a->index = index;
    a->size = (uint64_t)st.st_size;
    return 0;
}

static int write_checkpoint(struct zt_audit *a);

/* Fill seq/prev/ts (and sig for a checkpoint), write the line with one
 * write(), advance the chain. The caller holds the mutex. */
static int append(struct zt_audit *a, json_t *o, bool checkpoint, bool may_rotate)
{
    char ts[ZT_TIME_ISO_LEN];
    int64_t now = zt_time_real_ms();
    zt_time_iso8601(ts, sizeof ts, now);
    char prev_hex[65];
    zt_hex_encode(prev_hex, a->prev, sizeof a->prev);
    uint64_t seq = a->seq + 1;
    json_object_set_new(o, "seq", json_integer((json_int_t)seq));
    json_object_set_new(o, "prev", json_string(prev_hex));
    json_object_set_new(o, "ts", json_string(ts));
    if (checkpoint) {
        char msg[160];
        size_t ml = zt__audit_cp_message(seq, a->prev, msg, sizeof msg);
        uint8_t sig[ZT_ED25519_SIG_LEN];
        if (zt_identity_sign(a->id, (const uint8_t *)msg, ml, sig) != 0) return ZT_ECRYPTO;
        char sig_hex[2 * ZT_ED25519_SIG_LEN + 1];
        zt_hex_encode(sig_hex, sig, sizeof sig);
        json_object_set_new(o, "sig", json_string(sig_hex));
    }
    char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENSURE_ASCII);
    if (!s) return ZT_ENOMEM;
    size_t n = strlen(s);
    int rc = 0;
    if (n + 1 > ZT_AUDIT_LINE_MAX) {
        rc = ZT_ETOOBIG;
        goto out;
    }
    if (may_rotate && a->size > 0 && a->size + n + 1 > a->max_bytes) {
        /* next file; its first line is a checkpoint linking to this one */
        if (a->fsync_mode != ZT_AUDIT_FSYNC_NEVER) zt_ignore(sync_fd(a->fd));
        rc = open_file(a, a->index + 1, true);
        if (!rc) rc = write_checkpoint(a);
        free(s);
        s = NULL;
        if (rc) return rc;
        return append(a, o, checkpoint, false);
    }
    s[n] = '\n'; /* json_dumps' NUL becomes the newline: one write of the whole line */
    ssize_t w = write(a->fd, s, n + 1);
    if (w != (ssize_t)(n + 1)) {
        int e = errno;
        if (w > 0) zt_ignore(ftruncate(a->fd, (off_t)a->size)); /* no torn line left behind */
        errno = w < 0 ? e : ENOSPC;
        rc = ZT_EIO;
        goto out;
    }
    a->size += n + 1;
    a->seq = seq;
    zt_sha256(a->prev, s, n);
    if (a->fsync_mode == ZT_AUDIT_FSYNC_ALWAYS || (checkpoint && a->fsync_mode == ZT_AUDIT_FSYNC_CHECKPOINT))
        rc = sync_fd(a->fd);
out:
    free(s);
    return rc;
}

static int write_checkpoint(struct zt_audit *a)
{
    json_t *o = json_object();
    if (!o) return ZT_ENOMEM;
    json_object_set_new(o, "kind", json_string("checkpoint"));
    json_object_set_new(o, "node", json_string(zt_identity_id(a->id)));
    json_object_set_new(o, "entries", json_integer((json_int_t)a->since_cp));
    int rc = append(a, o, true, false);
    json_decref(o);
    if (!rc) {
        a->since_cp = 0;
        a->cp_seq = a->seq;
        a->last_cp_ms = (int64_t)zt_time_mono_ms();
    }
    return rc;
}

/* The checkpoint timer: entries written since the last checkpoint are
 * signed once checkpoint_ms has passed, even when no new entry comes (a
 * quiet node's tail would otherwise stay unsigned until the next one, and
 * `zentalk audit verify` refuses a tail older than the interval). */
static void *timer_main(void *arg)
{
    struct zt_audit *a = arg;
    pthread_mutex_lock(&a->mu);
    while (!a->stopping) {
        int64_t due = a->last_cp_ms + (int64_t)a->cp_ms;
        int64_t now = (int64_t)zt_time_mono_ms();
        if (a->seq > a->cp_seq && now >= due) {
            if (write_checkpoint(a) != 0) a->last_cp_ms = now; /* retry after another interval */
            continue;
        }
        int64_t wait_ms = a->seq > a->cp_seq ? due - now : (int64_t)a->cp_ms;
        if (wait_ms < 10) wait_ms = 10;
        struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, (uint64_t)wait_ms);
        pthread_cond_timedwait(&a->cv, &a->mu, &ts);
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* Read up to TAIL_BYTES from the end of fd (size bytes) into buf. */
static int read_tail(int fd, uint64_t size, char *buf, size_t *got)
{
    size_t want = size < TAIL_BYTES ? (size_t)size : TAIL_BYTES;
    ssize_t r = pread(fd, buf, want, (off_t)(size - want));
    if (r != (ssize_t)want) return ZT_EIO;
    *got = want;
    return 0;
}

/* The last complete line of fd: its seq and hash into a. *torn is the
 * number of bytes after the last newline. *empty when no complete line. */
static int scan_tail(struct zt_audit *a, int fd, uint64_t size, uint64_t *torn, bool *empty, bool *last_cp,
                     struct zt_buf *err)
{
    char *buf = zt_malloc(TAIL_BYTES + 1);
    if (!buf) return ZT_ENOMEM;
    size_t n = 0;
    int rc = size ? read_tail(fd, size, buf, &n) : 0;
    if (rc) goto out;
    size_t end = n;
    while (end > 0 && buf[end - 1] != '\n') end--;
    *torn = n - end;
    if (end == 0) {
        *empty = true;
        if (*torn == n && size > n) { /* a "line" longer than the tail window: not ours */
            rc = ZT_EPARSE;
            if (err) zt_ignore(zt_buf_appendf(err, "audit: %s: last line longer than %d bytes\n", a->dir, ZT_AUDIT_LINE_MAX));
        }
        goto out;
    }
    size_t ls = end - 1;
    while (ls > 0 && buf[ls - 1] != '\n') ls--;
    if (ls == 0 && size > n) {
        rc = ZT_EPARSE;
        goto out;
    }
    struct zt__audit_line l;
    if (zt__audit_parse_line(buf + ls, end - 1 - ls, &l) != 0) {
        rc = ZT_EPARSE;
        if (err)
            zt_ignore(zt_buf_appendf(err, "audit: the last entry in %s is not valid; the chain cannot be "
                                          "continued (check it with zentalk audit verify)\n", a->dir));
        goto out;
    }
    a->seq = l.seq;
    zt_sha256(a->prev, buf + ls, end - 1 - ls);
    *empty = false;
    *last_cp = l.checkpoint;
out:
    zt_free(buf);
    return rc;
}

int zt_audit_open(const struct zt_audit_opts *o, struct zt_audit **out, struct zt_buf *err)
{
    if (!o || !o->dir || !o->id || o->max_bytes < 4096 || !o->checkpoint_entries || !o->checkpoint_ms)
        return ZT_EINVAL;
    struct zt_audit *a = zt_calloc(1, sizeof *a);
    if (!a) return ZT_ENOMEM;
    unsigned *files = NULL;
    size_t n_files = 0;
    int rc = 0;
    a->fd = -1;
    pthread_mutex_init(&a->mu, NULL);
    a->id = o->id;
    a->max_bytes = o->max_bytes;
    a->cp_entries = o->checkpoint_entries;
    a->cp_ms = o->checkpoint_ms;
    a->fsync_mode = o->fsync;
    a->retention_days = o->retention_days;
    a->last_sweep_ms = zt_time_mono_ms();
    a->last_cp_ms = (int64_t)zt_time_mono_ms();
    a->dir = zt_strdup(o->dir);
    if (!a->dir) {
        rc = ZT_ENOMEM;
        goto out;
    }
    if (mkdir_p(a->dir) != 0 || chmod(a->dir, 0700) != 0) {
        rc = ZT_EIO;
        if (err) zt_ignore(zt_buf_appendf(err, "audit: cannot create %s: %s\n", a->dir, strerror(errno)));
        goto out;
    }
    rc = list_files(a->dir, &files, &n_files);
    if (rc) goto out;
    uint64_t torn = 0;
    bool last_cp = false;
    if (n_files == 0) {
        rc = open_file(a, 1, true);
    } else {
        rc = open_file(a, files[n_files - 1], false);
        bool empty = true;
        if (!rc) rc = scan_tail(a, a->fd, a->size, &torn, &empty, &last_cp, err);
        if (!rc && torn) {
            /* a crash mid-write: cut the torn line, the chain goes on after
             * the last complete entry (recorded in the start entry) */
            if (ftruncate(a->fd, (off_t)(a->size - torn)) != 0) rc = ZT_EIO;
            else a->size -= torn;
        }
        for (size_t k = n_files - 1; !rc && empty && k > 0; k--) {
            /* the newest file has no complete entry: the chain ends in an older one */
            char path[1200];
            file_path(a->dir, files[k - 1], path, sizeof path);
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            struct stat st;
            if (fd < 0 || fstat(fd, &st) != 0) rc = ZT_EIO;
            uint64_t t2 = 0;
            if (!rc) rc = scan_tail(a, fd, (uint64_t)st.st_size, &t2, &empty, &last_cp, err);
            if (fd >= 0) close(fd);
        }
    }
    if (rc) {
        if (err && rc == ZT_EIO) zt_ignore(zt_buf_appendf(err, "audit: %s: %s\n", a->dir, strerror(errno)));
        goto out;
    }
    /* Every file but the first starts with a checkpoint; and a previous
     * run that ended without its closing checkpoint (kill -9, power loss)
     * left entries chained but unsigned: sign them now, before anything
     * else is added (issue 17 item 5). */
    if (a->seq > 0 && (a->size == 0 || !last_cp)) rc = write_checkpoint(a);
    a->cp_seq = a->seq;
    if (!rc) {
        json_t *s = json_object();
        if (!s) {
            rc = ZT_ENOMEM;
            goto out;
        }
        json_object_set_new(s, "kind", json_string("start"));
        json_object_set_new(s, "node", json_string(zt_identity_id(a->id)));
        if (torn) json_object_set_new(s, "torn_bytes", json_integer((json_int_t)torn));
        rc = append(a, s, false, true);
        json_decref(s);
        if (!rc) a->since_cp = 1; /* the start entry is signed by the next checkpoint, as any other */
    }
    if (!rc) {
        zt_cond_init_mono(&a->cv);
        if (pthread_create(&a->timer, NULL, timer_main, a) != 0) {
            pthread_cond_destroy(&a->cv);
            rc = ZT_ENOMEM;
        } else {
            a->timer_running = true;
        }
    }
    if (!rc && a->retention_days > 0) zt_ignore(zt_audit_sweep(a->dir, a->retention_days, zt_time_real_ms() / 1000, NULL));
out:
    zt_free(files);
    if (rc) {
        if (a->fd >= 0) close(a->fd);
        pthread_mutex_destroy(&a->mu);
        zt_free(a->dir);
        zt_free(a);
        return rc;
    }
    *out = a;
    return 0;
}

int zt_audit_record(struct zt_audit *a, const struct zt_audit_event *ev)
{
    json_t *o = json_object();
    if (!o) return ZT_ENOMEM;
    json_object_set_new(o, "kind", json_string(ev->kind ? ev->kind : "request"));
    set_str(o, "identity", ev->identity);
    set_str(o, "role", ev->role);
    set_str(o, "subject", ev->subject);
    set_str(o, "route", ev->route);
    set_str(o, "method", ev->method);
    set_str(o, "feature", ev->feature);
    set_str(o, "job_id", ev->job_id);
    set_str(o, "request_id", ev->request_id);
    set_str(o, "decision", ev->decision);
    set_str(o, "outcome", ev->outcome);
    if (ev->status) json_object_set_new(o, "status", json_integer(ev->status));
    set_str(o, "reason", ev->reason);
    if (ev->n_nodes) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < ev->n_nodes && i < 16; i++) json_array_append_new(arr, json_string(ev->nodes[i]));
        json_object_set_new(o, "nodes", arr);
    }
    if (ev->n_pii) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < ev->n_pii && i < 64; i++) json_array_append_new(arr, json_string(ev->pii[i]));
        json_object_set_new(o, "pii", arr);
    }
    pthread_mutex_lock(&a->mu);
    int rc = append(a, o, false, true);
    if (!rc) {
        a->since_cp++;
        if (a->since_cp >= a->cp_entries || (uint64_t)((int64_t)zt_time_mono_ms() - a->last_cp_ms) >= a->cp_ms)
            rc = write_checkpoint(a);
    }
    uint64_t now = zt_time_mono_ms();
    if (a->retention_days > 0 && now - a->last_sweep_ms >= SWEEP_EVERY_MS) {
        a->last_sweep_ms = now;
        zt_ignore(zt_audit_sweep(a->dir, a->retention_days, zt_time_real_ms() / 1000, NULL));
    }
    pthread_mutex_unlock(&a->mu);
    json_decref(o);
    return rc;
}

int zt_audit_checkpoint(struct zt_audit *a)
{
    pthread_mutex_lock(&a->mu);
    int rc = write_checkpoint(a);
    pthread_mutex_unlock(&a->mu);
    return rc;
}

uint64_t zt_audit_seq(struct zt_audit *a)
{
    return zt_locked_u64(&a->mu, &a->seq);
}

void zt_audit_close(struct zt_audit *a)
{
    if (!a) return;
    zt_set_and_wake(&a->mu, &a->cv, &a->stopping);
    if (a->timer_running) {
        pthread_join(a->timer, NULL);
        pthread_cond_destroy(&a->cv);
    }
    pthread_mutex_lock(&a->mu);
    if (a->seq > a->cp_seq) zt_ignore(write_checkpoint(a));
    if (a->fsync_mode != ZT_AUDIT_FSYNC_NEVER) zt_ignore(sync_fd(a->fd));
    close(a->fd);
    pthread_mutex_unlock(&a->mu);
    pthread_mutex_destroy(&a->mu);
    zt_free(a->dir);
    zt_free(a);
}

int zt_audit_sweep(const char *dir, int64_t days, int64_t now_s, unsigned *removed)
{
    unsigned *files = NULL;
    size_t n = 0;
    unsigned count = 0;
    if (removed) *removed = 0;
    if (days <= 0) return 0;
    int rc = list_files(dir, &files, &n);
    if (rc == ZT_ENOTFOUND) return 0;
    if (rc) return rc;
    /* oldest first, never the newest; stop at the first one still kept so
     * that what remains is one unbroken run of files */
    for (size_t i = 0; i + 1 < n; i++) {
        char path[1200];
        file_path(dir, files[i], path, sizeof path);
        struct stat st;
        if (stat(path, &st) != 0) {
            rc = ZT_EIO;
            break;
        }
        if ((int64_t)st.st_mtime > now_s - days * 86400) break;
        if (unlink(path) != 0) {
            rc = ZT_EIO;
            break;
        }
        count++;
    }
    zt_free(files);
    if (removed) *removed = count;
    return rc;
}

/* ---- verification ------------------------------------------------------- */

#define RING 16

struct seen {
    uint64_t seq;
    uint8_t hash[ZT_SHA256_LEN];
    size_t file, line;
    bool used;
};

struct vstate {
    const char *const *files;
    const uint8_t *pk;
    struct zt_audit_report *rep;
    struct zt_buf *out;
    struct seen ring[RING];
    size_t ring_pos;
    uint64_t max_seq;
    bool have;
    uint64_t skip_seq; /* the second line of a swap already reported */
};

static void problem(struct vstate *v, size_t file, size_t line, uint64_t seq, const char *fmt, ...)
    ZT_PRINTF(5, 6);
static void problem(struct vstate *v, size_t file, size_t line, uint64_t seq, const char *fmt, ...)
{
    v->rep->problems++;
    if (!v->out) return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (seq)
        zt_ignore(zt_buf_appendf(v->out, "%s:%zu: seq %llu: %s\n", v->files[file], line, (unsigned long long)seq, msg));
    else
        zt_ignore(zt_buf_appendf(v->out, "%s:%zu: %s\n", v->files[file], line, msg));
}

static const struct seen *find_seen(const struct vstate *v, uint64_t seq)
{
    for (size_t i = 0; i < RING; i++)
        if (v->ring[i].used && v->ring[i].seq == seq) return &v->ring[i];
    return NULL;
}

static uint64_t peek_seq(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return 0;
    struct zt__audit_line l;
    return zt__audit_parse_line(p, (size_t)(nl - p), &l) == 0 ? l.seq : 0;
}

static void check_line(struct vstate *v, size_t fi, size_t ln, const char *line, size_t len, const char *next,
                       const char *end)
{
    struct zt__audit_line l;
    uint8_t h[ZT_SHA256_LEN];
    zt_sha256(h, line, len);
    v->rep->entries++;
    if (zt__audit_parse_line(line, len, &l) != 0) {
        problem(v, fi, ln, 0, "not a valid audit entry (edited or corrupted)");
        return;
    }
    if (!v->have) {
        v->rep->first_seq = l.seq;
        static const uint8_t zero[32];
        if (l.seq == 1) {
            if (memcmp(l.prev, zero, 32) != 0) problem(v, fi, ln, l.seq, "first entry must link to 64 zeros");
        } else if (l.checkpoint) {
            v->rep->starts_at_checkpoint = true;
        } else {
            problem(v, fi, ln, l.seq, "the chain starts neither at seq 1 nor at a checkpoint (files missing at the start?)");
        }
    } else {
        uint64_t exp = v->max_seq + 1;
        const struct seen *pred = find_seen(v, l.seq - 1), *dup;
        if (l.seq == exp) {
            if (pred && memcmp(pred->hash, l.prev, 32) != 0)
                problem(v, pred->file, pred->line, pred->seq,
                        "entry altered: its hash does not match the link in %s:%zu (seq %llu)", v->files[fi], ln,
                        (unsigned long long)l.seq);
        } else if (l.seq > exp) {
            uint64_t ns = next ? peek_seq(next, end) : 0;
            if (ns == exp && ln > 1) {
                problem(v, fi, ln, l.seq, "entries out of order: this line and the next (seq %llu) are swapped",
                        (unsigned long long)ns);
                v->skip_seq = ns;
            } else if (ln == 1 && fi > 0) {
                problem(v, fi, ln, l.seq, "rotation gap: %s ends at seq %llu, entries %llu..%llu are missing",
                        v->files[fi - 1], (unsigned long long)v->max_seq, (unsigned long long)exp,
                        (unsigned long long)(l.seq - 1));
            } else {
                problem(v, fi, ln, l.seq, "entries %llu..%llu deleted before this line", (unsigned long long)exp,
                        (unsigned long long)(l.seq - 1));
            }
        } else if (l.seq == v->skip_seq) {
            v->skip_seq = 0; /* reported with the line before */
            if (pred && memcmp(pred->hash, l.prev, 32) != 0)
                problem(v, fi, ln, l.seq, "does not link to seq %llu", (unsigned long long)(l.seq - 1));
        } else if ((dup = find_seen(v, l.seq)) != NULL) {
            problem(v, fi, ln, l.seq, "seq repeated (also at %s:%zu): an entry was inserted", v->files[dup->file],
                    dup->line);
        } else {
            problem(v, fi, ln, l.seq, "seq goes back after %llu: inserted or reordered entry",
                    (unsigned long long)v->max_seq);
        }
    }
    bool signed_cp = false;
    if (l.checkpoint) {
        char msg[160];
        size_t ml = zt__audit_cp_message(l.seq, l.prev, msg, sizeof msg);
        if (zt_identity_verify(v->pk, (const uint8_t *)msg, ml, l.sig) != 0) {
            problem(v, fi, ln, l.seq, "checkpoint signature invalid (forged, or another node's key)");
        } else {
            signed_cp = true;
            v->rep->checkpoint_seq = l.seq;
            zt_strlcpy(v->rep->checkpoint_file, v->files[fi], sizeof v->rep->checkpoint_file);
            v->rep->checkpoint_line = ln;
            v->rep->checkpoint_clean = v->rep->problems == 0;
        }
    }
    if (signed_cp) {
        v->rep->unsigned_entries = 0;
    } else if (!v->have || l.seq > v->max_seq) {
        /* after the last valid checkpoint: chained, not signed (yet) */
        if (v->rep->unsigned_entries++ == 0) {
            v->rep->unsigned_first_seq = l.seq;
            v->rep->unsigned_first_ts_ms = l.ts_ms;
            zt_strlcpy(v->rep->unsigned_file, v->files[fi], sizeof v->rep->unsigned_file);
            v->rep->unsigned_line = ln;
        }
    }
    struct seen *s = &v->ring[v->ring_pos];
    v->ring_pos = (v->ring_pos + 1) % RING;
    s->used = true;
    s->seq = l.seq;
    memcpy(s->hash, h, sizeof h);
    s->file = fi;
    s->line = ln;
    if (!v->have || l.seq > v->max_seq) v->max_seq = l.seq;
    v->rep->last_seq = v->max_seq;
    v->have = true;
}

/* The whole audit file at path; a file that is not there is an I/O error
 * like any other that stops it being read. */
static int read_all(const char *path, char **out, size_t *n)
{
    int rc = zt_file_read(path, ZT_AUDIT_FILE_MAX, out, n);
    return rc == ZT_ENOTFOUND ? ZT_EIO : rc;
}

int zt_audit_verify(const char *const *files, size_t n, const uint8_t pk[static ZT_ED25519_PK_LEN],
                    struct zt_audit_report *rep, struct zt_buf *out)
{
    memset(rep, 0, sizeof *rep);
    struct vstate v = {.files = files, .pk = pk, .rep = rep, .out = out};
    int rc = 0;
    for (size_t fi = 0; fi < n && !rc; fi++) {
        char *buf = NULL;
        size_t len = 0;
        rc = read_all(files[fi], &buf, &len);
        if (rc) {
            if (out) zt_ignore(zt_buf_appendf(out, "%s: cannot read: %s\n", files[fi], zt_strerror(rc)));
            break;
        }
        const char *p = buf, *end = buf + len;
        size_t ln = 0;
        while (p < end) {
            ln++;
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            if (!nl) {
                rep->truncated_tail = true;
                problem(&v, fi, ln, 0, "truncated tail: %zu bytes without a newline (a write cut short by a crash)",
                        (size_t)(end - p));
                break;
            }
            check_line(&v, fi, ln, p, (size_t)(nl - p), nl + 1 < end ? nl + 1 : NULL, end);
            p = nl + 1;
        }
        zt_free(buf);
    }
    if (rc) return rc;
    return rep->problems ? ZT_ECRYPTO : 0;
}

int zt_audit_check_signed(const struct zt_audit_report *rep, uint64_t max_entries, uint64_t max_age_ms, int64_t now_ms,
                          struct zt_buf *out)
{
    if (!rep->unsigned_entries) return 0;
    /* a live node signs within the interval (its timer), plus a little */
    int64_t age = rep->unsigned_first_ts_ms ? now_ms - rep->unsigned_first_ts_ms : INT64_MAX;
    bool too_old = age > (int64_t)(max_age_ms + ZT_AUDIT_SIGN_GRACE_MS);
    bool too_many = rep->unsigned_entries > max_entries + 1; /* + the start entry */
    if (!too_old && !too_many) return 0;
    if (out) {
        char when[64] = "of unknown age";
        if (rep->unsigned_first_ts_ms) snprintf(when, sizeof when, "the oldest %lld s old", (long long)(age / 1000));
        zt_ignore(zt_buf_appendf(out,
                                 "%s:%llu: seq %llu: entries %llu..%llu (%llu, %s) are not covered by a signed checkpoint "
                                 "and %s the checkpoint interval (%llu entries, %llu s): the node stopped without "
                                 "signing them (killed?) and has not opened the log since, or they were rewritten\n",
                                 rep->unsigned_file, (unsigned long long)rep->unsigned_line,
                                 (unsigned long long)rep->unsigned_first_seq, (unsigned long long)rep->unsigned_first_seq,
                                 (unsigned long long)rep->last_seq, (unsigned long long)rep->unsigned_entries, when,
                                 too_old ? "are older than" : "are more than", (unsigned long long)max_entries,
                                 (unsigned long long)(max_age_ms / 1000)));
    }
    return ZT_ECRYPTO;
}
