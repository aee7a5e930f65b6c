/* assets.h: the converters of zt-assets (tools/asset_*.c). Each reads the
 * downloaded source files (paths in argv) and writes one asset file with
 * zt_asset_write() (zt_asset.h). Returns 0, or prints "zt-assets NAME: ..."
 * to stderr and returns 1. */
#ifndef ZT_TOOLS_ASSETS_H
#define ZT_TOOLS_ASSETS_H

typedef int (*zt_asset_converter)(const char *out, int argc, char **argv);

struct zt_asset_tool {
    const char *name;  /* the asset's name: data/assets/NAME.zta */
    const char *usage; /* the sources it takes */
    zt_asset_converter fn;
};

/* the converters (tools/asset_NAME.c) */
int zt__asset_spam(const char *out, int argc, char **argv);
#include <stddef.h>
#include <stdint.h>

/* Read a whole source file (NUL-terminated copy, zt_malloc'd) and its
 * SHA-256. Returns 0 or -1. */
int zt__asset_read_source(const char *path, uint8_t **data, size_t *len, uint8_t sha[32]);

int zt__asset_vader(const char *out, int argc, char **argv);
int zt__asset_moderation(const char *out, int argc, char **argv);

#endif
