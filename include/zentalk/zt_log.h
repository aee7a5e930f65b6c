/* zt_log.h: levelled, structured logging.
 *
 *   zt_log(ZT_LOG_INFO, "listening", "url=%s threads=%d", url, n);
 *
 * The event is a fixed short string; the fields are key=value pairs written
 * with printf formatting. Text format prints
 *   2026-11-24T16:40:00.123Z info  listening url=http://... threads=4
 * and JSON format prints one object per line:
 *   {"ts":"...","level":"info","msg":"listening","url":"http://...","threads":4}
 * The level is checked before anything is formatted. Never pass message
 * bodies, prompts, keys or tokens: logs must stay free of content.
 * Thread-safe; each line is written with one write(2). */
#ifndef ZT_LOG_H
#define ZT_LOG_H

#include <stdbool.h>

#include "zt_error.h"

enum zt_log_level {
    ZT_LOG_DEBUG = 0,
    ZT_LOG_INFO = 1,
    ZT_LOG_WARN = 2,
    ZT_LOG_ERROR = 3,
    ZT_LOG_OFF = 4,
};

enum zt_log_format {
    ZT_LOG_TEXT = 0,
    ZT_LOG_JSON = 1,
};

/* Log to path (appending, created 0600), or to stderr when path is NULL or "". */
ZT_NODISCARD int zt_log_open(const char *path, enum zt_log_level level, enum zt_log_format fmt);
/* Reopen the log file (after rotation; SIGHUP). No-op for stderr. */
ZT_NODISCARD int zt_log_reopen(void);
void zt_log_close(void);

void zt_log_set_level(enum zt_log_level level);
enum zt_log_level zt_log_get_level(void);
bool zt_log_enabled(enum zt_log_level level);

/* "debug", "info", "warn", "error", "off"; ZT_EINVAL otherwise. */
ZT_NODISCARD int zt_log_level_parse(const char *s, enum zt_log_level *out);
const char *zt_log_level_name(enum zt_log_level level);

void zt_log_write(enum zt_log_level level, const char *event, const char *fmt, ...)
    ZT_PRINTF(3, 4);

#define zt_log(level, event, ...)                                                    \
    do {                                                                             \
        if (zt_log_enabled(level)) zt_log_write((level), (event), __VA_ARGS__);      \
    } while (0)

/* Rate-limited variant for anything a peer can trigger: at most `per_sec`
 * lines per second from this call site; the next line that passes says how
 * many were suppressed. */
struct zt_log_rl {
    long long window_s;
    unsigned count;
    unsigned suppressed;
};
/* Whether a line may pass rl (the call site's state) now; *suppressed_out:
 * how many were held back since the last that passed. zt_log_rl's step. */
bool zt_log_rl_pass(struct zt_log_rl *rl, unsigned per_sec, unsigned *suppressed_out);

#define zt_log_rl(level, per_sec, event, ...)                                                      \
    do {                                                                                           \
        static struct zt_log_rl zt_log_rl_site_;                                                   \
        unsigned zt_log_rl_sup_ = 0;                                                               \
        if (zt_log_enabled(level) && zt_log_rl_pass(&zt_log_rl_site_, (per_sec), &zt_log_rl_sup_)) { \
            if (zt_log_rl_sup_) zt_log_write((level), "log_suppressed", "count=%u", zt_log_rl_sup_); \
            zt_log_write((level), (event), __VA_ARGS__);                                           \
        }                                                                                          \
    } while (0)

#endif
