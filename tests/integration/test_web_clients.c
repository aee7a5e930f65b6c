/* test_web_clients.c: the node as real clients meet it (issue 15, items 2,
 * 7 and 8), with Node.js programs run against one node:
 *  - web/openai_client.cjs: the official OpenAI client (npm "openai" 6.x):
 *    models.retrieve (GET /v1/models/{id}), embeddings.create (base64 by
 *    default), completions and chat (streamed), n, stop, seed,
 *    response_format, and the clear 400s for what the engine cannot do;
 *  - web/dashboard.cjs: the dashboard at / in headless Chromium through
 *    playwright-core: no console error, the playground streams a reply from
 *    the demo model, a feature panel and the privacy check answer, the
 *    layout fits a phone; screenshots in BUILD/test-artifacts/dashboard/.
 * The npm packages are pinned tarballs unpacked by `scripts/data.sh
 * --node-modules` (or `make data`) into $ZT_NODE_MODULES (default
 * SOURCE/data/node_modules); without them, Node.js or Chromium the parts
 * are skipped with the reason.
 * Usage: test_web_clients PATH/zentalk-node PATH/zentalk */
#define _GNU_SOURCE
#include "harness.h"

#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char model_path[1024];
static char src_dir[1024];
static char modules[1100];
static char assets_env[1200];
static char tmp_assets[256];
static struct node shared;
static bool started;

/* Why the Node.js programs cannot run, or NULL. */
static const char *cannot_run(void)
{
    if (!src_dir[0]) return "ZT_SOURCE_DIR is unset (run through ctest)";
    if (!model_path[0]) return "tests/models/stories260K.gguf is missing";
    const char *const args[] = {"--version", NULL};
    if (run_prog("node", args, NULL, NULL, NULL, RUN_QUIET) != 0)
        return "no Node.js (apt-get install nodejs; scripts/setup.sh installs it)";
    return NULL;
}

/* The one node of every check: the repository's config/ (the demo model),
 * the assets of `make data` when they hold the demo model, else a fresh
 * assets directory with only the model (the features checked need no
 * data asset). */
static struct node *node_up(void)
{
    if (started) return &shared;
    const char *assets = getenv("ZENTALK_ASSETS_DIR");
    char p[1400];
    snprintf(p, sizeof p, "%s/models/stories260K.gguf", assets ? assets : "");
    if (!assets || access(p, R_OK) != 0) {
        tmp_dir(tmp_assets, sizeof tmp_assets, "assets");
        char cmd[2600], out[64];
        snprintf(cmd, sizeof cmd, "mkdir -p '%s/models' && cp '%s' '%s/models/stories260K.gguf'", tmp_assets,
                 model_path, tmp_assets);
        assert_int_equal(run_shell(cmd, out, sizeof out), 0);
        assets = tmp_assets;
    }
    snprintf(assets_env, sizeof assets_env, "ZENTALK_ASSETS_DIR=%s", assets);
    char cfg[1100];
    snprintf(cfg, sizeof cfg, "%s/config", src_dir);
    const char *const env[] = {assets_env, "ZENTALK_GPU_POOL_CPU_THREADS=2", NULL};
    const char *const args[] = {"--config", cfg, NULL};
    node_spawn(&shared, args, env, true, NULL);
    started = true;
    return &shared;
}

/* Run web/SCRIPT URL extra... with Node.js; its output is echoed. 0 when
 * it passed; a skip (with its reason) when it exited 77. */
static int run_script(const char *script, const char *extra)
{
    const char *why = cannot_run();
    if (why) {
        zt_skip("%s", why);
        return -1;
    }
    char pkg[1200];
    snprintf(pkg, sizeof pkg, "%s/%s/package.json", modules, strstr(script, "openai") ? "openai" : "playwright-core");
    if (access(pkg, R_OK) != 0) {
        zt_skip("the pinned npm packages are not unpacked: run scripts/data.sh --node-modules (or make data)");
        return -1;
    }
    struct node *n = node_up();
    char path[1200], node_path[1200];
    snprintf(path, sizeof path, "%s/tests/integration/web/%s", src_dir, script);
    snprintf(node_path, sizeof node_path, "NODE_PATH=%s", modules);
    const char *const env[] = {node_path, NULL};
    const char *const args_extra[] = {path, n->url, extra, NULL};
    const char *const args_model[] = {path, n->url, "demo", NULL};
    struct zt_buf out;
    zt_buf_init(&out, 1u << 20);
    int st = run_prog("node", extra ? args_extra : args_model, env, NULL, &out, RUN_MERGE_STDERR);
    printf("%s", zt_buf_str(&out));
    fflush(stdout);
    if (st == 77) {
        const char *s = strstr(zt_buf_str(&out), "SKIP: ");
        char reason[256];
        snprintf(reason, sizeof reason, "%s", s ? s + 6 : "the script skipped");
        reason[strcspn(reason, "\n")] = '\0';
        zt_buf_deinit(&out);
        zt_skip("%s", reason);
        return -1;
    }
    zt_buf_deinit(&out);
    return st;
}

static void test_openai_client(void **state)
{
    (void)state;
    int st = run_script("openai_client.cjs", NULL);
    if (st >= 0) assert_int_equal(st, 0);
}

static void test_dashboard_browser(void **state)
{
    (void)state;
    const char *build = getenv("ZT_BUILD_DIR");
    char shots[1100];
    snprintf(shots, sizeof shots, "%s/test-artifacts/dashboard", build ? build : ".");
    int st = run_script("dashboard.cjs", shots);
    if (st >= 0) {
        printf("screenshots: %s/\n", shots);
        assert_int_equal(st, 0);
    }
}

int main(int argc, char **argv)
{
    if (!harness_start(argc, argv, "test_web_clients")) return 2;
    if (!find_test_model("stories260K.gguf", model_path, sizeof model_path) || access(model_path, R_OK) != 0)
        model_path[0] = '\0';
    const char *src = getenv("ZT_SOURCE_DIR"); /* set by ctest */
    if (src) snprintf(src_dir, sizeof src_dir, "%s", src);
    const char *nm = getenv("ZT_NODE_MODULES");
    snprintf(modules, sizeof modules, "%s%s", nm ? nm : src_dir, nm ? "" : "/data/node_modules");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openai_client),
        cmocka_unit_test(test_dashboard_browser),
    };
    int failed = cmocka_run_group_tests_name("web_clients", tests, NULL, NULL);
    if (started) {
        kill(shared.pid, SIGTERM);
        if (node_wait(&shared, 15000) != 0) failed++;
        node_cleanup(&shared);
        rm_rf(shared.dir);
    }
    if (tmp_assets[0]) rm_rf(tmp_assets);
    curl_global_cleanup();
    return zt_test_exit(failed);
}
