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

#endif
