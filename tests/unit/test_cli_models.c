/* test_cli_models.c: `zentalk models pull|list|rm` (src/cli/cmd_models.c), black box.
 *
 * Runs the real CLI ($ZT_BUILD_DIR/src/cli/zentalk) with fork/exec against
 * file:// URLs, so it needs no network: a pull of the shared stories260K.gguf
 * into a fresh data directory, checksum mismatch, resume from a half-written
 * .partial, a non-GGUF and a truncated GGUF download, no-clobber without
 * --force, list (text and JSON), rm, and the usage errors. The http:// path
 * (the outbound HTTP client) is pulled from a small server on 127.0.0.1 in
 * this test: a plain pull, a Range resume, a 404, a redirect to the CDN-like
 * other host (followed: pulls may) and one to file:// (refused). Skipped with a
 * printed reason when the shared model is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_str.h"
#include "zt_test.h"

#define MODEL_NAME "stories260K.gguf"
#define MODEL_SHA256 "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d"
#define MODEL_SIZE 1185376
#define OUT_CAP 65536

static char cli[4096];   /* the zentalk binary */
static char model[4096]; /* the shared model file */
static char model_url[4200];
static char tmp[256];    /* this test's scratch directory */
static char data[512];   /* tmp/data: the --data-dir */
static char mdir[600];   /* data/models */
static char out[OUT_CAP]; /* stdout + stderr of the last run */

/* Run the CLI with args (NULL-terminated, without argv[0]); capture its
 * stdout and stderr into out; return its exit status (-1 if it did not exit). */
static int run(const char *const *args)
{
    const char *argv[32];
    size_t n = 0;
    argv[n++] = cli;
    for (; args[n - 1] && n < 31; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        dup2(fds[1], STDERR_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(cli, (char *const *)(uintptr_t)argv);
        _exit(127);
    }
    close(fds[1]);
    size_t len = 0;
    for (;;) {
        ssize_t r = read(fds[0], out + len, OUT_CAP - 1 - len);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        len += (size_t)r;
        if (len == OUT_CAP - 1) break;
    }
    out[len] = '\0';
    close(fds[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

#define RUN(...) run((const char *const[]){__VA_ARGS__, NULL})

static void rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
                char sub[4096];
                snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
                rm_tree(sub);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static bool exists(const char *dir, const char *name)
{
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* Number of entries in dir other than . and .. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    closedir(d);
    return n;
}

static void write_file(const char *path, const void *p, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, n), (ssize_t)n);
    close(fd);
}

/* The first n bytes of the shared model into path. */
static void copy_prefix(const char *path, size_t n)
{
    FILE *f = fopen(model, "rb");
    assert_non_null(f);
    char *buf = zt_malloc(n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, n, f), n);
    fclose(f);
    write_file(path, buf, n);
    zt_free(buf);
}

/* Streaming SHA-256 of a file, as lower-case hex. */
static void sha256_file(const char *path, char hex[2 * ZT_SHA256_LEN + 1])
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    struct zt_sha256_ctx c;
    zt_sha256_init(&c);
    unsigned char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, f)) > 0) zt_sha256_update(&c, buf, r);
    fclose(f);
    uint8_t d[ZT_SHA256_LEN];
    zt_sha256_final(&c, d);
    zt_hex_encode(hex, d, sizeof d);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof tmp, "%s/zt-cli-models-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp)) return -1;
    snprintf(data, sizeof data, "%s/data", tmp);
    snprintf(mdir, sizeof mdir, "%s/models", data);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    rm_tree(tmp);
    return 0;
}

/* True when the environment has what these tests need; prints why not. */
static bool have_inputs(void)
{
    if (!getenv("ZT_BUILD_DIR")) {
        zt_skip_part("ZT_BUILD_DIR not set (run through ctest)");
        return false;
    }
    if (!zt_test_model(MODEL_NAME, model, sizeof model)) {
        zt_skip_part("%s not found", model);
        return false;
    }
    snprintf(model_url, sizeof model_url, "file://%s", model);
    return true;
}

static void pull_ok(void)
{
    assert_int_equal(RUN("models", "pull", model_url, "--sha256", MODEL_SHA256, "--data-dir", data), 0);
}

static void test_pull_verified(void **state)
{
    (void)state;
    if (!have_inputs()) skip();
    pull_ok();
    assert_non_null(strstr(out, "sha256 " MODEL_SHA256 " (verified)"));
    char p[4096];
    struct stat st;
    snprintf(p, sizeof p, "%s/" MODEL_NAME, mdir);
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, MODEL_SIZE);
    char hex[65];
    sha256_file(p, hex);
    assert_string_equal(hex, MODEL_SHA256);
    /* the models directory (and the data dir it created) are private */
    assert_int_equal(stat(mdir, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(stat(data, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    /* sidecar in sha256sum format; no .partial or temporary left behind */
    snprintf(p, sizeof p, "%s/" MODEL_NAME ".sha256", mdir);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    char line[256] = "";
    assert_non_null(fgets(line, sizeof line, f));
    fclose(f);
    assert_string_equal(line, MODEL_SHA256 "  " MODEL_NAME "\n");
    assert_int_equal(count_entries(mdir), 2);
}

static void test_pull_sha_mismatch(void **state)
{
    (void)state;
    if (!have_inputs()) skip();
    const char *wrong = "00000000000000000000000000000000000000000000000000000000000000ff";
    assert_int_equal(RUN("models", "pull", model_url, "--sha256", wrong, "--data-dir", data), 1);
    assert_non_null(strstr(out, "mismatch"));
    assert_non_null(strstr(out, wrong));
    assert_non_null(strstr(out, MODEL_SHA256));
    assert_int_equal(count_entries(mdir), 0); /* nothing kept, not even the .partial */
}

static void test_pull_resume(void **state)
{
    (void)state;
    if (!have_inputs()) skip();
    assert_int_equal(mkdir(data, 0700), 0);
    assert_int_equal(mkdir(mdir, 0700), 0);
    char p[4096];
    snprintf(p, sizeof p, "%s/." MODEL_NAME ".partial", mdir);
    copy_prefix(p, MODEL_SIZE / 2);
    pull_ok();
    assert_non_null(strstr(out, "resuming " MODEL_NAME));
    assert_null(strstr(out, "starting over"));
    assert_false(exists(mdir, "." MODEL_NAME ".partial"));
    snprintf(p, sizeof p, "%s/" MODEL_NAME, mdir);
    char hex[65];
    sha256_file(p, hex);
    assert_string_equal(hex, MODEL_SHA256);

    /* a .partial longer than the source cannot be resumed: start over */
    snprintf(p, sizeof p, "%s/.big.gguf.partial", mdir);
    size_t big = MODEL_SIZE + 4096;
    char *junk = zt_malloc(big);
    assert_non_null(junk);
    memcpy(junk, "GGUF", 4);
    memset(junk + 4, 'x', big - 4);
    write_file(p, junk, big);
    zt_free(junk);
    assert_int_equal(RUN("models", "pull", model_url, "--name", "big.gguf", "--sha256", MODEL_SHA256,
                         "--data-dir", data), 0);
    assert_non_null(strstr(out, "starting over"));
    assert_true(exists(mdir, "big.gguf"));
}

static void test_pull_not_gguf(void **state)
{
    (void)state;
    if (!have_inputs()) skip();
    char src[4096], url[4200];
    /* an HTML page where a model was expected */
    snprintf(src, sizeof src, "%s/page.gguf", tmp);
    const char *html = "<html>not a model</html>\n";
    write_file(src, html, strlen(html));
    snprintf(url, sizeof url, "file://%s", src);
    assert_int_equal(RUN("models", "pull", url, "--data-dir", data), 1);
    assert_non_null(strstr(out, "not a GGUF file"));
    assert_int_equal(count_entries(mdir), 0);

    /* right magic, truncated body: the GGUF reader refuses it */
    snprintf(src, sizeof src, "%s/cut.gguf", tmp);
    FILE *f = fopen(model, "rb");
    assert_non_null(f);
    char head[4096];
    assert_int_equal(fread(head, 1, sizeof head, f), sizeof head);
    fclose(f);
    write_file(src, head, sizeof head);
    snprintf(url, sizeof url, "file://%s", src);
    assert_int_equal(RUN("models", "pull", url, "--data-dir", data), 1);
    assert_non_null(strstr(out, "not a valid GGUF model"));
    assert_int_equal(count_entries(mdir), 0);

    /* a missing source */
    snprintf(url, sizeof url, "file://%s/absent.gguf", tmp);
    assert_int_equal(RUN("models", "pull", url, "--data-dir", data), 1);
    assert_int_equal(count_entries(mdir), 0);
}

static void test_pull_no_clobber(void **state)
{
    (void)state;
    if (!have_inputs()) skip();
    pull_ok();
    assert_int_equal(RUN("models", "pull", model_url, "--data-dir", data), 1);
    assert_non_null(strstr(out, "already exists"));
    assert_non_null(strstr(out, "--force"));
    assert_int_equal(RUN("models", "pull", model_url, "--force", "--data-dir", data), 0);
    assert_int_equal(count_entries(mdir), 2);
}

static void test_pull_data_dir_from_env(void **state)
{
    (void)state;
    if (!have_inputs()) skip();
    assert_int_equal(setenv("ZENTALK_NODE_DATA_DIR", data, 1), 0);
    int rc = RUN("models", "pull", model_url, "--name", "env.gguf");
    unsetenv("ZENTALK_NODE_DATA_DIR");
    assert_int_equal(rc, 0);
    assert_true(exists(mdir, "env.gguf"));
}

static void test_list(void **state)
{
    (void)state;
    if (!have_inputs()) skip();
    assert_int_equal(RUN("models", "list", "--data-dir", data), 0);
    assert_non_null(strstr(out, "no models"));

    pull_ok();
    char p[4096];
    snprintf(p, sizeof p, "%s/broken.gguf", mdir);
    write_file(p, "GGUF\3\0\0\0", 8);
    snprintf(p, sizeof p, "%s/.half.gguf.partial", mdir);
    copy_prefix(p, 1000);

    assert_int_equal(RUN("models", "list", "--data-dir", data), 0);
    const char *row = strstr(out, MODEL_NAME);
    assert_non_null(row);
    assert_non_null(strstr(row, "llama"));
    assert_non_null(strstr(row, " 48 "));         /* tensors */
    assert_non_null(strstr(row, "F32"));
    assert_non_null(strstr(row, "2048"));         /* context length */
    assert_non_null(strstr(row, "270cba1bd510")); /* sidecar hash, abbreviated */
    row = strstr(out, "broken.gguf");
    assert_non_null(row);
    assert_non_null(strstr(row, "error:")); /* listed with its error, not skipped */
    assert_non_null(strstr(out, "incomplete download: half.gguf"));

    assert_int_equal(RUN("models", "list", "--json", "--data-dir", data), 0);
    json_error_t jerr;
    json_t *j = json_loads(out, 0, &jerr);
    assert_non_null(j);
    json_t *models = json_object_get(j, "models");
    assert_int_equal(json_array_size(models), 2);
    json_t *b = json_array_get(models, 0), *s = json_array_get(models, 1); /* sorted by name */
    assert_string_equal(json_string_value(json_object_get(b, "name")), "broken.gguf");
    assert_true(json_is_string(json_object_get(b, "error")));
    assert_string_equal(json_string_value(json_object_get(s, "name")), MODEL_NAME);
    assert_string_equal(json_string_value(json_object_get(s, "architecture")), "llama");
    assert_string_equal(json_string_value(json_object_get(s, "sha256")), MODEL_SHA256);
    assert_string_equal(json_string_value(json_object_get(s, "type")), "F32");
    assert_int_equal(json_integer_value(json_object_get(s, "size_bytes")), MODEL_SIZE);
    assert_int_equal(json_integer_value(json_object_get(s, "tensors")), 48);
    assert_int_equal(json_integer_value(json_object_get(s, "context_length")), 2048);
    assert_true(json_integer_value(json_object_get(s, "parameters")) > 250000);
    assert_null(json_object_get(s, "error"));
    json_t *partial = json_object_get(j, "partial");
    assert_int_equal(json_array_size(partial), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(partial, 0), "name")), "half.gguf");
    json_decref(j);
}

static void test_rm(void **state)
{
    (void)state;
    if (!have_inputs()) skip();
    pull_ok();
    char p[4096];
    snprintf(p, sizeof p, "%s/secret", tmp);
    write_file(p, "keep", 4);
    assert_int_equal(RUN("models", "rm", "../secret", "--data-dir", data), 2);
    assert_int_equal(RUN("models", "rm", "../../x.gguf", "--data-dir", data), 2);
    assert_int_equal(RUN("models", "rm", ".hidden.gguf", "--data-dir", data), 2);
    assert_true(exists(tmp, "secret"));
    assert_int_equal(RUN("models", "rm", "absent.gguf", "--data-dir", data), 1);
    assert_non_null(strstr(out, "no model absent.gguf"));

    /* the .gguf suffix may be left out; the sidecar and a stale .partial go too */
    snprintf(p, sizeof p, "%s/." MODEL_NAME ".partial", mdir);
    copy_prefix(p, 100);
    assert_int_equal(RUN("models", "rm", "stories260K", "--data-dir", data), 0);
    assert_int_equal(count_entries(mdir), 0);
    assert_int_equal(RUN("models", "rm", MODEL_NAME, "--data-dir", data), 1);
}

static void test_usage_errors(void **state)
{
    (void)state;
    if (!have_inputs()) skip();
    assert_int_equal(RUN("models", "pull", "ftp://example.com/m.gguf", "--data-dir", data), 2);
    assert_non_null(strstr(out, "unsupported URL"));
    assert_int_equal(RUN("models", "pull", "/etc/passwd", "--data-dir", data), 2);
    assert_int_equal(RUN("models", "pull", model_url, "--sha256", "abc", "--data-dir", data), 2);
    assert_int_equal(RUN("models", "pull", model_url, "--name", "../evil.gguf", "--data-dir", data), 2);
    assert_int_equal(RUN("models", "pull", model_url, "--name", "model.bin", "--data-dir", data), 2);
    assert_int_equal(RUN("models", "pull", "file:///tmp/", "--data-dir", data), 2);
    assert_int_equal(RUN("models", "pull", "--data-dir", data), 2);
    assert_int_equal(RUN("models", "pull", model_url, model_url, "--data-dir", data), 2);
    assert_int_equal(RUN("models", "list", "--sha256", MODEL_SHA256, "--data-dir", data), 2);
    assert_int_equal(RUN("models", "list", "--bogus"), 2);
    assert_int_equal(RUN("models", "frobnicate"), 2);
    assert_int_equal(RUN("models"), 2);
    assert_int_equal(RUN("models", "--help"), 0);
    assert_non_null(strstr(out, "models pull URL"));
    assert_int_equal(RUN("--help"), 0);
    assert_non_null(strstr(out, "models pull URL"));
    /* none of that created anything */
    assert_int_equal(access(data, F_OK), -1);
}

/* ---- pulls over http (a server in this test) ------------------------------ */

static int srv_fd = -1;
static uint16_t srv_port;
static volatile int srv_stop;
static char *srv_model;   /* the model's bytes */
static size_t srv_model_len;
static int srv_ranges;    /* Range requests answered with 206 */

static void srv_send(int fd, const void *p, size_t n)
{
    const char *s = p;
    while (n > 0) {
        ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void srv_serve(int fd)
{
    char req[8192];
    size_t len = 0;
    while (len < sizeof req - 1) {
        ssize_t r = recv(fd, req + len, sizeof req - 1 - len, 0);
        if (r <= 0) break;
        len += (size_t)r;
        req[len] = '\0';
        if (strstr(req, "\r\n\r\n")) break;
    }
    req[len] = '\0';
    char path[256] = "", head[512];
    if (strncmp(req, "GET ", 4) != 0) return;
    size_t pl = strcspn(req + 4, " \r\n");
    if (pl >= sizeof path) return;
    memcpy(path, req + 4, pl);
    path[pl] = '\0';
    if (strcmp(path, "/m/" MODEL_NAME) == 0) {
        size_t from = 0;
        const char *range = strstr(req, "\r\nRange: bytes=");
        if (range) from = (size_t)strtoul(range + 16, NULL, 10);
        if (from > srv_model_len) from = srv_model_len;
        if (range) {
            srv_ranges++;
            snprintf(head, sizeof head, "HTTP/1.1 206 Partial Content\r\nContent-Length: %zu\r\n"
                     "Content-Range: bytes %zu-%zu/%zu\r\nConnection: close\r\n\r\n",
                     srv_model_len - from, from, srv_model_len - 1, srv_model_len);
        } else {
            snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                     srv_model_len);
        }
        srv_send(fd, head, strlen(head));
        srv_send(fd, srv_model + from, srv_model_len - from);
    } else if (strcmp(path, "/cdn/" MODEL_NAME) == 0) {
        /* "localhost" is another host name for this server: the CDN */
        snprintf(head, sizeof head, "HTTP/1.1 302 Found\r\nLocation: http://localhost:%u/m/" MODEL_NAME
                 "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", (unsigned)srv_port);
        srv_send(fd, head, strlen(head));
    } else if (strcmp(path, "/evil/" MODEL_NAME) == 0) {
        const char *h = "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        srv_send(fd, h, strlen(h));
    } else {
        const char *h = "HTTP/1.1 404 Not Found\r\nContent-Type: text/html\r\nContent-Length: 21\r\n"
                        "Connection: close\r\n\r\n<html>missing</html>\n";
        srv_send(fd, h, strlen(h));
    }
}

static void *srv_main(void *arg)
{
    (void)arg;
    while (!srv_stop) {
        struct pollfd p = {.fd = srv_fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        int fd = accept(srv_fd, NULL, NULL);
        if (fd < 0) continue;
        srv_serve(fd);
        shutdown(fd, SHUT_WR);
        close(fd);
    }
    return NULL;
}

static void test_pull_http(void **state)
{
    (void)state;
    if (!have_inputs()) skip();
    FILE *f = fopen(model, "rb");
    assert_non_null(f);
    srv_model = zt_malloc(MODEL_SIZE);
    assert_non_null(srv_model);
    srv_model_len = fread(srv_model, 1, MODEL_SIZE, f);
    fclose(f);
    assert_int_equal(srv_model_len, MODEL_SIZE);
    srv_fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(srv_fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(srv_fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(srv_fd, 16), 0);
    socklen_t al = sizeof a;
    assert_int_equal(getsockname(srv_fd, (struct sockaddr *)&a, &al), 0);
    srv_port = ntohs(a.sin_port);
    srv_stop = 0;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, srv_main, NULL), 0);

    char url[256], p[4096], hex[65];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/m/" MODEL_NAME, (unsigned)srv_port);
    int rc_plain = RUN("models", "pull", url, "--sha256", MODEL_SHA256, "--data-dir", data);
    char out_plain[512];
    zt_strlcpy(out_plain, out, sizeof out_plain);

    /* resume with a Range request from a half-written .partial */
    snprintf(p, sizeof p, "%s/.half.gguf.partial", mdir);
    copy_prefix(p, MODEL_SIZE / 2);
    int rc_resume = RUN("models", "pull", url, "--name", "half.gguf", "--sha256", MODEL_SHA256, "--data-dir", data);
    bool resumed = strstr(out, "resuming half.gguf") != NULL;
    int ranges = srv_ranges;

    /* an error page is reported as such, and nothing is kept */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/absent.gguf", (unsigned)srv_port);
    int rc_404 = RUN("models", "pull", url, "--data-dir", data);
    bool said_404 = strstr(out, "HTTP 404") != NULL;

    /* a model host handing the file to a CDN on another host: followed */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/cdn/" MODEL_NAME, (unsigned)srv_port);
    int rc_cdn = RUN("models", "pull", url, "--name", "cdn.gguf", "--sha256", MODEL_SHA256, "--data-dir", data);

    /* ... but never into a local file */
    snprintf(url, sizeof url, "http://127.0.0.1:%u/evil/" MODEL_NAME, (unsigned)srv_port);
    int rc_evil = RUN("models", "pull", url, "--name", "evil.gguf", "--data-dir", data);
    bool said_file = strstr(out, "file") != NULL;

    srv_stop = 1;
    pthread_join(t, NULL);
    close(srv_fd);
    zt_free(srv_model);
    srv_model = NULL;

    if (rc_plain != 0) print_message("%s\n", out_plain);
    assert_int_equal(rc_plain, 0);
    snprintf(p, sizeof p, "%s/" MODEL_NAME, mdir);
    sha256_file(p, hex);
    assert_string_equal(hex, MODEL_SHA256);
    assert_int_equal(rc_resume, 0);
    assert_true(resumed);
    assert_int_equal(ranges, 1);
    snprintf(p, sizeof p, "%s/half.gguf", mdir);
    sha256_file(p, hex);
    assert_string_equal(hex, MODEL_SHA256);
    assert_int_equal(rc_404, 1);
    assert_true(said_404);
    assert_false(exists(mdir, "absent.gguf"));
    assert_false(exists(mdir, ".absent.gguf.partial"));
    assert_int_equal(rc_cdn, 0);
    assert_true(exists(mdir, "cdn.gguf"));
    assert_int_equal(rc_evil, 1);
    assert_true(said_file);
    assert_false(exists(mdir, "evil.gguf"));
}

int main(void)
{
    if (zt_hash_init() != 0) return 1;
    const char *bd = getenv("ZT_BUILD_DIR");
    snprintf(cli, sizeof cli, "%s/src/cli/zentalk", bd ? bd : ".");
    if (bd && access(cli, X_OK) != 0) {
        fprintf(stderr, "%s not built (cmake --build %s --target zentalk)\n", cli, bd);
        return 1;
    }
    json_set_alloc_funcs(zt_malloc, zt_free);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pull_verified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_sha_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_resume, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_not_gguf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_no_clobber, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_data_dir_from_env, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_usage_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_http, setup, teardown),
    };
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
