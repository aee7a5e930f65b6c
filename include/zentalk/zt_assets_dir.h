/* zt_assets_dir.h: where the read-only assets are: the feature assets that
 * `make data` builds (lexicons, word vectors, classifiers: zt_asset.h) and
 * the bundled demo model (models/stories260K.gguf). They are derived data,
 * kept apart from the node's state (node.data_dir), so a node started with
 * any --data-dir finds them.
 *
 * The directory is resolved once per process, the first of:
 *   1. $ZENTALK_ASSETS_DIR, when set and not empty (used even if missing:
 *      the operator said so);
 *   2. beside the binary: for a binary inside the build tree, the source
 *      tree's data/assets (where `make data` writes); for an installed
 *      binary PREFIX/bin/X, PREFIX/share/zentalk/assets;
 *   3. ${XDG_DATA_HOME:-$HOME/.local/share}/zentalk/assets.
 * Candidates 2 and 3 are taken when the directory exists; when none does,
 * the result is candidate 2 (where `make data` would put it) and messages
 * name every directory searched. */
#ifndef ZT_ASSETS_DIR_H
#define ZT_ASSETS_DIR_H

#include <stddef.h>

#include "zt_error.h"

/* The assets directory (never NULL; a static string). */
const char *zt_assets_dir(void);

/* The directories searched, "A, B, C", for messages (a static string). */
const char *zt_assets_searched(void);

/* For a binary inside the build tree, the source tree's tests/models (the
 * committed demo model: a model path found nowhere else falls back to its
 * last segment there, so a fresh clone chats before `make data`); NULL for
 * an installed binary. */
const char *zt_assets_source_models_dir(void);

/* The resolution itself, for tests: env is $ZENTALK_ASSETS_DIR (NULL: unset),
 * exe the binary's path (NULL: unknown), xdg $XDG_DATA_HOME, home $HOME.
 * Writes the directory into out and the candidates into searched. */
ZT_NODISCARD int zt_assets_dir_resolve(const char *env, const char *exe, const char *xdg, const char *home,
                                       char *out, size_t out_size, char *searched, size_t searched_size);

#endif
