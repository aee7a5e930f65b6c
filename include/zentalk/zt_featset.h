/* zt_featset.h: the messaging features a node loads from its
 * configuration and data assets (src/features/lexfeat.c, ...), as the
 * node's composition root builds them and the HTTP routes and the feature
 * wiring use them.
 *
 * Loading never fails for missing data: a feature whose asset is missing
 * or that features.yaml disables is NULL, with the reason in *why (and,
 * for the lexicon features, a state saying which: zt_lexfeat_state), after
 * one warning at start-up. What
 * is loaded is read-only and thread-safe. cfg must outlive the set. */
#ifndef ZT_FEATSET_H
#define ZT_FEATSET_H

#include <stdbool.h>

#include "zt_config.h"
#include "zt_error.h"
#include "zt_sentiment.h"

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
/* The three features, and why one is not loaded. */
enum zt_lexfeat_kind { ZT_LEXFEAT_SENTIMENT, ZT_LEXFEAT_MODERATION, ZT_LEXFEAT_LANGUAGE };
enum zt_feat_state {
    ZT_FEAT_READY = 0,
    ZT_FEAT_DISABLED,      /* features.<name>.enabled is false (a 403 feature_disabled) */
    ZT_FEAT_ASSET_MISSING, /* its asset or fingerprints are not there (`make data`; a 503 asset_missing) */
    ZT_FEAT_UNAVAILABLE,   /* anything else (a bad language list, an unreadable asset; a 503) */
};
/* Whether feature k is loaded; why (when not NULL) the reason it is not
 * ("" when ready). */
enum zt_feat_state zt_lexfeat_state(const struct zt_lexfeat *f, enum zt_lexfeat_kind k, const char **why);
/* The moderation policy of features.moderation (lang NULL, also_langs
 * English and features.moderation.default_languages; valid while f lives). */
/* Least language-detection confidence at which moderation trusts the
 * detected language alone; below it policy.lang_unsure is set. */
#define ZT_LEXFEAT_LANG_SURE 0.9
void zt_lexfeat_policy(const struct zt_lexfeat *f, struct zt_moderation_policy *p);
/* The policy for moderating one text (len bytes): zt_lexfeat_policy with
 * the text's language: lang when the request names one (*source
 * "request"); otherwise the language detected with features.language's
 * threshold when language identification is loaded and it is not "und"
 * (*source "detected"; lang_unsure below ZT_LEXFEAT_LANG_SURE, since a
 * short English message may be detected as another language); otherwise
 * none (*source "none", p->lang NULL). */
void zt_lexfeat_moderation_policy(const struct zt_lexfeat *f, const char *text, size_t len, const char *lang,
                                  struct zt_moderation_policy *p, const char **source);
/* The features section it was loaded from (thresholds). */
const struct zt_cfg_features *zt_lexfeat_config(const struct zt_lexfeat *f);
/* The scoring mode of features.sentiment.mode (chat unless it says vader). */
enum zt_sentiment_mode zt_lexfeat_sentiment_mode(const struct zt_lexfeat *f);

/* ---- spam detection ---- */

struct zt_spamfeat;
struct zt_spam_model;

/* Loads data/assets/spam.zta (zt_asset_path) once. A missing or bad asset
 * is one warning: the model is then NULL. ZT_ENOMEM only. */
ZT_NODISCARD int zt_spamfeat_new(const struct zt_config *cfg, struct zt_spamfeat **out);
void zt_spamfeat_free(struct zt_spamfeat *f);
/* The loaded model (NULL when the asset is missing, or f is NULL):
 * zt_spam_classify() on it is thread-safe. */
const struct zt_spam_model *zt_spamfeat_model(const struct zt_spamfeat *f);
const struct zt_cfg_features *zt_spamfeat_config(const struct zt_spamfeat *f);

/* ---- search and categorisation ---- */

struct zt_searchfeat;
struct zt_store;
struct zt_identity;
struct zt_embed;
struct zt_categorizer;
struct zt_search;

/* Loads the GloVe and stopwords assets and builds the categorizer of
 * features.categorize. ZT_ENOMEM only. */
ZT_NODISCARD int zt_searchfeat_new(const struct zt_config *cfg, struct zt_searchfeat **out);
/* Whether search can run (its assets loaded) and waits for a store: the
 * node then opens one (features.search.db_path, database.driver) and
 * calls zt_searchfeat_open. */
bool zt_searchfeat_wants_store(const struct zt_searchfeat *f);
/* Serve search from st (borrowed: the node owns it and closes it after
 * zt_searchfeat_free) with keys derived from id's secret. st NULL (the
 * node could not open it) or a search engine that cannot start logs a
 * warning and search stays unavailable; 0 then too. ZT_ENOMEM. */
ZT_NODISCARD int zt_searchfeat_open(struct zt_searchfeat *f, const struct zt_identity *id, struct zt_store *st);
void zt_searchfeat_free(struct zt_searchfeat *f);
/* /metrics: zentalk_store_bytes{store="search"}, the search store's size on
 * disk (no sample while no store is open). ZT_EINVAL, ZT_ETOOBIG. */
struct zt_metrics;
ZT_NODISCARD int zt_searchfeat_register_metrics(struct zt_searchfeat *f, struct zt_metrics *m);
/* The word vectors (NULL: glove asset missing), the categorizer (NULL:
 * *why says why) and the search engine (NULL when the store is not open:
 * asset missing, store error). */
const struct zt_embed *zt_searchfeat_embed(const struct zt_searchfeat *f);
/* The stopwords asset (NULL: missing or unloadable, one warning); the
 * conversation features borrow it. */
const struct zt_stopwords *zt_searchfeat_stopwords(const struct zt_searchfeat *f);
const struct zt_categorizer *zt_searchfeat_categorizer(const struct zt_searchfeat *f, const char **why);
struct zt_search *zt_searchfeat_engine(struct zt_searchfeat *f);
const struct zt_cfg_features *zt_searchfeat_config(const struct zt_searchfeat *f);
/* The search store as a provider of a GDPR export and erase (struct
 * zt_gdpr_provider, zt_gdpr.h, registered by the node; feat: the struct
 * zt_searchfeat). Export: the identity's messages decrypted for the owner,
 * newest first, as {kept, count, items: [{id, text, indexed_at,
 * indexed_at_ms}]}; ZT_ETOOBIG past ZT_SEARCH_EXPORT_MAX_DOCS messages or
 * when their ids and texts pass budget bytes (*used: what they took); a
 * store that is not open says so ({kept, reason}: kept when its file
 * exists). Erase: the identity's messages and its search key
 * (crypto-shredding), counted in erased.search_documents and
 * erased.search_key_destroyed; ZT_ECLOSED, nothing erased, when the
 * store's file exists but the store is not open; the store's errors. */
#define ZT_SEARCH_EXPORT_MAX_DOCS 100000
struct json_t;
ZT_NODISCARD int zt_searchfeat_gdpr_export(void *feat, const char *identity, size_t budget, size_t *used,
                                           struct json_t **out, const char **why);
ZT_NODISCARD int zt_searchfeat_gdpr_erase(void *feat, const char *identity, struct json_t *erased,
                                          struct json_t *kept);

/* ---- conversation features: intents, smart replies, summaries ---- */

struct zt_convfeat;
struct zt_intent_model;
struct zt_reply_bank;
struct zt_reply_hooks;
struct zt_stopwords;

/* Loads intents.txt and replies.txt (the config directory's copies, else
 * the compiled-in ones). sw: the stopwords the summaries use, borrowed
 * (the search features load the asset: zt_searchfeat_stopwords); NULL:
 * summaries unavailable. ZT_ECONFIG for a malformed cue or reply file
 * (logged with file:line), ZT_ENOMEM. */
ZT_NODISCARD int zt_convfeat_new(const struct zt_config *cfg, const struct zt_stopwords *sw,
                                 struct zt_convfeat **out);
void zt_convfeat_free(struct zt_convfeat *fc);
/* Set the hooks (sentiment, moderation) other features provide; NULL
 * unsets them. Before the node serves. */
void zt_convfeat_set_hooks(struct zt_convfeat *fc, const struct zt_reply_hooks *hooks);
const struct zt_reply_bank *zt_convfeat_bank(const struct zt_convfeat *fc);
const struct zt_intent_model *zt_convfeat_intents(const struct zt_convfeat *fc);
const struct zt_reply_hooks *zt_convfeat_hooks(const struct zt_convfeat *fc);
/* NULL when the stopwords asset is missing. */
const struct zt_stopwords *zt_convfeat_stopwords(const struct zt_convfeat *fc);

/* ---- their generative path (conv_llm.c): features.smart_replies.model,
 * features.summarize.model ---- */

struct zt_infer;
struct zt_conv_req;
struct json_t;
/* Ask model (a chat model of ms) for smart replies to cr's conversation
 * (summarize false) or an abstract of it: the prompt in the largest window
 * that fits the model's context (2048, 512, then 128 estimated tokens),
 * greedy, at most 64 (replies) or 160 (summary) tokens. 0: cb is called
 * once, later, on the runner thread (zt_infer_chat_run); give what it gets
 * to zt_convfeat_llm_result(). Else the error of zt_infer_chat_run with
 * *why, the reason the answer's "fallback" gives (an unavailable model is
 * logged, rate-limited); cb is not called. */
ZT_NODISCARD int zt_convfeat_llm_start(struct zt_infer *ms, const char *model, bool summarize,
                                       const struct zt_conv_req *cr,
                                       void (*cb)(void *ud, int err, const char *text, size_t len), void *ud,
                                       const char **why);
/* What the model's answer (err, text[0..len), as cb got them) makes of
 * classical, the classical result (borrowed; a JSON object): a new object
 * with the model's replies (three that the moderation hook does not flag;
 * "method": "llm", no "bank") or its abstract ("summary", trimmed, at most
 * 1200 bytes; "method": "llm"); when the answer is not usable, a new
 * reference to classical with "fallback" saying why (logged). */
struct json_t *zt_convfeat_llm_result(const struct zt_convfeat *f, bool summarize, struct json_t *classical, int err,
                                      const char *text, size_t len);

#endif
