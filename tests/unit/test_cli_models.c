/* test_cli_models.c: `zentalk models pull|list|rm` (src/cli/cmd_models.c), black box.
 *
 * Runs the real CLI ($ZT_BUILD_DIR/src/cli/zentalk) with fork/exec against
 * file:// URLs, so it needs no network: a pull of the shared stories260K.gguf
 * into a fresh data directory, checksum mismatch, resume from a half-written
 * .partial, a non-GGUF and a truncated GGUF download, no-clobber without
 * --force, list (text and JSON), rm, and the usage errors. Skipped with a
 * printed reason when the shared model is absent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_hash.h"
#include "zentalk/zt_str.h"

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
    const char *bd = getenv("ZT_BUILD_DIR"), *sd = getenv("ZT_SHARED_DIR");
    if (!bd || !sd) {
        print_message("ZT_BUILD_DIR or ZT_SHARED_DIR not set: skipping\n");
        return false;
    }
    snprintf(model, sizeof model, "%s/models/" MODEL_NAME, sd);
    if (access(model, R_OK) != 0) {
        print_message("%s not found: skipping\n", model);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
