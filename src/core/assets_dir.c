/* assets_dir.c: the read-only assets directory (zt_assets_dir.h). */
#include "zentalk/zt_assets_dir.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef ZT_SOURCE_DIR
#define ZT_SOURCE_DIR ""
#endif
#ifndef ZT_BUILD_DIR
#define ZT_BUILD_DIR ""
#endif

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static bool in_build_tree(const char *exe)
{
    size_t bl = strlen(ZT_BUILD_DIR), sl = strlen(ZT_SOURCE_DIR);
    return bl > 0 && sl > 0 && strncmp(exe, ZT_BUILD_DIR, bl) == 0 && exe[bl] == '/';
}

/* dst = the formatted string; false when it does not fit */
static bool put(char *dst, size_t n, const char *a, const char *b)
{
    int w = snprintf(dst, n, "%s%s", a, b);
    return w >= 0 && (size_t)w < n;
}

/* Candidate 2: the source tree's data/assets for a binary under the build
 * directory, else PREFIX/share/zentalk/assets for PREFIX/bin/X. */
static bool beside_binary(const char *exe, char *out, size_t n)
{
    if (!exe || !exe[0]) return false;
    if (in_build_tree(exe)) return put(out, n, ZT_SOURCE_DIR, "/data/assets");
    char dir[PATH_MAX];
    if (!put(dir, sizeof dir, exe, "")) return false;
    char *slash = strrchr(dir, '/');
    if (!slash) return false;
    *slash = '\0'; /* PREFIX/bin */
    slash = strrchr(dir, '/');
    if (slash) *slash = '\0'; /* PREFIX ("" for /bin) */
    return put(out, n, dir, "/share/zentalk/assets");
}

int zt_assets_dir_resolve(const char *env, const char *exe, const char *xdg, const char *home, char *out,
                          size_t out_size, char *searched, size_t searched_size)
{
    if (!out_size || !searched_size) return ZT_EINVAL;
    searched[0] = '\0';
    if (env && env[0]) {
        if (!put(out, out_size, env, "") || !put(searched, searched_size, env, " ($ZENTALK_ASSETS_DIR)"))
            return ZT_ETOOBIG;
        return 0;
    }
    char c2[PATH_MAX] = "", c3[PATH_MAX] = "";
    bool h2 = beside_binary(exe, c2, sizeof c2);
    bool h3 = xdg && xdg[0] ? put(c3, sizeof c3, xdg, "/zentalk/assets")
                            : (home && home[0] && put(c3, sizeof c3, home, "/.local/share/zentalk/assets"));
    int w = snprintf(searched, searched_size, "%s%s%s", h2 ? c2 : "", h2 && h3 ? ", " : "", h3 ? c3 : "");
    if (w < 0 || (size_t)w >= searched_size) return ZT_ETOOBIG;
    const char *pick = h2 && is_dir(c2) ? c2 : h3 && is_dir(c3) ? c3 : h2 ? c2 : h3 ? c3 : "assets";
    return put(out, out_size, pick, "") ? 0 : ZT_ETOOBIG;
}

static char g_dir[PATH_MAX];
static char g_src_models[PATH_MAX];
static char g_searched[3 * PATH_MAX];
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void resolve_once(void)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = '\0';
    if (zt_assets_dir_resolve(getenv("ZENTALK_ASSETS_DIR"), exe, getenv("XDG_DATA_HOME"), getenv("HOME"), g_dir,
                              sizeof g_dir, g_searched, sizeof g_searched) != 0) {
        snprintf(g_dir, sizeof g_dir, "%s", "assets");
        snprintf(g_searched, sizeof g_searched, "%s", "assets");
    }
    if (in_build_tree(exe) && !put(g_src_models, sizeof g_src_models, ZT_SOURCE_DIR, "/tests/models"))
        g_src_models[0] = '\0';
}

const char *zt_assets_source_models_dir(void)
{
    pthread_once(&g_once, resolve_once);
    return g_src_models[0] ? g_src_models : NULL;
}

const char *zt_assets_dir(void)
{
    pthread_once(&g_once, resolve_once);
    return g_dir;
}

const char *zt_assets_searched(void)
{
    pthread_once(&g_once, resolve_once);
    return g_searched;
}
