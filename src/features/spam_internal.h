/* spam_internal.h: what spam.c and spam_train.c share (not installed). */
#ifndef ZT_FEATURES_SPAM_INTERNAL_H
#define ZT_FEATURES_SPAM_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

/* Asset payload v1 (little-endian):
 *   0 u32 buckets_log2 | 4 u32 epochs | 8 f64 learning_rate | 16 f64 l2
 *   | 24 u64 seed | 32 u32 holdout_mod | 36 u32 n_train | 40 u32 n_test
 *   | 44 u32 n_train_spam | 48 u32 n_test_spam | 52 u32 reserved (0)
 *   | 56 f64 precision | 64 f64 recall | 72 f64 f1 | 80 f64 accuracy
 *   | 88 f64 bias | 96 f32 weights[2^buckets_log2] */
#define ZT__SPAM_PAYLOAD_HEADER 96u
#define ZT__SPAM_MIN_LOG2 8u
#define ZT__SPAM_MAX_LOG2 24u

typedef void (*zt__spam_feat_cb)(uint64_t hash, const char *kind, const char *name, void *ud);

/* The distinct features of text (see zt_spam.h) with their 64-bit hashes;
 * *n the count. ZT_EPARSE, ZT_ENOMEM. */
int zt__spam_features(const char *text, size_t len, zt__spam_feat_cb cb, void *ud, size_t *n);

/* One chat-scam cue found by zt__spam_chat_cues() (spam_chat.c). */
struct zt__spam_cue {
    const char *name; /* static: "crypto_claim", "link_shortener", ... */
    double weight;    /* logit units */
};

/* The chat-scam cues of text[0..len) (the first ZT_SPAM_MAX_BYTES): their
 * summed weight; up to max of them are stored in cues and their count in
 * *n_cues (may be NULL). Never fails. */
double zt__spam_chat_cues(const char *text, size_t len, struct zt__spam_cue *cues, size_t max, size_t *n_cues);

/* The calibration of zt_spam_classify() for chat-sized texts (at most
 * ZT__SPAM_CHAT_BYTES): logit = SCALE * model logit + SHIFT + cues. The
 * e-mail-trained model alone puts everyday short messages near 0.5-0.9;
 * scaled and shifted it is one piece of evidence, and a message needs a
 * scam cue as well to cross 0.8. Longer texts: model logit + cues. Set on
 * tests/data/tune/ (docs/features/spam.md). */
#define ZT__SPAM_CHAT_BYTES 1024u
#define ZT__SPAM_CHAT_SCALE 0.3
#define ZT__SPAM_CHAT_SHIFT (-1.4)

/* The learned chat-scam model (learned.h) says spam at the logit
 * ZT__SPAM_LEARNED_AT (P 0.8, the default features.spam.threshold): its
 * margin is moved there and taken when above the rules' logit. */
#define ZT__SPAM_LEARNED_AT 1.3862943611198906

struct zt_spam_result;
struct zt_spam_model;
/* zt_spam_classify() without the learned model (the rules and the e-mail
 * model as calibrated for chat): for cross-validation (zt-train-clf cv). */
int zt__spam_classify_rules(const struct zt_spam_model *m, const char *text, size_t len, double threshold,
                            struct zt_spam_result *r);

#endif
