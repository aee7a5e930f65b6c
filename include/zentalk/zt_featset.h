/* zt_featset.h: the messaging features a node loads from its
 * configuration and data assets (src/features/lexfeat.c, ...), as the
 * node's composition root builds them and the HTTP routes and the feature
 * wiring use them.
 *
 * Loading never fails for missing data: a feature whose asset is missing
 * or that features.yaml disables is NULL, with the reason (for a 403
 * feature_disabled or 503 asset_missing answer; "enabled is false" or
 * "make data" appear in it) in *why, after one warning at start-up. What
 * is loaded is read-only and thread-safe. cfg must outlive the set. */
#ifndef ZT_FEATSET_H
#define ZT_FEATSET_H

#include "zt_config.h"
#include "zt_error.h"

struct zt_sentiment;
struct zt_moderation;
struct zt_langid;
struct zt_moderation_policy;

/* ---- lexicon-based features: sentiment (VADER), moderation (word lists),
 * language identification (libexttextcat) ---- */

struct zt_lexfeat;

/* Loads the assets vader.zta and moderation.zta (zt_asset_path(); `make
 * data` builds them) and the fingerprints of features.language.languages.
 * ZT_ENOMEM only. */
ZT_NODISCARD int zt_lexfeat_new(const struct zt_config *cfg, struct zt_lexfeat **out);
/* NULL is a no-op. */
void zt_lexfeat_free(struct zt_lexfeat *f);
/* The loaded objects, NULL when disabled or unavailable (why, when not
 * NULL, says which). */
const struct zt_sentiment *zt_lexfeat_sentiment(const struct zt_lexfeat *f, const char **why);
const struct zt_moderation *zt_lexfeat_moderation(const struct zt_lexfeat *f, const char **why);
struct zt_langid *zt_lexfeat_langid(const struct zt_lexfeat *f, const char **why);
/* The moderation policy of features.moderation (lang NULL). */
void zt_lexfeat_policy(const struct zt_lexfeat *f, struct zt_moderation_policy *p);
/* The features section it was loaded from (thresholds). */
const struct zt_cfg_features *zt_lexfeat_config(const struct zt_lexfeat *f);

#endif
