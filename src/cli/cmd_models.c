/* cmd_models.c: `zentalk models pull|list|rm`, the node's local model store.
 *
 * Models live in DIR/models/ (DIR: --data-dir, else $ZENTALK_NODE_DATA_DIR,
 * else "data", the same default as node.data_dir), one FILE.gguf each with a
 * FILE.gguf.sha256 sidecar in sha256sum format. A pull downloads into
 * .FILE.gguf.partial, which survives failures and Ctrl-C so that the next
 * pull resumes with a Range request; only a complete, verified GGUF is
 * renamed to its final name, so a node scanning the directory never sees a
 * half-written model. The download is untrusted input until it has passed
 * the checksum (when given) and zt_gguf_open(). */
#include <curl/curl.h> /* its URL parser, for file:// paths */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd.h"
#include "http.h"
#include "cmd_models.h"
#include "cmd_mesh.h"
#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hex.h"
#include "zentalk/zt_buf.h"
#include "zentalk/zt_file.h"
#include "zentalk/zt_gguf.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_http_client.h"
#include "zentalk/zt_str.h"
#include "zentalk/zt_time.h"

#define PATH_CAP 4096
#define NAME_MAX_LEN 200     /* room for "." + ".partial" / ".sha256.tmp" within NAME_MAX */
#define URL_MAX_LEN 8192
#define HASH_CHUNK (1u << 20) /* read size when hashing an existing .partial */
#define MAX_LIST 10000u       /* directory entries examined by `list` */
#define HEX_LEN (2 * ZT_SHA256_LEN)
#define EXIT_INTERRUPTED 130  /* 128 + SIGINT, as shells report it */

/* Set by SIGINT/SIGTERM; the transfer callbacks see it and abort, leaving
 * the .partial in place for the next pull to resume. */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

#define say_error zt__cli_say /* cmd.h */

static void models_usage(FILE *out)
{
    fprintf(out,
            "Usage: zentalk models pull URL [--sha256 HEX] [--name FILE] [--force] [--data-dir DIR]\n"
            "       zentalk models pull sha256:HEX [--from URL] [--name FILE]\n"
            "       zentalk models list [--json] [--data-dir DIR]\n"
            "       zentalk models rm NAME [--data-dir DIR]\n"
            "\n"
            "Manage the GGUF models in DIR/models/ (DIR: --data-dir, else\n"
            "$ZENTALK_NODE_DATA_DIR, else \"data\").\n"
            "\n"
            "  pull URL      download a GGUF model (http://, https:// or file://); an\n"
            "                interrupted pull resumes where it stopped when run again\n"
            "    --sha256 HEX  expected SHA-256; on mismatch nothing is kept; the node's mesh\n"
            "                  (its peers, verified chunk by chunk) is tried first, then the URL\n"
            "  pull sha256:HEX  fetch from the peers of the node at $ZENTALK_URL into its\n"
            "                models directory; --from URL: the download used when the peers\n"
            "                cannot give it (no holder, or every holder failed)\n"
            "    --name FILE   file name to save as (default: the URL's last segment;\n"
            "                  letters, digits, '.', '_', '-', ending in .gguf)\n"
            "    --force       replace an existing model of that name\n"
            "  list          show each model: size, architecture, parameters, tensors,\n"
            "                dominant tensor type, context length, sha256\n"
            "    --json        the same as a JSON object\n"
            "  rm NAME       delete a model, its .sha256 sidecar and any partial download\n"
            "\n"
            "Exit status: 0 success, 1 error, 2 usage error, 130 interrupted.\n");
}

/* ---- names and paths ---------------------------------------------------- */

static bool name_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

/* A model file name: [A-Za-z0-9._-], no leading dot (no hidden files, no
 * "." or ".."), ending in .gguf. No '/' can pass, so it never leaves the
 * models directory. */
static bool model_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n <= strlen(".gguf") || n > NAME_MAX_LEN || s[0] == '.') return false;
    for (size_t i = 0; i < n; i++)
        if (!name_char_ok(s[i])) return false;
    return zt_str_ends_with(s, ".gguf");
}

static const char *default_data_dir(void)
{
    const char *d = getenv("ZENTALK_NODE_DATA_DIR");
    return d && *d ? d : "data";
}

/* DIR/models without a doubled '/', or -1 (and a message) when too long. */
static int models_dir_path(const char *data_dir, char *out, size_t cap)
{
    size_t n = strlen(data_dir);
    while (n > 1 && data_dir[n - 1] == '/') n--;
    if (n > PATH_CAP) {
        say_error("--data-dir is too long");
        return -1;
    }
    int w = snprintf(out, cap, "%.*s/models", (int)n, data_dir);
    if (w < 0 || (size_t)w >= cap) {
        say_error("--data-dir is too long");
        return -1;
    }
    return 0;
}

/* dir/prefix+name+suffix, or -1 when it does not fit. */
static int file_path(char *out, size_t cap, const char *dir, const char *prefix, const char *name,
                     const char *suffix)
{
    int w = snprintf(out, cap, "%s/%s%s%s", dir, prefix, name, suffix);
    if (w < 0 || (size_t)w >= cap) {
        say_error("path too long: %s/%s%s%s", dir, prefix, name, suffix);
        return -1;
    }
    return 0;
}

/* mkdir 0700 if missing (an existing directory keeps its mode: it is the
 * user's), and refuse something that is not a directory. */
static int ensure_dir(const char *path)
{
    if (mkdir(path, 0700) != 0 && errno != EEXIST) {
        say_error("cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        say_error("cannot stat %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        say_error("%s exists and is not a directory", path);
        return -1;
    }
    return 0;
}

/* Best effort: a rename is durable only once its directory is synced. */
static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    zt_ignore(fsync(fd));
    close(fd);
}

static bool path_exists(const char *p)
{
    struct stat st;
    return lstat(p, &st) == 0;
}

/* Copy up to cap-1 bytes of s for a terminal or JSON: control characters
 * (escape sequences from a hostile file) become '?', and so do bytes >= 0x80
 * unless the whole string is valid UTF-8. */
static void printable(char *out, size_t cap, const char *s, size_t n)
{
    if (cap == 0) return;
    if (n > cap - 1) n = cap - 1;
    bool utf8 = zt_utf8_valid(s, n);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8)) ? '?' : (char)c;
    }
    out[n] = '\0';
    /* a cut in the middle of a UTF-8 sequence would make it invalid again */
    if (utf8 && !zt_utf8_valid(out, n)) {
        while (n > 0 && ((unsigned char)out[n - 1] & 0xC0) == 0x80) out[--n] = '\0';
        if (n > 0 && (unsigned char)out[n - 1] >= 0xC0) out[--n] = '\0';
    }
}

static void fmt_bytes(char *out, size_t cap, uint64_t b)
{
    double v = (double)b;
    if (b >= (1ull << 30)) snprintf(out, cap, "%.2f GiB", v / (1024.0 * 1024.0 * 1024.0));
    else if (b >= (1ull << 20)) snprintf(out, cap, "%.1f MiB", v / (1024.0 * 1024.0));
    else if (b >= 1024) snprintf(out, cap, "%.1f KiB", v / 1024.0);
    else snprintf(out, cap, "%" PRIu64 " B", b);
}

/* ---- URLs --------------------------------------------------------------- */

static bool url_scheme_ok(const char *url)
{
    return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0 ||
           strncasecmp(url, "file://", 7) == 0;
}

/* The URL for messages: no user:password@ and no query or fragment, which
 * may carry access tokens (signed download links are common for models). */
static void url_for_display(const char *url, char *out, size_t cap)
{
    size_t end = strcspn(url, "?#");
    const char *tail = url[end] ? "?..." : "";
    const char *sep = strstr(url, "://");
    if (!sep || (size_t)(sep - url) > end) {
        snprintf(out, cap, "%.*s%s", (int)end, url, tail);
        return;
    }
    size_t auth = (size_t)(sep - url) + 3;
    size_t auth_end = auth + strcspn(url + auth, "/?#");
    size_t host = auth;
    for (size_t i = auth; i < auth_end; i++)
        if (url[i] == '@') host = i + 1;
    snprintf(out, cap, "%.*s%.*s%s", (int)auth, url, (int)(end - host), url + host, tail);
}

/* The last path segment of url (before any query or fragment), or -1 when
 * the URL has no path segment to use. */
static int name_from_url(const char *url, char *out, size_t cap)
{
    size_t end = strcspn(url, "?#");
    const char *sep = strstr(url, "://");
    size_t start = sep && (size_t)(sep - url) < end ? (size_t)(sep - url) + 3 : 0;
    start += strcspn(url + start, "/?#"); /* skip the authority */
    if (start >= end) return -1;
    size_t seg = start;
    for (size_t i = start; i < end; i++)
        if (url[i] == '/') seg = i + 1;
    size_t n = end - seg;
    if (n == 0 || n >= cap) return -1;
    memcpy(out, url + seg, n);
    out[n] = '\0';
    return 0;
}

static bool parse_hex_sha256(const char *s, char out[HEX_LEN + 1])
{
    uint8_t sha[ZT_SHA256_LEN];
    if (zt_hex_decode_str(sha, sizeof sha, s, ZT_HEX_ANY_CASE) != 0) return false;
    zt_hex_encode(out, sha, sizeof sha); /* the canonical lower case */
    return true;
}

/* ---- pull --------------------------------------------------------------- */

struct pull {
    int fd;                  /* the .partial, opened for append */
    struct zt_sha256_ctx sha; /* over every byte in the .partial */
    uint64_t have;           /* bytes in the .partial */
    uint64_t resume_from;    /* have when this transfer started */
    uint64_t total;          /* expected final size; 0 = unknown */
    unsigned char magic[4];  /* the first bytes of the file */
    bool not_gguf;           /* set as soon as 4 bytes are in and are not "GGUF" */
    bool range_ignored;      /* asked for a range, got the whole body (200) */
    long http;               /* the response's status (0 for file://) */
    int write_errno;
    bool tty;
    uint64_t t_start_ns;
    uint64_t t_draw_ns;
};

/* Record the file's first bytes; a non-GGUF body (an HTML error or login
 * page served with 200) is caught after 4 bytes, not after the whole download. */
static void note_magic(struct pull *p, const void *data, size_t n)
{
    const unsigned char *d = data;
    for (size_t i = 0; i < n && p->have + i < 4; i++) p->magic[p->have + i] = d[i];
    if (p->have + n >= 4 && memcmp(p->magic, "GGUF", 4) != 0) p->not_gguf = true;
}

static void pull_reset(struct pull *p)
{
    zt_sha256_init(&p->sha);
    p->have = 0;
    p->total = 0;
    p->not_gguf = false;
    memset(p->magic, 0, sizeof p->magic);
}

/* Append a piece of the download to the .partial (and the hash). 0, or a
 * ZT_E* that stops the transfer: ZT_ECLOSED (Ctrl-C), ZT_EPARSE (not a
 * GGUF), ZT_EIO (p->write_errno says why). */
static int take_bytes(struct pull *p, const char *data, size_t n)
{
    if (interrupted) return ZT_ECLOSED;
    note_magic(p, data, n);
    if (p->not_gguf) return ZT_EPARSE;
    if (zt_fd_write_full(p->fd, data, n) != 0) {
        p->write_errno = errno ? errno : EIO;
        return ZT_EIO;
    }
    zt_sha256_update(&p->sha, data, n);
    p->have += n;
    return 0;
}

static void fmt_eta(char *out, size_t cap, double secs)
{
    if (secs < 0 || secs > 100.0 * 3600.0) {
        snprintf(out, cap, "--:--");
        return;
    }
    long s = (long)secs;
    if (s >= 3600) snprintf(out, cap, "%ld:%02ld:%02ld", s / 3600, (s % 3600) / 60, s % 60);
    else snprintf(out, cap, "%ld:%02ld", s / 60, s % 60);
}

/* One progress line on stderr, redrawn in place: bar, bytes, percent, rate, ETA. */
static void draw_progress(const struct pull *p, uint64_t now)
{
    double el = (double)(now - p->t_start_ns) / 1e9;
    double rate = el > 0 ? (double)(p->have - p->resume_from) / el : 0;
    char have_s[32], total_s[32], rate_s[32], eta_s[32];
    fmt_bytes(have_s, sizeof have_s, p->have);
    fmt_bytes(rate_s, sizeof rate_s, (uint64_t)rate);
    if (p->total > 0 && p->have <= p->total) {
        enum { BAR = 24 };
        char bar[BAR + 1];
        double frac = (double)p->have / (double)p->total;
        size_t fill = (size_t)(frac * BAR);
        for (size_t i = 0; i < BAR; i++) bar[i] = i < fill ? '#' : '.';
        bar[BAR] = '\0';
        fmt_bytes(total_s, sizeof total_s, p->total);
        fmt_eta(eta_s, sizeof eta_s, rate > 0 ? (double)(p->total - p->have) / rate : -1);
        fprintf(stderr, "\r[%s] %s / %s %5.1f%%  %s/s  ETA %s\033[K", bar, have_s, total_s,
                frac * 100.0, rate_s, eta_s);
    } else {
        fprintf(stderr, "\r%s  %s/s\033[K", have_s, rate_s);
    }
    fflush(stderr);
}

/* Redraw the progress line (10 times a second at most). */
static void progress(struct pull *p)
{
    if (!p->tty || (p->total == 0 && p->have == p->resume_from)) return; /* nothing to show yet */
    uint64_t now = zt_time_mono_ns();
    if (now - p->t_draw_ns >= 100000000u) {
        p->t_draw_ns = now;
        draw_progress(p, now);
    }
}

static int on_head(void *ud, long status, const char *content_type, int64_t content_length)
{
    (void)content_type;
    struct pull *p = ud;
    p->http = status;
    if (status < 200 || status > 299) return ZT_ENET; /* an error page is not the model */
    /* libcurl itself refuses most ignored ranges (ZT_ERANGE); this catches
     * any 200 that gets through, so no byte lands at the wrong offset */
    if (p->resume_from > 0 && status == 200) {
        p->range_ignored = true;
        return ZT_ERANGE;
    }
    if (content_length > 0) p->total = p->resume_from + (uint64_t)content_length;
    return 0;
}

static int on_body(void *ud, const void *data, size_t n)
{
    struct pull *p = ud;
    int rc = take_bytes(p, data, n);
    if (rc == 0) progress(p);
    return rc;
}

static bool should_stop(void *ud)
{
    (void)ud;
    return interrupted != 0;
}

/* The local path of a file:// URL (host empty or localhost; %XX decoded),
 * parsed by libcurl's URL parser as libcurl's file:// did; -1 when it is
 * not one. */
static int file_url_path(const char *url, char *out, size_t cap)
{
    char *host = NULL, *path = NULL;
    CURLU *u = curl_url();
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_PATH, &path, CURLU_URLDECODE) == CURLUE_OK && strlen(path) < cap;
    if (ok && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
        ok = host[0] == '\0' || strcasecmp(host, "localhost") == 0;
    if (ok) memcpy(out, path, strlen(path) + 1);
    curl_free(host);
    curl_free(path);
    curl_url_cleanup(u);
    return ok ? 0 : -1;
}

/* A file:// "download" is a local copy from p->have onwards; no libcurl (the
 * outbound HTTP client speaks http and https only). ZT_ERANGE when the file
 * is now shorter than the .partial. */
static int copy_local(struct pull *p, const char *url, char *why, size_t why_len)
{
    char path[PATH_CAP];
    if (file_url_path(url, path, sizeof path) != 0) {
        snprintf(why, why_len, "not a local file URL (file:///path)");
        return ZT_EINVAL;
    }
    int rc = 0;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_len, "cannot open the file: %s", strerror(errno));
        return ZT_EIO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, why_len, "not a regular file");
        rc = ZT_EIO;
        goto out;
    }
    if ((uint64_t)st.st_size < p->have) {
        snprintf(why, why_len, "the file is shorter than the partial download");
        rc = ZT_ERANGE;
        goto out;
    }
    p->total = (uint64_t)st.st_size;
    if (lseek(fd, (off_t)p->have, SEEK_SET) < 0 || !(buf = zt_malloc(HASH_CHUNK))) {
        snprintf(why, why_len, "cannot read the file");
        rc = ZT_EIO;
        goto out;
    }
    rc = zt_fd_read_chunks(fd, buf, HASH_CHUNK, on_body, p);
    if (rc == ZT_EIO && !p->write_errno) /* else writing the .partial failed */
        snprintf(why, why_len, "cannot read the file: %s", strerror(errno));
out:
    zt_free(buf);
    close(fd);
    return rc;
}

/* One transfer from p->have onwards: 0, or a ZT_E* with the reason in why.
 * p->http gets the final response code (0 for file://). */
static int transfer(struct pull *p, const char *url, char *why, size_t why_len)
{
    p->resume_from = p->have;
    p->range_ignored = false;
    p->http = 0;
    p->t_start_ns = zt_time_mono_ns();
    p->t_draw_ns = 0;
    why[0] = '\0';
    if (strncasecmp(url, "file://", 7) == 0) return copy_local(p, url, why, why_len);
    struct zt_http_client *c = zt__cli_http_client();
    if (!c) return ZT_ENOMEM;
    struct zt_http_request req = {
        .url = url,
        /* model hosts hand the file to a CDN on another host; every hop is
         * http(s) and never https -> http (zt_http_client.h) */
        .redirects = ZT_HTTP_REDIRECT_ANY_HOST,
        .connect_timeout_ms = 10000,
        .timeout_ms = -1,      /* no overall timeout (models are gigabytes); */
        .low_speed_bps = 1024, /* a stalled link is cut instead */
        .low_speed_s = 60,
        .max_body_bytes = SIZE_MAX, /* the GGUF check and --sha256 judge the size */
        .range_from = p->have,
        .env_proxy = true, /* a user's command honours http_proxy/no_proxy */
        .on_head = on_head,
        .on_body = on_body,
        .should_stop = should_stop,
        .ud = p,
    };
    struct zt_http_response resp;
    zt_http_response_init(&resp);
    int rc = zt_http_client_do(c, &req, &resp);
    if (rc != 0) snprintf(why, why_len, "%s", resp.reason[0] ? resp.reason : zt_strerror(rc));
    if (resp.status) p->http = resp.status;
    zt_http_response_deinit(&resp);
    return rc;
}

/* Hash the bytes already in the .partial (and note its magic), leaving the
 * offset at its end. */
/* One piece of an existing .partial into the hash: ZT_ECLOSED on Ctrl-C. */
static int hash_piece(void *ud, const void *data, size_t n)
{
    struct pull *p = ud;
    if (interrupted) return ZT_ECLOSED;
    note_magic(p, data, n);
    zt_sha256_update(&p->sha, data, n);
    p->have += n;
    return 0;
}

static int hash_existing(struct pull *p, const char *path)
{
    unsigned char *buf = zt_malloc(HASH_CHUNK);
    if (!buf) {
        say_error("out of memory");
        return -1;
    }
    int rc = zt_fd_read_chunks(p->fd, buf, HASH_CHUNK, hash_piece, p);
    if (rc == ZT_EIO) say_error("cannot read %s: %s", path, strerror(errno));
    zt_free(buf);
    return rc ? -1 : 0;
}

/* The sidecar, in sha256sum format so `sha256sum -c` works from DIR/models. */
static int write_sidecar_tmp(const char *path, const char *hex, const char *name)
{
    char line[HEX_LEN + NAME_MAX_LEN + 8];
    int n = snprintf(line, sizeof line, "%s  %s\n", hex, name);
    if (n < 0 || (size_t)n >= sizeof line) return -1;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    int rc = zt_fd_write_full(fd, line, (size_t)n) == 0 && fsync(fd) == 0 ? 0 : -1;
    int e = errno;
    if (close(fd) != 0 && rc == 0) rc = -1;
    errno = rc ? e : 0;
    return rc;
}

/* Move the verified .partial to its final name. Without --force, link() +
 * unlink() so an existing model is never clobbered, even by a pull that
 * raced with ours; rename() where the filesystem has no hard links. */
static int install(const char *partial, const char *final, bool force)
{
    if (!force) {
        if (link(partial, final) == 0) {
            zt_ignore(unlink(partial));
            return 0;
        }
        if (errno == EEXIST) return -1;
        if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS && errno != EMLINK) return -1;
        if (path_exists(final)) {
            errno = EEXIST;
            return -1;
        }
    }
    return rename(partial, final);
}

struct pull_opts {
    const char *url;
    const char *name;     /* --name, or NULL */
    const char *sha256;   /* --sha256 (validated, lower case), or NULL */
    const char *data_dir;
    bool force;
};

static int cmd_pull(const struct pull_opts *o)
{
    int rc = 1;
    bool remove_partial = false;
    bool sig_installed = false;
    struct sigaction old_int, old_term;
    struct zt_gguf *g = NULL;
    struct zt_buf gerr;
    zt_buf_init(&gerr, 1024);
    struct pull p = {.fd = -1};
    char name[NAME_MAX_LEN + 1];
    char shown[512];
    char dir[PATH_CAP], final[PATH_CAP], partial[PATH_CAP], sidecar[PATH_CAP], sidecar_tmp[PATH_CAP];
    char errbuf[ZT_HTTP_CLIENT_REASON_LEN];
    char hex[HEX_LEN + 1];
    sidecar_tmp[0] = '\0';

    url_for_display(o->url, shown, sizeof shown);
    if (o->name) {
        if (!model_name_ok(o->name)) {
            say_error("--name '%s' is not a model file name (letters, digits, '.', '_', '-'; "
                      "no leading '.'; ending in .gguf)", o->name);
            rc = 2;
            goto out;
        }
        zt_strlcpy(name, o->name, sizeof name);
    } else if (name_from_url(o->url, name, sizeof name) != 0 || !model_name_ok(name)) {
        say_error("cannot take a model file name from %s; give one with --name FILE.gguf", shown);
        rc = 2;
        goto out;
    }

    if (ensure_dir(o->data_dir) != 0 || models_dir_path(o->data_dir, dir, sizeof dir) != 0 ||
        ensure_dir(dir) != 0)
        goto out;
    if (file_path(final, sizeof final, dir, "", name, "") || file_path(partial, sizeof partial, dir, ".", name, ".partial") ||
        file_path(sidecar, sizeof sidecar, dir, "", name, ".sha256"))
        goto out;
    if (!o->force && path_exists(final)) {
        say_error("%s already exists (use --force to replace it, or zentalk models rm %s)", final, name);
        goto out;
    }

    p.fd = open(partial, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (p.fd < 0) {
        say_error("cannot open %s: %s", partial, strerror(errno));
        goto out;
    }
    /* Two pulls appending to one .partial would interleave garbage. */
    if (flock(p.fd, LOCK_EX | LOCK_NB) != 0) {
        say_error(errno == EWOULDBLOCK ? "another pull of %s is in progress" : "cannot lock the partial download of %s",
                  name);
        goto out;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sig_installed = true;

    pull_reset(&p);
    if (hash_existing(&p, partial) != 0) goto out;
    p.tty = isatty(STDERR_FILENO) == 1;
    if (p.have > 0) {
        char have_s[32];
        fmt_bytes(have_s, sizeof have_s, p.have);
        fprintf(stderr, "zentalk: resuming %s from %s\n", name, have_s);
    }

    uint64_t t0 = zt_time_mono_ns();
    for (int attempt = 0;; attempt++) {
        int tr = transfer(&p, o->url, errbuf, sizeof errbuf);
        long http = p.http;
        if (p.tty) fputs("\r\033[K", stderr);
        if (interrupted) {
            char have_s[32];
            fmt_bytes(have_s, sizeof have_s, p.have);
            say_error("interrupted: %s kept in %s; run the same command again to resume", have_s, partial);
            rc = EXIT_INTERRUPTED;
            goto out;
        }
        if (p.not_gguf) {
            say_error("%s is not a GGUF file (it does not start with \"GGUF\"); nothing was kept", shown);
            remove_partial = true;
            goto out;
        }
        /* The server would not resume (no range support, or the .partial is
         * longer than the file now is): start over once from zero. */
        bool restart = p.resume_from > 0 && (p.range_ignored || tr == ZT_ERANGE || http == 416);
        if (restart && attempt == 0) {
            fprintf(stderr, "zentalk: the server cannot resume this download; starting over\n");
            if (ftruncate(p.fd, 0) != 0 || lseek(p.fd, 0, SEEK_SET) != 0) {
                say_error("cannot truncate %s: %s", partial, strerror(errno));
                goto out;
            }
            pull_reset(&p);
            continue;
        }
        if (p.write_errno) {
            say_error("cannot write %s: %s", partial, strerror(p.write_errno));
            goto out;
        }
        if (http != 0 && (http < 200 || http > 299)) {
            say_error("download of %s failed: HTTP %ld", shown, http);
            goto out;
        }
        if (tr != 0) {
            say_error("download of %s failed: %s", shown, errbuf);
            goto out;
        }
        break;
    }
    double secs = (double)(zt_time_mono_ns() - t0) / 1e9;
    {
        /* the one line a log or CI gets instead of the bar (which is gone by now) */
        char have_s[32], rate_s[32];
        fmt_bytes(have_s, sizeof have_s, p.have - p.resume_from);
        fmt_bytes(rate_s, sizeof rate_s, secs > 0 ? (uint64_t)((double)(p.have - p.resume_from) / secs) : 0);
        fprintf(stderr, "zentalk: downloaded %s in %.1f s (%s/s)\n", have_s, secs, rate_s);
    }

    if (p.have < 4 || memcmp(p.magic, "GGUF", 4) != 0) {
        say_error("%s is not a GGUF file (%" PRIu64 " bytes); nothing was kept", shown, p.have);
        remove_partial = true;
        goto out;
    }
    uint8_t digest[ZT_SHA256_LEN];
    zt_sha256_final(&p.sha, digest);
    zt_hex_encode(hex, digest, sizeof digest);
    if (o->sha256 && strcmp(o->sha256, hex) != 0) {
        say_error("sha256 mismatch for %s: expected %s, got %s; nothing was kept", name, o->sha256, hex);
        remove_partial = true;
        goto out;
    }
    if (fsync(p.fd) != 0) {
        say_error("cannot sync %s: %s", partial, strerror(errno));
        goto out;
    }
    int gr = zt_gguf_open(partial, &g, &gerr);
    if (gr != 0) {
        say_error("%s is not a valid GGUF model (%s); nothing was kept", shown,
                  gerr.len ? zt_buf_str(&gerr) : zt_strerror(gr));
        remove_partial = true;
        goto out;
    }
    uint64_t size = p.have;
    struct zt_gguf_str arch = {0};
    char arch_s[64] = "unknown architecture";
    if (zt_gguf_get_str(g, "general.architecture", &arch) == 0)
        printable(arch_s, sizeof arch_s, arch.ptr, (size_t)arch.len);
    zt_gguf_close(g);
    g = NULL;

    if (file_path(sidecar_tmp, sizeof sidecar_tmp, dir, ".", name, ".sha256.tmp")) goto out;
    if (write_sidecar_tmp(sidecar_tmp, hex, name) != 0) {
        say_error("cannot write %s: %s", sidecar_tmp, strerror(errno));
        goto out;
    }
    if (install(partial, final, o->force) != 0) {
        if (errno == EEXIST)
            say_error("%s appeared during the download (use --force to replace it)", final);
        else
            say_error("cannot move %s to %s: %s", partial, final, strerror(errno));
        goto out;
    }
    if (rename(sidecar_tmp, sidecar) != 0) {
        say_error("cannot write %s: %s", sidecar, strerror(errno));
        goto out;
    }
    sidecar_tmp[0] = '\0';
    fsync_dir(dir);

    char size_s[32];
    fmt_bytes(size_s, sizeof size_s, size);
    printf("pulled %s (%s, %s)\n", final, size_s, arch_s);
    printf("sha256 %s%s\n", hex, o->sha256 ? " (verified)" : " (not verified: pass --sha256 to check)");
    rc = 0;
out:
    if (rc != 0 && rc != 2 && !remove_partial && p.fd >= 0 && p.have == 0)
        remove_partial = true; /* nothing to resume from */
    if (remove_partial) zt_ignore(unlink(partial));
    if (sidecar_tmp[0]) zt_ignore(unlink(sidecar_tmp));
    if (p.fd >= 0) close(p.fd); /* also drops the lock */
    zt_gguf_close(g);
    zt_buf_deinit(&gerr);
    if (sig_installed) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    return rc;
}

/* ---- list --------------------------------------------------------------- */

struct model_info {
    uint64_t size;
    char arch[64];
    uint64_t params;
    int64_t tensors;
    const char *type;
    uint64_t ctx;         /* 0 = not in the file */
    char sha256[HEX_LEN + 1]; /* "" = no sidecar */
    char error[256];      /* "" = none */
};

/* The sidecar's hash, when it has one. */
static void read_sidecar(const char *dir, const char *name, char out[HEX_LEN + 1])
{
    out[0] = '\0';
    char path[PATH_CAP];
    int w = snprintf(path, sizeof path, "%s/%s.sha256", dir, name);
    if (w < 0 || (size_t)w >= sizeof path) return;
    FILE *f = fopen(path, "re");
    if (!f) return;
    char line[HEX_LEN + 2];
    size_t n = fread(line, 1, HEX_LEN, f);
    fclose(f);
    line[n] = '\0';
    if (!parse_hex_sha256(line, out)) out[0] = '\0';
}

static void inspect(const char *dir, const char *name, struct model_info *m)
{
    memset(m, 0, sizeof *m);
    m->type = "-";
    struct zt_buf err;
    zt_buf_init(&err, sizeof m->error);
    struct zt_gguf *g = NULL;
    char path[PATH_CAP];
    int w = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= sizeof path) {
        snprintf(m->error, sizeof m->error, "path too long");
        goto out;
    }
    struct stat st;
    if (stat(path, &st) != 0) {
        snprintf(m->error, sizeof m->error, "%s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(m->error, sizeof m->error, "not a regular file");
        goto out;
    }
    m->size = (uint64_t)st.st_size;
    read_sidecar(dir, name, m->sha256);
    int rc = zt_gguf_open(path, &g, &err);
    if (rc != 0) {
        printable(m->error, sizeof m->error, err.len ? zt_buf_str(&err) : zt_strerror(rc),
                  err.len ? err.len : strlen(zt_strerror(rc)));
        goto out;
    }
    struct zt_gguf_str arch;
    if (zt_gguf_get_str(g, "general.architecture", &arch) == 0 && arch.len > 0) {
        printable(m->arch, sizeof m->arch, arch.ptr, (size_t)arch.len);
        char key[128];
        w = snprintf(key, sizeof key, "%s.context_length", m->arch);
        if (w > 0 && (size_t)w < sizeof key && zt_gguf_get_u64(g, key, &m->ctx) != 0) m->ctx = 0;
    }
    /* dominant type: the one holding the most elements (the "quantisation") */
    uint64_t per_type[ZT_GGML_TYPE_COUNT] = {0};
    m->tensors = zt_gguf_n_tensors(g);
    for (int64_t i = 0; i < m->tensors; i++) {
        const struct zt_gguf_tensor *t = zt_gguf_tensor(g, i);
        if (!t) continue;
        m->params += t->n_elements;
        if ((unsigned)t->type < ZT_GGML_TYPE_COUNT) per_type[t->type] += t->n_elements;
    }
    uint64_t best = 0;
    for (unsigned t = 0; t < ZT_GGML_TYPE_COUNT; t++) {
        if (per_type[t] > best) {
            best = per_type[t];
            m->type = zt_ggml_type_name((enum zt_ggml_type)t);
        }
    }
out:
    zt_gguf_close(g);
    zt_buf_deinit(&err);
}

static void fmt_count(char *out, size_t cap, uint64_t n)
{
    double v = (double)n;
    if (n >= 1000000000ull) snprintf(out, cap, "%.2fB", v / 1e9);
    else if (n >= 1000000ull) snprintf(out, cap, "%.1fM", v / 1e6);
    else if (n >= 1000ull) snprintf(out, cap, "%.1fK", v / 1e3);
    else snprintf(out, cap, "%" PRIu64, n);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Add a copy of s to a growable array of names. */
static int push_name(char ***v, size_t *n, size_t *cap, const char *s)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        char **nv = zt_reallocarray(*v, nc, sizeof *nv);
        if (!nv) return -1;
        *v = nv;
        *cap = nc;
    }
    char *c = zt_strdup(s);
    if (!c) return -1;
    (*v)[(*n)++] = c;
    return 0;
}

static int json_put(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0 ? 0 : -1;
}

static int cmd_list(const char *data_dir, bool as_json)
{
    int rc = 1;
    DIR *d = NULL;
    char **models = NULL, **partials = NULL;
    size_t n_models = 0, cap_models = 0, n_partials = 0, cap_partials = 0;
    json_t *root = NULL;
    char dir[PATH_CAP];
    if (models_dir_path(data_dir, dir, sizeof dir) != 0) goto out;

    d = opendir(dir);
    if (!d && errno != ENOENT) {
        say_error("cannot read %s: %s", dir, strerror(errno));
        goto out;
    }
    bool truncated = false;
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        const char *nm = e->d_name;
        bool is_model = nm[0] != '.' && zt_str_ends_with(nm, ".gguf");
        bool is_partial = nm[0] == '.' && zt_str_ends_with(nm, ".gguf.partial");
        if (!is_model && !is_partial) continue;
        if (n_models + n_partials >= MAX_LIST) {
            truncated = true;
            break;
        }
        if (push_name(is_model ? &models : &partials, is_model ? &n_models : &n_partials,
                      is_model ? &cap_models : &cap_partials, nm) != 0) {
            say_error("out of memory");
            goto out;
        }
    }
    if (truncated) say_error("more than %u files in %s: listing the first ones", MAX_LIST, dir);
    if (n_models) qsort(models, n_models, sizeof *models, cmp_names);
    if (n_partials) qsort(partials, n_partials, sizeof *partials, cmp_names);

    if (as_json) {
        root = json_object();
        json_t *arr = json_array(), *parr = json_array();
        if (!root || json_put(root, "models_dir", json_string(dir)) || json_put(root, "models", arr) ||
            json_put(root, "partial", parr))
            goto oom;
        for (size_t i = 0; i < n_models; i++) {
            struct model_info m;
            char shown[NAME_MAX_LEN * 4];
            inspect(dir, models[i], &m);
            printable(shown, sizeof shown, models[i], strlen(models[i]));
            json_t *o = json_object();
            if (!o || json_array_append_new(arr, o) || json_put(o, "name", json_string(shown)) ||
                json_put(o, "size_bytes", json_integer((json_int_t)m.size)) ||
                json_put(o, "sha256", m.sha256[0] ? json_string(m.sha256) : json_null()))
                goto oom;
            if (m.error[0]) {
                if (json_put(o, "error", json_string(m.error))) goto oom;
                continue;
            }
            if (json_put(o, "architecture", m.arch[0] ? json_string(m.arch) : json_null()) ||
                json_put(o, "parameters", json_integer((json_int_t)m.params)) ||
                json_put(o, "tensors", json_integer((json_int_t)m.tensors)) ||
                json_put(o, "type", json_string(m.type)) ||
                json_put(o, "context_length", m.ctx ? json_integer((json_int_t)m.ctx) : json_null()))
                goto oom;
        }
        for (size_t i = 0; i < n_partials; i++) {
            char path[PATH_CAP], shown[NAME_MAX_LEN * 4];
            struct stat st;
            int w = snprintf(path, sizeof path, "%s/%s", dir, partials[i]);
            uint64_t sz = w > 0 && (size_t)w < sizeof path && stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
            /* ".NAME.gguf.partial" -> "NAME.gguf", the name a resumed pull gives it */
            size_t nl = strlen(partials[i]) - 1 - strlen(".partial");
            printable(shown, sizeof shown, partials[i] + 1, nl);
            json_t *o = json_object();
            if (!o || json_array_append_new(parr, o) || json_put(o, "name", json_string(shown)) ||
                json_put(o, "size_bytes", json_integer((json_int_t)sz)))
                goto oom;
        }
        if (json_dumpf(root, stdout, JSON_INDENT(2)) != 0) goto oom;
        fputc('\n', stdout);
        rc = 0;
        goto out;
    }

    if (n_models == 0) {
        printf("no models in %s (get one with: zentalk models pull URL)\n", dir);
    } else {
        int w = 4;
        for (size_t i = 0; i < n_models; i++) {
            size_t l = strlen(models[i]);
            if (l > (size_t)w) w = l > 60 ? 60 : (int)l;
        }
        printf("%-*s  %9s  %-10s  %8s  %7s  %-6s  %7s  %s\n", w, "NAME", "SIZE", "ARCH", "PARAMS",
               "TENSORS", "TYPE", "CTX", "SHA256");
        for (size_t i = 0; i < n_models; i++) {
            struct model_info m;
            char shown[NAME_MAX_LEN * 4], size_s[32], params_s[32], ctx_s[32];
            inspect(dir, models[i], &m);
            printable(shown, sizeof shown, models[i], strlen(models[i]));
            fmt_bytes(size_s, sizeof size_s, m.size);
            if (m.error[0]) {
                printf("%-*s  %9s  error: %s\n", w, shown, size_s, m.error);
                continue;
            }
            fmt_count(params_s, sizeof params_s, m.params);
            if (m.ctx) snprintf(ctx_s, sizeof ctx_s, "%" PRIu64, m.ctx);
            else snprintf(ctx_s, sizeof ctx_s, "-");
            /* 12 hex digits identify a model at a glance (as `ollama list`); --json has all 64 */
            printf("%-*s  %9s  %-10s  %8s  %7" PRId64 "  %-6s  %7s  %.12s\n", w, shown, size_s,
                   m.arch[0] ? m.arch : "-", params_s, m.tensors, m.type, ctx_s, m.sha256[0] ? m.sha256 : "-");
        }
    }
    for (size_t i = 0; i < n_partials; i++) {
        char shown[NAME_MAX_LEN * 4];
        size_t nl = strlen(partials[i]) - 1 - strlen(".partial");
        printable(shown, sizeof shown, partials[i] + 1, nl);
        printf("incomplete download: %s (run the same pull again to resume, or zentalk models rm %s)\n",
               shown, shown);
    }
    rc = 0;
    goto out;
oom:
    say_error("out of memory");
out:
    json_decref(root);
    if (d) closedir(d);
    for (size_t i = 0; i < n_models; i++) zt_free(models[i]);
    for (size_t i = 0; i < n_partials; i++) zt_free(partials[i]);
    zt_free(models);
    zt_free(partials);
    return rc;
}

/* ---- rm ----------------------------------------------------------------- */

static int cmd_rm(const char *data_dir, const char *arg)
{
    char name[NAME_MAX_LEN + 1];
    char dir[PATH_CAP], final[PATH_CAP], partial[PATH_CAP], sidecar[PATH_CAP];
    int lock_fd = -1;
    int rc = 1;
    /* NAME may omit .gguf, as `ollama rm` takes a bare model name */
    int w = snprintf(name, sizeof name, "%s%s", arg, zt_str_ends_with(arg, ".gguf") ? "" : ".gguf");
    if (strchr(arg, '/') || strstr(arg, "..") || w < 0 || (size_t)w >= sizeof name || !model_name_ok(name)) {
        say_error("'%s' is not a model name (a plain file name: no '/', no '..', no leading '.')", arg);
        return 2;
    }
    if (models_dir_path(data_dir, dir, sizeof dir) || file_path(final, sizeof final, dir, "", name, "") ||
        file_path(partial, sizeof partial, dir, ".", name, ".partial") ||
        file_path(sidecar, sizeof sidecar, dir, "", name, ".sha256"))
        return 1;

    bool had_model = path_exists(final), had_partial = path_exists(partial);
    if (!had_model && !had_partial) {
        say_error("no model %s in %s (see zentalk models list)", name, dir);
        return 1;
    }
    if (had_partial) {
        /* a running pull holds this lock; pulling the file from under it would
         * make it rename a file that no longer exists */
        lock_fd = open(partial, O_RDONLY | O_CLOEXEC);
        if (lock_fd >= 0 && flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
            say_error("a pull of %s is in progress; stop it first", name);
            goto out;
        }
    }
    if (had_model && unlink(final) != 0) {
        say_error("cannot remove %s: %s", final, strerror(errno));
        goto out;
    }
    if (unlink(sidecar) != 0 && errno != ENOENT) {
        say_error("cannot remove %s: %s", sidecar, strerror(errno));
        goto out;
    }
    if (had_partial && unlink(partial) != 0 && errno != ENOENT) {
        say_error("cannot remove %s: %s", partial, strerror(errno));
        goto out;
    }
    fsync_dir(dir);
    printf("removed %s%s\n", had_model ? final : partial,
           had_model && had_partial ? " (and its partial download)" : "");
    rc = 0;
out:
    if (lock_fd >= 0) close(lock_fd);
    return rc;
}

/* ---- dispatch ----------------------------------------------------------- */

int zt__cli_models(int argc, char **argv)
{
    enum { SUB_PULL, SUB_LIST, SUB_RM } sub;
    if (argc < 2) {
        models_usage(stderr);
        return 2;
    }
    const char *sc = argv[1];
    if (strcmp(sc, "-h") == 0 || strcmp(sc, "--help") == 0 || strcmp(sc, "help") == 0) {
        models_usage(stdout);
        return 0;
    }
    if (strcmp(sc, "pull") == 0) sub = SUB_PULL;
    else if (strcmp(sc, "list") == 0 || strcmp(sc, "ls") == 0) sub = SUB_LIST;
    else if (strcmp(sc, "rm") == 0) sub = SUB_RM;
    else {
        say_error("unknown models command '%s' (pull, list or rm; see zentalk models --help)", sc);
        return 2;
    }

    struct pull_opts po = {.data_dir = default_data_dir()};
    const char *from = NULL;
    bool as_json = false;
    const struct zt__cli_opt opts[] = {
        {"data-dir", 'd', ZT__CLI_STR, &po.data_dir}, {"sha256", 's', ZT__CLI_STR, &po.sha256},
        {"name", 'n', ZT__CLI_STR, &po.name},         {"force", 'f', ZT__CLI_FLAG, &po.force},
        {"from", 'F', ZT__CLI_STR, &from},            {"json", 'j', ZT__CLI_FLAG, &as_json},
        {"help", 'h', ZT__CLI_HELP, NULL},
    };
    static const struct zt__cli_cmd cmd = {.name = "models", .usage = models_usage};
    int prc = ZT__CLI_PARSE(argc, argv, 2, &cmd, opts);
    if (prc != ZT__CLI_PARSED) return prc;
    /* pull's options and list's --json belong to those subcommands */
    const char *bad = sub != SUB_PULL && po.sha256 ? "--sha256"
                      : sub != SUB_PULL && po.name ? "--name"
                      : sub != SUB_PULL && po.force ? "--force"
                      : sub != SUB_PULL && from   ? "--from"
                      : sub != SUB_LIST && as_json ? "--json"
                                                   : NULL;
    if (bad) {
        say_error("%s does not apply to models %s", bad, sc);
        return 2;
    }
    int npos = argc - optind;
    char **pos = argv + optind;
    if (!*po.data_dir) {
        say_error("--data-dir must not be empty");
        return 2;
    }
    switch (sub) {
    case SUB_PULL: {
        if (npos != 1) {
            say_error(npos == 0 ? "models pull needs a URL" : "models pull takes one URL");
            return 2;
        }
        po.url = pos[0];
        /* sha256:HEX, or URL --sha256 HEX: the node's peers first (zt_mesh.h), then the URL */
        char msha[HEX_LEN + 1];
        bool by_hash = zt_str_starts_with(po.url, "sha256:");
        if (by_hash && !parse_hex_sha256(po.url + 7, msha)) {
            say_error("sha256: must be followed by 64 hexadecimal digits");
            return 2;
        }
        if (by_hash || (po.sha256 && parse_hex_sha256(po.sha256, msha))) {
            char why[256];
            int mrc = zt__cli_mesh_pull(zt__cli_mesh_node_url(), msha, po.name, true, why, sizeof why);
            if (mrc == 0) return 0;
            if (by_hash && !from) { /* no URL to fall back to */
                say_error("mesh pull of sha256:%s failed: %s", msha, why);
                return 1;
            }
            /* no holder, or holders that all failed (gone, bad chunks): the URL */
            fprintf(stderr, "zentalk: %s (%s); downloading from the URL\n",
                    mrc == 3 ? "not from peers" : "the pull from peers failed", why);
            if (by_hash) {
                po.url = from;
                po.sha256 = msha;
            }
        } else if (from) {
            say_error("--from goes with sha256:HEX");
            return 2;
        }
        if (strlen(po.url) > URL_MAX_LEN) {
            say_error("URL too long");
            return 2;
        }
        if (!url_scheme_ok(po.url)) {
            char shown[512];
            url_for_display(po.url, shown, sizeof shown);
            say_error("unsupported URL '%s': use http://, https:// or file://", shown);
            return 2;
        }
        char sha[HEX_LEN + 1];
        if (po.sha256) {
            if (!parse_hex_sha256(po.sha256, sha)) {
                say_error("--sha256 must be 64 hexadecimal digits");
                return 2;
            }
            po.sha256 = sha;
        }
        return cmd_pull(&po);
    }
    case SUB_LIST:
        if (npos != 0) {
            say_error("unexpected argument '%s'", pos[0]);
            return 2;
        }
        return cmd_list(po.data_dir, as_json);
    case SUB_RM:
        if (npos != 1) {
            say_error(npos == 0 ? "models rm needs a NAME" : "models rm takes one NAME");
            return 2;
        }
        return cmd_rm(po.data_dir, pos[0]);
    }
    return 2;
}
