/* zt_asset.h: the compact binary files in the assets directory (zt_assets_dir.h) that the messaging
 * features load (lexicons, word lists, word vectors, trained classifiers).
 *
 * scripts/data.sh downloads each source (pinned by sha256, cached in
 * ${XDG_CACHE_HOME:-~/.cache}/zentalk/) and a converter in tools/ writes one
 * asset file per feature with zt_asset_write(). Layout (little-endian):
 *
 *   magic "ZTASSET1" (8) | kind (16, NUL-padded ASCII) | format version (u32)
 *   | reserved (u32, 0) | payload length (u64) | SHA-256 of the source (32)
 *   | payload | SHA-256 of everything before it (32)
 *
 * The payload's own layout belongs to the feature that reads it; readers
 * still bounds-check it (an asset file is input like any other). Files are
 * read whole into memory (they are small: the largest, word vectors, is
 * tens of MiB) and checked against the trailing hash before use. */
#ifndef ZT_ASSET_H
#define ZT_ASSET_H

#include <stddef.h>
#include <stdint.h>

#include "zt_error.h"

#define ZT_ASSET_KIND_MAX 16
#define ZT_ASSET_HEADER_LEN 72
#define ZT_ASSET_MAX_PAYLOAD ((uint64_t)1 << 31)

struct zt_asset {
    char kind[ZT_ASSET_KIND_MAX + 1];
    uint32_t version;
    uint8_t source_sha256[32];
    const uint8_t *data; /* the payload, 8-byte aligned */
    size_t len;
    void *mem__;         /* owned allocation */
};

/* Where asset file name lives: zt_assets_dir()/name ($ZENTALK_ASSETS_DIR,
 * else beside the binary or the build tree's data/assets, else the XDG data
 * dir: zt_assets_dir.h). data_dir is not used (assets are read-only derived
 * data, not node state; the parameter stays for the callers). ZT_ETOOBIG:
 * out too small. */
ZT_NODISCARD int zt_asset_path(const char *data_dir, const char *name, char *out, size_t out_size);

/* The 503 asset_missing message for asset name (what: "the spam model"):
 * names the directory resolved, every directory searched and the command
 * that fills it (`make data`). Truncated to out_size. */
#define ZT_ASSET_MISSING_MSG_MAX 8192 /* room for zt_asset_missing_message() with long paths */
void zt_asset_missing_message(const char *what, const char *name, char *out, size_t out_size);

/* Read and check path: magic, kind (must equal kind), version (must equal
 * version: a stale file from an older converter is ZT_EUNSUPPORTED, rerun
 * `make data`), lengths and the trailing hash (ZT_EPARSE on any mismatch).
 * ZT_ENOTFOUND: no such file; ZT_EIO; ZT_ENOMEM. On success a is filled;
 * release it with zt_asset_deinit(). */
ZT_NODISCARD int zt_asset_load(const char *path, const char *kind, uint32_t version,
                               struct zt_asset *a);
void zt_asset_deinit(struct zt_asset *a);
/* zt_asset_load, then parse(payload, length, out) (what it returns), then
 * the asset released: a loader of a feature's asset in one call. */
ZT_NODISCARD int zt_asset_load_with(const char *path, const char *kind, uint32_t version,
                                    int (*parse)(const void *data, size_t len, void *out), void *out);

/* Define the loader of a feature's asset, `int LOAD(const char *path, TYPE
 * **out)`: zt_asset_load_with(path, KIND, VERSION, ...) with PARSE(data,
 * len, out), the feature's parser of the payload, typed. */
#define ZT_ASSET_LOADER(load, type, kind, version, parse)                                  \
    static int load##_payload(const void *data, size_t len, void *out)                     \
    {                                                                                      \
        return parse(data, len, out);                                                      \
    }                                                                                      \
    int load(const char *path, type **out)                                                 \
    {                                                                                      \
        return zt_asset_load_with(path, kind, version, load##_payload, out);               \
    }

/* Write an asset file atomically (temporary file, fsync, rename) with mode
 * 0644. kind: 1..16 printable ASCII characters. ZT_EINVAL, ZT_ETOOBIG, ZT_EIO. */
ZT_NODISCARD int zt_asset_write(const char *path, const char *kind, uint32_t version,
                                const uint8_t source_sha256[static 32], const void *payload,
                                size_t len);

#endif
