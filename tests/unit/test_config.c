/* test_config.c: the configuration subsystem (src/core/config.c).
 *
 * Every test runs between zt_test_leak_setup/zt_test_leak_teardown: it must
 * end with as many live zt_malloc allocations as it started with.
 * ZT_SOURCE_DIR (set by ctest) locates the repository's config/, docs/ and
 * .env.example. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "zentalk/zt_alloc.h"
#include "zentalk/zt_config.h"
#include "zentalk/zt_json_num.h"
#include "zt_test.h"

#define ERRS_MAX (1u << 20)

/* ---- helpers ------------------------------------------------------------ */

static const char *source_dir(void)
{
    const char *d = getenv("ZT_SOURCE_DIR");
    return d && d[0] ? d : ".";
}

/* Whole file with plain malloc (not counted); NULL if unreadable. */
static char *slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t r = fread(buf + len, 1, 4096, f);
        if (r == 0) break;
        len += r;
    }
    fclose(f);
    buf[len] = '\0';
    if (len_out) *len_out = len;
    return buf;
}

static char *source_file(const char *rel, size_t *len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", source_dir(), rel);
    char *s = slurp(path, len);
    if (!s) print_error("cannot read %s\n", path);
    assert_non_null(s);
    return s;
}

static void write_file(const char *dir, const char *name, const char *text, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void put(const char *dir, const char *name, const char *text)
{
    write_file(dir, name, text, strlen(text));
}

static void make_tmpdir(char *out, size_t n)
{
    const char *t = getenv("TMPDIR");
    snprintf(out, n, "%s/zt-config-test.XXXXXX", t && t[0] ? t : "/tmp");
    assert_non_null(mkdtemp(out));
}

static void rm_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        while (d && (e = readdir(d)) != NULL) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            char sub[4200];
            snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
            rm_tree(sub);
        }
        if (d) closedir(d);
        assert_int_equal(rmdir(path), 0);
    } else {
        assert_int_equal(unlink(path), 0);
    }
}

static void rm_tmpdir(const char *dir)
{
    assert_non_null(strstr(dir, "zt-config-test.")); /* only ever our own mkdtemp directory */
    rm_tree(dir);
}

static void init_defaults(struct zt_config *cfg)
{
    assert_int_equal(zt_config_init_defaults(cfg), 0);
}

/* Dump into a plain malloc'd string (not counted). */
static char *dump_str(const struct zt_config *cfg)
{
    struct zt_buf b;
    zt_buf_init(&b, 1u << 22);
    assert_int_equal(zt_config_dump(cfg, &b), 0);
    char *s = strdup(zt_buf_str(&b));
    zt_buf_deinit(&b);
    assert_non_null(s);
    return s;
}

/* s with the first from replaced by to (plain malloc). */
static char *replace_once(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    assert_non_null(at);
    size_t head = (size_t)(at - s), fl = strlen(from), tl = strlen(to), rest = strlen(at + fl);
    char *out = malloc(head + tl + rest + 1);
    assert_non_null(out);
    memcpy(out, s, head);
    memcpy(out + head, to, tl);
    memcpy(out + head + tl, at + fl, rest + 1);
    return out;
}

static char *defaults_dump(void)
{
    struct zt_config cfg;
    init_defaults(&cfg);
    char *s = dump_str(&cfg);
    zt_config_deinit(&cfg);
    return s;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle)) {
        print_error("expected to find\n  %s\nin\n%s\n", needle, hay);
        fail();
    }
}

static void assert_lacks(const char *hay, const char *needle)
{
    if (strstr(hay, needle)) {
        print_error("did not expect\n  %s\nin\n%s\n", needle, hay);
        fail();
    }
}

static void assert_dump_equals(const struct zt_config *cfg, const char *want)
{
    char *got = dump_str(cfg);
    if (strcmp(got, want) != 0) {
        print_error("dump differs; got\n%s\nwant\n%s\n", got, want);
        free(got);
        fail();
    }
    free(got);
}

/* Every line of errs starts "name:LINE:COL: ". */
static void assert_positions(const char *errs, const char *name)
{
    size_t nl = strlen(name);
    const char *line = errs;
    assert_true(errs[0] != '\0');
    while (*line) {
        const char *p = line;
        bool ok = strncmp(p, name, nl) == 0 && p[nl] == ':';
        p += nl + 1;
        size_t d = 0;
        while (ok && p[d] >= '0' && p[d] <= '9') d++;
        ok = ok && d > 0 && p[d] == ':';
        p += d + 1;
        d = 0;
        while (ok && p[d] >= '0' && p[d] <= '9') d++;
        ok = ok && d > 0 && p[d] == ':' && p[d + 1] == ' ';
        if (!ok) {
            print_error("line without %s:LINE:COL: in\n%s\n", name, errs);
            fail();
        }
        const char *end = strchr(line, '\n');
        assert_non_null(end);
        line = end + 1;
    }
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

/* ---- defaults and the repository's files ---------------------------------- */

static void test_defaults_valid(void **state)
{
    (void)state;
    struct zt_config cfg;
    struct zt_buf errs;
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    assert_int_equal(zt_config_validate(&cfg, &errs), 0);
    assert_int_equal(errs.len, 0);
    assert_string_equal(cfg.server.listen, "127.0.0.1:8080");
    assert_int_equal(cfg.server.threads, 4);
    assert_int_equal(cfg.server.max_connections, 1024);
    assert_int_equal(cfg.server.max_header_bytes, 16384);
    assert_int_equal(cfg.server.max_body_bytes, 1048576);
    assert_int_equal(cfg.server.request_timeout_s, 30);
    assert_int_equal(cfg.server.shutdown_timeout_s, 10);
    assert_string_equal(cfg.node.id, "");
    assert_string_equal(cfg.node.data_dir, "data");
    assert_int_equal(cfg.node.roles.count, 3);
    assert_string_equal(cfg.node.roles.items[0], "gateway");
    assert_string_equal(cfg.node.roles.items[1], "orchestrator");
    assert_string_equal(cfg.node.roles.items[2], "worker");
    assert_int_equal(cfg.node.role_mask, ZT_ROLE_GATEWAY | ZT_ROLE_ORCHESTRATOR | ZT_ROLE_WORKER);
    assert_string_equal(cfg.log.level, "info");
    assert_string_equal(cfg.log.format, "text");
    assert_string_equal(cfg.log.file, "");
    assert_string_equal(cfg.encryption.aead, "chacha20poly1305");
    assert_string_equal(cfg.database.driver, "sqlite");
    assert_string_equal(cfg.database.sqlite_path, "zentalk.db");
    assert_string_equal(cfg.chain.token_symbol, "CHAIN");
    assert_false(cfg.chain.enabled);
    assert_string_equal(cfg.privacy.default_policy, "pseudonymise");
    assert_true(cfg.features.spam.enabled);
    assert_true(cfg.features.spam.threshold >= 0.0 && cfg.features.spam.threshold <= 1.0);
    assert_int_equal(cfg.n_models, 0);
    assert_null(cfg.models);
    assert_null(cfg.dir);
    zt_config_deinit(&cfg);
    zt_config_deinit(&cfg); /* deinit leaves a zeroed struct: twice is harmless */
    zt_config_deinit(NULL);
    zt_buf_deinit(&errs);
}

/* config/models.yaml differs from the compiled-in defaults in one place:
 * it serves the bundled demo model (stories260K, found in the assets
 * directory's models/). Check that entry and drop it so the rest can be
 * compared with the defaults. */
static void expect_demo_model_then_drop(struct zt_config *cfg)
{
    assert_int_equal(cfg->n_models, 1);
    assert_string_equal(cfg->models[0].id, "demo");
    assert_string_equal(cfg->models[0].path, "models/stories260K.gguf");
    static const char none[] = "models: []\n";
    struct zt_buf errs;
    zt_buf_init(&errs, ERRS_MAX);
    assert_int_equal(zt_config_load_string(cfg, "models.yaml", "drop", none, sizeof none - 1, &errs), 0);
    assert_int_equal(cfg->n_models, 0);
    zt_buf_deinit(&errs);
}

/* The YAML files of config/ repeat the compiled-in defaults exactly. */
static void test_repo_config_dir_equals_defaults(void **state)
{
    (void)state;
    char dir[4096];
    struct zt_config cfg;
    struct zt_buf errs;
    snprintf(dir, sizeof dir, "%s/config", source_dir());
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    int rc = zt_config_load_dir(&cfg, dir, &errs);
    if (rc) print_error("%s", zt_buf_str(&errs));
    assert_int_equal(rc, 0);
    /* No warnings either: config.example.yaml sits there and is skipped. */
    assert_string_equal(zt_buf_str(&errs), "");
    assert_string_equal(cfg.dir, dir);
    assert_int_equal(zt_config_validate(&cfg, &errs), 0);
    expect_demo_model_then_drop(&cfg);
    char *want = defaults_dump();
    assert_dump_equals(&cfg, want);
    free(want);
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
}

/* Each file alone holds exactly its own sections (each loads as its kind). */
static void test_repo_files_each_kind(void **state)
{
    (void)state;
    static const char *const files[] = {
        "config.yaml",      "encryption.yaml", "gpu-pool.yaml", "database.yaml", "chain.yaml",
        "integration.yaml", "privacy.yaml",    "models.yaml",   "features.yaml",
    };
    char *want = defaults_dump();
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char rel[128];
        size_t len;
        struct zt_config cfg;
        struct zt_buf errs;
        snprintf(rel, sizeof rel, "config/%s", files[i]);
        char *text = source_file(rel, &len);
        zt_buf_init(&errs, ERRS_MAX);
        init_defaults(&cfg);
        int rc = zt_config_load_string(&cfg, files[i], files[i], text, len, &errs);
        if (rc) print_error("%s", zt_buf_str(&errs));
        assert_int_equal(rc, 0);
        if (strcmp(files[i], "models.yaml") == 0) expect_demo_model_then_drop(&cfg);
        assert_dump_equals(&cfg, want);
        /* And the same text as any other kind is refused (wrong file). */
        const char *other = i == 0 ? "features.yaml" : "config.yaml";
        rc = zt_config_load_string(&cfg, other, files[i], text, len, &errs);
        assert_int_equal(rc, ZT_ECONFIG);
        assert_contains(zt_buf_str(&errs), "this section belongs in");
        assert_contains(zt_buf_str(&errs), files[i]);
        zt_config_deinit(&cfg);
        zt_buf_deinit(&errs);
        free(text);
    }
    free(want);
}

static void test_example_validates(void **state)
{
    (void)state;
    size_t len;
    struct zt_config cfg;
    struct zt_buf errs;
    char *text = source_file("config/config.example.yaml", &len);
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    int rc = zt_config_load_string(&cfg, "config.example.yaml", "config.example.yaml", text, len,
                                   &errs);
    if (rc) print_error("%s", zt_buf_str(&errs));
    assert_int_equal(rc, 0);
    assert_int_equal(zt_config_validate(&cfg, &errs), 0);
    char *want = defaults_dump();
    assert_dump_equals(&cfg, want); /* the example shows the defaults too */
    free(want);
    /* As a config.yaml it is refused: it holds the other files' sections. */
    rc = zt_config_load_string(&cfg, "config.yaml", "config.yaml", text, len, &errs);
    assert_int_equal(rc, ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "encryption: this section belongs in encryption.yaml");
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
    free(text);
}

/* docs/configuration.md and .env.example contain the generated reference. */
static void test_docs_in_sync(void **state)
{
    (void)state;
    struct zt_buf md, env;
    zt_buf_init(&md, 1u << 22);
    zt_buf_init(&env, 1u << 22);
    assert_int_equal(zt_config_describe(ZT_CONFIG_DOC_MARKDOWN, &md), 0);
    assert_int_equal(zt_config_describe(ZT_CONFIG_DOC_ENV, &env), 0);
    char *doc = source_file("docs/configuration.md", NULL);
    char *envfile = source_file(".env.example", NULL);
    if (!strstr(doc, zt_buf_str(&md))) {
        print_error("docs/configuration.md lacks the current key reference; regenerate it:\n%s\n",
                    zt_buf_str(&md));
        fail();
    }
    if (!strstr(envfile, zt_buf_str(&env))) {
        print_error(".env.example is out of date; regenerate it:\n%s\n", zt_buf_str(&env));
        fail();
    }
    /* Environment names are unique (no two dotted paths collapse). */
    const char *p = zt_buf_str(&env);
    char names[256][96];
    size_t n = 0;
    while ((p = strstr(p, "\n#ZENTALK_")) != NULL) {
        p += 2;
        size_t len = strcspn(p, "=");
        assert_true(len < sizeof names[0]);
        assert_true(n < 256);
        memcpy(names[n], p, len);
        names[n][len] = '\0';
        for (size_t i = 0; i < n; i++) assert_string_not_equal(names[i], names[n]);
        n++;
    }
    assert_true(n > 60);
    assert_int_equal(zt_config_describe((enum zt_config_doc_format)7, &md), ZT_EINVAL);
    free(doc);
    free(envfile);
    zt_buf_deinit(&md);
    zt_buf_deinit(&env);
}

/* ---- custom files ---------------------------------------------------------- */

static void test_custom_dir(void **state)
{
    (void)state;
    char dir[4096];
    struct zt_config cfg;
    struct zt_buf errs;
    make_tmpdir(dir, sizeof dir);
    put(dir, "config.yaml",
        "node:\n"
        "  id: edge-1.eu_west\n"
        "  roles:\n"
        "    - worker\n"
        "  data_dir: /var/lib/zentalk\n"
        "server:\n"
        "  listen: \"[::1]:0\"\n"
        "  threads: 16\n"
        "log:\n"
        "  level: debug\n"
        "  format: json\n");
    put(dir, "models.yaml",
        "model_cache:\n"
        "  memory_budget_mb: 8192\n"
        "  default_model: tiny:q4\n"
        "models:\n"
        "  - id: tiny:q4\n"
        "    path: models/tiny.gguf\n"
        "    context_size: 2048\n"
        "    temperature: 0.2\n"
        "  - {id: big, url: 'https://example.org/big.gguf',\n"
        "     sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08,\n"
        "     top_k: 0}\n");
    put(dir, "features.yaml", "features:\n  spam:\n    threshold: 0.95\n  search: {enabled: false}\n");
    put(dir, "database.yaml", "database:\n  driver: postgres\n  postgres_url: postgres://u:p@db/zt\n");
    put(dir, "chain.yaml", "# everything commented out\n");
    put(dir, "privacy.yaml", "privacy:\n");
    put(dir, "featurs.yaml", "features: {}\n"); /* a typo: warned about, not read */

    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    int rc = zt_config_load_dir(&cfg, dir, &errs);
    if (rc) print_error("%s", zt_buf_str(&errs));
    assert_int_equal(rc, 0);
    assert_contains(zt_buf_str(&errs), "warning: ");
    assert_contains(zt_buf_str(&errs), "featurs.yaml: not a zentalk configuration file; ignored");
    assert_int_equal(count_lines(zt_buf_str(&errs)), 1);
    zt_buf_reset(&errs);
    assert_int_equal(zt_config_validate(&cfg, &errs), 0);

    assert_string_equal(cfg.node.id, "edge-1.eu_west");
    assert_int_equal(cfg.node.roles.count, 1);
    assert_int_equal(cfg.node.role_mask, ZT_ROLE_WORKER);
    assert_string_equal(cfg.node.data_dir, "/var/lib/zentalk");
    assert_string_equal(cfg.server.listen, "[::1]:0");
    assert_int_equal(cfg.server.threads, 16);
    assert_int_equal(cfg.server.max_connections, 1024); /* untouched keys keep defaults */
    assert_string_equal(cfg.log.level, "debug");
    assert_string_equal(cfg.log.format, "json");
    assert_int_equal(cfg.model_cache.memory_budget_mb, 8192);
    assert_int_equal(cfg.n_models, 2);
    assert_string_equal(cfg.models[0].id, "tiny:q4");
    assert_string_equal(cfg.models[0].path, "models/tiny.gguf");
    assert_int_equal(cfg.models[0].context_size, 2048);
    assert_true(cfg.models[0].temperature == 0.2);
    assert_true(cfg.models[0].top_p == 0.95); /* entry defaults */
    assert_int_equal(cfg.models[0].top_k, 40);
    assert_string_equal(cfg.models[1].id, "big");
    assert_string_equal(cfg.models[1].url, "https://example.org/big.gguf");
    assert_int_equal(cfg.models[1].top_k, 0);
    assert_true(cfg.features.spam.threshold == 0.95);
    assert_true(cfg.features.spam.enabled);
    assert_false(cfg.features.search.enabled);
    assert_string_equal(cfg.database.driver, "postgres");
    assert_string_equal(cfg.database.postgres_url, "postgres://u:p@db/zt");
    assert_string_equal(cfg.dir, dir);

    /* A second load replaces the models list (it does not append). */
    put(dir, "models.yaml", "models:\n  - id: only\n    path: a.gguf\n");
    char typo[4200];
    snprintf(typo, sizeof typo, "%s/featurs.yaml", dir);
    assert_int_equal(unlink(typo), 0);
    zt_buf_reset(&errs);
    assert_int_equal(zt_config_load_dir(&cfg, dir, &errs), 0);
    assert_int_equal(cfg.n_models, 1);
    assert_string_equal(cfg.models[0].id, "only");
    /* default_model still names tiny:q4, which is gone now. */
    assert_int_equal(zt_config_validate(&cfg, &errs), ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "config: model_cache.default_model: names no entry of models");

    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
    rm_tmpdir(dir);
}

static void test_dir_errors(void **state)
{
    (void)state;
    char dir[4096], sub[4200];
    struct zt_config cfg;
    struct zt_buf errs;
    make_tmpdir(dir, sizeof dir);
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    char *want = dump_str(&cfg);

    snprintf(sub, sizeof sub, "%s/missing", dir);
    assert_int_equal(zt_config_load_dir(&cfg, sub, &errs), ZT_ENOTFOUND);
    put(dir, "plainfile", "x");
    snprintf(sub, sizeof sub, "%s/plainfile", dir);
    assert_int_equal(zt_config_load_dir(&cfg, sub, &errs), ZT_ENOTFOUND);
    assert_contains(zt_buf_str(&errs), "not a directory");

    /* Errors in several files are all reported, with the file's path. */
    zt_buf_reset(&errs);
    put(dir, "config.yaml", "server:\n  threads: 0\n  listen: nowhere\n");
    put(dir, "features.yaml", "features:\n  spam:\n    threshold: 2\n");
    assert_int_equal(zt_config_load_dir(&cfg, dir, &errs), ZT_ECONFIG);
    snprintf(sub, sizeof sub, "%s/config.yaml:2:12: server.threads: must be between 1 and 256", dir);
    assert_contains(zt_buf_str(&errs), sub);
    snprintf(sub, sizeof sub, "%s/config.yaml:3:11: server.listen: must be host:port", dir);
    assert_contains(zt_buf_str(&errs), sub);
    snprintf(sub, sizeof sub, "%s/features.yaml:3:16: features.spam.threshold: must be between", dir);
    assert_contains(zt_buf_str(&errs), sub);
    assert_int_equal(count_lines(zt_buf_str(&errs)), 3);
    assert_dump_equals(&cfg, want); /* all or nothing */
    assert_null(cfg.dir);

    /* A directory where a file should be is an I/O error. */
    zt_buf_reset(&errs);
    snprintf(sub, sizeof sub, "%s/config.yaml", dir);
    assert_int_equal(unlink(sub), 0);
    snprintf(sub, sizeof sub, "%s/features.yaml", dir);
    assert_int_equal(unlink(sub), 0);
    snprintf(sub, sizeof sub, "%s/models.yaml", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(zt_config_load_dir(&cfg, dir, &errs), ZT_EIO);
    assert_contains(zt_buf_str(&errs), "models.yaml: not a regular file");
    assert_dump_equals(&cfg, want);

    /* A file over the size limit. */
    zt_buf_reset(&errs);
    rmdir(sub);
    size_t big = ZT_CFG_MAX_FILE_BYTES + 10;
    char *text = malloc(big);
    assert_non_null(text);
    memset(text, '#', big);
    write_file(dir, "chain.yaml", text, big);
    assert_int_equal(zt_config_load_dir(&cfg, dir, &errs), ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "chain.yaml: file is too large");
    zt_buf_reset(&errs);
    assert_int_equal(zt_config_load_string(&cfg, "chain.yaml", "big.yaml", text, big, &errs),
                     ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "big.yaml:1:1: file is too large");
    free(text);

    free(want);
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
    rm_tmpdir(dir);
}

/* ---- malformed input: one row per kind of mistake -------------------------- */

struct bad_case {
    const char *kind;
    const char *yaml;
    size_t len;           /* 0 = strlen(yaml) */
    const char *want[3];  /* substrings of the messages */
    const char *never;    /* a substring that must not appear (secrets) */
};

#define DIGEST "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static const struct bad_case bad_cases[] = {
    /* YAML syntax */
    {"config.yaml", "server:\n  threads: [1, 2\n", 0,
     {"config.yaml:3:1: YAML syntax error: did not find expected ',' or ']'"}, NULL},
    {"config.yaml", "server:\n  listen: a\n threads: 3\n", 0, {"config.yaml:3:", "YAML syntax error"},
     NULL},
    {"config.yaml", "server: {threads: 4\n", 0, {"YAML syntax error"}, NULL},
    {"config.yaml", "\tserver: {}\n", 0, {"config.yaml:1:1: YAML syntax error"}, NULL},
    {"config.yaml", "server:\n  listen: \"unterminated\n", 0, {"YAML syntax error"}, NULL},
    /* document shape */
    {"config.yaml", "hello\n", 0, {"config.yaml:1:1: the top level must be a mapping of sections"},
     NULL},
    {"config.yaml", "- node\n- server\n", 0, {"config.yaml:1:1: the top level must be a mapping"}, NULL},
    {"config.yaml", "server: {}\n---\nlog: {}\n", 0,
     {"config.yaml:2:1: only one YAML document is allowed per file"}, NULL},
    {"config.yaml", "---\nserver: {}\n...\n---\n", 0, {"only one YAML document"}, NULL},
    /* unknown section, unknown key, key in the wrong file */
    {"config.yaml", "servr:\n  threads: 2\n", 0,
     {"config.yaml:1:1: servr: unknown section (config.yaml holds node, server, log, orchestrator, mesh)"}, NULL},
    {"config.yaml", "server:\n  thread: 2\n", 0,
     {"config.yaml:2:3: server.thread: unknown key (known: listen, threads,"}, NULL},
    {"features.yaml", "features:\n  spam:\n    treshold: 0.5\n", 0,
     {"features.yaml:3:5: features.spam.treshold: unknown key"}, NULL},
    {"features.yaml", "features:\n  weather: {enabled: true}\n", 0,
     {"features.yaml:2:3: features.weather: unknown key"}, NULL},
    {"config.yaml", "encryption:\n  aead: aes256gcm\n", 0,
     {"config.yaml:1:1: encryption: this section belongs in encryption.yaml, not config.yaml"}, NULL},
    {"models.yaml", "server:\n  threads: 2\n", 0,
     {"models.yaml:1:1: server: this section belongs in config.yaml, not models.yaml"}, NULL},
    {"config.example.yaml", "bogus: 1\n", 0, {"config.example.yaml:1:1: bogus: unknown section"},
     NULL},
    /* wrong types */
    {"config.yaml", "server:\n  threads: four\n", 0,
     {"config.yaml:2:12: server.threads: expected an integer; got \"four\""}, NULL},
    {"config.yaml", "server:\n  threads: \"4\"\n", 0,
     {"config.yaml:2:12: server.threads: expected an integer; got the quoted string \"4\""}, NULL},
    {"config.yaml", "server:\n  threads: 4.0\n", 0, {"server.threads: expected an integer"}, NULL},
    {"config.yaml", "server:\n  threads: 0x10\n", 0, {"server.threads: expected an integer"}, NULL},
    {"config.yaml", "server:\n  threads: 010\n", 0, {"server.threads: leading zeros are not allowed"},
     NULL},
    {"config.yaml", "server:\n  threads:\n", 0, {"config.yaml:2:11: server.threads: expected an integer; got null"},
     NULL},
    {"config.yaml", "server:\n  listen: [a, b]\n", 0,
     {"config.yaml:2:11: server.listen: expected a string; got a list"}, NULL},
    {"config.yaml", "server:\n  listen: {host: a}\n", 0,
     {"config.yaml:2:11: server.listen: expected a string; got a mapping"}, NULL},
    {"config.yaml", "node:\n  roles: {a: 1}\n", 0,
     {"config.yaml:2:10: node.roles: expected a list of strings; got a mapping"}, NULL},
    {"config.yaml", "node:\n  roles: gateway\n", 0,
     {"node.roles: expected a list of strings; got \"gateway\""}, NULL},
    {"config.yaml", "node:\n  roles: [[gateway]]\n", 0,
     {"config.yaml:2:11: node.roles[0]: expected a string; got a list"}, NULL},
    {"config.yaml", "server: 5\n", 0, {"config.yaml:1:9: server: expected a mapping; got \"5\""}, NULL},
    {"config.yaml", "server: [1]\n", 0, {"server: expected a mapping; got a list"}, NULL},
    {"features.yaml", "features:\n  spam:\n    enabled: yes\n", 0,
     {"features.yaml:3:14: features.spam.enabled: expected true or false; got \"yes\" (YAML 1.1 "}, NULL},
    {"features.yaml", "features:\n  spam:\n    enabled: \"true\"\n", 0,
     {"features.spam.enabled: expected true or false; got the quoted string"}, NULL},
    {"features.yaml", "features:\n  spam:\n    enabled: 1\n", 0,
     {"features.spam.enabled: expected true or false; got \"1\""}, NULL},
    {"features.yaml", "features:\n  spam:\n    threshold: high\n", 0,
     {"features.yaml:3:16: features.spam.threshold: expected a number; got \"high\""}, NULL},
    {"features.yaml", "features:\n  spam:\n    threshold: .nan\n", 0,
     {"features.spam.threshold: expected a number"}, NULL},
    {"features.yaml", "features:\n  spam:\n    threshold: .inf\n", 0,
     {"features.spam.threshold: expected a number"}, NULL},
    {"models.yaml", "models: foo\n", 0, {"models.yaml:1:9: models: expected a list of mappings; got \"foo\""},
     NULL},
    {"models.yaml", "models:\n", 0, {"models: expected a list of mappings; got null"}, NULL},
    {"models.yaml", "models:\n  - tiny\n", 0, {"models.yaml:2:5: models[0]: expected a mapping; got \"tiny\""},
     NULL},
    /* out of range */
    {"config.yaml", "server:\n  threads: 0\n", 0,
     {"config.yaml:2:12: server.threads: must be between 1 and 256; got 0"}, NULL},
    {"config.yaml", "server:\n  threads: 257\n", 0, {"server.threads: must be between 1 and 256; got 257"},
     NULL},
    {"config.yaml", "server:\n  max_body_bytes: -1\n", 0,
     {"server.max_body_bytes: must be between 1024 and 1073741824; got -1"}, NULL},
    {"config.yaml", "server:\n  max_body_bytes: 99999999999999999999\n", 0,
     {"server.max_body_bytes: is out of range"}, NULL},
    {"config.yaml", "server:\n  shutdown_timeout_s: 601\n", 0, {"server.shutdown_timeout_s: must be between 0 and 600"},
     NULL},
    {"features.yaml", "features:\n  spam:\n    threshold: 1.5\n", 0,
     {"features.yaml:3:16: features.spam.threshold: must be between 0.0 and 1.0; got 1.5"}, NULL},
    {"features.yaml", "features:\n  search:\n    threshold: -0.1\n", 0,
     {"features.search.threshold: must be between 0.0 and 1.0; got -0.1"}, NULL},
    {"features.yaml", "features:\n  search:\n    threshold: 1e999\n", 0,
     {"features.search.threshold: is out of range"}, NULL},
    {"models.yaml", "models:\n  - {id: a, path: a.gguf, temperature: 2.5}\n", 0,
     {"models[0].temperature: must be between 0.0 and 2.0"}, NULL},
    /* strings */
    {"config.yaml",
     "node:\n  id: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 0,
     {"config.yaml:2:7: node.id: is too long (65 bytes; at most 64)"}, NULL},
    {"config.yaml", "node:\n  id: no spaces\n", 0,
     {"node.id: must be letters, digits, '.', '_' and '-'; got \"no spaces\""}, NULL},
    {"config.yaml", "node:\n  data_dir: \"\"\n", 0, {"node.data_dir: must not be empty"}, NULL},
    {"config.yaml", "log:\n  level: loud\n", 0,
     {"config.yaml:2:10: log.level: must be one of debug, info, warn, error; got \"loud\""}, NULL},
    {"config.yaml", "log:\n  format: xml\n", 0, {"log.format: must be one of text, json"}, NULL},
    {"config.yaml", "log:\n  file: \"a\\0b\"\n", 0, {"config.yaml:2:9: log.file: NUL characters are not allowed"},
     NULL},
    {"config.yaml", "log:\n  file: \"\\e[31mred\"\n", 0, {"log.file: control characters are not allowed"},
     NULL},
    {"config.yaml", "log:\n  file: \"a\\x85b\"\n", 0, {"log.file: control characters are not allowed"},
     NULL},
    {"encryption.yaml", "encryption:\n  jwt_secret: \"hunter2\\x01\"\n", 0,
     {"encryption.yaml:2:15: encryption.jwt_secret: control characters are not allowed"}, "hunter2"},
    {"encryption.yaml", "encryption:\n  jwt_secret: [hunter2]\n", 0,
     {"encryption.jwt_secret: expected a string; got a list"}, "hunter2"},
    {"encryption.yaml", "encryption:\n  passphrase_env: 1PASS\n", 0,
     {"encryption.passphrase_env: must be an environment variable name"}, NULL},
    {"chain.yaml", "chain:\n  wallet_address: 0x1234\n", 0, {"chain.wallet_address: must be 0x and 40"},
     NULL},
    {"chain.yaml", "chain:\n  rpc_url: localhost:8545\n", 0, {"chain.rpc_url: must be a URL"}, NULL},
    {"encryption.yaml", "encryption:\n  remote_worker: zt1abc\n", 0,
     {"encryption.yaml:2:18: encryption.remote_worker: must be a node id (zt1 and 32 characters of a-z, 2-7)"}, NULL},
    {"encryption.yaml", "encryption:\n  relay: zt1aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1\n", 0,
     {"encryption.relay: must be a node id"}, NULL},
    {"gpu-pool.yaml", "gpu_pool:\n  devices: [\"0\", gpu1]\n", 0,
     {"gpu-pool.yaml:2:18: gpu_pool.devices[1]: must be decimal digits; got \"gpu1\""}, NULL},
    /* listen addresses */
    {"config.yaml", "server:\n  listen: localhost\n", 0,
     {"config.yaml:2:11: server.listen: must be host:port, [v6]:port or :port; got \"localhost\""}, NULL},
    {"config.yaml", "server:\n  listen: \"127.0.0.1:70000\"\n", 0, {"server.listen: must be host:port"}, NULL},
    {"config.yaml", "server:\n  listen: \"::1:80\"\n", 0, {"server.listen: must be host:port"}, NULL},
    {"config.yaml", "server:\n  listen: \"127.0.0.1:\"\n", 0, {"server.listen: must be host:port"}, NULL},
    /* duplicates */
    {"config.yaml", "server:\n  threads: 2\n  threads: 3\n", 0,
     {"config.yaml:3:3: server.threads: duplicate key"}, NULL},
    {"config.yaml", "server: {}\nlog: {}\nserver: {}\n", 0, {"config.yaml:3:1: server: duplicate key"},
     NULL},
    {"config.yaml", "node:\n  roles: [worker, gateway, worker]\n", 0,
     {"config.yaml:2:28: node.roles[2]: duplicate entry \"worker\""}, NULL},
    {"models.yaml",
     "models:\n  - id: a\n    path: a.gguf\n  - id: b\n    path: b.gguf\n  - id: a\n    path: c.gguf\n", 0,
     {"models.yaml:6:5: models[2].id: duplicate id \"a\" (also used by models[0])"}, NULL},
    /* roles */
    {"config.yaml", "node:\n  roles: []\n", 0, {"config.yaml:2:10: node.roles: must list at least one entry"},
     NULL},
    {"config.yaml", "node:\n  roles: [gateway, cook]\n", 0,
     {"config.yaml:2:20: node.roles[1]: must be one of gateway, orchestrator, worker; got \"cook\""}, NULL},
    {"config.yaml", "node:\n  roles: [\"\"]\n", 0, {"node.roles[0]: must not be empty"}, NULL},
    /* models */
    {"models.yaml", "models:\n  - path: a.gguf\n", 0, {"models.yaml:2:5: models[0].id: required key is missing"},
     NULL},
    {"models.yaml", "models:\n  - id: a\n", 0, {"models.yaml:2:5: models[0]: needs a path or a url"}, NULL},
    {"models.yaml", "models:\n  - id: a\n    url: https://x.org/a.gguf\n", 0,
     {"models[0].sha256: is required when url is set"}, NULL},
    {"models.yaml", "models:\n  - id: a\n    url: https://x.org/a.gguf\n    sha256: abc\n", 0,
     {"models.yaml:4:13: models[0].sha256: must be 64 hexadecimal digits; got \"abc\""}, NULL},
    {"models.yaml", "models:\n  - id: a\n    path: a\n    sha256: " DIGEST "0\n", 0,
     {"models[0].sha256: is too long"}, NULL},
    {"models.yaml", "models:\n  - id: a b\n    path: a\n", 0, {"models[0].id: must be letters, digits"}, NULL},
    {"models.yaml", "models:\n  - id: a\n    path: a\n    ctx: 5\n", 0,
     {"models.yaml:4:5: models[0].ctx: unknown key (known: id, path, url, sha256,"}, NULL},
    {"models.yaml", "model_cache:\n  default_model: \"x y\"\n", 0, {"model_cache.default_model: must be"},
     NULL},
    /* anchors, aliases, tags */
    {"config.yaml", "server: &s\n  threads: 2\n", 0, {"config.yaml:1:9: server: anchors are not allowed"},
     NULL},
    {"config.yaml", "node:\n  id: &x abc\n  data_dir: *x\n", 0,
     {"config.yaml:2:7: node.id: anchors are not allowed",
      "config.yaml:3:13: node.data_dir: aliases are not allowed"}, NULL},
    {"config.yaml", "server:\n  threads: !!int 4\n", 0, {"config.yaml:2:12: server.threads: tags are not allowed"},
     NULL},
    {"config.yaml", "server: !custom\n  threads: 4\n", 0, {"server: tags are not allowed"}, NULL},
    {"config.yaml", "*a : 1\n", 0, {"aliases are not allowed"}, NULL},
    {"config.yaml", "? [server]\n: {}\n", 0, {"config.yaml:1:3: mapping keys must be plain strings"}, NULL},
    /* bytes */
    {"config.yaml", "log:\n  file: \"a\xff\"\n", 0, {"config.yaml:2:11: invalid UTF-8 (byte 0xFF)"}, NULL},
    {"config.yaml", "log:\n  file: \"\xc3\x28\"\n", 0, {"config.yaml:2:10: invalid UTF-8"}, NULL},
    {"config.yaml", "log:\n  file: \"\xed\xa0\x80\"\n", 0, {"invalid UTF-8"}, NULL}, /* a surrogate */
    {"config.yaml", "log:\n  file: a\0b\n", 18, {"config.yaml:2:10: NUL bytes are not allowed"}, NULL},
    {"config.yaml", "\0", 1, {"config.yaml:1:1: NUL bytes are not allowed"}, NULL},
    {"config.yaml", "log:\n  file: a\x01\n", 0, {"config.yaml:2:10: control character U+0001 is not allowed"},
     NULL},
    {"config.yaml", "\xfe\xff\0s\0e", 6, {"invalid UTF-8"}, NULL}, /* UTF-16 is refused */
};

static void test_malformed(void **state)
{
    (void)state;
    char *want = defaults_dump();
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        const struct bad_case *c = &bad_cases[i];
        struct zt_config cfg;
        struct zt_buf errs;
        size_t len = c->len ? c->len : strlen(c->yaml);
        zt_buf_init(&errs, ERRS_MAX);
        init_defaults(&cfg);
        int rc = zt_config_load_string(&cfg, c->kind, c->kind, c->yaml, len, &errs);
        if (rc != ZT_ECONFIG) {
            print_error("case %zu (%s): rc %d, errors:\n%s\n", i, c->yaml, rc, zt_buf_str(&errs));
            fail();
        }
        for (size_t j = 0; j < 3 && c->want[j]; j++) {
            if (!strstr(zt_buf_str(&errs), c->want[j])) {
                print_error("case %zu:\n%s\nwanted: %s\ngot:\n%s\n", i, c->yaml, c->want[j],
                            zt_buf_str(&errs));
                fail();
            }
        }
        if (c->never) assert_lacks(zt_buf_str(&errs), c->never);
        assert_positions(zt_buf_str(&errs), c->kind);
        assert_dump_equals(&cfg, want); /* a refused file changes nothing */
        zt_config_deinit(&cfg);
        zt_buf_deinit(&errs);
    }
    free(want);
}

/* Every error of a file is reported, not just the first. */
static void test_collects_all_errors(void **state)
{
    (void)state;
    struct zt_config cfg;
    struct zt_buf errs;
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    const char *yaml = "node:\n"
                       "  roles: [cook]\n"
                       "  colour: blue\n"
                       "server:\n"
                       "  threads: many\n"
                       "  listen: nowhere\n"
                       "log:\n"
                       "  level: loud\n"
                       "extra: 1\n";
    assert_int_equal(zt_config_load_string(&cfg, "config.yaml", "c.yaml", yaml, strlen(yaml), &errs),
                     ZT_ECONFIG);
    const char *e = zt_buf_str(&errs);
    assert_contains(e, "c.yaml:2:11: node.roles[0]: must be one of");
    assert_contains(e, "c.yaml:3:3: node.colour: unknown key");
    assert_contains(e, "c.yaml:5:12: server.threads: expected an integer");
    assert_contains(e, "c.yaml:6:11: server.listen: must be host:port");
    assert_contains(e, "c.yaml:8:10: log.level: must be one of");
    assert_contains(e, "c.yaml:9:1: extra: unknown section");
    assert_int_equal(count_lines(e), 6);
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
}

static void test_too_many_entries(void **state)
{
    (void)state;
    struct zt_config cfg;
    struct zt_buf errs, y;
    zt_buf_init(&errs, ERRS_MAX);
    zt_buf_init(&y, 1u << 20);
    init_defaults(&cfg);
    assert_int_equal(zt_buf_append_str(&y, "node:\n  roles: ["), 0);
    for (int i = 0; i <= ZT_CFG_MAX_LIST; i++)
        assert_int_equal(zt_buf_appendf(&y, "%sr%d", i ? ", " : "", i), 0);
    assert_int_equal(zt_buf_append_str(&y, "]\n"), 0);
    assert_int_equal(zt_config_load_string(&cfg, "config.yaml", NULL, y.data, y.len, &errs),
                     ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "node.roles[64]: too many entries (at most 64)");

    zt_buf_reset(&errs);
    zt_buf_reset(&y);
    assert_int_equal(zt_buf_append_str(&y, "models:\n"), 0);
    for (int i = 0; i <= ZT_CFG_MAX_MODELS; i++)
        assert_int_equal(zt_buf_appendf(&y, "  - {id: m%d, path: m%d.gguf}\n", i, i), 0);
    assert_int_equal(zt_config_load_string(&cfg, "models.yaml", NULL, y.data, y.len, &errs),
                     ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "models.yaml:258:5: models[256]: too many entries (at most 256)");
    assert_int_equal(count_lines(zt_buf_str(&errs)), 1);
    assert_int_equal(cfg.n_models, 0);

    /* Exactly the maximum is fine. */
    zt_buf_reset(&errs);
    zt_buf_reset(&y);
    assert_int_equal(zt_buf_append_str(&y, "models:\n"), 0);
    for (int i = 0; i < ZT_CFG_MAX_MODELS; i++)
        assert_int_equal(zt_buf_appendf(&y, "  - {id: m%d, path: m%d.gguf}\n", i, i), 0);
    assert_int_equal(zt_config_load_string(&cfg, "models.yaml", NULL, y.data, y.len, &errs), 0);
    assert_int_equal(cfg.n_models, ZT_CFG_MAX_MODELS);
    assert_int_equal(zt_config_validate(&cfg, &errs), 0);
    zt_config_deinit(&cfg);
    zt_buf_deinit(&y);
    zt_buf_deinit(&errs);
}

/* The classic "billion laughs" document is refused at the first anchor,
 * without expanding anything. */
static void test_billion_laughs(void **state)
{
    (void)state;
    struct zt_config cfg;
    struct zt_buf errs;
    const char *yaml = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n"
                       "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                       "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
                       "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                       "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                       "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                       "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
                       "h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n"
                       "i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n"
                       "node:\n  roles: *i\n";
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    assert_int_equal(zt_config_load_string(&cfg, "config.example.yaml", "lol.yaml", yaml,
                                           strlen(yaml), &errs),
                     ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "lol.yaml:11:10: node.roles: aliases are not allowed");
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
}

static void test_empty_and_null(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "",           "# only a comment\n",   "---\n",        "---\n...\n", "server:\n",
        "server: {}\n", "server: ~\n",       "node:\n  id:\n", "node:\n  id: null\n",
        "log:\n  file: ''\n", "\xef\xbb\xbfserver: {}\n", /* a UTF-8 BOM */
    };
    char *want = defaults_dump();
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        struct zt_config cfg;
        struct zt_buf errs;
        zt_buf_init(&errs, ERRS_MAX);
        init_defaults(&cfg);
        int rc = zt_config_load_string(&cfg, "config.yaml", NULL, ok[i], strlen(ok[i]), &errs);
        if (rc) print_error("case %zu: %s\n", i, zt_buf_str(&errs));
        assert_int_equal(rc, 0);
        assert_dump_equals(&cfg, want);
        zt_config_deinit(&cfg);
        zt_buf_deinit(&errs);
    }
    free(want);

    /* NULL text with length 0 is an empty file; unknown kinds are refused. */
    struct zt_config cfg;
    struct zt_buf errs;
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    assert_int_equal(zt_config_load_string(&cfg, "config.yaml", NULL, NULL, 0, &errs), 0);
    assert_int_equal(zt_config_load_string(&cfg, "zentalk.yaml", NULL, "", 0, &errs), ZT_EINVAL);
    assert_contains(zt_buf_str(&errs), "zentalk.yaml: unknown configuration file kind");
    assert_int_equal(zt_config_load_string(&cfg, "config.yaml", NULL, NULL, 3, &errs), ZT_EINVAL);
    /* errs may be NULL: problems are still counted. */
    assert_int_equal(zt_config_load_string(&cfg, "config.yaml", NULL, "x: 1", 4, NULL), ZT_ECONFIG);
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
}

/* Typing follows the YAML 1.2 core schema. */
static void test_scalar_forms(void **state)
{
    (void)state;
    struct zt_config cfg;
    struct zt_buf errs;
    const char *yaml = "node:\n"
                       "  id: 42\n"           /* a plain number is fine as a string */
                       "  data_dir: 'it''s'\n"
                       "server:\n"
                       "  threads: -0\n";
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    assert_int_equal(zt_config_load_string(&cfg, "config.yaml", NULL, yaml, strlen(yaml), &errs),
                     ZT_ECONFIG); /* -0 is 0, below the minimum */
    assert_contains(zt_buf_str(&errs), "server.threads: must be between 1 and 256; got 0");
    zt_buf_reset(&errs);
    yaml = "node:\n  id: 42\n  data_dir: 'it''s'\nserver:\n  threads: 0256\n";
    assert_int_equal(zt_config_load_string(&cfg, "config.yaml", NULL, yaml, strlen(yaml), &errs),
                     ZT_ECONFIG);
    zt_buf_reset(&errs);
    yaml = "node:\n  id: 42\n  data_dir: \"d\\u00e9j\\u00e0 vu\"\nserver:\n  threads: 256\n"
           "log: {level: warn, file: \"/var/log/zentalk \\\"node\\\".log\"}\n";
    assert_int_equal(zt_config_load_string(&cfg, "config.yaml", NULL, yaml, strlen(yaml), &errs), 0);
    assert_string_equal(cfg.node.id, "42");
    assert_string_equal(cfg.node.data_dir, "d\xc3\xa9j\xc3\xa0 vu");
    assert_int_equal(cfg.server.threads, 256);
    assert_string_equal(cfg.log.level, "warn");
    assert_string_equal(cfg.log.file, "/var/log/zentalk \"node\".log");
    yaml = "features:\n  spam: {enabled: False, threshold: 1}\n  search: {enabled: TRUE, threshold: 5e-1}\n";
    assert_int_equal(zt_config_load_string(&cfg, "features.yaml", NULL, yaml, strlen(yaml), &errs), 0);
    assert_false(cfg.features.spam.enabled);
    assert_true(cfg.features.spam.threshold == 1.0);
    assert_true(cfg.features.search.enabled);
    assert_true(cfg.features.search.threshold == 0.5);
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
}

/* ---- environment ------------------------------------------------------------ */

static void test_env_overrides(void **state)
{
    (void)state;
    struct zt_config cfg;
    struct zt_buf errs;
    char *const envp[] = {
        "PATH=/usr/bin",
        "ZENTALK_SERVER_LISTEN=0.0.0.0:9000",
        "ZENTALK_FEATURES_SPAM_THRESHOLD=0.9",
        "ZENTALK_FEATURES_SPAM_ENABLED=off",
        "ZENTALK_NODE_ROLES= gateway , worker",
        "ZENTALK_CHAIN_ENABLED=yes",
        "ZENTALK_LOG_FILE=",
        "ZENTALK_GPU_POOL_DEVICES=0,1",
        "ZENTALK_MODEL_CACHE_MEMORY_BUDGET_MB=4096",
        "ZENTALK_URL=http://127.0.0.1:8080", /* the CLI's: not ours, not warned about */
        NULL,
    };
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    int rc = zt_config_apply_env(&cfg, envp, &errs);
    if (rc) print_error("%s", zt_buf_str(&errs));
    assert_int_equal(rc, 0);
    assert_string_equal(zt_buf_str(&errs), "");
    assert_string_equal(cfg.server.listen, "0.0.0.0:9000");
    assert_true(cfg.features.spam.threshold == 0.9);
    assert_false(cfg.features.spam.enabled);
    assert_int_equal(cfg.node.roles.count, 2);
    assert_string_equal(cfg.node.roles.items[0], "gateway");
    assert_string_equal(cfg.node.roles.items[1], "worker");
    assert_int_equal(cfg.node.role_mask, ZT_ROLE_GATEWAY | ZT_ROLE_WORKER);
    assert_true(cfg.chain.enabled);
    assert_int_equal(cfg.gpu_pool.devices.count, 2);
    assert_int_equal(cfg.model_cache.memory_budget_mb, 4096);
    /* chain.enabled needs rpc_url and wallet_address: a cross-field rule. */
    assert_int_equal(zt_config_validate(&cfg, &errs), ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "config: chain.rpc_url: is required when chain.enabled is true");
    assert_contains(zt_buf_str(&errs), "config: chain.wallet_address: is required");
    assert_int_equal(zt_config_apply_env(&cfg, NULL, &errs), 0);
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
}

static void test_env_errors(void **state)
{
    (void)state;
    struct zt_config cfg;
    struct zt_buf errs;
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    char *want = dump_str(&cfg);

    char *const bad[] = {
        "ZENTALK_SERVER_LISTEN=0.0.0.0:9000", /* good, but not applied: all or nothing */
        "ZENTALK_SERVER_THREADS=abc",
        "ZENTALK_NODE_ROLES=gateway,cook",
        "ZENTALK_FEATURES_SPAM_THRESHOLD=2",
        "ZENTALK_FEATURES_SPAM_ENABLED=maybe",
        "ZENTALK_ENCRYPTION_JWT_SECRET=hunter2\x1b",
        NULL,
    };
    assert_int_equal(zt_config_apply_env(&cfg, bad, &errs), ZT_ECONFIG);
    const char *e = zt_buf_str(&errs);
    assert_contains(e, "environment ZENTALK_SERVER_THREADS: server.threads: expected an integer; got \"abc\"");
    assert_contains(e, "environment ZENTALK_NODE_ROLES: node.roles: entry 1 must be one of gateway, "
                       "orchestrator, worker; got \"cook\"");
    assert_contains(e, "environment ZENTALK_FEATURES_SPAM_THRESHOLD: features.spam.threshold: must be "
                       "between 0.0 and 1.0; got 2.0");
    assert_contains(e, "environment ZENTALK_FEATURES_SPAM_ENABLED: features.spam.enabled: expected a boolean");
    assert_contains(e, "environment ZENTALK_ENCRYPTION_JWT_SECRET: encryption.jwt_secret: control characters");
    assert_lacks(e, "hunter2");
    assert_int_equal(count_lines(e), 5);
    assert_dump_equals(&cfg, want);

    zt_buf_reset(&errs);
    char *const empty_roles[] = {"ZENTALK_NODE_ROLES=", NULL};
    assert_int_equal(zt_config_apply_env(&cfg, empty_roles, &errs), ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "environment ZENTALK_NODE_ROLES: node.roles: must list at least one entry");
    zt_buf_reset(&errs);
    char *const dup_roles[] = {"ZENTALK_NODE_ROLES=worker,worker", NULL};
    assert_int_equal(zt_config_apply_env(&cfg, dup_roles, &errs), ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "node.roles: duplicate entry \"worker\"");
    zt_buf_reset(&errs);
    char *const empty_entry[] = {"ZENTALK_NODE_ROLES=worker,,gateway", NULL};
    assert_int_equal(zt_config_apply_env(&cfg, empty_entry, &errs), ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "node.roles: entry 1 must not be empty");

    /* Unknown ZENTALK_ variables warn and do not fail. */
    zt_buf_reset(&errs);
    char *const unknown[] = {
        "ZENTALK_FOO=1",
        "ZENTALK_MODELS=tiny",
        "ZENTALK_SERVER=x",
        "ZENTALK_KEY_PASS=s3cret", /* named by encryption.passphrase_env: not warned */
        "ZENTALK_ENCRYPTION_PASSPHRASE_ENV=ZENTALK_KEY_PASS",
        "ZENTALK_LOG_LEVEL=warn",
        NULL,
    };
    assert_int_equal(zt_config_apply_env(&cfg, unknown, &errs), 0);
    e = zt_buf_str(&errs);
    assert_contains(e, "warning: environment ZENTALK_FOO: unknown variable; ignored");
    assert_contains(e, "warning: environment ZENTALK_MODELS: models cannot be set from the environment");
    assert_contains(e, "warning: environment ZENTALK_SERVER: unknown variable");
    assert_lacks(e, "ZENTALK_KEY_PASS:");
    assert_lacks(e, "s3cret");
    assert_int_equal(count_lines(e), 3);
    assert_string_equal(cfg.log.level, "warn");
    assert_string_equal(cfg.encryption.passphrase_env, "ZENTALK_KEY_PASS");

    free(want);
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
}

/* defaults < files < environment < flags */
static void test_precedence(void **state)
{
    (void)state;
    char dir[4096];
    struct zt_config cfg;
    struct zt_buf errs;
    make_tmpdir(dir, sizeof dir);
    put(dir, "config.yaml", "server:\n  listen: \"127.0.0.1:1001\"\n  threads: 2\n"
                            "node:\n  data_dir: from-file\n");
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    assert_int_equal(zt_config_load_dir(&cfg, dir, &errs), 0);
    assert_string_equal(cfg.server.listen, "127.0.0.1:1001");
    char *const envp[] = {"ZENTALK_SERVER_LISTEN=127.0.0.1:1002", "ZENTALK_NODE_DATA_DIR=from-env", NULL};
    assert_int_equal(zt_config_apply_env(&cfg, envp, &errs), 0);
    assert_string_equal(cfg.server.listen, "127.0.0.1:1002");
    assert_int_equal(cfg.server.threads, 2); /* from the file */
    assert_int_equal(zt_config_set(&cfg, "server.listen", "127.0.0.1:1003", "--listen", &errs), 0);
    assert_string_equal(cfg.server.listen, "127.0.0.1:1003");
    assert_string_equal(cfg.node.data_dir, "from-env");
    assert_int_equal(zt_config_validate(&cfg, &errs), 0);
    assert_string_equal(zt_buf_str(&errs), "");
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
    rm_tmpdir(dir);
}

/* Keys that nothing reads yet are reported as reserved when they differ
 * from their default (a warning: the configuration is still valid; left
 * alone they say nothing, as test_defaults_valid shows). */
static void test_reserved_keys(void **state)
{
    (void)state;
    struct zt_buf errs;
    struct zt_config cfg;
    init_defaults(&cfg);
    zt_buf_init(&errs, ERRS_MAX);
    assert_int_equal(zt_config_set(&cfg, "chain.network", "mainnet", "test", &errs), 0);
    assert_int_equal(zt_config_set(&cfg, "gpu_pool.devices", "0,1", "test", &errs), 0);                  /* read now */
    assert_int_equal(zt_config_set(&cfg, "integration.webhook_secret", "hook-s3cret", "test", &errs), 0); /* read now */
    assert_int_equal(zt_config_set(&cfg, "database.redis_url", "redis://x", "test", &errs), 0); /* read now */
    assert_int_equal(zt_config_set(&cfg, "gpu_pool.max_batch", "4", "test", &errs), 0); /* read: no note */
    assert_int_equal(zt_config_validate(&cfg, &errs), 0);
    const char *e = zt_buf_str(&errs);
    assert_contains(e, "warning: config: chain.network: reserved, not used yet");
    assert_null(strstr(e, "gpu_pool.devices")); /* read since the GPU pool (issue 14) */
    assert_null(strstr(e, "webhook_secret"));   /* read since the API bridge (issue 18) */
    assert_null(strstr(e, "hook-s3cret")); /* a secret's value is never echoed */
    assert_null(strstr(e, "redis_url"));
    assert_null(strstr(e, "max_batch"));
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
}

static void test_set(void **state)
{
    (void)state;
    struct zt_config cfg;
    struct zt_buf errs;
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);

    assert_int_equal(zt_config_set(&cfg, "server.listen", "nowhere", "--listen", &errs), ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "--listen: server.listen: must be host:port");
    assert_string_equal(cfg.server.listen, "127.0.0.1:8080"); /* unchanged */
    assert_int_equal(zt_config_set(&cfg, "server.nope", "1", "--nope", &errs), ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "--nope: server.nope: unknown key");
    assert_int_equal(zt_config_set(&cfg, "features.spam", "1", NULL, &errs), ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "set: features.spam: is a section; set one of its keys");
    assert_int_equal(zt_config_set(&cfg, "models", "x", "--models", &errs), ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "--models: models: cannot be set from text; use models.yaml");
    assert_int_equal(zt_config_set(&cfg, "node.data_dir", "", "--data-dir", &errs), ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "--data-dir: node.data_dir: must not be empty");

    assert_int_equal(zt_config_set(&cfg, "node.roles", "orchestrator", "--roles", &errs), 0);
    assert_int_equal(cfg.node.role_mask, ZT_ROLE_ORCHESTRATOR);
    assert_int_equal(zt_config_set(&cfg, "server.max_body_bytes", "1073741824", "t", &errs), 0);
    assert_int_equal(cfg.server.max_body_bytes, 1073741824);
    assert_int_equal(zt_config_set(&cfg, "features.entities.threshold", "0", "t", &errs), 0);
    assert_true(cfg.features.entities.threshold == 0.0);
    assert_int_equal(zt_config_set(&cfg, "encryption.require_auth", "false", "t", &errs), 0);
    assert_false(cfg.encryption.require_auth);
    assert_int_equal(zt_config_set(&cfg, "server.threads", "", "t", &errs), ZT_ECONFIG);
    assert_int_equal(zt_config_set(&cfg, "server.threads", " 4", "t", &errs), ZT_ECONFIG);
    assert_int_equal(zt_config_set(&cfg, "server.threads", "+4", "t", &errs), ZT_ECONFIG);
    assert_int_equal(zt_config_set(NULL, "server.threads", "4", "t", &errs), ZT_EINVAL);
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
}

/* Values set directly in the struct are checked by validate too. */
static void test_validate_rules(void **state)
{
    (void)state;
    struct zt_config cfg;
    struct zt_buf errs;
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    const char *yaml = "models:\n  - {id: a, path: a.gguf}\n  - {id: b, path: b.gguf}\n";
    assert_int_equal(zt_config_load_string(&cfg, "models.yaml", NULL, yaml, strlen(yaml), &errs), 0);

    cfg.server.threads = 1000;
    cfg.features.spam.threshold = -1.0;
    zt_free(cfg.models[1].id);
    cfg.models[1].id = zt_strdup("a");
    zt_free(cfg.node.roles.items[2]);
    cfg.node.roles.items[2] = zt_strdup("gateway");
    zt_free(cfg.database.driver);
    cfg.database.driver = zt_strdup("postgres");
    zt_free(cfg.model_cache.default_model);
    cfg.model_cache.default_model = zt_strdup("zzz");
    assert_int_equal(zt_config_validate(&cfg, &errs), ZT_ECONFIG);
    const char *e = zt_buf_str(&errs);
    assert_contains(e, "config: server.threads: must be between 1 and 256; got 1000");
    assert_contains(e, "config: features.spam.threshold: must be between 0.0 and 1.0");
    assert_contains(e, "config: models[1].id: duplicate id \"a\" (also used by models[0])");
    assert_contains(e, "config: node.roles: duplicate entry \"gateway\"");
    assert_contains(e, "config: database.postgres_url: is required when database.driver is postgres");
    assert_contains(e, "config: model_cache.default_model: names no entry of models");
    assert_int_equal(count_lines(e), 6);

    /* An empty role list, and no roles at all in the mask. */
    zt_buf_reset(&errs);
    zt_config_deinit(&cfg);
    init_defaults(&cfg);
    for (size_t i = 0; i < cfg.node.roles.count; i++) zt_free(cfg.node.roles.items[i]);
    cfg.node.roles.count = 0;
    zt_free(cfg.server.listen);
    cfg.server.listen = NULL; /* treated as "" */
    assert_int_equal(zt_config_validate(&cfg, &errs), ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "config: node.roles: must list at least one entry");
    assert_contains(zt_buf_str(&errs), "config: server.listen: must not be empty");
    assert_int_equal(cfg.node.role_mask, 0);
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
}

/* ---- dump -------------------------------------------------------------------- */

static void test_dump_redacts_and_round_trips(void **state)
{
    (void)state;
    struct zt_config cfg, again;
    struct zt_buf errs;
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    assert_int_equal(zt_config_set(&cfg, "database.postgres_url", "postgres://u:pw1@db/zt", "t", &errs), 0);
    assert_int_equal(zt_config_set(&cfg, "database.redis_url", "redis://:pw2@cache:6379", "t", &errs), 0);
    assert_int_equal(zt_config_set(&cfg, "encryption.jwt_secret", "pw3-jwt", "t", &errs), 0);
    assert_int_equal(zt_config_set(&cfg, "integration.webhook_secret", "pw4-hook", "t", &errs), 0);
    assert_int_equal(zt_config_set(&cfg, "log.file", "/tmp/a \"quoted\" \\ path \xc3\xa9", "t", &errs), 0);
    assert_int_equal(zt_config_set(&cfg, "node.id", "n-1", "t", &errs), 0);
    assert_int_equal(zt_config_set(&cfg, "gpu_pool.devices", "3,1", "t", &errs), 0);
    assert_int_equal(zt_config_set(&cfg, "chain.min_payout", "0.1", "t", &errs), 0);
    assert_int_equal(zt_config_set(&cfg, "features.spam.threshold", "0.333333333333333314829616256247", "t", &errs), 0);
    const char *models = "models:\n"
                         "  - id: tiny\n    path: tiny.gguf\n    temperature: 0.1\n"
                         "  - id: big\n    url: https://example.org/big.gguf\n    sha256: " DIGEST "\n";
    assert_int_equal(zt_config_load_string(&cfg, "models.yaml", NULL, models, strlen(models), &errs), 0);

    char *d1 = dump_str(&cfg);
    assert_lacks(d1, "pw1");
    assert_lacks(d1, "pw2");
    assert_lacks(d1, "pw3");
    assert_lacks(d1, "pw4");
    assert_contains(d1, "  postgres_url: \"<redacted>\"\n");
    assert_contains(d1, "  redis_url: \"<redacted>\"\n");
    assert_contains(d1, "  jwt_secret: \"<redacted>\"\n");
    assert_contains(d1, "  webhook_secret: \"<redacted>\"\n");
    assert_contains(d1, "  roles: [\"gateway\", \"orchestrator\", \"worker\"]\n");
    assert_contains(d1, "models:\n  - id: \"tiny\"\n    path: \"tiny.gguf\"\n");
    assert_contains(d1, "\n# features.yaml\nfeatures:\n  smart_replies:\n    enabled: true\n");

    /* The dump parses back (as the all-sections kind) to the same values;
     * secrets come back as the literal "<redacted>". */
    init_defaults(&again);
    int rc = zt_config_load_string(&again, "config.example.yaml", "dump", d1, strlen(d1), &errs);
    if (rc) print_error("%s\n%s", zt_buf_str(&errs), d1);
    assert_int_equal(rc, 0);
    assert_dump_equals(&again, d1);
    assert_string_equal(again.log.file, cfg.log.file);
    assert_true(again.features.spam.threshold == cfg.features.spam.threshold);
    assert_string_equal(again.chain.min_payout, "0.1");
    assert_string_equal(again.database.postgres_url, "<redacted>");
    assert_int_equal(again.n_models, 2);
    assert_string_equal(again.models[1].sha256, DIGEST);

    /* dump appends, and a failed dump leaves the buffer as it was. */
    struct zt_buf small;
    zt_buf_init(&small, 64);
    assert_int_equal(zt_buf_append_str(&small, "keep"), 0);
    assert_int_equal(zt_config_dump(&cfg, &small), ZT_ETOOBIG);
    assert_string_equal(zt_buf_str(&small), "keep");
    zt_buf_deinit(&small);

    free(d1);
    zt_config_deinit(&again);
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
}

/* ---- allocation failures ---------------------------------------------------- */

struct op_ctx {
    const char *text;
    size_t len;
    const char *dir;
    char *const *envp;
};

typedef int (*cfg_op)(struct zt_config *cfg, struct op_ctx *ctx, struct zt_buf *errs);

static int op_load_example(struct zt_config *cfg, struct op_ctx *c, struct zt_buf *errs)
{
    return zt_config_load_string(cfg, "config.example.yaml", "x.yaml", c->text, c->len, errs);
}

static int op_load_dir(struct zt_config *cfg, struct op_ctx *c, struct zt_buf *errs)
{
    return zt_config_load_dir(cfg, c->dir, errs);
}

static int op_env(struct zt_config *cfg, struct op_ctx *c, struct zt_buf *errs)
{
    return zt_config_apply_env(cfg, c->envp, errs);
}

static int op_set_validate(struct zt_config *cfg, struct op_ctx *c, struct zt_buf *errs)
{
    (void)c;
    int rc = zt_config_set(cfg, "node.roles", "worker,gateway", "--roles", errs);
    if (!rc) rc = zt_config_set(cfg, "server.listen", "[::1]:99", "--listen", errs);
    if (!rc) rc = zt_config_validate(cfg, errs);
    return rc;
}

static int op_dump(struct zt_config *cfg, struct op_ctx *c, struct zt_buf *errs)
{
    (void)c;
    struct zt_buf out;
    zt_buf_init(&out, 1u << 20);
    int rc = zt_config_dump(cfg, &out);
    if (!rc) rc = zt_config_describe(ZT_CONFIG_DOC_MARKDOWN, errs);
    zt_buf_deinit(&out);
    zt_buf_reset(errs);
    return rc;
}

/* The Nth allocation fails, for every N until the operation succeeds: it
 * returns ZT_ENOMEM or 0, never crashes or leaks, and (atomic: for one call)
 * on ZT_ENOMEM the configuration is exactly as before. */
static void torture(cfg_op op, struct op_ctx *ctx, bool atomic)
{
    int n;
    bool succeeded = false;
    for (n = 1; n < 20000 && !succeeded; n++) {
        struct zt_config cfg;
        struct zt_buf errs;
        int64_t live = zt_alloc_live();
        zt_buf_init(&errs, ERRS_MAX);
        init_defaults(&cfg);
        char *before = dump_str(&cfg);
        zt_alloc_fail_after(n);
        int rc = op(&cfg, ctx, &errs);
        zt_alloc_fail_after(0);
        if (rc != 0 && rc != ZT_ENOMEM) {
            print_error("n=%d: rc=%d (%s)\n", n, rc, zt_buf_str(&errs));
            fail();
        }
        if (n == 1) assert_int_equal(rc, ZT_ENOMEM);
        if (rc == ZT_ENOMEM && atomic) assert_dump_equals(&cfg, before);
        succeeded = rc == 0;
        free(before);
        zt_config_deinit(&cfg);
        zt_buf_deinit(&errs);
        assert_int_equal(zt_alloc_live(), live);
    }
    assert_true(succeeded);
    print_message("torture: %d failure points, then success\n", n - 2);
    assert_true(n > 2);
    /* init_defaults itself. */
    for (n = 1; n < 1000; n++) {
        struct zt_config cfg;
        memset(&cfg, 0x5a, sizeof cfg);
        zt_alloc_fail_after(n);
        int rc = zt_config_init_defaults(&cfg);
        zt_alloc_fail_after(0);
        if (rc == 0) {
            zt_config_deinit(&cfg);
            break;
        }
        assert_int_equal(rc, ZT_ENOMEM);
        assert_int_equal(((unsigned char *)&cfg)[0], 0x5a); /* untouched */
    }
    assert_true(n < 1000);
}

static void test_alloc_failures(void **state)
{
    (void)state;
    char dir[4096];
    struct op_ctx c = {0};
    char *example = source_file("config/config.example.yaml", NULL);
    /* The example plus a models list: every kind of allocation. */
    char *text = replace_once(example, "\nmodels: []\n",
                              "\nmodels:\n  - {id: a, path: a.gguf}\n"
                              "  - {id: b, url: 'https://x/b', sha256: " DIGEST "}\n");
    c.text = text;
    c.len = strlen(text);
    {
        struct zt_config cfg;
        struct zt_buf errs;
        zt_buf_init(&errs, ERRS_MAX);
        init_defaults(&cfg);
        int rc = op_load_example(&cfg, &c, &errs);
        if (rc) print_error("%s\n%s", zt_buf_str(&errs), text);
        assert_int_equal(rc, 0);
        assert_int_equal(cfg.n_models, 2);
        zt_config_deinit(&cfg);
        zt_buf_deinit(&errs);
    }
    torture(op_load_example, &c, true);

    make_tmpdir(dir, sizeof dir);
    put(dir, "config.yaml", "node: {id: x, roles: [worker]}\nserver: {threads: 3}\n");
    put(dir, "models.yaml", "models:\n  - {id: a, path: a.gguf}\n");
    put(dir, "other.yaml", "x: 1\n"); /* a warning line: allocations in errs */
    c.dir = dir;
    torture(op_load_dir, &c, true);

    char *const envp[] = {"ZENTALK_SERVER_LISTEN=0.0.0.0:1", "ZENTALK_NODE_ROLES=gateway,worker",
                          "ZENTALK_FOO=warned", NULL};
    c.envp = envp;
    torture(op_env, &c, true);
    torture(op_set_validate, &c, false);
    torture(op_dump, &c, true);

    /* Malformed input under allocation failure: ZT_ECONFIG or ZT_ENOMEM. */
    c.text = "node:\n  roles: [cook]\nserver: {threads: x}\nlog: {level: loud}\nbad: 1\n";
    c.len = strlen(c.text);
    for (int n = 1; n < 200; n++) {
        struct zt_config cfg;
        struct zt_buf errs;
        zt_buf_init(&errs, ERRS_MAX);
        init_defaults(&cfg);
        zt_alloc_fail_after(n);
        int rc = op_load_example(&cfg, &c, &errs);
        zt_alloc_fail_after(0);
        assert_true(rc == ZT_ECONFIG || rc == ZT_ENOMEM);
        zt_config_deinit(&cfg);
        zt_buf_deinit(&errs);
    }

    rm_tmpdir(dir);
    free(text);
    free(example);
}

/* --check-config's model files: missing is an error (a warning with a url
 * to pull from), not a GGUF a warning; the data dir, then the assets dir. */
static void test_check_model_files(void **state)
{
    (void)state;
    char dir[] = "/tmp/zt-cfgmodels-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[512];
    snprintf(p, sizeof p, "%s/models", dir);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof p, "%s/models/good.gguf", dir);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs("GGUF\3\0\0\0", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/models/bad.gguf", dir);
    f = fopen(p, "wb");
    assert_non_null(f);
    fputs("<html>not a model</html>", f);
    fclose(f);
    struct zt_config cfg;
    struct zt_buf errs;
    zt_buf_init(&errs, ERRS_MAX);
    init_defaults(&cfg);
    char yaml[1024];
    int n = snprintf(yaml, sizeof yaml,
                     "models:\n  - id: good\n    path: models/good.gguf\n"
                     "  - id: bad\n    path: models/bad.gguf\n");
    assert_int_equal(zt_config_load_string(&cfg, "models.yaml", "m", yaml, (size_t)n, &errs), 0);
    assert_int_equal(zt_config_set(&cfg, "node.data_dir", dir, "test", &errs), 0);
    assert_int_equal(zt_config_check_model_files(&cfg, &errs), 0);
    assert_contains(zt_buf_str(&errs), "warning: models.yaml: model 'bad'");
    assert_contains(zt_buf_str(&errs), "not a GGUF");
    assert_null(strstr(zt_buf_str(&errs), "'good'"));
    zt_buf_reset(&errs);
    n = snprintf(yaml, sizeof yaml,
                 "models:\n  - id: gone\n    path: models/nowhere-zt.gguf\n"
                 "  - id: later\n    url: https://example.org/later.gguf\n    sha256: \"%064d\"\n", 0);
    assert_int_equal(zt_config_load_string(&cfg, "models.yaml", "m", yaml, (size_t)n, &errs), 0);
    assert_int_equal(zt_config_check_model_files(&cfg, &errs), ZT_ECONFIG);
    assert_contains(zt_buf_str(&errs), "models.yaml: model 'gone': file ");
    assert_contains(zt_buf_str(&errs), "not found");
    assert_contains(zt_buf_str(&errs), "warning: models.yaml: model 'later'");
    assert_contains(zt_buf_str(&errs), "zentalk models pull https://example.org/later.gguf");
    zt_config_deinit(&cfg);
    zt_buf_deinit(&errs);
    snprintf(p, sizeof p, "%s/models/good.gguf", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/models/bad.gguf", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/models", dir);
    rmdir(p);
    rmdir(dir);
}

/* Reals print in their shortest round-trip form; strings and integers are
 * left alone. */
static void test_json_shortest_reals(void **state)
{
    (void)state;
    char b[64];
    zt_fmt_double(b, sizeof b, 0.8);
    assert_string_equal(b, "0.8");
    zt_fmt_double(b, sizeof b, 10.0);
    assert_string_equal(b, "10.0");
    zt_fmt_double(b, sizeof b, 0.1 + 0.2);
    assert_string_equal(b, "0.30000000000000004");
    static const char in[] = "{\"t\":0.80000000000000004,\"s\":\"0.80000000000000004\",\"n\":12,"
                             "\"a\":[1.0,-2.5e-07,0.30000000000000004,1.0000000000000001e+300]}";
    struct zt_buf out;
    zt_buf_init(&out, 4096);
    assert_int_equal(zt_json_shorten_reals(in, sizeof in - 1, &out), 0);
    assert_string_equal(zt_buf_str(&out), "{\"t\":0.8,\"s\":\"0.80000000000000004\",\"n\":12,"
                                          "\"a\":[1.0,-2.5e-07,0.30000000000000004,1e+300]}");
    zt_buf_deinit(&out);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, zt_test_leak_setup, zt_test_leak_teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults_valid),
        T(test_repo_config_dir_equals_defaults),
        T(test_check_model_files),
        T(test_json_shortest_reals),
        T(test_repo_files_each_kind),
        T(test_example_validates),
        T(test_docs_in_sync),
        T(test_custom_dir),
        T(test_dir_errors),
        T(test_malformed),
        T(test_collects_all_errors),
        T(test_too_many_entries),
        T(test_billion_laughs),
        T(test_empty_and_null),
        T(test_scalar_forms),
        T(test_env_overrides),
        T(test_env_errors),
        T(test_precedence),
        T(test_set),
        T(test_validate_rules),
        T(test_reserved_keys),
        T(test_dump_redacts_and_round_trips),
        T(test_alloc_failures),
    };
#undef T
    return zt_test_exit(cmocka_run_group_tests(tests, NULL, NULL));
}
