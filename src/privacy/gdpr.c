/* gdpr.c: GDPR helpers of the privacy layer: the export/erase request
 * schema, matching audit entries to an identity, and the retention
 * sweeper. See zt_gdpr.h and docs/privacy/DATA_HANDLING.md. */
#include "zentalk/zt_gdpr.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_audit.h"
#include "zentalk/zt_auth.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_wallet.h"

struct zt_gdpr_sweeper {
    const struct zt_config *cfg;
    struct zt_gdpr_holders h;
    pthread_t th;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;
    atomic_uint_fast64_t runs;
};

int zt_gdpr_sweeper_new(const struct zt_config *cfg, const struct zt_gdpr_holders *h, struct zt_gdpr_sweeper **out)
{
    struct zt_gdpr_sweeper *g = zt_calloc(1, sizeof *g);
    if (!g) return ZT_ENOMEM;
    g->cfg = cfg;
    if (h) g->h = *h;
    pthread_mutex_init(&g->mu, NULL);
    zt_cond_init_mono(&g->cv);
    *out = g;
    return 0;
}

/* ---- parsing ------------------------------------------------------------ */

int zt_gdpr_parse(json_t *body, const char **identity, char *why, size_t why_len)
{
    *identity = NULL;
    if (!json_is_object(body)) {
        snprintf(why, why_len, "request body must be a JSON object");
        return ZT_EINVAL;
    }
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v)
    {
        if (strcmp(k, "identity") != 0) {
            snprintf(why, why_len, "unknown field; only \"identity\" is accepted");
            return ZT_EINVAL;
        }
    }
    v = json_object_get(body, "identity");
    if (!v) return 0;
    if (!json_is_string(v)) {
        snprintf(why, why_len, "\"identity\" must be a string");
        return ZT_EINVAL;
    }
    size_t n = json_string_length(v);
    const char *s = json_string_value(v);
    if (n == 0 || n >= ZT_AUTH_ID_MAX) {
        snprintf(why, why_len, "\"identity\" must be 1 to %d bytes", ZT_AUTH_ID_MAX - 1);
        return ZT_EINVAL;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            snprintf(why, why_len, "\"identity\" must not contain control characters");
            return ZT_EINVAL;
        }
    }
    *identity = s;
    return 0;
}

/* printable ASCII that JSON writes as is (so a substring test can prefilter) */
static bool plain_ascii(const char *s)
{
    for (; *s; s++)
        if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\') return false;
    return true;
}

int zt_gdpr_audit_match(const char *line, size_t len, const char *pseudonym, const char *identity,
                         json_t **entry)
{
    if (!line || len == 0 || len >= ZT_AUDIT_LINE_MAX) return 0;
    bool maybe = false;
    if (pseudonym && pseudonym[0] && zt_str_memmem(line, len, pseudonym, strlen(pseudonym))) maybe = true;
    if (!maybe && identity && identity[0])
        maybe = !plain_ascii(identity) || zt_str_memmem(line, len, identity, strlen(identity)) != NULL;
    if (!maybe) return 0;
    json_t *j = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        return 0;
    }
    const char *who = json_string_value(json_object_get(j, "identity"));
    const char *subj = json_string_value(json_object_get(j, "subject"));
    int m = 0;
    if (pseudonym && pseudonym[0] && ((who && strcmp(who, pseudonym) == 0) || (subj && strcmp(subj, pseudonym) == 0)))
        m = 1;
    else if (identity && identity[0] && who && strcmp(who, identity) == 0)
        m = 2;
    if (m && entry)
        *entry = j;
    else
        json_decref(j);
    return m;
}

/* ---- audit scan ----------------------------------------------------------- */

static int name_is_audit(const struct dirent *e)
{
    size_t n = strlen(e->d_name);
    return n > 12 && strncmp(e->d_name, "audit-", 6) == 0 && strcmp(e->d_name + n - 6, ".jsonl") == 0;
}

static int scan_file(const char *path, struct zt_gdpr_audit_scan *sc)
{
    FILE *f = fopen(path, "r");
    if (!f) return errno == ENOENT ? 0 : ZT_EIO;
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = 0;
    while ((got = getline(&line, &cap, f)) > 0) {
        size_t n = (size_t)got;
        if (line[n - 1] == '\n') n--;
        json_t *e = NULL;
        int m = zt_gdpr_audit_match(line, n, sc->pseudonym, sc->identity, sc->items ? &e : NULL);
        if (!m) continue;
        if (m == 1) sc->n_pseudo++;
        else sc->n_clear++;
        sc->bytes += n;
        if (sc->items) {
            if (sc->bytes > sc->max) {
                json_decref(e);
                rc = ZT_ETOOBIG;
                break;
            }
            if (json_array_append_new(sc->items, e) != 0) {
                rc = ZT_ENOMEM;
                break;
            }
        }
    }
    free(line); /* getline's buffer */
    fclose(f);
    return rc;
}

int zt_gdpr_audit_scan(const char *dir, struct zt_gdpr_audit_scan *sc)
{
    if (!dir) return 0;
    struct dirent **names = NULL;
    int n = scandir(dir, &names, name_is_audit, alphasort);
    if (n < 0) return errno == ENOENT ? 0 : ZT_EIO;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        if (!rc) {
            char p[4096];
            int k = snprintf(p, sizeof p, "%s/%s", dir, names[i]->d_name);
            if (k > 0 && (size_t)k < sizeof p) rc = scan_file(p, sc);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

/* ---- retention sweeper -------------------------------------------------- */

/* Regular files (and links, not followed) directly under dir last changed
 * before cutoff_s; subdirectories are left alone. */
static int sweep_dir_files(const char *dir, int64_t cutoff_s, size_t *removed)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : ZT_EIO;
    int rc = 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || (e->d_name[1] == '.' && e->d_name[2] == '\0')))
            continue;
        char p[4096];
        int k = snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (k < 0 || (size_t)k >= sizeof p) continue;
        struct stat st;
        if (lstat(p, &st) != 0) continue;
        if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) continue;
        if ((int64_t)st.st_mtime >= cutoff_s) continue;
        if (unlink(p) == 0) n++;
        else if (errno != ENOENT) rc = ZT_EIO;
    }
    closedir(d);
    *removed = n;
    return rc;
}

int zt_gdpr_sweep(struct zt_gdpr_sweeper *g, int64_t now_ms, struct zt_gdpr_sweep_stats *out)
{
    const struct zt_cfg_privacy *p = &g->cfg->privacy;
    struct zt_gdpr_sweep_stats st;
    memset(&st, 0, sizeof st);
    int first = 0, rc;
    int64_t now_s = now_ms / 1000;
    const char *adir = g->h.audit_dir;
    if (adir && p->retention_audit_days > 0) {
        rc = zt_audit_sweep(adir, p->retention_audit_days, now_s, &st.audit_files);
        if (rc) {
            zt_log(ZT_LOG_WARN, "retention_sweep_failed", "what=audit error=\"%s\"", zt_strerror(rc));
            if (!first) first = rc;
        }
    }
    if (g->h.search_expire && p->retention_search_days > 0) {
        rc = g->h.search_expire(g->h.search_ud, now_ms - p->retention_search_days * 86400 * 1000, &st.search_docs);
        if (rc) {
            zt_log(ZT_LOG_WARN, "retention_sweep_failed", "what=search error=\"%s\"", zt_strerror(rc));
            if (!first) first = rc;
        }
    }
    if (g->h.wallet) zt_wallet_sweep(g->h.wallet, now_s, &st.nonces, &st.sessions);
    if (p->retention_temp_hours > 0) {
        char tdir[4096];
        int k = snprintf(tdir, sizeof tdir, "%s/temp", g->cfg->node.data_dir);
        rc = (k < 0 || (size_t)k >= sizeof tdir) ? ZT_ETOOBIG
                                                 : sweep_dir_files(tdir, now_s - p->retention_temp_hours * 3600,
                                                                   &st.temp_files);
        if (rc) {
            zt_log(ZT_LOG_WARN, "retention_sweep_failed", "what=temp error=\"%s\"", zt_strerror(rc));
            if (!first) first = rc;
        }
    }
    st.runs = atomic_load(&g->runs);
    zt_log(ZT_LOG_INFO, "retention_sweep",
           "audit_files=%u search_docs=%zu nonces=%zu sessions=%zu temp_files=%zu", st.audit_files,
           st.search_docs, st.nonces, st.sessions, st.temp_files);
    if (out) *out = st;
    return first;
}

uint64_t zt_gdpr_sweeper_runs(struct zt_gdpr_sweeper *g)
{
    return atomic_load(&g->runs);
}

static void *sweeper_main(void *arg)
{
    struct zt_gdpr_sweeper *g = arg;
    uint64_t every_ms = (uint64_t)g->cfg->privacy.sweep_interval_s * 1000u;
    pthread_mutex_lock(&g->mu);
    while (!g->stop) {
        pthread_mutex_unlock(&g->mu);
        zt_ignore(zt_gdpr_sweep(g, zt_time_real_ms(), NULL));
        atomic_fetch_add(&g->runs, 1);
        pthread_mutex_lock(&g->mu);
        struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, every_ms);
        while (!g->stop && pthread_cond_timedwait(&g->cv, &g->mu, &ts) != ETIMEDOUT) {
        }
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

int zt_gdpr_sweeper_start(struct zt_gdpr_sweeper *g)
{
    if (g->started) return ZT_EINVAL;
    if (pthread_create(&g->th, NULL, sweeper_main, g) != 0) return ZT_ENOMEM;
    g->started = true;
    return 0;
}

void zt_gdpr_sweeper_free(struct zt_gdpr_sweeper *g)
{
    if (!g) return;
    zt_thread_stop(&g->mu, &g->cv, &g->stop, &g->th, &g->started);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    zt_free(g);
}
