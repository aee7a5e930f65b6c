/* log.c: levelled text / JSON-lines logging.
 *
 * A line is formatted into a stack buffer and written with one write(2) so
 * lines from different threads never interleave (O_APPEND makes that true
 * for files too). The file descriptor is swapped under a mutex on reopen. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define LINE_MAX_BYTES 4096
#define PATH_MAX_BYTES 1024

static atomic_int cur_level = ZT_LOG_INFO;
static enum zt_log_format cur_format = ZT_LOG_TEXT;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int log_fd = STDERR_FILENO;
static char log_path[PATH_MAX_BYTES];

static const char *const level_names[] = {"debug", "info", "warn", "error", "off"};

const char *zt_log_level_name(enum zt_log_level level)
{
    if ((unsigned)level > ZT_LOG_OFF) return "?";
    return level_names[level];
}

int zt_log_level_parse(const char *s, enum zt_log_level *out)
{
    for (int i = 0; i <= ZT_LOG_OFF; i++) {
        if (zt_str_eq_ci(s, level_names[i])) {
            *out = (enum zt_log_level)i;
            return 0;
        }
    }
    if (zt_str_eq_ci(s, "warning")) {
        *out = ZT_LOG_WARN;
        return 0;
    }
    return ZT_EINVAL;
}

void zt_log_set_level(enum zt_log_level level)
{
    atomic_store(&cur_level, (int)level);
}

enum zt_log_level zt_log_get_level(void)
{
    return (enum zt_log_level)atomic_load(&cur_level);
}

bool zt_log_enabled(enum zt_log_level level)
{
    return (int)level >= atomic_load_explicit(&cur_level, memory_order_relaxed) &&
           level != ZT_LOG_OFF;
}

static int open_path(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    return fd;
}

int zt_log_open(const char *path, enum zt_log_level level, enum zt_log_format fmt)
{
    int fd = STDERR_FILENO;
    if (path && *path) {
        if (strlen(path) >= sizeof log_path) return ZT_ETOOBIG;
        fd = open_path(path);
        if (fd < 0) return ZT_EIO;
    }
    pthread_mutex_lock(&lock);
    if (log_fd != STDERR_FILENO) close(log_fd);
    log_fd = fd;
    zt_strlcpy(log_path, fd == STDERR_FILENO ? "" : path, sizeof log_path);
    cur_format = fmt;
    pthread_mutex_unlock(&lock);
    zt_log_set_level(level);
    return 0;
}

int zt_log_reopen(void)
{
    int rc = 0;
    pthread_mutex_lock(&lock);
    if (log_path[0]) {
        int fd = open_path(log_path);
        if (fd < 0) {
            rc = ZT_EIO; /* keep writing to the old descriptor */
        } else {
            close(log_fd);
            log_fd = fd;
        }
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void zt_log_close(void)
{
    pthread_mutex_lock(&lock);
    if (log_fd != STDERR_FILENO) close(log_fd);
    log_fd = STDERR_FILENO;
    log_path[0] = '\0';
    pthread_mutex_unlock(&lock);
}

/* Bounded appender over a fixed line buffer; output is cut, never overflows. */
struct line {
    char buf[LINE_MAX_BYTES];
    size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
    size_t room = sizeof l->buf - 2 - l->len; /* keep room for "\n\0" */
    if (n > room) n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static void puts_(struct line *l, const char *s)
{
    put(l, s, strlen(s));
}

static void put_json_str(struct line *l, const char *s, size_t n)
{
    put(l, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            put(l, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            put(l, esc, 6);
        } else {
            put(l, (const char *)&s[i], 1);
        }
    }
    put(l, "\"", 1);
}

static bool is_key_char(char c)
{
    return islower((unsigned char)c) || isdigit((unsigned char)c) || c == '_' || c == '.';
}

/* Does a "key=" start at p? Returns the key length or 0. */
static size_t key_at(const char *p)
{
    size_t n = 0;
    while (is_key_char(p[n])) n++;
    return (n > 0 && p[n] == '=') ? n : 0;
}

static bool is_json_number(const char *s, size_t n)
{
    if (n == 0 || n > 20) return false;
    size_t i = 0;
    if (s[0] == '-') i++;
    if (i == n) return false;
    if (s[i] == '0' && n > i + 1) return false;
    for (; i < n; i++)
        if (!isdigit((unsigned char)s[i])) return false;
    return true;
}

/* Turn "k1=v1 k2=v with spaces k3=3" into ,"k1":"v1","k2":"v with spaces","k3":3 */
static void put_json_fields(struct line *l, const char *kv)
{
    const char *p = kv;
    while (*p == ' ') p++;
    while (*p) {
        size_t klen = key_at(p);
        if (!klen) { /* free text without a key: keep it as "detail" */
            put(l, ",\"detail\":", 10);
            put_json_str(l, p, strlen(p));
            return;
        }
        const char *v = p + klen + 1;
        const char *end = v;
        while (*end && !(*end == ' ' && key_at(end + 1))) end++;
        put(l, ",", 1);
        put_json_str(l, p, klen);
        put(l, ":", 1);
        size_t vlen = (size_t)(end - v);
        if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') { /* already quoted */
            v++;
            vlen -= 2;
        }
        if (is_json_number(v, vlen)) put(l, v, vlen);
        else put_json_str(l, v, vlen);
        p = *end ? end + 1 : end;
    }
}

void zt_log_write(enum zt_log_level level, const char *event, const char *fmt, ...)
{
    char fields[LINE_MAX_BYTES];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(fields, sizeof fields, fmt, ap);
    va_end(ap);
    if (n < 0) fields[0] = '\0';

    char ts[ZT_TIME_ISO_LEN];
    zt_time_iso8601(ts, sizeof ts, zt_time_real_ms());

    struct line l;
    l.len = 0;
    pthread_mutex_lock(&lock);
    enum zt_log_format fmt_kind = cur_format;
    pthread_mutex_unlock(&lock);
    if (fmt_kind == ZT_LOG_JSON) {
        puts_(&l, "{\"ts\":\"");
        puts_(&l, ts);
        puts_(&l, "\",\"level\":\"");
        puts_(&l, zt_log_level_name(level));
        puts_(&l, "\",\"msg\":");
        put_json_str(&l, event, strlen(event));
        put_json_fields(&l, fields);
        put(&l, "}", 1);
    } else {
        char lvl[8];
        snprintf(lvl, sizeof lvl, "%-5s", zt_log_level_name(level));
        puts_(&l, ts);
        puts_(&l, " ");
        puts_(&l, lvl);
        puts_(&l, " ");
        puts_(&l, event);
        if (fields[0]) {
            puts_(&l, " ");
            /* control characters would let a value forge a new log line */
            for (char *c = fields; *c; c++)
                if ((unsigned char)*c < 0x20) *c = '?';
            puts_(&l, fields);
        }
    }
    l.buf[l.len++] = '\n';

    pthread_mutex_lock(&lock);
    ssize_t off = 0;
    while ((size_t)off < l.len) {
        ssize_t w = write(log_fd, l.buf + off, l.len - (size_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        off += w;
    }
    pthread_mutex_unlock(&lock);
}

bool zt_log_rl_pass(struct zt_log_rl *rl, unsigned per_sec, unsigned *suppressed_out)
{
    static pthread_mutex_t rl_lock = PTHREAD_MUTEX_INITIALIZER;
    long long now = (long long)(zt_time_mono_ms() / 1000);
    bool pass;
    pthread_mutex_lock(&rl_lock);
    if (rl->window_s != now) {
        rl->window_s = now;
        rl->count = 0;
    }
    pass = rl->count < per_sec;
    if (pass) {
        rl->count++;
        *suppressed_out = rl->suppressed;
        rl->suppressed = 0;
    } else {
        rl->suppressed++;
    }
    pthread_mutex_unlock(&rl_lock);
    return pass;
}
