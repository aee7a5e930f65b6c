/* translate.c: Apertium pipelines in null-flush mode. See zt_translate.h and
 * docs/features/translate.md.
 *
 * Why not `apertium -z -f none PAIR`: that script wraps the pipeline in gawk
 * filters that wait for more input before passing a NUL on (a message is
 * never answered until the next one arrives), and its txt deformatter drops
 * NULs altogether. So the pair's pipeline is taken from the mode file with
 * apertium-wblank-mode -z (every stage in null-flush mode) and run by bash
 * in its own process group; we do the txt deformatter's work (escape the
 * stream format's reserved characters, put control characters and '~' in
 * superblanks) and the reformatter's (unescape, unwrap superblanks). The
 * text is followed by an empty superblank "[]" before the NUL: without a
 * blank after the last word, lt-proc holds that word back and the NUL
 * flush never comes. */
#define _GNU_SOURCE /* pipe2: close-on-exec pipes, no window for other spawns */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_log.h"
#include "zentalk/zt_str.h"
#include "translate_int.h"
#include "zentalk/zt_sync.h"
#include "zentalk/zt_time.h"
#include "zentalk/zt_translate.h"

extern char **environ;

#define DEFAULT_MODES_DIR "/usr/share/apertium/modes"
#define DEFAULT_MAX_INPUT 16384u
#define DEFAULT_TIMEOUT_MS 10000u
#define DEFAULT_PIPELINES 2u
#define MAX_PIPELINES 16u
#define MAX_PAIRS 64u
#define SCRIPT_MAX (64u * 1024u)
#define STOP_WAIT_MS 1000u

struct pipeline {
    pid_t pid;      /* bash, leader of the pipeline's process group; -1: not running */
    int in_fd;      /* its stdin (we write) */
    int out_fd;     /* its stdout (we read) */
    bool busy;
};

struct pair {
    char src[4], dst[4];
    char *mode_path;
    char *script;   /* the null-flush pipeline, made on first use */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct pipeline p[MAX_PIPELINES];
};

struct zt_translate {
    struct pair *pairs;
    size_t n_pairs;
    size_t max_input;
    unsigned timeout_ms;
    unsigned n_pipes;
    atomic_bool closed;
    bool raw;
    struct zt_translate_rules *rules;
    zt_translate_detect_fn detect;
    void *detect_ud;
};

/* ---- language codes ----------------------------------------------------- */

static const struct {
    const char *iso1, *iso3;
} langs[] = {
    {"en", "eng"}, {"es", "spa"}, {"ca", "cat"}, {"fr", "fra"}, {"pt", "por"}, {"it", "ita"},
    {"de", "deu"}, {"oc", "oci"}, {"gl", "glg"}, {"eu", "eus"}, {"ro", "ron"}, {"nl", "nld"},
    {"eo", "epo"}, {"an", "arg"}, {"sv", "swe"}, {"da", "dan"}, {"nb", "nob"}, {"nn", "nno"},
    {"is", "isl"}, {"cy", "cym"}, {"br", "bre"}, {"ga", "gle"}, {"pl", "pol"}, {"cs", "ces"},
    {"sk", "slk"}, {"bg", "bul"}, {"mk", "mkd"}, {"ru", "rus"}, {"uk", "ukr"}, {"be", "bel"},
    {"kk", "kaz"}, {"tt", "tat"}, {"tr", "tur"}, {"sc", "srd"}, {"mt", "mlt"}, {"ar", "ara"},
    {"hi", "hin"}, {"ur", "urd"}, {"id", "ind"}, {"ms", "msa"}, {"af", "afr"}, {"fi", "fin"},
    {"sh", "hbs"}, /* Serbo-Croatian: "sh" is withdrawn from 639-1, Apertium's pair is hbs */
};
#define N_LANGS (sizeof langs / sizeof langs[0])

const char *zt_translate_lang3(const char *code)
{
    if (!code) return NULL;
    for (size_t i = 0; i < N_LANGS; i++)
        if (zt_str_eq_ci(code, langs[i].iso1) || zt_str_eq_ci(code, langs[i].iso3)) return langs[i].iso3;
    return NULL;
}

const char *zt_translate_lang1(const char *code3)
{
    for (size_t i = 0; code3 && i < N_LANGS; i++)
        if (zt_str_eq_ci(code3, langs[i].iso3)) return langs[i].iso1;
    return NULL;
}

/* ---- discovery ---------------------------------------------------------- */

static struct pair *find_pair(const struct zt_translate *t, const char *s3, const char *d3);

static bool is_lang3(const char *s)
{
    for (int i = 0; i < 3; i++)
        if (s[i] < 'a' || s[i] > 'z') return false;
    return true;
}

static int pair_cmp(const void *a, const void *b)
{
    const struct pair *x = a, *y = b;
    int c = strcmp(x->src, y->src);
    return c ? c : strcmp(x->dst, y->dst);
}

int zt_translate_new(const struct zt_translate_opts *opts, struct zt_translate **out)
{
    int rc = 0;
    DIR *d = NULL;
    struct zt_translate *t = zt_calloc(1, sizeof *t);
    if (!t) return ZT_ENOMEM;
    const char *dir = opts && opts->modes_dir && opts->modes_dir[0] ? opts->modes_dir : DEFAULT_MODES_DIR;
    t->max_input = opts && opts->max_input_bytes ? opts->max_input_bytes : DEFAULT_MAX_INPUT;
    t->timeout_ms = opts && opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
    t->n_pipes = opts && opts->pipelines ? opts->pipelines : DEFAULT_PIPELINES;
    if (t->n_pipes > MAX_PIPELINES) t->n_pipes = MAX_PIPELINES;
    t->pairs = zt_calloc(MAX_PAIRS, sizeof *t->pairs);
    if (!t->pairs) {
        rc = ZT_ENOMEM;
        goto out;
    }
    t->raw = opts && opts->raw;
    if (!t->raw) {
        char err[256];
        const char *rp = opts && opts->rules_path && opts->rules_path[0] ? opts->rules_path : NULL;
        rc = rp ? zt_translate_rules_load(rp, &t->rules, err, sizeof err)
                : zt_translate_rules_builtin(&t->rules, err, sizeof err);
        if (rc) {
            zt_log(ZT_LOG_ERROR, "translate_rules_invalid", "%s", err);
            goto out;
        }
    }
    d = opendir(dir);
    if (!d) {
        /* no Apertium: the feature answers "no pair installed" */
        zt_log(ZT_LOG_INFO, "translate_no_modes", "dir=%s errno=%d", dir, errno);
        goto done;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL && t->n_pairs < MAX_PAIRS) {
        const char *n = e->d_name;
        /* exactly "lll-lll.mode" or "ll-ll.mode": variants (eng-cat_valencia) are skipped */
        char s3[4] = {0}, d3[4] = {0};
        bool two = false;
        if (strlen(n) == 12 && n[3] == '-' && strcmp(n + 7, ".mode") == 0 && is_lang3(n) && is_lang3(n + 4)) {
            memcpy(s3, n, 3);
            memcpy(d3, n + 4, 3);
        } else if (strlen(n) == 10 && n[2] == '-' && strcmp(n + 5, ".mode") == 0) {
            char a[3] = {n[0], n[1], 0}, b[3] = {n[3], n[4], 0};
            const char *x = zt_translate_lang3(a), *y = zt_translate_lang3(b);
            if (!x || !y) continue;
            memcpy(s3, x, 3);
            memcpy(d3, y, 3);
            two = true;
        } else {
            continue;
        }
        struct pair *p = find_pair(t, s3, d3);
        if (p && two) continue; /* eng-glg.mode and en-gl.mode: the first */
        if (p) {
            zt_free(p->mode_path); /* a three-letter name over a two-letter one */
            p->mode_path = NULL;
        } else {
            p = &t->pairs[t->n_pairs++];
        }
        memcpy(p->src, s3, 4);
        memcpy(p->dst, d3, 4);
        char path[4096];
        int pl = snprintf(path, sizeof path, "%s/%s", dir, n);
        if (pl < 0 || (size_t)pl >= sizeof path) {
            if (!p->mode_path) t->n_pairs--; /* the one just taken */
            continue;
        }
        p->mode_path = zt_strdup(path);
        if (!p->mode_path) {
            rc = ZT_ENOMEM;
            goto out;
        }
    }
done:
    qsort(t->pairs, t->n_pairs, sizeof *t->pairs, pair_cmp);
    for (size_t i = 0; i < t->n_pairs; i++) {
        pthread_mutex_init(&t->pairs[i].mu, NULL);
        zt_cond_init_mono(&t->pairs[i].cv);
        for (unsigned k = 0; k < MAX_PIPELINES; k++) {
            t->pairs[i].p[k].pid = -1;
            t->pairs[i].p[k].in_fd = t->pairs[i].p[k].out_fd = -1;
        }
    }
    zt_log(ZT_LOG_INFO, "translate_pairs", "dir=%s pairs=%zu", dir, t->n_pairs);
    *out = t;
    t = NULL;
out:
    if (d) closedir(d);
    if (t) {
        for (size_t i = 0; t->pairs && i < t->n_pairs; i++) zt_free(t->pairs[i].mode_path);
        zt_free(t->pairs);
        zt_translate_rules_free(t->rules);
        zt_free(t);
    }
    return rc;
}

size_t zt_translate_pair_count(const struct zt_translate *t)
{
    return t ? t->n_pairs : 0;
}

void zt_translate_pair(const struct zt_translate *t, size_t i, const char **source, const char **target)
{
    *source = t->pairs[i].src;
    *target = t->pairs[i].dst;
}

static struct pair *find_pair(const struct zt_translate *t, const char *s3, const char *d3)
{
    for (size_t i = 0; t && s3 && d3 && i < t->n_pairs; i++)
        if (strcmp(t->pairs[i].src, s3) == 0 && strcmp(t->pairs[i].dst, d3) == 0) return &t->pairs[i];
    return NULL;
}

bool zt_translate_has_pair(const struct zt_translate *t, const char *source3, const char *target3)
{
    return find_pair(t, source3, target3) != NULL;
}

/* ---- processes ---------------------------------------------------------- */

/* Spawn argv with stdin from in_fd (or /dev/null when -1), stdout to
 * out_fd, stderr to /dev/null, in a new process group, with the signal
 * mask and the handlers the node changed put back to defaults. */
static int spawn(char *const argv[], int in_fd, int out_fd, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int rc = ZT_EIO;
    if (posix_spawn_file_actions_init(&fa) != 0) return ZT_ENOMEM;
    if (posix_spawnattr_init(&at) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return ZT_ENOMEM;
    }
    sigset_t none, def;
    sigemptyset(&none);
    sigemptyset(&def);
    sigaddset(&def, SIGPIPE);
    sigaddset(&def, SIGTERM);
    sigaddset(&def, SIGINT);
    sigaddset(&def, SIGHUP);
    int e = 0;
    if (in_fd >= 0) e |= posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    else e |= posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    e |= posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    e |= posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    e |= posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    e |= posix_spawnattr_setpgroup(&at, 0);
    e |= posix_spawnattr_setsigmask(&at, &none);
    e |= posix_spawnattr_setsigdefault(&at, &def);
    /* the same environment with a UTF-8 character type, as apertium's script sets */
    size_t n_env = 0;
    while (environ && environ[n_env]) n_env++;
    char **env = zt_calloc(n_env + 2, sizeof *env);
    if (!env || e) {
        rc = env ? ZT_EIO : ZT_ENOMEM;
        goto out;
    }
    size_t k = 0;
    for (size_t i = 0; i < n_env; i++)
        if (!zt_str_starts_with(environ[i], "LC_ALL=")) env[k++] = environ[i];
    env[k++] = (char *)"LC_ALL=C.UTF-8";
    env[k] = NULL;
    if (posix_spawnp(pid, argv[0], &fa, &at, argv, env) == 0) rc = 0;
out:
    zt_free(env);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return rc;
}

/* Wait for pid up to ms; then SIGKILL its process group and reap it. */
static void reap(pid_t pid, unsigned ms)
{
    uint64_t deadline = zt_time_mono_ms() + ms;
    for (;;) {
        pid_t r = waitpid(pid, NULL, WNOHANG);
        if (r == pid || (r < 0 && errno != EINTR)) break;
        if (r == 0 && zt_time_mono_ms() >= deadline) {
            kill(-pid, SIGKILL);
            while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        if (r == 0) zt_time_sleep_ms(5);
    }
    kill(-pid, SIGKILL); /* stages that outlived bash */
}

/* The pair's null-flush pipeline script: `apertium-wblank-mode -z MODE`. */
static int make_script(struct pair *p)
{
    int fds[2] = {-1, -1};
    pid_t pid = -1;
    int rc = 0;
    struct zt_buf b;
    zt_buf_init(&b, SCRIPT_MAX);
    if (pipe2(fds, O_CLOEXEC) != 0) return ZT_EIO;
    char *argv[] = {(char *)"apertium-wblank-mode", (char *)"-z", p->mode_path, NULL};
    rc = spawn(argv, -1, fds[1], &pid);
    close(fds[1]);
    fds[1] = -1;
    if (rc) goto out;
    uint64_t deadline = zt_time_mono_ms() + 5000;
    char chunk[4096];
    for (;;) {
        uint64_t now = zt_time_mono_ms();
        if (now >= deadline) {
            rc = ZT_ETIMEDOUT;
            break;
        }
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int pr = poll(&pfd, 1, (int)(deadline - now));
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) continue;
        ssize_t n = read(fds[0], chunk, sizeof chunk);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        rc = zt_buf_append(&b, chunk, (size_t)n);
        if (rc) break;
    }
    reap(pid, 1000);
    pid = -1;
    if (!rc && b.len == 0) rc = ZT_EIO;
    if (rc) goto out;
    while (b.len && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == ' ')) b.data[--b.len] = '\0';
    p->script = zt_buf_detach(&b, NULL);
    if (!p->script) rc = ZT_ENOMEM;
out:
    if (fds[0] >= 0) close(fds[0]);
    zt_buf_deinit(&b);
    if (rc) zt_log(ZT_LOG_WARN, "translate_mode_failed", "pair=%s-%s rc=%d", p->src, p->dst, rc);
    return rc;
}

static void pipe_stop(struct pipeline *pl, bool gently)
{
    if (pl->in_fd >= 0) close(pl->in_fd); /* EOF: a healthy pipeline exits */
    if (pl->out_fd >= 0) close(pl->out_fd);
    pl->in_fd = pl->out_fd = -1;
    if (pl->pid > 0) {
        if (!gently) kill(-pl->pid, SIGKILL);
        reap(pl->pid, gently ? STOP_WAIT_MS : 0);
    }
    pl->pid = -1;
}

static int pipe_start(struct pair *p, struct pipeline *pl)
{
    int in[2] = {-1, -1}, outp[2] = {-1, -1};
    int rc = 0;
    if (pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0) {
        rc = ZT_EIO;
        goto out;
    }
    /* $1 is the generator's option (-g: marks on unknown words), $2 the
     * tagger's (none), as apertium's own script passes them */
    char *argv[] = {(char *)"bash", (char *)"-c", p->script, (char *)"zt-apertium", (char *)"-g",
                    (char *)"", NULL};
    pid_t pid;
    rc = spawn(argv, in[0], outp[1], &pid);
    if (rc) goto out;
    pl->pid = pid;
    pl->in_fd = in[1];
    pl->out_fd = outp[0];
    in[1] = outp[0] = -1;
    fcntl(pl->in_fd, F_SETFL, O_NONBLOCK);
    fcntl(pl->out_fd, F_SETFL, O_NONBLOCK);
    zt_log(ZT_LOG_DEBUG, "translate_pipeline_started", "pair=%s-%s pid=%d", p->src, p->dst, (int)pid);
out:
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0) close(in[i]);
        if (outp[i] >= 0) close(outp[i]);
    }
    return rc;
}

/* ---- stream format ------------------------------------------------------ */

/* Text -> Apertium stream: reserved characters escaped, control characters
 * and '~' (the generator's own marker, lost even when escaped) kept verbatim
 * in superblanks, then "[]" and the NUL that flushes the pipeline. */
static int encode(const char *s, size_t n, struct zt_buf *b)
{
    int rc = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        unsigned char c = (unsigned char)s[i];
        if (strchr("\\$/<>@[]^{}", c) && c) {
            char e[2] = {'\\', (char)c};
            rc = zt_buf_append(b, e, 2);
        } else if (c < 0x20 || c == 0x7f || c == '~') {
            char e[3] = {'[', (char)c, ']'};
            rc = zt_buf_append(b, e, 3);
        } else {
            rc = zt_buf_append_byte(b, (char)c);
        }
    }
    if (!rc) rc = zt_buf_append(b, "[]\0", 3);
    return rc;
}

static bool is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Apertium stream -> text, appended to out: escapes undone, superblanks
 * unwrapped, [[...]] word-bound blanks dropped, and (unless keep_marks)
 * the marks * # @ dropped where they start a word. */
static int decode(const char *s, size_t n, bool keep_marks, struct zt_buf *out)
{
    int rc = 0;
    size_t i = 0;
    while (i < n && !rc) {
        char c = s[i];
        if (c == '\\' && i + 1 < n) {
            rc = zt_buf_append_byte(out, s[i + 1]);
            i += 2;
        } else if (c == '[' && i + 1 < n && s[i + 1] == '[') { /* [[word-bound blank]] */
            size_t j = i + 2;
            while (j + 1 < n && !(s[j] == ']' && s[j + 1] == ']')) j += (s[j] == '\\') ? 2 : 1;
            i = j + 2;
        } else if (c == '[') { /* superblank: its content verbatim */
            size_t j = i + 1;
            while (j < n && s[j] != ']') {
                if (s[j] == '\\' && j + 1 < n) j++;
                rc = zt_buf_append_byte(out, s[j]);
                if (rc) break;
                j++;
            }
            i = j + 1;
        } else if (!keep_marks && (c == '*' || c == '#' || c == '@') && i + 1 < n &&
                   !is_ws((unsigned char)s[i + 1]) && !strchr("*#@.,;:!?()[]\\", s[i + 1])) {
            i++;
        } else {
            rc = zt_buf_append_byte(out, c);
            i++;
        }
    }
    return rc;
}

/* ---- requests ----------------------------------------------------------- */

/* Send the encoded request and read up to the NUL. ZT_EIO when the
 * pipeline died (EOF or EPIPE), ZT_ETIMEDOUT at the deadline. */
static int exchange(struct pipeline *pl, const struct zt_buf *req, struct zt_buf *resp, uint64_t deadline)
{
    size_t off = 0;
    char chunk[8192];
    for (;;) {
        uint64_t now = zt_time_mono_ms();
        if (now >= deadline) return ZT_ETIMEDOUT;
        struct pollfd pfd[2] = {{.fd = pl->out_fd, .events = POLLIN}, {.fd = pl->in_fd, .events = POLLOUT}};
        nfds_t nf = off < req->len ? 2 : 1;
        int pr = poll(pfd, nf, (int)(deadline - now));
        if (pr < 0 && errno != EINTR) return ZT_EIO;
        if (pr <= 0) continue;
        if (nf == 2 && (pfd[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = write(pl->in_fd, req->data + off, req->len - off);
            if (w > 0) off += (size_t)w;
            else if (w < 0 && errno != EAGAIN && errno != EINTR) return ZT_EIO; /* EPIPE: it died */
        }
        if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(pl->out_fd, chunk, sizeof chunk);
            if (r == 0) return ZT_EIO;
            if (r < 0) {
                if (errno == EAGAIN || errno == EINTR) continue;
                return ZT_EIO;
            }
            char *nul = memchr(chunk, '\0', (size_t)r);
            size_t take = nul ? (size_t)(nul - chunk) : (size_t)r;
            int rc = zt_buf_append(resp, chunk, take);
            if (rc) return rc;
            if (nul) {
                /* anything after the NUL would belong to no request: a
                 * stage that emits extra flushes is not usable */
                if ((size_t)(nul - chunk) + 1 != (size_t)r) return ZT_EIO;
                return off == req->len ? 0 : ZT_EIO;
            }
        }
    }
}

static int acquire(struct zt_translate *t, struct pair *p, uint64_t deadline, struct pipeline **out)
{
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    if (!p->script) rc = make_script(p);
    while (!rc) {
        if (atomic_load(&t->closed)) {
            rc = ZT_ECLOSED;
            break;
        }
        struct pipeline *free_pl = NULL;
        for (unsigned i = 0; i < t->n_pipes && !free_pl; i++)
            if (!p->p[i].busy && p->p[i].pid > 0) free_pl = &p->p[i]; /* prefer a running one */
        for (unsigned i = 0; i < t->n_pipes && !free_pl; i++)
            if (!p->p[i].busy) free_pl = &p->p[i];
        if (free_pl) {
            free_pl->busy = true;
            *out = free_pl;
            break;
        }
        uint64_t now = zt_time_mono_ms();
        if (now >= deadline) {
            rc = ZT_ETIMEDOUT;
            break;
        }
        struct timespec ts = zt_time_after_ms(CLOCK_MONOTONIC, deadline - now);
        pthread_cond_timedwait(&p->cv, &p->mu, &ts);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void release(struct pair *p, struct pipeline *pl)
{
    pthread_mutex_lock(&p->mu);
    pl->busy = false;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int zt_translate_text(struct zt_translate *t, const char *source3, const char *target3, const char *text,
                      size_t len, bool keep_marks, struct zt_buf *out)
{
    int rc = 0;
    struct pipeline *pl = NULL;
    struct zt_buf req, resp;
    zt_buf_init(&req, 3 * t->max_input + 8);
    zt_buf_init(&resp, 8 * t->max_input + 4096);
    if (atomic_load(&t->closed)) return ZT_ECLOSED;
    if (len == 0) return ZT_EINVAL;
    if (len > t->max_input) return ZT_ETOOBIG;
    if (memchr(text, '\0', len) || !zt_utf8_valid(text, len)) return ZT_EINVAL;
    struct pair *p = find_pair(t, source3, target3);
    if (!p) return ZT_ENOTFOUND;
    bool edit = !keep_marks && !t->raw;
    struct zt_buf pre;
    zt_buf_init(&pre, 2 * t->max_input);
    rc = edit ? zt_translate_rules_apply(t->rules, false, p->src, text, len, &pre) : 0;
    if (!rc) rc = edit ? encode(pre.data ? pre.data : "", pre.len, &req) : encode(text, len, &req);
    zt_buf_deinit(&pre);
    if (rc) goto out;
    uint64_t deadline = zt_time_mono_ms() + t->timeout_ms;
    rc = acquire(t, p, deadline, &pl);
    if (rc) goto out;
    for (int attempt = 0; attempt < 2; attempt++) {
        if (pl->pid <= 0) {
            rc = pipe_start(p, pl);
            if (rc) break;
        }
        zt_buf_reset(&resp);
        rc = exchange(pl, &req, &resp, deadline);
        if (rc == 0) break;
        /* dead, stuck or out of step: this pipeline is gone either way */
        zt_log_rl(ZT_LOG_WARN, 10, "translate_pipeline_restart", "pair=%s-%s pid=%d reason=%s", p->src,
                  p->dst, (int)pl->pid, rc == ZT_ETIMEDOUT ? "timeout" : "died");
        pipe_stop(pl, false);
        if (rc != ZT_EIO || atomic_load(&t->closed)) break; /* retry a death, not a timeout */
    }
    release(p, pl);
    if (rc) {
        if (atomic_load(&t->closed)) rc = ZT_ECLOSED;
        goto out;
    }
    /* keep the caller's outer whitespace, not the pipeline's */
    size_t lead = 0, trail = 0;
    while (lead < len && is_ws((unsigned char)text[lead])) lead++;
    while (trail < len - lead && is_ws((unsigned char)text[len - 1 - trail])) trail++;
    struct zt_buf dec, post;
    zt_buf_init(&dec, resp.max);
    zt_buf_init(&post, resp.max);
    rc = decode(resp.data ? resp.data : "", resp.len, keep_marks, &dec);
    if (!rc && edit) {
        /* the target's rewrites, then the tidying */
        rc = zt_translate_rules_apply(t->rules, true, p->dst, dec.data ? dec.data : "", dec.len, &post);
        zt_buf_reset(&dec);
        if (!rc) rc = zt_translate_tidy(text, len, p->dst, post.data ? post.data : "", post.len, &dec);
    }
    zt_buf_deinit(&post);
    size_t a = 0, z = dec.len;
    while (a < z && is_ws((unsigned char)dec.data[a])) a++;
    while (z > a && is_ws((unsigned char)dec.data[z - 1])) z--;
    size_t start = out->len;
    if (!rc) rc = zt_buf_append(out, text, lead);
    if (!rc && z > a) rc = zt_buf_append(out, dec.data + a, z - a);
    if (!rc) rc = zt_buf_append(out, text + len - trail, trail);
    if (rc) {
        out->len = start;
        if (out->data) out->data[start] = '\0';
    }
    zt_buf_deinit(&dec);
out:
    zt_buf_deinit(&req);
    zt_buf_deinit(&resp);
    return rc;
}

/* Stop a pair's pipelines (a busy one belongs to a request still running:
 * wait for it a while) and free what the pair holds. */
static void pair_deinit(struct pair *p)
{
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    for (int spin = 0; spin < 2000; spin++) {
        bool busy = false;
        for (unsigned k = 0; k < MAX_PIPELINES; k++) busy |= p->p[k].busy;
        if (!busy) break;
        pthread_mutex_unlock(&p->mu);
        zt_time_sleep_ms(5);
        pthread_mutex_lock(&p->mu);
    }
    for (unsigned k = 0; k < MAX_PIPELINES; k++)
        if (!p->p[k].busy) pipe_stop(&p->p[k], true);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
    zt_free(p->mode_path);
    zt_free(p->script);
}

void zt_translate_free(struct zt_translate *t)
{
    if (!t) return;
    atomic_store(&t->closed, true);
    for (size_t i = 0; i < t->n_pairs; i++) pair_deinit(&t->pairs[i]);
    zt_free(t->pairs);
    zt_translate_rules_free(t->rules);
    zt_free(t);
}

/* ---- detection hook ----------------------------------------------------- */

void zt_translate_set_detector(struct zt_translate *t, zt_translate_detect_fn fn, void *ud)
{
    t->detect = fn;
    t->detect_ud = ud;
}

bool zt_translate_has_detector(const struct zt_translate *t)
{
    return t && t->detect;
}

int zt_translate_detect(struct zt_translate *t, const char *text, size_t len, char lang3[static 4],
                        double *confidence)
{
    if (!t || !t->detect) return ZT_EUNSUPPORTED;
    char l[4] = {0};
    double c = 0;
    int rc = t->detect(t->detect_ud, text, len, l, &c);
    if (rc) return rc;
    l[3] = '\0';
    memcpy(lang3, l, 4);
    *confidence = c;
    return 0;
}

int zt_translate_debug_pid(struct zt_translate *t, const char *source3, const char *target3, unsigned idx)
{
    struct pair *p = find_pair(t, source3, target3);
    if (!p || idx >= MAX_PIPELINES) return -1;
    pthread_mutex_lock(&p->mu);
    int pid = (int)p->p[idx].pid;
    pthread_mutex_unlock(&p->mu);
    return pid;
}
